//! The sink end to end over fixtures: the GitLab push pipeline shaped like the seed's trigger,
//! and one case per interceptor, selection rule and failure the sink must report.

use std::sync::Mutex;

use serde_json::{Value, json};
use sluice_triggers::{
    Event, EventOutcome, Headers, InterceptorCaller, InterceptorRequest, InterceptorTarget,
    NoCaller, ObjectCatalog, TriggerResult, process,
};

fn objects(yaml: &str) -> Vec<Value> {
    sluice_core::object::load_objects("fixture.yaml", yaml, &Default::default())
        .expect("fixture loads")
        .objects
        .into_iter()
        .map(|o| o.object.into_value())
        .collect()
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn send(
    catalog: &ObjectCatalog,
    ns: &str,
    listener: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> EventOutcome {
    send_with(catalog, ns, listener, headers, body, &NoCaller)
}

fn send_with(
    catalog: &ObjectCatalog,
    ns: &str,
    listener: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    caller: &dyn InterceptorCaller,
) -> EventOutcome {
    let headers = Headers::from_pairs(headers.iter().copied());
    process(
        &Event {
            namespace: ns,
            listener,
            headers: &headers,
            body,
            url: "http://sluice.local/listeners/ci/gitlab",
            event_id: "3f2c9d1e-7a51-4b0e-9c11-2d0b5f6a7e88",
        },
        catalog,
        caller,
    )
}

fn gitlab() -> ObjectCatalog {
    let c = ObjectCatalog::new(objects(&fixture("gitlab-push.yaml")), "ci");
    assert!(c.skipped.is_empty(), "{:?}", c.skipped);
    c
}

const GOOD: &[(&str, &str)] = &[
    ("X-Gitlab-Token", "s3cr3t-t0ken"),
    ("X-Gitlab-Event", "Push Hook"),
    ("Content-Type", "application/json"),
];

fn param<'a>(pr: &'a Value, name: &str) -> &'a str {
    pr["spec"]["params"]
        .as_array()
        .expect("params")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["value"].as_str())
        .unwrap_or_else(|| panic!("param {name} in {pr}"))
}

// Issue 9 item 8: main and release/ pushes create one PipelineRun each with image tag =
// checkout_sha and the project's name; the labels are tektoncd/triggers
// pkg/resources/create.go's; the response body is sink.go's Response.
#[test]
fn main_and_release_pushes_create_one_pipelinerun_each() {
    let c = gitlab();
    for (file, sha, branch) in [
        (
            "push-main.json",
            "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            "main",
        ),
        (
            "push-release.json",
            "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
            "release",
        ),
    ] {
        let out = send(&c, "ci", "gitlab", GOOD, fixture(file).as_bytes());
        assert_eq!(out.status, 202, "{file}: {out:?}");
        assert_eq!(
            serde_json::to_value(&out.response).expect("json"),
            json!({"eventListener": "gitlab", "namespace": "ci",
                   "eventListenerUID": "5e7c6a1e-0000-4000-8000-000000000001",
                   "eventID": "3f2c9d1e-7a51-4b0e-9c11-2d0b5f6a7e88"})
        );
        let resources: Vec<&Value> = out.resources().collect();
        assert_eq!(resources.len(), 1, "{file}");
        let pr = resources[0];
        assert_eq!(pr["kind"], "PipelineRun");
        assert_eq!(pr["metadata"]["generateName"], "build-billing-api-");
        assert_eq!(pr["metadata"]["namespace"], "ci");
        assert_eq!(
            pr["metadata"]["labels"],
            json!({"app.kubernetes.io/project": "billing-api",
                   "triggers.tekton.dev/eventlistener": "gitlab",
                   "triggers.tekton.dev/trigger": "push",
                   "triggers.tekton.dev/triggers-eventid": "3f2c9d1e-7a51-4b0e-9c11-2d0b5f6a7e88"})
        );
        assert_eq!(param(pr, "image-tag"), sha);
        assert_eq!(param(pr, "revision"), sha);
        assert_eq!(param(pr, "image"), "registry.local/billing-api");
        // the CEL overlay's extension reached the binding
        assert_eq!(param(pr, "branch"), branch);
        // a string from the body is JSON-escaped into the template and decodes back intact
        assert_eq!(
            param(pr, "message"),
            "fix: round \"net\" totals <half-even>\n"
        );
        assert_eq!(out.triggers[0].result.reason(), "Created");
    }
}

// pkg/interceptors/cel/cel.go: a false filter stops with FailedPrecondition and
// "expression <filter> did not return true".
#[test]
fn feature_branch_is_filtered_by_cel_with_its_reason() {
    let out = send(
        &gitlab(),
        "ci",
        "gitlab",
        GOOD,
        fixture("push-feature.json").as_bytes(),
    );
    assert_eq!(out.status, 202);
    assert_eq!(out.resources().count(), 0);
    // the event record as the server stores it
    assert_eq!(
        serde_json::to_value(&out.triggers[0]).expect("json"),
        json!({"trigger": "push", "namespace": "ci", "outcome": "Filtered",
               "interceptor": "main-and-release", "code": "FailedPrecondition",
               "message": "expression body.ref.startsWith('refs/heads/main') ||\nbody.ref.startsWith('refs/heads/release/')\n did not return true"})
    );
    assert_eq!(
        out.triggers[0].result,
        TriggerResult::Filtered {
            interceptor: "main-and-release".into(),
            code: "FailedPrecondition".into(),
            message: "expression body.ref.startsWith('refs/heads/main') ||\nbody.ref.startsWith('refs/heads/release/')\n did not return true".into(),
        }
    );
}

// pkg/interceptors/gitlab/gitlab.go: "Invalid X-GitLab-Token" (InvalidArgument), "no
// X-GitLab-Token header set", "event type %s is not allowed" (FailedPrecondition).
#[test]
fn gitlab_token_and_event_type() {
    let c = gitlab();
    let body = fixture("push-main.json");
    let out = send(
        &c,
        "ci",
        "gitlab",
        &[("X-Gitlab-Token", "guess"), ("X-Gitlab-Event", "Push Hook")],
        body.as_bytes(),
    );
    assert_eq!(out.status, 403);
    assert_eq!(out.resources().count(), 0);
    assert_eq!(
        out.triggers[0].result,
        TriggerResult::Rejected {
            interceptor: "gitlab".into(),
            code: "InvalidArgument".into(),
            message: "Invalid X-GitLab-Token".into(),
        }
    );
    assert_eq!(
        out.response.error_message,
        "interceptor gitlab: Invalid X-GitLab-Token"
    );
    let out = send(
        &c,
        "ci",
        "gitlab",
        &[("X-Gitlab-Event", "Push Hook")],
        body.as_bytes(),
    );
    assert_eq!(out.status, 403);
    assert!(
        out.triggers[0]
            .result
            .message()
            .ends_with("no X-GitLab-Token header set")
    );
    let out = send(
        &c,
        "ci",
        "gitlab",
        &[
            ("X-Gitlab-Token", "s3cr3t-t0ken"),
            ("X-Gitlab-Event", "Tag Push Hook"),
        ],
        body.as_bytes(),
    );
    assert_eq!(out.status, 202);
    assert_eq!(
        out.triggers[0].result,
        TriggerResult::Filtered {
            interceptor: "gitlab".into(),
            code: "FailedPrecondition".into(),
            message: "event type Tag Push Hook is not allowed".into(),
        }
    );
}

// pkg/sink/validate_payload.go (400 "Invalid event body format : ..."), an unknown
// listener (404).
#[test]
fn bad_requests() {
    let c = gitlab();
    let out = send(&c, "ci", "gitlab", GOOD, b"{not json");
    assert_eq!(out.status, 400);
    assert!(
        out.response
            .error_message
            .starts_with("Invalid event body format : ")
    );
    assert!(out.triggers.is_empty());
    let out = send(&c, "ci", "gitlab", GOOD, b"[1, 2]");
    assert_eq!(out.status, 400);
    let out = send(&c, "ci", "nope", GOOD, b"{}");
    assert_eq!(out.status, 404);
    assert_eq!(
        serde_json::to_value(&out.response).expect("json")["errorMessage"],
        "EventListener \"nope\" not found in namespace \"ci\""
    );
}

// Issue 9 item 10: a template param without a value is an error with no resources; so is
// a template that renders something that is not an object with apiVersion, kind and a name.
#[test]
fn missing_params_and_bad_templates_create_nothing() {
    let mut objs = objects(&fixture("gitlab-push.yaml"));
    for o in &mut objs {
        if o["kind"] == "TriggerBinding" {
            // drop the binding of "project": no default, so the template cannot render
            let params = o["spec"]["params"].as_array_mut().expect("params");
            params.retain(|p| p["name"] != "project");
        }
    }
    let c = ObjectCatalog::new(objs, "ci");
    let out = send(
        &c,
        "ci",
        "gitlab",
        GOOD,
        fixture("push-main.json").as_bytes(),
    );
    assert_eq!(out.status, 500);
    assert_eq!(out.resources().count(), 0);
    assert_eq!(
        out.triggers[0].result.message(),
        "TriggerTemplate \"push-template\" has no value for param(s) \"project\": no binding provides them and they have no default"
    );

    let yaml = r#"
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: ci}
spec:
  triggers:
  - name: two
    bindings:
    - {name: kind, value: $(body.kind)}
    template:
      spec:
        params: [{name: kind}]
        resourcetemplates:
        - {apiVersion: v1, kind: ConfigMap, metadata: {generateName: ok-}}
        - {apiVersion: v1, kind: "$(tt.params.kind)", metadata: {generateName: bad-}}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let out = send(&c, "ci", "el", &[], br#"{"kind": ""}"#);
    assert_eq!(out.status, 500);
    assert_eq!(
        out.resources().count(),
        0,
        "the first resource is not handed out alone"
    );
    assert!(
        out.triggers[0]
            .result
            .message()
            .contains("kind is required")
    );
    let out = send(&c, "ci", "el", &[], br#"{"kind": "Secret"}"#);
    assert_eq!(out.status, 202);
    assert_eq!(out.resources().count(), 2);

    // A PipelineRun the params make invalid (Sluice's own PipelineRun validation, as
    // admission would apply it) is refused before anything is created.
    let yaml = r#"
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: ci}
spec:
  triggers:
  - name: pr
    bindings:
    - {name: timeout, value: $(body.timeout)}
    template:
      spec:
        params: [{name: timeout}]
        resourcetemplates:
        - apiVersion: tekton.dev/v1
          kind: PipelineRun
          metadata: {generateName: run-}
          spec:
            pipelineRef: {name: build}
            timeouts: {pipeline: $(tt.params.timeout)}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let out = send(&c, "ci", "el", &[], br#"{"timeout": "1h"}"#);
    assert_eq!(out.status, 202, "{out:?}");
    let out = send(&c, "ci", "el", &[], br#"{"timeout": "soon"}"#);
    assert_eq!(out.status, 500);
    assert_eq!(out.resources().count(), 0);
    let msg = out.triggers[0].result.message();
    assert!(
        msg.starts_with("resourcetemplates[0] of the embedded template: the rendered PipelineRun is invalid: spec.timeouts.pipeline"),
        "{msg}"
    );
}

// pkg/interceptors/github/github.go with the signature of tektoncd/triggers
// examples/v1beta1/github (secret "1234567").
#[test]
fn github_signature_event_types_and_cel() {
    let yaml = r#"
apiVersion: v1
kind: Secret
metadata: {name: github-secret, namespace: ci}
data: {secretToken: MTIzNDU2Nw==}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: gh, namespace: ci}
spec:
  triggers:
  - name: pr
    interceptors:
    - ref: {name: github}
      params:
      - name: secretRef
        value: {secretName: github-secret, secretKey: secretToken}
      - name: eventTypes
        value: [pull_request]
    - name: opened
      ref: {name: cel}
      params:
      - {name: filter, value: "body.action in ['opened', 'synchronize', 'reopened']"}
      - name: overlays
        value:
        - {key: short_sha, expression: "body.pull_request.head.sha.truncate(7)"}
    bindings:
    - {name: sha, value: $(extensions.short_sha)}
    - {name: url, value: $(body.repository.clone_url)}
    - {name: event, value: $(header.x-github-event)}
    template:
      spec:
        params: [{name: sha}, {name: url}, {name: event}]
        resourcetemplates:
        - apiVersion: tekton.dev/v1
          kind: TaskRun
          metadata: {generateName: "gh-$(tt.params.sha)-"}
          spec: {taskRef: {name: echo}, params: [{name: url, value: $(tt.params.url)}, {name: event, value: $(tt.params.event)}]}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let body = br#"{"action": "opened", "pull_request":{"head":{"sha": "28911bbb5a3e2ea034daf1f6be0a822d50e31e73"}},"repository":{"clone_url": "https://github.com/tektoncd/triggers.git"}}"#;
    let sig = "sha256=c26dd919ebe335852219c49f74c4b24f1c62c93c77294be3ac6d8f2e4691a023";
    let out = send(
        &c,
        "ci",
        "gh",
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-Hub-Signature-256", sig),
        ],
        body,
    );
    assert_eq!(out.status, 202, "{out:?}");
    let tr: Vec<&Value> = out.resources().collect();
    assert_eq!(tr[0]["metadata"]["generateName"], "gh-28911bb-");
    assert_eq!(
        tr[0]["spec"]["params"][0]["value"],
        "https://github.com/tektoncd/triggers.git"
    );
    assert_eq!(tr[0]["spec"]["params"][1]["value"], "pull_request");

    let mut tampered = body.to_vec();
    tampered[12] = b'c'; // "opened" -> "cpened"
    let out = send(
        &c,
        "ci",
        "gh",
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-Hub-Signature-256", sig),
        ],
        &tampered,
    );
    assert_eq!(out.status, 403);
    assert_eq!(
        out.triggers[0].result,
        TriggerResult::Rejected {
            interceptor: "github".into(),
            code: "FailedPrecondition".into(),
            message: "payload signature check failed".into(),
        }
    );
    let out = send(&c, "ci", "gh", &[("X-GitHub-Event", "pull_request")], body);
    assert!(
        out.triggers[0]
            .result
            .message()
            .ends_with("Must set X-Hub-Signature-256 or X-Hub-Signature header")
    );
    let out = send(
        &c,
        "ci",
        "gh",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", sig)],
        body,
    );
    assert_eq!(out.triggers[0].result.reason(), "Filtered");
    let out = send(
        &c,
        "ci",
        "gh",
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-Hub-Signature-256", sig),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body,
    );
    assert!(out.triggers[0].result.message().ends_with(
        "form parameter encoding not supported, please change the hook to send JSON payloads"
    ));
}

// bitbucket.go (X-Event-Key, X-Hub-Signature) and slack.go (form fields as extensions).
#[test]
fn bitbucket_and_slack() {
    let yaml = r#"
apiVersion: v1
kind: Secret
metadata: {name: bb, namespace: ci}
stringData: {secretToken: "1234567"}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: bb, namespace: ci}
spec:
  triggers:
  - name: refs
    interceptors:
    - ref: {name: bitbucket}
      params:
      - {name: secretRef, value: {secretName: bb, secretKey: secretToken}}
      - {name: eventTypes, value: ["repo:refs_changed"]}
    bindings:
    - {name: ref, value: "$(body.changes[0].ref.displayId)"}
    template:
      spec:
        params: [{name: ref}]
        resourcetemplates:
        - {apiVersion: v1, kind: ConfigMap, metadata: {generateName: bb-}, data: {ref: $(tt.params.ref)}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: slack
  namespace: ci
  annotations: {tekton.dev/payload-validation: "false"}
spec:
  triggers:
  - name: slash
    interceptors:
    - ref: {name: slack, kind: ClusterInterceptor}
      params:
      - {name: requestedFields, value: [text]}
    - ref: {name: cel}
      params:
      - name: overlays
        value:
        - {key: branch, expression: 'extensions.text[0].split(" ")[0]'}
    bindings:
    - {name: branch, value: $(extensions.branch)}
    template:
      spec:
        params: [{name: branch}]
        resourcetemplates:
        - {apiVersion: v1, kind: ConfigMap, metadata: {generateName: slack-}, data: {branch: $(tt.params.branch)}}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let body = br#"{"changes": [{"ref": {"displayId": "main"}}]}"#;
    // HMAC-SHA1 of the body with "1234567", as Bitbucket Server sends it
    let sig = sha1_hmac_hex(b"1234567", body);
    let out = send(
        &c,
        "ci",
        "bb",
        &[
            ("X-Event-Key", "repo:refs_changed"),
            ("X-Hub-Signature", &format!("sha1={sig}")),
        ],
        body,
    );
    assert_eq!(out.status, 202, "{out:?}");
    assert_eq!(out.resources().next().expect("one")["data"]["ref"], "main");
    let out = send(
        &c,
        "ci",
        "bb",
        &[
            ("X-Event-Key", "repo:refs_changed"),
            ("X-Hub-Signature", "sha1=00"),
        ],
        body,
    );
    assert_eq!(out.status, 403);

    let form = b"token=x&team_id=T1&command=%2Fbuild&text=release+2222";
    let out = send(
        &c,
        "ci",
        "slack",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Slack-Signature", "v0=1"),
        ],
        form,
    );
    assert_eq!(out.status, 202, "{out:?}");
    assert_eq!(
        out.resources().next().expect("one")["data"]["branch"],
        "release"
    );
    let out = send(&c, "ci", "slack", &[("Content-Type", "text/plain")], form);
    assert_eq!(out.status, 403);
    assert!(
        out.triggers[0]
            .result
            .message()
            .contains("missing header in payload")
    );
}

fn sha1_hmac_hex(key: &[u8], msg: &[u8]) -> String {
    // RFC 2104 with SHA-1, written out so the test does not share the code under test.
    fn sha1(data: &[u8]) -> [u8; 20] {
        let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
        let mut m = data.to_vec();
        let bits = (data.len() as u64) * 8;
        m.push(0x80);
        while m.len() % 64 != 56 {
            m.push(0);
        }
        m.extend_from_slice(&bits.to_be_bytes());
        for chunk in m.chunks(64) {
            let mut w = [0u32; 80];
            for i in 0..16 {
                w[i] = u32::from_be_bytes([
                    chunk[4 * i],
                    chunk[4 * i + 1],
                    chunk[4 * i + 2],
                    chunk[4 * i + 3],
                ]);
            }
            for i in 16..80 {
                w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
            }
            let [mut a, mut b, mut c, mut d, mut e] = h;
            for (i, wi) in w.iter().enumerate() {
                let (f, k) = match i {
                    0..=19 => ((b & c) | (!b & d), 0x5A827999),
                    20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                    40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                    _ => (b ^ c ^ d, 0xCA62C1D6),
                };
                let t = a
                    .rotate_left(5)
                    .wrapping_add(f)
                    .wrapping_add(e)
                    .wrapping_add(k)
                    .wrapping_add(*wi);
                e = d;
                d = c;
                c = b.rotate_left(30);
                b = a;
                a = t;
            }
            for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
                *x = x.wrapping_add(y);
            }
        }
        let mut out = [0u8; 20];
        for (i, x) in h.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
        }
        out
    }
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(sha1(&inner)).collect();
    sha1(&outer).iter().map(|b| format!("{b:02x}")).collect()
}

// sink.go selectTriggers/merge/processTriggerGroups: labelSelector in the listener's
// namespace, namespaceSelector "*" and by name, triggerRef, groups sharing interceptors,
// ClusterTriggerBinding.
#[test]
fn trigger_selection_and_groups() {
    let yaml = r#"
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterTriggerBinding
metadata: {name: shared}
spec:
  params: [{name: who, value: $(body.who)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: cm, namespace: ci}
spec:
  params: [{name: who}, {name: tag, default: none}]
  resourcetemplates:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: "cm-$(uid)"}, data: {who: $(tt.params.who), tag: $(tt.params.tag)}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: cm, namespace: other}
spec:
  params: [{name: who}]
  resourcetemplates:
  - {apiVersion: v1, kind: ConfigMap, metadata: {generateName: other-}, data: {who: $(tt.params.who)}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: labelled, namespace: ci, labels: {team: a}}
spec:
  bindings: [{ref: shared, kind: ClusterTriggerBinding}]
  template: {ref: cm}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: unlabelled, namespace: ci}
spec:
  bindings: [{ref: shared, kind: ClusterTriggerBinding}, {name: tag, value: $(extensions.tag)}]
  template: {ref: cm}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: elsewhere, namespace: other, labels: {team: a}}
spec:
  bindings: [{ref: shared, kind: ClusterTriggerBinding}]
  template: {ref: cm}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: by-label, namespace: ci}
spec:
  labelSelector: {matchLabels: {team: a}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: everywhere, namespace: ci}
spec:
  namespaceSelector: {matchNames: ["*"]}
  labelSelector: {matchLabels: {team: a}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: by-ref, namespace: ci}
spec:
  triggers: [{triggerRef: unlabelled}, {triggerRef: missing}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: grouped, namespace: ci}
spec:
  triggerGroups:
  - name: only-ada
    interceptors:
    - ref: {name: cel}
      params:
      - {name: filter, value: "body.who == 'ada'"}
      - {name: overlays, value: [{key: tag, expression: "'v' + string(int(body.n))"}]}
    triggerSelector:
      namespaceSelector: {matchNames: [ci]}
      labelSelector: {matchExpressions: [{key: team, operator: DoesNotExist}]}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let body = br#"{"who": "ada", "n": 3}"#;
    let names = |out: &EventOutcome| -> Vec<String> {
        out.triggers
            .iter()
            .map(|t| format!("{}/{}:{}", t.namespace, t.trigger, t.result.reason()))
            .collect()
    };
    let out = send(&c, "ci", "by-label", &[], body);
    assert_eq!(names(&out), ["ci/labelled:Created"]);
    let cm = out.resources().next().expect("one");
    assert_eq!(cm["data"], json!({"who": "ada", "tag": "none"}));
    // $(uid) is one UUID-shaped id per trigger
    let name = cm["metadata"]["name"].as_str().expect("name");
    assert_eq!(name.len(), "cm-".len() + 36, "{name}");

    let out = send(&c, "ci", "everywhere", &[], body);
    assert_eq!(
        names(&out),
        ["ci/labelled:Created", "other/elsewhere:Created"]
    );
    let other: Vec<&Value> = out.resources().collect();
    assert_eq!(other[1]["metadata"]["namespace"], "other");
    assert_eq!(other[1]["metadata"]["generateName"], "other-");

    let out = send(&c, "ci", "by-ref", &[], body);
    assert_eq!(names(&out), ["ci/missing:Failed", "ci/unlabelled:Created"]);
    assert_eq!(out.status, 202);

    let out = send(&c, "ci", "grouped", &[], body);
    assert_eq!(names(&out), ["ci/unlabelled:Created"]);
    assert_eq!(out.triggers[0].group.as_deref(), Some("only-ada"));
    assert_eq!(out.resources().next().expect("one")["data"]["tag"], "v3");
    let out = send(&c, "ci", "grouped", &[], br#"{"who": "bob", "n": 1}"#);
    assert_eq!(names(&out), ["ci/:Filtered"]);
    assert_eq!(out.triggers[0].group.as_deref(), Some("only-ada"));
}

/// A ClusterInterceptor served by the test: records the request, answers as told.
struct FakeInterceptor {
    seen: Mutex<Vec<(InterceptorTarget, Value)>>,
    answer: Value,
}

impl InterceptorCaller for FakeInterceptor {
    fn call_interceptor(
        &self,
        target: &InterceptorTarget,
        request: &[u8],
    ) -> Result<Vec<u8>, String> {
        let req: Value = serde_json::from_slice(request).map_err(|e| e.to_string())?;
        self.seen.lock().expect("lock").push((target.clone(), req));
        serde_json::to_vec(&self.answer).map_err(|e| e.to_string())
    }
    fn call_webhook(
        &self,
        target: &InterceptorTarget,
        h: &Headers,
        b: &[u8],
    ) -> Result<(Headers, Vec<u8>), String> {
        let mut body: Value = serde_json::from_slice(b).map_err(|e| e.to_string())?;
        body["seen_by"] = Value::String(target.url.clone());
        self.seen
            .lock()
            .expect("lock")
            .push((target.clone(), body.clone()));
        Ok((
            h.clone(),
            serde_json::to_vec(&body).map_err(|e| e.to_string())?,
        ))
    }
}

// pkg/sink/sink.go ExecuteInterceptors and pkg/interceptors/interceptors.go Execute: the
// InterceptorRequest a ClusterInterceptor receives (body verbatim, header, extensions of the
// interceptors before it, its own params, context with trigger_id), and what its
// InterceptorResponse does (extensions merged; continue=false stops with its status).
#[test]
fn cluster_interceptor_protocol() {
    let yaml = r#"
apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata: {name: policy}
spec:
  clientConfig:
    service: {name: policy-svc, namespace: tools, path: /check, port: 8443}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: ci}
spec:
  triggers:
  - name: t
    interceptors:
    - ref: {name: cel}
      params: [{name: overlays, value: [{key: first, expression: "body.a + '!'"}]}]
    - ref: {name: policy}
      params: [{name: level, value: {strict: true}}]
    - webhook:
        objectRef: {kind: Service, name: hook, namespace: tools, apiVersion: v1}
    bindings:
    - {name: verdict, value: $(extensions.verdict)}
    - {name: first, value: $(extensions.first)}
    - {name: seen, value: $(body.seen_by)}
    template:
      spec:
        params: [{name: verdict}, {name: first}, {name: seen}]
        resourcetemplates:
        - {apiVersion: v1, kind: ConfigMap, metadata: {generateName: x-}, data: {v: $(tt.params.verdict), f: $(tt.params.first), s: $(tt.params.seen)}}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let fake = FakeInterceptor {
        seen: Mutex::new(Vec::new()),
        answer: json!({"continue": true, "extensions": {"verdict": "ok"}}),
    };
    let body = br#"{"a":  "x"}"#;
    let out = send_with(&c, "ci", "el", &[("X-Id", "7")], body, &fake);
    assert_eq!(out.status, 202, "{out:?}");
    assert_eq!(
        out.resources().next().expect("one")["data"],
        json!({"v": "ok", "f": "x!", "s": "http://hook.tools.svc/"})
    );
    let seen = fake.seen.lock().expect("lock");
    assert_eq!(seen[0].0.url, "http://policy-svc.tools.svc:8443/check");
    assert_eq!(seen[0].0.kind, "ClusterInterceptor");
    let req: InterceptorRequest = serde_json::from_value(seen[0].1.clone()).expect("shape");
    assert_eq!(req.body, r#"{"a":  "x"}"#);
    assert_eq!(req.header["X-Id"], ["7"]);
    assert_eq!(req.extensions["first"], "x!");
    assert_eq!(req.interceptor_params["level"], json!({"strict": true}));
    let ctx = req.context.expect("context");
    assert_eq!(ctx.trigger_id, "namespaces/ci/triggers/t");
    assert_eq!(ctx.event_id, "3f2c9d1e-7a51-4b0e-9c11-2d0b5f6a7e88");
    // the old-style webhook got the body with the extensions merged in
    assert_eq!(seen[1].1["extensions"]["verdict"], "ok");
    drop(seen);

    let stop = FakeInterceptor {
        seen: Mutex::new(Vec::new()),
        answer: json!({"continue": false, "status": {"code": 7, "message": "not on Fridays"}}),
    };
    let out = send_with(&c, "ci", "el", &[], body, &stop);
    assert_eq!(
        out.triggers[0].result,
        TriggerResult::Filtered {
            interceptor: "policy".into(),
            code: "PermissionDenied".into(),
            message: "not on Fridays".into(),
        }
    );
    let out = send(&c, "ci", "el", &[], body);
    assert_eq!(out.status, 500);
    assert!(out.triggers[0].result.message().contains("not available"));
}

// v1alpha1 EventListeners may still carry the deprecated inline interceptors.
#[test]
fn v1alpha1_inline_interceptors() {
    let yaml = r#"
apiVersion: triggers.tekton.dev/v1alpha1
kind: EventListener
metadata: {name: old, namespace: ci}
spec:
  triggers:
  - name: t
    interceptors:
    - cel:
        filter: "header.match('X-Kind', 'go')"
        overlays: [{key: up, expression: "body.v.upperAscii()"}]
    bindings: [{name: up, value: $(extensions.up)}]
    template:
      spec:
        params: [{name: up}]
        resourcetemplates:
        - {apiVersion: v1, kind: ConfigMap, metadata: {generateName: x-}, data: {up: $(tt.params.up)}}
"#;
    let c = ObjectCatalog::new(objects(yaml), "ci");
    let out = send(&c, "ci", "old", &[("x-kind", "go")], br#"{"v": "abc"}"#);
    assert_eq!(out.resources().next().expect("one")["data"]["up"], "ABC");
    let out = send(&c, "ci", "old", &[("x-kind", "stop")], br#"{"v": "abc"}"#);
    assert_eq!(out.triggers[0].result.reason(), "Filtered");
    assert_eq!(
        out.triggers[0].result.message(),
        "interceptor cel: expression header.match('X-Kind', 'go') did not return true"
    );
}
