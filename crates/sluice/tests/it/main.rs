//! Integration tests of the `sluice` binary and of the workspace as a whole.

mod apiserver_builtins;
mod apiserver_hardening;
mod apiserver_kubectl;
mod apiserver_policy;
mod appset_cli;
mod architecture;
mod cli_meta;
mod common;
mod example_app_deploy;
mod health_cli;
mod helm_cli;
mod kustomize_cli;
mod policy_cli;
mod run_cli;
mod run_conformance;
mod run_hardening;
mod serve_applications;
mod serve_cli;
mod serve_concurrency;
mod serve_kubectl;
mod serve_triggers;
mod serve_triggers_conformance;
mod validate_cli;
mod validate_seed;
