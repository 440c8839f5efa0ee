//! `subscribe::Subscriptions`: an executing run follows one object through the controllers'
//! watch (no watch of its own), against the embedded API server. What a follower gets is
//! what kube-runtime's `watch_object` gives: the object (from the watch, the part followers
//! read: identity, annotations, spec.status, status), or `None` once it is gone.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher::Event;
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};
use sluice_kube::subscribe::Subscriptions;

fn configmap(name: &str, v: &str) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "annotations": {"v": v}}}))
    .expect("object")
}

async fn next(sub: &mut sluice_kube::subscribe::Subscription) -> Option<Option<serde_json::Value>> {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an answer within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_get_each_change_and_deletion_and_reread_after_a_relist() {
    let server = ApiServer::open(Options::default()).expect("server opens");
    let client = sluice_kube::in_process_client(server.local_router(), "default");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("", "v1", "ConfigMap"),
        "configmaps",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    api.create(&PostParams::default(), &configmap("a", "1"))
        .await
        .expect("create");
    let subs = Arc::new(Subscriptions::default());

    // the first answer is read from the API
    let mut one = subs.follow(api.clone(), "default", "a");
    let v = next(&mut one).await.flatten().expect("the object");
    assert_eq!(v["metadata"]["annotations"]["v"], "1");
    // then each change the watch stream brings
    subs.feed(&Event::Apply(configmap("a", "2")));
    let v = next(&mut one).await.flatten().expect("the object");
    assert_eq!(v["metadata"]["annotations"]["v"], "2");
    // a change of an object nobody follows goes nowhere
    subs.feed(&Event::Apply(configmap("other", "x")));
    assert_eq!(subs.followed(), 1);

    // two followers of one object both learn of its deletion
    let mut two = subs.follow(api.clone(), "default", "a");
    assert!(next(&mut two).await.flatten().is_some());
    subs.feed(&Event::Delete(configmap("a", "2")));
    assert_eq!(next(&mut one).await, Some(None));
    assert_eq!(next(&mut two).await, Some(None));
    drop(one);
    assert_eq!(subs.followed(), 1, "the other follower still follows");
    drop(two);
    assert_eq!(subs.followed(), 0, "the last follower unfollows");

    // an object that does not exist yet; after a relist the follower reads it again
    let mut b = subs.follow(api.clone(), "default", "b");
    assert_eq!(next(&mut b).await, Some(None));
    api.create(&PostParams::default(), &configmap("b", "3"))
        .await
        .expect("create");
    subs.feed(&Event::Init);
    subs.feed(&Event::InitDone);
    let v = next(&mut b).await.flatten().expect("read after the relist");
    assert_eq!(v["metadata"]["annotations"]["v"], "3");
}

/// A follower started before a write and seeded with what the write returned reads
/// nothing from the API; news of another object of the same name (an earlier one whose
/// events lag behind) are not passed on, news of its own object are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_follower_starts_from_the_write_and_ignores_other_objects_of_its_name() {
    let server = ApiServer::open(Options::default()).expect("server opens");
    let client = sluice_kube::in_process_client(server.local_router(), "default");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("", "v1", "ConfigMap"),
        "configmaps",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let subs = Arc::new(Subscriptions::default());
    let mut sub = subs.follow(api.clone(), "default", "c");
    let created = api
        .create(&PostParams::default(), &configmap("c", "1"))
        .await
        .expect("create");
    sub.seed(&created);
    // the seed is the first state, even though the object changed meanwhile
    api.delete("c", &Default::default()).await.expect("delete");
    let v = next(&mut sub).await.flatten().expect("the seed");
    assert_eq!(v["metadata"]["annotations"]["v"], "1");
    assert_eq!(v["metadata"]["uid"], json!(created.metadata.uid));

    // an earlier object of the same name: its news are skipped
    let mut earlier = configmap("c", "0");
    earlier.metadata.uid = Some("an-earlier-uid".into());
    for ev in [Event::Delete(earlier.clone()), Event::Apply(earlier)] {
        subs.feed(&ev);
        let r = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
        assert!(r.is_err(), "news of another object were passed on: {r:?}");
    }
    let mut own = created.clone();
    own.metadata.annotations = Some([("v".to_owned(), "2".to_owned())].into());
    subs.feed(&Event::Apply(own.clone()));
    let v = next(&mut sub).await.flatten().expect("its own change");
    assert_eq!(v["metadata"]["annotations"]["v"], "2");
    subs.feed(&Event::Delete(own));
    assert_eq!(next(&mut sub).await, Some(None), "its own deletion");
}
