//! Static facts about a measured Python file, stored next to its line data:
//! which lines reference each identifier, and which modules it imports.
//!
//! They let selection follow effects that do not run inside a test: a changed
//! constant, default argument, cached function or fixture selects the tests
//! whose executed lines name it; a changed module's import-time side effects
//! reach the modules that import it.

use crate::numbits;
use crate::python;

/// Facts of one file.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// identifier -> numbits of the lines referencing it.
    pub refs: Vec<(String, Vec<u8>)>,
    /// Absolute dotted module names it may import (all candidates).
    pub imports: Vec<String>,
}

/// Whether a path is Python source we parse.
pub fn is_python(path: &str) -> bool {
    path.ends_with(".py") || path.ends_with(".pyi")
}

/// Computes the facts of a Python file from its content.
pub fn compute(path: &str, content: &[u8]) -> Facts {
    let module = python::parse(content);
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
    Facts {
        refs,
        imports: imports.into_iter().collect(),
    }
}
