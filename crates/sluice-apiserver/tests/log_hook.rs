//! The Pod `log` subresource asks the registered `PodLogHook`s first (what `sluice serve`
//! uses to serve step logs), and falls back to the simulated node's line.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options, PodLogHook};
use tower::ServiceExt;

struct Fixed;

impl PodLogHook for Fixed {
    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        follow: bool,
        _tail_lines: Option<u64>,
    ) -> Option<tokio::sync::mpsc::Receiver<Vec<u8>>> {
        if (namespace, pod, container) != ("default", "p", "c1") {
            return None;
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let _ = tx.send(b"line 1\n".to_vec()).await;
            let _ = tx
                .send(format!("line 2 follow={follow}\n").into_bytes())
                .await;
        });
        Some(rx)
    }
}

#[tokio::test]
async fn pod_logs_come_from_the_hook_when_it_knows_the_container() {
    let server = ApiServer::open(Options {
        simulate: None,
        ..Options::default()
    })
    .expect("opens");
    server.add_log_hook(Arc::new(Fixed));
    let client = Client::new(server.local_router(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c1", "image": "x"}, {"name": "c2", "image": "x"}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let lp = |c: Option<&str>, follow: bool| LogParams {
        container: c.map(str::to_owned),
        follow,
        ..LogParams::default()
    };
    assert_eq!(
        pods.logs("p", &lp(Some("c1"), false)).await.expect("logs"),
        "line 1\nline 2 follow=false\n"
    );
    assert_eq!(
        pods.logs("p", &lp(Some("c1"), true)).await.expect("logs"),
        "line 1\nline 2 follow=true\n"
    );
    // no container named: the first one
    assert_eq!(
        pods.logs("p", &lp(None, false)).await.expect("logs"),
        "line 1\nline 2 follow=false\n"
    );
    // a container the hook does not know: the simulated node's line
    let other = pods.logs("p", &lp(Some("c2"), false)).await.expect("logs");
    assert!(other.contains("simulated node"), "{other}");

    // limitBytes ends the output (the hook's or the simulated node's); tailLines of the
    // simulated node's one line; invalid values are kube-apiserver's 422
    // (pkg/apis/core/validation ValidatePodLogOptions)
    let limited = LogParams {
        limit_bytes: Some(9),
        ..lp(Some("c1"), true)
    };
    assert_eq!(
        pods.logs("p", &limited).await.expect("logs"),
        "line 1
li"
    );
    let limited = LogParams {
        limit_bytes: Some(6),
        ..lp(Some("c2"), false)
    };
    assert_eq!(pods.logs("p", &limited).await.expect("logs"), "sluice");
    let tail = |n| LogParams {
        tail_lines: Some(n),
        ..lp(Some("c2"), false)
    };
    assert_eq!(pods.logs("p", &tail(0)).await.expect("logs"), "");
    assert_eq!(pods.logs("p", &tail(5)).await.expect("logs"), other);
    for (q, msg) in [
        (
            "tailLines=-1",
            "PodLogOptions \"p\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            "limitBytes=0",
            "PodLogOptions \"p\" is invalid: limitBytes: Invalid value: 0: must be greater than 0",
        ),
    ] {
        let r = server
            .local_router()
            .oneshot(
                axum::http::Request::get(format!("/api/v1/namespaces/default/pods/p/log?{q}"))
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(r.status().as_u16(), 422);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("status");
        assert_eq!(v["message"], msg);
    }
}

/// `tailLines` as the kubelet counts lines: a final newline ends the last line.
#[test]
fn tail_start_finds_the_last_lines() {
    use sluice_apiserver::tail_start;
    let text = b"a\nbb\nccc\n";
    let tail = |n| std::str::from_utf8(&text[tail_start(text, n)..]).expect("utf-8");
    assert_eq!(tail(0), "");
    assert_eq!(tail(1), "ccc\n");
    assert_eq!(tail(2), "bb\nccc\n");
    assert_eq!(tail(3), "a\nbb\nccc\n");
    assert_eq!(tail(9), "a\nbb\nccc\n");
    // a last line still being written counts as a line
    assert_eq!(&b"a\nbb"[tail_start(b"a\nbb", 1)..], b"bb");
    assert_eq!(tail_start(b"", 3), 0);
}

proptest::proptest! {
    /// The tail of n lines is a suffix that starts a line and holds min(n, lines) lines.
    #[test]
    fn a_tail_is_the_last_n_lines(lines in proptest::collection::vec("[a-z]{0,4}", 0..8), end in proptest::bool::ANY, n in 0u64..10) {
        let mut text = lines.join("\n");
        if end && !text.is_empty() {
            text.push('\n');
        }
        let start = sluice_apiserver::tail_start(text.as_bytes(), n);
        let tail = &text[start..];
        proptest::prop_assert!(n == 0 || start == 0 || text.as_bytes()[start - 1] == b'\n');
        let count = |s: &str| if s.is_empty() { 0 } else { s.strip_suffix('\n').unwrap_or(s).split('\n').count() as u64 };
        proptest::prop_assert_eq!(count(tail), n.min(count(&text)));
    }
}
