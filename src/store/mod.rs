//! The data file: opening and validating it, migrations, and every SQL query
//! in `impact` (the only module that uses rusqlite). Queries live with their
//! tables (`table/`) and all run through one helper (`query.rs`).
//!
//! One SQLite file per project holds coverage.py's schema-7 tables (so that
//! coverage.py can read it) and `impact`'s own tables beside them. Every write
//! goes through [`Store::write`], one transaction: an interrupted command
//! leaves the file as it was.

mod combine;
mod coverage_file;
mod functions;
mod query;
mod schema;
mod table;
mod write;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use query::Sql;

pub use combine::{ListName, Side, TestVersion};
pub use coverage_file::{CoverageFile, CoverageFileError, write_coverage_file};
pub use table::{
    Baseline, ByContent, Carried, FileLines, ImportTimeOf, RunKey, RunRow, RunWrite, Summary,
    TestRow, TestWrite,
};
pub use write::Writer;

/// Failures of the data file, each naming the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{} is not a SQLite database (it may be corrupt or another kind of file); \
         move it aside and record again with `impact run --full`",
        path.display()
    )]
    NotSqlite { path: PathBuf },

    #[error(
        "{} is a coverage.py data file, not impact's; import it with `impact import {}` \
         and point --db elsewhere",
        path.display(), path.display()
    )]
    CoverageFile { path: PathBuf },

    #[error(
        "{} is a SQLite database that impact did not write; pass another --db path",
        path.display()
    )]
    Foreign { path: PathBuf },

    #[error(
        "{} was written by a newer impact (schema {found}, this impact knows up to {known}); \
         upgrade impact, or use another --db path",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error(
        "{} is corrupt; move it aside and record again with `impact run --full`",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("failed to read {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to {action} {}", path.display())]
    Sqlite {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Whether this is an unexpected failure rather than bad input.
    pub fn is_internal(&self) -> bool {
        matches!(self, StoreError::Sqlite { .. } | StoreError::Io { .. })
    }
}

/// An open, validated impact data file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// Opens an existing data file; `None` when there is no file at `path`.
    pub fn open(path: &Path) -> Result<Option<Store>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        check_sqlite_header(path)?;
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        match store.classify()? {
            Kind::Ours(version) if version > schema::MIGRATIONS.len() as i64 => {
                Err(StoreError::Newer {
                    path: path.to_owned(),
                    found: version,
                    known: schema::MIGRATIONS.len() as i64,
                })
            }
            Kind::Ours(_) => {
                store.migrate()?;
                Ok(Some(store))
            }
            Kind::Empty => {
                store.migrate()?;
                Ok(Some(store))
            }
            Kind::Coverage => Err(StoreError::CoverageFile {
                path: path.to_owned(),
            }),
            Kind::Foreign => Err(StoreError::Foreign {
                path: path.to_owned(),
            }),
        }
    }

    /// Opens the data file, creating it when it does not exist.
    pub fn open_or_create(path: &Path) -> Result<Store, StoreError> {
        if let Some(store) = Store::open(path)? {
            return Ok(store);
        }
        let conn = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A read transaction that lasts until the guard is dropped: every read
    /// through this store sees one snapshot of the data (a concurrent
    /// `impact run` commits before or after it, never between two reads),
    /// and the file is locked once instead of once per query.
    pub fn snapshot(&self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Deferred)
            .map_err(|e| sql_error("start reading", &self.path, e))
    }

    /// Another connection to a data file that [`Store::open`] opened,
    /// checked and migrated, for reading only: for a thread of its own (a
    /// connection serves one thread at a time). Its reads form one
    /// snapshot, as with [`Store::snapshot`], until it is dropped.
    pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.execute_batch("BEGIN DEFERRED")
            .map_err(|e| sql_error("start reading", path, e))?;
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    /// The path of the data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one immediate transaction; nothing is written if it fails.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_error("start a transaction on", &path, e))?;
        let mut writer = Writer::new(tx, path.clone());
        let value = f(&mut writer)?;
        writer.commit()?;
        Ok(value)
    }

    fn classify(&self) -> Result<Kind, StoreError> {
        let app_id: i32 = self.pragma("application_id")?;
        let version: i64 = self.pragma("user_version")?;
        if app_id == schema::APPLICATION_ID {
            return Ok(Kind::Ours(version));
        }
        let tables = self.strings("SELECT name FROM sqlite_master WHERE type = 'table'", [])?;
        if tables.is_empty() {
            Ok(Kind::Empty)
        } else if tables.iter().any(|t| t == "coverage_schema") {
            Ok(Kind::Coverage)
        } else {
            Ok(Kind::Foreign)
        }
    }

    fn pragma<T: rusqlite::types::FromSql>(&self, name: &str) -> Result<T, StoreError> {
        self.sql().value(&format!("PRAGMA {name}"), [])
    }

    /// Applies the migrations not yet applied, in one immediate transaction
    /// (a concurrent impact that migrated first leaves nothing to do).
    fn migrate(&self) -> Result<(), StoreError> {
        let path = &self.path;
        let current: i64 = self.pragma("user_version")?;
        if current as usize >= schema::MIGRATIONS.len() {
            return Ok(());
        }
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| sql_error("start a migration of", path, e))?;
        let migrate = Sql::new(&tx, path, "migrate");
        // Read again inside the transaction: another impact may have migrated.
        let current: i64 = migrate.value("PRAGMA user_version", [])?;
        for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
            migrate.batch(sql)?;
            migrate.batch(&format!("PRAGMA user_version = {}", index + 1))?;
        }
        migrate.batch(&format!(
            "PRAGMA application_id = {}",
            schema::APPLICATION_ID
        ))?;
        tx.commit().map_err(|e| sql_error("migrate", path, e))?;
        let applied = current as usize + 1..=schema::MIGRATIONS.len();
        if current > 0 && schema::VACUUM_AFTER.iter().any(|m| applied.contains(m)) {
            Sql::new(&self.conn, path, "compact").batch("VACUUM")?;
        }
        Ok(())
    }

    fn conn(&self) -> &Connection {
        &self.conn
    }
}

enum Kind {
    Ours(i64),
    Empty,
    Coverage,
    Foreign,
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| sql_error("open", path, e))?;
    // Concurrent impact commands (an editor hook and a terminal) wait briefly
    // for each other instead of failing with "database is locked".
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| sql_error("configure", path, e))?;
    functions::register(&conn).map_err(|e| sql_error("configure", path, e))?;
    // Every query is a cached statement (store::query); one selection asks
    // a few dozen kinds, more than rusqlite's default of 16 keeps.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// SQLite accepts an empty file as an empty database; anything else must carry
/// the SQLite header, so that a stray text file is reported, not overwritten.
fn check_sqlite_header(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|source| StoreError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => {
                return Err(StoreError::Unreadable {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    if read == 0 || &header == SQLITE_MAGIC {
        Ok(())
    } else {
        Err(StoreError::NotSqlite {
            path: path.to_owned(),
        })
    }
}

fn sql_error(action: &'static str, path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotSqlite {
            path: path.to_owned(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_owned(),
            source: e,
        },
        _ => StoreError::Sqlite {
            action,
            path: path.to_owned(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_twice_without_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        let store = Store::open_or_create(&path).unwrap();
        let v: i64 = store.pragma("user_version").unwrap();
        assert_eq!(v, schema::MIGRATIONS.len() as i64);
        store.migrate().unwrap();
        drop(store);
        let store = Store::open(&path).unwrap().expect("file exists");
        let v2: i64 = store.pragma("user_version").unwrap();
        assert_eq!(v2, v);
        let schema_version: i64 = store
            .conn
            .query_row("SELECT version FROM coverage_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(schema_version, schema::COVERAGE_SCHEMA_VERSION);
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM coverage_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "the migration must not be re-applied");
    }

    /// A file written before line_bits was clustered by file keeps every
    /// row through the rebuild, and is compacted afterwards.
    #[test]
    fn line_bits_rebuilt_by_file_keep_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &schema::MIGRATIONS[..9] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 9).unwrap();
            conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
                .unwrap();
            conn.execute_batch("BEGIN").unwrap();
            for f in 0..20i64 {
                conn.execute(
                    "INSERT INTO file (id, path) VALUES (?1, ?2)",
                    rusqlite::params![f, format!("m{f}.py")],
                )
                .unwrap();
            }
            for c in 0..300i64 {
                conn.execute(
                    "INSERT INTO context (id, context) VALUES (?1, ?2)",
                    rusqlite::params![c, format!("t.py::t{c}")],
                )
                .unwrap();
            }
            let mut ins = conn
                .prepare("INSERT INTO line_bits (file_id, context_id, numbits) VALUES (?1, ?2, ?3)")
                .unwrap();
            for c in 0..300i64 {
                for f in 0..20i64 {
                    ins.execute(rusqlite::params![f, c, vec![(c % 251) as u8; 64]])
                        .unwrap();
                }
            }
            drop(ins);
            conn.execute_batch("COMMIT").unwrap();
        }
        let rows = |store: &Store| -> Vec<(i64, i64, Vec<u8>)> {
            let mut stmt = store
                .conn
                .prepare("SELECT file_id, context_id, numbits FROM line_bits ORDER BY 1, 2")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let store = Store::open(&path).unwrap().expect("file exists");
        let after = rows(&store);
        assert_eq!(after.len(), 6_000);
        assert!(
            after
                .iter()
                .all(|(f, c, b)| (0..20).contains(f) && b == &vec![(c % 251) as u8; 64])
        );
        let sql: String = store
            .conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'line_bits'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        let free: i64 = store.pragma("freelist_count").unwrap();
        assert_eq!(free, 0, "vacuumed after the rebuild");
        // A duplicate row is refused as before (coverage.py's unique key).
        assert!(
            store
                .conn
                .execute(
                    "INSERT INTO line_bits (file_id, context_id, numbits) VALUES (1, 1, x'01')",
                    []
                )
                .is_err()
        );
    }

    #[test]
    fn reads_are_replaced_with_their_test_and_removed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_or_create(&dir.path().join("data.db")).unwrap();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let record = |store: &mut Store, reads: &[&str]| {
            store
                .write(|w| {
                    let run = w.add_run(&RunWrite {
                        kind: "run",
                        started_at: "2024-01-01T00:00:00Z",
                        commit: None,
                        command: "pytest",
                        tests: 1,
                        files: 0,
                    })?;
                    w.replace_test(
                        &TestWrite {
                            nodeid: "t.py::a",
                            outcome: Some("passed"),
                            duration: None,
                            lines: &[],
                            spawns: None,
                        },
                        run,
                    )?;
                    w.replace_reads("t.py::a", &strings(reads))
                })
                .unwrap();
        };
        record(&mut store, &["data/a.json", "data/b.json"]);
        assert_eq!(store.readers("data/a.json").unwrap(), ["t.py::a"]);
        record(&mut store, &["data/b.json"]);
        assert!(store.readers("data/a.json").unwrap().is_empty());
        assert_eq!(store.reads_of("t.py::a").unwrap(), ["data/b.json"]);

        store
            .write(|w| {
                w.set_scope_reads("t.py", &strings(&["data/c.json"]), true)?;
                w.set_scope_reads("", &strings(&["x.ini"]), false)?;
                w.set_scope_reads("", &strings(&["y.ini"]), false)
            })
            .unwrap();
        assert_eq!(store.scope_readers("x.ini").unwrap(), [""]);
        assert_eq!(store.scope_readers("y.ini").unwrap(), [""]);
        store
            .write(|w| w.set_scope_reads("t.py", &[], true))
            .unwrap();
        assert!(store.scope_readers("data/c.json").unwrap().is_empty());

        store
            .write(|w| w.remove_tests(&strings(&["t.py::a"])))
            .unwrap();
        assert!(store.readers("data/b.json").unwrap().is_empty());
        assert_eq!(store.read_paths().unwrap(), ["x.ini", "y.ini"]);
    }

    #[test]
    fn rejects_files_that_are_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not sqlite at all").unwrap();
        assert!(matches!(
            Store::open(&text),
            Err(StoreError::NotSqlite { .. })
        ));
        assert_eq!(
            std::fs::read(&text).unwrap(),
            b"hello, this is not sqlite at all"
        );

        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            Store::open(&foreign),
            Err(StoreError::Foreign { .. })
        ));

        let newer = dir.path().join("newer.db");
        drop(Store::open_or_create(&newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 999)
            .unwrap();
        assert!(matches!(
            Store::open(&newer),
            Err(StoreError::Newer { found: 999, .. })
        ));
    }
}
