//! Files that are not Python lines: data files, templates and configuration
//! that tests open, recorded by `impact run` (Python's audit hook on `open`)
//! on the sample project, and what a change to them selects.

use std::collections::BTreeSet;

use crate::support::impact_run_command;
use crate::support::{Run, TestRepo};

fn impact_run(repo: &TestRepo, pytest_args: &[&str]) -> Run {
    impact_run_command(repo, &[], pytest_args).run()
}

/// Records the sample with `impact run`; panics unless every test passed.
fn recorded(repo: &TestRepo, pytest_args: &[&str]) {
    let run = impact_run(repo, pytest_args);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("45 passed"), "{run:#?}");
}

fn select(repo: &TestRepo) -> (Run, serde_json::Value) {
    let run = repo
        .impact()
        .args(["select", "--format", "json", "--explain"])
        .run();
    let json = run.json();
    (run, json)
}

fn selected(json: &serde_json::Value) -> BTreeSet<String> {
    serde_json::from_value(json["tests"].clone()).unwrap()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn who(repo: &TestRepo, path: &str) -> BTreeSet<String> {
    let run = repo.impact().args(["who", path, "--format", "json"]).ok();
    serde_json::from_value(run.json()["tests"].clone()).unwrap()
}

/// The tests of the sample's tests/test_pricing.py, which reads
/// tests/data/tax_cases.json at import to parametrize a test.
const PRICING_TESTS: &[&str] = &[
    "tests/test_pricing.py::test_apply_discount_default_rate",
    "tests/test_pricing.py::test_apply_tax_rounds_to_cents[0.99-1.19]",
    "tests/test_pricing.py::test_apply_tax_rounds_to_cents[10.0-12.0]",
    "tests/test_pricing.py::test_apply_tax_rounds_to_cents[19.99-23.99]",
    "tests/test_pricing.py::test_format_price",
    "tests/test_pricing.py::test_order_total_with_promo_and_loyalty",
    "tests/test_pricing.py::test_prices_are_in_euros",
    "tests/test_pricing.py::test_round_money_rounds_half_up",
    "tests/test_pricing.py::test_vat_arithmetic",
];

const RECEIPT_TESTS: &[&str] = &[
    "tests/test_checkout.py::test_receipt",
    "tests/test_checkout.py::test_receipt_with_free_shipping",
];

#[test]
fn a_changed_data_file_selects_the_tests_that_read_it() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write("README.md", "# shop\n\nA sample shop.\n");
    repo.commit_all("readme");
    // Under xdist: the workers' reads reach the data, not the controller's view.
    recorded(&repo, &["-n", "2"]);

    // `impact who` answers for files that are not Python.
    assert_eq!(
        who(&repo, "tests/data/email_domains.txt"),
        set(&["tests/test_customers.py::test_emails_look_valid"])
    );
    assert_eq!(who(&repo, "shop/templates/receipt.txt"), set(RECEIPT_TESTS));
    assert_eq!(who(&repo, "tests/data/tax_cases.json"), set(PRICING_TESTS));
    let unknown = repo.impact().args(["who", "README.md"]).run();
    assert_eq!(unknown.code, 2, "no test read it: {unknown:#?}");

    // A template rendered by two tests: both, and only them.
    repo.replace(
        "shop/templates/receipt.txt",
        "Total:    $total",
        "Total due: $total",
    );
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(selected(&json), set(RECEIPT_TESTS), "{json:#}");
    assert!(
        json["explain"]["tests/test_checkout.py::test_receipt"]
            .to_string()
            .contains("read shop/templates/receipt.txt"),
        "{json:#}"
    );
    repo.git(&["checkout", "--", "."]);

    // A file read while a test module is imported: every test of the module.
    repo.replace("tests/data/tax_cases.json", "[0.99, 1.19]", "[0.99, 1.18]");
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(selected(&json), set(PRICING_TESTS), "{json:#}");
    assert!(
        json["explain"]["tests/test_pricing.py::test_vat_arithmetic"]
            .to_string()
            .contains("read tests/data/tax_cases.json (while collecting tests/test_pricing.py)"),
        "{json:#}"
    );
    repo.git(&["checkout", "--", "."]);

    // A README change selects nothing, and the summary says it was ignored.
    repo.write("README.md", "# shop\n\nA small sample shop.\n");
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(selected(&json).is_empty(), "{json:#}");
    assert_eq!(
        json["ignored"],
        serde_json::json!(["README.md"]),
        "{json:#}"
    );
    assert!(
        run.stderr
            .contains("0 of 45 tests selected, 1 file changed (1 ignored: README.md)"),
        "{run:#?}"
    );

    // A data file read by exactly one test, changed so that the test fails:
    // that test is selected, alone, and `impact run` runs it and fails.
    repo.replace(
        "tests/data/email_domains.txt",
        "example.org\n",
        "example.io\n",
    );
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        selected(&json),
        set(&["tests/test_customers.py::test_emails_look_valid"]),
        "{json:#}"
    );
    assert_eq!(
        json["ignored"],
        serde_json::json!(["README.md"]),
        "{json:#}"
    );
    assert!(
        json["explain"]["tests/test_customers.py::test_emails_look_valid"]
            .to_string()
            .contains("read tests/data/email_domains.txt"),
        "{json:#}"
    );
    let run = impact_run(&repo, &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.contains("1 failed") && !run.stdout.contains("passed"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("test_emails_look_valid"), "{run:#?}");
}

#[test]
fn cached_deleted_and_renamed_data_files() {
    let repo = TestRepo::with_fixture("sample");
    recorded(&repo, &[]);

    // shop/data/catalog.json is read once per process (an lru_cache), so the
    // recording sees it read by the first test only; code naming the file is
    // followed too, and every test the change breaks is selected.
    repo.replace(
        "shop/data/catalog.json",
        "\"price\": 8.5,",
        "\"price\": 9.5,",
    );
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    let chosen = selected(&json);
    for t in [
        "tests/test_cart.py::TestCart::test_subtotal_and_count",
        "tests/test_catalog.py::test_get_product",
        "tests/test_checkout.py::test_receipt",
        "tests/test_cli.py::test_price_command",
        "tests/test_customers.py::test_gold_customer_total",
    ] {
        assert!(chosen.contains(t), "{t} not selected: {json:#}");
    }
    repo.git(&["checkout", "--", "."]);

    // Renamed: the tests read it under its old name.
    repo.git(&["mv", "tests/data/users.json", "tests/data/people.json"]);
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        selected(&json),
        set(&[
            "tests/test_customers.py::test_customer_without_tier",
            "tests/test_customers.py::test_emails_look_valid",
            "tests/test_customers.py::test_gold_customer_total",
            "tests/test_customers.py::test_tiers_are_known",
        ]),
        "{json:#}"
    );
    assert_eq!(json["changed"][0]["status"], "renamed", "{json:#}");
    repo.git(&["mv", "tests/data/people.json", "tests/data/users.json"]);

    // Deleted.
    std::fs::remove_file(repo.path().join("tests/data/email_domains.txt")).unwrap();
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        selected(&json),
        set(&["tests/test_customers.py::test_emails_look_valid"]),
        "{json:#}"
    );
    assert_eq!(json["changed"][0]["status"], "deleted", "{json:#}");
}

#[test]
fn reads_outside_tests_off_switch_and_re_recording() {
    let mut repo = TestRepo::with_fixture("sample");
    // tests/conftest.py is loaded before collection starts: what it reads at
    // import cannot be attributed to any test.
    let conftest = repo.read("tests/conftest.py");
    repo.write(
        "tests/conftest.py",
        &format!(
            "{conftest}\n\nWAREHOUSE = (__import__(\"pathlib\").Path(__file__).parent / \"data\" / \"warehouse.ini\").read_text()\n"
        ),
    );
    repo.write("tests/data/warehouse.ini", "[warehouse]\nname = main\n");
    repo.commit_all("conftest reads a file");

    // Tracking off: nothing recorded, the file selects nothing.
    repo.write("impact.toml", "track_reads = false\n");
    repo.commit_all("tracking off");
    recorded(&repo, &[]);
    let show = repo
        .impact()
        .args([
            "show",
            "tests/test_customers.py::test_emails_look_valid",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(show["reads"], serde_json::json!([]), "{show:#}");
    let run = repo
        .impact()
        .args(["who", "tests/data/email_domains.txt"])
        .run();
    assert_eq!(run.code, 2, "{run:#?}");

    // Tracking on (the default), re-recorded with a full run.
    std::fs::remove_file(repo.path().join("impact.toml")).unwrap();
    repo.commit_all("tracking on");
    let run = impact_run_command(&repo, &["--full"], &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    let who_run = repo.impact().args(["who", "tests/data/warehouse.ini"]).ok();
    assert!(
        who_run.stderr.contains("read outside any test"),
        "{who_run:#?}"
    );

    // A change to the file read outside any test: a full run, naming it.
    repo.write("tests/data/warehouse.ini", "[warehouse]\nname = north\n");
    let (run, json) = select(&repo);
    assert_eq!(run.code, 10, "{run:#?}");
    assert_eq!(json["mode"], "full");
    assert!(
        json["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("tests/data/warehouse.ini changed and was read outside any test"),
        "{json:#}"
    );
    repo.git(&["checkout", "--", "."]);

    // A test that stops reading a file loses it when it is recorded again.
    repo.replace(
        "tests/test_customers.py",
        "domains = (DATA_DIR / \"email_domains.txt\").read_text(encoding=\"utf-8\").split()",
        "domains = [\"example.com\", \"example.org\", \"example.net\"]",
    );
    let run = impact_run(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("1 passed"), "{run:#?}");
    let run = repo
        .impact()
        .args(["who", "tests/data/email_domains.txt"])
        .run();
    assert_eq!(run.code, 2, "no test reads it any more: {run:#?}");
}

#[test]
fn reads_in_python_child_processes_and_through_symlinks() {
    let mut repo = TestRepo::with_fixture("sample");
    repo.write("tests/data/limit.txt", "3\n");
    std::os::unix::fs::symlink("limit.txt", repo.path().join("tests/data/current.txt")).unwrap();
    // The names are computed, so only the recorded reads can find the tests.
    repo.write(
        "tests/test_child_reads.py",
        "import subprocess\nimport sys\n\n\ndef test_limit_in_a_child():\n    name = 'tests/data/li' + 'mit.txt'\n    code = 'import sys; print(open(sys.argv[1]).read())'\n    out = subprocess.run([sys.executable, '-c', code, name], capture_output=True, text=True, check=True).stdout\n    assert out.strip() == '3'\n\n\ndef test_limit_through_a_symlink():\n    with open('tests/data/cur' + 'rent.txt') as fh:\n        assert fh.read().strip() == '3'\n",
    );
    repo.commit_all("a test reads a file in a child process");
    let run = impact_run(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("47 passed"), "{run:#?}");
    let child_test = "tests/test_child_reads.py::test_limit_in_a_child";
    let link_test = "tests/test_child_reads.py::test_limit_through_a_symlink";
    // Through a symlink: the link and the file it leads to.
    let show = repo
        .impact()
        .args(["show", link_test, "--format", "json"])
        .ok()
        .json();
    assert_eq!(
        show["reads"],
        serde_json::json!(["tests/data/current.txt", "tests/data/limit.txt"]),
        "{show:#}"
    );
    assert_eq!(
        who(&repo, "tests/data/limit.txt"),
        set(&[child_test, link_test])
    );

    repo.write("tests/data/limit.txt", "4\n");
    let (run, json) = select(&repo);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(selected(&json), set(&[child_test, link_test]), "{json:#}");
    assert!(
        json["explain"][child_test]
            .to_string()
            .contains("read tests/data/limit.txt"),
        "{json:#}"
    );
    let run = impact_run(&repo, &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("2 failed"), "{run:#?}");
}
