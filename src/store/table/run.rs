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
    pub last_run: Option<RunInfo>,
    /// Tests last recorded by `impact import`: no fixture closures, no units.
    pub tests_imported: i64,
}

/// One row of the run history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    pub commit: Option<String>,
    pub command: String,
    pub tests: i64,
    pub files: i64,
    /// What `impact run --observe` found in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<serde_json::Value>,
}

fn run_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunInfo> {
    Ok(RunInfo {
        id: r.get(0)?,
        kind: r.get(1)?,
        started_at: r.get(2)?,
        commit: r.get(3)?,
        command: r.get(4)?,
        tests: r.get(5)?,
        files: r.get(6)?,
        observation: r
            .get::<_, Option<String>>(7)?
            .and_then(|j| serde_json::from_str(&j).ok()),
    })
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
    pub fn last_run(&self) -> Result<Option<RunInfo>, StoreError> {
        self.sql().row(
            "SELECT id, kind, started_at, commit_id, command, tests, files, observation
                 FROM impact_run ORDER BY id DESC LIMIT 1",
            [],
            run_info,
        )
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
