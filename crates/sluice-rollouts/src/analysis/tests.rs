//! The state machine rule by rule, each test citing the argo-rollouts source it pins
//! (`analysis/analysis.go` unless said otherwise).

use super::*;
use serde_json::json;

const T0: Millis = 1_700_000_000_000;
const MIN: Millis = 60_000;

/// The seed's order-service AnalysisTemplate shape (success rate >= 95%, p99 < 500 ms,
/// interval 1m, failureLimit 3), args resolved, with a `count` so the run ends by itself.
fn order_service(count: Option<i64>) -> Json {
    let mut spec = json!({
        "metrics": [
            {
                "name": "success-rate",
                "interval": "1m",
                "successCondition": "result[0] >= 0.95",
                "failureLimit": 3,
                "provider": {"prometheus": {
                    "address": "http://prometheus.monitoring.svc:9090",
                    "query": "sum(rate(http_requests_total{service=\"order-service\",status=~\"2..\"}[5m])) / sum(rate(http_requests_total{service=\"order-service\"}[5m]))"
                }}
            },
            {
                "name": "latency-p99",
                "interval": "1m",
                "successCondition": "result[0] < 500",
                "failureLimit": 3,
                "provider": {"prometheus": {
                    "address": "http://prometheus.monitoring.svc:9090",
                    "query": "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{service=\"order-service\"}[5m])) by (le)) * 1000"
                }}
            }
        ]
    });
    if let Some(c) = count {
        for m in spec["metrics"].as_array_mut().unwrap() {
            m["count"] = json!(c);
        }
    }
    spec
}

/// Reconciles from `T0` as a controller would: at each requeue time, measures what is due
/// with `measure(metric, n)` (n: the metric's measurement number) until the run completes.
fn drive(
    spec: &RunSpec,
    mut measure: impl FnMut(&str, usize) -> Outcome,
    max_passes: usize,
) -> (RunStatus, Vec<Millis>) {
    let mut status = RunStatus::default();
    let mut now = T0;
    let mut times = Vec::new();
    let mut taken = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..max_passes {
        times.push(now);
        let outcomes: Vec<(String, Outcome)> = due(spec, &status, now)
            .into_iter()
            .map(|t| {
                let n = taken.entry(t.metric.clone()).or_insert(0);
                *n += 1;
                let o = measure(&t.metric, *n);
                (t.metric, o)
            })
            .collect();
        let r = advance(spec, &status, now, &outcomes);
        status = r.status;
        match r.requeue_at {
            Some(t) => now = t.max(now),
            None => break,
        }
    }
    (status, times)
}

fn healthy(metric: &str, _: usize) -> Outcome {
    match metric {
        "success-rate" => Outcome::prometheus_vector(&[0.99]),
        _ => Outcome::prometheus_vector(&[120.0]),
    }
}

fn result<'a>(s: &'a RunStatus, name: &str) -> &'a MetricResult {
    s.metric_results.iter().find(|r| r.name == name).unwrap()
}

#[test]
fn healthy_run_ends_successful_after_count() {
    // assessMetricStatus: count reached -> Successful; assessRunStatus: all completed ->
    // the worst of them
    let spec = RunSpec::from_json(&order_service(Some(5))).unwrap();
    let (s, times) = drive(&spec, healthy, 50);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.message, "");
    let sr = result(&s, "success-rate");
    assert_eq!((sr.count, sr.successful, sr.failed), (5, 5, 0));
    assert_eq!(sr.phase, Phase::Successful);
    assert_eq!(sr.measurements[0].value, "[0.99]");
    assert_eq!(
        sr.measurements[0].started_at.as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    // one measurement a minute: passes at T0, +1m, ... +4m
    assert_eq!(
        times,
        vec![T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]
    );
    assert_eq!(
        s.run_summary,
        RunSummary {
            count: 2,
            successful: 2,
            ..Default::default()
        }
    );
    // upstream JSON shape
    let j = s.to_json();
    assert_eq!(j["phase"], "Successful");
    assert_eq!(j["metricResults"][0]["count"], 5);
    assert_eq!(
        j["metricResults"][0]["metadata"]["ResolvedPrometheusQuery"],
        spec.metrics[0].provider["prometheus"]["query"]
    );
    assert!(j["metricResults"][0].get("consecutiveError").is_none());
    assert_eq!(j["startedAt"], "2023-11-14T22:13:20Z");
    assert_eq!(RunStatus::from_json(&j).unwrap(), s);
}

#[test]
fn twenty_percent_errors_fail_after_failure_limit() {
    // assessMetricFailureInconclusiveOrError: failed (4) > failureLimit (3) -> Failed; the
    // run is then terminating (helpers.go IsTerminating) and the other metric, still
    // running without a count, is assessed Successful: the run is the worst, Failed.
    let spec = RunSpec::from_json(&order_service(None)).unwrap();
    let (s, times) = drive(
        &spec,
        |m, n| match m {
            "success-rate" => Outcome::prometheus_vector(&[0.8]),
            _ => healthy(m, n),
        },
        50,
    );
    assert_eq!(s.phase, Phase::Failed);
    assert_eq!(
        s.message,
        "Metric \"success-rate\" assessed Failed due to failed (4) > failureLimit (3)"
    );
    let sr = result(&s, "success-rate");
    assert_eq!((sr.count, sr.failed, sr.phase), (4, 4, Phase::Failed));
    assert_eq!(result(&s, "latency-p99").phase, Phase::Successful);
    // measured at 0, 1, 2, 3 minutes, then one more pass at once to finish terminating
    assert_eq!(
        times,
        vec![T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, T0 + 3 * MIN]
    );
    assert_eq!(s.run_summary.failed, 1);
    assert_eq!(s.run_summary.successful, 1);
}

#[test]
fn provider_errors_count_toward_consecutive_error_limit() {
    // runMeasurements: an Error measurement counts error and consecutiveError, not count;
    // DefaultConsecutiveErrorLimit 4: the 5th consecutive error ends the metric in Error;
    // errors are retried after DefaultErrorRetryInterval (10s), not the interval
    let spec = RunSpec::from_json(&order_service(None)).unwrap();
    let refused =
        "Post \"http://prometheus.monitoring.svc:9090/api/v1/query\": dial tcp: connection refused";
    let (s, times) = drive(
        &spec,
        |m, n| match m {
            "success-rate" => Outcome::Error(refused.into()),
            _ => healthy(m, n),
        },
        50,
    );
    assert_eq!(s.phase, Phase::Error);
    assert_eq!(
        s.message,
        format!(
            "Metric \"success-rate\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \"Error Message: {refused}\""
        )
    );
    let sr = result(&s, "success-rate");
    assert_eq!((sr.count, sr.error, sr.consecutive_error), (0, 5, 5));
    assert_eq!(sr.message, refused);
    assert_eq!(sr.measurements[0].phase, Phase::Error);
    assert_eq!(sr.measurements[0].value, "");
    assert_eq!(
        &times[..5],
        &[T0, T0 + 10_000, T0 + 20_000, T0 + 30_000, T0 + 40_000]
    );
}

#[test]
fn a_success_resets_consecutive_errors() {
    let spec = RunSpec::from_json(&order_service(Some(8))).unwrap();
    let (s, _) = drive(
        &spec,
        |m, n| {
            if m == "success-rate" && n % 2 == 0 {
                Outcome::Error("timeout".into())
            } else {
                healthy(m, n)
            }
        },
        100,
    );
    assert_eq!(s.phase, Phase::Successful);
    let sr = result(&s, "success-rate");
    assert_eq!(sr.count, 8);
    assert_eq!(sr.error, 7);
    assert_eq!(sr.consecutive_error, 0);
}

#[test]
fn nan_and_empty_results() {
    // prometheus.go processResponse -> evaluate.go EvaluateResult
    let spec = RunSpec::from_json(&order_service(Some(5))).unwrap();
    let m = &spec.metrics[0];
    // NaN with only a successCondition: success false -> failure (EvaluateResult)
    assert_eq!(
        m.evaluate(&Value::Array(vec![Value::Float(f64::NAN)])),
        Ok(Phase::Failed)
    );
    // NaN with both conditions: neither holds -> Inconclusive
    let both = RunSpec::from_json(&json!({"metrics": [{
        "name": "m", "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.95", "provider": {"prometheus": {"query": "q"}}
    }]}))
    .unwrap();
    assert_eq!(
        both.metrics[0].evaluate(&Value::Array(vec![Value::Float(f64::NAN)])),
        Ok(Phase::Inconclusive)
    );
    // an inconclusive measurement over inconclusiveLimit (0) ends the run Inconclusive
    let (s, _) = drive(&both, |_, _| Outcome::prometheus_vector(&[f64::NAN]), 10);
    assert_eq!(s.phase, Phase::Inconclusive);
    assert_eq!(s.metric_results[0].measurements[0].value, "[NaN]");
    assert_eq!(
        s.message,
        "Metric \"m\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)"
    );
    // an empty vector: `result[0]` does not evaluate -> an Error measurement with the message
    let (s, _) = drive(&spec, |_, _| Outcome::prometheus_vector(&[]), 100);
    assert_eq!(s.phase, Phase::Error);
    let sr = result(&s, "success-rate");
    assert_eq!(sr.error, 5);
    assert_eq!(
        sr.measurements.last().unwrap().message,
        "index out of range: 0 (array length is 0)"
    );
    // a guarded condition turns no data into a failure instead
    let guarded = RunSpec::from_json(&json!({"metrics": [{
        "name": "m", "successCondition": "len(result) > 0 && result[0] >= 0.95",
        "provider": {"prometheus": {"query": "q"}}
    }]}))
    .unwrap();
    assert_eq!(
        guarded.metrics[0].evaluate(&Value::Array(vec![])),
        Ok(Phase::Failed)
    );
}

#[test]
fn evaluate_result_truth_table() {
    // evaluate.go EvaluateResult: no conditions -> Successful; failure wins over success
    let mk = |s: Option<&str>, f: Option<&str>| {
        let mut m = json!({"name": "m", "provider": {"web": {"url": "u"}}});
        if let Some(s) = s {
            m["successCondition"] = json!(s);
        }
        if let Some(f) = f {
            m["failureCondition"] = json!(f);
        }
        RunSpec::from_json(&json!({"metrics": [m]}))
            .unwrap()
            .metrics[0]
            .clone()
    };
    let r = Value::Int(1);
    assert_eq!(mk(None, None).evaluate(&r), Ok(Phase::Successful));
    assert_eq!(
        mk(None, Some("result == 1")).evaluate(&r),
        Ok(Phase::Failed)
    );
    assert_eq!(
        mk(None, Some("result == 2")).evaluate(&r),
        Ok(Phase::Successful)
    );
    assert_eq!(
        mk(Some("true"), Some("true")).evaluate(&r),
        Ok(Phase::Failed)
    );
    assert_eq!(
        mk(Some("false"), Some("false")).evaluate(&r),
        Ok(Phase::Inconclusive)
    );
    assert_eq!(
        mk(Some("true"), Some("false")).evaluate(&r),
        Ok(Phase::Successful)
    );
    assert!(mk(Some("result"), None).evaluate(&r).is_err());
}

#[test]
fn dry_run_metrics_never_fail_the_run() {
    // assessRunStatus: a dry-run metric's phase is not the run's; its message is
    // "Metric assessed Failed due to ..."; IsTerminating skips dry-run results
    let mut spec_json = order_service(Some(5));
    spec_json["dryRun"] = json!([{"metricName": "success-.*"}]);
    let spec = RunSpec::from_json(&spec_json).unwrap();
    let (s, _) = drive(
        &spec,
        |m, n| match m {
            "success-rate" => Outcome::prometheus_vector(&[0.5]),
            _ => healthy(m, n),
        },
        50,
    );
    assert_eq!(s.phase, Phase::Successful);
    let sr = result(&s, "success-rate");
    assert!(sr.dry_run);
    assert_eq!(sr.phase, Phase::Failed);
    assert_eq!(
        sr.message,
        "Metric assessed Failed due to failed (4) > failureLimit (3)"
    );
    assert_eq!(
        s.dry_run_summary,
        Some(RunSummary {
            count: 1,
            failed: 1,
            ..Default::default()
        })
    );
    assert_eq!(
        s.run_summary,
        RunSummary {
            count: 1,
            successful: 1,
            ..Default::default()
        }
    );
    // helpers.go GetDryRunMetrics: a rule matching nothing is an error
    let mut bad = order_service(None);
    bad["dryRun"] = json!([{"metricName": "nope"}]);
    assert_eq!(
        RunSpec::from_json(&bad).unwrap_err().0,
        "dryRun[0]: Rule didn't match any metric name(s)"
    );
}

#[test]
fn measurement_retention() {
    // garbageCollectMeasurements: DefaultMeasurementHistoryLimit 10, or the matching rule's
    // limit; counters keep counting
    let spec = RunSpec::from_json(&order_service(Some(15))).unwrap();
    let (s, _) = drive(&spec, healthy, 100);
    let sr = result(&s, "success-rate");
    assert_eq!((sr.count, sr.measurements.len()), (15, 10));
    let mut j = order_service(Some(15));
    j["measurementRetention"] = json!([{"metricName": "latency", "limit": 3}]);
    let spec = RunSpec::from_json(&j).unwrap();
    let (s, _) = drive(&spec, healthy, 100);
    assert_eq!(result(&s, "latency-p99").measurements.len(), 3);
    assert_eq!(result(&s, "success-rate").measurements.len(), 10);
}

#[test]
fn initial_delay_counts_from_the_run_start() {
    // generateMetricTasks: no measurement before startedAt + initialDelay; startedAt is set
    // by assessRunStatus on the first reconcile; calculateNextReconcileTime wakes at its end
    let spec = RunSpec::from_json(&json!({"metrics": [{
        "name": "m", "initialDelay": "30s", "successCondition": "result > 1",
        "provider": {"prometheus": {"query": "q"}}
    }]}))
    .unwrap();
    assert!(due(&spec, &RunStatus::default(), T0).is_empty());
    let r = advance(&spec, &RunStatus::default(), T0, &[]);
    assert_eq!(r.status.phase, Phase::Running);
    assert_eq!(r.requeue_at, Some(T0 + 30_000));
    assert!(due(&spec, &r.status, T0 + 29_000).is_empty());
    assert_eq!(due(&spec, &r.status, T0 + 30_000).len(), 1);
    let r = advance(
        &spec,
        &r.status,
        T0 + 30_000,
        &[("m".into(), Outcome::prometheus_scalar(2.0))],
    );
    // no interval, no count: EffectiveCount is 1
    assert_eq!(r.status.phase, Phase::Successful);
    assert_eq!(r.requeue_at, None);
}

#[test]
fn terminate_ends_running_metrics_successful() {
    // assessRunStatus with spec.terminate: "Run Terminated"; metrics still running are
    // Successful (assessMetricStatus), nothing new is measured (generateMetricTasks)
    let spec = RunSpec::from_json(&order_service(None)).unwrap();
    let r = advance(
        &spec,
        &RunStatus::default(),
        T0,
        &[
            ("success-rate".into(), healthy("success-rate", 1)),
            ("latency-p99".into(), healthy("latency-p99", 1)),
        ],
    );
    assert_eq!(r.status.phase, Phase::Running);
    assert_eq!(r.requeue_at, Some(T0 + MIN));
    let mut j = order_service(None);
    j["terminate"] = json!(true);
    let term = RunSpec::from_json(&j).unwrap();
    assert!(due(&term, &r.status, T0 + MIN).is_empty());
    let r = advance(&term, &r.status, T0 + MIN, &[]);
    assert_eq!(r.status.phase, Phase::Successful);
    assert_eq!(r.status.message, "Run Terminated");
    assert_eq!(r.requeue_at, None);
    // a completed run is left as it is
    let again = advance(&spec, &r.status, T0 + 5 * MIN, &[]);
    assert_eq!(again.status, r.status);
}

#[test]
fn validation_messages() {
    // utils/analysis ValidateMetrics / ValidateMetric
    let err = |m: Json| RunSpec::from_json(&json!({"metrics": [m]})).unwrap_err().0;
    let p = json!({"prometheus": {"query": "q"}});
    assert_eq!(
        RunSpec::from_json(&json!({"metrics": []})).unwrap_err().0,
        "no metrics specified"
    );
    assert_eq!(
        err(json!({"name": "m", "count": 2, "failureLimit": 3, "interval": "1m", "provider": p})),
        "metrics[0]: count must be >= failureLimit"
    );
    assert_eq!(
        err(json!({"name": "m", "count": 2, "provider": p})),
        "metrics[0]: interval must be specified when count > 1"
    );
    assert_eq!(
        err(json!({"name": "m", "interval": "1 minute", "provider": p})),
        "metrics[0].interval: invalid interval string: time: invalid duration \"1 minute\""
    );
    assert_eq!(
        err(json!({"name": "m", "provider": {}})),
        "metrics[0]: no provider specified"
    );
    assert_eq!(
        err(json!({"name": "m", "provider": {"web": {}, "job": {}}})),
        "metrics[0]: multiple providers specified"
    );
    // a condition that does not parse is a validation error with its position
    assert_eq!(
        err(json!({"name": "m", "successCondition": "result[0] >=", "provider": p})),
        "metrics[0].successCondition: unexpected token EOF (1:13)"
    );
    let dup = RunSpec::from_json(&json!({"metrics": [
        {"name": "m", "provider": p}, {"name": "m", "provider": p}
    ]}));
    assert_eq!(dup.unwrap_err().0, "metrics[1]: duplicate name 'm'");
    // args resolved into IntOrString fields: a string count is its integer value
    let s = RunSpec::from_json(&json!({"metrics": [
        {"name": "m", "count": "3", "interval": "10s", "provider": p}
    ]}))
    .unwrap();
    assert_eq!(s.metrics[0].count, Some(3));
}

struct NoSecrets;
impl args::ArgLookup for NoSecrets {
    fn secret(&self, name: &str, _: &str) -> Result<Option<String>, String> {
        if name == "prom" {
            Ok(Some("tok3n".into()))
        } else {
            Err(format!("secrets \"{name}\" not found"))
        }
    }
    fn field(&self, p: &str) -> Result<String, String> {
        Err(format!("no field {p}"))
    }
}

#[test]
fn reconcile_json_resolves_args_and_reports_errors_as_upstream() {
    let template = json!({
        "args": [{"name": "service-name", "value": "order-service"},
                 {"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "t"}}}],
        "metrics": [{
            "name": "success-rate", "interval": "1m", "count": 1,
            "successCondition": "result[0] >= 0.95",
            "provider": {"prometheus": {
                "query": "sum(rate(x{service=\"{{args.service-name}}\"}[5m]))",
                "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}]}}
        }]
    });
    let mut seen = Vec::new();
    let (status, requeue) = reconcile_json(&template, &Json::Null, T0, &NoSecrets, &mut |t| {
        seen.push(t.provider.clone());
        Outcome::Error("auth failed for Bearer tok3n".into())
    })
    .unwrap();
    assert_eq!(
        seen[0]["prometheus"]["query"],
        "sum(rate(x{service=\"order-service\"}[5m]))"
    );
    assert_eq!(seen[0]["prometheus"]["headers"][0]["value"], "Bearer tok3n");
    // the secret is redacted from the measurement message (runMeasurements)
    assert_eq!(
        status["metricResults"][0]["measurements"][0]["message"],
        "auth failed for Bearer *****"
    );
    assert_eq!(requeue, Some(T0 + 10_000));
    // a missing arg: the run ends in Error with upstream's message
    let mut bad = template.clone();
    bad["metrics"][0]["provider"]["prometheus"]["query"] = json!("{{args.namespace}}");
    let (status, requeue) =
        reconcile_json(&bad, &Json::Null, T0, &NoSecrets, &mut |_| unreachable!()).unwrap();
    assert_eq!(status["phase"], "Error");
    assert_eq!(
        status["message"],
        "Unable to resolve metric arguments: failed to resolve {{args.namespace}}"
    );
    assert_eq!(requeue, None);
    // a condition that does not parse: "Analysis spec invalid: ..."
    let mut bad = template;
    bad["metrics"][0]["successCondition"] = json!("result[0] >=> 1");
    let (status, _) =
        reconcile_json(&bad, &Json::Null, T0, &NoSecrets, &mut |_| unreachable!()).unwrap();
    assert_eq!(
        status["message"],
        "Analysis spec invalid: metrics[0].successCondition: unexpected token Operator(\">\") (1:13)"
    );
}

#[test]
fn rfc3339_round_trip() {
    assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339("2024-02-29T12:30:15.250+01:00"),
        Some(1_709_206_215_250)
    );
    assert_eq!(format_rfc3339(1_709_206_215_250), "2024-02-29T11:30:15Z");
    assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
    assert_eq!(parse_rfc3339("garbage"), None);
    for t in [T0, -86_400_000 * 400, 4_102_444_800_000] {
        assert_eq!(
            parse_rfc3339(&format_rfc3339(t)),
            Some(t - t.rem_euclid(1000))
        );
    }
}

fn job_spec(count: i64) -> RunSpec {
    RunSpec::from_json(&json!({"metrics": [{
        "name": "smoke", "count": count, "interval": "1m",
        "provider": {"job": {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "t", "image": "busybox"}]}}}}}
    }]}))
    .expect("valid spec")
}

fn started(name: &str) -> Outcome {
    let mut md = serde_json::Map::new();
    md.insert("job-name".into(), json!(name));
    Outcome::InProgress { metadata: md }
}

/// `runMeasurements`: a provider's Run may leave the measurement Running (the job
/// provider, metricproviders/job/job.go: `Phase: Running`, metadata `job-name`); it is not
/// counted, `generateMetricTasks` hands it back as the incomplete measurement on the next
/// reconcile ("resuming in-progress measurement"), and Resume's phase replaces it in
/// place with `finishedAt` set; only then is it counted. The job id is `count + error + 1`
/// (`getJobIDSuffix`).
#[test]
fn in_flight_measurements_are_resumed_in_place_and_counted_once() {
    let spec = job_spec(2);
    let status = RunStatus::default();
    let tasks = due(&spec, &status, T0);
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].incomplete.is_none(), tasks[0].job_id), (true, 1));
    let r = advance(
        &spec,
        &status,
        T0,
        &[("smoke".into(), started("uid.smoke.1"))],
    );
    let res = &r.status.metric_results[0];
    assert_eq!((res.count, res.measurements.len()), (0, 1));
    let m = &res.measurements[0];
    assert_eq!(m.phase, Phase::Running);
    assert!(m.finished_at.is_none());
    assert_eq!(m.metadata.as_ref().unwrap()["job-name"], "uid.smoke.1");
    assert_eq!(r.status.phase, Phase::Running);
    // still running: resumed, not started again
    let t1 = T0 + 5_000;
    let tasks = due(&spec, &r.status, t1);
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].incomplete.as_ref().map(|m| m.phase),
        Some(Phase::Running)
    );
    assert!(!tasks[0].terminate);
    let r = advance(
        &spec,
        &r.status,
        t1,
        &[("smoke".into(), started("uid.smoke.1"))],
    );
    assert_eq!(r.status.metric_results[0].measurements.len(), 1);
    // the Job completed: Successful in place, counted once, startedAt kept
    let t2 = T0 + 9_000;
    let done = Outcome::Finished {
        phase: Phase::Successful,
        message: String::new(),
    };
    let r = advance(&spec, &r.status, t2, &[("smoke".into(), done)]);
    let res = &r.status.metric_results[0];
    assert_eq!(
        (res.count, res.successful, res.measurements.len()),
        (1, 1, 1)
    );
    let m = &res.measurements[0];
    assert_eq!(m.started_at.as_deref(), Some(format_rfc3339(T0).as_str()));
    assert_eq!(m.finished_at.as_deref(), Some(format_rfc3339(t2).as_str()));
    // the next measurement is a new Job (id 2) after the interval
    assert_eq!(due(&spec, &r.status, t2 + MIN)[0].job_id, 2);
    assert!(due(&spec, &r.status, t2 + 1_000).is_empty());
}

/// `generateMetricTasks`: a `resumeAt` in the future holds an in-flight measurement back;
/// once the run is terminating, the in-flight measurement is still handed back, to be
/// terminated ("terminating in-progress measurement"); a terminated measurement that the
/// provider ends Successful is counted and the run completes.
#[test]
fn in_flight_measurements_wait_for_resume_at_and_are_terminated_with_the_run() {
    let spec = job_spec(3);
    let r = advance(
        &spec,
        &RunStatus::default(),
        T0,
        &[("smoke".into(), started("j"))],
    );
    let mut status = r.status;
    status.metric_results[0].measurements[0].resume_at = Some(format_rfc3339(T0 + MIN));
    assert!(due(&spec, &status, T0 + 1_000).is_empty());
    assert_eq!(due(&spec, &status, T0 + MIN).len(), 1);
    // terminate: the in-flight measurement comes back with `terminate`
    let mut term = spec.clone();
    term.terminate = true;
    let tasks = due(&term, &status, T0 + MIN);
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].terminate);
    let stopped = Outcome::Finished {
        phase: Phase::Successful,
        message: "Metric Terminated".into(),
    };
    let r = advance(&term, &status, T0 + MIN, &[("smoke".into(), stopped)]);
    assert_eq!(r.status.phase, Phase::Successful);
    let m = &r.status.metric_results[0].measurements[0];
    assert_eq!(m.message, "Metric Terminated");
    assert!(m.finished_at.is_some());
    // nothing further is measured
    assert!(due(&term, &r.status, T0 + 10 * MIN).is_empty());
}

/// A resumed measurement whose provider fails (the Job is gone: `MarkMeasurementError`)
/// is an Error measurement counted against consecutiveErrorLimit, in place.
#[test]
fn a_resume_error_is_an_error_measurement_in_place() {
    let spec = job_spec(1);
    let r = advance(
        &spec,
        &RunStatus::default(),
        T0,
        &[("smoke".into(), started("j"))],
    );
    let gone = Outcome::Error("jobs.batch \"j\" not found".into());
    let r = advance(&spec, &r.status, T0 + 1_000, &[("smoke".into(), gone)]);
    let res = &r.status.metric_results[0];
    assert_eq!((res.error, res.consecutive_error, res.count), (1, 1, 0));
    assert_eq!(res.measurements.len(), 1);
    assert_eq!(res.measurements[0].phase, Phase::Error);
    // retried as a new Job after the error interval, with the next id
    let next = due(
        &spec,
        &r.status,
        T0 + 1_000 + DEFAULT_ERROR_RETRY_INTERVAL_MS,
    );
    assert_eq!((next.len(), next[0].job_id), (1, 2));
    assert!(next[0].incomplete.is_none());
}
