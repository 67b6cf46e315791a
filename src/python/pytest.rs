//! pytest's conventions as selection needs them: which files are test files
//! and conftests (the test side, searched statically), and which definitions
//! carry a result to tests that never run its lines (fixtures, memoised
//! functions).

use super::Module;

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
