//! The seed's Tekton manifests (/work/shared/seed/manifests/tekton, README defects 1-3)
//! produce exactly the three known findings, and a corrected copy produces none.
//!
//! Upstream rules pinned here:
//! - defect 1: tektoncd/pipeline `pkg/apis/pipeline/v1/task_validation.go`
//!   `ValidateUsageOfDeclaredParameters` -> `substitution.ValidateNoReferencesToUnknownVariables`
//!   ("non-existent variable in %q").
//! - defect 2: `validateStepArrayUsage` -> `substitution.ValidateVariableReferenceIsIsolated`
//!   accepts an isolated `$(params.x)` for an array param in `args` and
//!   `ApplyArrayReplacements` expands it as `[*]` would (upstream's own CI examples
//!   `pipelineruns/pipelinerun.yaml` and `taskruns/5080-entrypoint-init-regression.yaml` use
//!   it), so this is a warning pointing at the documented `$(params.x[*])` form, not an error.
//! - defect 3: Kubernetes fails a secret volume mount whose `items[].key` is absent from
//!   the Secret (kubelet `secret.go`: "references non-existent secret key"), so the Pod never
//!   starts: a warning.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_apis::{ObjectSet, validate};
use sluice_core::{Limits, Object, Severity, object::load_objects};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seed/manifests/tekton"
);

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

fn load_seed() -> Vec<Object> {
    let mut files = Vec::new();
    yaml_files(Path::new(SEED), &mut files);
    let mut objs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let loaded =
            load_objects(&f.display().to_string(), &text, &Limits::default()).expect("loads");
        assert!(loaded.problems.is_empty(), "{f:?}: {:?}", loaded.problems);
        objs.extend(loaded.objects.into_iter().map(|o| o.object));
    }
    objs
}

fn tekton_findings(objs: &[Object]) -> Vec<(String, String, Severity, String)> {
    let set = ObjectSet::new(objs.iter());
    validate(&set)
        .into_iter()
        .filter(|f| {
            let o = set.objects()[f.object];
            o.gvk().group == "tekton.dev"
        })
        .map(|f| {
            let o = set.objects()[f.object];
            (
                format!("{}/{}", o.kind(), o.name()),
                f.error.path.to_string(),
                f.error.severity,
                f.error.message,
            )
        })
        .collect()
}

#[test]
fn seed_has_exactly_the_known_defects() {
    let objs = load_seed();
    let mut got = tekton_findings(&objs);
    got.sort();
    for g in &got {
        eprintln!("{g:?}");
    }
    let want: &[(&str, &str, Severity, &str)] = &[
        (
            "Task/git-clone",
            "spec.steps[0].env[0].value",
            Severity::Error,
            "non-existent variable in \"$(params.userHome)\"",
        ),
        (
            "Task/kaniko-build",
            "spec.steps[0].args[10]",
            Severity::Warning,
            "array param \"build-args\" used as \"$(params.build-args)\" instead of \"$(params.build-args[*])\"",
        ),
        (
            "Task/kaniko-build",
            "spec.volumes[0].secret.items[0].key",
            Severity::Warning,
            "key \".dockerconfigjson\" not found in Secret \"docker-credentials\"",
        ),
        (
            "Task/trivy-scan",
            "spec.volumes[0].secret.items[0].key",
            Severity::Warning,
            "key \".dockerconfigjson\" not found in Secret \"docker-credentials\"",
        ),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((obj, path, sev, msg), (wobj, wpath, wsev, wmsg)) in got.iter().zip(want) {
        assert_eq!(obj, wobj);
        assert_eq!(path, wpath);
        assert_eq!(sev, wsev);
        assert!(msg.contains(wmsg), "{msg:?} should contain {wmsg:?}");
    }
    assert!(got[2].3.contains("kubernetes.io/basic-auth"));
    assert!(got[2].3.contains("the Pod would fail to start"));
}

#[test]
fn corrected_seed_is_clean() {
    let mut objs = load_seed();
    for o in &mut objs {
        let v = &mut o.0;
        match (v["kind"].as_str(), v["metadata"]["name"].as_str()) {
            (Some("Task"), Some("git-clone")) => {
                v["spec"]["steps"][0]["env"][0]["value"] = Value::from("/tekton/home");
            }
            (Some("Task"), Some("kaniko-build")) => {
                v["spec"]["steps"][0]["args"][10] = Value::from("$(params.build-args[*])");
            }
            (Some("Secret"), Some("docker-credentials")) => {
                v["type"] = Value::from("kubernetes.io/dockerconfigjson");
                v["stringData"] = serde_json::json!({".dockerconfigjson": "{\"auths\":{}}"});
            }
            _ => {}
        }
    }
    let got = tekton_findings(&objs);
    assert!(got.is_empty(), "{got:#?}");
}
