//! kube-apiserver's per-kind validation of the most used built-in kinds, with upstream's
//! messages and field paths (kubernetes/kubernetes pkg/apis/apps/validation,
//! pkg/apis/core/validation, pkg/apis/batch/validation). Messages are `field.Error.ErrorBody`
//! (k8s.io/apimachinery/pkg/util/validation/field/errors.go): "Required value",
//! "Invalid value: <value>: <detail>", "Duplicate value: <value>", "Not found: <value>",
//! "Unsupported value: <value>: supported values: ...", with Go's `%q`/`%#v` renderings of
//! the bad value. Runs after defaulting, as kube-apiserver does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

/// The findings for a write of a built-in `kind` of `group` (`old` on update).
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match (group, kind) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload(kind, spec, &mut errs);
            if let Some(old) = old {
                workload_update(
                    kind,
                    spec,
                    old.get("spec").unwrap_or(&Value::Null),
                    &mut errs,
                );
            }
        }
        ("", "Pod") => pod_spec(spec, "spec", &mut errs),
        ("", "PodTemplate") => {
            if let Some(t) = obj.get("template") {
                pod_spec(
                    t.get("spec").unwrap_or(&Value::Null),
                    "template.spec",
                    &mut errs,
                );
            }
        }
        ("", "ReplicationController") => {
            if let Some(t) = spec.get("template") {
                pod_spec(
                    t.get("spec").unwrap_or(&Value::Null),
                    "spec.template.spec",
                    &mut errs,
                );
            }
        }
        ("batch", "Job") => {
            job_spec(spec, "spec", &mut errs);
            if let Some(old) = old {
                job_update(
                    spec,
                    old.get("spec").unwrap_or(&Value::Null),
                    old,
                    &mut errs,
                );
            }
        }
        ("batch", "CronJob") => {
            if let Some(js) = spec.pointer("/jobTemplate/spec") {
                job_spec(js, "spec.jobTemplate.spec", &mut errs);
            }
        }
        ("", "Service") => {
            service(spec, &mut errs);
            if let Some(old) = old {
                service_update(spec, old.get("spec").unwrap_or(&Value::Null), &mut errs);
            }
        }
        _ => {}
    }
    errs
}

// ---- value renderings of field.Error.ErrorBody ----

/// Go's `%q` of a string.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn str_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    let m = v?.as_object()?;
    Some(
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
    )
}

/// `%#v` of a `map[string]string` (nil when absent).
fn go_map(v: Option<&Value>) -> String {
    match str_map(v) {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", q(k), q(v)))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

fn go_strings(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".into(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|s| q(s.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// `%#v` of a `metav1.LabelSelector` (what kube-apiserver prints for a selector's value).
fn go_selector(sel: &Value) -> String {
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        q(r.get("key").and_then(Value::as_str).unwrap_or_default()),
                        q(r.get("operator")
                            .and_then(Value::as_str)
                            .unwrap_or_default()),
                        go_strings(r.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        go_map(sel.get("matchLabels"))
    )
}

fn required(path: &str) -> FieldError {
    FieldError::new(path, "Required value")
}

fn invalid(path: &str, value: &str, detail: &str) -> FieldError {
    FieldError::new(path, format!("Invalid value: {value}: {detail}"))
}

fn not_supported(path: &str, value: &str, valid: &[&str]) -> FieldError {
    let list: Vec<String> = valid.iter().map(|v| q(v)).collect();
    FieldError::new(
        path,
        format!(
            "Unsupported value: {}: supported values: {}",
            q(value),
            list.join(", ")
        ),
    )
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

// ---- label selectors (apimachinery pkg/apis/meta/v1/validation ValidateLabelSelector) ----

fn label_selector(sel: &Value, path: &str, errs: &mut FieldErrors) {
    for (i, r) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values = arr(r, "values");
        match s(r, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::new(
                        format!("{p}.values").as_str(),
                        "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::new(
                        format!("{p}.values").as_str(),
                        "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(invalid(
                &format!("{p}.operator"),
                &q(op),
                "not a valid selector operator",
            )),
        }
    }
}

/// `metav1.LabelSelectorAsSelector(sel).Matches(labels)`.
fn selector_matches(sel: &Value, labels: &BTreeMap<String, String>) -> bool {
    if let Some(ml) = str_map(sel.get("matchLabels"))
        && ml.iter().any(|(k, v)| labels.get(k) != Some(v))
    {
        return false;
    }
    arr(sel, "matchExpressions").iter().all(|r| {
        let key = s(r, "key");
        let values: BTreeSet<&str> = arr(r, "values").iter().filter_map(Value::as_str).collect();
        match s(r, "operator") {
            "In" => labels.get(key).is_some_and(|v| values.contains(v.as_str())),
            "NotIn" => !labels.get(key).is_some_and(|v| values.contains(v.as_str())),
            "Exists" => labels.contains_key(key),
            "DoesNotExist" => !labels.contains_key(key),
            _ => false,
        }
    })
}

fn selector_empty(sel: &Value) -> bool {
    sel.get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.is_empty())
        && arr(sel, "matchExpressions").is_empty()
}

// ---- apps: ValidateDeploymentSpec, ValidateReplicaSetSpec, ValidateStatefulSetSpec,
// ValidateDaemonSetSpec and ValidatePodTemplateSpecForReplicaSet ----

fn workload(kind: &str, spec: &Value, errs: &mut FieldErrors) {
    if let Some(r) = spec.get("replicas").and_then(Value::as_i64)
        && r < 0
    {
        errs.push(invalid(
            "spec.replicas",
            &r.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    let Some(sel) = spec.get("selector").filter(|v| v.is_object()) else {
        errs.push(required("spec.selector"));
        return;
    };
    label_selector(sel, "spec.selector", errs);
    if selector_empty(sel) {
        // upstream's ReplicaSet check says "deployment" too (ValidateReplicaSetSpec)
        let what = match kind {
            "StatefulSet" => "statefulset",
            "DaemonSet" => "daemonset",
            _ => "deployment",
        };
        errs.push(invalid(
            "spec.selector",
            &go_selector(sel),
            &format!("empty selector is invalid for {what}"),
        ));
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    let labels = template.pointer("/metadata/labels");
    if !selector_empty(sel) && !selector_matches(sel, &str_map(labels).unwrap_or_default()) {
        errs.push(invalid(
            "spec.template.metadata.labels",
            &go_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    let ps = template.get("spec").unwrap_or(&Value::Null);
    // a StatefulSet's containers mount its volumeClaimTemplates by name: those count as
    // volumes of the template (the StatefulSet controller adds them to each Pod)
    let with_claims;
    let ps = match spec.get("volumeClaimTemplates").and_then(Value::as_array) {
        Some(claims) if kind == "StatefulSet" && ps.is_object() => {
            let mut p = ps.clone();
            let mut vols: Vec<Value> = arr(&p, "volumes").to_vec();
            for c in claims {
                if let Some(n) = c.pointer("/metadata/name").and_then(Value::as_str)
                    && !vols.iter().any(|v| s(v, "name") == n)
                {
                    vols.push(serde_json::json!({"name": n}));
                }
            }
            p["volumes"] = Value::Array(vols);
            with_claims = p;
            &with_claims
        }
        _ => ps,
    };
    pod_spec(ps, "spec.template.spec", errs);
    let rp = s(ps, "restartPolicy");
    if !rp.is_empty() && rp != "Always" {
        errs.push(not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
}

fn workload_update(kind: &str, spec: &Value, old: &Value, errs: &mut FieldErrors) {
    if kind == "StatefulSet" {
        // ValidateStatefulSetUpdate: only these fields may change
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                for k in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                ] {
                    m.remove(k);
                }
            }
            v
        };
        if strip(spec) != strip(old) {
            errs.push(FieldError::new(
                "spec",
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        return;
    }
    // ValidateImmutableField(newSelector, oldSelector, spec.selector) for apps/v1
    let (new_sel, old_sel) = (spec.get("selector"), old.get("selector"));
    if let (Some(n), Some(o)) = (new_sel, old_sel)
        && !same_selector(n, o)
    {
        errs.push(invalid(
            "spec.selector",
            &go_selector(n),
            "field is immutable",
        ));
    }
}

/// Semantic equality of two selectors (an absent and an empty map are the same).
fn same_selector(a: &Value, b: &Value) -> bool {
    str_map(a.get("matchLabels")).unwrap_or_default()
        == str_map(b.get("matchLabels")).unwrap_or_default()
        && arr(a, "matchExpressions") == arr(b, "matchExpressions")
}

// ---- core: ValidatePodSpec (containers, ports, volumes, restartPolicy) ----

const MAX_PORT: i64 = 65535;
const PORT_MSG: &str = "must be between 1 and 65535, inclusive";

fn pod_spec(ps: &Value, path: &str, errs: &mut FieldErrors) {
    // validateVolumes
    let mut volumes = BTreeSet::new();
    for (i, v) in arr(ps, "volumes").iter().enumerate() {
        let name = s(v, "name");
        let p = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            errs.push(required(&p));
        } else if !volumes.insert(name) {
            errs.push(FieldError::new(
                p.as_str(),
                format!("Duplicate value: {}", q(name)),
            ));
        }
    }
    let containers = arr(ps, "containers");
    if containers.is_empty() && ps.is_object() {
        errs.push(required(&format!("{path}.containers")));
    }
    // validateContainers, then validateInitContainers against the containers' names
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        container(
            c,
            &format!("{path}.containers[{i}]"),
            &mut names,
            &volumes,
            errs,
        );
    }
    for (i, c) in arr(ps, "initContainers").iter().enumerate() {
        container(
            c,
            &format!("{path}.initContainers[{i}]"),
            &mut names,
            &volumes,
            errs,
        );
    }
    // validateRestartPolicy
    if let Some(rp) = ps.get("restartPolicy").and_then(Value::as_str) {
        match rp {
            "Always" | "OnFailure" | "Never" => {}
            "" => errs.push(required(&format!("{path}.restartPolicy"))),
            other => errs.push(not_supported(
                &format!("{path}.restartPolicy"),
                other,
                &["Always", "OnFailure", "Never"],
            )),
        }
    }
}

fn container<'a>(
    c: &'a Value,
    path: &str,
    names: &mut BTreeSet<&'a str>,
    volumes: &BTreeSet<&str>,
    errs: &mut FieldErrors,
) {
    let name = s(c, "name");
    if name.is_empty() {
        errs.push(required(&format!("{path}.name")));
    } else if !names.insert(name) {
        errs.push(FieldError::new(
            format!("{path}.name").as_str(),
            format!("Duplicate value: {}", q(name)),
        ));
    }
    if s(c, "image").is_empty() {
        errs.push(required(&format!("{path}.image")));
    }
    // validateContainerPorts
    let mut port_names = BTreeSet::new();
    for (i, p) in arr(c, "ports").iter().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        let pn = s(p, "name");
        if !pn.is_empty() && !port_names.insert(pn) {
            errs.push(FieldError::new(
                format!("{pp}.name").as_str(),
                format!("Duplicate value: {}", q(pn)),
            ));
        }
        match p.get("containerPort").and_then(Value::as_i64) {
            None | Some(0) => errs.push(required(&format!("{pp}.containerPort"))),
            Some(n) if !(1..=MAX_PORT).contains(&n) => errs.push(invalid(
                &format!("{pp}.containerPort"),
                &n.to_string(),
                PORT_MSG,
            )),
            _ => {}
        }
        if let Some(n) = p.get("hostPort").and_then(Value::as_i64)
            && n != 0
            && !(1..=MAX_PORT).contains(&n)
        {
            errs.push(invalid(&format!("{pp}.hostPort"), &n.to_string(), PORT_MSG));
        }
    }
    // validateVolumeMounts
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let mp = format!("{path}.volumeMounts[{i}]");
        let mn = s(m, "name");
        if mn.is_empty() {
            errs.push(required(&format!("{mp}.name")));
        } else if !volumes.contains(mn) {
            errs.push(FieldError::new(
                format!("{mp}.name").as_str(),
                format!("Not found: {}", q(mn)),
            ));
        }
        if s(m, "mountPath").is_empty() {
            errs.push(required(&format!("{mp}.mountPath")));
        }
    }
}

// ---- batch: ValidateJobSpec, ValidateJobSpecUpdate ----

fn job_spec(spec: &Value, path: &str, errs: &mut FieldErrors) {
    let ps = spec.pointer("/template/spec").unwrap_or(&Value::Null);
    let tp = format!("{path}.template.spec");
    pod_spec(ps, &tp, errs);
    let rp = s(ps, "restartPolicy");
    if rp.is_empty() {
        errs.push(FieldError::new(
            format!("{tp}.restartPolicy").as_str(),
            "Required value: valid values: \"OnFailure\", \"Never\"",
        ));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(not_supported(
            &format!("{tp}.restartPolicy"),
            rp,
            &["OnFailure", "Never"],
        ));
    }
}

fn job_update(spec: &Value, old: &Value, old_obj: &Value, errs: &mut FieldErrors) {
    // ValidateJobSpecUpdate: the template is immutable; only a suspended job that never
    // started (AllowMutableSchedulingDirectives) may change its template's labels,
    // annotations and scheduling directives
    let mutable = old.get("suspend").and_then(Value::as_bool) == Some(true)
        && old_obj.pointer("/status/startTime").is_none();
    let strip = |v: &Value| {
        let mut t = v.get("template").cloned().unwrap_or(Value::Null);
        if mutable {
            if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
                m.remove("annotations");
            }
            if let Some(m) = t.get_mut("spec").and_then(Value::as_object_mut) {
                for k in ["nodeSelector", "tolerations", "affinity", "schedulingGates"] {
                    m.remove(k);
                }
            }
        }
        // an empty metadata is no metadata
        if let Some(m) = t.as_object_mut()
            && m.get("metadata")
                .and_then(Value::as_object)
                .is_some_and(|x| x.is_empty())
        {
            m.remove("metadata");
        }
        t
    };
    if strip(spec) != strip(old) {
        errs.push(invalid(
            "spec.template",
            "core.PodTemplateSpec{...}",
            "field is immutable",
        ));
    }
}

// ---- core: ValidateService, ValidateServiceUpdate ----

fn service(spec: &Value, errs: &mut FieldErrors) {
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !TYPES.contains(&ty) {
        errs.push(not_supported("spec.type", ty, &TYPES));
    }
    let headless = s(spec, "clusterIP") == "None";
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(required("spec.ports"));
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        let name = s(p, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.push(required(&format!("{pp}.name")));
        } else if !name.is_empty() && !names.insert(name) {
            errs.push(FieldError::new(
                format!("{pp}.name").as_str(),
                format!("Duplicate value: {}", q(name)),
            ));
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=MAX_PORT).contains(&port) {
            errs.push(invalid(&format!("{pp}.port"), &port.to_string(), PORT_MSG));
        }
        if let Some(n) = p.get("targetPort").and_then(Value::as_i64)
            && !(1..=MAX_PORT).contains(&n)
        {
            errs.push(invalid(
                &format!("{pp}.targetPort"),
                &n.to_string(),
                PORT_MSG,
            ));
        }
        if let Some(n) = p.get("nodePort").and_then(Value::as_i64)
            && n != 0
            && !(1..=MAX_PORT).contains(&n)
        {
            errs.push(invalid(&format!("{pp}.nodePort"), &n.to_string(), PORT_MSG));
        }
    }
}

fn service_update(spec: &Value, old: &Value, errs: &mut FieldErrors) {
    // validateUpgradeDowngradeClusterIPs: the primary clusterIP may not change once set,
    // except to or from ExternalName (and an unset one is filled from the old object)
    if s(spec, "type") == "ExternalName" || s(old, "type") == "ExternalName" {
        return;
    }
    let (n, o) = (s(spec, "clusterIP"), s(old, "clusterIP"));
    if !n.is_empty() && !o.is_empty() && n != o {
        errs.push(invalid(
            "spec.clusterIPs[0]",
            &go_strings(
                spec.get("clusterIPs")
                    .or(Some(&Value::Array(vec![Value::String(n.to_owned())]))),
            ),
            "may not change once set",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<String> {
        validate(group, kind, obj, old)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn deploy(selector: Value, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"replicas": 1, "selector": selector,
                        "template": {"metadata": {"labels": labels},
                                     "spec": {"restartPolicy": "Always",
                                              "containers": [{"name": "c", "image": "nginx"}]}}}})
    }

    // kubernetes pkg/apis/apps/validation/validation.go ValidatePodTemplateSpecForReplicaSet:
    // field.Invalid(fldPath.Child("metadata", "labels"), template.Labels,
    // "`selector` does not match template `labels`"), rendered by field.Error.ErrorBody
    // with %#v of the map.
    #[test]
    fn selector_must_match_template_labels() {
        let d = deploy(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "api", "tier": "x"}),
        );
        assert_eq!(
            found("apps", "Deployment", &d, None),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\", \"tier\":\"x\"}: `selector` does not match template `labels`"
            ]
        );
        let ok = deploy(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web", "tier": "x"}),
        );
        assert!(found("apps", "Deployment", &ok, None).is_empty());
        let exprs = deploy(
            json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]},
                                        {"key": "canary", "operator": "DoesNotExist"}]}),
            json!({"app": "api"}),
        );
        assert!(found("apps", "Deployment", &exprs, None).is_empty());
        for kind in ["ReplicaSet", "StatefulSet", "DaemonSet"] {
            let bad = deploy(
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "api"}),
            );
            assert_eq!(found("apps", kind, &bad, None).len(), 1, "{kind}");
        }
    }

    // ValidateDeploymentSpec: field.Required(spec.selector) and, for an empty one,
    // "empty selector is invalid for deployment" (ReplicaSet reuses the word "deployment").
    #[test]
    fn selector_required_and_non_empty() {
        let mut d = deploy(json!({}), json!({"app": "web"}));
        assert_eq!(
            found("apps", "Deployment", &d, None),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
        assert!(
            found("apps", "DaemonSet", &d, None)[0]
                .ends_with("empty selector is invalid for daemonset")
        );
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            found("apps", "Deployment", &d, None),
            vec!["spec.selector: Required value"]
        );
    }

    // ValidateLabelSelector (apimachinery pkg/apis/meta/v1/validation).
    #[test]
    fn selector_expressions_are_validated() {
        let d = deploy(
            json!({"matchExpressions": [{"key": "a", "operator": "In"},
                                        {"key": "b", "operator": "Exists", "values": ["x"]},
                                        {"key": "c", "operator": "Near", "values": ["x"]}]}),
            json!({"a": "x"}),
        );
        let f = found("apps", "Deployment", &d, None);
        assert!(f.contains(&"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_owned()), "{f:?}");
        assert!(f.contains(&"spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_owned()), "{f:?}");
        assert!(f.contains(&"spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator".to_owned()), "{f:?}");
    }

    // ValidateNonnegativeField(spec.replicas) and the Always-only restartPolicy of workloads.
    #[test]
    fn replicas_non_negative_and_restart_policy_always() {
        let mut d = deploy(json!({"matchLabels": {"a": "b"}}), json!({"a": "b"}));
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            found("apps", "Deployment", &d, None),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            ]
        );
    }

    // The registry's ValidateUpdate for apps/v1: ValidateImmutableField(spec.selector) ->
    // "field is immutable" with the new selector's %#v.
    #[test]
    fn selector_is_immutable_on_update() {
        let old = deploy(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        let new = deploy(json!({"matchLabels": {"app": "v2"}}), json!({"app": "v2"}));
        assert_eq!(
            found("apps", "Deployment", &new, Some(&old)),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"v2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(found("apps", "Deployment", &scaled, Some(&old)).is_empty());
        // containers mount volumeClaimTemplates by name (real charts: alertmanager)
        let claims = json!({"metadata": {"name": "s"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
            "volumeClaimTemplates": [{"metadata": {"name": "storage"}}],
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i",
                "volumeMounts": [{"name": "storage", "mountPath": "/d"}]}]}}}});
        assert!(found("apps", "StatefulSet", &claims, None).is_empty());
        // ValidateStatefulSetUpdate forbids spec changes beyond its allowed list
        let mut sts = old.clone();
        sts["spec"]["serviceName"] = json!("x");
        let f = found("apps", "StatefulSet", &sts, Some(&old));
        assert!(
            f[0].starts_with(
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas'"
            ),
            "{f:?}"
        );
        assert!(found("apps", "StatefulSet", &scaled, Some(&old)).is_empty());
    }

    // pkg/apis/core/validation: validateContainers (Duplicate name, Required image),
    // validateContainerPorts (IsValidPortNum, Duplicate port name), validateVolumes
    // (Duplicate), validateVolumeMounts (NotFound), validateRestartPolicy (NotSupported).
    #[test]
    fn pod_spec_rules() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "restartPolicy": "Sometimes",
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
            "containers": [
                {"name": "app", "image": "nginx",
                 "ports": [{"name": "http", "containerPort": 70000}, {"name": "http", "containerPort": 81, "hostPort": -2}],
                 "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "cache", "mountPath": "/c"}]},
                {"name": "app"}
            ],
            "initContainers": [{"name": "app", "image": "busybox"}]
        }});
        assert_eq!(
            found("", "Pod", &pod, None),
            vec![
                "spec.volumes[1].name: Duplicate value: \"data\"",
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
                "spec.containers[0].ports[1].hostPort: Invalid value: -2: must be between 1 and 65535, inclusive",
                "spec.containers[0].volumeMounts[1].name: Not found: \"cache\"",
                "spec.containers[1].name: Duplicate value: \"app\"",
                "spec.containers[1].image: Required value",
                "spec.initContainers[0].name: Duplicate value: \"app\"",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ]
        );
        // the same rules under a workload's template path
        let mut d = deploy(json!({"matchLabels": {"a": "b"}}), json!({"a": "b"}));
        d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "x", "mountPath": "/x"}]);
        assert_eq!(
            found("apps", "Deployment", &d, None),
            vec!["spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"x\""]
        );
    }

    // pkg/apis/batch/validation validateJobPodTemplateSpec: OnFailure or Never only
    // (Required with "valid values" when unset); ValidateJobSpecUpdate: template immutable.
    #[test]
    fn job_rules() {
        let job = |rp: &str| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {
                "template": {"spec": {"restartPolicy": rp, "containers": [{"name": "c", "image": "busybox"}]}}}})
        };
        assert!(found("batch", "Job", &job("Never"), None).is_empty());
        assert_eq!(
            found("batch", "Job", &job("Always"), None),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
        let mut changed = job("Never");
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
        let f = found("batch", "Job", &changed, Some(&job("Never")));
        assert!(
            f[0].starts_with("spec.template: Invalid value: ")
                && f[0].ends_with(": field is immutable"),
            "{f:?}"
        );
        let mut scaled = job("Never");
        scaled["spec"]["parallelism"] = json!(2);
        assert!(found("batch", "Job", &scaled, Some(&job("Never"))).is_empty());
        // a suspended job that never started may relabel its template; a running one not
        let mut relabelled = job("Never");
        relabelled["spec"]["template"]["metadata"] = json!({"labels": {"x": "y"}});
        assert_eq!(
            found("batch", "Job", &relabelled, Some(&job("Never"))).len(),
            1
        );
        let mut suspended = job("Never");
        suspended["spec"]["suspend"] = json!(true);
        relabelled["spec"]["suspend"] = json!(true);
        assert!(found("batch", "Job", &relabelled, Some(&suspended)).is_empty());
    }

    // pkg/apis/core/validation ValidateService: ports Required unless headless or
    // ExternalName, IsValidPortNum, port names Required/Duplicate with several ports, type
    // NotSupported; validateUpgradeDowngradeClusterIPs: "may not change once set".
    #[test]
    fn service_rules() {
        let svc = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec});
        assert_eq!(
            found("", "Service", &svc(json!({"type": "ClusterIP"})), None),
            vec!["spec.ports: Required value"]
        );
        assert!(found("", "Service", &svc(json!({"clusterIP": "None"})), None).is_empty());
        assert!(
            found(
                "",
                "Service",
                &svc(json!({"type": "ExternalName", "externalName": "x.example"})),
                None
            )
            .is_empty()
        );
        assert_eq!(
            found(
                "",
                "Service",
                &svc(
                    json!({"type": "Internal", "ports": [{"port": 0}, {"name": "a", "port": 80, "targetPort": 70000}]})
                ),
                None
            ),
            vec![
                "spec.type: Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ]
        );
        let old = svc(
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80}]}),
        );
        let new = svc(
            json!({"clusterIP": "10.96.0.11", "clusterIPs": ["10.96.0.11"], "ports": [{"port": 80}]}),
        );
        assert_eq!(
            found("", "Service", &new, Some(&old)),
            vec![
                "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
            ]
        );
        assert!(
            found(
                "",
                "Service",
                &svc(json!({"ports": [{"port": 80}]})),
                Some(&old)
            )
            .is_empty()
        );
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z]{0,3}".prop_map(Value::String),
            Just(json!("In")),
            Just(json!("None")),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("name"),
                            Just("selector"),
                            Just("matchLabels"),
                            Just("matchExpressions"),
                            Just("values"),
                            Just("operator"),
                            Just("template"),
                            Just("metadata"),
                            Just("labels"),
                            Just("spec"),
                            Just("containers"),
                            Just("ports"),
                            Just("volumes"),
                            Just("volumeMounts"),
                            Just("containerPort"),
                            Just("clusterIP"),
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        // Any shape where a field is expected (a number for a map, a map for a list...):
        // findings or none, never a panic.
        #[test]
        fn any_shape_validates_without_panicking(spec in arb_json(), old in arb_json()) {
            for (g, k) in [("apps", "Deployment"), ("apps", "StatefulSet"), ("", "Pod"),
                           ("batch", "Job"), ("batch", "CronJob"), ("", "Service"),
                           ("", "PodTemplate"), ("", "ReplicationController")] {
                let obj = json!({"spec": spec.clone(), "template": spec.clone()});
                let prev = json!({"spec": old.clone(), "status": old.clone()});
                let _ = validate(g, k, &obj, Some(&prev));
                let _ = validate(g, k, &spec, None);
            }
        }
    }
}
