//! Property tests of every parser facing the network: names, tags, digests, references,
//! routes, query strings, Content-Range and manifests never panic, and what they accept
//! round-trips (the spec's grammars: distribution-spec spec.md "Pulling manifests",
//! image-spec descriptor.md "Digests").

use proptest::prelude::*;
use sluice_registry::manifest;
use sluice_registry::reference::{Digest, Reference, valid_name, valid_tag};
use sluice_registry::route;

fn component() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,3}")
        .expect("regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
        let _ = valid_name(&s);
        let _ = valid_tag(&s);
        let _ = Digest::parse(&s);
        let _ = Reference::parse(&s);
        let _ = route::parse(&s);
        let _ = route::parse(&format!("/v2/{s}"));
        let _ = route::query_param(Some(&s), "n");
        let _ = sluice_registry::http::parse_content_range(&s);
        let _ = sluice_registry::http::parse_range(&s, 100);
        let _ = sluice_registry::http::parse_range(&format!("bytes={s}"), 100);
        let _ = sluice_registry::auth::parse_scope(&s);
        let _ = route::query_params(Some(&s), "scope");
        let a = sluice_registry::Auth { token: Some("t".into()), ..Default::default() };
        let _ = a.verify(&s, 0);
        let _ = a.verify(&format!("sr1.{s}"), 0);
        let need = [sluice_registry::auth::Need::Any];
        let _ = a.decide(Some(&s), &need, true, 0);
        let _ = a.decide(Some(&format!("Bearer sr1.{s}")), &need, true, 0);
        let _ = a.grant(Some(&s), std::slice::from_ref(&s));
        let _ = manifest::parse(s.as_bytes(), None);
    }

    #[test]
    fn spec_shaped_names_are_valid_and_route(parts in proptest::collection::vec(component(), 1..4)) {
        let name = parts.join("/");
        prop_assert!(valid_name(&name));
        let r = route::parse(&format!("/v2/{name}/manifests/latest"));
        prop_assert_eq!(
            r,
            Some(Ok(route::Route::Manifest { name: name.clone(), reference: Reference::Tag("latest".into()) }))
        );
        let r = route::parse(&format!("/v2/{name}/blobs/uploads/abc"));
        prop_assert_eq!(r, Some(Ok(route::Route::Upload { name, id: "abc".into() })));
    }

    #[test]
    fn names_with_a_bad_character_are_refused(a in component(), c in "[A-Z:@ #%?]", b in component()) {
        let n = format!("{a}{c}{b}");
        prop_assert!(!valid_name(&n));
    }

    #[test]
    fn digests_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let d = Digest::sha256_of(&bytes);
        prop_assert_eq!(Digest::parse(&d.to_string()), Ok(d.clone()));
        prop_assert_eq!(Reference::parse(&d.to_string()), Some(Ok(Reference::Digest(d))));
    }

    #[test]
    fn tags_match_the_spec_regex(t in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}") {
        prop_assert!(valid_tag(&t));
        prop_assert_eq!(Reference::parse(&t), Some(Ok(Reference::Tag(t.clone()))));
    }

    #[test]
    fn json_manifests_never_panic(v in arb_json()) {
        let _ = manifest::parse(v.to_string().as_bytes(), Some(manifest::OCI_MANIFEST));
        let _ = manifest::parse(v.to_string().as_bytes(), Some(manifest::OCI_INDEX));
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        "(sha256:[0-9a-f]{64}|[a-z/.+]{0,12})".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                "(schemaVersion|mediaType|config|layers|manifests|subject|digest|size|artifactType)",
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    // a range the parser accepts lies inside the blob and is what the header asked for
    // (Go net/http parseRange's arithmetic)
    #[test]
    fn byte_ranges_stay_inside_the_blob(a in 0u64..300, b in 0u64..300, size in 0u64..200, form in 0u8..3) {
        use sluice_registry::http::{ByteRange, parse_range};
        let h = match form {
            0 => format!("bytes={a}-{b}"),
            1 => format!("bytes={a}-"),
            _ => format!("bytes=-{a}"),
        };
        match parse_range(&h, size) {
            ByteRange::Part { start, len } => {
                prop_assert!(len > 0 && start + len <= size);
                match form {
                    0 => prop_assert_eq!((start, len), (a, b.min(size - 1) - a + 1)),
                    1 => prop_assert_eq!((start, len), (a, size - a)),
                    _ => prop_assert_eq!((start, len), (size - a.min(size), a.min(size))),
                }
            }
            ByteRange::Unsatisfiable => prop_assert!(
                (form < 2 && a >= size) || (form == 0 && b < a) || (form == 2 && (a == 0 || size == 0))
            ),
            ByteRange::Full => prop_assert!(false, "one range is never Full"),
        }
    }
}
