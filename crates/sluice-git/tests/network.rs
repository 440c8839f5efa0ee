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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
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

/// What the test server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    unauthorized: AtomicUsize,
    targets: Mutex<Vec<String>>,
}

/// A smart HTTP git server on 127.0.0.1: `git http-backend` behind basic auth
/// (`user`/`password`), over TLS when `tls` is given. Returns the port.
fn serve_git(
    root: &Path,
    user: &str,
    password: &str,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (u16, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let root = root.to_path_buf();
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (root, want, tls, seen) = (root.clone(), want.clone(), tls.clone(), seen2.clone());
            std::thread::spawn(move || {
                let _ = match tls {
                    Some(cfg) => match rustls::ServerConnection::new(cfg) {
                        Ok(conn) => {
                            let mut s = rustls::StreamOwned::new(conn, stream);
                            let r = handle(&mut s, &root, &want, &seen);
                            s.conn.send_close_notify();
                            let _ = s.flush();
                            r
                        }
                        Err(_) => Ok(()),
                    },
                    None => {
                        let mut s = stream;
                        handle(&mut s, &root, &want, &seen)
                    }
                };
            });
        }
    });
    (port, seen)
}

/// One request, one answer (`Connection: close`).
fn handle<S: Read + Write>(s: &mut S, root: &Path, want: &str, seen: &Seen) -> std::io::Result<()> {
    let mut r = BufReader::new(&mut *s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |k: &str| {
        headers
            .iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut body = Vec::new();
    if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Ok(n) = header("content-length").parse::<usize>() {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    }
    drop(r);
    seen.requests.fetch_add(1, Ordering::SeqCst);
    seen.targets.lock().expect("lock").push(target.clone());
    if header("authorization") != want {
        seen.unauthorized.fetch_add(1, Ordering::SeqCst);
        s.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return s.flush();
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", &method)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("HTTP_GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "argo")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut out = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut out)?;
    let _ = writer.join();
    let _ = child.wait();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, payload) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&out[..i]).into_owned(),
            &out[i + n..],
        ),
        None => (String::new(), &out[..]),
    };
    let mut status = "200 OK".to_owned();
    let mut resp = String::new();
    for l in head.lines() {
        match l.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            Some(_) => {
                resp.push_str(l.trim_end());
                resp.push_str("\r\n");
            }
            None => {}
        }
    }
    s.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{resp}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    )?;
    s.write_all(payload)?;
    s.flush()
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

/// A self-signed certificate for `localhost` and the server's TLS configuration.
fn tls_server() -> (String, Arc<rustls::ServerConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .expect("server config");
    (pem, Arc::new(cfg))
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
