//! Who is asking and may they (the I/O edge of `sluice_auth`): authentication of bearer
//! tokens (the server's admin token — `system:masters` —, the `--token-auth-file` users,
//! ServiceAccount JWTs whose ServiceAccount still exists with that uid), impersonation
//! (`Impersonate-User`/`-Group`/`-Uid`/`-Extra-*`, checked with the `impersonate` verb as
//! kube-apiserver's WithImpersonation filter), RBAC authorization of every request over the
//! stored Role/ClusterRole/RoleBinding/ClusterRoleBinding objects (an index rebuilt when
//! one of them changes), the review kinds' answers, TokenRequest, and escalation
//! prevention on RBAC writes (kubernetes pkg/registry/rbac/{role,clusterrole,rolebinding,
//! clusterrolebinding}/policybased).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method};
use serde_json::{Value, json};
use sluice_auth::UserInfo;
use sluice_auth::rbac::{Attributes, PolicyRule, Rbac};
use sluice_auth::sa::{KubeClaims, Ref, Signer};
use sluice_auth::tokenfile::TokenFile;

use crate::resources::ResourceInfo;
use crate::server::State;
use crate::status::{ApiError, group_resource};
use crate::store::resource_key;
use crate::util;

const RBAC: &str = "rbac.authorization.k8s.io";

/// The authenticators and the RBAC index.
#[derive(Default)]
pub struct Auth {
    pub tokens: Option<TokenFile>,
    pub signer: Option<Signer>,
    /// The longest TokenRequest (`--service-account-max-token-expiration`), seconds.
    pub max_token_seconds: i64,
    /// OpenID Connect ID tokens (`--oidc-*`, or Argo CD's `oidc.config`).
    pub oidc: std::sync::RwLock<Option<Arc<crate::oidc::Oidc>>>,
    index: Mutex<Option<(u64, Arc<Rbac>)>>,
    /// Argo CD's policy (argocd-rbac-cm), cached until a ConfigMap is written.
    pub argo: crate::argo_authz::ArgoCache,
}

impl Auth {
    pub fn new(tokens: Option<TokenFile>, signer: Option<Signer>) -> Self {
        Auth {
            tokens,
            signer,
            max_token_seconds: 48 * 3600,
            oidc: Default::default(),
            index: Mutex::new(None),
            argo: Default::default(),
        }
    }

    /// The OIDC authenticator, if configured.
    pub fn oidc(&self) -> Option<Arc<crate::oidc::Oidc>> {
        self.oidc.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The user of the server's admin token.
pub fn admin_user() -> UserInfo {
    UserInfo::new("sluice-admin", &["system:masters", "system:authenticated"])
}

fn is_master(u: &UserInfo) -> bool {
    u.groups.iter().any(|g| g == "system:masters")
}

fn keys() -> [String; 4] {
    [
        resource_key(RBAC, "roles"),
        resource_key(RBAC, "clusterroles"),
        resource_key(RBAC, "rolebindings"),
        resource_key(RBAC, "clusterrolebindings"),
    ]
}

/// The RBAC index of what is stored now (rebuilt only after an RBAC object changed).
pub fn rbac(st: &State) -> Arc<Rbac> {
    let k = keys();
    let refs: Vec<&str> = k.iter().map(String::as_str).collect();
    let rv = st.store.last_write(&refs);
    let mut g = st.auth.index.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, idx)) = g.as_ref()
        && *at == rv
    {
        return idx.clone();
    }
    let list = |key: &str| -> Vec<Value> {
        st.store
            .list(key, None, None)
            .0
            .iter()
            .map(|o| (**o).clone())
            .collect()
    };
    let idx = Arc::new(Rbac::new(
        &list(&k[0]),
        &list(&k[1]),
        &list(&k[2]),
        &list(&k[3]),
    ));
    *g = Some((rv, idx.clone()));
    idx
}

/// Stores the default ClusterRoles and ClusterRoleBindings that are missing (kube-apiserver
/// reconciles them on start; ones a user changed are left as they are).
pub fn bootstrap_rbac(st: &State) -> Result<(), crate::Error> {
    let now = util::now_rfc3339();
    for mut obj in sluice_auth::bootstrap::objects() {
        let plural = if obj["kind"] == "ClusterRole" {
            "clusterroles"
        } else {
            "clusterrolebindings"
        };
        let key = resource_key(RBAC, plural);
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
        if st.store.get(&key, "", &name).is_none() {
            obj["metadata"]["uid"] = json!(util::new_uid());
            obj["metadata"]["creationTimestamp"] = json!(now);
            st.store.create(&key, obj)?;
        }
    }
    Ok(())
}

fn now_secs() -> i64 {
    util::unix_now()
}

/// The user a bearer token belongs to, or None (401): the admin token, the token file,
/// ServiceAccount tokens, then OIDC ID tokens of the issuer, which may fetch the
/// provider's keys again when the token's key is new (bounded, rate-limited).
pub async fn authenticate(st: &State, token: &str) -> Option<UserInfo> {
    if let Some(u) = authenticate_local(st, token) {
        return Some(u);
    }
    let oidc = st.auth.oidc()?;
    Some(oidc.authenticate(token).await?.with_authenticated())
}

/// The user a bearer token belongs to, or None (401), without waiting on the network:
/// OIDC tokens are checked with the keys cached (TokenReview).
pub fn authenticate_token(st: &State, token: &str) -> Option<UserInfo> {
    if let Some(u) = authenticate_local(st, token) {
        return Some(u);
    }
    let oidc = st.auth.oidc()?;
    Some(oidc.authenticate_cached(token)?.with_authenticated())
}

/// The admin token, the token file's users and ServiceAccount tokens.
fn authenticate_local(st: &State, token: &str) -> Option<UserInfo> {
    if token.is_empty() {
        return None;
    }
    if sluice_auth::secret_eq(token.as_bytes(), st.token.as_bytes()) {
        return Some(admin_user());
    }
    if let Some(u) = st.auth.tokens.as_ref().and_then(|t| t.authenticate(token)) {
        return Some(u.clone().with_authenticated());
    }
    let signer = st.auth.signer.as_ref()?;
    let claims = match signer.verify(token, now_secs()) {
        Ok(c) => c,
        // an Argo CD project role token (argo_authz)
        Err(_) => {
            return crate::argo_authz::authenticate_project_token(st, signer, token, now_secs())
                .map(UserInfo::with_authenticated);
        }
    };
    // the ServiceAccount (and the pod it was bound to) must still exist with those uids
    let k = &claims.kubernetes;
    let sa = st
        .store
        .get("/serviceaccounts", &k.namespace, &k.serviceaccount.name)?;
    if sa.pointer("/metadata/uid").and_then(Value::as_str) != Some(&k.serviceaccount.uid) {
        return None;
    }
    if let Some(p) = &k.pod {
        let pod = st.store.get("/pods", &k.namespace, &p.name)?;
        if pod.pointer("/metadata/uid").and_then(Value::as_str) != Some(&p.uid) {
            return None;
        }
    }
    Some(claims.user().with_authenticated())
}

fn header_values(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// Applies the impersonation headers: the user the request acts as, after checking that
/// `user` may impersonate each part (kube-apiserver endpoints/filters/impersonation.go).
pub fn impersonate(st: &State, user: UserInfo, h: &HeaderMap) -> Result<UserInfo, ApiError> {
    let name = h
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let groups = header_values(h, "impersonate-group");
    let uid = h
        .get("impersonate-uid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let extra_keys: Vec<String> = h
        .keys()
        .filter_map(|k| {
            k.as_str()
                .strip_prefix("impersonate-extra-")
                .map(str::to_owned)
        })
        .collect();
    let Some(name) = name else {
        if !groups.is_empty() || uid.is_some() || !extra_keys.is_empty() {
            return Err(ApiError::internal(
                "requested impersonation of groups, uid or extras without impersonating a user",
            ));
        }
        return Ok(user);
    };
    let idx = if is_master(&user) {
        None
    } else {
        Some(rbac(st))
    };
    let check = |a: Attributes, gr: &str, what: &str| -> Result<(), ApiError> {
        if let Some(idx) = &idx
            && !idx.authorize(&user, &a).allowed
        {
            return Err(ApiError {
                details: Some(json!({"name": what, "kind": a.resource, "group": a.api_group})),
                ..ApiError::forbidden(format!(
                    "{gr} {what:?} is forbidden: {}",
                    a.forbidden_message(&user.username)
                ))
            });
        }
        Ok(())
    };
    let mut out = UserInfo {
        username: name.clone(),
        ..Default::default()
    };
    if let Some(rest) = name.strip_prefix("system:serviceaccount:")
        && let Some((ns, sa)) = rest.split_once(':')
    {
        check(
            Attributes::resource("impersonate", "", "serviceaccounts", ns).named(sa),
            "serviceaccounts",
            sa,
        )?;
        out.groups = vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
        ];
    } else {
        check(
            Attributes::resource("impersonate", "", "users", "").named(&name),
            "users",
            &name,
        )?;
    }
    for g in groups {
        check(
            Attributes::resource("impersonate", "", "groups", "").named(&g),
            "groups",
            &g,
        )?;
        if !out.groups.contains(&g) {
            out.groups.push(g);
        }
    }
    if let Some(uid) = uid {
        check(
            Attributes::resource("impersonate", "authentication.k8s.io", "uids", "").named(&uid),
            "uids.authentication.k8s.io",
            &uid,
        )?;
        out.uid = uid;
    }
    for k in extra_keys {
        let key = util::percent_decode(&k);
        let vals = header_values(h, &format!("impersonate-extra-{k}"));
        for v in &vals {
            check(
                Attributes::resource(
                    "impersonate",
                    "authentication.k8s.io",
                    &format!("userextras/{key}"),
                    "",
                )
                .named(v),
                "userextras.authentication.k8s.io",
                v,
            )?;
        }
        out.extra.insert(key, vals);
    }
    Ok(out.with_authenticated())
}

/// The attributes of a request, as kube-apiserver's RequestInfoFactory reads its path
/// (`/api/v1/namespaces/NS/RESOURCE/NAME/SUB`, `/apis/G/V/...`, `/api/v1/watch/...`).
pub fn attributes(method: &Method, path: &str, query: &str) -> Attributes {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(util::percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (group, mut rest) = match s.as_slice() {
        ["api", _v, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", g, _v, rest @ ..] if !rest.is_empty() => (*g, rest),
        _ => {
            let verb = match *method {
                Method::GET | Method::HEAD => "get".to_owned(),
                ref m => m.as_str().to_ascii_lowercase(),
            };
            return Attributes::non_resource(&verb, path);
        }
    };
    let mut watch_path = false;
    if rest.first() == Some(&"watch") {
        watch_path = true;
        rest = &rest[1..];
    }
    let mut ns = "";
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        ns = rest[1];
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let resource = rest.first().copied().unwrap_or("");
    let name = rest.get(1).copied().unwrap_or("");
    let sub = rest.get(2).copied().unwrap_or("");
    let watch = watch_path
        || query
            .split('&')
            .any(|kv| kv == "watch=true" || kv == "watch=1" || kv == "watch");
    let verb = match *method {
        Method::GET | Method::HEAD if watch => "watch",
        Method::GET | Method::HEAD if name.is_empty() => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name.is_empty() => "deletecollection",
        Method::DELETE => "delete",
        _ => "",
    };
    let full = if sub.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}/{sub}")
    };
    let mut a = Attributes::resource(verb, group, &full, ns).named(name);
    // a watch of one object names it in a field selector
    if a.name.is_empty()
        && let Some(sel) = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("fieldSelector="))
        && let Some(n) = util::percent_decode(sel).strip_prefix("metadata.name=")
        && !n.contains(',')
    {
        a.name = n.to_owned();
    }
    a
}

/// kube-apiserver's 403 for a denied request (`responsewriters.Forbidden`).
pub fn forbidden(a: &Attributes, user: &UserInfo) -> ApiError {
    let msg = a.forbidden_message(&user.username);
    if !a.resource_request {
        return ApiError::forbidden(format!("forbidden: {msg}"));
    }
    let gr = group_resource(&a.api_group, &a.resource);
    let message = if a.name.is_empty() {
        format!("{gr} is forbidden: {msg}")
    } else {
        format!("{gr} {:?} is forbidden: {msg}", a.name)
    };
    let mut d = json!({"name": a.name, "kind": a.resource});
    if !a.api_group.is_empty() {
        d["group"] = json!(a.api_group);
    }
    ApiError {
        details: Some(d),
        ..ApiError::forbidden(message)
    }
}

/// Whether `user` may do `a`.
pub fn allowed(st: &State, user: &UserInfo, a: &Attributes) -> bool {
    is_master(user) || rbac(st).authorize(user, a).allowed
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn user_json(u: &UserInfo) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

/// The `status` of an access review for `user`.
fn access_review(st: &State, user: &UserInfo, spec: &Value) -> Value {
    let a = if let Some(r) = spec.get("resourceAttributes") {
        let resource = str_at(r, "/resource");
        let sub = str_at(r, "/subresource");
        let full = if sub.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}/{sub}")
        };
        Attributes::resource(
            str_at(r, "/verb"),
            str_at(r, "/group"),
            &full,
            str_at(r, "/namespace"),
        )
        .named(str_at(r, "/name"))
    } else if let Some(n) = spec.get("nonResourceAttributes") {
        Attributes::non_resource(str_at(n, "/verb"), str_at(n, "/path"))
    } else {
        return json!({"allowed": false, "evaluationError": "spec.resourceAttributes or spec.nonResourceAttributes is required"});
    };
    if is_master(user) {
        return json!({"allowed": true, "reason": "sluice: system:masters may do everything"});
    }
    let d = rbac(st).authorize(user, &a);
    if d.allowed {
        json!({"allowed": true, "reason": d.reason})
    } else {
        json!({"allowed": false})
    }
}

/// Every verb on every resource and non-resource URL (what system:masters may do).
fn all_rules() -> Vec<PolicyRule> {
    vec![
        PolicyRule {
            verbs: vec!["*".into()],
            api_groups: vec!["*".into()],
            resources: vec!["*".into()],
            ..Default::default()
        },
        PolicyRule {
            verbs: vec!["*".into()],
            non_resource_urls: vec!["*".into()],
            ..Default::default()
        },
    ]
}

fn rules_review(st: &State, user: &UserInfo, ns: &str) -> Value {
    let rules = if is_master(user) {
        all_rules()
    } else {
        rbac(st).rules_for(user, ns)
    };
    let (nonres, res): (Vec<PolicyRule>, Vec<PolicyRule>) = rules
        .into_iter()
        .partition(|r| !r.non_resource_urls.is_empty());
    json!({
        "resourceRules": res.iter().map(|r| json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources, "resourceNames": r.resource_names})).collect::<Vec<_>>(),
        "nonResourceRules": nonres.iter().map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls})).collect::<Vec<_>>(),
        "incomplete": false,
    })
}

/// The `status` of a create-only review kind, answered for the requesting `user`.
pub fn review(
    st: &State,
    kind: &str,
    ns: Option<&str>,
    obj: &Value,
    user: &UserInfo,
) -> Result<Value, ApiError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    Ok(match kind {
        "SelfSubjectAccessReview" => access_review(st, user, &spec),
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let mut spec = spec;
            if kind == "LocalSubjectAccessReview" {
                let ns = ns.unwrap_or("");
                let sns = str_at(&spec, "/resourceAttributes/namespace");
                if spec.get("resourceAttributes").is_none() || (!sns.is_empty() && sns != ns) {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {ns}"
                    )));
                }
                spec["resourceAttributes"]["namespace"] = json!(ns);
            }
            let subject = UserInfo {
                username: str_at(&spec, "/user").to_owned(),
                uid: str_at(&spec, "/uid").to_owned(),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                extra: Default::default(),
            };
            if subject.username.is_empty() && subject.groups.is_empty() {
                return Err(ApiError::invalid(
                    "authorization.k8s.io",
                    kind,
                    "",
                    &sluice_core::FieldErrors::from(vec![sluice_core::FieldError::new(
                        "spec.user",
                        "Invalid value: \"\": at least one of user or group must be specified",
                    )]),
                ));
            }
            access_review(st, &subject, &spec)
        }
        "SelfSubjectRulesReview" => rules_review(st, user, str_at(&spec, "/namespace")),
        "SelfSubjectReview" => json!({"userInfo": user_json(user)}),
        "TokenReview" => {
            let token = str_at(&spec, "/token");
            match authenticate_token(st, token) {
                Some(u) => {
                    json!({"authenticated": true, "user": user_json(&u), "audiences": spec.get("audiences").cloned().unwrap_or(json!([]))})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        other => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({other})"
            )));
        }
    })
}

/// `POST .../serviceaccounts/NAME/token` (TokenRequest): a signed token for the
/// ServiceAccount, optionally bound to a Pod or Secret (core/serviceaccount/storage
/// token.go: at least 10 minutes, at most the server's maximum).
pub fn token_request(
    st: &State,
    ns: &str,
    sa_name: &str,
    mut req: Value,
) -> Result<Value, ApiError> {
    let Some(signer) = st.auth.signer.as_ref() else {
        return Err(ApiError::not_found("", "serviceaccounts/token", sa_name));
    };
    let sa = st
        .store
        .get("/serviceaccounts", ns, sa_name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", sa_name))?;
    let spec = req.get("spec").cloned().unwrap_or(json!({}));
    let mut seconds = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600);
    if seconds < 600 {
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            sa_name,
            &sluice_core::FieldErrors::from(vec![sluice_core::FieldError::new(
                "spec.expirationSeconds",
                format!(
                    "Invalid value: {seconds}: may not specify a duration less than 10 minutes"
                ),
            )]),
        ));
    }
    seconds = seconds.min(st.auth.max_token_seconds);
    let audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut pod = None;
    if let Some(b) = spec.get("boundObjectRef").filter(|b| b.is_object()) {
        let kind = str_at(b, "/kind");
        let name = str_at(b, "/name");
        let key = match kind {
            "Pod" => "/pods",
            "Secret" => "/secrets",
            other => {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token to object of type {other}"
                )));
            }
        };
        let obj = st
            .store
            .get(key, ns, name)
            .ok_or_else(|| ApiError::not_found("", &key[1..], name))?;
        let uid = str_at(&obj, "/metadata/uid").to_owned();
        let want = str_at(b, "/uid");
        if !want.is_empty() && want != uid {
            return Err(ApiError::conflict_msg(
                "",
                &key[1..],
                name,
                &format!(
                    "the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
        if kind == "Pod" {
            pod = Some(Ref {
                name: name.to_owned(),
                uid,
            });
        }
    }
    let claims = KubeClaims {
        namespace: ns.to_owned(),
        serviceaccount: Ref {
            name: sa_name.to_owned(),
            uid: str_at(&sa, "/metadata/uid").to_owned(),
        },
        pod,
    };
    let now = now_secs();
    let token = signer
        .issue(claims, &audiences, now, seconds, &util::new_uid())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let aud = if audiences.is_empty() {
        signer.audiences.clone()
    } else {
        audiences
    };
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    if req.get("metadata").is_none_or(|m| !m.is_object()) {
        req["metadata"] = json!({});
    }
    req["metadata"]["name"] = json!(sa_name);
    req["metadata"]["namespace"] = json!(ns);
    req["metadata"]["creationTimestamp"] = Value::Null;
    req["spec"]["audiences"] = json!(aud);
    req["spec"]["expirationSeconds"] = json!(seconds);
    req["status"] = json!({"token": token, "expirationTimestamp": util::rfc3339(now + seconds)});
    Ok(req)
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    obj.get("rules")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .unwrap_or_default()
}

fn escalation_error(
    info: &ResourceInfo,
    name: &str,
    user: &UserInfo,
    missing: &[PolicyRule],
) -> ApiError {
    let groups = user
        .groups
        .iter()
        .map(|g| format!("{g:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let rules = missing
        .iter()
        .map(sluice_auth::rbac::compact_string)
        .collect::<Vec<_>>()
        .join("\n");
    ApiError {
        details: Some(json!({"name": name, "group": RBAC, "kind": info.plural})),
        ..ApiError::forbidden(format!(
            "{} {name:?} is forbidden: user {:?} (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{rules}",
            group_resource(RBAC, &info.plural),
            user.username
        ))
    }
}

/// Checks an RBAC object about to be stored for `user`: kube-apiserver's validation of the
/// four kinds (422), then escalation: a Role/ClusterRole may only hold rules the user has
/// (where it applies) unless the user may `escalate`; a binding may only grant a role
/// whose rules the user has unless the user may `bind` it; an aggregationRule needs
/// everything.
pub fn check_rbac_write(
    st: &State,
    user: Option<&UserInfo>,
    info: &ResourceInfo,
    obj: &Value,
) -> Result<(), ApiError> {
    if info.group != RBAC {
        return Ok(());
    }
    let name = str_at(obj, "/metadata/name");
    let errs = sluice_auth::rbac::validate_object(obj);
    if !errs.is_empty() {
        let fe: Vec<sluice_core::FieldError> = errs
            .into_iter()
            .map(|(p, m)| sluice_core::FieldError::new(p.as_str(), m))
            .collect();
        return Err(ApiError::invalid(
            RBAC,
            &info.kind,
            name,
            &sluice_core::FieldErrors::from(fe),
        ));
    }
    let Some(user) = user else { return Ok(()) };
    if is_master(user) {
        return Ok(());
    }
    let ns = str_at(obj, "/metadata/namespace");
    let idx = rbac(st);
    let may = |verb: &str, plural: &str, name: &str| {
        idx.authorize(
            user,
            &Attributes::resource(verb, RBAC, plural, ns).named(name),
        )
        .allowed
    };
    match info.kind.as_str() {
        "Role" | "ClusterRole" => {
            if may("escalate", &info.plural, name) {
                return Ok(());
            }
            let owner = idx.rules_for(user, ns);
            let servant = if obj.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                all_rules()
            } else {
                rules_of(obj)
            };
            let (ok, missing) = sluice_auth::rbac::covers(&owner, &servant);
            if !ok {
                return Err(escalation_error(info, name, user, &missing));
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let kind = str_at(obj, "/roleRef/kind");
            let role = str_at(obj, "/roleRef/name");
            let plural = if kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            if may("bind", plural, role) {
                return Ok(());
            }
            let rules = idx
                .role(kind, ns, role)
                .ok_or_else(|| ApiError::not_found(RBAC, plural, role))?;
            let owner = idx.rules_for(user, ns);
            let (ok, missing) = sluice_auth::rbac::covers(&owner, &rules);
            if !ok {
                return Err(escalation_error(info, name, user, &missing));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kube-apiserver's RequestInfoFactory (apiserver/pkg/endpoints/request/requestinfo.go)
    /// on the path forms kubectl sends.
    #[test]
    fn request_attributes() {
        let a = |m: Method, p: &str, q: &str| {
            let x = attributes(&m, p, q);
            (
                x.verb,
                x.api_group,
                x.resource,
                x.subresource,
                x.namespace,
                x.name,
                x.resource_request,
            )
        };
        let s = |v: &str| v.to_owned();
        assert_eq!(
            a(Method::GET, "/api/v1/namespaces/dev/pods", ""),
            (s("list"), s(""), s("pods"), s(""), s("dev"), s(""), true)
        );
        assert_eq!(
            a(Method::GET, "/api/v1/namespaces/dev/pods/p1/log", ""),
            (
                s("get"),
                s(""),
                s("pods"),
                s("log"),
                s("dev"),
                s("p1"),
                true
            )
        );
        assert_eq!(
            a(Method::GET, "/apis/apps/v1/deployments", "watch=true"),
            (
                s("watch"),
                s("apps"),
                s("deployments"),
                s(""),
                s(""),
                s(""),
                true
            )
        );
        assert_eq!(
            a(
                Method::GET,
                "/api/v1/watch/namespaces/dev/configmaps",
                "fieldSelector=metadata.name%3Dx"
            ),
            (
                s("watch"),
                s(""),
                s("configmaps"),
                s(""),
                s("dev"),
                s("x"),
                true
            )
        );
        // a namespace is its own namespace; its status/finalize are subresources
        assert_eq!(
            a(Method::PUT, "/api/v1/namespaces/dev/finalize", ""),
            (
                s("update"),
                s(""),
                s("namespaces"),
                s("finalize"),
                s("dev"),
                s("dev"),
                true
            )
        );
        assert_eq!(
            a(
                Method::DELETE,
                "/apis/tekton.dev/v1/namespaces/ci/pipelineruns",
                ""
            ),
            (
                s("deletecollection"),
                s("tekton.dev"),
                s("pipelineruns"),
                s(""),
                s("ci"),
                s(""),
                true
            )
        );
        assert_eq!(
            a(
                Method::POST,
                "/api/v1/namespaces/ci/serviceaccounts/b/token",
                ""
            ),
            (
                s("create"),
                s(""),
                s("serviceaccounts"),
                s("token"),
                s("ci"),
                s("b"),
                true
            )
        );
        let nr = attributes(&Method::GET, "/apis/apps", "");
        assert!(!nr.resource_request);
        assert_eq!((nr.verb.as_str(), nr.path.as_str()), ("get", "/apis/apps"));
    }
}
