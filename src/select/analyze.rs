//! From one changed file to its effects: which recorded lines changed, which
//! definitions changed, whether module-level code changed, which tests are new.
//!
//! coverage.py records only some lines of a multi-line statement and records
//! definition-time lines (def headers, decorators, class bodies) at import
//! time, outside any test. So each changed line is widened to its whole
//! statement, a header change counts for the whole body, and code that runs
//! at import is followed by name and by import instead of by executed line.

use std::collections::BTreeSet;

use crate::change::{Change, Status};
use crate::config::Config;
use crate::git::LineDiff;
use crate::python::facts::is_python;
use crate::python::pytest::{carrier_names, is_conftest, is_test_file};
use crate::python::tokens::strip_comments;
use crate::python::{self, DefKind, Module, Scope, Statement, StmtKind};

/// One consequence of a change, resolved into tests by `resolve`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Recorded lines of a known file changed (baseline numbering).
    Lines { path: String, lines: Vec<u32> },
    /// Lines inside a function changed; if they ran at import time (a one-time
    /// initialiser), the function's result reaches tests without running in them.
    /// The recorded import-time lines decide: only when the data cannot tell
    /// (`header`, the lines of the outermost definition around them, did not
    /// run at import outside tests) does `called` (module-level code names
    /// the definition) make it an initialiser.
    ImportTimeLines {
        path: String,
        lines: Vec<u32>,
        name: String,
        header: Vec<u32>,
        called: bool,
    },
    /// The whole file changed in kind (deleted, binary, symlink).
    WholeFile { path: String },
    /// Definitions bound under these names changed.
    Names { path: String, names: Vec<String> },
    /// Module-level code with effects beyond the names it binds changed.
    Module { path: String },
    /// A conftest.py or plugin hook changed: every test under `dir`.
    Scope { path: String, dir: String },
    /// Test functions (ids relative to the file) that are new or changed.
    TestFunctions { path: String, ids: Vec<String> },
    /// A test file not measured by the data changed: all its tests.
    TestFile { path: String },
    /// Doctests collected from this module.
    Doctests { path: String },
    /// Code that runs only when the module is executed (`python -m`, `__main__`
    /// blocks): tests that name the module.
    ModuleNamed { path: String },
    /// A module changed: tests that name it, or a module that imports it, in a
    /// string (`python -m pkg.cli` in a subprocess, `mock.patch("pkg.mod.x")`).
    /// `body_only`: the change is inside function bodies, so it matters only
    /// to tests that run those lines, and tests recorded by `impact run`
    /// have their measured children's lines (or always run when a child
    /// escaped measurement).
    ModuleString { path: String, body_only: bool },
    /// A file the data has no lines for changed: code and tests that name it
    /// (`open(DATA_DIR / "users.json")`).
    FileNamed { path: String },
    /// A file that is not Python changed: the tests recorded reading it.
    Read { path: String },
    /// A configured rule maps the file to tests.
    Mapped {
        path: String,
        pattern: String,
        selectors: Vec<crate::config::Selector>,
    },
}

pub use crate::python::dir_of;

/// The effects of one change.
pub fn effects(change: &Change, config: &Config) -> Vec<Effect> {
    let mut out = Vec::new();
    let path = change.path.as_str();
    for (rules, selectors) in &config.map {
        for p in [Some(path), change.old_path.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(pattern) = rules.matching(p) {
                out.push(Effect::Mapped {
                    path: path.to_string(),
                    pattern: pattern.to_string(),
                    selectors: selectors.clone(),
                });
            }
        }
    }
    match change.known_path() {
        Some(known) => known_file(change, known, &mut out),
        None => unknown_file(change, &mut out),
    }
    let code_changed = out
        .iter()
        .any(|e| !matches!(e, Effect::Mapped { .. } | Effect::Doctests { .. }));
    if is_python(path) && code_changed && !is_test_file(path) && !is_conftest(path) {
        let body_only = out.iter().all(|e| {
            matches!(
                e,
                Effect::Lines { .. }
                    | Effect::ImportTimeLines { .. }
                    | Effect::Mapped { .. }
                    | Effect::Doctests { .. }
            )
        });
        out.push(Effect::ModuleString {
            path: change.known_path().unwrap_or(path).to_string(),
            body_only,
        });
    }
    if !is_python(path) && change.known_path().is_none() {
        out.push(Effect::FileNamed {
            path: path.to_string(),
        });
    }
    if !is_python(path) {
        // A renamed file is gone under the name the tests read.
        for p in [Some(path), change.old_path.as_deref()]
            .into_iter()
            .flatten()
        {
            out.push(Effect::Read {
                path: p.to_string(),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

fn known_file(change: &Change, known: &str, out: &mut Vec<Effect>) {
    let py = is_python(known) || is_python(&change.path);
    let baseline = change.baseline.as_deref().unwrap_or_default();
    let text_change = match (&change.current, change.diff()) {
        (Some(current), Some(LineDiff::Text(hunks))) => Some((current, hunks)),
        _ => None,
    };
    let Some((current, hunks)) = text_change else {
        gone_file(known, py, baseline, out);
        return;
    };
    if !py {
        // Not Python: changed lines, and the lines around insertions.
        out.push(Effect::Lines {
            path: known.to_string(),
            lines: hunk_lines(hunks),
        });
        return;
    }
    // Compare code, not comments: a comment edit on a code line is no change.
    let hunks = match code_diff(baseline, current) {
        LineDiff::Text(h) => h,
        LineDiff::Binary => hunks.clone(),
    };
    let hunks = &hunks;
    let (old, new) = parse_changed(change, known, current, hunks);
    let mut ctx = PyChange {
        known,
        old: &old,
        new: &new,
        old_src: baseline,
        new_src: current,
        same_shape: false,
    };
    for h in hunks {
        ctx.same_shape = same_shape(baseline, current, h);
        if h.old_lines > 0 {
            for line in h.old_start..h.old_start + h.old_lines {
                ctx.old_line(line, out);
            }
        } else if (h.new_start..h.new_start + h.new_lines).any(|l| new.statement_at(l).is_some()) {
            around_insertion(known, &old, h.old_start, out);
        }
        for line in h.new_start..h.new_start + h.new_lines {
            ctx.new_line(line, h.old_lines == 0, out);
        }
    }
    if is_test_file(&change.path) {
        // Test functions added to a known test file are new tests.
        let ids: Vec<String> = new.test_functions().into_iter().map(|t| t.id).collect();
        if !ids.is_empty() {
            out.push(Effect::TestFunctions {
                path: change.path.clone(),
                ids: new_only(&old, ids),
            });
        }
    }
    out.retain(|e| !matches!(e, Effect::TestFunctions { ids, .. } if ids.is_empty()));
}

/// Deleted, binary, or no longer a regular file: everything it did changed.
fn gone_file(known: &str, py: bool, baseline: &[u8], out: &mut Vec<Effect>) {
    out.push(Effect::WholeFile {
        path: known.to_string(),
    });
    if py {
        out.push(Effect::Module {
            path: known.to_string(),
        });
        let old = python::parse(baseline);
        let names: BTreeSet<String> = old
            .statements()
            .iter()
            .filter(|s| matches!(s.scope, Scope::Module))
            .flat_map(|s| s.binds.iter().cloned())
            .filter(|n| n != "*")
            .collect();
        if !names.is_empty() {
            out.push(Effect::Names {
                path: known.to_string(),
                names: names.into_iter().collect(),
            });
        }
        if is_conftest(known) {
            out.push(Effect::Scope {
                path: known.to_string(),
                dir: dir_of(known),
            });
        }
    }
}

/// A pure insertion of code after baseline line `after_line`: the
/// statements around it.
fn around_insertion(known: &str, old: &Module, after_line: u32, out: &mut Vec<Effect>) {
    let before = (1..=after_line)
        .rev()
        .find(|&l| old.statement_at(l).is_some());
    let after = (after_line + 1..=old.line_count()).find(|&l| old.statement_at(l).is_some());
    for l in [before, after].into_iter().flatten() {
        if let Some(st) = old.statement_at(l) {
            out.push(Effect::Lines {
                path: known.to_string(),
                lines: span(st),
            });
        }
    }
}

/// The baseline and current parse of a changed Python file: only the
/// changed regions when the baseline's outline allows (test files and
/// conftests are always parsed whole: their tests and fixtures are listed
/// from the whole file).
fn parse_changed(
    change: &Change,
    known: &str,
    current: &[u8],
    hunks: &[crate::git::Hunk],
) -> (Module, Module) {
    let baseline = change.baseline.as_deref().unwrap_or_default();
    let whole_file_needed = is_test_file(&change.path) || is_conftest(known);
    if !whole_file_needed
        && let Some(outline) = &change.outline
        && let Some(pair) = python::parse_pair_in_regions(baseline, current, outline, hunks)
    {
        return pair;
    }
    python::parse_pair(baseline, current)
}

/// Test ids of `ids` that the old version of the file did not define.
fn new_only(old: &Module, ids: Vec<String>) -> Vec<String> {
    let before: BTreeSet<String> = old.test_functions().into_iter().map(|t| t.id).collect();
    ids.into_iter().filter(|id| !before.contains(id)).collect()
}

fn unknown_file(change: &Change, out: &mut Vec<Effect>) {
    let path = change.path.as_str();
    if !is_python(path) {
        return;
    }
    if (is_conftest(path) || is_test_file(path))
        && let (Some(previous), Some(current)) = (&change.previous, &change.current)
    {
        unmeasured_test_side(path, previous, current, out);
        return;
    }
    if is_conftest(path) {
        out.push(Effect::Scope {
            path: path.to_string(),
            dir: dir_of(path),
        });
        return;
    }
    if is_test_file(path) {
        match (change.status, &change.current) {
            (Status::Added, Some(content)) => {
                let ids: Vec<String> = python::parse(content)
                    .test_functions()
                    .into_iter()
                    .map(|t| t.id)
                    .collect();
                out.push(Effect::TestFunctions {
                    path: path.to_string(),
                    ids,
                });
            }
            _ => out.push(Effect::TestFile {
                path: path.to_string(),
            }),
        }
        return;
    }
    // A Python file the data has no lines for (not measured, or new): tests
    // that import or name it.
    if change.status != Status::Added {
        out.push(Effect::ModuleNamed {
            path: path.to_string(),
        });
    }
}

/// A test file or conftest the data has no lines for, diffed against its
/// previous version: a changed test selects itself, a changed fixture or
/// helper passes the change on by name, module-level code selects the file
/// (or the conftest's directory).
fn unmeasured_test_side(path: &str, previous: &[u8], current: &[u8], out: &mut Vec<Effect>) {
    let hunks = match code_diff(previous, current) {
        LineDiff::Text(h) => h,
        LineDiff::Binary => {
            out.push(whole_test_side_file(path));
            return;
        }
    };
    let (old, new) = python::parse_pair(previous, current);
    for h in &hunks {
        let sides = [
            (&old, previous, h.old_start..h.old_start + h.old_lines),
            (&new, current, h.new_start..h.new_start + h.new_lines),
        ];
        for (m, src, lines) in sides {
            let tests: std::collections::BTreeMap<usize, String> = m
                .test_functions()
                .into_iter()
                .map(|t| (t.def, t.id))
                .collect();
            for line in lines {
                let Some(st) = m.statement_at(line) else {
                    continue;
                };
                if is_docstring(st, src) {
                    continue;
                }
                test_side_statement(path, m, &tests, st, out);
            }
        }
    }
}

fn test_side_statement(
    path: &str,
    m: &Module,
    tests: &std::collections::BTreeMap<usize, String>,
    st: &Statement,
    out: &mut Vec<Effect>,
) {
    let start = match (st.kind, st.scope) {
        (StmtKind::DefHeader(d) | StmtKind::ClassHeader(d), _) => Some(d),
        (_, Scope::Function(d) | Scope::Class(d)) => Some(d),
        (_, Scope::Module) => None,
    };
    let whole = || whole_test_side_file(path);
    let mut cur = start;
    while let Some(d) = cur {
        if let Some(id) = tests.get(&d) {
            out.push(Effect::TestFunctions {
                path: path.to_string(),
                ids: vec![id.clone()],
            });
            return;
        }
        cur = m.defs()[d].parent;
    }
    let Some(d) = start else {
        // Module level: the names it binds, or the whole file when it binds none.
        let names: Vec<String> = st.binds.iter().filter(|b| *b != "*").cloned().collect();
        if names.is_empty()
            || st.binds.iter().any(|b| b == "*")
            || st.kind == StmtKind::CompoundHeader
        {
            out.push(whole());
        } else {
            out.push(Effect::Names {
                path: path.to_string(),
                names,
            });
        }
        return;
    };
    let mut names = Vec::new();
    let mut cur = Some(d);
    while let Some(id) = cur {
        let def = &m.defs()[id];
        names.push(def.name.clone());
        if let Some(f) = &def.fixture {
            names.push(f.name.clone());
            if f.autouse {
                out.push(whole());
            }
        }
        if def.parent.is_none() && def.name.starts_with("pytest_") {
            out.push(whole());
        }
        if def.kind == DefKind::Class
            && tests
                .values()
                .any(|t| t.starts_with(&format!("{}::", def.name)))
        {
            // Class-level code of a test class: its tests.
            out.push(Effect::TestFunctions {
                path: path.to_string(),
                ids: vec![def.name.clone()],
            });
        }
        cur = def.parent;
    }
    out.push(Effect::Names {
        path: path.to_string(),
        names,
    });
}

/// Every test a test-side file affects: a conftest's directory, or a test
/// file's tests.
fn whole_test_side_file(path: &str) -> Effect {
    if is_conftest(path) {
        Effect::Scope {
            path: path.to_string(),
            dir: dir_of(path),
        }
    } else {
        Effect::TestFile {
            path: path.to_string(),
        }
    }
}

/// The changed lines of a diff in the old numbering; a pure insertion counts
/// as the lines around it.
pub fn hunk_lines(hunks: &[crate::git::Hunk]) -> Vec<u32> {
    let mut lines = BTreeSet::new();
    for h in hunks {
        if h.old_lines == 0 {
            lines.insert(h.old_start.max(1));
            lines.insert(h.old_start + 1);
        } else {
            lines.extend(h.old_start..h.old_start + h.old_lines);
        }
    }
    lines.into_iter().collect()
}

/// A changed, known Python file: its old and new parse.
struct PyChange<'a> {
    known: &'a str,
    old: &'a Module,
    new: &'a Module,
    old_src: &'a [u8],
    new_src: &'a [u8],
    /// The hunk being analysed replaced its lines one for one, each at the
    /// same indentation (see [`same_shape`]).
    same_shape: bool,
}

impl PyChange<'_> {
    fn path(&self) -> String {
        self.known.to_string()
    }

    /// A changed line of the baseline.
    fn old_line(&self, line: u32, out: &mut Vec<Effect>) {
        let Some(st) = self.old.statement_at(line) else {
            return; // blank or comment-only
        };
        out.push(Effect::Lines {
            path: self.path(),
            lines: span(st),
        });
        self.classify(self.old, self.old_src, st, line, true, out);
    }

    /// A changed or inserted line of the new version. Inserted code inside a
    /// function counts for the whole function body (there is no recorded line
    /// to match); a replaced line is covered by its old statement.
    fn new_line(&self, line: u32, inserted: bool, out: &mut Vec<Effect>) {
        let Some(st) = self.new.statement_at(line) else {
            return;
        };
        if let Scope::Function(d) = st.scope
            && inserted
            && !matches!(st.kind, StmtKind::DefHeader(_) | StmtKind::ClassHeader(_))
        {
            self.body_of(self.new, d, false, out);
        }
        self.classify(self.new, self.new_src, st, line, false, out);
    }

    /// Effects of a changed statement, beyond its own lines.
    fn classify(
        &self,
        m: &Module,
        src: &[u8],
        st: &Statement,
        line: u32,
        old_side: bool,
        out: &mut Vec<Effect>,
    ) {
        let path = self.path();
        if is_docstring(st, src) {
            out.push(Effect::Doctests { path });
            return;
        }
        if m.in_main_block(line) {
            out.push(Effect::ModuleNamed { path });
            return;
        }
        match (st.kind, st.scope) {
            (StmtKind::DefHeader(d) | StmtKind::ClassHeader(d), _) => {
                self.header(m, d, old_side, out)
            }
            (_, Scope::Function(d)) => self.function_body(m, st, d, old_side, out),
            (_, Scope::Module | Scope::Class(_)) => self.binding_statement(m, st, old_side, out),
        }
    }

    /// A def or class header: what its name binds changes, and so may its
    /// whole body's meaning (parameters, decorators, bases).
    fn header(&self, m: &Module, d: usize, old_side: bool, out: &mut Vec<Effect>) {
        let path = self.path();
        let def = &m.defs()[d];
        let mut names = vec![def.name.clone()];
        if let Some(f) = &def.fixture {
            names.push(f.name.clone());
        }
        out.push(Effect::Names {
            path: path.clone(),
            names,
        });
        self.body_of(m, d, old_side, out);
        if let Some(parent) = m.enclosing_function(def.parent) {
            self.body_of(m, parent, old_side, out);
        }
        if is_conftest(self.known) && def.parent.is_none() && def.fixture.is_none() {
            // A hook or helper in a conftest: it applies to the directory.
            out.push(Effect::Scope {
                path: path.clone(),
                dir: dir_of(self.known),
            });
        }
        self.hooks(m, d, out);
    }

    /// A statement in a function body: the names that carry the body's
    /// result (see [`carrier_names`]), and the lines it covers when the
    /// function runs at import or as a script.
    // Long by its comments: each case says why a body change reaches tests
    // it did not run in, and the old side, the new side and the script
    // block are decided together, so that none is left without an effect.
    fn function_body(
        &self,
        m: &Module,
        st: &Statement,
        d: usize,
        old_side: bool,
        out: &mut Vec<Effect>,
    ) {
        let path = self.path();
        let names = carrier_names(m, d);
        if !names.is_empty() {
            out.push(Effect::Names {
                path: path.clone(),
                names,
            });
        }
        let top = outermost(m, d);
        if old_side && m.called_in_main_block(&top) {
            // Run as a script: the tests whose (child) processes ran
            // the script's block, as recorded.
            out.push(Effect::Lines {
                path: path.clone(),
                lines: m.main_block_lines(),
            });
        }
        // A body change does not change what the definition's
        // name binds; it reaches tests without running in them
        // only when it ran at import (a one-time initialiser,
        // whose result is bound then). Which lines ran at import
        // is recorded: the resolver asks the data, and falls
        // back on "module-level code names it" only when the
        // data cannot tell.
        let called = m.called_at_import(&top);
        let top_def = outermost_def(m, d);
        let header = |m: &Module| {
            let def = &m.defs()[top_def];
            (def.header.0..=def.header.1).collect::<Vec<u32>>()
        };
        // The header's lines run whenever the definition does:
        // a one-line `def f(): ...` tells nothing of its body.
        if !old_side && self.same_shape {
            // Each new line sits where an old one was, in the same block:
            // it runs at import exactly when that old line's statement
            // did, which the old side's effect asks.
        } else if old_side {
            let own_header = m.defs()[d].header.1;
            out.push(Effect::ImportTimeLines {
                path: path.clone(),
                lines: span(st).into_iter().filter(|l| *l > own_header).collect(),
                name: top,
                header: header(m),
                called,
            });
        } else {
            // New code in a function runs at import when the
            // function's body did: its baseline bodies tell (all
            // of a name's definitions: `typing.overload`s and the
            // implementation, or a function defined again).
            let (def, top) = (&m.defs()[d], &m.defs()[top_def]);
            let in_old = |d: &python::Def| self.old.def_header_and_body(&d.qualname, d.kind);
            let bodies: Vec<u32> = in_old(def)
                .into_iter()
                .flat_map(|(own_header, body)| (body.0..=body.1).filter(move |l| *l > own_header.1))
                .collect();
            match (in_old(def).is_empty(), in_old(top).first()) {
                (false, Some((header, _))) => out.push(Effect::ImportTimeLines {
                    path: path.clone(),
                    lines: bodies,
                    name: top.name.clone(),
                    header: (header.0..=header.1).collect(),
                    called,
                }),
                _ if called => {
                    out.push(Effect::Names {
                        path: path.clone(),
                        names: vec![top.name.clone()],
                    });
                    out.push(Effect::Module { path: path.clone() });
                }
                _ => {}
            }
        }
        self.hooks(m, d, out);
    }

    /// A module- or class-level statement: the names it binds (and the
    /// class's), and the module when it does more than bind.
    fn binding_statement(&self, m: &Module, st: &Statement, old_side: bool, out: &mut Vec<Effect>) {
        let path = self.path();
        let mut names: Vec<String> = st
            .binds
            .iter()
            .filter(|n| n.as_str() != "*")
            .cloned()
            .collect();
        if let Scope::Class(c) = st.scope {
            names.push(m.defs()[c].name.clone());
            if !old_side {
                self.body_of(m, c, false, out);
            }
        }
        if !names.is_empty() {
            out.push(Effect::Names {
                path: path.clone(),
                names,
            });
        }
        let pure_binding = !st.binds.is_empty()
            && !st.binds.iter().any(|b| b == "*")
            && st.kind != StmtKind::CompoundHeader;
        if !pure_binding {
            out.push(Effect::Module { path: path.clone() });
        }
        if is_conftest(self.known) && matches!(st.scope, Scope::Module) {
            out.push(Effect::Scope {
                path,
                dir: dir_of(self.known),
            });
        }
    }

    /// Every recorded line of a definition's body, in baseline numbering; for
    /// the new side, found by qualified name.
    fn body_of(&self, m: &Module, d: usize, old_side: bool, out: &mut Vec<Effect>) {
        let def = &m.defs()[d];
        let old_def = if old_side {
            Some((def.header.0, def.body.1))
        } else {
            self.old.def_lines(&def.qualname, def.kind)
        };
        if let Some((first, last)) = old_def {
            out.push(Effect::Lines {
                path: self.path(),
                lines: (first..=last).collect(),
            });
        }
    }

    /// pytest hooks run outside tests (collection, session): their scope.
    fn hooks(&self, m: &Module, d: usize, out: &mut Vec<Effect>) {
        let mut cur = Some(d);
        while let Some(id) = cur {
            let def = &m.defs()[id];
            if def.kind == DefKind::Function
                && def.name.starts_with("pytest_")
                && def.parent.is_none()
            {
                out.push(Effect::Scope {
                    path: self.path(),
                    dir: dir_of(self.known),
                });
            }
            cur = def.parent;
        }
    }
}

/// The name bound at module level by the outermost definition around `d`.
fn outermost(m: &Module, d: usize) -> String {
    m.defs()[outermost_def(m, d)].name.clone()
}

/// The outermost definition around `d` (itself at module level).
fn outermost_def(m: &Module, d: usize) -> usize {
    let mut id = d;
    while let Some(p) = m.defs()[id].parent {
        id = p;
    }
    id
}

fn span(st: &Statement) -> Vec<u32> {
    (st.start..=st.end).collect()
}

/// Whether a hunk replaced its lines one for one, each new line indented as
/// the old one it replaces: then every new statement starts where an old
/// one started, inside the same blocks, and is reached when that one was.
fn same_shape(old_src: &[u8], new_src: &[u8], h: &crate::git::Hunk) -> bool {
    if h.old_lines == 0 || h.old_lines != h.new_lines {
        return false;
    }
    let indent = |line: &[u8]| {
        line.iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count()
    };
    fn lines(src: &[u8], start: u32, n: u32) -> impl Iterator<Item = &[u8]> {
        src.split(|b| *b == b'\n')
            .skip(start.saturating_sub(1) as usize)
            .take(n as usize)
    }
    let old = lines(old_src, h.old_start, h.old_lines);
    let new = lines(new_src, h.new_start, h.new_lines);
    let mut pairs = 0;
    let alike = old.zip(new).all(|(o, n)| {
        pairs += 1;
        let (i, j) = (indent(o), indent(n));
        i == j && (o.len() == i) == (n.len() == j)
    });
    alike && pairs == h.old_lines
}

/// A statement that is only a string literal (a docstring).
fn is_docstring(st: &Statement, src: &[u8]) -> bool {
    if st.kind != StmtKind::Simple || !st.binds.is_empty() {
        return false;
    }
    let text = String::from_utf8_lossy(src);
    let lines: Vec<&str> = text
        .lines()
        .skip(st.start.saturating_sub(1) as usize)
        .take((st.end - st.start + 1) as usize)
        .collect();
    let joined = lines.join("\n");
    let t = joined.trim();
    let body = t.trim_start_matches(['r', 'R', 'u', 'U', 'b', 'B']);
    let quoted = |q: &str| body.starts_with(q) && body.ends_with(q) && body.len() >= 2 * q.len();
    (quoted("\"\"\"") || quoted("'''") || quoted("\"") || quoted("'"))
        && !body.contains("\" +")
        && st.refs.is_empty()
}

/// Where the code of two versions of a Python file differs: their lines
/// with comments and trailing whitespace removed, compared (git's own diff
/// only when they differ in too many lines for ours).
fn code_diff(old: &[u8], new: &[u8]) -> LineDiff {
    let (old, new) = (strip_comments(old), strip_comments(new));
    if crate::git::is_binary(&old) || crate::git::is_binary(&new) {
        return LineDiff::Binary;
    }
    match crate::change::diff::changed_lines(&old, &new) {
        Some(hunks) => LineDiff::Text(hunks),
        None => crate::git::diff_lines(&old, &new),
    }
}

/// A one-line summary of what a file's effects mean.
pub fn describe(effects: &[Effect], change: &Change) -> String {
    // Searches by name are not worth a word unless they find something.
    let effects: Vec<&Effect> = effects
        .iter()
        .filter(|e| {
            !matches!(
                e,
                Effect::ModuleString { .. } | Effect::FileNamed { .. } | Effect::Read { .. }
            )
        })
        .collect();
    if effects.is_empty() {
        return match (change.known_path(), change.status) {
            (Some(_), _) => "no code change (comments, blank lines or line endings)".into(),
            (None, Status::Added) if is_python(&change.path) => {
                "new file; no recorded test uses it yet".into()
            }
            (None, _) => "no recorded test depends on it".into(),
        };
    }
    let mut parts = BTreeSet::new();
    for e in effects {
        parts.insert(match e {
            Effect::Lines { .. } | Effect::ImportTimeLines { .. } => "lines".to_string(),
            Effect::WholeFile { .. } => "whole file".into(),
            Effect::Names { names, .. } => format!("definitions {}", names.join(", ")),
            Effect::Module { .. } => "module-level code".into(),
            Effect::Scope { dir, .. } => format!(
                "conftest/hook scope {}",
                if dir.is_empty() { "." } else { dir }
            ),
            Effect::TestFunctions { ids, .. } => format!("{} new test(s)", ids.len()),
            Effect::TestFile { .. } => "unmeasured test file".into(),
            Effect::Doctests { .. } => "docstrings".into(),
            Effect::ModuleNamed { .. } => "code run as a script".into(),
            Effect::ModuleString { .. } | Effect::FileNamed { .. } | Effect::Read { .. } => {
                continue;
            }
            Effect::Mapped { pattern, .. } => format!("rule `{pattern}`"),
        });
    }
    parts.into_iter().collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Module-level code of every kind selection tells apart, for the
    /// region-parse equivalence test below.
    const TRICKY: &str = r#""""Docstring."""
import functools
from config import RATE, LIMIT as CAP

A = 1; B = A * 2
TOTAL = compute_total(RATE) + \
    CAP
TEXT = """
# not a comment
def not_a_def():
"""

@functools.lru_cache(maxsize=None)
def compute_total(rate=RATE):
    return rate * 2

def init():
    return {"x": 1}

SETTINGS = init()

class Cart(Base, metaclass=Meta):
    MAX = 3

    @property
    def size(self):
        def inner(n):
            return n + self.MAX
        return inner(1)

    class Inner:
        def deep(self):
            return 1

if RATE > 1:
    FAST = True
else:
    FAST = False

try:
    import json
except ImportError:
    json = None

def helper(a,
           b=CAP):
    return (a +
            b)

def one(): return 1

if __name__ == "__main__":
    helper(1)
    one()
"#;

    /// Tiny deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    /// One random edit of a few lines: changes, insertions (of code at
    /// every indentation, of comments, of unbalanced brackets and quotes),
    /// deletions, re-indentation.
    fn edit(src: &str, rng: &mut Rng) -> String {
        let mut lines: Vec<String> = src.split('\n').map(str::to_string).collect();
        let i = rng.next(lines.len());
        let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
        // A name defined elsewhere in the file, for edits that redefine it.
        let defined: Vec<&str> = src
            .lines()
            .filter_map(|l| l.strip_prefix("def ").or_else(|| l.strip_prefix("class ")))
            .filter_map(|rest| rest.split(['(', ':']).next())
            .collect();
        match rng.next(15) {
            13 => lines[i].push_str(" \\"),
            14 => lines.insert(i, format!("{indent}    deeper = 1")),
            12 if !defined.is_empty() => {
                let name = defined[rng.next(defined.len())];
                lines.insert(i, format!("def {name}(v):\n    return v\n"));
            }
            0 => lines[i].push_str(" + 1"),
            1 => lines[i] = format!("{indent}x = (1)"),
            2 => {
                lines.remove(i);
            }
            3 => lines.insert(i, format!("{indent}y = compute_total(2)")),
            4 => lines.insert(i, "NEW = init()".into()),
            5 => lines.insert(i, format!("{indent}# a comment")),
            6 => lines.insert(i, format!("{indent}s = \"\"\"")),
            7 => lines.insert(i, format!("{indent}call(")),
            8 => lines[i] = format!("    {}", lines[i]),
            9 => lines[i] = lines[i].trim_start().to_string(),
            10 => {
                let n = (i + 1 + rng.next(4)).min(lines.len());
                lines.drain(i..n);
            }
            _ => lines.insert(
                i,
                format!("{indent}def added(v=RATE):\n{indent}    return v"),
            ),
        }
        lines.join("\n")
    }

    fn change(path: &str, old: &str, new: &str, outline: bool) -> Change {
        let (baseline, current) = (old.as_bytes().to_vec(), new.as_bytes().to_vec());
        let outline = outline
            .then(|| python::Outline::of(&python::parse(&baseline)))
            .flatten();
        let mut change = Change::new(path.into(), Status::Modified, Some(baseline), Some(current));
        change.outline = outline;
        change
    }

    /// A function the `__main__` block calls changed: the tests whose
    /// (child) processes ran the block are selected by its recorded lines,
    /// also when the block is the usual one line.
    #[test]
    fn a_function_the_main_block_calls_selects_by_the_block_lines() {
        let config = Config::load(&std::env::temp_dir().join("impact-no-config")).unwrap();
        let old = "import sys\n\n\ndef main():\n    return 0\n\n\nif __name__ == \"__main__\":\n    sys.exit(main())\n";
        let new = old.replace("return 0", "return 1");
        for outline in [false, true] {
            let found = effects(&change("shop/cli.py", old, &new, outline), &config);
            assert!(
                found.contains(&Effect::Lines {
                    path: "shop/cli.py".into(),
                    lines: vec![9],
                }),
                "{found:?}"
            );
        }
    }

    /// Parsing only the changed regions must give exactly the effects of
    /// parsing both versions whole, for every edit; and the regions must
    /// actually be used for most of them (or this would test nothing).
    #[test]
    fn region_parse_gives_the_effects_of_a_whole_parse() {
        let config = Config::load(&std::env::temp_dir().join("impact-no-config")).unwrap();
        let sources = [
            ("shop/tricky.py", TRICKY),
            (
                "shop/util.py",
                include_str!("../../fixtures/sample/shop/util.py"),
            ),
            (
                "shop/catalog.py",
                include_str!("../../fixtures/sample/shop/catalog.py"),
            ),
            (
                "shop/pricing.py",
                include_str!("../../fixtures/sample/shop/pricing.py"),
            ),
            (
                "shop/cart.py",
                include_str!("../../fixtures/sample/shop/cart.py"),
            ),
            (
                "shop/cli.py",
                include_str!("../../fixtures/sample/shop/cli.py"),
            ),
            (
                "shop/server.py",
                include_str!("../../fixtures/children/shop/server.py"),
            ),
            (
                "shop/workers.py",
                include_str!("../../fixtures/children/shop/workers.py"),
            ),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut cases, mut partial) = (0, 0);
        for (path, src) in sources {
            assert!(
                python::Outline::of(&python::parse(src.as_bytes())).is_some(),
                "{path}"
            );
            for _ in 0..150 {
                // One to three edits, so that some files have several hunks.
                let mut new = src.to_string();
                for _ in 0..1 + rng.next(3) {
                    new = edit(&new, &mut rng);
                }
                let whole = effects(&change(path, src, &new, false), &config);
                let regions = effects(&change(path, src, &new, true), &config);
                assert_eq!(regions, whole, "{path} edited into:\n{new}");
                cases += 1;
                let c = change(path, src, &new, true);
                if let Some(LineDiff::Text(hunks)) = c.diff()
                    && let Some(outline) = &c.outline
                {
                    let stripped = match code_diff(src.as_bytes(), new.as_bytes()) {
                        LineDiff::Text(h) => h,
                        LineDiff::Binary => hunks.clone(),
                    };
                    if python::parse_pair_in_regions(
                        src.as_bytes(),
                        new.as_bytes(),
                        outline,
                        &stripped,
                    )
                    .is_some()
                    {
                        partial += 1;
                    }
                }
            }
        }
        assert!(
            partial * 2 > cases,
            "regions used for {partial} of {cases} edits"
        );
    }

    #[test]
    fn strips_comments_but_not_strings() {
        let src = b"x = 1  # one\ny = '# not a comment'  # yes\n# whole line\ns = \"\"\"\n# inside\n\"\"\"  # after\n";
        let out = String::from_utf8(strip_comments(src)).unwrap();
        assert_eq!(
            out,
            "x = 1\ny = '# not a comment'\n\ns = \"\"\"\n# inside\n\"\"\"\n"
        );
        // Undecodable bytes and CRLF do not break it.
        assert_eq!(
            strip_comments(b"x = '\xff\xfe' # c\r\ny = 2\r\n"),
            b"x = '\xff\xfe'\ny = 2\n"
        );
    }
}
