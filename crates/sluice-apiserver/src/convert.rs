//! Version conversion between the served versions of a resource (pure): objects are stored in
//! their resource's storage version and converted to the version a request names.
//!
//! - HorizontalPodAutoscaler autoscaling/v1 <-> autoscaling/v2 (storage v2), as
//!   kube-apiserver's pkg/apis/autoscaling/v1/conversion.go: `targetCPUUtilizationPercentage`
//!   is the CPU `Utilization` metric; what v1 cannot say travels in the round-trip annotations
//!   `autoscaling.alpha.kubernetes.io/metrics` (the other metrics, in autoscaling/v1's
//!   `MetricSpec` shape), `.../behavior`, `.../current-metrics` and `.../conditions`, which a
//!   v1 object carries and a v2 object never shows.
//! - User CRDs with several versions and `conversion.strategy: None` (the default): only
//!   `apiVersion` changes (apiextensions-apiserver's nopConverter); objects are stored in
//!   the CRD's storage version. Sluice's own CRD groups (tekton.dev, argoproj.io...) keep each
//!   object in the version it was written in: their controllers read every served version
//!   (upstream converts them with the projects' conversion webhooks).

use serde_json::{Map, Value, json};

use crate::resources::ResourceInfo;

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";

fn is_hpa(info: &ResourceInfo) -> bool {
    info.group == "autoscaling" && info.kind == "HorizontalPodAutoscaler"
}

/// The version objects of `info` are stored in, when the server converts them.
pub fn storage_version(info: &ResourceInfo) -> Option<&str> {
    if is_hpa(info) {
        return Some("v2");
    }
    if info.custom && info.versions.len() > 1 && !crate::resources::is_sluice_group(&info.group) {
        // the storage version is served first (resources::from_crd)
        return info.versions.first().map(String::as_str);
    }
    None
}

fn version_of(obj: &Value) -> &str {
    let av = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    av.rsplit_once('/').map_or(av, |(_, v)| v)
}

/// `obj` as its resource's storage version (unchanged when the server does not convert).
pub fn to_storage(info: &ResourceInfo, obj: Value) -> Value {
    match storage_version(info) {
        Some(v) => to_version(info, obj, v),
        None => obj,
    }
}

/// Whether [`to_version`] leaves `obj` as it is: a Scale, or an object already in
/// `version`'s apiVersion (a HorizontalPodAutoscaler of another version is converted).
pub fn is_served_as(info: &ResourceInfo, obj: &Value, version: &str) -> bool {
    obj.get("kind").is_some_and(|k| k == "Scale")
        || ((version_of(obj) == version || !is_hpa(info))
            && obj.get("apiVersion").and_then(Value::as_str)
                == Some(info.api_version(version).as_str()))
}

/// `obj` (any served version) as `version` of its resource.
pub fn to_version(info: &ResourceInfo, mut obj: Value, version: &str) -> Value {
    if is_served_as(info, &obj, version) {
        return obj;
    }
    let from = version_of(&obj).to_owned();
    if from != version && is_hpa(info) {
        obj = match (from.as_str(), version) {
            ("v1", "v2") => hpa_v1_to_v2(obj),
            ("v2", "v1") => hpa_v2_to_v1(obj),
            _ => obj,
        };
    }
    obj["apiVersion"] = json!(info.api_version(version));
    obj
}

fn take_annotation(obj: &mut Value, key: &str) -> Option<Value> {
    let anns = obj.pointer_mut("/metadata/annotations")?.as_object_mut()?;
    let v = anns.remove(key)?;
    if anns.is_empty()
        && let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.remove("annotations");
    }
    serde_json::from_str(v.as_str()?).ok()
}

fn set_annotation(obj: &mut Value, key: &str, v: &Value) {
    if obj.get("metadata").is_none_or(|m| !m.is_object()) {
        obj["metadata"] = json!({});
    }
    let m = &mut obj["metadata"];
    if m.get("annotations").is_none_or(|a| !a.is_object()) {
        m["annotations"] = json!({});
    }
    m["annotations"][key] = json!(v.to_string());
}

fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && m["resource"]["target"]["averageUtilization"].is_number()
}

/// Copies `from[k]` to `to[k2]` when set.
fn put(to: &mut Map<String, Value>, k2: &str, v: &Value) {
    if !v.is_null() {
        to.insert(k2.to_owned(), v.clone());
    }
}

/// A v2 `MetricSpec` (`side` "target") or `MetricStatus` (`side` "current") as
/// autoscaling/v1's annotation shape (v2beta1's): the side's fields named `<side>Value`,
/// `<side>AverageValue`, `<side>AverageUtilization`.
fn metric_v2_to_v1(m: &Value, side: &str) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    let mut s = Map::new();
    let f = |name: &str| format!("{side}{name}");
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let r = &m[key];
            put(&mut s, "name", &r["name"]);
            put(&mut s, "container", &r["container"]);
            put(
                &mut s,
                &f("AverageUtilization"),
                &r[side]["averageUtilization"],
            );
            put(&mut s, &f("AverageValue"), &r[side]["averageValue"]);
            out.insert(key.into(), Value::Object(s));
        }
        "Pods" => {
            let p = &m["pods"];
            put(&mut s, "metricName", &p["metric"]["name"]);
            put(&mut s, "selector", &p["metric"]["selector"]);
            put(&mut s, &f("AverageValue"), &p[side]["averageValue"]);
            out.insert("pods".into(), Value::Object(s));
        }
        "Object" => {
            let o = &m["object"];
            put(&mut s, "target", &o["describedObject"]);
            put(&mut s, "metricName", &o["metric"]["name"]);
            put(&mut s, "selector", &o["metric"]["selector"]);
            put(&mut s, &f("Value"), &o[side]["value"]);
            put(&mut s, "averageValue", &o[side]["averageValue"]);
            out.insert("object".into(), Value::Object(s));
        }
        "External" => {
            let e = &m["external"];
            put(&mut s, "metricName", &e["metric"]["name"]);
            put(&mut s, "metricSelector", &e["metric"]["selector"]);
            put(&mut s, &f("Value"), &e[side]["value"]);
            put(&mut s, &f("AverageValue"), &e[side]["averageValue"]);
            out.insert("external".into(), Value::Object(s));
        }
        _ => return m.clone(),
    }
    Value::Object(out)
}

fn metric_spec_v2_to_v1(m: &Value) -> Value {
    metric_v2_to_v1(m, "target")
}

fn metric_status_v2_to_v1(m: &Value) -> Value {
    metric_v2_to_v1(m, "current")
}

fn target(kind: &str, value: &Value, average: &Value, utilization: &Value) -> Value {
    let mut t = Map::new();
    t.insert("type".into(), json!(kind));
    put(&mut t, "value", value);
    put(&mut t, "averageValue", average);
    put(&mut t, "averageUtilization", utilization);
    Value::Object(t)
}

fn metric_id(name: &Value, selector: &Value) -> Value {
    let mut id = Map::new();
    put(&mut id, "name", name);
    put(&mut id, "selector", selector);
    Value::Object(id)
}

/// autoscaling/v1's annotation `MetricSpec` as a v2 `MetricSpec` (conversion.go's
/// `Convert_v1_*MetricSource_To_autoscaling_*MetricSource`: a target type from which
/// value is set).
fn metric_spec_v1_to_v2(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let r = &m[key];
            let u = &r["targetAverageUtilization"];
            let kind = if u.is_null() {
                "AverageValue"
            } else {
                "Utilization"
            };
            let mut s = Map::new();
            put(&mut s, "name", &r["name"]);
            put(&mut s, "container", &r["container"]);
            s.insert(
                "target".into(),
                target(kind, &Value::Null, &r["targetAverageValue"], u),
            );
            out.insert(key.into(), Value::Object(s));
        }
        "Pods" => {
            let p = &m["pods"];
            out.insert(
                "pods".into(),
                json!({"metric": metric_id(&p["metricName"], &p["selector"]),
                    "target": target("AverageValue", &Value::Null, &p["targetAverageValue"], &Value::Null)}),
            );
        }
        "Object" => {
            let o = &m["object"];
            let kind = if o["averageValue"].is_null() {
                "Value"
            } else {
                "AverageValue"
            };
            let mut s = Map::new();
            put(&mut s, "describedObject", &o["target"]);
            s.insert("metric".into(), metric_id(&o["metricName"], &o["selector"]));
            s.insert(
                "target".into(),
                target(kind, &o["targetValue"], &o["averageValue"], &Value::Null),
            );
            out.insert("object".into(), Value::Object(s));
        }
        "External" => {
            let e = &m["external"];
            let kind = if e["targetAverageValue"].is_null() {
                "Value"
            } else {
                "AverageValue"
            };
            out.insert(
                "external".into(),
                json!({"metric": metric_id(&e["metricName"], &e["metricSelector"]),
                    "target": target(kind, &e["targetValue"], &e["targetAverageValue"], &Value::Null)}),
            );
        }
        _ => return m.clone(),
    }
    Value::Object(out)
}

fn current(value: &Value, average: &Value, utilization: &Value) -> Value {
    let mut c = Map::new();
    put(&mut c, "value", value);
    put(&mut c, "averageValue", average);
    put(&mut c, "averageUtilization", utilization);
    Value::Object(c)
}

/// autoscaling/v1's annotation `MetricStatus` as a v2 `MetricStatus`.
fn metric_status_v1_to_v2(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let r = &m[key];
            let mut s = Map::new();
            put(&mut s, "name", &r["name"]);
            put(&mut s, "container", &r["container"]);
            s.insert(
                "current".into(),
                current(
                    &Value::Null,
                    &r["currentAverageValue"],
                    &r["currentAverageUtilization"],
                ),
            );
            out.insert(key.into(), Value::Object(s));
        }
        "Pods" => {
            let p = &m["pods"];
            out.insert(
                "pods".into(),
                json!({"metric": metric_id(&p["metricName"], &p["selector"]),
                    "current": current(&Value::Null, &p["currentAverageValue"], &Value::Null)}),
            );
        }
        "Object" => {
            let o = &m["object"];
            let mut s = Map::new();
            put(&mut s, "describedObject", &o["target"]);
            s.insert("metric".into(), metric_id(&o["metricName"], &o["selector"]));
            s.insert(
                "current".into(),
                current(&o["currentValue"], &o["averageValue"], &Value::Null),
            );
            out.insert("object".into(), Value::Object(s));
        }
        "External" => {
            let e = &m["external"];
            out.insert(
                "external".into(),
                json!({"metric": metric_id(&e["metricName"], &e["metricSelector"]),
                    "current": current(&e["currentValue"], &e["currentAverageValue"], &Value::Null)}),
            );
        }
        _ => return m.clone(),
    }
    Value::Object(out)
}

fn map_list(v: &Value, f: fn(&Value) -> Value) -> Vec<Value> {
    v.as_array().into_iter().flatten().map(f).collect()
}

/// `Convert_autoscaling_HorizontalPodAutoscaler_To_v1_HorizontalPodAutoscaler` from the v2
/// object (v2 and the internal type have one shape).
fn hpa_v2_to_v1(mut obj: Value) -> Value {
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    let status = obj.get("status").cloned();
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    let other: Vec<Value> = metrics
        .iter()
        .filter(|m| !is_cpu_utilization(m))
        .map(metric_spec_v2_to_v1)
        .collect();
    if !other.is_empty() {
        set_annotation(&mut obj, METRICS, &Value::Array(other));
    }
    if !spec["behavior"].is_null() {
        set_annotation(&mut obj, BEHAVIOR, &spec["behavior"]);
    }
    let mut s1 = Map::new();
    put(&mut s1, "scaleTargetRef", &spec["scaleTargetRef"]);
    put(&mut s1, "minReplicas", &spec["minReplicas"]);
    put(&mut s1, "maxReplicas", &spec["maxReplicas"]);
    if let Some(cpu) = metrics.iter().find(|m| is_cpu_utilization(m)) {
        s1.insert(
            "targetCPUUtilizationPercentage".into(),
            cpu["resource"]["target"]["averageUtilization"].clone(),
        );
    }
    if obj.get("spec").is_some() {
        obj["spec"] = Value::Object(s1);
    }
    if let Some(st) = status {
        let cur = st["currentMetrics"].as_array().cloned().unwrap_or_default();
        if !cur.is_empty() {
            set_annotation(
                &mut obj,
                CURRENT_METRICS,
                &Value::Array(cur.iter().map(metric_status_v2_to_v1).collect()),
            );
        }
        if st["conditions"].as_array().is_some_and(|c| !c.is_empty()) {
            set_annotation(&mut obj, CONDITIONS, &st["conditions"]);
        }
        let mut s1 = Map::new();
        for k in [
            "observedGeneration",
            "lastScaleTime",
            "currentReplicas",
            "desiredReplicas",
        ] {
            put(&mut s1, k, &st[k]);
        }
        if let Some(c) = cur.iter().find(|m| {
            m["type"] == "Resource"
                && m["resource"]["name"] == "cpu"
                && m["resource"]["current"]["averageUtilization"].is_number()
        }) {
            s1.insert(
                "currentCPUUtilizationPercentage".into(),
                c["resource"]["current"]["averageUtilization"].clone(),
            );
        }
        obj["status"] = Value::Object(s1);
    }
    obj
}

/// `Convert_v1_HorizontalPodAutoscaler_To_autoscaling_HorizontalPodAutoscaler`: the round-trip
/// annotations are taken off and read back.
fn hpa_v1_to_v2(mut obj: Value) -> Value {
    let other = take_annotation(&mut obj, METRICS);
    let behavior = take_annotation(&mut obj, BEHAVIOR);
    let current_metrics = take_annotation(&mut obj, CURRENT_METRICS);
    let conditions = take_annotation(&mut obj, CONDITIONS);
    if let Some(spec) = obj.get("spec").cloned() {
        let mut s2 = Map::new();
        put(&mut s2, "scaleTargetRef", &spec["scaleTargetRef"]);
        put(&mut s2, "minReplicas", &spec["minReplicas"]);
        put(&mut s2, "maxReplicas", &spec["maxReplicas"]);
        let mut metrics = other
            .as_ref()
            .map(|o| map_list(o, metric_spec_v1_to_v2))
            .unwrap_or_default();
        if let Some(p) = spec
            .get("targetCPUUtilizationPercentage")
            .filter(|p| p.is_number())
        {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": p}}}));
        }
        if !metrics.is_empty() {
            s2.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(b) = behavior {
            s2.insert("behavior".into(), b);
        }
        obj["spec"] = Value::Object(s2);
    }
    if let Some(st) = obj.get("status").cloned() {
        let mut s2 = Map::new();
        for k in [
            "observedGeneration",
            "lastScaleTime",
            "currentReplicas",
            "desiredReplicas",
        ] {
            put(&mut s2, k, &st[k]);
        }
        let cur = match &current_metrics {
            Some(c) => map_list(c, metric_status_v1_to_v2),
            None => match st
                .get("currentCPUUtilizationPercentage")
                .filter(|p| p.is_number())
            {
                Some(p) => vec![json!({"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": p}}})],
                None => Vec::new(),
            },
        };
        if !cur.is_empty() {
            s2.insert("currentMetrics".into(), Value::Array(cur));
        }
        if let Some(c) = conditions {
            s2.insert("conditions".into(), c);
        }
        obj["status"] = Value::Object(s2);
    }
    obj
}

/// apiextensions-apiserver's CRD strategy: `status.storedVersions` gets the storage version
/// on create (`PrepareForCreate`) and, when the storage version changes, the new one is
/// appended (`PrepareForUpdate`); the old list is kept otherwise.
pub fn track_stored_versions(crd: &mut Value, old: Option<&Value>) {
    let storage = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").cloned());
    let mut stored: Vec<Value> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(s) = storage
        && !stored.contains(&s)
    {
        stored.push(s);
    }
    if crd.get("status").is_none_or(|s| !s.is_object()) {
        crd["status"] = json!({});
    }
    crd["status"]["storedVersions"] = Value::Array(stored);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn hpa_info() -> std::sync::Arc<ResourceInfo> {
        Registry::default()
            .by_kind("autoscaling", "HorizontalPodAutoscaler")
            .expect("served")
    }

    // pkg/apis/autoscaling/v1/conversion.go: targetCPUUtilizationPercentage <-> the CPU
    // Utilization metric; currentCPUUtilizationPercentage <-> its current value.
    #[test]
    fn hpa_v1_cpu_target_is_the_v2_cpu_utilization_metric() {
        let info = hpa_info();
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40}});
        let v2 = to_version(&info, v1.clone(), "v2");
        assert_eq!(v2["apiVersion"], "autoscaling/v2");
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}])
        );
        assert_eq!(
            v2["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
            40
        );
        let back = to_version(&info, v2, "v1");
        let mut want = v1.clone();
        // v1 keeps the current metrics (all of them) in the round-trip annotation, fields
        // in the Go types' order as encoding/json writes them
        want["metadata"]["annotations"] = json!({CURRENT_METRICS:
            r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":40}}]"#});
        assert_eq!(back, want);
    }

    // Metrics v1 cannot express travel in the annotation and come back.
    #[test]
    fn hpa_v2_metrics_round_trip_through_v1_annotations() {
        let info = hpa_info();
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "annotations": {"keep": "me"}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"}}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 60}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        let v1 = to_version(&info, v2.clone(), "v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        let anns = &v1["metadata"]["annotations"];
        assert_eq!(anns["keep"], "me");
        let other: Value =
            serde_json::from_str(anns[METRICS].as_str().expect("metrics")).expect("json");
        assert_eq!(
            other[0],
            json!({"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "500Mi"}})
        );
        assert_eq!(other[1]["pods"]["metricName"], "qps");
        let back = to_version(&info, v1, "v2");
        assert_eq!(back, v2);
    }

    #[test]
    fn crd_stored_versions_accumulate_storage_versions() {
        let mut crd = json!({"spec": {"versions": [
            {"name": "v1beta1", "storage": false}, {"name": "v1", "storage": true}]}});
        track_stored_versions(&mut crd, None);
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        let old = crd.clone();
        let mut new = json!({"spec": {"versions": [
            {"name": "v1beta1", "storage": true}, {"name": "v1", "storage": false}]}});
        track_stored_versions(&mut new, Some(&old));
        assert_eq!(new["status"]["storedVersions"], json!(["v1", "v1beta1"]));
    }
}
