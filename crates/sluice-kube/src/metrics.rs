//! Prometheus metrics of the controllers (`/metrics` of `sluice serve`, OpenMetrics text from
//! the `prometheus-client` crate).
//!
//! Names, labels and buckets are Tekton's:
//! - current (tektoncd/pipeline docs/metrics.md): `tekton_pipelines_controller_pipelinerun_total`
//!   and `_taskrun_total` {status: success|failed|cancelled}, the duration histograms
//!   `tekton_pipelines_controller_pipelinerun_duration_seconds` {pipeline, namespace, status},
//!   `_pipelinerun_taskrun_duration_seconds` {pipeline, task, namespace, status} and
//!   `_taskrun_duration_seconds` {task, namespace, status} (standalone TaskRuns), and the
//!   running counts `tekton_pipelines_controller_running_pipelineruns` / `_running_taskruns`;
//! - the older names alert rules in the wild still use (the seed's cicd-alerts.yaml):
//!   `tekton_pipelinerun_count` / `tekton_taskrun_count` {status, pipeline|task, namespace},
//!   `tekton_running_pipelineruns_count`, `tekton_running_taskruns_count`, and
//!   `tekton_pipelinerun_start_time` {status="running", pipeline, pipelinerun, namespace}
//!   (Unix seconds; the series goes away when the run ends).
//!
//! `tekton_pipelinerun_count` keeps its name without `_total`, so it is a gauge in OpenMetrics
//! terms; it only grows while the process runs (counts start at zero on each start, as every
//! Prometheus counter does after a restart).
//!
//! Trigger counters (events by listener and outcome) are registered here for the
//! EventListener sink to count with [`Metrics::trigger_event`]; process metrics (RSS, CPU,
//! open descriptors, start time) are read from /proc at scrape time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::shape::unix_seconds;

/// Tekton's duration buckets (pkg/pipelinerunmetrics/metrics.go `prDurationView`).
pub const DURATION_BUCKETS: [f64; 12] = [
    10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 5400.0, 10800.0, 21600.0, 43200.0, 86400.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: String,
    namespace: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineTaskLabels {
    pipeline: String,
    task: String,
    namespace: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
    namespace: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunningLabels {
    pipeline: String,
    pipelinerun: String,
    namespace: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    namespace: String,
    eventlistener: String,
    outcome: String,
}

type Hist<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// What `/metrics` reports. Shared by the controllers (which count) and the server (which
/// encodes).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pr_total: Family<StatusLabels, Counter>,
    tr_total: Family<StatusLabels, Counter>,
    pr_duration: Hist<PipelineLabels>,
    pr_tr_duration: Hist<PipelineTaskLabels>,
    tr_duration: Hist<TaskLabels>,
    running_prs: Gauge,
    running_trs: Gauge,
    pr_count: Family<PipelineLabels, Gauge>,
    tr_count: Family<TaskLabels, Gauge>,
    running_prs_old: Gauge,
    running_trs_old: Gauge,
    pr_start: Family<RunningLabels, Gauge<f64, AtomicU64>>,
    trigger_events: Family<ListenerLabels, Counter>,
    /// Argo CD's and Argo Rollouts' metrics (`crate::cdmetrics`).
    pub cd: crate::cdmetrics::CdMetrics,
    process: Process,
    /// The runs counted as running, by uid (so an end is counted once per start).
    running: Mutex<HashMap<String, Option<RunningLabels>>>,
}

#[derive(Debug, Default)]
struct Process {
    rss: Gauge,
    vsize: Gauge,
    cpu: Counter<f64, AtomicU64>,
    open_fds: Gauge,
    max_fds: Gauge,
    start_time: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Tekton's status label: `success`, `cancelled` (a reason naming a cancellation) or
/// `failed`.
pub fn status_label(condition: &Value) -> &'static str {
    if condition["status"] == "True" {
        return "success";
    }
    let reason = condition["reason"].as_str().unwrap_or("");
    if reason.contains("Cancelled") || reason == "StoppedRunFinally" {
        "cancelled"
    } else {
        "failed"
    }
}

fn succeeded_condition(status: &Value) -> Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Succeeded"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn duration(status: &Value) -> Option<f64> {
    let start = unix_seconds(status["startTime"].as_str()?)?;
    let end = unix_seconds(status["completionTime"].as_str()?)?;
    Some((end - start).max(0) as f64)
}

fn label(obj: &Value, key: &str) -> String {
    obj["metadata"]["labels"][key]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn meta(obj: &Value, key: &str) -> String {
    obj["metadata"][key].as_str().unwrap_or("").to_owned()
}

/// The Task a TaskRun runs: its taskRef, else the `tekton.dev/task` or `pipelineTask` label,
/// else (embedded spec) the TaskRun's name, as Tekton's `task` label.
fn task_of(tr: &Value) -> String {
    tr["spec"]["taskRef"]["name"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| Some(label(tr, "tekton.dev/task")).filter(|s| !s.is_empty()))
        .or_else(|| Some(label(tr, "tekton.dev/pipelineTask")).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| meta(tr, "name"))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            pr_total: Family::default(),
            tr_total: Family::default(),
            pr_duration: Family::new_with_constructor(duration_histogram),
            pr_tr_duration: Family::new_with_constructor(duration_histogram),
            tr_duration: Family::new_with_constructor(duration_histogram),
            running_prs: Gauge::default(),
            running_trs: Gauge::default(),
            pr_count: Family::default(),
            tr_count: Family::default(),
            running_prs_old: Gauge::default(),
            running_trs_old: Gauge::default(),
            pr_start: Family::default(),
            trigger_events: Family::default(),
            cd: crate::cdmetrics::CdMetrics::register(&mut registry),
            process: Process::default(),
            running: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register(
            "tekton_pipelines_controller_pipelinerun",
            "Number of finished PipelineRuns, by status",
            m.pr_total.clone(),
        );
        registry.register(
            "tekton_pipelines_controller_taskrun",
            "Number of finished TaskRuns, by status",
            m.tr_total.clone(),
        );
        registry.register(
            "tekton_pipelines_controller_pipelinerun_duration_seconds",
            "The PipelineRun execution time in seconds",
            m.pr_duration.clone(),
        );
        registry.register(
            "tekton_pipelines_controller_pipelinerun_taskrun_duration_seconds",
            "The PipelineRun's TaskRun execution time in seconds",
            m.pr_tr_duration.clone(),
        );
        registry.register(
            "tekton_pipelines_controller_taskrun_duration_seconds",
            "The TaskRun's execution time in seconds (TaskRuns of no PipelineRun)",
            m.tr_duration.clone(),
        );
        registry.register(
            "tekton_pipelines_controller_running_pipelineruns",
            "Number of PipelineRuns executing currently",
            m.running_prs.clone(),
        );
        registry.register(
            "tekton_pipelines_controller_running_taskruns",
            "Number of TaskRuns executing currently",
            m.running_trs.clone(),
        );
        registry.register(
            "tekton_pipelinerun_count",
            "Number of finished PipelineRuns since the server started (Tekton's older name)",
            m.pr_count.clone(),
        );
        registry.register(
            "tekton_taskrun_count",
            "Number of finished TaskRuns since the server started (Tekton's older name)",
            m.tr_count.clone(),
        );
        registry.register(
            "tekton_running_pipelineruns_count",
            "Number of PipelineRuns executing currently (Tekton's older name)",
            m.running_prs_old.clone(),
        );
        registry.register(
            "tekton_running_taskruns_count",
            "Number of TaskRuns executing currently (Tekton's older name)",
            m.running_trs_old.clone(),
        );
        registry.register(
            "tekton_pipelinerun_start_time",
            "Start time of each running PipelineRun in Unix seconds",
            m.pr_start.clone(),
        );
        registry.register(
            "sluice_eventlistener_events",
            "Events received by EventListeners, by outcome (created, filtered, rejected, failed)",
            m.trigger_events.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            m.process.rss.clone(),
        );
        registry.register(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            m.process.vsize.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            m.process.cpu.clone(),
        );
        registry.register(
            "process_open_fds",
            "Number of open file descriptors",
            m.process.open_fds.clone(),
        );
        registry.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            m.process.max_fds.clone(),
        );
        registry.register(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            m.process.start_time.clone(),
        );
        Metrics { registry, ..m }
    }

    /// A PipelineRun began executing in this process.
    pub fn pipelinerun_started(&self, pr: &Value) {
        let uid = meta(pr, "uid");
        let labels = RunningLabels {
            pipeline: crate::retention::pipeline_of(pr).to_owned(),
            pipelinerun: meta(pr, "name"),
            namespace: meta(pr, "namespace"),
            status: "running".into(),
        };
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.contains_key(&uid) {
            return;
        }
        let start = pr["status"]["startTime"]
            .as_str()
            .and_then(unix_seconds)
            .unwrap_or_else(now);
        self.pr_start.get_or_create(&labels).set(start as f64);
        running.insert(uid, Some(labels));
        self.running_prs.inc();
        self.running_prs_old.inc();
    }

    /// A PipelineRun stopped executing in this process (finished, or handed off).
    pub fn pipelinerun_stopped(&self, uid: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(labels)) = running.remove(uid) {
            self.pr_start.remove(&labels);
            self.running_prs.dec();
            self.running_prs_old.dec();
        }
    }

    /// A TaskRun began executing in this process.
    pub fn taskrun_started(&self, uid: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.insert(uid.to_owned(), None).is_none() {
            self.running_trs.inc();
            self.running_trs_old.inc();
        }
    }

    /// A TaskRun stopped executing in this process.
    pub fn taskrun_stopped(&self, uid: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(None) = running.remove(uid) {
            self.running_trs.dec();
            self.running_trs_old.dec();
        }
    }

    /// This process wrote a PipelineRun's final `status`.
    pub fn pipelinerun_finished(&self, pr: &Value, status: &Value) {
        let st = status_label(&succeeded_condition(status)).to_owned();
        let labels = PipelineLabels {
            pipeline: crate::retention::pipeline_of(pr).to_owned(),
            namespace: meta(pr, "namespace"),
            status: st.clone(),
        };
        self.pr_total
            .get_or_create(&StatusLabels { status: st })
            .inc();
        self.pr_count.get_or_create(&labels).inc();
        if let Some(d) = duration(status) {
            self.pr_duration.get_or_create(&labels).observe(d);
        }
    }

    /// This process wrote a TaskRun's final `status`.
    pub fn taskrun_finished(&self, tr: &Value, status: &Value) {
        let st = status_label(&succeeded_condition(status)).to_owned();
        let ns = meta(tr, "namespace");
        let task = task_of(tr);
        self.tr_total
            .get_or_create(&StatusLabels { status: st.clone() })
            .inc();
        let labels = TaskLabels {
            task: task.clone(),
            namespace: ns.clone(),
            status: st.clone(),
        };
        self.tr_count.get_or_create(&labels).inc();
        let Some(d) = duration(status) else {
            return;
        };
        let pipeline = label(tr, "tekton.dev/pipeline");
        if pipeline.is_empty() {
            self.tr_duration.get_or_create(&labels).observe(d);
        } else {
            self.pr_tr_duration
                .get_or_create(&PipelineTaskLabels {
                    pipeline,
                    task,
                    namespace: ns,
                    status: st,
                })
                .observe(d);
        }
    }

    /// An EventListener handled an event: `outcome` is `created`, `filtered`, `rejected` or
    /// `failed` (the Triggers sink's outcomes).
    pub fn trigger_event(&self, namespace: &str, listener: &str, outcome: &str) {
        self.trigger_events
            .get_or_create(&ListenerLabels {
                namespace: namespace.to_owned(),
                eventlistener: listener.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text of every metric, process metrics read now.
    pub fn encode(&self) -> String {
        self.process.refresh();
        self.cd.refresh();
        let mut out = String::new();
        // writing into a String cannot fail
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Process {
    /// Reads /proc/self (Linux); elsewhere the values stay zero.
    fn refresh(&self) {
        let ticks = 100.0; // USER_HZ on Linux
        let page = 4096i64;
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some(fields) = stat.rsplit_once(") ").map(|(_, r)| r)
        {
            // fields after the command: state is index 0, utime 11, stime 12, starttime 19,
            // vsize 20, rss 21 (proc(5), counting from `state`)
            let f: Vec<&str> = fields.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            let cpu = (n(11) + n(12)) / ticks;
            let delta = cpu - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
            self.vsize.set(n(20) as i64);
            self.rss.set(n(21) as i64 * page);
            if let Some(boot) = boot_time() {
                self.start_time.set(boot + (n(19) / ticks) as i64);
            }
        }
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(d.count() as i64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
            && let Some(line) = limits.lines().find(|l| l.starts_with("Max open files"))
            && let Some(soft) = line.split_whitespace().nth(3)
            && let Ok(v) = soft.parse::<i64>()
        {
            self.max_fds.set(v);
        }
    }
}

fn boot_time() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn finished_runs_are_counted_under_tekton_names() {
        let m = Metrics::new();
        let pr = json!({"metadata": {"name": "r1", "namespace": "ci", "uid": "u1"},
                        "spec": {"pipelineRef": {"name": "build"}},
                        "status": {"startTime": "2026-01-01T00:00:00Z"}});
        m.pipelinerun_started(&pr);
        m.pipelinerun_started(&pr);
        let t = m.encode();
        assert_eq!(
            sample(&t, "tekton_pipelines_controller_running_pipelineruns"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &t,
                "tekton_pipelinerun_start_time{pipeline=\"build\",pipelinerun=\"r1\",namespace=\"ci\",status=\"running\"}"
            ),
            Some(1_767_225_600.0)
        );
        let failed = json!({"conditions": [{"type": "Succeeded", "status": "False", "reason": "Failed"}],
                            "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:42Z"});
        m.pipelinerun_finished(&pr, &failed);
        m.pipelinerun_stopped("u1");
        m.pipelinerun_stopped("u1");
        let t = m.encode();
        assert_eq!(
            sample(
                &t,
                "tekton_pipelines_controller_pipelinerun_total{status=\"failed\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &t,
                "tekton_pipelinerun_count{pipeline=\"build\",namespace=\"ci\",status=\"failed\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &t,
                "tekton_pipelines_controller_pipelinerun_duration_seconds_bucket{le=\"60.0\",pipeline=\"build\",namespace=\"ci\",status=\"failed\"}"
            )
            .or_else(|| sample(
                &t,
                "tekton_pipelines_controller_pipelinerun_duration_seconds_sum{pipeline=\"build\",namespace=\"ci\",status=\"failed\"}"
            ).map(|s| s / 42.0)),
            Some(1.0)
        );
        assert_eq!(
            sample(&t, "tekton_pipelines_controller_running_pipelineruns"),
            Some(0.0)
        );
        assert!(!t.contains("tekton_pipelinerun_start_time{"), "{t}");
        assert!(t.ends_with("# EOF\n"));
    }

    #[test]
    fn statuses_and_process_metrics() {
        assert_eq!(status_label(&json!({"status": "True"})), "success");
        assert_eq!(
            status_label(&json!({"status": "False", "reason": "Cancelled"})),
            "cancelled"
        );
        assert_eq!(
            status_label(&json!({"status": "False", "reason": "TaskRunCancelled"})),
            "cancelled"
        );
        assert_eq!(
            status_label(&json!({"status": "False", "reason": "PipelineRunTimeout"})),
            "failed"
        );
        let m = Metrics::new();
        m.taskrun_started("t");
        m.taskrun_stopped("t");
        m.taskrun_stopped("t");
        m.trigger_event("ci", "gitlab", "created");
        let t = m.encode();
        assert_eq!(
            sample(&t, "tekton_pipelines_controller_running_taskruns"),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &t,
                "sluice_eventlistener_events_total{namespace=\"ci\",eventlistener=\"gitlab\",outcome=\"created\"}"
            ),
            Some(1.0)
        );
        if cfg!(target_os = "linux") {
            assert!(sample(&t, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
            assert!(sample(&t, "process_open_fds").is_some_and(|v| v > 0.0));
            assert!(sample(&t, "process_start_time_seconds").is_some_and(|v| v > 1.6e9));
        }
    }
}
