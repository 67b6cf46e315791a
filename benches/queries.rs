//! The data file's read queries, on generated data.
//!
//! `cargo bench --bench queries` generates 3,000 tests over 300 files into a
//! temporary directory once per process. To run against another generated
//! project (for instance the full 30,000 x 3,000 set that
//! `benches/commands.sh` makes), point `IMPACT_BENCH_DATA` at its directory:
//!
//! ```sh
//! IMPACT_BENCH_DATA=target/bench-large cargo bench --bench queries
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use divan::Bencher;
use impact::numbits;
use impact::store::Store;

#[allow(dead_code)]
#[path = "../examples/gen_large.rs"]
mod gen_large;

fn main() {
    let data = data();
    eprintln!(
        "data: {} ({} tests, {} files, {} line_bits rows; core module {} line {}, \
         typical module {} line {})",
        data.dir.display(),
        data.facts["TESTS"],
        data.facts["FILES"],
        data.facts["LINE_BITS_ROWS"],
        data.core_module,
        data.busy_line,
        data.typical_module,
        data.typical_line,
    );
    divan::main();
}

struct Data {
    dir: PathBuf,
    facts: BTreeMap<String, String>,
    core_module: String,
    busy_line: u32,
    typical_module: String,
    typical_line: u32,
    sample_test: String,
    /// Keeps the generated project alive for the whole process.
    _temp: Option<tempfile::TempDir>,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let (dir, temp) = match std::env::var_os("IMPACT_BENCH_DATA") {
            Some(dir) => (PathBuf::from(dir), None),
            None => {
                let temp = tempfile::tempdir().expect("a temporary directory");
                let dir = temp.path().join("project");
                let opts = gen_large::Options {
                    dir: dir.clone(),
                    tests: 3_000,
                    files: 300,
                    seed: 1,
                };
                gen_large::generate(&opts).expect("generating the data");
                (dir, Some(temp))
            }
        };
        let facts = gen_large::read_env(&dir).unwrap_or_else(|e| {
            panic!(
                "{} lacks .git/gen_large.env ({e}); IMPACT_BENCH_DATA must name a \
                 directory made by `cargo run --release --example gen_large -- DIR`",
                dir.display()
            )
        });
        let num = |k: &str| facts[k].parse::<u32>().expect("a number");
        Data {
            core_module: facts["CORE_MODULE"].clone(),
            busy_line: num("BUSY_LINE"),
            typical_module: facts["TYPICAL_MODULE"].clone(),
            typical_line: num("TYPICAL_LINE"),
            sample_test: facts["SAMPLE_TEST"].clone(),
            dir,
            facts,
            _temp: temp,
        }
    })
}

fn open() -> Store {
    Store::open(&data().dir.join(".impact.db"))
        .expect("opening the data file")
        .expect("the data file exists")
}

fn file_id(store: &Store, path: &str) -> i64 {
    store
        .file_id(path)
        .expect("reading")
        .unwrap_or_else(|| panic!("{path} is not in the data"))
}

/// `impact who CORE:LINE`: the busiest line of the most-touched module.
#[divan::bench]
fn tests_touching_core_one_line(bencher: Bencher) {
    let store = open();
    let d = data();
    let id = file_id(&store, &d.core_module);
    let query = numbits::encode([d.busy_line]);
    assert!(!store.tests_touching(id, &query).unwrap().is_empty());
    bencher.bench_local(|| store.tests_touching(id, &query).unwrap());
}

/// `impact who CORE:FIRST-LAST`: 20 lines from the busiest one.
#[divan::bench]
fn tests_touching_core_20_lines(bencher: Bencher) {
    let store = open();
    let d = data();
    let id = file_id(&store, &d.core_module);
    let query = numbits::encode(d.busy_line..d.busy_line + 20);
    bencher.bench_local(|| store.tests_touching(id, &query).unwrap());
}

/// `impact who CORE`: every line of the most-touched module.
#[divan::bench]
fn tests_touching_core_whole_file(bencher: Bencher) {
    let store = open();
    let d = data();
    let id = file_id(&store, &d.core_module);
    let query = numbits::encode(0..=5_000);
    bencher.bench_local(|| store.tests_touching(id, &query).unwrap());
}

/// `impact who TYPICAL:LINE`: a line of a module of median popularity.
#[divan::bench]
fn tests_touching_typical_one_line(bencher: Bencher) {
    let store = open();
    let d = data();
    let id = file_id(&store, &d.typical_module);
    let query = numbits::encode([d.typical_line]);
    bencher.bench_local(|| store.tests_touching(id, &query).unwrap());
}

/// `impact who TYPICAL:FIRST-LAST`.
#[divan::bench]
fn tests_touching_typical_20_lines(bencher: Bencher) {
    let store = open();
    let d = data();
    let id = file_id(&store, &d.typical_module);
    let query = numbits::encode(d.typical_line..d.typical_line + 20);
    bencher.bench_local(|| store.tests_touching(id, &query).unwrap());
}

/// `impact show TEST`: the files and lines of a test of average size.
#[divan::bench]
fn context_lines_test(bencher: Bencher) {
    let store = open();
    let test = &data().sample_test;
    assert!(!store.context_lines(test).unwrap().is_empty());
    bencher.bench_local(|| store.context_lines(test).unwrap());
}

/// The import-time lines (the empty context) of every file.
#[divan::bench]
fn context_lines_import_time(bencher: Bencher) {
    let store = open();
    bencher.bench_local(|| store.context_lines("").unwrap());
}

/// `Store::summary`: every reading command calls it once, to check that the
/// data holds a run.
#[divan::bench]
fn summary(bencher: Bencher) {
    let store = open();
    bencher.bench_local(|| store.summary().unwrap());
}

/// Opening and validating the data file, as every command does.
#[divan::bench]
fn open_store(bencher: Bencher) {
    let _ = data();
    bencher.bench_local(open);
}

/// Every known test, as selection loads them first.
#[divan::bench]
fn all_tests(bencher: Bencher) {
    let store = open();
    bencher.bench_local(|| store.tests().expect("tests"));
}

/// Every baseline's blob id by path, as change detection reads them.
#[divan::bench]
fn baselines(bencher: Bencher) {
    let store = open();
    bencher.bench_local(|| store.baselines().expect("baselines"));
}
