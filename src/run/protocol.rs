//! What impact and its pytest plugin tell each other: the environment
//! variables `impact run` sets for the test command, the ones the plugin
//! sets for the processes tests start, and the selection file. The results
//! the plugin writes back are read in `results.rs`.
//!
//! The Python side (`impact_pytest.py`, `impact_child.py`, `impact_reads.py`,
//! `sitecustomize.py`) spells the same names; a unit test below checks that
//! both sides name exactly the variables listed here.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::shard::Shard;

/// Set by `impact run` for the test command.
pub mod env {
    /// The run's work directory: the plugin's results, child data.
    pub const OUT: &str = "IMPACT_OUT";
    /// The selection file ([`super::SelectionFile`]).
    pub const SELECTION: &str = "IMPACT_SELECTION";
    /// The repository root: recorded paths are relative to it.
    pub const ROOT: &str = "IMPACT_ROOT";
    /// `1` or `0`: note the files each test opens for reading. Also read
    /// from impact's own environment, over the config's `track_reads`.
    pub const TRACK_READS: &str = "IMPACT_TRACK_READS";
    /// Seconds between saves of a measured child process.
    pub const SAVE_INTERVAL: &str = "IMPACT_SAVE_INTERVAL";
    /// `:`-separated globs of files never measured (installed packages).
    pub const OMIT: &str = "IMPACT_OMIT";
    /// `sysmon` or `ctrace`: the line recorder. Also read from impact's own
    /// environment, to force one.
    pub const RECORDER: &str = "IMPACT_RECORDER";
}

/// Set by the plugin for the processes tests start (never by impact).
pub mod child_env {
    /// The parent run's work directory: a child measures itself into it.
    pub const CHILD_OUT: &str = "IMPACT_CHILD_OUT";
    /// The test (context) a child's lines belong to.
    pub const CONTEXT: &str = "IMPACT_CONTEXT";
    /// Where a child reads the current context from while it lives.
    pub const FOLLOW: &str = "IMPACT_FOLLOW";
}

/// Every variable of the protocol.
pub const ALL: &[&str] = &[
    env::OUT,
    env::SELECTION,
    env::ROOT,
    env::TRACK_READS,
    env::SAVE_INTERVAL,
    env::OMIT,
    env::RECORDER,
    child_env::CHILD_OUT,
    child_env::CONTEXT,
    child_env::FOLLOW,
];

/// `selection.json`: what the plugin lets pytest run.
#[derive(Debug, serde::Serialize)]
pub struct SelectionFile<'a> {
    /// `full`: everything runs (a shard still keeps its part); `selected`:
    /// only `tests`, and unknown tests (not in `known`).
    pub mode: &'static str,
    /// The selected test ids (a shard's part: exact ids).
    pub tests: Vec<&'a str>,
    /// Every test the data knows: a test not among them is new and runs.
    pub known: &'a [String],
    /// This shard: an unknown test runs here when its file hashes to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSpec>,
}

/// A shard as the plugin reads it.
#[derive(Debug, serde::Serialize)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl From<Shard> for ShardSpec {
    fn from(s: Shard) -> ShardSpec {
        ShardSpec {
            index: s.index,
            count: s.count,
        }
    }
}

impl SelectionFile<'_> {
    /// Writes it as `selection.json` in the run's work directory.
    pub fn write(&self, work: &Path) -> Result<PathBuf> {
        let path = work.join("selection.json");
        let text = serde_json::to_string(self).expect("a selection serialises");
        std::fs::write(&path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IMPACT_* names a Python source spells.
    fn names_in(text: &str) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for (i, _) in text.match_indices("IMPACT_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            out.insert(name);
        }
        out
    }

    #[test]
    fn both_sides_name_the_same_variables() {
        let mut python = std::collections::BTreeSet::new();
        for (_, text) in super::super::workdir::PYTHON_FILES {
            python.extend(names_in(text));
        }
        let ours: std::collections::BTreeSet<String> = ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(python, ours, "the plugin's variables and protocol::ALL");
    }

    #[test]
    fn the_selection_file_is_what_the_plugin_reads() {
        let known = vec!["t.py::a".to_string(), "t.py::b".to_string()];
        let file = SelectionFile {
            mode: "selected",
            tests: vec!["t.py::a"],
            known: &known,
            shard: None,
        };
        let json = serde_json::to_value(&file).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"mode": "selected", "tests": ["t.py::a"], "known": known})
        );
        let file = SelectionFile {
            shard: Some(ShardSpec { index: 2, count: 3 }),
            ..file
        };
        let json = serde_json::to_value(&file).unwrap();
        assert_eq!(json["shard"], serde_json::json!({"index": 2, "count": 3}));
    }
}
