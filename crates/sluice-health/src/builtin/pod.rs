//! Pod: gitops-engine `pkg/health/health_pod.go`. A pod whose restart policy is not
//! `Always` is a hook or a finite job: Running is Progressing, unless the
//! `argocd.argoproj.io/ignore-restart-policy` annotation asks to judge it like an `Always` pod
//! (not for hooks: the pinning testdata `pod-running-restart-never-hook-with-ignore-annotation`).

use serde_json::Value;

use super::{hs, supported, typed};
use crate::HealthStatus;
use crate::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use crate::value::{self as v, Conv, go_quote};

/// gitops-engine `AnnotationIgnoreRestartPolicy`.
pub const ANNOTATION_IGNORE_RESTART_POLICY: &str = "argocd.argoproj.io/ignore-restart-policy";

pub fn health(obj: &Value) -> Conv<HealthStatus> {
    supported(obj, "Pod", &["v1"])?;
    typed("Pod", assess(obj))
}

/// Whether the object is an Argo CD or Helm hook (gitops-engine `hook.IsHook`).
pub(crate) fn is_hook(obj: &Value) -> Conv<bool> {
    let ann = ["metadata", "annotations"];
    if v::map_get(obj, &ann, "argocd.argoproj.io/hook")?.is_some_and(|h| !h.is_empty()) {
        return Ok(true);
    }
    Ok(v::map_get(obj, &ann, "helm.sh/hook")?.is_some_and(|h| h != "crd-install"))
}

fn assess(p: &Value) -> Conv<HealthStatus> {
    let policy = v::string(p, &["spec", "restartPolicy"])?;
    let ignore_policy = v::map_get(
        p,
        &["metadata", "annotations"],
        ANNOTATION_IGNORE_RESTART_POLICY,
    )?
    .is_some()
        && !is_hook(p)?;
    let message = v::string(p, &["status", "message"])?;
    let statuses = v::array(p, &["status", "containerStatuses"])?;
    if policy == "Always" || ignore_policy {
        let mut messages = Vec::new();
        for cs in statuses {
            if v::present(cs, &["state", "waiting"])? {
                let reason = v::string(cs, &["state", "waiting", "reason"])?;
                if reason.starts_with("Err")
                    || reason.ends_with("Error")
                    || reason.ends_with("BackOff")
                {
                    messages.push(v::string(cs, &["state", "waiting", "message"])?);
                }
            }
        }
        if !messages.is_empty() {
            return hs(Degraded, messages.join(", "));
        }
    }
    match v::string(p, &["status", "phase"])? {
        "Pending" => hs(Progressing, message),
        "Succeeded" => hs(Healthy, message),
        "Failed" => {
            if !message.is_empty() {
                return hs(Degraded, message);
            }
            let init = v::array(p, &["status", "initContainerStatuses"])?;
            for cs in init.iter().chain(statuses) {
                let m = fail_message(cs)?;
                if !m.is_empty() {
                    return hs(Degraded, m);
                }
            }
            hs(Degraded, "")
        }
        "Running" => {
            if ignore_policy || policy == "Always" {
                running(p, statuses, message)
            } else if policy == "OnFailure" || policy == "Never" {
                hs(Progressing, message)
            } else {
                hs(Unknown, message)
            }
        }
        _ => hs(Unknown, message),
    }
}

fn running(p: &Value, statuses: &[Value], message: &str) -> Conv<HealthStatus> {
    let ready = v::condition(p, &["status", "conditions"], "Ready")?
        .map(|c| v::string(c, &["status"]))
        .transpose()?
        == Some("True");
    if ready {
        return hs(Healthy, message);
    }
    for cs in statuses {
        if v::present(cs, &["lastState", "terminated"])? {
            return hs(Degraded, message);
        }
    }
    hs(Progressing, message)
}

fn fail_message(cs: &Value) -> Conv<String> {
    if !v::present(cs, &["state", "terminated"])? {
        return Ok(String::new());
    }
    let t = ["state", "terminated"];
    let msg = v::string(cs, &[t[0], t[1], "message"])?;
    if !msg.is_empty() {
        return Ok(msg.to_owned());
    }
    let reason = v::string(cs, &[t[0], t[1], "reason"])?;
    if reason == "OOMKilled" {
        return Ok(reason.to_owned());
    }
    let code = v::int(cs, &[t[0], t[1], "exitCode"])?;
    if code != 0 {
        let name = v::string(cs, &["name"])?;
        return Ok(format!(
            "container {} failed with exit code {code}",
            go_quote(name)
        ));
    }
    Ok(String::new())
}
