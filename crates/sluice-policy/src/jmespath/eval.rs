//! The JMESPath interpreter.

use std::borrow::Cow;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::budget::{Budget, charge_value};
use super::{Arith, Ast, Cmp, JmesError, functions};

/// The variables an expression sees at its root: a base document (e.g. `{request: ...}`) and
/// named values layered over it (context entries, `element`, `elementIndex`); and the
/// [`Budget`] every evaluation in this scope draws on.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    base: &'a Value,
    vars: Vec<(String, Value)>,
    budget: Rc<Budget>,
}

impl<'a> Scope<'a> {
    /// A scope with a fresh default budget.
    pub fn new(base: &'a Value) -> Self {
        Scope::with_budget(base, Rc::new(super::rule_budget()))
    }

    /// A scope drawing on `budget` (shared with the scopes it was cloned into).
    pub fn with_budget(base: &'a Value, budget: Rc<Budget>) -> Self {
        Scope {
            base,
            vars: Vec::new(),
            budget,
        }
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The budget, to share with another scope (a context entry evaluated over a value).
    pub fn shared_budget(&self) -> Rc<Budget> {
        Rc::clone(&self.budget)
    }

    /// Sets a top-level variable (shadows the base and earlier variables).
    pub fn set(&mut self, name: &str, value: Value) {
        self.vars.push((name.to_owned(), value));
    }

    /// Sets a dotted path (`request.operation`, `dictionary.data.roles`) as Kyverno's CLI
    /// does for values files: the top-level variable is copied and the path set inside it.
    pub fn set_path(&mut self, path: &str, value: Value) {
        let segs = split_path(path);
        let Some((first, rest)) = segs.split_first() else {
            return;
        };
        let first = first.as_str();
        if rest.is_empty() {
            self.set(first, value);
            return;
        }
        let mut top = self.lookup(first).cloned().unwrap_or(Value::Null);
        let mut cur = &mut top;
        for p in rest {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let Value::Object(m) = cur else {
                return;
            };
            cur = m.entry(p.clone()).or_insert(Value::Null);
        }
        *cur = value;
        self.set(first, top);
    }

    /// Number of layered variables (to restore a checkpoint with [`Scope::truncate`]).
    pub fn depth(&self) -> usize {
        self.vars.len()
    }

    pub fn truncate(&mut self, depth: usize) {
        self.vars.truncate(depth);
    }

    pub fn lookup(&self, name: &str) -> Option<&Value> {
        if let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return Some(v);
        }
        self.base.get(name)
    }

    /// The root as one object (a copy, counted against the budget).
    pub fn root_value(&self) -> Result<Value, JmesError> {
        charge_value(&self.budget, self.base)?;
        for (_, v) in &self.vars {
            charge_value(&self.budget, v)?;
        }
        let mut m = match self.base {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        for (k, v) in &self.vars {
            m.insert(k.clone(), v.clone());
        }
        Ok(Value::Object(m))
    }
}

/// Splits a dotted path, keeping `"quoted.segments"` whole.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            other => cur.push(other),
        }
    }
    out.push(cur);
    out
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Number(_) => true,
    }
}

/// Deep equality with numbers compared by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Evaluates `ast` at the root of `scope`; the result is owned, counted against the budget
/// and no deeper than [`super::MAX_VALUE_DEPTH`].
pub fn eval_root(ast: &Ast, scope: &Scope<'_>) -> Result<Value, JmesError> {
    let v = ev(ast, None, scope)?;
    charge_value(&scope.budget, &v)?;
    Ok(v.into_owned())
}

fn null<'s>() -> Cow<'s, Value> {
    Cow::Owned(Value::Null)
}

/// An owned value: a borrowed one is copied, and the copy counted.
pub fn own(v: Cow<'_, Value>, sc: &Scope<'_>) -> Result<Value, JmesError> {
    match v {
        Cow::Borrowed(b) => {
            charge_value(&sc.budget, b)?;
            Ok(b.clone())
        }
        Cow::Owned(o) => Ok(o),
    }
}

/// Evaluates `ast` with `cur` as the current node (`None`: the scope root). Recursion
/// follows the syntax tree, whose depth the parser bounds; each node is a budget step.
///
/// `ev` only dispatches and each node kind has its own function: a level of nesting then
/// costs one small frame (a debug build gives every temporary of a function its own slot,
/// and one function for all kinds took 19 KB a level).
pub fn ev<'s>(
    ast: &Ast,
    cur: Option<&'s Value>,
    sc: &'s Scope<'_>,
) -> Result<Cow<'s, Value>, JmesError> {
    sc.budget.step()?;
    match ast {
        Ast::Current => current(cur, sc),
        Ast::Root => Ok(Cow::Owned(sc.root_value()?)),
        Ast::Field(name) => Ok(field(name, cur, sc)),
        Ast::Index(i) => ev_index(*i, cur, sc),
        Ast::Slice(a, b, c) => ev_slice((*a, *b, *c), cur, sc),
        Ast::Sub(l, r) => ev_sub(l, r, cur, sc),
        Ast::Pipe(l, r) => ev_pipe(l, r, cur, sc),
        Ast::Projection(l, r) => ev_projection(l, r, cur, sc),
        Ast::ObjectProjection(l, r) => ev_object_projection(l, r, cur, sc),
        Ast::Flatten(x) => ev_flatten(x, cur, sc),
        Ast::Filter(l, cond, r) => ev_filter(l, cond, r, cur, sc),
        Ast::Or(l, r) => ev_or_and(l, r, true, cur, sc),
        Ast::And(l, r) => ev_or_and(l, r, false, cur, sc),
        Ast::Not(x) => Ok(Cow::Owned(Value::Bool(!truthy(&*ev(x, cur, sc)?)))),
        Ast::Cmp(op, l, r) => ev_cmp(*op, l, r, cur, sc),
        Ast::Arith(op, l, r) => ev_arith(*op, l, r, cur, sc),
        Ast::Neg(x) => ev_neg(x, cur, sc),
        Ast::Literal(v) => {
            charge_value(&sc.budget, v)?;
            Ok(Cow::Owned(v.clone()))
        }
        Ast::MultiList(items) => ev_multi_list(items, cur, sc),
        Ast::MultiHash(pairs) => ev_multi_hash(pairs, cur, sc),
        Ast::Function(name, args) => ev_function(name, args, cur, sc),
        Ast::ExpRef(_) => Ok(null()),
    }
}

type Ev<'s> = Result<Cow<'s, Value>, JmesError>;

fn field<'s>(name: &str, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Cow<'s, Value> {
    match cur {
        None => sc.lookup(name).map_or_else(null, Cow::Borrowed),
        Some(Value::Object(m)) => m.get(name).map_or_else(null, Cow::Borrowed),
        Some(_) => null(),
    }
}

fn ev_index<'s>(i: i64, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    Ok(match current(cur, sc)? {
        Cow::Borrowed(Value::Array(a)) => index(a, i).map_or_else(null, Cow::Borrowed),
        Cow::Owned(Value::Array(a)) => Cow::Owned(take_index(a, i)),
        _ => null(),
    })
}

type SliceSpec = (Option<i64>, Option<i64>, Option<i64>);

fn ev_slice<'s>((a, b, c): SliceSpec, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    Ok(match &*current(cur, sc)? {
        Value::Array(arr) => {
            let out = Value::Array(slice(arr, a, b, c));
            charge_value(&sc.budget, &out)?;
            Cow::Owned(out)
        }
        _ => null(),
    })
}

/// `r` evaluated on `lv`: borrowed results stay borrowed; on an owned `lv` the result is
/// owned (copied, and counted, when it borrows from `lv`).
fn then<'s>(lv: Cow<'s, Value>, r: &Ast, sc: &'s Scope<'_>) -> Ev<'s> {
    match lv {
        Cow::Borrowed(v) => ev(r, Some(v), sc),
        Cow::Owned(v) => Ok(Cow::Owned(own(ev(r, Some(&v), sc)?, sc)?)),
    }
}

fn ev_sub<'s>(l: &Ast, r: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    if lv.is_null() {
        return Ok(null());
    }
    then(lv, r, sc)
}

fn ev_pipe<'s>(l: &Ast, r: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    then(lv, r, sc)
}

/// `r` on each of `items`, nulls dropped.
fn project<'a, 's>(
    items: impl Iterator<Item = &'a Value>,
    r: &Ast,
    sc: &'s Scope<'_>,
) -> Result<Vec<Value>, JmesError> {
    let mut out = Vec::new();
    for it in items {
        let v = ev(r, Some(it), sc)?;
        if !v.is_null() {
            out.push(own(v, sc)?);
        }
    }
    Ok(out)
}

fn ev_projection<'s>(l: &Ast, r: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    let Value::Array(items) = &*lv else {
        return Ok(null());
    };
    Ok(Cow::Owned(Value::Array(project(items.iter(), r, sc)?)))
}

fn ev_object_projection<'s>(l: &Ast, r: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    let Value::Object(m) = &*lv else {
        return Ok(null());
    };
    Ok(Cow::Owned(Value::Array(project(m.values(), r, sc)?)))
}

fn ev_flatten<'s>(x: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let v = ev(x, cur, sc)?;
    let Value::Array(items) = &*v else {
        return Ok(null());
    };
    sc.budget.steps(items.len() as u64)?;
    let mut out = Vec::new();
    for it in items {
        match it {
            Value::Array(inner) => {
                for x in inner {
                    charge_value(&sc.budget, x)?;
                    out.push(x.clone());
                }
            }
            other => {
                charge_value(&sc.budget, other)?;
                out.push(other.clone());
            }
        }
    }
    Ok(Cow::Owned(Value::Array(out)))
}

fn ev_filter<'s>(
    l: &Ast,
    cond: &Ast,
    r: &Ast,
    cur: Option<&'s Value>,
    sc: &'s Scope<'_>,
) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    let Value::Array(items) = &*lv else {
        return Ok(null());
    };
    let mut out = Vec::new();
    for it in items {
        if truthy(&*ev(cond, Some(it), sc)?) {
            let v = ev(r, Some(it), sc)?;
            if !v.is_null() {
                out.push(own(v, sc)?);
            }
        }
    }
    Ok(Cow::Owned(Value::Array(out)))
}

fn ev_or_and<'s>(l: &Ast, r: &Ast, or: bool, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    if truthy(&lv) == or {
        Ok(lv)
    } else {
        ev(r, cur, sc)
    }
}

fn ev_cmp<'s>(op: Cmp, l: &Ast, r: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    let rv = ev(r, cur, sc)?;
    Ok(Cow::Owned(compare(op, &lv, &rv)))
}

fn ev_arith<'s>(op: Arith, l: &Ast, r: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let lv = ev(l, cur, sc)?;
    let rv = ev(r, cur, sc)?;
    Ok(Cow::Owned(arith(op, &lv, &rv)?))
}

fn ev_neg<'s>(x: &Ast, cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    match ev(x, cur, sc)?.as_f64() {
        Some(f) => Ok(Cow::Owned(functions::num(-f))),
        None => Err(JmesError::Runtime(
            "invalid type for unary minus: expected number".to_owned(),
        )),
    }
}

fn ev_multi_list<'s>(items: &[Ast], cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    if cur.is_some_and(Value::is_null) {
        return Ok(null());
    }
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        out.push(own(ev(it, cur, sc)?, sc)?);
    }
    Ok(Cow::Owned(Value::Array(out)))
}

fn ev_multi_hash<'s>(pairs: &[(String, Ast)], cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    if cur.is_some_and(Value::is_null) {
        return Ok(null());
    }
    let mut out = Map::new();
    for (k, it) in pairs {
        out.insert(k.clone(), own(ev(it, cur, sc)?, sc)?);
    }
    Ok(Cow::Owned(Value::Object(out)))
}

fn ev_function<'s>(name: &str, args: &[Ast], cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Ev<'s> {
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Ast::ExpRef(e) => vals.push(functions::Arg::Expr(e)),
            other => vals.push(functions::Arg::Val(own(ev(other, cur, sc)?, sc)?)),
        }
    }
    Ok(Cow::Owned(functions::call(name, vals, sc)?))
}

fn current<'s>(cur: Option<&'s Value>, sc: &'s Scope<'_>) -> Result<Cow<'s, Value>, JmesError> {
    Ok(match cur {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(sc.root_value()?),
    })
}

/// Element `i` (negative from the end) of an owned array, without copying it.
fn take_index(a: Vec<Value>, i: i64) -> Value {
    let len = a.len() as i64;
    let i = if i < 0 { len + i } else { i };
    if i < 0 || i >= len {
        return Value::Null;
    }
    a.into_iter().nth(i as usize).unwrap_or(Value::Null)
}

fn index(a: &[Value], i: i64) -> Option<&Value> {
    let len = a.len() as i64;
    let i = if i < 0 { len + i } else { i };
    if i < 0 || i >= len {
        None
    } else {
        a.get(i as usize)
    }
}

fn slice(a: &[Value], start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> Vec<Value> {
    let len = a.len() as i64;
    let step = step.unwrap_or(1);
    let adjust =
        |v: i64, lo: i64, hi: i64| -> i64 { if v < 0 { (v + len).max(lo) } else { v.min(hi) } };
    let mut out = Vec::new();
    if step > 0 {
        let s = start.map_or(0, |v| adjust(v, 0, len));
        let e = stop.map_or(len, |v| adjust(v, 0, len));
        let mut i = s;
        while i < e {
            out.push(a[i as usize].clone());
            let Some(n) = i.checked_add(step) else { break };
            i = n;
        }
    } else {
        let s = start.map_or(len - 1, |v| adjust(v, -1, len - 1));
        let e = stop.map_or(-1, |v| adjust(v, -1, len - 1));
        let mut i = s;
        while i > e {
            if i >= 0 && i < len {
                out.push(a[i as usize].clone());
            }
            let Some(n) = i.checked_add(step) else { break };
            i = n;
        }
    }
    out
}

fn compare(op: Cmp, l: &Value, r: &Value) -> Value {
    match op {
        Cmp::Eq => Value::Bool(json_eq(l, r)),
        Cmp::Ne => Value::Bool(!json_eq(l, r)),
        _ => {
            let ord = match (l, r) {
                (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            let Some(o) = ord else {
                return Value::Null;
            };
            Value::Bool(match op {
                Cmp::Lt => o.is_lt(),
                Cmp::Le => o.is_le(),
                Cmp::Gt => o.is_gt(),
                Cmp::Ge => o.is_ge(),
                Cmp::Eq | Cmp::Ne => false,
            })
        }
    }
}

fn arith(op: Arith, l: &Value, r: &Value) -> Result<Value, JmesError> {
    let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
        return Err(JmesError::Runtime(
            "invalid type for arithmetic: expected numbers".to_owned(),
        ));
    };
    let v = match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div | Arith::IntDiv | Arith::Mod if b == 0.0 => {
            return Err(JmesError::Runtime("Division by zero".to_owned()));
        }
        Arith::Div => a / b,
        Arith::IntDiv => (a / b).floor(),
        Arith::Mod => a % b,
    };
    Ok(functions::num(v))
}

/// For a plain path (`a.b[0].c`), the first map key it names that is missing; `None` when the
/// path resolves (to null too) or the expression is not a plain path.
///
/// With `final_may_miss`, a path whose last key is absent from an existing map is not
/// reported (it is null); only a key missing before the end is.
pub fn missing_key(ast: &Ast, sc: &Scope<'_>, final_may_miss: bool) -> Option<String> {
    fn walk<'s>(ast: &Ast, sc: &'s Scope<'_>) -> Result<Option<&'s Value>, String> {
        match ast {
            Ast::Field(n) => sc.lookup(n).map(Some).ok_or_else(|| n.clone()),
            Ast::Sub(l, r) => {
                let Some(v) = walk(l, sc)? else {
                    return Ok(None);
                };
                match (&**r, v) {
                    (Ast::Field(n), Value::Object(m)) => {
                        m.get(n).map(Some).ok_or_else(|| n.clone())
                    }
                    (Ast::Index(i), Value::Array(a)) => Ok(index(a, *i)),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }
    match (ast, final_may_miss) {
        // `a.b.c` with `c` absent from the map `a.b`: null, not an error
        (Ast::Sub(l, r), true) if matches!(**r, Ast::Field(_)) => walk(l, sc).err(),
        (Ast::Field(_) | Ast::Sub(..), _) => walk(ast, sc).err(),
        _ => None,
    }
}
