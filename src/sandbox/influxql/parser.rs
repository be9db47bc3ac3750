//! InfluxQL parser: tokens → [`Statement`]s, with InfluxDB's error wording
//! (`found USER, expected identifier, string, number, bool at line 1, char 8`).
//!
//! It covers what Grafana's query editor and the shipped dashboards send (DOMAIN.md §1.6,
//! §5.2): `SELECT` with calls, arithmetic, aliases, subqueries, `WHERE`, `GROUP BY
//! time(…[, offset])` and tags, `fill`, `ORDER BY time`, `LIMIT`/`OFFSET`/`SLIMIT`/`SOFFSET`,
//! `tz`, and the `SHOW`/`CREATE DATABASE`/`DROP DATABASE` statements listed in [`Statement`].

use regex::Regex;

use super::ast::{
    BinOp, Dimension, Expr, Field, Fill, Interval, Limit, NameFilter, NameOrRegex, Select, Source,
    Statement,
};
use super::guard::{
    self, MAX_EXPR_HEIGHT, MAX_FIELDS, MAX_NESTING, MAX_QUERY_BYTES, MAX_STATEMENTS,
    MAX_SUBQUERY_DEPTH,
};
use super::lexer::{line_and_char, tokenize, Tok, Token};

/// A query that does not parse; `message` is what follows `error parsing query: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// InfluxDB-style message, e.g. `found EOF, expected FROM at line 1, char 9`.
    pub message: String,
}

/// Parse every `;`-separated statement of `q`, within the bounds of [`guard`].
pub fn parse_query(q: &str) -> Result<Vec<Statement>, ParseError> {
    if q.len() > MAX_QUERY_BYTES {
        let mut end = MAX_QUERY_BYTES;
        while !q.is_char_boundary(end) {
            end -= 1;
        }
        let (line, ch) = line_and_char(q, end);
        return Err(ParseError {
            message: format!(
                "query too long ({} bytes, at most {MAX_QUERY_BYTES}) at line {line}, char {ch}",
                q.len()
            ),
        });
    }
    let tokens = tokenize(q).map_err(|(msg, pos)| {
        let (line, ch) = line_and_char(q, pos);
        ParseError {
            message: format!("{msg} at line {line}, char {ch}"),
        }
    })?;
    let mut p = Parser {
        q,
        tokens,
        i: 0,
        depth: 0,
        subqueries: 0,
    };
    let mut out = Vec::new();
    loop {
        while p.eat_punct(";") {}
        if p.peek() == &Tok::Eof {
            break;
        }
        if out.len() == MAX_STATEMENTS {
            return Err(p.error_here(&format!("too many statements (more than {MAX_STATEMENTS})")));
        }
        out.push(p.statement()?);
        if !p.eat_punct(";") && p.peek() != &Tok::Eof {
            return Err(p.unexpected(";"));
        }
    }
    if out.is_empty() {
        return Err(p.unexpected(
            "SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL",
        ));
    }
    Ok(out)
}

struct Parser<'q> {
    q: &'q str,
    tokens: Vec<Token>,
    i: usize,
    /// Current expression nesting (parentheses, calls, unary minus).
    depth: usize,
    /// Current `FROM (SELECT …)` nesting.
    subqueries: usize,
}

const EXPR_START: &str = "identifier, string, number, bool";

impl Parser<'_> {
    /// The current token (`Eof` past the end).
    fn token(&self) -> &Token {
        &self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.token().tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.i + n).min(self.tokens.len() - 1)].tok
    }

    /// Take the current token. Always advances (past `Eof` too), so `self.i -= 1`
    /// after a `next()` puts back exactly that token.
    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.i += 1;
        tok
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        let token = self.token();
        let (line, ch) = line_and_char(self.q, token.pos);
        ParseError {
            message: format!(
                "found {}, expected {expected} at line {line}, char {ch}",
                token.tok.describe()
            ),
        }
    }

    fn error_here(&self, message: &str) -> ParseError {
        let (line, ch) = line_and_char(self.q, self.token().pos);
        ParseError {
            message: format!("{message} at line {line}, char {ch}"),
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(x) if *x == p) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.unexpected(p))
        }
    }

    fn eat_kw(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Tok::Keyword(x) if *x == k) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, k: &str) -> Result<(), ParseError> {
        if self.eat_kw(k) {
            Ok(())
        } else {
            Err(self.unexpected(k))
        }
    }

    /// An unquoted, non-keyword identifier spelled `word` (case-insensitive): `fill`, `tz`, `time`.
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x.eq_ignore_ascii_case(word))
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::QuotedIdent(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected("identifier")),
        }
    }

    fn ident_or_string(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::QuotedIdent(s) | Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected("identifier, string")),
        }
    }

    fn regex(&mut self) -> Result<Regex, ParseError> {
        match self.peek().clone() {
            Tok::Regex(src) => {
                let re = guard::regex(&src).map_err(|e| self.error_here(&e))?;
                self.next();
                Ok(re)
            }
            _ => Err(self.unexpected("regex")),
        }
    }

    fn uint(&mut self) -> Result<usize, ParseError> {
        match self.peek().clone() {
            Tok::Int(n) if n >= 0 => {
                self.next();
                Ok(n as usize)
            }
            _ => Err(self.unexpected("integer")),
        }
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        match self.peek() {
            Tok::Keyword("SELECT") => {
                self.next();
                Ok(Statement::Select(Box::new(self.select()?)))
            }
            Tok::Keyword("SHOW") => {
                self.next();
                self.show()
            }
            Tok::Keyword("CREATE") => {
                self.next();
                self.expect_kw("DATABASE")?;
                let name = self.ident()?;
                // `WITH DURATION … REPLICATION … NAME …`: accepted, ignored.
                if self.eat_kw("WITH") {
                    while !matches!(self.peek(), Tok::Eof | Tok::Punct(";")) {
                        self.next();
                    }
                }
                Ok(Statement::CreateDatabase(name))
            }
            Tok::Keyword("DROP") => {
                self.next();
                self.expect_kw("DATABASE")?;
                Ok(Statement::DropDatabase(self.ident()?))
            }
            _ => Err(self.unexpected(
                "SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL",
            )),
        }
    }

    fn on_database(&mut self) -> Result<Option<String>, ParseError> {
        if self.eat_kw("ON") {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    fn opt_from(&mut self) -> Result<Vec<Source>, ParseError> {
        if self.eat_kw("FROM") {
            self.sources()
        } else {
            Ok(Vec::new())
        }
    }

    fn opt_where(&mut self) -> Result<Option<Expr>, ParseError> {
        if self.eat_kw("WHERE") {
            Ok(Some(self.expr(0)?))
        } else {
            Ok(None)
        }
    }

    fn limit_offset(&mut self) -> Result<Limit, ParseError> {
        let mut limit = Limit::default();
        if self.eat_kw("LIMIT") {
            limit.limit = self.uint()?;
        }
        if self.eat_kw("OFFSET") {
            limit.offset = self.uint()?;
        }
        Ok(limit)
    }

    fn name_filter(&mut self, allow_in: bool) -> Result<NameFilter, ParseError> {
        let tok = self.next();
        Ok(match tok {
            Tok::Punct("=") => NameFilter::Eq(self.ident_or_string()?),
            Tok::Punct("!=") | Tok::Punct("<>") => NameFilter::Neq(self.ident_or_string()?),
            Tok::Punct("=~") => NameFilter::Regex(self.regex()?),
            Tok::Punct("!~") => NameFilter::NotRegex(self.regex()?),
            Tok::Keyword("IN") if allow_in => {
                self.expect_punct("(")?;
                let mut names = vec![self.ident_or_string()?];
                while self.eat_punct(",") {
                    names.push(self.ident_or_string()?);
                }
                self.expect_punct(")")?;
                NameFilter::In(names)
            }
            _ => {
                self.i -= 1;
                return Err(self.unexpected(if allow_in {
                    "=, !=, =~, !~, IN"
                } else {
                    "=, !=, =~, !~"
                }));
            }
        })
    }

    fn show(&mut self) -> Result<Statement, ParseError> {
        match self.next() {
            Tok::Keyword("DATABASES") => Ok(Statement::ShowDatabases),
            Tok::Keyword("MEASUREMENTS") => {
                let database = self.on_database()?;
                let filter = if self.eat_kw("WITH") {
                    self.expect_kw("MEASUREMENT")?;
                    Some(self.name_filter(false)?)
                } else {
                    None
                };
                let condition = self.opt_where()?;
                Ok(Statement::ShowMeasurements {
                    database,
                    filter,
                    condition,
                    limit: self.limit_offset()?,
                })
            }
            Tok::Keyword("TAG") => match self.next() {
                Tok::Keyword("KEYS") => {
                    let database = self.on_database()?;
                    let sources = self.opt_from()?;
                    let condition = self.opt_where()?;
                    Ok(Statement::ShowTagKeys {
                        database,
                        sources,
                        condition,
                        limit: self.limit_offset()?,
                    })
                }
                Tok::Keyword("VALUES") => {
                    let database = self.on_database()?;
                    let sources = self.opt_from()?;
                    self.expect_kw("WITH")?;
                    self.expect_kw("KEY")?;
                    let key = self.name_filter(true)?;
                    let condition = self.opt_where()?;
                    Ok(Statement::ShowTagValues {
                        database,
                        sources,
                        key,
                        condition,
                        limit: self.limit_offset()?,
                    })
                }
                _ => {
                    self.i -= 1;
                    Err(self.unexpected("KEYS, VALUES"))
                }
            },
            Tok::Keyword("FIELD") => {
                self.expect_kw("KEYS")?;
                let database = self.on_database()?;
                let sources = self.opt_from()?;
                Ok(Statement::ShowFieldKeys { database, sources })
            }
            Tok::Keyword("SERIES") => {
                let database = self.on_database()?;
                let sources = self.opt_from()?;
                let condition = self.opt_where()?;
                Ok(Statement::ShowSeries {
                    database,
                    sources,
                    condition,
                    limit: self.limit_offset()?,
                })
            }
            Tok::Keyword("RETENTION") => {
                self.expect_kw("POLICIES")?;
                Ok(Statement::ShowRetentionPolicies {
                    database: self.on_database()?,
                })
            }
            _ => {
                self.i -= 1;
                Err(self.unexpected(
                    "CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS",
                ))
            }
        }
    }

    fn select(&mut self) -> Result<Select, ParseError> {
        let mut fields = vec![self.field()?];
        while self.eat_punct(",") {
            if fields.len() == MAX_FIELDS {
                return Err(self.error_here(&format!("too many fields (more than {MAX_FIELDS})")));
            }
            fields.push(self.field()?);
        }
        self.expect_kw("FROM")?;
        let sources = self.sources()?;
        let condition = self.opt_where()?;
        let mut interval = None;
        let mut dimensions = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            loop {
                if self.peek_word("time") && self.peek_at(1) == &Tok::Punct("(") {
                    self.next();
                    self.next();
                    if interval.is_some() {
                        return Err(self.error_here("multiple time dimensions not allowed"));
                    }
                    let every = match self.next() {
                        Tok::Duration(d) if d > 0 => d,
                        _ => {
                            self.i -= 1;
                            return Err(self.unexpected("duration"));
                        }
                    };
                    let mut offset = 0;
                    if self.eat_punct(",") {
                        let negative = self.eat_punct("-");
                        offset = match self.next() {
                            Tok::Duration(d) => d,
                            Tok::Ident(w) if w.eq_ignore_ascii_case("now") => {
                                self.expect_punct("(")?;
                                self.expect_punct(")")?;
                                0
                            }
                            _ => {
                                self.i -= 1;
                                return Err(self.unexpected("duration"));
                            }
                        };
                        if negative {
                            offset = -offset;
                        }
                    }
                    self.expect_punct(")")?;
                    interval = Some(Interval { every, offset });
                } else if self.eat_punct("*") {
                    dimensions.push(Dimension::All);
                } else if matches!(self.peek(), Tok::Regex(_)) {
                    dimensions.push(Dimension::Regex(self.regex()?));
                } else {
                    dimensions.push(Dimension::Tag(self.ident()?));
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        let fill = self.fill()?;
        let mut order_desc = false;
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let name = self.ident()?;
                if !name.eq_ignore_ascii_case("time") {
                    return Err(self.error_here("only ORDER BY time supported at this time"));
                }
                if self.eat_kw("DESC") {
                    order_desc = true;
                } else {
                    self.eat_kw("ASC");
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        let limit = self.limit_offset()?;
        let mut slimit = Limit::default();
        if self.eat_kw("SLIMIT") {
            slimit.limit = self.uint()?;
        }
        if self.eat_kw("SOFFSET") {
            slimit.offset = self.uint()?;
        }
        let mut tz = None;
        if self.peek_word("tz") {
            self.next();
            self.expect_punct("(")?;
            match self.next() {
                Tok::Str(s) => {
                    super::tz::Tz::lookup(&s).map_err(|message| ParseError { message })?;
                    tz = Some(s)
                }
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected("string"));
                }
            }
            self.expect_punct(")")?;
        }
        Ok(Select {
            fields,
            sources,
            condition,
            interval,
            dimensions,
            fill,
            order_desc,
            limit,
            slimit,
            tz,
        })
    }

    fn fill(&mut self) -> Result<Fill, ParseError> {
        if !(self.peek_word("fill") && self.peek_at(1) == &Tok::Punct("(")) {
            return Ok(Fill::Null);
        }
        self.next();
        self.next();
        let negative = self.eat_punct("-");
        let sign = if negative { -1 } else { 1 };
        let fill = match self.next() {
            Tok::Ident(w) if !negative => match w.to_ascii_lowercase().as_str() {
                "null" => Fill::Null,
                "none" => Fill::None,
                "previous" => Fill::Previous,
                "linear" => Fill::Linear,
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected("null, none, previous, linear, number"));
                }
            },
            Tok::Int(n) => Fill::Int(sign * n),
            Tok::Num(n) => Fill::Float(sign as f64 * n),
            _ => {
                self.i -= 1;
                return Err(self.unexpected("null, none, previous, linear, number"));
            }
        };
        self.expect_punct(")")?;
        Ok(fill)
    }

    fn sources(&mut self) -> Result<Vec<Source>, ParseError> {
        let mut out = vec![self.source()?];
        while self.eat_punct(",") {
            out.push(self.source()?);
        }
        Ok(out)
    }

    fn source(&mut self) -> Result<Source, ParseError> {
        if self.eat_punct("(") {
            if self.subqueries == MAX_SUBQUERY_DEPTH {
                return Err(self.error_here(&format!(
                    "subqueries nest too deeply (more than {MAX_SUBQUERY_DEPTH} levels)"
                )));
            }
            self.expect_kw("SELECT")?;
            self.subqueries += 1;
            let inner = self.select();
            self.subqueries -= 1;
            let inner = inner?;
            self.expect_punct(")")?;
            return Ok(Source::Subquery(Box::new(inner)));
        }
        if matches!(self.peek(), Tok::Regex(_)) {
            return Ok(Source::Measurement {
                database: None,
                policy: None,
                name: NameOrRegex::Regex(self.regex()?),
            });
        }
        // Up to three dot-separated segments; empty ones allowed (`db..m`).
        let mut parts: Vec<Option<String>> = Vec::new();
        loop {
            if matches!(self.peek(), Tok::Punct(".")) {
                parts.push(None);
            } else if matches!(self.peek(), Tok::Regex(_)) && !parts.is_empty() {
                let re = self.regex()?;
                let (database, policy) = split_qualifiers(parts);
                return Ok(Source::Measurement {
                    database,
                    policy,
                    name: NameOrRegex::Regex(re),
                });
            } else {
                parts.push(Some(self.ident()?));
            }
            if parts.len() == 3 || !self.eat_punct(".") {
                break;
            }
        }
        let name = parts
            .pop()
            .flatten()
            .ok_or_else(|| self.unexpected("identifier"))?;
        let (database, policy) = split_qualifiers(parts);
        Ok(Source::Measurement {
            database,
            policy,
            name: NameOrRegex::Name(name),
        })
    }

    fn field(&mut self) -> Result<Field, ParseError> {
        let expr = self.expr(0)?;
        let alias = if self.eat_kw("AS") {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Field { expr, alias })
    }

    /// An expression (precedence climbing over [`BinOp::precedence`]).
    fn expr(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        Ok(self.expr_h(min_prec)?.0)
    }

    fn too_deep(&self) -> ParseError {
        self.error_here(&format!(
            "expression nests too deeply (more than {MAX_NESTING} levels)"
        ))
    }

    fn too_tall(&self) -> ParseError {
        self.error_here(&format!(
            "expression too long (more than {MAX_EXPR_HEIGHT} operators in a chain)"
        ))
    }

    /// Run `f` one nesting level deeper, refusing to go past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth == MAX_NESTING {
            return Err(self.too_deep());
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// An expression and the height of its tree: an operator chain is as tall as it
    /// is long, and the evaluator (and `Drop`) recurse over that height.
    fn expr_h(&mut self, min_prec: u8) -> Result<(Expr, usize), ParseError> {
        self.nested(|p| {
            let (mut lhs, mut height) = p.unary()?;
            loop {
                let op = match p.peek() {
                    Tok::Punct(x) => BinOp::from_token(x),
                    Tok::Keyword(k) => BinOp::from_token(k),
                    _ => None,
                };
                let Some(op) = op else { break };
                if op.precedence() <= min_prec {
                    break;
                }
                if height >= MAX_EXPR_HEIGHT {
                    return Err(p.too_tall());
                }
                p.next();
                let (rhs, rhs_height) = p.expr_h(op.precedence())?;
                height = 1 + height.max(rhs_height);
                lhs = Expr::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                };
            }
            Ok((lhs, height))
        })
    }

    fn unary(&mut self) -> Result<(Expr, usize), ParseError> {
        if self.eat_punct("-") {
            return Ok(match self.next() {
                Tok::Int(n) => (Expr::Int(-n), 1),
                Tok::Num(n) => (Expr::Num(-n), 1),
                Tok::Duration(d) => (Expr::Duration(-d), 1),
                _ => {
                    self.i -= 1;
                    let (inner, height) = self.nested(Self::unary)?;
                    let neg = Expr::Binary {
                        op: BinOp::Mul,
                        lhs: Box::new(Expr::Int(-1)),
                        rhs: Box::new(inner),
                    };
                    (neg, height + 1)
                }
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, usize), ParseError> {
        let tok = self.next();
        Ok(match tok {
            Tok::Punct("(") => {
                let e = self.expr_h(0)?;
                self.expect_punct(")")?;
                e
            }
            Tok::Punct("*") => {
                if self.eat_punct("::") {
                    self.ident()?;
                }
                (Expr::Wildcard, 1)
            }
            Tok::Ident(name) if self.peek() == &Tok::Punct("(") => {
                self.next();
                let mut args = Vec::new();
                let mut height = 1;
                if !self.eat_punct(")") {
                    loop {
                        let (arg, h) = self.expr_h(0)?;
                        height = height.max(h + 1);
                        args.push(arg);
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                    self.expect_punct(")")?;
                }
                let call = Expr::Call {
                    name: name.to_ascii_lowercase(),
                    args,
                };
                (call, height)
            }
            Tok::Ident(name) | Tok::QuotedIdent(name) => {
                let cast = if self.eat_punct("::") {
                    // `field` and `tag` are keywords (InfluxQL's FIELD and TAG tokens).
                    match self.peek() {
                        Tok::Keyword(k @ ("FIELD" | "TAG")) => {
                            let k = k.to_ascii_lowercase();
                            self.next();
                            Some(k)
                        }
                        _ => Some(self.ident()?.to_ascii_lowercase()),
                    }
                } else {
                    None
                };
                (Expr::VarRef { name, cast }, 1)
            }
            Tok::Str(s) => (Expr::Str(s), 1),
            Tok::Int(n) => (Expr::Int(n), 1),
            Tok::Num(n) => (Expr::Num(n), 1),
            Tok::Duration(d) => (Expr::Duration(d), 1),
            Tok::Keyword("TRUE") => (Expr::Bool(true), 1),
            Tok::Keyword("FALSE") => (Expr::Bool(false), 1),
            Tok::Regex(_) => {
                self.i -= 1;
                (Expr::Regex(self.regex()?), 1)
            }
            _ => {
                self.i -= 1;
                return Err(self.unexpected(EXPR_START));
            }
        })
    }
}

fn split_qualifiers(parts: Vec<Option<String>>) -> (Option<String>, Option<String>) {
    match parts.len() {
        0 => (None, None),
        1 => (None, parts.into_iter().next().flatten()),
        _ => {
            let mut it = parts.into_iter();
            (it.next().flatten(), it.next().flatten())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(q: &str) -> Select {
        match parse_query(q).unwrap().remove(0) {
            Statement::Select(s) => *s,
            other => panic!("not a select: {other:?}"),
        }
    }

    #[test]
    fn grafana_builder_query_parses_fully() {
        let s = one(
            r#"SELECT sum("duration_s") FROM "pol"."time_entry" WHERE ("user" = 'a' OR "user" = 'b') AND time >= 1763251200000ms and time <= 1763856000000ms GROUP BY time(10m), "project" fill(null) ORDER BY time DESC LIMIT 10 SLIMIT 3 tz('Europe/Berlin')"#,
        );
        assert_eq!(s.fields.len(), 1);
        assert_eq!(s.fields[0].name(), "sum");
        assert!(
            matches!(&s.sources[0], Source::Measurement { policy: Some(p), name: NameOrRegex::Name(n), database: None } if p == "pol" && n == "time_entry")
        );
        assert_eq!(
            s.interval,
            Some(Interval {
                every: 600_000_000_000,
                offset: 0
            })
        );
        assert!(matches!(&s.dimensions[..], [Dimension::Tag(t)] if t == "project"));
        assert_eq!(s.fill, Fill::Null);
        assert!(s.order_desc);
        assert_eq!(s.limit.limit, 10);
        assert_eq!(s.slimit.limit, 3);
        assert_eq!(s.tz.as_deref(), Some("Europe/Berlin"));
        // AND binds tighter than OR; the parenthesised OR stays one operand.
        match s.condition.unwrap() {
            Expr::Binary {
                op: BinOp::And,
                lhs,
                ..
            } => match *lhs {
                Expr::Binary {
                    op: BinOp::And,
                    lhs,
                    ..
                } => {
                    assert!(matches!(*lhs, Expr::Binary { op: BinOp::Or, .. }))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn field_names_follow_influxdb() {
        let s = one(
            r#"SELECT sum("billable_s")/sum("duration_s")*100, mean(x) AS "m", "user", cumulative_sum(sum(x))/3600 FROM m"#,
        );
        let names: Vec<_> = s.fields.iter().map(Field::name).collect();
        assert_eq!(names, vec!["sum_sum", "m", "user", "cumulative_sum"]);
    }

    #[test]
    fn subqueries_offsets_and_fill_values() {
        let s = one(
            r#"SELECT top("hours","client",5) FROM (SELECT sum("duration_s")/3600.0 AS "hours" FROM "time_entry" GROUP BY "client") GROUP BY time(1w, 4d) fill(-1)"#,
        );
        assert!(matches!(&s.sources[0], Source::Subquery(_)));
        assert_eq!(s.interval.unwrap().offset, 4 * 86_400_000_000_000);
        assert_eq!(s.fill, Fill::Int(-1));
    }

    #[test]
    fn show_statements_and_multiple_statements() {
        let stmts = parse_query(
            r#"SHOW TAG VALUES FROM "time_entry" WITH KEY = "project" WHERE "client" =~ /^(A|B)$/; SHOW DATABASES; show measurements; CREATE DATABASE x WITH DURATION 7d;"#,
        )
        .unwrap();
        assert_eq!(stmts.len(), 4);
        assert!(
            matches!(&stmts[0], Statement::ShowTagValues { key: NameFilter::Eq(k), condition: Some(_), .. } if k == "project")
        );
        assert!(matches!(&stmts[3], Statement::CreateDatabase(n) if n == "x"));
    }

    #[test]
    fn no_prefix_of_a_query_panics() {
        let queries = [
            r#"SELECT sum("duration_s")/3600 AS "h", count("entry_id") FROM "pol"."time_entry" WHERE ("user" =~ /^(a|b)$/ OR "p" != 'x') AND time >= 1763251200000ms and time <= now() - 1h30m GROUP BY time(1w, -4d), "project", * fill(-1.5) ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 1 tz('Europe/Berlin')"#,
            r#"SELECT top("hours","client",5) FROM (SELECT sum("d")/3600.0 AS "hours" FROM m GROUP BY "client"); SHOW TAG VALUES ON db FROM "m" WITH KEY IN ("a", "b") WHERE "c" =~ /x/ LIMIT 1"#,
            r#"CREATE DATABASE "x" WITH DURATION 7d; DROP DATABASE x; SHOW MEASUREMENTS WITH MEASUREMENT =~ /t.*/; SHOW FIELD KEYS; SHOW SERIES; SHOW RETENTION POLICIES ON toggl"#,
        ];
        for q in queries {
            for (end, _) in q.char_indices() {
                let _ = parse_query(&q[..end]);
            }
            assert!(parse_query(q).is_ok(), "{q}");
        }
    }

    #[test]
    fn errors_read_like_influxdbs() {
        let err = |q: &str| parse_query(q).unwrap_err().message;
        assert_eq!(
            err("SELECT user FROM m"),
            "found USER, expected identifier, string, number, bool at line 1, char 8"
        );
        assert_eq!(
            err("SELECT x"),
            "found EOF, expected FROM at line 1, char 9"
        );
        assert_eq!(
            err("SELECT x FROM m WHERE p =~ /^($p)$/ AND $timeFilter"),
            "found $, expected identifier, string, number, bool at line 1, char 41"
        );
        assert!(err("SELECT x FROM m ORDER BY x").contains("only ORDER BY time"));
        assert!(err("SELEC x").starts_with("found SELEC, expected SELECT"));
        assert!(err("SELECT x FROM m GROUP BY time(x)").contains("expected duration"));
        assert!(err("SELECT x FROM m; bogus").contains("found bogus"));
    }
}
