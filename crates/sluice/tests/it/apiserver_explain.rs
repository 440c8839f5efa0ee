//! Issue 17 item 4: `kubectl explain` at any depth, for the built-in kinds (upstream's
//! schemas: descriptions, types, required fields, as kube-apiserver 1.32 serves them in
//! /openapi/v3/{api/v1, apis/G/V}) and for CRDs (their own openAPIV3Schema, metadata linked
//! to ObjectMeta as apiextensions-apiserver does). Real kubectl (v1.32), which reads the
//! group-version documents listed by /openapi/v3 and resolves `$ref`s within them
//! (kubectl/pkg/explain/v2: `kubectl explain` uses OpenAPI v3 since 1.27).
//!
//! The descriptions checked are upstream's, as k8s-openapi 0.25 (v1_32) carries them from
//! kube-apiserver's OpenAPI spec (kubernetes.io/docs/reference/kubernetes-api/).

use serde_json::Value;

use crate::apiserver_kubectl::{Server, err, kubectl_available};

macro_rules! need_kubectl {
    () => {
        if !kubectl_available() {
            eprintln!("kubectl is not installed (scripts/test installs it): skipped");
            return;
        }
    };
}

const GADGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          metadata: {type: object}
          spec:
            type: object
            properties:
              wheels:
                type: array
                description: The gadget's wheels.
                items:
                  type: object
                  required: [size]
                  properties:
                    size: {type: integer, description: Diameter of the wheel in inches.}
"#;

/// (explain arguments, texts its output must contain)
const PATHS: &[(&[&str], &[&str])] = &[
    (
        &["deploy.spec.template.spec.containers.resources"],
        &[
            "GROUP:      apps",
            "KIND:       Deployment",
            "FIELD: resources <ResourceRequirements>",
            "Compute Resources required by this container.",
            "limits\t<map[string]Quantity>",
            "requests\t<map[string]Quantity>",
        ],
    ),
    (
        &["pod.spec.securityContext.seLinuxOptions"],
        &[
            "KIND:       Pod",
            "FIELD: seLinuxOptions <SELinuxOptions>",
            "level\t<string>",
            "Level is SELinux level label that applies to the container.",
        ],
    ),
    (
        &["svc.spec.ports", "--recursive"],
        &[
            "FIELD: ports <[]ServicePort>",
            "port\t<integer> -required-",
            "targetPort\t<IntOrString>",
        ],
    ),
    (
        &["cronjob.spec.jobTemplate.spec.backoffLimit"],
        &[
            "GROUP:      batch",
            "FIELD: backoffLimit <integer>",
            "Specifies the number of retries before marking this job failed.",
        ],
    ),
    (
        &["ingress.spec.rules.http.paths.backend.service.port"],
        &[
            "GROUP:      networking.k8s.io",
            "FIELD: port <ServiceBackendPort>",
            "number\t<integer>",
        ],
    ),
    (
        &["pdb.spec.maxUnavailable"],
        &[
            "GROUP:      policy",
            "FIELD: maxUnavailable <IntOrString>",
            "An eviction is allowed if at most \"maxUnavailable\" pods",
        ],
    ),
    (
        &["clusterrole.rules.verbs"],
        &[
            "GROUP:      rbac.authorization.k8s.io",
            "FIELD: verbs <[]string>",
            "Verbs is a list of Verbs that apply to ALL the ResourceKinds",
        ],
    ),
    (
        &[
            "hpa.spec.metrics.resource.target",
            "--api-version=autoscaling/v2",
        ],
        &[
            "GROUP:      autoscaling",
            "VERSION:    v2",
            "FIELD: target <MetricTarget>",
            "averageUtilization\t<integer>",
        ],
    ),
    (
        &["statefulset.spec.volumeClaimTemplates.spec.accessModes"],
        &[
            "FIELD: accessModes <[]string>",
            "accessModes contains the desired access modes",
        ],
    ),
    (
        &["gadget.spec.wheels"],
        &[
            "GROUP:      example.com",
            "FIELD: wheels <[]Object>",
            "The gadget's wheels.",
            "size\t<integer> -required-",
            "Diameter of the wheel in inches.",
        ],
    ),
    (
        &["gadget.metadata.labels"],
        &[
            "FIELD: labels <map[string]string>",
            "Map of string keys and values",
        ],
    ),
];

#[test]
fn kubectl_explain_reads_upstream_schemas_at_any_depth() {
    need_kubectl!();
    let s = Server::start("explain");
    s.ok(&["apply", "-f", "-"], Some(GADGET_CRD));
    s.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/gadgets.example.com",
            "--timeout=10s",
        ],
        None,
    );
    for (args, wants) in PATHS {
        let mut a = vec!["explain"];
        a.extend_from_slice(args);
        let text = s.ok(&a, None);
        for w in *wants {
            assert!(text.contains(w), "kubectl {a:?}: no {w:?} in\n{text}");
        }
    }
    // an unknown field is kubectl's own error
    let o = s.kubectl(&["explain", "deploy.spec.nope"], None);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("field \"nope\" does not exist"),
        "{}",
        err(&o)
    );
}

#[test]
fn openapi_v3_documents_are_addressed_by_their_hash() {
    need_kubectl!();
    let s = Server::start("openapi-hash");
    let root: Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/openapi/v3"], None)).expect("json");
    let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("apps/v1 listed")
        .to_owned();
    let hash = url.split("?hash=").nth(1).expect("a hash").to_owned();
    assert_eq!(hash.len(), 128, "SHA-512 in hex: {url}");
    let doc: Value = serde_json::from_str(&s.ok(&["get", "--raw", &url], None)).expect("json");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    // the kinds of the group-version and what they reference, core's included
    for name in [
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.api.core.v1.PodSpec",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert!(!schemas.contains_key("io.k8s.api.batch.v1.JobSpec"));
    // a CRD changes its own group-version's hash only
    let before = root["paths"]["api/v1"].clone();
    s.ok(&["apply", "-f", "-"], Some(GADGET_CRD));
    let after: Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/openapi/v3"], None)).expect("json");
    assert_eq!(after["paths"]["api/v1"], before);
    assert_eq!(after["paths"]["apis/apps/v1"]["serverRelativeURL"], url);
    assert!(after["paths"]["apis/example.com/v1"]["serverRelativeURL"].is_string());
}

/// `kubectl apply` (default `--validate=strict`) sends `fieldValidation=Strict`, and the
/// server rejects the fields upstream's schema of a built-in kind does not declare, as
/// kube-apiserver's strict decoding words it (apimachinery `UnknownFieldPathError`;
/// kubernetes.io/docs/reference/using-api/api-concepts/#field-validation); `--validate=warn`
/// makes it a warning.
#[test]
fn strict_field_validation_rejects_unknown_fields_of_built_in_kinds() {
    need_kubectl!();
    let s = Server::start("strict");
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n        bogus: 1\n";
    let o = s.kubectl(&["apply", "-f", "-"], Some(deploy));
    assert!(!o.status.success());
    assert!(
        err(&o).contains(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].bogus\""
        ),
        "{}",
        err(&o)
    );
    let o = s.kubectl(&["apply", "--validate=warn", "-f", "-"], Some(deploy));
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("Warning: unknown field \"spec.template.spec.containers[0].bogus\""),
        "{}",
        err(&o)
    );
}

/// Sluice's own CRDs (installed at startup) carry the fields of the sluice-apis types
/// (crates/sluice-apiserver/tests/crd_schemas.rs), so `kubectl explain` reaches deep into
/// them: tekton PipelineRunSpec.pipelineRef.params (tektoncd/pipeline pkg/apis/pipeline/v1
/// pipelinerun_types.go), Argo Rollouts CanaryStrategy.steps[].setWeight
/// (argo-rollouts pkg/apis/rollouts/v1alpha1/types.go) and Argo CD's
/// ApplicationSource.helm.valueFiles (argo-cd pkg/apis/application/v1alpha1/types.go).
#[test]
fn kubectl_explain_reaches_deep_into_sluices_own_crds() {
    need_kubectl!();
    let s = Server::start("explain-crds");
    let cases: &[(&str, &[&str])] = &[
        (
            "pipelinerun.spec.pipelineRef.params",
            &[
                "GROUP:      tekton.dev",
                "VERSION:    v1",
                "FIELD: params <[]Object>",
                "name\t<string>",
            ],
        ),
        (
            "rollout.spec.strategy.canary.steps",
            &[
                "GROUP:      argoproj.io",
                "KIND:       Rollout",
                "FIELD: steps <[]Object>",
                "setWeight\t<integer>",
            ],
        ),
        (
            "application.spec.source.helm.valueFiles",
            &["KIND:       Application", "FIELD: valueFiles <[]string>"],
        ),
    ];
    for (path, wants) in cases {
        let text = s.ok(&["explain", path], None);
        for w in *wants {
            assert!(
                text.contains(w),
                "kubectl explain {path}: no {w:?} in\n{text}"
            );
        }
    }
    // the v2 document has them too (kubectl's v2 client reads its compiled-in types)
    let v2: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/openapi/v2"], None)).expect("json");
    assert!(
        v2["definitions"]["dev.tekton.v1.PipelineRun"]["properties"]["spec"]["properties"]["pipelineRef"]
            ["properties"]["name"]["type"]
            == "string"
    );
}
