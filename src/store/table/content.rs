//! What is stored per file content (blob id): `impact_source` and
//! `impact_baseline` (each measured file's recorded content), `impact_outline`,
//! and the test-side caches `impact_quoted` and `impact_side_*`.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::numbits;
use crate::store::{Store, StoreError, Writer};

/// A file's current baseline as the data holds it.
pub struct Baseline {
    pub file_id: i64,
    pub blob_id: String,
    pub content: Vec<u8>,
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

impl Store {
    /// The stored string tokens of each of `blob_ids` that has them.
    pub fn quoted(&self, blob_ids: &[&str]) -> Result<BTreeMap<String, String>, StoreError> {
        let wanted: std::collections::HashSet<&str> = blob_ids.iter().copied().collect();
        // One pass over the table (it holds test-side files only) instead of
        // a query per file; the tokens of other contents are not read.
        let rows: Vec<Option<(String, String)>> =
            self.sql()
                .rows("SELECT blob_id, tokens FROM impact_quoted", [], |r| {
                    let blob: String = r.get(0)?;
                    Ok(match wanted.contains(blob.as_str()) {
                        true => Some((blob, r.get(1)?)),
                        false => None,
                    })
                })?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// The baseline blob id of every measured file, by path.
    pub fn baselines(&self) -> Result<BTreeMap<String, String>, StoreError> {
        self.sql().rows(
            "SELECT f.path, b.blob_id FROM impact_baseline b JOIN file f ON f.id = b.file_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
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
        self.sql().rows(
            "SELECT blob_id, numbits FROM impact_side_word WHERE word = ?1",
            [word],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The stored classification of a test-side content at `path`, if it
    /// is of `version` (see migration 14).
    pub fn side_mentions(
        &self,
        blob_id: &str,
        path: &str,
        version: i64,
    ) -> Result<Option<String>, StoreError> {
        self.sql().row(
            "SELECT mentions FROM impact_side_mentions
             WHERE blob_id = ?1 AND path = ?2 AND version = ?3",
            params![blob_id, path, version],
            |r| r.get(0),
        )
    }

    /// What the mentions of `word` denote, per stored test-side content and
    /// path: (blob id, path, targets as stored).
    pub fn side_targets(&self, word: &str) -> Result<Vec<(String, String, String)>, StoreError> {
        self.sql().rows(
            "SELECT blob_id, path, targets FROM impact_side_target WHERE word = ?1",
            [word],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
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
    pub(in crate::store) fn by_blob<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        blob_id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.sql().row(sql, [blob_id], |r| r.get(0))
    }
}

impl Writer<'_> {
    /// The baseline recorded for `path`, with its content.
    pub fn baseline(&self, path: &str) -> Result<Option<Baseline>, StoreError> {
        self.sql("read").row(
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
    }

    /// Makes `content` the baseline of `path`; returns the file id.
    pub fn set_baseline(
        &mut self,
        path: &str,
        blob_id: &str,
        content: &[u8],
    ) -> Result<i64, StoreError> {
        let sql = self.sql("write");
        sql.exec(
            "INSERT OR IGNORE INTO impact_source (blob_id, content) VALUES (?1, ?2)",
            params![blob_id, content],
        )?;
        sql.exec("INSERT OR IGNORE INTO file (path) VALUES (?1)", [path])?;
        let file_id: i64 = sql.value("SELECT id FROM file WHERE path = ?1", [path])?;
        sql.exec(
            "INSERT INTO impact_baseline (file_id, blob_id) VALUES (?1, ?2)
             ON CONFLICT (file_id) DO UPDATE SET blob_id = excluded.blob_id",
            params![file_id, blob_id],
        )?;
        Ok(file_id)
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
            self.sql("write").exec(sql, [])?;
        }
        // The word table is large and keyed by word: it is scanned only
        // when some indexed content lost its last baseline.
        let gone: i64 = self.sql("read").value(
            "SELECT count(*) FROM impact_side_indexed
             WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline)",
            [],
        )?;
        if gone > 0 {
            for table in [
                "impact_side_word",
                "impact_side_indexed",
                "impact_side_target",
                "impact_side_mentions",
            ] {
                self.sql("write").exec(
                    &format!(
                        "DELETE FROM {table}
                         WHERE blob_id NOT IN (SELECT blob_id FROM impact_baseline)"
                    ),
                    [],
                )?;
            }
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
        let n: i64 = self.sql("read").value(
            "SELECT count(*) FROM impact_side_mentions
             WHERE blob_id = ?1 AND path = ?2 AND version = ?3",
            params![blob_id, path, version],
        )?;
        Ok(n > 0)
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
        let sql = self.sql("write");
        sql.exec(
            "DELETE FROM impact_side_target WHERE blob_id = ?1 AND path = ?2",
            params![blob_id, path],
        )?;
        for (word, text) in targets {
            sql.exec(
                "INSERT INTO impact_side_target (word, blob_id, path, targets) VALUES (?1, ?2, ?3, ?4)",
                params![word, blob_id, path, text],
            )?;
        }
        sql.exec(
            "INSERT OR REPLACE INTO impact_side_mentions (blob_id, path, version, mentions)
             VALUES (?1, ?2, ?3, ?4)",
            params![blob_id, path, version, mentions],
        )?;
        Ok(())
    }

    /// Whether the words of a test-side content are stored (migration 13).
    pub fn has_side_words(&self, blob_id: &str) -> Result<bool, StoreError> {
        let n: i64 = self.sql("read").value(
            "SELECT count(*) FROM impact_side_indexed WHERE blob_id = ?1",
            [blob_id],
        )?;
        Ok(n > 0)
    }

    /// Stores where each word of a test-side content occurs (word -> its
    /// lines, ascending).
    pub fn set_side_words(
        &mut self,
        blob_id: &str,
        words: &BTreeMap<String, Vec<u32>>,
    ) -> Result<(), StoreError> {
        let sql = self.sql("write");
        for (word, lines) in words {
            let bits = numbits::encode(lines.iter().copied());
            sql.exec(
                "INSERT OR REPLACE INTO impact_side_word (word, blob_id, numbits) VALUES (?1, ?2, ?3)",
                params![word, blob_id, bits],
            )?;
        }
        sql.exec(
            "INSERT OR IGNORE INTO impact_side_indexed (blob_id) VALUES (?1)",
            [blob_id],
        )?;
        Ok(())
    }

    /// Whether `kind` of a content is stored (an outline possibly empty: the
    /// content has syntax errors).
    pub fn has_by_content(&self, kind: ByContent, blob_id: &str) -> Result<bool, StoreError> {
        let n: i64 = self.sql("read").value(
            &format!("SELECT count(*) FROM {} WHERE blob_id = ?1", kind.table()),
            [blob_id],
        )?;
        Ok(n > 0)
    }

    /// Stores `kind` of a content.
    pub fn set_by_content(
        &mut self,
        kind: ByContent,
        blob_id: &str,
        text: &str,
    ) -> Result<(), StoreError> {
        let (table, column) = (kind.table(), kind.column());
        self.sql("write").exec(
            &format!("INSERT OR REPLACE INTO {table} (blob_id, {column}) VALUES (?1, ?2)"),
            params![blob_id, text],
        )?;
        Ok(())
    }
}

impl ByContent {
    pub(in crate::store) fn table(self) -> &'static str {
        match self {
            ByContent::Quoted => "impact_quoted",
            ByContent::Outline => "impact_outline",
        }
    }

    pub(in crate::store) fn column(self) -> &'static str {
        match self {
            ByContent::Quoted => "tokens",
            ByContent::Outline => "outline",
        }
    }
}
