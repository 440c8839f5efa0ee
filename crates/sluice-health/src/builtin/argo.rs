//! The argoproj.io kinds: Workflow (gitops-engine `pkg/health/health_argo.go`), and the
//! checks Argo CD ships as Lua scripts for Application and Rollout
//! (argo-cd `resource_customizations/argoproj.io/{Application,Rollout}/health.lua`), ported
//! to Rust with the Lua scripts' behaviour on odd input: where the script would fail (index
//! a nil field, `ipairs(nil)`, compare a number with a string) the result is Unknown with a
//! Lua-style error message, as Argo CD reports a failing script.

use serde_json::Value;

use super::hs;
use crate::HealthStatus;
use crate::HealthStatusCode::{self, Degraded, Healthy, Progressing, Suspended, Unknown};
use crate::value::Conv;

/// Argo CD's own checks for its kinds (the built-in Lua scripts), by group and kind.
pub fn health(group: &str, kind: &str, obj: &Value) -> Option<HealthStatus> {
    let r = match (group, kind) {
        ("argoproj.io", "Application") => application(obj),
        ("argoproj.io", "Rollout") => rollout(obj),
        _ => return None,
    };
    Some(r.unwrap_or_else(HealthStatus::unknown))
}

/// gitops-engine `getArgoWorkflowHealth`: only `status.phase` and `status.message` count.
pub fn workflow_health(obj: &Value) -> Conv<HealthStatus> {
    let status = obj.get("status");
    let field = |k: &str| -> Conv<&str> {
        match status.and_then(|s| s.get(k)) {
            None | Some(Value::Null) => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!(
                "json: cannot unmarshal into .status.{k} of type string"
            )),
        }
    };
    let message = field("message")?;
    let code = match field("phase")? {
        "" | "Pending" | "Running" => Progressing,
        "Succeeded" => Healthy,
        "Failed" | "Error" => Degraded,
        _ => Unknown,
    };
    hs(code, message)
}

// ---- a small model of the Lua values the scripts see --------------------------------------

/// A field of a Lua table converted from JSON: `None` for nil (missing or JSON null).
fn field<'a>(v: Option<&'a Value>, key: &str, what: &str) -> Conv<Option<&'a Value>> {
    match v {
        None => Err(format!("attempt to index {what} (a nil value)")),
        Some(Value::Object(m)) => Ok(m.get(key).filter(|x| !x.is_null())),
        // strings index the string library (built-in scripts run with the libraries open)
        Some(Value::String(_)) | Some(Value::Array(_)) => Ok(None),
        Some(other) => Err(format!(
            "attempt to index {what} (a {} value)",
            lua_type(Some(other))
        )),
    }
}

fn lua_type(v: Option<&Value>) -> &'static str {
    match v {
        None | Some(Value::Null) => "nil",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_) | Value::Object(_)) => "table",
    }
}

/// Lua's `==` on converted values (numbers by value, tables by identity: two distinct
/// tables are never equal).
fn lua_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        (Some(x @ (Value::Array(_) | Value::Object(_))), Some(y)) => std::ptr::eq(x, y),
        _ => false,
    }
}

/// Lua's `a < b`: numbers and strings compare, anything else is an error.
fn lua_lt(a: &Value, b: &Value) -> Conv<bool> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            Ok(x.as_f64().unwrap_or(0.0) < y.as_f64().unwrap_or(0.0))
        }
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ => {
            let (ta, tb) = (lua_type(Some(a)), lua_type(Some(b)));
            if ta == tb {
                Err(format!("attempt to compare two {ta} values"))
            } else {
                Err(format!("attempt to compare {ta} with {tb}"))
            }
        }
    }
}

fn truthy(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Bool(false)))
}

/// Lua 5.1's `tonumber` of a value.
fn tonumber(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                return u64::from_str_radix(h, 16).ok().map(|n| n as f64);
            }
            if t.is_empty()
                || t.eq_ignore_ascii_case("inf")
                || t.to_ascii_lowercase().contains("nan")
            {
                return None;
            }
            t.parse::<f64>().ok()
        }
        _ => None,
    }
}

fn status(code: HealthStatusCode, msg: Option<&Value>) -> Conv<HealthStatus> {
    message_of(msg).map(|m| HealthStatus::new(code, m))
}

/// The `message` a script returns, as Argo CD decodes it into a Go string.
fn message_of(v: Option<&Value>) -> Conv<String> {
    match v {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go struct field HealthStatus.message of type string",
            match other {
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                Value::Array(_) => "array",
                _ => "object",
            }
        )),
    }
}

// ---- Application ---------------------------------------------------------------------------

/// argo-cd `resource_customizations/argoproj.io/Application/health.lua`: the Application's
/// own `status.health`, or Progressing "Waiting for application to be reconciled".
pub fn application(obj: &Value) -> Conv<HealthStatus> {
    let st = field(Some(obj), "status", "global 'obj'")?;
    let (mut code, mut msg) = (None, None);
    if st.is_some() {
        let h = field(st, "health", "field 'status'")?;
        if h.is_some() {
            code = field(h, "status", "field 'health'")?;
            msg = field(h, "message", "field 'health'")?;
        }
    }
    let Some(code) = code else {
        return hs(Progressing, "Waiting for application to be reconciled");
    };
    match code.as_str().and_then(HealthStatusCode::parse) {
        Some(c) => status(c, msg),
        None if code.is_string() => hs(Unknown, crate::lua::INVALID_HEALTH_STATUS),
        None => Err(format!(
            "json: cannot unmarshal {} into Go struct field HealthStatus.status of type health.HealthStatusCode",
            lua_type(Some(code))
        )),
    }
}

// ---- Rollout -------------------------------------------------------------------------------

/// argo-cd `resource_customizations/argoproj.io/Rollout/health.lua`.
pub fn rollout(obj: &Value) -> Conv<HealthStatus> {
    let o = Some(obj);
    let st = field(o, "status", "global 'obj'")?;
    if st.is_none() || field(st, "observedGeneration", "field 'status'")?.is_none() {
        return hs(
            Progressing,
            "Waiting for rollout spec update to be observed",
        );
    }
    let observed = field(st, "observedGeneration", "field 'status'")?;
    let generation = observed.and_then(tonumber);
    if let Some(g) = generation {
        let meta_gen = field(
            field(o, "metadata", "global 'obj'")?,
            "generation",
            "field 'metadata'",
        )?;
        let same = matches!(meta_gen, Some(Value::Number(n)) if n.as_f64() == Some(g));
        if !same {
            return hs(
                Progressing,
                "Waiting for rollout spec update to be observed",
            );
        }
    }
    let conds = field(st, "conditions", "field 'status'")?;
    let list: &[Value] = match conds {
        Some(Value::Array(a)) => a,
        Some(Value::Object(_)) => &[],
        other => {
            return Err(format!(
                "bad argument #1 to 'ipairs' (table expected, got {})",
                lua_type(other)
            ));
        }
    };
    for c in list {
        let ty = field(Some(c), "type", "local 'condition'")?;
        let reason = || field(Some(c), "reason", "local 'condition'");
        let is = |v: Option<&Value>, s: &str| v.and_then(Value::as_str) == Some(s);
        if is(ty, "InvalidSpec")
            || (is(ty, "Progressing")
                && (is(reason()?, "RolloutAborted") || is(reason()?, "ProgressDeadlineExceeded")))
        {
            return status(Degraded, field(Some(c), "message", "local 'condition'")?);
        }
    }
    // checkPaused
    let pause = field(st, "pauseConditions", "field 'status'")?;
    if let Some(p) = pause {
        let n = match p {
            Value::Array(a) => a.len(),
            Value::Object(_) => 0,
            other => {
                return Err(format!(
                    "bad argument #1 to 'getn' (table expected, got {})",
                    lua_type(Some(other))
                ));
            }
        };
        if n > 0 {
            return hs(Suspended, "Rollout is paused");
        }
    }
    let spec = field(o, "spec", "global 'obj'")?;
    if truthy(field(spec, "paused", "field 'spec'")?) {
        return hs(Suspended, "Rollout is paused");
    }
    let pod_hash = field(st, "currentPodHash", "field 'status'")?;
    if pod_hash.is_none() {
        return hs(
            Progressing,
            "Waiting for rollout to finish: status has not been reconciled.",
        );
    }
    // checkReplicasStatus
    let one = Value::from(1);
    let zero = Value::from(0);
    let desired = field(spec, "replicas", "field 'spec'")?.unwrap_or(&one);
    let status_replicas = field(st, "replicas", "field 'status'")?.unwrap_or(&zero);
    let updated = field(st, "updatedReplicas", "field 'status'")?.unwrap_or(&zero);
    let available = field(st, "availableReplicas", "field 'status'")?.unwrap_or(&zero);
    if lua_lt(updated, desired)? {
        return hs(
            Progressing,
            "Waiting for roll out to finish: More replicas need to be updated",
        );
    }
    if lua_lt(available, updated)? {
        return hs(
            Progressing,
            "Waiting for roll out to finish: updated replicas are still becoming available",
        );
    }
    // getStableRS
    let empty = Value::String(String::new());
    let stable = match field(st, "stableRS", "field 'status'")? {
        Some(s) => Some(s),
        None => match field(st, "canary", "field 'status'")? {
            Some(c) => field(Some(c), "stableRS", "field 'canary'")?,
            None => Some(&empty),
        },
    };
    let strategy = field(spec, "strategy", "field 'spec'")?;
    if field(strategy, "blueGreen", "field 'strategy'")?.is_some() {
        let bg = field(st, "blueGreen", "field 'status'")?;
        if bg.is_none() || !lua_eq(field(bg, "activeSelector", "field 'blueGreen'")?, pod_hash) {
            return hs(Progressing, "active service cutover pending");
        }
        if !lua_eq(stable, Some(&empty)) && !lua_eq(stable, pod_hash) {
            return hs(Progressing, "waiting for analysis to complete");
        }
    } else if field(strategy, "canary", "field 'strategy'")?.is_some() {
        if lua_lt(updated, status_replicas)? {
            return hs(
                Progressing,
                "Waiting for roll out to finish: old replicas are pending termination",
            );
        }
        if lua_eq(stable, Some(&empty)) || !lua_eq(stable, pod_hash) {
            return hs(Progressing, "Waiting for rollout to finish steps");
        }
    }
    hs(Healthy, "")
}
