//! Sprig's `urlParse` and `urlJoin` (Masterminds/sprig `url.go`) over Go's `net/url`
//! (`url.Parse`, `URL.String`, `Hostname`, `Userinfo.String`, `shouldEscape`).
//!
//! Parsing follows `url.parse` for ASCII input without percent-escapes; a URL with a `%`,
//! a byte above 0x7f or an IPv6 literal (`[`) is "not supported" rather than unescaped
//! approximately. Joining escapes as `URL.String` does. The expected results in the tests
//! come from real Helm (crates/sluice-helm/tests/fuzz_classes.rs).

use std::collections::BTreeMap;

use super::V;
use super::printf::go_quote;

pub(super) enum UrlError {
    /// Go's parse error: Sprig panics with "unable to parse url: ...".
    Parse(String),
    Unsupported,
}

#[derive(Default)]
struct Url {
    scheme: String,
    opaque: String,
    user: Option<(String, Option<String>)>,
    host: String,
    path: String,
    raw_query: String,
    force_query: bool,
    fragment: String,
}

#[derive(PartialEq, Clone, Copy)]
enum Mode {
    Path,
    Host,
    UserPassword,
    Fragment,
}

fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if mode == Mode::Host
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            return match mode {
                Mode::Path => c == b'?',
                Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                Mode::Fragment => false,
                // hosts fall through to "everything else" in Go only for these
                Mode::Host => true,
            };
        }
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if should_escape(b, mode) {
            if b == b' ' && mode == Mode::Host {
                out.push_str("%20");
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(b as char);
        }
    }
    out
}

fn get_scheme(raw: &str) -> Result<(String, &str), UrlError> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok((String::new(), raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err(UrlError::Parse("missing protocol scheme".into()));
                }
                return Ok((raw[..i].to_string(), &raw[i + 1..]));
            }
            _ => return Ok((String::new(), raw)),
        }
    }
    Ok((String::new(), raw))
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(d) => d.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn parse_host(host: &str) -> Result<String, UrlError> {
    if let Some(i) = host.rfind(':') {
        let port = &host[i..];
        if !valid_optional_port(port) {
            return Err(UrlError::Parse(format!(
                "invalid port {} after host",
                go_quote(port)
            )));
        }
    }
    // unescape(host, encodeHost): a character a host must not hold
    if let Some(b) = host.bytes().find(|b| should_escape(*b, Mode::Host)) {
        return Err(UrlError::Parse(format!(
            "invalid character {} in host name",
            go_quote(&(b as char).to_string())
        )));
    }
    Ok(host.to_string())
}

fn valid_userinfo(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
    })
}

/// `url.Parse` for the supported subset.
fn parse(raw_url: &str) -> Result<Url, UrlError> {
    if raw_url.bytes().any(|b| b >= 0x80 || b == b'%' || b == b'[') {
        return Err(UrlError::Unsupported);
    }
    let (raw, frag) = raw_url.split_once('#').unwrap_or((raw_url, ""));
    let mut u = Url {
        fragment: frag.to_string(),
        ..Url::default()
    };
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) || frag.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(UrlError::Parse(
            "net/url: invalid control character in URL".into(),
        ));
    }
    if raw == "*" {
        u.path = "*".into();
        return Ok(u);
    }
    let (scheme, rest) = get_scheme(raw)?;
    u.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest.to_string();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        u.force_query = true;
        rest.pop();
    } else if let Some((r, q)) = rest.clone().split_once('?') {
        rest = r.to_string();
        u.raw_query = q.to_string();
    }
    if !rest.starts_with('/') {
        if !u.scheme.is_empty() {
            u.opaque = rest;
            return Ok(u);
        }
        let seg = rest.split('/').next().unwrap_or("");
        if seg.contains(':') {
            return Err(UrlError::Parse(
                "first path segment in URL cannot contain colon".into(),
            ));
        }
    }
    if (!u.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let mut authority = rest[2..].to_string();
        rest = String::new();
        if let Some(i) = authority.find('/') {
            rest = authority[i..].to_string();
            authority.truncate(i);
        }
        let (userinfo, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority.as_str()),
        };
        u.host = parse_host(host)?;
        if let Some(ui) = userinfo {
            if !valid_userinfo(ui) {
                return Err(UrlError::Parse("net/url: invalid userinfo".into()));
            }
            u.user = Some(match ui.split_once(':') {
                Some((n, p)) => (n.to_string(), Some(p.to_string())),
                None => (ui.to_string(), None),
            });
        }
    }
    u.path = rest;
    Ok(u)
}

fn hostname(host: &str) -> String {
    match host.rfind(':') {
        Some(i) if valid_optional_port(&host[i..]) => host[..i].to_string(),
        _ => host.to_string(),
    }
}

fn user_string(user: &(String, Option<String>)) -> String {
    let mut s = escape(&user.0, Mode::UserPassword);
    if let Some(p) = &user.1 {
        s.push(':');
        s.push_str(&escape(p, Mode::UserPassword));
    }
    s
}

/// `URL.String()` of a URL built from parts (no `RawPath`, `OmitHost` false).
fn to_string(u: &Url) -> String {
    let mut buf = String::new();
    if !u.scheme.is_empty() {
        buf.push_str(&u.scheme);
        buf.push(':');
    }
    if !u.opaque.is_empty() {
        buf.push_str(&u.opaque);
    } else {
        if !u.scheme.is_empty() || !u.host.is_empty() || u.user.is_some() {
            if !u.host.is_empty() || !u.path.is_empty() || u.user.is_some() {
                buf.push_str("//");
            }
            if let Some(user) = &u.user {
                buf.push_str(&user_string(user));
                buf.push('@');
            }
            if !u.host.is_empty() {
                buf.push_str(&escape(&u.host, Mode::Host));
            }
        }
        let path = if u.path == "*" {
            "*".to_string()
        } else {
            escape(&u.path, Mode::Path)
        };
        if !path.is_empty() && !path.starts_with('/') && !u.host.is_empty() {
            buf.push('/');
        }
        if buf.is_empty() && path.split('/').next().unwrap_or("").contains(':') {
            buf.push_str("./");
        }
        buf.push_str(&path);
    }
    if u.force_query || !u.raw_query.is_empty() {
        buf.push('?');
        buf.push_str(&u.raw_query);
    }
    if !u.fragment.is_empty() {
        buf.push('#');
        buf.push_str(&escape(&u.fragment, Mode::Fragment));
    }
    buf
}

/// Sprig `urlParse`.
pub(super) fn url_parse(raw: &str) -> Result<V, UrlError> {
    let u = parse(raw).map_err(|e| match e {
        UrlError::Parse(m) => {
            UrlError::Parse(format!("unable to parse url: parse {}: {m}", go_quote(raw)))
        }
        other => other,
    })?;
    let mut d = BTreeMap::new();
    d.insert("scheme".into(), V::str(u.scheme.as_str()));
    d.insert("host".into(), V::str(u.host.as_str()));
    d.insert("hostname".into(), V::str(hostname(&u.host)));
    d.insert("path".into(), V::str(u.path.as_str()));
    d.insert("query".into(), V::str(u.raw_query.as_str()));
    d.insert("opaque".into(), V::str(u.opaque.as_str()));
    d.insert("fragment".into(), V::str(u.fragment.as_str()));
    d.insert(
        "userinfo".into(),
        V::str(u.user.as_ref().map(user_string).unwrap_or_default()),
    );
    Ok(V::map(d))
}

/// Sprig `urlJoin`: the dict's parts (`strval` of each, "" when absent) as `URL.String()`;
/// `userinfo` is parsed as `proto://USERINFO@host` does.
pub(super) fn url_join(d: &BTreeMap<String, V>) -> Result<V, UrlError> {
    let get = |k: &str| d.get(k).map(V::to_str).unwrap_or_default();
    let mut u = Url {
        scheme: get("scheme"),
        host: get("host"),
        path: get("path"),
        raw_query: get("query"),
        opaque: get("opaque"),
        fragment: get("fragment"),
        ..Url::default()
    };
    let ui = get("userinfo");
    if !ui.is_empty() {
        let raw = format!("proto://{ui}@host");
        let t = parse(&raw).map_err(|e| match e {
            UrlError::Parse(m) => UrlError::Parse(format!(
                "unable to parse userinfo in dict: parse {}: {m}",
                go_quote(&raw)
            )),
            other => other,
        })?;
        u.user = t.user;
    }
    if [
        &u.scheme,
        &u.host,
        &u.path,
        &u.raw_query,
        &u.opaque,
        &u.fragment,
    ]
    .iter()
    .any(|s| s.bytes().any(|b| b >= 0x80))
    {
        return Err(UrlError::Unsupported);
    }
    Ok(V::str(to_string(&u)))
}
