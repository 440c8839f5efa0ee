//! Field specs: the paths kustomize's built-in transformers touch, per kind
//! (api/internal/konfig/builtinpluginconsts), and walking them.

use serde_json::{Map, Value};

use crate::resource::{Resource, Seg};

/// A path in some kinds' objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub path: Vec<String>,
    pub create: bool,
    /// Indexes of `path` segments written as lists (`containers[]`): kustomize's field spec
    /// filter looks them up and never creates them (api/filters/fieldspec `isSequenceField`),
    /// so `create` does not add `volumeClaimTemplates` to a StatefulSet without them.
    pub seq_at: Vec<usize>,
}

impl FieldSpec {
    pub fn new(kind: Option<&str>, group: Option<&str>, path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            group: group.map(str::to_owned),
            version: None,
            kind: kind.map(str::to_owned),
            path: split_path(path),
            create,
            seq_at: list_segments(path),
        }
    }

    /// Whether this spec applies to `r`.
    pub fn selects(&self, r: &Resource) -> bool {
        let (g, v) = r.group_version();
        self.selects_gvk(g, v, r.kind())
    }

    /// Whether this spec applies to objects of `group`/`version` `kind`.
    pub fn selects_gvk(&self, group: &str, version: &str, kind: &str) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.group.as_deref().is_none_or(|x| x == group)
            && self.version.as_deref().is_none_or(|x| x == version)
    }

    /// Parses a field spec written in a kustomization (`fieldSpecs`, `fields`).
    pub fn from_value(v: &Value) -> Option<FieldSpec> {
        let m = v.as_object()?;
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let path = s("path")?;
        Some(FieldSpec {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            path: split_path(&path),
            create: m.get("create").and_then(Value::as_bool).unwrap_or(false),
            seq_at: list_segments(&path),
        })
    }
}

/// Splits `a/b\/c/d[]` into segments (`\/` is a literal slash; `[]` marks a list).
pub fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.strip_suffix("[]").map(str::to_owned).unwrap_or(s))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The indexes (in [`split_path`]'s result) of the segments of `p` written `name[]`.
pub fn list_segments(p: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut cur = String::new();
    let mut chars = p.chars().peekable();
    let mut end = |cur: &mut String, out: &mut Vec<usize>| {
        let seg = std::mem::take(cur);
        if seg.ends_with("[]") && seg.len() > 2 {
            out.push(i);
        }
        if !seg.is_empty() && seg != "[]" {
            i += 1;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => end(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    end(&mut cur, &mut out);
    out
}

/// Calls `f` on every value at `path` under `v` (lists along the way are entered, every
/// element). With `create`, missing mappings on the way and the last field are created
/// (as `Value::Null`, for `f` to fill).
pub fn visit(v: &mut Value, path: &[String], create: bool, f: &mut dyn FnMut(&mut Value)) {
    visit_at(v, path, create, &mut Vec::new(), &mut |_, v| f(v));
}

/// [`visit_at`] where the segments at `seq_at` (counted from the start of `path`) are never
/// created.
fn visit_spec(
    v: &mut Value,
    path: &[String],
    create: bool,
    (seq_at, depth): (&[usize], usize),
    here: &mut Vec<Seg>,
    f: &mut dyn FnMut(&[Seg], &mut Value),
) {
    match v {
        Value::Array(items) => {
            for (i, it) in items.iter_mut().enumerate() {
                here.push(Seg::Index(i));
                visit_spec(it, path, create, (seq_at, depth), here, f);
                here.pop();
            }
        }
        Value::Object(m) => {
            let Some((first, rest)) = path.split_first() else {
                f(here, v);
                return;
            };
            if !m.contains_key(first.as_str()) {
                if !create || seq_at.contains(&depth) {
                    return;
                }
                let fresh = if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                };
                m.insert(first.clone(), fresh);
            }
            if let Some(child) = m.get_mut(first.as_str()) {
                here.push(Seg::Key(first.clone()));
                if rest.is_empty() {
                    f(here, child);
                } else {
                    if child.is_null() && create && !seq_at.contains(&depth) {
                        *child = Value::Object(Map::new());
                    }
                    visit_spec(child, rest, create, (seq_at, depth + 1), here, f);
                }
                here.pop();
            }
        }
        _ => {
            if path.is_empty() {
                f(here, v);
            }
        }
    }
}

/// [`visit`], telling `f` where each value is.
pub fn visit_at(
    v: &mut Value,
    path: &[String],
    create: bool,
    here: &mut Vec<Seg>,
    f: &mut dyn FnMut(&[Seg], &mut Value),
) {
    visit_spec(v, path, create, (&[], 0), here, f);
}

/// Applies `f` at every spec in `specs` that selects `r`.
pub fn apply(r: &mut Resource, specs: &[FieldSpec], f: &mut dyn FnMut(&mut Value)) {
    apply_at(r, specs, &mut |_, v| f(v));
}

/// [`apply`], telling `f` where each value is.
pub fn apply_at(r: &mut Resource, specs: &[FieldSpec], f: &mut dyn FnMut(&[Seg], &mut Value)) {
    let (g, v) = r.group_version();
    let kind = r.kind();
    let selected: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects_gvk(g, v, kind)).collect();
    let mut root = Value::Object(std::mem::take(&mut r.obj));
    for s in selected {
        visit_spec(
            &mut root,
            &s.path,
            s.create,
            (&s.seq_at, 0),
            &mut Vec::new(),
            f,
        );
    }
    if let Value::Object(m) = root {
        r.obj = m;
    }
}

/// The namespace transformer's default specs beyond `metadata/namespace` (which is set on
/// namespaceable kinds only) and binding subjects (builtinpluginconsts/namespace.go): a
/// `Namespace` object is renamed to the namespace, APIService and CRD conversion webhooks
/// point at it.
///
/// Only the core `v1` Namespace is renamed: kubectl kustomize v5.5.0 gives a `Namespace` of
/// any other apiVersion (which kustomize holds namespaced, see
/// [`crate::resource::cluster_scoped`]) a `metadata.namespace` and keeps its name.
pub fn namespace_defaults() -> Vec<FieldSpec> {
    vec![
        FieldSpec {
            version: Some("v1".into()),
            ..FieldSpec::new(Some("Namespace"), Some(""), "metadata/name", true)
        },
        FieldSpec::new(
            Some("APIService"),
            Some("apiregistration.k8s.io"),
            "spec/service/namespace",
            true,
        ),
        FieldSpec::new(
            Some("CustomResourceDefinition"),
            Some("apiextensions.k8s.io"),
            "spec/conversion/webhook/clientConfig/service/namespace",
            false,
        ),
    ]
}

/// Workload kinds and where their pod template's metadata sits.
const TEMPLATES: &[(&str, Option<&str>, &str)] = &[
    ("ReplicationController", None, "spec/template"),
    ("Deployment", None, "spec/template"),
    ("ReplicaSet", None, "spec/template"),
    ("DaemonSet", None, "spec/template"),
    ("StatefulSet", Some("apps"), "spec/template"),
    ("Job", Some("batch"), "spec/template"),
    ("CronJob", Some("batch"), "spec/jobTemplate"),
    ("CronJob", Some("batch"), "spec/jobTemplate/spec/template"),
];

/// `metadata/labels` of every object and of pod templates (metadatalabels.go).
pub fn template_labels() -> Vec<FieldSpec> {
    TEMPLATES
        .iter()
        .map(|(k, g, p)| FieldSpec::new(Some(k), *g, &format!("{p}/metadata/labels"), true))
        .collect()
}

pub fn metadata_labels() -> Vec<FieldSpec> {
    let mut v = vec![FieldSpec::new(None, None, "metadata/labels", true)];
    v.extend(template_labels());
    v
}

/// commonLabels: metadata labels plus selectors (commonlabels.go).
pub fn common_labels() -> Vec<FieldSpec> {
    let mut v = vec![
        FieldSpec::new(Some("Service"), None, "spec/selector", true),
        FieldSpec::new(Some("ReplicationController"), None, "spec/selector", true),
        FieldSpec::new(Some("Deployment"), None, "spec/selector/matchLabels", true),
        FieldSpec::new(Some("ReplicaSet"), None, "spec/selector/matchLabels", true),
        FieldSpec::new(Some("DaemonSet"), None, "spec/selector/matchLabels", true),
        FieldSpec::new(
            Some("StatefulSet"),
            Some("apps"),
            "spec/selector/matchLabels",
            true,
        ),
        FieldSpec::new(
            Some("StatefulSet"),
            Some("apps"),
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        FieldSpec::new(
            Some("Job"),
            Some("batch"),
            "spec/selector/matchLabels",
            false,
        ),
        FieldSpec::new(
            Some("CronJob"),
            Some("batch"),
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        FieldSpec::new(
            Some("PodDisruptionBudget"),
            Some("policy"),
            "spec/selector/matchLabels",
            false,
        ),
        FieldSpec::new(
            Some("NetworkPolicy"),
            Some("networking.k8s.io"),
            "spec/podSelector/matchLabels",
            false,
        ),
        FieldSpec::new(
            Some("NetworkPolicy"),
            Some("networking.k8s.io"),
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        FieldSpec::new(
            Some("NetworkPolicy"),
            Some("networking.k8s.io"),
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ];
    for kind in ["Deployment", "StatefulSet"] {
        for aff in ["podAffinity", "podAntiAffinity"] {
            v.push(FieldSpec::new(
                Some(kind),
                Some("apps"),
                &format!("spec/template/spec/affinity/{aff}/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels"),
                false,
            ));
            v.push(FieldSpec::new(
                Some(kind),
                Some("apps"),
                &format!("spec/template/spec/affinity/{aff}/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels"),
                false,
            ));
        }
        v.push(FieldSpec::new(
            Some(kind),
            Some("apps"),
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
            false,
        ));
    }
    v.extend(metadata_labels());
    v
}

/// commonAnnotations (commonannotations.go).
pub fn common_annotations() -> Vec<FieldSpec> {
    let mut v = vec![FieldSpec::new(None, None, "metadata/annotations", true)];
    v.extend(
        TEMPLATES.iter().map(|(k, g, p)| {
            FieldSpec::new(Some(k), *g, &format!("{p}/metadata/annotations"), true)
        }),
    );
    v
}

/// Where each workload kind keeps its pod spec.
const POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// A name reference: objects of `kind` (and `group`) are named at `spec`'s paths.
#[derive(Debug, Clone, PartialEq)]
pub struct NameRef {
    pub kind: String,
    pub group: String,
    pub referrers: Vec<FieldSpec>,
}

fn pod_refs(kinds: &[&str], suffixes: &[&str]) -> Vec<FieldSpec> {
    let mut v = Vec::new();
    for (k, prefix) in POD_SPECS {
        if !kinds.contains(k) {
            continue;
        }
        for s in suffixes {
            v.push(FieldSpec::new(
                Some(k),
                None,
                &format!("{prefix}/{s}"),
                false,
            ));
        }
    }
    v
}

/// The built-in name references (namereference.go), generated from the pod spec shapes.
pub fn name_references() -> Vec<NameRef> {
    let all_pods: Vec<&str> = POD_SPECS.iter().map(|(k, _)| *k).collect();
    let no_rc: Vec<&str> = all_pods
        .iter()
        .copied()
        .filter(|k| *k != "ReplicationController")
        .collect();
    let fs = |k: &str, p: &str| FieldSpec::new(Some(k), None, p, false);
    let mut cm = pod_refs(
        &no_rc,
        &[
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ],
    );
    cm.extend([
        fs("Node", "spec/configSource/configMap"),
        fs("Role", "rules/resourceNames"),
        fs("ClusterRole", "rules/resourceNames"),
        fs(
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
        ),
    ]);
    let mut secret = pod_refs(
        &no_rc,
        &[
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ],
    );
    secret.extend([
        fs("Ingress", "spec/tls/secretName"),
        fs(
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
        ),
        fs(
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
        ),
        fs(
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
        ),
        fs("ServiceAccount", "imagePullSecrets/name"),
        fs("StorageClass", "parameters/secretName"),
        fs("StorageClass", "parameters/adminSecretName"),
        fs("StorageClass", "parameters/userSecretName"),
        fs("StorageClass", "parameters/secretRef"),
        fs("Role", "rules/resourceNames"),
        fs("ClusterRole", "rules/resourceNames"),
        FieldSpec::new(
            Some("Service"),
            Some("serving.knative.dev"),
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            false,
        ),
        fs("PersistentVolume", "spec/azureFile/secretName"),
    ]);
    let sa_kinds: Vec<&str> = all_pods
        .iter()
        .copied()
        .filter(|k| *k != "PodTemplate" && *k != "ReplicaSet")
        .collect();
    let mut sa = pod_refs(&sa_kinds, &["serviceAccountName"]);
    sa.extend([
        FieldSpec::new(
            Some("RoleBinding"),
            Some("rbac.authorization.k8s.io"),
            "subjects",
            false,
        ),
        FieldSpec::new(
            Some("ClusterRoleBinding"),
            Some("rbac.authorization.k8s.io"),
            "subjects",
            false,
        ),
    ]);
    let pvc = pod_refs(&sa_kinds, &["volumes/persistentVolumeClaim/claimName"]);
    let prio = pod_refs(&sa_kinds, &["priorityClassName"]);
    let scale = |k: &str| NameRef {
        kind: k.into(),
        group: String::new(),
        referrers: vec![fs("HorizontalPodAutoscaler", "spec/scaleTargetRef/name")],
    };
    vec![
        scale("Deployment"),
        scale("ReplicationController"),
        scale("ReplicaSet"),
        scale("StatefulSet"),
        NameRef {
            kind: "ConfigMap".into(),
            group: "".into(),
            referrers: cm,
        },
        NameRef {
            kind: "Secret".into(),
            group: "".into(),
            referrers: secret,
        },
        NameRef {
            kind: "Service".into(),
            group: "".into(),
            referrers: vec![
                FieldSpec::new(Some("StatefulSet"), Some("apps"), "spec/serviceName", false),
                fs("Ingress", "spec/rules/http/paths/backend/serviceName"),
                fs("Ingress", "spec/backend/serviceName"),
                fs("Ingress", "spec/rules/http/paths/backend/service/name"),
                fs("Ingress", "spec/defaultBackend/service/name"),
                FieldSpec::new(
                    Some("APIService"),
                    Some("apiregistration.k8s.io"),
                    "spec/service/name",
                    false,
                ),
                FieldSpec::new(
                    Some("ValidatingWebhookConfiguration"),
                    Some("admissionregistration.k8s.io"),
                    "webhooks/clientConfig/service",
                    false,
                ),
                FieldSpec::new(
                    Some("MutatingWebhookConfiguration"),
                    Some("admissionregistration.k8s.io"),
                    "webhooks/clientConfig/service",
                    false,
                ),
                fs("HTTPRoute", "spec/rules/backendRefs/name"),
            ],
        },
        NameRef {
            kind: "Role".into(),
            group: "rbac.authorization.k8s.io".into(),
            referrers: vec![FieldSpec::new(
                Some("RoleBinding"),
                Some("rbac.authorization.k8s.io"),
                "roleRef/name",
                false,
            )],
        },
        NameRef {
            kind: "ClusterRole".into(),
            group: "rbac.authorization.k8s.io".into(),
            referrers: vec![
                FieldSpec::new(
                    Some("RoleBinding"),
                    Some("rbac.authorization.k8s.io"),
                    "roleRef/name",
                    false,
                ),
                FieldSpec::new(
                    Some("ClusterRoleBinding"),
                    Some("rbac.authorization.k8s.io"),
                    "roleRef/name",
                    false,
                ),
            ],
        },
        NameRef {
            kind: "ServiceAccount".into(),
            group: "".into(),
            referrers: sa,
        },
        // kubectl kustomize v5.5.0 renames a binding's `spec/policyName` with its policy
        NameRef {
            kind: "ValidatingAdmissionPolicy".into(),
            group: "admissionregistration.k8s.io".into(),
            referrers: vec![FieldSpec::new(
                Some("ValidatingAdmissionPolicyBinding"),
                Some("admissionregistration.k8s.io"),
                "spec/policyName",
                false,
            )],
        },
        NameRef {
            kind: "PersistentVolumeClaim".into(),
            group: "".into(),
            referrers: pvc,
        },
        NameRef {
            kind: "PersistentVolume".into(),
            group: "".into(),
            referrers: vec![
                fs("PersistentVolumeClaim", "spec/volumeName"),
                fs("ClusterRole", "rules/resourceNames"),
            ],
        },
        NameRef {
            kind: "StorageClass".into(),
            group: "storage.k8s.io".into(),
            referrers: vec![
                fs("PersistentVolume", "spec/storageClassName"),
                fs("PersistentVolumeClaim", "spec/storageClassName"),
                fs(
                    "StatefulSet",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                ),
            ],
        },
        NameRef {
            kind: "PriorityClass".into(),
            group: "scheduling.k8s.io".into(),
            referrers: prio,
        },
        NameRef {
            kind: "IngressClass".into(),
            group: "networking.k8s.io".into(),
            referrers: vec![fs("Ingress", "spec/ingressClassName")],
        },
    ]
}

/// Where `$(VAR)` references are replaced (api/konfig/builtinpluginconsts/varreference.go).
pub fn var_references() -> Vec<FieldSpec> {
    let mut v = Vec::new();
    let containers = |prefix: &str| {
        let mut out = Vec::new();
        for c in ["containers", "initContainers"] {
            for f in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                out.push(format!("{prefix}/{c}/{f}"));
            }
        }
        out.push(format!("{prefix}/volumes/nfs/server"));
        out
    };
    for (kind, prefix) in [
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
        ("DaemonSet", "spec/template/spec"),
        ("Deployment", "spec/template/spec"),
    ] {
        for p in containers(prefix) {
            v.push(FieldSpec::new(Some(kind), None, &p, false));
        }
    }
    for p in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] {
        v.push(FieldSpec::new(Some("Ingress"), None, p, false));
    }
    for (kind, prefix) in [
        ("Job", "spec/template/spec"),
        ("Pod", "spec"),
        ("ReplicaSet", "spec/template/spec"),
    ] {
        for p in containers(prefix) {
            v.push(FieldSpec::new(Some(kind), None, &p, false));
        }
    }
    for p in ["spec/ports/port", "spec/ports/targetPort"] {
        v.push(FieldSpec::new(Some("Service"), None, p, false));
    }
    let mut sts = containers("spec/template/spec");
    sts.pop();
    sts.push("spec/volumeClaimTemplates/spec/nfs/server".into());
    for p in sts {
        v.push(FieldSpec::new(Some("StatefulSet"), None, &p, false));
    }
    v.push(FieldSpec::new(
        Some("PersistentVolume"),
        None,
        "spec/nfs/server",
        false,
    ));
    v.push(FieldSpec::new(None, None, "metadata/labels", false));
    v.push(FieldSpec::new(None, None, "metadata/annotations", false));
    v
}

/// `images` (images.go of kustomize v5.5: containers and initContainers of pods and of pod
/// templates, of any kind). The ImageTagTransformer runs its legacy filter over every
/// container list first and then these, so a `tagSuffix` lands twice where both reach.
pub fn images() -> Vec<FieldSpec> {
    [
        "spec/containers[]/image",
        "spec/initContainers[]/image",
        "spec/template/spec/containers[]/image",
        "spec/template/spec/initContainers[]/image",
    ]
    .iter()
    .map(|p| FieldSpec::new(None, None, p, true))
    .collect()
}

/// `replicas` (replicas.go).
pub fn replicas() -> Vec<FieldSpec> {
    // the order of kustomize's replicas field specs (its "does not match" error lists them)
    [
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "ReplicationController",
    ]
    .iter()
    .map(|k| FieldSpec::new(Some(k), None, "spec/replicas", true))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_on_unescaped_slashes() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            ["metadata", "annotations", "a.io/b"]
        );
        assert_eq!(
            split_path("spec/volumeClaimTemplates[]/metadata"),
            ["spec", "volumeClaimTemplates", "metadata"]
        );
    }
}
