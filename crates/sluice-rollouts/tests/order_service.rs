//! The seed's order-service analysis (success rate >= 95%, p99 < 500 ms, interval 1m,
//! failureLimit 3; our own fixture of that shape, with a count so a run ends by itself)
//! reconciled over upstream JSON as a controller would: spec + status + now in, status +
//! requeue time out, the provider played by a closure.

use serde_json::{Value as Json, json};
use sluice_rollouts::analysis::args::ArgLookup;
use sluice_rollouts::analysis::{Outcome, Task, reconcile_json};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

struct NoLookup;
impl ArgLookup for NoLookup {
    fn secret(&self, name: &str, _: &str) -> Result<Option<String>, String> {
        Err(format!("secrets \"{name}\" not found"))
    }
    fn field(&self, p: &str) -> Result<String, String> {
        Err(format!("fieldPath {p} not found"))
    }
}

fn fixture() -> Json {
    serde_json::from_str(include_str!("fixtures/order-service-analysisrun.json"))
        .expect("fixture is JSON")
}

/// Reconciles until the run completes; returns the final status and the reconcile times.
fn run(spec: &Json, mut provider: impl FnMut(&Task) -> Outcome) -> (Json, Vec<i64>) {
    let mut status = Json::Null;
    let mut now = T0;
    let mut times = vec![];
    for _ in 0..100 {
        times.push(now);
        let (s, requeue) = reconcile_json(spec, &status, now, &NoLookup, &mut provider)
            .expect("status is well formed");
        status = s;
        match requeue {
            Some(t) => now = t,
            None => break,
        }
    }
    (status, times)
}

/// Success rate and p99 of a canary serving `error_rate` of its requests as 5xx.
fn canary(error_rate: f64) -> impl FnMut(&Task) -> Outcome {
    move |t| {
        let q = t.provider["prometheus"]["query"]
            .as_str()
            .expect("a prometheus query");
        // the args were substituted before the provider saw the query
        assert!(q.contains("service=\"order-service-canary\""), "{q}");
        if q.starts_with("histogram_quantile") {
            Outcome::prometheus_vector(&[180.0])
        } else {
            Outcome::prometheus_vector(&[1.0 - error_rate])
        }
    }
}

#[test]
fn healthy_canary_ends_successful() {
    let (status, times) = run(&fixture(), canary(0.0));
    assert_eq!(status["phase"], "Successful");
    assert_eq!(times.len(), 6, "{times:?}");
    assert_eq!(times[5] - times[0], 5 * 60_000);
    for (i, name) in ["success-rate", "latency-p99"].iter().enumerate() {
        let r = &status["metricResults"][i];
        assert_eq!(r["name"], *name);
        assert_eq!(r["phase"], "Successful");
        assert_eq!(r["count"], 6);
        assert_eq!(r["successful"], 6);
        assert_eq!(r["measurements"].as_array().unwrap().len(), 6);
    }
    assert_eq!(
        status["metricResults"][0]["measurements"][0]["value"],
        "[1]"
    );
    assert_eq!(
        status["metricResults"][0]["measurements"][0]["startedAt"],
        "2026-01-01T00:00:00Z"
    );
    assert_eq!(status["runSummary"], json!({"count": 2, "successful": 2}));
}

#[test]
fn twenty_percent_errors_fail_after_failure_limit() {
    let (status, times) = run(&fixture(), canary(0.2));
    assert_eq!(status["phase"], "Failed");
    assert_eq!(
        status["message"],
        "Metric \"success-rate\" assessed Failed due to failed (4) > failureLimit (3)"
    );
    let sr = &status["metricResults"][0];
    assert_eq!(sr["failed"], 4);
    assert_eq!(sr["measurements"][3]["phase"], "Failed");
    assert_eq!(sr["measurements"][3]["value"], "[0.8]");
    // the healthy latency metric is ended Successful by the termination
    assert_eq!(status["metricResults"][1]["phase"], "Successful");
    // four measurements a minute apart, then the terminating pass at once
    assert_eq!(times.len(), 5, "{times:?}");
}

#[test]
fn unreachable_prometheus_ends_in_error_never_success() {
    let (status, _) = run(&fixture(), |_| {
        Outcome::Error(
            "Post \"http://prometheus.monitoring.svc:9090/api/v1/query\": dial tcp: lookup prometheus.monitoring.svc: no such host".into(),
        )
    });
    assert_eq!(status["phase"], "Error");
    let m = status["message"].as_str().unwrap();
    assert!(
        m.starts_with("Metric \"success-rate\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \"Error Message: Post "),
        "{m}"
    );
    assert_eq!(status["metricResults"][0]["consecutiveError"], 5);
    assert!(status["metricResults"][0].get("count").is_none());
}

#[test]
fn no_data_is_an_error_measurement() {
    // a query returning an empty vector: `result[0]` does not evaluate
    let (status, _) = run(&fixture(), |_| Outcome::prometheus_vector(&[]));
    assert_eq!(status["phase"], "Error");
    assert_eq!(
        status["metricResults"][0]["measurements"][0]["message"],
        "index out of range: 0 (array length is 0)"
    );
}

#[test]
fn missing_arg_ends_the_run_in_error() {
    let mut spec = fixture();
    spec["args"] = json!([{"name": "service-name"}]);
    let (status, times) = run(&spec, |_| unreachable!("nothing is measured"));
    assert_eq!(status["phase"], "Error");
    assert_eq!(
        status["message"],
        "Unable to resolve metric arguments: argument \"service-name\" was not supplied"
    );
    assert_eq!(times.len(), 1);
}
