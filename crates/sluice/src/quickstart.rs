//! `sluice quickstart`: the seed's whole loop on this machine, narrated. It starts `sluice
//! serve` (API server, CI controllers, EventListeners, Argo CD controllers, OCI registry)
//! and a second `sluice apiserver` for the production cluster, creates an application and a
//! GitOps repository with push hooks, applies the CI, policies and ApplicationSet of
//! examples/quickstart, pushes a commit, and follows it from the API: event, PipelineRun,
//! each task, chart and image in the registry, GitOps commit, Applications OutOfSync,
//! Synced and Healthy. The servers are child processes of this one (this binary), their
//! output in DIR/*.log; they stop with it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use clap::Args;
use serde_json::{Value, json};
use sluice_cli::client::Conn;

use crate::exit;

/// Run the seed's GitOps loop on this machine: push -> CI -> registry -> GitOps -> CD.
///
/// Starts `sluice serve` and a second API server (the production cluster), creates a local
/// application repository and GitOps repository whose git hooks post GitLab push events,
/// applies a pipeline, trigger, Kyverno policies and an ApplicationSet shaped like the
/// seed's (examples/quickstart), pushes a commit and narrates each step with its elapsed
/// time. Then it stays up (Ctrl-C stops it) so that kubectl, `sluice` and the web UI can
/// look around. The data directory is recreated on each run.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Directory of the servers' data, the repositories and the logs. Recreated on each run
    /// (only if it is a quickstart directory or empty).
    #[arg(long, default_value = ".sluice-quickstart")]
    pub dir: PathBuf,
    /// Exit when the loop is done (0 if every step succeeded, 1 otherwise) instead of
    /// serving until Ctrl-C.
    #[arg(long)]
    pub exit_when_done: bool,
    /// Seconds the loop may take before the quickstart gives up.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
}

const MARKER: &str = ".sluice-quickstart";
const NS_CI: &str = "tekton-pipelines";
const NS_ARGO: &str = "argocd";
const LISTENER: &str = "gitlab-listener";
const APP_REPO: &str = "order-service";
const GITOPS_REPO: &str = "gitops-manifests";
const GITLAB_TOKEN: &str = "quickstart-gitlab-token";

/// examples/quickstart and the sample application of examples/app_deploy, built in.
const CI_YAML: &str = include_str!("../../../examples/quickstart/ci.yaml");
const POLICIES_YAML: &str = include_str!("../../../examples/quickstart/policies.yaml");
const ARGOCD_YAML: &str = include_str!("../../../examples/quickstart/argocd.yaml");
const HOOK: &str = include_str!("../../../examples/quickstart/post-receive");
const APP_FILES: &[(&str, &str)] = &[
    (
        "Dockerfile",
        include_str!("../../../examples/app_deploy/sample-app/Dockerfile"),
    ),
    (
        "app/__init__.py",
        include_str!("../../../examples/app_deploy/sample-app/app/__init__.py"),
    ),
    (
        "app/greeting.py",
        include_str!("../../../examples/app_deploy/sample-app/app/greeting.py"),
    ),
    (
        "tests/__init__.py",
        include_str!("../../../examples/app_deploy/sample-app/tests/__init__.py"),
    ),
    (
        "tests/test_greeting.py",
        include_str!("../../../examples/app_deploy/sample-app/tests/test_greeting.py"),
    ),
    (
        "deploy/helm/Chart.yaml",
        include_str!("../../../examples/app_deploy/sample-app/deploy/helm/Chart.yaml"),
    ),
    (
        "deploy/helm/values.yaml",
        include_str!("../../../examples/app_deploy/sample-app/deploy/helm/values.yaml"),
    ),
    (
        "deploy/helm/templates/deployment.yaml",
        include_str!(
            "../../../examples/app_deploy/sample-app/deploy/helm/templates/deployment.yaml"
        ),
    ),
];
const GITOPS_FILES: &[(&str, &str)] = &[
    (
        "apps/order-service/base/kustomization.yaml",
        include_str!(
            "../../../examples/quickstart/gitops/apps/order-service/base/kustomization.yaml"
        ),
    ),
    (
        "apps/order-service/base/deployment.yaml",
        include_str!("../../../examples/quickstart/gitops/apps/order-service/base/deployment.yaml"),
    ),
    (
        "apps/order-service/base/service.yaml",
        include_str!("../../../examples/quickstart/gitops/apps/order-service/base/service.yaml"),
    ),
    (
        "apps/order-service/base/serviceaccount.yaml",
        include_str!(
            "../../../examples/quickstart/gitops/apps/order-service/base/serviceaccount.yaml"
        ),
    ),
    (
        "apps/order-service/base/config.yaml",
        include_str!("../../../examples/quickstart/gitops/apps/order-service/base/config.yaml"),
    ),
    (
        "apps/order-service/overlays/dev/kustomization.yaml",
        include_str!(
            "../../../examples/quickstart/gitops/apps/order-service/overlays/dev/kustomization.yaml"
        ),
    ),
    (
        "apps/order-service/overlays/staging/kustomization.yaml",
        include_str!(
            "../../../examples/quickstart/gitops/apps/order-service/overlays/staging/kustomization.yaml"
        ),
    ),
    (
        "apps/order-service/overlays/production/kustomization.yaml",
        include_str!(
            "../../../examples/quickstart/gitops/apps/order-service/overlays/production/kustomization.yaml"
        ),
    ),
    (
        "apps/order-service/overlays/production/patches/resources.yaml",
        include_str!(
            "../../../examples/quickstart/gitops/apps/order-service/overlays/production/patches/resources.yaml"
        ),
    ),
];

/// A child server, killed when dropped.
struct Server {
    child: Child,
    url: String,
    /// `--listeners-listen`'s plain-HTTP base URL (`sluice serve` only).
    listeners_url: Option<String>,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first (the servers stop cleanly), then kill
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sluice <args>` with its output in `log`; returns once it printed its address
/// (the line starting with `ready`), with every line up to `last` read.
fn start_server(
    args: &[&str],
    data: &Path,
    log: &Path,
    ready: &str,
    last: &str,
) -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("locating the sluice binary")?;
    let logf = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let mut child = Command::new(&exe)
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(logf.try_clone()?))
        .spawn()
        .with_context(|| format!("starting {} {}", exe.display(), args.join(" ")))?;
    let Some(out) = child.stdout.take() else {
        bail!("no stdout of the child server");
    };
    let mut server = Server {
        child,
        url: String::new(),
        listeners_url: None,
        data: data.to_path_buf(),
    };
    let mut lines = BufReader::new(out).lines();
    let mut logw = logf;
    loop {
        let Some(line) = lines.next() else {
            bail!(
                "`sluice {}` stopped before it was ready; see {}",
                args.join(" "),
                log.display()
            );
        };
        let line = line?;
        writeln!(logw, "{line}")?;
        if let Some(u) = line.strip_prefix(ready) {
            server.url = u.trim().to_string();
        }
        if line.trim_end().ends_with("(plain HTTP)")
            && let Some(u) = line.split_whitespace().next()
        {
            server.listeners_url = u.split("/listeners/").next().map(str::to_owned);
        }
        if line.trim_start().starts_with(last) {
            break;
        }
    }
    // the rest of its output goes to the log
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(logw, "{line}");
        }
    });
    if server.url.is_empty() {
        bail!(
            "`sluice {}` printed no address; see {}",
            args.join(" "),
            log.display()
        );
    }
    Ok(server)
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Quickstart Dev",
            "-c",
            "user.email=dev@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates `bare` from `files` (with `vars` replaced) and installs the push hook.
fn create_repo(
    dir: &Path,
    name: &str,
    files: &[(&str, &str)],
    vars: &[(&str, &str)],
    hook: &[(&str, &str)],
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let work = dir.join("work").join(name);
    let bare = dir.join("git").join(format!("{name}.git"));
    for (path, text) in files {
        let p = work.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, subst(text, vars)).with_context(|| format!("{}", p.display()))?;
    }
    std::fs::create_dir_all(dir.join("git"))?;
    git(&work, &["init", "-q"])?;
    git(&work, &["add", "-A"])?;
    git(
        &work,
        &["commit", "-q", "-m", &format!("{name}: initial commit")],
    )?;
    let bare_s = bare.to_string_lossy().to_string();
    git(
        dir,
        &["clone", "-q", "--bare", &work.to_string_lossy(), &bare_s],
    )?;
    git(&work, &["remote", "set-url", "origin", &bare_s])
        .or_else(|_| git(&work, &["remote", "add", "origin", &bare_s]))?;
    git(&work, &["fetch", "-q", "origin"])?;
    git(
        &work,
        &["branch", "-q", "--set-upstream-to=origin/main", "main"],
    )?;
    let hook_path = bare.join("hooks").join("post-receive");
    std::fs::write(&hook_path, HOOK)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&hook_path, std::fs::Permissions::from_mode(0o755))?;
    for (k, v) in hook {
        git(&bare, &["config", k, v])?;
    }
    Ok((work, bare))
}

fn subst(text: &str, vars: &[(&str, &str)]) -> String {
    let mut s = text.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("${{{k}}}"), v);
    }
    s
}

/// The bearer token and the CA certificate (PEM) of a kubeconfig `sluice` wrote.
fn kubeconfig_creds(kubeconfig: &Path) -> anyhow::Result<(String, String)> {
    let (token, ca) = crate::helm_oci::kubeconfig_creds(kubeconfig)?;
    match (token, ca) {
        (Some(t), Some(ca)) => Ok((t, String::from_utf8_lossy(&ca).into_owned())),
        _ => bail!(
            "{}: no token or no certificate-authority-data",
            kubeconfig.display()
        ),
    }
}

/// Applies every object of `yaml` (server-side apply), in order.
async fn apply_yaml(c: &Conn, name: &str, yaml: &str) -> anyhow::Result<()> {
    apply_all(c, name, &crate::cli::objects_of(name, yaml)?).await
}

async fn apply_all(c: &Conn, name: &str, objs: &[Value]) -> anyhow::Result<()> {
    let all = c.discover().await?;
    for obj in objs {
        let (av, kind) = (
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        );
        let Some(r) = Conn::resource_for(&all, av, kind) else {
            bail!("{name}: the server does not serve {kind} ({av})");
        };
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
        c.apply(r, ns, obj).await.with_context(|| {
            format!(
                "{name}: applying {kind}/{}",
                obj["metadata"]["name"].as_str().unwrap_or("")
            )
        })?;
    }
    Ok(())
}

/// Elapsed seconds since `t0`, as printed.
fn secs(t0: Instant) -> String {
    format!("{:>5.1}s", t0.elapsed().as_secs_f64())
}

fn say(t0: Instant, what: &str) {
    println!("  {}  {what}", secs(t0));
}

fn cond(obj: &Value) -> (&str, &str) {
    let c = obj["status"]["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "Succeeded"));
    match c {
        Some(c) => (
            c["status"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or(""),
        ),
        None => ("", ""),
    }
}

pub fn run(args: &QuickstartArgs) -> anyhow::Result<u8> {
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("{}: cannot resolve the directory", args.dir.display()))?;
    // the steps and the push hooks run git and python3 on this host
    for tool in ["git", "python3"] {
        let ok = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "`{tool}` is not installed: the quickstart's repositories, hooks and pipeline steps need git and python3 (Debian: apt-get install git python3; ./scripts/quickstart installs them)"
            );
        }
    }
    prepare_dir(&dir)?;
    let rt = crate::apiserver::runtime(2)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    rt.block_on(quickstart(&dir, args, stop))
}

/// Empties `dir` when it is a previous quickstart's (or creates it); refuses any other
/// non-empty directory.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.join(MARKER).is_file() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("{}: removing the previous quickstart", dir.display()))?;
        println!(
            "==> {}: recreated (the previous quickstart's data was removed)",
            dir.display()
        );
    } else if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("{}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{}: exists, is not empty and is not a quickstart directory; choose another --dir",
            dir.display()
        );
    } else {
        println!("==> {}: created", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "This directory belongs to `sluice quickstart`; it removes it on its next run.\n",
    )?;
    Ok(())
}

/// What the loop observed, for the summary and the exit code.
#[derive(Default)]
struct Outcome {
    ok: bool,
    /// The PipelineRun of the push.
    pipelinerun: String,
    push_to_healthy: Option<Duration>,
}

async fn quickstart(
    dir: &Path,
    args: &QuickstartArgs,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<u8> {
    let t_start = Instant::now();
    println!("==> starting the servers (logs in {})", dir.display());
    let prod = start_server(
        &[
            "apiserver",
            "--listen",
            "127.0.0.1:0",
            "--pod-ready-after",
            "0",
        ],
        &dir.join("prod-cluster"),
        &dir.join("prod-cluster.log"),
        "sluice apiserver listening on ",
        "simulated node:",
    )?;
    println!("    production cluster (sluice apiserver): {}", prod.url);
    let server = start_server(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--listeners-listen",
            "127.0.0.1:0",
            "--pod-ready-after",
            "0",
        ],
        &dir.join("server"),
        &dir.join("server.log"),
        "sluice serve listening on ",
        "web UI:",
    )?;
    println!(
        "    sluice serve (API, CI, Argo CD, registry, UI): {}",
        server.url
    );
    let registry = server
        .url
        .strip_prefix("https://")
        .unwrap_or(&server.url)
        .to_string();
    let listeners = server
        .listeners_url
        .clone()
        .context("sluice serve printed no plain-HTTP EventListener address")?;
    let kc = server.data.join("kubeconfig");
    let prod_kc = prod.data.join("kubeconfig");
    let c = connect(&kc).await?;
    let pc = connect(&prod_kc).await?;
    // the kubeconfigs carry each server's token and CA (as `sluice helm push` reads them)
    let (token, ca) = kubeconfig_creds(&kc)?;
    let (prod_token, prod_ca) = kubeconfig_creds(&prod_kc)?;
    let ca_file = dir.join("server-ca.pem");
    std::fs::write(&ca_file, &ca)?;

    // the notification receiver (stands in for Slack)
    let notes: Arc<Mutex<Vec<Value>>> = Arc::default();
    let notify_url = start_receiver(notes.clone()).await?;

    println!("==> creating the repositories in {}/git", dir.display());
    let vars: Vec<(&str, &str)> = vec![("REGISTRY", &registry)];
    let (app_work, app_bare) = create_repo(
        dir,
        APP_REPO,
        APP_FILES,
        &[],
        &[
            (
                "sluice.webhook.url",
                &format!("{listeners}/listeners/{NS_CI}/{LISTENER}"),
            ),
            ("sluice.webhook.token", GITLAB_TOKEN),
        ],
    )?;
    let (_gitops_work, gitops_bare) = create_repo(
        dir,
        GITOPS_REPO,
        GITOPS_FILES,
        &vars,
        &[
            ("sluice.webhook.url", &format!("{}/api/webhook", server.url)),
            ("sluice.webhook.cafile", &ca_file.to_string_lossy()),
        ],
    )?;
    let gitops_url = format!("file://{}", gitops_bare.display());
    println!(
        "    {} (application; its post-receive hook posts GitLab push events to the EventListener)",
        app_bare.display()
    );
    println!(
        "    {} (GitOps; its hook posts to Argo CD's /api/webhook)",
        gitops_bare.display()
    );

    println!("==> applying the CI, the policies and the ApplicationSet (examples/quickstart)");
    let exe = std::env::current_exe()?;
    let all_vars: Vec<(&str, &str)> = vec![
        ("REGISTRY", &registry),
        ("GITOPS_URL", &gitops_url),
        ("PROD_SERVER", &prod.url),
    ];
    apply_yaml(
        &c,
        "examples/quickstart/ci.yaml",
        &subst(CI_YAML, &all_vars),
    )
    .await?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("robot-ci:{token}"));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let generated = vec![
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "gitlab-webhook-secret", "namespace": NS_CI},
            "stringData": {"token": GITLAB_TOKEN}}),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "git-credentials", "namespace": NS_CI},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "tekton-ci", "password": "quickstart-git-token"}}),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "slack-webhook", "namespace": NS_CI},
            "stringData": {"url": notify_url}}),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "helm-credentials", "namespace": NS_CI},
            "stringData": {"HELM_USERNAME": "robot-ci", "HELM_PASSWORD": token}}),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "docker-credentials", "namespace": NS_CI},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson":
                json!({"auths": {registry.clone(): {"auth": auth}}}).to_string()}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "quickstart-env", "namespace": NS_CI},
            "data": {"sluice": exe.to_string_lossy(), "registry": registry,
                     "registry-ca": ca, "gitops-url": gitops_url}}),
    ];
    apply_all(&c, "quickstart (generated Secrets)", &generated).await?;
    let policies = subst(POLICIES_YAML, &all_vars);
    apply_yaml(&c, "examples/quickstart/policies.yaml", &policies).await?;
    apply_yaml(&pc, "examples/quickstart/policies.yaml", &policies).await?;
    apply_yaml(
        &c,
        "examples/quickstart/argocd.yaml",
        &subst(ARGOCD_YAML, &all_vars),
    )
    .await?;
    let cluster = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "prod-cluster", "namespace": NS_ARGO,
                     "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": "prod-cluster", "server": prod.url,
            "config": json!({"bearerToken": prod_token,
                "tlsClientConfig": {"insecure": false, "caData": b64(&prod_ca)}}).to_string()}});
    apply_all(&c, "quickstart (cluster Secret)", &[cluster]).await?;
    println!(
        "    ready in {:.1}s: Pipeline build-and-deploy, EventListener {LISTENER}, 2 ClusterPolicies, ApplicationSet microservices",
        t_start.elapsed().as_secs_f64()
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    println!(
        "==> waiting for the initial deploy (dev and staging sync automatically, production is manual)"
    );
    let t0 = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let mut done = true;
        for env in ["dev", "staging"] {
            let app = get_app(&c, env).await;
            let (sync, health) = app_state(&app);
            if sync == "Synced" && health == "Healthy" {
                if seen.insert(env) {
                    say(t0, &format!("order-service-{env}: Synced, Healthy"));
                }
            } else {
                done = false;
            }
        }
        if done {
            break;
        }
        if Instant::now() > deadline || stop.load(std::sync::atomic::Ordering::SeqCst) {
            bail!(
                "the initial deploy did not finish in time; see `kubectl --kubeconfig {} get applications -n argocd`",
                kc.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // the push
    println!(
        "==> pushing a commit to the application repository (git push in {})",
        app_work.display()
    );
    let greeting = app_work.join("app/greeting.py");
    let text = std::fs::read_to_string(&greeting)?;
    std::fs::write(
        &greeting,
        text.replacen("VERSION = \"1.0.0\"", "VERSION = \"1.1.0\"", 1),
    )?;
    git(
        &app_work,
        &["commit", "-q", "-am", "feat: order-service 1.1.0"],
    )?;
    let sha = git(&app_work, &["rev-parse", "HEAD"])?;
    let gitops_before = git(&gitops_bare, &["rev-parse", "main"])?;
    let t0 = Instant::now();
    let push = Command::new("git")
        .arg("-C")
        .arg(&app_work)
        .args(["push", "-q", "origin", "main"])
        .output()
        .context("git push")?;
    for l in String::from_utf8_lossy(&push.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&push.stdout).lines())
    {
        say(t0, &format!("git push: {}", l.trim()));
    }
    if !push.status.success() {
        bail!("git push failed");
    }
    let outcome = follow(
        &c,
        &pc,
        t0,
        deadline,
        &sha,
        &gitops_bare,
        &gitops_before,
        &notes,
        &stop,
    )
    .await?;

    summary(&server, &prod, dir, &outcome, &app_work);
    if args.exit_when_done {
        return Ok(if outcome.ok { exit::OK } else { exit::FINDINGS });
    }
    println!("Serving until Ctrl-C.");
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("\nstopping the servers");
    Ok(if outcome.ok { exit::OK } else { exit::FINDINGS })
}

async fn connect(kc: &Path) -> anyhow::Result<Conn> {
    let mut last = None;
    for _ in 0..50 {
        match Conn::connect(kc, None).await {
            Ok(c) => match c.get_json("/version").await {
                Ok(_) => return Ok(c),
                Err(e) => last = Some(e.to_string()),
            },
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "{}: the server does not answer: {}",
        kc.display(),
        last.unwrap_or_default()
    )
}

async fn start_receiver(notes: Arc<Mutex<Vec<Value>>>) -> anyhow::Result<String> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", l.local_addr()?);
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let notes = notes.clone();
            async move {
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if let Ok(mut n) = notes.lock() {
                    n.push(v);
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    Ok(url)
}

async fn get_app(c: &Conn, env: &str) -> Value {
    c.get_json(&format!(
        "/apis/argoproj.io/v1alpha1/namespaces/{NS_ARGO}/applications/order-service-{env}"
    ))
    .await
    .unwrap_or(Value::Null)
}

fn app_state(app: &Value) -> (&str, &str) {
    (
        app["status"]["sync"]["status"].as_str().unwrap_or(""),
        app["status"]["health"]["status"].as_str().unwrap_or(""),
    )
}

/// Follows the push through CI and CD, narrating each step once.
#[allow(clippy::too_many_arguments)]
async fn follow(
    c: &Conn,
    pc: &Conn,
    t0: Instant,
    deadline: Instant,
    sha: &str,
    gitops_bare: &Path,
    gitops_before: &str,
    notes: &Arc<Mutex<Vec<Value>>>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<Outcome> {
    let mut said = std::collections::BTreeSet::<String>::new();
    let mut say_once = |key: String, what: String| {
        if said.insert(key) {
            say(t0, &what);
        }
    };
    let mut event_seen = false;
    let mut pr_name = String::new();
    let mut pr_ok = None;
    let mut gitops_after = String::new();
    let mut out = Outcome::default();
    loop {
        if Instant::now() > deadline {
            say(t0, "timed out");
            return Ok(out);
        }
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(out);
        }
        // the event record (asked for until it is there)
        if !event_seen
            && let Ok(l) = c
                .get_json(&format!(
                    "/api/v1/namespaces/{NS_CI}/configmaps?labelSelector=sluice.dev%2Fevent-record"
                ))
                .await
        {
            for r in l["items"].as_array().into_iter().flatten() {
                let name = r["metadata"]["name"].as_str().unwrap_or("");
                event_seen = true;
                say_once(
                    format!("event {name}"),
                    format!("event {name} accepted by EventListener {LISTENER}"),
                );
            }
        }
        // the PipelineRun of the pushed commit
        if pr_name.is_empty()
            && let Ok(l) = c
                .get_json(&format!(
                    "/apis/tekton.dev/v1/namespaces/{NS_CI}/pipelineruns"
                ))
                .await
        {
            for pr in l["items"].as_array().into_iter().flatten() {
                let rev = pr["spec"]["params"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == "git-revision")
                    .and_then(|p| p["value"].as_str());
                if rev == Some(sha) {
                    pr_name = pr["metadata"]["name"].as_str().unwrap_or("").to_string();
                    out.pipelinerun = pr_name.clone();
                    say_once(
                        "pr".into(),
                        format!("PipelineRun {pr_name} created for commit {}", &sha[..7]),
                    );
                }
            }
        }
        if !pr_name.is_empty() && pr_ok.is_none() {
            let pr = c
                .get_json(&format!(
                    "/apis/tekton.dev/v1/namespaces/{NS_CI}/pipelineruns/{pr_name}"
                ))
                .await
                .unwrap_or(Value::Null);
            if pr["status"]["startTime"].is_string() {
                say_once("pr-start".into(), format!("PipelineRun {pr_name} started"));
            }
            let trs = c
                .get_json(&format!(
                    "/apis/tekton.dev/v1/namespaces/{NS_CI}/taskruns?labelSelector=tekton.dev%2FpipelineRun%3D{pr_name}"
                ))
                .await
                .unwrap_or(Value::Null);
            let mut items: Vec<&Value> = trs["items"].as_array().into_iter().flatten().collect();
            items.sort_by_key(|t| {
                t["status"]["completionTime"]
                    .as_str()
                    .unwrap_or("~")
                    .to_string()
            });
            for tr in items {
                let task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
                    .as_str()
                    .unwrap_or("");
                let (st, reason) = cond(tr);
                if st == "True" || st == "False" {
                    let extra = task_detail(task, tr);
                    say_once(
                        format!("task {task}"),
                        format!("task {task}: {reason}{extra}"),
                    );
                    if task == "update-manifest" && st == "True" {
                        gitops_after = git(gitops_bare, &["rev-parse", "main"]).unwrap_or_default();
                        if !gitops_after.is_empty() && gitops_after != gitops_before {
                            let subject = git(gitops_bare, &["log", "-1", "--format=%s", "main"])
                                .unwrap_or_default();
                            say_once(
                                "gitops".into(),
                                format!("GitOps commit {}: {subject}", &gitops_after[..7]),
                            );
                        }
                    }
                }
            }
            let (st, reason) = cond(&pr);
            if st == "True" || st == "False" {
                say_once("pr-done".into(), format!("PipelineRun {pr_name}: {reason}"));
                pr_ok = Some(st == "True");
                if st == "False" {
                    let msg = pr["status"]["conditions"][0]["message"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    say(t0, &format!("  {msg}"));
                }
            }
        }
        if let Ok(n) = notes.lock()
            && let Some(last) = n.last()
        {
            say_once(
                "notified".into(),
                format!(
                    "notification received (stands in for Slack): {}",
                    last["text"].as_str().unwrap_or("")
                ),
            );
        }
        if pr_ok == Some(false) {
            return Ok(out);
        }
        // CD: the dev Application at the new GitOps commit
        if !gitops_after.is_empty() {
            let app = get_app(c, "dev").await;
            let (sync, health) = app_state(&app);
            let rev = app["status"]["sync"]["revision"].as_str().unwrap_or("");
            let op_rev = app["status"]["operationState"]["syncResult"]["revision"]
                .as_str()
                .unwrap_or("");
            let op_phase = app["status"]["operationState"]["phase"]
                .as_str()
                .unwrap_or("");
            if rev == gitops_after || op_rev == gitops_after {
                say_once(
                    "ood".into(),
                    format!(
                        "order-service-dev: OutOfSync (GitOps main moved to {}), auto-sync started",
                        &gitops_after[..7]
                    ),
                );
            }
            if op_rev == gitops_after && (op_phase == "Failed" || op_phase == "Error") {
                let msg = app["status"]["operationState"]["message"]
                    .as_str()
                    .unwrap_or("");
                say(t0, &format!("order-service-dev: sync {op_phase}: {msg}"));
                return Ok(out);
            }
            if rev == gitops_after && sync == "Synced" {
                say_once(
                    "synced".into(),
                    format!("order-service-dev: Synced to {}", &gitops_after[..7]),
                );
                if health == "Healthy" {
                    let dep = c
                        .get_json("/apis/apps/v1/namespaces/dev/deployments/order-service")
                        .await
                        .unwrap_or(Value::Null);
                    let image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
                        .as_str()
                        .unwrap_or("");
                    say_once(
                        "healthy".into(),
                        format!("order-service-dev: Healthy, running {image}"),
                    );
                    out.ok = pr_ok == Some(true) && image.ends_with(sha);
                    out.push_to_healthy = Some(t0.elapsed());
                    // the production app: manual sync, on the other cluster
                    let papp = get_app(c, "production").await;
                    let (ps, ph) = app_state(&papp);
                    let ns = pc
                        .get_json("/api/v1/namespaces/production")
                        .await
                        .map(|_| "exists")
                        .unwrap_or("not created yet");
                    say(
                        t0,
                        &format!(
                            "order-service-production (manual sync, production cluster): {ps}, {ph}; namespace production there: {ns}"
                        ),
                    );
                    if pr_ok.is_some() {
                        return Ok(out);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn task_detail(task: &str, tr: &Value) -> String {
    let result = |name: &str| {
        tr["status"]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["name"] == name)
            .and_then(|r| r["value"].as_str())
            .unwrap_or("")
            .to_string()
    };
    match task {
        "clone" => format!(
            ", commit {}",
            result("commit").chars().take(7).collect::<String>()
        ),
        "build" => format!(", image pushed: {}", result("IMAGE_URL")),
        "helm-package" => format!(", chart pushed: {}", result("chart-url")),
        _ => String::new(),
    }
}

fn summary(server: &Server, prod: &Server, dir: &Path, o: &Outcome, app_work: &Path) {
    println!();
    match o.push_to_healthy {
        Some(d) if o.ok => println!("Done: from git push to Healthy in {:.1}s.", d.as_secs_f64()),
        _ => println!(
            "The loop did not complete; the servers' logs are in {}.",
            dir.display()
        ),
    }
    let kc = server.data.join("kubeconfig");
    println!();
    println!("sluice serve:        {}", server.url);
    println!("  kubeconfig:        export KUBECONFIG={}", kc.display());
    println!(
        "  web UI:            {}/  (token: {})",
        server.url,
        server.data.join("token").display()
    );
    println!(
        "  OCI registry:      {}/v2/  (charts/order-service, apps/order-service)",
        server.url
    );
    println!(
        "production cluster:  {}  (kubeconfig {})",
        prod.url,
        prod.data.join("kubeconfig").display()
    );
    println!();
    println!("Try next (after the export above):");
    println!("  kubectl get pipelineruns,taskruns -n {NS_CI}");
    println!(
        "  sluice pipelinerun logs -n {NS_CI} --kubeconfig \"$KUBECONFIG\" {}",
        if o.pipelinerun.is_empty() {
            "NAME"
        } else {
            &o.pipelinerun
        }
    );
    println!("  sluice app list -n {NS_ARGO} --kubeconfig \"$KUBECONFIG\"");
    println!(
        "  push another commit:  cd {} && echo >> README && git add -A && git commit -m more && git push",
        app_work.display()
    );
    println!(
        "  break a policy:       kubectl run bad -n dev --image docker.io/library/nginx   (restrict-image-registries denies it)"
    );
    println!(
        "  sync production:      sluice app sync order-service-production -n {NS_ARGO} --kubeconfig \"$KUBECONFIG\""
    );
    println!(
        "  roll back dev:        cd {} && git pull -q && git revert --no-edit HEAD && git push",
        dir.join("work").join(GITOPS_REPO).display()
    );
}
