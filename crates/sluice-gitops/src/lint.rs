//! GitOps lints `sluice validate` adds to upstream's findings: what Argo CD accepts
//! silently but is almost certainly a mistake or a risk.
//!
//! - An ApplicationSet generator parameter that no template reads (seed defect 7): the
//!   author meant something by it (`syncPolicy: manual`), Argo CD ignores it.
//! - `kustomize.buildOptions` in `argocd-cm` turning kustomize's load restrictor off
//!   (seed defect 9): every Application may then read files outside its own path.

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object, PathSeg};

/// Every lint of this module on one object (the shape of
/// `sluice_apis::manifests::Options::extra_checks`).
pub fn check(obj: &Object) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if obj.gvk().group == "argoproj.io" && obj.kind() == "ApplicationSet" {
        for e in sluice_apis::argocd::unused_generator_params(obj) {
            errs.push(e);
        }
    }
    errs.also(argocd_cm(obj));
    errs
}

/// The `argocd-cm` keys holding kustomize build options: `kustomize.buildOptions` and the
/// per-version `kustomize.buildOptions.<version>` (argo-cd `util/settings`).
fn is_build_options_key(k: &str) -> bool {
    k == "kustomize.buildOptions" || k.starts_with("kustomize.buildOptions.")
}

/// Warns when `argocd-cm` passes `--load-restrictor LoadRestrictionsNone` (or `=`) to
/// kustomize.
pub fn argocd_cm(obj: &Object) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if obj.api_version() != "v1" || obj.kind() != "ConfigMap" || obj.name() != "argocd-cm" {
        return errs;
    }
    let Some(data) = obj.value().get("data").and_then(Value::as_object) else {
        return errs;
    };
    for (k, v) in data {
        let Some(opts) = v.as_str() else {
            continue;
        };
        if !is_build_options_key(k) {
            continue;
        }
        let words: Vec<&str> = opts.split_whitespace().collect();
        let off = words.iter().enumerate().any(|(i, w)| {
            *w == "--load-restrictor=LoadRestrictionsNone"
                || (*w == "--load-restrictor" && words.get(i + 1) == Some(&"LoadRestrictionsNone"))
        });
        if off {
            let mut path = sluice_core::FieldPath::default();
            path.0.push(PathSeg::Field("data".to_owned()));
            path.0.push(PathSeg::Key(k.clone()));
            errs.push(FieldError::warning(
                path,
                "kustomize's load restrictor is off (--load-restrictor LoadRestrictionsNone): every Application's kustomization may read files outside its own path, anywhere in its repository",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(opts: &str) -> Object {
        Object::new(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm", "namespace": "argocd"},
            "data": {"kustomize.buildOptions": opts}}))
    }

    #[test]
    fn load_restrictor_off_is_a_warning() {
        for opts in [
            "--enable-helm --load-restrictor LoadRestrictionsNone",
            "--load-restrictor=LoadRestrictionsNone",
        ] {
            let e = argocd_cm(&cm(opts));
            assert_eq!(e.len(), 1, "{opts}");
            let f = e.iter().next().unwrap();
            assert_eq!(f.path.to_string(), "data[kustomize.buildOptions]");
            assert_eq!(f.severity, sluice_core::Severity::Warning);
        }
        assert!(argocd_cm(&cm("--enable-helm")).is_empty());
        assert!(argocd_cm(&cm("--load-restrictor LoadRestrictionsRootOnly")).is_empty());
    }
}
