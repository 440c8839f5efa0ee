//! The PipelineRun controller: a PipelineRun that is not done is planned from the
//! namespace's objects (read through the client) and run by
//! `sluice_pipeline::engine::run_pipeline` on a blocking thread, with an executor that
//! creates one TaskRun object per invocation (named by the engine's `child_name`, owned by
//! the PipelineRun, labelled `tekton.dev/pipelineRun`/`pipelineTask`/`pipeline`) and waits
//! for the TaskRun controller to finish it. Status follows Tekton's: `Succeeded`
//! Unknown/`Running` with the task counts and childReferences as tasks progress, then the
//! engine's final condition, results and skippedTasks. Planning errors end the run with
//! Tekton's reasons (`CouldntGetPipeline`, `ParameterMissing`, ...).
//!
//! Lifecycle: `spec.status: PipelineRunPending` waits; `Cancelled` stops everything,
//! `CancelledRunFinally`/`StoppedRunFinally` still run finally tasks; deleting the run
//! stops it (its TaskRuns are garbage-collected through their ownerReferences). A run cut
//! off by a server stop is resumed after the restart: the engine runs again and adopts the
//! TaskRuns that already exist by name (finished ones are not run again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use sluice_apis::tekton::pipelinerun_from_object;
use sluice_core::Object;
use sluice_pipeline::engine::{self, Events, Interrupt, Phase, RunOptions};
use sluice_pipeline::plan::{Overrides, plan_pipelinerun};
use sluice_pipeline::status::{
    ChildReference, Condition, PipelineRunStatus, TaskRunStatus, now, reason as preason,
};
use sluice_pipeline::{CancelToken, Executor, TaskInvocation};

use crate::coalesce::StatusWriter;
use crate::concurrency::{self, Gate};
use crate::shape::{self, Parent, Progress, reason};
use crate::taskrun::{meta, object_value, retry_patch};
use crate::{Ctx, Error, events, pipelinerun_ar, retry, taskrun_ar};

const CANCEL_SPECS: [&str; 3] = ["Cancelled", "CancelledRunFinally", "StoppedRunFinally"];

/// The Controller's reconcile function for PipelineRuns.
pub async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    // most reconciles are of runs that are done or executing here: they end before
    // anything is copied
    if ctx.nothing_to_do(&obj, &ctx.pipelineruns) {
        return Ok(Action::await_change());
    }
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let pr = object_value(&obj, "PipelineRun")?;
    let name = meta(&pr, "name").to_owned();
    let ns = meta(&pr, "namespace").to_owned();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &pipelinerun_ar());
    let spec_status = pr["spec"]["status"].as_str().unwrap_or("");
    let started = pr["status"]["startTime"]
        .as_str()
        .is_some_and(|s| !s.is_empty());
    if spec_status == "PipelineRunPending" && !started {
        let cur = &pr["status"]["conditions"][0]["reason"];
        if cur != reason::PENDING {
            let c = Condition::succeeded(None, reason::PENDING, shape::pending_message(&name));
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"conditions": [c]}})),
            )
            .await?;
        }
        return Ok(Action::await_change());
    }
    if CANCEL_SPECS.contains(&spec_status) {
        // cancelled before it started, or while no server ran it
        let message = match pr["metadata"]["annotations"][concurrency::CANCELLED_BY].as_str() {
            Some(by) => concurrency::superseded_message(&name, by),
            None => shape::cancelled_message(&name),
        };
        let st = PipelineRunStatus {
            conditions: vec![Condition::succeeded(
                Some(false),
                preason::CANCELLED,
                message,
            )],
            start_time: pr["status"]["startTime"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map_or_else(now, str::to_owned),
            completion_time: now(),
            child_references: serde_json::from_value(pr["status"]["childReferences"].clone())
                .unwrap_or_default(),
            ..PipelineRunStatus::default()
        };
        finish(&ctx, &pr, &st, None).await?;
        return Ok(Action::await_change());
    }
    if !started {
        match concurrency::gate(&ctx, &pr).await? {
            Gate::Go => {}
            Gate::Hold => return Ok(Action::requeue(Duration::from_secs(1))),
            Gate::Done => return Ok(Action::await_change()),
        }
    }
    ctx.pipelineruns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(uid.clone(), ());
    ctx.opts.metrics.pipelinerun_started(&pr);
    let ctx2 = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = execute(&ctx2, &pr, started).await {
            let st = failed(&pr, reason::FAILED_VALIDATION, &e.to_string());
            let _ = finish(&ctx2, &pr, &st, None).await;
        }
        ctx2.pipelineruns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&uid);
        ctx2.opts.metrics.pipelinerun_stopped(&uid);
    });
    Ok(Action::await_change())
}

fn failed(pr: &Value, reason: &str, message: &str) -> PipelineRunStatus {
    PipelineRunStatus {
        conditions: vec![Condition::succeeded(Some(false), reason, message)],
        start_time: pr["status"]["startTime"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map_or_else(now, str::to_owned),
        completion_time: now(),
        ..PipelineRunStatus::default()
    }
}

/// Writes the final status (after what the run's progress writer holds, which is closed
/// then) and the Event.
async fn finish(
    ctx: &Ctx,
    pr: &Value,
    st: &PipelineRunStatus,
    progress: Option<&StatusWriter>,
) -> Result<(), Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), meta(pr, "namespace"), &pipelinerun_ar());
    let status = json!({"status": serde_json::to_value(st)?});
    let written = match progress {
        Some(w) => w.last(status).await,
        None => {
            let (pp, patch) = (PatchParams::default(), Patch::Merge(status));
            retry(|| api.patch_status(meta(pr, "name"), &pp, &patch)).await
        }
    };
    let written = match written {
        Ok(w) => w,
        // deleted meanwhile: nothing to record
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    ctx.wrote(meta(pr, "uid"), &written);
    ctx.opts
        .metrics
        .pipelinerun_finished(pr, &serde_json::to_value(st)?);
    let (t, r, m) = match st.condition() {
        Some(c) if c.is_true() => ("Normal", c.reason.clone(), c.message.clone()),
        Some(c) => ("Warning", c.reason.clone(), c.message.clone()),
        None => ("Warning", "Failed".to_owned(), String::new()),
    };
    events::record(ctx, pr, t, &r, &m).await;
    // Argo CD notifications subscribed by the run or its Pipeline (crate::notifications)
    if let Ok(run) = serde_json::to_value(&written) {
        tokio::spawn(crate::notifications::notify_run(
            ctx.client.clone(),
            crate::notifications::CONTROLLER_NAMESPACE.to_owned(),
            run,
        ));
    }
    if let Some(keep) = ctx.opts.keep_runs
        && let Err(e) =
            crate::retention::prune(&ctx.client, Some(meta(pr, "namespace")), keep).await
    {
        eprintln!("warning: retention: {e}");
    }
    Ok(())
}

/// What the engine's executor and progress events share.
struct Shared {
    ctx: Arc<Ctx>,
    handle: tokio::runtime::Handle,
    parent: Parent,
    start_time: String,
    refs: Mutex<Vec<ChildReference>>,
    phases: Mutex<HashMap<String, (Phase, String)>>,
    /// The Running message and childReferences last patched: a progress that changes
    /// neither is not written again (a task turning Running, then its TaskRun's reference
    /// added, were two patches of which the first said nothing new).
    sent: Mutex<Option<(String, Vec<ChildReference>)>>,
    /// The run's progress writes, closed before its final status is written.
    writer: Arc<StatusWriter>,
}

impl Shared {
    fn trs(&self) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.ctx.client.clone(),
            &self.parent.namespace,
            &taskrun_ar(),
        )
    }

    /// The Running condition (task counts) and childReferences, written coalesced
    /// (`crate::coalesce`): a chain's "task done" and "next task started" are one write.
    fn progress(&self) {
        let p = {
            let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
            let mut p = Progress::default();
            for (ph, detail) in phases.values() {
                match ph {
                    Phase::Pending | Phase::Running | Phase::Retrying => p.incomplete += 1,
                    Phase::Succeeded => p.succeeded += 1,
                    Phase::Failed if detail == preason::TASKRUN_CANCELLED => p.cancelled += 1,
                    Phase::Failed => p.failed += 1,
                    Phase::Skipped => p.skipped += 1,
                }
            }
            p
        };
        let refs = self.refs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let message = shape::progress_message(&p);
        {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            if sent
                .as_ref()
                .is_some_and(|(m, r)| *m == message && *r == refs)
            {
                return;
            }
            *sent = Some((message.clone(), refs.clone()));
        }
        let c = Condition::succeeded(None, reason::RUNNING, message);
        let _rt = self.handle.enter();
        self.writer
            .later(json!({"status": {"conditions": [c], "childReferences": refs}}));
    }

    async fn run_child(&self, inv: &TaskInvocation, cancel: &CancelToken) -> TaskRunStatus {
        let fail = |msg: String| TaskRunStatus {
            conditions: vec![Condition::succeeded(Some(false), preason::FAILED, msg)],
            start_time: now(),
            completion_time: now(),
            ..TaskRunStatus::default()
        };
        let obj = match shape::child_taskrun(&self.parent, inv)
            .and_then(serde_json::from_value::<DynamicObject>)
        {
            Ok(o) => o,
            Err(e) => return fail(format!("cannot build TaskRun {}: {e}", inv.taskrun_name)),
        };
        {
            let mut refs = self.refs.lock().unwrap_or_else(|e| e.into_inner());
            if !refs.iter().any(|r| r.name == inv.taskrun_name) {
                refs.push(ChildReference {
                    api_version: "tekton.dev/v1".into(),
                    kind: "TaskRun".into(),
                    name: inv.taskrun_name.clone(),
                    pipeline_task_name: inv.task_label.clone(),
                    when_expressions: vec![],
                });
            }
        }
        self.progress();
        let api = self.trs();
        let name = inv.taskrun_name.as_str();
        let pp = PostParams::default();
        // followed from before it exists: the created object is its first state
        let mut watch = self
            .ctx
            .taskrun_subs
            .follow(api.clone(), &self.parent.namespace, name);
        let uid = match retry(|| api.create(&pp, &obj)).await {
            Ok(o) => {
                watch.seed(&o);
                o.metadata.uid.unwrap_or_default()
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // adopt the TaskRun of an earlier server process (resume) or a retry
                let existing = match retry(|| api.get(name)).await {
                    Ok(o) => serde_json::to_value(&o).unwrap_or_default(),
                    Err(e) => return fail(format!("cannot read TaskRun {name}: {e}")),
                };
                let owned = existing["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r["uid"] == self.parent.uid.as_str()));
                if !owned {
                    return fail(format!(
                        "TaskRun {name} already exists and does not belong to this PipelineRun"
                    ));
                }
                if shape::done(existing.get("status")).is_some() {
                    let tries = existing["status"]["retriesStatus"]
                        .as_array()
                        .map_or(0, Vec::len);
                    let st: TaskRunStatus =
                        serde_json::from_value(existing["status"].clone()).unwrap_or_default();
                    if (inv.retry_count as usize) <= tries {
                        return st;
                    }
                    let patch = match retry_patch(&existing["status"], &st) {
                        Ok(p) => p,
                        Err(e) => return fail(e.to_string()),
                    };
                    let (pp, patch) = (PatchParams::default(), Patch::Merge(patch));
                    if let Err(e) = retry(|| api.patch_status(name, &pp, &patch)).await {
                        return fail(format!("cannot retry TaskRun {name}: {e}"));
                    }
                }
                meta(&existing, "uid").to_owned()
            }
            Err(e) => return fail(format!("cannot create TaskRun {name}: {e}")),
        };
        // the TaskRun exists: the engine may create the next one while this one runs
        cancel.prepared();
        // wait for the TaskRun controller to finish it; pass cancellation on
        let mut cancel_sent = false;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                ev = watch.next() => match ev {
                    Some(Some(v)) => {
                        if meta(&v, "uid") != uid {
                            return fail(format!("TaskRun {name} was replaced"));
                        }
                        if shape::done(v.get("status")).is_some() {
                            return serde_json::from_value(v["status"].clone()).unwrap_or_default();
                        }
                    }
                    Some(None) | None => {
                        return TaskRunStatus {
                            conditions: vec![Condition::succeeded(Some(false), preason::TASKRUN_CANCELLED, format!("TaskRun {name} was deleted"))],
                            completion_time: now(),
                            ..TaskRunStatus::default()
                        };
                    }
                },
                _ = tick.tick() => {
                    if !cancel_sent && let Some((_, msg)) = cancel.cancelled() {
                        cancel_sent = true;
                        let _ = api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"status": "TaskRunCancelled", "statusMessage": msg}}))).await;
                    }
                }
            }
        }
    }
}

struct KubeExecutor(Arc<Shared>);

impl Executor for KubeExecutor {
    fn run_task(&self, inv: &TaskInvocation, cancel: &CancelToken) -> TaskRunStatus {
        let s = self.0.clone();
        s.handle.block_on(s.run_child(inv, cancel))
    }
}

struct Progressing(Arc<Shared>);

impl Events for Progressing {
    fn task(&self, task: &str, phase: Phase, detail: &str) {
        self.0
            .phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task.to_owned(), (phase, detail.to_owned()));
        if phase != Phase::Pending {
            self.0.progress();
        }
    }
}

/// Plans and runs one PipelineRun to its end.
async fn execute(ctx: &Arc<Ctx>, pr: &Value, resumed: bool) -> Result<(), Error> {
    let ns = meta(pr, "namespace").to_owned();
    let name = meta(pr, "name").to_owned();
    let uid = meta(pr, "uid").to_owned();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &pipelinerun_ar());
    // the namespace's objects; a failing API is retried a few times before the run fails
    let mut tries = 0;
    let generation = ctx.snapshots.generation(&ns);
    let catalog = loop {
        match crate::catalog(&ctx.client, &ns, pr).await {
            Ok(c) => break Arc::new(c),
            Err(e) if tries >= 5 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1 << tries.min(4))).await;
            }
        }
    };
    // its TaskRuns read the same while nothing of it changes
    let _lent = ctx.snapshots.lend(&uid, &ns, generation, catalog.clone());
    let mut clean = pr.clone();
    if let Some(m) = clean.as_object_mut() {
        m.remove("status");
    }
    if let Some(m) = clean["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    let run = match pipelinerun_from_object(&Object::new(clean)) {
        Ok((r, _)) => r,
        Err(e) => {
            return finish(
                ctx,
                pr,
                &failed(
                    pr,
                    reason::FAILED_VALIDATION,
                    &format!("invalid PipelineRun: {e:?}"),
                ),
                None,
            )
            .await;
        }
    };
    let mut plan = match plan_pipelinerun(&run, &catalog, &Overrides::default()) {
        Ok(p) => p,
        Err(e) => {
            let r = shape::pipelinerun_plan_reason(&e);
            let msg = match r {
                reason::COULDNT_GET_PIPELINE => {
                    format!("Error retrieving pipeline for pipelinerun {ns}/{name}: {e}")
                }
                _ => e.to_string(),
            };
            return finish(ctx, pr, &failed(pr, r, &msg), None).await;
        }
    };
    let start_time = if resumed {
        meta_status(pr, "startTime")
    } else {
        now()
    };
    // a resumed run's timeout counts from its first start
    if resumed
        && let Some(t) = plan.timeout_pipeline
        && let Some(elapsed) = shape::since(&start_time)
    {
        plan.timeout_pipeline = Some(t.saturating_sub(elapsed).max(Duration::from_millis(1)));
    }
    let total = plan.spec.tasks.len() + plan.spec.finally.len();
    let running = Patch::Merge(json!({"status": {
        "conditions": [Condition::succeeded(None, reason::RUNNING, shape::progress_message(&Progress { incomplete: total, ..Progress::default() }))],
        "startTime": start_time,
        "pipelineSpec": serde_json::to_value(&plan.spec)?,
    }}));
    let pp = PatchParams::default();
    // followed from before the write: what it returns is the first state
    let mut watch = ctx.pipelinerun_subs.follow(api.clone(), &ns, &name);
    watch.seed(&retry(|| api.patch_status(&name, &pp, &running)).await?);
    if resumed {
        events::record_soon(
            ctx,
            pr,
            "Normal",
            "Resumed",
            "the server restarted; finished TaskRuns are adopted, the rest run again",
        );
    } else {
        events::record_soon(ctx, pr, "Normal", reason::STARTED, "");
    }
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        handle: tokio::runtime::Handle::current(),
        parent: Parent {
            name: name.clone(),
            namespace: ns.clone(),
            uid: uid.clone(),
            pipeline: if plan.pipeline_name.is_empty() {
                name.clone()
            } else {
                plan.pipeline_name.clone()
            },
            labels: pr["metadata"]["labels"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            finally: plan.spec.finally.iter().map(|t| t.name.clone()).collect(),
            task_refs: plan
                .spec
                .tasks
                .iter()
                .chain(plan.spec.finally.iter())
                .filter_map(|t| {
                    let r = t.task_ref.as_ref().filter(|r| !r.name.is_empty())?;
                    Some((t.name.clone(), r.name.clone()))
                })
                .collect(),
        },
        start_time: start_time.clone(),
        refs: Mutex::new(
            serde_json::from_value(pr["status"]["childReferences"].clone()).unwrap_or_default(),
        ),
        phases: Mutex::new(HashMap::new()),
        sent: Mutex::new(None),
        writer: StatusWriter::new(api.clone(), &name),
    });
    let interrupt = Arc::new(Interrupt::default());
    let opts = RunOptions {
        parallelism: ctx.opts.max_parallel_tasks.max(1),
        interrupt: interrupt.clone(),
        max_matrix_combinations: catalog.flags.default_max_matrix_combinations_count,
    };
    let spec = serde_json::to_value(&plan.spec)?;
    let s2 = shared.clone();
    let mut job = tokio::task::spawn_blocking(move || {
        engine::run_pipeline(&plan, &KubeExecutor(s2.clone()), &opts, &Progressing(s2))
    });
    let mut watch = Some(watch);
    let mut deleted = false;
    let mut cancelled_by: Option<String> = None;
    let raise_to = |level: u8| {
        while interrupt.level() < level {
            interrupt.raise();
        }
    };
    let outcome = loop {
        tokio::select! {
            r = &mut job => break r.ok(),
            ev = async { match watch.as_mut() { Some(w) => w.next().await, None => std::future::pending().await } } => {
                match ev {
                    None => watch = None,
                    Some(None) => { deleted = true; raise_to(2); }
                    Some(Some(v)) => {
                        if meta(&v, "uid") != uid || v["metadata"].get("deletionTimestamp").is_some() {
                            deleted = true;
                            raise_to(2);
                        } else {
                            if let Some(by) = v["metadata"]["annotations"][concurrency::CANCELLED_BY].as_str() {
                                cancelled_by = Some(by.to_owned());
                            }
                            match v["spec"]["status"].as_str() {
                                Some("Cancelled") => raise_to(2),
                                Some("CancelledRunFinally" | "StoppedRunFinally") => raise_to(1),
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    };
    // a stream that is no longer polled must not keep a request (and what it holds) open
    drop(watch);
    if deleted {
        shared.writer.close().await;
        return Ok(());
    }
    let mut st = match outcome {
        Some(o) => o.status,
        None => failed(pr, preason::FAILED, "the pipeline engine ended abnormally"),
    };
    st.start_time = shared.start_time.clone();
    st.pipeline_spec = Some(spec);
    if let Some(by) = &cancelled_by
        && let Some(c) = st
            .conditions
            .iter_mut()
            .find(|c| c.reason == preason::CANCELLED)
    {
        c.message = concurrency::superseded_message(&name, by);
    }
    finish(ctx, pr, &st, Some(&shared.writer)).await
}

fn meta_status(pr: &Value, key: &str) -> String {
    pr["status"][key]
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or_else(now, str::to_owned)
}
