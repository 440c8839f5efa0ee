//! `sluice apiserver`: the embedded Kubernetes-compatible API server on its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sluice_apiserver::{ApiServer, Options, simnode::SimOptions};

use crate::exit;

/// Serve the Kubernetes API from a SQLite store, with a simulated node (no container runs).
#[derive(Debug, Args)]
pub struct ApiserverArgs {
    /// Address to listen on (HTTPS with a self-signed certificate the kubeconfig trusts;
    /// port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: String,
    /// Directory of the store (db.sqlite), the admin token and the kubeconfig.
    #[arg(long, default_value = ".sluice")]
    pub data: PathBuf,
    /// Serve plain HTTP instead of HTTPS. kubectl then sends no token (client-go sends
    /// credentials only over TLS), so only token-carrying clients such as kube-rs get in.
    #[arg(long)]
    pub plain_http: bool,
    /// Turn the simulated node off: Pods stay Pending, workloads get no status.
    #[arg(long)]
    pub no_simulated_node: bool,
    /// Seconds a simulated Pod stays Pending before it is Running and Ready.
    #[arg(long, default_value_t = 1)]
    pub pod_ready_after: u64,
    #[command(flatten)]
    pub auth: crate::admin::AuthFlags,
    #[command(flatten)]
    pub atrest: crate::atrest::AtRestFlags,
}

/// The embedded API server as `sluice apiserver` and `sluice serve` start it: store,
/// Kyverno admission and its supervised reporter, listener, TLS and kubeconfig.
pub(crate) struct Embedded {
    pub server: ApiServer,
    pub listener: tokio::net::TcpListener,
    pub tls: Option<sluice_apiserver::tls::TlsFiles>,
    pub url: String,
    pub kubeconfig: PathBuf,
}

/// What the embedded server's start needs of the command's flags.
pub(crate) struct EmbeddedFlags<'a> {
    pub listen: &'a str,
    pub data: &'a Path,
    pub plain_http: bool,
    pub no_simulated_node: bool,
    pub pod_ready_after: u64,
    pub auth: &'a crate::admin::AuthFlags,
    pub atrest: &'a crate::atrest::AtRestFlags,
}

/// The runtime the embedded server runs on. Admission (validation, policies) runs on the
/// blocking threads: deep stacks, so nested input meets the parsers' depth limits before
/// the stack's end.
pub(crate) fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_stack_size(sluice_apiserver::supervise::THREAD_STACK)
        // an idle blocking thread ends after 2 s (tokio's default: 10 s): the memory its
        // heap holds after a burst (a list of 10,000 runs) is then handed back by the
        // allocator upkeep, which cannot reclaim a live thread's pages
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Opens the store, wires Kyverno admission (stored policies admit creates and updates;
/// reports and background scans on a supervised thread), `extra` hooks, then binds the
/// listener and writes the kubeconfig.
pub(crate) async fn start(
    f: &EmbeddedFlags<'_>,
    extra: impl FnOnce(&ApiServer),
) -> anyhow::Result<Embedded> {
    let mut opts = Options {
        data_dir: Some(f.data.to_path_buf()),
        simulate: (!f.no_simulated_node).then(|| SimOptions {
            ready_after: Duration::from_secs(f.pod_ready_after),
            ..SimOptions::default()
        }),
        // small writes on the async workers while no policy is stored: under `sluice
        // serve`'s controllers a quarter fewer context switches and ~15% less CPU and wall
        // time for 200 runs of 5 tasks (docs/benchmarks.md, 2026-12-05)
        inline_writes: true,
        ..Options::default()
    };
    f.auth.apply(&mut opts);
    f.atrest.apply(&mut opts);
    let server = ApiServer::open(opts)
        .with_context(|| format!("opening the store in {}", f.data.display()))?;
    f.auth.oidc_from_argocd_cm(&server);
    let policy = crate::admission::PolicyAdmission::new(server.state().clone());
    server.add_admission_hook(policy.clone());
    policy
        .spawn_reporter()
        .context("starting the policy reporter")?;
    extra(&server);
    let listener = tokio::net::TcpListener::bind(f.listen)
        .await
        .with_context(|| format!("listening on {}", f.listen))?;
    let addr = listener.local_addr()?;
    let tls = if f.plain_http {
        None
    } else {
        Some(sluice_apiserver::tls::load_or_create(f.data)?)
    };
    let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
    let kubeconfig = f.data.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig, &url, tls.as_ref().map(|t| t.cert_pem.as_str()))?;
    Ok(Embedded {
        server,
        listener,
        tls,
        url,
        kubeconfig,
    })
}

impl Embedded {
    /// Serves until the listener fails.
    pub(crate) async fn serve(self) -> anyhow::Result<()> {
        match &self.tls {
            Some(t) => self.server.serve_tls(self.listener, t).await?,
            None => self.server.serve(self.listener).await?,
        }
        Ok(())
    }
}

/// How often a long-lived server hands the memory it freed back to the OS.
const UPKEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts the allocator's upkeep (`sluice_alloc::spawn_upkeep`) for a long-lived server:
/// without it, memory freed after a burst (a start over 10,000 stored runs, a wave of runs)
/// stayed resident while the server idled. A failure to start the thread only costs memory.
pub fn allocator_upkeep() {
    if let Err(e) = sluice_alloc::spawn_upkeep(UPKEEP_PERIOD) {
        eprintln!("warning: allocator upkeep not started: {e}");
    }
}

pub fn run(args: &ApiserverArgs) -> anyhow::Result<u8> {
    let rt = runtime(2)?;
    allocator_upkeep();
    rt.block_on(async {
        let flags = EmbeddedFlags {
            listen: &args.listen,
            data: &args.data,
            plain_http: args.plain_http,
            no_simulated_node: args.no_simulated_node,
            pod_ready_after: args.pod_ready_after,
            auth: &args.auth,
            atrest: &args.atrest,
        };
        let e = start(&flags, |_| {}).await?;
        let (url, kubeconfig) = (&e.url, &e.kubeconfig);
        println!("sluice apiserver listening on {url}");
        println!("  kubeconfig: {}", kubeconfig.display());
        println!(
            "  use it:     kubectl --kubeconfig {} get namespaces",
            kubeconfig.display()
        );
        println!("          or: export KUBECONFIG={}", kubeconfig.display());
        println!("  policies: Kyverno ClusterPolicies and Policies admit creates and updates");
        if args.no_simulated_node {
            println!("  simulated node: off");
        } else {
            println!(
                "  simulated node: on (no container runs; Pods turn Ready after {}s)",
                args.pod_ready_after
            );
        }
        e.serve().await?;
        Ok(exit::OK)
    })
}
