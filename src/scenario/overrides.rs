//! One run's changes to a scenario without editing its file: `--set key=value` and
//! the `DASHLOAD_TARGET_URL` / `DASHLOAD_TARGET_DATABASE` environment variables.
//!
//! An override is applied to the file's text (its value replaced where the key is
//! written, the key inserted into its table otherwise) and the result goes through
//! the one validation, so a value set here is checked exactly as in the file. Every
//! edit is recorded: an error inside one names the `--set` (or the variable), and an
//! error elsewhere keeps its `file:line:column` in the file as written.

use std::collections::BTreeMap;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

use crate::error::{Error, Result};

/// The environment variables that override the target (and the export's
/// destination), and the key each sets.
pub const TARGET_ENV: [(&str, &str); 4] = [
    ("DASHLOAD_TARGET_URL", "target.url"),
    ("DASHLOAD_TARGET_DATABASE", "target.database"),
    ("DASHLOAD_EXPORT_URL", "export.url"),
    ("DASHLOAD_EXPORT_DATABASE", "export.database"),
];

/// Where an override came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--set key=value`.
    Flag,
    /// An environment variable (its name).
    Env(&'static str),
}

/// One override: a dotted key and the TOML text of its value.
#[derive(Debug, Clone)]
pub struct Override {
    /// The dotted key as given (`target.url`, `stages.0.users`).
    pub key: String,
    segments: Vec<String>,
    /// The value as TOML text (`"http://…"`, `5`, `["a"]`).
    value: String,
    /// The value as given, credentials in a URL masked: for messages.
    shown_value: String,
    /// Where it came from.
    pub source: Source,
}

impl Override {
    /// Parse `--set key=value`. The value is a TOML value when it parses as one
    /// (`5`, `true`, `"quoted"`, `[1, 2]`), else a string (`30s`, `http://…`).
    pub fn parse_flag(arg: &str) -> Result<Override> {
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(Error::Usage(format!(
                "--set {}: expected key=value, e.g. --set target.url=http://127.0.0.1:8086",
                shown(arg)
            )));
        };
        let key = key.trim();
        let segments = check_key(key)?;
        let value = match raw.trim().parse::<Value>() {
            Ok(v) => v.decorated("", "").to_string(),
            Err(_) => Value::from(raw).decorated("", "").to_string(),
        };
        Ok(Override {
            key: key.to_string(),
            segments,
            value,
            shown_value: shown(raw),
            source: Source::Flag,
        })
    }

    /// An environment variable's override: always a string.
    fn env(var: &'static str, key: &str, raw: &str) -> Override {
        Override {
            key: key.to_string(),
            segments: key.split('.').map(str::to_string).collect(),
            value: Value::from(raw).decorated("", "").to_string(),
            shown_value: shown(raw),
            source: Source::Env(var),
        }
    }

    /// How messages name it: `--set target.url=…` or `DASHLOAD_TARGET_URL=…`.
    pub fn shown(&self) -> String {
        match self.source {
            Source::Flag => format!("--set {}={}", self.key, self.shown_value),
            Source::Env(var) => format!("{var}={}", self.shown_value),
        }
    }

    /// As [`Override::shown`], the value left out: `--set target.bogus=…`. For a
    /// key the scenario refuses, whose value may be a secret put in the wrong place.
    pub fn shown_without_value(&self) -> String {
        match self.source {
            Source::Flag => format!("--set {}=…", self.key),
            Source::Env(var) => format!("{var}=…"),
        }
    }

    /// For `check`: `target.url = "http://…"  (DASHLOAD_TARGET_URL)`.
    pub fn describe(&self) -> String {
        let from = match self.source {
            Source::Flag => "--set".to_string(),
            Source::Env(var) => var.to_string(),
        };
        // The TOML text, but a URL's credentials masked.
        let value = if self.shown_value == strip_quotes(&self.value) {
            self.value.clone()
        } else {
            Value::from(self.shown_value.as_str()).to_string()
        };
        format!("{} = {}  ({from})", self.key, value.trim())
    }
}

fn strip_quotes(text: &str) -> String {
    match text.parse::<Value>() {
        Ok(Value::String(s)) => s.value().clone(),
        _ => text.to_string(),
    }
}

/// The value as messages show it: a URL's password masked (the value itself is
/// refused later: credentials never belong in a URL).
fn shown(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Split and check a dotted key; a key naming a secret is refused (the command
/// line shows in `ps` and shell history) without echoing its value.
fn check_key(key: &str) -> Result<Vec<String>> {
    let segments: Vec<String> = key.split('.').map(str::to_string).collect();
    let bare = |s: &String| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !segments.iter().all(bare) {
        return Err(Error::Usage(format!(
            "--set {key}=…: `{key}` is not a dotted key (letters, digits, `_` and `-` between dots, e.g. target.url or stages.0.users)"
        )));
    }
    let last = segments
        .last()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let names_secret = ["password", "token", "secret"]
        .iter()
        .any(|w| last.contains(w));
    if names_secret && !last.ends_with("_env") && !last.ends_with("_file") {
        return Err(Error::Usage(format!(
            "--set {key}=…: secrets are not taken on the command line (it shows in `ps` and shell history): name an environment variable or a file in the scenario (password_env / password_file, token_env / token_file)"
        )));
    }
    Ok(segments)
}

/// Every override of one run: the environment's first, then `--set`'s in order;
/// the last one of a key wins.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    list: Vec<Override>,
}

impl Overrides {
    /// No overrides: the file as written.
    pub fn none() -> Overrides {
        Overrides::default()
    }

    /// `DASHLOAD_TARGET_*` from the environment, then each `--set`.
    pub fn from_env_and_flags(sets: &[String]) -> Result<Overrides> {
        let env = TARGET_ENV
            .iter()
            .filter_map(|(var, key)| Some((*var, *key, std::env::var(var).ok()?)));
        Overrides::from_parts(env, sets)
    }

    /// As [`Overrides::from_env_and_flags`], the environment given (for tests).
    pub fn from_parts<'a>(
        env: impl IntoIterator<Item = (&'static str, &'a str, String)>,
        sets: &[String],
    ) -> Result<Overrides> {
        let mut list: Vec<Override> = env
            .into_iter()
            .filter(|(_, _, v)| !v.is_empty())
            .map(|(var, key, value)| Override::env(var, key, &value))
            .collect();
        for s in sets {
            list.push(Override::parse_flag(s)?);
        }
        // The last of a key wins.
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<Override> = list
            .into_iter()
            .rev()
            .filter(|o| seen.insert(o.key.clone()))
            .collect();
        kept.reverse();
        Ok(Overrides { list: kept })
    }

    /// True when the file runs as written.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The overrides, in the order applied.
    pub fn iter(&self) -> impl Iterator<Item = &Override> {
        self.list.iter()
    }

    /// What the scenario digest adds to the file's bytes: every override as
    /// `key=value` (TOML text), sorted, one a line; `export.*` left out (where the
    /// results go does not change what runs). Secrets never reach here.
    pub fn digest_input(&self) -> String {
        let mut lines: Vec<String> = self
            .list
            .iter()
            .filter(|o| !o.key.starts_with("export."))
            .map(|o| format!("{}={}\n", o.key, o.value))
            .collect();
        lines.sort();
        lines.concat()
    }

    /// Apply them to the scenario's text.
    pub(super) fn apply(&self, text: &str, file: &str) -> Result<Applied> {
        let doc = ImDocument::parse(text.to_string()).map_err(|e| {
            // The file itself is not TOML: let the one parser report it, located.
            Error::config(file, format!("not TOML: {}", e.message()))
        })?;
        let mut edits: Vec<Edit> = Vec::new();
        // Appended tables, by their header, so two keys of one table share it.
        let mut appended: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        let mut inline_inserts: BTreeMap<usize, usize> = BTreeMap::new();
        for (owner, o) in self.list.iter().enumerate() {
            match locate(&doc, o)? {
                Place::Value(span) => edits.push(Edit {
                    at: span.start,
                    orig_len: span.len(),
                    text: o.value.clone(),
                    owner,
                }),
                Place::Missing { container, rest } => {
                    // No dotted keys: serde's spans get lost in them. A key several
                    // tables deep gets a `[header]` of its own at the end.
                    let container = match container {
                        Container::Root(_) | Container::Header(..) if rest.len() > 1 => {
                            let mut path = container.path().to_string();
                            for seg in &rest[..rest.len() - 1] {
                                if !path.is_empty() {
                                    path.push('.');
                                }
                                path.push_str(seg);
                            }
                            Container::Append(path)
                        }
                        other => other,
                    };
                    let entry = match &container {
                        Container::Append(_) => {
                            format!("{} = {}", rest[rest.len() - 1], o.value)
                        }
                        _ => nested(&rest, &o.value),
                    };
                    match container {
                        Container::Root(_) => edits.push(Edit {
                            at: 0,
                            orig_len: 0,
                            text: format!("{entry}\n"),
                            owner,
                        }),
                        Container::Header(start, _) => {
                            let (at, lead) = match text[start..].find('\n') {
                                Some(n) => (start + n + 1, ""),
                                None => (text.len(), "\n"),
                            };
                            edits.push(Edit {
                                at,
                                orig_len: 0,
                                text: format!("{lead}{entry}\n"),
                                owner,
                            });
                        }
                        Container::Inline { close, empty } => {
                            let count = inline_inserts.entry(close).or_insert(0);
                            let comma = if empty && *count == 0 { " " } else { ", " };
                            *count += 1;
                            edits.push(Edit {
                                at: close,
                                orig_len: 0,
                                text: format!("{comma}{entry} "),
                                owner,
                            });
                        }
                        Container::Append(header) => {
                            appended.entry(header).or_default().push((owner, entry));
                        }
                    }
                }
            }
        }
        for (header, entries) in appended {
            let lead = if text.ends_with('\n') || text.is_empty() {
                ""
            } else {
                "\n"
            };
            edits.push(Edit {
                at: text.len(),
                orig_len: 0,
                text: format!("{lead}\n[{header}]\n"),
                owner: entries[0].0,
            });
            for (owner, entry) in entries {
                edits.push(Edit {
                    at: text.len(),
                    orig_len: 0,
                    text: format!("{entry}\n"),
                    owner,
                });
            }
        }
        edits.sort_by_key(|e| e.at);
        for pair in edits.windows(2) {
            if pair[0].at + pair[0].orig_len > pair[1].at {
                return Err(Error::Usage(format!(
                    "{} and {} set overlapping parts of the scenario: give one of them",
                    self.list[pair[0].owner].shown(),
                    self.list[pair[1].owner].shown()
                )));
            }
        }
        let mut out = String::with_capacity(text.len() + 256);
        let mut cursor = 0;
        let mut placed = Vec::with_capacity(edits.len());
        for e in edits {
            out.push_str(&text[cursor..e.at]);
            let start = out.len();
            out.push_str(&e.text);
            placed.push(Placed {
                new: start..out.len(),
                orig_len: e.orig_len,
                owner: e.owner,
            });
            cursor = e.at + e.orig_len;
        }
        out.push_str(&text[cursor..]);
        Ok(Applied {
            original: text.to_string(),
            text: out,
            edits: placed,
            overrides: self.list.clone(),
        })
    }
}

/// One edit of the original text: replace `orig_len` bytes at `at` by `text`.
struct Edit {
    at: usize,
    orig_len: usize,
    text: String,
    owner: usize,
}

/// An edit as placed in the new text.
#[derive(Debug)]
struct Placed {
    new: Range<usize>,
    orig_len: usize,
    owner: usize,
}

/// The scenario text with the overrides applied, and how to map back.
#[derive(Debug)]
pub(super) struct Applied {
    /// The file as written.
    pub original: String,
    /// The text validated.
    pub text: String,
    edits: Vec<Placed>,
    overrides: Vec<Override>,
}

/// Where a position of the validated text came from.
pub(super) enum Origin<'a> {
    /// The file, at this byte offset.
    File(usize),
    /// An override.
    Override(&'a Override),
}

impl Applied {
    /// Map a byte offset of [`Applied::text`] back to the file or to an override.
    pub fn origin(&self, pos: usize) -> Origin<'_> {
        let mut shift: isize = 0;
        for e in &self.edits {
            if e.new.contains(&pos) {
                return Origin::Override(&self.overrides[e.owner]);
            }
            if e.new.end <= pos {
                shift += e.new.len() as isize - e.orig_len as isize;
            }
        }
        let orig = (pos as isize - shift).clamp(0, self.original.len() as isize) as usize;
        Origin::File(orig)
    }
}

/// Where an override goes.
enum Place {
    /// Replace the value written at this span.
    Value(Range<usize>),
    /// Insert `rest = value` into `container`.
    Missing {
        container: Container,
        rest: Vec<String>,
    },
}

/// A table a missing key is inserted into.
enum Container {
    /// The document's top (before any header).
    Root(String),
    /// A `[table]` or `[[table]]` entry whose header starts at this offset, and its path.
    Header(usize, String),
    /// An inline table `{ … }`: its closing brace's offset.
    Inline { close: usize, empty: bool },
    /// A table with no header of its own (implicit): a new `[header]` at the end.
    Append(String),
}

fn locate(doc: &ImDocument<String>, o: &Override) -> Result<Place> {
    let fail = |why: String| Err(Error::Usage(format!("{}: {why}", o.shown())));
    let segs = &o.segments;
    let mut table: &Table = doc.as_table();
    let mut root = true;
    let mut i = 0;
    // Tables with headers first, then values (inline tables and arrays).
    let mut value: &Value = loop {
        let seg = &segs[i];
        let prefix = segs[..i].join(".");
        match table.get(seg) {
            None | Some(Item::None) => {
                return missing(o, segs, i, container_of(table, root, &prefix, doc.raw()))
            }
            Some(Item::Table(t)) => {
                if i + 1 == segs.len() {
                    return fail(format!(
                        "`{}` is a table: set its keys one by one (e.g. {}.<key>=…)",
                        o.key, o.key
                    ));
                }
                table = t;
            }
            Some(Item::ArrayOfTables(a)) => {
                let at = segs[..=i].join(".");
                let Some(next) = segs.get(i + 1) else {
                    return fail(format!(
                        "`{at}` is a list of tables: set one entry's keys (e.g. {at}.0.<key>=…)"
                    ));
                };
                let Ok(index) = next.parse::<usize>() else {
                    return fail(format!(
                        "`{at}` is a list: expected an index after it, got `{next}`"
                    ));
                };
                let Some(t) = a.get(index) else {
                    return fail(format!(
                        "`{at}` has {}: there is no entry {index}",
                        entries(a.len())
                    ));
                };
                if i + 2 == segs.len() {
                    return fail(format!(
                        "`{at}.{index}` is a table: set its keys one by one (e.g. {at}.{index}.<key>=…)"
                    ));
                }
                table = t;
                i += 1;
            }
            Some(Item::Value(v)) => {
                i += 1;
                break v;
            }
        }
        root = false;
        i += 1;
    };
    while i < segs.len() {
        let seg = &segs[i];
        let at = segs[..i].join(".");
        match value {
            Value::InlineTable(t) => match t.get(seg) {
                Some(v) => value = v,
                None => {
                    let close = t.span().map(|s| s.end.saturating_sub(1));
                    let Some(close) = close.filter(|c| doc.raw().as_bytes().get(*c) == Some(&b'}'))
                    else {
                        return fail(format!("cannot add a key to `{at}`"));
                    };
                    let empty = t.is_empty();
                    return missing(o, segs, i, Container::Inline { close, empty });
                }
            },
            Value::Array(a) => {
                let Ok(index) = seg.parse::<usize>() else {
                    return fail(format!(
                        "`{at}` is a list: expected an index after it, got `{seg}`"
                    ));
                };
                match a.get(index) {
                    Some(v) => value = v,
                    None => {
                        return fail(format!(
                            "`{at}` has {}: there is no entry {index}",
                            entries(a.len())
                        ))
                    }
                }
            }
            _ => return fail(format!("`{at}` is a single value, not a table")),
        }
        i += 1;
    }
    match value.span() {
        Some(span) => Ok(Place::Value(span)),
        None => fail("cannot locate its value in the file".into()),
    }
}

impl Container {
    /// The table's dotted path (empty for the top).
    fn path(&self) -> &str {
        match self {
            Container::Root(p) | Container::Header(_, p) | Container::Append(p) => p,
            Container::Inline { .. } => "",
        }
    }
}

/// `a = { b = V }` for the key `a.b` (no dotted keys: see [`Overrides::apply`]).
fn nested(rest: &[String], value: &str) -> String {
    match rest {
        [last] => format!("{last} = {value}"),
        [first, more @ ..] => format!("{first} = {{ {} }}", nested(more, value)),
        [] => value.to_string(),
    }
}

/// `no entries`, `1 entry (index 0)`, `3 entries (index 0 to 2)`.
fn entries(n: usize) -> String {
    match n {
        0 => "no entries".into(),
        1 => "1 entry (index 0)".into(),
        n => format!("{n} entries (index 0 to {})", n - 1),
    }
}

fn container_of(table: &Table, root: bool, path: &str, text: &str) -> Container {
    if root {
        return Container::Root(String::new());
    }
    match table.span() {
        Some(span)
            if !table.is_implicit()
                && !table.is_dotted()
                && text.as_bytes().get(span.start) == Some(&b'[') =>
        {
            Container::Header(span.start, path.to_string())
        }
        _ => Container::Append(path.to_string()),
    }
}

fn missing(o: &Override, segs: &[String], i: usize, container: Container) -> Result<Place> {
    let rest = segs[i..].to_vec();
    if let Some(n) = rest
        .iter()
        .position(|s| s.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Error::Usage(format!(
            "{}: there is no `{}` to take entry {} of (lists are set whole, e.g. --set {}=[…])",
            o.shown(),
            segs[..i + n].join("."),
            rest[n],
            segs[..i + n].join(".")
        )));
    }
    Ok(Place::Missing { container, rest })
}

#[cfg(test)]
mod tests;
