//! One step or sidecar as a process group, its output captured line by line.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
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

impl StepProcess {
    /// Starts `argv` in a process group of its own, from a thread of its own that waits
    /// for it and then kills what it left (`contain::ended`).
    pub fn spawn(
        argv: &[String],
        env: &[(String, String)],
        cwd: &Path,
        log: &Path,
        prefix: String,
        masker: Masker,
        sink: Arc<dyn LogSink>,
    ) -> std::io::Result<StepProcess> {
        use std::os::unix::process::CommandExt;
        contain::init();
        let mut file = File::create(log)?;
        let (r, w) = std::io::pipe()?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(w.try_clone()?)
            .stderr(w)
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let token = contain::ticket();
        cmd.env(contain::STEP_ID_ENV, &token);
        let (tx_pid, rx_pid) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        let child_thread = std::thread::spawn(move || {
            let spawned = cmd.spawn();
            // the pipe's write ends held by `cmd` close here, so that output ends with the step
            drop(cmd);
            let mut child: Child = match spawned {
                Ok(c) => c,
                Err(e) => {
                    contain::forget(&token);
                    let _ = tx_pid.send(Err(e));
                    return;
                }
            };
            let pgid = child.id() as i32;
            contain::started(pgid);
            let _ = tx_pid.send(Ok(pgid));
            let st = child.wait();
            // nothing the step started outlives it
            contain::ended(&token, pgid);
            let _ = tx.send(st);
        });
        let pgid = rx_pid
            .recv()
            .map_err(|_| std::io::Error::other("the step's thread ended"))??;
        let (tx_tail, rx_tail) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tail: VecDeque<String> = VecDeque::new();
            let mut br = BufReader::new(r);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match br.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = masker.mask(line.trim_end_matches(['\n', '\r']));
                        let _ = writeln!(file, "{line}");
                        sink.line(&prefix, &line);
                        if tail.len() == TAIL {
                            tail.pop_front();
                        }
                        tail.push_back(line);
                    }
                }
            }
            let _ = tx_tail.send(tail.into_iter().collect());
        });
        Ok(StepProcess {
            pgid,
            waiter: rx,
            reader: Some(rx_tail),
            _child_thread: child_thread,
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
