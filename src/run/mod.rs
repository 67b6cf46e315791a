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

mod observe;
mod pending;
mod probe;
pub mod protocol;
mod results;
mod workdir;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::change::TargetSpec;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::git::Target;
use crate::output::{Output, thousands};
use crate::record::{self, Recording, now_rfc3339};
use crate::select::{self, Mode, Options, Selection};
use crate::shard::Shard;
use crate::store::Store;

pub use pending::{merge_pending, warn_if_pending};
pub use probe::{Interpreter, ProbeError};

use observe::{WouldBe, observe, report_observation};
use results::read_results;
use workdir::WorkDir;

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

/// Runs the command; returns pytest's exit code.
pub fn run(
    repo: &crate::git::Repo,
    config: &Config,
    db: &Path,
    opts: &RunOptions,
    out: &Output,
) -> Result<i32> {
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
    let (selection, would_be) = decide(repo, config, &store, opts, &interpreter)?;
    let recording = format!(
        "recording with {} on Python {}",
        interpreter.recorder.describe(),
        interpreter.version
    );
    announce(&selection, opts.explain, &recording, out);
    let tests = store.tests()?;
    let part = opts
        .shard
        .map(|shard| (shard, crate::shard::part(&selection, &tests, shard)));
    if let Some((shard, part)) = &part {
        out.note(&shard_note(*shard, part, selection.mode));
    }
    if nothing_to_run(repo, &mut store, &selection, part.as_ref(), out)? {
        return Ok(0);
    }

    let work = WorkDir::new()?;
    let known: Vec<String> = tests.iter().map(|t| t.nodeid.clone()).collect();
    let selection_path = write_selection(&work, &selection, part.as_ref(), &known)?;

    let track_reads = match std::env::var(protocol::env::TRACK_READS) {
        Ok(v) => v != "0",
        Err(_) => config.track_reads,
    };
    let mut job = job_for(
        repo,
        &selection,
        &command,
        opts,
        known,
        &interpreter,
        would_be,
    )?;
    // Saved before pytest starts: if merging fails, the results and this
    // are all a later `impact merge-pending` needs.
    job.save(&work.path)?;
    let status = launch(
        &command,
        repo.root(),
        &work.path,
        &selection_path,
        track_reads,
        config.child_save_interval,
    )
    .env(protocol::env::RECORDER, interpreter.recorder.env_value())
    .status()
    .map_err(|source| Error::Launch {
        command: command.join(" "),
        source,
    })?;
    let code = status.code().unwrap_or(1);
    job.exit_code = Some(code);
    job.save(&work.path)?;
    pending::finish_or_keep(work, db, |dir| finish(repo, &mut store, db, dir, &job, out))?;
    Ok(code)
}

/// The selection as the plugin reads it (`selection.json` in the work dir).
fn write_selection(
    work: &WorkDir,
    selection: &Selection,
    part: Option<&(Shard, crate::shard::Part)>,
    known: &[String],
) -> Result<std::path::PathBuf> {
    protocol::SelectionFile {
        mode: match selection.mode {
            Mode::Full => "full",
            Mode::Selected => "selected",
        },
        // A shard keeps a known test when it is in its part (exact ids),
        // and a test the data does not know when its file hashes to it.
        tests: match part {
            Some((_, part)) => part.tests.iter().map(String::as_str).collect(),
            None => selection.tests.keys().map(String::as_str).collect(),
        },
        known,
        shard: part.map(|(shard, _)| (*shard).into()),
    }
    .write(&work.path)
}

/// `shard 2/4: 12 of 48 selected tests (0.52 s of 2.10 s recorded)`.
fn shard_note(shard: Shard, part: &crate::shard::Part, mode: Mode) -> String {
    format!(
        "shard {shard}: {} of {} {} ({:.2} s of {:.2} s recorded)",
        thousands(part.tests.len()),
        thousands(part.of),
        if mode == Mode::Full {
            "known tests, and the unknown tests whose file hashes here"
        } else {
            "selected tests"
        },
        part.seconds,
        part.total_seconds,
    )
}

/// The selection, made full by `--full`, `--observe` or a changed Python
/// environment; with `--observe`, what it would have been.
fn decide(
    repo: &crate::git::Repo,
    config: &Config,
    store: &Store,
    opts: &RunOptions,
    interpreter: &Interpreter,
) -> Result<(Selection, Option<WouldBe>)> {
    let recorded_env = store.meta(ENV_KEY)?;
    let mut selection = select::select(
        repo,
        Some(store),
        config,
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
    Ok((selection, would_be))
}

/// Whether there is nothing to run: no test selected (every known test is
/// marked skipped under these changes, so a full run can tell a miss), or
/// none in this shard's part (it records nothing, so its data file stays as
/// it was restored).
fn nothing_to_run(
    repo: &crate::git::Repo,
    store: &mut Store,
    selection: &Selection,
    part: Option<&(Shard, crate::shard::Part)>,
    out: &Output,
) -> Result<bool> {
    if selection.mode == Mode::Selected && selection.tests.is_empty() {
        if !selection.changed.is_empty() {
            let known = store.test_ids()?;
            let note = skip_note(selection, &now_rfc3339(), repo.head()?.as_deref());
            store.write(|w| w.mark_skipped(&known, &note))?;
        }
        return Ok(true);
    }
    if let Some((shard, part)) = part
        && selection.mode == Mode::Selected
        && part.tests.is_empty()
    {
        out.note(&format!("shard {shard}: nothing to run"));
        return Ok(true);
    }
    Ok(false)
}

/// What the run saves before pytest starts (see `pending`).
fn job_for(
    repo: &crate::git::Repo,
    selection: &Selection,
    command: &[String],
    opts: &RunOptions,
    known: Vec<String>,
    interpreter: &Interpreter,
    would_be: Option<WouldBe>,
) -> Result<pending::Job> {
    let started_at = now_rfc3339();
    let mut command_line = command.join(" ");
    if let Some(shard) = opts.shard {
        // Shards started in the same second are still different runs to
        // `impact combine`.
        command_line.push_str(&format!(" [shard {shard}]"));
    }
    Ok(pending::Job {
        full: selection.mode == Mode::Full,
        command: command_line,
        skip_note: skip_note(selection, &started_at, repo.head()?.as_deref()),
        started_at,
        skip_candidates: match (selection.mode, opts.shard) {
            (Mode::Full, _) => None,
            // Tests other shards run were not skipped by the selection.
            (Mode::Selected, Some(_)) => Some(
                crate::shard::unselected(selection, &known)
                    .into_iter()
                    .cloned()
                    .collect(),
            ),
            (Mode::Selected, None) => Some(known.clone()),
        },
        known,
        fingerprint: interpreter.fingerprint.clone(),
        would_be,
        exit_code: None,
    })
}

/// After pytest: reads what the processes wrote and merges it into the data
/// in one transaction; reports misses and the observation.
fn finish(
    repo: &crate::git::Repo,
    store: &mut Store,
    db: &Path,
    dir: &Path,
    job: &pending::Job,
    out: &Output,
) -> Result<()> {
    let code = job.exit_code.unwrap_or(1);
    let mut results = read_results(dir)?;
    results.drop_unreadable_child_files();
    for note in &results.notes {
        out.warn(note);
    }
    if results.tests.is_empty() && results.files.is_empty() {
        out.warn(
            "pytest wrote no results (it may have failed before collecting); the data is unchanged",
        );
        return Ok(());
    }
    for (id, command) in &results.blind {
        out.warn(&format!(
            "{id} started a Python process impact cannot measure (`{command}`: its environment \
             drops impact's PYTHONPATH); the test is marked incomplete and runs at every \
             selection until it passes the environment on (e.g. `env={{**os.environ, ...}}`)"
        ));
    }
    let mut rec = recording_of(repo, job, &results)?;
    let removed = removed_tests(job, &results, code);
    let misses = possible_misses(store, job, &results, &mut rec)?;
    let report = merge_run(store, &mut rec, &removed, &job.fingerprint)?;
    for (id, note) in &misses {
        out.warn(&format!("possible miss: {id} fails now, but a selection skipped it since the last full run ({note})"));
    }
    if let Some(would_be) = &job.would_be {
        record_observation(store, would_be, job, &results, out)?;
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
    Ok(())
}

/// What the run measured, as a recording: the coverage files' lines with
/// each test's outcome, fixtures, reads and spawns, units spread over their
/// users, and the tests whose data is incomplete.
fn recording_of(
    repo: &crate::git::Repo,
    job: &pending::Job,
    results: &results::Results,
) -> Result<Recording> {
    let mut rec =
        crate::record::import::read_coverage_run(repo, &results.files, &Target::WorkTree)?;
    rec.kind = if job.full { "full" } else { "run" };
    rec.started_at = job.started_at.clone();
    rec.command = job.command.clone();
    for (id, r) in &results.tests {
        let entry = rec.tests.entry(id.clone()).or_default();
        entry.outcome = Some(r.outcome.clone());
        entry.duration = Some(r.duration);
        entry.fixtures = Some(r.fixtures.clone());
        entry.reads = r.reads.clone();
        entry.spawns = Some(results.spawned.contains(id));
    }
    // Code run once for many tests (wider-scoped fixtures' setup, memoised
    // functions' first calls) counts for every test that used it.
    let uses: std::collections::BTreeMap<String, Vec<String>> = results
        .tests
        .iter()
        .map(|(id, r)| {
            let fixtures = r.fixtures.iter().map(|f| format!("fixture:{f}"));
            (
                id.clone(),
                fixtures.chain(r.units.iter().cloned()).collect(),
            )
        })
        .collect();
    rec.spread_units(&uses, &results.unit_uses);
    rec.scope_reads = results.scope_reads.clone();
    rec.incomplete = results.blind.keys().cloned().collect();
    Ok(rec)
}

/// Known tests a complete full run did not collect: they no longer exist.
/// Coverage contexts of tests that have no result (should not happen) are
/// kept; results without coverage are tests that ran no measured line.
fn removed_tests(job: &pending::Job, results: &results::Results, code: i32) -> Vec<String> {
    if !(job.full && results.complete(code)) {
        return Vec::new();
    }
    let collected: BTreeSet<&String> = results.collected.iter().collect();
    job.known
        .iter()
        .filter(|t| !collected.contains(t))
        .cloned()
        .collect()
}

/// A full run: the tests failing now that a selection skipped since the last
/// full run (read before the merge clears the marks). A selected run: none;
/// the tests it skipped are marked on the recording instead.
fn possible_misses(
    store: &Store,
    job: &pending::Job,
    results: &results::Results,
    rec: &mut Recording,
) -> Result<Vec<(String, String)>> {
    match &job.skip_candidates {
        None => {
            let skipped = store.skipped_since_full()?;
            Ok(rec
                .tests
                .iter()
                .filter(|(_, t)| matches!(t.outcome.as_deref(), Some("failed" | "error")))
                .filter_map(|(id, _)| skipped.get(id).map(|note| (id.clone(), note.clone())))
                .collect())
        }
        Some(candidates) => {
            rec.skipped = candidates
                .iter()
                .filter(|t| !results.tests.contains_key(*t))
                .cloned()
                .collect();
            rec.skip_note = job.skip_note.clone();
            Ok(Vec::new())
        }
    }
}

/// `--observe`: what the selection would have done, reported and kept on
/// the run's row.
fn record_observation(
    store: &mut Store,
    would_be: &WouldBe,
    job: &pending::Job,
    results: &results::Results,
    out: &Output,
) -> Result<()> {
    let observation = observe(would_be, &job.known, results);
    report_observation(&observation, out);
    if let Some(run) = store.last_run()? {
        let json = serde_json::to_string(&observation).unwrap_or_default();
        store.write(|w| w.set_run_observation(run.id, &json))?;
    }
    Ok(())
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
fn announce(s: &Selection, explain: bool, recording: &str, out: &Output) {
    match s.mode {
        Mode::Full => out.note(&format!(
            "running all tests ({recording}): {}",
            s.reasons.join("; ")
        )),
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
            "{} affected by {} changed {}{} (selected in {:.0} ms; {recording})",
            s.counts(),
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
) -> Command {
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
        .env(protocol::env::OUT, work)
        .env(protocol::env::SELECTION, selection)
        .env(protocol::env::ROOT, root)
        .env(
            protocol::env::TRACK_READS,
            if track_reads { "1" } else { "0" },
        )
        .env(
            protocol::env::SAVE_INTERVAL,
            child_save_interval.to_string(),
        )
        .env(
            protocol::env::OMIT,
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
    crate::process::as_inherited(&mut cmd);
    cmd
}

fn merge_run(
    store: &mut Store,
    rec: &mut Recording,
    removed: &[String],
    fingerprint: &str,
) -> Result<record::MergeReport> {
    rec.removed = removed.to_vec();
    rec.meta
        .push((ENV_KEY.to_string(), fingerprint.to_string()));
    record::merge(store, rec)
}
