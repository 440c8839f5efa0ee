//! The Pod `log` subresource asks the registered `PodLogHook`s first (what `sluice serve`
//! uses to serve step logs), and falls back to the simulated node's line.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options, PodLogHook};

struct Fixed;

impl PodLogHook for Fixed {
    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        follow: bool,
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
}
