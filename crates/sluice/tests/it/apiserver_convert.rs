//! Issue 17 item 5: version conversion between served versions, with the real kubectl.
//! HorizontalPodAutoscaler autoscaling/v1 <-> autoscaling/v2 as kube-apiserver converts
//! (pkg/apis/autoscaling/v1/conversion.go: `targetCPUUtilizationPercentage` is the CPU
//! Utilization metric; what v1 cannot express rides in the `autoscaling.alpha.kubernetes.io/*`
//! annotations), and a CRD with several versions and `conversion.strategy: None`
//! (apiextensions-apiserver's nopConverter rewrites `apiVersion` only), whose
//! `status.storedVersions` lists every storage version it had
//! (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/).

use serde_json::{Value, json};

use crate::apiserver_kubectl::{Server, err, kubectl_available};

macro_rules! need_kubectl {
    () => {
        if !kubectl_available() {
            eprintln!("kubectl is not installed (scripts/test installs it): skipped");
            return;
        }
    };
}

const HPA_V1: &str = r#"apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  targetCPUUtilizationPercentage: 50
"#;

const HPA_V2: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
"#;

#[test]
fn hpa_converts_between_autoscaling_v1_and_v2() {
    need_kubectl!();
    let s = Server::start("convert-hpa");
    s.ok(&["apply", "-f", "-"], Some(HPA_V1));
    let v2 = s.json(&["get", "horizontalpodautoscalers.v2.autoscaling", "web"]);
    assert_eq!(v2["apiVersion"], "autoscaling/v2");
    assert_eq!(
        v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );
    let v1 = s.json(&["get", "horizontalpodautoscalers.v1.autoscaling", "web"]);
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
    assert_eq!(v1["spec"]["minReplicas"], 2);
    assert!(v1["spec"].get("metrics").is_none(), "{v1}");
    // applying the same v1 file again changes nothing, and diff sees no drift
    let o = s.kubectl(&["diff", "-f", "-"], Some(HPA_V1));
    assert!(
        o.status.success(),
        "kubectl diff: {}{}",
        err(&o),
        crate::common::stdout(&o)
    );
    // a v1 update of the target is the v2 metric's new value
    s.ok(
        &["apply", "-f", "-"],
        Some(&HPA_V1.replace(
            "targetCPUUtilizationPercentage: 50",
            "targetCPUUtilizationPercentage: 70",
        )),
    );
    let v2 = s.json(&["get", "horizontalpodautoscalers.v2.autoscaling", "web"]);
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );

    // v2 metrics v1 cannot express survive a round trip through v1
    s.ok(&["apply", "-f", "-"], Some(HPA_V2));
    let v1 = s.json(&["get", "horizontalpodautoscalers.v1.autoscaling", "api"]);
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
    let other: Value = serde_json::from_str(
        v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]
            .as_str()
            .expect("the other metrics annotation"),
    )
    .expect("json");
    assert_eq!(
        other,
        json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "500Mi"}}])
    );
    s.ok(&["replace", "-f", "-"], Some(&v1.to_string()));
    let v2 = s.json(&["get", "horizontalpodautoscalers.v2.autoscaling", "api"]);
    assert_eq!(
        v2["spec"]["metrics"].as_array().map(Vec::len),
        Some(2),
        "{v2}"
    );
    assert_eq!(v2["spec"]["metrics"][0]["resource"]["name"], "memory");
    assert!(
        v2["metadata"]
            .get("annotations")
            .is_none_or(|a| a.get("autoscaling.alpha.kubernetes.io/metrics").is_none())
    );
    // `kubectl get hpa` (the preferred version) lists both
    let names = s.ok(&["get", "hpa", "-o", "name"], None);
    assert!(names.contains("web") && names.contains("api"), "{names}");
}

const GADGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  scope: Namespaced
  conversion: {strategy: None}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;

#[test]
fn crd_versions_convert_with_strategy_none_and_track_stored_versions() {
    need_kubectl!();
    let s = Server::start("convert-crd");
    s.ok(&["apply", "-f", "-"], Some(GADGET_CRD));
    let crd = s.json(&["get", "crd", "gadgets.example.com"]);
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    let gadget = "apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata: {name: g, namespace: default}\nspec: {wheels: 3}\n";
    let mut ok = false;
    for _ in 0..50 {
        if s.kubectl(&["apply", "-f", "-"], Some(gadget))
            .status
            .success()
        {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "the CRD's kind is served");
    let v1 = s.json(&["get", "gadgets.v1.example.com", "g"]);
    assert_eq!(v1["apiVersion"], "example.com/v1");
    assert_eq!(v1["spec"], json!({"wheels": 3}));
    let beta = s.json(&["get", "gadgets.v1beta1.example.com", "g"]);
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["spec"], json!({"wheels": 3}));
    // the storage version moves to v1beta1: both are stored versions now
    let moved = GADGET_CRD
        .replace("storage: false", "storage: STORAGE_TRUE")
        .replace("storage: true", "storage: false")
        .replace("storage: STORAGE_TRUE", "storage: true");
    s.ok(&["apply", "-f", "-"], Some(&moved));
    let crd = s.json(&["get", "crd", "gadgets.example.com"]);
    assert_eq!(crd["status"]["storedVersions"], json!(["v1", "v1beta1"]));
    let v1 = s.json(&["get", "gadgets.v1.example.com", "g"]);
    assert_eq!(v1["apiVersion"], "example.com/v1");
}
