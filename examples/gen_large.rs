//! Generates a large, deterministic project with recorded per-test data, for
//! benchmarks and for trying `impact` at scale.
//!
//! ```sh
//! cargo run --release --example gen_large -- DIR [--tests 30000] [--files 3000] [--seed 1]
//! ```
//!
//! DIR becomes a git repository with one commit: `pkg/` holds FILES generated
//! Python modules (functions with branches and loops, classes, constants,
//! imports of other generated modules, comments), `tests/` holds the pytest
//! files whose node ids the data names. `DIR/.impact.db` is then written
//! through impact's own library ([`impact::record::merge`]), exactly as an
//! import of that commit would write it: each test executed plausible paths
//! through a few functions in each file it touched, with a skew (a few core
//! modules are touched by most tests, most modules by few), plus the
//! import-time lines (the empty context) of every module. Test files are
//! measured too, as `impact run` measures the whole repository: each test
//! ran its own function's lines.
//!
//! Everything depends only on the options: the same options give the same
//! commit id and the same data file, byte for byte.
//!
//! Facts the benchmarks need (a core module, its busiest line, a typical
//! module and test) are written to `DIR/.git/gen_large.env` as shell
//! assignments.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use impact::numbits;
use impact::record::{Recording, TestRecord, format_rfc3339, merge};
use impact::store::Store;

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub tests: usize,
    pub files: usize,
    pub seed: u64,
}

/// What was generated, and how long it took.
#[derive(Debug, Clone)]
pub struct Generated {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub commit: String,
    pub tests: usize,
    pub files: usize,
    /// `line_bits` rows written (test rows plus import-time rows).
    pub line_bits_rows: usize,
    pub db_bytes: u64,
    /// The most-touched module, its line executed by the most tests, and how many.
    pub core_module: String,
    pub busy_line: u32,
    pub busy_line_tests: usize,
    /// A module of median popularity and one of its executed lines.
    pub typical_module: String,
    pub typical_line: u32,
    /// A test of about average size.
    pub sample_test: String,
    pub time_sources: Duration,
    pub time_git: Duration,
    pub time_record: Duration,
}

#[allow(dead_code)]
fn main() {
    match parse_args().and_then(|opts| generate(&opts)) {
        Ok(g) => {
            let total = g.time_sources + g.time_git + g.time_record;
            println!(
                "generated {} tests over {} files ({} line_bits rows) in {}",
                g.tests,
                g.files,
                g.line_bits_rows,
                g.dir.display()
            );
            println!(
                "time: {:.1} s total (sources {:.1} s, git {:.1} s, recording {:.1} s)",
                total.as_secs_f64(),
                g.time_sources.as_secs_f64(),
                g.time_git.as_secs_f64(),
                g.time_record.as_secs_f64()
            );
            println!(
                "data file: {} ({:.1} MB, {} bytes)",
                g.db.display(),
                g.db_bytes as f64 / 1e6,
                g.db_bytes
            );
            println!("commit: {}", g.commit);
            println!(
                "core module: {} (line {} executed by {} tests)",
                g.core_module, g.busy_line, g.busy_line_tests
            );
            println!(
                "typical module: {} (line {})",
                g.typical_module, g.typical_line
            );
            println!("sample test: {}", g.sample_test);
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "usage: gen_large DIR [--tests 30000] [--files 3000] [--seed 1]  \
                 (DIR must not exist or be empty)"
            );
            std::process::exit(2);
        }
    }
}

#[allow(dead_code)]
fn parse_args() -> BoxResult<Options> {
    let mut dir = None;
    let mut opts = Options {
        dir: PathBuf::new(),
        tests: 30_000,
        files: 3_000,
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> BoxResult<u64> {
            let v = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{name} takes a number, not `{v}`").into())
        };
        match arg.as_str() {
            "--tests" => opts.tests = value("--tests")? as usize,
            "--files" => opts.files = value("--files")? as usize,
            "--seed" => opts.seed = value("--seed")?,
            "-h" | "--help" => return Err("help requested".into()),
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`").into()),
            s if dir.is_none() => dir = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument `{s}`").into()),
        }
    }
    opts.dir = dir.ok_or("missing DIR")?;
    if opts.tests == 0 || opts.files < 2 {
        return Err("--tests must be at least 1 and --files at least 2".into());
    }
    Ok(opts)
}

/// Generates the repository and its data file.
pub fn generate(opts: &Options) -> BoxResult<Generated> {
    let dir = &opts.dir;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(format!("{} exists and is not empty", dir.display()).into());
    }
    std::fs::create_dir_all(dir)?;

    // 1. Sources.
    let start = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let modules = gen_modules(&mut rng, opts.files);
    let suites = gen_suites(&mut rng, &modules, opts.tests);
    let mut written = BTreeSet::new();
    for m in &modules {
        write_file(dir, &m.path, m.source.as_bytes())?;
        // Every package directory gets an `__init__.py` (not measured: a docstring only).
        let mut parent = Path::new(&m.path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if written.insert(p.to_path_buf()) {
                let init = format!("\"\"\"The `{}` package.\"\"\"\n", p.display());
                write_file(
                    dir,
                    &format!("{}/__init__.py", p.display()),
                    init.as_bytes(),
                )?;
            }
            parent = p.parent();
        }
    }
    for s in &suites {
        write_file(dir, &s.path, s.source.as_bytes())?;
    }
    write_file(
        dir,
        ".gitignore",
        b".impact.db\n.impact.db-journal\n__pycache__/\n*.pyc\n.pytest_cache/\n",
    )?;
    write_file(dir, "pytest.ini", b"[pytest]\ntestpaths = tests\n")?;
    let time_sources = start.elapsed();

    // 2. One commit, deterministic.
    let start = Instant::now();
    git(dir, &["init", "-q"])?;
    git(dir, &["add", "-A"])?;
    git(
        dir,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            &format!(
                "Generated project: {} modules, {} tests (seed {})",
                opts.files, opts.tests, opts.seed
            ),
        ],
    )?;
    let commit = git(dir, &["rev-parse", "HEAD"])?.trim().to_string();
    let time_git = start.elapsed();

    // 3. What each test executed, merged through impact's own library.
    let start = Instant::now();
    let (rec, facts) = gen_recording(&mut rng, opts, &modules, &suites, &commit);
    let line_bits_rows = rec.tests.values().map(|t| t.lines.len()).sum::<usize>()
        + rec.import_time.values().filter(|b| !b.is_empty()).count();
    let db = dir.join(".impact.db");
    let mut store = Store::open_or_create(&db)?;
    merge(&mut store, &rec)?;
    drop(store);
    let time_record = start.elapsed();
    let db_bytes = std::fs::metadata(&db)?.len();

    let generated = Generated {
        dir: dir.clone(),
        db,
        commit,
        tests: rec.tests.len(),
        files: modules.len(),
        line_bits_rows,
        db_bytes,
        core_module: facts.core_module,
        busy_line: facts.busy_line,
        busy_line_tests: facts.busy_line_tests,
        typical_module: facts.typical_module,
        typical_line: facts.typical_line,
        sample_test: facts.sample_test,
        time_sources,
        time_git,
        time_record,
    };
    write_env(&generated)?;
    Ok(generated)
}

/// Reads back what [`generate`] wrote to `DIR/.git/gen_large.env`.
pub fn read_env(dir: &Path) -> BoxResult<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join(".git/gen_large.env"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect())
}

fn write_env(g: &Generated) -> BoxResult<()> {
    let vars = [
        ("COMMIT", g.commit.clone()),
        ("TESTS", g.tests.to_string()),
        ("FILES", g.files.to_string()),
        ("LINE_BITS_ROWS", g.line_bits_rows.to_string()),
        ("CORE_MODULE", g.core_module.clone()),
        ("BUSY_LINE", g.busy_line.to_string()),
        ("BUSY_LINE_TESTS", g.busy_line_tests.to_string()),
        ("TYPICAL_MODULE", g.typical_module.clone()),
        ("TYPICAL_LINE", g.typical_line.to_string()),
        ("SAMPLE_TEST", g.sample_test.clone()),
    ];
    let mut text = String::new();
    for (k, v) in vars {
        // Values never contain a single quote (node ids here are generated).
        writeln!(text, "{k}='{v}'")?;
    }
    std::fs::write(g.dir.join(".git/gen_large.env"), text)?;
    Ok(())
}

fn write_file(root: &Path, rel: &str, content: &[u8]) -> BoxResult<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    Ok(())
}

/// Runs git with a fixed identity, dates and configuration; returns stdout.
fn git(dir: &Path, args: &[&str]) -> BoxResult<String> {
    let date = "2025-01-01T00:00:00Z";
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.autocrlf=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "gen_large")
        .env("GIT_AUTHOR_EMAIL", "gen_large@example.invalid")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_NAME", "gen_large")
        .env("GIT_COMMITTER_EMAIL", "gen_large@example.invalid")
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .map_err(|e| format!("failed to run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

// ---------------------------------------------------------------------------
// Randomness: SplitMix64, enough for this and free of dependencies.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); n > 0.
    fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform in [lo, hi].
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-12);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Samples ranks 0..n with probability proportional to 1 / (rank + 1)^s.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cdf = (0..n)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cdf }
    }

    /// A rank below `limit` (at most n).
    fn sample_below(&self, rng: &mut Rng, limit: usize) -> usize {
        let limit = limit.min(self.cdf.len());
        let x = rng.f64() * self.cdf[limit - 1];
        self.cdf[..limit]
            .partition_point(|&c| c <= x)
            .min(limit - 1)
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        self.sample_below(rng, self.cdf.len())
    }
}

// ---------------------------------------------------------------------------
// Python modules, with the structure of their executable lines.

/// A statement, or a compound statement and its bodies, by line number.
enum Block {
    Line(u32),
    Return(u32),
    If {
        line: u32,
        /// How often the condition holds: fixed per statement, so that most
        /// tests take the same common paths.
        p: f64,
        then: Vec<Block>,
        orelse: Vec<Block>,
    },
    Loop {
        line: u32,
        p: f64,
        body: Vec<Block>,
    },
    Try {
        line: u32,
        body: Vec<Block>,
        except: u32,
        p: f64,
        handler: Vec<Block>,
    },
}

struct Function {
    /// `name` or `Class.name`.
    qualname: String,
    body: Vec<Block>,
}

struct Module {
    path: String,
    /// `pkg.area` and `name`, for imports.
    package: String,
    name: String,
    source: String,
    import_time: Vec<u32>,
    functions: Vec<Function>,
    /// Indices of the generated modules it imports.
    imports: Vec<usize>,
}

const AREAS: &[&str] = &[
    "api",
    "auth",
    "billing",
    "cache",
    "catalog",
    "cli",
    "db",
    "events",
    "exports",
    "i18n",
    "integrations",
    "inventory",
    "metrics",
    "models",
    "notify",
    "orders",
    "reports",
    "search",
    "services",
    "shipping",
    "storage",
    "tasks",
    "users",
    "util",
    "web",
];

const CORE: &[&str] = &[
    "config",
    "errors",
    "registry",
    "types",
    "context",
    "settings",
    "logging_setup",
    "compat",
    "validation",
    "clock",
    "serialization",
    "ids",
];

const NOUNS: &[&str] = &[
    "account", "address", "adapter", "audit", "batch", "bundle", "cart", "channel", "client",
    "coupon", "currency", "customer", "discount", "document", "entry", "export", "feed", "filter",
    "gateway", "group", "handler", "invoice", "item", "job", "ledger", "limit", "listing",
    "loader", "mapper", "message", "order", "page", "parser", "payment", "policy", "price",
    "profile", "queue", "quota", "rate", "record", "refund", "report", "request", "rule",
    "schedule", "session", "shipment", "snapshot", "stock", "store", "tax", "template", "token",
    "transfer", "upload", "vendor", "webhook", "window", "worker",
];

const SUFFIXES: &[&str] = &[
    "api", "builder", "cache", "checks", "core", "factory", "forms", "helpers", "index", "io",
    "manager", "models", "ops", "queries", "rules", "schema", "service", "sync", "tools", "views",
];

const VERBS: &[&str] = &[
    "apply",
    "build",
    "check",
    "collect",
    "compute",
    "convert",
    "create",
    "decode",
    "encode",
    "ensure",
    "fetch",
    "filter",
    "find",
    "format",
    "handle",
    "load",
    "lookup",
    "make",
    "merge",
    "normalize",
    "parse",
    "prepare",
    "process",
    "refresh",
    "render",
    "resolve",
    "save",
    "scan",
    "select",
    "split",
    "store",
    "summarize",
    "update",
    "validate",
];

const OBJECTS: &[&str] = &[
    "amount", "batch", "config", "entries", "fields", "header", "items", "key", "limits", "lines",
    "options", "payload", "record", "request", "result", "rows", "state", "status", "summary",
    "token", "totals", "value", "values", "window",
];

const VARS: &[&str] = &[
    "result", "total", "count", "value", "items", "payload", "record", "data", "key", "state",
    "options", "buffer", "parts", "limit", "offset", "entry",
];

const CONDS: &[&str] = &[
    "{v} is None",
    "not {v}",
    "{v} > limit",
    "isinstance({v}, dict)",
    "len({v}) > 3",
    "key in _CACHE",
    "options.get(\"strict\")",
    "{v} == DEFAULT_MODE",
    "count % 2 == 0",
    "{v} and not state",
];

/// Writes numbered source lines, remembering which are executable.
struct Writer {
    text: String,
    lines: u32,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            text: String::new(),
            lines: 0,
        }
    }

    /// Appends one line at an indent level; returns its (1-based) number.
    fn line(&mut self, indent: usize, code: &str) -> u32 {
        for _ in 0..indent {
            self.text.push_str("    ");
        }
        self.text.push_str(code);
        self.text.push('\n');
        self.lines += 1;
        self.lines
    }

    fn blank(&mut self) {
        self.text.push('\n');
        self.lines += 1;
    }
}

fn gen_modules(rng: &mut Rng, files: usize) -> Vec<Module> {
    let mut names = HashSet::new();
    let mut modules: Vec<Module> = Vec::with_capacity(files);
    // Imports prefer popular (low-index) modules, and never point forward, so
    // that the import graph is a DAG like most real packages.
    let zipf = Zipf::new(files, 1.1);
    let core = (files / 100).clamp(2, CORE.len());
    for index in 0..files {
        let core_name = CORE.get(index).filter(|_| index < core);
        let (area, name) = if let Some(core_name) = core_name {
            ("core".to_string(), core_name.to_string())
        } else {
            let area = rng.pick(AREAS).to_string();
            let mut name = format!("{}_{}", rng.pick(NOUNS), rng.pick(SUFFIXES));
            while names.contains(&(area.clone(), name.clone())) {
                name = format!(
                    "{}_{}_{}",
                    rng.pick(NOUNS),
                    rng.pick(SUFFIXES),
                    rng.below(100)
                );
            }
            (area, name)
        };
        names.insert((area.clone(), name.clone()));
        let mut imports = BTreeSet::new();
        if index > 0 {
            let wanted = rng.range(1, 6).min(index);
            for _ in 0..wanted * 3 {
                if imports.len() >= wanted {
                    break;
                }
                let j = if rng.chance(0.6) {
                    zipf.sample_below(rng, index)
                } else {
                    index.saturating_sub(60) + rng.below(index.min(60))
                };
                imports.insert(j);
            }
        }
        let imports: Vec<usize> = imports.into_iter().collect();
        // Each import with the functions its module defines: calls name
        // those, as working code does.
        let import_names: Vec<Imported> = imports
            .iter()
            .map(|&j| Imported {
                package: modules[j].package.clone(),
                module: modules[j].name.clone(),
                functions: modules[j]
                    .functions
                    .iter()
                    .filter(|f| !f.qualname.contains('.'))
                    .map(|f| f.qualname.clone())
                    .collect(),
            })
            .collect();
        // Core modules are longer; most modules are 80-400 lines.
        let target = if index < core {
            rng.range(300, 400)
        } else {
            (80.0 + 320.0 * rng.f64().powf(1.6)) as usize
        };
        let package = format!("pkg.{area}");
        let mut m = gen_module(rng, &package, &name, &import_names, target as u32);
        m.imports = imports;
        modules.push(m);
    }
    modules
}

/// A module another one imports, and the functions it defines.
struct Imported {
    package: String,
    module: String,
    functions: Vec<String>,
}

fn gen_module(
    rng: &mut Rng,
    package: &str,
    name: &str,
    imports: &[Imported],
    target: u32,
) -> Module {
    let mut w = Writer::new();
    let mut import_time = Vec::new();
    let mut functions = Vec::new();
    let title = name.replace('_', " ");
    w.line(
        0,
        &format!("\"\"\"{title}: generated module for impact's benchmarks."),
    );
    w.blank();
    w.line(
        0,
        "Functions here call into the modules they import, as application code does.",
    );
    w.line(0, "\"\"\"");
    import_time.push(w.line(0, "from __future__ import annotations"));
    w.blank();
    for stdlib in [
        "import functools",
        "import logging",
        "import os",
        "from typing import Any",
    ] {
        import_time.push(w.line(0, stdlib));
    }
    w.blank();
    for i in imports {
        import_time.push(w.line(0, &format!("from {} import {}", i.package, i.module)));
    }
    w.blank();
    import_time.push(w.line(0, "LOG = logging.getLogger(__name__)"));
    import_time.push(w.line(0, &format!("DEFAULT_MODE = \"{}\"", rng.pick(OBJECTS))));
    import_time.push(w.line(0, &format!("DEFAULT_LIMIT = {}", rng.range(8, 512))));
    import_time.push(w.line(0, "_CACHE: dict[str, Any] = {}"));
    w.blank();

    let mut used = HashSet::new();
    let mut element = 0;
    while w.lines < target || functions.len() < 2 {
        w.blank();
        let kind = if element == 0 { 0.0 } else { rng.f64() };
        element += 1;
        if kind < 0.65 {
            let fname = fresh_name(rng, &mut used);
            if rng.chance(0.15) {
                import_time.push(w.line(0, "@functools.lru_cache(maxsize=128)"));
            }
            import_time.push(w.line(
                0,
                &format!("def {fname}(value, options=None, limit=DEFAULT_LIMIT):"),
            ));
            w.line(
                1,
                &format!(
                    "\"\"\"{} the {}.\"\"\"",
                    capitalize(&fname.replace('_', " ")),
                    rng.pick(OBJECTS)
                ),
            );
            let body = gen_body(rng, &mut w, 1, 0, imports, (4, 18));
            functions.push(Function {
                qualname: fname,
                body,
            });
            w.blank();
        } else if kind < 0.85 {
            let class = format!(
                "{}{}",
                capitalize(rng.pick(NOUNS)),
                capitalize(rng.pick(SUFFIXES))
            );
            if !used.insert(class.clone()) {
                continue;
            }
            import_time.push(w.line(0, &format!("class {class}:")));
            w.line(
                1,
                &format!("\"\"\"A {} of the {title} module.\"\"\"", rng.pick(NOUNS)),
            );
            w.blank();
            import_time.push(w.line(1, &format!("kind = \"{}\"", rng.pick(OBJECTS))));
            import_time.push(w.line(1, &format!("max_items = {}", rng.range(2, 200))));
            w.blank();
            import_time.push(w.line(1, "def __init__(self, value, options=None):"));
            let init = vec![
                Block::Line(w.line(2, "self.value = value")),
                Block::Line(w.line(2, "self.options = dict(options or {})")),
                Block::Line(w.line(2, "self._seen = []")),
            ];
            functions.push(Function {
                qualname: format!("{class}.__init__"),
                body: init,
            });
            for _ in 0..rng.range(1, 4) {
                w.blank();
                let mname = fresh_name(rng, &mut used);
                if rng.chance(0.2) {
                    import_time.push(w.line(1, "@property"));
                }
                import_time.push(w.line(1, &format!("def {mname}(self, limit=DEFAULT_LIMIT):")));
                let mut body = vec![Block::Line(w.line(2, "value = self.value"))];
                body.extend(gen_body(rng, &mut w, 2, 0, imports, (3, 12)));
                functions.push(Function {
                    qualname: format!("{class}.{mname}"),
                    body,
                });
            }
            w.blank();
        } else if kind < 0.93 {
            let constant = format!("{}_{}", rng.pick(OBJECTS), rng.pick(SUFFIXES)).to_uppercase();
            if !used.insert(constant.clone()) {
                continue;
            }
            import_time.push(w.line(0, &format!("{constant} = {{")));
            for _ in 0..rng.range(2, 8) {
                w.line(
                    1,
                    &format!("\"{}\": {},", rng.pick(OBJECTS), rng.range(0, 9999)),
                );
            }
            w.line(0, "}");
        } else {
            w.line(0, &format!("# --- {} ---", rng.pick(NOUNS)));
            w.line(
                0,
                &format!(
                    "# The helpers below {} {} before they reach storage.",
                    rng.pick(VERBS),
                    rng.pick(OBJECTS)
                ),
            );
        }
    }
    import_time.sort_unstable();
    Module {
        path: format!("{}/{name}.py", package.replace('.', "/")),
        package: package.to_string(),
        name: name.to_string(),
        source: w.text,
        import_time,
        functions,
        imports: Vec::new(),
    }
}

/// A function name not used yet in the module.
fn fresh_name(rng: &mut Rng, used: &mut HashSet<String>) -> String {
    loop {
        let n = format!("{}_{}", rng.pick(VERBS), rng.pick(OBJECTS));
        if used.insert(n.clone()) {
            return n;
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A function body of about `statements` statements; ends with a return at depth 0.
fn gen_body(
    rng: &mut Rng,
    w: &mut Writer,
    indent: usize,
    depth: usize,
    imports: &[Imported],
    (min, max): (usize, usize),
) -> Vec<Block> {
    let mut blocks = Vec::new();
    for _ in 0..rng.range(min, max) {
        let v = rng.pick(VARS);
        let r = rng.f64();
        if r < 0.30 {
            let expr = match rng.below(5) {
                0 => format!("{v} = value if value is not None else {}", rng.range(0, 99)),
                1 => format!(
                    "{v} = (options or {{}}).get(\"{}\", DEFAULT_MODE)",
                    rng.pick(OBJECTS)
                ),
                2 => format!(
                    "{v} = [x for x in range(limit) if x % {} == 0]",
                    rng.range(2, 7)
                ),
                3 => format!("{v} = str(value).strip().lower()"),
                _ => format!("{v} = _CACHE.get(str(value), {})", rng.range(0, 9)),
            };
            blocks.push(Block::Line(w.line(indent, &expr)));
        } else if r < 0.42 && !imports.is_empty() {
            let i = &imports[rng.below(imports.len())];
            let function = match i.functions.as_slice() {
                [] => format!("{}_{}", rng.pick(VERBS), rng.pick(OBJECTS)),
                fs => fs[rng.below(fs.len())].clone(),
            };
            let call = format!("{v} = {}.{function}(value, options)", i.module);
            blocks.push(Block::Line(w.line(indent, &call)));
        } else if r < 0.48 {
            // A multi-line statement: only its first line is executable.
            let first = w.line(indent, &format!("{v} = dict("));
            let first_key = rng.below(OBJECTS.len());
            for k in 0..rng.range(2, 4) {
                let key = OBJECTS[(first_key + k) % OBJECTS.len()];
                w.line(indent + 1, &format!("{key}={},", rng.pick(VARS)));
            }
            w.line(indent, ")");
            blocks.push(Block::Line(first));
        } else if r < 0.53 {
            w.line(
                indent,
                &format!("# {} {} first", rng.pick(VERBS), rng.pick(OBJECTS)),
            );
        } else if r < 0.58 {
            let msg = format!("LOG.debug(\"{} %s\", {v})", rng.pick(VERBS));
            blocks.push(Block::Line(w.line(indent, &msg)));
        } else if r < 0.76 && depth < 2 {
            let cond = rng.pick(CONDS).replace("{v}", v);
            let line = w.line(indent, &format!("if {cond}:"));
            let p = branch_probability(rng);
            let then = if rng.chance(0.3) {
                vec![Block::Return(w.line(indent + 1, &format!("return {v}")))]
            } else {
                gen_body(rng, w, indent + 1, depth + 1, imports, (1, 3))
            };
            let orelse = if rng.chance(0.4) {
                w.line(indent, "else:");
                gen_body(rng, w, indent + 1, depth + 1, imports, (1, 3))
            } else {
                Vec::new()
            };
            blocks.push(Block::If {
                line,
                p,
                then,
                orelse,
            });
        } else if r < 0.86 && depth < 2 {
            let line = w.line(indent, &format!("for item in {v} or ():"));
            let body = gen_body(rng, w, indent + 1, depth + 1, imports, (1, 3));
            blocks.push(Block::Loop {
                line,
                p: 0.5 + 0.5 * rng.f64(),
                body,
            });
        } else if r < 0.93 && depth < 2 {
            let line = w.line(indent, "try:");
            let body = gen_body(rng, w, indent + 1, depth + 1, imports, (1, 3));
            let except = w.line(indent, "except (KeyError, ValueError) as exc:");
            let handler = vec![
                Block::Line(w.line(indent + 1, "LOG.warning(\"failed: %s\", exc)")),
                Block::Return(w.line(indent + 1, "return None")),
            ];
            blocks.push(Block::Try {
                line,
                body,
                except,
                p: 0.02 + 0.2 * rng.f64(),
                handler,
            });
        } else {
            let line = match rng.below(3) {
                0 => "count += 1".to_string(),
                1 => format!("total += len({v} or ())"),
                _ => format!("_CACHE[str(value)] = {v}"),
            };
            blocks.push(Block::Line(w.line(indent, &line)));
        }
    }
    if blocks.is_empty() {
        blocks.push(Block::Line(w.line(indent, "pass")));
    }
    if depth == 0 {
        blocks.push(Block::Return(
            w.line(indent, &format!("return {}", rng.pick(VARS))),
        ));
    }
    blocks
}

/// Branches are mostly lopsided: the common path is common.
fn branch_probability(rng: &mut Rng) -> f64 {
    match rng.below(3) {
        0 => 0.05 + 0.15 * rng.f64(),
        1 => 0.8 + 0.15 * rng.f64(),
        _ => 0.2 + 0.6 * rng.f64(),
    }
}

/// Appends the lines one call executes; returns whether it returned.
fn execute(rng: &mut Rng, blocks: &[Block], out: &mut Vec<u32>) -> bool {
    for b in blocks {
        match b {
            Block::Line(n) => out.push(*n),
            Block::Return(n) => {
                out.push(*n);
                return true;
            }
            Block::If {
                line,
                p,
                then,
                orelse,
            } => {
                out.push(*line);
                let taken = if rng.chance(*p) { then } else { orelse };
                if execute(rng, taken, out) {
                    return true;
                }
            }
            Block::Loop { line, p, body } => {
                out.push(*line);
                if rng.chance(*p) && execute(rng, body, out) {
                    return true;
                }
            }
            Block::Try {
                line,
                body,
                except,
                p,
                handler,
            } => {
                out.push(*line);
                if rng.chance(*p) {
                    let part = rng.below(body.len() + 1);
                    if execute(rng, &body[..part], out) {
                        return true;
                    }
                    out.push(*except);
                    if execute(rng, handler, out) {
                        return true;
                    }
                } else if execute(rng, body, out) {
                    return true;
                }
            }
        }
    }
    false
}

// ---------------------------------------------------------------------------
// Test files.

struct Test {
    nodeid: String,
    /// The module under test.
    target: usize,
    /// Functions of the target the test calls.
    calls: Vec<usize>,
    /// Lines of its own test file it runs (its function, as `impact run`
    /// measures test files too).
    own_lines: Vec<u32>,
}

struct Suite {
    path: String,
    source: String,
    tests: Vec<Test>,
}

/// The non-blank lines of `src` written after byte `from`, 1-based.
fn chunk_lines(src: &str, from: usize) -> Vec<u32> {
    let first = src[..from].matches('\n').count() as u32 + 1;
    src[from..]
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| first + i as u32)
        .collect()
}

/// The lines of a test file that run when pytest imports it: module-level
/// statements, and method definitions in classes.
fn import_lines(src: &str) -> Vec<u32> {
    src.split('\n')
        .enumerate()
        .filter(|(_, l)| (!l.is_empty() && !l.starts_with(' ')) || l.starts_with("    def "))
        .map(|(i, _)| i as u32 + 1)
        .collect()
}

fn gen_suites(rng: &mut Rng, modules: &[Module], total: usize) -> Vec<Suite> {
    let files = total.div_ceil(10).max(1);
    let width = files.to_string().len().max(3);
    let mut suites = Vec::new();
    let mut made = 0;
    let mut index = 0;
    while made < total {
        // Spread the suites over the modules; after the first pass, further
        // suites cover modules again (integration-style tests).
        let target = (index * 7919) % modules.len();
        let m = &modules[target];
        let count = rng.range(1, 19).min(total - made);
        let path = format!("tests/test_{index:0width$}.py");
        let mut src = format!(
            "\"\"\"Tests for {pkg}.{name}.\"\"\"\n\nimport pytest\n\nfrom {pkg} import {name}\n",
            pkg = m.package,
            name = m.name
        );
        let mut tests = Vec::new();
        let mut n = 0;
        while tests.len() < count {
            let f = rng.below(m.functions.len());
            let func = &m.functions[f];
            let simple = func.qualname.replace('.', "_").to_lowercase();
            let calls: Vec<usize> = std::iter::once(f)
                .chain((0..rng.range(0, 4)).map(|_| rng.below(m.functions.len())))
                .collect();
            let call = match func.qualname.split_once('.') {
                Some((class, "__init__")) => format!("{}.{class}(1)", m.name),
                Some((class, method)) => format!("{}.{class}(1).{method}()", m.name),
                None => format!("{}.{}(1)", m.name, func.qualname),
            };
            let r = rng.f64();
            let before = src.len();
            if r < 0.2 && count - tests.len() >= 2 {
                let params = rng.range(2, 5).min(count - tests.len());
                let values: Vec<String> = (0..params).map(|i| format!("case{i}")).collect();
                let _ = write!(
                    src,
                    "\n\n@pytest.mark.parametrize(\"case\", {values:?})\n\
                     def test_{simple}_{n}(case):\n    assert {call} is not None or case\n"
                );
                for v in &values {
                    tests.push(Test {
                        nodeid: format!("{path}::test_{simple}_{n}[{v}]"),
                        target,
                        calls: calls.clone(),
                        own_lines: chunk_lines(&src, before),
                    });
                }
            } else if r < 0.35 {
                let class = format!("Test{}", capitalize(&m.name.replace('_', "")));
                let _ = write!(
                    src,
                    "\n\nclass {class}{n}:\n    def test_{simple}(self):\n        \
                     assert {call} is not None\n"
                );
                tests.push(Test {
                    nodeid: format!("{path}::{class}{n}::test_{simple}"),
                    target,
                    calls,
                    own_lines: chunk_lines(&src, before),
                });
            } else {
                let _ = write!(
                    src,
                    "\n\ndef test_{simple}_{n}():\n    result = {call}\n    assert result is not None\n"
                );
                tests.push(Test {
                    nodeid: format!("{path}::test_{simple}_{n}"),
                    target,
                    calls,
                    own_lines: chunk_lines(&src, before),
                });
            }
            n += 1;
        }
        made += tests.len();
        suites.push(Suite {
            path,
            source: src,
            tests,
        });
        index += 1;
    }
    suites
}

// ---------------------------------------------------------------------------
// The recording.

struct Facts {
    core_module: String,
    busy_line: u32,
    busy_line_tests: usize,
    typical_module: String,
    typical_line: u32,
    sample_test: String,
}

fn gen_recording(
    rng: &mut Rng,
    opts: &Options,
    modules: &[Module],
    suites: &[Suite],
    commit: &str,
) -> (Recording, Facts) {
    let mut rec = Recording {
        kind: "import",
        command: format!(
            "impact import .coverage  # gen_large --tests {} --files {} --seed {}",
            opts.tests, opts.files, opts.seed
        ),
        started_at: format_rfc3339(1_735_693_200),
        commit: Some(commit.to_string()),
        ..Default::default()
    };
    for m in modules {
        rec.sources
            .insert(m.path.clone(), m.source.as_bytes().to_vec());
        rec.import_time.insert(
            m.path.clone(),
            numbits::encode(m.import_time.iter().copied()),
        );
    }
    // Test files are measured too, as `impact run` records them.
    for suite in suites {
        rec.sources
            .insert(suite.path.clone(), suite.source.as_bytes().to_vec());
        rec.import_time.insert(
            suite.path.clone(),
            numbits::encode(import_lines(&suite.source)),
        );
    }
    // Which modules a test touches besides its target: popular ones (a Zipf
    // law over the module index, which is also how imports were drawn) and
    // what its target imports.
    let zipf = Zipf::new(modules.len(), 1.0);
    let entry_points: Vec<Zipf> = modules
        .iter()
        .map(|m| Zipf::new(m.functions.len(), 1.3))
        .collect();
    // Tests per line, for the most popular modules.
    let tracked = modules.len().min(50);
    let mut per_line: Vec<Vec<usize>> = modules[..tracked]
        .iter()
        .map(|m| vec![0; m.source.lines().count() + 2])
        .collect();
    let mut touched_by = vec![0usize; modules.len()];
    let mut sizes = Vec::new();
    let mut lines = Vec::new();
    for test in suites.iter().flat_map(|s| &s.tests) {
        // About 33 files on average, lognormal-ish, at most all of them.
        let want = ((3.33 + 0.6 * rng.normal()).exp().round() as usize).clamp(2, 200);
        let want = want.min(modules.len());
        let mut files = BTreeSet::from([test.target]);
        let mut frontier = vec![test.target];
        while files.len() < want / 2 + 1 && !frontier.is_empty() {
            let next = frontier.swap_remove(rng.below(frontier.len()));
            for &j in &modules[next].imports {
                if files.len() <= want / 2 && rng.chance(0.7) && files.insert(j) {
                    frontier.push(j);
                }
            }
        }
        let mut attempts = 0;
        while files.len() < want && attempts < want * 20 {
            files.insert(zipf.sample(rng));
            attempts += 1;
        }
        let mut record = TestRecord {
            outcome: Some("passed".to_string()),
            duration: Some(duration(rng)),
            // As `impact run` records it: no test starts other programs.
            spawns: Some(false),
            ..Default::default()
        };
        for &f in &files {
            let m = &modules[f];
            lines.clear();
            if f == test.target {
                for &c in &test.calls {
                    execute(rng, &m.functions[c].body, &mut lines);
                }
            } else {
                // Popular entry points first: callers use a few functions of
                // a module, the same few.
                for _ in 0..rng.range(1, 3) {
                    let func = entry_points[f].sample(rng);
                    execute(rng, &m.functions[func].body, &mut lines);
                }
            }
            lines.sort_unstable();
            lines.dedup();
            if lines.is_empty() {
                continue;
            }
            touched_by[f] += 1;
            if let Some(counts) = per_line.get_mut(f) {
                for &n in &lines {
                    counts[n as usize] += 1;
                }
            }
            record
                .lines
                .insert(m.path.clone(), numbits::encode(lines.iter().copied()));
        }
        let suite_path = test.nodeid.split("::").next().unwrap_or_default();
        record.lines.insert(
            suite_path.to_string(),
            numbits::encode(test.own_lines.iter().copied()),
        );
        sizes.push((record.lines.len(), test.nodeid.clone()));
        rec.tests.insert(test.nodeid.clone(), record);
    }

    let core = (0..tracked)
        .max_by_key(|&f| (touched_by[f], std::cmp::Reverse(f)))
        .unwrap_or(0);
    let (busy_line, busy_line_tests) = per_line[core]
        .iter()
        .enumerate()
        .max_by_key(|&(n, &count)| (count, std::cmp::Reverse(n)))
        .map(|(n, &c)| (n as u32, c))
        .unwrap_or((1, 0));
    let mut by_popularity: Vec<usize> = (0..modules.len()).collect();
    by_popularity.sort_by_key(|&f| (std::cmp::Reverse(touched_by[f]), f));
    let typical = by_popularity[by_popularity.len() / 2];
    let typical_path = &modules[typical].path;
    // A line of it that some test executed.
    let typical_line = rec
        .tests
        .values()
        .find_map(|t| t.lines.get(typical_path))
        .and_then(|bits| numbits::decode(bits).first().copied())
        .unwrap_or(1);
    let mean = sizes.iter().map(|s| s.0).sum::<usize>() / sizes.len().max(1);
    let sample_test = sizes
        .iter()
        .min_by_key(|(n, id)| (n.abs_diff(mean), id.clone()))
        .map(|s| s.1.clone())
        .unwrap_or_default();
    let facts = Facts {
        core_module: modules[core].path.clone(),
        busy_line,
        busy_line_tests,
        typical_module: typical_path.clone(),
        typical_line,
        sample_test,
    };
    (rec, facts)
}

/// Test durations: lognormal around 20 ms, between 1 ms and 2 s.
fn duration(rng: &mut Rng) -> f64 {
    let secs = (0.02f64.ln() + 1.3 * rng.normal()).exp().clamp(0.001, 2.0);
    (secs * 1e6).round() / 1e6
}
