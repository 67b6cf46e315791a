//! Static lookups in the test side of the project: test files and the
//! conftest.py files above them, read from the target.
//!
//! Test files are often not measured (`--cov=src` leaves `tests/` out), and
//! even when they are, a test's def line, parameters (the fixtures it
//! requests) and decorators run at collection, outside the test. So when a
//! name changes, the test files are searched for it: a test function that
//! names it is selected; a fixture or helper that names it passes the change
//! on under its own name.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::git::{Entry, Repo, Target};
use crate::numbits;
use crate::python::{self, DefKind, Module, Scope, StmtKind};
use crate::store::Store;

use super::analyze::dir_of;
use crate::python::pytest::is_conftest;
use crate::python::tokens::{is_ident_byte, parse_stored, scan, word_lines};

/// What a mention of a name in a test-side file means.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hit {
    /// Tests with this node-id prefix (a test function, or a test class).
    Tests(String),
    /// Every test in this file.
    File(String),
    /// Every test under this directory ("" = all).
    Dir(String),
    /// A fixture or helper mentions it: the change travels under its name,
    /// which `file` (the test-side file it is in) binds.
    Name { name: String, file: String },
}

struct Parsed {
    module: Module,
    /// def id -> test id ("test_x", "TestK::test_y").
    tests: BTreeMap<usize, String>,
    /// How the file binds its names, and its module: for telling what a
    /// mention denotes.
    bindings: Option<(python::Bindings, String)>,
}

/// Test files and conftests, read and parsed on demand.
pub struct TestSide {
    /// The work tree, when that is the target: files with stored tokens are
    /// read from it only when needed.
    root: Option<std::path::PathBuf>,
    files: Vec<String>,
    contents: BTreeMap<String, Option<String>>,
    /// Stored string tokens of files whose content is the recorded one (not
    /// read unless needed); see migration 8.
    stored: BTreeMap<String, String>,
    /// Those files' blob ids, and the data file, where their content is
    /// stored too: reading every file at once reads it from there.
    recorded: BTreeMap<String, String>,
    db: std::path::PathBuf,
    /// Every file whose content is the recorded one, with its blob id: where
    /// its words are stored, they are looked up instead of read.
    blobs: BTreeMap<String, String>,
    parsed: BTreeMap<String, Parsed>,
    /// Built on first use: where each word, and each token inside a string
    /// literal, occurs (file index, line). One pass over the test side
    /// instead of one per searched name.
    index: Option<Index>,
    /// Blob id -> the files (indices) with that content, for the files
    /// whose words are stored instead (set with `index`).
    words_stored: Option<std::collections::HashMap<String, Vec<u32>>>,
    quoted_index: Option<Index>,
}

#[derive(Default)]
struct Index {
    words: std::collections::HashMap<String, Vec<(u32, u32)>>,
    quoted: std::collections::HashMap<String, Vec<(u32, u32)>>,
}

impl Index {
    /// Indexes words (`quoted == false`) or tokens inside string literals,
    /// over every file that has a text or (quoted only) stored tokens, but
    /// those `skip` names.
    fn build(
        files: &[String],
        contents: &BTreeMap<String, Option<String>>,
        stored: &BTreeMap<String, String>,
        quoted: bool,
        skip: impl Fn(&str) -> bool,
    ) -> Index {
        let mut index = Index::default();
        for (fi, file) in files.iter().enumerate() {
            if skip(file) {
                continue;
            }
            let map = if quoted {
                &mut index.quoted
            } else {
                &mut index.words
            };
            if quoted && let Some(tokens) = stored.get(file) {
                for (line, token) in parse_stored(tokens) {
                    push(map, token, (fi as u32, line));
                }
                continue;
            }
            let Some(Some(text)) = contents.get(file) else {
                continue;
            };
            scan(text, quoted, |token, line| {
                push(map, token, (fi as u32, line))
            });
        }
        index
    }
}

/// A work-tree file's text, when it is a readable file.
fn read_text(root: &std::path::Path, file: &str) -> Option<String> {
    std::fs::read(root.join(file))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn push(map: &mut std::collections::HashMap<String, Vec<(u32, u32)>>, key: &str, at: (u32, u32)) {
    // Most words recur: look up before allocating a key.
    match map.get_mut(key) {
        Some(v) => {
            if v.last() != Some(&at) {
                v.push(at);
            }
        }
        None => {
            map.insert(key.to_string(), vec![at]);
        }
    }
}

impl TestSide {
    /// The files of the known tests (`test_files`: the part of their ids
    /// before `::`), and the conftest.py files that may apply to them.
    /// `tokens`: the stored string tokens of recorded test-side contents,
    /// by blob id, when already read (else they are read from `store`).
    pub fn new<'t>(
        repo: &Repo,
        target: &Target,
        test_files: impl Iterator<Item = &'t str>,
        store: &Store,
        tokens: Option<&BTreeMap<String, String>>,
        unchanged: &BTreeMap<String, String>,
    ) -> Result<TestSide> {
        let mut files = BTreeSet::new();
        let mut dirs = BTreeSet::new();
        for file in test_files.filter(|f| f.ends_with(".py")) {
            files.insert(file.to_string());
            let mut dir = dir_of(file);
            // Each directory's conftest once, up to the root.
            while dirs.insert(dir.clone()) {
                files.insert(if dir.is_empty() {
                    "conftest.py".to_string()
                } else {
                    format!("{dir}/conftest.py")
                });
                if dir.is_empty() {
                    break;
                }
                dir = dir_of(&dir);
            }
        }
        let work_tree = matches!(target, Target::WorkTree);
        // Files as recorded: their string tokens were stored at record time.
        let mut stored = BTreeMap::new();
        if work_tree {
            let read;
            let tokens = match tokens {
                Some(t) => t,
                None => {
                    let blobs: Vec<&str> = files
                        .iter()
                        .filter_map(|f| unchanged.get(f).map(String::as_str))
                        .collect();
                    read = store.quoted(&blobs)?;
                    &read
                }
            };
            for f in &files {
                if let Some(t) = unchanged.get(f).and_then(|b| tokens.get(b)) {
                    stored.insert(f.clone(), t.clone());
                }
            }
        }
        let mut contents = BTreeMap::new();
        for f in files.iter().filter(|f| !stored.contains_key(*f)) {
            // The work tree is read directly: thousands of test files, and
            // a missing one (conftest candidates) is common.
            if work_tree {
                contents.insert(f.clone(), read_text(repo.root(), f));
                continue;
            }
            let text = match repo.read(target, f)? {
                Some(Entry::File { content, .. }) => {
                    Some(String::from_utf8_lossy(&content).into_owned())
                }
                _ => None,
            };
            contents.insert(f.clone(), text);
        }
        let recorded = stored
            .keys()
            .filter_map(|f| unchanged.get(f).map(|b| (f.clone(), b.clone())))
            .collect();
        let blobs = files
            .iter()
            .filter_map(|f| unchanged.get(f).map(|b| (f.clone(), b.clone())))
            .collect();
        Ok(TestSide {
            root: work_tree.then(|| repo.root().to_owned()),
            files: files.into_iter().collect(),
            contents,
            stored,
            recorded,
            db: store.path().to_owned(),
            blobs,
            parsed: BTreeMap::new(),
            index: None,
            words_stored: None,
            quoted_index: None,
        })
    }

    /// Reads a file whose stored tokens stood in for it.
    fn load(&mut self, file: &str) {
        if self.contents.contains_key(file) {
            return;
        }
        let text = self.root.as_deref().and_then(|root| read_text(root, file));
        self.contents.insert(file.to_string(), text);
    }

    /// Reads every file: searches other than string tokens need the texts.
    /// Those whose content is the recorded one come from the data file, in
    /// one read transaction instead of thousands of opens (the same bytes:
    /// their blob ids are the recorded ones); the rest from the target.
    fn load_all(&mut self) {
        let wanted: Vec<(String, String)> = self
            .recorded
            .iter()
            .filter(|(f, _)| !self.contents.contains_key(*f))
            .map(|(f, b)| (f.clone(), b.clone()))
            .collect();
        if !wanted.is_empty()
            && let Ok(reader) = Store::open_reader(&self.db)
        {
            for (file, blob) in wanted {
                if let Ok(Some(content)) = reader.source(&blob) {
                    let text = String::from_utf8_lossy(&content).into_owned();
                    self.contents.insert(file, Some(text));
                }
            }
        }
        for file in self.files.clone() {
            self.load(&file);
        }
    }

    /// Where test-side files mention `needle` (as a whole word or dotted name).
    pub fn find(&mut self, store: &Store, needle: &str) -> Result<Vec<Hit>> {
        let mut hits: Vec<Hit> = self
            .find_denoting(store, needle)?
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        hits.sort();
        hits.dedup();
        Ok(hits)
    }

    /// Like [`TestSide::find`], each hit with what the mention there denotes
    /// when the file's bindings tell ("pkg.mod.name"; see
    /// [`crate::python::facts::target_in`]), one entry per mention.
    pub fn find_denoting(
        &mut self,
        store: &Store,
        needle: &str,
    ) -> Result<Vec<(Hit, Option<String>)>> {
        if !needle.bytes().all(is_ident_byte) {
            return Ok(self
                .search(|text| word_lines(text, needle))
                .into_iter()
                .map(|h| (h, None))
                .collect());
        }
        let mut places = self
            .index(store)?
            .words
            .get(needle)
            .cloned()
            .unwrap_or_default();
        if let Some(by_blob) = &self.words_stored {
            for (blob, bits) in store.side_word(needle)? {
                for &fi in by_blob.get(&blob).into_iter().flatten() {
                    places.extend(numbits::decode(&bits).into_iter().map(|l| (fi, l)));
                }
            }
            places.sort_unstable();
            places.dedup();
        }
        self.parse_ahead(places.iter().map(|&(fi, _)| fi));
        let mut out = Vec::new();
        for &(fi, line) in &places {
            let Some((file, parsed)) = self.parsed_at(fi) else {
                continue;
            };
            let target = match (&parsed.bindings, parsed.module.statement_at(line)) {
                (Some((b, module)), Some(st)) => {
                    crate::python::facts::target_in(st, needle, b, module)
                }
                _ => None,
            };
            let mut hits = BTreeSet::new();
            classify(&file, parsed, line, &mut hits);
            out.extend(hits.into_iter().map(|h| (h, target.clone())));
        }
        Ok(out)
    }

    /// Reads and parses the files among `fis` not parsed yet, spread over
    /// the cores: a common name is mentioned in hundreds of test files.
    fn parse_ahead(&mut self, fis: impl Iterator<Item = u32>) {
        let mut todo: Vec<String> = Vec::new();
        for fi in fis {
            let file = &self.files[fi as usize];
            if !self.parsed.contains_key(file) {
                todo.push(file.clone());
            }
        }
        todo.sort();
        todo.dedup();
        if todo.len() < 8 {
            return;
        }
        for file in &todo {
            self.load(file);
        }
        let work: Vec<(&String, &String)> = todo
            .iter()
            .filter_map(|f| match self.contents.get(f) {
                Some(Some(text)) => Some((f, text)),
                _ => None,
            })
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let chunk = work.len().div_ceil(threads);
        let parsed: Vec<(String, Parsed)> = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .chunks(chunk.max(1))
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(f, text)| ((*f).clone(), parse(f, text)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        self.parsed.extend(parsed);
    }

    /// The `fi`th file, read and parsed (once); `None` when it cannot be read.
    fn parsed_at(&mut self, fi: u32) -> Option<(String, &Parsed)> {
        let file = self.files[fi as usize].clone();
        self.load(&file);
        let Some(Some(text)) = self.contents.get(&file) else {
            return None;
        };
        let parsed = self
            .parsed
            .entry(file.clone())
            .or_insert_with(|| parse(&file, text));
        Some((file, parsed))
    }

    /// Where test-side files mention `needle` inside a string literal on a line
    /// (a module run in a subprocess, a data file opened by name).
    pub fn find_quoted(&mut self, needle: &str) -> Vec<Hit> {
        self.build_quoted();
        let places = self
            .quoted_index
            .as_ref()
            .and_then(|i| i.quoted.get(needle).cloned())
            .unwrap_or_default();
        self.classify_places(&places)
    }

    /// Whether any test-side string holds `needle` on a line (before
    /// [`TestSide::find_quoted`] parses the files it is in).
    pub fn quotes(&mut self, needle: &str) -> bool {
        self.build_quoted();
        self.quoted_index
            .as_ref()
            .is_some_and(|i| i.quoted.get(needle).is_some_and(|p| !p.is_empty()))
    }

    fn build_quoted(&mut self) {
        if self.quoted_index.is_none() {
            self.quoted_index = Some(Index::build(
                &self.files,
                &self.contents,
                &self.stored,
                true,
                |_| false,
            ));
        }
    }

    /// Every dotted token (`a.b`) inside a string literal of a test-side file.
    pub fn quoted_dotted(&mut self) -> Vec<String> {
        self.build_quoted();
        let mut out: Vec<String> = self
            .quoted_index
            .as_ref()
            .map(|i| {
                i.quoted
                    .keys()
                    .filter(|k| k.contains('.'))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The index of words of the files whose words are not stored, built
    /// once; `words_stored` is set alongside for the others.
    fn index(&mut self, store: &Store) -> Result<&Index> {
        if self.index.is_none() {
            let blobs: Vec<&str> = self.blobs.values().map(String::as_str).collect();
            let indexed = store.side_indexed(&blobs)?;
            let mut by_blob: std::collections::HashMap<String, Vec<u32>> = Default::default();
            for (fi, file) in self.files.iter().enumerate() {
                if let Some(blob) = self.blobs.get(file).filter(|b| indexed.contains(*b)) {
                    by_blob.entry(blob.clone()).or_default().push(fi as u32);
                }
            }
            let stored_file = |f: &str| self.blobs.get(f).is_some_and(|b| indexed.contains(b));
            let rest: Vec<String> = self
                .files
                .iter()
                .filter(|f| !stored_file(f))
                .cloned()
                .collect();
            if by_blob.is_empty() {
                // Data recorded before words were stored: read everything
                // in one pass.
                self.load_all();
            } else {
                for file in &rest {
                    self.load(file);
                }
            }
            let stored_file = |f: &str| self.blobs.get(f).is_some_and(|b| indexed.contains(b));
            self.index = Some(Index::build(
                &self.files,
                &self.contents,
                &BTreeMap::new(),
                false,
                stored_file,
            ));
            self.words_stored = Some(by_blob);
        }
        Ok(self.index.as_ref().expect("just built"))
    }

    fn classify_places(&mut self, places: &[(u32, u32)]) -> Vec<Hit> {
        let mut hits = BTreeSet::new();
        for &(fi, line) in places {
            if let Some((file, parsed)) = self.parsed_at(fi) {
                classify(&file, parsed, line, &mut hits);
            }
        }
        hits.into_iter().collect()
    }

    /// Classifies the lines `lines_of` finds in each test-side file.
    fn search(&mut self, lines_of: impl Fn(&str) -> Vec<u32>) -> Vec<Hit> {
        self.load_all();
        let mut hits = BTreeSet::new();
        for file in self.files.clone() {
            let Some(Some(text)) = self.contents.get(&file) else {
                continue;
            };
            let lines = lines_of(text);
            if lines.is_empty() {
                continue;
            }
            let parsed = self
                .parsed
                .entry(file.clone())
                .or_insert_with(|| parse(&file, text));
            for line in lines {
                classify(&file, parsed, line, &mut hits);
            }
        }
        hits.into_iter().collect()
    }

    /// Test files that import one of `modules` at module level: every test in them.
    pub fn importers_of(&mut self, modules: &BTreeSet<String>) -> Vec<String> {
        self.load_all();
        let mut out = Vec::new();
        for file in self.files.clone() {
            let Some(Some(text)) = self.contents.get(&file) else {
                continue;
            };
            if !modules
                .iter()
                .any(|m| text.contains(m.rsplit('.').next().unwrap_or(m)))
            {
                continue;
            }
            let parsed = self
                .parsed
                .entry(file.clone())
                .or_insert_with(|| parse(&file, text));
            let imports = parsed.module.imports();
            let hit = imports.iter().any(|imp| {
                let base = if imp.module.starts_with('.') {
                    python::resolve_relative(&file, &imp.module).unwrap_or_default()
                } else {
                    imp.module.clone()
                };
                modules.contains(&base)
                    || imp
                        .names
                        .iter()
                        .any(|n| modules.contains(&format!("{base}.{n}")))
            });
            if hit {
                out.push(file);
            }
        }
        out
    }
}

fn parse(file: &str, text: &str) -> Parsed {
    let module = python::parse(text.as_bytes());
    let tests = module
        .test_functions()
        .into_iter()
        .map(|t| (t.def, t.id))
        .collect();
    let bindings = module
        .bindings(file)
        .zip(python::module_names_for_path(file).into_iter().next());
    Parsed {
        module,
        tests,
        bindings,
    }
}

/// What the mention on `line` of a test-side file means (see [`Hit`]).
fn classify(file: &str, p: &Parsed, line: u32, hits: &mut BTreeSet<Hit>) {
    let m = &p.module;
    let Some(st) = m.statement_at(line) else {
        return; // a comment
    };
    let start = match (st.kind, st.scope) {
        (StmtKind::DefHeader(d) | StmtKind::ClassHeader(d), _) => Some(d),
        (_, Scope::Function(d) | Scope::Class(d)) => Some(d),
        (_, Scope::Module) => None,
    };
    if let Some(hit) = start.and_then(|d| enclosing_tests(file, p, d)) {
        hits.insert(hit);
        return;
    }
    match start {
        Some(d) => in_helper(file, m, d, hits),
        None => module_level(file, st, hits),
    }
}

/// Inside a test function (or a test class): those tests.
fn enclosing_tests(file: &str, p: &Parsed, d: usize) -> Option<Hit> {
    let m = &p.module;
    let mut cur = Some(d);
    while let Some(d) = cur {
        if let Some(id) = p.tests.get(&d) {
            return Some(Hit::Tests(format!("{file}::{id}")));
        }
        let def = &m.defs()[d];
        if def.kind == DefKind::Class
            && p.tests
                .values()
                .any(|id| id.starts_with(&format!("{}::", def.name)))
        {
            return Some(Hit::Tests(format!("{file}::{}", def.name)));
        }
        cur = def.parent;
    }
    None
}

/// The change travels under a name this file binds.
fn named(name: &str, file: &str) -> Hit {
    Hit::Name {
        name: name.to_string(),
        file: file.to_string(),
    }
}

/// Every test of the file, or of the directory for a conftest.
fn whole_file(file: &str) -> Hit {
    if is_conftest(file) {
        Hit::Dir(dir_of(file))
    } else {
        Hit::File(file.to_string())
    }
}

/// In a def or class that is not a test: the innermost enclosing function
/// (a fixture or a helper) carries the change under its name, or else the
/// class does.
fn in_helper(file: &str, m: &Module, d: usize, hits: &mut BTreeSet<Hit>) {
    let conftest = is_conftest(file);
    let mut cur = Some(d);
    while let Some(id) = cur {
        let def = &m.defs()[id];
        if def.kind == DefKind::Function {
            hits.insert(named(&def.name, file));
            if let Some(f) = &def.fixture {
                hits.insert(named(&f.name, file));
                if f.autouse {
                    hits.insert(whole_file(file));
                }
            }
            if conftest && def.name.starts_with("pytest_") {
                hits.insert(Hit::Dir(dir_of(file)));
            }
            return;
        }
        cur = def.parent;
    }
    hits.insert(named(&m.defs()[d].name, file));
}

/// Module-level code of a test file or conftest.
fn module_level(file: &str, st: &python::Statement, hits: &mut BTreeSet<Hit>) {
    if st.kind == StmtKind::Import {
        // Re-bound under the same or another name; uses are found by name.
        for b in st.binds.iter().filter(|b| *b != "*") {
            hits.insert(named(b, file));
        }
        if st.binds.iter().any(|b| b == "*") {
            hits.insert(whole_file(file));
        }
    } else {
        // Marks, constants used in parametrize, plugins: all of its tests.
        for b in &st.binds {
            hits.insert(named(b, file));
        }
        hits.insert(whole_file(file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_mentions() {
        let src = r#"
import pytest
from shop import config

LIMIT = config.MAX

@pytest.fixture(scope="session")
def inventory():
    return make(config.MAX)

def helper():
    return config.MAX

def test_a(inventory):
    assert inventory

class TestK:
    def test_b(self):
        assert helper()
"#;
        let p = parse("tests/test_x.py", src);
        let name = |n: &str| Hit::Name {
            name: n.into(),
            file: "tests/test_x.py".into(),
        };
        let find = |needle: &str| {
            let mut hits = BTreeSet::new();
            for l in word_lines(src, needle) {
                classify("tests/test_x.py", &p, l, &mut hits);
            }
            hits.into_iter().collect::<Vec<_>>()
        };
        assert_eq!(
            find("MAX"),
            vec![
                Hit::File("tests/test_x.py".into()),
                name("LIMIT"),
                name("helper"),
                name("inventory"),
            ]
        );
        assert_eq!(
            find("inventory"),
            vec![
                Hit::Tests("tests/test_x.py::test_a".into()),
                name("inventory")
            ]
        );
        assert_eq!(
            find("helper"),
            vec![
                Hit::Tests("tests/test_x.py::TestK::test_b".into()),
                name("helper")
            ]
        );
    }
}
