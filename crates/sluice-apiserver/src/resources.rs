//! The resources the server serves: the built-in kinds (compiled in), the CustomResource-
//! Definitions of Sluice's own groups (stored as CRD objects on first start, as installing
//! Tekton, Argo CD and Kyverno would) and every CRD a user creates.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::table::{self, Column};

/// Where the scale subresource reads and writes replicas (`CustomResourceSubresourceScale`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// One served resource (all its versions).
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    /// Served versions, the preferred (storage) one first.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: Option<ScalePaths>,
    /// Pods only: the `log` subresource.
    pub log: bool,
    /// Served from a CustomResourceDefinition.
    pub custom: bool,
    pub verbs: Verbs,
    pub columns: Vec<Column>,
    /// A CRD's `openAPIV3Schema` per served version (published in /openapi/v3).
    pub schemas: Vec<(String, Value)>,
}

impl ResourceInfo {
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn preferred_version(&self) -> &str {
        self.versions.first().map(String::as_str).unwrap_or("v1")
    }
}

fn scale_default() -> Option<ScalePaths> {
    Some(ScalePaths {
        spec_replicas: ".spec.replicas".into(),
        status_replicas: ".status.replicas".into(),
        label_selector: Some(".status.selector".into()),
    })
}

/// One row of the generated table (`builtin_gen.rs`): a resource in one served version.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

/// The verbs a resource serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbs {
    /// create, delete, deletecollection, get, list, patch, update, watch.
    All,
    /// create only, nothing stored: the review kinds answer in `status`, a Binding assigns
    /// its Pod to a node.
    Create,
    /// get and list (componentstatuses).
    GetList,
}

impl Verbs {
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Verbs::All => &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
            Verbs::Create => &["create"],
            Verbs::GetList => &["get", "list"],
        }
    }

    pub fn allows(self, verb: &str) -> bool {
        self.names().contains(&verb)
    }
}

/// What k8s-openapi does not carry, as kube-apiserver 1.32's registry declares it
/// (k8s.io/kubernetes pkg/registry/<group>/<resource>/storage/storage.go: `ShortNames()`,
/// `Categories()`, the `status`/`scale` stores it installs, and the create-only REST of
/// pkg/registry/{authentication,authorization}/* and core/pod's `BindingREST`,
/// componentstatus's get/list-only REST). Keyed by (group, plural); absent means no short
/// names, no categories, no subresources, all verbs.
struct Extra {
    group: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    verbs: Verbs,
}

const ALL: &[&str] = &["all"];
const API_EXT: &[&str] = &["api-extensions"];

const fn x(
    group: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
) -> Extra {
    Extra {
        group,
        plural,
        short,
        categories,
        status,
        scale,
        verbs: Verbs::All,
    }
}

const fn only(
    group: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    verbs: Verbs,
) -> Extra {
    Extra {
        group,
        plural,
        short,
        categories: &[],
        status: false,
        scale: false,
        verbs,
    }
}

#[rustfmt::skip]
const EXTRAS: &[Extra] = &[
    only("", "bindings", &[], Verbs::Create),
    only("", "componentstatuses", &["cs"], Verbs::GetList),
    x("", "configmaps", &["cm"], &[], false, false),
    x("", "endpoints", &["ep"], &[], false, false),
    x("", "events", &["ev"], &[], false, false),
    x("", "limitranges", &["limits"], &[], false, false),
    x("", "namespaces", &["ns"], &[], true, false),
    x("", "nodes", &["no"], &[], true, false),
    x("", "persistentvolumeclaims", &["pvc"], &[], true, false),
    x("", "persistentvolumes", &["pv"], &[], true, false),
    x("", "pods", &["po"], ALL, true, false),
    x("", "replicationcontrollers", &["rc"], ALL, true, true),
    x("", "resourcequotas", &["quota"], &[], true, false),
    x("", "serviceaccounts", &["sa"], &[], false, false),
    x("", "services", &["svc"], ALL, true, false),
    x("admissionregistration.k8s.io", "mutatingwebhookconfigurations", &[], API_EXT, false, false),
    x("admissionregistration.k8s.io", "validatingwebhookconfigurations", &[], API_EXT, false, false),
    x("admissionregistration.k8s.io", "validatingadmissionpolicies", &[], API_EXT, true, false),
    x("admissionregistration.k8s.io", "validatingadmissionpolicybindings", &[], API_EXT, false, false),
    x("apiextensions.k8s.io", "customresourcedefinitions", &["crd", "crds"], API_EXT, true, false),
    x("apiregistration.k8s.io", "apiservices", &[], API_EXT, true, false),
    x("apps", "daemonsets", &["ds"], ALL, true, false),
    x("apps", "deployments", &["deploy"], ALL, true, true),
    x("apps", "replicasets", &["rs"], ALL, true, true),
    x("apps", "statefulsets", &["sts"], ALL, true, true),
    only("authentication.k8s.io", "selfsubjectreviews", &[], Verbs::Create),
    only("authentication.k8s.io", "tokenreviews", &[], Verbs::Create),
    only("authorization.k8s.io", "localsubjectaccessreviews", &[], Verbs::Create),
    only("authorization.k8s.io", "selfsubjectaccessreviews", &[], Verbs::Create),
    only("authorization.k8s.io", "selfsubjectrulesreviews", &[], Verbs::Create),
    only("authorization.k8s.io", "subjectaccessreviews", &[], Verbs::Create),
    x("autoscaling", "horizontalpodautoscalers", &["hpa"], ALL, true, false),
    x("batch", "cronjobs", &["cj"], ALL, true, false),
    x("batch", "jobs", &[], ALL, true, false),
    x("certificates.k8s.io", "certificatesigningrequests", &["csr"], &[], true, false),
    x("events.k8s.io", "events", &["ev"], &[], false, false),
    x("flowcontrol.apiserver.k8s.io", "flowschemas", &[], &[], true, false),
    x("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", &[], &[], true, false),
    x("networking.k8s.io", "ingresses", &["ing"], &[], true, false),
    x("networking.k8s.io", "networkpolicies", &["netpol"], &[], false, false),
    x("policy", "poddisruptionbudgets", &["pdb"], &[], true, false),
    x("scheduling.k8s.io", "priorityclasses", &["pc"], &[], false, false),
    x("storage.k8s.io", "storageclasses", &["sc"], &[], false, false),
    x("storage.k8s.io", "volumeattachments", &[], &[], true, false),
];

/// The compiled-in resources: the generated table (one entry per group and resource, served
/// versions in Kubernetes' preference order) with [`EXTRAS`].
pub fn builtins() -> Vec<ResourceInfo> {
    let mut out: Vec<ResourceInfo> = Vec::new();
    for g in crate::builtin_gen::GENERATED {
        if let Some(r) = out
            .iter_mut()
            .find(|r| r.group == g.group && r.plural == g.plural)
        {
            r.versions.push(g.version.to_owned());
            r.versions.sort_by_key(|v| version_priority(v));
            continue;
        }
        let extra = EXTRAS
            .iter()
            .find(|e| e.group == g.group && e.plural == g.plural);
        let strs = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        out.push(ResourceInfo {
            group: g.group.into(),
            versions: vec![g.version.to_owned()],
            plural: g.plural.into(),
            singular: g.kind.to_ascii_lowercase(),
            kind: g.kind.into(),
            namespaced: g.namespaced,
            short_names: extra.map(|e| strs(e.short)).unwrap_or_default(),
            categories: extra.map(|e| strs(e.categories)).unwrap_or_default(),
            status: extra.is_some_and(|e| e.status),
            scale: if extra.is_some_and(|e| e.scale) {
                scale_default()
            } else {
                None
            },
            log: g.group.is_empty() && g.plural == "pods",
            custom: false,
            verbs: extra.map_or(Verbs::All, |e| e.verbs),
            columns: table::builtin_columns(g.plural),
            schemas: Vec::new(),
        });
    }
    out
}

/// A resource served from a CRD object, or None when the CRD is not usable.
pub fn from_crd(crd: &Value) -> Option<ResourceInfo> {
    let spec = crd.get("spec")?;
    let group = spec.get("group")?.as_str()?.to_owned();
    let names = spec.get("names")?;
    let plural = names.get("plural")?.as_str()?.to_owned();
    let kind = names.get("kind")?.as_str()?.to_owned();
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut versions: Vec<(bool, String, &Value)> = spec
        .get("versions")?
        .as_array()?
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .filter_map(|v| {
            Some((
                v.get("storage").and_then(Value::as_bool).unwrap_or(false),
                v.get("name")?.as_str()?.to_owned(),
                v,
            ))
        })
        .collect();
    // storage version first (it is the preferred one we serve)
    versions.sort_by_key(|(storage, _, _)| !*storage);
    let first = versions.first()?.2;
    let sub = first.get("subresources");
    let scale = sub.and_then(|s| s.get("scale")).map(|s| ScalePaths {
        spec_replicas: s
            .get("specReplicasPath")
            .and_then(Value::as_str)
            .unwrap_or(".spec.replicas")
            .to_owned(),
        status_replicas: s
            .get("statusReplicasPath")
            .and_then(Value::as_str)
            .unwrap_or(".status.replicas")
            .to_owned(),
        label_selector: s
            .get("labelSelectorPath")
            .and_then(Value::as_str)
            .map(str::to_owned),
    });
    let columns = table::crd_columns(first.get("additionalPrinterColumns"));
    let schemas = versions
        .iter()
        .filter_map(|(_, n, v)| Some((n.clone(), v.pointer("/schema/openAPIV3Schema")?.clone())))
        .collect();
    Some(ResourceInfo {
        group,
        versions: versions.iter().map(|(_, n, _)| n.clone()).collect(),
        plural,
        singular,
        kind,
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        short_names: strs(names.get("shortNames")),
        categories: strs(names.get("categories")),
        status: sub.and_then(|s| s.get("status")).is_some(),
        scale,
        log: false,
        custom: true,
        verbs: Verbs::All,
        columns,
        schemas,
    })
}

/// The set of served resources.
#[derive(Debug, Clone)]
pub struct Registry {
    list: Vec<Arc<ResourceInfo>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            list: builtins().into_iter().map(Arc::new).collect(),
        }
    }
}

impl Registry {
    pub fn all(&self) -> &[Arc<ResourceInfo>] {
        &self.list
    }

    /// The resource at `/apis/{group}/{version}/{plural}`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.list
            .iter()
            .find(|r| {
                r.group == group && r.plural == plural && r.versions.iter().any(|v| v == version)
            })
            .cloned()
    }

    pub fn by_group_resource(&self, group: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.list
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .cloned()
    }

    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceInfo>> {
        self.list
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .cloned()
    }

    /// Serves (or re-serves) the resource of a CRD object. Built-ins are never replaced.
    pub fn upsert_crd(&mut self, crd: &Value) {
        let Some(info) = from_crd(crd) else { return };
        if let Some(i) = self
            .list
            .iter()
            .position(|r| r.group == info.group && r.plural == info.plural)
        {
            if !self.list[i].custom {
                return;
            }
            self.list[i] = Arc::new(info);
        } else {
            self.list.push(Arc::new(info));
        }
    }

    pub fn remove_crd(&mut self, crd: &Value) {
        let Some(info) = from_crd(crd) else { return };
        self.list
            .retain(|r| !(r.custom && r.group == info.group && r.plural == info.plural));
    }

    /// API groups in discovery order: (group, versions).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.list {
            if r.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    for v in &r.versions {
                        if !vs.contains(v) {
                            vs.push(v.clone());
                        }
                    }
                }
                None => out.push((r.group.clone(), r.versions.clone())),
            }
        }
        for (_, vs) in out.iter_mut() {
            vs.sort_by_key(|v| version_priority(v));
        }
        out
    }
}

/// Kubernetes' version order (apimachinery `version.CompareKubeAwareVersionStrings`): GA
/// before beta before alpha, higher numbers first. Smaller keys sort first.
pub fn version_priority(v: &str) -> (u8, i64, i64, String) {
    let parse = |s: &str| -> Option<(i64, u8, i64)> {
        let rest = s.strip_prefix('v')?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: i64 = rest[..end].parse().ok()?;
        let tail = &rest[end..];
        if tail.is_empty() {
            return Some((major, 0, 0));
        }
        let (stage, n) = if let Some(n) = tail.strip_prefix("beta") {
            (1, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (2, n)
        } else {
            return None;
        };
        Some((major, stage, n.parse().ok()?))
    };
    match parse(v) {
        Some((major, stage, minor)) => (stage, -major, -minor, String::new()),
        None => (3, 0, 0, v.to_owned()),
    }
}

/// One CRD Sluice installs on first start: (group, versions (storage first), plural, kind,
/// namespaced, short names, categories, status subresource, printer columns as
/// (name, type, jsonPath, priority)).
struct Bootstrap {
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    columns: &'static [(&'static str, &'static str, &'static str, i64)],
}

const AGE: (&str, &str, &str, i64) = ("Age", "date", ".metadata.creationTimestamp", 0);
const SUCCEEDED: &[(&str, &str, &str, i64)] = &[
    (
        "Succeeded",
        "string",
        ".status.conditions[?(@.type==\"Succeeded\")].status",
        0,
    ),
    (
        "Reason",
        "string",
        ".status.conditions[?(@.type==\"Succeeded\")].reason",
        0,
    ),
    ("StartTime", "date", ".status.startTime", 0),
    ("CompletionTime", "date", ".status.completionTime", 0),
];
const TEKTON: &[&str] = &["tekton", "tekton-pipelines"];
const TRIGGERS: &[&str] = &["tekton", "tekton-triggers"];
const ARGO: &[&str] = &["argoproj"];
const KYVERNO: &[&str] = &["kyverno"];

#[rustfmt::skip]
const BOOTSTRAP: &[Bootstrap] = &[
    // tektoncd/pipeline config/300-crds
    Bootstrap { group: "tekton.dev", versions: &["v1", "v1beta1"], plural: "tasks", kind: "Task", namespaced: true, short: &[], categories: TEKTON, columns: &[AGE] },
    Bootstrap { group: "tekton.dev", versions: &["v1", "v1beta1"], plural: "pipelines", kind: "Pipeline", namespaced: true, short: &[], categories: TEKTON, columns: &[AGE] },
    Bootstrap { group: "tekton.dev", versions: &["v1", "v1beta1"], plural: "taskruns", kind: "TaskRun", namespaced: true, short: &["tr", "trs"], categories: TEKTON, columns: SUCCEEDED },
    Bootstrap { group: "tekton.dev", versions: &["v1", "v1beta1"], plural: "pipelineruns", kind: "PipelineRun", namespaced: true, short: &["pr", "prs"], categories: TEKTON, columns: SUCCEEDED },
    Bootstrap { group: "tekton.dev", versions: &["v1beta1"], plural: "customruns", kind: "CustomRun", namespaced: true, short: &[], categories: TEKTON, columns: SUCCEEDED },
    Bootstrap { group: "tekton.dev", versions: &["v1beta1", "v1alpha1"], plural: "stepactions", kind: "StepAction", namespaced: true, short: &[], categories: TEKTON, columns: &[AGE] },
    // tektoncd/triggers config/300-crds
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1beta1", "v1alpha1"], plural: "eventlisteners", kind: "EventListener", namespaced: true, short: &["el"], categories: TRIGGERS, columns: &[
        ("Address", "string", ".status.address.url", 0),
        ("Available", "string", ".status.conditions[?(@.type=='Available')].status", 0),
        ("Reason", "string", ".status.conditions[?(@.type=='Available')].reason", 0),
        ("Ready", "string", ".status.conditions[?(@.type=='Ready')].status", 0),
        ("Reason", "string", ".status.conditions[?(@.type=='Ready')].reason", 0)] },
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1beta1", "v1alpha1"], plural: "triggers", kind: "Trigger", namespaced: true, short: &["tri"], categories: TRIGGERS, columns: &[AGE] },
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1beta1", "v1alpha1"], plural: "triggerbindings", kind: "TriggerBinding", namespaced: true, short: &["tb"], categories: TRIGGERS, columns: &[AGE] },
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1beta1", "v1alpha1"], plural: "clustertriggerbindings", kind: "ClusterTriggerBinding", namespaced: false, short: &["ctb"], categories: TRIGGERS, columns: &[AGE] },
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1beta1", "v1alpha1"], plural: "triggertemplates", kind: "TriggerTemplate", namespaced: true, short: &["tt"], categories: TRIGGERS, columns: &[AGE] },
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1alpha1"], plural: "clusterinterceptors", kind: "ClusterInterceptor", namespaced: false, short: &["ci"], categories: TRIGGERS, columns: &[AGE] },
    Bootstrap { group: "triggers.tekton.dev", versions: &["v1alpha1"], plural: "interceptors", kind: "Interceptor", namespaced: true, short: &["ni"], categories: TRIGGERS, columns: &[AGE] },
    // argoproj/argo-cd manifests/crds
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "applications", kind: "Application", namespaced: true, short: &["app", "apps"], categories: ARGO, columns: &[
        ("Sync Status", "string", ".status.sync.status", 0),
        ("Health Status", "string", ".status.health.status", 0),
        ("Revision", "string", ".status.sync.revision", 10),
        ("Project", "string", ".spec.project", 10)] },
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "applicationsets", kind: "ApplicationSet", namespaced: true, short: &["appset", "appsets"], categories: ARGO, columns: &[AGE] },
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "appprojects", kind: "AppProject", namespaced: true, short: &["appproj", "appprojs"], categories: ARGO, columns: &[AGE] },
    // argoproj/argo-rollouts manifests/crds
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "rollouts", kind: "Rollout", namespaced: true, short: &["ro"], categories: ARGO, columns: &[
        ("Desired", "integer", ".spec.replicas", 0),
        ("Current", "integer", ".status.replicas", 0),
        ("Up-to-date", "integer", ".status.updatedReplicas", 0),
        ("Available", "integer", ".status.availableReplicas", 0),
        AGE] },
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "analysistemplates", kind: "AnalysisTemplate", namespaced: true, short: &["at"], categories: ARGO, columns: &[AGE] },
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "clusteranalysistemplates", kind: "ClusterAnalysisTemplate", namespaced: false, short: &["cat"], categories: ARGO, columns: &[AGE] },
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "analysisruns", kind: "AnalysisRun", namespaced: true, short: &["ar"], categories: ARGO, columns: &[
        ("Status", "string", ".status.phase", 0), AGE] },
    Bootstrap { group: "argoproj.io", versions: &["v1alpha1"], plural: "experiments", kind: "Experiment", namespaced: true, short: &["exp"], categories: ARGO, columns: &[
        ("Status", "string", ".status.phase", 0), AGE] },
    // kyverno/kyverno config/crds
    Bootstrap { group: "kyverno.io", versions: &["v1"], plural: "clusterpolicies", kind: "ClusterPolicy", namespaced: false, short: &["cpol"], categories: KYVERNO, columns: &[
        ("ADMISSION", "boolean", ".spec.admission", 0),
        ("BACKGROUND", "boolean", ".spec.background", 0),
        ("READY", "string", ".status.conditions[?(@.type == \"Ready\")].status", 0),
        ("AGE", "date", ".metadata.creationTimestamp", 0),
        ("FAILURE POLICY", "string", ".spec.failurePolicy", 1),
        ("VALIDATE", "integer", ".status.rulecount.validate", 1),
        ("MUTATE", "integer", ".status.rulecount.mutate", 1),
        ("GENERATE", "integer", ".status.rulecount.generate", 1),
        ("VERIFY IMAGES", "integer", ".status.rulecount.verifyimages", 1),
        ("MESSAGE", "string", ".status.conditions[?(@.type == \"Ready\")].message", 0)] },
    Bootstrap { group: "kyverno.io", versions: &["v1"], plural: "policies", kind: "Policy", namespaced: true, short: &["pol"], categories: KYVERNO, columns: &[
        ("ADMISSION", "boolean", ".spec.admission", 0),
        ("BACKGROUND", "boolean", ".spec.background", 0),
        ("READY", "string", ".status.conditions[?(@.type == \"Ready\")].status", 0),
        ("AGE", "date", ".metadata.creationTimestamp", 0),
        ("MESSAGE", "string", ".status.conditions[?(@.type == \"Ready\")].message", 0)] },
    Bootstrap { group: "kyverno.io", versions: &["v2"], plural: "policyexceptions", kind: "PolicyException", namespaced: true, short: &["polex"], categories: KYVERNO, columns: &[AGE] },
    // kubernetes-sigs/wg-policy-prototypes policy-report CRDs (as Kyverno ships them)
    Bootstrap { group: "wgpolicyk8s.io", versions: &["v1alpha2"], plural: "policyreports", kind: "PolicyReport", namespaced: true, short: &["polr"], categories: KYVERNO, columns: &[
        ("Kind", "string", ".scope.kind", 1),
        ("Name", "string", ".scope.name", 1),
        ("Pass", "integer", ".summary.pass", 0),
        ("Fail", "integer", ".summary.fail", 0),
        ("Warn", "integer", ".summary.warn", 0),
        ("Error", "integer", ".summary.error", 0),
        ("Skip", "integer", ".summary.skip", 0),
        AGE] },
    Bootstrap { group: "wgpolicyk8s.io", versions: &["v1alpha2"], plural: "clusterpolicyreports", kind: "ClusterPolicyReport", namespaced: false, short: &["cpolr"], categories: KYVERNO, columns: &[
        ("Kind", "string", ".scope.kind", 1),
        ("Name", "string", ".scope.name", 1),
        ("Pass", "integer", ".summary.pass", 0),
        ("Fail", "integer", ".summary.fail", 0),
        ("Warn", "integer", ".summary.warn", 0),
        ("Error", "integer", ".summary.error", 0),
        ("Skip", "integer", ".summary.skip", 0),
        AGE] },
    // prometheus-operator example/prometheus-operator-crd
    Bootstrap { group: "monitoring.coreos.com", versions: &["v1"], plural: "prometheusrules", kind: "PrometheusRule", namespaced: true, short: &["promrule"], categories: &["prometheus-operator"], columns: &[] },
    Bootstrap { group: "monitoring.coreos.com", versions: &["v1"], plural: "servicemonitors", kind: "ServiceMonitor", namespaced: true, short: &["smon"], categories: &["prometheus-operator"], columns: &[] },
    Bootstrap { group: "monitoring.coreos.com", versions: &["v1"], plural: "podmonitors", kind: "PodMonitor", namespaced: true, short: &["pmon"], categories: &["prometheus-operator"], columns: &[] },
];

/// The CRD objects Sluice installs on first start (status `Established`).
pub fn bootstrap_crds(now: &str) -> Vec<Value> {
    let typed = crd_type_schemas();
    BOOTSTRAP
        .iter()
        .map(|c| {
            let columns: Vec<Value> = c
                .columns
                .iter()
                .map(|(name, ty, path, prio)| {
                    let mut col = json!({"name": name, "type": ty, "jsonPath": path});
                    if *prio != 0 {
                        col["priority"] = json!(prio);
                    }
                    col
                })
                .collect();
            let versions: Vec<Value> = c
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let mut ver = json!({
                        "name": v,
                        "served": true,
                        "storage": i == 0,
                        "schema": {"openAPIV3Schema": with_typed_fields(envelope_schema(c.kind, &format!("{}/{v}", c.group)), &typed, &format!("{}/{v}/{}", c.group, c.kind))},
                        "subresources": {"status": {}},
                    });
                    if !columns.is_empty() {
                        ver["additionalPrinterColumns"] = Value::Array(columns.clone());
                    }
                    if c.plural == "rollouts" {
                        ver["subresources"]["scale"] = json!({
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.HPAReplicas",
                            "labelSelectorPath": ".status.selector",
                        });
                    }
                    ver
                })
                .collect();
            let singular = c.kind.to_ascii_lowercase();
            let names = json!({
                "plural": c.plural,
                "singular": singular,
                "kind": c.kind,
                "listKind": format!("{}List", c.kind),
                "shortNames": c.short,
                "categories": c.categories,
            });
            json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {
                    "name": format!("{}.{}", c.plural, c.group),
                    "labels": {"app.kubernetes.io/managed-by": "sluice"},
                },
                "spec": {
                    "group": c.group,
                    "names": names,
                    "scope": if c.namespaced { "Namespaced" } else { "Cluster" },
                    "versions": versions,
                },
                "status": crd_status(&names, now),
            })
        })
        .collect()
}

/// The schema of a kind Sluice validates in Rust (`sluice-apis`): the envelope with open
/// `spec` and `status`, for `kubectl explain`.
pub fn envelope_schema(kind: &str, api_version: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("{kind} ({api_version}). Sluice validates its fields as upstream does (`sluice validate` reports the same findings); the field reference is upstream's documentation."),
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."},
            "metadata": {"type": "object", "description": "Standard object's metadata.", "x-kubernetes-preserve-unknown-fields": true},
            "spec": {"type": "object", "description": format!("The desired state of the {kind}."), "x-kubernetes-preserve-unknown-fields": true},
            "status": {"type": "object", "description": format!("The observed state of the {kind}."), "x-kubernetes-preserve-unknown-fields": true},
        },
    })
}

/// `envelope` with the spec/status fields of Sluice's own kinds, from the sluice-apis types
/// (tests/crd_schemas.rs): `kubectl explain pipelinerun.spec.pipelineRef` (open objects:
/// nothing is pruned). `key` is `group/version/Kind`.
fn with_typed_fields(mut s: Value, typed: &serde_json::Map<String, Value>, key: &str) -> Value {
    if let Some(t) = typed.get(key) {
        for part in ["spec", "status"] {
            if let Some(mut p) = t.get(part).cloned() {
                if p.get("description").is_none() {
                    p["description"] = s["properties"][part]["description"].clone();
                }
                s["properties"][part] = p;
            }
        }
    }
    s
}

static CRD_SCHEMAS: &[u8] = include_bytes!("crd_schemas_gen.json.gz");

/// `crd_schemas_gen.json.gz` decompressed and parsed (`group/version/Kind` -> spec/status);
/// read when the bootstrap CRDs are built, not kept.
fn crd_type_schemas() -> serde_json::Map<String, Value> {
    use std::io::Read;
    let mut text = String::new();
    // the file is this crate's own, checked by tests/crd_schemas.rs: a decoding failure
    // leaves the kinds with their envelope schemas
    match flate2::read::GzDecoder::new(CRD_SCHEMAS).read_to_string(&mut text) {
        Ok(_) => serde_json::from_str(&text).unwrap_or_default(),
        Err(_) => serde_json::Map::new(),
    }
}

/// The status the apiextensions controllers give an accepted CRD.
/// What Kyverno writes on a ClusterPolicy/Policy it has loaded, and its CRD's defaults: the
/// server admits only policies it compiled, so an admitted one is Ready (kyverno
/// api/kyverno/v1 PolicyStatus: `conditions` Ready/Succeeded, `ready`, `rulecount`; the CRD
/// defaults `spec.admission` and `spec.background` to true). `old` is the stored object on
/// update: Ready's transition time is kept.
pub fn kyverno_policy_defaults_and_status(obj: &mut Value, old: Option<&Value>, now: &str) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        for k in ["admission", "background"] {
            if spec.get(k).is_none_or(Value::is_null) {
                spec.insert(k.into(), json!(true));
            }
        }
    }
    let mut count = [0u64; 4];
    for r in obj
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for (i, k) in ["validate", "mutate", "generate", "verifyImages"]
            .iter()
            .enumerate()
        {
            if r.get(*k).is_some_and(|v| !v.is_null()) {
                count[i] += 1;
            }
        }
    }
    let since = old
        .and_then(|o| o.pointer("/status/conditions/0/lastTransitionTime"))
        .and_then(Value::as_str)
        .unwrap_or(now)
        .to_owned();
    obj["status"] = json!({
        "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
            "message": "Ready", "lastTransitionTime": since}],
        "ready": true,
        "rulecount": {"validate": count[0], "mutate": count[1], "generate": count[2],
            "verifyimages": count[3]},
    });
}

/// Whether `group` is one of Sluice's own CRD groups (installed on first start).
pub fn is_sluice_group(group: &str) -> bool {
    BOOTSTRAP.iter().any(|c| c.group == group)
}

pub fn crd_status(names: &Value, now: &str) -> Value {
    json!({
        "acceptedNames": names,
        "storedVersions": [],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_crds_are_served() {
        let mut reg = Registry::default();
        for crd in bootstrap_crds("2024-01-01T00:00:00Z") {
            reg.upsert_crd(&crd);
        }
        let pr = reg
            .find("tekton.dev", "v1", "pipelineruns")
            .expect("served");
        assert_eq!(pr.kind, "PipelineRun");
        assert!(pr.status);
        assert_eq!(pr.short_names, ["pr", "prs"]);
        assert!(reg.find("tekton.dev", "v1beta1", "pipelineruns").is_some());
        let cpol = reg.by_kind("kyverno.io", "ClusterPolicy").expect("served");
        assert!(!cpol.namespaced);
        let groups: Vec<(String, Vec<String>)> = reg.groups();
        let tekton = groups
            .iter()
            .find(|(g, _)| g == "tekton.dev")
            .map(|(_, v)| v.clone());
        assert_eq!(
            tekton,
            Some(vec![
                "v1".to_owned(),
                "v1beta1".to_owned(),
                "v1alpha1".to_owned()
            ])
        );
        let groups: Vec<String> = groups.into_iter().map(|(g, _)| g).collect();
        for g in [
            "apps",
            "tekton.dev",
            "triggers.tekton.dev",
            "argoproj.io",
            "kyverno.io",
            "wgpolicyk8s.io",
            "monitoring.coreos.com",
        ] {
            assert!(groups.iter().any(|x| x == g), "{g}");
        }
    }
}
