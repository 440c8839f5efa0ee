//! ApplicationSet template rendering (argoproj/argo-cd `applicationset/utils/util.go`):
//!
//! - fasttemplate (the default): `{{param}}` / `{{ path.basename }}` tags are replaced by
//!   the flat string parameters of a generator; a tag without a parameter is left as it is
//!   (`{{tag}}`), and a `{{` without a closing `}}` is a parse error.
//! - Go `text/template` (`goTemplate: true`): a parser and an evaluator for the subset of
//!   the language ApplicationSets use (fields, variables, pipelines, `if`/`else`/`range`/
//!   `with`, comparison and logic functions, `index`, `printf`, and the Sprig functions
//!   Argo CD templates commonly use). Every Sprig function name is *known* (so an unknown
//!   function is a parse error, as in Go); functions Sluice does not evaluate make
//!   [`TemplateError::Unsupported`], which callers treat as "cannot tell", never as a finding.
//!
//! Limits: a template nests at most [`MAX_TEMPLATE_NESTING`] levels (parentheses in an
//! action, control structures), refused when it is parsed; a rendering draws on a
//! [`Budget`] ([`TEMPLATE_LIMITS`]: steps, bytes of output and values built, time), and over
//! it stops with [`TemplateError::Limit`]. Rendering recursion follows the parsed nesting.
//!
//! Architecture invariant: pure functions, no I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;
use sluice_core::{FieldPath, PathSeg};

pub use crate::budget::Budget;
use crate::budget::{Exceeded, Limits};

/// Nesting of parentheses in one action and of control structures (`if`, `range`, `with`,
/// each `else if` and `else with` counting as one more level). Go's parser stops at 10,000
/// parentheses (`maxStackDepth`, text/template/parse) on stacks that grow to 1 GB and does
/// not limit control structures; Sluice's stacks are fixed, and real templates nest a
/// handful of levels.
pub const MAX_TEMPLATE_NESTING: usize = 100;

/// Steps (template nodes, commands, range iterations) of one budget.
pub const MAX_TEMPLATE_STEPS: u64 = 1_000_000;

/// Bytes of output and of values built (function results, copies) of one budget.
pub const MAX_TEMPLATE_BYTES: u64 = 16 * 1024 * 1024;

/// Wall-clock time of one budget.
pub const MAX_TEMPLATE_TIME: Duration = Duration::from_secs(2);

/// Nesting of a value a template builds (`list`, `dict`): parameters nest at most 128 levels.
pub const MAX_TEMPLATE_VALUE_DEPTH: usize = 256;

/// The limits of one rendering budget.
pub const TEMPLATE_LIMITS: Limits = Limits {
    max_steps: MAX_TEMPLATE_STEPS,
    max_bytes: MAX_TEMPLATE_BYTES,
    max_time: Some(MAX_TEMPLATE_TIME),
};

/// A rendering budget with [`TEMPLATE_LIMITS`] whose clock starts now.
pub fn template_budget() -> Budget {
    Budget::new("template execution", TEMPLATE_LIMITS)
}

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text does not parse (position is 1-based line and column).
    #[error("{line}:{col}: {message}")]
    Parse {
        line: usize,
        col: usize,
        message: String,
    },
    /// The template parsed but failed while executing with the given parameters.
    #[error("{0}")]
    Exec(String),
    /// The template uses something Sluice does not evaluate (a Sprig function without a
    /// Rust implementation, `template`/`define`...): the outcome is unknown.
    #[error("cannot evaluate: {0}")]
    Unsupported(String),
    /// Rendering went over its [`Budget`] or built a value nested too deep.
    #[error("{0}")]
    Limit(String),
}

impl From<Exceeded> for TemplateError {
    fn from(e: Exceeded) -> Self {
        TemplateError::Limit(e.0)
    }
}

impl TemplateError {
    pub fn is_unsupported(&self) -> bool {
        matches!(self, TemplateError::Unsupported(_))
    }
}

pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = match before.rfind('\n') {
        Some(i) => offset - i,
        None => offset + 1,
    };
    (line, col)
}

fn parse_err(src: &str, offset: usize, message: impl Into<String>) -> TemplateError {
    let (line, col) = line_col(src, offset);
    TemplateError::Parse {
        line,
        col,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------
// fasttemplate
// ---------------------------------------------------------------------------------------

/// A piece of a fasttemplate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FastPart<'a> {
    Text(&'a str),
    /// The tag as written between `{{` and `}}` (not trimmed).
    Tag(&'a str),
}

/// Splits `s` into text and `{{tag}}` parts (valyala/fasttemplate with `{{`/`}}`).
pub fn fasttemplate_parse(s: &str) -> Result<Vec<FastPart<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(i) = s[rest..].find("{{") {
        let start = rest + i;
        if start > rest {
            out.push(FastPart::Text(&s[rest..start]));
        }
        let inner = start + 2;
        match s[inner..].find("}}") {
            Some(j) => {
                out.push(FastPart::Tag(&s[inner..inner + j]));
                rest = inner + j + 2;
            }
            None => {
                return Err(parse_err(
                    s,
                    start,
                    format!(
                        "Cannot find end tag=\"}}}}\" in the template={s:?} starting from {:?}",
                        &s[inner..]
                    ),
                ));
            }
        }
    }
    if rest < s.len() {
        out.push(FastPart::Text(&s[rest..]));
    }
    Ok(out)
}

/// The trimmed tags of a fasttemplate (`{{ path.basename }}` -> `path.basename`).
pub fn fasttemplate_tags(s: &str) -> Result<Vec<&str>, TemplateError> {
    Ok(fasttemplate_parse(s)?
        .into_iter()
        .filter_map(|p| match p {
            FastPart::Tag(t) => Some(t.trim()),
            FastPart::Text(_) => None,
        })
        .collect())
}

/// Renders `s` with flat string parameters. Unknown (and empty) tags stay as written.
pub fn render_fasttemplate(
    s: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    render_fasttemplate_in(s, params, &template_budget())
}

/// [`render_fasttemplate`] within `budget` (each tag's value counts: a tag repeated over
/// a large parameter cannot multiply it past the budget).
pub fn render_fasttemplate_in(
    s: &str,
    params: &BTreeMap<String, String>,
    budget: &Budget,
) -> Result<String, TemplateError> {
    budget.charge(s.len() as u64)?;
    let mut out = String::with_capacity(s.len());
    for part in fasttemplate_parse(s)? {
        match part {
            FastPart::Text(t) => out.push_str(t),
            FastPart::Tag(tag) => match params.get(tag.trim()) {
                Some(v) if !tag.trim().is_empty() => {
                    budget.step()?;
                    budget.charge(v.len() as u64)?;
                    out.push_str(v);
                }
                _ => {
                    out.push_str("{{");
                    out.push_str(tag);
                    out.push_str("}}");
                }
            },
        }
    }
    Ok(out)
}

/// The fasttemplate parameters of one list-generator element (argo-cd
/// `applicationset/generators/list.go`): string values as they are, the `values` map
/// flattened to `values.<key>`; any other value is an error.
pub fn fasttemplate_params_of_element(
    element: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in element {
        if k == "values" {
            let Some(values) = v.as_object() else {
                return Err("error parsing values map".to_owned());
            };
            for (vk, vv) in values {
                let Some(s) = vv.as_str() else {
                    return Err(format!(
                        "error parsing value as string (values.{vk} is not a string)"
                    ));
                };
                out.insert(format!("values.{vk}"), s.to_owned());
            }
        } else {
            let Some(s) = v.as_str() else {
                return Err(format!(
                    "error parsing value as string ({k} is not a string)"
                ));
            };
            out.insert(k.clone(), s.to_owned());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Go text/template: lexer
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// A field name and whether it is attached to the previous token (`.a.b`, `$x.a`).
    Field(String, bool),
    Var(String),
    Str(String),
    Num(Num),
    Char(i64),
    Dot,
    Declare,
    Assign,
    Pipe,
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

/// One raw item of the template: text or an action's tokens.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Text(String),
    Action { toks: Vec<(Tok, usize)>, pos: usize },
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub(crate) fn lex(src: &str) -> Result<Vec<Item>, TemplateError> {
    let bytes = src.as_bytes();
    let mut items: Vec<Item> = Vec::new();
    let mut i = 0;
    let mut trim_next_text = false;
    while i <= bytes.len() {
        let open = src[i..].find("{{").map(|o| i + o);
        let text_end = open.unwrap_or(bytes.len());
        let mut text = &src[i..text_end];
        if trim_next_text {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = open else {
            if !text.is_empty() {
                items.push(Item::Text(text.to_owned()));
            }
            break;
        };
        let mut j = open + 2;
        // `{{- ` trims the text before.
        if bytes.get(j) == Some(&b'-') && bytes.get(j + 1).is_some_and(|c| is_space(*c)) {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            j += 2;
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_owned()));
        }
        // Comments.
        let after_ws = {
            let mut k = j;
            while k < bytes.len() && is_space(bytes[k]) {
                k += 1;
            }
            k
        };
        if src[j..].starts_with("/*") || (after_ws > j && src[after_ws..].starts_with("/*")) {
            let cstart = if src[j..].starts_with("/*") {
                j
            } else {
                after_ws
            };
            let Some(cend) = src[cstart + 2..].find("*/").map(|c| cstart + 2 + c + 2) else {
                return Err(parse_err(src, open, "unclosed comment"));
            };
            let mut k = cend;
            while k < bytes.len() && is_space(bytes[k]) {
                k += 1;
            }
            if src[k..].starts_with("-}}") && k > cend {
                trim_next_text = true;
                i = k + 3;
            } else if src[cend..].starts_with("}}") {
                trim_next_text = false;
                i = cend + 2;
            } else {
                return Err(parse_err(
                    src,
                    cend,
                    "comment ends before closing delimiter",
                ));
            }
            continue;
        }
        let (toks, end, trim) = lex_action(src, j, open)?;
        items.push(Item::Action { toks, pos: open });
        trim_next_text = trim;
        i = end;
    }
    Ok(items)
}

/// An action's tokens, the offset after its `}}`, and whether it ends with `-}}`.
type LexedAction = (Vec<(Tok, usize)>, usize, bool);

/// Lexes one action starting at `start` (after `{{` and any left trim marker). Returns the
/// tokens, the offset after `}}` and whether a right trim marker was present.
fn lex_action(src: &str, start: usize, open: usize) -> Result<LexedAction, TemplateError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = start;
    let mut paren_depth = 0usize;
    loop {
        if i >= bytes.len() {
            return Err(parse_err(src, open, "unclosed action"));
        }
        let c = bytes[i];
        if is_space(c) {
            let mut k = i;
            while k < bytes.len() && is_space(bytes[k]) {
                k += 1;
            }
            if src[k..].starts_with("-}}") {
                return Ok((toks, k + 3, true));
            }
            i = k;
            continue;
        }
        if src[i..].starts_with("}}") {
            if paren_depth > 0 {
                return Err(parse_err(src, i, "unclosed left paren"));
            }
            return Ok((toks, i + 2, false));
        }
        let pos = i;
        match c {
            b'|' => {
                toks.push((Tok::Pipe, pos));
                i += 1;
            }
            b'(' => {
                paren_depth += 1;
                if paren_depth > MAX_TEMPLATE_NESTING {
                    // Go's message (text/template/parse term: maxStackDepth)
                    return Err(parse_err(src, i, "max expression depth exceeded"));
                }
                toks.push((Tok::LParen, pos));
                i += 1;
            }
            b')' => {
                if paren_depth == 0 {
                    return Err(parse_err(src, i, "unexpected right paren"));
                }
                paren_depth -= 1;
                toks.push((Tok::RParen, pos));
                i += 1;
            }
            b',' => {
                toks.push((Tok::Comma, pos));
                i += 1;
            }
            b':' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    toks.push((Tok::Declare, pos));
                    i += 2;
                } else {
                    return Err(parse_err(src, i, "expected :="));
                }
            }
            b'=' => {
                toks.push((Tok::Assign, pos));
                i += 1;
            }
            b'"' => {
                let (s, end) = lex_quoted(src, i)?;
                toks.push((Tok::Str(s), pos));
                i = end;
            }
            b'`' => match src[i + 1..].find('`') {
                Some(e) => {
                    toks.push((Tok::Str(src[i + 1..i + 1 + e].to_owned()), pos));
                    i = i + 1 + e + 1;
                }
                None => return Err(parse_err(src, i, "unterminated raw quoted string")),
            },
            b'\'' => {
                let rest = &src[i + 1..];
                let mut chars = rest.char_indices();
                let (ch, len) = match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((k, e)) => {
                            let v = match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '\'' => '\'',
                                '0' => '\0',
                                other => other,
                            };
                            (v, k + e.len_utf8())
                        }
                        None => return Err(parse_err(src, i, "unterminated character constant")),
                    },
                    Some((_, ch)) => (ch, ch.len_utf8()),
                    None => return Err(parse_err(src, i, "unterminated character constant")),
                };
                if rest[len..].starts_with('\'') {
                    toks.push((Tok::Char(ch as i64), pos));
                    i = i + 1 + len + 1;
                } else {
                    return Err(parse_err(src, i, "unterminated character constant"));
                }
            }
            b'$' => {
                let mut k = i + 1;
                while let Some(ch) = src[k..].chars().next() {
                    if is_ident_char(ch) {
                        k += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                toks.push((Tok::Var(src[i..k].to_owned()), pos));
                i = k;
            }
            b'.' => {
                let next = src[i + 1..].chars().next();
                match next {
                    Some(ch) if ch.is_ascii_digit() => {
                        let (n, end) = lex_number(src, i)?;
                        toks.push((Tok::Num(n), pos));
                        i = end;
                    }
                    Some(ch) if is_ident_char(ch) => {
                        let mut k = i + 1;
                        while let Some(ch) = src[k..].chars().next() {
                            if is_ident_char(ch) {
                                k += ch.len_utf8();
                            } else {
                                break;
                            }
                        }
                        let attached = i > start
                            && !is_space(bytes[i - 1])
                            && matches!(
                                toks.last(),
                                Some((
                                    Tok::Field(..)
                                        | Tok::Var(_)
                                        | Tok::RParen
                                        | Tok::Ident(_)
                                        | Tok::Dot,
                                    _
                                ))
                            );
                        toks.push((Tok::Field(src[i + 1..k].to_owned(), attached), pos));
                        i = k;
                    }
                    _ => {
                        toks.push((Tok::Dot, pos));
                        i += 1;
                    }
                }
            }
            b'0'..=b'9' | b'+' | b'-' => {
                let (n, end) = lex_number(src, i)?;
                toks.push((Tok::Num(n), pos));
                i = end;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or(' ');
                if is_ident_char(ch) {
                    let mut k = i;
                    while let Some(ch) = src[k..].chars().next() {
                        if is_ident_char(ch) {
                            k += ch.len_utf8();
                        } else {
                            break;
                        }
                    }
                    toks.push((Tok::Ident(src[i..k].to_owned()), pos));
                    i = k;
                } else {
                    return Err(parse_err(src, i, format!("unexpected {ch:?} in command")));
                }
            }
        }
    }
}

fn lex_quoted(src: &str, start: usize) -> Result<(String, usize), TemplateError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '"' => return Ok((out, start + 1 + k + 1)),
            '\n' => break,
            // Go's strconv.Unquote (UnquoteChar with quote '"'): the single-character
            // escapes, \xHH, three octal digits, \uHHHH and \UHHHHHHHH
            '\\' => match chars.next() {
                Some((_, e)) => {
                    let bad = |what: &str| parse_err(src, start, format!("invalid syntax: {what}"));
                    let mut digits = |n: usize, radix: u32| -> Result<u32, TemplateError> {
                        let mut v: u32 = 0;
                        for _ in 0..n {
                            let d = chars
                                .next()
                                .and_then(|(_, c)| c.to_digit(radix))
                                .ok_or_else(|| bad(&format!("bad escape \\{e}")))?;
                            v = v * radix + d;
                        }
                        Ok(v)
                    };
                    let c = match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' => '\\',
                        '"' => '"',
                        'a' => '\x07',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'v' => '\x0b',
                        'x' | '0'..='7' => {
                            let v = if e == 'x' {
                                digits(2, 16)?
                            } else {
                                e.to_digit(8).unwrap_or(0) * 64 + digits(2, 8)?
                            };
                            if v > 0xff {
                                return Err(bad("octal escape above \\377"));
                            }
                            // a byte above 0x7f makes a Go string that is not UTF-8
                            if v > 0x7f {
                                return Err(parse_err(
                                    src,
                                    start,
                                    format!(
                                        "a byte escape above 0x7f (\\{e}...) is not supported by sluice"
                                    ),
                                ));
                            }
                            char::from(v as u8)
                        }
                        'u' | 'U' => {
                            let v = digits(if e == 'u' { 4 } else { 8 }, 16)?;
                            char::from_u32(v).ok_or_else(|| bad(&format!("bad escape \\{e}")))?
                        }
                        other => {
                            return Err(bad(&format!("unknown escape \\{other}")));
                        }
                    };
                    out.push(c);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(parse_err(src, start, "unterminated quoted string"))
}

fn lex_number(src: &str, start: usize) -> Result<(Num, usize), TemplateError> {
    let bytes = src.as_bytes();
    let mut k = start;
    if matches!(bytes.get(k), Some(b'+' | b'-')) {
        k += 1;
    }
    while k < bytes.len()
        && (bytes[k].is_ascii_alphanumeric()
            || bytes[k] == b'.'
            || bytes[k] == b'_'
            || ((bytes[k] == b'+' || bytes[k] == b'-')
                && matches!(bytes[k - 1], b'e' | b'E' | b'p' | b'P')))
    {
        k += 1;
    }
    let text = &src[start..k];
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_owned()),
        None => (false, clean.trim_start_matches('+').to_owned()),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(v) = int {
        return Ok((Num::Int(if neg { -v } else { v }), k));
    }
    match body.parse::<f64>() {
        Ok(f) if !body.is_empty() => Ok((Num::Float(if neg { -f } else { f }), k)),
        _ => Err(parse_err(
            src,
            start,
            format!("bad number syntax: {text:?}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Go text/template: parser
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Dot,
    /// `.a.b` (fields of dot).
    Field(Vec<String>),
    /// `$x.a.b`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    Str(String),
    Num(Num),
    Bool(bool),
    Nil,
    /// `(pipeline).a.b`.
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Cmd {
    args: Vec<Arg>,
    pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
    pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum GoNode {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<GoNode>, Vec<GoNode>),
    Range(Pipe, Vec<GoNode>, Vec<GoNode>),
    With(Pipe, Vec<GoNode>, Vec<GoNode>),
    Template(String, usize),
    Break,
    Continue,
}

/// A parsed Go template.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTemplate {
    nodes: Vec<GoNode>,
    src: String,
}

// Go's `text/template` built-ins and Sprig v3's names: one list, the Helm engine's
// (`gotmpl::funcs`). Argo CD's map has the same Sprig names.
use crate::gotmpl::funcs::{GO_BUILTINS, SPRIG};

/// Functions Argo CD adds (`applicationset/utils/util.go`): `normalize`, `slugify`,
/// `toYaml`, `fromYaml`, `fromYamlArray`.
const ARGO_FUNCS: &[&str] = &[
    "normalize",
    "slugify",
    "toYaml",
    "fromYaml",
    "fromYamlArray",
];

/// Whether `name` is a function an ApplicationSet Go template may call.
pub fn is_known_function(name: &str) -> bool {
    if name == "getHostByName" {
        return false;
    }
    GO_BUILTINS.contains(&name) || SPRIG.contains(&name) || ARGO_FUNCS.contains(&name)
}

struct Parser<'s> {
    src: &'s str,
    items: Vec<Item>,
    idx: usize,
    vars: Vec<String>,
    /// Control structures being parsed.
    depth: usize,
}

enum Ctl {
    End,
    Else(Option<(Vec<(Tok, usize)>, usize)>),
    Eof,
}

impl<'s> Parser<'s> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> TemplateError {
        parse_err(self.src, pos, msg)
    }

    /// Parses nodes until `{{end}}`, `{{else ...}}` or end of input.
    fn list(&mut self) -> Result<(Vec<GoNode>, Ctl, usize), TemplateError> {
        let mut nodes = Vec::new();
        while self.idx < self.items.len() {
            let item = self.items[self.idx].clone();
            self.idx += 1;
            match item {
                Item::Text(t) => nodes.push(GoNode::Text(t)),
                Item::Action { toks, pos } => {
                    let Some((first, _)) = toks.first() else {
                        return Err(self.err(pos, "missing value for command"));
                    };
                    match first {
                        Tok::Ident(k) if k == "end" => {
                            if toks.len() > 1 {
                                return Err(self.err(pos, "unexpected token in end"));
                            }
                            return Ok((nodes, Ctl::End, pos));
                        }
                        Tok::Ident(k) if k == "else" => {
                            let rest = toks[1..].to_vec();
                            return Ok((
                                nodes,
                                Ctl::Else(if rest.is_empty() {
                                    None
                                } else {
                                    Some((rest, pos))
                                }),
                                pos,
                            ));
                        }
                        Tok::Ident(k) if k == "if" || k == "range" || k == "with" => {
                            let k = k.clone();
                            nodes.push(self.control(&k, &toks[1..], pos)?);
                        }
                        Tok::Ident(k) if k == "break" || k == "continue" => {
                            nodes.push(if k == "break" {
                                GoNode::Break
                            } else {
                                GoNode::Continue
                            });
                        }
                        Tok::Ident(k) if k == "template" => {
                            let name = match toks.get(1) {
                                Some((Tok::Str(s), _)) => s.clone(),
                                _ => {
                                    return Err(
                                        self.err(pos, "unexpected token in template clause")
                                    );
                                }
                            };
                            if toks.len() > 2 {
                                self.pipeline(&toks[2..], pos, false)?;
                            }
                            nodes.push(GoNode::Template(name, pos));
                        }
                        Tok::Ident(k) if k == "define" || k == "block" => {
                            return Err(TemplateError::Unsupported(format!(
                                "{{{{{k}}}}} is not supported"
                            )));
                        }
                        _ => {
                            let p = self.pipeline(&toks, pos, true)?;
                            nodes.push(GoNode::Action(p));
                        }
                    }
                }
            }
        }
        Ok((nodes, Ctl::Eof, self.src.len()))
    }

    fn control(
        &mut self,
        kw: &str,
        toks: &[(Tok, usize)],
        pos: usize,
    ) -> Result<GoNode, TemplateError> {
        self.depth += 1;
        if self.depth > MAX_TEMPLATE_NESTING {
            return Err(self.err(
                pos,
                format!("control structures nest deeper than {MAX_TEMPLATE_NESTING} levels"),
            ));
        }
        let node = self.control_body(kw, toks, pos);
        self.depth -= 1;
        node
    }

    fn control_body(
        &mut self,
        kw: &str,
        toks: &[(Tok, usize)],
        pos: usize,
    ) -> Result<GoNode, TemplateError> {
        let saved = self.vars.len();
        let pipe = self.pipeline(toks, pos, kw == "range")?;
        let (body, ctl, cpos) = self.list()?;
        let else_list = match ctl {
            Ctl::End => Vec::new(),
            Ctl::Eof => return Err(self.err(cpos, format!("unexpected EOF in {kw}"))),
            Ctl::Else(None) => {
                let (e, ctl2, p2) = self.list()?;
                match ctl2 {
                    Ctl::End => e,
                    Ctl::Eof => return Err(self.err(p2, format!("unexpected EOF in {kw}"))),
                    Ctl::Else(_) => return Err(self.err(p2, "expected end; found {{else}}")),
                }
            }
            Ctl::Else(Some((rest, epos))) => {
                // `{{else if ...}}` / `{{else with ...}}`: a nested control sharing the end.
                match rest.first() {
                    Some((Tok::Ident(k2), _)) if (k2 == "if" || k2 == "with") && k2 == kw => {
                        let k2 = k2.clone();
                        vec![self.control(&k2, &rest[1..], epos)?]
                    }
                    _ => return Err(self.err(epos, "unexpected token in else")),
                }
            }
        };
        self.vars.truncate(saved);
        Ok(match kw {
            "if" => GoNode::If(pipe, body, else_list),
            "range" => GoNode::Range(pipe, body, else_list),
            _ => GoNode::With(pipe, body, else_list),
        })
    }

    fn pipeline(
        &mut self,
        toks: &[(Tok, usize)],
        pos: usize,
        allow_decl: bool,
    ) -> Result<Pipe, TemplateError> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut start = 0;
        // `$x :=`, `$x =`, `$i, $v :=`
        let find_decl = toks
            .iter()
            .position(|(t, _)| matches!(t, Tok::Declare | Tok::Assign));
        if let Some(d) = find_decl {
            let head = &toks[..d];
            let is_var_list = !head.is_empty()
                && head.iter().enumerate().all(|(i, (t, _))| {
                    if i % 2 == 0 {
                        matches!(t, Tok::Var(_))
                    } else {
                        matches!(t, Tok::Comma)
                    }
                })
                && head.len() % 2 == 1;
            if is_var_list && (head.len() == 1 || allow_decl) {
                for (t, _) in head.iter().step_by(2) {
                    if let Tok::Var(v) = t {
                        decl.push(v.clone());
                    }
                }
                assign = matches!(toks[d].0, Tok::Assign);
                start = d + 1;
                if assign {
                    for v in &decl {
                        if !self.vars.contains(v) {
                            return Err(self.err(pos, format!("undefined variable {v:?}")));
                        }
                    }
                }
            }
        }
        let mut cmds = Vec::new();
        let mut cur: Vec<(Tok, usize)> = Vec::new();
        let mut depth = 0;
        let body = &toks[start..];
        for (t, p) in body {
            match t {
                Tok::LParen => depth += 1,
                Tok::RParen => depth -= 1,
                _ => {}
            }
            if *t == Tok::Pipe && depth == 0 {
                if cur.is_empty() {
                    return Err(self.err(*p, "missing command"));
                }
                cmds.push(self.command(&cur, pos)?);
                cur.clear();
            } else {
                cur.push((t.clone(), *p));
            }
        }
        if cur.is_empty() {
            return Err(self.err(pos, "missing value for command"));
        }
        cmds.push(self.command(&cur, pos)?);
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe {
            decl,
            assign,
            cmds,
            pos,
        })
    }

    fn command(&mut self, toks: &[(Tok, usize)], pos: usize) -> Result<Cmd, TemplateError> {
        let mut args = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (t, p) = &toks[i];
            let arg = match t {
                Tok::Dot => Arg::Dot,
                Tok::Field(f, _) => {
                    let mut fields = vec![f.clone()];
                    while let Some((Tok::Field(f2, true), _)) = toks.get(i + 1) {
                        fields.push(f2.clone());
                        i += 1;
                    }
                    Arg::Field(fields)
                }
                Tok::Var(v) => {
                    if !self.vars.contains(v) && v != "$" {
                        return Err(self.err(*p, format!("undefined variable {v:?}")));
                    }
                    let mut fields = Vec::new();
                    while let Some((Tok::Field(f2, true), _)) = toks.get(i + 1) {
                        fields.push(f2.clone());
                        i += 1;
                    }
                    Arg::Var(v.clone(), fields)
                }
                Tok::Ident(name) => match name.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                    | "break" | "continue" => {
                        return Err(self.err(*p, format!("unexpected <{name}> in command")));
                    }
                    _ => {
                        if !is_known_function(name) {
                            return Err(self.err(*p, format!("function {name:?} not defined")));
                        }
                        // `fn.field` is a chain: the function is called without
                        // arguments and the field read from its result (parse.go operand).
                        let mut fields = Vec::new();
                        while let Some((Tok::Field(f2, true), _)) = toks.get(i + 1) {
                            fields.push(f2.clone());
                            i += 1;
                        }
                        if fields.is_empty() {
                            Arg::Func(name.clone())
                        } else {
                            let call = Pipe {
                                decl: Vec::new(),
                                assign: false,
                                cmds: vec![Cmd {
                                    args: vec![Arg::Func(name.clone())],
                                    pos: *p,
                                }],
                                pos: *p,
                            };
                            Arg::Sub(Box::new(call), fields)
                        }
                    }
                },
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Num(n) => Arg::Num(*n),
                Tok::Char(c) => Arg::Num(Num::Int(*c)),
                Tok::LParen => {
                    let mut depth = 1;
                    let mut j = i + 1;
                    while j < toks.len() {
                        match toks[j].0 {
                            Tok::LParen => depth += 1,
                            Tok::RParen => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    if j >= toks.len() {
                        return Err(self.err(*p, "unclosed left paren"));
                    }
                    let inner = self.pipeline(&toks[i + 1..j], *p, false)?;
                    i = j;
                    let mut fields = Vec::new();
                    while let Some((Tok::Field(f2, true), _)) = toks.get(i + 1) {
                        fields.push(f2.clone());
                        i += 1;
                    }
                    Arg::Sub(Box::new(inner), fields)
                }
                Tok::RParen => return Err(self.err(*p, "unexpected right paren")),
                Tok::Pipe | Tok::Comma | Tok::Declare | Tok::Assign => {
                    return Err(self.err(*p, "unexpected token in operand"));
                }
            };
            if matches!(arg, Arg::Str(_) | Arg::Num(_) | Arg::Bool(_) | Arg::Nil)
                && matches!(toks.get(i + 1), Some((Tok::Field(_, true), _)))
            {
                return Err(self.err(*p, "unexpected . after term"));
            }
            args.push(arg);
            i += 1;
        }
        let pos = toks.first().map_or(pos, |t| t.1);
        if args.len() > 1 && !matches!(args[0], Arg::Func(_)) {
            return Err(self.err(pos, "can't give argument to non-function"));
        }
        Ok(Cmd { args, pos })
    }
}

/// Parses a Go template.
pub fn parse_go_template(src: &str) -> Result<GoTemplate, TemplateError> {
    let items = lex(src)?;
    let mut p = Parser {
        src,
        items,
        idx: 0,
        vars: vec!["$".to_owned()],
        depth: 0,
    };
    let (nodes, ctl, pos) = p.list()?;
    match ctl {
        Ctl::Eof => Ok(GoTemplate {
            nodes,
            src: src.to_owned(),
        }),
        Ctl::End => Err(parse_err(src, pos, "unexpected {{end}}")),
        Ctl::Else(_) => Err(parse_err(src, pos, "unexpected {{else}}")),
    }
}

// ---------------------------------------------------------------------------------------
// Go text/template: evaluation
// ---------------------------------------------------------------------------------------

/// What a missing map key evaluates to (`goTemplateOptions: ["missingkey=..."]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `default` / `invalid` / `zero`: `<no value>` (for the generic maps Argo CD uses).
    #[default]
    Default,
    /// `error`: execution stops with `map has no entry for key "x"`.
    Error,
}

/// Options from `goTemplateOptions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoOptions {
    pub missing_key: MissingKey,
}

impl GoOptions {
    /// Parses `goTemplateOptions` as Go's `Template.Option` does; the error names the first
    /// option Go would reject (`unrecognized option: ...`, Go panics on it).
    pub fn parse<'a>(opts: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut o = GoOptions::default();
        for opt in opts {
            match opt.split_once('=') {
                Some(("missingkey", v)) => {
                    o.missing_key = match v {
                        "invalid" | "default" | "zero" => MissingKey::Default,
                        "error" => MissingKey::Error,
                        _ => return Err(format!("unrecognized option: {opt}")),
                    }
                }
                _ => return Err(format!("unrecognized option: {opt}")),
            }
        }
        Ok(o)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// A missing or null value (`<no value>` when printed).
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
}

impl Val {
    fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Nil,
            Value::Bool(b) => Val::Bool(*b),
            // encoding/json decodes every number as float64.
            Value::Number(n) => Val::Float(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => Val::Str(s.clone()),
            Value::Array(a) => Val::List(a.iter().map(Val::from_json).collect()),
            Value::Object(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Val::Nil => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Val::Str(s) => Value::String(s.clone()),
            Val::List(l) => Value::Array(l.iter().map(Val::to_json).collect()),
            Val::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Nil => "interface {}",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::List(_) => "[]interface {}",
            Val::Map(_) => "map[string]interface {}",
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.is_empty(),
        }
    }

    /// `fmt.Sprint`'s `%v`.
    fn print(&self, out: &mut String, top: bool) {
        match self {
            Val::Nil => out.push_str(if top { "<no value>" } else { "<nil>" }),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Val::Float(f) => out.push_str(&go_float(*f)),
            Val::Str(s) => out.push_str(s),
            Val::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.print(out, false);
                }
                out.push(']');
            }
            Val::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.print(out, false);
                }
                out.push(']');
            }
        }
    }

    fn to_display(&self) -> String {
        let mut s = String::new();
        self.print(&mut s, false);
        s
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` as `fmt` prints a float64 with `%v`.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Shortest round-trip digits via `{:e}`: "d.ddddde±x".
    let e = format!("{:e}", f);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    // `%v` is `%g` with the shortest precision: exponent form when the decimal exponent
    // is < -4 or >= 6 (strconv/ftoa.go: "if precision was the shortest possible, use
    // precision 6 for this decision").
    if !(-4..6).contains(&exp) {
        return go_exp(sign, &digits, exp);
    }
    // Plain decimal.
    let mut s = String::from(sign);
    if exp < 0 {
        s.push_str("0.");
        for _ in 0..(-exp - 1) {
            s.push('0');
        }
        s.push_str(&digits);
    } else {
        let int_len = (exp + 1) as usize;
        if digits.len() <= int_len {
            s.push_str(&digits);
            for _ in digits.len()..int_len {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    s
}

fn go_exp(sign: &str, digits: &str, exp: i32) -> String {
    let mut s = String::from(sign);
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    s
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    opts: GoOptions,
    vars: Vec<(String, Val)>,
    out: String,
    budget: &'a Budget,
    tmpl: &'a GoTemplate,
}

fn exec_err(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

/// Estimated bytes of a value (a `Val` per node, string bytes, map keys), or a limit error
/// when it is larger than `limit` or nests deeper than [`MAX_TEMPLATE_VALUE_DEPTH`].
/// Iterative, and it stops at the limit.
fn val_size(v: &Val, limit: u64) -> Result<u64, TemplateError> {
    let node = std::mem::size_of::<Val>() as u64;
    let mut total = 0u64;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_TEMPLATE_VALUE_DEPTH {
            return Err(TemplateError::Limit(format!(
                "value nests deeper than {MAX_TEMPLATE_VALUE_DEPTH} levels"
            )));
        }
        total += node;
        match v {
            Val::Str(s) => total += s.len() as u64,
            Val::List(l) => stack.extend(l.iter().map(|x| (x, depth + 1))),
            Val::Map(m) => {
                for (k, x) in m {
                    total += k.len() as u64 + node;
                    stack.push((x, depth + 1));
                }
            }
            _ => {}
        }
        if total > limit {
            break;
        }
    }
    Ok(total)
}

/// Counts a copy of `v` against `budget`.
fn charge_val(budget: &Budget, v: &Val) -> Result<(), TemplateError> {
    let left = budget.bytes_left();
    let n = val_size(v, left)?;
    budget.charge(n)?;
    Ok(())
}

impl Exec<'_> {
    fn at(&self, pos: usize) -> String {
        let (l, c) = line_col(&self.tmpl.src, pos);
        format!("{l}:{c}")
    }

    fn tick(&mut self) -> Result<(), TemplateError> {
        Ok(self.budget.step()?)
    }

    /// Appends to the output, counted.
    fn emit(&mut self, text: &str) -> Result<(), TemplateError> {
        self.budget.charge(text.len() as u64)?;
        self.out.push_str(text);
        Ok(())
    }

    /// A copy of `v`, counted (and refused when it nests too deep).
    fn copy(&self, v: &Val) -> Result<Val, TemplateError> {
        charge_val(self.budget, v)?;
        Ok(v.clone())
    }

    fn walk(&mut self, nodes: &[GoNode], dot: &Val) -> Result<Flow, TemplateError> {
        for n in nodes {
            self.tick()?;
            let flow = match n {
                GoNode::Text(t) => {
                    self.emit(t)?;
                    Flow::Normal
                }
                GoNode::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        let before = self.out.len();
                        v.print(&mut self.out, true);
                        self.budget.charge((self.out.len() - before) as u64)?;
                    }
                    Flow::Normal
                }
                GoNode::If(p, body, els) => self.if_with(p, body, els, dot, false)?,
                GoNode::With(p, body, els) => self.if_with(p, body, els, dot, true)?,
                GoNode::Range(p, body, els) => self.range(p, body, els, dot)?,
                GoNode::Template(name, _) => {
                    return Err(TemplateError::Unsupported(format!(
                        "{{{{template {name:?}}}}}"
                    )));
                }
                GoNode::Break => Flow::Break,
                GoNode::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    /// `{{if}}` and `{{with}}` (which sets dot to the pipeline's value).
    fn if_with(
        &mut self,
        p: &Pipe,
        body: &[GoNode],
        els: &[GoNode],
        dot: &Val,
        with: bool,
    ) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let v = self.pipe(p, dot)?;
        let f = match (v.truthy(), with) {
            (true, true) => self.walk(body, &v)?,
            (true, false) => self.walk(body, dot)?,
            (false, _) => self.walk(els, dot)?,
        };
        self.vars.truncate(mark);
        Ok(f)
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[GoNode],
        els: &[GoNode],
        dot: &Val,
    ) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        // Evaluate without declaring; range declares per element.
        let mut plain = p.clone();
        let decl = std::mem::take(&mut plain.decl);
        let v = self.pipe(&plain, dot)?;
        let empty = match &v {
            Val::List(l) => l.is_empty(),
            Val::Map(m) => m.is_empty(),
            Val::Int(n) => *n <= 0,
            Val::Nil => true,
            other => {
                return Err(exec_err(format!(
                    "{}: range can't iterate over {}",
                    self.at(p.pos),
                    other.to_display()
                )));
            }
        };
        if empty {
            self.walk(els, dot)?;
        }
        // elements are visited in place (an integer range is counted, never built)
        match &v {
            Val::List(l) => {
                for (i, x) in l.iter().enumerate() {
                    if self.range_step(&decl, Val::Int(i as i64), x, body)? {
                        break;
                    }
                }
            }
            Val::Map(m) => {
                for (k, x) in m {
                    if self.range_step(&decl, Val::Str(k.clone()), x, body)? {
                        break;
                    }
                }
            }
            Val::Int(n) => {
                for i in 0..*n {
                    if self.range_step(&decl, Val::Int(i), &Val::Int(i), body)? {
                        break;
                    }
                }
            }
            _ => {}
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    /// One iteration of a range: declares the variables, walks the body; true on `break`.
    fn range_step(
        &mut self,
        decl: &[String],
        k: Val,
        x: &Val,
        body: &[GoNode],
    ) -> Result<bool, TemplateError> {
        self.tick()?;
        let inner = self.vars.len();
        match decl.len() {
            0 => {}
            1 => {
                let x = self.copy(x)?;
                self.vars.push((decl[0].clone(), x));
            }
            _ => {
                let x = self.copy(x)?;
                self.vars.push((decl[0].clone(), k));
                self.vars.push((decl[1].clone(), x));
            }
        }
        let f = self.walk(body, x)?;
        self.vars.truncate(inner);
        Ok(matches!(f, Flow::Break))
    }

    fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val, TemplateError> {
        let mut last: Option<Val> = None;
        for c in &p.cmds {
            self.tick()?;
            last = Some(self.cmd(c, dot, last)?);
        }
        let v = last.unwrap_or(Val::Nil);
        for name in &p.decl {
            let copy = self.copy(&v)?;
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = copy;
                }
            } else {
                self.vars.push((name.clone(), copy));
            }
        }
        Ok(v)
    }

    /// The value `fields` lead to from `v`, borrowed: `None` for a missing key under
    /// `missingkey=default` (`<no value>`).
    fn field_chain<'v>(
        &self,
        v: &'v Val,
        fields: &[String],
        pos: usize,
    ) -> Result<Option<&'v Val>, TemplateError> {
        let mut v = v;
        for (i, f) in fields.iter().enumerate() {
            v = match v {
                Val::Map(m) => match m.get(f) {
                    Some(x) => x,
                    None => match self.opts.missing_key {
                        MissingKey::Error => {
                            return Err(exec_err(format!(
                                "{}: map has no entry for key {f:?}",
                                self.at(pos)
                            )));
                        }
                        // a further field of the missing (nil) value
                        MissingKey::Default => match fields.get(i + 1) {
                            Some(next) => {
                                return Err(exec_err(format!(
                                    "{}: nil pointer evaluating interface {{}}.{next}",
                                    self.at(pos)
                                )));
                            }
                            None => return Ok(None),
                        },
                    },
                },
                Val::Nil => {
                    return Err(exec_err(format!(
                        "{}: nil pointer evaluating interface {{}}.{f}",
                        self.at(pos)
                    )));
                }
                other => {
                    return Err(exec_err(format!(
                        "{}: can't evaluate field {f} in type {}",
                        self.at(pos),
                        other.type_name()
                    )));
                }
            };
        }
        Ok(Some(v))
    }

    /// A copy of what `fields` lead to from `v` (only the part read is copied).
    fn field_value(&self, v: &Val, fields: &[String], pos: usize) -> Result<Val, TemplateError> {
        match self.field_chain(v, fields, pos)? {
            Some(x) => self.copy(x),
            None => Ok(Val::Nil),
        }
    }

    fn arg(&mut self, a: &Arg, dot: &Val, pos: usize) -> Result<Val, TemplateError> {
        match a {
            Arg::Dot => self.copy(dot),
            Arg::Field(fs) => self.field_value(dot, fs, pos),
            Arg::Var(name, fs) => {
                let base = if name == "$" {
                    self.vars.first().map(|(_, v)| v)
                } else {
                    match self.vars.iter().rev().find(|(n, _)| n == name) {
                        Some((_, v)) => Some(v),
                        None => return Err(exec_err(format!("undefined variable: {name}"))),
                    }
                };
                match base {
                    Some(b) => self.field_value(b, fs, pos),
                    None => self.field_value(&Val::Nil, fs, pos),
                }
            }
            Arg::Func(name) => self.call(name, &[], dot, None, pos),
            Arg::Str(s) => {
                self.budget.charge(s.len() as u64)?;
                Ok(Val::Str(s.clone()))
            }
            Arg::Num(Num::Int(i)) => Ok(Val::Int(*i)),
            Arg::Num(Num::Float(f)) => Ok(Val::Float(*f)),
            Arg::Bool(b) => Ok(Val::Bool(*b)),
            Arg::Nil => Err(exec_err(format!("{}: nil is not a command", self.at(pos)))),
            Arg::Sub(p, fs) => {
                let v = self.pipe(p, dot)?;
                if fs.is_empty() {
                    Ok(v)
                } else {
                    self.field_value(&v, fs, pos)
                }
            }
        }
    }

    fn cmd(&mut self, c: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val, TemplateError> {
        match &c.args[0] {
            Arg::Func(name) => {
                let name = name.clone();
                self.call(&name, &c.args[1..], dot, piped, c.pos)
            }
            first => {
                if piped.is_some() {
                    return Err(exec_err(format!(
                        "{}: can't give argument to non-function",
                        self.at(c.pos)
                    )));
                }
                self.arg(first, dot, c.pos)
            }
        }
    }

    fn call(
        &mut self,
        name: &str,
        raw: &[Arg],
        dot: &Val,
        piped: Option<Val>,
        pos: usize,
    ) -> Result<Val, TemplateError> {
        // Short-circuit logic first.
        if name == "and" || name == "or" {
            let n = raw.len() + usize::from(piped.is_some());
            if n == 0 {
                return Err(exec_err(format!(
                    "{}: wrong number of args for {name}: want at least 1 got 0",
                    self.at(pos)
                )));
            }
            let mut last = Val::Nil;
            for a in raw {
                last = self.arg(a, dot, pos)?;
                if (name == "and") != last.truthy() {
                    return Ok(last);
                }
            }
            if let Some(p) = piped {
                last = p;
            }
            return Ok(last);
        }
        let mut args = Vec::with_capacity(raw.len() + 1);
        for a in raw {
            args.push(self.arg(a, dot, pos)?);
        }
        if let Some(p) = piped {
            args.push(p);
        }
        let out = call_func(name, &args, self.budget).map_err(|e| match e {
            TemplateError::Exec(m) => {
                exec_err(format!("{}: error calling {name}: {m}", self.at(pos)))
            }
            other => other,
        })?;
        // what a function returns is new (args moved into it were counted already, and
        // counting them again keeps the estimate on the safe side)
        charge_val(self.budget, &out)?;
        Ok(out)
    }
}

fn want(name: &str, args: &[Val], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return Err(exec_err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn s(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Nil => String::new(),
        other => other.to_display(),
    }
}

fn to_int(v: &Val) -> i64 {
    match v {
        Val::Int(i) => *i,
        Val::Float(f) => *f as i64,
        Val::Str(s) => s.trim().parse::<i64>().unwrap_or(0),
        Val::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

fn basic_eq(a: &Val, b: &Val) -> Result<bool, TemplateError> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x == y),
        (Val::Bool(x), Val::Bool(y)) => Ok(x == y),
        (Val::Nil, Val::Nil) => Ok(true),
        (x, y) if x.as_f64().is_some() && y.as_f64().is_some() => Ok(x.as_f64() == y.as_f64()),
        (Val::List(_) | Val::Map(_), _) | (_, Val::List(_) | Val::Map(_)) => {
            Err(exec_err("invalid type for comparison"))
        }
        (Val::Nil, _) | (_, Val::Nil) => Ok(false),
        _ => Err(exec_err("incompatible types for comparison")),
    }
}

fn less(a: &Val, b: &Val) -> Result<bool, TemplateError> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x < y),
        (x, y) if x.as_f64().is_some() && y.as_f64().is_some() => {
            Ok(x.as_f64().unwrap_or(0.0) < y.as_f64().unwrap_or(0.0))
        }
        (Val::Nil, _) | (_, Val::Nil) | (Val::Bool(_), _) | (_, Val::Bool(_)) => {
            Err(exec_err("invalid type for comparison"))
        }
        _ => Err(exec_err("incompatible types for comparison")),
    }
}

/// Argo CD's `normalize` (`SanitizeName`).
pub fn normalize(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut out: String = lower
        .chars()
        .map(|c| {
            if c == '-' || c == '.' || c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.len() > 253 {
        let mut cut = 253;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out.trim_matches(['-', '.']).to_owned()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn b64enc_pub(data: &[u8]) -> String {
    b64enc(data)
}

fn b64enc(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64dec(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|x| *x == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn indent(n: i64, text: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    let mut out = String::from(&pad);
    out.push_str(&text.replace('\n', &format!("\n{pad}")));
    out
}

fn printf(args: &[Val]) -> Result<String, TemplateError> {
    let Some(fmt) = args.first() else {
        return Err(exec_err(
            "wrong number of args for printf: want at least 1 got 0",
        ));
    };
    let fmt = s(fmt);
    let mut out = String::new();
    let mut rest = args[1..].iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || d == '-' || d == '.' || d == '+' || d == '#' || d == ' ' {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !spec.is_empty() {
            return Err(TemplateError::Unsupported(format!(
                "printf flags %{spec}{verb}"
            )));
        }
        let Some(a) = rest.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        match verb {
            'v' | 's' => match a {
                Val::Nil => out.push_str("<nil>"),
                other => out.push_str(&other.to_display()),
            },
            'd' => match a {
                Val::Int(i) => {
                    let _ = write!(out, "{i}");
                }
                other => {
                    let _ = write!(out, "%!d({}={})", other.type_name(), other.to_display());
                }
            },
            'q' => match a {
                Val::Str(x) => {
                    let _ = write!(out, "{}", Value::String(x.clone()));
                }
                other => {
                    return Err(TemplateError::Unsupported(format!(
                        "printf %q of {}",
                        other.type_name()
                    )));
                }
            },
            't' => out.push_str(&a.to_display()),
            _ => return Err(TemplateError::Unsupported(format!("printf verb %{verb}"))),
        }
    }
    let extra: Vec<&Val> = rest.collect();
    if !extra.is_empty() {
        out.push_str("%!(EXTRA ");
        let parts: Vec<String> = extra
            .iter()
            .map(|v| format!("{}={}", v.type_name(), v.to_display()))
            .collect();
        out.push_str(&parts.join(", "));
        out.push(')');
    }
    Ok(out)
}

fn unsupported(name: &str) -> TemplateError {
    TemplateError::Unsupported(format!("function {name:?}"))
}

/// The length of `t` with `old` replaced by `new`.
fn replaced_len(t: &str, old: &str, new: &str) -> u64 {
    let count = if old.is_empty() {
        t.chars().count() + 1
    } else {
        t.matches(old).count()
    } as u64;
    (t.len() as u64 + count * new.len() as u64).saturating_sub(count * old.len() as u64)
}

fn call_func(name: &str, a: &[Val], budget: &Budget) -> Result<Val, TemplateError> {
    let str_arg = |i: usize| a.get(i).map(s).unwrap_or_default();
    Ok(match name {
        "not" => {
            want(name, a, 1)?;
            Val::Bool(!a[0].truthy())
        }
        "eq" => {
            if a.len() < 2 {
                return Err(exec_err("missing argument for comparison"));
            }
            let mut any = false;
            for b in &a[1..] {
                if basic_eq(&a[0], b)? {
                    any = true;
                }
            }
            Val::Bool(any)
        }
        "ne" => {
            want(name, a, 2)?;
            Val::Bool(!basic_eq(&a[0], &a[1])?)
        }
        "lt" => {
            want(name, a, 2)?;
            Val::Bool(less(&a[0], &a[1])?)
        }
        "le" => {
            want(name, a, 2)?;
            Val::Bool(less(&a[0], &a[1])? || basic_eq(&a[0], &a[1])?)
        }
        "gt" => {
            want(name, a, 2)?;
            Val::Bool(!less(&a[0], &a[1])? && !basic_eq(&a[0], &a[1])?)
        }
        "ge" => {
            want(name, a, 2)?;
            Val::Bool(!less(&a[0], &a[1])?)
        }
        "len" => {
            want(name, a, 1)?;
            Val::Int(match &a[0] {
                Val::Str(x) => x.len() as i64,
                Val::List(l) => l.len() as i64,
                Val::Map(m) => m.len() as i64,
                other => {
                    return Err(exec_err(format!("len of type {}", other.type_name())));
                }
            })
        }
        "index" => {
            if a.is_empty() {
                return Err(exec_err(
                    "wrong number of args for index: want at least 1 got 0",
                ));
            }
            let mut v = a[0].clone();
            for k in &a[1..] {
                v = match (&v, k) {
                    (Val::Map(m), key) => m.get(&s(key)).cloned().unwrap_or(Val::Nil),
                    (Val::List(l), i) if i.as_f64().is_some() => {
                        let i = to_int(i);
                        if i < 0 || i as usize >= l.len() {
                            return Err(exec_err(format!("index out of range: {i}")));
                        }
                        l[i as usize].clone()
                    }
                    (Val::Nil, _) => return Err(exec_err("index of untyped nil")),
                    (other, _) => {
                        return Err(exec_err(format!(
                            "can't index item of type {}",
                            other.type_name()
                        )));
                    }
                };
            }
            v
        }
        "print" => {
            let mut out = String::new();
            for (i, v) in a.iter().enumerate() {
                let is_str = matches!(v, Val::Str(_));
                let prev_str = i > 0 && matches!(a[i - 1], Val::Str(_));
                if i > 0 && !is_str && !prev_str {
                    out.push(' ');
                }
                match v {
                    Val::Nil => out.push_str("<nil>"),
                    other => out.push_str(&other.to_display()),
                }
            }
            Val::Str(out)
        }
        "println" => Val::Str(
            a.iter()
                .map(|v| match v {
                    Val::Nil => "<nil>".to_owned(),
                    o => o.to_display(),
                })
                .collect::<Vec<_>>()
                .join(" ")
                + "\n",
        ),
        "printf" => Val::Str(printf(a)?),
        // Sprig strings.
        "lower" => Val::Str(str_arg(0).to_lowercase()),
        "upper" => Val::Str(str_arg(0).to_uppercase()),
        "trim" => Val::Str(str_arg(0).trim().to_owned()),
        "trimAll" | "trimall" => {
            let cut: Vec<char> = str_arg(0).chars().collect();
            Val::Str(str_arg(1).trim_matches(cut.as_slice()).to_owned())
        }
        "trimPrefix" => {
            let p = str_arg(0);
            let t = str_arg(1);
            Val::Str(t.strip_prefix(p.as_str()).unwrap_or(&t).to_owned())
        }
        "trimSuffix" => {
            let p = str_arg(0);
            let t = str_arg(1);
            Val::Str(t.strip_suffix(p.as_str()).unwrap_or(&t).to_owned())
        }
        "replace" => {
            want(name, a, 3)?;
            let (old, new, t) = (str_arg(0), str_arg(1), str_arg(2));
            budget.charge(replaced_len(&t, &old, &new))?;
            Val::Str(t.replace(&old, &new))
        }
        "trunc" => {
            want(name, a, 2)?;
            let n = to_int(&a[0]);
            let t = str_arg(1);
            let chars: Vec<char> = t.chars().collect();
            let len = chars.len() as i64;
            Val::Str(if n < 0 && n.checked_neg().is_some_and(|m| m < len) {
                chars[(len + n) as usize..].iter().collect()
            } else if n >= 0 && n < len {
                chars[..n as usize].iter().collect()
            } else {
                t
            })
        }
        "quote" => Val::Str(
            a.iter()
                .filter(|v| !matches!(v, Val::Nil))
                .map(|v| Value::String(s(v)).to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => Val::Str(
            a.iter()
                .filter(|v| !matches!(v, Val::Nil))
                .map(|v| format!("'{}'", s(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "cat" => Val::Str(
            a.iter()
                .filter(|v| !matches!(v, Val::Nil))
                .map(s)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "hasPrefix" => Val::Bool(str_arg(1).starts_with(&str_arg(0))),
        "hasSuffix" => Val::Bool(str_arg(1).ends_with(&str_arg(0))),
        "contains" => Val::Bool(str_arg(1).contains(&str_arg(0))),
        "repeat" => {
            let n = to_int(a.first().unwrap_or(&Val::Int(0))).max(0) as u64;
            let t = str_arg(1);
            budget.charge(n.saturating_mul(t.len() as u64))?;
            Val::Str(t.repeat(n as usize))
        }
        "nospace" => Val::Str(str_arg(0).chars().filter(|c| !c.is_whitespace()).collect()),
        "substr" => {
            want(name, a, 3)?;
            let chars: Vec<char> = str_arg(2).chars().collect();
            let (st, en) = (to_int(&a[0]), to_int(&a[1]));
            let len = chars.len() as i64;
            let st = if st < 0 { 0 } else { st.min(len) };
            let en = if en < 0 || en > len { len } else { en };
            Val::Str(if st > en {
                String::new()
            } else {
                chars[st as usize..en as usize].iter().collect()
            })
        }
        "indent" | "nindent" => {
            want(name, a, 2)?;
            let (n, t) = (to_int(&a[0]).max(0) as u64, str_arg(1));
            let lines = t.matches('\n').count() as u64 + 1;
            budget.charge(n.saturating_mul(lines).saturating_add(t.len() as u64 + 1))?;
            let text = indent(n as i64, &t);
            Val::Str(if name == "nindent" {
                format!("\n{text}")
            } else {
                text
            })
        }
        "title" => Val::Str(
            str_arg(0)
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "toString" => Val::Str(
            a.first()
                .map(|v| match v {
                    Val::Nil => "<nil>".to_owned(),
                    o => s(o),
                })
                .unwrap_or_default(),
        ),
        "normalize" => Val::Str(normalize(&str_arg(0))),
        "splitList" => {
            let (sep, t) = (str_arg(0), str_arg(1));
            let parts = if sep.is_empty() {
                t.chars().count() + 2
            } else {
                t.matches(sep.as_str()).count() + 1
            } as u64;
            budget.charge(parts * std::mem::size_of::<Val>() as u64 + t.len() as u64)?;
            Val::List(
                t.split(sep.as_str())
                    .map(|x| Val::Str(x.to_owned()))
                    .collect(),
            )
        }
        "join" => {
            want(name, a, 2)?;
            let sep = str_arg(0);
            match &a[1] {
                Val::List(l) => {
                    budget.charge((l.len() as u64).saturating_mul(sep.len() as u64))?;
                    Val::Str(
                        l.iter()
                            .filter(|v| !matches!(v, Val::Nil))
                            .map(s)
                            .collect::<Vec<_>>()
                            .join(&sep),
                    )
                }
                Val::Str(x) => Val::Str(x.clone()),
                _ => return Err(unsupported(name)),
            }
        }
        "b64enc" => Val::Str(b64enc(str_arg(0).as_bytes())),
        "b64dec" => Val::Str(
            b64dec(&str_arg(0))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|| "illegal base64 data".to_owned()),
        ),
        "base" | "osBase" => {
            let p = str_arg(0);
            let t = p.trim_end_matches('/');
            Val::Str(if p.is_empty() {
                ".".to_owned()
            } else if t.is_empty() {
                "/".to_owned()
            } else {
                t.rsplit('/').next().unwrap_or(t).to_owned()
            })
        }
        "dir" | "osDir" => {
            let p = str_arg(0);
            Val::Str(match p.rfind('/') {
                Some(0) => "/".to_owned(),
                Some(i) => p[..i].to_owned(),
                None => ".".to_owned(),
            })
        }
        "ext" | "osExt" => {
            let p = str_arg(0);
            let base = p.rsplit('/').next().unwrap_or(&p);
            Val::Str(
                base.rfind('.')
                    .map(|i| base[i..].to_owned())
                    .unwrap_or_default(),
            )
        }
        // Sprig defaults / logic.
        "default" => {
            if a.is_empty() {
                return Err(exec_err(
                    "wrong number of args for default: want at least 1 got 0",
                ));
            }
            match a.get(1) {
                Some(given) if given.truthy() => given.clone(),
                _ => a[0].clone(),
            }
        }
        "empty" => Val::Bool(!a.first().is_some_and(Val::truthy)),
        "coalesce" => a.iter().find(|v| v.truthy()).cloned().unwrap_or(Val::Nil),
        "ternary" => {
            want(name, a, 3)?;
            if a[2].truthy() {
                a[0].clone()
            } else {
                a[1].clone()
            }
        }
        "list" | "tuple" => Val::List(a.to_vec()),
        "dict" => {
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                m.insert(
                    s(&pair[0]),
                    pair.get(1).cloned().unwrap_or(Val::Str(String::new())),
                );
            }
            Val::Map(m)
        }
        "get" => {
            want(name, a, 2)?;
            match &a[0] {
                Val::Map(m) => m.get(&s(&a[1])).cloned().unwrap_or(Val::Str(String::new())),
                _ => return Err(unsupported(name)),
            }
        }
        "hasKey" => {
            want(name, a, 2)?;
            match &a[0] {
                Val::Map(m) => Val::Bool(m.contains_key(&s(&a[1]))),
                _ => return Err(unsupported(name)),
            }
        }
        "keys" => {
            let mut ks = Vec::new();
            for v in a {
                if let Val::Map(m) = v {
                    ks.extend(m.keys().map(|k| Val::Str(k.clone())));
                }
            }
            Val::List(ks)
        }
        "first" => match a.first() {
            Some(Val::List(l)) => l.first().cloned().unwrap_or(Val::Nil),
            _ => return Err(unsupported(name)),
        },
        "last" => match a.first() {
            Some(Val::List(l)) => l.last().cloned().unwrap_or(Val::Nil),
            _ => return Err(unsupported(name)),
        },
        "has" => {
            want(name, a, 2)?;
            match &a[1] {
                Val::List(l) => Val::Bool(l.iter().any(|x| x == &a[0])),
                _ => return Err(unsupported(name)),
            }
        }
        "toJson" | "toRawJson" | "mustToJson" | "mustToRawJson" => Val::Str(
            a.first()
                .map(Val::to_json)
                .unwrap_or(Value::Null)
                .to_string(),
        ),
        "toPrettyJson" | "mustToPrettyJson" => Val::Str(
            serde_json::to_string_pretty(&a.first().map(Val::to_json).unwrap_or(Value::Null))
                .unwrap_or_default(),
        ),
        "toYaml" => {
            let y =
                sluice_core::emit::to_string(&a.first().map(Val::to_json).unwrap_or(Value::Null));
            Val::Str(y.trim_end_matches('\n').to_owned())
        }
        "atoi" => Val::Int(str_arg(0).trim().parse::<i64>().unwrap_or(0)),
        "int" | "int64" => Val::Int(a.first().map(to_int).unwrap_or(0)),
        "float64" => Val::Float(match a.first() {
            Some(Val::Str(x)) => x.trim().parse().unwrap_or(0.0),
            Some(v) => v.as_f64().unwrap_or(0.0),
            None => 0.0,
        }),
        // Go's int64 arithmetic wraps around (and MinInt64 / -1 is MinInt64)
        "add" => Val::Int(a.iter().map(to_int).fold(0, i64::wrapping_add)),
        "add1" => Val::Int(a.first().map(to_int).unwrap_or(0).wrapping_add(1)),
        "sub" => {
            want(name, a, 2)?;
            Val::Int(to_int(&a[0]).wrapping_sub(to_int(&a[1])))
        }
        "mul" => Val::Int(a.iter().map(to_int).fold(1, i64::wrapping_mul)),
        "div" | "mod" => {
            want(name, a, 2)?;
            let d = to_int(&a[1]);
            if d == 0 {
                return Err(exec_err("integer divide by zero"));
            }
            Val::Int(if name == "div" {
                to_int(&a[0]).wrapping_div(d)
            } else {
                to_int(&a[0]).wrapping_rem(d)
            })
        }
        "max" | "biggest" => Val::Int(a.iter().map(to_int).max().unwrap_or(0)),
        "min" => Val::Int(a.iter().map(to_int).min().unwrap_or(0)),
        "fail" => return Err(exec_err(str_arg(0))),
        _ => return Err(unsupported(name)),
    })
}

impl GoTemplate {
    /// Executes the template with `data` as dot, within a fresh [`template_budget`].
    pub fn execute(&self, data: &Value, opts: GoOptions) -> Result<String, TemplateError> {
        self.execute_in(data, opts, &template_budget())
    }

    /// Executes the template with `data` as dot, within `budget`.
    pub fn execute_in(
        &self,
        data: &Value,
        opts: GoOptions,
        budget: &Budget,
    ) -> Result<String, TemplateError> {
        let dot = Val::from_json(data);
        charge_val(budget, &dot)?;
        let mut ex = Exec {
            opts,
            vars: vec![("$".to_owned(), dot.clone())],
            out: String::new(),
            budget,
            tmpl: self,
        };
        ex.walk(&self.nodes, &dot)?;
        Ok(ex.out)
    }

    /// Top-level parameter names the template reads: the first field of every field chain
    /// on dot or `$` (conservative: inside `range`/`with` dot changes, and any field name is
    /// counted). `None` when the whole of dot is used (`{{ toJson . }}`, `{{ $ }}`).
    pub fn referenced_fields(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        if collect_nodes(&self.nodes, &mut out) {
            None
        } else {
            Some(out)
        }
    }
}

fn collect_nodes(nodes: &[GoNode], out: &mut Vec<String>) -> bool {
    let mut whole = false;
    for n in nodes {
        match n {
            GoNode::Action(p) => whole |= collect_pipe(p, out),
            GoNode::If(p, a, b) | GoNode::Range(p, a, b) | GoNode::With(p, a, b) => {
                whole |= collect_pipe(p, out);
                whole |= collect_nodes(a, out);
                whole |= collect_nodes(b, out);
            }
            _ => {}
        }
    }
    whole
}

fn collect_pipe(p: &Pipe, out: &mut Vec<String>) -> bool {
    let mut whole = false;
    for c in &p.cmds {
        for a in &c.args {
            match a {
                Arg::Dot => whole = true,
                Arg::Field(fs) => out.extend(fs.iter().cloned()),
                Arg::Var(v, fs) => {
                    if v == "$" && fs.is_empty() {
                        whole = true;
                    }
                    out.extend(fs.iter().cloned());
                }
                Arg::Sub(inner, fs) => {
                    whole |= collect_pipe(inner, out);
                    out.extend(fs.iter().cloned());
                }
                Arg::Str(s) => out.push(s.clone()),
                _ => {}
            }
        }
    }
    whole
}

/// Parses and executes a Go template.
pub fn render_go_template(
    src: &str,
    data: &Value,
    opts: GoOptions,
) -> Result<String, TemplateError> {
    render_go_template_in(src, data, opts, &template_budget())
}

/// [`render_go_template`] within `budget`.
pub fn render_go_template_in(
    src: &str,
    data: &Value,
    opts: GoOptions,
    budget: &Budget,
) -> Result<String, TemplateError> {
    parse_go_template(src)?.execute_in(data, opts, budget)
}

// ---------------------------------------------------------------------------------------
// Rendering whole values
// ---------------------------------------------------------------------------------------

/// Which engine an ApplicationSet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Fast,
    Go(GoOptions),
}

/// Parameters for one rendering: flat strings for fasttemplate, a JSON object for Go.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    Flat(BTreeMap<String, String>),
    Nested(Value),
}

/// Every string in `v` (map keys included, as Argo CD templates keys too), with its path.
pub fn template_strings(v: &Value) -> Vec<(FieldPath, String)> {
    let mut out = Vec::new();
    collect_strings(v, &mut Vec::new(), &mut out);
    out
}

fn collect_strings(v: &Value, path: &mut Vec<PathSeg>, out: &mut Vec<(FieldPath, String)>) {
    match v {
        Value::String(s) => out.push((FieldPath(path.clone()), s.clone())),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(PathSeg::Index(i));
                collect_strings(x, path, out);
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                if k.contains("{{") {
                    out.push((FieldPath(path.clone()).field(k.clone()), k.clone()));
                }
                path.push(PathSeg::Field(k.clone()));
                collect_strings(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Renders one string with `engine`, within a fresh [`template_budget`].
pub fn render_str(s: &str, engine: Engine, params: &Params) -> Result<String, TemplateError> {
    render_str_in(s, engine, params, &template_budget())
}

/// [`render_str`] within `budget`.
pub fn render_str_in(
    s: &str,
    engine: Engine,
    params: &Params,
    budget: &Budget,
) -> Result<String, TemplateError> {
    match (engine, params) {
        (Engine::Fast, Params::Flat(p)) => render_fasttemplate_in(s, p, budget),
        (Engine::Fast, Params::Nested(v)) => {
            let flat = v
                .as_object()
                .and_then(|m| fasttemplate_params_of_element(m).ok())
                .unwrap_or_default();
            render_fasttemplate_in(s, &flat, budget)
        }
        (Engine::Go(o), Params::Nested(v)) => render_go_template_in(s, v, o, budget),
        (Engine::Go(o), Params::Flat(p)) => {
            let v = Value::Object(
                p.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            );
            render_go_template_in(s, &v, o, budget)
        }
    }
}

/// Renders every string (and map key) in `v`, within a fresh [`template_budget`]. All
/// failures are returned with their paths.
pub fn render_value(
    v: &Value,
    engine: Engine,
    params: &Params,
) -> Result<Value, Vec<(FieldPath, TemplateError)>> {
    render_value_in(v, engine, params, &template_budget())
}

/// [`render_value`] within `budget` (shared by every string of `v`).
pub fn render_value_in(
    v: &Value,
    engine: Engine,
    params: &Params,
    budget: &Budget,
) -> Result<Value, Vec<(FieldPath, TemplateError)>> {
    let mut errs = Vec::new();
    let out = render_inner(v, engine, params, budget, &mut Vec::new(), &mut errs);
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

fn render_inner(
    v: &Value,
    engine: Engine,
    params: &Params,
    budget: &Budget,
    path: &mut Vec<PathSeg>,
    errs: &mut Vec<(FieldPath, TemplateError)>,
) -> Value {
    match v {
        Value::String(s) if s.contains("{{") => match render_str_in(s, engine, params, budget) {
            Ok(r) => Value::String(r),
            Err(e) => {
                errs.push((FieldPath(path.clone()), e));
                v.clone()
            }
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| {
                    path.push(PathSeg::Index(i));
                    let r = render_inner(x, engine, params, budget, path, errs);
                    path.pop();
                    r
                })
                .collect(),
        ),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                path.push(PathSeg::Field(k.clone()));
                let key = if k.contains("{{") {
                    match render_str_in(k, engine, params, budget) {
                        Ok(r) => r,
                        Err(e) => {
                            errs.push((FieldPath(path.clone()), e));
                            k.clone()
                        }
                    }
                } else {
                    k.clone()
                };
                let r = render_inner(x, engine, params, budget, path, errs);
                path.pop();
                out.insert(key, r);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Checks that `s` parses with `engine` (no parameters needed).
pub fn check_syntax(s: &str, engine: Engine) -> Result<(), TemplateError> {
    match engine {
        Engine::Fast => fasttemplate_parse(s).map(|_| ()),
        Engine::Go(_) => {
            if !s.contains("{{") {
                return Ok(());
            }
            match parse_go_template(s) {
                Ok(_) => Ok(()),
                Err(TemplateError::Unsupported(_)) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn go(src: &str, data: Value) -> Result<String, TemplateError> {
        render_go_template(src, &data, GoOptions::default())
    }

    #[test]
    fn fasttemplate_leaves_unknown_tags() {
        // argo-cd applicationset/utils/util.go replaceWithFastTemplate: an unknown tag is
        // written back as `{{tag}}`.
        let p = BTreeMap::from([("name".to_owned(), "a".to_owned())]);
        assert_eq!(
            render_fasttemplate("x-{{ name }}-{{other}}", &p).unwrap(),
            "x-a-{{other}}"
        );
        assert!(matches!(
            render_fasttemplate("{{name", &p),
            Err(TemplateError::Parse { .. })
        ));
    }

    #[test]
    fn list_element_params() {
        let el = json!({"cluster": "a", "values": {"x": "1"}});
        let p = fasttemplate_params_of_element(el.as_object().unwrap()).unwrap();
        assert_eq!(p["values.x"], "1");
        let bad = json!({"n": 1});
        assert!(fasttemplate_params_of_element(bad.as_object().unwrap()).is_err());
    }

    #[test]
    fn go_fields_pipes_and_functions() {
        let d = json!({"path": {"basename": "Guest_Book", "segments": ["a", "b"]}, "n": 1000000});
        assert_eq!(
            go("{{.path.basename | lower}}", d.clone()).unwrap(),
            "guest_book"
        );
        assert_eq!(
            go("{{ normalize .path.basename }}", d.clone()).unwrap(),
            "guest-book"
        );
        assert_eq!(go("{{index .path.segments 1}}", d.clone()).unwrap(), "b");
        assert_eq!(go("{{.n}}", d.clone()).unwrap(), "1e+06");
        assert_eq!(go("{{.missing}}", d.clone()).unwrap(), "<no value>");
        assert_eq!(
            go("{{ .missing | default \"x\" }}", d.clone()).unwrap(),
            "x"
        );
        assert_eq!(
            go(
                "{{if eq .path.basename \"x\"}}a{{else if .n}}b{{else}}c{{end}}",
                d.clone()
            )
            .unwrap(),
            "b"
        );
        assert_eq!(
            go(
                "{{range $i, $s := .path.segments}}{{$i}}={{$s}};{{end}}",
                d.clone()
            )
            .unwrap(),
            "0=a;1=b;"
        );
        assert_eq!(
            go("{{with .path}}{{.basename}}{{end}}", d.clone()).unwrap(),
            "Guest_Book"
        );
        assert_eq!(
            go("{{printf \"%s-%d\" \"a\" 3}}", d.clone()).unwrap(),
            "a-3"
        );
        assert_eq!(go("a  {{- /* c */ -}}  b", d.clone()).unwrap(), "ab");
        assert_eq!(
            go("{{ trunc 3 \"abcdef\" | upper | quote }}", d).unwrap(),
            "\"ABC\""
        );
    }

    #[test]
    fn go_errors() {
        // Go text/template parse.go: `function %q not defined`.
        let e = parse_go_template("a\n{{ nope .x }}").unwrap_err();
        assert_eq!(
            e,
            TemplateError::Parse {
                line: 2,
                col: 4,
                message: "function \"nope\" not defined".into()
            }
        );
        assert!(matches!(
            parse_go_template("{{if .a}}x"),
            Err(TemplateError::Parse { .. })
        ));
        assert!(matches!(
            parse_go_template("{{end}}"),
            Err(TemplateError::Parse { .. })
        ));
        assert!(matches!(
            parse_go_template("{{ .a "),
            Err(TemplateError::Parse { .. })
        ));
        let opts = GoOptions::parse(["missingkey=error"]).unwrap();
        let e = render_go_template("{{.a}}", &json!({}), opts).unwrap_err();
        assert!(
            e.to_string().contains("map has no entry for key \"a\""),
            "{e}"
        );
        let e = go("{{.a.b}}", json!({})).unwrap_err();
        assert!(
            e.to_string()
                .contains("nil pointer evaluating interface {}.b"),
            "{e}"
        );
        assert!(GoOptions::parse(["missingkey=bogus"]).is_err());
        // parse.go operand: `fn.field` is a chain evaluated at run time, `"s".x` is not.
        assert!(parse_go_template("{{values.branchLink}}").is_ok());
        assert!(matches!(
            parse_go_template("{{ \"s\".x }}"),
            Err(TemplateError::Parse { .. })
        ));
        assert!(
            go("{{ sha256sum .a }}", json!({"a": "x"}))
                .unwrap_err()
                .is_unsupported()
        );
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(3.0), "3");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
    }

    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic, no overflow")
    }

    fn tight() -> Budget {
        Budget::new(
            "template execution",
            Limits {
                max_steps: 20_000,
                max_bytes: 1024 * 1024,
                max_time: None,
            },
        )
    }

    fn data() -> Value {
        json!({"a": {"b": [1, "x"]}, "s": "ab", "n": 3, "l": [1, 2, 3]})
    }

    /// Nesting shapes (prefix, core, suffix): each repetition nests one level more.
    const NESTING: &[(&str, &str, &str)] = &[
        ("{{ ", "", " }}"),
        ("", "", ""),
        ("{{if $.a}}", "x", "{{end}}"),
        ("{{range 1}}", "x", "{{end}}"),
        ("{{with $.a}}", "x", "{{end}}"),
        ("{{if false}}{{else if $.a}}", "x", "{{end}}"),
        ("{{if $.a}}{{range $.l}}{{break}}", "x", "{{end}}{{end}}"),
    ];

    /// `{{ (((...))) }}` with `n` parentheses, or a nesting shape repeated `n` times.
    fn nested(shape: usize, n: usize) -> String {
        match shape {
            0 => format!("{{{{ {}.s{} }}}}", "(".repeat(n), ")".repeat(n)),
            1 => format!("{{{{ {}.s{} }}}}", "(print ".repeat(n), ")".repeat(n)),
            _ => {
                let (pre, core, suf) = NESTING[shape];
                format!("{}{core}{}", pre.repeat(n), suf.repeat(n))
            }
        }
    }

    // Issue 18: `{{ (((...))) }}` and nested `{{if}}`/`{{range}}`/`{{with}}`/`{{else if}}`
    // 100,000 deep are refused when parsed (Go's message for parentheses), quickly and
    // without deep recursion; at the limit they parse and render on a small stack.
    #[test]
    fn deep_templates_are_refused() {
        for shape in 0..NESTING.len() {
            let src = nested(shape, 100_000);
            let start = std::time::Instant::now();
            let got = on_small_stack(move || parse_go_template(&src).map(|_| ()));
            let Err(TemplateError::Parse { message, .. }) = got else {
                panic!("shape {shape}: {got:?}");
            };
            assert!(
                message == "max expression depth exceeded"
                    || message == "control structures nest deeper than 100 levels",
                "shape {shape}: {message}"
            );
            assert!(start.elapsed() < std::time::Duration::from_secs(5));
            // at the limit (the last two shapes nest two levels a repetition)
            let n = if shape >= 5 { 50 } else { MAX_TEMPLATE_NESTING };
            let src = nested(shape, n);
            let got =
                on_small_stack(move || render_go_template(&src, &data(), GoOptions::default()));
            assert!(got.is_ok(), "shape {shape} at {n}: {got:?}");
        }
    }

    // A long pipeline is not nesting: `{{ .s | print | print ... }}` runs in steps.
    #[test]
    fn long_pipelines_run_within_the_budget() {
        let src = format!("{{{{ .s{} }}}}", " | print".repeat(5000));
        assert_eq!(
            render_go_template(&src, &data(), GoOptions::default()),
            Ok("ab".into())
        );
        let src = format!("{{{{ .s{} }}}}", " | print".repeat(50_000));
        let got = render_go_template_in(&src, &data(), GoOptions::default(), &tight());
        assert!(matches!(got, Err(TemplateError::Limit(m)) if m.contains("20000 steps")));
    }

    /// Templates that multiply what they build, each with `k` rounds.
    fn growing(shape: usize, k: usize) -> String {
        match shape {
            0 => format!(
                "{{{{ $x := .s }}}}{{{{ range {k} }}}}{{{{ $x = print $x $x }}}}{{{{ end }}}}{{{{ $x }}}}"
            ),
            1 => format!(
                "{{{{ $l := list 1 }}}}{{{{ range {k} }}}}{{{{ $l = list $l $l }}}}{{{{ end }}}}{{{{ len $l }}}}"
            ),
            2 => format!("{{{{ repeat {} .s }}}}", 10u64.pow(k.min(18) as u32)),
            3 => format!("{{{{ indent {} .s }}}}", 10u64.pow(k.min(18) as u32)),
            4 => format!(
                "{{{{ $x := .s }}}}{{{{ range {k} }}}}{{{{ $x = replace \"\" $x $x }}}}{{{{ end }}}}{{{{ $x }}}}"
            ),
            5 => format!(
                "{{{{ $x := .s }}}}{{{{ range {k} }}}}{{{{ $x = toJson (list $x $x) }}}}{{{{ end }}}}{{{{ $x }}}}"
            ),
            6 => format!(
                "{{{{ range {} }}}}x{{{{ end }}}}",
                10u64.pow(k.min(18) as u32)
            ),
            7 => format!(
                "{{{{ $x := .s }}}}{{{{ range {k} }}}}{{{{ $x = join $x (splitList \"\" $x) }}}}{{{{ end }}}}{{{{ $x }}}}"
            ),
            8 => format!(
                "{{{{ $l := list 1 }}}}{{{{ range {} }}}}{{{{ $l = list $l }}}}{{{{ end }}}}{{{{ len $l }}}}",
                k * 10
            ),
            _ => format!(
                "{{{{ $x := .s }}}}{{{{ range {k} }}}}{{{{ $x = cat $x $x $x }}}}{{{{ end }}}}{{{{ $x }}}}"
            ),
        }
    }

    const GROWING: usize = 10;

    // Issue 18: the same budgets as JMESPath: over them a rendering stops with a limit
    // error, never a panic, an abort or a hang.
    #[test]
    fn growing_templates_stop_at_the_budget() {
        for shape in 0..GROWING {
            let src = growing(shape, 60);
            let start = std::time::Instant::now();
            let got =
                on_small_stack(move || render_go_template(&src, &data(), GoOptions::default()));
            assert!(
                matches!(&got, Err(TemplateError::Limit(_))),
                "shape {shape}: {:?}",
                got.map(|s| s.len())
            );
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "shape {shape}"
            );
        }
    }

    // Go's int64 arithmetic wraps (the spec: "MinInt64 / -1 is MinInt64"); Sprig's trunc
    // returns the string when -c is past its length.
    #[test]
    fn integer_edges_do_not_panic() {
        let d = data();
        let go = |s: &str| render_go_template(s, &d, GoOptions::default());
        assert_eq!(
            go("{{ div -9223372036854775808 -1 }}"),
            Ok("-9223372036854775808".into())
        );
        assert_eq!(go("{{ mod -9223372036854775808 -1 }}"), Ok("0".into()));
        assert_eq!(go("{{ mul 9223372036854775807 2 }}"), Ok("-2".into()));
        assert_eq!(
            go("{{ add1 9223372036854775807 }}"),
            Ok("-9223372036854775808".into())
        );
        assert_eq!(
            go("{{ add 9223372036854775807 1 }}"),
            Ok("-9223372036854775808".into())
        );
        assert_eq!(
            go("{{ sub -9223372036854775808 1 }}"),
            Ok("9223372036854775807".into())
        );
        assert_eq!(
            go("{{ trunc -9223372036854775808 \"abc\" }}"),
            Ok("abc".into())
        );
        assert_eq!(go("{{ trunc -2 \"abc\" }}"), Ok("bc".into()));
    }

    // A fasttemplate tag repeated over a large parameter stops at the budget.
    #[test]
    fn fasttemplate_output_is_bounded() {
        let p = BTreeMap::from([("a".to_owned(), "x".repeat(1 << 20))]);
        let got = render_fasttemplate(&"{{a}}".repeat(100), &p);
        assert!(matches!(got, Err(TemplateError::Limit(m)) if m.contains("16 MiB")));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..proptest::prelude::ProptestConfig::default() })]

        // Every nesting shape at every depth: rendered, or refused for its nesting.
        #[test]
        fn nesting_is_bounded(shape in 0..NESTING.len(), n in 0usize..300) {
            let src = nested(shape, n);
            let got = on_small_stack(move || render_go_template_in(&src, &data(), GoOptions::default(), &tight()));
            if let Err(TemplateError::Parse { message, .. }) = &got {
                proptest::prop_assert!(message.contains("depth exceeded") || message.contains("nest deeper"), "{}", message);
                proptest::prop_assert!(n > 50);
            }
        }

        // Every growing shape with any number of rounds: rendered within the budget or
        // stopped by it.
        #[test]
        fn growing_is_bounded(shape in 0..GROWING, k in 0usize..40) {
            let src = growing(shape, k);
            let start = std::time::Instant::now();
            let got = on_small_stack(move || render_go_template_in(&src, &data(), GoOptions::default(), &tight()));
            proptest::prop_assert!(start.elapsed() < std::time::Duration::from_secs(5));
            if let Err(e) = got {
                proptest::prop_assert!(matches!(e, TemplateError::Limit(_)), "shape {} at {}: {}", shape, k, e);
            }
        }

        // Fuzz-style: template soup parsed and rendered with a tight budget.
        #[test]
        fn template_soup_is_bounded(parts in proptest::collection::vec(
            "\\{\\{|\\}\\}|-| |\\.a|\\.b|\\.l|\\.s|\\$x|\\$x :=|\\$x =|\\||\\(|\\)|if|else|end|range|with|break|\"s\"|1|-1|9223372036854775807|eq|len|index|default|printf|print|list|dict|repeat|indent|replace|join|splitList|toJson|toYaml|div|mul|add|trunc|substr|,|/\\*|\\*/", 0..80)) {
            let src = parts.concat();
            let start = std::time::Instant::now();
            let _ = on_small_stack(move || render_go_template_in(&src, &data(), GoOptions::default(), &tight()));
            proptest::prop_assert!(start.elapsed() < std::time::Duration::from_secs(5));
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,64}") {
            let _ = parse_go_template(&s);
            let _ = fasttemplate_parse(&s);
            let _ = render_go_template(&s, &json!({"a": {"b": [1, "x"]}}), GoOptions::default());
        }

        #[test]
        fn template_like_inputs_never_panic(s in "(\\{\\{|\\}\\}|-| |\\.a|\\.b|\\$x|:=|\\||\\(|\\)|if|else|end|range|with|\"s\"|1|eq|len|index|default|printf|,|/\\*|\\*/)*") {
            let _ = render_go_template(&s, &json!({"a": {"b": [1, "x"]}}), GoOptions::default());
        }
    }
}
