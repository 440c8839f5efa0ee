//! `sluice helm package|push|pull`: Helm charts as OCI artifacts, with helm's habits
//! (`helm package DIR`, `helm push CHART.tgz oci://HOST/PROJECT`, `helm pull
//! oci://HOST/PROJECT/NAME --version V`). The artifact shape (media types, config =
//! metadata, tag = version) is sluice-registry's `helm` module; this is the HTTP edge:
//! an HTTP/1.1 client over rustls that trusts the CA of the kubeconfig `sluice serve`
//! writes (or --ca-file) and sends the kubeconfig's token as Basic credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use clap::Args;
use http_body_util::BodyExt as _;
use sluice_registry::Digest;
use sluice_registry::helm as oci;

use crate::exit;

/// Where a registry is and how to reach it (helm's registry flags).
#[derive(Debug, Args, Clone)]
pub struct RegistryFlags {
    /// The kubeconfig whose token and CA certificate reach the registry (default
    /// $KUBECONFIG, else .sluice/kubeconfig when it exists).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Registry user name (any user is accepted by Sluice's registry).
    #[arg(long)]
    pub username: Option<String>,
    /// Registry password (Sluice's registry: the server's token).
    #[arg(long)]
    pub password: Option<String>,
    /// CA certificate (PEM) to verify the registry's certificate with.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    pub plain_http: bool,
    /// Only the credentials given here (not $KUBECONFIG's token): the server pulling
    /// Application charts.
    #[arg(skip)]
    pub no_ambient_credentials: bool,
    /// CA certificates (PEM) given in memory (argocd-tls-certs-cm), before `ca_file`.
    #[arg(skip)]
    pub ca_pem: Option<Vec<u8>>,
}

/// `helm package CHART_DIR`: a deterministic .tgz of the chart (its .helmignore applies).
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The chart directory.
    pub chart: PathBuf,
    /// Where to write NAME-VERSION.tgz.
    #[arg(short = 'd', long = "destination", default_value = ".")]
    pub destination: PathBuf,
}

/// `helm push CHART.tgz oci://HOST/PROJECT`: pushes to HOST/PROJECT/NAME:VERSION.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The packaged chart.
    pub chart: PathBuf,
    /// `oci://HOST[:PORT]/PROJECT`
    pub remote: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// `helm pull oci://HOST/PROJECT/NAME --version V`: writes NAME-VERSION.tgz.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// `oci://HOST[:PORT]/PROJECT/NAME`
    pub chart: String,
    /// The chart version (the tag); default the highest version tag.
    #[arg(long)]
    pub version: Option<String>,
    /// Where to write the chart.
    #[arg(short = 'd', long = "destination", default_value = ".")]
    pub destination: PathBuf,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn package(args: &PackageArgs) -> anyhow::Result<u8> {
    let (path, _) = package_to(&args.chart, &args.destination)?;
    println!(
        "Successfully packaged chart and saved it to: {}",
        path.display()
    );
    Ok(exit::OK)
}

/// Packages `dir` into `dest`; returns the file and (name, version).
pub(crate) fn package_to(dir: &Path, dest: &Path) -> anyhow::Result<(PathBuf, (String, String))> {
    use sluice_helm::FileSystem as _;
    let fs = sluice_helm::DiskFs;
    if !fs.is_dir(dir) {
        bail!("{}: not a chart directory", dir.display());
    }
    // what Helm would load, or the error it would give
    let chart = sluice_helm::load_chart(&fs, dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let (name, version) =
        oci::name_version(&chart.metadata).map_err(|e| anyhow!("{}/{e}", dir.display()))?;
    let ignore = match fs.read(&dir.join(".helmignore")) {
        Ok(b) => sluice_helm::chart::Ignore::parse(&String::from_utf8_lossy(&b)),
        Err(_) => sluice_helm::chart::Ignore::parse(""),
    };
    let mut files = Vec::new();
    let mut stack = vec![String::new()];
    let mut total = 0usize;
    while let Some(rel) = stack.pop() {
        let abs = if rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&rel)
        };
        for (n, is_dir) in fs.list(&abs).with_context(|| abs.display().to_string())? {
            let p = if rel.is_empty() {
                n
            } else {
                format!("{rel}/{n}")
            };
            if ignore.ignored(&p, is_dir) {
                continue;
            }
            if is_dir {
                stack.push(p);
                continue;
            }
            let data = fs
                .read(&dir.join(&p))
                .with_context(|| format!("{}/{p}", dir.display()))?;
            total += data.len();
            if total > oci::MAX_CHART_BYTES {
                bail!(
                    "{}: chart larger than {} bytes",
                    dir.display(),
                    oci::MAX_CHART_BYTES
                );
            }
            files.push((p, data));
        }
    }
    let tgz = oci::package(&name, &files).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    std::fs::create_dir_all(dest).with_context(|| dest.display().to_string())?;
    let out = dest.join(format!("{name}-{version}.tgz"));
    std::fs::write(&out, tgz).with_context(|| out.display().to_string())?;
    Ok((out, (name, version)))
}

/// `oci://host[:port]/path` -> (host, path).
fn split_oci(s: &str) -> anyhow::Result<(String, String)> {
    let rest = s
        .strip_prefix("oci://")
        .ok_or_else(|| anyhow!("{s}: an OCI reference starts with oci://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    if host.is_empty() {
        bail!("{s}: no registry host");
    }
    if !path.is_empty() && !sluice_registry::reference::valid_name(path) {
        bail!(
            "{s}: {path:?} is not a valid repository name (lowercase, digits, separators . _ __ -)"
        );
    }
    Ok((host.to_string(), path.to_string()))
}

pub fn push(args: &PushArgs) -> anyhow::Result<u8> {
    let data = std::fs::read(&args.chart).with_context(|| args.chart.display().to_string())?;
    if data.len() > oci::MAX_CHART_BYTES {
        bail!(
            "{}: larger than {} bytes",
            args.chart.display(),
            oci::MAX_CHART_BYTES
        );
    }
    let chart = sluice_helm::chart::load_archive(&data, 0)
        .map_err(|e| anyhow!("{}: {e}", args.chart.display()))?;
    let (name, version) =
        oci::name_version(&chart.metadata).map_err(|e| anyhow!("{}: {e}", args.chart.display()))?;
    let (host, project) = split_oci(&args.remote)?;
    let repo = if project.is_empty() {
        name.clone()
    } else {
        format!("{project}/{name}")
    };
    let tag = oci::tag_of(&version);
    let config = serde_json::to_vec(&chart.metadata)?;
    let manifest = oci::chart_manifest(&chart.metadata, &config, &data);
    let client = Client::new(&host, &args.registry)?;
    let digest = runtime()?.block_on(async {
        client.push_blob(&repo, &config).await?;
        client.push_blob(&repo, &data).await?;
        client.put_manifest(&repo, &tag, &manifest).await
    })?;
    println!("Pushed: {host}/{repo}:{tag}");
    println!("Digest: {digest}");
    Ok(exit::OK)
}

pub fn pull(args: &PullArgs) -> anyhow::Result<u8> {
    let (host, repo) = split_oci(&args.chart)?;
    if repo.is_empty() {
        bail!("{}: no chart name", args.chart);
    }
    let name = repo.rsplit('/').next().unwrap_or(&repo).to_string();
    let client = Client::new(&host, &args.registry)?;
    let (tag, digest, chart) = runtime()?.block_on(async {
        let tag = match &args.version {
            Some(v) => oci::tag_of(v),
            None => client.highest_tag(&repo).await?,
        };
        let (digest, manifest) = client.get_manifest(&repo, &tag).await?;
        let (layer, _) =
            oci::chart_layer(&manifest).map_err(|e| anyhow!("{host}/{repo}:{tag}: {e}"))?;
        let chart = client.get_blob(&repo, &layer).await?;
        anyhow::Ok((tag, digest, chart))
    })?;
    // the version in the file name is the chart's own (Helm: NAME-VERSION.tgz)
    let loaded = sluice_helm::chart::load_archive(&chart, 0)
        .map_err(|e| anyhow!("{host}/{repo}:{tag}: the pulled chart does not load: {e}"))?;
    let (_, version) =
        oci::name_version(&loaded.metadata).map_err(|e| anyhow!("{host}/{repo}:{tag}: {e}"))?;
    std::fs::create_dir_all(&args.destination)
        .with_context(|| args.destination.display().to_string())?;
    let out = args.destination.join(format!("{name}-{version}.tgz"));
    std::fs::write(&out, &chart).with_context(|| out.display().to_string())?;
    println!("Pulled: {host}/{repo}:{tag}");
    println!("Digest: {digest}");
    Ok(exit::OK)
}

/// The chart `host/repo` at the version `target_revision` selects (a tag equal to it, else
/// the highest version tag satisfying it as a semver constraint, as for an index), for the
/// Application controller (a blocking thread): (version, archive).
pub(crate) fn fetch_chart(
    host: &str,
    repo: &str,
    target_revision: &str,
    flags: &RegistryFlags,
) -> anyhow::Result<(String, Vec<u8>)> {
    let client = Client::new(host, flags)?;
    runtime()?.block_on(async {
        let rev = target_revision.trim();
        let exact = sluice_helm::repo::is_version(rev);
        let tag = if exact {
            oci::tag_of(rev)
        } else {
            let tags = client.tags(repo).await?;
            let entries: Vec<sluice_helm::repo::IndexEntry> = tags
                .iter()
                .map(|t| sluice_helm::repo::IndexEntry {
                    name: repo.to_string(),
                    // Helm stores `+` of a version as `_` in the tag
                    version: t.replace('_', "+"),
                    urls: vec![],
                    digest: None,
                })
                .collect();
            let e = sluice_helm::repo::select(&entries, repo, rev)
                .map_err(|e| anyhow!("{host}/{repo}: {e}"))?;
            oci::tag_of(&e.version)
        };
        let (_, manifest) = client.get_manifest(repo, &tag).await?;
        let (layer, _) =
            oci::chart_layer(&manifest).map_err(|e| anyhow!("{host}/{repo}:{tag}: {e}"))?;
        let chart = client.get_blob(repo, &layer).await?;
        anyhow::Ok((tag.replace('_', "+"), chart))
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The kubeconfig's token and CA (PEM), read line by line from the current context's
/// cluster and user; what `sluice serve` writes has exactly one of each.
pub(crate) fn kubeconfig_creds(path: &Path) -> anyhow::Result<(Option<String>, Option<Vec<u8>>)> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let docs = sluice_core::yaml::load_documents(&text, &sluice_core::yaml::Limits::default())
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let v = docs.into_iter().next().map(|d| d.value).unwrap_or_default();
    let ctx_name = v["current-context"].as_str().unwrap_or("");
    let find = |list: &str, name: &str| -> serde_json::Value {
        v[list]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["name"].as_str() == Some(name)).cloned())
            .unwrap_or_default()
    };
    let ctx = find("contexts", ctx_name);
    let cluster = find("clusters", ctx["context"]["cluster"].as_str().unwrap_or(""));
    let user = find("users", ctx["context"]["user"].as_str().unwrap_or(""));
    let token = user["user"]["token"].as_str().map(String::from);
    let ca = match cluster["cluster"]["certificate-authority-data"].as_str() {
        Some(b) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .with_context(|| format!("{}: certificate-authority-data", path.display()))?,
        ),
        None => None,
    };
    Ok((token, ca))
}

/// A registry client: one HTTP/1.1 connection per request, TLS by rustls.
struct Client {
    host: String,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    authorization: Option<String>,
}

struct Resp {
    status: u16,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    fn new(host: &str, f: &RegistryFlags) -> anyhow::Result<Client> {
        let kubeconfig = f
            .kubeconfig
            .clone()
            .filter(|_| !f.no_ambient_credentials)
            .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
            .filter(|_| !f.no_ambient_credentials)
            .or_else(|| {
                let p = PathBuf::from(".sluice/kubeconfig");
                (p.exists() && !f.no_ambient_credentials).then_some(p)
            });
        let (token, kube_ca) = match &kubeconfig {
            Some(p) => kubeconfig_creds(p)?,
            None => (None, None),
        };
        let password = f.password.clone().or(token);
        let authorization = password.map(|p| {
            let user = f.username.clone().unwrap_or_else(|| "sluice".into());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{p}"))
            )
        });
        let tls = if f.plain_http {
            None
        } else {
            let pem = match (&f.ca_pem, &f.ca_file) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(p)) => Some(std::fs::read(p).with_context(|| p.display().to_string())?),
                (None, None) => kube_ca,
            };
            let roots = match pem {
                Some(pem) => {
                    use rustls::pki_types::pem::PemObject as _;
                    let mut roots = rustls::RootCertStore::empty();
                    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                        let c = c.map_err(|e| anyhow!("CA certificate: {e}"))?;
                        roots.add(c).map_err(|e| anyhow!("CA certificate: {e}"))?;
                    }
                    roots
                }
                // the server pulling Application charts: the system's roots
                None if f.no_ambient_credentials => (*sluice_kube::http_out::roots()).clone(),
                None => bail!(
                    "no CA certificate to verify {host} with: pass --ca-file or --kubeconfig (the one `sluice serve` writes), or --plain-http"
                ),
            };
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let h = host.rsplit_once(':').map_or(host, |(h, _)| h);
            let h = h.trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(h.to_string())
                .map_err(|e| anyhow!("{host}: {e}"))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        };
        Ok(Client {
            host: host.to_string(),
            tls,
            authorization,
        })
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        max: usize,
    ) -> anyhow::Result<Resp> {
        let addr = if self.host.contains(':') {
            self.host.clone()
        } else if self.tls.is_some() {
            format!("{}:443", self.host)
        } else {
            format!("{}:80", self.host)
        };
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        let _ = tcp.set_nodelay(true);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", &self.host)
            .header("User-Agent", "sluice-helm");
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
        let resp = match &self.tls {
            Some((conn, name)) => {
                let stream = conn
                    .connect(name.clone(), tcp)
                    .await
                    .with_context(|| format!("TLS with {}", self.host))?;
                roundtrip(hyper_util::rt::TokioIo::new(stream), req).await?
            }
            None => roundtrip(hyper_util::rt::TokioIo::new(tcp), req).await?,
        };
        let (parts, body) = resp.into_parts();
        let body = http_body_util::Limited::new(body, max)
            .collect()
            .await
            .map_err(|e| anyhow!("{method} {path}: reading the response: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Resp {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// The registry's error, as `helm` prints it: code and message of the spec's body.
    fn fail(&self, what: &str, r: &Resp) -> anyhow::Error {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let e = &v["errors"][0];
        match (e["code"].as_str(), e["message"].as_str()) {
            (Some(c), Some(m)) => anyhow!("{what}: {} {c}: {m}", r.status),
            _ if r.status == 401 => anyhow!(
                "{what}: 401 unauthorized (pass the server's token: --kubeconfig or --password)"
            ),
            _ => anyhow!("{what}: HTTP {}", r.status),
        }
    }

    async fn push_blob(&self, repo: &str, data: &[u8]) -> anyhow::Result<()> {
        let d = Digest::sha256_of(data);
        let head = self
            .send("HEAD", &format!("/v2/{repo}/blobs/{d}"), &[], vec![], 0)
            .await?;
        if head.status == 200 {
            return Ok(());
        }
        let what = format!("{}: pushing blob {d}", self.host);
        let start = self
            .send(
                "POST",
                &format!("/v2/{repo}/blobs/uploads/"),
                &[],
                vec![],
                1 << 20,
            )
            .await?;
        if start.status != 202 {
            return Err(self.fail(&what, &start));
        }
        let loc = start
            .header("Location")
            .ok_or_else(|| anyhow!("{what}: no Location in the registry's answer"))?;
        // Location may be absolute: keep the path and query
        let loc = match loc.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
            None => loc.to_string(),
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put = self
            .send(
                "PUT",
                &format!("{loc}{sep}digest={d}"),
                &[("Content-Type", "application/octet-stream")],
                data.to_vec(),
                1 << 20,
            )
            .await?;
        if put.status != 201 {
            return Err(self.fail(&what, &put));
        }
        Ok(())
    }

    async fn put_manifest(&self, repo: &str, tag: &str, m: &[u8]) -> anyhow::Result<String> {
        let r = self
            .send(
                "PUT",
                &format!("/v2/{repo}/manifests/{tag}"),
                &[("Content-Type", sluice_registry::manifest::OCI_MANIFEST)],
                m.to_vec(),
                1 << 20,
            )
            .await?;
        if r.status != 201 {
            return Err(self.fail(&format!("{}: pushing {repo}:{tag}", self.host), &r));
        }
        Ok(r.header("Docker-Content-Digest")
            .map(String::from)
            .unwrap_or_else(|| Digest::sha256_of(m).to_string()))
    }

    async fn get_manifest(&self, repo: &str, tag: &str) -> anyhow::Result<(String, Vec<u8>)> {
        let r = self
            .send(
                "GET",
                &format!("/v2/{repo}/manifests/{tag}"),
                &[("Accept", sluice_registry::manifest::OCI_MANIFEST)],
                vec![],
                sluice_registry::manifest::MAX_MANIFEST_BYTES,
            )
            .await?;
        if r.status != 200 {
            return Err(self.fail(&format!("{}/{repo}:{tag}", self.host), &r));
        }
        let actual = Digest::sha256_of(&r.body).to_string();
        if let Some(d) = r.header("Docker-Content-Digest")
            && d != actual
        {
            bail!(
                "{}/{repo}:{tag}: the manifest's digest is {actual}, the registry said {d}",
                self.host
            );
        }
        Ok((actual, r.body))
    }

    async fn get_blob(&self, repo: &str, d: &Digest) -> anyhow::Result<Vec<u8>> {
        let r = self
            .send(
                "GET",
                &format!("/v2/{repo}/blobs/{d}"),
                &[],
                vec![],
                oci::MAX_CHART_BYTES,
            )
            .await?;
        if r.status != 200 {
            return Err(self.fail(&format!("{}/{repo}@{d}", self.host), &r));
        }
        let got = Digest::sha256_of(&r.body);
        if &got != d {
            bail!("{}/{repo}@{d}: the content's digest is {got}", self.host);
        }
        Ok(r.body)
    }

    /// The repository's tags.
    async fn tags(&self, repo: &str) -> anyhow::Result<Vec<String>> {
        let r = self
            .send(
                "GET",
                &format!("/v2/{repo}/tags/list"),
                &[],
                vec![],
                4 << 20,
            )
            .await?;
        if r.status != 200 {
            return Err(self.fail(&format!("{}/{repo}", self.host), &r));
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        Ok(v["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(String::from))
            .collect())
    }

    /// The highest version among the repository's tags (Helm pulls the latest semver).
    async fn highest_tag(&self, repo: &str) -> anyhow::Result<String> {
        let tags = self.tags(repo).await?;
        let key = |t: &str| -> Option<Vec<u64>> {
            let core = t.split(['-', '_']).next()?.trim_start_matches('v');
            core.split('.').map(|p| p.parse().ok()).collect()
        };
        tags.iter()
            .filter_map(|t| key(t).map(|k| (k, t.clone())))
            .max()
            .map(|(_, t)| t)
            .ok_or_else(|| anyhow!("{}/{repo}: no version tags (pass --version)", self.host))
    }
}

async fn roundtrip<S>(
    io: hyper_util::rt::TokioIo<S>,
    req: hyper::Request<http_body_util::Full<hyper::body::Bytes>>,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let method = req.method().clone();
    let uri = req.uri().clone();
    send.send_request(req)
        .await
        .with_context(|| format!("{method} {uri}"))
}
