//! The SQL of `impact combine`: another data file attached as `src`, read and
//! copied into this one inside one write transaction.
//!
//! The decisions (which test's recording is newer, which baseline a file
//! keeps, whether two inputs conflict) are made by [`crate::record::combine`]; this
//! module only answers its questions and copies rows, mapping file, context
//! and run ids by path, label and run identity, since every file numbers them
//! its own way.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::params;

use super::query::Sql;
use super::{RunRow, Store, StoreError, Writer};

/// A test of either file and the run its recording comes from.
#[derive(Debug, Clone)]
pub struct TestVersion {
    pub nodeid: String,
    pub last_run: Option<i64>,
}

/// Which database a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The file being written.
    Out,
    /// The attached input.
    Src,
}

impl Side {
    fn schema(self) -> &'static str {
        match self {
            Side::Out => "main",
            Side::Src => "src",
        }
    }
}

impl Store {
    /// Turns off the rollback journal and syncing: for a scratch copy that
    /// is renamed into place only when everything succeeded (and deleted
    /// otherwise), the journal would only double the writes.
    pub fn scratch_mode(&self) -> Result<(), StoreError> {
        Sql::new(&self.conn, &self.path, "configure")
            .batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
    }

    /// Runs `f` with the data file at `src` attached as `src` (only read).
    /// The caller has validated `src` (opened it as a [`Store`]).
    pub fn with_attached<T, E>(
        &mut self,
        src: &Path,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        Sql::new(&self.conn, src, "attach")
            .exec("ATTACH DATABASE ?1 AS src", [src.to_string_lossy()])?;
        let result = f(self);
        let detached = Sql::new(&self.conn, src, "detach").exec("DETACH DATABASE src", []);
        let value = result?;
        detached?;
        Ok(value)
    }
}

impl Writer<'_> {
    /// The run history of one side.
    pub fn runs_of(&self, side: Side) -> Result<Vec<RunRow>, StoreError> {
        let sql = self.sql("combine into");
        sql.rows(
            &format!(
                "SELECT {} FROM {}.impact_run ORDER BY id",
                RunRow::COLUMNS,
                side.schema()
            ),
            [],
            RunRow::from_row,
        )
    }

    /// Appends a run of the input to this file's history; returns its id here.
    pub fn copy_run(&mut self, run: &RunRow) -> Result<i64, StoreError> {
        self.sql("combine into").exec("INSERT INTO impact_run (kind, started_at, commit_id, command, tests, files, observation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run.key.kind,
                    run.key.started_at,
                    run.key.commit,
                    run.key.command,
                    run.key.tests,
                    run.key.files,
                    run.observation
                ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Every test of one side and the run its recording comes from.
    pub fn tests_of(&self, side: Side) -> Result<Vec<TestVersion>, StoreError> {
        let sql = self.sql("combine into");
        sql.rows(
            &format!("SELECT nodeid, last_run FROM {}.impact_test", side.schema()),
            [],
            |r| {
                Ok(TestVersion {
                    nodeid: r.get(0)?,
                    last_run: r.get(1)?,
                })
            },
        )
    }

    /// Baseline blob ids by path, of one side.
    pub fn baselines_of(&self, side: Side) -> Result<BTreeMap<String, String>, StoreError> {
        let sql = self.sql("combine into");
        let s = side.schema();
        sql.rows(&format!(
                "SELECT f.path, b.blob_id FROM {s}.impact_baseline b JOIN {s}.file f ON f.id = b.file_id"
            ), [], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    /// Stored content of a blob on one side.
    pub fn source_of(&self, side: Side, blob_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.sql("combine into").row(
            &format!(
                "SELECT content FROM {}.impact_source WHERE blob_id = ?1",
                side.schema()
            ),
            [blob_id],
            |r| r.get(0),
        )
    }

    /// Replaces the contents of a temporary list of test ids (`take`: the
    /// tests whose recording comes from the input; `keep_fresh`: tests of this
    /// file recorded by runs the input does not know).
    pub fn set_list(&mut self, name: ListName, ids: &[&str]) -> Result<(), StoreError> {
        let sql = self.sql("combine into");
        let table = name.table();
        sql.batch(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {table} (nodeid text primary key);
             DELETE FROM {table};"
        ))?;
        let insert = format!("INSERT OR IGNORE INTO {table} (nodeid) VALUES (?1)");
        for id in ids {
            sql.exec(&insert, [id])?;
        }
        Ok(())
    }

    /// One test (and the run of its recording) on `side` that executed lines
    /// of `path` and is in the list, if any.
    pub fn listed_test_in_file(
        &self,
        side: Side,
        list: ListName,
        path: &str,
    ) -> Result<Option<(String, Option<i64>)>, StoreError> {
        let s = side.schema();
        let table = list.table();
        self.sql("combine into").row(
            &format!(
                "SELECT c.context, t.last_run FROM {s}.line_bits lb
                     JOIN {s}.file f ON f.id = lb.file_id
                     JOIN {s}.context c ON c.id = lb.context_id
                     JOIN {table} l ON l.nodeid = c.context
                     JOIN {s}.impact_test t ON t.nodeid = c.context
                     WHERE f.path = ?1 AND length(lb.numbits) > 0
                     ORDER BY c.context LIMIT 1"
            ),
            [path],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The input's facts for a file (names index, imports, carries) replace
    /// this file's, when they were computed from `blob_id`.
    pub fn copy_facts(&mut self, path: &str, blob_id: &str) -> Result<(), StoreError> {
        let q = self.sql("combine into");
        let current: Option<String> = q.row(
            "SELECT x.blob_id FROM src.impact_facts x JOIN src.file f ON f.id = x.file_id
             WHERE f.path = ?1",
            [path],
            |r| r.get(0),
        )?;
        if current.as_deref() != Some(blob_id) {
            return Ok(());
        }
        let file_id: i64 = q.value("SELECT id FROM main.file WHERE path = ?1", [path])?;
        let all: [&dyn rusqlite::ToSql; 3] = [&file_id, &path, &blob_id];
        for sql in [
            "DELETE FROM main.impact_ref WHERE file_id = ?1",
            "DELETE FROM main.impact_ref_target WHERE file_id = ?1",
            "DELETE FROM main.impact_own WHERE file_id = ?1",
            "DELETE FROM main.impact_import WHERE file_id = ?1",
            "DELETE FROM main.impact_carry WHERE file_id = ?1",
            "DELETE FROM main.impact_facts WHERE file_id = ?1",
            "INSERT INTO main.impact_ref (file_id, name, numbits)
             SELECT ?1, r.name, r.numbits FROM src.impact_ref r
             JOIN src.file f ON f.id = r.file_id WHERE f.path = ?2",
            "INSERT INTO main.impact_ref_target (file_id, name, target, numbits)
             SELECT ?1, r.name, r.target, r.numbits FROM src.impact_ref_target r
             JOIN src.file f ON f.id = r.file_id WHERE f.path = ?2",
            "INSERT INTO main.impact_own (name, file_id)
             SELECT o.name, ?1 FROM src.impact_own o
             JOIN src.file f ON f.id = o.file_id WHERE f.path = ?2",
            "INSERT INTO main.impact_import (file_id, module)
             SELECT ?1, i.module FROM src.impact_import i
             JOIN src.file f ON f.id = i.file_id WHERE f.path = ?2",
            "INSERT INTO main.impact_carry (file_id, name, carried, numbits)
             SELECT ?1, c.name, c.carried, c.numbits FROM src.impact_carry c
             JOIN src.file f ON f.id = c.file_id WHERE f.path = ?2",
            "INSERT INTO main.impact_facts (file_id, blob_id, version)
             SELECT ?1, ?3, x.version FROM src.impact_facts x JOIN src.file f ON f.id = x.file_id
             WHERE f.path = ?2",
        ] {
            // Each statement takes the first one, two or three of them.
            let count = (1..=3).filter(|n| sql.contains(&format!("?{n}"))).count();
            q.exec(sql, &all[..count])?;
        }
        Ok(())
    }

    /// The input's import-time lines (the empty context) of a file replace
    /// this file's (`union` false), or are added to them (`union` true, for
    /// the same baseline: each process records what it imported).
    pub fn copy_import_time(&mut self, path: &str, union: bool) -> Result<(), StoreError> {
        let q = self.sql("combine into");
        let theirs: Option<Vec<u8>> = q.row(
            "SELECT lb.numbits FROM src.line_bits lb JOIN src.file f ON f.id = lb.file_id
             JOIN src.context c ON c.id = lb.context_id WHERE f.path = ?1 AND c.context = ''",
            [path],
            |r| r.get(0),
        )?;
        let Some(file_id) = q.row("SELECT id FROM main.file WHERE path = ?1", [path], |r| {
            r.get::<_, i64>(0)
        })?
        else {
            return Ok(());
        };
        let ours: Option<Vec<u8>> = q.row(
            "SELECT lb.numbits FROM main.line_bits lb JOIN main.context c ON c.id = lb.context_id
             WHERE lb.file_id = ?1 AND c.context = ''",
            [file_id],
            |r| r.get(0),
        )?;
        let bits = match (union, ours, theirs) {
            (true, Some(a), Some(b)) => crate::numbits::union(&a, &b),
            (true, Some(a), None) => a,
            (_, _, Some(b)) => b,
            (false, _, None) => Vec::new(),
            (true, None, None) => return Ok(()),
        };
        // Which test module's import ran the lines is not combined: the
        // combined file's import-time lines count for every importer.
        self.set_import_time(file_id, &bits, false, None)
    }

    /// Copies the recordings of the tests in the `take` list from the input:
    /// their lines (for every file, by path), outcome, duration, flags,
    /// fixtures and the files they read, replacing what this file held for
    /// them; reads outside tests are united. `run_map` maps the
    /// input's run ids to this file's.
    //
    // One SQL batch after the run map: each statement builds on the ones
    // before it (contexts and files first, then the rows keyed by them),
    // and read apart they would hide that order.
    pub fn copy_taken_tests(&mut self, run_map: &HashMap<i64, i64>) -> Result<(), StoreError> {
        self.load_run_map(run_map)?;
        let take = ListName::Take.table();
        self.sql("combine into").batch(&format!(
                "INSERT OR IGNORE INTO main.context (context) SELECT nodeid FROM {take};
                 INSERT OR IGNORE INTO main.file (path)
                     SELECT f.path FROM src.file f
                     WHERE EXISTS (SELECT 1 FROM src.line_bits lb WHERE lb.file_id = f.id);
                 -- CROSS JOIN fixes the loop order: from the (few) taken
                 -- tests through the context indexes, never a scan of
                 -- every line_bits row. Rows are updated in place where the
                 -- test ran the file in both (index entries stay), and the
                 -- rows of files it no longer ran are deleted.
                 INSERT INTO main.line_bits (file_id, context_id, numbits)
                     SELECT mf.id, mc.id, lb.numbits FROM {take} t
                     CROSS JOIN src.context sc ON sc.context = t.nodeid
                     CROSS JOIN src.line_bits lb ON lb.context_id = sc.id
                     JOIN src.file sf ON sf.id = lb.file_id
                     JOIN main.file mf ON mf.path = sf.path
                     JOIN main.context mc ON mc.context = sc.context
                     WHERE true
                     ON CONFLICT (file_id, context_id) DO UPDATE SET numbits = excluded.numbits;
                 DELETE FROM main.line_bits WHERE (file_id, context_id) IN (
                     SELECT lb.file_id, lb.context_id FROM {take} t
                     CROSS JOIN main.context c ON c.context = t.nodeid
                     CROSS JOIN main.line_bits lb ON lb.context_id = c.id
                     JOIN main.file f ON f.id = lb.file_id
                     WHERE NOT EXISTS (
                         SELECT 1 FROM src.context sc
                         CROSS JOIN src.file sf ON sf.path = f.path
                         CROSS JOIN src.line_bits sl ON sl.file_id = sf.id AND sl.context_id = sc.id
                         WHERE sc.context = t.nodeid));
                 INSERT INTO main.impact_test
                     (nodeid, outcome, duration, needs_run, last_run, skipped_since_full, skipped_note)
                     SELECT st.nodeid, st.outcome, st.duration, st.needs_run, m.out_id,
                            st.skipped_since_full, st.skipped_note
                     FROM src.impact_test st JOIN {take} t ON t.nodeid = st.nodeid
                     LEFT JOIN impact_run_map m ON m.src_id = st.last_run
                     WHERE true
                     ON CONFLICT (nodeid) DO UPDATE SET outcome = excluded.outcome,
                         duration = excluded.duration, needs_run = excluded.needs_run,
                         last_run = excluded.last_run,
                         skipped_since_full = excluded.skipped_since_full,
                         skipped_note = excluded.skipped_note;
                 DELETE FROM main.impact_test_fixture WHERE test_id IN
                     (SELECT mt.id FROM main.impact_test mt JOIN {take} t ON t.nodeid = mt.nodeid);
                 INSERT OR IGNORE INTO main.impact_test_fixture (test_id, fixture)
                     SELECT mt.id, sf.fixture FROM src.impact_test_fixture sf
                     JOIN src.impact_test st ON st.id = sf.test_id
                     JOIN {take} t ON t.nodeid = st.nodeid
                     JOIN main.impact_test mt ON mt.nodeid = st.nodeid;
                 DELETE FROM main.impact_test_read WHERE test_id IN
                     (SELECT mt.id FROM main.impact_test mt JOIN {take} t ON t.nodeid = mt.nodeid);
                 INSERT OR IGNORE INTO main.impact_test_read (test_id, path)
                     SELECT mt.id, sr.path FROM src.impact_test_read sr
                     JOIN src.impact_test st ON st.id = sr.test_id
                     JOIN {take} t ON t.nodeid = st.nodeid
                     JOIN main.impact_test mt ON mt.nodeid = st.nodeid;
                 -- Reads outside tests: each shard collected, so each read
                 -- what collection reads; united, as any run but a full one does.
                 INSERT OR IGNORE INTO main.impact_scope_read (scope, path)
                     SELECT scope, path FROM src.impact_scope_read;
                 -- Tests both files hold from the same run: flags either file
                 -- set since (skipped by a shard's selection, needing a run)
                 -- are kept, the first skip note winning.
                 UPDATE main.impact_test AS mt SET
                     needs_run = max(mt.needs_run, st.needs_run),
                     skipped_note = CASE WHEN mt.skipped_since_full THEN mt.skipped_note
                                         ELSE st.skipped_note END,
                     skipped_since_full = 1
                 FROM src.impact_test st JOIN impact_run_map m ON m.src_id = st.last_run
                 WHERE st.nodeid = mt.nodeid AND m.out_id = mt.last_run AND st.skipped_since_full
                   AND mt.nodeid NOT IN (SELECT nodeid FROM {take});
                 UPDATE main.impact_test AS mt SET needs_run = 1
                 FROM src.impact_test st JOIN impact_run_map m ON m.src_id = st.last_run
                 WHERE st.nodeid = mt.nodeid AND m.out_id = mt.last_run AND st.needs_run
                   AND mt.nodeid NOT IN (SELECT nodeid FROM {take});"
            ))
    }

    /// The input's run ids mapped to this file's, as a temp table for the
    /// copying statements to join.
    fn load_run_map(&self, run_map: &HashMap<i64, i64>) -> Result<(), StoreError> {
        let sql = self.sql("combine into");
        sql.batch(
            "CREATE TEMP TABLE IF NOT EXISTS impact_run_map (src_id integer primary key, out_id integer);
             DELETE FROM impact_run_map;",
        )?;
        for (s, o) in run_map {
            sql.exec(
                "INSERT INTO impact_run_map (src_id, out_id) VALUES (?1, ?2)",
                params![s, o],
            )?;
        }
        Ok(())
    }

    /// The input's impact metadata (e.g. the environment fingerprint) replaces
    /// this file's.
    pub fn copy_meta(&mut self) -> Result<(), StoreError> {
        self.sql("combine into").exec(
            "INSERT INTO main.impact_meta (key, value) SELECT key, value FROM src.impact_meta
                 WHERE true ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [],
        )?;
        Ok(())
    }

    /// What the input stored by content for the baselines this file now
    /// holds (outlines, string tokens of test files), where this file lacks
    /// it: caches that spare selection a whole parse or a read.
    pub fn copy_content_caches(&mut self) -> Result<(), StoreError> {
        self.sql("combine into").batch(
            "INSERT OR IGNORE INTO main.impact_outline (blob_id, outline)
                     SELECT blob_id, outline FROM src.impact_outline
                     WHERE blob_id IN (SELECT blob_id FROM main.impact_baseline);
                 INSERT OR IGNORE INTO main.impact_quoted (blob_id, tokens)
                     SELECT blob_id, tokens FROM src.impact_quoted
                     WHERE blob_id IN (SELECT blob_id FROM main.impact_baseline);
                 INSERT OR IGNORE INTO main.impact_side_word (word, blob_id, numbits)
                     SELECT w.word, w.blob_id, w.numbits FROM src.impact_side_word w
                     JOIN src.impact_side_indexed i ON i.blob_id = w.blob_id
                     WHERE w.blob_id IN (SELECT blob_id FROM main.impact_baseline)
                       AND w.blob_id NOT IN (SELECT blob_id FROM main.impact_side_indexed);
                 INSERT OR IGNORE INTO main.impact_side_indexed (blob_id)
                     SELECT blob_id FROM src.impact_side_indexed
                     WHERE blob_id IN (SELECT blob_id FROM main.impact_baseline);
                 INSERT OR IGNORE INTO main.impact_side_target (word, blob_id, path, targets)
                     SELECT t.word, t.blob_id, t.path, t.targets FROM src.impact_side_target t
                     JOIN src.impact_side_mentions m ON m.blob_id = t.blob_id AND m.path = t.path
                     WHERE t.blob_id IN (SELECT blob_id FROM main.impact_baseline)
                       AND NOT EXISTS (SELECT 1 FROM main.impact_side_mentions o
                                       WHERE o.blob_id = t.blob_id AND o.path = t.path);
                 INSERT OR IGNORE INTO main.impact_side_mentions (blob_id, path, version, mentions)
                     SELECT blob_id, path, version, mentions FROM src.impact_side_mentions
                     WHERE blob_id IN (SELECT blob_id FROM main.impact_baseline);",
        )
    }

    /// The file id of a path in this file.
    pub fn out_file_id(&self, path: &str) -> Result<Option<i64>, StoreError> {
        self.sql("combine into")
            .row("SELECT id FROM main.file WHERE path = ?1", [path], |r| {
                r.get(0)
            })
    }
}

/// The temporary lists of test ids combine works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListName {
    /// Tests whose recording is taken from the input.
    Take,
    /// Tests of this file recorded by runs the input does not know, and kept.
    Fresh,
}

impl ListName {
    fn table(self) -> &'static str {
        match self {
            ListName::Take => "temp.impact_take",
            ListName::Fresh => "temp.impact_fresh",
        }
    }
}
