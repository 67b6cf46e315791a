//! Command-line definitions (clap), turned once into validated [`Settings`].

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::shard::Shard;

const EXAMPLES: &str = "\
Examples:
  impact import .coverage                 ingest pytest-cov data recorded with --cov-context=test
  impact who shop/pricing.py:42           which tests executed line 42?
  impact show 'tests/test_cart.py::test_add'
  impact status --format json
  impact export --coverage coverage.db    a clean coverage.py data file
  impact combine shard-*.db               merge CI shards' data into .impact.db

Exit codes: 0 success, 2 bad input (the message names it and the fix), 3 unexpected failure.";

/// Run only the tests your change can affect.
#[derive(Debug, Parser)]
#[command(name = "impact", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Args {
    /// The data file [default: .impact.db at the repository root]
    #[arg(long, global = true, env = "IMPACT_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Run as if started in DIR
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// When to use colors (never when NO_COLOR is set)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print where the call spends its time, step by step, on stderr (also IMPACT_TRACE=1)
    #[arg(long, global = true)]
    pub timings: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest coverage.py data files recorded with per-test contexts
    #[command(after_help = "\
Examples:
  pytest --cov=shop --cov-context=test && impact import .coverage
  impact import --rev HEAD .coverage      line numbers refer to HEAD, not the work tree

Re-importing replaces the data of the tests the file contains.")]
    Import {
        /// coverage.py data files (e.g. .coverage)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The revision the data was recorded at [default: the work tree]
        #[arg(long, value_name = "REV")]
        rev: Option<String>,
    },
    /// List the tests that executed a file or some of its lines
    #[command(after_help = "\
Examples:
  impact who shop/pricing.py              every test that ran any line of it
  impact who shop/pricing.py:42           line 42 (of the file as it is now)
  impact who shop/pricing.py:40-45 --format json")]
    Who {
        /// PATH, PATH:LINE or PATH:FIRST-LAST
        #[arg(value_name = "PATH[:LINE[-LINE]]")]
        target: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List the files and lines a test executed
    #[command(after_help = "Example:\n  impact show 'tests/test_cart.py::test_add' --format json")]
    Show {
        /// A pytest node id
        #[arg(value_name = "TEST_ID")]
        test: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show what the data holds, how old it is, and what changed since
    Status {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run the affected tests with pytest and record what they execute
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Print the tests that the changes can affect
    #[command(after_help = SELECT_HELP)]
    Select(SelectArgs),
    /// Write the line data for coverage.py's own tools
    #[command(after_help = "\
Example:
  impact export --coverage cov.db && coverage report --data-file=cov.db --contexts='test_add'")]
    Export {
        /// Write a coverage.py data file here (absolute paths, per-test contexts)
        #[arg(long, value_name = "FILE", required = true)]
        coverage: PathBuf,
    },
    /// Merge data files recorded by CI shards into one
    #[command(after_help = COMBINE_HELP)]
    Combine {
        /// impact data files (e.g. each shard's copy of the data after `impact run --shard K/N`)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write the result here instead of merging into the data file (--db)
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Merge the results of runs that could not be merged when they ended
    #[command(after_help = "\
When merging a run's results fails (or impact crashes) after pytest exits,
nothing is lost: the run's results are kept in <data file>.pending/, every
command warns about them, and this merges them, oldest first, once the cause
is fixed. A run that fails again stays kept.

Examples:
  impact merge-pending
  impact --db ci/.impact.db merge-pending")]
    MergePending,
}

const COMBINE_HELP: &str = "\
Examples:
  impact combine shard-1.db shard-2.db shard-3.db     into .impact.db (or --db)
  impact combine a.db b.db -o combined.db             only a.db and b.db

For each test the newest recording wins (the files' run histories say which
replaced which; otherwise the run's start time); runs both files know are not repeated, so combining a file with itself, or
a shard with the main file it was copied from, changes nothing. A file recorded
at different contents is taken from the newer data and the older lines are
carried over, except when two inputs both recorded new data for it at
different contents (shards run on different commits): that is refused (exit 2)
naming the file and both commits. The result is written beside OUT and moved
into place: OUT is never half-written.

Exit status: 0 combined; 2 bad input (a missing or foreign file, shards from
different commits); 3 an unexpected failure (I/O, SQLite).";

const SELECT_HELP: &str = "\
Examples:
  impact select                           work tree changes against the recorded data
  impact select --staged --explain        what the staged changes select, and why
  impact select --since origin/main --format json
  pytest $(impact select --format pytest)
  pytest $(impact select --since origin/main --shard 2/4 --format pytest)

With --shard K/N the selection is split into N parts balanced by recorded
durations (the same split on every machine); on a full-run verdict the whole
known suite is split (exit status still 10). Tests the data does not know are
placed by a hash of their file; `impact run --shard` places them too.

Exit status: 0 = a selection (possibly empty: nothing needs to run); 10 = run
everything (no data, data too old, a full-run file changed, ...: the reasons are
on stderr and in JSON `reasons`); 2 = bad input. On a full-run verdict nothing is
printed on stdout, so `pytest $(impact select --format pytest)` runs everything.";

const RUN_HELP: &str = "\
Examples:
  impact run                              affected tests (first run: everything, recorded)
  impact run --staged                     in a pre-commit hook
  impact run --since origin/main -- python -m pytest -n 2
  impact run --full                       the nightly run: everything, data refreshed
  impact run --shard 2/4 --since origin/main    the 2nd of 4 CI machines
  impact run --observe                    run everything; report what selection would have missed

The command after `--` defaults to `python -m pytest`; impact adds `-p impact_pytest`
(its plugin, shipped inside the binary). The exit status is pytest's; when nothing is
affected no test runs and the exit status is 0.";

/// Arguments of `impact run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Run everything and refresh the data
    #[arg(long)]
    pub full: bool,
    /// Consider only files changed since the merge base of REV and HEAD (CI)
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Select by the staged changes (the index) instead of the work tree
    #[arg(long)]
    pub staged: bool,
    /// Show, per selected test, what selected it
    #[arg(long)]
    pub explain: bool,
    /// Run only shard K of N (1 <= K <= N): the selection split by recorded durations
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Run everything, and report what the selection would have skipped and missed
    #[arg(long, conflicts_with = "full")]
    pub observe: bool,
    /// The test command [default: python -m pytest]
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Arguments of `impact select` (shared with `impact run`).
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Consider only files changed since the merge base of REV and HEAD (CI)
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Compare with the staged changes (the index) instead of the work tree
    #[arg(long)]
    pub staged: bool,
    /// Compare with a revision instead of the work tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Show, per selected test, the changes or rules that selected it
    #[arg(long)]
    pub explain: bool,
    /// Run everything when more files than this changed [config: max_changed_files]
    #[arg(long, value_name = "N")]
    pub max_changed_files: Option<usize>,
    /// Print only shard K of N (1 <= K <= N): the selection split by recorded durations
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    #[arg(long, value_enum, default_value_t = SelectFormat::Text)]
    pub format: SelectFormat,
}

/// Output formats of `impact select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SelectFormat {
    /// One test id per line
    Text,
    /// Arguments for pytest (node ids; nothing on a full run)
    Pytest,
    /// {"mode", "reasons", "tests", "changed", "total"}
    Json,
}

/// Settings shared by every command, resolved once.
pub struct Settings {
    /// The git repository the command works in.
    pub repo: Repo,
    /// The directory paths on the command line are relative to.
    pub cwd: PathBuf,
    /// The data file.
    pub db: PathBuf,
    /// Whether stderr may carry colors.
    pub color: bool,
    /// The repository's configuration, read and validated (globs compiled)
    /// once, by the first command step that needs it: commands that do not
    /// (`show`, `status`) work even while it is malformed.
    config: std::cell::OnceCell<Config>,
}

impl Settings {
    /// The repository's configuration (loaded on first use).
    pub fn config(&self) -> Result<&Config> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let config = Config::load(self.repo.root())?;
        Ok(self.config.get_or_init(|| config))
    }

    /// Resolves the working directory, the repository and the data file.
    pub fn from_args(args: &Args) -> Result<Settings> {
        let start = std::env::current_dir()
            .map_err(|e| Error::Usage(format!("failed to read the current directory: {e}")))?;
        let cwd = match &args.dir {
            Some(d) => start.join(d),
            None => start,
        };
        if !cwd.is_dir() {
            return Err(Error::Usage(format!(
                "failed to enter {}: not a directory",
                cwd.display()
            )));
        }
        let repo = Repo::discover(&cwd)?;
        let db = match &args.db {
            Some(p) => cwd.join(p),
            None => repo.root().join(".impact.db"),
        };
        if db.is_dir() {
            return Err(Error::Usage(format!(
                "the data file {} is a directory; pass a file path with --db",
                db.display()
            )));
        }
        if is_coverage_parallel_name(&db) {
            return Err(Error::Usage(format!(
                "refusing data file name {}: coverage.py and pytest-cov delete `.coverage.*` \
                 files; choose another name with --db",
                db.display()
            )));
        }
        Ok(Settings {
            config: std::cell::OnceCell::new(),
            repo,
            cwd,
            db,
            color: color_enabled(args.color),
        })
    }

    /// A command-line path as a repository-relative path with `/`.
    pub fn repo_path(&self, arg: &str) -> Option<String> {
        let joined = self.cwd.join(arg);
        let abs = std::fs::canonicalize(&joined).unwrap_or(joined);
        let root = std::fs::canonicalize(self.repo.root()).unwrap_or(self.repo.root().into());
        let rel = lexical_normalize(&abs);
        let rel = rel.strip_prefix(&root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        let parts = parts?;
        (!parts.is_empty()).then(|| parts.join("/"))
    }
}

fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_coverage_parallel_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".coverage."))
}

fn color_enabled(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}
