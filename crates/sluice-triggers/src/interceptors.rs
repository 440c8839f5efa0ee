//! Interceptors: the core ones Triggers ships as ClusterInterceptors (`gitlab`, `github`,
//! `bitbucket`, `slack`, `cel`), run in process, and the protocol for the others
//! (`InterceptorRequest` out, `InterceptorResponse` back) through an [`InterceptorCaller`].
//!
//! Upstream: tektoncd/triggers `pkg/interceptors/{gitlab,github,bitbucket,slack,cel}`,
//! `pkg/interceptors/interceptors.go`, `pkg/sink/sink.go` (`ExecuteInterceptors`).

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_apis::triggers::trigger::{
    CLUSTER_INTERCEPTOR_KIND, CORE_INTERCEPTORS, CelOverlay, GithubOptions,
    NAMESPACED_INTERCEPTOR_KIND, SecretRef, TriggerInterceptor,
};

use crate::Lookup;
use crate::cel::{self, CelInput, EvalError};
use crate::headers::Headers;

/// gRPC status codes, as interceptors report them (`google.golang.org/grpc/codes`).
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;

    /// The code's name (`codes.Code.String()`).
    pub fn name(code: i32) -> String {
        match code {
            0 => "OK",
            1 => "Canceled",
            2 => "Unknown",
            3 => "InvalidArgument",
            4 => "DeadlineExceeded",
            5 => "NotFound",
            6 => "AlreadyExists",
            7 => "PermissionDenied",
            8 => "ResourceExhausted",
            9 => "FailedPrecondition",
            10 => "Aborted",
            11 => "OutOfRange",
            12 => "Unimplemented",
            13 => "Internal",
            14 => "Unavailable",
            15 => "DataLoss",
            16 => "Unauthenticated",
            other => return format!("Code({other})"),
        }
        .to_owned()
    }
}

/// `InterceptorRequest` (v1beta1): what an interceptor receives, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterceptorRequest {
    /// The event body, verbatim (a signature is checked over these bytes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extensions: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub interceptor_params: Map<String, Value>,
    #[serde(default)]
    pub context: Option<TriggerContext>,
}

/// `TriggerContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerContext {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    /// `namespaces/<ns>/triggers/<name>` (or `.../triggerGroups/<name>`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trigger_id: String,
}

/// `InterceptorResponse`: continue or stop, extensions to add, and why it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterceptorResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Map<String, Value>>,
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    #[serde(default)]
    pub status: Status,
}

/// A gRPC-style status (`code`, `message`). The code may come as a number or a name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    #[serde(default, deserialize_with = "de_code")]
    pub code: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

fn de_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Number(n) => n.as_i64().and_then(|i| i32::try_from(i).ok()).unwrap_or(2),
        Value::String(s) => {
            let s = s.to_ascii_uppercase().replace('_', "");
            (0..=16)
                .find(|c| code::name(*c).to_ascii_uppercase() == s)
                .unwrap_or(2)
        }
        _ => 0,
    })
}

/// Where a call to a user interceptor goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterceptorTarget {
    /// `ClusterInterceptor`, `Interceptor`, or `Service` for an old-style webhook.
    pub kind: &'static str,
    pub name: String,
    pub url: String,
    /// PEM bundle of `spec.clientConfig.caBundle` (empty: the system roots / plain HTTP).
    pub ca_bundle: String,
}

/// The HTTP edge: the server performs interceptor calls; the engine only builds and reads
/// their JSON. Calls are blocking from the engine's view.
pub trait InterceptorCaller {
    /// POSTs `request` (an `InterceptorRequest` as JSON) to `target` and returns the body of
    /// a 200 answer; anything else is an error (`interceptor response was not 200: ...`).
    fn call_interceptor(
        &self,
        target: &InterceptorTarget,
        request: &[u8],
    ) -> Result<Vec<u8>, String>;

    /// An old-style `webhook` interceptor: POSTs the body with the headers, and returns the
    /// headers and body of a 200 answer, which replace the event's.
    fn call_webhook(
        &self,
        target: &InterceptorTarget,
        headers: &Headers,
        body: &[u8],
    ) -> Result<(Headers, Vec<u8>), String>;
}

/// A caller for deployments without user interceptors: every call fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCaller;

impl InterceptorCaller for NoCaller {
    fn call_interceptor(&self, t: &InterceptorTarget, _: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!(
            "calling interceptor {} ({}) is not available here",
            t.name, t.url
        ))
    }
    fn call_webhook(
        &self,
        t: &InterceptorTarget,
        _: &Headers,
        _: &[u8],
    ) -> Result<(Headers, Vec<u8>), String> {
        Err(format!(
            "calling webhook interceptor {} ({}) is not available here",
            t.name, t.url
        ))
    }
}

/// How an interceptor that said "stop" is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StopKind {
    /// The event is not for this trigger (event type, CEL filter false, a user interceptor).
    Filtered,
    /// The event failed an authenticity check (token, signature, missing header).
    Rejected,
    /// The interceptor could not do its job (bad params, missing Secret, CEL error).
    Error,
}

/// What a chain of interceptors leaves for the bindings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChainState {
    pub body: Vec<u8>,
    pub header: Headers,
    pub extensions: Map<String, Value>,
}

/// A chain's end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ChainEnd {
    Continue(ChainState),
    Stopped {
        interceptor: String,
        kind: StopKind,
        status: Status,
    },
    Failed(String),
}

/// Everything an interceptor may need besides the event.
pub(crate) struct ChainCtx<'a> {
    pub event_url: &'a str,
    pub event_id: &'a str,
    pub trigger_id: String,
    /// Namespace whose Secrets the core interceptors read (the trigger's).
    pub namespace: &'a str,
    /// The EventListener's namespace (NamespacedInterceptor lookups, as upstream).
    pub listener_namespace: &'a str,
    pub lookup: &'a dyn Lookup,
    pub caller: &'a dyn InterceptorCaller,
}

struct Verdict {
    resp: InterceptorResponse,
    kind: StopKind,
}

fn cont(extensions: Option<Map<String, Value>>) -> Verdict {
    Verdict {
        resp: InterceptorResponse {
            extensions,
            continue_: true,
            status: Status::default(),
        },
        kind: StopKind::Filtered,
    }
}

fn stop(kind: StopKind, code: i32, message: impl Into<String>) -> Verdict {
    Verdict {
        resp: InterceptorResponse {
            extensions: None,
            continue_: false,
            status: Status {
                code,
                message: message.into(),
            },
        },
        kind,
    }
}

/// The params the legacy inline interceptors of `v1alpha1` stand for, as `(name, params)`.
fn legacy_params(ic: &TriggerInterceptor) -> Option<(&'static str, Map<String, Value>)> {
    let scm = |name: &'static str, s: &sluice_apis::triggers::trigger::ScmInterceptor| {
        let mut p = Map::new();
        if let Some(r) = &s.secret_ref {
            p.insert(
                "secretRef".into(),
                serde_json::to_value(r).unwrap_or(Value::Null),
            );
        }
        if !s.event_types.is_empty() {
            p.insert("eventTypes".into(), Value::from(s.event_types.clone()));
        }
        (name, p)
    };
    if let Some(s) = &ic.github {
        return Some(scm("github", s));
    }
    if let Some(s) = &ic.gitlab {
        return Some(scm("gitlab", s));
    }
    if let Some(s) = &ic.bitbucket {
        return Some(scm("bitbucket", s));
    }
    if let Some(c) = &ic.cel {
        let mut p = Map::new();
        if !c.filter.is_empty() {
            p.insert("filter".into(), Value::String(c.filter.clone()));
        }
        if !c.overlays.is_empty() {
            p.insert(
                "overlays".into(),
                serde_json::to_value(&c.overlays).unwrap_or(Value::Null),
            );
        }
        return Some(("cel", p));
    }
    None
}

/// Runs `interceptors` in order (`ExecuteInterceptors`): each sees the previous ones'
/// extensions; the first that says stop ends the chain.
pub(crate) fn run_chain(
    interceptors: &[TriggerInterceptor],
    mut state: ChainState,
    ctx: &ChainCtx<'_>,
) -> ChainEnd {
    for ic in interceptors {
        let label = ic
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                if ic.webhook.is_some() && ic.r#ref.name.is_empty() {
                    "webhook".to_owned()
                } else {
                    ic.effective_name().to_owned()
                }
            });
        if ic.r#ref.name.is_empty()
            && let Some(w) = &ic.webhook
        {
            let url = match (&w.url, &w.object_ref) {
                (Some(u), _) => u.clone(),
                (None, Some(r)) => {
                    let ns = if r.namespace.is_empty() {
                        ctx.namespace
                    } else {
                        &r.namespace
                    };
                    format!("http://{}.{ns}.svc/", r.name)
                }
                (None, None) => {
                    return ChainEnd::Failed(format!(
                        "webhook interceptor {label}: neither url nor objectRef is set"
                    ));
                }
            };
            let mut body = state.body.clone();
            if !state.extensions.is_empty() {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(mut m)) => {
                        for (k, v) in &state.extensions {
                            set_path(&mut m, &format!("extensions.{k}"), v.clone());
                        }
                        body = serde_json::to_vec(&Value::Object(m)).unwrap_or(body);
                    }
                    _ => {
                        return ChainEnd::Failed(
                            "could not merge extensions with body: the body is not a JSON object"
                                .to_owned(),
                        );
                    }
                }
            }
            let mut headers = state.header.clone();
            for h in &w.header {
                match &h.value {
                    Value::String(s) => headers.append(&h.name, s.clone()),
                    Value::Array(a) => {
                        for s in a.iter().filter_map(Value::as_str) {
                            headers.append(&h.name, s);
                        }
                    }
                    _ => {}
                }
            }
            let target = InterceptorTarget {
                kind: "Service",
                name: label.clone(),
                url,
                ca_bundle: String::new(),
            };
            match ctx.caller.call_webhook(&target, &headers, &body) {
                Ok((h, b)) => {
                    state.header = h;
                    state.body = b;
                }
                Err(e) => return ChainEnd::Failed(format!("webhook interceptor {label}: {e}")),
            }
            continue;
        }
        let (name, kind, params) = if ic.r#ref.name.is_empty() {
            match legacy_params(ic) {
                Some((n, p)) => (n.to_owned(), CLUSTER_INTERCEPTOR_KIND, p),
                None => return ChainEnd::Failed(format!("interceptor {label}: no ref.name")),
            }
        } else {
            let params: Map<String, Value> = ic
                .params
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect();
            (ic.r#ref.name.clone(), ic.effective_kind(), params)
        };
        let request = InterceptorRequest {
            body: String::from_utf8_lossy(&state.body).into_owned(),
            header: state.header.0.clone(),
            extensions: state.extensions.clone(),
            interceptor_params: params,
            context: Some(TriggerContext {
                event_url: ctx.event_url.to_owned(),
                event_id: ctx.event_id.to_owned(),
                trigger_id: ctx.trigger_id.clone(),
            }),
        };
        let verdict =
            if kind == CLUSTER_INTERCEPTOR_KIND && CORE_INTERCEPTORS.contains(&name.as_str()) {
                core(&name, &request, &state, ctx)
            } else {
                match call_user(&name, kind, &request, ctx) {
                    Ok(v) => v,
                    Err(e) => return ChainEnd::Failed(e),
                }
            };
        if !verdict.resp.continue_ {
            return ChainEnd::Stopped {
                interceptor: label,
                kind: verdict.kind,
                status: verdict.resp.status,
            };
        }
        if let Some(ext) = verdict.resp.extensions {
            for (k, v) in ext {
                state.extensions.insert(k, v);
            }
        }
    }
    ChainEnd::Continue(state)
}

fn call_user(
    name: &str,
    kind: &str,
    request: &InterceptorRequest,
    ctx: &ChainCtx<'_>,
) -> Result<Verdict, String> {
    let (target, found) = match kind {
        NAMESPACED_INTERCEPTOR_KIND => {
            let ic = ctx.lookup.interceptor(ctx.listener_namespace, name);
            let t = ic.map(|i| {
                let url = i
                    .status
                    .as_ref()
                    .and_then(|s| s.pointer("/address/url"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| i.spec.client_config.address());
                (url, i.spec.client_config.ca_bundle.clone())
            });
            ("Interceptor", t)
        }
        _ => {
            let ic = ctx.lookup.cluster_interceptor(name);
            let t = ic.map(|i| {
                let url = i
                    .status
                    .as_ref()
                    .and_then(|s| s.pointer("/address/url"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| i.spec.client_config.address());
                (url, i.spec.client_config.ca_bundle.clone())
            });
            ("ClusterInterceptor", t)
        }
    };
    let (url, ca_bundle) = match found {
        Some((Some(u), ca)) => (u, ca),
        Some((None, _)) => {
            return Err(format!(
                "url resolution failed for interceptor {name} with: interceptor URL was nil"
            ));
        }
        None => {
            return Err(format!(
                "url resolution failed for interceptor {name} with: {} {name:?} not found",
                target.to_lowercase()
            ));
        }
    };
    let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let t = InterceptorTarget {
        kind: target,
        name: name.to_owned(),
        url,
        ca_bundle,
    };
    let raw = ctx.caller.call_interceptor(&t, &body)?;
    let resp: InterceptorResponse = serde_json::from_slice(&raw).map_err(|e| {
        format!("interceptor {name}: the response is not an InterceptorResponse: {e}")
    })?;
    Ok(Verdict {
        resp,
        kind: StopKind::Filtered,
    })
}

/// Parameters of the SCM interceptors (`GitHubInterceptor`, `GitLabInterceptor`,
/// `BitbucketInterceptor`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScmParams {
    #[serde(default)]
    secret_ref: Option<SecretRef>,
    #[serde(default)]
    event_types: Option<Vec<String>>,
    #[serde(default)]
    add_changed_files: Option<GithubOptions>,
    #[serde(default)]
    github_owners: Option<GithubOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CelParams {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    overlays: Option<Vec<CelOverlay>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlackParams {
    #[serde(default)]
    requested_fields: Option<Vec<String>>,
}

fn params<T: serde::de::DeserializeOwned>(req: &InterceptorRequest) -> Result<T, Verdict> {
    serde_json::from_value(Value::Object(req.interceptor_params.clone())).map_err(|e| {
        stop(
            StopKind::Error,
            code::INVALID_ARGUMENT,
            format!("failed to parse interceptor params: {e}"),
        )
    })
}

fn core(name: &str, req: &InterceptorRequest, state: &ChainState, ctx: &ChainCtx<'_>) -> Verdict {
    let r = match name {
        "gitlab" => gitlab(req, state, ctx),
        "github" => github(req, state, ctx),
        "bitbucket" => bitbucket(req, state, ctx),
        "slack" => slack(state, req),
        _ => cel_interceptor(req, state, ctx),
    };
    r.unwrap_or_else(|v| v)
}

fn event_type_allowed(allowed: &Option<Vec<String>>, actual: &str) -> Result<(), Verdict> {
    match allowed {
        Some(list) if !list.iter().any(|a| a == actual) => Err(stop(
            StopKind::Filtered,
            code::FAILED_PRECONDITION,
            format!("event type {actual} is not allowed"),
        )),
        _ => Ok(()),
    }
}

fn secret(ctx: &ChainCtx<'_>, r: &SecretRef) -> Result<Vec<u8>, String> {
    ctx.lookup
        .secret_value(ctx.namespace, &r.secret_name, &r.secret_key)
}

/// pkg/interceptors/gitlab/gitlab.go: event types against `X-Gitlab-Event`, then
/// `X-Gitlab-Token` compared in constant time with the Secret's key.
fn gitlab(
    req: &InterceptorRequest,
    state: &ChainState,
    ctx: &ChainCtx<'_>,
) -> Result<Verdict, Verdict> {
    let p: ScmParams = params(req)?;
    let h = &state.header;
    event_type_allowed(&p.event_types, h.get_or_empty("X-Gitlab-Event"))?;
    if let Some(r) = &p.secret_ref {
        if r.secret_key.is_empty() {
            return Err(stop(
                StopKind::Error,
                code::FAILED_PRECONDITION,
                "gitlab interceptor secretRef.secretKey is empty",
            ));
        }
        let token = h.get_or_empty("X-Gitlab-Token");
        if token.is_empty() {
            return Err(stop(
                StopKind::Rejected,
                code::INVALID_ARGUMENT,
                "no X-GitLab-Token header set",
            ));
        }
        let want = secret(ctx, r).map_err(|e| {
            stop(
                StopKind::Error,
                code::INTERNAL,
                format!("error getting secret: {e}"),
            )
        })?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            token.as_bytes(),
            want.as_slice(),
        )) {
            return Err(stop(
                StopKind::Rejected,
                code::INVALID_ARGUMENT,
                "Invalid X-GitLab-Token",
            ));
        }
    }
    Ok(cont(None))
}

/// go-github's `ValidateSignature`: `sha1=`, `sha256=` or `sha512=` and the hex HMAC of the
/// body with the secret.
pub(crate) fn validate_signature(
    signature: &str,
    payload: &[u8],
    secret: &[u8],
) -> Result<(), String> {
    if signature.is_empty() {
        return Err("missing signature".to_owned());
    }
    let Some((prefix, hex)) = signature.split_once('=') else {
        return Err(format!("error parsing signature {signature:?}"));
    };
    let mac = decode_hex(hex)
        .ok_or_else(|| format!("error decoding signature {signature:?}: invalid hex"))?;
    let ok = match prefix {
        "sha1" => verify::<hmac::Hmac<sha1::Sha1>>(secret, payload, &mac),
        "sha256" => verify::<hmac::Hmac<sha2::Sha256>>(secret, payload, &mac),
        "sha512" => verify::<hmac::Hmac<sha2::Sha512>>(secret, payload, &mac),
        other => return Err(format!("unknown hash type prefix: {other:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err("payload signature check failed".to_owned())
    }
}

fn verify<M: Mac + KeyInit>(secret: &[u8], payload: &[u8], mac: &[u8]) -> bool {
    match <M as KeyInit>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(payload);
            m.verify_slice(mac).is_ok()
        }
        Err(_) => false,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// pkg/interceptors/github/github.go.
fn github(
    req: &InterceptorRequest,
    state: &ChainState,
    ctx: &ChainCtx<'_>,
) -> Result<Verdict, Verdict> {
    let h = &state.header;
    if h.get_or_empty("Content-Type") == "application/x-www-form-urlencoded" {
        return Err(stop(
            StopKind::Error,
            code::INVALID_ARGUMENT,
            "form parameter encoding not supported, please change the hook to send JSON payloads",
        ));
    }
    let p: ScmParams = params(req)?;
    let actual = h.get_or_empty("X-GitHub-Event");
    event_type_allowed(&p.event_types, actual)?;
    if let Some(r) = &p.secret_ref {
        if r.secret_key.is_empty() {
            return Err(stop(
                StopKind::Error,
                code::FAILED_PRECONDITION,
                "github interceptor secretRef.secretKey is empty",
            ));
        }
        let mut sig = h.get_or_empty("X-Hub-Signature-256");
        if sig.is_empty() {
            sig = h.get_or_empty("X-Hub-Signature");
        }
        if sig.is_empty() {
            return Err(stop(
                StopKind::Rejected,
                code::FAILED_PRECONDITION,
                "Must set X-Hub-Signature-256 or X-Hub-Signature header",
            ));
        }
        let key = secret(ctx, r).map_err(|e| {
            stop(
                StopKind::Error,
                code::FAILED_PRECONDITION,
                format!("error getting secret: {e}"),
            )
        })?;
        validate_signature(sig, &state.body, &key)
            .map_err(|e| stop(StopKind::Rejected, code::FAILED_PRECONDITION, e))?;
    }
    if p.add_changed_files.as_ref().is_some_and(|o| o.enabled) {
        match actual {
            "push" => {
                let files = changed_files_of_push(&state.body).map_err(|e| {
                    stop(
                        StopKind::Error,
                        code::FAILED_PRECONDITION,
                        format!("error parsing body: {e}"),
                    )
                })?;
                let mut ext = Map::new();
                ext.insert("changed_files".into(), Value::String(files));
                return Ok(cont(Some(ext)));
            }
            "pull_request" => {
                return Err(stop(
                    StopKind::Error,
                    code::UNIMPLEMENTED,
                    "addChangedFiles for pull_request events lists the files through the GitHub API, which Sluice does not call",
                ));
            }
            _ => return Ok(cont(None)),
        }
    }
    if p.github_owners.as_ref().is_some_and(|o| o.enabled)
        && matches!(actual, "pull_request" | "issue_comment")
    {
        return Err(stop(
            StopKind::Error,
            code::UNIMPLEMENTED,
            "githubOwners checks membership through the GitHub API, which Sluice does not call",
        ));
    }
    Ok(cont(None))
}

/// `parseBodyForChangedFiles` for a push: every commit's added, modified and removed files,
/// joined with commas.
fn changed_files_of_push(body: &[u8]) -> Result<String, String> {
    if body.is_empty() {
        return Err("body is empty".to_owned());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let full = v.pointer("/repository/full_name").and_then(Value::as_str);
    if v.get("repository").is_none_or(|r| !r.is_object()) {
        return Err("payload body missing 'repository' field".to_owned());
    }
    if full.is_none() {
        return Err("payload body missing 'repository.full_name' field".to_owned());
    }
    let mut files = Vec::new();
    if let Some(commits) = v.get("commits").and_then(Value::as_array) {
        for c in commits {
            for f in ["added", "modified", "removed"] {
                let list = c
                    .get(f)
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("payload body missing 'commits.*.{f}' field"))?;
                files.extend(list.iter().map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            }
        }
    }
    Ok(files.join(","))
}

/// pkg/interceptors/bitbucket/bitbucket.go: event types against `X-Event-Key`, then the
/// `X-Hub-Signature` HMAC (Bitbucket Server).
fn bitbucket(
    req: &InterceptorRequest,
    state: &ChainState,
    ctx: &ChainCtx<'_>,
) -> Result<Verdict, Verdict> {
    let p: ScmParams = params(req)?;
    let h = &state.header;
    event_type_allowed(&p.event_types, h.get_or_empty("X-Event-Key"))?;
    if let Some(r) = &p.secret_ref {
        if r.secret_key.is_empty() {
            return Err(stop(
                StopKind::Error,
                code::FAILED_PRECONDITION,
                "bitbucket interceptor secretRef.secretKey is empty",
            ));
        }
        let sig = h.get_or_empty("X-Hub-Signature");
        if sig.is_empty() {
            return Err(stop(
                StopKind::Rejected,
                code::INVALID_ARGUMENT,
                "no X-Hub-Signature header set",
            ));
        }
        let key = secret(ctx, r).map_err(|e| {
            stop(
                StopKind::Error,
                code::INTERNAL,
                format!("error getting secret: {e}"),
            )
        })?;
        validate_signature(sig, &state.body, &key)
            .map_err(|e| stop(StopKind::Rejected, code::FAILED_PRECONDITION, e))?;
    }
    Ok(cont(None))
}

/// A form-urlencoded body as `url.ParseQuery` reads it: field -> values.
pub(crate) fn parse_form(body: &[u8]) -> BTreeMap<String, Vec<String>> {
    let text = String::from_utf8_lossy(body);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let v = crate::url::parse(&format!("?{text}")).unwrap_or(Value::Null);
    if let Some(m) = v.get("queryStrings").and_then(Value::as_object) {
        for (k, vals) in m {
            out.insert(
                k.clone(),
                vals.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            );
        }
    }
    out
}

/// pkg/interceptors/slack/slack.go: the requested fields of a form payload, as extensions.
fn slack(state: &ChainState, req: &InterceptorRequest) -> Result<Verdict, Verdict> {
    let h = &state.header;
    let missing = "missing header in payload: ContentType application/x-www-form-urlencoded";
    if h.get_or_empty("Content-Type") != "application/x-www-form-urlencoded" {
        return Err(stop(StopKind::Rejected, code::INVALID_ARGUMENT, missing));
    }
    if h.get_or_empty("X-Slack-Signature").is_empty() {
        return Err(stop(StopKind::Rejected, code::INVALID_ARGUMENT, missing));
    }
    let payload: BTreeMap<String, Vec<String>> =
        match serde_json::from_slice::<BTreeMap<String, Vec<String>>>(&state.body) {
            Ok(m) => m,
            Err(_) => parse_form(&state.body),
        };
    let p: SlackParams = params(req)?;
    let Some(fields) = p.requested_fields else {
        return Err(stop(
            StopKind::Error,
            code::NOT_FOUND,
            "missing requested field definition",
        ));
    };
    let mut ext = Map::new();
    for f in fields {
        match payload.get(&f) {
            Some(v) => {
                ext.insert(f, Value::from(v.clone()));
            }
            None => {
                let shown: Vec<String> = payload
                    .iter()
                    .map(|(k, v)| format!("{k}:[{}]", v.join(" ")))
                    .collect();
                return Err(stop(
                    StopKind::Filtered,
                    code::NOT_FOUND,
                    format!(
                        "requested field does not exists in payload map[{}]",
                        shown.join(" ")
                    ),
                ));
            }
        }
    }
    Ok(cont(Some(ext)))
}

/// The body as the cel interceptor and bindings see it: JSON, `{}` when empty, a
/// form-urlencoded body as a map of value lists.
pub(crate) fn body_json(body: &[u8], header: &Headers) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) => {
            if header.get_or_empty("Content-Type") == "application/x-www-form-urlencoded" {
                Ok(serde_json::to_value(parse_form(body)).unwrap_or(Value::Null))
            } else {
                Err(e.to_string())
            }
        }
    }
}

/// pkg/interceptors/cel/cel.go: `filter` must be true; each overlay's value is set at its key
/// in the extensions.
fn cel_interceptor(
    req: &InterceptorRequest,
    state: &ChainState,
    ctx: &ChainCtx<'_>,
) -> Result<Verdict, Verdict> {
    let p: CelParams = params(req)?;
    let body = body_json(&state.body, &state.header).map_err(|e| {
        stop(
            StopKind::Error,
            code::INVALID_ARGUMENT,
            format!("error making the evaluation context: failed to parse the body as JSON: {e}"),
        )
    })?;
    let input = CelInput {
        body: &body,
        header: &state.header.0,
        extensions: &state.extensions,
        request_url: ctx.event_url,
        namespace: ctx.namespace,
    };
    let lookup = ctx.lookup;
    let secret = |ns: &str, name: &str, key: &str| lookup.secret_value(ns, name, key);
    let describe = |expr: &str, e: EvalError| match e {
        EvalError::Parse(m) => {
            format!("error evaluating cel expression: failed to parse expression {expr:?}: {m}")
        }
        EvalError::Eval(m) => {
            format!("error evaluating cel expression: expression {expr:?} failed to evaluate: {m}")
        }
    };
    let filter = p.filter.as_deref().filter(|f| !f.is_empty());
    let overlays = p.overlays.unwrap_or_default();
    let exprs: Vec<&str> = overlays.iter().map(|o| o.expression.as_str()).collect();
    let (filtered, results) = cel::evaluate_interceptor(filter, &exprs, &input, &secret)
        .map_err(|e| stop(StopKind::Error, code::INTERNAL, e))?;
    if let (Some(filter), Some(out)) = (filter, filtered) {
        match out {
            Ok(Value::Bool(true)) => {}
            Ok(_) => {
                return Err(stop(
                    StopKind::Filtered,
                    code::FAILED_PRECONDITION,
                    format!("expression {filter} did not return true"),
                ));
            }
            Err(e) => {
                return Err(stop(
                    StopKind::Error,
                    code::INVALID_ARGUMENT,
                    describe(filter, e),
                ));
            }
        }
    }
    if overlays.is_empty() {
        return Ok(cont(None));
    }
    let mut ext = Map::new();
    for (o, r) in overlays.iter().zip(results) {
        match r {
            Ok(v) => set_path(&mut ext, &o.key, v),
            Err(e) => {
                return Err(stop(
                    StopKind::Error,
                    code::INVALID_ARGUMENT,
                    describe(&o.expression, e),
                ));
            }
        }
    }
    Ok(cont(Some(ext)))
}

/// `sjson.SetRawBytes(obj, key, value)` for the keys overlays use: dot-separated, `\.` for a
/// literal dot; missing objects are created, a non-object on the way is replaced.
pub(crate) fn set_path(obj: &mut Map<String, Value>, key: &str, value: Value) {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some() => {
                if let (Some(last), Some(n)) = (parts.last_mut(), chars.next()) {
                    last.push(n);
                }
            }
            '.' => parts.push(String::new()),
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    let mut cur = obj;
    let n = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        if i + 1 == n {
            cur.insert(part, value);
            return;
        }
        let entry = cur.entry(part).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Object(m) => cur = m,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // go-github ValidateSignature, as the github and bitbucket interceptors use it; the
    // signatures are those of tektoncd/triggers examples/v1beta1/github (secret "1234567").
    #[test]
    fn signatures() {
        let body = br#"{"action": "opened", "pull_request":{"head":{"sha": "28911bbb5a3e2ea034daf1f6be0a822d50e31e73"}},"repository":{"clone_url": "https://github.com/tektoncd/triggers.git"}}"#;
        assert_eq!(
            validate_signature(
                "sha256=c26dd919ebe335852219c49f74c4b24f1c62c93c77294be3ac6d8f2e4691a023",
                body,
                b"1234567"
            ),
            Ok(())
        );
        assert_eq!(
            validate_signature(
                "sha256=c26dd919ebe335852219c49f74c4b24f1c62c93c77294be3ac6d8f2e4691a024",
                body,
                b"1234567"
            ),
            Err("payload signature check failed".to_owned())
        );
        assert_eq!(
            validate_signature("md5=00", body, b"k"),
            Err("unknown hash type prefix: \"md5\"".to_owned())
        );
        assert!(validate_signature("sha1", body, b"k").is_err());
        assert!(validate_signature("sha1=zz", body, b"k").is_err());
    }

    // sjson paths as overlays use them (pkg/interceptors/cel/cel_test.go "overlays").
    #[test]
    fn overlay_keys() {
        let mut m = Map::new();
        set_path(&mut m, "a.b", json!(1));
        set_path(&mut m, "a.c", json!("x"));
        set_path(&mut m, "d\\.e", json!(true));
        set_path(&mut m, "short_sha", json!("abc"));
        assert_eq!(
            Value::Object(m),
            json!({"a": {"b": 1, "c": "x"}, "d.e": true, "short_sha": "abc"})
        );
    }

    #[test]
    fn wire_shapes() {
        let req = InterceptorRequest {
            body: "{}".into(),
            header: BTreeMap::from([("X-A".into(), vec!["1".into()])]),
            extensions: Map::new(),
            interceptor_params: Map::from_iter([("p".to_owned(), json!(1))]),
            context: Some(TriggerContext {
                event_url: "http://el".into(),
                event_id: "e".into(),
                trigger_id: "namespaces/ns/triggers/t".into(),
            }),
        };
        assert_eq!(
            serde_json::to_value(&req).expect("json"),
            json!({"body": "{}", "header": {"X-A": ["1"]}, "interceptor_params": {"p": 1},
                   "context": {"event_url": "http://el", "event_id": "e", "trigger_id": "namespaces/ns/triggers/t"}})
        );
        let resp: InterceptorResponse = serde_json::from_value(
            json!({"continue": false, "status": {"code": "FAILED_PRECONDITION", "message": "no"}}),
        )
        .expect("decodes");
        assert_eq!(resp.status.code, code::FAILED_PRECONDITION);
        let resp: InterceptorResponse =
            serde_json::from_value(json!({"continue": true, "extensions": {"a": 1}}))
                .expect("decodes");
        assert!(resp.continue_);
        assert_eq!(code::name(9), "FailedPrecondition");
    }

    #[test]
    fn form_bodies() {
        let f = parse_form(b"text=main+2222&command=%2Fbuild&&x=1&x=2");
        assert_eq!(f["text"], ["main 2222"]);
        assert_eq!(f["command"], ["/build"]);
        assert_eq!(f["x"], ["1", "2"]);
    }
}
