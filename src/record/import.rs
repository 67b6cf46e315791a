//! `impact import`: turns coverage.py data files recorded with per-test
//! contexts into a [`Recording`].
//!
//! Context labels are read as pytest node ids: pytest-cov's
//! `<nodeid>|setup|run|teardown` phases are merged into one test, a static
//! context prefix (`ci|<nodeid>|run`) is dropped, and labels that are not node
//! ids (the empty context, a bare static context) are import-time data.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::git::{Entry, Repo, Target};
use crate::numbits;
use crate::python::pytest::{import_side_effect, is_test_file};
use crate::record::Recording;
use crate::store::CoverageFile;

/// What a label of a coverage.py context means to us.
#[derive(Debug, PartialEq, Eq)]
pub enum Label<'a> {
    /// Lines run outside any test (collection, imports).
    ImportTime,
    /// Lines run outside any test while the module at this path (relative
    /// to the repository) was imported, its own code (`impact run`'s
    /// plugin).
    Imported(&'a str),
    /// Lines run by the test with this node id.
    Test(&'a str),
    /// Lines run by a unit that serves many tests (`impact run`'s plugin:
    /// a wider-scoped fixture's setup, a memoised function's first call).
    Unit(&'a str),
}

/// The context label prefix of units (the plugin's `UNIT_PREFIX`).
pub const UNIT_PREFIX: &str = "impact-unit:";

/// The context label prefix of a module's import (the plugin's
/// `IMPORT_PREFIX`).
pub const IMPORT_PREFIX: &str = "impact-import:";

/// Interprets a context label. Node ids contain `::`; pytest-cov appends a
/// phase; coverage.py's static context comes first, before a `|`.
pub fn parse_label(label: &str) -> Label<'_> {
    if let Some(key) = label.strip_prefix(UNIT_PREFIX) {
        return Label::Unit(key);
    }
    if let Some(module) = label.strip_prefix(IMPORT_PREFIX) {
        return Label::Imported(module);
    }
    let mut id = label;
    for phase in ["|setup", "|run", "|teardown", "|call"] {
        if let Some(stripped) = id.strip_suffix(phase) {
            id = stripped;
            break;
        }
    }
    if !id.contains("::") {
        return Label::ImportTime;
    }
    // A static prefix cannot contain "::" and sits before the first '|';
    // a '|' inside a node id (in a parameter id) comes after its "::".
    if let Some((prefix, rest)) = id.split_once('|')
        && !prefix.contains("::")
        && rest.contains("::")
    {
        id = rest;
    }
    Label::Test(id)
}

/// What an import found, besides the recording.
#[derive(Debug, Default)]
pub struct ImportNotes {
    /// Messages for the user about data left out, and why.
    pub warnings: Vec<String>,
}

/// Reads the coverage files an `impact run` wrote (contexts are node ids;
/// a run may have tests that executed no measured line) into a recording
/// with baselines from `target`.
pub fn read_coverage_run(repo: &Repo, files: &[PathBuf], target: &Target) -> Result<Recording> {
    let mut rec = Recording {
        attributed: true,
        ..Default::default()
    };
    let mut notes = ImportNotes::default();
    collect(repo, files, false, &mut rec, &mut notes)?;
    attach_baselines(repo, target, None, &mut rec, &mut notes)?;
    keep_own_imports(&mut rec);
    rec.commit = repo.head()?;
    Ok(rec)
}

/// Reads coverage files into one recording; baselines come from the work tree
/// or from `rev`.
pub fn read_coverage_files(
    repo: &Repo,
    files: &[PathBuf],
    rev: Option<&str>,
) -> Result<(Recording, ImportNotes)> {
    let target = match rev {
        None => Target::WorkTree,
        Some(r) => {
            Target::Commit(
                repo.resolve_commit(r)?
                    .ok_or_else(|| Error::UnknownRevision {
                        rev: r.to_string(),
                        root: repo.root().to_path_buf(),
                    })?,
            )
        }
    };
    let mut rec = Recording {
        kind: "import",
        ..Default::default()
    };
    let mut notes = ImportNotes::default();
    collect(repo, files, true, &mut rec, &mut notes)?;
    attach_baselines(repo, &target, rev, &mut rec, &mut notes)?;
    rec.commit = match &target {
        Target::Commit(c) => Some(c.clone()),
        _ => repo.head()?,
    };
    Ok((rec, notes))
}

/// Adds the line data of coverage files to a recording. With `require_tests`,
/// a file without per-test contexts is an error.
fn collect(
    repo: &Repo,
    files: &[PathBuf],
    require_tests: bool,
    rec: &mut Recording,
    notes: &mut ImportNotes,
) -> Result<()> {
    let root = canonical(repo.root());
    let mut outside = BTreeMap::<String, usize>::new();
    for file in files {
        let data = CoverageFile::read(file).map_err(|reason| Error::CoverageFile {
            path: file.clone(),
            reason,
        })?;
        let labels: Vec<Label<'_>> = data.contexts.iter().map(|c| parse_label(c)).collect();
        if require_tests && !labels.iter().any(|l| matches!(l, Label::Test(_))) {
            return Err(no_test_contexts(file, &data.contexts));
        }
        let base_dir = file
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .map(canonical)
            .unwrap_or_else(|| root.clone());
        let mut mapped: Vec<Option<String>> = Vec::with_capacity(data.paths.len());
        for stored in &data.paths {
            let path = map_path(&root, &base_dir, stored);
            if path.is_none() {
                *outside.entry(stored.clone()).or_default() += 1;
            }
            mapped.push(path);
        }
        add_rows(rec, &data.rows, &labels, &mapped);
        // A test that executed no measured line still has a context row.
        for label in &labels {
            if let Label::Test(id) = label {
                rec.tests.entry(id.to_string()).or_default();
            }
        }
    }
    if !outside.is_empty() {
        let examples: Vec<&str> = outside.keys().take(3).map(String::as_str).collect();
        notes.warnings.push(format!(
            "left out {} measured file(s) outside the repository {} (e.g. {})",
            outside.len(),
            repo.root().display(),
            examples.join(", ")
        ));
    }
    Ok(())
}

/// The error for a coverage file without per-test contexts, naming some of
/// the contexts it has.
fn no_test_contexts(file: &Path, contexts: &[String]) -> Error {
    let seen = contexts
        .iter()
        .filter(|c| !c.is_empty())
        .take(3)
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>();
    let detail = if seen.is_empty() {
        "it has no per-test contexts".to_string()
    } else {
        format!("its contexts ({}) are not pytest node ids", seen.join(", "))
    };
    Error::Import {
        path: file.to_owned(),
        reason: format!(
            "{detail}; record it with per-test contexts, e.g. \
             `pytest --cov=PACKAGE --cov-context=test`"
        ),
    }
}

/// Adds one coverage file's rows to the recording, by what each context
/// label means; rows of files outside the repository (`None`) are left out.
fn add_rows(
    rec: &mut Recording,
    rows: &[(usize, usize, Vec<u8>)],
    labels: &[Label<'_>],
    mapped: &[Option<String>],
) {
    for (file_index, context_index, bits) in rows {
        let Some(path) = &mapped[*file_index] else {
            continue;
        };
        let slot = match labels[*context_index] {
            Label::ImportTime | Label::Imported(_) => {
                if rec.attributed {
                    // Only a test module's import is its own: what other
                    // modules' imports ran serves every importer.
                    let by = match labels[*context_index] {
                        Label::Imported(m) if is_test_file(m) => m,
                        _ => "",
                    };
                    let slot = rec
                        .import_by
                        .entry(path.clone())
                        .or_default()
                        .entry(by.to_string())
                        .or_default();
                    *slot = numbits::union(slot, bits);
                }
                rec.import_time.entry(path.clone()).or_default()
            }
            Label::Unit(key) => rec
                .units
                .entry(key.to_string())
                .or_default()
                .entry(path.clone())
                .or_default(),
            Label::Test(id) => rec
                .tests
                .entry(id.to_string())
                .or_default()
                .lines
                .entry(path.clone())
                .or_default(),
        };
        *slot = numbits::union(slot, bits);
    }
}

/// A test module's import is its own only when its module-level code acts
/// on nothing outside it ([`import_side_effect`]): what the imports of the
/// others ran counts as run at import by no module in particular.
fn keep_own_imports(rec: &mut Recording) {
    let modules: std::collections::BTreeSet<&String> = rec
        .import_by
        .values()
        .flat_map(|by| by.keys())
        .filter(|m| !m.is_empty())
        .collect();
    let shared: Vec<String> = modules
        .into_iter()
        .filter(|m| {
            // Not read (missing) counts as acting outside, as does a side effect.
            rec.sources
                .get(*m)
                .is_none_or(|src| import_side_effect(&crate::python::parse(src), src).is_some())
        })
        .cloned()
        .collect();
    for by in rec.import_by.values_mut() {
        for module in &shared {
            if let Some(bits) = by.remove(module) {
                let slot = by.entry(String::new()).or_default();
                *slot = numbits::union(slot, &bits);
            }
        }
    }
}

/// Reads each measured file's baseline from `target`; files missing there are
/// left out with a warning.
fn attach_baselines(
    repo: &Repo,
    target: &Target,
    rev: Option<&str>,
    rec: &mut Recording,
    notes: &mut ImportNotes,
) -> Result<()> {
    // Baselines: the content the recorded line numbers refer to.
    let paths: Vec<String> = rec
        .import_time
        .keys()
        .chain(rec.tests.values().flat_map(|t| t.lines.keys()))
        .chain(rec.units.values().flat_map(|u| u.keys()))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut missing = Vec::new();
    for path in paths {
        match repo.read(target, &path)? {
            Some(Entry::File { content, .. }) => {
                rec.sources.insert(path, content);
            }
            _ => missing.push(path),
        }
    }
    if !missing.is_empty() {
        for t in rec.tests.values_mut() {
            for m in &missing {
                t.lines.remove(m);
            }
        }
        for m in &missing {
            rec.import_time.remove(m);
            rec.import_by.remove(m);
            for u in rec.units.values_mut() {
                u.remove(m);
            }
        }
        notes.warnings.push(format!(
            "left out {} measured file(s) missing from {}: {}",
            missing.len(),
            match rev {
                Some(r) => format!("revision {r}"),
                None => "the work tree".into(),
            },
            missing
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(())
}

/// Maps a path as coverage.py stored it to a repository-relative path.
/// Relative paths are taken relative to the directory holding the data file
/// (where coverage ran). An absolute path from another machine is matched by
/// its longest suffix that exists in this repository.
fn map_path(root: &Path, base_dir: &Path, stored: &str) -> Option<String> {
    let stored_path = Path::new(stored);
    let absolute = if stored_path.is_absolute() {
        normalize(stored_path)
    } else {
        normalize(&base_dir.join(stored_path))
    };
    if let Ok(rel) = absolute.strip_prefix(root) {
        return to_repo_path(rel);
    }
    // Recorded elsewhere (another checkout path, a CI machine).
    let comps: Vec<Component<'_>> = absolute.components().collect();
    for start in 1..comps.len() {
        let rest: PathBuf = comps[start..].iter().collect();
        if root.join(&rest).is_file() {
            return to_repo_path(&rest);
        }
    }
    None
}

fn to_repo_path(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str().map(str::to_string),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Resolves `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_pytest_cov_and_static_contexts() {
        let t = "tests/test_calc.py::TestK::test_param[1]";
        assert_eq!(parse_label(""), Label::ImportTime);
        assert_eq!(parse_label(&format!("{t}|run")), Label::Test(t));
        assert_eq!(parse_label(&format!("{t}|setup")), Label::Test(t));
        assert_eq!(parse_label(&format!("{t}|teardown")), Label::Test(t));
        assert_eq!(parse_label(t), Label::Test(t));
        assert_eq!(parse_label(&format!("ci|{t}|run")), Label::Test(t));
        assert_eq!(parse_label("ci"), Label::ImportTime);
        let piped = "tests/t.py::test_x[a|b]";
        assert_eq!(parse_label(&format!("{piped}|run")), Label::Test(piped));
        assert_eq!(parse_label("tests.test_x.test_y"), Label::ImportTime);
        assert_eq!(
            parse_label("impact-unit:fixture:catalog"),
            Label::Unit("fixture:catalog")
        );
        assert_eq!(
            parse_label("impact-import:tests/test_x.py"),
            Label::Imported("tests/test_x.py")
        );
    }

    /// The plugin labels contexts with the same prefixes this file parses.
    #[test]
    fn the_plugin_spells_the_label_prefixes_alike() {
        let plugin = include_str!("../run/impact_pytest.py");
        for (name, value) in [
            ("UNIT_PREFIX", UNIT_PREFIX),
            ("IMPORT_PREFIX", IMPORT_PREFIX),
        ] {
            assert!(
                plugin.contains(&format!("{name} = \"{value}\"")),
                "impact_pytest.py defines {name} = \"{value}\""
            );
        }
    }

    #[test]
    fn maps_paths_into_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let root = canonical(dir.path());
        std::fs::create_dir_all(root.join("shop")).unwrap();
        std::fs::write(root.join("shop/a.py"), "x = 1\n").unwrap();
        let abs = root.join("shop/a.py");
        assert_eq!(
            map_path(&root, &root, abs.to_str().unwrap()),
            Some("shop/a.py".into())
        );
        assert_eq!(
            map_path(&root, &root, "shop/a.py"),
            Some("shop/a.py".into())
        );
        assert_eq!(
            map_path(&root, &root.join("shop"), "../shop/./a.py"),
            Some("shop/a.py".into())
        );
        assert_eq!(
            map_path(&root, &root, "/ci/build/project/shop/a.py"),
            Some("shop/a.py".into())
        );
        assert_eq!(map_path(&root, &root, "/usr/lib/python3/os.py"), None);
    }
}
