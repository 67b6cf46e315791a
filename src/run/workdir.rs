//! The work directory of one `impact run`: a temporary directory outside the
//! work tree holding the Python side (the plugin, the child-process recorder,
//! the read hook and the `sitecustomize` that starts it), where the test
//! processes write their results. Removed when the run ends.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The Python side, shipped inside the binary: file name and source.
pub(super) const PYTHON_FILES: &[(&str, &str)] = &[
    ("impact_pytest.py", include_str!("impact_pytest.py")),
    ("impact_child.py", include_str!("impact_child.py")),
    ("impact_reads.py", include_str!("impact_reads.py")),
    ("impact_sysmon.py", include_str!("impact_sysmon.py")),
    ("sitecustomize.py", include_str!("sitecustomize.py")),
];

/// A temporary directory outside the work tree, removed on drop.
pub(super) struct WorkDir {
    pub(super) path: PathBuf,
    /// Kept for a later merge: not removed on drop.
    kept: bool,
}

impl WorkDir {
    /// Creates the directory and writes the Python side into it.
    pub(super) fn new() -> Result<WorkDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("impact-run-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        let dir = WorkDir { path, kept: false };
        for (name, source) in PYTHON_FILES {
            let path = dir.path.join(name);
            std::fs::write(&path, source).map_err(|source| Error::Write { path, source })?;
        }
        Ok(dir)
    }

    /// Keeps the directory where it is; returns its path.
    pub(super) fn disarm(&mut self) -> PathBuf {
        self.kept = true;
        self.path.clone()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        // For debugging the Python side: keep what the processes wrote.
        if std::env::var_os("IMPACT_KEEP_TEMP").is_some() {
            eprintln!("impact: kept {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
