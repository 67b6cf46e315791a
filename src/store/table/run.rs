//! `impact_run` (one row per recording or import) and `impact_meta` (keys of
//! the data file), and the summary `impact status` prints.

use rusqlite::params;

use crate::store::{Store, StoreError, Writer};

/// What `impact status` reports about the data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub tests: i64,
    pub files: i64,
    pub line_bits_rows: i64,
    pub tests_needing_run: i64,
    pub tests_failed: i64,
    pub runs: i64,
    pub last_run: Option<RunRow>,
    /// Tests last recorded by `impact import`: no fixture closures, no units.
    pub tests_imported: i64,
}

/// What makes a run the same run in every data file that holds it: every
/// field of its row but the id (a shard's copy of the main file repeats its
/// runs; combine matches them by this).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    pub started_at: String,
    pub kind: String,
    pub commit: Option<String>,
    pub command: String,
    pub tests: i64,
    pub files: i64,
}

/// A row of `impact_run`: one recording or import, its id in this file,
/// and what `impact run --observe` found (JSON as stored).
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub key: RunKey,
    pub observation: Option<String>,
}

impl RunRow {
    /// The columns [`RunRow::from_row`] reads, in its order.
    pub(in crate::store) const COLUMNS: &str =
        "id, kind, started_at, commit_id, command, tests, files, observation";

    pub(in crate::store) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
        Ok(RunRow {
            id: r.get(0)?,
            key: RunKey {
                kind: r.get(1)?,
                started_at: r.get(2)?,
                commit: r.get(3)?,
                command: r.get(4)?,
                tests: r.get(5)?,
                files: r.get(6)?,
            },
            observation: r.get(7)?,
        })
    }

    /// What `--observe` found, parsed (`None` also when unreadable).
    pub fn observation_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.observation.as_deref()?).ok()
    }
}

/// As `impact status --format json` shows a run: its fields flat, the
/// observation parsed and left out when there is none.
impl serde::Serialize for RunRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let observation = self.observation_json();
        let k = &self.key;
        let mut st = s.serialize_struct("RunRow", 7 + usize::from(observation.is_some()))?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("kind", &k.kind)?;
        st.serialize_field("started_at", &k.started_at)?;
        st.serialize_field("commit", &k.commit)?;
        st.serialize_field("command", &k.command)?;
        st.serialize_field("tests", &k.tests)?;
        st.serialize_field("files", &k.files)?;
        if let Some(o) = &observation {
            st.serialize_field("observation", o)?;
        }
        st.end()
    }
}

/// One run-history row.
pub struct RunWrite<'a> {
    pub kind: &'a str,
    pub started_at: &'a str,
    pub commit: Option<&'a str>,
    pub command: &'a str,
    pub tests: i64,
    pub files: i64,
}

impl Store {
    /// Counts of what the data holds, and the last run.
    pub fn summary(&self) -> Result<Summary, StoreError> {
        let count = |sql: &str| -> Result<i64, StoreError> { self.sql().value(sql, []) };
        let last_run = self.last_run()?;
        Ok(Summary {
            tests: count("SELECT count(*) FROM impact_test")?,
            files: count("SELECT count(*) FROM impact_baseline")?,
            line_bits_rows: count("SELECT count(*) FROM line_bits")?,
            tests_needing_run: count("SELECT count(*) FROM impact_test WHERE needs_run")?,
            tests_failed: count(
                "SELECT count(*) FROM impact_test WHERE outcome IN ('failed', 'error')",
            )?,
            runs: count("SELECT count(*) FROM impact_run")?,
            last_run,
            tests_imported: self.imported_tests()?,
        })
    }

    /// Size of the data file in bytes, as SQLite accounts for it.
    pub fn size_bytes(&self) -> Result<i64, StoreError> {
        self.sql().value(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
        )
    }

    /// The most recent run.
    pub fn last_run(&self) -> Result<Option<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM impact_run ORDER BY id DESC LIMIT 1",
            RunRow::COLUMNS
        );
        self.sql().row(&sql, [], RunRow::from_row)
    }

    /// Whether anything was ever recorded.
    pub fn has_runs(&self) -> Result<bool, StoreError> {
        self.sql()
            .value("SELECT EXISTS (SELECT 1 FROM impact_run)", [])
    }

    /// A key of impact's metadata.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.sql()
            .row("SELECT value FROM impact_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
    }
}

impl Writer<'_> {
    /// Appends a row to the run history; returns its id.
    pub fn add_run(&mut self, run: &RunWrite<'_>) -> Result<i64, StoreError> {
        self.sql("write").exec(
            "INSERT INTO impact_run (kind, started_at, commit_id, command, tests, files)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run.kind,
                run.started_at,
                run.commit,
                run.command,
                run.tests,
                run.files
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Attaches what `impact run --observe` found to a run of the history.
    pub fn set_run_observation(&mut self, run_id: i64, json: &str) -> Result<(), StoreError> {
        self.sql("write").exec(
            "UPDATE impact_run SET observation = ?2 WHERE id = ?1",
            params![run_id, json],
        )?;
        Ok(())
    }

    /// Sets a key of impact's metadata.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.sql("write").exec(
            "INSERT INTO impact_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}
