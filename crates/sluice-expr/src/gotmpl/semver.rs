//! Masterminds/semver v3 as Sprig's `semver` and `semverCompare` use it: loose versions
//! (`v1.2`, `1`), constraints joined by `,`/space (and) and `||` (or), the operators
//! `= != > < >= <= ~ ~> ^`, `x`/`*` wildcards, and v3's rule that a version with a
//! pre-release only satisfies a constraint that has one.

use std::cmp::Ordering;

use super::V;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub meta: String,
}

pub fn parse(s: &str) -> Result<Version, String> {
    let t = s.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let (t, meta) = match t.split_once('+') {
        Some((a, b)) => (a, b.to_owned()),
        None => (t, String::new()),
    };
    let (core, pre) = match t.split_once('-') {
        Some((a, b)) => (a, b.to_owned()),
        None => (t, String::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("Invalid Semantic Version".to_owned());
    }
    let n = |i: usize| {
        parts.get(i).map_or(Ok(0), |p| {
            p.parse::<u64>()
                .map_err(|_| "Invalid Semantic Version".to_owned())
        })
    };
    Ok(Version {
        major: n(0)?,
        minor: n(1)?,
        patch: n(2)?,
        pre,
        meta,
    })
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

pub fn cmp(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| cmp_pre(&a.pre, &b.pre))
}

/// One constraint: operator, version, and how many parts were given (wildcards count as
/// missing).
struct Con {
    op: String,
    v: Version,
    parts: usize,
}

fn parse_con(op: &str, ver: &str) -> Result<Con, String> {
    let t = ver.trim().strip_prefix('v').unwrap_or(ver.trim());
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let mut parts = 0;
    let mut nums = Vec::new();
    for p in core.split('.') {
        if p == "x" || p == "X" || p == "*" {
            break;
        }
        nums.push(p);
        parts += 1;
    }
    let text = if nums.is_empty() {
        "0".to_owned()
    } else {
        nums.join(".")
    } + rest;
    let v = parse(&text).map_err(|_| format!("improper constraint: {op}{ver}"))?;
    Ok(Con {
        op: op.to_owned(),
        v,
        parts,
    })
}

fn bump(v: &Version, part: usize) -> Version {
    match part {
        0 => Version {
            major: v.major + 1,
            minor: 0,
            patch: 0,
            pre: String::new(),
            meta: String::new(),
        },
        1 => Version {
            major: v.major,
            minor: v.minor + 1,
            patch: 0,
            pre: String::new(),
            meta: String::new(),
        },
        _ => Version {
            major: v.major,
            minor: v.minor,
            patch: v.patch + 1,
            pre: String::new(),
            meta: String::new(),
        },
    }
}

fn check(c: &Con, v: &Version) -> bool {
    if !v.pre.is_empty() && c.v.pre.is_empty() {
        return false;
    }
    let o = cmp(v, &c.v);
    let upper = |part: usize| cmp(v, &bump(&c.v, part)) == Ordering::Less;
    match c.op.as_str() {
        "" | "=" => {
            if c.parts < 3 {
                o != Ordering::Less && (c.parts == 0 || upper(c.parts - 1))
            } else {
                o == Ordering::Equal
            }
        }
        "!=" => {
            if c.parts < 3 {
                !(o != Ordering::Less && (c.parts == 0 || upper(c.parts - 1)))
            } else {
                o != Ordering::Equal
            }
        }
        ">" => {
            if c.parts < 3 && c.parts > 0 {
                cmp(v, &bump(&c.v, c.parts - 1)) != Ordering::Less
            } else {
                o == Ordering::Greater
            }
        }
        "<" => o == Ordering::Less,
        ">=" | "=>" => o != Ordering::Less,
        "<=" | "=<" => {
            if c.parts < 3 && c.parts > 0 {
                upper(c.parts - 1)
            } else {
                o != Ordering::Greater
            }
        }
        "~" | "~>" => o != Ordering::Less && upper(if c.parts <= 1 { 0 } else { 1 }),
        "^" => {
            let part = if c.v.major > 0 || c.parts <= 1 {
                0
            } else if c.v.minor > 0 || c.parts == 2 {
                1
            } else {
                2
            };
            o != Ordering::Less && upper(part)
        }
        _ => false,
    }
}

/// `semverCompare constraint version`.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    let v = parse(version).map_err(|e| e.to_owned())?;
    for alt in constraint.split("||") {
        let mut ok = true;
        let mut any = false;
        let toks = tokens(alt);
        for (op, ver) in toks {
            any = true;
            let c = parse_con(&op, &ver)?;
            if !check(&c, &v) {
                ok = false;
            }
        }
        if any && ok {
            return Ok(true);
        }
    }
    Ok(false)
}

fn tokens(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut op = String::new();
        while i < chars.len() && "=!<>~^".contains(chars[i]) {
            op.push(chars[i]);
            i += 1;
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut ver = String::new();
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ',' {
            ver.push(chars[i]);
            i += 1;
        }
        out.push((op, ver));
    }
    out
}

/// `semver "1.2.3"`: a map with the fields templates read.
/// Masterminds semver v3's `*Version` as `semver` returns it: methods `Major`, `Minor`,
/// `Patch`, `Prerelease`, `Metadata`, `Original`, `String`; printed (and marshalled to
/// JSON) as `String()`, the normalised version.
#[derive(Debug)]
struct SemverObj {
    v: Version,
    original: String,
}

impl SemverObj {
    fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.v.major, self.v.minor, self.v.patch);
        if !self.v.pre.is_empty() {
            s.push('-');
            s.push_str(&self.v.pre);
        }
        if !self.v.meta.is_empty() {
            s.push('+');
            s.push_str(&self.v.meta);
        }
        s
    }
}

impl super::Obj for SemverObj {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn call(&self, name: &str, args: &[V]) -> Option<Result<V, String>> {
        if !args.is_empty() {
            return None;
        }
        Some(Ok(match name {
            "Major" => V::Int(self.v.major as i64),
            "Minor" => V::Int(self.v.minor as i64),
            "Patch" => V::Int(self.v.patch as i64),
            "Prerelease" => V::str(self.v.pre.as_str()),
            "Metadata" => V::str(self.v.meta.as_str()),
            "Original" => V::str(self.original.as_str()),
            "String" => V::str(self.string()),
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        self.string()
    }
    fn to_value(&self) -> V {
        V::str(self.string())
    }
}

pub fn object(s: &str) -> Result<V, String> {
    let v = parse(s)?;
    Ok(V::Obj(std::rc::Rc::new(SemverObj {
        v,
        original: s.to_owned(),
    })))
}
