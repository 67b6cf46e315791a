//! CI at scale, end to end on the sample project: shards (`--shard K/N`) that
//! are disjoint and together exactly the selection, shard data files combined
//! into the data of one run, data that moves to a shallow clone at another
//! path, and observation mode reporting a planted would-be miss.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::{Run, TestRepo, impact_run_command, plant_invisible_reader};

/// `impact [--db DB] run FLAGS -- python -m pytest -q`.
fn impact_run(repo: &TestRepo, db: Option<&Path>, flags: &[&str]) -> Run {
    impact_run_with(repo, db, flags, &[])
}

/// The same, with more pytest arguments.
fn impact_run_with(repo: &TestRepo, db: Option<&Path>, flags: &[&str], pytest: &[&str]) -> Run {
    let db = db.map(|db| db.display().to_string());
    let mut flags = flags.to_vec();
    if let Some(db) = &db {
        flags.extend(["--db", db]);
    }
    impact_run_command(repo, &flags, pytest).run()
}

fn ids(json: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(json["tests"].clone()).unwrap()
}

fn select_json(repo: &TestRepo, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["select", "--format", "json"];
    args.extend_from_slice(extra);
    let run = repo.impact().args(&args).run();
    let json = run.json();
    (run, json)
}

/// A data file's contents as one run would define them, row by row: each
/// test's outcome and needs-run flag, its lines per file, the import-time
/// lines, and each file's baseline. Timestamps, durations and ids are left
/// out: they differ between any two runs.
#[derive(Debug, PartialEq, Eq)]
struct Dump {
    tests: BTreeMap<String, (Option<String>, bool)>,
    lines: BTreeMap<(String, String), Vec<u32>>,
    baselines: BTreeMap<String, String>,
    /// (test, path) of the files each test read, and (scope, path) of reads
    /// outside tests.
    reads: BTreeSet<(String, String)>,
    scope_reads: BTreeSet<(String, String)>,
    /// (blob id, table) of what is stored by content beside the baselines
    /// (outlines, string tokens of test files).
    by_content: BTreeSet<(String, String)>,
}

fn dump(db: &Path) -> Dump {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tests = conn
        .prepare("SELECT nodeid, outcome, needs_run FROM impact_test")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let rows: Vec<(String, String, Vec<u8>)> = conn
        .prepare(
            "SELECT c.context, f.path, lb.numbits FROM line_bits lb
             JOIN context c ON c.id = lb.context_id JOIN file f ON f.id = lb.file_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let lines = rows
        .into_iter()
        .map(|(c, p, b)| ((c, p), impact::numbits::decode(&b)))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let baselines = conn
        .prepare("SELECT f.path, b.blob_id FROM impact_baseline b JOIN file f ON f.id = b.file_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let pairs = |sql: &str| -> BTreeSet<(String, String)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let reads = pairs(
        "SELECT t.nodeid, r.path FROM impact_test_read r JOIN impact_test t ON t.id = r.test_id",
    );
    let scope_reads = pairs("SELECT scope, path FROM impact_scope_read");
    let by_content = pairs(
        "SELECT blob_id, 'outline' FROM impact_outline
         UNION SELECT blob_id, 'quoted' FROM impact_quoted
         UNION SELECT blob_id, 'words' FROM impact_side_indexed
         UNION SELECT blob_id || ' ' || word, hex(numbits) FROM impact_side_word
         UNION SELECT blob_id || ' ' || path, 'mentions ' || mentions FROM impact_side_mentions
         UNION SELECT blob_id || ' ' || path || ' ' || word, targets FROM impact_side_target",
    );
    Dump {
        tests,
        lines,
        baselines,
        reads,
        scope_reads,
        by_content,
    }
}

/// Lines of code that runs once per process, whichever test comes first:
/// bodies of session- and module-scoped fixtures and of cached functions. In
/// a sharded run each shard's first user records them; in one run only the
/// first user overall does. Found with Python's own parser.
fn once_per_process(repo: &TestRepo) -> BTreeSet<(String, u32)> {
    let out = repo.python(
        r#"
import ast, pathlib
for p in sorted(pathlib.Path('.').rglob('*.py')):
    tree = ast.parse(p.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        once = False
        for d in node.decorator_list:
            text = ast.unparse(d)
            if 'cache' in text or ("fixture" in text and "scope" in text and "function" not in text):
                once = True
        if once:
            for n in range(node.body[0].lineno, node.end_lineno + 1):
                print(p.as_posix(), n)
"#,
    );
    out.lines()
        .filter_map(|l| {
            let (p, n) = l.split_once(' ')?;
            Some((p.to_string(), n.parse().ok()?))
        })
        .collect()
}

/// Asserts that two data files hold the same data, row by row. Code that
/// runs once per process (a session fixture, a cached function, and whatever
/// they call) is recorded as a unit and counted for every test that used it,
/// so it does not matter which test needed it first in each shard's process
/// or in the one run's: every line row must be equal.
fn assert_same_data(repo: &TestRepo, combined: &Path, single: &Path) {
    let a = dump(combined);
    let b = dump(single);
    assert_eq!(a.tests, b.tests, "tests and outcomes differ");
    assert_eq!(a.baselines, b.baselines, "baselines differ");
    assert_eq!(
        a.by_content, b.by_content,
        "outlines, string tokens or test-side words or mentions differ"
    );
    assert!(
        a.by_content.iter().any(|(_, t)| t == "outline"),
        "outlines are stored"
    );
    assert!(
        a.by_content.iter().any(|(_, t)| t == "words"),
        "test-side words are stored"
    );
    assert_eq!(
        a.scope_reads, b.scope_reads,
        "files read outside tests differ"
    );
    assert!(!a.reads.is_empty(), "the sample's tests read files");
    let once = once_per_process(repo);
    assert!(
        once.iter().any(|(p, _)| p == "tests/conftest.py"),
        "the session fixture is found: {once:?}"
    );
    for key in a.lines.keys().chain(b.lines.keys()) {
        assert_eq!(
            a.lines.get(key),
            b.lines.get(key),
            "{key:?}: combined vs. one run"
        );
    }
    assert!(a.lines.len() > 100, "{} rows compared", a.lines.len());
    // Every user of once-per-process code has its lines, in both files.
    let users = a
        .lines
        .iter()
        .filter(|((test, path), lines)| {
            !test.is_empty() && lines.iter().any(|n| once.contains(&(path.clone(), *n)))
        })
        .count();
    assert!(users >= 12, "{users} rows hold once-per-process lines");
    let first_users: BTreeSet<&str> = a
        .lines
        .iter()
        .filter(|((test, path), lines)| {
            !test.is_empty() && lines.iter().any(|n| once.contains(&(path.clone(), *n)))
        })
        .map(|((test, _), _)| test.as_str())
        .collect();

    // Files read: the same, except that a first user reads what cached code
    // reads once per process (and some first user reads it in both).
    let read_by_first = |d: &Dump| -> BTreeSet<String> {
        d.reads
            .iter()
            .filter(|(t, _)| first_users.contains(t.as_str()))
            .map(|(_, p)| p.clone())
            .collect()
    };
    let (ra, rb) = (read_by_first(&a), read_by_first(&b));
    for (test, path) in a.reads.symmetric_difference(&b.reads) {
        assert!(
            first_users.contains(test.as_str()) && ra.contains(path) && rb.contains(path),
            "{test} read {path} in one file only"
        );
    }
    assert!(
        a.reads.intersection(&b.reads).count() > 5,
        "reads compared exactly"
    );
}

#[test]
fn shards_are_disjoint_and_together_exactly_the_selection() {
    let mut repo = TestRepo::with_fixture("sample");
    assert_eq!(impact_run(&repo, None, &[]).code, 0);
    // A body change selecting some tests, and a new test file (unknown to
    // the data: node-id prefixes spread by file hash).
    repo.replace(
        "shop/inventory.py",
        "if self.available(sku) < quantity:",
        "if self.available(sku) <= quantity:",
    );
    repo.write(
        "tests/test_new_a.py",
        "def test_one():\n    assert True\n\n\ndef test_two():\n    assert True\n",
    );
    repo.write(
        "tests/test_new_b.py",
        "def test_three():\n    assert True\n",
    );
    let (run, whole) = select_json(&repo, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let selection: BTreeSet<String> = ids(&whole).into_iter().collect();
    assert!(selection.len() > 5, "{whole:#}");
    assert!(
        selection
            .iter()
            .any(|t| t.starts_with("tests/test_new_a.py"))
    );

    for n in [1, 2, 3, 5] {
        let mut union = BTreeSet::new();
        for k in 1..=n {
            let (run, json) = select_json(&repo, &["--shard", &format!("{k}/{n}")]);
            assert_eq!(run.code, 0, "{run:#?}");
            assert_eq!(json["shard"]["index"], k);
            assert_eq!(json["shard"]["of"], selection.len());
            for t in ids(&json) {
                assert!(union.insert(t.clone()), "{t} is in two of {n} shards");
            }
            // Every machine computes the same part.
            let (_, again) = select_json(&repo, &["--shard", &format!("{k}/{n}")]);
            assert_eq!(ids(&again), ids(&json));
        }
        assert_eq!(union, selection, "the union of {n} shards is the selection");
    }
    // The pytest format prints the part too.
    let text = repo
        .impact()
        .args(["select", "--shard", "2/2", "--format", "pytest"])
        .ok();
    let (_, json) = select_json(&repo, &["--shard", "2/2"]);
    assert_eq!(text.stdout.lines().collect::<Vec<_>>(), ids(&json));

    // A full-run verdict splits the known suite; the exit status stays 10.
    repo.commit_all("change");
    repo.replace("pyproject.toml", "[project]", "[project]\n# touched");
    let mut union = BTreeSet::new();
    for k in 1..=3 {
        let (run, json) = select_json(&repo, &["--shard", &format!("{k}/3")]);
        assert_eq!(run.code, 10, "{run:#?}");
        assert_eq!(json["mode"], "full");
        for t in ids(&json) {
            assert!(union.insert(t));
        }
    }
    assert_eq!(union.len(), 45, "the known suite, split: {union:?}");

    for bad in ["0/3", "4/3", "3", "x/y"] {
        let run = repo.impact().args(["select", "--shard", bad]).run();
        assert_eq!(run.code, 2, "{bad}: {run:#?}");
        assert!(run.stderr.contains("failed to read shard"), "{run:#?}");
    }
}

#[test]
fn sharded_runs_run_their_part_and_combine_into_the_data_of_one_run() {
    let repo = TestRepo::with_fixture("sample");
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| dir.path().join(name);

    // First runs, no data anywhere: every test is unknown, so the plugin
    // splits them by file hash.
    for k in 1..=3 {
        let run = impact_run(
            &repo,
            Some(&db(&format!("s{k}.db"))),
            &["--shard", &format!("{k}/3")],
        );
        assert_eq!(run.code, 0, "{run:#?}");
    }
    let single = impact_run(&repo, Some(&db("single.db")), &[]);
    assert_eq!(single.code, 0, "{single:#?}");
    let mut seen = BTreeSet::new();
    for k in 1..=3 {
        for t in dump(&db(&format!("s{k}.db"))).tests.keys() {
            assert!(seen.insert(t.clone()), "{t} ran in two shards");
        }
    }
    assert_eq!(seen.len(), 45, "every test ran in one shard");
    let combine = repo
        .impact()
        .args(["combine", "-o"])
        .args([&db("combined.db"), &db("s1.db"), &db("s2.db"), &db("s3.db")])
        .ok();
    assert!(combine.stderr.contains("combined 3 files"), "{combine:#?}");
    assert_same_data(&repo, &db("combined.db"), &db("single.db"));

    // With data: a bug in a function body; every shard restores the main
    // file, runs its part of a full run (balanced by recorded durations), and
    // the shards are combined into the main file.
    repo.replace(
        "shop/inventory.py",
        "if self.available(sku) < quantity:",
        "if self.available(sku) <= quantity:",
    );
    std::fs::copy(db("combined.db"), db("main.db")).unwrap();
    std::fs::copy(db("combined.db"), db("single2.db")).unwrap();
    let mut codes = Vec::new();
    for k in 1..=3 {
        let shard = db(&format!("t{k}.db"));
        std::fs::copy(db("main.db"), &shard).unwrap();
        let run = impact_run(
            &repo,
            Some(&shard),
            &["--full", "--shard", &format!("{k}/3")],
        );
        assert!(run.stderr.contains(&format!("shard {k}/3: ")), "{run:#?}");
        codes.push(run.code);
    }
    assert_eq!(
        codes.iter().filter(|&&c| c == 1).count(),
        1,
        "one shard has the failing test"
    );
    assert_eq!(
        impact_run(&repo, Some(&db("single2.db")), &["--full"]).code,
        1
    );
    repo.impact()
        .args(["--db"])
        .args([&db("main.db")])
        .args(["combine"])
        .args([&db("t1.db"), &db("t2.db"), &db("t3.db")])
        .ok();
    assert_same_data(&repo, &db("main.db"), &db("single2.db"));
    let failed: Vec<String> = dump(&db("main.db"))
        .tests
        .into_iter()
        .filter(|(_, (o, _))| o.as_deref() == Some("failed"))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");

    // A selected sharded run: each shard runs exactly its part of the
    // selection, new tests included, and records only those.
    repo.git(&["checkout", "--", "shop/inventory.py"]);
    repo.replace("shop/cart.py", "MAX_ITEMS = 50", "MAX_ITEMS = 40");
    repo.write("tests/test_new_c.py", "def test_c():\n    assert True\n");
    let (_, whole) = select_json(&repo, &["--db", &db("main.db").display().to_string()]);
    let selection: BTreeSet<String> = ids(&whole).into_iter().collect();
    let mut ran = BTreeSet::new();
    for k in 1..=2 {
        let shard = db(&format!("u{k}.db"));
        std::fs::copy(db("main.db"), &shard).unwrap();
        // The second shard runs under pytest-xdist: each worker keeps the
        // same part.
        let xdist: &[&str] = if k == 2 { &["-n", "2"] } else { &[] };
        let run = impact_run_with(&repo, Some(&shard), &["--shard", &format!("{k}/2")], xdist);
        assert!(run.code == 0 || run.code == 1, "{run:#?}");
        let conn = rusqlite::Connection::open(&shard).unwrap();
        let newest: Vec<String> = conn
            .prepare(
                "SELECT nodeid FROM impact_test WHERE last_run = (SELECT max(id) FROM impact_run)",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let command: String = conn
            .query_row(
                "SELECT command FROM impact_run ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(command.ends_with(&format!("[shard {k}/2]")), "{command}");
        for t in newest {
            assert!(ran.insert(t.clone()), "{t} ran in two shards");
        }
    }
    let expected: BTreeSet<String> = selection
        .iter()
        .map(|t| {
            if t == "tests/test_new_c.py" || t.starts_with("tests/test_new_c.py::") {
                "tests/test_new_c.py::test_c".to_string()
            } else {
                t.clone()
            }
        })
        .collect();
    assert_eq!(ran, expected, "the shards ran exactly the selection");

    // Combined into the main file: the tests the selection skipped carry the
    // mark a nightly full run reports possible misses from; no test another
    // shard ran does.
    repo.impact()
        .args(["--db"])
        .args([&db("main.db")])
        .args(["combine"])
        .args([&db("u1.db"), &db("u2.db")])
        .ok();
    let conn = rusqlite::Connection::open(db("main.db")).unwrap();
    // The new test file was recorded by one shard only: what selection
    // reads per content instead of the file (its string tokens, words and
    // mentions) comes over from that shard.
    let blob = repo.git(&["hash-object", "tests/test_new_c.py"]);
    for (table, sql) in [
        (
            "impact_quoted",
            "SELECT count(*) FROM impact_quoted WHERE blob_id = ?1",
        ),
        (
            "impact_side_indexed",
            "SELECT count(*) FROM impact_side_indexed WHERE blob_id = ?1",
        ),
        (
            "impact_side_word",
            "SELECT count(*) FROM impact_side_word WHERE blob_id = ?1 AND word = 'test_c'",
        ),
        (
            "impact_side_mentions",
            "SELECT count(*) FROM impact_side_mentions WHERE blob_id = ?1 \
             AND path = 'tests/test_new_c.py'",
        ),
    ] {
        let n: i64 = conn.query_row(sql, [&blob], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "{table} of tests/test_new_c.py in the combined data");
    }
    let marks: Vec<(String, bool)> = conn
        .prepare("SELECT nodeid, skipped_since_full FROM impact_test")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(marks.len(), 46);
    for (id, skipped) in marks {
        assert_eq!(skipped, !ran.contains(&id), "{id}");
    }
}

#[test]
fn combining_is_idempotent_and_refuses_shards_from_different_commits() {
    let mut repo = TestRepo::with_fixture("sample");
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| dir.path().join(name);
    assert_eq!(impact_run(&repo, Some(&db("main.db")), &[]).code, 0);

    // X with X is X; X into X is X.
    repo.impact()
        .args(["combine", "-o"])
        .args([&db("twice.db"), &db("main.db"), &db("main.db")])
        .ok();
    assert_eq!(dump(&db("twice.db")), dump(&db("main.db")));
    let runs = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("SELECT count(*) FROM impact_run", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(runs(&db("twice.db")), runs(&db("main.db")));
    std::fs::copy(db("main.db"), db("self.db")).unwrap();
    repo.impact()
        .args(["--db"])
        .args([&db("self.db")])
        .args(["combine"])
        .args([&db("main.db")])
        .ok();
    assert_eq!(dump(&db("self.db")), dump(&db("main.db")));
    assert_eq!(runs(&db("self.db")), runs(&db("main.db")));

    // Two shards on consecutive commits, where shop/cart.py has other
    // contents; each recorded tests that ran it. (Each shard's part is
    // named here: a duration-balanced split under load may give one shard
    // no test of that file.)
    std::fs::copy(db("main.db"), db("s1.db")).unwrap();
    std::fs::copy(db("main.db"), db("s2.db")).unwrap();
    let part1 = ["tests/test_cart.py::TestCart"];
    let part2 = ["tests/test_cart.py::test_cart_limit"];
    assert_eq!(
        impact_run_with(&repo, Some(&db("s1.db")), &["--full"], &part1).code,
        0
    );
    let first = repo.git(&["rev-parse", "HEAD"]);
    repo.replace(
        "shop/cart.py",
        "MAX_ITEMS = 50",
        "MAX_ITEMS = 50  # the limit",
    );
    let second = repo.commit_all("comment");
    assert_eq!(
        impact_run_with(&repo, Some(&db("s2.db")), &["--full"], &part2).code,
        0
    );
    let refused = repo
        .impact()
        .args(["combine", "-o"])
        .args([&db("mixed.db"), &db("s1.db"), &db("s2.db")])
        .run();
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(
        refused.stderr.contains("shop/cart.py")
            && refused.stderr.contains(&first[..10])
            && refused.stderr.contains(&second[..10]),
        "{refused:#?}"
    );
    assert!(!db("mixed.db").exists(), "nothing is written");

    // Either shard alone combines with the main file it was copied from.
    for s in ["s1.db", "s2.db"] {
        let out = db(&format!("main+{s}"));
        repo.impact()
            .args(["combine", "-o"])
            .args([&out, &db("main.db"), &db(s)])
            .ok();
        // Import-time lines are united: a shard that collected only part of
        // the suite imported less.
        let (mut combined, mut shard) = (dump(&out), dump(&db(s)));
        for (key, lines) in &shard.lines {
            if key.0.is_empty() {
                let all = &combined.lines[key];
                assert!(lines.iter().all(|n| all.contains(n)), "{key:?}");
            }
        }
        combined.lines.retain(|(test, _), _| !test.is_empty());
        shard.lines.retain(|(test, _), _| !test.is_empty());
        assert_eq!(combined, shard, "main + {s} = {s}");
    }

    // A test that stops running a file loses its lines there.
    repo.git(&["reset", "--quiet", "--hard", &first]);
    let key = (
        "tests/test_cart.py::test_cart_limit".to_string(),
        "shop/cart.py".to_string(),
    );
    assert!(dump(&db("main.db")).lines.contains_key(&key));
    repo.replace(
        "tests/test_cart.py",
        "    cart = Cart()\n    cart.add(\"POSTER\", Cart.MAX_ITEMS)\n    with pytest.raises(CartFullError):\n        cart.add(\"MUG\")",
        "    assert Cart and CartFullError",
    );
    std::fs::copy(db("main.db"), db("s3.db")).unwrap();
    assert_eq!(impact_run(&repo, Some(&db("s3.db")), &["--full"]).code, 0);
    assert!(!dump(&db("s3.db")).lines.contains_key(&key));
    repo.impact()
        .args(["combine", "-o"])
        .args([&db("main+s3.db"), &db("main.db"), &db("s3.db")])
        .ok();
    assert_eq!(dump(&db("main+s3.db")), dump(&db("s3.db")));
}

#[test]
fn data_moved_to_a_shallow_clone_at_another_path_selects_the_same_tests() {
    let mut origin = TestRepo::with_fixture("sample");
    assert_eq!(impact_run(&origin, None, &[]).code, 0);
    let recorded_at = origin.git(&["rev-parse", "HEAD"]);
    // main moves on after the recording; a branch changes a function body.
    origin.write(
        "shop/pricing.py",
        &format!("{}\nEXTRA = 1\n", origin.read("shop/pricing.py")),
    );
    origin.commit_all("main moves on");
    origin.git(&["checkout", "--quiet", "-b", "feature"]);
    origin.replace(
        "shop/inventory.py",
        "if self.available(sku) < quantity:",
        "if self.available(sku) <= quantity:",
    );
    origin.commit_all("feature");
    let (run, here) = select_json(&origin, &["--since", "main"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!ids(&here).is_empty(), "{here:#}");

    let elsewhere = tempfile::tempdir().unwrap();
    let clone = elsewhere.path().join("ci/checkout");
    crate::support::run_ok(
        std::process::Command::new("git")
            .args(["clone", "--quiet", "--depth", "1", "--branch", "feature"])
            .arg(format!("file://{}", origin.path().display()))
            .arg(&clone),
    );
    crate::support::run_ok(std::process::Command::new("git").current_dir(&clone).args([
        "fetch",
        "--quiet",
        "--depth",
        "1",
        "origin",
        "main:refs/remotes/origin/main",
    ]));
    // The clone lacks the commit the data was recorded at, and the merge base.
    let has_commit = std::process::Command::new("git")
        .current_dir(&clone)
        .args(["cat-file", "-e", &format!("{recorded_at}^{{commit}}")])
        .status()
        .unwrap();
    assert!(
        !has_commit.success(),
        "a --depth 1 clone lacks {recorded_at}"
    );
    std::fs::rename(origin.path().join(".impact.db"), clone.join(".impact.db")).unwrap();
    let run = crate::support::ImpactCommand::in_dir(&clone)
        .args(["select", "--since", "origin/main", "--format", "json"])
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    let there = run.json();
    assert_eq!(ids(&there), ids(&here), "{there:#}\n{here:#}");
    assert_eq!(there["mode"], "selected");
    assert_eq!(there["changed"], here["changed"]);
    assert!(run.stderr.contains("no merge base"), "{run:#?}");
}

#[test]
fn observation_mode_reports_a_planted_would_be_miss() {
    let mut repo = TestRepo::with_fixture("sample");
    plant_invisible_reader(&mut repo);
    assert_eq!(impact_run(&repo, None, &[]).code, 0);
    repo.write("tests/data/limit.txt", "4\n");
    repo.replace(
        "shop/inventory.py",
        "if self.available(sku) < quantity:",
        "if self.available(sku) <= quantity:",
    );
    let run = impact_run(&repo, None, &["--observe"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("2 failed, 44 passed"), "{run:#?}");
    assert!(
        run.stderr
            .contains("would-be miss: tests/test_planted.py::test_limit failed"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("observed: the selection would have run ")
            && run.stderr.contains("1 would-be miss"),
        "{run:#?}"
    );
    let status = repo
        .impact()
        .args(["status", "--format", "json"])
        .ok()
        .json();
    let obs = &status["last_run"]["observation"];
    assert_eq!(status["last_run"]["kind"], "full", "{status:#}");
    assert_eq!(
        obs["would_be_misses"],
        serde_json::json!(["tests/test_planted.py::test_limit"]),
        "{status:#}"
    );
    // The inventory bug is selected: not a miss. Most tests would be skipped.
    let would_run = obs["would_run"].as_u64().unwrap();
    assert!((1..46).contains(&would_run), "{obs:#}");
    assert_eq!(obs["ran"], 46);
    let saved = obs["saved_seconds"].as_f64().unwrap();
    let total = obs["total_seconds"].as_f64().unwrap();
    assert!(saved > 0.0 && saved < total, "{obs:#}");
    let text = repo.impact().args(["status"]).ok();
    assert!(
        text.stdout.contains(&format!(
            "observed: the selection would have run {would_run} of 46 tests"
        )) && text.stdout.contains("1 would-be miss"),
        "{text:#?}"
    );
    // The history keeps it: a later run does not erase the observation.
    assert_eq!(impact_run(&repo, None, &[]).code, 1);
    let observed: i64 =
        repo.data_value("SELECT count(*) FROM impact_run WHERE observation LIKE '%test_limit%'");
    assert_eq!(observed, 1);
}
