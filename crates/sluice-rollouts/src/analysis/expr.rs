//! The successCondition/failureCondition language of Argo Rollouts: the part of
//! expr-lang/expr (`github.com/antonmedv/expr`) that argo-rollouts `utils/evaluate/evaluate.go`
//! exposes, with its environment (`result`, `asInt`, `asFloat`, `isNaN`, `isInf`, `isNil`,
//! `default`) and expr's builtins that conditions use (`len`, `all`, `any`, `none`, `one`,
//! `filter`, `map`, `count`, `abs`, `int`, `float`, `string`, `max`, `min`).
//!
//! A condition is parsed once into a [`Condition`] (a parse error carries line:column, as
//! expr's `file.Error` does); evaluation draws on a step budget and never recurses deeper than
//! the syntax tree, whose depth the parser bounds ([`MAX_NESTING`]).
//!
//! Not supported (a parse error, never a wrong value): `matches` (regular expressions),
//! ranges `..`, slices `[a:b]`, map literals, `??`, `let`, variables other than `result`.

use std::fmt;

/// Longest condition accepted, in bytes (cel-go's default source size; conditions in the
/// wild are one line).
pub const MAX_CONDITION_LEN: usize = 100_000;
/// Deepest syntax tree (and parser recursion) accepted.
pub const MAX_NESTING: usize = 100;
/// Steps one evaluation may take (a node, a predicate iteration, 16 bytes built).
pub const MAX_STEPS: u64 = 1_000_000;
/// Longest string or array an evaluation may build.
pub const MAX_BUILT_LEN: usize = 1 << 20;

/// A value of the condition language: what the provider returned (`result`) and what
/// evaluation builds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    /// A JSON value as the web provider's `jsonPath` result: integers stay integers.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Go's type name of the value as expr reports it in messages.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Array(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", go_float(*x)),
            Value::Str(s) => write!(f, "{s}"),
            Value::Array(a) => {
                write!(f, "[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` (Prometheus `SampleValue.String()`):
/// shortest digits, no exponent, `NaN`, `+Inf`, `-Inf`.
pub fn go_float(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x == f64::INFINITY {
        "+Inf".to_string()
    } else if x == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{x}")
    }
}

/// A condition that does not parse: the message and where (1-based line and column, in
/// characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({line}:{column})")]
pub struct ParseError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    /// Valid expr-lang that this engine does not run (`matches`, `round(...)`, map
    /// literals...): a validator that judges what upstream accepts skips these.
    pub unsupported: bool,
}

/// A condition that parsed but did not evaluate (expr's runtime errors, a non-bool result,
/// an exceeded budget).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    Eof,
}

const OPS: &[&str] = &[
    "?.", "==", "!=", "<=", ">=", "&&", "||", "**", "..", "??", "(", ")", "[", "]", "{", "}", ",",
    ".", ":", "?", "#", "!", "<", ">", "+", "-", "*", "/", "%", "^",
];

struct Lexed {
    toks: Vec<(Tok, usize)>,
}

fn lex(src: &str) -> Result<Lexed, (String, usize)> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut toks = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (tok, end) = lex_number(src, i)?;
            toks.push((tok, start));
            i = end;
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            let (s, end) = lex_string(src, i)?;
            toks.push((Tok::Str(s), start));
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'$') {
                j += 1;
            }
            toks.push((Tok::Ident(src[i..j].to_string()), start));
            i = j;
            continue;
        }
        match OPS.iter().find(|op| src[i..].starts_with(**op)) {
            Some(op) => {
                toks.push((Tok::Op(op), start));
                i += op.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err((
                    format!("unrecognized character: U+{:04X} '{ch}'", ch as u32),
                    i,
                ));
            }
        }
    }
    toks.push((Tok::Eof, b.len()));
    Ok(Lexed { toks })
}

fn lex_number(src: &str, start: usize) -> Result<(Tok, usize), (String, usize)> {
    let b = src.as_bytes();
    let mut i = start;
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        let s = i;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
        let digits: String = src[s..i].chars().filter(|c| *c != '_').collect();
        return i64::from_str_radix(&digits, 16)
            .map(|v| (Tok::Int(v), i))
            .map_err(|_| (format!("invalid hex literal: {}", &src[start..i]), start));
    }
    let mut float = false;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    // `1..2` is a range, not a float
    if i < b.len() && b[i] == b'.' && b.get(i + 1) != Some(&b'.') {
        float = true;
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            float = true;
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    let text: String = src[start..i].chars().filter(|c| *c != '_').collect();
    if float {
        text.parse::<f64>()
            .map(|v| (Tok::Float(v), i))
            .map_err(|_| (format!("invalid float literal: {text}"), start))
    } else {
        text.parse::<i64>()
            .map(|v| (Tok::Int(v), i))
            .map_err(|_| (format!("invalid integer literal: {text}"), start))
    }
}

fn lex_string(src: &str, start: usize) -> Result<(String, usize), (String, usize)> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        if c == quote {
            return Ok((out, start + 1 + off + c.len_utf8()));
        }
        if c == '\\' && quote != '`' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' | '\'' | '"' | '`' => out.push(e),
                'u' => {
                    let mut code = 0u32;
                    for _ in 0..4 {
                        let d = chars
                            .next()
                            .and_then(|(_, h)| h.to_digit(16))
                            .ok_or_else(|| ("invalid char escape".to_string(), start))?;
                        code = code * 16 + d;
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
                _ => return Err(("invalid char escape".to_string(), start + 1 + off)),
            }
            continue;
        }
        out.push(c);
    }
    Err(("literal not terminated".to_string(), start))
}

// ---------------------------------------------------------------------------------------
// Syntax tree

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnOp {
    Not,
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Len,
    IsNaN,
    IsInf,
    IsNil,
    Default,
    AsInt,
    AsFloat,
    Abs,
    Int,
    Float,
    String,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pred {
    All,
    Any,
    None,
    One,
    Filter,
    Map,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Lit(Value),
    Result,
    Pointer,
    Array(Vec<Node>),
    Member(Box<Node>, String, bool),
    Index(Box<Node>, Box<Node>),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Ternary(Box<Node>, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
    Predicate(Pred, Box<Node>, Box<Node>),
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    kind: Kind,
    depth: usize,
}

fn binary_op(t: &Tok) -> Option<(BinOp, u8, bool)> {
    // (operator, precedence, right-associative) as expr-lang's parser/operator table
    let op = match t {
        Tok::Op(o) => *o,
        Tok::Ident(i) => i.as_str(),
        _ => return None,
    };
    Some(match op {
        "||" | "or" => (BinOp::Or, 10, false),
        "&&" | "and" => (BinOp::And, 15, false),
        "==" => (BinOp::Eq, 20, false),
        "!=" => (BinOp::Ne, 20, false),
        "<" => (BinOp::Lt, 20, false),
        "<=" => (BinOp::Le, 20, false),
        ">" => (BinOp::Gt, 20, false),
        ">=" => (BinOp::Ge, 20, false),
        "in" => (BinOp::In, 20, false),
        "contains" => (BinOp::Contains, 20, false),
        "startsWith" => (BinOp::StartsWith, 20, false),
        "endsWith" => (BinOp::EndsWith, 20, false),
        "+" => (BinOp::Add, 30, false),
        "-" => (BinOp::Sub, 30, false),
        "*" => (BinOp::Mul, 60, false),
        "/" => (BinOp::Div, 60, false),
        "%" => (BinOp::Mod, 60, false),
        "**" | "^" => (BinOp::Pow, 100, true),
        _ => return None,
    })
}

fn func_of(name: &str) -> Option<(Func, usize, usize)> {
    // (function, min args, max args)
    Some(match name {
        "len" => (Func::Len, 1, 1),
        "isNaN" => (Func::IsNaN, 1, 1),
        "isInf" => (Func::IsInf, 1, 1),
        "isNil" => (Func::IsNil, 1, 1),
        "default" => (Func::Default, 2, 2),
        "asInt" => (Func::AsInt, 1, 1),
        "asFloat" => (Func::AsFloat, 1, 1),
        "abs" => (Func::Abs, 1, 1),
        "int" => (Func::Int, 1, 1),
        "float" => (Func::Float, 1, 1),
        "string" => (Func::String, 1, 1),
        "max" => (Func::Max, 1, usize::MAX),
        "min" => (Func::Min, 1, usize::MAX),
        _ => return None,
    })
}

fn pred_of(name: &str) -> Option<Pred> {
    Some(match name {
        "all" => Pred::All,
        "any" => Pred::Any,
        "none" => Pred::None,
        "one" => Pred::One,
        "filter" => Pred::Filter,
        "map" => Pred::Map,
        "count" => Pred::Count,
        _ => return None,
    })
}

struct Parser<'a> {
    src: &'a str,
    /// The one variable's name (`result` in analysis conditions).
    root: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    recursion: usize,
    closures: usize,
}

type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn error_at(&self, msg: impl Into<String>, offset: usize) -> ParseError {
        position_error(self.src, msg.into(), offset)
    }

    fn unsupported_at(&self, msg: impl Into<String>, offset: usize) -> ParseError {
        ParseError {
            unsupported: true,
            ..position_error(self.src, msg.into(), offset)
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn unexpected(&self) -> ParseError {
        let msg = match self.peek() {
            Tok::Eof => "unexpected token EOF".to_string(),
            Tok::Op(o) => format!("unexpected token Operator({o:?})"),
            Tok::Ident(i) => format!("unexpected token Identifier({i:?})"),
            Tok::Str(s) => format!("unexpected token String({s:?})"),
            Tok::Int(i) => format!("unexpected token Number(\"{i}\")"),
            Tok::Float(f) => format!("unexpected token Number(\"{f}\")"),
        };
        self.error_at(msg, self.offset())
    }

    fn expect(&mut self, op: &str) -> PResult<()> {
        if *self.peek() == Tok::Op(static_op(op)) {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn node(&self, kind: Kind, children: &[&Node], at: usize) -> PResult<Node> {
        let depth = 1 + children.iter().map(|c| c.depth).max().unwrap_or(0);
        if depth > MAX_NESTING {
            return Err(self.error_at(format!("expression nests deeper than {MAX_NESTING}"), at));
        }
        Ok(Node { kind, depth })
    }

    fn enter(&mut self) -> PResult<()> {
        self.recursion += 1;
        if self.recursion > MAX_NESTING {
            return Err(self.error_at(
                format!("expression nests deeper than {MAX_NESTING}"),
                self.offset(),
            ));
        }
        Ok(())
    }

    fn parse_expression(&mut self, min_prec: u8) -> PResult<Node> {
        self.enter()?;
        let r = self.parse_expression_inner(min_prec);
        self.recursion -= 1;
        r
    }

    fn parse_expression_inner(&mut self, min_prec: u8) -> PResult<Node> {
        let mut left = self.parse_unary()?;
        loop {
            let at = self.offset();
            // `not in`
            if *self.peek() == Tok::Ident("not".into())
                && matches!(self.toks.get(self.pos + 1), Some((Tok::Ident(i), _)) if i == "in")
            {
                if 20 < min_prec {
                    break;
                }
                self.advance();
                self.advance();
                let right = self.parse_expression(21)?;
                left = self.node(
                    Kind::Binary(
                        BinOp::NotIn,
                        Box::new(left.clone()),
                        Box::new(right.clone()),
                    ),
                    &[&left, &right],
                    at,
                )?;
                continue;
            }
            if let Tok::Ident(i) = self.peek()
                && i == "matches"
            {
                return Err(self.unsupported_at("operator matches is not supported", at));
            }
            if matches!(self.peek(), Tok::Op(".." | "??")) {
                return Err(self.unsupported_op(at));
            }
            let Some((op, prec, right_assoc)) = binary_op(self.peek()) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.advance();
            let next = if right_assoc { prec } else { prec + 1 };
            let right = self.parse_expression(next)?;
            left = self.node(
                Kind::Binary(op, Box::new(left.clone()), Box::new(right.clone())),
                &[&left, &right],
                at,
            )?;
        }
        if min_prec == 0 && *self.peek() == Tok::Op("?") {
            let at = self.offset();
            self.advance();
            let a = self.parse_expression(0)?;
            self.expect(":")?;
            let b = self.parse_expression(0)?;
            left = self.node(
                Kind::Ternary(
                    Box::new(left.clone()),
                    Box::new(a.clone()),
                    Box::new(b.clone()),
                ),
                &[&left, &a, &b],
                at,
            )?;
        }
        Ok(left)
    }

    fn unsupported_op(&self, at: usize) -> ParseError {
        let op = match self.peek() {
            Tok::Op(o) => *o,
            _ => "?",
        };
        self.unsupported_at(format!("operator {op} is not supported"), at)
    }

    fn parse_unary(&mut self) -> PResult<Node> {
        let at = self.offset();
        let op = match self.peek() {
            Tok::Op("!") => Some((UnOp::Not, 50)),
            Tok::Ident(i) if i == "not" => Some((UnOp::Not, 50)),
            Tok::Op("-") => Some((UnOp::Neg, 90)),
            Tok::Op("+") => Some((UnOp::Plus, 90)),
            _ => None,
        };
        if let Some((op, prec)) = op {
            self.advance();
            let x = self.parse_expression(prec)?;
            return self.node(Kind::Unary(op, Box::new(x.clone())), &[&x], at);
        }
        let primary = self.parse_primary()?;
        self.parse_postfix(primary)
    }

    fn parse_postfix(&mut self, mut node: Node) -> PResult<Node> {
        loop {
            let at = self.offset();
            match self.peek() {
                Tok::Op(op @ ("." | "?.")) => {
                    let optional = *op == "?.";
                    self.advance();
                    let name = match self.advance() {
                        Tok::Ident(n) => n,
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected());
                        }
                    };
                    if *self.peek() == Tok::Op("(") {
                        return Err(
                            self.unsupported_at(format!("method {name} is not supported"), at)
                        );
                    }
                    node = self.node(
                        Kind::Member(Box::new(node.clone()), name, optional),
                        &[&node],
                        at,
                    )?;
                }
                Tok::Op("[") => {
                    self.advance();
                    if *self.peek() == Tok::Op(":") {
                        return Err(self.unsupported_at("slices are not supported", at));
                    }
                    let idx = self.parse_expression(0)?;
                    if *self.peek() == Tok::Op(":") {
                        return Err(self.unsupported_at("slices are not supported", at));
                    }
                    self.expect("]")?;
                    node = self.node(
                        Kind::Index(Box::new(node.clone()), Box::new(idx.clone())),
                        &[&node, &idx],
                        at,
                    )?;
                }
                _ => return Ok(node),
            }
        }
    }

    fn parse_primary(&mut self) -> PResult<Node> {
        let at = self.offset();
        match self.advance() {
            Tok::Int(i) => self.node(Kind::Lit(Value::Int(i)), &[], at),
            Tok::Float(f) => self.node(Kind::Lit(Value::Float(f)), &[], at),
            Tok::Str(s) => self.node(Kind::Lit(Value::Str(s)), &[], at),
            Tok::Op("(") => {
                let e = self.parse_expression(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while *self.peek() != Tok::Op("]") {
                    items.push(self.parse_expression(0)?);
                    if *self.peek() == Tok::Op(",") {
                        self.advance();
                    } else {
                        break;
                    }
                }
                self.expect("]")?;
                let refs: Vec<&Node> = items.iter().collect();
                let depth = 1 + refs.iter().map(|c| c.depth).max().unwrap_or(0);
                if depth > MAX_NESTING {
                    return Err(
                        self.error_at(format!("expression nests deeper than {MAX_NESTING}"), at)
                    );
                }
                Ok(Node {
                    kind: Kind::Array(items),
                    depth,
                })
            }
            Tok::Op("#") => {
                if self.closures == 0 {
                    return Err(self.error_at("cannot use pointer accessor outside closure", at));
                }
                // `#index`, `#acc` (written together) are expr's named pointers; `# in x`
                // is the element and an operator
                if matches!(self.peek(), Tok::Ident(_)) && self.offset() == at + 1 {
                    return Err(
                        self.unsupported_at("named pointers (#index) are not supported", at)
                    );
                }
                self.node(Kind::Pointer, &[], at)
            }
            Tok::Op(".") => {
                // `.field` inside a closure is `#.field`
                if self.closures == 0 {
                    self.pos -= 1;
                    return Err(self.unexpected());
                }
                let name = match self.advance() {
                    Tok::Ident(n) => n,
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected());
                    }
                };
                let ptr = self.node(Kind::Pointer, &[], at)?;
                self.node(
                    Kind::Member(Box::new(ptr.clone()), name, false),
                    &[&ptr],
                    at,
                )
            }
            Tok::Ident(name) => self.parse_ident(name, at),
            Tok::Op("{") => Err(self.unsupported_at("map literals are not supported", at)),
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn parse_ident(&mut self, name: String, at: usize) -> PResult<Node> {
        match name.as_str() {
            "true" => return self.node(Kind::Lit(Value::Bool(true)), &[], at),
            "false" => return self.node(Kind::Lit(Value::Bool(false)), &[], at),
            "nil" => return self.node(Kind::Lit(Value::Nil), &[], at),
            n if n == self.root && *self.peek() != Tok::Op("(") => {
                return self.node(Kind::Result, &[], at);
            }
            _ => {}
        }
        if *self.peek() != Tok::Op("(") {
            if func_of(&name).is_some() || pred_of(&name).is_some() {
                return Err(self.error_at(format!("function {name} must be called"), at));
            }
            if name == "let" {
                return Err(self.unsupported_at("let is not supported", at));
            }
            return Err(self.error_at(format!("unknown name {name}"), at));
        }
        self.advance();
        if let Some(pred) = pred_of(&name) {
            let arr = self.parse_expression(0)?;
            if *self.peek() != Tok::Op(",") {
                return Err(self.error_at(
                    format!("invalid number of arguments for {name} (expected 2, got 1)"),
                    at,
                ));
            }
            self.advance();
            self.closures += 1;
            let body = if *self.peek() == Tok::Op("{") {
                self.advance();
                let b = self.parse_expression(0);
                self.closures -= 1;
                let b = b?;
                self.expect("}")?;
                b
            } else {
                let b = self.parse_expression(0);
                self.closures -= 1;
                b?
            };
            if *self.peek() == Tok::Op(",") {
                return Err(self.error_at(
                    format!("invalid number of arguments for {name} (expected 2, got more)"),
                    at,
                ));
            }
            self.expect(")")?;
            return self.node(
                Kind::Predicate(pred, Box::new(arr.clone()), Box::new(body.clone())),
                &[&arr, &body],
                at,
            );
        }
        let Some((func, min, max)) = func_of(&name) else {
            if EXPR_BUILTINS.contains(&name.as_str()) {
                return Err(self.unsupported_at(format!("function {name} is not supported"), at));
            }
            return Err(self.error_at(format!("unknown func {name}"), at));
        };
        let mut args = Vec::new();
        while *self.peek() != Tok::Op(")") {
            args.push(self.parse_expression(0)?);
            if *self.peek() == Tok::Op(",") {
                self.advance();
            } else {
                break;
            }
        }
        self.expect(")")?;
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                min.to_string()
            } else {
                format!("at least {min}")
            };
            return Err(self.error_at(
                format!(
                    "invalid number of arguments for {name} (expected {expected}, got {})",
                    args.len()
                ),
                at,
            ));
        }
        let refs: Vec<&Node> = args.iter().collect();
        let depth = 1 + refs.iter().map(|c| c.depth).max().unwrap_or(0);
        if depth > MAX_NESTING {
            return Err(self.error_at(format!("expression nests deeper than {MAX_NESTING}"), at));
        }
        Ok(Node {
            kind: Kind::Call(func, args),
            depth,
        })
    }
}

/// expr-lang builtins this engine does not implement: calling one is valid upstream.
const EXPR_BUILTINS: &[&str] = &[
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "sum",
    "groupBy",
    "sortBy",
    "reduce",
    "type",
    "ceil",
    "floor",
    "round",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "split",
    "splitAfter",
    "replace",
    "repeat",
    "join",
    "indexOf",
    "lastIndexOf",
    "hasPrefix",
    "hasSuffix",
    "mean",
    "median",
    "toJSON",
    "fromJSON",
    "toBase64",
    "fromBase64",
    "now",
    "duration",
    "date",
    "timezone",
    "first",
    "last",
    "get",
    "take",
    "keys",
    "values",
    "toPairs",
    "fromPairs",
    "sort",
    "bitand",
    "bitor",
    "bitxor",
    "bitnand",
    "bitnot",
    "bitshl",
    "bitshr",
    "bitushr",
    "concat",
    "flatten",
    "uniq",
];

fn static_op(op: &str) -> &'static str {
    OPS.iter().find(|o| **o == op).copied().unwrap_or("")
}

fn position_error(src: &str, message: String, offset: usize) -> ParseError {
    let offset = offset.min(src.len());
    let mut line = 1;
    let mut column = 1;
    for (i, c) in src.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    ParseError {
        message,
        line,
        column,
        unsupported: false,
    }
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    root: Node,
}

impl Condition {
    /// Parses a condition; an error says what and where (line:column).
    pub fn parse(src: &str) -> Result<Condition, ParseError> {
        Condition::parse_with_root(src, "result")
    }

    /// [`Condition::parse`] with the variable named `root` instead of `result` (Argo CD
    /// notifications' trigger conditions see the Application as `app`).
    pub fn parse_with_root(src: &str, root: &str) -> Result<Condition, ParseError> {
        if src.len() > MAX_CONDITION_LEN {
            return Err(ParseError {
                message: format!(
                    "condition is {} bytes, longer than {MAX_CONDITION_LEN}",
                    src.len()
                ),
                line: 1,
                column: 1,
                unsupported: false,
            });
        }
        let lexed = lex(src).map_err(|(m, at)| position_error(src, m, at))?;
        let mut p = Parser {
            src,
            root,
            toks: lexed.toks,
            pos: 0,
            recursion: 0,
            closures: 0,
        };
        let root = p.parse_expression(0)?;
        if *p.peek() != Tok::Eof {
            return Err(p.unexpected());
        }
        Ok(Condition {
            source: src.to_string(),
            root,
        })
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a bool with `result` bound, as argo-rollouts `EvalCondition`: any other
    /// value is the error "expected bool, but got T".
    pub fn eval(&self, result: &Value) -> Result<bool, EvalError> {
        self.eval_with_budget(result, MAX_STEPS)
    }

    /// [`Condition::eval`] with a step budget of `max_steps`.
    pub fn eval_with_budget(&self, result: &Value, max_steps: u64) -> Result<bool, EvalError> {
        match self.eval_value(result, max_steps)? {
            Value::Bool(b) => Ok(b),
            other => err(format!("expected bool, but got {}", other.go_type())),
        }
    }

    /// The expression's value with the variable bound to `root` (expr's `Run`), whatever
    /// its type.
    pub fn eval_value(&self, root: &Value, max_steps: u64) -> Result<Value, EvalError> {
        let mut ev = Eval {
            result: root,
            result_weight: weight(root),
            stack: Vec::new(),
            steps: 0,
            max_steps,
        };
        ev.eval(&self.root)
    }
}

// ---------------------------------------------------------------------------------------
// Evaluator

struct Eval<'a> {
    result: &'a Value,
    /// What copying `result` costs, in steps ([`weight`]).
    result_weight: u64,
    stack: Vec<Value>,
    steps: u64,
    max_steps: u64,
}

/// What copying a value costs, in steps: one per 16 nodes or bytes, so that referring to
/// a large `result` inside a predicate draws on the budget in proportion to the copy.
fn weight(v: &Value) -> u64 {
    fn nodes(v: &Value) -> u64 {
        match v {
            Value::Str(s) => 1 + s.len() as u64,
            Value::Array(a) => 1 + a.iter().map(nodes).sum::<u64>(),
            Value::Map(m) => {
                1 + m
                    .iter()
                    .map(|(k, v)| k.len() as u64 + nodes(v))
                    .sum::<u64>()
            }
            _ => 1,
        }
    }
    nodes(v) / 16
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn mismatched(op: &str, a: &Value, b: &Value) -> EvalError {
    EvalError(format!(
        "invalid operation: {op} (mismatched types {} and {})",
        a.go_type(),
        b.go_type()
    ))
}

/// expr's `runtime.Equal`: numbers compare by value across int and float, other values
/// structurally; different types are unequal.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            as_f64(a) == as_f64(b)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && equal(v, v2)))
        }
        _ => a == b,
    }
}

impl Eval<'_> {
    fn charge(&mut self, n: u64) -> Result<(), EvalError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.max_steps {
            return err(format!(
                "condition evaluation exceeded its budget of {} steps",
                self.max_steps
            ));
        }
        Ok(())
    }

    fn built(&mut self, len: usize) -> Result<(), EvalError> {
        if len > MAX_BUILT_LEN {
            return err(format!(
                "condition evaluation built a value longer than {MAX_BUILT_LEN}"
            ));
        }
        self.charge((len / 16) as u64)
    }

    fn eval(&mut self, node: &Node) -> Result<Value, EvalError> {
        self.charge(1)?;
        match &node.kind {
            Kind::Lit(v) => {
                if let Value::Str(s) = v {
                    self.charge((s.len() / 16) as u64)?;
                }
                Ok(v.clone())
            }
            Kind::Result => {
                self.charge(self.result_weight)?;
                Ok(self.result.clone())
            }
            Kind::Pointer => {
                let v = self.stack.last().cloned().unwrap_or(Value::Nil);
                self.charge(weight(&v))?;
                Ok(v)
            }
            Kind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i)?);
                }
                Ok(Value::Array(out))
            }
            Kind::Member(obj, name, optional) => {
                let o = self.eval(obj)?;
                match o {
                    Value::Map(m) => Ok(m
                        .into_iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v)
                        .unwrap_or(Value::Nil)),
                    Value::Nil if *optional => Ok(Value::Nil),
                    other => err(format!("cannot fetch {name} from {}", other.go_type())),
                }
            }
            Kind::Index(obj, idx) => {
                let o = self.eval(obj)?;
                let i = self.eval(idx)?;
                index(&o, &i)
            }
            Kind::Unary(op, x) => {
                let v = self.eval(x)?;
                match (op, v) {
                    (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (UnOp::Neg, Value::Int(i)) => Ok(Value::Int(i.wrapping_neg())),
                    (UnOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
                    (UnOp::Plus, v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
                    (op, v) => {
                        let sym = match op {
                            UnOp::Not => "!",
                            UnOp::Neg => "-",
                            UnOp::Plus => "+",
                        };
                        err(format!(
                            "invalid operation: {sym} (mismatched type {})",
                            v.go_type()
                        ))
                    }
                }
            }
            Kind::Binary(op, l, r) => self.binary(*op, l, r),
            Kind::Ternary(c, a, b) => match self.eval(c)? {
                Value::Bool(true) => self.eval(a),
                Value::Bool(false) => self.eval(b),
                v => err(format!(
                    "non-bool expression (type {}) used as condition",
                    v.go_type()
                )),
            },
            Kind::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(a)?);
                }
                self.call(*f, vals)
            }
            Kind::Predicate(p, arr, body) => self.predicate(*p, arr, body),
        }
    }

    fn binary(&mut self, op: BinOp, l: &Node, r: &Node) -> Result<Value, EvalError> {
        let a = self.eval(l)?;
        if matches!(op, BinOp::And | BinOp::Or) {
            let sym = if op == BinOp::And { "&&" } else { "||" };
            let Value::Bool(x) = a else {
                return err(format!(
                    "invalid operation: {sym} (mismatched type {})",
                    a.go_type()
                ));
            };
            if (op == BinOp::And && !x) || (op == BinOp::Or && x) {
                return Ok(Value::Bool(x));
            }
            return match self.eval(r)? {
                Value::Bool(y) => Ok(Value::Bool(y)),
                b => err(format!(
                    "invalid operation: {sym} (mismatched types bool and {})",
                    b.go_type()
                )),
            };
        }
        let b = self.eval(r)?;
        match op {
            BinOp::Eq => Ok(Value::Bool(equal(&a, &b))),
            BinOp::Ne => Ok(Value::Bool(!equal(&a, &b))),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let sym = match op {
                    BinOp::Lt => "<",
                    BinOp::Le => "<=",
                    BinOp::Gt => ">",
                    _ => ">=",
                };
                let ord = match (&a, &b) {
                    (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
                    (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
                    _ => match (as_f64(&a), as_f64(&b)) {
                        (Some(x), Some(y)) => match x.partial_cmp(&y) {
                            Some(o) => Some(o),
                            // NaN: every comparison is false, as in Go
                            None => return Ok(Value::Bool(false)),
                        },
                        _ => return Err(mismatched(sym, &a, &b)),
                    },
                };
                let Some(o) = ord else {
                    return Err(mismatched(sym, &a, &b));
                };
                Ok(Value::Bool(match op {
                    BinOp::Lt => o.is_lt(),
                    BinOp::Le => o.is_le(),
                    BinOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }))
            }
            BinOp::In | BinOp::NotIn => {
                let found = match &b {
                    Value::Array(items) => {
                        self.charge(items.len() as u64)?;
                        items.iter().any(|x| equal(x, &a))
                    }
                    Value::Map(m) => match &a {
                        Value::Str(k) => m.iter().any(|(key, _)| key == k),
                        _ => {
                            return err(format!(
                                "cannot use {} as map index (type string)",
                                a.go_type()
                            ));
                        }
                    },
                    Value::Nil => false,
                    _ => {
                        return err(format!("operator \"in\" not defined on {}", b.go_type()));
                    }
                };
                Ok(Value::Bool(if op == BinOp::In { found } else { !found }))
            }
            BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith => match (&a, &b) {
                (Value::Str(x), Value::Str(y)) => {
                    self.charge((x.len() / 16) as u64)?;
                    Ok(Value::Bool(match op {
                        BinOp::Contains => x.contains(y.as_str()),
                        BinOp::StartsWith => x.starts_with(y.as_str()),
                        _ => x.ends_with(y.as_str()),
                    }))
                }
                _ => Err(mismatched("contains", &a, &b)),
            },
            BinOp::Add => match (&a, &b) {
                (Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.wrapping_add(*y))),
                (Value::Str(x), Value::Str(y)) => {
                    self.built(x.len() + y.len())?;
                    Ok(Value::Str(format!("{x}{y}")))
                }
                _ => match (as_f64(&a), as_f64(&b)) {
                    (Some(x), Some(y)) => Ok(Value::Float(x + y)),
                    _ => Err(mismatched("+", &a, &b)),
                },
            },
            BinOp::Sub | BinOp::Mul => {
                let sym = if op == BinOp::Sub { "-" } else { "*" };
                match (&a, &b) {
                    (Value::Int(x), Value::Int(y)) => Ok(Value::Int(if op == BinOp::Sub {
                        x.wrapping_sub(*y)
                    } else {
                        x.wrapping_mul(*y)
                    })),
                    _ => match (as_f64(&a), as_f64(&b)) {
                        (Some(x), Some(y)) => {
                            Ok(Value::Float(if op == BinOp::Sub { x - y } else { x * y }))
                        }
                        _ => Err(mismatched(sym, &a, &b)),
                    },
                }
            }
            // expr's `/` is always a float division
            BinOp::Div => match (as_f64(&a), as_f64(&b)) {
                (Some(x), Some(y)) => Ok(Value::Float(x / y)),
                _ => Err(mismatched("/", &a, &b)),
            },
            BinOp::Mod => match (&a, &b) {
                (Value::Int(_), Value::Int(0)) => err("integer divide by zero"),
                (Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.wrapping_rem(*y))),
                _ => Err(mismatched("%", &a, &b)),
            },
            BinOp::Pow => match (as_f64(&a), as_f64(&b)) {
                (Some(x), Some(y)) => Ok(Value::Float(x.powf(y))),
                _ => Err(mismatched("**", &a, &b)),
            },
            BinOp::And | BinOp::Or => err("unreachable operator"),
        }
    }

    fn predicate(&mut self, p: Pred, arr: &Node, body: &Node) -> Result<Value, EvalError> {
        let items = match self.eval(arr)? {
            Value::Array(items) => items,
            other => return err(format!("cannot iterate over {}", other.go_type())),
        };
        let mut count = 0i64;
        let mut out = Vec::new();
        for item in items {
            self.charge(1)?;
            self.stack.push(item);
            let v = self.eval(body);
            let item = self.stack.pop().unwrap_or(Value::Nil);
            let v = v?;
            if p == Pred::Map {
                out.push(v);
                self.built(out.len())?;
                continue;
            }
            let Value::Bool(b) = v else {
                return err(format!(
                    "predicate should return boolean (got {})",
                    v.go_type()
                ));
            };
            match p {
                Pred::All if !b => return Ok(Value::Bool(false)),
                Pred::Any if b => return Ok(Value::Bool(true)),
                Pred::None if b => return Ok(Value::Bool(false)),
                Pred::One | Pred::Count if b => count += 1,
                Pred::Filter if b => {
                    out.push(item);
                    self.built(out.len())?;
                }
                _ => {}
            }
        }
        Ok(match p {
            Pred::All | Pred::None => Value::Bool(true),
            Pred::Any => Value::Bool(false),
            Pred::One => Value::Bool(count == 1),
            Pred::Count => Value::Int(count),
            Pred::Filter | Pred::Map => Value::Array(out),
        })
    }

    fn call(&mut self, f: Func, mut args: Vec<Value>) -> Result<Value, EvalError> {
        let arg = args.first().cloned().unwrap_or(Value::Nil);
        match f {
            Func::Len => match &arg {
                Value::Array(a) => Ok(Value::Int(a.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                v => err(format!("invalid argument for len (type {})", v.go_type())),
            },
            // math.IsNaN / math.IsInf take a float64: any other argument fails the call
            Func::IsNaN | Func::IsInf => match arg {
                Value::Float(x) => Ok(Value::Bool(if f == Func::IsNaN {
                    x.is_nan()
                } else {
                    x.is_infinite()
                })),
                v => err(format!(
                    "cannot use {} as argument (type float64) to call {}",
                    v.go_type(),
                    if f == Func::IsNaN { "isNaN" } else { "isInf" }
                )),
            },
            // upstream's isNil and default look at the measurement's result, whatever the
            // first argument (evaluate.go isNilFunc/defaultFunc)
            Func::IsNil => Ok(Value::Bool(self.result.is_nil())),
            Func::Default => {
                if self.result.is_nil() {
                    Ok(args.pop().unwrap_or(Value::Nil))
                } else {
                    Ok(self.result.clone())
                }
            }
            Func::AsInt => match arg {
                Value::Int(i) => Ok(Value::Int(i)),
                Value::Float(x) => Ok(Value::Int(go_float_to_int(x))),
                Value::Str(s) => s.parse::<i64>().map(Value::Int).map_err(|_| {
                    EvalError(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
                }),
                v => err(format!("asInt() not supported on {} {v}", v.go_type())),
            },
            Func::AsFloat => match arg {
                Value::Int(i) => Ok(Value::Float(i as f64)),
                Value::Float(x) => Ok(Value::Float(x)),
                Value::Str(s) => parse_go_float(&s).map(Value::Float).ok_or_else(|| {
                    EvalError(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
                }),
                v => err(format!("asFloat() not supported on {} {v}", v.go_type())),
            },
            Func::Abs => match arg {
                Value::Int(i) => Ok(Value::Int(i.wrapping_abs())),
                Value::Float(x) => Ok(Value::Float(x.abs())),
                v => err(format!("invalid argument for abs (type {})", v.go_type())),
            },
            Func::Int => {
                match arg {
                    Value::Int(i) => Ok(Value::Int(i)),
                    Value::Float(x) => Ok(Value::Int(go_float_to_int(x))),
                    Value::Str(s) => s.trim().parse::<i64>().map(Value::Int).map_err(|_| {
                        EvalError(format!("strconv.Atoi: parsing {s:?}: invalid syntax"))
                    }),
                    v => err(format!("invalid operation: int({})", v.go_type())),
                }
            }
            Func::Float => match arg {
                Value::Int(i) => Ok(Value::Float(i as f64)),
                Value::Float(x) => Ok(Value::Float(x)),
                Value::Str(s) => parse_go_float(&s).map(Value::Float).ok_or_else(|| {
                    EvalError(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
                }),
                v => err(format!("invalid operation: float({})", v.go_type())),
            },
            Func::String => {
                self.charge(weight(&arg))?;
                let s = arg.to_string();
                self.built(s.len())?;
                Ok(Value::Str(s))
            }
            Func::Max | Func::Min => {
                let items = match args.as_slice() {
                    [Value::Array(a)] => a.clone(),
                    _ => args,
                };
                self.charge(items.len() as u64)?;
                let mut best: Option<Value> = None;
                for v in items {
                    if as_f64(&v).is_none() {
                        return err(format!(
                            "invalid argument for {} (type {})",
                            if f == Func::Max { "max" } else { "min" },
                            v.go_type()
                        ));
                    }
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let (x, y) = (as_f64(&b).unwrap_or(0.0), as_f64(&v).unwrap_or(0.0));
                            if (f == Func::Max && y > x) || (f == Func::Min && y < x) {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                Ok(best.unwrap_or(Value::Nil))
            }
        }
    }
}

/// Go's `int64(f)` for the values it defines; NaN and out-of-range values saturate here
/// (Go leaves them implementation-specific).
fn go_float_to_int(x: f64) -> i64 {
    x as i64
}

/// `strconv.ParseFloat` for the forms Prometheus and JSON produce, including `NaN`, `Inf`.
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|_| !s.is_empty()),
    }
}

fn index(o: &Value, i: &Value) -> Result<Value, EvalError> {
    match (o, i) {
        (Value::Array(a), Value::Int(n)) => {
            let len = a.len() as i64;
            let k = if *n < 0 { n.saturating_add(len) } else { *n };
            if k < 0 || k >= len {
                return err(format!("index out of range: {n} (array length is {len})"));
            }
            Ok(a[k as usize].clone())
        }
        (Value::Str(s), Value::Int(n)) => {
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let k = if *n < 0 { n.saturating_add(len) } else { *n };
            if k < 0 || k >= len {
                return err(format!("index out of range: {n} (array length is {len})"));
            }
            Ok(Value::Str(chars[k as usize].to_string()))
        }
        (Value::Map(m), Value::Str(k)) => Ok(m
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Nil)),
        (Value::Nil, _) => err(format!("cannot fetch {i} from <nil>")),
        _ => err(format!(
            "cannot use {} as index to {}",
            i.go_type(),
            o.go_type()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(cond: &str, result: Value) -> Result<bool, EvalError> {
        Condition::parse(cond).expect("parses").eval(&result)
    }

    fn vec(xs: &[f64]) -> Value {
        Value::Array(xs.iter().map(|x| Value::Float(*x)).collect())
    }

    #[test]
    fn prometheus_vector_conditions() {
        // the seed's order-service conditions
        assert_eq!(ev("result[0] >= 0.95", vec(&[0.99])), Ok(true));
        assert_eq!(ev("result[0] >= 0.95", vec(&[0.8])), Ok(false));
        assert_eq!(ev("result[0] < 500", vec(&[120.0])), Ok(true));
        // negative index from the end, as expr
        assert_eq!(ev("result[-1] == 3", vec(&[1.0, 2.0, 3.0])), Ok(true));
        // empty vector: index out of range is an error (argo-rollouts evaluate_test.go
        // TestErrorWithInvalidReference evaluates `result[1]` on a 1-element slice)
        assert_eq!(
            ev("result[0] >= 0.95", vec(&[])),
            Err(EvalError(
                "index out of range: 0 (array length is 0)".into()
            ))
        );
    }

    #[test]
    fn logic_words_and_symbols() {
        let r = vec(&[0.5, 0.7]);
        assert_eq!(
            ev("result[0] > 0.1 && result[1] > 0.1", r.clone()),
            Ok(true)
        );
        assert_eq!(
            ev("result[0] > 0.6 and result[1] > 0.1", r.clone()),
            Ok(false)
        );
        assert_eq!(
            ev("result[0] > 0.6 or result[1] > 0.6", r.clone()),
            Ok(true)
        );
        assert_eq!(ev("not (result[0] > 0.6)", r.clone()), Ok(true));
        assert_eq!(ev("!(result[0] > 0.6) || false", r.clone()), Ok(true));
        // && binds tighter than ||
        assert_eq!(ev("true || false && false", Value::Nil), Ok(true));
        // short-circuit: the right side is not evaluated
        assert_eq!(ev("false && result[9] > 0", r), Ok(false));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(ev("1 + 2 * 3 == 7", Value::Nil), Ok(true));
        assert_eq!(ev("(1 + 2) * 3 == 9", Value::Nil), Ok(true));
        // expr's `/` is a float division
        assert_eq!(ev("3 / 2 == 1.5", Value::Nil), Ok(true));
        assert_eq!(ev("7 % 3 == 1", Value::Nil), Ok(true));
        assert_eq!(ev("2 ** 3 ** 2 == 512", Value::Nil), Ok(true));
        assert_eq!(ev("-2 ** 2 == -4", Value::Nil), Ok(true));
        assert_eq!(
            ev("1 % 0 == 0", Value::Nil),
            Err(EvalError("integer divide by zero".into()))
        );
        assert_eq!(ev("result * 100 > 95", Value::Float(0.97)), Ok(true));
    }

    #[test]
    fn builtins_len_all_any() {
        // docs/features/analysis.md: `len(result) > 0`, `all(result, {# > 0.9})`
        let r = vec(&[0.95, 0.97]);
        assert_eq!(ev("len(result) == 2", r.clone()), Ok(true));
        assert_eq!(ev("all(result, {# > 0.9})", r.clone()), Ok(true));
        assert_eq!(ev("all(result, # > 0.96)", r.clone()), Ok(false));
        assert_eq!(ev("any(result, {# > 0.96})", r.clone()), Ok(true));
        assert_eq!(ev("none(result, {# > 0.99})", r.clone()), Ok(true));
        assert_eq!(ev("one(result, {# > 0.96})", r.clone()), Ok(true));
        assert_eq!(ev("count(result, {# > 0.9}) == 2", r.clone()), Ok(true));
        assert_eq!(ev("all(result, {# in result})", r.clone()), Ok(true));
        assert!(Condition::parse("all(result, {#index > 0})").is_err());
        assert_eq!(
            ev("len(filter(result, {# > 0.96})) == 1", r.clone()),
            Ok(true)
        );
        assert_eq!(ev("map(result, {# * 100})[0] == 95", r.clone()), Ok(true));
        // an empty vector: all is vacuously true, any false
        assert_eq!(ev("all(result, {# > 0.9})", vec(&[])), Ok(true));
        assert_eq!(ev("any(result, {# > 0.9})", vec(&[])), Ok(false));
        assert_eq!(
            ev("all(result, {#})", r),
            Err(EvalError(
                "predicate should return boolean (got float64)".into()
            ))
        );
    }

    #[test]
    fn nan_inf_default_nil_conversions() {
        // evaluate.go: isNaN = math.IsNaN, isInf = math.IsInf(f, 0)
        assert_eq!(ev("isNaN(result)", Value::Float(f64::NAN)), Ok(true));
        assert_eq!(ev("isNaN(result[0])", vec(&[1.0])), Ok(false));
        assert_eq!(
            ev("isInf(result)", Value::Float(f64::NEG_INFINITY)),
            Ok(true)
        );
        // NaN compares false with everything (Go)
        assert_eq!(ev("result >= 0.95", Value::Float(f64::NAN)), Ok(false));
        assert_eq!(ev("result < 0.95", Value::Float(f64::NAN)), Ok(false));
        // default/isNil look at the result itself (evaluate.go defaultFunc/isNilFunc)
        assert_eq!(ev("default(result, 0) == 0", Value::Nil), Ok(true));
        assert_eq!(ev("default(result, 0) == 4", Value::Int(4)), Ok(true));
        assert_eq!(ev("isNil(result)", Value::Nil), Ok(true));
        // asInt/asFloat (evaluate.go): strings parse, numbers convert, others fail
        assert_eq!(ev("asInt(result) == 42", Value::Str("42".into())), Ok(true));
        assert_eq!(
            ev("asFloat(result) > 0.5", Value::Str("0.75".into())),
            Ok(true)
        );
        assert_eq!(ev("asInt(result) == 3", Value::Float(3.9)), Ok(true));
        assert_eq!(
            ev("asInt(result) == 1", Value::Str("x".into())),
            Err(EvalError(
                "strconv.ParseInt: parsing \"x\": invalid syntax".into()
            ))
        );
    }

    #[test]
    fn fields_strings_in() {
        let json =
            serde_json::json!({"status": "ok", "data": {"ok": true, "n": 3}, "codes": [200, 201]});
        let r = Value::from_json(&json);
        assert_eq!(ev("result.status == 'ok'", r.clone()), Ok(true));
        assert_eq!(ev("result.data.ok", r.clone()), Ok(true));
        assert_eq!(ev("result['data'].n == 3", r.clone()), Ok(true));
        assert_eq!(ev("201 in result.codes", r.clone()), Ok(true));
        assert_eq!(ev("404 not in result.codes", r.clone()), Ok(true));
        assert_eq!(ev("'data' in result", r.clone()), Ok(true));
        assert_eq!(ev("result.missing == nil", r.clone()), Ok(true));
        assert_eq!(ev("result.status startsWith \"o\"", r.clone()), Ok(true));
        assert_eq!(
            ev("result.missing.deeper == 1", r.clone()),
            Err(EvalError("cannot fetch deeper from <nil>".into()))
        );
        assert_eq!(ev("result.missing?.deeper == nil", r.clone()), Ok(true));
        assert_eq!(ev("len(result.codes) > 1 ? true : false", r), Ok(true));
    }

    #[test]
    fn non_bool_result_is_an_error() {
        // evaluate.go EvalCondition: "expected bool, but got %T"
        assert_eq!(
            ev("result", Value::Float(1.0)),
            Err(EvalError("expected bool, but got float64".into()))
        );
        assert_eq!(
            ev("result[0] > 'a'", vec(&[1.0])),
            Err(EvalError(
                "invalid operation: > (mismatched types float64 and string)".into()
            ))
        );
    }

    #[test]
    fn parse_errors_have_positions() {
        let e = Condition::parse("result[0] >= ").unwrap_err();
        assert_eq!(e.to_string(), "unexpected token EOF (1:14)");
        let e = Condition::parse("result[0] >= >").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(e.column, 14);
        let e = Condition::parse("foo > 1").unwrap_err();
        assert_eq!(e.to_string(), "unknown name foo (1:1)");
        let e = Condition::parse("result > 1 &&\n  bar(2)").unwrap_err();
        assert_eq!(e.to_string(), "unknown func bar (2:3)");
        let e = Condition::parse("len(result, 2) > 0").unwrap_err();
        assert!(e.message.contains("invalid number of arguments"), "{e}");
        assert!(Condition::parse("# > 1").is_err());
        assert!(
            Condition::parse("result matches 'a'")
                .unwrap_err()
                .unsupported
        );
        assert!(
            Condition::parse("round(result) > 1")
                .unwrap_err()
                .unsupported
        );
        assert!(Condition::parse("{a: 1}.a == 1").unwrap_err().unsupported);
        assert!(!Condition::parse("foo > 1").unwrap_err().unsupported);
        assert!(!Condition::parse("result >").unwrap_err().unsupported);
        assert!(Condition::parse("'abc").is_err());
    }

    #[test]
    fn nesting_and_budget_limits() {
        let deep = format!("{}1{} == 1", "(".repeat(500), ")".repeat(500));
        assert!(
            Condition::parse(&deep)
                .unwrap_err()
                .message
                .contains("deeper")
        );
        let long = format!("{} == 1", vec!["1"; 1000].join(" + "));
        assert!(
            Condition::parse(&long)
                .unwrap_err()
                .message
                .contains("deeper")
        );
        let big = vec(&[1.0; 300]);
        let c = Condition::parse("all(result, {all(result, {# > 0})})").unwrap();
        assert_eq!(c.eval(&big), Ok(true));
        let e = c.eval_with_budget(&big, 10_000).unwrap_err();
        assert!(e.0.contains("budget"), "{e}");
    }
}
