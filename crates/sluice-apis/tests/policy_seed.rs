//! The seed's policies, kustomization and base resources (shared/seed/manifests): defects 5
//! and 6 of shared/seed/README.md are reported exactly, and nothing else.

use serde_json::Value;
use sluice_apis::{Context, ObjectSet};
use sluice_core::{
    FieldErrors, Limits, Object, Severity, object::load_objects, yaml::load_documents,
};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seed/manifests"
);

fn read(rel: &str) -> Option<String> {
    std::fs::read_to_string(format!("{SEED}/{rel}")).ok()
}

fn validate_all(objs: &[Object]) -> Vec<(String, FieldErrors)> {
    let set = ObjectSet::new(objs.iter());
    let ctx = Context::new(&set);
    objs.iter()
        .map(|o| (o.display_name(), sluice_apis::validate_one(o, &ctx)))
        .collect()
}

fn load(rel: &str) -> Option<Vec<Object>> {
    let text = read(rel)?;
    let f = load_objects(rel, &text, &Limits::default()).expect("loads");
    assert!(f.problems.is_empty(), "{rel}: {:?}", f.problems);
    Some(f.objects.into_iter().map(|o| o.object).collect())
}

// Defect 5: restrict-image-registries names `initContainers` without `=()`.
#[test]
fn policies_give_exactly_defect_5() {
    let mut objs = Vec::new();
    for f in [
        "policies/require-security-context.yaml",
        "policies/restrict-image-registries.yaml",
    ] {
        match load(f) {
            Some(o) => objs.extend(o),
            None => return eprintln!("skipping: seed not present"),
        }
    }
    let found: Vec<(String, String, String, Severity)> = validate_all(&objs)
        .into_iter()
        .flat_map(|(name, errs)| {
            errs.into_iter()
                .map(move |e| (name.clone(), e.path.to_string(), e.message, e.severity))
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let (name, path, message, severity) = &found[0];
    assert_eq!(name, "ClusterPolicy/restrict-image-registries");
    assert_eq!(path, "spec.rules[0].validate.pattern.spec.initContainers");
    assert_eq!(*severity, Severity::Warning);
    assert_eq!(
        message,
        "Pods without initContainers fail this rule: Kyverno requires every field a pattern names; write =(initContainers) to check them only when present"
    );
}

// Defect 6: the base uses the deprecated `commonLabels`.
#[test]
fn base_kustomization_gives_exactly_defect_6() {
    let Some(text) = read("gitops-manifests/apps/order-service/base/kustomization.yaml") else {
        return eprintln!("skipping: seed not present");
    };
    let doc = load_documents(&text, &Limits::default())
        .expect("loads")
        .into_iter()
        .next()
        .expect("one document");
    let mut v = doc.value;
    if let Value::Object(m) = &mut v {
        m.entry("apiVersion")
            .or_insert_with(|| "kustomize.config.k8s.io/v1beta1".into());
        m.entry("kind").or_insert_with(|| "Kustomization".into());
    }
    let found = validate_all(&[Object::new(v)]);
    let errs: Vec<_> = found[0].1.iter().collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path.to_string(), "commonLabels");
    assert_eq!(errs[0].severity, Severity::Warning);
    assert_eq!(
        errs[0].message,
        "'commonLabels' is deprecated. Please use 'labels' instead. Run 'kustomize edit fix' to update your Kustomization automatically."
    );
}

#[test]
fn seed_resources_have_no_findings() {
    let mut objs = Vec::new();
    for f in [
        "gitops-manifests/apps/order-service/base/deployment.yaml",
        "gitops-manifests/apps/order-service/base/service.yaml",
        "gitops-manifests/apps/order-service/base/configmap.yaml",
        "gitops-manifests/apps/order-service/base/serviceaccount.yaml",
        "tekton/serviceaccount.yaml",
        "tekton/maven-cache.yaml",
        "tekton/config.yaml",
        "monitoring/cicd-alerts.yaml",
    ] {
        match load(f) {
            Some(o) => objs.extend(o),
            None => return eprintln!("skipping: seed not present"),
        }
    }
    assert!(objs.len() >= 11);
    let found: Vec<String> = validate_all(&objs)
        .into_iter()
        .flat_map(|(name, errs)| errs.into_iter().map(move |e| format!("{name}: {e}")))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}
