//! `impact import` of real pytest-cov data, checked against coverage.py's own
//! reading of the same file, line by line and test by test.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::TestRepo;

/// coverage.py's view: path -> line -> sorted test ids (import-time excluded).
const CONTEXTS_BY_LINENO: &str = r#"
import json
from coverage import CoverageData
d = CoverageData(".coverage"); d.read()
out = {}
for f in d.measured_files():
    by = d.contexts_by_lineno(f)
    out[f] = {str(k): sorted({c.rsplit('|', 1)[0] for c in v if c}) for k, v in by.items()}
print(json.dumps(out))
"#;

/// coverage.py's view: test id -> path -> sorted lines.
const LINES_BY_TEST: &str = r#"
import json, re
from coverage import CoverageData
d = CoverageData(".coverage"); d.read()
tests = sorted({c.rsplit('|', 1)[0] for c in d.measured_contexts() if c})
out = {}
for t in tests:
    d.set_query_contexts(["^" + re.escape(t) + r"\|(setup|run|teardown)$"])
    files = {}
    for f in d.measured_files():
        lines = d.lines(f) or []
        if lines:
            files[f] = sorted(lines)
    out[t] = files
print(json.dumps(out))
"#;

fn rel(repo: &TestRepo, abs: &str) -> String {
    abs.strip_prefix(&format!("{}/", repo.path().display()))
        .unwrap_or_else(|| panic!("{abs} is outside {}", repo.path().display()))
        .to_string()
}

#[test]
fn who_and_show_agree_with_coverage_py_on_every_line_and_test() {
    let repo = TestRepo::with_fixture("sample");
    repo.pytest_cov(&[]);
    let imported = repo.impact().args(["import", ".coverage"]).ok();
    assert!(imported.stderr.contains("imported"), "{imported:#?}");

    let expected: BTreeMap<String, BTreeMap<String, Vec<String>>> =
        serde_json::from_str(&repo.python(CONTEXTS_BY_LINENO)).unwrap();
    assert!(expected.len() >= 5, "the sample measures several files");
    let mut lines_checked = 0;
    for (abs, by_line) in &expected {
        let path = rel(&repo, abs);
        // Every measured line: the tests coverage.py says ran it.
        for (line, tests) in by_line {
            let run = repo
                .impact()
                .args(["who", &format!("{path}:{line}"), "--format", "json"])
                .ok();
            let got: Vec<String> = serde_json::from_value(run.json()["tests"].clone()).unwrap();
            assert_eq!(&got, tests, "who {path}:{line}");
            lines_checked += 1;
        }
        // The whole file: the union.
        let all: BTreeSet<&String> = by_line.values().flatten().collect();
        let run = repo.impact().args(["who", &path, "--format", "json"]).ok();
        let got: Vec<String> = serde_json::from_value(run.json()["tests"].clone()).unwrap();
        assert_eq!(got.iter().collect::<BTreeSet<_>>(), all, "who {path}");
    }
    assert!(lines_checked > 50, "checked only {lines_checked} lines");

    let by_test: BTreeMap<String, BTreeMap<String, Vec<u32>>> =
        serde_json::from_str(&repo.python(LINES_BY_TEST)).unwrap();
    assert!(by_test.len() >= 20, "the sample has many tests");
    for (test, files) in &by_test {
        let run = repo.impact().args(["show", test, "--format", "json"]).ok();
        let json = run.json();
        assert_eq!(json["test"], test.as_str());
        let got: BTreeMap<String, Vec<u32>> =
            serde_json::from_value(json["files"].clone()).unwrap();
        let want: BTreeMap<String, Vec<u32>> = files
            .iter()
            .map(|(f, l)| (rel(&repo, f), l.clone()))
            .collect();
        assert_eq!(got, want, "show {test}");
    }

    let status = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(status["tests"], by_test.len());
    assert_eq!(status["files"], expected.len());
    assert_eq!(status["runs"], 1);
    assert_eq!(status["changed"], serde_json::json!([]));
    // Imported data lacks what `impact run` records about code run once for
    // many tests: status and selections say so.
    assert_eq!(status["tests_imported"], by_test.len());
    let text = repo.impact().args(["status"]).ok();
    assert!(
        text.stdout
            .contains("were recorded by `impact import`, without fixture closures"),
        "{text:#?}"
    );
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 49");
    let select = repo.impact().args(["select"]).ok();
    assert!(
        select
            .stderr
            .contains("tests were recorded by `impact import`"),
        "{select:#?}"
    );
}

#[test]
fn reimport_replaces_tests_and_line_numbers_follow_edits() {
    let repo = TestRepo::with_fixture("sample");
    repo.pytest_cov(&[]);
    repo.impact().args(["import", ".coverage"]).ok();
    let before = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();

    // Re-importing the same data changes nothing but the history.
    repo.impact().args(["import", ".coverage"]).ok();
    let again = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(again["tests"], before["tests"]);
    assert_eq!(again["line_bits_rows"], before["line_bits_rows"]);
    assert_eq!(again["runs"], 2);

    // Insert lines at the top of a measured module: `who` takes line numbers of
    // the file as it is now and maps them to the recorded version.
    let path = "shop/pricing.py";
    let first_code_line = find_line_with_tests(&repo, path);
    let old = repo
        .impact()
        .args([
            "who",
            &format!("{path}:{first_code_line}"),
            "--format",
            "json",
        ])
        .ok()
        .json();
    let text = repo.read(path);
    repo.write(path, &format!("# one\n# two\n{text}"));
    let shifted = first_code_line + 2;
    let run = repo
        .impact()
        .args(["who", &format!("{path}:{shifted}"), "--format", "json"])
        .ok();
    assert_eq!(run.json(), old, "{run:#?}");
    assert!(
        run.stderr.contains("changed since it was recorded"),
        "{run:#?}"
    );
    let status = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    assert_eq!(status["changed"], serde_json::json!([path]));
}

/// The first line of `path` that some test executed.
fn find_line_with_tests(repo: &TestRepo, path: &str) -> u32 {
    let n = repo.read(path).lines().count() as u32;
    (1..=n)
        .find(|line| {
            let run = repo
                .impact()
                .args(["who", &format!("{path}:{line}"), "--format", "json"])
                .ok();
            run.json()["tests"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .unwrap_or_else(|| panic!("no test ran any line of {path}"))
}
