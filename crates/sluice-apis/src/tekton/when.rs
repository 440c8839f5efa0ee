//! When expressions (tektoncd/pipeline `pkg/apis/pipeline/v1/when_types.go`, `when_validation.go`).

use serde::{Deserialize, Serialize};
use sluice_core::{FieldError, FieldErrors};

use super::FeatureFlags;

/// `WhenExpression`: `input` `operator` `values`, or a `cel` expression.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhenExpression {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub input: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(default, rename = "cel", skip_serializing_if = "String::is_empty")]
    pub cel: String,
}

impl WhenExpression {
    /// Every string in the expression with its path relative to the expression.
    pub fn strings(&self) -> Vec<(String, &str)> {
        let mut out = vec![
            ("input".to_owned(), self.input.as_str()),
            ("cel".to_owned(), self.cel.as_str()),
        ];
        for (i, v) in self.values.iter().flatten().enumerate() {
            out.push((format!("values[{i}]"), v.as_str()));
        }
        out
    }
}

/// `WhenExpressions.validate`: operators `in`/`notin`, non-empty values, `cel` only when
/// `enable-cel-in-whenexpression` is on and then alone. Paths relative to the list.
pub fn validate_when(whens: &[WhenExpression], flags: &FeatureFlags) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, w) in whens.iter().enumerate() {
        let mut e = FieldErrors::new();
        if !w.cel.is_empty() {
            if !flags.enable_cel_in_whenexpression {
                e.push(FieldError::new(
                    "",
                    "feature flag enable-cel-in-whenexpression should be set to true to use CEL: {} in WhenExpression"
                        .replace("{}", &w.cel),
                ));
            }
            // when_validation.go compiles the expression with cel-go, whose parser limits
            // size and recursion; the expression's variables are inside string literals
            if let Err(err) = sluice_expr::cel::check_limits(&w.cel) {
                e.push(FieldError::new(
                    "",
                    format!(
                        "invalid cel expression: {} with err: {err}",
                        sluice_expr::snippet(&w.cel)
                    ),
                ));
            }
            if !w.input.is_empty() || !w.operator.is_empty() || w.values.is_some() {
                e.push(FieldError::new(
                    "",
                    format!(
                        "cel and input+operator+values cannot be set in one WhenExpression: {w:?}"
                    ),
                ));
            }
        } else {
            if !matches!(w.operator.as_str(), "in" | "notin") {
                e.push(FieldError::invalid(
                    "operator",
                    format!(
                        "operator {:?} is not recognized. valid operators: in,notin",
                        w.operator
                    ),
                ));
            }
            if w.values.as_ref().is_none_or(Vec::is_empty) {
                e.push(FieldError::new(
                    "values",
                    "expecting non-empty values field",
                ));
            }
        }
        errs.also(e.via_index(i));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_values() {
        let w = WhenExpression {
            input: "a".into(),
            operator: "is".into(),
            ..WhenExpression::default()
        };
        let errs = validate_when(&[w], &FeatureFlags::default());
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, ["[0].operator", "[0].values"]);
    }

    // tektoncd/pipeline when_validation.go compiles `cel` with cel-go, whose parser refuses
    // recursion past 250 and sources past 100,000 code points (google/cel-go
    // parser/parser.go NewParser defaults); issue 18: `(` 100,000 deep must not overflow.
    #[test]
    fn cel_limits() {
        let flags = FeatureFlags {
            enable_cel_in_whenexpression: true,
            ..FeatureFlags::default()
        };
        let cel = |c: String| WhenExpression {
            cel: c,
            ..WhenExpression::default()
        };
        let deep = cel(format!(
            "{}'$(params.x)' == 'a'{}",
            "(".repeat(40_000),
            ")".repeat(40_000)
        ));
        let ok = cel("('$(params.x)' == 'a') && !('b' in ['c'])".into());
        let errs = validate_when(&[ok, deep], &flags);
        let found: Vec<(String, String)> = errs
            .iter()
            .map(|e| (e.path.to_string(), e.message.clone()))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "[1]");
        assert!(
            found[0].1.starts_with("invalid cel expression: ((((")
                && found[0]
                    .1
                    .ends_with("with err: expression recursion limit exceeded: 250"),
            "{}",
            found[0].1
        );
    }
}
