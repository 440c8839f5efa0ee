//! Fetching over the network transports, on loopback only: smart HTTP(S) served by `git
//! http-backend` (as CGI behind HTTP basic auth, plain and over TLS with a self-signed
//! certificate), and ssh through a stand-in `ssh` program that checks its options and runs
//! `git-upload-pack` locally. Expected SHAs come from `git rev-parse` on the served repository.
//!
//! Credentials come from Argo CD's own configuration objects (argo-cd docs
//! operator-manual/argocd-repositories.yaml: a `repository` Secret with `url`, `username`,
//! `password`, `insecure: "true"` "Ignore validity of server's TLS certificate"; for ssh
//! `sshPrivateKey` and `insecure: "true"` "Do not perform a host key check";
//! operator-manual/declarative-setup.md: argocd-tls-certs-cm "Custom TLS certificates for
//! connecting Git repositories via HTTPS", argocd-ssh-known-hosts-cm "SSH known hosts data for
//! connecting Git repositories via SSH").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

#[path = "support/git_http.rs"]
mod git_http;
use git_http::{serve_git, tls_server};
use serde_json::{Value, json};
use sluice_git::{CacheOptions, Credentials, RepoCache};
use sluice_gitops::repocreds::{RepoCredsSet, ssh_known_hosts, tls_certs_for};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sluice-gitnet-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `ROOT/repo.git`: a bare repository with `main` (2 commits), `dev` and an annotated tag.
fn served_repo() -> PathBuf {
    let root = tmp("root");
    let work = root.join("work");
    std::fs::create_dir_all(work.join("apps")).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("apps/cm.yaml"), "kind: ConfigMap\n").expect("write");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "-a", "v1.0.0", "-m", "annotated"]);
    std::fs::write(work.join("README.md"), "two\n").expect("write");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "two"]);
    git(&work, &["branch", "dev", "HEAD~1"]);
    git(&root, &["clone", "-q", "--bare", "work", "repo.git"]);
    root
}

fn secret(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": data})
}

/// The credentials Argo CD would fetch `url` with, from a repository Secret and the TLS and
/// known-hosts ConfigMaps.
fn creds_for(url: &str, secrets: &[Value], tls_cm: &Value, kh_cm: &Value) -> Credentials {
    let (set, errs) = RepoCredsSet::from_objects(secrets, None);
    assert!(errs.is_empty(), "{errs:?}");
    let mut c = set.resolve(url, "").creds;
    c.tls_ca_certs = tls_certs_for(tls_cm, url);
    c.ssh_known_hosts = ssh_known_hosts(kh_cm);
    c
}

fn cache(name: &str) -> RepoCache {
    RepoCache::new(CacheOptions::new(tmp(name))).expect("cache")
}

const PASSWORD: &str = "s3cret-pa55word";

#[test]
fn http_basic_auth_fetches_and_resolves() {
    let root = served_repo();
    let bare = root.join("repo.git");
    let (port, seen) = serve_git(&root, "argo", PASSWORD, None);
    let url = format!("http://127.0.0.1:{port}/repo.git");
    let creds = creds_for(
        &url,
        &[secret(
            "repo",
            json!({"url": url, "username": "argo", "password": PASSWORD}),
        )],
        &json!({}),
        &json!({}),
    );
    let c = cache("http");
    let main = git(&bare, &["rev-parse", "main"]);
    let dev = git(&bare, &["rev-parse", "dev"]);
    let tag = git(&bare, &["rev-parse", "v1.0.0^{commit}"]);
    assert_eq!(c.resolve(&url, "main", &creds).expect("main"), main);
    assert_eq!(c.resolve(&url, "HEAD", &creds).expect("HEAD"), main);
    assert_eq!(c.resolve(&url, "", &creds).expect("empty"), main);
    assert_eq!(c.resolve(&url, "dev", &creds).expect("dev"), dev);
    assert_eq!(c.resolve(&url, "v1.0.0", &creds).expect("tag"), tag);
    assert_eq!(c.resolve(&url, &dev[..9], &creds).expect("short"), dev);
    assert_eq!(c.resolve(&url, &dev, &creds).expect("sha"), dev);
    let tree = c.tree(&url, &tag).expect("tree");
    assert_eq!(
        tree.read("apps/cm.yaml").expect("read").as_deref(),
        Some(&b"kind: ConfigMap\n"[..])
    );
    let refs = c.fetch(&url, &creds).expect("fetch");
    assert!(refs.iter().any(|r| r.name == "refs/heads/dev"), "{refs:?}");
    assert!(seen.requests.load(Ordering::SeqCst) >= 2);
    // the password never travels in the URL
    assert!(
        seen.targets
            .lock()
            .expect("lock")
            .iter()
            .all(|t| !t.contains(PASSWORD))
    );
}

#[test]
fn http_wrong_or_missing_password_is_a_clear_error() {
    let root = served_repo();
    let (port, _seen) = serve_git(&root, "argo", PASSWORD, None);
    let url = format!("http://127.0.0.1:{port}/repo.git");
    let wrong = Credentials {
        username: "argo".into(),
        password: "not-the-password".into(),
        ..Credentials::default()
    };
    for (creds, what, says) in [
        (wrong, "wrong", "were not accepted by the remote"),
        (
            Credentials::default(),
            "missing",
            "none are configured for this repository",
        ),
    ] {
        let e = cache("http-wrong")
            .resolve(&url, "main", &creds)
            .expect_err(what)
            .to_string();
        eprintln!("{what}: {e}");
        assert!(e.contains(says), "{e}");
        assert!(
            e.starts_with(&format!("repository {url}: fetch failed")),
            "{e}"
        );
        assert!(!e.contains("not-the-password"), "{e}");
    }
    // a password in the URL itself is not printed either
    let with_userinfo = format!("http://argo:{PASSWORD}x@127.0.0.1:{port}/repo.git");
    let e = cache("http-userinfo")
        .resolve(&with_userinfo, "main", &Credentials::default())
        .expect_err("wrong userinfo")
        .to_string();
    eprintln!("userinfo: {e}");
    assert!(!e.contains(PASSWORD), "{e}");
    assert!(
        e.contains(&format!("http://127.0.0.1:{port}/repo.git")),
        "{e}"
    );
}

#[test]
fn https_custom_ca_unknown_ca_and_insecure() {
    let root = served_repo();
    let bare = root.join("repo.git");
    let (pem, cfg) = tls_server();
    let (port, _seen) = serve_git(&root, "argo", PASSWORD, Some(cfg));
    let url = format!("https://localhost:{port}/repo.git");
    let main = git(&bare, &["rev-parse", "main"]);
    let repo_secret = |insecure: &str| {
        secret(
            "repo",
            json!({"url": url, "username": "argo", "password": PASSWORD, "insecure": insecure}),
        )
    };
    // argocd-tls-certs-cm keyed by the server name
    let tls_cm = json!({"data": {"localhost": pem}});
    let creds = creds_for(&url, &[repo_secret("false")], &tls_cm, &json!({}));
    assert!(!creds.tls_ca_certs.is_empty());
    assert_eq!(
        cache("https-ca")
            .resolve(&url, "main", &creds)
            .expect("custom CA"),
        main
    );
    // unknown CA, no insecure: refused, naming the URL
    let creds = creds_for(&url, &[repo_secret("false")], &json!({}), &json!({}));
    let e = cache("https-unknown")
        .resolve(&url, "main", &creds)
        .expect_err("unknown CA")
        .to_string();
    eprintln!("unknown CA: {e}");
    assert!(e.contains("invalid peer certificate: UnknownIssuer"), "{e}");
    assert!(
        e.starts_with(&format!("repository {url}: fetch failed")),
        "{e}"
    );
    assert!(!e.contains(PASSWORD), "{e}");
    // insecure: "true" skips verification
    let creds = creds_for(&url, &[repo_secret("true")], &json!({}), &json!({}));
    assert!(creds.insecure);
    assert_eq!(
        cache("https-insecure")
            .resolve(&url, "main", &creds)
            .expect("insecure"),
        main
    );
}

/// A stand-in for OpenSSH's `ssh`: checks the options sluice passes (the key file is there
/// with mode 0600, `IdentitiesOnly`, the known hosts file and the host key policy), records
/// them, and runs the remote command (`git-upload-pack '/path'`) locally.
fn fake_ssh(dir: &Path, log: &Path, strict: &str) -> PathBuf {
    let p = dir.join("fake-ssh");
    let script = format!(
        r#"#!/bin/sh
log={log}
echo "$@" > "$log"
key=""; kh=""; strict=""; ids=""
while [ $# -gt 0 ]; do
  case "$1" in
    -i) key="$2"; shift 2;;
    -o) case "$2" in
          UserKnownHostsFile=*) kh="${{2#UserKnownHostsFile=}}";;
          StrictHostKeyChecking=*) strict="${{2#StrictHostKeyChecking=}}";;
          IdentitiesOnly=yes) ids=yes;;
        esac; shift 2;;
    -p*) shift;;
    -*) shift;;
    *) break;;
  esac
done
host="$1"; shift
[ -n "$key" ] || {{ echo "no -i" >&2; exit 91; }}
[ "$(stat -c %a "$key")" = 600 ] || {{ echo "key mode" >&2; exit 92; }}
grep -q "BEGIN OPENSSH PRIVATE KEY" "$key" || {{ echo "key content" >&2; exit 93; }}
[ "$ids" = yes ] || {{ echo "no IdentitiesOnly" >&2; exit 94; }}
grep -q "ssh-ed25519" "$kh" || {{ echo "known hosts" >&2; exit 95; }}
[ "$strict" = {strict} ] || {{ echo "strict=$strict" >&2; exit 96; }}
echo "key=$key kh=$kh host=$host" >> "$log"
exec sh -c "$*"
"#,
        log = log.display()
    );
    std::fs::write(&p, script).expect("write");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

#[test]
fn ssh_passes_key_and_known_hosts_to_the_ssh_program() {
    let root = served_repo();
    let bare = root.join("repo.git");
    let main = git(&bare, &["rev-parse", "main"]);
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";
    let kh_cm = json!({"data": {"ssh_known_hosts": "git.example.com ssh-ed25519 AAAAC3Nza"}});
    for (insecure, strict) in [("false", "yes"), ("true", "no")] {
        let tools = tmp("ssh-tools");
        let log = tools.join("args.log");
        let ssh = fake_ssh(&tools, &log, strict);
        let dir = tmp("ssh-cache");
        let mut opts = CacheOptions::new(&dir);
        opts.ssh_program = ssh.into();
        let c = RepoCache::new(opts).expect("cache");
        for url in [
            format!("ssh://git@git.example.com:2222{}", bare.display()),
            format!("git@git.example.com:{}", bare.display()),
        ] {
            let creds = creds_for(
                &url,
                &[secret(
                    "repo",
                    json!({"url": url, "sshPrivateKey": key, "insecure": insecure}),
                )],
                &json!({}),
                &kh_cm,
            );
            assert_eq!(c.resolve(&url, "main", &creds).expect(&url), main);
            let args = std::fs::read_to_string(&log).expect("log");
            assert!(args.contains("git@git.example.com"), "{args}");
            assert!(args.contains("git-upload-pack"), "{args}");
            if url.starts_with("ssh://") {
                assert!(args.contains("-p2222"), "{args}");
            }
            // the key and known hosts files are gone after the fetch
            let key_file = args
                .split("key=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .expect("key path");
            assert!(
                key_file.starts_with(dir.to_str().expect("utf8")),
                "{key_file}"
            );
            assert!(!Path::new(key_file).exists(), "{key_file} left behind");
        }
        let left: Vec<_> = std::fs::read_dir(dir.join(".tmp"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }
    // the ssh program's complaint is the error, naming the URL
    let tools = tmp("ssh-tools-bad");
    let ssh = fake_ssh(&tools, &tools.join("log"), "yes");
    let mut opts = CacheOptions::new(tmp("ssh-bad"));
    opts.ssh_program = ssh.into();
    let url = format!("git@git.example.com:{}", bare.display());
    let e = RepoCache::new(opts)
        .expect("cache")
        .resolve(&url, "main", &Credentials::default())
        .expect_err("no key")
        .to_string();
    eprintln!("ssh: {e}");
    assert!(
        e.starts_with(&format!("repository {url}: fetch failed")),
        "{e}"
    );
}

/// `git://`: `git daemon` on a free loopback port (no credentials, as the protocol has none).
#[test]
fn git_protocol_fetches_from_git_daemon() {
    let root = served_repo();
    let bare = root.join("repo.git");
    let main = git(&bare, &["rev-parse", "main"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut daemon = Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", root.display()),
            &root.display().to_string(),
        ])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("git daemon starts");
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "git daemon not listening"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("git://127.0.0.1:{port}/repo.git");
    let got = cache("git-daemon").resolve(&url, "main", &Credentials::default());
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(got.expect("git://"), main);
}
