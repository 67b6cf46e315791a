//! Failure classes met on real open-source suites (issue "Real-world
//! suites"): recordings that must never be lost, and one-line changes that
//! must select what runs them, not the whole suite.

use crate::support::TestRepo;
use crate::support::impact_run_command;

/// A test file whose text is not ASCII (a banner of box-drawing characters
/// inside a multi-line string, accents, emoji) is recorded: its string
/// tokens are read at merge time, and this once crashed the merge.
#[test]
fn a_test_file_with_box_drawing_characters_is_recorded() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write(
        "tests/test_banner.py",
        "BANNER = \"\"\"\n╭──────╮\n│ 'shop' │ é 👍🏽\n╰──────╯\n\"\"\"\n\n\n\
         def test_banner():\n    assert \"shop\" in BANNER and '╭' in BANNER\n",
    );
    repo.commit_all("banner");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("46 passed"), "{run:#?}");
    assert!(run.stderr.contains("recorded 46 tests"), "{run:#?}");
    let status = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(status["tests"], 46, "{status:#}");
}

/// When merging fails after pytest exits, what pytest measured is kept
/// beside the data file, every command says so, and `impact merge-pending`
/// merges it once the cause is gone. Here the cause is real: a conftest hook
/// that runs after impact's plugin wrote its results corrupts them.
#[test]
fn a_failed_merge_keeps_the_results_for_merge_pending() {
    let repo = TestRepo::with_fixture("sample");
    let conftest = repo.read("tests/conftest.py");
    repo.write(
        "tests/conftest.py",
        &format!(
            "{conftest}\n\ndef pytest_unconfigure(config):\n    \
             import glob, os\n    \
             for path in glob.glob(os.path.join(os.environ['IMPACT_OUT'], 'results-*.json')):\n        \
             with open(path, 'a') as fh:\n            fh.write('TRUNCATED')\n"
        ),
    );
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.stdout.contains("45 passed"), "{run:#?}");
    assert!(
        run.stderr
            .contains("failed to merge the results of this run into")
            && run.stderr.contains("impact merge-pending")
            && run.stderr.contains("malformed"),
        "{run:#?}"
    );
    let pending = repo.path().join(".impact.db.pending");
    let kept: Vec<_> = std::fs::read_dir(&pending)
        .unwrap_or_else(|e| panic!("{} must exist ({e}): {run:#?}", pending.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].join("impact-run.json").is_file());

    // Every command warns while the run waits.
    let select = repo.impact().args(["select"]).run();
    assert!(
        select
            .stderr
            .contains("1 run whose results could not be merged")
            && select.stderr.contains("impact merge-pending"),
        "{select:#?}"
    );

    // Merging again while the cause remains keeps the run where it is.
    let again = repo.impact().args(["merge-pending"]).run();
    assert_eq!(again.code, 3, "{again:#?}");
    assert!(kept[0].is_dir());

    // The cause fixed: the results merge, and the run leaves the queue.
    for entry in std::fs::read_dir(&kept[0]).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("results-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.trim_end_matches("TRUNCATED")).unwrap();
        }
    }
    let merged = repo.impact().args(["merge-pending"]).run();
    assert_eq!(merged.code, 0, "{merged:#?}");
    assert!(merged.stderr.contains("recorded 45 tests"), "{merged:#?}");
    assert!(!pending.exists(), "the queue is emptied");
    let status = repo.impact().args(["status", "--format", "json"]).ok();
    assert!(!status.stderr.contains("merge-pending"), "{status:#?}");
    assert_eq!(status.json()["tests"], 45);
    let who = repo
        .impact()
        .args(["who", "shop/cart.py", "--format", "json"])
        .ok()
        .json();
    assert!(who["tests"].as_array().unwrap().len() > 5, "{who:#}");
}

/// `fixtures/realworld` in a repository, recorded by `impact run`.
fn recorded_realworld() -> TestRepo {
    let repo = TestRepo::with_fixture("realworld");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("33 passed"), "{run:#?}");
    repo
}

/// The tests `impact select` picks for the work tree (a selection, not a
/// full run).
fn selected(repo: &TestRepo) -> Vec<String> {
    let json = repo
        .impact()
        .args(["select", "--format", "json", "--explain"])
        .ok()
        .json();
    assert_eq!(json["mode"], "selected", "{json:#}");
    serde_json::from_value(json["tests"].clone()).unwrap()
}

/// The tests that fail under plain pytest.
fn failing(repo: &TestRepo) -> Vec<String> {
    let out = std::process::Command::new(crate::support::venv_python())
        .current_dir(repo.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(crate::support::PYTEST)
        .arg("-rf")
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("FAILED "))
        .map(|l| l.split(" - ").next().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Breaks one line; `impact select` must pick exactly `expected` (the tests
/// that run the line or consume what it computed), and every test that
/// fails must be among them (and one must fail, or the case tests nothing).
fn selects_exactly(repo: &TestRepo, file: &str, find: &str, replace: &str, expected: &[&str]) {
    repo.replace(file, find, replace);
    let got = selected(repo);
    let failed = failing(repo);
    repo.git(&["checkout", "--", file]);
    let want: Vec<String> = expected.iter().map(|t| t.to_string()).collect();
    assert!(
        !failed.is_empty(),
        "changing `{find}` in {file} must break a test"
    );
    for f in &failed {
        assert!(
            got.contains(f),
            "{f} fails after changing `{find}` in {file}, but selected: {got:?}"
        );
    }
    assert_eq!(got, want, "changing `{find}` in {file}");
}

/// One-line body changes select what runs them, not every importer: a
/// method of a class registered at import, a function stored in a
/// module-level dict (and copied from there), and module `__getattr__`,
/// plain and made by a factory called at import; a method typed with
/// `typing.overload`, whose one-line overloads run at import; a line of a
/// function called at import that did not run then.
#[test]
fn body_changes_in_registered_and_stored_code_select_only_their_runners() {
    let repo = recorded_realworld();
    selects_exactly(
        &repo,
        "lib/completion.py",
        "return \"complete -F _%s_completion %s\"",
        "return \"complete -F _%s_compl %s\"",
        &["tests/test_completion.py::test_bash_source"],
    );
    selects_exactly(
        &repo,
        "lib/filters.py",
        "return s.upper()",
        "return s.upper() + \"!\"",
        &["tests/test_filters.py::test_upper"],
    );
    selects_exactly(
        &repo,
        "lib/compat.py",
        "return RATE * 100",
        "return RATE * 10",
        &["tests/test_compat.py::test_old_rate"],
    );
    selects_exactly(
        &repo,
        "lib/legacy.py",
        "for p in __version__.split(\".\")))",
        "for p in __version__.split(\".\")[:2]))",
        &["tests/test_compat.py::test_version_info"],
    );
    // A line of a function that module-level code calls, but that did
    // not run then (an error branch): replaced in place, it runs exactly
    // when the line it replaces did.
    selects_exactly(
        &repo,
        "lib/options.py",
        "msg = \"a required option takes no default\"",
        "msg = \"a required option takes a default\"",
        &["tests/test_options.py::test_required_with_default"],
    );
    selects_exactly(
        &repo,
        "lib/overloads.py",
        "return name",
        "return None",
        &["tests/test_overloads.py::test_plain"],
    );
}

/// What runs once and serves many: a helper of a session-scoped fixture
/// (its lines ran while the first user set the fixture up) selects every
/// user of the fixture; the callee of an `lru_cache`d function (run by its
/// first caller only) selects every caller, also when that first call was
/// made by a test module's import.
#[test]
fn code_run_once_for_many_tests_selects_all_of_them() {
    let repo = recorded_realworld();
    selects_exactly(
        &repo,
        "lib/catalog.py",
        "items[sku] = price",
        "items[sku] = price + 1",
        &[
            "tests/test_catalog.py::test_caps",
            "tests/test_catalog.py::test_catalog_size",
            "tests/test_catalog.py::test_mug",
            "tests/test_catalog.py::test_order",
        ],
    );
    selects_exactly(
        &repo,
        "lib/rates.py",
        "table[\"zero\"] = 0.0",
        "table[\"zero\"] = 0.1",
        &[
            "tests/test_rates.py::test_reduced",
            "tests/test_rates.py::test_standard",
            "tests/test_rates.py::test_zero",
        ],
    );
    // First called while a test module was imported: what it computed
    // then serves every later caller, not that module's tests alone.
    selects_exactly(
        &repo,
        "lib/tiers.py",
        "tiers[\"silver\"] = 2",
        "tiers[\"silver\"] = 1",
        &[
            "tests/test_tiers.py::test_silver",
            "tests/test_tiers_import.py::test_gold",
        ],
    );
}

/// A class decorator's code runs when a class is defined (attrs'
/// `_ClassBuilder`): a line that ran only while one test module was
/// imported, for the class that module defines, reaches that module's
/// tests, not every importer of the decorator's file; a line that also ran
/// for the library's own classes, at the library's import, still reaches
/// every importer.
#[test]
fn a_class_decorator_line_run_by_one_test_module_selects_that_module() {
    let mut repo = recorded_realworld();
    let only_that_module = |repo: &TestRepo| {
        selects_exactly(
            repo,
            "lib/records.py",
            "order = tuple(fields)",
            "order = tuple(reversed(fields))",
            &[
                "tests/test_versions.py::test_older",
                "tests/test_versions.py::test_shown",
            ],
        )
    };
    only_that_module(&repo);
    selects_exactly(
        &repo,
        "lib/records.py",
        "template = class_name + \"(%s)\"",
        "template = class_name + \"[%s]\"",
        &[
            "tests/test_records.py::test_pair",
            "tests/test_records.py::test_point",
            "tests/test_versions.py::test_older",
            "tests/test_versions.py::test_shown",
        ],
    );
    repo.replace(
        "lib/records.py",
        "order = tuple(fields)",
        "order = tuple(reversed(fields))",
    );
    let json = repo
        .impact()
        .args(["select", "--format", "json", "--explain"])
        .ok()
        .json();
    let text = json.to_string();
    assert!(
        text.contains("lib/records.py:42 changed (ran while tests/test_versions.py was imported)"),
        "{json:#}"
    );
    repo.git(&["checkout", "--", "lib/records.py"]);
    // pytest imports test modules itself under `--import-mode=importlib`
    // (attrs' setting), outside the import system: the same holds.
    repo.replace(
        "pyproject.toml",
        "testpaths = [\"tests\"]",
        "testpaths = [\"tests\"]\naddopts = [\"--import-mode=importlib\"]",
    );
    repo.commit_all("importlib import mode");
    let run = impact_run_command(&repo, &["--full"], &[]).run();
    assert!(run.stdout.contains("33 passed"), "{run:#?}");
    only_that_module(&repo);
}

/// A test module whose import configures shared state (a bare call at
/// module level) is not the only module what that code did reaches: a
/// change there selects every importer of the configured module, here the
/// other test module that relies on the setting.
#[test]
fn a_test_module_configuring_shared_state_at_import_reaches_every_importer() {
    let repo = recorded_realworld();
    selects_exactly(
        &repo,
        "lib/settings.py",
        "PRECISION[0] = precision",
        "PRECISION[0] = precision + 1",
        &[
            "tests/test_a_configured.py::test_configured",
            "tests/test_b_rounding.py::test_round_price",
        ],
    );
}

/// A run that selected some tests imports only what their files import: what
/// it saw at import adds to the recorded import-time lines instead of
/// replacing them. Here the run of tests/test_markup.py imports lib/markup.py
/// but not lib/page.py, whose import calls `markup.tag`; a later change to
/// `tag` must still select test_page's test, which uses the header built then.
#[test]
fn a_partial_run_keeps_what_other_modules_ran_at_import() {
    let mut repo = recorded_realworld();
    repo.replace(
        "tests/test_markup.py",
        "assert markup.close(\"b\") == \"</b>\"",
        "assert markup.close(\"i\") == \"</i>\"",
    );
    repo.commit_all("another tag in test_markup");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains("1 passed") && run.stderr.contains("1 of 33 tests"),
        "only test_markup's test runs: {run:#?}"
    );
    repo.replace(
        "lib/markup.py",
        "return \"<\" + name",
        "return \"[\" + name",
    );
    let got = selected(&repo);
    assert_eq!(
        failing(&repo),
        ["tests/test_page.py::test_header"],
        "the header built at import breaks"
    );
    assert!(
        got.contains(&"tests/test_page.py::test_header".to_string()),
        "selected: {got:?}"
    );
}

/// A change that reaches nearly every test is a full run, and says how many
/// of the known tests it reached: never more than the suite, though the
/// selection also holds a test the data does not know yet.
#[test]
fn a_change_reaching_the_suite_counts_known_tests_only() {
    let mut repo = TestRepo::empty();
    repo.write(
        "pyproject.toml",
        "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\npythonpath = [\".\"]\n",
    );
    repo.write(".gitignore", ".impact.db\n__pycache__/\n");
    repo.write("zpkg/__init__.py", "");
    repo.write(
        "zpkg/core.py",
        "LIMIT = 1000\nCAP = LIMIT\n\n\ndef within(n):\n    return n < LIMIT\n",
    );
    repo.write(
        "tests/test_many.py",
        "import pytest\n\nfrom zpkg import core\n\n\n\
         @pytest.mark.parametrize(\"n\", range(120))\ndef test_within(n):\n    assert core.within(n)\n",
    );
    repo.commit_all("many");
    let run = impact_run_command(&repo, &[], &[]).run();
    assert!(run.stdout.contains("120 passed"), "{run:#?}");
    repo.write(
        "tests/test_new.py",
        "from zpkg import core\n\n\ndef test_new():\n    assert core.within(1)\n",
    );
    repo.replace("zpkg/core.py", "LIMIT = 1000", "LIMIT = 100");
    let select = repo.impact().args(["select", "--format", "json"]).run();
    assert_eq!(select.code, 10, "a full-run verdict: {select:#?}");
    let json = select.json();
    assert_eq!(json["mode"], "full", "{json:#}");
    assert!(
        json["reasons"][0]
            .as_str()
            .unwrap()
            // Stopped inside `LIMIT`'s own references, before `CAP` (which
            // the module binds from it) is followed.
            .starts_with("the changes reach 120 of 120 tests (through `LIMIT`"),
        "{json:#}"
    );
    // Module-level code that every test's module imports: a full run as
    // soon as the measured importers are counted (the unmeasured ones,
    // parsed one by one, cannot change it).
    repo.replace("zpkg/core.py", "LIMIT = 100", "LIMIT = 1000");
    repo.replace("zpkg/core.py", "CAP = LIMIT\n", "CAP = LIMIT\nprint(CAP)\n");
    let select = repo.impact().args(["select", "--format", "json"]).run();
    assert_eq!(select.code, 10, "a full-run verdict: {select:#?}");
    let json = select.json();
    assert_eq!(
        json["reasons"][0].as_str().unwrap(),
        "the changes reach 120 of 120 tests (through the importers of zpkg/core.py): running everything",
        "{json:#}"
    );
}
