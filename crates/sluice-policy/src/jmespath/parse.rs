//! JMESPath lexer and Pratt parser (jmespath.org/specification.html), with the literal,
//! raw-string and `$` root forms Kyverno's go-jmespath fork accepts.

use serde_json::Value;

use super::JmesError;

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
    let err = |i: usize, m: &str| JmesError::Syntax(format!("{m} at position {i} in {s:?}"));
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

struct Parser<'s> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    src: &'s str,
}

/// Parses `s` into an [`Ast`].
pub fn parse(s: &str) -> Result<Ast, JmesError> {
    let mut p = Parser {
        toks: lex(s)?,
        pos: 0,
        src: s,
    };
    let ast = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.err("unexpected token"));
    }
    Ok(ast)
}

const PROJECTION_STOP: u8 = 10;

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
            self.src
        ))
    }
    fn expect(&mut self, t: Tok) -> Result<(), JmesError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.err(&format!("expected {t:?}, found")))
        }
    }

    fn expr(&mut self, rbp: u8) -> Result<Ast, JmesError> {
        let t = self.next();
        let mut left = self.nud(t)?;
        while rbp < lbp(self.peek()) {
            let t = self.next();
            left = self.led(t, left)?;
        }
        Ok(left)
    }

    fn nud(&mut self, t: Tok) -> Result<Ast, JmesError> {
        Ok(match t {
            Tok::At => Ast::Current,
            Tok::Dollar => Ast::Root,
            Tok::Ident(s) | Tok::Quoted(s) => {
                if *self.peek() == Tok::LParen {
                    if !t_is_ident(&self.toks, self.pos) {
                        return Err(self.err("quoted identifier cannot be a function name"));
                    }
                    self.next();
                    let args = self.list_until(Tok::RParen)?;
                    Ast::Function(s, args)
                } else {
                    Ast::Field(s)
                }
            }
            Tok::Raw(s) => Ast::Literal(Value::String(s)),
            Tok::Lit(v) => Ast::Literal(v),
            Tok::Num(n) => Ast::Literal(Value::from(n)),
            Tok::Star => {
                let rhs = self.projection_rhs(lbp(&Tok::Star))?;
                Ast::ObjectProjection(Box::new(Ast::Current), Box::new(rhs))
            }
            Tok::Filter => self.filter(Ast::Current)?,
            Tok::Flatten => {
                let rhs = self.projection_rhs(lbp(&Tok::Flatten))?;
                Ast::Projection(
                    Box::new(Ast::Flatten(Box::new(Ast::Current))),
                    Box::new(rhs),
                )
            }
            Tok::LBracket => match (self.peek().clone(), self.peek_at(1).clone()) {
                (Tok::Num(_) | Tok::Colon, _) => {
                    let idx = self.index_or_slice()?;
                    self.wrap_slice(Ast::Current, idx)?
                }
                (Tok::Star, Tok::RBracket) => {
                    self.next();
                    self.next();
                    let rhs = self.projection_rhs(lbp(&Tok::Star))?;
                    Ast::Projection(Box::new(Ast::Current), Box::new(rhs))
                }
                _ => Ast::MultiList(self.list_until(Tok::RBracket)?),
            },
            Tok::LBrace => {
                let mut pairs = Vec::new();
                loop {
                    let key = match self.next() {
                        Tok::Ident(s) | Tok::Quoted(s) => s,
                        _ => return Err(self.err("expected a key in multi-select hash, found")),
                    };
                    self.expect(Tok::Colon)?;
                    let v = self.expr(0)?;
                    pairs.push((key, v));
                    match self.next() {
                        Tok::Comma => continue,
                        Tok::RBrace => break,
                        _ => return Err(self.err("expected ',' or '}', found")),
                    }
                }
                Ast::MultiHash(pairs)
            }
            Tok::Amp => Ast::ExpRef(Box::new(self.expr(lbp(&Tok::Amp))?)),
            Tok::Not => Ast::Not(Box::new(self.expr(lbp(&Tok::Not))?)),
            Tok::Minus => Ast::Neg(Box::new(self.expr(lbp(&Tok::Not))?)),
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen)?;
                e
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.err("unexpected token"));
            }
        })
    }

    fn led(&mut self, t: Tok, left: Ast) -> Result<Ast, JmesError> {
        Ok(match t {
            Tok::Dot => {
                if *self.peek() == Tok::Star {
                    self.next();
                    let rhs = self.projection_rhs(lbp(&Tok::Star))?;
                    Ast::ObjectProjection(Box::new(left), Box::new(rhs))
                } else {
                    let rhs = self.dot_rhs()?;
                    Ast::Sub(Box::new(left), Box::new(rhs))
                }
            }
            Tok::LBracket => match (self.peek().clone(), self.peek_at(1).clone()) {
                (Tok::Num(_) | Tok::Colon, _) => {
                    let idx = self.index_or_slice()?;
                    self.wrap_slice(left, idx)?
                }
                (Tok::Star, Tok::RBracket) => {
                    self.next();
                    self.next();
                    let rhs = self.projection_rhs(lbp(&Tok::Star))?;
                    Ast::Projection(Box::new(left), Box::new(rhs))
                }
                _ => return Err(self.err("expected an index, slice or '*', found")),
            },
            Tok::Flatten => {
                let rhs = self.projection_rhs(lbp(&Tok::Flatten))?;
                Ast::Projection(Box::new(Ast::Flatten(Box::new(left))), Box::new(rhs))
            }
            Tok::Filter => self.filter(left)?,
            Tok::Pipe => Ast::Pipe(Box::new(left), Box::new(self.expr(lbp(&Tok::Pipe))?)),
            Tok::Or => Ast::Or(Box::new(left), Box::new(self.expr(lbp(&Tok::Or))?)),
            Tok::And => Ast::And(Box::new(left), Box::new(self.expr(lbp(&Tok::And))?)),
            Tok::Cmp(c) => Ast::Cmp(c, Box::new(left), Box::new(self.expr(5)?)),
            Tok::Plus => Ast::Arith(Arith::Add, Box::new(left), Box::new(self.expr(6)?)),
            Tok::Minus => Ast::Arith(Arith::Sub, Box::new(left), Box::new(self.expr(6)?)),
            Tok::Star => Ast::Arith(Arith::Mul, Box::new(left), Box::new(self.expr(7)?)),
            Tok::Slash => Ast::Arith(Arith::Div, Box::new(left), Box::new(self.expr(7)?)),
            Tok::Percent => Ast::Arith(Arith::Mod, Box::new(left), Box::new(self.expr(7)?)),
            Tok::DSlash => Ast::Arith(Arith::IntDiv, Box::new(left), Box::new(self.expr(7)?)),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.err("unexpected token"));
            }
        })
    }

    fn filter(&mut self, left: Ast) -> Result<Ast, JmesError> {
        let cond = self.expr(0)?;
        self.expect(Tok::RBracket)?;
        let rhs = self.projection_rhs(lbp(&Tok::Filter))?;
        Ok(Ast::Filter(Box::new(left), Box::new(cond), Box::new(rhs)))
    }

    fn list_until(&mut self, end: Tok) -> Result<Vec<Ast>, JmesError> {
        let mut items = Vec::new();
        if *self.peek() == end {
            self.next();
            return Ok(items);
        }
        loop {
            items.push(self.expr(0)?);
            let t = self.next();
            if t == end {
                return Ok(items);
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

    fn wrap_slice(&mut self, left: Ast, idx: (bool, [Option<i64>; 3])) -> Result<Ast, JmesError> {
        let (is_slice, [a, b, c]) = idx;
        if !is_slice {
            let Some(i) = a else {
                return Err(self.err("empty index"));
            };
            return Ok(Ast::Sub(Box::new(left), Box::new(Ast::Index(i))));
        }
        if c == Some(0) {
            return Err(self.err("slice step cannot be 0"));
        }
        let rhs = self.projection_rhs(lbp(&Tok::Star))?;
        Ok(Ast::Projection(
            Box::new(Ast::Sub(Box::new(left), Box::new(Ast::Slice(a, b, c)))),
            Box::new(rhs),
        ))
    }

    fn dot_rhs(&mut self) -> Result<Ast, JmesError> {
        match self.peek().clone() {
            Tok::Ident(_) | Tok::Quoted(_) => {
                let t = self.next();
                self.nud(t)
            }
            Tok::LBracket => {
                self.next();
                Ok(Ast::MultiList(self.list_until(Tok::RBracket)?))
            }
            Tok::LBrace => {
                let t = self.next();
                self.nud(t)
            }
            Tok::At | Tok::Dollar => {
                let t = self.next();
                self.nud(t)
            }
            _ => Err(self.err("expected an identifier after '.', found")),
        }
    }

    fn projection_rhs(&mut self, bp: u8) -> Result<Ast, JmesError> {
        let t = self.peek().clone();
        if lbp(&t) < PROJECTION_STOP {
            return Ok(Ast::Current);
        }
        match t {
            Tok::Dot => {
                self.next();
                if *self.peek() == Tok::Star {
                    self.next();
                    let rhs = self.projection_rhs(lbp(&Tok::Star))?;
                    return Ok(Ast::ObjectProjection(Box::new(Ast::Current), Box::new(rhs)));
                }
                let lhs = self.dot_rhs()?;
                let mut left = lhs;
                while bp < lbp(self.peek()) {
                    let t = self.next();
                    left = self.led(t, left)?;
                }
                Ok(left)
            }
            Tok::LBracket | Tok::Filter | Tok::Flatten => {
                let mut left = Ast::Current;
                while bp < lbp(self.peek()) {
                    let t = self.next();
                    left = self.led(t, left)?;
                }
                Ok(left)
            }
            _ => Err(self.err("unexpected token after projection")),
        }
    }
}

fn t_is_ident(toks: &[(usize, Tok)], pos: usize) -> bool {
    pos >= 1 && matches!(toks[pos - 1].1, Tok::Ident(_))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
