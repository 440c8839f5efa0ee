//! `spec.restartAt` of a Rollout (`kubectl argo rollouts restart`; argo-rollouts
//! rollout/restart.go `RolloutPodRestarter`): once `restartAt` has passed and differs from
//! `status.restartedAt`, the Rollout's Pods created before it are deleted one at a time —
//! the next only when no Pod of the Rollout is terminating or not ready — and their
//! ReplicaSets recreate them; when none is left, `status.restartedAt` is set to
//! `restartAt`. A `restartAt` in the future is waited for.

use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::Error;

/// What to do about a restart: `None` when nothing is pending, else when to look again.
pub fn pending(ro: &Value, now_ms: i64) -> Option<Result<i64, ()>> {
    let at = ro.pointer("/spec/restartAt").and_then(Value::as_str)?;
    if ro.pointer("/status/restartedAt").and_then(Value::as_str) == Some(at) {
        return None;
    }
    let Some(at_ms) = sluice_rollouts::analysis::parse_rfc3339(at) else {
        return Some(Err(()));
    };
    Some(Ok(at_ms - now_ms))
}

fn created_ms(p: &Value) -> i64 {
    p.pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(sluice_rollouts::analysis::parse_rfc3339)
        .unwrap_or(0)
}

fn ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The Pods to delete now: none while one is terminating or not ready, else the oldest
/// created before `restart_at` (upstream deletes within maxUnavailable; one at a time is
/// that with maxUnavailable 1).
pub fn next_victim(pods: &[Value], restart_at: i64) -> (usize, Option<String>) {
    let older: Vec<&Value> = pods.iter().filter(|p| created_ms(p) < restart_at).collect();
    let busy = pods
        .iter()
        .any(|p| p.pointer("/metadata/deletionTimestamp").is_some() || !ready(p));
    if busy {
        return (older.len(), None);
    }
    let victim = older
        .iter()
        .min_by_key(|p| created_ms(p))
        .and_then(|p| p.pointer("/metadata/name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    (older.len(), victim)
}

/// One step of a pending restart of the Rollout `name` whose ReplicaSets have the pod
/// hashes `hashes`; `Some(wait)` asks to be reconciled again after `wait`.
pub async fn reconcile(
    client: &kube::Client,
    ns: &str,
    name: &str,
    ro: &Value,
    hashes: &[String],
    now_ms: i64,
) -> Result<Option<Duration>, Error> {
    let wait = match pending(ro, now_ms) {
        None => return Ok(None),
        Some(Err(())) => return Ok(None),
        Some(Ok(w)) => w,
    };
    if wait > 0 {
        return Ok(Some(Duration::from_millis(wait as u64)));
    }
    let at = ro
        .pointer("/spec/restartAt")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let restart_at = now_ms + wait;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &crate::pod_ar());
    let mut pods = Vec::new();
    if !hashes.is_empty() {
        let sel = format!(
            "{} in ({})",
            sluice_rollouts::canary::POD_TEMPLATE_HASH_LABEL,
            hashes.join(",")
        );
        for p in api.list(&ListParams::default().labels(&sel)).await?.items {
            pods.push(serde_json::to_value(p)?);
        }
    }
    let (left, victim) = next_victim(&pods, restart_at);
    if left == 0 {
        let ro_api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &crate::rollouts::rollout_ar());
        ro_api
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"restartedAt": at}})),
            )
            .await?;
        return Ok(None);
    }
    if let Some(v) = victim {
        match api.delete(&v, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Duration::from_millis(500)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, created: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "creationTimestamp": created},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    #[test]
    fn pending_restarts() {
        let ro = json!({"spec": {"restartAt": "2026-12-04T10:00:00Z"}});
        let at = sluice_rollouts::analysis::parse_rfc3339("2026-12-04T10:00:00Z").expect("time");
        assert_eq!(pending(&ro, at - 1000), Some(Ok(1000)));
        assert_eq!(pending(&ro, at), Some(Ok(0)));
        let done = json!({"spec": {"restartAt": "2026-12-04T10:00:00Z"},
            "status": {"restartedAt": "2026-12-04T10:00:00Z"}});
        assert_eq!(pending(&done, at), None);
        assert_eq!(pending(&json!({"spec": {}}), at), None);
        assert_eq!(
            pending(&json!({"spec": {"restartAt": "soon"}}), at),
            Some(Err(()))
        );
    }

    #[test]
    fn one_pod_at_a_time_oldest_first() {
        let at = sluice_rollouts::analysis::parse_rfc3339("2026-12-04T10:00:00Z").expect("time");
        let pods = vec![
            pod("b", "2026-12-04T09:00:00Z", true),
            pod("a", "2026-12-04T08:00:00Z", true),
            pod("new", "2026-12-04T10:00:05Z", true),
        ];
        assert_eq!(next_victim(&pods, at), (2, Some("a".into())));
        // a replacement not ready yet: wait
        let mut waiting = pods.clone();
        waiting[2] = pod("new", "2026-12-04T10:00:05Z", false);
        assert_eq!(next_victim(&waiting, at), (2, None));
        assert_eq!(next_victim(&pods[2..], at), (0, None));
    }
}
