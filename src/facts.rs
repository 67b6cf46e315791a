//! Static facts about a measured Python file, stored next to its line data:
//! which lines reference each identifier, and which modules it imports.
//!
//! They let selection follow effects that do not run inside a test: a changed
//! constant, default argument, cached function or fixture selects the tests
//! whose executed lines name it; a changed module's import-time side effects
//! reach the modules that import it.

use crate::numbits;
use std::collections::BTreeMap;

use crate::python::{self, Scope, StmtKind};

/// Facts of one file.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// identifier -> numbits of the lines referencing it.
    pub refs: Vec<(String, Vec<u8>)>,
    /// Absolute dotted module names it may import (all candidates).
    pub imports: Vec<String>,
    /// (name, carried): code naming `name` binds or carries `carried`.
    pub carries: Vec<(String, String)>,
}

/// Whether a path is Python source we parse.
pub fn is_python(path: &str) -> bool {
    path.ends_with(".py") || path.ends_with(".pyi")
}

/// Computes the facts of a Python file from its parse.
pub fn compute(path: &str, module: &python::Module) -> Facts {
    let refs = module
        .references()
        .into_iter()
        .map(|(name, lines)| (name, numbits::encode(lines)))
        .collect();
    let mut imports = std::collections::BTreeSet::new();
    for import in module.imports() {
        let base = if import.module.starts_with('.') {
            match python::resolve_relative(path, &import.module) {
                Some(m) => m,
                None => continue,
            }
        } else {
            import.module.clone()
        };
        if base.is_empty() {
            continue;
        }
        // `import a.b.c` imports a, a.b and a.b.c; `from a import b` may import
        // the module a.b.
        let parts: Vec<&str> = base.split('.').collect();
        for i in 1..=parts.len() {
            imports.insert(parts[..i].join("."));
        }
        for name in &import.names {
            imports.insert(format!("{base}.{name}"));
        }
    }
    let carries = binding_index(module)
        .into_iter()
        .flat_map(|(name, carried)| carried.into_iter().map(move |c| (name.clone(), c)))
        .collect();
    Facts {
        refs,
        imports: imports.into_iter().collect(),
        carries,
    }
}

/// For one parsed file: referenced name -> the names that code naming it
/// binds or carries (see selection). Built once per file, so
/// following many names does not parse a file many times.
pub fn binding_index(m: &python::Module) -> BTreeMap<String, Vec<String>> {
    let mut index: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in m.statements() {
        let mut carried = Vec::new();
        match (st.kind, st.scope) {
            (StmtKind::DefHeader(d) | StmtKind::ClassHeader(d), _) => {
                let def = &m.defs()[d];
                if def.cached || def.fixture.is_some() || st.kind != StmtKind::DefHeader(d) {
                    carried.push(def.name.clone());
                }
                if let Some(f) = &def.fixture {
                    carried.push(f.name.clone());
                }
            }
            (_, Scope::Module) => carried.extend(st.binds.iter().filter(|b| *b != "*").cloned()),
            (_, Scope::Class(c)) => {
                carried.extend(st.binds.iter().filter(|b| *b != "*").cloned());
                carried.push(m.defs()[c].name.clone());
            }
            (_, Scope::Function(d)) => {
                // Inside a cached function or a fixture, the result reaches
                // tests that never run this line; so it does from a function
                // that module-level code calls (a one-time initialiser).
                carried.extend(crate::select::carrier_names(m, d));
                let mut top = d;
                while let Some(p) = m.defs()[top].parent {
                    top = p;
                }
                let name = &m.defs()[top].name;
                if m.called_at_import(name) {
                    carried.push(name.clone());
                }
            }
        }
        if carried.is_empty() {
            continue;
        }
        for r in &st.refs {
            let entry = index.entry(r.clone()).or_default();
            for c in &carried {
                if !entry.contains(c) {
                    entry.push(c.clone());
                }
            }
        }
    }
    index
}
