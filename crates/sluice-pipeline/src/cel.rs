//! The small part of CEL that `when` expressions use after substitution (docs/pipelines.md
//! "Guard Task execution using when expressions", `cel:`): string literals compared with
//! `==` / `!=`, `in [..]` lists, `!`, `&&`, `||`, parentheses, `true`/`false`.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn lex(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' || c == b'"' {
            let end = s[i + 1..].find(c as char)? + i + 1;
            out.push(Tok::Str(s[i + 1..end].to_owned()));
            i = end + 1;
        } else if let Some(op) = ["==", "!=", "&&", "||"]
            .into_iter()
            .find(|op| s[i..].starts_with(op))
        {
            out.push(Tok::Op(op));
            i += 2;
        } else if let Some(op) = ["(", ")", "[", "]", ",", "!"]
            .into_iter()
            .find(|op| s[i..].starts_with(op))
        {
            out.push(Tok::Op(op));
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-'))
            {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].to_owned()));
        } else {
            return None;
        }
    }
    Some(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Bool(bool),
    Str(String),
    List(Vec<String>),
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Option<Val> {
        let mut l = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            l = Val::Bool(as_bool(&l)? || as_bool(&r)?);
        }
        Some(l)
    }
    fn and(&mut self) -> Option<Val> {
        let mut l = self.cmp()?;
        while self.eat("&&") {
            let r = self.cmp()?;
            l = Val::Bool(as_bool(&l)? && as_bool(&r)?);
        }
        Some(l)
    }
    fn cmp(&mut self) -> Option<Val> {
        let l = self.unary()?;
        if self.eat("==") {
            let r = self.unary()?;
            return Some(Val::Bool(l == r));
        }
        if self.eat("!=") {
            let r = self.unary()?;
            return Some(Val::Bool(l != r));
        }
        if matches!(self.peek(), Some(Tok::Ident(x)) if x == "in") {
            self.i += 1;
            let r = self.unary()?;
            return match (l, r) {
                (Val::Str(s), Val::List(l)) => Some(Val::Bool(l.contains(&s))),
                _ => None,
            };
        }
        Some(l)
    }
    fn unary(&mut self) -> Option<Val> {
        if self.eat("!") {
            let v = self.unary()?;
            return Some(Val::Bool(!as_bool(&v)?));
        }
        if self.eat("(") {
            let v = self.or()?;
            return self.eat(")").then_some(v);
        }
        if self.eat("[") {
            let mut items = Vec::new();
            if !self.eat("]") {
                loop {
                    match self.peek()?.clone() {
                        Tok::Str(s) => {
                            self.i += 1;
                            items.push(s);
                        }
                        _ => return None,
                    }
                    if self.eat("]") {
                        break;
                    }
                    if !self.eat(",") {
                        return None;
                    }
                }
            }
            return Some(Val::List(items));
        }
        match self.peek()?.clone() {
            Tok::Str(s) => {
                self.i += 1;
                Some(Val::Str(s))
            }
            Tok::Ident(x) if x == "true" => {
                self.i += 1;
                Some(Val::Bool(true))
            }
            Tok::Ident(x) if x == "false" => {
                self.i += 1;
                Some(Val::Bool(false))
            }
            _ => None,
        }
    }
}

fn as_bool(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Evaluates a substituted CEL expression; `None` when it uses more than this subset.
pub fn eval_bool(expr: &str) -> Option<bool> {
    let mut p = P {
        t: lex(expr)?,
        i: 0,
    };
    let v = p.or()?;
    if p.i != p.t.len() {
        return None;
    }
    as_bool(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    // examples/v1/pipelineruns/alpha/pipelinerun-with-cel-when-expressions.yaml
    #[test]
    fn subset() {
        assert_eq!(eval_bool("'foo' == 'foo'"), Some(true));
        assert_eq!(eval_bool("'foo'!='foo'"), Some(false));
        assert_eq!(eval_bool("'a' in ['b', 'a'] && !('x' == 'y')"), Some(true));
        assert_eq!(eval_bool("'yes'=='missing' || 'b' == 'b'"), Some(true));
        assert_eq!(eval_bool("size('x') > 0"), None);
    }
}
