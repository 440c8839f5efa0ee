//! `AnalysisTemplate`, `ClusterAnalysisTemplate` and `AnalysisRun` (argoproj/argo-rollouts
//! `pkg/apis/rollouts/v1alpha1/analysis_types.go`): types and validation
//! (`utils/analysis/factory.go` `ValidateMetrics`, `utils/template` argument resolution).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, Object};

use super::parse_go_duration;
use crate::Context;
use crate::meta::{NameRule, ObjectMeta, validate_meta};

fn is_false(b: &bool) -> bool {
    !*b
}

/// `AnalysisTemplate` and `ClusterAnalysisTemplate` (same shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplate {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: AnalysisTemplateSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Value>,
}

/// `AnalysisRun`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRun {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: AnalysisRunSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunSpec {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminate: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_strategy: Option<Value>,
}

/// `Metric`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initial_delay: String,
    /// intstr.IntOrString.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub success_condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<Value>,
    #[serde(default)]
    pub provider: MetricProvider,
}

/// `MetricProvider`: exactly one is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kayenta: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wavefront: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_relic: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphite: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skywalking: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<BTreeMap<String, Value>>,
}

impl MetricProvider {
    /// How many providers are set (each plugin counts).
    pub fn count(&self) -> usize {
        [
            self.prometheus.is_some(),
            self.kayenta.is_some(),
            self.web.is_some(),
            self.datadog.is_some(),
            self.wavefront.is_some(),
            self.new_relic.is_some(),
            self.job.is_some(),
            self.cloud_watch.is_some(),
            self.graphite.is_some(),
            self.influxdb.is_some(),
            self.skywalking.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count()
            + self.plugin.as_ref().map_or(0, BTreeMap::len)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusMetric {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebMetricHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_query: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebMetric {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    #[serde(default)]
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<WebMetricHeader>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebMetricHeader {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// `Argument` of a template or run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    #[serde(default)]
    pub metric_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasurementRetention {
    #[serde(default)]
    pub metric_name: String,
    #[serde(default)]
    pub limit: i32,
}

/// `intstr.IntValue()` of an IntOrString value (0 for non-integers, as Go).
pub fn int_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

impl Metric {
    /// `EffectiveCount`: the count, 1 when neither count nor interval is set, `None` when the
    /// metric runs until stopped.
    pub fn effective_count(&self) -> Option<i64> {
        match &self.count {
            None => {
                if self.interval.is_empty() {
                    Some(1)
                } else {
                    None
                }
            }
            Some(v) => {
                let c = int_value(Some(v));
                if c == 0 && !matches!(v, Value::String(s) if s.contains("{{")) {
                    None
                } else {
                    Some(c)
                }
            }
        }
    }
}

/// `ValidateMetric` (utils/analysis/factory.go): the first failing rule, as upstream.
fn validate_metric(m: &Metric) -> Option<(&'static str, String)> {
    let count = int_value(m.count.as_ref());
    let failure = int_value(m.failure_limit.as_ref());
    let inconclusive = int_value(m.inconclusive_limit.as_ref());
    if count > 0 {
        if count < failure {
            return Some(("count", "count must be >= failureLimit".into()));
        }
        if count < inconclusive {
            return Some(("count", "count must be >= inconclusiveLimit".into()));
        }
    }
    if count > 1 && m.interval.is_empty() {
        return Some((
            "interval",
            "interval must be specified when count > 1".into(),
        ));
    }
    if !m.interval.is_empty()
        && !m.interval.contains("{{")
        && parse_go_duration(&m.interval).is_none()
    {
        return Some((
            "interval",
            format!(
                "invalid interval string: time: invalid duration {:?}",
                m.interval
            ),
        ));
    }
    if !m.initial_delay.is_empty()
        && !m.initial_delay.contains("{{")
        && parse_go_duration(&m.initial_delay).is_none()
    {
        return Some((
            "initialDelay",
            format!(
                "invalid startDelay string: time: invalid duration {:?}",
                m.initial_delay
            ),
        ));
    }
    if failure < 0 {
        return Some(("failureLimit", "failureLimit must be >= 0".into()));
    }
    if inconclusive < 0 {
        return Some(("inconclusiveLimit", "inconclusiveLimit must be >= 0".into()));
    }
    if int_value(m.consecutive_error_limit.as_ref()) < 0 {
        return Some((
            "consecutiveErrorLimit",
            "consecutiveErrorLimit must be >= 0".into(),
        ));
    }
    match m.provider.count() {
        0 => Some(("provider", "no provider specified".into())),
        1 => None,
        _ => Some(("provider", "multiple providers specified".into())),
    }
}

/// `{{args.x}}` (and `{{ args.x }}`) references in a string.
pub fn arg_references(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            break;
        };
        let tag = after[..j].trim();
        if let Some(name) = tag.strip_prefix("args.") {
            out.push(name.to_owned());
        }
        rest = &after[j + 2..];
    }
    out
}

fn strings_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings_of(x, out)),
        _ => {}
    }
}

/// Validates the metrics and arguments of a template or run spec; paths start at `spec`.
pub fn validate_metrics(
    metrics: &[Metric],
    args: &[Argument],
    raw_metrics: Option<&Value>,
    has_template_refs: bool,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    // Metrics may come from the templates a template references (`spec.templates`).
    if metrics.is_empty() && !has_template_refs {
        errs.push(FieldError::new("metrics", "no metrics specified"));
    }
    let mut names = HashSet::new();
    for (i, m) in metrics.iter().enumerate() {
        let at = |f: &str| format!("metrics[{i}].{f}");
        if m.name.is_empty() {
            errs.push(FieldError::new(at("name").as_str(), "Required value"));
        }
        if !names.insert(m.name.as_str()) {
            errs.push(FieldError::new(
                at("name").as_str(),
                format!("metrics[{i}]: duplicate name '{}'", m.name),
            ));
        }
        if let Some((f, msg)) = validate_metric(m) {
            errs.push(FieldError::new(
                at(f).as_str(),
                format!("metrics[{i}]: {msg}"),
            ));
        }
        // a condition that does not parse (expr-lang syntax; args may still substitute
        // into one with `{{`); valid expr-lang that Sluice does not run is not an error here
        for (f, cond) in [
            ("successCondition", &m.success_condition),
            ("failureCondition", &m.failure_condition),
        ] {
            if cond.is_empty() || cond.contains("{{") {
                continue;
            }
            if let Err(e) = sluice_rollouts::analysis::Condition::parse(cond)
                && !e.unsupported
            {
                errs.push(FieldError::new(at(f).as_str(), format!("invalid {f}: {e}")));
            }
        }
    }
    let mut arg_names = HashSet::new();
    for (i, a) in args.iter().enumerate() {
        if a.name.is_empty() {
            errs.push(FieldError::new(
                format!("args[{i}].name").as_str(),
                "Required value",
            ));
        }
        arg_names.insert(a.name.as_str());
    }
    // utils/template ResolveArgs: `failed to resolve {{args.x}}` for undeclared arguments.
    if let Some(Value::Array(raw)) = raw_metrics {
        for (i, m) in raw.iter().enumerate() {
            let mut strs = Vec::new();
            strings_of(m, &mut strs);
            let mut seen = HashSet::new();
            for s in strs {
                for name in arg_references(&s) {
                    if !arg_names.contains(name.as_str()) && seen.insert(name.clone()) {
                        errs.push(FieldError::new(
                            format!("metrics[{i}]").as_str(),
                            format!("failed to resolve {{{{args.{name}}}}}"),
                        ));
                    }
                }
            }
        }
    }
    errs
}

/// Validates an `AnalysisTemplate` or `ClusterAnalysisTemplate`.
pub fn validate_template(obj: &Object, _ctx: &Context<'_>) -> FieldErrors {
    let (t, mut errs) = match crate::decode::decode::<AnalysisTemplate>(obj.value()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    errs.also(validate_meta(&t.metadata, NameRule::Dns1123Subdomain));
    let raw = obj.value().pointer("/spec/metrics");
    errs.also(
        validate_metrics(
            &t.spec.metrics,
            &t.spec.args,
            raw,
            !t.spec.templates.is_empty(),
        )
        .via_field("spec"),
    );
    errs
}

/// Validates an `AnalysisRun`.
pub fn validate_run(obj: &Object, _ctx: &Context<'_>) -> FieldErrors {
    let (r, mut errs) = match crate::decode::decode::<AnalysisRun>(obj.value()) {
        Ok(x) => x,
        Err(e) => return e,
    };
    errs.also(validate_meta(&r.metadata, NameRule::Dns1123Subdomain));
    let raw = obj.value().pointer("/spec/metrics");
    errs.also(validate_metrics(&r.spec.metrics, &r.spec.args, raw, false).via_field("spec"));
    for (i, a) in r.spec.args.iter().enumerate() {
        if a.value.is_none() && a.value_from.is_none() {
            errs.push(FieldError::new(
                format!("spec.args[{i}]").as_str(),
                format!("args.{} was not resolved", a.name),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metric_rules() {
        // utils/analysis/factory.go ValidateMetrics / ValidateMetric.
        let obj = Object::new(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": "t"},
            "spec": {
                "args": [{"name": "svc"}],
                "metrics": [
                    {"name": "a", "count": 3, "provider": {"prometheus": {"query": "{{args.svc}} {{ args.other }}"}}},
                    {"name": "a", "interval": "1x", "provider": {"web": {"url": "u"}, "job": {}}},
                    {"name": "b", "provider": {}}
                ]
            }
        }));
        let set = crate::ObjectSet::new([&obj]);
        let ctx = Context::new(&set);
        let errs: Vec<String> = validate_template(&obj, &ctx)
            .iter()
            .map(|e| format!("{}|{}", e.path, e.message))
            .collect();
        assert_eq!(
            errs,
            [
                "spec.metrics[0].interval|metrics[0]: interval must be specified when count > 1",
                "spec.metrics[1].name|metrics[1]: duplicate name 'a'",
                "spec.metrics[1].interval|metrics[1]: invalid interval string: time: invalid duration \"1x\"",
                "spec.metrics[2].provider|metrics[2]: no provider specified",
                "spec.metrics[0]|failed to resolve {{args.other}}",
            ]
        );
    }

    #[test]
    fn conditions_that_do_not_parse() {
        // expr-lang syntax as argo-rollouts utils/evaluate compiles it; `{{args}}` may still
        // substitute, and valid expr-lang Sluice does not run (`matches`) is not reported
        let obj = Object::new(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": "t"},
            "spec": {"args": [{"name": "min"}], "metrics": [
                {"name": "a", "successCondition": "result[0] >= 0.95",
                 "failureCondition": "result[0] <", "provider": {"prometheus": {"query": "q"}}},
                {"name": "b", "successCondition": "result >= {{args.min}}",
                 "failureCondition": "result matches '^x'", "provider": {"prometheus": {"query": "q"}}},
                {"name": "c", "successCondition": "reslt > 1", "provider": {"prometheus": {"query": "q"}}}
            ]}
        }));
        let set = crate::ObjectSet::new([&obj]);
        let ctx = Context::new(&set);
        let errs: Vec<String> = validate_template(&obj, &ctx)
            .iter()
            .map(|e| format!("{}|{}", e.path, e.message))
            .collect();
        assert_eq!(
            errs,
            [
                "spec.metrics[0].failureCondition|invalid failureCondition: unexpected token EOF (1:12)",
                "spec.metrics[2].successCondition|invalid successCondition: unknown name reslt (1:1)",
            ]
        );
    }
}
