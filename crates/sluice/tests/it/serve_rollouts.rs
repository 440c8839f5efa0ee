//! Argo Rollouts on `sluice serve` end to end, with a real Prometheus (Debian's
//! `prometheus`): a fixture exporter served by the test stands in for the pods (the
//! simulated node runs no containers) with `http_requests_total` and
//! `http_request_duration_seconds` for `service="order-service"`; Prometheus scrapes it
//! every second; the Rollout of tests/fixtures/rollouts/order-service.yaml (the seed's
//! shape, queries as written, address and durations overridden) walks its canary steps to
//! fully promoted while the success rate is 100%, and is aborted by its background
//! analysis when 20% of requests fail (argo-rollouts docs "Canary" and "Analysis":
//! a Failed background AnalysisRun aborts the rollout and scales the canary down).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{kubectl_available, temp_dir};
use crate::common::repo_root;
use crate::serve_triggers::Serve;

/// The exporter: counters advance with real time at `rate` requests per second, a
/// fraction `errors` of them with status 500, all observed under 100 ms.
/// (last update, ok count, error count, requests per second, error fraction).
type Counters = (Instant, f64, f64, f64, f64);

struct Exporter {
    state: Arc<Mutex<Counters>>,
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Exporter {
    fn start() -> Exporter {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new((Instant::now(), 0.0, 0.0, 10.0, 0.0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = c.read(&mut buf);
                let body = {
                    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
                    let dt = s.0.elapsed().as_secs_f64();
                    s.0 = Instant::now();
                    s.1 += dt * s.3 * (1.0 - s.4);
                    s.2 += dt * s.3 * s.4;
                    let (ok, err) = (s.1.floor(), s.2.floor());
                    let all = ok + err;
                    format!(
                        "# TYPE http_requests_total counter\n\
                         http_requests_total{{service=\"order-service\",status=\"200\"}} {ok}\n\
                         http_requests_total{{service=\"order-service\",status=\"500\"}} {err}\n\
                         # TYPE http_request_duration_seconds histogram\n\
                         http_request_duration_seconds_bucket{{service=\"order-service\",le=\"0.1\"}} {all}\n\
                         http_request_duration_seconds_bucket{{service=\"order-service\",le=\"+Inf\"}} {all}\n\
                         http_request_duration_seconds_sum{{service=\"order-service\"}} {}\n\
                         http_request_duration_seconds_count{{service=\"order-service\"}} {all}\n",
                        all * 0.05
                    )
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Exporter { state, port, stop }
    }

    fn set(&self, rate: f64, errors: f64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let dt = s.0.elapsed().as_secs_f64();
        s.0 = Instant::now();
        s.1 += dt * s.3 * (1.0 - s.4);
        s.2 += dt * s.3 * s.4;
        s.3 = rate;
        s.4 = errors;
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub(crate) struct Prometheus {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// GET `http://127.0.0.1:port{path}`: the body.
pub(crate) fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    if !out.starts_with("HTTP/1.1 200") {
        return None;
    }
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

fn start_prometheus(dir: &Path, target: u16) -> Prometheus {
    start_prometheus_with(
        dir,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: order-service\n  static_configs:\n  - targets: ['127.0.0.1:{target}']\n"
        ),
    )
}

/// Debian's `prometheus` on a free loopback port with `config` (prometheus.yml), ready.
pub(crate) fn start_prometheus_with(dir: &Path, config: &str) -> Prometheus {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).expect("write config");
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let p = Prometheus { child, port };
    let t0 = Instant::now();
    while get(port, "/-/ready").is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "prometheus not ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

pub(crate) fn prometheus_available() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn rollout(s: &Serve, ns: &str) -> Value {
    s.json(&["get", "rollout", "order-service", "-n", ns])
}

fn st<'a>(v: &'a Value, k: &str) -> &'a Value {
    &v["status"][k]
}

/// Waits for `done` on the Rollout, collecting the step indices seen.
fn wait_rollout(
    s: &Serve,
    ns: &str,
    what: &str,
    secs: u64,
    steps: &mut Vec<i64>,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let t0 = Instant::now();
    loop {
        let v = rollout(s, ns);
        if let Some(i) = st(&v, "currentStepIndex").as_i64()
            && steps.last() != Some(&i)
        {
            steps.push(i);
        }
        if done(&v) {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn replica_sets(s: &Serve, ns: &str) -> Vec<Value> {
    s.json(&["get", "replicasets", "-n", ns])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn rs_replicas(s: &Serve, ns: &str, hash: &str) -> i64 {
    replica_sets(s, ns)
        .iter()
        .find(|r| r["metadata"]["labels"]["rollouts-pod-template-hash"] == hash)
        .and_then(|r| r["spec"]["replicas"].as_i64())
        .unwrap_or(-1)
}

fn set_image(s: &Serve, ns: &str, image: &str) {
    s.ok(
        &[
            "patch",
            "rollout",
            "order-service",
            "-n",
            ns,
            "--type",
            "json",
            "-p",
            &format!(
                r#"[{{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"{image}"}}]"#
            ),
        ],
        None,
    );
}

#[test]
fn canary_walks_its_steps_with_prometheus_analysis_and_a_failing_canary_is_aborted() {
    if !kubectl_available() || !prometheus_available() {
        eprintln!("kubectl or prometheus is not installed (scripts/deps): skipped");
        return;
    }
    let exporter = Exporter::start();
    let pdir = temp_dir("rollouts-prometheus");
    let prom = start_prometheus(&pdir, exporter.port);
    let s = Serve::start("rollouts", &[]);
    let fixture =
        std::fs::read_to_string(repo_root().join("tests/fixtures/rollouts/order-service.yaml"))
            .expect("fixture");
    let yaml = fixture
        .replace(
            "http://prometheus.monitoring.svc:9090",
            &format!("http://127.0.0.1:{}", prom.port),
        )
        .replace("interval: 1m", "interval: 1s")
        .replace("duration: 2m", "duration: 3s")
        .replace("duration: 5m", "duration: 3s")
        .replace("duration: 10m", "duration: 3s");
    // the seed's query answers once Prometheus has two scrapes
    let q = "/api/v1/query?query=sum%28rate%28http_requests_total%7Bservice%3D%22order-service%22%7D%5B5m%5D%29%29";
    let t0 = Instant::now();
    while !get(prom.port, q).is_some_and(|b| b.contains("\"value\"")) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no data in prometheus"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // traffic routing without its Services is reported, nothing is scaled
    s.ok(&["create", "namespace", "routed"], None);
    let routed = yaml.replace(
        "      analysis:\n",
        "      trafficRouting:\n        nginx:\n          stableIngress: order-service-stable\n      analysis:\n",
    );
    s.ok(&["apply", "-n", "routed", "-f", "-"], Some(&routed));
    let mut steps = Vec::new();
    let v = wait_rollout(&s, "routed", "InvalidSpec", 30, &mut steps, |v| {
        st(v, "phase") == "Degraded"
    });
    // nginx needs stableService and canaryService (validation.InvalidTrafficRoutingMessage)
    assert!(
        st(&v, "message").as_str().is_some_and(|m| m
            .contains("Canary service and Stable service must to be set to use Traffic Routing")),
        "{v:#}"
    );
    assert!(replica_sets(&s, "routed").is_empty());

    // first deploy: stable at once
    s.ok(&["create", "namespace", "apps"], None);
    s.ok(&["apply", "-n", "apps", "-f", "-"], Some(&yaml));
    let v = wait_rollout(&s, "apps", "the first deploy", 60, &mut steps, |v| {
        st(v, "phase") == "Healthy" && st(v, "availableReplicas") == 3
    });
    let v1 = st(&v, "stableRS").as_str().unwrap_or("").to_owned();
    assert_eq!(st(&v, "currentPodHash").as_str(), Some(v1.as_str()));
    assert_eq!(rs_replicas(&s, "apps", &v1), 3);
    let rs = &replica_sets(&s, "apps")[0];
    assert_eq!(rs["metadata"]["name"], format!("order-service-{v1}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["rollouts-pod-template-hash"],
        v1
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Rollout");

    // a healthy canary walks every step to fully promoted
    let mut steps = Vec::new();
    set_image(&s, "apps", "registry.example/apps/order-service:v2");
    let v = wait_rollout(&s, "apps", "promotion of v2", 120, &mut steps, |v| {
        st(v, "phase") == "Healthy"
            && st(v, "stableRS") == st(v, "currentPodHash")
            && st(v, "stableRS") != v1.as_str()
            && st(v, "availableReplicas") == 3
    });
    let v2 = st(&v, "stableRS").as_str().unwrap_or("").to_owned();
    assert_eq!(rs_replicas(&s, "apps", &v2), 3);
    assert_eq!(
        rs_replicas(&s, "apps", &v1),
        0,
        "old ReplicaSet scaled down"
    );
    assert_eq!(st(&v, "currentStepIndex"), 8);
    for i in [1, 3, 5, 7] {
        assert!(steps.contains(&i), "pause step {i} not seen: {steps:?}");
    }
    let runs = s.json(&["get", "analysisruns", "-n", "apps"]);
    let bg = runs["items"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["metadata"]["labels"]["rollouts-pod-template-hash"] == v2.as_str())
        })
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        bg["metadata"]["labels"]["rollout-type"], "Background",
        "{runs:#}"
    );
    let results = bg["status"]["metricResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rate = results
        .iter()
        .find(|m| m["name"] == "success-rate")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(rate["successful"].as_i64().unwrap_or(0) >= 1, "{bg:#}");
    assert_eq!(rate["measurements"][0]["value"], "[1]", "{bg:#}");

    // the CLI, as kubectl-argo-rollouts
    let data = s.dir.display().to_string();
    let cli = |args: &[&str]| {
        let mut a = vec!["rollouts"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--data", &data]);
        crate::common::sluice(&a, None)
    };
    let o = cli(&["status", "order-service", "-n", "apps", "--timeout", "10"]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::stderr(&o));
    assert!(crate::common::stdout(&o).contains("Healthy"));
    let o = cli(&["list", "rollouts", "-A"]);
    let out = crate::common::stdout(&o);
    assert!(out.starts_with("NAMESPACE"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("apps ") && l.contains("Healthy") && l.contains("8/8")),
        "{out}"
    );
    let o = cli(&["get", "rollout", "order-service", "-n", "apps"]);
    let out = crate::common::stdout(&o);
    assert!(out.contains("Status:          ✔ Healthy"), "{out}");
    assert!(out.contains(&format!("order-service-{v2}")), "{out}");
    assert!(out.contains("AnalysisRun"), "{out}");

    // 20% errors: the background analysis fails and the rollout is aborted
    exporter.set(1000.0, 0.2);
    set_image(&s, "apps", "registry.example/apps/order-service:v3");
    let v = wait_rollout(&s, "apps", "abort of v3", 120, &mut steps, |v| {
        st(v, "phase") == "Degraded"
    });
    assert_eq!(st(&v, "abort"), true);
    let o = cli(&["status", "order-service", "-n", "apps", "--timeout", "10"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "Degraded: {}",
        crate::common::stdout(&o)
    );
    assert!(
        st(&v, "message")
            .as_str()
            .is_some_and(|m| m.starts_with("RolloutAborted: Rollout aborted update to revision 3")),
        "{v:#}"
    );
    assert_eq!(st(&v, "stableRS").as_str(), Some(v2.as_str()));
    let v3 = st(&v, "currentPodHash").as_str().unwrap_or("").to_owned();
    // traffic (replicas) returns to stable
    let t0 = Instant::now();
    while !(rs_replicas(&s, "apps", &v3) == 0 && rs_replicas(&s, "apps", &v2) == 3) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "canary not scaled down"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let runs = s.json(&["get", "analysisruns", "-n", "apps"]);
    let bad = runs["items"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["metadata"]["labels"]["rollouts-pod-template-hash"] == v3.as_str())
        })
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(bad["status"]["phase"], "Failed", "{bad:#}");
    let rate = bad["status"]["metricResults"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["name"] == "success-rate"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(rate["phase"], "Failed", "{bad:#}");
    assert!(rate["failed"].as_i64().unwrap_or(0) >= 4, "{bad:#}");
    let last = rate["measurements"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(last["phase"], "Failed");
    let value: f64 = last["value"]
        .as_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .parse()
        .unwrap_or(1.0);
    assert!(value < 0.95, "{last:#}");
}
