//! JMESPath (jmespath.org) with Kyverno's custom functions (`pkg/engine/jmespath`), evaluated
//! over `serde_json::Value`.
//!
//! Kyverno's go-jmespath fork reports a path through a missing map key (`request.object.
//! metadata.labels.app` when there are no labels) as `Unknown key "labels" in path`; callers
//! use [`Expr::search_strict`] for that and [`Expr::search`] for plain JMESPath (null).
//!
//! The parser (with its size and nesting limits) is `sluice_expr::jmespath`, shared with
//! validation; this module is the interpreter. Every evaluation runs within the [`Budget`] of
//! its [`Scope`] (steps, bytes of values built, time, value depth): one budget per rule
//! evaluation, so no expression can exhaust memory or time, and none recurses deeper than
//! its syntax tree, which the parser bounds.

mod budget;
mod eval;
pub(crate) use eval::split_path;
mod functions;

pub use budget::{
    Budget, EVAL_LIMITS, EvalLimits, MAX_EVAL_BYTES, MAX_EVAL_STEPS, MAX_EVAL_TIME,
    MAX_VALUE_DEPTH, budget_with, charge_value, check_value_depth, rule_budget,
};
pub use eval::Scope;
pub use sluice_expr::jmespath::{
    Arith, Ast, Cmp, JmesError, MAX_EXPRESSION_LEN, MAX_NESTING, parse, snippet,
};

use serde_json::Value;

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub source: String,
    pub ast: Ast,
}

impl Expr {
    /// Parses and checks `source` (unknown functions and wrong arities are load-time errors).
    pub fn compile(source: &str) -> Result<Self, JmesError> {
        let ast = sluice_expr::jmespath::compile(source)?;
        Ok(Expr {
            source: source.to_owned(),
            ast,
        })
    }

    /// Evaluates against `scope`; missing keys along a plain path are errors.
    pub fn search_strict(&self, scope: &Scope<'_>) -> Result<Value, JmesError> {
        if let Some(missing) = eval::missing_key(&self.ast, scope, false) {
            return Err(JmesError::NotFound(missing));
        }
        self.search(scope)
    }

    /// As [`Expr::search_strict`], except that a path's last key missing from an existing map
    /// is null: how preconditions see fields (kyverno/kyverno test/cli/test/
    /// nil-values-in-variables and custom-functions: `{{ request.object.spec.duration }}` is
    /// null when `duration` is absent, `{{ element.hostPath.path }}` fails to resolve when
    /// `hostPath` is).
    pub fn search_lenient(&self, scope: &Scope<'_>) -> Result<Value, JmesError> {
        if let Some(missing) = eval::missing_key(&self.ast, scope, true) {
            return Err(JmesError::NotFound(missing));
        }
        self.search(scope)
    }

    /// Evaluates against `scope` (missing keys are null, as in standard JMESPath), within
    /// the scope's [`Budget`]: over it, a [`JmesError::Limit`].
    pub fn search(&self, scope: &Scope<'_>) -> Result<Value, JmesError> {
        eval::eval_root(&self.ast, scope)
    }
}

/// Evaluates `source` against `data` (tests, one-offs).
pub fn search(source: &str, data: &Value) -> Result<Value, JmesError> {
    let e = Expr::compile(source)?;
    e.search(&Scope::new(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // jmespath.org/specification.html examples.
    #[test]
    fn spec_examples() {
        let d = json!({"people": [{"first": "James", "age": 30}, {"first": "Jacob", "age": 40},
            {"first": "Jayden"}], "foo": {"bar": {"baz": [0, 1, 2]}}, "m": {"a": {"x": 1}, "b": {"x": 2}}});
        assert_eq!(
            search("people[*].first", &d),
            Ok(json!(["James", "Jacob", "Jayden"]))
        );
        assert_eq!(
            search("people[?age > `35`].first", &d),
            Ok(json!(["Jacob"]))
        );
        assert_eq!(search("people[].age", &d), Ok(json!([30, 40])));
        assert_eq!(search("foo.bar.baz[1]", &d), Ok(json!(1)));
        assert_eq!(search("foo.bar.baz[-1]", &d), Ok(json!(2)));
        assert_eq!(search("foo.bar.baz[0:2]", &d), Ok(json!([0, 1])));
        assert_eq!(search("foo.bar.baz[::-1]", &d), Ok(json!([2, 1, 0])));
        assert_eq!(search("m.*.x", &d), Ok(json!([1, 2])));
        assert_eq!(search("length(people)", &d), Ok(json!(3)));
        assert_eq!(
            search("people[0].{n: first, a: age}", &d),
            Ok(json!({"n": "James", "a": 30}))
        );
        assert_eq!(search("people | [0].first", &d), Ok(json!("James")));
        assert_eq!(search("missing || 'dflt'", &d), Ok(json!("dflt")));
        assert_eq!(
            search("sort_by(people[:2], &age)[0].first", &d),
            Ok(json!("James"))
        );
        assert_eq!(
            search("max_by(people[:2], &age).first", &d),
            Ok(json!("Jacob"))
        );
        assert_eq!(search("contains(foo.bar.baz, `1`)", &d), Ok(json!(true)));
        assert_eq!(search("!contains(foo.bar.baz, `5`)", &d), Ok(json!(true)));
        assert_eq!(search("[[`1`, `2`], [`3`]][]", &d), Ok(json!([1, 2, 3])));
        assert_eq!(
            search("people[?first == 'Jayden'] | length(@)", &d),
            Ok(json!(1))
        );
        assert_eq!(search("keys(m)", &d), Ok(json!(["a", "b"])));
        assert_eq!(search("`1` + `2`", &d), Ok(json!(3)));
    }

    // kyverno/kyverno pkg/engine/jmespath functions: split, to_upper, regex_match, ...
    #[test]
    fn kyverno_functions() {
        let d =
            json!({"s": "a:b:c", "img": "docker.io/nginx:1.2", "l": {"app": "x", "tier": "web"}});
        assert_eq!(search("split(s, ':')", &d), Ok(json!(["a", "b", "c"])));
        assert_eq!(search("to_upper(s)", &d), Ok(json!("A:B:C")));
        assert_eq!(
            search("regex_match('^docker.io/', img)", &d),
            Ok(json!(true))
        );
        assert_eq!(
            search("pattern_match('docker.io/*', img)", &d),
            Ok(json!(true))
        );
        assert_eq!(
            search("label_match(`{\"app\": \"x\"}`, l)", &d),
            Ok(json!(true))
        );
        assert_eq!(search("truncate(s, `3`)", &d), Ok(json!("a:b")));
        assert_eq!(
            search("items(l, 'key', 'value')[0]", &d),
            Ok(json!({"key": "app", "value": "x"}))
        );
        assert_eq!(
            search("base64_decode(base64_encode(s))", &d),
            Ok(json!("a:b:c"))
        );
        assert_eq!(search("replace_all(s, ':', '-')", &d), Ok(json!("a-b-c")));
        assert_eq!(search("divide(`10`, `4`)", &d), Ok(json!(2.5)));
        assert_eq!(
            search("semver_compare('1.2.3', '>=1.2.0')", &d),
            Ok(json!(true))
        );
        assert_eq!(
            search("image_normalize('nginx')", &d),
            Ok(json!("docker.io/nginx:latest"))
        );
        assert!(Expr::compile("nosuch(s)").is_err());
    }

    #[test]
    fn strict_missing_keys() {
        let d = json!({"request": {"object": {"metadata": {"name": "x"}}}});
        let s = Scope::new(&d);
        let e = Expr::compile("request.object.metadata.labels.app").expect("compiles");
        assert_eq!(
            e.search_strict(&s).map_err(|e| e.to_string()),
            Err("Unknown key \"labels\" in path".to_owned())
        );
        let e = Expr::compile("request.object.metadata.labels.app || ''").expect("compiles");
        assert_eq!(e.search_strict(&s), Ok(json!("")));
    }
}
