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
    /// (identifier, target, numbits): the lines whose every reference to
    /// the identifier denotes the object `target` ("pkg.mod.name"), as the
    /// file's imports and definitions tell (see [`targets`]).
    pub targets: Vec<(String, String, Vec<u8>)>,
    /// Absolute dotted module names it may import (all candidates).
    pub imports: Vec<String>,
    /// The names it defines itself (see [`python::Bindings::own`]).
    pub own: Vec<String>,
    /// (name, carried, numbits): the statements on these lines name `name`
    /// and bind or carry `carried`.
    pub carries: Vec<(String, String, Vec<u8>)>,
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
        .flat_map(|(name, carried)| {
            carried
                .into_iter()
                .map(move |(c, lines)| (name.clone(), c, numbits::encode(lines)))
        })
        .collect();
    let bindings = module.bindings(path);
    Facts {
        refs,
        targets: bindings
            .as_ref()
            .map(|b| targets(path, module, b))
            .unwrap_or_default(),
        imports: imports.into_iter().collect(),
        own: bindings.map(|b| b.own_names()).unwrap_or_default(),
        carries,
    }
}

/// What every reference to `name` in statement `st` denotes, when they all
/// denote one object that the file's bindings `b` tell (see [`targets`]);
/// `own_module` is the file's module.
pub fn target_in(
    st: &python::Statement,
    name: &str,
    b: &python::Bindings,
    own_module: &str,
) -> Option<String> {
    let resolve_name = |n: &str| -> Option<String> {
        match b.imported_target(n) {
            Some(t) => Some(t.to_string()),
            None if b.own(n) => Some(format!("{own_module}.{n}")),
            None => None,
        }
    };
    let resolve_chain = |chain: &str| -> Option<String> {
        let (first, rest) = match chain.split_once('.') {
            Some((a, r)) => (a, Some(r)),
            None => (chain, None),
        };
        let base = resolve_name(first)?;
        Some(match rest {
            Some(r) => format!("{base}.{r}"),
            None => base,
        })
    };
    let mut found: Vec<Option<String>> = Vec::new();
    if st.bare.binary_search_by(|x| x.as_str().cmp(name)).is_ok() {
        // `from m import name [as k]` names m.name, whatever it binds.
        let imported = (st.kind == StmtKind::Import)
            .then(|| b.from_import(st.start, name))
            .flatten();
        found.push(match imported {
            Some(t) => Some(t.to_string()),
            None => resolve_name(name),
        });
    }
    for (attr, chain) in st.attrs.iter().filter(|(a, _)| a == name) {
        found.push(
            chain
                .as_deref()
                .and_then(resolve_chain)
                .map(|base| format!("{base}.{attr}")),
        );
    }
    match found.split_first() {
        Some((first, rest)) if first.is_some() && rest.iter().all(|t| t == first) => first.clone(),
        _ => None,
    }
}

/// What each reference of a file denotes, where its imports and definitions
/// (`b`, the file's [`python::Module::bindings`]) tell: for an identifier,
/// the lines whose every reference to it names one object, and that
/// object's qualified path. `cfg.RATE` with `from pkg import cfg` denotes
/// "pkg.cfg.RATE"; a plain `total` the file defines itself, "\<its
/// module>.total"; `total` imported with `from shop.cart import total`,
/// "shop.cart.total".
///
/// Only what cannot be otherwise: a name is resolved through the file's
/// imports only when module-level imports are all that bind it (to one
/// target), and as the file's own only when module-level definitions are
/// all that bind it; any other binding of it anywhere in the file (a
/// parameter, a local, a class attribute, an assignment) leaves it
/// unresolved, and a file with a star import or a syntax error has no
/// bindings to resolve by. An attribute of anything but such a name
/// (`self.x`, `f().x`) is unresolved. Selection uses targets only to leave
/// out references that provably denote another module's own definition;
/// unresolved ones always count.
pub fn targets(
    path: &str,
    m: &python::Module,
    b: &python::Bindings,
) -> Vec<(String, String, Vec<u8>)> {
    use std::collections::HashMap;
    let Some(own_module) = python::module_names_for_path(path).into_iter().next() else {
        return Vec::new();
    };
    // Per identifier and line: the one target, or `None` once unresolved
    // or conflicting.
    let mut marks: HashMap<&str, BTreeMap<u32, Option<String>>> = HashMap::new();
    for s in m.statements() {
        let (lo, hi) = match s.kind {
            StmtKind::DefHeader(id) | StmtKind::ClassHeader(id) => match m.defs().get(id) {
                Some(d) => (d.header.0, d.body.1.max(d.header.1)),
                None => (s.start, s.end),
            },
            _ => (s.start, s.end),
        };
        for r in &s.refs {
            let target = target_in(s, r, b, &own_module);
            let lines = marks.entry(r.as_str()).or_default();
            for line in lo..=hi {
                match lines.get(&line) {
                    None => {
                        lines.insert(line, target.clone());
                    }
                    Some(t) if *t != target => {
                        lines.insert(line, None);
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let mut out: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for (name, lines) in marks {
        for (line, target) in lines {
            if let Some(t) = target {
                out.entry((name.to_string(), t)).or_default().push(line);
            }
        }
    }
    out.into_iter()
        .map(|((name, target), lines)| (name, target, numbits::encode(lines)))
        .collect()
}

/// For one parsed file: referenced name -> the names that code naming it
/// binds or carries (see selection), each with the lines of the statements
/// that do. Built once per file, so following many names does not parse a
/// file many times.
pub fn binding_index(m: &python::Module) -> BTreeMap<String, BTreeMap<String, Vec<u32>>> {
    let mut index: BTreeMap<String, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
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
                carried.extend(super::pytest::carrier_names(m, d));
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
                entry
                    .entry(c.clone())
                    .or_default()
                    .extend(st.start..=st.end);
            }
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(path: &str, src: &str) -> BTreeMap<(String, String), Vec<u32>> {
        // No bindings to trust (a star import, a syntax error): no targets.
        let m = python::parse(src.as_bytes());
        m.bindings(path)
            .map(|b| targets(path, &m, &b))
            .unwrap_or_default()
            .into_iter()
            .map(|(n, t, bits)| ((n, t), numbits::decode(&bits)))
            .collect()
    }

    fn key(n: &str, t: &str) -> (String, String) {
        (n.to_string(), t.to_string())
    }

    #[test]
    fn references_resolve_only_where_nothing_else_can_bind_them() {
        let src = "\
import os
import pkg.config
from pkg import cart as c
from .helpers import fmt
from . import sibling

RATE = 2

def total(x, rate=RATE):
    return c.total(x) + pkg.config.RATE + fmt(x) + os.path.join('a') + helper()

def helper():
    return sibling.value

class K:
    RATE = 3
    def m(self):
        return self.total()
";
        let r = rows("shop/mod.py", src);
        assert_eq!(r.get(&key("total", "pkg.cart.total")), Some(&vec![10]));
        assert_eq!(r.get(&key("fmt", "shop.helpers.fmt")), Some(&vec![4, 10]));
        assert_eq!(r.get(&key("join", "os.path.join")), Some(&vec![10]));
        assert_eq!(r.get(&key("helper", "shop.mod.helper")), Some(&vec![10]));
        assert_eq!(r.get(&key("value", "shop.sibling.value")), Some(&vec![13]));
        // `self.total` and `RATE` (bound at module level and in a class, and
        // named by a default the header spreads over the body) stay open.
        assert!(!r.keys().any(|(n, _)| n == "RATE"), "{r:?}");
        assert!(!r.values().any(|lines| lines.contains(&18)), "{r:?}");

        // A star import may bind anything: nothing resolves.
        assert!(rows("shop/mod.py", &format!("from pkg import *\n{src}")).is_empty());
        // A name bound two ways resolves through neither.
        let two = "try:\n    import json\nexcept ImportError:\n    json = None\n\ndef f():\n    return json.dumps(1)\n";
        assert!(!rows("m.py", two).keys().any(|(n, _)| n == "dumps"));
        // A parameter shadows the import everywhere (conservatively).
        let shadow =
            "import cfg\n\ndef f(cfg):\n    return cfg.RATE\n\ndef g():\n    return cfg.RATE\n";
        assert!(!rows("m.py", shadow).keys().any(|(n, _)| n == "RATE"));
    }
}
