//! kube-apiserver's defaulting of the built-in kinds, applied on every create and update as
//! its decoder does: k8s.io/kubernetes pkg/apis/core/v1/defaults.go, apps/v1/defaults.go,
//! batch/v1/defaults.go, networking/v1/defaults.go, storage/v1/defaults.go,
//! scheduling/v1/defaults.go, admissionregistration/v1/defaults.go, plus what the registry
//! strategies allocate (a Service's clusterIP, clusterIPs, ipFamilies, ipFamilyPolicy and
//! nodePorts: pkg/registry/core/service/storage). Only absent (or null / empty-string) fields
//! are set, so defaulting is idempotent and a value a user wrote is never replaced.

use serde_json::{Map, Value, json};

/// Is the field at `key` unset (absent, null, or an empty string)?
fn unset(m: &Map<String, Value>, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

fn set(m: &mut Map<String, Value>, key: &str, v: Value) {
    if unset(m, key) {
        m.insert(key.to_owned(), v);
    }
}

/// The object at `key`, created empty when absent or null; None when it holds something else
/// (left for validation to report).
fn obj<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_owned(), json!({}));
    }
    m.get_mut(key)?.as_object_mut()
}

/// The object at `key` only if present.
fn existing<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(key)?.as_object_mut()
}

/// Each object of the array at `key`.
fn each<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Defaults `obj` (a built-in kind of `group`) in place; `old` is the stored object on update.
pub fn apply(group: &str, kind: &str, object: &mut Value, old: Option<&Value>) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    match (group, kind) {
        ("", "Pod") => {
            if let Some(spec) = existing(root, "spec") {
                pod_spec(spec);
                pod_requests_from_limits(spec);
            }
            // SetDefaults_Pod: enableServiceLinks; with host networking every container
            // port is also a host port (defaultHostNetworkPorts)
            if let Some(spec) = existing(root, "spec") {
                set(spec, "enableServiceLinks", json!(true));
                if spec.get("hostNetwork") == Some(&json!(true)) {
                    for key in ["containers", "initContainers"] {
                        for c in each(spec, key) {
                            for p in each(c, "ports") {
                                if p.get("hostPort").is_none_or(|h| h.is_null() || h == 0) {
                                    let cp = p.get("containerPort").cloned().unwrap_or(json!(0));
                                    p.insert("hostPort".into(), cp);
                                }
                            }
                        }
                    }
                }
            }
            if let Some(st) = obj_if_absent_status(root) {
                set(st, "phase", json!("Pending"));
            }
        }
        ("", "PodTemplate") => template(root),
        ("", "ReplicationController") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_ReplicationController: selector and labels from the template
                let labels = spec
                    .get("template")
                    .and_then(|t| t.pointer("/metadata/labels"))
                    .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
                    .cloned();
                if let Some(l) = &labels
                    && spec
                        .get("selector")
                        .and_then(Value::as_object)
                        .is_none_or(Map::is_empty)
                {
                    spec.insert("selector".into(), l.clone());
                }
                set(spec, "replicas", json!(1));
                template(spec);
                if let Some(l) = labels
                    && let Some(meta) = obj(root, "metadata")
                    && meta
                        .get("labels")
                        .and_then(Value::as_object)
                        .is_none_or(Map::is_empty)
                {
                    meta.insert("labels".into(), l);
                }
            }
        }
        ("", "Service") => service(root, old),
        ("", "Secret") => {
            set(root, "type", json!("Opaque"));
            fold_string_data(root);
        }
        ("", "Namespace") => {
            // SetDefaults_Namespace: the immutable `kubernetes.io/metadata.name` label
            let name = root
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if !name.is_empty()
                && let Some(meta) = obj(root, "metadata")
                && let Some(labels) = obj(meta, "labels")
            {
                labels.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
            if let Some(spec) = obj(root, "spec") {
                set(spec, "finalizers", json!(["kubernetes"]));
            }
            if let Some(st) = obj(root, "status") {
                set(st, "phase", json!("Active"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            pvc(root);
        }
        ("", "PersistentVolume") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_PersistentVolume
                set(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
                set(spec, "volumeMode", json!("Filesystem"));
            }
            if let Some(st) = obj(root, "status") {
                set(st, "phase", json!("Pending"));
            }
        }
        ("", "Endpoints") => {
            for subset in each(root, "subsets") {
                for p in each(subset, "ports") {
                    set(p, "protocol", json!("TCP"));
                }
            }
        }
        ("", "LimitRange") => {
            if let Some(spec) = existing(root, "spec") {
                for item in each(spec, "limits") {
                    limit_range_item(item);
                }
            }
        }
        ("apps", "Deployment") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_Deployment
                set(spec, "replicas", json!(1));
                if let Some(strategy) = obj(spec, "strategy") {
                    set(strategy, "type", json!("RollingUpdate"));
                    if strategy.get("type") == Some(&json!("RollingUpdate"))
                        && let Some(ru) = obj(strategy, "rollingUpdate")
                    {
                        set(ru, "maxUnavailable", json!("25%"));
                        set(ru, "maxSurge", json!("25%"));
                    }
                }
                set(spec, "revisionHistoryLimit", json!(10));
                set(spec, "progressDeadlineSeconds", json!(600));
                template(spec);
            }
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = existing(root, "spec") {
                set(spec, "replicas", json!(1));
                template(spec);
            }
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_StatefulSet
                set(spec, "podManagementPolicy", json!("OrderedReady"));
                if let Some(us) = obj(spec, "updateStrategy") {
                    set(us, "type", json!("RollingUpdate"));
                    if us.get("type") == Some(&json!("RollingUpdate"))
                        && let Some(ru) = obj(us, "rollingUpdate")
                    {
                        set(ru, "partition", json!(0));
                    }
                }
                // StatefulSetAutoDeletePVC is on by default since 1.27
                if let Some(p) = obj(spec, "persistentVolumeClaimRetentionPolicy") {
                    set(p, "whenDeleted", json!("Retain"));
                    set(p, "whenScaled", json!("Retain"));
                }
                set(spec, "replicas", json!(1));
                set(spec, "revisionHistoryLimit", json!(10));
                template(spec);
                for t in each(spec, "volumeClaimTemplates") {
                    pvc(t);
                }
            }
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_DaemonSet
                if let Some(us) = obj(spec, "updateStrategy") {
                    set(us, "type", json!("RollingUpdate"));
                    if us.get("type") == Some(&json!("RollingUpdate"))
                        && let Some(ru) = obj(us, "rollingUpdate")
                    {
                        set(ru, "maxUnavailable", json!(1));
                        set(ru, "maxSurge", json!(0));
                    }
                }
                set(spec, "revisionHistoryLimit", json!(10));
                template(spec);
            }
        }
        ("batch", "Job") => {
            if let Some(spec) = existing(root, "spec") {
                job_spec(spec);
                template(spec);
            }
        }
        ("batch", "CronJob") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_CronJob; the job template gets only the pod template defaults
                set(spec, "concurrencyPolicy", json!("Allow"));
                set(spec, "suspend", json!(false));
                set(spec, "successfulJobsHistoryLimit", json!(3));
                set(spec, "failedJobsHistoryLimit", json!(1));
                if let Some(jt) = existing(spec, "jobTemplate")
                    && let Some(js) = existing(jt, "spec")
                {
                    template(js);
                }
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            if let Some(spec) = existing(root, "spec") {
                // SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort
                for dir in ["ingress", "egress"] {
                    for rule in each(spec, dir) {
                        for p in each(rule, "ports") {
                            set(p, "protocol", json!("TCP"));
                        }
                    }
                }
                if spec
                    .get("policyTypes")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    let mut types = vec![json!("Ingress")];
                    if spec
                        .get("egress")
                        .and_then(Value::as_array)
                        .is_some_and(|e| !e.is_empty())
                    {
                        types.push(json!("Egress"));
                    }
                    spec.insert("policyTypes".into(), Value::Array(types));
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let v2 = root.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v2");
            if let Some(spec) = existing(root, "spec") {
                hpa(spec, v2);
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            // rbac/v1 SetDefaults_RoleBinding / _ClusterRoleBinding and SetDefaults_Subject
            if let Some(r) = existing(root, "roleRef") {
                set(r, "apiGroup", json!("rbac.authorization.k8s.io"));
            }
            for s in each(root, "subjects") {
                // a ServiceAccount's group is "" (`apiGroup,omitempty`: not shown)
                let group = match s.get("kind").and_then(Value::as_str) {
                    Some("User" | "Group") => Some("rbac.authorization.k8s.io"),
                    _ => None,
                };
                if let Some(g) = group
                    && unset(s, "apiGroup")
                {
                    s.insert("apiGroup".into(), json!(g));
                }
            }
        }
        ("networking.k8s.io", "IngressClass") => {
            // networking/v1 SetDefaults_IngressClass
            if let Some(spec) = existing(root, "spec")
                && let Some(p) = existing(spec, "parameters")
            {
                set(p, "scope", json!("Cluster"));
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            // discovery/v1 SetDefaults_EndpointPort
            for p in each(root, "ports") {
                set(p, "name", json!(""));
                set(p, "protocol", json!("TCP"));
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            set(root, "reclaimPolicy", json!("Delete"));
            set(root, "volumeBindingMode", json!("Immediate"));
        }
        ("storage.k8s.io", "CSIDriver") => {
            if let Some(spec) = existing(root, "spec") {
                set(spec, "attachRequired", json!(true));
                set(spec, "podInfoOnMount", json!(false));
                set(spec, "storageCapacity", json!(false));
                set(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
                set(spec, "requiresRepublish", json!(false));
                set(spec, "volumeLifecycleModes", json!(["Persistent"]));
            }
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            set(root, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
        ) => {
            let mutating = kind == "MutatingWebhookConfiguration";
            for w in each(root, "webhooks") {
                webhook(w, mutating);
            }
        }
        _ => {}
    }
}

/// autoscaling/v1 and v2 SetDefaults_HorizontalPodAutoscaler: minReplicas 1; in v2 also a
/// CPU utilisation target of 80% when no metric is given, and a given `behavior` filled with
/// GenerateHPAScaleUpRules / GenerateHPAScaleDownRules (each unset field of each direction;
/// scale-down's stabilizationWindowSeconds stays unset: the controller's flag decides it).
fn hpa(spec: &mut Map<String, Value>, v2: bool) {
    set(spec, "minReplicas", json!(1));
    if !v2 {
        return;
    }
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = existing(spec, "behavior") else {
        return;
    };
    let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    let down = json!({"selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    for (key, defaults) in [("scaleUp", up), ("scaleDown", down)] {
        if let Some(rules) = obj(behavior, key)
            && let Value::Object(d) = defaults
        {
            for (k, v) in d {
                if rules.get(&k).is_none_or(Value::is_null) {
                    rules.insert(k, v);
                }
            }
        }
    }
}

/// `status` when the object has none yet (the phase a new object starts in).
fn obj_if_absent_status(root: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    obj(root, "status")
}

/// admissionregistration/v1 SetDefaults_ValidatingWebhook / SetDefaults_MutatingWebhook,
/// SetDefaults_Rule and SetDefaults_ServiceReference.
fn webhook(w: &mut Map<String, Value>, mutating: bool) {
    set(w, "failurePolicy", json!("Fail"));
    set(w, "matchPolicy", json!("Equivalent"));
    set(w, "namespaceSelector", json!({}));
    set(w, "objectSelector", json!({}));
    set(w, "timeoutSeconds", json!(10));
    if mutating {
        set(w, "reinvocationPolicy", json!("Never"));
    }
    for r in each(w, "rules") {
        set(r, "scope", json!("*"));
    }
    if let Some(cc) = existing(w, "clientConfig")
        && let Some(svc) = existing(cc, "service")
    {
        set(svc, "port", json!(443));
    }
}

/// batch/v1 SetDefaults_Job (JobPodReplacementPolicy is on by default since 1.29).
fn job_spec(spec: &mut Map<String, Value>) {
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    set(spec, "parallelism", json!(1));
    if unset(spec, "backoffLimit") {
        let per_index = !unset(spec, "backoffLimitPerIndex");
        spec.insert(
            "backoffLimit".into(),
            json!(if per_index { i32::MAX } else { 6 }),
        );
    }
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    if unset(spec, "podReplacementPolicy") {
        let v = if unset(spec, "podFailurePolicy") {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        spec.insert("podReplacementPolicy".into(), json!(v));
    }
    if let Some(pfp) = existing(spec, "podFailurePolicy") {
        for rule in each(pfp, "rules") {
            for p in each(rule, "onPodConditions") {
                set(p, "status", json!("True"));
            }
        }
    }
}

/// A PersistentVolumeClaim or a StatefulSet's claim template: SetDefaults_PersistentVolumeClaim
/// (status.phase Pending) and SetDefaults_PersistentVolumeClaimSpec (volumeMode Filesystem).
fn pvc(root: &mut Map<String, Value>) {
    if let Some(spec) = existing(root, "spec") {
        set(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(st) = obj(root, "status") {
        set(st, "phase", json!("Pending"));
    }
}

/// `spec.template` of a workload: the pod spec defaults (SetDefaults_PodSpec and what it
/// reaches; not SetDefaults_Pod, which is only for Pods).
fn template(spec: &mut Map<String, Value>) {
    if let Some(t) = existing(spec, "template")
        && let Some(ps) = existing(t, "spec")
    {
        pod_spec(ps);
    }
}

/// core/v1 SetDefaults_PodSpec, SetDefaults_Container (and init/ephemeral containers),
/// SetDefaults_ContainerPort, SetDefaults_Probe, SetDefaults_HTTPGetAction,
/// SetDefaults_ObjectFieldSelector, SetDefaults_Volume and the volume sources' defaultMode.
pub fn pod_spec(ps: &mut Map<String, Value>) {
    set(ps, "dnsPolicy", json!("ClusterFirst"));
    set(ps, "restartPolicy", json!("Always"));
    set(ps, "terminationGracePeriodSeconds", json!(30));
    set(ps, "securityContext", json!({}));
    set(ps, "schedulerName", json!("default-scheduler"));
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for c in each(ps, key) {
            container(c);
        }
    }
    for v in each(ps, "volumes") {
        volume(v);
    }
}

/// Pods only (SetDefaults_Pod): a container's requests default to its limits.
fn pod_requests_from_limits(ps: &mut Map<String, Value>) {
    for key in ["initContainers", "containers"] {
        for c in each(ps, key) {
            let Some(res) = existing(c, "resources") else {
                continue;
            };
            let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            if let Some(req) = obj(res, "requests") {
                for (k, v) in limits {
                    req.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// imagePullPolicy from the image's tag (SetDefaults_Container): `Always` for `:latest` or
/// no tag (and no digest), otherwise `IfNotPresent`.
pub fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    // the tag follows the last ':' after the last '/' (a registry's port comes before a '/')
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn container(c: &mut Map<String, Value>) {
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    if unset(c, "imagePullPolicy") {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let p = pull_policy(image);
        c.insert("imagePullPolicy".into(), json!(p));
    }
    for p in each(c, "ports") {
        set(p, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, probe) {
            set(p, "timeoutSeconds", json!(1));
            set(p, "periodSeconds", json!(10));
            set(p, "successThreshold", json!(1));
            set(p, "failureThreshold", json!(3));
            handler(p);
        }
    }
    if let Some(lc) = existing(c, "lifecycle") {
        for h in ["postStart", "preStop"] {
            if let Some(h) = existing(lc, h) {
                handler(h);
            }
        }
    }
    for e in each(c, "env") {
        if let Some(vf) = existing(e, "valueFrom")
            && let Some(fr) = existing(vf, "fieldRef")
        {
            set(fr, "apiVersion", json!("v1"));
        }
    }
}

fn handler(h: &mut Map<String, Value>) {
    if let Some(g) = existing(h, "httpGet") {
        set(g, "path", json!("/"));
        set(g, "scheme", json!("HTTP"));
    }
}

/// SetDefaults_Volume (no source is an emptyDir) and the defaultMode 0644 (420) of the
/// secret, configMap, downwardAPI and projected sources.
fn volume(v: &mut Map<String, Value>) {
    const SOURCES: &[&str] = &[
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    ];
    if !SOURCES.iter().any(|s| v.contains_key(*s)) {
        v.insert("emptyDir".into(), json!({}));
    }
    for src in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = existing(v, src) {
            set(s, "defaultMode", json!(420));
        }
    }
    if let Some(hp) = existing(v, "hostPath") {
        set(hp, "type", json!(""));
    }
    // SetDefaults_ServiceAccountTokenProjection: an hour
    if let Some(p) = existing(v, "projected") {
        for src in each(p, "sources") {
            if let Some(t) = existing(src, "serviceAccountToken") {
                set(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(ed) = existing(v, "ephemeral")
        && let Some(t) = existing(ed, "volumeClaimTemplate")
        && let Some(spec) = existing(t, "spec")
    {
        set(spec, "volumeMode", json!("Filesystem"));
    }
}

/// SetDefaults_LimitRangeItem: a Container item's default is its max, its defaultRequest its
/// default (each resource that is unset).
fn limit_range_item(item: &mut Map<String, Value>) {
    if item.get("type").and_then(Value::as_str) != Some("Container") {
        return;
    }
    let max = item.get("max").and_then(Value::as_object).cloned();
    if let Some(max) = max
        && let Some(d) = obj(item, "default")
    {
        for (k, v) in max {
            d.entry(k).or_insert(v);
        }
    }
    let default = item.get("default").and_then(Value::as_object).cloned();
    if let Some(default) = default
        && let Some(d) = obj(item, "defaultRequest")
    {
        for (k, v) in default {
            d.entry(k).or_insert(v);
        }
    }
    for k in ["default", "defaultRequest"] {
        if item
            .get(k)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            item.remove(k);
        }
    }
}

/// core/v1 SetDefaults_Service and the service registry's allocations (clusterIP(s), single
/// stack IPv4, nodePorts), kept from `old` on update as upstream's `patchAllocatedValues`.
fn service(root: &mut Map<String, Value>, old: Option<&Value>) {
    let Some(spec) = existing(root, "spec") else {
        return;
    };
    let old_spec = old.and_then(|o| o.get("spec")).and_then(Value::as_object);
    set(spec, "type", json!("ClusterIP"));
    set(spec, "sessionAffinity", json!("None"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if spec.get("sessionAffinity") == Some(&json!("ClientIP"))
        && let Some(cfg) = obj(spec, "sessionAffinityConfig")
        && let Some(cip) = obj(cfg, "clientIP")
    {
        set(cip, "timeoutSeconds", json!(10800));
    }
    if ty == "ExternalName" {
        return;
    }
    for p in each(spec, "ports") {
        set(p, "protocol", json!("TCP"));
        if (unset(p, "targetPort") || p.get("targetPort") == Some(&json!(0)))
            && let Some(port) = p.get("port").cloned()
        {
            p.insert("targetPort".into(), port);
        }
    }
    set(spec, "internalTrafficPolicy", json!("Cluster"));
    if ty == "NodePort" || ty == "LoadBalancer" {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    // allocated values survive an update that does not set them
    if let Some(os) = old_spec {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if unset(spec, k)
                && let Some(v) = os.get(k)
            {
                spec.insert(k.into(), v.clone());
            }
        }
    }
    if unset(spec, "clusterIP") {
        let n = crate::util::rand_u64();
        spec.insert(
            "clusterIP".into(),
            json!(format!("10.96.{}.{}", (n >> 8) % 256, n % 254 + 1)),
        );
    }
    let cip = spec.get("clusterIP").cloned().unwrap_or(Value::Null);
    if spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec.insert("clusterIPs".into(), json!([cip]));
    }
    set(spec, "ipFamilyPolicy", json!("SingleStack"));
    if spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec.insert("ipFamilies".into(), json!(["IPv4"]));
    }
    if ty == "NodePort"
        || (ty == "LoadBalancer"
            && spec.get("allocateLoadBalancerNodePorts") != Some(&json!(false)))
    {
        let old_ports: Vec<Value> = old_spec
            .and_then(|s| s.get("ports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for p in each(spec, "ports") {
            if !unset(p, "nodePort") && p.get("nodePort") != Some(&json!(0)) {
                continue;
            }
            let kept = old_ports.iter().find(|o| {
                o.get("port") == p.get("port")
                    && o.get("protocol").unwrap_or(&json!("TCP"))
                        == p.get("protocol").unwrap_or(&json!("TCP"))
            });
            let np = kept
                .and_then(|o| o.get("nodePort").cloned())
                .unwrap_or_else(|| json!(30000 + crate::util::rand_u64() % 2768));
            p.insert("nodePort".into(), np);
        }
    }
}

/// A Secret's `stringData` merged into `data` (base64), overwriting, and dropped: "All
/// keys and values are merged into the data field on write, overwriting any existing
/// values. The stringData field is never output when reading from the API" (core/v1
/// Secret API reference; `Convert_v1_Secret_To_core_Secret`).
fn fold_string_data(root: &mut serde_json::Map<String, Value>) {
    let Some(Value::Object(sd)) = root.remove("stringData") else {
        return;
    };
    if sd.is_empty() {
        return;
    }
    use base64::Engine as _;
    let data = root
        .entry("data")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !data.is_object() {
        *data = Value::Object(serde_json::Map::new());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in sd {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            d.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(group: &str, kind: &str, v: Value) -> Value {
        let mut v = v;
        apply(group, kind, &mut v, None);
        v
    }

    // core/v1 Secret: stringData is merged into data on write, overwriting, never read back
    #[test]
    fn secret_string_data_is_folded_into_data() {
        let v = defaulted(
            "",
            "Secret",
            json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "hi", "c": "x y"}}),
        );
        assert_eq!(
            v,
            json!({"type": "Opaque", "data": {"a": "eA==", "b": "aGk=", "c": "eCB5"}})
        );
        let v = defaulted(
            "",
            "Secret",
            json!({"type": "kubernetes.io/tls", "stringData": {}}),
        );
        assert_eq!(v, json!({"type": "kubernetes.io/tls"}));
    }

    // pkg/apis/core/v1/defaults.go SetDefaults_Container: PullAlways for ":latest" or no
    // tag, PullIfNotPresent otherwise (a digest included).
    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("registry:5000/team/app"), "Always");
        assert_eq!(pull_policy("registry:5000/team/app:v2"), "IfNotPresent");
        assert_eq!(pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    // SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_ContainerPort, SetDefaults_Probe,
    // SetDefaults_HTTPGetAction, SetDefaults_Pod (enableServiceLinks, requests from limits),
    // SetDefaults_Volume / SetDefaults_SecretVolumeSource (pkg/apis/core/v1/defaults.go).
    #[test]
    fn pod_defaults_are_upstreams() {
        let p = defaulted(
            "",
            "Pod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
                "containers": [{"name": "c", "image": "nginx",
                    "ports": [{"containerPort": 80}],
                    "readinessProbe": {"httpGet": {"port": 80}},
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "resources": {"limits": {"cpu": "1"}}}],
                "volumes": [{"name": "a"}, {"name": "s", "secret": {"secretName": "x"}}]}}),
        );
        let spec = &p["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        let c = &spec["containers"][0];
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(c["resources"]["requests"], json!({"cpu": "1"}));
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(p["status"]["phase"], "Pending");
    }

    // apps/v1 defaults.go SetDefaults_Deployment / _StatefulSet / _DaemonSet; the pod template
    // gets SetDefaults_PodSpec but not SetDefaults_Pod (no enableServiceLinks, no requests).
    #[test]
    fn workload_defaults_are_upstreams() {
        let tmpl = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"limits": {"cpu": "1"}}}]}});
        let d = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"selector": {}, "strategy": {"rollingUpdate": {"maxSurge": 1}}, "template": tmpl}}),
        );
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let ps = &d["spec"]["template"]["spec"];
        assert_eq!(ps["restartPolicy"], "Always");
        assert_eq!(ps["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert!(ps.get("enableServiceLinks").is_none());
        assert!(ps["containers"][0]["resources"].get("requests").is_none());
        let r = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}, "template": tmpl}}),
        );
        assert_eq!(r["spec"]["strategy"], json!({"type": "Recreate"}));

        let s = defaulted(
            "apps",
            "StatefulSet",
            json!({"spec": {"template": tmpl, "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
        );
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(s["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );

        let ds = defaulted("apps", "DaemonSet", json!({"spec": {"template": tmpl}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
        let rs = defaulted("apps", "ReplicaSet", json!({"spec": {"template": tmpl}}));
        assert_eq!(rs["spec"]["replicas"], 1);
    }

    // batch/v1 defaults.go SetDefaults_Job and SetDefaults_CronJob.
    #[test]
    fn job_and_cronjob_defaults_are_upstreams() {
        let tmpl = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
        let j = defaulted("batch", "Job", json!({"spec": {"template": tmpl}}));
        let spec = &j["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        let p = defaulted(
            "batch",
            "Job",
            json!({"spec": {"parallelism": 3, "template": tmpl}}),
        );
        assert!(p["spec"].get("completions").is_none());
        let c = defaulted(
            "batch",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": tmpl}}}}),
        );
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["suspend"], false);
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
        // the job template is a JobSpec: only its pod template is defaulted
        assert!(
            c["spec"]["jobTemplate"]["spec"]
                .get("backoffLimit")
                .is_none()
        );
        assert_eq!(
            c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
    }

    // core/v1 SetDefaults_Service and the service REST allocations (single-stack IPv4).
    #[test]
    fn service_defaults_are_upstreams_and_keep_allocations_on_update() {
        let s = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
        );
        let spec = &s["spec"];
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["clusterIPs"], json!([spec["clusterIP"]]));
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        let np = spec["ports"][0]["nodePort"].as_u64().expect("nodePort");
        assert!((30000..=32767).contains(&np));
        // an update without the allocated values keeps them
        let mut upd = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        apply("", "Service", &mut upd, Some(&s));
        assert_eq!(upd["spec"]["clusterIP"], spec["clusterIP"]);
        assert_eq!(upd["spec"]["ports"][0]["nodePort"], np);
        let h = defaulted(
            "",
            "Service",
            json!({"spec": {"clusterIP": "None", "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert_eq!(h["spec"]["type"], "ClusterIP");
        assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(h["spec"]["ports"][0]["targetPort"], "http");
        let e = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        );
        assert!(e["spec"].get("clusterIP").is_none());
    }

    // networking/v1 SetDefaults_NetworkPolicy, storage/v1 SetDefaults_StorageClass,
    // scheduling/v1 SetDefaults_PriorityClass, admissionregistration/v1 webhook defaults,
    // core/v1 SetDefaults_PersistentVolumeClaimSpec and SetDefaults_LimitRangeItem.
    #[test]
    fn other_kinds_defaults_are_upstreams() {
        let n = defaulted(
            "networking.k8s.io",
            "NetworkPolicy",
            json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}),
        );
        assert_eq!(n["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(n["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let sc = defaulted(
            "storage.k8s.io",
            "StorageClass",
            json!({"provisioner": "x"}),
        );
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        let pc = defaulted("scheduling.k8s.io", "PriorityClass", json!({"value": 1}));
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
        let w = defaulted(
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
            json!({"webhooks": [{"name": "m", "clientConfig": {"service": {"name": "s", "namespace": "n"}}, "rules": [{"operations": ["CREATE"]}]}]}),
        );
        let wh = &w["webhooks"][0];
        assert_eq!(wh["failurePolicy"], "Fail");
        assert_eq!(wh["matchPolicy"], "Equivalent");
        assert_eq!(wh["timeoutSeconds"], 10);
        assert_eq!(wh["reinvocationPolicy"], "Never");
        assert_eq!(wh["namespaceSelector"], json!({}));
        assert_eq!(wh["rules"][0]["scope"], "*");
        assert_eq!(wh["clientConfig"]["service"]["port"], 443);
        let pvc = defaulted("", "PersistentVolumeClaim", json!({"spec": {}}));
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let lr = defaulted(
            "",
            "LimitRange",
            json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]}}),
        );
        assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
        assert_eq!(
            lr["spec"]["limits"][0]["defaultRequest"],
            json!({"cpu": "2"})
        );
    }

    // autoscaling/v2 defaults.go SetDefaults_HorizontalPodAutoscaler and
    // SetDefaults_HorizontalPodAutoscalerBehavior (GenerateHPAScaleUpRules /
    // GenerateHPAScaleDownRules: copyHPAScalingRules keeps what is set); autoscaling/v1
    // defaults.go only minReplicas.
    #[test]
    fn hpa_defaults_are_upstreams() {
        let v2 = defaulted(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        );
        assert_eq!(v2["spec"]["minReplicas"], 1);
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert_eq!(
            v2["spec"]["behavior"],
            json!({"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]}})
        );
        // no behavior given: none defaulted
        let plain = defaulted(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3, "minReplicas": 2}}),
        );
        assert_eq!(plain["spec"]["minReplicas"], 2);
        assert!(plain["spec"].get("behavior").is_none());
        let v1 = defaulted(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 3}}),
        );
        assert_eq!(v1["spec"], json!({"maxReplicas": 3, "minReplicas": 1}));
    }

    // rbac/v1 defaults.go SetDefaults_RoleBinding / _ClusterRoleBinding / _Subject,
    // networking/v1 SetDefaults_IngressClass, core/v1 SetDefaults_Namespace,
    // SetDefaults_ServiceAccountTokenProjection and SetDefaults_Pod's host-network ports.
    #[test]
    fn rbac_ingressclass_namespace_and_pod_defaults_are_upstreams() {
        let rb = defaulted(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [
                {"kind": "ServiceAccount", "name": "sa", "namespace": "n"},
                {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"}]}),
        );
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(rb["subjects"][0].get("apiGroup").is_none());
        assert_eq!(rb["subjects"][1]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][2]["apiGroup"], "rbac.authorization.k8s.io");
        let ic = defaulted(
            "networking.k8s.io",
            "IngressClass",
            json!({"spec": {"controller": "c", "parameters": {"kind": "K", "name": "p"}}}),
        );
        assert_eq!(ic["spec"]["parameters"]["scope"], "Cluster");
        let no_params = defaulted(
            "networking.k8s.io",
            "IngressClass",
            json!({"spec": {"controller": "c"}}),
        );
        assert_eq!(no_params["spec"], json!({"controller": "c"}));
        let ns = defaulted(
            "",
            "Namespace",
            json!({"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "x"}}}),
        );
        assert_eq!(
            ns["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "team"})
        );
        let p = defaulted(
            "",
            "Pod",
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x:1",
                "ports": [{"containerPort": 9100}, {"containerPort": 53, "hostPort": 5353}]}],
                "volumes": [{"name": "t", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token"}}]}}]}}),
        );
        let ports = &p["spec"]["containers"][0]["ports"];
        assert_eq!(ports[0]["hostPort"], 9100);
        assert_eq!(ports[1]["hostPort"], 5353);
        assert_eq!(
            p["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600
        );
        // a Deployment's template is not a Pod: no host ports (SetDefaults_Pod only)
        let d = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"template": {"spec": {"hostNetwork": true, "containers": [
                {"name": "c", "image": "x:1", "ports": [{"containerPort": 9100}]}]}}}}),
        );
        assert!(
            d["spec"]["template"]["spec"]["containers"][0]["ports"][0]
                .get("hostPort")
                .is_none()
        );
    }

    proptest::proptest! {
        // defaulting is idempotent on any shape: a second pass changes nothing
        #[test]
        fn defaulting_twice_changes_nothing(
            kind in proptest::sample::select(vec![
                ("", "Pod"), ("", "Service"), ("apps", "Deployment"), ("apps", "StatefulSet"),
                ("apps", "DaemonSet"), ("batch", "Job"), ("batch", "CronJob"), ("", "LimitRange"),
                ("networking.k8s.io", "NetworkPolicy"), ("", "ReplicationController"),
                ("autoscaling", "HorizontalPodAutoscaler"), ("", "Namespace"),
                ("rbac.authorization.k8s.io", "RoleBinding"),
            ]),
            image in "[a-z]{1,5}(:[a-z0-9]{1,4})?",
            with_ports in proptest::bool::ANY,
        ) {
            let ports = if with_ports { json!([{"port": 80, "containerPort": 80}]) } else { json!(null) };
            let c = json!({"name": "c", "image": image, "ports": ports});
            let tmpl = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [c.clone()]}});
            let mut v = json!({"spec": {"template": tmpl, "jobTemplate": {"spec": {"template": tmpl}},
                "containers": [c], "ports": ports, "limits": [{"type": "Container", "max": {"cpu": "1"}}]}});
            apply(kind.0, kind.1, &mut v, None);
            let once = v.clone();
            apply(kind.0, kind.1, &mut v, Some(&once));
            proptest::prop_assert_eq!(v, once);
        }
    }
}
