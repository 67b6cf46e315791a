//! `impact export --coverage FILE`

use std::path::Path;

use crate::cli::Settings;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::store::write_coverage_file;

pub fn run(settings: &Settings, dest: &Path, out: &Output) -> Result<i32> {
    let store = super::open_existing(settings)?;
    let dest = settings.cwd.join(dest);
    if dest.is_dir() {
        return Err(Error::Usage(format!(
            "failed to export to {}: it is a directory; pass a file path",
            dest.display()
        )));
    }
    write_coverage_file(&store, &dest, settings.repo.root())?;
    out.note(&format!("wrote coverage.py data to {}", dest.display()));
    Ok(0)
}
