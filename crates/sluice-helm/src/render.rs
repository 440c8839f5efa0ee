//! Rendering: Helm's `engine.Render` over a chart and its dependencies, then the manifest
//! `helm template` prints (`action.Install` in client mode, `releaseutil.SortManifests`).

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;
use sluice_expr::gotmpl::{self, Budget, Obj, TemplateSet, V};

use crate::Error;
use crate::chart::{Chart, glob_match};
use crate::values::{self, Values};

/// `.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// `v1.32.0` style (`.Capabilities.KubeVersion.Version`).
    pub kube_version: String,
    pub major: String,
    pub minor: String,
    /// Group-versions and `group/version/Kind` entries.
    pub api_versions: Vec<String>,
}

/// Helm v4.3's default API versions in client mode are client-go's scheme; these are the
/// group-versions Kubernetes 1.32 serves.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apiregistration.k8s.io/v1",
    "apps/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "networking.k8s.io/v1",
    "node.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
];

impl Capabilities {
    /// `v` as `--kube-version` takes it (`1.32`, `v1.32.0`).
    pub fn with_version(v: &str, api_versions: Vec<String>) -> Result<Capabilities, Error> {
        let t = v.trim().trim_start_matches('v');
        let mut parts = t.split(['.', '-', '+']);
        let major = parts.next().unwrap_or_default().to_owned();
        let minor = parts.next().unwrap_or("0").to_owned();
        if major.is_empty()
            || !major.chars().all(|c| c.is_ascii_digit())
            || !minor.chars().all(|c| c.is_ascii_digit())
        {
            return Err(Error::Values(format!("invalid kube version {v:?}")));
        }
        let version = if t.matches('.').count() >= 2 {
            format!("v{t}")
        } else {
            format!("v{major}.{minor}.0")
        };
        Ok(Capabilities {
            kube_version: version,
            major,
            minor,
            api_versions,
        })
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: "v1.32.0".into(),
            major: "1".into(),
            minor: "32".into(),
            api_versions: DEFAULT_API_VERSIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub release_name: String,
    pub namespace: String,
    pub capabilities: Capabilities,
    pub include_crds: bool,
    pub skip_crds: bool,
    pub no_hooks: bool,
    /// `--skip-schema-validation`.
    pub skip_schema_validation: bool,
}

#[derive(Debug)]
struct Files {
    files: Vec<(String, Rc<[u8]>)>,
}

impl Files {
    fn get(&self, p: &str) -> Option<&Rc<[u8]>> {
        self.files.iter().find(|(n, _)| n == p).map(|(_, d)| d)
    }
    fn as_map(&self, b64: bool) -> V {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.files {
            let base = k.rsplit('/').next().unwrap_or(k).to_owned();
            let s = if b64 {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(v)
            } else {
                String::from_utf8_lossy(v).into_owned()
            };
            m.insert(base, Value::String(s));
        }
        if m.is_empty() {
            return V::str("");
        }
        let y = gotmpl::goyaml::marshal(&Value::Object(m), false);
        V::str(y.strip_suffix('\n').unwrap_or(&y))
    }
}

/// gobwas/glob with `/` as separator: `*` stays within a path element, `**` crosses them.
fn gob_glob(pat: &str, name: &str) -> bool {
    if pat.contains("**") {
        let p: Vec<&str> = pat.splitn(2, "**").collect();
        let (pre, post) = (p[0], p[1]);
        if !name.starts_with(pre)
            && !glob_match(&format!("{pre}*"), &name[..name.len().min(pre.len())])
        {
            // fall through to a general check
        }
        return (0..=name.len()).any(|i| {
            name.is_char_boundary(i)
                && glob_match(pre, &name[..i])
                && (0..=name.len() - i)
                    .any(|j| name.is_char_boundary(i + j) && gob_glob(post, &name[i + j..]))
        });
    }
    glob_match(pat, name)
}

impl Obj for Files {
    fn type_name(&self) -> String {
        "common.Files".into()
    }
    fn call(&self, name: &str, args: &[V]) -> Option<Result<V, String>> {
        let arg = || args.first().map(V::to_str).unwrap_or_default();
        Some(Ok(match name {
            "Get" => V::str(
                self.get(&arg())
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .unwrap_or_default(),
            ),
            "GetBytes" => V::Bytes(
                self.get(&arg())
                    .cloned()
                    .unwrap_or_else(|| Rc::from(Vec::new())),
            ),
            "Glob" => {
                let pat = arg();
                V::Obj(Rc::new(Files {
                    files: self
                        .files
                        .iter()
                        .filter(|(n, _)| gob_glob(&pat, n))
                        .cloned()
                        .collect(),
                }))
            }
            "Lines" => match self.get(&arg()) {
                None => V::list(Vec::new()),
                Some(d) => {
                    let s = String::from_utf8_lossy(d).into_owned();
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    V::list(s.split('\n').map(V::str).collect())
                }
            },
            "AsConfig" => self.as_map(false),
            "AsSecrets" => self.as_map(true),
            _ => return None,
        }))
    }
    fn to_value(&self) -> V {
        V::map(
            self.files
                .iter()
                .map(|(k, d)| (k.clone(), V::Bytes(d.clone())))
                .collect(),
        )
    }
}

#[derive(Debug)]
struct ApiVersions(Vec<String>);

impl Obj for ApiVersions {
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }
    fn call(&self, name: &str, args: &[V]) -> Option<Result<V, String>> {
        match name {
            "Has" => {
                Some(Ok(V::Bool(self.0.iter().any(|v| {
                    Some(v.as_str()) == args.first().and_then(V::as_str)
                }))))
            }
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn to_value(&self) -> V {
        V::list(self.0.iter().map(|s| V::str(s.as_str())).collect())
    }
}

fn smap(pairs: Vec<(&str, V)>) -> V {
    V::map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn jstr(m: &serde_json::Map<String, Value>, k: &str) -> V {
    match m.get(k) {
        Some(Value::String(s)) => V::str(s.as_str()),
        Some(Value::Number(n)) => V::str(n.to_string()),
        Some(Value::Bool(b)) => V::str(b.to_string()),
        _ => V::str(""),
    }
}

fn jval(m: &serde_json::Map<String, Value>, k: &str) -> V {
    m.get(k).map(V::from_json).unwrap_or(V::Nil)
}

/// `.Chart`: the Go `chart.Metadata` struct's fields.
fn chart_object(c: &Chart) -> V {
    let m = &c.metadata;
    smap(vec![
        ("Name", jstr(m, "name")),
        ("Home", jstr(m, "home")),
        ("Sources", jval(m, "sources")),
        ("Version", jstr(m, "version")),
        ("Description", jstr(m, "description")),
        ("Keywords", jval(m, "keywords")),
        ("Maintainers", jval(m, "maintainers")),
        ("Icon", jstr(m, "icon")),
        ("APIVersion", jstr(m, "apiVersion")),
        ("Condition", jstr(m, "condition")),
        ("Tags", jstr(m, "tags")),
        ("AppVersion", jstr(m, "appVersion")),
        (
            "Deprecated",
            V::Bool(
                m.get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
        ),
        ("Annotations", jval(m, "annotations")),
        ("KubeVersion", jstr(m, "kubeVersion")),
        ("Dependencies", jval(m, "dependencies")),
        ("Type", jstr(m, "type")),
    ])
}

struct Job {
    /// Template name (`chart/charts/sub/templates/x.yaml`).
    name: String,
    base_path: String,
    /// Index into `scopes`.
    scope: usize,
}

/// The scope of one chart (helm/helm `pkg/engine/engine.go` `recAllTpls`): `.Chart`,
/// `.Files`, `.Release`, `.Capabilities`, `.Values` and `.Subcharts` (each dependency's
/// scope by name); templates get a copy with `.Template` added.
fn collect(
    c: &Chart,
    prefix: &str,
    values: V,
    common: &[(&str, V)],
    set: &mut Vec<(String, String)>,
    jobs: &mut Vec<Job>,
    scopes: &mut Vec<V>,
) -> V {
    let path = if prefix.is_empty() {
        c.name()
    } else {
        format!("{prefix}/charts/{}", c.name())
    };
    let mut subcharts = BTreeMap::new();
    for d in &c.dependencies {
        let sub = match &values {
            V::Map(m) => match m.borrow().get(&d.name()) {
                Some(v @ V::Map(_)) => v.clone(),
                _ => V::map(BTreeMap::new()),
            },
            _ => V::map(BTreeMap::new()),
        };
        let scope = collect(d, &path, sub, common, set, jobs, scopes);
        subcharts.insert(d.name(), scope);
    }
    let mut m = BTreeMap::new();
    for (k, v) in common {
        m.insert((*k).to_owned(), v.clone());
    }
    m.insert("Values".to_owned(), values);
    m.insert("Chart".to_owned(), chart_object(c));
    m.insert(
        "Files".to_owned(),
        V::Obj(Rc::new(Files {
            files: c
                .files
                .iter()
                .map(|(k, d)| (k.clone(), Rc::from(d.as_slice())))
                .collect(),
        })),
    );
    m.insert("Subcharts".to_owned(), V::map(subcharts));
    let scope_v = V::map(m);
    let scope = scopes.len();
    scopes.push(scope_v.clone());
    for (rel, text) in &c.templates {
        let name = format!("{path}/{rel}");
        set.push((name.clone(), text.clone()));
        if !c.is_library() {
            jobs.push(Job {
                name,
                base_path: format!("{path}/templates"),
                scope,
            });
        }
    }
    scope_v
}

/// Helm's parse order (`sortTemplates`): deeper paths first, then reverse lexical order, so
/// a parent's `define` replaces a dependency's.
fn parse_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
    cb.cmp(&ca).then_with(|| b.cmp(a))
}

struct Manifest {
    name: String,
    content: String,
    kind: String,
    hook: bool,
}

/// Helm's `InstallOrder`.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_less(a: &str, b: &str) -> bool {
    let pa = INSTALL_ORDER.iter().position(|k| *k == a);
    let pb = INSTALL_ORDER.iter().position(|k| *k == b);
    match (pa, pb) {
        (None, None) => a < b,
        (None, Some(_)) => false,
        (Some(_), None) => true,
        (Some(x), Some(y)) => x < y,
    }
}

/// `releaseutil.SplitManifests` as Helm v4.3 splits: at `---` at the start of a line (the
/// line break before it stays with the previous document, white space after it goes), each
/// document's leading white space trimmed, empty ones dropped.
fn split_manifests(s: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut rest = s.trim_start();
    loop {
        let (doc, next) = if let Some(r) = rest.strip_prefix("---") {
            ("", Some(r))
        } else {
            match rest.find("\n---") {
                Some(i) => (&rest[..i + 1], Some(&rest[i + 4..])),
                None => (rest, None),
            }
        };
        let d = doc.trim_start();
        if !d.is_empty() {
            docs.push(d.to_owned());
        }
        match next {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
    docs
}

fn head(doc: &str, file: &str) -> Result<(String, bool), Error> {
    let docs = sluice_core::yaml::load_documents_with(
        doc,
        &sluice_core::yaml::Options {
            last_key_wins: true,
            ..Default::default()
        },
    )
    .map_err(|e| Error::Manifest {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    let v = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let hook = v
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("helm.sh/hook"))
        .is_some();
    Ok((kind, hook))
}

/// Stack of the rendering thread: `include` chains nest up to
/// [`gotmpl::MAX_CALL_DEPTH`] levels of recursive evaluation.
pub const RENDER_STACK: usize = 256 << 20;

/// Renders `chart` with the user's values as `helm template` prints it (on a thread of its
/// own with a [`RENDER_STACK`] stack).
pub fn render(chart: &Chart, user: &Values, opts: &RenderOptions) -> Result<String, Error> {
    let (chart, user, opts) = (chart.clone(), user.clone(), opts.clone());
    std::thread::Builder::new()
        .name("helm-render".into())
        .stack_size(RENDER_STACK)
        .spawn(move || render_here(chart, &user, &opts))
        .map_err(|e| Error::Template(format!("cannot start the rendering thread: {e}")))?
        .join()
        .unwrap_or_else(|_| Err(Error::Template("rendering panicked".into())))
}

fn render_here(chart: Chart, user: &Values, opts: &RenderOptions) -> Result<String, Error> {
    let mut chart = chart;
    values::process_dependencies(&mut chart, user);
    let vals = values::coalesce_values_of(&chart, user);
    if !opts.skip_schema_validation
        && let Some(msg) = crate::schema::validate(&chart, &vals).map_err(Error::Values)?
    {
        return Err(Error::Values(msg.trim_end().to_owned()));
    }

    let caps = &opts.capabilities;
    let capabilities = smap(vec![
        (
            "KubeVersion",
            smap(vec![
                ("Version", V::str(caps.kube_version.as_str())),
                ("Major", V::str(caps.major.as_str())),
                ("Minor", V::str(caps.minor.as_str())),
                ("GitVersion", V::str(caps.kube_version.as_str())),
            ]),
        ),
        (
            "APIVersions",
            V::Obj(Rc::new(ApiVersions(caps.api_versions.clone()))),
        ),
        (
            "HelmVersion",
            smap(vec![
                ("Version", V::str("v4.3.0")),
                ("GitCommit", V::str("")),
                ("GitTreeState", V::str("")),
                ("GoVersion", V::str("")),
                ("KubeClientVersion", V::str("v1.37")),
            ]),
        ),
    ]);
    let release = smap(vec![
        ("Name", V::str(opts.release_name.as_str())),
        ("Namespace", V::str(opts.namespace.as_str())),
        ("IsUpgrade", V::Bool(false)),
        ("IsInstall", V::Bool(true)),
        ("Revision", V::Int(1)),
        ("Service", V::str("Helm")),
    ]);
    let mut sources = Vec::new();
    let mut jobs = Vec::new();
    let mut scopes = Vec::new();
    let common = [("Release", release), ("Capabilities", capabilities)];
    let values_v = V::from_json(&Value::Object(vals));
    collect(
        &chart,
        "",
        values_v,
        &common,
        &mut sources,
        &mut jobs,
        &mut scopes,
    );
    sources.sort_by(|a, b| parse_order(&a.0, &b.0));
    let mut set = TemplateSet::new();
    for (name, text) in &sources {
        set.add(name, text)
            .map_err(|e| Error::Template(format!("parse error at ({name}): {e}")))?;
    }
    let budget = Budget::new("chart rendering", gotmpl::RENDER_LIMITS);
    let mut rendered: BTreeMap<String, String> = BTreeMap::new();
    jobs.sort_by(|a, b| parse_order(&a.name, &b.name));
    for job in &jobs {
        let base = job.name.rsplit('/').next().unwrap_or("");
        if base.starts_with('_') {
            continue;
        }
        let mut m = match &scopes[job.scope] {
            V::Map(m) => m.borrow().clone(),
            _ => BTreeMap::new(),
        };
        m.insert(
            "Template".to_owned(),
            smap(vec![
                ("Name", V::str(job.name.as_str())),
                ("BasePath", V::str(job.base_path.as_str())),
            ]),
        );
        let dot = V::map(m);
        let out = set
            .execute(&job.name, &dot, &budget)
            .map_err(|e| Error::Template(e.to_string()))?;
        rendered.insert(job.name.clone(), out.replace("<no value>", ""));
    }
    // SortManifests
    let mut generic: Vec<Manifest> = Vec::new();
    let mut hooks: Vec<Manifest> = Vec::new();
    for (name, content) in &rendered {
        if name.ends_with("NOTES.txt") || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let (kind, hook) = head(&doc, name)?;
            let m = Manifest {
                name: name.clone(),
                content: doc,
                kind,
                hook,
            };
            if m.hook {
                hooks.push(m);
            } else {
                generic.push(m);
            }
        }
    }
    let sort = |v: &mut Vec<Manifest>| {
        v.sort_by(|a, b| {
            if kind_less(&a.kind, &b.kind) {
                std::cmp::Ordering::Less
            } else if kind_less(&b.kind, &a.kind) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
    };
    sort(&mut generic);
    sort(&mut hooks);
    let mut manifest = String::new();
    if opts.include_crds && !opts.skip_crds {
        let mut all = Vec::new();
        crds_of(&chart, "", &mut all);
        for (name, data) in all {
            manifest.push_str(&format!(
                "---\n# Source: {name}\n{}\n",
                String::from_utf8_lossy(&data)
            ));
        }
    }
    for m in &generic {
        manifest.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content));
    }
    let mut out = String::new();
    // helm template: fmt.Fprintln(out, strings.TrimSpace(rel.Manifest)), so an empty chart
    // prints one empty line
    out.push_str(manifest.trim());
    out.push('\n');
    if !opts.no_hooks {
        for h in &hooks {
            out.push_str(&format!("---\n# Source: {}\n{}\n", h.name, h.content));
        }
    }
    Ok(out)
}

fn crds_of(c: &Chart, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let path = if prefix.is_empty() {
        c.name()
    } else {
        format!("{prefix}/charts/{}", c.name())
    };
    for (p, d) in c.crds() {
        out.push((format!("{path}/{p}"), d.clone()));
    }
    for d in &c.dependencies {
        crds_of(d, &path, out);
    }
}
