//! `impact run` end to end: real pytest with the embedded plugin on copies of
//! the sample project in temporary git repositories.

use crate::support::{
    PYTEST, Run, TestRepo, impact_run_command, plant_invisible_reader, venv_python,
};

fn impact_run(repo: &TestRepo, flags: &[&str], pytest_args: &[&str]) -> Run {
    impact_run_command(repo, flags, pytest_args).run()
}

fn status(repo: &TestRepo) -> serde_json::Value {
    repo.impact()
        .args(["status", "--format", "json"])
        .ok()
        .json()
}

#[test]
fn records_everything_first_then_runs_only_what_a_change_affects() {
    let repo = TestRepo::with_fixture("sample");
    let first = impact_run(&repo, &[], &[]);
    assert_eq!(first.code, 0, "{first:#?}");
    assert!(
        first.stderr.contains("running all tests (recording with ")
            && first.stderr.contains("): no data yet"),
        "{first:#?}"
    );
    // The first line names the recorder: impact's own on sys.monitoring
    // where the interpreter has it (3.12+), coverage.py's C tracer before.
    let version = crate::support::python_version();
    let recorder = if version >= (3, 12) {
        "sys.monitoring"
    } else {
        "coverage.py's C tracer"
    };
    assert!(
        first
            .stderr
            .lines()
            .next()
            .unwrap_or_default()
            .contains(&format!(
                "recording with {recorder} on Python {}.{}",
                version.0, version.1
            )),
        "{first:#?}"
    );
    assert!(first.stdout.contains("45 passed"), "{first:#?}");
    let s = status(&repo);
    assert_eq!(
        s["tests"], 45,
        "tests without measured lines are known too: {s:#}"
    );
    assert_eq!(s["last_run"]["kind"], "full");
    assert!(
        repo.git(&["status", "--porcelain", "--ignored"])
            .lines()
            .all(|l| l.contains(".impact.db")),
        "nothing but the data file appears in the work tree"
    );

    // Nothing changed: no test runs.
    let idle = impact_run(&repo, &[], &[]);
    assert_eq!(idle.code, 0, "{idle:#?}");
    assert!(idle.stderr.contains("nothing affected"), "{idle:#?}");
    assert_eq!(idle.stdout, "");

    // A bug in a function body: the affected tests run (and fail), the rest
    // are deselected by pytest itself; the exit status is pytest's.
    repo.replace(
        "shop/inventory.py",
        "if self.available(sku) < quantity:",
        "if self.available(sku) <= quantity:",
    );
    let run = impact_run(&repo, &[], &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("deselected"), "{run:#?}");
    assert!(run.stdout.contains("1 failed"), "{run:#?}");
    assert!(
        run.stderr.contains("tests affected by 1 changed file"),
        "{run:#?}"
    );

    // The failing test runs again until it passes.
    let again = impact_run(&repo, &[], &["-rf"]);
    assert!(again.stdout.contains("1 failed"), "{again:#?}");
    repo.git(&["checkout", "--", "shop/inventory.py"]);
    let fixed = impact_run(&repo, &[], &[]);
    assert_eq!(fixed.code, 0, "{fixed:#?}");
    let after = impact_run(&repo, &[], &[]);
    assert!(after.stderr.contains("nothing affected"), "{after:#?}");
}

#[test]
fn a_new_test_runs_and_a_session_fixture_change_selects_its_users() {
    let repo = TestRepo::with_fixture("sample");
    assert_eq!(impact_run(&repo, &[], &[]).code, 0);
    repo.write(
        "tests/test_new.py",
        "def test_brand_new():\n    assert True\n",
    );
    let run = impact_run(&repo, &[], &[]);
    assert!(run.stdout.contains("1 passed"), "{run:#?}");
    // Counted apart from the known suite: a selection never reads as more
    // than the suite.
    assert!(
        run.stderr.contains("0 of 45 tests and 1 new affected"),
        "{run:#?}"
    );

    // The session-scoped `inventory` fixture: every test using it, not only
    // the first one that ran its body.
    let conftest = repo.read("tests/conftest.py");
    let users: Vec<&str> = [
        "test_cart_can_be_reserved",
        "test_opening_stock",
        "test_every_product_is_in_stock",
    ]
    .into_iter()
    .collect();
    assert!(conftest.contains("scope=\"session\""));
    repo.replace(
        "tests/conftest.py",
        "def inventory():",
        "def inventory():  # noqa\n    _unused = 1",
    );
    let json = repo
        .impact()
        .args(["select", "--format", "json"])
        .ok()
        .json();
    let selected = json["tests"].to_string();
    for u in users {
        assert!(
            selected.contains(u),
            "{u} uses the session fixture: {json:#}"
        );
    }

    // The fixture closure each test used is recorded: users of `inventory`
    // through `fresh_inventory` are known as its users too.
    let conn = rusqlite::Connection::open(repo.path().join(".impact.db")).unwrap();
    let users_of = |fixture: &str| -> Vec<String> {
        conn.prepare(
            "SELECT t.nodeid FROM impact_test_fixture f JOIN impact_test t ON t.id = f.test_id
             WHERE f.fixture = ?1 ORDER BY 1",
        )
        .unwrap()
        .query_map([fixture], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let users = users_of("inventory");
    let via_fresh = users_of("fresh_inventory");
    assert!(!via_fresh.is_empty());
    for t in &via_fresh {
        assert!(
            users.contains(t),
            "{t} uses inventory through fresh_inventory"
        );
        assert!(
            selected.contains(t.as_str()),
            "{t} must be selected: {json:#}"
        );
    }
}

#[test]
fn xdist_workers_record_without_locking() {
    let repo = TestRepo::with_fixture("sample");
    let run = impact_run(&repo, &[], &["-n", "2"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.stderr.contains("locked"), "{run:#?}");
    let s = status(&repo);
    assert_eq!(s["tests"], 45, "{s:#}");
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 10");
    let run = impact_run(&repo, &[], &["-n", "2"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("1 failed"), "{run:#?}");
    // Both workers' data was merged: who-queries still answer per test.
    let who = repo
        .impact()
        .args(["who", "shop/cart.py", "--format", "json"])
        .ok()
        .json();
    assert!(who["tests"].as_array().unwrap().len() > 5, "{who:#}");
}

#[test]
fn a_killed_run_loses_nothing_and_its_tests_run_next_time() {
    let repo = TestRepo::with_fixture("sample");
    assert_eq!(impact_run(&repo, &[], &[]).code, 0);
    let before = status(&repo);
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 40");
    repo.write(
        "tests/test_slow.py",
        "import time\n\ndef test_slow():\n    time.sleep(60)\n",
    );
    let python = venv_python().display().to_string();
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_impact"))
        .process_group(0)
        .current_dir(repo.path())
        .env("NO_COLOR", "1")
        .args(["run", "--", &python])
        .args(PYTEST)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    // kill -9 of impact and pytest alike (its own process group only).
    let _ = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let after = status(&repo);
    assert_eq!(
        after["runs"], before["runs"],
        "the killed run left no partial data"
    );
    assert_eq!(after["tests"], before["tests"]);
    std::fs::remove_file(repo.path().join("tests/test_slow.py")).unwrap();
    let json = repo
        .impact()
        .args(["select", "--format", "json"])
        .ok()
        .json();
    assert!(
        json["tests"].to_string().contains("test_cart_limit"),
        "{json:#}"
    );
}

#[test]
fn the_nightly_full_run_reports_a_planted_miss() {
    let mut repo = TestRepo::with_fixture("sample");
    plant_invisible_reader(&mut repo);
    assert_eq!(impact_run(&repo, &[], &[]).code, 0);
    repo.write("tests/data/limit.txt", "4\n");
    let run = impact_run(&repo, &[], &[]);
    assert_eq!(run.code, 0, "selection skips the test: {run:#?}");
    let nightly = impact_run(&repo, &["--full"], &[]);
    assert_eq!(nightly.code, 1, "{nightly:#?}");
    assert!(
        nightly
            .stderr
            .contains("possible miss: tests/test_planted.py::test_limit")
            && nightly.stderr.contains("tests/data/limit.txt"),
        "{nightly:#?}"
    );
    // The full run resets the marks.
    let again = impact_run(&repo, &["--full"], &[]);
    assert!(!again.stderr.contains("possible miss"), "{again:#?}");
}

#[test]
fn missing_pytest_or_coverage_names_the_interpreter() {
    let repo = TestRepo::with_fixture("sample");
    let bare = tempfile::tempdir().unwrap();
    crate::support::run_ok(
        std::process::Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(bare.path()),
    );
    let python = bare.path().join("bin/python").display().to_string();
    let run = repo
        .impact()
        .args(["run", "--", &python, "-m", "pytest"])
        .run();
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .contains("pytest and coverage not installed for the interpreter"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("pip install pytest coverage"),
        "{run:#?}"
    );
    assert!(!repo.path().join(".impact.db").exists() || status(&repo)["runs"] == 0);
}

#[test]
fn a_changed_python_environment_means_a_full_run() {
    let repo = TestRepo::with_fixture("sample");
    assert_eq!(impact_run(&repo, &[], &[]).code, 0);
    // What a different interpreter or set of distributions leaves behind.
    let old: String =
        repo.data_value("SELECT value FROM impact_meta WHERE key = 'env_fingerprint'");
    assert!(
        old.contains("pytest==9.2.0") && old.contains("coverage==7.17.3"),
        "{old}"
    );
    repo.data_execute(
        "UPDATE impact_meta SET value = replace(value, 'pytest==9.2.0', 'pytest==8.0.0') WHERE key = 'env_fingerprint'",
    );
    let run = impact_run(&repo, &[], &[]);
    assert!(
        run.stderr.contains("the Python environment changed")
            && run.stderr.contains("pytest==9.2.0"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("45 passed"), "{run:#?}");
    // Ignored distributions do not count.
    let mut repo = repo;
    repo.write("impact.toml", "env_ignore = [\"pytest\"]\n");
    repo.commit_all("ignore pytest");
    assert_eq!(impact_run(&repo, &[], &[]).code, 0);
    let now: String =
        repo.data_value("SELECT value FROM impact_meta WHERE key = 'env_fingerprint'");
    assert!(!now.contains("pytest=="), "{now}");
}

#[test]
fn doctests_main_blocks_and_conftest_hooks_select_the_tests_they_break() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write(
        "shop/report.py",
        "\"\"\"Reports.\"\"\"\n\n\ndef half(x):\n    \"\"\"Half of x.\n\n    >>> half(4)\n    2.0\n    \"\"\"\n    return x / 2\n\n\nif __name__ == \"__main__\":\n    print(sum([1, 2, 3]))\n",
    );
    repo.write(
        "tests/test_report.py",
        "import subprocess\nimport sys\nfrom pathlib import Path\n\n\ndef test_report_main():\n    out = subprocess.run([sys.executable, \"-m\", \"shop.report\"], capture_output=True, text=True,\n                         cwd=Path(__file__).parent.parent, check=True)\n    assert out.stdout.strip() == \"6\"\n\n\ndef test_flag(request):\n    assert request.config.shop_flag == \"on\"\n",
    );
    let conftest = repo.read("tests/conftest.py");
    repo.write(
        "tests/conftest.py",
        &format!("{conftest}\n\ndef pytest_configure(config):\n    config.shop_flag = \"on\"\n"),
    );
    repo.commit_all("report, hooks");
    let all = ["--doctest-modules", "shop", "tests"];
    assert_eq!(impact_run(&repo, &[], &all).code, 0);

    let cases = [
        (
            "shop/report.py",
            "    2.0\n",
            "    2.5\n",
            "shop/report.py::shop.report.half",
        ),
        (
            "shop/report.py",
            "sum([1, 2, 3])",
            "sum([1, 2])",
            "tests/test_report.py::test_report_main",
        ),
        (
            "tests/conftest.py",
            "config.shop_flag = \"on\"",
            "config.shop_flag = \"off\"",
            "tests/test_report.py::test_flag",
        ),
    ];
    for (file, find, replace, breaks) in cases {
        repo.replace(file, find, replace);
        // Plain pytest says the test breaks ...
        let plain = repo.plain_pytest(&["--doctest-modules", breaks]);
        assert_eq!(
            plain.status.code(),
            Some(1),
            "{breaks} must fail after editing {file}"
        );
        // ... and impact selects it.
        let json = repo
            .impact()
            .args(["select", "--format", "json"])
            .ok()
            .json();
        let selected: Vec<String> = serde_json::from_value(json["tests"].clone()).unwrap();
        assert!(
            selected.contains(&breaks.to_string()),
            "{breaks} not selected after editing {file}: {json:#}"
        );
        repo.git(&["checkout", "--", file]);
    }
}

#[test]
fn test_files_with_nothing_selected_are_not_collected() {
    let mut repo = TestRepo::with_fixture("sample");
    // A test module that leaves a mark whenever pytest imports it.
    let mark = repo.path().join("canary-imported");
    repo.write(
        "tests/test_canary.py",
        "import os, pathlib\n\
         pathlib.Path(os.environ['CANARY']).write_text('imported')\n\n\
         def test_canary():\n    assert True\n",
    );
    repo.commit_all("canary");
    let run_with_canary = |pytest_args: &[&str]| {
        impact_run_command(&repo, &[], pytest_args)
            .env("CANARY", &mark)
            .run()
    };
    assert_eq!(run_with_canary(&[]).code, 0);
    assert!(mark.exists(), "the first run collects everything");
    std::fs::remove_file(&mark).unwrap();

    // A change that selects tests elsewhere: the canary module is not even
    // imported, and the selected tests still run.
    repo.replace(
        "shop/inventory.py",
        "if self.available(sku) < quantity:",
        "if self.available(sku) <= quantity:",
    );
    let run = run_with_canary(&[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("1 failed"), "{run:#?}");
    assert!(
        !mark.exists(),
        "an unselected test file was imported: {run:#?}"
    );

    // Named on the command line, it is collected (and deselected), and
    // "nothing selected" is still success.
    repo.git(&["checkout", "--", "shop/inventory.py"]);
    let _ = run_with_canary(&[]);
    repo.replace(
        "shop/pricing.py",
        "def format_price(",
        "def format_price(  ",
    );
    let named = run_with_canary(&["tests/test_canary.py"]);
    assert!(
        mark.exists(),
        "a file named on the command line is collected: {named:#?}"
    );
    assert_eq!(named.code, 0, "{named:#?}");
}

/// The interpreter probe (a Python start importing pytest) is cached per
/// interpreter, and probed again once the interpreter or a `sys.path`
/// directory changed (what installing a distribution does).
#[test]
fn the_interpreter_probe_is_cached_until_its_environment_changes() {
    let repo = TestRepo::with_fixture("sample");
    let outside = tempfile::tempdir().unwrap();
    let cache = outside.path().join("cache");
    let extra = outside.path().join("extra-site");
    std::fs::create_dir_all(&extra).unwrap();
    let run = || {
        impact_run_command(&repo, &[], &[])
            .env("XDG_CACHE_HOME", &cache)
            .env("PYTHONPATH", &extra)
            .run()
    };
    let first_line = |r: &Run| r.stderr.lines().next().unwrap_or_default().to_string();
    let first = run();
    assert_eq!(first.code, 0, "{first:#?}");
    let files: Vec<_> = std::fs::read_dir(cache.join("impact"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // A cached answer is used as it is: make it recognisable.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let real = json["out"]["python"].as_str().unwrap().to_string();
    json["out"]["python"] = "3.0.1".into();
    std::fs::write(&files[0], json.to_string()).unwrap();
    let cached = run();
    assert!(
        first_line(&cached).contains("on Python 3.0.1"),
        "{cached:#?}"
    );
    // Something installed into a directory on sys.path: probed again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(extra.join("installed.pth"), "").unwrap();
    let fresh = run();
    assert!(
        first_line(&fresh).contains(&format!("on Python {real}")),
        "{fresh:#?}"
    );
}
