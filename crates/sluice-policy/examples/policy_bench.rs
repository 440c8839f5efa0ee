//! Benchmark: 20 pod-security-style ClusterPolicies over 10,000 Pods on one thread.
//! Run: `cargo run --release -p sluice-policy --example policy_bench [PODS]` (bench/policy.sh).

use std::time::Instant;

use serde_json::{Value, json};
use sluice_core::Object;
use sluice_policy::{AdmissionRequest, PolicySet, Status, UserInfo, compile, evaluate};

fn policy(name: &str, pattern: Value) -> Value {
    json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": name},
        "spec": {"validationFailureAction": "Enforce", "background": true, "rules": [{"name": name,
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": format!("{name} violated"), "pattern": pattern}}]}})
}

fn policies() -> Vec<Value> {
    vec![
        policy(
            "disallow-privileged",
            json!({"spec": {"=(ephemeralContainers)": [{"=(securityContext)": {"=(privileged)": "false"}}], "=(initContainers)": [{"=(securityContext)": {"=(privileged)": "false"}}], "containers": [{"=(securityContext)": {"=(privileged)": "false"}}]}}),
        ),
        policy(
            "disallow-host-path",
            json!({"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}}),
        ),
        policy(
            "disallow-host-network",
            json!({"spec": {"=(hostNetwork)": "false"}}),
        ),
        policy(
            "disallow-host-pid",
            json!({"spec": {"=(hostPID)": "false"}}),
        ),
        policy(
            "disallow-host-ipc",
            json!({"spec": {"=(hostIPC)": "false"}}),
        ),
        policy(
            "disallow-host-ports",
            json!({"spec": {"containers": [{"=(ports)": [{"=(hostPort)": 0}]}]}}),
        ),
        policy(
            "disallow-capabilities",
            json!({"spec": {"containers": [{"=(securityContext)": {"=(capabilities)": {"X(add)": "null"}}}]}}),
        ),
        policy(
            "disallow-proc-mount",
            json!({"spec": {"containers": [{"=(securityContext)": {"=(procMount)": "Default"}}]}}),
        ),
        policy(
            "restrict-seccomp",
            json!({"spec": {"=(securityContext)": {"=(seccompProfile)": {"=(type)": "RuntimeDefault | Localhost"}}}}),
        ),
        policy(
            "disallow-selinux",
            json!({"spec": {"=(securityContext)": {"=(seLinuxOptions)": {"X(user)": "null", "X(role)": "null"}}}}),
        ),
        policy(
            "restrict-sysctls",
            json!({"spec": {"=(securityContext)": {"=(sysctls)": [{"=(name)": "kernel.shm_rmid_forced | net.ipv4.ip_local_port_range"}]}}}),
        ),
        policy(
            "require-run-as-non-root",
            json!({"spec": {"=(securityContext)": {"=(runAsNonRoot)": true}, "containers": [{"=(securityContext)": {"=(runAsNonRoot)": true}}]}}),
        ),
        policy(
            "disallow-privilege-escalation",
            json!({"spec": {"containers": [{"securityContext": {"allowPrivilegeEscalation": "false"}}]}}),
        ),
        policy(
            "require-drop-all",
            json!({"spec": {"containers": [{"securityContext": {"capabilities": {"drop": ["ALL"]}}}]}}),
        ),
        policy(
            "restrict-volume-types",
            json!({"spec": {"=(volumes)": [{"X(gcePersistentDisk)": "null", "X(nfs)": "null"}]}}),
        ),
        policy(
            "require-labels",
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "?*"}}}),
        ),
        policy(
            "disallow-latest-tag",
            json!({"spec": {"containers": [{"image": "!*:latest"}]}}),
        ),
        policy(
            "require-requests-limits",
            json!({"spec": {"containers": [{"resources": {"requests": {"memory": "?*", "cpu": "?*"}, "limits": {"memory": "?*"}}}]}}),
        ),
        policy(
            "restrict-image-registries",
            json!({"spec": {"containers": [{"image": "registry.example.com/* | ghcr.io/*"}]}}),
        ),
        policy(
            "require-ro-rootfs",
            json!({"spec": {"containers": [{"securityContext": {"readOnlyRootFilesystem": true}}]}}),
        ),
    ]
}

fn pod(i: usize) -> Value {
    let bad = i.is_multiple_of(10);
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i}"), "namespace": format!("ns-{}", i % 50),
            "labels": {"app.kubernetes.io/name": format!("app-{}", i % 100)}},
        "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {"name": "app", "image": if bad { "docker.io/nginx:latest".to_owned() } else { format!("registry.example.com/app:{i}") },
                 "ports": [{"containerPort": 8080}],
                 "resources": {"requests": {"memory": "64Mi", "cpu": "100m"}, "limits": {"memory": "128Mi"}},
                 "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}}},
                {"name": "sidecar", "image": "ghcr.io/org/proxy:1.2",
                 "resources": {"requests": {"memory": "32Mi", "cpu": "50m"}, "limits": {"memory": "64Mi"}},
                 "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "tmp", "emptyDir": {}}]}})
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let set = PolicySet::new(
        policies()
            .into_iter()
            .map(|p| compile(&Object::new(p)).expect("bench policy compiles"))
            .collect(),
    );
    let pods: Vec<Value> = (0..n).map(pod).collect();
    let user = UserInfo::default();
    let start = Instant::now();
    let (mut evals, mut fails) = (0usize, 0usize);
    let mut worst = std::time::Duration::ZERO;
    for p in &pods {
        let t = Instant::now();
        let r = evaluate(&set, &AdmissionRequest::create(p, &user));
        worst = worst.max(t.elapsed());
        evals += r.len();
        fails += r.iter().filter(|x| x.status == Status::Fail).count();
    }
    let el = start.elapsed();
    let secs = el.as_secs_f64();
    println!(
        "policies: {}, pods: {n}, rule evaluations: {evals}, failures: {fails}",
        set.policies.len()
    );
    println!(
        "total: {:.3} s, {:.0} rule evaluations/s, {:.1} us per admitted object (worst {:.1} us)",
        secs,
        evals as f64 / secs,
        secs * 1e6 / n as f64,
        worst.as_secs_f64() * 1e6
    );
}
