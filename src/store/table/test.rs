//! The per-test tables: `impact_test` (outcome, duration, whether it must run),
//! the fixtures each test used (`impact_test_fixture`) and the files tests and
//! collectors read (`impact_test_read`, `impact_scope_read`).

use std::collections::BTreeMap;

use rusqlite::params;

use crate::store::{Store, StoreError, Writer};

/// A row of `impact_test`: what the data knows about one test.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestRow {
    pub nodeid: String,
    pub outcome: Option<String>,
    pub duration: Option<f64>,
    pub needs_run: bool,
    /// Last recorded by `impact import` (coverage.py's data, without
    /// fixture closures or memoised-call units).
    pub imported: bool,
}

impl TestRow {
    // The subquery is not correlated: SQLite runs it once, into a lookup.
    const COLUMNS: &str = "nodeid, outcome, duration, needs_run,
        last_run IN (SELECT id FROM impact_run WHERE kind = 'import')";

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TestRow> {
        Ok(TestRow {
            nodeid: r.get(0)?,
            outcome: r.get(1)?,
            duration: r.get(2)?,
            needs_run: r.get(3)?,
            imported: r.get(4)?,
        })
    }
}

/// One test's fresh recording.
pub struct TestWrite<'a> {
    pub nodeid: &'a str,
    pub outcome: Option<&'a str>,
    pub duration: Option<f64>,
    /// (file id, numbits) pairs.
    pub lines: &'a [(i64, Vec<u8>)],
    /// Started a program that is not Python; `None`: not recorded.
    pub spawns: Option<bool>,
}

impl Store {
    /// How many tests were last recorded by `impact import`.
    pub fn imported_tests(&self) -> Result<i64, StoreError> {
        self.sql().value(
            "SELECT count(*) FROM impact_test t JOIN impact_run r ON r.id = t.last_run
             WHERE r.kind = 'import'",
            [],
        )
    }

    /// The ids of the tests that started a program that is not Python (a
    /// shell, `env -i`), in which a Python process may have run unmeasured,
    /// or that may have: not recorded (coverage.py's data, older data).
    pub fn tests_maybe_spawning(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.sql().rows(
            "SELECT nodeid FROM impact_test WHERE spawns IS NULL OR spawns = 1",
            [],
            |r| r.get(0),
        )
    }

    /// Every known test id, sorted.
    pub fn test_ids(&self) -> Result<Vec<String>, StoreError> {
        self.strings("SELECT nodeid FROM impact_test ORDER BY nodeid", [])
    }

    /// The test's record, when the data knows it.
    pub fn test(&self, nodeid: &str) -> Result<Option<TestRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM impact_test WHERE nodeid = ?1",
            TestRow::COLUMNS
        );
        self.sql().row(&sql, [nodeid], TestRow::from_row)
    }

    /// Every known test, sorted by id.
    pub fn tests(&self) -> Result<Vec<TestRow>, StoreError> {
        // Read in table order and sorted here: ordering by the id index
        // would visit the table's pages in random order.
        let sql = format!("SELECT {} FROM impact_test", TestRow::COLUMNS);
        let mut tests: Vec<TestRow> = self.sql().rows(&sql, [], TestRow::from_row)?;
        tests.sort_unstable_by(|a, b| a.nodeid.cmp(&b.nodeid));
        Ok(tests)
    }

    /// Tests skipped by a selection since the last full run, with the note of
    /// the change in effect when they were first skipped.
    pub fn skipped_since_full(&self) -> Result<BTreeMap<String, String>, StoreError> {
        self.sql().rows(
            "SELECT nodeid, coalesce(skipped_note, '') FROM impact_test WHERE skipped_since_full",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Tests that used a fixture of this name.
    pub fn fixture_users(&self, fixture: &str) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT t.nodeid FROM impact_test_fixture f JOIN impact_test t ON t.id = f.test_id
             WHERE f.fixture = ?1 ORDER BY t.nodeid",
            [fixture],
        )
    }

    /// Tests recorded reading the repository file `path`, sorted.
    pub fn readers(&self, path: &str) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT t.nodeid FROM impact_test_read r JOIN impact_test t ON t.id = r.test_id
             WHERE r.path = ?1 ORDER BY t.nodeid",
            [path],
        )
    }

    /// Scopes recorded reading `path` outside tests: collector node ids, and
    /// "" for reads outside any test and collector. Sorted.
    pub fn scope_readers(&self, path: &str) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT scope FROM impact_scope_read WHERE path = ?1 ORDER BY scope",
            [path],
        )
    }

    /// The files a test was recorded reading, sorted.
    pub fn reads_of(&self, nodeid: &str) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT r.path FROM impact_test_read r JOIN impact_test t ON t.id = r.test_id
             WHERE t.nodeid = ?1 ORDER BY r.path",
            [nodeid],
        )
    }

    /// Every file recorded as read by a test or in a scope, sorted.
    pub fn read_paths(&self) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT path FROM impact_test_read UNION SELECT path FROM impact_scope_read ORDER BY 1",
            [],
        )
    }
}

impl Writer<'_> {
    /// Replaces everything known about a test with a fresh recording.
    pub fn replace_test(&mut self, test: &TestWrite<'_>, run_id: i64) -> Result<(), StoreError> {
        let context_id = self.context_id(test.nodeid)?;
        let sql = self.sql("write");
        sql.exec("DELETE FROM line_bits WHERE context_id = ?1", [context_id])?;
        for (file_id, bits) in test.lines {
            if !bits.is_empty() {
                sql.exec(
                    "INSERT INTO line_bits (file_id, context_id, numbits) VALUES (?1, ?2, ?3)",
                    params![file_id, context_id, bits],
                )?;
            }
        }
        sql.exec(
            "INSERT INTO impact_test (nodeid, outcome, duration, needs_run, last_run, spawns)
             VALUES (?1, ?2, ?3, 0, ?4, ?5)
             ON CONFLICT (nodeid) DO UPDATE SET outcome = excluded.outcome,
               duration = excluded.duration, needs_run = 0, last_run = excluded.last_run,
               spawns = excluded.spawns",
            params![
                test.nodeid,
                test.outcome,
                test.duration,
                run_id,
                test.spawns
            ],
        )?;
        Ok(())
    }

    /// Marks tests as needing a run: their data is stale or incomplete.
    pub fn mark_needs_run(&mut self, nodeids: &[String]) -> Result<(), StoreError> {
        let sql = self.sql("write");
        for id in nodeids {
            sql.exec(
                "UPDATE impact_test SET needs_run = 1 WHERE nodeid = ?1",
                [id],
            )?;
        }
        Ok(())
    }

    /// Marks tests a selection skipped; the first note since the last full run stays.
    pub fn mark_skipped(&mut self, nodeids: &[String], note: &str) -> Result<(), StoreError> {
        let sql = self.sql("write");
        for id in nodeids {
            sql.exec(
                "UPDATE impact_test SET skipped_note = CASE WHEN skipped_since_full THEN skipped_note ELSE ?2 END,
                   skipped_since_full = 1 WHERE nodeid = ?1",
                params![id, note],
            )?;
        }
        Ok(())
    }

    /// After a full run: nothing has been skipped since.
    pub fn clear_skipped(&mut self) -> Result<(), StoreError> {
        self.sql("write").exec(
            "UPDATE impact_test SET skipped_since_full = 0, skipped_note = NULL",
            [],
        )?;
        Ok(())
    }

    /// Replaces the fixtures a test used.
    pub fn replace_fixtures(
        &mut self,
        nodeid: &str,
        fixtures: &[String],
    ) -> Result<(), StoreError> {
        self.replace_test_rows(
            nodeid,
            "DELETE FROM impact_test_fixture WHERE test_id = ?1",
            "INSERT OR IGNORE INTO impact_test_fixture (test_id, fixture) VALUES (?1, ?2)",
            fixtures,
        )
    }

    /// Replaces the files a test read.
    pub fn replace_reads(&mut self, nodeid: &str, paths: &[String]) -> Result<(), StoreError> {
        self.replace_test_rows(
            nodeid,
            "DELETE FROM impact_test_read WHERE test_id = ?1",
            "INSERT OR IGNORE INTO impact_test_read (test_id, path) VALUES (?1, ?2)",
            paths,
        )
    }

    /// Replaces a test's rows of a (test_id, value) table: `delete` and
    /// `insert` are that table's statements.
    pub(in crate::store) fn replace_test_rows(
        &mut self,
        nodeid: &str,
        delete: &str,
        insert: &str,
        values: &[String],
    ) -> Result<(), StoreError> {
        let sql = self.sql("write");
        let test_id: i64 = sql.value("SELECT id FROM impact_test WHERE nodeid = ?1", [nodeid])?;
        sql.exec(delete, [test_id])?;
        for v in values {
            sql.exec(insert, params![test_id, v])?;
        }
        Ok(())
    }

    /// Records the files read in a scope (a collector's node id, or "" for
    /// outside any test and collector); with `replace`, they are all it read.
    pub fn set_scope_reads(
        &mut self,
        scope: &str,
        paths: &[String],
        replace: bool,
    ) -> Result<(), StoreError> {
        let sql = self.sql("write");
        if replace {
            sql.exec("DELETE FROM impact_scope_read WHERE scope = ?1", [scope])?;
        }
        for p in paths {
            sql.exec(
                "INSERT OR IGNORE INTO impact_scope_read (scope, path) VALUES (?1, ?2)",
                params![scope, p],
            )?;
        }
        Ok(())
    }

    /// Forgets tests and their lines.
    pub fn remove_tests(&mut self, nodeids: &[String]) -> Result<(), StoreError> {
        let sql = self.sql("write");
        for id in nodeids {
            for statement in [
                "DELETE FROM line_bits WHERE context_id IN (SELECT id FROM context WHERE context = ?1)",
                "DELETE FROM context WHERE context = ?1",
                "DELETE FROM impact_test_fixture WHERE test_id IN (SELECT id FROM impact_test WHERE nodeid = ?1)",
                "DELETE FROM impact_test_read WHERE test_id IN (SELECT id FROM impact_test WHERE nodeid = ?1)",
                "DELETE FROM impact_test WHERE nodeid = ?1",
            ] {
                sql.exec(statement, [id])?;
            }
        }
        Ok(())
    }
}
