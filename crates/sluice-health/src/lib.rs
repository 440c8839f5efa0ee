//! Argo CD's resource health as pure functions: the built-in checks of gitops-engine
//! (`pkg/health/health_*.go`, one module per kind under [`builtin`]), the checks Argo CD
//! ships as Lua scripts for its own kinds (Application, Rollout: ported to Rust in
//! [`builtin::argo`]), and user Lua health scripts from `argocd-cm` run in a sandboxed
//! Lua 5.1 with Argo CD's semantics ([`lua`], [`overrides`]). [`lint`] checks health
//! scripts without running them (`sluice validate`).
//!
//! Entry point: [`resource_health`] (gitops-engine `health.GetResourceHealth` with Argo CD's
//! `ResourceHealthOverrides`): `None` when no check applies to the object.

pub mod builtin;
pub mod lint;
pub mod lua;
pub mod overrides;
mod value;

use std::fmt;

use serde_json::Value;

pub use overrides::{ResourceOverride, ResourceOverrides};

/// A health status code (gitops-engine `HealthStatusCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthStatusCode {
    Healthy,
    Suspended,
    Progressing,
    Missing,
    Degraded,
    Unknown,
}

impl HealthStatusCode {
    /// From most healthy to least healthy (gitops-engine `healthOrder`).
    pub const ORDER: [HealthStatusCode; 6] = [
        HealthStatusCode::Healthy,
        HealthStatusCode::Suspended,
        HealthStatusCode::Progressing,
        HealthStatusCode::Missing,
        HealthStatusCode::Degraded,
        HealthStatusCode::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatusCode::Healthy => "Healthy",
            HealthStatusCode::Suspended => "Suspended",
            HealthStatusCode::Progressing => "Progressing",
            HealthStatusCode::Missing => "Missing",
            HealthStatusCode::Degraded => "Degraded",
            HealthStatusCode::Unknown => "Unknown",
        }
    }

    /// The code named exactly `s` (case-sensitive, as Argo CD's `isValidHealthStatusCode`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ORDER.into_iter().find(|c| c.as_str() == s)
    }

    fn rank(self) -> usize {
        Self::ORDER.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// Whether `new` is a worse condition than `self` (gitops-engine `IsWorse`).
    pub fn is_worse(self, new: HealthStatusCode) -> bool {
        new.rank() > self.rank()
    }
}

impl fmt::Display for HealthStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health assessment: a status and a message (empty when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthStatus {
    pub status: HealthStatusCode,
    pub message: String,
}

impl HealthStatus {
    pub fn new(status: HealthStatusCode, message: impl Into<String>) -> Self {
        HealthStatus {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn unknown(message: impl Into<String>) -> Self {
        HealthStatus::new(HealthStatusCode::Unknown, message)
    }
}

/// The finalizer Argo CD puts on hooks it still watches (gitops-engine
/// `pkg/sync/hook.HasHookFinalizer`).
const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// The health of one object, as the Argo CD application controller computes it
/// (gitops-engine `health.GetResourceHealth` with Argo CD's `ResourceHealthOverrides`):
/// an object being deleted is Progressing ("Pending deletion") unless a hook finalizer
/// holds it; then a Lua script configured in `overrides` for its group/kind, then Argo CD's
/// own checks for its kinds, then gitops-engine's built-in checks. A script that fails gives
/// Unknown with the error as message. `None`: no check applies (the object has no health).
pub fn resource_health(obj: &Value, overrides: &ResourceOverrides) -> Option<HealthStatus> {
    if let Some(h) = pending_deletion(obj) {
        return Some(h);
    }
    let (group, kind) = value::group_kind(obj);
    if let Some(o) = overrides.health_script(group, kind) {
        let opts = lua::LuaOptions {
            open_libs: o.use_open_libs,
            ..lua::LuaOptions::default()
        };
        return Some(lua::run_health_script(obj, &o.health_lua, &opts));
    }
    if let Some(h) = builtin::argo::health(group, kind, obj) {
        return Some(h);
    }
    builtin::health(obj)
}

/// gitops-engine's `GetResourceHealth(obj, nil)`: the deletion check and the built-in
/// checks only (no Lua, none of Argo CD's own checks).
pub fn resource_health_builtin(obj: &Value) -> Option<HealthStatus> {
    pending_deletion(obj).or_else(|| builtin::health(obj))
}

fn pending_deletion(obj: &Value) -> Option<HealthStatus> {
    let meta = obj.get("metadata");
    let deleting = meta
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null());
    let hook_finalizer = meta
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(HOOK_FINALIZER)));
    (deleting && !hook_finalizer)
        .then(|| HealthStatus::new(HealthStatusCode::Progressing, "Pending deletion"))
}

/// Loads the one object of a YAML or JSON text as Argo CD's tests and tools read objects
/// (sigs.k8s.io/yaml: a repeated key's last value wins). Empty documents are skipped; the
/// number of documents found is returned with the first object so callers can refuse more.
pub fn load_object(text: &str) -> Result<(Option<Value>, usize), sluice_core::LoadError> {
    let opts = sluice_core::yaml::Options {
        last_key_wins: true,
        ..sluice_core::yaml::Options::default()
    };
    let docs = sluice_core::yaml::load_documents_with(text, &opts)?;
    let mut objects = docs.into_iter().map(|d| d.value).filter(|v| !v.is_null());
    let first = objects.next();
    Ok((
        first.clone(),
        usize::from(first.is_some()) + objects.count(),
    ))
}
