//! `kyverno test` suites (`kyverno-test.yaml`, `cli.kyverno.io/v1alpha1` `Test`), run without
//! touching the file system: the caller hands a reader. Follows kyverno/kyverno
//! `cmd/cli/kubectl-kyverno/commands/test`: policies and resources are loaded relative to the
//! suite, the Values file (`variables:`) gives global, per-rule and per-resource variables and
//! namespace labels, and every expected result (policy, rule, kind, resources, result) is
//! compared with the engine's. An expected result the engine has no response for counts as
//! `skip` (the rule did not match the resource).

use serde::Serialize;
use serde_json::{Map, Value};
use sluice_core::object::load_objects;
use sluice_core::{Limits, Object};

use crate::{
    AdmissionRequest, CompiledPolicy, PolicySet, RuleResult, Status, UserInfo, compile, evaluate,
};

/// Reads a file relative to nothing (the caller resolves paths); `Err` carries a message.
pub type Reader<'a> = &'a dyn Fn(&str) -> Result<String, String>;
/// Lists the files of a directory (`None`: not a directory).
pub type Lister<'a> = &'a dyn Fn(&str) -> Option<Vec<String>>;

/// One compared result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub policy: String,
    pub rule: String,
    pub resource: String,
    pub expected: String,
    pub actual: String,
    pub ok: bool,
    pub reason: String,
}

/// The outcome of one suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteReport {
    pub path: String,
    pub rows: Vec<Row>,
    /// The suite could not run (missing files, unsupported policy kinds...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Only classic validate rules, no mocked API calls: what the conformance goal counts.
    pub classic_validate: bool,
    /// Why the suite is not `classic_validate`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope_note: String,
}

impl SuiteReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.rows.iter().all(|r| r.ok)
    }
}

fn dir_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[..i],
        None => ".",
    }
}

fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        rel.to_owned()
    } else {
        sluice_apis::manifests::join_normalized(dir, rel)
    }
}

fn load_all(path: &str, read: Reader<'_>, list: Lister<'_>) -> Result<Vec<Object>, String> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return Err(format!("{path}: remote files are not fetched"));
    }
    if let Some(children) = list(path) {
        let mut out = Vec::new();
        for c in children {
            if c.ends_with(".yaml") || c.ends_with(".yml") || c.ends_with(".json") {
                out.extend(load_all(&c, read, list)?);
            }
        }
        return Ok(out);
    }
    let text = read(path)?;
    let f = load_objects(path, &text, &Limits::default()).map_err(|e| format!("{path}:{e}"))?;
    Ok(f.objects.into_iter().map(|o| o.object).collect())
}

fn str_map(v: Option<&Value>) -> Vec<(String, Value)> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Does the suite stay within classic validate rules with no mocked API calls?
fn classify(test: &Value, policies: &[Object]) -> (bool, String) {
    for key in [
        "apiCallResponses",
        "clusterResources",
        "globalContextEntries",
        "exceptions",
        "targetResources",
        "paramResources",
        "context",
    ] {
        if test.get(key).is_some() {
            return (false, format!("uses `{key}`"));
        }
    }
    if let Some(results) = test.get("results").and_then(Value::as_array) {
        for r in results {
            for key in [
                "patchedResource",
                "patchedResources",
                "generatedResource",
                "cloneSourceResource",
                "isValidatingAdmissionPolicy",
                "isValidatingPolicy",
                "isMutatingPolicy",
                "isImageValidatingPolicy",
                "isDeletingPolicy",
                "isGeneratingPolicy",
                "isMutatingAdmissionPolicy",
            ] {
                if r.get(key).is_some() {
                    return (false, format!("results use `{key}`"));
                }
            }
        }
    }
    for p in policies {
        let gvk = p.gvk();
        if gvk.group != "kyverno.io" || !matches!(gvk.kind.as_str(), "ClusterPolicy" | "Policy") {
            return (false, format!("policy kind {}/{}", gvk.group, gvk.kind));
        }
        for r in p
            .value()
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for k in ["mutate", "generate", "verifyImages"] {
                if r.get(k).is_some() {
                    return (false, format!("{k} rule"));
                }
            }
            if let Some(v) = r.get("validate") {
                for k in ["cel", "podSecurity", "manifests", "assert"] {
                    if v.get(k).is_some() {
                        return (false, format!("validate.{k}"));
                    }
                }
            }
            let ctx = r
                .get("context")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let foreach_ctx = r
                .pointer("/validate/foreach")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|f| f.get("context").and_then(Value::as_array))
                .flatten();
            for c in ctx.chain(foreach_ctx) {
                for k in ["apiCall", "imageRegistry", "globalReference", "configMap"] {
                    if c.get(k).is_some() {
                        return (false, format!("context {k} (mocked API call)"));
                    }
                }
            }
        }
    }
    (true, String::new())
}

struct Values {
    global: Vec<(String, Value)>,
    /// (policy, rule, values)
    rules: Vec<crate::RuleValues>,
    /// (policy, resource, values)
    resources: Vec<crate::RuleValues>,
    namespaces: Vec<(String, Map<String, Value>)>,
    /// (subresource apiVersion, subresource kind) -> the parent kind and subresource name.
    subresources: Vec<((String, String), crate::RequestKind)>,
}

fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

fn parse_values(v: &Value) -> Values {
    let mut out = Values {
        global: str_map(v.get("globalValues")),
        rules: Vec::new(),
        resources: Vec::new(),
        namespaces: Vec::new(),
        subresources: Vec::new(),
    };
    // `subresources:` (kyverno `v1alpha1.Subresource`): a resource of the subresource's kind is
    // evaluated as a request on the parent resource's subresource (the CLI's
    // `PolicyProcessor.ApplyPoliciesOnResource`).
    for sr in v
        .get("subresources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |p: &str| sr.pointer(p).and_then(Value::as_str).unwrap_or("");
        let name = s("/subresource/name");
        out.subresources.push((
            (
                api_version(s("/subresource/group"), s("/subresource/version")),
                s("/subresource/kind").to_owned(),
            ),
            crate::RequestKind {
                api_version: api_version(s("/parentResource/group"), s("/parentResource/version")),
                kind: s("/parentResource/kind").to_owned(),
                subresource: name
                    .split_once('/')
                    .map(|(_, b)| b)
                    .unwrap_or("")
                    .to_owned(),
            },
        ));
    }
    for p in v
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let pname = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for (field, into) in [("rules", &mut out.rules), ("resources", &mut out.resources)] {
            for r in p.get(field).and_then(Value::as_array).into_iter().flatten() {
                let rname = r
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                into.push((pname.clone(), rname, str_map(r.get("values"))));
            }
        }
    }
    for n in v
        .get("namespaceSelector")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = n
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let labels = n
            .get("labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        out.namespaces.push((name, labels));
    }
    out
}

fn res_ns(o: &Value) -> &str {
    o.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The (object, oldObject) pair of a request, as the CLI builds it (`makePolicyContext`,
/// `AdmissionRequestShape`): CREATE has the resource as object; UPDATE the resource as both
/// object and oldObject; DELETE no object and the resource as oldObject. Values that set
/// `request.object...` or `request.oldObject...` are applied afterwards, so they shape what
/// matching sees.
fn request_shape(op: &str, obj: &Value, vars: &[(String, Value)]) -> (Value, Option<Value>) {
    let (object, old) = match op {
        "UPDATE" => (obj.clone(), obj.clone()),
        "DELETE" => (Value::Null, obj.clone()),
        _ => (obj.clone(), Value::Null),
    };
    let mut doc = serde_json::json!({"object": object, "oldObject": old});
    for (k, v) in vars {
        let segs = crate::jmespath::split_path(k);
        let [first, second, rest @ ..] = segs.as_slice() else {
            continue;
        };
        if first != "request" || !matches!(second.as_str(), "object" | "oldObject") {
            continue;
        }
        let mut cur = &mut doc[second.as_str()];
        for seg in rest {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            cur = &mut cur[seg.as_str()];
        }
        *cur = v.clone();
    }
    let object = doc["object"].take();
    let old = match doc["oldObject"].take() {
        Value::Null => None,
        o => Some(o),
    };
    (object, old)
}

/// Runs the suite at `path` (a `kyverno-test.yaml`).
pub fn run_suite(path: &str, read: Reader<'_>, list: Lister<'_>) -> SuiteReport {
    let mut report = SuiteReport {
        path: path.to_owned(),
        rows: Vec::new(),
        error: None,
        classic_validate: false,
        scope_note: String::new(),
    };
    match run_inner(path, read, list, &mut report) {
        Ok(()) => {}
        Err(e) => report.error = Some(e),
    }
    report
}

fn run_inner(
    path: &str,
    read: Reader<'_>,
    list: Lister<'_>,
    report: &mut SuiteReport,
) -> Result<(), String> {
    let dir = dir_of(path);
    let text = read(path)?;
    let docs = sluice_core::yaml::load_documents(&text, &Limits::default())
        .map_err(|e| format!("{path}:{e}"))?;
    let test = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    let strings = |k: &str| -> Vec<String> { sluice_core::json::string_list(test.get(k)) };
    let mut policy_objs = Vec::new();
    let mut load_errors = Vec::new();
    for p in strings("policies") {
        match load_all(&join(dir, &p), read, list) {
            Ok(objs) => policy_objs.extend(objs),
            Err(e) => load_errors.push(e),
        }
    }
    let (classic, note) = classify(&test, &policy_objs);
    report.classic_validate = classic && load_errors.is_empty();
    report.scope_note = if load_errors.is_empty() {
        note
    } else {
        "policy files missing or remote".to_owned()
    };
    if !load_errors.is_empty() {
        return Err(load_errors.join("; "));
    }
    let mut resources = Vec::new();
    for r in strings("resources") {
        match load_all(&join(dir, &r), read, list) {
            Ok(objs) => resources.extend(objs),
            Err(e) => {
                report.classic_validate = false;
                report.scope_note = "resource files absent from the corpus".to_owned();
                return Err(e);
            }
        }
    }
    let values = match (
        test.get("variables").and_then(Value::as_str),
        test.get("values"),
    ) {
        (Some(v), _) => {
            let t = read(&join(dir, v))?;
            let docs = sluice_core::yaml::load_documents(&t, &Limits::default())
                .map_err(|e| format!("{v}:{e}"))?;
            parse_values(
                &docs
                    .into_iter()
                    .next()
                    .map(|d| d.value)
                    .unwrap_or(Value::Null),
            )
        }
        (None, Some(inline)) => parse_values(inline),
        _ => parse_values(&Value::Null),
    };
    let user = match test.get("userinfo").and_then(Value::as_str) {
        Some(u) => {
            let t = read(&join(dir, u))?;
            let docs = sluice_core::yaml::load_documents(&t, &Limits::default())
                .map_err(|e| format!("{u}:{e}"))?;
            let v = docs
                .into_iter()
                .next()
                .map(|d| d.value)
                .unwrap_or(Value::Null);
            UserInfo {
                username: v
                    .pointer("/userInfo/username")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                groups: sluice_core::json::string_list(v.pointer("/userInfo/groups")),
                roles: sluice_core::json::string_list(v.get("roles")),
                cluster_roles: sluice_core::json::string_list(v.get("clusterRoles")),
            }
        }
        None => UserInfo::default(),
    };
    let mut compiled: Vec<CompiledPolicy> = Vec::new();
    for p in &policy_objs {
        let gvk = p.gvk();
        if gvk.group != "kyverno.io" || !matches!(gvk.kind.as_str(), "ClusterPolicy" | "Policy") {
            continue;
        }
        let errs = sluice_apis::validate_one(
            p,
            &sluice_apis::Context::new(&sluice_apis::ObjectSet::new(vec![p])),
        );
        if errs.has_errors() {
            let msgs: Vec<String> = errs
                .iter()
                .filter(|e| e.severity == sluice_core::Severity::Error)
                .map(|e| e.to_string())
                .collect();
            return Err(format!(
                "policy {} is invalid: {}",
                p.name(),
                msgs.join("; ")
            ));
        }
        compiled.push(compile(p).map_err(|errs| {
            let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            format!("policy {} is invalid: {}", p.name(), msgs.join("; "))
        })?);
    }
    let set = PolicySet::new(compiled);
    // Operations the results ask for (`results[].operation`); a resource is evaluated once per
    // operation it is expected under.
    let result_ops: Vec<String> = test
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("operation").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    // (operation, result)
    let mut all: Vec<(String, RuleResult)> = Vec::new();
    let mut default_ops: Vec<(String, String)> = Vec::new();
    for r in &resources {
        let obj = r.value();
        let rname = r.name();
        let mut vars = values.global.clone();
        for (_, _, v) in values.resources.iter().filter(|(_, n, _)| n == rname) {
            vars.extend(v.iter().cloned());
        }
        let ns_labels = values
            .namespaces
            .iter()
            .find(|(n, _)| n == res_ns(obj))
            .map(|(_, l)| l);
        // `makePolicyContext`: the operation comes from the `request.operation` value
        let default_op = vars
            .iter()
            .rev()
            .find(|(k, _)| k == "request.operation")
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("CREATE")
            .to_owned();
        default_ops.push((rname.to_owned(), default_op.clone()));
        let mut ops = vec![default_op];
        for o in &result_ops {
            if !ops.contains(o) {
                ops.push(o.clone());
            }
        }
        let mut rule_values = values.rules.clone();
        // configMap context entries resolve against ConfigMaps among the resources
        for p in &set.policies {
            for cr in &p.rules {
                for c in &cr.rule.context {
                    if let Some(cm) = &c.config_map
                        && let Some(found) = resources.iter().find(|o| {
                            o.kind() == "ConfigMap"
                                && o.name() == cm.name
                                && (cm.namespace.is_empty() || res_ns(o.value()) == cm.namespace)
                        })
                    {
                        rule_values.push((
                            p.name().to_owned(),
                            cr.rule.name.clone(),
                            vec![(c.name.clone(), found.value().clone())],
                        ));
                    }
                }
            }
        }
        let gvk = (
            obj.get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            r.kind().to_owned(),
        );
        let request_kind = values
            .subresources
            .iter()
            .find(|(k, _)| *k == gvk)
            .map(|(_, rk)| rk.clone());
        for op in ops {
            let (object, old) = request_shape(&op, obj, &vars);
            let mut op_vars = vars.clone();
            op_vars.retain(|(k, _)| k != "request.operation");
            op_vars.push(("request.operation".to_owned(), Value::String(op.clone())));
            let req = AdmissionRequest {
                operation: op.clone(),
                object: &object,
                old_object: old.as_ref(),
                user_info: &user,
                namespace_labels: ns_labels,
                variables: op_vars,
                rule_values: rule_values.clone(),
                request_kind: request_kind.clone(),
            };
            all.extend(evaluate(&set, &req).into_iter().map(|x| (op.clone(), x)));
        }
    }
    for exp in test
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let policy = exp.get("policy").and_then(Value::as_str).unwrap_or("");
        let (pns, pname) = match policy.split_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, policy),
        };
        let rule = exp.get("rule").and_then(Value::as_str).unwrap_or("");
        let kind = exp.get("kind").and_then(Value::as_str).unwrap_or("");
        let expected = exp
            .get("result")
            .or_else(|| exp.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut names: Vec<String> = sluice_core::json::string_list(exp.get("resources"));
        if let Some(r) = exp.get("resource").and_then(Value::as_str) {
            names.push(r.to_owned());
        }
        let exp_ns = exp.get("namespace").and_then(Value::as_str);
        let exp_op = exp.get("operation").and_then(Value::as_str);
        for n in names {
            let (rns, rn) = match n.split_once('/') {
                Some((ns, x)) => (Some(ns.to_owned()), x.to_owned()),
                None => (exp_ns.map(str::to_owned), n.clone()),
            };
            let hits: Vec<&RuleResult> = all
                .iter()
                .filter(|(op, r)| {
                    let want_op = exp_op.or_else(|| {
                        default_ops
                            .iter()
                            .find(|(n, _)| *n == r.resource.name)
                            .map(|(_, o)| o.as_str())
                    });
                    want_op.is_none_or(|w| w == op)
                        && r.policy == pname
                        && pns.is_none_or(|ns| r.policy_namespace.as_deref() == Some(ns))
                        && (rule.is_empty()
                            || r.rule == rule
                            || (r.autogen
                                && (r.rule == format!("autogen-{rule}")
                                    || r.rule == format!("autogen-cronjob-{rule}"))))
                        && (kind.is_empty() || r.resource.kind == kind)
                        && r.resource.name == rn
                        && rns.as_ref().is_none_or(|ns| {
                            r.resource.namespace == *ns
                                || (r.resource.namespace.is_empty() && ns == "default")
                        })
                })
                .map(|(_, r)| r)
                .collect();
            let actual = match hits.as_slice() {
                [] => Status::Skip,
                hs => {
                    // With no rule named, the worst status decides.
                    let order = [
                        Status::Error,
                        Status::Fail,
                        Status::Warn,
                        Status::Pass,
                        Status::Skip,
                    ];
                    *order
                        .iter()
                        .find(|s| hs.iter().any(|h| h.status == **s))
                        .unwrap_or(&Status::Skip)
                }
            };
            let reason = hits
                .first()
                .map(|h| h.message.clone())
                .unwrap_or_else(|| "no matching rule response (skip)".to_owned());
            report.rows.push(Row {
                policy: policy.to_owned(),
                rule: rule.to_owned(),
                resource: n.clone(),
                ok: actual.as_str() == expected,
                expected: expected.clone(),
                actual: actual.as_str().to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn runs_an_in_memory_suite() {
        let files: BTreeMap<&str, &str> = BTreeMap::from([
            (
                "s/kyverno-test.yaml",
                "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [p.yaml]\nresources: [r.yaml]\nvariables: values.yaml\nresults:\n- {policy: p, rule: r, kind: Pod, resources: [good], result: pass}\n- {policy: p, rule: r, kind: Pod, resources: [bad], result: fail}\n- {policy: p, rule: r, kind: Pod, resources: [upd], result: skip}\n",
            ),
            (
                "s/p.yaml",
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    preconditions: {all: [{key: '{{request.operation}}', operator: Equals, value: CREATE}]}\n    validate: {message: m, pattern: {metadata: {labels: {app: '?*'}}}}\n",
            ),
            (
                "s/r.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata: {name: good, labels: {app: x}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: bad}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: upd}\n",
            ),
            (
                "s/values.yaml",
                "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\npolicies:\n- name: p\n  resources:\n  - name: upd\n    values: {request.operation: UPDATE}\n",
            ),
        ]);
        let read = |p: &str| {
            files
                .get(p)
                .map(|s| (*s).to_owned())
                .ok_or_else(|| format!("{p}: not found"))
        };
        let list = |_: &str| None;
        let r = run_suite("s/kyverno-test.yaml", &read, &list);
        assert_eq!(r.error, None);
        assert!(r.classic_validate);
        let got: Vec<(&str, &str, bool)> = r
            .rows
            .iter()
            .map(|x| (x.resource.as_str(), x.actual.as_str(), x.ok))
            .collect();
        assert_eq!(
            got,
            [
                ("good", "pass", true),
                ("bad", "fail", true),
                ("upd", "skip", true)
            ]
        );
    }

    fn run(files: &BTreeMap<&str, &str>) -> SuiteReport {
        let read = |p: &str| {
            files
                .get(p)
                .map(|s| (*s).to_owned())
                .ok_or_else(|| format!("{p}: not found"))
        };
        let list = |_: &str| None;
        run_suite("s/kyverno-test.yaml", &read, &list)
    }

    fn outcomes(r: &SuiteReport) -> Vec<(&str, &str, bool)> {
        r.rows
            .iter()
            .map(|x| (x.resource.as_str(), x.actual.as_str(), x.ok))
            .collect()
    }

    // kyverno/kyverno cmd/cli/kubectl-kyverno/processor/operation.go AdmissionRequestShape and
    // policy_processor.go makePolicyContext: `results[].operation: DELETE` evaluates the
    // resource as oldObject with no object; `request.operation: UPDATE` from the values file
    // makes oldObject a copy of the resource; `request.object...` values shape what matching
    // sees.
    #[test]
    fn operations_and_request_shape() {
        let files: BTreeMap<&str, &str> = BTreeMap::from([
            (
                "s/kyverno-test.yaml",
                "policies: [p.yaml]\nresources: [r.yaml]\nvariables: v.yaml\nresults:\n- {policy: p, rule: del, kind: Pod, resources: [a], operation: DELETE, result: fail}\n- {policy: p, rule: upd, kind: Pod, resources: [b], result: pass}\n- {policy: p, rule: ann, kind: Pod, resources: [c], result: fail}\n",
            ),
            (
                "s/p.yaml",
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - name: del\n    match: {any: [{resources: {kinds: [Pod], operations: [DELETE], selector: {matchLabels: {env: prod}}}}]}\n    validate: {deny: {conditions: {all: [{key: '{{request.oldObject.metadata.name}}', operator: Equals, value: a}]}}}\n  - name: upd\n    match: {any: [{resources: {kinds: [Pod], operations: [UPDATE]}}]}\n    validate: {deny: {conditions: {any: [{key: '{{request.object.metadata.labels}}', operator: NotEquals, value: '{{request.oldObject.metadata.labels}}'}]}}}\n  - name: ann\n    match: {any: [{resources: {kinds: [Pod], annotations: {team: x}}}]}\n    validate: {deny: {}}\n",
            ),
            (
                "s/r.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {env: prod}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {x: y}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: c}\n",
            ),
            (
                "s/v.yaml",
                "policies:\n- name: p\n  resources:\n  - name: b\n    values: {request.operation: UPDATE}\n  - name: c\n    values: {request.object.metadata.annotations.\"team\": x}\n",
            ),
        ]);
        let r = run(&files);
        assert_eq!(r.error, None);
        assert_eq!(
            outcomes(&r),
            [
                ("a", "fail", true),
                ("b", "pass", true),
                ("c", "fail", true)
            ]
        );
    }

    // cmd/cli/kubectl-kyverno/processor/policy_processor.go: a resource of a `subresources:`
    // kind is matched as the parent kind's subresource (`Deployment/scale`).
    #[test]
    fn subresources_from_values() {
        let files: BTreeMap<&str, &str> = BTreeMap::from([
            (
                "s/kyverno-test.yaml",
                "policies: [p.yaml]\nresources: [r.yaml]\nvariables: v.yaml\nresults:\n- {policy: p, rule: r, kind: Scale, resources: [default/web], result: fail}\n",
            ),
            (
                "s/p.yaml",
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - name: r\n    match: {all: [{resources: {kinds: [Deployment/scale]}}]}\n    validate: {message: m, pattern: {spec: {replicas: 2}}}\n",
            ),
            (
                "s/r.yaml",
                "apiVersion: autoscaling/v1\nkind: Scale\nmetadata: {name: web, namespace: default}\nspec: {replicas: 4}\n",
            ),
            (
                "s/v.yaml",
                "subresources:\n- parentResource: {group: apps, version: v1, kind: Deployment, name: deployments}\n  subresource: {group: autoscaling, version: v1, kind: Scale, name: deployments/scale}\n",
            ),
        ]);
        let r = run(&files);
        assert_eq!(r.error, None);
        assert_eq!(outcomes(&r), [("default/web", "fail", true)]);
    }
}
