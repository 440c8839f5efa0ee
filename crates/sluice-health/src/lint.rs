//! `sluice validate`'s check of the Lua health scripts in `argocd-cm`, without running them:
//! each script is compiled by Lua's own compiler (a syntax error is what Argo CD would report
//! on every evaluation), then scanned for free global names that the sandbox does not have
//! and the script never assigns. Calling or indexing such a name fails every time that line
//! runs (`attempt to call global 'x' (a nil value)`): an error. Merely reading one gives nil:
//! a warning. `string` and `math` exist only with `useOpenLibs`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sluice_core::yaml::inner_pos;
use sluice_core::{FieldError, InnerError, Object, Pos};

use crate::overrides::{OverrideError, ResourceOverrides, ScriptSource};

/// A finding about one script: 1-based line and column in the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFinding {
    pub at: Pos,
    pub error: bool,
    pub message: String,
}

/// The findings of the health scripts of an `argocd-cm` ConfigMap (any other object: none),
/// positioned inside the `data` value that holds each script. For
/// `sluice_apis::manifests::Options::inner_checks`.
pub fn lint_argocd_cm(obj: &Object) -> Vec<InnerError> {
    let v = obj.value();
    let is_cm = v.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && v.get("kind").and_then(Value::as_str) == Some("ConfigMap")
        && v.pointer("/metadata/name").and_then(Value::as_str) == Some("argocd-cm");
    if !is_cm {
        return Vec::new();
    }
    let (overrides, errs) = ResourceOverrides::from_configmap(v);
    let mut out: Vec<InnerError> = errs.into_iter().map(override_error).collect();
    for (key, o) in overrides.iter() {
        let Some(src) = &o.source else { continue };
        if o.health_lua.is_empty() {
            continue;
        }
        for f in lint_script(&o.health_lua, o.use_open_libs) {
            let at = match (&src.key_pos, data_text(v, src)) {
                (Some(kp), Some(text)) => inner_pos(text, *kp, f.at),
                (Some(kp), None) => *kp,
                (None, _) => f.at,
            };
            let message = format!("Lua health script for {key}: {}", f.message);
            let error = if f.error {
                FieldError::new(src.path(), message)
            } else {
                FieldError::warning(src.path(), message)
            };
            out.push(InnerError {
                error,
                value: src.value_path(),
                at,
            });
        }
    }
    out
}

fn data_text<'a>(cm: &'a Value, src: &ScriptSource) -> Option<&'a str> {
    cm.get("data")?.get(&src.data_key)?.as_str()
}

fn override_error(e: OverrideError) -> InnerError {
    let src = ScriptSource {
        data_key: e.data_key,
        override_key: None,
        key_pos: None,
    };
    InnerError {
        error: FieldError::new(src.path(), e.message),
        value: src.value_path(),
        at: e.at.unwrap_or(Pos { line: 1, col: 1 }),
    }
}

/// The globals a health script finds in the sandbox.
fn sandbox_globals(open_libs: bool) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Ok(lua) = crate::lua::sandbox(open_libs) {
        for (k, _) in lua.globals().pairs::<String, mlua::Value>().flatten() {
            names.insert(k);
        }
    }
    names.insert("obj".to_owned());
    names
}

/// The findings of one script (positions in the script).
pub fn lint_script(script: &str, open_libs: bool) -> Vec<ScriptFinding> {
    if let Some(f) = syntax_error(script) {
        return vec![f];
    }
    let Ok(tokens) = lex(script) else {
        return Vec::new();
    };
    let allowed = sandbox_globals(open_libs);
    let scan = scan(&tokens);
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    // calls and indexing first: they are the errors, a name is reported once
    for want_use in [true, false] {
        for r in &scan.reads {
            if r.used != want_use
                || allowed.contains(&r.name)
                || scan.assigned.contains(&r.name)
                || !reported.insert(r.name.clone())
            {
                continue;
            }
            let hint = match r.name.as_str() {
                "string" | "math" | "coroutine" if !open_libs => {
                    " (the standard libraries are open only with useOpenLibs: true)"
                }
                "os" if !open_libs => {
                    " (without useOpenLibs: true only as local os = require(\"os\"))"
                }
                "io" | "debug" | "dofile" | "loadfile" | "load" | "loadstring" | "package" => {
                    " (not available to health scripts)"
                }
                _ => "",
            };
            let message = if r.used {
                format!(
                    "undefined global '{}'{hint}: evaluating the script fails with \"attempt to {} global '{}' (a nil value)\"",
                    r.name,
                    if r.called { "call" } else { "index" },
                    r.name
                )
            } else {
                format!("undefined global '{}'{hint}: it is always nil", r.name)
            };
            out.push(ScriptFinding {
                at: r.at,
                error: r.used,
                message,
            });
        }
    }
    out.sort_by_key(|f| f.at);
    out
}

/// Compiles the script without running it.
fn syntax_error(script: &str) -> Option<ScriptFinding> {
    let lua = mlua::Lua::new_with(mlua::StdLib::NONE, mlua::LuaOptions::default()).ok()?;
    let e = lua
        .load(script)
        .set_mode(mlua::chunk::ChunkMode::Text)
        .set_name("=<string>")
        .into_function()
        .err()?;
    let msg = crate::lua::error_message(&e);
    // "<string>:LINE: message near 'token'"
    let rest = msg.strip_prefix("<string>:").unwrap_or(&msg);
    let (line, text) = match rest.split_once(':') {
        Some((l, t)) => (l.parse::<u32>().unwrap_or(1), t.trim()),
        None => (1, rest),
    };
    let src_line = script
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("");
    let near = text
        .rsplit_once(" near '")
        .and_then(|(_, t)| t.strip_suffix('\''))
        .and_then(|tok| src_line.rfind(tok))
        .map(|byte| src_line[..byte].chars().count());
    let col = near.unwrap_or_else(|| src_line.chars().take_while(|c| c.is_whitespace()).count());
    Some(ScriptFinding {
        at: Pos {
            line,
            col: u32::try_from(col).unwrap_or(0) + 1,
        },
        error: true,
        message: format!("syntax error: {text} (Argo CD reports it on every evaluation)"),
    })
}

// ---- a Lua 5.1 lexer -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K {
    Name,
    Kw,
    Str,
    Num,
    Sym,
}

#[derive(Debug, Clone)]
struct Tok {
    k: K,
    text: String,
    at: Pos,
}

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local",
    "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

fn lex(src: &str) -> Result<Vec<Tok>, ()> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    // advance over n chars, tracking lines
    let adv = |i: &mut usize, line: &mut u32, col: &mut u32, n: usize| {
        for _ in 0..n {
            if *i < c.len() {
                if c[*i] == '\n' {
                    *line += 1;
                    *col = 1;
                } else {
                    *col += 1;
                }
                *i += 1;
            }
        }
    };
    // the level of a long bracket `[==[` starting at j, if it is one
    let long_open = |j: usize| -> Option<usize> {
        if c.get(j) != Some(&'[') {
            return None;
        }
        let mut k = j + 1;
        while c.get(k) == Some(&'=') {
            k += 1;
        }
        (c.get(k) == Some(&'[')).then_some(k - j - 1)
    };
    let long_len = |j: usize, level: usize| -> Result<usize, ()> {
        // from j (at the opening '['), the length through the closing bracket
        let start = j + level + 2;
        let mut k = start;
        while k < c.len() {
            if c[k] == ']' {
                let mut e = k + 1;
                while e < c.len() && c[e] == '=' {
                    e += 1;
                }
                if e - k - 1 == level && c.get(e) == Some(&']') {
                    return Ok(e + 1 - j);
                }
            }
            k += 1;
        }
        Err(())
    };
    while i < c.len() {
        let ch = c[i];
        let at = Pos { line, col };
        if ch.is_whitespace() {
            adv(&mut i, &mut line, &mut col, 1);
        } else if ch == '-' && c.get(i + 1) == Some(&'-') {
            if let Some(level) = long_open(i + 2) {
                let n = long_len(i + 2, level)?;
                adv(&mut i, &mut line, &mut col, n + 2);
            } else {
                while i < c.len() && c[i] != '\n' {
                    adv(&mut i, &mut line, &mut col, 1);
                }
            }
        } else if let Some(level) = long_open(i) {
            let n = long_len(i, level)?;
            adv(&mut i, &mut line, &mut col, n);
            out.push(Tok {
                k: K::Str,
                text: String::new(),
                at,
            });
        } else if ch == '"' || ch == '\'' {
            let mut j = i + 1;
            while j < c.len() && c[j] != ch {
                if c[j] == '\n' {
                    return Err(());
                }
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            if j >= c.len() {
                return Err(());
            }
            let n = j + 1 - i;
            adv(&mut i, &mut line, &mut col, n);
            out.push(Tok {
                k: K::Str,
                text: String::new(),
                at,
            });
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let mut j = i;
            while j < c.len()
                && (c[j].is_ascii_alphanumeric()
                    || c[j] == '.'
                    || ((c[j] == '+' || c[j] == '-') && matches!(c[j - 1], 'e' | 'E')))
            {
                j += 1;
            }
            let n = j - i;
            adv(&mut i, &mut line, &mut col, n);
            out.push(Tok {
                k: K::Num,
                text: String::new(),
                at,
            });
        } else if ch.is_alphabetic() || ch == '_' {
            let mut j = i;
            while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            let text: String = c[i..j].iter().collect();
            let n = j - i;
            adv(&mut i, &mut line, &mut col, n);
            let k = if KEYWORDS.contains(&text.as_str()) {
                K::Kw
            } else {
                K::Name
            };
            out.push(Tok { k, text, at });
        } else {
            let three: String = c[i..(i + 3).min(c.len())].iter().collect();
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            let text = if three == "..." {
                three
            } else if matches!(two.as_str(), ".." | "==" | "~=" | "<=" | ">=") {
                two
            } else {
                ch.to_string()
            };
            adv(&mut i, &mut line, &mut col, text.chars().count());
            out.push(Tok {
                k: K::Sym,
                text,
                at,
            });
        }
    }
    Ok(out)
}

// ---- free globals ----------------------------------------------------------------------------

struct Read {
    name: String,
    at: Pos,
    /// Called or indexed (fails when nil), not only read.
    used: bool,
    called: bool,
}

struct Scan {
    reads: Vec<Read>,
    assigned: BTreeSet<String>,
}

fn is(t: Option<&Tok>, k: K, text: &str) -> bool {
    t.is_some_and(|t| t.k == k && t.text == text)
}

/// Walks the tokens with Lua's scoping (blocks, `local`, parameters, loop variables) and
/// records every free name: read, called/indexed, or assigned.
fn scan(toks: &[Tok]) -> Scan {
    let mut scopes: Vec<BTreeSet<String>> = vec![BTreeSet::new()];
    let mut pending: Vec<String> = Vec::new();
    let mut brackets: Vec<char> = Vec::new();
    let mut reads = Vec::new();
    let mut assigned = BTreeSet::new();
    let mut skip: BTreeMap<usize, ()> = BTreeMap::new();
    let local = |scopes: &Vec<BTreeSet<String>>, n: &str| scopes.iter().any(|s| s.contains(n));
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let next = toks.get(i + 1);
        match (t.k, t.text.as_str()) {
            (K::Kw, "function") => {
                let is_local = i > 0 && is(toks.get(i - 1), K::Kw, "local");
                let mut j = i + 1;
                let mut params = Vec::new();
                if toks.get(j).is_some_and(|t| t.k == K::Name) {
                    let name = &toks[j];
                    let mut method = false;
                    let mut k = j + 1;
                    while (is(toks.get(k), K::Sym, ".") || is(toks.get(k), K::Sym, ":"))
                        && toks.get(k + 1).is_some_and(|t| t.k == K::Name)
                    {
                        method |= toks[k].text == ":";
                        k += 2;
                    }
                    let plain = k == j + 1;
                    if is_local {
                        if let Some(s) = scopes.last_mut() {
                            s.insert(name.text.clone());
                        }
                    } else if !local(&scopes, &name.text) {
                        if plain {
                            assigned.insert(name.text.clone());
                        } else {
                            reads.push(Read {
                                name: name.text.clone(),
                                at: name.at,
                                used: true,
                                called: false,
                            });
                        }
                    }
                    if method {
                        params.push("self".to_owned());
                    }
                    j = k;
                }
                if is(toks.get(j), K::Sym, "(") {
                    j += 1;
                    while j < toks.len() && !is(toks.get(j), K::Sym, ")") {
                        if toks[j].k == K::Name {
                            params.push(toks[j].text.clone());
                        }
                        j += 1;
                    }
                    i = j + 1;
                } else {
                    i = j;
                }
                scopes.push(params.into_iter().collect());
                continue;
            }
            (K::Kw, "local") if !is(next, K::Kw, "function") => {
                let mut j = i + 1;
                while toks.get(j).is_some_and(|t| t.k == K::Name) {
                    if let Some(s) = scopes.last_mut() {
                        s.insert(toks[j].text.clone());
                    }
                    skip.insert(j, ());
                    if is(toks.get(j + 1), K::Sym, ",") {
                        j += 2;
                    } else {
                        break;
                    }
                }
            }
            (K::Kw, "for") => {
                let mut j = i + 1;
                while j < toks.len()
                    && !is(toks.get(j), K::Kw, "in")
                    && !is(toks.get(j), K::Sym, "=")
                {
                    if toks[j].k == K::Name {
                        pending.push(toks[j].text.clone());
                        skip.insert(j, ());
                    }
                    j += 1;
                }
            }
            (K::Kw, "do") => scopes.push(std::mem::take(&mut pending).into_iter().collect()),
            (K::Kw, "then" | "repeat") => scopes.push(BTreeSet::new()),
            (K::Kw, "else") => {
                if scopes.len() > 1 {
                    scopes.pop();
                }
                scopes.push(BTreeSet::new());
            }
            (K::Kw, "elseif" | "end" | "until") if scopes.len() > 1 => {
                scopes.pop();
            }
            (K::Sym, "(" | "[" | "{") => brackets.push(t.text.chars().next().unwrap_or('(')),
            (K::Sym, ")" | "]" | "}") => {
                brackets.pop();
            }
            (K::Name, _) if !skip.contains_key(&i) => {
                let prev = if i > 0 { toks.get(i - 1) } else { None };
                let field = is(prev, K::Sym, ".") || is(prev, K::Sym, ":");
                let in_table = brackets.last() == Some(&'{');
                let key = in_table
                    && (is(prev, K::Sym, "{") || is(prev, K::Sym, ",") || is(prev, K::Sym, ";"))
                    && is(next, K::Sym, "=");
                if !field && !key && !local(&scopes, &t.text) {
                    // `a, b = ...` at statement level: every name of the list is assigned
                    let mut j = i + 1;
                    if brackets.is_empty() {
                        while is(toks.get(j), K::Sym, ",")
                            && toks.get(j + 1).is_some_and(|t| t.k == K::Name)
                        {
                            j += 2;
                        }
                    }
                    if is(toks.get(j), K::Sym, "=") {
                        for k in (i..j).step_by(2) {
                            if !local(&scopes, &toks[k].text) {
                                assigned.insert(toks[k].text.clone());
                            }
                            skip.insert(k, ());
                        }
                    } else {
                        let called = is(next, K::Sym, "(")
                            || is(next, K::Sym, "{")
                            || next.is_some_and(|n| n.k == K::Str);
                        let indexed =
                            is(next, K::Sym, ".") || is(next, K::Sym, "[") || is(next, K::Sym, ":");
                        reads.push(Read {
                            name: t.text.clone(),
                            at: t.at,
                            used: called || indexed,
                            called,
                        });
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Scan { reads, assigned }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(script: &str, open: bool) -> Vec<(u32, u32, bool, String)> {
        lint_script(script, open)
            .into_iter()
            .map(|f| (f.at.line, f.at.col, f.error, f.message))
            .collect()
    }

    // The seed's defect 8: a Rollout script calling a helper it never defines.
    #[test]
    fn undefined_call_is_an_error() {
        let s = "function check(obj)\n  hs = {}\n  n = getOr(obj.spec.replicas, 1)\n  return hs\nend\nhs = check(obj)\nreturn hs\n";
        let f = names(s, false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].0, f[0].1, f[0].2), (3, 7, true));
        assert!(f[0].3.contains("undefined global 'getOr'"), "{}", f[0].3);
        assert!(
            f[0].3
                .contains("attempt to call global 'getOr' (a nil value)")
        );
    }

    #[test]
    fn locals_params_loops_fields_and_keys_are_not_globals() {
        let s = r#"
local function helper(a, b) return a + b end
local x, y = 1, 2
hs = { status = "Healthy", message = x .. y }
for i, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then hs.message = c.message else local z = i end
end
for k = 1, 3 do hs[k] = helper(k, x) end
if obj.status ~= nil and os.time() > 0 and string.find("a", "a") then return hs end
local t = {}
function t.m(self2) return self2 end
function t:n() return self end
a, b = 1, 2
return { status = a and "Healthy", message = tostring(b) }
"#;
        assert_eq!(names(s, true), vec![]);
        // without useOpenLibs neither `string` nor an `os` global exist
        let f = names(s, false);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f[0].3
                .contains("'os' (without useOpenLibs: true only as local os = require(\"os\"))"),
            "{f:?}"
        );
        assert!(
            f[1].3
                .contains("'string' (the standard libraries are open only with useOpenLibs: true)"),
            "{f:?}"
        );
        assert_eq!(
            names(
                "local os = require('os')\nreturn {status = 'Healthy', message = os.date('%Y', table.time())}",
                false
            ),
            vec![]
        );
    }

    #[test]
    fn reads_are_warnings_and_syntax_errors_are_positioned() {
        let f = names("if foo == nil then return {status='Healthy'} end", false);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].0, f[0].1, f[0].2), (1, 4, false));
        let f = names("hs = {}\nhs.status = = 'x'\nreturn hs", false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].0, f[0].1, f[0].2), (2, 13, true));
        assert!(
            f[0].3
                .starts_with("syntax error: unexpected symbol near '='"),
            "{}",
            f[0].3
        );
        // io and loadstring are not in the sandbox
        let f = names(
            "local f = io.open('/etc/passwd')\nreturn loadstring('x')()",
            true,
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f.iter()
                .all(|x| x.2 && x.3.contains("not available to health scripts"))
        );
    }

    #[test]
    fn comments_and_long_strings_are_skipped() {
        let s = "--[[ foo() ]]\n-- bar()\nlocal s = [==[ baz() ]==] .. \"qux()\"\nreturn {status='Healthy', message=s}";
        assert_eq!(names(s, false), vec![]);
    }
}
