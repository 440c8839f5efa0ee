//! Canary traffic routing with the NGINX Ingress controller, as argo-rollouts
//! `rollout/trafficrouting/nginx/nginx.go`: for each stable Ingress, a canary Ingress
//! `<rollout>-<stableIngress>-canary` (`ingressutil.GetCanaryIngressName`, cut to 253
//! characters) owned by the Rollout, with the stable Ingress's rules that use the
//! stableService (their backends swapped to the canaryService), its TLS, ingressClassName and
//! `kubernetes.io/ingress.class`, the `additionalIngressAnnotations` (prefixed) and
//! `canaryIngressAnnotations`, and `<prefix>/canary: "true"` and
//! `<prefix>/canary-weight: "<weight>"`.

use serde_json::{Value as Json, json};

/// `defaults.DefaultCanaryIngressAnnotationPrefix`.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "nginx.ingress.kubernetes.io";
/// `ingressutil.CanaryIngressSuffix`.
pub const CANARY_INGRESS_SUFFIX: &str = "-canary";

/// The `trafficRouting.nginx` block of a Rollout, if any.
pub fn config(rollout: &Json) -> Option<&Json> {
    rollout
        .pointer("/spec/strategy/canary/trafficRouting/nginx")
        .filter(|n| n.is_object())
}

/// The stable Ingresses: `stableIngress`, else `stableIngresses` (upstream's `SetWeight`),
/// then `additionalStableIngresses`.
pub fn stable_ingresses(nginx: &Json) -> Vec<String> {
    let list = |k: &str| -> Vec<String> {
        nginx
            .get(k)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect()
    };
    let mut out = match nginx.get("stableIngress").and_then(Json::as_str) {
        Some(s) if !s.is_empty() => vec![s.to_owned()],
        _ => list("stableIngresses"),
    };
    for extra in list("additionalStableIngresses") {
        if !out.contains(&extra) {
            out.push(extra);
        }
    }
    out
}

/// `ingressutil.GetCanaryIngressName`.
pub fn canary_ingress_name(rollout: &str, stable_ingress: &str) -> String {
    let mut prefix = format!("{rollout}-{stable_ingress}");
    let max = 253 - CANARY_INGRESS_SUFFIX.len();
    if prefix.len() > max {
        let mut cut = max;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    format!("{prefix}{CANARY_INGRESS_SUFFIX}")
}

/// The spec errors of an nginx traffic routing block (`ValidateRolloutNginxIngressesConfig`).
pub fn invalid(nginx: &Json) -> Option<String> {
    let single = nginx
        .get("stableIngress")
        .and_then(Json::as_str)
        .is_some_and(|s| !s.is_empty());
    let multi = nginx
        .get("stableIngresses")
        .and_then(Json::as_array)
        .is_some_and(|a| !a.is_empty());
    let path = "spec.strategy.canary.trafficRouting.nginx";
    match (single, multi) {
        (false, false) => Some(format!(
            "{path}: Internal error: Either StableIngress or StableIngresses must be configured. Neither are configured."
        )),
        (true, true) => Some(format!(
            "{path}: Internal error: Either StableIngress or StableIngresses must be configured. Both are configured."
        )),
        _ => None,
    }
}

pub(crate) fn field_of(nginx: &Json, ingress: &str) -> String {
    let base = "spec.strategy.canary.trafficRouting.nginx";
    if nginx.get("stableIngress").and_then(Json::as_str) == Some(ingress) {
        format!("{base}.stableIngress")
    } else if let Some(i) = nginx
        .get("stableIngresses")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().position(|x| x.as_str() == Some(ingress)))
    {
        format!("{base}.stableIngresses[{i}]")
    } else {
        format!("{base}.additionalStableIngresses")
    }
}

/// The desired canary Ingress for `stable` at `weight`, or upstream's error when the stable
/// Ingress has no rule using the stableService.
pub fn canary_ingress(rollout: &Json, stable: &Json, weight: i32) -> Result<Json, String> {
    let nginx = config(rollout).cloned().unwrap_or(Json::Null);
    let canary = rollout
        .pointer("/spec/strategy/canary")
        .cloned()
        .unwrap_or(Json::Null);
    let stable_svc = canary["stableService"].as_str().unwrap_or("");
    let canary_svc = canary["canaryService"].as_str().unwrap_or("");
    let stable_name = stable
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    let ro_name = rollout
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    let prefix = nginx
        .get("annotationPrefix")
        .and_then(Json::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_ANNOTATION_PREFIX);
    let mut rules = Vec::new();
    for rule in stable
        .pointer("/spec/rules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let mut rule = rule.clone();
        let mut uses_stable = false;
        if let Some(paths) = rule.pointer_mut("/http/paths").and_then(Json::as_array_mut) {
            for p in paths {
                // networking.k8s.io/v1 (`backend.service.name`) and the legacy
                // extensions/v1beta1 shape (`backend.serviceName`)
                if let Some(n) = p.pointer_mut("/backend/service/name")
                    && n.as_str() == Some(stable_svc)
                {
                    *n = json!(canary_svc);
                    uses_stable = true;
                }
                if let Some(n) = p.pointer_mut("/backend/serviceName")
                    && n.as_str() == Some(stable_svc)
                {
                    *n = json!(canary_svc);
                    uses_stable = true;
                }
            }
        }
        if uses_stable {
            rules.push(rule);
        }
    }
    if rules.is_empty() {
        return Err(format!(
            "{}: Invalid value: \"{stable_name}\": ingress `{stable_name}` has no rules using service {stable_svc} backend",
            field_of(&nginx, stable_name)
        ));
    }
    let mut annotations = serde_json::Map::new();
    if let Some(class) = stable
        .pointer("/metadata/annotations/kubernetes.io~1ingress.class")
        .and_then(Json::as_str)
    {
        annotations.insert("kubernetes.io/ingress.class".into(), json!(class));
    }
    if let Some(extra) = nginx
        .get("additionalIngressAnnotations")
        .and_then(Json::as_object)
    {
        for (k, v) in extra {
            let key = if k.starts_with(prefix) {
                k.clone()
            } else {
                format!("{prefix}/{k}")
            };
            annotations.insert(key, json!(v.as_str().unwrap_or_default()));
        }
    }
    if let Some(extra) = nginx
        .get("canaryIngressAnnotations")
        .and_then(Json::as_object)
    {
        for (k, v) in extra {
            annotations.insert(k.clone(), json!(v.as_str().unwrap_or_default()));
        }
    }
    annotations.insert(format!("{prefix}/canary"), json!("true"));
    annotations.insert(format!("{prefix}/canary-weight"), json!(weight.to_string()));
    let mut spec = json!({"rules": rules});
    if let Some(tls) = stable.pointer("/spec/tls").filter(|t| !t.is_null()) {
        spec["tls"] = tls.clone();
    }
    if let Some(class) = stable
        .pointer("/spec/ingressClassName")
        .filter(|t| !t.is_null())
    {
        spec["ingressClassName"] = class.clone();
    }
    let api_version = stable
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or("networking.k8s.io/v1");
    Ok(json!({
        "apiVersion": api_version,
        "kind": "Ingress",
        "metadata": {
            "name": canary_ingress_name(ro_name, stable_name),
            "namespace": rollout.pointer("/metadata/namespace").cloned().unwrap_or(Json::Null),
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": ro_name,
                "uid": rollout.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

/// The canary weight an Ingress carries (`<prefix>/canary-weight`), if any.
pub fn weight_of(rollout: &Json, ingress: &Json) -> Option<i32> {
    let prefix = config(rollout)
        .and_then(|n| n.get("annotationPrefix"))
        .and_then(Json::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_ANNOTATION_PREFIX);
    ingress
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(format!("{prefix}/canary-weight")))
        .and_then(Json::as_str)
        .and_then(|w| w.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ro(nginx: Json) -> Json {
        json!({"metadata": {"name": "web", "namespace": "apps", "uid": "u1"},
            "spec": {"strategy": {"canary": {"stableService": "web-stable", "canaryService": "web-canary",
                "trafficRouting": {"nginx": nginx}}}}})
    }

    fn stable() -> Json {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": "nginx", "other": "x"}},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["web.example"]}], "rules": [
                {"host": "web.example", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web-stable", "port": {"number": 80}}}}]}},
                {"host": "other.example", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "other", "port": {"number": 80}}}}]}}]}})
    }

    /// nginx.go `buildCanaryIngress`: only the rules using the stableService, their backend
    /// swapped; TLS, ingressClassName and `kubernetes.io/ingress.class` kept, other
    /// annotations dropped; additional annotations prefixed; canary and canary-weight set;
    /// owned by the Rollout. Name as `GetCanaryIngressName` (utils/ingress/ingress.go).
    #[test]
    fn canary_ingress_as_upstream() {
        let r = ro(json!({"stableIngress": "web",
            "additionalIngressAnnotations": {"canary-by-header": "X-Canary", "nginx.ingress.kubernetes.io/x": "y"}}));
        let c = canary_ingress(&r, &stable(), 20).expect("builds");
        assert_eq!(c["metadata"]["name"], "web-web-canary");
        let a = &c["metadata"]["annotations"];
        assert_eq!(a["kubernetes.io/ingress.class"], "nginx");
        assert_eq!(a["nginx.ingress.kubernetes.io/canary"], "true");
        assert_eq!(a["nginx.ingress.kubernetes.io/canary-weight"], "20");
        assert_eq!(
            a["nginx.ingress.kubernetes.io/canary-by-header"],
            "X-Canary"
        );
        assert_eq!(a["nginx.ingress.kubernetes.io/x"], "y");
        assert!(a.get("other").is_none());
        let rules = c["spec"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0]["http"]["paths"][0]["backend"]["service"]["name"],
            "web-canary"
        );
        assert_eq!(c["spec"]["tls"][0]["hosts"][0], "web.example");
        assert_eq!(c["spec"]["ingressClassName"], "nginx");
        assert_eq!(c["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(c["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(weight_of(&r, &c), Some(20));
        // a custom prefix
        let r = ro(json!({"stableIngress": "web", "annotationPrefix": "custom.nginx"}));
        let c = canary_ingress(&r, &stable(), 0).expect("builds");
        assert_eq!(
            c["metadata"]["annotations"]["custom.nginx/canary-weight"],
            "0"
        );
    }

    #[test]
    fn no_rule_with_the_stable_service_is_upstreams_error() {
        let r = ro(json!({"stableIngress": "web"}));
        let mut s = stable();
        s["spec"]["rules"].as_array_mut().expect("rules").remove(0);
        let e = canary_ingress(&r, &s, 0).expect_err("no rule");
        assert_eq!(
            e,
            "spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: \"web\": ingress `web` has no rules using service web-stable backend"
        );
    }

    /// validation.go `ValidateRolloutNginxIngressesConfig`.
    #[test]
    fn stable_ingress_xor_stable_ingresses() {
        assert!(invalid(&json!({})).is_some_and(|e| e.ends_with("Neither are configured.")));
        assert!(
            invalid(&json!({"stableIngress": "a", "stableIngresses": ["b"]}))
                .is_some_and(|e| e.ends_with("Both are configured."))
        );
        assert_eq!(invalid(&json!({"stableIngresses": ["a", "b"]})), None);
        assert_eq!(
            stable_ingresses(
                &json!({"stableIngresses": ["a", "b"], "additionalStableIngresses": ["c"]})
            ),
            ["a", "b", "c"]
        );
        let long = "x".repeat(300);
        assert_eq!(canary_ingress_name("web", &long).len(), 253);
    }
}
