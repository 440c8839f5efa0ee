//! A resource in a build, with the name history kustomize keeps for name references.

use serde_json::{Map, Value};

/// One object being built.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub obj: Map<String, Value>,
    /// Names this resource had before its current one (original first).
    pub previous_names: Vec<String>,
    /// Namespaces it had before (original first).
    pub previous_namespaces: Vec<String>,
    /// The (name, namespace) pairs it had before, original first: kustomize's `PrevIds`
    /// (`StorePreviousId` stores the whole id at each change), by which a strategic merge
    /// patch without a target still finds it.
    pub previous_ids: Vec<(String, String)>,
    /// A generated ConfigMap/Secret that gets the content hash appended to its name.
    pub needs_hash: bool,
    /// Made by a generator (merge/replace behaviours apply to it).
    pub generated: bool,
    /// The `vars` bound to this resource (their values are read from it).
    pub ref_vars: Vec<String>,
    /// The `config.kubernetes.io/origin` annotation text (`buildMetadata: [originAnnotations]`).
    pub origin: Option<String>,
    /// The `alpha.config.kubernetes.io/transformations` annotation text
    /// (`buildMetadata: [transformerAnnotations]`): a YAML list of origins.
    pub transformations: Option<String>,
    /// Fields that are one YAML node in kustomize: see [`Resource::sync_aliases`].
    pub aliases: Vec<Vec<Vec<Seg>>>,
    /// The name prefixes and suffixes given to it, in order (kustomize's
    /// `AddNamePrefix`/`AddNameSuffix`; name references prefer targets that got the same).
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
}

/// One step of a path into an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.as_object()?.get(k),
        Seg::Index(i) => v.as_array()?.get(*i),
    })
}

fn at_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.as_object_mut()?.get_mut(k),
        Seg::Index(i) => v.as_array_mut()?.get_mut(*i),
    })
}

/// The kinds kustomize knows to be cluster-scoped, by apiVersion: kyaml's
/// `precomputedIsNamespaceScoped` entries that are `false` (kyaml/openapi/openapi.go), which
/// `Gvk.IsClusterScoped` reads through `openapi.IsCertainlyClusterScoped`. Every other
/// apiVersion and kind (`cluster.x-k8s.io/v1beta1 Cluster`, `cert-manager.io/v1 ClusterIssuer`,
/// a `v1alpha1` ClusterRole, `authentication.k8s.io/v1 TokenReview`) is namespaced for
/// kustomize (checked against kubectl kustomize v5.5.0).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

/// Whether kustomize treats `group/version` `kind` as cluster-scoped ([`CLUSTER_SCOPED`]).
pub fn cluster_scoped((group, version): (&str, &str), kind: &str) -> bool {
    CLUSTER_SCOPED.iter().any(|(av, k)| {
        *k == kind
            && match av.split_once('/') {
                Some((g, v)) => g == group && v == version,
                None => group.is_empty() && *av == version,
            }
    })
}

impl Resource {
    pub fn new(obj: Map<String, Value>) -> Resource {
        Resource {
            obj,
            previous_names: Vec::new(),
            previous_namespaces: Vec::new(),
            previous_ids: Vec::new(),
            needs_hash: false,
            generated: false,
            ref_vars: Vec::new(),
            origin: None,
            transformations: None,
            aliases: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
        }
    }

    /// The values of the aliased fields, for [`Resource::sync_aliases`] after a change.
    pub fn alias_snapshot(&self) -> Vec<Vec<Option<Value>>> {
        // read from the map itself: no copy of the object (this runs for every object at
        // every label, annotation, patch and replacement step)
        let read = |p: &[Seg]| match p.split_first() {
            Some((Seg::Key(k), rest)) => self.obj.get(k).and_then(|v| at(v, rest)).cloned(),
            _ => None,
        };
        self.aliases
            .iter()
            .map(|g| g.iter().map(|p| read(p)).collect())
            .collect()
    }

    /// kustomize's label and annotation transformers create a key at every field spec of an
    /// object with one shared YAML node (kyaml `filtersutil.SetEntry` makes one node per key
    /// and object; `FieldSetter` appends it where the key is missing and copies into the
    /// existing node where it is present). A later in-place change of that key at one place
    /// (another `labels` entry without selectors, a strategic merge patch, a replacement)
    /// therefore shows at all of them. After such a change, the first changed member of each
    /// group gives its value to the others; members that are gone leave the group.
    pub fn sync_aliases(&mut self, before: &[Vec<Option<Value>>]) {
        if self.aliases.is_empty() {
            return;
        }
        let mut root = Value::Object(std::mem::take(&mut self.obj));
        for (g, old) in self.aliases.iter_mut().zip(before) {
            let changed = g
                .iter()
                .zip(old)
                .find_map(|(p, o)| at(&root, p).filter(|now| Some(*now) != o.as_ref()).cloned());
            if let Some(value) = changed.filter(|v| !v.is_object() && !v.is_array()) {
                for p in g.iter() {
                    if let Some(slot) = at_mut(&mut root, p) {
                        *slot = value.clone();
                    }
                }
            }
            g.retain(|p| at(&root, p).is_some_and(|v| !v.is_object() && !v.is_array()));
        }
        self.aliases.retain(|g| g.len() > 1);
        if let Value::Object(m) = root {
            self.obj = m;
        }
    }
    pub fn kind(&self) -> &str {
        self.obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn api_version(&self) -> &str {
        self.obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// (group, version) of `apiVersion`.
    pub fn group_version(&self) -> (&str, &str) {
        split_api_version(self.api_version())
    }

    fn meta_str(&self, key: &str) -> &str {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.meta_str("name")
    }

    pub fn namespace(&self) -> &str {
        self.meta_str("namespace")
    }

    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let m = self
            .obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !m.is_object() {
            *m = Value::Object(Map::new());
        }
        match m {
            Value::Object(m) => m,
            _ => unreachable!("metadata was just made a mapping"),
        }
    }

    pub fn set_name(&mut self, name: String) {
        let old = self.name().to_owned();
        if old != name {
            self.previous_ids
                .push((old.clone(), self.namespace().to_owned()));
            self.previous_names.push(old);
        }
        self.metadata_mut()
            .insert("name".into(), Value::String(name));
    }

    pub fn set_namespace(&mut self, ns: String) {
        let old = self.namespace().to_owned();
        if old != ns {
            self.previous_ids
                .push((self.name().to_owned(), old.clone()));
            self.previous_namespaces.push(old);
        }
        self.metadata_mut()
            .insert("namespace".into(), Value::String(ns));
    }

    /// Whether the resource ever had `name`.
    pub fn had_name(&self, name: &str) -> bool {
        self.name() == name || self.previous_names.iter().any(|n| n == name)
    }

    /// Whether `(name, namespace)` is the resource's id now or was one before (kustomize's
    /// `GetMatchingResourcesByAnyId`); an empty namespace is `default`.
    pub fn had_id(&self, name: &str, ns: &str) -> bool {
        let eff = |n: &str| {
            if n.is_empty() {
                "default".to_owned()
            } else {
                n.to_owned()
            }
        };
        let want = eff(ns);
        (self.name() == name && eff(self.namespace()) == want)
            || self
                .previous_ids
                .iter()
                .any(|(n, s)| n == name && eff(s) == want)
    }

    /// The original name (before any transformation).
    pub fn original_name(&self) -> &str {
        self.previous_names
            .first()
            .map_or_else(|| self.name(), String::as_str)
    }

    pub fn original_namespace(&self) -> &str {
        self.previous_namespaces
            .first()
            .map_or_else(|| self.namespace(), String::as_str)
    }

    pub fn is_namespaceable(&self) -> bool {
        !cluster_scoped(self.group_version(), self.kind())
    }

    /// kustomize's id string: `Kind.version.group/name.namespace`.
    pub fn id_string(&self) -> String {
        let (g, v) = self.group_version();
        id_string(g, v, self.kind(), self.name(), self.namespace())
    }
}

/// `Kind.version.group/name.namespace` with kustomize's placeholders for empty parts.
pub fn id_string(group: &str, version: &str, kind: &str, name: &str, ns: &str) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_owned()
        } else {
            s.to_owned()
        }
    };
    format!(
        "{}.{}.{}/{}.{}",
        or(kind, "[noKind]"),
        or(version, "[noVer]"),
        or(group, "[noGrp]"),
        or(name, "[noName]"),
        or(ns, "[noNs]")
    )
}

pub fn split_api_version(av: &str) -> (&str, &str) {
    match av.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", av),
    }
}

/// kustomize's effective namespace for comparisons: empty is `default`; cluster-scoped
/// kinds ([`cluster_scoped`]) have none.
pub fn effective_ns<'a>(gv: (&str, &str), kind: &str, ns: &'a str) -> &'a str {
    if cluster_scoped(gv, kind) {
        "_non_namespaceable_"
    } else if ns.is_empty() {
        "default"
    } else {
        ns
    }
}
