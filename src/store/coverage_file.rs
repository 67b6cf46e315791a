//! coverage.py data files: reading one for `impact import`, writing one for
//! `impact export --coverage`.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::query::Sql;
use super::{Store, StoreError, schema, sql_error};
use crate::numbits;

/// Why a coverage.py data file cannot be read: each a reason fragment to
/// show after the file's name, with the fix.
#[derive(Debug, thiserror::Error)]
pub enum CoverageFileError {
    #[error("cannot read it ({0})")]
    Unreadable(std::io::Error),

    #[error("it is not a file")]
    NotAFile,

    #[error("cannot open it as SQLite ({0})")]
    NotSqlite(rusqlite::Error),

    #[error(
        "it is not a coverage.py data file ({0}); pass the `.coverage` file that \
         `coverage run` or pytest-cov wrote"
    )]
    NotCoverage(rusqlite::Error),

    #[error(
        "its coverage.py schema version is {found}, impact reads version {known}; \
         re-record it with coverage.py 7.x",
        known = schema::COVERAGE_SCHEMA_VERSION
    )]
    SchemaVersion { found: i64 },

    #[error(
        "it is inconsistent: a row names file id {file_id} or context id \
         {context_id}, which do not exist; re-record it"
    )]
    Inconsistent { file_id: i64, context_id: i64 },
}

use CoverageFileError::NotCoverage;

/// The line data of a coverage.py data file, as it stores it.
pub struct CoverageFile {
    /// Whether it was recorded in branch (arc) mode.
    pub has_arcs: bool,
    /// The coverage.py version that wrote it, when recorded.
    pub version: Option<String>,
    /// Measured paths, as stored (absolute unless `relative_files` was on).
    pub paths: Vec<String>,
    /// Context labels.
    pub contexts: Vec<String>,
    /// (index into `paths`, index into `contexts`, numbits) rows.
    pub rows: Vec<(usize, usize, Vec<u8>)>,
}

impl CoverageFile {
    /// Reads a coverage.py data file without writing to it.
    pub fn read(path: &Path) -> Result<CoverageFile, CoverageFileError> {
        let conn = open_checked(path)?;
        let meta = |key: &str| -> Result<Option<String>, CoverageFileError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(NotCoverage)
        };
        let has_arcs = meta("has_arcs")?.as_deref() == Some("1");
        let version = meta("version")?;
        let (paths, file_index) = id_table(&conn, "SELECT id, path FROM file ORDER BY id")?;
        let (contexts, context_index) =
            id_table(&conn, "SELECT id, context FROM context ORDER BY id")?;
        let lookup = |file_id: i64, context_id: i64| match (
            file_index.get(&file_id),
            context_index.get(&context_id),
        ) {
            (Some(&f), Some(&c)) => Ok((f, c)),
            _ => Err(CoverageFileError::Inconsistent {
                file_id,
                context_id,
            }),
        };
        let rows = if has_arcs {
            arc_rows(&conn, &lookup)?
        } else {
            line_rows(&conn, &lookup)?
        };
        Ok(CoverageFile {
            has_arcs,
            version,
            paths,
            contexts,
            rows,
        })
    }
}

type Row = (usize, usize, Vec<u8>);
type Lookup<'a> = dyn Fn(i64, i64) -> Result<(usize, usize), CoverageFileError> + 'a;

/// Opens a coverage.py data file read-only, once its schema version is one
/// impact reads.
fn open_checked(path: &Path) -> Result<Connection, CoverageFileError> {
    let meta = std::fs::metadata(path).map_err(CoverageFileError::Unreadable)?;
    if !meta.is_file() {
        return Err(CoverageFileError::NotAFile);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(CoverageFileError::NotSqlite)?;
    let version: i64 = conn
        .query_row("SELECT version FROM coverage_schema", [], |r| r.get(0))
        .map_err(NotCoverage)?;
    if version != schema::COVERAGE_SCHEMA_VERSION {
        return Err(CoverageFileError::SchemaVersion { found: version });
    }
    Ok(conn)
}

/// An (id, text) table in id order: the texts, and each id's index among them.
fn id_table(
    conn: &Connection,
    sql: &str,
) -> Result<(Vec<String>, std::collections::HashMap<i64, usize>), CoverageFileError> {
    let mut texts = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut stmt = conn.prepare(sql).map_err(NotCoverage)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(NotCoverage)?;
    for row in rows {
        let (id, text) = row.map_err(NotCoverage)?;
        index.insert(id, texts.len());
        texts.push(text);
    }
    Ok((texts, index))
}

/// Arc mode: the executed lines are the positive arc endpoints (negative
/// numbers mark entry to and exit from code objects).
fn arc_rows(conn: &Connection, lookup: &Lookup<'_>) -> Result<Vec<Row>, CoverageFileError> {
    let mut by_key: std::collections::BTreeMap<(usize, usize), Vec<u32>> = Default::default();
    let mut stmt = conn
        .prepare("SELECT file_id, context_id, fromno, tono FROM arc")
        .map_err(NotCoverage)?;
    let arcs = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(NotCoverage)?;
    for arc in arcs {
        let (f, c, from, to) = arc.map_err(NotCoverage)?;
        let lines = by_key.entry(lookup(f, c)?).or_default();
        for n in [from, to] {
            if let Ok(n) = u32::try_from(n)
                && n > 0
            {
                lines.push(n);
            }
        }
    }
    Ok(by_key
        .into_iter()
        .map(|((f, c), lines)| (f, c, numbits::encode(lines)))
        .collect())
}

/// Line mode: the stored numbits as they are.
fn line_rows(conn: &Connection, lookup: &Lookup<'_>) -> Result<Vec<Row>, CoverageFileError> {
    let mut stmt = conn
        .prepare("SELECT file_id, context_id, numbits FROM line_bits")
        .map_err(NotCoverage)?;
    let bits = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(NotCoverage)?;
    let mut rows = Vec::new();
    for row in bits {
        let (f, c, b) = row.map_err(NotCoverage)?;
        let (f, c) = lookup(f, c)?;
        rows.push((f, c, b));
    }
    Ok(rows)
}

/// The coverage.py version recorded in exported files' `meta` table: the
/// version whose schema-7 format we write.
const EXPORT_COVERAGE_VERSION: &str = "7.17.3";

/// Writes the line data as a clean coverage.py data file at `dest`, with
/// absolute paths under `root`. Written beside `dest` and renamed into place,
/// in rollback-journal mode, so coverage.py (which opens files immutable)
/// never sees a half-written or WAL-only file.
pub fn write_coverage_file(store: &Store, dest: &Path, root: &Path) -> Result<(), StoreError> {
    let tmp = dest.with_file_name(format!(
        "{}.impact-tmp",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "coverage".into())
    ));
    let _ = std::fs::remove_file(&tmp);
    // The file is created by its own connection: ATTACH inherits the open
    // flags of the data file's connection, which may not allow creating.
    let out = Connection::open(&tmp).map_err(|e| sql_error("export to", dest, e))?;
    Sql::new(&out, dest, "export to").batch(&format!(
        "CREATE TABLE coverage_schema (version integer);
         INSERT INTO coverage_schema VALUES ({version});
         CREATE TABLE meta (key text, value text, unique (key));
         INSERT INTO meta VALUES ('version', '{cov_version}'), ('has_arcs', '0');
         CREATE TABLE file (id integer primary key, path text, unique (path));
         CREATE TABLE context (id integer primary key, context text, unique (context));
         CREATE TABLE line_bits (file_id integer, context_id integer, numbits blob,
             unique (file_id, context_id));
         CREATE TABLE arc (file_id integer, context_id integer, fromno integer,
             tono integer, unique (file_id, context_id, fromno, tono));
         CREATE TABLE tracer (file_id integer primary key, tracer text);",
        version = schema::COVERAGE_SCHEMA_VERSION,
        cov_version = EXPORT_COVERAGE_VERSION,
    ))?;
    drop(out);
    let sql = Sql::new(store.conn(), dest, "export to");
    sql.exec("ATTACH DATABASE ?1 AS export", [tmp.to_string_lossy()])?;
    let root_prefix = format!("{}/", root.to_string_lossy().trim_end_matches('/'));
    let copied = sql
        .exec(
            "INSERT INTO export.file (id, path) SELECT id, ?1 || path FROM main.file",
            [&root_prefix],
        )
        .and_then(|_| {
            sql.batch(
                "INSERT INTO export.context (id, context) SELECT id, context FROM main.context;
                 INSERT INTO export.line_bits SELECT file_id, context_id, numbits
                     FROM main.line_bits WHERE length(numbits) > 0;",
            )
        });
    let detached = sql.exec("DETACH DATABASE export", []);
    if let Err(e) = copied.and(detached) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).map_err(|source| StoreError::Io {
        action: "move the export into place at",
        path: dest.to_owned(),
        source,
    })
}
