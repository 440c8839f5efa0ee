//! Issue 18's API server items, in process (the router as a tower service): strict decoding
//! of duplicate fields, the request deadline and the pool heavy work runs in, panic
//! isolation, quarantine of stored objects today's checks reject, the data directory's
//! permissions and bounded watch queues.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use serde_json::{Value, json};
use sluice_apiserver::admission::{AdmissionHook, AdmissionRequest};
use sluice_apiserver::server::WatchBuffer;
use sluice_apiserver::{ApiError, ApiServer, Options};
use tower::ServiceExt;

fn server(opts: Options) -> ApiServer {
    ApiServer::open(Options {
        simulate: None,
        ..opts
    })
    .expect("opens")
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "sluice-hardening-{tag}-{}-{nanos}",
        std::process::id()
    ))
}

struct Answer {
    status: StatusCode,
    warnings: Vec<String>,
    body: Value,
}

async fn call(app: &Router, method: &str, uri: &str, ct: &str, body: &str) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", ct)
        .body(Body::from(body.to_owned()))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let warnings = resp
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|w| {
            // 299 - "text" with \" escapes
            let t = w.trim_start_matches("299 - ");
            let t = t
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(t);
            t.replace("\\\"", "\"").replace("\\\\", "\\")
        })
        .collect();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        warnings,
        body,
    }
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const JSON: &str = "application/json";

// kubernetes test/integration/apiserver/field_validation_test.go (testFieldValidationPost,
// testFieldValidationPut, testFieldValidationPatchTyped): a duplicate field is a strict
// decoding error under Strict, a warning under Warn and by default, nothing under Ignore;
// the last occurrence wins.
#[tokio::test]
async fn duplicate_fields_follow_field_validation() {
    let s = server(Options::default());
    let app = s.local_router();
    let dup = |name: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"first","name":"{name}"}},"data":{{"a":"1","a":"2"}}}}"#
        )
    };
    let a = call(
        &app,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        JSON,
        &dup("s"),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(
        a.body["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name", duplicate field "data.a""#
    );
    assert_eq!(a.body["reason"], "BadRequest");
    assert_eq!(a.body["details"]["causes"][0]["field"], "metadata.name");
    for (q, name) in [("?fieldValidation=Warn", "w"), ("", "d")] {
        let a = call(&app, "POST", &format!("{CMS}{q}"), JSON, &dup(name)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(
            a.warnings,
            [
                r#"duplicate field "metadata.name""#,
                r#"duplicate field "data.a""#
            ]
        );
        assert_eq!(a.body["metadata"]["name"], name, "the last occurrence wins");
        assert_eq!(a.body["data"]["a"], "2");
    }
    let a = call(
        &app,
        "POST",
        &format!("{CMS}?fieldValidation=Ignore"),
        JSON,
        &dup("i"),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);

    // PUT: the same
    let put = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"i"},"data":{"b":"1","b":"2"}}"#;
    let a = call(
        &app,
        "PUT",
        &format!("{CMS}/i?fieldValidation=Strict"),
        JSON,
        put,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(r#"strict decoding error: duplicate field "data.b""#)),
        "{}",
        a.body
    );
    let a = call(&app, "PUT", &format!("{CMS}/i"), JSON, put).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.warnings, [r#"duplicate field "data.b""#]);

    // merge patch: a 422 on the `patch` field under Strict (endpoints/handlers/patch.go)
    let mp = r#"{"data":{"c":"1","c":"2"}}"#;
    let merge = "application/merge-patch+json";
    let a = call(
        &app,
        "PATCH",
        &format!("{CMS}/i?fieldValidation=Strict"),
        merge,
        mp,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.body["reason"], "Invalid");
    assert_eq!(a.body["details"]["causes"][0]["field"], "patch");
    let m = a.body["message"].as_str().unwrap_or_default();
    assert!(
        m.starts_with(r#" "" is invalid: patch: Invalid value: "#),
        "{m}"
    );
    assert!(
        m.ends_with(r#"strict decoding error: duplicate field "data.c""#),
        "{m}"
    );
    let a = call(&app, "PATCH", &format!("{CMS}/i"), merge, mp).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.warnings, [r#"duplicate field "data.c""#]);
    assert_eq!(a.body["data"]["c"], "2");
    // strategic merge patch: the same
    let smp = "application/strategic-merge-patch+json";
    let a = call(
        &app,
        "PATCH",
        &format!("{CMS}/i?fieldValidation=Strict"),
        smp,
        mp,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);

    // JSON patch: the operations are decoded strictly (upstream's jsonPatchBody)
    let ops = r#"[{"op":"add","path":"/data/x","value":"1","foo":"bar"},
                  {"op":"add","path":"/data/y","path":"/data/z","value":"1"}]"#;
    let jp = "application/json-patch+json";
    let a = call(
        &app,
        "PATCH",
        &format!("{CMS}/i?fieldValidation=Strict"),
        jp,
        ops,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let m = a.body["message"].as_str().unwrap_or_default();
    assert!(
        m.ends_with(
            r#"strict decoding error: json patch unknown field "[0].foo", json patch duplicate field "[1].path""#
        ),
        "{m}"
    );
    let a = call(
        &app,
        "PATCH",
        &format!("{CMS}/i?fieldValidation=Warn"),
        jp,
        ops,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.warnings,
        [
            r#"json patch unknown field "[0].foo""#,
            r#"json patch duplicate field "[1].path""#
        ]
    );
    assert_eq!(a.body["data"]["z"], "1");
    let a = call(
        &app,
        "PATCH",
        &format!("{CMS}/i?fieldValidation=Ignore"),
        jp,
        ops,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.warnings.is_empty());
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    /// A ConfigMap body with `data.<key>` given twice among other keys.
    fn body_with_duplicate(
        key: &str,
        first: &str,
        last: &str,
        extra: &std::collections::BTreeMap<String, String>,
    ) -> String {
        let mut data = String::new();
        for (k, v) in extra {
            data.push_str(&format!("{:?}:{:?},", k, v));
        }
        format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"g"}},"data":{{{data}{key:?}:{first:?},{key:?}:{last:?}}}}}"#
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        // Any key, any values, any other keys around it: Strict names the duplicate by path,
        // Warn stores the last value and warns, Ignore stores it silently.
        #[test]
        fn any_duplicate_key_is_found(
            key in "[A-Z][a-zA-Z0-9_.-]{0,11}",
            first in "[ -~]{0,12}",
            last in "[ -~]{0,12}",
            extra in prop::collection::btree_map("[a-z]{1,6}", "[a-z]{0,6}", 0..4),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
            rt.block_on(async {
                let s = server(Options::default());
                let app = s.local_router();
                let body = body_with_duplicate(&key, &first, &last, &extra);
                let a = call(&app, "POST", &format!("{CMS}?fieldValidation=Strict"), JSON, &body).await;
                prop_assert_eq!(a.status, StatusCode::BAD_REQUEST);
                let want = format!("strict decoding error: duplicate field \"data.{key}\"");
                prop_assert!(a.body["message"].as_str().is_some_and(|m| m.ends_with(&want)), "{}", a.body);
                let a = call(&app, "POST", CMS, JSON, &body).await;
                prop_assert_eq!(a.status, StatusCode::CREATED);
                prop_assert_eq!(&a.body["data"][key.as_str()], &json!(last));
                prop_assert_eq!(a.warnings, vec![format!("duplicate field \"data.{key}\"")]);
                Ok::<(), TestCaseError>(())
            })?;
        }
    }
}

/// A hook that sleeps on objects labelled `slow`, and panics on objects named `boom`.
struct Misbehaving {
    sleep: Duration,
    calls: AtomicUsize,
}

impl AdmissionHook for Misbehaving {
    #[allow(clippy::panic)]
    fn admit(&self, req: &mut AdmissionRequest<'_>) -> Result<Vec<String>, ApiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if req.object.pointer("/metadata/name") == Some(&json!("boom")) {
            panic!("injected hook panic");
        }
        if req.object.pointer("/metadata/labels/slow").is_some() {
            std::thread::sleep(self.sleep);
        }
        Ok(Vec::new())
    }
}

fn cm_body(name: &str, labels: Value) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
        .to_string()
}

// A hook that panics is one request's 500 (as a Status), not the server's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_hook_fails_its_request_only() {
    let s = server(Options::default());
    s.add_admission_hook(Arc::new(Misbehaving {
        sleep: Duration::ZERO,
        calls: AtomicUsize::new(0),
    }));
    let app = s.local_router();
    let a = call(&app, "POST", CMS, JSON, &cm_body("boom", json!({}))).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.body["kind"], "Status");
    assert_eq!(a.body["reason"], "InternalError");
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("injected hook panic")),
        "{}",
        a.body
    );
    let a = call(&app, "GET", &format!("{CMS}/boom"), JSON, "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "nothing was stored");
    let a = call(&app, "POST", CMS, JSON, &cm_body("fine", json!({}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
}

// kube-apiserver: a request past its deadline is `504 Timeout: request did not complete
// within requested timeout - context deadline exceeded` (handlers/finisher/finisher.go);
// `?timeout=` lowers the deadline and a malformed one is a 400 (filters/request_deadline.go).
// Heavy admission runs off the async workers: other requests are answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_admission_times_out_stores_nothing_and_blocks_no_one() {
    let s = server(Options {
        request_timeout: Duration::from_millis(600),
        request_workers: 2,
        ..Options::default()
    });
    let hook = Arc::new(Misbehaving {
        sleep: Duration::from_millis(1500),
        calls: AtomicUsize::new(0),
    });
    s.add_admission_hook(hook.clone());
    let app = s.local_router();
    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let a = call(
                &app,
                "POST",
                CMS,
                JSON,
                &cm_body("slow", json!({"slow": "yes"})),
            )
            .await;
            (a, t0.elapsed())
        })
    };
    // while the slow admission runs, reads and light writes are answered promptly
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    let a = call(&app, "GET", "/api/v1/namespaces", JSON, "").await;
    assert_eq!(a.status, StatusCode::OK);
    let a2 = call(&app, "POST", CMS, JSON, &cm_body("quick", json!({}))).await;
    assert_eq!(a2.status, StatusCode::CREATED, "{}", a2.body);
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "other requests waited {:?}",
        t0.elapsed()
    );
    let (a, took) = slow.await.expect("joins");
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT, "{}", a.body);
    assert_eq!(a.body["reason"], "Timeout");
    assert_eq!(
        a.body["message"],
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    );
    assert!(
        took < Duration::from_millis(1400),
        "answered at the deadline: {took:?}"
    );
    // the hook finishes later; the object is still not stored
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = call(&app, "GET", &format!("{CMS}/slow"), JSON, "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "a 504 stores nothing");

    // ?timeout= lowers the deadline; a malformed one is refused
    let t0 = Instant::now();
    let a = call(
        &app,
        "POST",
        &format!("{CMS}?timeout=200ms"),
        JSON,
        &cm_body("slow2", json!({"slow": "yes"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(t0.elapsed() < Duration::from_millis(550));
    let a = call(&app, "GET", &format!("{CMS}?timeout=soon"), JSON, "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.body["message"],
        "invalid timeout specified in the request URL - time: invalid duration \"soon\""
    );
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
}

// The store holds Secrets: the data directory is 0700 and every file in it 0600, from the
// first start; loosened ones are fixed on start with a warning.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("perms");
    {
        let s = server(Options {
            data_dir: Some(dir.clone()),
            ..Options::default()
        });
        assert!(
            s.startup_warnings().is_empty(),
            "{:?}",
            s.startup_warnings()
        );
        s.write_kubeconfig(&dir.join("kubeconfig"), "https://127.0.0.1:1", None)
            .expect("kubeconfig");
        sluice_apiserver::tls::load_or_create(&dir).expect("tls");
        let app = s.local_router();
        let a = call(&app, "POST", CMS, JSON, &cm_body("x", json!({}))).await;
        assert_eq!(a.status, StatusCode::CREATED);
        assert_eq!(mode(&dir), 0o700);
        for f in [
            "db.sqlite",
            "db.sqlite-wal",
            "db.sqlite-shm",
            "token",
            "kubeconfig",
            "tls.key",
            "tls.crt",
        ] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }
    // a careless umask or copy later: everything world-readable
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for f in ["db.sqlite", "token", "tls.key"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let s = server(Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    });
    assert_eq!(mode(&dir), 0o700);
    for f in ["db.sqlite", "token", "tls.key"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let w = s.startup_warnings().join("\n");
    assert!(
        w.contains("data directory") && w.contains("(mode 0755); set to 0700"),
        "{w}"
    );
    assert!(
        w.contains("token was readable by other users (mode 0644); set to 0600"),
        "{w}"
    );
    assert_eq!(s.startup_warnings().len(), 4, "{w}");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes `obj` under `resource` straight into the SQLite store, as an older Sluice (with
/// weaker checks) would have stored it.
fn poison(db: &std::path::Path, resource: &str, obj: &Value) {
    let c = rusqlite::Connection::open(db).expect("db");
    // the store's last version: its newest row's, or the last delete's (kept in `meta`)
    let rv: i64 = c
        .query_row(
            "SELECT MAX(COALESCE((SELECT value FROM meta WHERE key = 'rv'), 0),
                        COALESCE((SELECT MAX(rv) FROM objects), 0))",
            [],
            |r| r.get::<_, i64>(0),
        )
        .expect("rv")
        + 1;
    let mut o = obj.clone();
    o["metadata"]["resourceVersion"] = json!(rv.to_string());
    o["metadata"]["uid"] = json!(format!("uid-{rv}"));
    let ns = o["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    c.execute(
        "INSERT INTO objects (resource, namespace, name, rv, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![resource, ns, name, rv, o.to_string()],
    )
    .expect("insert");
}

// A stored object that today's checks reject does not stop the server: it is quarantined
// (kept, served, an Event says why, controllers skip it) until it is fixed or deleted.
#[tokio::test]
async fn stored_objects_failing_todays_checks_are_quarantined() {
    let dir = temp_dir("quarantine");
    drop(server(Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    }));
    let db = dir.join("db.sqlite");
    // a Pipeline task with neither taskRef nor taskSpec (tektoncd pipeline_validation.go)
    poison(
        &db,
        "tekton.dev/pipelines",
        &json!({"apiVersion": "tekton.dev/v1", "kind": "Pipeline",
                "metadata": {"name": "bad", "namespace": "default"},
                "spec": {"tasks": [{"name": "a"}]}}),
    );
    // a cluster-scoped object whose name is not a DNS subdomain
    poison(
        &db,
        "kyverno.io/clusterpolicies",
        &json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                "metadata": {"name": "Bad_Name"},
                "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
                                    "validate": {"message": "no", "deny": {}}}]}}),
    );
    poison(
        &db,
        "/configmaps",
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "good", "namespace": "default"}, "data": {"k": "v"}}),
    );
    let s = server(Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    });
    let q = s.state().quarantined();
    let names: Vec<(&str, &str)> = q
        .iter()
        .map(|q| (q.resource.as_str(), q.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("kyverno.io/clusterpolicies", "Bad_Name"),
            ("tekton.dev/pipelines", "bad")
        ]
    );
    assert!(q[1].reason.contains("spec.tasks[0]"), "{}", q[1].reason);
    assert_eq!(s.startup_warnings().len(), 2, "{:?}", s.startup_warnings());
    let app = s.local_router();
    // still served
    let p = "/apis/tekton.dev/v1/namespaces/default/pipelines/bad";
    let a = call(&app, "GET", p, JSON, "").await;
    assert_eq!(a.status, StatusCode::OK);
    // an Event says why
    let a = call(
        &app,
        "GET",
        "/api/v1/namespaces/default/events?fieldSelector=reason%3DQuarantined",
        JSON,
        "",
    )
    .await;
    let items = a.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{}", a.body);
    let ev = items
        .iter()
        .find(|e| e["involvedObject"]["name"] == "bad")
        .expect("event of the pipeline");
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["involvedObject"]["kind"], "Pipeline");
    assert!(
        ev["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.tasks[0]"))
    );
    // controllers skip it
    let stored = s
        .state()
        .store
        .get("tekton.dev/pipelines", "default", "bad")
        .expect("stored");
    assert!(s.state().is_quarantined("tekton.dev/pipelines", &stored));
    // a fix passes admission and ends the quarantine
    let fixed = json!({"apiVersion": "tekton.dev/v1", "kind": "Pipeline",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"tasks": [{"name": "a", "taskSpec": {"steps": [{"name": "s", "image": "busybox", "script": "true"}]}}]}});
    let a = call(&app, "PUT", p, JSON, &fixed.to_string()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let stored = s
        .state()
        .store
        .get("tekton.dev/pipelines", "default", "bad")
        .expect("stored");
    assert!(!s.state().is_quarantined("tekton.dev/pipelines", &stored));
    assert_eq!(s.state().quarantined().len(), 1);
    // a restart counts again: the Event of the cluster policy counts 2
    drop(app);
    drop(s);
    let s = server(Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    });
    assert_eq!(s.state().quarantined().len(), 1);
    let (evs, _) = s.state().store.list("/events", Some("default"), None);
    let counts: Vec<i64> = evs
        .iter()
        .filter(|e| e["involvedObject"]["name"] == "Bad_Name")
        .map(|e| e["count"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [2]);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn next_line(
    stream: &mut (impl futures::Stream<Item = Result<bytes::Bytes, axum::Error>> + Unpin),
    buf: &mut Vec<u8>,
) -> Option<Value> {
    loop {
        if let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            return serde_json::from_slice(&line).ok();
        }
        match stream.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            _ => return None,
        }
    }
}

// kube-apiserver's cacher closes a watcher whose buffer stays full ("Forcing watcher close
// due to unresponsiveness", storage/cacher/cache_watcher.go): a client that stops reading
// costs a bounded queue, then nothing. A reading client gets every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_is_not_read_is_bounded_then_closed() {
    let s = server(Options {
        watch_buffer: WatchBuffer {
            max_events: 10,
            max_bytes: 64 * 1024,
            stall: Duration::from_millis(300),
        },
        ..Options::default()
    });
    let app = s.local_router();
    let req = |uri: &str| {
        Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request")
    };
    let stalled = app
        .clone()
        .oneshot(req(&format!("{CMS}?watch=true&resourceVersion=0")))
        .await
        .expect("watch");
    let reading = app
        .clone()
        .oneshot(req(&format!("{CMS}?watch=true&resourceVersion=0")))
        .await
        .expect("watch");
    let mut reading = reading.into_body().into_data_stream();
    let big = "x".repeat(20 * 1024);
    let reader = tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut seen = 0;
        while seen < 40 {
            match next_line(&mut reading, &mut buf).await {
                Some(ev) if ev["type"] == "ADDED" => seen += 1,
                Some(_) => {}
                None => break,
            }
        }
        seen
    });
    for i in 0..40 {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("big-{i}")}, "data": {"k": big}})
        .to_string();
        let a = call(&app, "POST", CMS, JSON, &body).await;
        assert_eq!(a.status, StatusCode::CREATED);
    }
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("the reading watch keeps up")
            .expect("joins"),
        40
    );
    // the stalled client: its watch was closed after `stall`, its queue dropped
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut stalled = stalled.into_body().into_data_stream();
    let mut buf = Vec::new();
    let mut got = 0;
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while next_line(&mut stalled, &mut buf).await.is_some() {
            got += 1;
        }
    })
    .await;
    assert!(drained.is_ok(), "the stalled watch ended");
    assert_eq!(
        got, 0,
        "the closed watch's queue was dropped, not kept for the client"
    );
    // the server goes on
    let a = call(&app, "GET", CMS, JSON, "").await;
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(40));
}

// kube-apiserver's warning recorder (endpoints/filters/warning.go): warnings are deduplicated
// and bounded to 4,096 characters (each cut to 256 once over).
#[test]
fn warnings_are_deduplicated_and_bounded() {
    use sluice_apiserver::server::limit_warnings;
    assert_eq!(
        limit_warnings(vec!["a".into(), "b".into(), "a".into(), String::new()]),
        ["a", "b"]
    );
    let many: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                "spec.tasks[{i}].taskRef: Task \"build\" not found among the inputs {}",
                "x".repeat(300)
            )
        })
        .collect();
    let out = limit_warnings(many);
    assert!(out.iter().all(|w| w.chars().count() <= 256));
    let total: usize = out.iter().map(|w| w.chars().count()).sum();
    assert!(total <= 4096 + 256, "{total}");
    assert_eq!(out.len(), 16);
}

// Found by tests/request_fuzz.rs: patches whose result is no object, and a Service whose
// ports are no objects, panicked in defaulting; they are 4xx Status answers.
#[tokio::test]
async fn patches_to_a_non_object_and_odd_ports_are_refused_not_panics() {
    let s = server(Options::default());
    let app = s.local_router();
    let a = call(&app, "POST", CMS, JSON, &cm_body("x", json!({}))).await;
    assert_eq!(a.status, StatusCode::CREATED);
    for (ct, body) in [
        ("application/merge-patch+json", "[1,2]"),
        ("application/merge-patch+json", "7"),
        ("application/merge-patch+json", "null"),
        (
            "application/json-patch+json",
            r#"[{"op":"replace","path":"","value":[1]}]"#,
        ),
        (
            "application/json-patch+json",
            r#"[{"op":"replace","path":"","value":"s"}]"#,
        ),
        ("application/strategic-merge-patch+json", "[1]"),
    ] {
        let a = call(&app, "PATCH", &format!("{CMS}/x"), ct, body).await;
        assert!(
            a.status.is_client_error(),
            "{ct} {body}: {} {}",
            a.status,
            a.body
        );
        assert_eq!(a.body["kind"], "Status", "{ct} {body}");
    }
    let a = call(&app, "GET", &format!("{CMS}/x"), JSON, "").await;
    assert_eq!(a.body["data"]["k"], "v", "unchanged");
    for ports in [json!(["80"]), json!([[80]]), json!([null, 5]), json!("80")] {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"ports": ports}});
        let a = call(
            &app,
            "POST",
            "/api/v1/namespaces/default/services?dryRun=All",
            JSON,
            &svc.to_string(),
        )
        .await;
        assert_ne!(
            a.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{ports}: {}",
            a.body
        );
        assert!(a.status.as_u16() < 500, "{ports}: {}", a.body);
    }
}

// `inline_writes`: cheap writes run on the async worker; they behave as pooled ones (created,
// updated, patched, strict decoding, a panic-free answer); an idle hook still admits each,
// and a hook with work sends every write to the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_writes_behave_as_pooled_ones() {
    let s = server(Options {
        inline_writes: true,
        ..Options::default()
    });
    let app = s.local_router();
    let a = call(&app, "POST", CMS, JSON, &cm_body("inline", json!({}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let mut obj = a.body.clone();
    obj["data"] = json!({"k": "w"});
    let a = call(
        &app,
        "PUT",
        &format!("{CMS}/inline"),
        JSON,
        &obj.to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["data"]["k"], "w");
    let a = call(
        &app,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        JSON,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"d"}}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    // patches, merge and strategic, of a small object and of one over the inline bound
    for (name, big) in [("inline", false), ("big", true)] {
        if big {
            let mut b: Value = serde_json::from_str(&cm_body(name, json!({}))).expect("json");
            b["data"]["big"] = json!("x".repeat(40 * 1024));
            let a = call(&app, "POST", CMS, JSON, &b.to_string()).await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        }
        for (ct, v) in [
            ("application/merge-patch+json", "m"),
            ("application/strategic-merge-patch+json", "s"),
        ] {
            let a = call(
                &app,
                "PATCH",
                &format!("{CMS}/{name}"),
                ct,
                &json!({"data": {"k": v}}).to_string(),
            )
            .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            assert_eq!(a.body["data"]["k"], v);
        }
    }
    // a hook with nothing to do keeps writes inline and still admits each
    let idle = Arc::new(Idle(AtomicUsize::new(0)));
    s.add_admission_hook(idle.clone());
    let a = call(&app, "POST", CMS, JSON, &cm_body("idle", json!({}))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let a = call(
        &app,
        "PATCH",
        &format!("{CMS}/idle"),
        "application/merge-patch+json",
        r#"{"data":{"k":"p"}}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(idle.0.load(Ordering::SeqCst), 2);
    s.add_admission_hook(Arc::new(Misbehaving {
        sleep: Duration::ZERO,
        calls: AtomicUsize::new(0),
    }));
    let a = call(&app, "POST", CMS, JSON, &cm_body("boom", json!({}))).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
}

/// A hook with nothing to do ([`AdmissionHook::idle`]) that counts what it admits.
struct Idle(AtomicUsize);

impl AdmissionHook for Idle {
    fn admit(&self, _req: &mut AdmissionRequest<'_>) -> Result<Vec<String>, ApiError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Vec::new())
    }

    fn idle(&self) -> bool {
        true
    }
}

// kube-openapi handler3 (HandleGroupVersion): the ETag is the document's hash; with the
// current `?hash=` the answer is `Cache-Control: public, immutable`, with a stale one a 301
// to the current URL; `If-None-Match` with the ETag is a 304 (http.ServeContent).
#[tokio::test]
async fn openapi_documents_are_cached_by_hash() {
    let s = server(Options::default());
    let app = s.local_router();
    let get = |uri: String, etag: Option<String>| {
        let app = app.clone();
        async move {
            let mut b = Request::builder().method("GET").uri(uri);
            if let Some(e) = etag {
                b = b.header("if-none-match", e);
            }
            app.oneshot(b.body(Body::empty()).expect("request"))
                .await
                .expect("infallible")
        }
    };
    let root = call(&app, "GET", "/openapi/v3", JSON, "").await;
    let url = root.body["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("apps/v1")
        .to_owned();
    let r = get(url.clone(), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "public, immutable");
    let etag = r.headers()["etag"].to_str().expect("ascii").to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", url.split("?hash=").nth(1).unwrap_or_default())
    );
    let r = get("/openapi/v3/apis/apps/v1?hash=STALE".into(), None).await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.headers()["location"], url.as_str());
    let r = get("/openapi/v3/apis/apps/v1".into(), Some(etag)).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = get("/openapi/v3/apis/apps/v1".into(), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("cache-control").is_none());
    let a = call(&app, "POST", "/openapi/v3/apis/apps/v1", JSON, "{}").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    let a = call(&app, "GET", "/openapi/v3/apis/nope.example/v1", JSON, "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

// /openapi/v2 (kube-openapi handler: one Swagger 2.0 document, ETag, 304), as JSON or as
// gnostic's protobuf Document, which client-go's `OpenAPISchema` asks for alone (kubectl
// validates a List's items with it); an Accept naming neither is 406.
#[tokio::test]
async fn openapi_v2_is_json_swagger_with_an_etag() {
    let s = server(Options::default());
    let app = s.local_router();
    let get = |accept: &'static str, etag: Option<String>| {
        let app = app.clone();
        async move {
            let mut b = Request::builder()
                .method("GET")
                .uri("/openapi/v2")
                .header("accept", accept);
            if let Some(e) = etag {
                b = b.header("if-none-match", e);
            }
            app.oneshot(b.body(Body::empty()).expect("request"))
                .await
                .expect("infallible")
        }
    };
    let r = get("application/json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let etag = r.headers()["etag"].to_str().expect("ascii").to_owned();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .expect("body");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(
        doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["x-kubernetes-patch-merge-key"],
        "name"
    );
    let r = get("application/json", Some(etag)).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = get(
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    // the type kube-openapi answers with: Go's mime parser refuses the `@` spelling
    assert_eq!(
        r.headers()["content-type"],
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    let pb = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .expect("body");
    // Document.swagger (field 1) = "2.0" first
    assert_eq!(&pb[..5], b"\x0a\x032.0");
    let r = get("application/xml", None).await;
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    let a = call(&app, "POST", "/openapi/v2", JSON, "{}").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A request refused before its body is needed (401 without a valid token, 403 from RBAC)
/// still has its body read, bounded, before the answer: a client still writing it gets the
/// Status, not a broken pipe (kubectl `create --raw -f -` saw "write: broken pipe").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_read_the_body_before_answering() {
    let dir = temp_dir("refused-body");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "nobody-token,nobody,uid-nobody\n").expect("tokens");
    let s = server(Options {
        data_dir: Some(dir.join("data")),
        token_auth_file: Some(tokens),
        ..Options::default()
    });
    let app = s.router();
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("nobody-token"), StatusCode::FORBIDDEN),
    ] {
        let consumed = Arc::new(AtomicUsize::new(0));
        let c2 = consumed.clone();
        let chunks = futures::stream::iter(
            (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 16 * 1024]))),
        )
        .chain(futures::stream::once(async move {
            c2.fetch_add(1, Ordering::SeqCst);
            Ok(bytes::Bytes::from_static(b"{}"))
        }));
        let mut req = Request::builder()
            .method("POST")
            .uri("/api/v1/namespaces/default/configmaps")
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Body::from_stream(chunks)).expect("request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), want);
        assert_eq!(
            consumed.load(Ordering::SeqCst),
            1,
            "{want}: the body was read to its end before the answer"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A patch that names no resourceVersion lands however busy other writers of the object
/// are: kube-apiserver's GuaranteedUpdate re-reads and re-applies it on a conflict
/// (k8s.io/apiserver pkg/storage/etcd3/store.go), so `kubectl patch` never sees 409 for a
/// controller's status write (a simulated node's, in CI, beat five tries).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn patches_without_a_resource_version_outlast_concurrent_writers() {
    let s = server(Options::default());
    let app = s.local_router();
    let created = call(
        &app,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"busy"},"data":{"n":"0"}}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (app, stop, writes) = (app.clone(), stop.clone(), writes.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = format!(r#"{{"data":{{"w{w}":"{i}"}}}}"#);
                let a = call(
                    &app,
                    "PATCH",
                    "/api/v1/namespaces/default/configmaps/busy",
                    "application/merge-patch+json",
                    &body,
                )
                .await;
                assert_eq!(a.status, StatusCode::OK, "writer {w}: {}", a.body);
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for i in 0..100 {
        let body = format!(r#"{{"metadata":{{"annotations":{{"p":"{i}"}}}}}}"#);
        let a = call(
            &app,
            "PATCH",
            "/api/v1/namespaces/default/configmaps/busy",
            "application/strategic-merge-patch+json",
            &body,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "patch {i}: {}", a.body);
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    assert!(writes.load(Ordering::Relaxed) > 0);
    // a patch that pins a resourceVersion other than the current one is still a conflict
    let stale = call(
        &app,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/busy",
        "application/merge-patch+json",
        r#"{"metadata":{"resourceVersion":"1"},"data":{"late":"x"}}"#,
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
}

/// A write's answer is the object as stored (its text, not serialized again) where the
/// version asked for is the stored one, and converted where it is not: each answer equals
/// the GET that follows it, in both versions of a converted kind.
#[tokio::test]
async fn write_answers_are_the_stored_object_in_the_version_asked_for() {
    let s = server(Options::default());
    let app = s.local_router();
    let get = |uri: String| {
        let app = app.clone();
        async move { call(&app, "GET", &uri, JSON, "").await.body }
    };
    let created = call(
        &app,
        "POST",
        CMS,
        JSON,
        &cm_body("answer", json!({"a": "1"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body, get(format!("{CMS}/answer")).await);
    let patched = call(
        &app,
        "PATCH",
        &format!("{CMS}/answer"),
        "application/merge-patch+json",
        r#"{"data":{"k":"v"}}"#,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["data"]["k"], "v");
    assert_eq!(patched.body, get(format!("{CMS}/answer")).await);
    let mut whole = patched.body.clone();
    whole["data"]["k"] = json!("w");
    let put = call(
        &app,
        "PUT",
        &format!("{CMS}/answer"),
        JSON,
        &whole.to_string(),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.body, get(format!("{CMS}/answer")).await);

    // a HorizontalPodAutoscaler written through autoscaling/v1 is answered in v1
    let hpas =
        |v: &str| format!("/apis/autoscaling/{v}/namespaces/default/horizontalpodautoscalers");
    let hpa = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"}, "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}});
    let created = call(&app, "POST", &hpas("v1"), JSON, &hpa.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["apiVersion"], "autoscaling/v1");
    assert_eq!(created.body, get(format!("{}/h", hpas("v1"))).await);
    let patched = call(
        &app,
        "PATCH",
        &format!("{}/h", hpas("v2")),
        "application/merge-patch+json",
        r#"{"spec":{"maxReplicas":4}}"#,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["apiVersion"], "autoscaling/v2");
    assert_eq!(patched.body, get(format!("{}/h", hpas("v2"))).await);
}
