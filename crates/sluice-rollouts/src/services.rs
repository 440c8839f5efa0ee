//! What the canary and blue-green passes share about the objects around the ReplicaSets:
//! Service selector switches as argo-rollouts `rollout/service.go` (`switchServiceSelector`,
//! `generatePatch`), the scale-down-deadline annotation as `rollout/replicaset.go`
//! (`addScaleDownDelay`, `removeScaleDownDelay`, `scaleDownDelayHelper`) and the checks of
//! referenced Services (`getReferencedServices`).

use serde_json::{Value as Json, json};

use crate::analysis::{Millis, format_rfc3339, parse_rfc3339};
use crate::canary::{POD_TEMPLATE_HASH_LABEL, Plan, ReplicaSet, Service, ServiceSwitch};

/// The annotation the controller puts on a Service whose selector it manages.
pub const MANAGED_BY_ANNOTATION: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";
/// The annotation on a ReplicaSet that is to be scaled down at the given time (RFC 3339).
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "argo-rollouts.argoproj.io/scale-down-deadline";

/// The patch of a selector switch, as `generatePatch`: the selector's
/// `rollouts-pod-template-hash`, and the managed-by annotation (the Rollout's name) when the
/// Service does not carry it yet.
pub fn service_patch(rollout: &str, sw: &ServiceSwitch) -> Json {
    let mut p = json!({"spec": {"selector": {POD_TEMPLATE_HASH_LABEL: sw.pod_hash}}});
    if sw.add_managed_by {
        p["metadata"] = json!({"annotations": {MANAGED_BY_ANNOTATION: rollout}});
    }
    p
}

/// The Services of the pass: their selectors as this pass leaves them.
pub(crate) struct Services<'a> {
    pub list: &'a [Service],
    pub switched: Vec<(String, String)>,
}

impl<'a> Services<'a> {
    pub fn new(list: &'a [Service]) -> Services<'a> {
        Services {
            list,
            switched: Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&'a Service> {
        self.list.iter().find(|s| s.name == name)
    }

    /// The selector hash of `name` after this pass's switches.
    pub fn selector(&self, name: &str) -> Option<String> {
        if let Some((_, h)) = self.switched.iter().rev().find(|(n, _)| n == name) {
            return Some(h.clone());
        }
        self.get(name).and_then(|s| s.selector_hash.clone())
    }

    /// `switchServiceSelector`: nothing when the selector already has `hash` and the Service
    /// carries the managed-by annotation, else a switch. True when switched.
    pub fn switch(&mut self, name: &str, hash: &str, plan: &mut Plan) -> bool {
        let Some(svc) = self.get(name) else {
            return false;
        };
        let current = self.selector(name);
        let managed = svc.managed_by.is_some()
            || plan
                .services
                .iter()
                .any(|s| s.name == name && s.add_managed_by);
        if current.as_deref() == Some(hash) && managed {
            return false;
        }
        plan.services.push(ServiceSwitch {
            name: name.to_owned(),
            pod_hash: hash.to_owned(),
            add_managed_by: !managed,
        });
        self.switched.push((name.to_owned(), hash.to_owned()));
        true
    }

    /// Whether any Service the pass knows selects `hash`.
    pub fn selects(&self, hash: &str) -> bool {
        self.list
            .iter()
            .any(|s| self.selector(&s.name).as_deref() == Some(hash))
    }
}

/// The first named Service that does not exist, as upstream's `getReferencedServices`
/// reports it: `<field path>: Invalid value: "<name>": service "<name>" not found`.
pub(crate) fn missing_service(services: &[Service], refs: &[(&str, &str)]) -> Option<String> {
    refs.iter()
        .filter(|(_, name)| !name.is_empty())
        .find(|(_, name)| !services.iter().any(|s| s.name == *name))
        .map(|(path, name)| {
            format!("{path}: Invalid value: \"{name}\": service \"{name}\" not found")
        })
}

/// The scale-down deadline of a ReplicaSet, if it has one that parses.
pub(crate) fn deadline(rs: &ReplicaSet) -> Option<Millis> {
    rs.scale_down_deadline.as_deref().and_then(parse_rfc3339)
}

/// `removeScaleDownDelay`: the annotation removed when present.
pub(crate) fn remove_deadline(rs: &ReplicaSet, plan: &mut Plan) {
    if rs.scale_down_deadline.is_some() && !plan.rs_annotations.iter().any(|(n, _)| *n == rs.name) {
        plan.rs_annotations.push((rs.name.clone(), None));
    }
}

/// `addScaleDownDelay`: the annotation set to `now + delay` (RFC 3339); a zero delay removes
/// it instead.
pub(crate) fn add_deadline(rs: &ReplicaSet, delay_secs: i64, now: Millis, plan: &mut Plan) {
    if delay_secs <= 0 {
        remove_deadline(rs, plan);
        return;
    }
    let at = now.saturating_add(delay_secs.saturating_mul(1000));
    plan.rs_annotations
        .push((rs.name.clone(), Some(format_rfc3339(at))));
    plan.requeue(at);
}

/// `scaleDownDelayHelper`: the replicas an older ReplicaSet keeps. One scaled up without a
/// deadline gets one (`now + delay`) and keeps its replicas while fewer than `limit`
/// ReplicaSets are annotated, else goes to zero; one with a deadline keeps `replicas` until
/// the deadline (or until `limit` is exceeded), then goes to zero.
pub(crate) fn scale_down_delay(
    rs: &ReplicaSet,
    annotated: &mut i64,
    limit: i64,
    replicas: i32,
    delay_secs: i64,
    now: Millis,
    plan: &mut Plan,
) -> i32 {
    if rs.scale_down_deadline.is_none() && rs.replicas > 0 {
        if *annotated < limit {
            *annotated += 1;
            add_deadline(rs, delay_secs, now, plan);
            return rs.replicas;
        }
        return 0;
    }
    if rs.scale_down_deadline.is_some() {
        *annotated += 1;
        if *annotated > limit {
            return 0;
        }
        if let Some(at) = deadline(rs)
            && at > now
        {
            plan.requeue(at);
            return replicas;
        }
    }
    0
}

/// An integer field of the strategy, `default` when absent; negative values count as 0.
pub(crate) fn seconds(strategy: &Json, key: &str, default: i64) -> i64 {
    strategy
        .get(key)
        .and_then(Json::as_i64)
        .map_or(default, |v| v.max(0))
}
