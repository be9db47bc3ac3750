//! The cluster's shared secret: read from `DASHLOAD_CLUSTER_TOKEN` or the file
//! named by `DASHLOAD_CLUSTER_TOKEN_FILE` (never a flag: a process list shows
//! flags; `local:N` workers read it from their stdin), never sent: it keys the
//! channel's proofs (`auth.rs`). Required whenever the manager listens, or a
//! worker dials, off loopback.

use rand::Rng;

use crate::error::{Error, Result};

/// The variable holding the token.
pub const ENV: &str = "DASHLOAD_CLUSTER_TOKEN";
/// The variable naming a file that holds the token.
pub const FILE_ENV: &str = "DASHLOAD_CLUSTER_TOKEN_FILE";

/// A token; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(set)")
    }
}

impl Token {
    /// The token from the environment, if one is set.
    pub fn from_env() -> Result<Option<Token>> {
        Token::from_env_named(ENV, FILE_ENV)
    }

    /// A token from the variable `env` or the file the variable `file_env`
    /// names (the sandbox's counters token uses its own pair).
    pub fn from_env_named(env: &str, file_env: &str) -> Result<Option<Token>> {
        Token::from_vars_named(
            std::env::var(env).ok(),
            std::env::var(file_env).ok(),
            env,
            file_env,
        )
    }

    #[cfg(test)]
    fn from_vars(value: Option<String>, file: Option<String>) -> Result<Option<Token>> {
        Token::from_vars_named(value, file, ENV, FILE_ENV)
    }

    fn from_vars_named(
        value: Option<String>,
        file: Option<String>,
        env: &str,
        file_env: &str,
    ) -> Result<Option<Token>> {
        let (text, from) = match (value, file) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage(format!(
                    "{env} and {file_env} are both set: set one"
                )))
            }
            (Some(v), None) => (v, env.to_string()),
            // As every secret file: a regular file of at most 64 KiB (not
            // /dev/zero, not a FIFO), UTF-8.
            (None, Some(path)) => (
                crate::scenario::secret::SecretSource::File(path.clone().into())
                    .read()
                    .map_err(|why| Error::Usage(format!("{file_env}: {why}")))?
                    .expose()
                    .to_string(),
                format!("{file_env} ({path})"),
            ),
            (None, None) => return Ok(None),
        };
        Token::parse(&text, &from).map(Some)
    }

    /// The token read from standard input (`dashload worker --token-stdin`: how
    /// `local:N` workers get it, out of their environment and arguments): one
    /// line, at most 64 KiB read.
    pub fn from_stdin() -> Result<Token> {
        use std::io::Read as _;
        let mut text = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| Error::Usage(format!("--token-stdin: {e}")))?;
        Token::parse(text.lines().next().unwrap_or(""), "--token-stdin")
    }

    /// A token from `text` (read from `from`, named in the error, which never
    /// shows the text).
    pub fn parse(text: &str, from: &str) -> Result<Token> {
        let token = text.trim();
        if token.len() < 16 || token.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(Error::Usage(format!(
                "{from}: the cluster token must be at least 16 printable characters without spaces"
            )));
        }
        Ok(Token(token.to_string()))
    }

    /// True when `headers` carry this token as `Authorization: Token …` or
    /// `Bearer …` (compared in constant time).
    pub fn matches_header(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(value) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some(given) = value
            .strip_prefix("Token ")
            .or_else(|| value.strip_prefix("Bearer "))
        else {
            return false;
        };
        let (a, b) = (given.trim().as_bytes(), self.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }

    /// A fresh random token (local workers get it through their stdin).
    pub fn generate() -> Token {
        let bytes: [u8; 24] = rand::rng().random();
        Token(hex::encode(bytes))
    }

    /// The token itself: the key of the channel's proofs.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

/// Refuse to run off loopback without a token: `what` says which side and where.
pub fn require(loopback: bool, token: Option<&Token>, what: &str) -> Result<()> {
    if !loopback && token.is_none() {
        return Err(Error::Usage(format!(
            "{what} is not on loopback: set {ENV} or {FILE_ENV} (the same token on the manager and every worker)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_one_variable_or_a_file_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef-secret\n").unwrap();
        let t = Token::from_vars(None, Some(file.display().to_string()))
            .unwrap()
            .unwrap();
        assert_eq!(t.secret(), "0123456789abcdef-secret");
        assert_eq!(format!("{t:?}"), "Token(set)");
        assert_eq!(Token::from_vars(None, None).unwrap(), None);
        let short = Token::from_vars(Some("short".into()), None).unwrap_err();
        assert_eq!(short.exit_code(), crate::error::exit_code::USAGE);
        assert!(!short.to_string().contains("short"), "{short}");
        assert!(Token::from_vars(Some("a".repeat(20)), Some("x".into())).is_err());
        let missing = Token::from_vars(None, Some("/nonexistent/token".into())).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/token"));
    }

    #[test]
    fn off_loopback_a_token_is_required() {
        assert!(require(true, None, "the manager").is_ok());
        let e = require(false, None, "the manager's 0.0.0.0:7700").unwrap_err();
        assert!(e.to_string().contains(ENV), "{e}");
        assert!(require(false, Some(&Token::generate()), "x").is_ok());
        assert_ne!(Token::generate(), Token::generate());
    }
}
