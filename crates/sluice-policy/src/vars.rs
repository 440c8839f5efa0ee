//! `{{ ... }}` variables (kyverno/kyverno `pkg/engine/variables/variables.go`): a string that
//! is one variable becomes the variable's value (any JSON type); variables inside longer
//! strings are interpolated (strings as-is, other values as JSON). `\{{` is a literal `{{`.

use serde_json::Value;

use crate::jmespath::{Expr, JmesError, Scope};

/// How unresolvable variables are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// Errors (missing keys included) fail the substitution.
    Strict,
    /// A missing last key is null; any other error (a missing key before the end included)
    /// resolves to `""`
    /// (`newPreconditionsVariableResolver`).
    Lenient,
}

pub use sluice_expr::jmespath::{VarRef, find_variables as find};

/// Errors of a substitution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VarError {
    #[error("failed to resolve {var} at path {path}: {source}")]
    Resolve {
        var: String,
        path: String,
        source: JmesError,
    },
}

impl VarError {
    /// Whether a limit (size, nesting, evaluation budget) stopped the substitution.
    pub fn is_limit(&self) -> bool {
        match self {
            VarError::Resolve { source, .. } => source.is_limit(),
        }
    }
}

/// `{{...}}` for messages: a long expression is cut.
fn shown(var: &str) -> String {
    crate::jmespath::snippet(var)
}

fn resolve(expr: &str, scope: &Scope<'_>, mode: Resolve) -> Result<Value, JmesError> {
    let r = Expr::compile(expr).and_then(|e| match mode {
        Resolve::Strict => e.search_strict(scope),
        Resolve::Lenient => e.search_lenient(scope),
    });
    match (r, mode) {
        (Ok(v), _) => Ok(v),
        // a limit is never resolved to a default: the rule is an error
        (Err(e), _) if e.is_limit() => Err(e),
        (Err(_), Resolve::Lenient) => Ok(Value::String(String::new())),
        (Err(e), Resolve::Strict) => Err(e),
    }
}

fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

/// The innermost `{{ }}` nested inside another one: (start, end) of the inner reference.
fn nested_inner(s: &str) -> Option<(usize, usize)> {
    let close = s.find("}}")?;
    let opens: Vec<usize> = s[..close].match_indices("{{").map(|(i, _)| i).collect();
    if opens.len() < 2 {
        return None;
    }
    let inner = *opens.last()?;
    Some((inner, close + 2))
}

/// Substitutes the variables of one string. Nested variables (`{{ f('{{ a }}') }}`) are
/// substituted innermost first, as text, as Kyverno does.
pub fn substitute_str(
    s: &str,
    scope: &Scope<'_>,
    mode: Resolve,
    path: &str,
) -> Result<Value, VarError> {
    if !s.contains("{{") {
        return Ok(Value::String(s.to_owned()));
    }
    let budget = |e: JmesError| VarError::Resolve {
        var: shown(s),
        path: path.to_owned(),
        source: e,
    };
    let mut cur: std::borrow::Cow<'_, str> = std::borrow::Cow::Borrowed(s);
    while let Some((a, b)) = nested_inner(&cur) {
        let expr = cur[a + 2..b - 2].trim();
        let v = resolve(expr, scope, mode).map_err(|e| VarError::Resolve {
            var: shown(&cur[a..b]),
            path: path.to_owned(),
            source: e,
        })?;
        let text = to_text(&v);
        // each round copies the string: count it, so nesting cannot make it quadratic
        scope
            .budget()
            .charge((cur.len() + text.len()) as u64)
            .map_err(|e| budget(e.into()))?;
        let next = format!("{}{}{}", &cur[..a], text, &cur[b..]);
        cur = std::borrow::Cow::Owned(next);
    }
    let s: &str = &cur;
    let refs = find(s);
    let err = |r: &VarRef, e: JmesError| VarError::Resolve {
        var: shown(&s[r.start..r.end]),
        path: path.to_owned(),
        source: e,
    };
    if refs.len() == 1 && refs[0].start == 0 && refs[0].end == s.len() {
        return resolve(&refs[0].expr, scope, mode).map_err(|e| err(&refs[0], e));
    }
    let mut out = String::new();
    let mut last = 0;
    for r in &refs {
        out.push_str(&s[last..r.start]);
        let v = resolve(&r.expr, scope, mode).map_err(|e| err(r, e))?;
        let text = to_text(&v);
        scope
            .budget()
            .charge((r.start - last + text.len()) as u64)
            .map_err(|e| err(r, e.into()))?;
        out.push_str(&text);
        last = r.end;
    }
    out.push_str(&s[last..]);
    Ok(Value::String(out.replace("\\{{", "{{")))
}

/// Substitutes every string (and key) of `v`.
pub fn substitute(v: &Value, scope: &Scope<'_>, mode: Resolve) -> Result<Value, VarError> {
    fn walk(
        v: &Value,
        scope: &Scope<'_>,
        mode: Resolve,
        path: &mut String,
    ) -> Result<Value, VarError> {
        Ok(match v {
            Value::String(s) => substitute_str(s, scope, mode, path)?,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("{i}/"));
                    out.push(walk(it, scope, mode, path)?);
                    path.truncate(len);
                }
                Value::Array(out)
            }
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, x) in m {
                    let key = if k.contains("{{") {
                        to_text(&substitute_str(k, scope, mode, path)?)
                    } else {
                        k.clone()
                    };
                    let len = path.len();
                    path.push_str(&format!("{k}/"));
                    out.insert(key, walk(x, scope, mode, path)?);
                    path.truncate(len);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
    if !has_vars(v) {
        return Ok(v.clone());
    }
    walk(v, scope, mode, &mut String::from("/"))
}

/// Whether any string or key of `v` holds `{{`.
pub fn has_vars(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(has_vars),
        Value::Object(m) => m.iter().any(|(k, x)| k.contains("{{") || has_vars(x)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // pkg/engine/variables/variables_test.go: whole-string variables keep their type.
    #[test]
    fn substitution() {
        let d = json!({"request": {"object": {"metadata": {"name": "web", "labels": {"n": 3}}}, "operation": "CREATE"}});
        let s = Scope::new(&d);
        assert_eq!(
            substitute_str(
                "{{ request.object.metadata.labels.n }}",
                &s,
                Resolve::Strict,
                "/"
            ),
            Ok(json!(3))
        );
        assert_eq!(
            substitute_str(
                "name={{request.object.metadata.name}}!",
                &s,
                Resolve::Strict,
                "/"
            ),
            Ok(json!("name=web!"))
        );
        // Preconditions (newPreconditionsVariableResolver): a path whose last key is absent
        // is null (kyverno/kyverno test/cli/test/nil-values-in-variables/limit-duration
        // expects `error` from the deny after a `NotEquals ""` precondition on an absent
        // field); a key missing before the end resolves to "" (test/cli/test/custom-functions
        // `{{ element.hostPath.path }}` on a volume without hostPath skips the element).
        assert_eq!(
            substitute_str("{{ request.object.metadata.x }}", &s, Resolve::Lenient, "/"),
            Ok(Value::Null)
        );
        assert_eq!(
            substitute_str("{{ request.object.spec.x }}", &s, Resolve::Lenient, "/"),
            Ok(json!(""))
        );
        let e = substitute_str("{{ request.object.spec.x }}", &s, Resolve::Strict, "/")
            .map_err(|e| e.to_string());
        assert_eq!(e, Err("failed to resolve {{ request.object.spec.x }} at path /: Unknown key \"spec\" in path".to_owned()));
        assert_eq!(
            substitute(
                &json!({"k": ["{{request.operation}}"]}),
                &s,
                Resolve::Strict
            ),
            Ok(json!({"k": ["CREATE"]}))
        );
    }
}
