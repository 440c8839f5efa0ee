//! Step logs of the server's TaskRuns: one file per Pod container under
//! `DATA/logs/<namespace>/<pod>/<container>.log`, written line by line while the step runs
//! (so it is readable while it runs), Secret values already masked by the executor, and
//! bounded: past `max_bytes` one marker line is written and the rest is dropped.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sluice_exec::LogSink;

/// The default bound of one step's log: 10 MiB.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

/// Where a container's log lives.
pub fn log_path(data_dir: &Path, namespace: &str, pod: &str, container: &str) -> PathBuf {
    data_dir
        .join("logs")
        .join(safe(namespace))
        .join(safe(pod))
        .join(format!("{}.log", safe(container)))
}

/// Writes the log lines of one TaskRun execution (one Pod) to its containers' files.
pub struct StepLogs {
    dir: PathBuf,
    /// The TaskRun (uid) written into the done marker.
    owner: String,
    max_bytes: u64,
    files: Mutex<HashMap<String, (File, u64, bool)>>,
}

impl StepLogs {
    /// Logs of Pod `pod` in `namespace`, written for the TaskRun `owner` (its uid); the
    /// Pod's directory is made (and emptied) now.
    pub fn new(
        data_dir: &Path,
        namespace: &str,
        pod: &str,
        max_bytes: u64,
        owner: &str,
    ) -> StepLogs {
        let dir = pod_dir(data_dir, namespace, pod);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        StepLogs {
            owner: owner.to_owned(),
            dir,
            max_bytes,
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Creates the (empty) log file of each container, so a reader finds it before the
    /// first line.
    pub fn touch(&self, containers: &[String]) {
        for c in containers {
            let _ = self.file_for(c, |_| ());
        }
    }

    fn file_for(&self, container: &str, f: impl FnOnce(&mut (File, u64, bool))) -> Option<()> {
        let mut m = self.files.lock().ok()?;
        if !m.contains_key(container) {
            let p = self.dir.join(format!("{}.log", safe(container)));
            let file = OpenOptions::new().create(true).append(true).open(&p).ok()?;
            m.insert(container.to_owned(), (file, 0, false));
        }
        f(m.get_mut(container)?);
        Some(())
    }

    /// Appends one line to a container's log, within the bound.
    pub fn write_line(&self, container: &str, line: &str) {
        let max = self.max_bytes;
        let _ = self.file_for(container, |(file, written, cut)| {
            if *cut {
                return;
            }
            let n = line.len() as u64 + 1;
            if *written + n > max {
                let _ = writeln!(
                    file,
                    "sluice: log truncated: this step's log exceeded {max} bytes"
                );
                *cut = true;
                return;
            }
            if writeln!(file, "{line}").is_ok() {
                *written += n;
            }
        });
    }
}

/// The marker file written in a Pod's log directory once its steps ended (a follower
/// stops there); it holds the uid of the TaskRun the logs were written for.
const DONE: &str = ".done";

fn pod_dir(data_dir: &Path, namespace: &str, pod: &str) -> PathBuf {
    data_dir.join("logs").join(safe(namespace)).join(safe(pod))
}

/// The logs of a deleted TaskRun go: every Pod directory `<taskrun>-pod*` of `namespace`
/// written for it (`owner`, its uid, in the done marker), so a newer TaskRun of the same
/// name keeps its own. (Logs still being written when their TaskRun is deleted have no
/// marker yet: the next sweep takes them.)
pub fn forget(data_dir: &Path, namespace: &str, taskrun: &str, owner: &str) {
    let prefix = safe(&format!("{taskrun}-pod"));
    let Ok(dirs) = std::fs::read_dir(data_dir.join("logs").join(safe(namespace))) else {
        return;
    };
    for d in dirs.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let retry = name
            .strip_prefix(&prefix)
            .is_some_and(|r| r.is_empty() || r.starts_with("-retry"));
        let mine = std::fs::read_to_string(d.path().join(DONE)).is_ok_and(|o| o == owner);
        if retry && mine {
            let _ = std::fs::remove_dir_all(d.path());
        }
    }
}

/// Removes the logs of TaskRuns that no longer exist (deleted while no server ran): every
/// DATA/logs/NS/POD whose owner (the TaskRun uid in its done marker) is not in `taskruns`,
/// except directories made in the last minute (their TaskRun may be newer than the list
/// `taskruns` came from) and those not done or naming no owner.
pub fn sweep(data_dir: &Path, taskruns: &HashSet<String>) {
    let fresh = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < std::time::Duration::from_secs(60))
    };
    let Ok(namespaces) = std::fs::read_dir(data_dir.join("logs")) else {
        return;
    };
    for ns in namespaces.flatten() {
        let Ok(dirs) = std::fs::read_dir(ns.path()) else {
            continue;
        };
        for d in dirs.flatten() {
            let Ok(owner) = std::fs::read_to_string(d.path().join(DONE)) else {
                continue;
            };
            if !owner.is_empty() && !taskruns.contains(&owner) && !fresh(&d.path()) {
                let _ = std::fs::remove_dir_all(d.path());
            }
        }
    }
}

impl Drop for StepLogs {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join(DONE), &self.owner);
    }
}

/// Marks the logs of a Pod of the TaskRun `owner` (uid) complete (a run cut off by a server
/// stop).
pub fn mark_done(data_dir: &Path, namespace: &str, pod: &str, owner: &str) {
    let dir = pod_dir(data_dir, namespace, pod);
    if dir.is_dir() {
        let _ = std::fs::write(dir.join(DONE), owner);
    }
}

/// Reads a container's log from byte `from` in chunks handed to `send` (which returns false
/// once the reader is gone). With `follow`, waits for more until the Pod's logs are complete (or
/// its directory is removed). Blocking: run it on a thread of its own.
pub fn stream(path: &Path, follow: bool, from: u64, mut send: impl FnMut(Vec<u8>) -> bool) {
    use std::io::{Read, Seek};
    let Ok(mut f) = File::open(path) else {
        return;
    };
    if from > 0 && f.seek(std::io::SeekFrom::Start(from)).is_err() {
        return;
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut draining = false;
    loop {
        match f.read(&mut buf) {
            Ok(0) => {
                if !follow || draining || !dir.is_dir() {
                    return;
                }
                if dir.join(DONE).exists() {
                    // one more pass for what was written before the marker
                    draining = true;
                    continue;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Ok(n) => {
                if !send(buf[..n].to_vec()) {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

impl LogSink for StepLogs {
    /// The logs are kept here: the sandbox needs no copy.
    fn keeps_logs(&self) -> bool {
        true
    }

    /// `prefix` is `task/step`; the step's container is `step-<step>`.
    fn line(&self, prefix: &str, line: &str) {
        let step = prefix.rsplit('/').next().unwrap_or(prefix);
        let container = if step.starts_with("sidecar-") {
            step.to_owned()
        } else {
            format!("step-{step}")
        };
        self.write_line(&container, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs follow their TaskRuns: a deleted TaskRun's Pod directories go unless written for
    /// another TaskRun of the same name; a sweep removes the logs of TaskRuns not listed, but
    /// not those made in the last minute.
    #[test]
    fn logs_go_with_their_taskruns() {
        let dir = std::env::temp_dir().join(format!("sluice-kube-keep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for p in ["a-pod", "a-pod-retry1", "ab-pod"] {
            drop(StepLogs::new(&dir, "ns", p, 100, "uid-a"));
        }
        forget(&dir, "ns", "a", "uid-older");
        assert!(pod_dir(&dir, "ns", "a-pod").is_dir());
        forget(&dir, "ns", "a", "uid-a");
        assert!(!pod_dir(&dir, "ns", "a-pod").exists());
        assert!(!pod_dir(&dir, "ns", "a-pod-retry1").exists());
        assert!(pod_dir(&dir, "ns", "ab-pod").is_dir(), "another TaskRun's");

        for (p, owner) in [("listed-pod", "l"), ("gone-pod", "g"), ("new-pod", "n")] {
            drop(StepLogs::new(&dir, "ns", p, 100, owner));
        }
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        for p in ["listed-pod", "gone-pod"] {
            let d = File::open(pod_dir(&dir, "ns", p)).expect("dir");
            d.set_modified(old).expect("mtime");
        }
        sweep(&dir, &HashSet::from(["l".to_owned()]));
        assert!(pod_dir(&dir, "ns", "listed-pod").is_dir());
        assert!(!pod_dir(&dir, "ns", "gone-pod").exists());
        assert!(
            pod_dir(&dir, "ns", "new-pod").is_dir(),
            "made in the last minute"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn logs_are_bounded_and_named_by_container() {
        let dir = std::env::temp_dir().join(format!("sluice-kube-logs-{}", std::process::id()));
        let logs = StepLogs::new(&dir, "ns", "run-pod", 20, "uid-1");
        logs.touch(&["step-b".to_owned()]);
        logs.line("task/a", "hello");
        logs.line("task/a", "world, this is long");
        logs.line("task/a", "dropped");
        let text = std::fs::read_to_string(log_path(&dir, "ns", "run-pod", "step-a"))
            .expect("log written");
        assert_eq!(
            text,
            "hello\nsluice: log truncated: this step's log exceeded 20 bytes\n"
        );
        assert_eq!(
            std::fs::read_to_string(log_path(&dir, "ns", "run-pod", "step-b")).expect("touched"),
            ""
        );
        // a follower gets everything and ends once the Pod's logs are complete
        let path = log_path(&dir, "ns", "run-pod", "step-a");
        let follower = {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                stream(&path, true, 0, |c| {
                    got.extend(c);
                    true
                });
                got
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(!follower.is_finished());
        drop(logs);
        let got = follower.join().expect("follower");
        assert!(String::from_utf8_lossy(&got).starts_with("hello\n"));
        // names cannot climb out of the logs directory
        let p = log_path(&dir, "..", "../x", "a/../../b");
        assert!(p.starts_with(dir.join("logs")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
