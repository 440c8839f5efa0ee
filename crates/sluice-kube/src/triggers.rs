//! EventListeners served by `sluice serve`: the I/O around the pure sink of
//! `sluice_triggers` ([`Sink::deliver`]), the status of EventListener objects
//! ([`reconcile_listener`]) and the counters the metrics endpoint reads
//! ([`TriggerCounters`]).
//!
//! A delivery: the objects the sink needs are read through the client ([`KubeLookup`]: the
//! listener, Triggers, bindings, templates, interceptors, Secrets), `sluice_triggers::process`
//! runs on a blocking thread (user interceptors are called over HTTP by
//! [`crate::interceptor_http::HttpCaller`]), each trigger's resources are created all or none (every one
//! is first created with `dryRun=All`, so admission and validation see all of them before
//! any is stored; if a real create still fails the ones already created are deleted), and
//! the delivery is recorded twice: a ConfigMap `<listener>.<eventID>` labelled
//! `sluice.dev/event-record` in the listener's namespace (the last [`RECORDS_KEPT`] per
//! listener are kept; `sluice eventlistener events` lists them) and a core/v1 Event on the
//! EventListener (`kubectl get events`).
//!
//! # Guarantees
//! - A trigger's resources are created all or none; a failure is the trigger's outcome
//!   (`Failed`, with the API's message) and the HTTP answer is 500 when nothing was created.
//! - Every delivery the sink sees is recorded, including 4xx answers of a known listener.
//! - Counters are keyed by listener and outcome; deliveries to unknown listeners are
//!   counted under an empty listener name, so random paths cannot grow the map.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::runtime::controller::Action;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sluice_apis::triggers::{
    ClusterInterceptor, ClusterTriggerBinding, EventListener, Interceptor, Trigger, TriggerBinding,
    TriggerTemplate,
};
use sluice_triggers::{Event, EventOutcome, Headers, Lookup, TriggerResult};

use crate::{Ctx, Error, gvk};

/// The label of event records (ConfigMaps), value `"true"`.
pub const RECORD_LABEL: &str = "sluice.dev/event-record";
/// How many event records are kept per EventListener.
pub const RECORDS_KEPT: usize = 100;
/// The default largest delivery body (GitHub caps webhook payloads at 25 MB; GitLab's
/// pushes are far smaller. 10 MiB keeps a delivery's memory bounded).
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
/// The default time a delivery may take (GitHub's webhook timeout is 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest message kept per trigger in a record.
const MAX_RECORD_MESSAGE: usize = 4096;
/// The most trigger outcomes kept in one record.
const MAX_RECORD_TRIGGERS: usize = 100;

fn triggers_ar(version: &str, kind: &str, plural: &str) -> ApiResource {
    gvk("triggers.tekton.dev", version, kind, plural)
}
pub(crate) fn eventlistener_ar() -> ApiResource {
    triggers_ar("v1beta1", "EventListener", "eventlisteners")
}
fn configmap_ar() -> ApiResource {
    gvk("", "v1", "ConfigMap", "configmaps")
}

/// Deliveries counted by listener and outcome, for the metrics endpoint.
#[derive(Debug, Default)]
pub struct TriggerCounters {
    counts: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    /// `/metrics`, which counts every delivery too
    /// (`sluice_eventlistener_events_total`), once the server sets it.
    metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
}

/// One counter of [`TriggerCounters::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerCount {
    pub namespace: String,
    /// Empty for deliveries to listeners that do not exist.
    pub listener: String,
    /// `created`, `filtered`, `rejected`, `failed` or `invalid` (the request was refused
    /// before any trigger ran: unknown listener, bad body, too large, timeout).
    pub outcome: &'static str,
    pub count: u64,
}

impl TriggerCounters {
    /// Counts every later delivery in `metrics` as well.
    pub fn report_to(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    pub fn add(&self, namespace: &str, listener: &str, outcome: &'static str) {
        if let Some(m) = self.metrics.get() {
            m.trigger_event(namespace, listener, outcome);
        }
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((namespace.to_owned(), listener.to_owned(), outcome))
            .or_default() += 1;
    }

    /// Every counter, sorted by namespace, listener and outcome.
    pub fn snapshot(&self) -> Vec<TriggerCount> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((ns, l, o), c)| TriggerCount {
                namespace: ns.clone(),
                listener: l.clone(),
                outcome: o,
                count: *c,
            })
            .collect()
    }
}

/// The outcome of a whole delivery, for counters and records.
pub fn delivery_outcome(out: &EventOutcome) -> &'static str {
    let any = |f: fn(&TriggerResult) -> bool| out.triggers.iter().any(|t| f(&t.result));
    if any(|r| matches!(r, TriggerResult::Created { .. })) {
        "created"
    } else if out.triggers.is_empty() && out.status >= 400 {
        if out.status >= 500 {
            "failed"
        } else {
            "invalid"
        }
    } else if any(|r| matches!(r, TriggerResult::Failed { .. })) {
        "failed"
    } else if any(|r| matches!(r, TriggerResult::Rejected { .. })) {
        "rejected"
    } else {
        "filtered"
    }
}

/// [`sluice_triggers::Lookup`] through a client, for a blocking thread of the runtime of
/// `handle` (each answer is one GET or LIST).
pub struct KubeLookup {
    pub client: Client,
    pub handle: tokio::runtime::Handle,
}

fn plain(obj: DynamicObject, ar: &ApiResource) -> Option<Value> {
    let mut v = serde_json::to_value(&obj).ok()?;
    v["apiVersion"] = Value::String(ar.api_version.clone());
    v["kind"] = Value::String(ar.kind.clone());
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    Some(v)
}

impl KubeLookup {
    fn get_value(&self, ar: &ApiResource, namespace: Option<&str>, name: &str) -> Option<Value> {
        if name.is_empty() {
            return None;
        }
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, ar),
            None => Api::all_with(self.client.clone(), ar),
        };
        let obj = self.handle.block_on(api.get_opt(name)).ok()??;
        plain(obj, ar)
    }

    fn get<T: DeserializeOwned>(
        &self,
        ar: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<T> {
        serde_json::from_value(self.get_value(ar, namespace, name)?).ok()
    }
}

impl Lookup for KubeLookup {
    fn event_listener(&self, namespace: &str, name: &str) -> Option<EventListener> {
        self.get(&eventlistener_ar(), Some(namespace), name)
    }
    fn trigger(&self, namespace: &str, name: &str) -> Option<Trigger> {
        self.get(
            &triggers_ar("v1beta1", "Trigger", "triggers"),
            Some(namespace),
            name,
        )
    }
    fn triggers(&self, namespace: Option<&str>) -> Vec<Trigger> {
        let ar = triggers_ar("v1beta1", "Trigger", "triggers");
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        let Ok(list) = self.handle.block_on(api.list(&ListParams::default())) else {
            return Vec::new();
        };
        let mut out: Vec<Trigger> = list
            .items
            .into_iter()
            .filter_map(|o| plain(o, &ar))
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        out.sort_by(|a: &Trigger, b: &Trigger| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        out
    }
    fn trigger_binding(&self, namespace: &str, name: &str) -> Option<TriggerBinding> {
        self.get(
            &triggers_ar("v1beta1", "TriggerBinding", "triggerbindings"),
            Some(namespace),
            name,
        )
    }
    fn cluster_trigger_binding(&self, name: &str) -> Option<ClusterTriggerBinding> {
        self.get(
            &triggers_ar("v1beta1", "ClusterTriggerBinding", "clustertriggerbindings"),
            None,
            name,
        )
    }
    fn trigger_template(&self, namespace: &str, name: &str) -> Option<TriggerTemplate> {
        self.get(
            &triggers_ar("v1beta1", "TriggerTemplate", "triggertemplates"),
            Some(namespace),
            name,
        )
    }
    fn cluster_interceptor(&self, name: &str) -> Option<ClusterInterceptor> {
        self.get(
            &triggers_ar("v1alpha1", "ClusterInterceptor", "clusterinterceptors"),
            None,
            name,
        )
    }
    fn interceptor(&self, namespace: &str, name: &str) -> Option<Interceptor> {
        self.get(
            &triggers_ar("v1alpha1", "Interceptor", "interceptors"),
            Some(namespace),
            name,
        )
    }
    fn secret_value(&self, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, String> {
        let ar = gvk("", "v1", "Secret", "secrets");
        let Some(v) = self.get_value(&ar, Some(namespace), name) else {
            return Err(format!("secrets {name:?} not found"));
        };
        if let Some(s) = v
            .pointer(&format!(
                "/stringData/{}",
                key.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_str)
        {
            return Ok(s.as_bytes().to_vec());
        }
        match v
            .get("data")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
        {
            Some(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("secret {namespace}/{name}: data.{key}: {e}")),
            None => Err(format!("cannot find {key} in secret {namespace}/{name}")),
        }
    }
}

/// How deliveries are bounded.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub max_body: usize,
    pub timeout: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            max_body: DEFAULT_MAX_BODY,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The EventListener sink of `sluice serve`.
pub struct Sink {
    pub client: Client,
    pub opts: SinkOptions,
    pub counters: Arc<TriggerCounters>,
    /// Resolved kinds: (apiVersion, kind) -> (resource, namespaced).
    kinds: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
    recorder: Arc<Recorder>,
    /// The queue of records to the task that writes them, started with the first.
    records: std::sync::OnceLock<tokio::sync::mpsc::Sender<Record>>,
}

/// Records waiting for the recorder task at most: a delivery waits only when this many
/// are queued (each is a few KB), so the records never fall unboundedly behind.
const RECORD_QUEUE: usize = 1024;

/// One delivery's record, queued for the recorder task.
struct Record {
    namespace: String,
    listener: String,
    event_id: String,
    outcome: EventOutcome,
}

/// Writes the event records, one at a time in delivery order, off the request path.
struct Recorder {
    client: Client,
    /// Records written per listener since start (pruning runs every tenth).
    written: Mutex<HashMap<(String, String), u64>>,
}

/// The answer to a delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub status: u16,
    /// The JSON body (`eventListener`, `namespace`, `eventListenerUID`, `eventID`,
    /// `errorMessage`).
    pub body: Vec<u8>,
    /// The outcome after creation (what was recorded).
    pub outcome: EventOutcome,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A random version 4 UUID (the event id).
pub fn new_event_id() -> String {
    use std::io::Read as _;
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        if ok.is_ok() {
            u64::from_le_bytes(b) ^ t
        } else {
            t ^ u64::from(std::process::id()) << 32
        }
    });
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let a = mix(seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let b = mix(a ^ seed.rotate_left(17));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes cut)", &s[..end], s.len() - end)
}

impl Sink {
    pub fn new(client: Client, opts: SinkOptions) -> Sink {
        Sink {
            client: client.clone(),
            opts,
            counters: Arc::new(TriggerCounters::default()),
            kinds: Mutex::new(HashMap::new()),
            recorder: Arc::new(Recorder {
                client: client.clone(),
                written: Mutex::new(HashMap::new()),
            }),
            records: std::sync::OnceLock::new(),
        }
    }

    /// Queues the record of a delivery for the recorder task (started on first use on the
    /// current runtime): the answer does not wait for the record's writes (a ConfigMap, an
    /// Event, a prune every tenth), which were most of a delivery's time (bench/serve.py
    /// (b)). Waits only while [`RECORD_QUEUE`] records are queued.
    async fn record(
        &self,
        namespace: &str,
        listener: &str,
        event_id: &str,
        outcome: &EventOutcome,
    ) {
        let tx = self.records.get_or_init(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(RECORD_QUEUE);
            let rec = self.recorder.clone();
            tokio::spawn(async move {
                while let Some(r) = rx.recv().await {
                    rec.record(&r.namespace, &r.listener, &r.event_id, &r.outcome)
                        .await;
                }
            });
            tx
        });
        let r = Record {
            namespace: namespace.to_owned(),
            listener: listener.to_owned(),
            event_id: event_id.to_owned(),
            outcome: outcome.clone(),
        };
        if let Err(tokio::sync::mpsc::error::SendError(r)) = tx.send(r).await {
            // the task is gone (its runtime shut down): write it here
            self.recorder
                .record(&r.namespace, &r.listener, &r.event_id, &r.outcome)
                .await;
        }
    }

    /// Handles one delivery to `/listeners/<namespace>/<listener>`: process, create,
    /// record, count. Never panics on input; every error is in the answer.
    pub async fn deliver(
        &self,
        namespace: &str,
        listener: &str,
        headers: &[(String, String)],
        body: bytes::Bytes,
        url: &str,
    ) -> Delivery {
        let event_id = new_event_id();
        let mut h = Headers::new();
        for (k, v) in headers {
            h.append(k, v.clone());
        }
        let lookup = KubeLookup {
            client: self.client.clone(),
            handle: tokio::runtime::Handle::current(),
        };
        let (ns, name, url2, id2) = (
            namespace.to_owned(),
            listener.to_owned(),
            url.to_owned(),
            event_id.clone(),
        );
        let processed = tokio::task::spawn_blocking(move || {
            let event = Event {
                namespace: &ns,
                listener: &name,
                headers: &h,
                body: &body,
                url: &url2,
                event_id: &id2,
            };
            sluice_triggers::process(&event, &lookup, &crate::interceptor_http::HttpCaller)
        })
        .await;
        let mut outcome = match processed {
            Ok(o) => o,
            Err(e) => EventOutcome {
                status: 500,
                response: sluice_triggers::SinkResponse {
                    event_listener: listener.to_owned(),
                    namespace: namespace.to_owned(),
                    event_listener_uid: String::new(),
                    event_id: event_id.clone(),
                    error_message: format!("internal error while processing the event: {e}"),
                },
                triggers: Vec::new(),
                listener_service_account: None,
            },
        };
        self.create_all(&mut outcome).await;
        let body = serde_json::to_vec(&outcome.response).unwrap_or_default();
        let known = outcome.status != 404;
        let what = delivery_outcome(&outcome);
        self.counters
            .add(namespace, if known { listener } else { "" }, what);
        if known {
            self.record(namespace, listener, &event_id, &outcome).await;
        }
        Delivery {
            status: outcome.status,
            body,
            outcome,
        }
    }

    /// Counts and records a delivery the HTTP edge refused before the sink saw it (too
    /// large, a timeout, an unreadable body). Unknown listeners are only counted.
    pub async fn refused(&self, namespace: &str, listener: &str, status: u16, message: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &eventlistener_ar());
        let exists = !namespace.is_empty()
            && !listener.is_empty()
            && matches!(api.get_opt(listener).await, Ok(Some(_)));
        self.counters.add(
            namespace,
            if exists { listener } else { "" },
            if status >= 500 { "failed" } else { "invalid" },
        );
        if exists {
            let event_id = new_event_id();
            let outcome = EventOutcome {
                status,
                response: sluice_triggers::SinkResponse {
                    event_listener: listener.to_owned(),
                    namespace: namespace.to_owned(),
                    event_listener_uid: String::new(),
                    event_id: event_id.clone(),
                    error_message: message.to_owned(),
                },
                triggers: Vec::new(),
                listener_service_account: None,
            };
            self.record(namespace, listener, &event_id, &outcome).await;
        }
    }

    async fn resolve(&self, api_version: &str, kind: &str) -> Result<(ApiResource, bool), String> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(k) = self
            .kinds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(k.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let g = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = kube::discovery::pinned_kind(&self.client, &g)
            .await
            .map_err(|e| format!("the API serves no {kind} in {api_version}: {e}"))?;
        let v = (ar, matches!(caps.scope, Scope::Namespaced));
        self.kinds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, v.clone());
        Ok(v)
    }

    /// Creates each trigger's resources, all or none, and turns a failure into that
    /// trigger's `Failed` outcome; then settles the HTTP status (202 when something was
    /// created, else 500 when something failed).
    async fn create_all(&self, outcome: &mut EventOutcome) {
        let mut created_any = false;
        let mut first_failure = None;
        let wants = outcome
            .triggers
            .iter()
            .any(|t| matches!(t.result, TriggerResult::Created { .. }));
        // the EventListener's ServiceAccount: its resources are created with its permissions
        // (tektoncd/triggers docs/eventlisteners.md "ServiceAccount")
        let el_ns = outcome.response.namespace.clone();
        let sa = if !wants {
            Ok(String::new())
        } else if let Some(sa) = &outcome.listener_service_account {
            // as read by `process` for this event
            Ok(crate::access::service_account_or_default(sa).to_owned())
        } else {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &el_ns, &eventlistener_ar());
            match api.get_opt(&outcome.response.event_listener).await {
                Ok(Some(el)) => Ok(crate::access::service_account_or_default(
                    el.data
                        .pointer("/spec/serviceAccountName")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                )
                .to_owned()),
                Ok(None) => Err("the EventListener is gone".to_owned()),
                Err(e) => Err(format!("reading the EventListener: {}", api_message(&e))),
            }
        };
        for t in &mut outcome.triggers {
            let TriggerResult::Created { resources } = &t.result else {
                continue;
            };
            // a Trigger's own serviceAccountName (of the Trigger's namespace) wins over the
            // listener's (tektoncd/triggers docs/triggers.md "serviceAccountName")
            let r = match &sa {
                _ if !t.service_account.is_empty() => {
                    self.create_set(resources, &t.namespace, &t.namespace, &t.service_account)
                        .await
                }
                Ok(sa) => self.create_set(resources, &t.namespace, &el_ns, sa).await,
                Err(e) => Err(e.clone()),
            };
            match r {
                Ok(done) => {
                    created_any = true;
                    t.result = TriggerResult::Created { resources: done };
                }
                Err(message) => {
                    let message = format!("{message}; nothing was created for this trigger");
                    first_failure.get_or_insert_with(|| message.clone());
                    t.result = TriggerResult::Failed {
                        interceptor: None,
                        message,
                    };
                }
            }
        }
        if !created_any
            && let Some(m) = first_failure
            && outcome.status < 300
        {
            outcome.status = 500;
            outcome.response.error_message = m;
        }
    }

    /// Creates `resources` all or none: when there are several, every one is created with
    /// `dryRun=All` first; then for real, deleting those already created when one fails.
    /// Returns the created objects (with their names).
    async fn create_set(
        &self,
        resources: &[Value],
        default_ns: &str,
        sa_ns: &str,
        sa: &str,
    ) -> Result<Vec<Value>, String> {
        let mut planned = Vec::with_capacity(resources.len());
        let mut checks = Vec::with_capacity(resources.len());
        for r in resources {
            let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let (ar, namespaced) = self.resolve(api_version, kind).await?;
            let ns = r
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(default_ns)
                .to_owned();
            let obj: DynamicObject = serde_json::from_value(r.clone())
                .map_err(|e| format!("{kind}: not an object: {e}"))?;
            let api: Api<DynamicObject> = if namespaced {
                Api::namespaced_with(self.client.clone(), &ns, &ar)
            } else {
                Api::all_with(self.client.clone(), &ar)
            };
            checks.push((
                format!("{}/{}, Resource={}", ar.group, ar.version, ar.plural),
                sluice_auth::rbac::Attributes::resource(
                    "create",
                    &ar.group,
                    &ar.plural,
                    if namespaced { &ns } else { "" },
                ),
            ));
            planned.push((api, obj, kind.to_owned()));
        }
        // every resource is checked before any is created (upstream's sink message:
        // `couldn't create resource with group version kind "...": <the API's 403>`)
        for (gvr, a) in checks {
            let denied =
                crate::access::first_denied(&self.client, sa_ns, sa, std::slice::from_ref(&a))
                    .await
                    .map_err(|e| format!("checking the EventListener's ServiceAccount: {e}"))?;
            if let Some(why) = denied {
                return Err(format!(
                    "couldn't create resource with group version kind {gvr:?}: {why}"
                ));
            }
        }
        // one resource: its create is all or nothing by itself; several: each is admitted
        // with a dry run first, so that none is created when one would be refused
        if planned.len() > 1 {
            let dry = PostParams {
                dry_run: true,
                ..PostParams::default()
            };
            for (api, obj, kind) in &planned {
                api.create(&dry, obj)
                    .await
                    .map_err(|e| format!("{kind} {}: {}", display_name(obj), api_message(&e)))?;
            }
        }
        let mut created: Vec<(Api<DynamicObject>, String, Value)> = Vec::new();
        for (api, obj, kind) in &planned {
            match api.create(&PostParams::default(), obj).await {
                Ok(o) => {
                    let name = o.metadata.name.clone().unwrap_or_default();
                    let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("managedFields");
                    }
                    created.push((api.clone(), name, v));
                }
                Err(e) => {
                    let why = format!("{kind} {}: {}", display_name(obj), api_message(&e));
                    for (api, name, _) in created.iter().rev() {
                        let _ = api.delete(name, &DeleteParams::background()).await;
                    }
                    return Err(why);
                }
            }
        }
        Ok(created.into_iter().map(|(_, _, v)| v).collect())
    }
}

impl Recorder {
    /// Writes the event record (a ConfigMap) and an Event on the EventListener; prunes old
    /// records every tenth write per listener. Failures are ignored: records inform, they
    /// never change the answer.
    async fn record(
        &self,
        namespace: &str,
        listener: &str,
        event_id: &str,
        outcome: &EventOutcome,
    ) {
        let record = record_json(event_id, outcome);
        let what = delivery_outcome(outcome);
        let now = sluice_pipeline::status::now();
        let mut labels = serde_json::Map::new();
        labels.insert(RECORD_LABEL.into(), "true".into());
        labels.insert(
            sluice_triggers::EVENT_ID_LABEL.into(),
            event_id.to_owned().into(),
        );
        if listener.len() <= 63 {
            labels.insert(
                sluice_triggers::EVENT_LISTENER_LABEL.into(),
                listener.to_owned().into(),
            );
        }
        let name = record_name(listener, event_id);
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                "annotations": {"sluice.dev/eventlistener": listener}},
            "data": {
                "eventListener": listener,
                "eventID": event_id,
                "time": now,
                "status": outcome.status.to_string(),
                "outcome": what,
                "message": summary(outcome),
                "record.json": serde_json::to_string_pretty(&record).unwrap_or_default(),
            }
        });
        if let Ok(d) = serde_json::from_value::<DynamicObject>(cm) {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), namespace, &configmap_ar());
            let _ = api.create(&PostParams::default(), &d).await;
        }
        let el_api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &eventlistener_ar());
        if let Ok(Some(el)) = el_api.get_opt(listener).await
            && let Some(mut v) = plain(el, &eventlistener_ar())
        {
            if let Some(rv) = v.pointer("/metadata/resourceVersion").cloned() {
                v["metadata"]["resourceVersion"] = rv;
            }
            let type_ = match what {
                "created" | "filtered" => "Normal",
                _ => "Warning",
            };
            let reason = match what {
                "created" => "Created",
                "filtered" => "Filtered",
                "rejected" => "Rejected",
                "invalid" => "Invalid",
                _ => "Failed",
            };
            let message = truncate(
                &format!(
                    "event {event_id}: HTTP {}: {}",
                    outcome.status,
                    summary(outcome)
                ),
                MAX_RECORD_MESSAGE,
            );
            crate::events::record_with(
                &self.client,
                "sluice-triggers",
                "EventListener",
                &v,
                type_,
                reason,
                &message,
            )
            .await;
        }
        let n = {
            let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
            let n = w
                .entry((namespace.to_owned(), listener.to_owned()))
                .or_default();
            *n += 1;
            *n
        };
        if n % 10 == 1 {
            self.prune(namespace, listener).await;
        }
    }

    async fn prune(&self, namespace: &str, listener: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &configmap_ar());
        let Ok(list) = api
            .list(&ListParams::default().labels(&format!("{RECORD_LABEL}=true")))
            .await
        else {
            return;
        };
        let mut mine: Vec<(String, String)> = list
            .items
            .into_iter()
            .filter(|o| {
                o.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("sluice.dev/eventlistener"))
                    .is_some_and(|l| l == listener)
            })
            .map(|o| {
                let t = o
                    .data
                    .get("data")
                    .and_then(|d| d.get("time"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                (t, o.metadata.name.unwrap_or_default())
            })
            .collect();
        if mine.len() <= RECORDS_KEPT {
            return;
        }
        mine.sort();
        let excess = mine.len() - RECORDS_KEPT;
        for (_, name) in mine.into_iter().take(excess) {
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
    }
}

fn display_name(obj: &DynamicObject) -> String {
    obj.metadata
        .name
        .clone()
        .or_else(|| obj.metadata.generate_name.as_ref().map(|g| format!("{g}*")))
        .unwrap_or_default()
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// `<listener>.<eventID>`, within a ConfigMap name's 253 characters.
pub fn record_name(listener: &str, event_id: &str) -> String {
    let keep = 253usize.saturating_sub(event_id.len() + 1);
    let l: String = listener.chars().take(keep).collect();
    let l = l.trim_end_matches(['.', '-']);
    format!("{l}.{event_id}")
}

/// One line per trigger: `trigger: Reason: message`.
pub fn summary(outcome: &EventOutcome) -> String {
    if outcome.triggers.is_empty() {
        return if outcome.response.error_message.is_empty() {
            "no trigger matched".to_owned()
        } else {
            outcome.response.error_message.clone()
        };
    }
    outcome
        .triggers
        .iter()
        .map(|t| {
            let who = match (&t.group, t.trigger.is_empty()) {
                (Some(g), true) => format!("group {g}"),
                _ => t.trigger.clone(),
            };
            let msg = match &t.result {
                TriggerResult::Created { resources } => {
                    let names: Vec<String> = resources
                        .iter()
                        .map(|r| {
                            format!(
                                "{}/{}",
                                r.get("kind").and_then(Value::as_str).unwrap_or(""),
                                r.pointer("/metadata/name")
                                    .or_else(|| r.pointer("/metadata/generateName"))
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                            )
                        })
                        .collect();
                    format!("created {}", names.join(", "))
                }
                other => other.message(),
            };
            format!("{who}: {}: {msg}", t.result.reason())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The stored record of a delivery: the answer and each trigger's outcome, created
/// resources by reference (apiVersion, kind, namespace, name), messages bounded.
pub fn record_json(event_id: &str, outcome: &EventOutcome) -> Value {
    let triggers: Vec<Value> = outcome
        .triggers
        .iter()
        .take(MAX_RECORD_TRIGGERS)
        .map(|t| {
            let mut v = json!({
                "trigger": t.trigger,
                "namespace": t.namespace,
                "outcome": t.result.reason(),
            });
            if let Some(g) = &t.group {
                v["group"] = json!(g);
            }
            match &t.result {
                TriggerResult::Created { resources } => {
                    v["created"] = resources
                        .iter()
                        .map(|r| {
                            json!({
                                "apiVersion": r.get("apiVersion"),
                                "kind": r.get("kind"),
                                "namespace": r.pointer("/metadata/namespace"),
                                "name": r.pointer("/metadata/name"),
                            })
                        })
                        .collect();
                }
                TriggerResult::Filtered {
                    interceptor,
                    code,
                    message,
                }
                | TriggerResult::Rejected {
                    interceptor,
                    code,
                    message,
                } => {
                    v["interceptor"] = json!(interceptor);
                    v["code"] = json!(code);
                    v["reason"] = json!(truncate(message, MAX_RECORD_MESSAGE));
                }
                TriggerResult::Failed {
                    interceptor,
                    message,
                } => {
                    if let Some(i) = interceptor {
                        v["interceptor"] = json!(i);
                    }
                    v["reason"] = json!(truncate(message, MAX_RECORD_MESSAGE));
                }
            }
            v
        })
        .collect();
    json!({
        "eventID": event_id,
        "eventListener": outcome.response.event_listener,
        "namespace": outcome.response.namespace,
        "eventListenerUID": outcome.response.event_listener_uid,
        "status": outcome.status,
        "errorMessage": truncate(&outcome.response.error_message, MAX_RECORD_MESSAGE),
        "triggers": triggers,
        "triggersOmitted": outcome.triggers.len().saturating_sub(MAX_RECORD_TRIGGERS),
    })
}

/// The status `sluice serve` gives a served EventListener: `address.url` and the
/// `Available` and `Ready` conditions `kubectl get eventlisteners` shows.
pub fn listener_status(base_url: &str, namespace: &str, name: &str, now: &str) -> Value {
    let url = format!(
        "{}/listeners/{namespace}/{name}",
        base_url.trim_end_matches('/')
    );
    let message = format!("served by sluice at {url}");
    json!({
        "address": {"url": url},
        "configuration": {"generatedName": format!("el-{name}")},
        "conditions": [
            {"type": "Available", "status": "True", "reason": "Served", "message": message,
             "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "reason": "Served", "message": message,
             "lastTransitionTime": now},
        ],
    })
}

/// Sets a served EventListener's status (address, conditions) when it differs.
pub async fn reconcile_listener(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let Some(base) = ctx.opts.listeners_url.as_deref() else {
        return Ok(Action::await_change());
    };
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    if obj.metadata.deletion_timestamp.is_some() || name.is_empty() {
        return Ok(Action::await_change());
    }
    let want = listener_status(base, &ns, &name, &sluice_pipeline::status::now());
    let cur = obj.data.get("status");
    let same = cur.is_some_and(|c| {
        c.pointer("/address/url") == want.pointer("/address/url")
            && ["Available", "Ready"].iter().all(|t| {
                c.get("conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| cs.iter().any(|x| x["type"] == *t && x["status"] == "True"))
            })
    });
    if same {
        return Ok(Action::await_change());
    }
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ns, &eventlistener_ar());
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": want })),
    )
    .await?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_v4_uuids_and_distinct() {
        let a = new_event_id();
        let b = new_event_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn record_names_fit() {
        let id = "0a1b2c3d-0000-4000-8000-000000000000";
        assert_eq!(record_name("gitlab", id), format!("gitlab.{id}"));
        let long = "a".repeat(300);
        assert!(record_name(&long, id).len() <= 253);
    }

    #[test]
    fn counters_by_listener_and_outcome() {
        let c = TriggerCounters::default();
        c.add("ci", "gitlab", "created");
        c.add("ci", "gitlab", "created");
        c.add("ci", "gitlab", "filtered");
        let s = c.snapshot();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].outcome, "created");
        assert_eq!(s[0].count, 2);
        assert_eq!(s[1].outcome, "filtered");
    }

    #[test]
    fn status_shape() {
        let s = listener_status("https://127.0.0.1:6443/", "ci", "gitlab", "t");
        assert_eq!(
            s["address"]["url"],
            "https://127.0.0.1:6443/listeners/ci/gitlab"
        );
        assert_eq!(s["conditions"][1]["type"], "Ready");
        assert_eq!(s["conditions"][1]["status"], "True");
    }
}
