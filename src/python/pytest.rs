//! pytest's conventions as selection needs them: which files are test files
//! and conftests (the test side, searched statically), and which definitions
//! carry a result to tests that never run its lines (fixtures, memoised
//! functions).

use super::{Module, Scope, StmtKind};

/// Whether pytest would collect tests from this file by default.
pub fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
}

/// Whether the file is a pytest conftest.
pub fn is_conftest(path: &str) -> bool {
    path == "conftest.py" || path.ends_with("/conftest.py")
}

/// Test files and conftests: the files selection searches statically.
pub fn is_test_side(path: &str) -> bool {
    is_test_file(path) || is_conftest(path)
}

/// The first line of module-level code (class bodies included) that acts on
/// state outside the module's own names when it is imported: a bare
/// expression (`pp.ParserElement.disable_memoization()`,
/// `settings.register_profile(...)`), a store to an attribute or item
/// (`pp.ParserElement.verbose_stacktrace = True`), `del`, a `with` block.
/// What runs for such a line may leave state that tests of other modules
/// read, so a test module's import is its own only without one.
pub fn import_side_effect(m: &Module, src: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(src);
    let lines: Vec<&str> = text.lines().collect();
    let at_import = |scope: Scope| match scope {
        Scope::Module => true,
        Scope::Class(c) => m.enclosing_function(Some(c)).is_none(),
        Scope::Function(_) => false,
    };
    m.statements().iter().find_map(|st| {
        if !at_import(st.scope) || m.in_main_block(st.start) {
            return None;
        }
        let first = lines.get(st.start as usize - 1).map_or("", |l| l.trim());
        let acts = match st.kind {
            StmtKind::Simple => {
                // A docstring or other string, `pass` and `...` do nothing.
                let string = first
                    .trim_start_matches(['r', 'b', 'u', 'f', 'R', 'B', 'U', 'F'])
                    .starts_with(['"', '\'']);
                st.binds.is_empty() && !string && first != "pass" && first != "..."
            }
            StmtKind::CompoundHeader => {
                first.starts_with("with ") || first.starts_with("async with ")
            }
            _ => false,
        };
        acts.then_some(st.start)
    })
}

/// Names that carry a function's result to tests that never run its lines:
/// the cached functions and fixtures among `d` and the definitions around it.
pub fn carrier_names(m: &Module, d: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut cur = Some(d);
    while let Some(id) = cur {
        let def = &m.defs()[id];
        if def.cached || def.fixture.is_some() {
            names.push(def.name.clone());
            if let Some(f) = &def.fixture {
                names.push(f.name.clone());
            }
        }
        cur = def.parent;
    }
    names
}
