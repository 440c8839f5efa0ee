//! Repository credentials as Argo CD reads them (argo-cd `util/db/repository_secrets.go`,
//! `repository_legacy.go`, `util/git` `NormalizeGitURL`/`SameURL`):
//!
//! - Secrets labelled `argocd.argoproj.io/secret-type: repository`: one repository each
//!   (`url`, `username`, `password`, `sshPrivateKey`, `tlsClientCertData`,
//!   `tlsClientCertKey`, `bearerToken`, `insecure`, `project`, ...);
//! - Secrets labelled `argocd.argoproj.io/secret-type: repo-creds`: credential templates whose
//!   `url` is a prefix; the longest prefix of the normalised repository URL wins
//!   (`getRepositoryCredentialIndex`);
//! - argocd-cm `repositories` (and `repository.credentials`, the legacy templates), whose
//!   entries name Secrets by `name`/`key` (`usernameSecret`, `passwordSecret`,
//!   `sshPrivateKeySecret`, `tlsClientCertDataSecret`, `tlsClientCertKeySecret`).
//!
//! A repository without credentials of its own takes those of the matching template, as
//! `enrichCredsToRepo` does. Pure: the caller hands in the Secrets and argocd-cm as JSON.

use base64::Engine as _;
use serde_json::Value;

/// The label that marks Argo CD Secrets.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// What a repository is fetched with. Empty strings are "not set", as upstream.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub bearer_token: String,
    pub ssh_private_key: String,
    pub tls_client_cert_data: String,
    pub tls_client_cert_key: String,
    pub insecure: bool,
    pub insecure_ignore_host_key: bool,
    pub force_http_basic_auth: bool,
    pub enable_lfs: bool,
    pub proxy: String,
    pub no_proxy: String,
    pub github_app_private_key: String,
    pub github_app_id: i64,
    pub github_app_installation_id: i64,
    /// PEM certificates argocd-tls-certs-cm holds for the repository's host ([`tls_certs_for`]):
    /// when set, the only roots an https server certificate is verified against.
    pub tls_ca_certs: String,
    /// argocd-ssh-known-hosts-cm `ssh_known_hosts` ([`ssh_known_hosts`]): the host keys an ssh
    /// server must present (unless `insecure`).
    pub ssh_known_hosts: String,
}

// Secrets stay out of logs and error messages.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("bearer_token", &set(&self.bearer_token))
            .field("ssh_private_key", &set(&self.ssh_private_key))
            .field("tls_client_cert_key", &set(&self.tls_client_cert_key))
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `Repository.HasCredentials`: any of username, password, SSH key, TLS client cert,
    /// GitHub App key or bearer token set.
    pub fn has_credentials(&self) -> bool {
        !self.username.is_empty()
            || !self.password.is_empty()
            || !self.bearer_token.is_empty()
            || !self.ssh_private_key.is_empty()
            || !self.tls_client_cert_key.is_empty()
            || !self.github_app_private_key.is_empty()
    }
}

/// One repository or credential template and where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoEntry {
    pub url: String,
    /// `git` (default) or `helm`.
    pub repo_type: String,
    pub name: String,
    pub project: String,
    pub creds: Credentials,
    /// `secret NAMESPACE/NAME` or `argocd-cm repositories[i]`.
    pub origin: String,
}

/// A configuration mistake, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {field}: {message}")]
pub struct CredsError {
    pub origin: String,
    pub field: String,
    pub message: String,
}

/// Every repository and credential template Argo CD would see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoCredsSet {
    /// Secrets first (in the order given), then argocd-cm `repositories`.
    pub repositories: Vec<RepoEntry>,
    /// repo-creds Secrets, then argocd-cm `repository.credentials`.
    pub templates: Vec<RepoEntry>,
}

/// The resolved configuration for one repository URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedRepo {
    pub url: String,
    pub creds: Credentials,
    /// Where the repository entry came from (empty: none, credentials from a template only).
    pub origin: String,
    /// Where its credentials came from (a repository entry or a template), empty if none.
    pub creds_origin: String,
}

impl RepoCredsSet {
    /// Reads the Secrets (Kubernetes Secret objects as JSON, in the Argo CD namespace) and
    /// argocd-cm (a ConfigMap as JSON). Entries with mistakes are left out and reported; the
    /// rest still apply (upstream logs and skips a broken Secret).
    pub fn from_objects(secrets: &[Value], argocd_cm: Option<&Value>) -> (Self, Vec<CredsError>) {
        let mut set = Self::default();
        let mut errors = Vec::new();
        for s in secrets {
            let kind = s
                .pointer("/metadata/labels")
                .and_then(|l| l.get(SECRET_TYPE_LABEL))
                .and_then(Value::as_str)
                .unwrap_or("");
            if kind != "repository" && kind != "repo-creds" {
                continue;
            }
            let origin = format!(
                "secret {}/{}",
                s.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                s.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            match entry_from_secret(s, &origin) {
                Ok(e) if kind == "repository" => set.repositories.push(e),
                Ok(e) => set.templates.push(e),
                Err(e) => errors.push(e),
            }
        }
        if let Some(cm) = argocd_cm {
            for (key, into_templates) in [("repositories", false), ("repository.credentials", true)]
            {
                let Some(text) = cm
                    .pointer("/data")
                    .and_then(|d| d.get(key))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                match legacy_entries(text, key, secrets) {
                    Ok((entries, errs)) => {
                        errors.extend(errs);
                        if into_templates {
                            set.templates.extend(entries);
                        } else {
                            set.repositories.extend(entries);
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        (set, errors)
    }

    /// The repository configuration for `repo_url` in `project` (`db.GetRepository`): the
    /// repository entry with the same URL (the project's own first, then one without a
    /// project); without credentials of its own it takes the longest-prefix template's.
    pub fn resolve(&self, repo_url: &str, project: &str) -> ResolvedRepo {
        let mut found: Option<&RepoEntry> = None;
        for r in &self.repositories {
            if same_url(&r.url, repo_url) {
                if r.project == project && !project.is_empty() {
                    found = Some(r);
                    break;
                }
                if r.project.is_empty() && found.is_none() {
                    found = Some(r);
                }
            }
        }
        let mut out = ResolvedRepo {
            url: repo_url.to_owned(),
            ..ResolvedRepo::default()
        };
        if let Some(r) = found {
            out.origin = r.origin.clone();
            out.creds = r.creds.clone();
            if r.creds.has_credentials() {
                out.creds_origin = r.origin.clone();
                return out;
            }
        }
        if let Some(t) = self.template_for(repo_url) {
            // `CopyCredentialsFromRepo`/`CopyCredentialsFrom`: credential fields only.
            let c = &t.creds;
            let o = &mut out.creds;
            o.username = c.username.clone();
            o.password = c.password.clone();
            o.bearer_token = c.bearer_token.clone();
            o.ssh_private_key = c.ssh_private_key.clone();
            o.tls_client_cert_data = c.tls_client_cert_data.clone();
            o.tls_client_cert_key = c.tls_client_cert_key.clone();
            o.github_app_private_key = c.github_app_private_key.clone();
            o.github_app_id = c.github_app_id;
            o.github_app_installation_id = c.github_app_installation_id;
            o.force_http_basic_auth = c.force_http_basic_auth;
            if o.proxy.is_empty() {
                o.proxy = c.proxy.clone();
            }
            if o.no_proxy.is_empty() {
                o.no_proxy = c.no_proxy.clone();
            }
            out.creds_origin = t.origin.clone();
        }
        out
    }

    /// `getRepositoryCredentialIndex`: the template whose normalised URL is the longest prefix
    /// of the normalised repository URL (the first of equal length).
    pub fn template_for(&self, repo_url: &str) -> Option<&RepoEntry> {
        let repo = normalize_git_url(repo_url);
        let mut best: Option<(usize, &RepoEntry)> = None;
        for t in &self.templates {
            let prefix = normalize_git_url(&t.url);
            if repo.starts_with(&prefix) && best.is_none_or(|(len, _)| prefix.len() > len) {
                best = Some((prefix.len(), t));
            }
        }
        best.map(|(_, t)| t)
    }
}

/// `git.NormalizeGitURL`: lower case, trimmed; `user@host:path` SSH forms become
/// `user@host/path`; `ssh://` dropped; `.git` suffix dropped.
pub fn normalize_git_url(url: &str) -> String {
    let mut u = url.trim().to_lowercase();
    if is_ssh_url(&u) && !u.starts_with("ssh://") {
        u = u.replacen(':', "/", 1);
    }
    if let Some(s) = u.strip_suffix(".git") {
        u = s.to_owned();
    }
    u.strip_prefix("ssh://").map(str::to_owned).unwrap_or(u)
}

/// The PEM data argocd-tls-certs-cm (a ConfigMap as JSON) holds for `repo_url`'s host: Argo
/// CD keys the ConfigMap by server name, without the port (`argocd cert add-tls SERVERNAME`).
pub fn tls_certs_for(tls_certs_cm: &Value, repo_url: &str) -> String {
    let host = url_host(repo_url);
    tls_certs_cm
        .pointer("/data")
        .and_then(|d| d.get(host.as_str()))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// argocd-ssh-known-hosts-cm's `ssh_known_hosts` (a ConfigMap as JSON).
pub fn ssh_known_hosts(known_hosts_cm: &Value) -> String {
    known_hosts_cm
        .pointer("/data/ssh_known_hosts")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// The host name of an `https://`, `ssh://` or scp-style (`user@host:path`) URL, lower case,
/// without user, port or brackets.
pub fn url_host(url: &str) -> String {
    let u = url.trim();
    let authority = match u.split_once("://") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or(""),
        None => u.split(':').next().unwrap_or(""),
    };
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    host.to_ascii_lowercase()
}

/// `git.SameURL`.
pub fn same_url(a: &str, b: &str) -> bool {
    normalize_git_url(a) == normalize_git_url(b)
}

/// `git.IsSSHURL`: `ssh://`, or `user@host:path` without a scheme.
pub fn is_ssh_url(url: &str) -> bool {
    if url.starts_with("ssh://") {
        return true;
    }
    if url.contains("://") {
        return false;
    }
    match url.split_once('@') {
        Some((user, rest)) => !user.is_empty() && rest.contains(':'),
        None => false,
    }
}

/// A Secret's decoded values: `data` (base64) then `stringData` (which wins, as the API
/// server merges it on write).
fn secret_data(s: &Value, origin: &str) -> Result<Vec<(String, String)>, CredsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(d) = s.get("data").and_then(Value::as_object) {
        for (k, v) in d {
            let text = v.as_str().unwrap_or("");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| CredsError {
                    origin: origin.to_owned(),
                    field: format!("data.{k}"),
                    message: format!("not base64: {e}"),
                })?;
            let value = String::from_utf8(bytes).map_err(|_| CredsError {
                origin: origin.to_owned(),
                field: format!("data.{k}"),
                message: "not UTF-8 text".to_owned(),
            })?;
            out.push((k.clone(), value));
        }
    }
    if let Some(d) = s.get("stringData").and_then(Value::as_object) {
        for (k, v) in d {
            let value = v.as_str().unwrap_or("").to_owned();
            match out.iter_mut().find(|(kk, _)| kk == k) {
                Some(slot) => slot.1 = value,
                None => out.push((k.clone(), value)),
            }
        }
    }
    Ok(out)
}

fn entry_from_secret(s: &Value, origin: &str) -> Result<RepoEntry, CredsError> {
    let data = secret_data(s, origin)?;
    let get = |k: &str| {
        data.iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let field = |k: &str| {
        if s.pointer("/stringData").and_then(|d| d.get(k)).is_some() {
            format!("stringData.{k}")
        } else {
            format!("data.{k}")
        }
    };
    // `boolOrFalse`: strconv.ParseBool of the value, empty is false.
    let boolean = |k: &str| -> Result<bool, CredsError> {
        parse_bool(&get(k)).ok_or_else(|| CredsError {
            origin: origin.to_owned(),
            field: field(k),
            message: format!("invalid boolean {:?}", get(k)),
        })
    };
    // `intOrZero`: strconv.ParseInt, empty is 0.
    let int = |k: &str| -> Result<i64, CredsError> {
        let v = get(k);
        if v.is_empty() {
            return Ok(0);
        }
        v.parse().map_err(|_| CredsError {
            origin: origin.to_owned(),
            field: field(k),
            message: format!("invalid integer {v:?}"),
        })
    };
    let url = get("url");
    if url.is_empty() {
        return Err(CredsError {
            origin: origin.to_owned(),
            field: "data.url".to_owned(),
            message: "required: the repository URL".to_owned(),
        });
    }
    Ok(RepoEntry {
        url,
        repo_type: get("type"),
        name: get("name"),
        project: get("project"),
        origin: origin.to_owned(),
        creds: Credentials {
            username: get("username"),
            password: get("password"),
            bearer_token: get("bearerToken"),
            ssh_private_key: get("sshPrivateKey"),
            tls_client_cert_data: get("tlsClientCertData"),
            tls_client_cert_key: get("tlsClientCertKey"),
            insecure: boolean("insecure")?,
            insecure_ignore_host_key: boolean("insecureIgnoreHostKey")?,
            force_http_basic_auth: boolean("forceHttpBasicAuth")?,
            enable_lfs: boolean("enableLfs")?,
            proxy: get("proxy"),
            no_proxy: get("noProxy"),
            github_app_private_key: get("githubAppPrivateKey"),
            github_app_id: int("githubAppID")?,
            github_app_installation_id: int("githubAppInstallationID")?,
            tls_ca_certs: String::new(),
            ssh_known_hosts: String::new(),
        },
    })
}

/// Go's `strconv.ParseBool`, empty as false.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        _ => None,
    }
}

/// argocd-cm `repositories` / `repository.credentials`: a YAML list of entries whose secret
/// fields are `{name, key}` references to Secrets among `secrets`.
fn legacy_entries(
    text: &str,
    key: &str,
    secrets: &[Value],
) -> Result<(Vec<RepoEntry>, Vec<CredsError>), CredsError> {
    let top = |message: String| CredsError {
        origin: "configmap argocd-cm".to_owned(),
        field: format!("data.{key}"),
        message,
    };
    let docs = sluice_core::yaml::load_documents(text, &Default::default())
        .map_err(|e| top(e.message()))?;
    let value = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    let items = match value {
        Value::Null => return Ok((Vec::new(), Vec::new())),
        Value::Array(a) => a,
        _ => return Err(top("expected a list of repositories".to_owned())),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let origin = format!("configmap argocd-cm data.{key}[{i}]");
        let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let b = |k: &str| item.get(k).and_then(Value::as_bool).unwrap_or(false);
        let mut err = None;
        let mut secret_ref = |k: &str| -> String {
            let Some(r) = item.get(k) else {
                return String::new();
            };
            match lookup_secret_key(r, secrets) {
                Ok(v) => v,
                Err(m) => {
                    err.get_or_insert(CredsError {
                        origin: origin.clone(),
                        field: k.to_owned(),
                        message: m,
                    });
                    String::new()
                }
            }
        };
        let creds = Credentials {
            username: secret_ref("usernameSecret"),
            password: secret_ref("passwordSecret"),
            bearer_token: secret_ref("bearerTokenSecret"),
            ssh_private_key: secret_ref("sshPrivateKeySecret"),
            tls_client_cert_data: secret_ref("tlsClientCertDataSecret"),
            tls_client_cert_key: secret_ref("tlsClientCertKeySecret"),
            github_app_private_key: secret_ref("githubAppPrivateKeySecret"),
            insecure: b("insecure"),
            insecure_ignore_host_key: b("insecureIgnoreHostKey"),
            force_http_basic_auth: b("forceHttpBasicAuth"),
            enable_lfs: b("enableLfs"),
            proxy: s("proxy"),
            no_proxy: s("noProxy"),
            github_app_id: item.get("githubAppID").and_then(Value::as_i64).unwrap_or(0),
            github_app_installation_id: item
                .get("githubAppInstallationID")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            tls_ca_certs: String::new(),
            ssh_known_hosts: String::new(),
        };
        if let Some(e) = err {
            errors.push(e);
            continue;
        }
        if s("url").is_empty() {
            errors.push(CredsError {
                origin,
                field: "url".to_owned(),
                message: "required: the repository URL".to_owned(),
            });
            continue;
        }
        out.push(RepoEntry {
            url: s("url"),
            repo_type: s("type"),
            name: s("name"),
            project: String::new(),
            creds,
            origin,
        });
    }
    Ok((out, errors))
}

fn lookup_secret_key(r: &Value, secrets: &[Value]) -> Result<String, String> {
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let key = r.get("key").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || key.is_empty() {
        return Err("expected {name, key} of a Secret".to_owned());
    }
    let s = secrets
        .iter()
        .find(|s| s.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| format!("secret {name:?} not found"))?;
    let data = secret_data(s, name).map_err(|e| e.to_string())?;
    data.into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("secret {name:?} has no key {key:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(name: &str, kind: &str, data: &[(&str, &str)]) -> Value {
        let mut d = serde_json::Map::new();
        for (k, v) in data {
            d.insert((*k).to_owned(), Value::String(b64(v)));
        }
        json!({"apiVersion":"v1","kind":"Secret",
            "metadata":{"name":name,"namespace":"argocd","labels":{SECRET_TYPE_LABEL: kind}},
            "data": d})
    }

    // argo-cd util/git NormalizeGitURL: lower case, SSH scp form to a path, ".git" dropped.
    #[test]
    fn normalizes_like_upstream() {
        assert_eq!(
            normalize_git_url("git@GitHub.com:Org/Repo.git"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_git_url("ssh://git@github.com/org/repo"),
            "git@github.com/org/repo"
        );
        assert!(same_url(
            "https://github.com/org/repo.git",
            "https://GITHUB.com/org/repo"
        ));
        assert!(!same_url(
            "https://github.com/org/repo",
            "https://github.com/org/repo2"
        ));
    }

    // argo-cd util/db/repository_secrets.go getRepositoryCredentialIndex: the longest
    // normalised prefix wins.
    #[test]
    fn longest_prefix_template_wins() {
        let secrets = [
            secret(
                "a",
                "repo-creds",
                &[("url", "https://github.com/"), ("password", "short")],
            ),
            secret(
                "b",
                "repo-creds",
                &[("url", "https://github.com/org"), ("password", "long")],
            ),
            secret(
                "c",
                "repo-creds",
                &[("url", "https://gitlab.com/org"), ("password", "other")],
            ),
        ];
        let (set, errs) = RepoCredsSet::from_objects(&secrets, None);
        assert!(errs.is_empty(), "{errs:?}");
        let r = set.resolve("https://github.com/org/repo.git", "");
        assert_eq!(r.creds.password, "long");
        assert_eq!(r.creds_origin, "secret argocd/b");
        assert_eq!(
            set.resolve("https://github.com/x/y", "").creds.password,
            "short"
        );
        assert!(
            !set.resolve("https://bitbucket.org/x/y", "")
                .creds
                .has_credentials()
        );
    }

    // enrichCredsToRepo: a repository Secret without credentials takes the template's; one
    // with credentials keeps its own.
    #[test]
    fn repository_secret_and_template() {
        let secrets = [
            secret(
                "tpl",
                "repo-creds",
                &[
                    ("url", "https://git.example.com/"),
                    ("username", "t"),
                    ("password", "tp"),
                ],
            ),
            secret(
                "bare",
                "repository",
                &[
                    ("url", "https://git.example.com/a.git"),
                    ("insecure", "true"),
                ],
            ),
            secret(
                "own",
                "repository",
                &[
                    ("url", "https://git.example.com/b"),
                    ("sshPrivateKey", "KEY"),
                ],
            ),
            secret(
                "proj",
                "repository",
                &[
                    ("url", "https://git.example.com/b"),
                    ("project", "p1"),
                    ("username", "p"),
                ],
            ),
        ];
        let (set, errs) = RepoCredsSet::from_objects(&secrets, None);
        assert!(errs.is_empty(), "{errs:?}");
        let a = set.resolve("https://git.example.com/a", "");
        assert_eq!(
            (a.creds.username.as_str(), a.creds.password.as_str()),
            ("t", "tp")
        );
        assert!(a.creds.insecure);
        assert_eq!(a.origin, "secret argocd/bare");
        let b = set.resolve("https://git.example.com/b", "");
        assert_eq!(b.creds.ssh_private_key, "KEY");
        assert!(b.creds.username.is_empty());
        // the project's own Secret first (getRepositorySecret)
        assert_eq!(
            set.resolve("https://git.example.com/b", "p1")
                .creds
                .username,
            "p"
        );
        // credentials are never printed
        assert!(!format!("{:?}", b.creds).contains("KEY"));
    }

    // argo-cd docs operator-manual/declarative-setup.md: argocd-tls-certs-cm holds "Custom TLS
    // certificates for connecting Git repositories via HTTPS", argocd-ssh-known-hosts-cm "SSH
    // known hosts data"; `argocd cert add-tls SERVERNAME` keys them by server name.
    #[test]
    fn host_trust_from_config_maps() {
        let certs = json!({"data":{"git.example.com":"PEM","other":"X"}});
        assert_eq!(
            tls_certs_for(&certs, "https://git.example.com:8443/a.git"),
            "PEM"
        );
        assert_eq!(
            tls_certs_for(&certs, "https://user@GIT.example.com/a"),
            "PEM"
        );
        assert_eq!(tls_certs_for(&certs, "https://nope/a"), "");
        assert_eq!(url_host("git@github.com:org/repo.git"), "github.com");
        assert_eq!(url_host("ssh://git@[::1]:2222/r"), "::1");
        let kh = json!({"data":{"ssh_known_hosts":"github.com ssh-ed25519 AAAA"}});
        assert_eq!(ssh_known_hosts(&kh), "github.com ssh-ed25519 AAAA");
        assert_eq!(ssh_known_hosts(&json!({})), "");
    }

    #[test]
    fn mistakes_are_reported_with_their_field() {
        let mut bad = secret(
            "bad",
            "repository",
            &[("url", "https://x/y"), ("insecure", "yes")],
        );
        let (set, errs) = RepoCredsSet::from_objects(std::slice::from_ref(&bad), None);
        assert!(set.repositories.is_empty());
        assert_eq!(
            errs[0].to_string(),
            "secret argocd/bad: data.insecure: invalid boolean \"yes\""
        );
        bad["data"]["password"] = json!("!!!");
        let (_, errs) = RepoCredsSet::from_objects(&[bad], None);
        assert_eq!(errs[0].field, "data.password");
        let nourl = secret("n", "repo-creds", &[("password", "p")]);
        let (_, errs) = RepoCredsSet::from_objects(&[nourl], None);
        assert_eq!(errs[0].field, "data.url");
    }

    // argo-cd docs operator-manual/declarative-setup.md "Legacy behaviour": argocd-cm
    // repositories with usernameSecret/passwordSecret references.
    #[test]
    fn argocd_cm_repositories() {
        let creds = json!({"metadata":{"name":"my-secret","namespace":"argocd"},
            "stringData":{"username":"u","password":"pw"}});
        let cm = json!({"data":{
            "repositories": "- url: https://github.com/org/private\n  usernameSecret:\n    name: my-secret\n    key: username\n  passwordSecret:\n    name: my-secret\n    key: password\n- url: https://github.com/org/missing\n  passwordSecret:\n    name: nope\n    key: password\n",
            "repository.credentials": "- url: https://github.com/team\n  passwordSecret:\n    name: my-secret\n    key: password\n"
        }});
        let (set, errs) = RepoCredsSet::from_objects(&[creds], Some(&cm));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "passwordSecret");
        assert!(errs[0].origin.ends_with("repositories[1]"));
        let r = set.resolve("https://github.com/org/private.git", "");
        assert_eq!(
            (r.creds.username.as_str(), r.creds.password.as_str()),
            ("u", "pw")
        );
        assert_eq!(
            set.resolve("https://github.com/team/x", "").creds.password,
            "pw"
        );
        let bad = json!({"data":{"repositories": "url: x"}});
        let (_, errs) = RepoCredsSet::from_objects(&[], Some(&bad));
        assert_eq!(errs[0].field, "data.repositories");
    }
}
