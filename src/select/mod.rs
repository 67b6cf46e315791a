//! Selection: from changed files to the tests that must run, each with the
//! reasons it was selected, or a full-run verdict with its reasons.
//!
//! Safety first: when the data cannot answer, select more or run everything,
//! and say why. The steps:
//! 1. verdicts that force a full run (no data, old data, too many changes,
//!    full-run files, baselines that cannot be reconstructed);
//! 2. per changed file, `analyze` turns changed lines into effects
//!    (executed lines, changed definitions, module-level code, conftest scope,
//!    new tests);
//! 3. `resolve` turns effects into tests through numbits queries, following
//!    changed names through import-time bindings and into test files;
//! 4. tests selected beside the diff: failed last time, stale, always run.

mod analyze;
#[cfg(test)]
mod fuzz;
mod imports;
mod recorded;
mod resolve;
mod testside;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::change::{self, ChangeSet, Status, TargetSpec};
use crate::config::Config;
use crate::error::Result;
use crate::git::{LineDiff, Repo};
use crate::record::parse_rfc3339;
use crate::store::{Store, TestRow};

pub use analyze::Effect;
pub use resolve::scope_contains;

/// What data recorded by `impact import` lacks, for `status` and selection
/// notes (after "N tests").
pub const IMPORTED_NOTE: &str = "were recorded by `impact import`, without fixture closures or \
     memoised-call units: code run once for many tests (a session fixture's helpers, a memoised \
     function's callees) counts only for the test coverage.py saw run it, so a change there may \
     select too few; record with `impact run` to know every user";

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: TargetSpec,
    pub since: Option<String>,
}

/// Run everything, or run these tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Selected,
    Full,
}

/// Why a test was selected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// It executed these changed lines (baseline numbering of `path`).
    Lines {
        path: String,
        lines: Vec<u32>,
    },
    /// It executed lines that name a definition that changed.
    Name {
        path: String,
        name: String,
    },
    /// Module-level code it depends on (by import) changed.
    Module {
        path: String,
    },
    /// Changed lines of `path` ran while `module` (a test module it
    /// depends on) was imported.
    Imported {
        path: String,
        lines: Vec<u32>,
        module: String,
    },
    /// A conftest.py or plugin that applies to it changed.
    Scope {
        path: String,
    },
    /// A file it executed was deleted or replaced by a non-text entry.
    File {
        path: String,
    },
    /// It is new: the data does not know it.
    New {
        path: String,
    },
    /// Its test file changed and is not measured, so the change may be anywhere in it.
    TestFile {
        path: String,
    },
    /// It read this file (recorded); `scope` when the read happened while
    /// collecting (a test module reading it at import): every test under it.
    Read {
        path: String,
        scope: Option<String>,
    },
    /// Code or a test it runs names a changed file that is not Python.
    Named {
        path: String,
        name: String,
    },
    /// A configured rule maps a changed file to it.
    Mapped {
        path: String,
        pattern: String,
    },
    FailedLastTime,
    Stale,
    AlwaysRun {
        selector: String,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Lines { path, lines } => {
                write!(f, "{path}:{} changed", crate::output::line_ranges(lines))
            }
            Reason::Name { path, name } => {
                write!(f, "{path} changed (reaches it through `{name}`)")
            }
            Reason::Module { path } => write!(f, "module-level code changed in {path}"),
            Reason::Imported {
                path,
                lines,
                module,
            } => write!(
                f,
                "{path}:{} changed (ran while {module} was imported)",
                crate::output::line_ranges(lines)
            ),
            Reason::Scope { path } => write!(f, "{path} changed"),
            Reason::File { path } => write!(f, "{path} was deleted or replaced"),
            Reason::New { path } => write!(f, "new test in {path}"),
            Reason::TestFile { path } => write!(f, "test file {path} changed"),
            Reason::Mapped { path, pattern } => write!(f, "{path} changed (rule `{pattern}`)"),
            Reason::Named { path, name } => {
                write!(f, "{path} changed (named as \"{name}\" in code or tests)")
            }
            Reason::Read { path, scope: None } => write!(f, "read {path}"),
            Reason::Read {
                path,
                scope: Some(scope),
            } => write!(f, "read {path} (while collecting {scope})"),
            Reason::FailedLastTime => write!(f, "failed last time"),
            Reason::Stale => write!(f, "its data is stale or incomplete"),
            Reason::AlwaysRun { selector } => write!(f, "always run (rule `{selector}`)"),
        }
    }
}

/// One changed file, as reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangedFile {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    pub status: Status,
    /// Changed lines in the recorded (baseline) numbering.
    pub lines: Vec<u32>,
    /// What the change means for selection.
    pub effect: String,
}

/// The outcome of selection.
#[derive(Debug)]
pub struct Selection {
    pub mode: Mode,
    /// Why everything must run (full), or notes (selected).
    pub reasons: Vec<String>,
    /// Selected test ids (node ids or node-id prefixes for new tests) and why.
    pub tests: BTreeMap<String, BTreeSet<Reason>>,
    pub changed: Vec<ChangedFile>,
    /// Tests the data knows.
    pub total: usize,
    /// Of `tests`, the entries the data does not know (new tests, node-id
    /// prefixes of new files, selectors passed on to pytest): counted apart,
    /// so that a selection never reads as more than the suite.
    pub new: BTreeSet<String>,
    /// Changed files that select nothing and were left out: non-Python files
    /// that no test read and no rule or code names, and `ignore` rules.
    pub ignored: Vec<String>,
    pub elapsed_ms: f64,
}

impl Selection {
    fn full(reasons: Vec<String>, total: usize, changed: Vec<ChangedFile>, start: Instant) -> Self {
        Selection {
            mode: Mode::Full,
            reasons,
            tests: BTreeMap::new(),
            changed,
            total,
            new: BTreeSet::new(),
            ignored: Vec::new(),
            elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
        }
    }

    /// "14 of 2,311 tests" (known tests selected, of the known suite), and
    /// " and 2 new" for selected entries the data does not know yet.
    pub fn counts(&self) -> String {
        let new = self.new_count();
        let known = self.tests.len() - new;
        let mut text = format!(
            "{} of {} tests",
            crate::output::thousands(known),
            crate::output::thousands(self.total)
        );
        if new > 0 {
            text.push_str(&format!(" and {} new", crate::output::thousands(new)));
        }
        text
    }

    /// How many selected entries the data does not know.
    pub fn new_count(&self) -> usize {
        self.tests.keys().filter(|t| self.new.contains(*t)).count()
    }

    /// ` (2 ignored: README.md, docs/x.md)` for summaries, or "".
    pub fn ignored_note(&self) -> String {
        if self.ignored.is_empty() {
            return String::new();
        }
        const SHOWN: usize = 5;
        let mut names = self.ignored[..self.ignored.len().min(SHOWN)].join(", ");
        if self.ignored.len() > SHOWN {
            names.push_str(", ...");
        }
        format!(" ({} ignored: {names})", self.ignored.len())
    }
}

/// Computes the selection.
// The pipeline in the order data flows, each stage a named function (or a
// type's method) with an early return where a verdict is reached; split
// further, its order would have to be read across functions.
pub fn select(
    repo: &Repo,
    store: Option<&Store>,
    config: &Config,
    opts: &Options,
) -> Result<Selection> {
    let start = Instant::now();
    let no_data = || Selection::full(vec![NO_DATA.into()], 0, vec![], start);
    let Some(store) = store else {
        return Ok(no_data());
    };
    let _snapshot = store.snapshot()?;
    let Some(last_run) = store.last_run()? else {
        return Ok(no_data());
    };
    crate::trace::step("last run read");
    let listing = list_in_background(repo, opts, last_run.key.commit.clone());
    let tests = store.tests()?;
    crate::trace::step("tests loaded");
    let total = tests.len();
    if let Some(reason) = too_old(config, &last_run.key.started_at) {
        return Ok(Selection::full(vec![reason], total, vec![], start));
    }
    let baselines = store.baselines()?;
    let mut resolver = resolve::Resolver::new(repo, store, &opts.target, &tests)?;
    resolver.read_tokens(&baselines)?;
    crate::trace::step("baselines and string tokens read");
    let listing = listing
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;

    let set: ChangeSet = change::compute(repo, store, baselines, listing)?;
    resolver.set_unchanged(set.unchanged.clone());
    let mut notes = set.notes.clone();
    if !set.unreconstructable.is_empty() {
        let reason = format!(
            "the recorded content of {} is missing from the data, so its line numbers cannot be mapped",
            set.unreconstructable.join(", ")
        );
        return Ok(Selection::full(vec![reason], total, vec![], start));
    }

    crate::trace::step("changes computed");
    let analysed = analyse(&set.changes, config, store, &mut resolver)?;
    crate::trace::step("changes analysed");
    let Sorted {
        mut changed,
        full_reasons,
        effects,
        data_files,
        mut ignored,
    } = sort_changes(&set.changes, analysed, config);
    if !full_reasons.is_empty() {
        return Ok(Selection::full(full_reasons, total, changed, start));
    }

    let mut selected = resolve_data_files(&mut resolver, data_files, &mut changed, &mut ignored)?;
    crate::trace::step("data files resolved");
    resolve_effects(&mut resolver, effects, &mut selected)?;
    crate::trace::step("effects resolved");
    notes.extend(resolver.notes());
    if !selected.is_empty() {
        notes.extend(imported_note(&tests));
    }
    if let Some(reasons) = resolved_full_run(&mut resolver) {
        return Ok(Selection::full(reasons, total, changed, start));
    }

    add_standing_reasons(&tests, config, &mut selected);
    let new = unknown_tests(&tests, &selected);
    Ok(Selection {
        mode: Mode::Selected,
        reasons: notes,
        tests: selected,
        changed,
        total,
        new,
        ignored,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// Git's listing scans the work tree: it runs on a thread of its own while
/// the data is read and the resolver made ready.
fn list_in_background(
    repo: &Repo,
    opts: &Options,
    commit: Option<String>,
) -> std::thread::JoinHandle<Result<change::Listing>> {
    let root = repo.root().to_owned();
    let (target, since) = (opts.target.clone(), opts.since.clone());
    std::thread::spawn(move || change::list(&root, &target, since.as_deref(), commit.as_deref()))
}

/// A note when some known tests come from imported coverage.py data.
fn imported_note(tests: &[TestRow]) -> Option<String> {
    let imported = tests.iter().filter(|t| t.imported).count();
    (imported > 0).then(|| {
        format!(
            "{} of the {} known tests {IMPORTED_NOTE}",
            crate::output::thousands(imported),
            crate::output::thousands(tests.len())
        )
    })
}

/// The reasons for a full run that resolving found (a changed file read
/// outside tests, more names reached than is worth following).
fn resolved_full_run(resolver: &mut resolve::Resolver<'_>) -> Option<Vec<String>> {
    if !resolver.full_run.is_empty() {
        return Some(std::mem::take(&mut resolver.full_run));
    }
    resolver.overflow.take().map(|reason| vec![reason])
}

/// The selected tests the data does not know. Both are sorted by node id,
/// so one walk along both finds them.
fn unknown_tests(
    tests: &[TestRow],
    selected: &BTreeMap<String, BTreeSet<Reason>>,
) -> BTreeSet<String> {
    let mut known = tests.iter().map(|t| t.nodeid.as_str()).peekable();
    let mut unknown = BTreeSet::new();
    for id in selected.keys() {
        while known.next_if(|k| *k < id.as_str()).is_some() {}
        if known.peek() != Some(&id.as_str()) {
            unknown.insert(id.clone());
        }
    }
    unknown
}

/// The verdict without data.
const NO_DATA: &str = "no data yet: record with `impact run`";

/// The effects of each change. Parsing dominates analysis: the changed files
/// are spread over the cores while this thread gets the resolver ready. A
/// changed Python module is looked up in the strings of test files
/// (`python -m pkg.mod`): those are indexed meanwhile.
fn analyse(
    changes: &[change::Change],
    config: &Config,
    store: &Store,
    resolver: &mut resolve::Resolver,
) -> Result<Vec<Analysed>> {
    let module_changed = changes.iter().any(|c| {
        crate::python::facts::is_python(&c.path) && !crate::python::pytest::is_test_side(&c.path)
    });
    let (analysed, prepared) = analyse_while(changes, config, store.path(), || {
        let prepared = if module_changed {
            resolver.prepare_module_strings()
        } else {
            Ok(())
        };
        crate::trace::step("resolver ready");
        prepared
    });
    prepared?;
    analysed
}

/// `max_age_days`: a reason for a full run when the last run is older.
fn too_old(config: &Config, started_at: &str) -> Option<String> {
    let max_days = config.max_age_days?;
    let recorded = parse_rfc3339(started_at)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let age_days = (now - recorded) as f64 / 86_400.0;
    (age_days > max_days).then(|| {
        format!("the data is {age_days:.1} days old, older than max_age_days = {max_days}")
    })
}

/// The changed files sorted by the config's rules: what each is reported
/// as, the full-run verdicts, and the effects left to resolve.
struct Sorted {
    changed: Vec<ChangedFile>,
    full_reasons: Vec<String>,
    /// Effects of Python files, resolved together.
    effects: Vec<WithHits>,
    /// Files that are not Python, resolved one by one to tell those that
    /// select nothing: (index in `changed`, effects).
    data_files: Vec<(usize, Vec<WithHits>)>,
    ignored: Vec<String>,
}

/// Applies `ignore`, `full_run_files` and `max_changed_files` to the
/// analysed changes.
fn sort_changes(changes: &[change::Change], analysed: Vec<Analysed>, config: &Config) -> Sorted {
    let mut changed = Vec::new();
    let mut full_reasons = Vec::new();
    let mut effects: Vec<WithHits> = Vec::new();
    let mut data_files: Vec<(usize, Vec<WithHits>)> = Vec::new();
    let mut ignored = Vec::new();
    let mut considered = 0;
    for (change, found) in changes.iter().zip(analysed) {
        let lines = baseline_lines(change);
        let report = |effect: &str| ChangedFile {
            path: change.path.clone(),
            old_path: change.old_path.clone(),
            status: change.status,
            lines: lines.clone(),
            effect: effect.to_string(),
        };
        let names = [Some(change.path.as_str()), change.old_path.as_deref()];
        if let Some(pattern) = names
            .iter()
            .flatten()
            .find_map(|p| config.ignore.matching(p))
        {
            changed.push(report(&format!("ignored (rule `{pattern}`)")));
            ignored.push(change.path.clone());
            continue;
        }
        considered += 1;
        if let Some(pattern) = names
            .iter()
            .flatten()
            .find_map(|p| config.full_run.matching(p))
        {
            full_reasons.push(format!(
                "{} changed (full-run rule `{pattern}`)",
                change.path
            ));
            changed.push(report("full run"));
            continue;
        }
        changed.push(report(&analyze::describe(&found.effects, change)));
        let found = found.effects.into_iter().zip(found.hits);
        if crate::python::facts::is_python(&change.path) {
            effects.extend(found);
        } else {
            data_files.push((changed.len() - 1, found.collect()));
        }
    }
    if considered > config.max_changed_files {
        full_reasons.insert(
            0,
            format!(
                "{considered} files changed, more than max_changed_files = {}",
                config.max_changed_files
            ),
        );
    }
    Sorted {
        changed,
        full_reasons,
        effects,
        data_files,
        ignored,
    }
}

/// Resolves the changed files that are not Python, each on its own (names
/// followed for one are not skipped for the next), and says of each what it
/// selected or that it was ignored.
fn resolve_data_files(
    resolver: &mut resolve::Resolver,
    data_files: Vec<(usize, Vec<WithHits>)>,
    changed: &mut [ChangedFile],
    ignored: &mut Vec<String>,
) -> Result<BTreeMap<String, BTreeSet<Reason>>> {
    let mut selected: BTreeMap<String, BTreeSet<Reason>> = BTreeMap::new();
    for (index, found) in data_files {
        resolver.forget_followed_names();
        let full_before = resolver.full_run.len();
        let mut own: BTreeMap<String, BTreeSet<Reason>> = BTreeMap::new();
        for (effect, hits) in found {
            crate::trace::timed(format_args!("resolved {effect:?}"), || {
                resolver.resolve_with(&effect, hits, &mut own)
            })?;
        }
        let c = &mut changed[index];
        if own.is_empty() && resolver.full_run.len() == full_before {
            c.effect = "ignored: no test read it and no rule or code names it".into();
            ignored.push(c.path.clone());
        } else {
            c.effect = data_file_effect(&c.path, c.old_path.as_deref(), &own, &c.effect);
        }
        for (test, reasons) in own {
            for reason in reasons {
                resolve::add(&mut selected, test.clone(), reason);
            }
        }
    }
    Ok(selected)
}

/// Resolves the Python files' effects together, until one makes it a full run.
fn resolve_effects(
    resolver: &mut resolve::Resolver,
    effects: Vec<WithHits>,
    selected: &mut BTreeMap<String, BTreeSet<Reason>>,
) -> Result<()> {
    resolver.forget_followed_names();
    // IMPACT_TRACE=1 prints how long each effect takes (stderr).
    for (effect, hits) in effects {
        if resolver.overflow.is_some() {
            // A full run already: the other effects cannot change it.
            break;
        }
        crate::trace::timed(format_args!("resolved {effect:?}"), || {
            resolver.resolve_with(&effect, hits, selected)
        })?;
    }
    Ok(())
}

/// Tests selected whatever changed: those that failed or are stale, and
/// the config's `always_run`.
fn add_standing_reasons(
    tests: &[TestRow],
    config: &Config,
    selected: &mut BTreeMap<String, BTreeSet<Reason>>,
) {
    for t in tests {
        if matches!(t.outcome.as_deref(), Some("failed" | "error")) {
            selected
                .entry(t.nodeid.clone())
                .or_default()
                .insert(Reason::FailedLastTime);
        }
        if t.needs_run {
            selected
                .entry(t.nodeid.clone())
                .or_default()
                .insert(Reason::Stale);
        }
        for selector in &config.always_run {
            if selector.matches(&t.nodeid) {
                selected
                    .entry(t.nodeid.clone())
                    .or_default()
                    .insert(Reason::AlwaysRun {
                        selector: selector.as_str().to_string(),
                    });
            }
        }
    }
}

/// What a changed file that is not Python means, once resolved.
fn data_file_effect(
    path: &str,
    old_path: Option<&str>,
    own: &BTreeMap<String, BTreeSet<Reason>>,
    described: &str,
) -> String {
    let read = own
        .values()
        .filter(|rs| {
            rs.iter().any(|r| {
                matches!(r, Reason::Read { path: p, .. } if p == path || Some(p.as_str()) == old_path)
            })
        })
        .count();
    let other = own.len() - read;
    let mut parts = Vec::new();
    if read > 0 {
        parts.push(format!(
            "read by {read} {}",
            if read == 1 { "test" } else { "tests" }
        ));
    }
    if other > 0 {
        parts.push(format!(
            "{other} more {} through code or rules naming it",
            if other == 1 { "test" } else { "tests" }
        ));
    }
    if parts.is_empty() {
        described.to_string()
    } else {
        parts.join("; ")
    }
}

/// The changed lines of a file in its baseline numbering; a pure insertion
/// is reported as the lines around it.
fn baseline_lines(change: &change::Change) -> Vec<u32> {
    match change.diff() {
        Some(LineDiff::Text(hunks)) => analyze::hunk_lines(hunks),
        _ => Vec::new(),
    }
}

/// An effect and, when already made, its line lookup.
type WithHits = (Effect, Option<resolve::LineHits>);

/// One changed file's effects, and for each `Lines` effect its lookup,
/// made by the thread that analysed the file (`None`: left to the resolver).
struct Analysed {
    effects: Vec<Effect>,
    hits: Vec<Option<resolve::LineHits>>,
}

/// The effects of every change, computed on all cores (each thread takes
/// the next file, so one large file does not hold up a fixed share), with
/// their changed lines looked up in the data file at `db` on a connection
/// of each thread's own: the calling thread runs `meanwhile` first, then
/// joins the workers.
fn analyse_while<T>(
    changes: &[change::Change],
    config: &Config,
    db: &std::path::Path,
    meanwhile: impl FnOnce() -> T,
) -> (Result<Vec<Analysed>>, T) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    // One changed file is worth a thread too: `meanwhile` and its analysis
    // (a large module's parse and line lookup, milliseconds) overlap.
    if threads < 2 || changes.is_empty() {
        let analysed = changes
            .iter()
            .map(|c| {
                let effects = analyze::effects(c, config);
                let hits = effects.iter().map(|_| None).collect();
                Analysed { effects, hits }
            })
            .collect();
        return (Ok(analysed), meanwhile());
    }
    // With few files, their line lookups are left to the resolver: it reads
    // a file's recorded rows once for all of that file's effects (a
    // module-level change asks again), where a worker's lookup reads them on
    // a connection of its own.
    let look_up = changes.len() >= 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || analyse_next(changes, config, db, look_up, &next);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (1..threads.min(changes.len() + 1))
            .map(|_| scope.spawn(work))
            .collect();
        let value = meanwhile();
        let mut slots: Vec<Option<Analysed>> = (0..changes.len()).map(|_| None).collect();
        let mut failed = None;
        let done = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        for part in std::iter::once(work()).chain(done) {
            match part {
                Ok(part) => {
                    for (i, a) in part {
                        slots[i] = Some(a);
                    }
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        let analysed = match failed {
            Some(e) => Err(e),
            None => Ok(slots.into_iter().flatten().collect()),
        };
        (analysed, value)
    })
}

/// One thread's share of [`analyse_while`]: the next unclaimed change, until
/// none is left; with `look_up`, its changed lines looked up on a read-only
/// connection of the thread's own.
fn analyse_next(
    changes: &[change::Change],
    config: &Config,
    db: &std::path::Path,
    look_up: bool,
    next: &std::sync::atomic::AtomicUsize,
) -> Result<Vec<(usize, Analysed)>> {
    let mut reader: Option<Store> = None;
    let mut file_ids: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut done = Vec::new();
    loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(c) = changes.get(i) else {
            return Ok(done);
        };
        let effects = analyze::effects(c, config);
        let mut hits = Vec::with_capacity(effects.len());
        for effect in &effects {
            let (true, Effect::Lines { path, lines }) = (look_up, effect) else {
                hits.push(None);
                continue;
            };
            let store = match &mut reader {
                Some(s) => s,
                None => reader.insert(Store::open_reader(db)?),
            };
            let file_id = match file_ids.get(path) {
                Some(id) => *id,
                None => *file_ids.entry(path.clone()).or_insert(store.file_id(path)?),
            };
            hits.push(Some(resolve::line_hits(store, file_id, lines)?));
        }
        done.push((i, Analysed { effects, hits }));
    }
}
