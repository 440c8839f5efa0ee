//! The Tekton manifests of a seed-shaped platform produce exactly the known findings of
//! defects 1-3, and a corrected copy produces none: the repository's fixture
//! (tests/fixtures/platform/tekton, its README's defects) in `./scripts/test`, the seed's
//! (`SLUICE_SHARED`/seed/manifests/tekton, the seed README's defects) in
//! `./scripts/conformance` (suite `seed`).
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

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_apis::{ObjectSet, validate};
use sluice_core::{Limits, Object, Severity, object::load_objects};

/// (Kind/name, field path, severity, message fragment), sorted.
type Finding = (&'static str, &'static str, Severity, &'static str);

/// (kind, name, edit): an edit of the loaded object of that kind and name.
type Fix = (&'static str, &'static str, fn(&mut Value));

/// A platform's Tekton directory, its expected findings, and the edits that fix them.
struct Case {
    dir: PathBuf,
    want: Vec<Finding>,
    /// The index in `want` of a missing-key finding (it names the Secret's type).
    basic_auth: usize,
    /// (kind, name, edit) applied to the loaded objects to fix every defect.
    fixes: Vec<Fix>,
}

fn fixture() -> Case {
    Case {
        dir: common::platform().join("tekton"),
        want: vec![
            (
                "Task/build-image",
                "spec.steps[0].args[3]",
                Severity::Warning,
                "array param \"extra-args\" used as \"$(params.extra-args)\" instead of \"$(params.extra-args[*])\"",
            ),
            (
                "Task/build-image",
                "spec.volumes[0].secret.items[0].key",
                Severity::Warning,
                "key \".dockerconfigjson\" not found in Secret \"registry-credentials\"",
            ),
            (
                "Task/fetch-source",
                "spec.steps[0].env[1].value",
                Severity::Error,
                "non-existent variable in \"$(params.homeDir)\"",
            ),
            (
                "Task/scan-image",
                "spec.volumes[1].secret.items[0].key",
                Severity::Warning,
                "key \".dockerconfigjson\" not found in Secret \"registry-credentials\"",
            ),
        ],
        basic_auth: 1,
        fixes: vec![
            ("Task", "fetch-source", |v| {
                v["spec"]["steps"][0]["env"][1]["value"] = Value::from("/tekton/home");
            }),
            ("Task", "build-image", |v| {
                v["spec"]["steps"][0]["args"][3] = Value::from("$(params.extra-args[*])");
            }),
            ("Secret", "registry-credentials", docker_config_secret),
        ],
    }
}

fn seed() -> Case {
    Case {
        dir: common::shared().join("seed/manifests/tekton"),
        want: vec![
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
        ],
        basic_auth: 2,
        fixes: vec![
            ("Task", "git-clone", |v| {
                v["spec"]["steps"][0]["env"][0]["value"] = Value::from("/tekton/home");
            }),
            ("Task", "kaniko-build", |v| {
                v["spec"]["steps"][0]["args"][10] = Value::from("$(params.build-args[*])");
            }),
            ("Secret", "docker-credentials", docker_config_secret),
        ],
    }
}

fn docker_config_secret(v: &mut Value) {
    v["type"] = Value::from("kubernetes.io/dockerconfigjson");
    v["stringData"] = serde_json::json!({".dockerconfigjson": "{\"auths\":{}}"});
}

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

fn load(dir: &Path) -> Vec<Object> {
    let mut files = Vec::new();
    yaml_files(dir, &mut files);
    assert!(!files.is_empty(), "no YAML under {}", dir.display());
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

fn has_exactly_the_known_defects(case: &Case) {
    let mut got = tekton_findings(&load(&case.dir));
    got.sort();
    for g in &got {
        eprintln!("{g:?}");
    }
    assert_eq!(got.len(), case.want.len(), "{got:#?}");
    for ((obj, path, sev, msg), (wobj, wpath, wsev, wmsg)) in got.iter().zip(&case.want) {
        assert_eq!(obj, wobj);
        assert_eq!(path, wpath);
        assert_eq!(sev, wsev);
        assert!(msg.contains(wmsg), "{msg:?} should contain {wmsg:?}");
    }
    let missing_key = &got[case.basic_auth].3;
    assert!(
        missing_key.contains("kubernetes.io/basic-auth"),
        "{missing_key}"
    );
    assert!(
        missing_key.contains("the Pod would fail to start"),
        "{missing_key}"
    );
}

fn corrected_is_clean(case: &Case) {
    let mut objs = load(&case.dir);
    let mut fixed = 0;
    for o in &mut objs {
        let v = &mut o.0;
        for (kind, name, fix) in &case.fixes {
            if v["kind"] == *kind && v["metadata"]["name"] == *name {
                fix(v);
                fixed += 1;
            }
        }
    }
    assert_eq!(fixed, case.fixes.len());
    let got = tekton_findings(&objs);
    assert!(got.is_empty(), "{got:#?}");
}

#[test]
fn fixture_has_exactly_the_planted_defects() {
    has_exactly_the_known_defects(&fixture());
}

#[test]
fn corrected_fixture_is_clean() {
    corrected_is_clean(&fixture());
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn seed_has_exactly_the_known_defects() {
    let _check = common::Check("seed");
    has_exactly_the_known_defects(&seed());
}

#[test]
#[ignore = "conformance: needs the seed (./scripts/conformance)"]
fn corrected_seed_is_clean() {
    let _check = common::Check("seed");
    corrected_is_clean(&seed());
}
