//! TriggerBinding values: the `$(...)` expressions in a param value, each a relaxed JSONPath
//! over the event (`body`, `header`, `extensions`, `context`), as tektoncd/triggers
//! `pkg/template/jsonpath.go` and `event.go` evaluate them with k8s.io/client-go's JSONPath.
//!
//! Supported path steps: `.name`, `['name']` / `["name"]`, `[i]` (negative counts from the end),
//! the wildcards `.*` / `[*]` and one-comparison filters `[?(@.a.b == "x")]`. Slices, unions
//! and recursive descent are refused with an error naming the expression.

use serde_json::Value;

use sluice_core::gojson;

/// The `$(...)` expressions of `value`: (the expression to evaluate, the text to replace).
/// After `header.` the rest is put in canonical header form (`findTektonExpressions`).
pub fn find_expressions(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !value.contains("$(") {
        return out;
    }
    for part in value.split("$(").skip(1) {
        let mut depth = 0i32;
        for (i, ch) in part.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth < 0 {
                        let raw = &part[..i];
                        let original = format!("$({raw})");
                        let expr = match raw.strip_prefix("header.") {
                            Some(rest) => format!(
                                "header.{}",
                                sluice_apis::triggers::trigger::canonical_header_key(rest)
                            ),
                            None => raw.to_owned(),
                        };
                        out.push((expr, original));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    /// `[?(@.a.b)]` or `[?(@.a.b <op> literal)]` over the elements of an array.
    Filter {
        path: Vec<String>,
        test: Option<(String, Value)>,
    },
}

/// `?(@.a.b == "x")` (k8s.io/client-go/util/jsonpath filters with one comparison).
fn parse_filter(inner: &str, expr: &str) -> Result<Step, String> {
    let bad = || format!("unsupported JSONPath filter in {expr:?}: [{inner}]");
    let body = inner
        .strip_prefix("?(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(bad)?
        .trim();
    let rest = body.strip_prefix('@').ok_or_else(bad)?;
    let ops = ["==", "!=", "<=", ">=", "<", ">"];
    let (lhs, test) = match ops.iter().find_map(|op| rest.find(op).map(|i| (i, *op))) {
        Some((i, op)) => {
            let lit = rest[i + op.len()..].trim();
            let value = if let Some(q) = lit
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| lit.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            {
                Value::String(q.to_owned())
            } else if let Ok(n) = lit.parse::<f64>() {
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(bad)?
            } else if lit == "true" || lit == "false" {
                Value::Bool(lit == "true")
            } else {
                return Err(bad());
            };
            (rest[..i].trim(), Some((op.to_owned(), value)))
        }
        None => (rest, None),
    };
    let path: Vec<String> = lhs
        .split('.')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Step::Filter { path, test })
}

fn filter_holds(item: &Value, path: &[String], test: &Option<(String, Value)>) -> bool {
    let mut v = item;
    for p in path {
        match v.get(p) {
            Some(x) => v = x,
            None => return false,
        }
    }
    let Some((op, lit)) = test else {
        return true;
    };
    let ord = match (v, lit) {
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match (op.as_str(), ord) {
        ("==", Some(o)) => o.is_eq(),
        ("!=", Some(o)) => o.is_ne(),
        ("!=", None) => true,
        ("<", Some(o)) => o.is_lt(),
        ("<=", Some(o)) => o.is_le(),
        (">", Some(o)) => o.is_gt(),
        (">=", Some(o)) => o.is_ge(),
        _ => false,
    }
}

/// `relaxedJSONPathExpression` then the steps of `{.a.b[0]}`.
fn parse(expr: &str) -> Result<Vec<Step>, String> {
    let relaxed = relax(expr)?;
    let mut steps = Vec::new();
    let b = relaxed.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                if b.get(i + 1) == Some(&b'.') {
                    return Err(format!(
                        "unsupported JSONPath expression {expr:?}: recursive descent (..) is not supported"
                    ));
                }
                let start = i + 1;
                let mut j = start;
                while j < b.len() && !matches!(b[j], b'.' | b'[' | b']' | b' ' | b'(' | b')') {
                    j += 1;
                }
                let name = &relaxed[start..j];
                if name.is_empty() {
                    if j == b.len() && start == b.len() && steps.is_empty() {
                        // "{.}": the whole object
                        i = j;
                        continue;
                    }
                    return Err(format!("unrecognized character in action: {expr:?}"));
                }
                steps.push(if name == "*" {
                    Step::Wildcard
                } else {
                    Step::Field(name.to_owned())
                });
                i = j;
            }
            b'[' => {
                let close = close_bracket(&relaxed[i..])
                    .map(|p| p + i)
                    .ok_or_else(|| format!("unterminated array in {expr:?}"))?;
                let inner = relaxed[i + 1..close].trim();
                if inner.starts_with('?') {
                    steps.push(parse_filter(inner, expr)?);
                } else if inner == "*" {
                    steps.push(Step::Wildcard);
                } else if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    steps.push(Step::Field(q.to_owned()));
                } else if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Step::Index(n));
                } else {
                    return Err(format!(
                        "unsupported JSONPath expression {expr:?}: [{inner}] (filters, slices and unions are not supported)"
                    ));
                }
                i = close + 1;
            }
            _ => return Err(format!("unrecognized character in action: {expr:?}")),
        }
    }
    Ok(steps)
}

/// The index of the `]` closing the `[` at the start of `s`, skipping quoted text.
fn close_bracket(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

/// `^\{\.?([^{}]+)\}$|^\.?([^{}]+)$`, rewritten as `.fieldSpec` (no braces).
fn relax(expr: &str) -> Result<String, String> {
    if expr.is_empty() {
        return Ok(String::new());
    }
    let bad = || {
        "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'".to_owned()
    };
    let inner = if let Some(rest) = expr.strip_prefix('{') {
        let rest = rest.strip_suffix('}').ok_or_else(bad)?;
        rest.strip_prefix('.').unwrap_or(rest)
    } else {
        expr.strip_prefix('.').unwrap_or(expr)
    };
    if inner.is_empty() || inner.contains(['{', '}']) {
        return Err(bad());
    }
    Ok(format!(".{inner}"))
}

/// Evaluates one expression against the event and prints the result as upstream's
/// `getResults`: a single string unquoted (but JSON-escaped), anything else as JSON, several
/// results as a JSON array.
pub fn eval(event: &Value, expr: &str) -> Result<String, String> {
    if expr.is_empty() {
        return Ok(String::new());
    }
    let steps = parse(expr)?;
    let mut current: Vec<&Value> = vec![event];
    for step in &steps {
        let mut next = Vec::new();
        for v in current {
            match (step, v) {
                (Step::Field(name), Value::Object(m)) => match m.get(name) {
                    Some(x) => next.push(x),
                    None => return Err(format!("{name} is not found")),
                },
                (Step::Field(name), _) => return Err(format!("{name} is not found")),
                (Step::Index(i), Value::Array(a)) => {
                    let len = a.len() as i64;
                    let idx = if *i < 0 { len + i } else { *i };
                    if idx < 0 || idx >= len {
                        return Err(format!(
                            "array index out of bounds: index {i}, length {len}"
                        ));
                    }
                    next.push(&a[idx as usize]);
                }
                (Step::Index(_), other) => {
                    return Err(format!("{} is not array or slice", gojson::marshal(other)));
                }
                (Step::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                (Step::Wildcard, Value::Object(m)) => {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    next.extend(keys.into_iter().map(|k| &m[k]));
                }
                (Step::Wildcard, _) => {}
                (Step::Filter { path, test }, Value::Array(a)) => {
                    next.extend(a.iter().filter(|item| filter_holds(item, path, test)));
                }
                (Step::Filter { .. }, other) => {
                    return Err(format!("{} is not array or slice", gojson::marshal(other)));
                }
            }
        }
        current = next;
    }
    Ok(match current.as_slice() {
        [Value::String(s)] => {
            let q = gojson::quote(s);
            q[1..q.len() - 1].to_owned()
        }
        [one] => gojson::marshal(one),
        many => gojson::marshal(&Value::Array(many.iter().map(|v| (*v).clone()).collect())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "body": {"ref": "refs/heads/main", "commits": [{"id": "a1", "message": "fix \"x\"\n"}, {"id": "b2"}],
                     "project": {"name": "order-service", "id": 15}, "n": null},
            "header": {"X-Gitlab-Event": "Push Hook"},
            "extensions": {"branch": "main"},
            "context": {"eventID": "e1"}
        })
    }

    // tektoncd/triggers pkg/template/jsonpath_test.go: strings come back unquoted and
    // JSON-escaped, objects and arrays as JSON, missing keys are "<key> is not found".
    #[test]
    fn upstream_shapes() {
        let e = event();
        assert_eq!(eval(&e, "body.ref").as_deref(), Ok("refs/heads/main"));
        assert_eq!(eval(&e, "{.body.ref}").as_deref(), Ok("refs/heads/main"));
        assert_eq!(eval(&e, ".body.commits[0].id").as_deref(), Ok("a1"));
        assert_eq!(eval(&e, "body.commits[-1].id").as_deref(), Ok("b2"));
        assert_eq!(
            eval(&e, "body.commits[0].message").as_deref(),
            Ok(r#"fix \"x\"\n"#)
        );
        assert_eq!(
            eval(&e, "body.project").as_deref(),
            Ok(r#"{"id":15,"name":"order-service"}"#)
        );
        assert_eq!(eval(&e, "body.n").as_deref(), Ok("null"));
        assert_eq!(
            eval(&e, "body.commits[*].id").as_deref(),
            Ok(r#"["a1","b2"]"#)
        );
        assert_eq!(eval(&e, "body['ref']").as_deref(), Ok("refs/heads/main"));
        assert_eq!(
            eval(&e, "header.X-Gitlab-Event").as_deref(),
            Ok("Push Hook")
        );
        assert_eq!(eval(&e, "extensions.branch").as_deref(), Ok("main"));
        assert_eq!(eval(&e, "context.eventID").as_deref(), Ok("e1"));
        assert_eq!(eval(&e, "body.missing"), Err("missing is not found".into()));
        assert_eq!(
            eval(&e, "body.commits[5]"),
            Err("array index out of bounds: index 5, length 2".into())
        );
        // filters as tektoncd/triggers examples/v1beta1/bitbucket-server uses them
        assert_eq!(
            eval(&e, "body.commits[?(@.id==\"b2\")].id").as_deref(),
            Ok("b2")
        );
        assert_eq!(
            eval(&e, "body.commits[?(@.id!='b2')].id").as_deref(),
            Ok("a1")
        );
        assert_eq!(
            eval(&e, "body.commits[?(@.message)].id").as_deref(),
            Ok("a1")
        );
        assert!(eval(&e, "body.commits[1:2]").is_err());
        assert!(eval(&e, "{body").is_err());
    }

    #[test]
    fn expressions_and_header_canonical_form() {
        assert_eq!(
            find_expressions("$(body.a)-$(header.x-github-event) $(body.(x))"),
            vec![
                ("body.a".to_owned(), "$(body.a)".to_owned()),
                (
                    "header.X-Github-Event".to_owned(),
                    "$(header.x-github-event)".to_owned()
                ),
                ("body.(x)".to_owned(), "$(body.(x))".to_owned()),
            ]
        );
        assert!(find_expressions("static").is_empty());
        assert!(find_expressions("$(unterminated").is_empty());
    }
}
