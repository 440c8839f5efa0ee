//! Argo Rollouts blue-green and nginx traffic routing on `sluice serve` end to end, with
//! kubectl and `sluice rollouts`:
//!
//! - blue-green (argo-rollouts docs/features/bluegreen.md, rollout/bluegreen.go,
//!   rollout/service.go): the preview Service selects the new ReplicaSet, the rollout pauses
//!   (autoPromotionEnabled: false), `promote` switches the active Service, the old
//!   ReplicaSet carries `argo-rollouts.argoproj.io/scale-down-deadline` and is scaled down
//!   after scaleDownDelaySeconds; abort and retry.
//! - nginx (docs/features/traffic-management/nginx.md, rollout/trafficrouting/nginx/nginx.go):
//!   the canary Ingress `<rollout>-<stableIngress>-canary` owned by the Rollout, its
//!   `canary`/`canary-weight` annotations following the setWeight steps, weight 0 once
//!   promoted; stableService/canaryService selectors pinned to the pod hashes.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::kubectl_available;
use crate::serve_triggers::Serve;

const BLUE_GREEN: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web-active}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-preview}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:blue
  strategy:
    blueGreen:
      activeService: web-active
      previewService: web-preview
      autoPromotionEnabled: false
      scaleDownDelaySeconds: 3
"#;

const NGINX: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web-stable}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-canary}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-ingress
  annotations: {kubernetes.io/ingress.class: nginx}
spec:
  rules:
  - host: web.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web-stable
            port: {number: 80}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 5
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:v1
  strategy:
    canary:
      stableService: web-stable
      canaryService: web-canary
      trafficRouting:
        nginx:
          stableIngress: web-ingress
          additionalIngressAnnotations:
            canary-by-header: X-Canary
      steps:
      - setWeight: 20
      - pause: {}
      - setWeight: 60
      - pause: {}
"#;

fn cli(s: &Serve, args: &[&str]) -> std::process::Output {
    let data = s.dir.display().to_string();
    let mut a = vec!["rollouts"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--data", &data]);
    crate::common::sluice(&a, None)
}

fn cli_ok(s: &Serve, args: &[&str]) -> String {
    let o = cli(s, args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "sluice rollouts {args:?}: {}",
        crate::common::stderr(&o)
    );
    crate::common::stdout(&o)
}

fn wait(s: &Serve, args: &[&str], what: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let v = s.json(args);
        if done(&v) {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn selector(s: &Serve, ns: &str, svc: &str) -> String {
    s.json(&["get", "service", svc, "-n", ns])["spec"]["selector"]["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn rs_of(s: &Serve, ns: &str, hash: &str) -> Value {
    s.json(&["get", "replicasets", "-n", ns])["items"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["metadata"]["labels"]["rollouts-pod-template-hash"] == hash)
                .cloned()
        })
        .unwrap_or(Value::Null)
}

/// Argo CD's built-in Rollout health (resource_customizations argoproj.io/Rollout
/// health.lua, ported in sluice-health) of the live object.
fn health(v: &Value) -> sluice_health::HealthStatusCode {
    sluice_health::resource_health(v, &sluice_health::ResourceOverrides::default())
        .map(|h| h.status)
        .unwrap_or(sluice_health::HealthStatusCode::Unknown)
}

fn st<'a>(v: &'a Value, k: &str) -> &'a str {
    v["status"][k].as_str().unwrap_or("")
}

#[test]
fn blue_green_preview_promote_active_and_old_scaled_down_after_the_delay() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("rollouts-bg", &[]);
    s.ok(&["create", "namespace", "bg"], None);
    s.ok(&["apply", "-n", "bg", "-f", "-"], Some(BLUE_GREEN));
    let ro = ["get", "rollout", "web", "-n", "bg"];
    let v = wait(&s, &ro, "the first deploy", 60, |v| {
        st(v, "phase") == "Healthy" && v["status"]["availableReplicas"] == 2
    });
    let v1 = st(&v, "stableRS").to_owned();
    assert_eq!(health(&v), sluice_health::HealthStatusCode::Healthy);
    assert_eq!(selector(&s, "bg", "web-active"), v1);
    assert_eq!(selector(&s, "bg", "web-preview"), v1);
    let svc = s.json(&["get", "service", "web-active", "-n", "bg"]);
    assert_eq!(
        svc["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"],
        "web"
    );
    assert_eq!(
        svc["spec"]["selector"]["app"], "web",
        "other selector keys kept"
    );
    assert_eq!(v["status"]["blueGreen"]["activeSelector"], v1.as_str());

    // a new image: preview switches, the rollout pauses, active stays
    cli_ok(
        &s,
        &[
            "set",
            "image",
            "web",
            "web=registry.example/web:green",
            "-n",
            "bg",
        ],
    );
    let v = wait(&s, &ro, "BlueGreenPause", 60, |v| {
        st(v, "phase") == "Paused" && st(v, "currentPodHash") != v1
    });
    let v2 = st(&v, "currentPodHash").to_owned();
    assert_eq!(st(&v, "message"), "BlueGreenPause");
    assert_eq!(health(&v), sluice_health::HealthStatusCode::Suspended);
    assert_eq!(
        v["status"]["pauseConditions"][0]["reason"],
        "BlueGreenPause"
    );
    assert_eq!(selector(&s, "bg", "web-preview"), v2);
    assert_eq!(selector(&s, "bg", "web-active"), v1);
    assert_eq!(rs_of(&s, "bg", &v2)["spec"]["replicas"], 2);
    let out = cli_ok(&s, &["get", "rollout", "web", "-n", "bg"]);
    assert!(out.contains("Strategy:        BlueGreen"), "{out}");
    assert!(
        out.contains("registry.example/web:green (preview)"),
        "{out}"
    );
    assert!(
        out.contains("registry.example/web:blue (stable, active)"),
        "{out}"
    );
    let out = cli_ok(&s, &["list", "rollouts", "-n", "bg"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("web ") && l.contains("BlueGreen") && l.contains("Paused")),
        "{out}"
    );

    // promote: active switches, the new ReplicaSet is stable
    let out = cli_ok(&s, &["promote", "web", "-n", "bg"]);
    assert_eq!(out, "rollout 'web' promoted\n");
    let v = wait(&s, &ro, "promotion", 60, |v| {
        st(v, "phase") == "Healthy" && st(v, "stableRS") == v2
    });
    assert_eq!(v["status"]["blueGreen"]["activeSelector"], v2.as_str());
    assert_eq!(health(&v), sluice_health::HealthStatusCode::Healthy);
    assert_eq!(selector(&s, "bg", "web-active"), v2);
    // the old ReplicaSet: annotated, kept for scaleDownDelaySeconds (3 s), then scaled down
    let old = wait(
        &s,
        &["get", "replicaset", &format!("web-{v1}"), "-n", "bg"],
        "the scale-down deadline",
        30,
        |r| {
            r["metadata"]["annotations"]["argo-rollouts.argoproj.io/scale-down-deadline"]
                .is_string()
                || r["spec"]["replicas"] == 0
        },
    );
    assert_eq!(
        old["spec"]["replicas"], 2,
        "kept up during the delay: {old:#}"
    );
    let t0 = Instant::now();
    wait(
        &s,
        &["get", "replicaset", &format!("web-{v1}"), "-n", "bg"],
        "the old ReplicaSet scaled down",
        30,
        |r| r["spec"]["replicas"] == 0,
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "scaled down too early: {took:?}"
    );
    assert_eq!(rs_of(&s, "bg", &v2)["spec"]["replicas"], 2);

    // abort keeps the active Service on the stable; retry pauses again
    cli_ok(
        &s,
        &[
            "set",
            "image",
            "web",
            "web=registry.example/web:red",
            "-n",
            "bg",
        ],
    );
    let v = wait(&s, &ro, "the next pause", 60, |v| {
        st(v, "phase") == "Paused" && st(v, "currentPodHash") != v2
    });
    let v3 = st(&v, "currentPodHash").to_owned();
    assert_eq!(selector(&s, "bg", "web-preview"), v3);
    cli_ok(&s, &["abort", "web", "-n", "bg"]);
    let v = wait(&s, &ro, "the abort", 30, |v| st(v, "phase") == "Degraded");
    assert!(
        st(&v, "message").starts_with("RolloutAborted: Rollout aborted update to revision 3"),
        "{v:#}"
    );
    assert_eq!(selector(&s, "bg", "web-active"), v2);
    assert_eq!(health(&v), sluice_health::HealthStatusCode::Degraded);
    let o = cli(&s, &["status", "web", "-n", "bg", "--timeout", "5"]);
    assert_eq!(o.status.code(), Some(1));
    cli_ok(&s, &["retry", "rollout", "web", "-n", "bg"]);
    wait(&s, &ro, "the retried pause", 30, |v| {
        st(v, "phase") == "Paused" && v["status"]["abort"] != true
    });
    cli_ok(&s, &["promote", "web", "--full", "-n", "bg"]);
    wait(&s, &ro, "full promotion", 60, |v| {
        st(v, "phase") == "Healthy" && st(v, "stableRS") == v3
    });
    assert_eq!(selector(&s, "bg", "web-active"), v3);
}

fn canary_ingress(s: &Serve, ns: &str) -> Value {
    s.json(&["get", "ingress", "web-web-ingress-canary", "-n", ns])
}

fn weight(v: &Value) -> &str {
    v["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
        .as_str()
        .unwrap_or("")
}

#[test]
fn nginx_canary_ingress_follows_the_steps_and_returns_to_zero() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("rollouts-nginx", &[]);
    s.ok(&["create", "namespace", "ng"], None);
    // a missing stable Ingress: InvalidSpec with upstream's message, nothing applied
    let no_ingress: String = NGINX
        .split("\n---\n")
        .filter(|d| !d.contains("kind: Ingress"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    s.ok(&["create", "namespace", "missing"], None);
    s.ok(&["apply", "-n", "missing", "-f", "-"], Some(&no_ingress));
    let v = wait(
        &s,
        &["get", "rollout", "web", "-n", "missing"],
        "InvalidSpec",
        30,
        |v| st(v, "phase") == "Degraded",
    );
    assert_eq!(
        st(&v, "message"),
        "InvalidSpec: spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: \"web-ingress\": ingress.networking.k8s.io \"web-ingress\" not found"
    );
    assert_eq!(
        s.json(&["get", "replicasets", "-n", "missing"])["items"]
            .as_array()
            .map_or(0, Vec::len),
        0
    );

    s.ok(&["apply", "-n", "ng", "-f", "-"], Some(NGINX));
    let ro = ["get", "rollout", "web", "-n", "ng"];
    let v = wait(&s, &ro, "the first deploy", 60, |v| {
        st(v, "phase") == "Healthy"
    });
    let v1 = st(&v, "stableRS").to_owned();
    let ing = wait(
        &s,
        &["get", "ingresses", "-n", "ng"],
        "the canary Ingress",
        30,
        |l| {
            l["items"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|i| i["metadata"]["name"] == "web-web-ingress-canary")
            })
        },
    );
    let _ = ing;
    let c = canary_ingress(&s, "ng");
    assert_eq!(
        c["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
        "true"
    );
    assert_eq!(weight(&c), "0");
    assert_eq!(
        c["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-by-header"],
        "X-Canary"
    );
    assert_eq!(
        c["metadata"]["annotations"]["kubernetes.io/ingress.class"],
        "nginx"
    );
    assert_eq!(c["metadata"]["ownerReferences"][0]["kind"], "Rollout");
    assert_eq!(c["metadata"]["ownerReferences"][0]["name"], "web");
    assert_eq!(
        c["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "web-canary"
    );
    assert_eq!(selector(&s, "ng", "web-stable"), v1);
    assert_eq!(selector(&s, "ng", "web-canary"), v1);

    // the first setWeight: one canary pod of five, the stable left at five, weight 20
    cli_ok(
        &s,
        &[
            "set",
            "image",
            "web",
            "web=registry.example/web:v2",
            "-n",
            "ng",
        ],
    );
    let v = wait(&s, &ro, "step 1", 60, |v| {
        st(v, "phase") == "Paused" && v["status"]["currentStepIndex"] == 1
    });
    let v2 = st(&v, "currentPodHash").to_owned();
    assert_eq!(weight(&canary_ingress(&s, "ng")), "20");
    let out = cli_ok(&s, &["get", "rollout", "web", "-n", "ng"]);
    assert!(
        out.contains("  SetWeight:     20\n  ActualWeight:  20\n"),
        "{out}"
    );
    assert_eq!(rs_of(&s, "ng", &v2)["spec"]["replicas"], 1);
    assert_eq!(rs_of(&s, "ng", &v1)["spec"]["replicas"], 5);
    assert_eq!(selector(&s, "ng", "web-canary"), v2);
    assert_eq!(selector(&s, "ng", "web-stable"), v1);

    cli_ok(&s, &["promote", "web", "-n", "ng"]);
    wait(&s, &ro, "step 3", 60, |v| {
        st(v, "phase") == "Paused" && v["status"]["currentStepIndex"] == 3
    });
    assert_eq!(weight(&canary_ingress(&s, "ng")), "60");
    assert_eq!(rs_of(&s, "ng", &v2)["spec"]["replicas"], 3);

    // fully promoted: weight back to 0, the stable Service on the new pods
    cli_ok(&s, &["promote", "web", "-n", "ng"]);
    wait(&s, &ro, "promotion", 60, |v| {
        st(v, "phase") == "Healthy" && st(v, "stableRS") == v2
    });
    let c = wait(
        &s,
        &["get", "ingress", "web-web-ingress-canary", "-n", "ng"],
        "weight 0",
        30,
        |c| weight(c) == "0",
    );
    assert_eq!(
        c["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
        "true"
    );
    assert_eq!(selector(&s, "ng", "web-stable"), v2);
    assert_eq!(rs_of(&s, "ng", &v2)["spec"]["replicas"], 5);
}

const LATE_SERVICE_ROLLOUT: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: late}
spec:
  replicas: 1
  selector:
    matchLabels: {app: late}
  template:
    metadata:
      labels: {app: late}
    spec:
      containers:
      - name: web
        image: registry.example/web:v1
  strategy:
    blueGreen:
      activeService: late-active
"#;

const LATE_SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: late-active}
spec:
  selector: {app: late}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// The Rollout controller watches the Services it names and reacts at once, as
/// argo-rollouts' Service controller enqueues the Rollouts of its `byService` index
/// (service/service.go `getRolloutsByService`): a Rollout waiting on a missing activeService
/// (InvalidSpec) goes on as soon as the Service is created, and a selector a user changes
/// is switched back, well within the controller's 30 s requeue.
#[test]
fn rollout_reacts_to_its_services_at_once() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("rollouts-watch", &[]);
    s.ok(&["create", "namespace", "w"], None);
    s.ok(&["apply", "-n", "w", "-f", "-"], Some(LATE_SERVICE_ROLLOUT));
    let ro = ["get", "rollout", "late", "-n", "w"];
    let invalid = |v: &Value| {
        v["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "InvalidSpec"))
    };
    let v = wait(&s, &ro, "InvalidSpec for the missing Service", 60, invalid);
    let msg = v.to_string();
    assert!(msg.contains("late-active"), "{v:#}");
    // the passes that follow the status write are over: only the watch can wake it now
    std::thread::sleep(Duration::from_secs(2));
    s.ok(&["apply", "-n", "w", "-f", "-"], Some(LATE_SERVICE));
    let t0 = Instant::now();
    let v = wait(&s, &ro, "Healthy once the Service exists", 60, |v| {
        st(v, "phase") == "Healthy" && !invalid(v)
    });
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} (requeue is 30 s)"
    );
    let hash = st(&v, "stableRS").to_owned();
    assert_eq!(selector(&s, "w", "late-active"), hash);
    std::thread::sleep(Duration::from_secs(2));
    s.ok(
        &[
            "patch",
            "service",
            "late-active",
            "-n",
            "w",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"selector":{"rollouts-pod-template-hash":"someone-else"}}}"#,
        ],
        None,
    );
    let t0 = Instant::now();
    while selector(&s, "w", "late-active") != hash {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the selector was not switched back (requeue is 30 s)"
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

const CANARY: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: app
spec:
  replicas: 2
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: registry.example/app:v1
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {duration: 1s}
"#;

fn image(v: &Value) -> String {
    v.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// kubectl-argo-rollouts `undo` (the previous revision's template back, as a new update)
/// and `restart` (`spec.restartAt`; argo-rollouts rollout/restart.go: Pods created before
/// it are replaced, then `status.restartedAt`).
#[test]
fn undo_restores_the_previous_template_and_restart_replaces_the_pods() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let s = Serve::start("rollouts-ops", &[]);
    s.ok(&["create", "namespace", "ops"], None);
    s.ok(&["apply", "-n", "ops", "-f", "-"], Some(CANARY));
    let ro = ["get", "rollout", "app", "-n", "ops"];
    wait(&s, &ro, "the first deploy", 60, |v| {
        st(v, "phase") == "Healthy"
    });
    cli_ok(
        &s,
        &[
            "set",
            "image",
            "app",
            "app=registry.example/app:v2",
            "-n",
            "ops",
        ],
    );
    wait(&s, &ro, "v2 fully promoted", 60, |v| {
        image(v) == "registry.example/app:v2"
            && st(v, "phase") == "Healthy"
            && st(v, "stableRS") == st(v, "currentPodHash")
    });
    // get --watch: prints the view, again when it changes, until the timeout
    let t0 = Instant::now();
    let out = cli_ok(
        &s,
        &[
            "get",
            "rollout",
            "app",
            "--watch",
            "--timeout-seconds",
            "2",
            "-n",
            "ops",
        ],
    );
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert!(
        out.starts_with("Name:") && out.contains("registry.example/app:v2"),
        "{out}"
    );
    let out = cli_ok(&s, &["undo", "app", "-n", "ops"]);
    assert_eq!(out, "rollout 'app' undo\n");
    let v = wait(&s, &ro, "v1 back and fully promoted", 60, |v| {
        image(v) == "registry.example/app:v1"
            && st(v, "phase") == "Healthy"
            && st(v, "stableRS") == st(v, "currentPodHash")
    });
    assert!(
        v.pointer("/spec/template/metadata/labels/rollouts-pod-template-hash")
            .is_none(),
        "{v:#}"
    );
    let o = cli(&s, &["undo", "app", "--to-revision", "9", "-n", "ops"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(crate::common::stderr(&o).contains("unable to find specified revision 9 in history"));

    // restart: every Pod replaced, then restartedAt
    std::thread::sleep(Duration::from_millis(1100));
    let out = cli_ok(&s, &["restart", "app", "-n", "ops"]);
    assert_eq!(out, "rollout 'app' restarts in 0s\n");
    let v = wait(&s, &ro, "the restart to finish", 60, |v| {
        v["status"]["restartedAt"].is_string()
            && v["status"]["restartedAt"] == v["spec"]["restartAt"]
    });
    let at = v["spec"]["restartAt"].as_str().unwrap_or("").to_owned();
    let pods = s.json(&["get", "pods", "-n", "ops", "-l", "app=app"]);
    let items = pods["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty());
    for p in &items {
        let created = p["metadata"]["creationTimestamp"].as_str().unwrap_or("");
        assert!(created >= at.as_str(), "{created} < {at}: {p:#}");
    }
}
