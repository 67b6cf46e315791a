//! `impact import FILE...`

use std::path::PathBuf;

use crate::cli::Settings;
use crate::error::Result;
use crate::output::{Output, thousands};
use crate::record::{self, now_rfc3339};
use crate::store::Store;

pub fn run(settings: &Settings, files: &[PathBuf], rev: Option<&str>, out: &Output) -> Result<i32> {
    let files: Vec<PathBuf> = files.iter().map(|f| settings.cwd.join(f)).collect();
    // Read everything before touching the data file: bad input writes nothing.
    let (mut rec, notes) = crate::record::import::read_coverage_files(&settings.repo, &files, rev)?;
    rec.started_at = now_rfc3339();
    rec.command = std::iter::once("impact import".to_string())
        .chain(files.iter().map(|f| f.display().to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    for w in &notes.warnings {
        out.warn(w);
    }
    let mut store = Store::open_or_create(&settings.db)?;
    let report = record::merge(&mut store, &rec)?;
    out.note(&format!(
        "imported {} tests over {} files into {}",
        thousands(report.tests),
        thousands(report.files),
        settings.db.display()
    ));
    if !report.stale_tests.is_empty() {
        out.note(&format!(
            "{} other tests ran lines that changed since they were recorded; they will run next time",
            thousands(report.stale_tests.len())
        ));
    }
    Ok(0)
}
