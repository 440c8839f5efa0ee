//! Matrix (tektoncd/pipeline `pkg/apis/pipeline/v1/matrix_types.go`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sluice_core::{FieldError, FieldErrors};

use super::param::{Param, ParamValue};

/// `IncludeParams`: an explicit combination.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncludeParams {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
}

/// `Matrix`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matrix {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<IncludeParams>,
}

impl Matrix {
    /// `CountCombinations`: the product of the array lengths, plus include entries that add
    /// new combinations (an include whose params are all matrix params only fills in).
    pub fn count_combinations(&self) -> usize {
        let mut count: usize = if self.params.is_empty() { 0 } else { 1 };
        for p in &self.params {
            if let ParamValue::Array(a) = &p.value {
                count = count.saturating_mul(a.len());
            }
        }
        let names: BTreeSet<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        for inc in &self.include {
            let adds = self.params.is_empty()
                || inc.params.iter().any(|p| !names.contains(p.name.as_str()))
                    && inc.params.iter().all(|p| !names.contains(p.name.as_str()));
            if adds {
                count = count.saturating_add(1);
            }
        }
        count
    }

    /// Matrix rules of `PipelineTask.validateMatrix`: params are arrays (include params
    /// strings), names unique, no param both in `params` and the matrix, combinations within
    /// the limit. Paths relative to the pipeline task.
    pub fn validate(&self, task_params: &[Param], max_combinations: usize) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut seen = BTreeSet::new();
        for (i, p) in self.params.iter().enumerate() {
            if !seen.insert(p.name.as_str()) {
                errs.push(
                    FieldError::new(
                        "name",
                        format!(
                            "parameter names must be unique, the parameter {:?} is also defined at",
                            p.name
                        ),
                    )
                    .via_index(i)
                    .via_field("params")
                    .via_field("matrix"),
                );
            }
            let whole_ref = matches!(&p.value, ParamValue::String(s) if sluice_expr::tekton::whole_reference(s).is_some());
            if !matches!(p.value, ParamValue::Array(_)) && !whole_ref {
                errs.push(
                    FieldError::invalid(
                        "value",
                        format!(
                            "parameters of type array only are allowed in matrix: {:?}",
                            p.name
                        ),
                    )
                    .via_index(i)
                    .via_field("params")
                    .via_field("matrix"),
                );
            }
            if task_params.iter().any(|t| t.name == p.name) {
                errs.push(FieldError::new(
                    "matrix",
                    format!(
                        "invalid value: parameter names must be unique, the parameter {:?} is also defined in pipeline task params",
                        p.name
                    ),
                ));
            }
        }
        for (i, inc) in self.include.iter().enumerate() {
            for (j, p) in inc.params.iter().enumerate() {
                if !matches!(p.value, ParamValue::String(_)) {
                    errs.push(
                        FieldError::invalid(
                            "value",
                            format!(
                                "parameters of type string only are allowed in matrix.include: {:?}",
                                p.name
                            ),
                        )
                        .via_index(j)
                        .via_field("params")
                        .via_index(i)
                        .via_field("include")
                        .via_field("matrix"),
                    );
                }
            }
        }
        let n = self.count_combinations();
        if n > max_combinations {
            errs.push(FieldError::new(
                "matrix",
                format!("expected 0 <= {n} <= {max_combinations}: matrix combinations"),
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations() {
        let m = Matrix {
            params: vec![
                Param {
                    name: "a".into(),
                    value: ParamValue::Array(vec!["1".into(), "2".into()]),
                },
                Param {
                    name: "b".into(),
                    value: ParamValue::Array(vec!["1".into(), "2".into(), "3".into()]),
                },
            ],
            include: vec![],
        };
        assert_eq!(m.count_combinations(), 6);
        let errs = m.validate(&[], 4);
        assert_eq!(errs.0[0].path.to_string(), "matrix");
        assert!(errs.0[0].message.contains("expected 0 <= 6 <= 4"));
    }
}
