//! The InfluxQL syntax tree the parser builds and the executor walks.

use regex::Regex;

/// One statement of a `;`-separated query.
#[derive(Debug, Clone)]
pub enum Statement {
    /// `SELECT …`.
    Select(Box<Select>),
    /// `SHOW DATABASES`.
    ShowDatabases,
    /// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT =~ /re/ | = name] [WHERE …] [LIMIT n] [OFFSET n]`.
    ShowMeasurements {
        /// `ON db`.
        database: Option<String>,
        /// The `WITH MEASUREMENT` filter.
        filter: Option<NameFilter>,
        /// `WHERE` on tags.
        condition: Option<Expr>,
        /// `LIMIT` / `OFFSET`.
        limit: Limit,
    },
    /// `SHOW TAG KEYS [ON db] [FROM …] [WHERE …]`.
    ShowTagKeys {
        /// `ON db`.
        database: Option<String>,
        /// `FROM`.
        sources: Vec<Source>,
        /// `WHERE`.
        condition: Option<Expr>,
        /// `LIMIT` / `OFFSET`.
        limit: Limit,
    },
    /// `SHOW TAG VALUES [ON db] [FROM …] WITH KEY … [WHERE …]`.
    ShowTagValues {
        /// `ON db`.
        database: Option<String>,
        /// `FROM`.
        sources: Vec<Source>,
        /// `WITH KEY = "k"` and friends.
        key: NameFilter,
        /// `WHERE`.
        condition: Option<Expr>,
        /// `LIMIT` / `OFFSET`.
        limit: Limit,
    },
    /// `SHOW FIELD KEYS [ON db] [FROM …]`.
    ShowFieldKeys {
        /// `ON db`.
        database: Option<String>,
        /// `FROM`.
        sources: Vec<Source>,
    },
    /// `SHOW SERIES [ON db] [FROM …] [WHERE …]`.
    ShowSeries {
        /// `ON db`.
        database: Option<String>,
        /// `FROM`.
        sources: Vec<Source>,
        /// `WHERE`.
        condition: Option<Expr>,
        /// `LIMIT` / `OFFSET`.
        limit: Limit,
    },
    /// `SHOW RETENTION POLICIES [ON db]`.
    ShowRetentionPolicies {
        /// `ON db`.
        database: Option<String>,
    },
    /// `CREATE DATABASE name [WITH …]` (the `WITH` part is accepted and ignored).
    CreateDatabase(String),
    /// `DROP DATABASE name`.
    DropDatabase(String),
}

impl Statement {
    /// Whether it changes the store (and so needs a POST, and the write lock).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Statement::CreateDatabase(_) | Statement::DropDatabase(_)
        )
    }
}

/// `LIMIT n OFFSET m` (0 = no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limit {
    /// Maximum rows (or series for `SLIMIT`); 0 means none.
    pub limit: usize,
    /// Rows to skip first.
    pub offset: usize,
}

impl Limit {
    /// Apply to a list.
    pub fn apply<T>(&self, items: Vec<T>) -> Vec<T> {
        let it = items.into_iter().skip(self.offset);
        if self.limit > 0 {
            it.take(self.limit).collect()
        } else {
            it.collect()
        }
    }
}

/// A filter on a name (`WITH KEY = "k"`, `WITH MEASUREMENT =~ /re/`, `WITH KEY IN ("a","b")`).
#[derive(Debug, Clone)]
pub enum NameFilter {
    /// `= name`.
    Eq(String),
    /// `!= name`.
    Neq(String),
    /// `IN (a, b)`.
    In(Vec<String>),
    /// `=~ /re/`.
    Regex(Regex),
    /// `!~ /re/`.
    NotRegex(Regex),
}

impl NameFilter {
    /// Whether `name` passes.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Eq(n) => n == name,
            NameFilter::Neq(n) => n != name,
            NameFilter::In(ns) => ns.iter().any(|n| n == name),
            NameFilter::Regex(re) => re.is_match(name),
            NameFilter::NotRegex(re) => !re.is_match(name),
        }
    }
}

/// A `SELECT` statement.
#[derive(Debug, Clone)]
pub struct Select {
    /// The selected expressions.
    pub fields: Vec<Field>,
    /// `FROM`.
    pub sources: Vec<Source>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `GROUP BY time(…)`.
    pub interval: Option<Interval>,
    /// `GROUP BY` tag dimensions.
    pub dimensions: Vec<Dimension>,
    /// `fill(…)`.
    pub fill: Fill,
    /// `ORDER BY time DESC`.
    pub order_desc: bool,
    /// `LIMIT` / `OFFSET` (points per series).
    pub limit: Limit,
    /// `SLIMIT` / `SOFFSET` (series).
    pub slimit: Limit,
    /// `tz('…')`.
    pub tz: Option<String>,
}

/// `time(every[, offset])`, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Bucket width.
    pub every: i64,
    /// Bucket alignment offset.
    pub offset: i64,
}

/// A `GROUP BY` tag dimension.
#[derive(Debug, Clone)]
pub enum Dimension {
    /// A tag key.
    Tag(String),
    /// `*`: every tag key.
    All,
    /// `/re/`: every matching tag key.
    Regex(Regex),
}

/// `fill(…)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fill {
    /// `fill(null)`, the default.
    #[default]
    Null,
    /// `fill(none)`: skip empty buckets.
    None,
    /// `fill(previous)`.
    Previous,
    /// `fill(linear)`.
    Linear,
    /// `fill(<integer>)`.
    Int(i64),
    /// `fill(<float>)`.
    Float(f64),
}

/// A `FROM` source.
#[derive(Debug, Clone)]
pub enum Source {
    /// `[db.][rp.]measurement` or `/re/`.
    Measurement {
        /// Database qualifier.
        database: Option<String>,
        /// Retention policy qualifier (the sandbox has one policy and ignores it).
        policy: Option<String>,
        /// The name or regex.
        name: NameOrRegex,
    },
    /// `(SELECT …)`.
    Subquery(Box<Select>),
}

/// A measurement name or a regex over names.
#[derive(Debug, Clone)]
pub enum NameOrRegex {
    /// A name.
    Name(String),
    /// A regex.
    Regex(Regex),
}

/// One selected expression and its alias.
#[derive(Debug, Clone)]
pub struct Field {
    /// The expression.
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<String>,
}

impl Field {
    /// The column name InfluxDB gives it: the alias, else the call or variable name,
    /// else the names in a binary expression joined by `_` (`sum(a)/sum(b)` → `sum_sum`).
    pub fn name(&self) -> String {
        if let Some(a) = &self.alias {
            return a.clone();
        }
        let mut names = Vec::new();
        self.expr.collect_names(&mut names);
        names.join("_")
    }
}

/// Binary operators, loosest first by [`BinOp::precedence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// `=`.
    Eq,
    /// `!=` or `<>`.
    Neq,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `=~`.
    EqRegex,
    /// `!~`.
    NeqRegex,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Mod,
}

impl BinOp {
    /// Binding strength, as InfluxQL's: OR 1, AND 2, comparisons 4, `+ -` 5, `* / %` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq
            | BinOp::Neq
            | BinOp::Lt
            | BinOp::Lte
            | BinOp::Gt
            | BinOp::Gte
            | BinOp::EqRegex
            | BinOp::NeqRegex => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 6,
        }
    }

    /// The operator for a punctuation or keyword token.
    pub fn from_token(s: &str) -> Option<BinOp> {
        Some(match s {
            "OR" => BinOp::Or,
            "AND" => BinOp::And,
            "=" => BinOp::Eq,
            "!=" | "<>" => BinOp::Neq,
            "<" => BinOp::Lt,
            "<=" => BinOp::Lte,
            ">" => BinOp::Gt,
            ">=" => BinOp::Gte,
            "=~" => BinOp::EqRegex,
            "!~" => BinOp::NeqRegex,
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            _ => return None,
        })
    }
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A field or tag reference, with an optional `::field` / `::tag` cast.
    VarRef {
        /// The name.
        name: String,
        /// `field`, `tag`, `integer`, `float`, …
        cast: Option<String>,
    },
    /// `*` (in `SELECT *` and `count(*)`).
    Wildcard,
    /// A function call; the name is lower-cased.
    Call {
        /// Function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// Integer literal.
    Int(i64),
    /// Float literal.
    Num(f64),
    /// String literal.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// Duration literal, ns.
    Duration(i64),
    /// Regex literal.
    Regex(Regex),
    /// `lhs op rhs`.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
    },
}

impl Expr {
    fn collect_names(&self, out: &mut Vec<String>) {
        match self {
            Expr::VarRef { name, .. } => out.push(name.clone()),
            Expr::Call { name, .. } => out.push(name.clone()),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.collect_names(out);
                rhs.collect_names(out);
            }
            _ => {}
        }
    }

    /// Whether the expression refers to `time` anywhere.
    pub fn mentions_time(&self) -> bool {
        match self {
            Expr::VarRef { name, .. } => name.eq_ignore_ascii_case("time"),
            Expr::Binary { lhs, rhs, .. } => lhs.mentions_time() || rhs.mentions_time(),
            Expr::Call { args, .. } => args.iter().any(Expr::mentions_time),
            _ => false,
        }
    }

    /// Every variable name it refers to.
    pub fn var_refs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::VarRef { name, .. } => out.push(name),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.var_refs(out);
                rhs.var_refs(out);
            }
            Expr::Call { args, .. } => args.iter().for_each(|a| a.var_refs(out)),
            _ => {}
        }
    }
}
