//! The evaluation budget of one rule evaluation: steps, bytes of values built, time, and the
//! depth of values. Over any of them evaluation stops with [`JmesError::Limit`], which the
//! engine reports as the rule's `error` (failing closed under Enforce); nothing aborts.

use std::cell::Cell;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::JmesError;

/// Interpreter steps (one per syntax-tree node evaluated, plus the elements a function
/// walks) in one rule evaluation. Real rules take hundreds to a few thousand; a million is
/// well under a second.
pub const MAX_EVAL_STEPS: u64 = 1_000_000;

/// Bytes of values built (copies, function results, interpolated strings) in one rule
/// evaluation, estimated from the values' shapes. Kubernetes objects are at most 3 MiB
/// (the API server's request limit), so this holds a score of copies of the largest.
pub const MAX_EVAL_BYTES: u64 = 64 * 1024 * 1024;

/// Wall-clock time of one rule evaluation: a backstop for work the step count does not see
/// (comparing or matching large values). Kyverno's webhook times out after 10 s.
pub const MAX_EVAL_TIME: Duration = Duration::from_secs(2);

/// Nesting of a value an expression returns or a context entry holds. Loaded documents nest
/// at most 128 levels (`sluice_core::Limits`, serde_json's recursion limit); expressions
/// add at most `MAX_NESTING`.
pub const MAX_VALUE_DEPTH: usize = 256;

/// How often (in steps) the clock is read.
const CLOCK_EVERY: u64 = 64;

/// Limits of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    pub max_steps: u64,
    pub max_bytes: u64,
    /// `None`: no deadline (deterministic tests).
    pub max_time: Option<Duration>,
}

impl Default for EvalLimits {
    fn default() -> Self {
        EvalLimits {
            max_steps: MAX_EVAL_STEPS,
            max_bytes: MAX_EVAL_BYTES,
            max_time: Some(MAX_EVAL_TIME),
        }
    }
}

/// What one rule evaluation has used of its [`EvalLimits`]. Once exceeded it stays
/// exceeded: every later step fails with the same message.
#[derive(Debug)]
pub struct Budget {
    limits: EvalLimits,
    deadline: Option<Instant>,
    steps: Cell<u64>,
    bytes: Cell<u64>,
    exceeded: Cell<Option<&'static str>>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(EvalLimits::default())
    }
}

impl Budget {
    /// A budget whose clock starts now.
    pub fn new(limits: EvalLimits) -> Self {
        Budget {
            limits,
            deadline: limits.max_time.map(|t| Instant::now() + t),
            steps: Cell::new(0),
            bytes: Cell::new(0),
            exceeded: Cell::new(None),
        }
    }

    pub fn limits(&self) -> EvalLimits {
        self.limits
    }

    /// Steps and bytes used so far.
    pub fn used(&self) -> (u64, u64) {
        (self.steps.get(), self.bytes.get())
    }

    /// The error of an exceeded budget, if it was exceeded.
    pub fn exceeded(&self) -> Option<JmesError> {
        self.exceeded.get().map(|what| self.error(what))
    }

    fn error(&self, what: &'static str) -> JmesError {
        let l = self.limits;
        JmesError::Limit(match what {
            "steps" => format!(
                "expression evaluation exceeded its budget of {} steps",
                l.max_steps
            ),
            "bytes" => format!(
                "expression evaluation exceeded its budget of {} of values built",
                human_bytes(l.max_bytes)
            ),
            _ => format!(
                "expression evaluation exceeded its time budget of {} ms",
                l.max_time.unwrap_or_default().as_millis()
            ),
        })
    }

    fn fail(&self, what: &'static str) -> JmesError {
        if self.exceeded.get().is_none() {
            self.exceeded.set(Some(what));
        }
        self.exceeded().unwrap_or_else(|| self.error(what))
    }

    /// Counts one step.
    pub fn step(&self) -> Result<(), JmesError> {
        self.steps(1)
    }

    /// Counts `n` steps (a function walking `n` elements).
    pub fn steps(&self, n: u64) -> Result<(), JmesError> {
        if let Some(what) = self.exceeded.get() {
            return Err(self.error(what));
        }
        let before = self.steps.get();
        let now = before.saturating_add(n);
        self.steps.set(now);
        if now > self.limits.max_steps {
            return Err(self.fail("steps"));
        }
        if let Some(d) = self.deadline
            && (now / CLOCK_EVERY != before / CLOCK_EVERY || n >= CLOCK_EVERY)
            && Instant::now() > d
        {
            return Err(self.fail("time"));
        }
        Ok(())
    }

    /// Counts `n` bytes about to be built.
    pub fn charge(&self, n: u64) -> Result<(), JmesError> {
        if let Some(what) = self.exceeded.get() {
            return Err(self.error(what));
        }
        let now = self.bytes.get().saturating_add(n);
        self.bytes.set(now);
        if now > self.limits.max_bytes {
            return Err(self.fail("bytes"));
        }
        Ok(())
    }

    /// Counts a copy of `v` (its estimated size) and checks its depth. The walk stops as soon
    /// as the remaining budget is used up, so it costs no more than the copy it pays for.
    pub fn charge_value(&self, v: &Value) -> Result<(), JmesError> {
        let remaining = self.limits.max_bytes.saturating_sub(self.bytes.get());
        match measure(v, remaining) {
            Measure::Fits(n) => self.charge(n),
            Measure::TooBig => self.charge(remaining.saturating_add(1)),
            Measure::TooDeep => Err(too_deep()),
        }
    }
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

fn too_deep() -> JmesError {
    JmesError::Limit(format!("value nests deeper than {MAX_VALUE_DEPTH} levels"))
}

enum Measure {
    Fits(u64),
    TooBig,
    TooDeep,
}

/// Estimated bytes of a value: a `Value` per node, string bytes, and per map entry its key
/// and the map's bookkeeping.
const ENTRY_OVERHEAD: u64 = 32;

fn measure(v: &Value, limit: u64) -> Measure {
    let node = std::mem::size_of::<Value>() as u64;
    let mut total = 0u64;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_VALUE_DEPTH {
            return Measure::TooDeep;
        }
        total += node;
        match v {
            Value::String(s) => total += s.len() as u64,
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => {
                for (k, x) in m {
                    total += k.len() as u64 + ENTRY_OVERHEAD;
                    stack.push((x, depth + 1));
                }
            }
            _ => {}
        }
        if total > limit {
            return Measure::TooBig;
        }
    }
    Measure::Fits(total)
}

/// Refuses a value nested deeper than [`MAX_VALUE_DEPTH`] (iteratively: any depth is safe
/// to check).
pub fn check_value_depth(v: &Value) -> Result<(), JmesError> {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_VALUE_DEPTH {
            return Err(too_deep());
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_bytes_and_depth() {
        let b = Budget::new(EvalLimits {
            max_steps: 10,
            max_bytes: 1000,
            max_time: None,
        });
        assert!(b.steps(10).is_ok());
        let e = b.step().expect_err("over");
        assert!(e.to_string().contains("budget of 10 steps"), "{e}");
        // sticky
        assert!(b.charge(1).is_err());
        assert_eq!(b.exceeded(), Some(e));

        let b = Budget::new(EvalLimits {
            max_steps: 10,
            max_bytes: 1000,
            max_time: None,
        });
        assert!(b.charge_value(&json!({"a": "x"})).is_ok());
        let big = json!("x".repeat(2000));
        assert!(
            matches!(b.charge_value(&big), Err(JmesError::Limit(m)) if m.contains("1000 bytes of values built"))
        );

        let mut deep = json!(1);
        for _ in 0..MAX_VALUE_DEPTH {
            deep = json!([deep]);
        }
        assert!(check_value_depth(&deep).is_err());
        assert!(matches!(
            Budget::default().charge_value(&deep),
            Err(JmesError::Limit(m)) if m.contains("nests deeper")
        ));
        let ok = deep[0].clone();
        assert!(check_value_depth(&ok).is_ok());
        // the deep value's drop recursion is fine at this depth
    }

    #[test]
    fn deadline() {
        let b = Budget::new(EvalLimits {
            max_steps: u64::MAX,
            max_bytes: u64::MAX,
            max_time: Some(Duration::ZERO),
        });
        std::thread::sleep(Duration::from_millis(2));
        assert!(b.steps(CLOCK_EVERY).is_err());
    }
}
