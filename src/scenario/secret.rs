//! Secrets (passwords, tokens): read from an environment variable or a file named
//! in the scenario, never from the command line, and never printed.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; only [`Secret::expose`] gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that puts it in a request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable's name.
    Env(String),
    /// A file's path (its content, trailing newline removed).
    File(std::path::PathBuf),
}

impl SecretSource {
    /// Read the secret. The error names the variable or file, never a value.
    pub fn read(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                // `NAME_FILE` naming a file (a systemd credential, a mounted
                // Kubernetes Secret), the convention of container images.
                _ if std::env::var_os(format!("{name}_FILE")).is_some_and(|f| !f.is_empty()) => {
                    let file = std::env::var_os(format!("{name}_FILE")).unwrap_or_default();
                    SecretSource::File(file.into())
                        .read()
                        .map_err(|e| format!("{e} (named by `{name}_FILE`)"))
                }
                Ok(_) => Err(format!(
                    "environment variable `{name}` is empty (and `{name}_FILE` is not set)"
                )),
                Err(_) => Err(format!(
                    "environment variable `{name}` is not set (nor `{name}_FILE`, naming a file)"
                )),
            },
            SecretSource::File(path) => {
                let shown = path.display();
                let bytes =
                    super::file::read_capped(path, super::file::MAX_SECRET_BYTES, "secret file")
                        .map_err(|why| format!("secret file `{shown}`: {why}"))?;
                // Never echo a byte of it: only where the first bad one is.
                let text = super::file::utf8(bytes).map_err(|(line, column, _)| {
                    format!("secret file `{shown}` is not UTF-8 (line {line}, column {column})")
                })?;
                Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_secrets_lose_their_newline_and_errors_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        assert_eq!(SecretSource::File(path).read().unwrap().expose(), "abc");
        let e = SecretSource::Env("DASHLOAD_TEST_SURELY_UNSET".into())
            .read()
            .unwrap_err();
        assert!(e.contains("DASHLOAD_TEST_SURELY_UNSET"));
    }

    #[test]
    fn an_unset_variable_falls_back_to_the_file_its_file_variable_names() {
        // Names no other test uses: tests run in threads of one process.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::env::set_var("DASHLOAD_TEST_FILE_FALLBACK_FILE", &path);
        let got = SecretSource::Env("DASHLOAD_TEST_FILE_FALLBACK".into()).read();
        std::env::set_var(
            "DASHLOAD_TEST_FILE_FALLBACK_MISSING_FILE",
            dir.path().join("nope"),
        );
        let missing = SecretSource::Env("DASHLOAD_TEST_FILE_FALLBACK_MISSING".into()).read();
        assert_eq!(got.unwrap().expose(), "s3cret");
        let e = missing.unwrap_err();
        assert!(
            e.contains("named by `DASHLOAD_TEST_FILE_FALLBACK_MISSING_FILE`"),
            "{e}"
        );
    }
}
