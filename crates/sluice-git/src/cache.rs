//! The shared cache of bare mirror clones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gix::ObjectId;
use sha2::Digest as _;

use crate::resolve::{RemoteRef, Resolved, is_commit_sha, resolve_revision};
use crate::transport::{NetOptions, Remote, classify, describe, redact_url, scrub};
use crate::{Credentials, GitError, Tree};

/// How the cache behaves.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Where the mirrors live (one bare repository per repository, named by a hash of its
    /// source: the canonical directory for `file://` URLs and paths).
    pub dir: PathBuf,
    /// At most this many bytes of mirrors on disk; least recently used repositories are
    /// removed beyond it (never the one in use). Default 2 GiB.
    pub max_bytes: u64,
    /// A revision is resolved against the refs of the last fetch when it is younger than
    /// this; older, the repository is fetched first. Default 3 s ([`RepoCache::fetch`] and
    /// [`RepoCache::invalidate`] force the next fetch).
    pub fetch_interval: Duration,
    /// The program ssh repositories are fetched through (OpenSSH's command line). Default
    /// `ssh` from `PATH`.
    pub ssh_program: std::ffi::OsString,
}

impl CacheOptions {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: 2 * 1024 * 1024 * 1024,
            fetch_interval: Duration::from_secs(3),
            ssh_program: "ssh".into(),
        }
    }
}

struct Slot {
    url: String,
    dir: PathBuf,
    state: Mutex<State>,
    last_used: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Default)]
struct State {
    repo: Option<gix::ThreadSafeRepository>,
    refs: Vec<RemoteRef>,
    fetched_at: Option<Instant>,
}

/// One cache of repositories shared by every reader (`Send + Sync`; clone the `Arc` you keep
/// it in). Each repository has its own lock: fetches of one repository are serialised, reads
/// of trees never wait for a fetch.
pub struct RepoCache {
    opts: CacheOptions,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    clock: AtomicU64,
}

impl std::fmt::Debug for RepoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoCache")
            .field("dir", &self.opts.dir)
            .field("max_bytes", &self.opts.max_bytes)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RepoCache {
    /// A cache in `opts.dir` (created if missing). Mirrors left there by an earlier process
    /// are reused.
    pub fn new(opts: CacheOptions) -> Result<Self, GitError> {
        std::fs::create_dir_all(&opts.dir).map_err(|e| GitError::Cache {
            dir: opts.dir.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            opts,
            slots: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        })
    }

    /// The options the cache runs with.
    pub fn options(&self) -> &CacheOptions {
        &self.opts
    }

    fn slot(&self, url: &str) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        let s = slots
            .entry(url.to_owned())
            .or_insert_with(|| {
                let hash = sha2::Sha256::digest(url.as_bytes());
                let name: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
                let dir = self.opts.dir.join(name);
                let bytes = if dir.exists() { dir_size(&dir) } else { 0 };
                Arc::new(Slot {
                    url: url.to_owned(),
                    dir,
                    state: Mutex::new(State::default()),
                    last_used: AtomicU64::new(0),
                    bytes: AtomicU64::new(bytes),
                })
            })
            .clone();
        s.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
        s
    }

    /// Resolves `revision` of the repository at `url` to a commit SHA (40 hex digits),
    /// fetching when the refs are older than the fetch interval, the revision is not known
    /// yet, or a SHA is not in the mirror. `credentials` are for transports that need them
    /// (none of the supported ones does yet).
    pub fn resolve(
        &self,
        url: &str,
        revision: &str,
        credentials: &Credentials,
    ) -> Result<String, GitError> {
        let (source, kind) = fetch_source(url)?;
        let url = &redact_url(url);
        let slot = self.slot(&source);
        let mut st = lock(&slot.state);
        // A full SHA already in the mirror needs no fetch.
        if is_commit_sha(revision)
            && let Some(repo) = &st.repo
            && let Ok(id) = peel_to_commit(&repo.to_thread_local(), url, revision, revision)
        {
            return Ok(id.to_string());
        }
        let mut fetched = false;
        if st.repo.is_none()
            || st
                .fetched_at
                .is_none_or(|t| t.elapsed() >= self.opts.fetch_interval)
        {
            self.fetch_locked(&slot, &mut st, url, &source, &kind, credentials)?;
            fetched = true;
        }
        loop {
            let repo = st
                .repo
                .as_ref()
                .map(gix::ThreadSafeRepository::to_thread_local)
                .ok_or_else(|| GitError::Fetch {
                    url: url.to_owned(),
                    message: "the mirror is missing".to_owned(),
                })?;
            let attempt = match resolve_revision(&st.refs, revision) {
                Some(Resolved::Object(id)) => peel_to_commit(&repo, url, revision, &id).map(Some),
                Some(Resolved::Sha(sha)) => match peel_to_commit(&repo, url, revision, &sha) {
                    Ok(id) => Ok(Some(id)),
                    Err(_) if !fetched => Ok(None),
                    Err(_) => Err(GitError::UnknownRevision {
                        url: url.to_owned(),
                        revision: revision.to_owned(),
                    }),
                },
                None if !fetched => Ok(None),
                None => Err(GitError::UnknownRevision {
                    url: url.to_owned(),
                    revision: revision.to_owned(),
                }),
            };
            match attempt? {
                Some(id) => {
                    drop(st);
                    self.evict(&slot);
                    return Ok(id.to_string());
                }
                None => {
                    self.fetch_locked(&slot, &mut st, url, &source, &kind, credentials)?;
                    fetched = true;
                }
            }
        }
    }

    /// Fetches the repository now (a push webhook, a hard refresh) and returns the refs the
    /// remote advertised.
    pub fn fetch(&self, url: &str, credentials: &Credentials) -> Result<Vec<RemoteRef>, GitError> {
        let (source, kind) = fetch_source(url)?;
        let url = &redact_url(url);
        let slot = self.slot(&source);
        let mut st = lock(&slot.state);
        self.fetch_locked(&slot, &mut st, url, &source, &kind, credentials)?;
        let refs = st.refs.clone();
        drop(st);
        self.evict(&slot);
        Ok(refs)
    }

    /// The refs the remote advertised at the last fetch (fetching when older than the fetch
    /// interval), as `git ls-remote` lists them.
    pub fn ls_remote(
        &self,
        url: &str,
        credentials: &Credentials,
    ) -> Result<Vec<RemoteRef>, GitError> {
        let (source, kind) = fetch_source(url)?;
        let url = &redact_url(url);
        let slot = self.slot(&source);
        let mut st = lock(&slot.state);
        if st.repo.is_none()
            || st
                .fetched_at
                .is_none_or(|t| t.elapsed() >= self.opts.fetch_interval)
        {
            self.fetch_locked(&slot, &mut st, url, &source, &kind, credentials)?;
        }
        Ok(st.refs.clone())
    }

    /// Makes the next [`RepoCache::resolve`] of `url` fetch (a push webhook arrived).
    pub fn invalidate(&self, url: &str) {
        let Ok((source, _)) = fetch_source(url) else {
            return;
        };
        let slot = lock(&self.slots).get(&source).cloned();
        if let Some(slot) = slot {
            lock(&slot.state).fetched_at = None;
        }
    }

    /// The tree of `commit` (a SHA [`RepoCache::resolve`] returned) in the repository at
    /// `url`, read from the mirror's object database.
    pub fn tree(&self, url: &str, commit: &str) -> Result<Tree, GitError> {
        let (source, _) = fetch_source(url)?;
        let url = &redact_url(url);
        let slot = self.slot(&source);
        let repo = {
            let mut st = lock(&slot.state);
            if st.repo.is_none() && slot.dir.exists() {
                st.repo = open_mirror(&slot.dir).ok();
            }
            st.repo.clone()
        };
        let Some(repo) = repo else {
            return Err(GitError::Read {
                url: url.to_owned(),
                commit: commit.to_owned(),
                path: String::new(),
                message: "the repository has not been fetched".to_owned(),
            });
        };
        let mut repo = repo.to_thread_local();
        repo.object_cache_size_if_unset(4 * 1024 * 1024);
        let id = peel_to_commit(&repo, url, commit, commit)?;
        Tree::new(repo, url, id)
    }

    /// Bytes of mirrors on disk, as last measured.
    pub fn disk_usage(&self) -> u64 {
        lock(&self.slots)
            .values()
            .map(|s| s.bytes.load(Ordering::Relaxed))
            .sum()
    }

    fn fetch_locked(
        &self,
        slot: &Slot,
        st: &mut State,
        url: &str,
        source: &str,
        kind: &Remote,
        creds: &Credentials,
    ) -> Result<(), GitError> {
        let ferr = |message: String| GitError::Fetch {
            url: url.to_owned(),
            message,
        };
        if st.repo.is_none() {
            st.repo = Some(if slot.dir.join("HEAD").exists() {
                open_mirror(&slot.dir).map_err(&ferr)?
            } else {
                std::fs::create_dir_all(&slot.dir).map_err(|e| ferr(e.to_string()))?;
                gix::ThreadSafeRepository::init_opts(
                    &slot.dir,
                    gix::create::Kind::Bare,
                    gix::create::Options::default(),
                    gix::open::Options::isolated(),
                )
                .map_err(|e| ferr(format!("{e:#}")))?
            });
        }
        let Some(ts) = &st.repo else {
            return Err(ferr("the mirror is missing".to_owned()));
        };
        let repo = ts.to_thread_local();
        let net = NetOptions {
            ssh_program: self.opts.ssh_program.clone(),
            temp_dir: self.opts.dir.join(".tmp"),
        };
        let refs =
            crate::transport::with_connection(&repo, source, kind, creds, &net, fetch_mirror)
                .map_err(|m| ferr(scrub(&m, creds)))?;
        st.refs = refs;
        st.fetched_at = Some(Instant::now());
        slot.bytes.store(dir_size(&slot.dir), Ordering::Relaxed);
        Ok(())
    }

    /// Removes least recently used mirrors until the cache fits (never `keep`, never one
    /// whose lock is held).
    fn evict(&self, keep: &Slot) {
        let max = self.opts.max_bytes;
        loop {
            let mut slots = lock(&self.slots);
            let total: u64 = slots
                .values()
                .map(|s| s.bytes.load(Ordering::Relaxed))
                .sum();
            if total <= max {
                return;
            }
            let mut candidates: Vec<Arc<Slot>> = slots
                .values()
                .filter(|s| s.url != keep.url && s.bytes.load(Ordering::Relaxed) > 0)
                .cloned()
                .collect();
            candidates.sort_by_key(|s| s.last_used.load(Ordering::Relaxed));
            let mut evicted = false;
            for c in candidates {
                if let Ok(mut st) = c.state.try_lock() {
                    st.repo = None;
                    st.refs.clear();
                    st.fetched_at = None;
                    let _ = std::fs::remove_dir_all(&c.dir);
                    c.bytes.store(0, Ordering::Relaxed);
                    drop(st);
                    slots.remove(&c.url);
                    evicted = true;
                    break;
                }
            }
            if !evicted {
                return;
            }
        }
    }
}

fn open_mirror(dir: &Path) -> Result<gix::ThreadSafeRepository, String> {
    gix::ThreadSafeRepository::open_opts(dir, gix::open::Options::isolated())
        .map_err(|e| describe(&e))
}

/// Fetches every ref over `conn` into the mirror (`+refs/*:refs/*`) and returns what the
/// remote advertised, HEAD included.
fn fetch_mirror<T>(conn: gix::remote::Connection<'_, '_, '_, T>) -> Result<Vec<RemoteRef>, String>
where
    T: gix::protocol::transport::client::blocking_io::Transport,
{
    let opts = gix::remote::ref_map::Options {
        prefix_from_spec_as_filter_on_remote: false,
        ..Default::default()
    };
    let interrupt = AtomicBool::new(false);
    let outcome = conn
        .prepare_fetch(gix::progress::Discard, opts)
        .map_err(|e| describe(&e))?
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|e| describe(&e))?;
    use gix::protocol::handshake::Ref;
    let mut out = Vec::new();
    for r in &outcome.ref_map.remote_refs {
        let rr = match r {
            Ref::Peeled {
                full_ref_name,
                tag,
                object,
            } => RemoteRef {
                name: full_ref_name.to_string(),
                object: tag.to_string(),
                target: None,
                peeled: Some(object.to_string()),
            },
            Ref::Direct {
                full_ref_name,
                object,
            } => RemoteRef {
                name: full_ref_name.to_string(),
                object: object.to_string(),
                target: None,
                peeled: None,
            },
            Ref::Symbolic {
                full_ref_name,
                target,
                tag,
                object,
            } => RemoteRef {
                name: full_ref_name.to_string(),
                object: tag.unwrap_or(*object).to_string(),
                target: Some(target.to_string()),
                peeled: tag.map(|_| object.to_string()),
            },
            Ref::Unborn { .. } => continue,
        };
        out.push(rr);
    }
    Ok(out)
}

/// An object id or abbreviated SHA peeled to a commit in the mirror.
fn peel_to_commit(
    repo: &gix::Repository,
    url: &str,
    revision: &str,
    id: &str,
) -> Result<ObjectId, GitError> {
    let err = |message: String| GitError::Revision {
        url: url.to_owned(),
        revision: revision.to_owned(),
        message,
    };
    let oid = if id.len() == 40 {
        ObjectId::from_hex(id.as_bytes()).map_err(|e| err(e.to_string()))?
    } else {
        let prefix = gix::hash::Prefix::from_hex(id).map_err(|e| err(e.to_string()))?;
        match repo
            .objects
            .lookup_prefix(prefix, None)
            .map_err(|e| err(format!("{e:#}")))?
        {
            Some(Ok(oid)) => oid,
            Some(Err(())) => return Err(err(format!("short SHA {id} is ambiguous"))),
            None => return Err(err(format!("no object {id} in the repository"))),
        }
    };
    let commit = repo
        .find_object(oid)
        .map_err(|e| err(format!("{e:#}")))?
        .peel_to_commit()
        .map_err(|e| err(format!("{e:#}")))?;
    Ok(commit.id)
}

/// The cache key and transport of `url`: the canonical directory for `file://` URLs and
/// local paths, the URL itself for network transports.
fn fetch_source(url: &str) -> Result<(String, Remote), GitError> {
    match classify(url)? {
        Remote::Local(dir) => Ok((dir.clone(), Remote::Local(dir))),
        kind => Ok((url.trim().to_owned(), kind)),
    }
}

/// Bytes of the files under `dir` (not following symlinks).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}
