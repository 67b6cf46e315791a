//! Everything `impact` asks of git: finding the repository, resolving
//! revisions, reading files from a commit, the index or the work tree, listing
//! changed paths, and line diffs. The only module that uses the `git2` crate.
//!
//! Paths in and out are repo-relative `String`s with `/` separators. Git paths
//! are bytes; a path that is not UTF-8 is returned converted lossily (invalid
//! bytes become U+FFFD) rather than dropped or made an error, so that one odd
//! file name cannot stop a whole run and a change to it is still reported. Such
//! a converted path cannot be read back: [`Repo::read`] finds nothing under it.

mod hash;
#[cfg(test)]
mod testing;

use std::collections::HashMap;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use git2::{
    Delta, DiffFindOptions, DiffOptions, ErrorCode, ObjectType, Oid, Repository,
    RepositoryOpenFlags, Status, StatusOptions, StatusShow,
};

pub use hash::{EqualEnds, blob_id, diff_lines, equal_ends, is_binary};

/// A commit id: 40 lowercase hex digits.
pub type CommitId = String;

/// Where to read a file from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// The file system under the work tree root.
    WorkTree,
    /// The staging area.
    Index,
    /// The tree of a commit (any revspec resolving to one is accepted).
    Commit(CommitId),
}

/// What a path holds in a [`Target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File {
        content: Vec<u8>,
        executable: bool,
    },
    /// The link text, not followed.
    Symlink {
        target: Vec<u8>,
    },
    /// A submodule (gitlink). `commit` is `None` in the work tree when it is
    /// not checked out (or its repository cannot be read).
    Submodule {
        commit: Option<CommitId>,
    },
}

/// One changed path between two states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange {
    /// The path after the change (before it, for a deletion).
    pub path: String,
    /// The path before a rename; `None` otherwise.
    pub old_path: Option<String>,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed,
    /// E.g. a regular file became a symlink or a submodule.
    TypeChanged,
}

/// A changed range, numbered exactly as in a `git diff -U0` hunk header: 1-based;
/// a side with 0 lines starts at the line after which the other side's lines go
/// (0 = before line 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hunk {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
}

/// The line-level difference between two file contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineDiff {
    /// Changed ranges in order; empty when the contents are equal.
    Text(Vec<Hunk>),
    /// Either side is binary, so there are no lines to compare.
    Binary,
}

/// Failures of git operations, each naming the path or revision involved.
/// The underlying libgit2 error, where there is one, is the `source`.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "not a git repository: {} (run inside a git work tree, or `git init` first)",
        path.display()
    )]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },

    #[error(
        "{} is a bare git repository, with no work tree (run inside a checkout)",
        path.display()
    )]
    BareRepository { path: PathBuf },

    #[error("failed to open the git repository at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },

    #[error("failed to read HEAD")]
    Head {
        #[source]
        source: git2::Error,
    },

    #[error(
        "unknown revision `{rev}` (check it with `git rev-parse {rev}`; fetch it if it is remote)"
    )]
    UnknownRevision { rev: String },

    #[error("revision `{rev}` names a {kind}, not a commit")]
    NotACommit { rev: String, kind: &'static str },

    #[error("failed to resolve revision `{rev}`")]
    Revision {
        rev: String,
        #[source]
        source: git2::Error,
    },

    #[error("failed to find the merge base of `{a}` and `{b}`")]
    MergeBase {
        a: String,
        b: String,
        #[source]
        source: git2::Error,
    },

    #[error("invalid repository path `{path}`: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    #[error("failed to read `{path}` from {target}")]
    Read {
        path: String,
        target: String,
        #[source]
        source: git2::Error,
    },

    #[error("failed to read `{path}` from the work tree")]
    ReadWorkTree {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid object id `{id}` (expected 40 hex digits)")]
    InvalidObjectId { id: String },

    #[error("failed to read object {id}")]
    Object {
        id: String,
        #[source]
        source: git2::Error,
    },

    #[error("failed to read the git index")]
    Index {
        #[source]
        source: git2::Error,
    },

    #[error("failed to diff `{from}` against {to}")]
    Diff {
        from: String,
        to: String,
        #[source]
        source: git2::Error,
    },

    #[error("failed to read git status of {}", root.display())]
    Status {
        root: PathBuf,
        #[source]
        source: git2::Error,
    },

    #[error("failed to list the files of `{rev}`")]
    Tree {
        rev: String,
        #[source]
        source: git2::Error,
    },

    #[error("failed to check whether `{path}` is ignored")]
    Ignore {
        path: String,
        #[source]
        source: git2::Error,
    },
}

/// Git file modes, as stored in trees and the index.
const MODE_TYPE_MASK: u32 = 0o170000;
const MODE_TREE: u32 = 0o040000;
const MODE_SYMLINK: u32 = 0o120000;
const MODE_GITLINK: u32 = 0o160000;

/// An open repository that has a work tree.
pub struct Repo {
    repo: Repository,
    root: PathBuf,
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repo").field("root", &self.root).finish()
    }
}

impl Repo {
    /// Finds the repository containing `start`, walking up its parents.
    pub fn discover(start: &Path) -> Result<Repo, GitError> {
        let shown = std::path::absolute(start).unwrap_or_else(|_| start.to_owned());
        let repo = Repository::discover(start).map_err(|source| {
            if source.code() == ErrorCode::NotFound {
                GitError::NotARepository {
                    path: shown.clone(),
                    source,
                }
            } else {
                GitError::Open {
                    path: shown.clone(),
                    source,
                }
            }
        })?;
        let workdir = match repo.workdir() {
            Some(dir) if !repo.is_bare() => dir,
            _ => {
                return Err(GitError::BareRepository {
                    path: repo.path().components().collect(),
                });
            }
        };
        // Collecting components drops libgit2's trailing slash.
        let root: PathBuf = workdir.components().collect();
        let root = std::path::absolute(&root).unwrap_or(root);
        Ok(Repo { repo, root })
    }

    /// The absolute work tree root, without a trailing slash.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The commit HEAD points at; `None` on an unborn branch.
    pub fn head(&self) -> Result<Option<CommitId>, GitError> {
        match self.repo.head() {
            Ok(head) => head
                .peel_to_commit()
                .map(|c| Some(c.id().to_string()))
                .map_err(|source| GitError::Head { source }),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
            Err(source) => Err(GitError::Head { source }),
        }
    }

    /// The commit any revspec (`main`, `origin/main`, a sha, `HEAD~1`, a tag)
    /// names; `None` when it names nothing. A revspec that names a tree or
    /// blob, or is malformed or ambiguous, is an error.
    pub fn resolve_commit(&self, rev: &str) -> Result<Option<CommitId>, GitError> {
        Ok(self.lookup_commit(rev)?.map(|c| c.id().to_string()))
    }

    /// Whether this is a shallow clone (history cut short).
    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow()
    }

    /// The best common ancestor of two revisions; `None` when there is none
    /// (unrelated histories, or a shallow clone that lacks it). A revision that
    /// does not exist is an error.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<CommitId>, GitError> {
        let a_id = self.require_commit(a)?.id();
        let b_id = self.require_commit(b)?.id();
        match self.repo.merge_base(a_id, b_id) {
            Ok(id) => Ok(Some(id.to_string())),
            // libgit2 reports "no merge base" as NotFound; a parent missing
            // from a shallow clone's object store shows up the same way.
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(source) => Err(GitError::MergeBase {
                a: a.to_owned(),
                b: b.to_owned(),
                source,
            }),
        }
    }

    /// What `path` holds in `target`; `None` when nothing is there. A directory
    /// is not an entry (`None`), except a submodule's. In the work tree, a path
    /// beneath a symlink or inside a nested repository is `None`, as git sees
    /// it; only stage 0 of the index is read, so a conflicted path is `None`
    /// there.
    pub fn read(&self, target: &Target, path: &str) -> Result<Option<Entry>, GitError> {
        let rel = repo_path(path)?;
        match target {
            Target::WorkTree => self.read_work_tree(path, rel),
            Target::Index => {
                let index = self.fresh_index()?;
                match index.get_path(rel, 0) {
                    Some(e) => self.entry_from_object(e.mode, e.id, path, target),
                    None => Ok(None),
                }
            }
            Target::Commit(rev) => {
                let commit = self.require_commit(rev)?;
                let err = |source| GitError::Read {
                    path: path.to_owned(),
                    target: describe(target),
                    source,
                };
                let tree = commit.tree().map_err(err)?;
                match tree.get_path(rel) {
                    Ok(e) => self.entry_from_object(e.filemode() as u32, e.id(), path, target),
                    Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
                    Err(source) => Err(err(source)),
                }
            }
        }
    }

    /// The content of a blob; `None` when the object database lacks it (for
    /// example a shallow clone) or the id names another kind of object.
    pub fn find_blob(&self, blob_id: &str) -> Result<Option<Vec<u8>>, GitError> {
        let invalid = || GitError::InvalidObjectId {
            id: blob_id.to_owned(),
        };
        // Oid::from_str pads a short id with zeros; demand a full one.
        if blob_id.len() != 40 || !blob_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let oid = Oid::from_str(blob_id).map_err(|_| invalid())?;
        match self.repo.find_blob(oid) {
            Ok(blob) => Ok(Some(blob.content().to_vec())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(source) => Err(GitError::Object {
                id: blob_id.to_owned(),
                source,
            }),
        }
    }

    /// The paths that differ between the tree of commit `from` and `to`,
    /// sorted by path. Renames are detected as git does by default (50%
    /// similarity). For the work tree, untracked files that are not ignored
    /// count as added, and take part in rename detection, so a file moved
    /// without `git mv` is a rename too.
    pub fn changed_paths(&self, from: &str, to: &Target) -> Result<Vec<PathChange>, GitError> {
        let err = |source| GitError::Diff {
            from: from.to_owned(),
            to: describe(to),
            source,
        };
        let old_tree = self.require_commit(from)?.tree().map_err(err)?;
        let mut opts = DiffOptions::new();
        opts.include_typechange(true);
        let mut diff = match to {
            Target::WorkTree => {
                opts.include_untracked(true).recurse_untracked_dirs(true);
                self.repo
                    .diff_tree_to_workdir_with_index(Some(&old_tree), Some(&mut opts))
            }
            Target::Index => {
                let index = self.fresh_index()?;
                self.repo
                    .diff_tree_to_index(Some(&old_tree), Some(&index), Some(&mut opts))
            }
            Target::Commit(rev) => {
                let new_tree = self.require_commit(rev)?.tree().map_err(err)?;
                self.repo
                    .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), Some(&mut opts))
            }
        }
        .map_err(err)?;

        let mut find = DiffFindOptions::new();
        find.renames(true).for_untracked(true).rename_threshold(50);
        diff.find_similar(Some(&mut find)).map_err(err)?;

        let mut changes = Vec::with_capacity(diff.deltas().len());
        for delta in diff.deltas() {
            let kind = match delta.status() {
                Delta::Added | Delta::Untracked | Delta::Copied => ChangeKind::Added,
                Delta::Deleted => ChangeKind::Deleted,
                Delta::Renamed => ChangeKind::Renamed,
                Delta::Typechange => ChangeKind::TypeChanged,
                // An unreadable or conflicted file may have changed in any way;
                // calling it modified keeps its tests selected.
                Delta::Modified | Delta::Conflicted | Delta::Unreadable => ChangeKind::Modified,
                Delta::Unmodified | Delta::Ignored => continue,
            };
            let old = delta.old_file().path_bytes().map(repo_string);
            let new = delta.new_file().path_bytes().map(repo_string);
            let (path, old_path) = match kind {
                ChangeKind::Deleted => (old.or(new), None),
                ChangeKind::Renamed => (new.or_else(|| old.clone()), old),
                _ => (new.or(old), None),
            };
            changes.push(PathChange {
                path: path.unwrap_or_default(),
                old_path,
                kind,
            });
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(changes)
    }

    /// Paths whose work tree or index state differs from HEAD: modified,
    /// staged, deleted, or untracked and not ignored; sorted. Uses git status,
    /// so unchanged files cost a stat, not a read. A path staged and then
    /// reverted in the work tree is still listed (a harmless superset).
    pub fn dirty_paths(&self) -> Result<Vec<String>, GitError> {
        let mut opts = StatusOptions::new();
        opts.show(StatusShow::IndexAndWorkdir)
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .include_unmodified(false)
            // Without rename pairing both the old and new path are listed.
            .renames_head_to_index(false)
            .renames_index_to_workdir(false);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|source| GitError::Status {
                root: self.root.clone(),
                source,
            })?;
        let mut paths: Vec<String> = statuses
            .iter()
            .filter(|e| {
                let s = e.status();
                !s.is_empty() && !s.contains(Status::IGNORED)
            })
            .map(|e| repo_string(e.path_bytes()))
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// Every blob (file or symlink) path in the tree of commit `rev`, mapped
    /// to its blob id; submodules are skipped.
    pub fn blob_ids_at(&self, rev: &str) -> Result<HashMap<String, String>, GitError> {
        let err = |source| GitError::Tree {
            rev: rev.to_owned(),
            source,
        };
        let root_tree = self.require_commit(rev)?.tree().map_err(err)?;
        let mut ids = HashMap::new();
        // Our own walk, not Tree::walk, which aborts on a non-UTF-8 directory.
        let mut pending = vec![(String::new(), root_tree)];
        while let Some((prefix, tree)) = pending.pop() {
            for entry in tree.iter() {
                let path = format!("{prefix}{}", repo_string(entry.name_bytes()));
                match entry.kind() {
                    Some(ObjectType::Blob) => {
                        ids.insert(path, entry.id().to_string());
                    }
                    Some(ObjectType::Tree) => {
                        let sub = self.repo.find_tree(entry.id()).map_err(err)?;
                        pending.push((path + "/", sub));
                    }
                    // A commit entry is a submodule: not our files.
                    _ => {}
                }
            }
        }
        Ok(ids)
    }

    /// Whether `.gitignore` rules (and `.git/info/exclude`, `core.excludesFile`)
    /// match `path`, whether or not it is tracked.
    pub fn is_ignored(&self, path: &str) -> Result<bool, GitError> {
        let rel = repo_path(path)?;
        self.repo
            .is_path_ignored(rel)
            .map_err(|source| GitError::Ignore {
                path: path.to_owned(),
                source,
            })
    }

    /// The commit `rev` names, `None` when it names nothing.
    fn lookup_commit(&self, rev: &str) -> Result<Option<git2::Commit<'_>>, GitError> {
        let object = match self.repo.revparse_single(rev) {
            Ok(object) => object,
            Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::UnbornBranch) => {
                return Ok(None);
            }
            Err(source) => {
                return Err(GitError::Revision {
                    rev: rev.to_owned(),
                    source,
                });
            }
        };
        match object.peel_to_commit() {
            Ok(commit) => Ok(Some(commit)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(_) => Err(GitError::NotACommit {
                rev: rev.to_owned(),
                kind: object.kind().map_or("object", |k| k.str()),
            }),
        }
    }

    /// The commit `rev` names; an error when it names nothing.
    fn require_commit(&self, rev: &str) -> Result<git2::Commit<'_>, GitError> {
        self.lookup_commit(rev)?
            .ok_or_else(|| GitError::UnknownRevision {
                rev: rev.to_owned(),
            })
    }

    /// The index, re-read if another process changed it since we last looked.
    fn fresh_index(&self) -> Result<git2::Index, GitError> {
        let mut index = self
            .repo
            .index()
            .map_err(|source| GitError::Index { source })?;
        index
            .read(false)
            .map_err(|source| GitError::Index { source })?;
        Ok(index)
    }

    /// The entry for an object with a git file mode, from a tree or the index.
    fn entry_from_object(
        &self,
        mode: u32,
        id: Oid,
        path: &str,
        target: &Target,
    ) -> Result<Option<Entry>, GitError> {
        let kind = mode & MODE_TYPE_MASK;
        if kind == MODE_GITLINK {
            return Ok(Some(Entry::Submodule {
                commit: Some(id.to_string()),
            }));
        }
        if kind == MODE_TREE {
            return Ok(None);
        }
        let content = self
            .repo
            .find_blob(id)
            .map(|blob| blob.content().to_vec())
            .map_err(|source| GitError::Read {
                path: path.to_owned(),
                target: describe(target),
                source,
            })?;
        Ok(Some(if kind == MODE_SYMLINK {
            Entry::Symlink { target: content }
        } else {
            Entry::File {
                content,
                executable: mode & 0o111 != 0,
            }
        }))
    }

    fn read_work_tree(&self, path: &str, rel: &Path) -> Result<Option<Entry>, GitError> {
        let io_err = |source| GitError::ReadWorkTree {
            path: path.to_owned(),
            source,
        };
        // Git does not track anything beneath a symlink or inside a nested
        // repository, so neither do we (and a symlink must not lead us out).
        let mut dir = self.root.clone();
        let mut components: Vec<_> = rel.components().collect();
        components.pop();
        for component in components {
            dir.push(component);
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {
                    if exists_no_follow(&dir.join(".git")).map_err(io_err)? {
                        return Ok(None);
                    }
                }
                Ok(_) => return Ok(None),
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(io_err(e)),
            }
        }

        let full = self.root.join(rel);
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(meta) => meta,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            return match std::fs::read_link(&full) {
                Ok(target) => Ok(Some(Entry::Symlink {
                    target: path_bytes(&target),
                })),
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(io_err(e)),
            };
        }
        if file_type.is_dir() {
            let is_gitlink = self
                .fresh_index()?
                .get_path(rel, 0)
                .is_some_and(|e| e.mode & MODE_TYPE_MASK == MODE_GITLINK);
            if is_gitlink || exists_no_follow(&full.join(".git")).map_err(io_err)? {
                return Ok(Some(Entry::Submodule {
                    commit: submodule_head(&full),
                }));
            }
            return Ok(None);
        }
        if !file_type.is_file() {
            // A fifo, socket or device: git cannot track it.
            return Ok(None);
        }
        match std::fs::read(&full) {
            Ok(content) => Ok(Some(Entry::File {
                content,
                executable: is_executable(&meta),
            })),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }
}

/// Checks a repo-relative path from a caller and views it as a `Path`.
/// Rejecting `..`, absolute paths and NUL keeps reads inside the repository
/// (and NUL out of libgit2, whose Rust wrapper panics on it in index lookups).
fn repo_path(path: &str) -> Result<&Path, GitError> {
    let invalid = |reason| {
        Err(GitError::InvalidPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return invalid("it is empty");
    }
    if path.contains('\0') {
        return invalid("it contains a NUL byte");
    }
    if path.starts_with('/') {
        return invalid("it must be relative to the repository root");
    }
    for component in path.split('/') {
        match component {
            "" => return invalid("it has an empty component (a doubled or trailing `/`)"),
            "." | ".." => return invalid("it has a `.` or `..` component"),
            ".git" => return invalid("it is inside `.git`"),
            _ => {}
        }
    }
    Ok(Path::new(path))
}

/// A git path as a `String`: lossy for non-UTF-8 (see the module comment), and
/// without the trailing `/` git gives an untracked nested repository.
fn repo_string(bytes: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(bytes).into_owned();
    while s.len() > 1 && s.ends_with('/') {
        s.pop();
    }
    s
}

fn describe(target: &Target) -> String {
    match target {
        Target::WorkTree => "the work tree".to_owned(),
        Target::Index => "the index".to_owned(),
        Target::Commit(rev) => format!("commit `{rev}`"),
    }
}

/// Not there, or a file where a directory was expected.
fn is_absent(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn exists_no_follow(path: &Path) -> Result<bool, std::io::Error> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The commit checked out in a submodule's work tree; `None` when it is not
/// checked out or cannot be read (the caller then treats it as unknown).
fn submodule_head(dir: &Path) -> Option<CommitId> {
    let repo = Repository::open_ext(dir, RepositoryOpenFlags::NO_SEARCH, &[] as &[&Path]).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::testing::TestRepo;
    use super::*;

    fn open(t: &TestRepo) -> Repo {
        Repo::discover(&t.root).expect("discover")
    }

    fn change(path: &str, kind: ChangeKind) -> PathChange {
        PathChange {
            path: path.to_owned(),
            old_path: None,
            kind,
        }
    }

    fn file(content: &[u8]) -> Option<Entry> {
        Some(Entry::File {
            content: content.to_vec(),
            executable: false,
        })
    }

    /// Numbered lines, so that a small edit keeps a file over 50% similar.
    fn lines(tag: &str) -> String {
        (1..=20).map(|i| format!("{tag} line {i}\n")).collect()
    }

    #[test]
    fn discover_walks_up_from_a_subdirectory() {
        let t = TestRepo::new();
        t.write("a/b/c.txt", "x\n");
        let repo = Repo::discover(&t.root.join("a/b")).expect("discover");
        let toplevel = t.run(&["rev-parse", "--show-toplevel"]);
        assert_eq!(repo.root(), Path::new(toplevel.trim()));
        assert!(repo.root().is_absolute());
        assert!(!repo.root().to_string_lossy().ends_with('/'));
    }

    #[test]
    fn discover_outside_a_repository_is_not_a_repository() {
        let t = TestRepo::empty_dir();
        let err = Repo::discover(&t.root).expect_err("no repo");
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&t.root.display().to_string()), "{message}");
        assert!(message.contains("git init"), "{message}");
    }

    #[test]
    fn discover_refuses_a_bare_repository() {
        let t = TestRepo::empty_dir();
        t.run(&["init", "-q", "--bare"]);
        let err = Repo::discover(&t.root).expect_err("bare");
        assert!(matches!(err, GitError::BareRepository { .. }), "{err:?}");
    }

    #[test]
    fn unborn_branch_has_no_head() {
        let t = TestRepo::new();
        t.write("new.py", "x\n");
        let repo = open(&t);
        assert_eq!(repo.head().expect("head"), None);
        assert_eq!(repo.resolve_commit("HEAD").expect("resolve"), None);
        assert_eq!(repo.dirty_paths().expect("dirty"), vec!["new.py"]);
        assert!(matches!(
            repo.changed_paths("HEAD", &Target::WorkTree),
            Err(GitError::UnknownRevision { .. })
        ));
    }

    #[test]
    fn resolve_commit_handles_revspecs() {
        let t = TestRepo::new();
        t.write("f.txt", "1\n");
        let first = t.commit("first");
        t.run(&["tag", "-a", "-m", "v1", "v1"]);
        t.write("f.txt", "2\n");
        let second = t.commit("second");
        let repo = open(&t);
        assert_eq!(repo.head().expect("head"), Some(second.clone()));
        assert_eq!(repo.resolve_commit("main").expect("main"), Some(second));
        assert_eq!(
            repo.resolve_commit("HEAD~1").expect("~1"),
            Some(first.clone())
        );
        assert_eq!(
            repo.resolve_commit(&first[..8]).expect("short"),
            Some(first.clone())
        );
        // An annotated tag peels to its commit.
        assert_eq!(repo.resolve_commit("v1").expect("tag"), Some(first));
        for missing in ["nope", "origin/main", "HEAD~5", &"0".repeat(40)] {
            assert_eq!(
                repo.resolve_commit(missing).expect(missing),
                None,
                "{missing}"
            );
        }
        assert!(matches!(
            repo.resolve_commit("HEAD:f.txt"),
            Err(GitError::NotACommit { kind: "blob", .. })
        ));
        assert!(repo.resolve_commit("a\0b").is_err());
    }

    #[test]
    fn changed_paths_in_the_work_tree() {
        let t = TestRepo::new();
        t.write(".gitignore", "*.log\n");
        t.write("keep.py", lines("keep"));
        t.write("old_name.py", lines("moved"));
        t.write("gone.py", lines("gone"));
        let base = t.commit("base");

        t.write("keep.py", lines("keep") + "extra\n");
        // Moved without `git mv` and edited a little: still a rename.
        std::fs::remove_file(t.root.join("old_name.py")).expect("rm");
        t.write(
            "new_name.py",
            lines("moved").replace("line 3\n", "line three\n"),
        );
        std::fs::remove_file(t.root.join("gone.py")).expect("rm");
        t.write("pkg/added.py", "new\n");
        t.write("debug.log", "ignored\n");

        let repo = open(&t);
        let changes = repo
            .changed_paths(&base, &Target::WorkTree)
            .expect("changed");
        assert_eq!(
            changes,
            vec![
                change("gone.py", ChangeKind::Deleted),
                change("keep.py", ChangeKind::Modified),
                PathChange {
                    path: "new_name.py".to_owned(),
                    old_path: Some("old_name.py".to_owned()),
                    kind: ChangeKind::Renamed,
                },
                change("pkg/added.py", ChangeKind::Added),
            ]
        );
        // Nothing changed between the commit and itself.
        assert_eq!(
            repo.changed_paths(&base, &Target::Commit(base.clone()))
                .expect("same"),
            vec![]
        );
    }

    #[test]
    fn changed_paths_in_the_index_sees_only_staged_changes() {
        let t = TestRepo::new();
        t.write("staged.py", "a\n");
        t.write("unstaged.py", "a\n");
        let base = t.commit("base");
        // Opened before the changes: the index must be re-read, not cached.
        let repo = open(&t);
        assert_eq!(
            repo.changed_paths("HEAD", &Target::Index).expect("index"),
            vec![]
        );
        assert_eq!(
            repo.read(&Target::Index, "staged.py").expect("read"),
            file(b"a\n")
        );
        t.write("staged.py", "b\n");
        t.run(&["add", "staged.py"]);
        t.write("unstaged.py", "b\n");
        assert_eq!(
            repo.read(&Target::Index, "staged.py").expect("read"),
            file(b"b\n")
        );
        assert_eq!(
            repo.changed_paths("HEAD", &Target::Index).expect("index"),
            vec![change("staged.py", ChangeKind::Modified)]
        );
        assert_eq!(
            repo.changed_paths(&base, &Target::WorkTree)
                .expect("work tree"),
            vec![
                change("staged.py", ChangeKind::Modified),
                change("unstaged.py", ChangeKind::Modified),
            ]
        );
    }

    #[test]
    fn changed_paths_between_commits_with_rename_and_type_change() {
        let t = TestRepo::new();
        t.write("a.py", lines("a"));
        t.write("link", "was a file\n");
        let base = t.commit("base");
        t.run(&["mv", "a.py", "b.py"]);
        std::fs::remove_file(t.root.join("link")).expect("rm");
        std::os::unix::fs::symlink("b.py", t.root.join("link")).expect("symlink");
        let next = t.commit("next");
        let repo = open(&t);
        assert_eq!(
            repo.changed_paths(&base, &Target::Commit(next))
                .expect("changed"),
            vec![
                PathChange {
                    path: "b.py".to_owned(),
                    old_path: Some("a.py".to_owned()),
                    kind: ChangeKind::Renamed,
                },
                change("link", ChangeKind::TypeChanged),
            ]
        );
        assert!(matches!(
            repo.changed_paths("missing", &Target::WorkTree),
            Err(GitError::UnknownRevision { .. })
        ));
    }

    #[test]
    fn read_files_symlinks_and_missing_paths() {
        let t = TestRepo::new();
        t.write("dir/plain.txt", "plain\n");
        t.write("run.sh", "#!/bin/sh\n");
        {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(t.root.join("run.sh"), perms).expect("chmod");
        }
        std::os::unix::fs::symlink("dir/plain.txt", t.root.join("link")).expect("symlink");
        std::os::unix::fs::symlink("dir", t.root.join("dirlink")).expect("symlink");
        let head = t.commit("base");
        let repo = open(&t);

        for target in [
            Target::WorkTree,
            Target::Index,
            Target::Commit(head.clone()),
        ] {
            assert_eq!(
                repo.read(&target, "dir/plain.txt").expect("read"),
                file(b"plain\n"),
                "{target:?}"
            );
            assert_eq!(
                repo.read(&target, "run.sh").expect("read"),
                Some(Entry::File {
                    content: b"#!/bin/sh\n".to_vec(),
                    executable: true
                })
            );
        }
        for target in [Target::WorkTree, Target::Index, Target::Commit(head)] {
            assert_eq!(
                repo.read(&target, "link").expect("read"),
                Some(Entry::Symlink {
                    target: b"dir/plain.txt".to_vec()
                }),
                "{target:?}"
            );
            assert_eq!(repo.read(&target, "missing.py").expect("read"), None);
            assert_eq!(
                repo.read(&target, "dir").expect("read"),
                None,
                "a directory"
            );
            // Git sees nothing beneath a symlink, or beneath a file.
            assert_eq!(repo.read(&target, "dirlink/plain.txt").expect("read"), None);
            assert_eq!(repo.read(&target, "run.sh/x").expect("read"), None);
        }
        assert_eq!(
            repo.read(&Target::WorkTree, "dir/plain.txt").expect("read"),
            file(b"plain\n")
        );
        // The work tree is read as it is, not as committed.
        t.write("dir/plain.txt", "edited\r\n");
        assert_eq!(
            repo.read(&Target::WorkTree, "dir/plain.txt").expect("read"),
            file(b"edited\r\n")
        );
        assert!(matches!(
            repo.read(&Target::Commit("nope".to_owned()), "run.sh"),
            Err(GitError::UnknownRevision { .. })
        ));
    }

    #[test]
    fn read_rejects_paths_that_leave_the_repository() {
        let t = TestRepo::new();
        let repo = open(&t);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./a",
            "a//b",
            "a/",
            ".git/config",
            "a\0b",
        ] {
            for target in [Target::WorkTree, Target::Index] {
                assert!(
                    matches!(repo.read(&target, bad), Err(GitError::InvalidPath { .. })),
                    "{bad:?}"
                );
            }
            assert!(matches!(
                repo.is_ignored(bad),
                Err(GitError::InvalidPath { .. })
            ));
        }
    }

    #[test]
    fn read_submodules() {
        let sub = TestRepo::new();
        sub.write("lib.py", "x = 1\n");
        let sub_head = sub.commit("sub");
        let t = TestRepo::new();
        t.write("main.py", "import lib\n");
        let sub_path = sub.root.to_string_lossy().into_owned();
        t.run(&[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &sub_path,
            "sub",
        ]);
        let head = t.commit("with submodule");
        let repo = open(&t);
        let expected = Some(Entry::Submodule {
            commit: Some(sub_head),
        });
        for target in [
            Target::WorkTree,
            Target::Index,
            Target::Commit(head.clone()),
        ] {
            assert_eq!(
                repo.read(&target, "sub").expect("read"),
                expected,
                "{target:?}"
            );
            // Its files are not ours.
            assert_eq!(
                repo.read(&target, "sub/lib.py").expect("read"),
                None,
                "{target:?}"
            );
        }
        let ids = repo.blob_ids_at(&head).expect("blob ids");
        let mut paths: Vec<_> = ids.keys().cloned().collect();
        paths.sort();
        assert_eq!(paths, vec![".gitmodules", "main.py"]);
        assert_eq!(repo.dirty_paths().expect("dirty"), Vec::<String>::new());

        // Not checked out: still a submodule, commit unknown.
        t.run(&["submodule", "deinit", "-q", "-f", "sub"]);
        assert_eq!(
            repo.read(&Target::WorkTree, "sub").expect("read"),
            Some(Entry::Submodule { commit: None })
        );
    }

    /// main: A - C, feature: A - B.
    fn forked() -> (TestRepo, String) {
        let t = TestRepo::new();
        t.write("f.txt", "base\n");
        let a = t.commit("A");
        t.run(&["checkout", "-q", "-b", "feature"]);
        t.write("f.txt", "feature\n");
        t.commit("B");
        t.run(&["checkout", "-q", "main"]);
        t.write("f.txt", "main\n");
        t.commit("C");
        (t, a)
    }

    #[test]
    fn merge_base_of_branches() {
        let (t, a) = forked();
        let repo = open(&t);
        assert!(!repo.is_shallow());
        assert_eq!(
            repo.merge_base("main", "feature").expect("base"),
            Some(a.clone())
        );
        assert_eq!(repo.merge_base("feature", "HEAD").expect("base"), Some(a));
        assert!(matches!(
            repo.merge_base("main", "nope"),
            Err(GitError::UnknownRevision { .. })
        ));
        // An unrelated history has none.
        t.run(&["checkout", "-q", "--orphan", "other"]);
        t.write("g.txt", "other\n");
        t.commit("unrelated");
        assert_eq!(repo.merge_base("main", "other").expect("base"), None);
    }

    #[test]
    fn shallow_clone_lacks_the_merge_base_and_old_blobs() {
        let (origin, _) = forked();
        let base_blob = blob_id(b"base\n");
        assert_eq!(
            open(&origin).find_blob(&base_blob).expect("find"),
            Some(b"base\n".to_vec())
        );
        let clone_dir = origin.sibling("clone");
        let url = format!("file://{}", origin.root.display());
        let clone_path = clone_dir.to_string_lossy().into_owned();
        origin.run(&[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            &clone_path,
        ]);
        let repo = Repo::discover(&clone_dir).expect("discover clone");
        assert!(repo.is_shallow());
        assert!(
            repo.resolve_commit("origin/feature")
                .expect("feature")
                .is_some()
        );
        assert_eq!(
            repo.merge_base("origin/main", "origin/feature")
                .expect("base"),
            None
        );
        assert_eq!(repo.find_blob(&base_blob).expect("find"), None);
        assert_eq!(repo.resolve_commit("HEAD~1").expect("parent"), None);
    }

    #[test]
    fn find_blob_by_id() {
        let t = TestRepo::new();
        t.write("a.txt", "hello\n");
        t.commit("a");
        let repo = open(&t);
        let id = t.run(&["rev-parse", "HEAD:a.txt"]).trim().to_owned();
        assert_eq!(
            repo.find_blob(&id).expect("find"),
            Some(b"hello\n".to_vec())
        );
        assert_eq!(
            repo.find_blob(&id.to_uppercase()).expect("find"),
            Some(b"hello\n".to_vec())
        );
        assert_eq!(repo.find_blob(&"1".repeat(40)).expect("missing"), None);
        // A commit id is not a blob.
        assert_eq!(repo.find_blob(&t.head()).expect("commit"), None);
        for bad in ["", "abc", &"g".repeat(40), &"1".repeat(41)] {
            assert!(
                matches!(repo.find_blob(bad), Err(GitError::InvalidObjectId { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dirty_paths_lists_what_differs_from_head() {
        let t = TestRepo::new();
        t.write(".gitignore", "*.log\nbuild/\n");
        for name in [
            "clean.py",
            "modified.py",
            "staged.py",
            "deleted.py",
            "renamed.py",
        ] {
            t.write(name, lines(name));
        }
        t.commit("base");
        t.write("modified.py", "changed\n");
        t.write("staged.py", "changed\n");
        t.run(&["add", "staged.py"]);
        std::fs::remove_file(t.root.join("deleted.py")).expect("rm");
        t.run(&["mv", "renamed.py", "moved.py"]);
        t.write("untracked/new.py", "new\n");
        t.write("debug.log", "ignored\n");
        t.write("build/out.py", "ignored\n");
        let repo = open(&t);
        assert_eq!(
            repo.dirty_paths().expect("dirty"),
            vec![
                "deleted.py",
                "modified.py",
                "moved.py",
                "renamed.py",
                "staged.py",
                "untracked/new.py",
            ]
        );
    }

    #[test]
    fn blob_ids_match_ls_tree() {
        let t = TestRepo::new();
        t.write("a.py", "a\n");
        t.write("pkg/b.py", "b\n");
        t.write("pkg/deep/c.py", "c\n");
        std::os::unix::fs::symlink("a.py", t.root.join("link")).expect("symlink");
        let head = t.commit("base");
        let expected: HashMap<String, String> = t
            .run(&["ls-tree", "-r", "HEAD"])
            .lines()
            .filter_map(|l| {
                let (meta, path) = l.split_once('\t')?;
                let id = meta.split(' ').nth(2)?;
                Some((path.to_owned(), id.to_owned()))
            })
            .collect();
        assert_eq!(expected.len(), 4);
        let repo = open(&t);
        assert_eq!(repo.blob_ids_at(&head).expect("ids"), expected);
        assert_eq!(repo.blob_ids_at("HEAD").expect("ids"), expected);
        assert_eq!(expected["a.py"], blob_id(b"a\n"));
    }

    #[test]
    fn is_ignored_follows_gitignore() {
        let t = TestRepo::new();
        t.write(".gitignore", "*.log\nbuild/\n");
        t.write("build/out.py", "x\n");
        let repo = open(&t);
        assert!(repo.is_ignored("debug.log").expect("ignored"));
        assert!(repo.is_ignored("sub/debug.log").expect("ignored"));
        assert!(repo.is_ignored("build/out.py").expect("ignored"));
        assert!(!repo.is_ignored("main.py").expect("ignored"));
        assert!(!repo.is_ignored(".gitignore").expect("ignored"));
    }

    #[test]
    fn non_utf8_paths_are_reported_lossily() {
        use std::os::unix::ffi::OsStrExt;
        let t = TestRepo::new();
        t.write("a.py", "a\n");
        let base = t.commit("base");
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.py");
        std::fs::write(t.root.join(name), "x\n").expect("write");
        let repo = open(&t);
        let lossy = "caf\u{FFFD}.py".to_owned();
        assert_eq!(repo.dirty_paths().expect("dirty"), vec![lossy.clone()]);
        assert_eq!(
            repo.changed_paths(&base, &Target::WorkTree)
                .expect("changed"),
            vec![change(&lossy, ChangeKind::Added)]
        );
        let head = t.commit("odd name");
        assert!(repo.blob_ids_at(&head).expect("ids").contains_key(&lossy));
    }
}
