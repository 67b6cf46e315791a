//! The known tests as resolution looks them up: in the data's order, by
//! test file, and as a set (made when first asked).

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashSet};

use crate::store::TestRow;

pub(super) struct Suite<'a> {
    ids: Vec<&'a str>,
    by_file: BTreeMap<&'a str, Vec<&'a str>>,
    known: OnceCell<HashSet<&'a str>>,
}

impl<'a> Suite<'a> {
    pub fn new(tests: &'a [TestRow]) -> Self {
        // Sorted ids come file by file: one map entry per file.
        let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut run: Option<(&str, Vec<&str>)> = None;
        for t in tests {
            let file = t.nodeid.split("::").next().unwrap_or(&t.nodeid);
            match &mut run {
                Some((f, ids)) if *f == file => ids.push(&t.nodeid),
                _ => {
                    if let Some((f, ids)) = run.replace((file, vec![&t.nodeid])) {
                        by_file.entry(f).or_default().extend(ids);
                    }
                }
            }
        }
        if let Some((f, ids)) = run {
            by_file.entry(f).or_default().extend(ids);
        }
        Suite {
            ids: tests.iter().map(|t| t.nodeid.as_str()).collect(),
            by_file,
            known: OnceCell::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn ids(&self) -> &[&'a str] {
        &self.ids
    }

    /// Whether the data knows this test.
    pub fn knows(&self, id: &str) -> bool {
        self.known
            .get_or_init(|| self.ids.iter().copied().collect())
            .contains(id)
    }

    /// The known tests of a test file.
    pub fn in_file(&self, file: &str) -> &[&'a str] {
        self.by_file
            .get(file)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Whether the data knows tests of this file.
    pub fn has_file(&self, file: &str) -> bool {
        self.by_file.contains_key(file)
    }

    /// Test files with their known tests, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&'a str, &[&'a str])> + '_ {
        self.by_file.iter().map(|(f, ids)| (*f, ids.as_slice()))
    }
}
