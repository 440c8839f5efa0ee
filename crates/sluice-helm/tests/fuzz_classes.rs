//! One chart per class of difference scripts/helm-fuzz found between `sluice helm template`
//! and real Helm, compared with real Helm at test time: scripts/helm-fuzz-reference.py
//! installs each chart with helm-sdkpy (Helm's Go library) into a fresh `sluice apiserver`
//! and takes the release manifest and hooks, which is what `helm template` prints
//! (helm/helm `pkg/action/install.go`). Nothing here is expected text written by hand.
//!
//! Run: `cargo test -p sluice-helm --test fuzz_classes -- --ignored` with the `sluice`
//! binary built (or SLUICE_BIN set), python3 and pip.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_helm::render::{Capabilities, RenderOptions};

fn sluice_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SLUICE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("sluice")
}

/// (class, template, values.yaml): each template renders ConfigMap data.
const CLASSES: &[(&str, &str, &str)] = &[
    (
        // Sprig date.go: date/dateInZone/htmlDate take time.Time or Go ints (Unix
        // seconds); toDate parses with Go's reference layout; dateModify adds a
        // time.ParseDuration; unixEpoch; time.Time prints as Go's Time.String
        "dates",
        r#"  a: {{ toDate "2006-01-02" "2024-03-05" | date "Mon Jan _2 15:04:05 MST 2006" | quote }}
  b: {{ toDate "2006-01-02T15:04:05Z07:00" "2021-02-28T23:59:58+02:00" | toString | quote }}
  c: {{ date "2006-01-02 3:04:05.000 PM -0700" 1700000000 | quote }}
  d: {{ dateInZone "Jan 2, 2006 (MST)" 86400 "UTC" | quote }}
  e: {{ htmlDate 951782400 | quote }}
  f: {{ toDate "2006-01-02" "1999-12-31" | dateModify "26h30m" | unixEpoch | quote }}
  g: {{ toDate "2006-01-02" "not a date" | toString | quote }}
  h: {{ toDate "02/01/06 15:04" "29/02/24 07:08" | date "January Monday 002 __2 .000 .999" | quote }}
  i: {{ toDate "2006-01-02" "2024-03-05" | mustDateModify "-1.5h" | toJson | quote }}
"#,
        "{}\n",
    ),
    (
        // Sprig date.go duration/durationRound; Go's Duration.String
        "durations",
        r#"  a: {{ duration 3700 | quote }}
  b: {{ duration "95" | quote }}
  c: {{ duration .Values.n | quote }}
  d: {{ durationRound "26h3m4s" | quote }}
  e: {{ durationRound "2h" | quote }}
  f: {{ durationRound 45000000000 | quote }}
  g: {{ durationRound "800h" | quote }}
  h: {{ durationRound "9000h" | quote }}
"#,
        "n: 120\n",
    ),
    (
        // huandu/xstrings convert.go (snakecase, kebabcase, camelcase), goutils
        // wordutils.go (swapcase, wrap, wrapWith, abbreviations)
        "case-and-wrap",
        r#"  a: {{ snakecase "HTTPServer2xxOK go-path" | quote }}
  b: {{ kebabcase "FirstName_lastName" | quote }}
  c: {{ camelcase "http_server some-words" | quote }}
  d: {{ swapcase "Hello World aBC" | quote }}
  e: {{ wrap 5 "the quick brown fox jumps" | quote }}
  f: {{ wrapWith 4 "<br>" "abcdefghij kl" | quote }}
  g: {{ abbrevboth 5 10 "1234 5678 9123 4567" | quote }}
  h: {{ abbrev 6 "hello world" | quote }}
  i: {{ hello | quote }}
"#,
        "{}\n",
    ),
    (
        // sprig numeric.go seq/untilStep; base32; Go's html/js/urlquery escapers; path.Clean
        "numbers-and-escapes",
        r#"  a: {{ seq 5 | quote }}
  b: {{ seq -3 | quote }}
  c: {{ seq 2 8 | quote }}
  d: {{ seq 1 3 10 | quote }}
  e: {{ seq 10 -3 1 | quote }}
  f: {{ untilStep 10 0 3 | toString | quote }}
  g: {{ untilStep 10 0 -3 | toString | quote }}
  h: {{ b32enc "hello!" | quote }}
  i: {{ b32dec "NBSWY3DP" | quote }}
  j: {{ html "<a href='x'>&</a>" | quote }}
  k: {{ js "it's <b>\"q\"</b> = 1" | quote }}
  l: {{ urlquery "a b&c=d/é" | quote }}
  m: {{ clean "a//b/../c/." | quote }}
"#,
        "{}\n",
    ),
    (
        // Helm's toToml (pkg/engine/funcs.go toTOML) is BurntSushi/toml v1's Encoder:
        // direct keys before tables, `[a.b]`/`[[a.b]]` indented per level, inline arrays
        // and tables, key and string quoting, float formatting, the encoder's errors as
        // the result; Sluice: sluice-expr gotmpl/toml.rs
        "to-toml",
        r#"  a: {{ toToml .Values.t | quote }}
  b: {{ toToml .Values.aot | quote }}
  c: {{ toToml .Values.strs | quote }}
  d: {{ toToml .Values.arrays | quote }}
  e: {{ toToml .Values.floats | quote }}
  f: {{ toToml (dict "i" 5 "n" -7 "l" (list 1 2 3) "z" (int64 0) "nested" (dict "k" (list (dict "v" 1))) "nil" nil "inl" (list (dict "b" nil "c" 1) 2)) | quote }}
  g: {{ toToml "str" | quote }}
  h: {{ toToml (list 1 2) | quote }}
  i: {{ toToml (list (dict "a" 1)) | quote }}
  j: {{ toToml (dict) | quote }}
  k: {{ toToml .Values.nilelem | quote }}
  l: {{ toToml (dict "n" (float64 "NaN") "i" (float64 "+Inf") "j" (float64 "-Inf") "z" -0.0) | quote }}
  m: {{ toToml (dict "t" (toDate "2006-01-02" "2024-03-05")) | quote }}
  n: {{ toToml .Values.deep | quote }}
  o: {{ toToml .Values | quote }}
"#,
        r#"t: {x: 1, y2: 1.5, s: hello, b: true, big: 1000000, neg: -3, empty: {}, sub: {a: {b: {c: 1}, d: x}, e: [1, 2]}}
aot: {servers: [{name: a, port: 80, sub: {x: 1}}, {name: b, inner: [{q: 1}, {q: 2}]}], z: 1, e: [{}, {}]}
strs: {s1: "quote\" back\\ tab\t nl\n cr\r", s2: "\x01\x1f\x7f\b\f\e\0\v", s3: "é 日本 😀", "key with space": 1, "dotted.key": 2, "": 3, "ünï": 4, bare_key-1: 5, "x\"y": {"q\\r": 1}, "a\tb": {"": {c: 2}}}
arrays: {empty: [], nested: [[1, 2], ["a"]], mixed: [1, "a", true], maps_mixed: [{a: 1}, 2], inline: [{b: {c: [1, {d: 2}]}, e: [{f: 1}]}, 3], lol: [[{y: 1}], [{z: 2}]], m: [[], [{}]]}
floats: {a: 100000, b: 123456789, c: 0.0001, d: 0.00001, e: 1.0e+300, f: -0.5, g: 12345678901234567890, h: 3.14159265358979, i: 1e21}
nilelem: {arr: [1, null, 2]}
deep: {a: {b: [{c: {d: [{e: 1, f: {g: 2}}]}}], h: 3}, l: [[{x: 1}]]}
"#,
    ),
    (
        // Sprig v3 dict.go on nil and missing maps: a literal `nil` is a nil map (text/template
        // evalArg), `dict` fills a missing value with "", `dig` returns a found nil
        "dict-functions-nil",
        r#"  a: {{ pick nil "a" | toJson | quote }}
  b: {{ omit nil | toJson | quote }}
  c: {{ keys nil | toJson | quote }}
  d: {{ values nil | toJson | quote }}
  e: {{ hasKey nil "a" | quote }}
  f: {{ get nil "a" | quote }}
  g: {{ pluck "x" nil .Values.m | toJson | quote }}
  h: {{ merge nil .Values.m | toJson | quote }}
  i: {{ unset nil "a" | toJson | quote }}
  j: {{ pick .Values.m | toJson | quote }}
  k: {{ omit .Values.m "x" | toJson | quote }}
  l: {{ pick .Values.m "x" "zz" | toJson | quote }}
  m: {{ dict "a" | toJson | quote }}
  n: {{ dict nil 2 | toJson | quote }}
  o: {{ dig "x" "def" .Values.m | toJson | quote }}
  p: {{ dig "zz" "q" "def" .Values.m | quote }}
  q: {{ keys .Values.m (dict "b" 1) | sortAlpha | toJson | quote }}
  r: {{ keys | toJson | quote }}
  s: {{ get .Values.m "zz" | quote }}
  t: {{ mergeOverwrite (dict "a" 1) nil | toJson | quote }}
  u: {{ dig "w" "v" "def" (dict "w" (dict "v" nil)) | toJson | quote }}
"#,
        "m: {x: 1, w: two}\n",
    ),
    (
        // a null in the chart's values.yaml is no default: Helm leaves those keys out of
        // .Values at any depth of maps, not inside lists
        "null-defaults",
        r#"  a: {{ toJson .Values | quote }}
  b: {{ hasKey .Values "gone" | quote }}
  c: {{ toYaml .Values.m | quote }}
"#,
        "kept: 1
gone: null
m: {k: null, j: 3, d: {e: null}, empty: {}}
l: [null, {q: null}]
",
    ),
    (
        // found by scripts/helm-fuzz: Go's strconv.Unquote escapes in string literals
        // (\uHHHH, \UHHHHHHHH, \xHH, three octal digits); Masterminds semver's *Version
        // prints and marshals as its String(); fromYaml of a non-map names the JSON kind
        // encoding/json refused
        "escapes-semver-fromyaml",
        r#"  a: {{ "\u00fc\U0001F600\x41\101\a\v" | quote }}
  b: {{ semver "1.2.3-beta.1+b" | quote }}
  c: {{ semver "v1.2" | toJson | quote }}
  d: {{ (semver "1.2.3-rc.1").Major }}-{{ (semver "1.2.3-rc.1").Prerelease }}-{{ (semver "v1.2").Original }}
  e: {{ fromYaml "just a string" | toJson | quote }}
  f: {{ fromYaml "- a" | toJson | quote }}
  g: {{ fromYaml "3" | toJson | quote }}
  h: {{ fromYaml "true" | toJson | quote }}
  i: {{ typeOf (semver "1.0.0") | quote }}
"#,
        "{}\n",
    ),
    (
        // Sprig url.go urlParse/urlJoin over Go's net/url: scheme lower-cased, opaque
        // URLs, userinfo, host and hostname, force-query, and URL.String's escaping of
        // paths, hosts, userinfo and fragments
        "url",
        r#"  a: {{ urlParse "https://user:pa$s@example.com:8443/a/b c?x=1&y=2#frag!(x) y" | toJson | quote }}
  b: {{ urlParse "https://user:pa$s@example.com:8443/a/b c?x=1&y=2#frag!(x) y" | urlJoin | quote }}
  c: {{ urlParse "HTTPS://Host.Example:80" | toJson | quote }}
  d: {{ urlParse "mailto:joe@example.com" | urlJoin | quote }}
  e: {{ urlParse "example.com/path" | toJson | quote }}
  f: {{ urlParse "http://h/p?#" | urlJoin | quote }}
  g: {{ urlParse "file:///etc/hosts" | urlJoin | quote }}
  h: {{ urlJoin (dict "scheme" "https" "host" "h.io:8080" "path" "/a b/c?d" "query" "x=1" "fragment" "f g#h!") | quote }}
  i: {{ urlJoin (dict "path" "a:b/c") | quote }}
  j: {{ urlJoin (dict "scheme" "https" "host" "h" "userinfo" "me:p@ss/w") | quote }}
  k: {{ urlJoin (dict "scheme" "http" "host" "a@b/c" "path" "x") | quote }}
  l: {{ urlParse "" | toJson | quote }}
"#,
        "{}\n",
    ),
];

/// Templates real Helm refuses: Sluice must fail too, with the same message after the
/// `at <...>:` of Go's error (Helm v4 lays its errors out on several lines, and names
/// the argument where Sluice names the function).
const ERROR_CLASSES: &[(&str, &str, &str)] = &[
    // text/template validateType: a missing value is a nil interface {}, refused for a
    // map[string]interface {} parameter
    (
        "pick-missing",
        "  a: {{ pick .Values.missing \"a\" | toJson }}\n",
        "{}\n",
    ),
    (
        "set-missing",
        "  a: {{ set .Values.missing \"a\" 1 | toJson }}\n",
        "{}\n",
    ),
    (
        "values-of-number",
        "  a: {{ values .Values.m.x | toJson }}\n",
        "m: {x: 1}\n",
    ),
    (
        "pick-list",
        "  a: {{ pick .Values.l \"a\" | toJson }}\n",
        "l: [1]\n",
    ),
    (
        "omit-number-key",
        "  a: {{ omit .Values.m .Values.m.x | toJson }}\n",
        "m: {x: 1}\n",
    ),
    ("pick-no-args", "  a: {{ pick | toJson }}\n", "{}\n"),
    // sprig dig's type assertions panic
    ("dig-nil", "  a: {{ dig \"a\" \"d\" nil }}\n", "{}\n"),
    ("dig-string", "  a: {{ dig \"a\" \"d\" \"s\" }}\n", "{}\n"),
    (
        "dig-through-number",
        "  a: {{ dig \"x\" \"q\" \"def\" .Values.m }}\n",
        "m: {x: 1}\n",
    ),
    (
        "dig-int-key",
        "  a: {{ dig 1 \"def\" .Values.m }}\n",
        "m: {x: 1}\n",
    ),
    (
        "set-nil-map",
        "  a: {{ set nil \"a\" 1 | toJson }}\n",
        "{}\n",
    ),
    // net/url's parse errors, which Sprig's urlParse panics with
    (
        "url-bad-port",
        "  a: {{ urlParse \"http://h:port/\" }}\n",
        "{}\n",
    ),
    (
        "url-host-space",
        "  a: {{ urlParse \"http://a b.com/\" }}\n",
        "{}\n",
    ),
    ("url-no-scheme", "  a: {{ urlParse \":foo\" }}\n", "{}\n"),
    // BurntSushi/toml's Encode(nil) panics in reflect
    ("toml-nil", "  a: {{ toToml nil }}\n", "{}\n"),
];

/// The message after Go's `at <...>:`, whitespace collapsed.
fn error_tail(e: &str) -> String {
    let t = e.rsplit(">:").next().unwrap_or(e);
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn write(dir: &Path, p: &str, c: &str) {
    let p = dir.join(p);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, c).expect("write");
}

#[test]
#[ignore = "needs python3, helm-sdkpy (pip) and the sluice binary (SLUICE_BIN)"]
fn fuzz_classes_match_real_helm() {
    let root = std::env::temp_dir().join(format!("sluice-helm-classes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let all: Vec<&(&str, &str, &str)> = CLASSES.iter().chain(ERROR_CLASSES).collect();
    for (i, (name, tpl, values)) in all.iter().enumerate() {
        let d = root.join(i.to_string());
        write(
            &d,
            "chart/Chart.yaml",
            &format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
        );
        write(&d, "chart/values.yaml", values);
        write(
            &d,
            "chart/templates/cm.yaml",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}\ndata:\n{tpl}"
            ),
        );
        write(&d, "values.yaml", "{}\n");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/helm-fuzz-reference.py");
    let st = std::process::Command::new("python3")
        .arg(script)
        .arg(sluice_bin())
        .arg(&root)
        .status()
        .expect("python3");
    assert!(st.success(), "helm-fuzz-reference.py failed");
    let caps: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("caps.json")).expect("caps.json"))
            .expect("caps JSON");
    let mut failures = Vec::new();
    for (i, (name, _, _)) in all.iter().enumerate() {
        let d = root.join(i.to_string());
        if i >= CLASSES.len() {
            let Ok(e) = std::fs::read_to_string(d.join("expected.err")) else {
                failures.push(format!("{name}: real Helm rendered it"));
                continue;
            };
            let got =
                sluice_helm::load_chart(&sluice_helm::DiskFs, &d.join("chart")).and_then(|c| {
                    sluice_helm::render(
                        &c,
                        &serde_json::Map::new(),
                        &RenderOptions {
                            release_name: format!("fz{i}"),
                            namespace: "default".into(),
                            capabilities: Capabilities::with_version(
                                caps["kubeVersion"].as_str().expect("kubeVersion"),
                                Vec::new(),
                            )
                            .expect("version"),
                            include_crds: false,
                            skip_crds: false,
                            no_hooks: false,
                            skip_schema_validation: false,
                        },
                    )
                });
            match got {
                Err(g) if error_tail(&g.to_string()) == error_tail(&e) => {}
                Err(g) => failures.push(format!("{name}: sluice: {g}\n--- helm: {e}")),
                Ok(g) => failures.push(format!("{name}: sluice rendered\n{g}\n--- helm: {e}")),
            }
            continue;
        }
        let want = match std::fs::read_to_string(d.join("expected.yaml")) {
            Ok(w) => w,
            Err(_) => {
                let e = std::fs::read_to_string(d.join("expected.err")).unwrap_or_default();
                failures.push(format!("{name}: real Helm failed: {e}"));
                continue;
            }
        };
        let opts = RenderOptions {
            release_name: format!("fz{i}"),
            namespace: "default".into(),
            capabilities: Capabilities::with_version(
                caps["kubeVersion"].as_str().expect("kubeVersion"),
                Vec::new(),
            )
            .expect("version"),
            include_crds: false,
            skip_crds: false,
            no_hooks: false,
            skip_schema_validation: false,
        };
        let got = sluice_helm::load_chart(&sluice_helm::DiskFs, &d.join("chart"))
            .and_then(|c| sluice_helm::render(&c, &serde_json::Map::new(), &opts));
        match got {
            Ok(g) if g == want => {}
            Ok(g) => failures.push(format!("{name}:\n--- sluice\n{g}\n--- helm\n{want}")),
            Err(e) => failures.push(format!("{name}: sluice failed: {e}\n--- helm\n{want}")),
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
