//! `values.schema.json` validation as Helm's `ValidateAgainstSchema` does it (helm/helm
//! `pkg/chart/common/util/jsonschema.go`): each chart's schema against its coalesced values,
//! dependencies with their own part, the errors under the chart's name as
//! santhosh-tekuri/jsonschema words them (`- at '/path': got string, want integer`),
//! validated here with the `jsonschema` crate.

use serde_json::Value;

use crate::chart::Chart;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n)
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) =>
        {
            "number"
        }
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn quoted_list(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => format!("'{s}'"),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// One error in santhosh-tekuri/jsonschema's words where they are known, the `jsonschema`
/// crate's otherwise.
fn message(e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let inst: &Value = e.instance();
    match e.kind() {
        K::Type { kind } => {
            let want = match kind {
                jsonschema::error::TypeKind::Single(t) => t.to_string(),
                jsonschema::error::TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("got {}, want {want}", type_name(inst))
        }
        K::Required { property } => format!(
            "missing property '{}'",
            property.as_str().unwrap_or_default()
        ),
        K::Enum { options } => format!("value must be one of {}", quoted_list(options)),
        K::Constant { expected_value } => format!("value must be {expected_value}"),
        K::AdditionalProperties { unexpected } => format!(
            "additional properties {} not allowed",
            unexpected
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        K::Minimum { limit } => format!("minimum: got {inst}, want {limit}"),
        K::Maximum { limit } => format!("maximum: got {inst}, want {limit}"),
        K::MinLength { limit } => format!(
            "minLength: got {}, want {limit}",
            inst.as_str().map_or(0, |s| s.chars().count())
        ),
        K::MaxLength { limit } => format!(
            "maxLength: got {}, want {limit}",
            inst.as_str().map_or(0, |s| s.chars().count())
        ),
        K::Pattern { pattern } => format!(
            "'{}' does not match pattern '{pattern}'",
            inst.as_str().unwrap_or_default()
        ),
        _ => e.to_string(),
    }
}

/// Errors of one schema against `values`, each `- at '/path': message` with a newline.
fn validate_one(schema: &[u8], values: &Value) -> Result<Option<String>, String> {
    let schema: Value = serde_json::from_slice(schema)
        .map_err(|e| format!("unable to parse values.schema.json: {e}"))?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| format!("values.schema.json: {e}"))?;
    let mut out = String::new();
    for e in validator.iter_errors(values) {
        out.push_str(&format!("- at '{}': {}\n", e.instance_path(), message(&e)));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// `ValidateAgainstSchema(chart, values)`: the message Helm's install returns, or `None`.
pub fn validate(
    c: &Chart,
    values: &serde_json::Map<String, Value>,
) -> Result<Option<String>, String> {
    let mut sb = String::new();
    collect(c, values, &mut sb)?;
    Ok((!sb.is_empty()).then(|| {
        format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{sb}"
        )
    }))
}

fn collect(
    c: &Chart,
    values: &serde_json::Map<String, Value>,
    sb: &mut String,
) -> Result<(), String> {
    if let Some(schema) = &c.schema
        && let Some(errs) = validate_one(schema, &Value::Object(values.clone()))?
    {
        sb.push_str(&format!("{}:\n{errs}\n", c.name()));
    }
    for d in &c.dependencies {
        if let Some(Value::Object(sub)) = values.get(&d.name()) {
            collect(d, sub, sb)?;
        }
    }
    Ok(())
}
