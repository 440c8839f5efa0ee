//! Property tests: the policy parsers and matchers never panic, whatever the input.

use proptest::prelude::*;
use serde_json::json;
use sluice_policy::{jmespath, quantity, value, vars};

/// Text shaped like JMESPath, to reach deep into the parser.
fn jmes_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::string::string_regex(
            r"[a-z]{1,4}|\.|\[|\]|\*|\?|@|`1`|'x'|\(|\)|,|\||&&|==|<|!|:|-?[0-9]|\{|\}|length|contains",
        )
        .expect("regex"),
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn jmespath_never_panics(expr in "\\PC{0,40}") {
        let data = json!({"a": [1, {"b": "c"}], "d": {"e": null}});
        let _ = jmespath::search(&expr, &data);
    }

    #[test]
    fn jmespath_like_never_panics(expr in jmes_like()) {
        let data = json!({"a": [1, 2, {"b": "c"}], "x": "y", "n": 3});
        let _ = jmespath::search(&expr, &data);
    }

    #[test]
    fn quantities_and_durations_never_panic(s in "\\PC{0,16}") {
        let _ = quantity::parse_quantity(&s);
        let _ = quantity::parse_duration(&s);
    }

    #[test]
    fn pattern_values_never_panic(pattern in "[<>=!|&*?a-z0-9 .-]{0,16}", v in "[a-z0-9 .-]{0,8}") {
        let _ = value::matches(&json!(v), &json!(pattern));
        let _ = value::matches(&json!(3), &json!(pattern));
    }

    #[test]
    fn variable_scanning_never_panics(s in "([a-z{}. ]|\\{\\{|\\}\\}){0,30}") {
        for r in vars::find(&s) {
            let _ = r;
        }
    }
}
