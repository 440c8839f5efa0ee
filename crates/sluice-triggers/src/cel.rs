//! The `cel` interceptor's language: CEL (the `cel` crate) with Triggers' extensions
//! (tektoncd/triggers `pkg/interceptors/cel/triggers.go`): `match`, `canonical`, `truncate`,
//! `compareSecret`, `parseJSON`, `parseYAML`, `parseURL`, `marshalJSON`, `decodeb64`,
//! `translate`, `first`, `last`, plus cel-go's string and base64 extensions (`split`,
//! `replace`, `base64.decode`/`base64.encode`, ...).
//!
//! Bounds (issue 18: no unbounded recursion or memory from user expressions): the parser and
//! the evaluator recurse, so an expression is first scanned ([`CelLimits`]: length, bracket
//! nesting, operator count) and then parsed and evaluated on a thread of its own with a
//! [`STACK_SIZE`] stack, which those limits keep far from exhausted; comprehensions
//! (`map`/`filter`/`all`/`exists`) nest at most [`CelLimits::max_comprehension_depth`] deep;
//! the JSON made from a result is capped at [`CelLimits::max_output_nodes`] values.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::extractors::{Arguments, This};
use cel::objects::{Key, Map};
use cel::{Context, Env, ExecutionError, Value as CelValue};
use serde_json::{Map as JsonMap, Value};

use sluice_core::gojson;

/// Stack of the thread that parses and evaluates one interceptor's expressions.
pub const STACK_SIZE: usize = 64 << 20;

/// Static bounds on an expression, checked before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CelLimits {
    /// Characters of one expression.
    pub max_chars: usize,
    /// Nesting of `(`, `[` and `{` (the parser's own limit is 96; its stack use per level
    /// is large, so this is checked first).
    pub max_nesting: usize,
    /// Operator and punctuation characters (`+ - * / % < > = ! & | ? : . ,`): bounds the
    /// depth of left-nested operator chains (`a + a + ... + a`), which the parser recurses on.
    pub max_operators: usize,
    /// Nesting of comprehension macros (`map`, `filter`, `all`, `exists`, `exists_one`):
    /// evaluation time is the product of the lists they range over.
    pub max_comprehension_depth: usize,
    /// Values in the JSON made from one result (an overlay, `marshalJSON`).
    pub max_output_nodes: usize,
}

/// The limits every expression is held to.
pub const LIMITS: CelLimits = CelLimits {
    max_chars: 8 * 1024,
    max_nesting: 32,
    max_operators: 512,
    max_comprehension_depth: 2,
    max_output_nodes: 1_000_000,
};

/// Checks the static limits without parsing.
pub fn check_limits(expr: &str, limits: &CelLimits) -> Result<(), String> {
    let chars = expr.chars().count();
    if chars > limits.max_chars {
        return Err(format!(
            "expression is {chars} characters long; the limit is {}",
            limits.max_chars
        ));
    }
    let mut depth = 0usize;
    let mut max_depth = 0usize;
    let mut ops = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '!' | '&' | '|' | '?' | ':' | '.'
            | ',' => ops += 1,
            _ => {}
        }
    }
    if max_depth > limits.max_nesting {
        return Err(format!(
            "expression nests brackets {max_depth} deep; the limit is {}",
            limits.max_nesting
        ));
    }
    if ops > limits.max_operators {
        return Err(format!(
            "expression has {ops} operators; the limit is {}",
            limits.max_operators
        ));
    }
    Ok(())
}

/// Runs `f` on a thread with a [`STACK_SIZE`] stack; a panic in it becomes an error.
fn on_cel_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("sluice-cel".to_owned())
            .stack_size(STACK_SIZE)
            .spawn_scoped(s, f)
            .map_err(|e| format!("cannot start the CEL evaluator: {e}"))?;
        handle
            .join()
            .map_err(|_| "the CEL evaluator failed (panic)".to_owned())
    })
}

fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Registering the two extensions on a fresh standard environment cannot collide.
        let _ = cel::extensions::strings(&mut env);
        let _ = cel::extensions::encoders(&mut env);
        Arc::new(env)
    })
}

/// Parses `expr` and checks the limits; the AST comes back for evaluation.
fn compile(expr: &str, limits: &CelLimits) -> Result<cel::Program, String> {
    check_limits(expr, limits)?;
    let program = env().compile(expr).map_err(|e| one_line(&e.to_string()))?;
    let depth = comprehension_depth(program.expression());
    if depth > limits.max_comprehension_depth {
        return Err(format!(
            "expression nests comprehensions (map, filter, all, exists) {depth} deep; the limit is {}",
            limits.max_comprehension_depth
        ));
    }
    Ok(program)
}

/// The first line of a parse error without its `ERROR: <input>:` prefix (the rest repeats the
/// source with a caret): `1:42: Syntax error: ...`.
fn one_line(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    first
        .strip_prefix("ERROR: <input>:")
        .unwrap_or(first)
        .to_owned()
}

/// Checks that `expr` is a CEL expression the cel interceptor accepts (syntax and limits), as
/// `sluice validate` reports it. Runs on its own thread, like evaluation.
pub fn cel_syntax(expr: &str) -> Result<(), String> {
    check_limits(expr, &LIMITS)?;
    on_cel_stack(|| compile(expr, &LIMITS).map(|_| ()))?
}

fn comprehension_depth(e: &IdedExpr) -> usize {
    let mut max = 0;
    let mut visit = |c: &IdedExpr| max = max.max(comprehension_depth(c));
    match &e.expr {
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                visit(x);
            }
            return max + 1;
        }
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                visit(t);
            }
            c.args.iter().for_each(visit);
        }
        Expr::List(l) => l.elements.iter().for_each(visit),
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    visit(&me.key);
                    visit(&me.value);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(me) => {
                        visit(&me.key);
                        visit(&me.value);
                    }
                    EntryExpr::StructField(f) => visit(&f.value),
                }
            }
        }
        Expr::Select(s) => visit(&s.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
    max
}

/// `compareSecret` calls with literal arguments: (key, name, namespace or "") for prefetching.
fn secret_refs(e: &IdedExpr, out: &mut Vec<(String, String, Option<String>)>) {
    let mut visit = |c: &IdedExpr| secret_refs(c, out);
    match &e.expr {
        Expr::Call(c) => {
            if c.func_name == "compareSecret" {
                let lits: Vec<Option<String>> = c
                    .args
                    .iter()
                    .map(|a| match &a.expr {
                        Expr::Literal(cel::common::ast::LiteralValue::String(s)) => {
                            Some(s.inner().to_owned())
                        }
                        _ => None,
                    })
                    .collect();
                match lits.as_slice() {
                    [Some(k), Some(n)] => {
                        visit_push(out, (k.clone(), n.clone(), None));
                    }
                    [Some(k), Some(n), Some(ns)] => {
                        visit_push(out, (k.clone(), n.clone(), Some(ns.clone())));
                    }
                    _ => {}
                }
            }
            if let Some(t) = &c.target {
                secret_refs(t, out);
            }
            for a in &c.args {
                secret_refs(a, out);
            }
        }
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                visit(x);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(visit),
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    secret_refs(&me.key, out);
                    secret_refs(&me.value, out);
                }
            }
        }
        Expr::Select(s) => visit(&s.operand),
        _ => {}
    }
}

fn visit_push(
    out: &mut Vec<(String, String, Option<String>)>,
    item: (String, String, Option<String>),
) {
    if !out.contains(&item) {
        out.push(item);
    }
}

/// What a cel interceptor evaluates against.
pub struct CelInput<'a> {
    pub body: &'a Value,
    pub header: &'a BTreeMap<String, Vec<String>>,
    pub extensions: &'a JsonMap<String, Value>,
    pub request_url: &'a str,
    /// The trigger's namespace: `compareSecret` with two arguments reads Secrets there.
    pub namespace: &'a str,
}

/// Secrets `compareSecret` may read, keyed (namespace, name, key): the value or why not.
type SecretTable = HashMap<(String, String, String), Result<Vec<u8>, String>>;

/// Reads a Secret's key: (namespace, name, key) -> value.
pub type SecretFn<'a> = dyn Fn(&str, &str, &str) -> Result<Vec<u8>, String> + Sync + 'a;

/// One expression's outcome.
pub type EvalResult = Result<Value, EvalError>;

/// Why an expression gave no value.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// It does not parse or breaks a limit (`failed to parse expression`).
    Parse(String),
    /// It fails while running (`failed to evaluate`).
    Eval(String),
}

/// Compiled programs by source text (compiling is most of an evaluation's cost; the same
/// filters come with every event). Errors are kept too. Emptied when full.
fn cached_compile(expr: &str) -> Result<Arc<cel::Program>, String> {
    type Cache = HashMap<String, Result<Arc<cel::Program>, String>>;
    const MAX_ENTRIES: usize = 1024;
    static CACHE: OnceLock<std::sync::Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(c) = cache.lock()
        && let Some(hit) = c.get(expr)
    {
        return hit.clone();
    }
    let compiled = compile(expr, &LIMITS).map(Arc::new);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(expr.to_owned(), compiled.clone());
    }
    compiled
}

/// The variables every expression of one interceptor sees, converted once.
struct Vars {
    body: CelValue,
    header: CelValue,
    extensions: CelValue,
}

fn eval_one(expr: &str, vars: &Vars, input: &CelInput<'_>, secret: &SecretFn<'_>) -> EvalResult {
    let program = cached_compile(expr).map_err(EvalError::Parse)?;
    let mut refs = Vec::new();
    secret_refs(program.expression(), &mut refs);
    let mut table = SecretTable::new();
    for (key, name, ns) in refs {
        let ns = ns.unwrap_or_else(|| input.namespace.to_owned());
        let v = secret(&ns, &name, &key);
        table.insert((ns, name, key), v);
    }
    let mut ctx = Context::with_env(Arc::clone(env()));
    register(&mut ctx, input.namespace, Arc::new(table));
    ctx.add_variable_from_value("body", vars.body.clone());
    ctx.add_variable_from_value("header", vars.header.clone());
    ctx.add_variable_from_value("extensions", vars.extensions.clone());
    ctx.add_variable_from_value("requestURL", input.request_url.to_owned());
    let v = program
        .execute(&ctx)
        .map_err(|e| EvalError::Eval(e.to_string()))?;
    let mut budget = LIMITS.max_output_nodes;
    cel_to_json(&v, &mut budget).map_err(EvalError::Eval)
}

fn vars(input: &CelInput<'_>) -> Vars {
    Vars {
        body: json_to_cel(input.body),
        header: header_to_cel(input.header),
        extensions: json_to_cel(&Value::Object(input.extensions.clone())),
    }
}

/// Evaluates each expression against `input`; results are JSON (CEL doubles that hold an
/// integer print as one, as protojson does). `secret` answers `compareSecret`.
#[cfg(test)]
pub fn evaluate_all(
    exprs: &[&str],
    input: &CelInput<'_>,
    secret: &SecretFn<'_>,
) -> Result<Vec<EvalResult>, String> {
    on_cel_stack(|| {
        let vars = vars(input);
        exprs
            .iter()
            .map(|expr| eval_one(expr, &vars, input, secret))
            .collect()
    })
}

/// The cel interceptor's work on one thread: the filter, then (only when there is no filter
/// or it is `true`) the overlays.
pub fn evaluate_interceptor(
    filter: Option<&str>,
    overlays: &[&str],
    input: &CelInput<'_>,
    secret: &SecretFn<'_>,
) -> Result<(Option<EvalResult>, Vec<EvalResult>), String> {
    on_cel_stack(|| {
        let vars = vars(input);
        let f = filter.map(|e| eval_one(e, &vars, input, secret));
        let go_on = match &f {
            None => true,
            Some(r) => matches!(r, Ok(Value::Bool(true))),
        };
        let o = if go_on {
            overlays
                .iter()
                .map(|e| eval_one(e, &vars, input, secret))
                .collect()
        } else {
            Vec::new()
        };
        (f, o)
    })
}

fn fail(function: &str, msg: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, msg)
}

fn register(ctx: &mut Context<'_, '_>, namespace: &str, secrets: Arc<SecretTable>) {
    // Names the standard library and the two extensions do not declare: no conflicts.
    let _ = ctx.add_function("match", match_header);
    let _ = ctx.add_function("canonical", canonical_header);
    let _ = ctx.add_function("truncate", truncate);
    let _ = ctx.add_function("parseJSON", parse_json);
    let _ = ctx.add_function("parseYAML", parse_yaml);
    let _ = ctx.add_function("parseURL", parse_url);
    let _ = ctx.add_function("marshalJSON", marshal_json);
    let _ = ctx.add_function("decodeb64", decode_b64);
    let _ = ctx.add_function("translate", translate);
    let _ = ctx.add_function("first", first);
    let _ = ctx.add_function("last", last);
    let default_ns = namespace.to_owned();
    let _ = ctx.add_function(
        "compareSecret",
        move |This(s): This<Arc<String>>, Arguments(args): Arguments| {
            compare_secret(&s, &args, &default_ns, &secrets)
        },
    );
}

fn header_values(h: &CelValue, key: &str) -> Result<String, ExecutionError> {
    let CelValue::Map(m) = h else {
        return Err(fail("match", "failed to convert to http.Header: not a map"));
    };
    let canonical = sluice_apis::triggers::trigger::canonical_header_key(key);
    for (k, v) in m.map.iter() {
        if let Key::String(ks) = k
            && sluice_apis::triggers::trigger::canonical_header_key(ks) == canonical
        {
            return Ok(match v {
                CelValue::List(l) => match l.first() {
                    Some(CelValue::String(s)) => s.to_string(),
                    _ => String::new(),
                },
                CelValue::String(s) => s.to_string(),
                _ => String::new(),
            });
        }
    }
    Ok(String::new())
}

/// `header.match(name, value)`: the first value of the header equals `value`.
fn match_header(
    This(h): This<CelValue>,
    key: Arc<String>,
    val: Arc<String>,
) -> Result<bool, ExecutionError> {
    Ok(header_values(&h, &key)? == *val)
}

/// `header.canonical(name)`: the first value of the header, or "".
fn canonical_header(This(h): This<CelValue>, key: Arc<String>) -> Result<CelValue, ExecutionError> {
    header_values(&h, &key).map(str_value)
}

fn str_value(s: String) -> CelValue {
    CelValue::String(Arc::new(s))
}

/// `s.truncate(n)`: at most `n` bytes (upstream slices the Go string), cut back to a
/// character boundary.
fn truncate(This(s): This<Arc<String>>, n: i64) -> Result<CelValue, ExecutionError> {
    if n < 0 {
        return Err(fail("truncate", format!("negative length {n}")));
    }
    let mut end = (n as u64).min(s.len() as u64) as usize;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Ok(str_value(s[..end].to_owned()))
}

fn parse_json(This(s): This<Arc<String>>) -> Result<CelValue, ExecutionError> {
    let v: Value = serde_json::from_str(&s).map_err(|e| {
        fail(
            "parseJSON",
            format!("failed to decode '{s}' in parseJSON: {e}"),
        )
    })?;
    if !v.is_object() {
        return Err(fail(
            "parseJSON",
            format!("failed to decode '{s}' in parseJSON: not a JSON object"),
        ));
    }
    Ok(json_to_cel(&v))
}

fn parse_yaml(This(s): This<Arc<String>>) -> Result<CelValue, ExecutionError> {
    let docs = sluice_core::yaml::load_documents(&s, &sluice_core::yaml::Limits::default())
        .map_err(|e| {
            fail(
                "parseYAML",
                format!("failed to decode '{s}' in parseYAML: {e}"),
            )
        })?;
    match docs.into_iter().next().map(|d| d.value) {
        Some(v @ Value::Object(_)) => Ok(json_to_cel(&v)),
        Some(Value::Null) | None => Ok(json_to_cel(&Value::Object(JsonMap::new()))),
        Some(_) => Err(fail(
            "parseYAML",
            format!("failed to decode '{s}' in parseYAML: not a mapping"),
        )),
    }
}

fn parse_url(This(s): This<Arc<String>>) -> Result<CelValue, ExecutionError> {
    let v = crate::url::parse(&s).map_err(|e| {
        fail(
            "parseURL",
            format!("failed to decode '{s}' in parseURL: {e}"),
        )
    })?;
    Ok(json_to_cel(&v))
}

fn marshal_json(This(v): This<CelValue>) -> Result<CelValue, ExecutionError> {
    if !matches!(v, CelValue::Map(_) | CelValue::List(_)) {
        return Err(fail(
            "marshalJSON",
            format!("unexpected type '{:?}' passed to marshalJSON", v.type_of()),
        ));
    }
    let mut budget = LIMITS.max_output_nodes;
    let j = cel_to_json(&v, &mut budget).map_err(|e| fail("marshalJSON", e))?;
    Ok(str_value(gojson::marshal(&j)))
}

fn decode_b64(This(s): This<Arc<String>>) -> Result<CelValue, ExecutionError> {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|e| {
            fail(
                "decodeb64",
                format!("failed to decode '{s}' in decodeB64: {e}"),
            )
        })?;
    Ok(str_value(String::from_utf8_lossy(&b).into_owned()))
}

/// `s.translate(regexp, replacement)`: every match replaced (Go's `ReplaceAllString`).
fn translate(
    This(s): This<Arc<String>>,
    pattern: Arc<String>,
    replacement: Arc<String>,
) -> Result<CelValue, ExecutionError> {
    let re = regex::RegexBuilder::new(&pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            fail(
                "translate",
                format!("failed to compile regexp {pattern:?}: {e}"),
            )
        })?;
    Ok(str_value(
        re.replace_all(&s, go_replacement(&replacement).as_str())
            .into_owned(),
    ))
}

/// Go's `$1`/`${name}` expansion is the regex crate's, except that `$$` is a literal `$` in
/// both; nothing to convert.
fn go_replacement(r: &str) -> String {
    r.to_owned()
}

/// `list.first()`: the first element, or null for an empty list.
fn first(This(l): This<Arc<Vec<CelValue>>>) -> CelValue {
    l.first().cloned().unwrap_or(CelValue::Null)
}

/// `list.last()`: the last element, or null for an empty list.
fn last(This(l): This<Arc<Vec<CelValue>>>) -> CelValue {
    l.last().cloned().unwrap_or(CelValue::Null)
}

fn compare_secret(
    s: &str,
    args: &[CelValue],
    default_ns: &str,
    secrets: &SecretTable,
) -> Result<bool, ExecutionError> {
    let strs: Vec<&str> = args
        .iter()
        .map(|a| match a {
            CelValue::String(s) => Ok(s.as_str()),
            other => Err(fail(
                "compareSecret",
                format!(
                    "unexpected type '{:?}' passed to compareSecret",
                    other.type_of()
                ),
            )),
        })
        .collect::<Result<_, _>>()?;
    let (key, name, ns) = match strs.as_slice() {
        [k, n] => (*k, *n, default_ns),
        [k, n, ns] => (*k, *n, *ns),
        _ => {
            return Err(fail(
                "compareSecret",
                format!("expects 2 or 3 arguments, got {}", strs.len()),
            ));
        }
    };
    let entry = secrets.get(&(ns.to_owned(), name.to_owned(), key.to_owned()));
    match entry {
        Some(Ok(token)) => Ok(bool::from(subtle::ConstantTimeEq::ct_eq(
            token.as_slice(),
            s.as_bytes(),
        ))),
        Some(Err(e)) => Err(fail(
            "compareSecret",
            format!(
                "failed to find secret {{SecretKey:{key:?}, SecretName:{name:?}}} in compareSecret: {e}"
            ),
        )),
        None => Err(fail(
            "compareSecret",
            "the secret key, name and namespace must be string literals",
        )),
    }
}

/// JSON into CEL as cel-go sees decoded JSON: every number is a double.
pub fn json_to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => CelValue::Float(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(a) => CelValue::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<Key, CelValue> = m
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            CelValue::Map(Map { map: Arc::new(map) })
        }
    }
}

fn header_to_cel(h: &BTreeMap<String, Vec<String>>) -> CelValue {
    let map: HashMap<Key, CelValue> = h
        .iter()
        .map(|(k, vs)| {
            (
                Key::String(Arc::new(k.clone())),
                CelValue::List(Arc::new(
                    vs.iter()
                        .map(|s| CelValue::String(Arc::new(s.clone())))
                        .collect(),
                )),
            )
        })
        .collect();
    CelValue::Map(Map { map: Arc::new(map) })
}

/// A CEL result as JSON, within `budget` values. Bytes become base64 text (Go's
/// `json.Marshal` of `[]byte`); doubles holding an integer print as integers (protojson).
pub fn cel_to_json(v: &CelValue, budget: &mut usize) -> Result<Value, String> {
    if *budget == 0 {
        return Err(format!(
            "the result is larger than {} values",
            LIMITS.max_output_nodes
        ));
    }
    *budget -= 1;
    Ok(match v {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                Value::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("{f} is not representable in JSON"))?
            }
        }
        CelValue::String(s) => Value::String(s.to_string()),
        CelValue::Bytes(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_slice()))
        }
        CelValue::List(items) => Value::Array(
            items
                .iter()
                .map(|i| cel_to_json(i, budget))
                .collect::<Result<_, _>>()?,
        ),
        CelValue::Map(m) => {
            let mut entries: Vec<(String, Value)> = Vec::with_capacity(m.map.len());
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                entries.push((key, cel_to_json(v, budget)?));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        other => {
            return Err(format!(
                "failed to convert overlay result to type: {:?} has no JSON form",
                other.type_of()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_one(expr: &str, body: Value) -> EvalResult {
        let header = BTreeMap::from([("X-Gitlab-Event".to_owned(), vec!["Push Hook".to_owned()])]);
        let ext = JsonMap::new();
        let input = CelInput {
            body: &body,
            header: &header,
            extensions: &ext,
            request_url: "http://el/path?x=1",
            namespace: "ns",
        };
        let secret = |ns: &str, name: &str, key: &str| {
            if (ns, name, key) == ("ns", "s", "token") {
                Ok(b"t0k".to_vec())
            } else {
                Err(format!("secrets {name:?} not found"))
            }
        };
        evaluate_all(&[expr], &input, &secret)
            .expect("runs")
            .pop()
            .expect("one")
    }

    // tektoncd/triggers pkg/interceptors/cel/cel_test.go and docs/cel_expressions.md: the
    // examples of each extension.
    #[test]
    fn triggers_extensions() {
        let body = json!({"ref": "refs/heads/release/1.2", "sha": "da1560886d4f094c", "count": 2,
                          "measure": 1.5, "commits": [{"id": "a"}, {"id": "b"}], "s": "{\"testing\":\"value\"}",
                          "y": "key1: value1\nkey2: [1, 2]\n", "b64": "aGVsbG8="});
        let cases: &[(&str, Value)] = &[
            ("body.ref.split('/')[2]", json!("release")),
            ("body.ref.startsWith('refs/heads/release/')", json!(true)),
            ("body.sha.truncate(7)", json!("da15608")),
            ("body.sha.truncate(100)", json!("da1560886d4f094c")),
            ("header.match('x-gitlab-event', 'Push Hook')", json!(true)),
            ("header.canonical('X-GITLAB-EVENT')", json!("Push Hook")),
            ("header['X-Gitlab-Event'][0]", json!("Push Hook")),
            ("body.s.parseJSON().testing", json!("value")),
            ("body.y.parseYAML().key2[1]", json!(2)),
            (
                "'https://user:pass@example.com/test/path?s=testing&s=x#first'.parseURL().query['s']",
                json!("testing,x"),
            ),
            (
                "'https://example.com/test?query=testing'.parseURL().host",
                json!("example.com"),
            ),
            (
                "body.commits.marshalJSON()",
                json!(r#"[{"id":"a"},{"id":"b"}]"#),
            ),
            ("body.commits.first().id", json!("a")),
            ("body.commits.last().id", json!("b")),
            ("[].first()", Value::Null),
            (
                "'This is $an Invalid5String'.translate('[^a-z0-9]+', '')",
                json!("hisisannvalid5tring"),
            ),
            ("'t0k'.compareSecret('token', 's')", json!(true)),
            ("'nope'.compareSecret('token', 's', 'ns')", json!(false)),
            ("body.b64.decodeb64()", json!("hello")),
            ("base64.decode(body.b64)", json!("aGVsbG8=")),
            ("body.count + 1.0", json!(3)),
            ("int(body.count) + 2", json!(4)),
            ("body.measure * 3.0", json!(4.5)),
            ("requestURL.parseURL().rawQuery", json!("x=1")),
            ("body.commits.map(c, c.id)", json!(["a", "b"])),
            ("'a-b'.replace('-', '_')", json!("a_b")),
        ];
        for (expr, want) in cases {
            assert_eq!(eval_one(expr, body.clone()).as_ref(), Ok(want), "{expr}");
        }
    }

    #[test]
    fn errors_are_values_not_panics() {
        let body = json!({"count": 2, "x": "s"});
        // JSON numbers are doubles: `body.count * 3` has no overload (docs/cel_expressions.md).
        assert!(matches!(
            eval_one("body.count * 3", body.clone()),
            Err(EvalError::Eval(_))
        ));
        assert!(matches!(
            eval_one("body.missing.x", body.clone()),
            Err(EvalError::Eval(_))
        ));
        assert!(
            matches!(eval_one("'x'.compareSecret('k', 'absent')", body.clone()), Err(EvalError::Eval(m)) if m.contains("not found"))
        );
        assert!(matches!(
            eval_one("body.x.parseJSON()", body.clone()),
            Err(EvalError::Eval(_))
        ));
        assert!(matches!(
            eval_one("1 +", body.clone()),
            Err(EvalError::Parse(_))
        ));
        assert!(matches!(
            eval_one("'x'.translate('(', '')", body),
            Err(EvalError::Eval(_))
        ));
    }

    #[test]
    fn limits_hold_before_parsing() {
        let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
        assert!(
            cel_syntax(&deep)
                .unwrap_err()
                .contains("nests brackets 40 deep")
        );
        let ok = format!("{}1{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(cel_syntax(&ok), Ok(()));
        let chain = format!("1{}", " + 1".repeat(600));
        assert!(cel_syntax(&chain).unwrap_err().contains("operators"));
        let long = "a".repeat(9000);
        assert!(cel_syntax(&long).unwrap_err().contains("characters long"));
        let nested = "[1].map(a, [1].map(b, [1].map(c, c)))";
        assert!(cel_syntax(nested).unwrap_err().contains("comprehensions"));
        assert_eq!(cel_syntax("[1].map(a, [1].map(b, b))"), Ok(()));
        assert!(cel_syntax("body.ref.startsWith(").is_err());
        // The most an expression may be within the limits still parses on the CEL stack.
        let chain = format!("1{}", "+1".repeat(500));
        assert_eq!(cel_syntax(&chain), Ok(()));
        let calls = format!("{}1{}", "int(".repeat(32), ")".repeat(32));
        assert_eq!(cel_syntax(&calls), Ok(()));
    }
}
