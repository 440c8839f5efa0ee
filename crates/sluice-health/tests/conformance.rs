//! Conformance: gitops-engine's built-in health checks against the cases of its
//! `pkg/health/health_test.go` (../shared/conformance/argocd/health-builtin/expected.json:
//! input file, expected status, message where the test pins one; `status: null` where the
//! test expects no built-in check). Suite `argocd-health-builtin` of `./scripts/conformance`
//! (`#[ignore]`d in `./scripts/test`; reads `SLUICE_SHARED`).

use std::path::PathBuf;

use serde_json::Value;

fn root() -> PathBuf {
    let Some(dir) = std::env::var_os("SLUICE_SHARED") else {
        panic!(
            "SLUICE_SHARED is not set: the conformance suites run with ./scripts/conformance [PATH]"
        )
    };
    PathBuf::from(dir).join("conformance/argocd/health-builtin")
}

fn load(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).expect("read the case's input");
    // sigs.k8s.io/yaml, as the upstream test reads it: statefulset.yaml repeats a key
    sluice_health::load_object(&text)
        .expect("load the case's input")
        .0
        .expect("one object")
}

#[test]
#[ignore = "conformance: needs SLUICE_SHARED (./scripts/conformance)"]
fn builtin_health_matches_gitops_engine() {
    let root = root();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let cases = expected["cases"].as_array().expect("cases");
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in cases {
        let file = case["file"].as_str().expect("file");
        let obj = load(&root.join(file));
        // gitops-engine's GetResourceHealth(obj, nil): the deletion check, then the built-in
        let got = sluice_health::resource_health_builtin(&obj);
        let want_status = case["status"].as_str();
        let want_message = case.get("message").and_then(Value::as_str);
        let ok = match (&got, want_status) {
            (None, None) => true,
            (Some(h), Some(s)) => {
                h.status.as_str() == s && want_message.is_none_or(|m| h.message == m)
            }
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "{file}: want {want_status:?} {want_message:?}, got {got:?}"
            ));
        }
    }
    println!("CONFORMANCE argocd-health-builtin {passed} {}", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
