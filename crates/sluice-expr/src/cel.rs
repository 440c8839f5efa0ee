//! The small part of CEL that Tekton `when` expressions use after substitution
//! (docs/pipelines.md "Guard Task execution using when expressions", `cel:`): string
//! literals compared with `==` / `!=`, `in [..]` lists, `!`, `&&`, `||`, parentheses,
//! `true`/`false`. Anything else is [`CelError::Unsupported`].
//!
//! Limits are cel-go's parser defaults (google/cel-go `parser.NewParser`: a source of at
//! most 100,000 code points, recursion at most 250), so what Tekton's webhook
//! (`when_validation.go` compiles the expression with cel-go) refuses is refused here,
//! with cel-go's messages: [`check_limits`] when a Pipeline is validated or admitted,
//! [`evaluate`] again after substitution. Evaluation is one pass over the tokens: its time
//! and memory are linear in the source, which the size limit bounds.

/// Code points of one expression (cel-go `expressionSizeCodePointLimit`).
pub const MAX_CEL_LEN: usize = 100_000;

/// Nesting of one expression: parentheses, list and map literals, and chains of `!`/`-`
/// (cel-go `maxRecursionDepth`).
pub const MAX_CEL_NESTING: usize = 250;

/// Why an expression was not evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// The expression uses more of CEL than this subset (or is not CEL).
    #[error("uses more of CEL than the local engine evaluates")]
    Unsupported,
    /// Over [`MAX_CEL_LEN`] or [`MAX_CEL_NESTING`].
    #[error("{0}")]
    Limit(String),
}

fn too_long(n: usize) -> CelError {
    CelError::Limit(format!(
        "expression code point size exceeds limit: size: {n}, limit {MAX_CEL_LEN}"
    ))
}

fn too_deep() -> CelError {
    CelError::Limit(format!(
        "expression recursion limit exceeded: {MAX_CEL_NESTING}"
    ))
}

/// The limits of an expression as written (before Tekton substitutes `$(...)`, which sits
/// inside string literals): its size, and how deep brackets and unary operators nest outside
/// string literals. Linear, without recursion.
pub fn check_limits(expr: &str) -> Result<(), CelError> {
    let n = expr.chars().count();
    if n > MAX_CEL_LEN {
        return Err(too_long(n));
    }
    let b = expr.as_bytes();
    let (mut depth, mut unary, mut i) = (0usize, 0usize, 0usize);
    // whether a `-` here would be unary (start, after an operator or an opening bracket)
    let mut operand_expected = true;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                // a string literal (''' and """ as three quotes: the same span)
                i += 1;
                while i < b.len() && b[i] != c {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                unary = 0;
                operand_expected = false;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                unary = 0;
                operand_expected = true;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                unary = 0;
                operand_expected = false;
            }
            b'!' if b.get(i + 1) != Some(&b'=') => {
                unary += 1;
                operand_expected = true;
            }
            b'-' if operand_expected => unary += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'=' | b'<' | b'>' | b'&' | b'|' | b'+' | b'*' | b'/' | b'%' | b',' | b'?' | b':'
            | b'!' | b'-' => {
                unary = 0;
                operand_expected = true;
            }
            _ => {
                unary = 0;
                operand_expected = false;
            }
        }
        if depth + unary > MAX_CEL_NESTING {
            return Err(too_deep());
        }
        i += 1;
    }
    Ok(())
}

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

/// The evaluator: recursive descent that evaluates as it parses. `depth` counts the `!` and
/// `(` being evaluated, so recursion stays within [`MAX_CEL_NESTING`] levels.
struct P {
    t: Vec<Tok>,
    i: usize,
    depth: usize,
}

type R = Result<Val, CelError>;

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
    fn enter(&mut self) -> Result<(), CelError> {
        self.depth += 1;
        if self.depth > MAX_CEL_NESTING {
            return Err(too_deep());
        }
        Ok(())
    }
    fn or(&mut self) -> R {
        let mut l = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            l = Val::Bool(as_bool(&l)? || as_bool(&r)?);
        }
        Ok(l)
    }
    fn and(&mut self) -> R {
        let mut l = self.cmp()?;
        while self.eat("&&") {
            let r = self.cmp()?;
            l = Val::Bool(as_bool(&l)? && as_bool(&r)?);
        }
        Ok(l)
    }
    fn cmp(&mut self) -> R {
        let l = self.unary()?;
        if self.eat("==") {
            let r = self.unary()?;
            return Ok(Val::Bool(l == r));
        }
        if self.eat("!=") {
            let r = self.unary()?;
            return Ok(Val::Bool(l != r));
        }
        if matches!(self.peek(), Some(Tok::Ident(x)) if x == "in") {
            self.i += 1;
            let r = self.unary()?;
            return match (l, r) {
                (Val::Str(s), Val::List(l)) => Ok(Val::Bool(l.contains(&s))),
                _ => Err(CelError::Unsupported),
            };
        }
        Ok(l)
    }
    fn unary(&mut self) -> R {
        if self.eat("!") {
            self.enter()?;
            let v = self.unary()?;
            self.depth -= 1;
            return Ok(Val::Bool(!as_bool(&v)?));
        }
        if self.eat("(") {
            self.enter()?;
            let v = self.or()?;
            self.depth -= 1;
            return if self.eat(")") {
                Ok(v)
            } else {
                Err(CelError::Unsupported)
            };
        }
        if self.eat("[") {
            return self.list();
        }
        let v = match self.peek() {
            Some(Tok::Str(s)) => Val::Str(s.clone()),
            Some(Tok::Ident(x)) if x == "true" => Val::Bool(true),
            Some(Tok::Ident(x)) if x == "false" => Val::Bool(false),
            _ => return Err(CelError::Unsupported),
        };
        self.i += 1;
        Ok(v)
    }
    /// A list of string literals after its `[`.
    fn list(&mut self) -> R {
        let mut items = Vec::new();
        if self.eat("]") {
            return Ok(Val::List(items));
        }
        loop {
            match self.peek() {
                Some(Tok::Str(s)) => {
                    items.push(s.clone());
                    self.i += 1;
                }
                _ => return Err(CelError::Unsupported),
            }
            if self.eat("]") {
                return Ok(Val::List(items));
            }
            if !self.eat(",") {
                return Err(CelError::Unsupported);
            }
        }
    }
}

fn as_bool(v: &Val) -> Result<bool, CelError> {
    match v {
        Val::Bool(b) => Ok(*b),
        _ => Err(CelError::Unsupported),
    }
}

/// Evaluates a substituted CEL expression to a boolean, within the limits.
pub fn evaluate(expr: &str) -> Result<bool, CelError> {
    check_limits(expr)?;
    let mut p = P {
        t: lex(expr).ok_or(CelError::Unsupported)?,
        i: 0,
        depth: 0,
    };
    let v = p.or()?;
    if p.i != p.t.len() {
        return Err(CelError::Unsupported);
    }
    as_bool(&v)
}

/// [`evaluate`], `None` for anything but a boolean.
pub fn eval_bool(expr: &str) -> Option<bool> {
    evaluate(expr).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // examples/v1/pipelineruns/alpha/pipelinerun-with-cel-when-expressions.yaml
    #[test]
    fn subset() {
        assert_eq!(eval_bool("'foo' == 'foo'"), Some(true));
        assert_eq!(eval_bool("'foo'!='foo'"), Some(false));
        assert_eq!(eval_bool("'a' in ['b', 'a'] && !('x' == 'y')"), Some(true));
        assert_eq!(eval_bool("'yes'=='missing' || 'b' == 'b'"), Some(true));
        assert_eq!(evaluate("size('x') > 0"), Err(CelError::Unsupported));
    }

    /// Nesting shapes (prefix, core, suffix): each repetition nests one level more.
    const SHAPES: &[(&str, &str, &str)] = &[
        ("(", "true", ")"),
        ("!", "true", ""),
        ("!(", "true", ")"),
        ("(", "'a' == 'a'", ") && true"),
        ("[", "'a'", "]"),
        ("{", "'a': 1", "}"),
        ("-", "1", ""),
        ("(true || ", "false", ")"),
    ];

    fn shaped(shape: usize, n: usize) -> String {
        let (pre, core, suf) = SHAPES[shape];
        format!("{}{core}{}", pre.repeat(n), suf.repeat(n))
    }

    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic, no overflow")
    }

    // Issue 18: `(` and `!` 100,000 deep overflowed the stack; now they are refused with
    // cel-go's message, by the static check and by the evaluator.
    #[test]
    fn deep_and_long_expressions_are_refused() {
        for (shape, (pre, _, suf)) in SHAPES.iter().enumerate() {
            // as deep as fits in the size limit (100,000 levels for `(` and `!`)
            let src = shaped(shape, (MAX_CEL_LEN - 20) / (pre.len() + suf.len()));
            let e = on_small_stack(move || evaluate(&src));
            assert_eq!(e, Err(too_deep()), "shape {shape}");
        }
        let long = format!("'{}' == 'a'", "a".repeat(MAX_CEL_LEN));
        assert!(
            matches!(check_limits(&long), Err(CelError::Limit(m)) if m.starts_with("expression code point size exceeds limit"))
        );
        // the evaluator's own guard, behind the static check
        let mut p = P {
            t: lex(&shaped(0, 300)).expect("lexes"),
            i: 0,
            depth: 0,
        };
        assert_eq!(on_small_stack(move || p.or()), Err(too_deep()));
        // strings are not nesting
        assert_eq!(
            check_limits(&format!("'{}' == 'x'", "(".repeat(1000))),
            Ok(())
        );
        assert_eq!(evaluate(&shaped(0, 200)), Ok(true));
        assert_eq!(evaluate(&shaped(1, 200)), Ok(true));
    }

    proptest! {
        #[test]
        fn cel_never_panics(expr in "\\PC{0,40}") {
            let _ = evaluate(&expr);
        }

        #[test]
        fn cel_like_never_panics(expr in "('[a-z]*'|\"[a-z]*\"|[0-9]{1,3}|==|!=|&&|\\|\\||!|\\(|\\)|in|\\[|\\]|,| |true|false|\\.|size|matches){0,20}") {
            let _ = evaluate(&expr);
        }

        // Every nesting shape at every depth: a value, unsupported, or refused for its
        // nesting (deeper than the limit, only then), on a small stack.
        #[test]
        fn nesting_is_bounded(shape in 0..SHAPES.len(), n in 0usize..600) {
            let src = shaped(shape, n);
            let got = on_small_stack(move || evaluate(&src));
            if got == Err(too_deep()) {
                prop_assert!(n > MAX_CEL_NESTING / 2, "shape {} at {}", shape, n);
            }
            if n > 2 * MAX_CEL_NESTING {
                prop_assert_eq!(got, Err(too_deep()));
            }
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        // Fuzz-style: token soup evaluates in time linear in its length.
        #[test]
        fn token_soup_is_bounded(parts in proptest::collection::vec("'a'|\"b\"|==|!=|&&|\\|\\||!|\\(|\\)|\\[|\\]|,|in|true|false| ", 0..400)) {
            let src = parts.concat();
            let start = std::time::Instant::now();
            let _ = on_small_stack(move || evaluate(&src));
            prop_assert!(start.elapsed() < std::time::Duration::from_secs(2));
        }
    }
}
