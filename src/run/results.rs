//! What the test processes wrote into the work directory: one results file
//! per pytest process (outcomes, durations, fixtures, reads, notes) and the
//! coverage.py data files of pytest processes and their children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What the plugin wrote, over all processes.
#[derive(Debug, Default)]
pub(super) struct Results {
    pub(super) tests: BTreeMap<String, TestResult>,
    pub(super) collected: Vec<String>,
    pub(super) files: Vec<PathBuf>,
    pub(super) args: Vec<String>,
    pub(super) collect_errors: i64,
    /// Files read outside tests, by scope, over all processes (when tracked).
    pub(super) scope_reads: Option<BTreeMap<String, Vec<String>>>,
    /// Tests that started a Python process impact could not measure, with
    /// its command line.
    pub(super) blind: BTreeMap<String, String>,
    /// Tests that started a program that is not Python (a shell, `env -i`,
    /// a build tool): a Python inside it may have run unmeasured.
    pub(super) spawned: BTreeSet<String>,
    /// Warnings from the plugin and from child processes.
    pub(super) notes: Vec<String>,
    /// Per unit, the units it used while it ran, over all processes.
    pub(super) unit_uses: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct TestResult {
    pub(super) outcome: String,
    pub(super) duration: f64,
    #[serde(default)]
    pub(super) fixtures: Vec<String>,
    /// Units it used (memoised functions it called; wider-scoped fixtures
    /// are in `fixtures`): their lines count for it.
    #[serde(default)]
    pub(super) units: Vec<String>,
    /// Absent when reads were not tracked (or from the xdist controller,
    /// which reports outcomes of tests run elsewhere).
    #[serde(default)]
    pub(super) reads: Option<Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
struct ResultsFile {
    #[serde(default)]
    pub(super) collected: Vec<String>,
    #[serde(default)]
    pub(super) collect_errors: i64,
    #[serde(default)]
    pub(super) args: Vec<String>,
    #[serde(default)]
    pub(super) tests: BTreeMap<String, TestResult>,
    #[serde(default)]
    pub(super) scope_reads: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    blind: BTreeMap<String, String>,
    #[serde(default)]
    spawned: Vec<String>,
    #[serde(default)]
    pub(super) notes: Vec<String>,
    #[serde(default)]
    unit_uses: BTreeMap<String, Vec<String>>,
}

impl Results {
    /// Leaves out child data files that cannot be read, with a note: a child
    /// that outlived pytest may still hold its file.
    pub fn drop_unreadable_child_files(&mut self) {
        let notes = &mut self.notes;
        self.files.retain(|f| {
            let child = f
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("child-"));
            if !child {
                return true;
            }
            match crate::store::CoverageFile::read(f) {
                Err(reason) => {
                    notes.push(format!(
                        "left out the data of a child process that could not be read ({reason}); \
                         a child still running after pytest exits is not measured to its end"
                    ));
                    false
                }
                Ok(_) => true,
            }
        });
    }

    /// Whether this run saw the whole suite: no narrowing arguments, no
    /// collection errors, not interrupted. Only then may missing tests be dropped.
    pub(super) fn complete(&self, exit_code: i32) -> bool {
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

pub(super) fn read_results(dir: &Path) -> Result<Results> {
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
            add_results_file(&mut results, &mut collected, &path)?;
        }
    }
    results.collected = collected.into_iter().collect();
    add_child_reads(&mut results, child_reads);
    if let Some(scopes) = results.scope_reads.as_mut() {
        for paths in scopes.values_mut() {
            paths.sort();
            paths.dedup();
        }
    }
    Ok(results)
}

/// One process's `results-*.json` (the plugin's report), merged into
/// `results`.
fn add_results_file(
    results: &mut Results,
    collected: &mut BTreeSet<String>,
    path: &Path,
) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    let file: ResultsFile = serde_json::from_str(&text).map_err(|e| Error::Import {
        path: path.to_owned(),
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
            test.units.extend(old.units);
            test.units.sort();
            test.units.dedup();
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
    results.blind.extend(file.blind);
    results.spawned.extend(file.spawned);
    for (unit, inner) in file.unit_uses {
        let entry = results.unit_uses.entry(unit).or_default();
        entry.extend(inner);
        entry.sort();
        entry.dedup();
    }
    Ok(())
}

/// Files child processes read, counted for the test running when they did.
fn add_child_reads(
    results: &mut Results,
    child_reads: Vec<(PathBuf, BTreeMap<String, Vec<String>>)>,
) {
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
}

/// Both lists of paths, sorted, when either is known.
pub(super) fn union(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
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
