//! The tree of one commit, read from the object database.

use gix::ObjectId;

use crate::{GitError, MAX_FILE_BYTES, MAX_TREE_DEPTH, MAX_WALK_ENTRIES};

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Executable,
    Dir,
    Symlink,
    /// A submodule (a commit in another repository; never followed).
    Submodule,
}

impl EntryKind {
    fn of(mode: gix::objs::tree::EntryMode) -> Self {
        use gix::objs::tree::EntryKind as K;
        match mode.kind() {
            K::Tree => Self::Dir,
            K::Blob => Self::File,
            K::BlobExecutable => Self::Executable,
            K::Link => Self::Symlink,
            K::Commit => Self::Submodule,
        }
    }

    /// A regular file (executable or not).
    pub fn is_file(self) -> bool {
        matches!(self, Self::File | Self::Executable)
    }
}

/// One entry of a directory listing or a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// `/`-separated path from the repository root (for [`Tree::list_dir`]: the directory's
    /// path joined with the name).
    pub path: String,
    pub kind: EntryKind,
}

/// The tree of one commit of one repository. Cheap to create; `Send`, not `Sync` (one per
/// thread: [`crate::RepoCache::tree`] hands out a new one each call).
pub struct Tree {
    repo: gix::Repository,
    url: String,
    commit: ObjectId,
    root: ObjectId,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("url", &self.url)
            .field("commit", &self.commit.to_string())
            .finish()
    }
}

impl Tree {
    pub(crate) fn new(
        repo: gix::Repository,
        url: &str,
        commit: ObjectId,
    ) -> Result<Self, GitError> {
        let root = {
            let c = repo.find_commit(commit).map_err(|e| GitError::Read {
                url: url.to_owned(),
                commit: commit.to_string(),
                path: String::new(),
                message: format!("{e:#}"),
            })?;
            c.tree_id()
                .map_err(|e| GitError::Read {
                    url: url.to_owned(),
                    commit: commit.to_string(),
                    path: String::new(),
                    message: format!("{e:#}"),
                })?
                .detach()
        };
        Ok(Self {
            repo,
            url: url.to_owned(),
            commit,
            root,
        })
    }

    /// The commit SHA (40 hex digits).
    pub fn commit(&self) -> String {
        self.commit.to_string()
    }

    /// The repository URL this tree came from.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, path: &str, message: impl Into<String>) -> GitError {
        GitError::Read {
            url: self.url.clone(),
            commit: self.commit.to_string(),
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// Splits a path into its components; `.`, empty components and leading/trailing `/`
    /// are ignored; `..` is refused (nothing outside the repository).
    fn components<'a>(&self, path: &'a str) -> Result<Vec<&'a str>, GitError> {
        let mut out = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(self.err(path, "'..' leads outside the repository")),
                c => out.push(c),
            }
        }
        Ok(out)
    }

    /// The entry at `path` (the root tree for an empty path), following symlinks inside the
    /// repository (a symlink leading out is an error).
    fn lookup(&self, path: &str) -> Result<Option<(ObjectId, EntryKind)>, GitError> {
        let mut parts: Vec<String> = self
            .components(path)?
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut hops = 0;
        'restart: loop {
            let mut cur = self.root;
            let mut kind = EntryKind::Dir;
            for (i, name) in parts.iter().enumerate() {
                if kind != EntryKind::Dir {
                    return Ok(None);
                }
                let tree = self
                    .repo
                    .find_tree(cur)
                    .map_err(|e| self.err(path, format!("{e:#}")))?;
                let mut found = None;
                for entry in tree.iter() {
                    let entry = entry.map_err(|e| self.err(path, format!("{e:#}")))?;
                    if entry.filename() == name.as_bytes() {
                        found = Some((entry.object_id(), EntryKind::of(entry.mode())));
                        break;
                    }
                }
                let Some((id, k)) = found else {
                    return Ok(None);
                };
                if k == EntryKind::Symlink {
                    hops += 1;
                    if hops > 40 {
                        return Err(self.err(path, "too many levels of symbolic links"));
                    }
                    let blob = self
                        .repo
                        .find_blob(id)
                        .map_err(|e| self.err(path, format!("{e:#}")))?;
                    let target = String::from_utf8_lossy(&blob.data).into_owned();
                    if target.starts_with('/') {
                        return Err(self.err(
                            path,
                            format!("symlink to {target} leads outside the repository"),
                        ));
                    }
                    // rebuild: parent components, the target, the rest
                    let mut next: Vec<String> = parts[..i].to_vec();
                    for c in target.split('/') {
                        match c {
                            "" | "." => {}
                            ".." => {
                                if next.pop().is_none() {
                                    return Err(self.err(
                                        path,
                                        format!("symlink to {target} leads outside the repository"),
                                    ));
                                }
                            }
                            c => next.push(c.to_owned()),
                        }
                    }
                    next.extend(parts[i + 1..].iter().cloned());
                    parts = next;
                    continue 'restart;
                }
                cur = id;
                kind = k;
            }
            return Ok(Some((cur, kind)));
        }
    }

    /// The content of the file at `path` (symlinks inside the repository followed); `None`
    /// when there is no such file (missing, a directory, a submodule).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let Some((id, kind)) = self.lookup(path)? else {
            return Ok(None);
        };
        if !kind.is_file() {
            return Ok(None);
        }
        let header = self
            .repo
            .find_header(id)
            .map_err(|e| self.err(path, format!("{e:#}")))?;
        if header.size() > MAX_FILE_BYTES {
            return Err(self.err(
                path,
                format!(
                    "{} bytes, more than the {MAX_FILE_BYTES} a file may have",
                    header.size()
                ),
            ));
        }
        let blob = self
            .repo
            .find_blob(id)
            .map_err(|e| self.err(path, format!("{e:#}")))?;
        Ok(Some(blob.detach().data))
    }

    /// The entries of the directory at `path` (`""` is the root) in git's order; `None`
    /// when there is no such directory.
    pub fn list_dir(&self, path: &str) -> Result<Option<Vec<TreeEntry>>, GitError> {
        let Some((id, kind)) = self.lookup(path)? else {
            return Ok(None);
        };
        if kind != EntryKind::Dir {
            return Ok(None);
        }
        let prefix = self.components(path)?.join("/");
        let tree = self
            .repo
            .find_tree(id)
            .map_err(|e| self.err(path, format!("{e:#}")))?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(|e| self.err(path, format!("{e:#}")))?;
            out.push(TreeEntry {
                path: join(&prefix, &String::from_utf8_lossy(entry.filename())),
                kind: EntryKind::of(entry.mode()),
            });
        }
        Ok(Some(out))
    }

    /// Every entry under `prefix` (`""`: the whole tree), directories before their
    /// contents, in lexical walk order (`filepath.WalkDir`: a directory's entries sorted by
    /// name). Symlinks are listed, not followed; submodules are listed, not entered.
    pub fn walk(&self, prefix: &str) -> Result<Vec<TreeEntry>, GitError> {
        let Some((id, kind)) = self.lookup(prefix)? else {
            return Ok(Vec::new());
        };
        let base = self.components(prefix)?.join("/");
        if kind != EntryKind::Dir {
            return Ok(vec![TreeEntry { path: base, kind }]);
        }
        let mut out = Vec::new();
        // preorder with an explicit stack: an entry, then (for a directory) its children
        // sorted by name (WalkDir's order), pushed in reverse so they pop in order
        let mut stack = vec![(base, id, EntryKind::Dir, 0usize, true)];
        while let Some((path, id, kind, depth, is_root)) = stack.pop() {
            if !is_root {
                if out.len() >= MAX_WALK_ENTRIES {
                    return Err(self.err(prefix, format!("more than {MAX_WALK_ENTRIES} entries")));
                }
                out.push(TreeEntry {
                    path: path.clone(),
                    kind,
                });
            }
            if kind != EntryKind::Dir {
                continue;
            }
            if depth >= MAX_TREE_DEPTH {
                return Err(self.err(
                    &path,
                    format!("trees nest deeper than {MAX_TREE_DEPTH} levels"),
                ));
            }
            let tree = self
                .repo
                .find_tree(id)
                .map_err(|e| self.err(&path, format!("{e:#}")))?;
            let mut children = Vec::new();
            for entry in tree.iter() {
                let entry = entry.map_err(|e| self.err(&path, format!("{e:#}")))?;
                children.push((
                    join(&path, &String::from_utf8_lossy(entry.filename())),
                    entry.object_id(),
                    EntryKind::of(entry.mode()),
                    depth + 1,
                    false,
                ));
            }
            // git orders a directory as if its name ended in '/'; WalkDir orders by name
            children.sort_by(|a, b| b.0.cmp(&a.0));
            stack.extend(children);
        }
        Ok(out)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}
