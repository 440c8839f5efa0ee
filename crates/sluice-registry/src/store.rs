//! The content-addressed store on disk. Layout under the root:
//!
//! ```text
//! blobs/<alg>/<hex>                                  content (layers, configs, manifests)
//! uploads/<id>, uploads/<id>.name                     upload sessions (data, repository)
//! tmp/                                                files being written (renamed in place)
//! repositories/<name>/_blobs/<alg>/<hex>              the repository has the blob (empty)
//! repositories/<name>/_manifests/<alg>/<hex>          the repository has the manifest (its media type)
//! repositories/<name>/_tags/<tag>                     the tag (the manifest's digest)
//! repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  a referrer's descriptor (JSON)
//! ```
//!
//! Name components start with `[a-z0-9]`, so the `_`-prefixed directories never clash
//! with a nested repository. Every file is written under tmp/ and renamed: a crash never
//! leaves a partial blob, tag or link. Blob content is only renamed into blobs/ after its
//! digest was verified. Uploads stream to disk; nothing holds a whole blob in memory.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, RwLock};

use crate::error::{Code, Error, Result};
use crate::manifest::{self, Manifest, OCI_INDEX};
use crate::reference::{Algorithm, Digest, Hasher, Reference, valid_name, valid_tag};

/// Default largest blob (50 GiB): an upload past it is refused with SIZE_INVALID.
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 50 << 30;

/// An open upload session's state kept between requests.
struct Session {
    name: String,
    offset: u64,
    /// sha256 of the bytes so far; `None` after a restart (the file is hashed at the end).
    hasher: Option<Hasher>,
}

/// The store. Cheap to share (`Arc`).
pub struct Store {
    root: PathBuf,
    max_blob_bytes: u64,
    sessions: Mutex<HashMap<String, Arc<Mutex<Session>>>>,
    /// Writers that link content take it shared; garbage collection exclusive.
    gc_lock: RwLock<()>,
    counter: AtomicU64,
}

/// What a garbage collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcStats {
    pub blobs_removed: u64,
    pub bytes_freed: u64,
    pub blobs_kept: u64,
    /// Untagged manifests unlinked from their repository (`delete_untagged`).
    pub manifests_removed: u64,
}

/// How a garbage collection runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct GcOptions {
    /// Blobs, upload sessions and (with `delete_untagged`) manifest links younger than this
    /// are kept, so a push in progress survives.
    pub grace: Duration,
    /// distribution's `registry garbage-collect --delete-untagged`: first unlink the
    /// manifests of each repository that no tag reaches, directly or through an index
    /// (an image index's platform manifests stay with it, unlike distribution v2's
    /// collector: gitlab-org/container-registry#149), nor as a referrer (`subject`) of a
    /// manifest that stays; then collect the blobs only they referenced.
    pub delete_untagged: bool,
}

/// A blob's descriptor in a referrers answer, or a manifest fetched.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub body: Vec<u8>,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(what, &e)
}

fn not_found(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

fn blob_unknown(d: &Digest) -> Error {
    Error::new(Code::BlobUnknown, "blob unknown to registry")
        .with_detail(serde_json::json!({ "digest": d.to_string() }))
}

fn upload_unknown() -> Error {
    Error::new(Code::BlobUploadUnknown, "blob upload unknown to registry")
}

fn manifest_unknown(r: &str) -> Error {
    Error::new(Code::ManifestUnknown, "manifest unknown to registry")
        .with_detail(serde_json::json!({ "reference": r }))
}

impl Store {
    /// Opens (creating) the store under `root`.
    pub fn open(root: &Path, max_blob_bytes: u64) -> std::io::Result<Store> {
        for d in ["blobs", "uploads", "tmp", "repositories"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            max_blob_bytes,
            sessions: Mutex::new(HashMap::new()),
            gc_lock: RwLock::new(()),
            counter: AtomicU64::new(0),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    fn link(&self, name: &str, kind: &str, d: &Digest) -> PathBuf {
        self.repo(name)
            .join(kind)
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    /// A fresh random id (upload sessions, temporary files).
    fn new_id(&self) -> String {
        let mut b = [0u8; 16];
        if getrandom::fill(&mut b).is_err() {
            // no OS randomness: unique, if guessable (sessions still need credentials)
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            b[..8].copy_from_slice(&n.to_le_bytes());
            b[8..].copy_from_slice(&(t as u64).to_le_bytes());
        }
        crate::reference::hex(&b)
    }

    /// Writes `bytes` to `dest` atomically (tmp file, rename).
    async fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = self.root.join("tmp").join(self.new_id());
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(io("writing a file"))?;
        if let Some(p) = dest.parent() {
            tokio::fs::create_dir_all(p)
                .await
                .map_err(io("creating a directory"))?;
        }
        tokio::fs::rename(&tmp, dest)
            .await
            .map_err(io("renaming a file"))
    }

    /// Whether the repository exists (has any blob or manifest).
    pub async fn repo_exists(&self, name: &str) -> bool {
        tokio::fs::metadata(self.repo(name).join("_blobs"))
            .await
            .is_ok()
            || tokio::fs::metadata(self.repo(name).join("_manifests"))
                .await
                .is_ok()
    }

    // ---- blobs ----

    /// The size of a blob the repository has.
    pub async fn blob_size(&self, name: &str, d: &Digest) -> Result<u64> {
        if tokio::fs::metadata(self.link(name, "_blobs", d))
            .await
            .is_err()
        {
            return Err(blob_unknown(d));
        }
        match tokio::fs::metadata(self.blob_path(d)).await {
            Ok(m) => Ok(m.len()),
            Err(e) if not_found(&e) => Err(blob_unknown(d)),
            Err(e) => Err(Error::io("reading a blob", &e)),
        }
    }

    /// Opens a blob the repository has, for streaming.
    pub async fn open_blob(&self, name: &str, d: &Digest) -> Result<(tokio::fs::File, u64)> {
        let size = self.blob_size(name, d).await?;
        let f = tokio::fs::File::open(self.blob_path(d))
            .await
            .map_err(|e| {
                if not_found(&e) {
                    blob_unknown(d)
                } else {
                    Error::io("reading a blob", &e)
                }
            })?;
        Ok((f, size))
    }

    /// Unlinks a blob from the repository (its content goes at the next GC).
    pub async fn delete_blob(&self, name: &str, d: &Digest) -> Result<()> {
        match tokio::fs::remove_file(self.link(name, "_blobs", d)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Err(blob_unknown(d)),
            Err(e) => Err(Error::io("deleting a blob", &e)),
        }
    }

    /// Cross-repository mount: links a blob of `from` (or, without `from`, any blob the
    /// store has) into `name`. `false`: nothing to mount (the client uploads instead).
    pub async fn mount(&self, name: &str, d: &Digest, from: Option<&str>) -> Result<bool> {
        let _g = self.gc_lock.read().await;
        let known = match from {
            Some(f) if valid_name(f) => {
                tokio::fs::metadata(self.link(f, "_blobs", d)).await.is_ok()
            }
            Some(_) => false,
            None => true,
        };
        if !known || tokio::fs::metadata(self.blob_path(d)).await.is_err() {
            return Ok(false);
        }
        self.write_atomic(&self.link(name, "_blobs", d), b"")
            .await?;
        Ok(true)
    }

    // ---- uploads ----

    /// Starts an upload session for `name`; returns its id.
    pub async fn start_upload(&self, name: &str) -> Result<String> {
        let id = self.new_id();
        let dir = self.root.join("uploads");
        tokio::fs::write(dir.join(format!("{id}.name")), name)
            .await
            .map_err(io("starting an upload"))?;
        tokio::fs::write(dir.join(&id), b"")
            .await
            .map_err(io("starting an upload"))?;
        self.sessions.lock().await.insert(
            id.clone(),
            Arc::new(Mutex::new(Session {
                name: name.into(),
                offset: 0,
                hasher: Some(Hasher::new(Algorithm::Sha256)),
            })),
        );
        Ok(id)
    }

    /// The session, from memory or (after a restart) from disk.
    async fn session(&self, name: &str, id: &str) -> Result<Arc<Mutex<Session>>> {
        let mut map = self.sessions.lock().await;
        let s = match map.get(id) {
            Some(s) => s.clone(),
            None => {
                let dir = self.root.join("uploads");
                let owner = tokio::fs::read_to_string(dir.join(format!("{id}.name")))
                    .await
                    .map_err(|_| upload_unknown())?;
                let len = tokio::fs::metadata(dir.join(id))
                    .await
                    .map_err(|_| upload_unknown())?
                    .len();
                let s = Arc::new(Mutex::new(Session {
                    name: owner,
                    offset: len,
                    hasher: None,
                }));
                map.insert(id.into(), s.clone());
                s
            }
        };
        drop(map);
        if s.lock().await.name != name {
            return Err(upload_unknown());
        }
        Ok(s)
    }

    /// The bytes received so far.
    pub async fn upload_offset(&self, name: &str, id: &str) -> Result<u64> {
        let s = self.session(name, id).await?;
        let off = s.lock().await.offset;
        Ok(off)
    }

    /// Opens the session for appending. `start`: the Content-Range start the client
    /// claims, which must be the current offset (else 416).
    pub async fn append(&self, name: &str, id: &str, start: Option<u64>) -> Result<Appender> {
        let s = self.session(name, id).await?;
        let guard = s.clone().lock_owned().await;
        if let Some(st) = start
            && st != guard.offset
        {
            return Err(Error::new(
                Code::RangeInvalid,
                format!(
                    "Content-Range starts at {st}, the upload has {} bytes",
                    guard.offset
                ),
            ));
        }
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(self.root.join("uploads").join(id))
            .await
            .map_err(|_| upload_unknown())?;
        Ok(Appender {
            file,
            session: guard,
            max: self.max_blob_bytes,
            written: 0,
            failed: false,
        })
    }

    /// Completes an upload: verifies `digest` against the content and moves it into the
    /// store, linked into the repository. A mismatch refuses it and keeps nothing.
    pub async fn finish_upload(&self, name: &str, id: &str, digest: &Digest) -> Result<()> {
        let s = self.session(name, id).await?;
        let mut guard = s.lock().await;
        let path = self.root.join("uploads").join(id);
        let actual = match (guard.hasher.take(), digest.algorithm()) {
            (Some(h), Algorithm::Sha256) => h.finish(),
            _ => hash_file(&path, digest.algorithm()).await?,
        };
        drop(guard);
        let result = if &actual != digest {
            Err(Error::new(
                Code::DigestInvalid,
                "provided digest did not match uploaded content",
            )
            .with_detail(
                serde_json::json!({ "digest": digest.to_string(), "actual": actual.to_string() }),
            ))
        } else {
            let _g = self.gc_lock.read().await;
            let dest = self.blob_path(digest);
            if let Some(p) = dest.parent() {
                tokio::fs::create_dir_all(p)
                    .await
                    .map_err(io("creating a directory"))?;
            }
            if tokio::fs::metadata(&dest).await.is_ok() {
                let _ = tokio::fs::remove_file(&path).await;
            } else {
                tokio::fs::rename(&path, &dest)
                    .await
                    .map_err(io("storing a blob"))?;
            }
            self.write_atomic(&self.link(name, "_blobs", digest), b"")
                .await
        };
        // either way the session is over (the spec: a failed PUT invalidates it)
        self.cancel_upload_files(id).await;
        result
    }

    async fn cancel_upload_files(&self, id: &str) {
        self.sessions.lock().await.remove(id);
        let dir = self.root.join("uploads");
        let _ = tokio::fs::remove_file(dir.join(id)).await;
        let _ = tokio::fs::remove_file(dir.join(format!("{id}.name"))).await;
    }

    /// Cancels an upload session.
    pub async fn cancel_upload(&self, name: &str, id: &str) -> Result<()> {
        self.session(name, id).await?;
        self.cancel_upload_files(id).await;
        Ok(())
    }

    // ---- manifests ----

    async fn resolve(&self, name: &str, r: &Reference) -> Result<Digest> {
        match r {
            Reference::Digest(d) => Ok(d.clone()),
            Reference::Tag(t) => {
                let s = tokio::fs::read_to_string(self.repo(name).join("_tags").join(t))
                    .await
                    .map_err(|_| manifest_unknown(t))?;
                Digest::parse(s.trim()).map_err(|_| manifest_unknown(t))
            }
        }
    }

    /// A manifest by tag or digest.
    pub async fn get_manifest(&self, name: &str, r: &Reference) -> Result<StoredManifest> {
        let d = self.resolve(name, r).await?;
        let media_type = tokio::fs::read_to_string(self.link(name, "_manifests", &d))
            .await
            .map_err(|_| manifest_unknown(&d.to_string()))?;
        let body = tokio::fs::read(self.blob_path(&d))
            .await
            .map_err(|_| manifest_unknown(&d.to_string()))?;
        Ok(StoredManifest {
            digest: d,
            media_type,
            body,
        })
    }

    /// Stores a manifest under a tag or its digest. Everything it references must be in
    /// the repository (MANIFEST_BLOB_UNKNOWN otherwise); nothing is written on refusal.
    /// Returns the digest and the parsed manifest (for the `OCI-Subject` header).
    pub async fn put_manifest(
        &self,
        name: &str,
        r: &Reference,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(Digest, Manifest)> {
        let m = manifest::parse(body, content_type)?;
        let digest = match r {
            Reference::Digest(want) => {
                let mut h = Hasher::new(want.algorithm());
                h.update(body);
                let got = h.finish();
                if &got != want {
                    return Err(Error::new(
                        Code::DigestInvalid,
                        "manifest digest did not match the reference",
                    )
                    .with_detail(
                        serde_json::json!({"digest": want.to_string(), "actual": got.to_string()}),
                    ));
                }
                got
            }
            Reference::Tag(_) => Digest::sha256_of(body),
        };
        let _g = self.gc_lock.read().await;
        for b in &m.blobs {
            if tokio::fs::metadata(self.link(name, "_blobs", &b.digest))
                .await
                .is_err()
            {
                return Err(
                    Error::new(Code::ManifestBlobUnknown, "blob unknown to registry")
                        .with_detail(serde_json::json!({ "digest": b.digest.to_string() })),
                );
            }
        }
        for c in &m.manifests {
            if tokio::fs::metadata(self.link(name, "_manifests", &c.digest))
                .await
                .is_err()
            {
                return Err(
                    Error::new(Code::ManifestBlobUnknown, "manifest unknown to registry")
                        .with_detail(serde_json::json!({ "digest": c.digest.to_string() })),
                );
            }
        }
        let blob = self.blob_path(&digest);
        if tokio::fs::metadata(&blob).await.is_err() {
            self.write_atomic(&blob, body).await?;
        }
        self.write_atomic(
            &self.link(name, "_manifests", &digest),
            m.media_type.as_bytes(),
        )
        .await?;
        if let Some(s) = &m.subject {
            let mut desc = serde_json::json!({
                "mediaType": m.media_type,
                "digest": digest.to_string(),
                "size": body.len(),
            });
            if let Some(a) = &m.artifact_type {
                desc["artifactType"] = a.clone().into();
            }
            if let Some(a) = &m.annotations {
                desc["annotations"] = a.clone();
            }
            let path = self.link(name, "_referrers", &s.digest).join(format!(
                "{}-{}",
                digest.algorithm().as_str(),
                digest.hex()
            ));
            self.write_atomic(&path, desc.to_string().as_bytes())
                .await?;
        }
        if let Reference::Tag(t) = r {
            self.write_atomic(
                &self.repo(name).join("_tags").join(t),
                digest.to_string().as_bytes(),
            )
            .await?;
        }
        Ok((digest, m))
    }

    /// Deletes a tag, or a manifest by digest (with the tags that point at it and its
    /// referrers entry).
    pub async fn delete_manifest(&self, name: &str, r: &Reference) -> Result<()> {
        let d = match r {
            Reference::Tag(t) => {
                return match tokio::fs::remove_file(self.repo(name).join("_tags").join(t)).await {
                    Ok(()) => Ok(()),
                    Err(_) => Err(manifest_unknown(t)),
                };
            }
            Reference::Digest(d) => d,
        };
        let link = self.link(name, "_manifests", d);
        if tokio::fs::metadata(&link).await.is_err() {
            return Err(manifest_unknown(&d.to_string()));
        }
        if let Ok(body) = tokio::fs::read(self.blob_path(d)).await
            && let Ok(m) = manifest::parse(&body, None)
            && let Some(s) = m.subject
        {
            let _ = tokio::fs::remove_file(self.link(name, "_referrers", &s.digest).join(format!(
                "{}-{}",
                d.algorithm().as_str(),
                d.hex()
            )))
            .await;
        }
        for t in self.tags(name).await? {
            let p = self.repo(name).join("_tags").join(&t);
            if tokio::fs::read_to_string(&p).await.ok().as_deref() == Some(&d.to_string()) {
                let _ = tokio::fs::remove_file(&p).await;
            }
        }
        tokio::fs::remove_file(&link)
            .await
            .map_err(io("deleting a manifest"))
    }

    /// All tags of a repository, sorted. NAME_UNKNOWN if the repository does not exist.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>> {
        if !self.repo_exists(name).await {
            return Err(
                Error::new(Code::NameUnknown, "repository name not known to registry")
                    .with_detail(serde_json::json!({ "name": name })),
            );
        }
        let mut out = Vec::new();
        if let Ok(mut rd) = tokio::fs::read_dir(self.repo(name).join("_tags")).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                if let Some(t) = e.file_name().to_str()
                    && valid_tag(t)
                {
                    out.push(t.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The referrers of `subject` in the repository (descriptors), optionally only
    /// those of an artifact type.
    pub async fn referrers(
        &self,
        name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        let Ok(mut rd) = tokio::fs::read_dir(self.link(name, "_referrers", subject)).await else {
            return Ok(out);
        };
        while let Ok(Some(e)) = rd.next_entry().await {
            let Ok(s) = tokio::fs::read(e.path()).await else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&s) else {
                continue;
            };
            // a referrer deleted since (its manifest link gone) is not listed
            let live = v
                .get("digest")
                .and_then(|d| d.as_str())
                .and_then(|d| Digest::parse(d).ok())
                .map(|d| self.link(name, "_manifests", &d));
            match live {
                Some(p) if tokio::fs::metadata(&p).await.is_ok() => {}
                _ => continue,
            }
            if artifact_type
                .is_none_or(|a| v.get("artifactType").and_then(|x| x.as_str()) == Some(a))
            {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
        Ok(out)
    }

    /// All repository names, sorted.
    pub async fn catalog(&self) -> Result<Vec<String>> {
        let root = self.root.join("repositories");
        let mut out = Vec::new();
        let mut stack = vec![(root, String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let Ok(mut rd) = tokio::fs::read_dir(&dir).await else {
                continue;
            };
            let mut is_repo = false;
            while let Ok(Some(e)) = rd.next_entry().await {
                let Some(n) = e.file_name().to_str().map(String::from) else {
                    continue;
                };
                if n.starts_with('_') {
                    is_repo = true;
                } else if e.file_type().await.is_ok_and(|t| t.is_dir()) {
                    let p = if prefix.is_empty() {
                        n
                    } else {
                        format!("{prefix}/{n}")
                    };
                    if valid_name(&p) {
                        stack.push((e.path(), p));
                    }
                }
            }
            if is_repo && !prefix.is_empty() {
                out.push(prefix);
            }
        }
        out.sort();
        Ok(out)
    }

    // ---- garbage collection ----

    /// Removes blobs no manifest of any repository references (and no repository links
    /// directly when `keep_linked`), older than `grace` (so an upload that finished but
    /// whose manifest is not pushed yet survives), and upload sessions idle longer than
    /// `grace`. Runs exclusive of pushes.
    pub async fn gc(&self, grace: Duration) -> Result<GcStats> {
        self.gc_with(GcOptions {
            grace,
            delete_untagged: false,
        })
        .await
    }

    /// The manifests a repository links: digest, link path.
    async fn linked_manifests(&self, name: &str) -> Vec<(Digest, PathBuf)> {
        let mut out = Vec::new();
        let dir = self.repo(name).join("_manifests");
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let Ok(mut rd) = tokio::fs::read_dir(dir.join(alg.as_str())).await else {
                continue;
            };
            while let Ok(Some(e)) = rd.next_entry().await {
                let Some(hex) = e.file_name().to_str().map(String::from) else {
                    continue;
                };
                if let Ok(d) = Digest::parse(&format!("{}:{hex}", alg.as_str())) {
                    out.push((d, e.path()));
                }
            }
        }
        out
    }

    /// Unlinks the manifests of `name` no tag reaches (see [`GcOptions::delete_untagged`])
    /// whose link is older than `grace`; returns how many.
    async fn unlink_untagged(&self, name: &str, grace: Duration, now: SystemTime) -> u64 {
        let linked = self.linked_manifests(name).await;
        let mut parsed: HashMap<Digest, (PathBuf, Option<Manifest>)> = HashMap::new();
        for (d, link) in linked {
            let m = match tokio::fs::read(self.blob_path(&d)).await {
                Ok(body) => manifest::parse(&body, None).ok(),
                Err(_) => None,
            };
            parsed.insert(d, (link, m));
        }
        let mut live: BTreeSet<Digest> = BTreeSet::new();
        let mut stack: Vec<Digest> = Vec::new();
        if let Ok(tags) = self.tags(name).await {
            for t in tags {
                if let Ok(s) =
                    tokio::fs::read_to_string(self.repo(name).join("_tags").join(&t)).await
                    && let Ok(d) = Digest::parse(s.trim())
                {
                    stack.push(d);
                }
            }
        }
        loop {
            while let Some(d) = stack.pop() {
                if !live.insert(d.clone()) {
                    continue;
                }
                if let Some((_, Some(m))) = parsed.get(&d) {
                    stack.extend(m.manifests.iter().map(|c| c.digest.clone()));
                }
            }
            // referrers of what stays stay (signatures, SBOMs pushed without a tag)
            for (d, (_, m)) in &parsed {
                if !live.contains(d)
                    && let Some(Some(s)) = m.as_ref().map(|m| m.subject.as_ref())
                    && live.contains(&s.digest)
                {
                    stack.push(d.clone());
                }
            }
            if stack.is_empty() {
                break;
            }
        }
        let mut removed = 0;
        for (d, (link, m)) in &parsed {
            if live.contains(d) {
                continue;
            }
            let young = tokio::fs::metadata(link)
                .await
                .ok()
                .and_then(|meta| meta.modified().ok())
                .and_then(|t| now.duration_since(t).ok())
                .is_none_or(|age| age < grace);
            if young {
                continue;
            }
            if let Some(Some(s)) = m.as_ref().map(|m| m.subject.as_ref()) {
                let _ =
                    tokio::fs::remove_file(self.link(name, "_referrers", &s.digest).join(format!(
                        "{}-{}",
                        d.algorithm().as_str(),
                        d.hex()
                    )))
                    .await;
            }
            if tokio::fs::remove_file(link).await.is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// [`Store::gc`] with options (untagged manifests).
    pub async fn gc_with(&self, opts: GcOptions) -> Result<GcStats> {
        let grace = opts.grace;
        let _g = self.gc_lock.write().await;
        let mut marked: BTreeSet<PathBuf> = BTreeSet::new();
        let repos = self.catalog().await?;
        let mut manifests_removed = 0;
        if opts.delete_untagged {
            let now = SystemTime::now();
            for r in &repos {
                manifests_removed += self.unlink_untagged(r, grace, now).await;
            }
        }
        for r in &repos {
            let dir = self.repo(r).join("_manifests");
            for alg in [Algorithm::Sha256, Algorithm::Sha512] {
                let Ok(mut rd) = tokio::fs::read_dir(dir.join(alg.as_str())).await else {
                    continue;
                };
                while let Ok(Some(e)) = rd.next_entry().await {
                    let Some(hex) = e.file_name().to_str().map(String::from) else {
                        continue;
                    };
                    let Ok(d) = Digest::parse(&format!("{}:{hex}", alg.as_str())) else {
                        continue;
                    };
                    let path = self.blob_path(&d);
                    if let Ok(body) = tokio::fs::read(&path).await
                        && let Ok(m) = manifest::parse(&body, None)
                    {
                        for b in m.blobs.iter().chain(&m.manifests) {
                            marked.insert(self.blob_path(&b.digest));
                        }
                    }
                    marked.insert(path);
                }
            }
        }
        let now = SystemTime::now();
        let old = |m: &std::fs::Metadata| {
            m.modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= grace)
        };
        let mut stats = GcStats {
            manifests_removed,
            ..GcStats::default()
        };
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let Ok(mut rd) = tokio::fs::read_dir(self.root.join("blobs").join(alg.as_str())).await
            else {
                continue;
            };
            while let Ok(Some(e)) = rd.next_entry().await {
                let p = e.path();
                let Ok(meta) = e.metadata().await else {
                    continue;
                };
                if marked.contains(&p) || !old(&meta) {
                    stats.blobs_kept += 1;
                    continue;
                }
                if tokio::fs::remove_file(&p).await.is_ok() {
                    stats.blobs_removed += 1;
                    stats.bytes_freed += meta.len();
                }
            }
        }
        // links to removed blobs go too
        for r in &repos {
            for kind in ["_blobs", "_manifests"] {
                for alg in [Algorithm::Sha256, Algorithm::Sha512] {
                    let dir = self.repo(r).join(kind).join(alg.as_str());
                    let Ok(mut rd) = tokio::fs::read_dir(&dir).await else {
                        continue;
                    };
                    while let Ok(Some(e)) = rd.next_entry().await {
                        let blob = self
                            .root
                            .join("blobs")
                            .join(alg.as_str())
                            .join(e.file_name());
                        if tokio::fs::metadata(&blob).await.is_err() {
                            let _ = tokio::fs::remove_file(e.path()).await;
                        }
                    }
                }
            }
        }
        // idle upload sessions
        if let Ok(mut rd) = tokio::fs::read_dir(self.root.join("uploads")).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                if e.metadata().await.is_ok_and(|m| old(&m)) {
                    if let Some(id) = e.file_name().to_str() {
                        self.sessions
                            .lock()
                            .await
                            .remove(id.trim_end_matches(".name"));
                    }
                    let _ = tokio::fs::remove_file(e.path()).await;
                }
            }
        }
        Ok(stats)
    }
}

/// The index a referrers query answers with.
pub fn referrers_index(manifests: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    })
}

async fn hash_file(path: &Path, alg: Algorithm) -> Result<Digest> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|_| upload_unknown())?;
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).await.map_err(io("reading an upload"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// An upload session open for appending (holds the session's lock: one writer at a time).
pub struct Appender {
    file: tokio::fs::File,
    session: tokio::sync::OwnedMutexGuard<Session>,
    max: u64,
    written: u64,
    failed: bool,
}

impl Appender {
    /// Appends a chunk. Past the size limit: SIZE_INVALID.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let len = chunk.len() as u64;
        if self.session.offset.saturating_add(len) > self.max {
            self.failed = true;
            return Err(Error::new(
                Code::SizeInvalid,
                format!("blob exceeds the registry's limit of {} bytes", self.max),
            ));
        }
        if let Err(e) = self.file.write_all(chunk).await {
            self.failed = true;
            return Err(Error::io("writing an upload", &e));
        }
        if let Some(h) = &mut self.session.hasher {
            h.update(chunk);
        }
        self.session.offset += len;
        self.written += len;
        Ok(())
    }

    /// Flushes; returns the session's offset (bytes received in all).
    pub async fn close(mut self) -> Result<u64> {
        self.file.flush().await.map_err(io("writing an upload"))?;
        Ok(self.session.offset)
    }

    /// A failed request leaves the session unusable for hashing: its bytes are on disk
    /// but the running hash may have missed some; the file is hashed at the end.
    pub fn abandon(mut self) {
        if self.written > 0 || self.failed {
            self.session.hasher = None;
        }
    }
}
