//! Test fixtures: real git repositories in temp dirs, built with the `git`
//! command line under a fixed environment so that commit ids are stable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// A git work tree in a temp dir (removed on drop), on branch `main`.
pub struct TestRepo {
    // Holds the temp dir alive; `root` is inside it.
    dir: TempDir,
    home: PathBuf,
    pub root: PathBuf,
}

impl TestRepo {
    /// A fresh repository with no commits.
    pub fn new() -> TestRepo {
        let t = TestRepo::empty_dir();
        t.run(&["init", "-q", "-b", "main"]);
        t
    }

    /// A temp dir that is not (inside) a repository.
    pub fn empty_dir() -> TestRepo {
        let dir = tempfile::tempdir().expect("create temp dir");
        let home = dir.path().join("home");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(&home).expect("create home");
        std::fs::create_dir_all(&root).expect("create root");
        TestRepo { dir, home, root }
    }

    /// A `git` command in `cwd` with a cleared, fixed environment.
    pub fn git_in(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .output()
            .expect("run git")
    }

    /// Runs git in the work tree and returns its stdout; panics on failure.
    pub fn run(&self, args: &[&str]) -> String {
        self.run_in(&self.root, args)
    }

    /// Runs git in `cwd` and returns its stdout; panics on failure.
    pub fn run_in(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.git_in(cwd, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs git in the work tree and returns its stdout whatever its exit code.
    pub fn run_allow_fail(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.git_in(&self.root, args).stdout).into_owned()
    }

    /// Writes a file (creating parent dirs) in the work tree.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(full, content).expect("write file");
    }

    /// Stages everything and commits; returns the new HEAD id.
    pub fn commit(&self, message: &str) -> String {
        self.run(&["add", "-A"]);
        self.run(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// The current HEAD id, from the git command line.
    pub fn head(&self) -> String {
        self.run(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// A path beside the work tree (inside the same temp dir).
    pub fn sibling(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
