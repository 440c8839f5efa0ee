//! Issue 17 item 3: kube-apiserver's per-kind validation of built-in kinds, as real kubectl
//! prints it. Messages and field paths are upstream's (kubernetes/kubernetes
//! pkg/apis/apps/validation/validation.go: ValidatePodTemplateSpecForReplicaSet's
//! "`selector` does not match template `labels`", and the apps/v1 update strategy's
//! ValidateImmutableField(spec.selector) "field is immutable"), rendered by
//! k8s.io/apimachinery field.Error.ErrorBody (`%#v` of the bad value, as kube-apiserver 1.32
//! prints it).

use crate::apiserver_kubectl::{Server, err, kubectl_available};

fn deployment(selector: &str, labels: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  selector: {{matchLabels: {{app: {selector}}}}}\n  template:\n    metadata: {{labels: {{app: {labels}}}}}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n"
    )
}

#[test]
fn kubectl_apply_shows_upstreams_deployment_validation() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let s = Server::start("validation");
    let o = s.kubectl(&["apply", "-f", "-"], Some(&deployment("web", "api")));
    assert!(!o.status.success());
    assert!(
        err(&o).contains(
            "The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`"
        ),
        "{}",
        err(&o)
    );
    // nothing was stored
    let o = s.kubectl(&["get", "deploy", "web"], None);
    assert!(!o.status.success());

    let o = s.kubectl(&["apply", "-f", "-"], Some(&deployment("web", "web")));
    assert!(o.status.success(), "{}", err(&o));
    let o = s.kubectl(&["apply", "-f", "-"], Some(&deployment("v2", "v2")));
    assert!(!o.status.success());
    assert!(
        err(&o).contains(
            "The Deployment \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"v2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        ),
        "{}",
        err(&o)
    );
    // the stored Deployment keeps its selector
    let o = s.kubectl(
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.selector.matchLabels.app}",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "web");
}

/// kubectl apply of a bad object: not stored, and kubectl prints kube-apiserver's message.
fn rejected(s: &Server, yaml: &str, expected: &[&str]) {
    let o = s.kubectl(&["apply", "-f", "-"], Some(yaml));
    assert!(!o.status.success(), "{yaml}");
    for e in expected {
        assert!(err(&o).contains(e), "expected {e:?} in {}", err(&o));
    }
}

// apimachinery pkg/api/validation/objectmeta.go (ValidateObjectMetaAccessor,
// ValidateAnnotations), pkg/apis/meta/v1/validation ValidateLabels, and
// pkg/apis/core/validation (ValidateServiceName = NameIsDNS1035Label,
// ValidateContainerResourceRequirements, validateProbe/validateHandler, ValidateEnv,
// ValidatePodUpdate): the Status message and field paths as kube-apiserver 1.32 writes them.
#[test]
fn kubectl_apply_shows_upstreams_metadata_container_and_pod_update_validation() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let s = Server::start("validation-meta");
    rejected(
        &s,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {\"a b\": x, k: \"-v\"}\n  annotations: {\"/x\": \"v1\"}\n",
        &[
            "The ConfigMap \"c\" is invalid: ",
            "metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "metadata.labels: Invalid value: \"-v\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "metadata.annotations: Invalid value: \"/x\": prefix part must be non-empty",
        ],
    );
    rejected(
        &s,
        "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec:\n  ports: [{port: 80}]\n",
        &[
            "The Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ],
    );
    let pod = |image: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: {image}\n{extra}"
        )
    };
    rejected(
        &s,
        &pod(
            "nginx",
            "    resources: {limits: {cpu: \"1\"}, requests: {cpu: 1500m}}\n    env: [{name: \"A=B\"}]\n    livenessProbe: {periodSeconds: 5}\n",
        ),
        &[
            "The Pod \"p\" is invalid: ",
            "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].resources.requests: Invalid value: \"1500m\": must be less than or equal to cpu limit of 1",
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        ],
    );
    // a Pod's image may change; its ports may not
    let o = s.kubectl(
        &["apply", "-f", "-"],
        Some(&pod("nginx:1", "    ports: [{containerPort: 80}]\n")),
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = s.kubectl(
        &["apply", "-f", "-"],
        Some(&pod("nginx:2", "    ports: [{containerPort: 80}]\n")),
    );
    assert!(o.status.success(), "{}", err(&o));
    rejected(
        &s,
        &pod("nginx:2", "    ports: [{containerPort: 81}]\n"),
        &[
            "The Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ],
    );
    // the Status carries the causes with upstream's field paths
    let o = s.kubectl(
        &["create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", "-"],
        Some("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"labels\":{\"k\":\"-v\"}}}"),
    );
    assert!(!o.status.success());
    assert!(
        err(&o).contains("metadata.labels: Invalid value: \\\"-v\\\"")
            || err(&o).contains("metadata.labels: Invalid value: \"-v\""),
        "{}",
        err(&o)
    );
}
