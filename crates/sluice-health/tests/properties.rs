//! Generated inputs: the JSON-to-Lua conversion, the built-in checks, the overrides reader and
//! the linter never panic on arbitrary objects and texts; scripts that loop forever, recurse
//! without end or allocate without bound are stopped by the time and memory budgets.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sluice_health::lua::{LuaOptions, run_health_script};
use sluice_health::{HealthStatusCode, ResourceOverrides, resource_health};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9 :%._-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("True"),
            Just("False"),
            Just("Ready"),
            Just("Available"),
            Just("Running"),
            Just("RollingUpdate"),
            Just("OnDelete"),
            Just("LoadBalancer")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("status".to_owned()),
                        Just("spec".to_owned()),
                        Just("conditions".to_owned()),
                        Just("type".to_owned()),
                        Just("replicas".to_owned()),
                        Just("phase".to_owned()),
                        Just("message".to_owned()),
                        "[a-z]{1,8}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "Ingress"),
    ("batch/v1", "Job"),
    ("autoscaling/v1", "HorizontalPodAutoscaler"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("argoproj.io/v1alpha1", "Application"),
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "Workflow"),
    ("apps/v9", "Deployment"),
];

fn arb_object() -> impl Strategy<Value = Value> {
    (
        0..KINDS.len(),
        arb_json(),
        arb_json(),
        arb_json(),
        arb_json(),
    )
        .prop_map(|(k, metadata, spec, status, extra)| {
            let (api, kind) = KINDS[k];
            json!({"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec,
                   "status": status, "extra": extra})
        })
}

/// Walks the whole converted object: every value, key and length.
const WALK: &str = r#"
local n = 0
local function walk(v, depth)
  n = n + 1
  if type(v) == "table" then
    local len = #v
    for k, x in pairs(v) do
      local s = tostring(k) .. tostring(len)
      walk(x, depth + 1)
    end
  else
    local s = tostring(v)
  end
end
walk(obj, 0)
return {status = "Healthy", message = tostring(n)}
"#;

fn quick() -> LuaOptions {
    LuaOptions {
        open_libs: true,
        timeout: Duration::from_millis(300),
        memory_limit: 16 << 20,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn conversion_and_scripts_never_panic(obj in arb_object()) {
        let h = run_health_script(&obj, WALK, &quick());
        prop_assert_eq!(h.status, HealthStatusCode::Healthy, "{:?}", h);
    }

    #[test]
    fn health_never_panics(obj in arb_object()) {
        let _ = resource_health(&obj, &ResourceOverrides::new());
        let _ = sluice_health::resource_health_builtin(&obj);
    }

    #[test]
    fn overrides_and_lint_never_panic(data in prop::collection::vec(
        (prop_oneof![
            Just("resource.customizations".to_owned()),
            Just("resource.customizations.health.example.com_Thing".to_owned()),
            Just("resource.customizations.useOpenLibs.example.com_Thing".to_owned()),
            "resource\\.customizations\\.[a-z._]{0,12}",
        ], "(\\PC|\n){0,80}"), 0..4)) {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm"},
            "data": data.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>()});
        let _ = ResourceOverrides::from_configmap(&cm);
    }

    #[test]
    fn lint_never_panics(script in "(\\PC|\n|--|\\[\\[|\\]\\]|\"|'|function|end|local|for|do|then|=|\\.){0,60}") {
        let _ = sluice_health::lint::lint_script(&script, false);
        let _ = sluice_health::lint::lint_script(&script, true);
    }

    #[test]
    fn inner_positions_never_panic(text in "(\\PC|\n| |:|\\||\"){0,80}", line in 0u32..8, col in 0u32..12, il in 0u32..4, ic in 0u32..6) {
        let p = |line, col| sluice_core::Pos { line, col };
        let _ = sluice_core::yaml::inner_pos(&text, p(line, col), p(il, ic));
    }
}

/// Runaway scripts, each stopped by a budget: Unknown, within a bounded time.
#[test]
fn runaway_scripts_are_stopped() {
    let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let cases = [
        ("while true do end", "context deadline exceeded"),
        (
            "repeat local x = 1 until false",
            "context deadline exceeded",
        ),
        (
            "local function f() return f() end return f()",
            "context deadline exceeded",
        ),
        (
            "local function f() return 1 + f() end return f()",
            "stack overflow",
        ),
        (
            "local s = string.rep('x', 2^30) return {status='Healthy'}",
            "not enough memory",
        ),
        (
            "local s = 'x' while true do s = s .. s end",
            "not enough memory",
        ),
        (
            "local t = {} local i = 0 while true do i = i + 1 t[i] = {i} end",
            "",
        ),
        (
            "for i = 1, 1e12 do local t = {i, i, i} end",
            "context deadline exceeded",
        ),
    ];
    for (script, want) in cases {
        let start = Instant::now();
        let h = run_health_script(&obj, script, &quick());
        let took = start.elapsed();
        assert_eq!(h.status, HealthStatusCode::Unknown, "{script}: {h:?}");
        assert!(h.message.contains(want), "{script}: {h:?}");
        assert!(took < Duration::from_secs(5), "{script}: took {took:?}");
    }
}
