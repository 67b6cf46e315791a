//! Runs whose results could not be merged into the data file. Nothing pytest
//! measured is lost to a failure after it exits: the run's work directory
//! (results, coverage data files, and the [`Job`] that says how to finish
//! it) is moved beside the data file, every later command says so, and
//! `impact merge-pending` merges it once the cause is fixed.

use std::path::{Path, PathBuf};

use crate::error::{Cause, Error, Result};
use crate::output::Output;
use crate::store::Store;

use super::observe::WouldBe;
use super::workdir::WorkDir;

/// The file in a run's work directory that holds its [`Job`].
const JOB_FILE: &str = "impact-run.json";

/// What finishing a run needs besides what its processes wrote: saved in
/// the work directory before pytest starts.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Job {
    /// The run ran everything (its missing tests may be dropped).
    pub(super) full: bool,
    /// The command line, as the run history shows it.
    pub(super) command: String,
    pub(super) started_at: String,
    /// Tests the data knew when the run started.
    pub(super) known: Vec<String>,
    /// Tests the selection may have skipped (those that did not run are
    /// marked skipped); `None` for a full run.
    pub(super) skip_candidates: Option<Vec<String>>,
    pub(super) skip_note: String,
    /// The environment fingerprint of the interpreter that ran.
    pub(super) fingerprint: String,
    /// `--observe`: what the selection would have run.
    pub(super) would_be: Option<WouldBe>,
    /// pytest's exit status, once it exited.
    pub(super) exit_code: Option<i32>,
}

impl Job {
    pub(super) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(JOB_FILE);
        let text = serde_json::to_string(self).expect("a job serializes");
        std::fs::write(&path, text).map_err(|source| Error::Write { path, source })
    }

    fn load(dir: &Path) -> Result<Job> {
        let path = dir.join(JOB_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Import {
            path: path.clone(),
            reason: format!("failed to read it ({e})"),
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Import {
            path,
            reason: format!("it is not a pending run's description ({e})"),
        })
    }
}

/// Where runs that could not be merged into `db` are kept: `<db>.pending/`.
pub fn pending_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".pending");
    db.with_file_name(name)
}

/// The kept runs, oldest first.
pub fn pending_runs(db: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(pending_dir(db)) else {
        return Vec::new();
    };
    let mut runs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(JOB_FILE).is_file())
        .collect();
    runs.sort();
    runs
}

/// A warning for every command while runs wait to be merged.
pub fn warn_if_pending(db: &Path, out: &Output) {
    let runs = pending_runs(db);
    if !runs.is_empty() {
        out.warn(&format!(
            "{} whose results could not be merged into {} {} kept in {}: merge {} with \
             `impact merge-pending`",
            if runs.len() == 1 {
                "1 run".to_string()
            } else {
                format!("{} runs", runs.len())
            },
            db.display(),
            if runs.len() == 1 { "is" } else { "are" },
            pending_dir(db).display(),
            if runs.len() == 1 { "it" } else { "them" },
        ));
    }
}

/// Runs `finish` on the work directory; when it fails or panics, keeps the
/// directory beside `db` and returns [`Error::NotMerged`].
pub(super) fn finish_or_keep(
    work: WorkDir,
    db: &Path,
    finish: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| finish(&work.path)));
    let cause = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => Cause::of(&e),
        Err(panic) => Cause(format!(
            "impact panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        )),
    };
    let kept = keep(work, db);
    Err(Error::NotMerged {
        db: db.to_owned(),
        kept,
        cause,
    })
}

/// Moves the work directory to `<db>.pending/<start>-<pid>`; where that
/// fails, leaves it where it is. Returns where the results are.
fn keep(mut work: WorkDir, db: &Path) -> PathBuf {
    let stamp = Job::load(&work.path)
        .map(|j| j.started_at.replace([':', '-'], ""))
        .unwrap_or_else(|_| "unknown".into());
    let dest = pending_dir(db).join(format!("{stamp}-{}", std::process::id()));
    let moved = std::fs::create_dir_all(pending_dir(db)).is_ok()
        && (std::fs::rename(&work.path, &dest).is_ok() || copy_files(&work.path, &dest).is_ok());
    if moved { dest } else { work.disarm() }
}

/// Copies the regular files of `from` (not FIFOs, not directories) into a
/// new directory `to`: for a work directory on another file system.
fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// `impact merge-pending`: merges the kept runs into the data, oldest first;
/// each is removed once merged. Stops at the first that fails again.
pub fn merge_pending(repo: &crate::git::Repo, db: &Path, out: &Output) -> Result<i32> {
    let runs = pending_runs(db);
    if runs.is_empty() {
        out.note(&format!(
            "no runs wait to be merged ({} holds none)",
            pending_dir(db).display()
        ));
        return Ok(0);
    }
    let mut store = Store::open_or_create(db)?;
    for dir in runs {
        let job = Job::load(&dir)?;
        out.note(&format!(
            "merging the results of `{}` (started {})",
            job.command, job.started_at
        ));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::finish(repo, &mut store, db, &dir, &job, out)
        }));
        let cause = match outcome {
            Ok(Ok(())) => {
                std::fs::remove_dir_all(&dir).map_err(|source| Error::Write {
                    path: dir.clone(),
                    source,
                })?;
                continue;
            }
            Ok(Err(e)) => Cause::of(&e),
            Err(_) => Cause("impact panicked (the message is above)".into()),
        };
        return Err(Error::NotMerged {
            db: db.to_owned(),
            kept: dir,
            cause,
        });
    }
    let _ = std::fs::remove_dir(pending_dir(db));
    Ok(0)
}
