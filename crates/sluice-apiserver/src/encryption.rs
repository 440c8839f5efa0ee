//! Encryption of stored objects at rest, as kube-apiserver's `--encryption-provider-config`
//! (docs "Encrypting Confidential Data at Rest"; types apiserver.config.k8s.io/v1
//! `EncryptionConfiguration`, checks of
//! staging/src/k8s.io/apiserver/pkg/apis/apiserver/validation/validation_encryption.go,
//! transforms of staging/src/k8s.io/apiserver/pkg/storage/value/encrypt/{aes,secretbox}).
//!
//! Pure: the configuration is parsed from text, values are transformed in memory; nonces are
//! passed in ([`Transformer::seal_with`]) or drawn from the OS ([`Transformer::seal`]). The
//! store ([`crate::store`]) calls it for the rows it writes and reads.
//!
//! Stored format (upstream's): `k8s:enc:aesgcm:v1:<key name>:`, a 12-byte nonce, then the
//! AES-GCM ciphertext and tag, the additional data being the row's storage key
//! (`/registry/secrets/<ns>/<name>`, see [`storage_key`]); `k8s:enc:secretbox:v1:<key name>:`,
//! a 24-byte nonce, then the XSalsa20-Poly1305 box (tag first, as NaCl). `identity` stores
//! the JSON. The first key of the first provider writes; every listed key reads (rotation);
//! a value read with any other key is *stale* and is rewritten by the store.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use serde_json::Value;
use sluice_core::yaml::{Limits, Pos, Step, load_documents};

/// The prefix of every encrypted value (upstream's `k8s:enc:`).
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

/// Errors of a configuration file: each line is `file:line:col: field.path: message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(pub Vec<String>);

/// A value that cannot be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecryptError {
    /// No provider of the configuration has the value's prefix (a key removed too early).
    #[error(
        "stored with {0} but no provider of the encryption configuration has that key (no matching prefix found)"
    )]
    NoKey(String),
    /// The value is encrypted and the resource is not (or no longer) encrypted at all.
    #[error(
        "stored encrypted ({0}) but the resource is not listed in the encryption configuration (identity transformer tried to read encrypted data)"
    )]
    NotConfigured(String),
    /// The key of the prefix did not open it (a wrong secret under a reused name, damage).
    #[error("{0}: {1}")]
    Open(String, &'static str),
    /// Plain data while no `identity` provider is listed.
    #[error(
        "stored unencrypted but the encryption configuration lists no identity provider to read it (no matching prefix found); list `- identity: {{}}` last until every object is rewritten"
    )]
    NoIdentity,
}

/// A key of the aesgcm or secretbox provider.
#[derive(Clone)]
pub struct Key {
    pub name: String,
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?}, REDACTED)", self.name)
    }
}

/// A provider, as listed.
#[derive(Debug, Clone)]
pub enum Provider {
    AesGcm(Vec<Key>),
    Secretbox(Vec<Key>),
    Identity,
}

/// One entry of `resources:`.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    /// `(group, resource)` as `schema.ParseGroupResource` splits them (`*` wildcards).
    pub resources: Vec<(String, String)>,
    pub providers: Vec<Provider>,
}

/// A parsed `EncryptionConfiguration`.
#[derive(Debug, Clone)]
pub struct EncryptionConfig {
    pub resources: Vec<ResourceConfig>,
}

enum Cipher {
    Aes128(Box<aes_gcm::Aes128Gcm>),
    Aes192(Box<aes_gcm::AesGcm<aes_gcm::aes::Aes192, aes_gcm::aead::consts::U12>>),
    Aes256(Box<aes_gcm::Aes256Gcm>),
    Secretbox(Box<crypto_secretbox::XSalsa20Poly1305>),
    Identity,
}

struct Entry {
    /// `k8s:enc:aesgcm:v1:key1:`; empty for identity.
    prefix: Vec<u8>,
    cipher: Cipher,
}

/// The transforms of one resource: writes with the first entry, reads with any.
pub struct Transformer {
    entries: Vec<Entry>,
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p: Vec<String> = self
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.prefix).into_owned())
            .collect();
        write!(f, "Transformer({p:?})")
    }
}

/// The additional authenticated data of a row, as upstream's etcd key:
/// `/registry/secrets/default/s`, `/registry/apps/deployments/ns/name`,
/// `/registry/namespaces/name` (the store key is `group/resource`).
pub fn storage_key(resource_key: &str, namespace: &str, name: &str) -> String {
    let r = resource_key.trim_start_matches('/');
    if namespace.is_empty() {
        format!("/registry/{r}/{name}")
    } else {
        format!("/registry/{r}/{namespace}/{name}")
    }
}

impl EncryptionConfig {
    /// The transformer of the store's resource `group/resource`, None when no entry lists it
    /// (its values are stored as they are). The first entry listing it wins.
    pub fn transformer_for(&self, resource_key: &str) -> Option<Transformer> {
        let (group, resource) = resource_key.split_once('/').unwrap_or(("", resource_key));
        let rc = self.resources.iter().find(|rc| {
            rc.resources
                .iter()
                .any(|(g, r)| (g == "*" && r == "*") || (g == group && (r == "*" || r == resource)))
        })?;
        let mut entries = Vec::new();
        for p in &rc.providers {
            match p {
                Provider::Identity => entries.push(Entry {
                    prefix: Vec::new(),
                    cipher: Cipher::Identity,
                }),
                Provider::AesGcm(keys) => {
                    for k in keys {
                        let cipher = match k.secret.len() {
                            16 => Cipher::Aes128(Box::new(
                                aes_gcm::Aes128Gcm::new_from_slice(&k.secret).ok()?,
                            )),
                            24 => Cipher::Aes192(Box::new(
                                aes_gcm::AesGcm::new_from_slice(&k.secret).ok()?,
                            )),
                            _ => Cipher::Aes256(Box::new(
                                aes_gcm::Aes256Gcm::new_from_slice(&k.secret).ok()?,
                            )),
                        };
                        entries.push(Entry {
                            prefix: format!("k8s:enc:aesgcm:v1:{}:", k.name).into_bytes(),
                            cipher,
                        });
                    }
                }
                Provider::Secretbox(keys) => {
                    for k in keys {
                        entries.push(Entry {
                            prefix: format!("k8s:enc:secretbox:v1:{}:", k.name).into_bytes(),
                            cipher: Cipher::Secretbox(Box::new(
                                crypto_secretbox::XSalsa20Poly1305::new_from_slice(&k.secret)
                                    .ok()?,
                            )),
                        });
                    }
                }
            }
        }
        Some(Transformer { entries })
    }
}

/// `k8s:enc:aesgcm:v1:key1` of an encrypted value (for messages; never the data).
pub fn prefix_of(data: &[u8]) -> String {
    let end = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b':')
        .map(|(i, _)| i)
        .nth(4)
        .unwrap_or(data.len().min(40));
    String::from_utf8_lossy(&data[..end]).into_owned()
}

impl Transformer {
    /// Whether writes store plaintext (the first provider is identity).
    pub fn writes_plain(&self) -> bool {
        self.entries
            .first()
            .is_none_or(|e| matches!(e.cipher, Cipher::Identity))
    }

    /// The bytes to store for `plain` at storage key `aad`, with a random nonce.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, getrandom::Error> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce)?;
        Ok(self.seal_with(aad, plain, &nonce))
    }

    /// [`Transformer::seal`] with the nonce given (12 bytes of it for AES-GCM, 24 for
    /// secretbox).
    pub fn seal_with(&self, aad: &str, plain: &[u8], nonce: &[u8; 24]) -> Vec<u8> {
        let Some(e) = self.entries.first() else {
            return plain.to_vec();
        };
        let gcm = |n: &[u8], ct: Result<Vec<u8>, aes_gcm::aead::Error>| {
            let mut out = e.prefix.clone();
            out.extend_from_slice(n);
            out.extend_from_slice(&ct.unwrap_or_default());
            out
        };
        let payload = Payload {
            msg: plain,
            aad: aad.as_bytes(),
        };
        let n12 = aes_gcm::Nonce::from_slice(&nonce[..12]);
        match &e.cipher {
            Cipher::Identity => plain.to_vec(),
            Cipher::Aes128(c) => gcm(&nonce[..12], c.encrypt(n12, payload)),
            Cipher::Aes192(c) => gcm(&nonce[..12], c.encrypt(n12, payload)),
            Cipher::Aes256(c) => gcm(&nonce[..12], c.encrypt(n12, payload)),
            Cipher::Secretbox(c) => gcm(
                nonce,
                c.encrypt(crypto_secretbox::Nonce::from_slice(nonce), plain),
            ),
        }
    }

    /// The plaintext of a stored value and whether it is stale (not written by the first
    /// key: rewrite it). Upstream's `PrefixTransformers.TransformFromStorage`: the first entry
    /// whose prefix the value has opens it; identity (empty prefix) steps aside for
    /// encrypted data so that a later key can read it.
    pub fn open(&self, aad: &str, data: &[u8]) -> Result<(Vec<u8>, bool), DecryptError> {
        let encrypted = data.starts_with(ENCRYPTED_PREFIX);
        for (i, e) in self.entries.iter().enumerate() {
            if matches!(e.cipher, Cipher::Identity) {
                if encrypted {
                    continue;
                }
                return Ok((data.to_vec(), i != 0));
            }
            let Some(rest) = data.strip_prefix(e.prefix.as_slice()) else {
                continue;
            };
            let name = || String::from_utf8_lossy(&e.prefix[..e.prefix.len() - 1]).into_owned();
            let short = |what| DecryptError::Open(name(), what);
            let gcm_split = || {
                (rest.len() >= 12)
                    .then(|| rest.split_at(12))
                    .ok_or_else(|| short("the stored data was shorter than the required size"))
            };
            let payload = |ct| Payload {
                msg: ct,
                aad: aad.as_bytes(),
            };
            let bad = |_| short("cipher: message authentication failed");
            let plain = match &e.cipher {
                // handled above: identity has no prefix
                Cipher::Identity => data.to_vec(),
                Cipher::Aes128(c) => {
                    let (n, ct) = gcm_split()?;
                    c.decrypt(aes_gcm::Nonce::from_slice(n), payload(ct))
                        .map_err(bad)?
                }
                Cipher::Aes192(c) => {
                    let (n, ct) = gcm_split()?;
                    c.decrypt(aes_gcm::Nonce::from_slice(n), payload(ct))
                        .map_err(bad)?
                }
                Cipher::Aes256(c) => {
                    let (n, ct) = gcm_split()?;
                    c.decrypt(aes_gcm::Nonce::from_slice(n), payload(ct))
                        .map_err(bad)?
                }
                Cipher::Secretbox(c) => {
                    if rest.len() < 24 {
                        return Err(short("the stored data was shorter than the required size"));
                    }
                    let (n, ct) = rest.split_at(24);
                    c.decrypt(crypto_secretbox::Nonce::from_slice(n), ct)
                        .map_err(|_| short("output array is the wrong size"))?
                }
            };
            return Ok((plain, i != 0));
        }
        if encrypted {
            Err(DecryptError::NoKey(prefix_of(data)))
        } else {
            Err(DecryptError::NoIdentity)
        }
    }
}

/// Reads encrypted data when the resource has no transformer: plaintext passes, encrypted
/// data is an error (upstream's identity transformer check).
pub fn open_unconfigured(data: &[u8]) -> Result<&[u8], DecryptError> {
    if data.starts_with(ENCRYPTED_PREFIX) {
        Err(DecryptError::NotConfigured(prefix_of(data)))
    } else {
        Ok(data)
    }
}

/// A YAML/JSON configuration document with positions, for `file:line:col: path: message`.
pub(crate) struct Doc<'a> {
    pub file: &'a str,
    pub doc: sluice_core::yaml::Document,
    pub errors: Vec<String>,
}

/// One step of a field path, owned.
#[derive(Clone)]
pub(crate) enum Seg {
    K(&'static str),
    I(usize),
}

impl<'a> Doc<'a> {
    /// Loads a single-document file that must be `apiVersion`/`kind`.
    pub fn load(
        file: &'a str,
        text: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<Self, ConfigError> {
        let docs = load_documents(text, &Limits::default())
            .map_err(|e| ConfigError(vec![format!("{file}:{e}")]))?;
        let mut docs: Vec<_> = docs.into_iter().filter(|d| !d.value.is_null()).collect();
        if docs.len() != 1 {
            return Err(ConfigError(vec![format!(
                "{file}: expected one {kind} document, found {}",
                docs.len()
            )]));
        }
        let doc = docs.remove(0);
        let mut d = Doc {
            file,
            doc,
            errors: Vec::new(),
        };
        if !d.doc.value.is_object() {
            d.err(&[], format!("expected a {kind} object"));
            return Err(ConfigError(d.errors));
        }
        for (field, want) in [("apiVersion", api_version), ("kind", kind)] {
            let got = d.doc.value.get(field).and_then(Value::as_str);
            if got != Some(want) {
                let path = [Seg::K(if field == "kind" {
                    "kind"
                } else {
                    "apiVersion"
                })];
                d.err(
                    &path,
                    format!(
                        "expected {want:?}, got {}",
                        got.map_or("nothing".to_owned(), |g| format!("{g:?}"))
                    ),
                );
            }
        }
        if !d.errors.is_empty() {
            return Err(ConfigError(d.errors));
        }
        Ok(d)
    }

    pub fn pos(&self, path: &[Seg]) -> Pos {
        let steps = path.iter().map(|s| match s {
            Seg::K(k) => Step::Key(k),
            Seg::I(i) => Step::Index(*i),
        });
        self.doc.root.locate(&self.doc.value, steps).0
    }

    pub fn err(&mut self, path: &[Seg], msg: impl fmt::Display) {
        let pos = self.pos(path);
        let p = path_text(path);
        if p.is_empty() {
            self.errors.push(format!("{}:{pos}: {msg}", self.file));
        } else {
            self.errors.push(format!("{}:{pos}: {p}: {msg}", self.file));
        }
    }

    /// The value at `path`.
    pub fn at(&self, path: &[Seg]) -> Option<&Value> {
        let mut v = &self.doc.value;
        for s in path {
            v = match s {
                Seg::K(k) => v.get(*k)?,
                Seg::I(i) => v.get(*i)?,
            };
        }
        Some(v)
    }

    /// Reports fields of the object at `path` that are not in `known`; false when the
    /// value is not an object (reported too).
    pub fn fields(&mut self, path: &[Seg], known: &[&str]) -> bool {
        let Some(v) = self.at(path) else {
            return false;
        };
        let Some(m) = v.as_object() else {
            self.err(path, "expected an object");
            return false;
        };
        let unknown: Vec<String> = m
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let steps = path
                .iter()
                .map(|s| match s {
                    Seg::K(k) => Step::Key(k),
                    Seg::I(i) => Step::Index(*i),
                })
                .chain([Step::Key(k.as_str())]);
            let pos = self.doc.root.locate(&self.doc.value, steps).0;
            let p = path_text(path);
            let at = if p.is_empty() {
                String::new()
            } else {
                format!("{p}: ")
            };
            self.errors.push(format!(
                "{}:{pos}: {at}unknown field {k:?} (expected one of: {})",
                self.file,
                known.join(", ")
            ));
        }
        true
    }

    /// A list at `path` (absent: empty); a non-list is reported.
    pub fn list(&mut self, path: &[Seg]) -> usize {
        match self.at(path) {
            None | Some(Value::Null) => 0,
            Some(Value::Array(a)) => a.len(),
            Some(_) => {
                self.err(path, "expected a list");
                0
            }
        }
    }

    /// A string at `path` (absent: None); a non-string is reported.
    pub fn string(&mut self, path: &[Seg]) -> Option<String> {
        match self.at(path) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.err(path, "expected a string");
                None
            }
        }
    }

    /// A list of strings at `path`.
    pub fn strings(&mut self, path: &[Seg]) -> Vec<String> {
        let n = self.list(path);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut p = path.to_vec();
            p.push(Seg::I(i));
            if let Some(s) = self.string(&p) {
                out.push(s);
            } else if self.at(&p).is_none_or(Value::is_null) {
                self.err(&p, "expected a string");
            }
        }
        out
    }
}

fn path_text(path: &[Seg]) -> String {
    let mut p = String::new();
    for s in path {
        match s {
            Seg::K(k) => {
                if !p.is_empty() {
                    p.push('.');
                }
                p.push_str(k);
            }
            Seg::I(i) => p.push_str(&format!("[{i}]")),
        }
    }
    p
}

/// `schema.ParseGroupResource`: `deployments.apps` is (apps, deployments).
fn parse_group_resource(s: &str) -> (String, String) {
    match s.split_once('.') {
        Some((r, g)) => (g.to_owned(), r.to_owned()),
        None => (String::new(), s.to_owned()),
    }
}

/// Parses and checks an `apiserver.config.k8s.io/v1` `EncryptionConfiguration` with
/// upstream's validation (`ValidateEncryptionConfiguration`); `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<EncryptionConfig, ConfigError> {
    use base64::Engine as _;
    let mut d = Doc::load(
        file,
        text,
        "apiserver.config.k8s.io/v1",
        "EncryptionConfiguration",
    )?;
    d.fields(&[], &["apiVersion", "kind", "resources"]);
    let root = [Seg::K("resources")];
    let n = d.list(&root);
    if n == 0 {
        d.err(&root, "Required value: at least one resources is required");
    }
    let mut out = Vec::new();
    for i in 0..n {
        let base = [Seg::K("resources"), Seg::I(i)];
        if !d.fields(&base, &["resources", "providers"]) {
            continue;
        }
        let rpath = [Seg::K("resources"), Seg::I(i), Seg::K("resources")];
        let names = d.strings(&rpath);
        if names.is_empty() {
            d.err(
                &rpath,
                format!("Required value: at least one resources[{i}].resources is required"),
            );
        }
        let parsed: Vec<(String, String)> = names.iter().map(|s| parse_group_resource(s)).collect();
        let mut dup = false;
        let mut overlap = false;
        for (a, r1) in parsed.iter().enumerate() {
            for (b, r2) in parsed.iter().enumerate() {
                if a == b {
                    continue;
                }
                if r1 == r2 {
                    dup = true;
                    continue;
                }
                if r1.0 == "*" && r1.1 == "*" {
                    overlap = true;
                }
                if r1.0 == r2.0 && (r1.1 == "*" || r2.1 == "*") {
                    overlap = true;
                }
            }
        }
        if dup {
            d.err(
                &rpath,
                "the same resource cannot be specified multiple times",
            );
        }
        if overlap {
            d.err(
                &rpath,
                "using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked",
            );
        }
        for (j, name) in names.iter().enumerate() {
            let p = [
                Seg::K("resources"),
                Seg::I(i),
                Seg::K("resources"),
                Seg::I(j),
            ];
            let (g, r) = &parsed[j];
            let msg = if name.to_lowercase() != *name {
                Some("resource name should not contain capital letters")
            } else if name == "*" {
                Some(
                    "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources",
                )
            } else if matches!(
                name.as_str(),
                "apiserveripinfo" | "serviceipallocations" | "servicenodeportallocations"
            ) {
                Some("resources which do not have REST API/s cannot be encrypted")
            } else if g == "events.k8s.io" {
                Some(
                    "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file",
                )
            } else if g == "extensions" {
                Some("'extensions' group has been removed and cannot be used for encryption")
            } else if g == "*" && r != "*" {
                Some("encrypting the same resource across groups is not supported")
            } else {
                None
            };
            if let Some(m) = msg {
                d.err(&p, format!("Invalid value: {name:?}: {m}"));
            }
        }
        let ppath = [Seg::K("resources"), Seg::I(i), Seg::K("providers")];
        let np = d.list(&ppath);
        if np == 0 {
            d.err(
                &ppath,
                format!("Required value: at least one resources[{i}].providers is required"),
            );
        }
        let mut providers = Vec::new();
        for j in 0..np {
            let pp = [
                Seg::K("resources"),
                Seg::I(i),
                Seg::K("providers"),
                Seg::I(j),
            ];
            if !d.fields(&pp, &["aesgcm", "secretbox", "identity", "aescbc", "kms"]) {
                continue;
            }
            let present: Vec<&'static str> = ["aesgcm", "secretbox", "identity", "aescbc", "kms"]
                .into_iter()
                // a null provider (`- identity:`) is a nil pointer upstream: not there
                .filter(|k| {
                    d.at(&pp)
                        .and_then(|v| v.get(*k))
                        .is_some_and(|v| !v.is_null())
                })
                .collect();
            if present.is_empty() {
                d.err(
                    &pp,
                    "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity",
                );
                continue;
            }
            if present.len() > 1 {
                d.err(
                    &pp,
                    "more than one provider specified in a single element, should split into different list elements",
                );
                continue;
            }
            let kind = present[0];
            let mut kp = pp.to_vec();
            kp.push(Seg::K(kind));
            match kind {
                "identity" => {
                    d.fields(&kp, &[]);
                    providers.push(Provider::Identity);
                }
                "aescbc" | "kms" => d.err(
                    &kp,
                    format!(
                        "the {kind} provider is not supported by sluice (supported: aesgcm, secretbox, identity)"
                    ),
                ),
                _ => {
                    d.fields(&kp, &["keys"]);
                    let mut keys_path = kp.clone();
                    keys_path.push(Seg::K("keys"));
                    let nk = d.list(&keys_path);
                    if nk == 0 {
                        d.err(&keys_path, "Required value: at least one keys is required");
                    }
                    let sizes: &[usize] = if kind == "aesgcm" { &[16, 24, 32] } else { &[32] };
                    let mut keys = Vec::new();
                    for k in 0..nk {
                        let mut kpath = keys_path.clone();
                        kpath.push(Seg::I(k));
                        if !d.fields(&kpath, &["name", "secret"]) {
                            continue;
                        }
                        let mut np_ = kpath.clone();
                        np_.push(Seg::K("name"));
                        let mut sp = kpath.clone();
                        sp.push(Seg::K("secret"));
                        let name = d.string(&np_).unwrap_or_default();
                        if name.is_empty() {
                            d.err(
                                &np_,
                                "Required value: name is a mandatory field for a key",
                            );
                        }
                        let secret = d.string(&sp).unwrap_or_default();
                        if secret.is_empty() {
                            d.err(
                                &sp,
                                "Required value: secret is a mandatory field for a key",
                            );
                            continue;
                        }
                        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&secret)
                        else {
                            d.err(
                                &sp,
                                "Invalid value: \"REDACTED\": secrets must be base64 encoded",
                            );
                            continue;
                        };
                        if !sizes.contains(&bytes.len()) {
                            d.err(
                                &sp,
                                format!(
                                    "Invalid value: \"REDACTED\": secret is not of the expected length, got {}, expected one of {sizes:?}",
                                    bytes.len()
                                ),
                            );
                            continue;
                        }
                        keys.push(Key {
                            name,
                            secret: bytes,
                        });
                    }
                    providers.push(if kind == "aesgcm" {
                        Provider::AesGcm(keys)
                    } else {
                        Provider::Secretbox(keys)
                    });
                }
            }
        }
        out.push(ResourceConfig {
            resources: parsed,
            providers,
        });
    }
    if !d.errors.is_empty() {
        return Err(ConfigError(d.errors));
    }
    Ok(EncryptionConfig { resources: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="; // 32 bytes
    const K2: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="; // 32 bytes

    fn cfg(providers: &str) -> EncryptionConfig {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets, configmaps, \"*.apps\"]\n  providers:\n{providers}"
        );
        match parse("enc.yaml", &text) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn errs(text: &str) -> String {
        match parse("enc.yaml", text) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    // docs "Encrypting Confidential Data at Rest": the first provider encrypts new writes,
    // every key of every listed provider decrypts, in order
    #[test]
    fn aesgcm_round_trip_and_format() {
        let c = cfg(&format!(
            "  - aesgcm:\n      keys:\n      - name: key1\n        secret: {K1}\n  - identity: {{}}\n"
        ));
        let t = c.transformer_for("/secrets").expect("secrets listed");
        assert!(c.transformer_for("apps/deployments").is_some());
        assert!(c.transformer_for("/pods").is_none());
        assert!(c.transformer_for("batch/jobs").is_none());
        let aad = storage_key("/secrets", "default", "s");
        assert_eq!(aad, "/registry/secrets/default/s");
        let sealed = t.seal(&aad, b"{\"data\":1}").expect("rng");
        assert!(sealed.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
        // prefix + 12-byte nonce + ciphertext + 16-byte tag (aes.go TransformToStorage)
        assert_eq!(sealed.len(), 23 + 12 + 10 + 16);
        assert_eq!(
            t.open(&aad, &sealed).expect("opens"),
            (b"{\"data\":1}".to_vec(), false)
        );
        // bound to its storage key: a row copied elsewhere does not open
        assert!(t.open("/registry/secrets/default/t", &sealed).is_err());
        // plaintext read through identity, stale (not the first provider)
        assert_eq!(
            t.open(&aad, b"{}").expect("identity"),
            (b"{}".to_vec(), true)
        );
        // two seals of the same value differ (random nonce)
        assert_ne!(sealed, t.seal(&aad, b"{\"data\":1}").expect("rng"));
    }

    // The layout of aes.go's gcm.TransformToStorage (nonce, then Go's GCM Seal output:
    // ciphertext || tag, the storage key as additional data), checked against an independent
    // implementation: the value below was produced by running Python's `cryptography` 48
    // AESGCM(base64 K2).encrypt(nonce=00..0b, b'{"kind":"Secret"}', b'/registry/secrets/default/s')
    // behind the prefix.
    #[test]
    fn aesgcm_layout_matches_an_independent_implementation() {
        let c = cfg(&format!(
            "  - aesgcm:\n      keys:\n      - name: key2\n        secret: {K2}\n"
        ));
        let t = c.transformer_for("/secrets").expect("listed");
        let fixture = crate::util::unhex("6b38733a656e633a61657367636d3a76313a6b6579323a000102030405060708090a0b23760c731b6fb85084d35450e09a02602549b5824a72303bfd53fbd122baf58036").expect("hex");
        let aad = "/registry/secrets/default/s";
        assert_eq!(
            t.open(aad, &fixture).expect("opens"),
            (b"{\"kind\":\"Secret\"}".to_vec(), false)
        );
        let mut nonce = [0u8; 24];
        for (i, b) in nonce.iter_mut().enumerate().take(12) {
            *b = i as u8;
        }
        assert_eq!(t.seal_with(aad, b"{\"kind\":\"Secret\"}", &nonce), fixture);
    }

    // secretbox.go stores nonce || secretbox.Seal (NaCl: Poly1305 tag, then ciphertext);
    // the value below was produced by running PyNaCl 1.5 (libsodium)
    // SecretBox(base64 K1).encrypt(b'{"kind":"Secret"}', nonce=00..17) behind the prefix.
    #[test]
    fn secretbox_layout_matches_libsodium() {
        let c = cfg(&format!(
            "  - secretbox:\n      keys:\n      - name: sb\n        secret: {K1}\n"
        ));
        let t = c.transformer_for("/secrets").expect("listed");
        let fixture = crate::util::unhex("6b38733a656e633a736563726574626f783a76313a73623a000102030405060708090a0b0c0d0e0f101112131415161775d6e8028731a843df529b5c17a68be116800b0f12c8755a6db1968e78d320aa95").expect("hex");
        assert_eq!(
            t.open("any", &fixture).expect("opens").0,
            b"{\"kind\":\"Secret\"}".to_vec()
        );
        let mut nonce = [0u8; 24];
        for (i, b) in nonce.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(
            t.seal_with("any", b"{\"kind\":\"Secret\"}", &nonce),
            fixture
        );
    }

    #[test]
    fn aes_key_sizes_16_24_32() {
        for secret in [
            "MDEyMzQ1Njc4OWFiY2RlZg==",         // 16
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", // 24
            K2,                                 // 32
        ] {
            let c = cfg(&format!(
                "  - aesgcm:\n      keys:\n      - name: k\n        secret: {secret}\n"
            ));
            let t = c.transformer_for("/secrets").expect("listed");
            let s = t.seal_with("/registry/secrets/a/b", b"x", &[7; 24]);
            assert_eq!(t.open("/registry/secrets/a/b", &s).expect("opens").0, b"x");
        }
    }

    #[test]
    fn secretbox_round_trip() {
        let c = cfg(&format!(
            "  - secretbox:\n      keys:\n      - name: sb\n        secret: {K1}\n"
        ));
        let t = c.transformer_for("/configmaps").expect("listed");
        let s = t.seal("/registry/configmaps/a/b", b"hello").expect("rng");
        assert!(s.starts_with(b"k8s:enc:secretbox:v1:sb:"));
        // prefix + 24-byte nonce + 16-byte Poly1305 tag + ciphertext (secretbox.go)
        assert_eq!(s.len(), 24 + 24 + 16 + 5);
        assert_eq!(
            t.open("/registry/configmaps/a/b", &s).expect("opens").0,
            b"hello"
        );
        // no identity listed: plaintext is an error, as upstream's "no matching prefix"
        assert_eq!(t.open("k", b"{}"), Err(DecryptError::NoIdentity));
    }

    // rotation (docs "Rotating a decryption key"): key2 added first, key1 second; values of
    // key1 still read and are stale; a config without key1 cannot read them
    #[test]
    fn rotation() {
        let old = cfg(&format!(
            "  - aesgcm:\n      keys:\n      - name: key1\n        secret: {K1}\n"
        ));
        let aad = "/registry/secrets/default/s";
        let v1 = old
            .transformer_for("/secrets")
            .expect("listed")
            .seal(aad, b"v")
            .expect("rng");
        let both = cfg(&format!(
            "  - aesgcm:\n      keys:\n      - name: key2\n        secret: {K2}\n      - name: key1\n        secret: {K1}\n"
        ));
        let t = both.transformer_for("/secrets").expect("listed");
        assert_eq!(t.open(aad, &v1).expect("key1 reads"), (b"v".to_vec(), true));
        let v2 = t.seal(aad, b"v").expect("rng");
        assert!(v2.starts_with(b"k8s:enc:aesgcm:v1:key2:"));
        assert_eq!(
            t.open(aad, &v2).expect("key2 reads"),
            (b"v".to_vec(), false)
        );
        let only2 = cfg(&format!(
            "  - aesgcm:\n      keys:\n      - name: key2\n        secret: {K2}\n  - identity: {{}}\n"
        ));
        let e = only2
            .transformer_for("/secrets")
            .expect("listed")
            .open(aad, &v1)
            .expect_err("key1 is gone");
        assert_eq!(e, DecryptError::NoKey("k8s:enc:aesgcm:v1:key1".into()));
        // identity first (decrypting everything): encrypted values still read by the key
        let decrypt = cfg(&format!(
            "  - identity: {{}}\n  - aesgcm:\n      keys:\n      - name: key1\n        secret: {K1}\n"
        ));
        let t = decrypt.transformer_for("/secrets").expect("listed");
        assert!(t.writes_plain());
        assert_eq!(t.open(aad, &v1).expect("reads"), (b"v".to_vec(), true));
        assert_eq!(t.open(aad, b"{}").expect("reads"), (b"{}".to_vec(), false));
        // a wrong secret under the same name is an authentication failure, not garbage
        let wrong = cfg(&format!(
            "  - aesgcm:\n      keys:\n      - name: key1\n        secret: {K2}\n"
        ));
        let e = wrong
            .transformer_for("/secrets")
            .expect("listed")
            .open(aad, &v1)
            .expect_err("wrong key");
        assert!(matches!(e, DecryptError::Open(..)), "{e}");
        assert!(matches!(
            open_unconfigured(&v1),
            Err(DecryptError::NotConfigured(_))
        ));
    }

    // validation_encryption.go's messages, with file:line:col and field path
    #[test]
    fn config_errors() {
        let e = errs(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [Secrets, '*', secrets, secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: k\n        secret: c2hvcnQ=\n  - aesgcm: {keys: [{secret: '!!'}]}\n    identity: {}\n  - identity: {}\n  - aesgcm: {keys: [{name: a, secret: '@@@'}, {name: b}]}\n  - {}\n  - kms: {name: x}\n",
        );
        for want in [
            "enc.yaml:4:3: resources[0].resources: the same resource cannot be specified multiple times",
            "enc.yaml:4:15: resources[0].resources[0]: Invalid value: \"Secrets\": resource name should not contain capital letters",
            "enc.yaml:4:24: resources[0].resources[1]: Invalid value: \"*\": use '*.' to encrypt all",
            "enc.yaml:9:9: resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, expected one of [16, 24, 32]",
            "enc.yaml:10:5: resources[0].providers[1]: more than one provider specified in a single element",
            "resources[0].providers[3].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded",
            "resources[0].providers[3].aesgcm.keys[1].secret: Required value: secret is a mandatory field for a key",
            "resources[0].providers[4]: provider does not contain any of the expected providers",
            "enc.yaml:15:5: resources[0].providers[5].kms: the kms provider is not supported by sluice",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        assert!(!e.contains("c2hvcnQ"), "secrets are never echoed: {e}");
        let e = errs("apiVersion: v1\nkind: EncryptionConfig\nresources: []\n");
        assert!(
            e.contains(
                "enc.yaml:1:1: apiVersion: expected \"apiserver.config.k8s.io/v1\", got \"v1\""
            ),
            "{e}"
        );
        assert!(e.contains("enc.yaml:2:1: kind:"), "{e}");
        let e = errs(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n",
        );
        assert!(e.contains("enc.yaml:3:1: resources: Required value"), "{e}");
        let e = errs(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - nme: k\n",
        );
        assert!(
            e.contains(
                "enc.yaml:8:9: resources[0].providers[0].aesgcm.keys[0]: unknown field \"nme\""
            ),
            "{e}"
        );
        let e = errs(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [deployments.extensions, 'x.*', events.events.k8s.io]\n  providers: [{identity: {}}]\n",
        );
        assert!(e.contains("'extensions' group has been removed"), "{e}");
        assert!(e.contains("across groups is not supported"), "{e}");
        assert!(e.contains("Use 'events' instead"), "{e}");
        assert!(errs("a: [").contains("enc.yaml:"));
        let e = errs(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity:\n",
        );
        assert!(e.contains("enc.yaml:6:5: resources[0].providers[0]: provider does not contain any of the expected providers"), "{e}");
    }

    proptest::proptest! {
        // any bytes read back from a row: an error or a value, never a panic
        #[test]
        fn open_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..80), prefix in 0usize..3) {
            let c = cfg(&format!(
                "  - aesgcm:\n      keys:\n      - name: key1\n        secret: {K1}\n  - secretbox:\n      keys:\n      - name: s\n        secret: {K1}\n"
            ));
            let t = c.transformer_for("/secrets").expect("listed");
            let mut v = [&b"k8s:enc:aesgcm:v1:key1:"[..], b"k8s:enc:secretbox:v1:s:", b""][prefix].to_vec();
            v.extend(data);
            let _ = t.open("k", &v);
        }

        #[test]
        fn parse_never_panics(text in "[ -~\n]{0,200}") {
            let _ = parse("f", &text);
        }
    }
}
