//! `sluice validate` on the seed system (../shared/seed): the known defects of
//! ../shared/seed/README.md are each reported at their file, line and field path, and a
//! corrected copy validates clean.

use std::path::Path;

use serde_json::Value;

use crate::common::{shared, sluice, stdout};

fn findings(path: &Path) -> (Option<i32>, Vec<Value>) {
    let o = sluice(
        &["validate", "-o", "json", path.to_str().expect("utf-8 path")],
        None,
    );
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    (
        o.status.code(),
        v["findings"].as_array().cloned().unwrap_or_default(),
    )
}

/// (file suffix, line, severity, Kind/name, field path, message fragment)
type Expected = (
    &'static str,
    u64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const EXPECTED: &[Expected] = &[
    // Defect 1. Tekton rejects the Task: tektoncd/pipeline pkg/apis/pipeline/v1/task_validation.go
    // (ValidateParameterVariables -> "non-existent variable in").
    (
        "tekton/tasks/git-clone.yaml",
        44,
        "error",
        "Task/git-clone",
        "spec.steps[0].env[0].value",
        "non-existent variable",
    ),
    // Defect 2. The seed README says v1 requires `$(params.build-args[*])`; upstream's webhook
    // in fact accepts a whole-element `$(params.x)` for an array in args
    // (pkg/substitution/substitution.go ValidateVariableReferenceIsIsolated) and
    // ApplyArrayReplacements expands it whole; upstream's own CI examples
    // (examples/v1/pipelineruns/pipelinerun.yaml) use it. So: a warning naming the documented form.
    (
        "tekton/tasks/kaniko-build.yaml",
        55,
        "warning",
        "Task/kaniko-build",
        "spec.steps[0].args[10]",
        "$(params.build-args[*])",
    ),
    // Defect 3. The volume names a key the basic-auth Secret lacks: the kubelet fails the mount.
    (
        "tekton/tasks/kaniko-build.yaml",
        76,
        "warning",
        "Task/kaniko-build",
        "spec.volumes[0].secret.items[0].key",
        ".dockerconfigjson",
    ),
    (
        "tekton/tasks/trivy-scan.yaml",
        70,
        "warning",
        "Task/trivy-scan",
        "spec.volumes[0].secret.items[0].key",
        ".dockerconfigjson",
    ),
    // Defect 5. Kyverno requires every field a pattern names (docs: validate.md, anchors).
    (
        "policies/restrict-image-registries.yaml",
        22,
        "warning",
        "ClusterPolicy/restrict-image-registries",
        "spec.rules[0].validate.pattern.spec.initContainers",
        "initContainers",
    ),
    // Not in the seed README's list, but upstream's: the Argo Rollouts controller marks a
    // canary with trafficRouting and no stable/canary Service invalid
    // (argo-rollouts pkg/apis/rollouts/validation/validation.go, InvalidTrafficRoutingMessage).
    (
        "order-service/base/rollout.yaml",
        42,
        "error",
        "Rollout/order-service",
        "spec.strategy.canary.stableService",
        "Canary service and Stable service must to be set to use Traffic Routing",
    ),
    (
        "order-service/base/rollout.yaml",
        42,
        "error",
        "Rollout/order-service",
        "spec.strategy.canary.canaryService",
        "Canary service and Stable service must to be set to use Traffic Routing",
    ),
    // Defect 6. kustomize: api/types/kustomization.go deprecation warning for commonLabels.
    (
        "order-service/base/kustomization.yaml",
        9,
        "warning",
        "Kustomization",
        "commonLabels",
        "'commonLabels' is deprecated. Please use 'labels' instead.",
    ),
];

#[test]
fn seed_defects_are_reported_at_their_lines() {
    let (code, found) = findings(&shared().join("seed/manifests"));
    assert_eq!(code, Some(1), "errors found means exit 1");
    let rendered: Vec<String> = found.iter().map(|f| f.to_string()).collect();
    for (file, line, severity, obj, path, msg) in EXPECTED {
        let hit = found.iter().any(|f| {
            let (kind, name) = (
                f["object"]["kind"].as_str().unwrap_or_default(),
                f["object"]["name"].as_str().unwrap_or_default(),
            );
            let kind_name = if name.is_empty() {
                kind.to_owned()
            } else {
                format!("{kind}/{name}")
            };
            f["file"].as_str().is_some_and(|p| p.ends_with(file))
                && f["line"] == *line
                && f["severity"] == *severity
                && kind_name == *obj
                && f["path"] == *path
                && f["message"].as_str().is_some_and(|m| m.contains(msg))
        });
        assert!(
            hit,
            "missing {file}:{line} {severity} {obj} {path} ~{msg:?} in\n{}",
            rendered.join("\n")
        );
    }
    assert_eq!(
        found.len(),
        EXPECTED.len(),
        "no other findings:\n{}",
        rendered.join("\n")
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).expect("write");
}

#[test]
fn corrected_seed_validates_clean() {
    let dir = std::env::temp_dir().join(format!("sluice-seed-fixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&shared().join("seed/manifests"), &dir);
    edit(
        &dir.join("tekton/tasks/git-clone.yaml"),
        "$(params.userHome)",
        "/tekton/home",
    );
    edit(
        &dir.join("tekton/tasks/kaniko-build.yaml"),
        "- $(params.build-args)\n",
        "- $(params.build-args[*])\n",
    );
    edit(
        &dir.join("tekton/serviceaccount.yaml"),
        "type: kubernetes.io/basic-auth\nstringData:\n  username: robot$tekton-builder\n  password: \"${HARBOR_ROBOT_PASSWORD}\"",
        "type: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\": {}}'",
    );
    edit(
        &dir.join("policies/restrict-image-registries.yaml"),
        "          initContainers:",
        "          =(initContainers):",
    );
    edit(
        &dir.join("gitops-manifests/apps/order-service/base/kustomization.yaml"),
        "commonLabels:\n  app.kubernetes.io/name: order-service\n  app.kubernetes.io/component: backend\n",
        "labels:\n- includeSelectors: true\n  pairs:\n    app.kubernetes.io/name: order-service\n    app.kubernetes.io/component: backend\n",
    );
    edit(
        &dir.join("gitops-manifests/apps/order-service/base/rollout.yaml"),
        "    canary:\n",
        "    canary:\n      stableService: order-service\n      canaryService: order-service-canary\n",
    );
    let (code, found) = findings(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found, Vec::<Value>::new());
    assert_eq!(code, Some(0));
}
