//! Status writes that a person reads, coalesced: at most one a second per object, final
//! states at once.
//!
//! A run's progress (a PipelineRun's task counts and childReferences, a TaskRun waiting for
//! a slot, a Pod turning Running) is written for people and UIs; nothing in the controllers
//! reads it back. With hundreds of runs at once each of those writes cost as much as the
//! task it reported (bench/serve.py (d): ~0.3 ms of server CPU per request), and most were
//! overwritten a few milliseconds later. A [`StatusWriter`] holds such a progress patch for
//! [`SETTLE`]; a later progress merges into it (RFC 7386 composition), and a final write
//! ([`StatusWriter::last`]) takes whatever is pending along, so an object's state is never
//! lost, only its short-lived intermediate states are not written.
//!
//! What decides something stays an immediate write outside this type: a PipelineRun's
//! start (`startTime`, which concurrency groups read) and a TaskRun's `Running` (the claim
//! that its steps started, which a restart reads).
//!
//! Invariants: writes of one writer reach the API in the order they were asked for (one
//! lock is held around taking the pending patch and writing it); after [`StatusWriter::close`]
//! nothing is written by the writer any more.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

/// How long a progress patch waits for the next one before it is written.
pub const SETTLE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Pending {
    patch: Option<Value>,
    armed: bool,
    closed: bool,
}

/// Coalesced merge patches of one object's `status` subresource.
pub struct StatusWriter {
    api: Api<DynamicObject>,
    name: String,
    pending: Mutex<Pending>,
    /// Held while a patch is taken and written: writes stay in order.
    write: tokio::sync::Mutex<()>,
}

impl StatusWriter {
    pub fn new(api: Api<DynamicObject>, name: &str) -> Arc<StatusWriter> {
        Arc::new(StatusWriter {
            api,
            name: name.to_owned(),
            pending: Mutex::new(Pending::default()),
            write: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A progress patch: written after [`SETTLE`] together with the ones that follow it, or
    /// with the [`StatusWriter::last`] write. Needs a tokio runtime.
    pub fn later(self: &Arc<Self>, patch: Value) {
        let arm = {
            let mut p = self.lock();
            if p.closed {
                return;
            }
            match &mut p.patch {
                Some(acc) => compose(acc, patch),
                None => p.patch = Some(patch),
            }
            !std::mem::replace(&mut p.armed, true)
        };
        if arm {
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(SETTLE).await;
                let _guard = me.write.lock().await;
                let patch = {
                    let mut p = me.lock();
                    p.armed = false;
                    if p.closed { None } else { p.patch.take() }
                };
                if let Some(patch) = patch {
                    // progress is informative: a failed write is not repeated
                    let _ = crate::patch_status_rv(&me.api, &me.name, &patch).await;
                }
            });
        }
    }

    /// Writes `patch` (and what is pending before it) now, repeating transient failures,
    /// as the writer's last write: it is closed then.
    pub async fn last(&self, patch: Value) -> Result<DynamicObject, kube::Error> {
        let _guard = self.write.lock().await;
        let (pp, patch) = (PatchParams::default(), Patch::Merge(self.take_last(patch)));
        crate::retry(|| self.api.patch_status(&self.name, &pp, &patch)).await
    }

    /// [`StatusWriter::last`] whose answer is not read (only its resourceVersion).
    pub async fn last_unread(&self, patch: Value) -> Result<Option<String>, kube::Error> {
        let _guard = self.write.lock().await;
        let patch = self.take_last(patch);
        crate::retry(|| crate::patch_status_rv(&self.api, &self.name, &patch)).await
    }

    /// Drops what is pending and writes nothing more; returns once a write in flight ended.
    pub async fn close(&self) {
        let _guard = self.write.lock().await;
        let mut p = self.lock();
        p.closed = true;
        p.patch = None;
    }

    /// Closes the writer and returns what is pending, then `last`.
    fn take_last(&self, last: Value) -> Value {
        let mut p = self.lock();
        p.closed = true;
        match p.patch.take() {
            Some(mut acc) => {
                compose(&mut acc, last);
                acc
            }
            None => last,
        }
    }
}

/// Makes `acc` the merge patch (RFC 7386) that does what applying `acc` and then `next`
/// does: objects merge key by key, anything else (arrays, scalars, null deletions) replaces.
/// (An object following a non-object in `acc` merges into the target's value instead of
/// replacing it: merge patches cannot say "replace this object", and status writers never
/// write a key first as a scalar, then as an object.)
pub fn compose(acc: &mut Value, next: Value) {
    match (acc, next) {
        (Value::Object(a), Value::Object(n)) => {
            for (k, v) in n {
                match a.get_mut(&k) {
                    Some(slot @ Value::Object(_)) if v.is_object() => compose(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (acc, next) => *acc = next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7386 section 2's `MergePatch`, to check that composing two patches does what
    /// applying them one after the other does.
    fn apply(target: &Value, patch: &Value) -> Value {
        let Value::Object(p) = patch else {
            return patch.clone();
        };
        let mut t = match target {
            Value::Object(t) => t.clone(),
            _ => serde_json::Map::new(),
        };
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                let cur = t.get(k).cloned().unwrap_or(Value::Null);
                t.insert(k.clone(), apply(&cur, v));
            }
        }
        Value::Object(t)
    }

    #[test]
    fn composed_patches_do_what_applying_both_does() {
        let doc = json!({"status": {"conditions": [{"reason": "Pending"}], "podName": "p",
            "steps": [{"name": "a"}], "results": [1]}, "spec": {"x": 1}});
        let cases = [
            (
                json!({"status": {"conditions": [{"reason": "Running"}], "childReferences": [{"name": "a"}]}}),
                json!({"status": {"conditions": [{"reason": "Running", "message": "2"}], "childReferences": [{"name": "a"}, {"name": "b"}]}}),
            ),
            (
                json!({"status": {"podName": null, "steps": [{"name": "b"}]}}),
                json!({"status": {"podName": "q", "results": null}}),
            ),
            (
                json!({"status": {"startTime": "t", "taskSpec": {"steps": [1]}}}),
                json!({"status": {"taskSpec": {"params": []}, "conditions": []}}),
            ),
            (
                json!({"status": {"a": {"b": 1}}}),
                json!({"status": {"a": {"c": null}}}),
            ),
        ];
        for (first, second) in cases {
            let mut acc = first.clone();
            compose(&mut acc, second.clone());
            assert_eq!(
                apply(&doc, &acc),
                apply(&apply(&doc, &first), &second),
                "{first} then {second}"
            );
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<u8>().prop_map(|n| json!(n)),
            proptest::collection::vec(any::<u8>(), 0..3).prop_map(|v| json!(v)),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            proptest::collection::btree_map(
                prop_oneof![Just("a"), Just("b"), Just("c")],
                inner,
                0..4,
            )
            .prop_map(|m| json!(m))
        })
    }

    proptest::proptest! {
        /// Whatever two patches hold (no key first a scalar, then an object: see
        /// [`compose`]), composing them does what applying them one after the other does.
        #[test]
        fn composition_matches_sequential_application(doc in json_value(), first in json_value(), second in json_value()) {
            fn scalar_then_object(a: &Value, b: &Value) -> bool {
                match (a, b) {
                    (Value::Object(a), Value::Object(b)) => b.iter().any(|(k, v)| match a.get(k) {
                        Some(x @ Value::Object(_)) => scalar_then_object(x, v),
                        Some(_) => v.is_object(),
                        None => false,
                    }),
                    _ => false,
                }
            }
            proptest::prop_assume!(first.is_object() && second.is_object() && !scalar_then_object(&first, &second));
            let mut acc = first.clone();
            compose(&mut acc, second.clone());
            proptest::prop_assert_eq!(apply(&doc, &acc), apply(&apply(&doc, &first), &second));
        }
    }
}
