//! Python source understanding for test-impact selection: the only module
//! that parses or lexes Python (the syntax tree here and in `build.rs`; the
//! lexers that need none, over test-file text and for comment stripping, in
//! `tokens.rs`). It owns turning a file's bytes into logical
//! statements (with the scope they run in, the names they bind and
//! reference), definitions (functions/classes, decorators, pytest fixtures,
//! caching), imports, pytest-collectable tests, and the mapping from file
//! paths to dotted module names.
//!
//! Why statements matter: coverage.py records only some lines of a
//! multi-line statement, so a changed line is widened to its whole logical
//! statement, and whether that statement runs at import time (module or
//! class level), is a def/class header, or sits in a function body decides
//! which tests it can affect.
//!
//! Robustness contract: [`parse`] never fails or panics. Invalid UTF-8 is
//! decoded lossily, syntax errors become conservative module-scope
//! statements, and all tree walks are iterative so deeply nested input
//! cannot overflow the stack.
//!
//! Conventions worth knowing:
//! - Line numbers are 1-based, like coverage.py.
//! - Two statements on one line (`a = 1; b = 2`): [`Module::statement_at`]
//!   returns the first one.
//! - A one-line def (`def f(): return 1`): the line holds both the
//!   `DefHeader` and the body statement; `statement_at` returns the body
//!   statement (the innermost), the header is still in `statements()` and
//!   `defs()`.
//! - Statements under `if __name__ == "__main__":` keep `Scope::Module`
//!   (that is where they run), but never run under pytest;
//!   [`Module::in_main_block`] tells them apart.

mod build;
pub mod facts;
pub mod mentions;
mod outline;
mod paths;
pub mod pytest;
pub mod tokens;

use std::collections::BTreeMap;

use outline::DefSpan;

/// A definition's header and body lines: ((first, last), (first, last)).
pub type DefLines = ((u32, u32), (u32, u32));

pub use outline::{Outline, parse_around, parse_pair_in_regions};
pub use paths::{dir_of, module_names_for_path, resolve_relative};

/// Index into [`Module::defs`].
pub type DefId = usize;

/// Files larger than this are not analysed (tree-sitter offsets are 32-bit,
/// and per-line indexes would cost gigabytes): such a file becomes one
/// opaque module-scope statement covering every line, flagged as erroneous.
/// Real Python files are orders of magnitude smaller.
const MAX_ANALYSED_BYTES: usize = 64 * 1024 * 1024;

/// `line_stmt` value for "no statement".
const NO_STMT: u32 = u32::MAX;

/// Function or class definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    pub name: String,
    /// Python `__qualname__`: "Pricing.total", `"outer.<locals>.inner"`.
    pub qualname: String,
    pub kind: DefKind,
    /// First decorator line (or `def`/`class` line) ..= line of the header's ':'.
    pub header: (u32, u32),
    /// First ..= last line of the body block.
    pub body: (u32, u32),
    /// Innermost enclosing def (function or class).
    pub parent: Option<DefId>,
    /// Dotted decorator names without call arguments ("functools.lru_cache").
    pub decorators: Vec<String>,
    /// Parameter names, including `self`, `*args` and `**kw` names.
    pub params: Vec<String>,
    pub fixture: Option<Fixture>,
    /// Decorated with lru_cache / cache / cached_property / cached (any prefix).
    pub cached: bool,
}

/// A pytest fixture declared by decorator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// The `name=` argument when it is a string literal, else the function name.
    pub name: String,
    /// "function" by default; a non-literal scope gives "dynamic".
    pub scope: String,
    /// True for `autouse=True` and (conservatively) any non-literal value.
    pub autouse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    Function,
    Class,
}

/// Innermost scope a statement executes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Module,
    Class(DefId),
    Function(DefId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StmtKind {
    /// Header (decorators through ':') of a function definition.
    DefHeader(DefId),
    /// Header (decorators through ':') of a class definition.
    ClassHeader(DefId),
    /// Header of if/elif/else/for/while/with/try/except/finally/match/case.
    CompoundHeader,
    Simple,
    Import,
}

/// One logical statement; compound statements contribute only their header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub start: u32,
    pub end: u32,
    pub scope: Scope,
    pub kind: StmtKind,
    /// Names bound in `scope`, sorted and unique.
    pub binds: Vec<String>,
    /// Identifiers referenced (names, attribute names, fixture names given
    /// as strings), sorted and unique.
    pub refs: Vec<String>,
    /// Those of `refs` referenced as plain names somewhere in the statement
    /// (not only as an attribute), sorted and unique.
    pub bare: Vec<String>,
    /// Attribute references: the attribute's name and, when the object is a
    /// name or a chain of them (`mod.sub`), that chain; sorted and unique.
    pub attrs: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// First line of the import statement.
    pub line: u32,
    /// Dotted module; relative imports keep their leading dots ("..pkg.mod").
    pub module: String,
    /// Imported names of a `from` import (original names, not aliases).
    pub names: Vec<String>,
    pub star: bool,
    /// Inside a function body, so it runs only when the function is called.
    pub function_level: bool,
    /// The names it binds and what each names: `import a.b` binds `a` to
    /// "a", `import a.b as x` binds `x` to "a.b", `from m import n as k`
    /// binds `k` to "m.n" (a relative `m` keeps its leading dots).
    pub binds: Vec<(String, String)>,
}

/// A test pytest collects by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFn {
    /// "test_x", "TestK::test_y", "TestK::TestInner::test_z".
    pub id: String,
    /// The function definition (for inherited tests: the base class's method).
    pub def: DefId,
}

/// A parsed Python file. All indexes are built once by [`parse`].
#[derive(Debug, Clone)]
pub struct Module {
    has_errors: bool,
    line_count: u32,
    defs: Vec<Def>,
    statements: Vec<Statement>,
    /// `line_stmt[line]` = innermost statement index holding code on that
    /// line, or `NO_STMT`. Empty for oversized files (see `opaque`).
    line_stmt: Vec<u32>,
    /// Oversized file: statement 0 covers every line.
    opaque: bool,
    imports: Vec<Import>,
    references: BTreeMap<String, Vec<u32>>,
    /// Body line ranges of `if __name__ == "__main__":` blocks.
    main_blocks: Vec<(u32, u32)>,
    /// Superclass expressions per def, for test collection.
    bases: Vec<Vec<String>>,
    /// Line spans of the top-level statements (see [`Outline`]).
    tops: Vec<(u32, u32)>,
    /// Per def: the line spans of the statements directly in its body.
    members: Vec<Vec<(u32, u32)>>,
    /// Set when only regions of the file were parsed: what selection needs
    /// to know of the code outside them (see [`parse_pair_in_regions`]).
    outside: Option<Box<outline::Outside>>,
}

/// Parses Python source. Never fails: invalid UTF-8 is decoded lossily and
/// syntax errors are tolerated (see [`Module::has_errors`]).
pub fn parse(source: &[u8]) -> Module {
    parse_with_limit(source, MAX_ANALYSED_BYTES)
}

/// Parses two versions of one file (baseline and current); the same as two
/// [`parse`] calls, but the second parse reuses the first.
pub fn parse_pair(old: &[u8], new: &[u8]) -> (Module, Module) {
    if old.len() > MAX_ANALYSED_BYTES || new.len() > MAX_ANALYSED_BYTES {
        return (parse(old), parse(new));
    }
    let (old_text, new_text) = (normalize(old), normalize(new));
    let (old_lines, new_lines) = (
        count_lines(old_text.as_bytes()),
        count_lines(new_text.as_bytes()),
    );
    let (a, b) = build::build_pair(&old_text, old_lines, &new_text, new_lines);
    (module_from(a, old_lines), module_from(b, new_lines))
}

fn parse_with_limit(source: &[u8], max_bytes: usize) -> Module {
    if source.len() > max_bytes {
        return opaque(source);
    }
    let text = normalize(source);
    let line_count = count_lines(text.as_bytes());
    module_from(build::build(&text, line_count), line_count)
}

fn module_from(built: build::Built, line_count: u32) -> Module {
    let mut line_stmt: Vec<u32> = vec![NO_STMT; line_count as usize + 1];
    let mut slot_depth: Vec<u32> = vec![0; line_count as usize + 1];
    for (i, (s, &depth)) in built.statements.iter().zip(&built.depths).enumerate() {
        let idx = u32::try_from(i).unwrap_or(NO_STMT);
        let lo = s.start.max(1) as usize;
        let hi = (s.end as usize).min(line_count as usize);
        let lines = line_stmt
            .iter_mut()
            .zip(slot_depth.iter_mut())
            .zip(built.has_code.iter())
            .take(hi + 1)
            .skip(lo);
        for ((slot, slot_d), &code) in lines {
            // Deeper wins (one-line bodies); equal depth keeps the first
            // (semicolon-separated statements).
            if code && (*slot == NO_STMT || *slot_d < depth) {
                *slot = idx;
                *slot_d = depth;
            }
        }
    }
    let references = build_references(&built.statements, &built.defs, line_count);
    Module {
        has_errors: built.has_errors,
        line_count,
        defs: built.defs,
        statements: built.statements,
        line_stmt,
        opaque: false,
        imports: built.imports,
        references,
        main_blocks: built.main_blocks,
        bases: built.bases,
        tops: built.tops,
        members: built.members,
        outside: None,
    }
}

impl Module {
    /// True when the file has syntax errors (or could only be analysed by the
    /// line-based fallback); callers should then be conservative.
    pub fn has_errors(&self) -> bool {
        self.has_errors
    }

    /// Number of lines (a final line without a newline counts).
    pub fn line_count(&self) -> u32 {
        self.line_count
    }

    pub fn defs(&self) -> &[Def] {
        &self.defs
    }

    /// All statements in source order, nested ones included.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Innermost statement holding code on `line`; `None` for blank or
    /// comment-only lines. With several statements on one line the first
    /// is returned.
    pub fn statement_at(&self, line: u32) -> Option<&Statement> {
        if self.opaque {
            return self
                .statements
                .first()
                .filter(|_| line >= 1 && line <= self.line_count);
        }
        let idx = *self.line_stmt.get(line as usize)?;
        self.statements.get(idx as usize)
    }

    /// Lines that hold code (those for which `statement_at` is `Some`).
    pub fn code_lines(&self) -> Vec<u32> {
        if self.opaque {
            return (1..=self.line_count).collect();
        }
        self.line_stmt
            .iter()
            .enumerate()
            .filter(|&(_, &s)| s != NO_STMT)
            .filter_map(|(l, _)| u32::try_from(l).ok())
            .collect()
    }

    /// The innermost function among `cur` and the definitions around it:
    /// code under a class runs at import unless a function encloses it.
    pub fn enclosing_function(&self, mut cur: Option<DefId>) -> Option<DefId> {
        while let Some(id) = cur {
            if self.defs()[id].kind == DefKind::Function {
                return Some(id);
            }
            cur = self.defs()[id].parent;
        }
        None
    }

    /// Innermost def whose header or body contains `line`.
    pub fn def_at(&self, line: u32) -> Option<DefId> {
        // Defs are in source order and nested ones come after their parent,
        // so the last match is the innermost.
        self.defs
            .iter()
            .enumerate()
            .rev()
            .find(|(_, d)| d.header.0 <= line && line <= d.body.1.max(d.header.1))
            .map(|(i, _)| i)
    }

    /// Whether `line` is inside the body of an `if __name__ == "__main__":`
    /// block (never executed when pytest imports the module).
    pub fn in_main_block(&self, line: u32) -> bool {
        self.all_main_blocks().any(|(a, b)| a <= line && line <= b)
    }

    /// The body lines of the `if __name__ == "__main__":` blocks (not the
    /// `if` line: that runs at every import).
    pub fn main_block_lines(&self) -> Vec<u32> {
        let mut blocks: Vec<(u32, u32)> = self.all_main_blocks().collect();
        blocks.sort_unstable();
        blocks.into_iter().flat_map(|(a, b)| a..=b).collect()
    }

    fn all_main_blocks(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let outside = self.outside.iter().flat_map(|o| o.main_blocks.iter());
        self.main_blocks.iter().chain(outside).copied()
    }

    /// Whether module-level code (outside definitions and imports) names
    /// `name`, so that a function of that name runs at import (a one-time
    /// initialiser). The `if __name__ == "__main__":` block does not run at
    /// import.
    pub fn called_at_import(&self, name: &str) -> bool {
        self.outside
            .as_ref()
            .is_some_and(|o| o.import_time_refs.contains(name))
            || self.statements.iter().any(|s| {
                runs_at_import(s)
                    && !self.in_main_block(s.start)
                    && s.refs.iter().any(|r| r == name)
            })
    }

    /// Whether the `if __name__ == "__main__":` block names `name`.
    pub fn called_in_main_block(&self, name: &str) -> bool {
        self.outside
            .as_ref()
            .is_some_and(|o| o.main_refs.contains(name))
            || self
                .statements
                .iter()
                .any(|s| self.in_main_block(s.start) && s.refs.iter().any(|r| r == name))
    }

    /// The lines (first header line ..= last body line) of the first
    /// definition in source order with this qualified name and kind.
    pub fn def_lines(&self, qualname: &str, kind: DefKind) -> Option<(u32, u32)> {
        let parsed = self
            .defs
            .iter()
            .find(|d| d.qualname == qualname && d.kind == kind)
            .map(|d| (d.header.0, d.body.1));
        let outside = self.outside.as_ref().and_then(|o| {
            o.defs
                .iter()
                .find(|d| d.qualname == qualname && d.kind() == kind)
                .map(|d| (d.start, d.end))
        });
        match (parsed, outside) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The header and body lines (first ..= last) of every definition with
    /// this qualified name and kind, in source order (a name defined again,
    /// as `typing.overload` does, has several), from the parse or the
    /// outline around a partial parse; empty when neither tells.
    pub fn def_header_and_body(&self, qualname: &str, kind: DefKind) -> Vec<DefLines> {
        if let Some(o) = &self.outside {
            let outside: Vec<DefLines> = o
                .defs
                .iter()
                .filter(|d| d.qualname == qualname && d.kind() == kind)
                .filter_map(DefSpan::header_and_body)
                .collect();
            if !outside.is_empty() {
                return outside;
            }
        }
        // A partial parse blanks the lines of a body it only passes through:
        // the body is told by where the header ends, as in the outline.
        self.defs
            .iter()
            .filter(|d| d.qualname == qualname && d.kind == kind)
            .map(|d| (d.header, ((d.header.1 + 1).min(d.body.1), d.body.1)))
            .collect()
    }

    /// Who binds each name of the file at `path` (relative imports are
    /// resolved against it), and how; `None` when that cannot be trusted: a
    /// syntax error, a star import (it may bind anything), or a partial
    /// parse.
    pub fn bindings(&self, path: &str) -> Option<Bindings> {
        if self.has_errors || self.opaque || self.outside.is_some() {
            return None;
        }
        if self.imports.iter().any(|i| i.star) {
            return None;
        }
        let mut b = Bindings::default();
        let module_level: std::collections::BTreeSet<u32> = self
            .statements
            .iter()
            .filter(|s| s.kind == StmtKind::Import && s.scope == Scope::Module)
            .map(|s| s.start)
            .collect();
        for i in &self.imports {
            if !i.names.is_empty() {
                for (_, target) in &i.binds {
                    let name = target.rsplit('.').next().unwrap_or(target);
                    if let Some(t) = resolve_relative(path, target) {
                        b.from_imports.insert((i.line, name.to_string()), t);
                    }
                }
            }
            if !module_level.contains(&i.line) || i.function_level {
                continue;
            }
            for (bound, target) in &i.binds {
                match resolve_relative(path, target) {
                    Some(t) => {
                        b.imported.entry(bound.clone()).or_default().insert(t);
                    }
                    None => {
                        b.otherwise.insert(bound.clone());
                    }
                }
            }
        }
        for s in &self.statements {
            let set = match (s.kind, s.scope) {
                (StmtKind::Import, Scope::Module) => continue,
                (_, Scope::Module) => &mut b.defined,
                // Locals, class attributes, imports inside functions.
                _ => &mut b.otherwise,
            };
            set.extend(s.binds.iter().cloned());
        }
        for d in &self.defs {
            b.otherwise.extend(d.params.iter().cloned());
        }
        Some(b)
    }

    /// True when only regions of the file were parsed
    /// ([`parse_pair_in_regions`]): `statements()`, `defs()`, `imports()`
    /// and the references then hold the code of those regions only.
    pub fn is_partial(&self) -> bool {
        self.outside.is_some()
    }

    /// All import statements at any depth, in source order.
    pub fn imports(&self) -> Vec<Import> {
        self.imports.clone()
    }

    /// Identifier -> sorted unique lines referencing it. Header identifiers
    /// of a def/class are recorded on every line of its header and body.
    pub fn references(&self) -> BTreeMap<String, Vec<u32>> {
        self.references.clone()
    }

    /// Borrowing variant of [`Module::references`], for hot paths.
    pub fn reference_index(&self) -> &BTreeMap<String, Vec<u32>> {
        &self.references
    }

    /// Tests pytest collects by default: module-level `test*` functions and
    /// `test*` methods of `Test*` classes without `__init__` (nested `Test*`
    /// classes too), plus `test*` methods of `unittest.TestCase` subclasses.
    /// Test methods inherited from a class in the same module are included
    /// under the subclass id. A redefined test keeps only its last def.
    pub fn test_functions(&self) -> Vec<TestFn> {
        build::test_functions(&self.defs, &self.bases)
    }
}

/// How a file binds its names, for telling what a reference denotes (see
/// [`Module::bindings`]).
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Names module-level imports bind, with what each import names
    /// (resolved to absolute dotted paths).
    imported: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Names module-level statements other than imports bind.
    defined: std::collections::BTreeSet<String>,
    /// Names bound any other way: parameters, locals, class attributes,
    /// imports inside functions or classes, relative imports that do not
    /// resolve.
    otherwise: std::collections::BTreeSet<String>,
    /// What the names a `from` import imports denote, by the import's line
    /// and the name as imported (`from m import n as k`: n -> "m.n").
    from_imports: BTreeMap<(u32, String), String>,
}

impl Bindings {
    /// What `name` denotes everywhere in the file, when module-level
    /// imports are all that bind it and agree ("pkg.mod" or "pkg.mod.name").
    pub fn imported_target(&self, name: &str) -> Option<&str> {
        match self.imported.get(name) {
            Some(t)
                if t.len() == 1
                    && !self.defined.contains(name)
                    && !self.otherwise.contains(name) =>
            {
                t.iter().next().map(String::as_str)
            }
            _ => None,
        }
    }

    /// Whether the file defines `name` itself: module-level statements
    /// other than imports are all that bind it.
    pub fn own(&self, name: &str) -> bool {
        self.defined.contains(name)
            && !self.otherwise.contains(name)
            && !self.imported.contains_key(name)
    }

    /// What `name` denotes as imported by the `from` import on `line`.
    pub fn from_import(&self, line: u32, name: &str) -> Option<&str> {
        self.from_imports
            .get(&(line, name.to_string()))
            .map(String::as_str)
    }

    /// Every name the file defines itself.
    pub fn own_names(&self) -> Vec<String> {
        self.defined
            .iter()
            .filter(|n| self.own(n))
            .cloned()
            .collect()
    }
}

/// Whether a statement runs when its module is imported, beyond binding a
/// definition or importing: module-scope code that may call functions.
fn runs_at_import(s: &Statement) -> bool {
    matches!(s.scope, Scope::Module)
        && !matches!(
            s.kind,
            StmtKind::DefHeader(_) | StmtKind::ClassHeader(_) | StmtKind::Import
        )
}

/// Strips a UTF-8 BOM, decodes lossily and turns lone '\r' into '\n'
/// (Python's universal newlines; same byte length, so columns stay put).
fn normalize(source: &[u8]) -> String {
    let source = source.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(source);
    let mut text = String::from_utf8_lossy(source).into_owned();
    if text.contains('\r') {
        let mut bytes = text.into_bytes();
        for i in 0..bytes.len() {
            if bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
                bytes[i] = b'\n';
            }
        }
        // Replacing one ASCII byte by another keeps the text valid UTF-8.
        text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
    text
}

/// Lines as Python counts them ('\n', '\r\n' and lone '\r' end a line).
fn count_lines(text: &[u8]) -> u32 {
    let mut lines = 0usize;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')) {
            lines += 1;
        }
    }
    let last = text.last();
    if last.is_some_and(|&b| b != b'\n' && b != b'\r') {
        lines += 1;
    }
    // Saturate below NO_STMT-style sentinels; unreachable for analysed sizes.
    u32::try_from(lines).unwrap_or(u32::MAX - 1)
}

/// A file too large to analyse: one module-scope statement over all lines.
fn opaque(source: &[u8]) -> Module {
    let line_count = count_lines(source).max(1);
    Module {
        has_errors: true,
        line_count,
        defs: Vec::new(),
        statements: vec![Statement {
            start: 1,
            end: line_count,
            scope: Scope::Module,
            kind: StmtKind::Simple,
            binds: Vec::new(),
            refs: Vec::new(),
            bare: Vec::new(),
            attrs: Vec::new(),
        }],
        line_stmt: Vec::new(),
        opaque: true,
        imports: Vec::new(),
        references: BTreeMap::new(),
        main_blocks: Vec::new(),
        bases: Vec::new(),
        tops: Vec::new(),
        members: Vec::new(),
        outside: None,
    }
}

fn build_references(
    statements: &[Statement],
    defs: &[Def],
    line_count: u32,
) -> BTreeMap<String, Vec<u32>> {
    let mut map: std::collections::HashMap<&str, Vec<u32>> = std::collections::HashMap::new();
    for s in statements {
        let (lo, hi) = match s.kind {
            StmtKind::DefHeader(id) | StmtKind::ClassHeader(id) => match defs.get(id) {
                Some(d) => (d.header.0, d.body.1.max(d.header.1)),
                None => (s.start, s.end),
            },
            _ => (s.start, s.end),
        };
        let hi = hi.min(line_count.max(1));
        for r in &s.refs {
            let lines = map.entry(r.as_str()).or_default();
            lines.extend(lo..=hi);
        }
    }
    map.into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            v.dedup();
            (k.to_string(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests;
