use super::*;
use proptest::prelude::*;

fn data(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

fn secret() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("slack-token".to_owned(), "xoxb-123".to_owned()),
        ("hook.pass".to_owned(), "p@ss".to_owned()),
    ])
}

fn app(annotations: Value, status: Value) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "shop", "namespace": "argocd", "annotations": annotations},
        "spec": {"project": "default"}, "status": status})
}

fn synced(rev: &str, phase: &str) -> Value {
    json!({"operationState": {"phase": phase, "finishedAt": "2026-12-04T10:00:00Z",
        "message": "done", "syncResult": {"revision": rev}},
        "sync": {"status": "Synced", "revision": rev}, "health": {"status": "Healthy"}})
}

/// notifications-engine pkg/services/webhook.go: the URL joined with the template's path,
/// its method and body, the service's headers (secrets resolved) and basic auth.
#[test]
fn webhook_requests_follow_the_template() {
    let (cfg, problems) = Config::parse(
        &data(&[
            (
                "service.webhook.ci",
                "url: http://127.0.0.1:9/hooks/\nheaders:\n- name: X-Token\n  value: $slack-token\nbasicAuth:\n  username: bot\n  password: $hook.pass\n",
            ),
            (
                "template.app-sync-succeeded",
                "message: ignored for webhooks with a body\nwebhook:\n  ci:\n    method: POST\n    path: /apps/{{.app.metadata.name}}\n    body: |\n      {\"app\": \"{{.app.metadata.name}}\", \"rev\": \"{{.app.status.operationState.syncResult.revision}}\", \"type\": \"{{.serviceType}}\", \"url\": \"{{.context.argocdUrl}}\"}\n",
            ),
            ("context", "argocdUrl: https://cd.example.com\n"),
        ]),
        &secret(),
        "app",
    );
    assert!(problems.is_empty(), "{problems:?}");
    let obj = app(
        json!({"notifications.argoproj.io/subscribe.on-sync-succeeded.ci": ""}),
        synced("abc123", "Succeeded"),
    );
    let mut st = State::default();
    let p = plan(&cfg, &obj, &mut st, 100);
    assert_eq!(p.sends.len(), 1, "{p:?}");
    let rs = requests(&cfg, &p.sends[0], &obj).expect("renders");
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.url, "http://127.0.0.1:9/hooks/apps/shop");
    assert_eq!(
        r.body,
        "{\"app\": \"shop\", \"rev\": \"abc123\", \"type\": \"webhook\", \"url\": \"https://cd.example.com\"}\n"
    );
    assert!(
        r.headers
            .contains(&("X-Token".to_owned(), "xoxb-123".to_owned()))
    );
    // base64("bot:p@ss")
    assert!(
        r.headers
            .contains(&("Authorization".to_owned(), "Basic Ym90OnBAc3M=".to_owned()))
    );
}

/// Without a webhook section the request is a GET of the service URL with the message.
#[test]
fn webhook_without_template_section_gets_the_message() {
    let (cfg, _) = Config::parse(
        &data(&[("service.webhook.ci", "url: http://127.0.0.1:9/x\n")]),
        &BTreeMap::new(),
        "app",
    );
    let obj = app(
        json!({"notifications.argoproj.io/subscribe.on-sync-failed.ci": ""}),
        synced("r1", "Failed"),
    );
    let p = plan(&cfg, &obj, &mut State::default(), 1);
    let r = &requests(&cfg, &p.sends[0], &obj).expect("renders")[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.url, "http://127.0.0.1:9/x");
    assert_eq!(
        r.body,
        "Application shop: sync failed at 2026-12-04T10:00:00Z: done"
    );
}

/// Slack: chat.postMessage on the apiURL, the recipient as channel, bearer token.
#[test]
fn slack_posts_the_message_to_the_channel() {
    let (cfg, problems) = Config::parse(
        &data(&[(
            "service.slack",
            "token: $slack-token\napiURL: http://127.0.0.1:9/api\nusername: argocd\nicon: \":rocket:\"\n",
        )]),
        &secret(),
        "app",
    );
    assert!(problems.is_empty(), "{problems:?}");
    let obj = app(
        json!({"notifications.argoproj.io/subscribe.on-health-degraded.slack": "ops; dev"}),
        json!({"health": {"status": "Degraded", "message": "pods crash"}}),
    );
    let p = plan(&cfg, &obj, &mut State::default(), 1);
    assert_eq!(p.sends.len(), 2, "{p:?}");
    let r = &requests(&cfg, &p.sends[1], &obj).expect("renders")[0];
    assert_eq!(r.url, "http://127.0.0.1:9/api/chat.postMessage");
    assert_eq!(r.method, "POST");
    assert!(
        r.headers
            .contains(&("Authorization".to_owned(), "Bearer xoxb-123".to_owned()))
    );
    assert_eq!(
        r.body,
        "channel=ops&text=Application+shop+is+Degraded%3A+pods+crash&username=argocd&icon_emoji=%3Arocket%3A"
    );
}

/// pkg/controller/state.go: sent once while the condition holds; sent again after it was
/// false; with oncePer, once per value (a new revision notifies again, the old one never).
#[test]
fn sent_once_per_event() {
    let (cfg, _) = Config::parse(
        &data(&[("service.webhook.ci", "url: http://h/\n")]),
        &BTreeMap::new(),
        "app",
    );
    let subs = json!({
        "notifications.argoproj.io/subscribe.on-deployed.ci": "",
        "notifications.argoproj.io/subscribe.on-health-degraded.ci": ""});
    let mut st = State::default();
    let sends = |obj: &Value, st: &mut State| -> Vec<String> {
        plan(&cfg, obj, st, 7)
            .sends
            .iter()
            .map(|s| s.trigger.clone())
            .collect()
    };
    let ok1 = app(subs.clone(), synced("r1", "Succeeded"));
    assert_eq!(sends(&ok1, &mut st), ["on-deployed"]);
    assert!(sends(&ok1, &mut st).is_empty());
    let mut degraded = ok1.clone();
    degraded["status"]["health"]["status"] = json!("Degraded");
    assert_eq!(sends(&degraded, &mut st), ["on-health-degraded"]);
    assert!(sends(&degraded, &mut st).is_empty());
    // healthy again: on-deployed of r1 stays sent (oncePer), degraded is forgotten
    assert!(sends(&ok1, &mut st).is_empty());
    assert_eq!(sends(&degraded, &mut st), ["on-health-degraded"]);
    let ok2 = app(subs, synced("r2", "Succeeded"));
    assert_eq!(sends(&ok2, &mut st), ["on-deployed"]);
    let keys: Vec<&String> = st.0.keys().collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("r2:on-deployed:[0].") && k.ends_with(":ci:")),
        "{keys:?}"
    );
    // the annotation round-trips
    let ann = st.to_annotation().expect("not empty");
    assert_eq!(State::from_annotation(Some(&ann)), st);
}

/// pkg/subscriptions/annotations.go: `subscribe.<service>` uses defaultTriggers (or the
/// service's own), recipients split on `;`, an empty value is one empty recipient.
#[test]
fn subscriptions_from_annotations() {
    let (cfg, _) = Config::parse(
        &data(&[
            (
                "defaultTriggers",
                "- on-sync-failed\n- on-health-degraded\n",
            ),
            ("defaultTriggers.slack", "- on-deployed\n"),
        ]),
        &BTreeMap::new(),
        "app",
    );
    let ann = json!({
        "notifications.argoproj.io/subscribe.ci": "",
        "notifications.argoproj.io/subscribe.slack": "a;b; ;a",
        "notifications.argoproj.io/subscribe.on-created.ci": "x",
        "other": "y"});
    let d = destinations(ann.as_object().expect("map"), &cfg);
    let dest = |s: &str, r: &str| Destination {
        service: s.into(),
        recipient: r.into(),
    };
    assert_eq!(d["on-sync-failed"], [dest("ci", "")]);
    assert_eq!(d["on-health-degraded"], [dest("ci", "")]);
    assert_eq!(d["on-deployed"], [dest("slack", "a"), dest("slack", "b")]);
    assert_eq!(d["on-created"], [dest("ci", "x")]);
}

/// The built-in PipelineRun triggers read Tekton's Succeeded condition.
#[test]
fn pipelinerun_triggers() {
    let (cfg, _) = Config::parse(
        &data(&[("service.webhook.ci", "url: http://h/\n")]),
        &BTreeMap::new(),
        "pipelinerun",
    );
    let run = |status: &str| {
        json!({"metadata": {"name": "r", "namespace": "ci", "annotations": {
            "notifications.argoproj.io/subscribe.on-pipelinerun-failed.ci": "",
            "notifications.argoproj.io/subscribe.on-pipelinerun-succeeded.ci": ""}},
            "status": {"conditions": [{"type": "Succeeded", "status": status, "message": "Tasks Completed: 1 (Failed: 1)"}]}})
    };
    let mut st = State::default();
    let p = plan(&cfg, &run("Unknown"), &mut st, 1);
    assert!(p.sends.is_empty() && p.warnings.is_empty(), "{p:?}");
    let failed = run("False");
    let p = plan(&cfg, &failed, &mut st, 1);
    assert_eq!(p.sends.len(), 1);
    assert_eq!(p.sends[0].trigger, "on-pipelinerun-failed");
    let r = &requests(&cfg, &p.sends[0], &failed).expect("renders")[0];
    assert_eq!(
        r.body,
        "PipelineRun ci/r failed: Tasks Completed: 1 (Failed: 1)"
    );
    // no status yet: nothing, no error
    let p = plan(
        &cfg,
        &json!({"metadata": {"annotations": {"notifications.argoproj.io/subscribe.on-pipelinerun-failed.ci": ""}}}),
        &mut State::default(),
        1,
    );
    assert!(p.sends.is_empty() && p.warnings.is_empty(), "{p:?}");
}

#[test]
fn problems_and_warnings_are_reported() {
    let (cfg, problems) = Config::parse(
        &data(&[
            ("service.email", "host: smtp\n"),
            ("service.webhook.bad", "url: ftp://x\n"),
            ("template.t", "message: \"{{ .app.metadata.name \"\n"),
            (
                "trigger.on-x",
                "- when: app.status.health.status ==\n  send: [t]\n",
            ),
            ("trigger.on-y", "- when: time.Now() > 1\n"),
            ("trigger.on-z", "when: x\n"),
        ]),
        &BTreeMap::new(),
        "app",
    );
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "data[service.email]",
            "data[service.webhook.bad]",
            "data[template.t]",
            "data[trigger.on-z]"
        ],
        "{problems:?}"
    );
    assert!(problems[0].message.contains("\"email\" is not supported"));
    let obj = app(
        json!({"notifications.argoproj.io/subscribe.on-x.bad": "",
            "notifications.argoproj.io/subscribe.on-y.bad": "",
            "notifications.argoproj.io/subscribe.on-missing.bad": ""}),
        json!({}),
    );
    let p = plan(&cfg, &obj, &mut State::default(), 1);
    assert!(p.sends.is_empty());
    let w = p.warnings.join("\n");
    assert!(w.contains("trigger 'on-missing' is not configured"), "{w}");
    assert!(w.contains("trigger 'on-x': condition"), "{w}");
    assert!(w.contains("unknown name time"), "{w}");
}

#[test]
fn state_keeps_the_newest_hundred() {
    let mut st = State::default();
    for i in 0..150 {
        st.0.insert(format!("k{i:03}"), i);
    }
    let kept = State::from_annotation(st.to_annotation().as_deref());
    assert_eq!(kept.0.len(), HISTORY_MAX);
    assert!(kept.0.contains_key("k149") && !kept.0.contains_key("k049"));
    assert_eq!(State::default().to_annotation(), None);
    assert_eq!(State::from_annotation(Some("not json")), State::default());
}

proptest! {
    /// Arbitrary configuration values, annotations and objects never panic.
    #[test]
    fn never_panics(
        key in "(service\\.webhook\\.a|template\\.t|trigger\\.on-x|defaultTriggers|context)",
        text in "\\PC{0,80}",
        ann_key in "notifications\\.argoproj\\.io/subscribe\\.[a-z.-]{0,12}",
        ann in "\\PC{0,20}",
        status in "\\PC{0,20}",
    ) {
        let (cfg, _) = Config::parse(&data(&[(key.as_str(), text.as_str())]), &BTreeMap::new(), "app");
        let obj = app(json!({ann_key: ann}), json!({"health": {"status": status}}));
        let mut st = State::default();
        let p = plan(&cfg, &obj, &mut st, 1);
        for s in &p.sends {
            let _ = requests(&cfg, s, &obj);
        }
    }
}
