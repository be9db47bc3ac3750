//! InfluxQL tokens: turns query text into keywords, identifiers, literals and operators.
//!
//! Like InfluxDB's scanner, keywords are case-insensitive and reserved (an unquoted `user`
//! is the keyword `USER`, which is why dashboards double-quote identifiers), durations are
//! one token (`10m`, `1h30m`, `1763251200000ms`), and a `/` starts a regex literal unless
//! it follows an operand, where it is division.

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An unquoted identifier that is not a keyword.
    Ident(String),
    /// A reserved word, upper-cased (`SELECT`, `AND`, `USER`).
    Keyword(&'static str),
    /// A double-quoted identifier, unescaped.
    QuotedIdent(String),
    /// A single-quoted string, unescaped.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Num(f64),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// A regex literal's source, with `\/` unescaped.
    Regex(String),
    /// An operator or punctuation, as written (`=`, `!=`, `=~`, `(`, `;`, `::`).
    Punct(&'static str),
    /// A character InfluxQL does not know (for example an unexpanded `$variable`).
    Illegal(char),
    /// End of input.
    Eof,
}

impl Tok {
    /// How InfluxDB names the token in "found X, expected Y".
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::QuotedIdent(s) | Tok::Str(s) => s.clone(),
            Tok::Keyword(k) => (*k).to_string(),
            Tok::Int(i) => i.to_string(),
            Tok::Num(n) => n.to_string(),
            Tok::Duration(_) => "DURATION".to_string(),
            Tok::Regex(r) => format!("/{r}/"),
            Tok::Punct(p) => (*p).to_string(),
            Tok::Illegal(c) => c.to_string(),
            Tok::Eof => "EOF".to_string(),
        }
    }

    /// Whether a `/` after this token is division rather than the start of a regex.
    fn ends_operand(&self) -> bool {
        matches!(
            self,
            Tok::Ident(_)
                | Tok::QuotedIdent(_)
                | Tok::Str(_)
                | Tok::Int(_)
                | Tok::Num(_)
                | Tok::Duration(_)
                | Tok::Regex(_)
                | Tok::Punct(")")
                | Tok::Keyword("TRUE")
                | Tok::Keyword("FALSE")
        )
    }
}

/// A token and its byte offset in the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub pos: usize,
}

/// Reserved words (InfluxDB 1.x `influxql/token.go`, plus AND/OR/TRUE/FALSE).
const KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BY",
    "CARDINALITY",
    "CONTINUOUS",
    "CREATE",
    "DATABASE",
    "DATABASES",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DESTINATIONS",
    "DIAGNOSTICS",
    "DISTINCT",
    "DROP",
    "DURATION",
    "END",
    "EVERY",
    "EXACT",
    "EXPLAIN",
    "FALSE",
    "FIELD",
    "FOR",
    "FROM",
    "GRANT",
    "GRANTS",
    "GROUP",
    "GROUPS",
    "IN",
    "INF",
    "INSERT",
    "INTO",
    "KEY",
    "KEYS",
    "KILL",
    "LIMIT",
    "MEASUREMENT",
    "MEASUREMENTS",
    "NAME",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "PASSWORD",
    "POLICIES",
    "POLICY",
    "PRIVILEGES",
    "QUERIES",
    "QUERY",
    "READ",
    "REPLICATION",
    "RESAMPLE",
    "RETENTION",
    "REVOKE",
    "SELECT",
    "SERIES",
    "SET",
    "SHARD",
    "SHARDS",
    "SHOW",
    "SLIMIT",
    "SOFFSET",
    "STATS",
    "SUBSCRIPTION",
    "SUBSCRIPTIONS",
    "TAG",
    "TO",
    "TRUE",
    "USER",
    "USERS",
    "VALUES",
    "WHERE",
    "WITH",
    "WRITE",
];

/// Split `q` into tokens; the last one is [`Tok::Eof`]. Errors are `(message, byte offset)`.
pub fn tokenize(q: &str) -> Result<Vec<Token>, (String, usize)> {
    let mut out: Vec<Token> = Vec::new();
    let chars: Vec<(usize, char)> = q.char_indices().collect();
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let pos_of = |i: usize| chars.get(i).map(|&(p, _)| p).unwrap_or(q.len());
    while i < chars.len() {
        let c = chars[i].1;
        let pos = pos_of(i);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments: `-- …` to end of line.
        if c == '-' && at(i + 1) == Some('-') {
            while i < chars.len() && chars[i].1 != '\n' {
                i += 1;
            }
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                i += 1;
            }
            let word = &q[pos..pos_of(i)];
            let upper = word.to_ascii_uppercase();
            match KEYWORDS.iter().find(|k| **k == upper) {
                Some(k) => Tok::Keyword(k),
                None => Tok::Ident(word.to_string()),
            }
        } else if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|c| c.is_ascii_digit()))
        {
            let (tok, next) = number(q, &chars, i)?;
            i = next;
            tok
        } else {
            match c {
                '"' | '\'' => {
                    let (text, next) = quoted(&chars, i, c)?;
                    i = next;
                    if c == '"' {
                        Tok::QuotedIdent(text)
                    } else {
                        Tok::Str(text)
                    }
                }
                '/' if !out.last().is_some_and(|t| t.tok.ends_operand()) => {
                    let mut text = String::new();
                    i += 1;
                    loop {
                        match at(i) {
                            None => return Err(("unterminated regex".to_string(), pos)),
                            Some('\\') if at(i + 1) == Some('/') => {
                                text.push('/');
                                i += 2;
                            }
                            Some('\\') => {
                                text.push('\\');
                                if let Some(n) = at(i + 1) {
                                    text.push(n);
                                }
                                i += 2;
                            }
                            Some('/') => {
                                i += 1;
                                break;
                            }
                            Some(c) => {
                                text.push(c);
                                i += 1;
                            }
                        }
                    }
                    Tok::Regex(text)
                }
                _ => {
                    let two: String = chars[i..chars.len().min(i + 2)]
                        .iter()
                        .map(|&(_, c)| c)
                        .collect();
                    const TWO: &[&str] = &["!=", "<>", "<=", ">=", "=~", "!~", "::"];
                    const ONE: &[&str] = &[
                        "=", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "(", ")", ",", ";",
                        ".",
                    ];
                    if let Some(p) = TWO.iter().find(|p| **p == two) {
                        i += 2;
                        Tok::Punct(p)
                    } else if let Some(p) = ONE.iter().find(|p| p.starts_with(c)) {
                        i += 1;
                        Tok::Punct(p)
                    } else {
                        i += 1;
                        Tok::Illegal(c)
                    }
                }
            }
        };
        out.push(Token { tok, pos });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: q.len(),
    });
    Ok(out)
}

/// Nanoseconds per duration unit, longest spelling first so `ms` wins over `m`.
const UNITS: &[(&str, i64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µ", 1_000),
    ("u", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

fn number(q: &str, chars: &[(usize, char)], mut i: usize) -> Result<(Tok, usize), (String, usize)> {
    let pos_of = |i: usize| chars.get(i).map(|&(p, _)| p).unwrap_or(q.len());
    let start = pos_of(i);
    let digits = |mut i: usize| {
        while chars.get(i).is_some_and(|&(_, c)| c.is_ascii_digit()) {
            i += 1;
        }
        i
    };
    i = digits(i);
    let mut is_float = false;
    if chars.get(i).is_some_and(|&(_, c)| c == '.') {
        is_float = true;
        i = digits(i + 1);
    }
    let text = &q[start..pos_of(i)];
    let unit_follows = |i: usize| -> Option<(&'static str, i64)> {
        let rest = &q[pos_of(i)..];
        UNITS
            .iter()
            .find(|(u, _)| {
                rest.starts_with(u)
                    && !rest[u.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            })
            .copied()
    };
    if !is_float {
        if let Some((unit, ns)) = unit_follows(i) {
            // A duration, possibly compound (`1h30m`).
            let mut total: i64 = 0;
            let mut value: i64 = text
                .parse()
                .map_err(|_| ("invalid duration".to_string(), start))?;
            let mut unit = unit;
            let mut ns = ns;
            loop {
                total = value
                    .checked_mul(ns)
                    .and_then(|v| total.checked_add(v))
                    .ok_or(("overflowed duration".to_string(), start))?;
                i += unit.chars().count();
                if !chars.get(i).is_some_and(|&(_, c)| c.is_ascii_digit()) {
                    break;
                }
                let from = i;
                i = digits(i);
                value = q[pos_of(from)..pos_of(i)]
                    .parse()
                    .map_err(|_| ("invalid duration".to_string(), start))?;
                match unit_follows(i) {
                    Some((u, n)) => {
                        unit = u;
                        ns = n;
                    }
                    None => return Err(("invalid duration".to_string(), start)),
                }
            }
            return Ok((Tok::Duration(total), i));
        }
    }
    // Exponent (`1e3`, `2.5E-4`).
    if chars.get(i).is_some_and(|&(_, c)| c == 'e' || c == 'E') {
        let mut j = i + 1;
        if chars.get(j).is_some_and(|&(_, c)| c == '+' || c == '-') {
            j += 1;
        }
        if chars.get(j).is_some_and(|&(_, c)| c.is_ascii_digit()) {
            i = digits(j);
            is_float = true;
        }
    }
    let text = &q[start..pos_of(i)];
    let tok = if is_float {
        Tok::Num(
            text.parse()
                .map_err(|_| ("invalid number".to_string(), start))?,
        )
    } else {
        match text.parse::<i64>() {
            Ok(v) => Tok::Int(v),
            Err(_) => Tok::Num(
                text.parse()
                    .map_err(|_| ("invalid number".to_string(), start))?,
            ),
        }
    };
    Ok((tok, i))
}

fn quoted(
    chars: &[(usize, char)],
    mut i: usize,
    quote: char,
) -> Result<(String, usize), (String, usize)> {
    let start = chars[i].0;
    let mut text = String::new();
    i += 1;
    loop {
        match chars.get(i).map(|&(_, c)| c) {
            None => {
                let what = if quote == '"' { "identifier" } else { "string" };
                return Err((format!("unterminated quoted {what}"), start));
            }
            Some('\\') => {
                match chars.get(i + 1).map(|&(_, c)| c) {
                    Some('n') => text.push('\n'),
                    Some(c @ ('\\' | '"' | '\'')) => text.push(c),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => {}
                }
                i += 2;
            }
            Some(c) if c == quote => return Ok((text, i + 1)),
            Some(c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

/// `(line, char)` of byte offset `pos`, both 1-based, as InfluxDB reports them.
pub fn line_and_char(q: &str, pos: usize) -> (usize, usize) {
    let before = &q[..pos.min(q.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(q: &str) -> Vec<Tok> {
        tokenize(q).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn keywords_identifiers_and_literals() {
        assert_eq!(
            toks(r#"select "user", user FROM "a"."b" where x = 'it\'s'"#),
            vec![
                Tok::Keyword("SELECT"),
                Tok::QuotedIdent("user".into()),
                Tok::Punct(","),
                Tok::Keyword("USER"),
                Tok::Keyword("FROM"),
                Tok::QuotedIdent("a".into()),
                Tok::Punct("."),
                Tok::QuotedIdent("b".into()),
                Tok::Keyword("WHERE"),
                Tok::Ident("x".into()),
                Tok::Punct("="),
                Tok::Str("it's".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn durations_numbers_and_the_regex_division_split() {
        assert_eq!(
            toks("time >= 1763251200000ms and x > 1h30m"),
            vec![
                Tok::Ident("time".into()),
                Tok::Punct(">="),
                Tok::Duration(1_763_251_200_000_000_000),
                Tok::Keyword("AND"),
                Tok::Ident("x".into()),
                Tok::Punct(">"),
                Tok::Duration(5_400_000_000_000),
                Tok::Eof,
            ]
        );
        assert_eq!(
            toks(r#"sum(x)/3600.0 "p" =~ /^(a\/b|c)$/"#)[4..],
            [
                Tok::Punct("/"),
                Tok::Num(3600.0),
                Tok::QuotedIdent("p".into()),
                Tok::Punct("=~"),
                Tok::Regex("^(a/b|c)$".into()),
                Tok::Eof,
            ]
        );
        assert_eq!(toks("1e3 7")[..2], [Tok::Num(1000.0), Tok::Int(7)]);
    }

    #[test]
    fn positions_are_reported_as_line_and_char() {
        let q = "SELECT a\nFROM b";
        let t = tokenize(q).unwrap();
        assert_eq!(line_and_char(q, t[2].pos), (2, 1));
        assert_eq!(line_and_char(q, t[1].pos), (1, 8));
        assert!(tokenize("SELECT 'open").is_err());
        assert_eq!(toks("$x")[0], Tok::Illegal('$'));
    }
}
