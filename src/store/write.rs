//! Writes, all inside the one transaction [`super::Store::write`] opens.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{StoreError, sql_error};
use crate::numbits;

/// A write transaction on the data file. Dropped without commit, it rolls back.
pub struct Writer<'conn> {
    pub(super) tx: Transaction<'conn>,
    pub(super) path: PathBuf,
}

/// A file's current baseline as the data holds it.
pub struct Baseline {
    pub file_id: i64,
    pub blob_id: String,
    pub content: Vec<u8>,
}

impl<'conn> Writer<'conn> {
    pub(super) fn new(tx: Transaction<'conn>, path: PathBuf) -> Self {
        Writer { tx, path }
    }

    pub(super) fn commit(self) -> Result<(), StoreError> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|e| sql_error("commit to", &path, e))
    }

    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| sql_error(action, &self.path, e)
    }

    /// The baseline recorded for `path`, with its content.
    pub fn baseline(&self, path: &str) -> Result<Option<Baseline>, StoreError> {
        self.tx
            .query_row(
                "SELECT f.id, b.blob_id, s.content FROM file f
                 JOIN impact_baseline b ON b.file_id = f.id
                 JOIN impact_source s ON s.blob_id = b.blob_id
                 WHERE f.path = ?1",
                [path],
                |r| {
                    Ok(Baseline {
                        file_id: r.get(0)?,
                        blob_id: r.get(1)?,
                        content: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("read"))
    }

    /// Makes `content` the baseline of `path`; returns the file id.
    pub fn set_baseline(
        &mut self,
        path: &str,
        blob_id: &str,
        content: &[u8],
    ) -> Result<i64, StoreError> {
        let err = self.err("write");
        self.tx
            .execute(
                "INSERT OR IGNORE INTO impact_source (blob_id, content) VALUES (?1, ?2)",
                params![blob_id, content],
            )
            .map_err(&err)?;
        self.tx
            .execute("INSERT OR IGNORE INTO file (path) VALUES (?1)", [path])
            .map_err(&err)?;
        let file_id: i64 = self
            .tx
            .query_row("SELECT id FROM file WHERE path = ?1", [path], |r| r.get(0))
            .map_err(&err)?;
        self.tx
            .execute(
                "INSERT INTO impact_baseline (file_id, blob_id) VALUES (?1, ?2)
                 ON CONFLICT (file_id) DO UPDATE SET blob_id = excluded.blob_id",
                params![file_id, blob_id],
            )
            .map_err(&err)?;
        Ok(file_id)
    }

    /// Rewrites the line numbers of every context's lines in a file through
    /// `map` (old line -> new line, `None` when the line no longer exists as it
    /// was). Contexts in `skip` are left alone (they are about to be replaced).
    /// Returns the contexts that lost lines: their data is incomplete.
    pub fn remap_file(
        &mut self,
        file_id: i64,
        map: &dyn Fn(u32) -> Option<u32>,
        skip: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let err = self.err("write");
        let rows: Vec<(i64, String, Vec<u8>)> = {
            let mut stmt = self
                .tx
                .prepare(
                    "SELECT lb.context_id, c.context, lb.numbits FROM line_bits lb
                     JOIN context c ON c.id = lb.context_id WHERE lb.file_id = ?1",
                )
                .map_err(&err)?;
            let rows = stmt
                .query_map([file_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(&err)?;
            rows.collect::<Result<_, _>>().map_err(&err)?
        };
        let mut lost = Vec::new();
        for (context_id, context, bits) in rows {
            if skip(&context) {
                continue;
            }
            let old = numbits::decode(&bits);
            let new: Vec<u32> = old.iter().filter_map(|&n| map(n)).collect();
            if new.len() != old.len() {
                lost.push(context);
            }
            self.tx
                .execute(
                    "UPDATE line_bits SET numbits = ?3 WHERE file_id = ?1 AND context_id = ?2",
                    params![file_id, context_id, numbits::encode(new)],
                )
                .map_err(&err)?;
        }
        Ok(lost)
    }

    /// The id of a context label, created when missing.
    fn context_id(&mut self, label: &str) -> Result<i64, StoreError> {
        let err = self.err("write");
        self.tx
            .execute(
                "INSERT OR IGNORE INTO context (context) VALUES (?1)",
                [label],
            )
            .map_err(&err)?;
        self.tx
            .query_row("SELECT id FROM context WHERE context = ?1", [label], |r| {
                r.get(0)
            })
            .map_err(&err)
    }

    /// Replaces everything known about a test with a fresh recording.
    pub fn replace_test(&mut self, test: &TestWrite<'_>, run_id: i64) -> Result<(), StoreError> {
        let context_id = self.context_id(test.nodeid)?;
        let err = self.err("write");
        self.tx
            .execute("DELETE FROM line_bits WHERE context_id = ?1", [context_id])
            .map_err(&err)?;
        {
            let mut insert = self
                .tx
                .prepare_cached(
                    "INSERT INTO line_bits (file_id, context_id, numbits) VALUES (?1, ?2, ?3)",
                )
                .map_err(&err)?;
            for (file_id, bits) in test.lines {
                if !bits.is_empty() {
                    insert
                        .execute(params![file_id, context_id, bits])
                        .map_err(&err)?;
                }
            }
        }
        self.tx
            .execute(
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
            )
            .map_err(&err)?;
        Ok(())
    }

    /// Sets the import-time lines (the empty context) of a file; with
    /// `union`, adds them to those recorded before (a run that imported
    /// fewer modules than the last one did not see all of them). `by`
    /// attributes them (module path, or "" for none -> lines; see
    /// migration 15), set or added alike; `None` forgets the attribution,
    /// so that the file's import-time lines count for every importer.
    pub fn set_import_time(
        &mut self,
        file_id: i64,
        bits: &[u8],
        union: bool,
        by: Option<&BTreeMap<String, Vec<u8>>>,
    ) -> Result<(), StoreError> {
        match by {
            Some(by) => self.attribute_import_time(file_id, by, union)?,
            None => self.forget_import_attribution(file_id)?,
        }
        let context_id = self.context_id("")?;
        let err = self.err("write");
        let bits = if union {
            let old = self.stored_numbits(
                "SELECT numbits FROM line_bits WHERE file_id = ?1 AND context_id = ?2",
                params![file_id, context_id],
            )?;
            with_stored(old, bits)
        } else {
            bits.to_vec()
        };
        let bits = bits.as_slice();
        self.tx
            .execute(
                "DELETE FROM line_bits WHERE file_id = ?1 AND context_id = ?2",
                params![file_id, context_id],
            )
            .map_err(&err)?;
        if !bits.is_empty() {
            self.tx
                .execute(
                    "INSERT INTO line_bits (file_id, context_id, numbits) VALUES (?1, ?2, ?3)",
                    params![file_id, context_id, bits],
                )
                .map_err(&err)?;
        }
        Ok(())
    }

    /// Writes which module's import ran which import-time lines of a file
    /// (replacing, or with `union` adding to, what was recorded).
    fn attribute_import_time(
        &mut self,
        file_id: i64,
        by: &BTreeMap<String, Vec<u8>>,
        union: bool,
    ) -> Result<(), StoreError> {
        if !union {
            self.forget_import_attribution(file_id)?;
        }
        let err = self.err("write");
        for (module, bits) in by {
            let old = self.stored_numbits(
                "SELECT numbits FROM impact_import_by WHERE file_id = ?1 AND module = ?2",
                params![file_id, module],
            )?;
            let bits = with_stored(old, bits);
            self.tx
                .execute(
                    "INSERT OR REPLACE INTO impact_import_by (file_id, module, numbits)
                     VALUES (?1, ?2, ?3)",
                    params![file_id, module, bits],
                )
                .map_err(&err)?;
        }
        Ok(())
    }

    /// The numbits one row of `sql` holds, if there is a row.
    fn stored_numbits(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.tx
            .query_row(sql, params, |r| r.get(0))
            .optional()
            .map_err(self.err("write"))
    }

    /// Forgets which module's import ran a file's import-time lines: they
    /// moved (another baseline) or were recorded without it.
    pub fn forget_import_attribution(&mut self, file_id: i64) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM impact_import_by WHERE file_id = ?1", [file_id])
            .map_err(self.err("write"))?;
        Ok(())
    }

    /// Marks tests as needing a run: their data is stale or incomplete.
    pub fn mark_needs_run(&mut self, nodeids: &[String]) -> Result<(), StoreError> {
        let err = self.err("write");
        let mut stmt = self
            .tx
            .prepare_cached("UPDATE impact_test SET needs_run = 1 WHERE nodeid = ?1")
            .map_err(&err)?;
        for id in nodeids {
            stmt.execute([id]).map_err(&err)?;
        }
        Ok(())
    }

    /// Marks tests a selection skipped; the first note since the last full run stays.
    pub fn mark_skipped(&mut self, nodeids: &[String], note: &str) -> Result<(), StoreError> {
        let err = self.err("write");
        let mut stmt = self
            .tx
            .prepare_cached(
                "UPDATE impact_test SET skipped_note = CASE WHEN skipped_since_full THEN skipped_note ELSE ?2 END,
                   skipped_since_full = 1 WHERE nodeid = ?1",
            )
            .map_err(&err)?;
        for id in nodeids {
            stmt.execute(params![id, note]).map_err(&err)?;
        }
        Ok(())
    }

    /// After a full run: nothing has been skipped since.
    pub fn clear_skipped(&mut self) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE impact_test SET skipped_since_full = 0, skipped_note = NULL",
                [],
            )
            .map_err(self.err("write"))?;
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
    fn replace_test_rows(
        &mut self,
        nodeid: &str,
        delete: &str,
        insert: &str,
        values: &[String],
    ) -> Result<(), StoreError> {
        let err = self.err("write");
        let test_id: i64 = self
            .tx
            .query_row(
                "SELECT id FROM impact_test WHERE nodeid = ?1",
                [nodeid],
                |r| r.get(0),
            )
            .map_err(&err)?;
        self.tx.execute(delete, [test_id]).map_err(&err)?;
        let mut ins = self.tx.prepare_cached(insert).map_err(&err)?;
        for v in values {
            ins.execute(params![test_id, v]).map_err(&err)?;
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
        let err = self.err("write");
        if replace {
            self.tx
                .execute("DELETE FROM impact_scope_read WHERE scope = ?1", [scope])
                .map_err(&err)?;
        }
        let mut ins = self
            .tx
            .prepare_cached("INSERT OR IGNORE INTO impact_scope_read (scope, path) VALUES (?1, ?2)")
            .map_err(&err)?;
        for p in paths {
            ins.execute(params![scope, p]).map_err(&err)?;
        }
        Ok(())
    }

    /// Forgets tests and their lines.
    pub fn remove_tests(&mut self, nodeids: &[String]) -> Result<(), StoreError> {
        let err = self.err("write");
        for id in nodeids {
            self.tx
                .execute(
                    "DELETE FROM line_bits WHERE context_id IN (SELECT id FROM context WHERE context = ?1)",
                    [id],
                )
                .map_err(&err)?;
            self.tx
                .execute("DELETE FROM context WHERE context = ?1", [id])
                .map_err(&err)?;
            self.tx
                .execute(
                    "DELETE FROM impact_test_fixture WHERE test_id IN (SELECT id FROM impact_test WHERE nodeid = ?1)",
                    [id],
                )
                .map_err(&err)?;
            self.tx
                .execute(
                    "DELETE FROM impact_test_read WHERE test_id IN (SELECT id FROM impact_test WHERE nodeid = ?1)",
                    [id],
                )
                .map_err(&err)?;
            self.tx
                .execute("DELETE FROM impact_test WHERE nodeid = ?1", [id])
                .map_err(&err)?;
        }
        Ok(())
    }

    /// Appends a row to the run history; returns its id.
    pub fn add_run(&mut self, run: &RunWrite<'_>) -> Result<i64, StoreError> {
        self.tx
            .execute(
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
            )
            .map_err(self.err("write"))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Attaches what `impact run --observe` found to a run of the history.
    pub fn set_run_observation(&mut self, run_id: i64, json: &str) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE impact_run SET observation = ?2 WHERE id = ?1",
                params![run_id, json],
            )
            .map_err(self.err("write"))?;
        Ok(())
    }

    /// Sets a key of impact's metadata.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO impact_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(self.err("write"))?;
        Ok(())
    }

    /// Drops source contents (and their string tokens and outlines) no
    /// baseline refers to any more.
    pub fn drop_unused_sources(&mut self) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM impact_source
             WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline)",
            "DELETE FROM impact_quoted
             WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline)",
            "DELETE FROM impact_outline
             WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline)",
        ] {
            self.tx.execute(sql, []).map_err(self.err("write"))?;
        }
        // The word table is large and keyed by word: it is scanned only
        // when some indexed content lost its last baseline.
        let gone: i64 = self
            .tx
            .query_row(
                "SELECT count(*) FROM impact_side_indexed
                 WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline)",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("read"))?;
        if gone > 0 {
            self.tx
                .execute_batch(
                    "DELETE FROM impact_side_word
                     WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline);
                     DELETE FROM impact_side_indexed
                     WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline);
                     DELETE FROM impact_side_target
                     WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline);
                     DELETE FROM impact_side_mentions
                     WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline);",
                )
                .map_err(self.err("write"))?;
        }
        Ok(())
    }

    /// Whether the classification of a test-side content at `path` is
    /// stored, of `version` (migration 14).
    pub fn has_side_mentions(
        &self,
        blob_id: &str,
        path: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT count(*) FROM impact_side_mentions
                 WHERE blob_id = ?1 AND path = ?2 AND version = ?3",
                params![blob_id, path, version],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(self.err("read"))
    }

    /// Stores the classification of a test-side content at `path`, and its
    /// per-word targets: (word, targets as stored).
    pub fn set_side_mentions<'w>(
        &mut self,
        blob_id: &str,
        path: &str,
        version: i64,
        mentions: &str,
        targets: impl Iterator<Item = (&'w str, String)>,
    ) -> Result<(), StoreError> {
        let err = self.err("write");
        self.tx
            .execute(
                "DELETE FROM impact_side_target WHERE blob_id = ?1 AND path = ?2",
                params![blob_id, path],
            )
            .map_err(&err)?;
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO impact_side_target (word, blob_id, path, targets) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(&err)?;
        for (word, text) in targets {
            stmt.execute(params![word, blob_id, path, text])
                .map_err(&err)?;
        }
        self.tx
            .execute(
                "INSERT OR REPLACE INTO impact_side_mentions (blob_id, path, version, mentions)
                 VALUES (?1, ?2, ?3, ?4)",
                params![blob_id, path, version, mentions],
            )
            .map_err(&err)?;
        Ok(())
    }

    /// Whether the words of a test-side content are stored (migration 13).
    pub fn has_side_words(&self, blob_id: &str) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT count(*) FROM impact_side_indexed WHERE blob_id = ?1",
                [blob_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(self.err("read"))
    }

    /// Stores where each word of a test-side content occurs (word -> its
    /// lines, ascending).
    pub fn set_side_words(
        &mut self,
        blob_id: &str,
        words: &BTreeMap<String, Vec<u32>>,
    ) -> Result<(), StoreError> {
        let err = self.err("write");
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT OR REPLACE INTO impact_side_word (word, blob_id, numbits) VALUES (?1, ?2, ?3)",
            )
            .map_err(&err)?;
        for (word, lines) in words {
            let bits = numbits::encode(lines.iter().copied());
            stmt.execute(params![word, blob_id, bits]).map_err(&err)?;
        }
        self.tx
            .execute(
                "INSERT OR IGNORE INTO impact_side_indexed (blob_id) VALUES (?1)",
                [blob_id],
            )
            .map_err(&err)?;
        Ok(())
    }

    /// Whether `kind` of a content is stored (an outline possibly empty: the
    /// content has syntax errors).
    pub fn has_by_content(&self, kind: ByContent, blob_id: &str) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE blob_id = ?1", kind.table()),
                [blob_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(self.err("read"))
    }

    /// Stores `kind` of a content.
    pub fn set_by_content(
        &mut self,
        kind: ByContent,
        blob_id: &str,
        text: &str,
    ) -> Result<(), StoreError> {
        let (table, column) = (kind.table(), kind.column());
        self.tx
            .execute(
                &format!("INSERT OR REPLACE INTO {table} (blob_id, {column}) VALUES (?1, ?2)"),
                params![blob_id, text],
            )
            .map_err(self.err("write"))?;
        Ok(())
    }
}

/// What is stored per recorded content beside it, so that selection need
/// not read or parse the file: caches, recomputed when missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByContent {
    /// The tokens inside string literals of a test file or conftest
    /// (migration 8).
    Quoted,
    /// A Python file's outline (migration 9).
    Outline,
}

impl ByContent {
    fn table(self) -> &'static str {
        match self {
            ByContent::Quoted => "impact_quoted",
            ByContent::Outline => "impact_outline",
        }
    }

    fn column(self) -> &'static str {
        match self {
            ByContent::Quoted => "tokens",
            ByContent::Outline => "outline",
        }
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

/// One run-history row.
pub struct RunWrite<'a> {
    pub kind: &'a str,
    pub started_at: &'a str,
    pub commit: Option<&'a str>,
    pub command: &'a str,
    pub tests: i64,
    pub files: i64,
}

impl Writer<'_> {
    /// Whether the static facts of a file were computed from `blob_id`.
    pub fn facts_current(&self, file_id: i64, blob_id: &str) -> Result<bool, StoreError> {
        let found: Option<(String, i64)> = self
            .tx
            .query_row(
                "SELECT blob_id, version FROM impact_facts WHERE file_id = ?1",
                [file_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("read"))?;
        Ok(found.is_some_and(|(b, v)| b == blob_id && v >= super::schema::FACTS_VERSION))
    }

    /// Replaces a file's static facts: identifier -> numbits of referencing
    /// lines, and the modules it imports.
    // One delete and one insert loop per facts table, in one place so that
    // a table added to the facts is not left out of the replacement.
    pub fn replace_facts(
        &mut self,
        file_id: i64,
        blob_id: &str,
        facts: &crate::python::facts::Facts,
    ) -> Result<(), StoreError> {
        let err = self.err("write");
        for table in [
            "impact_ref",
            "impact_ref_target",
            "impact_own",
            "impact_import",
            "impact_carry",
        ] {
            self.tx
                .execute(
                    &format!("DELETE FROM {table} WHERE file_id = ?1"),
                    [file_id],
                )
                .map_err(&err)?;
        }
        let (refs, imports, carries) = (&facts.refs, &facts.imports, &facts.carries);
        {
            let mut ins = self
                .tx
                .prepare_cached(
                    "INSERT INTO impact_ref (file_id, name, numbits) VALUES (?1, ?2, ?3)",
                )
                .map_err(&err)?;
            for (name, bits) in refs {
                ins.execute(params![file_id, name, bits]).map_err(&err)?;
            }
            let mut ins = self
                .tx
                .prepare_cached(
                    "INSERT INTO impact_ref_target (file_id, name, target, numbits)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&err)?;
            for (name, target, bits) in &facts.targets {
                ins.execute(params![file_id, name, target, bits])
                    .map_err(&err)?;
            }
            let mut ins = self
                .tx
                .prepare_cached("INSERT OR IGNORE INTO impact_own (name, file_id) VALUES (?1, ?2)")
                .map_err(&err)?;
            for name in &facts.own {
                ins.execute(params![name, file_id]).map_err(&err)?;
            }
            let mut ins = self
                .tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO impact_import (file_id, module) VALUES (?1, ?2)",
                )
                .map_err(&err)?;
            for m in imports {
                ins.execute(params![file_id, m]).map_err(&err)?;
            }
            let mut ins = self
                .tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO impact_carry (file_id, name, carried, numbits)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(&err)?;
            for (name, carried, bits) in carries {
                ins.execute(params![file_id, name, carried, bits])
                    .map_err(&err)?;
            }
        }
        self.tx
            .execute(
                "INSERT INTO impact_facts (file_id, blob_id, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (file_id) DO UPDATE SET blob_id = excluded.blob_id,
                     version = excluded.version",
                params![file_id, blob_id, super::schema::FACTS_VERSION],
            )
            .map_err(&err)?;
        Ok(())
    }
}

/// `bits` added to what was stored, if anything was.
fn with_stored(old: Option<Vec<u8>>, bits: &[u8]) -> Vec<u8> {
    old.map(|o| numbits::union(&o, bits))
        .unwrap_or_else(|| bits.to_vec())
}
