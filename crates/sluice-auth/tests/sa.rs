//! ServiceAccount tokens as kube-apiserver's (kubernetes pkg/serviceaccount/claims.go and
//! jwt.go): issuer and audience checked, expiry with go-jose's one minute leeway, the
//! user `system:serviceaccount:NS:NAME` in groups system:serviceaccounts[:NS].

use sluice_auth::sa::{KubeClaims, Ref, Signer, generate_key};

fn claims(ns: &str, name: &str) -> KubeClaims {
    KubeClaims {
        namespace: ns.into(),
        serviceaccount: Ref {
            name: name.into(),
            uid: "u-1".into(),
        },
        pod: None,
    }
}

#[test]
fn issue_and_verify() {
    let key = generate_key().expect("key");
    let s = Signer::new(&key, "https://sluice.local", vec![]).expect("signer");
    let now = 1_800_000_000;
    let t = s
        .issue(claims("ci", "builder"), &[], now, 3600, "j1")
        .expect("token");
    assert!(s.is_ours(&t));
    let c = s.verify(&t, now + 10).expect("valid");
    let u = c.user();
    assert_eq!(u.username, "system:serviceaccount:ci:builder");
    assert_eq!(u.uid, "u-1");
    assert_eq!(
        u.groups,
        vec!["system:serviceaccounts", "system:serviceaccounts:ci"]
    );
    assert_eq!(
        c.aud,
        vec!["https://sluice.local"],
        "the issuer is the default audience"
    );
    // expiry, with one minute of leeway
    assert!(s.verify(&t, now + 3600 + 59).is_ok());
    let e = s.verify(&t, now + 3600 + 61).expect_err("expired");
    assert!(e.to_string().contains("expired"));
    assert!(s.verify(&t, now - 120).is_err(), "not yet valid");
    // another audience is refused, one of ours is accepted
    let other = s
        .issue(
            claims("ci", "builder"),
            &["vault".to_string()],
            now,
            600,
            "j2",
        )
        .expect("token");
    assert!(
        s.verify(&other, now)
            .expect_err("audience")
            .to_string()
            .contains("audience")
    );
    // another key's token is refused; another issuer's is not ours
    let s2 = Signer::new(
        &generate_key().expect("key"),
        "https://sluice.local",
        vec![],
    )
    .expect("signer");
    assert!(
        s2.verify(&t, now)
            .expect_err("signature")
            .to_string()
            .contains("signature")
    );
    let s3 = Signer::new(&key, "https://other", vec![]).expect("signer");
    assert!(!s3.is_ours(&t));
    assert!(s3.verify(&t, now).is_err());
    // garbage
    assert!(s.verify("not.a.jwt", now).is_err());
    assert!(!s.is_ours("abc"));
    assert!(Signer::new(b"junk", "x", vec![]).is_err());
}
