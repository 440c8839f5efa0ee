//! Git repositories for GitOps through gix: one shared cache of bare mirror clones
//! ([`RepoCache`]), fetched on demand with one lock per repository, revisions resolved as
//! Argo CD's repo-server does (`util/git/client.go` `LsRemote`: branch, tag, full or short
//! SHA, `HEAD`, any `refs/...` name), and trees read from the object database at a commit
//! ([`Tree`]), never from a work tree another reader may change.
//!
//! Transports: `file://` URLs and local paths; `https://` and `http://` (gix's smart HTTP over
//! reqwest, TLS through our rustls configuration); `ssh://` and scp-style `user@host:path`
//! (the `ssh` program with the repository's key and known hosts in temporary files);
//! `git://`. Credentials are Argo CD's ([`Credentials`], see the `transport` module); errors
//! name the repository URL without its userinfo ([`redact_url`]) and never carry a
//! password. Other schemes are refused naming the repository.
//!
//! Bounded: the cache holds at most [`CacheOptions::max_bytes`] of mirrors on disk (least
//! recently used repositories are evicted first, never one being fetched or the one just
//! used); a read returns at most [`MAX_FILE_BYTES`]; a walk lists at most
//! [`MAX_WALK_ENTRIES`] entries and descends [`MAX_TREE_DEPTH`] levels.

mod cache;
mod repos;
mod resolve;
mod sources;
mod transport;
mod tree;

pub use cache::{CacheOptions, RepoCache};
pub use repos::GitRepos;
pub use resolve::{RemoteRef, resolve_revision};
pub use sluice_gitops::repocreds::Credentials;
pub use sources::GitSources;
pub use transport::redact_url;
pub use tree::{EntryKind, Tree, TreeEntry};

/// At most this many bytes are returned by one [`Tree::read`].
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// At most this many entries are listed by one [`Tree::walk`].
pub const MAX_WALK_ENTRIES: usize = 1_000_000;
/// Trees nest at most this deep for [`Tree::walk`].
pub const MAX_TREE_DEPTH: usize = 256;

/// Why a repository could not be fetched or read. Every message names the repository URL
/// (and the revision or path where one is involved).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error(
        "repository {url}: {scheme} URLs are not supported (https, http, ssh, git, file and local paths are)"
    )]
    UnsupportedTransport { url: String, scheme: String },
    #[error("repository {url}: fetch failed: {message}")]
    Fetch { url: String, message: String },
    #[error("repository {url}: unable to resolve '{revision}' to a commit SHA")]
    UnknownRevision { url: String, revision: String },
    #[error("repository {url}: revision '{revision}': {message}")]
    Revision {
        url: String,
        revision: String,
        message: String,
    },
    #[error("repository {url} at {commit}: {path}: {message}")]
    Read {
        url: String,
        commit: String,
        path: String,
        message: String,
    },
    #[error("repository cache {dir}: {message}")]
    Cache { dir: String, message: String },
}
