//! Audit policy and events, as kube-apiserver's (docs "Auditing"; types audit.k8s.io/v1
//! `Policy` and `Event`; matching of staging/src/k8s.io/apiserver/pkg/audit/policy/checker.go).
//!
//! Pure: the policy is parsed from text and decides a level per request; events are built
//! as JSON values from what the caller observed. Writing them is [`crate::audit_log`]'s.
//!
//! Sluice's one departure: a Secret (core `secrets`, any subresource) is logged at most at
//! `Metadata` unless the matching rule names `secrets` of the core group explicitly in its
//! `resources`; a catch-all `RequestResponse` rule does not put Secret data in the log.

use serde_json::{Map, Value, json};
use sluice_auth::UserInfo;
use sluice_auth::rbac::Attributes;

use crate::encryption::{ConfigError, Doc, Seg};

/// How much of a request is logged (ordered: `None` < `Metadata` < `Request` <
/// `RequestResponse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "None" => Level::None,
            "Metadata" => Level::Metadata,
            "Request" => Level::Request,
            "RequestResponse" => Level::RequestResponse,
            _ => return None,
        })
    }
}

/// Stages of a request an event is written at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "RequestReceived" => Stage::RequestReceived,
            "ResponseStarted" => Stage::ResponseStarted,
            "ResponseComplete" => Stage::ResponseComplete,
            "Panic" => Stage::Panic,
            _ => return None,
        })
    }
}

/// `GroupResources` of a rule.
#[derive(Debug, Clone, Default)]
pub struct GroupResources {
    pub group: String,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// `PolicyRule`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub level: Level,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    pub namespaces: Vec<String>,
    pub non_resource_urls: Vec<String>,
    /// The rule's and the policy's, united (`NewChecker`).
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: Option<bool>,
}

/// `Policy`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: bool,
}

/// What the policy says of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub level: Level,
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: bool,
}

impl Decision {
    pub fn logs(&self, stage: Stage) -> bool {
        self.level > Level::None && !self.omit_stages.contains(&stage)
    }
}

fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*"
        || spec == path
        || (spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*')))
}

fn rule_matches(r: &Rule, user: &UserInfo, a: &Attributes) -> bool {
    if !r.users.is_empty() && !r.users.contains(&user.username) {
        return false;
    }
    if !r.user_groups.is_empty() && !user.groups.iter().any(|g| r.user_groups.contains(g)) {
        return false;
    }
    if !r.verbs.is_empty() && !r.verbs.contains(&a.verb) {
        return false;
    }
    if !r.namespaces.is_empty() || !r.resources.is_empty() {
        if !a.resource_request {
            return false;
        }
        if !r.namespaces.is_empty() && !r.namespaces.contains(&a.namespace) {
            return false;
        }
        if r.resources.is_empty() {
            return true;
        }
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        return r.resources.iter().any(|gr| {
            gr.group == a.api_group
                && (gr.resources.is_empty()
                    || gr.resources.iter().any(|res| {
                        (gr.resource_names.is_empty() || gr.resource_names.contains(&a.name))
                            && (*res == combined
                                || res == "*"
                                || (!a.subresource.is_empty()
                                    && res.strip_prefix("*/") == Some(a.subresource.as_str()))
                                || res.strip_suffix("/*") == Some(a.resource.as_str()))
                    }))
        });
    }
    if !r.non_resource_urls.is_empty() {
        return !a.resource_request && r.non_resource_urls.iter().any(|s| path_matches(&a.path, s));
    }
    true
}

/// Whether the rule names core `secrets` itself (not by `*` or by matching every resource).
fn names_secrets(r: &Rule) -> bool {
    r.resources.iter().any(|gr| {
        gr.group.is_empty()
            && gr
                .resources
                .iter()
                .any(|res| res == "secrets" || res.starts_with("secrets/"))
    })
}

impl Policy {
    /// The level and omitted stages of a request (`policyChecker.LevelAndStages`: the first
    /// rule that matches wins; none: `None`), with Secrets capped at `Metadata` unless the
    /// rule names them.
    pub fn decide(&self, user: &UserInfo, a: &Attributes) -> Decision {
        for r in &self.rules {
            if rule_matches(r, user, a) {
                let mut level = r.level;
                if a.resource_request
                    && a.api_group.is_empty()
                    && a.resource == "secrets"
                    && level > Level::Metadata
                    && !names_secrets(r)
                {
                    level = Level::Metadata;
                }
                return Decision {
                    level,
                    omit_stages: r.omit_stages.clone(),
                    omit_managed_fields: r.omit_managed_fields.unwrap_or(self.omit_managed_fields),
                };
            }
        }
        Decision {
            level: Level::None,
            omit_stages: self.omit_stages.clone(),
            omit_managed_fields: self.omit_managed_fields,
        }
    }
}

fn stages(d: &mut Doc<'_>, path: &[Seg]) -> Vec<Stage> {
    let mut out = Vec::new();
    for (i, s) in d.strings(path).into_iter().enumerate() {
        match Stage::parse(&s) {
            Some(st) => out.push(st),
            None => {
                let mut p = path.to_vec();
                p.push(Seg::I(i));
                d.err(
                    &p,
                    format!(
                        "Unsupported value: {s:?}: supported values: \"RequestReceived\", \"ResponseStarted\", \"ResponseComplete\", \"Panic\""
                    ),
                );
            }
        }
    }
    out
}

fn boolean(d: &mut Doc<'_>, path: &[Seg]) -> Option<bool> {
    match d.at(path) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            d.err(path, "expected true or false");
            None
        }
    }
}

/// Parses and checks an `audit.k8s.io/v1` `Policy` (`policy.LoadPolicyFromBytes`: at least
/// one rule; apis/audit/validation: levels, stages, resource and non-resource rules apart).
pub fn parse(file: &str, text: &str) -> Result<Policy, ConfigError> {
    let mut d = Doc::load(file, text, "audit.k8s.io/v1", "Policy")?;
    d.fields(
        &[],
        &[
            "apiVersion",
            "kind",
            "metadata",
            "rules",
            "omitStages",
            "omitManagedFields",
        ],
    );
    let omit = stages(&mut d, &[Seg::K("omitStages")]);
    let omit_managed_fields = boolean(&mut d, &[Seg::K("omitManagedFields")]).unwrap_or(false);
    let n = d.list(&[Seg::K("rules")]);
    let mut rules = Vec::new();
    for i in 0..n {
        let base = [Seg::K("rules"), Seg::I(i)];
        if !d.fields(
            &base,
            &[
                "level",
                "users",
                "userGroups",
                "verbs",
                "resources",
                "namespaces",
                "nonResourceURLs",
                "omitStages",
                "omitManagedFields",
            ],
        ) {
            continue;
        }
        let p = |k: &'static str| [Seg::K("rules"), Seg::I(i), Seg::K(k)];
        let level = match d.string(&p("level")) {
            None => {
                d.err(&p("level"), "Required value");
                Level::None
            }
            Some(l) => Level::parse(&l).unwrap_or_else(|| {
                d.err(
                    &p("level"),
                    format!(
                        "Unsupported value: {l:?}: supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\""
                    ),
                );
                Level::None
            }),
        };
        let mut omit_stages = stages(&mut d, &p("omitStages"));
        for s in &omit {
            if !omit_stages.contains(s) {
                omit_stages.push(*s);
            }
        }
        let nr = d.list(&p("resources"));
        let mut resources = Vec::new();
        for j in 0..nr {
            let gp = [Seg::K("rules"), Seg::I(i), Seg::K("resources"), Seg::I(j)];
            if !d.fields(&gp, &["group", "resources", "resourceNames"]) {
                continue;
            }
            let q = |k: &'static str| {
                [
                    Seg::K("rules"),
                    Seg::I(i),
                    Seg::K("resources"),
                    Seg::I(j),
                    Seg::K(k),
                ]
            };
            let gr = GroupResources {
                group: d.string(&q("group")).unwrap_or_default(),
                resources: d.strings(&q("resources")),
                resource_names: d.strings(&q("resourceNames")),
            };
            for (k, r) in gr.resources.iter().enumerate() {
                if r.contains('*') && !(r == "*" || r.starts_with("*/") || r.ends_with("/*")) {
                    let mut rp = q("resources").to_vec();
                    rp.push(Seg::I(k));
                    d.err(
                        &rp,
                        format!("Invalid value: {r:?}: a wildcard may only be \"*\", \"*/subresource\" or \"resource/*\""),
                    );
                }
            }
            resources.push(gr);
        }
        let rule = Rule {
            level,
            users: d.strings(&p("users")),
            user_groups: d.strings(&p("userGroups")),
            verbs: d.strings(&p("verbs")),
            namespaces: d.strings(&p("namespaces")),
            non_resource_urls: d.strings(&p("nonResourceURLs")),
            resources,
            omit_stages,
            omit_managed_fields: boolean(&mut d, &p("omitManagedFields")),
        };
        if !rule.non_resource_urls.is_empty()
            && (!rule.resources.is_empty() || !rule.namespaces.is_empty())
        {
            d.err(
                &p("nonResourceURLs"),
                "Invalid value: rules cannot apply to both regular resources and non-resource URLs",
            );
        }
        for (k, u) in rule.non_resource_urls.iter().enumerate() {
            if u.find('*').is_some_and(|at| at != u.len() - 1) {
                let mut up = p("nonResourceURLs").to_vec();
                up.push(Seg::I(k));
                d.err(
                    &up,
                    format!("Invalid value: {u:?}: non-resource URL rules may only use wildcards ('*') at the end"),
                );
            }
        }
        rules.push(rule);
    }
    if n == 0 && d.errors.is_empty() {
        d.err(
            &[Seg::K("rules")],
            "loaded illegal policy with 0 rules (a policy needs at least one rule)",
        );
    }
    if !d.errors.is_empty() {
        return Err(ConfigError(d.errors));
    }
    Ok(Policy {
        rules,
        omit_stages: omit,
        omit_managed_fields,
    })
}

/// What the server observed of one request, for its events.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub audit_id: &'a str,
    pub request_uri: &'a str,
    pub user: &'a UserInfo,
    pub impersonated: Option<&'a UserInfo>,
    pub source_ips: &'a [String],
    pub user_agent: Option<&'a str>,
    pub attrs: &'a Attributes,
    /// The API version of the URL (`v1`, `apps/v1` gives `v1`).
    pub api_version: &'a str,
    pub received: &'a str,
}

fn user_json(u: &UserInfo) -> Value {
    let mut m = Map::new();
    m.insert("username".into(), json!(u.username));
    if !u.uid.is_empty() {
        m.insert("uid".into(), json!(u.uid));
    }
    if !u.groups.is_empty() {
        m.insert("groups".into(), json!(u.groups));
    }
    if !u.extra.is_empty() {
        m.insert("extra".into(), json!(u.extra));
    }
    Value::Object(m)
}

/// Removes `metadata.managedFields` from an object and from a list's items.
pub fn strip_managed_fields(v: &mut Value) {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        for i in items {
            strip_managed_fields(i);
        }
    }
}

/// One audit event (`audit.k8s.io/v1` `Event`) as JSON. `name` fills objectRef.name when the
/// URL has none (a create names its object in the body). `status` is the response's Status
/// when it failed; objects are included as the level says.
#[allow(clippy::too_many_arguments)]
pub fn event(
    r: &Request<'_>,
    d: &Decision,
    stage: Stage,
    stage_timestamp: &str,
    code: Option<u16>,
    status: Option<&Value>,
    name: Option<&str>,
    request_object: Option<Value>,
    response_object: Option<Value>,
) -> Value {
    let a = r.attrs;
    let mut e = Map::new();
    e.insert("kind".into(), json!("Event"));
    e.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
    e.insert("level".into(), json!(d.level.as_str()));
    e.insert("auditID".into(), json!(r.audit_id));
    e.insert("stage".into(), json!(stage.as_str()));
    e.insert("requestURI".into(), json!(r.request_uri));
    e.insert("verb".into(), json!(a.verb));
    e.insert("user".into(), user_json(r.user));
    if let Some(u) = r.impersonated {
        e.insert("impersonatedUser".into(), user_json(u));
    }
    e.insert("sourceIPs".into(), json!(r.source_ips));
    if let Some(ua) = r.user_agent {
        e.insert("userAgent".into(), json!(ua));
    }
    if a.resource_request {
        let mut o = Map::new();
        o.insert("resource".into(), json!(a.resource));
        if !a.namespace.is_empty() {
            o.insert("namespace".into(), json!(a.namespace));
        }
        let n = if a.name.is_empty() {
            name.unwrap_or_default()
        } else {
            &a.name
        };
        if !n.is_empty() {
            o.insert("name".into(), json!(n));
        }
        if !a.api_group.is_empty() {
            o.insert("apiGroup".into(), json!(a.api_group));
        }
        if !r.api_version.is_empty() {
            o.insert("apiVersion".into(), json!(r.api_version));
        }
        if !a.subresource.is_empty() {
            o.insert("subresource".into(), json!(a.subresource));
        }
        e.insert("objectRef".into(), Value::Object(o));
    }
    if let Some(code) = code {
        let mut s = Map::new();
        s.insert("metadata".into(), json!({}));
        if let Some(st) = status {
            for k in ["status", "message", "reason", "details"] {
                if let Some(v) = st.get(k) {
                    s.insert(k.into(), v.clone());
                }
            }
        }
        s.insert("code".into(), json!(code));
        e.insert("responseStatus".into(), Value::Object(s));
    }
    let prep = |mut v: Value| {
        if d.omit_managed_fields {
            strip_managed_fields(&mut v);
        }
        v
    };
    if d.level >= Level::Request
        && let Some(o) = request_object
    {
        e.insert("requestObject".into(), prep(o));
    }
    if d.level >= Level::RequestResponse
        && let Some(o) = response_object
    {
        e.insert("responseObject".into(), prep(o));
    }
    e.insert("requestReceivedTimestamp".into(), json!(r.received));
    e.insert("stageTimestamp".into(), json!(stage_timestamp));
    Value::Object(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        match parse("policy.yaml", text) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn res(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
        Attributes::resource(verb, group, resource, ns).named(name)
    }

    // the example policy of docs "Auditing" (audit-policy.yaml), abridged: first match wins
    const DOCS_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - "RequestReceived"
rules:
  - level: RequestResponse
    resources:
    - group: ""
      resources: ["pods"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["pods/log", "pods/status"]
  - level: None
    resources:
    - group: ""
      resources: ["configmaps"]
      resourceNames: ["controller-leader"]
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
    - group: ""
      resources: ["endpoints", "services"]
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs:
    - "/api*"
    - "/version"
  - level: Request
    resources:
    - group: ""
      resources: ["configmaps"]
    namespaces: ["kube-system"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["secrets", "configmaps"]
  - level: Request
    resources:
    - group: ""
    - group: "extensions"
  - level: Metadata
    omitStages:
      - "RequestReceived"
"#;

    #[test]
    fn docs_policy_first_match_wins() {
        let p = policy(DOCS_POLICY);
        let alice = UserInfo::new("alice", &["system:authenticated"]);
        let proxy = UserInfo::new("system:kube-proxy", &[]);
        let level = |u: &UserInfo, a: &Attributes| p.decide(u, a).level;
        assert_eq!(
            level(&alice, &res("get", "", "pods", "default", "p")),
            Level::RequestResponse
        );
        assert_eq!(
            level(&alice, &res("get", "", "pods/log", "default", "p")),
            Level::Metadata
        );
        assert_eq!(
            level(
                &alice,
                &res(
                    "update",
                    "",
                    "configmaps",
                    "kube-system",
                    "controller-leader"
                )
            ),
            Level::None
        );
        assert_eq!(
            level(
                &alice,
                &res("update", "", "configmaps", "kube-system", "other")
            ),
            Level::Request
        );
        assert_eq!(
            level(&alice, &res("get", "", "configmaps", "default", "x")),
            Level::Metadata
        );
        assert_eq!(
            level(&proxy, &res("watch", "", "services", "", "")),
            Level::None
        );
        assert_eq!(
            level(&proxy, &res("list", "", "services", "", "")),
            Level::Request
        );
        let version = Attributes::non_resource("get", "/version");
        assert_eq!(level(&alice, &version), Level::None);
        assert_eq!(level(&proxy, &version), Level::Metadata);
        assert_eq!(
            level(&alice, &res("patch", "apps", "deployments", "default", "d")),
            Level::Metadata
        );
        // the policy's omitStages are united with each rule's
        assert_eq!(
            p.decide(&alice, &res("get", "", "pods", "default", "p"))
                .omit_stages,
            vec![Stage::RequestReceived]
        );
        assert!(!p.decide(&alice, &version).logs(Stage::ResponseComplete));
    }

    // checker.go ruleMatchesResource: "*", "*/subresource", "resource/*", resourceNames
    #[test]
    fn resource_wildcards() {
        let p = policy(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  resources:\n  - group: ''\n    resources: ['*/status']\n- level: RequestResponse\n  resources:\n  - group: apps\n    resources: ['deployments/*']\n- level: Metadata\n  resources:\n  - group: ''\n    resources: ['*']\n    resourceNames: [only]\n",
        );
        let u = UserInfo::new("u", &[]);
        assert_eq!(
            p.decide(&u, &res("update", "", "pods/status", "a", "p"))
                .level,
            Level::Request
        );
        assert_eq!(
            p.decide(&u, &res("update", "", "pods", "a", "p")).level,
            Level::None
        );
        assert_eq!(
            p.decide(&u, &res("update", "apps", "deployments/scale", "a", "d"))
                .level,
            Level::RequestResponse
        );
        assert_eq!(
            p.decide(&u, &res("get", "", "pods", "a", "only")).level,
            Level::Metadata
        );
        assert_eq!(
            p.decide(&u, &res("get", "", "pods", "a", "other")).level,
            Level::None
        );
    }

    // sluice: Secrets at most Metadata unless the rule names them
    #[test]
    fn secrets_capped_unless_named() {
        let catch_all =
            policy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n");
        let u = UserInfo::new("u", &[]);
        let s = res("get", "", "secrets", "default", "s");
        assert_eq!(catch_all.decide(&u, &s).level, Level::Metadata);
        assert_eq!(
            catch_all
                .decide(&u, &res("get", "", "configmaps", "default", "c"))
                .level,
            Level::RequestResponse
        );
        let named = policy(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  resources:\n  - group: ''\n    resources: [secrets]\n",
        );
        assert_eq!(named.decide(&u, &s).level, Level::Request);
    }

    #[test]
    fn policy_errors() {
        let e = parse(
            "p.yaml",
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n  omitStages: [Done]\n- level: None\n  resources: [{group: '', resources: ['po*s']}]\n  nonResourceURLs: ['/a*b']\n  verb: [get]\n",
        )
        .expect_err("invalid")
        .to_string();
        for want in [
            "p.yaml:4:3: rules[0].level: Unsupported value: \"Everything\"",
            "p.yaml:5:16: rules[0].omitStages[0]: Unsupported value: \"Done\"",
            "p.yaml:9:3: rules[1]: unknown field \"verb\"",
            "rules[1].resources[0].resources[0]: Invalid value: \"po*s\"",
            "rules[1].nonResourceURLs: Invalid value: rules cannot apply to both",
            "rules[1].nonResourceURLs[0]: Invalid value: \"/a*b\"",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        let e = parse("p.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\n")
            .expect_err("no rules")
            .to_string();
        assert!(e.contains("0 rules"), "{e}");
        let e = parse(
            "p.yaml",
            "apiVersion: audit.k8s.io/v1beta2\nkind: Policy\nrules: []\n",
        )
        .expect_err("version")
        .to_string();
        assert!(
            e.starts_with("p.yaml:1:1: apiVersion: expected \"audit.k8s.io/v1\""),
            "{e}"
        );
    }

    // apis/audit/v1 Event: the fields written, omitManagedFields, levels
    #[test]
    fn event_shape() {
        let p = policy(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n- level: Request\n",
        );
        let u = UserInfo::new("alice", &["devs"]);
        let a = res("create", "apps", "deployments", "default", "");
        let d = p.decide(&u, &a);
        let ips = vec!["127.0.0.1".to_owned()];
        let r = Request {
            audit_id: "id",
            request_uri: "/apis/apps/v1/namespaces/default/deployments",
            user: &u,
            impersonated: None,
            source_ips: &ips,
            user_agent: Some("kubectl"),
            attrs: &a,
            api_version: "v1",
            received: "t0",
        };
        let e = event(
            &r,
            &d,
            Stage::ResponseComplete,
            "t1",
            Some(201),
            None,
            Some("web"),
            Some(json!({"metadata": {"name": "web", "managedFields": [1]}})),
            Some(json!({"x": 1})),
        );
        assert_eq!(
            e,
            json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
                "auditID": "id", "stage": "ResponseComplete",
                "requestURI": "/apis/apps/v1/namespaces/default/deployments", "verb": "create",
                "user": {"username": "alice", "groups": ["devs"]}, "sourceIPs": ["127.0.0.1"],
                "userAgent": "kubectl",
                "objectRef": {"resource": "deployments", "namespace": "default", "name": "web",
                    "apiGroup": "apps", "apiVersion": "v1"},
                "responseStatus": {"metadata": {}, "code": 201},
                "requestObject": {"metadata": {"name": "web"}},
                "requestReceivedTimestamp": "t0", "stageTimestamp": "t1"})
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "[ -~\n]{0,200}") {
            let _ = parse("f", &text);
        }

        // any request: a decision, and Secrets never above Metadata under the docs' policy
        // (its rule for them is Metadata) or a catch-all
        #[test]
        fn decide_is_total_and_caps_secrets(
            verb in "(get|list|watch|create|update|patch|delete)",
            group in "(|apps|extensions)",
            resource in "(pods|secrets|configmaps|pods/log|secrets/status|[a-z*/]{0,8})",
            ns in "(|default|kube-system)",
            name in "[a-z*-]{0,6}",
            user in "(alice|system:kube-proxy)",
            path in "/[a-z*/]{0,10}",
        ) {
            let u = UserInfo::new(&user, &["system:authenticated"]);
            let catch_all = policy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n");
            for p in [policy(DOCS_POLICY), catch_all] {
                let a = res(&verb, &group, &resource, &ns, &name);
                let d = p.decide(&u, &a);
                if group.is_empty() && a.resource == "secrets" {
                    proptest::prop_assert!(d.level <= Level::Metadata);
                }
                let _ = p.decide(&u, &Attributes::non_resource(&verb, &path));
            }
        }
    }
}
