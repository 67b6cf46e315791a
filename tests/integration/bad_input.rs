//! Bad input: a clear message naming the thing and the fix, exit code 2, and
//! nothing lost.

use crate::support::{Run, TestRepo};

fn assert_bad_input(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "{run:#?}");
    for n in needles {
        assert!(run.stderr.contains(n), "stderr lacks `{n}`:\n{run:#?}");
    }
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
}

/// A repository with imported data; returns it and the data file's bytes.
fn recorded() -> (TestRepo, Vec<u8>) {
    let repo = TestRepo::with_fixture("sample");
    repo.pytest_cov(&[]);
    repo.impact().args(["import", ".coverage"]).ok();
    let bytes = std::fs::read(repo.path().join(".impact.db")).unwrap();
    (repo, bytes)
}

#[test]
fn outside_a_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_impact"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
        .args(["status"])
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    assert_bad_input(&run, &["not a git repository"]);
}

#[test]
fn data_files_that_are_not_ours_are_refused_and_left_alone() {
    let repo = TestRepo::with_fixture("sample");
    let db = repo.path().join("data.db");

    std::fs::write(&db, "this is a text file, not a database\n").unwrap();
    let run = repo
        .impact()
        .args(["--db", "data.db", "who", "shop/x.py"])
        .run();
    assert_bad_input(&run, &["data.db", "not a SQLite database"]);
    assert_eq!(
        std::fs::read_to_string(&db).unwrap(),
        "this is a text file, not a database\n"
    );

    std::fs::remove_file(&db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
        .unwrap();
    drop(conn);
    let run = repo.impact().args(["--db", "data.db", "status"]).run();
    assert_bad_input(&run, &["data.db", "did not write"]);

    // A coverage.py data file passed as --db.
    repo.pytest_cov(&[]);
    let run = repo.impact().args(["--db", ".coverage", "status"]).run();
    assert_bad_input(&run, &[".coverage", "impact import"]);

    // A name coverage.py would delete.
    let run = repo
        .impact()
        .args(["--db", ".coverage.impact", "status"])
        .run();
    assert_bad_input(&run, &[".coverage.impact", "--db"]);
}

#[test]
fn corrupt_and_newer_data_files_are_refused_without_damage() {
    let (repo, _) = recorded();
    let db = repo.path().join(".impact.db");

    // Written by a newer impact.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let bytes = std::fs::read(&db).unwrap();
    let run = repo.impact().args(["who", "shop/pricing.py"]).run();
    assert_bad_input(&run, &[".impact.db", "newer impact", "upgrade"]);
    let run = repo.impact().args(["import", ".coverage"]).run();
    assert_bad_input(&run, &["newer impact"]);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "the data file must be untouched"
    );

    // Corrupt: keep the header, destroy the pages.
    let mut corrupt = bytes.clone();
    for b in corrupt.iter_mut().skip(100) {
        *b = 0x5a;
    }
    std::fs::write(&db, &corrupt).unwrap();
    let run = repo.impact().args(["who", "shop/pricing.py"]).run();
    assert_bad_input(&run, &[".impact.db"]);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        corrupt,
        "the data file must be untouched"
    );
}

#[test]
fn imports_that_cannot_work_write_nothing() {
    let (repo, bytes) = recorded();
    let db = repo.path().join(".impact.db");

    // Recorded without per-test contexts.
    let mut cmd = std::process::Command::new(crate::support::venv_python());
    crate::support::run_ok(
        cmd.current_dir(repo.path())
            .env("COVERAGE_FILE", "plain.coverage")
            .args(crate::support::PYTEST)
            .arg("--cov=shop"),
    );
    let run = repo.impact().args(["import", "plain.coverage"]).run();
    assert_bad_input(&run, &["plain.coverage", "--cov-context=test"]);

    // Not a coverage file at all, and a missing one.
    repo.write("notes.txt", "hello\n");
    let run = repo.impact().args(["import", "notes.txt"]).run();
    assert_bad_input(&run, &["notes.txt", "coverage"]);
    let run = repo.impact().args(["import", "missing.coverage"]).run();
    assert_bad_input(&run, &["missing.coverage"]);
    std::fs::create_dir(repo.path().join("cov.d")).unwrap();
    let run = repo.impact().args(["import", "cov.d"]).run();
    assert_bad_input(&run, &["cov.d", "it is not a file"]);

    // coverage.py's own file, altered: an older schema, then rows whose
    // context is gone.
    let altered = |name: &str, sql: &str| {
        let path = repo.path().join(name);
        std::fs::copy(repo.path().join(".coverage"), &path).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    };
    altered("old.coverage", "UPDATE coverage_schema SET version = 6");
    let run = repo.impact().args(["import", "old.coverage"]).run();
    assert_bad_input(&run, &["old.coverage", "schema version is 6", "7.x"]);
    altered(
        "torn.coverage",
        "PRAGMA foreign_keys = OFF; DELETE FROM context",
    );
    let run = repo.impact().args(["import", "torn.coverage"]).run();
    assert_bad_input(&run, &["torn.coverage", "inconsistent", "re-record"]);

    // A revision that does not exist.
    let run = repo
        .impact()
        .args(["import", "--rev", "no-such-branch", ".coverage"])
        .run();
    assert_bad_input(&run, &["no-such-branch"]);

    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "the data file must be untouched"
    );
}

#[test]
fn unknown_tests_and_paths_are_errors_with_suggestions() {
    let (repo, _) = recorded();
    let ids = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert!(ids["tests"].as_i64().unwrap() > 0);

    let run = repo
        .impact()
        .args(["show", "tests/test_nothing.py::test_typo"])
        .run();
    assert_bad_input(
        &run,
        &["unknown test id", "tests/test_nothing.py::test_typo"],
    );

    let run = repo.impact().args(["who", "shop/pricing.pyy"]).run();
    assert_bad_input(
        &run,
        &[
            "no recorded data",
            "shop/pricing.pyy",
            "did you mean",
            "shop/pricing.py",
        ],
    );

    let run = repo.impact().args(["who", "shop/pricing.py:0"]).run();
    assert_bad_input(&run, &["invalid line range"]);

    let run = repo.impact().args(["who", "/etc/passwd"]).run();
    assert_bad_input(&run, &["outside the repository"]);
}

#[test]
fn queries_without_data_say_how_to_record() {
    let repo = TestRepo::with_fixture("sample");
    let run = repo.impact().args(["who", "shop/pricing.py"]).run();
    assert_bad_input(&run, &["no data", "impact import"]);
    assert!(
        !repo.path().join(".impact.db").exists(),
        "a query must not create the data file"
    );
    let run = repo.impact().args(["status"]).ok();
    assert!(run.stderr.contains("no data"), "{run:#?}");
}
