//! Sprig's certificate and key functions (Masterminds/sprig `crypto.go`): `genPrivateKey`,
//! `genCA`, `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`,
//! `genSignedCert`, `genSignedCertWithKey`, `buildCustomCert`.
//!
//! As Sprig: certificates carry only a common name as subject, a random 128-bit serial,
//! validity from now for `days` days, key usage `keyEncipherment, digitalSignature` (and
//! `certSign` for a CA), extended key usage `serverAuth, clientAuth`, basic constraints;
//! the generated keys are RSA 2048 (`genPrivateKey "rsa"`: 4096), PEM encoded as PKCS #1
//! `RSA PRIVATE KEY`; `ecdsa` keys are P-256 SEC 1 `EC PRIVATE KEY`, `ed25519` keys PKCS #8.
//! `genPrivateKey "dsa"` is reported as not supported.

use std::rc::Rc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use super::funcs::{FnError, to_i64};
use super::{Obj, V};

/// Sprig's `certificate{Cert, Key}`.
#[derive(Debug)]
struct Certificate {
    cert: String,
    key: String,
}

impl Obj for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }
    fn call(&self, name: &str, args: &[V]) -> Option<Result<V, String>> {
        match (name, args) {
            ("Cert", []) => Some(Ok(V::str(self.cert.as_str()))),
            ("Key", []) => Some(Ok(V::str(self.key.as_str()))),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
    fn to_value(&self) -> V {
        let mut m = std::collections::BTreeMap::new();
        m.insert("Cert".to_owned(), V::str(self.cert.as_str()));
        m.insert("Key".to_owned(), V::str(self.key.as_str()));
        V::map(m)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn err(m: impl std::fmt::Display) -> FnError {
    FnError::Msg(m.to_string())
}

/// A signing key and its PEM as Sprig prints it.
struct Key {
    pair: KeyPair,
    pem: String,
}

fn rsa_key(bits: usize) -> Result<Key, FnError> {
    let k = rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(err)?;
    rsa_to_key(&k)
}

fn rsa_to_key(k: &rsa::PrivateKey) -> Result<Key, FnError> {
    let pem = k
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(err)?
        .to_string();
    let der = k.to_pkcs8_der().map_err(err)?;
    let pair = KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(err)?;
    Ok(Key { pair, pem })
}

/// A PEM key as `genCAWithKey` & co. take it (`parsePrivateKeyPEM`: PKCS #1, PKCS #8).
fn key_from_pem(pem: &str) -> Result<Key, FnError> {
    let k = rsa::PrivateKey::from_pkcs1_pem(pem).or_else(|_| rsa::PrivateKey::from_pkcs8_pem(pem));
    match k {
        Ok(k) => {
            let mut key = rsa_to_key(&k)?;
            key.pem = pem.to_owned();
            Ok(key)
        }
        Err(_) => {
            let pair = KeyPair::from_pem(pem)
                .map_err(|_| err("error parsing private key: unsupported key or PEM"))?;
            Ok(Key {
                pair,
                pem: pem.to_owned(),
            })
        }
    }
}

fn serial() -> Result<SerialNumber, FnError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(err)?;
    b[0] &= 0x7f; // a positive INTEGER below 2^128
    Ok(SerialNumber::from_slice(&b))
}

fn strings(v: &V) -> Vec<String> {
    match v {
        V::List(l) => l.borrow().iter().map(V::to_str).collect(),
        V::Nil => Vec::new(),
        other => vec![other.to_str()],
    }
}

/// Sprig's `getBaseCertTemplate`.
fn base_params(cn: &str, ips: &V, dns: &V, days: i64) -> Result<CertificateParams, FnError> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    for d in strings(dns) {
        p.subject_alt_names.push(SanType::DnsName(
            d.try_into()
                .map_err(|_| err("error parsing alternate DNS name"))?,
        ));
    }
    for ip in strings(ips) {
        let a: std::net::IpAddr = ip
            .parse()
            .map_err(|_| err(format!("error parsing ip: {ip}")))?;
        p.subject_alt_names.push(SanType::IpAddress(a));
    }
    p.serial_number = Some(serial()?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    p.not_before = time::OffsetDateTime::from_unix_timestamp(now).map_err(err)?;
    p.not_after = time::OffsetDateTime::from_unix_timestamp(
        now.saturating_add(days.clamp(-1_000_000, 1_000_000) * 86_400),
    )
    .map_err(err)?;
    p.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.is_ca = IsCa::ExplicitNoCa;
    Ok(p)
}

fn cert_value(cert: String, key: String) -> V {
    V::Obj(Rc::new(Certificate { cert, key }))
}

fn ca(cn: &str, days: i64, key: Key) -> Result<V, FnError> {
    let mut p = base_params(cn, &V::Nil, &V::Nil, days)?;
    p.key_usages.push(KeyUsagePurpose::KeyCertSign);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let c = p.self_signed(&key.pair).map_err(err)?;
    Ok(cert_value(c.pem(), key.pem))
}

fn self_signed(cn: &str, ips: &V, dns: &V, days: i64, key: Key) -> Result<V, FnError> {
    let p = base_params(cn, ips, dns, days)?;
    let c = p.self_signed(&key.pair).map_err(err)?;
    Ok(cert_value(c.pem(), key.pem))
}

fn signed(cn: &str, ips: &V, dns: &V, days: i64, ca: &V, key: Key) -> Result<V, FnError> {
    let (ca_cert, ca_key) = match ca {
        V::Obj(o) => match o.as_any().and_then(|a| a.downcast_ref::<Certificate>()) {
            Some(c) => (c.cert.clone(), c.key.clone()),
            None => return Err(wrong_ca(ca)),
        },
        V::Map(m) => {
            let m = m.borrow();
            (
                m.get("Cert").map(V::to_str).unwrap_or_default(),
                m.get("Key").map(V::to_str).unwrap_or_default(),
            )
        }
        other => return Err(wrong_ca(other)),
    };
    let signer = key_from_pem(&ca_key)
        .map_err(|_| err("error parsing ca private key: unsupported key or PEM"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, &signer.pair)
        .map_err(|e| err(format!("error parsing ca certificate: {e}")))?;
    let p = base_params(cn, ips, dns, days)?;
    let c = p.signed_by(&key.pair, &issuer).map_err(err)?;
    Ok(cert_value(c.pem(), key.pem))
}

fn wrong_ca(v: &V) -> FnError {
    FnError::Go(format!(
        "wrong type for value; expected sprig.certificate; got {}",
        v.type_name()
    ))
}

/// `genPrivateKey`.
fn private_key(kind: &str) -> Result<V, FnError> {
    match kind {
        "rsa" => Ok(V::str(rsa_key(4096)?.pem)),
        "ecdsa" => {
            let rng = ring::rand::SystemRandom::new();
            let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &rng,
            )
            .map_err(|_| err("ecdsa key generation failed"))?;
            Ok(V::str(sec1_pem(doc.as_ref())?))
        }
        "ed25519" => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(err)?;
            // x509.MarshalPKCS8PrivateKey: version 0, id-Ed25519, the seed
            let mut der = vec![
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            der.extend_from_slice(&seed);
            Ok(V::str(pem_encode("PRIVATE KEY", &der)))
        }
        "dsa" => Err(FnError::Unsupported),
        _ => Ok(V::str("Unknown type ".to_owned() + kind)),
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads one DER TLV at `b`: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l0 = *b.get(1)?;
    let (len, hdr) = if l0 < 0x80 {
        (l0 as usize, 2)
    } else {
        let n = (l0 & 0x7f) as usize;
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = b.get(hdr..hdr + len)?;
    Some((tag, content, &b[hdr + len..]))
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(content.len()));
    v.extend_from_slice(content);
    v
}

/// ring's P-256 PKCS #8 document as Go's `x509.MarshalECPrivateKey` writes the key (SEC 1
/// with the curve and the public key).
fn sec1_pem(pkcs8: &[u8]) -> Result<String, FnError> {
    let bad = || err("ecdsa key encoding failed");
    let (_, seq, _) = tlv(pkcs8).ok_or_else(bad)?;
    let (_, _version, rest) = tlv(seq).ok_or_else(bad)?;
    let (_, _alg, rest) = tlv(rest).ok_or_else(bad)?;
    let (_, inner, _) = tlv(rest).ok_or_else(bad)?; // OCTET STRING: ECPrivateKey
    let (_, ec, _) = tlv(inner).ok_or_else(bad)?;
    let (_, _v, rest) = tlv(ec).ok_or_else(bad)?;
    let (_, priv_key, mut rest) = tlv(rest).ok_or_else(bad)?;
    let mut public = None;
    while let Some((tag, c, r)) = tlv(rest) {
        if tag == 0xa1 {
            public = Some(c.to_vec());
        }
        rest = r;
    }
    let public = public.ok_or_else(bad)?;
    // prime256v1
    let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend(der(0x04, priv_key));
    body.extend(der(0xa0, &oid));
    body.extend(der(0xa1, &public));
    Ok(pem_encode("EC PRIVATE KEY", &der(0x30, &body)))
}

/// The certificate functions; `None` for any other name.
pub fn call(name: &str, a: &[V]) -> Option<Result<V, FnError>> {
    let s = |i: usize| a.get(i).map(V::to_str).unwrap_or_default();
    let arg = |i: usize| a.get(i).cloned().unwrap_or(V::Nil);
    let n = |i: usize| a.get(i).map(to_i64).unwrap_or(0);
    let want = |k: usize| -> Result<(), FnError> {
        if a.len() != k {
            return Err(FnError::Go(format!(
                "wrong number of args for {name}: want {k} got {}",
                a.len()
            )));
        }
        Ok(())
    };
    let r = match name {
        "genPrivateKey" => want(1).and_then(|_| private_key(&s(0))),
        "genCA" => want(2).and_then(|_| ca(&s(0), n(1), rsa_key(2048)?)),
        "genCAWithKey" => want(3).and_then(|_| ca(&s(0), n(1), key_from_pem(&s(2))?)),
        "genSelfSignedCert" => {
            want(4).and_then(|_| self_signed(&s(0), &arg(1), &arg(2), n(3), rsa_key(2048)?))
        }
        "genSelfSignedCertWithKey" => {
            want(5).and_then(|_| self_signed(&s(0), &arg(1), &arg(2), n(3), key_from_pem(&s(4))?))
        }
        "genSignedCert" => {
            want(5).and_then(|_| signed(&s(0), &arg(1), &arg(2), n(3), &arg(4), rsa_key(2048)?))
        }
        "genSignedCertWithKey" => want(6)
            .and_then(|_| signed(&s(0), &arg(1), &arg(2), n(3), &arg(4), key_from_pem(&s(5))?)),
        "buildCustomCert" => want(2).and_then(|_| {
            use base64::Engine as _;
            let dec = |x: String, what: &str| {
                base64::engine::general_purpose::STANDARD
                    .decode(x)
                    .map_err(|e| err(format!("unable to decode base64 {what}: {e}")))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            };
            let cert = dec(s(0), "certificate")?;
            let key = dec(s(1), "private key")?;
            if !cert.contains("-----BEGIN CERTIFICATE-----") {
                return Err(err("unable to decode certificate"));
            }
            key_from_pem(&key).map_err(|_| err("unable to decode private key"))?;
            Ok(cert_value(cert, key))
        }),
        _ => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &V, f: &str) -> String {
        match v {
            V::Obj(o) => match o.call(f, &[]) {
                Some(Ok(x)) => x.to_str(),
                _ => String::new(),
            },
            _ => String::new(),
        }
    }

    #[test]
    fn ca_signs_a_certificate() {
        let ca = call("genCA", &[V::str("my-ca"), V::Int(365)])
            .and_then(Result::ok)
            .expect("genCA");
        assert!(field(&ca, "Cert").starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(field(&ca, "Key").starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let leaf = call(
            "genSignedCert",
            &[
                V::str("svc"),
                V::list(vec![V::str("10.0.0.1")]),
                V::list(vec![V::str("svc.ns.svc")]),
                V::Int(30),
                ca,
            ],
        )
        .and_then(Result::ok)
        .expect("genSignedCert");
        assert!(field(&leaf, "Cert").contains("CERTIFICATE"));
        let bad = call(
            "genSignedCert",
            &[V::str("x"), V::Nil, V::Nil, V::Int(1), V::Int(3)],
        )
        .expect("known");
        assert!(bad.is_err());
    }

    #[test]
    fn private_keys() {
        for (k, label) in [("ecdsa", "EC PRIVATE KEY"), ("ed25519", "PRIVATE KEY")] {
            let v = call("genPrivateKey", &[V::str(k)])
                .and_then(Result::ok)
                .expect("key");
            let pem = v.to_str();
            assert!(
                pem.starts_with(&format!("-----BEGIN {label}-----\n")),
                "{pem}"
            );
            // what Sprig's genSelfSignedCertWithKey would read back
            if k == "ecdsa" {
                assert!(pem.len() > 200);
            }
        }
        assert!(matches!(
            call("genPrivateKey", &[V::str("dsa")]),
            Some(Err(FnError::Unsupported))
        ));
    }
}
