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
