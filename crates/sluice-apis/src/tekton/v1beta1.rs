//! tekton.dev/v1beta1 forms, converted to v1 (tektoncd/pipeline
//! `pkg/apis/pipeline/v1beta1/*_conversion.go`). The conversion works on the unstructured
//! value, moving renamed fields to their v1 place, so that decoding, unknown-field
//! detection and validation are the v1 ones.

use serde_json::{Map, Value, json};
use sluice_core::{FieldError, FieldErrors};

/// Rewrites a v1beta1 `kind` object into its v1 shape. Findings concern fields v1 no
/// longer has (PipelineResources).
pub fn to_v1(kind: &str, v: &Value) -> (Value, FieldErrors) {
    let mut out = v.clone();
    let mut errs = FieldErrors::new();
    if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
        match kind {
            "Task" => task_spec(spec, &mut errs, "spec"),
            "Pipeline" => pipeline_spec(spec, &mut errs, "spec"),
            "PipelineRun" => pipelinerun_spec(spec, &mut errs),
            "TaskRun" => taskrun_spec(spec, &mut errs),
            _ => {}
        }
    }
    (out, errs)
}

fn rename(m: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = m.remove(from) {
        m.entry(to.to_owned()).or_insert(v);
    }
}

fn resources_removed(m: &mut Map<String, Value>, errs: &mut FieldErrors, path: &str) {
    if m.remove("resources").is_some() {
        errs.push(FieldError::new(
            format!("{path}.resources").as_str(),
            "PipelineResources are removed from Tekton (v0.50): spec.resources is no longer supported",
        ));
    }
}

fn each_obj<'a>(
    m: &'a mut Map<String, Value>,
    field: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    m.get_mut(field)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// v1beta1 TaskSpec: step/stepTemplate/sidecar `resources` -> `computeResources`.
fn task_spec(spec: &mut Map<String, Value>, errs: &mut FieldErrors, path: &str) {
    resources_removed(spec, errs, path);
    for s in each_obj(spec, "steps") {
        rename(s, "resources", "computeResources");
    }
    for s in each_obj(spec, "sidecars") {
        rename(s, "resources", "computeResources");
    }
    if let Some(t) = spec.get_mut("stepTemplate").and_then(Value::as_object_mut) {
        rename(t, "resources", "computeResources");
        // v1beta1 stepTemplate was a full Container; v1 drops `name`.
        t.remove("name");
    }
}

/// v1beta1 TaskRef `bundle` -> the bundles resolver.
fn task_ref(r: &mut Map<String, Value>) {
    if let Some(bundle) = r.remove("bundle") {
        let name = r.remove("name").unwrap_or(Value::String(String::new()));
        let kind = r
            .remove("kind")
            .and_then(|k| k.as_str().map(|s| s.to_lowercase()))
            .unwrap_or_else(|| "task".to_owned());
        r.insert("resolver".into(), json!("bundles"));
        r.insert(
            "params".into(),
            json!([
                {"name": "bundle", "value": bundle},
                {"name": "name", "value": name},
                {"name": "kind", "value": kind},
            ]),
        );
    }
}

fn pipeline_spec(spec: &mut Map<String, Value>, errs: &mut FieldErrors, path: &str) {
    resources_removed(spec, errs, path);
    for field in ["tasks", "finally"] {
        for (i, pt) in each_obj(spec, field).enumerate() {
            let p = format!("{path}.{field}[{i}]");
            resources_removed(pt, errs, &p);
            if let Some(r) = pt.get_mut("taskRef").and_then(Value::as_object_mut) {
                task_ref(r);
            }
            if let Some(ts) = pt.get_mut("taskSpec").and_then(Value::as_object_mut) {
                task_spec(ts, errs, &format!("{p}.taskSpec"));
            }
            if let Some(ps) = pt.get_mut("pipelineSpec").and_then(Value::as_object_mut) {
                pipeline_spec(ps, errs, &format!("{p}.pipelineSpec"));
            }
        }
    }
}

/// v1beta1 PipelineRunSpec: `serviceAccountName`/`podTemplate` -> `taskRunTemplate`,
/// `timeout` -> `timeouts.pipeline`, taskRunSpecs `taskServiceAccountName`/`taskPodTemplate`
/// -> `serviceAccountName`/`podTemplate`, `stepOverrides`/`sidecarOverrides` ->
/// `stepSpecs`/`sidecarSpecs`.
fn pipelinerun_spec(spec: &mut Map<String, Value>, errs: &mut FieldErrors) {
    resources_removed(spec, errs, "spec");
    let sa = spec.remove("serviceAccountName");
    let pt = spec.remove("podTemplate");
    if sa.is_some() || pt.is_some() {
        let trt = spec.entry("taskRunTemplate").or_insert_with(|| json!({}));
        if let Some(m) = trt.as_object_mut() {
            if let Some(sa) = sa {
                m.insert("serviceAccountName".into(), sa);
            }
            if let Some(pt) = pt {
                m.insert("podTemplate".into(), pt);
            }
        }
    }
    if let Some(t) = spec.remove("timeout") {
        let timeouts = spec.entry("timeouts").or_insert_with(|| json!({}));
        if let Some(m) = timeouts.as_object_mut() {
            m.entry("pipeline").or_insert(t);
        }
    }
    for s in each_obj(spec, "taskRunSpecs") {
        rename(s, "taskServiceAccountName", "serviceAccountName");
        rename(s, "taskPodTemplate", "podTemplate");
        rename(s, "stepOverrides", "stepSpecs");
        rename(s, "sidecarOverrides", "sidecarSpecs");
        for o in each_obj(s, "stepSpecs").chain(std::iter::empty()) {
            rename(o, "resources", "computeResources");
        }
        for o in each_obj(s, "sidecarSpecs") {
            rename(o, "resources", "computeResources");
        }
    }
    if let Some(r) = spec.get_mut("pipelineRef").and_then(Value::as_object_mut)
        && r.remove("bundle").is_some()
    {
        errs.push(FieldError::new(
            "spec.pipelineRef.bundle",
            "bundle is no longer supported; use the bundles resolver",
        ));
    }
    if let Some(ps) = spec.get_mut("pipelineSpec").and_then(Value::as_object_mut) {
        pipeline_spec(ps, errs, "spec.pipelineSpec");
    }
}

fn taskrun_spec(spec: &mut Map<String, Value>, errs: &mut FieldErrors) {
    resources_removed(spec, errs, "spec");
    rename(spec, "stepOverrides", "stepSpecs");
    rename(spec, "sidecarOverrides", "sidecarSpecs");
    for o in each_obj(spec, "stepSpecs") {
        rename(o, "resources", "computeResources");
    }
    for o in each_obj(spec, "sidecarSpecs") {
        rename(o, "resources", "computeResources");
    }
    if let Some(r) = spec.get_mut("taskRef").and_then(Value::as_object_mut) {
        task_ref(r);
    }
    if let Some(ts) = spec.get_mut("taskSpec").and_then(Value::as_object_mut) {
        task_spec(ts, errs, "spec.taskSpec");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::pipelinerun_from_object;
    use sluice_core::Object;

    // pipelinerun_conversion.go: serviceAccountName -> taskRunTemplate, timeout -> timeouts.pipeline.
    #[test]
    fn pipelinerun_fields_move() {
        let o = Object::new(
            json!({"apiVersion": "tekton.dev/v1beta1", "kind": "PipelineRun",
            "metadata": {"name": "r"},
            "spec": {"pipelineRef": {"name": "p"}, "serviceAccountName": "sa", "timeout": "1h",
                "podTemplate": {"nodeSelector": {"a": "b"}},
                "taskRunSpecs": [{"pipelineTaskName": "t", "taskServiceAccountName": "x"}]}}),
        );
        let (pr, errs) = pipelinerun_from_object(&o).unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        let trt = pr.spec.task_run_template.unwrap();
        assert_eq!(trt.service_account_name, "sa");
        assert!(trt.pod_template.is_some());
        assert_eq!(pr.spec.timeouts.unwrap().pipeline.as_deref(), Some("1h"));
        assert_eq!(pr.spec.task_run_specs[0].service_account_name, "x");
    }

    // container_conversion.go: step resources -> computeResources.
    #[test]
    fn step_resources_renamed() {
        let o = Object::new(json!({"apiVersion": "tekton.dev/v1beta1", "kind": "Task",
            "metadata": {"name": "t"},
            "spec": {"steps": [{"image": "x", "resources": {"limits": {"cpu": "1"}}}]}}));
        let (t, errs) = crate::tekton::task_from_object(&o).unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        assert!(t.spec.steps[0].compute_resources.is_some());
    }
}
