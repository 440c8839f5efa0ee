//! Outgoing HTTP/1.1 requests of the controllers (notifications): a small blocking client
//! over `std::net::TcpStream`, `https://` through rustls with the system's root
//! certificates (or no verification when the service says `insecureSkipVerify`). Connect,
//! read and write are bounded by [`TIMEOUT`], the answer by [`MAX_RESPONSE`]. Call it from
//! a blocking thread.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// Connect, read and write timeout of one request.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (headers and body).
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// A request's parts.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub insecure_skip_verify: bool,
}

struct Target {
    tls: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

fn parse(url: &str) -> Result<Target, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!(
            "{url}: only http:// and https:// URLs are supported"
        ));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{url}: no host"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url}: bad port {p:?}"))?,
        ),
        _ => (authority, if tls { 443 } else { 80 }),
    };
    Ok(Target {
        tls,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        authority: authority.to_owned(),
        path,
    })
}

/// The system's root certificates (loaded once).
pub fn roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(c);
            }
            Arc::new(store)
        })
        .clone()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `insecureSkipVerify`: any certificate is accepted, signatures are still checked.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(insecure: bool) -> Result<Arc<ClientConfig>, String> {
    let p = provider();
    let b = ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let cfg = if insecure {
        b.dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(p)))
            .with_no_client_auth()
    } else {
        b.with_root_certificates(roots()).with_no_client_auth()
    };
    Ok(Arc::new(cfg))
}

/// Sends `req` and reads the whole answer: (status, body).
pub fn send(req: &Request<'_>) -> Result<(u16, Vec<u8>), String> {
    send_limited(req, MAX_RESPONSE)
}

/// [`send`] with another bound on the answer (Helm repository indexes and charts).
pub fn send_limited(req: &Request<'_>, max: usize) -> Result<(u16, Vec<u8>), String> {
    let url = req.url;
    let t = parse(url)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: sluice\r\nContent-Length: {}\r\n",
        req.method,
        t.path,
        t.authority,
        req.body.len()
    );
    for (k, v) in req.headers {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(format!("{url}: header {k:?} has a line break or colon"));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let addr = (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: host not found"))?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{url}: {e}"))?;
    let _ = tcp.set_read_timeout(Some(TIMEOUT));
    let _ = tcp.set_write_timeout(Some(TIMEOUT));
    let mut raw = Vec::new();
    let io = |e: std::io::Error| format!("{url}: {e}");
    if t.tls {
        let name = ServerName::try_from(t.host.clone()).map_err(|e| format!("{url}: {e}"))?;
        let conn = rustls::ClientConnection::new(tls_config(req.insecure_skip_verify)?, name)
            .map_err(|e| format!("{url}: {e}"))?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        s.write_all(head.as_bytes()).map_err(io)?;
        s.write_all(req.body).map_err(io)?;
        s.flush().map_err(io)?;
        match s.take(max as u64 + 1).read_to_end(&mut raw) {
            Ok(_) => {}
            // a server that closes without close_notify: what was read is the answer
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(io(e)),
        }
    } else {
        let mut s = tcp;
        s.write_all(head.as_bytes()).map_err(io)?;
        s.write_all(req.body).map_err(io)?;
        s.take(max as u64 + 1).read_to_end(&mut raw).map_err(io)?;
    }
    if raw.len() > max {
        return Err(format!("{url}: answer larger than {max} bytes"));
    }
    let (status, _, body) =
        crate::interceptor_http::parse_response(&raw).map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse("https://hooks.example.com/a/b?x=1").expect("valid");
        assert!(t.tls);
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("hooks.example.com", 443, "/a/b?x=1")
        );
        let t = parse("http://127.0.0.1:8080?q").expect("valid");
        assert_eq!(
            (t.port, t.path.as_str(), t.authority.as_str()),
            (8080, "/?q", "127.0.0.1:8080")
        );
        let t = parse("http://[::1]:9/").expect("valid");
        assert_eq!(t.host, "::1");
        assert!(parse("ftp://x").is_err());
        assert!(parse("http://user@x/").is_err());
        assert!(parse("http://x:notaport/").is_err());
    }

    #[test]
    fn a_header_cannot_inject_lines() {
        let h = vec![("X-A".to_owned(), "b\r\nX-Evil: 1".to_owned())];
        let r = send(&Request {
            method: "GET",
            url: "http://127.0.0.1:9/",
            headers: &h,
            body: b"",
            insecure_skip_verify: false,
        });
        // refused before connecting
        assert!(r.is_err_and(|e| e.contains("line break")));
    }
}
