//! Argo CD notifications (argoproj/notifications-engine, as Argo CD configures it) as pure
//! functions: the controller around it reads the objects and sends the requests.
//!
//! - [`Config::parse`]: `argocd-notifications-cm` — `service.webhook.<name>` and
//!   `service.slack[.<name>]` (string values may name keys of `argocd-notifications-secret`
//!   as `$key`), `template.<name>` (`message`, `webhook.<service>.{method,path,body}`,
//!   `slack.{attachments,blocks}`; Go templates with Sprig), `trigger.<name>` (a list of
//!   conditions: `when`, `oncePer`, `send`), `defaultTriggers[.<service>]` and `context`.
//!   Built in, unless the ConfigMap defines the same names: the catalog's triggers
//!   `on-sync-succeeded`, `on-sync-failed`, `on-health-degraded`, `on-deployed` (for
//!   Applications) and `on-pipelinerun-succeeded`, `on-pipelinerun-failed` (for
//!   PipelineRuns), each with a template of its own name without `on-`.
//! - [`destinations`]: subscriptions from annotations
//!   (`notifications.argoproj.io/subscribe.<trigger>.<service>: recipient;recipient`, or
//!   `subscribe.<service>` for the default triggers), as `pkg/subscriptions/annotations.go`.
//! - [`plan`]: runs each subscribed trigger's conditions (expr-lang, the subset of
//!   `sluice_rollouts::analysis::expr`; a condition that does not evaluate is not
//!   triggered, as upstream) against the object and the notified state
//!   ([`State`], the `notified.notifications.argoproj.io` annotation: keys
//!   `[oncePer:]trigger:[i].<sha1 of when>:service:recipient`, at most 100): a condition
//!   that turns true is sent once; when it turns false it may be sent again, unless it has
//!   `oncePer`, which is sent once per value (`pkg/controller/state.go`).
//! - [`requests`]: the HTTP requests of one send: a webhook service's URL joined with the
//!   template's `path`, its method (default GET) and body (default the message), the
//!   service's headers and basic auth (`pkg/services/webhook.go`); Slack's
//!   `chat.postMessage` with the channel, text, attachments and blocks, bearer token.
//!
//! No I/O, no clock: the caller passes `now` and performs the requests.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sluice_expr::budget::Budget;
use sluice_expr::gotmpl::{self, TemplateSet, V};
use sluice_rollouts::analysis::expr::{Condition as Expr, Value as EV};

/// The annotation holding what was sent ([`State`]).
pub const NOTIFIED_ANNOTATION: &str = "notified.notifications.argoproj.io";
/// Subscriptions: `<prefix><trigger>.<service>` or `<prefix><service>`.
pub const SUBSCRIBE_PREFIX: &str = "notifications.argoproj.io/subscribe.";
/// At most this many entries are kept in the notified state (oldest dropped first).
pub const HISTORY_MAX: usize = 100;
/// Steps one condition evaluation may take.
const MAX_STEPS: u64 = 1_000_000;

/// A configured service.
#[derive(Debug, Clone, PartialEq)]
pub enum Service {
    Webhook {
        url: String,
        headers: Vec<(String, String)>,
        basic_auth: Option<(String, String)>,
        insecure_skip_verify: bool,
    },
    Slack {
        token: String,
        api_url: String,
        username: String,
        icon: String,
        insecure_skip_verify: bool,
    },
}

impl Service {
    /// The service type (`serviceType` in templates).
    pub fn type_name(&self) -> &'static str {
        match self {
            Service::Webhook { .. } => "webhook",
            Service::Slack { .. } => "slack",
        }
    }
}

/// One condition of a trigger.
#[derive(Debug, Clone)]
pub struct TriggerCondition {
    pub when: String,
    when_expr: Result<Expr, String>,
    once_per: Option<Result<Expr, String>>,
    pub send: Vec<String>,
    /// `[i].<sha1 of when, base64url>` (`triggers.Service.Run`).
    key: String,
}

/// A template: its parts parsed as Go templates (named `<template>/<part>`).
#[derive(Debug)]
struct Template {
    /// `webhook.<service>`: method (may be empty) and whether path/body are given.
    webhook: BTreeMap<String, (String, bool, bool)>,
    has_message: bool,
    slack_parts: Vec<String>,
}

/// A problem in the configuration, with the ConfigMap field it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `data[trigger.on-x]` and so on.
    pub field: String,
    pub message: String,
}

/// The parsed `argocd-notifications-cm` for one kind of object.
#[derive(Debug)]
pub struct Config {
    pub services: BTreeMap<String, Service>,
    templates: BTreeMap<String, Template>,
    set: TemplateSet,
    pub triggers: BTreeMap<String, Vec<TriggerCondition>>,
    pub default_triggers: Vec<String>,
    pub service_default_triggers: BTreeMap<String, Vec<String>>,
    pub context: Value,
    /// The name conditions and templates see the object under (`app`, `pipelinerun`).
    pub var: String,
}

/// A destination: a service name and a recipient (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Destination {
    pub service: String,
    pub recipient: String,
}

/// The catalog's triggers, by object variable: (trigger, when, oncePer, template).
const BUILTIN_TRIGGERS: [(&str, &str, &str, &str, &str); 6] = [
    (
        "app",
        "on-sync-succeeded",
        "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']",
        "app.status.operationState?.syncResult?.revision",
        "app-sync-succeeded",
    ),
    (
        "app",
        "on-sync-failed",
        "app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']",
        "app.status.operationState?.syncResult?.revision",
        "app-sync-failed",
    ),
    (
        "app",
        "on-health-degraded",
        "app.status.health.status == 'Degraded'",
        "",
        "app-health-degraded",
    ),
    (
        "app",
        "on-deployed",
        "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'",
        "app.status.operationState?.syncResult?.revision",
        "app-deployed",
    ),
    (
        "pipelinerun",
        "on-pipelinerun-succeeded",
        "pipelinerun.status?.conditions != nil and any(pipelinerun.status.conditions, {#.type == 'Succeeded' and #.status == 'True'})",
        "",
        "pipelinerun-succeeded",
    ),
    (
        "pipelinerun",
        "on-pipelinerun-failed",
        "pipelinerun.status?.conditions != nil and any(pipelinerun.status.conditions, {#.type == 'Succeeded' and #.status == 'False'})",
        "",
        "pipelinerun-failed",
    ),
];

/// Messages of the built-in templates (Sluice's own wording).
const BUILTIN_TEMPLATES: [(&str, &str); 6] = [
    (
        "app-sync-succeeded",
        "Application {{.app.metadata.name}} synced revision {{.app.status.operationState.syncResult.revision}} at {{.app.status.operationState.finishedAt}}.",
    ),
    (
        "app-sync-failed",
        "Application {{.app.metadata.name}}: sync failed at {{.app.status.operationState.finishedAt}}: {{.app.status.operationState.message}}",
    ),
    (
        "app-health-degraded",
        "Application {{.app.metadata.name}} is Degraded: {{.app.status.health.message}}",
    ),
    (
        "app-deployed",
        "Application {{.app.metadata.name}} is running revision {{.app.status.sync.revision}}, Synced and Healthy.",
    ),
    (
        "pipelinerun-succeeded",
        "PipelineRun {{.pipelinerun.metadata.namespace}}/{{.pipelinerun.metadata.name}} succeeded.",
    ),
    (
        "pipelinerun-failed",
        "PipelineRun {{.pipelinerun.metadata.namespace}}/{{.pipelinerun.metadata.name}} failed: {{(index .pipelinerun.status.conditions 0).message}}",
    ),
];

fn sha1_key(s: &str) -> String {
    use sha1::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(s.as_bytes()))
}

fn compile(src: &str, var: &str) -> Result<Expr, String> {
    Expr::parse_with_root(src, var).map_err(|e| e.to_string())
}

fn yaml_value(text: &str) -> Result<Value, String> {
    let docs = sluice_core::yaml::load_documents(text, &sluice_core::yaml::Limits::default())
        .map_err(|e| format!("{}: {}", e.pos(), e.message()))?;
    Ok(docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null))
}

/// `$key` references to the secret's keys replaced in every string (unknown ones kept).
fn resolve_secrets(v: &mut Value, secret: &BTreeMap<String, String>) {
    match v {
        Value::String(s) if s.contains('$') => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find('$') {
                out.push_str(&rest[..i]);
                let after = &rest[i + 1..];
                let n = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                    .unwrap_or(after.len());
                match secret.get(&after[..n]) {
                    Some(val) if n > 0 => out.push_str(val),
                    _ => {
                        out.push('$');
                        out.push_str(&after[..n]);
                    }
                }
                rest = &after[n..];
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve_secrets(x, secret)),
        Value::Object(m) => m.values_mut().for_each(|x| resolve_secrets(x, secret)),
        _ => {}
    }
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_owned))
        .collect()
}

impl Config {
    /// Parses the ConfigMap's `data` for objects seen as `var`; `secret` is the decoded data
    /// of argocd-notifications-secret. Problems are returned beside what could be used.
    pub fn parse(
        data: &Map<String, Value>,
        secret: &BTreeMap<String, String>,
        var: &str,
    ) -> (Config, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut cfg = Config {
            services: BTreeMap::new(),
            templates: BTreeMap::new(),
            set: TemplateSet::new(),
            triggers: BTreeMap::new(),
            default_triggers: Vec::new(),
            service_default_triggers: BTreeMap::new(),
            context: json!({}),
            var: var.to_owned(),
        };
        let mut bad = |key: &str, message: String| {
            problems.push(Problem {
                field: format!("data[{key}]"),
                message,
            })
        };
        for (key, raw) in data {
            let Some(text) = raw.as_str() else {
                bad(key, "expected a string".into());
                continue;
            };
            let parsed = || yaml_value(text);
            if let Some(rest) = key.strip_prefix("service.") {
                let (kind, name) = match rest.split_once('.') {
                    Some((k, n)) => (k, n),
                    None => (rest, rest),
                };
                let mut v = match parsed() {
                    Ok(v) => v,
                    Err(e) => {
                        bad(key, e);
                        continue;
                    }
                };
                resolve_secrets(&mut v, secret);
                match service_of(kind, &v) {
                    Ok(s) => {
                        cfg.services.insert(name.to_owned(), s);
                    }
                    Err(e) => bad(key, e),
                }
            } else if let Some(name) = key.strip_prefix("template.") {
                match parsed().and_then(|v| cfg.add_template(name, &v)) {
                    Ok(()) => {}
                    Err(e) => bad(key, e),
                }
            } else if let Some(name) = key.strip_prefix("trigger.") {
                match parsed().and_then(|v| trigger_of(&v, var)) {
                    Ok(t) => {
                        cfg.triggers.insert(name.to_owned(), t);
                    }
                    Err(e) => bad(key, e),
                }
            } else if key == "defaultTriggers" {
                match parsed().map(|v| string_list(&v)) {
                    Ok(Some(l)) => cfg.default_triggers = l,
                    Ok(None) => bad(key, "expected a list of trigger names".into()),
                    Err(e) => bad(key, e),
                }
            } else if let Some(svc) = key.strip_prefix("defaultTriggers.") {
                match parsed().map(|v| string_list(&v)) {
                    Ok(Some(l)) => {
                        cfg.service_default_triggers.insert(svc.to_owned(), l);
                    }
                    Ok(None) => bad(key, "expected a list of trigger names".into()),
                    Err(e) => bad(key, e),
                }
            } else if key == "context" {
                match parsed() {
                    Ok(v @ Value::Object(_)) => cfg.context = v,
                    Ok(_) => bad(key, "expected a mapping".into()),
                    Err(e) => bad(key, e),
                }
            }
        }
        for (v, name, when, once, tpl) in BUILTIN_TRIGGERS {
            if v != var || cfg.triggers.contains_key(name) {
                continue;
            }
            let t = json!([{"when": when, "oncePer": once, "send": [tpl]}]);
            if let Ok(t) = trigger_of(&t, var) {
                cfg.triggers.insert(name.to_owned(), t);
            }
        }
        for (name, message) in BUILTIN_TEMPLATES {
            if !cfg.templates.contains_key(name) {
                let _ = cfg.add_template(name, &json!({ "message": message }));
            }
        }
        (cfg, problems)
    }

    fn add_template(&mut self, name: &str, v: &Value) -> Result<(), String> {
        let Value::Object(m) = v else {
            return Err("expected a mapping (message, webhook, slack...)".into());
        };
        let mut t = Template {
            webhook: BTreeMap::new(),
            has_message: false,
            slack_parts: Vec::new(),
        };
        let mut add = |part: &str, src: &str| {
            self.set
                .add(&format!("{name}/{part}"), src)
                .map_err(|e| format!("{part}: {e}"))
        };
        if let Some(msg) = m.get("message") {
            let Some(src) = msg.as_str() else {
                return Err("message: expected a string".into());
            };
            add("message", src)?;
            t.has_message = true;
        }
        if let Some(w) = m.get("webhook") {
            let Value::Object(w) = w else {
                return Err("webhook: expected a mapping of service names".into());
            };
            for (svc, spec) in w {
                let path = spec.get("path").and_then(Value::as_str);
                let body = spec.get("body").and_then(Value::as_str);
                if let Some(p) = path {
                    add(&format!("webhook.{svc}.path"), p)?;
                }
                if let Some(b) = body {
                    add(&format!("webhook.{svc}.body"), b)?;
                }
                t.webhook.insert(
                    svc.clone(),
                    (str_of(spec, "method"), path.is_some(), body.is_some()),
                );
            }
        }
        if let Some(s) = m.get("slack") {
            for part in ["attachments", "blocks"] {
                if let Some(src) = s.get(part).and_then(Value::as_str) {
                    add(&format!("slack.{part}"), src)?;
                    t.slack_parts.push(part.to_owned());
                }
            }
        }
        self.templates.insert(name.to_owned(), t);
        Ok(())
    }

    fn render(&self, name: &str, part: &str, vars: &V) -> Result<String, String> {
        let budget = Budget::new("notification template", gotmpl::RENDER_LIMITS);
        self.set
            .execute(&format!("{name}/{part}"), vars, &budget)
            .map_err(|e| format!("template {name}: {part}: {e}"))
    }
}

fn service_of(kind: &str, v: &Value) -> Result<Service, String> {
    let insecure = v
        .get("insecureSkipVerify")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match kind {
        "webhook" => {
            let url = str_of(v, "url");
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "url: expected an http:// or https:// URL, got {url:?}"
                ));
            }
            let headers = v
                .get("headers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|h| (str_of(h, "name"), str_of(h, "value")))
                .collect();
            let basic_auth = v
                .get("basicAuth")
                .map(|b| (str_of(b, "username"), str_of(b, "password")));
            Ok(Service::Webhook {
                url,
                headers,
                basic_auth,
                insecure_skip_verify: insecure,
            })
        }
        "slack" => {
            let mut api_url = str_of(v, "apiURL");
            if api_url.is_empty() {
                api_url = "https://slack.com/api/".into();
            }
            if !api_url.ends_with('/') {
                api_url.push('/');
            }
            Ok(Service::Slack {
                token: str_of(v, "token"),
                api_url,
                username: str_of(v, "username"),
                icon: str_of(v, "icon"),
                insecure_skip_verify: insecure,
            })
        }
        other => Err(format!(
            "service type {other:?} is not supported (webhook and slack are)"
        )),
    }
}

fn trigger_of(v: &Value, var: &str) -> Result<Vec<TriggerCondition>, String> {
    let Some(list) = v.as_array() else {
        return Err("expected a list of conditions (when, send, oncePer)".into());
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let when = str_of(c, "when");
        let src = if when.is_empty() { "false" } else { &when };
        let once = str_of(c, "oncePer");
        let Some(send) = c.get("send").map_or(Some(Vec::new()), string_list) else {
            return Err(format!("[{i}].send: expected a list of template names"));
        };
        out.push(TriggerCondition {
            key: format!("[{i}].{}", sha1_key(&when)),
            when_expr: compile(src, var),
            once_per: (!once.is_empty()).then(|| compile(&once, var)),
            when,
            send,
        });
    }
    Ok(out)
}

/// What each trigger notifies: subscriptions of `annotations` (`GetDestinations`), sorted
/// and without repeats.
pub fn destinations(
    annotations: &Map<String, Value>,
    cfg: &Config,
) -> BTreeMap<String, Vec<Destination>> {
    let mut out: BTreeMap<String, Vec<Destination>> = BTreeMap::new();
    for (k, v) in annotations {
        let Some(rest) = k.strip_prefix(SUBSCRIBE_PREFIX) else {
            continue;
        };
        let parts: Vec<&str> = rest.split('.').collect();
        let (trigger, service) = if parts.len() >= 2 {
            (parts[0], parts[1])
        } else {
            ("", parts[0])
        };
        let v = v.as_str().unwrap_or("");
        let recipients: Vec<String> = if v.is_empty() {
            vec![String::new()]
        } else {
            v.split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let triggers: Vec<String> = if !trigger.is_empty() {
            vec![trigger.to_owned()]
        } else if let Some(t) = cfg.service_default_triggers.get(service) {
            t.clone()
        } else {
            cfg.default_triggers.clone()
        };
        for r in &recipients {
            for t in &triggers {
                out.entry(t.clone()).or_default().push(Destination {
                    service: service.to_owned(),
                    recipient: r.clone(),
                });
            }
        }
    }
    for d in out.values_mut() {
        d.sort();
        d.dedup();
    }
    out
}

/// The notified state: state keys and when they were sent (Unix seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State(pub BTreeMap<String, i64>);

impl State {
    /// The state of an object's annotation value (empty when absent or not JSON, as
    /// upstream's `NewState`).
    pub fn from_annotation(v: Option<&str>) -> State {
        let map = v
            .and_then(|s| serde_json::from_str::<BTreeMap<String, i64>>(s).ok())
            .unwrap_or_default();
        State(map)
    }

    /// The annotation value, oldest entries dropped beyond [`HISTORY_MAX`]; `None` when
    /// empty (the annotation is removed).
    pub fn to_annotation(&self) -> Option<String> {
        let mut m = self.0.clone();
        if m.len() > HISTORY_MAX {
            let mut by_age: Vec<(i64, String)> = m.iter().map(|(k, t)| (*t, k.clone())).collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(m.len() - HISTORY_MAX) {
                m.remove(&k);
            }
        }
        if m.is_empty() {
            None
        } else {
            serde_json::to_string(&m).ok()
        }
    }

    /// Forgets a send that failed, so that it is tried again.
    pub fn forget(&mut self, key: &str) {
        self.0.remove(key);
    }
}

/// One notification to send: the trigger, its templates, where, and its state key.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub trigger: String,
    pub templates: Vec<String>,
    pub dest: Destination,
    pub key: String,
}

/// What [`plan`] decided.
#[derive(Debug, Default)]
pub struct Plan {
    pub sends: Vec<Send>,
    /// Triggers that are not configured or whose conditions do not compile.
    pub warnings: Vec<String>,
}

/// Runs the subscribed triggers against `obj` (the object as JSON), updating `state`:
/// what turned true and was not sent yet is in the plan's sends (`processResourceWithAPI`).
pub fn plan(cfg: &Config, obj: &Value, state: &mut State, now: i64) -> Plan {
    let mut p = Plan::default();
    let annotations = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let dests = destinations(&annotations, cfg);
    if dests.is_empty() {
        return p;
    }
    let root = EV::from_json(obj);
    for (trigger, to) in &dests {
        let Some(conds) = cfg.triggers.get(trigger) else {
            p.warnings
                .push(format!("trigger '{trigger}' is not configured"));
            continue;
        };
        for c in conds {
            let when = match &c.when_expr {
                Ok(e) => e,
                Err(msg) => {
                    p.warnings.push(format!(
                        "trigger '{trigger}': condition {:?}: {msg}",
                        c.when
                    ));
                    continue;
                }
            };
            let triggered = matches!(when.eval_value(&root, MAX_STEPS), Ok(EV::Bool(true)));
            let once_per = match (&c.once_per, triggered) {
                (Some(Ok(e)), true) => e
                    .eval_value(&root, MAX_STEPS)
                    .map(|v| match v {
                        EV::Nil => "<nil>".to_owned(),
                        EV::Str(s) => s,
                        other => other.to_string(),
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            for d in to {
                let mut key = format!("{trigger}:{}:{}:{}", c.key, d.service, d.recipient);
                if !once_per.is_empty() {
                    key = format!("{once_per}:{key}");
                }
                if !triggered {
                    // a condition with oncePer keeps its history
                    if c.once_per.is_none() {
                        state.0.remove(&key);
                    }
                    continue;
                }
                if state.0.contains_key(&key) {
                    continue;
                }
                state.0.insert(key.clone(), now);
                p.sends.push(Send {
                    trigger: trigger.clone(),
                    templates: c.send.clone(),
                    dest: d.clone(),
                    key,
                });
            }
        }
    }
    p
}

/// An HTTP request to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub insecure_skip_verify: bool,
}

fn form_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The requests of one send: one per template (`api.Send` renders each template and sends
/// it to the destination's service).
pub fn requests(cfg: &Config, send: &Send, obj: &Value) -> Result<Vec<Request>, String> {
    let service = cfg
        .services
        .get(&send.dest.service)
        .ok_or_else(|| format!("service '{}' is not configured", send.dest.service))?;
    let vars = V::from_json(&json!({
        cfg.var.clone(): obj,
        "context": cfg.context,
        "serviceType": service.type_name(),
    }));
    let mut out = Vec::new();
    for name in &send.templates {
        let t = cfg
            .templates
            .get(name)
            .ok_or_else(|| format!("template '{name}' is not configured"))?;
        let message = if t.has_message {
            cfg.render(name, "message", &vars)?
        } else {
            String::new()
        };
        match service {
            Service::Webhook {
                url,
                headers,
                basic_auth,
                insecure_skip_verify,
            } => {
                let mut r = Request {
                    method: "GET".into(),
                    url: url.clone(),
                    headers: headers.clone(),
                    body: message,
                    insecure_skip_verify: *insecure_skip_verify,
                };
                if let Some((method, has_path, has_body)) = t.webhook.get(&send.dest.service) {
                    let svc = &send.dest.service;
                    r.body = if *has_body {
                        cfg.render(name, &format!("webhook.{svc}.body"), &vars)?
                    } else {
                        String::new()
                    };
                    if !method.is_empty() {
                        r.method = method.clone();
                    }
                    if *has_path {
                        let path = cfg.render(name, &format!("webhook.{svc}.path"), &vars)?;
                        if !path.is_empty() {
                            r.url = format!(
                                "{}/{}",
                                url.trim_end_matches('/'),
                                path.trim_start_matches('/')
                            );
                        }
                    }
                }
                if let Some((u, p)) = basic_auth {
                    let token =
                        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                    r.headers
                        .push(("Authorization".into(), format!("Basic {token}")));
                }
                out.push(r);
            }
            Service::Slack {
                token,
                api_url,
                username,
                icon,
                insecure_skip_verify,
            } => {
                let mut form = vec![
                    ("channel".to_owned(), send.dest.recipient.clone()),
                    ("text".to_owned(), message),
                ];
                for part in &t.slack_parts {
                    let v = cfg.render(name, &format!("slack.{part}"), &vars)?;
                    if !v.trim().is_empty() {
                        form.push((part.clone(), v));
                    }
                }
                if !username.is_empty() {
                    form.push(("username".into(), username.clone()));
                }
                if !icon.is_empty() {
                    let k = if icon.starts_with(':') {
                        "icon_emoji"
                    } else {
                        "icon_url"
                    };
                    form.push((k.into(), icon.clone()));
                }
                let body = form
                    .iter()
                    .map(|(k, v)| format!("{k}={}", form_escape(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                out.push(Request {
                    method: "POST".into(),
                    url: format!("{api_url}chat.postMessage"),
                    headers: vec![
                        (
                            "Content-Type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ),
                        ("Authorization".into(), format!("Bearer {token}")),
                    ],
                    body,
                    insecure_skip_verify: *insecure_skip_verify,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
