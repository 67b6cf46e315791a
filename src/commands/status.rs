//! `impact status`: what the data holds, how old it is, what changed since.

use crate::cli::{Format, Settings};
use crate::error::Result;
use crate::git::{self, Entry, Target};
use crate::output::{Output, thousands};
use crate::store::{RunRow, Store};

#[derive(serde::Serialize)]
struct StatusJson {
    data: String,
    size_bytes: i64,
    tests: i64,
    files: i64,
    line_bits_rows: i64,
    tests_failed: i64,
    tests_needing_run: i64,
    /// Tests last recorded by `impact import` (no fixture closures, no
    /// units: see [`crate::select::IMPORTED_NOTE`]).
    tests_imported: i64,
    runs: i64,
    last_run: Option<RunRow>,
    /// Measured files whose content differs from what the data describes.
    changed: Vec<String>,
    /// Measured files that no longer exist.
    deleted: Vec<String>,
}

pub fn run(settings: &Settings, format: Format, out: &Output) -> Result<i32> {
    let Some(store) = Store::open(&settings.db)? else {
        out.note(&format!(
            "no data at {} yet; record with `impact import .coverage` or `impact run`",
            settings.db.display()
        ));
        return Ok(0);
    };
    let summary = store.summary()?;
    let mut changed = Vec::new();
    let mut deleted = Vec::new();
    for (path, blob) in store.baselines()? {
        match settings.repo.read(&Target::WorkTree, &path)? {
            Some(Entry::File { content, .. }) => {
                if git::blob_id(&content) != blob {
                    changed.push(path);
                }
            }
            _ => deleted.push(path),
        }
    }
    let status = StatusJson {
        data: settings.db.display().to_string(),
        size_bytes: store.size_bytes()?,
        tests: summary.tests,
        files: summary.files,
        line_bits_rows: summary.line_bits_rows,
        tests_failed: summary.tests_failed,
        tests_needing_run: summary.tests_needing_run,
        tests_imported: summary.tests_imported,
        runs: summary.runs,
        last_run: summary.last_run,
        changed,
        deleted,
    };
    match format {
        Format::Json => out.json(&status)?,
        Format::Text => out.stdout(&text(&status))?,
    }
    Ok(0)
}

fn text(s: &StatusJson) -> String {
    let mut t = format!(
        "data:     {} ({:.1} MB)\n",
        s.data,
        s.size_bytes as f64 / 1e6
    );
    t += &format!(
        "tests:    {} ({} failed last time, {} need a run)\n",
        thousands(s.tests as usize),
        s.tests_failed,
        s.tests_needing_run
    );
    t += &format!(
        "files:    {} measured, {} line sets\n",
        thousands(s.files as usize),
        thousands(s.line_bits_rows as usize)
    );
    if s.tests_imported > 0 {
        t += &format!(
            "imported: {} tests {}\n",
            thousands(s.tests_imported as usize),
            crate::select::IMPORTED_NOTE
        );
    }
    match &s.last_run {
        Some(run) => {
            let r = &run.key;
            let commit = r
                .commit
                .as_deref()
                .map(|c| c.get(..10).unwrap_or(c))
                .unwrap_or("(no commit)");
            t += &format!(
                "recorded: {} by {} at commit {} ({} runs in history)\n",
                r.started_at, r.kind, commit, s.runs
            );
            if let Some(o) = &run.observation_json() {
                let misses = o["would_be_misses"].as_array().map_or(0, Vec::len);
                t += &format!(
                    "observed: the selection would have run {} of {} tests, saving {:.2} s of {:.2} s; {misses} would-be {}\n",
                    o["would_run"],
                    o["ran"],
                    o["saved_seconds"].as_f64().unwrap_or(0.0),
                    o["total_seconds"].as_f64().unwrap_or(0.0),
                    if misses == 1 { "miss" } else { "misses" }
                );
            }
        }
        None => t += "recorded: never\n",
    }
    if s.changed.is_empty() && s.deleted.is_empty() {
        t += "changed:  nothing since the recording\n";
    } else {
        t += &format!(
            "changed:  {} files since the recording{}\n",
            s.changed.len() + s.deleted.len(),
            if s.deleted.is_empty() {
                String::new()
            } else {
                format!(" ({} deleted)", s.deleted.len())
            }
        );
        for p in &s.changed {
            t += &format!("  modified: {p}\n");
        }
        for p in &s.deleted {
            t += &format!("  deleted:  {p}\n");
        }
    }
    t
}
