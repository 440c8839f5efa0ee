//! Pipeline (tektoncd/pipeline `pipeline_types.go`, `pipeline_defaults.go`,
//! `pipeline_validation.go`; graph rules from `pkg/reconciler/pipeline/dag/dag.go`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, Object, names};
use sluice_expr::tekton::{Access, Var, references, whole_reference};

use super::matrix::Matrix;
use super::param::{
    Param, ParamSpec, ParamType, ParamValue, validate_param_specs, validate_params_unique,
};
use super::refs::{PipelineRef, TaskRef};
use super::result::{PipelineResult, TaskResult};
use super::step::{Sidecar, Step, StepTemplate, parse_duration};
use super::task::TaskSpec;
use super::vars::Checks;
use super::when::{WhenExpression, validate_when};
use super::workspace::{
    PipelineWorkspaceDeclaration, WorkspaceDeclaration, WorkspacePipelineTaskBinding,
};
use super::{ApiLevel, FeatureFlags, api_fields};
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

/// `Pipeline`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PipelineSpec,
}

/// `PipelineSpec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<PipelineTask>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<PipelineWorkspaceDeclaration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<PipelineResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<PipelineTask>,
}

/// `PipelineTaskMetadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTaskMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `EmbeddedTask`: a TaskSpec inline (its fields at this level), or a custom task's spec.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedTask {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PipelineTaskMetadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
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

impl EmbeddedTask {
    /// The inline TaskSpec.
    pub fn task_spec(&self) -> TaskSpec {
        TaskSpec {
            params: self.params.clone(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            steps: self.steps.clone(),
            volumes: self.volumes.clone(),
            step_template: self.step_template.clone(),
            sidecars: self.sidecars.clone(),
            workspaces: self.workspaces.clone(),
            results: self.results.clone(),
        }
    }

    /// A custom task spec (apiVersion/kind outside tekton.dev).
    pub fn is_custom(&self) -> bool {
        !self.api_version.is_empty() || !self.kind.is_empty() || self.spec.is_some()
    }

    pub fn set_defaults(&mut self) {
        for p in &mut self.params {
            p.set_defaults();
        }
        for r in &mut self.results {
            r.set_defaults();
        }
    }
}

/// `PipelineTask`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTask {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ref: Option<TaskRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_spec: Option<EmbeddedTask>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<WhenExpression>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_after: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspacePipelineTaskBinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_ref: Option<PipelineRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_spec: Option<Box<PipelineSpec>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_error: String,
}

impl PipelineTask {
    /// Strings where variables are resolved by the Pipeline: param values, matrix params,
    /// when expressions. Paths relative to the pipeline task; the bool marks array elements.
    pub fn strings(&self) -> Vec<(FieldPath, &str, bool)> {
        let mut out = Vec::new();
        let root = FieldPath::root();
        push_params_into(root.clone().field("params"), &self.params, &mut out);
        if let Some(m) = &self.matrix {
            push_params_into(
                root.clone().field("matrix").field("params"),
                &m.params,
                &mut out,
            );
            for (i, inc) in m.include.iter().enumerate() {
                push_params_into(
                    root.clone()
                        .field("matrix")
                        .field("include")
                        .index(i)
                        .field("params"),
                    &inc.params,
                    &mut out,
                );
            }
        }
        for (i, w) in self.when.iter().enumerate() {
            for (rel, s) in w.strings() {
                let mut p = root.clone().field("when").index(i);
                p.0.extend(FieldPath::parse(&rel).0);
                out.push((p, s, false));
            }
        }
        out
    }

    /// `$(tasks.X.results.Y)` references in [`Self::strings`]: (task, result, path).
    pub fn result_refs(&self) -> Vec<(String, String, FieldPath)> {
        let mut out = Vec::new();
        for (path, s, _) in self.strings() {
            for r in references(s) {
                if let Var::TaskResult { task, result, .. } = r.var() {
                    out.push((task.to_owned(), result.to_owned(), path.clone()));
                }
            }
        }
        out
    }

    /// Names this task depends on: `runAfter` and result references.
    pub fn deps(&self) -> Vec<String> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut d: Vec<String> = Vec::new();
        let refs = self.result_refs().into_iter().map(|(t, _, _)| t);
        for t in self.run_after.iter().cloned().chain(refs) {
            if seen.insert(t.clone()) {
                d.push(t);
            }
        }
        d
    }

    pub fn set_defaults(&mut self) {
        if let Some(ts) = &mut self.task_spec {
            ts.set_defaults();
        }
        if let Some(r) = &mut self.task_ref
            && r.kind.is_empty()
            && r.resolver.is_empty()
            && !r.is_custom()
        {
            r.kind = "Task".to_owned();
        }
        if let Some(ps) = &mut self.pipeline_spec {
            ps.set_defaults();
        }
    }
}

impl PipelineSpec {
    /// `PipelineSpec.SetDefaults`: param and result types, task specs.
    pub fn set_defaults(&mut self) {
        for p in &mut self.params {
            p.set_defaults();
        }
        for r in &mut self.results {
            r.set_defaults();
        }
        for t in self.tasks.iter_mut().chain(self.finally.iter_mut()) {
            t.set_defaults();
        }
    }

    /// `PipelineSpec.Validate` plus, with `ctx`, the cross-object checks against Tasks
    /// among the inputs. Paths relative to the spec.
    pub fn validate(
        &self,
        flags: &FeatureFlags,
        ctx: Option<(&Context<'_>, Option<&str>)>,
    ) -> FieldErrors {
        self.validate_with(flags, ctx, &[])
    }

    /// [`Self::validate`] for a spec embedded in a PipelineRun, whose workspace bindings
    /// `propagated` are visible to the pipeline tasks without a declaration.
    pub fn validate_with(
        &self,
        flags: &FeatureFlags,
        ctx: Option<(&Context<'_>, Option<&str>)>,
        propagated: &[String],
    ) -> FieldErrors {
        let mut errs = FieldErrors::new();
        if self.tasks.is_empty()
            && self.finally.is_empty()
            && self.params.is_empty()
            && self.workspaces.is_empty()
            && self.results.is_empty()
            && self.description.is_none()
        {
            errs.push(FieldError::new("", "expected at least one, got none"));
            return errs;
        }
        if self.tasks.is_empty() && !self.finally.is_empty() {
            errs.push(FieldError::invalid(
                "tasks",
                format!(
                    "spec.tasks is empty but spec.finally has {} tasks",
                    self.finally.len()
                ),
            ));
        }
        errs.also(validate_param_specs(&self.params, flags));
        // Names: valid and unique across tasks and finally.
        let mut seen = BTreeSet::new();
        for (field, list) in [("tasks", &self.tasks), ("finally", &self.finally)] {
            for (i, pt) in list.iter().enumerate() {
                let mut e = FieldErrors::new();
                if pt.name.is_empty() {
                    e.push(FieldError::missing("name"));
                } else if !names::dns1123_label(&pt.name).is_empty() {
                    e.push(FieldError::invalid(
                        "name",
                        format!("{:?}: Pipeline Task name must be a valid DNS Label.For more info refer to https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names", pt.name),
                    ));
                }
                if !pt.name.is_empty() && !seen.insert(pt.name.as_str()) {
                    e.push(FieldError::new("name", "expected exactly one, got both"));
                }
                e.also(self.validate_task(pt, field == "finally", flags));
                errs.also(e.via_index(i).via_field(field));
            }
        }
        errs.also(self.validate_graph());
        errs.also(self.validate_references());
        errs.also(self.validate_workspaces(propagated));
        errs.also(self.validate_results());
        if let Some((ctx, ns)) = ctx {
            errs.also(self.validate_against_tasks(ctx, ns));
        }
        errs
    }

    fn validate_task(
        &self,
        pt: &PipelineTask,
        is_finally: bool,
        flags: &FeatureFlags,
    ) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let kinds = [
            pt.task_ref.is_some(),
            pt.task_spec.is_some(),
            pt.pipeline_ref.is_some(),
            pt.pipeline_spec.is_some(),
        ];
        match kinds.iter().filter(|b| **b).count() {
            0 => errs.push(FieldError::missing_one_of(
                "",
                &["taskRef", "taskSpec", "pipelineRef", "pipelineSpec"],
            )),
            1 => {}
            _ => errs.push(FieldError::multiple_one_of(
                "",
                &["taskRef", "taskSpec", "pipelineRef", "pipelineSpec"],
            )),
        }
        if pt.pipeline_ref.is_some() || pt.pipeline_spec.is_some() {
            errs.also(api_fields(
                flags,
                "pipelineRef/pipelineSpec in pipeline tasks",
                ApiLevel::Alpha,
            ));
        }
        if let Some(r) = &pt.task_ref {
            errs.also(r.validate(flags).via_field("taskRef"));
            if !r.resolver.is_empty() && r.resolver != "cluster" {
                // remote resolution is beta/stable; nothing more to check here.
            }
        }
        if let Some(r) = &pt.pipeline_ref {
            errs.also(r.validate(flags).via_field("pipelineRef"));
        }
        if let Some(ts) = &pt.task_spec
            && !ts.is_custom()
        {
            let checks = Checks {
                declared_params: false,
                declared_workspaces: false,
            };
            errs.also(ts.task_spec().validate(flags, checks).via_field("taskSpec"));
        }
        if let Some(ps) = &pt.pipeline_spec {
            errs.also(ps.validate(flags, None).via_field("pipelineSpec"));
        }
        errs.also(validate_params_unique(&pt.params).via_field("params"));
        errs.also(validate_when(&pt.when, flags).via_field("when"));
        if let Some(m) = &pt.matrix {
            errs.also(api_fields(flags, "matrix", ApiLevel::Beta));
            errs.also(m.validate(&pt.params, flags.default_max_matrix_combinations_count));
        }
        if let Some(t) = &pt.timeout {
            match parse_duration(t) {
                None => errs.push(FieldError::invalid("timeout", t)),
                Some(d) if d < 0.0 => errs.push(FieldError::invalid(
                    "timeout",
                    format!("{t} should be >= 0"),
                )),
                _ => {}
            }
        }
        if let Some(r) = pt.retries
            && r < 0
        {
            errs.push(FieldError::invalid(
                "retries",
                format!("{r} should be >= 0"),
            ));
        }
        if !pt.on_error.is_empty() {
            errs.also(api_fields(flags, "PipelineTask OnError", ApiLevel::Beta));
            if pt.on_error != "continue" && pt.on_error != "stopAndFail" {
                errs.push(FieldError::invalid(
                    "onError",
                    format!(
                        "{:?}: PipelineTask OnError must be either \"continue\" or \"stopAndFail\"",
                        pt.on_error
                    ),
                ));
            }
            if pt.on_error == "continue" && pt.retries.unwrap_or(0) > 0 {
                errs.push(FieldError::new("", "PipelineTask OnError cannot be set to \"continue\" when Retries is greater than 0"));
            }
        }
        if is_finally && !pt.run_after.is_empty() {
            errs.push(FieldError::invalid(
                "runAfter",
                format!(
                    "no runAfter allowed under spec.finally, final task {} has runAfter specified",
                    pt.name
                ),
            ));
        }
        // Params of the Pipeline used in the task's params, matrix and when expressions.
        errs.also(self.validate_param_usage(pt));
        errs
    }

    fn validate_param_usage(&self, pt: &PipelineTask) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let declared: BTreeMap<&str, ParamType> = self
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.effective_type()))
            .collect();
        let objects: BTreeMap<&str, BTreeSet<&str>> = self
            .params
            .iter()
            .filter(|p| p.effective_type().as_str() == ParamType::OBJECT)
            .map(|p| {
                (
                    p.name.as_str(),
                    p.properties
                        .iter()
                        .flat_map(|m| m.keys().map(String::as_str))
                        .collect(),
                )
            })
            .collect();
        for (path, s, array_elem) in pt.strings() {
            let mut unknown = false;
            let mut misuse = false;
            for r in references(s) {
                let Var::Param { name, access } = r.var() else {
                    continue;
                };
                let Some(t) = declared.get(name.as_ref()) else {
                    unknown = true;
                    continue;
                };
                match (t.as_str(), &access) {
                    (ParamType::ARRAY | ParamType::OBJECT, Access::Whole | Access::Star) => {
                        let isolated = whole_reference(s).is_some();
                        let in_when_values = path.to_string().contains("when[");
                        if !isolated && !in_when_values {
                            misuse = true;
                        }
                        let _ = array_elem;
                    }
                    (ParamType::OBJECT, Access::Key(k))
                        if !objects.get(name.as_ref()).is_some_and(|ks| ks.contains(k)) =>
                    {
                        unknown = true;
                    }
                    _ => {}
                }
            }
            if unknown {
                errs.push(FieldError {
                    severity: sluice_core::Severity::Error,
                    path: path.clone(),
                    message: format!("non-existent variable in {s:?}"),
                });
            }
            if misuse {
                errs.push(FieldError {
                    severity: sluice_core::Severity::Error,
                    path: path.clone(),
                    message: format!("variable type invalid in {s:?}"),
                });
            }
        }
        errs
    }

    /// `ValidatePipelineGraph`: runAfter targets exist, no cycles (dag.go messages).
    fn validate_graph(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let names: BTreeSet<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
        let finally_names: BTreeSet<&str> = self.finally.iter().map(|t| t.name.as_str()).collect();
        let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, pt) in self.tasks.iter().enumerate() {
            for (j, ra) in pt.run_after.iter().enumerate() {
                if !names.contains(ra.as_str()) {
                    errs.push(FieldError::invalid(
                        format!("tasks[{i}].runAfter[{j}]").as_str(),
                        format!("couldn't add link between {} and {ra}: task {} depends on {ra} but {ra} wasn't present in Pipeline", pt.name, pt.name),
                    ));
                }
                if *ra == pt.name {
                    errs.push(FieldError::invalid(
                        format!("tasks[{i}].runAfter[{j}]").as_str(),
                        format!(
                            "cycle detected; task {:?} depends on {:?}",
                            pt.name, pt.name
                        ),
                    ));
                }
            }
            for (t, _, path) in pt.result_refs() {
                if !names.contains(t.as_str()) {
                    let msg = if finally_names.contains(t.as_str()) {
                        format!(
                            "invalid task result reference, pipeline task {} has a result reference to a finally task {t}",
                            pt.name
                        )
                    } else {
                        format!(
                            "couldn't add link between {} and {t}: task {} depends on {t} but {t} wasn't present in Pipeline",
                            pt.name, pt.name
                        )
                    };
                    let mut p = FieldPath::root().field("tasks").index(i);
                    p.0.extend(path.0);
                    errs.push(FieldError::invalid(p, msg));
                }
            }
            deps.insert(
                pt.name.clone(),
                pt.deps()
                    .into_iter()
                    .filter(|d| names.contains(d.as_str()) && *d != pt.name)
                    .collect(),
            );
        }
        if let Some(msg) = find_cycle(&deps) {
            errs.push(FieldError::invalid(
                "tasks",
                format!("cycle detected; {msg}"),
            ));
        }
        errs
    }

    /// Execution-status variables only in finally; finally result references name tasks.
    fn validate_references(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let names: BTreeSet<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
        let finally_names: BTreeSet<&str> = self.finally.iter().map(|t| t.name.as_str()).collect();
        for (i, pt) in self.tasks.iter().enumerate() {
            for (path, s, _) in pt.strings() {
                if references(s).iter().any(|r| {
                    matches!(
                        r.var(),
                        Var::TasksStatus | Var::TaskStatus { .. } | Var::TaskReason { .. }
                    )
                }) {
                    let mut p = FieldPath::root().field("tasks").index(i);
                    p.0.extend(path.0);
                    errs.push(FieldError::invalid(p, "pipeline tasks can not refer to execution status of any other pipeline task or aggregate status of tasks"));
                }
            }
        }
        for (i, pt) in self.finally.iter().enumerate() {
            let base = FieldPath::root().field("finally").index(i);
            let mut strings: Vec<(FieldPath, &str)> =
                pt.strings().into_iter().map(|(p, s, _)| (p, s)).collect();
            let ts;
            if let Some(t) = &pt.task_spec {
                ts = t.steps.clone();
                for (k, st) in ts.iter().enumerate() {
                    for (rel, s, _) in st.strings() {
                        let mut p = FieldPath::root().field("taskSpec").field("steps").index(k);
                        p.0.extend(FieldPath::parse(&rel).0);
                        strings.push((p, s));
                    }
                }
            }
            for (path, s) in strings {
                for r in references(s) {
                    let mut p = base.clone();
                    p.0.extend(path.0.clone());
                    match r.var() {
                        Var::TaskStatus { task } | Var::TaskReason { task }
                            if !names.contains(task) =>
                        {
                            errs.push(FieldError::invalid(
                                p,
                                format!("pipeline task {task} is not defined in the pipeline"),
                            ));
                        }
                        Var::TaskResult { task, .. } if finally_names.contains(task) => {
                            errs.push(FieldError::invalid(p, format!("invalid task result reference, final task has task result reference from a final task {task}")));
                        }
                        Var::TaskResult { task, .. } if !names.contains(task) => {
                            errs.push(FieldError::invalid(p, format!("invalid task result reference, final task has task result reference from a task {task} which is not defined in the pipeline")));
                        }
                        _ => {}
                    }
                }
            }
        }
        errs
    }

    /// Pipeline workspaces unique; pipeline task bindings name Pipeline workspaces.
    fn validate_workspaces(&self, propagated: &[String]) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut ws = BTreeSet::new();
        for (i, w) in self.workspaces.iter().enumerate() {
            if !ws.insert(w.name.as_str()) {
                errs.push(FieldError::new(
                    format!("workspaces[{i}].name").as_str(),
                    format!("workspace with name {:?} appears more than once", w.name),
                ));
            }
        }
        for (field, list) in [("tasks", &self.tasks), ("finally", &self.finally)] {
            for (i, pt) in list.iter().enumerate() {
                for (j, b) in pt.workspaces.iter().enumerate() {
                    // the Pod's volumeMount subPath joins the run's and this one
                    // (kubernetes validateLocalDescendingPath)
                    errs.also(
                        crate::corev1::volume::local_descending_path("subPath", &b.sub_path)
                            .via_index(j)
                            .via_field("workspaces")
                            .via_index(i)
                            .via_field(field),
                    );
                    let target = if b.workspace.is_empty() {
                        &b.name
                    } else {
                        &b.workspace
                    };
                    if !ws.contains(target.as_str()) && !propagated.contains(target) {
                        errs.push(FieldError::invalid(
                            format!("{field}[{i}].workspaces[{j}]").as_str(),
                            format!("pipeline task {:?} expects workspace with name {target:?} but none exists in pipeline spec", pt.name),
                        ));
                    }
                }
            }
        }
        errs
    }

    /// `validatePipelineResults`: values are task result expressions of existing tasks.
    fn validate_results(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let tasks: BTreeSet<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
        let finally: BTreeSet<&str> = self.finally.iter().map(|t| t.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        for (i, r) in self.results.iter().enumerate() {
            if !seen.insert(r.name.as_str()) {
                errs.push(FieldError::invalid(
                    format!("results[{i}].name").as_str(),
                    &r.name,
                ));
            }
            for s in r.value.strings() {
                let refs = references(s);
                let mut any = false;
                for rf in &refs {
                    let expr = rf.expr;
                    if let Var::TaskResult { task, .. } = rf.var() {
                        any = true;
                        if !tasks.contains(task) {
                            errs.push(FieldError::invalid(format!("results[{i}].value").as_str(), format!("referencing a nonexistent task {task:?} in pipeline result {:?}", r.name)));
                        }
                    } else if let Some(rest) = expr.strip_prefix("finally.") {
                        any = true;
                        let t = rest.split('.').next().unwrap_or("");
                        if !finally.contains(t) {
                            errs.push(FieldError::invalid(format!("results[{i}].value").as_str(), format!("referencing a nonexistent finally task {t:?} in pipeline result {:?}", r.name)));
                        }
                    }
                }
                if !any {
                    errs.push(FieldError::invalid(format!("results[{i}].value").as_str(), "expected pipeline results to be task result expressions but no expressions were found"));
                }
            }
        }
        errs
    }

    /// Checks against the Tasks the pipeline tasks use (embedded, or among the inputs).
    fn validate_against_tasks(&self, ctx: &Context<'_>, ns: Option<&str>) -> FieldErrors {
        let mut errs = FieldErrors::new();
        // name -> resolved TaskSpec (when known).
        let mut specs: BTreeMap<&str, (TaskSpec, String)> = BTreeMap::new();
        for (field, list) in [("tasks", &self.tasks), ("finally", &self.finally)] {
            for (i, pt) in list.iter().enumerate() {
                let mut e = FieldErrors::new();
                let resolved: Option<(TaskSpec, String)> = if let Some(r) = &pt.task_ref {
                    if r.is_local() {
                        match ctx.set.find(super::GROUP, "Task", ns, &r.name) {
                            None => {
                                e.push(FieldError::warning(
                                    "taskRef.name",
                                    format!("Task {:?} not found among the inputs", r.name),
                                ));
                                None
                            }
                            Some(o) => super::task::task_from_object(o).ok().map(|(mut t, _)| {
                                t.spec.set_defaults();
                                (t.spec, format!("Task {:?}", r.name))
                            }),
                        }
                    } else {
                        None
                    }
                } else if let Some(ts) = pt.task_spec.as_ref().filter(|t| !t.is_custom()) {
                    let mut s = ts.task_spec();
                    s.set_defaults();
                    Some((s, "taskSpec".to_owned()))
                } else {
                    None
                };
                if let Some((spec, what)) = resolved {
                    e.also(check_task_params(pt, &spec, &what));
                    e.also(check_task_workspaces(pt, &spec, &what));
                    specs.insert(pt.name.as_str(), (spec, what));
                }
                errs.also(e.via_index(i).via_field(field));
            }
        }
        // Result references name declared results.
        for (field, list) in [("tasks", &self.tasks), ("finally", &self.finally)] {
            for (i, pt) in list.iter().enumerate() {
                for (t, r, path) in pt.result_refs() {
                    if let Some((spec, what)) = specs.get(t.as_str())
                        && !spec.results.iter().any(|x| x.name == r)
                    {
                        let mut p = FieldPath::root().field(field).index(i);
                        p.0.extend(path.0);
                        errs.push(FieldError::invalid(
                            p,
                            format!("result {r:?} is not declared by pipeline task {t:?} ({what})"),
                        ));
                    }
                }
            }
        }
        for (i, res) in self.results.iter().enumerate() {
            for s in res.value.strings() {
                for rf in references(s) {
                    if let Var::TaskResult { task, result, .. } = rf.var()
                        && let Some((spec, what)) = specs.get(task)
                        && !spec.results.iter().any(|x| x.name == result)
                    {
                        errs.push(FieldError::invalid(format!("results[{i}].value").as_str(), format!("result {result:?} is not declared by pipeline task {task:?} ({what})")));
                    }
                }
            }
        }
        errs
    }
}

fn push_params_into<'a>(
    base: FieldPath,
    params: &'a [Param],
    out: &mut Vec<(FieldPath, &'a str, bool)>,
) {
    for (j, p) in params.iter().enumerate() {
        let vp = base.clone().index(j).field("value");
        match &p.value {
            ParamValue::String(s) => out.push((vp, s.as_str(), false)),
            ParamValue::Array(a) => {
                for (k, s) in a.iter().enumerate() {
                    out.push((vp.clone().index(k), s.as_str(), true));
                }
            }
            ParamValue::Object(o) => {
                for (k, s) in o {
                    let mut p = vp.clone();
                    p.0.push(sluice_core::PathSeg::Key(k.clone()));
                    out.push((p, s.as_str(), false));
                }
            }
        }
    }
}

/// Whether a provided value may stand for an array or object (a whole reference).
fn is_whole_ref(s: &str) -> bool {
    whole_reference(s).is_some_and(|e| {
        matches!(
            sluice_expr::tekton::parse_var(e),
            Var::Param {
                access: Access::Whole | Access::Star,
                ..
            } | Var::TaskResult {
                access: Access::Whole | Access::Star,
                ..
            }
        )
    })
}

/// A pipeline task's params against its Task's declarations: required ones provided,
/// types matching; extra ones are ignored by Tekton (warning).
pub fn check_task_params(pt: &PipelineTask, spec: &TaskSpec, what: &str) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut provided: BTreeSet<&str> = pt.params.iter().map(|p| p.name.as_str()).collect();
    if let Some(m) = &pt.matrix {
        provided.extend(m.params.iter().map(|p| p.name.as_str()));
        provided.extend(
            m.include
                .iter()
                .flat_map(|i| i.params.iter().map(|p| p.name.as_str())),
        );
    }
    let missing: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.default.is_none() && !provided.contains(p.name.as_str()))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        errs.push(FieldError::new(
            "params",
            format!(
                "missing parameters: [{}] ({what} declares them without a default)",
                missing.join(" ")
            ),
        ));
    }
    for (j, p) in pt.params.iter().enumerate() {
        let Some(decl) = spec.params.iter().find(|d| d.name == p.name) else {
            // embedded specs receive undeclared params by propagation
            if pt.task_spec.is_some() {
                continue;
            }
            errs.push(FieldError::warning(
                format!("params[{j}].name").as_str(),
                format!(
                    "param {:?} is not declared by {what}; Tekton ignores it",
                    p.name
                ),
            ));
            continue;
        };
        let want = decl.effective_type();
        let ok = match (&p.value, want.as_str()) {
            (ParamValue::String(_), ParamType::STRING) => true,
            (ParamValue::String(s), _) => is_whole_ref(s),
            (v, w) => v.type_().as_str() == w,
        };
        if !ok {
            errs.push(FieldError::new(
                format!("params[{j}].value").as_str(),
                format!("param types don't match the user-specified type: [{}] ({what} declares it {:?}, got {:?})", p.name, want.0, p.value.type_().0),
            ));
        }
    }
    errs
}

/// A pipeline task's workspace bindings against its Task's declarations.
pub fn check_task_workspaces(pt: &PipelineTask, spec: &TaskSpec, what: &str) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for w in &spec.workspaces {
        if !w.is_optional() && !pt.workspaces.iter().any(|b| b.name == w.name) {
            errs.push(FieldError::new(
                "workspaces",
                format!(
                    "workspace {:?} is required by {what} but not bound by pipeline task {:?}",
                    w.name, pt.name
                ),
            ));
        }
    }
    for (j, b) in pt.workspaces.iter().enumerate() {
        if !spec.workspaces.iter().any(|w| w.name == b.name) {
            errs.push(FieldError::new(
                format!("workspaces[{j}].name").as_str(),
                format!("{what} has no workspace named {:?}", b.name),
            ));
        }
    }
    errs
}

/// Kahn's algorithm as dag.go `findCyclesInDependencies`: after removing every task whose
/// dependencies can all be satisfied, the remaining task with the smallest name and its
/// remaining dependencies, sorted (`getInterdependencyError`). Dependencies that are not keys
/// of `deps` count as satisfied (dag.go treats them as independent tasks; the missing link is
/// reported separately). Runs in O((n + e) log n) for n tasks and e dependencies.
pub fn find_cycle(deps: &BTreeMap<String, Vec<String>>) -> Option<String> {
    // Index tasks in name order, so that the first remaining index is the smallest name.
    let index: BTreeMap<&str, usize> = deps
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let names: Vec<&str> = deps.keys().map(String::as_str).collect();
    // Distinct known dependencies per task, and the reverse edges.
    let mut prev: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); names.len()];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (i, d) in deps.values().enumerate() {
        for dep in d {
            if let Some(&j) = index.get(dep.as_str())
                && prev[i].insert(j)
            {
                next[j].push(i);
            }
        }
    }
    let mut pending: Vec<usize> = prev.iter().map(BTreeSet::len).collect();
    let mut ready: Vec<usize> = (0..names.len()).filter(|&i| pending[i] == 0).collect();
    while let Some(j) = ready.pop() {
        for &i in &next[j] {
            pending[i] -= 1;
            if pending[i] == 0 {
                ready.push(i);
            }
        }
    }
    let first = (0..names.len()).find(|&i| pending[i] > 0)?;
    // A dependency is satisfied when it reached zero pending dependencies itself.
    let list: Vec<String> = prev[first]
        .iter()
        .filter(|&&j| pending[j] > 0)
        .map(|&j| format!("{:?}", names[j]))
        .collect();
    Some(format!(
        "task {:?} depends on {}",
        names[first],
        list.join(", ")
    ))
}

/// Decodes a Pipeline of either version as v1.
pub fn pipeline_from_object(obj: &Object) -> Result<(Pipeline, FieldErrors), FieldErrors> {
    super::decode_versioned(obj, "Pipeline")
}

/// Validates a Pipeline object.
pub fn validate_object(obj: &Object, ctx: &Context<'_>) -> FieldErrors {
    let (mut p, mut errs) = match pipeline_from_object(obj) {
        Ok(t) => t,
        Err(e) => return e,
    };
    p.spec.set_defaults();
    errs.also(validate_meta(&p.metadata, NameRule::Dns1123SubdomainMax63));
    errs.also(
        p.spec
            .validate(ctx.tekton_flags(), Some((ctx, obj.namespace())))
            .via_field("spec"),
    );
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    // dag.go getInterdependencyError: `task "a" depends on "b"`.
    #[test]
    fn cycles() {
        let deps = BTreeMap::from([
            ("a".to_owned(), vec!["b".to_owned()]),
            ("b".to_owned(), vec!["a".to_owned()]),
            ("c".to_owned(), vec![]),
        ]);
        assert_eq!(
            find_cycle(&deps).as_deref(),
            Some("task \"a\" depends on \"b\"")
        );
        let ok = BTreeMap::from([
            ("a".to_owned(), vec!["c".to_owned()]),
            ("c".to_owned(), vec![]),
        ]);
        assert_eq!(find_cycle(&ok), None);
    }

    /// The algorithm as dag.go states it, without care for cost: remove the tasks whose
    /// dependencies are all removed until nothing changes; report the smallest remaining
    /// task with its remaining dependencies.
    fn reference_find_cycle(deps: &BTreeMap<String, Vec<String>>) -> Option<String> {
        let mut remaining: BTreeMap<&str, BTreeSet<&str>> = deps
            .iter()
            .map(|(k, d)| {
                let known = d
                    .iter()
                    .map(String::as_str)
                    .filter(|x| deps.contains_key(*x));
                (k.as_str(), known.collect())
            })
            .collect();
        loop {
            let free: Vec<&str> = remaining
                .iter()
                .filter(|(_, d)| d.iter().all(|x| !remaining.contains_key(x)))
                .map(|(k, _)| *k)
                .collect();
            if free.is_empty() {
                break;
            }
            for k in free {
                remaining.remove(k);
            }
        }
        let (first, d) = remaining.iter().next()?;
        let list: Vec<String> = d
            .iter()
            .filter(|x| remaining.contains_key(*x))
            .map(|x| format!("{x:?}"))
            .collect();
        Some(format!("task {first:?} depends on {}", list.join(", ")))
    }

    fn graph(edges: &[(u8, Vec<u8>)]) -> BTreeMap<String, Vec<String>> {
        let name = |i: &u8| format!("t{i}");
        edges
            .iter()
            .map(|(k, d)| (name(k), d.iter().map(name).collect()))
            .collect()
    }

    proptest::proptest! {
        // Small graphs of every shape (self edges, unknown tasks, repeated edges, several
        // cycles): the linear algorithm reports what the naive one reports.
        #[test]
        fn find_cycle_matches_the_reference(
            edges in proptest::collection::vec(
                (0u8..8, proptest::collection::vec(0u8..10, 0..4)),
                0..10,
            )
        ) {
            let deps = graph(&edges);
            proptest::prop_assert_eq!(find_cycle(&deps), reference_find_cycle(&deps));
        }
    }

    fn timed_validate(spec: &PipelineSpec) -> (FieldErrors, std::time::Duration) {
        let flags = FeatureFlags::default();
        let t = std::time::Instant::now();
        let errs = spec.validate(&flags, None);
        (errs, t.elapsed())
    }

    fn task(name: String, run_after: Vec<String>, param: Option<String>) -> PipelineTask {
        let mut v = serde_json::json!({
            "name": name,
            "runAfter": run_after,
            "taskSpec": {"results": [{"name": "r"}], "steps": [{"image": "x", "script": "true"}]},
        });
        if let Some(p) = param {
            v["params"] = serde_json::json!([{"name": "p", "value": p}]);
            v["when"] = serde_json::json!([{"input": "$(tasks.root.results.r)", "operator": "in", "values": ["1"]}]);
        }
        serde_json::from_value(v).unwrap()
    }

    // Issue 18 item 6: validation of large graphs is linear (a 2,000-task chain used to take
    // 101 s). The bound is generous for debug builds on a loaded machine; the times
    // measured are printed (`--nocapture`).
    #[test]
    fn large_graphs_validate_quickly() {
        let n = 10_000;
        let mut spec = PipelineSpec {
            tasks: (0..n)
                .map(|i| {
                    let after = if i == 0 {
                        vec![]
                    } else {
                        vec![format!("t{}", i - 1)]
                    };
                    task(format!("t{i}"), after, None)
                })
                .collect(),
            ..PipelineSpec::default()
        };
        spec.set_defaults();
        let (errs, took) = timed_validate(&spec);
        assert!(errs.is_empty(), "{errs:?}");
        eprintln!("chain of {n}: {took:?}");
        assert!(took.as_secs_f64() < 5.0, "chain of {n} took {took:?}");

        // Fan-out from `root` to 2,000 tasks that use its result, fan-in to `sink`
        // (runAfter all and a reference to each result), and a finally task that reads
        // every result and status.
        let n = 2_000;
        let mid: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let mut tasks = vec![task("root".into(), vec![], None)];
        for m in &mid {
            tasks.push(task(
                m.clone(),
                vec![],
                Some("$(tasks.root.results.r)".into()),
            ));
        }
        let all: String = mid
            .iter()
            .map(|m| format!("$(tasks.{m}.results.r) "))
            .collect();
        tasks.push(task("sink".into(), mid.clone(), Some(all.clone())));
        let statuses: String = mid
            .iter()
            .map(|m| format!("$(tasks.{m}.status) "))
            .collect();
        let mut spec = PipelineSpec {
            tasks,
            finally: vec![task("fin".into(), vec![], Some(format!("{all}{statuses}")))],
            ..PipelineSpec::default()
        };
        spec.finally[0].when.clear();
        spec.set_defaults();
        let (errs, took) = timed_validate(&spec);
        assert!(errs.is_empty(), "{errs:?}");
        eprintln!("fan-out/fan-in of {n}: {took:?}");
        assert!(took.as_secs_f64() < 5.0, "fan of {n} took {took:?}");

        // A cycle through the whole chain is found as fast, with dag.go's message.
        let n = 10_000;
        let mut spec = PipelineSpec {
            tasks: (0..n)
                .map(|i| {
                    task(
                        format!("t{i:05}"),
                        vec![format!("t{:05}", (i + n - 1) % n)],
                        None,
                    )
                })
                .collect(),
            ..PipelineSpec::default()
        };
        spec.set_defaults();
        let (errs, took) = timed_validate(&spec);
        assert!(took.as_secs_f64() < 5.0, "cycle of {n} took {took:?}");
        assert_eq!(
            errs.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["invalid value: cycle detected; task \"t00000\" depends on \"t09999\""]
        );
    }
}
