//! Integration tests of the `sluice` binary and of the workspace as a whole.

mod apiserver_kubectl;
mod architecture;
mod common;
mod validate_cli;
