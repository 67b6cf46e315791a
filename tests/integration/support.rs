//! Test support: the pinned Python environment, deterministic temporary git
//! repositories holding the sample project, and a wrapper to run `impact`.

// Shared helpers: not every test module uses every one.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository's own directory.
pub fn project_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Python virtual environment with the pinned coverage.py, pytest,
/// pytest-cov and pytest-xdist, created once under `target/` and reused. A
/// file lock makes concurrent test processes wait for one creator.
pub fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let requirements = project_dir().join("tests/requirements.txt");
        let pins = std::fs::read_to_string(&requirements).expect("read tests/requirements.txt");
        // One venv per host interpreter (IMPACT_TEST_PYTHON, e.g. a 3.12 or
        // 3.13 for the sys.monitoring recorder) and set of pins.
        let host = std::env::var("IMPACT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let key = fnv(format!("{pins}\n{host}").as_bytes());
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let venv = base.join(format!("venv-{key:016x}"));
        let python = venv.join("bin/python");
        let ready = venv.join(".ready");
        let lock = File::create(base.join("venv.lock")).unwrap();
        lock.lock().expect("lock the venv");
        if !ready.exists() {
            let _ = std::fs::remove_dir_all(&venv);
            run_ok(Command::new(&host).args(["-m", "venv"]).arg(&venv));
            run_ok(
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "-r",
                    ])
                    .arg(&requirements),
            );
            std::fs::write(&ready, "").unwrap();
        }
        drop(lock);
        python
    })
}

/// (major, minor) of the venv's Python.
pub fn python_version() -> (u32, u32) {
    static VERSION: OnceLock<(u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let out = run_ok(
            Command::new(venv_python()).args(["-c", "import sys; print(*sys.version_info[:2])"]),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split_whitespace().map(|p| p.parse().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    })
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs a command and panics with its output when it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("failed to start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temporary git repository; kept on disk when `KEEP_TEMP_DIR` is set.
pub struct TestRepo {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    commits: u32,
}

impl TestRepo {
    /// An empty repository with a fixed identity and clock.
    pub fn empty() -> TestRepo {
        let dir = tempfile::Builder::new()
            .prefix("impact-test-")
            .tempdir()
            .unwrap();
        let path = std::fs::canonicalize(dir.path()).unwrap();
        let dir = if std::env::var_os("KEEP_TEMP_DIR").is_some() {
            eprintln!("keeping {}", path.display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let repo = TestRepo {
            path,
            _dir: dir,
            commits: 0,
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    /// A repository holding a copy of `fixtures/<name>`, committed.
    pub fn with_fixture(name: &str) -> TestRepo {
        let mut repo = TestRepo::empty();
        copy_dir(&project_dir().join("fixtures").join(name), repo.path());
        std::fs::write(
            repo.path().join(".gitignore"),
            ".impact.db\n.coverage\n__pycache__/\n.pytest_cache/\n",
        )
        .unwrap();
        repo.commit_all("initial");
        repo
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs git with a cleared environment and fixed dates.
    pub fn git(&self, args: &[&str]) -> String {
        let out = run_ok(git_command(self.path()).args(args));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn commit_all(&mut self, message: &str) -> String {
        self.commits += 1;
        self.git(&["add", "-A"]);
        let date = format!("2024-01-01T00:{:02}:00Z", self.commits);
        run_ok(
            git_command(self.path())
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .args(["commit", "--quiet", "--allow-empty", "-m", message]),
        );
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap()
    }

    /// Replaces the one line holding `find` with that line with `find` replaced.
    pub fn replace(&self, rel: &str, find: &str, replace: &str) {
        let text = self.read(rel);
        assert_eq!(
            text.matches(find).count(),
            1,
            "`{find}` must occur once in {rel}"
        );
        self.write(rel, &text.replacen(find, replace, 1));
    }

    /// Runs pytest in the pinned venv with pytest-cov per-test contexts.
    pub fn pytest_cov(&self, extra: &[&str]) -> Output {
        let mut cmd = python_command(self.path());
        cmd.args(PYTEST).args(["--cov=shop", "--cov-context=test"]);
        cmd.args(extra);
        run_ok(&mut cmd)
    }

    /// Runs plain pytest in the pinned venv (no impact, no coverage), quiet
    /// and without a cache; whatever its exit code.
    pub fn plain_pytest(&self, extra: &[&str]) -> Output {
        python_command(self.path())
            .args(PYTEST)
            .args(extra)
            .output()
            .unwrap()
    }

    /// The data file `impact` keeps here, opened to read or edit it.
    pub fn data(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path().join(".impact.db")).unwrap()
    }

    /// The one value a query over the data file gives.
    pub fn data_value<T: rusqlite::types::FromSql>(&self, sql: &str) -> T {
        self.data().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Runs a statement on the data file.
    pub fn data_execute(&self, sql: &str) {
        self.data().execute(sql, []).unwrap();
    }

    /// Runs a Python snippet in the venv; returns its stdout.
    pub fn python(&self, code: &str) -> String {
        let out = run_ok(python_command(self.path()).args(["-c", code]));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `impact` in this repository.
    pub fn impact(&self) -> ImpactCommand {
        ImpactCommand::new(self.path())
    }
}

/// Adds and commits a test that reads `tests/data/limit.txt` (holding 3)
/// under a computed name, in a child process that is not Python: invisible
/// to selection (no recorded read, no name), for planting misses.
pub fn plant_invisible_reader(repo: &mut TestRepo) {
    repo.write("tests/data/limit.txt", "3\n");
    repo.write(
        "tests/test_planted.py",
        "import subprocess\nfrom pathlib import Path\n\n\ndef test_limit():\n    \
         name = 'li' + 'mit.txt'\n    \
         out = subprocess.run(['cat', str(Path(__file__).parent / 'data' / name)], \
         capture_output=True, text=True).stdout\n    assert out.strip() == '3'\n",
    );
    repo.commit_all("planted");
}

fn python_command(dir: &Path) -> Command {
    let mut cmd = Command::new(venv_python());
    cmd.current_dir(dir)
        .env_remove("COVERAGE_PROCESS_START")
        .env_remove("COVERAGE_CORE")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Impact Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Impact Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
    cmd
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" || name == ".coverage" {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// pytest's arguments as every test runs it (after the interpreter): quiet,
/// without a cache directory.
pub const PYTEST: [&str; 5] = ["-m", "pytest", "-q", "-p", "no:cacheprovider"];

/// `impact run FLAGS -- <venv python> -m pytest -q PYTEST_ARGS`, ready to start.
pub fn impact_run_command(repo: &TestRepo, flags: &[&str], pytest_args: &[&str]) -> ImpactCommand {
    let python = venv_python().display().to_string();
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", &python]);
    args.extend_from_slice(&PYTEST);
    args.extend_from_slice(pytest_args);
    repo.impact()
        .args(&args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
}

/// A run of the `impact` binary with a controlled environment.
pub struct ImpactCommand {
    cmd: Command,
}

/// What a run of `impact` produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl ImpactCommand {
    /// `impact` started in `dir` (e.g. a clone outside any [`TestRepo`]).
    pub fn in_dir(dir: &Path) -> Self {
        Self::new(dir)
    }

    fn new(dir: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_impact"));
        cmd.current_dir(dir).env("NO_COLOR", "1");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("IMPACT_") {
                cmd.env_remove(&k);
            }
        }
        ImpactCommand { cmd }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("start impact");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts exit code 0.
    pub fn ok(self) -> Run {
        let run = self.run();
        assert_eq!(run.code, 0, "impact failed:\n{run:#?}");
        run
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:#?}"))
    }
}
