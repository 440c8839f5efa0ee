//! A property-based fuzzer of the API server's request decoding (issue 18, "a harness for each
//! network-facing handler"): random methods, paths, query strings (labelSelector,
//! fieldSelector, resourceVersion, limit, continue, timeout, fieldValidation...), bodies
//! (bytes, JSON and YAML of random shapes, objects of served kinds) and every patch type,
//! through the whole router. Whatever arrives, the answer is a success or a `Status` whose
//! `code` is the HTTP status, and never a 500 (a panic is caught as one).
//!
//! Bounded: 384 requests by default (a few seconds); `SLUICE_FUZZ_CASES=20000` runs longer.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sluice_apiserver::{ApiServer, Options};
use tower::ServiceExt;

fn cases(default: u32) -> u32 {
    std::env::var("SLUICE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_owned()),
                    Just("spec".to_owned()),
                    Just("name".to_owned()),
                    Just("data".to_owned()),
                    Just("op".to_owned()),
                    Just("path".to_owned()),
                    Just("value".to_owned()),
                    Just("$patch".to_owned()),
                    "[a-z$]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects of served kinds, with random fields where their schemas have them.
fn arb_object() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just(("v1", "ConfigMap")),
        Just(("v1", "Secret")),
        Just(("v1", "Namespace")),
        Just(("v1", "Pod")),
        Just(("apps/v1", "Deployment")),
        Just(("tekton.dev/v1", "Pipeline")),
        Just(("tekton.dev/v1", "Task")),
        Just(("kyverno.io/v1", "ClusterPolicy")),
        Just(("argoproj.io/v1alpha1", "Application")),
        Just(("v1", "Service")),
        Just(("v1", "Wrong")),
    ];
    (
        kind,
        prop_oneof![Just("x".to_owned()), "[a-zA-Z0-9.-]{0,12}"],
        arb_json(),
        arb_json(),
    )
        .prop_map(|((av, k), name, spec, data)| {
            json!({"apiVersion": av, "kind": k, "metadata": {"name": name, "labels": {"a": "b"}},
                   "spec": spec, "data": data})
        })
        .prop_flat_map(|obj| {
            // spec.ports of random shapes (defaulting walks them)
            (Just(obj), arb_json()).prop_map(|(mut obj, ports)| {
                if obj["kind"] == "Service" {
                    obj["spec"] = json!({"ports": ports});
                }
                obj
            })
        })
}

fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        arb_json().prop_map(|v| v.to_string().into_bytes()),
        arb_object().prop_map(|v| v.to_string().into_bytes()),
        // a duplicated key somewhere
        arb_object().prop_map(|v| {
            let t = v.to_string();
            t.replacen("\"metadata\":{", "\"metadata\":{\"name\":\"dup\",", 1)
                .into_bytes()
        }),
        // YAML-ish text, anchors and tags included
        prop_oneof![
            Just("a: &x [*x, *x]\n".to_owned()),
            Just("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {k: !!binary AAA=}\n".to_owned()),
            Just("- - - -\n".to_owned()),
            Just("key: {\n".to_owned()),
            Just("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: z\n  name: z2\n".to_owned()),
            "\\PC{0,48}",
        ]
        .prop_map(String::into_bytes),
        // JSON patches of random shapes
        prop::collection::vec(
            (
                prop_oneof![
                    Just("add"),
                    Just("remove"),
                    Just("replace"),
                    Just("move"),
                    Just("copy"),
                    Just("test"),
                    Just("bogus")
                ],
                prop_oneof![
                    Just("/data/k".to_owned()),
                    Just("/metadata/labels/a".to_owned()),
                    Just("/spec/tasks/-".to_owned()),
                    Just("/metadata/name".to_owned()),
                    "(/[a-z0-9~-]{0,4}){0,4}",
                ],
                arb_json(),
            ),
            0..4
        )
        .prop_map(|ops| {
            Value::Array(
                ops.into_iter()
                    .map(|(op, path, value)| json!({"op": op, "path": path, "from": "/data", "value": value}))
                    .collect(),
            )
            .to_string()
            .into_bytes()
        }),
    ]
}

fn arb_content_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("application/json"),
        Just("application/yaml"),
        Just("application/merge-patch+json"),
        Just("application/json-patch+json"),
        Just("application/strategic-merge-patch+json"),
        Just("application/apply-patch+yaml"),
        Just("application/vnd.kubernetes.protobuf"),
        Just("application/cbor"),
        Just("text/plain"),
    ]
}

fn arb_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/api/v1/namespaces/default/configmaps".to_owned()),
        Just("/api/v1/namespaces/default/configmaps/x".to_owned()),
        Just("/api/v1/namespaces/default/secrets/x".to_owned()),
        Just("/api/v1/namespaces/default/services".to_owned()),
        Just("/api/v1/namespaces".to_owned()),
        Just("/api/v1/namespaces/fuzz".to_owned()),
        Just("/api/v1/namespaces/default/pods/x/status".to_owned()),
        Just("/api/v1/namespaces/default/pods/x/log".to_owned()),
        Just("/apis/apps/v1/namespaces/default/deployments/x/scale".to_owned()),
        Just("/apis/tekton.dev/v1/namespaces/default/pipelines".to_owned()),
        Just("/apis/tekton.dev/v1/namespaces/default/pipelines/x".to_owned()),
        Just("/apis/kyverno.io/v1/clusterpolicies/x".to_owned()),
        Just("/apis/argoproj.io/v1alpha1/namespaces/default/applications/x".to_owned()),
        // the UI's single sign-on (an OIDC login is configured, its provider unreachable)
        Just("/auth/login".to_owned()),
        Just("/auth/callback".to_owned()),
        Just("/auth/token".to_owned()),
        Just("/auth/config".to_owned()),
        "(/[a-z0-9.%-]{0,8}){0,6}",
    ]
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn arb_query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "\\PC{0,16}",
        Just("a in (b,c),!d,e!=f".to_owned()),
        Just("a in (".to_owned()),
        Just("metadata.name=x,metadata.namespace!=y".to_owned()),
        Just("spec.bogus=1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("zz".to_owned()),
        Just("Strict".to_owned()),
        Just("All".to_owned()),
        Just("1s".to_owned()),
        Just("true".to_owned()),
    ];
    let key = prop_oneof![
        Just("labelSelector"),
        Just("fieldSelector"),
        Just("resourceVersion"),
        Just("resourceVersionMatch"),
        Just("limit"),
        Just("continue"),
        Just("timeout"),
        Just("fieldValidation"),
        Just("dryRun"),
        Just("propagationPolicy"),
        Just("fieldManager"),
        Just("force"),
        Just("includeObject"),
        // on anything but a GET, `watch` must not make a request long-running
        Just("watch"),
        Just("return_url"),
        Just("code"),
        Just("state"),
        Just("error"),
    ];
    prop::collection::vec((key, value), 0..4).prop_map(|kvs| {
        kvs.into_iter()
            .map(|(k, v)| format!("{k}={}", pct(&v)))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn arb_request() -> impl Strategy<Value = (&'static str, String, String, &'static str, Vec<u8>)> {
    (
        prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("PATCH"),
            Just("DELETE")
        ],
        arb_path(),
        arb_query(),
        arb_content_type(),
        arb_body(),
    )
}

fn seeded() -> (ApiServer, Router) {
    let s = ApiServer::open(Options {
        simulate: None,
        ..Options::default()
    })
    .expect("opens");
    let st = s.state().clone();
    let o = sluice_apiserver::ops::WriteOpts::default();
    let reg = |g: &str, r: &str| st.reg().by_group_resource(g, r).expect("served");
    for (g, r, v, obj) in [
        (
            "",
            "configmaps",
            "v1",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}),
        ),
        (
            "",
            "pods",
            "v1",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
        ),
        (
            "apps",
            "deployments",
            "v1",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
        ),
    ] {
        st.create(&reg(g, r), v, Some("default"), obj, &o)
            .expect("seed");
    }
    // a browser login is configured: /auth/* answer with redirects (its provider is a port
    // nothing listens on, so no login can begin) or a Status
    s.set_oidc(&sluice_apiserver::oidc::OidcOptions {
        flags: sluice_auth::oidc::Options::new("https://127.0.0.1:1", "fuzz"),
        ca_file: None,
        ca_pem: None,
        login: Some(sluice_apiserver::oidc::LoginOptions::default()),
    })
    .expect("oidc");
    let app = s.local_router();
    (s, app)
}

async fn send(
    app: &Router,
    r: &(&'static str, String, String, &'static str, Vec<u8>),
) -> Result<(), String> {
    let (method, path, query, ct, body) = r;
    let uri = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let Ok(req) = Request::builder()
        .method(*method)
        .uri(&uri)
        .header("content-type", *ct)
        .body(Body::from(body.clone()))
    else {
        return Ok(()); // not a valid HTTP request at all: no server sees it
    };
    let resp = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    let streaming = code == 200 && *method == "GET" && query.contains("watch=");
    let bytes = match tokio::time::timeout(
        std::time::Duration::from_millis(if streaming { 50 } else { 30_000 }),
        axum::body::to_bytes(resp.into_body(), 64 << 20),
    )
    .await
    {
        Ok(b) => b.map_err(|e| e.to_string())?,
        Err(_) if streaming => return Ok(()), // a watch: it streams until its timeout
        Err(_) => return Err(format!("{method} {uri}: no answer in 30 s")),
    };
    let shown = || {
        format!(
            "{method} {uri} ({ct}) body {:?} -> {code} {}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&bytes)
        )
    };
    if code == 500 || code > 504 || code == 502 || code == 503 {
        return Err(format!("server error: {}", shown()));
    }
    if code >= 400 {
        let st: Value =
            serde_json::from_slice(&bytes).map_err(|_| format!("not a Status: {}", shown()))?;
        if st["kind"] != "Status" || st["status"] != "Failure" || st["code"] != json!(code) {
            return Err(format!("not a matching Status: {}", shown()));
        }
        if st["reason"].as_str().is_none_or(str::is_empty) || st["message"].as_str().is_none() {
            return Err(format!("a Status without reason or message: {}", shown()));
        }
    }
    Ok(())
}

#[test]
fn any_request_is_answered_with_success_or_a_status() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_server, app) = rt.block_on(async { seeded() });
    let mut runner = TestRunner::new(Config {
        cases: cases(384),
        failure_persistence: None,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&arb_request(), |r| {
        rt.block_on(send(&app, &r)).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("{} requests in {:?}", cases(384), started.elapsed());
}

// The decoders alone, many more inputs: bytes in every content type decode or fail with a
// 4xx, never panic.
#[test]
fn body_decoding_never_panics() {
    let mut runner = TestRunner::new(Config {
        cases: cases(2048),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(arb_content_type(), arb_body()), |(ct, body)| {
        match sluice_apiserver::server::decode_body_strict(&body, ct) {
            Ok(_) => {}
            Err(e) => prop_assert!((400..500).contains(&e.code), "{e:?}"),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The Argo CD RBAC path (argo_authz): a `developers` member whom Kubernetes RBAC denies
/// and the seed's argocd-rbac-cm allows some things, sending random requests to the
/// application API's resources (bodies decoded for the mapping, lists and watches filtered,
/// role tokens minted): every answer is a success or a Status, never a 500.
#[test]
fn argo_rbac_requests_are_answered_with_success_or_a_status() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("sluice-argo-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "dev-token,dana,1,developers\n").expect("tokens");
    let (_server, app) = rt.block_on(async {
        let s = ApiServer::open(Options {
            simulate: None,
            token_auth_file: Some(tokens),
            ..Options::default()
        })
        .expect("opens");
        let st = s.state().clone();
        let o = sluice_apiserver::ops::WriteOpts::default();
        let reg = |g: &str, r: &str| st.reg().by_group_resource(g, r).expect("served");
        st.create(
            &reg("", "namespaces"),
            "v1",
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}),
            &o,
        )
        .expect("ns");
        for (g, r, v, obj) in [
            ("", "configmaps", "v1", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-rbac-cm"},
                "data": {"policy.default": "role:readonly", "policy.csv": "p, role:developer, applications, get, */*, allow\np, role:developer, applications, sync, */*, allow\np, role:developer, logs, get, */*, allow\ng, developers, role:developer\n", "scopes": "[groups]"}})),
            ("argoproj.io", "appprojects", "v1alpha1", json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "x"},
                "spec": {"roles": [{"name": "ci", "policies": ["p, proj:x:ci, applications, sync, x/*, allow"]}]}})),
            ("argoproj.io", "applications", "v1alpha1", json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"},
                "spec": {"project": "x", "source": {"repoURL": "https://g/r.git", "path": "."}, "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"}}})),
            ("", "secrets", "v1", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
                "stringData": {"url": "https://g/r.git", "password": "p"}})),
            ("", "pods", "v1", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": {"app.kubernetes.io/instance": "x"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}})),
        ] {
            st.create(&reg(g, r), v, Some("argocd"), obj, &o).expect("seed");
        }
        let app = s.router();
        (s, app)
    });
    let path = prop_oneof![
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"),
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/x"),
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/y"),
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects"),
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/x"),
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/x/token"),
        Just("/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets"),
        Just("/api/v1/namespaces/argocd/secrets"),
        Just("/api/v1/namespaces/argocd/secrets/x"),
        Just("/api/v1/namespaces/argocd/pods/x"),
        Just("/api/v1/namespaces/argocd/pods/x/log"),
    ];
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("PATCH"),
        Just("DELETE")
    ];
    let strategy = (method, path, arb_query(), arb_content_type(), arb_body());
    let mut runner = TestRunner::new(Config {
        cases: cases(256),
        failure_persistence: None,
        ..Config::default()
    });
    let authed = axum::Router::new()
        .fallback_service(app)
        .layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                req.headers_mut().insert(
                    "authorization",
                    axum::http::HeaderValue::from_static("Bearer dev-token"),
                );
                next.run(req).await
            },
        ));
    // the user is the one meant: Argo CD's policy lets it get the Application, nothing
    // lets it read a ConfigMap
    let code = |path: &'static str| {
        let req = Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("request");
        rt.block_on(authed.clone().oneshot(req))
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(
        code("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/x"),
        200
    );
    assert_eq!(
        code("/api/v1/namespaces/argocd/configmaps/argocd-rbac-cm"),
        403
    );
    let result = runner.run(&strategy, |(m, p, q, ct, b)| {
        let r = (m, p.to_owned(), q, ct, b);
        rt.block_on(send(&authed, &r)).map_err(TestCaseError::fail)
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}
