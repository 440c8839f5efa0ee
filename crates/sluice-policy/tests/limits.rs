//! Issue 18: no expression, pattern or policy recurses without bound, exhausts memory or runs
//! away; over a limit a rule is an `error` (failing closed under Enforce), never an abort.
//!
//! Deep shapes run on a thread with a 1 MiB stack (half a default thread's, in a debug
//! build whose frames are several times a release build's): recursion the limits did not
//! bound overflows it. Budget-busting shapes run with a tight budget and must stop within
//! it, quickly.

use std::rc::Rc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};
use sluice_core::Object;
use sluice_policy::jmespath::{
    EVAL_LIMITS, EvalLimits, Expr, JmesError, MAX_NESTING, Scope, budget_with,
};
use sluice_policy::tree::{MAX_PATTERN_DEPTH, Outcome, match_pattern};
use sluice_policy::{
    AdmissionRequest, Decision, PolicySet, Status, UserInfo, admission_decision, compile, evaluate,
};

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic, no overflow")
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "labels": {"a": "b"}},
        "data": {"k": "v".repeat(100), "n": "3"}})
}

fn doc() -> Value {
    json!({"request": {"operation": "CREATE", "object": config_map()},
        "items": [1, [2, [3]], {"a": [4]}],
        "long": (0..100).collect::<Vec<_>>()})
}

/// A budget small enough for property tests to reach it fast.
const TIGHT: EvalLimits = EvalLimits {
    max_steps: 100_000,
    max_bytes: 8 * 1024 * 1024,
    max_time: None,
};

fn eval(src: &str, limits: EvalLimits) -> Result<Value, JmesError> {
    let e = Expr::compile(src)?;
    let d = doc();
    let sc = Scope::with_budget(&d, Rc::new(budget_with(limits)));
    e.search(&sc)
}

/// Nesting shapes (prefix, core, suffix), each repetition one level deeper: issue 18's
/// `to_string(`, `(`, `[0]`, `||`, `| @`, `!`, `{a:`, `[?a]`, and the other constructs.
const NESTING: &[(&str, &str, &str)] = &[
    ("to_string(", "request.object.metadata.name", ")"),
    ("(", "request", ")"),
    ("", "items", "[0]"),
    ("", "request.x", " || request.x"),
    ("", "request.object", " | @"),
    ("!", "request", ""),
    ("{a: ", "request", "}"),
    ("", "items", "[?@]"),
    ("[", "request.operation", "]"),
    ("", "items", "[*]"),
    ("", "items", "[]"),
    ("", "request", ".*"),
    ("", "request", ".object"),
    ("-", "`1`", ""),
    ("map(&", "@", ", items)"),
    ("sort_by(", "items", ", &@)"),
    ("", "`1`", " + `1`"),
    ("", "items", " == items"),
    ("length(", "items", ")"),
];

fn nested(shape: usize, n: usize) -> String {
    let (pre, core, suf) = NESTING[shape];
    format!("{}{core}{}", pre.repeat(n), suf.repeat(n))
}

// Each shape at the deepest nesting the parser allows evaluates (to a value or an error)
// on a small stack; one level more is refused.
#[test]
fn deepest_allowed_nesting_evaluates() {
    for shape in 0..NESTING.len() {
        let mut n = 0;
        while Expr::compile(&nested(shape, n + 1)).is_ok() {
            n += 1;
        }
        assert!(
            (30..=MAX_NESTING).contains(&n),
            "shape {shape} stops at {n}"
        );
        let deeper = Expr::compile(&nested(shape, n + 1)).expect_err("too deep");
        assert!(deeper.is_limit(), "shape {shape}: {deeper}");
        let src = nested(shape, n);
        let got = on_small_stack(move || eval(&src, EVAL_LIMITS));
        if let Err(e) = got {
            assert!(
                !matches!(e, JmesError::Syntax(_)),
                "shape {shape} at {n}: {e}"
            );
        }
    }
}

/// Stages that multiply what they are given: each repetition is appended to the source.
const GROWING: &[(&str, &str)] = &[
    ("request.object", " | [@, @]"),
    ("request.object", " | {a: @, b: @}"),
    ("request.object", " | [to_string(@), to_string(@)]"),
    ("request.object.data.k", " | replace_all(@, '', @)"),
    ("request.object.data.k", " | join(@, [@, @, @])"),
    ("request.object.data.k", " | join(@, split(@, ''))"),
    ("request.object.data.k", " | regex_replace_all('', @, @)"),
    (
        "request.object.data.k",
        " | regex_replace_all_literal('v', @, @)",
    ),
    ("request.object", " | merge(@, {a: [@, @]})"),
    ("request.object", " | items(@, 'k', 'v') | [@, @]"),
    ("request.object", " | [@, @][]"),
    ("request", " | [$, @, @]"),
    ("request.object.data.k", " | replace(@, 'v', @, `-1`)"),
    (
        "request.object",
        " | {a: @, b: @} | {c: values(@), d: values(@)}",
    ),
    (
        "request.object.data.k",
        " | base64_encode(@) | join(@, [@, @])",
    ),
];

fn growing(shape: usize, k: usize) -> String {
    let (core, stage) = GROWING[shape];
    format!("{core}{}", stage.repeat(k))
}

// Issue 18: `request.object | [@, @] | ...` took 16.6 s and 4.8 GB at 20 stages and
// aborted the API server at 40. With the default budget both stop with a limit error.
#[test]
fn doubling_pipeline_stops_at_the_budget() {
    for k in [20, 40] {
        let src = growing(0, k);
        let start = Instant::now();
        let got = on_small_stack(move || eval(&src, EVAL_LIMITS));
        let took = start.elapsed();
        assert!(
            matches!(&got, Err(JmesError::Limit(m)) if m.contains("64 MiB of values built")),
            "{k} stages: {got:?}"
        );
        assert!(took < Duration::from_secs(10), "{k} stages took {took:?}");
    }
    // past the nesting limit the pipeline does not even parse
    assert!(Expr::compile(&growing(0, 1000)).is_err_and(|e| e.is_limit()));
}

// A wide list of root copies is counted too.
#[test]
fn root_copies_are_counted() {
    let src = format!("[{}]", vec!["$"; 20_000].join(", "));
    assert!(matches!(eval(&src, TIGHT), Err(JmesError::Limit(_))));
}

// The step budget stops work that builds little.
#[test]
fn steps_are_bounded() {
    let limits = EvalLimits {
        max_steps: 1000,
        ..TIGHT
    };
    let src = format!("long{}", " | [?@ >= `0`]".repeat(10));
    let got = eval(&src, limits);
    assert!(
        matches!(&got, Err(JmesError::Limit(m)) if m.contains("1000 steps")),
        "{got:?}"
    );
}

// The deadline is a backstop for work the steps do not see.
#[test]
fn time_is_bounded() {
    let limits = EvalLimits {
        max_steps: u64::MAX,
        max_bytes: u64::MAX,
        max_time: Some(Duration::from_millis(50)),
    };
    let start = Instant::now();
    // a million copies of the root, each freed at once: slow, but small
    let src = "long[?length($.long[?length($.long[?length($.long) == `0`]) == `0`]) == `0`]";
    let got = eval(src, limits);
    assert!(
        matches!(&got, Err(JmesError::Limit(m)) if m.contains("time budget")),
        "{got:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

// Values nesting deeper than the limit cannot be built stage by stage.
#[test]
fn result_depth_is_bounded() {
    let src = format!("request{}", " | [@]".repeat(80));
    let e = Expr::compile(&src).expect("80 stages parse");
    let d = json!({"request": nested_value(200)});
    let sc = Scope::new(&d);
    assert!(matches!(e.search(&sc), Err(JmesError::Limit(m)) if m.contains("nests deeper")));
}

fn nested_value(depth: usize) -> Value {
    let mut v = json!("leaf");
    for _ in 0..depth {
        v = json!({"a": v});
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    // Every nesting shape at every depth: a value, an error, or a refusal for the nesting;
    // never an overflow.
    #[test]
    fn nesting_shapes_evaluate_or_are_refused(shape in 0..NESTING.len(), n in 0usize..300) {
        let src = nested(shape, n);
        let got = on_small_stack(move || eval(&src, TIGHT));
        if let Err(e) = got {
            prop_assert!(!matches!(e, JmesError::Syntax(_)), "{}", e);
            if n <= 30 {
                prop_assert!(!e.is_limit(), "shape {} at {}: {}", shape, n, e);
            }
        }
    }

    // Every multiplying shape with any number of stages: within the budget, or stopped by
    // it, in bounded time.
    #[test]
    fn growing_shapes_stop_at_the_budget(shape in 0..GROWING.len(), k in 0usize..60) {
        let src = growing(shape, k);
        let start = Instant::now();
        let got = on_small_stack(move || eval(&src, TIGHT));
        prop_assert!(start.elapsed() < Duration::from_secs(5));
        match got {
            Ok(_) => prop_assert!(k < 30, "shape {} grew through {} stages", shape, k),
            Err(e) => prop_assert!(e.is_limit(), "shape {} at {}: {}", shape, k, e),
        }
    }

    // Fuzz-style: token soup through parse and evaluate with a tight budget: an answer,
    // never a panic, in bounded time.
    #[test]
    fn arbitrary_expressions_are_safe(parts in proptest::collection::vec(token(), 0..60)) {
        let src = parts.concat();
        let start = Instant::now();
        let _ = on_small_stack(move || eval(&src, TIGHT));
        prop_assert!(start.elapsed() < Duration::from_secs(5));
    }
}

fn token() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        r"request|object|data|k|items|metadata|name|\.|\[|\]|\[\]|\[\?|\*|@|\$|`1`|`-1`|'x'|''|\(|\)|,|\||\|\||&&|==|!=|<|!|:|-|\+|/|%|//|[0-9]|\{a: |\}|&|length\(|to_string\(|join\(|split\(|replace_all\(|regex_replace_all\(|merge\(|items\(|map\(|sort_by\(|max_by\(|values\(|keys\(|zip\(|parse_json\(|to_upper\(|base64_encode\(|truncate\(|pattern_match\(|time_after\(|semver_compare\(|lookup\(|sum\(| ",
    )
    .expect("regex")
}

// ---------------------------------------------------------------------------------------
// Policies

fn policy(deny_key: &str, extra_rule: Value) -> Value {
    let mut rule = json!({
        "name": "r",
        "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
        "validate": {"message": "denied", "deny": {"conditions": {"all": [
            {"key": deny_key, "operator": "Equals", "value": "x"}]}}}
    });
    if let (Some(r), Value::Object(extra)) = (rule.as_object_mut(), extra_rule) {
        r.extend(extra);
    }
    json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": "p"},
        "spec": {"validationFailureAction": "Enforce", "rules": [rule]}})
}

fn run(p: &Value) -> (Vec<sluice_policy::RuleResult>, Decision) {
    let compiled = compile(&Object::new(p.clone())).expect("compiles");
    let obj = config_map();
    let user = UserInfo::default();
    let results = evaluate(
        &PolicySet::new(vec![compiled]),
        &AdmissionRequest::create(&obj, &user),
    );
    let d = admission_decision(&results);
    (results, d)
}

// Issue 18: the 2,000-deep deny key is refused when the policy is compiled, with its path.
#[test]
fn deep_deny_key_is_refused_with_its_path() {
    let mut e = "request.object.metadata.name".to_owned();
    for _ in 0..2000 {
        e = format!("to_string({e})");
    }
    let p = policy(&format!("{{{{ {e} }}}}"), json!({}));
    let errs = on_small_stack(move || compile(&Object::new(p)).expect_err("refused"));
    let e = errs.iter().next().expect("one error");
    assert_eq!(
        e.path.to_string(),
        "spec.rules[0].validate.deny.conditions.all[0].key"
    );
    assert!(
        e.message.contains("nests deeper than 100 levels"),
        "{}",
        e.message
    );
}

// Over budget, a rule is an error, and Enforce fails closed.
#[test]
fn over_budget_is_a_rule_error_that_blocks() {
    let p = policy(&format!("{{{{ {} }}}}", growing(0, 40)), json!({}));
    let (results, d) = on_small_stack(move || run(&p));
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, Status::Error, "{:?}", results[0]);
    assert!(
        results[0].message.contains("exceeded its budget"),
        "{}",
        results[0].message
    );
    assert!(matches!(d, Decision::Deny { .. }), "{d:?}");
}

// Lenient places (preconditions), context defaults and foreach lists do not turn a limit
// into a default: the rule is still an error, not a skip or a pass.
#[test]
fn limits_are_not_swallowed() {
    let bomb = growing(0, 40);
    let cases = [
        json!({"preconditions": {"all": [
            {"key": format!("{{{{ {bomb} }}}}"), "operator": "Equals", "value": "x"}]}}),
        json!({"context": [{"name": "big", "variable": {"jmesPath": bomb, "default": "d"}}]}),
    ];
    for extra in cases {
        let p = policy("{{ request.operation }}", extra.clone());
        let (results, d) = on_small_stack(move || run(&p));
        assert_eq!(
            results[0].status,
            Status::Error,
            "{extra}: {:?}",
            results[0]
        );
        assert!(matches!(d, Decision::Deny { .. }));
    }
    let mut p = policy("{{ request.operation }}", json!({}));
    p["spec"]["rules"][0]["validate"] = json!({"message": "m", "foreach": [
        {"list": bomb, "deny": {"conditions": {"all": [
            {"key": "{{ element }}", "operator": "Equals", "value": "x"}]}}}]});
    let (results, _) = on_small_stack(move || run(&p));
    assert_eq!(results[0].status, Status::Error, "{:?}", results[0]);
}

// ---------------------------------------------------------------------------------------
// Patterns

fn nested_pattern(depth: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..depth {
        v = json!({"a": v});
    }
    v
}

#[test]
fn pattern_depth_is_bounded() {
    let deep = MAX_PATTERN_DEPTH + 10;
    let (r, p) = (
        nested_pattern(deep, json!("x")),
        nested_pattern(deep, json!("x")),
    );
    let got = on_small_stack(move || match_pattern(&r, &p));
    assert!(
        matches!(got, Outcome::Error(ref m) if m.contains("nest deeper")),
        "{got:?}"
    );
    // under a conditional anchor the limit is still an error, not a skip
    let (r, p) = (
        json!({"a": nested_pattern(deep, json!("x"))}),
        json!({"(a)": nested_pattern(deep, json!("x"))}),
    );
    let got = on_small_stack(move || match_pattern(&r, &p));
    assert!(matches!(got, Outcome::Error(_)), "{got:?}");
    // a deep but allowed pattern matches
    let (r, p) = (
        nested_pattern(120, json!("x")),
        nested_pattern(120, json!("x")),
    );
    assert_eq!(on_small_stack(move || match_pattern(&r, &p)), Outcome::Pass);
}

fn anchored(depth: usize, anchors: &[u8]) -> (Value, Value) {
    let (mut r, mut p) = (json!("x"), json!("x"));
    for i in 0..depth {
        let key = match anchors[i % anchors.len()] % 5 {
            0 => "a",
            1 => "(a)",
            2 => "=(a)",
            3 => "<(a)",
            _ => "^(a)",
        };
        if key == "^(a)" {
            // existence: each pattern element is a map matched against some list element
            r = json!({"a": [{"b": r}]});
            p = json!({key: [{"b": p}]});
        } else {
            r = json!({"a": r});
            p = json!({key: p});
        }
    }
    (r, p)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    // Patterns with every anchor at every depth: matched, or an error past the limit (never
    // a skip or a failure decided by the limit, never an overflow).
    #[test]
    fn pattern_depth_is_bounded_under_every_anchor(
        depth in 0usize..400,
        anchors in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let (r, p) = anchored(depth, &anchors);
        let got = on_small_stack(move || match_pattern(&r, &p));
        match got {
            Outcome::Error(m) => {
                prop_assert!(depth >= MAX_PATTERN_DEPTH / 2, "{}: {}", depth, m);
            }
            other => {
                prop_assert_eq!(other, Outcome::Pass);
                prop_assert!(depth <= MAX_PATTERN_DEPTH);
            }
        }
    }
}
