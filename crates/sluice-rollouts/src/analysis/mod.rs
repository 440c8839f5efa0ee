//! The AnalysisRun metric state machine of argo-rollouts `analysis/analysis.go`, as pure
//! functions of the spec, the status and `now` (milliseconds since the Unix epoch):
//!
//! - [`due`]: which metrics to measure now (`generateMetricTasks`: initialDelay, interval,
//!   count, the 10 s retry after an error, nothing new once the run is terminating);
//! - [`advance`]: the new status once those measurements are in (`runMeasurements`,
//!   `assessRunStatus`, `assessMetricStatus`, `garbageCollectMeasurements`), in upstream's
//!   JSON shape, and when to come back (`calculateNextReconcileTime`).
//!
//! A measurement is the provider's value or its error message ([`Outcome`]); the conditions
//! ([`expr`]) decide its phase as `utils/evaluate/evaluate.go` `EvaluateResult`.
//! Most providers complete in one call (prometheus, web). A provider may also start a
//! measurement that finishes later (the job provider: [`Outcome::InProgress`]); such a
//! measurement stays Running without `finishedAt`, and [`due`] hands it back
//! ([`Task::incomplete`]) to be resumed on each reconcile after its `resumeAt`, or
//! terminated ([`Task::terminate`]) once the run is terminating, as upstream's
//! `runMeasurements` calls the provider's Resume and Terminate.

pub mod args;
pub mod expr;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use expr::{Condition, EvalError, ParseError, Value};
use sluice_core::civil::{civil_from_days, days_from_civil};

/// `DefaultMeasurementHistoryLimit`: measurements kept per metric.
pub const DEFAULT_MEASUREMENT_HISTORY_LIMIT: usize = 10;
/// `defaults.DefaultConsecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;
/// `DefaultErrorRetryInterval`: the retry after an Error measurement, in milliseconds.
pub const DEFAULT_ERROR_RETRY_INTERVAL_MS: i64 = 10_000;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// `v1alpha1.AnalysisPhase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Phase {
    #[default]
    #[serde(rename = "")]
    Unset,
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

impl Phase {
    /// `AnalysisPhase.Completed()`.
    pub fn completed(self) -> bool {
        matches!(
            self,
            Phase::Successful | Phase::Failed | Phase::Error | Phase::Inconclusive
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Unset => "",
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::Error => "Error",
            Phase::Inconclusive => "Inconclusive",
        }
    }

    /// `analysisStatusOrder` (helpers.go): best to worst.
    fn rank(self) -> usize {
        match self {
            Phase::Successful => 0,
            Phase::Running => 1,
            Phase::Pending => 2,
            Phase::Inconclusive => 3,
            Phase::Error => 4,
            Phase::Failed => 5,
            Phase::Unset => 0,
        }
    }

    /// `IsWorse(current, new)`.
    pub fn is_worse(current: Phase, new: Phase) -> bool {
        new.rank() > current.rank()
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `v1alpha1.Measurement`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<String>,
}

/// `v1alpha1.MetricResult`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_error: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Json>>,
}

/// `v1alpha1.RunSummary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i64,
}

/// `v1alpha1.AnalysisRunStatus`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_results: Vec<MetricResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default)]
    pub run_summary: RunSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_summary: Option<RunSummary>,
}

impl RunStatus {
    /// The status from upstream's JSON (`status` of an AnalysisRun; `null` is empty).
    pub fn from_json(v: &Json) -> Result<RunStatus, SpecError> {
        if v.is_null() {
            return Ok(RunStatus::default());
        }
        serde_json::from_value(v.clone()).map_err(|e| SpecError(format!("status: {e}")))
    }

    /// The status as upstream's JSON.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    fn result(&self, name: &str) -> Option<&MetricResult> {
        self.metric_results.iter().find(|r| r.name == name)
    }

    fn result_mut(&mut self, name: &str) -> Option<&mut MetricResult> {
        self.metric_results.iter_mut().find(|r| r.name == name)
    }

    fn last_measurement(&self, name: &str) -> Option<&Measurement> {
        self.result(name).and_then(|r| r.measurements.last())
    }

    fn metric_completed(&self, name: &str) -> bool {
        self.result(name).is_some_and(|r| r.phase.completed())
    }

    /// `IsTerminating` (helpers.go): terminate was requested, or a metric that is not a
    /// dry run has ended Failed, Error or Inconclusive.
    pub fn is_terminating(&self, spec: &RunSpec) -> bool {
        spec.terminate
            || self.metric_results.iter().any(|r| {
                !r.dry_run && matches!(r.phase, Phase::Failed | Phase::Error | Phase::Inconclusive)
            })
    }
}

/// A spec that upstream refuses (`Analysis spec invalid: ...`); the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

/// One metric (args already resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub interval_ms: Option<i64>,
    pub initial_delay_ms: Option<i64>,
    pub count: Option<i64>,
    pub failure_limit: i64,
    pub inconclusive_limit: i64,
    pub consecutive_error_limit: i64,
    pub success_condition: Option<Condition>,
    pub failure_condition: Option<Condition>,
    /// `provider` as written (one of prometheus, web, job...).
    pub provider: Json,
    pub dry_run: bool,
    /// `measurementRetention` limit (0: the default, 10).
    pub retention: usize,
}

impl Metric {
    /// `Metric.EffectiveCount()`: the count; without one, 1 when there is no interval and
    /// unbounded otherwise.
    pub fn effective_count(&self) -> Option<i64> {
        match self.count {
            Some(c) if c != 0 => Some(c),
            _ if self.interval_ms.is_none() => Some(1),
            _ => None,
        }
    }

    /// `EvaluateResult` (evaluate.go): the phase of a measured value.
    pub fn evaluate(&self, result: &Value) -> Result<Phase, EvalError> {
        let success = match &self.success_condition {
            Some(c) => Some(c.eval(result)?),
            None => None,
        };
        let failure = match &self.failure_condition {
            Some(c) => Some(c.eval(result)?),
            None => None,
        };
        let (success, failure) = match (success, failure) {
            (None, None) => return Ok(Phase::Successful),
            // without a failure condition, a measurement fails when success is not true
            (Some(s), None) => (s, !s),
            // without a success condition, a measurement succeeds when failure is not true
            (None, Some(f)) => (!f, f),
            (Some(s), Some(f)) => (s, f),
        };
        Ok(if failure {
            Phase::Failed
        } else if !success {
            Phase::Inconclusive
        } else {
            Phase::Successful
        })
    }
}

/// An AnalysisRun spec: its metrics (args resolved), dry-run and retention rules applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub metrics: Vec<Metric>,
    pub terminate: bool,
    /// Secret values to redact from measurement messages (from [`args::resolve`]).
    pub secrets: Vec<String>,
}

fn int_or_string(v: Option<&Json>, path: &str) -> Result<Option<i64>, SpecError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| SpecError(format!("{path}: expected an integer"))),
        // intstr.IntValue(): a string that is not an integer is 0
        Some(Json::String(s)) => Ok(Some(s.trim().parse::<i64>().unwrap_or(0))),
        Some(_) => Err(SpecError(format!(
            "{path}: expected an integer or a string"
        ))),
    }
}

fn duration(v: Option<&Json>, path: &str, what: &str) -> Result<Option<i64>, SpecError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => match sluice_core::duration::parse_go_duration(s) {
            Some(secs) if secs.is_finite() => Ok(Some((secs * 1000.0).round() as i64)),
            _ => Err(SpecError(format!(
                "{path}: invalid {what} string: time: invalid duration {s:?}"
            ))),
        },
        Some(_) => Err(SpecError(format!("{path}: expected a duration string"))),
    }
}

fn condition(v: Option<&Json>, path: &str) -> Result<Option<Condition>, SpecError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => Condition::parse(s)
            .map(Some)
            .map_err(|e| SpecError(format!("{path}: {e}"))),
        Some(_) => Err(SpecError(format!("{path}: expected a string"))),
    }
}

const PROVIDERS: &[&str] = &[
    "prometheus",
    "kayenta",
    "web",
    "datadog",
    "wavefront",
    "newRelic",
    "job",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
];

impl RunSpec {
    /// An AnalysisRun spec (`metrics`, `dryRun`, `measurementRetention`, `terminate`) with
    /// its args already resolved, validated as upstream `ValidateMetrics`,
    /// `GetDryRunMetrics` and `GetMeasurementRetentionMetrics`, and every condition parsed.
    pub fn from_json(spec: &Json) -> Result<RunSpec, SpecError> {
        let metrics_json = spec
            .get("metrics")
            .and_then(Json::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| SpecError("no metrics specified".into()))?;
        let mut metrics: Vec<Metric> = Vec::new();
        for (i, m) in metrics_json.iter().enumerate() {
            let p = format!("metrics[{i}]");
            let name = m
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            if metrics.iter().any(|x| x.name == name) {
                return Err(SpecError(format!("{p}: duplicate name '{name}'")));
            }
            let count = int_or_string(m.get("count"), &format!("{p}.count"))?;
            let failure_limit = int_or_string(m.get("failureLimit"), &format!("{p}.failureLimit"))?;
            let inconclusive_limit = int_or_string(
                m.get("inconclusiveLimit"),
                &format!("{p}.inconclusiveLimit"),
            )?;
            let consecutive_error_limit = int_or_string(
                m.get("consecutiveErrorLimit"),
                &format!("{p}.consecutiveErrorLimit"),
            )?;
            let interval = duration(m.get("interval"), &format!("{p}.interval"), "interval")?;
            let initial_delay = duration(
                m.get("initialDelay"),
                &format!("{p}.initialDelay"),
                "startDelay",
            )?;
            let (c, fl, il) = (
                count.unwrap_or(0),
                failure_limit.unwrap_or(0),
                inconclusive_limit.unwrap_or(0),
            );
            // utils/analysis ValidateMetric, in its order
            if c > 0 {
                if c < fl {
                    return Err(SpecError(format!("{p}: count must be >= failureLimit")));
                }
                if c < il {
                    return Err(SpecError(format!(
                        "{p}: count must be >= inconclusiveLimit"
                    )));
                }
            }
            if c > 1 && interval.is_none() {
                return Err(SpecError(format!(
                    "{p}: interval must be specified when count > 1"
                )));
            }
            if fl < 0 {
                return Err(SpecError(format!("{p}: failureLimit must be >= 0")));
            }
            if il < 0 {
                return Err(SpecError(format!("{p}: inconclusiveLimit must be >= 0")));
            }
            if consecutive_error_limit.is_some_and(|l| l < 0) {
                return Err(SpecError(format!(
                    "{p}: consecutiveErrorLimit must be >= 0"
                )));
            }
            let provider = m.get("provider").cloned().unwrap_or(Json::Null);
            let n = PROVIDERS
                .iter()
                .filter(|k| provider.get(**k).is_some_and(|v| !v.is_null()))
                .count();
            if n == 0 {
                return Err(SpecError(format!("{p}: no provider specified")));
            }
            if n > 1 {
                return Err(SpecError(format!("{p}: multiple providers specified")));
            }
            metrics.push(Metric {
                name,
                interval_ms: interval,
                initial_delay_ms: initial_delay,
                count,
                failure_limit: fl,
                inconclusive_limit: il,
                consecutive_error_limit: consecutive_error_limit
                    .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT),
                success_condition: condition(
                    m.get("successCondition"),
                    &format!("{p}.successCondition"),
                )?,
                failure_condition: condition(
                    m.get("failureCondition"),
                    &format!("{p}.failureCondition"),
                )?,
                provider,
                dry_run: false,
                retention: 0,
            });
        }
        // dryRun / measurementRetention: metricName is a regular expression matched
        // (unanchored) against each name; a rule matching nothing is an error
        for (key, label) in [
            ("dryRun", "dryRun"),
            ("measurementRetention", "measurementRetention"),
        ] {
            let Some(rules) = spec.get(key).and_then(Json::as_array) else {
                continue;
            };
            for (i, rule) in rules.iter().enumerate() {
                let pattern = rule
                    .get("metricName")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                let re = regex::Regex::new(pattern).map_err(|e| {
                    SpecError(format!(
                        "{label}[{i}].metricName: invalid regular expression: {e}"
                    ))
                })?;
                let limit = rule.get("limit").and_then(Json::as_i64).unwrap_or(0);
                let mut matched = 0;
                for m in metrics.iter_mut().filter(|m| re.is_match(&m.name)) {
                    matched += 1;
                    if key == "dryRun" {
                        m.dry_run = true;
                    } else if limit > 0 {
                        m.retention = usize::try_from(limit).unwrap_or(usize::MAX);
                    }
                }
                if matched == 0 {
                    return Err(SpecError(format!(
                        "{label}[{i}]: Rule didn't match any metric name(s)"
                    )));
                }
            }
        }
        Ok(RunSpec {
            metrics,
            terminate: spec
                .get("terminate")
                .and_then(Json::as_bool)
                .unwrap_or(false),
            secrets: Vec::new(),
        })
    }
}

/// A metric to measure now: its name and resolved provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub metric: String,
    pub provider: Json,
    /// The in-flight measurement to resume (or terminate), if any.
    pub incomplete: Option<Measurement>,
    /// The run is terminating: the in-flight measurement is to be stopped
    /// (`provider.Terminate`), not resumed.
    pub terminate: bool,
    /// The job provider's job id: measurements ever taken (`count + error`) + 1
    /// (`getJobIDSuffix`).
    pub job_id: i64,
}

/// What a provider returned for one measurement.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The value the conditions see as `result`, and the measurement's `value` text.
    Value { result: Value, display: String },
    /// The provider failed (unreachable, timeout, unsupported response): an Error
    /// measurement with this message.
    Error(String),
    /// The measurement was started (or resumed) and has not finished: it stays Running,
    /// with this metadata (the job provider's `job-name`) merged into its own.
    InProgress {
        metadata: serde_json::Map<String, Json>,
    },
    /// The provider decided the phase itself, without conditions (the job provider: a
    /// Complete Job is Successful, a Failed one Failed; a terminated measurement is
    /// Successful with "Metric Terminated").
    Finished { phase: Phase, message: String },
}

impl Outcome {
    /// A Prometheus instant vector, as the prometheus provider's `processResponse`:
    /// `result` is the list of sample values, `value` is `[v1,v2]`.
    pub fn prometheus_vector(values: &[f64]) -> Outcome {
        let parts: Vec<String> = values.iter().map(|v| expr::go_float(*v)).collect();
        Outcome::Value {
            result: Value::Array(values.iter().map(|v| Value::Float(*v)).collect()),
            display: format!("[{}]", parts.join(",")),
        }
    }

    /// A Prometheus scalar.
    pub fn prometheus_scalar(value: f64) -> Outcome {
        Outcome::Value {
            result: Value::Float(value),
            display: expr::go_float(value),
        }
    }
}

/// The status after a reconcile and when to reconcile next (`None`: not before something
/// changes).
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    pub status: RunStatus,
    pub requeue_at: Option<Millis>,
}

/// The metrics to measure at `now` (`generateMetricTasks`).
pub fn due(spec: &RunSpec, status: &RunStatus, now: Millis) -> Vec<Task> {
    if status.phase.completed() {
        return Vec::new();
    }
    let terminating = status.is_terminating(spec);
    let mut tasks = Vec::new();
    for metric in &spec.metrics {
        if status.metric_completed(&metric.name) {
            continue;
        }
        let job_id = status
            .result(&metric.name)
            .map_or(1, |r| r.count + r.error + 1);
        let mut task = Task {
            metric: metric.name.clone(),
            provider: metric.provider.clone(),
            incomplete: None,
            terminate: false,
            job_id,
        };
        let last = status.last_measurement(&metric.name);
        if let Some(last) = last.filter(|l| l.finished_at.is_none()) {
            // an in-flight measurement: resumed after its resumeAt, terminated when the
            // run is terminating (generateMetricTasks, runMeasurements)
            if last
                .resume_at
                .as_deref()
                .and_then(parse_rfc3339)
                .is_some_and(|r| r > now)
            {
                continue;
            }
            task.incomplete = Some(last.clone());
            task.terminate = terminating;
            tasks.push(task);
            continue;
        }
        if terminating {
            continue;
        }
        let Some(last) = last else {
            if let Some(delay) = metric.initial_delay_ms {
                // the delay counts from the run's start, set by the first reconcile
                let Some(started) = status.started_at.as_deref().and_then(parse_rfc3339) else {
                    continue;
                };
                if started.saturating_add(delay) > now {
                    continue;
                }
            }
            tasks.push(task);
            continue;
        };
        let Some(finished) = last.finished_at.as_deref().and_then(parse_rfc3339) else {
            continue;
        };
        let count = status.result(&metric.name).map_or(0, |r| r.count);
        if metric.effective_count().is_some_and(|c| count >= c) {
            continue;
        }
        let interval = if last.phase == Phase::Error {
            DEFAULT_ERROR_RETRY_INTERVAL_MS
        } else {
            metric
                .interval_ms
                .unwrap_or(DEFAULT_ERROR_RETRY_INTERVAL_MS)
        };
        // upstream: Now().After(finishedAt + interval), reconciled a moment after the
        // requeue time; a caller here reconciles at exactly that time
        if now >= finished.saturating_add(interval) {
            tasks.push(task);
        }
    }
    tasks
}

/// Folds the outcomes of [`due`]'s tasks at `now` into the status and assesses it
/// (`reconcileAnalysisRun` after its measurements). Outcomes for metrics that are not due
/// are ignored; a due metric without an outcome is not measured this time.
pub fn advance(
    spec: &RunSpec,
    status: &RunStatus,
    now: Millis,
    outcomes: &[(String, Outcome)],
) -> Reconciled {
    let mut run = status.clone();
    if run.phase.completed() {
        return Reconciled {
            status: run,
            requeue_at: None,
        };
    }
    let stamp = format_rfc3339(now);
    for task in due(spec, status, now) {
        let Some(metric) = spec.metrics.iter().find(|m| m.name == task.metric) else {
            continue;
        };
        let Some((_, outcome)) = outcomes.iter().find(|(n, _)| *n == task.metric) else {
            continue;
        };
        let resumed = task.incomplete.is_some();
        let mut m = task.incomplete.clone().unwrap_or_else(|| Measurement {
            started_at: Some(stamp.clone()),
            ..Measurement::default()
        });
        m.finished_at = Some(stamp.clone());
        match outcome {
            Outcome::Error(msg) => {
                m.phase = Phase::Error;
                m.message = msg.clone();
            }
            Outcome::InProgress { metadata } => {
                m.phase = Phase::Running;
                m.finished_at = None;
                let mut md = m.metadata.take().unwrap_or_default();
                md.extend(metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
                m.metadata = Some(md);
            }
            Outcome::Finished { phase, message } => {
                m.phase = *phase;
                m.message = message.clone();
            }
            Outcome::Value { result, display } => match metric.evaluate(result) {
                Ok(phase) => {
                    m.phase = phase;
                    m.value = display.clone();
                }
                // a condition that does not evaluate: MarkMeasurementError, no value
                Err(e) => {
                    m.phase = Phase::Error;
                    m.message = e.0;
                }
            },
        }
        for secret in &spec.secrets {
            if !secret.is_empty() {
                m.message = m.message.replace(secret.as_str(), "*****");
            }
        }
        if run.result(&metric.name).is_none() {
            run.metric_results.push(MetricResult {
                name: metric.name.clone(),
                phase: Phase::Running,
                dry_run: metric.dry_run,
                metadata: provider_metadata(&metric.provider),
                ..MetricResult::default()
            });
        }
        if let Some(r) = run.result_mut(&metric.name) {
            // only a completed measurement is counted (runMeasurements)
            match m.phase {
                Phase::Successful => r.successful += 1,
                Phase::Failed => r.failed += 1,
                Phase::Inconclusive => r.inconclusive += 1,
                _ => {}
            }
            match m.phase {
                Phase::Error => {
                    r.error += 1;
                    r.consecutive_error += 1;
                }
                p if p.completed() => {
                    r.count += 1;
                    r.consecutive_error = 0;
                }
                _ => {}
            }
            match r.measurements.last_mut() {
                Some(last) if resumed => *last = m,
                _ => r.measurements.push(m),
            }
        }
    }

    let (phase, message) = assess_run(spec, &mut run, now);
    if phase != run.phase {
        run.phase = phase;
        run.message = message;
    }
    garbage_collect(spec, &mut run);
    let mut requeue_at = next_reconcile(spec, &run, now);
    // upstream's own status update wakes its informer at once: a run that just started
    // terminating (a metric ended Failed/Error/Inconclusive) finishes on the next pass
    if !run.phase.completed() && run.is_terminating(spec) {
        requeue_at = Some(now);
    }
    Reconciled {
        status: run,
        requeue_at,
    }
}

/// `GetMetadata` of the prometheus provider: the resolved query.
fn provider_metadata(provider: &Json) -> Option<serde_json::Map<String, Json>> {
    let q = provider.get("prometheus")?.get("query")?.as_str()?;
    if q.is_empty() {
        return None;
    }
    let mut m = serde_json::Map::new();
    m.insert(
        "ResolvedPrometheusQuery".into(),
        Json::String(q.to_string()),
    );
    Some(m)
}

/// `assessMetricFailureInconclusiveOrError`: the limit a metric has gone over, if any
/// (later checks win, as upstream).
fn over_limit(metric: &Metric, r: &MetricResult) -> Option<(Phase, String)> {
    let mut out = None;
    if r.failed > metric.failure_limit {
        out = Some((
            Phase::Failed,
            format!(
                "failed ({}) > failureLimit ({})",
                r.failed, metric.failure_limit
            ),
        ));
    }
    if r.inconclusive > metric.inconclusive_limit {
        out = Some((
            Phase::Inconclusive,
            format!(
                "inconclusive ({}) > inconclusiveLimit ({})",
                r.inconclusive, metric.inconclusive_limit
            ),
        ));
    }
    if r.consecutive_error > metric.consecutive_error_limit {
        out = Some((
            Phase::Error,
            format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({})",
                r.consecutive_error, metric.consecutive_error_limit
            ),
        ));
    }
    out
}

/// `assessMetricStatus`.
fn assess_metric(metric: &Metric, r: &MetricResult, terminating: bool) -> Phase {
    if r.phase.completed() {
        return r.phase;
    }
    let Some(last) = r.measurements.last() else {
        return if terminating {
            Phase::Successful
        } else {
            Phase::Pending
        };
    };
    if !last.phase.completed() {
        return Phase::Running;
    }
    if let Some((phase, _)) = over_limit(metric, r) {
        return phase;
    }
    if metric.effective_count().is_some_and(|c| r.count >= c) {
        return Phase::Successful;
    }
    if terminating {
        return Phase::Successful;
    }
    Phase::Running
}

/// `assessRunStatus`: updates metric phases and summaries; returns the run's phase and
/// message.
fn assess_run(spec: &RunSpec, run: &mut RunStatus, now: Millis) -> (Phase, String) {
    let terminating = run.is_terminating(spec);
    let mut everything_completed = true;
    let mut worst = Phase::Unset;
    let mut worst_message = String::new();
    if run.started_at.is_none() {
        run.started_at = Some(format_rfc3339(now));
    }
    if spec.terminate {
        worst_message = "Run Terminated".into();
    }
    let mut summary = RunSummary::default();
    let mut dry_summary = RunSummary::default();
    for metric in &spec.metrics {
        if metric.dry_run {
            dry_summary.count += 1;
        } else {
            summary.count += 1;
        }
        let Some(result) = run.result_mut(&metric.name) else {
            // not started yet (an initial delay)
            everything_completed = false;
            continue;
        };
        let status = assess_metric(metric, result, terminating);
        if result.phase != status {
            if let Some(last) = result.measurements.last() {
                result.message = last.message.clone();
            }
            result.phase = status;
        }
        if !status.completed() {
            everything_completed = false;
            continue;
        }
        let (limit_phase, message) = match over_limit(metric, result) {
            Some((p, m)) => (Some(p), m),
            None => (None, String::new()),
        };
        let tally = if metric.dry_run {
            if worst == Phase::Unset {
                worst = Phase::Successful;
            }
            if !message.is_empty() {
                result.message = format!("Metric assessed {status} due to {message}");
            }
            &mut dry_summary
        } else {
            if worst == Phase::Unset || Phase::is_worse(worst, status) {
                worst = status;
                if !message.is_empty() {
                    worst_message = format!(
                        "Metric \"{}\" assessed {status} due to {message}",
                        metric.name
                    );
                    if !result.message.is_empty() {
                        worst_message.push_str(&format!(": \"Error Message: {}\"", result.message));
                    }
                }
            }
            &mut summary
        };
        match limit_phase {
            Some(Phase::Error) => tally.error += 1,
            Some(Phase::Failed) => tally.failed += 1,
            Some(Phase::Inconclusive) => tally.inconclusive += 1,
            _ => tally.successful += 1,
        }
    }
    let worst_message = worst_message.trim().to_string();
    run.run_summary = summary;
    run.dry_run_summary = Some(dry_summary);
    if terminating {
        if worst == Phase::Unset {
            return (Phase::Successful, worst_message);
        }
        return (worst, worst_message);
    }
    if !everything_completed || worst == Phase::Unset {
        return (Phase::Running, String::new());
    }
    (worst, worst_message)
}

/// `garbageCollectMeasurements`: keep the last `measurementRetention` (default 10).
fn garbage_collect(spec: &RunSpec, run: &mut RunStatus) {
    for r in &mut run.metric_results {
        let Some(metric) = spec.metrics.iter().find(|m| m.name == r.name) else {
            continue;
        };
        let limit = if metric.retention > 0 {
            metric.retention
        } else {
            DEFAULT_MEASUREMENT_HISTORY_LIMIT
        };
        if r.measurements.len() > limit {
            let cut = r.measurements.len() - limit;
            r.measurements.drain(..cut);
        }
    }
}

/// `calculateNextReconcileTime`: the earliest time a metric needs measuring.
fn next_reconcile(spec: &RunSpec, run: &RunStatus, now: Millis) -> Option<Millis> {
    if run.phase.completed() {
        return None;
    }
    let mut at: Option<Millis> = None;
    let mut earliest = |t: Millis| at = Some(at.map_or(t, |a| a.min(t)));
    for metric in &spec.metrics {
        if run.metric_completed(&metric.name) {
            continue;
        }
        let Some(last) = run.last_measurement(&metric.name) else {
            if let Some(delay) = metric.initial_delay_ms {
                let start = run
                    .started_at
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .unwrap_or(now);
                earliest(start.saturating_add(delay));
            }
            continue;
        };
        let Some(finished) = last.finished_at.as_deref().and_then(parse_rfc3339) else {
            if let Some(resume) = last.resume_at.as_deref().and_then(parse_rfc3339) {
                earliest(resume);
            }
            continue;
        };
        let count = run.result(&metric.name).map_or(0, |r| r.count);
        if metric.effective_count().is_some_and(|c| count >= c) {
            continue;
        }
        let interval = if last.phase == Phase::Error {
            DEFAULT_ERROR_RETRY_INTERVAL_MS
        } else if let Some(i) = metric.interval_ms {
            i
        } else {
            continue;
        };
        earliest(finished.saturating_add(interval));
    }
    at
}

/// An AnalysisRun's status set to Error with `message` (a spec or arg that does not
/// resolve: `Analysis spec invalid: ...`, `Unable to resolve metric arguments: ...`).
pub fn errored(status: &RunStatus, message: String) -> RunStatus {
    let mut s = status.clone();
    s.phase = Phase::Error;
    s.message = message;
    s
}

/// One whole reconcile over upstream JSON: resolves args (valueFrom through `lookup`),
/// validates the spec, measures the due metrics through `measure`, and returns the new
/// status JSON and the requeue time. A spec or arg error ends the run in Error with
/// upstream's message, as `reconcileAnalysisRun`.
pub fn reconcile_json(
    spec: &Json,
    status: &Json,
    now: Millis,
    lookup: &dyn args::ArgLookup,
    measure: &mut dyn FnMut(&Task) -> Outcome,
) -> Result<(Json, Option<Millis>), SpecError> {
    let current = RunStatus::from_json(status)?;
    if current.phase.completed() {
        return Ok((current.to_json(), None));
    }
    let fail = |msg: String| Ok((errored(&current, msg).to_json(), None));
    let arg_list = match args::Arg::list_from_json(spec.get("args")) {
        Ok(a) => a,
        Err(e) => return fail(format!("Unable to resolve metric arguments: {e}")),
    };
    let metrics = spec.get("metrics").cloned().unwrap_or(Json::Null);
    let resolved = match args::resolve(&metrics, &arg_list, lookup) {
        Ok(r) => r,
        Err(e) => return fail(format!("Unable to resolve metric arguments: {e}")),
    };
    let mut spec_json = spec.clone();
    if let Some(o) = spec_json.as_object_mut() {
        o.insert("metrics".into(), resolved.metrics);
    }
    let mut run_spec = match RunSpec::from_json(&spec_json) {
        Ok(s) => s,
        Err(e) => return fail(format!("Analysis spec invalid: {e}")),
    };
    run_spec.secrets = resolved.secrets;
    let outcomes: Vec<(String, Outcome)> = due(&run_spec, &current, now)
        .iter()
        .map(|t| (t.metric.clone(), measure(t)))
        .collect();
    let r = advance(&run_spec, &current, now, &outcomes);
    Ok((r.status.to_json(), r.requeue_at))
}

// ---------------------------------------------------------------------------------------
// RFC 3339 at second precision, as metav1.Time serializes

/// `now` as metav1.Time's JSON: UTC, whole seconds (`2024-05-01T10:00:00Z`).
pub fn format_rfc3339(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// An RFC 3339 time (`Z` or `±hh:mm`, optional fraction) in milliseconds; `None` when it
/// is not one.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        frac_ms = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se - offset) * 1000) + frac_ms)
}

#[cfg(test)]
mod tests;
