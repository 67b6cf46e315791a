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
use crate::python::mentions::{self, Hit, MENTIONS_VERSION, Mentions, Parsed, classify};
use crate::python::{self, dir_of};
use crate::store::Store;

use crate::python::tokens::{is_ident_byte, parse_stored, scan, word_lines};

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
    /// By file index: what its mentions mean, as stored for its content.
    mentions: BTreeMap<u32, Option<Mentions>>,
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

/// The test files among `test_files` (Python files), and the conftest.py
/// of each directory above them, up to the root.
fn with_conftests<'t>(test_files: impl Iterator<Item = &'t str>) -> BTreeSet<String> {
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
    files
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
        let files = with_conftests(test_files);
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
        let blobs = files
            .iter()
            .filter_map(|f| unchanged.get(f).map(|b| (f.clone(), b.clone())))
            .collect();
        Ok(TestSide {
            root: work_tree.then(|| repo.root().to_owned()),
            files: files.into_iter().collect(),
            contents,
            stored,
            blobs,
            parsed: BTreeMap::new(),
            index: None,
            words_stored: None,
            mentions: BTreeMap::new(),
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
    /// Those whose content is the recorded one come from the data file, with
    /// one cached statement instead of thousands of opens (the same bytes:
    /// their blob ids are the recorded ones); the rest from the target.
    fn load_all(&mut self, store: &Store) -> Result<()> {
        // Every file not read yet has the recorded content (the others
        // were read when the side was made).
        let wanted: Vec<(String, String)> = self
            .blobs
            .iter()
            .filter(|(f, _)| !self.contents.contains_key(*f))
            .map(|(f, b)| (f.clone(), b.clone()))
            .collect();
        for (file, blob) in wanted {
            if let Some(content) = store.source(&blob)? {
                let text = String::from_utf8_lossy(&content).into_owned();
                self.contents.insert(file, Some(text));
            }
        }
        for file in self.files.clone() {
            self.load(&file);
        }
        Ok(())
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
                .search(store, |text| word_lines(text, needle))?
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
        let mut out = Vec::new();
        if self.words_stored.is_some() {
            let rows = store.side_word(needle)?;
            let targets: BTreeMap<(String, String), String> = match rows.is_empty() {
                true => BTreeMap::new(),
                false => store
                    .side_targets(needle)?
                    .into_iter()
                    .map(|(blob, path, t)| ((blob, path), t))
                    .collect(),
            };
            for (blob, bits) in rows {
                let fis = self
                    .words_stored
                    .as_ref()
                    .and_then(|b| b.get(&blob))
                    .cloned()
                    .unwrap_or_default();
                let lines = numbits::decode(&bits);
                for fi in fis {
                    let key = (blob.clone(), self.files[fi as usize].clone());
                    match self.stored_mentions(store, fi)? {
                        Some(m) => {
                            // Unreadable targets count as unresolved: the
                            // mention is kept.
                            let t = targets.get(&key).and_then(|t| Mentions::decode_targets(t));
                            for &line in &lines {
                                let target = t.as_deref().and_then(|t| Mentions::target(t, line));
                                out.extend(m.at(line).iter().map(|h| (h.clone(), target.clone())));
                            }
                        }
                        None => places.extend(lines.iter().map(|&l| (fi, l))),
                    }
                }
            }
            places.sort_unstable();
            places.dedup();
        }
        self.parse_ahead(places.iter().map(|&(fi, _)| fi));
        for &(fi, line) in &places {
            let Some((file, parsed)) = self.parsed_at(fi) else {
                continue;
            };
            let target = parsed.target(line, needle);
            let mut hits = BTreeSet::new();
            classify(&file, parsed, line, &mut hits);
            out.extend(hits.into_iter().map(|h| (h, target.clone())));
        }
        Ok(out)
    }

    /// What the mentions in the `fi`th file mean, as stored for its
    /// content at its path; `None` when not stored (the file is parsed).
    fn stored_mentions(&mut self, store: &Store, fi: u32) -> Result<Option<&Mentions>> {
        if !self.mentions.contains_key(&fi) {
            let file = &self.files[fi as usize];
            let m = match self.blobs.get(file) {
                Some(blob) => store
                    .side_mentions(blob, file, MENTIONS_VERSION)?
                    .and_then(|t| Mentions::decode(&t)),
                None => None,
            };
            self.mentions.insert(fi, m);
        }
        Ok(self.mentions[&fi].as_ref())
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
                            .map(|(f, text)| ((*f).clone(), mentions::parse(f, text)))
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
            .or_insert_with(|| mentions::parse(&file, text));
        Some((file, parsed))
    }

    /// Where test-side files mention `needle` inside a string literal on a line
    /// (a module run in a subprocess, a data file opened by name).
    pub fn find_quoted(&mut self, store: &Store, needle: &str) -> Result<Vec<Hit>> {
        self.build_quoted();
        let places = self
            .quoted_index
            .as_ref()
            .and_then(|i| i.quoted.get(needle).cloned())
            .unwrap_or_default();
        self.classify_places(store, &places)
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
            let rest: BTreeSet<String> = self
                .files
                .iter()
                .filter(|f| !self.blobs.get(*f).is_some_and(|b| indexed.contains(b)))
                .cloned()
                .collect();
            if by_blob.is_empty() {
                // Data recorded before words were stored: read everything
                // in one pass.
                self.load_all(store)?;
            } else {
                for file in &rest {
                    self.load(file);
                }
            }
            self.index = Some(Index::build(
                &self.files,
                &self.contents,
                &BTreeMap::new(),
                false,
                |f| !rest.contains(f),
            ));
            self.words_stored = Some(by_blob);
        }
        Ok(self.index.as_ref().expect("just built"))
    }

    fn classify_places(&mut self, store: &Store, places: &[(u32, u32)]) -> Result<Vec<Hit>> {
        let mut hits = BTreeSet::new();
        for &(fi, line) in places {
            if let Some(m) = self.stored_mentions(store, fi)? {
                hits.extend(m.at(line).iter().cloned());
            } else if let Some((file, parsed)) = self.parsed_at(fi) {
                classify(&file, parsed, line, &mut hits);
            }
        }
        Ok(hits.into_iter().collect())
    }

    /// Classifies the lines `lines_of` finds in each test-side file.
    fn search(&mut self, store: &Store, lines_of: impl Fn(&str) -> Vec<u32>) -> Result<Vec<Hit>> {
        self.load_all(store)?;
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
                .or_insert_with(|| mentions::parse(&file, text));
            for line in lines {
                classify(&file, parsed, line, &mut hits);
            }
        }
        Ok(hits.into_iter().collect())
    }

    /// Test files that import one of `modules` at module level: every test in them.
    /// Files in `recorded` are left out: the recorded import graph holds
    /// their imports.
    pub fn importers_of(
        &mut self,
        store: &Store,
        modules: &BTreeSet<String>,
        recorded: &BTreeSet<String>,
    ) -> Result<Vec<String>> {
        let files: Vec<String> = self
            .files
            .iter()
            .filter(|f| !recorded.contains(*f))
            .cloned()
            .collect();
        if files.is_empty() {
            return Ok(Vec::new());
        }
        self.load_all(store)?;
        let mut out = Vec::new();
        for file in files {
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
                .or_insert_with(|| mentions::parse(&file, text));
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
        Ok(out)
    }
}
