//! Property tests: the condition parser and evaluator never panic and stay within their
//! budget on generated input; the metric state machine never panics and keeps its counters
//! consistent whatever the providers return.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::json;
use sluice_rollouts::analysis::{
    Condition, Outcome, Phase, RunSpec, RunStatus, Value, advance, due,
};

/// Pieces conditions are made of, so generated input reaches deep into the grammar.
const PIECES: &[&str] = &[
    "result",
    "result[0]",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "#",
    ".",
    "?.",
    ",",
    ":",
    "?",
    "0",
    "1",
    "-1",
    "0.95",
    "500",
    "1e3",
    "'a'",
    "\"b\"",
    "true",
    "false",
    "nil",
    "&&",
    "||",
    "and",
    "or",
    "not",
    "!",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "^",
    "len(",
    "all(",
    "any(",
    "none(",
    "one(",
    "filter(",
    "map(",
    "count(",
    "isNaN(",
    "isInf(",
    "isNil(",
    "default(",
    "asInt(",
    "asFloat(",
    "abs(",
    "int(",
    "float(",
    "string(",
    "max(",
    "min(",
    "contains",
    "startsWith",
    ".x",
    "..",
    "??",
    "matches",
    "é",
    "\\",
    "`",
];

fn results() -> Vec<Value> {
    vec![
        Value::Nil,
        Value::Float(f64::NAN),
        Value::Float(0.97),
        Value::Int(3),
        Value::Str("12".into()),
        Value::Array(vec![]),
        Value::Array(
            (0..200)
                .map(|i| Value::Float(f64::from(i) / 100.0))
                .collect(),
        ),
        Value::from_json(&json!({"x": [1, 2, {"x": "y"}], "a": null})),
    ]
}

fn check(src: &str) {
    if let Ok(c) = Condition::parse(src) {
        for r in results() {
            let start = Instant::now();
            let _ = c.eval_with_budget(&r, 20_000);
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{src:?} took {:?}",
                start.elapsed()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
        check(&pieces.join(" "));
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
        check(&s);
    }

    #[test]
    fn nested_predicates_stay_within_budget(depth in 1usize..8, n in 0usize..400) {
        // all(result, {all(result, {... # >= 0 ...})}): n^depth iterations unbounded
        let mut body = "# >= 0".to_string();
        for _ in 0..depth {
            body = format!("all(result, {{{body}}})");
        }
        let c = Condition::parse(&body).unwrap();
        let r = Value::Array((0..n).map(|i| Value::Int(i as i64)).collect());
        let start = Instant::now();
        let out = c.eval_with_budget(&r, 50_000);
        prop_assert!(start.elapsed() < Duration::from_secs(2));
        if let Err(e) = out {
            prop_assert!(e.0.contains("budget"), "{}", e);
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed(depth in 1usize..5_000, which in 0usize..4) {
        let open = ["(", "[", "-", "!"][which];
        let close = [")", "]", "", ""][which];
        let src = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        check(&src);
    }

    #[test]
    fn state_machine_keeps_its_books(
        outcomes in prop::collection::vec(0u8..5, 1..60),
        count in prop::option::of(1i64..20),
        failure_limit in 0i64..4,
        both in any::<bool>(),
    ) {
        let mut m = json!({
            "name": "m", "interval": "30s", "failureLimit": failure_limit,
            "successCondition": "result[0] >= 0.95",
            "provider": {"prometheus": {"query": "q"}}
        });
        if let Some(c) = count {
            m["count"] = json!(c.max(failure_limit));
        }
        if both {
            m["failureCondition"] = json!("result[0] < 0.5");
        }
        let spec = RunSpec::from_json(&json!({"metrics": [m], "measurementRetention": [{"metricName": "m", "limit": 5}]})).unwrap();
        let mut status = RunStatus::default();
        let mut now = 1_700_000_000_000i64;
        for o in &outcomes {
            let outcome = match o {
                0 => Outcome::prometheus_vector(&[0.99]),
                1 => Outcome::prometheus_vector(&[0.7]),
                2 => Outcome::prometheus_vector(&[f64::NAN]),
                3 => Outcome::prometheus_vector(&[]),
                _ => Outcome::Error("connection refused".into()),
            };
            let tasks = due(&spec, &status, now);
            let given: Vec<_> = tasks.iter().map(|t| (t.metric.clone(), outcome.clone())).collect();
            let r = advance(&spec, &status, now, &given);
            status = r.status;
            for res in &status.metric_results {
                prop_assert_eq!(res.count, res.successful + res.failed + res.inconclusive);
                prop_assert!(res.consecutive_error <= res.error);
                prop_assert!(res.measurements.len() <= 5);
            }
            match r.requeue_at {
                Some(t) => { prop_assert!(t >= now); now = t; }
                None => { prop_assert!(status.phase.completed()); break; }
            }
            // what the JSON says is what the machine sees
            prop_assert_eq!(RunStatus::from_json(&status.to_json()).unwrap(), status.clone());
        }
        if status.phase.completed() {
            prop_assert!(matches!(status.phase, Phase::Successful | Phase::Failed | Phase::Error | Phase::Inconclusive));
        }
    }
}

proptest! {
    // each case copies up to the whole budget's worth of values: few cases
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn referring_to_a_large_result_costs_its_size(n in 0usize..100_000, which in 0usize..3) {
        // every iteration copies `result`: n iterations of an n-element copy
        let src = ["all(result, {len(result) >= 0})", "any(result, {# in result})",
                   "len(map(result, {string(result)})) >= 0"][which];
        let c = Condition::parse(src).unwrap();
        let r = Value::Array((0..n).map(|i| Value::Int(i as i64)).collect());
        let start = Instant::now();
        let _ = c.eval(&r);
        prop_assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    }
}
