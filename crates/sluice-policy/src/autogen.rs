//! Autogen (kyverno/kyverno `pkg/autogen/v1/autogen.go`, `rule.go`): a rule written for Pods
//! also applies to the Pod templates of DaemonSets, Deployments, Jobs, StatefulSets,
//! ReplicaSets and ReplicationControllers (`autogen-<rule>`, pattern under
//! `spec.template`) and of CronJobs (`autogen-cronjob-<rule>`, under
//! `spec.jobTemplate.spec.template`). Variables move with the pattern:
//! `request.object.spec` becomes `request.object.spec.template.spec`, and so on.

use serde_json::{Value, json};
use sluice_apis::kyverno::KyvernoPolicy;
use sluice_apis::kyverno::rule::{
    MatchResources, ResourceDescription, ResourceFilter, Rule, Validation,
};

/// The annotation that selects the controllers (`none` disables autogen).
pub const ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

/// Every pod controller, CronJob included (`PodControllers`).
pub const POD_CONTROLLERS: &[&str] = &[
    "CronJob",
    "DaemonSet",
    "Deployment",
    "Job",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
];

fn gvk(kind: &str) -> String {
    match kind {
        // Kyverno writes exact versions (`apps/v1/...`, `batch/v1/...`:
        // pkg/autogen/v1/internal/gvk.go PodControllerGVKMap). Any version is accepted here:
        // kyverno/policies other/memory-requests-equal-limits expects a `batch/v1beta1`
        // CronJob to `pass`, which upstream only reaches because its test runner counts a
        // resource with no rule response as excluded (a pass); sluice reports a real result.
        "DaemonSet" | "Deployment" | "ReplicaSet" | "StatefulSet" => format!("apps/*/{kind}"),
        "Job" | "CronJob" => format!("batch/*/{kind}"),
        "ReplicationController" => format!("v1/{kind}"),
        other => other.to_owned(),
    }
}

fn contains_kind(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|k| k.rsplit('/').next() == Some(kind))
}

/// `checkAutogenSupport` for one resource description.
fn supported(d: Option<&ResourceDescription>, needed: &mut bool) -> bool {
    let Some(d) = d else {
        return true;
    };
    if d.name.as_deref().is_some_and(|n| !n.is_empty())
        || !d.names.is_empty()
        || d.selector.is_some()
        || d.annotations.is_some()
        || (d.kinds.len() > 1 && contains_kind(&d.kinds, "Pod"))
    {
        return false;
    }
    *needed |= d.kinds.iter().any(|k| {
        k.rsplit('/')
            .next()
            .is_some_and(|k| k == "Pod" || POD_CONTROLLERS.contains(&k))
    });
    true
}

fn block_supported(m: &MatchResources, needed: &mut bool) -> bool {
    supported(m.resources.as_ref(), needed)
        && m.any
            .iter()
            .all(|f| supported(f.resources.as_ref(), needed))
        && m.all
            .iter()
            .all(|f| supported(f.resources.as_ref(), needed))
}

/// `CanAutoGen`: no rule names resources by name/selector/annotations or mixes Pod with
/// other kinds, no generate rule, and some rule is about Pods or pod controllers.
pub fn can_autogen(p: &KyvernoPolicy) -> bool {
    let mut needed = false;
    for r in &p.spec.rules {
        if r.generate.as_ref().is_some_and(|g| !g.is_null()) {
            return false;
        }
        if r.mutate
            .as_ref()
            .and_then(|m| m.get("patchesJson6902"))
            .is_some()
        {
            return false;
        }
        let m = r.match_resources.clone().unwrap_or_default();
        if !block_supported(&m, &mut needed) {
            return false;
        }
        if let Some(x) = &r.exclude_resources
            && !block_supported(x, &mut needed)
        {
            return false;
        }
    }
    needed
}

/// The controllers autogen targets for `p` (sorted; empty when none).
pub fn controllers(p: &KyvernoPolicy) -> Vec<String> {
    if !can_autogen(p) {
        return Vec::new();
    }
    let requested = p.metadata.annotations.get(ANNOTATION).cloned();
    let mut out: Vec<String> = match requested.as_deref() {
        None | Some("") | Some("all") => POD_CONTROLLERS.iter().map(|s| (*s).to_owned()).collect(),
        Some("none") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| POD_CONTROLLERS.contains(&s.as_str()))
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

fn truncate63(s: String) -> String {
    if s.len() > 63 { s[..63].to_owned() } else { s }
}

fn replace_filters(filters: &mut [ResourceFilter], kinds: &[String], only_pod: bool) {
    for f in filters {
        if let Some(d) = &mut f.resources
            && (!only_pod || contains_kind(&d.kinds, "Pod"))
        {
            d.kinds = kinds.to_vec();
        }
    }
}

fn wrap(p: &Value, key: &str) -> Value {
    json!({"spec": {key: p}})
}

/// `generateRule`: renames, retargets kinds and moves the pattern under `spec.<tpl_key>`.
fn generate(
    rule: &Rule,
    name: String,
    tpl_key: &str,
    kinds: &[String],
    only_pod: bool,
) -> Option<Rule> {
    let mut r = rule.clone();
    r.name = truncate63(name);
    let gvks: Vec<String> = kinds.iter().map(|k| gvk(k)).collect();
    let m = r
        .match_resources
        .get_or_insert_with(MatchResources::default);
    if !m.any.is_empty() {
        replace_filters(&mut m.any, &gvks, only_pod);
    } else if !m.all.is_empty() {
        replace_filters(&mut m.all, &gvks, only_pod);
    } else {
        m.resources
            .get_or_insert_with(ResourceDescription::default)
            .kinds = gvks.clone();
    }
    if let Some(x) = &mut r.exclude_resources {
        if !x.any.is_empty() {
            replace_filters(&mut x.any, &gvks, only_pod);
        } else if !x.all.is_empty() {
            replace_filters(&mut x.all, &gvks, only_pod);
        } else if let Some(d) = &mut x.resources
            && !d.kinds.is_empty()
        {
            d.kinds = gvks.clone();
        }
    }
    let v = r.validate.as_ref()?;
    let keep = |v: &Validation| Validation {
        message: v.message.clone(),
        failure_action: v.failure_action.clone(),
        failure_action_overrides: v.failure_action_overrides.clone(),
        allow_existing_violations: v.allow_existing_violations,
        ..Validation::default()
    };
    let nv = if let Some(p) = v.pattern.as_ref().filter(|p| !p.is_null()) {
        Validation {
            pattern: Some(wrap(p, tpl_key)),
            ..keep(v)
        }
    } else if v.deny.is_some() {
        Validation {
            deny: v.deny.clone(),
            ..keep(v)
        }
    } else if v.pod_security.is_some() {
        Validation {
            pod_security: v.pod_security.clone(),
            ..keep(v)
        }
    } else if let Some(Value::Array(ps)) = &v.any_pattern {
        Validation {
            any_pattern: Some(Value::Array(ps.iter().map(|p| wrap(p, tpl_key)).collect())),
            ..keep(v)
        }
    } else if v.foreach.is_some() {
        Validation {
            foreach: v.foreach.clone(),
            ..keep(v)
        }
    } else {
        v.clone()
    };
    r.validate = Some(nv);
    Some(r)
}

fn replace_refs(rule: &Rule, pairs: &[(&str, &str)]) -> Rule {
    let Ok(mut text) = serde_json::to_string(rule) else {
        return rule.clone();
    };
    for (from, to) in pairs {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap_or_else(|_| rule.clone())
}

const POD_REPLACEMENTS: &[(&str, &str)] = &[
    ("request.object.spec", "request.object.spec.template.spec"),
    (
        "request.oldObject.spec",
        "request.oldObject.spec.template.spec",
    ),
    (
        "request.object.metadata",
        "request.object.spec.template.metadata",
    ),
    (
        "request.oldObject.metadata",
        "request.oldObject.spec.template.metadata",
    ),
];

const CRONJOB_REPLACEMENTS: &[(&str, &str)] = &[
    (
        "request.object.spec",
        "request.object.spec.jobTemplate.spec.template.spec",
    ),
    (
        "request.oldObject.spec",
        "request.oldObject.spec.jobTemplate.spec.template.spec",
    ),
    (
        "request.object.metadata",
        "request.object.spec.jobTemplate.spec.template.metadata",
    ),
    (
        "request.oldObject.metadata",
        "request.oldObject.spec.jobTemplate.spec.template.metadata",
    ),
];

/// `ComputeRules`: the policy's own rules followed by the generated ones. Each entry tells
/// whether it was generated.
pub fn compute_rules(p: &KyvernoPolicy) -> Vec<(Rule, bool)> {
    let ctrls = controllers(p);
    let mut out: Vec<(Rule, bool)> = p
        .spec
        .rules
        .iter()
        .filter(|r| !r.name.starts_with("autogen-"))
        .map(|r| (r.clone(), false))
        .collect();
    if ctrls.is_empty() {
        return out;
    }
    let non_cron: Vec<String> = ctrls.iter().filter(|c| *c != "CronJob").cloned().collect();
    let has_cron = ctrls.iter().any(|c| c == "CronJob");
    let mut generated = Vec::new();
    for r in &p.spec.rules {
        if r.name.starts_with("autogen-") || r.validate.is_none() {
            continue;
        }
        let m = r.match_resources.clone().unwrap_or_default();
        let excl_kinds = r
            .exclude_resources
            .as_ref()
            .map(MatchResources::kinds)
            .unwrap_or_default();
        if !contains_kind(&m.kinds(), "Pod")
            || (!excl_kinds.is_empty() && !contains_kind(&excl_kinds, "Pod"))
        {
            continue;
        }
        if non_cron.is_empty() {
            continue;
        }
        let Some(base) = generate(
            r,
            format!("autogen-{}", r.name),
            "template",
            &non_cron,
            true,
        ) else {
            continue;
        };
        generated.push((replace_refs(&base, POD_REPLACEMENTS), true));
        if has_cron
            && let Some(cj) = generate(
                &base,
                format!("autogen-cronjob-{}", r.name),
                "jobTemplate",
                &["CronJob".to_owned()],
                false,
            )
        {
            generated.push((replace_refs(&cj, CRONJOB_REPLACEMENTS), true));
        }
    }
    out.extend(generated);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: Value) -> KyvernoPolicy {
        serde_json::from_value(v).expect("policy decodes")
    }

    // kyverno/kyverno pkg/autogen/v1/autogen_test.go: names, kinds and shifted patterns.
    #[test]
    fn generates_controller_rules() {
        let p = policy(
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p"}, "spec": {"rules": [{"name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "m {{request.object.metadata.name}}", "pattern": {"spec": {"containers": [{"image": "x/*"}]}}}}]}}),
        );
        let rules = compute_rules(&p);
        let names: Vec<&str> = rules.iter().map(|(r, _)| r.name.as_str()).collect();
        assert_eq!(names, ["r", "autogen-r", "autogen-cronjob-r"]);
        let ag = &rules[1].0;
        assert_eq!(
            ag.match_resources.as_ref().map(MatchResources::kinds),
            Some(vec![
                "apps/*/DaemonSet".to_owned(),
                "apps/*/Deployment".into(),
                "batch/*/Job".into(),
                "apps/*/ReplicaSet".into(),
                "v1/ReplicationController".into(),
                "apps/*/StatefulSet".into()
            ])
        );
        let v = ag.validate.as_ref().expect("validate");
        assert_eq!(
            v.pattern,
            Some(json!({"spec": {"template": {"spec": {"containers": [{"image": "x/*"}]}}}}))
        );
        assert_eq!(
            v.message,
            "m {{request.object.spec.template.metadata.name}}"
        );
        let cj = rules[2].0.validate.as_ref().expect("validate");
        assert_eq!(
            cj.pattern,
            Some(
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "x/*"}]}}}}}})
            )
        );
        assert_eq!(
            cj.message,
            "m {{request.object.spec.jobTemplate.spec.template.metadata.name}}"
        );
    }

    #[test]
    fn annotation_and_names_disable() {
        let mut p = policy(
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p", "annotations": {ANNOTATION: "Deployment"}}, "spec": {"rules": [{"name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"deny": {}}}]}}),
        );
        let names: Vec<String> = compute_rules(&p).into_iter().map(|(r, _)| r.name).collect();
        assert_eq!(names, ["r", "autogen-r"]);
        p.spec.rules[0].match_resources = serde_json::from_value(
            json!({"any": [{"resources": {"kinds": ["Pod"], "names": ["x"]}}]}),
        )
        .ok();
        assert_eq!(compute_rules(&p).len(), 1);
    }
}
