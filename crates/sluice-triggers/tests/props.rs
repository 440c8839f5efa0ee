//! Generated inputs: bodies, headers, binding paths and CEL expressions never panic the sink,
//! and CEL stays within its limits (an expression past them is refused before parsing; one
//! within them parses and runs on the CEL thread's stack without overflowing it).

use proptest::prelude::*;
use serde_json::{Value, json};
use sluice_triggers::{CEL_LIMITS, Event, Headers, NoCaller, ObjectCatalog, cel_syntax, process};

fn catalog(filter: &str, overlay: &str, binding: &str) -> ObjectCatalog {
    ObjectCatalog::new(
        vec![
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ci"},
                   "stringData": {"k": "v"}}),
            json!({"apiVersion": "triggers.tekton.dev/v1beta1", "kind": "EventListener",
                   "metadata": {"name": "el", "namespace": "ci"},
                   "spec": {"triggers": [{
                       "name": "t",
                       "interceptors": [
                           {"ref": {"name": "gitlab"}, "params": [
                               {"name": "secretRef", "value": {"secretName": "s", "secretKey": "k"}}]},
                           {"ref": {"name": "cel"}, "params": [
                               {"name": "filter", "value": filter},
                               {"name": "overlays", "value": [{"key": "o", "expression": overlay}]}]}],
                       "bindings": [{"name": "p", "value": binding}],
                       "template": {"spec": {
                           "params": [{"name": "p"}],
                           "resourcetemplates": [{"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"generateName": "x-"}, "data": {"p": "$(tt.params.p)"}}]}}}]}}),
        ],
        "ci",
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z/\\\\\"<>.$(){} ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// CEL-shaped text: identifiers, literals, calls of Triggers' extensions, operators,
/// brackets (nesting sometimes past the limit), comprehensions.
fn cel_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("body".to_owned()),
        Just("header".to_owned()),
        Just("extensions".to_owned()),
        Just("requestURL".to_owned()),
        Just("body.ref".to_owned()),
        Just("body.a.b".to_owned()),
        Just("'x'".to_owned()),
        Just("1".to_owned()),
        Just("2.5".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{'k': 1}".to_owned()),
        "'[a-z{}()\\[\\]$ ]{0,6}'",
    ];
    leaf.prop_recursive(40, 200, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "in",
                ])
            )
                .prop_map(|(a, b, op)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("[{a}]")),
            inner.clone().prop_map(|a| format!("!{a}")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "split('/')",
                    "truncate(3)",
                    "parseJSON()",
                    "parseYAML()",
                    "parseURL()",
                    "marshalJSON()",
                    "first()",
                    "last()",
                    "size()",
                    "translate('[a-z]', '')",
                    "compareSecret('k', 's')",
                    "startsWith('a')",
                    "decodeb64()",
                    "lowerAscii()",
                    "match('a', 'b')",
                    "canonical('X-A')",
                ])
            )
                .prop_map(|(a, m)| format!("{a}.{m}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.map(x, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.exists(y, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("{a} ? {b} : {c}")),
        ]
    })
}

fn binding_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\$\\((body|header|extensions|context)[.a-zA-Z0-9_\\[\\]*'\"-]{0,16}\\)",
        "[a-z$(){}.\\[\\]]{0,20}",
        Just("$(body)".to_owned()),
        Just("$(extensions.o)".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_sink_never_panics(
        body in prop_oneof![
            4 => (json_value(), json_value(), "refs/heads/[a-z/]{0,10}").prop_map(|(a, b, r)| {
                serde_json::to_vec(&json!({"ref": r, "a": {"b": a}, "c": b})).unwrap_or_default()
            }),
            1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ],
        headers in prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,16}"), 0..6),
        token in prop_oneof![3 => Just("v".to_owned()), 1 => "[a-z]{0,3}"],
        filter in prop_oneof![1 => Just("body.ref.startsWith('refs/')".to_owned()), 2 => cel_expr()],
        overlay in prop_oneof![1 => Just("body.ref.split('/')".to_owned()), 2 => cel_expr()],
        binding in binding_value(),
    ) {
        let c = catalog(&filter, &overlay, &binding);
        let mut h = Headers::from_pairs(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        h.append("X-Gitlab-Token", token);
        let out = process(
            &Event { namespace: "ci", listener: "el", headers: &h, body: &body,
                     url: "http://x/", event_id: "e" },
            &c,
            &NoCaller,
        );
        prop_assert!([202u16, 400, 403, 500].contains(&out.status), "{}", out.status);
        // every outcome is one of the four, with resources only when Created
        for t in &out.triggers {
            prop_assert!(["Created", "Filtered", "Rejected", "Failed"].contains(&t.result.reason()));
        }
        if out.status != 202 {
            prop_assert_eq!(out.resources().count(), 0);
        }
        stats::note(&out);
    }

    #[test]
    fn cel_syntax_is_bounded(expr in cel_expr()) {
        // Whatever the verdict, it comes back (no stack overflow, no panic), and an
        // expression past a static limit is refused with the limit named.
        match cel_syntax(&expr) {
            Ok(()) => {
                prop_assert!(expr.chars().count() <= CEL_LIMITS.max_chars);
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn arbitrary_text_is_not_cel_trouble(expr in "[ -~]{0,200}") {
        let _ = cel_syntax(&expr);
    }
}

/// How often each outcome came up, so a reader can see the generator reaches CEL.
mod stats {
    use std::sync::Mutex;
    pub static SEEN: Mutex<[usize; 5]> = Mutex::new([0; 5]);
    pub fn note(out: &sluice_triggers::EventOutcome) {
        let i = match out.triggers.first().map(|t| t.result.reason()) {
            Some("Created") => 0,
            Some("Filtered") => 1,
            Some("Rejected") => 2,
            Some("Failed") => 3,
            _ => 4,
        };
        if let Ok(mut s) = SEEN.lock() {
            s[i] += 1;
            if s.iter().sum::<usize>() % 128 == 0 {
                println!(
                    "outcomes [created, filtered, rejected, failed, none]: {:?}",
                    *s
                );
            }
        }
    }
}

#[test]
fn deep_and_long_expressions_are_refused_up_front() {
    for (expr, what) in [
        (
            format!("{}1{}", "(".repeat(2000), ")".repeat(2000)),
            "nests brackets",
        ),
        (
            format!("{}1{}", "[".repeat(33), "]".repeat(33)),
            "nests brackets",
        ),
        (format!("1{}", "+1".repeat(4000)), "operators"),
        (format!("'{}'", "a".repeat(9000)), "characters long"),
        (format!("a{}", ".b".repeat(600)), "operators"),
        ("x".repeat(100_000), "characters long"),
    ] {
        let e = cel_syntax(&expr).expect_err("refused");
        assert!(e.contains(what), "{e}");
    }
}
