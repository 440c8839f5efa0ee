//! Benchmarks of the embedded API server (bench/apiserver.sh runs this; numbers go to
//! docs/benchmarks.md): 10,000 ConfigMaps created and listed through the in-process kube
//! client and over HTTP, 50 concurrent watchers, resident memory with 10,000 objects.
//!
//! `cargo run -p sluice-apiserver --example apiserver_bench [-- N]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};

const CONCURRENCY: usize = 16;

fn cm(i: usize) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "yes", "shard": (i % 10).to_string()}},
        "data": {"key": "value", "index": i.to_string()},
    }))
    .unwrap_or_default()
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

async fn create_all(client: &Client, ns: &str, n: usize) -> Duration {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let api = api.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if let Err(e) = api.create(&PostParams::default(), &cm(i)).await {
                    eprintln!("create {i}: {e}");
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    start.elapsed()
}

async fn list_all(client: &Client, ns: &str) -> (usize, Duration) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let start = Instant::now();
    let l = api
        .list(&ListParams::default())
        .await
        .map(|l| l.items.len())
        .unwrap_or(0);
    (l, start.elapsed())
}

async fn watchers(client: &Client, ns: &str, watchers: usize, events: usize) -> Duration {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let rv = api
        .list(&ListParams::default().limit(1))
        .await
        .ok()
        .and_then(|l| l.metadata.resource_version)
        .unwrap_or_default();
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let api = api.clone();
        let rv = rv.clone();
        handles.push(tokio::spawn(async move {
            let mut seen = 0;
            let Ok(s) = api.watch(&WatchParams::default().timeout(60), &rv).await else {
                return 0;
            };
            let mut s = s.boxed();
            while let Some(ev) = s.next().await {
                if let Ok(WatchEvent::Added(_)) = ev {
                    seen += 1;
                    if seen == events {
                        break;
                    }
                }
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let writer: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for i in 0..events {
        let _ = writer
            .create(&PostParams::default(), &cm(100_000 + i))
            .await;
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap_or(0);
    }
    let d = start.elapsed();
    println!(
        "  {watchers} watchers received {total} of {} events",
        watchers * events
    );
    d
}

/// Creates on fresh servers with cheap writes inline (`inline_writes: true`) and with every
/// write on the request pool (the default), alternating, so both see the same machine load.
async fn compare_inline_and_pooled(n: usize) {
    for round in 0..2 {
        for inline in [true, false] {
            let dir = std::env::temp_dir().join(format!(
                "sluice-bench-ab-{}-{round}-{inline}",
                std::process::id()
            ));
            let Ok(server) = ApiServer::open(Options {
                data_dir: Some(dir.clone()),
                simulate: None,
                inline_writes: inline,
                ..Options::default()
            }) else {
                continue;
            };
            let c = Client::new(server.local_router(), "default");
            let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
            let _ = api
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({"metadata": {"name": "bench-ab"}}))
                        .unwrap_or_default(),
                )
                .await;
            let d = create_all(&c, "bench-ab", n).await;
            println!(
                "in-process, {}: {n} creates in {:.2?} = {:.0} creates/s",
                if inline {
                    "cheap writes inline"
                } else {
                    "every write on the pool"
                },
                d,
                n as f64 / d.as_secs_f64()
            );
            drop(server);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Creates on fresh servers: plain, with ConfigMaps encrypted at rest (aesgcm, 32-byte key),
/// and with an audit log at Metadata (every request logged to a file), alternating for two
/// rounds so that all see the same machine load; each as a ratio to the plain run of its
/// round; peak RSS of the process at the end.
async fn compare_at_rest(n: usize) {
    let base = std::env::temp_dir().join(format!("sluice-bench-atrest-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&base);
    let enc = base.join("enc.yaml");
    let policy = base.join("policy.yaml");
    let written = std::fs::write(
        &enc,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [configmaps]\n  providers:\n  - aesgcm:\n      keys:\n      - name: key1\n        secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n  - identity: {}\n",
    )
    .and_then(|()| {
        std::fs::write(
            &policy,
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
        )
    });
    if let Err(e) = written {
        eprintln!("{e}");
        return;
    }
    for round in 0..2 {
        let mut plain = 0.0;
        for mode in ["plain", "aesgcm", "audit"] {
            let dir = base.join(format!("{round}-{mode}"));
            let mut o = Options {
                data_dir: Some(dir.clone()),
                simulate: None,
                ..Options::default()
            };
            match mode {
                "aesgcm" => o.encryption_provider_config = Some(enc.clone()),
                "audit" => {
                    o.audit = Some(sluice_apiserver::audit_log::AuditOptions {
                        log_path: Some(base.join(format!("audit-{round}.log"))),
                        policy_file: Some(policy.clone()),
                        ..Default::default()
                    })
                }
                _ => {}
            }
            let server = match ApiServer::open(o) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{mode}: {e}");
                    continue;
                }
            };
            let c = Client::new(server.local_router(), "default");
            let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
            let _ = api
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({"metadata": {"name": "bench-rest"}}))
                        .unwrap_or_default(),
                )
                .await;
            let d = create_all(&c, "bench-rest", n).await;
            let rate = n as f64 / d.as_secs_f64();
            if mode == "plain" {
                plain = rate;
            }
            println!(
                "round {round}, in-process, {mode}: {n} ConfigMap creates in {d:.2?} = {rate:.0} creates/s ({:.2}x plain)",
                rate / plain.max(1.0)
            );
            drop(server);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let lines = std::fs::read_to_string(base.join("audit-1.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0);
    println!("audit events written in round 1: {lines}");
    println!("peak rss: {:.1} MiB", peak_rss_mib());
    let _ = std::fs::remove_dir_all(&base);
}

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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    if std::env::var_os("BENCH_ATREST_ONLY").is_some() {
        compare_at_rest(n).await;
        return;
    }
    let dir = std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id()));
    let server = match ApiServer::open(Options {
        data_dir: Some(dir.clone()),
        simulate: None,
        ..Options::default()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    println!("rss at start: {:.1} MiB", rss_mib());

    let local = Client::new(server.local_router(), "default");
    for ns in ["bench-local", "bench-http", "bench-watch"] {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(local.clone());
        let _ = api
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap_or_default(),
            )
            .await;
    }
    let d = create_all(&local, "bench-local", n).await;
    println!(
        "in-process: {n} creates in {:.2?} = {:.0} creates/s ({CONCURRENCY} concurrent)",
        d,
        n as f64 / d.as_secs_f64()
    );

    println!(
        "rss with {n} objects: {:.1} MiB (after the creates, before any list)",
        rss_mib()
    );
    // the server's own share of a list: the router answers, the bytes are not decoded
    let start = Instant::now();
    let req = axum::http::Request::get("/api/v1/namespaces/bench-local/configmaps")
        .body(axum::body::Body::empty())
        .unwrap_or_default();
    let bytes = match tower::ServiceExt::oneshot(server.local_router(), req).await {
        Ok(resp) => axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map(|b| b.len())
            .unwrap_or(0),
        Err(_) => 0,
    };
    println!(
        "in-process: server answers a list of {n} ({:.1} MiB of JSON) in {:.1} ms",
        bytes as f64 / 1048576.0,
        start.elapsed().as_secs_f64() * 1000.0
    );
    let (count, d) = list_all(&local, "bench-local").await;
    println!(
        "in-process: list of {count} decoded by kube-rs into ConfigMaps in {:.1} ms",
        d.as_secs_f64() * 1000.0
    );

    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let s2 = server.clone();
    let task = tokio::spawn(async move { s2.serve(listener).await });
    let kubeconfig = dir.join("kubeconfig-http");
    let _ = server.write_kubeconfig(&kubeconfig, &format!("http://{addr}"), None);
    let http = match kube::config::Kubeconfig::read_from(&kubeconfig) {
        Ok(kc) => match Config::from_custom_kubeconfig(kc, &Default::default()).await {
            Ok(c) => Client::try_from(c).ok(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let Some(http) = http else {
        eprintln!("no HTTP client");
        return;
    };
    let d = create_all(&http, "bench-http", n).await;
    println!(
        "http: {n} creates in {:.2?} = {:.0} creates/s ({CONCURRENCY} concurrent)",
        d,
        n as f64 / d.as_secs_f64()
    );
    let (count, d) = list_all(&http, "bench-http").await;
    println!(
        "http: list of {count} in {:.1} ms",
        d.as_secs_f64() * 1000.0
    );
    let d = watchers(&http, "bench-watch", 50, 1000).await;
    println!("http: 1000 creates fanned out to 50 watchers in {:.2?}", d);
    println!(
        "rss with {} objects: {:.1} MiB (server and clients in one process)",
        2 * n + 1000,
        rss_mib()
    );
    task.abort();
    let _ = std::fs::remove_dir_all(&dir);
    if std::env::var_os("BENCH_NO_COMPARE").is_none() {
        compare_inline_and_pooled(n).await;
        compare_at_rest(n).await;
    }
}
