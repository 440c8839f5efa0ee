//! Rendering one Application from a template and a parameter set
//! (argo-cd `applicationset/utils/utils.go` `RenderTemplateParams`,
//! `applicationset/controllers/template/template.go`, `patch.go`).

use serde_json::{Map, Value};
use sluice_apis::argocd::Application;
use sluice_expr::appset::{self, Params};

use super::params::{ParamSet, string_values};
use super::{GenerateError, Settings};

/// `resources-finalizer.argocd.argoproj.io` (`ResourcesFinalizerName`).
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

pub(crate) struct Job<'a> {
    pub settings: &'a Settings,
    pub template: &'a Value,
    pub own_template: Option<&'a (String, Value)>,
    pub params: &'a ParamSet,
    /// Which generator and parameter set, for messages.
    pub origin: String,
    pub preserve: bool,
    pub patch: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

/// `GetTempApplication`: the Application a template describes (only name, namespace,
/// labels, annotations and finalizers of its metadata).
fn temp_application(template: &Value) -> Value {
    let mut meta = Map::new();
    if let Some(m) = template.get("metadata").and_then(Value::as_object) {
        for k in ["name", "namespace", "labels", "annotations", "finalizers"] {
            if let Some(v) = m.get(k) {
                meta.insert(k.to_owned(), v.clone());
            }
        }
    }
    let spec = template
        .get("spec")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    Value::Object(Map::from_iter([
        ("metadata".to_owned(), Value::Object(meta)),
        ("spec".to_owned(), spec),
    ]))
}

/// Where a rendering error at `rel` (a path in the template) is reported.
fn template_path(job: &Job<'_>, rel: &str) -> String {
    if let Some((path, own)) = job.own_template
        && pointer_of(own, rel).is_some()
    {
        return join(path, rel);
    }
    join("spec.template", rel)
}

fn pointer_of<'v>(v: &'v Value, rel: &str) -> Option<&'v Value> {
    let fp = sluice_core::FieldPath::parse(rel);
    let mut cur = v;
    for seg in fp.0 {
        cur = match seg {
            sluice_core::PathSeg::Field(f) | sluice_core::PathSeg::Key(f) => cur.get(&f)?,
            sluice_core::PathSeg::Index(i) => cur.get(i)?,
        };
    }
    Some(cur)
}

fn join(prefix: &str, rest: &str) -> String {
    if rest.is_empty() {
        prefix.to_owned()
    } else if rest.starts_with('[') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}.{rest}")
    }
}

/// Renders, finalizes, patches and types one Application.
pub(crate) fn application(job: &Job<'_>) -> Result<Value, Vec<GenerateError>> {
    let s = job.settings;
    let params = if s.go {
        Params::Nested(Value::Object(job.params.clone()))
    } else {
        Params::Flat(string_values(job.params))
    };
    let budget = appset::template_budget();
    let tmpl = temp_application(job.template);
    // RenderTemplateParams returns the template unchanged for an empty parameter set.
    let mut app = if job.params.is_empty() {
        tmpl
    } else {
        let mut app =
            appset::render_value_in(&tmpl, s.engine, &params, &budget).map_err(|list| {
                list.into_iter()
                    .map(|(p, e)| {
                        let what = if s.go {
                            "failed to execute go template"
                        } else {
                            "failed to render template"
                        };
                        GenerateError::new(
                            template_path(job, &p.to_string()),
                            format!("{what}: {e} ({})", job.origin),
                        )
                    })
                    .collect::<Vec<_>>()
            })?;
        let has_finalizers = app
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !job.preserve
            && !has_finalizers
            && let Some(m) = app.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.insert(
                "finalizers".to_owned(),
                Value::Array(vec![Value::String(RESOURCES_FINALIZER.to_owned())]),
            );
        }
        app
    };
    if let Some(patch) = job.patch {
        let rendered = appset::render_str_in(patch, s.engine, &params, &budget).map_err(|e| {
            vec![GenerateError::new(
                "spec.templatePatch",
                format!(
                    "error replacing values in templatePatch: {e} ({})",
                    job.origin
                ),
            )]
        })?;
        let docs =
            sluice_core::yaml::load_documents(&rendered, &Default::default()).map_err(|e| {
                vec![GenerateError::new(
                    "spec.templatePatch",
                    format!(
                        "error converting the rendered templatePatch to JSON: {} ({})",
                        e.message(),
                        job.origin
                    ),
                )]
            })?;
        let patch_value = docs
            .into_iter()
            .next()
            .map(|d| d.value)
            .unwrap_or(Value::Null);
        match patch_value {
            Value::Null => {}
            Value::Object(_) => {
                // applyTemplatePatch restores the project: a patch cannot move an
                // Application to another project.
                let project = app.pointer("/spec/project").cloned();
                strategic_merge(&mut app, &patch_value, 0);
                if let Some(spec) = app.get_mut("spec").and_then(Value::as_object_mut) {
                    match project {
                        Some(p) => {
                            spec.insert("project".to_owned(), p);
                        }
                        None => {
                            spec.remove("project");
                        }
                    }
                }
            }
            _ => {
                return Err(vec![GenerateError::new(
                    "spec.templatePatch",
                    format!("the rendered templatePatch is not a map ({})", job.origin),
                )]);
            }
        }
    }
    // The controller's typed Application: unknown fields dropped, Go's omitempty applied.
    let typed: Application = serde_json::from_value(app).map_err(|e| {
        vec![GenerateError::new(
            "spec.template",
            format!(
                "the generated Application is not an Application: {e} ({})",
                job.origin
            ),
        )]
    })?;
    let mut typed = typed;
    typed.api_version = "argoproj.io/v1alpha1".to_owned();
    typed.kind = "Application".to_owned();
    if typed.metadata.name.as_deref() == Some("") {
        typed.metadata.name = None;
    }
    // "The app's namespace must be the same as the AppSet's namespace to preserve the
    // appsets-in-any-namespace security boundary" (template.go).
    typed.metadata.namespace = job.namespace.map(str::to_owned);
    serde_json::to_value(&typed).map_err(|e| {
        vec![GenerateError::new(
            "spec.template",
            format!("the generated Application does not serialize: {e}"),
        )]
    })
}

/// `strategicpatch.StrategicMergePatch(app, patch, Application{})`: Application declares
/// no patch strategies of its own, so maps merge, `null` deletes, lists are replaced; only
/// `metadata.finalizers` (ObjectMeta's `patchStrategy:"merge"`) is a set union.
fn strategic_merge(dst: &mut Value, patch: &Value, depth: usize) {
    let (Value::Object(d), Value::Object(p)) = (&mut *dst, patch) else {
        *dst = patch.clone();
        return;
    };
    for (k, pv) in p {
        if pv.is_null() {
            d.remove(k);
            continue;
        }
        if depth == 1
            && k == "finalizers"
            && let (Some(Value::Array(cur)), Value::Array(add)) = (d.get_mut(k), pv)
        {
            for f in add {
                if !cur.contains(f) {
                    cur.push(f.clone());
                }
            }
            continue;
        }
        match d.get_mut(k) {
            Some(dv) if dv.is_object() && pv.is_object() => {
                let next = if depth == 0 && k == "metadata" { 1 } else { 2 };
                strategic_merge(dv, pv, next);
            }
            _ => {
                d.insert(k.clone(), pv.clone());
            }
        }
    }
}

/// Sorts every map's keys (what Go's encoding of `map[string]any` prints), iteratively
/// over the nesting.
pub fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sort_keys(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_keeps_finalizers_and_replaces_lists() {
        let mut app = json!({"metadata": {"name": "a", "finalizers": ["x"]},
                             "spec": {"syncPolicy": {"syncOptions": ["A"]}, "project": "p"}});
        strategic_merge(
            &mut app,
            &json!({"metadata": {"finalizers": ["y", "x"]},
                    "spec": {"syncPolicy": {"syncOptions": ["B"]}, "project": null}}),
            0,
        );
        assert_eq!(
            app,
            json!({"metadata": {"name": "a", "finalizers": ["x", "y"]},
                   "spec": {"syncPolicy": {"syncOptions": ["B"]}}})
        );
    }
}
