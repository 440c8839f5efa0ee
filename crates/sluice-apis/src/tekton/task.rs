//! Task (tektoncd/pipeline `task_types.go`, `task_defaults.go`, `task_validation.go`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object};

use super::param::{ParamSpec, validate_param_specs};
use super::result::TaskResult;
use super::step::{Sidecar, Step, StepTemplate, validate_sidecars, validate_steps};
use super::vars::{Checks, Scope, check_string};
use super::workspace::WorkspaceDeclaration;
use super::{ApiLevel, FeatureFlags, api_fields};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// `Task`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TaskSpec,
}

/// `TaskSpec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// `corev1.Volume`s, kept as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_template: Option<StepTemplate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceDeclaration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<TaskResult>,
}

impl TaskSpec {
    /// `TaskSpec.SetDefaults`: param and result types.
    pub fn set_defaults(&mut self) {
        for p in &mut self.params {
            p.set_defaults();
        }
        for r in &mut self.results {
            r.set_defaults();
        }
    }

    pub fn scope(&self) -> Scope {
        let mut s = Scope::new(&self.params);
        s.results = self.results.iter().map(|r| r.name.clone()).collect();
        s.workspaces = self.workspaces.iter().map(|w| w.name.clone()).collect();
        s
    }

    /// `TaskSpec.Validate` (plus, with `checks.declared_params`, the checks a Task created
    /// on its own gets). Paths relative to the spec.
    pub fn validate(&self, flags: &FeatureFlags, checks: Checks) -> FieldErrors {
        let mut errs = FieldErrors::new();
        if self.steps.is_empty() {
            errs.push(FieldError::missing("steps"));
        }
        // Volumes: unique names.
        let mut vols = BTreeSet::new();
        for (i, v) in self.volumes.iter().enumerate() {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("");
            if !vols.insert(name) {
                errs.push(
                    FieldError::new("name", format!("multiple volumes with same name {name:?}"))
                        .via_index(i)
                        .via_field("volumes"),
                );
            }
            // item paths and claim names, as the Pod's validation would refuse them
            errs.also(
                crate::corev1::volume::volume_source(v)
                    .via_index(i)
                    .via_field("volumes"),
            );
        }
        errs.also(self.validate_workspaces(flags));
        errs.also(
            validate_steps(&self.steps, self.step_template.as_ref(), flags).via_field("steps"),
        );
        errs.also(validate_sidecars(&self.sidecars).via_field("sidecars"));
        errs.also(validate_param_specs(&self.params, flags));
        for (i, r) in self.results.iter().enumerate() {
            errs.also(r.validate(flags).via_index(i).via_field("results"));
        }
        errs.also(self.validate_variables(flags, checks));
        errs
    }

    fn validate_workspaces(&self, flags: &FeatureFlags) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut mount_paths: BTreeSet<String> = self
            .steps
            .iter()
            .flat_map(|s| s.volume_mounts.iter())
            .chain(
                self.step_template
                    .iter()
                    .flat_map(|t| t.volume_mounts.iter()),
            )
            .map(|vm| clean_path(&vm.mount_path))
            .collect();
        let mut names = BTreeSet::new();
        for (i, w) in self.workspaces.iter().enumerate() {
            if !names.insert(w.name.as_str()) {
                errs.push(
                    FieldError::new(
                        "name",
                        format!("workspace name {:?} must be unique", w.name),
                    )
                    .via_index(i)
                    .via_field("workspaces"),
                );
            }
            let mp = clean_path(&w.mount_path());
            if !mount_paths.insert(mp.clone()) {
                errs.push(
                    FieldError::new(
                        "mountpath",
                        format!("workspace mount path {mp:?} must be unique"),
                    )
                    .via_index(i)
                    .via_field("workspaces"),
                );
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            if !s.workspaces.is_empty() {
                errs.also(
                    api_fields(flags, "step workspaces", ApiLevel::Beta)
                        .via_index(i)
                        .via_field("steps"),
                );
            }
            for (j, w) in s.workspaces.iter().enumerate() {
                if !names.contains(w.name.as_str()) {
                    errs.push(
                        FieldError::new("name", format!("undefined workspace {:?}", w.name))
                            .via_index(j)
                            .via_field("workspaces")
                            .via_index(i)
                            .via_field("steps"),
                    );
                }
            }
        }
        for (i, s) in self.sidecars.iter().enumerate() {
            if !s.workspaces.is_empty() {
                errs.also(
                    api_fields(flags, "sidecar workspaces", ApiLevel::Beta)
                        .via_index(i)
                        .via_field("sidecars"),
                );
            }
            for (j, w) in s.workspaces.iter().enumerate() {
                if !names.contains(w.name.as_str()) {
                    errs.push(
                        FieldError::new("name", format!("undefined workspace {:?}", w.name))
                            .via_index(j)
                            .via_field("workspaces")
                            .via_index(i)
                            .via_field("sidecars"),
                    );
                }
            }
        }
        errs
    }

    fn validate_variables(&self, flags: &FeatureFlags, checks: Checks) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let scope = self.scope();
        let mut indexing = false;
        for (i, step) in self.steps.iter().enumerate() {
            let base = FieldPath::root().field("steps").index(i);
            for (rel, s, in_list) in step.strings() {
                let mut path = base.clone();
                path.0.extend(FieldPath::parse(&rel).0);
                errs.also(check_string(
                    &path,
                    s,
                    in_list,
                    rel == "script",
                    &scope,
                    checks,
                ));
                indexing |= uses_array_index(s, &scope);
            }
        }
        if indexing {
            errs.also(api_fields(
                flags,
                "indexing into array parameters",
                ApiLevel::Beta,
            ));
        }
        errs
    }
}

fn uses_array_index(s: &str, scope: &Scope) -> bool {
    use sluice_expr::tekton::{Access, Var};
    sluice_expr::tekton::references(s).iter().any(|r| {
        matches!(r.var(), Var::Param { name, access: Access::Index(_) } if scope.arrays.contains(name.as_ref()))
    })
}

/// `filepath.Clean`, enough for mount path comparisons.
pub fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Decodes a Task of either version as v1 (`Err` on a type error).
pub fn task_from_object(obj: &Object) -> Result<(Task, FieldErrors), FieldErrors> {
    super::decode_versioned(obj, "Task")
}

/// Checks a Task's volumes against the Secrets and ConfigMaps among the inputs: an `items`
/// key the object does not have makes the kubelet fail the mount, so the Pod never starts.
pub fn validate_volume_sources(
    volumes: &[Value],
    namespace: Option<&str>,
    ctx: &Context<'_>,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, v) in volumes.iter().enumerate() {
        for (field, kind, name_key) in [
            ("secret", "Secret", "secretName"),
            ("configMap", "ConfigMap", "name"),
        ] {
            let Some(src) = v.get(field) else { continue };
            let name = src.get(name_key).and_then(Value::as_str).unwrap_or("");
            if name.is_empty()
                || name.contains("$(")
                || src.get("optional") == Some(&Value::Bool(true))
            {
                continue;
            }
            let Some(target) = ctx.set.find("", kind, namespace, name) else {
                continue;
            };
            let mut keys: BTreeSet<&str> = BTreeSet::new();
            for d in ["data", "stringData", "binaryData"] {
                if let Some(m) = target.value().get(d).and_then(Value::as_object) {
                    keys.extend(m.keys().map(String::as_str));
                }
            }
            let type_note = target
                .value()
                .get("type")
                .and_then(Value::as_str)
                .map(|t| format!(", a {t} Secret"))
                .unwrap_or_default();
            for (j, item) in src
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(key) = item.get("key").and_then(Value::as_str) else {
                    continue;
                };
                if !keys.contains(key) {
                    let have: Vec<&str> = keys.iter().copied().collect();
                    errs.push(
                        FieldError::warning(
                            "key",
                            format!(
                                "key {key:?} not found in {kind} {name:?}{type_note} (keys: {}): the Pod would fail to start",
                                have.join(", ")
                            ),
                        )
                        .via_index(j)
                        .via_field("items")
                        .via_field(field)
                        .via_index(i)
                        .via_field("volumes"),
                    );
                }
            }
        }
    }
    errs
}

/// Step `ref`s to StepActions among the inputs (warning when absent).
pub fn validate_step_refs(
    steps: &[Step],
    namespace: Option<&str>,
    ctx: &Context<'_>,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, s) in steps.iter().enumerate() {
        let Some(r) = &s.ref_ else { continue };
        if !r.resolver.is_empty() || r.name.is_empty() || r.name.contains("$(") {
            continue;
        }
        match ctx.set.find(super::GROUP, "StepAction", namespace, &r.name) {
            None => errs.push(
                FieldError::warning(
                    "ref.name",
                    format!("StepAction {:?} not found among the inputs", r.name),
                )
                .via_index(i),
            ),
            Some(sa) => {
                if let Ok((sa, _)) = super::stepaction::stepaction_from_object(sa) {
                    errs.also(super::stepaction::check_step_params(s, &sa.spec).via_index(i));
                }
            }
        }
    }
    errs
}

/// Validates a Task object. Paths from the object root.
pub fn validate_object(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (mut task, mut errs) = match task_from_object(obj) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let flags = ctx.tekton_flags();
    task.spec.set_defaults();
    errs.also(validate_meta(
        &task.metadata,
        NameRule::Dns1123SubdomainMax63,
    ));
    let checks = Checks {
        declared_params: true,
        declared_workspaces: true,
    };
    errs.also(task.spec.validate(flags, checks).via_field("spec"));
    let ns = obj.namespace();
    errs.also(validate_volume_sources(&task.spec.volumes, ns, ctx).via_field("spec"));
    errs.also(
        validate_step_refs(&task.spec.steps, ns, ctx)
            .via_field("steps")
            .via_field("spec"),
    );
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean() {
        assert_eq!(clean_path("/workspace/a/"), "/workspace/a");
        assert_eq!(clean_path("/a/./b/../c"), "/a/c");
    }
}
