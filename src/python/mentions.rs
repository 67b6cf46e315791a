//! What a mention of a name in a test-side file (a test file or a
//! conftest.py) means: the tests it selects, or the fixture or helper name
//! the change travels under. Classified from the parsed file, or from what
//! was stored for the file's content at recording ([`Mentions`]), so that
//! selection need not parse the test files that mention a changed name.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::pytest::is_conftest;
use super::{DefKind, Module, Scope, StmtKind, dir_of};
use crate::python;

/// What a mention of a name in a test-side file means.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

pub struct Parsed {
    pub module: Module,
    /// def id -> test id ("test_x", "TestK::test_y").
    tests: BTreeMap<usize, String>,
    /// How the file binds its names, and its module: for telling what a
    /// mention denotes.
    bindings: Option<(python::Bindings, String)>,
}

/// A test-side file parsed for telling what its mentions mean.
pub fn parse(file: &str, text: &str) -> Parsed {
    of_module(file, python::parse(text.as_bytes()))
}

/// [`parse`] from the file's module, parsed already.
pub fn of_module(file: &str, module: Module) -> Parsed {
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
pub fn classify(file: &str, p: &Parsed, line: u32, hits: &mut BTreeSet<Hit>) {
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

impl Parsed {
    /// What the mentions of `word` on `line` denote when the file's bindings
    /// tell ("pkg.mod.name"; see [`crate::python::facts::target_in`]).
    pub fn target(&self, line: u32, word: &str) -> Option<String> {
        match (&self.bindings, self.module.statement_at(line)) {
            (Some((b, module)), Some(st)) => crate::python::facts::target_in(st, word, b, module),
            _ => None,
        }
    }
}

/// The stored form's version: a stored [`Mentions`] of another version is
/// not used (the file is parsed instead). Bump it when classifying changes.
pub const MENTIONS_VERSION: i64 = 1;

/// A test-side content's classification at one path, as stored at
/// recording: what a mention on each line means ([`classify`]), and, per
/// word, what its mentions denote where the file's bindings tell.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mentions {
    /// The distinct sets of hits.
    classes: Vec<Vec<Hit>>,
    /// (first line, last line, class): runs of lines, ascending.
    runs: Vec<(u32, u32, u32)>,
    /// word -> (line, target), for the words whose mentions denote a
    /// known object.
    #[serde(skip)]
    targets: BTreeMap<String, Vec<(u32, String)>>,
}

impl Mentions {
    /// Classifies every line of a parsed test-side file; `words`: its
    /// [`crate::python::tokens::word_index`].
    pub fn of(file: &str, words: &BTreeMap<String, Vec<u32>>, p: &Parsed) -> Mentions {
        let mut out = Mentions::default();
        let mut index: HashMap<Vec<Hit>, u32> = HashMap::new();
        // Lines of one statement classify alike: once per statement.
        let mut last: Option<(*const python::Statement, u32)> = None;
        for line in p.module.code_lines() {
            let Some(st) = p.module.statement_at(line) else {
                continue;
            };
            let class = match last {
                Some((ptr, class)) if std::ptr::eq(ptr, st) => class,
                _ => {
                    let mut hits = BTreeSet::new();
                    classify(file, p, line, &mut hits);
                    let hits: Vec<Hit> = hits.into_iter().collect();
                    let next = index.len() as u32;
                    let class = *index.entry(hits.clone()).or_insert_with(|| {
                        out.classes.push(hits);
                        next
                    });
                    last = Some((st, class));
                    class
                }
            };
            if out.classes[class as usize].is_empty() {
                continue;
            }
            match out.runs.last_mut() {
                Some((_, end, c)) if *c == class && *end + 1 == line => *end = line,
                _ => out.runs.push((line, line, class)),
            }
        }
        for (word, lines) in words {
            let found: Vec<(u32, String)> = lines
                .iter()
                .filter_map(|&l| p.target(l, word).map(|t| (l, t)))
                .collect();
            if !found.is_empty() {
                out.targets.insert(word.clone(), found);
            }
        }
        out
    }

    /// What a mention on `line` means (nothing for a comment or blank line).
    pub fn at(&self, line: u32) -> &[Hit] {
        let i = self.runs.partition_point(|&(_, end, _)| end < line);
        match self.runs.get(i) {
            Some(&(start, _, class)) if start <= line => &self.classes[class as usize],
            _ => &[],
        }
    }

    /// What the mentions of `word` on `line` denote, as stored.
    pub fn target(targets: &[(u32, String)], line: u32) -> Option<String> {
        targets
            .binary_search_by_key(&line, |(l, _)| *l)
            .ok()
            .map(|i| targets[i].1.clone())
    }

    /// The per-line classification as stored (JSON).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("plain data serializes")
    }

    /// Reads [`Mentions::encode`]'s text back; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Mentions> {
        serde_json::from_str(text).ok()
    }

    /// The per-word targets, stored apart (one row per word: a lookup
    /// reads only the searched word's).
    pub fn targets(&self) -> impl Iterator<Item = (&str, String)> {
        self.targets.iter().map(|(w, t)| {
            (
                w.as_str(),
                serde_json::to_string(t).expect("plain data serializes"),
            )
        })
    }

    /// Reads one word's stored targets back.
    pub fn decode_targets(text: &str) -> Option<Vec<(u32, String)>> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::tokens::word_lines;

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

    #[test]
    fn stored_mentions_classify_as_the_parsed_file() {
        let src = "import pytest\nfrom shop import config\nfrom shop.cart import total\n\nLIMIT = config.MAX\n\n# a comment\n@pytest.fixture(autouse=True)\ndef inventory():\n    return total(config.MAX)\n\n\nclass TestK:\n    def helper(self):\n        return total\n\n    def test_b(self, inventory):\n        assert self.helper()\n";
        for file in ["tests/test_x.py", "tests/conftest.py"] {
            let p = parse(file, src);
            let stored = Mentions::of(file, &crate::python::tokens::word_index(src), &p);
            let back = Mentions::decode(&stored.encode()).expect("decodes");
            let targets: BTreeMap<String, Vec<(u32, String)>> = stored
                .targets()
                .map(|(w, t)| (w.to_string(), Mentions::decode_targets(&t).unwrap()))
                .collect();
            assert!(targets.contains_key("MAX"), "{targets:?}");
            for line in 0..=20 {
                let mut hits = BTreeSet::new();
                classify(file, &p, line, &mut hits);
                assert_eq!(
                    back.at(line),
                    hits.into_iter().collect::<Vec<_>>(),
                    "{file}:{line}"
                );
                for word in ["config", "MAX", "total", "inventory", "helper"] {
                    let stored = targets.get(word).and_then(|t| Mentions::target(t, line));
                    let parsed = word_lines(src, word)
                        .contains(&line)
                        .then(|| p.target(line, word))
                        .flatten();
                    assert_eq!(stored, parsed, "{file}:{line} {word}");
                }
            }
        }
    }
}
