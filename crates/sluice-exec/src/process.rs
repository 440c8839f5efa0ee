//! One step or sidecar as a process group, its output captured line by line.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use sluice_pipeline::CancelToken;

use crate::{LogSink, Masker, contain};

const TAIL: usize = 20;

/// How a process ended; each with the last lines of its output.
#[derive(Debug)]
pub enum Exit {
    Code(i32, Vec<String>),
    TimedOut(Vec<String>),
    Cancelled(Vec<String>),
}

pub struct StepProcess {
    pgid: i32,
    waiter: mpsc::Receiver<std::io::Result<std::process::ExitStatus>>,
    reader: Option<mpsc::Receiver<Vec<String>>>,
    _child_thread: JoinHandle<()>,
}

/// How long the output of an ended step may still be read: past it (a process that
/// escaped containment holds the pipe), the tail is taken as it is.
const DRAIN: Duration = Duration::from_secs(2);

/// What starts one step or sidecar process: its command line, environment, directory, log
/// file (none when the sink keeps the logs), log prefix (`task/step`), masker and sink.
pub struct StepCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub log: Option<PathBuf>,
    pub prefix: String,
    pub masker: Masker,
    pub sink: Arc<dyn LogSink>,
}

impl StepProcess {
    /// Starts the command in a process group of its own, from a thread of its own that
    /// waits for it and then kills what it left (`contain::ended`).
    pub fn spawn(c: StepCommand) -> std::io::Result<StepProcess> {
        let prepared = c.prepare()?;
        let (tx_pid, rx_pid) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        let (tx_tail, rx_tail) = mpsc::channel();
        let child_thread = std::thread::Builder::new()
            .name("step".into())
            .spawn(move || {
                let Running {
                    child,
                    r,
                    token,
                    pgid,
                    mut out,
                } = match prepared.start() {
                    Ok(run) => run,
                    Err(e) => {
                        let _ = tx_pid.send(Err(e));
                        return;
                    }
                };
                let _ = tx_pid.send(Ok(pgid));
                let waited = |st| {
                    // nothing the step started outlives it
                    contain::ended(&token, pgid);
                    let _ = tx.send(st);
                };
                pump(child, &r, &mut out, waited, || {});
                let _ = tx_tail.send(out.finish());
            })?;
        let pgid = rx_pid
            .recv()
            .map_err(|_| std::io::Error::other("the step's thread ended"))??;
        Ok(StepProcess {
            pgid,
            waiter: rx,
            reader: Some(rx_tail),
            _child_thread: child_thread,
        })
    }

    /// Runs the command to its end on the calling thread, as [`StepProcess::spawn`] and
    /// [`StepProcess::wait`] do on a thread of its own: a step of a TaskRun needs no thread
    /// beside the TaskRun's (with hundreds of TaskRuns at once each thread cost an allocator
    /// heap and a stack). On the main thread (whose children list `contain` reads for
    /// orphans) it takes the thread.
    pub fn run(
        c: StepCommand,
        deadline: Option<Instant>,
        cancel: &CancelToken,
    ) -> std::io::Result<Exit> {
        if nix::unistd::gettid() == nix::unistd::getpid() {
            return Ok(StepProcess::spawn(c)?.wait(deadline, cancel));
        }
        let Running {
            child,
            r,
            token,
            pgid,
            mut out,
        } = c.prepare()?.start()?;
        cancel.prepared();
        let mut status = None;
        // why the group was killed before it ended: (timed out, cancelled)
        let mut stopped: Option<bool> = None;
        let kill = || {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        };
        pump(
            child,
            &r,
            &mut out,
            |st| {
                // nothing the step started outlives it
                contain::ended(&token, pgid);
                status = Some(st);
            },
            || {
                if stopped.is_some() {
                    return;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    stopped = Some(true);
                    kill();
                } else if cancel.cancelled().is_some() {
                    stopped = Some(false);
                    kill();
                }
            },
        );
        kill();
        let tail = out.finish();
        Ok(match (stopped, status) {
            (Some(true), _) => Exit::TimedOut(tail),
            (Some(false), _) => Exit::Cancelled(tail),
            (None, Some(Ok(s))) => {
                use std::os::unix::process::ExitStatusExt;
                Exit::Code(
                    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                    tail,
                )
            }
            (None, _) => Exit::Code(1, tail),
        })
    }

    fn kill_group(&self) {
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
    }

    fn tail(&mut self) -> Vec<String> {
        self.reader
            .take()
            .and_then(|r| r.recv_timeout(DRAIN).ok())
            .unwrap_or_default()
    }

    /// Waits until the process exits, `deadline` passes or `cancel` fires; the whole
    /// process group is killed in every case.
    pub fn wait(mut self, deadline: Option<Instant>, cancel: &CancelToken) -> Exit {
        cancel.prepared();
        loop {
            let mut wait = Duration::from_millis(50);
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.kill_group();
                    let _ = self.waiter.recv();
                    return Exit::TimedOut(self.tail());
                }
                wait = wait.min(left);
            }
            match self.waiter.recv_timeout(wait) {
                Ok(st) => {
                    // nothing the step started outlives it
                    self.kill_group();
                    let code = match st {
                        Ok(s) => {
                            use std::os::unix::process::ExitStatusExt;
                            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
                        }
                        Err(_) => 1,
                    };
                    return Exit::Code(code, self.tail());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if cancel.cancelled().is_some() {
                        self.kill_group();
                        let _ = self.waiter.recv();
                        return Exit::Cancelled(self.tail());
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.kill_group();
                    return Exit::Code(1, self.tail());
                }
            }
        }
    }

    /// Stops a sidecar: its process group is killed.
    pub fn kill(mut self) {
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGTERM);
        if self
            .waiter
            .recv_timeout(Duration::from_millis(500))
            .is_err()
        {
            self.kill_group();
            let _ = self.waiter.recv();
        }
        self.kill_group();
        let _ = self.tail();
    }
}

/// A step's command, the read end of its output, its containment token and where its
/// output goes: made on the calling thread, started by the thread that reaps it.
struct Prepared {
    cmd: Command,
    r: std::io::PipeReader,
    token: String,
    out: Output,
}

/// A started step: the process, the read end of its output, its token and group, its output.
struct Running {
    child: Child,
    r: std::io::PipeReader,
    token: String,
    pgid: i32,
    out: Output,
}

impl StepCommand {
    fn prepare(self) -> std::io::Result<Prepared> {
        use std::os::unix::process::CommandExt;
        contain::init();
        let file = self.log.as_deref().map(File::create).transpose()?;
        let Some((program, args)) = self.argv.split_first() else {
            return Err(std::io::Error::other("no command to run"));
        };
        let (r, w) = std::io::pipe()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(w.try_clone()?)
            .stderr(w)
            .process_group(0);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let token = contain::ticket();
        cmd.env(contain::STEP_ID_ENV, &token);
        Ok(Prepared {
            cmd,
            r,
            token,
            out: Output {
                file,
                tail: VecDeque::new(),
                partial: Vec::new(),
                masker: self.masker,
                sink: self.sink,
                prefix: self.prefix,
            },
        })
    }
}

impl Prepared {
    /// Starts the process from the calling thread (whose child it is) and records its group.
    fn start(self) -> std::io::Result<Running> {
        let Prepared {
            mut cmd,
            r,
            token,
            out,
        } = self;
        let spawned = cmd.spawn();
        // the pipe's write ends held by `cmd` close here, so that output ends with the step
        drop(cmd);
        let child = spawned.inspect_err(|_| contain::forget(&token))?;
        let pgid = child.id() as i32;
        contain::started(pgid);
        Ok(Running {
            child,
            r,
            token,
            pgid,
            out,
        })
    }
}

/// How often `tick` of [`pump`] runs at least (a step's deadline and cancellation).
const TICK: Duration = Duration::from_millis(50);

/// How often a step whose output pipe stays open (a process that escaped its group holds
/// it) is checked for having exited.
const EXIT_CHECK: Duration = Duration::from_millis(100);

/// Reads `r` until end of file while `child` runs, reporting its exit to `waited` as soon
/// as it is known: at end of output (then `wait`), or, while output is still open, by a
/// non-blocking check every [`EXIT_CHECK`]. After the exit, output is read for at most
/// [`DRAIN`] more.
fn pump(
    mut child: Child,
    r: &std::io::PipeReader,
    out: &mut Output,
    waited: impl FnOnce(std::io::Result<std::process::ExitStatus>),
    mut tick: impl FnMut(),
) {
    use nix::poll::{PollFd, PollFlags, poll};
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut waited = Some(waited);
    let mut exited_at: Option<Instant> = None;
    let mut last_check = Instant::now();
    let mut buf = vec![0u8; 8192];
    let mut eof = false;
    loop {
        tick();
        if !eof {
            let wait = match exited_at {
                Some(t) => DRAIN.saturating_sub(t.elapsed()),
                None => EXIT_CHECK,
            }
            .min(TICK);
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => {}
                Ok(_) => match (&*r).read(&mut buf) {
                    Ok(0) => eof = true,
                    Ok(n) => out.feed(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => eof = true,
                },
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => eof = true,
            }
        }
        if exited_at.is_none() {
            let st = if eof {
                Some(child.wait())
            } else if last_check.elapsed() >= EXIT_CHECK {
                last_check = Instant::now();
                child.try_wait().transpose()
            } else {
                None
            };
            if let Some(st) = st {
                exited_at = Some(Instant::now());
                if let Some(w) = waited.take() {
                    w(st);
                }
            }
        }
        match exited_at {
            Some(t) if eof || t.elapsed() >= DRAIN => return,
            _ => {}
        }
    }
}

/// A step's output: split into lines, masked, written to the log and the sink, the last
/// [`TAIL`] lines kept.
struct Output {
    /// The step's log file (none when the sink keeps the logs).
    file: Option<File>,
    tail: VecDeque<String>,
    partial: Vec<u8>,
    masker: Masker,
    sink: Arc<dyn LogSink>,
    prefix: String,
}

impl Output {
    fn feed(&mut self, chunk: &[u8]) {
        self.partial.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(i) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let end = start + i;
            let line = String::from_utf8_lossy(&self.partial[start..end]).into_owned();
            self.line(&line);
            start = end + 1;
        }
        self.partial.drain(..start);
    }

    fn line(&mut self, raw: &str) {
        let line = self.masker.mask(raw.trim_end_matches(['\n', '\r']));
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{line}");
        }
        self.sink.line(&self.prefix, &line);
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.line(&String::from_utf8_lossy(&rest));
        }
        self.tail.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sh(script: &str, dir: &Path) -> StepCommand {
        StepCommand {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec![],
            cwd: dir.to_owned(),
            log: Some(dir.join("log")),
            prefix: "t/s".into(),
            masker: Masker::new(vec!["s3cr3t".into()]),
            sink: Arc::new(crate::Quiet),
        }
    }

    fn run(script: &str, dir: &Path) -> Exit {
        let p = StepProcess::spawn(sh(script, dir)).expect("sh starts");
        p.wait(
            Some(Instant::now() + Duration::from_secs(20)),
            &CancelToken::default(),
        )
    }

    /// [`run`] on the calling thread (`StepProcess::run`; test threads are not the main
    /// thread, so it does not take a thread).
    fn run_here(script: &str, dir: &Path, deadline: Option<Instant>, cancel: &CancelToken) -> Exit {
        StepProcess::run(sh(script, dir), deadline, cancel).expect("sh starts")
    }

    fn both(script: &str, dir: &Path) -> [Exit; 2] {
        let far = Some(Instant::now() + Duration::from_secs(20));
        [
            run(script, dir),
            run_here(script, dir, far, &CancelToken::default()),
        ]
    }

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sluice-exec-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn output_lines_are_masked_logged_and_tailed_with_the_exit_code() {
        let d = tmp("lines");
        // a last line without a newline, a secret, a CR-LF line
        for e in both("echo one; printf 'pw s3cr3t\\r\\n'; printf two; exit 3", &d) {
            match e {
                Exit::Code(3, tail) => assert_eq!(tail, ["one", "pw ***", "two"]),
                other => panic!("{other:?}"),
            }
            let log = std::fs::read_to_string(d.join("log")).expect("log");
            assert_eq!(log, "one\npw ***\ntwo\n");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn exit_is_seen_while_an_escaped_process_holds_the_output() {
        let d = tmp("escape");
        let t = Instant::now();
        // the background sleep keeps the pipe open; containment kills it at the step's end
        for e in both("echo up; setsid sleep 30 & exit 0", &d) {
            assert!(matches!(e, Exit::Code(0, _)), "{e:?}");
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// On the calling thread as on its own: a deadline and a cancellation kill the step's
    /// group and are told apart; a killed step's output up to then is kept.
    #[test]
    fn a_step_run_here_times_out_and_is_cancelled() {
        let d = tmp("here");
        let t = Instant::now();
        let none = CancelToken::default();
        let e = run_here(
            "echo started; sleep 30",
            &d,
            Some(Instant::now() + Duration::from_millis(300)),
            &none,
        );
        match e {
            Exit::TimedOut(tail) => assert_eq!(tail, ["started"]),
            other => panic!("{other:?}"),
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let cancel = Arc::new(CancelToken::default());
        let c2 = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            c2.cancel("TaskRunCancelled", "");
        });
        let t = Instant::now();
        let e = run_here("sleep 30", &d, None, &cancel);
        assert!(matches!(e, Exit::Cancelled(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        canceller.join().expect("canceller");
        // a command that does not exist is an error to start, as on a thread
        let err = StepProcess::run(
            StepCommand {
                argv: vec!["/nonexistent/step".into()],
                log: None,
                ..sh("", &d)
            },
            None,
            &none,
        );
        assert!(err.is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_long_line_split_across_reads_stays_one_line() {
        let mut out = Output {
            file: Some(
                File::create(
                    std::env::temp_dir().join(format!("sluice-exec-split-{}", std::process::id())),
                )
                .expect("file"),
            ),
            tail: VecDeque::new(),
            partial: Vec::new(),
            masker: Masker::new(vec![]),
            sink: Arc::new(crate::Quiet),
            prefix: String::new(),
        };
        out.feed(b"ab");
        out.feed(b"c\nd");
        out.feed(b"e\n\nf");
        assert_eq!(out.finish(), ["abc", "de", "", "f"]);
    }
}
