//! Kyverno admission inside `sluice apiserver`: the binary wires `sluice-policy` into the
//! API server's [`AdmissionHook`] (the API server crate knows no policy engine).
//!
//! - The ClusterPolicies and Policies stored in the server are compiled on demand: every
//!   admission compares the stored policies' resourceVersions with the compiled set's and
//!   recompiles when one was created, changed or deleted, so a policy applies to the very
//!   next request after `kubectl apply` returns. (A policy that does not compile was rejected
//!   when it was written: built-in admission runs `sluice_apis::validate_one`, whose
//!   expression checks, nesting and size limits included, are `sluice_policy::compile`'s. A
//!   stored policy that does not compile, written before a check existed, is skipped.)
//! - Evaluation cannot recurse without bound or exhaust memory (sluice-policy's limits and
//!   per-rule budget): the reporter thread and the API server's workers (2 MiB stacks) run
//!   it safely, and a rule over its budget is an `error` result, denied under Enforce.
//! - Creates and updates are evaluated; Enforce failures are denied with the message Kyverno's
//!   webhook returns, Audit failures pass with warnings.
//! - A reporter thread follows the store's watch: it writes one wgpolicyk8s.io/v1alpha2
//!   PolicyReport (namespaced resources) or ClusterPolicyReport (cluster-scoped ones) per
//!   resource, named after the resource's uid, as Kyverno 1.10+ does; and when a policy with
//!   `background: true` (the default) is created or changed, it scans every stored object.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use sluice_apiserver::admission::{AdmissionHook, AdmissionRequest as HookRequest, Operation};
use sluice_apiserver::ops::{DeleteOpts, WriteOpts};
use sluice_apiserver::store::{Event, EventType};
use sluice_apiserver::{ApiError, State};
use sluice_core::Object;
use sluice_policy::{Action, AdmissionRequest, FailurePolicy, PolicySet, RuleResult, Status};

const CLUSTER_POLICIES: &str = "kyverno.io/clusterpolicies";
const POLICIES: &str = "kyverno.io/policies";
const REPORT_GROUP: &str = "wgpolicyk8s.io";
const REPORT_VERSION: &str = "v1alpha2";
const MANAGER: &str = "kyverno";

/// One stored policy, compiled, with what reports need of it.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// `name` for a ClusterPolicy, `namespace/name` for a Policy (the `policy` of a report
    /// result: client-go's `cache.MetaNamespaceKeyFunc`).
    pub key: String,
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
    /// `spec.background` (default true): background scans apply the policy.
    pub background: bool,
    /// `spec.admission` (default true): admission applies the policy.
    pub admission: bool,
    /// `policies.kyverno.io/scored` is not "false".
    pub scored: bool,
    pub category: String,
    pub severity: String,
    pub set: PolicySet,
}

#[derive(Default)]
struct Cache {
    fingerprint: Vec<(String, u64)>,
    policies: Arc<Vec<LoadedPolicy>>,
}

/// The policy engine as the API server's admission hook and report writer.
pub struct PolicyAdmission {
    state: Arc<State>,
    cache: Mutex<Cache>,
}

/// Kyverno's default `resourceFilters` (kyverno's config/config.yaml, the ones that apply
/// here) plus Kyverno's own kinds: these are neither admitted against policies nor reported.
pub fn skipped(group: &str, kind: &str, namespace: &str) -> bool {
    matches!(
        group,
        "kyverno.io" | "wgpolicyk8s.io" | "reports.kyverno.io" | "policies.kyverno.io"
    ) || matches!(
        kind,
        "Event"
            | "Lease"
            | "Node"
            | "APIService"
            | "TokenReview"
            | "SubjectAccessReview"
            | "SelfSubjectAccessReview"
            | "Binding"
            | "ReplicaSet"
    ) || matches!(
        namespace,
        "kube-system" | "kube-public" | "kube-node-lease" | "kyverno"
    )
}

fn meta<'a>(v: &'a Value, field: &str) -> &'a str {
    v.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn group_of(v: &Value) -> String {
    let av = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match av.split_once('/') {
        Some((g, _)) => g.to_owned(),
        None => String::new(),
    }
}

fn kind_of(v: &Value) -> &str {
    v.get("kind").and_then(Value::as_str).unwrap_or_default()
}

fn load(v: &Value) -> Option<LoadedPolicy> {
    let compiled = sluice_policy::compile(&Object::new(v.clone())).ok()?;
    let name = meta(v, "name").to_owned();
    let namespace = meta(v, "namespace").to_owned();
    let ann = |k: &str| {
        v.pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let flag = |k: &str| v.pointer(&format!("/spec/{k}")).and_then(Value::as_bool) != Some(false);
    Some(LoadedPolicy {
        key: if namespace.is_empty() {
            name.clone()
        } else {
            format!("{namespace}/{name}")
        },
        name,
        namespace,
        resource_version: meta(v, "resourceVersion").to_owned(),
        background: flag("background"),
        admission: flag("admission"),
        scored: ann("policies.kyverno.io/scored") != "false",
        category: ann("policies.kyverno.io/category"),
        severity: ann("policies.kyverno.io/severity"),
        set: PolicySet::new(vec![compiled]),
    })
}

impl PolicyAdmission {
    pub fn new(state: Arc<State>) -> Arc<Self> {
        Arc::new(PolicyAdmission {
            state,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The stored policies, compiled; recompiled when any was created, changed or deleted.
    pub fn policies(&self) -> Arc<Vec<LoadedPolicy>> {
        // quarantined policies (stored, but refused by today's checks) are not applied; the
        // stored versions are compared on the kept metadata: a policy is parsed and compiled
        // only when it changed (this runs at every admitted write)
        let store = &self.state.store;
        let mut stored = store.list_stored(CLUSTER_POLICIES, None, None).0;
        stored.retain(|p| !self.state.is_quarantined_stored(CLUSTER_POLICIES, p));
        let mut namespaced = store.list_stored(POLICIES, None, None).0;
        namespaced.retain(|p| !self.state.is_quarantined_stored(POLICIES, p));
        stored.extend(namespaced);
        let fingerprint: Vec<(String, u64)> = stored
            .iter()
            .map(|p| {
                let m = p.meta();
                (format!("{}/{}", m.namespace, m.name), p.rv())
            })
            .collect();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.fingerprint != fingerprint {
            cache.policies = Arc::new(stored.iter().filter_map(|p| load(&p.value())).collect());
            cache.fingerprint = fingerprint;
        }
        cache.policies.clone()
    }

    fn namespace_labels(&self, obj: &Value) -> Option<Map<String, Value>> {
        let ns = meta(obj, "namespace");
        if ns.is_empty() {
            return None;
        }
        let n = self.state.store.get("/namespaces", "", ns)?;
        let mut labels = n
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // the API server's NamespaceDefaultLabelName
        labels
            .entry("kubernetes.io/metadata.name")
            .or_insert_with(|| json!(ns));
        Some(labels)
    }

    /// Runs `policies` (those `want` keeps) against one object.
    fn evaluate<'p>(
        &self,
        policies: &'p [LoadedPolicy],
        obj: &Value,
        old: Option<&Value>,
        operation: &str,
        want: impl Fn(&LoadedPolicy) -> bool,
    ) -> Vec<(&'p LoadedPolicy, RuleResult)> {
        let labels = self.namespace_labels(obj);
        let user = sluice_policy::UserInfo::default();
        let mut req = AdmissionRequest::create(obj, &user);
        req.operation = operation.to_owned();
        req.old_object = old;
        req.namespace_labels = labels.as_ref();
        let mut out = Vec::new();
        for p in policies.iter().filter(|p| want(p)) {
            for r in sluice_policy::evaluate(&p.set, &req) {
                out.push((p, r));
            }
        }
        out
    }
}

/// A denial as the API server words a webhook's: `admission webhook "NAME" denied the
/// request: MESSAGE`, HTTP 400 and no reason, so kubectl prints `Error from server: ...`
/// (k8s.io/apiserver pkg/admission/plugin/webhook/errors ToStatusErr).
fn webhook_denial(webhook: &str, message: &str) -> ApiError {
    ApiError::new(
        400,
        "",
        format!("admission webhook \"{webhook}\" denied the request: {message}"),
    )
}

/// Kyverno's verdict: None admits, Some((webhook, message)) denies. Policies are served by
/// two webhooks by failure policy (`validate.kyverno.svc-fail`, `validate.kyverno.svc-ignore`);
/// each blocks on its Enforce policies' failures, and the `-fail` one also on errors. The
/// message lists every non-passing, non-skipped rule of the blocking webhook's Enforce
/// policies (kyverno pkg/webhooks/utils/block.go GetBlockedMessages).
pub fn blocked(results: &[RuleResult], resource: &Value) -> Option<(String, String)> {
    let enforce = |fp: FailurePolicy| {
        results
            .iter()
            .filter(move |r| r.action == Action::Enforce && r.failure_policy == fp)
    };
    let fail_blocks =
        enforce(FailurePolicy::Fail).any(|r| matches!(r.status, Status::Fail | Status::Error));
    let ignore_blocks = enforce(FailurePolicy::Ignore).any(|r| r.status == Status::Fail);
    let (webhook, fp) = if fail_blocks {
        ("validate.kyverno.svc-fail", FailurePolicy::Fail)
    } else if ignore_blocks {
        ("validate.kyverno.svc-ignore", FailurePolicy::Ignore)
    } else {
        return None;
    };
    let mut failures: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for r in enforce(fp).filter(|r| !matches!(r.status, Status::Pass | Status::Skip)) {
        failures
            .entry(&r.policy)
            .or_default()
            .insert(&r.rule, &r.message);
    }
    let name = format!(
        "{}/{}/{}",
        kind_of(resource),
        meta(resource, "namespace"),
        meta(resource, "name")
    );
    Some((
        webhook.to_owned(),
        format!(
            "\n\nresource {name} was blocked due to the following policies \n\n{}",
            yaml_nested(&failures)
        ),
    ))
}

/// `validate.allowExistingViolations` (default true): on an UPDATE, an Enforce rule that
/// fails on the new object and already failed on the old one is skipped (kyverno
/// pkg/engine/handlers/validation/validate_resource.go: "skipping the rule evaluation as
/// pre-existing violations are allowed").
pub fn allow_existing_violations(
    results: &mut [RuleResult],
    before: &[RuleResult],
    policies: &[LoadedPolicy],
) {
    for r in results.iter_mut() {
        if r.action != Action::Enforce || r.status != Status::Fail {
            continue;
        }
        let allowed = policies
            .iter()
            .flat_map(|p| &p.set.policies)
            .filter(|p| p.name() == r.policy && p.namespace() == r.policy_namespace.as_deref())
            .flat_map(|p| &p.rules)
            .find(|cr| cr.rule.name == r.rule)
            .and_then(|cr| cr.rule.validate.as_ref())
            .and_then(|v| v.allow_existing_violations)
            != Some(false);
        let failed_before = before.iter().any(|b| {
            b.policy == r.policy
                && b.policy_namespace == r.policy_namespace
                && b.rule == r.rule
                && b.status == Status::Fail
        });
        if allowed && failed_before {
            r.status = Status::Skip;
            r.message =
                "skipping the rule evaluation as pre-existing violations are allowed".into();
        }
    }
}

/// `policy.rule: message` for each non-passing, non-skipped rule (kyverno
/// pkg/webhooks/utils/warning.go GetWarningMessages).
pub fn warnings(results: &[RuleResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| !matches!(r.status, Status::Pass | Status::Skip))
        .map(|r| format!("policy {}.{}: {}", r.policy, r.rule, r.message))
        .collect()
}

/// gopkg.in/yaml.v2's `Marshal` of a `map[string]map[string]string`: keys sorted, nested
/// mapping indented by 2, scalars plain when they can be, else single-quoted, else
/// double-quoted; long scalars folded at spaces past column 80 with the scalar's indent.
pub fn yaml_nested(m: &BTreeMap<&str, BTreeMap<&str, &str>>) -> String {
    let mut out = String::new();
    for (k, inner) in m {
        let mut col = 0;
        write_scalar(&mut out, &mut col, k, 2);
        out.push_str(":\n");
        for (rk, rv) in inner {
            out.push_str("  ");
            let mut col = 2;
            write_scalar(&mut out, &mut col, rk, 4);
            out.push_str(": ");
            col += 2;
            write_scalar(&mut out, &mut col, rv, 4);
            out.push('\n');
        }
    }
    out
}

fn resolves_to_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
            | "<<"
    ) || s.parse::<f64>().is_ok()
        || (s.starts_with("0x") && i64::from_str_radix(&s[2..], 16).is_ok())
}

enum Style {
    Plain,
    Single,
    Double,
}

fn style_of(s: &str) -> Style {
    let special = s
        .chars()
        .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}');
    if special || s.contains('\n') {
        return Style::Double;
    }
    if s.is_empty() || resolves_to_non_string(s) {
        return Style::Double;
    }
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    let indicator_start = "#,[]{}&*!|>'\"%@`".contains(first)
        || (matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' '));
    if indicator_start
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with("---")
        || s.starts_with("...")
    {
        return Style::Single;
    }
    Style::Plain
}

fn write_scalar(out: &mut String, col: &mut usize, s: &str, indent: usize) {
    const WIDTH: usize = 80;
    let chars: Vec<char> = s.chars().collect();
    let put = |out: &mut String, col: &mut usize, c: char| {
        out.push(c);
        *col += 1;
    };
    let break_line = |out: &mut String, col: &mut usize| {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        *col = indent;
    };
    match style_of(s) {
        Style::Plain | Style::Single => {
            let quoted = matches!(style_of(s), Style::Single);
            if quoted {
                put(out, col, '\'');
            }
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if c == ' ' {
                    let next_space = chars.get(i + 1) == Some(&' ');
                    let inner = !quoted || (i > 0 && i + 1 < chars.len());
                    if !spaces && *col > WIDTH && inner && !next_space {
                        break_line(out, col);
                    } else {
                        put(out, col, c);
                    }
                    spaces = true;
                } else {
                    if quoted && c == '\'' {
                        put(out, col, '\'');
                    }
                    put(out, col, c);
                    spaces = false;
                }
            }
            if quoted {
                put(out, col, '\'');
            }
        }
        Style::Double => {
            let text = serde_json::to_string(s).unwrap_or_default();
            out.push_str(&text);
            *col += text.chars().count();
        }
    }
}

impl AdmissionHook for PolicyAdmission {
    /// No ClusterPolicy or Policy is stored: `admit` admits everything at once.
    fn idle(&self) -> bool {
        let store = &self.state.store;
        store.count(CLUSTER_POLICIES) == 0 && store.count(POLICIES) == 0
    }

    fn admit(&self, req: &mut HookRequest<'_>) -> Result<Vec<String>, ApiError> {
        let operation = match req.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => return Ok(Vec::new()),
        };
        let ns = meta(req.object, "namespace").to_owned();
        if skipped(&req.resource.group, &req.resource.kind, &ns) {
            return Ok(Vec::new());
        }
        let policies = self.policies();
        if policies.is_empty() {
            return Ok(Vec::new());
        }
        let mut results: Vec<RuleResult> = self
            .evaluate(&policies, req.object, req.old, operation, |p| p.admission)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        if let Some(old) = req.old {
            let before: Vec<RuleResult> = self
                .evaluate(&policies, old, None, operation, |p| p.admission)
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            allow_existing_violations(&mut results, &before, &policies);
        }
        if let Some((webhook, message)) = blocked(&results, req.object) {
            return Err(webhook_denial(&webhook, &message));
        }
        Ok(warnings(&results))
    }
}

// ---------------------------------------------------------------------------------------
// Reports

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One `results[]` entry (kyverno pkg/utils/report ToPolicyReportResult).
pub fn report_result(p: &LoadedPolicy, r: &RuleResult, process: &str) -> Value {
    let mut result = r.status.as_str();
    if result == "fail" && !p.scored {
        result = "warn";
    }
    let mut v = json!({
        "source": "kyverno",
        "policy": p.key,
        "rule": r.rule,
        "result": result,
        "scored": p.scored,
        "timestamp": {"seconds": now_seconds(), "nanos": 0},
        "properties": {"process": process},
    });
    if !r.message.is_empty() {
        v["message"] = json!(r.message);
    }
    if !p.category.is_empty() {
        v["category"] = json!(p.category);
    }
    if matches!(
        p.severity.as_str(),
        "critical" | "high" | "medium" | "low" | "info"
    ) {
        v["severity"] = json!(p.severity);
    }
    v
}

fn result_key(v: &Value) -> (String, String) {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    (s("policy"), s("rule"))
}

/// `summary` of a report (kyverno pkg/utils/report CalculateSummary).
pub fn summary(results: &[Value]) -> Value {
    let n = |s: &str| {
        results
            .iter()
            .filter(|r| r.get("result").and_then(Value::as_str) == Some(s))
            .count()
    };
    json!({"pass": n("pass"), "fail": n("fail"), "warn": n("warn"), "error": n("error"), "skip": n("skip")})
}

/// Results without their timestamps, to tell whether a report changed.
fn comparable(results: &[Value]) -> Vec<Value> {
    results
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(m) = r.as_object_mut() {
                m.remove("timestamp");
            }
            r
        })
        .collect()
}

/// The report of `resource` with `results`: named after the resource's uid, owned by it,
/// `scope` naming it (kyverno pkg/controllers/report/utils, reportutils.NewPolicyReport).
pub fn report_object(resource: &Value, results: Vec<Value>, policies: &[LoadedPolicy]) -> Value {
    let ns = meta(resource, "namespace");
    let kind = if ns.is_empty() {
        "ClusterPolicyReport"
    } else {
        "PolicyReport"
    };
    let uid = meta(resource, "uid");
    let api_version = resource
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut labels = Map::new();
    labels.insert("app.kubernetes.io/managed-by".into(), json!(MANAGER));
    for r in &results {
        let key = result_key(r).0;
        if let Some(p) = policies.iter().find(|p| p.key == key) {
            let prefix = if p.namespace.is_empty() {
                "cpol"
            } else {
                "pol"
            };
            if p.name.len() <= 63 {
                labels.insert(
                    format!("{prefix}.kyverno.io/{}", p.name),
                    json!(p.resource_version),
                );
            }
        }
    }
    let mut scope = json!({
        "apiVersion": api_version,
        "kind": kind_of(resource),
        "name": meta(resource, "name"),
        "uid": uid,
    });
    let mut metadata = json!({
        "name": uid,
        "labels": labels,
        "ownerReferences": [{
            "apiVersion": api_version,
            "kind": kind_of(resource),
            "name": meta(resource, "name"),
            "uid": uid,
        }],
    });
    if !ns.is_empty() {
        scope["namespace"] = json!(ns);
        metadata["namespace"] = json!(ns);
    }
    let mut results = results;
    results.sort_by_key(result_key);
    json!({
        "apiVersion": format!("{REPORT_GROUP}/{REPORT_VERSION}"),
        "kind": kind,
        "metadata": metadata,
        "scope": scope,
        "summary": summary(&results),
        "results": results,
    })
}

fn write_opts() -> WriteOpts {
    WriteOpts {
        field_manager: MANAGER.into(),
        ..WriteOpts::default()
    }
}

impl PolicyAdmission {
    fn report_info(
        &self,
        namespaced: bool,
    ) -> Option<Arc<sluice_apiserver::resources::ResourceInfo>> {
        let kind = if namespaced {
            "PolicyReport"
        } else {
            "ClusterPolicyReport"
        };
        self.state.reg().by_kind(REPORT_GROUP, kind)
    }

    /// The stored report of `resource`, if any.
    pub fn report_of(&self, resource: &Value) -> Option<Arc<Value>> {
        let ns = meta(resource, "namespace");
        let info = self.report_info(!ns.is_empty())?;
        self.state.get(&info, ns, meta(resource, "uid")).ok()
    }

    /// Writes (or deletes, when there are no results) the report of `resource`, unless it
    /// already says the same.
    fn write_report(&self, resource: &Value, results: Vec<Value>, policies: &[LoadedPolicy]) {
        let ns = meta(resource, "namespace");
        let uid = meta(resource, "uid");
        let Some(info) = self.report_info(!ns.is_empty()) else {
            return;
        };
        let existing = self.state.get(&info, ns, uid).ok();
        if results.is_empty() {
            if existing.is_some() {
                let _ = self.state.delete(&info, ns, uid, &DeleteOpts::default());
            }
            return;
        }
        let mut report = report_object(resource, results, policies);
        match existing {
            Some(cur) => {
                let empty = Vec::new();
                let old = cur
                    .get("results")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                let new = report
                    .get("results")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if comparable(old) == comparable(new)
                    && cur.pointer("/metadata/labels") == report.pointer("/metadata/labels")
                {
                    return;
                }
                report["metadata"]["resourceVersion"] = json!(meta(&cur, "resourceVersion"));
                let _ =
                    self.state
                        .update(&info, REPORT_VERSION, ns, uid, report, None, &write_opts());
            }
            None => {
                let _ = self.state.create(
                    &info,
                    REPORT_VERSION,
                    (!ns.is_empty()).then_some(ns),
                    report,
                    &write_opts(),
                );
            }
        }
    }

    /// A resource was created or changed: its report holds every policy's results (admission
    /// review for the ones admission applies, background scan for the others).
    pub fn report_resource(&self, obj: &Value) {
        let policies = self.policies();
        let results: Vec<Value> = self
            .evaluate(&policies, obj, None, "CREATE", |p| {
                p.admission || p.background
            })
            .iter()
            .map(|(p, r)| {
                let process = if p.background {
                    "background scan"
                } else {
                    "admission review"
                };
                report_result(p, r, process)
            })
            .collect();
        self.write_report(obj, results, &policies);
    }

    /// Objects the reports cover: every stored object but the skipped kinds and quarantined
    /// objects (stored, but refused by today's checks).
    /// Each is parsed when the iterator reaches it: a large store is never held parsed.
    fn reportable(&self) -> impl Iterator<Item = Arc<Value>> + '_ {
        self.state
            .store
            .all()
            .into_iter()
            .map(|(key, _, _, o)| (key, Arc::new(o.value())))
            .filter(|(key, v)| !self.state.is_quarantined(key, v))
            .map(|(_, v)| v)
            .filter(|v| !skipped(&group_of(v), kind_of(v), meta(v, "namespace")))
    }

    /// A background scan of one policy (`Some(key)`), or of every background policy: each
    /// stored object's report gets that policy's current results (others' are kept).
    pub fn scan(&self, only: Option<&str>) {
        let policies = self.policies();
        let is_target = |p: &LoadedPolicy| p.background && only.is_none_or(|k| p.key == k);
        for obj in self.reportable() {
            // one object whose evaluation panics is skipped (and logged), not the scan
            let done = sluice_apiserver::supervise::isolate(|| {
                let fresh: Vec<Value> = self
                    .evaluate(&policies, &obj, None, "CREATE", is_target)
                    .iter()
                    .map(|(p, r)| report_result(p, r, "background scan"))
                    .collect();
                self.merge_results(&obj, only, fresh, &policies);
            });
            if let Err(panic) = done {
                sluice_apiserver::log_warning(format!(
                    "policy reports: scanning {} {}/{} panicked: {panic}",
                    kind_of(&obj),
                    meta(&obj, "namespace"),
                    meta(&obj, "name")
                ));
            }
        }
    }

    /// Replaces the results of `only` (or of all background policies) in `obj`'s report;
    /// results of deleted policies are dropped.
    fn merge_results(
        &self,
        obj: &Value,
        only: Option<&str>,
        fresh: Vec<Value>,
        policies: &[LoadedPolicy],
    ) {
        let existing = self.report_of(obj);
        if existing.is_none() && fresh.is_empty() {
            return;
        }
        let replaced = |key: &str| match only {
            Some(k) => key == k,
            None => policies.iter().any(|p| p.key == key && p.background),
        };
        let mut results: Vec<Value> = existing
            .as_ref()
            .and_then(|r| r.get("results").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                let key = result_key(r).0;
                !replaced(&key) && policies.iter().any(|p| p.key == key)
            })
            .collect();
        results.extend(fresh);
        self.write_report(obj, results, policies);
    }

    /// Handles one store event (the reporter's loop body).
    pub fn on_event(&self, ev: &Event) {
        let res = &*ev.resource;
        if res == CLUSTER_POLICIES || res == POLICIES {
            let obj = &ev.object.value();
            let ns = meta(obj, "namespace");
            let name = meta(obj, "name");
            let key = if ns.is_empty() {
                name.to_owned()
            } else {
                format!("{ns}/{name}")
            };
            // a deleted or changed policy: its results go (merge drops unknown policies) and
            // a background policy's are computed afresh
            self.scan(Some(&key));
            return;
        }
        // what decides whether the event matters is read without parsing the object (most
        // events are of runs, Pods and Events, and most clusters have few policies)
        let m = ev.object.meta();
        let group = m.api_version.split_once('/').map_or("", |(g, _)| g);
        let kind = {
            let (g, plural) = res.split_once('/').unwrap_or(("", res));
            self.state
                .reg()
                .by_group_resource(g, plural)
                .map(|i| i.kind.clone())
        };
        let kind = kind.unwrap_or_else(|| kind_of(&ev.object.value()).to_owned());
        if skipped(group, &kind, &m.namespace) {
            return;
        }
        match ev.ty {
            EventType::Added | EventType::Modified => {
                if m.deleting {
                    return;
                }
                if self.policies().is_empty() && !self.has_report(&m.namespace, &m.uid) {
                    return;
                }
                self.report_resource(&ev.object.value());
            }
            EventType::Deleted => {
                if let Some(info) = self.report_info(!m.namespace.is_empty()) {
                    let _ = self
                        .state
                        .delete(&info, &m.namespace, &m.uid, &DeleteOpts::default());
                }
            }
        }
    }

    /// Whether the object of this uid has a report.
    fn has_report(&self, namespace: &str, uid: &str) -> bool {
        self.report_info(!namespace.is_empty()).is_some_and(|info| {
            let key = sluice_apiserver::store::resource_key(&info.group, &info.plural);
            self.state.store.get_stored(&key, namespace, uid).is_some()
        })
    }

    /// Follows the store until it closes: a full background scan first, then one event at
    /// a time (a full scan again when the watch fell behind). An event whose handling panics
    /// is logged and skipped; run it under [`PolicyAdmission::spawn_reporter`] so that a
    /// panic anywhere else restarts it with a backoff instead of ending reports.
    pub fn run_reporter(&self) {
        let Ok((_, mut rx)) = self.state.store.watch(None) else {
            return;
        };
        self.scan(None);
        loop {
            match rx.blocking_recv() {
                Ok(ev) => {
                    if let Err(panic) = sluice_apiserver::supervise::isolate(|| self.on_event(&ev))
                    {
                        sluice_apiserver::log_warning(format!(
                            "policy reports: the event of {} {}/{} (resourceVersion {}) panicked: {panic}",
                            kind_of(&ev.object.value()),
                            ev.namespace,
                            meta(&ev.object.value(), "name"),
                            ev.rv
                        ));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self.scan(None),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// The reporter on its own thread, supervised: a panic restarts it after a backoff
    /// (1 s doubling to 60 s) and is logged; the API server keeps serving.
    pub fn spawn_reporter(self: &Arc<Self>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let me = self.clone();
        sluice_apiserver::supervise::thread(
            "policy-reports",
            sluice_apiserver::supervise::Backoff::default(),
            move || me.run_reporter(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_policy::ResourceRef;

    fn result(policy: &str, rule: &str, status: Status, action: Action, msg: &str) -> RuleResult {
        RuleResult {
            policy: policy.into(),
            policy_namespace: None,
            rule: rule.into(),
            status,
            message: msg.into(),
            action,
            failure_policy: FailurePolicy::Fail,
            resource: ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "default".into(),
                name: "x".into(),
            },
            autogen: false,
        }
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "default", "uid": "u-1"}})
    }

    // kyverno pkg/webhooks/utils/block.go GetBlockedMessages: "\n\nresource KIND/NS/NAME was
    // blocked due to the following policies \n\n" + yaml.v2 of policy -> rule -> message;
    // the long message folds at column 80 with a 4-space indent, as kubectl shows it:
    //   check-privileged-james-1: 'validation error: Privileged containers are not allowed.
    //     rule check-privileged-james-1 failed at path /spec/containers/'
    #[test]
    fn blocked_message_is_kyvernos() {
        let msg = "validation error: Images must come from approved registries. rule validate-registries failed at path /spec/initContainers/";
        let results = vec![
            result(
                "restrict-image-registries",
                "validate-registries",
                Status::Fail,
                Action::Enforce,
                msg,
            ),
            result("other", "audit-rule", Status::Fail, Action::Audit, "m"),
            result("other2", "ok", Status::Pass, Action::Enforce, "fine"),
        ];
        let (webhook, text) = blocked(&results, &pod()).expect("blocked");
        assert_eq!(webhook, "validate.kyverno.svc-fail");
        assert_eq!(
            text,
            "\n\nresource Pod/default/x was blocked due to the following policies \n\nrestrict-image-registries:\n  validate-registries: 'validation error: Images must come from approved registries.\n    rule validate-registries failed at path /spec/initContainers/'\n"
        );
        let e = webhook_denial(&webhook, &text);
        assert_eq!(e.code, 400);
        assert!(
            e.message
                .starts_with("admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/default/x")
        );
    }

    // The example of a yaml.v2 fold from a Kyverno denial (kubectl output quoted upstream).
    #[test]
    fn yaml_folds_like_yaml_v2() {
        let mut inner = BTreeMap::new();
        inner.insert(
            "check-privileged-james-1",
            "validation error: Privileged containers are not allowed. rule check-privileged-james-1 failed at path /spec/containers/",
        );
        let mut m = BTreeMap::new();
        m.insert("james-disallow-privileged-containers", inner);
        assert_eq!(
            yaml_nested(&m),
            "james-disallow-privileged-containers:\n  check-privileged-james-1: 'validation error: Privileged containers are not allowed.\n    rule check-privileged-james-1 failed at path /spec/containers/'\n"
        );
        let mut inner = BTreeMap::new();
        inner.insert("r", "plain text");
        inner.insert("s", "it's: quoted");
        inner.insert("t", "true");
        let mut m = BTreeMap::new();
        m.insert("p", inner);
        assert_eq!(
            yaml_nested(&m),
            "p:\n  r: plain text\n  s: 'it''s: quoted'\n  t: \"true\"\n"
        );
    }

    // Audit failures and Enforce passes never block; warnings list the non-passing rules
    // (kyverno pkg/webhooks/utils/warning.go GetWarningMessages).
    #[test]
    fn audit_failures_warn() {
        let results = vec![
            result("p", "r", Status::Fail, Action::Audit, "bad"),
            result("q", "s", Status::Pass, Action::Enforce, "ok"),
        ];
        assert!(blocked(&results, &pod()).is_none());
        assert_eq!(warnings(&results), ["policy p.r: bad"]);
        // an error under failurePolicy Ignore does not block
        let mut err = result("p", "r", Status::Error, Action::Enforce, "boom");
        err.failure_policy = FailurePolicy::Ignore;
        assert!(blocked(&[err.clone()], &pod()).is_none());
        err.failure_policy = FailurePolicy::Fail;
        assert_eq!(
            blocked(&[err], &pod()).map(|b| b.0),
            Some("validate.kyverno.svc-fail".to_owned())
        );
    }

    // kyverno pkg/utils/report: results sorted by policy and rule, summary counts, a fail of
    // an unscored policy is a warn, `process` property; the report is named after the
    // resource's uid with `scope` naming the resource.
    #[test]
    fn report_shape() {
        let pol = load(&json!({
            "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p", "resourceVersion": "7",
                         "annotations": {"policies.kyverno.io/scored": "false", "policies.kyverno.io/severity": "medium"}},
            "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                                "validate": {"message": "m", "pattern": {"metadata": {"labels": {"a": "?*"}}}}}]},
        }))
        .expect("compiles");
        assert_eq!(pol.key, "p");
        assert!(pol.background && pol.admission && !pol.scored);
        let fail = result("p", "r", Status::Fail, Action::Audit, "bad");
        let pass = result("p", "a", Status::Pass, Action::Audit, "");
        let results = vec![
            report_result(&pol, &fail, "background scan"),
            report_result(&pol, &pass, "background scan"),
        ];
        assert_eq!(results[0]["result"], "warn");
        assert_eq!(results[0]["severity"], "medium");
        assert_eq!(results[0]["source"], "kyverno");
        assert_eq!(results[0]["properties"]["process"], "background scan");
        let r = report_object(&pod(), results, std::slice::from_ref(&pol));
        assert_eq!(r["kind"], "PolicyReport");
        assert_eq!(r["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(r["metadata"]["name"], "u-1");
        assert_eq!(r["metadata"]["namespace"], "default");
        assert_eq!(r["metadata"]["labels"]["cpol.kyverno.io/p"], "7");
        assert_eq!(
            r["scope"],
            json!({"apiVersion": "v1", "kind": "Pod", "name": "x", "namespace": "default", "uid": "u-1"})
        );
        assert_eq!(r["results"][0]["rule"], "a");
        assert_eq!(
            r["summary"],
            json!({"pass": 1, "fail": 0, "warn": 1, "error": 0, "skip": 0})
        );
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "uid": "u-2"}});
        assert_eq!(
            report_object(&ns, vec![], &[])["kind"],
            "ClusterPolicyReport"
        );
    }

    // kyverno validate_resource.go: Enforce + UPDATE + allowExistingViolations (default true):
    // failing before and after is a skip; `allowExistingViolations: false` keeps the fail.
    #[test]
    fn existing_violations_are_allowed_on_update() {
        let policy = |allow: &str| {
            load(&json!({
                "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                "metadata": {"name": "p"},
                "spec": {"validationFailureAction": "Enforce", "rules": [{"name": "r",
                    "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "validate": serde_json::from_str::<Value>(&format!(
                        "{{\"message\": \"m\", {allow} \"pattern\": {{\"metadata\": {{\"labels\": {{\"a\": \"?*\"}}}}}}}}"
                    )).expect("json")}]},
            }))
            .expect("compiles")
        };
        let fail = result("p", "r", Status::Fail, Action::Enforce, "bad");
        let mut now = vec![fail.clone()];
        allow_existing_violations(&mut now, std::slice::from_ref(&fail), &[policy("")]);
        assert_eq!(now[0].status, Status::Skip);
        let mut now = vec![fail.clone()];
        allow_existing_violations(
            &mut now,
            std::slice::from_ref(&fail),
            &[policy("\"allowExistingViolations\": false,")],
        );
        assert_eq!(now[0].status, Status::Fail);
        let pass = result("p", "r", Status::Pass, Action::Enforce, "");
        let mut now = vec![fail.clone()];
        allow_existing_violations(&mut now, &[pass], &[policy("")]);
        assert_eq!(now[0].status, Status::Fail);
    }

    // Issue 18: a policy stored before the nesting limit existed (2,000-deep JMESPath) is
    // skipped when policies are loaded, on a stack smaller than the reporter thread's, and a
    // policy that multiplies its input evaluates to a rule error there.
    #[test]
    fn deep_or_exploding_stored_policies_cannot_crash_the_reporter() {
        let policy = |key: String| {
            json!({
                "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                "metadata": {"name": "p"},
                "spec": {"validationFailureAction": "Enforce", "rules": [{"name": "r",
                    "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "validate": {"message": "m", "deny": {"conditions": {"all": [
                        {"key": key, "operator": "Equals", "value": "x"}]}}}}]},
            })
        };
        let mut deep = "request.object.metadata.name".to_owned();
        for _ in 0..2000 {
            deep = format!("to_string({deep})");
        }
        let deep = policy(format!("{{{{ {deep} }}}}"));
        let bomb = policy(format!(
            "{{{{ request.object{} }}}}",
            " | [@, @]".repeat(40)
        ));
        let (skipped, results) = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let loaded = load(&bomb).expect("the bomb parses");
                let user = sluice_policy::UserInfo::default();
                let obj = pod();
                let req = sluice_policy::AdmissionRequest::create(&obj, &user);
                (
                    load(&deep).is_none(),
                    sluice_policy::evaluate(&loaded.set, &req),
                )
            })
            .expect("thread")
            .join()
            .expect("no overflow");
        assert!(skipped);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].status, Status::Error, "{:?}", results[0]);
        assert!(blocked(&results, &pod()).is_some());
    }

    #[test]
    fn kyverno_kinds_and_system_namespaces_are_skipped() {
        assert!(skipped("kyverno.io", "ClusterPolicy", ""));
        assert!(skipped("wgpolicyk8s.io", "PolicyReport", "default"));
        assert!(skipped("", "Event", "default"));
        assert!(skipped("coordination.k8s.io", "Lease", "default"));
        assert!(skipped("", "Pod", "kube-system"));
        assert!(!skipped("", "Pod", "default"));
    }
}
