//! Tekton `$(...)` variables (tektoncd/pipeline `pkg/substitution/substitution.go`).
//!
//! A reference is `$(` + an expression without `$`, `(` or `)` + `)`. Shell command
//! substitution (`$(cat file)`) has the same shape; only expressions with a Tekton root
//! (`params`, `tasks`, `results`, `context`, `workspaces`, `steps`, `step`, `credentials`,
//! `finally`) are Tekton's, and [`Var::Other`] marks the rest. In `$(cat $(results.r.path))`
//! only the inner reference is a candidate, as with Tekton's regular expressions.

use std::borrow::Cow;
use std::ops::Range;

use crate::budget::{Budget, Exceeded, Limits};

/// Bytes one substitution pass (the strings of one object: a Task spec, a PipelineTask) may
/// build: references copy parameter values, so `$(params.big)` written many times would
/// multiply a large value. Tekton has no limit of its own, but what it builds must fit a
/// TaskRun or Pod, which the API server takes up to 3 MiB a request; this is five times
/// that.
pub const MAX_SUBSTITUTION_BYTES: u64 = 16 * 1024 * 1024;

/// References one substitution pass may replace.
pub const MAX_SUBSTITUTION_REFERENCES: u64 = 1_000_000;

/// The limits of one substitution pass (no deadline: the work is linear in what is built).
pub const SUBSTITUTION_LIMITS: Limits = Limits {
    max_steps: MAX_SUBSTITUTION_REFERENCES,
    max_bytes: MAX_SUBSTITUTION_BYTES,
    max_time: None,
};

/// A budget for one substitution pass.
pub fn substitution_budget() -> Budget {
    Budget::new("substitution", SUBSTITUTION_LIMITS)
}

/// One `$(...)` occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Byte range of the whole `$(...)` in the input.
    pub span: Range<usize>,
    /// The text between the parentheses.
    pub expr: &'a str,
}

impl<'a> Reference<'a> {
    pub fn var(&self) -> Var<'a> {
        parse_var(self.expr)
    }
}

/// Every `$(...)` occurrence in `s` whose expression contains no `$`, `(` or `)`.
pub fn references(s: &str) -> Vec<Reference<'_>> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'(' {
            let start = i + 2;
            let mut j = start;
            while j < bytes.len() && !matches!(bytes[j], b'$' | b'(' | b')') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b')' {
                out.push(Reference {
                    span: i..j + 1,
                    expr: &s[start..j],
                });
                i = j + 1;
                continue;
            }
            i = start;
            continue;
        }
        i += 1;
    }
    out
}

/// How a value is accessed after its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access<'a> {
    /// `$(params.x)`: the whole value (must be a string where a string is expected).
    Whole,
    /// `$(params.x[*])`: every element of an array, or a whole object.
    Star,
    /// `$(params.x[2])`.
    Index(usize),
    /// `$(params.x.key)`: a key of an object.
    Key(&'a str),
}

/// A classified Tekton variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var<'a> {
    /// `params.NAME`, `params["NAME"]`, `params['NAME']` with an access.
    Param {
        name: Cow<'a, str>,
        access: Access<'a>,
    },
    /// `tasks.TASK.results.RESULT` with an access.
    TaskResult {
        task: &'a str,
        result: &'a str,
        access: Access<'a>,
    },
    /// `tasks.TASK.status` (finally only).
    TaskStatus { task: &'a str },
    /// `tasks.TASK.reason` (finally only).
    TaskReason { task: &'a str },
    /// `tasks.status` (finally only).
    TasksStatus,
    /// `tasks.TASK.matrix.length` / `tasks.TASK.matrix.RESULT.length`.
    MatrixLength {
        task: &'a str,
        result: Option<&'a str>,
    },
    /// `results.NAME.path` (a Task's own result file), also `results.NAME` alone.
    ResultPath { name: &'a str },
    /// `step.results.NAME.path` (StepAction results).
    StepResultPath { name: &'a str },
    /// `steps.STEP.exitCode.path`.
    StepExitCodePath { step: &'a str },
    /// `steps.STEP.results.NAME` with an access.
    StepResult {
        step: &'a str,
        result: &'a str,
        access: Access<'a>,
    },
    /// `workspaces.NAME.ATTR` (path, bound, claim, volume).
    Workspace { name: &'a str, attr: &'a str },
    /// `context.…` (pipelineRun.name, taskRun.uid, task.retry-count...).
    Context { path: &'a str },
    /// `credentials.path`.
    CredentialsPath,
    /// Anything with a Tekton root that is malformed, e.g. `params.` or `tasks.x`.
    Malformed { root: &'a str },
    /// Not a Tekton variable (shell `$(cmd)`, or an unknown root).
    Other,
}

const ROOTS: &[&str] = &[
    "params",
    "tasks",
    "results",
    "context",
    "workspaces",
    "steps",
    "step",
    "credentials",
    "finally",
];

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Parses `[*]`, `[N]`, `.key` or nothing; `None` when malformed.
fn parse_access(rest: &str) -> Option<Access<'_>> {
    if rest.is_empty() {
        return Some(Access::Whole);
    }
    if rest == "[*]" {
        return Some(Access::Star);
    }
    if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse().ok().map(Access::Index);
    }
    if let Some(key) = rest.strip_prefix('.')
        && !key.is_empty()
        && key.chars().all(|c| is_name_char(c) || c == '.')
    {
        return Some(Access::Key(key));
    }
    None
}

/// Splits a leading name (`[A-Za-z0-9_-]+`) off `s`.
fn split_name(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Classifies the expression inside `$(...)`.
pub fn parse_var(expr: &str) -> Var<'_> {
    let root_end = expr.find(['.', '[']).unwrap_or(expr.len());
    let root = &expr[..root_end];
    if !ROOTS.contains(&root) {
        return Var::Other;
    }
    let rest = &expr[root_end..];
    let malformed = Var::Malformed { root };
    match root {
        "params" => {
            let (name, after): (Cow<'_, str>, &str) = if let Some(r) = rest.strip_prefix('.') {
                let (n, a) = split_name(r);
                (Cow::Borrowed(n), a)
            } else if let Some(r) = rest.strip_prefix("[\"").or_else(|| rest.strip_prefix("['")) {
                let quote = if rest.starts_with("[\"") { "\"]" } else { "']" };
                match r.find(quote) {
                    Some(end) => (Cow::Borrowed(&r[..end]), &r[end + 2..]),
                    None => return malformed,
                }
            } else {
                return malformed;
            };
            if name.is_empty() {
                return malformed;
            }
            match parse_access(after) {
                Some(access) => Var::Param { name, access },
                None => malformed,
            }
        }
        "tasks" => {
            let Some(r) = rest.strip_prefix('.') else {
                return malformed;
            };
            if r == "status" {
                return Var::TasksStatus;
            }
            let (task, after) = split_name(r);
            if task.is_empty() {
                return malformed;
            }
            match after {
                ".status" => return Var::TaskStatus { task },
                ".reason" => return Var::TaskReason { task },
                ".matrix.length" => return Var::MatrixLength { task, result: None },
                _ => {}
            }
            if let Some(m) = after.strip_prefix(".matrix.")
                && let Some(result) = m.strip_suffix(".length")
            {
                return Var::MatrixLength {
                    task,
                    result: Some(result),
                };
            }
            let Some(r) = after.strip_prefix(".results.") else {
                return malformed;
            };
            let (result, after) = split_name(r);
            match (result.is_empty(), parse_access(after)) {
                (false, Some(access)) => Var::TaskResult {
                    task,
                    result,
                    access,
                },
                _ => malformed,
            }
        }
        "results" => {
            let Some(r) = rest.strip_prefix('.') else {
                return malformed;
            };
            let (name, after) = split_name(r);
            if name.is_empty() || !(after == ".path" || after.is_empty()) {
                return malformed;
            }
            Var::ResultPath { name }
        }
        "step" => match rest.strip_prefix(".results.").map(split_name) {
            Some((name, ".path")) if !name.is_empty() => Var::StepResultPath { name },
            _ => malformed,
        },
        "steps" => {
            let Some(r) = rest.strip_prefix('.') else {
                return malformed;
            };
            let (step, after) = split_name(r);
            if step.is_empty() {
                return malformed;
            }
            if after == ".exitCode.path" {
                return Var::StepExitCodePath { step };
            }
            let Some(r) = after.strip_prefix(".results.") else {
                return malformed;
            };
            let (result, after) = split_name(r);
            match (result.is_empty(), parse_access(after)) {
                (false, Some(access)) => Var::StepResult {
                    step,
                    result,
                    access,
                },
                _ => malformed,
            }
        }
        "workspaces" => {
            let Some(r) = rest.strip_prefix('.') else {
                return malformed;
            };
            let (name, after) = split_name(r);
            match after.strip_prefix('.') {
                Some(attr) if !name.is_empty() && !attr.is_empty() => Var::Workspace { name, attr },
                _ => malformed,
            }
        }
        "context" => match rest.strip_prefix('.') {
            Some(path) if !path.is_empty() => Var::Context { path },
            _ => malformed,
        },
        "credentials" if rest == ".path" => Var::CredentialsPath,
        _ => malformed,
    }
}

/// Replaces every Tekton reference for which `lookup` returns a value, in one pass: the
/// replacement text is never scanned again, so a value that itself contains `$(...)` is
/// left as it is (tektoncd/pipeline `substitution.ApplyReplacements`). Within a fresh
/// [`substitution_budget`].
pub fn substitute<'s>(
    s: &'s str,
    lookup: impl FnMut(&str) -> Option<Cow<'s, str>>,
) -> Result<Cow<'s, str>, Exceeded> {
    substitute_in(s, lookup, &substitution_budget())
}

/// [`substitute`] within `budget`: every value inserted counts, before it is copied.
pub fn substitute_in<'s>(
    s: &'s str,
    mut lookup: impl FnMut(&str) -> Option<Cow<'s, str>>,
    budget: &Budget,
) -> Result<Cow<'s, str>, Exceeded> {
    let refs = references(s);
    if refs.is_empty() {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::new();
    let mut last = 0;
    let mut changed = false;
    for r in refs {
        if let Some(v) = lookup(r.expr) {
            if !changed {
                budget.charge(s.len() as u64)?;
                out.reserve(s.len());
            }
            budget.step()?;
            budget.charge(v.len() as u64)?;
            out.push_str(&s[last..r.span.start]);
            out.push_str(&v);
            last = r.span.end;
            changed = true;
        }
    }
    if !changed {
        return Ok(Cow::Borrowed(s));
    }
    out.push_str(&s[last..]);
    Ok(Cow::Owned(out))
}

/// When `s` is exactly one `$(...)` reference (an array or object expanded whole, as in an
/// `args` element `$(params.flags[*])`), its expression.
pub fn whole_reference(s: &str) -> Option<&str> {
    let refs = references(s);
    match refs.as_slice() {
        [r] if r.span == (0..s.len()) => Some(r.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_references_not_shell() {
        let s = "DIGEST=$(cat $(results.IMAGE_DIGEST.path)) && echo $(params.image)@x $(";
        let exprs: Vec<&str> = references(s).iter().map(|r| r.expr).collect();
        assert_eq!(exprs, ["results.IMAGE_DIGEST.path", "params.image"]);
    }

    #[test]
    fn classifies() {
        assert_eq!(
            parse_var("params.build-args[*]"),
            Var::Param {
                name: "build-args".into(),
                access: Access::Star
            }
        );
        assert_eq!(
            parse_var("params[\"a.b\"]"),
            Var::Param {
                name: "a.b".into(),
                access: Access::Whole
            }
        );
        assert_eq!(
            parse_var("params['a.b'][1]"),
            Var::Param {
                name: "a.b".into(),
                access: Access::Index(1)
            }
        );
        assert_eq!(
            parse_var("params.obj.key"),
            Var::Param {
                name: "obj".into(),
                access: Access::Key("key")
            }
        );
        assert_eq!(
            parse_var("tasks.build.results.IMAGE_DIGEST"),
            Var::TaskResult {
                task: "build",
                result: "IMAGE_DIGEST",
                access: Access::Whole
            }
        );
        assert_eq!(parse_var("tasks.status"), Var::TasksStatus);
        assert_eq!(
            parse_var("tasks.clone.status"),
            Var::TaskStatus { task: "clone" }
        );
        assert_eq!(
            parse_var("results.commit.path"),
            Var::ResultPath { name: "commit" }
        );
        assert_eq!(
            parse_var("steps.step-a.exitCode.path"),
            Var::StepExitCodePath { step: "step-a" }
        );
        assert_eq!(
            parse_var("workspaces.output.path"),
            Var::Workspace {
                name: "output",
                attr: "path"
            }
        );
        assert_eq!(
            parse_var("context.pipelineRun.name"),
            Var::Context {
                path: "pipelineRun.name"
            }
        );
        assert_eq!(parse_var("cat file"), Var::Other);
        assert_eq!(parse_var("params."), Var::Malformed { root: "params" });
        assert_eq!(parse_var("tasks.x"), Var::Malformed { root: "tasks" });
    }

    #[test]
    fn substitution_is_single_pass() {
        let out = substitute("a=$(params.a) b=$(params.b) c=$(cmd)", |e| match e {
            "params.a" => Some("$(params.b)".into()),
            "params.b" => Some("B".into()),
            _ => None,
        });
        assert_eq!(out.as_deref(), Ok("a=$(params.b) b=B c=$(cmd)"));
        assert_eq!(whole_reference("$(params.x[*])"), Some("params.x[*]"));
        assert_eq!(whole_reference("-$(params.x[*])"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            for r in references(&s) {
                let _ = r.var();
                prop_assert!(s[r.span.clone()].starts_with("$("));
            }
            let _ = substitute(&s, |_| Some("x".into()));
        }

        #[test]
        fn tekton_like_inputs_never_panic(s in "(\\$\\(|params|tasks|\\.|\\[|\\]|\\*|'|\"|[a-z0-9]|\\)){0,40}") {
            for r in references(&s) {
                let _ = r.var();
            }
        }

        // A value referenced many times cannot multiply past the budget: the output is
        // within MAX_SUBSTITUTION_BYTES or the substitution stops, before building more.
        #[test]
        fn substitution_is_bounded(refs in 0usize..20_000, len in 0usize..4096) {
            let s = "$(params.a) ".repeat(refs);
            let v = "v".repeat(len);
            let b = substitution_budget();
            match substitute_in(&s, |_| Some(Cow::Borrowed(v.as_str())), &b) {
                Ok(out) => prop_assert!(out.len() as u64 <= MAX_SUBSTITUTION_BYTES),
                Err(e) => {
                    prop_assert!(e.0.contains("16 MiB"), "{}", e);
                    prop_assert!((refs * len) as u64 + s.len() as u64 > MAX_SUBSTITUTION_BYTES);
                }
            }
        }

        #[test]
        fn identity_substitution_round_trips(s in "\\PC*") {
            let out = substitute(&s, |e| Some(Cow::Owned(format!("$({e})"))));
            prop_assert_eq!(out.as_deref(), Ok(s.as_str()));
        }
    }
}
