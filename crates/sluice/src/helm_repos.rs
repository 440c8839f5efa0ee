//! Helm chart repositories as Application sources (`source.chart` + `repoURL`), the I/O
//! edge around `sluice_helm::repo` (index and version selection) and `helm_oci` (OCI pulls):
//!
//! - HTTP(S): `GET <repoURL>/index.yaml` (sluice_kube::http_out), the entry
//!   `targetRevision` selects, `urls[0]` resolved against repoURL, its `digest` checked;
//! - OCI: `oci://host/path` (or a bare `host/path` whose repository Secret says
//!   `enableOCI: "true"`): `<repoURL>/<chart>:<version>`; plain HTTP when the Secret says
//!   `insecureOCIForceHttp: "true"` (Argo CD's field);
//! - credentials from Argo CD repository Secrets (`argocd.argoproj.io/secret-type:
//!   repository`, `url`, `username`, `password`, `enableOCI`, `passCredentials`,
//!   `insecure`); basic auth goes to a chart URL on another host only with `passCredentials`;
//!   a repository without username and password takes them from the `repo-creds` template
//!   with the longest URL prefix, as Argo CD's credential templates;
//! - archives cached under DATA/helm-charts by (repoURL, chart, version), at most
//!   [`MAX_CACHED`] files (the oldest go first).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use sluice_source::{FetchedChart, Resolved, Sources};

/// The most chart archives kept in the cache.
pub const MAX_CACHED: usize = 256;

/// The repository Secrets of the Argo CD namespace and its `argocd-tls-certs-cm` ConfigMap
/// (CA certificates per host), read when a chart is fetched.
pub type SecretsFn = dyn Fn() -> (Vec<Value>, Value) + Send + Sync;

/// Git sources plus Helm chart repositories.
pub struct HelmRepoSources {
    pub inner: Arc<dyn Sources>,
    pub cache_dir: PathBuf,
    pub secrets: Arc<SecretsFn>,
}

/// What a repository Secret says about one Helm repository.
#[derive(Default, Clone)]
struct HelmRepo {
    username: String,
    password: String,
    enable_oci: bool,
    pass_credentials: bool,
    insecure: bool,
    force_http: bool,
    /// argocd-tls-certs-cm's PEM for the repository's host (Argo CD keys it by host name).
    ca_pem: Option<Vec<u8>>,
}

fn norm(u: &str) -> String {
    let u = u.trim().trim_end_matches('/');
    u.strip_prefix("oci://").unwrap_or(u).to_ascii_lowercase()
}

/// A Secret's value of `k` (Secret data is base64, stringData plain, as the API server keeps
/// it).
fn secret_value(s: &Value, k: &str) -> String {
    if let Some(v) = s["stringData"][k].as_str() {
        return v.to_string();
    }
    s["data"][k]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn secret_type(s: &Value) -> &str {
    s["metadata"]["labels"][sluice_gitops::repocreds::SECRET_TYPE_LABEL]
        .as_str()
        .unwrap_or("")
}

fn helm_repo_of(s: &Value) -> HelmRepo {
    let yes = |k: &str| secret_value(s, k).eq_ignore_ascii_case("true");
    HelmRepo {
        username: secret_value(s, "username"),
        password: secret_value(s, "password"),
        enable_oci: yes("enableOCI"),
        pass_credentials: yes("passCredentials"),
        insecure: yes("insecure"),
        force_http: yes("insecureOCIForceHttp"),
        ca_pem: None,
    }
}

/// What Argo CD knows of `repo_url` (util/db/repository.go `GetRepository` and
/// `enrichCredsToRepo`): the `repository` Secret whose `url` is `repo_url`; when it has no
/// username and password (or there is none), those of the `repo-creds` template with the
/// longest `url` prefix of `repo_url` (`getRepositoryCredentialIndex`), copied as
/// `CopyCredentialsFrom` copies them (only what the repository leaves empty). A repository
/// known only through a template takes its `enableOCI` and `insecureOCIForceHttp` too (the
/// repo-server lists Helm templates as repositories).
fn repo_config(secrets: &[Value], repo_url: &str) -> HelmRepo {
    let want = norm(repo_url);
    let exact = secrets
        .iter()
        .find(|s| secret_type(s) == "repository" && norm(&secret_value(s, "url")) == want);
    let template = secrets
        .iter()
        .filter(|s| secret_type(s) == "repo-creds")
        .map(|s| (norm(&secret_value(s, "url")), s))
        .filter(|(u, _)| !u.is_empty() && want.starts_with(u.as_str()))
        .max_by_key(|(u, _)| u.len())
        .map(|(_, s)| helm_repo_of(s));
    match (exact.map(helm_repo_of), template) {
        (Some(mut r), Some(t)) => {
            if r.username.is_empty() && r.password.is_empty() {
                r.username = t.username;
                r.password = t.password;
            }
            r
        }
        (Some(r), None) => r,
        (None, Some(t)) => t,
        (None, None) => HelmRepo::default(),
    }
}

/// The PEM argocd-tls-certs-cm holds for `repo_url`'s host name (without the port).
fn tls_cert_for(cm: &Value, repo_url: &str) -> Option<Vec<u8>> {
    let bare = repo_url.split_once("://").map_or(repo_url, |(_, r)| r);
    let authority = bare.split('/').next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    cm["data"][host].as_str().map(|p| p.as_bytes().to_vec())
}

impl HelmRepoSources {
    fn cache_path(&self, repo_url: &str, chart: &str, version: &str) -> PathBuf {
        let key = sluice_registry::Digest::sha256_of(
            format!("{repo_url}\0{chart}\0{version}").as_bytes(),
        );
        self.cache_dir.join(format!("{}.tgz", key.hex()))
    }

    fn cached(&self, repo_url: &str, chart: &str, version: &str) -> Option<FetchedChart> {
        if !sluice_helm::repo::is_version(version) {
            return None;
        }
        let archive = std::fs::read(self.cache_path(repo_url, chart, version)).ok()?;
        Some(FetchedChart {
            version: version.to_string(),
            archive,
        })
    }

    fn store(&self, repo_url: &str, chart: &str, f: &FetchedChart) {
        if std::fs::create_dir_all(&self.cache_dir).is_err() {
            return;
        }
        let p = self.cache_path(repo_url, chart, &f.version);
        let tmp = p.with_extension("tmp");
        if std::fs::write(&tmp, &f.archive).is_ok() {
            let _ = std::fs::rename(&tmp, &p);
        }
        // bounded: the oldest archives beyond MAX_CACHED go
        let Ok(rd) = std::fs::read_dir(&self.cache_dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = rd
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if files.len() > MAX_CACHED {
            files.sort();
            for (_, p) in &files[..files.len() - MAX_CACHED] {
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn fetch_http(
        &self,
        repo_url: &str,
        chart: &str,
        rev: &str,
        cfg: &HelmRepo,
    ) -> Result<FetchedChart, String> {
        let auth = (!cfg.username.is_empty() || !cfg.password.is_empty()).then(|| {
            let b = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", cfg.username, cfg.password));
            vec![("Authorization".to_string(), format!("Basic {b}"))]
        });
        let get = |url: &str, creds: bool, max: usize| -> Result<Vec<u8>, String> {
            let headers = if creds {
                auth.clone().unwrap_or_default()
            } else {
                vec![]
            };
            let (status, body) = sluice_kube::http_out::send_limited(
                &sluice_kube::http_out::Request {
                    method: "GET",
                    url,
                    headers: &headers,
                    body: b"",
                    insecure_skip_verify: cfg.insecure,
                },
                max,
            )?;
            if status != 200 {
                return Err(format!("GET {url}: HTTP {status}"));
            }
            Ok(body)
        };
        let index_url = sluice_helm::repo::index_url(repo_url);
        let index = get(&index_url, true, sluice_helm::repo::MAX_INDEX_BYTES)?;
        let entries = sluice_helm::repo::chart_entries(&String::from_utf8_lossy(&index), chart)
            .map_err(|e| format!("{index_url}: {e}"))?;
        let e = sluice_helm::repo::select(&entries, chart, rev)
            .map_err(|e| format!("{index_url}: {e}"))?;
        if let Some(f) = self.cached(repo_url, chart, &e.version) {
            return Ok(f);
        }
        let Some(u) = e.urls.first() else {
            return Err(format!(
                "{index_url}: {chart} {}: the entry has no urls",
                e.version
            ));
        };
        let url = sluice_helm::repo::resolve_url(repo_url, u);
        // Helm's passCredentials: credentials only to the repository's own host unless set
        let same_host = sluice_helm::repo::url_host(&url) == sluice_helm::repo::url_host(repo_url);
        let archive = get(
            &url,
            same_host || cfg.pass_credentials,
            sluice_registry::helm::MAX_CHART_BYTES,
        )?;
        if let Some(d) = &e.digest {
            let got = sluice_registry::Digest::sha256_of(&archive);
            if !got
                .hex()
                .eq_ignore_ascii_case(d.trim_start_matches("sha256:"))
            {
                return Err(format!(
                    "{url}: the archive's digest is sha256:{}, the index says {d}",
                    got.hex()
                ));
            }
        }
        Ok(FetchedChart {
            version: e.version.clone(),
            archive,
        })
    }

    fn fetch_oci(
        &self,
        repo_url: &str,
        chart: &str,
        rev: &str,
        cfg: &HelmRepo,
    ) -> Result<FetchedChart, String> {
        let bare = repo_url.strip_prefix("oci://").unwrap_or(repo_url);
        let bare = bare.trim_end_matches('/');
        let (host, path) = bare.split_once('/').unwrap_or((bare, ""));
        let repo = if path.is_empty() {
            chart.to_string()
        } else {
            format!("{path}/{chart}")
        };
        let flags = crate::helm_oci::RegistryFlags {
            kubeconfig: None,
            username: (!cfg.username.is_empty()).then(|| cfg.username.clone()),
            password: (!cfg.password.is_empty()).then(|| cfg.password.clone()),
            ca_file: None,
            plain_http: cfg.force_http,
            no_ambient_credentials: true,
            ca_pem: cfg.ca_pem.clone(),
        };
        let (version, archive) =
            crate::helm_oci::fetch_chart(host, &repo, rev, &flags).map_err(|e| format!("{e:#}"))?;
        Ok(FetchedChart { version, archive })
    }
}

impl Sources for HelmRepoSources {
    fn resolve(&self, repo_url: &str, target_revision: &str) -> Result<Resolved, String> {
        self.inner.resolve(repo_url, target_revision)
    }

    fn invalidate(&self, repo_url: &str) {
        self.inner.invalidate(repo_url);
    }

    fn chart(&self, repo_url: &str, chart: &str, rev: &str) -> Result<FetchedChart, String> {
        if let Some(f) = self.cached(repo_url, chart, rev) {
            return Ok(f);
        }
        let (secrets, tls_certs) = (self.secrets)();
        let mut cfg = repo_config(&secrets, repo_url);
        cfg.ca_pem = tls_cert_for(&tls_certs, repo_url);
        let oci = repo_url.starts_with("oci://") || (!repo_url.contains("://") && cfg.enable_oci);
        let f = if oci {
            self.fetch_oci(repo_url, chart, rev, &cfg)?
        } else if repo_url.starts_with("http://") || repo_url.starts_with("https://") {
            self.fetch_http(repo_url, chart, rev, &cfg)?
        } else {
            return Err(format!(
                "{repo_url}: a Helm repository URL is http(s)://, oci://, or a registry host with enableOCI in its repository Secret"
            ));
        };
        self.store(repo_url, chart, &f);
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repository_secrets() {
        let s = vec![json!({
            "metadata": {"labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"type": "helm", "url": "oci://127.0.0.1:5000/charts/",
                "username": "u", "password": "p", "enableOCI": "true"},
            "data": {"passCredentials": base64::engine::general_purpose::STANDARD.encode("true")}
        })];
        let c = repo_config(&s, "127.0.0.1:5000/charts");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        assert!(c.enable_oci && c.pass_credentials && !c.force_http);
        assert!(repo_config(&s, "oci://other/charts").username.is_empty());
        let cm = json!({"data": {"127.0.0.1": "PEM"}});
        assert_eq!(
            tls_cert_for(&cm, "127.0.0.1:5000/charts"),
            Some(b"PEM".to_vec())
        );
        assert_eq!(
            tls_cert_for(&cm, "oci://127.0.0.1/c"),
            Some(b"PEM".to_vec())
        );
        assert_eq!(tls_cert_for(&cm, "https://other/c"), None);
    }

    /// Credential templates (argo-cd docs operator-manual/declarative-setup.md "Repository
    /// Credentials", util/db/repository.go enrichCredsToRepo): the longest `url` prefix
    /// wins; a repository Secret's own username and password come first; a repository known
    /// only through a template takes its enableOCI.
    #[test]
    fn repo_creds_templates_fill_in_credentials() {
        let creds = |name: &str, url: &str, user: &str| {
            json!({
                "metadata": {"name": name, "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
                "stringData": {"type": "helm", "url": url, "username": user, "password": "pw", "enableOCI": "true"}
            })
        };
        let s = vec![
            creds("short", "oci://registry.example/", "short"),
            creds("long", "registry.example/team", "long"),
            json!({
                "metadata": {"labels": {"argocd.argoproj.io/secret-type": "repository"}},
                "stringData": {"type": "helm", "url": "https://charts.example/team/plain"}
            }),
            json!({
                "metadata": {"labels": {"argocd.argoproj.io/secret-type": "repository"}},
                "stringData": {"type": "helm", "url": "https://charts.example/own", "username": "me", "password": "mine"}
            }),
            json!({
                "metadata": {"labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
                "stringData": {"type": "helm", "url": "https://charts.example/", "username": "tpl", "password": "t"}
            }),
        ];
        let c = repo_config(&s, "oci://registry.example/team/charts");
        assert_eq!(c.username, "long");
        assert!(c.enable_oci);
        assert_eq!(repo_config(&s, "registry.example/other").username, "short");
        let c = repo_config(&s, "https://charts.example/team/plain");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("tpl", "t"));
        assert!(!c.enable_oci, "the repository Secret's own settings stay");
        assert_eq!(repo_config(&s, "https://charts.example/own").username, "me");
        assert!(repo_config(&s, "https://elsewhere/c").username.is_empty());
    }
}
