//! Label selectors (k8s.io/apimachinery/pkg/labels) and field selectors.
//!
//! The string grammar follows `labels.Parse`: comma-separated requirements `key`, `!key`,
//! `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key>1`,
//! `key<1`. The structured form is `metav1.LabelSelector` (`matchLabels`, `matchExpressions`
//! with `In`, `NotIn`, `Exists`, `DoesNotExist`); an empty selector matches everything.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::field::{FieldError, FieldErrors};
use crate::names;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Equals,
    NotEquals,
    GreaterThan,
    LessThan,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Operator,
    pub values: BTreeSet<String>,
}

impl Requirement {
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        let v = get(&self.key);
        match self.op {
            Operator::In | Operator::Equals => v.is_some_and(|v| self.values.contains(&v)),
            Operator::NotIn | Operator::NotEquals => !v.is_some_and(|v| self.values.contains(&v)),
            Operator::Exists => v.is_some(),
            Operator::DoesNotExist => v.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), Some(bound)) = (
                    v.and_then(|v| v.parse::<i64>().ok()),
                    self.values
                        .iter()
                        .next()
                        .and_then(|b| b.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == Operator::GreaterThan {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

/// A label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

/// A selector string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

impl Selector {
    /// Matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches_map<'a>(
        &self,
        labels: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> bool {
        let get = |k: &str| {
            labels
                .clone()
                .into_iter()
                .find(|(lk, _)| *lk == k)
                .map(|(_, v)| v.to_owned())
        };
        self.requirements.iter().all(|r| r.matches(&get))
    }

    /// Parses the string form (`labels.Parse`).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError(format!(
                    "found '', expected: identifier in {s:?}"
                )));
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(Selector { requirements: reqs })
    }

    /// Builds a selector from a `metav1.LabelSelector` value, validating it as the API server
    /// does (`ValidateLabelSelector`). Errors carry paths relative to the selector.
    pub fn from_label_selector(v: &Value) -> Result<Self, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut reqs = Vec::new();
        let Some(m) = v.as_object() else {
            return if v.is_null() {
                Ok(Selector::everything())
            } else {
                Err(FieldError::new("", "expected a label selector (object)").into())
            };
        };
        if let Some(ml) = m.get("matchLabels") {
            match ml.as_object() {
                Some(ml) => {
                    for (k, val) in ml {
                        for msg in names::qualified_name(k) {
                            errs.push(FieldError::invalid(
                                format!("matchLabels[{k}]").as_str(),
                                format!("{k:?}: {msg}"),
                            ));
                        }
                        let val = match val {
                            Value::String(s) => s.clone(),
                            other => {
                                errs.push(FieldError::new(
                                    format!("matchLabels[{k}]").as_str(),
                                    format!("expected a string, got {other}"),
                                ));
                                continue;
                            }
                        };
                        for msg in names::label_value(&val) {
                            errs.push(FieldError::invalid(
                                format!("matchLabels[{k}]").as_str(),
                                format!("{val:?}: {msg}"),
                            ));
                        }
                        reqs.push(Requirement {
                            key: k.clone(),
                            op: Operator::In,
                            values: BTreeSet::from([val]),
                        });
                    }
                }
                None if ml.is_null() => {}
                None => errs.push(FieldError::new("matchLabels", "expected a map of strings")),
            }
        }
        if let Some(me) = m.get("matchExpressions") {
            match me.as_array() {
                Some(items) => {
                    for (i, e) in items.iter().enumerate() {
                        match requirement_from_expression(e) {
                            Ok(r) => reqs.push(r),
                            Err(e) => {
                                errs.also(e.via_field_index("matchExpressions", i));
                            }
                        }
                    }
                }
                None if me.is_null() => {}
                None => errs.push(FieldError::new("matchExpressions", "expected a list")),
            }
        }
        if errs.is_empty() {
            Ok(Selector { requirements: reqs })
        } else {
            Err(errs)
        }
    }
}

fn requirement_from_expression(e: &Value) -> Result<Requirement, FieldErrors> {
    let mut errs = FieldErrors::new();
    let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
    if key.is_empty() {
        errs.push(FieldError::missing("key"));
    } else {
        for msg in names::qualified_name(key) {
            errs.push(FieldError::invalid("key", format!("{key:?}: {msg}")));
        }
    }
    let op_s = e
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let values: BTreeSet<String> = e
        .get("values")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let op = match op_s {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "" => {
            errs.push(FieldError::missing("operator"));
            Operator::Exists
        }
        other => {
            errs.push(FieldError::new(
                "operator",
                format!("Unsupported value: {other:?}: supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""),
            ));
            Operator::Exists
        }
    };
    match op {
        Operator::In | Operator::NotIn if values.is_empty() => errs.push(FieldError::new(
            "values",
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            errs.push(FieldError::new(
                "values",
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ))
        }
        _ => {}
    }
    if errs.is_empty() {
        Ok(Requirement {
            key: key.to_owned(),
            op,
            values,
        })
    } else {
        Err(errs)
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn check_key(key: &str, whole: &str) -> Result<(), SelectorError> {
    match names::qualified_name(key).first() {
        Some(msg) => Err(SelectorError(format!(
            "invalid label key {key:?} in {whole:?}: {msg}"
        ))),
        None => Ok(()),
    }
}

fn check_value(v: &str, whole: &str) -> Result<(), SelectorError> {
    match names::label_value(v).first() {
        Some(msg) => Err(SelectorError(format!(
            "invalid label value {v:?} in {whole:?}: {msg}"
        ))),
        None => Ok(()),
    }
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        check_key(key, part)?;
        return Ok(Requirement {
            key: key.to_owned(),
            op: Operator::DoesNotExist,
            values: BTreeSet::new(),
        });
    }
    let key_end = part.find(|c: char| !is_key_char(c)).unwrap_or(part.len());
    let key = &part[..key_end];
    check_key(key, part)?;
    let rest = part[key_end..].trim_start();
    if rest.is_empty() {
        return Ok(Requirement {
            key: key.to_owned(),
            op: Operator::Exists,
            values: BTreeSet::new(),
        });
    }
    let (op, rest) = if let Some(r) = rest.strip_prefix("==") {
        (Operator::Equals, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (Operator::NotEquals, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (Operator::Equals, r)
    } else if let Some(r) = rest.strip_prefix('>') {
        (Operator::GreaterThan, r)
    } else if let Some(r) = rest.strip_prefix('<') {
        (Operator::LessThan, r)
    } else if let Some(r) = rest.strip_prefix("notin") {
        (Operator::NotIn, r)
    } else if let Some(r) = rest.strip_prefix("in") {
        (Operator::In, r)
    } else {
        return Err(SelectorError(format!(
            "found '{rest}', expected: '=', '!=', '==', 'in', notin' in {part:?}"
        )));
    };
    let rest = rest.trim();
    let values: BTreeSet<String> = match op {
        Operator::In | Operator::NotIn => {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| {
                    SelectorError(format!("found '{rest}', expected: '(' ... ')' in {part:?}"))
                })?;
            let vals: BTreeSet<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
            for v in &vals {
                check_value(v, part)?;
            }
            vals
        }
        Operator::GreaterThan | Operator::LessThan => {
            if rest.parse::<i64>().is_err() {
                return Err(SelectorError(format!(
                    "for 'Gt', 'Lt' operators, the value must be an integer in {part:?}"
                )));
            }
            BTreeSet::from([rest.to_owned()])
        }
        _ => {
            check_value(rest, part)?;
            BTreeSet::from([rest.to_owned()])
        }
    };
    Ok(Requirement {
        key: key.to_owned(),
        op,
        values,
    })
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| {
                let vals = r.values.iter().cloned().collect::<Vec<_>>().join(",");
                match r.op {
                    Operator::In => format!("{} in ({vals})", r.key),
                    Operator::NotIn => format!("{} notin ({vals})", r.key),
                    Operator::Equals => format!("{}={vals}", r.key),
                    Operator::NotEquals => format!("{}!={vals}", r.key),
                    Operator::Exists => r.key.clone(),
                    Operator::DoesNotExist => format!("!{}", r.key),
                    Operator::GreaterThan => format!("{}>{vals}", r.key),
                    Operator::LessThan => format!("{}<{vals}", r.key),
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// A field selector (`metadata.name=x,metadata.namespace!=y`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(SelectorError(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            terms.push((field.trim().to_owned(), eq, value.trim().to_owned()));
        }
        Ok(FieldSelector { terms })
    }

    /// `get` returns the value of a field for the object under test.
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|(f, eq, v)| {
            let actual = get(f).unwrap_or_default();
            (actual == *v) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_and_match_strings() {
        let s = Selector::parse("app=web, env!=prod,tier in (a, b),!legacy,team").expect("parses");
        assert_eq!(s.requirements.len(), 5);
        let labels = [("app", "web"), ("tier", "b"), ("team", "x")];
        assert!(s.matches_map(labels));
        assert!(!s.matches_map([("app", "web"), ("tier", "c"), ("team", "x")]));
        assert!(!s.matches_map([
            ("app", "web"),
            ("tier", "a"),
            ("team", "x"),
            ("legacy", "1")
        ]));
        assert!(Selector::parse("").expect("empty").matches_map([]));
        assert!(Selector::parse("a in b").is_err());
        assert!(Selector::parse("a=b c").is_err());
        assert!(
            Selector::parse("x>3")
                .expect("gt")
                .matches_map([("x", "4")])
        );
    }

    #[test]
    fn structured_selectors() {
        let s = Selector::from_label_selector(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]
        }))
        .expect("valid");
        assert!(s.matches_map([("app", "web")]));
        assert!(!s.matches_map([("app", "web"), ("env", "prod")]));
        let e = Selector::from_label_selector(&json!({
            "matchExpressions": [{"key": "env", "operator": "In"}, {"key": "x", "operator": "Foo"}]
        }))
        .unwrap_err();
        let paths: Vec<String> = e.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            ["matchExpressions[0].values", "matchExpressions[1].operator"]
        );
    }

    proptest::proptest! {
        #[test]
        fn selector_parsing_never_panics(s in "([a-z]{1,3}|=|==|!=|!| in | notin |\\(|\\)|,|>|<|[0-9]| |/|\\.){0,24}") {
            if let Ok(sel) = Selector::parse(&s) {
                // what parses, prints back into something that parses to the same selector
                let again = Selector::parse(&sel.to_string());
                proptest::prop_assert_eq!(again.ok(), Some(sel));
            }
            let _ = FieldSelector::parse(&s);
        }
    }

    #[test]
    fn field_selectors() {
        let f = FieldSelector::parse("metadata.name=a,metadata.namespace!=b").expect("parses");
        let get = |k: &str| match k {
            "metadata.name" => Some("a".to_owned()),
            "metadata.namespace" => Some("c".to_owned()),
            _ => None,
        };
        assert!(f.matches(&get));
    }
}
