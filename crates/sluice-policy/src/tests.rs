//! Two seed-shaped policies, pinned: they behave as Kyverno would (the missing `=()` anchor
//! of seed defect 5 included). The repository's fixture (tests/fixtures/platform/policies) in
//! `cargo test`, the seed's (`SLUICE_SHARED`/seed/manifests/policies) in
//! `./scripts/conformance` (suite `seed`).

use std::path::PathBuf;

use serde_json::{Value, json};
use sluice_core::Object;
use sluice_core::object::load_objects;

use super::*;

/// The seed and the upstream corpora, given by `./scripts/conformance [PATH]`; the tests that
/// read them are `#[ignore]`d and fail loudly without it.
fn shared() -> PathBuf {
    let Some(dir) = std::env::var_os("SLUICE_SHARED") else {
        panic!(
            "SLUICE_SHARED is not set: the conformance suites run with ./scripts/conformance [PATH]"
        )
    };
    PathBuf::from(dir)
}

/// Counts one check of the `seed` suite for `./scripts/conformance`: 1/1 when the test ends
/// normally, 0/1 when it panics.
struct SeedCheck;

impl Drop for SeedCheck {
    fn drop(&mut self) {
        println!(
            "CONFORMANCE seed {} 1",
            usize::from(!std::thread::panicking())
        );
    }
}

fn fixture_policy(name: &str) -> CompiledPolicy {
    policy_file(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/platform/policies")
            .join(format!("{name}.yaml")),
    )
}

fn seed_policy(name: &str) -> CompiledPolicy {
    policy_file(
        shared()
            .join("seed/manifests/policies")
            .join(format!("{name}.yaml")),
    )
}

fn policy_file(path: PathBuf) -> CompiledPolicy {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.display().to_string();
    let f = load_objects(&name, &text, &sluice_core::Limits::default()).expect("loads");
    compile(&f.objects[0].object).expect("compiles")
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"}, "spec": spec})
}

fn run(p: &CompiledPolicy, obj: &Value) -> Vec<RuleResult> {
    let user = UserInfo::default();
    evaluate(
        &PolicySet::new(vec![p.clone()]),
        &AdmissionRequest::create(obj, &user),
    )
}

/// A registry policy's names: policy, rule, the validate message, and an approved image.
struct Registry {
    policy: &'static str,
    rule: &'static str,
    message: &'static str,
    image: &'static str,
}

// Seed defect 5 (and the fixture's): `initContainers` without `=()` makes Kyverno reject
// every Pod that has no init containers (pkg/engine/anchor/handlers.go defaultHandler:
// a plain key must be present; validate.go: a list pattern against a missing value fails).
fn registry_policy_without_anchor(p: &CompiledPolicy, r: &Registry) {
    let ok_containers = json!([{"name": "app", "image": r.image}]);
    let res = run(p, &pod(json!({"containers": ok_containers})));
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].status, Status::Fail);
    assert_eq!(res[0].action, Action::Enforce);
    assert_eq!(
        res[0].message,
        format!(
            "validation error: {}. rule {} failed at path /spec/initContainers/",
            r.message, r.rule
        )
    );
    let res = run(
        p,
        &pod(json!({"containers": ok_containers, "initContainers": ok_containers})),
    );
    assert_eq!(res[0].status, Status::Pass);
    let res = run(
        p,
        &pod(
            json!({"containers": [{"name": "a", "image": "docker.io/nginx"}],
            "initContainers": ok_containers}),
        ),
    );
    assert_eq!(res[0].status, Status::Fail);
    assert!(
        res[0]
            .message
            .ends_with("failed at path /spec/containers/0/image/"),
        "{}",
        res[0].message
    );
    // autogen: a Deployment's Pod template is checked by autogen-<rule>
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "prod"},
        "spec": {"template": {"spec": {"containers": ok_containers}}}});
    let res = run(p, &d);
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].rule, format!("autogen-{}", r.rule));
    assert!(res[0].autogen);
    assert_eq!(res[0].status, Status::Fail);
    assert!(
        res[0]
            .message
            .ends_with("failed at path /spec/template/spec/initContainers/"),
        "{}",
        res[0].message
    );
    let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "prod"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": ok_containers,
            "initContainers": ok_containers}}}}}});
    let res = run(p, &cj);
    assert_eq!(res[0].rule, format!("autogen-cronjob-{}", r.rule));
    assert_eq!(res[0].status, Status::Pass);
    // Services are not matched: no result at all
    assert!(
        run(
            p,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}})
        )
        .is_empty()
    );
    // Enforce: admission denies with Kyverno's message shape
    let res = run(p, &pod(json!({"containers": ok_containers})));
    match admission_decision(&res) {
        Decision::Deny { message } => {
            assert!(
                message.contains("resource Pod/prod/web was blocked due to the following policies"),
                "{message}"
            );
            let rule_line = format!(
                "{}:\n  {}: \"validation error: {}.",
                r.policy, r.rule, r.message
            );
            assert!(message.contains(&rule_line), "{message}");
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

// A non-root policy: both the Pod-level and every container's securityContext.
fn non_root_policy(p: &CompiledPolicy, rule: &str, message: &str) {
    let good = pod(json!({"securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "a", "image": "x", "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false}}]}));
    assert_eq!(run(p, &good)[0].status, Status::Pass);
    let no_pod_sc = pod(json!({"containers": [{"name": "a", "image": "x",
        "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false}}]}));
    let r = run(p, &no_pod_sc);
    assert_eq!(r[0].status, Status::Fail);
    assert_eq!(
        r[0].message,
        format!("validation error: {message}. rule {rule} failed at path /spec/securityContext/")
    );
    let escalation = pod(json!({"securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "a", "image": "x", "securityContext": {"runAsNonRoot": true}}]}));
    let r = run(p, &escalation);
    assert!(
        r[0].message.ends_with(
            "failed at path /spec/containers/0/securityContext/allowPrivilegeEscalation/"
        ),
        "{}",
        r[0].message
    );
}

#[test]
fn fixture_allowed_registries_without_anchor() {
    registry_policy_without_anchor(
        &fixture_policy("allowed-registries"),
        &Registry {
            policy: "allowed-registries",
            rule: "check-registry",
            message: "Pull images from registry.example.test",
            image: "registry.example.test/app:1",
        },
    );
}

#[test]
fn fixture_require_non_root() {
    non_root_policy(
        &fixture_policy("require-non-root"),
        "check-non-root",
        "Run as a non-root user",
    );
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn seed_restrict_image_registries_defect_5() {
    let _check = SeedCheck;
    registry_policy_without_anchor(
        &seed_policy("restrict-image-registries"),
        &Registry {
            policy: "restrict-image-registries",
            rule: "validate-registries",
            message: "Images must come from approved registries",
            image: "harbor.internal.company.com/app:1",
        },
    );
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn seed_require_security_context() {
    let _check = SeedCheck;
    non_root_policy(
        &seed_policy("require-security-context"),
        "require-run-as-non-root",
        "Containers must run as non-root",
    );
}

// Namespaced Policy applies only to its namespace; Audit failures do not deny.
#[test]
fn policy_namespace_and_audit() {
    let obj = Object::new(json!({"apiVersion": "kyverno.io/v1", "kind": "Policy",
        "metadata": {"name": "p", "namespace": "team"}, "spec": {"validationFailureAction": "Audit",
        "rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
        "validate": {"message": "need label {{request.object.metadata.name}}", "pattern": {"metadata": {"labels": {"app": "?*"}}}}}]}}));
    let p = compile(&obj).expect("compiles");
    let cm = |ns: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}});
    assert!(run(&p, &cm("other")).is_empty());
    let r = run(&p, &cm("team"));
    assert_eq!(r[0].status, Status::Fail);
    assert_eq!(
        r[0].message,
        "validation error: need label c. rule r failed at path /metadata/labels/"
    );
    assert!(matches!(admission_decision(&r), Decision::Allow { .. }));
}

// Item 7: malformed JMESPath is refused when the policy loads, with its field path.
#[test]
fn bad_variables_refused() {
    let obj = Object::new(
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "p"}, "spec": {"rules": [{"name": "r",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "{{ request.object.metadata.name[ }}", "foreach": [{"list": "request.object.spec.containers[?",
            "deny": {"conditions": {"any": [{"key": "{{ nosuch_fn(element.name) }}", "operator": "Equals", "value": "x"}]}}}]}}]}}),
    );
    let errs = compile(&obj).expect_err("refused");
    let got: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
    assert!(
        got.contains(&"spec.rules[0].validate.message".to_owned()),
        "{got:?}"
    );
    assert!(
        got.contains(&"spec.rules[0].validate.foreach[0].list".to_owned()),
        "{got:?}"
    );
    assert!(
        got.contains(&"spec.rules[0].validate.foreach[0].deny.conditions.any[0].key".to_owned()),
        "{got:?}"
    );
}

// Fail closed: an internal error under Enforce denies unless failurePolicy is Ignore.
#[test]
fn errors_fail_closed() {
    let mk = |fp: &str| {
        compile(&Object::new(json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p"}, "spec": {"validationFailureAction": "Enforce", "failurePolicy": fp,
            "rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"deny": {"conditions": {"any": [{"key": "{{ request.object.spec.nosuch.x }}", "operator": "Equals", "value": "x"}]}}}}]}})))
        .expect("compiles")
    };
    let obj = pod(json!({"containers": []}));
    let r = run(&mk("Fail"), &obj);
    assert_eq!(r[0].status, Status::Error);
    assert!(matches!(admission_decision(&r), Decision::Deny { .. }));
    let r = run(&mk("Ignore"), &obj);
    assert!(matches!(admission_decision(&r), Decision::Allow { .. }));
}

// preconditions, deny and foreach with element variables.
#[test]
fn preconditions_deny_foreach() {
    let obj = Object::new(
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "p"}, "spec": {"rules": [
        {"name": "no-latest", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "preconditions": {"all": [{"key": "{{ request.operation }}", "operator": "AnyIn", "value": ["CREATE", "UPDATE"]}]},
         "validate": {"message": "image {{ element.image }} uses latest", "foreach": [{"list": "request.object.spec.containers",
            "deny": {"conditions": {"any": [{"key": "{{ ends_with(element.image, ':latest') }}", "operator": "Equals", "value": true}]}}}]}},
        {"name": "only-delete", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "preconditions": {"any": [{"key": "{{ request.operation }}", "operator": "Equals", "value": "DELETE"}]},
         "validate": {"deny": {}}}
        ]}}),
    );
    let p = compile(&obj).expect("compiles");
    let r = run(
        &p,
        &pod(
            json!({"containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "busybox:latest"}]}),
        ),
    );
    assert_eq!(r[0].status, Status::Fail);
    assert_eq!(r[0].message, "image busybox:latest uses latest");
    assert_eq!(r[1].status, Status::Skip);
    let r = run(
        &p,
        &pod(json!({"containers": [{"name": "a", "image": "nginx:1"}]})),
    );
    assert_eq!(r[0].status, Status::Pass);
}

fn compiled(v: Value) -> CompiledPolicy {
    compile(&Object::new(v)).expect("compiles")
}

// kyverno/kyverno pkg/engine/handlers/validation (addElementToContext) and
// test/cli/test/foreach: `elementScope: false` validates the pattern against the whole
// resource; `elementScope: true` on a non-map element is an error.
#[test]
fn foreach_element_scope() {
    let p = compiled(
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "p"}, "spec": {"rules": [{"name": "mounts",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "emptyDir volumes must be mounted under /tmp", "foreach": [{
            "list": "request.object.spec.volumes[?contains(keys(@), 'emptyDir')]",
            "elementScope": false,
            "pattern": {"spec": {"containers": [{"name": "*", "volumeMounts": [
                {"(name)": "{{element.name}}", "mountPath": "/tmp/*"}]}]}}}]}}]}}),
    );
    let spec = |path: &str| {
        json!({"containers": [{"name": "a", "image": "x", "volumeMounts":
            [{"name": "cache", "mountPath": path}]}], "volumes": [{"name": "cache", "emptyDir": {}}]})
    };
    assert_eq!(run(&p, &pod(spec("/tmp/cache")))[0].status, Status::Pass);
    assert_eq!(run(&p, &pod(spec("/data")))[0].status, Status::Fail);
    let p = compiled(
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "p"}, "spec": {"rules": [{"name": "images",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "m", "foreach": [{"list": "request.object.spec.containers[].image",
            "elementScope": true, "deny": {"conditions": {"all": [
                {"key": "{{ element }}", "operator": "NotEquals", "value": "ghcr.io"}]}}}]}}]}}),
    );
    let r = run(
        &p,
        &pod(json!({"containers": [{"name": "a", "image": "ghcr.io/x"}]})),
    );
    assert_eq!(r[0].status, Status::Error);
    assert!(
        r[0].message.contains("elementScope=true"),
        "{}",
        r[0].message
    );
}

// authenticationv1.UserInfo marshals `username` and `groups` with omitempty: an anonymous
// request has an empty `request.userInfo`.
#[test]
fn user_info_omits_empty_fields() {
    let obj = pod(json!({}));
    let anon = UserInfo::default();
    let root = engine::request_context(&AdmissionRequest::create(&obj, &anon));
    assert_eq!(root.pointer("/request/userInfo"), Some(&json!({})));
    let alice = UserInfo {
        username: "alice".into(),
        groups: vec!["team1".into()],
        ..UserInfo::default()
    };
    let root = engine::request_context(&AdmissionRequest::create(&obj, &alice));
    assert_eq!(
        root.pointer("/request/userInfo"),
        Some(&json!({"username": "alice", "groups": ["team1"]}))
    );
}
