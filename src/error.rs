//! One error type for the whole program, and the exit codes it maps to.
//!
//! Every failure a user can cause or meet has a variant here, so `main` can turn
//! it into the documented exit code (DESIGN.md, "Exit codes") without guessing.

use std::path::PathBuf;

/// Exit codes, as documented in the book (docs/src/exit-codes.md).
pub mod exit_code {
    /// Every SLO held.
    pub const OK: u8 = 0;
    /// An SLO failed.
    pub const SLO_FAILED: u8 = 1;
    /// Bad usage or configuration: nothing was sent.
    pub const USAGE: u8 = 2;
    /// A regression against the baseline run.
    pub const REGRESSION: u8 = 3;
    /// The target could not be reached at start.
    pub const UNREACHABLE: u8 = 4;
    /// A signal (Ctrl-C, SIGTERM, SIGHUP) cut the run short: 128 + SIGINT, the
    /// shells' convention. The run folder, if any, is finished and marked interrupted.
    pub const INTERRUPTED: u8 = 130;
}

/// Everything that can stop dashload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario (or a file it names) is invalid; `location` is `file:line:column`.
    #[error("{location}: {message}")]
    Config {
        /// `file:line:column` (or just the file).
        location: String,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// Bad command-line usage that clap could not catch.
    #[error("{0}")]
    Usage(String),
    /// The target did not answer, or refused us, before the run started.
    #[error("target unreachable: {0}")]
    Unreachable(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A signal stopped dashload before the load started; says what was not done.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// A run folder or report input is unusable.
    #[error("{0}")]
    Report(String),
    /// Goose refused the configuration or failed.
    #[error("goose: {0}")]
    Goose(String),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<goose::GooseError> for Error {
    fn from(e: goose::GooseError) -> Self {
        // Goose's Display drops the detail of invalid options; keep it. An invalid
        // option is bad usage: Goose refuses it before sending anything.
        match e {
            goose::GooseError::InvalidOption {
                option,
                value,
                detail,
            } => Error::Usage(format!("goose option {option} = {value:?}: {detail}")),
            other => Error::Goose(other.to_string()),
        }
    }
}

impl Error {
    /// A configuration error at `file:line:column`.
    pub fn config(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            location: location.into(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. } | Error::Usage(_) => exit_code::USAGE,
            Error::Unreachable(_) => exit_code::UNREACHABLE,
            Error::Interrupted(_) => exit_code::INTERRUPTED,
            Error::Io { .. } | Error::Report(_) | Error::Goose(_) | Error::Other(_) => {
                exit_code::USAGE
            }
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
