//! The AnalysisRun `job` metric provider's I/O (argo-rollouts
//! `metricproviders/job/job.go`): Run creates the measurement's Job (a Job of that name
//! already owned by the same run is taken as created: a retried reconcile), Resume reads
//! its conditions, Terminate deletes it (foreground propagation), and GarbageCollect keeps
//! the newest `measurementRetention` (default 10) Jobs of a metric. The Jobs themselves run
//! wherever the API server's Jobs run: the simulated node of `sluice serve`, or a real
//! cluster's kubelets. Pure parts: `sluice_rollouts::providers::job_*`.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::ApiResource;
use serde_json::Value;
use sluice_rollouts::analysis::{Outcome, Task};
use sluice_rollouts::providers::{
    self, JOB_METRIC_ANNOTATION, JOB_NAME_KEY, JOB_RUN_UID_LABEL, RunRef,
};

use crate::gvk;

pub fn job_ar() -> ApiResource {
    gvk("batch", "v1", "Job", "jobs")
}

fn api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &job_ar())
}

fn msg(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message,
        other => other.to_string(),
    }
}

/// One measurement of a `job` metric (blocking: called from the measuring thread).
pub fn measure(
    handle: &tokio::runtime::Handle,
    client: &kube::Client,
    run: &RunRef,
    task: &Task,
) -> Outcome {
    let jobs = api(client, &run.namespace);
    let Some(incomplete) = &task.incomplete else {
        return handle.block_on(start(&jobs, run, task));
    };
    let name = match providers::job_name(incomplete.metadata.as_ref()) {
        Ok(n) => n,
        Err(e) => return Outcome::Error(e),
    };
    if task.terminate {
        let dp = DeleteParams::foreground();
        return match handle.block_on(jobs.delete(&name, &dp)) {
            Ok(_) => providers::job_terminated(),
            Err(kube::Error::Api(s)) if s.code == 404 => providers::job_terminated(),
            Err(e) => Outcome::Error(msg(e)),
        };
    }
    match handle.block_on(jobs.get(&name)) {
        Ok(job) => match serde_json::to_value(&job) {
            Ok(v) => providers::job_outcome(&v),
            Err(e) => Outcome::Error(e.to_string()),
        },
        Err(e) => Outcome::Error(msg(e)),
    }
}

async fn start(jobs: &Api<DynamicObject>, run: &RunRef, task: &Task) -> Outcome {
    let job = match providers::job_object(run, &task.metric, task.job_id, &task.provider) {
        Ok(j) => j,
        Err(e) => return Outcome::Error(e),
    };
    let obj: DynamicObject = match serde_json::from_value(job) {
        Ok(o) => o,
        Err(e) => return Outcome::Error(format!("job provider: {e}")),
    };
    let name = obj.metadata.name.clone().unwrap_or_default();
    match jobs.create(&PostParams::default(), &obj).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            // created by an earlier pass of this run? (upstream checks the controller uid)
            let existing = match jobs.get(&name).await {
                Ok(j) => j,
                Err(e) => return Outcome::Error(msg(e)),
            };
            let ours = existing
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == run.uid);
            if !ours {
                return Outcome::Error(s.message);
            }
        }
        Err(e) => return Outcome::Error(msg(e)),
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert(JOB_NAME_KEY.into(), Value::String(name));
    Outcome::InProgress { metadata }
}

/// Deletes the oldest Jobs of `metric` beyond `limit`.
pub async fn garbage_collect(
    client: &kube::Client,
    run: &RunRef,
    metric: &str,
    limit: usize,
) -> Result<(), String> {
    let jobs = api(client, &run.namespace);
    let lp = ListParams::default().labels(&format!("{JOB_RUN_UID_LABEL}={}", run.uid));
    let list = jobs.list(&lp).await.map_err(msg)?;
    let mine: Vec<(String, String)> = list
        .items
        .iter()
        .filter(|j| {
            j.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(JOB_METRIC_ANNOTATION))
                .is_some_and(|m| m == metric)
        })
        .map(|j| {
            (
                j.metadata.name.clone().unwrap_or_default(),
                j.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    for name in providers::jobs_to_collect(mine, limit) {
        match jobs.delete(&name, &DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(msg(e)),
        }
    }
    Ok(())
}
