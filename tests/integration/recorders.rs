//! The two line recorders mean the same: per test, impact's own recorder on
//! sys.monitoring (CPython 3.12+) and coverage.py's C tracer record the same
//! lines, and both agree with coverage.py's own `pytest --cov-context=test`,
//! on the sample project and on the children fixture.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::impact_run_command;
use crate::support::{TestRepo, copy_dir, project_dir, python_version, run_ok, venv_python};

/// context -> file (repository-relative) -> lines.
type Lines = BTreeMap<String, BTreeMap<String, BTreeSet<u32>>>;

/// Every context's lines in a coverage.py data file, read by coverage.py.
fn read_contexts(repo: &TestRepo, data_file: &str) -> Lines {
    let code = format!(
        r#"
import json, os
from coverage import CoverageData
data = CoverageData(basename={data_file:?})
data.read()
root = os.getcwd()
out = {{}}
for path in data.measured_files():
    rel = os.path.relpath(os.path.join(root, path), root)
    for line, contexts in data.contexts_by_lineno(path).items():
        for context in contexts:
            out.setdefault(context, {{}}).setdefault(rel, []).append(line)
print(json.dumps(out))
"#
    );
    let out = run_ok(
        std::process::Command::new(venv_python())
            .current_dir(repo.path())
            .args(["-c", &code]),
    );
    serde_json::from_slice(&out.stdout).expect("contexts as JSON")
}

/// Per test, the lines `impact run --full` recorded with `recorder`.
fn recorded(repo: &TestRepo, recorder: &str, passed: &str) -> Lines {
    let _ = std::fs::remove_file(repo.path().join(".impact.db"));
    let run = impact_run_command(repo, &["--full"], &[])
        .env("IMPACT_RECORDER", recorder)
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains(passed), "{run:#?}");
    repo.impact()
        .args(["export", "--coverage", "recorded.db"])
        .ok();
    read_contexts(repo, "recorded.db")
}

/// Per test, coverage.py's own lines: pytest-cov's `<id>|setup`, `|run` and
/// `|teardown` contexts joined; the empty context is what ran outside tests.
fn coverage_py(repo: &TestRepo) -> Lines {
    let _ = std::fs::remove_file(repo.path().join(".coverage"));
    // Child processes measured too, so every line a child ran is known.
    repo.write(".coveragerc", "[run]\npatch = subprocess, fork, _exit, execv\nconcurrency = multiprocessing, thread\nparallel = true\n");
    repo.pytest_cov(&["--cov-config=.coveragerc"]);
    std::fs::remove_file(repo.path().join(".coveragerc")).unwrap();
    let mut joined = Lines::new();
    for (context, files) in read_contexts(repo, ".coverage") {
        let test = context.split('|').next().unwrap_or_default().to_string();
        let slot = joined.entry(test).or_default();
        for (file, lines) in files {
            slot.entry(file).or_default().extend(lines);
        }
    }
    joined
}

fn flat(files: &BTreeMap<String, BTreeSet<u32>>) -> BTreeSet<(String, u32)> {
    files
        .iter()
        .flat_map(|(f, lines)| lines.iter().map(move |l| (f.clone(), *l)))
        .collect()
}

/// Checks a recorder's per-test lines against coverage.py's: every line
/// coverage.py saw a test run, the recorder has for that test; a line more is
/// one coverage.py saw run too (shared setup counted for every user, a child
/// process's lines counted for the test that started it), never one that
/// did not run.
fn agrees_with_coverage_py(
    name: &str,
    recorded: &Lines,
    cov: &Lines,
    beyond: &Beyond,
    racing: &Beyond,
) {
    let mut ran: BTreeSet<(String, u32)> = cov.values().flat_map(flat).collect();
    ran.extend(beyond.iter().cloned());
    // pytest-cov measured the package only (`--cov=shop`); impact the tests too.
    let measured: BTreeSet<&String> = cov.values().flat_map(|files| files.keys()).collect();
    let tests: Vec<&String> = cov.keys().filter(|k| !k.is_empty()).collect();
    assert!(tests.len() > 10, "{name}: pytest-cov recorded {tests:?}");
    let mut compared = 0;
    for test in tests {
        // A racing line may land in another test (or the fixture) here;
        // `compare` checks it ran somewhere.
        let theirs: BTreeSet<(String, u32)> =
            flat(&cov[test]).difference(racing).cloned().collect();
        compared += theirs.len();
        let ours: BTreeSet<(String, u32)> = recorded
            .get(test)
            .map(flat)
            .unwrap_or_default()
            .into_iter()
            .filter(|(file, _)| measured.contains(file))
            .collect();
        let missing: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "{name}: {test} lacks lines coverage.py saw it run: {missing:?}"
        );
        let invented: Vec<_> = ours.difference(&ran).collect();
        assert!(
            invented.is_empty(),
            "{name}: {test} has lines coverage.py never saw run: {invented:?}"
        );
    }
    assert!(compared > 100, "{name}: only {compared} lines compared");
}

/// Lines that run where a settrace tracer cannot see them, and
/// sys.monitoring can.
type Beyond = BTreeSet<(String, u32)>;

/// The lines an `os.fork` child runs in the frame that forked
/// (`if pid == 0:` up to its `os._exit`): a tracer started in the child
/// traces new frames only, coverage.py's and impact's C-tracer path alike;
/// sys.monitoring arms the running frame too. The test passes only if they
/// ran: they write the value it checks.
fn fork_child_frame(repo: &TestRepo) -> Beyond {
    let file = "shop/workers.py";
    let Ok(text) = std::fs::read_to_string(repo.path().join(file)) else {
        return Beyond::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim() == "if pid == 0:");
    let Some(start) = start else {
        return Beyond::new();
    };
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.contains("os._exit"))
            .unwrap();
    ((start + 2)..=(end + 1))
        .map(|n| (file.to_string(), n as u32))
        .collect()
}

/// The line a session-scoped server runs once its port is out
/// (`serve_forever()`): the child's main thread reaches it while the parent
/// moves from the fixture's setup to its first test, so by timing it counts
/// for the fixture (all its users) or for that first test alone, in either
/// recorder. Such a line is compared over all tests together.
fn racing_lines(repo: &TestRepo) -> Beyond {
    let file = "shop/server.py";
    let Ok(text) = std::fs::read_to_string(repo.path().join(file)) else {
        return Beyond::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "server.serve_forever()")
        .map(|(n, _)| (file.to_string(), n as u32 + 1))
        .collect()
}

/// Both recorders on one project: identical per test (where sys.monitoring
/// exists) but for what only sys.monitoring can see and the lines a child
/// runs while the parent switches tests, and each agrees with coverage.py.
fn compare(repo: &TestRepo, passed: &str) {
    let cov = coverage_py(repo);
    let racing = racing_lines(repo);
    let anywhere = |lines: &Lines| -> Beyond {
        let all: Beyond = lines.values().flat_map(flat).collect();
        all.intersection(&racing).cloned().collect()
    };
    let ctrace = recorded(repo, "ctrace", passed);
    agrees_with_coverage_py("C tracer", &ctrace, &cov, &Beyond::new(), &racing);
    assert_eq!(anywhere(&ctrace), racing, "the C tracer ran the server");
    let version = python_version();
    if version < (3, 12) {
        eprintln!(
            "recorders: Python {}.{} has no sys.monitoring; compared the C tracer only",
            version.0, version.1
        );
        return;
    }
    let sysmon = recorded(repo, "sysmon", passed);
    let beyond = fork_child_frame(repo);
    agrees_with_coverage_py("sys.monitoring", &sysmon, &cov, &beyond, &racing);
    assert_eq!(anywhere(&sysmon), racing, "sys.monitoring ran the server");
    assert_eq!(
        sysmon.keys().collect::<Vec<_>>(),
        ctrace.keys().collect::<Vec<_>>(),
        "the same tests"
    );
    for (test, lines) in &ctrace {
        let ours: Beyond = flat(&sysmon[test]).difference(&racing).cloned().collect();
        let theirs: Beyond = flat(lines).difference(&racing).cloned().collect();
        let extra: Beyond = ours.difference(&theirs).cloned().collect();
        assert_eq!(
            (
                theirs.difference(&ours).collect::<Vec<_>>(),
                extra.is_subset(&beyond)
            ),
            (vec![], true),
            "{test:?}: sys.monitoring vs the C tracer; it has more: {extra:?}"
        );
    }
    if !beyond.is_empty() {
        let forked = flat(&sysmon["tests/test_children.py::test_os_fork"]);
        assert!(beyond.is_subset(&forked), "sys.monitoring sees {beyond:?}");
    }
}

#[test]
fn both_recorders_agree_with_coverage_py_on_the_sample() {
    let repo = TestRepo::with_fixture("sample");
    compare(&repo, "45 passed");
}

#[test]
fn both_recorders_agree_with_coverage_py_on_child_processes() {
    let mut repo = TestRepo::with_fixture("sample");
    copy_dir(&project_dir().join("fixtures/children"), repo.path());
    repo.commit_all("children");
    compare(&repo, "54 passed");
}
