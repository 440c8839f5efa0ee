//! What Argo CD's RBAC says about a Kubernetes API request: the request (verb, resource,
//! name, body) mapped to the `(resource, action, object)` Argo CD's API server enforces for
//! the same operation (argo-cd server/application, server/project, server/repository,
//! server/cluster, server/applicationset; the object forms of docs operator-manual/rbac.md:
//! `<project>/<application>` — `<project>/<namespace>/<application>` for an Application
//! outside Argo CD's namespace —, a project's name, a repository's URL or a cluster's server
//! URL, prefixed `<project>/` when the Secret is project-scoped).
//!
//! Sluice's application API is the Kubernetes API: `sluice app sync` and the UI write an
//! Application's `operation` (Argo CD's `Sync` enforces `applications, sync`), a refresh
//! sets the `argocd.argoproj.io/refresh` annotation (Argo CD's `Get` with `refresh` enforces
//! `applications, get`), logs and exec are the `log`/`exec` subresources of a Pod tracked
//! as the Application's (`logs, get` and `exec, create` on the Application's object).
//! Repository, repo-creds and cluster Secrets are the `repositories` and `clusters`
//! resources (argo-cd's repocreds service enforces `repositories` too).

use serde_json::Value;

use crate::rbac::Attributes;

/// The label that marks a Secret as Argo CD's (argo-cd common.LabelKeySecretType).
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// The annotation whose change asks for a refresh (argo-cd common.AnnotationKeyRefresh).
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
const ARGO: &str = "argoproj.io";

/// One check: Argo CD's `enforce(subject, resource, action, object)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub resource: &'static str,
    pub action: String,
    pub object: String,
}

impl Check {
    fn new(resource: &'static str, action: &str, object: String) -> Self {
        Check {
            resource,
            action: action.to_owned(),
            object,
        }
    }
}

/// The kinds whose lists Argo CD filters per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Applications,
    ApplicationSets,
    Projects,
    /// Repository, repo-creds and cluster Secrets of Argo CD's namespace (other Secrets
    /// are never Argo CD's to show).
    Secrets,
}

/// What Argo CD's RBAC decides for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// Not an Argo CD resource (Kubernetes RBAC alone decides).
    NotArgo,
    /// Allowed when every check passes.
    All(Vec<Check>),
    /// A list or watch of `ItemKind` in a namespace (`""`: all): allowed, each item shown
    /// only when its [`item_check`] passes (Argo CD's List filters, it does not refuse).
    Filter(ItemKind),
}

/// Reads stored objects for the mapping (the API server's store).
pub trait Lookup {
    /// The stored object of `group`/`plural` (core group: `""`) at `namespace`/`name`.
    fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value>;
}

/// Settings the mapping reads (Argo CD's namespace and argocd-cm's tracking).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The namespace of argocd-cm/argocd-rbac-cm, its Applications and Secrets.
    pub namespace: String,
    /// argocd-cm `application.instanceLabelKey` (default `app.kubernetes.io/instance`).
    pub instance_label: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace: "argocd".into(),
            instance_label: "app.kubernetes.io/instance".into(),
        }
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// An Application's RBAC object: `<project>/<name>`, or `<project>/<namespace>/<name>`
/// outside Argo CD's namespace (argo-cd `Application.RBACName`; an empty project is
/// `default`, `GetProject`).
pub fn app_object(app: &Value, settings: &Settings) -> String {
    let mut project = s(app, "/spec/project");
    if project.is_empty() {
        project = "default";
    }
    let ns = s(app, "/metadata/namespace");
    let name = s(app, "/metadata/name");
    if ns.is_empty() || ns == settings.namespace {
        format!("{project}/{name}")
    } else {
        format!("{project}/{ns}/{name}")
    }
}

/// An ApplicationSet's object: `<project of its template>/<name>` (argo-cd
/// server/applicationset `appset.RBACName`).
pub fn appset_object(appset: &Value, settings: &Settings) -> String {
    let mut project = s(appset, "/spec/template/spec/project");
    if project.is_empty() {
        project = "default";
    }
    let ns = s(appset, "/metadata/namespace");
    let name = s(appset, "/metadata/name");
    if ns.is_empty() || ns == settings.namespace {
        format!("{project}/{name}")
    } else {
        format!("{project}/{ns}/{name}")
    }
}

/// Sets `keys` in `v` to `val`, making objects of whatever is in the way (a body is user
/// input: indexing a non-object would panic).
fn set_path(v: &mut Value, keys: &[&str], val: &str) {
    let mut cur = v;
    for k in keys {
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let Some(m) = cur.as_object_mut() else {
            return;
        };
        cur = m.entry((*k).to_owned()).or_insert(Value::Null);
    }
    *cur = Value::String(val.to_owned());
}

/// A Secret's data value by key: `stringData` (a write's body), else base64 `data`.
fn secret_value(secret: &Value, key: &str) -> String {
    if let Some(v) = secret
        .pointer(&format!("/stringData/{key}"))
        .and_then(Value::as_str)
    {
        return v.to_owned();
    }
    use base64::Engine as _;
    secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// The Argo CD resource and object of a Secret of Argo CD's namespace, by its
/// `argocd.argoproj.io/secret-type` label: repository/repo-creds -> `repositories`,
/// cluster -> `clusters`; the object the URL (server), `<project>/` prefixed when the Secret
/// has a `project` (argo-cd server/repository, server/cluster `createRBACObject`).
pub fn secret_resource(secret: &Value) -> Option<(&'static str, String)> {
    let resource = match secret
        .pointer("/metadata/labels")
        .and_then(|l| l.get(SECRET_TYPE_LABEL))
        .and_then(Value::as_str)?
    {
        "repository" | "repo-creds" | "repository-write" | "repo-write-creds" => "repositories",
        "cluster" => "clusters",
        _ => return None,
    };
    let url = secret_value(
        secret,
        if resource == "clusters" {
            "server"
        } else {
            "url"
        },
    );
    let project = secret_value(secret, "project");
    let object = if project.is_empty() {
        url
    } else {
        format!("{project}/{url}")
    };
    Some((resource, object))
}

/// The check that shows one listed item (None: the item is not Argo CD's to show).
pub fn item_check(kind: ItemKind, item: &Value, settings: &Settings) -> Option<Check> {
    match kind {
        ItemKind::Applications => Some(Check::new(
            "applications",
            "get",
            app_object(item, settings),
        )),
        ItemKind::ApplicationSets => Some(Check::new(
            "applicationsets",
            "get",
            appset_object(item, settings),
        )),
        ItemKind::Projects => Some(Check::new(
            "projects",
            "get",
            s(item, "/metadata/name").to_owned(),
        )),
        ItemKind::Secrets => {
            if s(item, "/metadata/namespace") != settings.namespace {
                return None;
            }
            let (r, o) = secret_resource(item)?;
            Some(Check::new(r, "get", o))
        }
    }
}

/// The Kubernetes verb as Argo CD's CRUD action.
fn crud(verb: &str) -> Option<&'static str> {
    Some(match verb {
        "get" | "list" | "watch" => "get",
        "create" => "create",
        "update" | "patch" => "update",
        "delete" => "delete",
        _ => return None,
    })
}

/// Whether a merge/strategic/apply patch object (or the changed part of an update) touches
/// only the refresh annotation in its metadata.
fn metadata_is_refresh_only(meta: &Value) -> bool {
    let Some(m) = meta.as_object() else {
        return meta.is_null();
    };
    m.iter().all(|(k, v)| match k.as_str() {
        "annotations" => v
            .as_object()
            .is_some_and(|a| a.keys().all(|k| k == REFRESH_ANNOTATION)),
        // identity fields a client repeats (server-side apply, kubectl's patch)
        "name" | "namespace" | "resourceVersion" => true,
        _ => false,
    })
}

/// The actions a write of an Application's body asks for: `sync` when it sets `operation`,
/// `update` when it changes anything but `operation` and the refresh annotation, `get` for
/// a refresh alone.
pub fn app_write_actions(
    verb: &str,
    body: Option<&Value>,
    stored: Option<&Value>,
) -> Vec<&'static str> {
    let mut sync = false;
    let mut update = false;
    match (verb, body) {
        ("patch", Some(Value::Array(ops))) => {
            // JSON patch: each operation's path
            for op in ops {
                let path = s(op, "/path");
                if path == "/operation" || path.starts_with("/operation/") {
                    sync = true;
                } else if path == "/metadata/annotations/argocd.argoproj.io~1refresh"
                    || (path == "/metadata/annotations"
                        && op.get("value").is_some_and(|v| {
                            v.as_object()
                                .is_some_and(|a| a.keys().all(|k| k == REFRESH_ANNOTATION))
                        }))
                {
                } else if s(op, "/op") != "test" {
                    update = true;
                }
            }
        }
        ("patch", Some(Value::Object(m))) => {
            for (k, v) in m {
                match k.as_str() {
                    "operation" => sync = true,
                    "metadata" if metadata_is_refresh_only(v) => {}
                    "apiVersion" | "kind" => {}
                    _ => update = true,
                }
            }
        }
        ("update", Some(b)) => {
            let st = stored.cloned().unwrap_or(Value::Null);
            let same = |p: &str| b.pointer(p) == st.pointer(p);
            if !same("/spec")
                || !same("/metadata/labels")
                || !same("/metadata/finalizers")
                || !same("/metadata/ownerReferences")
                || !same("/status")
            {
                update = true;
            }
            let ann = |v: &Value| {
                let mut a = v
                    .pointer("/metadata/annotations")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                a.remove(REFRESH_ANNOTATION);
                a
            };
            if ann(b) != ann(&st) {
                update = true;
            }
            if !same("/operation") && b.get("operation").is_some_and(|o| !o.is_null()) {
                sync = true;
            } else if !same("/operation") {
                update = true;
            }
        }
        _ => update = true,
    }
    let mut out = Vec::new();
    if update {
        out.push("update");
    }
    if sync {
        out.push("sync");
    }
    if out.is_empty() {
        out.push("get");
    }
    out
}

/// The Kubernetes (group, plural) of an owner kind the log/exec lookup follows.
fn owner_resource(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "ReplicaSet" => ("apps", "replicasets"),
        "Deployment" => ("apps", "deployments"),
        "StatefulSet" => ("apps", "statefulsets"),
        "DaemonSet" => ("apps", "daemonsets"),
        "Job" => ("batch", "jobs"),
        "CronJob" => ("batch", "cronjobs"),
        "Rollout" => (ARGO, "rollouts"),
        _ => return None,
    })
}

/// The Application an object is tracked as: its instance label, or the
/// `argocd.argoproj.io/tracking-id` annotation (`<app>:<group>/<kind>:<ns>/<name>`, the app
/// `<namespace>_<name>` outside Argo CD's namespace), else its controllers' (ownerReferences
/// followed up to 4 levels). Returns (namespace, name) of the Application.
pub fn tracking_app(
    obj: &Value,
    lookup: &dyn Lookup,
    settings: &Settings,
) -> Option<(String, String)> {
    let mut cur = obj.clone();
    for _ in 0..5 {
        let ann = cur
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(crate::argocd_map::TRACKING_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|t| t.split_once(':').map(|(a, _)| a.to_owned()));
        let label = cur
            .pointer("/metadata/labels")
            .and_then(|l| l.get(&settings.instance_label))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(app) = ann.or(label).filter(|a| !a.is_empty()) {
            return Some(match app.split_once('_') {
                Some((ns, name)) => (ns.to_owned(), name.to_owned()),
                None => (settings.namespace.clone(), app),
            });
        }
        let ns = s(&cur, "/metadata/namespace").to_owned();
        let owner = cur
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)?
            .iter()
            .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
            .or_else(|| {
                cur.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
            })?
            .clone();
        let (g, p) = owner_resource(s(&owner, "/kind"))?;
        cur = lookup.get(g, p, &ns, s(&owner, "/name"))?;
    }
    None
}

/// The annotation of annotation-based resource tracking.
pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";

/// Maps a Kubernetes request to Argo CD's checks. `body` is the decoded request body of a
/// create, update or patch (a JSON patch is an array); `lookup` reads stored objects.
pub fn map_request(
    a: &Attributes,
    body: Option<&Value>,
    lookup: &dyn Lookup,
    settings: &Settings,
) -> Mapped {
    if !a.resource_request {
        return Mapped::NotArgo;
    }
    let ns = a.namespace.as_str();
    let name = a.name.as_str();
    let stored = |g: &str, p: &str| -> Option<Value> {
        if name.is_empty() {
            None
        } else {
            lookup.get(g, p, ns, name)
        }
    };
    match (
        a.api_group.as_str(),
        a.resource.as_str(),
        a.subresource.as_str(),
    ) {
        (ARGO, "applications", "" | "status") => {
            if name.is_empty() {
                return match a.verb.as_str() {
                    "list" | "watch" => Mapped::Filter(ItemKind::Applications),
                    "create" => match body {
                        Some(b) => {
                            let mut b = b.clone();
                            if s(&b, "/metadata/namespace").is_empty() {
                                set_path(&mut b, &["metadata", "namespace"], ns);
                            }
                            Mapped::All(vec![Check::new(
                                "applications",
                                "create",
                                app_object(&b, settings),
                            )])
                        }
                        None => Mapped::NotArgo,
                    },
                    _ => Mapped::NotArgo,
                };
            }
            let Some(app) = stored(ARGO, "applications") else {
                // nothing stored: a create by name (server-side apply) or a 404
                return match (a.verb.as_str(), body) {
                    ("patch" | "update", Some(b)) if b.is_object() => {
                        let mut b = b.clone();
                        set_path(&mut b, &["metadata", "namespace"], ns);
                        set_path(&mut b, &["metadata", "name"], name);
                        Mapped::All(vec![Check::new(
                            "applications",
                            "create",
                            app_object(&b, settings),
                        )])
                    }
                    _ => Mapped::All(vec![Check::new("applications", "get", format!("*/{name}"))]),
                };
            };
            let object = app_object(&app, settings);
            match a.verb.as_str() {
                "get" | "list" | "watch" => {
                    Mapped::All(vec![Check::new("applications", "get", object)])
                }
                "delete" => Mapped::All(vec![Check::new("applications", "delete", object)]),
                "update" | "patch" => {
                    let mut checks: Vec<Check> = app_write_actions(&a.verb, body, Some(&app))
                        .into_iter()
                        .map(|act| Check::new("applications", act, object.clone()))
                        .collect();
                    // moving an Application to another project needs update in both
                    // (argo-cd server/application Update)
                    if let Some(b) = body.filter(|b| b.is_object())
                        && let Some(p) = b.pointer("/spec/project").and_then(Value::as_str)
                    {
                        let mut moved = app.clone();
                        set_path(&mut moved, &["spec", "project"], p);
                        let o2 = app_object(&moved, settings);
                        if o2 != object {
                            checks.push(Check::new("applications", "update", o2));
                        }
                    }
                    Mapped::All(checks)
                }
                _ => Mapped::NotArgo,
            }
        }
        (ARGO, "applicationsets", "" | "status") => {
            if name.is_empty() {
                return match (a.verb.as_str(), body) {
                    ("list" | "watch", _) => Mapped::Filter(ItemKind::ApplicationSets),
                    ("create", Some(b)) => Mapped::All(vec![Check::new(
                        "applicationsets",
                        "create",
                        appset_object(b, settings),
                    )]),
                    _ => Mapped::NotArgo,
                };
            }
            let Some(action) = crud(&a.verb) else {
                return Mapped::NotArgo;
            };
            match stored(ARGO, "applicationsets") {
                Some(o) => Mapped::All(vec![Check::new(
                    "applicationsets",
                    action,
                    appset_object(&o, settings),
                )]),
                None => match body.filter(|b| b.is_object()) {
                    Some(b) => Mapped::All(vec![Check::new(
                        "applicationsets",
                        "create",
                        appset_object(b, settings),
                    )]),
                    None => Mapped::All(vec![Check::new(
                        "applicationsets",
                        "get",
                        format!("*/{name}"),
                    )]),
                },
            }
        }
        // minting a role token (argo-cd server/project CreateToken: projects, update)
        (ARGO, "appprojects", "token") if !name.is_empty() && a.verb == "create" => {
            Mapped::All(vec![Check::new("projects", "update", name.to_owned())])
        }
        (ARGO, "appprojects", "" | "status") => {
            if name.is_empty() {
                return match (a.verb.as_str(), body) {
                    ("list" | "watch", _) => Mapped::Filter(ItemKind::Projects),
                    ("create", Some(b)) => Mapped::All(vec![Check::new(
                        "projects",
                        "create",
                        s(b, "/metadata/name").to_owned(),
                    )]),
                    _ => Mapped::NotArgo,
                };
            }
            let Some(mut action) = crud(&a.verb) else {
                return Mapped::NotArgo;
            };
            if matches!(a.verb.as_str(), "update" | "patch")
                && stored(ARGO, "appprojects").is_none()
            {
                action = "create";
            }
            Mapped::All(vec![Check::new("projects", action, name.to_owned())])
        }
        ("", "secrets", "") if ns == settings.namespace => {
            if name.is_empty() {
                return match (a.verb.as_str(), body) {
                    ("list" | "watch", _) => Mapped::Filter(ItemKind::Secrets),
                    ("create", Some(b)) => match secret_resource(b) {
                        Some((r, o)) => Mapped::All(vec![Check::new(r, "create", o)]),
                        None => Mapped::NotArgo,
                    },
                    _ => Mapped::NotArgo,
                };
            }
            let Some(action) = crud(&a.verb) else {
                return Mapped::NotArgo;
            };
            let Some(stored) = stored("", "secrets") else {
                return match body.filter(|b| b.is_object()).and_then(secret_resource) {
                    Some((r, o)) if a.verb != "get" => {
                        Mapped::All(vec![Check::new(r, "create", o)])
                    }
                    _ => Mapped::NotArgo,
                };
            };
            let Some((r, o)) = secret_resource(&stored) else {
                return Mapped::NotArgo;
            };
            let mut checks = vec![Check::new(r, action, o.clone())];
            // a write may not turn the Secret into another repository/cluster it may not
            // write, nor out of Argo CD's hands
            if action == "update"
                && let Some(b) = body.filter(|b| b.is_object() && a.verb == "update")
            {
                match secret_resource(b) {
                    Some((r2, o2)) if (r2, &o2) != (r, &o) => {
                        checks.push(Check::new(r2, "update", o2))
                    }
                    Some(_) => {}
                    None => return Mapped::NotArgo,
                }
            }
            if a.verb == "patch" {
                // a patch that changes the label or URL is Kubernetes RBAC's to allow
                let touches = |b: &Value| {
                    b.pointer("/metadata/labels").is_some()
                        || b.get("data").is_some_and(|d| {
                            d.get("url").is_some()
                                || d.get("server").is_some()
                                || d.get("project").is_some()
                        })
                        || b.get("stringData").is_some_and(|d| {
                            d.get("url").is_some()
                                || d.get("server").is_some()
                                || d.get("project").is_some()
                        })
                };
                if body.is_none_or(|b| !b.is_object() || touches(b)) {
                    return Mapped::NotArgo;
                }
            }
            Mapped::All(checks)
        }
        // a live Pod of an Application's tree (argo-cd server/application GetResource:
        // `applications, get`): what `kubectl logs` reads before the log
        ("", "pods", "") if !name.is_empty() && a.verb == "get" => {
            let Some(pod) = stored("", "pods") else {
                return Mapped::NotArgo;
            };
            match tracking_app(&pod, lookup, settings)
                .and_then(|(n, a)| lookup.get(ARGO, "applications", &n, &a))
            {
                Some(app) => Mapped::All(vec![Check::new(
                    "applications",
                    "get",
                    app_object(&app, settings),
                )]),
                None => Mapped::NotArgo,
            }
        }
        ("", "pods", sub @ ("log" | "exec")) if !name.is_empty() => {
            let Some(pod) = stored("", "pods") else {
                return Mapped::NotArgo;
            };
            let Some((app_ns, app_name)) = tracking_app(&pod, lookup, settings) else {
                return Mapped::NotArgo;
            };
            let Some(app) = lookup.get(ARGO, "applications", &app_ns, &app_name) else {
                return Mapped::NotArgo;
            };
            let object = app_object(&app, settings);
            if sub == "log" && a.verb == "get" {
                Mapped::All(vec![Check::new("logs", "get", object)])
            } else if sub == "exec" && matches!(a.verb.as_str(), "create" | "get") {
                Mapped::All(vec![Check::new("exec", "create", object)])
            } else {
                Mapped::NotArgo
            }
        }
        _ => Mapped::NotArgo,
    }
}

/// Keys of repository/cluster Secrets shown to a user whom only Argo CD's RBAC lets read
/// them: Argo CD's API never returns credentials (argo-cd server/repository `Get` clears
/// password, SSH key, TLS key, GitHub App key; server/cluster returns no `config`).
pub const SHOWN_SECRET_KEYS: &[&str] = &[
    "type",
    "name",
    "url",
    "project",
    "server",
    "namespaces",
    "clusterResources",
    "username",
    "enableLFS",
    "enableOCI",
    "insecure",
    "proxy",
    "noProxy",
    "forceHttpBasicAuth",
    "githubAppID",
    "githubAppInstallationID",
    "githubAppEnterpriseBaseUrl",
];

/// Removes credentials from a repository/cluster Secret shown through Argo CD's RBAC.
pub fn redact_secret(secret: &mut Value) {
    for key in ["data", "stringData"] {
        if let Some(m) = secret.get_mut(key).and_then(Value::as_object_mut) {
            m.retain(|k, _| SHOWN_SECRET_KEYS.contains(&k.as_str()));
        }
    }
    if let Some(a) = secret
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    if let Some(m) = secret
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)
    {
        m.remove("managedFields");
    }
}

/// The subjects Argo CD enforces for an API server user: its name, then its groups (the
/// groups claim per argocd-rbac-cm `scopes` reaches the API server as the user's groups).
pub fn user_subjects(user: &crate::UserInfo) -> Vec<String> {
    let mut out = vec![user.username.clone()];
    out.extend(
        user.groups
            .iter()
            .filter(|g| !g.starts_with("system:"))
            .cloned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<(String, String, String, String), Value>);

    impl Mem {
        fn put(&mut self, g: &str, p: &str, v: Value) {
            let ns = s(&v, "/metadata/namespace").to_owned();
            let n = s(&v, "/metadata/name").to_owned();
            self.0.insert((g.into(), p.into(), ns, n), v);
        }
    }

    impl Lookup for Mem {
        fn get(&self, g: &str, p: &str, ns: &str, n: &str) -> Option<Value> {
            self.0
                .get(&(g.into(), p.into(), ns.into(), n.into()))
                .cloned()
        }
    }

    fn store() -> Mem {
        let mut m = Mem::default();
        m.put(
            ARGO,
            "applications",
            json!({"metadata": {"name": "guestbook", "namespace": "argocd"}, "spec": {"project": "team-a"}}),
        );
        m.put(
            ARGO,
            "applications",
            json!({"metadata": {"name": "other", "namespace": "apps"}, "spec": {}}),
        );
        m.put(
            "apps",
            "deployments",
            json!({"metadata": {"name": "web", "namespace": "prod", "labels": {"app.kubernetes.io/instance": "guestbook"}}}),
        );
        m.put(
            "apps",
            "replicasets",
            json!({"metadata": {"name": "web-1", "namespace": "prod", "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": true}]}}),
        );
        m.put(
            "",
            "pods",
            json!({"metadata": {"name": "web-1-x", "namespace": "prod", "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": true}]}}),
        );
        m.put(
            "",
            "pods",
            json!({"metadata": {"name": "lone", "namespace": "prod"}}),
        );
        m.put(
            "",
            "secrets",
            json!({"metadata": {"name": "repo", "namespace": "argocd", "labels": {SECRET_TYPE_LABEL: "repository"}}, "data": {"url": "aHR0cHM6Ly9naXQuZXhhbXBsZS9hLmdpdA==", "password": "cw=="}}),
        );
        m.put(
            "",
            "secrets",
            json!({"metadata": {"name": "plain", "namespace": "argocd"}, "data": {}}),
        );
        m
    }

    fn map(
        verb: &str,
        group: &str,
        res: &str,
        ns: &str,
        name: &str,
        body: Option<Value>,
    ) -> Mapped {
        let a = Attributes::resource(verb, group, res, ns).named(name);
        map_request(&a, body.as_ref(), &store(), &Settings::default())
    }

    fn one(r: &'static str, act: &str, obj: &str) -> Mapped {
        Mapped::All(vec![Check::new(r, act, obj.to_owned())])
    }

    /// argo-cd docs operator-manual/rbac.md ("The resource path for application objects is
    /// of the form `<project-name>/<application-name>`"; apps in other namespaces
    /// `<project-name>/<namespace>/<application-name>`) and server/application's checks.
    #[test]
    fn applications() {
        let app = |v, b| map(v, ARGO, "applications", "argocd", "guestbook", b);
        assert_eq!(
            app("get", None),
            one("applications", "get", "team-a/guestbook")
        );
        assert_eq!(
            app("delete", None),
            one("applications", "delete", "team-a/guestbook")
        );
        // a sync writes the operation (argo-cd Sync: applications, sync)
        assert_eq!(
            app(
                "patch",
                Some(json!({"operation": {"sync": {"revision": "HEAD"}}}))
            ),
            one("applications", "sync", "team-a/guestbook")
        );
        // a refresh is a get (argo-cd Get with ?refresh)
        assert_eq!(
            app(
                "patch",
                Some(json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}}))
            ),
            one("applications", "get", "team-a/guestbook")
        );
        assert_eq!(
            app(
                "patch",
                Some(
                    json!([{"op": "add", "path": "/metadata/annotations/argocd.argoproj.io~1refresh", "value": "hard"}])
                )
            ),
            one("applications", "get", "team-a/guestbook")
        );
        assert_eq!(
            app(
                "patch",
                Some(json!({"spec": {"source": {"targetRevision": "v2"}}}))
            ),
            one("applications", "update", "team-a/guestbook")
        );
        // sync and spec change together need both
        assert_eq!(
            app("patch", Some(json!({"spec": {}, "operation": {}}))),
            Mapped::All(vec![
                Check::new("applications", "update", "team-a/guestbook".into()),
                Check::new("applications", "sync", "team-a/guestbook".into())
            ])
        );
        // moving to another project needs update there too
        assert_eq!(
            app("patch", Some(json!({"spec": {"project": "team-b"}}))),
            Mapped::All(vec![
                Check::new("applications", "update", "team-a/guestbook".into()),
                Check::new("applications", "update", "team-b/guestbook".into())
            ])
        );
        // an application outside Argo CD's namespace, project defaulted
        assert_eq!(
            map("get", ARGO, "applications", "apps", "other", None),
            one("applications", "get", "default/apps/other")
        );
        assert_eq!(
            map(
                "create",
                ARGO,
                "applications",
                "argocd",
                "",
                Some(json!({"metadata": {"name": "new"}, "spec": {"project": "p"}}))
            ),
            one("applications", "create", "p/new")
        );
        assert_eq!(
            map("list", ARGO, "applications", "argocd", "", None),
            Mapped::Filter(ItemKind::Applications)
        );
        assert_eq!(
            map("deletecollection", ARGO, "applications", "argocd", "", None),
            Mapped::NotArgo
        );
    }

    #[test]
    fn update_with_same_spec_and_new_operation_is_a_sync() {
        let stored = json!({"metadata": {"name": "a"}, "spec": {"x": 1}});
        let mut body = stored.clone();
        body["operation"] = json!({"sync": {}});
        assert_eq!(
            app_write_actions("update", Some(&body), Some(&stored)),
            vec!["sync"]
        );
        body["spec"]["x"] = json!(2);
        assert_eq!(
            app_write_actions("update", Some(&body), Some(&stored)),
            vec!["update", "sync"]
        );
    }

    /// logs and exec belong to the Application tracking the Pod (its instance label found
    /// through the ReplicaSet and Deployment owning it).
    #[test]
    fn logs_and_exec_follow_tracking() {
        assert_eq!(
            map("get", "", "pods/log", "prod", "web-1-x", None),
            one("logs", "get", "team-a/guestbook")
        );
        assert_eq!(
            map("create", "", "pods/exec", "prod", "web-1-x", None),
            one("exec", "create", "team-a/guestbook")
        );
        assert_eq!(
            map("get", "", "pods/log", "prod", "lone", None),
            Mapped::NotArgo
        );
        assert_eq!(
            map("get", "", "pods", "prod", "web-1-x", None),
            one("applications", "get", "team-a/guestbook")
        );
        assert_eq!(
            map("get", "", "pods", "prod", "lone", None),
            Mapped::NotArgo
        );
        assert_eq!(map("list", "", "pods", "prod", "", None), Mapped::NotArgo);
    }

    #[test]
    fn projects_and_appsets() {
        assert_eq!(
            map("get", ARGO, "appprojects", "argocd", "team-a", None),
            one("projects", "get", "team-a")
        );
        assert_eq!(
            map("delete", ARGO, "appprojects", "argocd", "team-a", None),
            one("projects", "delete", "team-a")
        );
        assert_eq!(
            map(
                "create",
                ARGO,
                "applicationsets",
                "argocd",
                "",
                Some(
                    json!({"metadata": {"name": "s"}, "spec": {"template": {"spec": {"project": "p"}}}})
                )
            ),
            one("applicationsets", "create", "p/s")
        );
    }

    /// Repository and cluster Secrets (argo-cd server/repository and server/cluster: the
    /// object is the URL, `<project>/<url>` when project-scoped).
    #[test]
    fn secrets() {
        assert_eq!(
            map("get", "", "secrets", "argocd", "repo", None),
            one("repositories", "get", "https://git.example/a.git")
        );
        assert_eq!(
            map("delete", "", "secrets", "argocd", "repo", None),
            one("repositories", "delete", "https://git.example/a.git")
        );
        assert_eq!(
            map("get", "", "secrets", "argocd", "plain", None),
            Mapped::NotArgo
        );
        assert_eq!(
            map("get", "", "secrets", "prod", "repo", None),
            Mapped::NotArgo
        );
        assert_eq!(
            map(
                "create",
                "",
                "secrets",
                "argocd",
                "",
                Some(
                    json!({"metadata": {"name": "c", "labels": {SECRET_TYPE_LABEL: "cluster"}}, "stringData": {"server": "https://k", "project": "p"}})
                )
            ),
            one("clusters", "create", "p/https://k")
        );
        // a patch relabelling the Secret is not Argo CD's to allow
        assert_eq!(
            map(
                "patch",
                "",
                "secrets",
                "argocd",
                "repo",
                Some(json!({"metadata": {"labels": {SECRET_TYPE_LABEL: null}}}))
            ),
            Mapped::NotArgo
        );
        let mut s = store()
            .get("", "secrets", "argocd", "repo")
            .expect("stored");
        redact_secret(&mut s);
        assert_eq!(s["data"].as_object().map(|m| m.len()), Some(1));
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z/~.0-9:_-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("metadata".to_owned()),
                        Just("spec".to_owned()),
                        Just("operation".to_owned()),
                        Just("labels".to_owned()),
                        Just("annotations".to_owned()),
                        Just("project".to_owned()),
                        Just("path".to_owned()),
                        Just("op".to_owned()),
                        Just("ownerReferences".to_owned()),
                        Just(SECRET_TYPE_LABEL.to_owned()),
                        "[a-z]{1,6}"
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any request body and stored object maps without a panic.
        #[test]
        fn mapping_never_panics(
            body in json_value(),
            stored in json_value(),
            verb in proptest::sample::select(vec!["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]),
            res in proptest::sample::select(vec![("argoproj.io", "applications"), ("argoproj.io", "applicationsets"), ("argoproj.io", "appprojects"), ("argoproj.io", "appprojects/token"), ("", "secrets"), ("", "pods/log"), ("", "pods/exec"), ("", "pods")]),
            named in proptest::bool::ANY,
        ) {
            let mut m = store();
            let mut obj = stored.clone();
            if let Some(o) = obj.as_object_mut() {
                o.insert("metadata".into(), json!({"name": "x", "namespace": "argocd", "labels": {SECRET_TYPE_LABEL: "repository", "app.kubernetes.io/instance": "x"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "x"}]}));
            }
            let plural = res.1.split('/').next().unwrap_or("");
            m.put(res.0, plural, obj.clone());
            m.put(ARGO, "applications", obj);
            let a = Attributes::resource(verb, res.0, res.1, "argocd").named(if named { "x" } else { "" });
            let _ = map_request(&a, Some(&body), &m, &Settings::default());
            let _ = app_write_actions(verb, Some(&body), Some(&stored));
            let mut b = body.clone();
            redact_secret(&mut b);
            for k in [ItemKind::Applications, ItemKind::ApplicationSets, ItemKind::Projects, ItemKind::Secrets] {
                let _ = item_check(k, &body, &Settings::default());
            }
        }
    }

    #[test]
    fn subjects_are_name_and_groups() {
        let u = crate::UserInfo::new("alice", &["developers", "system:authenticated"]);
        assert_eq!(user_subjects(&u), vec!["alice", "developers"]);
    }
}
