//! What the data recorded about the measured files, read on demand and once
//! per call: file ids, baselines and their contents, the tests that ran each
//! file and their lines there, which files have stored facts, and which
//! files a module name can mean.
//!
//! Following a name asks which tests ran its references, file by file, and
//! a name read all over a project asks about the same big files again and
//! again: a file's recorded lines are read in one scan and intersected in
//! memory, where a query per reference would scan (and call the numbits
//! functions on) every row of the file each time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use crate::error::Result;
use crate::numbits;
use crate::python::{self, facts::is_python};
use crate::store::Store;

pub struct Recorded<'a> {
    store: &'a Store,
    file_ids: BTreeMap<String, Option<i64>>,
    /// Path -> blob id of every measured file.
    baselines: Option<BTreeMap<String, String>>,
    /// The measured Python files' baselines as text.
    python_texts: Option<Rc<Vec<(String, String)>>>,
    /// Module name -> the files of the data it can mean.
    module_files: Option<BTreeMap<String, Vec<String>>>,
    /// The files whose facts were stored at record time.
    facts_paths: Option<BTreeSet<String>>,
    /// Tests that ran any line of a file, by path.
    tests_by_file: BTreeMap<String, Rc<BTreeSet<String>>>,
    /// Per file id, each test with its recorded lines there (numbits).
    lines: HashMap<i64, Vec<(String, Vec<u8>)>>,
}

impl<'a> Recorded<'a> {
    pub fn new(store: &'a Store) -> Self {
        Recorded {
            store,
            file_ids: BTreeMap::new(),
            baselines: None,
            python_texts: None,
            module_files: None,
            facts_paths: None,
            tests_by_file: BTreeMap::new(),
            lines: HashMap::new(),
        }
    }

    /// A file's id in the data; `None` when the data has no lines for it.
    pub fn file_id(&mut self, path: &str) -> Result<Option<i64>> {
        if let Some(id) = self.file_ids.get(path) {
            return Ok(*id);
        }
        let id = self.store.file_id(path)?;
        self.file_ids.insert(path.to_string(), id);
        Ok(id)
    }

    /// The tests that ran any line of a file.
    pub fn tests_in_file(&mut self, path: &str) -> Result<Rc<BTreeSet<String>>> {
        if let Some(tests) = self.tests_by_file.get(path) {
            return Ok(tests.clone());
        }
        let tests: BTreeSet<String> = match self.file_id(path)? {
            Some(fid) => self.store.tests_in_file(fid)?.into_iter().collect(),
            None => BTreeSet::new(),
        };
        let tests = Rc::new(tests);
        self.tests_by_file.insert(path.to_string(), tests.clone());
        Ok(tests)
    }

    /// The tests whose recorded lines in `file_id` intersect `bits`.
    pub fn tests_running(
        &mut self,
        file_id: i64,
        bits: &[u8],
    ) -> Result<impl Iterator<Item = &str>> {
        let rows = match self.lines.entry(file_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.store.file_lines(file_id)?)
            }
        };
        Ok(rows
            .iter()
            .filter(move |(_, lines)| numbits::any_intersection(lines, bits))
            .map(|(test, _)| test.as_str()))
    }

    fn baselines(&mut self) -> Result<&BTreeMap<String, String>> {
        if self.baselines.is_none() {
            self.baselines = Some(self.store.baselines()?);
        }
        Ok(self.baselines.as_ref().expect("just read"))
    }

    /// A measured file's recorded content.
    pub fn source(&mut self, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(blob) = self.baselines()?.get(path).cloned() else {
            return Ok(None);
        };
        Ok(self.store.source(&blob)?)
    }

    /// The stored outline of a measured file's recorded content, when there
    /// is a usable one.
    pub fn outline(&mut self, path: &str) -> Result<Option<python::Outline>> {
        let Some(blob) = self.baselines()?.get(path).cloned() else {
            return Ok(None);
        };
        crate::change::outline(self.store, path, &blob)
    }

    /// A measured file's recorded content, parsed.
    pub fn module(&mut self, path: &str) -> Result<Option<python::Module>> {
        Ok(self.source(path)?.map(|content| python::parse(&content)))
    }

    /// Every measured Python file's recorded content as text (read once,
    /// on the first file name looked for).
    pub fn python_texts(&mut self) -> Result<Rc<Vec<(String, String)>>> {
        if let Some(done) = &self.python_texts {
            return Ok(done.clone());
        }
        let paths: Vec<String> = self
            .baselines()?
            .keys()
            .filter(|p| is_python(p))
            .cloned()
            .collect();
        let mut texts = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(content) = self.source(&path)? {
                let text = match String::from_utf8(content) {
                    Ok(text) => text,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                };
                texts.push((path, text));
            }
        }
        let texts = Rc::new(texts);
        self.python_texts = Some(texts.clone());
        Ok(texts)
    }

    /// The measured files module `module` can mean.
    pub fn files_of_module(&mut self, module: &str) -> Result<Vec<String>> {
        if self.module_files.is_none() {
            let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for path in self.baselines()?.keys() {
                if is_python(path) {
                    for m in python::module_names_for_path(path) {
                        files.entry(m).or_default().push(path.clone());
                    }
                }
            }
            self.module_files = Some(files);
        }
        Ok(self
            .module_files
            .as_ref()
            .and_then(|f| f.get(module))
            .cloned()
            .unwrap_or_default())
    }

    /// Whether a file's facts were computed at record time (else what its
    /// statements carry is not stored, and its baseline is parsed).
    pub fn has_facts(&mut self, path: &str) -> Result<bool> {
        if self.facts_paths.is_none() {
            self.facts_paths = Some(self.store.facts_paths()?);
        }
        Ok(self.facts_paths.as_ref().is_some_and(|f| f.contains(path)))
    }
}
