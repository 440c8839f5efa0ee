//! Desired vs live comparison of one resource, normalised as Argo CD compares (pure).
//!
//! Upstream: `gitops-engine/pkg/diff/diff.go` (`Normalize`, `removeNamespaceAnnotation`,
//! Secret `stringData` folded into `data`, fields the server adds are not differences: the
//! live object is compared only where the desired one says something, the three-way
//! behaviour of `ThreeWayDiff` against `kubectl.kubernetes.io/last-applied-configuration`),
//! `argo-cd/util/argo/normalizers/diff_normalizer.go` (`ignoreDifferences`: `jsonPointers`,
//! `jqPathExpressions`, `managedFieldsManagers`; `resource.customizations.ignoreDifferences.*`
//! of argocd-cm) and the `argocd.argoproj.io/compare-options: IgnoreExtraneous` annotation
//! (docs: user-guide/compare-options.md).

use base64::Engine;
use serde_json::{Map, Value};

use crate::sync::{annotation, group_of, meta_str};

pub const ANNOTATION_COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One `ignoreDifferences` entry (of an Application or of argocd-cm).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRule {
    /// `""` for the core group; `*` matches any (argocd-cm `all`).
    pub group: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub json_pointers: Vec<String>,
    pub jq_path_expressions: Vec<String>,
    pub managed_fields_managers: Vec<String>,
}

/// Why an ignore rule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl IgnoreRule {
    /// One entry of `spec.ignoreDifferences`.
    pub fn from_value(v: &Value, path: &str) -> Result<IgnoreRule, RuleError> {
        let Some(m) = v.as_object() else {
            return Err(RuleError {
                path: path.into(),
                message: "expected a mapping".into(),
            });
        };
        let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() {
            return Err(RuleError {
                path: format!("{path}.kind"),
                message: "required".into(),
            });
        }
        let rule = IgnoreRule {
            group: m
                .get("group")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            kind: kind.to_string(),
            name: m.get("name").and_then(Value::as_str).map(str::to_string),
            namespace: m
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string),
            json_pointers: strings(m.get("jsonPointers")),
            jq_path_expressions: strings(m.get("jqPathExpressions")),
            managed_fields_managers: strings(m.get("managedFieldsManagers")),
        };
        for (i, e) in rule.jq_path_expressions.iter().enumerate() {
            if let Err(message) = parse_jq(e) {
                return Err(RuleError {
                    path: format!("{path}.jqPathExpressions[{i}]"),
                    message,
                });
            }
        }
        Ok(rule)
    }

    /// The rules of argocd-cm's `resource.customizations.ignoreDifferences.<group>_<kind>`
    /// (`all` for every kind) keys; each value is YAML with jsonPointers,
    /// jqPathExpressions, managedFieldsManagers.
    pub fn from_configmap(cm: &Value) -> (Vec<IgnoreRule>, Vec<RuleError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        let Some(data) = cm.get("data").and_then(Value::as_object) else {
            return (rules, errors);
        };
        const PREFIX: &str = "resource.customizations.ignoreDifferences.";
        for (k, v) in data {
            let Some(gk) = k.strip_prefix(PREFIX) else {
                continue;
            };
            let (group, kind) = if gk == "all" {
                ("*".to_string(), "*".to_string())
            } else {
                match gk.split_once('_') {
                    Some((g, k)) => (g.to_string(), k.to_string()),
                    None => (String::new(), gk.to_string()),
                }
            };
            let text = v.as_str().unwrap_or("");
            let parsed = match sluice_core::yaml::load_documents(text, &Default::default()) {
                Ok(d) => d.into_iter().next().map(|d| d.value).unwrap_or(Value::Null),
                Err(e) => {
                    errors.push(RuleError {
                        path: format!("data.{k}"),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let mut rule = IgnoreRule {
                group,
                kind,
                json_pointers: strings(parsed.get("jsonPointers")),
                jq_path_expressions: strings(parsed.get("jqPathExpressions")),
                managed_fields_managers: strings(parsed.get("managedFieldsManagers")),
                ..Default::default()
            };
            rule.jq_path_expressions.retain(|e| match parse_jq(e) {
                Ok(_) => true,
                Err(message) => {
                    errors.push(RuleError {
                        path: format!("data.{k}"),
                        message,
                    });
                    false
                }
            });
            rules.push(rule);
        }
        (rules, errors)
    }

    fn matches(&self, obj: &Value) -> bool {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        (self.group == "*" || self.group == group_of(obj))
            && (self.kind == "*" || self.kind == kind)
            && self
                .name
                .as_deref()
                .is_none_or(|n| n == meta_str(obj, "name"))
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| n == meta_str(obj, "namespace"))
    }
}

/// The outcome of comparing one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffResult {
    /// Desired and live differ (OutOfSync).
    pub modified: bool,
    /// The normalised objects that were compared (for `app diff`).
    pub normalized_target: Option<Value>,
    pub normalized_live: Option<Value>,
}

/// Compares `target` (desired, from the source) with `live`. A missing live object is a
/// difference; a live object without target is one too, unless it carries
/// `compare-options: IgnoreExtraneous`.
pub fn diff(target: Option<&Value>, live: Option<&Value>, rules: &[IgnoreRule]) -> DiffResult {
    match (target, live) {
        (Some(t), Some(l)) => {
            let (mut t, mut l) = (normalize(t), normalize(l));
            let managers: Vec<&str> = rules
                .iter()
                .filter(|r| r.matches(&t))
                .flat_map(|r| r.managed_fields_managers.iter().map(String::as_str))
                .collect();
            if !managers.is_empty()
                && let Some(mf) = live.and_then(|l| l.pointer("/metadata/managedFields"))
            {
                for entry in mf.as_array().into_iter().flatten() {
                    let m = entry.get("manager").and_then(Value::as_str).unwrap_or("");
                    if managers.contains(&m)
                        && let Some(f) = entry.get("fieldsV1")
                    {
                        remove_owned(&mut t, f);
                        remove_owned(&mut l, f);
                    }
                }
            }
            let matching: Vec<&IgnoreRule> = rules.iter().filter(|r| r.matches(&t)).collect();
            for r in matching {
                for p in &r.json_pointers {
                    remove_pointer(&mut t, p);
                    remove_pointer(&mut l, p);
                }
                for e in &r.jq_path_expressions {
                    if let Ok(path) = parse_jq(e) {
                        remove_jq(&mut t, &path);
                        remove_jq(&mut l, &path);
                    }
                }
            }
            let last_applied = live
                .and_then(|l| annotation(l, LAST_APPLIED))
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .map(|v| normalize(&v));
            let modified = !covers(&t, &l, last_applied.as_ref());
            DiffResult {
                modified,
                normalized_target: Some(t),
                normalized_live: Some(l),
            }
        }
        (Some(t), None) => DiffResult {
            modified: true,
            normalized_target: Some(normalize(t)),
            normalized_live: None,
        },
        (None, Some(l)) => DiffResult {
            modified: !ignore_extraneous(l),
            normalized_target: None,
            normalized_live: Some(normalize(l)),
        },
        (None, None) => DiffResult {
            modified: false,
            normalized_target: None,
            normalized_live: None,
        },
    }
}

/// Whether a live object carries `compare-options: IgnoreExtraneous`.
pub fn ignore_extraneous(obj: &Value) -> bool {
    annotation(obj, ANNOTATION_COMPARE_OPTIONS)
        .is_some_and(|s| s.split(',').any(|o| o.trim() == "IgnoreExtraneous"))
}

/// Removes what the server sets or what Argo CD never compares: `status`, metadata's
/// server fields, the last-applied annotation; folds a Secret's `stringData` into `data`.
pub fn normalize(obj: &Value) -> Value {
    let mut o = obj.clone();
    let Some(m) = o.as_object_mut() else {
        return o;
    };
    let kind = m
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // CRDs keep their status out too; an Application's status is the controller's
    m.remove("status");
    if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "ownerReferences",
            "finalizers",
        ] {
            meta.remove(k);
        }
        for key in ["annotations", "labels"] {
            if let Some(a) = meta.get_mut(key).and_then(Value::as_object_mut) {
                a.remove(LAST_APPLIED);
                if a.is_empty() {
                    meta.remove(key);
                }
            }
        }
    }
    if kind == "Secret"
        && m.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && let Some(Value::Object(sd)) = m.remove("stringData")
    {
        let data = m.entry("data").or_insert_with(|| Value::Object(Map::new()));
        if let Some(d) = data.as_object_mut() {
            for (k, v) in sd {
                let s = v.as_str().unwrap_or("").as_bytes().to_vec();
                d.insert(
                    k,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
                );
            }
        }
    }
    o
}

/// Whether `live` agrees with everything `target` says. A field only the live object has
/// is a default the server added — unless the last applied configuration had it and the
/// target dropped it (then it was removed from the source: a difference).
fn covers(target: &Value, live: &Value, last: Option<&Value>) -> bool {
    match (target, live) {
        (Value::Object(t), Value::Object(l)) => {
            for (k, tv) in t {
                match l.get(k) {
                    Some(lv) => {
                        if !covers(tv, lv, last.and_then(|x| x.get(k))) {
                            return false;
                        }
                    }
                    None => {
                        if !is_empty(tv) {
                            return false;
                        }
                    }
                }
            }
            if let Some(Value::Object(la)) = last {
                for k in la.keys() {
                    if !t.contains_key(k) && l.contains_key(k) {
                        return false;
                    }
                }
            }
            true
        }
        (Value::Array(t), Value::Array(l)) => {
            t.len() == l.len()
                && t.iter().zip(l).enumerate().all(|(i, (a, b))| {
                    covers(a, b, last.and_then(|x| x.as_array()).and_then(|x| x.get(i)))
                })
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn remove_pointer(v: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// A step of the supported jq path subset.
#[derive(Debug, Clone, PartialEq)]
enum Jq {
    Key(String),
    Index(usize),
    Each,
    /// `select(.a.b == "x")` on the current element.
    Select(Vec<String>, Value),
}

/// Parses the path expressions Argo CD users write: `.a.b`, `.a["b"]`, `.a[]`, `.a[0]`,
/// `| select(.x == "y")` (Argo CD runs gojq; other expressions are refused clearly).
fn parse_jq(e: &str) -> Result<Vec<Jq>, String> {
    let unsupported = |why: &str| {
        Err(format!(
            "jq path expression {e:?}: {why} (supported: .a.b, .a[\"b\"], .a[], .a[0], | select(.x == \"y\"))"
        ))
    };
    let mut out = Vec::new();
    for (pi, part) in e.split('|').enumerate() {
        let part = part.trim();
        if pi > 0 && !part.starts_with('.') {
            let Some(inner) = part
                .strip_prefix("select(")
                .and_then(|s| s.strip_suffix(')'))
            else {
                return unsupported("after `|` only select(...) is supported");
            };
            let Some((lhs, rhs)) = inner.split_once("==") else {
                return unsupported("select needs `==`");
            };
            let path = match parse_jq(lhs.trim())?
                .into_iter()
                .map(|s| match s {
                    Jq::Key(k) => Ok(k),
                    _ => Err(()),
                })
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(p) => p,
                Err(()) => return unsupported("select compares a plain field path"),
            };
            let Ok(value) = serde_json::from_str::<Value>(rhs.trim()) else {
                return unsupported("select compares with a JSON literal");
            };
            out.push(Jq::Select(path, value));
            continue;
        }
        let b = part.as_bytes();
        if b.first() != Some(&b'.') {
            return unsupported("must start with `.`");
        }
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'.' => {
                    i += 1;
                    let start = i;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    if i > start {
                        out.push(Jq::Key(part[start..i].to_string()));
                    } else if i < b.len() && b[i] != b'[' {
                        return unsupported("unexpected character");
                    }
                }
                b'[' => {
                    let Some(end) = part[i..].find(']') else {
                        return unsupported("unclosed `[`");
                    };
                    let inner = part[i + 1..i + end].trim();
                    if inner.is_empty() {
                        out.push(Jq::Each);
                    } else if let Ok(n) = inner.parse::<usize>() {
                        out.push(Jq::Index(n));
                    } else if let Ok(Value::String(s)) = serde_json::from_str::<Value>(inner) {
                        out.push(Jq::Key(s));
                    } else {
                        return unsupported("bad index");
                    }
                    i += end + 1;
                }
                _ => return unsupported("unexpected character"),
            }
        }
    }
    if out.is_empty() {
        return unsupported("empty path");
    }
    Ok(out)
}

/// Removes what `path` selects from `v`.
fn remove_jq(v: &mut Value, path: &[Jq]) {
    // a trailing select removes the selected elements themselves
    match path {
        [] => {}
        [Jq::Each, Jq::Select(p, want)] => {
            if let Value::Array(a) = v {
                a.retain(|x| !selects(x, p, want));
            }
        }
        [Jq::Key(k)] => {
            if let Value::Object(m) = v {
                m.remove(k);
            }
        }
        [Jq::Index(i)] => {
            if let Value::Array(a) = v
                && *i < a.len()
            {
                a.remove(*i);
            }
        }
        [Jq::Each] => {
            if let Value::Array(a) = v {
                a.clear();
            }
        }
        [Jq::Select(..)] => {}
        [first, rest @ ..] => match first {
            Jq::Key(k) => {
                if let Some(x) = v.get_mut(k.as_str()) {
                    remove_jq(x, rest);
                }
            }
            Jq::Index(i) => {
                if let Some(x) = v.get_mut(*i) {
                    remove_jq(x, rest);
                }
            }
            Jq::Each => {
                if let Some(Jq::Select(p, want)) = rest.first() {
                    if let Value::Array(a) = v {
                        for x in a.iter_mut().filter(|x| selects(x, p, want)) {
                            remove_jq(x, &rest[1..]);
                        }
                    }
                } else if let Value::Array(a) = v {
                    for x in a.iter_mut() {
                        remove_jq(x, rest);
                    }
                }
            }
            Jq::Select(p, want) => {
                if selects(v, p, want) {
                    remove_jq(v, rest);
                }
            }
        },
    }
}

fn selects(v: &Value, path: &[String], want: &Value) -> bool {
    let mut cur = v;
    for k in path {
        match cur.get(k.as_str()) {
            Some(x) => cur = x,
            None => return false,
        }
    }
    cur == want
}

/// Removes the fields a managedFields `fieldsV1` set owns (`f:name` keys, `k:{...}` list
/// elements by their keys, `v:...` list values; `.` the node itself).
fn remove_owned(v: &mut Value, fields: &Value) {
    let Some(fm) = fields.as_object() else {
        return;
    };
    for (key, sub) in fm {
        if key == "." {
            continue;
        }
        let leaf = sub
            .as_object()
            .is_none_or(|m| m.is_empty() || m.len() == 1 && m.contains_key("."));
        if let Some(name) = key.strip_prefix("f:") {
            if let Value::Object(m) = v {
                if leaf {
                    m.remove(name);
                } else if let Some(x) = m.get_mut(name) {
                    remove_owned(x, sub);
                }
            }
        } else if let Some(k) = key.strip_prefix("k:") {
            let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(k) else {
                continue;
            };
            if let Value::Array(a) = v {
                let hit = |x: &Value| keys.iter().all(|(kk, kv)| x.get(kk) == Some(kv));
                if leaf {
                    a.retain(|x| !hit(x));
                } else {
                    for x in a.iter_mut().filter(|x| hit(x)) {
                        remove_owned(x, sub);
                    }
                }
            }
        } else if let Some(val) = key.strip_prefix("v:")
            && let Ok(val) = serde_json::from_str::<Value>(val)
            && let Value::Array(a) = v
        {
            a.retain(|x| *x != val);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "app", "labels": {"app.kubernetes.io/instance": "demo"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    fn live_of(target: &Value) -> Value {
        // what the API server gives back: server fields, defaults, status
        let mut l = target.clone();
        l["metadata"]["uid"] = json!("u-1");
        l["metadata"]["resourceVersion"] = json!("42");
        l["metadata"]["generation"] = json!(3);
        l["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        l["metadata"]["managedFields"] = json!([{"manager": "kubectl", "fieldsV1": {}}]);
        l["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        l["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        l["status"] = json!({"replicas": 2});
        l
    }

    // gitops-engine diff: server-set metadata, status and defaults are not differences
    #[test]
    fn server_fields_and_defaults_are_ignored() {
        let t = deploy(2, "nginx:1");
        let l = live_of(&t);
        assert!(!diff(Some(&t), Some(&l), &[]).modified);
        let mut l2 = l.clone();
        l2["spec"]["replicas"] = json!(3);
        assert!(diff(Some(&t), Some(&l2), &[]).modified);
        let mut l3 = l;
        l3["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert!(diff(Some(&t), Some(&l3), &[]).modified);
        assert!(diff(Some(&t), None, &[]).modified);
    }

    // three-way: a field removed from the source but still live (last-applied had it) is a
    // difference; a live-only field the last-applied never had is a server default
    #[test]
    fn removed_field_is_a_difference_with_last_applied() {
        let mut before = deploy(2, "nginx:1");
        before["spec"]["paused"] = json!(true);
        let mut l = live_of(&before);
        l["metadata"]["annotations"] =
            json!({LAST_APPLIED: serde_json::to_string(&before).unwrap_or_default()});
        let now = deploy(2, "nginx:1");
        assert!(diff(Some(&now), Some(&l), &[]).modified);
        assert!(!diff(Some(&before), Some(&l), &[]).modified);
    }

    // docs user-guide/diffing.md: jsonPointers, jqPathExpressions, managedFieldsManagers
    #[test]
    fn ignore_differences() {
        let t = deploy(2, "nginx:1");
        let mut l = live_of(&t);
        l["spec"]["replicas"] = json!(5);
        let rule = IgnoreRule::from_value(
            &json!({"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}),
            "spec.ignoreDifferences[0]",
        )
        .expect("rule");
        assert!(!diff(Some(&t), Some(&l), &[rule]).modified);
        let other = IgnoreRule::from_value(
            &json!({"kind": "Deployment", "jsonPointers": ["/spec/replicas"]}),
            "x",
        )
        .expect("rule");
        assert!(
            diff(Some(&t), Some(&l), &[other]).modified,
            "group must match"
        );

        let mut l = live_of(&t);
        l["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:9");
        let jq = IgnoreRule::from_value(
            &json!({"group": "apps", "kind": "Deployment",
                    "jqPathExpressions": [".spec.template.spec.containers[] | select(.name == \"web\") | .image"]}),
            "x",
        )
        .expect("rule");
        assert!(!diff(Some(&t), Some(&l), std::slice::from_ref(&jq)).modified);
        assert!(
            IgnoreRule::from_value(
                &json!({"kind": "X", "jqPathExpressions": [".a | length"]}),
                "x"
            )
            .is_err()
        );
        let jq = IgnoreRule::from_value(
            &json!({"group": "apps", "kind": "Deployment",
                    "jqPathExpressions": [".spec.template.spec.containers[].image"]}),
            "x",
        )
        .expect("rule");
        assert!(!diff(Some(&t), Some(&l), &[jq]).modified);

        let mut l = live_of(&t);
        l["spec"]["replicas"] = json!(7);
        l["metadata"]["managedFields"] = json!([{"manager": "hpa-controller", "operation": "Update",
            "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        let mf = IgnoreRule::from_value(
            &json!({"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["hpa-controller"]}),
            "x",
        )
        .expect("rule");
        assert!(!diff(Some(&t), Some(&l), &[mf]).modified);
    }

    #[test]
    fn secrets_extraneous_and_configmap_rules() {
        let t = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "hi"}});
        let l = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "aGk="}});
        assert!(!diff(Some(&t), Some(&l), &[]).modified);
        let extra = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x",
            "annotations": {ANNOTATION_COMPARE_OPTIONS: "IgnoreExtraneous"}}});
        assert!(!diff(None, Some(&extra), &[]).modified);
        let cm = json!({"data": {
            "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
            "resource.customizations.ignoreDifferences.all": "managedFieldsManagers:\n- kube-controller-manager\n"}});
        let (rules, errs) = IgnoreRule::from_configmap(&cm);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(rules.len(), 2);
        let t = deploy(2, "nginx:1");
        let mut l = live_of(&t);
        l["spec"]["replicas"] = json!(4);
        assert!(!diff(Some(&t), Some(&l), &rules).modified);
    }

    #[test]
    fn jq_subset_parses() {
        assert_eq!(
            parse_jq(".a[\"b.c\"][0][]").expect("ok"),
            vec![
                Jq::Key("a".into()),
                Jq::Key("b.c".into()),
                Jq::Index(0),
                Jq::Each
            ]
        );
        assert!(parse_jq("a.b").is_err());
        assert!(parse_jq(".a | length").is_err());
        let mut v = json!({"c": [{"name": "a", "x": 1}, {"name": "b", "x": 2}]});
        remove_jq(
            &mut v,
            &parse_jq(".c[] | select(.name == \"a\")").expect("ok"),
        );
        assert_eq!(v, json!({"c": [{"name": "b", "x": 2}]}));
    }

    proptest::proptest! {
        // any jq text: an error or a path, never a panic
        #[test]
        fn jq_never_panics(s in ".{0,40}") {
            let _ = parse_jq(&s);
        }
    }
}
