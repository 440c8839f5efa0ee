//! The `sluice` command line: thin clap commands over the library crates.

mod admin;
mod admission;
mod apiserver;
mod applications;
mod appset;
mod argocd_cli;
mod argocd_roles;
mod atrest;
mod cli;
mod exit;
mod health;
mod helm;
mod helm_oci;
mod helm_repos;
mod input;
mod kustomize;
mod listeners;
mod monitoring;
mod policy;
mod quickstart;
mod registry;
mod rollouts_cli;
mod run;
mod serve;
mod validate;

use std::process::ExitCode;

/// mimalloc: loading large manifest sets allocates and frees millions of small nodes, where
/// glibc's allocator spent a quarter of `sluice validate`'s time (perf, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: sluice_alloc::MiMalloc = sluice_alloc::MiMalloc;

use clap::{CommandFactory, Parser, Subcommand};

/// `sluice --version`: the package version and the git commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SLUICE_GIT_COMMIT"),
    ")"
);

/// Sluice: GitOps CI/CD in one binary. Tekton pipelines, Triggers, Argo CD, Kustomize and
/// Kyverno policies, read from their upstream YAML unchanged.
#[derive(Debug, Parser)]
#[command(name = "sluice", version = VERSION, about, long_about = None)]
#[command(after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Quickstart(Box<quickstart::QuickstartArgs>),
    // Validate and Run take their help from their Args' doc comments (first line in the
    // command list, the whole text in the command's --help).
    Validate(Box<validate::ValidateArgs>),
    /// Kustomize, natively: `sluice kustomize build DIR` prints what `kubectl kustomize DIR`
    /// prints.
    #[command(subcommand)]
    Kustomize(kustomize::KustomizeCommand),
    /// Helm, natively: `sluice helm template NAME CHART` prints what `helm template` prints.
    #[command(subcommand)]
    Helm(helm::HelmCommand),
    /// Kyverno policies: apply them to resources, or run kyverno-test.yaml suites.
    Policy(Box<policy::PolicyArgs>),
    Run(Box<run::RunArgs>),
    /// ApplicationSets: `sluice appset generate -f FILE` prints the Applications one
    /// generates.
    #[command(subcommand)]
    Appset(appset::AppsetCommand),
    /// Serve the Kubernetes API from SQLite (kubectl and kube-rs work against it).
    Apiserver(apiserver::ApiserverArgs),
    /// The CI server: the embedded API server and the PipelineRun/TaskRun controllers.
    Serve(Box<serve::ServeArgs>),
    Apply(Box<cli::ApplyArgs>),
    Get(Box<cli::GetArgs>),
    Delete(Box<cli::DeleteArgs>),
    /// Pipelines on the server: list, describe, start (as tkn pipeline).
    #[command(subcommand, alias = "p")]
    Pipeline(cli::PipelineCmd),
    /// PipelineRuns on the server: list, describe, logs, cancel, delete (as tkn pipelinerun).
    #[command(subcommand, alias = "pr")]
    Pipelinerun(cli::PipelineRunCmd),
    /// TaskRuns on the server: list, describe, logs (as tkn taskrun).
    #[command(subcommand, alias = "tr")]
    Taskrun(cli::TaskRunCmd),
    /// Tasks on the server: list (as tkn task).
    #[command(subcommand, alias = "t")]
    Task(cli::TaskCmd),
    /// EventListeners on the server: list, describe, and the deliveries each got.
    #[command(subcommand, alias = "el")]
    Eventlistener(cli::EventListenerCmd),
    /// Print shell completions: `source <(sluice completion bash)`.
    Completion {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    Health(Box<health::HealthArgs>),
    /// Administration: `sluice admin rbac can|validate` (Kubernetes and Argo CD RBAC).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Argo Rollouts, as `kubectl argo rollouts`: list, get, promote, abort, retry, set
    /// image, pause, status.
    #[command(subcommand)]
    Rollouts(rollouts_cli::RolloutsCmd),
    /// Argo CD Applications, as `argocd app`: list, get, sync, diff, history, rollback,
    /// delete, wait, create, set (in the `argocd` namespace unless `-n`).
    #[command(subcommand)]
    App(argocd_cli::AppCmd),
    /// Argo CD repositories (`repository` Secrets), as `argocd repo`: add, list, rm.
    #[command(subcommand)]
    Repo(argocd_cli::RepoCmd),
    /// Argo CD repository credential templates (`repo-creds` Secrets), as `argocd
    /// repocreds`: add, list, rm.
    #[command(subcommand)]
    Repocreds(argocd_cli::RepoCredsCmd),
    /// Argo CD destination clusters (`cluster` Secrets), as `argocd cluster`: add, list, rm.
    #[command(subcommand)]
    Cluster(argocd_cli::ClusterCmd),
    /// Argo CD AppProjects, as `argocd proj`: list, get, create.
    #[command(subcommand)]
    Proj(argocd_cli::ProjCmd),
    /// Prometheus rules: `sluice monitoring rules -f FILE` prints the groups of
    /// PrometheusRule objects as a Prometheus rule file.
    #[command(subcommand)]
    Monitoring(monitoring::MonitoringCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Quickstart(args) => quickstart::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Kustomize(cmd) => kustomize::run(&cmd),
        Command::Helm(cmd) => helm::run(&cmd),
        Command::Policy(args) => policy::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Apiserver(args) => apiserver::run(&args),
        Command::Appset(cmd) => appset::run(&cmd),
        Command::Serve(args) => serve::run(&args),
        Command::Apply(args) => cli::apply(&args),
        Command::Get(args) => cli::get(&args),
        Command::Delete(args) => cli::delete(&args),
        Command::Pipeline(cmd) => cli::pipeline(&cmd),
        Command::Pipelinerun(cmd) => cli::pipelinerun(&cmd),
        Command::Taskrun(cmd) => cli::taskrun(&cmd),
        Command::Task(cmd) => cli::task(&cmd),
        Command::Eventlistener(cmd) => cli::eventlistener(&cmd),
        Command::Completion { shell } => {
            // into memory first: clap_complete panics when its writer fails (a closed pipe)
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sluice", &mut text);
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            match out.write_all(&text).and_then(|()| out.flush()) {
                Ok(()) => Ok(exit::OK),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
                Err(e) => Err(e.into()),
            }
        }
        Command::Health(args) => health::run(&args),
        Command::Admin(cmd) => admin::run(&cmd),
        Command::Rollouts(cmd) => rollouts_cli::run(&cmd),
        Command::Monitoring(cmd) => monitoring::run(&cmd),
        Command::App(cmd) => argocd_cli::run(&cmd),
        Command::Repo(cmd) => argocd_cli::run_repo(&cmd),
        Command::Repocreds(cmd) => argocd_cli::run_repocreds(&cmd),
        Command::Cluster(cmd) => argocd_cli::run_cluster(&cmd),
        Command::Proj(cmd) => argocd_cli::run_proj(&cmd),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
