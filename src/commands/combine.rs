//! `impact combine`: merge data files (CI shards) into the data file or `-o OUT`.

use std::path::{Path, PathBuf};

use crate::cli::Settings;
use crate::error::{Error, Result, exit_codes};
use crate::output::{Output, thousands};

pub fn run(
    settings: &Settings,
    files: &[PathBuf],
    output: Option<&Path>,
    out: &Output,
) -> Result<i32> {
    let inputs: Vec<PathBuf> = files.iter().map(|f| settings.cwd.join(f)).collect();
    let (sources, dest) = match output {
        Some(o) => (inputs, settings.cwd.join(o)),
        // Into the data file: it is an input too, when it exists.
        None => {
            let mut sources = Vec::new();
            if settings.db.exists() {
                sources.push(settings.db.clone());
            }
            sources.extend(inputs);
            (sources, settings.db.clone())
        }
    };
    if dest.is_dir() {
        return Err(Error::Usage(format!(
            "failed to combine into {}: it is a directory; pass a file path with -o",
            dest.display()
        )));
    }
    let report = crate::record::combine::combine(&sources, &dest)?;
    out.note(&format!(
        "combined {} files into {}: {} tests, {} recordings taken, {} runs added{}{}{}",
        report.inputs,
        dest.display(),
        thousands(report.tests),
        thousands(report.tests_taken),
        report.runs_added,
        if report.tests_removed > 0 {
            format!(", {} tests dropped", report.tests_removed)
        } else {
            String::new()
        },
        if report.rebased_files.is_empty() {
            String::new()
        } else {
            format!(
                ", {} files carried over to newer content",
                report.rebased_files.len()
            )
        },
        if report.stale_tests.is_empty() {
            String::new()
        } else {
            format!(", {} tests now need a run", report.stale_tests.len())
        },
    ));
    Ok(exit_codes::OK)
}
