//! Benchmark of authentication and RBAC in the API server (bench/auth.sh runs this; numbers
//! go to docs/benchmarks.md): with 1,000 RoleBindings stored, RBAC decisions per second, and
//! the time of one GET and one create through the authenticated router for a token-file user
//! decided by RBAC, against the same requests with the admin token (system:masters: no RBAC
//! lookup) and without authentication, in the same run; peak RSS.
//!
//! `cargo run -p sluice-apiserver --example auth_bench [-- BINDINGS]`

use std::time::{Duration, Instant};

use axum::body::Body;
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};
use sluice_auth::rbac::Attributes;
use tower::ServiceExt;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> u16 {
    let mut b = axum::http::Request::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        let ct = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        b = b.header("content-type", ct);
    }
    let Ok(req) = b.body(body.map(Body::from).unwrap_or_else(Body::empty)) else {
        return 0;
    };
    match router.clone().oneshot(req).await {
        Ok(r) => {
            let code = r.status().as_u16();
            let _ = axum::body::to_bytes(r.into_body(), usize::MAX).await;
            code
        }
        Err(_) => 0,
    }
}

/// Mean time of `n` GETs and `n` creates.
async fn measure(
    router: &axum::Router,
    token: Option<&str>,
    ns: &str,
    tag: &str,
    n: usize,
) -> (Duration, Duration) {
    let start = Instant::now();
    for _ in 0..n {
        let c = call(
            router,
            "GET",
            &format!("/api/v1/namespaces/{ns}/configmaps/target"),
            token,
            None,
        )
        .await;
        if c != 200 {
            eprintln!("GET as {tag}: {c}");
            break;
        }
    }
    let get = start.elapsed() / n as u32;
    let start = Instant::now();
    for i in 0..n {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{tag}-{i}")}}).to_string();
        let c = call(
            router,
            "POST",
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            token,
            Some(body),
        )
        .await;
        if c != 201 {
            eprintln!("create as {tag}: {c}");
            break;
        }
    }
    (get, start.elapsed() / n as u32)
}

#[tokio::main]
async fn main() {
    let bindings: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("sluice-auth-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let tokens = dir.join("tokens.csv");
    let _ = std::fs::write(
        &tokens,
        "user-token,jane,1,\"devs\"\ndev-token,dana,2,developers\n",
    );
    let server = match ApiServer::open(Options {
        data_dir: Some(dir.clone()),
        simulate: None,
        token_auth_file: Some(tokens),
        ..Options::default()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    let local = server.local_router();
    let namespaces = 100;
    for i in 0..namespaces {
        call(
            &local,
            "POST",
            "/api/v1/namespaces",
            None,
            Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns-{i}")}}).to_string()),
        )
        .await;
    }
    // bindings for other users and groups everywhere, then jane's one (edit in ns-0)
    for i in 0..bindings {
        let body = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("rb-{i}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("user-{i}")},
                         {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": format!("group-{}", i % 50)}]})
        .to_string();
        call(
            &local,
            "POST",
            &format!(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/ns-{}/rolebindings",
                i % namespaces
            ),
            None,
            Some(body),
        )
        .await;
    }
    let body = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "jane-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]})
    .to_string();
    call(
        &local,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ns-0/rolebindings",
        None,
        Some(body),
    )
    .await;
    call(
        &local,
        "POST",
        "/api/v1/namespaces/ns-0/configmaps",
        None,
        Some(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"}})
                .to_string(),
        ),
    )
    .await;

    // decisions alone
    let st = server.state();
    let jane = sluice_auth::UserInfo::new("jane", &["devs", "system:authenticated"]);
    let yes = Attributes::resource("get", "", "configmaps", "ns-0").named("target");
    let no = Attributes::resource("delete", "", "nodes", "");
    let _ = sluice_apiserver::auth::allowed(st, &jane, &yes); // builds the index
    let n = 200_000;
    let start = Instant::now();
    let mut allowed = 0;
    for i in 0..n {
        if sluice_apiserver::auth::allowed(st, &jane, if i % 2 == 0 { &yes } else { &no }) {
            allowed += 1;
        }
    }
    let d = start.elapsed();
    println!(
        "rbac: {n} decisions ({allowed} allowed) with {bindings} RoleBindings in {:.2?} = {:.0} decisions/s, {:.2} us each",
        d,
        n as f64 / d.as_secs_f64(),
        d.as_secs_f64() * 1e6 / n as f64
    );

    let authed = server.router();
    let admin = server.token().to_owned();
    let reqs = 2000;
    // warm up each path once
    measure(&local, None, "ns-0", "warm-a", 20).await;
    measure(&authed, Some("user-token"), "ns-0", "warm-b", 20).await;
    let (g0, c0) = measure(&local, None, "ns-0", "noauth", reqs).await;
    let (g1, c1) = measure(&authed, Some(&admin), "ns-0", "admin", reqs).await;
    let (g2, c2) = measure(&authed, Some("user-token"), "ns-0", "rbac", reqs).await;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "request (in-process router, {reqs} each): GET no auth {:.1} us, admin token {:.1} us, RBAC user {:.1} us",
        us(g0),
        us(g1),
        us(g2)
    );
    println!(
        "request: create no auth {:.1} us, admin token {:.1} us, RBAC user {:.1} us",
        us(c0),
        us(c1),
        us(c2)
    );
    println!(
        "ratio RBAC user / admin token: GET {:.2}x (+{:.1} us), create {:.2}x (+{:.1} us); creates/s as RBAC user {:.0}",
        us(g2) / us(g1),
        us(g2) - us(g1),
        us(c2) / us(c1),
        us(c2) - us(c1),
        1e6 / us(c2)
    );

    // Argo CD's RBAC: the seed's argocd-rbac-cm and 100 Applications stored; requests
    // Kubernetes RBAC allows (jane) must not pay for it, requests only Argo CD allows
    // (dana, group developers) pay the policy check (and per-item filtering for lists)
    for body in [json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})] {
        call(
            &local,
            "POST",
            "/api/v1/namespaces",
            None,
            Some(body.to_string()),
        )
        .await;
    }
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-rbac-cm"}, "data": {
        "policy.default": "role:readonly",
        "policy.csv": "g, platform-team, role:admin\np, role:developer, applications, get, */*, allow\np, role:developer, applications, sync, */*, allow\np, role:developer, logs, get, */*, allow\np, role:developer, exec, create, */*, allow\ng, developers, role:developer\np, role:viewer, applications, get, */*, allow\np, role:viewer, logs, get, */*, allow\ng, viewers, role:viewer\n",
        "scopes": "[groups, email]"}});
    call(
        &local,
        "POST",
        "/api/v1/namespaces/argocd/configmaps",
        None,
        Some(cm.to_string()),
    )
    .await;
    for i in 0..100 {
        let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": format!("app-{i}")},
            "spec": {"project": "default", "source": {"repoURL": "https://git.example/r.git", "path": ".", "targetRevision": "HEAD"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "ns-0"}}});
        call(
            &local,
            "POST",
            "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications",
            None,
            Some(app.to_string()),
        )
        .await;
    }
    measure(&authed, Some("user-token"), "ns-0", "warm-c", 20).await;
    let (g3, c3) = measure(&authed, Some("user-token"), "ns-0", "rbac-argo", reqs).await;
    println!(
        "with the Argo CD policy loaded: RBAC user GET {:.1} us, create {:.1} us (ratio to admin token: GET {:.2}x, create {:.2}x)",
        us(g3),
        us(c3),
        us(g3) / us(g1),
        us(c3) / us(c1)
    );
    let time_n = |router: axum::Router,
                  method: &'static str,
                  path: String,
                  token: String,
                  body: Option<String>,
                  want: u16,
                  n: usize| async move {
        let start = Instant::now();
        for _ in 0..n {
            let c = call(&router, method, &path, Some(&token), body.clone()).await;
            if c != want {
                eprintln!("{method} {path}: {c}");
                break;
            }
        }
        start.elapsed() / n as u32
    };
    let app = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications".to_owned();
    let sync = json!({"operation": {"sync": {"revision": "HEAD"}}}).to_string();
    let mut rows = Vec::new();
    for (what, method, path, body, want, n) in [
        (
            "GET Application",
            "GET",
            format!("{app}/app-0"),
            None,
            200,
            reqs,
        ),
        (
            "sync (operation merge patch, dryRun)",
            "PATCH",
            format!("{app}/app-0?dryRun=All"),
            Some(sync.clone()),
            200,
            reqs,
        ),
        ("list 100 Applications", "GET", app.clone(), None, 200, 200),
    ] {
        let _ = time_n(
            authed.clone(),
            method,
            path.clone(),
            "dev-token".into(),
            body.clone(),
            want,
            10,
        )
        .await;
        let base = time_n(
            authed.clone(),
            method,
            path.clone(),
            admin.clone(),
            body.clone(),
            want,
            n,
        )
        .await;
        let argo = time_n(
            authed.clone(),
            method,
            path.clone(),
            "dev-token".into(),
            body.clone(),
            want,
            n,
        )
        .await;
        rows.push((what, base, argo));
    }
    // a request neither allows (Kubernetes RBAC, then Argo CD's mapping, say no)
    let denied = time_n(
        authed.clone(),
        "GET",
        "/api/v1/namespaces/ns-0/configmaps/target".into(),
        "dev-token".into(),
        None,
        403,
        reqs,
    )
    .await;
    for (what, base, argo) in rows {
        println!(
            "argocd rbac: {what}: admin token {:.1} us, developers member (Argo CD policy) {:.1} us, ratio {:.2}x (+{:.1} us)",
            us(base),
            us(argo),
            us(argo) / us(base),
            us(argo) - us(base)
        );
    }
    println!(
        "argocd rbac: a request both deny (403): {:.1} us",
        us(denied)
    );
    println!("peak rss: {:.1} MiB", peak_rss_mib());
    let _ = std::fs::remove_dir_all(&dir);
}
