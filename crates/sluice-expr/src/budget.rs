//! The evaluation budget every expression engine draws on: steps, bytes of values built and
//! wall-clock time. Over any of them evaluation stops with [`Exceeded`], and stays stopped
//! (every later step fails the same way), so a caller sees one clear error instead of an
//! abort, an exhausted memory or a hang. Each engine sets its own [`Limits`]: JMESPath per
//! Kyverno rule evaluation (sluice-policy), Go templates per rendering ([`crate::appset`]).
//!
//! Steps bound the work that builds little; bytes the memory (values are counted before
//! they are copied, so an allocation never runs ahead of its budget by more than one
//! value); the deadline is a backstop for work neither sees (comparing large values).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How often (in steps) the clock is read.
const CLOCK_EVERY: u64 = 64;

/// Limits of one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_steps: u64,
    pub max_bytes: u64,
    /// `None`: no deadline (deterministic tests).
    pub max_time: Option<Duration>,
}

/// A budget was exceeded; the message says which and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Exceeded(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Steps,
    Bytes,
    Time,
}

/// What an evaluation has used of its [`Limits`].
#[derive(Debug)]
pub struct Budget {
    /// What runs on the budget, for messages ("expression evaluation").
    subject: &'static str,
    limits: Limits,
    deadline: Option<Instant>,
    steps: Cell<u64>,
    bytes: Cell<u64>,
    exceeded: Cell<Option<What>>,
}

impl Budget {
    /// A budget whose clock starts now.
    pub fn new(subject: &'static str, limits: Limits) -> Self {
        Budget {
            subject,
            limits,
            deadline: limits.max_time.map(|t| Instant::now() + t),
            steps: Cell::new(0),
            bytes: Cell::new(0),
            exceeded: Cell::new(None),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Steps and bytes used so far.
    pub fn used(&self) -> (u64, u64) {
        (self.steps.get(), self.bytes.get())
    }

    /// Bytes left.
    pub fn bytes_left(&self) -> u64 {
        self.limits.max_bytes.saturating_sub(self.bytes.get())
    }

    /// The error of an exceeded budget, if it was exceeded.
    pub fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded.get().map(|w| self.error(w))
    }

    fn error(&self, what: What) -> Exceeded {
        let l = self.limits;
        let s = self.subject;
        Exceeded(match what {
            What::Steps => format!("{s} exceeded its budget of {} steps", l.max_steps),
            What::Bytes => format!(
                "{s} exceeded its budget of {} of values built",
                human_bytes(l.max_bytes)
            ),
            What::Time => format!(
                "{s} exceeded its time budget of {} ms",
                l.max_time.unwrap_or_default().as_millis()
            ),
        })
    }

    fn fail(&self, what: What) -> Exceeded {
        let first = self.exceeded.get().unwrap_or(what);
        self.exceeded.set(Some(first));
        self.error(first)
    }

    /// Counts one step.
    pub fn step(&self) -> Result<(), Exceeded> {
        self.steps(1)
    }

    /// Counts `n` steps (a function walking `n` elements).
    pub fn steps(&self, n: u64) -> Result<(), Exceeded> {
        if let Some(w) = self.exceeded.get() {
            return Err(self.error(w));
        }
        let before = self.steps.get();
        let now = before.saturating_add(n);
        self.steps.set(now);
        if now > self.limits.max_steps {
            return Err(self.fail(What::Steps));
        }
        if let Some(d) = self.deadline
            && (now / CLOCK_EVERY != before / CLOCK_EVERY || n >= CLOCK_EVERY)
            && Instant::now() > d
        {
            return Err(self.fail(What::Time));
        }
        Ok(())
    }

    /// Counts `n` bytes about to be built.
    pub fn charge(&self, n: u64) -> Result<(), Exceeded> {
        if let Some(w) = self.exceeded.get() {
            return Err(self.error(w));
        }
        let now = self.bytes.get().saturating_add(n);
        self.bytes.set(now);
        if now > self.limits.max_bytes {
            return Err(self.fail(What::Bytes));
        }
        Ok(())
    }
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_bytes_time_and_stickiness() {
        let limits = Limits {
            max_steps: 10,
            max_bytes: 1000,
            max_time: None,
        };
        let b = Budget::new("test", limits);
        assert!(b.steps(10).is_ok());
        let e = b.step().expect_err("over");
        assert_eq!(e.0, "test exceeded its budget of 10 steps");
        // sticky, and the first cause is kept
        assert_eq!(b.charge(5000), Err(e.clone()));
        assert_eq!(b.exceeded(), Some(e));

        let b = Budget::new("test", limits);
        assert!(b.charge(1000).is_ok());
        assert_eq!(
            b.charge(1).map_err(|e| e.0),
            Err("test exceeded its budget of 1000 bytes of values built".to_owned())
        );

        let b = Budget::new(
            "test",
            Limits {
                max_steps: u64::MAX,
                max_bytes: u64::MAX,
                max_time: Some(Duration::ZERO),
            },
        );
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            b.steps(CLOCK_EVERY)
                .is_err_and(|e| e.0.contains("time budget"))
        );
    }
}
