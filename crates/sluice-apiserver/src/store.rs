//! The object store: SQLite in WAL mode on disk, every object also held in memory, one
//! global resourceVersion counter, and a window of recent events for watches.
//!
//! Invariants:
//! - every write is one SQLite transaction that stores the object and the counter together,
//!   so after a crash (kill -9 included) the objects and the counter agree;
//! - resourceVersions strictly increase across all resources (as etcd's revision does);
//! - a watch either replays every event after its resourceVersion or fails with Gone;
//! - objects are held in memory as their JSON text ([`Stored`]), parsed on demand: a parsed
//!   `serde_json::Value` costs several times the text (bench/serve.py (c): 10,000 finished
//!   PipelineRuns), and lists and watches mostly send the text as it is.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::encryption::{EncryptionConfig, Transformer};
use serde_json::Value;
use tokio::sync::broadcast;

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("resourceVersion conflict")]
    Conflict,
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored object is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A row that cannot be decrypted (its key is not in the encryption configuration):
    /// the store does not open rather than serve anything else.
    #[error("cannot read {resource} {object} from the store: {reason}")]
    Decrypt {
        resource: String,
        object: String,
        reason: String,
    },
    #[error("encrypting {0}: no randomness for the nonce: {1}")]
    Nonce(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// The metadata the store and the garbage collector read without parsing an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub uid: Box<str>,
    /// The uids its ownerReferences name.
    pub owners: Box<[Box<str>]>,
    /// `foregroundDeletion` is among its finalizers.
    pub foreground: bool,
    /// It has a deletionTimestamp.
    pub deleting: bool,
    pub api_version: Box<str>,
    pub name: Box<str>,
    pub namespace: Box<str>,
    /// `metadata.labels` (string values), in the object's order, as `key\0value\0...` in
    /// one allocation (label keys and values are validated: no NUL): what label selectors
    /// read without parsing the object. [`Meta::labels`] iterates it.
    pub label_text: Box<str>,
}

impl Meta {
    fn of(obj: &Value) -> Meta {
        let md = obj.get("metadata");
        let s = |k: &str| {
            md.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        Meta {
            uid: s("uid").into(),
            owners: md
                .and_then(|m| m.get("ownerReferences"))
                .and_then(Value::as_array)
                .map(|refs| {
                    refs.iter()
                        .filter_map(|r| r.get("uid").and_then(Value::as_str).map(Box::from))
                        .collect()
                })
                .unwrap_or_default(),
            foreground: md
                .and_then(|m| m.get("finalizers"))
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion")),
            deleting: md.and_then(|m| m.get("deletionTimestamp")).is_some(),
            api_version: obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            name: s("name").into(),
            namespace: s("namespace").into(),
            label_text: md
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object)
                .map(|m| {
                    let mut t = String::new();
                    for (k, v) in m {
                        if let Some(v) = v.as_str() {
                            t.push_str(k);
                            t.push('\0');
                            t.push_str(v);
                            t.push('\0');
                        }
                    }
                    t.into_boxed_str()
                })
                .unwrap_or_default(),
        }
    }

    /// The labels (key, value), in the object's order.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        let mut parts = self.label_text.split('\0');
        std::iter::from_fn(move || Some((parts.next()?, parts.next()?)))
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// `{"metadata": {"name", "namespace", "labels"}}`: what the kept metadata holds, as a
    /// value (selectors read the fields directly: `labels`, `name`, `namespace`).
    #[cfg(test)]
    pub fn as_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), Value::String(self.name.to_string()));
        m.insert(
            "namespace".into(),
            Value::String(self.namespace.to_string()),
        );
        if !self.label_text.is_empty() {
            let labels = self
                .labels()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            m.insert("labels".into(), Value::Object(labels));
        }
        serde_json::json!({ "metadata": m })
    }
}

/// One stored object as memory holds it: its JSON text (compact; a parsed `Value` costs
/// several times as much), its resourceVersion and the [`Meta`] read without parsing.
#[derive(Debug)]
pub struct Stored {
    json: Box<str>,
    rv: u64,
    meta: Meta,
}

/// A shared stored object.
pub type Obj = Arc<Stored>;

impl Stored {
    fn new(obj: &Value, json: String) -> Stored {
        Stored {
            json: json.into_boxed_str(),
            rv: rv_of(obj),
            meta: Meta::of(obj),
        }
    }

    /// The object's JSON text, as stored.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The object parsed (a new copy each time).
    pub fn value(&self) -> Value {
        // the text was serialized from a Value by this store: it always parses
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    pub fn rv(&self) -> u64 {
        self.rv
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }
}

/// One change.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub ty: EventType,
    /// `group/resource` (`/configmaps` for the core group).
    pub resource: Arc<str>,
    pub namespace: String,
    pub object: Obj,
    /// The object before a MODIFIED event (selector-filtered watches need it).
    pub prev: Option<Obj>,
}

/// The events a watch replays and the receiver of the later ones.
pub type WatchStart = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

type Objects = BTreeMap<(String, String), Obj>;

struct Inner {
    conn: Connection,
    rv: u64,
    objects: HashMap<Arc<str>, Objects>,
    history: VecDeque<Arc<Event>>,
    /// Watches from a resourceVersion below this cannot be served (events were dropped).
    floor: u64,
    history_cap: usize,
    /// `--encryption-provider-config`, and each resource's transformer once asked for.
    enc: Option<Arc<EncryptionConfig>>,
    transformers: HashMap<String, Option<Arc<Transformer>>>,
    /// Label indexes, built on the first list that selects `key=value` on a resource and
    /// kept up to date by every write after: (resource, label key) -> value -> objects.
    label_index: HashMap<(Arc<str>, Box<str>), LabelIndex>,
}

/// The objects (namespace, name) of one resource carrying each value of one label key.
type LabelIndex = HashMap<Box<str>, BTreeSet<(String, String)>>;

/// At most this many (resource, label key) indexes: keys a client made up do not grow the
/// store without bound; lists past it scan.
const MAX_LABEL_INDEXES: usize = 64;

impl Inner {
    /// Moves `(ns, name)` in the indexes of `resource` from its old labels to its new ones
    /// (None: absent).
    fn reindex(
        &mut self,
        resource: &str,
        ns: &str,
        name: &str,
        old: Option<&Meta>,
        new: Option<&Meta>,
    ) {
        for ((r, key), idx) in self.label_index.iter_mut() {
            if &**r != resource {
                continue;
            }
            let before = old.and_then(|m| m.label(key));
            let after = new.and_then(|m| m.label(key));
            if before == after {
                continue;
            }
            let k = (ns.to_owned(), name.to_owned());
            if let Some(v) = before
                && let Some(set) = idx.get_mut(v)
            {
                set.remove(&k);
                if set.is_empty() {
                    idx.remove(v);
                }
            }
            if let Some(v) = after {
                idx.entry(v.into()).or_default().insert(k);
            }
        }
    }

    fn transformer(&mut self, resource: &str) -> Option<Arc<Transformer>> {
        let enc = self.enc.as_ref()?;
        if let Some(t) = self.transformers.get(resource) {
            return t.clone();
        }
        let t = enc.transformer_for(resource).map(Arc::new);
        self.transformers.insert(resource.to_owned(), t.clone());
        t
    }
}

/// The row's body: JSON text, or the encrypted bytes when `t` encrypts.
fn seal_body(
    t: Option<&Transformer>,
    resource: &str,
    ns: &str,
    name: &str,
    json: String,
) -> Result<rusqlite::types::Value, StoreError> {
    match t {
        Some(t) if !t.writes_plain() => t
            .seal(
                &crate::encryption::storage_key(resource, ns, name),
                json.as_bytes(),
            )
            .map(rusqlite::types::Value::Blob)
            .map_err(|e| StoreError::Nonce(format!("{resource} {ns}/{name}"), e.to_string())),
        _ => Ok(rusqlite::types::Value::Text(json)),
    }
}

/// The store. Cheap operations under one mutex; the mutex also orders events.
pub struct Store {
    inner: Mutex<Inner>,
    /// The resourceVersion of the last write to each resource since the store opened.
    written: Mutex<HashMap<Arc<str>, u64>>,
    tx: broadcast::Sender<Arc<Event>>,
    rewritten: usize,
}

/// `group/resource`, the store's key for a resource.
pub fn resource_key(group: &str, plural: &str) -> String {
    format!("{group}/{plural}")
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

/// The resourceVersion of a stored object.
pub fn rv_of(obj: &Value) -> u64 {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Where a list of (namespace, name) keys starts: after the continue point, else at the
/// namespace's first key (or the very first).
fn lower_bound(
    namespace: Option<&str>,
    after: Option<&(String, String)>,
) -> std::ops::Bound<(String, String)> {
    use std::ops::Bound;
    match after {
        Some(k) => Bound::Excluded(k.clone()),
        None => match namespace {
            Some(ns) => Bound::Included((ns.to_owned(), String::new())),
            None => Bound::Unbounded,
        },
    }
}

fn ns_name(obj: &Value) -> (String, String) {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

impl Store {
    /// Opens (or creates) the database at `path`; `:memory:` for a store that is not kept.
    pub fn open(path: &Path, history_cap: usize) -> Result<Self, StoreError> {
        Self::open_encrypted(path, history_cap, None)
    }

    /// [`Store::open`] with rows of the resources `enc` lists encrypted at rest. Every row
    /// is read (and decrypted) on open: one whose key is not configured fails the open,
    /// naming the object. Rows not written with the first provider's first key (a rotated
    /// key, plaintext under a new configuration, or encrypted under an identity-first
    /// one) are rewritten with it in one transaction, resourceVersions unchanged; the WAL
    /// is then truncated and deleted content zeroed (`secure_delete`) so that no old form
    /// stays on disk. [`Store::rewritten_on_open`] tells how many.
    pub fn open_encrypted(
        path: &Path,
        history_cap: usize,
        enc: Option<Arc<EncryptionConfig>>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        if enc.is_some() {
            conn.pragma_update(None, "secure_delete", "ON")?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a commit survives a process crash (kill -9); only a power loss may
        // lose the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS objects (
                resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                rv INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )?;
        // the last resourceVersion: the newest object's, or the last delete's (the only
        // write that leaves no object behind records it in `meta`)
        let rv: u64 = conn
            .query_row(
                "SELECT MAX(COALESCE((SELECT value FROM meta WHERE key = 'rv'), 0),
                            COALESCE((SELECT MAX(rv) FROM objects), 0))",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .unwrap_or(0) as u64;
        let mut objects: HashMap<Arc<str>, Objects> = HashMap::new();
        let mut transformers: HashMap<String, Option<Arc<Transformer>>> = HashMap::new();
        let mut stale = Vec::new();
        {
            let mut stmt = conn.prepare("SELECT resource, namespace, name, body FROM objects")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let res: String = row.get(0)?;
                let ns: String = row.get(1)?;
                let name: String = row.get(2)?;
                let body = match row.get_ref(3)? {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
                    _ => &[][..],
                };
                let t = match &enc {
                    Some(enc) => transformers
                        .entry(res.clone())
                        .or_insert_with(|| enc.transformer_for(&res).map(Arc::new))
                        .clone(),
                    None => None,
                };
                let decrypt_err = |e: crate::encryption::DecryptError| StoreError::Decrypt {
                    resource: res.trim_start_matches('/').to_owned(),
                    object: if ns.is_empty() {
                        name.clone()
                    } else {
                        format!("{ns}/{name}")
                    },
                    reason: e.to_string(),
                };
                let (v, text): (Value, String) = match &t {
                    Some(t) => {
                        let aad = crate::encryption::storage_key(&res, &ns, &name);
                        let (plain, is_stale) = t.open(&aad, body).map_err(decrypt_err)?;
                        if is_stale {
                            stale.push((res.clone(), ns.clone(), name.clone()));
                        }
                        let v = serde_json::from_slice(&plain)?;
                        (v, String::from_utf8(plain.to_vec()).unwrap_or_default())
                    }
                    None => {
                        let plain =
                            crate::encryption::open_unconfigured(body).map_err(decrypt_err)?;
                        let v = serde_json::from_slice(plain)?;
                        (v, String::from_utf8_lossy(plain).into_owned())
                    }
                };
                // kept as text, re-serialized compactly when the row is not
                let text = if text.contains('\n') {
                    serde_json::to_string(&v)?
                } else {
                    text
                };
                let stored = Stored::new(&v, text);
                drop(v);
                objects
                    .entry(Arc::from(res.as_str()))
                    .or_default()
                    .insert((ns, name), Arc::new(stored));
            }
        }
        if !stale.is_empty() {
            let t = conn.unchecked_transaction()?;
            for (res, ns, name) in &stale {
                let Some(obj) = objects
                    .get(res.as_str())
                    .and_then(|o| o.get(&(ns.clone(), name.clone())))
                else {
                    continue;
                };
                let tr = transformers.get(res).cloned().flatten();
                let body = seal_body(tr.as_deref(), res, ns, name, obj.json().to_owned())?;
                t.prepare_cached(
                    "UPDATE objects SET body = ?4 WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
                )?
                .execute(params![res, ns, name, body])?;
            }
            t.commit()?;
            // the old forms are gone from the WAL too
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        let (tx, _) = broadcast::channel(16_384);
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                rv,
                objects,
                history: VecDeque::new(),
                floor: rv,
                history_cap: history_cap.max(1),
                enc,
                transformers,
                label_index: HashMap::new(),
            }),
            written: Mutex::new(HashMap::new()),
            tx,
            rewritten: stale.len(),
        })
    }

    /// How many rows opening rewrote with the first key of the encryption configuration.
    pub fn rewritten_on_open(&self) -> usize {
        self.rewritten
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// The resourceVersion of the last write to any of `resources` since the store opened
    /// (0: none): what a cache of those resources is keyed on.
    pub fn last_write(&self, resources: &[&str]) -> u64 {
        // its own lock, not the store's: every request's RBAC check reads it, and the
        // store's lock is held through each write's SQLite commit
        let g = self.written.lock().unwrap_or_else(|e| e.into_inner());
        resources
            .iter()
            .filter_map(|r| g.get(*r))
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// The object, parsed.
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let o = self.get_stored(resource, namespace, name)?;
        Some(Arc::new(o.value()))
    }

    /// How many objects of a resource are stored (all namespaces), without copying any.
    pub fn count(&self, resource: &str) -> usize {
        self.lock().objects.get(resource).map_or(0, |m| m.len())
    }

    /// The object as stored (not parsed).
    pub fn get_stored(&self, resource: &str, namespace: &str, name: &str) -> Option<Obj> {
        let g = self.lock();
        g.objects
            .get(resource)?
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Objects of a resource (in one namespace, or all), ordered by namespace and name,
    /// starting after `after`; and the store's resourceVersion at that moment.
    pub fn list(
        &self,
        resource: &str,
        namespace: Option<&str>,
        after: Option<&(String, String)>,
    ) -> (Vec<Arc<Value>>, u64) {
        let (objs, rv) = self.list_stored(resource, namespace, after);
        (objs.iter().map(|o| Arc::new(o.value())).collect(), rv)
    }

    /// [`Store::list`] as stored (not parsed).
    pub fn list_stored(
        &self,
        resource: &str,
        namespace: Option<&str>,
        after: Option<&(String, String)>,
    ) -> (Vec<Obj>, u64) {
        let g = self.lock();
        let Some(objs) = g.objects.get(resource) else {
            return (Vec::new(), g.rv);
        };
        let out = objs
            .range((lower_bound(namespace, after), std::ops::Bound::Unbounded))
            .take_while(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (out, g.rv)
    }

    /// [`Store::list_stored`] restricted to objects labelled `key=value`, through an index of
    /// that key (built on first use): a selector's list does not visit every object of the
    /// resource. Without an index (too many keys asked for), every object is visited.
    pub fn list_labelled(
        &self,
        resource: &str,
        namespace: Option<&str>,
        after: Option<&(String, String)>,
        key: &str,
        value: &str,
    ) -> (Vec<Obj>, u64) {
        let mut g = self.lock();
        let inner = &mut *g;
        let Some((rkey, objs)) = inner.objects.get_key_value(resource) else {
            return (Vec::new(), inner.rv);
        };
        let ik = (rkey.clone(), Box::<str>::from(key));
        if !inner.label_index.contains_key(&ik) {
            if inner.label_index.len() >= MAX_LABEL_INDEXES {
                drop(g);
                let (all, rv) = self.list_stored(resource, namespace, after);
                let out = all
                    .into_iter()
                    .filter(|o| o.meta().label(key) == Some(value))
                    .collect();
                return (out, rv);
            }
            let mut idx = LabelIndex::new();
            for (k, o) in objs {
                if let Some(v) = o.meta().label(key) {
                    idx.entry(v.into()).or_default().insert(k.clone());
                }
            }
            inner.label_index.insert(ik.clone(), idx);
        }
        let g = &*g;
        let (Some(objs), Some(set)) = (
            g.objects.get(resource),
            g.label_index.get(&ik).and_then(|i| i.get(value)),
        ) else {
            return (Vec::new(), g.rv);
        };
        let out = set
            .range((lower_bound(namespace, after), std::ops::Bound::Unbounded))
            .take_while(|(ns, _)| namespace.is_none_or(|n| n == ns))
            .filter_map(|k| objs.get(k).cloned())
            .collect();
        (out, g.rv)
    }

    /// The objects of a resource in one namespace (or all) whose name `keep` accepts, as
    /// stored: the others are neither copied nor parsed.
    pub fn list_named(
        &self,
        resource: &str,
        namespace: Option<&str>,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<Obj> {
        let g = self.lock();
        let Some(objs) = g.objects.get(resource) else {
            return Vec::new();
        };
        objs.iter()
            .filter(|((ns, name), _)| namespace.is_none_or(|n| n == ns) && keep(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// All resources that have objects in `namespace`.
    pub fn resources_in_namespace(&self, namespace: &str) -> Vec<String> {
        let g = self.lock();
        g.objects
            .iter()
            .filter(|(_, objs)| objs.keys().any(|(ns, _)| ns == namespace))
            .map(|(r, _)| r.to_string())
            .collect()
    }

    /// Whether any stored object's metadata satisfies `f`, looked at under the lock
    /// without copying or parsing.
    pub fn any(&self, f: impl Fn(&Meta) -> bool) -> bool {
        let g = self.lock();
        g.objects
            .values()
            .any(|objs| objs.values().any(|v| f(&v.meta)))
    }

    /// Every object of every resource (for garbage collection): its resource, namespace,
    /// name and the stored object (not parsed).
    pub fn all(&self) -> Vec<(Arc<str>, String, String, Obj)> {
        let g = self.lock();
        g.objects
            .iter()
            .flat_map(|(r, objs)| {
                objs.iter()
                    .map(move |((ns, name), v)| (r.clone(), ns.clone(), name.clone(), v.clone()))
            })
            .collect()
    }

    fn write(
        g: &mut Inner,
        tx: &broadcast::Sender<Arc<Event>>,
        written: &Mutex<HashMap<Arc<str>, u64>>,
        resource: &str,
        ty: EventType,
        mut obj: Value,
    ) -> Result<(Arc<Value>, Obj), StoreError> {
        let rv = g.rv + 1;
        set_rv(&mut obj, rv);
        let json = serde_json::to_string(&obj)?;
        let (ns, name) = ns_name(&obj);
        let g_transformer = if ty == EventType::Deleted {
            None
        } else {
            g.transformer(resource)
        };
        {
            let t = g.conn.transaction()?;
            if ty == EventType::Deleted {
                t.prepare_cached(
                    "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3",
                )?
                .execute(params![resource, ns, name])?;
            } else {
                let tr = g_transformer.as_deref();
                let body = seal_body(tr, resource, &ns, &name, json.clone())?;
                t.prepare_cached(
                    "INSERT OR REPLACE INTO objects (resource, namespace, name, rv, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![resource, ns, name, rv as i64, body])?;
            }
            if ty == EventType::Deleted {
                // a create or update leaves its rv in its row
                t.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?1)")?
                    .execute(params![rv as i64])?;
            }
            t.commit()?;
        }
        g.rv = rv;
        let stored = Arc::new(Stored::new(&obj, json));
        let obj = Arc::new(obj);
        let key: Arc<str> = match g.objects.get_key_value(resource) {
            Some((k, _)) => k.clone(),
            None => Arc::from(resource),
        };
        written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), rv);
        let objs = g.objects.entry(key.clone()).or_default();
        let (prev, old) = if ty == EventType::Deleted {
            (None, objs.remove(&(ns.clone(), name.clone())))
        } else {
            let p = objs.insert((ns.clone(), name.clone()), stored.clone());
            (p.clone(), p)
        };
        if !g.label_index.is_empty() {
            let new = (ty != EventType::Deleted).then_some(stored.meta());
            g.reindex(resource, &ns, &name, old.as_ref().map(|o| o.meta()), new);
        }
        let ev = Arc::new(Event {
            rv,
            ty,
            resource: key,
            namespace: ns,
            object: stored.clone(),
            prev: if ty == EventType::Modified {
                prev
            } else {
                None
            },
        });
        if g.history.len() >= g.history_cap
            && let Some(old) = g.history.pop_front()
        {
            g.floor = old.rv;
        }
        g.history.push_back(ev.clone());
        let _ = tx.send(ev);
        Ok((obj, stored))
    }

    /// Stores a new object.
    pub fn create(&self, resource: &str, obj: Value) -> Result<Arc<Value>, StoreError> {
        self.create_stored(resource, obj).map(|w| w.0)
    }

    /// [`Store::create`], also returning the object as stored (its JSON text).
    pub fn create_stored(
        &self,
        resource: &str,
        obj: Value,
    ) -> Result<(Arc<Value>, Obj), StoreError> {
        let mut g = self.lock();
        let key = ns_name(&obj);
        if g.objects
            .get(resource)
            .is_some_and(|o| o.contains_key(&key))
        {
            return Err(StoreError::AlreadyExists);
        }
        Self::write(
            &mut g,
            &self.tx,
            &self.written,
            resource,
            EventType::Added,
            obj,
        )
    }

    /// Replaces an object; `expected` is the resourceVersion the caller read (None: any).
    pub fn update(
        &self,
        resource: &str,
        obj: Value,
        expected: Option<u64>,
    ) -> Result<Arc<Value>, StoreError> {
        self.update_stored(resource, obj, expected).map(|w| w.0)
    }

    /// [`Store::update`], also returning the object as stored (its JSON text).
    pub fn update_stored(
        &self,
        resource: &str,
        obj: Value,
        expected: Option<u64>,
    ) -> Result<(Arc<Value>, Obj), StoreError> {
        let mut g = self.lock();
        let key = ns_name(&obj);
        let Some(cur) = g.objects.get(resource).and_then(|o| o.get(&key)) else {
            return Err(StoreError::NotFound);
        };
        if expected.is_some_and(|e| e != cur.rv) {
            return Err(StoreError::Conflict);
        }
        Self::write(
            &mut g,
            &self.tx,
            &self.written,
            resource,
            EventType::Modified,
            obj,
        )
    }

    /// Removes an object; `expected` as for update.
    pub fn delete(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        expected: Option<u64>,
    ) -> Result<Arc<Value>, StoreError> {
        let mut g = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let Some(cur) = g.objects.get(resource).and_then(|o| o.get(&key)).cloned() else {
            return Err(StoreError::NotFound);
        };
        if expected.is_some_and(|e| e != cur.rv) {
            return Err(StoreError::Conflict);
        }
        Self::write(
            &mut g,
            &self.tx,
            &self.written,
            resource,
            EventType::Deleted,
            cur.value(),
        )
        .map(|w| w.0)
    }

    /// Events after `from` (None: none, the caller lists first) and a receiver of later
    /// ones, taken atomically so nothing is missed or seen twice.
    pub fn watch(&self, from: Option<u64>) -> Result<WatchStart, StoreError> {
        let g = self.lock();
        let rx = self.tx.subscribe();
        let Some(from) = from else {
            return Ok((Vec::new(), rx));
        };
        if from < g.floor {
            return Err(StoreError::Gone {
                requested: from,
                oldest: g.floor,
            });
        }
        let replay = g.history.iter().filter(|e| e.rv > from).cloned().collect();
        Ok((replay, rx))
    }

    /// A snapshot of a resource's objects plus a receiver of every later event.
    pub fn list_and_watch(
        &self,
        resource: &str,
        namespace: Option<&str>,
    ) -> (Vec<Obj>, u64, broadcast::Receiver<Arc<Event>>) {
        let g = self.lock();
        let rx = self.tx.subscribe();
        let objs = g
            .objects
            .get(resource)
            .map(|o| {
                o.iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default();
        (objs, g.rv, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn survives_reopen_with_versions() {
        let dir = std::env::temp_dir().join(format!("sluice-store-{}", crate::util::rand_u64()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("db.sqlite");
        {
            let s = Store::open(&db, 100).expect("open");
            let a = s.create("/configmaps", cm("a")).expect("create");
            assert_eq!(rv_of(&a), 1);
            s.create("/configmaps", cm("b")).expect("create");
            assert!(matches!(
                s.create("/configmaps", cm("a")),
                Err(StoreError::AlreadyExists)
            ));
            assert!(matches!(
                s.update("/configmaps", cm("a"), Some(7)),
                Err(StoreError::Conflict)
            ));
            s.delete("/configmaps", "default", "b", None)
                .expect("delete");
            assert_eq!(s.current_rv(), 3);
        }
        let s = Store::open(&db, 100).expect("reopen");
        assert_eq!(s.current_rv(), 3);
        let a = s.get("/configmaps", "default", "a").expect("kept");
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        assert!(s.get("/configmaps", "default", "b").is_none());
        // history is not kept: watching from before the restart is Gone
        assert!(matches!(s.watch(Some(1)), Err(StoreError::Gone { .. })));
        assert!(s.watch(Some(3)).is_ok());
        // a create and an update after the delete: the newest row tells the version (only a
        // delete writes it to `meta`), and a delete after them is remembered as well
        s.create("/configmaps", cm("c")).expect("create");
        s.update("/configmaps", cm("a"), None).expect("update");
        assert_eq!(s.current_rv(), 5);
        drop(s);
        let s = Store::open(&db, 100).expect("reopen");
        assert_eq!(s.current_rv(), 5);
        s.delete("/configmaps", "default", "a", None)
            .expect("delete");
        drop(s);
        let s = Store::open(&db, 100).expect("reopen");
        assert_eq!(s.current_rv(), 6, "the delete's version, above every row's");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn enc(keys: &[&str]) -> Arc<EncryptionConfig> {
        let mut text = String::from(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n",
        );
        for k in keys {
            // 32-byte keys named after their letter
            let secret = crate::tls::base64(k.repeat(32).as_bytes());
            text.push_str(&format!("      - name: {k}\n        secret: {secret}\n"));
        }
        Arc::new(crate::encryption::parse("enc.yaml", &text).expect("config"))
    }

    fn raw(db: &Path, name: &str) -> Vec<u8> {
        let c = Connection::open(db).expect("open");
        c.query_row(
            "SELECT CAST(body AS BLOB) FROM objects WHERE resource = '/secrets' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .expect("row")
    }

    // docs "Encrypting Confidential Data at Rest": only the stored form is encrypted;
    // rotation re-encrypts; a missing key is an error naming the object
    #[test]
    fn encrypted_rows_rotate_and_fail_without_key() {
        let dir = std::env::temp_dir().join(format!("sluice-enc-{}", crate::util::rand_u64()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("db.sqlite");
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": {"password": "aHVudGVyMg=="}});
        {
            let s = Store::open_encrypted(&db, 10, Some(enc(&["a"]))).expect("open");
            let o = s.create("/secrets", secret.clone()).expect("create");
            assert_eq!(
                o["data"]["password"], "aHVudGVyMg==",
                "memory stays plaintext"
            );
            s.create("/configmaps", cm("c")).expect("create");
        }
        let row = raw(&db, "s");
        assert!(row.starts_with(b"k8s:enc:aesgcm:v1:a:"));
        assert!(!row.windows(12).any(|w| w == b"aHVudGVyMg=="));
        {
            // key b first, a second: reads, and rewrites the row with b on open
            let s = Store::open_encrypted(&db, 10, Some(enc(&["b", "a"]))).expect("reopen");
            assert_eq!(s.rewritten_on_open(), 1);
            let o = s.get("/secrets", "default", "s").expect("kept");
            assert_eq!(o["data"]["password"], "aHVudGVyMg==");
            assert_eq!(o["metadata"]["resourceVersion"], "1");
        }
        assert!(raw(&db, "s").starts_with(b"k8s:enc:aesgcm:v1:b:"));
        let e = Store::open_encrypted(&db, 10, Some(enc(&["a"])))
            .err()
            .expect("key b is missing");
        assert_eq!(
            e.to_string(),
            "cannot read secrets default/s from the store: stored with k8s:enc:aesgcm:v1:b but no provider of the encryption configuration has that key (no matching prefix found)"
        );
        let e = Store::open(&db, 10).err().expect("no configuration");
        assert!(
            e.to_string()
                .contains("identity transformer tried to read encrypted data"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn enc_text(providers: &str) -> Arc<EncryptionConfig> {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{providers}"
        );
        Arc::new(crate::encryption::parse("enc.yaml", &text).expect("config"))
    }

    // docs "Encrypting Confidential Data at Rest": turning encryption on over existing
    // plaintext needs identity listed to read it (else "no matching prefix"); identity first
    // decrypts everything back
    #[test]
    fn encryption_on_and_off_over_existing_rows() {
        let dir = std::env::temp_dir().join(format!("sluice-enc2-{}", crate::util::rand_u64()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("db.sqlite");
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "stringData": {"p": "hunter2"}});
        Store::open(&db, 10)
            .expect("open")
            .create("/secrets", secret)
            .expect("create");
        assert!(raw(&db, "s").starts_with(b"{"));
        let key = crate::tls::base64(&[7u8; 32]);
        let aes_only =
            format!("  - aesgcm:\n      keys:\n      - name: k\n        secret: {key}\n");
        let e = Store::open_encrypted(&db, 10, Some(enc_text(&aes_only)))
            .err()
            .expect("plaintext without identity");
        assert!(e.to_string().contains("lists no identity provider"), "{e}");
        let on = format!("{aes_only}  - identity: {{}}\n");
        let s = Store::open_encrypted(&db, 10, Some(enc_text(&on))).expect("identity reads");
        assert_eq!(s.rewritten_on_open(), 1);
        drop(s);
        let row = raw(&db, "s");
        assert!(row.starts_with(b"k8s:enc:aesgcm:v1:k:"));
        let file = std::fs::read(&db).expect("db");
        assert!(
            !file.windows(7).any(|w| w == b"hunter2"),
            "no plaintext left in db.sqlite"
        );
        let off = format!("  - identity: {{}}\n{aes_only}");
        let s = Store::open_encrypted(&db, 10, Some(enc_text(&off))).expect("decrypts");
        assert_eq!(s.rewritten_on_open(), 1);
        assert_eq!(
            s.get("/secrets", "default", "s").expect("kept")["stringData"]["p"],
            "hunter2"
        );
        drop(s);
        assert!(raw(&db, "s").starts_with(b"{"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn objects_are_kept_as_their_json_text_with_the_metadata_gc_reads() {
        let s = Store::open(Path::new(":memory:"), 10).expect("open");
        let mut o = cm("owned");
        o["metadata"]["uid"] = json!("u-1");
        o["metadata"]["ownerReferences"] = json!([{"uid": "owner-1"}, {"uid": "owner-2"}]);
        o["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        o["data"] = json!({"k": "v\nw", "n": 1.5, "b": 18446744073709551615u64});
        let written = s.create("/configmaps", o).expect("create");
        let stored = s
            .get_stored("/configmaps", "default", "owned")
            .expect("stored");
        assert_eq!(
            stored.json(),
            serde_json::to_string(&*written).expect("json")
        );
        assert_eq!(stored.value(), *written);
        assert_eq!(stored.rv(), rv_of(&written));
        assert_eq!(
            stored.meta(),
            &Meta {
                uid: "u-1".into(),
                owners: vec!["owner-1".into(), "owner-2".into()].into(),
                foreground: true,
                deleting: false,
                api_version: "v1".into(),
                name: "owned".into(),
                namespace: "default".into(),
                label_text: Box::default(),
            }
        );
        let mut l = cm("labelled");
        l["metadata"]["labels"] = json!({"a": "b"});
        s.create("/configmaps", l).expect("create");
        let m = s
            .get_stored("/configmaps", "default", "labelled")
            .expect("stored");
        assert_eq!(
            m.meta().as_value(),
            json!({"metadata": {"name": "labelled", "namespace": "default", "labels": {"a": "b"}}})
        );
        assert!(s.any(|m| m.owners.iter().any(|u| &**u == "owner-2")));
        assert!(!s.any(|m| m.owners.iter().any(|u| &**u == "u-1")));
        // the event shares the stored text
        let (_, mut rx) = s.watch(None).expect("watch");
        s.update("/configmaps", cm("owned"), Some(stored.rv()))
            .expect("update");
        let ev = rx.try_recv().expect("event");
        assert_eq!(ev.prev.as_ref().map(|p| p.json()), Some(stored.json()));
        assert!(ev.object.meta().owners.is_empty());
        assert!(Arc::ptr_eq(
            &ev.object,
            &s.get_stored("/configmaps", "default", "owned")
                .expect("stored")
        ));
    }

    #[test]
    fn watch_replays_and_expires() {
        let s = Store::open(Path::new(":memory:"), 2).expect("open");
        for n in ["a", "b", "c"] {
            s.create("/configmaps", cm(n)).expect("create");
        }
        let (replay, _) = s.watch(Some(1)).expect("in window");
        assert_eq!(replay.iter().map(|e| e.rv).collect::<Vec<_>>(), [2, 3]);
        assert!(matches!(s.watch(Some(0)), Err(StoreError::Gone { .. })));
        let (objs, rv) = s.list(
            "/configmaps",
            Some("default"),
            Some(&("default".into(), "a".into())),
        );
        assert_eq!(objs.len(), 2);
        assert_eq!(rv, 3);
    }

    proptest::proptest! {
        /// A list through the label index is the full list filtered by the label, whatever
        /// writes came before and after the index was built (creates, relabels, deletes,
        /// several namespaces, a continue point).
        #[test]
        fn labelled_lists_agree_with_a_scan(
            ops in proptest::collection::vec((0u8..4, 0u8..6, 0u8..2, 0u8..3), 1..60),
            first_list in 0usize..60,
        ) {
            let s = Store::open(Path::new(":memory:"), 16).expect("open");
            let check = |s: &Store| {
                for ns in [None, Some("a"), Some("b")] {
                    // a continue point is in the listed namespace
                    for after in [None, Some((ns.unwrap_or("a").to_string(), "o3".to_string()))] {
                        for v in ["x", "y"] {
                            let (got, _) = s.list_labelled("/configmaps", ns, after.as_ref(), "app", v);
                            let (all, _) = s.list_stored("/configmaps", ns, after.as_ref());
                            let want: Vec<_> = all.into_iter().filter(|o| o.meta().label("app") == Some(v)).collect();
                            let names = |l: &[Obj]| l.iter().map(|o| (o.meta().namespace.to_string(), o.meta().name.to_string())).collect::<Vec<_>>();
                            assert_eq!(names(&got), names(&want), "ns {ns:?} after {after:?} app={v}");
                        }
                    }
                }
            };
            for (i, (op, n, ns, label)) in ops.into_iter().enumerate() {
                if i == first_list {
                    check(&s);
                }
                let ns = ["a", "b"][ns as usize];
                let name = format!("o{n}");
                let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}});
                match label {
                    0 => {}
                    1 => o["metadata"]["labels"] = json!({"app": "x", "other": "1"}),
                    _ => o["metadata"]["labels"] = json!({"app": "y"}),
                }
                match op {
                    0 | 1 => {
                        let _ = s.create("/configmaps", o);
                    }
                    2 => {
                        let _ = s.update("/configmaps", o, None);
                    }
                    _ => {
                        let _ = s.delete("/configmaps", ns, &name, None);
                    }
                }
            }
            check(&s);
        }
    }
}
