//! Following changed names: through the recorded references to them (the
//! tests that ran those lines), through what import-time statements bind
//! from them, and into the test files that mention them; references that
//! provably denote another module's own definition of the name are left out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{MAX_NAMES, Resolver, Selected, add};
use crate::error::Result;
use crate::numbits;
use crate::python::facts::is_python;
use crate::python::mentions::Hit;
use crate::select::Reason;
use crate::store::Carried;

/// What name following has done and looked up in one call.
#[derive(Default)]
pub(super) struct Followed {
    /// Names already followed, with the file that binds them.
    done: BTreeSet<(String, String)>,
    /// Every name followed, for the limit.
    distinct: BTreeSet<String>,
    /// Per name, the files that define it themselves.
    defining: BTreeMap<String, BTreeSet<String>>,
    /// Per measured file: name -> names carried from it, with the lines
    /// that carry them (see `binding_index`), for data without facts.
    bindings: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<u32>>>>,
}

impl Followed {
    /// Lets names be followed again (for resolving a change on its own).
    pub fn forget(&mut self) {
        self.done.clear();
        self.distinct.clear();
    }

    /// The names followed so far, to put back after a lookup whose names
    /// must be followed again by other effects.
    pub fn done(&self) -> BTreeSet<(String, String)> {
        self.done.clone()
    }

    pub fn restore(&mut self, done: BTreeSet<(String, String)>) {
        self.done = done;
    }
}

impl Resolver<'_> {
    pub(super) fn names(
        &mut self,
        origin: &str,
        binder: &str,
        names: &[String],
        out: &mut Selected,
    ) -> Result<()> {
        // Each name with the file that binds it: references that provably
        // denote another module's own definition of it are left out.
        let mut queue: VecDeque<(String, String)> = names
            .iter()
            .map(|n| (n.clone(), binder.to_string()))
            .collect();
        // Test-side mentions are looked up once the measured side has no
        // name left to follow: that needs the test files parsed, while the
        // recorded references often reach most of the suite first (the
        // verdict is then a full run, whatever the test side says). The
        // names reached are the same in either order.
        let mut test_side: VecDeque<(String, String, Reason)> = VecDeque::new();
        loop {
            let Some((name, binder)) = queue.pop_front() else {
                let Some((name, binder, reason)) = test_side.pop_front() else {
                    break;
                };
                if self.reaches_most(&format!("`{name}`, from {origin}"), out) {
                    return Ok(());
                }
                for (file, name) in self.test_side_mentions(&name, &binder, &reason, out)? {
                    queue.push_back((name, file));
                }
                continue;
            };
            if !self.followed.done.insert((name.clone(), binder.clone())) {
                continue;
            }
            self.followed.distinct.insert(name.clone());
            if self.reaches_most(&format!("`{name}`, from {origin}"), out) {
                return Ok(());
            }
            if self.followed.distinct.len() > MAX_NAMES {
                self.overflow = Some(format!(
                    "the changes reach more than {MAX_NAMES} definitions by name (through `{name}`, from {origin})"
                ));
                return Ok(());
            }
            let reason = Reason::Name {
                path: origin.to_string(),
                name: name.clone(),
            };
            match self.recorded_uses(origin, &name, &binder, &reason, out)? {
                Some(bound) => queue.extend(bound),
                None => return Ok(()),
            }
            test_side.push_back((name, binder, reason));
        }
        Ok(())
    }

    /// Selects the tests the data says used `name` (bound by `binder`): the
    /// users of a fixture of that name, and the tests that ran its
    /// references but those that provably denote another module's own
    /// `name`. Returns the (name, file) pairs import-time statements bind
    /// from it, to follow next; `None` once the verdict is a full run.
    fn recorded_uses(
        &mut self,
        origin: &str,
        name: &str,
        binder: &str,
        reason: &Reason,
        out: &mut Selected,
    ) -> Result<Option<Vec<(String, String)>>> {
        // Tests that used a fixture of this name (recorded by `impact run`).
        for test in self.store.fixture_users(name)? {
            add(out, test, reason.clone());
        }
        let elsewhere = self.denoting_elsewhere(name, binder)?;
        let references = self.store.references(name)?;
        let carried = match references.is_empty() {
            true => BTreeMap::new(),
            false => self.store.carried(name)?,
        };
        let mut bound = Vec::new();
        for (fid, path, bits) in references {
            let bits = match elsewhere.get(&fid) {
                Some(other) => numbits::difference(&bits, other),
                None => bits,
            };
            if bits.is_empty() {
                continue;
            }
            for test in self.recorded.tests_running(fid, &bits)? {
                add(out, test.to_string(), reason.clone());
            }
            // A name read all over the project: stop as soon as the
            // verdict is a full run, not after its last reference.
            if self.reaches_most(&format!("`{name}`, from {origin}"), out) {
                return Ok(None);
            }
            // Import-time code naming it binds new names from it.
            for n in self.bound_from(&path, name, &bits, &carried)? {
                bound.push((n, path.clone()));
            }
        }
        Ok(Some(bound))
    }

    /// Selects the tests whose test-side code mentions `name`, but for the
    /// mentions that provably denote another module's own definition of
    /// it; returns the (file, name) of fixtures and helpers that mention it,
    /// for the caller to follow.
    fn test_side_mentions(
        &mut self,
        name: &str,
        binder: &str,
        reason: &Reason,
        out: &mut Selected,
    ) -> Result<Vec<(String, String)>> {
        let mut hits = BTreeSet::new();
        let store = self.store;
        for (hit, target) in self.testside()?.find_denoting(store, name)? {
            let elsewhere = match &target {
                Some(t) => self.denotes_another(t, name, binder)?,
                None => false,
            };
            if !elsewhere {
                hits.insert(hit);
            }
        }
        Ok(hits
            .into_iter()
            .filter_map(|hit| self.apply_hit(hit, reason, out))
            .collect())
    }

    /// Selects what a test-side hit selects; for a fixture or helper that
    /// names the change, the (file, name) to follow instead.
    pub(super) fn apply_hit(
        &self,
        hit: Hit,
        reason: &Reason,
        out: &mut Selected,
    ) -> Option<(String, String)> {
        match hit {
            Hit::Tests(prefix) => self.whole_test_file(&prefix, reason.clone(), out),
            Hit::File(file) => self.whole_test_file(&file, reason.clone(), out),
            Hit::Dir(dir) => self.select_dir(&dir, reason, out),
            Hit::Name { name, file } => return Some((file, name)),
        }
        None
    }

    pub(super) fn apply_hits(
        &mut self,
        hits: Vec<Hit>,
        reason: &Reason,
        origin: &str,
        out: &mut Selected,
    ) -> Result<()> {
        for hit in hits {
            // Already followed names are skipped.
            if let Some((file, name)) = self.apply_hit(hit, reason, out) {
                self.names(origin, &file, std::slice::from_ref(&name), out)?;
            }
        }
        Ok(())
    }

    /// Per file id, the lines whose references to `name` provably denote
    /// another module's own `name`, not the one `binder` binds: their
    /// recorded target is `m.name` for a module `m` of the data other than
    /// `binder`'s, whose file is unchanged and defines `name` itself. Such
    /// lines cannot reach the changed definition by that name; every other
    /// reference counts (unresolved ones, and all of them in data recorded
    /// before targets were).
    fn denoting_elsewhere(&mut self, name: &str, binder: &str) -> Result<BTreeMap<i64, Vec<u8>>> {
        let mut out: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
        for (fid, target, bits) in self.store.ref_targets(name)? {
            if self.denotes_another(&target, name, binder)? {
                let merged = match out.remove(&fid) {
                    Some(b) => numbits::union(&b, &bits),
                    None => bits,
                };
                out.insert(fid, merged);
            }
        }
        Ok(out)
    }

    /// Whether a reference to `name` that denotes `target` ("pkg.mod.name")
    /// provably denotes another module's own `name`, not the one `binder`
    /// binds.
    fn denotes_another(&mut self, target: &str, name: &str, binder: &str) -> Result<bool> {
        let Some((module, last)) = target.rsplit_once('.') else {
            return Ok(false);
        };
        let own = self.imports.module_names(binder);
        if last != name || own.iter().any(|m| m == module) {
            return Ok(false);
        }
        self.defines_itself(module, name, binder)
    }

    /// Whether module `module` is a file of the data, other than `binder`,
    /// unchanged, that defines `name` itself (its facts say so).
    fn defines_itself(&mut self, module: &str, name: &str, binder: &str) -> Result<bool> {
        let files = self.recorded.files_of_module(module)?;
        if files.is_empty() {
            return Ok(false);
        }
        if !self.followed.defining.contains_key(name) {
            let files: BTreeSet<String> = self.store.defining(name)?.into_iter().collect();
            self.followed.defining.insert(name.to_string(), files);
        }
        let defining = &self.followed.defining[name];
        Ok(files.iter().all(|file| {
            file != binder && self.unchanged.contains_key(file) && defining.contains(file)
        }))
    }

    /// Names that import-time statements of a measured file bind from `name`:
    /// `B = A * 2`, `from m import A as B`, a class whose bases or body name it,
    /// a cached function or fixture whose header names it; only from the
    /// statements on `lines` (the references to `name` that count).
    /// `carried`: the stored facts for `name` ([`Store::carried`]).
    fn bound_from(
        &mut self,
        path: &str,
        name: &str,
        lines: &[u8],
        carried: &BTreeMap<String, Vec<Carried>>,
    ) -> Result<Vec<String>> {
        if !is_python(path) {
            return Ok(Vec::new());
        }
        let counts = |at: Option<&[u8]>| at.is_none_or(|at| numbits::any_intersection(at, lines));
        // Computed at record time; parsed here only for data recorded before
        // these facts existed.
        if self.recorded.has_facts(path)? {
            return Ok(carried
                .get(path)
                .into_iter()
                .flatten()
                .filter(|(_, at)| counts(at.as_deref()))
                .map(|(c, _)| c.clone())
                .collect());
        }
        if !self.followed.bindings.contains_key(path) {
            let index = match self.recorded.module(path)? {
                Some(m) => crate::python::facts::binding_index(&m),
                None => BTreeMap::new(),
            };
            self.followed.bindings.insert(path.to_string(), index);
        }
        Ok(self.followed.bindings[path]
            .get(name)
            .into_iter()
            .flatten()
            .filter(|(_, at)| counts(Some(&numbits::encode(at.iter().copied()))))
            .map(|(c, _)| c.clone())
            .collect())
    }
}
