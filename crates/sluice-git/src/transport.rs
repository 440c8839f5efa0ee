//! Where a repository is fetched from and how: local directories, smart HTTP(S) through gix's
//! reqwest backend with a rustls configuration of our own, and ssh through the `ssh` program.
//!
//! Credentials follow Argo CD (argo-cd `util/git/client.go`, `util/git/creds.go`):
//! - https/http: `username`/`password` answer the server's authentication challenge through
//!   gix's credential helper override (never the URL, never the git configuration);
//!   `bearerToken` is sent as `Authorization: Bearer`; `insecure` skips the server
//!   certificate check; argocd-tls-certs-cm's certificates for the host, when present, are the
//!   only roots (else the system's); `tlsClientCertData`/`tlsClientCertKey` are the client
//!   certificate; `proxy`/`noProxy` the proxy.
//! - ssh: `sshPrivateKey` in a 0600 file for `-i` with `IdentitiesOnly=yes`,
//!   argocd-ssh-known-hosts-cm in a file for `UserKnownHostsFile` with
//!   `StrictHostKeyChecking=yes` (`no` when `insecure`), `BatchMode=yes` (never a prompt);
//!   the files are removed when the fetch ends.
//!
//! Messages never carry a password: URLs are shown without their userinfo ([`redact_url`])
//! and any secret that still shows up in a message is masked.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::{Credentials, GitError};

/// How a repository URL is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    /// A local directory (canonical path): `file://` URLs and paths.
    Local(String),
    /// `https://` or `http://`.
    Http,
    /// `ssh://` or scp-style `user@host:path`.
    Ssh,
    /// `git://` (no credentials).
    Git,
}

/// How a fetch reaches the network: the ssh program to run.
#[derive(Debug, Clone)]
pub(crate) struct NetOptions {
    pub ssh_program: OsString,
    /// Where key and known-hosts files live during an ssh fetch.
    pub temp_dir: PathBuf,
}

/// The URL without its userinfo (`https://user:pass@host/x` -> `https://host/x`), for
/// messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{tail}"),
        None => url.to_owned(),
    }
}

/// An error and its causes, one line: `outer: inner: ...` (each message once).
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let m = s.to_string();
        if !m.is_empty() && !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        src = s.source();
    }
    out
}

/// `message` with every URL's userinfo removed and the secrets of `creds` masked.
pub(crate) fn scrub(message: &str, creds: &Credentials) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, word) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if let Some(p) = word.find("://") {
            out.push_str(&word[..p]);
            out.push_str(&redact_url(&word[p..].replacen("://", "x://", 1))[1..]);
        } else {
            out.push_str(word);
        }
    }
    for secret in [&creds.password, &creds.bearer_token] {
        if secret.len() >= 3 {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Classifies `url`: local directories are canonicalised (the cache key), network URLs are
/// kept as given.
pub(crate) fn classify(url: &str) -> Result<Remote, GitError> {
    let lower = url.trim().to_ascii_lowercase();
    if let Some(path) = url.strip_prefix("file://") {
        return local_dir(url, path).map(Remote::Local);
    }
    if let Some((scheme, _)) = lower.split_once("://") {
        return match scheme {
            "https" | "http" => Ok(Remote::Http),
            "ssh" | "git+ssh" | "ssh+git" => Ok(Remote::Ssh),
            "git" => Ok(Remote::Git),
            _ => Err(GitError::UnsupportedTransport {
                url: redact_url(url),
                scheme: scheme.to_owned(),
            }),
        };
    }
    // scp-like `[user@]host:path` (ssh), as git reads it: a colon before any slash
    if sluice_gitops::repocreds::is_ssh_url(url) {
        return Ok(Remote::Ssh);
    }
    local_dir(url, url).map(Remote::Local)
}

fn local_dir(url: &str, path: &str) -> Result<String, GitError> {
    let p = std::fs::canonicalize(path).map_err(|e| GitError::Fetch {
        url: url.to_owned(),
        message: format!("{path}: {e}"),
    })?;
    if !p.is_dir() {
        return Err(GitError::Fetch {
            url: url.to_owned(),
            message: format!("{path}: not a directory"),
        });
    }
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| GitError::Fetch {
            url: url.to_owned(),
            message: format!("{path}: not a UTF-8 path"),
        })
}

type BoxedTransport = Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>;
type Conn<'r, 'a> = gix::remote::Connection<'r, 'a, 'r, BoxedTransport>;

/// Opens a connection to `url` for fetching with `creds`, and runs `f` on it.
pub(crate) fn with_connection<R>(
    repo: &gix::Repository,
    url: &str,
    kind: &Remote,
    creds: &Credentials,
    net: &NetOptions,
    f: impl FnOnce(Conn<'_, '_>) -> Result<R, String>,
) -> Result<R, String> {
    use gix::protocol::transport::client::blocking_io::{connect, ssh};
    use gix::remote::Direction;
    let source = match kind {
        Remote::Local(dir) => dir.as_str(),
        _ => url.trim(),
    };
    let remote = repo
        .remote_at(source)
        .map_err(|e| describe(&e))?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(["+refs/*:refs/*"], Direction::Fetch)
        .map_err(|e| describe(&e))?;
    if let Remote::Local(_) = kind {
        let conn = remote.connect(Direction::Fetch).map_err(|e| describe(&e))?;
        return f(conn);
    }
    let (gurl, version) = remote
        .sanitized_url_and_version(Direction::Fetch)
        .map_err(|e| describe(&e))?;
    let mut files = TempFiles::default();
    let ssh_opts = if *kind == Remote::Ssh {
        ssh::connect::Options {
            command: Some(ssh_command(creds, net, &mut files)?),
            disallow_shell: false,
            kind: Some(ssh::ProgramKind::Ssh),
        }
    } else {
        ssh::connect::Options::default()
    };
    let transport = connect::connect(
        gurl,
        connect::Options {
            version,
            ssh: ssh_opts,
            trace: false,
        },
    )
    .map_err(|e| describe(&e))?;
    let mut conn = remote.to_connection_with_transport(transport);
    if *kind == Remote::Http {
        conn = conn.with_transport_options(Box::new(http_options(creds)?));
    }
    let user = creds.username.clone();
    let password = creds.password.clone();
    let token = creds.bearer_token.clone();
    let conn = conn.with_credentials(move |action| {
        use gix::credentials::helper::Action;
        match action {
            Action::Get(ctx) => {
                let credentials = if !token.is_empty() {
                    gix::sec::identity::Credentials::Encoded {
                        authtype: "Bearer".into(),
                        credential: token.clone(),
                        oauth_refresh_token: None,
                    }
                } else if !user.is_empty() || !password.is_empty() {
                    gix::sec::identity::Credentials::UsernamePassword {
                        // go-git sends the username as given; an empty one with a token-only
                        // password is what GitHub/GitLab accept
                        username: user.clone(),
                        password: password.clone(),
                        oauth_refresh_token: None,
                    }
                } else {
                    return Ok(None);
                };
                Ok(Some(gix::credentials::protocol::Outcome {
                    credentials,
                    next: ctx.into(),
                }))
            }
            Action::Store(_) | Action::Erase(_) => Ok(None),
        }
    });
    let out = f(conn).map_err(|m| {
        if m.contains("No credentials were returned") {
            "the server asks for credentials and none are configured for this repository \
             (a `repository` or `repo-creds` Secret with username and password)"
                .to_owned()
        } else {
            m
        }
    });
    drop(files);
    out
}

/// The HTTP transport's options: our rustls configuration, the proxy, a user agent.
fn http_options(
    creds: &Credentials,
) -> Result<gix::protocol::transport::client::blocking_io::http::Options, String> {
    use gix::protocol::transport::client::blocking_io::http;
    let tls = tls_config(creds)?;
    let proxy = if creds.proxy.is_empty() {
        None
    } else {
        let mut p = reqwest::Proxy::all(&creds.proxy)
            .map_err(|e| format!("proxy {}: {e}", redact_url(&creds.proxy)))?;
        if !creds.no_proxy.is_empty() {
            p = p.no_proxy(reqwest::NoProxy::from_string(&creds.no_proxy));
        }
        Some(p)
    };
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |b: reqwest::blocking::ClientBuilder| {
            let b = b
                .tls_backend_preconfigured((*tls).clone())
                .timeout(None::<std::time::Duration>);
            Ok(match &proxy {
                Some(p) => b.proxy(p.clone()),
                None => b,
            })
        })),
        configure_request: None,
    };
    Ok(http::Options {
        user_agent: Some(format!("git/sluice-{}", env!("CARGO_PKG_VERSION"))),
        connect_timeout: Some(std::time::Duration::from_secs(20)),
        backend: Some(Arc::new(Mutex::new(backend))),
        ..http::Options::default()
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's root certificates (loaded once).
fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: std::sync::OnceLock<Arc<rustls::RootCertStore>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(c);
            }
            Arc::new(store)
        })
        .clone()
}

fn pem_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject as _;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate"));
    }
    Ok(certs)
}

/// Argo CD's TLS for a git server: no verification when `insecure`; else the host's
/// argocd-tls-certs-cm certificates as the only roots when there are some, the system's
/// otherwise; the client certificate when both its parts are set.
pub(crate) fn tls_config(creds: &Credentials) -> Result<Arc<ClientConfig>, String> {
    let p = provider();
    let b = ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let b = if creds.insecure {
        b.dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(p)))
    } else if !creds.tls_ca_certs.trim().is_empty() {
        let mut store = rustls::RootCertStore::empty();
        for c in pem_certs(&creds.tls_ca_certs, "argocd-tls-certs-cm")? {
            store
                .add(c)
                .map_err(|e| format!("argocd-tls-certs-cm: {e}"))?;
        }
        b.with_root_certificates(store)
    } else {
        b.with_root_certificates(system_roots())
    };
    let cfg = if !creds.tls_client_cert_data.is_empty() && !creds.tls_client_cert_key.is_empty() {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject as _;
        let certs = pem_certs(&creds.tls_client_cert_data, "tlsClientCertData")?;
        let key = PrivateKeyDer::from_pem_slice(creds.tls_client_cert_key.as_bytes())
            .map_err(|_| "tlsClientCertKey: not a PEM private key".to_owned())?;
        b.with_client_auth_cert(certs, key)
            .map_err(|e| format!("tlsClientCertData/tlsClientCertKey: {e}"))?
    } else {
        b.with_no_client_auth()
    };
    Ok(Arc::new(cfg))
}

/// `insecure`: any server certificate is accepted, handshake signatures are still checked.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Files that live for one fetch (the ssh key, the known hosts), removed on drop.
#[derive(Default)]
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl TempFiles {
    /// Writes `content` to a new file in `dir` readable by the owner only (0600).
    fn write(&mut self, dir: &Path, name: &str, content: &str) -> Result<PathBuf, String> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!(
            "{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            o.mode(0o600);
        }
        let mut f = o
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.0.push(path.clone());
        use std::io::Write as _;
        f.write_all(content.as_bytes())
            .and_then(|()| {
                if content.ends_with('\n') {
                    Ok(())
                } else {
                    // OpenSSH refuses a key without its final newline
                    f.write_all(b"\n")
                }
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// Quotes `s` for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The ssh command line gix runs (through `sh`, which appends its arguments): the program,
/// the key, the known hosts and the host key policy.
fn ssh_command(
    creds: &Credentials,
    net: &NetOptions,
    files: &mut TempFiles,
) -> Result<OsString, String> {
    let program = net
        .ssh_program
        .to_str()
        .ok_or_else(|| "the ssh program's path is not UTF-8".to_owned())?;
    let mut cmd = sh_quote(program);
    cmd.push_str(" -o BatchMode=yes");
    if !creds.ssh_private_key.trim().is_empty() {
        let key = files.write(&net.temp_dir, "key", &creds.ssh_private_key)?;
        cmd.push_str(&format!(
            " -i {} -o IdentitiesOnly=yes",
            sh_quote(&key.to_string_lossy())
        ));
    }
    let known = files.write(&net.temp_dir, "known_hosts", &creds.ssh_known_hosts)?;
    let strict = if creds.insecure || creds.insecure_ignore_host_key {
        "no"
    } else {
        "yes"
    };
    cmd.push_str(&format!(
        " -o UserKnownHostsFile={} -o StrictHostKeyChecking={strict}",
        sh_quote(&known.to_string_lossy())
    ));
    Ok(cmd.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            redact_url("https://u:secret@git.example.com:8443/a.git"),
            "https://git.example.com:8443/a.git"
        );
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        let creds = Credentials {
            password: "hunter2".into(),
            ..Credentials::default()
        };
        assert_eq!(
            scrub(
                "error sending request for url (https://u:hunter2@h/x) hunter2",
                &creds
            ),
            "error sending request for url (https://h/x) ***"
        );
    }

    proptest::proptest! {
        // whatever the URL, its userinfo never survives and nothing panics
        #[test]
        fn redaction_drops_userinfo(
            scheme in "(https|http|ssh)",
            user in "[a-z]{1,8}",
            pass in "[A-Za-z0-9]{6,16}",
            host in "[a-z]{1,10}(:[0-9]{1,5})?",
            path in "(/[a-z@:]{0,6}){0,3}",
        ) {
            let url = format!("{scheme}://{user}:{pass}@{host}{path}");
            let r = redact_url(&url);
            proptest::prop_assert_eq!(&r, &format!("{scheme}://{host}{path}"));
            let creds = Credentials { password: pass.clone(), ..Credentials::default() };
            let m = scrub(&format!("error for url ({url}): {pass}"), &creds);
            proptest::prop_assert!(!m.contains(&pass), "{}", m);
        }

        #[test]
        fn classify_never_panics(url in "\\PC{0,40}") {
            let _ = classify(&url);
            let _ = redact_url(&url);
        }
    }

    // Argo CD's `tlsClientCertData`/`tlsClientCertKey` (argocd-repositories.yaml): a PEM
    // certificate and key; anything else is a clear error naming the field.
    #[test]
    fn tls_client_certificates_and_ca_certs() {
        let ck = rcgen::generate_simple_self_signed(vec!["client".to_owned()]).expect("cert");
        let good = Credentials {
            tls_client_cert_data: ck.cert.pem(),
            tls_client_cert_key: ck.signing_key.serialize_pem(),
            tls_ca_certs: ck.cert.pem(),
            ..Credentials::default()
        };
        assert!(
            tls_config(&good)
                .expect("config")
                .client_auth_cert_resolver
                .has_certs()
        );
        let bad_key = Credentials {
            tls_client_cert_key: "not a key".into(),
            ..good.clone()
        };
        assert_eq!(
            tls_config(&bad_key).err().as_deref(),
            Some("tlsClientCertKey: not a PEM private key")
        );
        let bad_ca = Credentials {
            tls_ca_certs: "garbage".into(),
            ..Credentials::default()
        };
        assert_eq!(
            tls_config(&bad_ca).err().as_deref(),
            Some("argocd-tls-certs-cm: no PEM certificate")
        );
    }

    #[test]
    fn transports() {
        assert_eq!(classify("https://h/r.git"), Ok(Remote::Http));
        assert_eq!(classify("HTTP://h/r.git"), Ok(Remote::Http));
        assert_eq!(classify("ssh://git@h:22/r.git"), Ok(Remote::Ssh));
        assert_eq!(classify("git@github.com:org/r.git"), Ok(Remote::Ssh));
        assert_eq!(classify("git://h/r.git"), Ok(Remote::Git));
        assert!(matches!(
            classify("ftp://h/r"),
            Err(GitError::UnsupportedTransport { .. })
        ));
    }

    #[test]
    fn ssh_files_are_private_and_removed() {
        let dir = std::env::temp_dir().join(format!("sluice-git-ssh-{}", std::process::id()));
        let net = NetOptions {
            ssh_program: "ssh".into(),
            temp_dir: dir.clone(),
        };
        let creds = Credentials {
            ssh_private_key: "KEY".into(),
            ssh_known_hosts: "h ssh-ed25519 AAAA".into(),
            ..Credentials::default()
        };
        let mut files = TempFiles::default();
        let cmd = ssh_command(&creds, &net, &mut files).expect("cmd");
        let cmd = cmd.to_string_lossy().into_owned();
        assert!(cmd.starts_with("'ssh' -o BatchMode=yes -i '"), "{cmd}");
        assert!(cmd.contains("-o IdentitiesOnly=yes"));
        assert!(cmd.ends_with("-o StrictHostKeyChecking=yes"), "{cmd}");
        let key = files.0[0].clone();
        assert_eq!(std::fs::read_to_string(&key).expect("key"), "KEY\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(files);
        assert!(!key.exists());
        let insecure = Credentials {
            insecure: true,
            ..Credentials::default()
        };
        let mut files = TempFiles::default();
        let cmd = ssh_command(&insecure, &net, &mut files).expect("cmd");
        assert!(cmd.to_string_lossy().ends_with("StrictHostKeyChecking=no"));
        assert!(!cmd.to_string_lossy().contains(" -i "));
        drop(files);
        let _ = std::fs::remove_dir_all(dir);
    }
}
