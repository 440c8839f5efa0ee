//! The pipeline engine, without I/O: resolution of a PipelineRun or TaskRun and the
//! objects it refers to into a [`plan::Plan`], the task graph ([`dag`]), variable
//! substitution ([`subst`], [`task`]), `when`, matrix, finally, retries and timeouts
//! ([`engine`]), and run status in Tekton's shape ([`status`]). Processes are the
//! [`engine::Executor`]'s business (crate sluice-exec).

pub use sluice_expr::cel;
pub mod dag;
pub mod engine;
pub mod matrix;
pub mod plan;
pub mod status;
pub mod subst;
pub mod task;

pub use engine::{CancelToken, Events, Executor, Interrupt, Phase, RunOptions};
pub use plan::{Catalog, Plan};
pub use task::{Paths, TaskInvocation};

/// Errors of planning and substitution.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The task graph is invalid (cycle, unknown task).
    #[error("{0}")]
    Dag(String),
    /// A reference or value cannot be resolved.
    #[error("{0}")]
    Resolve(String),
    /// A spec does not survive substitution (a value of the wrong shape).
    #[error("substitution produced an invalid spec: {0}")]
    Json(#[from] serde_json::Error),
}
