//! The Argo CD Application controller: renders each Application's sources
//! (`sluice_source`), compares them with the live objects (`sluice_gitops::diff`), runs
//! syncs (`sluice_gitops::sync` plans; manual through the `operation` field as `argocd app
//! sync` writes it, automated with prune and selfHeal), assesses health (`sluice_health`)
//! and writes `status` as Argo CD does (sync, health, resources, operationState, history,
//! reconciledAt, conditions), with Events. It talks to the API only through the client.
//!
//! Repositories are read through [`sluice_source::Sources`] (`AppOptions::sources`; the
//! server hands in sluice-git's `GitSources`): `status.sync.revision` is what it resolves.
//! [`webhook`] is Argo CD's `/api/webhook`, [`appset`] the ApplicationSet controller.

pub mod appset;
pub mod clusters;
pub mod desired;
pub mod project;
pub mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use sluice_gitops::depends;
use sluice_gitops::diff::{self, IgnoreRule};
use sluice_gitops::sync::{self as gsync, Action as TaskAction, DeletePolicy, Phase, SyncOptions};
use sluice_health::{HealthStatusCode, ResourceOverrides};
pub use sluice_source::Sources;
use sluice_source::cache::RenderCache;
use sluice_source::render::{RenderOptions, render_app};
use sluice_source::tracking::{Tracking, instance_name};

use crate::Error;
use clusters::{Clusters, Target};

/// The field manager of the controller's applies.
pub const FIELD_MANAGER: &str = "argocd-controller";
/// argocd-cm `timeout.reconciliation` default (Argo CD: 180 s).
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(180);
/// `spec.revisionHistoryLimit` default.
pub const DEFAULT_HISTORY: usize = 10;
/// How long one sync step may wait for its objects to become healthy.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(300);

/// How the Application controller runs.
#[derive(Clone)]
pub struct AppOptions {
    /// Where sources are read from (Git through sluice-git in `sluice serve`).
    pub sources: Arc<dyn Sources>,
    /// The namespace Argo CD's own objects (argocd-cm, projects) are looked for when not
    /// in the Application's namespace.
    pub controller_namespace: String,
    /// Where Argo CD's metrics are counted (`argocd_app_info` is read from the controller's
    /// cache at scrape time); none: not counted.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl AppOptions {
    pub fn new(sources: Arc<dyn Sources>) -> AppOptions {
        AppOptions {
            sources,
            controller_namespace: "argocd".into(),
            metrics: None,
        }
    }
}

/// State of the controller.
pub struct AppCtx {
    client: Client,
    opts: AppOptions,
    cache: RenderCache,
    /// Where Applications deploy: this API and the clusters of cluster Secrets.
    clusters: Clusters,
    /// Per Application uid: the hash of what a user may change and when it was last
    /// reconciled in full (own status writes do not trigger a new reconcile).
    seen: Mutex<HashMap<String, (u64, Instant)>>,
    /// Per Application uid: when it last found its `sluice.dev/depends-on` dependencies
    /// not ready (it is checked again every [`DEPENDENCY_RECHECK`]).
    waiting: Mutex<HashMap<String, Instant>>,
    /// Per Application uid: when its failed operation is retried (`retry` backoff).
    retrying: Mutex<HashMap<String, Instant>>,
    instance: String,
}

/// How often an Application waiting for its dependencies looks at them again.
pub const DEPENDENCY_RECHECK: Duration = Duration::from_secs(1);

/// The rendered manifests kept between refreshes (estimated bytes; Argo CD keeps them in
/// Redis for 24 h): 10,000 apps of a 2 KB ConfigMap take about 30 MB.
const RENDER_CACHE_BYTES: usize = 128 << 20;

pub(crate) fn app_ar() -> ApiResource {
    crate::gvk("argoproj.io", "v1alpha1", "Application", "applications")
}
fn project_ar() -> ApiResource {
    crate::gvk("argoproj.io", "v1alpha1", "AppProject", "appprojects")
}

/// What the controller's cache keeps of an Application: what a reconcile reads before it
/// gets the object as stored (metadata but managedFields, spec, operation, whether a
/// status exists) and what the metrics read (sync and health status). The status with
/// its resources, history and operation result, and the managedFields of every status
/// write, are most of an Application's size: 10,000 apps held 870 MiB with full copies.
pub fn trim_cached(obj: &mut DynamicObject) {
    obj.metadata.managed_fields = None;
    if let Some(st) = obj.data.get_mut("status") {
        let keep = json!({
            "sync": {"status": st.pointer("/sync/status").cloned().unwrap_or(Value::Null)},
            "health": {"status": st.pointer("/health/status").cloned().unwrap_or(Value::Null)},
        });
        *st = keep;
    }
}

/// Runs the Application controller until the API goes away or the future is dropped.
pub async fn run(client: Client, opts: AppOptions) -> Result<(), Error> {
    let ctx = Arc::new(AppCtx {
        client: client.clone(),
        opts,
        cache: RenderCache::new(RENDER_CACHE_BYTES),
        clusters: Clusters::new(client.clone()),
        seen: Mutex::new(HashMap::new()),
        waiting: Mutex::new(HashMap::new()),
        retrying: Mutex::new(HashMap::new()),
        instance: format!("sluice-{}", std::process::id()),
    });
    let apps: Api<DynamicObject> = Api::all_with(client, &app_ar());
    let controller = crate::trimmed_controller(apps, app_ar(), trim_cached);
    if let Some(m) = &ctx.opts.metrics {
        let store = controller.store();
        m.cd.set_apps(Box::new(move || store.state()));
    }
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
    Ok(())
}

/// [`run`], restarted after an error or a panic with a backoff.
pub async fn run_supervised(client: Client, opts: AppOptions) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match tokio::spawn(run(client.clone(), opts.clone())).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => eprintln!("error: application controller stopped: {e}"),
            Err(e) => eprintln!("error: application controller panicked: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

fn error_policy(_obj: Arc<DynamicObject>, err: &Error, _ctx: Arc<AppCtx>) -> Action {
    eprintln!("application controller: {err}");
    Action::requeue(Duration::from_secs(5))
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn now() -> String {
    sluice_pipeline::status::now()
}

fn hash_of(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// argocd-cm's `timeout.reconciliation` ("180s", "3m", "0" disables periodic refresh).
pub fn parse_resync(cm: Option<&Value>) -> Duration {
    let Some(t) = cm
        .and_then(|c| c.pointer("/data/timeout.reconciliation"))
        .and_then(Value::as_str)
    else {
        return DEFAULT_RESYNC;
    };
    let t = t.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().unwrap_or(180);
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "ms" => return Duration::from_millis(n.max(100)),
        _ => 180,
    };
    Duration::from_secs(secs)
}

/// The Application as stored (not the watch cache's trimmed copy), with its apiVersion and
/// kind.
async fn stored_app(ctx: &AppCtx, ns: &str, name: &str) -> Result<Option<Value>, Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &app_ar());
    Ok(get_opt(&api, name).await?.map(|mut app| {
        app["apiVersion"] = json!("argoproj.io/v1alpha1");
        app["kind"] = json!("Application");
        app
    }))
}

async fn get_opt(api: &Api<DynamicObject>, name: &str) -> Result<Option<Value>, Error> {
    match api.get_opt(name).await? {
        Some(o) => Ok(Some(serde_json::to_value(o)?)),
        None => Ok(None),
    }
}

impl AppCtx {
    async fn configmap(&self, ns: &str) -> Option<Value> {
        for n in [ns, self.opts.controller_namespace.as_str()] {
            let api: Api<DynamicObject> = Api::namespaced_with(
                self.client.clone(),
                n,
                &crate::gvk("", "v1", "ConfigMap", "configmaps"),
            );
            if let Ok(Some(v)) = get_opt(&api, "argocd-cm").await {
                return Some(v);
            }
        }
        None
    }

    async fn project(&self, ns: &str, name: &str) -> Result<Option<Value>, Error> {
        for n in [ns, self.opts.controller_namespace.as_str()] {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), n, &project_ar());
            match get_opt(&api, name).await {
                Ok(Some(v)) => return Ok(Some(v)),
                Ok(None) => {}
                Err(Error::Kube(kube::Error::Api(e))) if e.code == 404 || e.code == 403 => {}
                Err(e) => return Err(e),
            }
        }
        // `default` exists implicitly: Argo CD creates it on start
        Ok((name == "default").then(|| project::default_project(ns)))
    }
}

/// One resource of the comparison.
#[derive(Debug, Clone)]
struct Res {
    api_version: String,
    group: String,
    kind: String,
    namespace: String,
    name: String,
    target: Option<Value>,
    live: Option<Value>,
    modified: bool,
    hook: bool,
    health: Option<sluice_health::HealthStatus>,
    namespaced: bool,
}

impl Res {
    fn key(&self) -> (String, String, String, String) {
        (
            self.group.clone(),
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
        )
    }
    fn status_entry(&self) -> Value {
        let version = self
            .api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, v)| v);
        let mut e = json!({
            "group": self.group, "version": version, "kind": self.kind,
            "name": self.name,
            "status": if self.modified { "OutOfSync" } else { "Synced" },
        });
        if !self.namespace.is_empty() {
            e["namespace"] = json!(self.namespace);
        }
        if self.target.is_none() {
            e["requiresPruning"] = json!(true);
        }
        if let Some(h) = &self.health {
            e["health"] = json!({"status": h.status.as_str()});
            if !h.message.is_empty() {
                e["health"]["message"] = json!(h.message);
            }
        } else if self.live.is_none() {
            e["health"] = json!({"status": "Missing"});
        }
        e
    }
}

/// Everything one reconcile knows about an Application.
struct Comparison {
    resources: Vec<Res>,
    revisions: Vec<String>,
    sync_status: &'static str,
    health: HealthStatusCode,
    health_message: String,
}

struct Settings {
    tracking: Tracking,
    rules: Vec<IgnoreRule>,
    overrides: ResourceOverrides,
    render: RenderOptions,
    instance: String,
    /// The destination's API.
    target: Arc<Target>,
}

fn condition(type_: &str, message: &str) -> Value {
    json!({"type": type_, "message": message, "lastTransitionTime": now()})
}

/// One reconcile, its duration observed into `argocd_app_reconcile` (upstream observes every
/// refresh-queue item, `processAppRefreshQueueItem`).
async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<AppCtx>) -> Result<Action, Error> {
    let started = Instant::now();
    let metrics = ctx.opts.metrics.clone();
    let labels = metrics.as_ref().map(|_| {
        json!({"metadata": {"namespace": obj.metadata.namespace},
            "spec": {"destination": {"server": obj.data.pointer("/spec/destination/server")}}})
    });
    let r = reconcile_once(obj, ctx).await;
    if let (Some(m), Some(app)) = (metrics, labels) {
        m.cd.reconciled(&app, started.elapsed().as_secs_f64());
    }
    r
}

async fn reconcile_once(obj: Arc<DynamicObject>, ctx: Arc<AppCtx>) -> Result<Action, Error> {
    let mut app = serde_json::to_value(&*obj)?;
    app["apiVersion"] = json!("argoproj.io/v1alpha1");
    app["kind"] = json!("Application");
    let ns = s(&app, "/metadata/namespace").to_string();
    let name = s(&app, "/metadata/name").to_string();
    let uid = s(&app, "/metadata/uid").to_string();
    if app.pointer("/metadata/deletionTimestamp").is_some() {
        if let Ok(mut w) = ctx.waiting.lock() {
            w.remove(&uid);
        }
        // the cached copy has no status (trim_cached): the resources to delete are read
        // from the object as stored
        return match stored_app(&ctx, &ns, &name).await? {
            Some(fresh) => delete_app(&ctx, &fresh).await,
            None => Ok(Action::await_change()),
        };
    }
    let cm = ctx.configmap(&ns).await;
    let resync = parse_resync(cm.as_ref());
    let jitter = parse_jitter(cm.as_ref(), resync);
    // `argocd.argoproj.io/refresh: normal|hard` (a user, `argocd app get --refresh`, a push
    // webhook): reconcile now, asking the repositories again; removed below once done
    let refresh = app
        .pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // what a user changes; a status write of ours changes none of it (nor does the removal
    // of the refresh annotation)
    let mut annotations = app["metadata"]["annotations"].clone();
    if let Some(a) = annotations.as_object_mut() {
        a.remove(REFRESH_ANNOTATION);
        // what the notifications controller writes is no change to reconcile
        a.remove(sluice_notify::NOTIFIED_ANNOTATION);
    }
    let user = json!([
        app["spec"],
        app.get("operation"),
        annotations,
        app["metadata"]["labels"]
    ]);
    let h = hash_of(&user);
    // waiting for dependencies: looked at again every DEPENDENCY_RECHECK, whatever changed
    let wait_since = ctx
        .waiting
        .lock()
        .ok()
        .and_then(|w| w.get(&uid).map(Instant::elapsed));
    if let Some(since) = wait_since
        && since < DEPENDENCY_RECHECK
        && refresh.is_none()
    {
        return Ok(Action::requeue(DEPENDENCY_RECHECK - since));
    }
    // a failed operation waiting for its retry: reconciled when the backoff has passed
    let retry_at = ctx.retrying.lock().ok().and_then(|r| r.get(&uid).copied());
    if let Some(at) = retry_at
        && at > Instant::now()
        && refresh.is_none()
    {
        return Ok(Action::requeue(at - Instant::now()));
    }
    if refresh.is_none()
        && wait_since.is_none()
        && retry_at.is_none()
        && let Ok(seen) = ctx.seen.lock()
        && let Some((prev, at)) = seen.get(&uid)
        && *prev == h
        && at.elapsed() < resync
        && app.get("status").is_some()
    {
        return Ok(Action::requeue(
            resync.saturating_sub(at.elapsed()) + jitter_for(&uid, jitter),
        ));
    }
    if let Ok(mut w) = ctx.waiting.lock() {
        w.remove(&uid);
    }
    // a due retry (or sync window re-check) is this reconcile; it is set again if needed
    if let Ok(mut r) = ctx.retrying.lock()
        && r.get(&uid).is_some_and(|at| *at <= Instant::now())
    {
        r.remove(&uid);
    }
    if let Ok(mut seen) = ctx.seen.lock() {
        seen.insert(uid.clone(), (h, Instant::now()));
    }
    // the watch store may lag behind this controller's own writes (an operation consumed,
    // the status of the sync that consumed it): act on the object as stored, so a stale
    // copy never writes an older operationState or history over a newer one
    {
        let Some(fresh) = stored_app(&ctx, &ns, &name).await? else {
            return Ok(Action::await_change());
        };
        app = fresh;
        if app.pointer("/metadata/deletionTimestamp").is_some() {
            return delete_app(&ctx, &app).await;
        }
    }
    if refresh.is_some() {
        for url in repo_urls(&app["spec"]) {
            ctx.opts.sources.invalidate(&url);
        }
    }
    let mut settings = settings(&ctx, &app, cm.as_ref());
    let result = reconcile_app(&ctx, &app, &mut settings).await;
    let result = match result {
        Err(e) => {
            let st = json!({"conditions": [condition("ComparisonError", &e.to_string())],
                "sync": {"status": "Unknown"}, "health": {"status": "Unknown"}, "reconciledAt": now()});
            write_status(&ctx, &ns, &name, st).await
        }
        ok => ok,
    };
    if result.is_err() {
        // not reconciled: the retry must not be skipped as unchanged
        if let Ok(mut seen) = ctx.seen.lock() {
            seen.remove(&uid);
        }
        result?;
    }
    // refresh annotation: consumed (`argocd.argoproj.io/refresh`)
    if refresh.is_some() {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &app_ar());
        let p = json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": null}}});
        let _ = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&p))
            .await;
    }
    if ctx.waiting.lock().is_ok_and(|w| w.contains_key(&uid)) {
        return Ok(Action::requeue(DEPENDENCY_RECHECK));
    }
    if let Some(at) = ctx.retrying.lock().ok().and_then(|r| r.get(&uid).copied()) {
        return Ok(Action::requeue(
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100)),
        ));
    }
    if resync.is_zero() {
        Ok(Action::await_change())
    } else {
        Ok(Action::requeue(resync + jitter_for(&uid, jitter)))
    }
}

/// The annotation that asks for a refresh (`normal` or `hard`); the controller removes it
/// once the Application is refreshed (Argo CD `AnnotationKeyRefresh`).
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// The `repoURL`s of an Application's sources (`spec.source` and `spec.sources`).
pub fn repo_urls(spec: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let one = spec.get("source").into_iter();
    let many = spec
        .get("sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for src in one.chain(many) {
        if let Some(u) = src.get("repoURL").and_then(Value::as_str)
            && !u.is_empty()
            && !out.iter().any(|o| o == u)
        {
            out.push(u.to_owned());
        }
    }
    out
}

/// argocd-cm's `timeout.reconciliation.jitter` (Argo CD: 60 s by default), at most the
/// reconciliation timeout itself so a short timeout keeps polling often.
pub fn parse_jitter(cm: Option<&Value>, resync: Duration) -> Duration {
    let j = match cm
        .and_then(|c| c.pointer("/data/timeout.reconciliation.jitter"))
        .and_then(Value::as_str)
    {
        Some(t) => sluice_core::duration::parse_go_duration(t.trim())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(DEFAULT_JITTER, |s| Duration::from_secs_f64(s.min(86_400.0))),
        None => DEFAULT_JITTER,
    };
    j.min(resync)
}

/// argocd-cm `timeout.reconciliation.jitter` default.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(60);

/// A pseudo-random delay in `[0, jitter)` for one Application, different each call, so
/// Applications created together do not all refresh in the same instant.
fn jitter_for(uid: &str, jitter: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let ms = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    uid.hash(&mut h);
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        .hash(&mut h);
    Duration::from_millis(h.finish() % ms)
}

fn settings(ctx: &AppCtx, app: &Value, cm: Option<&Value>) -> Settings {
    let mut rules = Vec::new();
    for (i, r) in app
        .pointer("/spec/ignoreDifferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Ok(r) = IgnoreRule::from_value(r, &format!("spec.ignoreDifferences[{i}]")) {
            rules.push(r);
        }
    }
    if let Some(cm) = cm {
        rules.extend(IgnoreRule::from_configmap(cm).0);
    }
    let overrides = cm
        .map(|c| ResourceOverrides::from_configmap(c).0)
        .unwrap_or_default();
    let build_opts = cm
        .and_then(|c| c.pointer("/data/kustomize.buildOptions"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Settings {
        tracking: Tracking::from_configmap(cm),
        rules,
        overrides,
        render: RenderOptions {
            app_name: s(app, "/metadata/name").to_string(),
            dest_namespace: s(app, "/spec/destination/namespace").to_string(),
            kustomize_load_restrictor_none: build_opts.contains("LoadRestrictionsNone"),
            kustomize_enable_helm: build_opts.split_whitespace().any(|o| o == "--enable-helm"),
        },
        instance: instance_name(
            s(app, "/metadata/namespace"),
            s(app, "/metadata/name"),
            &ctx.opts.controller_namespace,
        ),
        target: ctx.clusters.local.clone(),
    }
}

/// Validates, renders, compares, syncs when asked, and writes the status.
/// `render_app` on a blocking thread: it reads repositories (Git fetches, Helm downloads,
/// credential lookups through the API) and must never hold a runtime worker, whose tasks
/// serve those very API requests in-process.
async fn render_blocking(
    ctx: &Arc<AppCtx>,
    spec: &Value,
    ropts: &RenderOptions,
) -> Result<Result<sluice_source::render::RenderedApp, sluice_source::Error>, Error> {
    let (ctx2, spec2, ropts) = (ctx.clone(), spec.clone(), ropts.clone());
    tokio::task::spawn_blocking(move || {
        render_app(
            &spec2,
            ctx2.opts.sources.as_ref(),
            &ropts,
            Some(&ctx2.cache),
        )
    })
    .await
    .map_err(|e| Error::Other(format!("render task: {e}")))
}

async fn reconcile_app(ctx: &Arc<AppCtx>, app: &Value, st: &mut Settings) -> Result<(), Error> {
    let ns = s(app, "/metadata/namespace").to_string();
    let name = s(app, "/metadata/name").to_string();
    let spec = &app["spec"];
    let old_status = app.get("status").cloned().unwrap_or(json!({}));
    let mut status = json!({"reconciledAt": now(), "conditions": []});
    for k in ["history", "operationState", "sourceType", "summary"] {
        if let Some(v) = old_status.get(k) {
            status[k] = v.clone();
        }
    }
    // project and destination
    let pname = match spec.get("project").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => p,
        _ => "default",
    };
    let invalid = |msg: String| -> Value {
        let mut st2 = status.clone();
        st2["conditions"] = json!([condition("InvalidSpecError", &msg)]);
        st2["sync"] = json!({"status": "Unknown"});
        st2["health"] = json!({"status": "Unknown"});
        st2
    };
    let Some(proj) = ctx.project(&ns, pname).await? else {
        let msg = format!("Application referencing project {pname} which does not exist");
        return write_invalid(ctx, app, invalid(msg)).await;
    };
    // the destination first: Argo CD resolves a destination name to its cluster's server
    // before the project's destinations are checked
    let d = &spec["destination"];
    let checked_spec = match ctx
        .clusters
        .resolve(
            &ctx.opts.controller_namespace,
            s(d, "/server"),
            s(d, "/name"),
        )
        .await
    {
        Ok((t, server)) => {
            st.target = t;
            let mut sp = spec.clone();
            sp["destination"]["server"] = json!(server);
            sp
        }
        Err(msg) => return write_invalid(ctx, app, invalid(msg)).await,
    };
    if let Err(msg) = project::check_app(&proj, &checked_spec) {
        return write_invalid(ctx, app, invalid(msg)).await;
    }
    let st: &Settings = st;
    let rendered = render_blocking(ctx, spec, &st.render).await?;
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => {
            let kind = match e {
                sluice_source::Error::Spec { .. } => "InvalidSpecError",
                _ => "ComparisonError",
            };
            let mut st2 = status.clone();
            st2["conditions"] = json!([condition(kind, &e.to_string())]);
            st2["sync"] = json!({"status": "Unknown"});
            st2["health"] = old_status
                .get("health")
                .cloned()
                .unwrap_or(json!({"status": "Unknown"}));
            record(ctx, app, "Warning", kind, &e.to_string()).await;
            return write_status(ctx, &ns, &name, st2).await;
        }
    };
    let mut cmp = compare(ctx, app, rendered.objects, rendered.revisions, st, &proj).await?;
    let mut conditions: Vec<Value> = Vec::new();
    for r in &cmp.resources {
        if r.target.is_some() && !project::kind_permitted(&proj, &r.group, &r.kind, r.namespaced) {
            conditions.push(condition(
                "SyncError",
                &format!(
                    "resource {}:{} is not permitted in project {pname}",
                    r.group, r.kind
                ),
            ));
        }
    }
    // `sluice.dev/depends-on`: a cycle is an invalid spec; dependencies not ready hold the
    // sync back (the operation stays pending, the automated sync is not started)
    let dep_wait = match dependency_gate(ctx, app).await? {
        DependencyGate::Cycle(msg) => {
            conditions.push(condition("InvalidSpecError", &msg));
            None
        }
        DependencyGate::Waiting(msg) => Some(msg),
        DependencyGate::Ready => None,
    };
    let waiting_state = |operation: Value, msg: &str| -> Value {
        let old = old_status.get("operationState");
        let started = match old {
            Some(o) if s(o, "/phase") == "Running" => o["startedAt"].clone(),
            _ => json!(now()),
        };
        json!({"phase": "Running", "message": msg, "operation": operation, "startedAt": started})
    };
    let mut waiting = false;
    // operation: manual sync, else automated
    let op = app.get("operation").filter(|o| !o.is_null()).cloned();
    let automated = spec
        .pointer("/syncPolicy/automated")
        .filter(|a| a.is_object())
        .cloned();
    let revision = cmp.revisions.first().cloned().unwrap_or_default();
    let mut synced = false;
    if let (Some(op), Some(msg)) = (&op, &dep_wait) {
        status["operationState"] = waiting_state(op.clone(), msg);
        waiting = true;
    } else if let Some((op, msg)) = op
        .as_ref()
        .and_then(|op| window_block(&proj, app, op).map(|m| (op, m)))
    {
        // an AppProject sync window holds the operation (SyncAppState: it stays Running)
        status["operationState"] = waiting_state(op.clone(), &msg);
        set_retry(ctx, app, Some(now_millis() + WINDOW_RECHECK_MS));
    } else if let Some((prev, at)) = op
        .as_ref()
        .and_then(|op| retry_pending(op, old_status.get("operationState")))
    {
        // a failed operation waits for its retry (`NextRetryAt(finishedAt, retryCount)`)
        status["operationState"] = prev;
        set_retry(ctx, app, Some(at));
    } else if let Some(op) = op {
        let sync_op = op.get("sync").cloned().unwrap_or(json!({}));
        let retry = op.get("retry").cloned();
        let retry_count = old_status
            .get("operationState")
            .filter(|p| s(p, "/phase") == "Running")
            .and_then(|p| p.get("retryCount"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        // `argocd app sync --revision R` and `argocd app rollback`: the operation names
        // another revision (and a rollback the source of the history entry); the sync
        // renders that, and the comparison after it is against the spec again (OutOfSync)
        let op_app = operation_app(app, &sync_op);
        let (op_cmp, op_revision) = match &op_app {
            Some(a2) if conditions.is_empty() => {
                let r = render_blocking(ctx, &a2["spec"], &st.render).await?;
                match r {
                    Ok(r) => {
                        let c = compare(ctx, a2, r.objects, r.revisions, st, &proj).await?;
                        let rev = c.revisions.first().cloned().unwrap_or_default();
                        (Some(c), rev)
                    }
                    Err(e) => {
                        conditions.push(condition("ComparisonError", &e.to_string()));
                        (None, revision.clone())
                    }
                }
            }
            _ => (None, revision.clone()),
        };
        let op_target = op_app.as_ref().unwrap_or(app);
        let mut state = if conditions.is_empty() {
            run_sync(
                ctx,
                op_target,
                op_cmp.as_ref().unwrap_or(&cmp),
                st,
                &sync_op,
                op.get("initiatedBy").cloned(),
                &op_revision,
            )
            .await?
        } else {
            failed_state(
                &sync_op,
                &op_revision,
                "one or more synchronization tasks are not valid",
            )
        };
        // the whole operation is kept, as Argo CD's `OperationState.Operation` (its `info`
        // lets `sluice app sync` recognise the result of its own request)
        if let Some(info) = op.get("info") {
            state["operation"]["info"] = info.clone();
        }
        synced = true;
        if apply_retry(ctx, app, &mut state, retry.as_ref(), retry_count) {
            // Running again after the backoff: the operation stays
            status["operationState"] = state;
        } else {
            // the operation is consumed, as Argo CD clears it
            let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &app_ar());
            let _ = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"operation": null})),
                )
                .await;
            finish_operation(ctx, op_target, &mut status, state, &op_revision, &cmp).await;
        }
    } else if let Some(auto) = automated
        && cmp.sync_status == "OutOfSync"
        && conditions.is_empty()
    {
        let prev_rev = s(&old_status, "/operationState/syncResult/revision");
        let prev_phase = s(&old_status, "/operationState/phase");
        let self_heal = auto
            .get("selfHeal")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let allow_empty = auto
            .get("allowEmpty")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let prune = auto.get("prune").and_then(Value::as_bool).unwrap_or(false);
        let has_targets = cmp.resources.iter().any(|r| r.target.is_some() && !r.hook);
        // nothing a sync would change: only objects to prune, and pruning is off for them
        // (Argo CD: "need to prune extra resources only but automated prune is disabled")
        let only_unprunable = cmp
            .resources
            .iter()
            .filter(|r| r.modified && !r.hook)
            .all(|r| {
                r.target.is_none()
                    && (!prune
                        || r.live
                            .as_ref()
                            .is_some_and(|l| SyncOptions::of_object(l).prune == Some(false)))
            });
        // Argo CD: no second automated sync of a revision already attempted, unless
        // self-heal (live drift) applies and the last attempt did not fail
        let attempted = prev_rev == revision && !prev_rev.is_empty();
        let go = (!attempted || (self_heal && prev_phase != "Failed" && prev_phase != "Error"))
            && (has_targets || allow_empty || !prune)
            && !only_unprunable;
        let sync_op = json!({"revision": revision, "prune": prune,
            "syncOptions": spec.pointer("/syncPolicy/syncOptions").cloned().unwrap_or(json!([]))});
        let automated_op = json!({"initiatedBy": {"automated": true}});
        if go && window_block(&proj, app, &automated_op).is_some() {
            // autoSync: "Sync prevented by sync window", looked at again later
            set_retry(ctx, app, Some(now_millis() + WINDOW_RECHECK_MS));
        } else if go && let Some(msg) = &dep_wait {
            let operation = json!({"sync": sync_op,
                "initiatedBy": {"username": "automated", "automated": true}});
            status["operationState"] = waiting_state(operation, msg);
            waiting = true;
        } else if go {
            let mut state = run_sync(
                ctx,
                app,
                &cmp,
                st,
                &sync_op,
                Some(json!({"username": "automated", "automated": true})),
                &revision,
            )
            .await?;
            synced = true;
            let retry = spec.pointer("/syncPolicy/retry").cloned();
            if apply_retry(ctx, app, &mut state, retry.as_ref(), 0) {
                // as Argo CD's autoSync, the operation (with the policy's retry) stays
                // until it succeeds or runs out of retries
                let operation = json!({"sync": sync_op, "retry": retry,
                    "initiatedBy": {"username": "automated", "automated": true}});
                let api: Api<DynamicObject> =
                    Api::namespaced_with(ctx.client.clone(), &ns, &app_ar());
                let _ = api
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(&json!({ "operation": operation })),
                    )
                    .await;
                status["operationState"] = state;
            } else {
                finish_operation(ctx, app, &mut status, state, &revision, &cmp).await;
            }
        }
    }
    if synced {
        let objs = render_blocking(ctx, spec, &st.render)
            .await?
            .map(|r| (r.objects, r.revisions));
        if let Ok((objs, revs)) = objs {
            cmp = compare(ctx, app, objs, revs, st, &proj).await?;
        }
    }
    if waiting && let Ok(mut w) = ctx.waiting.lock() {
        w.insert(s(app, "/metadata/uid").to_string(), Instant::now());
    }
    // status
    let resources: Vec<Value> = cmp
        .resources
        .iter()
        .filter(|r| !r.hook)
        .map(Res::status_entry)
        .collect();
    status["resources"] = Value::Array(resources);
    let mut sync =
        json!({"status": cmp.sync_status, "comparedTo": {"destination": spec["destination"]}});
    if spec.get("sources").is_some_and(|v| v.is_array()) {
        sync["revisions"] = json!(cmp.revisions);
        sync["comparedTo"]["sources"] = spec["sources"].clone();
    } else {
        sync["revision"] = json!(cmp.revisions.first().cloned().unwrap_or_default());
        sync["comparedTo"]["source"] = spec["source"].clone();
    }
    status["sync"] = sync;
    status["health"] = json!({"status": cmp.health.as_str()});
    if !cmp.health_message.is_empty() {
        status["health"]["message"] = json!(cmp.health_message);
    }
    status["conditions"] = Value::Array(conditions);
    status["sourceType"] = json!(source_type(spec));
    // what the web UI diffs: the desired and live manifests of the OutOfSync resources
    let diffs: Vec<Value> = cmp
        .resources
        .iter()
        .filter(|r| r.modified && !r.hook && r.target.is_some())
        .map(|r| {
            desired::entry(
                &r.group,
                &r.api_version,
                &r.kind,
                &r.namespace,
                &r.name,
                r.target.as_ref(),
                r.live.as_ref(),
            )
        })
        .collect();
    desired::store(&ctx.client, app, diffs).await;
    let old_sync = s(&old_status, "/sync/status");
    let old_health = s(&old_status, "/health/status");
    if old_sync != cmp.sync_status || old_health != cmp.health.as_str() {
        record(
            ctx,
            app,
            "Normal",
            "ResourceUpdated",
            &format!(
                "Updated sync status: {} -> {}; health status: {} -> {}",
                if old_sync.is_empty() {
                    "Unknown"
                } else {
                    old_sync
                },
                cmp.sync_status,
                if old_health.is_empty() {
                    "Unknown"
                } else {
                    old_health
                },
                cmp.health.as_str()
            ),
        )
        .await;
    }
    write_status(ctx, &ns, &name, status).await
}

enum DependencyGate {
    Ready,
    Waiting(String),
    Cycle(String),
}

/// Reads the Applications `app` depends on (`sluice.dev/depends-on`) and, for the cycle
/// check, the ones they depend on in turn (at most `depends::MAX_GRAPH`).
async fn dependency_gate(ctx: &AppCtx, app: &Value) -> Result<DependencyGate, Error> {
    let ns = s(app, "/metadata/namespace").to_string();
    let deps = depends::parse(app, &ns);
    if deps.is_empty() {
        return Ok(DependencyGate::Ready);
    }
    let start = (ns.clone(), s(app, "/metadata/name").to_string());
    let fetch = |key: (String, String)| async move {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &key.0, &app_ar());
        match api.get_opt(&key.1).await? {
            Some(o) => Ok::<_, Error>(Some(serde_json::to_value(&o)?)),
            None => Ok(None),
        }
    };
    let mut read: Vec<((String, String), Option<Value>)> = Vec::new();
    for key in &deps {
        read.push((key.clone(), fetch(key.clone()).await?));
    }
    let mut edges: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    edges.insert(start.clone(), deps.clone());
    let mut queue: Vec<((String, String), Option<Value>)> = read.clone();
    while let Some((key, v)) = queue.pop() {
        if edges.contains_key(&key) || edges.len() >= depends::MAX_GRAPH {
            continue;
        }
        let next = v.map(|v| depends::parse(&v, &key.0)).unwrap_or_default();
        for n in &next {
            if !edges.contains_key(n) && !queue.iter().any(|(q, _)| q == n) {
                queue.push((n.clone(), fetch(n.clone()).await?));
            }
        }
        edges.insert(key, next);
    }
    if let Some(cycle) = depends::find_cycle(&start, &edges) {
        return Ok(DependencyGate::Cycle(depends::cycle_message(&cycle, &ns)));
    }
    Ok(match depends::waiting(&read, &ns) {
        Some(msg) => DependencyGate::Waiting(msg),
        None => DependencyGate::Ready,
    })
}

/// The Application as an operation asks to sync it: `sync.source` (a rollback's history
/// entry) replaces the single source, `sync.revision` its `targetRevision`; `None` when
/// the operation asks for the spec's own (or the app has several sources).
fn operation_app(app: &Value, sync_op: &Value) -> Option<Value> {
    let src = app.pointer("/spec/source").filter(|v| v.is_object())?;
    let mut new_src = match sync_op.get("source") {
        Some(v) if v.is_object() => v.clone(),
        _ => src.clone(),
    };
    let target = s(&new_src, "/targetRevision").to_string();
    let rev = s(sync_op, "/revision");
    let same_target =
        |a: &str, b: &str| a == b || (matches!(a, "" | "HEAD") && matches!(b, "" | "HEAD"));
    if !rev.is_empty() && !same_target(rev, &target) {
        new_src["targetRevision"] = json!(rev);
    }
    if &new_src == src {
        return None;
    }
    let mut a2 = app.clone();
    a2["spec"]["source"] = new_src;
    Some(a2)
}

fn source_type(spec: &Value) -> &'static str {
    let src = spec
        .get("source")
        .or_else(|| spec.pointer("/sources/0"))
        .cloned()
        .unwrap_or(Value::Null);
    if src.get("helm").is_some() || src.get("chart").is_some() {
        "Helm"
    } else if src.get("kustomize").is_some() {
        "Kustomize"
    } else {
        "Directory"
    }
}

async fn write_invalid(ctx: &AppCtx, app: &Value, st: Value) -> Result<(), Error> {
    let msg = st
        .pointer("/conditions/0/message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    record(ctx, app, "Warning", "InvalidSpecError", &msg).await;
    write_status(
        ctx,
        s(app, "/metadata/namespace"),
        s(app, "/metadata/name"),
        st,
    )
    .await
}

async fn record(ctx: &AppCtx, app: &Value, type_: &str, reason: &str, message: &str) {
    crate::events::record_with(
        &ctx.client,
        &ctx.instance,
        "argocd-application-controller",
        app,
        type_,
        reason,
        message,
    )
    .await;
}

/// Writes `status` (the status subresource; the main resource when the CRD has none, as
/// Argo CD's own CRD).
async fn write_status(ctx: &AppCtx, ns: &str, name: &str, status: Value) -> Result<(), Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &app_ar());
    let body = json!({"status": status});
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => {
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&body))
                .await
            {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()), // deleted meanwhile
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Targets prepared as Argo CD does before comparing: the destination namespace on
/// namespaced objects without one, the tracking label/annotation.
async fn compare(
    _ctx: &AppCtx,
    app: &Value,
    objects: Vec<Value>,
    revisions: Vec<String>,
    st: &Settings,
    _project: &Value,
) -> Result<Comparison, Error> {
    let dest_ns = s(app, "/spec/destination/namespace").to_string();
    let mut by_key: BTreeMap<(String, String, String, String), Res> = BTreeMap::new();
    let mut order: Vec<(String, String, String, String)> = Vec::new();
    let mut kinds: BTreeMap<(String, String), bool> = BTreeMap::new();
    for mut t in objects {
        let av = s(&t, "/apiVersion").to_string();
        let kind = s(&t, "/kind").to_string();
        let known = st.target.kind(&av, &kind).await;
        let namespaced = known.as_ref().is_none_or(|k| k.1);
        if namespaced {
            if s(&t, "/metadata/namespace").is_empty() && !dest_ns.is_empty() {
                t["metadata"]["namespace"] = json!(dest_ns);
            }
        } else if let Some(m) = t["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        let hook = gsync::is_hook(&t);
        if !hook {
            st.tracking.set(&mut t, &st.instance);
        }
        let group = av.split_once('/').map_or("", |(g, _)| g).to_string();
        let r = Res {
            api_version: av.clone(),
            group,
            kind: kind.clone(),
            namespace: s(&t, "/metadata/namespace").to_string(),
            name: s(&t, "/metadata/name").to_string(),
            target: Some(t),
            live: None,
            modified: true,
            hook,
            health: None,
            namespaced,
        };
        if known.is_some() {
            kinds.insert((av, kind), namespaced);
        }
        let k = r.key();
        if !by_key.contains_key(&k) {
            order.push(k.clone());
        }
        by_key.insert(k, r);
    }
    // the kinds seen before (resources of the last status): pruning candidates
    for e in app
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let g = s(e, "/group");
        let v = s(e, "/version");
        let av = if g.is_empty() {
            v.to_string()
        } else {
            format!("{g}/{v}")
        };
        let kind = s(e, "/kind").to_string();
        if let Some((_, namespaced)) = st.target.kind(&av, &kind).await {
            kinds.insert((av, kind), namespaced);
        }
    }
    // live objects this app owns, per kind
    let label_sel = match st.tracking.method {
        sluice_source::tracking::Method::Label => {
            Some(format!("{}={}", st.tracking.label_key, st.instance))
        }
        _ => None,
    };
    for (av, kind) in kinds.keys() {
        let Some((ar, _)) = st.target.kind(av, kind).await else {
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(st.target.client.clone(), &ar);
        let lp = match &label_sel {
            Some(l) => ListParams::default().labels(l),
            None => ListParams::default(),
        };
        let list = match api.list(&lp).await {
            Ok(l) => l,
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 405 => continue,
            Err(e) => return Err(e.into()),
        };
        for o in list.items {
            let mut v = serde_json::to_value(&o)?;
            v["apiVersion"] = json!(av);
            v["kind"] = json!(kind);
            if st.tracking.owner(&v).as_deref() != Some(st.instance.as_str()) {
                continue;
            }
            let group = av.split_once('/').map_or("", |(g, _)| g).to_string();
            let k = (
                group.clone(),
                kind.clone(),
                s(&v, "/metadata/namespace").to_string(),
                s(&v, "/metadata/name").to_string(),
            );
            match by_key.get_mut(&k) {
                Some(r) => r.live = Some(v),
                None => {
                    if gsync::is_hook(&v) {
                        continue;
                    }
                    order.push(k.clone());
                    by_key.insert(
                        k.clone(),
                        Res {
                            api_version: av.clone(),
                            group,
                            kind: kind.clone(),
                            namespace: k.2.clone(),
                            name: k.3.clone(),
                            target: None,
                            live: Some(v),
                            modified: true,
                            hook: false,
                            health: None,
                            namespaced: !k.2.is_empty(),
                        },
                    );
                }
            }
        }
    }
    // targets not found among owned objects may exist unowned
    for k in &order {
        let Some(r) = by_key.get_mut(k) else { continue };
        if r.live.is_some() || r.target.is_none() || r.hook || r.name.is_empty() {
            continue;
        }
        if let Some((ar, namespaced)) = st.target.kind(&r.api_version, &r.kind).await {
            let api = st.target.api(&ar, namespaced, &r.namespace);
            if let Ok(Some(mut v)) = get_opt(&api, &r.name).await {
                v["apiVersion"] = json!(r.api_version);
                v["kind"] = json!(r.kind);
                r.live = Some(v);
            }
        }
    }
    let mut out = Vec::new();
    let mut any_modified = false;
    let mut health = HealthStatusCode::Healthy;
    let mut health_message = String::new();
    for k in order {
        let Some(mut r) = by_key.remove(&k) else {
            continue;
        };
        if !r.hook {
            r.modified = diff::diff(r.target.as_ref(), r.live.as_ref(), &st.rules).modified;
            if r.modified {
                any_modified = true;
            }
            r.health = match &r.live {
                Some(l) => sluice_health::resource_health(l, &st.overrides),
                None => Some(sluice_health::HealthStatus::new(
                    HealthStatusCode::Missing,
                    "",
                )),
            };
            // objects to be pruned do not count toward the app's health
            if r.target.is_some()
                && let Some(h) = &r.health
                && health.is_worse(h.status)
            {
                health = h.status;
                health_message = h.message.clone();
            }
        }
        out.push(r);
    }
    Ok(Comparison {
        resources: out,
        revisions,
        sync_status: if any_modified { "OutOfSync" } else { "Synced" },
        health,
        health_message: if health == HealthStatusCode::Healthy {
            String::new()
        } else {
            health_message
        },
    })
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How often an Application held by a sync window is looked at again.
const WINDOW_RECHECK_MS: i64 = 10_000;

/// The message when the project's sync windows block `op` now (`syncWindowPreventsSync`:
/// manual unless the operation was initiated by the automated policy).
fn window_block(proj: &Value, app: &Value, op: &Value) -> Option<String> {
    let windows = sluice_gitops::windows::matching(proj, app);
    if windows.is_empty() {
        return None;
    }
    let manual = op
        .pointer("/initiatedBy/automated")
        .and_then(Value::as_bool)
        != Some(true);
    match sluice_gitops::windows::can_sync(&windows, manual, now_millis() / 1000) {
        Ok(true) => None,
        Ok(false) => Some("Sync operation blocked by sync window".into()),
        Err(e) => Some(format!("Sync operation blocked by sync window: {e}")),
    }
}

/// The previous operation state, and when it is retried, of an operation waiting for its
/// retry: Running, finished, retried before, and `NextRetryAt` still ahead.
fn retry_pending(op: &Value, prev: Option<&Value>) -> Option<(Value, i64)> {
    let prev = prev?;
    let count = prev.get("retryCount").and_then(Value::as_i64).unwrap_or(0);
    if s(prev, "/phase") != "Running" || count == 0 {
        return None;
    }
    let finished = sluice_rollouts::analysis::parse_rfc3339(s(prev, "/finishedAt"))?;
    let at = sluice_gitops::retry::next_retry_at(op.get("retry"), finished, count).ok()?;
    (at > now_millis()).then(|| (prev.clone(), at))
}

/// Remembers (or forgets) when an Application's operation is retried.
fn set_retry(ctx: &AppCtx, app: &Value, at: Option<i64>) {
    let uid = s(app, "/metadata/uid").to_string();
    if let Ok(mut r) = ctx.retrying.lock() {
        match at {
            Some(at) => {
                let wait = Duration::from_millis((at - now_millis()).max(0) as u64);
                r.insert(uid, Instant::now() + wait);
            }
            None => {
                r.remove(&uid);
            }
        }
    }
}

/// Argo CD's retry of a failed operation (`sluice_gitops::retry::decide`): true when
/// `state` goes back to Running for another attempt.
fn apply_retry(
    ctx: &AppCtx,
    app: &Value,
    state: &mut Value,
    retry: Option<&Value>,
    retry_count: i64,
) -> bool {
    use sluice_gitops::retry::{Decision, decide, next_retry_at};
    let now_ms = now_millis();
    match decide(
        retry,
        s(state, "/phase"),
        s(state, "/message"),
        retry_count,
        now_ms,
    ) {
        Decision::Retry { count, message } => {
            state["phase"] = json!("Running");
            state["message"] = json!(message);
            state["retryCount"] = json!(count);
            state["finishedAt"] = json!(now());
            // the wait is measured from finishedAt (whole seconds) as it is read back
            let finished =
                sluice_rollouts::analysis::parse_rfc3339(s(state, "/finishedAt")).unwrap_or(now_ms);
            set_retry(ctx, app, next_retry_at(retry, finished, count).ok());
            true
        }
        Decision::Done { phase, message } => {
            state["phase"] = json!(phase);
            state["message"] = json!(message);
            if retry_count > 0 {
                state["retryCount"] = json!(retry_count);
            }
            set_retry(ctx, app, None);
            false
        }
    }
}

fn failed_state(sync_op: &Value, revision: &str, message: &str) -> Value {
    json!({"phase": "Failed", "message": message, "startedAt": now(), "finishedAt": now(),
        "operation": {"sync": sync_op}, "syncResult": {"revision": revision, "resources": []}})
}

fn result_entry(t: &gsync::Task, api_version: &str, status: &str, message: &str) -> Value {
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
    let mut e = json!({"group": t.group, "version": version, "kind": t.kind,
        "namespace": t.namespace, "name": t.name, "status": status, "message": message,
        "syncPhase": t.phase.as_str()});
    if t.action == TaskAction::Hook {
        e["hookType"] = json!(t.phase.as_str());
    }
    e
}

/// Applies one object (server-side apply as the controller's field manager, with the
/// last-applied annotation kubectl would write; `Replace=true`: replace or create).
async fn apply_one(
    tg: &Target,
    obj: &Value,
    opts: &SyncOptions,
    dry_run: bool,
) -> Result<Value, String> {
    let av = s(obj, "/apiVersion");
    let kind = s(obj, "/kind");
    let Some((ar, namespaced)) = tg.kind(av, kind).await else {
        return Err(format!(
            "the server could not find the requested resource ({av} {kind})"
        ));
    };
    let ns = s(obj, "/metadata/namespace");
    let name = s(obj, "/metadata/name");
    let api = tg.api(&ar, namespaced, ns);
    let mut body = obj.clone();
    if !opts.server_side_apply.unwrap_or(false) {
        let mut la = obj.clone();
        if let Some(a) = la
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.remove(diff::LAST_APPLIED);
        }
        body["metadata"]["annotations"][diff::LAST_APPLIED] = json!(la.to_string());
    }
    let mut pp = PatchParams::apply(FIELD_MANAGER).force();
    if dry_run {
        pp = pp.dry_run();
    }
    let res = if opts.replace == Some(true) && !dry_run {
        let dynobj: DynamicObject =
            serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            Some(cur) => {
                let mut d = dynobj;
                d.metadata.resource_version = cur.metadata.resource_version;
                api.replace(name, &PostParams::default(), &d).await
            }
            None => api.create(&PostParams::default(), &dynobj).await,
        }
    } else {
        api.patch(name, &pp, &Patch::Apply(&body)).await
    };
    match res {
        Ok(o) => serde_json::to_value(o).map_err(|e| e.to_string()),
        Err(kube::Error::Api(e)) => Err(e.message),
        Err(e) => Err(e.to_string()),
    }
}

async fn delete_one(tg: &Target, obj: &Value, policy: Option<&str>) -> Result<(), String> {
    let av = s(obj, "/apiVersion");
    let kind = s(obj, "/kind");
    let Some((ar, namespaced)) = tg.kind(av, kind).await else {
        return Ok(());
    };
    let api = tg.api(&ar, namespaced, s(obj, "/metadata/namespace"));
    let dp = match policy {
        Some("background") => DeleteParams::background(),
        Some("orphan") => DeleteParams::orphan(),
        _ => DeleteParams::foreground(),
    };
    match api.delete(s(obj, "/metadata/name"), &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(kube::Error::Api(e)) => Err(e.message),
        Err(e) => Err(e.to_string()),
    }
}

async fn health_of(
    tg: &Target,
    obj: &Value,
    overrides: &ResourceOverrides,
) -> Option<sluice_health::HealthStatus> {
    let av = s(obj, "/apiVersion");
    let kind = s(obj, "/kind");
    let (ar, namespaced) = tg.kind(av, kind).await?;
    let api = tg.api(&ar, namespaced, s(obj, "/metadata/namespace"));
    match get_opt(&api, s(obj, "/metadata/name")).await {
        Ok(Some(mut v)) => {
            v["apiVersion"] = json!(av);
            v["kind"] = json!(kind);
            sluice_health::resource_health(&v, overrides)
        }
        Ok(None) => Some(sluice_health::HealthStatus::new(
            HealthStatusCode::Missing,
            "",
        )),
        Err(_) => None,
    }
}

/// Runs one sync: plan, then each step (phase and wave) applied and waited for, hooks
/// created and judged, SyncFail hooks on failure. Returns the `operationState`.
async fn run_sync(
    _ctx: &AppCtx,
    app: &Value,
    cmp: &Comparison,
    st: &Settings,
    sync_op: &Value,
    initiated_by: Option<Value>,
    revision: &str,
) -> Result<Value, Error> {
    let started = now();
    let dry_run = sync_op
        .get("dryRun")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut app_opts: Vec<String> = app
        .pointer("/spec/syncPolicy/syncOptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    app_opts.extend(
        sync_op
            .get("syncOptions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string)),
    );
    let app_sync_opts = SyncOptions::parse(app_opts.iter().map(String::as_str));
    // `--resource G:K:NS/N`: only these
    let only: Vec<(String, String, String)> = sync_op
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            (
                s(r, "/group").into(),
                s(r, "/kind").into(),
                s(r, "/name").into(),
            )
        })
        .collect();
    let resources: Vec<gsync::Resource> = cmp
        .resources
        .iter()
        .filter(|r| {
            only.is_empty()
                || only
                    .iter()
                    .any(|(g, k, n)| *g == r.group && *k == r.kind && *n == r.name)
        })
        .map(|r| gsync::Resource {
            target: r.target.clone(),
            live: r.live.clone(),
            synced: !r.modified,
        })
        .collect();
    let plan_opts = gsync::PlanOptions {
        prune: sync_op
            .get("prune")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        app: app_sync_opts.clone(),
    };
    let tasks = gsync::plan(&resources, &plan_opts);
    let api_version_of = |t: &gsync::Task| -> String {
        t.target
            .as_ref()
            .or(t.live.as_ref())
            .map(|o| s(o, "/apiVersion").to_string())
            .unwrap_or_default()
    };
    let mut results: Vec<Value> = Vec::new();
    let mut failure: Option<String> = None;
    // CreateNamespace=true: the destination namespace first
    let dest_ns = s(app, "/spec/destination/namespace");
    if app_sync_opts.create_namespace == Some(true) && !dest_ns.is_empty() && !dry_run {
        let mut nsobj =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": dest_ns}});
        if let Some(m) = app.pointer("/spec/syncPolicy/managedNamespaceMetadata") {
            for k in ["labels", "annotations"] {
                if let Some(v) = m.get(k) {
                    nsobj["metadata"][k] = v.clone();
                }
            }
        }
        let (ar, _) = st
            .target
            .kind("v1", "Namespace")
            .await
            .ok_or_else(|| Error::Other("the API serves no Namespaces".into()))?;
        let api: Api<DynamicObject> = Api::all_with(st.target.client.clone(), &ar);
        if api.get_opt(dest_ns).await?.is_none()
            && let Err(e) = apply_one(&st.target, &nsobj, &SyncOptions::default(), false).await
        {
            failure = Some(format!("namespace {dest_ns}: {e}"));
        }
    }
    let mut sync_fail_hooks = Vec::new();
    let mut hooks_to_delete_on_success: Vec<Value> = Vec::new();
    for step in gsync::steps(&tasks) {
        if failure.is_some() {
            break;
        }
        if step[0].phase == Phase::SyncFail {
            sync_fail_hooks.extend(step.iter().cloned());
            continue;
        }
        let mut applied: Vec<(Value, bool)> = Vec::new();
        for t in step {
            let av = api_version_of(t);
            let opts = merge_opts(&app_sync_opts, &t.options);
            match t.action {
                TaskAction::Apply => match apply_one(
                    &st.target,
                    t.target.as_ref().unwrap_or(&Value::Null),
                    &opts,
                    dry_run,
                )
                .await
                {
                    Ok(v) => {
                        results.push(result_entry(
                            t,
                            &av,
                            "Synced",
                            &format!("{} configured", t.kind.to_lowercase()),
                        ));
                        applied.push((v, false));
                    }
                    Err(e) => {
                        results.push(result_entry(t, &av, "SyncFailed", &e));
                        failure = Some(format!("one or more objects failed to apply, reason: {e}"));
                    }
                },
                TaskAction::Prune => {
                    if opts.delete == Some(false) {
                        results.push(result_entry(t, &av, "PruneSkipped", "ignored (no delete)"));
                        continue;
                    }
                    let res = if dry_run {
                        Ok(())
                    } else {
                        delete_one(
                            &st.target,
                            t.live.as_ref().unwrap_or(&Value::Null),
                            opts.prune_propagation_policy.as_deref(),
                        )
                        .await
                    };
                    match res {
                        Ok(()) => results.push(result_entry(t, &av, "Pruned", "pruned")),
                        Err(e) => {
                            results.push(result_entry(t, &av, "SyncFailed", &e));
                            failure =
                                Some(format!("one or more objects failed to prune, reason: {e}"));
                        }
                    }
                }
                TaskAction::PruneSkipped => {
                    results.push(result_entry(
                        t,
                        &av,
                        "PruneSkipped",
                        "ignored (requires pruning)",
                    ));
                }
                TaskAction::Hook => {
                    if dry_run {
                        continue;
                    }
                    match run_hook(&st.target, t, st).await {
                        Ok(v) => {
                            let mut e = result_entry(t, &av, "Synced", "");
                            e["hookPhase"] = json!("Running");
                            results.push(e);
                            applied.push((v, true));
                        }
                        Err(e) => {
                            let mut r = result_entry(t, &av, "SyncFailed", &e);
                            r["hookPhase"] = json!("Failed");
                            results.push(r);
                            failure = Some(e);
                        }
                    }
                }
            }
        }
        if failure.is_some() || dry_run {
            continue;
        }
        // the next step waits for this one to be healthy (hooks: to complete)
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut pending: Vec<(Value, bool)> = applied;
        while !pending.is_empty() {
            let mut still = Vec::new();
            for (o, is_hook) in pending {
                let h = health_of(&st.target, &o, &st.overrides).await;
                let code = h.as_ref().map(|h| h.status);
                match code {
                    None | Some(HealthStatusCode::Healthy) => {
                        if is_hook {
                            set_hook_phase(&mut results, &o, "Succeeded", "");
                            let pol = gsync::delete_policies(&o);
                            if pol.contains(&DeletePolicy::HookSucceeded) {
                                hooks_to_delete_on_success.push(o);
                            }
                        }
                    }
                    Some(HealthStatusCode::Degraded) if is_hook => {
                        let msg = h.map(|h| h.message).unwrap_or_default();
                        set_hook_phase(&mut results, &o, "Failed", &msg);
                        if gsync::delete_policies(&o).contains(&DeletePolicy::HookFailed) {
                            let _ = delete_one(&st.target, &o, Some("background")).await;
                        }
                        failure = Some(format!(
                            "{} {} failed: {}",
                            s(&o, "/kind"),
                            s(&o, "/metadata/name"),
                            if msg.is_empty() {
                                "hook failed".to_string()
                            } else {
                                msg
                            }
                        ));
                    }
                    // a Suspended object is as far as it goes (Argo CD treats it as done)
                    Some(HealthStatusCode::Suspended) if !is_hook => {}
                    Some(HealthStatusCode::Degraded) => {
                        // a degraded non-hook object does not fail the sync (Argo CD)
                    }
                    _ => still.push((o, is_hook)),
                }
            }
            if failure.is_some() {
                break;
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                failure = Some(format!(
                    "timed out after {}s waiting for {} object(s) of the wave to become healthy",
                    STEP_TIMEOUT.as_secs(),
                    pending.len()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for h in hooks_to_delete_on_success {
        let _ = delete_one(&st.target, &h, Some("background")).await;
    }
    if failure.is_some() && !dry_run {
        // SyncFail hooks
        for t in sync_fail_hooks {
            let av = api_version_of(&t);
            match run_hook(&st.target, &t, st).await {
                Ok(_) => {
                    let mut e = result_entry(&t, &av, "Synced", "");
                    e["hookPhase"] = json!("Running");
                    results.push(e);
                }
                Err(e) => results.push(result_entry(&t, &av, "SyncFailed", &e)),
            }
        }
    }
    let (phase, message) = match &failure {
        Some(m) => ("Failed", m.clone()),
        None => (
            "Succeeded",
            "successfully synced (all tasks run)".to_string(),
        ),
    };
    let mut source = app.pointer("/spec/source").cloned().unwrap_or(Value::Null);
    if source.is_null() {
        source = app.pointer("/spec/sources").cloned().unwrap_or(Value::Null);
    }
    let mut state = json!({
        "operation": {"sync": sync_op, "initiatedBy": initiated_by.unwrap_or(json!({"username": "admin"}))},
        "phase": phase, "message": message, "startedAt": started, "finishedAt": now(),
        "syncResult": {"resources": results, "revision": revision, "source": source},
    });
    if dry_run {
        state["syncResult"]["dryRun"] = json!(true);
    }
    Ok(state)
}

fn merge_opts(app: &SyncOptions, obj: &SyncOptions) -> SyncOptions {
    SyncOptions {
        create_namespace: obj.create_namespace.or(app.create_namespace),
        prune_last: obj.prune_last.or(app.prune_last),
        apply_out_of_sync_only: obj.apply_out_of_sync_only.or(app.apply_out_of_sync_only),
        server_side_apply: obj.server_side_apply.or(app.server_side_apply),
        replace: obj.replace.or(app.replace),
        validate: obj.validate.or(app.validate),
        prune: obj.prune.or(app.prune),
        delete: obj.delete.or(app.delete),
        respect_ignore_differences: obj
            .respect_ignore_differences
            .or(app.respect_ignore_differences),
        prune_propagation_policy: obj
            .prune_propagation_policy
            .clone()
            .or(app.prune_propagation_policy.clone()),
        unknown: Vec::new(),
    }
}

fn set_hook_phase(results: &mut [Value], o: &Value, phase: &str, message: &str) {
    let name = s(o, "/metadata/name");
    let gen_name = s(o, "/metadata/generateName");
    for r in results.iter_mut() {
        if r["kind"] == o["kind"]
            && (r["name"] == name || (!gen_name.is_empty() && r["name"] == gen_name))
            && r.get("hookPhase").is_some()
        {
            r["hookPhase"] = json!(phase);
            r["name"] = json!(name);
            if !message.is_empty() {
                r["message"] = json!(message);
            }
        }
    }
}

/// Creates a hook: an existing one of the same name is deleted first under
/// `BeforeHookCreation` (the default); `generateName` hooks get a fresh name each time.
async fn run_hook(tg: &Target, t: &gsync::Task, _st: &Settings) -> Result<Value, String> {
    let Some(obj) = &t.target else {
        return Err("hook without an object".into());
    };
    let av = s(obj, "/apiVersion");
    let kind = s(obj, "/kind");
    let Some((ar, namespaced)) = tg.kind(av, kind).await else {
        return Err(format!(
            "the server could not find the requested resource ({av} {kind})"
        ));
    };
    let api = tg.api(&ar, namespaced, s(obj, "/metadata/namespace"));
    let name = s(obj, "/metadata/name");
    if !name.is_empty()
        && let Ok(Some(cur)) = get_opt(&api, name).await
    {
        if !t
            .delete_policies
            .contains(&DeletePolicy::BeforeHookCreation)
        {
            // a named hook without that policy runs once and persists
            return Ok(cur);
        }
        let _ = api.delete(name, &DeleteParams::background()).await;
        for _ in 0..100 {
            if matches!(api.get_opt(name).await, Ok(None)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let d: DynamicObject = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    match api.create(&PostParams::default(), &d).await {
        Ok(o) => {
            let mut v = serde_json::to_value(o).map_err(|e| e.to_string())?;
            v["apiVersion"] = json!(av);
            v["kind"] = json!(kind);
            Ok(v)
        }
        Err(kube::Error::Api(e)) => Err(e.message),
        Err(e) => Err(e.to_string()),
    }
}

/// The operationState written, Events, and history on success.
async fn finish_operation(
    ctx: &AppCtx,
    app: &Value,
    status: &mut Value,
    state: Value,
    revision: &str,
    _cmp: &Comparison,
) {
    let phase = s(&state, "/phase").to_string();
    let msg = s(&state, "/message").to_string();
    let dry = state.pointer("/syncResult/dryRun").is_some();
    if let Some(m) = &ctx.opts.metrics {
        m.cd.sync_completed(app, &state);
    }
    if phase == "Succeeded" && !dry {
        let mut hist: Vec<Value> = status
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let id = hist
            .iter()
            .filter_map(|h| h.get("id").and_then(Value::as_i64))
            .max()
            .map_or(0, |m| m + 1);
        let mut entry = json!({"id": id, "revision": revision, "deployedAt": now(),
            "deployStartedAt": state["startedAt"], "initiatedBy": state["operation"]["initiatedBy"]});
        if let Some(src) = app.pointer("/spec/source") {
            entry["source"] = src.clone();
        } else if let Some(srcs) = app.pointer("/spec/sources") {
            entry["sources"] = srcs.clone();
            entry["revisions"] = json!([revision]);
        }
        hist.push(entry);
        let limit = app
            .pointer("/spec/revisionHistoryLimit")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_HISTORY, |n| n as usize);
        if hist.len() > limit {
            let cut = hist.len() - limit;
            hist.drain(..cut);
        }
        status["history"] = Value::Array(hist);
    }
    let (type_, reason) = if phase == "Succeeded" {
        ("Normal", "OperationCompleted")
    } else {
        ("Warning", "OperationCompleted")
    };
    record(
        ctx,
        app,
        type_,
        reason,
        &format!(
            "Sync operation to {revision} {}: {msg}",
            phase.to_lowercase()
        ),
    )
    .await;
    status["operationState"] = state;
}

/// An Application being deleted: with Argo CD's resources finalizer, its objects are
/// deleted first (cascade), then the finalizer removed.
async fn delete_app(ctx: &Arc<AppCtx>, app: &Value) -> Result<Action, Error> {
    const FIN: &str = "resources-finalizer.argocd.argoproj.io";
    let fins: Vec<String> = app
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if !fins
        .iter()
        .any(|f| f == FIN || f.starts_with(&format!("{FIN}/")))
    {
        return Ok(Action::await_change());
    }
    let cm = ctx.configmap(s(app, "/metadata/namespace")).await;
    let mut st = settings(ctx, app, cm.as_ref());
    let d = &app["spec"]["destination"];
    // a destination that is no longer known has nothing this controller can delete; the
    // finalizer goes all the same
    if let Ok(t) = ctx
        .clusters
        .resolve(
            &ctx.opts.controller_namespace,
            s(d, "/server"),
            s(d, "/name"),
        )
        .await
    {
        st.target = t.0;
        let proj = project::default_project("");
        let cmp = compare(ctx, app, Vec::new(), Vec::new(), &st, &proj).await?;
        for r in &cmp.resources {
            if let Some(l) = &r.live {
                if SyncOptions::of_object(l).delete == Some(false) {
                    continue;
                }
                let _ = delete_one(&st.target, l, None).await;
            }
        }
    }
    desired::remove(&ctx.client, app).await;
    let rest: Vec<String> = fins
        .into_iter()
        .filter(|f| !(f == FIN || f.starts_with(&format!("{FIN}/"))))
        .collect();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), s(app, "/metadata/namespace"), &app_ar());
    let p = json!({"metadata": {"finalizers": rest}});
    match api
        .patch(
            s(app, "/metadata/name"),
            &PatchParams::default(),
            &Patch::Merge(&p),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_what_a_reconcile_reads_first_and_the_metrics() {
        let mut o: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd", "uid": "u",
                "annotations": {"x": "y"}, "labels": {"l": "v"},
                "managedFields": [{"manager": "sluice", "fieldsV1": {"f:status": {}}}]},
            "spec": {"project": "default", "destination": {"server": "s"}},
            "operation": {"sync": {"revision": "abc"}},
            "status": {"sync": {"status": "Synced", "revision": "abc"},
                "health": {"status": "Healthy"},
                "resources": [{"kind": "ConfigMap", "name": "c"}],
                "history": [{"id": 0}], "operationState": {"phase": "Succeeded"}}
        }))
        .expect("app");
        trim_cached(&mut o);
        let v = serde_json::to_value(&o).expect("json");
        assert_eq!(
            v["status"],
            json!({"sync": {"status": "Synced"}, "health": {"status": "Healthy"}})
        );
        assert!(v.pointer("/metadata/managedFields").is_none());
        assert_eq!(v["spec"]["destination"]["server"], "s");
        assert_eq!(v["operation"]["sync"]["revision"], "abc");
        assert_eq!(v["metadata"]["annotations"]["x"], "y");
        assert_eq!(v["metadata"]["labels"]["l"], "v");
        // an Application without status yet stays without one
        let mut n: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "b"}, "spec": {}}))
        .expect("app");
        trim_cached(&mut n);
        assert!(n.data.get("status").is_none());
    }

    #[test]
    fn resync_parsing() {
        assert_eq!(parse_resync(None), DEFAULT_RESYNC);
        let cm = json!({"data": {"timeout.reconciliation": "3m"}});
        assert_eq!(parse_resync(Some(&cm)), Duration::from_secs(180));
        let cm = json!({"data": {"timeout.reconciliation": "2s"}});
        assert_eq!(parse_resync(Some(&cm)), Duration::from_secs(2));
        let cm = json!({"data": {"timeout.reconciliation": "0"}});
        assert!(parse_resync(Some(&cm)).is_zero());
    }
}
