//! `sluice serve`: the CI server. The embedded API server (as `sluice apiserver`: SQLite
//! store, token, TLS, kubeconfig, Kyverno admission and reports) and, in the same process,
//! the PipelineRun and TaskRun controllers of `sluice_kube` over an in-process client; or,
//! with `--no-apiserver --kubeconfig FILE`, only the controllers against any Kubernetes API.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::exit;

/// Run the CI server: the Kubernetes API of `sluice apiserver` plus controllers that run
/// PipelineRuns and TaskRuns on this host (steps as host processes, as `sluice run`).
///
/// `kubectl apply` a PipelineRun and it runs: TaskRuns are created for its tasks, each with
/// a Pod `<taskrun>-pod` whose containers are the steps (`kubectl logs <pod> -c step-x`),
/// status as Tekton writes it, Events at start and end. Step logs are kept under
/// DATA/logs (at most 10 MiB per step). See docs/serve.md.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (HTTPS with a self-signed certificate the kubeconfig trusts;
    /// port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: String,
    /// Directory of the store, token, kubeconfig, run sandboxes (runs/), step logs (logs/)
    /// and persistent claims (claims/).
    #[arg(long, default_value = ".sluice")]
    pub data: PathBuf,
    /// Run steps under bubblewrap at Tekton's container paths.
    #[arg(long)]
    pub isolate: bool,
    /// How many TaskRuns execute at once, server-wide; the others wait (reason Pending).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_parallel_tasks: u32,
    /// Run only the controllers, against the API of this kubeconfig (its current context).
    #[arg(long, value_name = "FILE", requires = "no_apiserver")]
    pub kubeconfig: Option<PathBuf>,
    /// Do not start the embedded API server (needs --kubeconfig).
    #[arg(long, requires = "kubeconfig")]
    pub no_apiserver: bool,
    /// Serve plain HTTP instead of HTTPS (kubectl then sends no token).
    #[arg(long)]
    pub plain_http: bool,
    /// Turn the simulated node off (Deployments and their Pods get no status; TaskRun
    /// Pods are unaffected: the controllers set their status).
    #[arg(long)]
    pub no_simulated_node: bool,
    /// Seconds a simulated Pod stays Pending before it is Running and Ready.
    #[arg(long, default_value_t = 1)]
    pub pod_ready_after: u64,
    /// Keep the last N finished PipelineRuns per Pipeline and namespace; older ones are
    /// deleted (with their TaskRuns) when a run finishes and at start, as
    /// `tkn pipelinerun delete --keep N` does by hand. Unset: keep all.
    #[arg(long, value_name = "N")]
    pub keep_runs: Option<usize>,
    /// Serve /metrics without the bearer token (Prometheus scrapes it with no credentials).
    /// By default /metrics needs the token, as kube-apiserver's does.
    #[arg(long)]
    pub metrics_public: bool,
    /// Also serve EventListeners (`/listeners/<namespace>/<name>`) over plain HTTP on this
    /// address, as upstream's per-listener Service (they are always served, without the
    /// token, on --listen). Under --no-apiserver this is the only port: it also serves
    /// Argo CD's push webhook at /api/webhook.
    #[arg(long, value_name = "ADDR")]
    pub listeners_listen: Option<String>,
    /// Largest EventListener delivery body in bytes (larger: 413).
    #[arg(long, default_value_t = sluice_kube::triggers::DEFAULT_MAX_BODY as u64)]
    pub listener_max_body: u64,
    /// Seconds an EventListener delivery may take (longer: 503).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub listener_timeout: u64,
    #[command(flatten)]
    pub registry: crate::registry::RegistryArgs,
    #[command(flatten)]
    pub auth: crate::admin::AuthFlags,
    #[command(flatten)]
    pub atrest: crate::atrest::AtRestFlags,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    if args.isolate && !sluice_exec::bwrap_available() {
        bail!(
            "--isolate needs bubblewrap (`bwrap`), which is not installed or cannot create namespaces here (Debian: apt-get install bubblewrap)"
        );
    }
    let rt = crate::apiserver::runtime(4)?;
    crate::apiserver::allocator_upkeep();
    // absolute: steps run in their sandboxes and see result paths under the data dir
    let data = std::path::absolute(&args.data)
        .with_context(|| format!("{}: cannot resolve the data directory", args.data.display()))?;
    let mut opts = sluice_kube::Options::new(&data);
    opts.isolate = args.isolate;
    opts.max_parallel_tasks = args.max_parallel_tasks as usize;
    opts.keep_runs = args.keep_runs;
    let metrics = opts.metrics.clone();
    let sink_opts = sluice_kube::triggers::SinkOptions {
        max_body: usize::try_from(args.listener_max_body).unwrap_or(usize::MAX),
        timeout: std::time::Duration::from_secs(args.listener_timeout),
    };
    rt.block_on(async {
        let plain_listeners = match &args.listeners_listen {
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("listening on {a} (--listeners-listen)"))?,
            ),
            None => None,
        };
        let plain_url = match &plain_listeners {
            Some(l) => Some(format!("http://{}", l.local_addr()?)),
            None => None,
        };
        if args.no_apiserver {
            let Some(kc) = &args.kubeconfig else {
                bail!("--no-apiserver needs --kubeconfig FILE");
            };
            let client = sluice_kube::client_from_kubeconfig(kc).await?;
            let mut opts = opts;
            let repos = crate::applications::repositories(&data)?;
            if let Some(l) = plain_listeners {
                opts.listeners_url = plain_url.clone();
                let sink = std::sync::Arc::new(sluice_kube::triggers::Sink::new(
                    client.clone(),
                    sink_opts,
                ));
                let hook = std::sync::Arc::new(crate::listeners::SinkHook { sink });
                // the only HTTP port of ours here: the listeners, and Argo CD's push
                // webhook beside them
                let app = crate::applications::webhook_router(
                    client.clone(),
                    &crate::applications::options(&repos),
                )
                .merge(sluice_apiserver::listeners::router(hook, "http"));
                tokio::spawn(sluice_apiserver::listeners::serve_plain_router(l, app));
                let u = plain_url.as_deref().unwrap_or("");
                println!("  EventListeners: {u}/listeners/<namespace>/<name>");
                println!("  Argo CD push webhook: {u}/api/webhook");
            }
            println!(
                "sluice serve: controllers running against the API of {}",
                kc.display()
            );
            println!("  data: {}", args.data.display());
            // Argo CD Applications (repositories: crate::applications, Git under DATA/repos)
            let mut app_opts = crate::applications::options(&repos);
            crate::applications::with_helm_repos(&mut app_opts, &data, &client);
            crate::applications::with_git_credentials(
                &repos,
                &client,
                &app_opts.controller_namespace,
            );
            tokio::spawn(sluice_kube::application::run_supervised(
                client.clone(),
                app_opts,
            ));
            tokio::spawn(sluice_kube::application::appset::run_supervised(
                client.clone(),
                crate::applications::appset_options(&repos),
            ));
            tokio::spawn(sluice_kube::notifications::run_supervised(
                client.clone(),
                "argocd".into(),
            ));
            sluice_kube::run(client, opts).await?;
            return Ok(exit::OK);
        }
        let flags = crate::apiserver::EmbeddedFlags {
            listen: &args.listen,
            data: &args.data,
            plain_http: args.plain_http,
            no_simulated_node: args.no_simulated_node,
            pod_ready_after: args.pod_ready_after,
            auth: &args.auth,
            atrest: &args.atrest,
        };
        let e = crate::apiserver::start(&flags, |server| {
            // `kubectl logs <taskrun pod> -c step-x [-f]` reads the controllers' step logs
            server.add_log_hook(std::sync::Arc::new(StepLogHook {
                data: args.data.clone(),
            }));
            // Prometheus: the controllers' counters, Tekton's names, process metrics
            server.set_metrics(
                std::sync::Arc::new(Metrics(metrics.clone())),
                args.metrics_public,
            );
        })
        .await?;
        // the controllers, supervised, each over an in-process client (no TCP, no token)
        // acting as its own ServiceAccount, authorized by RBAC with the ClusterRole
        // `sluice:controller:NAME` the server bootstraps (docs/security.md)
        let as_controller = |name: &str| {
            sluice_kube::in_process_client(
                e.server
                    .router_as(sluice_auth::bootstrap::controller_user(name)),
                "default",
            )
        };
        let client = as_controller("pipelines");
        let gitops = as_controller("gitops");
        // EventListeners: on this port without the token, and on --listeners-listen
        let sink = std::sync::Arc::new(sluice_kube::triggers::Sink::new(
            as_controller("triggers"),
            sink_opts,
        ));
        sink.counters.report_to(metrics.clone());
        let hook = std::sync::Arc::new(crate::listeners::SinkHook { sink });
        e.server.set_listener_hook(hook.clone());
        let mut opts = opts;
        opts.listeners_url = Some(plain_url.clone().unwrap_or_else(|| e.url.clone()));
        if let Some(l) = plain_listeners {
            tokio::spawn(sluice_apiserver::listeners::serve_plain(l, hook));
        }
        // Argo CD Applications (repositories: crate::applications, Git under DATA/repos),
        // and the push webhook at /api/webhook
        let repos = crate::applications::repositories(&data)?;
        let mut app_opts = crate::applications::options(&repos);
        crate::applications::with_helm_repos(&mut app_opts, &data, &gitops);
        crate::applications::with_git_credentials(&repos, &gitops, &app_opts.controller_namespace);
        app_opts.metrics = Some(metrics.clone());
        e.server
            .mount(
                "/api/webhook",
                crate::applications::webhook_router(gitops.clone(), &app_opts),
            )
            .context("mounting /api/webhook")?;
        tokio::spawn(sluice_kube::application::run_supervised(
            gitops.clone(),
            app_opts,
        ));
        tokio::spawn(sluice_kube::application::appset::run_supervised(
            gitops,
            crate::applications::appset_options(&repos),
        ));
        // Argo CD notifications for Applications and PipelineRuns
        tokio::spawn(sluice_kube::notifications::run_supervised(
            as_controller("notifications"),
            "argocd".into(),
        ));
        tokio::spawn(sluice_kube::run_supervised_as(
            client,
            as_controller("rollouts"),
            opts,
        ));
        println!("sluice serve listening on {}", e.url);
        println!("  kubeconfig: {}", e.kubeconfig.display());
        println!(
            "  use it:     kubectl --kubeconfig {} get pipelineruns,taskruns",
            e.kubeconfig.display()
        );
        println!(
            "  controllers: PipelineRun, TaskRun (local executor{}, at most {} TaskRuns at once)",
            if args.isolate { ", bubblewrap" } else { "" },
            args.max_parallel_tasks
        );
        println!(
            "  metrics:    {}/metrics ({})",
            e.url,
            if args.metrics_public {
                "no token needed"
            } else {
                "bearer token of DATA/token"
            }
        );
        if let Some(n) = args.keep_runs {
            println!("  retention:  the last {n} finished PipelineRuns per Pipeline");
        }
        println!("  EventListeners: {}/listeners/<namespace>/<name>", e.url);
        if let Some(u) = &plain_url {
            println!("                  {u}/listeners/<namespace>/<name> (plain HTTP)");
        }
        crate::registry::mount(&e.server, &args.registry, &data, &e.url)?;
        // the web UI: the page at `/`, its scripts and styles under `/ui/`
        for prefix in ["/", "/ui"] {
            e.server.mount(prefix, sluice_ui::router())?;
        }
        println!("  web UI:     {}/ (log in with the token)", e.url);
        e.serve().await?;
        Ok(exit::OK)
    })
}

/// `/metrics`: the controllers' registry in OpenMetrics text.
struct Metrics(std::sync::Arc<sluice_kube::metrics::Metrics>);

impl sluice_apiserver::MetricsSource for Metrics {
    fn encode(&self) -> String {
        self.0.encode()
    }
    fn content_type(&self) -> &'static str {
        sluice_kube::metrics::CONTENT_TYPE
    }
}

/// The Pod `log` subresource for TaskRun Pods: the step log files of DATA/logs, followed
/// (`-f`) until the step's TaskRun attempt ends.
struct StepLogHook {
    data: PathBuf,
}

impl sluice_apiserver::PodLogHook for StepLogHook {
    fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        follow: bool,
        tail_lines: Option<u64>,
    ) -> Option<tokio::sync::mpsc::Receiver<Vec<u8>>> {
        let path = sluice_kube::logs::log_path(&self.data, namespace, pod, container);
        if !path.is_file() {
            return None;
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        std::thread::Builder::new()
            .name("pod-log".into())
            .spawn(move || {
                // the last lines of what is written now (a step's log is at most
                // --max-log-bytes), then, following, what comes
                let from = tail_lines.map_or(0, |n| {
                    let now = std::fs::read(&path).unwrap_or_default();
                    sluice_apiserver::tail_start(&now, n) as u64
                });
                sluice_kube::logs::stream(&path, follow, from, |chunk| {
                    tx.blocking_send(chunk).is_ok()
                })
            })
            .ok()?;
        Some(rx)
    }
}
