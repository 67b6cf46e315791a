//! The facts of each measured file's code: references (`impact_ref`,
//! `impact_ref_target`), own definitions (`impact_own`), imports
//! (`impact_import`), and what statements carry (`impact_carry`), versioned in
//! `impact_facts`.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::store::{Store, StoreError, Writer};

/// A name carried by code naming another, with the lines of the statements
/// that carry it (`None` in facts recorded before they were).
pub type Carried = (String, Option<Vec<u8>>);

impl Store {
    /// Files with lines referencing `name`: (file id, path, numbits of those lines).
    pub fn references(&self, name: &str) -> Result<Vec<(i64, String, Vec<u8>)>, StoreError> {
        self.sql().rows(
            "SELECT r.file_id, f.path, r.numbits FROM impact_ref r
                 JOIN file f ON f.id = r.file_id WHERE r.name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// For `name`, the lines of each file whose references to it denote one
    /// known object: (file id, target, numbits); see migration 11.
    pub fn ref_targets(&self, name: &str) -> Result<Vec<(i64, String, Vec<u8>)>, StoreError> {
        self.sql().rows(
            "SELECT file_id, target, numbits FROM impact_ref_target WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
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
        self.sql().rows(
            "SELECT f.path, i.module FROM impact_import i JOIN file f ON f.id = i.file_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
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
        let rows: Vec<(String, String, Option<Vec<u8>>)> = self.sql().rows(
            "SELECT f.path, c.carried, c.numbits FROM impact_carry c JOIN file f ON f.id = c.file_id
             WHERE c.name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut out: BTreeMap<String, Vec<Carried>> = BTreeMap::new();
        for (path, carried, bits) in rows {
            out.entry(path).or_default().push((carried, bits));
        }
        Ok(out)
    }
}

impl Writer<'_> {
    /// Whether the static facts of a file were computed from `blob_id`.
    pub fn facts_current(&self, file_id: i64, blob_id: &str) -> Result<bool, StoreError> {
        let found: Option<(String, i64)> = self.sql("read").row(
            "SELECT blob_id, version FROM impact_facts WHERE file_id = ?1",
            [file_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(found.is_some_and(|(b, v)| b == blob_id && v >= crate::store::schema::FACTS_VERSION))
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
        let sql = self.sql("write");
        for table in [
            "impact_ref",
            "impact_ref_target",
            "impact_own",
            "impact_import",
            "impact_carry",
        ] {
            sql.exec(
                &format!("DELETE FROM {table} WHERE file_id = ?1"),
                [file_id],
            )?;
        }
        for (name, bits) in &facts.refs {
            sql.exec(
                "INSERT INTO impact_ref (file_id, name, numbits) VALUES (?1, ?2, ?3)",
                params![file_id, name, bits],
            )?;
        }
        for (name, target, bits) in &facts.targets {
            sql.exec(
                "INSERT INTO impact_ref_target (file_id, name, target, numbits)
                 VALUES (?1, ?2, ?3, ?4)",
                params![file_id, name, target, bits],
            )?;
        }
        for name in &facts.own {
            sql.exec(
                "INSERT OR IGNORE INTO impact_own (name, file_id) VALUES (?1, ?2)",
                params![name, file_id],
            )?;
        }
        for m in &facts.imports {
            sql.exec(
                "INSERT OR IGNORE INTO impact_import (file_id, module) VALUES (?1, ?2)",
                params![file_id, m],
            )?;
        }
        for (name, carried, bits) in &facts.carries {
            sql.exec(
                "INSERT OR IGNORE INTO impact_carry (file_id, name, carried, numbits)
                 VALUES (?1, ?2, ?3, ?4)",
                params![file_id, name, carried, bits],
            )?;
        }
        sql.exec(
            "INSERT INTO impact_facts (file_id, blob_id, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (file_id) DO UPDATE SET blob_id = excluded.blob_id,
                 version = excluded.version",
            params![file_id, blob_id, crate::store::schema::FACTS_VERSION],
        )?;
        Ok(())
    }
}
