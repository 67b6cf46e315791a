//! coverage.py's own tools read what impact records.

use crate::support::{TestRepo, run_ok, venv_python};

fn coverage(repo: &TestRepo, args: &[&str]) -> String {
    let out = run_ok(
        std::process::Command::new(venv_python())
            .current_dir(repo.path())
            .args(["-m", "coverage"])
            .args(args),
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn exported_data_reports_like_the_original() {
    let repo = TestRepo::with_fixture("sample");
    repo.pytest_cov(&[]);
    repo.impact().args(["import", ".coverage"]).ok();
    repo.impact()
        .args(["export", "--coverage", "exported.db"])
        .ok();

    // Per-test filtering through coverage.py's --contexts gives identical reports.
    let test_file = "test_pricing";
    let original_filtered = coverage(
        &repo,
        &[
            "report",
            "--data-file=.coverage",
            "--contexts",
            test_file,
            "--format=total",
        ],
    );
    let exported = coverage(
        &repo,
        &[
            "report",
            "--data-file=exported.db",
            "--contexts",
            test_file,
            "--format=total",
        ],
    );
    assert_eq!(original_filtered, exported);
    let everything = coverage(
        &repo,
        &["report", "--data-file=.coverage", "--format=total"],
    );
    assert_ne!(
        original_filtered, everything,
        "the context filter must matter"
    );
    let original = coverage(
        &repo,
        &["report", "--data-file=.coverage", "--show-missing"],
    );
    let exported = coverage(
        &repo,
        &["report", "--data-file=exported.db", "--show-missing"],
    );
    assert_eq!(original, exported);

    // coverage.py's JSON with contexts: same tests per line (impact labels are
    // node ids; pytest-cov adds a phase suffix).
    let out = coverage(
        &repo,
        &[
            "json",
            "--data-file=exported.db",
            "--show-contexts",
            "-o",
            "-",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = json["files"].as_object().unwrap();
    assert!(!files.is_empty());
    let any_contexts = files.values().any(|f| {
        f["contexts"].as_object().is_some_and(|c| {
            c.values().any(|v| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s.as_str().unwrap().contains("::"))
            })
        })
    });
    assert!(any_contexts, "exported data must carry per-test contexts");

    coverage(
        &repo,
        &[
            "html",
            "--data-file=exported.db",
            "--show-contexts",
            "-d",
            "htmlcov",
        ],
    );
    assert!(repo.path().join("htmlcov/index.html").exists());

    // The data file itself is readable by coverage.py too: its paths are
    // relative to the repository root, which coverage.py resolves with
    // `relative_files = true`.
    repo.write("relative.rc", "[run]\nrelative_files = true\n");
    let direct = coverage(
        &repo,
        &[
            "report",
            "--rcfile=relative.rc",
            "--data-file=.impact.db",
            "--show-missing",
        ],
    );
    assert_eq!(direct, exported);
    let direct = coverage(
        &repo,
        &[
            "report",
            "--rcfile=relative.rc",
            "--data-file=.impact.db",
            "--contexts",
            test_file,
            "--format=total",
        ],
    );
    assert_eq!(direct, original_filtered);
}
