//! The EventListener edge of `sluice serve` in process: the API server's `/listeners/...`
//! paths (no token) handing deliveries to `sluice_kube::triggers::Sink`, driven with
//! generated bodies, headers and paths. Whatever arrives, the answer is one of the sink's
//! statuses with a JSON body (never a panic or a hang), bodies past the limit are 413
//! without being read further, and what the sink keeps per delivery (counters, records)
//! stays bounded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use proptest::prelude::*;
use serde_json::{Value, json};
use sluice_apiserver::listeners::{ListenerHook, ListenerReply, ListenerRequest};
use sluice_apiserver::{ApiServer, Options};
use sluice_kube::triggers::{Sink, SinkOptions};
use tower::ServiceExt;

struct Hook(Arc<Sink>);

impl ListenerHook for Hook {
    fn max_body(&self) -> usize {
        self.0.opts.max_body
    }
    fn timeout(&self) -> Duration {
        self.0.opts.timeout
    }
    fn deliver(&self, req: ListenerRequest) -> Pin<Box<dyn Future<Output = ListenerReply> + Send>> {
        let sink = self.0.clone();
        Box::pin(async move {
            let d = sink
                .deliver(&req.namespace, &req.name, &req.headers, req.body, &req.url)
                .await;
            ListenerReply {
                status: d.status,
                body: d.body,
            }
        })
    }
    fn rejected(&self, namespace: &str, name: &str, status: u16, message: &str) {
        let sink = self.0.clone();
        let (ns, name, message) = (namespace.to_owned(), name.to_owned(), message.to_owned());
        tokio::spawn(async move { sink.refused(&ns, &name, status, &message).await });
    }
}

const MAX_BODY: usize = 2048;

struct Env {
    rt: tokio::runtime::Runtime,
    server: ApiServer,
    sink: Arc<Sink>,
    client: kube::Client,
}

fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = ApiServer::open(Options::default()).expect("server opens");
    let (sink, client) = rt.block_on(async {
        let client = sluice_kube::in_process_client(server.local_router(), "default");
        let sink = Arc::new(Sink::new(
            client.clone(),
            SinkOptions {
                max_body: MAX_BODY,
                timeout: Duration::from_secs(10),
            },
        ));
        let el = json!({
            "apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
            "metadata": {"name": "el", "namespace": "default"},
            "spec": {"triggers": [{
                "name": "t",
                "interceptors": [{"ref": {"name": "cel"}, "params": [
                    {"name": "filter", "value": "body.kind == 'go' && header.match('X-Kind', 'go')"}]}],
                "bindings": [{"name": "v", "value": "$(body.v)"}],
                "template": {"spec": {"params": [{"name": "v"}],
                    "resourcetemplates": [{"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"generateName": "made-"}, "data": {"v": "$(tt.params.v)"}}]}}}]}
        });
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("triggers.tekton.dev", "v1beta1", "EventListener"),
            "eventlisteners",
        );
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
        api.create(
            &PostParams::default(),
            &serde_json::from_value(el).expect("object"),
        )
        .await
        .expect("EventListener created");
        (sink, client)
    });
    server.set_listener_hook(Arc::new(Hook(sink.clone())));
    Env {
        rt,
        server,
        sink,
        client,
    }
}

async fn body_of<B>(r: http::Response<B>) -> Vec<u8>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
{
    let mut body = r.into_body();
    let mut out = Vec::new();
    while let Some(Ok(f)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(d) = f.into_data() {
            out.extend_from_slice(&d);
        }
    }
    out
}

fn send(e: &Env, path: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, Value) {
    e.rt.block_on(async {
        let mut b = http::Request::builder().method("POST").uri(path);
        for (k, v) in headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let req = b.body(kube::client::Body::from(body)).expect("request");
        let r = tokio::time::timeout(Duration::from_secs(20), e.server.router().oneshot(req))
            .await
            .expect("an answer within the timeout")
            .expect("infallible");
        let status = r.status().as_u16();
        let bytes = body_of(r).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

fn header_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                Just("Content-Type".to_owned()),
                Just("X-Kind".to_owned()),
                Just("X-Gitlab-Token".to_owned()),
                "[A-Za-z][A-Za-z0-9-]{0,16}",
            ],
            "[ -~]{0,48}",
        ),
        0..6,
    )
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        ("(go|stop)", "[a-z0-9]{0,12}")
            .prop_map(|(k, v)| format!(r#"{{"kind":"{k}","v":"{v}"}}"#).into_bytes()),
        (MAX_BODY - 8..MAX_BODY * 3).prop_map(|n| {
            let mut b = br#"{"kind":"go","v":""#.to_vec();
            b.resize(n, b'a');
            b.extend_from_slice(br#""}"#);
            b
        }),
    ]
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("/listeners/default/el".to_owned()),
        1 => "[a-z0-9-]{1,12}".prop_map(|n| format!("/listeners/default/{n}")),
        1 => "[ -~]{0,30}".prop_map(|p| format!("/listeners/{}", p.replace(['?', '#', ' ', '%', '"', '<', '>', '\\', '^', '`', '{', '|', '}'], ""))),
    ]
}

#[test]
fn generated_deliveries_get_bounded_well_formed_answers() {
    let e = env();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(path_strategy(), header_strategy(), body_strategy()),
            |(path, headers, body)| {
                let len = body.len();
                let (status, answer) = send(&e, &path, &headers, body);
                prop_assert!(
                    [202, 400, 403, 404, 413, 500].contains(&status),
                    "{path}: status {status}: {answer}"
                );
                prop_assert!(answer.is_object(), "{path}: {status}: not JSON");
                if len > MAX_BODY && path == "/listeners/default/el" {
                    prop_assert_eq!(status, 413);
                }
                if status == 202 {
                    prop_assert_eq!(&answer["eventListener"], "el");
                    prop_assert!(answer["eventID"].is_string());
                }
                Ok(())
            },
        )
        .expect("every delivery answered");
    // counters: one key per (listener, outcome), unknown listeners folded into ""
    let snap = e.sink.counters.snapshot();
    assert!(snap.len() <= 12, "{snap:?}");
    // a matching delivery creates exactly one ConfigMap, a filtered one none
    let (s, _) = send(
        &e,
        "/listeners/default/el",
        &[
            ("X-Kind".into(), "go".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        br#"{"kind":"go","v":"yes"}"#.to_vec(),
    );
    assert_eq!(s, 202);
    let made = e.rt.block_on(async {
        let api: Api<DynamicObject> = Api::namespaced_with(
            e.client.clone(),
            "default",
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("", "v1", "ConfigMap"),
                "configmaps",
            ),
        );
        api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .filter(|c| c.data["data"]["v"] == "yes")
            .count()
    });
    assert_eq!(made, 1);
}
