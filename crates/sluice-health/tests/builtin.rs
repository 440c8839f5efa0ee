//! The built-in checks' messages, as upstream writes them (each case cites its source).

use serde_json::{Value, json};
use sluice_health::{HealthStatus, HealthStatusCode as H, ResourceOverrides, resource_health};

fn health(obj: Value) -> HealthStatus {
    resource_health(&obj, &ResourceOverrides::new()).expect("a check applies")
}

fn is(h: HealthStatus, status: H, message: &str) {
    assert_eq!((h.status, h.message.as_str()), (status, message));
}

// gitops-engine pkg/health/health_deployment.go
#[test]
fn deployment_messages() {
    let d = |spec: Value, status: Value, generation: i64| {
        health(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": generation}, "spec": spec, "status": status}))
    };
    is(
        d(json!({"paused": true}), json!({}), 1),
        H::Suspended,
        "Deployment is paused",
    );
    is(
        d(json!({}), json!({"observedGeneration": 1}), 2),
        H::Progressing,
        "Waiting for rollout to finish: observed deployment generation less then desired generation",
    );
    is(
        d(
            json!({"replicas": 3}),
            json!({"observedGeneration": 2, "updatedReplicas": 1}),
            2,
        ),
        H::Progressing,
        "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...",
    );
    is(
        d(
            json!({"replicas": 2}),
            json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 3}),
            2,
        ),
        H::Progressing,
        "Waiting for rollout to finish: 1 old replicas are pending termination...",
    );
    is(
        d(
            json!({"replicas": 2}),
            json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1}),
            2,
        ),
        H::Progressing,
        "Waiting for rollout to finish: 1 of 2 updated replicas are available...",
    );
    is(
        d(
            json!({}),
            json!({"conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}),
            0,
        ),
        H::Degraded,
        "Deployment \"web\" exceeded its progress deadline",
    );
    // a field of the wrong type fails the typed conversion: Unknown
    let h = d(json!({"replicas": "three"}), json!({}), 0);
    assert_eq!(h.status, H::Unknown);
    assert_eq!(
        h.message,
        "failed to convert unstructured Deployment to typed: .spec.replicas: expected integer, got string"
    );
    let h = health(json!({"apiVersion": "apps/v1beta9", "kind": "Deployment", "metadata": {}}));
    is(
        h,
        H::Unknown,
        "unsupported Deployment GVK: apps/v1beta9, Kind=Deployment",
    );
}

// gitops-engine pkg/health/health_statefulset.go, health_daemonset.go, health_replicaset.go
#[test]
fn statefulset_daemonset_replicaset_messages() {
    let sts = |spec: Value, status: Value| {
        health(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "generation": 1}, "spec": spec, "status": status}))
    };
    is(
        sts(json!({}), json!({})),
        H::Progressing,
        "Waiting for statefulset spec update to be observed...",
    );
    is(
        sts(
            json!({"replicas": 3}),
            json!({"observedGeneration": 1, "readyReplicas": 1}),
        ),
        H::Progressing,
        "Waiting for 2 pods to be ready...",
    );
    is(
        sts(
            json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
            json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1}),
        ),
        H::Progressing,
        "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
    );
    is(
        sts(
            json!({"replicas": 1}),
            json!({"observedGeneration": 1, "readyReplicas": 1, "currentReplicas": 1,
            "currentRevision": "db-1", "updateRevision": "db-1"}),
        ),
        H::Healthy,
        "statefulset rolling update complete 1 pods at revision db-1...",
    );
    let ds = health(
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": 2}}),
    );
    is(
        ds,
        H::Progressing,
        "Waiting for daemon set \"agent\" rollout to finish: 2 out of 3 new pods have been updated...",
    );
    let rs = health(
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {},
        "status": {"conditions": [{"type": "ReplicaFailure", "status": "True", "message": "quota"}]}}),
    );
    is(rs, H::Degraded, "quota");
}

// gitops-engine pkg/health/health.go: deletion first, unless a hook finalizer holds it
#[test]
fn deletion() {
    let pod = |finalizers: Value| {
        health(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",
            "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": finalizers},
            "spec": {"restartPolicy": "Always"}, "status": {"phase": "Succeeded"}}),
        )
    };
    is(pod(json!([])), H::Progressing, "Pending deletion");
    is(
        pod(json!(["argocd.argoproj.io/hook-finalizer"])),
        H::Healthy,
        "",
    );
}

// gitops-engine pkg/health/health_pod.go: failed containers
#[test]
fn pod_failure_messages() {
    let p = health(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {},
        "spec": {"restartPolicy": "Never"},
        "status": {"phase": "Failed", "containerStatuses": [
            {"name": "main", "state": {"terminated": {"exitCode": 3}}}]}}));
    is(p, H::Degraded, "container \"main\" failed with exit code 3");
    let p = health(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {},
        "spec": {"restartPolicy": "Never"},
        "status": {"phase": "Failed", "initContainerStatuses": [
            {"name": "init", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}}));
    is(p, H::Degraded, "OOMKilled");
}

// argo-cd resource_customizations/argoproj.io/Application/health.lua
#[test]
fn application() {
    let app = |status: Value| {
        health(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "a"}, "status": status}),
        )
    };
    is(
        app(json!({"health": {"status": "Degraded", "message": "x"}})),
        H::Degraded,
        "x",
    );
    is(
        app(json!({})),
        H::Progressing,
        "Waiting for application to be reconciled",
    );
    is(
        app(json!({"health": {"status": "Bogus"}})),
        H::Unknown,
        "Lua returned an invalid health status",
    );
}

// argo-cd resource_customizations/argoproj.io/Rollout/health.lua
#[test]
fn rollout() {
    let ro = |spec: Value, status: Value| {
        health(
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r", "generation": 2}, "spec": spec, "status": status}),
        )
    };
    let canary = json!({"replicas": 2, "strategy": {"canary": {}}});
    is(
        ro(canary.clone(), json!({})),
        H::Progressing,
        "Waiting for rollout spec update to be observed",
    );
    is(
        ro(canary.clone(), json!({"observedGeneration": "1"})),
        H::Progressing,
        "Waiting for rollout spec update to be observed",
    );
    is(
        ro(
            canary.clone(),
            json!({"observedGeneration": "2", "conditions": [
            {"type": "Progressing", "reason": "RolloutAborted", "message": "aborted"}]}),
        ),
        H::Degraded,
        "aborted",
    );
    is(
        ro(
            json!({"paused": true, "strategy": {"canary": {}}}),
            json!({"observedGeneration": "2", "conditions": []}),
        ),
        H::Suspended,
        "Rollout is paused",
    );
    is(
        ro(
            canary.clone(),
            json!({"observedGeneration": "2", "conditions": [], "currentPodHash": "h",
            "updatedReplicas": 2, "availableReplicas": 2, "replicas": 3, "stableRS": "h"}),
        ),
        H::Progressing,
        "Waiting for roll out to finish: old replicas are pending termination",
    );
    is(
        ro(
            canary.clone(),
            json!({"observedGeneration": "2", "conditions": [], "currentPodHash": "h",
            "updatedReplicas": 2, "availableReplicas": 2, "replicas": 2, "stableRS": "old"}),
        ),
        H::Progressing,
        "Waiting for rollout to finish steps",
    );
    is(
        ro(
            canary,
            json!({"observedGeneration": "2", "conditions": [], "currentPodHash": "h",
            "updatedReplicas": 2, "availableReplicas": 2, "replicas": 2, "stableRS": "h"}),
        ),
        H::Healthy,
        "",
    );
    is(
        ro(
            json!({"strategy": {"blueGreen": {}}}),
            json!({"observedGeneration": 2, "conditions": [], "currentPodHash": "h",
            "updatedReplicas": 1, "availableReplicas": 1, "blueGreen": {"activeSelector": "old"}}),
        ),
        H::Progressing,
        "active service cutover pending",
    );
    // the script's ipairs(nil): Unknown with Lua's error
    let h = ro(json!({"strategy": {}}), json!({"observedGeneration": "2"}));
    assert_eq!(h.status, H::Unknown);
    assert!(
        h.message
            .contains("bad argument #1 to 'ipairs' (table expected, got nil)"),
        "{h:?}"
    );
}
