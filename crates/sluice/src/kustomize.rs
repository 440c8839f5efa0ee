//! `sluice kustomize build DIR`: kustomize v5.5.0's build, in process.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use sluice_kustomize::{DiskFs, LoadRestrictor, Options};

use crate::exit;

#[derive(Debug, Subcommand)]
pub enum KustomizeCommand {
    /// Build a kustomization directory and print the resources, as `kubectl kustomize DIR`.
    Build(BuildArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Restrictor {
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    #[value(name = "LoadRestrictionsNone")]
    None,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The directory holding kustomization.yaml (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Whether files may be read from outside the kustomization's directory.
    #[arg(long, value_enum, default_value = "LoadRestrictionsRootOnly")]
    pub load_restrictor: Restrictor,
    /// Inflate `helmCharts` (rendered in process, as `helm template` would; local charts
    /// only).
    #[arg(long)]
    pub enable_helm: bool,
}

pub fn run(cmd: &KustomizeCommand) -> anyhow::Result<u8> {
    let KustomizeCommand::Build(args) = cmd;
    let options = Options {
        load_restrictor: match args.load_restrictor {
            Restrictor::RootOnly => LoadRestrictor::RootOnly,
            Restrictor::None => LoadRestrictor::None,
        },
        helm: args.enable_helm,
    };
    match sluice_kustomize::build(&DiskFs, &args.dir, &options) {
        Ok(out) => {
            let mut err = std::io::stderr().lock();
            for w in &out.warnings {
                let _ = writeln!(err, "{w}");
            }
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.yaml.as_bytes())?;
            stdout.flush()?;
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(if e.is_io() {
                exit::USAGE
            } else {
                exit::FINDINGS
            })
        }
    }
}
