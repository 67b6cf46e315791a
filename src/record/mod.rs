//! A recording (what one import or run measured) and how it is merged into the
//! data in one transaction.
//!
//! Line numbers in a recording refer to the source contents it carries. When a
//! file's content differs from the baseline the data holds, the lines of tests
//! not in this recording are carried over to the new content through a diff;
//! tests that had lines inside changed regions are marked as needing a run,
//! because what they executed there is no longer known.

pub mod combine;
pub mod import;

use std::collections::{BTreeMap, BTreeSet};

use crate::change::linemap::LineMap;
use crate::error::Result;
use crate::git::{self, LineDiff};
use crate::python::facts;
use crate::store::{ByContent, RunWrite, Store, TestWrite, Writer};

/// What one import or run measured.
#[derive(Debug, Default)]
pub struct Recording {
    /// `import`, `run` or `full`.
    pub kind: &'static str,
    /// What produced it (the command line), for the run history.
    pub command: String,
    /// When it started, RFC 3339 UTC.
    pub started_at: String,
    /// HEAD when it was recorded.
    pub commit: Option<String>,
    /// Repository-relative path -> the content its line numbers refer to.
    pub sources: BTreeMap<String, Vec<u8>>,
    /// Test id -> what it executed.
    pub tests: BTreeMap<String, TestRecord>,
    /// Repository-relative path -> numbits of lines run outside any test.
    pub import_time: BTreeMap<String, Vec<u8>>,
    /// Whether the recording tells which test module's import ran which
    /// import-time lines (`impact run`'s plugin does; coverage.py's data
    /// does not).
    pub attributed: bool,
    /// Repository-relative path -> the test module whose import ran them
    /// ("" for none) -> numbits: `import_time`, attributed.
    pub import_by: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Tests to forget: they no longer exist (a complete run did not collect them).
    pub removed: Vec<String>,
    /// impact metadata to set with the merge (e.g. the environment fingerprint).
    pub meta: Vec<(String, String)>,
    /// Tests a selection skipped in this run, and the change in effect.
    pub skipped: Vec<String>,
    pub skip_note: String,
    /// Files read outside tests, by scope (a collector's node id, "" outside
    /// any test and collector), when the run tracked reads.
    pub scope_reads: Option<BTreeMap<String, Vec<String>>>,
    /// Tests whose data is incomplete (they started a Python process that
    /// could not be measured): recorded, and marked as needing a run.
    pub incomplete: Vec<String>,
    /// Lines of units (code run once for many tests: a wider-scoped
    /// fixture's setup, a memoised function's first call), by unit key;
    /// [`Recording::spread_units`] adds them to their users before a merge.
    pub units: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

impl Recording {
    /// Adds each unit's lines to every test that used it: `uses` gives, per
    /// test, the unit keys it used directly; `nested`, per unit, the units
    /// it used while it ran (followed transitively). Units are then gone
    /// from the recording: their lines belong to their users.
    pub fn spread_units(
        &mut self,
        uses: &BTreeMap<String, Vec<String>>,
        nested: &BTreeMap<String, Vec<String>>,
    ) {
        let units = std::mem::take(&mut self.units);
        if units.is_empty() {
            return;
        }
        for (test, direct) in uses {
            let Some(record) = self.tests.get_mut(test) else {
                continue;
            };
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            let mut todo: Vec<&str> = direct.iter().map(String::as_str).collect();
            while let Some(key) = todo.pop() {
                if !seen.insert(key) {
                    continue;
                }
                if let Some(inner) = nested.get(key) {
                    todo.extend(inner.iter().map(String::as_str));
                }
                for (path, bits) in units.get(key).into_iter().flatten() {
                    let slot = record.lines.entry(path.clone()).or_default();
                    *slot = crate::numbits::union(slot, bits);
                }
            }
        }
    }
}

/// One test's measurements.
#[derive(Debug, Default, Clone)]
pub struct TestRecord {
    /// Repository-relative path -> numbits.
    pub lines: BTreeMap<String, Vec<u8>>,
    pub outcome: Option<String>,
    pub duration: Option<f64>,
    /// The fixtures it used, when known (`impact run` records them).
    pub fixtures: Option<Vec<String>>,
    /// Repository files it opened for reading, when the run tracked reads.
    pub reads: Option<Vec<String>>,
    /// Whether it started a program that is not Python, when known
    /// (`impact run` records it; coverage.py's data does not tell).
    pub spawns: Option<bool>,
}

/// What a merge did.
#[derive(Debug, Default)]
pub struct MergeReport {
    pub tests: usize,
    pub files: usize,
    /// Files whose baseline moved to new content; other tests' lines were carried over.
    pub rebased_files: Vec<String>,
    /// Tests whose data became incomplete and that now need a run.
    pub stale_tests: Vec<String>,
}

/// Merges a recording into the data, in one transaction: each file's
/// baseline (moving other tests' lines to new content), the tests, what ran
/// and was read outside tests, then the marks.
pub fn merge(store: &mut Store, rec: &Recording) -> Result<MergeReport> {
    store.write(|w| {
        let mut report = MergeReport {
            tests: rec.tests.len(),
            files: rec.sources.len(),
            ..Default::default()
        };
        let recorded: BTreeSet<&str> = rec.tests.keys().map(String::as_str).collect();
        let mut file_ids = BTreeMap::new();
        let mut stale = BTreeSet::new();
        for (path, content) in &rec.sources {
            let blob_id = git::blob_id(content);
            if rebase(w, rec, &recorded, path, content, &blob_id, &mut stale)? {
                report.rebased_files.push(path.clone());
            }
            let id = w.set_baseline(path, &blob_id, content)?;
            store_by_content(w, path, id, &blob_id, content)?;
            file_ids.insert(path.as_str(), id);
        }
        write_tests(w, rec, &file_ids)?;
        write_outside_tests(w, rec, &file_ids)?;
        let stale: Vec<String> = stale
            .into_iter()
            .filter(|t| !recorded.contains(t.as_str()))
            .collect();
        w.mark_needs_run(&stale)?;
        w.mark_needs_run(&rec.incomplete)?;
        w.remove_tests(&rec.removed)?;
        if rec.kind == "full" {
            w.clear_skipped()?;
        }
        w.mark_skipped(&rec.skipped, &rec.skip_note)?;
        for (k, v) in &rec.meta {
            w.set_meta(k, v)?;
        }
        w.drop_unused_sources()?;
        report.stale_tests = stale;
        Ok(report)
    })
}

/// Whether a recording replaces what the data saw outside tests (import-time
/// lines) instead of adding to it. A run that selected tests imports only
/// what their files import; a full run, or an import of coverage.py data,
/// saw everything.
fn replaces_outside_tests(rec: &Recording) -> bool {
    rec.kind != "run"
}

/// When the data's baseline of `path` is other content, moves the lines of
/// tests this recording does not replace to the new content; the tests that
/// had lines in changed regions go to `stale`. Whether it moved anything.
fn rebase(
    w: &mut Writer<'_>,
    rec: &Recording,
    recorded: &BTreeSet<&str>,
    path: &str,
    content: &[u8],
    blob_id: &str,
    stale: &mut BTreeSet<String>,
) -> Result<bool> {
    let Some(old) = w.baseline(path)? else {
        return Ok(false);
    };
    if old.blob_id == blob_id {
        return Ok(false);
    }
    let map = match git::diff_lines(&old.content, content) {
        LineDiff::Text(hunks) => Some(LineMap::new(hunks)),
        LineDiff::Binary => None,
    };
    let replaced_import_time = replaces_outside_tests(rec) && rec.import_time.contains_key(path);
    let lost = w.remap_file(
        old.file_id,
        &|n| map.as_ref().and_then(|m| m.old_to_new(n)),
        &|ctx| recorded.contains(ctx) || (ctx.is_empty() && replaced_import_time),
    )?;
    stale.extend(lost.into_iter().filter(|c| !c.is_empty()));
    // Attributed lines are not moved: unattributed, the file's import-time
    // lines count for every importer until a recording attributes them.
    w.forget_import_attribution(old.file_id)?;
    Ok(true)
}

/// What selection reads per content instead of the file, computed once per
/// content: a Python file's facts and outline, a test-side file's string
/// tokens, words and what its mentions mean.
fn store_by_content(
    w: &mut Writer<'_>,
    path: &str,
    id: i64,
    blob_id: &str,
    content: &[u8],
) -> Result<()> {
    if facts::is_python(path) {
        let need_facts = !w.facts_current(id, blob_id)?;
        let need_outline = !w.has_by_content(ByContent::Outline, blob_id)?;
        if need_facts || need_outline {
            let module = crate::python::parse(content);
            if need_facts {
                let f = facts::compute(path, &module);
                w.replace_facts(id, blob_id, &f)?;
            }
            if need_outline {
                // Empty for a file with syntax errors: parsed whole.
                let outline = crate::python::Outline::of(&module)
                    .map(|o| o.encode())
                    .unwrap_or_default();
                w.set_by_content(ByContent::Outline, blob_id, &outline)?;
            }
        }
    }
    if crate::python::pytest::is_test_side(path) {
        // Test files are searched for strings and names at every selection.
        use crate::python::mentions::{self, MENTIONS_VERSION, Mentions};
        let need_quoted = !w.has_by_content(ByContent::Quoted, blob_id)?;
        let need_words = !w.has_side_words(blob_id)?;
        let need_mentions =
            facts::is_python(path) && !w.has_side_mentions(blob_id, path, MENTIONS_VERSION)?;
        if need_quoted || need_words || need_mentions {
            // What selection reads: the same lossy text (see TestSide).
            let text = String::from_utf8_lossy(content);
            if need_quoted {
                let tokens = crate::python::tokens::stored_quoted_tokens(&text);
                w.set_by_content(ByContent::Quoted, blob_id, &tokens)?;
            }
            let words = match need_words || need_mentions {
                true => crate::python::tokens::word_index(&text),
                false => Default::default(),
            };
            if need_words {
                w.set_side_words(blob_id, &words)?;
            }
            if need_mentions {
                let m = Mentions::of(path, &words, &mentions::parse(path, &text));
                w.set_side_mentions(blob_id, path, MENTIONS_VERSION, &m.encode(), m.targets())?;
            }
        }
    }
    Ok(())
}

/// The run's row, and each recorded test in place of what the data held.
fn write_tests(w: &mut Writer<'_>, rec: &Recording, file_ids: &BTreeMap<&str, i64>) -> Result<()> {
    let run_id = w.add_run(&RunWrite {
        kind: rec.kind,
        started_at: &rec.started_at,
        commit: rec.commit.as_deref(),
        command: &rec.command,
        tests: rec.tests.len() as i64,
        files: rec.sources.len() as i64,
    })?;
    for (nodeid, test) in &rec.tests {
        let lines: Vec<(i64, Vec<u8>)> = test
            .lines
            .iter()
            .filter_map(|(path, bits)| file_ids.get(path.as_str()).map(|&id| (id, bits.clone())))
            .collect();
        w.replace_test(
            &TestWrite {
                nodeid,
                outcome: test.outcome.as_deref(),
                duration: test.duration,
                lines: &lines,
                spawns: test.spawns,
            },
            run_id,
        )?;
        if let Some(fixtures) = &test.fixtures {
            w.replace_fixtures(nodeid, fixtures)?;
        }
        if let Some(reads) = &test.reads {
            w.replace_reads(nodeid, reads)?;
        }
    }
    Ok(())
}

/// What ran and was read outside tests: reads by collector, import-time lines.
fn write_outside_tests(
    w: &mut Writer<'_>,
    rec: &Recording,
    file_ids: &BTreeMap<&str, i64>,
) -> Result<()> {
    for (scope, paths) in rec.scope_reads.iter().flatten() {
        // A collector collected again read exactly this. Reads outside any
        // collector depend on the arguments and plugins of each run: only
        // a full run replaces them, other runs add to them.
        w.set_scope_reads(scope, paths, !scope.is_empty() || rec.kind == "full")?;
    }
    let replace = replaces_outside_tests(rec);
    let none = BTreeMap::new();
    for (path, bits) in &rec.import_time {
        if let Some(&id) = file_ids.get(path.as_str()) {
            let by = rec
                .attributed
                .then(|| rec.import_by.get(path).unwrap_or(&none));
            w.set_import_time(id, bits, !replace, by)?;
        }
    }
    Ok(())
}

/// The current time as RFC 3339 UTC, e.g. `2026-11-22T05:33:51Z`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_rfc3339(secs)
}

/// Formats Unix seconds as RFC 3339 UTC (civil-from-days, proleptic Gregorian).
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses what [`format_rfc3339`] writes back into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        for secs in [0, 951_782_400, 1_704_067_200, 1_709_210_096, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    /// Which test module's import ran a line is kept through merges only
    /// while it is known: a recording adds to it, and a file whose lines
    /// move to new content without a new attribution loses it, so that its
    /// import-time lines count for every importer again.
    #[test]
    fn import_attribution_is_kept_added_to_and_forgotten_when_lines_move() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_or_create(&dir.path().join("data.db")).unwrap();
        let bits = |lines: &[u32]| crate::numbits::encode(lines.iter().copied());
        let by = |entries: &[(&str, &[u32])]| -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
            let files = entries
                .iter()
                .map(|(m, l)| (m.to_string(), bits(l)))
                .collect();
            BTreeMap::from([("lib/f.py".to_string(), files)])
        };
        let recording = |kind, content: &str, lines: &[u32], attributed| Recording {
            kind,
            sources: BTreeMap::from([("lib/f.py".to_string(), content.as_bytes().to_vec())]),
            import_time: BTreeMap::from([("lib/f.py".to_string(), bits(lines))]),
            attributed,
            ..Default::default()
        };
        let of = |store: &Store, lines: &[u32]| {
            let fid = store.file_id("lib/f.py").unwrap().unwrap();
            let got = store.import_time_of(fid, &bits(lines)).unwrap();
            (got.outside, got.by)
        };
        let text = "a = 1\nb = 2\nc = 3\n";
        let mut rec = recording("full", text, &[1, 2, 3], true);
        rec.import_by = by(&[("", &[1]), ("tests/test_a.py", &[2, 3])]);
        merge(&mut store, &rec).unwrap();
        assert_eq!(
            of(&store, &[1, 2]),
            (vec![1], vec![("tests/test_a.py".to_string(), vec![2])])
        );
        // A run of other tests adds what their modules' imports ran.
        let mut rec = recording("run", text, &[3], true);
        rec.import_by = by(&[("tests/test_b.py", &[3])]);
        merge(&mut store, &rec).unwrap();
        assert_eq!(
            of(&store, &[3]),
            (
                vec![],
                vec![
                    ("tests/test_a.py".to_string(), vec![3]),
                    ("tests/test_b.py".to_string(), vec![3])
                ]
            )
        );
        // New content: the lines move (2 -> 3) and are not attributed.
        let moved = "a = 1\nz = 0\nb = 2\nc = 3\n";
        let rec = Recording {
            kind: "run",
            sources: BTreeMap::from([("lib/f.py".to_string(), moved.as_bytes().to_vec())]),
            attributed: true,
            ..Default::default()
        };
        merge(&mut store, &rec).unwrap();
        assert_eq!(of(&store, &[3]), (vec![3], vec![]));
        // Coverage.py's data (no attribution) replaces it with none.
        let mut rec = recording("full", moved, &[1, 3], true);
        rec.import_by = by(&[("tests/test_a.py", &[3])]);
        merge(&mut store, &rec).unwrap();
        assert_eq!(of(&store, &[3]).0, Vec::<u32>::new());
        merge(&mut store, &recording("import", moved, &[1, 3], false)).unwrap();
        assert_eq!(of(&store, &[3]), (vec![3], vec![]));
    }
}
