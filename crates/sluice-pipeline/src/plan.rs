//! Resolution of a PipelineRun or TaskRun and the objects it refers to into a plan: the
//! catalog of Tasks, Pipelines, StepActions, ConfigMaps, Secrets and ServiceAccounts given
//! to the run, the run's params with defaults, its workspace bindings and timeouts.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;
use sluice_apis::tekton::param::{Param, ParamSpec, ParamValue};
use sluice_apis::tekton::step::parse_duration;
use sluice_apis::tekton::workspace::WorkspaceBinding;
use sluice_apis::tekton::{
    FeatureFlags, PipelineRun, PipelineSpec, StepActionSpec, TaskRun, TaskSpec,
    pipeline_from_object, pipelinerun_from_object, stepaction_from_object, task_from_object,
    taskrun_from_object,
};
use sluice_core::Object;

use crate::Error;

/// A Secret's data (values decoded) and what Tekton's credential initialisation reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecretData {
    pub type_: String,
    pub annotations: BTreeMap<String, String>,
    pub data: BTreeMap<String, Vec<u8>>,
}

/// The objects a run can refer to.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub tasks: HashMap<String, TaskSpec>,
    pub pipelines: HashMap<String, PipelineSpec>,
    pub step_actions: HashMap<String, StepActionSpec>,
    pub config_maps: HashMap<String, BTreeMap<String, Vec<u8>>>,
    pub secrets: HashMap<String, SecretData>,
    /// ServiceAccount name -> names of its `secrets`.
    pub service_accounts: HashMap<String, Vec<String>>,
    pub flags: FeatureFlags,
    pub pipeline_runs: Vec<PipelineRun>,
    pub task_runs: Vec<TaskRun>,
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Standard base64 (padding optional, whitespace ignored). `None` when malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

impl Catalog {
    /// Reads every object the engine understands; others are ignored. Decoding problems
    /// are the validator's to report; an object that does not decode is left out.
    pub fn from_objects(objects: &[Object]) -> Catalog {
        let set = sluice_apis::ObjectSet::new(objects.iter());
        let mut c = Catalog {
            flags: FeatureFlags::from_set(&set),
            ..Catalog::default()
        };
        for o in objects {
            let group = o.gvk().group;
            match (group.as_str(), o.kind()) {
                ("tekton.dev", "Task") => {
                    if let Ok((mut t, _)) = task_from_object(o) {
                        t.spec.set_defaults();
                        c.tasks.insert(o.name().to_owned(), t.spec);
                    }
                }
                ("tekton.dev", "Pipeline") => {
                    if let Ok((mut p, _)) = pipeline_from_object(o) {
                        p.spec.set_defaults();
                        c.pipelines.insert(o.name().to_owned(), p.spec);
                    }
                }
                ("tekton.dev", "StepAction") => {
                    if let Ok((mut s, _)) = stepaction_from_object(o) {
                        s.spec.set_defaults();
                        c.step_actions.insert(o.name().to_owned(), s.spec);
                    }
                }
                ("tekton.dev", "PipelineRun") => {
                    if let Ok((p, _)) = pipelinerun_from_object(o) {
                        c.pipeline_runs.push(p);
                    }
                }
                ("tekton.dev", "TaskRun") => {
                    if let Ok((t, _)) = taskrun_from_object(o) {
                        c.task_runs.push(t);
                    }
                }
                ("", "ConfigMap") => {
                    let v = o.value();
                    let mut data: BTreeMap<String, Vec<u8>> = string_map(v.get("data"))
                        .into_iter()
                        .map(|(k, s)| (k, s.into_bytes()))
                        .collect();
                    for (k, b) in string_map(v.get("binaryData")) {
                        if let Some(d) = base64_decode(&b) {
                            data.insert(k, d);
                        }
                    }
                    c.config_maps.insert(o.name().to_owned(), data);
                }
                ("", "Secret") => {
                    let v = o.value();
                    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
                    for (k, b) in string_map(v.get("data")) {
                        if let Some(d) = base64_decode(&b) {
                            data.insert(k, d);
                        }
                    }
                    for (k, s) in string_map(v.get("stringData")) {
                        data.insert(k, s.into_bytes());
                    }
                    c.secrets.insert(
                        o.name().to_owned(),
                        SecretData {
                            type_: v
                                .get("type")
                                .and_then(Value::as_str)
                                .unwrap_or("Opaque")
                                .to_owned(),
                            annotations: o
                                .annotations()
                                .into_iter()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect(),
                            data,
                        },
                    );
                }
                ("", "ServiceAccount") => {
                    let names = o
                        .value()
                        .get("secrets")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.get("name")?.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    c.service_accounts.insert(o.name().to_owned(), names);
                }
                _ => {}
            }
        }
        c
    }

    /// Every secret value (for masking in logs): values of at least 3 bytes.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .secrets
            .values()
            .flat_map(|s| s.data.values())
            .filter(|v| v.len() >= 3)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }
}

/// Where a workspace's files come from.
#[derive(Debug, Clone, PartialEq)]
pub enum WsSource {
    /// A fresh empty directory for each TaskRun.
    EmptyDir,
    /// A host directory given on the command line.
    HostDir(String),
    /// A persistent directory per claim under the data dir.
    Pvc { claim: String },
    /// A fresh directory per run, shared by the run's tasks (keyed by the binding name).
    VolumeClaimTemplate { key: String },
    /// Keys of a ConfigMap projected as files (`items` selects and renames keys).
    ConfigMap {
        name: String,
        items: Vec<(String, String)>,
        optional: bool,
    },
    /// Keys of a Secret projected as files.
    Secret {
        name: String,
        items: Vec<(String, String)>,
        optional: bool,
    },
    /// Several ConfigMap/Secret sources projected into one directory.
    Projected(Vec<WsSource>),
    /// A source the local executor cannot provide (csi): an empty directory.
    Unsupported(String),
}

/// A workspace binding after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct WsBinding {
    pub source: WsSource,
    pub sub_path: String,
}

fn items(v: &Value) -> Vec<(String, String)> {
    v.get("items")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    Some((
                        i.get("key")?.as_str()?.to_owned(),
                        i.get("path")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn optional(v: &Value) -> bool {
    v.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Converts an upstream `WorkspaceBinding`.
pub fn ws_binding(b: &WorkspaceBinding) -> WsBinding {
    let source = if let Some(c) = &b.persistent_volume_claim {
        WsSource::Pvc {
            claim: str_at(c, "claimName").to_owned(),
        }
    } else if b.volume_claim_template.is_some() {
        WsSource::VolumeClaimTemplate {
            key: b.name.clone(),
        }
    } else if let Some(c) = &b.config_map {
        WsSource::ConfigMap {
            name: str_at(c, "name").to_owned(),
            items: items(c),
            optional: optional(c),
        }
    } else if let Some(s) = &b.secret {
        WsSource::Secret {
            name: str_at(s, "secretName").to_owned(),
            items: items(s),
            optional: optional(s),
        }
    } else if let Some(p) = &b.projected {
        let mut srcs = Vec::new();
        for s in p
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(c) = s.get("configMap") {
                srcs.push(WsSource::ConfigMap {
                    name: str_at(c, "name").to_owned(),
                    items: items(c),
                    optional: optional(c),
                });
            } else if let Some(c) = s.get("secret") {
                srcs.push(WsSource::Secret {
                    name: str_at(c, "name").to_owned(),
                    items: items(c),
                    optional: optional(c),
                });
            }
        }
        WsSource::Projected(srcs)
    } else if b.csi.is_some() {
        WsSource::Unsupported("csi".into())
    } else {
        WsSource::EmptyDir
    };
    WsBinding {
        source,
        sub_path: b.sub_path.clone(),
    }
}

/// A workspace given on the command line: `DIR`, `emptyDir`, `pvc=CLAIM`, `secret=NAME`,
/// `configmap=NAME`.
pub fn ws_from_cli(spec: &str) -> WsBinding {
    let source = match spec.split_once('=') {
        Some(("pvc", c)) => WsSource::Pvc {
            claim: c.to_owned(),
        },
        Some(("secret", n)) => WsSource::Secret {
            name: n.to_owned(),
            items: vec![],
            optional: false,
        },
        Some(("configmap" | "configMap", n)) => WsSource::ConfigMap {
            name: n.to_owned(),
            items: vec![],
            optional: false,
        },
        _ if spec == "emptyDir" => WsSource::EmptyDir,
        _ => WsSource::HostDir(spec.to_owned()),
    };
    WsBinding {
        source,
        sub_path: String::new(),
    }
}

/// Parses a Go duration into a `Duration`; `Some(None)` for `0` (no timeout), `None` when
/// malformed.
pub fn timeout(s: &str) -> Option<Option<Duration>> {
    let secs = parse_duration(s)?;
    if secs <= 0.0 {
        return Some(None);
    }
    Some(Some(Duration::from_secs_f64(secs)))
}

/// The run's params with the command line's `-p` values replacing those of the same name.
fn with_overrides(given: &[Param], overrides: &[Param]) -> Vec<Param> {
    let mut out = given.to_vec();
    for p in overrides {
        out.retain(|g| g.name != p.name);
        out.push(p.clone());
    }
    out
}

/// A param's value after defaults: given values win; object params merge given keys over
/// the default's (docs/pipelines.md "Object parameters").
pub fn final_params(decls: &[ParamSpec], given: &[Param]) -> HashMap<String, ParamValue> {
    let mut out: HashMap<String, ParamValue> = HashMap::new();
    for d in decls {
        if let Some(def) = &d.default {
            out.insert(d.name.clone(), def.clone());
        }
    }
    for p in given {
        let v = match (out.get(&p.name), &p.value) {
            (Some(ParamValue::Object(def)), ParamValue::Object(g)) => {
                let mut m = def.clone();
                m.extend(g.iter().map(|(k, v)| (k.clone(), v.clone())));
                ParamValue::Object(m)
            }
            _ => p.value.clone(),
        };
        out.insert(p.name.clone(), v);
    }
    out
}

/// Decl names without a value.
pub fn missing_params(decls: &[ParamSpec], values: &HashMap<String, ParamValue>) -> Vec<String> {
    decls
        .iter()
        .filter(|d| !values.contains_key(&d.name))
        .map(|d| d.name.clone())
        .collect()
}

/// A taskRef to a Task among the inputs: no resolver, a plain name, kind `Task` (the
/// API server accepts any case of it), not a custom task.
pub fn task_ref_is_local(r: &sluice_apis::tekton::refs::TaskRef) -> bool {
    r.resolver.is_empty()
        && !r.name.is_empty()
        && !r.name.contains("$(")
        && (r.api_version.is_empty() || r.api_version.starts_with("tekton.dev/"))
        && (r.kind.is_empty() || r.kind.eq_ignore_ascii_case("task"))
}

/// Identity of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
}

/// A deterministic-looking UID from a name and a nonce.
pub fn make_uid(name: &str, nonce: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ nonce;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    let h2 = h.rotate_left(17).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        h2 & 0xfff,
        h2 >> 16
    )
}

/// A PipelineRun ready to run.
#[derive(Debug, Clone)]
pub struct PipelinePlan {
    pub run: PipelineRun,
    pub meta: RunMeta,
    pub pipeline_name: String,
    pub spec: PipelineSpec,
    pub params: HashMap<String, ParamValue>,
    pub workspaces: HashMap<String, WsBinding>,
    pub timeout_pipeline: Option<Duration>,
    pub timeout_tasks: Option<Duration>,
    pub timeout_finally: Option<Duration>,
    /// The TaskSpec of each pipeline task (DAG and finally).
    pub task_specs: HashMap<String, TaskSpec>,
    /// Service account per pipeline task (taskRunSpecs over taskRunTemplate).
    pub service_accounts: HashMap<String, String>,
    pub default_service_account: String,
    /// Timeout per pipeline task from taskRunSpecs.
    pub task_timeouts: HashMap<String, Option<Duration>>,
    /// Pipeline tasks that run a Pipeline (`pipelineRef`/`pipelineSpec`): the child
    /// PipelineRun's plan, completed by the engine when the task starts.
    pub child_pipelines: HashMap<String, Box<PipelinePlan>>,
}

/// A TaskRun ready to run.
#[derive(Debug, Clone)]
pub struct TaskPlan {
    pub run: TaskRun,
    pub meta: RunMeta,
    pub task_name: String,
    pub spec: TaskSpec,
    pub params: HashMap<String, ParamValue>,
    pub workspaces: HashMap<String, WsBinding>,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub service_account: String,
}

/// What `sluice run` runs.
#[derive(Debug, Clone)]
pub enum Plan {
    Pipeline(Box<PipelinePlan>),
    Task(Box<TaskPlan>),
}

fn meta_of(m: &sluice_apis::meta::ObjectMeta, nonce: u64) -> RunMeta {
    let name = m
        .name
        .clone()
        .or_else(|| {
            m.generate_name
                .clone()
                .map(|g| format!("{g}{:05x}", nonce & 0xfffff))
        })
        .unwrap_or_else(|| "run".into());
    RunMeta {
        uid: m.uid.clone().unwrap_or_else(|| make_uid(&name, nonce)),
        namespace: m.namespace.clone().unwrap_or_else(|| "default".into()),
        name,
        labels: m.labels.clone(),
    }
}

fn parse_timeout(s: Option<&String>, what: &str) -> Result<Option<Duration>, Error> {
    match s {
        None => Ok(None),
        Some(s) => {
            timeout(s).ok_or_else(|| Error::Resolve(format!("{what}: invalid duration {s:?}")))
        }
    }
}

/// Overrides given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub params: Vec<Param>,
    pub workspaces: Vec<(String, WsBinding)>,
    pub timeout: Option<Option<Duration>>,
    /// A nonce for generated names and UIDs.
    pub nonce: u64,
}

/// Resolves a PipelineRun against the catalog.
pub fn plan_pipelinerun(
    run: &PipelineRun,
    cat: &Catalog,
    ov: &Overrides,
) -> Result<PipelinePlan, Error> {
    let mut run = run.clone();
    run.spec.set_defaults(&cat.flags);
    let meta = meta_of(&run.metadata, ov.nonce);
    let (pipeline_name, mut spec) = match (&run.spec.pipeline_ref, &run.spec.pipeline_spec) {
        (Some(r), _) => {
            if !r.is_local() {
                return Err(Error::Resolve(format!(
                    "pipelineRef: remote resolution ({}) is not supported by the local executor",
                    if r.resolver.is_empty() {
                        "unnamed"
                    } else {
                        &r.resolver
                    }
                )));
            }
            let p = cat.pipelines.get(&r.name).ok_or_else(|| {
                Error::Resolve(format!(
                    "pipelineRef: Pipeline {:?} not found among the inputs",
                    r.name
                ))
            })?;
            (r.name.clone(), p.clone())
        }
        (None, Some(s)) => (String::new(), s.clone()),
        (None, None) => {
            return Err(Error::Resolve(
                "expected exactly one, got neither: pipelineRef, pipelineSpec".into(),
            ));
        }
    };
    spec.set_defaults();
    let given = with_overrides(&run.spec.params, &ov.params);
    let params = final_params(&spec.params, &given);
    let missing = missing_params(&spec.params, &params);
    if !missing.is_empty() {
        return Err(Error::Resolve(format!(
            "PipelineRun {:?} parameters is missing some parameters required by Pipeline {:?}'s parameters: {}",
            meta.name,
            if pipeline_name.is_empty() {
                &meta.name
            } else {
                &pipeline_name
            },
            missing.join(", ")
        )));
    }
    for d in &spec.params {
        if let Some(v) = params.get(&d.name)
            && v.type_() != d.effective_type()
        {
            return Err(Error::Resolve(format!(
                "param types don't match the user-specified type: [{}]",
                d.name
            )));
        }
    }
    let mut workspaces: HashMap<String, WsBinding> = run
        .spec
        .workspaces
        .iter()
        .map(|b| (b.name.clone(), ws_binding(b)))
        .collect();
    for (n, b) in &ov.workspaces {
        workspaces.insert(n.clone(), b.clone());
    }
    for w in &spec.workspaces {
        if !workspaces.contains_key(&w.name) && w.optional != Some(true) {
            return Err(Error::Resolve(format!(
                "pipeline requires workspace with name {:?} be provided by pipelinerun",
                w.name
            )));
        }
    }
    let t = run.spec.timeouts.clone().unwrap_or_default();
    let mut timeout_pipeline = parse_timeout(t.pipeline.as_ref(), "timeouts.pipeline")?;
    if let Some(o) = ov.timeout {
        timeout_pipeline = o;
    }
    let timeout_tasks = parse_timeout(t.tasks.as_ref(), "timeouts.tasks")?;
    let timeout_finally = parse_timeout(t.finally.as_ref(), "timeouts.finally")?;

    let (task_specs, child_pipelines) = resolve_tasks(&spec, cat, 0)?;
    let default_sa = run
        .spec
        .task_run_template
        .as_ref()
        .map(|t| t.service_account_name.clone())
        .unwrap_or_default();
    let mut service_accounts = HashMap::new();
    let mut task_timeouts = HashMap::new();
    for trs in &run.spec.task_run_specs {
        if !trs.service_account_name.is_empty() {
            service_accounts.insert(
                trs.pipeline_task_name.clone(),
                trs.service_account_name.clone(),
            );
        }
        if trs.timeout.is_some() {
            task_timeouts.insert(
                trs.pipeline_task_name.clone(),
                parse_timeout(trs.timeout.as_ref(), "taskRunSpecs.timeout")?,
            );
        }
    }
    Ok(PipelinePlan {
        run,
        meta,
        pipeline_name,
        spec,
        params,
        workspaces,
        timeout_pipeline,
        timeout_tasks,
        timeout_finally,
        task_specs,
        service_accounts,
        default_service_account: default_sa,
        task_timeouts,
        child_pipelines,
    })
}

/// How deep pipelines may nest in pipelines before the plan is refused (a Pipeline that
/// refers to itself would otherwise never end).
pub const MAX_PIPELINE_NESTING: usize = 16;

type Resolved = (
    HashMap<String, TaskSpec>,
    HashMap<String, Box<PipelinePlan>>,
);

/// The TaskSpec of every pipeline task that runs a Task, and a plan template for every
/// pipeline task that runs a Pipeline (`pipelineRef`/`pipelineSpec`, alpha "pipelines in
/// pipelines", TEP-0056), resolved recursively.
fn resolve_tasks(spec: &PipelineSpec, cat: &Catalog, depth: usize) -> Result<Resolved, Error> {
    let mut task_specs = HashMap::new();
    let mut children = HashMap::new();
    for pt in spec.tasks.iter().chain(spec.finally.iter()) {
        if pt.pipeline_ref.is_some() || pt.pipeline_spec.is_some() {
            children.insert(pt.name.clone(), Box::new(child_template(pt, cat, depth)?));
            continue;
        }
        let ts = if let Some(r) = &pt.task_ref {
            if !task_ref_is_local(r) {
                return Err(Error::Resolve(format!(
                    "pipeline task {:?}: taskRef {} is not supported by the local executor",
                    pt.name,
                    if r.resolver.is_empty() {
                        format!("{}/{}", r.api_version, r.kind_or_default())
                    } else {
                        format!("resolver {:?}", r.resolver)
                    }
                )));
            }
            cat.tasks.get(&r.name).cloned().ok_or_else(|| {
                Error::Resolve(format!(
                    "pipeline task {:?}: Task {:?} not found among the inputs",
                    pt.name, r.name
                ))
            })?
        } else if let Some(e) = &pt.task_spec {
            if e.is_custom() {
                return Err(Error::Resolve(format!(
                    "pipeline task {:?}: custom tasks are not supported by the local executor",
                    pt.name
                )));
            }
            let mut s = e.task_spec();
            s.set_defaults();
            s
        } else {
            return Err(Error::Resolve(format!(
                "pipeline task {:?}: expected exactly one, got neither: taskRef, taskSpec, pipelineRef, pipelineSpec",
                pt.name
            )));
        };
        task_specs.insert(pt.name.clone(), ts);
    }
    Ok((task_specs, children))
}

/// The plan of the child PipelineRun a pipeline task runs, without what only the parent's
/// run provides (name, params, workspaces): the engine completes it when the task starts.
fn child_template(
    pt: &sluice_apis::tekton::PipelineTask,
    cat: &Catalog,
    depth: usize,
) -> Result<PipelinePlan, Error> {
    if depth >= MAX_PIPELINE_NESTING {
        return Err(Error::Resolve(format!(
            "pipeline task {:?}: pipelines nest deeper than {MAX_PIPELINE_NESTING} levels",
            pt.name
        )));
    }
    if pt.matrix.is_some() {
        return Err(Error::Resolve(format!(
            "pipeline task {:?}: matrix with pipelines in pipelines is not supported by the local executor",
            pt.name
        )));
    }
    let (pipeline_name, mut spec) = match (&pt.pipeline_ref, &pt.pipeline_spec) {
        (Some(r), _) => {
            if !r.is_local() {
                return Err(Error::Resolve(format!(
                    "pipeline task {:?}: pipelineRef: remote resolution is not supported by the local executor",
                    pt.name
                )));
            }
            let p = cat.pipelines.get(&r.name).ok_or_else(|| {
                Error::Resolve(format!(
                    "pipeline task {:?}: pipelineRef: Pipeline {:?} not found among the inputs",
                    pt.name, r.name
                ))
            })?;
            (r.name.clone(), p.clone())
        }
        (None, Some(s)) => (String::new(), (**s).clone()),
        (None, None) => {
            return Err(Error::Resolve(format!(
                "pipeline task {:?}: expected exactly one, got neither: pipelineRef, pipelineSpec",
                pt.name
            )));
        }
    };
    spec.set_defaults();
    let (task_specs, child_pipelines) = resolve_tasks(&spec, cat, depth + 1)?;
    let mut run = PipelineRun::default();
    run.spec.pipeline_ref = pt.pipeline_ref.clone();
    run.spec.pipeline_spec = pt.pipeline_spec.as_deref().cloned();
    Ok(PipelinePlan {
        run,
        meta: RunMeta::default(),
        pipeline_name,
        spec,
        params: HashMap::new(),
        workspaces: HashMap::new(),
        timeout_pipeline: None,
        timeout_tasks: None,
        timeout_finally: None,
        task_specs,
        service_accounts: HashMap::new(),
        default_service_account: String::new(),
        task_timeouts: HashMap::new(),
        child_pipelines,
    })
}

/// Resolves a TaskRun against the catalog.
pub fn plan_taskrun(run: &TaskRun, cat: &Catalog, ov: &Overrides) -> Result<TaskPlan, Error> {
    let mut run = run.clone();
    run.spec.set_defaults(&cat.flags);
    let meta = meta_of(&run.metadata, ov.nonce);
    let (task_name, mut spec) = match (&run.spec.task_ref, &run.spec.task_spec) {
        (Some(r), _) => {
            if !task_ref_is_local(r) {
                return Err(Error::Resolve(format!(
                    "taskRef {:?}: remote resolution and custom tasks are not supported by the local executor",
                    r.name
                )));
            }
            let t = cat.tasks.get(&r.name).ok_or_else(|| {
                Error::Resolve(format!(
                    "taskRef: Task {:?} not found among the inputs",
                    r.name
                ))
            })?;
            (r.name.clone(), t.clone())
        }
        (None, Some(s)) => (String::new(), s.clone()),
        (None, None) => {
            return Err(Error::Resolve(
                "expected exactly one, got neither: taskRef, taskSpec".into(),
            ));
        }
    };
    spec.set_defaults();
    let given = with_overrides(&run.spec.params, &ov.params);
    let params = final_params(&spec.params, &given);
    let missing = missing_params(&spec.params, &params);
    if !missing.is_empty() {
        return Err(Error::Resolve(format!(
            "missing parameters: {}",
            missing.join(", ")
        )));
    }
    let mut workspaces: HashMap<String, WsBinding> = run
        .spec
        .workspaces
        .iter()
        .map(|b| (b.name.clone(), ws_binding(b)))
        .collect();
    for (n, b) in &ov.workspaces {
        workspaces.insert(n.clone(), b.clone());
    }
    for w in &spec.workspaces {
        if !workspaces.contains_key(&w.name) && !w.is_optional() {
            return Err(Error::Resolve(format!(
                "declared workspace {:?} is required but has not been bound",
                w.name
            )));
        }
    }
    let mut timeout = parse_timeout(run.spec.timeout.as_ref(), "timeout")?;
    if let Some(o) = ov.timeout {
        timeout = o;
    }
    Ok(TaskPlan {
        meta,
        task_name,
        spec,
        params,
        workspaces,
        timeout,
        retries: run.spec.retries.unwrap_or(0).max(0) as u32,
        service_account: run.spec.service_account_name.clone(),
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip_of_known_values() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert!(base64_decode("a$b").is_none());
    }

    // docs/pipelines.md "Object parameters": a partial object value is merged over the
    // default's keys.
    #[test]
    fn object_params_merge_over_defaults() {
        let decls: Vec<ParamSpec> = serde_json::from_value(serde_json::json!([
            {"name": "o", "type": "object", "properties": {"a": {}, "b": {}},
             "default": {"a": "1", "b": "2"}},
            {"name": "s", "default": "d"}, {"name": "req"}
        ]))
        .unwrap();
        let given: Vec<Param> =
            serde_json::from_value(serde_json::json!([{"name": "o", "value": {"b": "x"}}]))
                .unwrap();
        let v = final_params(&decls, &given);
        assert_eq!(
            v["o"],
            ParamValue::Object([("a".into(), "1".into()), ("b".into(), "x".into())].into())
        );
        assert_eq!(v["s"], ParamValue::String("d".into()));
        assert_eq!(missing_params(&decls, &v), ["req"]);
    }
}
