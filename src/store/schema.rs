//! The schema of the data file, as an append-only list of migrations.
//!
//! The first tables are coverage.py's schema 7, so that coverage.py's own tools
//! read our file; `impact_*` tables sit beside them (coverage.py tolerates extra
//! tables when reporting). `PRAGMA user_version` counts the migrations applied
//! and `PRAGMA application_id` marks the file as ours. Never edit a migration
//! that has shipped: append a new one.

/// `PRAGMA application_id` of an impact data file: "impc".
pub const APPLICATION_ID: i32 = 0x696d_7063;

/// The coverage.py schema version whose tables we write.
pub const COVERAGE_SCHEMA_VERSION: i64 = 7;

/// Migrations, applied in order; `user_version` is the number applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: coverage.py schema 7, plus impact's tests, sources, baselines and runs.
    r#"
    CREATE TABLE coverage_schema (version integer);
    INSERT INTO coverage_schema (version) VALUES (7);
    CREATE TABLE meta (key text, value text, unique (key));
    INSERT INTO meta (key, value) VALUES ('has_arcs', '0');
    CREATE TABLE file (id integer primary key, path text, unique (path));
    CREATE TABLE context (id integer primary key, context text, unique (context));
    CREATE TABLE line_bits (
        file_id integer,
        context_id integer,
        numbits blob,
        foreign key (file_id) references file (id),
        foreign key (context_id) references context (id),
        unique (file_id, context_id)
    );
    CREATE TABLE arc (
        file_id integer,
        context_id integer,
        fromno integer,
        tono integer,
        foreign key (file_id) references file (id),
        foreign key (context_id) references context (id),
        unique (file_id, context_id, fromno, tono)
    );
    CREATE TABLE tracer (
        file_id integer primary key,
        tracer text,
        foreign key (file_id) references file (id)
    );
    -- line_bits is unique on (file_id, context_id); queries by test need this one.
    CREATE INDEX impact_line_bits_context ON line_bits (context_id);

    CREATE TABLE impact_meta (key text primary key, value text not null);

    -- Every test the data knows, also those that executed no measured line.
    CREATE TABLE impact_test (
        id integer primary key,
        nodeid text not null unique,
        outcome text,              -- passed | failed | error | skipped | NULL (unknown)
        duration real,             -- seconds, NULL when unknown
        needs_run integer not null default 0,  -- 1: its data is stale or incomplete
        last_run integer references impact_run (id)
    );

    -- Source contents, keyed by git blob id, so that the data stays usable in a
    -- clone that lacks the commit it was recorded on.
    CREATE TABLE impact_source (
        blob_id text primary key,
        content blob not null
    );

    -- What content the recorded line numbers of each file refer to.
    CREATE TABLE impact_baseline (
        file_id integer primary key references file (id),
        blob_id text not null references impact_source (blob_id)
    );

    CREATE TABLE impact_run (
        id integer primary key,
        kind text not null,        -- import | run | full
        started_at text not null,  -- RFC 3339, UTC
        commit_id text,            -- HEAD when recorded, NULL on an unborn branch
        command text not null,
        tests integer not null,
        files integer not null
    );
    "#,
    // 2: per-file static facts from the Python parser, for selection: which
    // lines reference each identifier (so a changed definition finds the tests
    // whose executed lines name it), and which modules each file imports.
    r#"
    CREATE TABLE impact_ref (
        file_id integer not null references file (id),
        name text not null,
        numbits blob not null,
        unique (file_id, name)
    );
    CREATE INDEX impact_ref_name ON impact_ref (name);
    CREATE TABLE impact_import (
        file_id integer not null references file (id),
        module text not null,
        unique (file_id, module)
    );
    -- Which baseline the facts above were computed from.
    CREATE TABLE impact_facts (
        file_id integer primary key references file (id),
        blob_id text not null
    );
    "#,
    // 3: tests a selection skipped since the last full run, and the change in
    // effect when they were first skipped: a full run reports those that fail
    // as possible misses.
    r#"
    ALTER TABLE impact_test ADD COLUMN skipped_since_full integer not null default 0;
    ALTER TABLE impact_test ADD COLUMN skipped_note text;
    "#,
    // 4: the fixtures each test used (pytest's fixture closure), recorded by
    // `impact run`: a changed fixture selects exactly its users.
    r#"
    CREATE TABLE impact_test_fixture (
        test_id integer not null references impact_test (id),
        fixture text not null,
        unique (test_id, fixture)
    );
    CREATE INDEX impact_test_fixture_name ON impact_test_fixture (fixture);
    "#,
    // 5: per file, what code naming an identifier binds or carries (`B = A`,
    // a cached function or fixture naming it), so that selection follows
    // changed names without parsing unchanged files. Facts are recomputed
    // for files as they are recorded again.
    r#"
    CREATE TABLE impact_carry (
        file_id integer not null references file (id),
        name text not null,
        carried text not null,
        unique (file_id, name, carried)
    );
    CREATE INDEX impact_carry_name ON impact_carry (name);
    DELETE FROM impact_facts;
    "#,
    // 6: files inside the repository that tests opened for reading (data
    // files, templates, configuration), recorded by `impact run` through
    // Python's audit hook: per test, and per scope for reads outside tests
    // (a collector's node id while it was collected, e.g. a test module
    // reading a file at import; '' outside any test and collector).
    r#"
    CREATE TABLE impact_test_read (
        test_id integer not null references impact_test (id),
        path text not null,
        unique (test_id, path)
    );
    CREATE INDEX impact_test_read_path ON impact_test_read (path);
    CREATE TABLE impact_scope_read (
        scope text not null,
        path text not null,
        unique (scope, path)
    );
    CREATE INDEX impact_scope_read_path ON impact_scope_read (path);
    "#,
    // 7: what `impact run --observe` found (JSON: the selection it would
    // have made, would-be misses, time it would have saved), on the run's row.
    r#"
    ALTER TABLE impact_run ADD COLUMN observation text;
    "#,
    // 8: the tokens inside string literals of a recorded test file or conftest, by
    // content ("line\ttoken" lines), so that `impact select` need not read
    // every unchanged test file to find modules and files named in strings.
    // A cache: a missing row means the file is read.
    r#"
    CREATE TABLE impact_quoted (
        blob_id text primary key,
        tokens text not null
    );
    "#,
    // 9: per recorded Python content, its outline (top-level statement
    // spans, definitions, names referenced at import and under `__main__`),
    // so that `impact select` parses only the changed regions of a file. A
    // cache: a missing row, or an empty outline (syntax errors), means the
    // file is parsed whole.
    r#"
    CREATE TABLE impact_outline (
        blob_id text primary key,
        outline text not null
    );
    "#,
    // 10: line_bits clustered by file: a WITHOUT ROWID table keyed on
    // (file_id, context_id), so that the rows of one file (what selection
    // reads per changed file) sit together instead of one page per row.
    // coverage.py's own queries read it as before. Rows are copied in key
    // order; the old table's pages are reclaimed by the VACUUM that follows
    // this migration (see `VACUUM_AFTER`).
    r#"
    CREATE TABLE impact_line_bits_by_file (
        file_id integer,
        context_id integer,
        numbits blob,
        foreign key (file_id) references file (id),
        foreign key (context_id) references context (id),
        primary key (file_id, context_id)
    ) WITHOUT ROWID;
    INSERT INTO impact_line_bits_by_file (file_id, context_id, numbits)
        SELECT file_id, context_id, numbits FROM line_bits ORDER BY file_id, context_id;
    DROP TABLE line_bits;
    ALTER TABLE impact_line_bits_by_file RENAME TO line_bits;
    CREATE INDEX impact_line_bits_context ON line_bits (context_id);
    "#,
    // 11: what the references of a file denote, where its imports and
    // definitions tell (identifier, qualified target, lines), and the names
    // each file defines itself, so that a changed definition leaves out
    // references that provably name another module's own one; and which
    // facts format a file's facts were
    // computed with (2 has targets; older facts are recomputed when the
    // file is recorded again, and are used as they are until then).
    r#"
    CREATE TABLE impact_ref_target (
        file_id integer not null references file (id),
        name text not null,
        target text not null,
        numbits blob not null,
        primary key (file_id, name, target)
    ) WITHOUT ROWID;
    CREATE INDEX impact_ref_target_name ON impact_ref_target (name);
    -- The names each file defines itself (by a definition, not an import;
    -- none in a file with a star import or syntax errors).
    CREATE TABLE impact_own (
        name text not null,
        file_id integer not null references file (id),
        primary key (name, file_id)
    ) WITHOUT ROWID;
    CREATE INDEX impact_own_file ON impact_own (file_id);
    ALTER TABLE impact_facts ADD COLUMN version integer not null default 1;
    -- The lines of the statements that carry a name (NULL before: they
    -- count wherever the name is referenced).
    ALTER TABLE impact_carry ADD COLUMN numbits blob;
    "#,
    // 12: whether a test started a program that is not Python (1), where a
    // Python process may have run unmeasured, or not (0); NULL when not
    // recorded (coverage.py's data, or recorded before).
    r#"
    ALTER TABLE impact_test ADD COLUMN spawns integer;
    "#,
    // 13: per recorded test-side content, the lines where each word occurs
    // (numbits), so that `impact select` finds a name's mentions in test
    // files without reading and indexing every one of them. A cache: a
    // content without its impact_side_indexed row is read and scanned.
    r#"
    CREATE TABLE impact_side_word (
        word text not null,
        blob_id text not null,
        numbits blob not null,
        primary key (word, blob_id)
    ) WITHOUT ROWID;
    CREATE TABLE impact_side_indexed (
        blob_id text primary key
    );
    "#,
    // 14: per recorded test-side content at its path, what a mention on
    // each line means (python::mentions::Mentions, JSON, of `version`), and
    // per word what its mentions denote where the file's bindings tell, so
    // that `impact select` need not parse the test files that mention a
    // changed name. A cache: a missing row, or another version, means the
    // file is parsed.
    r#"
    CREATE TABLE impact_side_mentions (
        blob_id text not null,
        path text not null,
        version integer not null,
        mentions text not null,
        primary key (blob_id, path)
    );
    CREATE TABLE impact_side_target (
        word text not null,
        blob_id text not null,
        path text not null,
        targets text not null,
        primary key (word, blob_id, path)
    ) WITHOUT ROWID;
    "#,
    // 15: which of a file's import-time lines (the empty context, which
    // keeps them all) ran while a test module was imported, by that
    // module's path, and which ran otherwise (module ''): a line only a
    // test module's import ran reaches that module's tests, not every
    // importer of the file. A file without rows is not attributed.
    r#"
    CREATE TABLE impact_import_by (
        file_id integer not null,
        module text not null,
        numbits blob not null,
        primary key (file_id, module)
    ) WITHOUT ROWID;
    "#,
];

/// The facts format [`crate::python::facts::compute`] writes (see migration 11).
pub const FACTS_VERSION: i64 = 2;

/// Migrations that rewrite a large table: when one of them was applied, the
/// file is vacuumed afterwards, so that it does not keep the old table's
/// pages as free space.
pub const VACUUM_AFTER: &[usize] = &[10];
