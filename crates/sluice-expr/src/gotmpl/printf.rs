//! Go's `fmt.Sprintf` for template values: the verbs `v s d q t x X o b e E f F g G c T %`,
//! flags `- + # 0 space`, width and precision (numbers or `*`), and Go's `%!verb(type=value)`
//! for a mismatched operand.

use std::fmt::Write as _;

use super::V;

/// `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            '\u{FFFD}' => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !c.is_ascii() && (c.is_control() || is_go_unprintable(c)) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_go_unprintable(c: char) -> bool {
    matches!(c as u32, 0x80..=0x9f | 0xad | 0x2028 | 0x2029 | 0xfeff | 0xe000..=0xf8ff)
        || (c.is_whitespace() && c != ' ')
}

/// Go's regexp replacement template (`$1`, `${name}`) in Rust's syntax: the same.
pub fn go_expand_to_rust(s: &str) -> String {
    s.to_owned()
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, sp: &Spec) -> String {
    let Some(w) = sp.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if sp.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if sp.zero {
        // zero padding goes after the sign
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => ("-", r.to_owned()),
            None => match s.strip_prefix('+') {
                Some(r) => ("+", r.to_owned()),
                None => ("", s.clone()),
            },
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn bad(verb: char, v: &V) -> String {
    match v {
        V::Nil => format!("%!{verb}(<nil>)"),
        other => format!("%!{verb}({}={})", other.type_name(), other.display()),
    }
}

fn fmt_float(f: f64, verb: char, prec: Option<usize>) -> String {
    match verb {
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), f),
        'e' | 'E' => {
            let s = format!("{:.*e}", prec.unwrap_or(6), f);
            // Rust: 1.5e3 -> Go: 1.5e+03
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let exp: i32 = e.parse().unwrap_or(0);
            let out = format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
            if verb == 'E' { out.to_uppercase() } else { out }
        }
        _ => match prec {
            None => crate::appset::go_float(f),
            Some(p) => {
                let p = p.max(1);
                let exp = if f == 0.0 {
                    0
                } else {
                    f.abs().log10().floor() as i32
                };
                if exp < -4 || exp >= p as i32 {
                    fmt_float(f, 'e', Some(p - 1))
                } else {
                    let s = format!("{:.*}", (p as i32 - 1 - exp).max(0) as usize, f);
                    if s.contains('.') {
                        s.trim_end_matches('0').trim_end_matches('.').to_owned()
                    } else {
                        s
                    }
                }
            }
        },
    }
}

fn one(verb: char, v: &V, sp: &Spec) -> String {
    let body = match (verb, v) {
        ('v', V::Float(f)) | ('g' | 'G', V::Float(f)) => fmt_float(*f, 'g', sp.prec),
        ('v', _) => {
            if sp.sharp {
                match v {
                    V::Str(s) => go_quote(s),
                    other => other.display(),
                }
            } else {
                v.display()
            }
        }
        ('s', V::Str(s)) => match sp.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        ('s', V::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        ('s', V::List(_) | V::Map(_) | V::Obj(_)) => v.display(),
        ('s', V::Int(_) | V::Float(_) | V::Bool(_) | V::Nil) => bad(verb, v),
        ('d', V::Int(i)) => {
            if sp.plus && *i >= 0 {
                format!("+{i}")
            } else if sp.space && *i >= 0 {
                format!(" {i}")
            } else {
                i.to_string()
            }
        }
        ('d', V::List(l)) => {
            let parts: Vec<String> = l
                .borrow()
                .iter()
                .map(|x| one('d', x, &Spec::default()))
                .collect();
            format!("[{}]", parts.join(" "))
        }
        ('t', V::Bool(b)) => b.to_string(),
        ('q', V::Str(s)) => go_quote(s),
        ('q', V::Int(i)) => format!("'{}'", char::from_u32(*i as u32).unwrap_or('\u{FFFD}')),
        ('c', V::Int(i)) => char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
        ('x', V::Int(i)) => format!("{}{:x}", if sp.sharp { "0x" } else { "" }, i),
        ('X', V::Int(i)) => format!("{}{:X}", if sp.sharp { "0X" } else { "" }, i),
        ('o', V::Int(i)) => format!("{:o}", i),
        ('b', V::Int(i)) => format!("{:b}", i),
        ('x', V::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', V::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('e' | 'E' | 'f' | 'F', V::Float(f)) => {
            let s = fmt_float(*f, verb, sp.prec);
            if sp.plus && *f >= 0.0 {
                format!("+{s}")
            } else {
                s
            }
        }
        ('T', _) => v.type_name(),
        _ => bad(verb, v),
    };
    pad(body, sp)
}

pub fn sprintf(f: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&d) = chars.peek() {
            match d {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                '0' => sp.zero = true,
                ' ' => sp.space = true,
                _ => break,
            }
            chars.next();
        }
        let num =
            |chars: &mut std::iter::Peekable<std::str::Chars>, next: &mut usize| -> Option<usize> {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    let v = args.get(*next).map(super::funcs::to_i64).unwrap_or(0);
                    *next += 1;
                    return Some(v.clamp(0, 1 << 20) as usize);
                }
                let mut n: Option<usize> = None;
                while let Some(&d) = chars.peek() {
                    if let Some(x) = d.to_digit(10) {
                        n = Some(
                            n.unwrap_or(0)
                                .saturating_mul(10)
                                .saturating_add(x as usize)
                                .min(1 << 20),
                        );
                        chars.next();
                    } else {
                        break;
                    }
                }
                n
            };
        sp.width = num(&mut chars, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            sp.prec = Some(num(&mut chars, &mut next).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        out.push_str(&one(verb, a, &sp));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let parts: Vec<String> = args[next..]
            .iter()
            .map(|v| match v {
                V::Nil => "<nil>".to_owned(),
                other => format!("{}={}", other.type_name(), other.display()),
            })
            .collect();
        out.push_str(&parts.join(", "));
        out.push(')');
    }
    out
}
