//! The audit log backend (kube-apiserver's `--audit-log-*` flags): events from
//! [`crate::audit`] as JSON lines on a file rotated as kube-apiserver's lumberjack writer
//! rotates it, or on stdout (`-`).
//!
//! Requests never wait for the disk: an event is queued on a bounded channel
//! ([`QUEUE`] events) a writer thread drains; when the queue is full the event is dropped
//! and counted ([`Auditor::dropped`], a warning on stderr every 1,000 drops).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::audit::Policy;

/// Events queued for the writer before new ones are dropped (kube-apiserver's
/// `--audit-log-batch-buffer-size` default).
pub const QUEUE: usize = 10_000;

/// The flags.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// `--audit-log-path`: a file, or `-` for stdout; None: no log backend.
    pub log_path: Option<PathBuf>,
    /// `--audit-policy-file`.
    pub policy_file: Option<PathBuf>,
    /// `--audit-log-maxsize`: megabytes before rotation (0: lumberjack's 100).
    pub max_size_mb: u64,
    /// `--audit-log-maxbackup`: rotated files kept (0: all).
    pub max_backups: usize,
    /// `--audit-log-maxage`: days a rotated file is kept (0: forever).
    pub max_age_days: u64,
}

/// The policy and the queue to the writer.
pub struct Auditor {
    pub policy: Policy,
    tx: SyncSender<Vec<u8>>,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Auditor({} rules)", self.policy.rules.len())
    }
}

impl Auditor {
    /// Reads the policy and opens the log. Without a log path, or without a policy (as
    /// kube-apiserver: "No audit policy file provided, no events will be recorded for log
    /// backend", a warning here), there is no auditor.
    pub fn open(
        o: &AuditOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Auditor>, crate::Error> {
        let Some(path) = &o.log_path else {
            return Ok(None);
        };
        let Some(policy_file) = &o.policy_file else {
            warnings.push(
                "--audit-log-path without --audit-policy-file: no audit policy file provided, no events will be recorded for log backend".into(),
            );
            return Ok(None);
        };
        let text = std::fs::read_to_string(policy_file).map_err(|source| crate::Error::Io {
            path: policy_file.clone(),
            source,
        })?;
        let policy = crate::audit::parse(&policy_file.display().to_string(), &text)
            .map_err(|e| crate::Error::Config(format!("loading audit policy file: {e}")))?;
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(Rotating::open(
                path,
                o.max_size_mb,
                o.max_backups,
                o.max_age_days,
            )?)
        };
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || write_loop(rx, out))
            .map_err(crate::Error::Serve)?;
        Ok(Some(Auditor {
            policy,
            tx,
            dropped: AtomicU64::new(0),
        }))
    }

    /// Queues one event (a JSON value, written as one line); never blocks.
    pub fn send(&self, event: &serde_json::Value) {
        let mut line = serde_json::to_vec(event).unwrap_or_default();
        line.push(b'\n');
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 1000 == 1 {
                    crate::log_warning(format!("audit log: queue full, {n} events dropped so far"));
                }
            }
        }
    }

    /// Events dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn write_loop(rx: Receiver<Vec<u8>>, mut out: Box<dyn Write + Send>) {
    let mut buf = std::io::BufWriter::with_capacity(64 * 1024, &mut out);
    while let Ok(line) = rx.recv() {
        let mut ok = buf.write_all(&line).is_ok();
        // write what is queued, then flush when the queue is empty
        while let Ok(line) = rx.try_recv() {
            ok &= buf.write_all(&line).is_ok();
        }
        ok &= buf.flush().is_ok();
        if !ok {
            crate::log_warning("audit log: write failed");
        }
    }
}

/// Microsecond RFC 3339 UTC (`metav1.MicroTime`): `2024-01-02T03:04:05.123456Z`.
pub fn micro_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = crate::util::rfc3339(d.as_secs() as i64);
    format!("{}.{:06}Z", s.trim_end_matches('Z'), d.subsec_micros())
}

/// A file rotated as lumberjack rotates it: before a write would take it over `max_size`,
/// it is renamed `<name>-<UTC time 2006-01-02T15-04-05.000><ext>` beside itself and a new
/// one is opened (0600); then backups beyond `max_backups` (oldest first) and older than
/// `max_age` are removed.
pub struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_backups: usize,
    max_age: Option<Duration>,
}

fn open_log(path: &Path) -> Result<File, crate::Error> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(|source| crate::Error::Io {
        path: path.to_owned(),
        source,
    })
}

impl Rotating {
    pub fn open(
        path: &Path,
        max_size_mb: u64,
        max_backups: usize,
        max_age_days: u64,
    ) -> Result<Self, crate::Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let file = open_log(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Rotating {
            path: path.to_owned(),
            file,
            size,
            max_size: if max_size_mb == 0 { 100 } else { max_size_mb } * 1024 * 1024,
            max_backups,
            max_age: (max_age_days > 0).then(|| Duration::from_secs(max_age_days * 86_400)),
        })
    }

    /// (stem, extension with its dot) of the log's file name.
    fn parts(&self) -> (String, String) {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.rfind('.') {
            Some(i) if i > 0 => (name[..i].to_owned(), name[i..].to_owned()),
            _ => (name, String::new()),
        }
    }

    fn backup_name(&self, t: SystemTime) -> PathBuf {
        let (stem, ext) = self.parts();
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let s = crate::util::rfc3339(d.as_secs() as i64)
            .trim_end_matches('Z')
            .replace(':', "-");
        self.path
            .with_file_name(format!("{stem}-{s}.{:03}{ext}", d.subsec_millis()))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let mut backup = self.backup_name(SystemTime::now());
        // two rotations in one millisecond: do not overwrite the first
        let mut n = 1;
        while backup.exists() {
            backup = self.backup_name(SystemTime::now() + Duration::from_millis(n));
            n += 1;
        }
        std::fs::rename(&self.path, &backup)?;
        self.file = open_log(&self.path).map_err(|e| std::io::Error::other(e.to_string()))?;
        self.size = 0;
        self.mill();
        Ok(())
    }

    /// The rotated files of this log, newest first.
    pub fn backups(&self) -> Vec<PathBuf> {
        let (stem, ext) = self.parts();
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let prefix = format!("{stem}-");
        let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        let ts = n.strip_prefix(&prefix)?.strip_suffix(ext.as_str())?;
                        // 2006-01-02T15-04-05.000
                        (ts.len() == 23 && ts.as_bytes()[10] == b'T')
                            .then(|| (ts.to_owned(), e.path()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| b.0.cmp(&a.0));
        out.into_iter().map(|(_, p)| p).collect()
    }

    fn mill(&self) {
        let backups = self.backups();
        let now = SystemTime::now();
        for (i, p) in backups.iter().enumerate() {
            let too_many = self.max_backups > 0 && i >= self.max_backups;
            let too_old = self.max_age.is_some_and(|age| {
                std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| now.duration_since(m).unwrap_or_default() > age)
            });
            if too_many || too_old {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The client's address, put on each request by the TLS accept loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Who the request is from, filled in by the handler once it authenticated (before
/// impersonation: the audit policy matches the authenticated user, as upstream's audit
/// filter runs before the impersonation filter).
#[derive(Default)]
pub struct Who(std::sync::Mutex<Option<(sluice_auth::UserInfo, Option<sluice_auth::UserInfo>)>>);

impl Who {
    /// Records the authenticated user and, when it impersonates, the impersonated one.
    pub fn set(&self, user: &sluice_auth::UserInfo, as_user: Option<&sluice_auth::UserInfo>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((user.clone(), as_user.cloned()));
    }
}

fn source_ips(req: &axum::extract::Request) -> Vec<String> {
    let mut ips: Vec<String> = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0).or_else(|| {
        req.extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0)
    });
    if let Some(p) = peer {
        let ip = p.ip().to_string();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

/// The API version of a resource URL: `/api/v1/...` is `v1`, `/apis/apps/v1/...` is `v1`.
fn api_version(path: &str) -> &str {
    let mut s = path.split('/').filter(|s| !s.is_empty());
    match s.next() {
        Some("api") => s.next().unwrap_or_default(),
        Some("apis") => s.nth(1).unwrap_or_default(),
        _ => "",
    }
}

/// Runs `inner` (the API handler) and writes the request's audit events as the policy
/// says: `RequestReceived` and `ResponseComplete` (`ResponseStarted` for a streamed
/// response, whose completion is not logged), each unless omitted. Mounted routers and
/// EventListener deliveries are not API requests and are not audited; nor is a request
/// that failed authentication (401).
pub(crate) async fn audited<F, Fut>(
    st: std::sync::Arc<crate::State>,
    auditor: std::sync::Arc<Auditor>,
    auth: bool,
    mut req: axum::extract::Request,
    inner: F,
) -> axum::response::Response
where
    F: FnOnce(axum::extract::Request) -> Fut,
    Fut: std::future::Future<Output = axum::response::Response>,
{
    use crate::audit::{Level, Stage};
    use http_body::Body as _;
    let path = req.uri().path().to_owned();
    let skip = path.starts_with(crate::listeners::PREFIX)
        || crate::server::mounted(&st.mounts.read().unwrap_or_else(|e| e.into_inner()), &path)
            .is_some();
    if skip {
        return inner(req).await;
    }
    let received = micro_time(SystemTime::now());
    let audit_id = crate::util::new_uid();
    let uri = req.uri().to_string();
    let ips = source_ips(&req);
    let ua = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let attrs = crate::auth::attributes(req.method(), &path, req.uri().query().unwrap_or(""));
    let has_body = matches!(
        *req.method(),
        axum::http::Method::POST
            | axum::http::Method::PUT
            | axum::http::Method::PATCH
            | axum::http::Method::DELETE
    );
    let content_type = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let mut body = None;
    if has_body {
        let (parts, b) = req.into_parts();
        // as the handler reads it: a body over the bound is a 413
        let Ok(bytes) = axum::body::to_bytes(b, 16 * 1024 * 1024).await else {
            return crate::server::error_response(&crate::ApiError::too_large());
        };
        req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
        body = Some(bytes);
    }
    let who = std::sync::Arc::new(Who::default());
    req.extensions_mut().insert(who.clone());
    let mut resp = inner(req).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&audit_id) {
        resp.headers_mut().insert("audit-id", v);
    }
    let code = resp.status().as_u16();
    let known = who.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    let (user, impersonated) = match known {
        Some(k) => k,
        None if code == 401 => return resp,
        None if auth => (
            sluice_auth::UserInfo::new("system:anonymous", &["system:unauthenticated"]),
            None,
        ),
        // in-process clients (`sluice serve`'s controllers): the loopback identity
        None => (
            sluice_auth::UserInfo::new(
                "system:apiserver",
                &["system:authenticated", "system:masters"],
            ),
            None,
        ),
    };
    let d = auditor.policy.decide(&user, &attrs);
    if d.level == Level::None {
        return resp;
    }
    let streamed = resp.body().size_hint().exact().is_none();
    let json_of = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).ok();
    // kubectl's typed creates send protobuf: decoded as the handler decodes them
    let request_object = body
        .as_deref()
        .filter(|b| !b.is_empty())
        .and_then(|b| crate::server::decode_body(b, &content_type).ok());
    let name = (attrs.resource_request && attrs.name.is_empty())
        .then(|| {
            request_object
                .as_ref()
                .and_then(|o| o.pointer("/metadata/name"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .flatten();
    let mut response_object = None;
    let mut status = None;
    if !streamed && (d.level >= Level::RequestResponse || code >= 400) {
        let (parts, b) = resp.into_parts();
        let bytes = axum::body::to_bytes(b, usize::MAX)
            .await
            .unwrap_or_default();
        let v = json_of(&bytes);
        if code >= 400 {
            status = v.clone();
        }
        response_object = v;
        resp = axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let r = crate::audit::Request {
        audit_id: &audit_id,
        request_uri: &uri,
        user: &user,
        impersonated: impersonated.as_ref(),
        source_ips: &ips,
        user_agent: ua.as_deref(),
        attrs: &attrs,
        api_version: api_version(&path),
        received: &received,
    };
    if d.logs(Stage::RequestReceived) {
        auditor.send(&crate::audit::event(
            &r,
            &d,
            Stage::RequestReceived,
            &received,
            None,
            None,
            // as upstream: logged before the body is decoded
            None,
            None,
            None,
        ));
    }
    let stage = if streamed {
        Stage::ResponseStarted
    } else {
        Stage::ResponseComplete
    };
    if d.logs(stage) {
        auditor.send(&crate::audit::event(
            &r,
            &d,
            stage,
            &micro_time(SystemTime::now()),
            Some(code),
            status.as_ref(),
            name.as_deref(),
            request_object,
            response_object.filter(|_| code < 400),
        ));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    // lumberjack: a write that would pass MaxSize rotates first; MaxBackups keeps the newest
    #[test]
    fn rotates_and_keeps_max_backups() {
        let dir = std::env::temp_dir().join(format!("sluice-audit-{}", crate::util::rand_u64()));
        let path = dir.join("audit.log");
        let mut r = Rotating::open(&path, 1, 2, 0).expect("open");
        r.max_size = 100; // bytes, for the test
        for i in 0..10 {
            let line = format!("{i:039}\n"); // 40 bytes: two lines a file
            r.write_all(line.as_bytes()).expect("write");
            std::thread::sleep(Duration::from_millis(3));
        }
        r.flush().expect("flush");
        let backups = r.backups();
        assert_eq!(backups.len(), 2, "{backups:?}");
        let current = std::fs::read_to_string(&path).expect("read");
        assert_eq!(current.lines().count(), 2);
        assert!(current.ends_with(&format!("{:039}\n", 9)));
        let newest = std::fs::read_to_string(&backups[0]).expect("read");
        assert!(newest.starts_with(&format!("{:039}\n", 6)), "{newest}");
        let name = backups[0]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            name.starts_with("audit-") && name.ends_with(".log"),
            "{name}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    // lumberjack's MaxAge: rotated files older than it are removed at the next rotation
    #[test]
    fn removes_backups_older_than_max_age() {
        let dir =
            std::env::temp_dir().join(format!("sluice-audit-age-{}", crate::util::rand_u64()));
        let path = dir.join("audit.log");
        let mut r = Rotating::open(&path, 1, 0, 1).expect("open");
        r.max_size = 10;
        let old = dir.join("audit-2020-01-01T00-00-00.000.log");
        std::fs::write(&old, "old\n").expect("write");
        let f = File::options().write(true).open(&old).expect("open");
        f.set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
            .expect("mtime");
        drop(f);
        let unrelated = dir.join("other.log");
        std::fs::write(&unrelated, "x").expect("write");
        r.write_all(b"0123456789\n").expect("write");
        r.write_all(b"next\n").expect("write, rotating");
        assert!(
            !old.exists(),
            "a 3-day-old backup outlives --audit-log-maxage 1"
        );
        assert_eq!(r.backups().len(), 1);
        assert!(unrelated.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn micro_time_format() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(micro_time(t), "2023-11-14T22:13:20.123456Z");
    }
}
