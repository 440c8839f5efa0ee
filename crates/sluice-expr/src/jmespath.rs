//! JMESPath (jmespath.org/specification.html) as Kyverno uses it: the lexer and a Pratt
//! parser, with the literal, raw-string and `$` root forms Kyverno's go-jmespath fork accepts;
//! the table of known functions (JMESPath's and Kyverno's `pkg/engine/jmespath`) with their
//! arities; and the finder of Kyverno's `{{ }}` variables (`pkg/engine/variables`). The
//! interpreter and the function implementations are the Kyverno engine's (sluice-policy);
//! the parser lives here so that validation (sluice-apis) refuses what the engine would.
//!
//! Limits (an expression over them is an error, never a stack overflow):
//! - [`MAX_EXPRESSION_LEN`] bytes of source, cel-go's default size limit
//!   (`expressionSizeCodePointLimit`, 100,000).
//! - [`MAX_NESTING`] levels, counted twice: the parser's recursion (parentheses, brackets,
//!   braces, function arguments, projections, `!`/`-`/`&` operands) and the depth of the
//!   syntax tree (left-associative chains such as `a | b | c` or `a.b.c` nest without
//!   recursing in the parser, and would make the evaluator recurse). Both are checked while
//!   parsing, before the recursion they bound, so no input recurses deeper than the limit.

use serde_json::Value;

/// Source bytes of one expression (cel-go `parser.NewParser`: `expressionSizeCodePointLimit`
/// defaults to 100,000).
pub const MAX_EXPRESSION_LEN: usize = 100_000;

/// Nesting levels of one expression: parser recursion and syntax-tree depth. go-jmespath
/// has no limit (Go stacks grow to 1 GB); cel-go stops at 250 recursions. The deepest of
/// the 277 expressions in kyverno/policies nests 10 levels (sluice-apis
/// tests/kyverno_policies.rs measures it), so 100 leaves ten times that while a level of
/// the interpreter costs about 3 KB of stack in a debug build (less in release): the
/// deepest expression fits a 2 MiB thread many times over.
pub const MAX_NESTING: usize = 100;

/// A JMESPath error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JmesError {
    #[error("JMESPath syntax error: {0}")]
    Syntax(String),
    #[error("Unknown key \"{0}\" in path")]
    NotFound(String),
    #[error("{0}")]
    Runtime(String),
    #[error("Unknown function: {0}()")]
    UnknownFunction(String),
    /// A size, nesting or evaluation-budget limit was exceeded. Callers that turn other
    /// errors into defaults (lenient variables, context defaults, foreach lists) must not
    /// swallow this one: over a limit, the rule is an error.
    #[error("{0}")]
    Limit(String),
}

impl From<crate::budget::Exceeded> for JmesError {
    fn from(e: crate::budget::Exceeded) -> Self {
        JmesError::Limit(e.0)
    }
}

impl JmesError {
    /// Whether this is a limit (size, nesting, evaluation budget).
    pub fn is_limit(&self) -> bool {
        matches!(self, JmesError::Limit(_))
    }
}

pub use crate::snippet;

/// A parsed JMESPath expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// `@`
    Current,
    /// `$`: the document root.
    Root,
    Field(String),
    Index(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Sub(Box<Ast>, Box<Ast>),
    /// `lhs[*].rhs`, `lhs[].rhs`(after flatten), `lhs[?cond].rhs`
    Projection(Box<Ast>, Box<Ast>),
    /// `lhs.*.rhs`
    ObjectProjection(Box<Ast>, Box<Ast>),
    Flatten(Box<Ast>),
    Filter(Box<Ast>, Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    Cmp(Cmp, Box<Ast>, Box<Ast>),
    Arith(Arith, Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
    Literal(Value),
    MultiList(Vec<Ast>),
    MultiHash(Vec<(String, Ast)>),
    Function(String, Vec<Ast>),
    ExpRef(Box<Ast>),
    Pipe(Box<Ast>, Box<Ast>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    IntDiv,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Raw(String),
    Lit(Value),
    Num(i64),
    Dot,
    Star,
    Flatten,
    LBracket,
    RBracket,
    Filter,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Or,
    And,
    Not,
    Cmp(Cmp),
    At,
    Dollar,
    Amp,
    Plus,
    Minus,
    Slash,
    Percent,
    DSlash,
    Eof,
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, JmesError> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err =
        |i: usize, m: &str| JmesError::Syntax(format!("{m} at position {i} in {:?}", snippet(s)));
    while i < c.len() {
        let start = i;
        let ch = c[i];
        let tok = match ch {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            'a'..='z' | 'A'..='Z' | '_' => {
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push((start, Tok::Ident(c[start..i].iter().collect())));
                continue;
            }
            '0'..='9' => {
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
                let t: String = c[start..i].iter().collect();
                out.push((
                    start,
                    Tok::Num(t.parse().map_err(|_| err(start, "number too large"))?),
                ));
                continue;
            }
            '-' => {
                if i + 1 < c.len() && c[i + 1].is_ascii_digit() {
                    i += 1;
                    while i < c.len() && c[i].is_ascii_digit() {
                        i += 1;
                    }
                    let t: String = c[start..i].iter().collect();
                    out.push((
                        start,
                        Tok::Num(t.parse().map_err(|_| err(start, "number too large"))?),
                    ));
                    continue;
                }
                Tok::Minus
            }
            '"' => {
                i += 1;
                let mut raw = String::from("\"");
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' && i + 1 < c.len() {
                        raw.push(c[i]);
                        i += 1;
                    }
                    raw.push(c[i]);
                    i += 1;
                }
                if i >= c.len() {
                    return Err(err(start, "unclosed quoted identifier"));
                }
                raw.push('"');
                i += 1;
                let v: String = serde_json::from_str(&raw)
                    .map_err(|_| err(start, "invalid quoted identifier"))?;
                out.push((start, Tok::Quoted(v)));
                continue;
            }
            '\'' => {
                i += 1;
                let mut v = String::new();
                while i < c.len() && c[i] != '\'' {
                    if c[i] == '\\' && i + 1 < c.len() && (c[i + 1] == '\'' || c[i + 1] == '\\') {
                        i += 1;
                    }
                    v.push(c[i]);
                    i += 1;
                }
                if i >= c.len() {
                    return Err(err(start, "unclosed raw string"));
                }
                i += 1;
                out.push((start, Tok::Raw(v)));
                continue;
            }
            '`' => {
                i += 1;
                let mut v = String::new();
                while i < c.len() && c[i] != '`' {
                    if c[i] == '\\' && i + 1 < c.len() && c[i + 1] == '`' {
                        i += 1;
                    }
                    v.push(c[i]);
                    i += 1;
                }
                if i >= c.len() {
                    return Err(err(start, "unclosed literal"));
                }
                i += 1;
                let val = match serde_json::from_str::<Value>(v.trim()) {
                    Ok(v) => v,
                    // Legacy: an unquoted literal string.
                    Err(_) => Value::String(v.trim().to_owned()),
                };
                out.push((start, Tok::Lit(val)));
                continue;
            }
            '.' => Tok::Dot,
            '*' => Tok::Star,
            '[' => {
                if c.get(i + 1) == Some(&']') {
                    i += 1;
                    Tok::Flatten
                } else if c.get(i + 1) == Some(&'?') {
                    i += 1;
                    Tok::Filter
                } else {
                    Tok::LBracket
                }
            }
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ':' => Tok::Colon,
            '@' => Tok::At,
            '$' => Tok::Dollar,
            '+' => Tok::Plus,
            '%' => Tok::Percent,
            '/' => {
                if c.get(i + 1) == Some(&'/') {
                    i += 1;
                    Tok::DSlash
                } else {
                    Tok::Slash
                }
            }
            '|' => {
                if c.get(i + 1) == Some(&'|') {
                    i += 1;
                    Tok::Or
                } else {
                    Tok::Pipe
                }
            }
            '&' => {
                if c.get(i + 1) == Some(&'&') {
                    i += 1;
                    Tok::And
                } else {
                    Tok::Amp
                }
            }
            '!' => {
                if c.get(i + 1) == Some(&'=') {
                    i += 1;
                    Tok::Cmp(Cmp::Ne)
                } else {
                    Tok::Not
                }
            }
            '=' => {
                if c.get(i + 1) == Some(&'=') {
                    i += 1;
                    Tok::Cmp(Cmp::Eq)
                } else {
                    return Err(err(i, "unexpected '='"));
                }
            }
            '<' => {
                if c.get(i + 1) == Some(&'=') {
                    i += 1;
                    Tok::Cmp(Cmp::Le)
                } else {
                    Tok::Cmp(Cmp::Lt)
                }
            }
            '>' => {
                if c.get(i + 1) == Some(&'=') {
                    i += 1;
                    Tok::Cmp(Cmp::Ge)
                } else {
                    Tok::Cmp(Cmp::Gt)
                }
            }
            other => return Err(err(i, &format!("unexpected character {other:?}"))),
        };
        i += 1;
        out.push((start, tok));
    }
    out.push((c.len(), Tok::Eof));
    Ok(out)
}

fn lbp(t: &Tok) -> u8 {
    match t {
        Tok::Pipe => 1,
        Tok::Or => 2,
        Tok::And => 3,
        Tok::Cmp(_) => 5,
        Tok::Plus | Tok::Minus => 6,
        Tok::Slash | Tok::Percent | Tok::DSlash => 7,
        Tok::Flatten => 9,
        Tok::Star => 20,
        Tok::Filter => 21,
        Tok::Dot => 40,
        Tok::Not => 45,
        Tok::LBrace => 50,
        Tok::LBracket => 55,
        Tok::LParen => 60,
        _ => 0,
    }
}

/// A syntax tree with its depth (a leaf is 1).
type Node = (Ast, usize);

struct Parser<'s> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    src: &'s str,
    /// Current recursion of `expr` and `projection_rhs`.
    recursion: usize,
    max_recursion: usize,
}

/// Parses `s` into an [`Ast`].
pub fn parse(s: &str) -> Result<Ast, JmesError> {
    parse_nesting(s).map(|(ast, _)| ast)
}

/// Parses `s` and tells how deep it nests (the larger of the syntax tree's depth and the
/// parser's recursion), the measure [`MAX_NESTING`] bounds.
pub fn parse_nesting(s: &str) -> Result<(Ast, usize), JmesError> {
    if s.len() > MAX_EXPRESSION_LEN {
        return Err(JmesError::Limit(format!(
            "JMESPath expression is {} bytes long, more than the limit of {MAX_EXPRESSION_LEN}",
            s.len()
        )));
    }
    let mut p = Parser {
        toks: lex(s)?,
        pos: 0,
        src: s,
        recursion: 0,
        max_recursion: 0,
    };
    let (ast, depth) = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.err("unexpected token"));
    }
    Ok((ast, depth.max(p.max_recursion)))
}

const PROJECTION_STOP: u8 = 10;

enum Bracket {
    Index,
    Star,
    Other,
}

fn deeper(ds: &[usize]) -> usize {
    1 + ds.iter().copied().max().unwrap_or(0)
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].1
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].1
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].1.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn err(&self, m: &str) -> JmesError {
        JmesError::Syntax(format!(
            "{m} {:?} at position {} in {:?}",
            self.peek(),
            self.toks[self.pos].0,
            snippet(self.src)
        ))
    }
    fn too_deep(&self) -> JmesError {
        JmesError::Limit(format!(
            "JMESPath expression nests deeper than {MAX_NESTING} levels (at position {})",
            self.toks[self.pos].0
        ))
    }
    /// Enters one level of parser recursion.
    fn enter(&mut self) -> Result<(), JmesError> {
        self.recursion += 1;
        self.max_recursion = self.max_recursion.max(self.recursion);
        if self.recursion > MAX_NESTING {
            return Err(self.too_deep());
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.recursion -= 1;
    }
    /// A node of `depth` levels, refused over [`MAX_NESTING`].
    fn node(&self, ast: Ast, depth: usize) -> Result<Node, JmesError> {
        if depth > MAX_NESTING {
            return Err(self.too_deep());
        }
        Ok((ast, depth))
    }
    fn expect(&mut self, t: Tok) -> Result<(), JmesError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.err(&format!("expected {t:?}, found")))
        }
    }

    fn expr(&mut self, rbp: u8) -> Result<Node, JmesError> {
        self.enter()?;
        let t = self.next();
        let left = self.nud(t)?;
        let left = self.leds(left, rbp)?;
        self.leave();
        Ok(left)
    }

    // The parser recurses through `expr`, `nud`, `led` and `projection_rhs`: they only
    // dispatch, and each construct has its own small function, so that a level of nesting
    // costs little stack (a debug build gives every temporary of a function its own slot).

    fn nud(&mut self, t: Tok) -> Result<Node, JmesError> {
        match t {
            Tok::At => Ok((Ast::Current, 1)),
            Tok::Dollar => Ok((Ast::Root, 1)),
            Tok::Ident(s) | Tok::Quoted(s) => self.name(s),
            Tok::Raw(s) => Ok((Ast::Literal(Value::String(s)), 1)),
            Tok::Lit(v) => Ok((Ast::Literal(v), 1)),
            Tok::Num(n) => Ok((Ast::Literal(Value::from(n)), 1)),
            Tok::Star => self.star(Ast::Current, 1),
            Tok::Filter => self.filter((Ast::Current, 1)),
            Tok::Flatten => self.flatten((Ast::Current, 1)),
            Tok::LBracket => self.bracket_nud(),
            Tok::LBrace => self.multi_hash(),
            Tok::Amp | Tok::Not | Tok::Minus => self.prefix(t),
            Tok::LParen => self.paren(),
            _ => self.unexpected(),
        }
    }

    fn unexpected<T>(&mut self) -> Result<T, JmesError> {
        self.pos = self.pos.saturating_sub(1);
        Err(self.err("unexpected token"))
    }

    /// A field, or a function call.
    fn name(&mut self, s: String) -> Result<Node, JmesError> {
        if *self.peek() != Tok::LParen {
            return Ok((Ast::Field(s), 1));
        }
        if !t_is_ident(&self.toks, self.pos) {
            return Err(self.err("quoted identifier cannot be a function name"));
        }
        self.next();
        let (args, d) = self.list_until(Tok::RParen)?;
        self.node(Ast::Function(s, args), d + 1)
    }

    /// `left.*rhs` (or `*rhs` with `@` on the left).
    fn star(&mut self, left: Ast, dl: usize) -> Result<Node, JmesError> {
        let (rhs, dr) = self.projection_rhs(lbp(&Tok::Star))?;
        self.node(
            Ast::ObjectProjection(Box::new(left), Box::new(rhs)),
            deeper(&[dl, dr]),
        )
    }

    /// `left[*]rhs`.
    fn list_projection(&mut self, left: Node) -> Result<Node, JmesError> {
        self.next();
        self.next();
        let (l, dl) = left;
        let (rhs, dr) = self.projection_rhs(lbp(&Tok::Star))?;
        self.node(
            Ast::Projection(Box::new(l), Box::new(rhs)),
            deeper(&[dl, dr]),
        )
    }

    /// `left[]rhs`.
    fn flatten(&mut self, left: Node) -> Result<Node, JmesError> {
        let (l, dl) = left;
        let (rhs, dr) = self.projection_rhs(lbp(&Tok::Flatten))?;
        self.node(
            Ast::Projection(Box::new(Ast::Flatten(Box::new(l))), Box::new(rhs)),
            deeper(&[dl + 1, dr]),
        )
    }

    /// `[` at the start: an index, a slice, `[*]`, or a multi-select list.
    fn bracket_nud(&mut self) -> Result<Node, JmesError> {
        match self.bracket_kind() {
            Bracket::Index => {
                let idx = self.index_or_slice()?;
                self.wrap_slice((Ast::Current, 1), idx)
            }
            Bracket::Star => self.list_projection((Ast::Current, 1)),
            Bracket::Other => self.multi_list(),
        }
    }

    /// What follows a `[`.
    fn bracket_kind(&self) -> Bracket {
        match (self.peek(), self.peek_at(1)) {
            (Tok::Num(_) | Tok::Colon, _) => Bracket::Index,
            (Tok::Star, Tok::RBracket) => Bracket::Star,
            _ => Bracket::Other,
        }
    }

    /// `[a, b]` after its `[`.
    fn multi_list(&mut self) -> Result<Node, JmesError> {
        let (items, d) = self.list_until(Tok::RBracket)?;
        self.node(Ast::MultiList(items), d + 1)
    }

    /// `{k: v, ...}` after its `{`.
    fn multi_hash(&mut self) -> Result<Node, JmesError> {
        let mut pairs = Vec::new();
        let mut d = 0;
        loop {
            let key = match self.next() {
                Tok::Ident(s) | Tok::Quoted(s) => s,
                _ => return Err(self.err("expected a key in multi-select hash, found")),
            };
            self.expect(Tok::Colon)?;
            let (v, dv) = self.expr(0)?;
            d = d.max(dv);
            pairs.push((key, v));
            match self.next() {
                Tok::Comma => continue,
                Tok::RBrace => break,
                _ => return Err(self.err("expected ',' or '}', found")),
            }
        }
        self.node(Ast::MultiHash(pairs), d + 1)
    }

    /// `&e`, `!e`, `-e`.
    fn prefix(&mut self, t: Tok) -> Result<Node, JmesError> {
        let bp = if t == Tok::Amp {
            lbp(&Tok::Amp)
        } else {
            lbp(&Tok::Not)
        };
        let (e, d) = self.expr(bp)?;
        let e = Box::new(e);
        let ast = match t {
            Tok::Amp => Ast::ExpRef(e),
            Tok::Not => Ast::Not(e),
            _ => Ast::Neg(e),
        };
        self.node(ast, d + 1)
    }

    fn paren(&mut self) -> Result<Node, JmesError> {
        let e = self.expr(0)?;
        self.expect(Tok::RParen)?;
        Ok(e)
    }

    fn binary(&mut self, left: Node, t: Tok) -> Result<Node, JmesError> {
        let rbp = match t {
            Tok::Cmp(_) => 5,
            Tok::Plus | Tok::Minus => 6,
            Tok::Star | Tok::Slash | Tok::Percent | Tok::DSlash => 7,
            _ => lbp(&t),
        };
        let (l, dl) = left;
        let (r, dr) = self.expr(rbp)?;
        let (l, r) = (Box::new(l), Box::new(r));
        let ast = match t {
            Tok::Pipe => Ast::Pipe(l, r),
            Tok::Or => Ast::Or(l, r),
            Tok::And => Ast::And(l, r),
            Tok::Cmp(c) => Ast::Cmp(c, l, r),
            Tok::Plus => Ast::Arith(Arith::Add, l, r),
            Tok::Minus => Ast::Arith(Arith::Sub, l, r),
            Tok::Star => Ast::Arith(Arith::Mul, l, r),
            Tok::Slash => Ast::Arith(Arith::Div, l, r),
            Tok::Percent => Ast::Arith(Arith::Mod, l, r),
            _ => Ast::Arith(Arith::IntDiv, l, r),
        };
        self.node(ast, deeper(&[dl, dr]))
    }

    fn led(&mut self, t: Tok, left: Node) -> Result<Node, JmesError> {
        match t {
            Tok::Dot => self.dot(left),
            Tok::LBracket => self.bracket_led(left),
            Tok::Flatten => self.flatten(left),
            Tok::Filter => self.filter(left),
            Tok::Pipe
            | Tok::Or
            | Tok::And
            | Tok::Cmp(_)
            | Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::DSlash => self.binary(left, t),
            _ => self.unexpected(),
        }
    }

    /// `left.rhs`, `left.*`.
    fn dot(&mut self, left: Node) -> Result<Node, JmesError> {
        let (l, dl) = left;
        if *self.peek() == Tok::Star {
            self.next();
            return self.star(l, dl);
        }
        let (rhs, dr) = self.dot_rhs()?;
        self.node(Ast::Sub(Box::new(l), Box::new(rhs)), deeper(&[dl, dr]))
    }

    /// `left[...]`: an index, a slice or `[*]`.
    fn bracket_led(&mut self, left: Node) -> Result<Node, JmesError> {
        match self.bracket_kind() {
            Bracket::Index => {
                let idx = self.index_or_slice()?;
                self.wrap_slice(left, idx)
            }
            Bracket::Star => self.list_projection(left),
            Bracket::Other => Err(self.err("expected an index, slice or '*', found")),
        }
    }

    fn filter(&mut self, left: Node) -> Result<Node, JmesError> {
        let (l, dl) = left;
        let (cond, dc) = self.expr(0)?;
        self.expect(Tok::RBracket)?;
        let (rhs, dr) = self.projection_rhs(lbp(&Tok::Filter))?;
        self.node(
            Ast::Filter(Box::new(l), Box::new(cond), Box::new(rhs)),
            deeper(&[dl, dc, dr]),
        )
    }

    /// Expressions separated by commas up to `end`, and the depth of the deepest.
    fn list_until(&mut self, end: Tok) -> Result<(Vec<Ast>, usize), JmesError> {
        let mut items = Vec::new();
        let mut d = 0;
        if *self.peek() == end {
            self.next();
            return Ok((items, d));
        }
        loop {
            let (item, di) = self.expr(0)?;
            d = d.max(di);
            items.push(item);
            let t = self.next();
            if t == end {
                return Ok((items, d));
            }
            if t != Tok::Comma {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.err("expected ',' or closing bracket, found"));
            }
        }
    }

    fn index_or_slice(&mut self) -> Result<(bool, [Option<i64>; 3]), JmesError> {
        let mut parts = [None, None, None];
        let mut n = 0;
        loop {
            match self.next() {
                Tok::Num(v) => parts[n] = Some(v),
                Tok::Colon => {
                    n += 1;
                    if n > 2 {
                        return Err(self.err("too many colons in slice"));
                    }
                }
                Tok::RBracket => break,
                _ => return Err(self.err("invalid index or slice")),
            }
        }
        Ok((n > 0, parts))
    }

    fn wrap_slice(&mut self, left: Node, idx: (bool, [Option<i64>; 3])) -> Result<Node, JmesError> {
        let (l, dl) = left;
        let (is_slice, [a, b, c]) = idx;
        if !is_slice {
            let Some(i) = a else {
                return Err(self.err("empty index"));
            };
            return self.node(
                Ast::Sub(Box::new(l), Box::new(Ast::Index(i))),
                deeper(&[dl, 1]),
            );
        }
        if c == Some(0) {
            return Err(self.err("slice step cannot be 0"));
        }
        let (rhs, dr) = self.projection_rhs(lbp(&Tok::Star))?;
        self.node(
            Ast::Projection(
                Box::new(Ast::Sub(Box::new(l), Box::new(Ast::Slice(a, b, c)))),
                Box::new(rhs),
            ),
            deeper(&[deeper(&[dl, 1]), dr]),
        )
    }

    fn dot_rhs(&mut self) -> Result<Node, JmesError> {
        if matches!(
            self.peek(),
            Tok::Ident(_) | Tok::Quoted(_) | Tok::LBrace | Tok::At | Tok::Dollar
        ) {
            let t = self.next();
            return self.nud(t);
        }
        if *self.peek() == Tok::LBracket {
            self.next();
            return self.multi_list();
        }
        Err(self.err("expected an identifier after '.', found"))
    }

    fn projection_rhs(&mut self, bp: u8) -> Result<Node, JmesError> {
        if lbp(self.peek()) < PROJECTION_STOP {
            return Ok((Ast::Current, 1));
        }
        self.enter()?;
        let rhs = match self.peek() {
            Tok::Dot => self.projection_dot(bp)?,
            Tok::LBracket | Tok::Filter | Tok::Flatten => self.leds((Ast::Current, 1), bp)?,
            _ => return Err(self.err("unexpected token after projection")),
        };
        self.leave();
        Ok(rhs)
    }

    /// `.rhs` or `.*` after a projection.
    fn projection_dot(&mut self, bp: u8) -> Result<Node, JmesError> {
        self.next();
        if *self.peek() == Tok::Star {
            self.next();
            return self.star(Ast::Current, 1);
        }
        let left = self.dot_rhs()?;
        self.leds(left, bp)
    }

    /// Applies operators binding tighter than `bp` to `left`.
    fn leds(&mut self, mut left: Node, bp: u8) -> Result<Node, JmesError> {
        while bp < lbp(self.peek()) {
            let t = self.next();
            left = self.led(t, left)?;
        }
        Ok(left)
    }
}

fn t_is_ident(toks: &[(usize, Tok)], pos: usize) -> bool {
    pos >= 1 && matches!(toks[pos - 1].1, Tok::Ident(_))
}

/// Known functions: (name, min args, max args; `usize::MAX` for variadic).
const FUNCTIONS: &[(&str, usize, usize)] = &[
    // JMESPath built-ins
    ("abs", 1, 1),
    ("avg", 1, 1),
    ("ceil", 1, 1),
    ("contains", 2, 2),
    ("ends_with", 2, 2),
    ("floor", 1, 1),
    ("join", 2, 2),
    ("keys", 1, 1),
    ("length", 1, 1),
    ("map", 2, 2),
    ("max", 1, 1),
    ("max_by", 2, 2),
    ("merge", 1, usize::MAX),
    ("min", 1, 1),
    ("min_by", 2, 2),
    ("not_null", 1, usize::MAX),
    ("reverse", 1, 1),
    ("sort", 1, 1),
    ("sort_by", 2, 2),
    ("starts_with", 2, 2),
    ("sum", 1, 1),
    ("to_array", 1, 1),
    ("to_number", 1, 1),
    ("to_string", 1, 1),
    ("type", 1, 1),
    ("values", 1, 1),
    ("zip", 1, usize::MAX),
    ("find_first", 2, 4),
    ("lower", 1, 1),
    ("upper", 1, 1),
    // Kyverno
    ("compare", 2, 2),
    ("equal_fold", 2, 2),
    ("replace", 4, 4),
    ("replace_all", 3, 3),
    ("to_upper", 1, 1),
    ("to_lower", 1, 1),
    ("trim", 2, 2),
    ("trim_prefix", 2, 2),
    ("split", 2, 2),
    ("regex_replace_all", 3, 3),
    ("regex_replace_all_literal", 3, 3),
    ("regex_match", 2, 2),
    ("pattern_match", 2, 2),
    ("label_match", 2, 2),
    ("to_boolean", 1, 1),
    ("add", 2, 2),
    ("sum", 1, 1),
    ("subtract", 2, 2),
    ("multiply", 2, 2),
    ("divide", 2, 2),
    ("modulo", 2, 2),
    ("round", 2, 2),
    ("base64_decode", 1, 1),
    ("base64_encode", 1, 1),
    ("path_canonicalize", 1, 1),
    ("truncate", 2, 2),
    ("semver_compare", 2, 2),
    ("parse_json", 1, 1),
    ("parse_yaml", 1, 1),
    ("lookup", 2, 2),
    ("items", 3, 3),
    ("object_from_lists", 2, 2),
    ("image_normalize", 1, 1),
    ("is_external_url", 1, 1),
    ("time_now", 0, 0),
    ("time_now_utc", 0, 0),
    ("time_after", 2, 2),
    ("time_before", 2, 2),
    ("time_between", 3, 3),
    ("time_since", 3, 3),
    ("time_add", 2, 2),
    ("time_parse", 2, 2),
    ("time_to_cron", 1, 1),
    ("time_utc", 1, 1),
    ("time_diff", 2, 2),
    ("time_truncate", 2, 2),
    ("x509_decode", 1, 1),
    ("random", 1, 1),
    ("sha256", 1, 1),
];

/// The arity of a known function: (min, max; `usize::MAX` for variadic).
pub fn arity(name: &str) -> Option<(usize, usize)> {
    FUNCTIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, a, b)| (*a, *b))
}

/// Load-time check: every function exists and gets a valid number of arguments.
pub fn check_functions(ast: &Ast) -> Result<(), JmesError> {
    match ast {
        Ast::Function(name, args) => {
            let Some((lo, hi)) = arity(name) else {
                return Err(JmesError::UnknownFunction(name.clone()));
            };
            if args.len() < lo || args.len() > hi {
                return Err(JmesError::Syntax(format!(
                    "invalid arity for {name}(): got {} argument(s)",
                    args.len()
                )));
            }
            args.iter().try_for_each(check_functions)
        }
        Ast::Sub(a, b)
        | Ast::Projection(a, b)
        | Ast::ObjectProjection(a, b)
        | Ast::Or(a, b)
        | Ast::And(a, b)
        | Ast::Cmp(_, a, b)
        | Ast::Arith(_, a, b)
        | Ast::Pipe(a, b) => {
            check_functions(a)?;
            check_functions(b)
        }
        Ast::Filter(a, b, c) => {
            check_functions(a)?;
            check_functions(b)?;
            check_functions(c)
        }
        Ast::Flatten(a) | Ast::Not(a) | Ast::Neg(a) | Ast::ExpRef(a) => check_functions(a),
        Ast::MultiList(items) => items.iter().try_for_each(check_functions),
        Ast::MultiHash(pairs) => pairs.iter().try_for_each(|(_, a)| check_functions(a)),
        _ => Ok(()),
    }
}

/// Parses `source` and checks its functions: what a policy's variables must pass when the
/// policy is validated, admitted or loaded.
pub fn compile(source: &str) -> Result<Ast, JmesError> {
    let ast = parse(source)?;
    check_functions(&ast)?;
    Ok(ast)
}

/// A `{{ }}` variable found in a string: byte range of `{{...}}` and its expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub start: usize,
    pub end: usize,
    pub expr: String,
}

/// Finds the `{{ }}` variables in `s` (one level of nested braces, as Kyverno's regex);
/// `\{{` is a literal `{{`. Linear in the length of `s`.
pub fn find_variables(s: &str) -> Vec<VarRef> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'{' && (i == 0 || b[i - 1] != b'\\') {
            let mut depth = 0usize;
            let mut j = i + 2;
            let mut end = None;
            while j < b.len() {
                match b[j] {
                    b'{' => depth += 1,
                    b'}' if depth > 0 => depth -= 1,
                    b'}' if j + 1 < b.len() && b[j + 1] == b'}' => {
                        end = Some(j + 2);
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
            match end {
                Some(e) => {
                    out.push(VarRef {
                        start: i,
                        end: e,
                        expr: s[i + 2..e - 2].trim().to_owned(),
                    });
                    i = e;
                }
                None => break,
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        for e in [
            "request.object.metadata.name",
            "request.object.spec.containers[].image",
            "request.object.spec.containers[?name=='a'].image | [0]",
            "length(request.object.spec.containers[?securityContext.privileged == `true`]) > `0`",
            "{a: b, c: d[0]}",
            "[a, b]",
            "a.*.b",
            "a[1:3]",
            "a || 'x'",
            "!a && b",
            "items(request.object.metadata.labels, 'k', 'v')[?k == 'x']",
            "sort_by(@, &name)",
            "\"app.kubernetes.io/name\"",
            "a.b[*].c[*].d",
            "`{\"a\": 1}`",
            "a - `1`",
            "element.name",
        ] {
            assert!(parse(e).is_ok(), "{e}: {:?}", parse(e));
        }
        for e in ["a.", "a[", "foo(", "a ==", "`x", "a b"] {
            assert!(parse(e).is_err(), "{e}");
        }
    }

    #[test]
    fn functions_are_checked() {
        assert!(compile("to_upper(a)").is_ok());
        assert_eq!(
            compile("nosuch(a)"),
            Err(JmesError::UnknownFunction("nosuch".into()))
        );
        assert!(matches!(
            compile("to_upper(a, b)"),
            Err(JmesError::Syntax(_))
        ));
    }

    #[test]
    fn variables_are_found() {
        let v = find_variables("a {{ {x: y}.x }} b {{c}}");
        let exprs: Vec<&str> = v.iter().map(|r| r.expr.as_str()).collect();
        assert_eq!(exprs, ["{x: y}.x", "c"]);
        assert!(find_variables(r"\{{ literal }}").is_empty());
        assert!(find_variables("{{ unclosed").is_empty());
    }

    /// The deep shapes of issue 18 (each repetition nests one level more), as
    /// (prefix, core, suffix): the expression is prefix*n + core + suffix*n.
    const SHAPES: &[(&str, &str, &str)] = &[
        ("to_string(", "request.object.metadata.name", ")"),
        ("(", "a", ")"),
        ("", "a", "[0]"),
        ("", "a", " || a"),
        ("", "request.object", " | @"),
        ("", "request.object", " | [@, @]"),
        ("!", "a", ""),
        ("-", "`1`", ""),
        ("{a: ", "b", "}"),
        ("[", "a", "]"),
        ("", "a", "[?a]"),
        ("", "a", "[*]"),
        ("", "a", "[]"),
        ("", "a", ".*"),
        ("", "a", ".b"),
        ("", "a", "[1:2]"),
        ("", "a", " == a"),
        ("", "`1`", " + `1`"),
        ("map(&", "a", ", @)"),
        ("a[?", "b", "]"),
    ];

    fn shaped(shape: usize, n: usize) -> String {
        let (pre, core, suf) = SHAPES[shape % SHAPES.len()];
        format!("{}{core}{}", pre.repeat(n), suf.repeat(n))
    }

    /// Runs `f` on a thread with a 1 MiB stack (half a default thread's): a
    /// recursion that the limits did not bound overflows it.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic")
    }

    // Issue 18: 100,000 repetitions of every shape are refused with a nesting error, quickly
    // and without deep recursion.
    #[test]
    fn deep_shapes_are_refused() {
        for shape in 0..SHAPES.len() {
            let src = shaped(shape, 100_000);
            let src = if src.len() > MAX_EXPRESSION_LEN {
                // keep the source under the size limit so the nesting check is the one hit
                shaped(shape, MAX_EXPRESSION_LEN / (src.len() / 100_000 + 1))
            } else {
                src
            };
            let start = std::time::Instant::now();
            let got = on_small_stack(move || parse(&src));
            assert!(
                matches!(&got, Err(JmesError::Limit(m)) if m.contains("nests deeper than 100")),
                "shape {shape}: {got:?}"
            );
            assert!(start.elapsed() < std::time::Duration::from_secs(2));
        }
        let big = "a".repeat(MAX_EXPRESSION_LEN + 1);
        assert!(matches!(parse(&big), Err(JmesError::Limit(m)) if m.contains("bytes long")));
    }

    // The limit is on the nesting, not on a length: what upstream policies write parses.
    #[test]
    fn moderate_nesting_parses() {
        for shape in 0..SHAPES.len() {
            let src = shaped(shape, 30);
            assert!(parse(&src).is_ok(), "shape {shape}: {:?}", parse(&src));
        }
        // a long flat expression is fine
        let wide = vec!["a"; 5000].join(", ");
        assert!(parse(&format!("[{wide}]")).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        // Every nesting shape at every depth: parses, or is refused for its nesting; never
        // overflows a small stack.
        #[test]
        fn nesting_shapes_are_bounded(shape in 0..SHAPES.len(), n in 0usize..400) {
            let src = shaped(shape, n);
            let got = on_small_stack(move || parse(&src));
            match got {
                Ok(_) => prop_assert!(n <= MAX_NESTING),
                Err(JmesError::Limit(m)) => {
                    prop_assert!(m.contains("nests deeper"));
                    prop_assert!(n > 30);
                }
                Err(e) => prop_assert!(false, "shape {}: {}", shape, e),
            }
        }

        // Mixed shapes: a random stack of openers closed in order.
        #[test]
        fn mixed_nesting_is_bounded(shapes in proptest::collection::vec(0..SHAPES.len(), 0..300)) {
            let mut src = String::from("a");
            for s in &shapes {
                let (pre, _, suf) = SHAPES[*s];
                src = format!("{pre}{src}{suf}");
            }
            let got = on_small_stack(move || compile(&src));
            if let Err(e) = got {
                prop_assert!(
                    matches!(e, JmesError::Limit(_) | JmesError::Syntax(_)),
                    "{}", e
                );
            }
        }

        // Arbitrary text and token soup: an answer, never a panic.
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,200}") {
            let _ = compile(&s);
            let _ = find_variables(&s);
        }

        #[test]
        fn token_soup_never_panics(s in "(a|b|@|\\$|\\.|\\*|\\[|\\]|\\[\\?|\\[\\]|\\{|\\}|\\(|\\)|,|:|\\||\\|\\||&&|!|==|<|>=|&|`1`|'x'|\"q\"|-|\\+|/|%|//|[0-9]| |to_string|map|length){0,120}") {
            let _ = on_small_stack(move || compile(&s));
        }
    }
}
