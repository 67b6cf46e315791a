//! The recorded imports between measured files, walked both ways: the files
//! that import a module (transitively, for a changed module's importers) and
//! the module names a file imports (transitively, for a module named in a
//! test-side string). Read from the data once per call, on first use; each
//! walk is cached.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use crate::error::Result;
use crate::python;
use crate::store::Store;

/// The recorded imports, both ways.
#[derive(Default)]
struct Graph {
    /// File -> the module names it imports.
    imports_of: BTreeMap<String, Vec<String>>,
    /// Module name -> the importing files it can mean.
    files_named: BTreeMap<String, Vec<String>>,
    /// Module name -> the files that import it.
    importers: BTreeMap<String, BTreeSet<String>>,
}

/// The import graph and the walks made over it in one call.
#[derive(Default)]
pub struct Imports {
    graph: Option<Rc<Graph>>,
    /// Importer closures, by file.
    closures: BTreeMap<String, BTreeSet<String>>,
    /// Module names each file imports, transitively.
    imported_names: BTreeMap<String, BTreeSet<String>>,
    /// Module names of files, by file.
    module_names: BTreeMap<String, Vec<String>>,
}

impl Imports {
    fn graph(&mut self, store: &Store) -> Result<Rc<Graph>> {
        if let Some(g) = &self.graph {
            return Ok(g.clone());
        }
        let mut graph = Graph::default();
        for (file, module) in store.imports()? {
            graph
                .importers
                .entry(module.clone())
                .or_default()
                .insert(file.clone());
            graph.imports_of.entry(file).or_default().push(module);
        }
        for file in graph.imports_of.keys() {
            for name in python::module_names_for_path(file) {
                graph
                    .files_named
                    .entry(name)
                    .or_default()
                    .push(file.clone());
            }
        }
        let graph = Rc::new(graph);
        self.graph = Some(graph.clone());
        Ok(graph)
    }

    /// The module names `path` can be imported as.
    pub fn module_names(&mut self, path: &str) -> &[String] {
        self.module_names
            .entry(path.to_string())
            .or_insert_with(|| python::module_names_for_path(path))
    }

    /// `path` and every measured file that imports it, transitively.
    pub fn importer_closure(&mut self, store: &Store, path: &str) -> Result<BTreeSet<String>> {
        if let Some(done) = self.closures.get(path) {
            return Ok(done.clone());
        }
        let graph = self.graph(store)?;
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue = VecDeque::from([path.to_string()]);
        while let Some(file) = queue.pop_front() {
            if seen.contains(&file) {
                continue;
            }
            // A file already closed over brings its whole closure at once.
            if let Some(done) = self.closures.get(&file) {
                seen.extend(done.iter().cloned());
                continue;
            }
            for name in self.module_names(&file) {
                if let Some(importers) = graph.importers.get(name) {
                    queue.extend(importers.iter().filter(|f| !seen.contains(*f)).cloned());
                }
            }
            seen.insert(file);
        }
        self.closures.insert(path.to_string(), seen.clone());
        Ok(seen)
    }

    /// Whether `file` imports, directly or through the modules it imports, a
    /// module called one of `names`: the importer closure, walked forward
    /// from one module instead of backward from every changed one.
    pub fn imports_transitively(
        &mut self,
        store: &Store,
        file: &str,
        names: &[String],
    ) -> Result<bool> {
        if !self.imported_names.contains_key(file) {
            let graph = self.graph(store)?;
            let mut seen = BTreeSet::new();
            let mut reached = BTreeSet::new();
            let mut queue = VecDeque::from([file.to_string()]);
            while let Some(f) = queue.pop_front() {
                if !seen.insert(f.clone()) {
                    continue;
                }
                for module in graph.imports_of.get(&f).into_iter().flatten() {
                    if reached.insert(module.clone()) {
                        queue.extend(graph.files_named.get(module).into_iter().flatten().cloned());
                    }
                }
            }
            self.imported_names.insert(file.to_string(), reached);
        }
        let reached = &self.imported_names[file];
        Ok(names.iter().any(|n| reached.contains(n)))
    }

    /// The importing files each of `names` can mean: (file, name).
    pub fn files_named(
        &mut self,
        store: &Store,
        names: &[String],
    ) -> Result<Vec<(String, String)>> {
        let graph = self.graph(store)?;
        let mut out = Vec::new();
        for name in names {
            for file in graph.files_named.get(name).into_iter().flatten() {
                out.push((file.clone(), name.clone()));
            }
        }
        Ok(out)
    }
}
