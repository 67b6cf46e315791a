//! `impact select`, one rule per test, on the recorded sample project in a
//! real git repository: what a kind of change selects, and the verdicts that
//! force a full run.

use serde_json::Value;

use crate::mutations::recorded_sample;
use crate::support::{Run, TestRepo};

fn select(repo: &TestRepo, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["select", "--format", "json", "--explain"];
    args.extend_from_slice(extra);
    let run = repo.impact().args(&args).run();
    let json = run.json();
    (run, json)
}

fn tests(json: &Value) -> Vec<String> {
    serde_json::from_value(json["tests"].clone()).unwrap()
}

/// Whether the selection holds a test of `file`.
fn selects_from(json: &Value, file: &str) -> bool {
    tests(json).iter().any(|t| t.starts_with(file))
}

fn assert_full(run: &Run, json: &Value, reason: &str) {
    assert_eq!(run.code, 10, "a full-run verdict exits 10: {run:#?}");
    assert_eq!(json["mode"], "full", "{json:#}");
    let reasons = json["reasons"].to_string();
    assert!(
        reasons.contains(reason),
        "reasons lack `{reason}`: {reasons}"
    );
}

#[test]
fn nothing_changed_selects_nothing_and_says_so() {
    let repo = recorded_sample();
    let run = repo.impact().args(["select"]).ok();
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("0 of 37 tests selected, 0 files changed"),
        "{run:#?}"
    );
}

#[test]
fn no_data_means_a_full_run_with_the_reason() {
    let repo = TestRepo::with_fixture("sample");
    let run = repo.impact().args(["select", "--format", "pytest"]).run();
    assert_eq!(run.code, 10, "{run:#?}");
    assert_eq!(run.stdout, "", "a full run prints no pytest arguments");
    assert!(run.stderr.contains("no data yet"), "{run:#?}");
}

#[test]
fn renamed_module_keeps_its_data_and_deleted_module_selects_its_tests() {
    let repo = recorded_sample();
    // A rename with an edit inside: the data follows the file.
    repo.git(&["mv", "shop/shipping.py", "shop/delivery.py"]);
    repo.replace(
        "shop/delivery.py",
        "(\"express\", 9.9, 1.0),",
        "(\"express\", 9.9, 1.5),",
    );
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let changed = json["changed"].as_array().unwrap();
    assert!(
        changed
            .iter()
            .any(|c| c["status"] == "renamed" && c["old_path"] == "shop/shipping.py"),
        "{json:#}"
    );
    assert!(
        tests(&json)
            .contains(&"tests/test_checkout.py::test_free_shipping_except_express".to_string()),
        "{json:#}"
    );
    repo.git(&["mv", "shop/delivery.py", "shop/shipping.py"]);
    repo.git(&["checkout", "--", "."]);

    // Deleting a module: every test that ran any line of it.
    std::fs::remove_file(repo.path().join("shop/payments.py")).unwrap();
    let (_, json) = select(&repo, &[]);
    let selected = tests(&json);
    for t in [
        "tests/test_payments.py::test_declined_card",
        "tests/test_payments.py::test_charge_is_logged",
    ] {
        assert!(selected.contains(&t.to_string()), "{t} not in {selected:?}");
    }
    assert_eq!(json["changed"][0]["status"], "deleted");
}

#[test]
fn a_new_test_file_and_a_new_test_function_are_selected() {
    let repo = recorded_sample();
    repo.write("tests/test_new.py", "def test_fresh():\n    assert 1 + 1 == 2\n\n\nclass TestNew:\n    def test_also(self):\n        pass\n");
    let text = repo.read("tests/test_pricing.py");
    repo.write(
        "tests/test_pricing.py",
        &format!("{text}\n\ndef test_added_later():\n    assert True\n"),
    );
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let selected = tests(&json);
    for t in [
        "tests/test_new.py::test_fresh",
        "tests/test_new.py::TestNew::test_also",
        "tests/test_pricing.py::test_added_later",
    ] {
        assert!(selected.contains(&t.to_string()), "{t} not in {selected:?}");
    }
    assert_eq!(selected.len(), 3, "nothing else changed: {selected:?}");
    assert!(
        json["explain"]["tests/test_new.py::test_fresh"]
            .to_string()
            .contains("new test")
    );
}

#[test]
fn a_data_file_under_a_rule_selects_the_mapped_tests() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write(
        "impact.toml",
        "[map]\n\"tests/data/*.json\" = [\"tests/test_customers.py::test_tiers_are_known\"]\n",
    );
    repo.commit_all("config");
    repo.pytest_cov(&[]);
    repo.impact().args(["import", ".coverage"]).ok();
    let users = repo.read("tests/data/users.json");
    repo.write("tests/data/users.json", &users.replacen("gold", "GOLD", 1));
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let explain = json["explain"]["tests/test_customers.py::test_tiers_are_known"].to_string();
    assert!(explain.contains("rule `tests/data/*.json`"), "{json:#}");
}

#[test]
fn full_run_files_thresholds_and_config_errors() {
    let repo = recorded_sample();
    repo.write("requirements.txt", "requests==2.0\n");
    let (run, json) = select(&repo, &[]);
    assert_full(&run, &json, "requirements.txt changed (full-run rule");
    std::fs::remove_file(repo.path().join("requirements.txt")).unwrap();

    repo.replace("shop/pricing.py", "places=2", "places=3");
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 40");
    let (run, json) = select(&repo, &["--max-changed-files", "1"]);
    assert_full(
        &run,
        &json,
        "2 files changed, more than max_changed_files = 1",
    );
    repo.git(&["checkout", "--", "."]);

    // Malformed config: exit 2 naming the file and the key.
    repo.write("impact.toml", "max_changed_files = \"lots\"\n");
    let run = repo.impact().args(["select"]).run();
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("impact.toml") && run.stderr.contains("max_changed_files"),
        "{run:#?}"
    );
    // Unknown keys warn.
    repo.write("impact.toml", "colour = \"red\"\n");
    let run = repo.impact().args(["select"]).run();
    assert!(run.stderr.contains("unknown key `colour`"), "{run:#?}");
}

#[test]
fn staged_revision_and_since_targets() {
    let mut repo = recorded_sample();
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 40");
    // Not staged: --staged sees nothing, the work tree sees the change.
    let (_, staged) = select(&repo, &["--staged"]);
    assert_eq!(tests(&staged), Vec::<String>::new());
    let (_, work) = select(&repo, &[]);
    assert!(
        tests(&work).contains(&"tests/test_cart.py::test_cart_limit".to_string()),
        "{work:#}"
    );
    repo.git(&["add", "shop/cart.py"]);
    let (_, staged) = select(&repo, &["--staged"]);
    assert_eq!(tests(&staged), tests(&work));

    // On a branch: --since main considers only the branch's files.
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let feature = repo.commit_all("cart limit");
    let (_, since) = select(&repo, &["--since", "main"]);
    assert_eq!(tests(&since), tests(&work));
    let (_, rev) = select(&repo, &["--rev", &feature]);
    assert_eq!(tests(&rev), tests(&work));
    let run = repo
        .impact()
        .args(["select", "--since", "no-such-branch"])
        .run();
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("no-such-branch") && run.stderr.contains("git fetch"),
        "{run:#?}"
    );
}

#[test]
fn a_shallow_clone_at_another_path_selects_the_same() {
    let mut repo = recorded_sample();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 40");
    repo.commit_all("cart limit");
    let (_, here) = select(&repo, &["--since", "main"]);

    // CI: a depth-1 clone of the branch, main fetched at depth 1, at another path.
    let clone = TestRepo::empty();
    let url = format!("file://{}", repo.path().display());
    clone.git(&[
        "fetch",
        "--quiet",
        "--depth",
        "1",
        &url,
        "feature:refs/remotes/origin/feature",
        "main:refs/remotes/origin/main",
    ]);
    clone.git(&["checkout", "-q", "-b", "feature", "origin/feature"]);
    assert_eq!(clone.git(&["rev-parse", "--is-shallow-repository"]), "true");
    std::fs::copy(
        repo.path().join(".impact.db"),
        clone.path().join(".impact.db"),
    )
    .unwrap();
    let (run, there) = select(&clone, &["--since", "origin/main"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(tests(&there), tests(&here));
    assert!(!tests(&there).is_empty());
}

#[test]
fn odd_files_neither_crash_nor_drop_changes() {
    let repo = recorded_sample();
    // CRLF line endings: Python reads them as the same code; reported, not dropped.
    let crlf = repo.read("shop/payments.py").replace('\n', "\r\n");
    repo.write("shop/payments.py", &crlf);
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(tests(&json), Vec::<String>::new());
    assert_eq!(json["changed"][0]["path"], "shop/payments.py");
    assert!(
        json["changed"][0]["effect"]
            .as_str()
            .unwrap()
            .contains("line endings"),
        "{json:#}"
    );
    // ... but a real edit in a CRLF file is seen.
    repo.write(
        "shop/payments.py",
        &crlf.replacen("def ", "def _unused():\r\n    return 1\r\n\r\n\r\ndef ", 1),
    );
    let (_, json) = select(&repo, &[]);
    assert!(
        json["changed"][0]["effect"]
            .as_str()
            .unwrap()
            .contains("definitions"),
        "{json:#}"
    );
    repo.git(&["checkout", "--", "."]);

    // Binary and undecodable content where a measured module was.
    std::fs::write(
        repo.path().join("shop/payments.py"),
        b"\x00\x01\xff\xfe binary",
    )
    .unwrap();
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(selects_from(&json, "tests/test_payments.py"), "{json:#}");
    std::fs::write(repo.path().join("shop/payments.py"), b"x = '\xff\xfe'\n").unwrap();
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(selects_from(&json, "tests/test_payments.py"), "{json:#}");
    repo.git(&["checkout", "--", "."]);

    // A measured module replaced by a symlink.
    std::fs::remove_file(repo.path().join("shop/payments.py")).unwrap();
    std::os::unix::fs::symlink("cart.py", repo.path().join("shop/payments.py")).unwrap();
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(selects_from(&json, "tests/test_payments.py"), "{json:#}");

    // A measured module replaced by a submodule: its tests are selected,
    // the change is reported; a new submodule is reported too.
    repo.git(&["checkout", "--", "."]);
    let mut lib = TestRepo::empty();
    lib.write("lib.py", "x = 1\n");
    lib.commit_all("lib");
    let lib_path = lib.path().display().to_string();
    repo.git(&["rm", "-q", "shop/payments.py"]);
    for at in ["shop/payments.py", "vendor/lib"] {
        repo.git(&[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &lib_path,
            at,
        ]);
    }
    for staged in [false, true] {
        let flags: &[&str] = if staged { &["--staged"] } else { &[] };
        let (run, json) = select(&repo, flags);
        assert_eq!(run.code, 0, "{run:#?}");
        assert!(selects_from(&json, "tests/test_payments.py"), "{json:#}");
        let changed: Vec<&str> = json["changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap())
            .collect();
        for path in ["shop/payments.py", "vendor/lib"] {
            assert!(changed.contains(&path), "{path} not reported: {json:#}");
        }
    }
    repo.git(&["reset", "-q", "--hard"]);
    repo.git(&["clean", "-q", "-dff"]);

    // A README change selects nothing, and says why.
    repo.git(&["checkout", "--", "."]);
    repo.write("NOTES.md", "# notes\n");
    let run = repo.impact().args(["select"]).ok();
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("(1 ignored: NOTES.md)")
            && run
                .stderr
                .contains("NOTES.md: ignored: no test read it and no rule or code names it"),
        "{run:#?}"
    );
}

#[test]
fn failed_stale_and_always_run_tests_are_selected_beside_the_diff() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write(
        "impact.toml",
        "always_run = [\"tests/test_cli.py::test_price_command\"]\n",
    );
    repo.commit_all("config");
    repo.pytest_cov(&[]);
    repo.impact().args(["import", ".coverage"]).ok();
    // What a recording of a failed run leaves behind (`impact run` writes outcomes).
    repo.data_execute(
        "UPDATE impact_test SET outcome = 'failed' WHERE nodeid = 'tests/test_cart.py::test_cart_limit'",
    );

    // Stale data, the real way: a module changes and only some tests are
    // re-recorded; the others ran lines that no longer exist as recorded.
    repo.replace(
        "shop/payments.py",
        "receipt_id = gateway.charge(card, round_money(amount))",
        "receipt_id = gateway.charge(card, round_money(amount + 0))",
    );
    repo.pytest_cov(&["tests/test_payments.py::test_declined_card"]);
    repo.impact().args(["import", ".coverage"]).ok();
    let status = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert!(
        status["tests_needing_run"].as_i64().unwrap() > 0,
        "{status:#}"
    );

    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let explain = &json["explain"];
    assert!(
        explain["tests/test_cart.py::test_cart_limit"]
            .to_string()
            .contains("failed last time"),
        "{json:#}"
    );
    assert!(
        explain["tests/test_cli.py::test_price_command"]
            .to_string()
            .contains("always run"),
        "{json:#}"
    );
    assert!(
        explain["tests/test_payments.py::test_charge_is_logged"]
            .to_string()
            .contains("stale"),
        "{json:#}"
    );
}

/// Two modules define a cached `load`. A change to one selects the tests
/// that reach it (by module attribute, by an aliased import, through a
/// module that re-exports it, through a module loaded by name), not those
/// that provably call the other one, which matching by identifier selected
/// too; in both kinds of recording (`impact run` measures the test files,
/// pytest-cov here only `shop/`, so their mentions are found in the text).
#[test]
fn a_changed_definition_does_not_reach_another_modules_namesake() {
    let cache = |rate: u32| {
        format!(
            "import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef load():\n    return {{\"rate\": {rate}}}\n"
        )
    };
    let test_file = "\
import importlib

from shop import a_cache, b_cache, caches
from shop.b_cache import load as load_b


def test_a():
    assert a_cache.load()[\"rate\"] == 2


def test_b():
    assert b_cache.load()[\"rate\"] == 3


def test_b_alias():
    assert load_b()[\"rate\"] == 3


def test_b_reexported():
    assert caches.load()[\"rate\"] == 3


def test_a_by_name():
    module = importlib.import_module(\"shop.a_cache\")
    assert module.load()[\"rate\"] == 2
";
    for recording in ["run", "pytest-cov"] {
        let mut repo = TestRepo::with_fixture("sample");
        repo.write("shop/a_cache.py", &cache(2));
        repo.write("shop/b_cache.py", &cache(3));
        repo.write("shop/caches.py", "from .b_cache import load\n");
        repo.write("tests/test_caches.py", test_file);
        repo.commit_all("two caches");
        if recording == "run" {
            let run = crate::support::impact_run_command(&repo, &[], &[]).run();
            assert_eq!(run.code, 0, "{run:#?}");
        } else {
            repo.pytest_cov(&[]);
            repo.impact().args(["import", ".coverage"]).ok();
        }
        let caches_tests = |json: &Value| -> Vec<String> {
            tests(json)
                .into_iter()
                .filter_map(|t| t.strip_prefix("tests/test_caches.py::").map(String::from))
                .collect()
        };

        repo.write("shop/b_cache.py", &cache(4));
        let (run, json) = select(&repo, &[]);
        assert_eq!(run.code, 0, "{run:#?}");
        // `module.load()` on a module loaded by name could be either: it
        // stays. `a_cache.load()` provably is the other one.
        assert_eq!(
            caches_tests(&json),
            [
                "test_a_by_name",
                "test_b",
                "test_b_alias",
                "test_b_reexported"
            ],
            "{recording}: {json:#}"
        );
        let failing = crate::mutations::failing_tests(&repo);
        for t in &failing {
            assert!(
                tests(&json).contains(t),
                "{recording}: {t} fails but is not selected"
            );
        }
        assert_eq!(failing.len(), 3, "{failing:?}");

        repo.write("shop/b_cache.py", &cache(3));
        repo.write("shop/a_cache.py", &cache(5));
        let (_, json) = select(&repo, &[]);
        // Through `caches` (it defines no `load` of its own) it may, so it
        // stays; the one loaded by name is selected by its recorded lines.
        assert_eq!(
            caches_tests(&json),
            ["test_a", "test_a_by_name", "test_b_reexported"],
            "{recording}: {json:#}"
        );
        for t in crate::mutations::failing_tests(&repo) {
            assert!(
                tests(&json).contains(&t),
                "{recording}: {t} fails but is not selected"
            );
        }
    }
}

/// A cached function changes; a conftest helper memoises what it returns,
/// and a test file imports that helper. Only the first test to call it ran
/// the changed lines; the other reaches the change through the helper's
/// name. The conftest (measured by `impact run`) defines that name itself,
/// so references that denote it are the ones to follow, not a namesake to
/// leave out.
/// The sample with a conftest helper `rate()` that memoises what the
/// measured `shop.rates.base_rate()` returns, used by two tests that never
/// run `base_rate` themselves after the first; recorded.
fn cached_helper_in_conftest() -> TestRepo {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write(
        "shop/rates.py",
        "import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef base_rate():\n    return 2\n",
    );
    let conftest = std::fs::read_to_string(repo.path().join("tests/conftest.py")).unwrap();
    repo.write(
        "tests/conftest.py",
        &format!(
            "{conftest}\n\nfrom shop.rates import base_rate\n\n_MEMO = {{}}\n\n\ndef rate():\n    if not _MEMO:\n        _MEMO[\"rate\"] = base_rate()\n    return _MEMO[\"rate\"]\n"
        ),
    );
    repo.write(
        "tests/test_rates.py",
        "from tests.conftest import rate\n\n\ndef test_first():\n    assert rate() > 0\n\n\ndef test_second():\n    assert rate() == 2\n",
    );
    repo.commit_all("a cached helper");
    let run = crate::support::impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    repo
}

#[test]
fn a_change_travels_under_a_test_side_helpers_name_to_its_importers() {
    let repo = cached_helper_in_conftest();
    repo.write(
        "shop/rates.py",
        "import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef base_rate():\n    return 3\n",
    );
    let (run, json) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let failing = crate::mutations::failing_tests(&repo);
    assert!(
        failing.contains("tests/test_rates.py::test_second"),
        "{failing:?}"
    );
    for t in &failing {
        assert!(
            tests(&json).contains(t),
            "{t} fails but is not selected: {json:#}"
        );
    }
}

/// Test-side mentions of a name come from the words and classification
/// stored per recorded test-file content (migrations 13 and 14), from the
/// parsed text of a file whose classification or words are not stored (or
/// are of another version), and from every text in data recorded before
/// either was: the same selection each way.
#[test]
fn test_side_mentions_come_from_stored_words_or_the_files_alike() {
    let repo = cached_helper_in_conftest();
    let db = rusqlite::Connection::open(repo.path().join(".impact.db")).unwrap();
    let stored: i64 = db
        .query_row(
            "SELECT count(*) FROM impact_side_word w JOIN impact_baseline b ON b.blob_id = w.blob_id
             JOIN file f ON f.id = b.file_id WHERE f.path = 'tests/conftest.py' AND w.word = 'base_rate'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1, "the conftest's words are stored at recording");
    let classified: i64 = db
        .query_row(
            "SELECT count(*) FROM impact_side_mentions WHERE path = 'tests/conftest.py'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        classified, 1,
        "the conftest's mentions are stored at recording"
    );
    repo.write(
        "shop/rates.py",
        "import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef base_rate():\n    return 3\n",
    );
    let (run, from_words) = select(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let selected = tests(&from_words);
    for t in [
        "tests/test_rates.py::test_first",
        "tests/test_rates.py::test_second",
    ] {
        assert!(selected.iter().any(|s| s == t), "{t}: {from_words:#}");
    }
    // The conftest's classification of another version: it is parsed.
    db.execute(
        "UPDATE impact_side_mentions SET version = version + 1 WHERE path = 'tests/conftest.py'",
        [],
    )
    .unwrap();
    let (_, parsed) = select(&repo, &[]);
    assert_eq!(tests(&parsed), selected);
    db.execute("DELETE FROM impact_side_mentions", []).unwrap();
    let (_, all_parsed) = select(&repo, &[]);
    assert_eq!(tests(&all_parsed), selected);
    // The conftest's words missing: its text is read, the others' words used.
    db.execute(
        "DELETE FROM impact_side_indexed WHERE blob_id IN (SELECT b.blob_id FROM impact_baseline b
         JOIN file f ON f.id = b.file_id WHERE f.path = 'tests/conftest.py')",
        [],
    )
    .unwrap();
    let (_, one_read) = select(&repo, &[]);
    assert_eq!(tests(&one_read), selected);
    // No words stored at all (data of an older impact).
    db.execute_batch("DELETE FROM impact_side_indexed; DELETE FROM impact_side_word;")
        .unwrap();
    let (_, all_read) = select(&repo, &[]);
    assert_eq!(tests(&all_read), selected);
}

#[test]
fn timings_say_where_a_selection_spends_its_time_and_change_nothing_else() {
    let repo = recorded_sample();
    let text = repo.read("tests/test_pricing.py");
    repo.write(
        "tests/test_pricing.py",
        &format!("{text}\n\ndef test_added_later():\n    assert True\n"),
    );
    let (plain, json) = select(&repo, &[]);
    let (timed, timed_json) = select(&repo, &["--timings"]);
    assert_eq!(timed.code, plain.code, "{timed:#?}");
    assert_eq!(timed_json, json, "--timings changes only stderr");
    assert!(!plain.stderr.contains("trace:"), "{plain:#?}");
    let steps: Vec<&str> = timed
        .stderr
        .lines()
        .filter(|l| l.starts_with("trace:"))
        .collect();
    for step in ["tests loaded", "changes computed", "effects resolved"] {
        assert!(
            steps.iter().any(|l| l.ends_with(step)),
            "no `{step}` step in {steps:#?}"
        );
    }
    // Each step says the milliseconds since start and the resident memory.
    assert!(
        steps
            .iter()
            .all(|l| l.contains(" ms ") && l.contains(" MB ")),
        "{steps:#?}"
    );
    // The environment variable turns on the same trace.
    let by_env = repo
        .impact()
        .args(["select", "--format", "json", "--explain"])
        .env("IMPACT_TRACE", "1")
        .run();
    assert_eq!(by_env.json(), json, "{by_env:#?}");
    assert!(
        by_env
            .stderr
            .lines()
            .any(|l| l.starts_with("trace:") && l.ends_with("effects resolved")),
        "{by_env:#?}"
    );
}
