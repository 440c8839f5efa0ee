//! Background work that must not take the server down: a panic in a controller loop, the
//! simulated node or the policy reporter is caught, logged, and the work restarts after a
//! backoff (1 s doubling to 60 s; back to 1 s once a run lasted a minute), as
//! controller-runtime and client-go's `wait.Backoff` loops keep a controller alive.
//! (A stack overflow is an abort, not a panic: depth limits in the parsers prevent it.)

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::limits::panic_text;

/// Stack of supervised threads: deep enough that nested input stays within the parsers'
/// own depth limits rather than the thread's stack (an overflow aborts the process).
pub const THREAD_STACK: usize = 64 * 1024 * 1024;

/// The backoff between restarts of panicking work.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// A run that lasted this long resets the delay to `initial`.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    fn next(&self, cur: Duration, ran: Duration) -> Duration {
        if ran >= self.reset_after {
            self.initial
        } else {
            (cur * 2).min(self.max)
        }
    }
}

/// Runs `work` on a named thread until it returns; a panic is logged and `work` runs again
/// after the backoff. Returns the thread's handle.
pub fn thread<F>(
    name: &str,
    backoff: Backoff,
    work: F,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: Fn() + Send + Sync + 'static,
{
    let label = name.to_owned();
    let work = Arc::new(work);
    std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let mut delay = backoff.initial;
            loop {
                let started = Instant::now();
                let w = work.clone();
                match catch_unwind(AssertUnwindSafe(|| w())) {
                    Ok(()) => return,
                    Err(p) => {
                        delay = backoff.next(delay, started.elapsed());
                        crate::log_warning(format!(
                            "{label} panicked: {}; restarting in {delay:?}",
                            panic_text(p.as_ref())
                        ));
                        std::thread::sleep(delay);
                    }
                }
            }
        })
}

/// Runs the future `make()` returns as a tokio task until it completes; a panic is logged
/// and a new one runs after the backoff.
pub fn task<F, Fut>(name: &str, backoff: Backoff, make: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let label = name.to_owned();
    tokio::spawn(async move {
        let mut delay = backoff.initial;
        loop {
            let started = Instant::now();
            match tokio::spawn(make()).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    delay = backoff.next(delay, started.elapsed());
                    let text = panic_text(e.into_panic().as_ref());
                    crate::log_warning(format!(
                        "{label} panicked: {text}; restarting in {delay:?}"
                    ));
                    tokio::time::sleep(delay).await;
                }
                Err(_) => return,
            }
        }
    })
}

/// Runs `f` and turns a panic into Err with its text: one bad item of a loop (one event, one
/// object) is skipped, not the loop.
pub fn isolate<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_text(p.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn quick() -> Backoff {
        Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
            reset_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_to_the_max_and_resets_after_a_long_run() {
        let b = Backoff::default();
        assert_eq!(
            b.next(Duration::from_secs(1), Duration::ZERO),
            Duration::from_secs(2)
        );
        assert_eq!(
            b.next(Duration::from_secs(40), Duration::ZERO),
            Duration::from_secs(60)
        );
        assert_eq!(
            b.next(Duration::from_secs(60), Duration::from_secs(61)),
            Duration::from_secs(1)
        );
    }

    #[test]
    #[allow(clippy::panic)]
    fn a_panicking_thread_restarts_until_it_returns() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let h = thread("flaky", quick(), move || {
            if r.fetch_add(1, Ordering::SeqCst) < 3 {
                panic!("injected");
            }
        })
        .expect("spawns");
        h.join().expect("the supervisor itself never panics");
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    #[allow(clippy::panic)]
    async fn a_panicking_task_restarts_until_it_returns() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let h = task("flaky-task", quick(), move || {
            let r = r.clone();
            async move {
                if r.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("injected");
                }
            }
        });
        h.await.expect("the supervisor itself never panics");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[test]
    #[allow(clippy::panic)]
    fn isolate_turns_a_panic_into_its_text() {
        assert_eq!(isolate(|| 3), Ok(3));
        assert_eq!(
            isolate(|| -> u8 { panic!("bad item") }),
            Err("bad item".into())
        );
    }
}
