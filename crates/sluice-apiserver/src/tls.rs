//! TLS for the HTTP API. kubectl (client-go) sends a bearer token only over TLS, so the
//! server makes a self-signed certificate for `localhost` and `127.0.0.1` on first start
//! (DATA/tls.crt, DATA/tls.key, mode 0600) and the kubeconfig trusts exactly that
//! certificate (`certificate-authority-data`).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// A certificate and its key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_pem: String,
    pub key_pem: String,
}

fn tls_err(msg: String) -> Error {
    Error::Tls(msg)
}

/// A new self-signed certificate for the loopback names.
pub fn generate() -> Result<TlsFiles, Error> {
    let ck = rcgen::generate_simple_self_signed(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(|e| tls_err(format!("generating a certificate: {e}")))?;
    Ok(TlsFiles {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
    })
}

/// DATA/tls.crt and DATA/tls.key, created when missing.
pub fn load_or_create(dir: &Path) -> Result<TlsFiles, Error> {
    let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
    if let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read_to_string(&c), std::fs::read_to_string(&k))
    {
        return Ok(TlsFiles { cert_pem, key_pem });
    }
    let f = generate()?;
    crate::write_private(&c, &f.cert_pem)?;
    crate::write_private(&k, &f.key_pem)?;
    Ok(f)
}

/// A rustls acceptor speaking HTTP/1.1 (ALPN), which kubectl and kube-rs both use.
pub fn acceptor(f: &TlsFiles) -> Result<TlsAcceptor, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(f.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(format!("reading the certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(f.key_pem.as_bytes())
        .map_err(|e| tls_err(format!("reading the key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_err(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Standard base64 (for `certificate-authority-data`).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn certificate_loads_into_rustls() {
        let f = generate().expect("generates");
        assert!(f.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        acceptor(&f).expect("acceptor");
    }
}
