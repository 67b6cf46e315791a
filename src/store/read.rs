//! Read queries: who ran what, what a test ran, what the data holds.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use rusqlite::params;

use super::{Store, StoreError, read_err};
use crate::numbits;

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

/// What the data knows about one test.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestInfo {
    pub nodeid: String,
    pub outcome: Option<String>,
    pub duration: Option<f64>,
    pub needs_run: bool,
}

/// Which lines ran at import, and during whose import (see
/// [`Store::import_time_of`]).
#[derive(Debug, Default)]
pub struct ImportTimeOf {
    /// Lines that ran at import outside any recorded test module's import
    /// (all of them where the data does not attribute them).
    pub outside: Vec<u32>,
    /// Per test module whose import ran some: (its path, those lines).
    pub by: Vec<(String, Vec<u32>)>,
}

/// A file's recorded lines for one context.
#[derive(Debug, Clone)]
pub struct FileLines {
    pub path: String,
    pub numbits: Vec<u8>,
}

impl Store {
    /// Counts of what the data holds, and the last run.
    pub fn summary(&self) -> Result<Summary, StoreError> {
        let err = read_err(&self.path);
        let count = |sql: &str| -> Result<i64, StoreError> {
            self.conn().query_row(sql, [], |r| r.get(0)).map_err(&err)
        };
        let last_run = self
            .conn()
            .query_row(
                "SELECT id, kind, started_at, commit_id, command, tests, files, observation
                 FROM impact_run ORDER BY id DESC LIMIT 1",
                [],
                run_info,
            )
            .optional()
            .map_err(&err)?;
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

    /// How many tests were last recorded by `impact import`.
    pub fn imported_tests(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM impact_test t JOIN impact_run r ON r.id = t.last_run
                 WHERE r.kind = 'import'",
                [],
                |r| r.get(0),
            )
            .map_err(read_err(&self.path))
    }

    /// The ids of the tests that started a program that is not Python (a
    /// shell, `env -i`), in which a Python process may have run unmeasured,
    /// or that may have: not recorded (coverage.py's data, older data).
    pub fn tests_maybe_spawning(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare("SELECT nodeid FROM impact_test WHERE spawns IS NULL OR spawns = 1")
            .map_err(&err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// The file id of a repository-relative path, when the data knows it.
    pub fn file_id(&self, path: &str) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row("SELECT id FROM file WHERE path = ?1", [path], |r| r.get(0))
            .optional()
            .map_err(read_err(&self.path))
    }

    /// Every measured path, sorted.
    pub fn paths(&self) -> Result<Vec<String>, StoreError> {
        self.strings("SELECT path FROM file ORDER BY path", [])
    }

    /// Every known test id, sorted.
    pub fn test_ids(&self) -> Result<Vec<String>, StoreError> {
        self.strings("SELECT nodeid FROM impact_test ORDER BY nodeid", [])
    }

    /// The tests whose recorded lines in `file_id` intersect `numbits`, sorted.
    pub fn tests_touching(&self, file_id: i64, numbits: &[u8]) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT c.context FROM line_bits lb JOIN context c ON c.id = lb.context_id
             WHERE lb.file_id = ?1 AND c.context != ''
               AND numbits_any_intersection(lb.numbits, ?2)
             ORDER BY c.context",
            params![file_id, numbits],
        )
    }

    /// Whether `numbits` intersects the lines recorded at import time (the
    /// empty context) in `file_id`.
    pub fn import_time_touches(&self, file_id: i64, numbits: &[u8]) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM line_bits lb JOIN context c ON c.id = lb.context_id
                 WHERE lb.file_id = ?1 AND c.context = ''
                   AND numbits_any_intersection(lb.numbits, ?2)",
                params![file_id, numbits],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(read_err(&self.path))
    }

    /// Which of `numbits`' lines of a file ran at import, and whose import
    /// ran them: the lines of each recorded module ("" for none) among
    /// them. Lines that ran at import but have no module count for none.
    pub fn import_time_of(&self, file_id: i64, numbits: &[u8]) -> Result<ImportTimeOf, StoreError> {
        let err = read_err(&self.path);
        let ran: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT numbits_intersection(lb.numbits, ?2) FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 WHERE lb.file_id = ?1 AND c.context = ''",
                params![file_id, numbits],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let ran = ran.map(|b| numbits::decode(&b)).unwrap_or_default();
        let mut out = ImportTimeOf::default();
        if ran.is_empty() {
            return Ok(out);
        }
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT module, numbits_intersection(numbits, ?2) FROM impact_import_by
                 WHERE file_id = ?1 AND numbits_any_intersection(numbits, ?2)",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![file_id, numbits], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(&err)?;
        let mut explained = std::collections::BTreeSet::new();
        for row in rows {
            let (module, bits) = row.map_err(&err)?;
            let lines = numbits::decode(&bits);
            explained.extend(lines.iter().copied());
            if module.is_empty() {
                out.outside.extend(lines);
            } else {
                out.by.push((module, lines));
            }
        }
        out.outside
            .extend(ran.into_iter().filter(|l| !explained.contains(l)));
        out.outside.sort_unstable();
        out.outside.dedup();
        Ok(out)
    }

    /// The test's record, when the data knows it.
    pub fn test(&self, nodeid: &str) -> Result<Option<TestInfo>, StoreError> {
        self.conn()
            .query_row(
                "SELECT nodeid, outcome, duration, needs_run FROM impact_test WHERE nodeid = ?1",
                [nodeid],
                |r| {
                    Ok(TestInfo {
                        nodeid: r.get(0)?,
                        outcome: r.get(1)?,
                        duration: r.get(2)?,
                        needs_run: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(read_err(&self.path))
    }

    /// Lines recorded under a context label (a test id, or "" for import time),
    /// by path.
    pub fn context_lines(&self, context: &str) -> Result<Vec<FileLines>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT f.path, lb.numbits FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 JOIN file f ON f.id = lb.file_id
                 WHERE c.context = ?1 ORDER BY f.path",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([context], |r| {
                Ok(FileLines {
                    path: r.get(0)?,
                    numbits: r.get(1)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// The stored string tokens of each of `blob_ids` that has them.
    pub fn quoted(&self, blob_ids: &[&str]) -> Result<BTreeMap<String, String>, StoreError> {
        let err = read_err(&self.path);
        let wanted: std::collections::HashSet<&str> = blob_ids.iter().copied().collect();
        // One pass over the table (it holds test-side files only) instead of
        // a query per file.
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT blob_id, tokens FROM impact_quoted")
            .map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        let mut out = BTreeMap::new();
        while let Some(row) = rows.next().map_err(&err)? {
            let blob: String = row.get(0).map_err(&err)?;
            if wanted.contains(blob.as_str()) {
                out.insert(blob, row.get(1).map_err(&err)?);
            }
        }
        Ok(out)
    }

    /// The baseline blob id of every measured file, by path.
    pub fn baselines(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT f.path, b.blob_id FROM impact_baseline b JOIN file f ON f.id = b.file_id",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Those of `blob_ids` whose words are stored (see migration 13).
    pub fn side_indexed(
        &self,
        blob_ids: &[&str],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let wanted: std::collections::HashSet<&str> = blob_ids.iter().copied().collect();
        // One pass: the table holds test-side contents only.
        Ok(self
            .strings("SELECT blob_id FROM impact_side_indexed", [])?
            .into_iter()
            .filter(|b| wanted.contains(b.as_str()))
            .collect())
    }

    /// Where the stored test-side contents hold `word`: (blob id, numbits
    /// of the lines).
    pub fn side_word(&self, word: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT blob_id, numbits FROM impact_side_word WHERE word = ?1")
            .map_err(&err)?;
        let rows = stmt
            .query_map([word], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// The stored classification of a test-side content at `path`, if it
    /// is of `version` (see migration 14).
    pub fn side_mentions(
        &self,
        blob_id: &str,
        path: &str,
        version: i64,
    ) -> Result<Option<String>, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT mentions FROM impact_side_mentions
                 WHERE blob_id = ?1 AND path = ?2 AND version = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![blob_id, path, version], |r| r.get(0))
                    .optional()
            })
            .map_err(read_err(&self.path))
    }

    /// What the mentions of `word` denote, per stored test-side content and
    /// path: (blob id, path, targets as stored).
    pub fn side_targets(&self, word: &str) -> Result<Vec<(String, String, String)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT blob_id, path, targets FROM impact_side_target WHERE word = ?1")
            .map_err(&err)?;
        let rows = stmt
            .query_map([word], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// The stored outline of a content (see migration 9), if any.
    pub fn outline(&self, blob_id: &str) -> Result<Option<String>, StoreError> {
        self.by_blob(
            "SELECT outline FROM impact_outline WHERE blob_id = ?1",
            blob_id,
        )
    }

    /// The stored content of a baseline.
    pub fn source(&self, blob_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.by_blob(
            "SELECT content FROM impact_source WHERE blob_id = ?1",
            blob_id,
        )
    }

    /// The one column `sql` selects for a blob id, if there is a row.
    fn by_blob<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        blob_id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.conn()
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([blob_id], |r| r.get(0)).optional())
            .map_err(read_err(&self.path))
    }

    /// Size of the data file in bytes, as SQLite accounts for it.
    pub fn size_bytes(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get(0),
            )
            .map_err(read_err(&self.path))
    }

    fn strings<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<String>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self.conn().prepare_cached(sql).map_err(&err)?;
        let rows = stmt.query_map(params, |r| r.get(0)).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }
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

/// A name carried by code naming another, with the lines of the statements
/// that carry it (`None` in facts recorded before they were).
pub type Carried = (String, Option<Vec<u8>>);

/// A test as selection sees it.
#[derive(Debug, Clone)]
pub struct TestRow {
    pub nodeid: String,
    pub outcome: Option<String>,
    pub duration: Option<f64>,
    pub needs_run: bool,
}

impl Store {
    /// Every known test, sorted by id.
    pub fn tests(&self) -> Result<Vec<TestRow>, StoreError> {
        let err = read_err(&self.path);
        // Read in table order and sorted here: ordering by the id index
        // would visit the table's pages in random order.
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT nodeid, outcome, duration, needs_run FROM impact_test")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TestRow {
                    nodeid: r.get(0)?,
                    outcome: r.get(1)?,
                    duration: r.get(2)?,
                    needs_run: r.get(3)?,
                })
            })
            .map_err(&err)?;
        let mut tests: Vec<TestRow> = rows.collect::<Result<_, _>>().map_err(&err)?;
        tests.sort_unstable_by(|a, b| a.nodeid.cmp(&b.nodeid));
        Ok(tests)
    }

    /// Tests whose recorded lines in `file_id` intersect `numbits`, each with
    /// the intersecting lines (as numbits). Import-time data is left out.
    pub fn tests_intersecting(
        &self,
        file_id: i64,
        numbits: &[u8],
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT c.context, numbits_intersection(lb.numbits, ?2) FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 WHERE lb.file_id = ?1 AND c.context != ''
                   AND numbits_any_intersection(lb.numbits, ?2)",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![file_id, numbits], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Every test's recorded lines in `file_id` (numbits), import-time data
    /// left out.
    pub fn file_lines(&self, file_id: i64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT c.context, lb.numbits FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 WHERE lb.file_id = ?1 AND c.context != ''",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([file_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Files with lines referencing `name`: (file id, path, numbits of those lines).
    pub fn references(&self, name: &str) -> Result<Vec<(i64, String, Vec<u8>)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT r.file_id, f.path, r.numbits FROM impact_ref r
                 JOIN file f ON f.id = r.file_id WHERE r.name = ?1",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// For `name`, the lines of each file whose references to it denote one
    /// known object: (file id, target, numbits); see migration 11.
    pub fn ref_targets(&self, name: &str) -> Result<Vec<(i64, String, Vec<u8>)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT file_id, target, numbits FROM impact_ref_target WHERE name = ?1",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// The files that define `name` themselves (see migration 11).
    pub fn defining(&self, name: &str) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT f.path FROM impact_own o JOIN file f ON f.id = o.file_id WHERE o.name = ?1",
            [name],
        )
    }

    /// Every (importing path, imported module name) pair.
    pub fn imports(&self) -> Result<Vec<(String, String)>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT f.path, i.module FROM impact_import i JOIN file f ON f.id = i.file_id",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Tests skipped by a selection since the last full run, with the note of
    /// the change in effect when they were first skipped.
    pub fn skipped_since_full(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare("SELECT nodeid, coalesce(skipped_note, '') FROM impact_test WHERE skipped_since_full")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
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

    /// The paths of the files whose facts were computed at record time
    /// (for the others, what their statements carry is not stored).
    pub fn facts_paths(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        Ok(self
            .strings(
                "SELECT f.path FROM impact_facts x JOIN file f ON f.id = x.file_id",
                [],
            )?
            .into_iter()
            .collect())
    }

    /// What the statements naming `name` carry it into, per file with facts:
    /// path -> (carried name, lines of the carrying statements or NULL).
    pub fn carried(&self, name: &str) -> Result<BTreeMap<String, Vec<Carried>>, StoreError> {
        let err = read_err(&self.path);
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT f.path, c.carried, c.numbits FROM impact_carry c JOIN file f ON f.id = c.file_id
                 WHERE c.name = ?1",
            )
            .map_err(&err)?;
        let mut out: BTreeMap<String, Vec<Carried>> = BTreeMap::new();
        let rows = stmt
            .query_map([name], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(&err)?;
        for row in rows {
            let (path, carried, bits) = row.map_err(&err)?;
            out.entry(path).or_default().push((carried, bits));
        }
        Ok(out)
    }

    /// The most recent run.
    pub fn last_run(&self) -> Result<Option<RunInfo>, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, kind, started_at, commit_id, command, tests, files, observation
                 FROM impact_run ORDER BY id DESC LIMIT 1",
                [],
                run_info,
            )
            .optional()
            .map_err(read_err(&self.path))
    }

    /// Whether anything was ever recorded.
    pub fn has_runs(&self) -> Result<bool, StoreError> {
        self.conn()
            .query_row("SELECT EXISTS (SELECT 1 FROM impact_run)", [], |r| r.get(0))
            .map_err(read_err(&self.path))
    }

    /// A key of impact's metadata.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row("SELECT value FROM impact_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(read_err(&self.path))
    }

    /// The tests that ran any line of `file_id` (import time left out).
    pub fn tests_in_file(&self, file_id: i64) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT c.context FROM line_bits lb JOIN context c ON c.id = lb.context_id
             WHERE lb.file_id = ?1 AND c.context != '' AND length(lb.numbits) > 0
             ORDER BY c.context",
            [file_id],
        )
    }
}
