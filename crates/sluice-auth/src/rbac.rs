//! Kubernetes RBAC (kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go and
//! pkg/apis/rbac/v1/evaluation_helpers.go): a request is allowed when a rule of a role bound
//! to the user (ClusterRoleBindings everywhere, RoleBindings in their namespace) matches its
//! verb, API group, resource (`*`, `pods/log`, `*/scale`), name and non-resource URL
//! (`/healthz/*` prefixes). Aggregated ClusterRoles take the rules of the ClusterRoles their
//! `aggregationRule` selects. RBAC only allows; nothing denies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::UserInfo;

/// `rbac.authorization.k8s.io/v1 PolicyRule`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(
        default,
        rename = "nonResourceURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
}

/// What a request asks (kube-apiserver's `authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub resource_request: bool,
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// The URL path of a non-resource request.
    pub path: String,
}

impl Attributes {
    pub fn resource(verb: &str, group: &str, resource: &str, namespace: &str) -> Self {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        Attributes {
            verb: verb.to_owned(),
            resource_request: true,
            namespace: namespace.to_owned(),
            api_group: group.to_owned(),
            resource: resource.to_owned(),
            subresource: sub.to_owned(),
            ..Default::default()
        }
    }

    pub fn non_resource(verb: &str, path: &str) -> Self {
        Attributes {
            verb: verb.to_owned(),
            path: path.to_owned(),
            ..Default::default()
        }
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// kube-apiserver's forbidden message (apiserver/pkg/endpoints/handlers/responsewriters/
    /// errors.go `forbiddenMessage`).
    pub fn forbidden_message(&self, username: &str) -> String {
        if !self.resource_request {
            return format!(
                "User {username:?} cannot {} path {:?}",
                self.verb, self.path
            );
        }
        let mut resource = self.resource.clone();
        if !self.subresource.is_empty() {
            resource = format!("{resource}/{}", self.subresource);
        }
        if self.namespace.is_empty() {
            format!(
                "User {username:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                self.verb, self.api_group
            )
        } else {
            format!(
                "User {username:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                self.verb, self.api_group, self.namespace
            )
        }
    }
}

fn has(list: &[String], s: &str) -> bool {
    list.iter().any(|x| x == s)
}

pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

/// `ResourceMatches`: `*`, the exact `resource` or `resource/sub`, or `*/sub`.
pub fn resource_matches(rule: &PolicyRule, combined: &str, sub: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == "*"
            || r == combined
            || (!sub.is_empty()
                && r.len() == sub.len() + 2
                && r.starts_with("*/")
                && r.ends_with(sub))
    })
}

pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || has(&rule.resource_names, name)
}

/// `NonResourceURLMatches`: `*`, the exact path, or a prefix ending in `*`.
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| {
        u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// `RuleAllows`.
pub fn rule_allows(a: &Attributes, rule: &PolicyRule) -> bool {
    if a.resource_request {
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        verb_matches(rule, &a.verb)
            && api_group_matches(rule, &a.api_group)
            && resource_matches(rule, &combined, &a.subresource)
            && resource_name_matches(rule, &a.name)
    } else {
        verb_matches(rule, &a.verb) && non_resource_url_matches(rule, &a.path)
    }
}

/// A binding's subject.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

/// A RoleBinding or ClusterRoleBinding, reduced to what decides.
#[derive(Debug, Clone)]
pub struct Binding {
    pub name: String,
    /// Empty for a ClusterRoleBinding.
    pub namespace: String,
    pub role_kind: String,
    pub role_name: String,
}

/// The username of a ServiceAccount (`system:serviceaccount:NS:NAME`).
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// An index of the RBAC objects for fast decisions: bindings by the subject they name.
#[derive(Debug, Default, Clone)]
pub struct Rbac {
    cluster_roles: HashMap<String, Arc<Vec<PolicyRule>>>,
    roles: HashMap<(String, String), Arc<Vec<PolicyRule>>>,
    /// subject key (`u:NAME`, `g:NAME`) -> ClusterRoleBindings.
    cluster_bindings: HashMap<String, Vec<Arc<Binding>>>,
    /// (namespace, subject key) -> RoleBindings.
    bindings: HashMap<(String, String), Vec<Arc<Binding>>>,
}

/// Why a request is allowed (or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"` as upstream.
    pub reason: String,
}

fn rules_of(v: &Value) -> Vec<PolicyRule> {
    v.get("rules")
        .and_then(|r| serde_json::from_value::<Vec<PolicyRule>>(r.clone()).ok())
        .unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Whether a label selector (`matchLabels`, `matchExpressions`) selects `labels`.
pub fn selector_matches(sel: &Value, labels: &BTreeMap<String, String>) -> bool {
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = str_at(e, "/key");
            let vals: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let got = labels.get(key);
            let ok = match str_at(e, "/operator") {
                "In" => got.is_some_and(|g| vals.contains(&g.as_str())),
                "NotIn" => got.is_none_or(|g| !vals.contains(&g.as_str())),
                "Exists" => got.is_some(),
                "DoesNotExist" => got.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    // an empty selector selects nothing for aggregation (the controller skips it)
    sel.get("matchLabels")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
        || sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .is_some_and(|m| !m.is_empty())
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The rules of each ClusterRole, aggregated ClusterRoles given the rules of the
/// ClusterRoles their `aggregationRule.clusterRoleSelectors` select, in name order without
/// duplicates (kubernetes pkg/controller/clusterroleaggregation). Aggregation is one level
/// deep over the stored rules, then repeated until nothing changes, so an aggregated role
/// selected by another passes its aggregated rules on.
pub fn aggregate(cluster_roles: &[Value]) -> BTreeMap<String, Vec<PolicyRule>> {
    let mut rules: BTreeMap<String, Vec<PolicyRule>> = cluster_roles
        .iter()
        .map(|c| (str_at(c, "/metadata/name").to_owned(), rules_of(c)))
        .collect();
    let labels: BTreeMap<String, BTreeMap<String, String>> = cluster_roles
        .iter()
        .map(|c| (str_at(c, "/metadata/name").to_owned(), labels_of(c)))
        .collect();
    for _ in 0..8 {
        let mut changed = false;
        for c in cluster_roles {
            let Some(sels) = c
                .pointer("/aggregationRule/clusterRoleSelectors")
                .and_then(Value::as_array)
            else {
                continue;
            };
            let me = str_at(c, "/metadata/name");
            let mut agg: Vec<PolicyRule> = Vec::new();
            for (name, l) in &labels {
                if name != me && sels.iter().any(|s| selector_matches(s, l)) {
                    for r in rules.get(name).into_iter().flatten() {
                        if !agg.contains(r) {
                            agg.push(r.clone());
                        }
                    }
                }
            }
            if rules.get(me) != Some(&agg) {
                rules.insert(me.to_owned(), agg);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rules
}

impl Rbac {
    /// Indexes the four RBAC kinds (objects as stored: `apiVersion`, `kind`, `metadata`...).
    pub fn new(
        roles: &[Value],
        cluster_roles: &[Value],
        bindings: &[Value],
        cluster_bindings: &[Value],
    ) -> Self {
        let mut r = Rbac::default();
        for (name, rules) in aggregate(cluster_roles) {
            r.cluster_roles.insert(name, Arc::new(rules));
        }
        for role in roles {
            r.roles.insert(
                (
                    str_at(role, "/metadata/namespace").to_owned(),
                    str_at(role, "/metadata/name").to_owned(),
                ),
                Arc::new(rules_of(role)),
            );
        }
        for (objs, cluster) in [(bindings, false), (cluster_bindings, true)] {
            for b in objs {
                let ns = if cluster {
                    ""
                } else {
                    str_at(b, "/metadata/namespace")
                };
                let binding = Arc::new(Binding {
                    name: str_at(b, "/metadata/name").to_owned(),
                    namespace: ns.to_owned(),
                    role_kind: str_at(b, "/roleRef/kind").to_owned(),
                    role_name: str_at(b, "/roleRef/name").to_owned(),
                });
                let subjects: Vec<Subject> = b
                    .get("subjects")
                    .and_then(|s| serde_json::from_value(s.clone()).ok())
                    .unwrap_or_default();
                for s in subjects {
                    let key = match s.kind.as_str() {
                        "User" => format!("u:{}", s.name),
                        "Group" => format!("g:{}", s.name),
                        "ServiceAccount" => {
                            let sns = if s.namespace.is_empty() {
                                ns
                            } else {
                                s.namespace.as_str()
                            };
                            if sns.is_empty() {
                                continue;
                            }
                            format!("u:{}", service_account_username(sns, &s.name))
                        }
                        _ => continue,
                    };
                    if cluster {
                        r.cluster_bindings
                            .entry(key)
                            .or_default()
                            .push(binding.clone());
                    } else {
                        r.bindings
                            .entry((ns.to_owned(), key))
                            .or_default()
                            .push(binding.clone());
                    }
                }
            }
        }
        r
    }

    fn keys(user: &UserInfo) -> Vec<String> {
        let mut k = vec![format!("u:{}", user.username)];
        k.extend(user.groups.iter().map(|g| format!("g:{g}")));
        k
    }

    fn role_rules(&self, b: &Binding) -> Option<&Arc<Vec<PolicyRule>>> {
        match b.role_kind.as_str() {
            "ClusterRole" => self.cluster_roles.get(&b.role_name),
            "Role" if !b.namespace.is_empty() => {
                self.roles.get(&(b.namespace.clone(), b.role_name.clone()))
            }
            _ => None,
        }
    }

    /// Visits the bindings that apply to `user` in `namespace` (ClusterRoleBindings first),
    /// with their rules, until `f` returns true.
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        mut f: impl FnMut(&Binding, &[PolicyRule]) -> bool,
    ) -> bool {
        let keys = Self::keys(user);
        for k in &keys {
            for b in self.cluster_bindings.get(k).into_iter().flatten() {
                if let Some(rules) = self.role_rules(b)
                    && f(b, rules)
                {
                    return true;
                }
            }
        }
        if !namespace.is_empty() {
            for k in keys {
                for b in self
                    .bindings
                    .get(&(namespace.to_owned(), k))
                    .into_iter()
                    .flatten()
                {
                    if let Some(rules) = self.role_rules(b)
                        && f(b, rules)
                    {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The RBAC decision for a request.
    pub fn authorize(&self, user: &UserInfo, a: &Attributes) -> Decision {
        let mut reason = String::new();
        let allowed = self.visit(user, &a.namespace, |b, rules| {
            if rules.iter().any(|r| rule_allows(a, r)) {
                let kind = if b.namespace.is_empty() {
                    "ClusterRoleBinding"
                } else {
                    "RoleBinding"
                };
                let at = if b.namespace.is_empty() {
                    String::new()
                } else {
                    format!(" of {} {:?}", b.role_kind, b.role_name)
                };
                reason = if b.namespace.is_empty() {
                    format!(
                        "RBAC: allowed by {kind} {:?} of ClusterRole {:?} to {:?}",
                        b.name, b.role_name, user.username
                    )
                } else {
                    format!(
                        "RBAC: allowed by {kind} {:?}{at} in namespace {:?}",
                        b.name, b.namespace
                    )
                };
                true
            } else {
                false
            }
        });
        Decision { allowed, reason }
    }

    /// Every rule that applies to `user` in `namespace` (empty: cluster-wide bindings only),
    /// as `kubectl auth can-i --list` shows them (SelfSubjectRulesReview).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        let mut out: Vec<PolicyRule> = Vec::new();
        self.visit(user, namespace, |_, rules| {
            for r in rules {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
            false
        });
        out
    }

    /// The rules of a ClusterRole (aggregated), or of a Role in `namespace`.
    pub fn role(&self, kind: &str, namespace: &str, name: &str) -> Option<Vec<PolicyRule>> {
        match kind {
            "ClusterRole" => self.cluster_roles.get(name).map(|r| r.to_vec()),
            "Role" => self
                .roles
                .get(&(namespace.to_owned(), name.to_owned()))
                .map(|r| r.to_vec()),
            _ => None,
        }
    }
}

fn covers_list(owner: &[String], servant: &str) -> bool {
    owner.iter().any(|o| o == "*" || o == servant)
}

/// `ruleCovers` of kubernetes pkg/registry/rbac/validation/policy_compact.go / policy_comparator:
/// whether `owner` grants everything the single-valued rule `s` grants.
fn rule_covers(owner: &PolicyRule, s: &PolicyRule) -> bool {
    let verbs = s.verbs.iter().all(|v| covers_list(&owner.verbs, v));
    let urls = s.non_resource_urls.iter().all(|u| {
        owner.non_resource_urls.iter().any(|o| {
            o == "*" || o == u || (o.ends_with('*') && u.starts_with(o.trim_end_matches('*')))
        })
    });
    let groups = s
        .api_groups
        .iter()
        .all(|g| covers_list(&owner.api_groups, g));
    let resources = s.resources.iter().all(|r| {
        owner.resources.iter().any(|o| {
            o == "*"
                || o == r
                || (o.starts_with("*/") && r.split_once('/').is_some_and(|(_, sub)| sub == &o[2..]))
                || (o.ends_with("/*")
                    && r.split_once('/')
                        .is_some_and(|(res, _)| res == &o[..o.len() - 2]))
        })
    });
    let names = owner.resource_names.is_empty()
        || (!s.resource_names.is_empty()
            && s.resource_names
                .iter()
                .all(|n| has(&owner.resource_names, n)));
    verbs && urls && groups && resources && names
}

/// Splits rules into rules of one verb, group, resource, name or URL each
/// (`BreakdownRule`).
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                let one = |names: Vec<String>| PolicyRule {
                    verbs: vec![v.clone()],
                    api_groups: vec![g.clone()],
                    resources: vec![r.clone()],
                    resource_names: names,
                    non_resource_urls: vec![],
                };
                if rule.resource_names.is_empty() {
                    out.push(one(vec![]));
                } else {
                    for n in &rule.resource_names {
                        out.push(one(vec![n.clone()]));
                    }
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(PolicyRule {
                verbs: vec![v.clone()],
                non_resource_urls: vec![u.clone()],
                ..Default::default()
            });
        }
    }
    out
}

/// `Covers`: whether `owner` grants every rule of `servant`; the rules it does not cover,
/// for the escalation error.
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let mut missing = Vec::new();
    for r in servant {
        for piece in breakdown(r) {
            if !owner.iter().any(|o| rule_covers(o, &piece)) {
                missing.push(piece);
            }
        }
    }
    (missing.is_empty(), missing)
}

/// A rule as kube-apiserver prints it in an escalation error (`{APIGroups:["apps"],
/// Resources:["deployments"], Verbs:["create"]}`).
pub fn compact_string(r: &PolicyRule) -> String {
    let q = |l: &[String]| {
        l.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut parts = Vec::new();
    if !r.api_groups.is_empty() {
        parts.push(format!("APIGroups:[{}]", q(&r.api_groups)));
    }
    if !r.resources.is_empty() {
        parts.push(format!("Resources:[{}]", q(&r.resources)));
    }
    if !r.resource_names.is_empty() {
        parts.push(format!("ResourceNames:[{}]", q(&r.resource_names)));
    }
    if !r.non_resource_urls.is_empty() {
        parts.push(format!("NonResourceURLs:[{}]", q(&r.non_resource_urls)));
    }
    parts.push(format!("Verbs:[{}]", q(&r.verbs)));
    format!("{{{}}}", parts.join(", "))
}

/// Checks of one RBAC object (Role, ClusterRole, RoleBinding, ClusterRoleBinding) as
/// kube-apiserver validates them (pkg/apis/rbac/validation): (field path, message).
pub fn validate_object(obj: &Value) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let kind = str_at(obj, "/kind");
    match kind {
        "Role" | "ClusterRole" => {
            let rules = obj
                .get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, r) in rules.iter().enumerate() {
                let p = format!("rules[{i}]");
                let rule: PolicyRule = match serde_json::from_value(r.clone()) {
                    Ok(x) => x,
                    Err(e) => {
                        errs.push((p, format!("Invalid value: {e}")));
                        continue;
                    }
                };
                if rule.verbs.is_empty() {
                    errs.push((
                        format!("{p}.verbs"),
                        "Required value: verbs must contain at least one value".into(),
                    ));
                }
                if !rule.non_resource_urls.is_empty() {
                    if kind == "Role" {
                        errs.push((
                            format!("{p}.nonResourceURLs"),
                            "Invalid value: namespaced rules cannot apply to non-resource URLs"
                                .into(),
                        ));
                    }
                    if !rule.api_groups.is_empty() || !rule.resources.is_empty() {
                        errs.push((format!("{p}.nonResourceURLs"), "Invalid value: rules cannot apply to both regular resources and non-resource URLs".into()));
                    }
                    continue;
                }
                if rule.api_groups.is_empty() {
                    errs.push((
                        format!("{p}.apiGroups"),
                        "Required value: resource rules must supply at least one api group".into(),
                    ));
                }
                if rule.resources.is_empty() {
                    errs.push((
                        format!("{p}.resources"),
                        "Required value: resource rules must supply at least one resource".into(),
                    ));
                }
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let rk = str_at(obj, "/roleRef/kind");
            if str_at(obj, "/roleRef/apiGroup") != "rbac.authorization.k8s.io" {
                errs.push((
                    "roleRef.apiGroup".into(),
                    "Unsupported value: supported values: \"rbac.authorization.k8s.io\"".into(),
                ));
            }
            let allowed: &[&str] = if kind == "RoleBinding" {
                &["Role", "ClusterRole"]
            } else {
                &["ClusterRole"]
            };
            if !allowed.contains(&rk) {
                errs.push((
                    "roleRef.kind".into(),
                    format!(
                        "Unsupported value: {rk:?}: supported values: {}",
                        allowed
                            .iter()
                            .map(|a| format!("{a:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if str_at(obj, "/roleRef/name").is_empty() {
                errs.push(("roleRef.name".into(), "Required value".into()));
            }
            let subjects = obj
                .get("subjects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, s) in subjects.iter().enumerate() {
                let p = format!("subjects[{i}]");
                let sk = str_at(s, "/kind");
                if str_at(s, "/name").is_empty() {
                    errs.push((format!("{p}.name"), "Required value".into()));
                }
                match sk {
                    "ServiceAccount" => {
                        if kind == "ClusterRoleBinding" && str_at(s, "/namespace").is_empty() {
                            errs.push((format!("{p}.namespace"), "Required value".into()));
                        }
                    }
                    "User" | "Group" => {
                        // empty is defaulted to rbac.authorization.k8s.io (SetDefaults_Subject)
                        let g = str_at(s, "/apiGroup");
                        if !g.is_empty() && g != "rbac.authorization.k8s.io" {
                            errs.push((format!("{p}.apiGroup"), "Unsupported value: supported values: \"rbac.authorization.k8s.io\"".into()));
                        }
                    }
                    other => errs.push((format!("{p}.kind"), format!("Unsupported value: {other:?}: supported values: \"ServiceAccount\", \"User\", \"Group\""))),
                }
            }
        }
        _ => {}
    }
    errs
}
