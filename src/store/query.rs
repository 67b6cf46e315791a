//! The one way a query runs: a cached statement, its rows mapped by a row
//! function, and any failure named with the data file and what was being
//! done. Reads ([`Store`]) and writes ([`Writer`]) share it.

use std::path::Path;

use rusqlite::types::FromSql;
use rusqlite::{Connection, OptionalExtension, Params, Row};

use super::{Store, StoreError, Writer, sql_error};

/// A connection with the path and action its errors are reported with.
pub(super) struct Sql<'a> {
    conn: &'a Connection,
    path: &'a Path,
    action: &'static str,
}

impl<'a> Sql<'a> {
    /// Queries on `conn`, their failures reported as `action` on `path`.
    pub fn new(conn: &'a Connection, path: &'a Path, action: &'static str) -> Sql<'a> {
        Sql { conn, path, action }
    }

    /// Every row, mapped by `map`, collected.
    pub fn rows<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<C, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params, map).map_err(|e| self.err(e))?;
        rows.collect::<Result<C, _>>().map_err(|e| self.err(e))
    }

    /// The first row, mapped by `map`; `None` when there is none.
    pub fn row<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.query_row(params, map)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The first column of the one row a query returns (a count, a sum).
    pub fn value<T: FromSql>(&self, sql: &str, params: impl Params) -> Result<T, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.query_row(params, |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Runs a statement; how many rows it changed.
    pub fn exec(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.execute(params).map_err(|e| self.err(e))
    }

    /// Runs several statements separated by semicolons (no parameters).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql_error(self.action, self.path, e)
    }
}

impl Store {
    /// The first column of every row, as text.
    pub(super) fn strings(
        &self,
        sql: &str,
        params: impl Params,
    ) -> Result<Vec<String>, StoreError> {
        self.sql().rows(sql, params, |r| r.get(0))
    }

    /// Queries, reported as reads of the data file.
    pub(super) fn sql(&self) -> Sql<'_> {
        Sql::new(&self.conn, &self.path, "read")
    }
}

impl Writer<'_> {
    /// Statements inside the write transaction, reported as `action`.
    pub(super) fn sql(&self, action: &'static str) -> Sql<'_> {
        Sql::new(&self.tx, &self.path, action)
    }
}
