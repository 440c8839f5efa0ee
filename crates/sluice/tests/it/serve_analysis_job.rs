//! The AnalysisRun `job` metric provider on `sluice serve` (argo-rollouts docs "Job
//! Metrics": "the metric is considered successful if the Job completes and had an exit
//! code of zero, otherwise it is failed"; metricproviders/job/job.go): each measurement
//! is a Job named `<run uid>.<metric>.<n>`, owned by the run and labelled with its uid;
//! the measurement is Running until the Job is Complete (Successful) or Failed (Failed);
//! terminating the run deletes the in-flight Job and ends the measurement "Metric
//! Terminated". The simulated node completes the Jobs; a suspended Job never runs there,
//! so the test can fail one as a kubelet would, through the status subresource.

use serde_json::Value;

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::Serve;

fn run_yaml(name: &str, count: u32, suspend: bool) -> String {
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata:
  name: {name}
spec:
  metrics:
  - name: smoke
    count: {count}
    interval: 1s
    failureLimit: 0
    provider:
      job:
        metadata:
          labels:
            team: shop
        spec:
          suspend: {suspend}
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: smoke
                image: busybox:1.36
                command: [sh, -c, "wget -qO- http://order-service/healthz"]
"#
    )
}

fn metric(v: &Value) -> &Value {
    &v["status"]["metricResults"][0]
}

/// The job name of the run's last measurement, once it has one.
fn wait_job(s: &Serve, run: &str) -> String {
    let v = s.wait_for(
        &["get", "analysisrun", run, "-n", "jobs"],
        "a running job measurement",
        |v| {
            metric(v)["measurements"][0]["metadata"]["job-name"]
                .as_str()
                .is_some()
        },
    );
    let m = &metric(&v)["measurements"][0];
    assert_eq!(m["phase"], "Running", "{v:#}");
    assert!(m.get("finishedAt").is_none(), "{v:#}");
    m["metadata"]["job-name"].as_str().unwrap_or("").to_owned()
}

#[test]
fn job_metrics_succeed_fail_and_terminate_with_their_jobs() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("analysis-job", &[]);
    s.ok(&["create", "namespace", "jobs"], None);

    // two successful Jobs, one per measurement, owned by the run
    s.ok(
        &["apply", "-n", "jobs", "-f", "-"],
        Some(&run_yaml("ok", 2, false)),
    );
    let v = s.wait_for(
        &["get", "analysisrun", "ok", "-n", "jobs"],
        "Successful",
        |v| v["status"]["phase"] == "Successful",
    );
    let uid = v["metadata"]["uid"].as_str().unwrap_or("").to_owned();
    let r = metric(&v);
    assert_eq!(
        (r["count"].as_i64(), r["successful"].as_i64()),
        (Some(2), Some(2)),
        "{v:#}"
    );
    let names: Vec<&str> = r["measurements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["metadata"]["job-name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, [format!("{uid}.smoke.1"), format!("{uid}.smoke.2")]);
    let jobs = s.json(&[
        "get",
        "jobs",
        "-n",
        "jobs",
        "-l",
        &format!("analysisrun.argoproj.io/uid={uid}"),
    ]);
    let jobs = jobs["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(jobs.len(), 2);
    for j in &jobs {
        assert_eq!(j["metadata"]["ownerReferences"][0]["kind"], "AnalysisRun");
        assert_eq!(j["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
        assert_eq!(
            j["metadata"]["annotations"]["analysisrun.argoproj.io/name"],
            "ok"
        );
        assert_eq!(
            j["metadata"]["annotations"]["analysisrun.argoproj.io/metric-name"],
            "smoke"
        );
        assert_eq!(j["metadata"]["labels"]["team"], "shop");
        assert_eq!(j["spec"]["backoffLimit"], 0);
    }

    // a Failed Job fails the measurement, and the run past failureLimit 0
    s.ok(
        &["apply", "-n", "jobs", "-f", "-"],
        Some(&run_yaml("bad", 1, true)),
    );
    let job = wait_job(&s, "bad");
    s.ok(
        &[
            "patch",
            "job",
            &job,
            "-n",
            "jobs",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded"}]}}"#,
        ],
        None,
    );
    let v = s.wait_for(
        &["get", "analysisrun", "bad", "-n", "jobs"],
        "Failed",
        |v| v["status"]["phase"] == "Failed",
    );
    let r = metric(&v);
    assert_eq!(
        (r["failed"].as_i64(), r["phase"].as_str()),
        (Some(1), Some("Failed"))
    );
    assert_eq!(r["measurements"][0]["phase"], "Failed");
    assert!(
        v["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("failed (1) > failureLimit (0)")),
        "{v:#}"
    );

    // terminating the run stops the in-flight Job
    s.ok(
        &["apply", "-n", "jobs", "-f", "-"],
        Some(&run_yaml("stop", 1, true)),
    );
    let job = wait_job(&s, "stop");
    s.ok(
        &[
            "patch",
            "analysisrun",
            "stop",
            "-n",
            "jobs",
            "--type=merge",
            "-p",
            r#"{"spec":{"terminate":true}}"#,
        ],
        None,
    );
    let v = s.wait_for(
        &["get", "analysisrun", "stop", "-n", "jobs"],
        "terminated",
        |v| v["status"]["phase"] == "Successful",
    );
    let m = &metric(&v)["measurements"][0];
    assert_eq!(
        (m["phase"].as_str(), m["message"].as_str()),
        (Some("Successful"), Some("Metric Terminated"))
    );
    assert!(m["finishedAt"].is_string());
    s.wait_for(
        &["get", "jobs", "-n", "jobs"],
        "the terminated Job deleted",
        |l| {
            l["items"]
                .as_array()
                .is_some_and(|i| !i.iter().any(|j| j["metadata"]["name"] == job.as_str()))
        },
    );
}
