//! End-to-end tests of `sluice policy apply|test`: a seed-shaped platform's policies (the
//! repository's fixture in `./scripts/test`, the seed's in `./scripts/conformance`, suite
//! `seed`), and the Kyverno conformance corpus (conformance/kyverno of the corpora, suites
//! `kyverno-test-classic` and `kyverno-test-all`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{Check, platform, report, shared, sluice, stderr, stdout};

fn write(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("sluice-policy-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

/// A platform's two policies: names, and the line:col of the registry policy's lint.
struct Policies<'a> {
    dir: &'a Path,
    non_root: (&'a str, &'a str),
    registry: (&'a str, &'a str, &'a str),
    image: &'a str,
    lint: &'a str,
}

#[test]
fn apply_fixture_policies() {
    apply_policies(&Policies {
        dir: &platform().join("policies"),
        non_root: ("require-non-root", "check-non-root"),
        registry: (
            "allowed-registries",
            "check-registry",
            "Pull images from registry.example.test",
        ),
        image: "registry.example.test/apps/web:1",
        lint: "allowed-registries.yaml:20:11: warning",
    });
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn apply_seed_policies() {
    let _check = Check("seed");
    apply_policies(&Policies {
        dir: &shared().join("seed/manifests/policies"),
        non_root: ("require-security-context", "require-run-as-non-root"),
        registry: (
            "restrict-image-registries",
            "validate-registries",
            "Images must come from approved registries",
        ),
        image: "harbor.internal.company.com/app:1",
        lint: "restrict-image-registries.yaml:22:11: warning",
    });
}

// Seed defect 5: the registry policy rejects a Pod without initContainers (Kyverno: a plain
// pattern key is required); Enforce -> exit 1.
fn apply_policies(p: &Policies) {
    let pod = write(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: prod}}\nspec:\n  securityContext: {{runAsNonRoot: true}}\n  containers:\n  - name: app\n    image: {}\n    securityContext: {{runAsNonRoot: true, allowPrivilegeEscalation: false}}\n",
            p.image
        ),
    );
    let dir = p.dir.to_str().expect("utf8");
    let o = sluice(&["policy", "apply", dir, "-r", &pod], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let (non_root, non_root_rule) = p.non_root;
    assert!(
        out.contains(&format!(
            "pass: policy {non_root} rule {non_root_rule} resource Pod/prod/web"
        )),
        "{out}"
    );
    let (registry, rule, message) = p.registry;
    assert!(out.contains(&format!("fail: policy {registry} rule {rule} resource Pod/prod/web: validation error: {message}. rule {rule} failed at path /spec/initContainers/")), "{out}");
    // the lint of `sluice validate` is shown while loading
    assert!(stderr(&o).contains(p.lint), "{}", stderr(&o));

    let o = sluice(&["policy", "apply", dir, "-r", &pod, "-o", "json"], None);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["summary"]["fail"], 1);
    let failed: Vec<&Value> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["policy"], registry);
    assert_eq!(failed[0]["action"], "Enforce");
}

// Item 7: an invalid policy is refused at file:line:col with its field path.
#[test]
fn apply_refuses_invalid_policy() {
    let bad = write(
        "bad.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: bad}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate:\n      message: \"{{ request.object.metadata.name[ }}\"\n      deny:\n        conditions:\n          any:\n          - {key: a, operator: Equalz, value: b}\n",
    );
    let pod = write(
        "p2.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
    );
    let o = sluice(&["policy", "apply", &bad, "-r", &pod], None);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.yaml:9:7: error: ClusterPolicy/bad: spec.rules[0].validate.message: invalid variable"), "{err}");
    assert!(err.contains("bad.yaml:13:22: error: ClusterPolicy/bad: spec.rules[0].validate.deny.conditions.any[0].operator: entered value of `operator` is invalid"), "{err}");
}

fn category(path: &str, index: &BTreeMap<String, String>) -> String {
    if let Some(rel) = path.split("/cli-tests/test/cli/").nth(1) {
        return format!(
            "cli-tests: {}",
            index
                .get(rel)
                .cloned()
                .unwrap_or_else(|| "unindexed".into())
        );
    }
    let rel = path.split("/policies/").nth(1).unwrap_or(path);
    format!("policies: {}", rel.split('/').next().unwrap_or(""))
}

/// Failing classic-validate suites and why (each one is classified).
const KNOWN_FAILURES: &[(&str, &str)] = &[
    ("test/custom-functions/", "x509_decode is not implemented"),
    (
        "test-fail/invalid-ns",
        "upstream rejects these suites (exit 1); sluice runs them and they pass",
    ),
];

// Item 5: the conformance corpus. Per-category pass counts are printed; the classic-validate
// count must not regress and every failing classic suite must be classified above.
#[test]
#[ignore = "conformance: needs the upstream corpora (./scripts/conformance)"]
fn conformance_kyverno() {
    let root = shared().join("conformance/kyverno");
    let o = sluice(
        &["policy", "test", root.to_str().expect("utf8"), "-o", "json"],
        None,
    );
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json report");
    let index: BTreeMap<String, String> = serde_json::from_str::<Value>(
        &std::fs::read_to_string(root.join("cli-tests/index.json")).expect("index.json"),
    )
    .expect("index")
    .as_array()
    .expect("array")
    .iter()
    .map(|e| {
        (
            e["test"].as_str().unwrap_or("").to_owned(),
            e["category"].as_str().unwrap_or("").to_owned(),
        )
    })
    .collect();
    let mut per_cat: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut classic, mut classic_ok) = (0, 0);
    let mut unclassified = Vec::new();
    for s in v["suites"].as_array().expect("suites") {
        let path = s["path"].as_str().unwrap_or("");
        // `test-fail/` suites are meant to fail.
        let ok = if path.contains("/test-fail/") {
            !s["passed"].as_bool().unwrap_or(false)
        } else {
            s["passed"].as_bool().unwrap_or(false)
        };
        let e = per_cat.entry(category(path, &index)).or_default();
        e.0 += 1;
        if ok {
            e.1 += 1;
        }
        if s["classicValidate"].as_bool() == Some(true) {
            classic += 1;
            if ok {
                classic_ok += 1;
            } else if !KNOWN_FAILURES.iter().any(|(k, _)| path.contains(k)) {
                unclassified.push(path.to_owned());
            }
        }
    }
    for (c, (n, ok)) in &per_cat {
        println!("{ok:>4}/{n:<4} {c}");
    }
    println!("classic validate suites: {classic_ok}/{classic}");
    report("kyverno-test-classic", classic_ok, classic);
    let (all, all_ok) = per_cat
        .values()
        .fold((0, 0), |(n, ok), (cn, cok)| (n + cn, ok + cok));
    report("kyverno-test-all", all_ok, all);
    assert!(
        unclassified.is_empty(),
        "unclassified failing suites: {unclassified:#?}"
    );
    assert!(classic >= 120, "classic suites found: {classic}");
    assert!(
        classic_ok >= 120,
        "classic validate suites passing: {classic_ok}/{classic}"
    );
}

fn deny_policy(name: &str, key: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [ConfigMap]\n    validate:\n      message: denied\n      deny:\n        conditions:\n          all:\n          - key: '{key}'\n            operator: Equals\n            value: x\n"
    )
}

// Issue 18: `sluice validate` accepted a deny key nesting JMESPath 5,000 deep and `sluice
// policy apply` overflowed its stack on it (rc 134). Both now report it at file:line:col
// with the field path; `policy apply` of a policy that multiplies its input stops at the
// budget and prints a rule error (16.6 s and 4.8 GB at 20 stages before).
#[test]
fn deep_and_exploding_expressions_are_errors() {
    let mut deep = "request.object.metadata.name".to_owned();
    for _ in 0..5000 {
        deep = format!("to_string({deep})");
    }
    let policy = write(
        "deep-policy.yaml",
        &deny_policy("deep", &format!("{{{{ {deep} }}}}")),
    );
    let cm = write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {a: b}\n",
    );
    let o = sluice(&["validate", &policy], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let want = "deep-policy.yaml:18:13: error: ClusterPolicy/deep: spec.rules[0].validate.deny.conditions.all[0].key: invalid variable {{to_string(";
    assert!(
        stdout(&o).contains(want) || stderr(&o).contains(want),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        format!("{}{}", stdout(&o), stderr(&o)).contains("nests deeper than 100 levels"),
        "{}",
        stderr(&o)
    );
    let o = sluice(&["policy", "apply", &policy, "-r", &cm], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(want), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid policies are not applied"));

    let bomb = write(
        "bomb-policy.yaml",
        &deny_policy(
            "bomb",
            &format!("{{{{ request.object{} }}}}", " | [@, @]".repeat(20)),
        ),
    );
    let start = std::time::Instant::now();
    let o = sluice(&["policy", "apply", &bomb, "-r", &cm], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("error: policy bomb rule r resource ConfigMap/default/c: rule r was not evaluated to the end: expression evaluation exceeded its budget of 64 MiB of values built"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}
