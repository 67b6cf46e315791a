//! The mutation benchmark: every single-line mutation of
//! `fixtures/sample-mutations.toml` is applied to the recorded sample project;
//! plain pytest says which tests really fail, and `impact select` must have
//! selected every one of them. Prints the figures README reports (run with
//! `--nocapture`); also written to `target/tmp/mutation-report.md`.

use std::collections::BTreeSet;

use impact::config::Selector;

use crate::support::{TestRepo, run_ok, venv_python};

#[derive(serde::Deserialize)]
struct Catalogue {
    mutation: Vec<Mutation>,
}

#[derive(serde::Deserialize)]
struct Mutation {
    id: String,
    rule: String,
    file: String,
    find: String,
    replace: String,
    fails: Vec<String>,
}

/// The node ids pytest reports as failed or errored.
pub fn failing_tests(repo: &TestRepo) -> BTreeSet<String> {
    let out = repo.plain_pytest(&["--tb=no", "-rfE"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.strip_prefix("FAILED ")
                .or_else(|| l.strip_prefix("ERROR "))
        })
        .map(|l| l.split(" - ").next().unwrap_or(l).trim().to_string())
        .collect()
}

/// Imports pytest-cov data recorded on the sample project.
pub fn recorded_sample() -> TestRepo {
    let repo = TestRepo::with_fixture("sample");
    repo.pytest_cov(&[]);
    repo.impact().args(["import", ".coverage"]).ok();
    repo
}

#[test]
fn every_failing_test_of_every_mutation_is_selected() {
    let text = std::fs::read_to_string(
        crate::support::project_dir().join("fixtures/sample-mutations.toml"),
    )
    .unwrap();
    let catalogue: Catalogue = toml::from_str(&text).unwrap();
    assert!(catalogue.mutation.len() >= 25);
    let repo = recorded_sample();
    let collected = run_ok(
        std::process::Command::new(venv_python())
            .current_dir(repo.path())
            .args(crate::support::PYTEST)
            .arg("--collect-only"),
    );
    let all_tests: Vec<String> = String::from_utf8_lossy(&collected.stdout)
        .lines()
        .filter(|l| l.contains("::"))
        .map(str::to_string)
        .collect();
    assert!(all_tests.len() >= 40);

    let mut report = vec![
        "| mutation | rule | failing | selected | missed |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    let mut missed_total = Vec::new();
    let mut fractions = Vec::new();
    for m in &catalogue.mutation {
        repo.replace(&m.file, &m.find, &m.replace);
        let failing = failing_tests(&repo);
        let expected: BTreeSet<String> = m.fails.iter().cloned().collect();
        assert_eq!(
            failing, expected,
            "the catalogue's `fails` of {} is out of date",
            m.id
        );

        let run = repo
            .impact()
            .args(["select", "--format", "json", "--explain"])
            .run();
        assert_eq!(run.code, 0, "{}: {run:#?}", m.id);
        let json = run.json();
        assert_eq!(json["mode"], "selected", "{}", m.id);
        let selected: Vec<String> = serde_json::from_value(json["tests"].clone()).unwrap();
        let covered = |t: &String| selected.iter().any(|s| Selector::prefix(s).matches(t));
        let missed: Vec<&String> = failing.iter().filter(|t| !covered(t)).collect();
        let chosen = all_tests.iter().filter(|t| covered(t)).count();
        fractions.push(chosen as f64 / all_tests.len() as f64);
        if m.rule.starts_with("comment") {
            assert!(
                selected.is_empty(),
                "{}: a comment-only change selected {selected:?}",
                m.id
            );
        }
        report.push(format!(
            "| {} | {} | {} | {} | {} |",
            m.id,
            m.rule,
            failing.len(),
            chosen,
            missed.len()
        ));
        for t in missed {
            missed_total.push(format!("{}: {t}\n{}", m.id, json["explain"]));
        }
        repo.git(&["checkout", "--", &m.file]);
    }
    let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
    report.push(String::new());
    report.push(format!(
        "{} mutations, {} tests in the suite: {} failing tests missed, mean fraction selected {:.1}%",
        catalogue.mutation.len(),
        all_tests.len(),
        missed_total.len(),
        mean * 100.0
    ));
    let text = report.join("\n");
    eprintln!("{text}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mutation-report.md"),
        format!("{text}\n"),
    );
    assert!(
        missed_total.is_empty(),
        "missed failing tests:\n{}",
        missed_total.join("\n")
    );
}
