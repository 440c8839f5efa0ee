//! Argo CD's RBAC on the application API (the I/O edge of `sluice_auth::argocd_map`): the
//! policy of the stored argocd-rbac-cm (with argocd-cm's tracking label) cached until a
//! ConfigMap is written, consulted for a request Kubernetes RBAC denied. A request is
//! allowed when either allows: deny lines deny only within Argo CD's decision, never what
//! a Role grants. Lists and watches Argo CD allows are filtered per item (Argo CD's List
//! filters), and repository/cluster Secrets shown through it lose their credentials.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::http::header;
use bytes::{Bytes, BytesMut};
use serde_json::Value;
use sluice_auth::UserInfo;
use sluice_auth::argocd::Policy;
use sluice_auth::argocd_map::{self, Check, ItemKind, Lookup, Mapped, Settings};
use sluice_auth::rbac::Attributes;

use crate::server::State;
use crate::store::resource_key;

/// The policy loaded from the store, and what it was loaded from.
#[derive(Default)]
pub struct ArgoCache {
    inner: Mutex<Option<Loaded>>,
    /// project -> (its resourceVersion, the global policy it extends, the runtime policy)
    projects: Mutex<std::collections::HashMap<String, ProjectPolicy>>,
}

/// A project's resourceVersion, the global policy it extends (its address) and the
/// runtime policy.
type ProjectPolicy = (String, usize, Arc<Policy>);

#[derive(Clone)]
struct Loaded {
    /// `Store::last_write` of ConfigMaps when loaded.
    at: u64,
    /// resourceVersions of argocd-rbac-cm and argocd-cm.
    rvs: (String, String),
    policy: Option<Arc<Policy>>,
    settings: Arc<Settings>,
}

/// The `extra` of a project role token's user (set by authentication only).
pub const PROJECT_TOKEN_EXTRA: &str = "sluice.dev/argocd-project-role";

/// The argocd namespace's ConfigMaps (Sluice's Argo CD lives in `argocd`, as the seed).
const NAMESPACE: &str = "argocd";

fn data(cm: &Value) -> std::collections::BTreeMap<String, String> {
    cm.get("data")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn rv(v: Option<&Value>) -> String {
    v.and_then(|v| v.pointer("/metadata/resourceVersion"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// The Argo CD policy now in force (None: no argocd-rbac-cm, Argo CD's RBAC is off) and
/// the settings. A policy.csv that does not load is logged and the last one that did stays
/// in force (none before it: nothing is allowed through Argo CD's RBAC).
pub fn policy(st: &State) -> (Option<Arc<Policy>>, Arc<Settings>) {
    let key = resource_key("", "configmaps");
    let at = st.store.last_write(&[key.as_str()]);
    let mut g = st.auth.argo.inner.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = g.as_ref()
        && l.at == at
    {
        return (l.policy.clone(), l.settings.clone());
    }
    let rbac_cm = st.store.get(&key, NAMESPACE, "argocd-rbac-cm");
    let argocd_cm = st.store.get(&key, NAMESPACE, "argocd-cm");
    let rvs = (rv(rbac_cm.as_deref()), rv(argocd_cm.as_deref()));
    if let Some(l) = g.as_mut()
        && l.rvs == rvs
    {
        l.at = at;
        return (l.policy.clone(), l.settings.clone());
    }
    let mut settings = Settings {
        namespace: NAMESPACE.to_owned(),
        ..Default::default()
    };
    if let Some(k) = argocd_cm
        .as_deref()
        .and_then(|c| c.pointer("/data/application.instanceLabelKey"))
        .and_then(Value::as_str)
        .filter(|k| !k.trim().is_empty())
    {
        settings.instance_label = k.trim().to_owned();
    }
    let previous = g.as_ref().and_then(|l| l.policy.clone());
    let policy = match rbac_cm.as_deref() {
        None => None,
        Some(cm) => {
            match Policy::from_configmap_data(&data(cm), "configmap argocd/argocd-rbac-cm") {
                Ok((p, _warnings)) => Some(Arc::new(p)),
                Err(e) => {
                    crate::log_warning(format!(
                        "Argo CD RBAC: {e}; keeping the last policy that loaded"
                    ));
                    previous
                }
            }
        }
    };
    let l = Loaded {
        at,
        rvs,
        policy: policy.clone(),
        settings: Arc::new(settings),
    };
    let out = (policy, l.settings.clone());
    *g = Some(l);
    out
}

struct StoreLookup<'a>(&'a State);

impl Lookup for StoreLookup<'_> {
    fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.0
            .store
            .get(&resource_key(group, plural), namespace, name)
            .map(|v| (*v).clone())
    }
}

/// Whether a request's body matters to the mapping (so the caller reads it first).
pub fn needs_body(a: &Attributes) -> bool {
    a.resource_request
        && matches!(a.verb.as_str(), "create" | "update" | "patch")
        && a.subresource.is_empty()
        && match (a.api_group.as_str(), a.resource.as_str()) {
            ("argoproj.io", "applications" | "applicationsets" | "appprojects") => true,
            ("", "secrets") => a.namespace == NAMESPACE,
            _ => false,
        }
}

/// A list or watch to filter: who asks and what.
#[derive(Clone)]
pub struct ItemFilter {
    kind: ItemKind,
    enf: Enforcer,
    settings: Arc<Settings>,
}

/// Argo CD's answer for a request Kubernetes RBAC denied.
pub enum Decision {
    Allow,
    Filter(ItemFilter),
    Deny,
}

/// Who asks, under which policy.
#[derive(Clone)]
struct Enforcer {
    policy: Arc<Policy>,
    subjects: Arc<Vec<String>>,
    /// A project role token's project: it acts on that project's objects only.
    token_project: Option<String>,
    /// The subjects' roles in the global policy, resolved once.
    prepared: Arc<sluice_auth::argocd::Prepared>,
}

/// The global policy with `project`'s roles (Argo CD's runtime policy), cached per
/// project resourceVersion; None when the project has no role lines.
fn runtime_policy(st: &State, base: &Arc<Policy>, project: &str) -> Option<Arc<Policy>> {
    let proj = st.store.get(
        &resource_key("argoproj.io", "appprojects"),
        NAMESPACE,
        project,
    )?;
    let rv = rv(Some(&proj));
    let base_id = Arc::as_ptr(base) as usize;
    let mut g = st
        .auth
        .argo
        .projects
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((r, b, p)) = g.get(project)
        && *r == rv
        && *b == base_id
    {
        return Some(p.clone());
    }
    let text = sluice_auth::argocd_token::project_policy(&proj);
    if text.is_empty() {
        g.remove(project);
        return None;
    }
    match base.with_text(&format!("appproject {project}: spec.roles"), &text) {
        Ok(p) => {
            let p = Arc::new(p);
            if g.len() > 4096 {
                g.clear();
            }
            g.insert(project.to_owned(), (rv, base_id, p.clone()));
            Some(p)
        }
        Err(e) => {
            crate::log_warning(format!(
                "Argo CD RBAC: {e}; the project's roles are ignored"
            ));
            None
        }
    }
}

impl Enforcer {
    fn allows(&self, st: &State, c: &Check) -> bool {
        let project = sluice_auth::argocd_token::project_of(c.resource, &c.object);
        if let Some(tp) = &self.token_project
            && project.as_deref() != Some(tp.as_str())
        {
            return false;
        }
        match project.and_then(|p| runtime_policy(st, &self.policy, &p)) {
            Some(p) => p.enforce(&self.subjects, c.resource, &c.action, &c.object),
            None => self
                .policy
                .enforce_prepared(&self.prepared, c.resource, &c.action, &c.object),
        }
    }
}

/// Argo CD's decision for `user`'s request `a` with its decoded `body`.
pub fn authorize(st: &State, user: &UserInfo, a: &Attributes, body: Option<&Value>) -> Decision {
    let (Some(policy), settings) = policy(st) else {
        return Decision::Deny;
    };
    // only a project role token's user is a `proj:` subject: a token-file or OIDC user
    // named so gets no role's rights
    let is_token = user
        .extra
        .get(PROJECT_TOKEN_EXTRA)
        .is_some_and(|v| v.len() == 1 && v[0] == user.username);
    let token_project = sluice_auth::argocd_token::parse_subject(&user.username)
        .filter(|_| is_token)
        .map(|(p, _)| p.to_owned());
    let mut subjects = argocd_map::user_subjects(user);
    subjects.retain(|s| is_token || !s.starts_with("proj:"));
    let enf = Enforcer {
        prepared: Arc::new(policy.prepare(&subjects)),
        policy,
        subjects: Arc::new(subjects),
        token_project,
    };
    match argocd_map::map_request(a, body, &StoreLookup(st), &settings) {
        Mapped::NotArgo => Decision::Deny,
        Mapped::All(checks) => {
            if !checks.is_empty() && checks.iter().all(|c| enf.allows(st, c)) {
                if a.resource == "secrets" && matches!(a.verb.as_str(), "get" | "watch") {
                    // shown without credentials, as Argo CD's API shows repositories
                    return Decision::Filter(ItemFilter {
                        kind: ItemKind::Secrets,
                        enf,
                        settings,
                    });
                }
                Decision::Allow
            } else {
                Decision::Deny
            }
        }
        Mapped::Filter(kind) => Decision::Filter(ItemFilter {
            kind,
            enf,
            settings,
        }),
    }
}

impl ItemFilter {
    /// Whether `item` (a listed object, or a Table row's object) is shown; Secrets are
    /// redacted in place.
    fn keep(&self, st: &State, item: &mut Value) -> bool {
        let ns = item
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (g, p) = match self.kind {
            ItemKind::Applications => ("argoproj.io", "applications"),
            ItemKind::ApplicationSets => ("argoproj.io", "applicationsets"),
            ItemKind::Projects => ("argoproj.io", "appprojects"),
            ItemKind::Secrets => ("", "secrets"),
        };
        // a Table row carries metadata only: decide on the stored object then (a store
        // read parses the object: skipped when the item has what the check reads)
        let partial = match self.kind {
            ItemKind::Applications | ItemKind::ApplicationSets => item.get("spec").is_none(),
            ItemKind::Projects => false,
            ItemKind::Secrets => item.get("data").is_none() && item.get("stringData").is_none(),
        };
        let stored = if partial {
            st.store.get(&resource_key(g, p), ns, name)
        } else {
            None
        };
        let basis = stored.as_deref().unwrap_or(item);
        let Some(c) = argocd_map::item_check(self.kind, basis, &self.settings) else {
            return false;
        };
        if !self.enf.allows(st, &c) {
            return false;
        }
        if self.kind == ItemKind::Secrets {
            argocd_map::redact_secret(item);
        }
        true
    }

    fn filter_value(&self, st: &State, v: &mut Value) -> bool {
        if v.get("kind").and_then(Value::as_str) == Some("Table") {
            if let Some(rows) = v.get_mut("rows").and_then(Value::as_array_mut) {
                rows.retain_mut(|r| match r.get_mut("object") {
                    Some(o) => self.keep(st, o),
                    None => false,
                });
                return !rows.is_empty();
            }
            return true;
        }
        if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
            items.retain_mut(|i| self.keep(st, i));
            return true;
        }
        self.keep(st, v)
    }

    /// A list (or Table) response body filtered.
    pub fn filter_list(&self, st: &State, body: &[u8]) -> Option<Bytes> {
        let mut v: Value = serde_json::from_slice(body).ok()?;
        self.filter_value(st, &mut v);
        serde_json::to_vec(&v).ok().map(Bytes::from)
    }

    /// One watch event line filtered (None: dropped).
    fn filter_event(&self, st: &State, line: &[u8]) -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_slice(line).ok()?;
        if v.get("type").and_then(Value::as_str) == Some("BOOKMARK")
            || v.get("type").and_then(Value::as_str) == Some("ERROR")
        {
            return Some(line.to_vec());
        }
        let o = v.get_mut("object")?;
        if !self.filter_value(st, o) {
            return None;
        }
        let mut out = serde_json::to_vec(&v).ok()?;
        out.push(b'\n');
        Some(out)
    }
}

/// Applies a filter to a response: a JSON list or Table is rewritten; a watch stream is
/// filtered event by event.
pub fn filter_response(
    st: Arc<State>,
    f: ItemFilter,
    watch: bool,
    r: axum::response::Response,
) -> axum::response::Response {
    if !r.status().is_success() {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if watch {
        let b = FilterBody {
            inner: body,
            buf: BytesMut::new(),
            st,
            f,
            done: false,
        };
        return axum::response::Response::from_parts(parts, Body::new(b));
    }
    let fut = async move {
        let bytes = axum::body::to_bytes(body, usize::MAX).await.ok()?;
        f.filter_list(&st, &bytes)
    };
    let stream = futures_once(fut);
    axum::response::Response::from_parts(parts, Body::new(stream))
}

/// A body of one chunk computed by a future (the filtered list).
struct OnceBody<F> {
    fut: Option<Pin<Box<F>>>,
}

fn futures_once<F: std::future::Future<Output = Option<Bytes>> + Send + 'static>(
    fut: F,
) -> OnceBody<F> {
    OnceBody {
        fut: Some(Box::pin(fut)),
    }
}

impl<F: std::future::Future<Output = Option<Bytes>> + Send + 'static> http_body::Body
    for OnceBody<F>
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let Some(fut) = self.fut.as_mut() else {
            return Poll::Ready(None);
        };
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(b) => {
                self.fut = None;
                Poll::Ready(Some(Ok(http_body::Frame::data(
                    b.unwrap_or_else(|| Bytes::from_static(b"{}")),
                ))))
            }
        }
    }
}

/// A watch body filtered line by line (each event is one JSON line).
struct FilterBody {
    inner: Body,
    buf: BytesMut,
    st: Arc<State>,
    f: ItemFilter,
    done: bool,
}

impl http_body::Body for FilterBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        loop {
            // complete lines first
            let mut out = Vec::new();
            while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1);
                if let Some(l) = self.f.filter_event(&self.st, &line) {
                    out.extend_from_slice(&l);
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(out)))));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    if !self.buf.is_empty() {
                        let rest = self.buf.split();
                        if let Some(l) = self.f.filter_event(&self.st, &rest) {
                            return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(l)))));
                        }
                    }
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(d) = frame.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
            }
        }
    }
}

/// `POST .../appprojects/NAME/token` (Sluice's form of argo-cd's
/// `/api/v1/projects/{project}/roles/{role}/token`): body `{"role", "expiresIn"
/// (seconds, 0 never), "id"?}`; mints a token signed with the server's key and records it in
/// the role's `jwtTokens` (argo-cd server/project `CreateToken`). Answers `{"token", "iat",
/// "exp"?, "id"}`.
pub fn create_project_token(
    st: &State,
    info: &crate::resources::ResourceInfo,
    version: &str,
    ns: &str,
    name: &str,
    req: &Value,
    opts: &crate::ops::WriteOpts,
) -> Result<Value, crate::status::ApiError> {
    use crate::status::ApiError;
    use sluice_auth::argocd_token as tok;
    let Some(signer) = st.auth.signer.as_ref() else {
        return Err(ApiError::not_found(&info.group, "appprojects/token", name));
    };
    let role = req.get("role").and_then(Value::as_str).unwrap_or("");
    if role.is_empty() {
        return Err(ApiError::bad_request("role is required"));
    }
    let expires_in = req.get("expiresIn").and_then(Value::as_i64).unwrap_or(0);
    if expires_in < 0 {
        return Err(ApiError::bad_request("expiresIn must not be negative"));
    }
    let id = match req.get("id").and_then(Value::as_str) {
        Some(i) if !i.is_empty() => i.to_owned(),
        _ => crate::util::new_uid(),
    };
    let key = resource_key(&info.group, &info.plural);
    for _ in 0..5 {
        let stored = st
            .store
            .get(&key, ns, name)
            .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
        let mut proj = (*stored).clone();
        // tokens of one project issued in the same second differ by iat, as Argo CD's
        let mut now = crate::util::unix_now();
        while tok::role(&proj, role)
            .and_then(|r| r.get("jwtTokens"))
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|t| t.get("iat").and_then(Value::as_i64) == Some(now))
            })
        {
            now += 1;
        }
        let claims = tok::new_claims(name, role, now, expires_in, &id);
        tok::record(&mut proj, &claims).map_err(|e| match e {
            tok::TokenError::NoRole { .. } => ApiError::not_found(&info.group, "roles", role),
            other => ApiError::bad_request(other.to_string()),
        })?;
        if let Some(m) = proj.as_object_mut() {
            m.remove("status");
        }
        match st.update(info, version, ns, name, proj, None, opts) {
            Ok(_) => {
                let token = signer
                    .sign(&claims)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                let mut out =
                    serde_json::json!({"token": token, "iat": claims.iat, "id": claims.jti});
                if let Some(e) = claims.exp {
                    out["exp"] = serde_json::json!(e);
                }
                return Ok(out);
            }
            Err(e) if e.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict_msg(
        &info.group,
        &info.plural,
        name,
        "the project kept changing; try again",
    ))
}

/// The user of a project role token still listed in its project (None: not one, or
/// revoked, expired, or its project or role gone).
pub fn authenticate_project_token(
    st: &State,
    signer: &sluice_auth::sa::Signer,
    token: &str,
    now: i64,
) -> Option<UserInfo> {
    use sluice_auth::argocd_token as tok;
    let claims: tok::ProjectClaims = signer.decode(token, tok::ISSUER).ok()?;
    if !tok::times_hold(&claims, now) {
        return None;
    }
    let (project, _) = tok::parse_subject(&claims.sub)?;
    let proj = st.store.get(
        &resource_key("argoproj.io", "appprojects"),
        NAMESPACE,
        project,
    )?;
    if !tok::is_listed(&proj, &claims) {
        return None;
    }
    let mut u = UserInfo {
        username: claims.sub.clone(),
        uid: claims.jti.clone(),
        ..Default::default()
    };
    u.extra
        .insert(PROJECT_TOKEN_EXTRA.to_owned(), vec![claims.sub.clone()]);
    Some(u)
}
