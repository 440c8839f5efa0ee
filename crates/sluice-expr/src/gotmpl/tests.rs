//! Go text/template, Sprig and Helm function semantics. Expected texts follow Go's
//! text/template documentation (pkg.go.dev/text/template), Sprig v3's docs
//! (masterminds.github.io/sprig) and Helm's pkg/engine (funcs.go, engine.go).

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn budget() -> Budget {
    Budget::new("test", RENDER_LIMITS)
}

fn render_with(
    defs: &[(&str, &str)],
    main: &str,
    data: serde_json::Value,
) -> Result<String, Error> {
    let mut set = TemplateSet::new();
    for (n, s) in defs {
        set.add(n, s)?;
    }
    set.add("main", main)?;
    set.execute("main", &V::from_json(&data), &budget())
}

fn r(src: &str, data: serde_json::Value) -> String {
    render_with(&[], src, data).unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn define_template_block() {
    let defs = [(
        "lib",
        r#"{{ define "a" }}A{{ .x }}{{ end }}{{ define "b" }}[{{ template "a" . }}]{{ end }}"#,
    )];
    assert_eq!(
        render_with(&defs, r#"{{ template "b" . }}"#, json!({"x": 1})).unwrap(),
        "[A1]"
    );
    assert_eq!(
        r(
            r#"{{ block "c" . }}default {{ .y }}{{ end }}"#,
            json!({"y": "z"})
        ),
        "default z"
    );
    // a later define replaces an earlier one (Go: redefinition)
    let defs = [
        ("one", r#"{{ define "t" }}1{{ end }}"#),
        ("two", r#"{{ define "t" }}2{{ end }}"#),
    ];
    assert_eq!(
        render_with(&defs, r#"{{ template "t" }}"#, json!({})).unwrap(),
        "2"
    );
}

#[test]
fn control_structures_and_variables() {
    assert_eq!(
        r(
            "{{ with .a }}{{ . }}{{ else }}none{{ end }}",
            json!({"a": ""})
        ),
        "none"
    );
    assert_eq!(
        r(
            "{{ if .a }}y{{ else if .b }}b{{ else }}n{{ end }}",
            json!({"b": 1})
        ),
        "b"
    );
    // maps range in sorted key order
    assert_eq!(
        r(
            "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}",
            json!({"b": 2, "a": 1})
        ),
        "a=1;b=2;"
    );
    assert_eq!(
        r(
            "{{ range $i, $e := .l }}{{ $i }}{{ $e }}{{ end }}",
            json!({"l": ["x", "y"]})
        ),
        "0x1y"
    );
    assert_eq!(
        r(
            "{{ range .l }}{{ . }}{{ else }}empty{{ end }}",
            json!({"l": []})
        ),
        "empty"
    );
    assert_eq!(
        r(
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            json!({})
        ),
        "2"
    );
    assert_eq!(
        r(
            r#"{{ range .l }}{{ if eq . "2" }}{{ break }}{{ end }}{{ . }}{{ end }}"#,
            json!({"l": ["1", "2", "3"]})
        ),
        "1"
    );
    assert_eq!(r("a  {{- 1 -}}  b", json!({})), "a1b");
    assert_eq!(r("{{/* c */}}x{{- /* c */ -}} y", json!({})), "xy");
    assert_eq!(r("{{ $.a }}", json!({"a": "top"})), "top");
}

#[test]
fn and_or_short_circuit_and_comparisons() {
    // `and` stops at the first false value: the nil map is never indexed
    assert_eq!(r("{{ and .m (index .m \"k\") }}", json!({})), "<no value>");
    assert_eq!(r("{{ or .a \"d\" }}", json!({})), "d");
    assert_eq!(r("{{ eq .a \"x\" \"y\" }}", json!({"a": "y"})), "true");
    assert_eq!(
        r("{{ lt 1 2 }} {{ ge \"b\" \"a\" }}", json!({})),
        "true true"
    );
    // Go: a float64 value and an int literal do not compare
    let e = render_with(&[], "{{ eq .n 1 }}", json!({"n": 1})).unwrap_err();
    assert!(
        e.to_string().contains("incompatible types for comparison"),
        "{e}"
    );
}

#[test]
fn printf_verbs() {
    assert_eq!(
        r(
            r#"{{ printf "%s-%d-%v-%q" "a" 3 .f "b" }}"#,
            json!({"f": 1.5})
        ),
        r#"a-3-1.5-"b""#
    );
    assert_eq!(
        r(
            r#"{{ printf "%5s|%-4d|%03d|%.2f|%x|%t" "ab" 7 5 3.14159 255 true }}"#,
            json!({})
        ),
        "   ab|7   |005|3.14|ff|true"
    );
    assert_eq!(
        r(r#"{{ printf "%d" .f }}"#, json!({"f": 2})),
        "%!d(float64=2)"
    );
    assert_eq!(r(r#"{{ printf "%s" }}"#, json!({})), "%!s(MISSING)");
    assert_eq!(r(r#"{{ .big }}"#, json!({"big": 1000000})), "1e+06");
}

#[test]
fn index_slice_len() {
    assert_eq!(
        r(r#"{{ index .m "a" "b" }}"#, json!({"m": {"a": {"b": "c"}}})),
        "c"
    );
    assert_eq!(
        r(
            r#"{{ index .l 1 }} {{ len .l }} {{ slice .l 1 }}"#,
            json!({"l": [1, 2, 3]})
        ),
        "2 3 [2 3]"
    );
    assert_eq!(r(r#"{{ slice "hello" 1 3 }}"#, json!({})), "el");
}

#[test]
fn sprig_functions() {
    assert_eq!(
        r(
            r#"{{ "a b" | quote }} {{ "x" | squote }} {{ list 1 "a" | join "," }}"#,
            json!({})
        ),
        r#""a b" 'x' 1,a"#
    );
    assert_eq!(
        r(
            r#"{{ "abcdef" | trunc 3 }} {{ "x-" | trimSuffix "-" }} {{ "Hello" | upper }}"#,
            json!({})
        ),
        "abc x HELLO"
    );
    assert_eq!(
        r(
            r#"{{ "a\nb" | indent 2 }}|{{ "a" | nindent 2 }}"#,
            json!({})
        ),
        "  a\n  b|\n  a"
    );
    assert_eq!(
        r(
            r#"{{ .missing | default "d" }} {{ empty .z }} {{ coalesce "" "c" }}"#,
            json!({"z": 0})
        ),
        "d true c"
    );
    assert_eq!(
        r(
            r#"{{ ternary "y" "n" true }} {{ "abc" | b64enc }} {{ "YWJj" | b64dec }}"#,
            json!({})
        ),
        "y YWJj abc"
    );
    assert_eq!(
        r(
            r#"{{ semverCompare ">=1.21-0" "v1.32.0-sluice.0.1.0" }} {{ semverCompare ">=1.21" "v1.32.0-sluice.0.1.0" }}"#,
            json!({})
        ),
        "true false"
    );
    assert_eq!(
        r(
            r#"{{ semverCompare "^1.2.0" "1.9.3" }} {{ semverCompare "~1.2.0" "1.3.0" }}"#,
            json!({})
        ),
        "true false"
    );
    assert_eq!(
        r(
            r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}"#,
            json!({})
        ),
        "-W-xxW-"
    );
    assert_eq!(
        r(r#"{{ "hello" | sha256sum | trunc 8 }}"#, json!({})),
        "2cf24dba"
    );
    assert_eq!(
        r(
            r#"{{ keys .m | sortAlpha | join "," }} {{ hasKey .m "a" }}"#,
            json!({"m": {"b": 1, "a": 2}})
        ),
        "a,b true"
    );
    assert_eq!(
        r(
            r#"{{ dig "a" "b" "none" .m }}"#,
            json!({"m": {"a": {"b": "x"}}})
        ),
        "x"
    );
    assert_eq!(
        r(
            r#"{{ kindOf .m }} {{ typeOf 1 }} {{ kindIs "slice" .l }}"#,
            json!({"m": {}, "l": []})
        ),
        "map int true"
    );
    assert_eq!(
        r(
            r#"{{ until 3 }} {{ add 1 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ max 1 5 2 }}"#,
            json!({})
        ),
        "[0 1 2] 3 6 3 5"
    );
}

#[test]
fn maps_are_shared_like_go() {
    // set mutates the map every holder sees (Go maps are references)
    assert_eq!(
        r(r#"{{ $_ := set .m "k" "v" }}{{ .m.k }}"#, json!({"m": {}})),
        "v"
    );
    // merge keeps dst's values, mergeOverwrite takes src's
    assert_eq!(
        r(
            r#"{{ $d := dict "a" 1 }}{{ $_ := merge $d (dict "a" 2 "b" 3) }}{{ $d.a }}{{ $d.b }}"#,
            json!({})
        ),
        "13"
    );
    assert_eq!(
        r(
            r#"{{ $d := dict "a" 1 }}{{ $_ := mergeOverwrite $d (dict "a" 2) }}{{ $d.a }}"#,
            json!({})
        ),
        "2"
    );
    // deepCopy detaches
    assert_eq!(
        r(
            r#"{{ $c := deepCopy .m }}{{ $_ := set $c "k" 1 }}{{ hasKey .m "k" }}"#,
            json!({"m": {}})
        ),
        "false"
    );
}

#[test]
fn helm_functions() {
    let defs = [("h", r#"{{ define "n" }}name-{{ .x }}{{ end }}"#)];
    assert_eq!(
        render_with(&defs, r#"{{ include "n" . | upper }}"#, json!({"x": "a"})).unwrap(),
        "NAME-A"
    );
    assert_eq!(r(r#"{{ tpl "{{ .x }}!" . }}"#, json!({"x": "t"})), "t!");
    assert_eq!(
        r(
            r#"{{ toYaml .m }}"#,
            json!({"m": {"b": [1, "x"], "a": "yes"}})
        ),
        "a: \"yes\"\nb:\n- 1\n- x"
    );
    assert_eq!(
        r(r#"{{ toJson .m }}"#, json!({"m": {"b": "<", "a": 1}})),
        r#"{"a":1,"b":"\u003c"}"#
    );
    assert_eq!(
        r(
            r#"{{ (fromYaml "a: 1").a }} {{ (fromJson "{\"b\":2}").b }}"#,
            json!({})
        ),
        "1 2"
    );
    assert_eq!(
        r(r#"{{ lookup "v1" "Secret" "ns" "n" }}"#, json!({})),
        "map[]"
    );
    let e = render_with(&[], "x\n{{ required \"need y\" .y }}", json!({})).unwrap_err();
    assert_eq!(e.to_string(), "execution error at (main:2:3): need y");
    let e = render_with(&[], "{{ fail \"stop\" }}", json!({})).unwrap_err();
    assert_eq!(e.to_string(), "execution error at (main:1:3): stop");
}

#[test]
fn to_yaml_matches_go_yaml_v2() {
    // go-yaml v2: literal blocks for multi-line strings, single quotes for indicators,
    // natural key order (a2 < a10), folding of long plain scalars past column 80
    let y = |v: serde_json::Value| goyaml::marshal(&v, false);
    assert_eq!(y(json!({"s": "a\nb\n"})), "s: |\n  a\n  b\n");
    assert_eq!(y(json!({"s": "a\nb"})), "s: |-\n  a\n  b\n");
    assert_eq!(
        y(json!({"s": "*x", "t": "a: b", "u": ""})),
        "s: '*x'\nt: 'a: b'\nu: \"\"\n"
    );
    assert_eq!(y(json!({"a10": 1, "a2": 2})), "a2: 2\na10: 1\n");
    assert_eq!(
        y(json!({"n": 1.5, "i": 3, "t": "2020-01-01", "o": "0777", "b": "on"})),
        "b: \"on\"\ni: 3\n\"n\": 1.5\no: \"0777\"\nt: \"2020-01-01\"\n"
    );
    let long = "word ".repeat(20).trim_end().to_owned();
    assert_eq!(
        y(json!({ "k": long })),
        format!(
            "k: {}\n  word word word word\n",
            "word ".repeat(16).trim_end()
        )
    );
    assert_eq!(
        y(json!({"l": [{"a": 1, "b": [2]}], "e": {}, "f": []})),
        "e: {}\nf: []\nl:\n- a: 1\n  b:\n  - 2\n"
    );
}

#[test]
fn errors_name_template_and_line() {
    let e = render_with(&[], "a\n{{ .x.y }}", json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: main:2:3: executing \"main\" at <.x.y>: nil pointer evaluating interface {}.y"
    );
    let e = render_with(&[], "{{ nosuch 1 }}", json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: main:1: function \"nosuch\" not defined"
    );
    // a name resolution Sluice does not do (no network while rendering)
    let e = render_with(&[], "\n\n{{ getHostByName \"x\" }}", json!({})).unwrap_err();
    assert!(
        e.to_string().contains("main:3:3")
            && e.to_string()
                .contains("function \"getHostByName\" is not supported"),
        "{e}"
    );
}

#[test]
fn limits() {
    // deep include chains need a large stack in debug builds (sluice-helm renders on one)
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(limits_body)
        .expect("thread")
        .join()
        .expect("limits");
}

fn limits_body() {
    // include calling itself stops at the depth limit
    let defs = [("h", r#"{{ define "loop" }}{{ include "loop" . }}{{ end }}"#)];
    let e = render_with(&defs, r#"{{ include "loop" . }}"#, json!({})).unwrap_err();
    assert!(
        matches!(e, Error::Limit(_)) && e.to_string().contains("exceeded max depth"),
        "{e}"
    );
    // a huge repeat is refused before it is built
    let e = render_with(&[], r#"{{ repeat 1000000000000 "x" }}"#, json!({})).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e}");
    // a map containing itself prints without hanging
    let out = r(
        r#"{{ $m := dict }}{{ $_ := set $m "me" $m }}{{ toJson $m }}"#,
        json!({}),
    );
    assert_eq!(out, "");
}

#[test]
fn missing_values_print_no_value() {
    assert_eq!(r("{{ .nope }}", json!({})), "<no value>");
    assert_eq!(r("{{ (.a).b }}", json!({})), "<no value>");
    let mut m = BTreeMap::new();
    m.insert("k".to_owned(), V::Nil);
    assert!(!V::map(m).display().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]
    #[test]
    fn parser_and_executor_never_panic(src in "[{}a-z .|$()\"=:,0-9-]{0,60}") {
        let mut set = TemplateSet::new();
        if set.add("p", &src).is_ok() {
            let _ = set.execute("p", &V::from_json(&json!({"a": {"b": [1, 2]}})), &budget());
        }
    }

    #[test]
    fn wrapped_actions_never_panic(inner in "[a-z .|$()\"=:,0-9-]{0,40}") {
        let src = format!("{{{{ {inner} }}}}{{{{- if {inner} }}}}x{{{{ end -}}}}");
        let mut set = TemplateSet::new();
        if set.add("p", &src).is_ok() {
            let _ = set.execute("p", &V::from_json(&json!({"a": 1})), &budget());
        }
    }
}

// Found by scripts/helm-fuzz: Sprig's substring (strings.go) slices bytes, and a slice Go
// refuses is a panic the executor reports as "error calling substr: runtime error: slice
// bounds out of range [6:5]" (what real Helm printed for this template).
#[test]
fn substr_out_of_range_is_an_error() {
    let e = render_with(&[], "{{ substr 6 5 \"Hello World\" }}", json!({})).unwrap_err();
    assert!(
        e.to_string()
            .contains("error calling substr: runtime error: slice bounds out of range [6:5]"),
        "{e}"
    );
    let ok = render_with(
        &[],
        "{{ substr 1 3 \"Hello\" }}|{{ substr -1 2 \"Hello\" }}|{{ substr 2 -1 \"Hello\" }}",
        json!({}),
    )
    .expect("renders");
    assert_eq!(ok, "el|He|llo");
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z\"\\\\\t\n .\u{1}\u{e9}]{0,6}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z. \"]{0,4}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]
    // toToml never panics: any value gives TOML text, the encoder's error text, or an error
    #[test]
    fn to_toml_never_panics(v in arb_json()) {
        let _ = render_with(&[], "{{ toToml . }}", v);
    }
}

// toToml of a map that contains itself stops at the value depth limit (Go would recurse
// until its stack overflows)
#[test]
fn to_toml_of_a_cycle_is_a_limit_error() {
    let e = render_with(
        &[],
        r#"{{ $m := dict }}{{ $_ := set $m "me" $m }}{{ toToml $m }}"#,
        json!({}),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e}");
}

// a map holding itself twice per level would be walked 2^256 times: the budget stops it
#[test]
fn to_toml_of_a_wide_cycle_stops_within_budget() {
    let e = render_with(
        &[],
        r#"{{ $m := dict }}{{ $_ := set $m "a" (list $m $m) }}{{ $_ := set $m "b" $m }}{{ toToml $m }}"#,
        json!({}),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, .. ProptestConfig::default() })]
    // urlParse/urlJoin never panic: a URL gives parts, Go's parse error, or "not supported"
    #[test]
    fn url_parse_and_join_never_panic(s in "[a-zA-Z0-9:/?#@%!$&'()*+,;=. \\[\\]\u{1}\u{e9}-]{0,40}") {
        let _ = render_with(&[], "{{ urlParse . | urlJoin }}", json!(s));
        let _ = render_with(&[], "{{ urlJoin (dict \"scheme\" . \"host\" . \"path\" . \"userinfo\" .) }}", json!(s));
    }
}
