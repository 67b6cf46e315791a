//! From effects to tests: numbits intersection queries against the recorded
//! lines, names followed through import-time bindings and test files, and
//! module-level changes followed through the import graph.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::change::TargetSpec;
use crate::error::Result;
use crate::git::{Repo, Target};
use crate::numbits;
use crate::python::{self, Scope};
use crate::store::{Store, TestRow};

mod names;
mod suite;

use super::Reason;
use super::analyze::Effect;
use super::imports::Imports;
use super::recorded::Recorded;
use super::testside::TestSide;
use crate::python::pytest::{carrier_names, is_test_side};
use names::Followed;
use suite::Suite;

/// Resolves effects into selected tests, with caches shared across effects.
pub struct Resolver<'a> {
    repo: &'a Repo,
    store: &'a Store,
    target: Target,
    /// The known tests.
    suite: Suite<'a>,
    /// Known files whose content is the recorded one (path -> blob id).
    unchanged: BTreeMap<String, String>,
    /// What the data recorded about the measured files.
    recorded: Recorded<'a>,
    /// The test-side files and what is looked up in them.
    side: Side,
    /// What name following did and looked up.
    followed: Followed,
    /// The recorded imports and the walks made over them.
    imports: Imports,
    /// See [`Resolver::tests_maybe_spawning`].
    spawning: Option<std::rc::Rc<BTreeSet<String>>>,
    /// Set when a change reaches more names than is worth following.
    pub overflow: Option<String>,
    /// Reasons for a full run found while resolving (a changed file read
    /// outside any test).
    pub full_run: Vec<String>,
    notes: Vec<String>,
}

/// The test side as resolution reads it, each part made on first use.
#[derive(Default)]
struct Side {
    /// The stored string tokens of test-side contents, by blob id, when
    /// read ahead (see [`Resolver::read_tokens`]).
    tokens: Option<BTreeMap<String, String>>,
    /// The test-side files.
    files: Option<TestSide>,
    /// See [`Resolver::quoted_modules`].
    quoted_modules: Option<Vec<(String, String)>>,
    /// See [`Resolver::imports_recorded`].
    imports_recorded: Option<Rc<BTreeSet<String>>>,
}

/// Following more names than this means the change reaches nearly everything:
/// a full run is cheaper and safer.
const MAX_NAMES: usize = 2_000;

type Selected = BTreeMap<String, BTreeSet<Reason>>;

impl<'a> Resolver<'a> {
    pub fn new(
        repo: &'a Repo,
        store: &'a Store,
        target: &TargetSpec,
        tests: &'a [TestRow],
    ) -> Result<Self> {
        let target = match target {
            TargetSpec::WorkTree => Target::WorkTree,
            TargetSpec::Index => Target::Index,
            TargetSpec::Rev(r) => {
                Target::Commit(repo.resolve_commit(r)?.unwrap_or_else(|| r.clone()))
            }
        };
        Ok(Resolver {
            repo,
            store,
            target,
            unchanged: BTreeMap::new(),
            recorded: Recorded::new(store),
            side: Side::default(),
            followed: Followed::default(),
            imports: Imports::default(),
            suite: Suite::new(tests),
            spawning: None,
            overflow: None,
            full_run: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Known files whose content is the recorded one (path -> blob id):
    /// set before resolving.
    pub fn set_unchanged(&mut self, unchanged: BTreeMap<String, String>) {
        self.unchanged = unchanged;
    }

    /// Reads the stored string tokens of the test-side baselines among
    /// `baselines` (path -> blob id) ahead of their first use, e.g. while
    /// git lists the changes.
    pub fn read_tokens(&mut self, baselines: &BTreeMap<String, String>) -> Result<()> {
        let blobs: Vec<&str> = baselines
            .iter()
            .filter(|(p, _)| is_test_side(p))
            .map(|(_, b)| b.as_str())
            .collect();
        self.side.tokens = Some(self.store.quoted(&blobs)?);
        Ok(())
    }

    pub fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Lets names be followed again (for resolving a change on its own).
    pub fn forget_followed_names(&mut self) {
        self.followed.forget();
    }

    fn testside(&mut self) -> Result<&mut TestSide> {
        if self.side.files.is_none() {
            self.side.files = Some(TestSide::new(
                self.repo,
                &self.target,
                self.suite.files().map(|(f, _)| f),
                self.store,
                self.side.tokens.as_ref(),
                &self.unchanged,
            )?);
        }
        Ok(self.side.files.as_mut().expect("just set"))
    }

    /// Adds the tests an effect selects; `hits`, when given, are the
    /// effect's [`line_hits`], already looked up.
    pub fn resolve_with(
        &mut self,
        effect: &Effect,
        hits: Option<LineHits>,
        out: &mut Selected,
    ) -> Result<()> {
        match (effect, hits) {
            (Effect::Lines { path, .. }, Some(hits)) => {
                add_line_hits(path, hits, out);
                Ok(())
            }
            _ => self.resolve(effect, out),
        }
    }

    /// Adds the tests an effect selects.
    pub fn resolve(&mut self, effect: &Effect, out: &mut Selected) -> Result<()> {
        match effect {
            Effect::Lines { path, lines } => {
                let fid = self.recorded.file_id(path)?;
                add_line_hits(path, line_hits(self.store, fid, lines)?, out);
            }
            Effect::ImportTimeLines {
                path,
                lines,
                name,
                header,
                called,
            } => self.import_time_lines(path, lines, name, header, *called, out)?,
            Effect::WholeFile { path } => {
                for test in self.recorded.tests_in_file(path)?.iter() {
                    add(out, test.clone(), Reason::File { path: path.clone() });
                }
            }
            Effect::Names { path, names } => self.names(path, path, names, out)?,
            Effect::Module { path } => self.module(path, out)?,
            Effect::Scope { path, dir } => {
                self.select_dir(dir, &Reason::Scope { path: path.clone() }, out)
            }
            Effect::TestFunctions { path, ids } => {
                for id in ids {
                    self.select_prefix(
                        &format!("{path}::{id}"),
                        Reason::TestFile { path: path.clone() },
                        Reason::New { path: path.clone() },
                        out,
                    );
                }
            }
            Effect::TestFile { path } => {
                self.whole_test_file(path, Reason::TestFile { path: path.clone() }, out)
            }
            Effect::Doctests { path } => {
                for id in self.suite.in_file(path) {
                    add(out, id.to_string(), Reason::Scope { path: path.clone() });
                }
            }
            Effect::ModuleNamed { path } => self.module_named(path, out)?,
            Effect::ModuleString { path, body_only } => {
                self.module_string(path, *body_only, out)?
            }
            Effect::FileNamed { path } => self.file_named(path, out)?,
            Effect::Read { path } => self.read(path, out)?,
            Effect::Mapped {
                path,
                pattern,
                selectors,
            } => self.mapped(path, pattern, selectors, out)?,
        }
        Ok(())
    }

    /// A changed statement of a definition that may have run at import: an initialiser when the
    /// data says so.
    fn import_time_lines(
        &mut self,
        path: &str,
        lines: &[u32],
        name: &str,
        header: &[u32],
        called: bool,
        out: &mut Selected,
    ) -> Result<()> {
        let fid = self.recorded.file_id(path)?;
        let ran_at_import = |lines: &[u32]| -> Result<bool> {
            Ok(match fid {
                Some(fid) => self
                    .store
                    .import_time_touches(fid, &numbits::encode(lines.iter().copied()))?,
                None => false,
            })
        };
        // Which changed lines ran at import, and whose import ran them:
        // a line only test modules' imports ran (a class decorator's code,
        // for the classes they define) reaches those modules' tests, and
        // what test modules import them.
        let at_import = match fid {
            Some(fid) => self
                .store
                .import_time_of(fid, &numbits::encode(lines.iter().copied()))?,
            None => Default::default(),
        };
        // An initialiser when the changed lines ran at import otherwise;
        // when the module was imported outside tests (its definition ran
        // then) and they did not, they are not one, whatever names it at
        // module level (a registry, a dict of functions).
        let initialiser = !at_import.outside.is_empty()
            || (called && (header.is_empty() || !ran_at_import(header)?));
        if initialiser {
            self.module(path, out)?;
            self.names(path, path, &[name.to_string()], out)?;
        }
        let by = at_import
            .by
            .into_iter()
            .map(|(module, lines)| {
                let reason = Reason::Imported {
                    path: path.to_string(),
                    lines,
                    module: module.clone(),
                };
                (module, reason)
            })
            .collect();
        self.modules_as(by, out)
    }

    /// A changed module that tests name by its dotted name or path (test-side mentions and
    /// importers).
    fn module_named(&mut self, path: &str, out: &mut Selected) -> Result<()> {
        let reason = Reason::Module {
            path: path.to_string(),
        };
        let mut needles: Vec<String> = python::module_names_for_path(path)
            .into_iter()
            .filter(|m| m.contains('.'))
            .collect();
        needles.push(path.to_string());
        for needle in needles {
            let store = self.store;
            let hits = self.testside()?.find(store, &needle)?;
            self.apply_hits(hits, &reason, path, out)?;
        }
        // Test files importing it, read for their imports (no walk over
        // the recorded graph found them here).
        let modules: BTreeSet<String> = python::module_names_for_path(path).into_iter().collect();
        let store = self.store;
        let files = self
            .testside()?
            .importers_of(store, &modules, &BTreeSet::new())?;
        for f in files {
            self.whole_test_file(&f, reason.clone(), out);
        }
        Ok(())
    }

    /// A changed module that a test-side string names (`python -m pkg.mod`), for tests that may run
    /// it where it was not measured.
    fn module_string(&mut self, path: &str, body_only: bool, out: &mut Selected) -> Result<()> {
        // A body change matters to a test that names the module only
        // if the test ran the lines where they were not measured: in
        // a Python process inside another program it started (a
        // shell, `env -i`), or in a child of a test whose children
        // the data does not tell (`impact import`, or not known at
        // all: coverage.py saw no line of it in process). `impact
        // run` measures Python children, and a test whose Python
        // child escaped measurement runs every time.
        // Which tests may spawn is read when a string names the module
        // (most modules are named by none), once per call.
        let mut only: Option<std::rc::Rc<BTreeSet<String>>> = None;
        let reason = Reason::Module {
            path: path.to_string(),
        };
        // The module itself, and the modules importing it
        // (transitively) that a test-side string names.
        let own = python::module_names_for_path(path);
        let mut named: BTreeSet<(String, String)> = own
            .iter()
            .filter(|n| n.contains('.'))
            .map(|n| (path.to_string(), n.clone()))
            .collect();
        for (file, token) in self.quoted_modules()? {
            if file != path && self.imports.imports_transitively(self.store, &file, &own)? {
                named.insert((file, token));
            }
        }
        for (file, needle) in named {
            // Before the files holding the string are parsed.
            if body_only && only.is_none() && self.testside()?.quotes(&needle) {
                let spawning = self.tests_maybe_spawning()?;
                if spawning.is_empty() {
                    // Tests the data does not know run anyway.
                    return Ok(());
                }
                only = Some(spawning);
            }
            let store = self.store;
            let hits = self.testside()?.find_quoted(store, &needle)?;
            if hits.is_empty() {
                continue;
            }
            // Names followed here may be needed again by other
            // effects, unfiltered.
            let done = self.followed.done();
            let mut found = Selected::new();
            self.apply_hits(hits, &reason, path, &mut found)?;
            self.followed.restore(done);
            // A test that names the module in a string most likely
            // runs it in a child process. Where that child was
            // measured, the test has lines of the module and the
            // line rules are exact; only the others are selected by
            // the mention.
            let measured = self.recorded.tests_in_file(&file)?;
            for (test, reasons) in found {
                let kept = match &only {
                    None => true,
                    Some(spawning) => spawning.contains(&test) || !self.suite.knows(&test),
                };
                if kept && !measured.contains(&test) {
                    out.entry(test).or_default().extend(reasons);
                }
            }
        }
        Ok(())
    }

    /// Test-side files whose imports the recorded graph holds (their content
    /// is the recorded one, its facts stored): the walks over the graph
    /// found them, so they need not be read for their imports.
    fn imports_recorded(&mut self) -> Result<Rc<BTreeSet<String>>> {
        if let Some(done) = &self.side.imports_recorded {
            return Ok(done.clone());
        }
        let mut out = BTreeSet::new();
        for path in self.unchanged.keys().filter(|p| is_test_side(p)) {
            if self.recorded.has_facts(path)? {
                out.insert(path.clone());
            }
        }
        let out = Rc::new(out);
        self.side.imports_recorded = Some(out.clone());
        Ok(out)
    }

    /// Tests whose children the data does not tell (read once per call).
    fn tests_maybe_spawning(&mut self) -> Result<std::rc::Rc<BTreeSet<String>>> {
        if self.spawning.is_none() {
            self.spawning = Some(std::rc::Rc::new(self.store.tests_maybe_spawning()?));
        }
        Ok(self.spawning.clone().expect("just set"))
    }

    /// A changed file that code or test-side strings name.
    fn file_named(&mut self, path: &str, out: &mut Selected) -> Result<()> {
        // The safety net beside recorded reads: a file read once per
        // process (a cached loader, a module constant) is recorded
        // for the first test only, so code naming it is followed too.
        let name = path.rsplit('/').next().unwrap_or(path);
        let reason = Reason::Named {
            path: path.to_string(),
            name: name.to_string(),
        };
        if name.len() >= 5 {
            // Measured code that names the file: the statements naming it
            // changed in effect. Found tests get one reason naming the
            // file, not the (unchanged) lines that name it.
            let mut found = Selected::new();
            let sources = self.sources_naming(name)?;
            for (file, lines, bound) in sources {
                self.resolve(
                    &Effect::Lines {
                        path: file.clone(),
                        lines,
                    },
                    &mut found,
                )?;
                self.names(&file, &file, &bound, &mut found)?;
            }
            let store = self.store;
            let hits = self.testside()?.find_quoted(store, name)?;
            self.apply_hits(hits, &reason, path, &mut found)?;
            for test in found.into_keys() {
                add(out, test, reason.clone());
            }
        }
        Ok(())
    }

    /// A changed file tests (or their collectors) read.
    fn read(&mut self, path: &str, out: &mut Selected) -> Result<()> {
        for test in self.store.readers(path)? {
            add(
                out,
                test,
                Reason::Read {
                    path: path.to_string(),
                    scope: None,
                },
            );
        }
        for scope in self.store.scope_readers(path)? {
            if scope.is_empty() {
                self.full_run.push(format!(
                    "{path} changed and was read outside any test (while pytest \
                     started, by a conftest.py it loads first, or by a plugin), so \
                     any test may depend on it"
                ));
                continue;
            }
            // Read while collecting (a test module reading it at
            // import): which of its tests use what was read is
            // unknown, so all of them.
            let reason = Reason::Read {
                path: path.to_string(),
                scope: Some(scope.clone()),
            };
            for t in self.suite.ids() {
                if scope_contains(&scope, t) {
                    add(out, t.to_string(), reason.clone());
                }
            }
        }
        Ok(())
    }

    /// A changed file the config maps to test selectors.
    fn mapped(
        &mut self,
        path: &str,
        pattern: &str,
        selectors: &[crate::config::Selector],
        out: &mut Selected,
    ) -> Result<()> {
        for selector in selectors {
            let reason = Reason::Mapped {
                path: path.to_string(),
                pattern: pattern.to_string(),
            };
            let known: Vec<String> = self
                .suite
                .ids()
                .iter()
                .filter(|t| selector.matches(t))
                .map(|t| t.to_string())
                .collect();
            if known.is_empty() {
                // Not in the data (yet): pass the selector to pytest as given.
                add(out, selector.as_str().to_string(), reason);
            } else {
                for t in known {
                    add(out, t, reason.clone());
                }
            }
        }
        Ok(())
    }

    fn whole_test_file(&self, path: &str, reason: Reason, out: &mut Selected) {
        self.select_prefix(path, reason.clone(), reason, out);
    }

    /// The known tests a node-id prefix names (`file`, `file::Class::test`, a
    /// directory), each with `known`; when it names none, the prefix itself
    /// (pytest accepts it) with `unknown`.
    fn select_prefix(&self, prefix: &str, known: Reason, unknown: Reason, out: &mut Selected) {
        // Look in the file's own tests first.
        let file = prefix.split("::").next().unwrap_or(prefix);
        // A test id may hold `*` or `?` (in its parameters): never a glob here.
        let selector = crate::config::Selector::prefix(prefix);
        let ids = if self.suite.has_file(file) {
            self.suite.in_file(file)
        } else {
            self.suite.ids()
        };
        let matching: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|t| selector.matches(t))
            .collect();
        if matching.is_empty() {
            add(out, prefix.to_string(), unknown);
        } else {
            for t in matching {
                add(out, t.to_string(), known.clone());
            }
        }
    }

    /// Every known test under a directory ("" = all).
    fn select_dir(&self, dir: &str, reason: &Reason, out: &mut Selected) {
        let prefix = format!("{dir}/");
        for (file, ids) in self.suite.files() {
            if dir.is_empty() || file.starts_with(&prefix) {
                for id in ids {
                    add(out, id.to_string(), reason.clone());
                }
            }
        }
    }

    /// Whether `out` already holds 90% of the known tests (of a suite of at
    /// least 100): then the verdict is a full run, said with `through`, and
    /// following further names or importers would only cost time.
    fn reaches_most(&mut self, through: &str, out: &Selected) -> bool {
        self.would_reach_most(through, out, &BTreeSet::new(), None)
    }

    /// [`Resolver::reaches_most`] for `out` with a file's tests added (those
    /// that ran it, and the known tests it holds), without adding them: sets
    /// the verdict (with the same count) when they would reach it.
    fn would_reach_most(
        &mut self,
        through: &str,
        out: &Selected,
        measured: &BTreeSet<String>,
        file: Option<&str>,
    ) -> bool {
        if self.overflow.is_some() {
            return true;
        }
        let suite = &self.suite;
        let total = suite.len();
        let held = file.map_or(&[][..], |f| suite.in_file(f));
        if total < 100 || (out.len() + measured.len() + held.len()) * 10 < total * 9 {
            return false;
        }
        // Counted among the known tests only: a selection also holds
        // tests the data does not know, and must never read as more
        // than the suite.
        let fresh: BTreeSet<&str> = measured
            .iter()
            .map(String::as_str)
            .chain(held.iter().copied())
            .filter(|t| !out.contains_key(*t) && suite.knows(t))
            .collect();
        let reached = out.keys().filter(|t| suite.knows(t)).count() + fresh.len();
        if reached * 10 < total * 9 {
            return false;
        }
        self.overflow = Some(format!(
            "the changes reach {reached} of {total} tests (through {through}): running everything"
        ));
        true
    }

    /// Measured files whose baseline names `needle`: the lines of the
    /// statements naming it, and the names those statements bind or carry
    /// (module-level bindings; cached functions and fixtures around them).
    fn sources_naming(&mut self, needle: &str) -> Result<Vec<Naming>> {
        let mut out = Vec::new();
        for (path, text) in self.recorded.python_texts()?.iter() {
            // Only a file that holds the name is worth parsing (word_lines
            // finds nothing elsewhere): most hold none of a file's name.
            if !text.contains(needle) {
                continue;
            }
            let words = crate::python::tokens::word_lines(text, needle);
            if words.is_empty() {
                continue;
            }
            let m = self.parse_around(path, text, &words)?;
            let mut lines = BTreeSet::new();
            let mut bound = BTreeSet::new();
            for l in words {
                let Some(st) = m.statement_at(l) else {
                    continue;
                };
                lines.extend(st.start..=st.end);
                match st.scope {
                    Scope::Module | Scope::Class(_) => {
                        bound.extend(st.binds.iter().filter(|b| *b != "*").cloned())
                    }
                    Scope::Function(d) => bound.extend(carrier_names(&m, d)),
                }
            }
            if !lines.is_empty() {
                out.push((
                    path.clone(),
                    lines.into_iter().collect(),
                    bound.into_iter().collect(),
                ));
            }
        }
        Ok(out)
    }

    /// A measured file's recorded `text`, parsed at least around `lines`:
    /// only there when its stored outline allows, whole otherwise. A small
    /// file costs a millisecond to parse whole, and a file name is looked
    /// for in every file that holds it.
    fn parse_around(&mut self, path: &str, text: &str, lines: &[u32]) -> Result<python::Module> {
        let bytes = text.as_bytes();
        Ok(self
            .recorded
            .outline(path)?
            .and_then(|outline| python::parse_around(bytes, &outline, lines))
            .unwrap_or_else(|| python::parse(bytes)))
    }

    /// Builds what [`Effect::ModuleString`] looks up (the string tokens of
    /// test-side files, the import graph) ahead of the first one.
    pub fn prepare_module_strings(&mut self) -> Result<()> {
        self.quoted_modules().map(|_| ())
    }

    /// Dotted names quoted in test-side files that name a measured module
    /// which imports something: (module file, name).
    fn quoted_modules(&mut self) -> Result<Vec<(String, String)>> {
        if let Some(done) = &self.side.quoted_modules {
            return Ok(done.clone());
        }
        let tokens = self.testside()?.quoted_dotted();
        let mut out = Vec::new();
        if tokens.is_empty() {
            self.side.quoted_modules = Some(out.clone());
            return Ok(out);
        }
        out.extend(self.imports.files_named(self.store, &tokens)?);
        self.side.quoted_modules = Some(out.clone());
        Ok(out)
    }

    /// Module-level code of `path` changed: every test that can depend on it,
    /// through the modules that import it (transitively).
    fn module(&mut self, path: &str, out: &mut Selected) -> Result<()> {
        let reason = Reason::Module {
            path: path.to_string(),
        };
        self.modules_as(vec![(path.to_string(), reason)], out)
    }

    /// [`Resolver::module`] for each changed module, each with its reason;
    /// the test-side files that import any of them are found in one pass.
    fn modules_as(&mut self, changed: Vec<(String, Reason)>, out: &mut Selected) -> Result<()> {
        let mut modules = BTreeSet::new();
        let mut first = None;
        for (path, reason) in changed {
            let seen = self.imports.importer_closure(self.store, &path)?;
            modules.extend(seen.iter().flat_map(|f| python::module_names_for_path(f)));
            let through = format!("the importers of {path}");
            // The module's own tests first: they most often take the
            // selection past the verdict's threshold on their own.
            let own = seen.get(path.as_str()).into_iter();
            for file in own.chain(seen.iter().filter(|f| **f != path)) {
                let measured = self.recorded.tests_in_file(file)?;
                // Importers of a widely imported module reach the suite after
                // a few files: the verdict is a full run, whatever the rest say
                // (and the unmeasured importers, each parsed, cannot change it).
                // Counted before the file's tests are added one by one (with
                // their reasons), which a full run would only throw away.
                if self.would_reach_most(&through, out, &measured, Some(file)) {
                    return Ok(());
                }
                for test in measured.iter() {
                    add(out, test.clone(), reason.clone());
                }
                for id in self.suite.in_file(file) {
                    add(out, id.to_string(), reason.clone());
                }
            }
            if seen.len() > 1 && matches!(reason, Reason::Module { .. }) {
                self.notes.push(format!(
                    "module-level code changed in {path}; {} modules import it",
                    seen.len() - 1
                ));
            }
            first.get_or_insert(reason);
        }
        let Some(reason) = first else {
            return Ok(());
        };
        let store = self.store;
        let known = self.imports_recorded()?;
        let files = self.testside()?.importers_of(store, &modules, &known)?;
        for f in files {
            self.whole_test_file(&f, reason.clone(), out);
        }
        Ok(())
    }
}

/// The tests that executed any of `lines` of a file (its id in the data,
/// `None` when the data has no lines for it), each with the lines it
/// executed among them (numbits); import-time data left out. A pure
/// lookup: threads analysing changed files run it on their own connection.
pub struct LineHits(Vec<(String, Vec<u8>)>);

pub fn line_hits(store: &Store, file_id: Option<i64>, lines: &[u32]) -> Result<LineHits> {
    Ok(LineHits(match file_id {
        Some(fid) => store.tests_intersecting(fid, &numbits::encode(lines.iter().copied()))?,
        None => Vec::new(),
    }))
}

fn add_line_hits(path: &str, hits: LineHits, out: &mut Selected) {
    for (test, hit) in hits.0 {
        add(
            out,
            test,
            Reason::Lines {
                path: path.to_string(),
                lines: numbits::decode(&hit),
            },
        );
    }
}

/// Reasons kept per test: enough to explain it; more would only cost time
/// when a change reaches most of the suite.
const MAX_REASONS: usize = 4;

/// A measured file naming something: (path, lines of the naming statements,
/// names they bind or carry).
type Naming = (String, Vec<u32>, Vec<String>);

/// Whether a test is under a collector's node id (`tests/sub`,
/// `tests/test_x.py`, `tests/test_x.py::TestK`).
pub fn scope_contains(scope: &str, test: &str) -> bool {
    test.strip_prefix(scope)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || rest.starts_with('/'))
}

pub(super) fn add(out: &mut Selected, test: String, reason: Reason) {
    let reasons = out.entry(test).or_default();
    if reasons.len() < MAX_REASONS {
        reasons.insert(reason);
    }
}
