//! Task-level preparation of a TaskRun (tektoncd/pipeline
//! `pkg/reconciler/taskrun/resources/apply.go` and `pkg/pod/` step merging): StepActions
//! inlined, the step template merged into each step, and one substitution pass of params,
//! context variables, workspace, result and step paths.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use sluice_apis::tekton::param::ParamValue;
use sluice_apis::tekton::step::Step;
use sluice_apis::tekton::workspace::WorkspaceDeclaration;
use sluice_apis::tekton::{StepActionSpec, TaskSpec};
use sluice_expr::budget::{Budget, Exceeded};

use crate::Error;
use crate::plan::{WsBinding, WsSource, final_params};
use crate::subst::Replacements;

/// Everything an executor needs to run one TaskRun.
#[derive(Debug, Clone)]
pub struct TaskInvocation {
    /// The TaskRun's name (`<pipelinerun>-<pipeline task>`, `-N` for matrix children).
    pub taskrun_name: String,
    /// The pipeline task it runs, or the Task's name for a standalone TaskRun.
    pub task_label: String,
    /// Name of the run this belongs to (PipelineRun or standalone TaskRun).
    pub run_name: String,
    pub namespace: String,
    pub uid: String,
    pub spec: TaskSpec,
    /// Params as given (after pipeline-level substitution); defaults are applied here.
    pub params: Vec<sluice_apis::tekton::param::Param>,
    /// `context.*` variables (without the `$(`/`)`), e.g. `context.pipelineRun.name`.
    pub context: HashMap<String, String>,
    pub workspaces: Vec<(WorkspaceDeclaration, Option<WsBinding>)>,
    pub timeout: Option<Duration>,
    pub service_account: String,
    pub retry_count: u32,
}

/// Where the executor puts things; these become the values of path variables.
pub trait Paths {
    /// Mount path of a bound workspace.
    fn workspace(&self, decl: &WorkspaceDeclaration) -> String;
    /// The directory of Task results (`/tekton/results`).
    fn results_dir(&self) -> String;
    /// The directory of a step (`/tekton/steps/step-NAME`).
    fn step_dir(&self, container: &str) -> String;
    /// `$(credentials.path)` (`/tekton/creds`).
    fn credentials(&self) -> String;
}

/// The container name of step `i`: `step-NAME`, `step-unnamed-I` for unnamed steps
/// (pkg/pod/entrypoint.go StepName).
pub fn step_container(step: &Step, i: usize) -> String {
    if step.name.is_empty() {
        format!("step-unnamed-{i}")
    } else {
        format!("step-{}", step.name)
    }
}

/// Merges `over` onto `base` (JSON objects): fields of `over` win; `env` and
/// `volumeMounts` lists merge by name with `over`'s entries replacing `base`'s
/// (pkg/apis/pipeline/v1 merge.go MergeStepsWithStepTemplate).
fn merge_json(base: &Value, over: &Value) -> Value {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return over.clone();
    };
    let mut out = b.clone();
    for (k, v) in o {
        let merged = match (k.as_str(), out.get(k), v) {
            ("env" | "volumeMounts" | "envFrom", Some(Value::Array(ba)), Value::Array(oa)) => {
                let key = if k == "volumeMounts" {
                    "mountPath"
                } else {
                    "name"
                };
                let mut list: Vec<Value> = ba
                    .iter()
                    .filter(|x| {
                        !oa.iter()
                            .any(|y| y.get(key).is_some() && y.get(key) == x.get(key))
                    })
                    .cloned()
                    .collect();
                list.extend(oa.iter().cloned());
                Value::Array(list)
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

fn is_empty_json(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The values of a StepAction's params: the step's over the defaults. Upstream keeps one
/// replacement table per type (tektoncd/pipeline
/// `pkg/reconciler/taskrun/resources/apply.go` `applyStepActionParameters`): a string given
/// for a param whose default is an object replaces only `$(params.NAME)`, so `.key`
/// references keep the default's keys; a string where the default is an array, or an
/// array where it is a string, is refused (`checkForDuplicateKeys`).
fn step_action_params(
    sa: &StepActionSpec,
    given: &[sluice_apis::tekton::param::Param],
) -> Result<HashMap<String, ParamValue>, Error> {
    let mut kept = Vec::with_capacity(given.len());
    for p in given {
        let default = sa
            .params
            .iter()
            .find(|d| d.name == p.name)
            .and_then(|d| d.default.as_ref());
        match (default, &p.value) {
            (Some(ParamValue::Object(_)), ParamValue::String(_)) => continue,
            (Some(ParamValue::Array(_)), ParamValue::String(_))
            | (Some(ParamValue::String(_)), ParamValue::Array(_)) => {
                return Err(Error::Resolve(format!(
                    "invalid parameter substitution: {}. Please check the types of the default value and the passed value",
                    p.name
                )));
            }
            _ => kept.push(p.clone()),
        }
    }
    Ok(final_params(&sa.params, &kept))
}

/// Inlines the StepAction a step refers to (docs/stepactions.md): the StepAction's
/// image, command, args, env, script, workingDir and results with its params substituted
/// from the step's `params` and their defaults; the step keeps its name, onError, timeout,
/// workspaces, when and output configs.
pub fn inline_step_action(step: &Step, sa: &StepActionSpec) -> Result<Step, Error> {
    let reps = Replacements {
        params: step_action_params(sa, &step.params)?,
        ..Replacements::default()
    };
    let sa = reps.apply(sa)?;
    Ok(Step {
        image: sa.image,
        command: sa.command,
        args: sa.args,
        env: sa.env,
        script: sa.script,
        working_dir: sa.working_dir,
        security_context: sa.security_context,
        volume_mounts: sa.volume_mounts,
        results: sa.results,
        ref_: None,
        params: vec![],
        ..step.clone()
    })
}

fn workspace_vars(inv: &TaskInvocation, paths: &dyn Paths, vars: &mut HashMap<String, String>) {
    for (decl, binding) in &inv.workspaces {
        let n = &decl.name;
        let (path, bound, claim, volume) = match binding {
            Some(b) => {
                let claim = match &b.source {
                    WsSource::Pvc { claim } => claim.clone(),
                    WsSource::VolumeClaimTemplate { key } => {
                        format!(
                            "pvc-{}",
                            &crate::plan::make_uid(&format!("{}/{key}", inv.run_name), 0)[..10]
                        )
                    }
                    _ => String::new(),
                };
                (paths.workspace(decl), "true", claim, format!("ws-{n}"))
            }
            None => (String::new(), "false", String::new(), String::new()),
        };
        vars.insert(format!("workspaces.{n}.path"), path);
        vars.insert(format!("workspaces.{n}.bound"), bound.into());
        vars.insert(format!("workspaces.{n}.claim"), claim);
        vars.insert(format!("workspaces.{n}.volume"), volume);
    }
}

/// The TaskSpec an executor runs: StepActions inlined, the step template merged, every
/// variable the TaskRun knows substituted in one pass. `step_actions` are the StepActions
/// among the inputs.
pub fn prepare(
    inv: &TaskInvocation,
    step_actions: &HashMap<String, StepActionSpec>,
    paths: &dyn Paths,
) -> Result<TaskSpec, Error> {
    let mut reps = Replacements {
        params: final_params(&inv.spec.params, &inv.params),
        ..Replacements::default()
    };
    let vars = &mut reps.vars;
    vars.extend(inv.context.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.insert("context.taskRun.name".into(), inv.taskrun_name.clone());
    vars.insert("context.taskRun.namespace".into(), inv.namespace.clone());
    vars.insert("context.taskRun.uid".into(), inv.uid.clone());
    vars.insert(
        "context.task.retry-count".into(),
        inv.retry_count.to_string(),
    );
    vars.entry("context.task.name".into())
        .or_insert_with(|| inv.task_label.clone());
    workspace_vars(inv, paths, vars);
    let results_dir = paths.results_dir();
    for r in &inv.spec.results {
        vars.insert(
            format!("results.{}.path", r.name),
            format!("{results_dir}/{}", r.name),
        );
    }
    for (i, s) in inv.spec.steps.iter().enumerate() {
        let c = step_container(s, i);
        vars.insert(
            format!("steps.{c}.exitCode.path"),
            format!("{}/exitCode", paths.step_dir(&c)),
        );
    }
    vars.insert("credentials.path".into(), paths.credentials());

    let mut spec = inv.spec.clone();
    // Step template first, so that its variables are substituted with the steps'.
    if let Some(t) = spec.step_template.take() {
        let tv = serde_json::to_value(&t)?;
        let mut steps = Vec::with_capacity(spec.steps.len());
        for s in &spec.steps {
            let sv = serde_json::to_value(s)?;
            let sv = Value::Object(
                sv.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| !is_empty_json(v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            steps.push(serde_json::from_value(merge_json(&tv, &sv))?);
        }
        spec.steps = steps;
    }
    let params = std::mem::take(&mut spec.params);
    let mut spec = reps.apply(&spec)?;
    spec.params = params;
    let mut steps = Vec::with_capacity(spec.steps.len());
    for (i, s) in spec.steps.iter().enumerate() {
        let mut s = if let Some(r) = &s.ref_ {
            let sa = step_actions.get(&r.name).ok_or_else(|| {
                Error::Resolve(format!(
                    "step {:?}: StepAction {:?} not found among the inputs",
                    s.name, r.name
                ))
            })?;
            let inlined = inline_step_action(s, sa)?;
            // the StepAction's own text may use context and workspace variables
            let mut ctx_only = reps.clone();
            ctx_only.params.clear();
            ctx_only.apply(&inlined)?
        } else {
            s.clone()
        };
        let dir = paths.step_dir(&step_container(&s, i));
        let mut sr = Replacements::default();
        for r in &s.results {
            sr.vars.insert(
                format!("step.results.{}.path", r.name),
                format!("{dir}/results/{}", r.name),
            );
        }
        if !sr.is_empty() {
            s = sr.apply(&s)?;
        }
        steps.push(s);
    }
    spec.steps = steps;
    Ok(spec)
}

/// Substitutes `$(steps.STEP.results.NAME)` from earlier steps' results, just before a
/// step runs (docs/stepactions.md "Passing step results").
pub fn apply_step_results(
    step: &Step,
    results: &HashMap<String, std::collections::BTreeMap<String, ParamValue>>,
) -> Result<Step, Error> {
    if results.is_empty() {
        return Ok(step.clone());
    }
    let mut v = serde_json::to_value(step)?;
    let lookup = |expr: &str| -> Option<ParamValue> {
        if let sluice_expr::tekton::Var::StepResult {
            step,
            result,
            access,
        } = sluice_expr::tekton::parse_var(expr)
        {
            let val = results.get(step)?.get(result)?;
            let mut r = Replacements::default();
            r.params.insert("x".into(), val.clone());
            let e = match access {
                sluice_expr::tekton::Access::Whole => "params.x".to_owned(),
                sluice_expr::tekton::Access::Star => "params.x[*]".to_owned(),
                sluice_expr::tekton::Access::Index(i) => format!("params.x[{i}]"),
                sluice_expr::tekton::Access::Key(k) => format!("params.x.{k}"),
            };
            let s = format!("$({e})");
            let mut j = Value::Array(vec![Value::String(s)]);
            r.apply_value(&mut j).ok()?;
            return match j {
                Value::Array(a) if a.len() == 1 => match &a[0] {
                    Value::String(s) => Some(ParamValue::String(s.clone())),
                    _ => None,
                },
                Value::Array(a) => Some(ParamValue::Array(
                    a.into_iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect(),
                )),
                _ => None,
            };
        }
        None
    };
    fn walk(
        v: &mut Value,
        f: &dyn Fn(&str) -> Option<ParamValue>,
        budget: &Budget,
    ) -> Result<(), Exceeded> {
        match v {
            Value::String(s) => {
                *s = sluice_expr::tekton::substitute_in(
                    s,
                    |e| match f(e) {
                        Some(ParamValue::String(x)) => Some(x.into()),
                        _ => None,
                    },
                    budget,
                )?
                .into_owned();
            }
            Value::Array(items) => {
                let mut out = Vec::new();
                for mut it in std::mem::take(items) {
                    if let Value::String(s) = &it
                        && let Some(e) = sluice_expr::tekton::whole_reference(s)
                        && let Some(ParamValue::Array(a)) = f(e)
                    {
                        budget.step()?;
                        budget.charge(a.iter().map(|x| x.len() as u64 + 24).sum())?;
                        out.extend(a.into_iter().map(Value::String));
                        continue;
                    }
                    walk(&mut it, f, budget)?;
                    out.push(it);
                }
                *items = out;
            }
            Value::Object(m) => {
                for x in m.values_mut() {
                    walk(x, f, budget)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(&mut v, &lookup, &sluice_expr::tekton::substitution_budget())
        .map_err(|e| Error::Resolve(e.to_string()))?;
    Ok(serde_json::from_value(v)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_apis::tekton::param::Param;

    struct P;
    impl Paths for P {
        fn workspace(&self, d: &WorkspaceDeclaration) -> String {
            format!("/sb/ws/{}", d.name)
        }
        fn results_dir(&self) -> String {
            "/sb/results".into()
        }
        fn step_dir(&self, c: &str) -> String {
            format!("/sb/steps/{c}")
        }
        fn credentials(&self) -> String {
            "/sb/creds".into()
        }
    }

    fn inv(spec: serde_json::Value, params: serde_json::Value) -> TaskInvocation {
        let mut spec: TaskSpec = serde_json::from_value(spec).unwrap();
        spec.set_defaults();
        let params: Vec<Param> = serde_json::from_value(params).unwrap();
        let workspaces = spec
            .workspaces
            .iter()
            .map(|d| {
                (
                    d.clone(),
                    Some(WsBinding {
                        source: WsSource::EmptyDir,
                        sub_path: String::new(),
                    }),
                )
            })
            .collect();
        TaskInvocation {
            taskrun_name: "pr-t".into(),
            task_label: "t".into(),
            run_name: "pr".into(),
            namespace: "default".into(),
            uid: "u".into(),
            spec,
            params,
            context: HashMap::new(),
            workspaces,
            timeout: None,
            service_account: "default".into(),
            retry_count: 2,
        }
    }

    // docs/variables.md "Variables available in a Task": params, results.<r>.path,
    // workspaces.<w>.path|bound|claim|volume, context.taskRun.*, context.task.retry-count,
    // steps.step-<s>.exitCode.path; docs/tasks.md "Specifying a stepTemplate" (step fields
    // win, env merged by name).
    #[test]
    fn task_level_variables_and_step_template() {
        let i = inv(
            serde_json::json!({
                "params": [{"name": "a", "default": "A"}, {"name": "arr", "type": "array"}],
                "results": [{"name": "r"}],
                "workspaces": [{"name": "src"}],
                "stepTemplate": {"env": [{"name": "X", "value": "t"}, {"name": "Y", "value": "t"}],
                    "workingDir": "/tmpl"},
                "steps": [{"name": "one", "image": "alpine",
                    "env": [{"name": "Y", "value": "s"}],
                    "args": ["$(params.arr[*])", "$(params.a)"],
                    "script": "echo $(params.a) > $(results.r.path); ls $(workspaces.src.path) $(workspaces.src.bound); echo $(context.taskRun.name) $(context.task.name) $(context.task.retry-count) $(steps.step-one.exitCode.path)"}]
            }),
            serde_json::json!([{"name": "arr", "value": ["1", "2"]}]),
        );
        let s = prepare(&i, &HashMap::new(), &P).unwrap();
        let st = &s.steps[0];
        assert_eq!(
            st.script,
            "echo A > /sb/results/r; ls /sb/ws/src true; echo pr-t t 2 /sb/steps/step-one/exitCode"
        );
        assert_eq!(st.args, ["1", "2", "A"]);
        assert_eq!(st.working_dir, "/tmpl");
        let env: Vec<(String, String)> = st
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(env, [("X".into(), "t".into()), ("Y".into(), "s".into())]);
    }

    // docs/stepactions.md: a step with `ref` takes the StepAction's fields, its params from
    // the step's `params` (defaults otherwise); `$(step.results.r.path)` is the step's own.
    #[test]
    fn step_actions_are_inlined() {
        let sa: StepActionSpec = serde_json::from_value(serde_json::json!({
            "image": "alpine", "params": [{"name": "msg", "default": "dflt"}, {"name": "n"}],
            "results": [{"name": "out"}],
            "script": "echo $(params.msg) $(params.n) > $(step.results.out.path)"
        }))
        .unwrap();
        let i = inv(
            serde_json::json!({"params": [{"name": "p", "default": "P"}],
                "steps": [{"name": "s", "ref": {"name": "act"},
                "params": [{"name": "n", "value": "$(params.p)"}]}]}),
            serde_json::json!([]),
        );
        let acts = HashMap::from([("act".to_owned(), sa)]);
        let s = prepare(&i, &acts, &P).unwrap();
        assert_eq!(
            s.steps[0].script,
            "echo dflt P > /sb/steps/step-s/results/out"
        );
        assert_eq!(s.steps[0].name, "s");
    }

    // tektoncd/pipeline pkg/reconciler/taskrun/resources/apply.go applyStepActionParameters:
    // replacements are kept per type, so a string passed for an object param (here an
    // unresolvable `$(params.e[*])` of a string TaskRun param) leaves the default's keys in
    // place; a string for an array default is "invalid parameter substitution"
    // (checkForDuplicateKeys). Example: examples/v1/taskruns/stepaction-params.yaml.
    #[test]
    fn step_action_params_are_typed() {
        let sa: StepActionSpec = serde_json::from_value(serde_json::json!({
            "image": "alpine",
            "params": [
                {"name": "o", "type": "object", "properties": {"a": {}, "b": {}},
                 "default": {"a": "da", "b": "db"}},
                {"name": "arr", "type": "array", "default": ["x"]}],
            "script": "echo $(params.o.a) $(params.o.b) $(params.arr[0])"
        }))
        .unwrap();
        let acts = HashMap::from([("act".to_owned(), sa)]);
        let i = inv(
            serde_json::json!({"steps": [{"name": "s", "ref": {"name": "act"},
                "params": [{"name": "o", "value": "$(params.e[*])"}]}]}),
            serde_json::json!([{"name": "e", "value": "enum1"}]),
        );
        let s = prepare(&i, &acts, &P).unwrap();
        assert_eq!(s.steps[0].script, "echo da db x");
        let i = inv(
            serde_json::json!({"steps": [{"name": "s", "ref": {"name": "act"},
                "params": [{"name": "arr", "value": "one"}]}]}),
            serde_json::json!([]),
        );
        let e = prepare(&i, &acts, &P).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid parameter substitution: arr. Please check the types of the default value and the passed value"
        );
    }
}
