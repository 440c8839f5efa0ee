//! The HTTP API: authentication, discovery, OpenAPI stubs, and the resource paths
//! (`/api/v1/...`, `/apis/{group}/{version}/...`) with list/watch/get/create/update/patch/
//! delete/deletecollection and the status, scale and log subresources.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use sluice_core::selector::{FieldSelector, Operator, Selector};
use tokio::sync::{broadcast, mpsc};

use crate::admission::{AdmissionHook, FieldValidation};
use crate::ops::{DeleteOpts, Propagation, WriteOpts, meta_str};
use crate::resources::{Registry, ResourceInfo, Verbs, bootstrap_crds};
use crate::simnode::SimOptions;
use crate::status::ApiError;
use crate::store::{Event, EventType, Obj, Store, Stored, resource_key};
use crate::table;
use crate::util;

/// Largest request body (the apiserver's 3 MiB limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Everything a request needs.
pub struct State {
    pub store: Store,
    pub registry: RwLock<Registry>,
    pub token: String,
    pub hooks: RwLock<Vec<Arc<dyn AdmissionHook>>>,
    pub log_hooks: RwLock<Vec<Arc<dyn PodLogHook>>>,
    /// What `/metrics` serves (none: 404), and whether it is served without the token.
    pub metrics: RwLock<Option<(Arc<dyn MetricsSource>, bool)>>,
    /// Where `/listeners/...` deliveries go (none: those paths are 404).
    pub listener_hook: RwLock<Option<Arc<dyn crate::listeners::ListenerHook>>>,
    /// Routers mounted beside the API (`ApiServer::mount`): prefix and router, longest
    /// prefix first.
    pub mounts: RwLock<Vec<(String, Router)>>,
    /// Whether the server's port speaks TLS (the scheme of EventListener event URLs).
    pub tls: std::sync::atomic::AtomicBool,
    pub simulate: Option<SimOptions>,
    /// Where writes, lists and deletes run, and their deadline.
    pub pool: crate::limits::Pool,
    /// Cheap writes skip the pool (`Options::inline_writes`).
    pub inline_writes: bool,
    /// Bounds of one watch's queue.
    pub watch_buffer: WatchBuffer,
    /// Stored objects today's checks reject (see [`crate::quarantine`]).
    pub quarantine: RwLock<crate::quarantine::Quarantine>,
    /// Authenticators and the RBAC index (see [`crate::auth`]).
    pub auth: crate::auth::Auth,
    /// The audit policy and log (`--audit-policy-file`, `--audit-log-path`).
    pub audit: Option<Arc<crate::audit_log::Auditor>>,
}

/// A source of Pod container logs the server does not hold itself (the server stays free
/// of executors: the binary implements this with the controllers' log files).
pub trait PodLogHook: Send + Sync {
    /// The log of `container` of Pod `namespace/pod` as chunks of bytes, `None` when this
    /// hook does not know the container: from its last `tail_lines` lines when given
    /// (`PodLogOptions.tailLines`), else from its start. With `follow`, the channel stays
    /// open until the container's log is complete.
    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        follow: bool,
        tail_lines: Option<u64>,
    ) -> Option<mpsc::Receiver<Vec<u8>>>;
}

/// Where the last `n` lines of `data` start (a final newline ends the last line, it does
/// not start an empty one), as the kubelet's `tailLines`.
pub fn tail_start(data: &[u8], n: u64) -> usize {
    if n == 0 {
        return data.len();
    }
    let end = data.strip_suffix(b"\n").map_or(data.len(), <[u8]>::len);
    let mut seen = 0;
    for (i, b) in data[..end].iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

/// `PodLogOptions`' `tailLines` and `limitBytes` from the query, validated as
/// kube-apiserver's `ValidatePodLogOptions` does (a 422 `PodLogOptions "NAME" is invalid`).
fn log_options(query: &Query, pod: &str) -> Result<(Option<u64>, Option<u64>), ApiError> {
    let int = |k: &str| -> Result<Option<i64>, ApiError> {
        query
            .get(k)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("{k}: invalid value {v:?}: not an integer"))
                })
            })
            .transpose()
    };
    let (tail, limit) = (int("tailLines")?, int("limitBytes")?);
    let mut errs = Vec::new();
    if let Some(t) = tail.filter(|t| *t < 0) {
        errs.push(format!(
            "tailLines: Invalid value: {t}: must be greater than or equal to 0"
        ));
    }
    if let Some(l) = limit.filter(|l| *l < 1) {
        errs.push(format!(
            "limitBytes: Invalid value: {l}: must be greater than 0"
        ));
    }
    if !errs.is_empty() {
        let list = if errs.len() == 1 {
            errs.remove(0)
        } else {
            format!("[{}]", errs.join(", "))
        };
        return Err(ApiError::new(
            422,
            "Invalid",
            format!("PodLogOptions {pod:?} is invalid: {list}"),
        ));
    }
    Ok((
        tail.map(|t| t.unsigned_abs()),
        limit.map(|l| l.unsigned_abs()),
    ))
}

/// The text `/metrics` serves (the server stays free of the controllers that count: the
/// binary plugs their registry in).
pub trait MetricsSource: Send + Sync {
    /// The exposition text, encoded now.
    fn encode(&self) -> String;
    /// Its content type (Prometheus text or OpenMetrics).
    fn content_type(&self) -> &'static str;
}

impl State {
    fn metrics_public(&self) -> bool {
        self.metrics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|(_, public)| *public)
    }

    pub fn reg(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn registry_mut(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves stored CRDs; on first start installs Sluice's CRDs and the initial namespaces.
    pub fn bootstrap(&self) -> Result<(), crate::Error> {
        let crd_key = resource_key("apiextensions.k8s.io", "customresourcedefinitions");
        let now = util::now_rfc3339();
        for mut crd in bootstrap_crds(&now) {
            let name = meta_str(&crd, "name").to_owned();
            let stored = self.store.get(&crd_key, "", &name);
            // a CRD Sluice installed by an earlier version gets today's spec (new versions,
            // columns, schemas); its metadata and status stay
            if let Some(old) = &stored
                && old.pointer("/metadata/labels/app.kubernetes.io~1managed-by")
                    == Some(&json!("sluice"))
                && old.get("spec") != crd.get("spec")
            {
                let mut new = (**old).clone();
                new["spec"] = crd["spec"].take();
                self.store
                    .update(&crd_key, new, Some(crate::store::rv_of(old)))?;
            }
            if stored.is_none() {
                let m = crd["metadata"].as_object_mut();
                if let Some(m) = m {
                    m.insert("uid".into(), json!(util::new_uid()));
                    m.insert("creationTimestamp".into(), json!(now));
                    m.insert("generation".into(), json!(1));
                }
                self.store.create(&crd_key, crd)?;
            }
        }
        let (crds, _) = self.store.list(&crd_key, None, None);
        {
            let mut reg = self.registry_mut();
            for c in crds {
                reg.upsert_crd(&c);
            }
        }
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            if self.store.get("/namespaces", "", ns).is_none() {
                self.store.create(
                    "/namespaces",
                    json!({
                        "apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "uid": util::new_uid(), "creationTimestamp": now,
                                     "labels": {"kubernetes.io/metadata.name": ns}},
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    }),
                )?;
            }
        }
        crate::auth::bootstrap_rbac(self)?;
        if let Some(sim) = &self.simulate {
            crate::simnode::ensure_node(self, sim)?;
        }
        Ok(())
    }
}

/// The router: every request goes through [`handle`].
pub fn router(state: Arc<State>, auth: bool) -> Router {
    let access = if auth { Access::Token } else { Access::Local };
    router_with(state, access)
}

/// Who the requests of a router are from.
#[derive(Clone)]
pub enum Access {
    /// A bearer token authenticates each request (the API over TCP).
    Token,
    /// The server itself: no authentication, no authorization (`system:apiserver`).
    Local,
    /// An in-process client acting as this user (a controller's ServiceAccount): not
    /// authenticated (nothing crossed a process boundary), authorized by RBAC as any
    /// request of that user.
    As(Arc<sluice_auth::UserInfo>),
}

pub fn router_with(state: Arc<State>, access: Access) -> Router {
    Router::new().fallback(move |req: Request| {
        let st = state.clone();
        let access = access.clone();
        async move { handle(st, access, req).await }
    })
}

/// A reply before it becomes a response.
struct Reply {
    code: u16,
    body: Bytes,
    content_type: &'static str,
    warnings: Vec<String>,
}

impl Reply {
    fn json(code: u16, v: &Value) -> Self {
        Reply {
            code,
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            content_type: "application/json",
            warnings: Vec::new(),
        }
    }
}

pub(crate) fn error_response(e: &ApiError) -> Response {
    let mut r = Response::new(Body::from(
        serde_json::to_vec(&e.to_status()).unwrap_or_default(),
    ));
    *r.status_mut() = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The warnings a response carries, as kube-apiserver's warning recorder bounds them
/// (endpoints/filters/warning.go): duplicates dropped; past 4,096 characters in all, each is
/// cut to 256 characters and the rest are dropped once 4,096 are written. A 2,000-task
/// Pipeline's findings do not become 2,000 headers.
pub fn limit_warnings(warnings: Vec<String>) -> Vec<String> {
    const TOTAL: usize = 4 * 1024;
    const ITEM: usize = 256;
    let mut seen = std::collections::HashSet::new();
    let ordered: Vec<String> = warnings
        .into_iter()
        .filter(|w| !w.is_empty() && seen.insert(w.clone()))
        .collect();
    if ordered.iter().map(|w| w.chars().count()).sum::<usize>() <= TOTAL {
        return ordered;
    }
    let mut out = Vec::new();
    let mut written = 0;
    for w in ordered {
        if written >= TOTAL {
            break;
        }
        let t: String = w.chars().take(ITEM).collect();
        written += t.chars().count();
        out.push(t);
    }
    out
}

fn to_response(rep: Reply) -> Response {
    let mut r = Response::new(Body::from(rep.body));
    *r.status_mut() = StatusCode::from_u16(rep.code).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rep.content_type),
    );
    for w in limit_warnings(rep.warnings) {
        // RFC 7234 warning: 299 - "text"
        let text = w
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace(['\n', '\r'], " ");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

/// Parsed query string.
pub type Query = HashMap<String, String>;

fn parse_query(q: Option<&str>) -> Query {
    q.unwrap_or_default()
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (util::percent_decode(k), util::percent_decode(v)),
            None => (util::percent_decode(kv), String::new()),
        })
        .collect()
}

/// The router mounted at the longest prefix that `path` is under: the prefix itself or
/// below it (`/v2` takes `/v2` and `/v2/...`, not `/v2x`); a prefix of `/` takes only `/`.
pub(crate) fn mounted(mounts: &[(String, Router)], path: &str) -> Option<Router> {
    mounts
        .iter()
        .find(|(prefix, _)| {
            path == prefix
                || (prefix != "/"
                    && path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/')))
        })
        .map(|(_, r)| r.clone())
}

async fn handle(st: Arc<State>, access: Access, req: Request) -> Response {
    match st.audit.clone() {
        Some(a) => {
            let auth = !matches!(access, Access::Local);
            crate::audit_log::audited(st.clone(), a, auth, req, |r| handle_api(st, access, r)).await
        }
        None => handle_api(st, access, req).await,
    }
}

async fn handle_api(st: Arc<State>, access: Access, mut req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if crate::login::is_login_path(&path) {
        // the UI's single sign-on: public, as Argo CD's /auth/login and /auth/callback
        return crate::login::handle(st, req).await;
    }
    let mount = mounted(&st.mounts.read().unwrap_or_else(|e| e.into_inner()), &path);
    if let Some(router) = mount {
        // a mounted router authenticates its own requests (the OCI registry, the UI's assets)
        use tower::ServiceExt;
        return match CatchUnwind(Box::pin(router.oneshot(req))).await {
            Ok(Ok(r)) => r,
            Ok(Err(never)) => match never {},
            Err(panic) => {
                crate::log_warning(format!("{path} panicked: {panic}"));
                error_response(&crate::limits::panic_error())
            }
        };
    }
    if path.starts_with(crate::listeners::PREFIX) {
        // EventListeners are public (upstream's per-listener Service): interceptors
        // authenticate deliveries, not the API token
        let hook = st
            .listener_hook
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(hook) = hook {
            let scheme = if st.tls.load(std::sync::atomic::Ordering::Relaxed) {
                "https"
            } else {
                "http"
            };
            return match CatchUnwind(Box::pin(crate::listeners::handle(hook, scheme, req))).await {
                Ok(r) => r,
                Err(panic) => {
                    crate::log_warning(format!("{path} panicked: {panic}"));
                    error_response(&crate::limits::panic_error())
                }
            };
        }
    }
    let public = matches!(
        path.as_str(),
        "/healthz" | "/readyz" | "/livez" | "/version"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/readyz/")
        || path.starts_with("/livez/")
        || (path == "/metrics" && st.metrics_public());
    let mut argo_filter: Option<(crate::argo_authz::ItemFilter, bool)> = None;
    if let Access::As(user) = &access
        && !public
    {
        if let Some(w) = req.extensions().get::<Arc<crate::audit_log::Who>>() {
            w.set(user, None);
        }
        let a = crate::auth::attributes(req.method(), &path, req.uri().query().unwrap_or(""));
        if !crate::auth::allowed(&st, user, &a) {
            let e = crate::auth::forbidden(&a, user);
            // a controller refused is a role narrowed by hand, or a right its role lacks
            crate::log_warning(format!("controller request refused: {}", e.message));
            return error_response(&e);
        }
        req.extensions_mut().insert(user.clone());
    }
    if matches!(access, Access::Token) && !public {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        let user = match token {
            Some(t) => crate::auth::authenticate(&st, t.trim()).await,
            None => None,
        };
        let Some(user) = user else {
            // read (bounded) before answering: a client still writing its body sees the
            // Status, not a broken pipe
            let _ = read_body(req).await;
            return error_response(&ApiError::unauthorized());
        };
        let who = req
            .extensions()
            .get::<Arc<crate::audit_log::Who>>()
            .cloned();
        let authn = who.as_ref().map(|w| {
            w.set(&user, None);
            user.clone()
        });
        let user = match crate::auth::impersonate(&st, user, req.headers()) {
            Ok(u) => u,
            Err(e) => {
                let _ = read_body(req).await;
                return error_response(&e);
            }
        };
        if let (Some(w), Some(a)) = (&who, &authn)
            && req.headers().contains_key("impersonate-user")
        {
            w.set(a, Some(&user));
        }
        let a = crate::auth::attributes(req.method(), &path, req.uri().query().unwrap_or(""));
        if !crate::auth::allowed(&st, &user, &a) {
            // Kubernetes RBAC said no: Argo CD's RBAC may still allow (argo_authz)
            let mut body = None;
            if crate::argo_authz::needs_body(&a) {
                let ct = req
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let (parts, b) = req.into_parts();
                let bytes = match axum::body::to_bytes(b, 16 * 1024 * 1024).await {
                    Ok(b) if b.len() <= MAX_BODY => b,
                    _ => return error_response(&ApiError::too_large()),
                };
                body = decode_body(&bytes, &ct).ok();
                req = Request::from_parts(parts, Body::from(bytes));
            }
            match crate::argo_authz::authorize(&st, &user, &a, body.as_ref()) {
                crate::argo_authz::Decision::Allow => {}
                crate::argo_authz::Decision::Filter(f) => {
                    argo_filter = Some((f, a.verb == "watch"))
                }
                crate::argo_authz::Decision::Deny => {
                    // the body may be read already (Argo CD's check needed it); if not, it
                    // is read now, bounded, so the client sees the 403, not a broken pipe
                    let _ = read_body(req).await;
                    return error_response(&crate::auth::forbidden(&a, &user));
                }
            }
        }
        req.extensions_mut().insert(Arc::new(user));
    }
    let what = format!("{} {}", req.method(), req.uri());
    let st2 = st.clone();
    let filtered = move |r: Response| match argo_filter {
        Some((f, watch)) => crate::argo_authz::filter_response(st2, f, watch, r),
        None => r,
    };
    match CatchUnwind(Box::pin(dispatch(st, req))).await {
        Ok(Ok(Dispatched::Reply(r))) => filtered(to_response(r)),
        Ok(Ok(Dispatched::Stream(r))) => filtered(r),
        Ok(Err(e)) => error_response(&e),
        Err(panic) => {
            crate::log_warning(format!("{what} panicked: {panic}"));
            error_response(&crate::limits::panic_error())
        }
    }
}

/// A future whose panic is caught: one request's bug answers 500, it does not end the
/// connection's task (kube-apiserver's `WithPanicRecovery`).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: std::future::Future> std::future::Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || fut.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(crate::limits::panic_text(p.as_ref()))),
        }
    }
}

enum Dispatched {
    Reply(Reply),
    Stream(Response),
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0-sluice.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

fn body_format_error(ct: &str, why: &str) -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (Namespace, ConfigMap, Secret and ServiceAccount only) (got {ct:?}: {why})"
        ),
    )
}

/// Reads and decodes a request body (JSON, or YAML when the content type says so).
pub fn decode_body(bytes: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type.contains("protobuf") {
        // kubectl's `create namespace/configmap/secret/serviceaccount` send protobuf
        return crate::proto::decode(bytes)
            .map_err(|e| body_format_error(content_type, &e.to_string()));
    }
    if content_type.contains("cbor") {
        return Err(body_format_error(content_type, "CBOR is not supported"));
    }
    if content_type.contains("yaml") {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
        let docs = sluice_core::yaml::load_documents(text, &sluice_core::yaml::Limits::default())
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return Ok(docs
            .into_iter()
            .next()
            .map(|d| d.value)
            .unwrap_or(Value::Null));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// [`decode_body`] with strict JSON decoding: the duplicate fields of a JSON body too (YAML
/// bodies refuse duplicate keys outright).
pub fn decode_body_strict(
    bytes: &[u8],
    content_type: &str,
) -> Result<(Value, crate::decode::Findings), ApiError> {
    if content_type.contains("protobuf")
        || content_type.contains("cbor")
        || content_type.contains("yaml")
    {
        return Ok((decode_body(bytes, content_type)?, Default::default()));
    }
    crate::decode::json_strict(bytes).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    // A body over the limit is still read (up to a bound) before the 413, so that a client
    // still writing it sees the Status rather than a broken pipe.
    const DRAIN: usize = 16 * 1024 * 1024;
    let b = axum::body::to_bytes(req.into_body(), DRAIN)
        .await
        .map_err(|_| ApiError::too_large())?;
    if b.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    Ok(b)
}

/// A request for a resource.
#[derive(Clone)]
struct Target {
    info: Arc<ResourceInfo>,
    version: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
    watch_path: bool,
}

async fn dispatch(st: Arc<State>, req: Request) -> Result<Dispatched, ApiError> {
    let start = Instant::now();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let query = parse_query(req.uri().query());
    let method = req.method().clone();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(util::percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get_only = |r: Reply| -> Result<Dispatched, ApiError> {
        if method == Method::GET || method == Method::HEAD {
            Ok(Dispatched::Reply(r))
        } else {
            Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ))
        }
    };
    let accept_hdr = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let aggregated = accept_hdr.contains("as=APIGroupDiscoveryList");
    match s.as_slice() {
        ["api"] | ["apis"] if aggregated => {
            let v2 = accept_hdr.contains("g=apidiscovery.k8s.io;v=v2;");
            let core = s.as_slice() == ["api"];
            let mut r = Reply::json(200, &aggregated_discovery(&st, core, v2));
            r.content_type = if v2 {
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            } else {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            };
            return get_only(r);
        }
        ["version"] => return get_only(Reply::json(200, &version_info())),
        ["metrics"] => {
            let source = st
                .metrics
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|(m, _)| m.clone());
            if let Some(m) = source {
                return get_only(Reply {
                    code: 200,
                    body: Bytes::from(m.encode()),
                    content_type: m.content_type(),
                    warnings: Vec::new(),
                });
            }
        }
        [h, ..] if matches!(*h, "healthz" | "readyz" | "livez") => {
            return get_only(Reply {
                code: 200,
                body: Bytes::from_static(b"ok"),
                content_type: "text/plain; charset=utf-8",
                warnings: vec![],
            });
        }
        ["api"] => {
            return get_only(Reply::json(
                200,
                &json!({"kind": "APIVersions", "versions": ["v1"],
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}),
            ));
        }
        ["api", "v1"] => return get_only(Reply::json(200, &resource_list(&st, "", "v1"))),
        ["apis"] => return get_only(Reply::json(200, &group_list(&st))),
        ["apis", g] => {
            let groups = group_list(&st);
            let found = groups["groups"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["name"] == *g).cloned());
            return match found {
                Some(mut gr) => {
                    gr["kind"] = json!("APIGroup");
                    gr["apiVersion"] = json!("v1");
                    get_only(Reply::json(200, &gr))
                }
                None => Err(ApiError::no_route()),
            };
        }
        ["apis", g, v] => {
            let list = resource_list(&st, g, v);
            if list["resources"].as_array().is_none_or(Vec::is_empty) {
                return Err(ApiError::no_route());
            }
            return get_only(Reply::json(200, &list));
        }
        ["openapi", "v2"] => {
            if method != Method::GET && method != Method::HEAD {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            return Ok(Dispatched::Stream(openapi_v2(&st, req.headers())?));
        }
        ["openapi", "v3"] => return get_only(Reply::json(200, &openapi_root(&st))),
        ["openapi", "v3", rest @ ..] => {
            if method != Method::GET && method != Method::HEAD {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let r = openapi_doc(&st, rest, &query, req.headers())?;
            return Ok(Dispatched::Stream(r));
        }
        _ => {}
    }
    let target = parse_target(&st, &s)?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let as_table = accept.contains("as=Table");
    // a request refused for its query is still read (bounded) first: a client still
    // writing the body sees the Status, not a broken pipe
    let checked = write_opts(&query, req.headers()).and_then(|o| match options_kind(&method) {
        Some(kind) => check_dry_run(&query, None, kind).map(|()| o),
        None => Ok(o),
    });
    let mut opts = match checked {
        Ok(o) => o,
        Err(e) => {
            let _ = read_body(req).await;
            return Err(e);
        }
    };
    opts.user = req
        .extensions()
        .get::<Arc<sluice_auth::UserInfo>>()
        .cloned();
    let is_watch = method == Method::GET && (target.watch_path || truthy(query.get("watch")));
    let deadline = if is_watch {
        // long-running: its own `timeoutSeconds` bounds it
        start
    } else {
        st.pool
            .deadline(start, query.get("timeout").map(String::as_str))?
    };
    let info = target.info.clone();
    let ns = target.namespace.clone().unwrap_or_default();
    let version = target.version.clone();
    let sub = target.sub.clone();
    if info.verbs != Verbs::All {
        return virtual_request(st, &target, &method, req, opts, deadline, &content_type).await;
    }
    if method == Method::POST
        && info.group.is_empty()
        && info.plural == "serviceaccounts"
        && sub.as_deref() == Some("token")
        && let Some(name) = target.name.clone()
    {
        // TokenRequest (`kubectl create token SA`)
        let body = read_body(req).await?;
        let (st2, ns2) = (st.clone(), ns.clone());
        let v = st
            .pool
            .run(deadline, move |gate| {
                gate.commit()?;
                let obj = decode_body(&body, &content_type)?;
                crate::auth::token_request(&st2, &ns2, &name, obj)
            })
            .await?;
        return Ok(Dispatched::Reply(Reply::json(201, &v)));
    }
    if method == Method::POST
        && info.group == "argoproj.io"
        && info.plural == "appprojects"
        && sub.as_deref() == Some("token")
        && let Some(name) = target.name.clone()
    {
        // an Argo CD project role token (`sluice proj role create-token`)
        let body = read_body(req).await?;
        let (st2, ns2, info2, version2) = (st.clone(), ns.clone(), info.clone(), version.clone());
        let v = st
            .pool
            .run(deadline, move |gate| {
                let obj = decode_body(&body, &content_type)?;
                let o = WriteOpts {
                    gate: Some(gate),
                    ..opts
                };
                crate::argo_authz::create_project_token(
                    &st2, &info2, &version2, &ns2, &name, &obj, &o,
                )
            })
            .await?;
        return Ok(Dispatched::Reply(Reply::json(201, &v)));
    }
    match (method.clone(), target.name.clone(), sub.as_deref()) {
        (Method::GET, None, None) => {
            if target.watch_path || truthy(query.get("watch")) {
                return watch(st, &target, &query, as_table).map(Dispatched::Stream);
            }
            let st2 = st.clone();
            let reply = st
                .pool
                .run(deadline, move |_| list(&st2, &target, &query, as_table))
                .await?;
            Ok(Dispatched::Reply(reply))
        }
        (Method::GET, Some(name), None) => {
            if target.watch_path {
                let mut q = query.clone();
                q.insert("fieldSelector".into(), format!("metadata.name={name}"));
                let t = Target {
                    name: None,
                    ..target
                };
                return watch(st, &t, &q, as_table).map(Dispatched::Stream);
            }
            let stored = st.get_stored(&info, &ns, &name)?;
            if !as_table && let Some(r) = stored_reply(200, &stored, &info, &version) {
                return Ok(Dispatched::Reply(r));
            }
            let obj = Arc::new(stored.value());
            let v = served(&obj, &info, &version);
            if as_table {
                let include = query.get("includeObject").map(String::as_str);
                let row = table::row(&info.columns, &v, row_object(&v, include));
                let t = table::table(
                    &info.columns,
                    vec![row],
                    meta_str(&v, "resourceVersion"),
                    None,
                    true,
                );
                return Ok(Dispatched::Reply(Reply::json(200, &t)));
            }
            Ok(Dispatched::Reply(Reply::json(200, &v)))
        }
        (Method::GET, Some(name), Some("status")) if info.status => {
            let obj = st.get(&info, &ns, &name)?;
            Ok(Dispatched::Reply(Reply::json(
                200,
                &served(&obj, &info, &version),
            )))
        }
        (Method::GET, Some(name), Some("scale")) if info.scale.is_some() => {
            let obj = st.get(&info, &ns, &name)?;
            Ok(Dispatched::Reply(Reply::json(
                200,
                &st.scale_of(&info, &obj)?,
            )))
        }
        (Method::GET, Some(name), Some("log")) if info.log => {
            let obj = st.get(&info, &ns, &name)?;
            let container = query.get("container").cloned().unwrap_or_else(|| {
                obj.pointer("/spec/containers/0/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            });
            let follow = truthy(query.get("follow"));
            let (tail, limit) = log_options(&query, &name)?;
            let hooks = st
                .log_hooks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(mut rx) = hooks
                .iter()
                .find_map(|h| h.pod_log(&ns, &name, &container, follow, tail))
            {
                let (tx, brx) = mpsc::channel::<Bytes>(16);
                tokio::spawn(async move {
                    // limitBytes: the output ends after that many bytes
                    let mut left = limit.unwrap_or(u64::MAX);
                    while let Some(mut chunk) = rx.recv().await {
                        if (chunk.len() as u64) >= left {
                            chunk.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                            left = 0;
                        } else {
                            left -= chunk.len() as u64;
                        }
                        if tx.send(Bytes::from(chunk)).await.is_err() || left == 0 {
                            break;
                        }
                    }
                });
                let mut r = Response::new(Body::new(ChannelBody { rx: brx }));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                return Ok(Dispatched::Stream(r));
            }
            let text = crate::simnode::pod_log(&obj).into_bytes();
            let mut text = text[tail.map_or(0, |n| tail_start(&text, n))..].to_vec();
            text.truncate(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)));
            Ok(Dispatched::Reply(Reply {
                code: 200,
                body: Bytes::from(text),
                content_type: "text/plain",
                warnings: vec![],
            }))
        }
        (Method::POST, None, None) => {
            if info.namespaced && target.namespace.is_none() {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let body = read_body(req).await?;
            let (st2, info2, version2) = (st.clone(), info.clone(), version.clone());
            let ns_opt = target.namespace.clone();
            let len = body.len();
            let work = move |gate| {
                let (obj, found) = decode_body_strict(&body, &content_type)?;
                let o = WriteOpts {
                    decoded: found,
                    gate: Some(gate),
                    ..opts
                };
                st2.create(&info2, &version2, ns_opt.as_deref(), obj, &o)
            };
            let w = if cheap_write(&st, len, None) {
                st.pool.run_inline(deadline, work)?
            } else {
                st.pool.run(deadline, work).await?
            };
            let mut r = written_reply(201, &w, &info, &version);
            r.warnings = w.warnings;
            Ok(Dispatched::Reply(r))
        }
        (Method::PUT, Some(name), None | Some("status")) if sub.is_none() || info.status => {
            let body = read_body(req).await?;
            let (st2, info2, version2) = (st.clone(), info.clone(), version.clone());
            let len = body.len();
            let work = move |gate| {
                let (obj, found) = decode_body_strict(&body, &content_type)?;
                let o = WriteOpts {
                    decoded: found,
                    gate: Some(gate),
                    ..opts
                };
                st2.update(&info2, &version2, &ns, &name, obj, sub.as_deref(), &o)
            };
            let w = if cheap_write(&st, len, None) {
                st.pool.run_inline(deadline, work)?
            } else {
                st.pool.run(deadline, work).await?
            };
            let mut r = written_reply(200, &w, &info, &version);
            r.warnings = w.warnings;
            Ok(Dispatched::Reply(r))
        }
        (Method::PUT, Some(name), Some("scale")) if info.scale.is_some() => {
            let body = read_body(req).await?;
            let (st2, info2) = (st.clone(), info.clone());
            let w = st
                .pool
                .run(deadline, move |gate| {
                    let scale = decode_body(&body, &content_type)?;
                    let old = st2.get(&info2, &ns, &name)?;
                    let o = WriteOpts {
                        gate: Some(gate),
                        ..opts
                    };
                    st2.set_scale(&info2, &old, &scale, &o)
                })
                .await?;
            Ok(Dispatched::Reply(Reply::json(200, &w.object)))
        }
        (Method::PATCH, Some(name), None | Some("status") | Some("scale"))
            if sub.is_none()
                || (sub.as_deref() == Some("status") && info.status)
                || (sub.as_deref() == Some("scale") && info.scale.is_some()) =>
        {
            let body = read_body(req).await?;
            let (st2, info2, version2, sub2) =
                (st.clone(), info.clone(), version.clone(), sub.clone());
            let inline = cheap_write(&st, body.len(), Some((&target, name.as_str())));
            let work = move |gate| {
                let o = WriteOpts {
                    gate: Some(gate),
                    ..opts
                };
                st2.patch(
                    &info2,
                    &version2,
                    &ns,
                    &name,
                    &content_type,
                    &body,
                    sub2.as_deref(),
                    &o,
                )
            };
            let w = if inline {
                st.pool.run_inline(deadline, work)?
            } else {
                st.pool.run(deadline, work).await?
            };
            let code = if w.created { 201 } else { 200 };
            let mut r = if sub.as_deref() == Some("scale") {
                Reply::json(code, &w.object)
            } else {
                written_reply(code, &w, &info, &version)
            };
            r.warnings = w.warnings;
            Ok(Dispatched::Reply(r))
        }
        (Method::DELETE, Some(name), None) => {
            let body = read_body(req).await?;
            let d = delete_opts(&query, &body, &content_type)?;
            let (st2, info2) = (st.clone(), info.clone());
            let obj = st
                .pool
                .run(deadline, move |gate| {
                    // deletes pass no admission: the gate is passed before anything changes
                    gate.commit()?;
                    st2.delete(&info2, &ns, &name, &d)
                })
                .await?;
            Ok(Dispatched::Reply(Reply::json(
                200,
                &served(&obj, &info, &version),
            )))
        }
        (Method::DELETE, None, None) => {
            let body = read_body(req).await?;
            let d = delete_opts(&query, &body, &content_type)?;
            let (st2, info2, version2) = (st.clone(), info.clone(), version.clone());
            let reply = st
                .pool
                .run(deadline, move |gate| {
                    let (items, _) = select(&st2, &target, &query)?;
                    gate.commit()?;
                    let mut deleted = Vec::new();
                    for o in items {
                        if let Ok(x) =
                            st2.delete(&info2, meta_str(&o, "namespace"), meta_str(&o, "name"), &d)
                        {
                            deleted.push(served(&x, &info2, &version2).into_owned());
                        }
                    }
                    st2.collect_garbage();
                    let rv = st2.store.current_rv().to_string();
                    Ok(Reply::json(
                        200,
                        &json!({"kind": format!("{}List", info2.kind), "apiVersion": info2.api_version(&version2),
                                "metadata": {"resourceVersion": rv}, "items": deleted}),
                    ))
                })
                .await?;
            Ok(Dispatched::Reply(reply))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|v| v == "true" || v == "1")
}

fn write_opts(q: &Query, headers: &axum::http::HeaderMap) -> Result<WriteOpts, ApiError> {
    let manager = match q.get("fieldManager") {
        Some(m) if !m.is_empty() => m.clone(),
        _ => {
            // upstream derives a default manager from the user agent's program name
            let ua = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let prog = ua.split('/').next().unwrap_or_default();
            if prog.is_empty() {
                "sluice-default".to_owned()
            } else {
                prog.to_owned()
            }
        }
    };
    if manager.len() > 128 {
        return Err(ApiError::bad_request(
            "fieldManager: Too long: may not be more than 128 bytes",
        ));
    }
    Ok(WriteOpts {
        field_manager: manager,
        field_validation: FieldValidation::parse(q.get("fieldValidation").map(String::as_str))?,
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
        force: truthy(q.get("force")),
        ..WriteOpts::default()
    })
}

/// The options kind of a write verb, named in a `dryRun` error (apiserver's handlers:
/// create.go, update.go, patch.go, delete.go).
fn options_kind(method: &Method) -> Option<&'static str> {
    match *method {
        Method::POST => Some("CreateOptions"),
        Method::PUT => Some("UpdateOptions"),
        Method::PATCH => Some("PatchOptions"),
        _ => None,
    }
}

/// `dryRun` may only be `All` (apimachinery pkg/apis/meta/v1/validation `ValidateDryRun`:
/// `field.NotSupported(dryRun, allowedDryRunValues)`, answered by the handlers as
/// `errors.NewInvalid(meta.k8s.io/<Kind>Options, "")`): any other value is refused rather
/// than taken as a real write.
fn check_dry_run(q: &Query, body: Option<&Value>, kind: &str) -> Result<(), ApiError> {
    let mut values: Vec<String> = q.get("dryRun").into_iter().cloned().collect();
    if let Some(Value::Array(a)) = body.and_then(|b| b.get("dryRun")) {
        values.extend(a.iter().map(|v| v.as_str().unwrap_or_default().to_owned()));
    }
    if values.iter().all(|v| v == "All") {
        return Ok(());
    }
    let shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    let errs: sluice_core::FieldErrors = sluice_core::FieldError::new(
        "dryRun",
        format!(
            "Unsupported value: []string{{{}}}: supported values: \"All\"",
            shown.join(", ")
        ),
    )
    .into();
    Err(ApiError::invalid("meta.k8s.io", kind, "", &errs))
}

fn delete_opts(q: &Query, body: &[u8], content_type: &str) -> Result<DeleteOpts, ApiError> {
    let b: Value = if body.is_empty() {
        json!({})
    } else if content_type.contains("protobuf") {
        // client-go's typed clients (Helm's uninstall) send DeleteOptions as protobuf
        crate::proto::decode_delete_options(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    check_dry_run(q, Some(&b), "DeleteOptions")?;
    let mut policy = b
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| q.get("propagationPolicy").cloned())
        .unwrap_or_default();
    if policy.is_empty() && b.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
        policy = "Orphan".into();
    }
    let dry = b
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "All"))
        || q.get("dryRun").is_some_and(|d| d == "All");
    Ok(DeleteOpts {
        propagation: Propagation::parse(&policy)?,
        precondition_uid: b
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_rv: b
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        dry_run: dry,
    })
}

/// The object as served under `version` (objects are stored once per group, in its storage
/// version where the server converts: crate::convert).
fn served<'a>(obj: &'a Arc<Value>, info: &ResourceInfo, version: &str) -> Cow<'a, Value> {
    if crate::convert::is_served_as(info, obj, version) {
        Cow::Borrowed(&**obj)
    } else {
        Cow::Owned(crate::convert::to_version(info, (**obj).clone(), version))
    }
}

/// The stored text as it is (nothing parsed, copied or serialized again), when it is what
/// `version` serves.
fn stored_reply(code: u16, stored: &Obj, info: &ResourceInfo, version: &str) -> Option<Reply> {
    (*stored.meta().api_version == *info.api_version(version)).then(|| Reply {
        code,
        body: Bytes::copy_from_slice(stored.json().as_bytes()),
        content_type: "application/json",
        warnings: Vec::new(),
    })
}

/// The answer to a write: the object's stored text when it is what `version` serves, else
/// the object served.
fn written_reply(code: u16, w: &crate::ops::Written, info: &ResourceInfo, version: &str) -> Reply {
    w.stored
        .as_ref()
        .and_then(|s| stored_reply(code, s, info, version))
        .unwrap_or_else(|| Reply::json(code, &served(&w.object, info, version)))
}

/// Largest body of a write run inline, and largest stored object a patch run inline
/// applies to (see [`cheap_write`]).
const INLINE_MAX_BODY: usize = 32 * 1024;

/// A write whose work is small and bounded: a body (and for a patch the object it applies
/// to, `target`) of at most [`INLINE_MAX_BODY`], so decoding, validating (schemas, CEL
/// rules within their cost limits), storing and encoding it stay within tens of
/// microseconds to a few milliseconds, and no admission hook with work to do (policy
/// engines are the heavy part; a hook with no policies is [`AdmissionHook::idle`]). It runs
/// on the async worker that received it instead of hopping to the request pool
/// ([`crate::limits::Pool::run_inline`]).
///
/// [`AdmissionHook::idle`]: crate::admission::AdmissionHook::idle
fn cheap_write(st: &State, body_len: usize, target: Option<(&Target, &str)>) -> bool {
    if !st.inline_writes || body_len > INLINE_MAX_BODY {
        return false;
    }
    let idle = st
        .hooks
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .all(|h| h.idle());
    idle && target.is_none_or(|(t, name)| {
        let key = resource_key(&t.info.group, &t.info.plural);
        let ns = t.namespace.as_deref().unwrap_or_default();
        st.store
            .get_stored(&key, ns, name)
            .is_none_or(|o| o.json().len() <= INLINE_MAX_BODY)
    })
}

/// A request on a built-in that stores nothing (`Verbs::Create` or `Verbs::GetList`).
async fn virtual_request(
    st: Arc<State>,
    target: &Target,
    method: &Method,
    req: Request,
    opts: WriteOpts,
    deadline: Instant,
    content_type: &str,
) -> Result<Dispatched, ApiError> {
    let info = target.info.clone();
    let watching = target.watch_path;
    match (info.verbs, method, target.name.as_deref(), watching) {
        (Verbs::Create, &Method::POST, None, false) => {
            if info.namespaced && target.namespace.is_none() {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let body = read_body(req).await?;
            let (st2, version, ns, ct) = (
                st.clone(),
                target.version.clone(),
                target.namespace.clone(),
                content_type.to_owned(),
            );
            let (code, v) = st
                .pool
                .run(deadline, move |gate| {
                    // client-go's typed clients post reviews as protobuf (the reply is JSON)
                    let (obj, found) = decode_body_strict(&body, &ct)?;
                    let o = WriteOpts {
                        decoded: found,
                        gate: Some(gate),
                        ..opts
                    };
                    crate::virtual_kinds::create(&st2, &info, &version, ns.as_deref(), obj, &o)
                })
                .await?;
            Ok(Dispatched::Reply(Reply::json(code, &v)))
        }
        (Verbs::GetList, &Method::GET, name, false) if target.sub.is_none() => {
            Ok(Dispatched::Reply(Reply::json(
                200,
                &crate::virtual_kinds::component_statuses(name)?,
            )))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn parse_target(st: &State, s: &[&str]) -> Result<Target, ApiError> {
    let (group, version, rest) = match s {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    let (watch_path, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let (namespace, rest): (Option<String>, &[&str]) = match rest {
        ["namespaces", ns, r @ ..] if !r.is_empty() && !matches!(r, ["status"] | ["finalize"]) => {
            (Some((*ns).to_owned()), r)
        }
        r => (None, r),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some((*n).to_owned()), None),
        [p, n, sub] => (*p, Some((*n).to_owned()), Some((*sub).to_owned())),
        _ => return Err(ApiError::no_route()),
    };
    let info = st
        .reg()
        .find(group, version, plural)
        .ok_or_else(ApiError::no_route)?;
    if namespace.is_some() && !info.namespaced {
        return Err(ApiError::no_route());
    }
    if let Some(sb) = &sub {
        let ok = match sb.as_str() {
            "status" => info.status,
            "scale" => info.scale.is_some(),
            "log" => info.log,
            "finalize" => info.kind == "Namespace",
            "token" => {
                (info.kind == "ServiceAccount" && info.group.is_empty())
                    || (info.kind == "AppProject" && info.group == "argoproj.io")
            }
            _ => false,
        };
        if !ok {
            return Err(ApiError::no_route());
        }
    }
    Ok(Target {
        info,
        version: version.to_owned(),
        namespace,
        name,
        sub,
        watch_path,
    })
}

fn resource_list(st: &State, group: &str, version: &str) -> Value {
    let reg = st.reg();
    let mut resources = Vec::new();
    for r in reg.all() {
        if r.group != group || !r.versions.iter().any(|v| v == version) {
            continue;
        }
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs.names(),
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        let mut sub = |name: &str, kind: &str, verbs: Value, g: Option<(&str, &str)>| {
            let mut s = json!({
                "name": format!("{}/{name}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let Some((g, v)) = g {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        };
        if r.status {
            sub("status", &r.kind, json!(["get", "patch", "update"]), None);
        }
        if r.scale.is_some() {
            sub(
                "scale",
                "Scale",
                json!(["get", "patch", "update"]),
                Some(("autoscaling", "v1")),
            );
        }
        if r.log {
            sub("log", "Pod", json!(["get"]), None);
        }
        if r.kind == "ServiceAccount" && r.group.is_empty() {
            sub(
                "token",
                "TokenRequest",
                json!(["create"]),
                Some(("authentication.k8s.io", "v1")),
            );
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") },
        "resources": resources,
    })
}

/// The aggregated discovery document (apidiscovery.k8s.io v2 / v2beta1) of the core group
/// (`/api`) or of the named groups (`/apis`): one request instead of one per group-version.
fn aggregated_discovery(st: &State, core: bool, v2: bool) -> Value {
    let reg = st.reg();
    let groups: Vec<(String, Vec<String>)> = if core {
        vec![(String::new(), vec!["v1".to_owned()])]
    } else {
        reg.groups()
    };
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = reg
                        .all()
                        .iter()
                        .filter(|r| r.group == *g && r.versions.contains(v))
                        .map(|r| {
                            let kind = |k: &str| json!({"group": r.group, "version": v, "kind": k});
                            let mut subs = Vec::new();
                            if r.status {
                                subs.push(json!({"subresource": "status", "responseKind": kind(&r.kind), "verbs": ["get", "patch", "update"]}));
                            }
                            if r.scale.is_some() {
                                subs.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
                            }
                            if r.log {
                                subs.push(json!({"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]}));
                            }
                            let mut res = json!({
                                "resource": r.plural,
                                "responseKind": kind(&r.kind),
                                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": r.singular,
                                "verbs": r.verbs.names(),
                            });
                            if !r.short_names.is_empty() {
                                res["shortNames"] = json!(r.short_names);
                            }
                            if !r.categories.is_empty() {
                                res["categories"] = json!(r.categories);
                            }
                            if !subs.is_empty() {
                                res["subresources"] = Value::Array(subs);
                            }
                            res
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut meta = json!({"creationTimestamp": null});
            if !g.is_empty() {
                meta["name"] = json!(g);
            }
            json!({"metadata": meta, "versions": vs})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": if v2 { "apidiscovery.k8s.io/v2" } else { "apidiscovery.k8s.io/v2beta1" },
        "metadata": {},
        "items": items,
    })
}

fn group_list(st: &State) -> Value {
    let groups: Vec<Value> = st
        .reg()
        .groups()
        .into_iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions.first().cloned().unwrap_or(json!({}))})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn openapi_root(st: &State) -> Value {
    let reg = st.reg();
    let mut gvs = vec![(String::new(), "v1".to_owned())];
    for (g, vs) in reg.groups() {
        gvs.extend(vs.into_iter().map(|v| (g.clone(), v)));
    }
    let mut paths = serde_json::Map::new();
    for (g, v) in gvs {
        let hash = crate::openapi::hash(&crate::openapi::served(&reg, &g, &v), &v);
        let path = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v2` (crate::openapi::swagger_v2) as JSON, or as gnostic's protobuf
/// `openapi.v2.Document` (crate::openapi_pb) when asked for
/// (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, the only type client-go's
/// `OpenAPISchema` accepts: kubectl validates a `v1 List`'s items with it), whichever the
/// Accept header names first. The ETag is the digest of every group-version's hash
/// (`If-None-Match` -> 304).
fn openapi_v2(st: &State, headers: &axum::http::HeaderMap) -> Result<Response, ApiError> {
    const PB: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let first = if accept.trim().is_empty() {
        Some(false)
    } else {
        accept.split(',').find_map(|t| {
            let t = t.split(';').next().unwrap_or_default().trim();
            match t {
                "application/json" | "application/*" | "*/*" | "*" => Some(false),
                PB | "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" => Some(true),
                _ => None,
            }
        })
    };
    let Some(protobuf) = first else {
        return Err(ApiError::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, {PB} (asked: {accept})"
            ),
        ));
    };
    let reg = st.reg();
    let etag = format!("\"{}\"", crate::openapi::hash_v2(&reg));
    let mut r = Response::new(Body::empty());
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(r);
    }
    let version = version_info()["gitVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let doc = crate::openapi::swagger_v2(&reg, &version);
    drop(reg);
    let (ct, body) = if protobuf {
        // kube-openapi's handler answers this type for either spelling: Go's
        // mime.ParseMediaType, which client-go runs on the answer, refuses the `@` one
        (
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            crate::openapi_pb::document(&doc),
        )
    } else {
        (
            "application/json",
            serde_json::to_vec(&doc).unwrap_or_default(),
        )
    };
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    *r.body_mut() = Body::from(body);
    Ok(r)
}

/// A per-group-version OpenAPI v3 document: the resource paths with the query parameters
/// the server supports (kubectl checks `fieldValidation` there to validate server-side) and
/// the schemas of the kinds (crate::openapi). The PATCH operations declare no request body:
/// kubectl's client-side apply uses a document's schemas for strategic merge patches only
/// when PATCH accepts `application/strategic-merge-patch+json` (kubectl apply/patcher.go
/// `gvkSupportsPatchOpenAPIV3`), so it keeps its compiled-in types (their patch merge keys);
/// these schemas do not carry them.
///
/// Cached as kube-openapi's handler3 does: the ETag is the document's hash; a request whose
/// `?hash=` is the current one is `public, immutable`, one with a stale hash is redirected
/// (301) to the current URL; `If-None-Match` with the current ETag answers 304.
fn openapi_doc(
    st: &State,
    rest: &[&str],
    query: &Query,
    headers: &axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (group, version) = match rest {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return Err(ApiError::no_route()),
    };
    let reg = st.reg();
    let kinds = crate::openapi::served(&reg, group, version);
    if kinds.is_empty() {
        return Err(ApiError::no_route());
    }
    let hash = crate::openapi::hash(&kinds, version);
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Some(asked) = query.get("hash") {
        if *asked != hash {
            let to = format!("/openapi/v3{prefix}?hash={hash}");
            if let Ok(v) = HeaderValue::from_str(&to) {
                h.insert(header::LOCATION, v);
            }
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            return Ok(r);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, immutable"),
        );
    }
    let etag_matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == format!("\"{hash}\""))
        });
    if etag_matches {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(r);
    }
    let params = json!([
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}, "description": "Strict, Warn or Ignore"},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
    ]);
    let mut paths = serde_json::Map::new();
    for r in &kinds {
        // kubectl's query-param verifier finds the PATCH operation by this extension
        let op = json!({
            "parameters": params,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-group-version-kind": {"group": r.group, "version": version, "kind": r.kind},
        });
        let base = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        paths.insert(
            base.clone(),
            json!({"post": op, "get": {"responses": {"200": {"description": "OK"}}}}),
        );
        paths.insert(
            format!("{base}/{{name}}"),
            json!({"put": op, "patch": op, "get": {"responses": {"200": {"description": "OK"}}}}),
        );
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Sluice", "version": version_info()["gitVersion"]},
        "paths": paths,
        "components": {"schemas": crate::openapi::components(&kinds, version)},
    });
    drop(reg);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *r.body_mut() = Body::from(serde_json::to_vec(&doc).unwrap_or_default());
    Ok(r)
}

fn label_selector(q: &Query) -> Result<Selector, ApiError> {
    Selector::parse(
        q.get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Fields a field selector may name (metadata.name/namespace everywhere, plus the common
/// per-kind ones of upstream's `GetAttrs`).
fn field_value(info: &ResourceInfo, obj: &Value, field: &str) -> Result<Option<String>, ApiError> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).map(str::to_owned);
    Ok(match field {
        "metadata.name" => s("/metadata/name"),
        "metadata.namespace" => Some(s("/metadata/namespace").unwrap_or_default()),
        "status.phase"
            if matches!(
                info.kind.as_str(),
                "Pod" | "Namespace" | "PersistentVolumeClaim"
            ) =>
        {
            s("/status/phase")
        }
        "spec.nodeName" if info.kind == "Pod" => s("/spec/nodeName"),
        "type" if matches!(info.kind.as_str(), "Secret" | "Event") => s("/type"),
        "reason" | "source" if info.kind == "Event" => s(&format!("/{field}")),
        f if info.kind == "Event" && f.starts_with("involvedObject.") => s(&format!(
            "/involvedObject/{}",
            &f["involvedObject.".len()..]
        )),
        other => {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {other}"
            )));
        }
    })
}

fn matches_filters(
    info: &ResourceInfo,
    obj: &Value,
    ls: &Selector,
    fs: &FieldSelector,
) -> Result<bool, ApiError> {
    if !ls.is_empty() {
        let m = obj.pointer("/metadata/labels").and_then(Value::as_object);
        let pairs: Vec<(&str, &str)> = m
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                    .collect()
            })
            .unwrap_or_default();
        if !ls.matches_map(pairs.iter().copied()) {
            return Ok(false);
        }
    }
    if !fs.terms.is_empty() {
        for (f, _, _) in &fs.terms {
            field_value(info, obj, f)?;
        }
        let get = |f: &str| field_value(info, obj, f).ok().flatten();
        if !fs.matches(&get) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// [`matches_filters`] on a stored object, parsed only when there is a selector.
fn matches_stored(
    info: &ResourceInfo,
    obj: &Stored,
    ls: &Selector,
    fs: &FieldSelector,
) -> Result<bool, ApiError> {
    if ls.is_empty() && fs.terms.is_empty() {
        return Ok(true);
    }
    // label selectors and name/namespace fields (the controllers' watches) read the
    // metadata kept beside the text: an event is not parsed once per watch
    if fs
        .terms
        .iter()
        .all(|(f, _, _)| f == "metadata.name" || f == "metadata.namespace")
    {
        let m = obj.meta();
        if !ls.is_empty() && !ls.matches_map(m.labels()) {
            return Ok(false);
        }
        let get = |f: &str| match f {
            "metadata.name" => Some(m.name.to_string()),
            "metadata.namespace" => Some(m.namespace.to_string()),
            _ => None,
        };
        return Ok(fs.terms.is_empty() || fs.matches(&get));
    }
    matches_filters(info, &obj.value(), ls, fs)
}

/// The objects a list or deletecollection selects (all pages).
fn select(st: &State, t: &Target, q: &Query) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
    let ls = label_selector(q)?;
    let fs = FieldSelector::parse(
        q.get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let key = resource_key(&t.info.group, &t.info.plural);
    let (objs, rv) = st.store.list(&key, t.namespace.as_deref(), None);
    let mut out = Vec::with_capacity(objs.len());
    for o in objs {
        if matches_filters(&t.info, &o, &ls, &fs)? {
            out.push(o);
        }
    }
    Ok((out, rv))
}

fn row_object(v: &Value, include: Option<&str>) -> Option<Value> {
    match include {
        Some("None") => None,
        Some("Object") => Some(v.clone()),
        _ => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": v.get("metadata").cloned().unwrap_or(json!({})),
        })),
    }
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    util::hex(format!("{rv}\0{ns}\0{name}").as_bytes())
}

fn decode_continue(tok: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {tok:?}"));
    let raw = util::unhex(tok).ok_or_else(bad)?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let mut it = s.splitn(3, '\0');
    let rv = it.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let ns = it.next().ok_or_else(bad)?.to_owned();
    let name = it.next().ok_or_else(bad)?.to_owned();
    Ok((rv, ns, name))
}

fn list(st: &State, t: &Target, q: &Query, as_table: bool) -> Result<Reply, ApiError> {
    let ls = label_selector(q)?;
    let fs = FieldSelector::parse(
        q.get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let limit: usize = match q.get("limit").map(String::as_str) {
        None | Some("") => 0,
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
    };
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let (_, ns, name) = decode_continue(c)?;
            Some((ns, name))
        }
        None => None,
    };
    if let Some(rv) = q
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0")
    {
        let want: u64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
        // Exact/NotOlderThan: serving the current state is valid for any rv not newer than it
        if want > st.store.current_rv() {
            return Err(ApiError::new(
                504,
                "Timeout",
                format!(
                    "Too large resource version: {want}, current: {}",
                    st.store.current_rv()
                ),
            ));
        }
    }
    let key = resource_key(&t.info.group, &t.info.plural);
    // a `key=value` requirement lists through the store's index of that label
    let eq = ls.requirements.iter().find_map(|r| match r.op {
        Operator::Equals | Operator::In if r.values.len() == 1 => {
            r.values.first().map(|v| (r.key.as_str(), v.as_str()))
        }
        _ => None,
    });
    let (objs, rv) = match eq {
        Some((k, v)) => st
            .store
            .list_labelled(&key, t.namespace.as_deref(), after.as_ref(), k, v),
        None => st
            .store
            .list_stored(&key, t.namespace.as_deref(), after.as_ref()),
    };
    let mut items: Vec<&Obj> = Vec::new();
    let mut cont = None;
    let mut remaining = 0usize;
    for o in &objs {
        if !matches_stored(&t.info, o, &ls, &fs)? {
            continue;
        }
        if limit > 0 && items.len() == limit {
            if cont.is_none()
                && let Some(last) = items.last()
            {
                let last = last.value();
                cont = Some(encode_continue(
                    rv,
                    meta_str(&last, "namespace"),
                    meta_str(&last, "name"),
                ));
            }
            remaining += 1;
            continue;
        }
        items.push(o);
    }
    let info = &t.info;
    if as_table {
        let include = q.get("includeObject").map(String::as_str);
        let rows: Vec<Value> = items
            .iter()
            .map(|o| {
                let o = Arc::new(o.value());
                let v = served(&o, info, &t.version);
                table::row(&info.columns, &v, row_object(&v, include))
            })
            .collect();
        let tbl = table::table(&info.columns, rows, &rv.to_string(), cont.as_deref(), true);
        return Ok(Reply::json(200, &tbl));
    }
    // Written by hand: a list of 10,000 objects is serialized without copying them.
    let av = info.api_version(&t.version);
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = &cont {
        meta["continue"] = json!(c);
        meta["remainingItemCount"] = json!(remaining);
    }
    let mut out = Vec::with_capacity(items.len() * 512 + 128);
    out.extend_from_slice(b"{\"kind\":");
    out.extend_from_slice(
        serde_json::to_string(&format!("{}List", info.kind))
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"apiVersion\":");
    out.extend_from_slice(serde_json::to_string(&av).unwrap_or_default().as_bytes());
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(meta.to_string().as_bytes());
    out.extend_from_slice(b",\"items\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if *o.meta().api_version == *av {
            // the stored text as it is: nothing parsed or copied
            out.extend_from_slice(o.json().as_bytes());
        } else {
            let _ =
                serde_json::to_writer(&mut out, &served(&Arc::new(o.value()), info, &t.version));
        }
    }
    out.extend_from_slice(b"]}");
    Ok(Reply {
        code: 200,
        body: Bytes::from(out),
        content_type: "application/json",
        warnings: vec![],
    })
}

/// Bounds of one watch's queue of encoded events (those the client has not read yet).
///
/// kube-apiserver's cacher gives each watcher a channel of at most 100 events
/// (`maxWatchChanSizeWithoutIndex`, storage/cacher/watch_cache.go) and, when it is full, waits
/// a bounded time budget before it "Forcing watcher close due to unresponsiveness"
/// (`cacheWatcher.add`, storage/cacher/cache_watcher.go): the watch ends and the client
/// re-watches from its last resourceVersion. Sluice does the same, bounding bytes too so that
/// 100 large objects cannot queue 100 MB: a watcher whose queue stays full for `stall` is
/// closed and its queue freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchBuffer {
    /// Events queued at most (upstream's channel size).
    pub max_events: usize,
    /// Bytes queued at most (one event larger than this is still sent alone).
    pub max_bytes: usize,
    /// How long a full queue may wait for the client before the watch is closed.
    pub stall: Duration,
}

impl Default for WatchBuffer {
    fn default() -> Self {
        WatchBuffer {
            max_events: 100,
            max_bytes: 4 * 1024 * 1024,
            stall: Duration::from_secs(5),
        }
    }
}

#[derive(Default)]
struct QueueState {
    items: std::collections::VecDeque<Bytes>,
    bytes: usize,
    /// The producer is done: the body ends once the queue is drained.
    ended: bool,
    /// The body was dropped: the client is gone.
    gone: bool,
    waker: Option<std::task::Waker>,
}

/// One watch's queue between its producer task and its response body.
struct WatchQueue {
    state: std::sync::Mutex<QueueState>,
    space: tokio::sync::Notify,
    limits: WatchBuffer,
}

/// Why a watch's producer stops.
enum Stop {
    /// The client closed the connection.
    Gone,
    /// The client read nothing for `stall` with a full queue: the watch was closed.
    Slow,
}

impl WatchQueue {
    fn new(limits: WatchBuffer) -> Arc<Self> {
        Arc::new(WatchQueue {
            state: std::sync::Mutex::new(QueueState::default()),
            space: tokio::sync::Notify::new(),
            limits,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one line; waits while the queue is full, at most `stall`, then closes the
    /// watch (the queued events are dropped at once: their memory is freed even if the
    /// client never reads again).
    async fn push(&self, line: Bytes) -> Result<(), Stop> {
        let mut deadline = None;
        loop {
            {
                let mut q = self.lock();
                if q.gone {
                    return Err(Stop::Gone);
                }
                let fits = q.items.is_empty()
                    || (q.items.len() < self.limits.max_events
                        && q.bytes + line.len() <= self.limits.max_bytes);
                if fits {
                    q.bytes += line.len();
                    q.items.push_back(line);
                    if let Some(w) = q.waker.take() {
                        w.wake();
                    }
                    return Ok(());
                }
            }
            let until =
                *deadline.get_or_insert_with(|| tokio::time::Instant::now() + self.limits.stall);
            if tokio::time::timeout_at(until, self.space.notified())
                .await
                .is_err()
            {
                let mut q = self.lock();
                if q.gone {
                    return Err(Stop::Gone);
                }
                q.items.clear();
                q.bytes = 0;
                q.ended = true;
                if let Some(w) = q.waker.take() {
                    w.wake();
                }
                return Err(Stop::Slow);
            }
        }
    }

    /// The producer is done: the body ends after what is queued.
    fn end(&self) {
        let mut q = self.lock();
        q.ended = true;
        if let Some(w) = q.waker.take() {
            w.wake();
        }
    }

    /// Resolves when the client is gone (the body was dropped).
    async fn gone(&self) {
        loop {
            let n = self.space.notified();
            if self.lock().gone {
                return;
            }
            n.await;
        }
    }
}

/// Ends a watch's body when its producer task ends, by return or by panic.
struct EndOnDrop(Arc<WatchQueue>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A watch's response body: the lines of its queue.
/// A streamed body fed by a channel (Pod logs from a `PodLogHook`).
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(http_body::Frame::data(b))))
    }
}

struct WatchBody {
    queue: Arc<WatchQueue>,
}

impl http_body::Body for WatchBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let mut q = self.queue.lock();
        match q.items.pop_front() {
            Some(b) => {
                q.bytes -= b.len();
                drop(q);
                self.queue.space.notify_one();
                Poll::Ready(Some(Ok(http_body::Frame::data(b))))
            }
            None if q.ended => Poll::Ready(None),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for WatchBody {
    fn drop(&mut self) {
        {
            let mut q = self.queue.lock();
            q.gone = true;
            q.items.clear();
            q.bytes = 0;
        }
        self.queue.space.notify_one();
    }
}

/// An object a watch sends: as stored, or made for the event (a selector's DELETED).
enum Sent {
    Stored(Obj),
    Parsed(Arc<Value>),
}

struct WatchFilter {
    info: Arc<ResourceInfo>,
    version: String,
    key: String,
    namespace: Option<String>,
    ls: Selector,
    fs: FieldSelector,
    table: bool,
    include: Option<String>,
}

impl WatchFilter {
    /// The event this watch sends for `ev`, if any: with selectors, an object that starts
    /// matching is ADDED and one that stops matching is DELETED (as the watch cache does).
    fn wants(&self, ev: &Event) -> Option<(&'static str, Sent)> {
        if *ev.resource != *self.key || self.namespace.as_ref().is_some_and(|n| *n != ev.namespace)
        {
            return None;
        }
        let m = |o: &Stored| matches_stored(&self.info, o, &self.ls, &self.fs).unwrap_or(false);
        let now = m(&ev.object);
        match (ev.ty, &ev.prev) {
            (EventType::Modified, Some(prev))
                if !self.ls.is_empty() || !self.fs.terms.is_empty() =>
            {
                match (m(prev), now) {
                    (true, true) => Some(("MODIFIED", Sent::Stored(ev.object.clone()))),
                    (false, true) => Some(("ADDED", Sent::Stored(ev.object.clone()))),
                    (true, false) => {
                        let mut gone = prev.value();
                        if let Some(md) = gone.get_mut("metadata").and_then(Value::as_object_mut) {
                            md.insert("resourceVersion".into(), json!(ev.rv.to_string()));
                        }
                        Some(("DELETED", Sent::Parsed(Arc::new(gone))))
                    }
                    (false, false) => None,
                }
            }
            (ty, _) => now.then(|| (ty.as_str(), Sent::Stored(ev.object.clone()))),
        }
    }

    fn encode(&self, ty: &str, obj: &Sent, headers: bool) -> Bytes {
        let obj = match obj {
            Sent::Stored(o)
                if !self.table
                    && *o.meta().api_version == *self.info.api_version(&self.version) =>
            {
                // the stored text as it is, framed: nothing parsed or copied
                let mut line = Vec::with_capacity(o.json().len() + ty.len() + 24);
                line.extend_from_slice(b"{\"type\":\"");
                line.extend_from_slice(ty.as_bytes());
                line.extend_from_slice(b"\",\"object\":");
                line.extend_from_slice(o.json().as_bytes());
                line.extend_from_slice(b"}\n");
                return Bytes::from(line);
            }
            Sent::Stored(o) => Arc::new(o.value()),
            Sent::Parsed(v) => v.clone(),
        };
        let v = served(&obj, &self.info, &self.version);
        let object = if self.table {
            let row = table::row(
                &self.info.columns,
                &v,
                row_object(&v, self.include.as_deref()),
            );
            table::table(
                &self.info.columns,
                vec![row],
                meta_str(&v, "resourceVersion"),
                None,
                headers,
            )
        } else {
            v.into_owned()
        };
        let mut line =
            serde_json::to_vec(&json!({"type": ty, "object": object})).unwrap_or_default();
        line.push(b'\n');
        // the queue counts bytes: keep no doubling slack behind them
        line.shrink_to_fit();
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(&self.version), "metadata": meta});
        let mut line =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn watch(st: Arc<State>, t: &Target, q: &Query, as_table: bool) -> Result<Response, ApiError> {
    let ls = label_selector(q)?;
    let fs = FieldSelector::parse(
        q.get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    for (f, _, _) in &fs.terms {
        field_value(&t.info, &json!({}), f)?;
    }
    let filter = WatchFilter {
        info: t.info.clone(),
        version: t.version.clone(),
        key: resource_key(&t.info.group, &t.info.plural),
        namespace: t.namespace.clone(),
        ls,
        fs,
        table: as_table,
        include: q.get("includeObject").cloned(),
    };
    let bookmarks = truthy(q.get("allowWatchBookmarks"));
    let send_initial = q.get("sendInitialEvents").map(|s| s == "true");
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(1800);
    // initial: synthetic ADDED events of the current state (rv unset or "0", or
    // sendInitialEvents=true); otherwise a replay of the history after rv.
    let (initial, replay, start_rv, rx) =
        if rv_param.is_empty() || rv_param == "0" || send_initial == Some(true) {
            let (objs, rv, rx) = st
                .store
                .list_and_watch(&filter.key, filter.namespace.as_deref());
            (objs, Vec::new(), rv, rx)
        } else {
            let from: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
            })?;
            let (replay, rx) = st.store.watch(Some(from)).map_err(|e| match e {
                crate::store::StoreError::Gone { requested, oldest } => {
                    ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
                }
                other => ApiError::internal(other.to_string()),
            })?;
            (Vec::new(), replay, from, rx)
        };
    let queue = WatchQueue::new(st.watch_buffer);
    let q = queue.clone();
    let key = filter.key.clone();
    tokio::spawn(async move {
        // the body ends however this task ends, a panic included
        let _end = EndOnDrop(q.clone());
        let stop = run_watch(
            filter,
            initial,
            replay,
            start_rv,
            rx,
            &q,
            bookmarks,
            send_initial == Some(true),
            Duration::from_secs(timeout),
        )
        .await;
        if let Some(Stop::Slow) = stop {
            crate::log_warning(format!(
                "closing a watch of {key}: its client read nothing for {:?} with its queue full (as kube-apiserver's cacher forces unresponsive watchers closed)",
                q.limits.stall
            ));
        }
    });
    let mut r = Response::new(Body::new(WatchBody { queue }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Feeds one watch until it times out, the store closes, the client goes (`Some(Gone)`) or
/// stops reading (`Some(Slow)`).
#[allow(clippy::too_many_arguments)]
async fn run_watch(
    filter: WatchFilter,
    initial: Vec<Obj>,
    replay: Vec<Arc<Event>>,
    start_rv: u64,
    mut rx: broadcast::Receiver<Arc<Event>>,
    q: &WatchQueue,
    bookmarks: bool,
    initial_end: bool,
    timeout: Duration,
) -> Option<Stop> {
    let mut headers = true;
    let mut last_rv = start_rv;
    for o in &initial {
        if matches_stored(&filter.info, o, &filter.ls, &filter.fs).unwrap_or(false) {
            if let Err(stop) = q
                .push(filter.encode("ADDED", &Sent::Stored(o.clone()), headers))
                .await
            {
                return Some(stop);
            }
            headers = false;
        }
    }
    if initial_end
        && bookmarks
        && let Err(stop) = q.push(filter.bookmark(start_rv, true)).await
    {
        return Some(stop);
    }
    for ev in &replay {
        if let Some((ty, obj)) = filter.wants(ev) {
            if let Err(stop) = q.push(filter.encode(ty, &obj, headers)).await {
                return Some(stop);
            }
            headers = false;
        }
        last_rv = ev.rv;
    }
    drop(replay);
    drop(initial);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        let line = tokio::select! {
            _ = &mut deadline => return None,
            _ = tick.tick(), if bookmarks => filter.bookmark(last_rv, false),
            _ = q.gone() => return Some(Stop::Gone),
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if ev.rv <= last_rv {
                        continue;
                    }
                    last_rv = ev.rv;
                    match filter.wants(&ev) {
                        Some((ty, obj)) => {
                            let line = filter.encode(ty, &obj, headers);
                            headers = false;
                            line
                        }
                        None => continue,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // too slow: end with 410 so the client relists
                    let st = ApiError::gone("the watcher fell behind; too old resource version").to_status();
                    let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": st})).unwrap_or_default();
                    line.push(b'\n');
                    return q.push(Bytes::from(line)).await.err();
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        };
        if let Err(stop) = q.push(line).await {
            return Some(stop);
        }
    }
}
