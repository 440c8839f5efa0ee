//! The `sluice` command line: thin clap commands over the library crates.

mod admission;
mod apiserver;
mod exit;
mod helm;
mod input;
mod kustomize;
mod policy;
mod run;
mod serve;
mod validate;

use std::process::ExitCode;

/// mimalloc: loading large manifest sets allocates and frees millions of small nodes, where
/// glibc's allocator spent a quarter of `sluice validate`'s time (perf, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// Sluice: GitOps CI/CD in one binary. Tekton pipelines, Triggers, Argo CD, Kustomize and
/// Kyverno policies, read from their upstream YAML unchanged.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None)]
#[command(after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    /// Serve the Kubernetes API from SQLite (kubectl and kube-rs work against it).
    Apiserver(apiserver::ApiserverArgs),
    /// The CI server: the embedded API server and the PipelineRun/TaskRun controllers.
    Serve(Box<serve::ServeArgs>),
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
        Command::Validate(args) => validate::run(&args),
        Command::Kustomize(cmd) => kustomize::run(&cmd),
        Command::Helm(cmd) => helm::run(&cmd),
        Command::Policy(args) => policy::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Apiserver(args) => apiserver::run(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
