//! OIDC ID token verifications per second (bench/auth.sh runs this), against a baseline in
//! the same run: verifying the server's own ServiceAccount tokens (`sa::Signer::verify`,
//! ES256), the authenticator every in-cluster client already pays for. Measured: RS256 (the
//! `--oidc-signing-algs` default) with a key set of 1 and of 10 keys (found by kid), ES256,
//! a token of another issuer (the fall-through check every non-OIDC JWT pays) and the work
//! of a hit in the API server's 10 s success cache (issuer check + SHA-256). Peak RSS.
//!
//! `cargo run -p sluice-auth --example oidc_bench [-- N]`

use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sluice_auth::oidc::{KeySet, Options, Verifier, parse_jwks};
use sluice_auth::sa::{KubeClaims, Ref, Signer};

const ISS: &str = "https://issuer.example.com";
const NOW: i64 = 1_800_000_000;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// An RSA key: its JWK and its signing key.
fn rsa(kid: &str) -> (Value, EncodingKey) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("rsa key");
    let der = k.to_pkcs1_der().expect("der").as_bytes().to_vec();
    let pair = ring::rsa::KeyPair::from_der(&der).expect("ring");
    let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    (
        json!({"kty": "RSA", "kid": kid, "n": b64(&c.n), "e": b64(&c.e)}),
        EncodingKey::from_rsa_der(&der),
    )
}

fn ec(kid: &str) -> (Value, EncodingKey) {
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("ec");
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("ec");
    let p = pair.public_key().as_ref();
    (
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&p[1..33]), "y": b64(&p[33..65])}),
        EncodingKey::from_ec_der(pkcs8.as_ref()),
    )
}

fn token(alg: Algorithm, kid: &str, key: &EncodingKey, iss: &str) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.to_owned());
    let claims = json!({"iss": iss, "aud": "kubernetes", "sub": "jane", "exp": NOW + 600,
        "groups": ["developers", "qa"]});
    jsonwebtoken::encode(&h, &claims, key).expect("sign")
}

fn time(n: usize, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        assert!(f());
    }
    t.elapsed()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    // baseline: the server's ServiceAccount tokens
    let sa_key = sluice_auth::sa::generate_key().expect("sa key");
    let signer = Signer::new(&sa_key, "https://kubernetes.default.svc", Vec::new()).expect("sa");
    let kube = KubeClaims {
        namespace: "dev".into(),
        serviceaccount: Ref {
            name: "builder".into(),
            uid: "u1".into(),
        },
        pod: None,
    };
    let sa_token = signer.issue(kube, &[], NOW, 3600, "j").expect("sa token");
    // OIDC: RSA keys (one, then ten with the signing one last), an EC key
    let mut rsa_keys: Vec<(Value, EncodingKey)> = (0..10).map(|i| rsa(&format!("r{i}"))).collect();
    let (ec_jwk, ec_key) = ec("e0");
    let set = |jwks: Vec<Value>| -> KeySet {
        parse_jwks(json!({ "keys": jwks }).to_string().as_bytes()).expect("jwks")
    };
    let (last_jwk, last_key) = rsa_keys.pop().expect("keys");
    let one = set(vec![last_jwk.clone()]);
    let mut all: Vec<Value> = rsa_keys.iter().map(|k| k.0.clone()).collect();
    all.push(last_jwk);
    all.push(ec_jwk);
    let ten = set(all);
    let mut o = Options::new(ISS, "kubernetes");
    o.groups_claim = Some("groups".into());
    o.signing_algs = vec!["RS256".into(), "ES256".into()];
    let v = Verifier::new(&o).expect("verifier");
    let rs = token(Algorithm::RS256, "r9", &last_key, ISS);
    let es = token(Algorithm::ES256, "e0", &ec_key, ISS);
    let other = token(
        Algorithm::RS256,
        "r9",
        &last_key,
        "https://other.example.com",
    );

    let _ = time(n / 10, || signer.verify(&sa_token, NOW).is_ok());
    let base = time(n, || signer.verify(&sa_token, NOW).is_ok());
    let rs1 = time(n, || v.verify(&rs, &one, NOW).is_ok());
    let rs10 = time(n, || v.verify(&rs, &ten, NOW).is_ok());
    let es1 = time(n, || v.verify(&es, &ten, NOW).is_ok());
    let fall = time(n, || !v.is_ours(&other));
    // a hit of the API server's success cache: the issuer check and a SHA-256 of the token
    let hit = time(n, || {
        let d = ring::digest::digest(&ring::digest::SHA256, rs.as_bytes());
        v.is_ours(&rs) && std::hint::black_box(d.as_ref()).len() == 32
    });
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "baseline (ServiceAccount token, ES256): {:.0}/s, {:.2} us each",
        n as f64 / base.as_secs_f64(),
        us(base)
    );
    for (what, d) in [
        ("OIDC RS256, 1 key", rs1),
        ("OIDC RS256, 11 keys by kid", rs10),
        ("OIDC ES256, 11 keys by kid", es1),
        ("not this issuer (fall-through check)", fall),
        ("cache hit (issuer check + SHA-256)", hit),
    ] {
        println!(
            "{what}: {:.0}/s, {:.2} us each; ratio {:.2}x the baseline",
            n as f64 / d.as_secs_f64(),
            us(d),
            us(d) / us(base)
        );
    }
    println!("peak rss: {:.1} MiB", peak_rss_mib());
}
