//! `impact run`: select, run pytest with the embedded plugin, merge the
//! results into the data in one transaction.
//!
//! The plugin (`impact_pytest.py`, compiled into the binary) is written to a
//! temporary directory outside the work tree and loaded with `-p`; it writes
//! one coverage.py data file and one results file per process (xdist workers
//! included) into that directory, which is removed afterwards. The same
//! directory, first on PYTHONPATH, holds a `sitecustomize.py` and
//! `impact_child.py` that measure the Python child processes the tests start
//! (one more data file each), following the test that runs in the parent.

mod probe;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::changes::TargetSpec;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::git::Target;
use crate::output::{Output, thousands};
use crate::recording::{self, Recording, now_rfc3339};
use crate::select::{self, Mode, Options, Selection};
use crate::shard::Shard;
use crate::store::Store;

pub use probe::Interpreter;

/// The Python side, shipped inside the binary: file name and source.
const PYTHON_FILES: &[(&str, &str)] = &[
    ("impact_pytest.py", include_str!("impact_pytest.py")),
    ("impact_child.py", include_str!("impact_child.py")),
    ("impact_reads.py", include_str!("impact_reads.py")),
    ("sitecustomize.py", include_str!("sitecustomize.py")),
];

/// Key of the environment fingerprint in `impact_meta`.
const ENV_KEY: &str = "env_fingerprint";

/// What `impact run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub full: bool,
    pub target: TargetSpec,
    pub since: Option<String>,
    pub explain: bool,
    /// Run only this shard of the selection.
    pub shard: Option<Shard>,
    /// Run everything, but report what the selection would have done.
    pub observe: bool,
    /// The test command; empty = `python -m pytest`.
    pub command: Vec<String>,
}

/// What the selection would have run, kept by `--observe` before it runs
/// everything.
struct WouldBe {
    mode: Mode,
    tests: BTreeSet<String>,
    reasons: Vec<String>,
}

/// Runs the command; returns pytest's exit code.
pub fn run(repo: &crate::git::Repo, db: &Path, opts: &RunOptions, out: &Output) -> Result<i32> {
    let config = Config::load(repo.root())?;
    for w in &config.warnings {
        out.warn(w);
    }
    let command = if opts.command.is_empty() {
        vec![probe::default_python(), "-m".into(), "pytest".into()]
    } else {
        opts.command.clone()
    };
    let interpreter = probe::probe(&command, repo.root(), &config.env_ignore)?;

    let mut store = Store::open_or_create(db)?;
    let recorded_env = store.meta(ENV_KEY)?;
    let mut selection = select::select(
        repo,
        Some(&store),
        &config,
        &Options {
            target: opts.target.clone(),
            since: opts.since.clone(),
        },
    )?;
    let would_be = opts.observe.then(|| WouldBe {
        mode: selection.mode,
        tests: selection.tests.keys().cloned().collect(),
        reasons: selection.reasons.clone(),
    });
    if opts.full {
        force_full(
            &mut selection,
            "--full: running everything and refreshing the data",
        );
    } else if opts.observe {
        force_full(
            &mut selection,
            "--observe: running everything to compare with what the selection would run",
        );
    } else if let Some(old) = &recorded_env
        && old != &interpreter.fingerprint
        && selection.mode == Mode::Selected
    {
        force_full(
            &mut selection,
            &format!(
                "the Python environment changed since the data was recorded ({})",
                interpreter.describe_change(old)
            ),
        );
    }
    announce(&selection, opts.explain, out);
    let tests = store.tests()?;
    let part = opts
        .shard
        .map(|shard| (shard, crate::shard::part(&selection, &tests, shard)));
    if let Some((shard, part)) = &part {
        out.note(&format!(
            "shard {shard}: {} of {} {} ({:.2} s of {:.2} s recorded)",
            thousands(part.tests.len()),
            thousands(part.of),
            if selection.mode == Mode::Full {
                "known tests, and the unknown tests whose file hashes here"
            } else {
                "selected tests"
            },
            part.seconds,
            part.total_seconds,
        ));
    }
    if selection.mode == Mode::Selected && selection.tests.is_empty() {
        if !selection.changed.is_empty() {
            // Every test was skipped under these changes: remember it, so a
            // full run can tell a miss.
            let known = store.test_ids()?;
            let note = skip_note(&selection, &now_rfc3339(), repo.head()?.as_deref());
            store.write(|w| w.mark_skipped(&known, &note))?;
        }
        return Ok(0);
    }
    if let Some((shard, part)) = &part
        && selection.mode == Mode::Selected
        && part.tests.is_empty()
    {
        // The other shards run the selection; this one records nothing, so
        // its data file stays as it was restored.
        out.note(&format!("shard {shard}: nothing to run"));
        return Ok(0);
    }

    let work = TempDir::new()?;
    for (name, source) in PYTHON_FILES {
        let path = work.path.join(name);
        std::fs::write(&path, source).map_err(|source| Error::Write { path, source })?;
    }
    let known: Vec<String> = tests.iter().map(|t| t.nodeid.clone()).collect();
    let mut selection_json = serde_json::json!({
        "mode": match selection.mode { Mode::Full => "full", Mode::Selected => "selected" },
        "tests": selection.tests.keys().collect::<Vec<_>>(),
        "known": known,
    });
    if let Some((shard, part)) = &part {
        // The plugin keeps a known test when it is in `tests` (this shard's
        // part, exact ids), and a test the data does not know when its file
        // hashes to this shard (`unknown_shard`).
        selection_json["tests"] = serde_json::json!(part.tests);
        selection_json["shard"] = serde_json::json!({"index": shard.index, "count": shard.count});
    }
    let selection_path = work.path.join("selection.json");
    std::fs::write(&selection_path, selection_json.to_string()).map_err(|source| Error::Write {
        path: selection_path.clone(),
        source,
    })?;

    let started_at = now_rfc3339();
    let track_reads = match std::env::var("IMPACT_TRACK_READS") {
        Ok(v) => v != "0",
        Err(_) => config.track_reads,
    };
    let status = launch(
        &command,
        repo.root(),
        &work.path,
        &selection_path,
        track_reads,
        config.child_save_interval,
    )?;
    let code = status.code().unwrap_or(1);

    let mut results = read_results(&work.path)?;
    // A child that outlived pytest may still hold its file: keep what reads.
    results.files.retain(|f| {
        let child = f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("child-"));
        if !child {
            return true;
        }
        match crate::store::CoverageFile::read(f) {
            Err(reason) => {
                results.notes.push(format!(
                    "left out the data of a child process that could not be read ({reason}); \
                     a child still running after pytest exits is not measured to its end"
                ));
                false
            }
            Ok(_) => true,
        }
    });
    for note in &results.notes {
        out.warn(note);
    }
    if results.tests.is_empty() && results.files.is_empty() {
        out.warn(
            "pytest wrote no results (it may have failed before collecting); the data is unchanged",
        );
        return Ok(code);
    }
    let mut rec = crate::import::read_coverage_run(repo, &results.files, &Target::WorkTree)?;
    rec.kind = if selection.mode == Mode::Full {
        "full"
    } else {
        "run"
    };
    rec.started_at = started_at;
    rec.command = command.join(" ");
    if let Some(shard) = opts.shard {
        // Shards started in the same second are still different runs to
        // `impact combine`.
        rec.command.push_str(&format!(" [shard {shard}]"));
    }
    for (id, r) in &results.tests {
        let entry = rec.tests.entry(id.clone()).or_default();
        entry.outcome = Some(r.outcome.clone());
        entry.duration = Some(r.duration);
        entry.fixtures = Some(r.fixtures.clone());
        entry.reads = r.reads.clone();
    }
    rec.scope_reads = results.scope_reads.clone();
    // Coverage contexts of tests that have no result (should not happen) are
    // kept; results without coverage are tests that ran no measured line.
    let removed = if selection.mode == Mode::Full && results.complete(code) {
        let collected: BTreeSet<&String> = results.collected.iter().collect();
        known
            .iter()
            .filter(|t| !collected.contains(t))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    // Possible misses: tests failing now that a selection skipped since the
    // last full run (read before the merge clears the marks).
    let misses: Vec<(String, String)> = if selection.mode == Mode::Full {
        let skipped = store.skipped_since_full()?;
        rec.tests
            .iter()
            .filter(|(_, t)| matches!(t.outcome.as_deref(), Some("failed" | "error")))
            .filter_map(|(id, _)| skipped.get(id).map(|note| (id.clone(), note.clone())))
            .collect()
    } else {
        rec.skipped = match opts.shard {
            // Tests other shards run were not skipped by the selection.
            Some(_) => crate::shard::unselected(&selection, &known)
                .into_iter()
                .filter(|t| !results.tests.contains_key(*t))
                .cloned()
                .collect(),
            None => known
                .iter()
                .filter(|t| !results.tests.contains_key(*t))
                .cloned()
                .collect(),
        };
        rec.skip_note = skip_note(&selection, &rec.started_at, rec.commit.as_deref());
        Vec::new()
    };
    let report = merge_run(&mut store, &mut rec, &removed, &interpreter.fingerprint)?;
    for (id, note) in &misses {
        out.warn(&format!("possible miss: {id} fails now, but a selection skipped it since the last full run ({note})"));
    }
    if let Some(would_be) = &would_be {
        let observation = observe(would_be, &known, &results);
        report_observation(&observation, out);
        if let Some(run) = store.last_run()? {
            let json = serde_json::to_string(&observation).unwrap_or_default();
            store.write(|w| w.set_run_observation(run.id, &json))?;
        }
    }
    let failed = rec
        .tests
        .values()
        .filter(|t| matches!(t.outcome.as_deref(), Some("failed" | "error")))
        .count();
    out.note(&format!(
        "recorded {} tests ({} failed) into {}{}",
        thousands(report.tests),
        failed,
        db.display(),
        if removed.is_empty() {
            String::new()
        } else {
            format!("; dropped {} tests that no longer exist", removed.len())
        }
    ));
    Ok(code)
}

/// What `--observe` found: the selection compared with the full run.
#[derive(Debug, serde::Serialize)]
struct Observation {
    /// `selected` or `full`: the verdict the selection would have given.
    mode: Mode,
    /// Tests that ran.
    ran: usize,
    /// Of those, tests the selection would have run.
    would_run: usize,
    /// Tests that failed or errored although the selection would have skipped them.
    would_be_misses: Vec<String>,
    /// Seconds this run spent in tests the selection would have skipped.
    saved_seconds: f64,
    /// Seconds this run spent in tests.
    total_seconds: f64,
    /// Why the selection would have run everything, when it would.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
}

/// Compares what ran with what the selection would have run. Tests the data
/// did not know count as selected: the plugin always runs them.
fn observe(would_be: &WouldBe, known: &[String], results: &Results) -> Observation {
    let known: BTreeSet<&str> = known.iter().map(String::as_str).collect();
    let prefixes: Vec<String> = would_be
        .tests
        .iter()
        .flat_map(|t| ["::", "[", "/"].map(|s| format!("{t}{s}")))
        .collect();
    let selected = |id: &str| {
        would_be.mode == Mode::Full
            || !known.contains(id)
            || would_be.tests.contains(id)
            || prefixes.iter().any(|p| id.starts_with(p.as_str()))
    };
    let mut obs = Observation {
        mode: would_be.mode,
        ran: results.tests.len(),
        would_run: 0,
        would_be_misses: Vec::new(),
        saved_seconds: 0.0,
        total_seconds: 0.0,
        reasons: if would_be.mode == Mode::Full {
            would_be.reasons.clone()
        } else {
            Vec::new()
        },
    };
    for (id, r) in &results.tests {
        let duration = if r.duration.is_finite() {
            r.duration.max(0.0)
        } else {
            0.0
        };
        obs.total_seconds += duration;
        if selected(id) {
            obs.would_run += 1;
        } else {
            obs.saved_seconds += duration;
            if matches!(r.outcome.as_str(), "failed" | "error") {
                obs.would_be_misses.push(id.clone());
            }
        }
    }
    obs
}

fn report_observation(obs: &Observation, out: &Output) {
    for id in &obs.would_be_misses {
        out.warn(&format!(
            "would-be miss: {id} failed, but the selection would have skipped it"
        ));
    }
    if obs.mode == Mode::Full {
        out.note(&format!(
            "observed: the selection would have run everything ({}); nothing to save",
            obs.reasons.join("; ")
        ));
        return;
    }
    let fraction = if obs.total_seconds > 0.0 {
        obs.saved_seconds / obs.total_seconds * 100.0
    } else {
        0.0
    };
    out.note(&format!(
        "observed: the selection would have run {} of {} tests, saving {:.2} s of {:.2} s in tests ({fraction:.0}%); {} would-be {}",
        thousands(obs.would_run),
        thousands(obs.ran),
        obs.saved_seconds,
        obs.total_seconds,
        obs.would_be_misses.len(),
        if obs.would_be_misses.len() == 1 { "miss" } else { "misses" },
    ));
}

/// The change in effect when a selection skipped tests.
fn skip_note(selection: &Selection, when: &str, commit: Option<&str>) -> String {
    let changed: Vec<&str> = selection.changed.iter().map(|c| c.path.as_str()).collect();
    format!(
        "skipped on {when} at commit {} with changes to {}",
        commit.map(|c| c.get(..10).unwrap_or(c)).unwrap_or("(none)"),
        if changed.is_empty() {
            "nothing".to_string()
        } else {
            changed.join(", ")
        }
    )
}

fn force_full(selection: &mut Selection, reason: &str) {
    if selection.mode != Mode::Full {
        selection.mode = Mode::Full;
        selection.reasons.clear();
    }
    selection.reasons.push(reason.to_string());
    selection.tests.clear();
}

/// The line before pytest starts: what runs and why.
fn announce(s: &Selection, explain: bool, out: &Output) {
    match s.mode {
        Mode::Full => out.note(&format!("running all tests: {}", s.reasons.join("; "))),
        Mode::Selected if s.tests.is_empty() => out.note(&format!(
            "nothing affected by {} changed {}{}; no tests to run",
            s.changed.len(),
            if s.changed.len() == 1 {
                "file"
            } else {
                "files"
            },
            s.ignored_note()
        )),
        Mode::Selected => out.note(&format!(
            "{} of {} tests affected by {} changed {}{} (selected in {:.0} ms)",
            thousands(s.tests.len()),
            thousands(s.total),
            s.changed.len(),
            if s.changed.len() == 1 {
                "file"
            } else {
                "files"
            },
            s.ignored_note(),
            s.elapsed_ms.max(1.0)
        )),
    }
    if explain && s.mode == Mode::Selected {
        for (t, reasons) in &s.tests {
            let r: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            out.note(&format!("  {t}: {}", r.join("; ")));
        }
    }
}

fn launch(
    command: &[String],
    root: &Path,
    work: &Path,
    selection: &Path,
    track_reads: bool,
    child_save_interval: f64,
) -> Result<std::process::ExitStatus> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]).args(["-p", "impact_pytest"]);
    let mut pythonpath = std::ffi::OsString::from(work.as_os_str());
    if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        pythonpath.push(":");
        pythonpath.push(existing);
    }
    cmd.current_dir(root)
        .env("PYTHONPATH", pythonpath)
        // sys.monitoring reports each line once per process: per-test
        // contexts would be wrong. The C tracer is exact.
        .env("COVERAGE_CORE", "ctrace")
        .env("IMPACT_OUT", work)
        .env("IMPACT_SELECTION", selection)
        .env("IMPACT_ROOT", root)
        .env("IMPACT_TRACK_READS", if track_reads { "1" } else { "0" })
        .env("IMPACT_SAVE_INTERVAL", child_save_interval.to_string())
        .env(
            "IMPACT_OMIT",
            [
                "*/site-packages/*",
                "*/dist-packages/*",
                "*/.venv/*",
                "*/venv/*",
                "*/.tox/*",
                "*/.nox/*",
            ]
            .join(":"),
        );
    cmd.status().map_err(|e| {
        Error::Usage(format!(
            "failed to start `{}`: {e}; pass the test command after `--`, e.g. `impact run -- python -m pytest`",
            command.join(" ")
        ))
    })
}

/// What the plugin wrote, over all processes.
#[derive(Debug, Default)]
struct Results {
    tests: BTreeMap<String, TestResult>,
    collected: Vec<String>,
    files: Vec<PathBuf>,
    args: Vec<String>,
    collect_errors: i64,
    /// Files read outside tests, by scope, over all processes (when tracked).
    scope_reads: Option<BTreeMap<String, Vec<String>>>,
    /// Warnings from the plugin and from child processes.
    notes: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct TestResult {
    outcome: String,
    duration: f64,
    #[serde(default)]
    fixtures: Vec<String>,
    /// Absent when reads were not tracked (or from the xdist controller,
    /// which reports outcomes of tests run elsewhere).
    #[serde(default)]
    reads: Option<Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
struct ResultsFile {
    #[serde(default)]
    collected: Vec<String>,
    #[serde(default)]
    collect_errors: i64,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    tests: BTreeMap<String, TestResult>,
    #[serde(default)]
    scope_reads: Option<BTreeMap<String, Vec<String>>>,
    notes: Vec<String>,
}

impl Results {
    /// Whether this run saw the whole suite: no narrowing arguments, no
    /// collection errors, not interrupted. Only then may missing tests be dropped.
    fn complete(&self, exit_code: i32) -> bool {
        let narrowing = self.args.iter().any(|a| {
            a.starts_with("-k")
                || a.starts_with("-m")
                || a.contains("::")
                || a == "--lf"
                || a == "--last-failed"
                || a.starts_with("--deselect")
                || a == "-x"
                || a.starts_with("--maxfail")
                || a.starts_with("--sw")
        });
        !narrowing
            && self.collect_errors == 0
            && !self.collected.is_empty()
            && (exit_code == 0 || exit_code == 1)
    }
}

fn read_results(dir: &Path) -> Result<Results> {
    let mut results = Results::default();
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let mut collected = BTreeSet::new();
    // Files child processes read, by the test running when they did.
    let mut child_reads: Vec<(PathBuf, BTreeMap<String, Vec<String>>)> = Vec::new();
    for path in names {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if (name.starts_with("coverage-") || name.starts_with("child-")) && name.ends_with(".db") {
            results.files.push(path);
        } else if name.starts_with("child-reads-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            match serde_json::from_str(&text) {
                Ok(reads) => child_reads.push((path, reads)),
                Err(e) => results.notes.push(format!(
                    "left out the files a child process read: {} is malformed ({e})",
                    path.display()
                )),
            }
        } else if name.starts_with("child-error-") {
            // A child process that could not be measured says why.
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                results.notes.push(format!(
                    "a child process was not fully measured, so changes to what it ran may not select its test: {line}"
                ));
            }
        } else if name.starts_with("results-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            let file: ResultsFile = serde_json::from_str(&text).map_err(|e| Error::Import {
                path: path.clone(),
                reason: format!("the plugin's results are malformed ({e})"),
            })?;
            collected.extend(file.collected);
            results.collect_errors += file.collect_errors;
            if results.args.is_empty() {
                results.args = file.args;
            }
            for (id, mut test) in file.tests {
                // The xdist controller reports tests its workers ran: keep
                // what the worker saw.
                if let Some(old) = results.tests.remove(&id) {
                    if test.fixtures.is_empty() {
                        test.fixtures = old.fixtures;
                    }
                    test.reads = union(old.reads, test.reads);
                }
                results.tests.insert(id, test);
            }
            if let Some(scopes) = file.scope_reads {
                let all = results.scope_reads.get_or_insert_with(BTreeMap::new);
                for (scope, paths) in scopes {
                    let entry = all.entry(scope).or_default();
                    entry.extend(paths);
                    entry.sort();
                    entry.dedup();
                }
            }
            results.notes.extend(file.notes);
        }
    }
    results.collected = collected.into_iter().collect();
    for (_, reads) in child_reads {
        for (context, paths) in reads {
            if context.is_empty() {
                // Started outside any test: like the test process's own
                // reads there, a change to these runs everything.
                if let Some(scopes) = results.scope_reads.as_mut() {
                    scopes.entry(String::new()).or_default().extend(paths);
                }
            } else if let Some(test) = results.tests.get_mut(&context)
                && test.reads.is_some()
            {
                test.reads = union(test.reads.take(), Some(paths));
            }
        }
    }
    if let Some(scopes) = results.scope_reads.as_mut() {
        for paths in scopes.values_mut() {
            paths.sort();
            paths.dedup();
        }
    }
    Ok(results)
}

/// Both lists of paths, sorted, when either is known.
fn union(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.extend(b);
            a.sort();
            a.dedup();
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

fn merge_run(
    store: &mut Store,
    rec: &mut Recording,
    removed: &[String],
    fingerprint: &str,
) -> Result<recording::MergeReport> {
    rec.removed = removed.to_vec();
    rec.meta
        .push((ENV_KEY.to_string(), fingerprint.to_string()));
    recording::merge(store, rec)
}

/// A temporary directory outside the work tree, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("impact-run-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // For debugging the Python side: keep what the processes wrote.
        if std::env::var_os("IMPACT_KEEP_TEMP").is_some() {
            eprintln!("impact: kept {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
