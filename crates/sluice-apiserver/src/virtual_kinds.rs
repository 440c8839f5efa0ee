//! The built-ins that store nothing (`resources::Verbs::Create` / `GetList`): the
//! authentication and authorization review kinds, which answer in their `status` for the
//! requesting user ([`crate::auth::review`]), `Binding`, which assigns a Pod to a node (core/pod's
//! `BindingREST`), and the read-only `ComponentStatus` list.

use serde_json::{Value, json};

use crate::ops::WriteOpts;
use crate::resources::ResourceInfo;
use crate::server::State;
use crate::status::{ApiError, success_status};

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The answer to a create of a create-only kind: (HTTP code, body).
pub fn create(
    st: &State,
    info: &ResourceInfo,
    version: &str,
    ns: Option<&str>,
    mut obj: Value,
    o: &WriteOpts,
) -> Result<(u16, Value), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of a {} must be a JSON object",
            info.kind
        )));
    }
    if info.kind == "Binding" {
        return bind(st, ns.unwrap_or("default"), &obj, o).map(|s| (201, s));
    }
    let admin = crate::auth::admin_user();
    let user = o.user.as_deref().unwrap_or(&admin);
    let status = crate::auth::review(st, &info.kind, ns, &obj, user)?;
    obj["apiVersion"] = json!(info.api_version(version));
    obj["kind"] = json!(info.kind);
    if obj.get("metadata").is_none_or(|m| !m.is_object()) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    obj["status"] = status;
    Ok((201, obj))
}

/// `POST .../namespaces/{ns}/bindings`: sets the Pod's `spec.nodeName` (a Pod already on a
/// node is a 409 as upstream's `assignPod`).
fn bind(st: &State, ns: &str, b: &Value, o: &WriteOpts) -> Result<Value, ApiError> {
    let name = str_at(b, "/metadata/name");
    let node = str_at(b, "/target/name");
    let mut errs = sluice_core::FieldErrors::new();
    if name.is_empty() {
        errs.push(sluice_core::FieldError::new(
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    }
    if node.is_empty() {
        errs.push(sluice_core::FieldError::new(
            "target.name",
            "Required value",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("", "Binding", name, &errs));
    }
    let reg = st.reg();
    let pods = reg
        .by_group_resource("", "pods")
        .ok_or_else(ApiError::no_route)?;
    drop(reg);
    let pod = st.get(&pods, ns, name)?;
    let current = str_at(&pod, "/spec/nodeName");
    if !current.is_empty() {
        return Err(ApiError::conflict_msg(
            "",
            "pods/binding",
            name,
            &format!("pod {name} is already assigned to node {current:?}"),
        ));
    }
    let patch = json!({"spec": {"nodeName": node}}).to_string();
    st.patch(
        &pods,
        "v1",
        ns,
        name,
        "application/merge-patch+json",
        patch.as_bytes(),
        None,
        o,
    )?;
    Ok(success_status(None))
}

const COMPONENTS: &[&str] = &["controller-manager", "etcd-0", "scheduler"];

fn component(name: &str) -> Value {
    json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name, "creationTimestamp": null},
        "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
    })
}

/// `GET /api/v1/componentstatuses[/{name}]`: the control plane is this process, healthy.
pub fn component_statuses(name: Option<&str>) -> Result<Value, ApiError> {
    match name {
        Some(n) if COMPONENTS.contains(&n) => Ok(component(n)),
        Some(n) => Err(ApiError::not_found("", "componentstatuses", n)),
        None => Ok(json!({
            "kind": "ComponentStatusList",
            "apiVersion": "v1",
            "metadata": {},
            "items": COMPONENTS.iter().map(|n| component(n)).collect::<Vec<_>>(),
        })),
    }
}
