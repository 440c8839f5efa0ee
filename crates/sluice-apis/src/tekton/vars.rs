//! Checks of `$(...)` variables in Task steps against the declared params, results,
//! workspaces and context (tektoncd/pipeline `task_validation.go`
//! `ValidateUsageOfDeclaredParameters`, `validateArrayUsage`, `validateObjectUsage`,
//! `validateTaskResultsVariables`, `validateTaskContextVariables`, and
//! `pkg/substitution/substitution.go` for the messages).

use std::collections::{BTreeMap, BTreeSet};

use sluice_core::{FieldError, FieldErrors, FieldPath};
use sluice_expr::tekton::{Access, Var, references, whole_reference};

use super::param::{ParamSpec, ParamType};

/// What a Task spec declares, as variables see it.
#[derive(Debug, Default)]
pub struct Scope {
    pub all: BTreeSet<String>,
    pub arrays: BTreeSet<String>,
    /// Object params and their keys.
    pub objects: BTreeMap<String, BTreeSet<String>>,
    pub results: BTreeSet<String>,
    pub workspaces: BTreeSet<String>,
}

impl Scope {
    pub fn new(params: &[ParamSpec]) -> Self {
        let mut s = Scope::default();
        for p in params {
            s.all.insert(p.name.clone());
            match p.effective_type().as_str() {
                ParamType::ARRAY => {
                    s.arrays.insert(p.name.clone());
                }
                ParamType::OBJECT => {
                    s.objects.insert(
                        p.name.clone(),
                        p.properties
                            .iter()
                            .flat_map(|m| m.keys().cloned())
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        s
    }
}

/// Which checks apply.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// Params must be declared (a Task created on its own; embedded specs get propagated
    /// params, so upstream does not check them).
    pub declared_params: bool,
    /// `$(workspaces.w.*)` must name a declared workspace (same reasoning).
    pub declared_workspaces: bool,
}

/// One string of a step: its path, its text, and whether it is a whole `command`/`args`
/// element (where an array may be expanded).
pub type StepString<'a> = (FieldPath, &'a str, bool);

/// Checks one string. At most one finding per string for unknown variables (upstream stops
/// at the first), plus one for type misuse.
pub fn check_string(
    path: &FieldPath,
    s: &str,
    in_list: bool,
    is_script: bool,
    scope: &Scope,
    checks: Checks,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !s.contains("$(") {
        return errs;
    }
    let at = |msg: String| FieldError {
        severity: sluice_core::Severity::Error,
        path: path.clone(),
        message: msg,
    };
    let mut unknown = false;
    let mut misuse = false;
    for r in references(s) {
        match r.var() {
            Var::Param { name, access } => {
                let name = name.as_ref();
                if checks.declared_params && !scope.all.contains(name) {
                    unknown = true;
                    continue;
                }
                if let Access::Key(k) = &access
                    && k.contains('.')
                    && !scope.all.contains(name)
                {
                    continue;
                }
                if scope.arrays.contains(name) {
                    match access {
                        Access::Whole | Access::Star => {
                            if misuse {
                                continue;
                            }
                            let isolated = whole_reference(s).is_some();
                            if !in_list {
                                errs.push(at(format!("variable type invalid in {s:?}")));
                                misuse = true;
                            } else if !isolated {
                                errs.push(at(format!(
                                    "variable is not properly isolated in {s:?}"
                                )));
                                misuse = true;
                            } else if access == Access::Whole {
                                // Upstream accepts the isolated `$(params.x)` form
                                // (`ValidateVariableReferenceIsIsolated`) and expands it like
                                // `[*]` (`ApplyArrayReplacements`); its docs and examples use
                                // the `[*]` form.
                                errs.push(FieldError::warning(
                                    path.clone(),
                                    format!(
                                        "array param {name:?} used as \"$(params.{name})\" instead of \"$(params.{name}[*])\"; Tekton expands it whole, but \"$(params.{name}[*])\" is the documented form"
                                    ),
                                ));
                                misuse = true;
                            }
                        }
                        Access::Index(_) | Access::Key(_) => {}
                    }
                } else if let Some(keys) = scope.objects.get(name) {
                    match access {
                        Access::Whole | Access::Star => {
                            if !misuse {
                                errs.push(at(format!("variable type invalid in {s:?}")));
                                misuse = true;
                            }
                        }
                        Access::Key(k) => {
                            if checks.declared_params && !keys.contains(k) {
                                unknown = true;
                            }
                        }
                        Access::Index(_) => {}
                    }
                }
            }
            Var::ResultPath { name } if is_script && !scope.results.contains(name) => {
                unknown = true;
            }
            Var::Context { path: p } => {
                if let Some(rest) = p.strip_prefix("taskRun.") {
                    if !matches!(rest, "name" | "namespace" | "uid") {
                        unknown = true;
                    }
                } else if let Some(rest) = p.strip_prefix("task.")
                    && !matches!(rest, "name" | "retry-count")
                {
                    unknown = true;
                }
            }
            Var::Workspace { name, attr }
                if (checks.declared_workspaces && !scope.workspaces.contains(name))
                    || !matches!(attr, "path" | "bound" | "claim" | "volume") =>
            {
                unknown = true;
            }
            _ => {}
        }
    }
    if unknown {
        errs.0
            .insert(0, at(format!("non-existent variable in {s:?}")));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::param::ParamValue;

    fn scope() -> Scope {
        let mut s = Scope::new(&[
            ParamSpec {
                name: "s".into(),
                ..ParamSpec::default()
            },
            ParamSpec {
                name: "a".into(),
                default: Some(ParamValue::Array(vec![])),
                ..ParamSpec::default()
            },
        ]);
        s.results.insert("r".into());
        s
    }

    const ALL: Checks = Checks {
        declared_params: true,
        declared_workspaces: true,
    };

    // substitution.go ValidateNoReferencesToUnknownVariables: "non-existent variable in %q".
    #[test]
    fn unknown_param() {
        let p = FieldPath::parse("steps[0].env[0].value");
        let e = check_string(&p, "$(params.userHome)", false, false, &scope(), ALL);
        assert_eq!(
            e.0[0].message,
            "non-existent variable in \"$(params.userHome)\""
        );
        assert!(
            check_string(
                &p,
                "$(params.s) $(params[\"s\"])",
                false,
                false,
                &scope(),
                ALL
            )
            .is_empty()
        );
    }

    // task_validation.go validateStepArrayUsage: arrays only whole, isolated, in args.
    #[test]
    fn array_usage() {
        let p = FieldPath::parse("steps[0].args[0]");
        assert!(check_string(&p, "$(params.a[*])", true, false, &scope(), ALL).is_empty());
        assert!(check_string(&p, "$(params.a[0])", true, false, &scope(), ALL).is_empty());
        let e = check_string(&p, "$(params.a)", true, false, &scope(), ALL);
        assert_eq!(e.0[0].severity, sluice_core::Severity::Warning);
        assert!(e.0[0].message.contains("instead of \"$(params.a[*])\""));
        let e = check_string(&p, "x $(params.a[*])", true, false, &scope(), ALL);
        assert!(e.0[0].message.contains("not properly isolated"));
        let e = check_string(&p, "echo $(params.a[*])", false, true, &scope(), ALL);
        assert!(e.0[0].message.contains("variable type invalid"));
    }

    #[test]
    fn results_in_script() {
        let p = FieldPath::parse("steps[0].script");
        assert!(check_string(&p, "x > $(results.r.path)", false, true, &scope(), ALL).is_empty());
        assert!(!check_string(&p, "x > $(results.q.path)", false, true, &scope(), ALL).is_empty());
    }
}
