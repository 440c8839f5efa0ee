//! Secrets at rest and the audit log of `sluice apiserver` with the real kubectl.
//!
//! Encryption follows kubernetes.io docs "Encrypting Confidential Data at Rest": an
//! `EncryptionConfiguration` with an aesgcm key encrypts Secrets in storage (values
//! `k8s:enc:aesgcm:v1:<key>:` + nonce + ciphertext, staging/src/k8s.io/apiserver/pkg/storage/
//! value/encrypt/aes/aes.go), the API serves them decrypted; rotation puts the new key first
//! and the old one second, and `kubectl get secrets -o json | kubectl replace -f -` rewrites
//! with the new key. Auditing follows docs "Auditing": an audit.k8s.io/v1 Policy, events
//! as JSON lines at `--audit-log-path`, `user` being the authenticated user.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apiserver_kubectl::{Server, err, kubectl_available, out, temp_dir};

const KEY1: &str = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="; // 32 bytes
const KEY2: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

fn config(dir: &Path, name: &str, keys: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n      - aesgcm:\n          keys:\n",
    );
    for (n, s) in keys {
        text.push_str(&format!(
            "            - name: {n}\n              secret: {s}\n"
        ));
    }
    text.push_str("      - identity: {}\n");
    let path = dir.with_extension(name);
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

fn raw_files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["db.sqlite", "db.sqlite-wal"] {
        all.extend(std::fs::read(dir.join(f)).unwrap_or_default());
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn raw_row(dir: &Path, name: &str) -> Vec<u8> {
    let c = rusqlite::Connection::open_with_flags(
        dir.join("db.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open db");
    c.query_row(
        "SELECT CAST(body AS BLOB) FROM objects WHERE resource = '/secrets' AND namespace = 'default' AND name = ?1",
        [name],
        |r| r.get(0),
    )
    .expect("the row")
}

#[test]
fn secrets_encrypted_at_rest_and_rotated() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let dir = temp_dir("atrest");
    let c1 = config(&dir, "key1.yaml", &[("key1", KEY1)]);
    let s = Server::start_with(dir, 0, &["--encryption-provider-config", &c1]);
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
    let got = s.json(&["get", "secret", "s"]);
    assert_eq!(got["data"]["password"], "aHVudGVyMg==");
    let raw = raw_files(s.dir());
    assert!(!contains(&raw, "hunter2"), "plaintext on disk");
    assert!(
        !contains(&raw, "aHVudGVyMg=="),
        "base64 of the plaintext on disk"
    );
    assert!(raw_row(s.dir(), "s").starts_with(b"k8s:enc:aesgcm:v1:key1:"));
    // a ConfigMap is not listed: stored as JSON
    s.ok(
        &["create", "configmap", "c", "--from-literal=k=visible"],
        None,
    );
    assert!(contains(&raw_files(s.dir()), "visible"));
    // the config holds keys: made 0600 on start
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&c1).expect("config").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "config mode {mode:o}");
    }

    // rotation: key2 first, key1 second; still readable; replace re-encrypts with key2
    let dir = s.stop();
    let c21 = config(&dir, "key21.yaml", &[("key2", KEY2), ("key1", KEY1)]);
    let s = Server::start_with(dir, 0, &["--encryption-provider-config", &c21]);
    let got = s.json(&["get", "secret", "s"]);
    assert_eq!(got["data"]["password"], "aHVudGVyMg==");
    // sluice also rewrites rows of an old key on start (documented in docs/auth.md)
    assert!(raw_row(s.dir(), "s").starts_with(b"k8s:enc:aesgcm:v1:key2:"));
    let json = s.ok(&["get", "secret", "s", "-o", "json"], None);
    s.ok(&["replace", "-f", "-"], Some(&json));
    assert!(raw_row(s.dir(), "s").starts_with(b"k8s:enc:aesgcm:v1:key2:"));
    let raw = raw_files(s.dir());
    assert!(!contains(&raw, "hunter2") && !contains(&raw, "aHVudGVyMg=="));

    // a config without key2 cannot read the Secret: the start fails and names it
    let dir = s.stop();
    let only1 = config(&dir, "only1.yaml", &[("key1", KEY1)]);
    let o = crate::common::sluice(
        &[
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &dir.to_string_lossy(),
            "--encryption-provider-config",
            &only1,
        ],
        None,
    );
    assert!(!o.status.success());
    let e = crate::common::stderr(&o);
    assert!(
        e.contains("cannot read secrets default/s from the store: stored with k8s:enc:aesgcm:v1:key2 but no provider of the encryption configuration has that key"),
        "{e}"
    );
    // a broken config is reported with file:line:col and field path
    let bad = dir.with_extension("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: k\n        secret: c2hvcnQ=\n",
    )
    .expect("write");
    let o = crate::common::sluice(
        &[
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &dir.to_string_lossy(),
            "--encryption-provider-config",
            &bad.to_string_lossy(),
        ],
        None,
    );
    assert!(!o.status.success());
    let e = crate::common::stderr(&o);
    assert!(
        e.contains(":9:9: resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, expected one of [16, 24, 32]"),
        "{e}"
    );
    for f in [c1, c21, only1] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_file(bad);
    let _ = std::fs::remove_dir_all(dir);
}

const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    nonResourceURLs: ["/readyz*", "/healthz*", "/version", "/api*", "/openapi*"]
  - level: None
    verbs: ["get", "list", "watch"]
    resources:
      - group: ""
        resources: ["configmaps", "namespaces"]
  - level: RequestResponse
"#;

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON event"))
        .collect()
}

fn wait_for(path: &Path, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(e) = events(path).into_iter().find(|e| f(e)) {
            return e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no audit event {what} in:\n{}",
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn audit_log_of_patches_and_secrets() {
    if !kubectl_available() {
        eprintln!("kubectl is not installed (scripts/test installs it): skipped");
        return;
    }
    let dir = temp_dir("audit");
    let tokens = dir.with_extension("tokens.csv");
    std::fs::write(&tokens, "jane-token,jane,1001,\"devs\"\n").expect("tokens");
    let policy = dir.with_extension("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let log = dir.with_extension("audit.log");
    let s = Server::start_with(
        dir,
        0,
        &[
            "--token-auth-file",
            &tokens.to_string_lossy(),
            "--audit-policy-file",
            &policy.to_string_lossy(),
            "--audit-log-path",
            &log.to_string_lossy(),
        ],
    );
    s.ok(&["create", "configmap", "cfg", "--from-literal=a=b"], None);
    s.ok(
        &[
            "create",
            "rolebinding",
            "jane-edit",
            "--clusterrole=edit",
            "--user=jane",
        ],
        None,
    );
    s.ok(
        &[
            "patch",
            "configmap",
            "cfg",
            "-p",
            r#"{"data":{"a":"admin"}}"#,
        ],
        None,
    );
    let o = s.kubectl(
        &[
            "--token",
            "jane-token",
            "patch",
            "configmap",
            "cfg",
            "-p",
            r#"{"data":{"a":"jane"}}"#,
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    // forbidden requests are audited too (authorization runs inside the audit filter);
    // (kubectl patch reads the object first, so its 403 would be a get)
    let o = s.kubectl(
        &[
            "--token",
            "jane-token",
            "create",
            "configmap",
            "denied",
            "-n",
            "kube-system",
        ],
        None,
    );
    assert!(!o.status.success());
    // impersonation: user is the admin, impersonatedUser jane
    s.ok(
        &["--as", "jane", "annotate", "configmap", "cfg", "x=y"],
        None,
    );
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
    let _ = out(&s.kubectl(&["get", "secret", "s", "-o", "yaml"], None));
    // a watch is long-running: logged when its response starts
    let _ = s.kubectl(&["get", "pods", "-w", "--request-timeout=1s"], None);

    let patched_by = |who: &'static str| {
        move |e: &Value| {
            e["verb"] == "patch"
                && e["user"]["username"] == who
                && e["objectRef"]["name"] == "cfg"
                && e["objectRef"]["namespace"] == "default"
                && e["impersonatedUser"].is_null()
        }
    };
    let admin = wait_for(&log, "admin's patch", patched_by("sluice-admin"));
    assert_eq!(admin["kind"], "Event");
    assert_eq!(admin["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(admin["level"], "RequestResponse");
    assert_eq!(admin["stage"], "ResponseComplete");
    assert_eq!(admin["responseStatus"]["code"], 200);
    assert_eq!(admin["objectRef"]["resource"], "configmaps");
    assert_eq!(admin["objectRef"]["apiVersion"], "v1");
    assert_eq!(
        admin["requestObject"],
        serde_json::json!({"data": {"a": "admin"}})
    );
    assert_eq!(admin["responseObject"]["data"]["a"], "admin");
    assert!(admin["sourceIPs"][0] == "127.0.0.1", "{admin}");
    assert!(
        admin["userAgent"]
            .as_str()
            .is_some_and(|u| u.starts_with("kubectl")),
        "{admin}"
    );
    assert_eq!(
        admin["auditID"].as_str().map(str::len),
        Some(36),
        "a UUID: {admin}"
    );
    assert!(
        admin["requestReceivedTimestamp"]
            .as_str()
            .is_some_and(|t| t.len() == 27)
    );
    let jane = wait_for(&log, "jane's patch", patched_by("jane"));
    assert_eq!(
        jane["user"]["groups"],
        serde_json::json!(["devs", "system:authenticated"])
    );
    assert_eq!(jane["responseStatus"]["code"], 200);
    let denied = wait_for(&log, "jane's forbidden patch", |e| {
        e["user"]["username"] == "jane" && e["objectRef"]["namespace"] == "kube-system"
    });
    assert_eq!(denied["verb"], "create");
    assert_eq!(denied["responseStatus"]["code"], 403);
    assert_eq!(denied["responseStatus"]["reason"], "Forbidden");
    let imp = wait_for(&log, "the impersonated patch", |e| {
        e["impersonatedUser"]["username"] == "jane"
    });
    assert_eq!(imp["user"]["username"], "sluice-admin");
    // Secrets: at most Metadata under a catch-all rule; their data never in the log
    let created = wait_for(&log, "the Secret's create", |e| {
        e["verb"] == "create" && e["objectRef"]["resource"] == "secrets"
    });
    assert_eq!(created["level"], "Metadata");
    assert_eq!(created["objectRef"]["name"], "s");
    assert!(created.get("requestObject").is_none(), "{created}");
    let cm = wait_for(&log, "the ConfigMap's create", |e| {
        e["verb"] == "create" && e["objectRef"]["resource"] == "configmaps"
    });
    // kubectl sends it as protobuf; logged as JSON, named from the body
    assert_eq!(cm["objectRef"]["name"], "cfg");
    assert_eq!(cm["requestObject"]["data"]["a"], "b");
    assert_eq!(created["responseStatus"]["code"], 201);
    wait_for(&log, "the Secret's get", |e| {
        e["verb"] == "get" && e["objectRef"]["resource"] == "secrets"
    });
    let watch = wait_for(&log, "the watch", |e| e["verb"] == "watch");
    assert_eq!(watch["stage"], "ResponseStarted");
    assert_eq!(watch["responseStatus"]["code"], 200);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains("hunter2") && !text.contains("aHVudGVyMg=="));
    // RequestReceived is omitted by the policy; reads of configmaps are level None
    assert!(events(&log).iter().all(|e| e["stage"] != "RequestReceived"));
    assert!(
        events(&log)
            .iter()
            .all(|e| !(e["verb"] == "get" && e["objectRef"]["resource"] == "configmaps"))
    );
    drop(s);
    for f in [tokens, policy, log] {
        let _ = std::fs::remove_file(f);
    }
}
