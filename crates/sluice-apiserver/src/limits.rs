//! Request limits: heavy work runs off the async runtime, in a bounded pool, under a
//! per-request deadline.
//!
//! kube-apiserver gives every non-long-running request a deadline (`--request-timeout`,
//! default 60 s, lowered by a `?timeout=` query parameter: k8s.io/apiserver
//! pkg/endpoints/filters/request_deadline.go) and answers a request that misses it with
//! `errors.NewTimeoutError("request did not complete within requested timeout - context
//! deadline exceeded", 0)`: a 504 `Timeout` Status (endpoints/handlers/finisher/finisher.go).
//! Sluice does the same. Writes, lists and deletes run on tokio's blocking threads, at most
//! [`Pool::permits`] at once, so a 2,000-task Pipeline's validation never occupies the async
//! workers that serve everyone else.
//!
//! Upstream may still store an object after answering 504 (the storage call goes on in its
//! goroutine). Sluice does not: admission passes a [`Gate`] before anything is written, and a
//! request whose deadline passed first is refused at that gate, so a 504 means "not stored".
//!
//! With `Options::inline_writes` (off by default), cheap writes (a small body of a built-in
//! kind while no admission hook is installed) skip the pool and run on the async worker that
//! received them ([`Pool::run_inline`]); their gate carries the deadline itself. Measured on
//! the shared 2-core machine, that was slower than the pool (docs/benchmarks.md).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::status::ApiError;

/// upstream's `--request-timeout` default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The 504 of a request that missed its deadline (apimachinery `NewTimeoutError(msg, 0)`).
pub fn timeout_error() -> ApiError {
    let mut e = ApiError::new(
        504,
        "Timeout",
        "Timeout: request did not complete within requested timeout - context deadline exceeded",
    );
    e.details = Some(json!({}));
    e
}

/// The 500 of a request whose handling panicked (upstream's `WithPanicRecovery` text, as a
/// Status).
pub fn panic_error() -> ApiError {
    ApiError::internal("This request caused apiserver to panic. Look in the logs for details.")
}

/// The text of a panic payload.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    Pending,
    Committing,
    Cancelled,
}

/// Decides, once, whether a request writes (its handler reached the store first) or times
/// out (its deadline passed first).
#[derive(Debug)]
pub struct Gate {
    state: Mutex<GateState>,
    /// Inline work (nobody waits to cancel it): the gate itself refuses once this passed.
    deadline: Option<Instant>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::new(GateState::Pending),
            deadline: None,
        }
    }
}

impl Gate {
    /// Called by the handler right before it stores: Err when the request already timed out.
    pub fn commit(&self) -> Result<(), ApiError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *s == GateState::Pending && self.deadline.is_some_and(|d| Instant::now() >= d) {
            *s = GateState::Cancelled;
        }
        match *s {
            GateState::Cancelled => Err(timeout_error()),
            _ => {
                *s = GateState::Committing;
                Ok(())
            }
        }
    }

    /// Called when the deadline passes: true when the handler had not committed (it never
    /// will), false when it is writing (the caller then waits for it).
    fn cancel(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *s {
            GateState::Committing => false,
            _ => {
                *s = GateState::Cancelled;
                true
            }
        }
    }
}

/// The bounded pool heavy request work runs in.
#[derive(Debug)]
pub struct Pool {
    sem: Arc<Semaphore>,
    permits: usize,
    /// The longest a request may take (`?timeout=` may only lower it).
    pub request_timeout: Duration,
}

impl Pool {
    pub fn new(permits: usize, request_timeout: Duration) -> Self {
        let permits = permits.max(1);
        Pool {
            sem: Arc::new(Semaphore::new(permits)),
            permits,
            request_timeout,
        }
    }

    /// How many requests' work may run at once.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// The deadline of a request that started at `start` with `?timeout=` `param`, as
    /// upstream's `WithRequestDeadline`: a malformed value is a 400, zero or one above the
    /// maximum means the maximum.
    pub fn deadline(&self, start: Instant, param: Option<&str>) -> Result<Instant, ApiError> {
        let mut t = self.request_timeout;
        if let Some(p) = param.filter(|p| !p.is_empty()) {
            let d = parse_go_duration(p).map_err(|e| {
                ApiError::bad_request(format!(
                    "invalid timeout specified in the request URL - {e}"
                ))
            })?;
            if d > Duration::ZERO && d < t {
                t = d;
            }
        }
        Ok(start + t)
    }

    /// Runs `f` on a blocking thread once a permit is free, until `deadline`. `f` gets the
    /// request's [`Gate`]; a write must pass it (`WriteOpts::gate`) before storing. A panic
    /// in `f` is a 500; a missed deadline a 504 (and then nothing was stored).
    ///
    /// Waiting for the permit and running `f` happen in a task of their own, not in the
    /// caller's future: a semaphore hands a released permit to the first waiter, so a
    /// waiter that its caller stops polling without dropping it (an in-process client's
    /// request inside a `select!` whose other branch won) would hold the permit, and with
    /// it every other request, until its deadline. Dropping the caller's future aborts the
    /// task while it waits; work already running on a blocking thread finishes.
    pub async fn run<T, F>(&self, deadline: Instant, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Gate>) -> Result<T, ApiError> + Send + 'static,
    {
        let gate = Arc::new(Gate::default());
        let sem = self.sem.clone();
        let g = gate.clone();
        let work = async move {
            let permit = sem
                .acquire_owned()
                .await
                .map_err(|_| ApiError::internal("the request pool is closed"))?;
            let handle = tokio::task::spawn_blocking(move || {
                // the permit is held until the work really ends, timed out or not: at most
                // `permits` requests' work ever runs at once
                let _permit = permit;
                catch_unwind(AssertUnwindSafe(|| f(g)))
            });
            match handle.await {
                Ok(Ok(r)) => r,
                Ok(Err(p)) => {
                    crate::log_warning(format!(
                        "a request's handler panicked: {}",
                        panic_text(p.as_ref())
                    ));
                    Err(panic_error())
                }
                Err(_) => Err(panic_error()),
            }
        };
        let mut task = AbortOnDrop(tokio::spawn(work));
        let joined = |r: Result<Result<T, ApiError>, tokio::task::JoinError>| {
            r.unwrap_or_else(|_| Err(panic_error()))
        };
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), &mut task.0).await {
            Ok(r) => joined(r),
            Err(_) => {
                if gate.cancel() {
                    Err(timeout_error())
                } else {
                    // the handler is storing: its result stands
                    joined((&mut task.0).await)
                }
            }
        }
    }
}

/// Aborts a task when its owner goes away (a request whose client left).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Pool {
    /// Runs cheap work on the calling async worker, without the hand-off to a blocking thread
    /// and the permit: the caller decides what is cheap (a small write of a built-in kind with
    /// no admission hook — bounded work; at most one per async worker runs at once). The
    /// deadline holds as in [`Pool::run`]: past it the work is not started, and its gate
    /// refuses to store once the deadline passed (a 504 that stored nothing). A panic is a 500.
    pub fn run_inline<T, F>(&self, deadline: Instant, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(Arc<Gate>) -> Result<T, ApiError>,
    {
        if Instant::now() >= deadline {
            return Err(timeout_error());
        }
        let gate = Arc::new(Gate {
            state: Mutex::new(GateState::Pending),
            deadline: Some(deadline),
        });
        match catch_unwind(AssertUnwindSafe(|| f(gate))) {
            Ok(r) => r,
            Err(p) => {
                crate::log_warning(format!(
                    "a request's handler panicked: {}",
                    panic_text(p.as_ref())
                ));
                Err(panic_error())
            }
        }
    }
}

/// Go's `time.ParseDuration` for the values clients send (`30s`, `1m30s`, `1.5h`, `500ms`).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let quoted = format!("{s:?}");
    let invalid = || format!("time: invalid duration {quoted}");
    let mut rest = s;
    let negative = if let Some(r) = rest.strip_prefix('-') {
        rest = r;
        true
    } else {
        rest = rest.strip_prefix('+').unwrap_or(rest);
        false
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "" => return Err(format!("time: missing unit in duration {quoted}")),
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!("time: unknown unit {other:?} in duration {quoted}"));
            }
        };
        total += value * scale;
    }
    if !total.is_finite() || total > 9.2e9 {
        return Err(invalid());
    }
    if negative {
        // a negative timeout is no timeout of the user's: the server's maximum applies
        return Ok(Duration::ZERO);
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_go_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse_go_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
    }

    #[test]
    fn deadline_is_the_smaller_of_the_parameter_and_the_maximum() {
        let p = Pool::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(p.deadline(t0, None), Ok(t0 + Duration::from_secs(60)));
        assert_eq!(p.deadline(t0, Some("5s")), Ok(t0 + Duration::from_secs(5)));
        assert_eq!(p.deadline(t0, Some("0s")), Ok(t0 + Duration::from_secs(60)));
        assert_eq!(p.deadline(t0, Some("2h")), Ok(t0 + Duration::from_secs(60)));
        let e = p.deadline(t0, Some("soon")).expect_err("400");
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "invalid timeout specified in the request URL - time: invalid duration \"soon\""
        );
    }

    #[test]
    fn a_gate_is_decided_once() {
        let g = Gate::default();
        assert!(g.commit().is_ok());
        assert!(!g.cancel(), "a committing request finishes");
        let g = Gate::default();
        assert!(g.cancel());
        assert_eq!(g.commit().map_err(|e| e.code), Err(504));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_work_times_out_and_never_commits_and_panics_are_500() {
        let pool = Pool::new(1, Duration::from_millis(100));
        let committed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let c = committed.clone();
        let t0 = Instant::now();
        let r = pool
            .run(t0 + Duration::from_millis(100), move |gate| {
                std::thread::sleep(Duration::from_millis(400));
                gate.commit()?;
                c.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert_eq!(r.map_err(|e| (e.code, e.reason)), Err((504, "Timeout")));
        assert!(
            t0.elapsed() < Duration::from_millis(350),
            "answered at the deadline"
        );
        // the slow work still holds the only permit: the next request waits for it, and
        // the first one never stores
        let r = pool
            .run(Instant::now() + Duration::from_secs(5), |_| Ok(7))
            .await;
        assert_eq!(r, Ok(7));
        assert!(!committed.load(std::sync::atomic::Ordering::SeqCst));
        #[allow(clippy::panic)]
        let r: Result<(), ApiError> = pool
            .run(Instant::now() + Duration::from_secs(5), |_| panic!("boom"))
            .await;
        assert_eq!(r.map_err(|e| e.code), Err(500));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_its_caller_stops_polling_holds_no_permit() {
        // sluice serve's controllers call the server in process: a request future left
        // unpolled inside a `select!` must not keep the pool's permit from everyone else
        let pool = Arc::new(Pool::new(1, Duration::from_secs(60)));
        let p = pool.clone();
        let busy = tokio::spawn(async move {
            p.run(Instant::now() + Duration::from_secs(5), |_| {
                std::thread::sleep(Duration::from_millis(200));
                Ok(1)
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut parked = Box::pin(pool.run(Instant::now() + Duration::from_secs(30), |_| Ok(2)));
        // polled once (queued for the permit), then left alone without being dropped
        assert!(
            tokio::time::timeout(Duration::from_millis(10), &mut parked)
                .await
                .is_err()
        );
        assert_eq!(busy.await.ok(), Some(Ok(1)));
        let t0 = Instant::now();
        let r = pool
            .run(Instant::now() + Duration::from_secs(5), |_| Ok(3))
            .await;
        assert_eq!(r, Ok(3));
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        assert_eq!(parked.await, Ok(2), "the parked request still completes");
    }

    #[test]
    fn inline_work_keeps_the_deadline_and_isolates_panics() {
        let pool = Pool::new(1, Duration::from_secs(60));
        assert_eq!(
            pool.run_inline(Instant::now() + Duration::from_secs(5), |g| {
                g.commit()?;
                Ok(3)
            }),
            Ok(3)
        );
        // past the deadline: not started
        let r: Result<(), ApiError> = pool.run_inline(Instant::now(), |_| Ok(()));
        assert_eq!(r.map_err(|e| e.code), Err(504));
        // the deadline passes while it runs: the gate refuses to store
        let r = pool.run_inline(Instant::now() + Duration::from_millis(20), |g| {
            std::thread::sleep(Duration::from_millis(40));
            g.commit()
        });
        assert_eq!(r.map_err(|e| e.code), Err(504));
        #[allow(clippy::panic)]
        let r: Result<(), ApiError> =
            pool.run_inline(Instant::now() + Duration::from_secs(5), |_| panic!("boom"));
        assert_eq!(r.map_err(|e| e.code), Err(500));
    }

    proptest! {
        // Whatever a client sends as `timeout`, parsing ends with a duration or a message.
        #[test]
        fn any_timeout_parameter_parses_or_is_refused(s in "\\PC{0,12}") {
            let _ = parse_go_duration(&s);
        }
    }
}
