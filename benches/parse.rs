//! Parsing Python for selection: one full parse, and a baseline/current pair
//! (the second parsed incrementally), on a generated module of the large data
//! set's shape.
//!
//! `cargo bench --bench parse`; `IMPACT_BENCH_FILE=path.py` parses that file
//! instead.

use impact::python;

fn main() {
    divan::main();
}

fn source() -> Vec<u8> {
    match std::env::var_os("IMPACT_BENCH_FILE") {
        Some(p) => std::fs::read(p).expect("IMPACT_BENCH_FILE is readable"),
        None => include_bytes!("../fixtures/sample/shop/pricing.py").to_vec(),
    }
}

/// The source with its first `return x` turned into `return (x)`, the edit
/// `benches/select.sh` makes.
fn edited(src: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(src);
    let mut done = false;
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let t = l.trim_start();
            if !done && t.starts_with("return ") && l.len() > t.len() {
                done = true;
                let indent = &l[..l.len() - t.len()];
                format!("{indent}return ({})", &t[7..])
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.join("\n").into_bytes()
}

#[divan::bench]
fn parse(b: divan::Bencher) {
    let src = source();
    b.bench(|| python::parse(divan::black_box(&src)));
}

#[divan::bench]
fn parse_pair(b: divan::Bencher) {
    let src = source();
    let new = edited(&src);
    b.bench(|| python::parse_pair(divan::black_box(&src), divan::black_box(&new)));
}

#[divan::bench]
fn tree_sitter_only(b: divan::Bencher) {
    let src = source();
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .unwrap();
    b.bench_local(|| parser.parse(divan::black_box(&src), None));
}

/// The pair as `impact select` parses it: only the regions the edit touches,
/// with the baseline's outline.
#[divan::bench]
fn parse_pair_in_regions(b: divan::Bencher) {
    let src = source();
    let new = edited(&src);
    let outline = python::Outline::of(&python::parse(&src)).expect("no syntax errors");
    let hunks = match impact::git::diff_lines(&src, &new) {
        impact::git::LineDiff::Text(h) => h,
        impact::git::LineDiff::Binary => panic!("text"),
    };
    b.bench(|| {
        python::parse_pair_in_regions(divan::black_box(&src), &new, &outline, &hunks)
            .expect("regions apply")
    });
}

/// The reported hunks of the edit: one run of lines that cannot slide, which
/// `git::diff_lines` diffs without libgit2.
#[divan::bench]
fn diff_one_edit(b: divan::Bencher) {
    let src = source();
    let new = edited(&src);
    b.bench(|| impact::git::diff_lines(divan::black_box(&src), divan::black_box(&new)));
}

/// A copy of the edited line inserted after it: the run may slide, so
/// libgit2 diffs the pair (hashing both texts first), as every edit was.
#[divan::bench]
fn diff_sliding_edit(b: divan::Bencher) {
    let src = source();
    let text = String::from_utf8_lossy(&src).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("return "))
        .expect("a return line")
        .to_string();
    let new = text
        .replacen(&format!("{line}\n"), &format!("{line}\n{line}\n"), 1)
        .into_bytes();
    b.bench(|| impact::git::diff_lines(divan::black_box(&src), divan::black_box(&new)));
}

/// Comments stripped, as both sides of every changed Python file are.
#[divan::bench]
fn strip_comments(b: divan::Bencher) {
    let src = source();
    b.bench(|| python::tokens::strip_comments(divan::black_box(&src)));
}
