//! `parseURL` of the CEL extensions: Go's `url.Parse` reduced to the fields Triggers exposes
//! (`urlToMap` in tektoncd/triggers `pkg/interceptors/cel/triggers.go`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The map `urlToMap` builds: scheme, host, path, rawQuery, fragment, queryStrings, query and,
/// with user info, auth.
pub fn parse(s: &str) -> Result<Value, String> {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "parse {s:?}: net/url: invalid control character in URL"
        ));
    }
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, unescape(f, false)?),
        None => (s, String::new()),
    };
    let (scheme, rest) = split_scheme(rest);
    let (rest, raw_query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_owned()),
        None => (rest, String::new()),
    };
    let mut host = String::new();
    let mut auth: Option<(String, String)> = None;
    let mut path_part = rest;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        path_part = &after[end..];
        let hostpart = match authority.rsplit_once('@') {
            Some((user, h)) => {
                let (u, p) = user.split_once(':').unwrap_or((user, ""));
                auth = Some((unescape(u, false)?, unescape(p, false)?));
                h
            }
            None => authority,
        };
        host = unescape(hostpart, false)?;
    }
    let path = unescape(path_part, false)?;
    let mut query_strings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in raw_query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Ok(k), Ok(v)) = (unescape(k, true), unescape(v, true)) else {
            continue; // url.ParseQuery skips (and reports) a bad pair; Query() drops it
        };
        query_strings.entry(k).or_default().push(v);
    }
    let query: Map<String, Value> = query_strings
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.join(","))))
        .collect();
    let mut m = json!({
        "scheme": scheme.to_lowercase(),
        "host": host,
        "path": path,
        "rawQuery": raw_query,
        "fragment": fragment,
        "queryStrings": query_strings,
        "query": query,
    });
    if let (Some((u, p)), Some(obj)) = (auth, m.as_object_mut()) {
        obj.insert("auth".to_owned(), json!({"username": u, "password": p}));
    }
    Ok(m)
}

fn split_scheme(s: &str) -> (&str, &str) {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i > 0 => return (&s[..i], &s[i + 1..]),
            _ => return ("", s),
        }
    }
    ("", s)
}

/// Percent-decoding; `+` is a space in query components.
fn unescape(s: &str, query: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "invalid URL escape {:?}",
                            String::from_utf8_lossy(&b[i..(i + 3).min(b.len())])
                        )
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/cel_expressions.md: the fields for
    // "https://user:pass@example.com/test/path?s=testing#first".
    #[test]
    fn upstream_example() {
        let v = parse("https://user:pass@example.com/test/path?s=testing#first").expect("parses");
        assert_eq!(
            v,
            json!({"scheme": "https", "host": "example.com", "path": "/test/path",
                   "rawQuery": "s=testing", "fragment": "first",
                   "query": {"s": "testing"}, "queryStrings": {"s": ["testing"]},
                   "auth": {"username": "user", "password": "pass"}})
        );
        let v = parse("/p%20q?a=1+2&a=3").expect("parses");
        assert_eq!(v["path"], "/p q");
        assert_eq!(v["query"]["a"], "1 2,3");
        assert!(parse("http://x/%zz").is_err());
    }
}
