//! Issue 17 item 4: strategic merge patch with the patch strategies and merge keys of every
//! built-in kind, differentially against real kubectl (v1.32). `kubectl patch --local
//! --type strategic` runs apimachinery's `strategicpatch.StrategicMergePatch` with the Go
//! types compiled into kubectl (their `patchStrategy`/`patchMergeKey` tags), exactly what
//! kube-apiserver runs for `PATCH` with `application/strategic-merge-patch+json`; Sluice's
//! `patch::strategic_merge_patch` must give the same object (or fail where it fails).
//!
//! Upstream: k8s.io/apimachinery/pkg/util/strategicpatch (patch.go: `mergeMap`,
//! `mergeSlice`, `normalizeElementOrder`, the `$patch`, `$retainKeys`, `$setElementOrder`
//! and `$deleteFromPrimitiveList` directives), documented in
//! https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
//! and https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/;
//! `$setElementOrder` in
//! https://github.com/kubernetes/design-proposals-archive/blob/main/cli/preserve-order-in-strategic-merge-patch.md.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value, json};
use sluice_apiserver::patch::{Schema, strategic_merge_patch};

use crate::apiserver_kubectl::{Server, err, kubectl_available};
use crate::common::{kubectl_in, stdout};

macro_rules! need_kubectl {
    () => {
        if !kubectl_available() {
            eprintln!("kubectl is not installed (scripts/test installs it): skipped");
            return;
        }
    };
}

/// Real kubectl's strategic merge of `patch` into `doc` (`Err`: its error).
fn kubectl_smp(dir: &Path, doc: &Value, patch: &Value) -> Result<Value, String> {
    let file = dir.join("probe.json");
    std::fs::write(&file, doc.to_string()).expect("writes the probe");
    let p = patch.to_string();
    let o = kubectl_in(
        dir,
        &[
            "patch",
            "--local",
            "-f",
            "probe.json",
            "--type",
            "strategic",
            "-p",
            &p,
            "-o",
            "json",
        ],
        None,
    );
    if !o.status.success() {
        return Err(err(&o));
    }
    serde_json::from_str(&stdout(&o)).map_err(|e| format!("kubectl printed no JSON: {e}"))
}

fn sluice_smp(doc: &Value, patch: &Value) -> Result<Value, String> {
    let mut d = doc.clone();
    strategic_merge_patch(&mut d, patch, Schema::of(doc)).map_err(|e| e.to_string())?;
    Ok(d)
}

/// The places two values differ, as JSON paths.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => differences(u, v, &p, out),
                    (u, v) => out.push(format!("{p}: {u:?} vs {v:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                differences(u, v, &format!("{path}[{i}]"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: kubectl {a} vs sluice {b}")),
    }
}

/// Compares Sluice with kubectl on one patch; the difference, if any.
fn compare(dir: &Path, what: &str, doc: &Value, patch: &Value) -> Option<String> {
    let want = kubectl_smp(dir, doc, patch);
    let got = sluice_smp(doc, patch);
    match (&want, &got) {
        (Ok(w), Ok(g)) => {
            let mut d = Vec::new();
            differences(w, g, "", &mut d);
            (!d.is_empty()).then(|| format!("{what}: {}\npatch: {patch}", d.join("\n  ")))
        }
        (Err(_), Err(_)) => None,
        // kinds kubectl has no Go type of (apiextensions, apiregistration) it cannot patch
        // locally; kube-apiserver's aggregated servers do, with their own types
        (Err(e), Ok(_)) if e.contains("is not supported for") && e.contains("locally") => None,
        (Ok(w), Err(e)) => Some(format!(
            "{what}: kubectl merged, sluice failed: {e}\npatch: {patch}\nkubectl: {w}"
        )),
        (Err(e), Ok(g)) => Some(format!(
            "{what}: kubectl failed: {e}\nsluice merged: {g}\npatch: {patch}"
        )),
    }
}

/// A group-version document's components, by definition name.
struct Doc {
    schemas: Map<String, Value>,
}

impl Doc {
    fn resolve<'a>(&'a self, mut s: &'a Value) -> &'a Value {
        for _ in 0..8 {
            if let Some(r) = s
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                match self.schemas.get(r) {
                    Some(t) => s = t,
                    None => return s,
                }
            } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
            {
                s = one;
            } else {
                return s;
            }
        }
        s
    }

    fn name_of(&self, s: &Value) -> Option<String> {
        let mut s = s;
        for _ in 0..4 {
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                return r.strip_prefix("#/components/schemas/").map(str::to_owned);
            }
            match s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                Some([one]) => s = one,
                _ => return None,
            }
        }
        None
    }
}

fn scalar(s: &Value, i: usize) -> Value {
    match s.get("type").and_then(Value::as_str) {
        Some("integer") | Some("number") => json!(i as u64 + 1),
        Some("boolean") => json!(i.is_multiple_of(2)),
        _ => json!(format!("v{i}")),
    }
}

/// An (original, patch) pair touching every list reachable from object schema `s`: a list
/// of objects gets two live items and a patch of one (merged by the list's keys, or
/// replaced, or refused, as upstream decides), a list of scalars two live values and one
/// new. Nested objects are followed (not maps, not a definition already on the path).
fn probe(d: &Doc, s: &Value, stack: &mut Vec<String>) -> (Map<String, Value>, Map<String, Value>) {
    let (mut o, mut p) = (Map::new(), Map::new());
    let s = d.resolve(s);
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        return (o, p);
    };
    for (k, ps) in props {
        if matches!(k.as_str(), "apiVersion" | "kind" | "managedFields") {
            continue;
        }
        let name = d.name_of(ps);
        if name.as_ref().is_some_and(|n| stack.contains(n)) || stack.len() > 14 {
            continue;
        }
        let r = d.resolve(ps);
        let ty = r.get("type").and_then(Value::as_str);
        if ty == Some("array") {
            let items_schema = r.get("items").cloned().unwrap_or(Value::Null);
            let items = d.resolve(&items_schema);
            let keys: Vec<String> = ps
                .get("x-kubernetes-list-map-keys")
                .or_else(|| r.get("x-kubernetes-list-map-keys"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if items.get("properties").is_some() {
                let item_name = d.name_of(&items_schema);
                if let Some(n) = &item_name {
                    if stack.contains(n) {
                        continue;
                    }
                    stack.push(n.clone());
                }
                let (io, ip) = probe(d, &items_schema, stack);
                if item_name.is_some() {
                    stack.pop();
                }
                let key_of = |i: usize| -> Map<String, Value> {
                    keys.iter()
                        .map(|key| {
                            let ks = d.resolve(&items["properties"][key]);
                            (key.clone(), scalar(ks, i))
                        })
                        .collect()
                };
                let mut a = key_of(0);
                a.extend(io);
                let mut pa = key_of(0);
                pa.extend(ip);
                o.insert(k.clone(), json!([a, key_of(1)]));
                p.insert(k.clone(), json!([pa]));
            } else if items
                .get("type")
                .is_some_and(|t| t != "object" && t != "array")
            {
                o.insert(k.clone(), json!([scalar(items, 0), scalar(items, 1)]));
                p.insert(k.clone(), json!([scalar(items, 2)]));
            }
        } else if r.get("properties").is_some() {
            if let Some(n) = &name {
                stack.push(n.clone());
            }
            let (so, sp) = probe(d, ps, stack);
            if name.is_some() {
                stack.pop();
            }
            if !sp.is_empty() {
                o.insert(k.clone(), Value::Object(so));
                p.insert(k.clone(), Value::Object(sp));
            }
        }
    }
    (o, p)
}

fn docs(s: &Server) -> Vec<(String, Doc)> {
    let index: Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/openapi/v3"], None)).expect("index");
    let mut out = Vec::new();
    for (gv, _) in index["paths"].as_object().expect("paths") {
        let Some(rest) = gv.strip_prefix("api/").or_else(|| gv.strip_prefix("apis/")) else {
            continue;
        };
        if !rest.contains('/') && gv.starts_with("apis/") {
            continue;
        }
        let text = s.ok(&["get", "--raw", &format!("/openapi/v3/{gv}")], None);
        let v: Value = serde_json::from_str(&text).expect("document");
        let schemas = v["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        out.push((rest.to_owned(), Doc { schemas }));
    }
    out
}

/// Every list of every served built-in kind merges (or is replaced, or fails) as kubectl
/// merges it: the patch strategies and merge keys of the generated schemas are upstream's.
#[test]
fn every_list_of_every_built_in_kind_merges_as_kubectl_merges() {
    need_kubectl!();
    let s = Server::start("smp-kinds");
    let mut problems = Vec::new();
    let mut kinds = 0;
    for (gv, d) in docs(&s) {
        let api_version = gv.clone();
        for (name, schema) in &d.schemas {
            let Some(gvk) = schema["x-kubernetes-group-version-kind"].get(0) else {
                continue;
            };
            let group = gvk["group"].as_str().unwrap_or_default();
            let version = gvk["version"].as_str().unwrap_or_default();
            let kind = gvk["kind"].as_str().unwrap_or_default();
            let gv_of_kind = if group.is_empty() {
                version.to_owned()
            } else {
                format!("{group}/{version}")
            };
            if gv_of_kind != api_version || !Schema::builtin(&api_version, kind).is_builtin() {
                continue;
            }
            let (mut o, mut p) = probe(&d, schema, &mut vec![name.clone()]);
            if p.is_empty() {
                continue;
            }
            kinds += 1;
            o.insert("apiVersion".into(), json!(api_version));
            o.insert("kind".into(), json!(kind));
            let meta = o
                .entry("metadata")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("metadata");
            meta.insert("name".into(), json!("probe"));
            meta.insert("namespace".into(), json!("default"));
            p.remove("metadata").map(|m| p.insert("metadata".into(), m));
            let (o, p) = (Value::Object(o), Value::Object(p));
            if let Some(d) = compare(s.dir(), kind, &o, &p) {
                problems.push(d);
            }
        }
    }
    assert!(kinds >= 50, "only {kinds} kinds probed");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// A small deterministic generator (xorshift64*), so a failing case can be rerun.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
            "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"disk": "ssd"},
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                    "containers": [
                        {"name": "app", "image": "app:1",
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                        {"name": "side", "image": "side:1", "args": ["--x"]}
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
                }
            }
        }
    })
}

fn random_container(r: &mut Rng) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(r.pick(&["app", "side", "new"])));
    if r.chance(20) {
        c.insert(
            "$patch".into(),
            json!(r.pick(&["delete", "replace", "bogus"])),
        );
    }
    if r.chance(50) {
        c.insert("image".into(), json!(r.pick(&["app:2", "side:2"])));
    }
    if r.chance(15) {
        c.insert("image".into(), Value::Null);
    }
    if r.chance(50) {
        let mut env = Vec::new();
        for _ in 0..r.below(3) + 1 {
            let mut e = json!({"name": r.pick(&["A", "B", "C"])});
            match r.below(4) {
                0 => e["$patch"] = json!("delete"),
                1 => e["value"] = Value::Null,
                _ => e["value"] = json!(r.pick(&["x", "y"])),
            }
            env.push(e);
        }
        c.insert("env".into(), Value::Array(env));
        if r.chance(30) {
            let order: Vec<Value> = ["C", "B", "A"]
                .iter()
                .filter(|_| r.chance(70))
                .map(|n| json!({"name": n}))
                .collect();
            c.insert("$setElementOrder/env".into(), Value::Array(order));
        }
    }
    if r.chance(30) {
        let ports: Vec<Value> = (0..r.below(2) + 1)
            .map(|_| json!({"containerPort": 80 + r.below(3), "name": "p"}))
            .collect();
        c.insert("ports".into(), Value::Array(ports));
    }
    if r.chance(15) {
        c.insert("args".into(), json!(["--y"]));
    }
    Value::Object(c)
}

fn random_patch(r: &mut Rng) -> Value {
    let mut p = json!({});
    if r.chance(60) {
        let cs: Vec<Value> = (0..r.below(3) + 1).map(|_| random_container(r)).collect();
        p["spec"]["template"]["spec"]["containers"] = Value::Array(cs);
    }
    if r.chance(25) {
        let order: Vec<Value> = ["new", "side", "app"]
            .iter()
            .filter(|_| r.chance(70))
            .map(|n| json!({"name": n}))
            .collect();
        p["spec"]["template"]["spec"]["$setElementOrder/containers"] = Value::Array(order);
    }
    if r.chance(25) {
        p["metadata"]["finalizers"] = json!([r.pick(&["a", "c"])]);
    }
    // with both `finalizers` and its delete list (and no `$setElementOrder`), upstream's
    // result depends on Go's random map iteration order (mergeMap ranges over the patch):
    // kubectl's own patches never send that, and it is not generated
    if r.chance(20) && p["metadata"].get("finalizers").is_none() {
        p["metadata"]["$deleteFromPrimitiveList/finalizers"] = json!([r.pick(&["a", "b", "z"])]);
    }
    if r.chance(15) {
        p["metadata"]["$setElementOrder/finalizers"] = json!(["c", "b", "a"]);
    }
    if r.chance(25) {
        p["metadata"]["labels"] = json!({"tier": Value::Null, "new": "1"});
    }
    if r.chance(25) {
        p["spec"]["strategy"] = match r.below(3) {
            0 => json!({"$retainKeys": ["type"], "type": "Recreate"}),
            1 => json!({"$retainKeys": ["type", "rollingUpdate"], "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 2}}),
            _ => json!({"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}),
        };
    }
    if r.chance(20) {
        let v = match r.below(3) {
            0 => json!({"name": "cfg", "$patch": "delete"}),
            1 => json!({"name": "new", "secret": {"secretName": "s"}}),
            _ => {
                json!({"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}})
            }
        };
        p["spec"]["template"]["spec"]["volumes"] = json!([v]);
    }
    if r.chance(15) {
        p["spec"]["template"]["spec"]["nodeSelector"] = json!({"$patch": "replace", "zone": "a"});
    }
    if r.chance(10) {
        p["spec"]["template"]["metadata"] = json!({"$patch": "delete"});
    }
    if r.chance(15) {
        p["spec"]["template"]["spec"]["tolerations"] =
            json!([{"key": "other", "operator": "Exists"}]);
    }
    if r.chance(10) {
        p["spec"]["replicas"] = if r.chance(50) {
            Value::Null
        } else {
            json!("3")
        };
    }
    if r.chance(10) {
        p["spec"]["selector"] = json!({"matchLabels": {"app": Value::Null, "x": "y"}});
    }
    p
}

/// Random patches of a Deployment with every directive (`$patch` replace/delete in maps and
/// list items, `$retainKeys`, `$setElementOrder` of keyed and primitive lists,
/// `$deleteFromPrimitiveList`), nulls, atomic lists and type changes: Sluice's result, order
/// of list items included, is kubectl's, and where kubectl refuses the patch so does Sluice.
#[test]
fn random_strategic_patches_merge_as_kubectl_merges() {
    need_kubectl!();
    let s = Server::start("smp-random");
    let live = live_deployment();
    let mut r = Rng(0x5EED_1234_ABCD_0018);
    let mut problems = Vec::new();
    for i in 0..250 {
        let p = random_patch(&mut r);
        if let Some(d) = compare(s.dir(), &format!("case {i}"), &live, &p) {
            problems.push(d);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

const WEB_TWO_CONTAINERS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: app:1
        env: [{name: A, value: "1"}]
        ports: [{containerPort: 80}]
      - name: side
        image: side:1
      volumes: [{name: data, emptyDir: {}}]
"#;

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            c.get("name")
                .or_else(|| c.get("containerPort"))
                .map(|n| {
                    n.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| n.to_string())
                })
                .unwrap_or_default()
        })
        .collect()
}

/// `kubectl patch --type strategic` against the running server merges containers, env and
/// volumes by name and ports by containerPort, honours `$patch: delete` and `$retainKeys`
/// (kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/);
/// `kubectl apply` (client-side, a three-way strategic merge patch) of the file with a
/// container removed removes it, and switching the strategy to Recreate drops
/// rollingUpdate (kubectl's patch carries `$retainKeys`).
#[test]
fn kubectl_patch_and_apply_merge_lists_on_the_server() {
    need_kubectl!();
    let s = Server::start("smp-server");
    s.ok(&["apply", "-f", "-"], Some(WEB_TWO_CONTAINERS));
    s.ok(
        &[
            "patch",
            "deploy",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{
                "containers":[{"name":"app","image":"app:2","env":[{"name":"B","value":"2"}],
                               "ports":[{"containerPort":81}]},
                              {"name":"extra","image":"extra:1"}],
                "volumes":[{"name":"cache","emptyDir":{}}]}}}}"#,
        ],
        None,
    );
    let d = s.json(&["get", "deploy", "web"]);
    let spec = &d["spec"]["template"]["spec"];
    assert_eq!(names(&spec["containers"]), ["app", "extra", "side"]);
    let app = &spec["containers"][0];
    assert_eq!(app["image"], "app:2");
    assert_eq!(names(&app["env"]), ["B", "A"]);
    assert_eq!(names(&app["ports"]), ["81", "80"]);
    assert_eq!(names(&spec["volumes"]), ["cache", "data"]);

    s.ok(
        &[
            "patch",
            "deploy",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"},
                "template":{"spec":{"containers":[{"name":"extra","$patch":"delete"}]}}}}"#,
        ],
        None,
    );
    let d = s.json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        names(&d["spec"]["template"]["spec"]["containers"]),
        ["app", "side"]
    );

    // client-side apply: the last-applied file had app and side; this one has app only
    let one = WEB_TWO_CONTAINERS.replace("      - name: side\n        image: side:1\n", "");
    s.ok(&["apply", "-f", "-"], Some(WEB_TWO_CONTAINERS));
    s.ok(&["apply", "-f", "-"], Some(&one));
    let d = s.json(&["get", "deploy", "web"]);
    assert_eq!(names(&d["spec"]["template"]["spec"]["containers"]), ["app"]);
    let diff = s.kubectl(&["diff", "-f", "-"], Some(&one));
    assert!(
        diff.status.success(),
        "kubectl diff after apply: {}",
        stdout(&diff)
    );
    let recreate = one.replace(
        "strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}",
        "strategy: {type: Recreate}",
    );
    s.ok(&["apply", "-f", "-"], Some(&recreate));
    let d = s.json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
}

/// `/openapi/v2` (issue 17 item 4): the Swagger 2.0 document of every served kind, Sluice's
/// CRDs included, read by real kubectl as JSON (`kubectl get --raw`, which accepts JSON);
/// kubectl's own v2 client asks for protobuf, gets 406 and applies with its compiled-in
/// types, without a warning.
#[test]
fn openapi_v2_is_served_and_kubectl_apply_is_unaffected() {
    need_kubectl!();
    let s = Server::start("openapi-v2");
    let doc: Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/openapi/v2"], None)).expect("json");
    assert_eq!(doc["swagger"], "2.0");
    let defs = doc["definitions"].as_object().expect("definitions");
    assert_eq!(
        defs["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    assert_eq!(
        defs["dev.tekton.v1.PipelineRun"]["x-kubernetes-group-version-kind"][0]["group"],
        "tekton.dev"
    );
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(
        patch["consumes"]
            .as_array()
            .expect("consumes")
            .contains(&json!("application/strategic-merge-patch+json"))
    );
    let o = s.kubectl(&["apply", "-f", "-"], Some(WEB_TWO_CONTAINERS));
    assert!(o.status.success(), "{}", err(&o));
    let changed = WEB_TWO_CONTAINERS.replace("app:1", "app:3");
    let o = s.kubectl(&["apply", "-f", "-"], Some(&changed));
    assert!(o.status.success(), "{}", err(&o));
    assert!(!err(&o).contains("warning"), "{}", err(&o));
    let d = s.json(&["get", "deploy", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:3"
    );
}
