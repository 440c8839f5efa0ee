//! `{{args.NAME}}` in a metric, resolved from the AnalysisRun's args as argo-rollouts does
//! when it reconciles a run: `analysis/analysis.go` (`getResolvedMetricsWithoutSecrets`,
//! `resolveArgs`: a secretKeyRef's value, "key 'K' does not exist in secret 'S'") and
//! `utils/template/template.go` (fasttemplate `{{` `}}` tags, trimmed; an unknown tag is
//! "failed to resolve {{TAG}}"; an arg without a value is "argument \"NAME\" was not
//! supplied"). A `fieldRef` is the Rollout controller's to resolve when it creates the run
//! (`rollout/analysis.go`); here it goes through the same [`ArgLookup`].
//!
//! Upstream substitutes in the metric's JSON text with JSON-escaped values; substituting in
//! every string of the JSON value gives the same metric.

use serde_json::Value as Json;

/// Where an arg's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueFrom {
    SecretKeyRef {
        name: String,
        key: String,
    },
    /// A field of the owning Rollout (`metadata.labels['x']`...); the Rollout controller
    /// resolves it when it creates the run.
    FieldRef {
        field_path: String,
    },
}

/// One AnalysisRun arg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    pub value: Option<String>,
    pub value_from: Option<ValueFrom>,
}

impl Arg {
    /// The args of an AnalysisRun spec (`spec.args`) as upstream's JSON.
    pub fn list_from_json(args: Option<&Json>) -> Result<Vec<Arg>, ArgError> {
        let Some(args) = args else {
            return Ok(Vec::new());
        };
        let Some(items) = args.as_array() else {
            return Err(ArgError("args: expected a list".into()));
        };
        let mut out = Vec::new();
        for (i, a) in items.iter().enumerate() {
            let name = a
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| ArgError(format!("args[{i}].name: required")))?
                .to_string();
            let value = match a.get("value") {
                None | Some(Json::Null) => None,
                Some(Json::String(s)) => Some(s.clone()),
                Some(_) => return Err(ArgError(format!("args[{i}].value: expected a string"))),
            };
            let value_from = match a.get("valueFrom") {
                None | Some(Json::Null) => None,
                Some(vf) => {
                    if let Some(s) = vf.get("secretKeyRef") {
                        Some(ValueFrom::SecretKeyRef {
                            name: str_field(s, "name"),
                            key: str_field(s, "key"),
                        })
                    } else if let Some(f) = vf.get("fieldRef") {
                        Some(ValueFrom::FieldRef {
                            field_path: str_field(f, "fieldPath"),
                        })
                    } else {
                        return Err(ArgError(format!(
                            "args[{i}].valueFrom: one of secretKeyRef, fieldRef is required"
                        )));
                    }
                }
            };
            out.push(Arg {
                name,
                value,
                value_from,
            });
        }
        Ok(out)
    }
}

fn str_field(v: &Json, k: &str) -> String {
    v.get(k)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// What valueFrom reads: the caller's cluster (secrets) and the owning Rollout (fields).
pub trait ArgLookup {
    /// `data[key]` of Secret `name` in the run's namespace, decoded; `Err` with the message
    /// of a failed get (`secrets "NAME" not found`); `Ok(None)` when the key is absent.
    fn secret(&self, name: &str, key: &str) -> Result<Option<String>, String>;
    /// The value at `field_path` of the owning Rollout.
    fn field(&self, field_path: &str) -> Result<String, String>;
}

/// An arg that does not resolve; the message is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgError(pub String);

/// Metrics with their args substituted, and the secret values to redact from messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub metrics: Json,
    pub secrets: Vec<String>,
}

/// Resolves `args` (valueFrom through `lookup`) and substitutes `{{args.NAME}}` in every
/// string of `metrics` (the spec's metrics list).
pub fn resolve(metrics: &Json, args: &[Arg], lookup: &dyn ArgLookup) -> Result<Resolved, ArgError> {
    let mut values: Vec<(String, String)> = Vec::new();
    let mut secrets = Vec::new();
    for arg in args {
        let value = match (&arg.value, &arg.value_from) {
            (Some(v), _) => v.clone(),
            (None, None) => {
                return Err(ArgError(format!(
                    "argument \"{}\" was not supplied",
                    arg.name
                )));
            }
            (None, Some(ValueFrom::SecretKeyRef { name, key })) => {
                match lookup.secret(name, key).map_err(ArgError)? {
                    Some(v) => {
                        if !v.is_empty() {
                            secrets.push(v.clone());
                        }
                        v
                    }
                    None => {
                        return Err(ArgError(format!(
                            "key '{key}' does not exist in secret '{name}'"
                        )));
                    }
                }
            }
            (None, Some(ValueFrom::FieldRef { field_path })) => {
                lookup.field(field_path).map_err(ArgError)?
            }
        };
        values.push((format!("args.{}", arg.name), value));
    }
    let metrics = substitute(metrics, &values)?;
    Ok(Resolved { metrics, secrets })
}

fn substitute(v: &Json, values: &[(String, String)]) -> Result<Json, ArgError> {
    Ok(match v {
        Json::String(s) => Json::String(substitute_str(s, values)?),
        Json::Array(a) => Json::Array(
            a.iter()
                .map(|x| substitute(x, values))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, x) in o {
                out.insert(substitute_str(k, values)?, substitute(x, values)?);
            }
            Json::Object(out)
        }
        other => other.clone(),
    })
}

/// fasttemplate with `{{` `}}`: each tag trimmed and looked up; every tag is replaced
/// (an unknown one by nothing) and the last unknown one is the error.
pub fn substitute_str(s: &str, values: &[(String, String)]) -> Result<String, ArgError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut unresolved = None;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(ArgError(format!(
                "cannot find end tag=\"}}}}\" in the template={s:?} starting from {:?}",
                &rest[open..]
            )));
        };
        let tag = &after[..close];
        match values.iter().find(|(k, _)| k == tag.trim()) {
            Some((_, v)) => out.push_str(v),
            None => unresolved = Some(format!("failed to resolve {{{{{tag}}}}}")),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    match unresolved {
        Some(e) => Err(ArgError(e)),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Lookup;
    impl ArgLookup for Lookup {
        fn secret(&self, name: &str, key: &str) -> Result<Option<String>, String> {
            match (name, key) {
                ("prom", "token") => Ok(Some("s3cret".into())),
                ("prom", _) => Ok(None),
                _ => Err(format!("secrets \"{name}\" not found")),
            }
        }
        fn field(&self, path: &str) -> Result<String, String> {
            match path {
                "metadata.name" => Ok("order-service".into()),
                _ => Err(format!("failed to resolve fieldPath {path}")),
            }
        }
    }

    fn arg(name: &str, value: Option<&str>, from: Option<ValueFrom>) -> Arg {
        Arg {
            name: name.into(),
            value: value.map(String::from),
            value_from: from,
        }
    }

    #[test]
    fn substitutes_values_secrets_fields() {
        let metrics = json!([{"name": "m", "provider": {"prometheus": {
            "query": "rate(x{service=\"{{args.service-name}}\"}[5m])",
            "headers": [{"key": "Authorization", "value": "Bearer {{ args.token }}"}],
            "address": "http://{{args.rollout}}:9090"}}}]);
        let args = [
            arg("service-name", Some("order-service"), None),
            arg(
                "token",
                None,
                Some(ValueFrom::SecretKeyRef {
                    name: "prom".into(),
                    key: "token".into(),
                }),
            ),
            arg(
                "rollout",
                None,
                Some(ValueFrom::FieldRef {
                    field_path: "metadata.name".into(),
                }),
            ),
        ];
        let r = resolve(&metrics, &args, &Lookup).unwrap();
        let p = &r.metrics[0]["provider"]["prometheus"];
        assert_eq!(p["query"], "rate(x{service=\"order-service\"}[5m])");
        assert_eq!(p["headers"][0]["value"], "Bearer s3cret");
        assert_eq!(p["address"], "http://order-service:9090");
        assert_eq!(r.secrets, vec!["s3cret".to_string()]);
    }

    #[test]
    fn upstream_error_messages() {
        let metrics = json!([{"q": "{{args.missing}}"}]);
        // template.go resolve: "failed to resolve {{%s}}" with the tag as written
        assert_eq!(
            resolve(&metrics, &[], &Lookup).unwrap_err().0,
            "failed to resolve {{args.missing}}"
        );
        // template.go ResolveArgs: "argument \"%s\" was not supplied"
        assert_eq!(
            resolve(&metrics, &[arg("x", None, None)], &Lookup)
                .unwrap_err()
                .0,
            "argument \"x\" was not supplied"
        );
        // analysis.go resolveArgs: "key '%s' does not exist in secret '%s'"
        let missing_key = arg(
            "t",
            None,
            Some(ValueFrom::SecretKeyRef {
                name: "prom".into(),
                key: "nope".into(),
            }),
        );
        assert_eq!(
            resolve(&json!([]), &[missing_key], &Lookup).unwrap_err().0,
            "key 'nope' does not exist in secret 'prom'"
        );
        let missing_secret = arg(
            "t",
            None,
            Some(ValueFrom::SecretKeyRef {
                name: "other".into(),
                key: "k".into(),
            }),
        );
        assert_eq!(
            resolve(&json!([]), &[missing_secret], &Lookup)
                .unwrap_err()
                .0,
            "secrets \"other\" not found"
        );
        assert!(substitute_str("{{args.x", &[]).is_err());
    }

    #[test]
    fn args_from_json() {
        let a = Arg::list_from_json(Some(&json!([
            {"name": "a", "value": "1"},
            {"name": "b", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "c", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ])))
        .unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].value.as_deref(), Some("1"));
        assert!(matches!(
            a[1].value_from,
            Some(ValueFrom::SecretKeyRef { .. })
        ));
        assert!(Arg::list_from_json(Some(&json!([{"value": "x"}]))).is_err());
    }
}
