//! The one error type at the command-line boundary, and the exit codes it maps to.
//!
//! Every failure a user can meet is a variant here with a message that names the
//! thing (a path, a test id, a revision) and, where there is one, the fix. Messages
//! are lowercase fragments that read well after "error: "; causes are printed
//! below them by `main`.

use std::path::PathBuf;

use crate::git::GitError;
use crate::store::StoreError;

mod combine;
mod probe;

pub use combine::CombineError;
pub use probe::ProbeError;

/// Documented exit codes (README "Exit codes").
pub mod exit_codes {
    /// Success. For `select`: a selection (possibly empty) was made.
    pub const OK: i32 = 0;
    /// Bad input: a usage error, unknown test or path, a corrupt, foreign or
    /// too-new data file, a malformed config or coverage file, not a git repo.
    pub const BAD_INPUT: i32 = 2;
    /// An unexpected failure (I/O, SQLite): a bug or a broken environment.
    pub const INTERNAL: i32 = 3;
    /// `impact select`: the verdict is "run everything" (reasons on stderr).
    pub const FULL_RUN: i32 = 10;
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),

    /// The configuration is malformed.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// The data file could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A command-line value is invalid.
    #[error("{0}")]
    Usage(String),

    /// A revision given (or needed as a baseline) is not in the repository.
    #[error(
        "revision `{rev}` does not exist in {}; pass a branch, tag or commit that `git rev-parse` \
         knows (in a shallow clone, fetch it first: `git fetch --depth=1 origin {rev}`)",
        root.display()
    )]
    UnknownRevision { rev: String, root: PathBuf },

    /// The test command's interpreter cannot record (see [`ProbeError`]).
    #[error(transparent)]
    Python(#[from] ProbeError),

    /// The test command could not be started.
    #[error(
        "failed to start `{command}`; pass the test command after `--`, e.g. \
         `impact run -- python -m pytest`"
    )]
    Launch {
        command: String,
        #[source]
        source: std::io::Error,
    },

    /// Data files cannot be combined (see [`CombineError`]).
    #[error(transparent)]
    Combine(#[from] CombineError),

    /// `impact show` was given a test id the data does not hold.
    #[error("unknown test id `{id}`{hint}")]
    UnknownTest { id: String, hint: String },

    /// `impact who` was given a path the data does not hold.
    #[error("no recorded data for `{path}`{hint}")]
    UnknownPath { path: String, hint: String },

    /// A coverage.py data file cannot be imported.
    #[error("failed to import {}: {reason}", path.display())]
    Import { path: PathBuf, reason: String },

    /// A coverage.py data file cannot be read for `impact import`.
    #[error("failed to import {}: {reason}", path.display())]
    CoverageFile {
        path: PathBuf,
        reason: crate::store::CoverageFileError,
    },

    /// The data file holds no data at all.
    #[error("no data in {} yet (record some with `impact import .coverage` or `impact run`)", path.display())]
    NoData { path: PathBuf },

    /// A run's results could not be merged into the data file; they are
    /// kept for `impact merge-pending`.
    #[error(
        "failed to merge the results of this run into {}; they are kept in {}: once the cause \
         below is fixed, `impact merge-pending` merges them",
        db.display(),
        kept.display()
    )]
    NotMerged {
        db: PathBuf,
        kept: PathBuf,
        #[source]
        cause: Cause,
    },

    /// Writing output or a file failed.
    #[error("failed to write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Store(e) if e.is_internal() => exit_codes::INTERNAL,
            Error::Write { .. } | Error::NotMerged { .. } => exit_codes::INTERNAL,
            _ => exit_codes::BAD_INPUT,
        }
    }
}

/// An error's message and its causes, as text: for a cause that must
/// outlive the error (or a panic) it came from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Cause(pub String);

impl Cause {
    pub fn of(error: &dyn std::error::Error) -> Cause {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        Cause(text)
    }
}

/// Result of a command.
pub type Result<T, E = Error> = std::result::Result<T, E>;
