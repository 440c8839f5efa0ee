//! kube-apiserver's per-kind validation of the most used built-in kinds, with upstream's
//! messages and field paths (kubernetes/kubernetes pkg/apis/apps/validation,
//! pkg/apis/core/validation, pkg/apis/batch/validation). Messages are `field.Error.ErrorBody`
//! (k8s.io/apimachinery/pkg/util/validation/field/errors.go): "Required value",
//! "Invalid value: <value>: <detail>", "Duplicate value: <value>", "Not found: <value>",
//! "Unsupported value: <value>: supported values: ...", with Go's `%q`/`%#v` renderings of
//! the bad value. Runs after defaulting, as kube-apiserver does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, names};

/// The findings for a write of a built-in `kind` of `group` (`old` on update).
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> FieldErrors {
    let mut errs = FieldErrors::new();
    object_meta(obj, &mut errs);
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
        ("", "Pod") => {
            pod_spec(spec, "spec", &mut errs);
            if let Some(old) = old {
                pod_update(spec, old.get("spec").unwrap_or(&Value::Null), &mut errs);
            }
        }
        ("policy", "PodDisruptionBudget") => {
            if let Some(sel) = spec.get("selector").filter(|v| v.is_object()) {
                label_selector(sel, "spec.selector", &mut errs);
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            if let Some(sel) = spec.get("podSelector").filter(|v| v.is_object()) {
                label_selector(sel, "spec.podSelector", &mut errs);
            }
        }
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
        // ValidateLabelSelectorRequirement: the key is a label name, each value a label value
        let key = s(r, "key");
        for m in names::qualified_name(key) {
            errs.push(invalid(&format!("{p}.key"), &q(key), &m));
        }
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or_default();
            for m in names::label_value(v) {
                errs.push(invalid(&format!("{p}.values[{j}]"), &q(v), &m));
            }
        }
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
    // ValidateLabels(ps.MatchLabels, fldPath.Child("matchLabels"))
    labels(sel.get("matchLabels"), &format!("{path}.matchLabels"), errs);
}

// ---- metadata (apimachinery pkg/api/validation/objectmeta.go ValidateObjectMetaAccessor,
// pkg/apis/meta/v1/validation ValidateLabels) ----

/// `TotalAnnotationSizeLimitB`: the keys and values of all annotations, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * (1 << 10);

/// `ValidateLabels`: each key `IsQualifiedName`, each value `IsValidLabelValue`, all
/// reported at the map's path (upstream's field path carries no key).
fn labels(m: Option<&Value>, path: &str, errs: &mut FieldErrors) {
    let Some(m) = m.and_then(Value::as_object) else {
        return;
    };
    for (k, v) in m {
        for msg in names::qualified_name(k) {
            errs.push(invalid(path, &q(k), &msg));
        }
        let v = v.as_str().unwrap_or_default();
        for msg in names::label_value(v) {
            errs.push(invalid(path, &q(v), &msg));
        }
    }
}

/// `maskTrailingDash`: a generateName prefix may end with '-' (the generated suffix follows).
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        Some(rest) if name.len() > 1 => format!("{rest}a"),
        _ => name.to_owned(),
    }
}

/// The object metadata checks that are the same for every kind: `generateName` (as a
/// prefix, under the kind's name rule), label keys and values, annotation keys (qualified
/// names, case-insensitively) and the annotations' total size. `metadata.name` is checked by
/// the caller's name rule (`ops::name_errors`), namespaces by the namespace lifecycle.
fn object_meta(obj: &Value, errs: &mut FieldErrors) {
    let Some(meta) = obj.get("metadata") else {
        return;
    };
    let kind = s(obj, "kind");
    let gen_name = s(meta, "generateName");
    if !gen_name.is_empty() {
        let masked = mask_trailing_dash(gen_name);
        for m in name_rule_messages(kind, &masked) {
            errs.push(invalid("metadata.generateName", &q(gen_name), &m));
        }
    }
    labels(meta.get("labels"), "metadata.labels", errs);
    if let Some(a) = meta.get("annotations").and_then(Value::as_object) {
        let mut size = 0usize;
        for (k, v) in a {
            for m in names::qualified_name(&k.to_lowercase()) {
                errs.push(invalid("metadata.annotations", &q(k), &m));
            }
            size += k.len() + v.as_str().map_or(0, str::len);
        }
        if size > TOTAL_ANNOTATION_SIZE_LIMIT {
            errs.push(FieldError::new(
                "metadata.annotations",
                format!("Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
            ));
        }
    }
}

/// `IsDNS1035Label` (a Service's name: `ValidateServiceName = NameIsDNS1035Label`), as
/// `sluice validate` checks it.
pub use sluice_apis::corev1::util::dns1035_label;

/// `IsValidPathSegmentName` (`ValidateRBACName` and every name's path-segment check).
pub fn path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|c| name.contains(**c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// The kind's `ValidateNameFunc`: `NameIsDNSLabel` for Namespaces, `NameIsDNS1035Label` for
/// Services, `ValidateRBACName` (a path segment) for the RBAC kinds, `NameIsDNSSubdomain`
/// for the rest of the built-in kinds.
pub fn name_rule_messages(kind: &str, name: &str) -> Vec<String> {
    match kind {
        "Namespace" => names::dns1123_label(name),
        "Service" => dns1035_label(name),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => path_segment_name(name),
        _ => names::dns1123_subdomain(name),
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
    // ValidateEnv (RelaxedEnvironmentVariableValidation, on by default in 1.32)
    for (i, e) in arr(c, "env").iter().enumerate() {
        let p = format!("{path}.env[{i}].name");
        let n = s(e, "name");
        if n.is_empty() {
            errs.push(required(&p));
        } else if n.chars().any(|ch| !(' '..='~').contains(&ch) || ch == '=') {
            errs.push(invalid(
                &p,
                &q(n),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    if let Some(r) = c.get("resources") {
        resources(r, &format!("{path}.resources"), errs);
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get(probe).filter(|p| p.is_object()) {
            let pp = format!("{path}.{probe}");
            probe_rules(p, &pp, errs);
            // validateContainers: liveness and startup probes' successThreshold must be 1
            if probe != "readinessProbe"
                && let Some(n) = p.get("successThreshold").and_then(Value::as_i64)
                && n != 1
            {
                errs.push(invalid(
                    &format!("{pp}.successThreshold"),
                    &n.to_string(),
                    "must be 1",
                ));
            }
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

// ---- core: ValidateResourceRequirements, validateProbe ----

/// A parsed `resource.Quantity`: its value in units of 10^-9 and whether it was written
/// with a binary suffix (which `Quantity.String()` keeps when it can).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quantity {
    nanos: i128,
    binary: bool,
}

/// `resource.ParseQuantity` for the forms real manifests use (sign, decimal digits with an
/// optional fraction, a decimal SI suffix, a binary suffix or an exponent); None when it does
/// not parse (the decoder reports those) or is out of this range.
fn parse_quantity(text: &str) -> Option<Quantity> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let (neg, digits) = match num.as_bytes().first()? {
        b'-' => (true, &num[1..]),
        b'+' => (false, &num[1..]),
        _ => (false, num),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || int.len() + frac.len() > 24
    {
        return None;
    }
    let (mul, binary): (i128, bool) = match suffix {
        "" => (1_000_000_000, false),
        "n" => (1, false),
        "u" => (1_000, false),
        "m" => (1_000_000, false),
        "k" => (1_000_000_000_000, false),
        "M" => (10i128.pow(15), false),
        "G" => (10i128.pow(18), false),
        "T" => (10i128.pow(21), false),
        "P" => (10i128.pow(24), false),
        "E" => (10i128.pow(27), false),
        "Ki" => (1_000_000_000 << 10, true),
        "Mi" => (1_000_000_000 << 20, true),
        "Gi" => (1_000_000_000 << 30, true),
        "Ti" => (1_000_000_000 << 40, true),
        "Pi" => (1_000_000_000 << 50, true),
        "Ei" => (1_000_000_000 << 60, true),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            if !(-9..=18).contains(&exp) {
                return None;
            }
            (10i128.pow((exp + 9) as u32), false)
        }
        _ => return None,
    };
    let mut n: i128 = 0;
    for b in int.bytes() {
        n = n.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let mut v = n.checked_mul(mul)?;
    let mut scale = mul;
    for b in frac.bytes() {
        scale /= 10;
        v = v.checked_add(i128::from(b - b'0').checked_mul(scale)?)?;
    }
    Some(Quantity {
        nanos: if neg { -v } else { v },
        binary,
    })
}

/// `Quantity.String()`: the canonical form — the largest binary suffix giving an integer
/// for a binary-written quantity that is one, else the largest decimal SI suffix giving an
/// integer mantissa.
fn canonical(qty: Quantity) -> String {
    let (neg, v) = (qty.nanos < 0, qty.nanos.unsigned_abs());
    let sign = if neg { "-" } else { "" };
    if v == 0 {
        return "0".into();
    }
    if qty.binary && v % 1_000_000_000 == 0 {
        let units = v / 1_000_000_000;
        for (shift, suf) in [
            (60, "Ei"),
            (50, "Pi"),
            (40, "Ti"),
            (30, "Gi"),
            (20, "Mi"),
            (10, "Ki"),
        ] {
            if units % (1u128 << shift) == 0 {
                return format!("{sign}{}{suf}", units >> shift);
            }
        }
        return format!("{sign}{units}");
    }
    for (exp, suf) in [
        (27, "E"),
        (24, "P"),
        (21, "T"),
        (18, "G"),
        (15, "M"),
        (12, "k"),
        (9, ""),
        (6, "m"),
        (3, "u"),
        (0, "n"),
    ] {
        let d = 10u128.pow(exp);
        if v % d == 0 {
            return format!("{sign}{}{suf}", v / d);
        }
    }
    format!("{sign}{v}n")
}

/// A standard container resource (`IsStandardContainerResourceName`).
fn standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Overcommit is allowed for native resources (`IsOvercommitAllowed`): not for extended
/// resources (a '/' outside `kubernetes.io/`) nor hugepages.
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

fn quantities(m: Option<&Value>) -> Vec<(&str, Option<Quantity>, String)> {
    m.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    (k.as_str(), parse_quantity(&text), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `ValidateContainerResourceRequirements`: standard resource names, non-negative
/// quantities, requests <= limits (== for resources that do not overcommit).
fn resources(r: &Value, path: &str, errs: &mut FieldErrors) {
    let limits = quantities(r.get("limits"));
    let requests = quantities(r.get("requests"));
    let name_rules = |name: &str, p: &str, errs: &mut FieldErrors| {
        for m in names::qualified_name(name) {
            errs.push(invalid(p, &q(name), &m));
        }
        if !name.contains('/') && !standard_container_resource(name) {
            errs.push(invalid(
                p,
                &q(name),
                "must be a standard resource for containers",
            ));
        }
    };
    for (name, qty, _) in &limits {
        let p = format!("{path}.limits[{name}]");
        name_rules(name, &p, errs);
        if let Some(qty) = qty
            && qty.nanos < 0
        {
            errs.push(invalid(
                &p,
                &q(&canonical(*qty)),
                "must be greater than or equal to 0",
            ));
        }
    }
    let req_path = format!("{path}.requests");
    for (name, qty, _) in &requests {
        let p = format!("{req_path}[{name}]");
        name_rules(name, &p, errs);
        let Some(qty) = qty else { continue };
        if qty.nanos < 0 {
            errs.push(invalid(
                &p,
                &q(&canonical(*qty)),
                "must be greater than or equal to 0",
            ));
        }
        match limits.iter().find(|(n, _, _)| n == name) {
            Some((_, Some(lim), _)) => {
                if qty.nanos != lim.nanos && !overcommit_allowed(name) {
                    errs.push(invalid(
                        &req_path,
                        &q(&canonical(*qty)),
                        &format!("must be equal to {name} limit of {}", canonical(*lim)),
                    ));
                } else if qty.nanos > lim.nanos {
                    errs.push(invalid(
                        &req_path,
                        &q(&canonical(*qty)),
                        &format!(
                            "must be less than or equal to {name} limit of {}",
                            canonical(*lim)
                        ),
                    ));
                }
            }
            Some((_, None, _)) => {}
            None if !overcommit_allowed(name) => errs.push(FieldError::new(
                format!("{path}.limits").as_str(),
                "Required value: Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
    }
}

/// `ValidatePortNumOrName` of a handler's port.
fn port_num_or_name(port: Option<&Value>, path: &str, errs: &mut FieldErrors) {
    match port {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            if !(1..=MAX_PORT).contains(&n) {
                errs.push(invalid(path, &n.to_string(), PORT_MSG));
            }
        }
        Some(Value::String(name)) => {
            let mut msgs = Vec::new();
            if name.len() > 15 {
                msgs.push("must be no more than 15 characters".to_owned());
            }
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                msgs.push(
                    "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                        .to_owned(),
                );
            }
            if !name.bytes().any(|b| b.is_ascii_lowercase()) {
                msgs.push("must contain at least one letter (a-z)".to_owned());
            }
            if name.contains("--") {
                msgs.push("must not contain consecutive hyphens".to_owned());
            }
            if name.starts_with('-') || name.ends_with('-') {
                msgs.push("must not begin or end with a hyphen".to_owned());
            }
            for m in msgs {
                errs.push(invalid(path, &q(name), &m));
            }
        }
        _ => errs.push(required(path)),
    }
}

/// `validateProbe`: exactly one handler (`validateHandler`), each handler's own checks, and
/// `ValidateNonnegativeField` of the timings (defaulting fills periodSeconds, timeoutSeconds,
/// successThreshold and failureThreshold first).
fn probe_rules(p: &Value, path: &str, errs: &mut FieldErrors) {
    let mut handlers = 0;
    for h in ["exec", "httpGet", "tcpSocket", "grpc"] {
        let Some(v) = p.get(h).filter(|v| !v.is_null()) else {
            continue;
        };
        let hp = format!("{path}.{h}");
        if handlers > 0 {
            errs.push(FieldError::new(
                hp.as_str(),
                "Forbidden: may not specify more than 1 handler type",
            ));
            continue;
        }
        handlers += 1;
        match h {
            "exec" => {
                if arr(v, "command").is_empty() {
                    errs.push(required(&format!("{hp}.command")));
                }
            }
            "httpGet" => {
                if s(v, "path").is_empty() {
                    errs.push(required(&format!("{hp}.path")));
                }
                port_num_or_name(v.get("port"), &format!("{hp}.port"), errs);
                let scheme = s(v, "scheme");
                if !scheme.is_empty() && scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(not_supported(
                        &format!("{hp}.scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
            }
            "tcpSocket" => port_num_or_name(v.get("port"), &format!("{hp}.port"), errs),
            _ => {
                let n = v.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=MAX_PORT).contains(&n) {
                    errs.push(invalid(&format!("{hp}.port"), &n.to_string(), PORT_MSG));
                }
            }
        }
    }
    if handlers == 0 {
        errs.push(FieldError::new(
            path,
            "Required value: must specify a handler type",
        ));
    }
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(n) = p.get(f).and_then(Value::as_i64)
            && n < 0
        {
            errs.push(invalid(
                &format!("{path}.{f}"),
                &n.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(n) = p
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        && n <= 0
    {
        errs.push(invalid(
            &format!("{path}.terminationGracePeriodSeconds"),
            &n.to_string(),
            "must be greater than 0",
        ));
    }
}

// ---- core: ValidatePodUpdate ----

/// The fields a Pod update may change, as upstream lists them in its message.
const POD_UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`: a Pod's spec is immutable but for its containers' images,
/// `activeDeadlineSeconds` (set or lowered, never removed), added tolerations, and a
/// negative `terminationGracePeriodSeconds` set to 1. The Binding subresource's first
/// `spec.nodeName` goes through here too (upstream's binding writes storage directly).
fn pod_update(spec: &Value, old: &Value, errs: &mut FieldErrors) {
    let new_ads = spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    let old_ads = old.get("activeDeadlineSeconds").and_then(Value::as_i64);
    match (new_ads, old_ads) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(invalid(
                "spec.activeDeadlineSeconds",
                &n.to_string(),
                &format!("must be between 0 and {}, inclusive", i32::MAX),
            ));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(invalid(
                "spec.activeDeadlineSeconds",
                &n.to_string(),
                "must be less than or equal to previous value",
            ));
            return;
        }
        (None, Some(_)) => errs.push(invalid(
            "spec.activeDeadlineSeconds",
            "\"null\"",
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    // validateOnlyAddedTolerations
    let new_tol = arr(spec, "tolerations");
    for old_t in arr(old, "tolerations") {
        let kept = new_tol.iter().any(|t| {
            let strip = |v: &Value| {
                let mut v = v.clone();
                if let Some(m) = v.as_object_mut() {
                    m.remove("tolerationSeconds");
                }
                v
            };
            strip(t) == strip(old_t)
        });
        if !kept {
            errs.push(FieldError::new(
                "spec.tolerations",
                "Forbidden: existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    let mut munged = spec.clone();
    let Some(m) = munged.as_object_mut() else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(cs) = m.get_mut(list).and_then(Value::as_array_mut) {
            for (i, c) in cs.iter_mut().enumerate() {
                if let (Some(c), Some(img)) = (
                    c.as_object_mut(),
                    old.get(list)
                        .and_then(|l| l.get(i))
                        .and_then(|o| o.get("image")),
                ) {
                    c.insert("image".into(), img.clone());
                }
            }
        }
    }
    for (k, keep_old) in [
        ("activeDeadlineSeconds", true),
        ("tolerations", true),
        (
            "terminationGracePeriodSeconds",
            old.get("terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_some_and(|n| n < 0)
                && spec
                    .get("terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    == Some(1),
        ),
        ("nodeName", s(old, "nodeName").is_empty()),
    ] {
        if keep_old {
            match old.get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
    }
    if &munged != old {
        let mut changed: Vec<String> = Vec::new();
        let empty = serde_json::Map::new();
        let (a, b) = (
            old.as_object().unwrap_or(&empty),
            munged.as_object().unwrap_or(&empty),
        );
        for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            if a.get(k) != b.get(k) {
                changed.push(format!("spec.{k}"));
            }
        }
        errs.push(FieldError::new(
            "spec",
            format!(
                "Forbidden: pod updates may not change fields other than {POD_UPDATABLE}\n(changed: {})",
                changed.join(", ")
            ),
        ));
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

    // apimachinery pkg/api/validation/objectmeta.go ValidateObjectMetaAccessor:
    // generateName under the kind's name rule with maskTrailingDash, ValidateLabels
    // (IsQualifiedName keys, IsValidLabelValue values, at `metadata.labels`),
    // ValidateAnnotations (keys lowercased, TotalAnnotationSizeLimitB = 256 KiB, TooLong).
    #[test]
    fn object_meta_rules() {
        let cm = |meta: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta});
        assert!(
            found(
                "",
                "ConfigMap",
                &cm(json!({"name": "a", "generateName": "web-",
            "labels": {"app.kubernetes.io/name": "x", "empty": ""},
            "annotations": {"Example.COM/Key": "v"}})),
                None
            )
            .is_empty()
        );
        assert_eq!(
            found(
                "",
                "ConfigMap",
                &cm(json!({"name": "a", "generateName": "Web_",
                "labels": {"a b": "ok", "k": "-bad"}, "annotations": {"/x": "v"}})),
                None
            ),
            vec![
                "metadata.generateName: Invalid value: \"Web_\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "metadata.annotations: Invalid value: \"/x\": prefix part must be non-empty",
            ]
        );
        let long = "v".repeat(63);
        assert!(
            found(
                "",
                "ConfigMap",
                &cm(json!({"name": "a", "labels": {"k": long}})),
                None
            )
            .is_empty()
        );
        let too_long = "v".repeat(64);
        assert_eq!(
            found(
                "",
                "ConfigMap",
                &cm(json!({"name": "a", "labels": {"k": too_long}})),
                None
            )[0],
            format!(
                "metadata.labels: Invalid value: \"{too_long}\": must be no more than 63 characters"
            )
        );
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        assert_eq!(
            found(
                "",
                "ConfigMap",
                &cm(json!({"name": "a", "annotations": {"k": big}})),
                None
            ),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    // pkg/apis/core/validation: ValidateServiceName = NameIsDNS1035Label, ValidateNamespaceName
    // = NameIsDNSLabel, rbac ValidateRBACName = path.IsValidPathSegmentName.
    #[test]
    fn per_kind_name_rules() {
        assert!(name_rule_messages("Service", "1web")[0].starts_with("a DNS-1035 label"));
        assert!(name_rule_messages("Service", "web-1").is_empty());
        assert!(name_rule_messages("ConfigMap", "1web.example").is_empty());
        assert!(!name_rule_messages("Namespace", "a.b").is_empty());
        assert!(name_rule_messages("ClusterRole", "system:controller:x").is_empty());
        assert_eq!(
            name_rule_messages("ClusterRole", "a/b%"),
            ["may not contain '/'", "may not contain '%'"]
        );
        assert_eq!(name_rule_messages("Role", ".."), ["may not be '..'"]);
    }

    // ValidateLabelSelector: matchLabels and matchExpressions keys/values are label names
    // and values.
    #[test]
    fn selector_keys_and_values() {
        let pdb = json!({"kind": "PodDisruptionBudget", "metadata": {"name": "p"}, "spec": {"selector": {
            "matchLabels": {"ok": "a b"},
            "matchExpressions": [{"key": "-k", "operator": "In", "values": ["x", "y z"]}]}}});
        let f = found("policy", "PodDisruptionBudget", &pdb, None);
        let paths: Vec<&str> = f
            .iter()
            .map(|e| e.split(": ").next().unwrap_or_default())
            .collect();
        assert_eq!(
            paths,
            [
                "spec.selector.matchExpressions[0].key",
                "spec.selector.matchExpressions[0].values[1]",
                "spec.selector.matchLabels"
            ],
            "{f:?}"
        );
    }

    // resource.Quantity's canonical String() (the value kube-apiserver prints).
    #[test]
    fn quantities_parse_and_print_canonically() {
        let c = |t: &str| canonical(parse_quantity(t).unwrap());
        assert_eq!(c("500m"), "500m");
        assert_eq!(c("0.5"), "500m");
        assert_eq!(c("1000m"), "1");
        assert_eq!(c("1000"), "1k");
        assert_eq!(c("1.5Gi"), "1536Mi");
        assert_eq!(c("1024Mi"), "1Gi");
        assert_eq!(c("128974848"), "128974848");
        assert_eq!(c("1e3"), "1k");
        assert_eq!(c("-1"), "-1");
        assert!(parse_quantity("abc").is_none());
        assert!(parse_quantity("1Qi").is_none());
    }

    fn pod_with(container: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}})
    }

    // validateContainerResourceRequirements: "must be less than or equal to cpu limit of 1"
    // at `resources.requests` with the request's canonical quantity; standard names.
    #[test]
    fn resource_rules() {
        let p = pod_with(json!({"name": "c", "image": "i", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi", "example.com/gpu": "2"},
            "requests": {"cpu": "1500m", "memory": "512Mi", "example.com/gpu": "1", "disk": "1"}}}));
        assert_eq!(
            found("", "Pod", &p, None),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"1500m\": must be less than or equal to cpu limit of 1",
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2",
                "spec.containers[0].resources.requests[disk]: Invalid value: \"disk\": must be a standard resource for containers",
            ]
        );
        let ok = pod_with(json!({"name": "c", "image": "i", "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "2000m", "memory": "1024Mi"}}}));
        assert!(found("", "Pod", &ok, None).is_empty());
    }

    // validateProbe / validateHandler ("must specify a handler type", "may not specify more
    // than 1 handler type"), ValidateNonnegativeField, liveness successThreshold "must be 1";
    // ValidateEnv with RelaxedEnvironmentVariableValidation (default on in 1.32).
    #[test]
    fn probe_and_env_rules() {
        let p = pod_with(json!({"name": "c", "image": "i",
            "env": [{"name": "my.var-1"}, {"name": "A=B"}, {"name": ""}],
            "livenessProbe": {"periodSeconds": 10, "successThreshold": 2},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}, "periodSeconds": -1},
            "startupProbe": {"httpGet": {"path": "/", "port": "Http_"}}}));
        assert_eq!(
            found("", "Pod", &p, None),
            vec![
                "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].env[2].name: Required value",
                "spec.containers[0].livenessProbe: Required value: must specify a handler type",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.containers[0].startupProbe.httpGet.port: Invalid value: \"Http_\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ]
        );
    }

    // ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations (and a
    // negative terminationGracePeriodSeconds to 1) may change.
    #[test]
    fn pod_update_rules() {
        let old = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}]}],
            "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 100}});
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["tolerations"] =
            json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]);
        new["spec"]["activeDeadlineSeconds"] = json!(50);
        new["metadata"]["labels"] = json!({"x": "y"});
        assert!(found("", "Pod", &new, Some(&old)).is_empty());
        let mut ports = old.clone();
        ports["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(81);
        let f = found("", "Pod", &ports, Some(&old));
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"), "{f:?}");
        let mut raised = old.clone();
        raised["spec"]["activeDeadlineSeconds"] = json!(200);
        assert_eq!(
            found("", "Pod", &raised, Some(&old)),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
            ]
        );
        let mut dropped = old.clone();
        dropped["spec"]["tolerations"] = json!([]);
        assert_eq!(
            found("", "Pod", &dropped, Some(&old)),
            vec![
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
            ]
        );
        // the Binding subresource sets the first nodeName
        let mut bound = old.clone();
        bound["spec"]["nodeName"] = json!("node-1");
        assert!(found("", "Pod", &bound, Some(&old)).is_empty());
        let mut moved = bound.clone();
        moved["spec"]["nodeName"] = json!("node-2");
        assert_eq!(found("", "Pod", &moved, Some(&bound)).len(), 1);
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
