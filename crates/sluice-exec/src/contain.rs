//! Containment of step and sidecar processes: nothing a step starts outlives it, even a
//! process that left the step's process group (`setsid`, a double fork).
//!
//! - The process is a child subreaper (`PR_SET_CHILD_SUBREAPER`): an orphaned descendant of
//!   a step is reparented to it (the kernel hands orphans to the first live thread, the
//!   main thread) instead of to init, so it can be found in
//!   `/proc/self/task/<pid>/children`, which lists orphans only: step processes are
//!   spawned from dedicated threads (their children lists are their own).
//! - Each step process carries `SLUICE_STEP_ID=<run>-<n>` in its environment, inherited
//!   by what it starts. When a step ends, its process group is killed, then the orphans
//!   are swept: those in its process group, those whose token is not of a live step, and,
//!   when no other step is live, any orphan (one that cleared its environment). The sweep
//!   repeats until a round finds nothing, since killing an orphan reparents its children.
//!   Cost when nothing escaped: one read of the children list.
//! - A sentinel `sh` (its own process group, signals ignored) holds the read end of a pipe
//!   and the list of live process groups. When this process dies, even by SIGKILL, the
//!   pipe closes: the sentinel kills the live groups, then every process whose environment
//!   carries this run's token prefix.
//!
//! What remains after `kill -9` of sluice: without `--isolate`, a process that both left
//! its step's process group and cleared its environment (`env -i setsid ...`); with
//! `--isolate` nothing (each step is a PID namespace killed with its bubblewrap parent).

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// The environment variable naming a step's processes.
pub const STEP_ID_ENV: &str = "SLUICE_STEP_ID";

/// Rounds of a sweep (each kills what the previous one reparented).
const MAX_ROUNDS: usize = 64;

/// Kills the recorded process groups, then the processes carrying the run's token, when
/// its standard input closes (sluice ended, however it ended).
const SENTINEL: &str = r#"trap '' INT TERM HUP QUIT PIPE
run=$1
live=' '
while read -r op pg; do
  case $op in
    +) live="$live$pg " ;;
    -) case $live in *" $pg "*) live="${live%% $pg *} ${live#* $pg }" ;; esac ;;
  esac
done
for pg in $live; do kill -9 -- "-$pg" 2>/dev/null; done
i=0
while [ $i -lt 8 ]; do
  pids=$(grep -lsaz "^SLUICE_STEP_ID=$run-" /proc/[0-9]*/environ 2>/dev/null | sed 's,^/proc/\([0-9]*\)/environ$,\1,')
  [ -z "$pids" ] && break
  kill -9 $pids 2>/dev/null
  i=$((i+1))
done
"#;

struct State {
    run: String,
    seq: AtomicU64,
    live: Mutex<HashSet<String>>,
    sentinel: Mutex<Option<ChildStdin>>,
    sentinel_pid: Option<i32>,
    children_file: String,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let run = format!("{pid}x{nanos:x}");
        // a child of whichever thread asks first; once reparented to the main thread it
        // is among the orphans, which sweeps skip by pid
        let sentinel = {
            use std::os::unix::process::CommandExt;
            Command::new("/bin/sh")
                .args(["-c", SENTINEL, "sluice-sentinel", &run])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .ok()
        };
        let (stdin, sentinel_pid) = match sentinel {
            Some(mut c) => (c.stdin.take(), Some(c.id() as i32)),
            None => (None, None),
        };
        State {
            run,
            seq: AtomicU64::new(0),
            live: Mutex::new(HashSet::new()),
            sentinel: Mutex::new(stdin),
            sentinel_pid,
            children_file: format!("/proc/self/task/{pid}/children"),
        }
    })
}

fn tell_sentinel(line: &str) {
    let st = state();
    let mut g = st.sentinel.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = g.as_mut()
        && w.write_all(line.as_bytes()).is_err()
    {
        *g = None;
    }
}

/// Sets up containment (subreaper, sentinel) once per process; cheap afterwards.
pub fn init() {
    let _ = state();
}

/// A new step token, registered as live: `(env var, value)` for the step's environment.
pub fn ticket() -> String {
    let st = state();
    let n = st.seq.fetch_add(1, Ordering::Relaxed);
    let token = format!("{}-{n}", st.run);
    st.live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone());
    token
}

/// A token whose process could not start.
pub fn forget(token: &str) {
    state()
        .live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(token);
}

/// A step's process group started.
pub fn started(pgid: i32) {
    tell_sentinel(&format!("+ {pgid}\n"));
}

/// A step's leader has ended (and was reaped): its group is killed and what it left is
/// swept; the token is no longer live.
pub fn ended(token: &str, pgid: i32) {
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    let st = state();
    st.live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(token);
    sweep(Some(pgid));
    tell_sentinel(&format!("- {pgid}\n"));
}

/// Kills every orphan left (the end of a run): nothing outlives it.
pub fn sweep_all() {
    sweep(None);
}

/// `(state, pgid)` of a process, from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(char, i32)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    let pgid = f.next()?.parse().ok()?;
    Some((state, pgid))
}

/// The step token in a process's environment, if it can be read.
fn token_of(pid: i32) -> Option<String> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{STEP_ID_ENV}=");
    env.split(|b| *b == 0)
        .find_map(|e| e.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Kills and reaps orphans: those of process group `pgid`, those whose token is not live,
/// and those without a token when no step is live (`pgid` None: every orphan).
fn sweep(pgid: Option<i32>) {
    let st = state();
    for _ in 0..MAX_ROUNDS {
        let Ok(list) = fs::read_to_string(&st.children_file) else {
            return;
        };
        let mut acted = false;
        for pid in list
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            if Some(pid) == st.sentinel_pid {
                continue;
            }
            let Some((state_c, group)) = stat(pid) else {
                continue;
            };
            let victim = if state_c == 'Z' || pgid.is_none() || Some(group) == pgid {
                true
            } else {
                let live = st.live.lock().unwrap_or_else(|e| e.into_inner());
                match token_of(pid) {
                    Some(t) if t.strip_prefix(&st.run).is_some_and(|r| r.starts_with('-')) => {
                        !live.contains(&t)
                    }
                    _ => live.is_empty(),
                }
            };
            if victim {
                let p = Pid::from_raw(pid);
                let _ = kill(p, Signal::SIGKILL);
                let _ = waitpid(p, None);
                acted = true;
            }
        }
        if !acted {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses_odd_command_names() {
        let me = std::process::id() as i32;
        let (s, pg) = stat(me).expect("own stat");
        assert!(s == 'R' || s == 'S', "{s}");
        assert_eq!(pg, nix::unistd::getpgrp().as_raw());
    }
}
