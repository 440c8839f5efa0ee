//! Go `text/template` with Sprig v3 and Helm's functions, as Helm's engine runs it
//! (helm/helm `pkg/engine`): a set of named templates (`define`, `template`, `block`),
//! values with Go's reference semantics (maps and lists are shared, so `set`, `merge` and
//! `unset` change what every holder sees), `missingkey=zero` (a missing key is `<no value>`,
//! which the caller removes from the output as Helm does), and host objects ([`Obj`]) for
//! what Go reaches through struct methods (`.Files.Get`, `.Capabilities.APIVersions.Has`).
//!
//! A function Sprig or Helm defines that Sluice does not evaluate is an execution error
//! naming the template and line (`function "x" is not supported`), never a wrong value; a
//! name no one defines is a parse error, as in Go.
//!
//! Limits: `include`/`template`/`tpl` nest at most [`MAX_CALL_DEPTH`] levels (Helm stops
//! recursive includes at 1000); a rendering draws on a [`Budget`] of steps, bytes and time;
//! values nest at most [`MAX_VALUE_DEPTH`] levels when printed or serialized (a map that
//! contains itself is an error, not a hang).
//!
//! Architecture invariant: pure functions, no I/O (files reach templates through [`Obj`]).

#[cfg(feature = "crypto")]
mod crypto;
pub(crate) mod funcs;
mod funcs_more;
pub mod gotime;
pub mod goyaml;
mod parse;
mod printf;
pub mod semver;
mod toml;
mod url;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::rc::Rc;

pub use crate::budget::Budget;
use crate::budget::Limits;
pub use parse::{Node, Tree};

/// Nesting of `template`, `include` and `tpl` calls. Helm's engine stops `include`
/// recursion at 1000 (`recursionMaxNums`); Sluice's stack is native, so it stops earlier.
pub const MAX_CALL_DEPTH: usize = 200;

/// Nesting of a value when it is printed, compared or serialized.
pub const MAX_VALUE_DEPTH: usize = 256;

/// The limits of one chart rendering: steps, bytes of output and values built, time.
pub const RENDER_LIMITS: Limits = Limits {
    max_steps: 50_000_000,
    max_bytes: 256 * 1024 * 1024,
    max_time: Some(std::time::Duration::from_secs(60)),
};

/// A host object: what a Go struct with methods is to a template.
pub trait Obj: std::fmt::Debug {
    /// The Go type name (`%T`, `typeOf`).
    fn type_name(&self) -> String;
    /// `.Name` with `args` (a field when `args` is empty, else a method call). `None`: no
    /// such field or method.
    fn call(&self, name: &str, args: &[V]) -> Option<Result<V, String>>;
    /// `fmt`'s `%v`.
    fn display(&self) -> String {
        format!("{{{}}}", self.type_name())
    }
    /// The value JSON/YAML marshalling sees.
    fn to_value(&self) -> V {
        V::Nil
    }
    /// The object itself, for functions that take one Go type (`time.Time`).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A Go value as templates see it.
#[derive(Debug, Clone)]
pub enum V {
    /// `nil` (a missing key is `<no value>` when printed at the top of an action).
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// `[]byte`.
    Bytes(Rc<[u8]>),
    List(Rc<RefCell<Vec<V>>>),
    Map(Rc<RefCell<BTreeMap<String, V>>>),
    Obj(Rc<dyn Obj>),
}

impl V {
    pub fn str(s: impl Into<Rc<str>>) -> V {
        V::Str(s.into())
    }
    pub fn list(v: Vec<V>) -> V {
        V::List(Rc::new(RefCell::new(v)))
    }
    pub fn map(m: BTreeMap<String, V>) -> V {
        V::Map(Rc::new(RefCell::new(m)))
    }

    /// From JSON as Go's `encoding/json` decodes into `interface{}`: numbers are float64.
    pub fn from_json(v: &serde_json::Value) -> V {
        use serde_json::Value as J;
        match v {
            J::Null => V::Nil,
            J::Bool(b) => V::Bool(*b),
            J::Number(n) => V::Float(n.as_f64().unwrap_or(0.0)),
            J::String(s) => V::str(s.as_str()),
            J::Array(a) => V::list(a.iter().map(V::from_json).collect()),
            J::Object(m) => V::map(
                m.iter()
                    .map(|(k, v)| (k.clone(), V::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// To JSON (ints stay ints); errors on a value nested too deep (or containing itself).
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        self.to_json_at(0)
    }

    fn to_json_at(&self, depth: usize) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        if depth > MAX_VALUE_DEPTH {
            return Err(format!("value nests deeper than {MAX_VALUE_DEPTH} levels"));
        }
        Ok(match self {
            V::Nil => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            V::Str(s) => J::String(s.to_string()),
            V::Bytes(b) => J::String(crate::appset::b64enc_pub(b)),
            V::List(l) => J::Array(
                l.borrow()
                    .iter()
                    .map(|x| x.to_json_at(depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            V::Map(m) => J::Object(
                m.borrow()
                    .iter()
                    .map(|(k, x)| Ok((k.clone(), x.to_json_at(depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            ),
            V::Obj(o) => o.to_value().to_json_at(depth + 1)?,
        })
    }

    /// The Go type name as `%T` prints it.
    pub fn type_name(&self) -> String {
        match self {
            V::Nil => "<nil>".into(),
            V::Bool(_) => "bool".into(),
            V::Int(_) => "int".into(),
            V::Float(_) => "float64".into(),
            V::Str(_) => "string".into(),
            V::Bytes(_) => "[]uint8".into(),
            V::List(_) => "[]interface {}".into(),
            V::Map(_) => "map[string]interface {}".into(),
            V::Obj(o) => o.type_name(),
        }
    }

    /// `reflect.Kind` as Sprig's `kindOf` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            V::Nil => "invalid",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float64",
            V::Str(_) => "string",
            V::Bytes(_) | V::List(_) => "slice",
            V::Map(_) => "map",
            V::Obj(_) => "struct",
        }
    }

    /// text/template's truth.
    pub fn truthy(&self) -> bool {
        match self {
            V::Nil => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::Bytes(b) => !b.is_empty(),
            V::List(l) => !l.borrow().is_empty(),
            V::Map(m) => !m.borrow().is_empty(),
            V::Obj(_) => true,
        }
    }

    /// `fmt.Sprint` (`%v`); nested `nil` prints `<nil>`.
    pub fn display(&self) -> String {
        let mut s = String::new();
        self.write_display(&mut s, 0);
        s
    }

    fn write_display(&self, out: &mut String, depth: usize) {
        if depth > MAX_VALUE_DEPTH {
            out.push_str("...");
            return;
        }
        match self {
            V::Nil => out.push_str("<nil>"),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Float(f) => out.push_str(&crate::appset::go_float(*f)),
            V::Str(s) => out.push_str(s),
            V::Bytes(b) => {
                out.push('[');
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{x}");
                }
                out.push(']');
            }
            V::List(l) => {
                out.push('[');
                for (i, x) in l.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    x.write_display(out, depth + 1);
                }
                out.push(']');
            }
            V::Map(m) => {
                out.push_str("map[");
                for (i, (k, x)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    x.write_display(out, depth + 1);
                }
                out.push(']');
            }
            V::Obj(o) => out.push_str(&o.display()),
        }
    }

    /// Sprig's `strval`: strings as they are, bytes as text, anything else `%v`.
    pub fn to_str(&self) -> String {
        match self {
            V::Str(s) => s.to_string(),
            V::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => other.display(),
        }
    }

    /// A deep copy (Sprig's `deepCopy`).
    pub fn deep_copy(&self) -> V {
        self.deep_copy_at(0)
    }

    fn deep_copy_at(&self, depth: usize) -> V {
        if depth > MAX_VALUE_DEPTH {
            return V::Nil;
        }
        match self {
            V::List(l) => V::list(
                l.borrow()
                    .iter()
                    .map(|x| x.deep_copy_at(depth + 1))
                    .collect(),
            ),
            V::Map(m) => V::map(
                m.borrow()
                    .iter()
                    .map(|(k, x)| (k.clone(), x.deep_copy_at(depth + 1)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a template did not parse or execute. The message is Go's/Helm's text, with the
/// template name, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("template: {0}")]
    Parse(String),
    #[error("template: {0}")]
    Exec(String),
    /// `fail` and `required`: the message the chart wrote (Helm prints it after the
    /// template position).
    #[error("{0}")]
    Fail(String),
    #[error("{0}")]
    Limit(String),
}

/// A set of parsed templates sharing their `define`s, as Helm's engine parses a chart and
/// its dependencies into one `template.Template`.
#[derive(Debug, Default)]
pub struct TemplateSet {
    trees: HashMap<String, Rc<Tree>>,
}

impl TemplateSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `src` under `name`; its `define`s replace earlier ones of the same name (Go's
    /// `template.New(...).Parse` on a shared set).
    pub fn add(&mut self, name: &str, src: &str) -> Result<(), Error> {
        let (main, defines) = parse::parse(name, src)?;
        for (n, t) in defines {
            self.trees.insert(n, Rc::new(t));
        }
        // a file whose body is only defines does not replace a define of the same name
        if !main.is_empty_body() || !self.trees.contains_key(name) {
            self.trees.insert(name.to_owned(), Rc::new(main));
        }
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Executes the template `name` with `dot`.
    pub fn execute(&self, name: &str, dot: &V, budget: &Budget) -> Result<String, Error> {
        let mut ex = Exec {
            set: self,
            extra: Vec::new(),
            budget,
            depth: 0,
        };
        let mut out = String::new();
        ex.exec_template(name, dot, &mut out, None)?;
        Ok(out)
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// One execution: the shared set plus trees `tpl` parsed on the way.
struct Exec<'a> {
    set: &'a TemplateSet,
    extra: Vec<(String, Rc<Tree>)>,
    budget: &'a Budget,
    depth: usize,
}

struct Frame {
    vars: Vec<(String, V)>,
    tree: Rc<Tree>,
}

impl Exec<'_> {
    fn tree(&self, name: &str) -> Option<Rc<Tree>> {
        self.extra
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .or_else(|| self.set.trees.get(name).cloned())
    }

    fn exec_template(
        &mut self,
        name: &str,
        dot: &V,
        out: &mut String,
        at: Option<(&Frame, usize)>,
    ) -> Result<(), Error> {
        let Some(tree) = self.tree(name) else {
            return Err(match at {
                Some((f, pos)) => f.err(pos, &format!("no such template \"{name}\"")),
                None => Error::Exec(format!("no template \"{name}\"")),
            });
        };
        self.depth += 1;
        if self.depth > MAX_CALL_DEPTH {
            self.depth -= 1;
            let msg = format!(
                "rendering template has a nested reference name: {name}: exceeded max depth of {MAX_CALL_DEPTH} (include, template or tpl calling itself?)"
            );
            return Err(Error::Limit(match at {
                Some((f, pos)) => f.location(pos) + ": " + &msg,
                None => msg,
            }));
        }
        let mut frame = Frame {
            vars: vec![("$".to_owned(), dot.clone())],
            tree: tree.clone(),
        };
        let r = self.walk(&mut frame, &tree.root, dot, out);
        self.depth -= 1;
        r.map(|_| ())
    }

    fn emit(&self, out: &mut String, s: &str) -> Result<(), Error> {
        self.budget
            .charge(s.len() as u64)
            .map_err(|e| Error::Limit(e.0))?;
        out.push_str(s);
        Ok(())
    }

    fn tick(&self) -> Result<(), Error> {
        self.budget.step().map_err(|e| Error::Limit(e.0))
    }

    fn walk(
        &mut self,
        f: &mut Frame,
        nodes: &[Node],
        dot: &V,
        out: &mut String,
    ) -> Result<Flow, Error> {
        for n in nodes {
            self.tick()?;
            match n {
                Node::Text(t) => self.emit(out, t)?,
                Node::Action(p) => {
                    let v = self.pipe(f, p, dot)?;
                    if p.decl.is_empty() {
                        let s = match &v {
                            V::Nil => "<no value>".to_owned(),
                            other => printable(other),
                        };
                        self.emit(out, &s)?;
                    }
                }
                Node::If(p, body, els) | Node::With(p, body, els) => {
                    let mark = f.vars.len();
                    let v = self.pipe(f, p, dot)?;
                    let flow = if v.truthy() {
                        if matches!(n, Node::With(..)) {
                            self.walk(f, body, &v, out)?
                        } else {
                            self.walk(f, body, dot, out)?
                        }
                    } else {
                        self.walk(f, els, dot, out)?
                    };
                    f.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(p, body, els) => {
                    let mark = f.vars.len();
                    let mut plain = (**p).clone();
                    let decl = std::mem::take(&mut plain.decl);
                    let v = match self.pipe(f, &plain, dot)? {
                        V::Obj(o) => o.to_value(),
                        other => other,
                    };
                    let items: Vec<(V, V)> = match &v {
                        V::List(l) => l
                            .borrow()
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (V::Int(i as i64), x.clone()))
                            .collect(),
                        V::Map(m) => m
                            .borrow()
                            .iter()
                            .map(|(k, x)| (V::str(k.as_str()), x.clone()))
                            .collect(),
                        V::Bytes(b) => b
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (V::Int(i as i64), V::Int(i64::from(*x))))
                            .collect(),
                        V::Int(n) => {
                            let n = (*n).max(0);
                            if n as u64 > RENDER_LIMITS.max_steps {
                                return Err(Error::Limit(f.location(p.pos) + ": range too large"));
                            }
                            (0..n).map(|i| (V::Int(i), V::Int(i))).collect()
                        }
                        V::Nil => Vec::new(),
                        other => {
                            return Err(f.err(
                                p.pos,
                                &format!("range can't iterate over {}", other.display()),
                            ));
                        }
                    };
                    if items.is_empty() {
                        let flow = self.walk(f, els, dot, out)?;
                        f.vars.truncate(mark);
                        if !matches!(flow, Flow::Normal) {
                            return Ok(flow);
                        }
                        continue;
                    }
                    for (k, x) in items {
                        self.tick()?;
                        let inner = f.vars.len();
                        match decl.len() {
                            0 => {}
                            1 => f.vars.push((decl[0].clone(), x.clone())),
                            _ => {
                                f.vars.push((decl[0].clone(), k));
                                f.vars.push((decl[1].clone(), x.clone()));
                            }
                        }
                        let flow = self.walk(f, body, &x, out)?;
                        f.vars.truncate(inner);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    f.vars.truncate(mark);
                }
                Node::Template(name, p, pos) => {
                    let d = match p {
                        Some(p) => self.pipe(f, p, dot)?,
                        None => V::Nil,
                    };
                    let name = name.clone();
                    self.exec_template(&name, &d, out, Some((f, *pos)))?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, f: &mut Frame, p: &parse::Pipe, dot: &V) -> Result<V, Error> {
        let mut last: Option<V> = None;
        for c in &p.cmds {
            self.tick()?;
            last = Some(self.cmd(f, c, dot, last)?);
        }
        let v = last.unwrap_or(V::Nil);
        for name in &p.decl {
            if p.assign {
                if let Some(slot) = f.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                }
            } else {
                f.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn var(&self, f: &Frame, name: &str, pos: usize) -> Result<V, Error> {
        f.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| f.err(pos, &format!("undefined variable: {name}")))
    }

    /// Follows `fields` from `v`; the last field gets `args` (a method call on an object).
    #[allow(clippy::too_many_arguments)]
    fn fields(
        &self,
        f: &Frame,
        mut v: V,
        fields: &[String],
        args: Option<Vec<V>>,
        pos: usize,
        shown: &str,
        lenient: bool,
    ) -> Result<V, Error> {
        // a pipeline's or variable's nil is Go's invalid value: its fields are zero, no error
        if lenient && matches!(v, V::Nil) && args.as_ref().is_none_or(Vec::is_empty) {
            return Ok(V::Nil);
        }
        let n = fields.len();
        let mut args = args;
        for (i, name) in fields.iter().enumerate() {
            let last = i + 1 == n;
            v = match &v {
                V::Map(m) => {
                    if last && args.as_ref().is_some_and(|a| !a.is_empty()) {
                        return Err(f.exec_err(
                            pos,
                            shown,
                            &format!("can't give argument to non-function {shown}"),
                        ));
                    }
                    let got = m.borrow().get(name).cloned();
                    got.unwrap_or(V::Nil)
                }
                V::Obj(o) => {
                    let a = if last {
                        args.take().unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    match o.call(name, &a) {
                        Some(Ok(x)) => x,
                        Some(Err(e)) => {
                            return Err(f.exec_err(
                                pos,
                                shown,
                                &format!("error calling {name}: {e}"),
                            ));
                        }
                        None => {
                            return Err(f.exec_err(
                                pos,
                                shown,
                                &format!("can't evaluate field {name} in type {}", o.type_name()),
                            ));
                        }
                    }
                }
                V::Nil => {
                    return Err(f.exec_err(
                        pos,
                        shown,
                        &format!("nil pointer evaluating interface {{}}.{name}"),
                    ));
                }
                other => {
                    return Err(f.exec_err(
                        pos,
                        shown,
                        &format!("can't evaluate field {name} in type {}", other.type_name()),
                    ));
                }
            };
        }
        if args.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(f.exec_err(
                pos,
                shown,
                &format!("can't give argument to non-function {shown}"),
            ));
        }
        Ok(v)
    }

    fn arg(&mut self, f: &mut Frame, a: &parse::Arg, dot: &V, pos: usize) -> Result<V, Error> {
        use parse::Arg;
        match a {
            Arg::Dot => Ok(dot.clone()),
            Arg::Field(fs) => {
                self.fields(f, dot.clone(), fs, None, pos, &shown_fields("", fs), false)
            }
            Arg::Var(name, fs) => {
                let base = self.var(f, name, pos)?;
                self.fields(f, base, fs, None, pos, &shown_fields(name, fs), true)
            }
            Arg::Func(name) => self.call(f, name, &[], dot, None, pos),
            Arg::Str(s) => Ok(V::str(s.as_str())),
            Arg::Int(i) => Ok(V::Int(*i)),
            Arg::Float(x) => Ok(V::Float(*x)),
            Arg::Bool(b) => Ok(V::Bool(*b)),
            Arg::Nil => Ok(V::Nil),
            Arg::Sub(p, fs) => {
                let v = self.pipe(f, p, dot)?;
                if fs.is_empty() {
                    Ok(v)
                } else {
                    self.fields(f, v, fs, None, pos, &shown_fields("", fs), true)
                }
            }
        }
    }

    fn cmd(
        &mut self,
        f: &mut Frame,
        c: &parse::Cmd,
        dot: &V,
        piped: Option<V>,
    ) -> Result<V, Error> {
        use parse::Arg;
        match &c.args[0] {
            Arg::Func(name) => self.call(f, name, &c.args[1..], dot, piped, c.pos),
            Arg::Field(fs) | Arg::Var(_, fs)
                if !fs.is_empty() && (c.args.len() > 1 || piped.is_some()) =>
            {
                // a method call: `.Files.Get "x"`, `.Capabilities.APIVersions.Has "x"`
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.arg(f, a, dot, c.pos)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                let (base, shown, lenient) = match &c.args[0] {
                    Arg::Var(name, _) => (self.var(f, name, c.pos)?, shown_fields(name, fs), true),
                    _ => (dot.clone(), shown_fields("", fs), false),
                };
                self.fields(f, base, fs, Some(args), c.pos, &shown, lenient)
            }
            first => {
                if c.args.len() > 1 || piped.is_some() {
                    return Err(f.err(c.pos, "can't give argument to non-function"));
                }
                self.arg(f, first, dot, c.pos)
            }
        }
    }

    fn call(
        &mut self,
        f: &mut Frame,
        name: &str,
        raw: &[parse::Arg],
        dot: &V,
        piped: Option<V>,
        pos: usize,
    ) -> Result<V, Error> {
        // and/or evaluate their arguments only as far as needed (Go 1.18)
        if name == "and" || name == "or" {
            let mut last = V::Nil;
            let n = raw.len() + usize::from(piped.is_some());
            if n == 0 {
                return Err(f.exec_err(
                    pos,
                    name,
                    &format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            for a in raw {
                last = self.arg(f, a, dot, pos)?;
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
            args.push(self.arg(f, a, dot, pos)?);
        }
        if let Some(p) = piped {
            args.push(p);
        }
        // a literal `nil` passed to a Sprig dict function's map parameter is a nil map
        // (text/template evalArg: `reflect.Zero`), which reads as an empty one
        for (i, r) in raw.iter().enumerate() {
            if matches!(r, parse::Arg::Nil) && funcs::map_param(name, i) {
                match name {
                    "set" => {
                        return Err(f.exec_err(
                            pos,
                            name,
                            "error calling set: assignment to entry in nil map",
                        ));
                    }
                    "unset" if args.len() == 2 && matches!(args[1], V::Str(_)) => {
                        return Ok(V::Nil);
                    }
                    _ => args[i] = V::map(BTreeMap::new()),
                }
            }
        }
        match name {
            "include" => {
                let (tname, d) = match args.as_slice() {
                    [n, d] => (n.to_str(), d.clone()),
                    _ => {
                        return Err(f.exec_err(
                            pos,
                            name,
                            "wrong number of args for include: want 2",
                        ));
                    }
                };
                let mut out = String::new();
                self.exec_template(&tname, &d, &mut out, Some((f, pos))).map_err(|e| {
                    match e {
                        Error::Exec(m) if m.starts_with("no template") => f.exec_err(
                            pos,
                            name,
                            &format!("error calling include: template: no template \"{tname}\" associated with template \"gotpl\""),
                        ),
                        other => other,
                    }
                })?;
                Ok(V::str(out))
            }
            "tpl" => {
                let (text, d) = match args.as_slice() {
                    [t, d] => (t.to_str(), d.clone()),
                    _ => return Err(f.exec_err(pos, name, "wrong number of args for tpl: want 2")),
                };
                // Helm names the parsed text after the calling template's `.Template.Name`
                let tname = match &d {
                    V::Map(m) => m
                        .borrow()
                        .get("Template")
                        .and_then(|t| match t {
                            V::Map(t) => t.borrow().get("Name").map(V::to_str),
                            _ => None,
                        })
                        .unwrap_or_else(|| "gotpl".to_owned()),
                    _ => "gotpl".to_owned(),
                };
                let (tree, defines) = parse::parse(&tname, &text).map_err(|e| match e {
                    Error::Parse(m) => f.exec_err(
                        pos,
                        name,
                        &format!(
                            "error calling tpl: cannot parse template {text:?}: template: {m}"
                        ),
                    ),
                    other => other,
                })?;
                let mark = self.extra.len();
                for (n, t) in defines {
                    self.extra.push((n, Rc::new(t)));
                }
                let key = format!("\u{0}tpl{}", self.depth);
                self.extra.push((key.clone(), Rc::new(tree)));
                let mut out = String::new();
                let r = self.exec_template(&key, &d, &mut out, Some((f, pos)));
                self.extra.truncate(mark);
                r.map_err(|e| match e {
                    Error::Exec(m) => {
                        Error::Exec(format!("{}: error calling tpl: {m}", f.at(pos, name)))
                    }
                    other => other,
                })?;
                Ok(V::str(out.replace("<no value>", "")))
            }
            "required" => match args.as_slice() {
                [msg, v] => match v {
                    V::Nil => Err(f.fail(pos, &msg.to_str())),
                    V::Str(s) if s.is_empty() => Err(f.fail(pos, &msg.to_str())),
                    other => Ok(other.clone()),
                },
                _ => Err(f.exec_err(pos, name, "wrong number of args for required: want 2")),
            },
            "fail" => Err(f.fail(pos, &args.first().map(V::to_str).unwrap_or_default())),
            _ => {
                let r = funcs::call(name, args, self.budget);
                match r {
                    Ok(v) => Ok(v),
                    Err(funcs::FnError::Msg(m)) => {
                        Err(f.exec_err(pos, name, &format!("error calling {name}: {m}")))
                    }
                    Err(funcs::FnError::Go(m)) => Err(f.exec_err(pos, name, &m)),
                    Err(funcs::FnError::Unsupported) => Err(f.exec_err(
                        pos,
                        name,
                        &format!("function \"{name}\" is not supported by sluice"),
                    )),
                    Err(funcs::FnError::Limit(m)) => {
                        Err(Error::Limit(format!("{}: {m}", f.at(pos, name))))
                    }
                }
            }
        }
    }
}

fn shown_fields(base: &str, fs: &[String]) -> String {
    let mut s = base.to_owned();
    for x in fs {
        s.push('.');
        s.push_str(x);
    }
    s
}

/// What an action prints for a value (`fmt.Fprint`).
fn printable(v: &V) -> String {
    v.display()
}

impl Frame {
    fn location(&self, pos: usize) -> String {
        // Go's ErrorContext: 1-based line, 0-based byte column
        let (l, c) = parse::line_col(&self.tree.src, pos);
        format!("{}:{l}:{}", self.tree.file, c - 1)
    }

    fn at(&self, pos: usize, what: &str) -> String {
        format!(
            "template: {}: executing \"{}\" at <{what}>",
            self.location(pos),
            self.tree.name
        )
    }

    /// Helm's message for `fail` and `required` (`cleanupExecError`).
    fn fail(&self, pos: usize, msg: &str) -> Error {
        Error::Fail(format!(
            "execution error at ({}): {msg}",
            self.location(pos)
        ))
    }

    fn err(&self, pos: usize, msg: &str) -> Error {
        Error::Exec(format!("{}: {msg}", self.location(pos)))
    }

    fn exec_err(&self, pos: usize, what: &str, msg: &str) -> Error {
        Error::Exec(format!(
            "{}: executing \"{}\" at <{what}>: {msg}",
            self.location(pos),
            self.tree.name
        ))
    }
}

/// Whether `name` is a function Helm's templates may call (Go's builtins, Sprig v3 without
/// `env`/`expandenv`, Helm's own).
pub fn is_function(name: &str) -> bool {
    funcs::is_known(name)
}

#[cfg(test)]
mod tests;
