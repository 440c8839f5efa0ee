//! The desired and live manifests of an Application's OutOfSync resources, kept for the web
//! UI's diff. Argo CD's UI asks its API server (`managed-resources`), which renders the app
//! again; Sluice's UI is a client of the Kubernetes API only, so the controller stores what
//! it compared: a ConfigMap `sluice-diff-<app>` in the Application's namespace, labelled
//! `sluice.dev/diff-of: <app>` and owned by the Application, whose `resources.json` is
//! `{"resources": [{group, version, kind, namespace, name, target, live}], "truncated":
//! bool}`. Invariants: bounded ([`MAX_BYTES`]; entries past it are left out and
//! `truncated` says so), written only when its content changes, deleted when nothing is
//! OutOfSync, and never a reason for a reconcile to fail (errors are ignored: the diff is a
//! view, the Application's status is the truth). Secret values are never copied: each
//! becomes a run of `+` as in Argo CD's diffs. Reading it needs `get configmaps` in the
//! Application's namespace, so RBAC decides who sees manifests.

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// The label naming the Application a diff ConfigMap belongs to.
pub const LABEL: &str = "sluice.dev/diff-of";
/// The largest `resources.json` written.
pub const MAX_BYTES: usize = 512 * 1024;

/// The ConfigMap's name for an Application (at most 253 characters).
pub fn name_for(app: &str) -> String {
    let mut n = format!("sluice-diff-{app}");
    n.truncate(253);
    n.trim_end_matches(['-', '.']).to_string()
}

/// A live object without what the server owns (status, managedFields, resourceVersion,
/// uid, creation time, the last-applied annotation...): Argo CD's normalization.
pub fn strip_live(live: &Value) -> Value {
    sluice_gitops::diff::normalize(live)
}

/// Secret values never leave their Secret: as Argo CD's `HideSecretData`, each distinct
/// value of a key becomes a run of `+` (equal values alike, a changed value another
/// length), in both the desired and the live object.
pub fn hide_secret_data(target: &mut Value, live: &mut Value) {
    let mut keys = std::collections::BTreeSet::new();
    for o in [&*target, &*live] {
        for f in ["data", "stringData"] {
            if let Some(m) = o.get(f).and_then(Value::as_object) {
                keys.extend(m.keys().cloned());
            }
        }
    }
    for k in keys {
        let mut seen: Vec<Value> = Vec::new();
        for o in [&mut *target, &mut *live] {
            for f in ["data", "stringData"] {
                if let Some(v) = o.get_mut(f).and_then(|m| m.get_mut(&k)) {
                    let i = match seen.iter().position(|s| s == v) {
                        Some(i) => i,
                        None => {
                            seen.push(v.clone());
                            seen.len() - 1
                        }
                    };
                    *v = json!("+".repeat(8 + i * 4));
                }
            }
        }
    }
}

/// One entry of `resources.json`.
pub fn entry(
    group: &str,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    target: Option<&Value>,
    live: Option<&Value>,
) -> Value {
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
    let mut target = target.cloned().unwrap_or(Value::Null);
    let mut live = live.map(strip_live).unwrap_or(Value::Null);
    if group.is_empty() && kind == "Secret" {
        hide_secret_data(&mut target, &mut live);
    }
    json!({
        "group": group, "version": version, "kind": kind,
        "namespace": namespace, "name": name,
        "target": target, "live": live,
    })
}

/// `resources.json` for `entries`, within [`MAX_BYTES`].
pub fn document(entries: Vec<Value>) -> String {
    let mut kept = Vec::new();
    let mut size = 64;
    let mut truncated = false;
    for e in entries {
        let n = e.to_string().len() + 1;
        if size + n > MAX_BYTES {
            truncated = true;
            break;
        }
        size += n;
        kept.push(e);
    }
    json!({"resources": kept, "truncated": truncated}).to_string()
}

/// Whether the Application's stored status lists an OutOfSync resource, i.e. whether a
/// diff ConfigMap may exist for it.
pub fn had_diff(app: &Value) -> bool {
    app.pointer("/status/resources")
        .and_then(Value::as_array)
        .is_some_and(|rs| rs.iter().any(|r| r["status"] == "OutOfSync"))
}

/// Writes (or deletes, when `entries` is empty) the diff ConfigMap of `app`. Errors are
/// ignored. An app that was in sync and still is costs no request.
pub(crate) async fn store(client: &Client, app: &Value, entries: Vec<Value>) {
    if entries.is_empty() && !had_diff(app) {
        return;
    }
    let ns = app
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let app_name = app
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uid = app
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    if ns.is_empty() || app_name.is_empty() {
        return;
    }
    let name = name_for(app_name);
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &crate::gvk("", "v1", "ConfigMap", "configmaps"),
    );
    let existing = api.get_opt(&name).await.ok().flatten();
    if entries.is_empty() {
        if existing.is_some() {
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
        return;
    }
    let doc = document(entries);
    if let Some(e) = &existing
        && e.data
            .pointer("/data/resources.json")
            .and_then(Value::as_str)
            == Some(doc.as_str())
    {
        return;
    }
    let mut cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {LABEL: app_name}},
        "data": {"resources.json": doc},
    });
    if !uid.is_empty() {
        cm["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "name": app_name, "uid": uid,
        }]);
    }
    let _ = api
        .patch(
            &name,
            &PatchParams::apply(super::FIELD_MANAGER).force(),
            &Patch::Apply(&cm),
        )
        .await;
}

/// Deletes the diff ConfigMap of `app` (its Application is being deleted).
pub(crate) async fn remove(client: &Client, app: &Value) {
    store(client, app, Vec::new()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_objects_lose_server_fields() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "managedFields": [],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"k": "v"}, "status": {}});
        assert_eq!(
            strip_live(&live),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn secret_values_are_hidden_and_changes_still_show() {
        let e = entry(
            "",
            "v1",
            "Secret",
            "ns",
            "s",
            Some(&json!({"data": {"same": "YQ==", "changed": "Yg=="}})),
            Some(&json!({"metadata": {"name": "s"}, "data": {"same": "YQ==", "changed": "Yw=="}})),
        );
        assert_eq!(e["target"]["data"]["same"], e["live"]["data"]["same"]);
        assert_ne!(e["target"]["data"]["changed"], e["live"]["data"]["changed"]);
        assert!(!e.to_string().contains("YQ==") && !e.to_string().contains("Yw=="));
    }

    #[test]
    fn the_document_is_bounded() {
        let big = "x".repeat(100 * 1024);
        let entries: Vec<Value> = (0..10)
            .map(|i| {
                entry(
                    "",
                    "v1",
                    "ConfigMap",
                    "ns",
                    &format!("c{i}"),
                    Some(&json!({"data": {"k": big}})),
                    None,
                )
            })
            .collect();
        let doc = document(entries);
        assert!(doc.len() <= MAX_BYTES, "{}", doc.len());
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["resources"].as_array().map(Vec::len), Some(5));
        assert_eq!(v["resources"][0]["version"], "v1");
    }

    #[test]
    fn names_fit_kubernetes() {
        assert_eq!(name_for("guestbook"), "sluice-diff-guestbook");
        assert!(name_for(&"a".repeat(253)).len() <= 253);
    }
}
