//! Integration tests of the `sluice` binary and of the workspace as a whole.

mod apiserver_hardening;
mod apiserver_kubectl;
mod apiserver_policy;
mod architecture;
mod common;
mod example_app_deploy;
mod helm_cli;
mod kustomize_cli;
mod policy_cli;
mod run_cli;
mod run_conformance;
mod run_hardening;
mod serve_kubectl;
mod validate_cli;
mod validate_seed;
