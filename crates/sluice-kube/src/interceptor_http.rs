//! HTTP calls to user interceptors (ClusterInterceptor/Interceptor `clientConfig.url`, and
//! old-style `webhook` interceptors) for the EventListener sink: a small blocking HTTP/1.1
//! client over `std::net::TcpStream`, called from the sink's blocking thread. Plain
//! `http://` URLs only (an `https://` URL or a Service reference is an error saying so);
//! connect, read and write are bounded by [`TIMEOUT`] and the answer by [`MAX_RESPONSE`].

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use sluice_triggers::{Headers, InterceptorCaller, InterceptorTarget};

/// Connect, read and write timeout of one call.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read (headers and body).
pub const MAX_RESPONSE: usize = 10 * 1024 * 1024;

/// An HTTP answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// The sink's [`InterceptorCaller`] over plain HTTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpCaller;

struct Url {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("interceptor URL {url:?}: only http:// URLs are called by sluice serve")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("interceptor URL {url:?}: no host"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.to_owned(),
            p.parse::<u16>()
                .map_err(|_| format!("interceptor URL {url:?}: bad port {p:?}"))?,
        ),
        _ => (authority.to_owned(), 80),
    };
    if host.is_empty() {
        return Err(format!("interceptor URL {url:?}: no host"));
    }
    Ok(Url {
        host,
        port,
        path: path.to_owned(),
    })
}

/// One POST: (status, headers, body).
fn post(url: &str, headers: &[(String, String)], body: &[u8]) -> Result<Answer, String> {
    let u = parse_url(url)?;
    let addr = (u.host.trim_start_matches('[').trim_end_matches(']'), u.port)
        .to_socket_addrs()
        .map_err(|e| format!("interceptor {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("interceptor {url}: host not found"))?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| format!("interceptor {url}: {e}"))?;
    let _ = s.set_read_timeout(Some(TIMEOUT));
    let _ = s.set_write_timeout(Some(TIMEOUT));
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        u.path,
        u.host,
        u.port,
        body.len()
    );
    let mut typed = false;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("host")
            || k.eq_ignore_ascii_case("content-length")
            || k.eq_ignore_ascii_case("connection")
            || k.eq_ignore_ascii_case("transfer-encoding")
            || k.contains(['\r', '\n', ':'])
            || v.contains(['\r', '\n'])
        {
            continue;
        }
        typed |= k.eq_ignore_ascii_case("content-type");
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !typed {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .and_then(|()| s.write_all(body))
        .map_err(|e| format!("interceptor {url}: {e}"))?;
    let mut raw = Vec::new();
    s.take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("interceptor {url}: {e}"))?;
    if raw.len() > MAX_RESPONSE {
        return Err(format!(
            "interceptor {url}: answer larger than {MAX_RESPONSE} bytes"
        ));
    }
    parse_response(&raw).map_err(|e| format!("interceptor {url}: {e}"))
}

/// Parses an HTTP/1.x answer read to its end (Content-Length, chunked, or until close).
pub(crate) fn parse_response(raw: &[u8]) -> Result<Answer, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the answer")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        let mut p = rest;
        loop {
            let nl = p
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("truncated chunked body")?;
            let size_text = String::from_utf8_lossy(&p[..nl]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            p = &p[nl + 2..];
            if size == 0 {
                break;
            }
            if p.len() < size {
                return Err("truncated chunked body".to_owned());
            }
            out.extend_from_slice(&p[..size]);
            p = p.get(size + 2..).unwrap_or(&[]);
        }
        out
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest.get(..n).ok_or("truncated body")?.to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, headers, body))
}

impl InterceptorCaller for HttpCaller {
    fn call_interceptor(
        &self,
        target: &InterceptorTarget,
        request: &[u8],
    ) -> Result<Vec<u8>, String> {
        let (status, _, body) = post(&target.url, &[], request)?;
        if status != 200 {
            return Err(format!(
                "interceptor response was not 200: {}",
                String::from_utf8_lossy(&body[..body.len().min(1024)])
            ));
        }
        Ok(body)
    }

    fn call_webhook(
        &self,
        target: &InterceptorTarget,
        headers: &Headers,
        body: &[u8],
    ) -> Result<(Headers, Vec<u8>), String> {
        let pairs: Vec<(String, String)> = headers
            .0
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect();
        let (status, h, b) = post(&target.url, &pairs, body)?;
        if status != 200 {
            return Err(format!(
                "webhook interceptor {} answered {status}",
                target.name
            ));
        }
        Ok((
            Headers::from_pairs(h.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            b,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:9000/cel").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 9000, "/cel")
        );
        let u = parse_url("http://interceptor").expect("url");
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert!(parse_url("https://x").is_err_and(|e| e.contains("only http://")));
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
    }

    #[test]
    fn answers() {
        let (s, h, b) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n{}extra")
                .expect("ok");
        assert_eq!((s, b.as_slice()), (200, b"{}".as_slice()));
        assert_eq!(h[1], ("X-A".to_owned(), "1".to_owned()));
        let (_, _, b) = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!(b, b"abcde");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab").is_err());
    }

    /// A ClusterInterceptor answering on a local port: the sink's request arrives and the
    /// answer's body comes back.
    #[test]
    fn posts_to_a_local_interceptor() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().expect("accept");
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !String::from_utf8_lossy(&got).contains("\"ping\"") {
                let n = c.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"continue\":true}")
                .expect("write");
            String::from_utf8_lossy(&got).into_owned()
        });
        let t = InterceptorTarget {
            kind: "ClusterInterceptor",
            name: "mine".into(),
            url: format!("http://127.0.0.1:{port}/check"),
            ca_bundle: String::new(),
        };
        let out = HttpCaller
            .call_interceptor(&t, br#"{"body":"ping"}"#)
            .expect("called");
        assert_eq!(out, br#"{"continue":true}"#);
        let req = server.join().expect("server");
        assert!(req.starts_with("POST /check HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Content-Type: application/json"), "{req}");
    }
}
