//! kube-rs against the server: in-process (kube::Client over the axum tower service, no
//! TCP) and over HTTP with the bearer token. These are the calls Sluice's controllers make.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, Config};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};

fn in_memory() -> ApiServer {
    ApiServer::open(Options {
        simulate: None,
        ..Options::default()
    })
    .expect("opens")
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }))
    .expect("configmap")
}

async fn exercise(client: Client) {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", json!({"app": "x"})))
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("uid");
    assert!(created.metadata.creation_timestamp.is_some());
    cms.create(&PostParams::default(), &cm("b", json!({"app": "y"})))
        .await
        .expect("create b");
    // AlreadyExists is a 409 Status
    match cms
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 409);
            assert_eq!(e.reason, "AlreadyExists");
            assert_eq!(e.message, "configmaps \"a\" already exists");
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let got = cms.get("a").await.expect("get");
    assert_eq!(got.metadata.uid.as_deref(), Some(uid.as_str()));
    // list with a label selector, limit/continue
    let l = cms
        .list(&ListParams::default().labels("app=x"))
        .await
        .expect("list");
    assert_eq!(l.items.len(), 1);
    let page = cms
        .list(&ListParams::default().limit(1))
        .await
        .expect("page 1");
    assert_eq!(page.items.len(), 1);
    let cont = page.metadata.continue_.clone().expect("continue token");
    let page2 = cms
        .list(&ListParams::default().limit(1).continue_token(&cont))
        .await
        .expect("page 2");
    assert_eq!(page2.items.len(), 1);
    assert_ne!(page.items[0].metadata.name, page2.items[0].metadata.name);
    // optimistic concurrency: a stale update is a 409 Conflict
    let mut stale = got.clone();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"m": "1"}})),
    )
    .await
    .expect("merge patch");
    stale.data = Some([("k".to_owned(), "other".to_owned())].into());
    match cms.replace("a", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (409, "Conflict")),
        other => panic!("expected Conflict, got {other:?}"),
    }
    // server-side apply with a field manager
    let ssa = PatchParams::apply("sluice-test");
    let applied = cms
        .patch("c", &ssa, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}})))
        .await
        .expect("apply creates");
    let mf = applied.metadata.managed_fields.clone().unwrap_or_default();
    assert_eq!(
        mf.first().and_then(|m| m.manager.clone()).as_deref(),
        Some("sluice-test")
    );
    assert_eq!(
        mf.first().and_then(|m| m.operation.clone()).as_deref(),
        Some("Apply")
    );
    // watch from a resourceVersion sees later events in order
    let rv = cms
        .get("c")
        .await
        .expect("get c")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = cms
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    cms.delete("b", &DeleteParams::default())
        .await
        .expect("delete");
    let ev = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("event in time");
    match ev {
        Some(Ok(WatchEvent::Deleted(o))) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
        other => panic!("expected DELETED, got {other:?}"),
    }
    // a selector-filtered watch: an object that starts matching is ADDED, one that stops
    // matching is DELETED (apiserver watch cache, cacheWatcher.convertToWatchEvent)
    let rv = cms
        .get("c")
        .await
        .expect("get c")
        .metadata
        .resource_version
        .expect("rv");
    let mut sel = cms
        .watch(&WatchParams::default().labels("team=a").timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
    )
    .await
    .expect("label");
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": null}}})),
    )
    .await
    .expect("unlabel");
    let mut kinds = Vec::new();
    for _ in 0..2 {
        match tokio::time::timeout(Duration::from_secs(5), sel.next())
            .await
            .expect("event in time")
        {
            Some(Ok(WatchEvent::Added(o))) => kinds.push(("ADDED", o.metadata.name)),
            Some(Ok(WatchEvent::Deleted(o))) => kinds.push(("DELETED", o.metadata.name)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        kinds,
        [
            ("ADDED", Some("c".to_owned())),
            ("DELETED", Some("c".to_owned()))
        ]
    );

    // an invalid Pipeline is rejected with 422 and the field path (tektoncd/pipeline
    // pipeline_validation.go: a pipeline task needs a taskRef or a taskSpec)
    let gvk = GroupVersionKind::gvk("tekton.dev", "v1", "Pipeline");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "pipelines");
    let pipelines: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "tekton.dev/v1", "kind": "Pipeline",
        "metadata": {"name": "bad"},
        "spec": {"tasks": [{"name": "t"}]},
    }))
    .expect("dynamic");
    match pipelines.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422);
            assert!(
                e.message
                    .starts_with("Pipeline.tekton.dev \"bad\" is invalid: "),
                "{}",
                e.message
            );
            assert!(e.message.contains("spec.tasks[0]"), "{}", e.message);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_rs_in_process() {
    let server = in_memory();
    let client = Client::new(server.local_router(), "default");
    exercise(client).await;
}

#[tokio::test]
async fn kube_rs_over_http_with_the_token() {
    let dir = std::env::temp_dir().join(format!("sluice-kube-http-{}", std::process::id()));
    let server = ApiServer::open(Options {
        data_dir: Some(dir.clone()),
        simulate: None,
        ..Options::default()
    })
    .expect("opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let kubeconfig = dir.join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, &format!("http://{addr}"), None)
        .expect("kubeconfig");
    let s2 = server.clone();
    let task = tokio::spawn(async move { s2.serve(listener).await });
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("reads");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    exercise(client).await;
    // without the token: 401
    let anon = Client::try_from(Config::new(format!("http://{addr}").parse().expect("url")))
        .expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(anon, "default");
    match cms.get("a").await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 401),
        other => panic!("expected 401, got {other:?}"),
    }
    task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Watch resourceVersion rules: too old is 410 Gone; `sendInitialEvents` streams the
/// current state and ends it with the `k8s.io/initial-events-end` bookmark (KEP-3157).
#[tokio::test]
async fn watch_gone_and_streaming_lists() {
    let server = ApiServer::open(Options {
        simulate: None,
        watch_history: 3,
        ..Options::default()
    })
    .expect("opens");
    let client = Client::new(server.local_router(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..6 {
        cms.create(&PostParams::default(), &cm(&format!("w{i}"), json!({})))
            .await
            .expect("create");
    }
    match cms.watch(&WatchParams::default(), "1").await {
        Err(kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        Ok(s) => match s.boxed().next().await {
            Some(Ok(WatchEvent::Error(e))) => assert_eq!(e.code, 410),
            Some(Err(kube::Error::Api(e))) => {
                assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
                assert!(
                    e.message.starts_with("too old resource version: 1 ("),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected 410, got {other:?}"),
        },
        Err(other) => panic!("expected 410, got {other:?}"),
    }
    let mut s = cms
        .watch(&WatchParams::streaming_lists().timeout(5), "")
        .await
        .expect("watch")
        .boxed();
    let mut added = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("in time")
        {
            Some(Ok(WatchEvent::Added(_))) => added += 1,
            Some(Ok(WatchEvent::Bookmark(b))) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added, 6);
}

/// The admission hook a policy engine plugs in: it may deny (its Status reaches the client
/// as is) or admit with warnings.
#[tokio::test]
async fn admission_hook_denies_and_warns() {
    use sluice_apiserver::{AdmissionHook, AdmissionRequest, ApiError, Operation};
    struct NoDeny;
    impl AdmissionHook for NoDeny {
        fn admit(&self, req: &mut AdmissionRequest<'_>) -> Result<Vec<String>, ApiError> {
            if req.operation == Operation::Create
                && req.object.pointer("/metadata/labels/deny").is_some()
            {
                return Err(ApiError::forbidden(
                    "admission webhook \"test\" denied the request: label deny is not allowed",
                ));
            }
            Ok(vec![])
        }
    }
    let server = in_memory();
    server.add_admission_hook(std::sync::Arc::new(NoDeny));
    let client = Client::new(server.local_router(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    match cms
        .create(&PostParams::default(), &cm("x", json!({"deny": "1"})))
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 403);
            assert!(e.message.contains("denied the request"), "{}", e.message);
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    cms.create(&PostParams::default(), &cm("y", json!({})))
        .await
        .expect("admitted");
}
