//! `impact combine`: data files recorded by CI shards (each a copy of the main
//! data plus the runs of its shard) merged into data equivalent to one run.
//!
//! The inputs are taken oldest first (by their latest run). The oldest is
//! copied; each other input is absorbed into the copy in one transaction:
//! - runs both files know are the same run and are not repeated; the input's
//!   other runs are appended to the history;
//! - a test's recording is taken from the input when it comes from a newer run
//!   than the one this data holds (a test the input dropped after a run this
//!   data also merged is dropped here too);
//! - a file keeps its baseline unless the input recorded new lines for it at
//!   other content: then this data's other tests are carried over to the
//!   input's content through a diff (those that ran changed lines are marked
//!   as needing a run, as after any incremental run) - unless this data also
//!   holds lines for that file from runs the input does not know, i.e. two
//!   shards recorded it on different commits. That is refused, naming the
//!   file and both commits: their lines cannot both be right.
//!
//! The result is written beside the destination and renamed into place.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::change::linemap::LineMap;
use crate::error::{Error, Result};
use crate::git::{self, LineDiff};
use crate::store::{ListName, RunKey, Side, Store, Writer};

pub use crate::error::CombineError;

/// What a combine did.
#[derive(Debug, Default)]
pub struct Report {
    pub inputs: usize,
    pub runs_added: usize,
    pub tests_taken: usize,
    pub tests_removed: usize,
    /// Files whose baseline moved to an input's content.
    pub rebased_files: Vec<String>,
    /// Tests whose lines in a rebased file were lost: they need a run.
    pub stale_tests: Vec<String>,
    /// Tests in the result.
    pub tests: usize,
}

/// Combines `sources` (impact data files) into `dest`.
pub fn combine(sources: &[PathBuf], dest: &Path) -> Result<Report> {
    let mut ordered = Vec::new();
    for (index, path) in sources.iter().enumerate() {
        let store = Store::open(path)?.ok_or_else(|| CombineError::NoSuchInput {
            path: path.to_path_buf(),
        })?;
        let latest = store
            .last_run()?
            .map(|r| r.key.started_at)
            .unwrap_or_default();
        ordered.push((latest, index, path.clone()));
    }
    // Oldest first (the main file before the shards copied from it); equal
    // times keep the command-line order.
    ordered.sort();
    let Some((_, _, first)) = ordered.first() else {
        return Err(CombineError::NoInputs.into());
    };

    let tmp = temp_beside(dest);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| -> Result<Report> {
        std::fs::copy(first, &tmp).map_err(|source| Error::Write {
            path: tmp.clone(),
            source,
        })?;
        let mut out = Store::open(&tmp)?.ok_or_else(|| Error::Write {
            path: tmp.clone(),
            source: std::io::Error::other("the copy disappeared"),
        })?;
        out.scratch_mode()?;
        let mut report = Report {
            inputs: sources.len(),
            ..Default::default()
        };
        // Which input each run came from, for conflict messages.
        let mut origin: HashMap<RunKey, PathBuf> = HashMap::new();
        for run in out.write(|w| w.runs_of(Side::Out))? {
            origin.insert(run.key, first.clone());
        }
        for (_, _, src) in &ordered[1..] {
            out.with_attached(src, |store| {
                store.write(|w| absorb(w, src, &mut origin, &mut report))
            })?;
        }
        report.tests = out.test_ids()?.len();
        Ok(report)
    })();
    match result {
        Ok(report) => {
            // Written without a journal or syncing: on disk before it counts.
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|source| Error::Write {
                    path: tmp.clone(),
                    source,
                })?;
            std::fs::rename(&tmp, dest).map_err(|source| Error::Write {
                path: dest.to_owned(),
                source,
            })?;
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `.NAME.impact-combine-PID` beside `dest`: same file system, so the final
/// rename is atomic.
fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "impact.db".into());
    dest.with_file_name(format!(".{name}.impact-combine-{}", std::process::id()))
}

/// Absorbs the attached input `src` into the data being written.
fn absorb(
    w: &mut Writer<'_>,
    src: &Path,
    origin: &mut HashMap<RunKey, PathBuf>,
    report: &mut Report,
) -> Result<()> {
    // IMPACT_TRACE=1 prints how long each step takes (stderr).
    let step = |what: &str| crate::trace::step(format_args!("{}: {what}", src.display()));
    let runs = Runs::read(w)?;
    let run_map = copy_runs(w, &runs, src, origin, report)?;
    let tests = compare_tests(w, &runs)?;
    let take_list: Vec<&str> = tests.taken.iter().map(String::as_str).collect();
    w.set_list(ListName::Take, &take_list)?;
    let fresh: Vec<&str> = tests.fresh.iter().map(String::as_str).collect();
    w.set_list(ListName::Fresh, &fresh)?;
    step("runs and tests compared");
    let stale = merge_baselines(w, &runs, &tests.taken, src, origin, report)?;
    step("baselines compared");
    w.copy_taken_tests(&run_map)?;
    step("recordings copied");
    let mut stale: Vec<String> = stale
        .into_iter()
        .filter(|t| !tests.taken.contains(t))
        .collect();
    stale.sort();
    w.mark_needs_run(&stale)?;
    w.remove_tests(&tests.removed)?;
    if runs.src_latest > runs.out_latest {
        w.copy_meta()?;
    }
    w.copy_content_caches()?;
    w.drop_unused_sources()?;
    step("done");
    report.tests_taken += tests.taken.len();
    report.tests_removed += tests.removed.len();
    report.stale_tests.extend(stale);
    Ok(())
}

/// The runs of the data being written (out) and of the input (src), by key
/// and by id.
struct Runs {
    src: Vec<crate::store::RunRow>,
    out_ids: HashMap<RunKey, i64>,
    out_by_id: HashMap<i64, RunKey>,
    src_by_id: HashMap<i64, RunKey>,
    src_keys: HashSet<RunKey>,
    out_latest: Option<String>,
    src_latest: Option<String>,
}

impl Runs {
    fn read(w: &Writer<'_>) -> Result<Runs> {
        let out = w.runs_of(Side::Out)?;
        let src = w.runs_of(Side::Src)?;
        Ok(Runs {
            out_ids: out.iter().map(|r| (r.key.clone(), r.id)).collect(),
            out_by_id: out.iter().map(|r| (r.id, r.key.clone())).collect(),
            src_by_id: src.iter().map(|r| (r.id, r.key.clone())).collect(),
            src_keys: src.iter().map(|r| r.key.clone()).collect(),
            out_latest: out.iter().map(|r| r.key.started_at.clone()).max(),
            src_latest: src.iter().map(|r| r.key.started_at.clone()).max(),
            src,
        })
    }
}

/// Copies the input's runs this data lacks; the input's run ids mapped to
/// this data's.
fn copy_runs(
    w: &mut Writer<'_>,
    runs: &Runs,
    src: &Path,
    origin: &mut HashMap<RunKey, PathBuf>,
    report: &mut Report,
) -> Result<HashMap<i64, i64>> {
    let mut run_map = HashMap::new();
    for run in &runs.src {
        let id = match runs.out_ids.get(&run.key) {
            Some(&id) => id,
            None => {
                report.runs_added += 1;
                origin
                    .entry(run.key.clone())
                    .or_insert_with(|| src.to_owned());
                w.copy_run(run)?
            }
        };
        run_map.insert(run.id, id);
    }
    Ok(run_map)
}

/// Which tests' recordings come from the input, which this data keeps as
/// its own, and which the input dropped.
struct TestPlan {
    taken: HashSet<String>,
    /// This data's own recordings the input knows nothing of.
    fresh: Vec<String>,
    /// Tests the input dropped after a run this data also merged.
    removed: Vec<String>,
}

fn compare_tests(w: &Writer<'_>, runs: &Runs) -> Result<TestPlan> {
    let out_tests: HashMap<String, Option<RunKey>> = w
        .tests_of(Side::Out)?
        .into_iter()
        .map(|t| {
            (
                t.nodeid,
                t.last_run.and_then(|id| runs.out_by_id.get(&id).cloned()),
            )
        })
        .collect();
    let src_tests = w.tests_of(Side::Src)?;
    let src_names: HashSet<&str> = src_tests.iter().map(|t| t.nodeid.as_str()).collect();
    let mut taken: HashSet<String> = HashSet::new();
    for t in &src_tests {
        let theirs = t.last_run.and_then(|id| runs.src_by_id.get(&id));
        let take = match out_tests.get(&t.nodeid) {
            Some(ours) => newer(
                theirs,
                ours.as_ref(),
                theirs.is_some_and(|k| runs.out_ids.contains_key(k)),
                ours.as_ref().is_some_and(|k| runs.src_keys.contains(k)),
            ),
            // New here, unless this data merged the run that recorded it and
            // dropped the test since (a full run no longer collected it).
            None => theirs.is_none_or(|k| !runs.out_ids.contains_key(k)),
        };
        if take {
            taken.insert(t.nodeid.clone());
        }
    }
    let removed = out_tests
        .iter()
        .filter(|(id, run)| {
            !src_names.contains(id.as_str())
                && run.as_ref().is_some_and(|k| runs.src_keys.contains(k))
        })
        .map(|(id, _)| id.clone())
        .collect();
    let fresh = out_tests
        .iter()
        .filter(|(id, run)| {
            !taken.contains(id.as_str()) && run.as_ref().is_none_or(|k| !runs.src_keys.contains(k))
        })
        .map(|(id, _)| id.clone())
        .collect();
    Ok(TestPlan {
        taken,
        fresh,
        removed,
    })
}

/// Takes the input's baselines: new files as they are, changed ones with
/// this data's lines remapped onto the input's content. Returns the tests
/// whose recorded lines did not survive the remap.
fn merge_baselines(
    w: &mut Writer<'_>,
    runs: &Runs,
    taken: &HashSet<String>,
    src: &Path,
    origin: &HashMap<RunKey, PathBuf>,
    report: &mut Report,
) -> Result<HashSet<String>> {
    let out_baselines = w.baselines_of(Side::Out)?;
    let mut stale: HashSet<String> = HashSet::new();
    for (path, theirs) in w.baselines_of(Side::Src)? {
        match out_baselines.get(&path) {
            Some(ours) if *ours == theirs => w.copy_import_time(&path, true)?,
            None => {
                let content = source(w, Side::Src, &theirs, &path, src)?;
                w.set_baseline(&path, &theirs, &content)?;
                w.copy_import_time(&path, false)?;
                w.copy_facts(&path, &theirs)?;
            }
            Some(ours) => {
                // The input's lines for this file are used only when it
                // recorded some of the tests taken from it.
                let Some((_, their_run)) =
                    w.listed_test_in_file(Side::Src, ListName::Take, &path)?
                else {
                    continue;
                };
                if let Some((_, our_run)) =
                    w.listed_test_in_file(Side::Out, ListName::Fresh, &path)?
                {
                    let ours_key = our_run.and_then(|id| runs.out_by_id.get(&id));
                    let theirs_key = their_run.and_then(|id| runs.src_by_id.get(&id));
                    return Err(conflict(&path, ours_key, theirs_key, origin, src));
                }
                let old = source(w, Side::Out, ours, &path, src)?;
                let new = source(w, Side::Src, &theirs, &path, src)?;
                let map = match git::diff_lines(&old, &new) {
                    LineDiff::Text(hunks) => Some(LineMap::new(hunks)),
                    LineDiff::Binary => None,
                };
                if let Some(file_id) = w.out_file_id(&path)? {
                    let lost = w.remap_file(
                        file_id,
                        &|n| map.as_ref().and_then(|m| m.old_to_new(n)),
                        // Taken tests are replaced below; import time too.
                        &|ctx| ctx.is_empty() || taken.contains(ctx),
                    )?;
                    stale.extend(lost);
                }
                w.set_baseline(&path, &theirs, &new)?;
                w.copy_import_time(&path, false)?;
                w.copy_facts(&path, &theirs)?;
                report.rebased_files.push(path.clone());
            }
        }
    }
    Ok(stale)
}

/// Whether the input's recording of a test (from run `theirs`) replaces this
/// data's (from run `ours`). A file that holds the other's run in its history
/// and still a different recording has the later one: it merged that run and
/// something replaced it since (the main file's run, copied into every shard,
/// is older than the shard's own, even when both started in the same second).
/// Otherwise the later start time wins, and equal times go to the input, the
/// later file on the command line.
fn newer(
    theirs: Option<&RunKey>,
    ours: Option<&RunKey>,
    we_know_theirs: bool,
    they_know_ours: bool,
) -> bool {
    match (theirs, ours) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(t), Some(o)) if t == o => false,
        _ if we_know_theirs && !they_know_ours => false,
        _ if they_know_ours && !we_know_theirs => true,
        (Some(t), Some(o)) => t.started_at >= o.started_at,
    }
}

fn source(w: &Writer<'_>, side: Side, blob: &str, path: &str, src: &Path) -> Result<Vec<u8>> {
    w.source_of(side, blob)?.ok_or_else(|| {
        CombineError::MissingContent {
            input: src.to_path_buf(),
            path: path.to_string(),
            blob: blob.to_string(),
        }
        .into()
    })
}

fn conflict(
    path: &str,
    ours: Option<&RunKey>,
    theirs: Option<&RunKey>,
    origin: &HashMap<RunKey, PathBuf>,
    src: &Path,
) -> Error {
    let commit = |k: Option<&RunKey>| {
        k.and_then(|k| k.commit.as_deref())
            .map(|c| c.get(..10).unwrap_or(c).to_string())
            .unwrap_or_else(|| "(no commit)".into())
    };
    let ours_file = ours
        .and_then(|k| origin.get(k))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "an earlier input".into());
    CombineError::DifferentContents {
        input: src.to_path_buf(),
        path: path.to_string(),
        ours_file,
        ours_commit: commit(ours),
        theirs_commit: commit(theirs),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(at: &str, command: &str) -> RunKey {
        RunKey {
            started_at: at.into(),
            kind: "full".into(),
            commit: Some("c".into()),
            command: command.into(),
            tests: 1,
            files: 1,
        }
    }

    #[test]
    fn the_newest_recording_wins_and_the_same_run_is_not_newer() {
        let main = key("2026-01-01T00:00:00Z", "pytest");
        let shard = key("2026-01-01T00:05:00Z", "pytest [shard 1/2]");
        let other = key("2026-01-01T00:05:00Z", "pytest [shard 2/2]");
        assert!(newer(Some(&shard), Some(&main), false, false));
        assert!(!newer(Some(&main), Some(&shard), false, false));
        assert!(
            !newer(Some(&main), Some(&main), true, true),
            "combine X with X is X"
        );
        // Different runs at the same second: the later input.
        assert!(newer(Some(&other), Some(&shard), false, false));
        assert!(newer(Some(&main), None, false, false));
        assert!(!newer(None, Some(&main), false, false));
        // The main run started in the same second as the shard's: the file
        // holding both knows which replaced which.
        let same_second = key("2026-01-01T00:05:00Z", "pytest");
        assert!(!newer(Some(&same_second), Some(&shard), true, false));
        assert!(newer(Some(&shard), Some(&same_second), false, true));
        // History wins over clocks that disagree between machines.
        assert!(newer(Some(&main), Some(&shard), false, true));
    }
}
