//! Argo Rollouts (argoproj.io/v1alpha1) engines as pure functions: no I/O, no clock (the
//! caller passes `now`), no async.
//!
//! - [`analysis`]: the AnalysisRun metric state machine as argo-rollouts `analysis/analysis.go`
//!   (which metrics to measure now, how measurements fold into the status, the run phase, the
//!   next reconcile time), the successCondition/failureCondition expression language
//!   (expr-lang/expr as `utils/evaluate/evaluate.go` uses it) and `{{args.*}}` resolution.
//! - [`canary`], [`bluegreen`]: one reconcile pass of a Rollout (`rollout/canary.go`,
//!   `rollout/bluegreen.go`); [`services`]: Service selector switches and scale-down
//!   deadlines; [`nginx`]: the canary Ingress of nginx traffic routing.

pub mod analysis;
pub mod bluegreen;
pub mod canary;
pub mod nginx;
pub mod providers;
pub mod services;
