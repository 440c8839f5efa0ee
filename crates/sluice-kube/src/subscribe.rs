//! Following one object through the run controllers' own watch.
//!
//! An executing PipelineRun follows itself (cancel, delete) and each TaskRun it waits for;
//! an executing TaskRun follows itself. Each of those was a watch of one object
//! (`watch_object`): with 200 runs of 5 tasks at once, about 600 watches, and every change
//! of any run was sent to all of them (28% of `sluice serve`'s CPU was that fan-out, the
//! same cost a real API server pays). The PipelineRun and TaskRun controllers already watch
//! every run: their watch stream feeds [`Subscriptions`], which hands each change of a
//! followed object to its followers, and a follower reads the object once when it starts
//! (no change is missed between its start and the first event it gets).
//!
//! Invariants: an entry exists only while a [`Subscription`] of its key lives; a change of
//! an object nobody follows costs one map lookup; a relist of the stream (watch restarted)
//! makes every follower read its object again, since a relist tells no deletions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use serde_json::Value;
use tokio::sync::watch;

/// What a follower last learnt of its object.
#[derive(Debug, Clone)]
enum Seen {
    /// Nothing yet.
    Nothing,
    /// The object as the watch delivered it.
    Object(Arc<Value>),
    /// The watch delivered its deletion (of the object with this uid).
    Deleted(Option<String>),
    /// The watch was relisted: read the object to know.
    Recheck,
}

type Key = (String, String);

/// The objects of one resource that are followed, fed by that resource's watch stream.
#[derive(Debug, Default)]
pub struct Subscriptions {
    followed: Mutex<HashMap<Key, watch::Sender<Seen>>>,
}

fn key_of(o: &DynamicObject) -> Key {
    (
        o.metadata.namespace.clone().unwrap_or_default(),
        o.metadata.name.clone().unwrap_or_default(),
    )
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, watch::Sender<Seen>>> {
        self.followed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands one event of the watch stream to the followers of its object.
    pub fn feed(&self, ev: &watcher::Event<DynamicObject>) {
        let followed = self.lock();
        if followed.is_empty() {
            return;
        }
        match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                if let Some(tx) = followed.get(&key_of(o)) {
                    tx.send_replace(Seen::Object(Arc::new(view(o))));
                }
            }
            watcher::Event::Delete(o) => {
                if let Some(tx) = followed.get(&key_of(o)) {
                    tx.send_replace(Seen::Deleted(o.metadata.uid.clone()));
                }
            }
            watcher::Event::Init => {}
            watcher::Event::InitDone => {
                for tx in followed.values() {
                    tx.send_replace(Seen::Recheck);
                }
            }
        }
    }

    /// Follows the object `name` of `api` (namespaced as the subscription's key says).
    pub fn follow(
        self: &Arc<Self>,
        api: Api<DynamicObject>,
        namespace: &str,
        name: &str,
    ) -> Subscription {
        let key = (namespace.to_owned(), name.to_owned());
        let rx = {
            let mut followed = self.lock();
            match followed.get(&key) {
                Some(tx) => {
                    let mut rx = tx.subscribe();
                    rx.mark_unchanged();
                    rx
                }
                None => {
                    let (tx, rx) = watch::channel(Seen::Nothing);
                    followed.insert(key.clone(), tx);
                    rx
                }
            }
        };
        Subscription {
            subs: self.clone(),
            key,
            rx,
            api,
            first: First::Read,
            uid: None,
        }
    }

    /// How many objects are followed (tests).
    pub fn followed(&self) -> usize {
        self.lock().len()
    }
}

/// What a follower reads of a run from the watch: identity and deletion, annotations,
/// `spec.status`/`statusMessage` (cancellation), and the status (whole once the run is done,
/// else its conditions). A run's status carries its resolved spec and every step: copying
/// it at each change of a running run was most of the cost of following it.
fn view(o: &DynamicObject) -> Value {
    let status = o.data.get("status");
    let status = if crate::shape::done(status).is_some() {
        status.cloned()
    } else {
        status
            .and_then(|s| s.get("conditions"))
            .map(|c| serde_json::json!({"conditions": c}))
    };
    let spec = o.data.get("spec");
    let pick = |k: &str| spec.and_then(|s| s.get(k)).cloned();
    let mut v = serde_json::json!({
        "metadata": {
            "name": o.metadata.name,
            "namespace": o.metadata.namespace,
            "uid": o.metadata.uid,
            "resourceVersion": o.metadata.resource_version,
            "deletionTimestamp": o.metadata.deletion_timestamp,
            "annotations": o.metadata.annotations,
        },
        "spec": {"status": pick("status"), "statusMessage": pick("statusMessage")},
    });
    // absent fields stay absent (a null deletionTimestamp would read as a deletion)
    for part in ["metadata", "spec"] {
        if let Some(m) = v.get_mut(part).and_then(Value::as_object_mut) {
            m.retain(|_, x| !x.is_null());
        }
    }
    if let Some(status) = status {
        v["status"] = status;
    }
    if let Some(t) = &o.types {
        v["apiVersion"] = Value::String(t.api_version.clone());
        v["kind"] = Value::String(t.kind.clone());
    }
    v
}

/// Where a follower's first state comes from.
enum First {
    /// A read of the object.
    Read,
    /// The answer of a write made after the follow ([`Subscription::seed`]).
    Seed(Value),
    /// Handed out: the watch brings the rest.
    Given,
}

/// One follower of one object; unfollows when dropped.
pub struct Subscription {
    subs: Arc<Subscriptions>,
    key: Key,
    rx: watch::Receiver<Seen>,
    api: Api<DynamicObject>,
    first: First,
    /// The uid of the object followed, once known: the watch's news of another object of
    /// the same name (an earlier one, its events lagging) are not this object's.
    uid: Option<String>,
}

impl Subscription {
    /// The object's next state, as `watch_object` gives it: `Some(Some(v))` the object (from
    /// the watch, the part [`view`] keeps),
    /// `Some(None)` it does not exist (any more), `None` the stream ended (the controllers
    /// stopped). The first call reads the object from the API.
    pub async fn next(&mut self) -> Option<Option<Value>> {
        match std::mem::replace(&mut self.first, First::Given) {
            First::Seed(v) => return Some(Some(v)),
            First::Read => {
                // marks what was seen so far as read: the answer is at least as new
                self.rx.mark_unchanged();
                if let Some(state) = self.read().await {
                    return Some(state);
                }
            }
            First::Given => {}
        }
        loop {
            self.rx.changed().await.ok()?;
            let seen = self.rx.borrow_and_update().clone();
            match seen {
                Seen::Nothing => {}
                Seen::Object(v) if self.foreign(v["metadata"]["uid"].as_str()) => {}
                Seen::Object(v) => return Some(Some((*v).clone())),
                Seen::Deleted(uid) if self.foreign(uid.as_deref()) => {}
                Seen::Deleted(_) => return Some(None),
                Seen::Recheck => {
                    if let Some(state) = self.read().await {
                        return Some(state);
                    }
                }
            }
        }
    }

    /// Starts the follower from `obj`, the object as a write of this process returned it,
    /// instead of reading it: `follow` was called before that write, so every change after
    /// it comes through the watch. (The watch may still bring states older than `obj`; a
    /// follower acts on deletion, cancellation and completion, which never go back.)
    pub fn seed(&mut self, obj: &DynamicObject) {
        self.uid = obj.metadata.uid.clone();
        self.first = First::Seed(view(obj));
    }

    /// Whether the watch's news with this uid is of another object than the one followed.
    fn foreign(&self, uid: Option<&str>) -> bool {
        matches!((&self.uid, uid), (Some(mine), Some(theirs)) if mine != theirs)
    }

    /// The object read from the API; `None` when it cannot be read now (a transient error:
    /// the watch brings the next change).
    async fn read(&mut self) -> Option<Option<Value>> {
        match crate::retry(|| self.api.get_opt(&self.key.1)).await {
            Ok(Some(o)) => {
                self.uid = o.metadata.uid.clone();
                Some(Some(serde_json::to_value(&o).unwrap_or_default()))
            }
            Ok(None) => Some(None),
            Err(_) => None,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut followed = self.subs.lock();
        // this follower's receiver is still alive: the last one leaves a count of 1
        if followed
            .get(&self.key)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            followed.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(status: Value) -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": "t", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                "annotations": {"a": "b"}, "labels": {"l": "v"}},
            "spec": {"taskSpec": {"steps": [{"name": "s", "image": "x"}]}, "status": "TaskRunCancelled"},
            "status": status}))
        .expect("object")
    }

    #[test]
    fn the_view_keeps_what_followers_read_and_no_nulls() {
        let running = json!({"conditions": [{"type": "Succeeded", "status": "Unknown"}],
            "taskSpec": {"steps": []}, "steps": [{"name": "s"}]});
        let v = view(&run(running));
        assert_eq!(
            v,
            json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                "metadata": {"name": "t", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                    "annotations": {"a": "b"}},
                "spec": {"status": "TaskRunCancelled"},
                "status": {"conditions": [{"type": "Succeeded", "status": "Unknown"}]}})
        );
        assert!(v["metadata"].get("deletionTimestamp").is_none());
        // a finished run's whole status (its results, steps) is what the parent reads
        let done = json!({"conditions": [{"type": "Succeeded", "status": "True"}],
            "results": [{"name": "r", "value": "x"}]});
        assert_eq!(view(&run(done.clone()))["status"], done);
    }
}
