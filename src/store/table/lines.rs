//! coverage.py's `file`, `context` and `line_bits` (what each test ran, as
//! numbits), and `impact_import_by` (whose import ran the import-time lines).

use std::collections::BTreeMap;

use rusqlite::params;

use crate::numbits;
use crate::store::{Store, StoreError, Writer};

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

/// `bits` added to what was stored, if anything was.
fn with_stored(old: Option<Vec<u8>>, bits: &[u8]) -> Vec<u8> {
    old.map(|o| numbits::union(&o, bits))
        .unwrap_or_else(|| bits.to_vec())
}

impl Store {
    /// The file id of a repository-relative path, when the data knows it.
    pub fn file_id(&self, path: &str) -> Result<Option<i64>, StoreError> {
        self.sql()
            .row("SELECT id FROM file WHERE path = ?1", [path], |r| r.get(0))
    }

    /// Every measured path, sorted.
    pub fn paths(&self) -> Result<Vec<String>, StoreError> {
        self.strings("SELECT path FROM file ORDER BY path", [])
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
        let n: i64 = self.sql().value(
            "SELECT count(*) FROM line_bits lb JOIN context c ON c.id = lb.context_id
             WHERE lb.file_id = ?1 AND c.context = ''
               AND numbits_any_intersection(lb.numbits, ?2)",
            params![file_id, numbits],
        )?;
        Ok(n > 0)
    }

    /// Which of `numbits`' lines of a file ran at import, and whose import
    /// ran them: the lines of each recorded module ("" for none) among
    /// them. Lines that ran at import but have no module count for none.
    pub fn import_time_of(&self, file_id: i64, numbits: &[u8]) -> Result<ImportTimeOf, StoreError> {
        let ran: Option<Vec<u8>> = self.sql().row(
            "SELECT numbits_intersection(lb.numbits, ?2) FROM line_bits lb
             JOIN context c ON c.id = lb.context_id
             WHERE lb.file_id = ?1 AND c.context = ''",
            params![file_id, numbits],
            |r| r.get(0),
        )?;
        let ran = ran.map(|b| numbits::decode(&b)).unwrap_or_default();
        let mut out = ImportTimeOf::default();
        if ran.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(String, Vec<u8>)> = self.sql().rows(
            "SELECT module, numbits_intersection(numbits, ?2) FROM impact_import_by
             WHERE file_id = ?1 AND numbits_any_intersection(numbits, ?2)",
            params![file_id, numbits],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut explained = std::collections::BTreeSet::new();
        for (module, bits) in rows {
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

    /// Lines recorded under a context label (a test id, or "" for import time),
    /// by path.
    pub fn context_lines(&self, context: &str) -> Result<Vec<FileLines>, StoreError> {
        self.sql().rows(
            "SELECT f.path, lb.numbits FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 JOIN file f ON f.id = lb.file_id
                 WHERE c.context = ?1 ORDER BY f.path",
            [context],
            |r| {
                Ok(FileLines {
                    path: r.get(0)?,
                    numbits: r.get(1)?,
                })
            },
        )
    }

    /// Tests whose recorded lines in `file_id` intersect `numbits`, each with
    /// the intersecting lines (as numbits). Import-time data is left out.
    pub fn tests_intersecting(
        &self,
        file_id: i64,
        numbits: &[u8],
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.sql().rows(
            "SELECT c.context, numbits_intersection(lb.numbits, ?2) FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 WHERE lb.file_id = ?1 AND c.context != ''
                   AND numbits_any_intersection(lb.numbits, ?2)",
            params![file_id, numbits],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Every test's recorded lines in `file_id` (numbits), import-time data
    /// left out.
    pub fn file_lines(&self, file_id: i64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.sql().rows(
            "SELECT c.context, lb.numbits FROM line_bits lb
                 JOIN context c ON c.id = lb.context_id
                 WHERE lb.file_id = ?1 AND c.context != ''",
            [file_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The tests that ran any line of `file_id` (import time left out), in
    /// no particular order (sorting 2,000 names in SQL costs more than the
    /// set callers build).
    pub fn tests_in_file(&self, file_id: i64) -> Result<Vec<String>, StoreError> {
        self.strings(
            "SELECT c.context FROM line_bits lb JOIN context c ON c.id = lb.context_id
             WHERE lb.file_id = ?1 AND c.context != '' AND length(lb.numbits) > 0",
            [file_id],
        )
    }
}

impl Writer<'_> {
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
        let sql = self.sql("write");
        let rows: Vec<(i64, String, Vec<u8>)> = sql.rows(
            "SELECT lb.context_id, c.context, lb.numbits FROM line_bits lb
             JOIN context c ON c.id = lb.context_id WHERE lb.file_id = ?1",
            [file_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
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
            sql.exec(
                "UPDATE line_bits SET numbits = ?3 WHERE file_id = ?1 AND context_id = ?2",
                params![file_id, context_id, numbits::encode(new)],
            )?;
        }
        Ok(lost)
    }

    /// The id of a context label, created when missing.
    pub(in crate::store) fn context_id(&mut self, label: &str) -> Result<i64, StoreError> {
        let sql = self.sql("write");
        sql.exec(
            "INSERT OR IGNORE INTO context (context) VALUES (?1)",
            [label],
        )?;
        sql.value("SELECT id FROM context WHERE context = ?1", [label])
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
        let sql = self.sql("write");
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
        sql.exec(
            "DELETE FROM line_bits WHERE file_id = ?1 AND context_id = ?2",
            params![file_id, context_id],
        )?;
        if !bits.is_empty() {
            sql.exec(
                "INSERT INTO line_bits (file_id, context_id, numbits) VALUES (?1, ?2, ?3)",
                params![file_id, context_id, bits],
            )?;
        }
        Ok(())
    }

    /// Writes which module's import ran which import-time lines of a file
    /// (replacing, or with `union` adding to, what was recorded).
    pub(in crate::store) fn attribute_import_time(
        &mut self,
        file_id: i64,
        by: &BTreeMap<String, Vec<u8>>,
        union: bool,
    ) -> Result<(), StoreError> {
        if !union {
            self.forget_import_attribution(file_id)?;
        }
        let sql = self.sql("write");
        for (module, bits) in by {
            let old = self.stored_numbits(
                "SELECT numbits FROM impact_import_by WHERE file_id = ?1 AND module = ?2",
                params![file_id, module],
            )?;
            let bits = with_stored(old, bits);
            sql.exec(
                "INSERT OR REPLACE INTO impact_import_by (file_id, module, numbits)
                     VALUES (?1, ?2, ?3)",
                params![file_id, module, bits],
            )?;
        }
        Ok(())
    }

    /// The numbits one row of `sql` holds, if there is a row.
    pub(in crate::store) fn stored_numbits(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.sql("write").row(sql, params, |r| r.get(0))
    }

    /// Forgets which module's import ran a file's import-time lines: they
    /// moved (another baseline) or were recorded without it.
    pub fn forget_import_attribution(&mut self, file_id: i64) -> Result<(), StoreError> {
        self.sql("write")
            .exec("DELETE FROM impact_import_by WHERE file_id = ?1", [file_id])?;
        Ok(())
    }
}
