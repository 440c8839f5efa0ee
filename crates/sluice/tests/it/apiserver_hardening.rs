//! Issue 18 against the real `sluice apiserver` binary and kubectl: a stored object that
//! today's checks reject does not crash-loop the server (it is quarantined), the data
//! directory is private, duplicate fields in a JSON body are strict decoding errors.

use std::path::Path;

use serde_json::{Value, json};

use crate::apiserver_kubectl::{Server, err, kubectl_available, out, temp_dir};

macro_rules! need_kubectl {
    () => {
        if !kubectl_available() {
            eprintln!("kubectl is not installed (scripts/test installs it): skipped");
            return;
        }
    };
}

/// An Enforce ClusterPolicy: ConfigMaps need a `team` label.
fn policy(name: &str) -> Value {
    json!({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": name},
        "spec": {"validationFailureAction": "Enforce", "background": false, "rules": [{
            "name": "team-label",
            "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
            "validate": {"message": "a team label is required",
                         "pattern": {"metadata": {"labels": {"team": "?*"}}}},
        }]},
    })
}

/// Stores `obj` without admission, as an older Sluice with weaker checks would have.
fn store_unchecked(dir: &Path, resource: &str, mut obj: Value) {
    let s = sluice_apiserver::ApiServer::open(sluice_apiserver::Options {
        data_dir: Some(dir.to_owned()),
        simulate: None,
        ..sluice_apiserver::Options::default()
    })
    .expect("opens");
    obj["metadata"]["uid"] = json!("0f0f0f0f-0000-4000-8000-000000000001");
    obj["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z");
    s.state().store.create(resource, obj).expect("stored");
}

// The issue's crash loop: a policy stored earlier that today's checks reject (here, a name
// that is no DNS subdomain) is quarantined on start: the server serves, the policy is listed,
// an Event says why, and it is not applied — while the same policy under a valid name is.
// A restart (kill -9) starts again the same way.
#[test]
fn a_poisoned_stored_policy_is_quarantined_not_a_crash_loop() {
    need_kubectl!();
    let dir = temp_dir("quarantine");
    store_unchecked(&dir, "kyverno.io/clusterpolicies", policy("Team_Label"));
    let s = Server::start_in(dir, 0);
    let listed = s.json(&["get", "clusterpolicies"]);
    assert_eq!(listed["items"][0]["metadata"]["name"], "Team_Label");
    let evs = s.json(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        "reason=Quarantined",
    ]);
    let items = evs["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{evs}");
    assert_eq!(items[0]["involvedObject"]["name"], "Team_Label");
    assert!(
        items[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("metadata.name")),
        "{}",
        items[0]
    );
    // not applied: a ConfigMap without the label is admitted
    s.ok(&["create", "configmap", "free", "--from-literal=k=v"], None);
    // the same policy under a valid name is applied
    s.ok(
        &["apply", "-f", "-"],
        Some(&policy("team-label").to_string()),
    );
    let o = s.kubectl(
        &["create", "configmap", "denied", "--from-literal=k=v"],
        None,
    );
    assert!(!o.status.success(), "{}", out(&o));
    assert!(err(&o).contains("a team label is required"), "{}", err(&o));
    // and again after kill -9
    let s = s.crash_and_restart();
    s.ok(&["get", "clusterpolicies", "Team_Label"], None);
    s.ok(&["get", "configmap", "free"], None);
    let listed = s.json(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        "reason=Quarantined",
    ]);
    assert_eq!(listed["items"][0]["count"], 2, "{listed}");
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
}

// The store holds Secrets: DATA is 0700, db.sqlite (and its -wal/-shm while serving), token,
// kubeconfig, tls.key 0600; a loosened directory is fixed on the next start.
#[cfg(unix)]
#[test]
fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    need_kubectl!();
    let s = Server::start("perms");
    s.ok(
        &[
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=password=hunter2",
        ],
        None,
    );
    let dir = s.dir().to_owned();
    assert_eq!(mode(&dir), 0o700);
    for f in [
        "db.sqlite",
        "db.sqlite-wal",
        "db.sqlite-shm",
        "token",
        "kubeconfig",
        "tls.key",
        "tls.crt",
    ] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for f in ["db.sqlite", "db.sqlite-wal", "tls.key"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let s = s.crash_and_restart();
    s.ok(&["get", "secret", "s"], None);
    assert_eq!(mode(&dir), 0o700);
    for f in ["db.sqlite", "db.sqlite-wal", "tls.key"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
}

// kubernetes test/integration/apiserver/field_validation_test.go: with fieldValidation=Strict
// a duplicate field is `strict decoding error: duplicate field "metadata.name"` (400); by
// default it is a warning kubectl prints.
#[test]
fn duplicate_json_fields_are_strict_decoding_errors() {
    need_kubectl!();
    let s = Server::start("dupes");
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},"data":{"k":"1","k":"2"}}"#;
    let file = s.dir().join("dup.json");
    std::fs::write(&file, body).expect("write");
    let f = file.to_string_lossy().into_owned();
    let o = s.kubectl(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            "-f",
            &f,
        ],
        None,
    );
    assert!(!o.status.success(), "{}", out(&o));
    assert!(
        err(&o).contains(r#"strict decoding error: duplicate field \"metadata.name\", duplicate field \"data.k\""#)
            || err(&o).contains(r#"strict decoding error: duplicate field "metadata.name", duplicate field "data.k""#),
        "{}",
        err(&o)
    );
    let o = s.kubectl(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            &f,
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains(r#"Warning: duplicate field "metadata.name""#),
        "{}",
        err(&o)
    );
    let cm = s.json(&["get", "configmap", "b"]);
    assert_eq!(cm["data"]["k"], "2", "the last occurrence wins");
}
