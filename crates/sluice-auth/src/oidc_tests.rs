//! Pins kube-apiserver's OIDC authenticator: kubernetes
//! staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go (issuer
//! fall-through, username/email_verified, groups as a string or a list, required claims),
//! pkg/kubeapiserver/options/authentication.go (flag defaults, the username prefix: the
//! issuer URL and `#` for claims other than email, `-` for none) and go-oidc v3
//! oidc/verify.go (exp without leeway, nbf with five minutes, iat unchecked, audience).

use super::*;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use std::sync::OnceLock;

const ISS: &str = "https://issuer.example.com";
const NOW: i64 = 1_800_000_000;

struct TestKey {
    enc: EncodingKey,
    jwk: Value,
    alg: Algorithm,
}

fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn rsa_der() -> &'static [Vec<u8>] {
    static KEYS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        (0..2)
            .map(|_| {
                let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("rsa key");
                k.to_pkcs1_der().expect("der").as_bytes().to_vec()
            })
            .collect()
    })
}

fn rsa_key(i: usize, kid: Option<&str>) -> TestKey {
    let der = &rsa_der()[i];
    let pair = ring::rsa::KeyPair::from_der(der).expect("ring rsa");
    let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    let mut jwk = json!({"kty": "RSA", "use": "sig", "n": b64u(&c.n), "e": b64u(&c.e)});
    if let Some(k) = kid {
        jwk["kid"] = json!(k);
    }
    TestKey {
        enc: EncodingKey::from_rsa_der(der),
        jwk,
        alg: Algorithm::RS256,
    }
}

fn ec_key(kid: &str) -> TestKey {
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("ec");
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("ec");
    let p = pair.public_key().as_ref();
    TestKey {
        enc: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64u(&p[1..33]), "y": b64u(&p[33..65])}),
        alg: Algorithm::ES256,
    }
}

fn sign(k: &TestKey, claims: &Value) -> String {
    let mut h = Header::new(k.alg);
    h.kid = k.jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &k.enc).expect("sign")
}

fn jwks(keys: &[&TestKey]) -> KeySet {
    let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    parse_jwks(doc.to_string().as_bytes()).expect("jwks")
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": "kubernetes", "sub": "jane-id", "email": "jane@example.com",
        "exp": NOW + 600, "iat": NOW - 10, "nbf": NOW - 10, "groups": ["developers", "qa"],
    })
}

fn opts() -> Options {
    let mut o = Options::new(ISS, "kubernetes");
    o.groups_claim = Some("groups".into());
    o
}

fn verify(o: &Options, token: &str, keys: &KeySet) -> Result<UserInfo, OidcError> {
    Verifier::new(o).expect("options").verify(token, keys, NOW)
}

#[test]
fn good_token_default_prefix_is_issuer_hash() {
    let k = rsa_key(0, Some("k1"));
    let u = verify(&opts(), &sign(&k, &claims()), &jwks(&[&k])).expect("valid");
    // authentication.go: "username claims other than 'email' are prefixed by the issuer URL"
    assert_eq!(u.username, "https://issuer.example.com#jane-id");
    assert_eq!(u.groups, ["developers", "qa"]);
    assert!(u.uid.is_empty() && u.extra.is_empty());
    // oidc.go getCredentialID: the jti as the credential id
    let mut c = claims();
    c["jti"] = json!("abc-123");
    let u = verify(&opts(), &sign(&k, &c), &jwks(&[&k])).expect("valid");
    assert_eq!(
        u.extra.get("authentication.kubernetes.io/credential-id"),
        Some(&vec!["JTI=abc-123".to_owned()])
    );
}

#[test]
fn username_prefixes() {
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let t = sign(&k, &claims());
    let mut o = opts();
    o.username_prefix = Some("-".into()); // "To skip any prefixing, provide the value '-'"
    assert_eq!(verify(&o, &t, &keys).expect("ok").username, "jane-id");
    o.username_prefix = Some("oidc:".into());
    assert_eq!(verify(&o, &t, &keys).expect("ok").username, "oidc:jane-id");
    // the email claim is not prefixed by default
    let mut o = opts();
    o.username_claim = "email".into();
    assert_eq!(
        verify(&o, &t, &keys).expect("ok").username,
        "jane@example.com"
    );
    o.username_prefix = Some("corp:".into());
    assert_eq!(
        verify(&o, &t, &keys).expect("ok").username,
        "corp:jane@example.com"
    );
    // an empty prefix is the default (flag given as "")
    let mut o = opts();
    o.username_prefix = Some(String::new());
    assert_eq!(
        verify(&o, &t, &keys).expect("ok").username,
        "https://issuer.example.com#jane-id"
    );
}

#[test]
fn groups_string_list_prefix_absent() {
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let mut c = claims();
    c["groups"] = json!("developers"); // kubernetes/kubernetes#33290: a single string
    let mut o = opts();
    o.groups_prefix = "oidc:".into();
    assert_eq!(
        verify(&o, &sign(&k, &c), &keys).expect("ok").groups,
        ["oidc:developers"]
    );
    c["groups"] = json!(["a", "b"]);
    assert_eq!(
        verify(&o, &sign(&k, &c), &keys).expect("ok").groups,
        ["oidc:a", "oidc:b"]
    );
    c.as_object_mut().expect("object").remove("groups");
    assert!(
        verify(&o, &sign(&k, &c), &keys)
            .expect("ok")
            .groups
            .is_empty()
    );
    c["groups"] = json!(7);
    assert!(matches!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::GroupsClaim { .. })
    ));
    // no --oidc-groups-claim: no groups
    let mut o = opts();
    o.groups_claim = None;
    assert!(
        verify(&o, &sign(&k, &claims()), &keys)
            .expect("ok")
            .groups
            .is_empty()
    );
}

#[test]
fn times_exp_no_leeway_nbf_five_minutes_iat_unchecked() {
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        verify(&opts(), &sign(&k, &c), &keys)
    };
    assert!(matches!(
        with(&|c| c["exp"] = json!(NOW - 1)),
        Err(OidcError::Expired { .. })
    ));
    assert!(
        with(&|c| c["exp"] = json!(NOW)).is_ok(),
        "expired only once before now"
    );
    assert!(matches!(
        with(&|c| {
            c.as_object_mut().expect("object").remove("exp");
        }),
        Err(OidcError::Expired { .. })
    ));
    assert!(matches!(
        with(&|c| c["nbf"] = json!(NOW + 301)),
        Err(OidcError::NotYetValid { .. })
    ));
    assert!(
        with(&|c| c["nbf"] = json!(NOW + 300)).is_ok(),
        "five minutes of skew"
    );
    assert!(
        with(&|c| c["iat"] = json!(NOW + 3600)).is_ok(),
        "go-oidc does not check iat"
    );
    assert!(
        with(&|c| c["exp"] = json!((NOW + 5) as f64 + 0.5)).is_ok(),
        "float seconds"
    );
}

#[test]
fn wrong_issuer_and_audience() {
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let mut c = claims();
    c["iss"] = json!("https://other.example.com");
    let t = sign(&k, &c);
    assert!(matches!(
        verify(&opts(), &t, &keys),
        Err(OidcError::Issuer { .. })
    ));
    assert!(
        !Verifier::new(&opts()).expect("ok").is_ours(&t),
        "falls through"
    );
    let mut c = claims();
    c["aud"] = json!(["argo-cd", "grafana"]);
    assert!(matches!(
        verify(&opts(), &sign(&k, &c), &keys),
        Err(OidcError::Audience { .. })
    ));
    c["aud"] = json!(["argo-cd", "kubernetes"]);
    assert!(
        verify(&opts(), &sign(&k, &c), &keys).is_ok(),
        "aud as a list"
    );
    c.as_object_mut().expect("object").remove("aud");
    assert!(matches!(
        verify(&opts(), &sign(&k, &c), &keys),
        Err(OidcError::Audience { .. })
    ));
}

#[test]
fn signature_kid_and_rotation() {
    let k1 = rsa_key(0, Some("k1"));
    let forged = rsa_key(1, Some("k1")); // another key claiming kid k1
    let keys = jwks(&[&k1]);
    assert_eq!(
        verify(&opts(), &sign(&forged, &claims()), &keys),
        Err(OidcError::Signature)
    );
    // a tampered payload
    let t = sign(&k1, &claims());
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    let mut c = claims();
    c["sub"] = json!("admin");
    parts[1] = b64u(c.to_string().as_bytes());
    assert_eq!(
        verify(&opts(), &parts.join("."), &keys),
        Err(OidcError::Signature)
    );
    // a new kid: unknown until the keys are fetched again
    let k2 = rsa_key(1, Some("k2"));
    let e = verify(&opts(), &sign(&k2, &claims()), &keys).expect_err("unknown kid");
    assert_eq!(e, OidcError::UnknownKey(Some("k2".into())));
    assert!(e.rotation_may_help());
    assert!(verify(&opts(), &sign(&k2, &claims()), &jwks(&[&k1, &k2])).is_ok());
    // no kid: every key is tried
    let anon = rsa_key(1, None);
    assert!(verify(&opts(), &sign(&anon, &claims()), &jwks(&[&k1, &k2])).is_ok());
    assert_eq!(
        verify(&opts(), &sign(&anon, &claims()), &jwks(&[&k1])),
        Err(OidcError::UnknownKey(None))
    );
}

#[test]
fn es256_only_when_allowed() {
    let k = ec_key("ec1");
    let keys = jwks(&[&k]);
    let t = sign(&k, &claims());
    // --oidc-signing-algs defaults to RS256
    assert!(matches!(
        verify(&opts(), &t, &keys),
        Err(OidcError::Algorithm { .. })
    ));
    let mut o = opts();
    o.signing_algs = vec!["RS256".into(), "ES256".into()];
    assert_eq!(
        verify(&o, &t, &keys).expect("ok").username,
        "https://issuer.example.com#jane-id"
    );
    // an RSA key under the EC key's kid does not verify an ES256 token
    let mut r = rsa_key(0, Some("ec1"));
    r.jwk["kid"] = json!("ec1");
    assert_eq!(verify(&o, &t, &jwks(&[&r])), Err(OidcError::Signature));
}

#[test]
fn email_verified() {
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let mut o = opts();
    o.username_claim = "email".into();
    let mut c = claims();
    c["email_verified"] = json!(false);
    assert_eq!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::EmailNotVerified)
    );
    c["email_verified"] = json!("true");
    assert!(matches!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::EmailVerifiedClaim(_))
    ));
    c["email_verified"] = json!(true);
    assert!(verify(&o, &sign(&k, &c), &keys).is_ok());
    // only checked when the username claim is email
    c["email_verified"] = json!(false);
    assert!(verify(&opts(), &sign(&k, &c), &keys).is_ok());
    // a missing username claim
    let mut o = opts();
    o.username_claim = "preferred_username".into();
    assert!(matches!(
        verify(&o, &sign(&k, &claims()), &keys),
        Err(OidcError::UsernameClaim { .. })
    ));
}

#[test]
fn required_claims() {
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let mut o = opts();
    let (key, value) = parse_required_claim("hd=example.com").expect("key=value");
    o.required_claims.insert(key, value);
    let mut c = claims();
    assert_eq!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::RequiredClaimMissing("hd".into()))
    );
    c["hd"] = json!("evil.com");
    assert!(matches!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::RequiredClaimMismatch { .. })
    ));
    c["hd"] = json!(["example.com"]);
    assert_eq!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::RequiredClaimType("hd".into()))
    );
    c["hd"] = json!("example.com");
    assert!(verify(&o, &sign(&k, &c), &keys).is_ok());
    assert_eq!(
        parse_required_claim("a=b=c").expect("ok"),
        ("a".into(), "b=c".into())
    );
    assert!(parse_required_claim("novalue").is_err());
}

#[test]
fn options_are_checked() {
    let bad = |o: Options| Verifier::new(&o).expect_err("invalid");
    assert!(matches!(
        bad(Options::new("http://issuer", "k")),
        OidcError::Config {
            flag: "--oidc-issuer-url",
            ..
        }
    ));
    assert!(matches!(
        bad(Options::new("https://issuer?x=1", "k")),
        OidcError::Config { .. }
    ));
    assert!(matches!(
        bad(Options::new(ISS, "")),
        OidcError::Config {
            flag: "--oidc-client-id",
            ..
        }
    ));
    let mut o = opts();
    o.signing_algs = vec!["HS256".into()];
    assert!(matches!(
        bad(o),
        OidcError::Config {
            flag: "--oidc-signing-algs",
            ..
        }
    ));
}

#[test]
fn documents() {
    let d = parse_discovery(
        ISS,
        br#"{"issuer":"https://issuer.example.com","jwks_uri":"https://issuer.example.com/keys"}"#,
    )
    .expect("discovery");
    assert_eq!(d.jwks_uri, "https://issuer.example.com/keys");
    assert!(parse_discovery(ISS, br#"{"issuer":"https://evil","jwks_uri":"x"}"#).is_err());
    assert!(parse_discovery(ISS, b"[]").is_err());
    assert_eq!(
        discovery_url("https://issuer.example.com/"),
        "https://issuer.example.com/.well-known/openid-configuration"
    );
    let k = rsa_key(0, Some("k1"));
    let doc = json!({"keys": [
        k.jwk,
        {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed25519", "x": "abc"},
        {"kty": "EC", "crv": "P-521", "x": "a", "y": "b"},
        "junk",
    ]});
    let set = parse_jwks(doc.to_string().as_bytes()).expect("jwks");
    assert_eq!(set.kids(), ["k1"]);
    assert_eq!(set.skipped.len(), 4, "{:?}", set.skipped);
    assert!(parse_jwks(b"{}").is_err());
}

#[test]
fn not_a_jwt_falls_through() {
    let v = Verifier::new(&opts()).expect("ok");
    for t in [
        "",
        "abc",
        "a.b",
        "{\"iss\":1}.x.y",
        "a.!!!.c",
        "plain-token",
    ] {
        assert!(!v.is_ours(t), "{t}");
        assert!(matches!(
            v.verify(t, &KeySet::default(), NOW),
            Err(OidcError::Malformed(_))
        ));
    }
    // Google's legacy issuer is coalesced
    let t = format!("x.{}.y", b64u(br#"{"iss":"accounts.google.com"}"#));
    assert_eq!(
        untrusted_issuer(&t).as_deref(),
        Some("https://accounts.google.com")
    );
}

proptest::proptest! {
    #[test]
    fn never_panics(token in "[A-Za-z0-9_.\\-{}\"]{0,200}", body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let v = Verifier::new(&opts()).expect("ok");
        let _ = v.verify(&token, &KeySet::default(), NOW);
        let _ = v.is_ours(&token);
        let _ = parse_jwks(&body);
        let _ = parse_discovery(ISS, &body);
        // well-formed segments with arbitrary JSON-ish payloads
        let t = format!("{}.{}.{}", b64u(br#"{"alg":"RS256","kid":"k"}"#), b64u(&body), b64u(&body));
        let _ = v.verify(&t, &KeySet::default(), NOW);
    }
}

/// argo-cd util/settings/settings.go: `ReplaceStringSecret` ($key of argocd-secret, trimmed;
/// unknown keys left as they are) and `OAuth2AllowedAudiences` (allowedAudiences, else
/// clientID and cliClientID); encoding/json matches field names case-insensitively.
#[test]
fn argocd_cm_oidc_config() {
    let secrets = |k: &str| match k {
        "oidc.keycloak.clientSecret" => Some("s3cret\n".to_owned()),
        "sso:client-id" => Some("argo".to_owned()),
        _ => None,
    };
    let cfg = json!({
        "name": "Keycloak", "issuer": ISS, "clientId": "$sso:client-id",
        "clientSecret": "$oidc.keycloak.clientSecret", "cliClientID": "argo-cli",
        "rootCA": "-----BEGIN CERTIFICATE-----", "requestedScopes": ["openid", "groups"],
    });
    let a = argocd_oidc_config(&cfg, &secrets).expect("config");
    assert_eq!(a.client_id, "argo");
    assert_eq!(a.client_secret.as_deref(), Some("s3cret"));
    assert_eq!(a.audiences, ["argo", "argo-cli"]);
    assert!(a.root_ca.is_some());
    let o = a.options();
    assert_eq!(
        (o.client_id.as_str(), o.extra_audiences.as_slice()),
        ("argo", &["argo-cli".to_owned()][..])
    );
    // a token for the CLI client is accepted, one for another client is not
    let k = rsa_key(0, Some("k1"));
    let keys = jwks(&[&k]);
    let mut c = claims();
    c["aud"] = json!("argo-cli");
    assert!(verify(&o, &sign(&k, &c), &keys).is_ok());
    c["aud"] = json!("kubernetes");
    assert!(matches!(
        verify(&o, &sign(&k, &c), &keys),
        Err(OidcError::Audience { .. })
    ));
    // allowedAudiences replaces the default list
    let cfg = json!({"issuer": ISS, "clientID": "argo", "allowedAudiences": ["a", "b"]});
    assert_eq!(
        argocd_oidc_config(&cfg, &secrets)
            .expect("config")
            .audiences,
        ["a", "b"]
    );
    // an unknown reference stays as written; required fields
    assert_eq!(replace_secret("$nope", &secrets), "$nope");
    assert_eq!(replace_secret("plain", &secrets), "plain");
    assert!(argocd_oidc_config(&json!({"clientID": "x"}), &secrets).is_err());
    assert!(argocd_oidc_config(&json!({"issuer": ISS}), &secrets).is_err());
    assert!(argocd_oidc_config(&json!({"issuer": ISS, "clientID": 3}), &secrets).is_err());
    assert!(argocd_oidc_config(&json!("text"), &secrets).is_err());
}
