//! `sluice apiserver`: the embedded Kubernetes-compatible API server on its own.

use std::path::PathBuf;
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
}

pub fn run(args: &ApiserverArgs) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // admission (validation, policies) runs on the blocking threads: deep stacks, so
        // nested input meets the parsers' depth limits before the stack's end
        .thread_stack_size(sluice_apiserver::supervise::THREAD_STACK)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let opts = Options {
            data_dir: Some(args.data.clone()),
            simulate: (!args.no_simulated_node).then(|| SimOptions {
                ready_after: Duration::from_secs(args.pod_ready_after),
                ..SimOptions::default()
            }),
            ..Options::default()
        };
        let server = ApiServer::open(opts)
            .with_context(|| format!("opening the store in {}", args.data.display()))?;
        // Kyverno: stored policies admit creates and updates; reports and background scans
        let policy = crate::admission::PolicyAdmission::new(server.state().clone());
        server.add_admission_hook(policy.clone());
        policy
            .spawn_reporter()
            .context("starting the policy reporter")?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let tls = if args.plain_http {
            None
        } else {
            Some(sluice_apiserver::tls::load_or_create(&args.data)?)
        };
        let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
        let kubeconfig = args.data.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig, &url, tls.as_ref().map(|t| t.cert_pem.as_str()))?;
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
        match &tls {
            Some(t) => server.serve_tls(listener, t).await?,
            None => server.serve(listener).await?,
        }
        Ok(exit::OK)
    })
}
