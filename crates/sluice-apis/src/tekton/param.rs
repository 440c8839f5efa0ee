//! Params: `ParamSpec` (declarations), `Param` (values) and `ParamValue` (string, array or
//! object), after tektoncd/pipeline `pkg/apis/pipeline/v1/param_types.go`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

/// `ParamType`: `string`, `array` or `object`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ParamType(pub String);

impl ParamType {
    pub const STRING: &'static str = "string";
    pub const ARRAY: &'static str = "array";
    pub const OBJECT: &'static str = "object";

    pub fn string() -> Self {
        ParamType(Self::STRING.to_owned())
    }
    pub fn array() -> Self {
        ParamType(Self::ARRAY.to_owned())
    }
    pub fn object() -> Self {
        ParamType(Self::OBJECT.to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_valid(&self) -> bool {
        matches!(self.0.as_str(), Self::STRING | Self::ARRAY | Self::OBJECT)
    }
}

impl std::fmt::Display for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A param value: a string, an array of strings or an object of strings. Decodes as
/// upstream's `ParamValue.UnmarshalJSON` does: `[...]` of strings is an array, `{...}` of
/// strings an object, anything else a string (numbers and booleans as their JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    String(String),
    Array(Vec<String>),
    Object(BTreeMap<String, String>),
}

impl Default for ParamValue {
    fn default() -> Self {
        ParamValue::String(String::new())
    }
}

impl ParamValue {
    pub fn type_(&self) -> ParamType {
        match self {
            ParamValue::String(_) => ParamType::string(),
            ParamValue::Array(_) => ParamType::array(),
            ParamValue::Object(_) => ParamType::object(),
        }
    }

    /// Every string inside the value.
    pub fn strings(&self) -> Vec<&str> {
        match self {
            ParamValue::String(s) => vec![s.as_str()],
            ParamValue::Array(a) => a.iter().map(String::as_str).collect(),
            ParamValue::Object(o) => o.values().map(String::as_str).collect(),
        }
    }

    pub fn from_json(v: &Value) -> Self {
        match v {
            Value::String(s) => ParamValue::String(s.clone()),
            Value::Array(a) if a.iter().all(Value::is_string) => ParamValue::Array(
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
            ),
            Value::Object(m) if m.values().all(Value::is_string) => ParamValue::Object(
                m.iter()
                    .filter_map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect(),
            ),
            Value::Null => ParamValue::String(String::new()),
            other => ParamValue::String(other.to_string()),
        }
    }
}

impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamValue::String(v) => v.serialize(s),
            ParamValue::Array(v) => v.serialize(s),
            ParamValue::Object(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(ParamValue::from_json(&v))
    }
}

/// `PropertySpec`: the type of one key of an object param.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertySpec {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ParamType>,
}

/// `ParamSpec`: a declared param.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ParamType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, PropertySpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ParamValue>,
    #[serde(default, rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub enum_: Vec<String>,
}

impl ParamSpec {
    /// The declared type, `string` when unset (after defaults it is always set).
    pub fn effective_type(&self) -> ParamType {
        match &self.type_ {
            Some(t) if !t.0.is_empty() => t.clone(),
            _ => match &self.default {
                Some(d) => d.type_(),
                None if self.properties.is_some() => ParamType::object(),
                None => ParamType::string(),
            },
        }
    }

    /// `ParamSpec.SetDefaults` (param_types.go): the type is inferred from the default value
    /// or from `properties`, `string` otherwise; object properties default to `string`.
    pub fn set_defaults(&mut self) {
        let t = self.effective_type();
        self.type_ = Some(t);
        if let Some(props) = &mut self.properties {
            for p in props.values_mut() {
                if p.type_.as_ref().is_none_or(|t| t.0.is_empty()) {
                    p.type_ = Some(ParamType::string());
                }
            }
        }
    }
}

/// `Param`: a name and a value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Param {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: ParamValue,
}

/// Sorts declared params by type: (string names, array names, object specs).
pub fn sort_by_type(params: &[ParamSpec]) -> (BTreeSet<String>, BTreeSet<String>, Vec<&ParamSpec>) {
    let mut strings = BTreeSet::new();
    let mut arrays = BTreeSet::new();
    let mut objects = Vec::new();
    for p in params {
        match p.effective_type().as_str() {
            ParamType::ARRAY => {
                arrays.insert(p.name.clone());
            }
            ParamType::OBJECT => objects.push(p),
            _ => {
                strings.insert(p.name.clone());
            }
        }
    }
    (strings, arrays, objects)
}

fn is_string_array_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '.' | '-'))
}

fn is_object_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '-'))
}

/// Validates declared params: unique names (`ValidateNoDuplicateNames`), name formats
/// (`ValidateNameFormat`), valid types and default types (`ValidateType`), object properties
/// (`ValidateObjectType`), enums (`validateParamEnums`). Paths are relative to the owner of
/// `params` (the spec).
pub fn validate_param_specs(params: &[ParamSpec], flags: &super::FeatureFlags) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut seen = BTreeSet::new();
    for (i, p) in params.iter().enumerate() {
        if !seen.insert(p.name.as_str()) {
            errs.push(
                FieldError::new(
                    "name",
                    format!("parameter appears more than once: {:?}", p.name),
                )
                .via_index(i)
                .via_field("params"),
            );
        }
        if p.name.is_empty() {
            errs.push(FieldError::missing("name").via_index(i).via_field("params"));
        }
        let t = p.effective_type();
        if !t.is_valid() {
            errs.push(
                FieldError::invalid("type", &t)
                    .via_index(i)
                    .via_field("params"),
            );
            continue;
        }
        if let Some(d) = &p.default
            && d.type_() != t
        {
            errs.push(
                FieldError::new(
                    "default",
                    format!(
                        "{:?} type does not match default value's type: {:?}",
                        t.0,
                        d.type_().0
                    ),
                )
                .via_index(i)
                .via_field("params"),
            );
        }
        if t.as_str() == ParamType::OBJECT {
            errs.also(
                super::api_fields(flags, "object type parameter", super::ApiLevel::Beta)
                    .via_index(i)
                    .via_field("params"),
            );
            match &p.properties {
                None => errs.push(
                    FieldError::missing("properties")
                        .via_index(i)
                        .via_field("params"),
                ),
                Some(props) => {
                    let bad: Vec<&str> = props
                        .iter()
                        .filter(|(_, s)| {
                            s.type_
                                .as_ref()
                                .is_some_and(|t| !t.0.is_empty() && t.0 != ParamType::STRING)
                        })
                        .map(|(k, _)| k.as_str())
                        .collect();
                    if !bad.is_empty() {
                        errs.push(
                            FieldError::new(
                                "properties",
                                format!(
                                    "The value type specified for these keys [{}] is invalid",
                                    bad.join(" ")
                                ),
                            )
                            .via_index(i)
                            .via_field("params"),
                        );
                    }
                    // A partial object default is fine: the keys a run provides are merged
                    // over it (tektoncd/pipeline examples/v1/taskruns/object-param-result.yaml
                    // runs in upstream CI with a default lacking `commit`); completeness is a
                    // run-time check.
                }
            }
        }
        if !p.enum_.is_empty() {
            if !flags.enable_param_enum {
                errs.push(
                    FieldError::new(
                        "enum",
                        "feature flag `enable-param-enum` should be set to true to use Enum",
                    )
                    .via_index(i)
                    .via_field("params"),
                );
            }
            if t.as_str() != ParamType::STRING {
                errs.push(
                    FieldError::new(
                        "enum",
                        format!("enum can only be set with string type param: {:?}", p.name),
                    )
                    .via_index(i)
                    .via_field("params"),
                );
            }
            let mut vals = BTreeSet::new();
            for v in &p.enum_ {
                if !vals.insert(v) {
                    errs.push(
                        FieldError::new(
                            "enum",
                            format!("parameter enum value {v:?} appears more than once"),
                        )
                        .via_index(i)
                        .via_field("params"),
                    );
                }
            }
            if let Some(ParamValue::String(d)) = &p.default
                && !p.enum_.contains(d)
            {
                errs.push(
                    FieldError::new(
                        "default",
                        format!("param default value {d:?} not in the enum list"),
                    )
                    .via_index(i)
                    .via_field("params"),
                );
            }
        }
    }
    let (strings, arrays, objects) = sort_by_type(params);
    let bad: Vec<&str> = strings
        .iter()
        .chain(arrays.iter())
        .filter(|n| !n.is_empty() && !is_string_array_name(n))
        .map(String::as_str)
        .collect();
    if !bad.is_empty() {
        errs.push(FieldError::new(
            "params",
            format!(
                "The format of following array and string variable names is invalid: [{}]",
                bad.join(" ")
            ),
        ));
    }
    let mut bad_obj = Vec::new();
    for o in objects {
        let keys: Vec<&str> = o
            .properties
            .iter()
            .flat_map(|p| p.keys())
            .filter(|k| !is_object_name(k))
            .map(String::as_str)
            .collect();
        if !is_object_name(&o.name) || !keys.is_empty() {
            bad_obj.push(format!("{}:[{}]", o.name, keys.join(" ")));
        }
    }
    if !bad_obj.is_empty() {
        errs.push(FieldError::new(
            "params",
            format!(
                "Object param name and key name format is invalid: map[{}]",
                bad_obj.join(" ")
            ),
        ));
    }
    errs
}

/// Validates a list of provided params: names unique (`ValidateNoDuplicateNames`).
pub fn validate_params_unique(params: &[Param]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut seen = BTreeSet::new();
    for (i, p) in params.iter().enumerate() {
        if !seen.insert(p.name.as_str()) {
            errs.push(
                FieldError::new(
                    "name",
                    format!(
                        "parameter names must be unique, the parameter {:?} is also defined at",
                        p.name
                    ),
                )
                .via_index(i),
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_decode_like_upstream() {
        let v: ParamValue = serde_json::from_value(json!(["a", "b"])).unwrap();
        assert_eq!(v, ParamValue::Array(vec!["a".into(), "b".into()]));
        let v: ParamValue = serde_json::from_value(json!(3)).unwrap();
        assert_eq!(v, ParamValue::String("3".into()));
        let v: ParamValue = serde_json::from_value(json!({"k": "v"})).unwrap();
        assert_eq!(v.type_().as_str(), "object");
    }

    // param_types.go ParamSpec.SetDefaults: type inferred from the default.
    #[test]
    fn type_inferred_from_default() {
        let mut p = ParamSpec {
            name: "a".into(),
            default: Some(ParamValue::Array(vec![])),
            ..ParamSpec::default()
        };
        p.set_defaults();
        assert_eq!(p.type_.unwrap().as_str(), "array");
    }

    // task_validation.go ValidateType: default type must match.
    #[test]
    fn default_type_mismatch() {
        let p = ParamSpec {
            name: "a".into(),
            type_: Some(ParamType::string()),
            default: Some(ParamValue::Array(vec![])),
            ..ParamSpec::default()
        };
        let errs = validate_param_specs(&[p], &super::super::FeatureFlags::default());
        assert_eq!(errs.0[0].path.to_string(), "params[0].default");
        assert!(
            errs.0[0]
                .message
                .contains("type does not match default value's type")
        );
    }
}
