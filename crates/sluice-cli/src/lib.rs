//! `sluice` commands against a server, as kubectl and tkn print them: `get`, `apply`,
//! `delete`, `pipeline`, `pipelinerun`, `taskrun`, `task`.
//!
//! A pure core ([`format`]: times, durations, statuses, colour; [`table`]: aligned columns;
//! [`tekton`]: tkn's lists and descriptions; [`get`]: resource resolution and Table
//! printing) unit-tested without a server, and a thin edge ([`client`]: a `kube::Client`
//! from a kubeconfig, discovery, Tables, server-side apply, Pod logs).

pub mod argocd;
pub mod client;
pub mod format;
pub mod get;
pub mod rollouts;
pub mod table;
pub mod tekton;

pub use client::{Conn, Error};
