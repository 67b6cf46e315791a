//! Child processes: code a test runs in a subprocess, a multiprocessing child
//! (fork and spawn), an `os.fork` child, a console script, and a server shared
//! by several tests is recorded under the test that drove it. Each case changes
//! a line only the child runs, in a way that breaks the test, and checks that
//! exactly that test is selected and fails.

use crate::support::impact_run_command;
use crate::support::{TestRepo, copy_dir, project_dir, venv_python};

/// The sample project with `fixtures/children` copied over it, recorded by
/// `impact run` with a short save interval for child processes.
fn recorded() -> TestRepo {
    let mut repo = TestRepo::with_fixture("sample");
    copy_dir(&project_dir().join("fixtures/children"), repo.path());
    let pyproject = repo.read("pyproject.toml");
    repo.write(
        "pyproject.toml",
        &format!("{pyproject}\n[tool.impact]\nchild_save_interval = 0.2\n"),
    );
    repo.commit_all("children");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("54 passed"), "{run:#?}");
    assert!(!run.stderr.contains("warning"), "{run:#?}");
    repo
}

/// The ids `impact select` picks for the work tree.
fn selected(repo: &TestRepo) -> Vec<String> {
    let json = repo
        .impact()
        .args(["select", "--format", "json"])
        .ok()
        .json();
    assert_eq!(json["mode"], "selected", "{json:#}");
    serde_json::from_value(json["tests"].clone()).unwrap()
}

/// Applies a breaking change to a line only a child runs; checks that exactly
/// `test` is selected and that it fails under the change; then reverts.
fn breaks_only(repo: &TestRepo, file: &str, find: &str, replace: &str, test: &str) {
    repo.replace(file, find, replace);
    assert_eq!(
        selected(repo),
        vec![test.to_string()],
        "changing `{find}` in {file}"
    );
    let out = std::process::Command::new(venv_python())
        .current_dir(repo.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(crate::support::PYTEST)
        .arg(test)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the change must break {test}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    repo.git(&["checkout", "--", file]);
}

#[test]
fn lines_run_by_child_processes_select_the_test_that_started_them() {
    let repo = recorded();
    let cases = [
        ("return n * n  #", "return n * n + 1  #", "test_subprocess"),
        (
            "queue.put(n * 3)",
            "queue.put(n * 3 + 1)",
            "test_multiprocessing_fork",
        ),
        (
            "queue.put(n * 4)",
            "queue.put(n * 4 + 1)",
            "test_multiprocessing_spawn",
        ),
        ("return n * 5", "return n * 5 + 1", "test_os_fork"),
        ("return n * 6", "return n * 6 + 1", "test_console_script"),
    ];
    for (find, replace, test) in cases {
        breaks_only(
            &repo,
            "shop/workers.py",
            find,
            replace,
            &format!("tests/test_children.py::{test}"),
        );
    }
    // The process that ran the line replaced itself with os.execv.
    breaks_only(
        &repo,
        "shop/relay.py",
        "int(sys.argv[1]) * 2",
        "int(sys.argv[1]) * 3",
        "tests/test_children.py::test_exec",
    );
    assert!(
        repo.git(&["status", "--porcelain", "--ignored"])
            .lines()
            .all(|l| l.contains(".impact.db")),
        "nothing but the data file appears in the work tree"
    );
}

#[test]
fn a_shared_server_counts_for_the_test_running_not_the_one_that_started_it() {
    let repo = recorded();
    // `test_server_names` started the session server; `test_server_prices`
    // only talks to it.
    breaks_only(
        &repo,
        "shop/server.py",
        ".name.upper()",
        ".name.lower()",
        "tests/test_server.py::test_server_names",
    );
    breaks_only(
        &repo,
        "shop/server.py",
        "return f\"{product.name}: ",
        "return f\"{product.name} = ",
        "tests/test_server.py::test_server_prices",
    );
    // The server stopped by SIGKILL: what it ran was saved periodically.
    breaks_only(
        &repo,
        "shop/server.py",
        "return \"shop-server 1\"",
        "return \"shop-server 2\"",
        "tests/test_server.py::test_server_killed",
    );
}

#[test]
fn a_child_that_cannot_be_measured_is_reported() {
    let repo = TestRepo::with_fixture("sample");
    // A child whose `coverage` import fails: it runs on, unmeasured, and the
    // run says so instead of pretending its lines were seen.
    repo.write(
        "tests/test_blind_child.py",
        "import os, subprocess, sys\n\n\
         def test_blind_child(tmp_path):\n    \
             (tmp_path / 'coverage.py').write_text(\"raise ImportError('no coverage here')\")\n    \
             env = dict(os.environ)\n    \
             env['PYTHONPATH'] = os.pathsep.join([env.get('PYTHONPATH', ''), str(tmp_path)])\n    \
             done = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], env=env, capture_output=True, text=True)\n    \
             assert done.stdout == '42\\n', done.stderr\n",
    );
    let run = impact_run_command(&repo, &[], &["tests/test_blind_child.py"]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr
            .contains("a child process was not fully measured")
            && run.stderr.contains("no coverage here"),
        "{run:#?}"
    );
}

#[test]
fn children_impact_cannot_measure_are_flagged_or_caught_by_the_string_rule() {
    let mut repo = TestRepo::with_fixture("sample");
    // Two children impact cannot measure: one started with `env=` that drops
    // its PYTHONPATH (seen: the test is marked incomplete), one behind
    // `env -i` (not seen: only the test's mention of the module in a string
    // can select it).
    repo.write(
        "tests/test_bare_child.py",
        "import os, subprocess, sys\nfrom pathlib import Path\n\n\
         ROOT = Path(__file__).resolve().parents[1]\n\n\
         def test_bare_child():\n    \
             done = subprocess.run([sys.executable, '-m', 'shop.cli', 'total', '2'],\n        \
             env={'PATH': os.environ['PATH']}, cwd=ROOT, capture_output=True, text=True, check=True)\n    \
             assert done.stdout.splitlines()[0] == 'Subtotal: 2.00 EUR'\n\n\
         def test_wrapped_child():\n    \
             done = subprocess.run(['env', '-i', 'PATH=' + os.environ['PATH'], sys.executable,\n        \
             '-m', 'shop.cli', 'total', '2'], cwd=ROOT, capture_output=True, text=True, check=True)\n    \
             assert done.stdout.splitlines()[0] == 'Subtotal: 2.00 EUR'\n",
    );
    repo.commit_all("bare children");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    let bare = "tests/test_bare_child.py::test_bare_child".to_string();
    let wrapped = "tests/test_bare_child.py::test_wrapped_child".to_string();
    assert!(
        run.stderr.contains(&format!(
            "{bare} started a Python process impact cannot measure"
        )),
        "{run:#?}"
    );
    assert!(
        !run.stderr.contains(&format!("{wrapped} started")),
        "{run:#?}"
    );
    // The test file's string tokens are stored with its recorded content.
    let tokens: String = repo.data_value(
        "SELECT q.tokens FROM impact_quoted q JOIN impact_baseline b ON b.blob_id = q.blob_id
         JOIN file f ON f.id = b.file_id WHERE f.path = 'tests/test_bare_child.py'",
    );
    assert!(tokens.contains("\tshop.cli\n"), "{tokens}");

    // Any change: the incomplete test runs, the other does not.
    repo.replace(
        "shop/payments.py",
        "class PaymentDeclined(Exception):",
        "class PaymentDeclined(Exception):\n    code = 402",
    );
    let json = repo
        .impact()
        .args(["select", "--format", "json", "--explain"])
        .ok()
        .json();
    let tests: Vec<String> = serde_json::from_value(json["tests"].clone()).unwrap();
    assert!(
        tests.contains(&bare) && !tests.contains(&wrapped),
        "{json:#}"
    );
    assert!(
        json["explain"][&bare]
            .to_string()
            .contains("stale or incomplete"),
        "{json:#}"
    );
    repo.git(&["checkout", "--", "shop/payments.py"]);

    // A change only the unseen child runs: selected through the stored
    // tokens (the test file is unchanged, so it is not read).
    repo.replace("shop/cli.py", "print(f\"Subtotal: ", "print(f\"Sub-total: ");
    assert!(selected(&repo).contains(&wrapped));
    // The test file changed too: read from the work tree, still found.
    repo.replace(
        "tests/test_bare_child.py",
        "def test_wrapped_child():",
        "def test_wrapped_child():  # edited",
    );
    assert!(selected(&repo).contains(&wrapped));
}
