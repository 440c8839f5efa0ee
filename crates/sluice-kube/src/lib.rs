//! Sluice's controllers: `kube::runtime::Controller`s for Tekton PipelineRuns and TaskRuns
//! that talk to a Kubernetes API only through a [`kube::Client`], so the same code runs on
//! the embedded API server (an in-process client, no TCP) and against any cluster given a
//! kubeconfig.
//!
//! - PipelineRuns are planned with `sluice_pipeline::plan` from the namespace's Tasks,
//!   Pipelines, StepActions, ConfigMaps, Secrets and ServiceAccounts (read through the
//!   client) and driven by `sluice_pipeline::engine::run_pipeline` on a blocking thread with
//!   an executor that creates TaskRun objects and waits for them ([`pipelinerun`]).
//! - TaskRuns run on `sluice_exec::LocalExecutor` with a Pod object that mirrors them
//!   (`<taskrun>-pod`, one container per step) and step logs stored under the data
//!   directory ([`taskrun`], [`logs`]).
//! - Status is written as Tekton writes it; Events mark starts and ends ([`events`]).

pub mod access;
pub mod analysis_job;
pub mod application;
pub mod cdmetrics;
pub mod coalesce;
pub mod concurrency;
pub mod events;
pub mod http_out;
pub mod interceptor_http;
pub mod logs;
pub mod metrics;
pub mod notifications;
pub mod pipelinerun;
pub mod retention;
pub mod rollouts;
pub mod rollouts_restart;
pub mod shape;
pub mod snapshots;
pub mod subscribe;
pub mod taskrun;
pub mod triggers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde_json::Value;
use sluice_core::Object;
use sluice_pipeline::plan::Catalog;

/// Errors of the controllers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Other(String),
}

/// How the controllers run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server's data directory: run sandboxes under `runs/`, step logs under `logs/`,
    /// persistent claims under `claims/`.
    pub data_dir: PathBuf,
    /// Run steps under bubblewrap at Tekton's container paths.
    pub isolate: bool,
    /// How many TaskRuns execute at once, server-wide.
    pub max_parallel_tasks: usize,
    /// The most bytes kept of one step's log.
    pub max_log_bytes: u64,
    /// Keep at most this many finished PipelineRuns per Pipeline and namespace; older ones
    /// are deleted when a run finishes and once at start ([`retention`]).
    pub keep_runs: Option<usize>,
    /// What `/metrics` reports; the controllers count into it.
    pub metrics: Arc<metrics::Metrics>,
    /// The base URL EventListeners are served under (`<url>/listeners/<ns>/<name>`); when
    /// set, served EventListeners get their status (address, Ready).
    pub listeners_url: Option<String>,
}

impl Options {
    pub fn new(data_dir: &Path) -> Options {
        Options {
            data_dir: data_dir.to_path_buf(),
            isolate: false,
            max_parallel_tasks: 8,
            max_log_bytes: logs::DEFAULT_MAX_LOG_BYTES,
            keep_runs: None,
            metrics: Arc::new(metrics::Metrics::new()),
            listeners_url: None,
        }
    }
}

/// State shared by the controllers.
pub struct Ctx {
    pub client: Client,
    pub opts: Options,
    /// Runs executing in this process, by uid.
    pub(crate) pipelineruns: Mutex<HashMap<String, ()>>,
    pub(crate) taskruns: Mutex<HashMap<String, ()>>,
    /// The resourceVersion of the last status this process wrote for a run it finished, by
    /// uid: a reconcile of an older version (the watch cache lagging) is not acted on.
    pub(crate) written: Mutex<HashMap<String, u64>>,
    /// Server-wide limit of executing TaskRuns.
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
    /// A name for this server instance (Events' reportingInstance).
    pub(crate) instance: String,
    /// Held while a run of a concurrency group decides whether it starts.
    pub(crate) concurrency: tokio::sync::Mutex<()>,
    /// PipelineRuns and TaskRuns followed by executing runs, fed by the controllers' watches.
    pub pipelinerun_subs: Arc<subscribe::Subscriptions>,
    pub taskrun_subs: Arc<subscribe::Subscriptions>,
    /// Running PipelineRuns' catalogs, lent to their TaskRuns ([`snapshots`]).
    pub(crate) snapshots: Arc<snapshots::Snapshots>,
}

impl Ctx {
    pub fn new(client: Client, opts: Options) -> Arc<Ctx> {
        let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_parallel_tasks.max(1)));
        Arc::new(Ctx {
            client,
            opts,
            pipelineruns: Mutex::new(HashMap::new()),
            taskruns: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            slots,
            instance: format!("sluice-{}", std::process::id()),
            concurrency: tokio::sync::Mutex::new(()),
            pipelinerun_subs: Arc::default(),
            taskrun_subs: Arc::default(),
            snapshots: Arc::default(),
        })
    }
}

impl Ctx {
    /// Remembers the resourceVersion a final write produced.
    pub(crate) fn wrote(&self, uid: &str, obj: &DynamicObject) {
        self.wrote_rv(uid, obj.metadata.resource_version.as_deref());
    }

    /// [`Ctx::wrote`] of the resourceVersion alone.
    pub(crate) fn wrote_rv(&self, uid: &str, rv: Option<&str>) {
        if let Some(rv) = rv.and_then(|r| r.parse::<u64>().ok()) {
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(uid.to_owned(), rv);
        }
    }

    /// Whether a reconcile of the run `obj` has nothing to do, decided on the object as the
    /// cache holds it (nothing copied): a stale view, a run deleted or done, or one that
    /// executes in this process (`executing`: the controller's map of uids).
    pub(crate) fn nothing_to_do(
        &self,
        obj: &DynamicObject,
        executing: &Mutex<HashMap<String, ()>>,
    ) -> bool {
        let uid = obj.metadata.uid.as_deref().unwrap_or_default();
        self.stale(uid, obj)
            || obj.metadata.deletion_timestamp.is_some()
            || shape::done(obj.data.get("status")).is_some()
            || executing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(uid)
    }

    /// Whether `obj` is older than what this process last wrote for it (a stale view of
    /// the watch cache). Seeing the written version or a later one forgets the entry.
    pub(crate) fn stale(&self, uid: &str, obj: &DynamicObject) -> bool {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&mine) = w.get(uid) else {
            return false;
        };
        match obj
            .metadata
            .resource_version
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
        {
            Some(rv) if rv < mine => true,
            _ => {
                w.remove(uid);
                false
            }
        }
    }
}

/// Whether a failed API call may succeed when repeated: the server timed out (504), is
/// throttling (429) or failing (5xx), or the connection broke. Everything else (not found,
/// invalid, forbidden, conflict) is an answer. kube-apiserver answers a request that missed
/// its deadline with 504 and stores nothing (k8s.io/apiserver `finisher.go`), so a create or
/// patch that got one is repeated safely; a repeated create that did land meets 409.
pub(crate) fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// How long [`retry`] keeps repeating a transient failure.
pub(crate) const RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// Calls `f` until it succeeds, fails with an answer (not [`transient`]), or transient
/// failures went on for [`RETRY_FOR`] (backoff 100 ms doubling to 5 s). Every status
/// write and read a run depends on goes through this: a busy API server delays a run, it
/// never fails it or leaves it Running with nobody executing it.
pub(crate) async fn retry<T, F, Fut>(mut f: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        match f().await {
            Err(e) if transient(&e) && start.elapsed() < RETRY_FOR => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            r => return r,
        }
    }
}

/// Creates `obj` without reading the answer: the object the API returns is not parsed
/// (writes whose answer nobody reads: Events, Pods).
pub(crate) async fn create_unread(
    api: &Api<DynamicObject>,
    obj: &DynamicObject,
) -> Result<(), kube::Error> {
    let body = serde_json::to_vec(obj).map_err(kube::Error::SerdeError)?;
    let req = kube::core::Request::new(api.resource_url())
        .create(&kube::api::PostParams::default(), body)
        .map_err(kube::Error::BuildRequest)?;
    api.clone().into_client().request_text(req).await.map(drop)
}

/// Merge-patches the status of `name`; of the answer only the resourceVersion is read.
pub(crate) async fn patch_status_rv(
    api: &Api<DynamicObject>,
    name: &str,
    patch: &Value,
) -> Result<Option<String>, kube::Error> {
    #[derive(serde::Deserialize)]
    struct Answer {
        metadata: AnswerMeta,
    }
    #[derive(serde::Deserialize)]
    struct AnswerMeta {
        #[serde(rename = "resourceVersion")]
        resource_version: Option<String>,
    }
    let req = kube::core::Request::new(api.resource_url())
        .patch_subresource(
            "status",
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .map_err(kube::Error::BuildRequest)?;
    let a: Answer = api.clone().into_client().request(req).await?;
    Ok(a.metadata.resource_version)
}

/// A client over an in-process tower service (the embedded API server's router): no TCP,
/// no token.
pub fn in_process_client<S, B>(service: S, default_namespace: &str) -> Client
where
    S: tower_service::Service<http::Request<kube::client::Body>, Response = http::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::new(service, default_namespace)
}

/// A client from a kubeconfig file (its current context).
pub async fn client_from_kubeconfig(path: &Path) -> Result<Client, Error> {
    let err = |message: String| Error::Kubeconfig {
        path: path.display().to_string(),
        message,
    };
    let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))?;
    Client::try_from(cfg).map_err(Error::Kube)
}

pub(crate) fn gvk(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

pub(crate) fn pipelinerun_ar() -> ApiResource {
    gvk("tekton.dev", "v1", "PipelineRun", "pipelineruns")
}
pub(crate) fn taskrun_ar() -> ApiResource {
    gvk("tekton.dev", "v1", "TaskRun", "taskruns")
}
pub(crate) fn pod_ar() -> ApiResource {
    gvk("", "v1", "Pod", "pods")
}

/// The kinds of a namespace a run may refer to, in the order they are read: Pipelines
/// (a `pipelineRef` names them), Tasks (a `taskRef`, in the run or a Pipeline read), then
/// StepActions (a step's `ref`), and always ConfigMaps (feature flags, workspaces), Secrets
/// and ServiceAccounts (credentials).
fn catalog_kinds() -> [(ApiResource, Option<&'static str>); 6] {
    [
        (
            gvk("tekton.dev", "v1", "Pipeline", "pipelines"),
            Some("\"pipelineRef\""),
        ),
        (
            gvk("tekton.dev", "v1", "Task", "tasks"),
            Some("\"taskRef\""),
        ),
        (
            gvk("tekton.dev", "v1beta1", "StepAction", "stepactions"),
            Some("\"ref\""),
        ),
        (gvk("", "v1", "ConfigMap", "configmaps"), None),
        (gvk("", "v1", "Secret", "secrets"), None),
        (gvk("", "v1", "ServiceAccount", "serviceaccounts"), None),
    ]
}

/// The objects of a namespace a run (`subject`, the PipelineRun or TaskRun) can refer to,
/// read through the client. A Tekton kind is read only when the JSON of the run, or of
/// what was read before it, holds the key that refers to it (a child TaskRun carries its
/// Task's spec: no Pipelines, Tasks or StepActions to read). The test is on keys in the
/// text, so it may read a kind no reference needs, never skip one that is needed.
pub async fn catalog(client: &Client, namespace: &str, subject: &Value) -> Result<Catalog, Error> {
    let mut text = subject.to_string();
    let mut objects = Vec::new();
    let lp = ListParams::default();
    for (ar, needed_if) in &catalog_kinds() {
        if needed_if.is_some_and(|key| !text.contains(key)) {
            continue;
        }
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, ar);
        let list = match retry(|| api.list(&lp)).await {
            Ok(l) => l,
            // a kind the API does not serve (no StepAction CRD on a cluster) is empty
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(e.into()),
        };
        for o in list.items {
            let mut v = serde_json::to_value(&o)?;
            v["apiVersion"] = Value::String(ar.api_version.clone());
            v["kind"] = Value::String(ar.kind.clone());
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            if let Some(m) = v.as_object_mut() {
                m.remove("status");
            }
            if needed_if.is_some() {
                // a Pipeline's or Task's own references decide the kinds after it
                text.push_str(&v.to_string());
            }
            objects.push(Object::new(v));
        }
    }
    Ok(Catalog::from_objects(&objects))
}

/// Runs the controllers as `run` does, restarting them after an error or a panic (1 s
/// backoff doubling to 60 s, back to 1 s after a minute of running), so that one
/// controller's failure never ends the process that hosts them.
pub async fn run_supervised(client: Client, opts: Options) {
    run_supervised_as(client.clone(), client, opts).await
}

/// [`run_supervised`] of [`run_as`].
pub async fn run_supervised_as(client: Client, rollouts_client: Client, opts: Options) {
    let mut backoff = std::time::Duration::from_secs(1);
    loop {
        let started = std::time::Instant::now();
        match tokio::spawn(run_as(
            client.clone(),
            rollouts_client.clone(),
            opts.clone(),
        ))
        .await
        {
            Ok(Ok(())) => return,
            Ok(Err(e)) => eprintln!("error: controllers stopped: {e}; restarting in {backoff:?}"),
            Err(e) => eprintln!("error: controllers panicked: {e}; restarting in {backoff:?}"),
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            backoff = std::time::Duration::from_secs(1);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(60));
    }
}

/// Runs the PipelineRun and TaskRun controllers (with the EventListener and Rollout
/// controllers) until the client's API goes away for good or the future is dropped.
pub async fn run(client: Client, opts: Options) -> Result<(), Error> {
    run_as(client.clone(), client, opts).await
}

/// [`run`] with the Rollout controllers on a client of their own (`sluice serve` gives
/// each controller its ServiceAccount's identity).
pub async fn run_as(client: Client, rollouts_client: Client, opts: Options) -> Result<(), Error> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| {
        Error::Other(format!(
            "{}: cannot create the data directory: {e}",
            opts.data_dir.display()
        ))
    })?;
    if let Some(keep) = opts.keep_runs {
        // what piled up while no server ran; later, each finished run prunes its Pipeline
        match retention::prune(&client, None, keep).await {
            Ok(d) if !d.is_empty() => {
                println!("retention: deleted {} finished PipelineRuns", d.len())
            }
            Ok(_) => {}
            Err(e) => eprintln!("warning: retention: {e}"),
        }
    }
    let ctx = Ctx::new(client.clone(), opts);
    let prs: Api<DynamicObject> = Api::all_with(client.clone(), &pipelinerun_ar());
    let trs: Api<DynamicObject> = Api::all_with(client.clone(), &taskrun_ar());
    let data_dir = ctx.opts.data_dir.clone();
    let pr_ctl = runs_controller(
        prs,
        pipelinerun_ar(),
        ctx.pipelinerun_subs.clone(),
        &data_dir,
    )
    .run(pipelinerun::reconcile, error_policy, ctx.clone())
    .for_each(|_| futures::future::ready(()));
    let tr_ctl = runs_controller(trs, taskrun_ar(), ctx.taskrun_subs.clone(), &data_dir)
        .run(taskrun::reconcile, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let el_ctl = async {
        if ctx.opts.listeners_url.is_some() {
            let els: Api<DynamicObject> =
                Api::all_with(client.clone(), &triggers::eventlistener_ar());
            Controller::new_with(
                els,
                watcher::Config::default(),
                triggers::eventlistener_ar(),
            )
            .run(triggers::reconcile_listener, error_policy, ctx.clone())
            .for_each(|_| futures::future::ready(()))
            .await;
        }
    };
    let rollouts_ctx = Ctx::new(rollouts_client, ctx.opts.clone());
    let snapshots = snapshots::watch(client.clone(), ctx.snapshots.clone());
    futures::future::join3(
        futures::future::join3(pr_ctl, tr_ctl, el_ctl),
        rollouts::run(rollouts_ctx),
        snapshots,
    )
    .await;
    Ok(())
}

/// A controller of PipelineRuns or TaskRuns whose cache keeps only what a reconcile of a
/// finished run reads ([`trim_finished`]): finished runs pile up by the thousand and each
/// reconcile of one returns at once, so a full copy of each (spec, status with every
/// child's results) cost more memory than the API server's own copy (bench/serve.py (c)).
/// Its watch, before trimming, feeds `subs` (the runs executing follow objects through it)
/// and keeps the runs' files under `data_dir` ([`retention::RunFiles`]).
fn runs_controller(
    api: Api<DynamicObject>,
    ar: ApiResource,
    subs: Arc<subscribe::Subscriptions>,
    data_dir: &Path,
) -> Controller<DynamicObject> {
    let mut files = retention::RunFiles::new(data_dir, &ar.kind);
    let seen: OnEvent = Box::new(move |ev| files.see(ev));
    fed_controller(api, ar, trim_finished, Some(subs), Some(seen))
}

/// What a controller's watch does with each event before the controller sees it.
type OnEvent = Box<dyn FnMut(&watcher::Event<DynamicObject>) + Send>;

/// A controller over `api` whose cache holds each object as `trim` leaves it (the
/// reconciles read what they need beyond that from the API).
pub(crate) fn trimmed_controller(
    api: Api<DynamicObject>,
    ar: ApiResource,
    trim: fn(&mut DynamicObject),
) -> Controller<DynamicObject> {
    fed_controller(api, ar, trim, None, None)
}

/// [`trimmed_controller`] whose watch events, before trimming, also go to `subs`.
fn fed_controller(
    api: Api<DynamicObject>,
    ar: ApiResource,
    trim: fn(&mut DynamicObject),
    subs: Option<Arc<subscribe::Subscriptions>>,
    mut seen: Option<OnEvent>,
) -> Controller<DynamicObject> {
    use kube::runtime::WatchStreamExt;
    use kube::runtime::reflector::{self, store::Writer};
    let writer = Writer::<DynamicObject>::new(ar.clone());
    let reader = writer.as_reader();
    let events = watcher(api, watcher::Config::default()).inspect(move |ev| {
        if let (Some(subs), Ok(ev)) = (&subs, ev) {
            subs.feed(ev);
        }
        if let (Some(seen), Ok(ev)) = (&mut seen, ev) {
            seen(ev);
        }
    });
    let stream = reflector::reflector(writer, events.modify(trim)).applied_objects();
    Controller::for_stream_with(stream, reader, ar)
}

/// Drops from a finished run (`Succeeded` True or False) all but its identity,
/// resourceVersion, deletion state and conditions: what the run controllers read of it
/// before they return (`ctx.stale`, `deletionTimestamp`, `shape::done`).
pub fn trim_finished(obj: &mut DynamicObject) {
    if shape::done(obj.data.get("status")).is_none() {
        return;
    }
    let conditions = obj
        .data
        .get_mut("status")
        .and_then(|s| s.get_mut("conditions"))
        .map(Value::take)
        .unwrap_or(Value::Null);
    obj.data = serde_json::json!({"status": {"conditions": conditions}});
    let m = &mut obj.metadata;
    m.annotations = None;
    m.labels = None;
    m.managed_fields = None;
    m.owner_references = None;
}

fn error_policy(_obj: Arc<DynamicObject>, _err: &Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(std::time::Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                         "labels": {"tekton.dev/pipeline": "p"}, "annotations": {"a": "b"}},
            "spec": {"pipelineRef": {"name": "p"}},
            "status": status,
        }))
        .expect("object")
    }

    #[test]
    fn finished_runs_keep_what_a_reconcile_reads_and_running_ones_everything() {
        let done = serde_json::json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed"}],
                                      "childReferences": [{"name": "r-t"}], "startTime": "x"});
        let mut o = run(done);
        trim_finished(&mut o);
        assert_eq!(shape::done(o.data.get("status")), Some(false));
        assert_eq!(
            o.data,
            serde_json::json!({"status": {"conditions": [
            {"type": "Succeeded", "status": "False", "reason": "Failed"}]}})
        );
        assert_eq!(o.metadata.uid.as_deref(), Some("u"));
        assert_eq!(o.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(o.metadata.name.as_deref(), Some("r"));
        assert!(o.metadata.labels.is_none() && o.metadata.annotations.is_none());
        let running =
            serde_json::json!({"conditions": [{"type": "Succeeded", "status": "Unknown"}]});
        let mut o = run(running.clone());
        let before = o.clone();
        trim_finished(&mut o);
        assert_eq!(o.data, before.data);
        assert_eq!(o.metadata, before.metadata);
    }
}
