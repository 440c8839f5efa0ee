//! Go's builtin functions, Sprig v3 (Masterminds/sprig `functions.go`, without `env` and
//! `expandenv` as Helm removes them) and Helm's own (`pkg/engine/funcs.go`), minus
//! `include`, `tpl`, `required` and `fail`, which the executor handles.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::Digest as _;

use super::{Budget, MAX_VALUE_DEPTH, V};

pub enum FnError {
    /// `error calling NAME: MSG`.
    Msg(String),
    /// A message Go's executor writes itself (comparison and argument errors).
    Go(String),
    Unsupported,
    Limit(String),
}

type R = Result<V, FnError>;

pub(crate) const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

const HELM: &[&str] = &[
    "include",
    "tpl",
    "required",
    "fail",
    "lookup",
    "toToml",
    "fromToml",
    "toYaml",
    "mustToYaml",
    "toYamlPretty",
    "fromYaml",
    "fromYamlArray",
    "toJson",
    "mustToJson",
    "fromJson",
    "fromJsonArray",
];

/// Sprig v3's `GenericFuncMap` names.
pub(crate) const SPRIG: &[&str] = &[
    "hello",
    "ago",
    "date",
    "date_in_zone",
    "date_modify",
    "dateInZone",
    "dateModify",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "must_date_modify",
    "mustDateModify",
    "mustToDate",
    "now",
    "toDate",
    "unixEpoch",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimall",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "atoi",
    "int64",
    "int",
    "float64",
    "seq",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "until",
    "untilStep",
    "add1",
    "add",
    "sub",
    "div",
    "mod",
    "mul",
    "randInt",
    "add1f",
    "addf",
    "subf",
    "divf",
    "mulf",
    "biggest",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "join",
    "sortAlpha",
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "compact",
    "mustCompact",
    "fromJson",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "mustFromJson",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "ternary",
    "deepCopy",
    "mustDeepCopy",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "tuple",
    "list",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
    "values",
    "append",
    "push",
    "mustAppend",
    "mustPush",
    "prepend",
    "mustPrepend",
    "first",
    "mustFirst",
    "rest",
    "mustRest",
    "last",
    "mustLast",
    "initial",
    "mustInitial",
    "reverse",
    "mustReverse",
    "uniq",
    "mustUniq",
    "without",
    "mustWithout",
    "has",
    "mustHas",
    "slice",
    "mustSlice",
    "concat",
    "dig",
    "chunk",
    "mustChunk",
    "bcrypt",
    "htpasswd",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "randBytes",
    "uuidv4",
    "semver",
    "semverCompare",
    "fail",
    "regexMatch",
    "mustRegexMatch",
    "regexFindAll",
    "mustRegexFindAll",
    "regexFind",
    "mustRegexFind",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
    "urlParse",
    "urlJoin",
    "getHostByName",
];

pub fn is_known(name: &str) -> bool {
    GO_BUILTINS.contains(&name) || HELM.contains(&name) || SPRIG.contains(&name)
}

fn msg(m: impl Into<String>) -> FnError {
    FnError::Msg(m.into())
}

fn nargs(name: &str, a: &[V], n: usize) -> Result<(), FnError> {
    if a.len() != n {
        return Err(FnError::Go(format!(
            "wrong number of args for {name}: want {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

/// cast.ToInt64 as Sprig calls it (errors give 0).
pub fn to_i64(v: &V) -> i64 {
    match v {
        V::Int(i) => *i,
        V::Float(f) => *f as i64,
        V::Bool(b) => i64::from(*b),
        V::Str(s) => parse_go_int(s.trim()).unwrap_or(0),
        _ => 0,
    }
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, b) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = b.strip_prefix("0o").or_else(|| b.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(x) = b.strip_prefix("0b").or_else(|| b.strip_prefix("0B")) {
        i64::from_str_radix(x, 2).ok()?
    } else if b.len() > 1 && b.starts_with('0') {
        i64::from_str_radix(&b[1..], 8).ok()?
    } else {
        b.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

pub fn to_f64(v: &V) -> f64 {
    match v {
        V::Int(i) => *i as f64,
        V::Float(f) => *f,
        V::Bool(b) => f64::from(u8::from(*b)),
        V::Str(s) => s.trim().parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's `empty`.
pub fn empty(v: &V) -> bool {
    match v {
        V::Obj(_) => false,
        other => !other.truthy(),
    }
}

fn list_of(v: &V) -> Option<Vec<V>> {
    match v {
        V::List(l) => Some(l.borrow().clone()),
        V::Bytes(b) => Some(b.iter().map(|x| V::Int(i64::from(*x))).collect()),
        V::Nil => Some(Vec::new()),
        _ => None,
    }
}

/// Whether argument `i` of `name` is a Sprig `map[string]interface{}` parameter.
pub(crate) fn map_param(name: &str, i: usize) -> bool {
    match name {
        "get" | "set" | "unset" | "hasKey" | "values" | "pick" | "omit" => i == 0,
        "keys" | "merge" | "mustMerge" | "mergeOverwrite" | "mustMergeOverwrite" => true,
        "pluck" => i > 0,
        _ => false,
    }
}

/// Go's template passing `v` to a `map[string]interface{}` parameter.
fn want_map(v: &V) -> Result<std::rc::Rc<std::cell::RefCell<BTreeMap<String, V>>>, FnError> {
    match v {
        V::Map(m) => Ok(m.clone()),
        other => Err(FnError::Go(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            go_arg_type(other)
        ))),
    }
}

/// Go's template passing `v` to a `string` parameter.
fn want_str(v: &V) -> Result<String, FnError> {
    match v {
        V::Str(s) => Ok(s.to_string()),
        other => Err(FnError::Go(format!(
            "wrong type for value; expected string; got {}",
            go_arg_type(other)
        ))),
    }
}

/// The type Go's template names for an argument: a missing or nil value is a nil
/// `interface {}`.
fn go_arg_type(v: &V) -> String {
    match v {
        V::Nil => "interface {}".to_owned(),
        other => other.type_name(),
    }
}

fn at_least(name: &str, a: &[V], n: usize) -> Result<(), FnError> {
    if a.len() < n {
        return Err(FnError::Go(format!(
            "wrong number of args for {name}: want at least {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

fn must_list(name: &str, v: &V) -> Result<Vec<V>, FnError> {
    match v {
        V::List(l) => Ok(l.borrow().clone()),
        V::Bytes(b) => Ok(b.iter().map(|x| V::Int(i64::from(*x))).collect()),
        other => Err(msg(format!("Cannot {name} on type {}", other.type_name()))),
    }
}

/// Sprig's `strslice`: strings of the items, nil items left out.
fn strslice(v: &V) -> Vec<String> {
    match v {
        V::List(l) => l
            .borrow()
            .iter()
            .filter(|x| !matches!(x, V::Nil))
            .map(V::to_str)
            .collect(),
        V::Nil => Vec::new(),
        other => vec![other.to_str()],
    }
}

/// Go's `eq` on two basic values.
fn basic_eq(a: &V, b: &V) -> Result<bool, FnError> {
    Ok(match (a, b) {
        (V::Str(x), V::Str(y)) => x == y,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Nil, V::Nil) => true,
        (V::Nil, _) | (_, V::Nil) => false,
        (V::List(_) | V::Map(_) | V::Bytes(_) | V::Obj(_), _)
        | (_, V::List(_) | V::Map(_) | V::Bytes(_) | V::Obj(_)) => {
            return Err(FnError::Go(
                "error calling eq: non-comparable type".to_owned(),
            ));
        }
        _ => {
            return Err(FnError::Go(
                "error calling eq: incompatible types for comparison".to_owned(),
            ));
        }
    })
}

fn less(name: &str, a: &V, b: &V) -> Result<bool, FnError> {
    Ok(match (a, b) {
        (V::Str(x), V::Str(y)) => x < y,
        (V::Int(x), V::Int(y)) => x < y,
        (V::Float(x), V::Float(y)) => x < y,
        (V::Nil, _) | (_, V::Nil) => {
            return Err(FnError::Go(format!(
                "error calling {name}: invalid type for comparison"
            )));
        }
        (V::Int(_), V::Float(_)) | (V::Float(_), V::Int(_)) | (V::Str(_), _) | (_, V::Str(_)) => {
            return Err(FnError::Go(format!(
                "error calling {name}: incompatible types for comparison"
            )));
        }
        _ => {
            return Err(FnError::Go(format!(
                "error calling {name}: invalid type for comparison"
            )));
        }
    })
}

fn deep_eq(a: &V, b: &V, depth: usize) -> bool {
    if depth > MAX_VALUE_DEPTH {
        return false;
    }
    match (a, b) {
        (V::List(x), V::List(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| deep_eq(p, q, depth + 1))
        }
        (V::Map(x), V::Map(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| deep_eq(p, q, depth + 1)))
        }
        (V::Str(x), V::Str(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Float(x), V::Float(y)) => x == y,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Nil, V::Nil) => true,
        (V::Bytes(x), V::Bytes(y)) => x == y,
        _ => false,
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Go's `strings.Title` (deprecated but Sprig's `title`).
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = (c.is_whitespace() || c.is_ascii()) && c != '_' && !c.is_alphanumeric();
    }
    out
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.clamp(0, 10_000) as usize);
    let mut out = String::with_capacity(s.len() + pad.len());
    out.push_str(&pad);
    out.push_str(&s.replace('\n', &format!("\n{pad}")));
    out
}

/// mergo.Merge (Sprig `merge`/`mergeOverwrite`): maps merge recursively; `overwrite`
/// decides whether a value of `src` replaces a non-empty value of `dst`.
fn merge_into(dst: &V, src: &V, overwrite: bool, depth: usize) {
    if depth > MAX_VALUE_DEPTH {
        return;
    }
    let (V::Map(d), V::Map(s)) = (dst, src) else {
        return;
    };
    if std::rc::Rc::ptr_eq(d, s) {
        return;
    }
    let src_items: Vec<(String, V)> = s
        .borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, sv) in src_items {
        let existing = d.borrow().get(&k).cloned();
        match existing {
            Some(dv @ V::Map(_)) if matches!(sv, V::Map(_)) => {
                merge_into(&dv, &sv, overwrite, depth + 1)
            }
            Some(dv) => {
                if (overwrite && !empty(&sv)) || empty(&dv) {
                    // mergo: an empty dst value takes src's; with overwrite a non-empty src wins
                    if !(empty(&dv) && empty(&sv) && !overwrite) {
                        d.borrow_mut().insert(k, sv);
                    }
                }
            }
            None => {
                d.borrow_mut().insert(k, sv);
            }
        }
    }
}

/// RE2 (Go) accepts a `-` next to a class escape inside brackets (`[\w-.]`) as a literal;
/// Rust's regex wants it escaped.
fn go_regex_to_rust(re: &str) -> String {
    let chars: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len());
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(c);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '[' && !in_class {
            in_class = true;
            out.push(c);
            if chars.get(i + 1) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if chars.get(i + 1) == Some(&']') {
                out.push_str("\\]");
                i += 1;
            }
        } else if c == ']' && in_class {
            in_class = false;
            out.push(c);
        } else if c == '-' && in_class {
            let after_escape = i >= 2 && chars[i - 2] == '\\' && "wdsWDS".contains(chars[i - 1]);
            let before_escape = chars.get(i + 1) == Some(&'\\')
                && chars.get(i + 2).is_some_and(|n| "wdsWDS".contains(*n));
            if after_escape || before_escape {
                out.push_str("\\-");
            } else {
                out.push(c);
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn regex(re: &str) -> Result<regex::Regex, FnError> {
    regex::Regex::new(&go_regex_to_rust(re)).map_err(|e| msg(format!("error parsing regexp: {e}")))
}

fn json_text(v: &V, pretty: bool, escape_html: bool) -> Result<String, FnError> {
    let j = v.to_json().map_err(FnError::Limit)?;
    let s = if pretty {
        go_json_pretty(&j, 0, escape_html)
    } else if escape_html {
        sluice_core::gojson::marshal(&j)
    } else {
        go_json_pretty_flat(&j, escape_html)
    };
    Ok(s)
}

fn go_str(s: &str, escape_html: bool) -> String {
    let q = sluice_core::gojson::quote(s);
    if escape_html {
        q
    } else {
        q.replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&")
    }
}

fn go_json_pretty_flat(j: &serde_json::Value, escape_html: bool) -> String {
    use serde_json::Value as J;
    match j {
        J::String(s) => go_str(s, escape_html),
        J::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| go_json_pretty_flat(x, escape_html))
                .collect::<Vec<_>>()
                .join(",")
        ),
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!(
                "{{{}}}",
                keys.iter()
                    .map(|k| format!(
                        "{}:{}",
                        go_str(k, escape_html),
                        go_json_pretty_flat(&m[*k], escape_html)
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        other => sluice_core::gojson::marshal(other),
    }
}

fn go_json_pretty(j: &serde_json::Value, ind: usize, escape_html: bool) -> String {
    use serde_json::Value as J;
    let pad = "  ".repeat(ind + 1);
    let end = "  ".repeat(ind);
    match j {
        J::Array(a) if !a.is_empty() => {
            let items: Vec<String> = a
                .iter()
                .map(|x| format!("{pad}{}", go_json_pretty(x, ind + 1, escape_html)))
                .collect();
            format!("[\n{}\n{end}]", items.join(",\n"))
        }
        J::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{pad}{}: {}",
                        go_str(k, escape_html),
                        go_json_pretty(&m[*k], ind + 1, escape_html)
                    )
                })
                .collect();
            format!("{{\n{}\n{end}}}", items.join(",\n"))
        }
        other => go_json_pretty_flat(other, escape_html),
    }
}

fn from_yaml_value(text: &str) -> Result<serde_json::Value, String> {
    let docs = sluice_core::yaml::load_documents(text, &sluice_core::Limits::default())
        .map_err(|e| e.message())?;
    Ok(docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(serde_json::Value::Null))
}

fn rand_string(n: i64, set: &[u8]) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let mut x = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
        | 1;
    (0..n.clamp(0, 1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            set[(x % set.len() as u64) as usize] as char
        })
        .collect()
}

fn charge(budget: &Budget, n: u64) -> Result<(), FnError> {
    budget.charge(n).map_err(|e| FnError::Limit(e.0))
}

pub fn call(name: &str, a: Vec<V>, budget: &Budget) -> R {
    if let Some(r) = super::funcs_more::call(name, &a, budget) {
        return r;
    }
    #[cfg(feature = "crypto")]
    if let Some(r) = super::crypto::call(name, &a) {
        return r;
    }
    let s = |i: usize| a.get(i).map(V::to_str).unwrap_or_default();
    let last = || a.last().cloned().unwrap_or(V::Nil);
    Ok(match name {
        // ---- Go builtins
        "not" => {
            nargs(name, &a, 1)?;
            V::Bool(!a[0].truthy())
        }
        "eq" => {
            if a.len() < 2 {
                return Err(FnError::Go("error calling eq: missing argument for comparison".into()));
            }
            let mut any = false;
            for b in &a[1..] {
                if basic_eq(&a[0], b)? {
                    any = true;
                    break;
                }
            }
            V::Bool(any)
        }
        "ne" => {
            nargs(name, &a, 2)?;
            V::Bool(!basic_eq(&a[0], &a[1]).map_err(|_| {
                FnError::Go("error calling ne: incompatible types for comparison".into())
            })?)
        }
        "lt" => {
            nargs(name, &a, 2)?;
            V::Bool(less(name, &a[0], &a[1])?)
        }
        "le" => {
            nargs(name, &a, 2)?;
            V::Bool(less(name, &a[0], &a[1])? || basic_eq(&a[0], &a[1])?)
        }
        "gt" => {
            nargs(name, &a, 2)?;
            V::Bool(less(name, &a[1], &a[0])?)
        }
        "ge" => {
            nargs(name, &a, 2)?;
            V::Bool(!less(name, &a[0], &a[1])?)
        }
        "len" => {
            nargs(name, &a, 1)?;
            V::Int(match &a[0] {
                V::Str(x) => x.len() as i64,
                V::Bytes(x) => x.len() as i64,
                V::List(l) => l.borrow().len() as i64,
                V::Map(m) => m.borrow().len() as i64,
                other => {
                    return Err(msg(format!("len of type {}", other.type_name())));
                }
            })
        }
        "index" => {
            let Some(mut v) = a.first().cloned() else {
                return Err(FnError::Go("wrong number of args for index: want at least 1 got 0".into()));
            };
            for k in &a[1..] {
                v = match (&v, k) {
                    (V::Map(m), k) => {
                        let key = match k {
                            V::Str(x) => x.to_string(),
                            V::Nil => return Err(msg("value is nil; should be of type string")),
                            other => {
                                return Err(msg(format!(
                                    "value has type {}; should be string",
                                    other.type_name()
                                )));
                            }
                        };
                        let got = m.borrow().get(&key).cloned();
                        got.unwrap_or(V::Nil)
                    }
                    (V::List(l), V::Int(i)) => {
                        let l = l.borrow();
                        match usize::try_from(*i).ok().and_then(|i| l.get(i)) {
                            Some(x) => x.clone(),
                            None => return Err(msg(format!("index out of range: {i}"))),
                        }
                    }
                    (V::Nil, _) => return Err(msg("index of untyped nil")),
                    (other, _) => {
                        return Err(msg(format!("can't index item of type {}", other.type_name())));
                    }
                };
            }
            v
        }
        "print" => {
            // fmt.Sprint: spaces between operands when neither is a string
            let mut out = String::new();
            for (i, x) in a.iter().enumerate() {
                if i > 0 && !matches!(x, V::Str(_)) && !matches!(a[i - 1], V::Str(_)) {
                    out.push(' ');
                }
                out.push_str(&x.display());
            }
            V::str(out)
        }
        "println" => V::str(a.iter().map(V::display).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let Some(f) = a.first() else {
                return Err(FnError::Go("wrong number of args for printf: want at least 1 got 0".into()));
            };
            V::str(super::printf::sprintf(&f.to_str(), &a[1..]))
        }
        "html" | "js" | "urlquery" | "call" => return Err(FnError::Unsupported),
        // ---- Helm
        "lookup" => V::map(BTreeMap::new()),
        "toToml" => {
            nargs(name, &a, 1)?;
            let out = match super::toml::to_toml(&a[0], budget) {
                Ok(t) => t,
                Err(super::toml::TomlError::Call(m)) => return Err(msg(m)),
                Err(super::toml::TomlError::Unsupported) => return Err(FnError::Unsupported),
                Err(super::toml::TomlError::Limit(m)) => return Err(FnError::Limit(m)),
                Err(super::toml::TomlError::Encode(m)) => m.to_owned(),
            };
            charge(budget, out.len() as u64)?;
            V::str(out)
        }
        "toYaml" | "mustToYaml" | "toYamlPretty" => {
            let j = last().to_json().map_err(FnError::Limit)?;
            let out = super::goyaml::marshal(&j, name == "toYamlPretty");
            charge(budget, out.len() as u64)?;
            V::str(out.strip_suffix('\n').unwrap_or(&out))
        }
        "fromYaml" => match from_yaml_value(&s(0)) {
            Ok(serde_json::Value::Object(m)) => V::from_json(&serde_json::Value::Object(m)),
            Ok(serde_json::Value::Null) => V::map(BTreeMap::new()),
            Ok(other) => {
                // sigs.k8s.io/yaml: YAML to JSON, then encoding/json's UnmarshalTypeError
                // naming the JSON value's kind
                let kind = match other {
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::Bool(_) => "bool",
                    _ => "array",
                };
                let mut m = BTreeMap::new();
                m.insert(
                    "Error".to_owned(),
                    V::str(format!("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}")),
                );
                V::map(m)
            }
            Err(e) => {
                let mut m = BTreeMap::new();
                m.insert("Error".to_owned(), V::str(e));
                V::map(m)
            }
        },
        "fromYamlArray" => match from_yaml_value(&s(0)) {
            Ok(v @ serde_json::Value::Array(_)) => V::from_json(&v),
            Ok(_) => V::list(Vec::new()),
            Err(e) => V::list(vec![V::str(e)]),
        },
        "toJson" | "mustToJson" => V::str(json_text(&last(), false, true).unwrap_or_default()),
        "toRawJson" | "mustToRawJson" => V::str(json_text(&last(), false, false).unwrap_or_default()),
        "toPrettyJson" | "mustToPrettyJson" => V::str(json_text(&last(), true, true).unwrap_or_default()),
        "fromJson" | "mustFromJson" => match serde_json::from_str::<serde_json::Value>(&s(0)) {
            Ok(v @ serde_json::Value::Object(_)) => V::from_json(&v),
            Ok(_) | Err(_) if name == "mustFromJson" => return Err(msg("invalid JSON")),
            Ok(_) => V::map(BTreeMap::new()),
            Err(e) => {
                let mut m = BTreeMap::new();
                m.insert("Error".to_owned(), V::str(e.to_string()));
                V::map(m)
            }
        },
        "fromJsonArray" => match serde_json::from_str::<serde_json::Value>(&s(0)) {
            Ok(v @ serde_json::Value::Array(_)) => V::from_json(&v),
            Ok(_) => V::list(Vec::new()),
            Err(e) => V::list(vec![V::str(e.to_string())]),
        },
        // ---- strings
        "upper" => V::str(s(0).to_uppercase()),
        "lower" => V::str(s(0).to_lowercase()),
        "title" => V::str(title(&s(0))),
        "untitle" => {
            let t = s(0);
            let mut out = String::new();
            let mut prev_space = true;
            for c in t.chars() {
                if prev_space {
                    out.extend(c.to_lowercase());
                } else {
                    out.push(c);
                }
                prev_space = c.is_whitespace();
            }
            V::str(out)
        }
        "trim" => V::str(s(0).trim()),
        "trimAll" | "trimall" => {
            let cut: Vec<char> = s(0).chars().collect();
            V::str(s(1).trim_matches(|c| cut.contains(&c)))
        }
        "trimPrefix" => {
            let t = s(1);
            V::str(t.strip_prefix(s(0).as_str()).unwrap_or(&t))
        }
        "trimSuffix" => {
            let t = s(1);
            V::str(t.strip_suffix(s(0).as_str()).unwrap_or(&t))
        }
        "replace" => {
            nargs(name, &a, 3)?;
            let out = s(2).replace(&s(0), &s(1));
            charge(budget, out.len() as u64)?;
            V::str(out)
        }
        "repeat" => {
            nargs(name, &a, 2)?;
            let n = to_i64(&a[0]).max(0) as u64;
            let t = s(1);
            let size = n.saturating_mul(t.len() as u64);
            if size > budget.bytes_left() {
                return Err(FnError::Limit(format!(
                    "repeat of {n} x {} bytes is over the rendering's output limit",
                    t.len()
                )));
            }
            charge(budget, size)?;
            V::str(t.repeat(n as usize))
        }
        "trunc" => {
            let c = to_i64(&a[0]);
            let t = s(1);
            let len = t.len() as i64;
            let r = if c < 0 && len + c > 0 {
                t.get((len + c) as usize..).unwrap_or(&t).to_owned()
            } else if c >= 0 && len > c {
                t.get(..c as usize).unwrap_or(&t).to_owned()
            } else {
                t
            };
            V::str(r)
        }
        "substr" => {
            let (st, en, t) = (to_i64(&a[0]), to_i64(&a[1]), s(2));
            let len = t.len() as i64;
            // Sprig's substring slices bytes; a slice Go refuses panics, which the template
            // executor reports as an error (`runtime error: slice bounds out of range`)
            let oob = |m: String| msg(format!("runtime error: slice bounds out of range {m}"));
            let r = if st < 0 {
                if en < 0 {
                    return Err(oob(format!("[:{en}]")));
                }
                if en > len {
                    return Err(oob(format!("[:{en}] with length {len}")));
                }
                t.get(..en as usize).unwrap_or("").to_owned()
            } else if en < 0 || en > len {
                if st > len {
                    return Err(oob(format!("[{st}:{len}]")));
                }
                t.get(st as usize..).unwrap_or("").to_owned()
            } else {
                if st > en {
                    return Err(oob(format!("[{st}:{en}]")));
                }
                t.get(st as usize..en as usize).unwrap_or("").to_owned()
            };
            V::str(r)
        }
        "nospace" => V::str(s(0).chars().filter(|c| !c.is_whitespace()).collect::<String>()),
        "contains" => V::Bool(s(1).contains(&s(0))),
        "hasPrefix" => V::Bool(s(1).starts_with(&s(0))),
        "hasSuffix" => V::Bool(s(1).ends_with(&s(0))),
        "quote" => V::str(
            a.iter()
                .filter(|x| !matches!(x, V::Nil))
                .map(|x| super::printf::go_quote(&x.to_str()))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => V::str(
            a.iter()
                .filter(|x| !matches!(x, V::Nil))
                .map(|x| format!("'{}'", x.to_str()))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "cat" => V::str(
            a.iter()
                .filter(|x| !matches!(x, V::Nil))
                .map(V::to_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "indent" => {
            nargs(name, &a, 2)?;
            let out = indent(to_i64(&a[0]), &s(1));
            charge(budget, out.len() as u64)?;
            V::str(out)
        }
        "nindent" => {
            nargs(name, &a, 2)?;
            let out = format!("\n{}", indent(to_i64(&a[0]), &s(1)));
            charge(budget, out.len() as u64)?;
            V::str(out)
        }
        "toString" => V::str(s(0)),
        "toStrings" => V::list(strslice(&a.first().cloned().unwrap_or(V::Nil)).into_iter().map(V::str).collect()),
        "split" => {
            let mut m = BTreeMap::new();
            for (i, p) in s(1).split(s(0).as_str()).enumerate() {
                m.insert(format!("_{i}"), V::str(p));
            }
            V::map(m)
        }
        "splitn" => {
            let n = to_i64(&a[1]);
            let t = s(2);
            let sep = s(0);
            let parts: Vec<&str> = if n < 0 {
                t.split(sep.as_str()).collect()
            } else {
                t.splitn(n as usize, sep.as_str()).collect()
            };
            let mut m = BTreeMap::new();
            for (i, p) in parts.into_iter().enumerate() {
                m.insert(format!("_{i}"), V::str(p));
            }
            V::map(m)
        }
        "splitList" => {
            let t = s(1);
            let sep = s(0);
            V::list(if sep.is_empty() {
                t.chars().map(|c| V::str(c.to_string())).collect()
            } else {
                t.split(sep.as_str()).map(V::str).collect()
            })
        }
        "join" => {
            nargs(name, &a, 2)?;
            V::str(strslice(&a[1]).join(&s(0)))
        }
        "sortAlpha" => {
            let mut l = strslice(&a.first().cloned().unwrap_or(V::Nil));
            l.sort();
            V::list(l.into_iter().map(V::str).collect())
        }
        "b64enc" => V::str(crate::appset::b64enc_pub(s(0).as_bytes())),
        "b64dec" => {
            use base64::Engine as _;
            match base64::engine::general_purpose::STANDARD.decode(s(0)) {
                Ok(b) => V::str(String::from_utf8_lossy(&b).into_owned()),
                Err(e) => V::str(e.to_string()),
            }
        }
        "sha256sum" => V::str(hex(&sha2::Sha256::digest(s(0).as_bytes()))),
        "sha512sum" => V::str(hex(&sha2::Sha512::digest(s(0).as_bytes()))),
        "sha1sum" => {
            use sha1::Digest as _;
            V::str(hex(&sha1::Sha1::digest(s(0).as_bytes())))
        }
        "adler32sum" => {
            let (mut x, mut y) = (1u32, 0u32);
            for b in s(0).bytes() {
                x = (x + u32::from(b)) % 65521;
                y = (y + x) % 65521;
            }
            V::str(((y << 16) | x).to_string())
        }
        "abbrev" => {
            let w = to_i64(&a[0]);
            let t = s(1);
            if w < 4 || t.chars().count() as i64 <= w {
                V::str(t)
            } else {
                V::str(format!("{}...", t.chars().take((w - 3) as usize).collect::<String>()))
            }
        }
        "initials" => V::str(
            s(0).split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect::<String>(),
        ),
        "plural" => V::str(if to_i64(&a[2]) == 1 { s(0) } else { s(1) }),
        "snakecase" | "kebabcase" | "camelcase" | "swapcase" | "shuffle" | "wrap" | "wrapWith" => {
            return Err(FnError::Unsupported);
        }
        "randAlphaNum" => V::str(rand_string(
            to_i64(&a[0]),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        )),
        "randAlpha" => V::str(rand_string(
            to_i64(&a[0]),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        )),
        "randNumeric" => V::str(rand_string(to_i64(&a[0]), b"0123456789")),
        "randAscii" => V::str(rand_string(
            to_i64(&a[0]),
            b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
        )),
        // ---- numbers
        "atoi" => V::Int(s(0).trim().parse::<i64>().unwrap_or(0)),
        "int" | "int64" => V::Int(a.first().map(to_i64).unwrap_or(0)),
        "float64" | "toDecimal" => V::Float(a.first().map(to_f64).unwrap_or(0.0)),
        "add" => V::Int(a.iter().map(to_i64).fold(0, i64::wrapping_add)),
        "add1" => V::Int(a.first().map(to_i64).unwrap_or(0).wrapping_add(1)),
        "sub" => {
            nargs(name, &a, 2)?;
            V::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1])))
        }
        "mul" => V::Int(a.iter().map(to_i64).fold(1, i64::wrapping_mul)),
        "div" | "mod" => {
            nargs(name, &a, 2)?;
            let d = to_i64(&a[1]);
            if d == 0 {
                return Err(msg("runtime error: integer divide by zero"));
            }
            V::Int(if name == "div" {
                to_i64(&a[0]).wrapping_div(d)
            } else {
                to_i64(&a[0]).wrapping_rem(d)
            })
        }
        "max" | "biggest" => V::Int(a.iter().map(to_i64).max().unwrap_or(0)),
        "min" => V::Int(a.iter().map(to_i64).min().unwrap_or(0)),
        "addf" => V::Float(a.iter().map(to_f64).sum()),
        "add1f" => V::Float(a.first().map(to_f64).unwrap_or(0.0) + 1.0),
        "subf" => V::Float(a.iter().map(to_f64).reduce(|x, y| x - y).unwrap_or(0.0)),
        "mulf" => V::Float(a.iter().map(to_f64).product()),
        "divf" => V::Float(a.iter().map(to_f64).reduce(|x, y| x / y).unwrap_or(0.0)),
        "maxf" => V::Float(a.iter().map(to_f64).fold(f64::NEG_INFINITY, f64::max)),
        "minf" => V::Float(a.iter().map(to_f64).fold(f64::INFINITY, f64::min)),
        "ceil" => V::Float(a.first().map(to_f64).unwrap_or(0.0).ceil()),
        "floor" => V::Float(a.first().map(to_f64).unwrap_or(0.0).floor()),
        "round" => {
            let p = a.get(1).map(to_i64).unwrap_or(0).clamp(0, 300) as i32;
            let m = 10f64.powi(p);
            V::Float((a.first().map(to_f64).unwrap_or(0.0) * m).round() / m)
        }
        "until" | "seq" | "untilStep" => {
            let (start, stop, step) = match (name, a.len()) {
                ("until", 1) => (0, to_i64(&a[0]), 1),
                ("untilStep", 3) => (to_i64(&a[0]), to_i64(&a[1]), to_i64(&a[2])),
                _ => return Err(FnError::Unsupported),
            };
            let step = if step == 0 { return Ok(V::list(Vec::new())) } else { step };
            let step = if start > stop && step > 0 { -step } else { step };
            let n = ((stop - start) / step).unsigned_abs();
            charge(budget, n.saturating_mul(16))?;
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0 && i < stop) || (step < 0 && i > stop) {
                out.push(V::Int(i));
                i += step;
            }
            V::list(out)
        }
        // ---- defaults and flow
        "default" => {
            if a.len() < 2 || empty(&a[1]) {
                a.first().cloned().unwrap_or(V::Nil)
            } else {
                a[1].clone()
            }
        }
        "empty" => V::Bool(a.first().is_none_or(empty)),
        "coalesce" => a.iter().find(|v| !empty(v)).cloned().unwrap_or(V::Nil),
        "all" => V::Bool(a.iter().all(|v| !empty(v))),
        "any" => V::Bool(a.iter().any(|v| !empty(v))),
        "ternary" => {
            nargs(name, &a, 3)?;
            if a[2].truthy() { a[0].clone() } else { a[1].clone() }
        }
        "typeOf" => V::str(last().type_name()),
        "kindOf" => V::str(last().kind()),
        "kindIs" => V::Bool(a.get(1).map(V::kind).unwrap_or("invalid") == s(0)),
        "typeIs" => V::Bool(a.get(1).map(V::type_name).unwrap_or_default() == s(0)),
        "typeIsLike" => {
            let t = a.get(1).map(V::type_name).unwrap_or_default();
            V::Bool(t == s(0) || format!("*{t}") == s(0))
        }
        "deepEqual" => V::Bool(deep_eq(&a[0], a.get(1).unwrap_or(&V::Nil), 0)),
        "deepCopy" | "mustDeepCopy" => last().deep_copy(),
        // ---- paths
        "base" | "osBase" => {
            let t = s(0);
            let t = t.trim_end_matches('/');
            V::str(if t.is_empty() { if s(0).is_empty() { "." } else { "/" } } else { t.rsplit('/').next().unwrap_or(t) })
        }
        "dir" | "osDir" => {
            let t = s(0);
            V::str(match t.rfind('/') {
                Some(0) => "/".to_owned(),
                Some(i) => t[..i].to_owned(),
                None => ".".to_owned(),
            })
        }
        "ext" | "osExt" => {
            let t = s(0);
            let base = t.rsplit('/').next().unwrap_or("");
            V::str(base.rfind('.').map(|i| base[i..].to_owned()).unwrap_or_default())
        }
        "isAbs" | "osIsAbs" => V::Bool(s(0).starts_with('/')),
        // ---- lists
        "list" | "tuple" => V::list(a),
        "append" | "push" | "mustAppend" | "mustPush" => {
            nargs(name, &a, 2)?;
            let mut l = must_list("append", &a[0])?;
            l.push(a[1].clone());
            V::list(l)
        }
        "prepend" | "mustPrepend" => {
            nargs(name, &a, 2)?;
            let mut l = must_list("prepend", &a[0])?;
            l.insert(0, a[1].clone());
            V::list(l)
        }
        "first" | "mustFirst" => list_of(&a[0]).and_then(|l| l.first().cloned()).unwrap_or(V::Nil),
        "last" | "mustLast" => list_of(&a[0]).and_then(|l| l.last().cloned()).unwrap_or(V::Nil),
        "rest" | "mustRest" => match list_of(&a[0]) {
            Some(l) if !l.is_empty() => V::list(l[1..].to_vec()),
            _ => V::Nil,
        },
        "initial" | "mustInitial" => match list_of(&a[0]) {
            Some(l) if !l.is_empty() => V::list(l[..l.len() - 1].to_vec()),
            _ => V::Nil,
        },
        "reverse" | "mustReverse" => {
            let mut l = list_of(&a[0]).unwrap_or_default();
            l.reverse();
            V::list(l)
        }
        "uniq" | "mustUniq" => {
            let mut out: Vec<V> = Vec::new();
            for x in list_of(&a[0]).unwrap_or_default() {
                if !out.iter().any(|y| deep_eq(y, &x, 0)) {
                    out.push(x);
                }
            }
            V::list(out)
        }
        "compact" | "mustCompact" => V::list(
            list_of(&a[0]).unwrap_or_default().into_iter().filter(|x| !empty(x)).collect(),
        ),
        "without" | "mustWithout" => {
            let l = list_of(&a[0]).unwrap_or_default();
            V::list(
                l.into_iter()
                    .filter(|x| !a[1..].iter().any(|y| deep_eq(x, y, 0)))
                    .collect(),
            )
        }
        "has" | "mustHas" => {
            nargs(name, &a, 2)?;
            V::Bool(list_of(&a[1]).unwrap_or_default().iter().any(|x| deep_eq(x, &a[0], 0)))
        }
        "concat" => {
            let mut out = Vec::new();
            for x in &a {
                out.extend(must_list("concat", x)?);
            }
            V::list(out)
        }
        "slice" | "mustSlice" => {
            let Some(v) = a.first() else { return Err(FnError::Go("wrong number of args for slice".into())) };
            match v {
                V::Str(t) => {
                    let st = a.get(1).map(to_i64).unwrap_or(0).max(0) as usize;
                    let en = a.get(2).map(|x| to_i64(x).max(0) as usize).unwrap_or(t.len());
                    match t.get(st..en) {
                        Some(x) => V::str(x),
                        None => return Err(msg(format!("index out of range: {en}"))),
                    }
                }
                other => {
                    let l = list_of(other).unwrap_or_default();
                    let st = a.get(1).map(to_i64).unwrap_or(0).max(0) as usize;
                    let en = a.get(2).map(|x| to_i64(x).max(0) as usize).unwrap_or(l.len());
                    match l.get(st..en) {
                        Some(x) => V::list(x.to_vec()),
                        None => return Err(msg(format!("index out of range: {en}"))),
                    }
                }
            }
        }
        "chunk" | "mustChunk" => {
            let n = to_i64(&a[0]).max(1) as usize;
            let l = list_of(&a[1]).unwrap_or_default();
            V::list(l.chunks(n).map(|c| V::list(c.to_vec())).collect())
        }
        // ---- dicts
        "dict" => {
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                let k = pair[0].to_str();
                // sprig dict.go: a key without a value maps to ""
                m.insert(k, pair.get(1).cloned().unwrap_or_else(|| V::str("")));
            }
            V::map(m)
        }
        // Sprig dict.go takes `map[string]interface{}` and `string` parameters: Go's
        // template checks every argument's type before the call (a missing value is a
        // nil `interface {}`, which is refused; a literal `nil` is a nil map, see mod.rs)
        "get" => {
            nargs(name, &a, 2)?;
            let m = want_map(&a[0])?;
            let k = want_str(&a[1])?;
            m.borrow().get(&k).cloned().unwrap_or_else(|| V::str(""))
        }
        "set" => {
            nargs(name, &a, 3)?;
            let m = want_map(&a[0])?;
            let k = want_str(&a[1])?;
            m.borrow_mut().insert(k, a[2].clone());
            a[0].clone()
        }
        "unset" => {
            nargs(name, &a, 2)?;
            let m = want_map(&a[0])?;
            let k = want_str(&a[1])?;
            m.borrow_mut().remove(&k);
            a[0].clone()
        }
        "hasKey" => {
            nargs(name, &a, 2)?;
            let m = want_map(&a[0])?;
            let k = want_str(&a[1])?;
            V::Bool(m.borrow().contains_key(&k))
        }
        "keys" => {
            let ms = a.iter().map(want_map).collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::new();
            for m in ms {
                out.extend(m.borrow().keys().map(|k| V::str(k.as_str())));
            }
            V::list(out)
        }
        "values" => {
            nargs(name, &a, 1)?;
            V::list(want_map(&a[0])?.borrow().values().cloned().collect())
        }
        "pluck" => {
            at_least(name, &a, 1)?;
            let k = want_str(&a[0])?;
            let ms = a[1..].iter().map(want_map).collect::<Result<Vec<_>, _>>()?;
            V::list(ms.iter().filter_map(|m| m.borrow().get(&k).cloned()).collect())
        }
        "pick" | "omit" => {
            at_least(name, &a, 1)?;
            let m = want_map(&a[0])?;
            let keys = a[1..].iter().map(want_str).collect::<Result<Vec<_>, _>>()?;
            V::map(
                m.borrow()
                    .iter()
                    .filter(|(k, _)| keys.contains(k) == (name == "pick"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }
        "merge" | "mustMerge" | "mergeOverwrite" | "mustMergeOverwrite" => {
            at_least(name, &a, 1)?;
            for x in &a {
                want_map(x)?;
            }
            let dst = &a[0];
            let over = name.contains("Overwrite");
            for src in &a[1..] {
                merge_into(dst, src, over, 0);
            }
            dst.clone()
        }
        "dig" => {
            // sprig dict.go dig/digFromDict: type assertions that panic, which Go's
            // template reports as the call's error
            if a.len() < 3 {
                return Err(msg("dig needs at least three arguments"));
            }
            let conv = |v: &V, want: &str| {
                msg(format!(
                    "interface conversion: interface {{}} is {}, not {want}",
                    match v {
                        V::Nil => "nil".to_owned(),
                        other => other.type_name(),
                    }
                ))
            };
            let map_of = |v: &V| match v {
                V::Map(m) => Ok(m.clone()),
                other => Err(conv(other, "map[string]interface {}")),
            };
            let mut cur = map_of(&a[a.len() - 1])?;
            let def = a[a.len() - 2].clone();
            let mut keys = Vec::new();
            for k in &a[..a.len() - 2] {
                match k {
                    V::Str(k) => keys.push(k.to_string()),
                    other => return Err(conv(other, "string")),
                }
            }
            let mut i = 0;
            loop {
                let step = cur.borrow().get(&keys[i]).cloned();
                let Some(step) = step else { return Ok(def) };
                if i + 1 == keys.len() {
                    break step;
                }
                cur = map_of(&step)?;
                i += 1;
            }
        }
        // ---- regexes and versions
        "regexMatch" | "mustRegexMatch" => V::Bool(regex(&s(0))?.is_match(&s(1))),
        "regexFind" | "mustRegexFind" => {
            V::str(regex(&s(0))?.find(&s(1)).map(|m| m.as_str().to_owned()).unwrap_or_default())
        }
        "regexFindAll" | "mustRegexFindAll" => {
            let n = to_i64(&a[2]);
            let t = s(1);
            let re = regex(&s(0))?;
            let it = re.find_iter(&t).map(|m| V::str(m.as_str()));
            V::list(if n < 0 { it.collect() } else { it.take(n as usize).collect() })
        }
        "regexReplaceAll" | "mustRegexReplaceAll" => {
            let repl = super::printf::go_expand_to_rust(&s(2));
            V::str(regex(&s(0))?.replace_all(&s(1), repl.as_str()).into_owned())
        }
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => V::str(
            regex(&s(0))?
                .replace_all(&s(1), regex::NoExpand(&s(2)))
                .into_owned(),
        ),
        "regexSplit" | "mustRegexSplit" => {
            let n = to_i64(&a[2]);
            let t = s(1);
            let re = regex(&s(0))?;
            V::list(if n < 0 {
                re.split(&t).map(V::str).collect()
            } else {
                re.splitn(&t, n as usize).map(V::str).collect()
            })
        }
        "regexQuoteMeta" => V::str(regex::escape(&s(0))),
        "semverCompare" => {
            nargs(name, &a, 2)?;
            V::Bool(super::semver::compare(&s(0), &s(1)).map_err(msg)?)
        }
        "semver" => super::semver::object(&s(0)).map_err(msg)?,
        "urlParse" | "urlJoin" => {
            nargs(name, &a, 1)?;
            let r = if name == "urlParse" {
                match &a[0] {
                    V::Str(t) => super::url::url_parse(t),
                    other => {
                        return Err(FnError::Go(format!(
                            "wrong type for value; expected string; got {}",
                            go_arg_type(other)
                        )));
                    }
                }
            } else {
                let m = want_map(&a[0])?;
                let m = m.borrow().clone();
                super::url::url_join(&m)
            };
            match r {
                Ok(v) => v,
                Err(super::url::UrlError::Parse(m)) => return Err(msg(m)),
                Err(super::url::UrlError::Unsupported) => return Err(FnError::Unsupported),
            }
        }
        "getHostByName" => return Err(FnError::Unsupported),
        _ => return Err(FnError::Unsupported),
    })
}
