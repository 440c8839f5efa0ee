//! `CronJob` (kubernetes `pkg/apis/batch/validation` `ValidateCronJobCreate`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

use super::job::{JobSpec, validate_spec as validate_job_spec};
use super::util::{KindNameRule, validate_object_meta};
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJob {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: CronJobSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// `Allow` (default), `Forbid`, `Replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_template: Option<JobTemplateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: JobSpec,
}

/// Checks the shape of a cron schedule: five fields, or a `@` descriptor
/// (robfig/cron `ParseStandard`).
fn schedule_error(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("TZ=")
        .or_else(|| s.strip_prefix("CRON_TZ="))
        .and_then(|rest| rest.split_once(' ').map(|(_, r)| r.trim()))
        .unwrap_or(s);
    if let Some(d) = s.strip_prefix('@') {
        return match d {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            _ if d.starts_with("every ") => None,
            _ => Some(format!("unrecognized descriptor: {s}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let ok = |f: &str| {
        f.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'*' | b'/' | b',' | b'-' | b'?'))
    };
    fields
        .iter()
        .find(|f| !ok(f))
        .map(|f| format!("failed to parse field {f:?}"))
}

pub fn validate(c: &CronJob) -> FieldErrors {
    let mut errs = validate_object_meta(&c.metadata, KindNameRule::Subdomain);
    if let Some(n) = &c.metadata.name
        && n.len() > 52
    {
        errs.push(FieldError::new(
            "metadata.name",
            "must be no more than 52 characters",
        ));
    }
    let s = &c.spec;
    let mut spec = FieldErrors::new();
    if s.schedule.is_empty() {
        spec.push(FieldError::new("schedule", "Required value"));
    } else if let Some(m) = schedule_error(&s.schedule) {
        spec.push(FieldError::invalid(
            "schedule",
            format!("{:?}: {m}", s.schedule),
        ));
    }
    if let Some(p) = &s.concurrency_policy
        && !matches!(p.as_str(), "Allow" | "Forbid" | "Replace")
    {
        spec.push(FieldError::new(
            "concurrencyPolicy",
            format!(
                "Unsupported value: {p:?}: supported values: \"Allow\", \"Forbid\", \"Replace\""
            ),
        ));
    }
    match &s.job_template {
        None => spec.push(FieldError::new("jobTemplate", "Required value")),
        Some(t) => {
            spec.also(
                validate_job_spec(&t.spec)
                    .via_field("spec")
                    .via_field("jobTemplate"),
            );
        }
    }
    errs.also(spec.via_field("spec"));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // kubernetes ValidateCronJobSpec: schedule required and parseable.
    #[test]
    fn schedule() {
        assert_eq!(schedule_error("*/5 * * * *"), None);
        assert_eq!(schedule_error("@hourly"), None);
        assert!(schedule_error("* * *").is_some());
        let (c, _) = crate::decode::decode::<CronJob>(&json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "x"}]}}}}}
        }))
        .expect("decodes");
        let got: Vec<String> = validate(&c).iter().map(|e| e.to_string()).collect();
        assert_eq!(got, ["spec.schedule: Required value"]);
    }
}
