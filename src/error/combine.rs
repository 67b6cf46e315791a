//! Why data files cannot be combined (`impact combine`).

use std::path::PathBuf;

/// Why data files cannot be combined.
#[derive(Debug, thiserror::Error)]
pub enum CombineError {
    #[error(
        "failed to combine {}: no such file; pass impact data files, e.g. the .impact.db each \
         shard wrote",
        path.display()
    )]
    NoSuchInput { path: PathBuf },
    #[error("failed to combine: no data files given; pass two or more")]
    NoInputs,
    #[error(
        "failed to combine {}: the recorded content of {path} (blob {blob}) is missing; record \
         that file again with `impact run --full`",
        input.display()
    )]
    MissingContent {
        input: PathBuf,
        path: String,
        blob: String,
    },
    /// Two shards recorded a file at different contents.
    #[error(
        "failed to combine {input}: {path} was recorded at different contents, at commit \
         {ours_commit} in {ours_file} and at commit {theirs_commit} in {input}; shards must run on \
         the same commit: run them again on one commit, or leave one of the files out",
        input = input.display()
    )]
    DifferentContents {
        input: PathBuf,
        path: String,
        ours_file: String,
        ours_commit: String,
        theirs_commit: String,
    },
}
