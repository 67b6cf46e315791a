//! The write transaction every write goes through ([`super::Store::write`]
//! opens it); the writes themselves live with their tables (`table/`).

use std::path::PathBuf;

use rusqlite::Transaction;

use super::{StoreError, sql_error};

/// A write transaction on the data file. Dropped without commit, it rolls back.
pub struct Writer<'conn> {
    pub(super) tx: Transaction<'conn>,
    pub(super) path: PathBuf,
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
}
