//! What changed: for every file the data knows, its baseline (the content the
//! recorded line numbers refer to) against the target (work tree, index or a
//! revision); plus the files the data does not know yet.
//!
//! Line numbers are always taken against the baseline stored in the data, not
//! against HEAD, so they stay right after partial re-recordings and in clones
//! that lack the recording commit.

pub mod diff;
pub mod linemap;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::git::{self, ChangeKind, Entry, LineDiff, Repo, Target};
use crate::python;
use crate::store::Store;

/// Where the changes are compared to.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    WorkTree,
    Index,
    Rev(String),
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Modified,
    Added,
    Deleted,
    Renamed,
}

/// One changed file.
#[derive(Debug, Clone)]
pub struct Change {
    /// The path in the target (for a deleted file, its old path).
    pub path: String,
    /// The path the data knows it under, when it was renamed.
    pub old_path: Option<String>,
    pub status: Status,
    /// The baseline content, when the data knows the file.
    pub baseline: Option<Vec<u8>>,
    /// The content in the target; `None` when deleted (or not a regular file).
    pub current: Option<Vec<u8>>,
    /// Changed line ranges, when both sides are text: see [`Change::diff`].
    diff: std::sync::OnceLock<Option<LineDiff>>,
    /// What the target holds when it is not a regular file (a symlink, a submodule).
    pub special: Option<&'static str>,
    /// For a file the data does not know: its content at the base commit the
    /// changes are listed from, when it existed there.
    pub previous: Option<Vec<u8>>,
    /// The baseline's outline, when stored: lets analysis parse only the
    /// changed regions of a Python file.
    pub outline: Option<python::Outline>,
}

impl Change {
    /// A change of `path` from `before` (the baseline, or for a file the
    /// data does not know its previous version) to `current`.
    pub fn new(
        path: String,
        status: Status,
        before: Option<Vec<u8>>,
        current: Option<Vec<u8>>,
    ) -> Change {
        Change {
            path,
            old_path: None,
            status,
            baseline: before,
            current,
            diff: std::sync::OnceLock::new(),
            special: None,
            previous: None,
            outline: None,
        }
    }

    /// The changed line ranges from the baseline (or the previous version)
    /// to the current content, when both are there; computed on first use,
    /// by the thread that analyses the file.
    pub fn diff(&self) -> Option<&LineDiff> {
        self.diff
            .get_or_init(|| {
                let before = self.baseline.as_ref().or(self.previous.as_ref())?;
                Some(git::diff_lines(before, self.current.as_ref()?))
            })
            .as_ref()
    }

    /// The path the data knows this file under, if any.
    pub fn known_path(&self) -> Option<&str> {
        if self.baseline.is_none() {
            None
        } else {
            Some(self.old_path.as_deref().unwrap_or(&self.path))
        }
    }
}

/// Everything that changed, and how it was determined.
#[derive(Debug, Default)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
    /// Known files whose baseline content is missing from the data.
    pub unreconstructable: Vec<String>,
    /// Notes for the user (e.g. a shallow clone without a merge base).
    pub notes: Vec<String>,
    /// Known files whose content in the target is their baseline: path ->
    /// blob id (whether or not `--since` considers them).
    pub unchanged: BTreeMap<String, String>,
}

/// Git's side of change detection: what git reports as changed since a
/// base commit, and the blob ids of the tree that unchanged files are looked
/// up in. It scans the work tree (a `stat` of every tracked file), the slow
/// part of change detection, and needs nothing from the data but the
/// recorded commit: [`list`] runs it on a thread of its own, with its own
/// handle on the repository, while the data is read.
pub struct Listing {
    git_target: Target,
    since_base: Option<String>,
    listing_base: Option<String>,
    path_changes: Vec<git::PathChange>,
    /// Blob ids by path: of the target commit, or of HEAD for the work tree
    /// and the index.
    tree_ids: HashMap<String, String>,
    /// Work tree only: paths that may differ from HEAD (`git status`).
    dirty: BTreeSet<String>,
    /// Work tree only: what the dirty paths that HEAD tracks hold now, read
    /// on the listing's thread (change detection needs their blob ids and
    /// analysis their text).
    read: HashMap<String, Option<Entry>>,
    notes: Vec<String>,
}

/// Lists what git reports as changed for `target`, from the merge base of
/// `since` and HEAD when given, else from the recorded commit (or HEAD),
/// in the repository at `root`.
pub fn list(
    root: &std::path::Path,
    target: &TargetSpec,
    since: Option<&str>,
    recorded_commit: Option<&str>,
) -> Result<Listing> {
    let repo = Repo::discover(root)?;
    let repo = &repo;
    let mut notes = Vec::new();
    let git_target = match target {
        TargetSpec::WorkTree => Target::WorkTree,
        TargetSpec::Index => Target::Index,
        TargetSpec::Rev(r) => Target::Commit(resolve(repo, r)?),
    };
    let head = repo.head()?;
    // Files the data does not know, and renames, come from git's own view of
    // the changes since a base commit.
    let since_base = match since {
        Some(rev) => {
            let rev_id = resolve(repo, rev)?;
            let base = match &head {
                Some(h) => repo.merge_base(&rev_id, h)?,
                None => None,
            };
            Some(match base {
                Some(b) => b,
                None => {
                    notes.push(format!(
                        "no merge base of {rev} and HEAD (a shallow clone?); comparing with {rev} itself"
                    ));
                    rev_id
                }
            })
        }
        None => None,
    };
    let listing_base = since_base.clone().or_else(|| {
        recorded_commit
            .filter(|c| repo.resolve_commit(c).ok().flatten().is_some())
            .map(str::to_string)
            .or_else(|| head.clone())
    });
    let path_changes = match &listing_base {
        Some(base) => repo.changed_paths(base, &git_target)?,
        None => Vec::new(),
    };
    crate::trace::step(format_args!("{} paths changed in git", path_changes.len()));
    let tree_ids = match (&git_target, &head) {
        (Target::Commit(c), _) => repo.blob_ids_at(c)?,
        (_, Some(h)) => repo.blob_ids_at(h)?,
        (_, None) => HashMap::new(),
    };
    // Compared with HEAD, the listing above is what `git status` would
    // say: no second scan of the work tree.
    let dirty = match git_target {
        Target::WorkTree if listing_base.is_some() && listing_base == head => path_changes
            .iter()
            .flat_map(|pc| std::iter::once(pc.path.clone()).chain(pc.old_path.clone()))
            .collect(),
        Target::WorkTree => repo.dirty_paths()?.into_iter().collect(),
        _ => BTreeSet::new(),
    };
    let mut read = HashMap::new();
    if git_target == Target::WorkTree {
        for p in dirty.iter().filter(|p| tree_ids.contains_key(*p)) {
            read.insert(p.clone(), repo.read(&git_target, p)?);
        }
    }
    crate::trace::step("tree ids listed, dirty files read");
    Ok(Listing {
        git_target,
        since_base,
        listing_base,
        path_changes,
        tree_ids,
        dirty,
        read,
        notes,
    })
}

/// Computes the changes of every file the data knows (`baselines`: path ->
/// blob id, as [`Store::baselines`] reads them), and the files it does not
/// know, from git's [`Listing`]; with `since`, only files the listing
/// reports are considered.
pub fn compute(
    repo: &Repo,
    store: &Store,
    baselines: BTreeMap<String, String>,
    listing: Listing,
) -> Result<ChangeSet> {
    let git_target = listing.git_target;
    let (since_base, listing_base) = (listing.since_base, listing.listing_base);
    let (tree_ids, dirty, read) = (listing.tree_ids, listing.dirty, listing.read);
    let path_changes = listing.path_changes;
    // A path's entry in the target: as read on the listing's thread, or now.
    let entry = |p: &str| -> Result<Option<Entry>> {
        match read.get(p) {
            Some(e) => Ok(e.clone()),
            None => Ok(repo.read(&git_target, p)?),
        }
    };
    let mut set = ChangeSet {
        notes: listing.notes,
        ..ChangeSet::default()
    };

    let changed = split_by_blob(baselines, &git_target, &tree_ids, &dirty, &entry, &mut set)?;
    crate::trace::step("current blob ids");
    let known = |p: &str| changed.contains_key(p) || set.unchanged.contains_key(p);
    let mut changed_known: BTreeSet<String> = changed.keys().cloned().collect();

    let Touched {
        mut renames,
        mut added,
        unknown_renames,
        touched,
    } = touched_paths(path_changes, known);
    if since_base.is_some() {
        changed_known.retain(|p| touched.contains(p));
        renames.retain(|new, _| touched.contains(new));
        added.retain(|p, _| touched.contains(p));
    }

    known_changes(store, &changed, &changed_known, &renames, &entry, &mut set)?;
    renamed_changes(store, &changed, &renames, &entry, &mut set)?;
    // Byte-code caches are never source changes (when not git-ignored).
    added.retain(|p, _| !is_cache(p));
    let previous = |path: &str, kind: &ChangeKind| -> Result<Option<Vec<u8>>> {
        Ok(match (&listing_base, kind) {
            (Some(base), ChangeKind::Modified | ChangeKind::TypeChanged) => {
                match repo.read(&Target::Commit(base.clone()), path)? {
                    Some(Entry::File { content, .. }) => Some(content),
                    _ => None,
                }
            }
            _ => None,
        })
    };
    unknown_changes(&added, &unknown_renames, &entry, &previous, &mut set)?;
    set.changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(set)
}

/// A path's content at the listing's base, when it had one.
type PreviousOf<'a> = dyn Fn(&str, &ChangeKind) -> Result<Option<Vec<u8>>> + 'a;

/// A path's entry in the target.
type EntryOf<'a> = dyn Fn(&str) -> Result<Option<Entry>> + 'a;

/// Known files whose content differs from their baseline (modified or
/// deleted), except those renamed away.
fn known_changes(
    store: &Store,
    changed: &BTreeMap<String, String>,
    changed_known: &BTreeSet<String>,
    renames: &BTreeMap<String, String>,
    entry: &EntryOf<'_>,
    set: &mut ChangeSet,
) -> Result<()> {
    let renamed_from: BTreeSet<&String> = renames.values().collect();
    for path in changed_known {
        let Some(blob) = changed.get(path) else {
            continue;
        };
        let Some(baseline) = store.source(blob)? else {
            set.unreconstructable.push(path.clone());
            continue;
        };
        if renamed_from.contains(path) {
            continue; // handled as the rename's new path below
        }
        let (current, special) = split_entry(entry(path)?);
        let status = if current.is_none() && special.is_none() {
            Status::Deleted
        } else {
            Status::Modified
        };
        let mut change = make_change(path.clone(), None, status, Some(baseline), current, special);
        change.outline = outline(store, path, blob)?;
        set.changes.push(change);
    }
    Ok(())
}

/// Known files git reports renamed: compared with the old path's baseline.
fn renamed_changes(
    store: &Store,
    changed: &BTreeMap<String, String>,
    renames: &BTreeMap<String, String>,
    entry: &EntryOf<'_>,
    set: &mut ChangeSet,
) -> Result<()> {
    for (new, old) in renames {
        let Some(blob) = changed.get(old).or_else(|| set.unchanged.get(old)) else {
            continue;
        };
        let Some(baseline) = store.source(blob)? else {
            set.unreconstructable.push(old.clone());
            continue;
        };
        let (current, special) = split_entry(entry(new)?);
        let mut change = make_change(
            new.clone(),
            Some(old.clone()),
            Status::Renamed,
            Some(baseline),
            current,
            special,
        );
        change.outline = outline(store, old, blob)?;
        set.changes.push(change);
    }
    Ok(())
}

/// Files the data does not know that git reports touched; `previous` is
/// the content at the listing's base, when there was one.
fn unknown_changes(
    added: &BTreeMap<String, ChangeKind>,
    unknown_renames: &BTreeMap<String, String>,
    entry: &EntryOf<'_>,
    previous: &PreviousOf<'_>,
    set: &mut ChangeSet,
) -> Result<()> {
    for (path, kind) in added {
        let (current, special) = split_entry(entry(path)?);
        let previous = previous(path, kind)?;
        // A renamed data file matters under its old name (tests read that);
        // a renamed unmeasured Python file is analysed as a new one.
        let old_path = unknown_renames
            .get(path)
            .filter(|_| !crate::python::facts::is_python(path))
            .cloned();
        let status = match kind {
            ChangeKind::Deleted => Status::Deleted,
            ChangeKind::Renamed if old_path.is_some() => Status::Renamed,
            _ if previous.is_some() => Status::Modified,
            _ => Status::Added,
        };
        let mut change = make_change(path.clone(), old_path, status, None, current, special);
        change.previous = previous;
        set.changes.push(change);
    }
    Ok(())
}

/// Whether each known file holds its baseline in the target, cheaply: by
/// the blob id in a tree where possible, reading only the files git reports
/// as dirty. Each moves to `set.unchanged` or is returned as a candidate.
fn split_by_blob(
    baselines: BTreeMap<String, String>,
    git_target: &Target,
    tree_ids: &std::collections::HashMap<String, String>,
    dirty: &BTreeSet<String>,
    entry: &dyn Fn(&str) -> Result<Option<Entry>>,
    set: &mut ChangeSet,
) -> Result<BTreeMap<String, String>> {
    let mut changed: BTreeMap<String, String> = BTreeMap::new();
    for (p, blob) in baselines {
        let same = match git_target {
            Target::Commit(_) => tree_ids.get(&p) == Some(&blob),
            Target::WorkTree if !dirty.contains(&p) && tree_ids.contains_key(&p) => {
                tree_ids.get(&p) == Some(&blob)
            }
            Target::WorkTree | Target::Index => {
                entry_id(entry(&p)?).as_deref() == Some(blob.as_str())
            }
        };
        if same {
            set.unchanged.insert(p, blob);
        } else {
            changed.insert(p, blob);
        }
    }
    Ok(changed)
}

/// What git's listing says of the paths, against what the data knows.
struct Touched {
    /// Renames of known files to paths the data does not know: new -> old.
    renames: BTreeMap<String, String>,
    /// Paths the data has no lines for, with how they changed.
    added: BTreeMap<String, ChangeKind>,
    /// Renames of files the data has no lines for: new path -> old path.
    unknown_renames: BTreeMap<String, String>,
    /// Every path the listing reports, old and new.
    touched: BTreeSet<String>,
}

fn touched_paths(path_changes: Vec<git::PathChange>, known: impl Fn(&str) -> bool) -> Touched {
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    let mut added: BTreeMap<String, ChangeKind> = BTreeMap::new();
    // Renames of files the data has no lines for: new path -> old path.
    let mut unknown_renames: BTreeMap<String, String> = BTreeMap::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for pc in path_changes {
        touched.insert(pc.path.clone());
        if let Some(old) = &pc.old_path {
            touched.insert(old.clone());
        }
        let known_new = known(&pc.path);
        match (pc.kind, &pc.old_path) {
            (ChangeKind::Renamed, Some(old)) if known(old) && !known_new => {
                renames.insert(pc.path.clone(), old.clone());
            }
            // A deleted data file matters to the tests that read it; a
            // deleted unmeasured module is found through its importers.
            (ChangeKind::Deleted, _)
                if !known_new && !crate::python::facts::is_python(&pc.path) =>
            {
                added.insert(pc.path.clone(), pc.kind);
            }
            (ChangeKind::Deleted, _) => {}
            _ if !known_new => {
                added.insert(pc.path.clone(), pc.kind);
                if let (ChangeKind::Renamed, Some(old)) = (pc.kind, &pc.old_path) {
                    unknown_renames.insert(pc.path.clone(), old.clone());
                }
            }
            _ => {}
        }
    }
    Touched {
        renames,
        added,
        unknown_renames,
        touched,
    }
}

fn make_change(
    path: String,
    old_path: Option<String>,
    status: Status,
    baseline: Option<Vec<u8>>,
    current: Option<Vec<u8>>,
    special: Option<&'static str>,
) -> Change {
    let mut change = Change::new(path, status, baseline, current);
    change.old_path = old_path;
    change.special = special;
    change
}

/// The stored outline of a Python baseline, when there is a usable one.
pub fn outline(store: &Store, path: &str, blob: &str) -> Result<Option<python::Outline>> {
    if !crate::python::facts::is_python(path) {
        return Ok(None);
    }
    Ok(store
        .outline(blob)?
        .and_then(|text| python::Outline::decode(&text)))
}

/// A regular file's bytes, or what special kind of entry is there instead.
fn split_entry(entry: Option<Entry>) -> (Option<Vec<u8>>, Option<&'static str>) {
    match entry {
        Some(Entry::File { content, .. }) => (Some(content), None),
        Some(Entry::Symlink { .. }) => (None, Some("a symlink")),
        Some(Entry::Submodule { .. }) => (None, Some("a submodule")),
        None => (None, None),
    }
}

fn is_cache(path: &str) -> bool {
    path.ends_with(".pyc") || path.ends_with(".pyo") || path.split('/').any(|c| c == "__pycache__")
}

fn entry_id(entry: Option<Entry>) -> Option<String> {
    match entry {
        Some(Entry::File { content, .. }) => Some(git::blob_id(&content)),
        // A symlink or submodule where a measured file was: never equal.
        Some(Entry::Symlink { target }) => Some(format!("symlink:{}", git::blob_id(&target))),
        Some(Entry::Submodule { .. }) => Some("submodule".into()),
        None => None,
    }
}

fn resolve(repo: &Repo, rev: &str) -> Result<String> {
    repo.resolve_commit(rev)?
        .ok_or_else(|| Error::UnknownRevision {
            rev: rev.to_string(),
            root: repo.root().to_path_buf(),
        })
}
