//! The verbs on stored objects, independent of HTTP: create, update (and status), patch,
//! delete with propagation and finalizers, garbage collection, namespace finalization.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use sluice_core::{FieldError, FieldErrors, Object, names};

use crate::admission::{self, AdmissionRequest, FieldValidation, Operation};
use crate::apply;
use crate::decode::Findings;
use crate::patch;
use crate::resources::ResourceInfo;
use crate::server::State;
use crate::status::{ApiError, group_resource};
use crate::store::{StoreError, resource_key, rv_of};
use crate::util;

/// Options of a write.
#[derive(Debug, Clone)]
pub struct WriteOpts {
    pub field_manager: String,
    pub field_validation: FieldValidation,
    pub dry_run: bool,
    pub force: bool,
    /// What strict decoding of the request body found (duplicate fields): rejected under
    /// `fieldValidation=Strict`, warnings under Warn, dropped under Ignore.
    pub decoded: Findings,
    /// The body was a JSON, merge or strategic merge patch: strict findings are reported as
    /// upstream's patch handler does (422 on the `patch` field) rather than as a 400.
    pub patched: bool,
    /// The request's deadline gate (see [`crate::limits::Gate`]): admission checks it before
    /// anything is stored, so a request that timed out never lands later.
    pub gate: Option<Arc<crate::limits::Gate>>,
    /// Who asks (None: the server itself); RBAC writes are checked against its rights.
    pub user: Option<Arc<sluice_auth::UserInfo>>,
}

impl Default for WriteOpts {
    fn default() -> Self {
        WriteOpts {
            field_manager: "sluice".into(),
            field_validation: FieldValidation::Warn,
            dry_run: false,
            force: false,
            decoded: Findings::default(),
            patched: false,
            gate: None,
            user: None,
        }
    }
}

/// The result of a write: the object, warnings for the client, whether it was created.
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Arc<Value>,
    /// The object as the store keeps it (its JSON text), when this write stored it.
    pub stored: Option<crate::store::Obj>,
    pub warnings: Vec<String>,
    pub created: bool,
}

/// `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "Orphan" => Ok(Propagation::Orphan),
            "Background" | "" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            other => Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            )),
        }
    }
}

/// Options of a delete.
#[derive(Debug, Clone)]
pub struct DeleteOpts {
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<u64>,
    pub dry_run: bool,
}

impl Default for DeleteOpts {
    fn default() -> Self {
        DeleteOpts {
            propagation: Propagation::Background,
            precondition_uid: None,
            precondition_rv: None,
            dry_run: false,
        }
    }
}

fn store_err(info: &ResourceInfo, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(&info.group, &info.plural, name),
        StoreError::NotFound => ApiError::not_found(&info.group, &info.plural, name),
        StoreError::Conflict => ApiError::conflict(&info.group, &info.plural, name),
        StoreError::Gone { requested, oldest } => {
            ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
        }
        other => ApiError::internal(other.to_string()),
    }
}

pub fn meta_str<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn meta_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    if !v.get("metadata").is_some_and(Value::is_object) {
        v["metadata"] = json!({});
    }
    match v.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable_meta(),
    }
}

#[allow(clippy::panic)]
fn unreachable_meta() -> ! {
    panic!("metadata was just made an object")
}

/// The JSONPath `.spec.replicas` of scale paths as a JSON pointer.
pub fn path_to_pointer(p: &str) -> String {
    p.trim_start_matches('.')
        .split('.')
        .map(|s| format!("/{s}"))
        .collect()
}

/// Kinds whose registry strategy maintains `metadata.generation` (those with a spec the
/// controllers observe); ConfigMaps, Secrets and the like have none.
pub fn tracks_generation(info: &ResourceInfo) -> bool {
    info.custom
        || matches!(
            info.kind.as_str(),
            "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job"
                | "CronJob"
                | "Ingress"
                | "HorizontalPodAutoscaler"
                | "CustomResourceDefinition"
                | "Pod"
        )
}

fn without_meta_status(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    c
}

/// Checks the body's apiVersion and kind against the endpoint.
pub fn check_type(info: &ResourceInfo, version: &str, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the object provided is not a JSON or YAML object",
        ));
    }
    let o = Object::new(obj.clone());
    if o.kind().is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{}'",
            serde_json::to_string(obj).unwrap_or_default()
        )));
    }
    let gvk = o.gvk();
    if gvk.group != info.group || !info.versions.contains(&gvk.version) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            o.api_version(),
            info.api_version(version)
        )));
    }
    if o.kind() != info.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind ({})",
            o.kind(),
            info.kind
        )));
    }
    Ok(())
}

/// Strict decoding (upstream's `fieldValidation`): the body's duplicate fields (`o.decoded`)
/// and the unknown fields validation found. Strict: an error, as kube-apiserver words it —
/// a 400 `... cannot be handled as a Kind: strict decoding error: ...` for a body, a 422 on
/// the `patch` field for a JSON/merge/strategic patch (endpoints/handlers/patch.go). Warn:
/// the duplicate findings as warnings (unknown ones are warned by validation). Ignore: none.
fn strict_decoding(
    info: &ResourceInfo,
    obj: &Value,
    unknown: &FieldErrors,
    o: &WriteOpts,
) -> Result<Vec<String>, ApiError> {
    match o.field_validation {
        FieldValidation::Ignore => return Ok(Vec::new()),
        FieldValidation::Warn => return Ok(o.decoded.messages.clone()),
        FieldValidation::Strict => {}
    }
    if o.decoded.is_empty() && unknown.is_empty() {
        return Ok(Vec::new());
    }
    let mut list: Vec<String> = o.decoded.messages.clone();
    list.extend(unknown.iter().map(|e| e.message.clone()));
    let text = format!("strict decoding error: {}", list.join(", "));
    if o.patched {
        // errors.NewInvalid(schema.GroupKind{}, "", field.Invalid(field.NewPath("patch"),
        // patchedObjJS, strictDecodingError)): the value is the patched object
        let mut shown = serde_json::to_string(obj).unwrap_or_default();
        if shown.len() > 1024 {
            let mut cut = 1024;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push_str("...");
        }
        let errs: FieldErrors = FieldError::new(
            "patch",
            format!(
                "Invalid value: {}: {text}",
                serde_json::Value::String(shown)
            ),
        )
        .into();
        let mut e = ApiError::invalid("", "", "", &errs);
        e.details = Some(
            json!({"causes": e.details.as_ref().and_then(|d| d.get("causes")).cloned().unwrap_or(json!([]))}),
        );
        return Err(e);
    }
    let name = meta_str(obj, "name");
    let mut err = ApiError::bad_request(format!(
        "{} in version \"{}\" cannot be handled as a {}: {text}",
        info.kind,
        Object::new(obj.clone()).gvk().version,
        info.kind,
    ));
    let mut causes: Vec<Value> = o
        .decoded
        .messages
        .iter()
        .map(|m| {
            let field = m.split('"').nth(1).unwrap_or_default();
            json!({"reason": "FieldValueDuplicate", "message": m, "field": field})
        })
        .collect();
    causes.extend(unknown.iter().map(|e| {
        json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.path.to_string()})
    }));
    err.details = Some(json!({"name": name, "kind": info.kind, "causes": causes}));
    Err(err)
}

/// Copies `lastTransitionTime` from `old`'s status condition of the same type and status.
fn keep_transition_times(new: &mut Value, old: &Value) {
    let olds = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(conds) = new
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in conds {
            let prev = olds
                .iter()
                .find(|o| o.get("type") == c.get("type") && o.get("status") == c.get("status"));
            if let (Some(t), Some(m)) = (
                prev.and_then(|o| o.get("lastTransitionTime")),
                c.as_object_mut(),
            ) {
                m.insert("lastTransitionTime".into(), t.clone());
            }
        }
    }
}

pub(crate) fn name_errors(info: &ResourceInfo, name: &str) -> FieldErrors {
    let mut errs = FieldErrors::new();
    // the built-in kind's ValidateNameFunc; a custom resource's name is a DNS subdomain
    let msgs = if info.custom {
        names::dns1123_subdomain(name)
    } else {
        crate::builtin_validation::name_rule_messages(&info.kind, name)
    };
    let rbac = !info.custom
        && matches!(
            info.kind.as_str(),
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
        );
    let segment = if rbac {
        Vec::new()
    } else {
        crate::builtin_validation::path_segment_name(name)
    };
    for m in msgs.into_iter().chain(segment) {
        errs.push(FieldError::new(
            "metadata.name",
            format!("Invalid value: {name:?}: {m}"),
        ));
    }
    errs
}

/// How often a patch without a resourceVersion is re-applied to the newer object when a
/// concurrent write won the race. Upstream never answers such a patch 409 for a concurrent
/// write: the storage's GuaranteedUpdate re-reads and re-applies until it lands
/// (k8s.io/apiserver pkg/storage/etcd3/store.go). A `kubectl patch` failed 409 in CI when
/// the simulated node wrote the Deployment's status meanwhile: the retry was never taken
/// (it tested a resourceVersion every patched document has). The bound only stops a
/// livelock.
const PATCH_ATTEMPTS: usize = 100;

impl State {
    pub(crate) fn related_objects(&self, obj: &Value) -> Vec<Object> {
        let group = Object::new(obj.clone()).gvk().group;
        if group.is_empty() || group.ends_with("k8s.io") || group == "apps" || group == "batch" {
            return Vec::new();
        }
        let ns = meta_str(obj, "namespace").to_owned();
        let reg = self.reg();
        let mut out = Vec::new();
        let mut builtin = Vec::new();
        for r in reg.all() {
            // runs and Applications are never the target of a reference, and they are the
            // kinds that pile up (thousands of finished PipelineRuns and TaskRuns, thousands
            // of Applications): parsing them made every write of a custom resource cost
            // O(stored runs) (bench/serve.py) and every Application write O(Applications),
            // a sync wave of 10,000 O(N^2) (bench/applications.py)
            if r.custom && !never_referenced(&r.group, &r.plural) {
                let ns_filter = r.namespaced.then_some(ns.as_str());
                let (objs, _) =
                    self.store
                        .list_stored(&resource_key(&r.group, &r.plural), ns_filter, None);
                out.extend(objs.iter().map(|o| Object::new(o.value())));
            } else if matches!(
                r.plural.as_str(),
                "secrets" | "configmaps" | "serviceaccounts" | "persistentvolumeclaims"
            ) {
                builtin.push(resource_key(&r.group, &r.plural));
            }
        }
        // Secrets, ConfigMaps, ServiceAccounts and claims are only ever found by name (or
        // are the feature-flag ConfigMaps): those named by a string of the object or of a
        // custom object it may reference are read, the others (an EventListener's ~100
        // delivery records, say) are not parsed at every write.
        let mut names: HashSet<&str> = HashSet::new();
        strings_of(obj, &mut names);
        for o in &out {
            strings_of(o.value(), &mut names);
        }
        let mut found = Vec::new();
        for key in builtin {
            let objs = self.store.list_named(&key, Some(&ns), |n| {
                names.contains(n) || FLAG_CONFIGMAPS.contains(&n)
            });
            found.extend(objs.iter().map(|o| Object::new(o.value())));
        }
        out.extend(found);
        out
    }

    /// Built-in validation then the registered hooks. Returns warnings.
    fn admit(
        &self,
        info: &ResourceInfo,
        op: Operation,
        obj: &mut Value,
        old: Option<&Value>,
        o: &WriteOpts,
    ) -> Result<Vec<String>, ApiError> {
        let name = meta_str(obj, "name").to_owned();
        let mut errors = name_errors(info, &name);
        // only custom resources resolve references (taskRef, secrets...) to other objects;
        // a built-in kind never pays for the copy
        let related = if info.custom {
            self.related_objects(obj)
        } else {
            Vec::new()
        };
        let (errs, unknown, warnings) = admission::validate(obj, &related, o.field_validation);
        let mut warnings = strict_decoding(info, obj, &unknown, o)?
            .into_iter()
            .chain(warnings)
            .collect::<Vec<_>>();
        let have_name_err = errors.has_errors();
        for e in errs {
            if have_name_err && e.path.to_string() == "metadata.name" {
                continue;
            }
            errors.push(e);
        }
        if !info.custom {
            // kube-apiserver's own finding replaces `validate_one`'s at the same field (both
            // check e.g. a workload's selector against its template's labels)
            let upstream = crate::builtin_validation::validate(&info.group, &info.kind, obj, old);
            let paths: Vec<String> = upstream.iter().map(|e| e.path.to_string()).collect();
            // metadata is upstream's alone (ValidateObjectMetaAccessor: labels and annotations
            // reported at the map's path, not per key)
            errors.0.retain(|e| {
                let p = e.path.to_string();
                !paths.contains(&p) && (p == "metadata.name" || !p.starts_with("metadata."))
            });
            errors.also(upstream);
        }
        if errors.has_errors() {
            return Err(ApiError::invalid(&info.group, &info.kind, &name, &errors));
        }
        crate::auth::check_rbac_write(self, o.user.as_deref(), info, obj)?;
        let hooks = self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone();
        for h in hooks {
            let mut req = AdmissionRequest {
                operation: op,
                resource: info,
                object: obj,
                old,
                dry_run: o.dry_run,
            };
            warnings.extend(admission::call_hook(h.as_ref(), &mut req)?);
        }
        if let Some(gate) = &o.gate {
            gate.commit()?;
        }
        Ok(warnings)
    }

    fn check_namespace(&self, info: &ResourceInfo, ns: &str) -> Result<(), ApiError> {
        if !info.namespaced {
            return Ok(());
        }
        match self.store.get("/namespaces", "", ns) {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
                let mut e = ApiError::forbidden(format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    group_resource(&info.group, &info.plural),
                    ""
                ));
                e.details = Some(
                    json!({"causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
                );
                Err(e)
            }
            Some(_) => Ok(()),
        }
    }

    /// Creates an object (POST).
    pub fn create(
        &self,
        info: &ResourceInfo,
        version: &str,
        ns: Option<&str>,
        obj: Value,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        check_type(info, version, &obj)?;
        let mut obj = crate::convert::to_storage(info, obj);
        {
            let body_ns = meta_str(&obj, "namespace").to_owned();
            let m = meta_mut(&mut obj);
            if info.namespaced {
                let ns = match (ns, body_ns.as_str()) {
                    (Some(p), "") => p.to_owned(),
                    (Some(p), b) if p != b => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    (_, b) if !b.is_empty() => b.to_owned(),
                    _ => "default".to_owned(),
                };
                m.insert("namespace".into(), json!(ns));
            } else {
                m.remove("namespace");
            }
        }
        let ns = meta_str(&obj, "namespace").to_owned();
        self.check_namespace(info, &ns)?;
        let mut name = meta_str(&obj, "name").to_owned();
        let generate = meta_str(&obj, "generateName").to_owned();
        if name.is_empty() && generate.is_empty() {
            let errs: FieldErrors = FieldError::new(
                "metadata.name",
                "Required value: name or generateName is required",
            )
            .into();
            return Err(ApiError::invalid(&info.group, &info.kind, "", &errs));
        }
        let generated = name.is_empty();
        if generated {
            name = format!("{generate}{}", util::name_suffix());
            meta_mut(&mut obj).insert("name".into(), json!(name));
        }
        let now = util::now_rfc3339();
        {
            let m = meta_mut(&mut obj);
            m.insert("uid".into(), json!(util::new_uid()));
            m.insert("creationTimestamp".into(), json!(now));
            if tracks_generation(info) {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
            for k in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                m.remove(k);
            }
        }
        if info.status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if !info.custom {
            admission::default_builtin(info, &mut obj);
        }
        if info.kind == "CustomResourceDefinition" {
            let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
            obj["status"] = crate::resources::crd_status(&names, &now);
            crate::convert::track_stored_versions(&mut obj, None);
        }
        if is_kyverno_policy(info) {
            crate::resources::kyverno_policy_defaults_and_status(&mut obj, None, &now);
        }
        apply::record_update(None, &mut obj, &o.field_manager, "Update");
        let warnings = self.admit(info, Operation::Create, &mut obj, None, o)?;
        if o.dry_run {
            // apiserver's DryRunnableStorage.Create: a dry-run create of a name that exists
            // is AlreadyExists, as the real create would be; nothing is stored and no
            // resourceVersion assigned.
            let key = resource_key(&info.group, &info.plural);
            if !generated && self.store.get(&key, &ns, &name).is_some() {
                return Err(ApiError::already_exists(&info.group, &info.plural, &name));
            }
            return Ok(Written {
                object: Arc::new(obj),
                stored: None,
                warnings,
                created: true,
            });
        }
        let key = resource_key(&info.group, &info.plural);
        let mut tries = 0;
        let (stored, text) = loop {
            match self.store.create_stored(&key, obj.clone()) {
                Ok(s) => break s,
                Err(StoreError::AlreadyExists) if generated && tries < 8 => {
                    tries += 1;
                    name = format!("{generate}{}", util::name_suffix());
                    meta_mut(&mut obj).insert("name".into(), json!(name));
                }
                Err(e) => return Err(store_err(info, &name, e)),
            }
        };
        if info.kind == "CustomResourceDefinition" {
            self.registry_mut().upsert_crd(&stored);
        }
        Ok(Written {
            object: stored,
            stored: Some(text),
            warnings,
            created: true,
        })
    }

    /// Reads an object or 404.
    pub fn get(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let ns = if info.namespaced { ns } else { "" };
        self.store
            .get(&resource_key(&info.group, &info.plural), ns, name)
            .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))
    }

    /// [`State::get`] as stored (not parsed).
    pub fn get_stored(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
    ) -> Result<crate::store::Obj, ApiError> {
        let ns = if info.namespaced { ns } else { "" };
        self.store
            .get_stored(&resource_key(&info.group, &info.plural), ns, name)
            .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))
    }

    /// Replaces an object (PUT) or its status (`sub == Some("status")`).
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &self,
        info: &ResourceInfo,
        version: &str,
        ns: &str,
        name: &str,
        body: Value,
        sub: Option<&str>,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        check_type(info, version, &body)?;
        let body_name = meta_str(&body, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let expected = match meta_str(&body, "resourceVersion") {
            "" => None,
            s => Some(
                s.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
            ),
        };
        let old = self.get(info, ns, name)?;
        self.replace(info, &old, body, sub, o, expected, "Update")
    }

    /// The common tail of update and patch.
    #[allow(clippy::too_many_arguments)]
    fn replace(
        &self,
        info: &ResourceInfo,
        old: &Arc<Value>,
        body: Value,
        sub: Option<&str>,
        o: &WriteOpts,
        expected: Option<u64>,
        operation: &str,
    ) -> Result<Written, ApiError> {
        let name = meta_str(old, "name").to_owned();
        let body = crate::convert::to_storage(info, body);
        let mut new = if sub == Some("status") {
            let mut n = (**old).clone();
            match body.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(m) = n.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            n
        } else {
            let mut n = body;
            if info.status {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            n
        };
        {
            let om = old.get("metadata").cloned().unwrap_or(json!({}));
            let m = meta_mut(&mut new);
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "namespace",
                "name",
                "generation",
            ] {
                match om.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            if m.get("managedFields").is_none_or(|v| !v.is_array())
                && let Some(mf) = om.get("managedFields")
            {
                m.insert("managedFields".into(), mf.clone());
            }
            m.remove("resourceVersion");
            if let Some(rv) = om.get("resourceVersion") {
                m.insert("resourceVersion".into(), rv.clone());
            }
        }
        if !info.custom && sub.is_none() {
            // upstream defaults every decoded object, updates and patches included
            crate::defaults::apply(&info.group, &info.kind, &mut new, Some(old));
        }
        if tracks_generation(info) && without_meta_status(&new) != without_meta_status(old) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if is_kyverno_policy(info) && sub.is_none() {
            crate::resources::kyverno_policy_defaults_and_status(
                &mut new,
                Some(old),
                &util::now_rfc3339(),
            );
        }
        if info.kind == "CustomResourceDefinition" && sub.is_none() {
            let names = new.pointer("/spec/names").cloned().unwrap_or(json!({}));
            new["status"] = crate::resources::crd_status(&names, &util::now_rfc3339());
            // apiextensions' SetCRDCondition: a condition whose status did not change keeps
            // its lastTransitionTime (else every update, and every `kubectl diff`'s dry-run
            // patch, shows the CRD's conditions moving)
            keep_transition_times(&mut new, old);
            crate::convert::track_stored_versions(&mut new, Some(old));
        }
        if operation == "Update" {
            apply::record_update(Some(old), &mut new, &o.field_manager, "Update");
        }
        let warnings = if sub == Some("status") {
            let w = strict_decoding(info, &new, &FieldErrors::new(), o)?;
            if let Some(gate) = &o.gate {
                gate.commit()?;
            }
            w
        } else {
            self.admit(info, Operation::Update, &mut new, Some(old), o)?
        };
        if new == **old {
            return Ok(Written {
                object: old.clone(),
                stored: None,
                warnings,
                created: false,
            });
        }
        if o.dry_run {
            return Ok(Written {
                object: Arc::new(new),
                stored: None,
                warnings,
                created: false,
            });
        }
        let key = resource_key(&info.group, &info.plural);
        let terminating = new.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        let (stored, text) = self
            .store
            .update_stored(&key, new, expected)
            .map_err(|e| store_err(info, &name, e))?;
        if info.kind == "CustomResourceDefinition" {
            self.registry_mut().upsert_crd(&stored);
        }
        if terminating && no_finalizers {
            let ns = meta_str(&stored, "namespace").to_owned();
            let gone = self
                .store
                .delete(&key, &ns, &name, None)
                .map_err(|e| store_err(info, &name, e))?;
            self.after_delete(info, &gone);
            return Ok(Written {
                object: gone,
                stored: None,
                warnings,
                created: false,
            });
        }
        Ok(Written {
            object: stored,
            stored: Some(text),
            warnings,
            created: false,
        })
    }

    /// Applies a patch (`content_type` picks the kind) to an object or its status/scale.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        info: &ResourceInfo,
        version: &str,
        ns: &str,
        name: &str,
        content_type: &str,
        body: &[u8],
        sub: Option<&str>,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let ct = content_type.split(';').next().unwrap_or_default().trim();
        let parse_json = || -> Result<(Value, Findings), ApiError> {
            crate::decode::json_strict(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
        };
        if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json" {
            let config = crate::server::decode_body(body, "application/yaml")?;
            return self.server_side_apply(info, version, ns, name, config, sub, o);
        }
        let (p, found) = match ct {
            "application/json-patch+json" => {
                // the operations are decoded strictly (`[]jsonPatchOp`): unknown and duplicate
                // fields of an operation are `json patch ...` findings
                let (p, found) = parse_json()?;
                let mut found = found.prefixed("json patch ");
                found.extend_unknown_ops(&p);
                (p, found)
            }
            "application/merge-patch+json" => parse_json()?,
            "application/strategic-merge-patch+json" => {
                if info.custom {
                    return Err(ApiError::unsupported_media_type(ct, false));
                }
                parse_json()?
            }
            other => return Err(ApiError::unsupported_media_type(other, !info.custom)),
        };
        let mut o = o.clone();
        o.decoded = found;
        o.patched = true;
        let o = &o;
        for _attempt in 0..PATCH_ATTEMPTS {
            let old = self.get(info, ns, name)?;
            let mut doc = if sub == Some("scale") {
                self.scale_of(info, &old)?
            } else {
                // the patch is written against the version of the request
                crate::convert::to_version(info, (*old).clone(), version)
            };
            match ct {
                "application/json-patch+json" => patch::json_patch(&mut doc, &p)
                    .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?,
                "application/merge-patch+json" => patch::merge_patch(&mut doc, &p),
                _ => {
                    let schema = patch::Schema::of(&doc);
                    patch::strategic_merge_patch(&mut doc, &p, schema)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?
                }
            }
            if !doc.is_object() {
                // upstream decodes the patched document into the object: a JSON patch that
                // replaces the root, or a merge patch that is no object, fails there (422)
                let shown = serde_json::to_string(&doc).unwrap_or_default();
                let errs: FieldErrors = FieldError::new(
                    "patch",
                    format!(
                        "Invalid value: {}: the patched document is not a JSON object",
                        Value::String(shown.chars().take(1024).collect())
                    ),
                )
                .into();
                return Err(ApiError::invalid("", "", "", &errs));
            }
            if sub == Some("scale") {
                return self.set_scale(info, &old, &doc, o);
            }
            // the patched document carries the current object's resourceVersion unless the
            // patch set one: a version the patch pins that is not the current one is a
            // conflict; otherwise a concurrent write that won the race makes the patch apply
            // again to the newer object (where a pinned version then no longer matches)
            let want = match meta_str(&doc, "resourceVersion") {
                "" => None,
                s => Some(s.parse::<u64>().unwrap_or(0)),
            };
            if want.is_some_and(|w| w != rv_of(&old)) {
                return Err(ApiError::conflict(&info.group, &info.plural, name));
            }
            let mut o2 = o.clone();
            o2.field_manager = o.field_manager.clone();
            match self.replace(info, &old, doc, sub, &o2, Some(rv_of(&old)), "Update") {
                Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
                r => return r,
            }
        }
        Err(ApiError::conflict(&info.group, &info.plural, name))
    }

    /// `application/apply-patch+yaml`: server-side apply.
    #[allow(clippy::too_many_arguments)]
    fn server_side_apply(
        &self,
        info: &ResourceInfo,
        version: &str,
        ns: &str,
        name: &str,
        config: Value,
        sub: Option<&str>,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        if o.field_manager.is_empty() || o.field_manager == "sluice-default" {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        check_type(info, version, &config)?;
        for _attempt in 0..PATCH_ATTEMPTS {
            let old = match self.get(info, ns, name) {
                Ok(o) => Some(o),
                Err(e) if e.code == 404 && sub.is_none() => None,
                Err(e) => return Err(e),
            };
            let live = old
                .as_ref()
                .map(|l| crate::convert::to_version(info, (**l).clone(), version));
            let merged = apply::apply(live.as_ref(), &config, &o.field_manager, o.force, info)?;
            match old {
                None => {
                    let mut obj = merged;
                    meta_mut(&mut obj).insert("name".into(), json!(name));
                    let ns_opt = if info.namespaced { Some(ns) } else { None };
                    // the apply entry is kept; create records no extra Update entry
                    let mut o2 = o.clone();
                    o2.field_manager = String::new();
                    return self.create_applied(info, version, ns_opt, obj, &o2);
                }
                Some(old) => {
                    match self.replace(info, &old, merged, sub, o, Some(rv_of(&old)), "Apply") {
                        Err(e) if e.code == 409 && e.reason == "Conflict" => continue,
                        r => return r,
                    }
                }
            }
        }
        Err(ApiError::conflict(&info.group, &info.plural, name))
    }

    fn create_applied(
        &self,
        info: &ResourceInfo,
        version: &str,
        ns: Option<&str>,
        obj: Value,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let mf = obj.pointer("/metadata/managedFields").cloned();
        let mut w = self.create_inner(info, version, ns, obj, o, mf)?;
        w.created = true;
        Ok(w)
    }

    fn create_inner(
        &self,
        info: &ResourceInfo,
        version: &str,
        ns: Option<&str>,
        obj: Value,
        o: &WriteOpts,
        managed: Option<Value>,
    ) -> Result<Written, ApiError> {
        match managed {
            None => self.create(info, version, ns, obj, o),
            Some(mf) => {
                // create, then restore the apply manager's entry (create records Update)
                let mut o2 = o.clone();
                o2.dry_run = true;
                let w = self.create(info, version, ns, obj, &o2)?;
                let mut v = (*w.object).clone();
                meta_mut(&mut v).insert("managedFields".into(), mf);
                if o.dry_run {
                    return Ok(Written {
                        object: Arc::new(v),
                        stored: None,
                        ..w
                    });
                }
                let key = resource_key(&info.group, &info.plural);
                let name = meta_str(&v, "name").to_owned();
                let stored = self
                    .store
                    .create(&key, v)
                    .map_err(|e| store_err(info, &name, e))?;
                if info.kind == "CustomResourceDefinition" {
                    self.registry_mut().upsert_crd(&stored);
                }
                Ok(Written {
                    object: stored,
                    stored: None,
                    ..w
                })
            }
        }
    }

    /// The `autoscaling/v1 Scale` of an object.
    pub fn scale_of(&self, info: &ResourceInfo, obj: &Value) -> Result<Value, ApiError> {
        let Some(sp) = &info.scale else {
            return Err(ApiError::no_route());
        };
        let spec = obj
            .pointer(&path_to_pointer(&sp.spec_replicas))
            .cloned()
            .unwrap_or(json!(0));
        let status = obj
            .pointer(&path_to_pointer(&sp.status_replicas))
            .cloned()
            .unwrap_or(json!(0));
        let selector = match sp.label_selector.as_deref() {
            Some(p) => obj.pointer(&path_to_pointer(p)).cloned(),
            None => None,
        }
        .or_else(|| {
            // a LabelSelector's matchLabels, or a ReplicationController's plain map
            let sel = obj.pointer("/spec/selector")?.as_object()?;
            let ml = match sel.get("matchLabels") {
                Some(m) => m.as_object()?,
                None if sel.values().all(Value::is_string) => sel,
                None => return None,
            };
            Some(json!(
                ml.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            ))
        });
        let m = obj.get("metadata").cloned().unwrap_or(json!({}));
        let mut scale = json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": m.get("name"), "namespace": m.get("namespace"), "uid": m.get("uid"),
                "resourceVersion": m.get("resourceVersion"), "creationTimestamp": m.get("creationTimestamp"),
            },
            "spec": {"replicas": spec},
            "status": {"replicas": status},
        });
        if let Some(s) = selector {
            scale["status"]["selector"] = s;
        }
        Ok(scale)
    }

    /// Writes a Scale's `spec.replicas` into its object.
    pub fn set_scale(
        &self,
        info: &ResourceInfo,
        old: &Arc<Value>,
        scale: &Value,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let Some(sp) = &info.scale else {
            return Err(ApiError::no_route());
        };
        let replicas = scale
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                let errs: FieldErrors = FieldError::new("spec.replicas", "Required value").into();
                ApiError::invalid("autoscaling", "Scale", meta_str(old, "name"), &errs)
            })?;
        if replicas < 0 {
            let errs: FieldErrors = FieldError::new(
                "spec.replicas",
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )
            .into();
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                meta_str(old, "name"),
                &errs,
            ));
        }
        let want = match meta_str(scale, "resourceVersion") {
            "" => None,
            s => s.parse::<u64>().ok(),
        };
        let mut new = (**old).clone();
        let ptr = path_to_pointer(&sp.spec_replicas);
        set_pointer(&mut new, &ptr, json!(replicas));
        let w = self.replace(info, old, new, None, o, want.or(Some(rv_of(old))), "Update")?;
        let s = self.scale_of(info, &w.object)?;
        Ok(Written {
            object: Arc::new(s),
            stored: None,
            ..w
        })
    }

    /// Deletes an object: finalizers and propagation as upstream's registry and garbage
    /// collector. Returns the object (deleted, or marked with deletionTimestamp).
    pub fn delete(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        d: &DeleteOpts,
    ) -> Result<Arc<Value>, ApiError> {
        let ns = if info.namespaced { ns } else { "" };
        let key = resource_key(&info.group, &info.plural);
        let cur = self.get(info, ns, name)?;
        if let Some(uid) = &d.precondition_uid
            && meta_str(&cur, "uid") != uid
        {
            return Err(ApiError::conflict_msg(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&cur, "uid")
                ),
            ));
        }
        if let Some(rv) = d.precondition_rv
            && rv != rv_of(&cur)
        {
            return Err(ApiError::conflict_msg(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    rv_of(&cur)
                ),
            ));
        }
        if d.dry_run {
            return Ok(cur);
        }
        let uid = meta_str(&cur, "uid").to_owned();
        if info.kind == "Namespace" {
            return self.delete_namespace(&cur);
        }
        match d.propagation {
            Propagation::Orphan => self.orphan_dependents(&uid),
            Propagation::Foreground => {
                let deps = self.dependents(&uid);
                if !deps.is_empty() {
                    let mut v = (*cur).clone();
                    mark_deleting(&mut v, Some("foregroundDeletion"));
                    let stored = self
                        .store
                        .update(&key, v, None)
                        .map_err(|e| store_err(info, name, e))?;
                    for (r, dep) in deps {
                        self.delete_dependent(&r, &dep, Propagation::Foreground);
                    }
                    self.collect_garbage();
                    return Ok(self.store.get(&key, ns, name).unwrap_or(stored));
                }
            }
            Propagation::Background => {}
        }
        let has_finalizers = cur
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if cur.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(cur);
            }
            let mut v = (*cur).clone();
            mark_deleting(&mut v, None);
            return self
                .store
                .update(&key, v, None)
                .map_err(|e| store_err(info, name, e));
        }
        let gone = self
            .store
            .delete(&key, ns, name, None)
            .map_err(|e| store_err(info, name, e))?;
        self.after_delete(info, &gone);
        Ok(gone)
    }

    fn after_delete(&self, info: &ResourceInfo, gone: &Value) {
        if info.kind == "CustomResourceDefinition" {
            self.registry_mut().remove_crd(gone);
            // the CRD's objects go with it
            if let Some(r) = crate::resources::from_crd(gone) {
                let key = resource_key(&r.group, &r.plural);
                let (objs, _) = self.store.list(&key, None, None);
                for o in objs {
                    let _ = self.store.delete(
                        &key,
                        meta_str(&o, "namespace"),
                        meta_str(&o, "name"),
                        None,
                    );
                }
            }
        }
        if self.deletion_may_collect(info, gone) {
            self.collect_garbage();
        }
    }

    /// Whether deleting `gone` can give the garbage collector work: an object it owned is
    /// orphaned now, an owner of it may be waiting for it in foreground deletion, its
    /// namespace is terminating, or it was a Namespace or CRD. Otherwise the sweep, which
    /// reads every stored object, is skipped: an EventListener's pruned delivery records,
    /// say, cost O(stored objects) each before (bench/serve.py, perf). The check itself
    /// reads each object's ownerReferences under the store's lock, copying nothing.
    fn deletion_may_collect(&self, info: &ResourceInfo, gone: &Value) -> bool {
        if matches!(info.kind.as_str(), "Namespace" | "CustomResourceDefinition")
            || !owner_uids(gone).is_empty()
        {
            return true;
        }
        let ns = meta_str(gone, "namespace");
        if !ns.is_empty()
            && self
                .store
                .get("/namespaces", "", ns)
                .is_some_and(|n| n.pointer("/metadata/deletionTimestamp").is_some())
        {
            return true;
        }
        let uid = meta_str(gone, "uid");
        !uid.is_empty() && self.store.any(|m| m.owners.iter().any(|o| **o == *uid))
    }

    fn resource_of_key(&self, key: &str) -> Option<Arc<ResourceInfo>> {
        let (g, r) = key.split_once('/')?;
        self.reg().by_group_resource(g, r)
    }

    /// Objects whose ownerReferences name `uid`.
    fn dependents(&self, uid: &str) -> Vec<(String, Arc<Value>)> {
        self.store
            .all()
            .into_iter()
            .filter(|(_, _, _, o)| o.meta().owners.iter().any(|u| **u == *uid))
            .map(|(key, _, _, o)| (key.to_string(), Arc::new(o.value())))
            .collect()
    }

    fn orphan_dependents(&self, uid: &str) {
        for (key, dep) in self.dependents(uid) {
            let mut v = (*dep).clone();
            if let Some(refs) = v
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                if refs.is_empty()
                    && let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    m.remove("ownerReferences");
                }
            }
            let _ = self.store.update(&key, v, None);
        }
    }

    fn delete_dependent(&self, key: &str, dep: &Value, p: Propagation) {
        self.delete_dependent_named(key, meta_str(dep, "namespace"), meta_str(dep, "name"), p);
    }

    fn delete_dependent_named(&self, key: &str, ns: &str, name: &str, p: Propagation) {
        if let Some(info) = self.resource_of_key(key) {
            let d = DeleteOpts {
                propagation: p,
                ..DeleteOpts::default()
            };
            let _ = self.delete(&info, ns, name, &d);
        }
    }

    /// The garbage collector, run after deletes: objects whose owners are all gone are
    /// deleted (background); foreground deletions whose dependents are gone complete;
    /// terminating namespaces whose contents are gone are removed.
    pub fn collect_garbage(&self) {
        for _round in 0..16 {
            // metadata only: the sweep parses no object
            let all = self.store.all();
            let uids: HashSet<&str> = all.iter().map(|(_, _, _, o)| &*o.meta().uid).collect();
            let mut changed = false;
            for (key, ns, name, o) in &all {
                let m = o.meta();
                if !m.owners.is_empty() && m.owners.iter().all(|u| !uids.contains(&**u)) {
                    self.delete_dependent_named(key, ns, name, Propagation::Background);
                    changed = true;
                    continue;
                }
                if m.foreground {
                    let blocked = all
                        .iter()
                        .any(|(_, _, _, d)| d.meta().owners.contains(&m.uid));
                    if !blocked {
                        let mut v = o.value();
                        if let Some(f) = v
                            .pointer_mut("/metadata/finalizers")
                            .and_then(Value::as_array_mut)
                        {
                            f.retain(|x| x != "foregroundDeletion");
                        }
                        let empty = v
                            .pointer("/metadata/finalizers")
                            .and_then(Value::as_array)
                            .is_none_or(Vec::is_empty);
                        if empty {
                            let _ = self.store.delete(key, ns, name, None);
                        } else {
                            let _ = self.store.update(key, v, None);
                        }
                        changed = true;
                    }
                }
            }
            for (key, _, name, o) in &all {
                if &**key == "/namespaces"
                    && o.meta().deleting
                    && self.store.resources_in_namespace(name).is_empty()
                {
                    let _ = self.store.delete(key, "", name, None);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn delete_namespace(&self, ns_obj: &Arc<Value>) -> Result<Arc<Value>, ApiError> {
        let name = meta_str(ns_obj, "name").to_owned();
        let mut v = (**ns_obj).clone();
        let stored = if v.pointer("/metadata/deletionTimestamp").is_none() {
            mark_deleting(&mut v, None);
            v["status"] = json!({"phase": "Terminating"});
            self.store
                .update("/namespaces", v, None)
                .map_err(|e| ApiError::internal(e.to_string()))?
        } else {
            ns_obj.clone()
        };
        for key in self.store.resources_in_namespace(&name) {
            let (objs, _) = self.store.list(&key, Some(&name), None);
            for o in objs {
                self.delete_dependent(&key, &o, Propagation::Background);
            }
        }
        self.collect_garbage();
        Ok(stored)
    }
}

/// The ConfigMaps validators read whoever names them (Tekton's and Triggers' feature flags).
const FLAG_CONFIGMAPS: [&str; 3] = ["feature-flags", "config-defaults", "feature-flags-triggers"];

/// Every string value in `v` (the names it may reference).
fn strings_of<'a>(v: &'a Value, out: &mut HashSet<&'a str>) {
    match v {
        Value::String(s) => {
            out.insert(s.as_str());
        }
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings_of(x, out)),
        _ => {}
    }
}

fn owner_uids(o: &Value) -> Vec<String> {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn mark_deleting(v: &mut Value, finalizer: Option<&str>) {
    let m = meta_mut(v);
    if !m.contains_key("deletionTimestamp") {
        m.insert("deletionTimestamp".into(), json!(util::now_rfc3339()));
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    if let Some(f) = finalizer {
        let list = m.entry("finalizers").or_insert(json!([]));
        if let Some(a) = list.as_array_mut()
            && !a.iter().any(|x| x == f)
        {
            a.push(json!(f));
        }
    }
}

/// Sets a value at a JSON pointer, creating objects on the way.
pub fn set_pointer(v: &mut Value, ptr: &str, val: Value) {
    let mut cur = v;
    let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(m) = cur.as_object_mut() else { return };
        if i == parts.len() - 1 {
            m.insert((*p).to_owned(), val);
            return;
        }
        cur = m.entry((*p).to_owned()).or_insert(json!({}));
    }
}

/// Kyverno's ClusterPolicy and Policy (their status is written as Kyverno writes it).
fn is_kyverno_policy(info: &ResourceInfo) -> bool {
    info.group == "kyverno.io" && matches!(info.kind.as_str(), "ClusterPolicy" | "Policy")
}

/// Tekton's run kinds: what references resolve to is never one of them.
/// Kinds no validator looks up (sluice-apis finds Tasks, Pipelines, StepActions, AppProjects,
/// bindings, templates, analysis templates, Secrets and ConfigMaps by name; never a run or an
/// Application).
fn never_referenced(group: &str, plural: &str) -> bool {
    (group == "tekton.dev" && matches!(plural, "pipelineruns" | "taskruns" | "customruns"))
        || (group == "argoproj.io" && plural == "applications")
}

#[cfg(test)]
mod run_kind_tests {
    #[test]
    fn runs_are_not_reference_targets() {
        assert!(super::never_referenced("tekton.dev", "pipelineruns"));
        assert!(super::never_referenced("tekton.dev", "taskruns"));
        assert!(super::never_referenced("argoproj.io", "applications"));
        assert!(!super::never_referenced("tekton.dev", "tasks"));
        assert!(!super::never_referenced("tekton.dev", "pipelines"));
        assert!(!super::never_referenced("argoproj.io", "appprojects"));
        assert!(!super::never_referenced("argoproj.io", "analysisruns"));
    }
}

#[cfg(test)]
mod related_tests {
    use serde_json::json;

    #[test]
    fn related_objects_are_the_custom_ones_and_the_named_builtins() {
        let s = crate::ApiServer::open(crate::Options {
            simulate: None,
            ..crate::Options::default()
        })
        .expect("opens");
        let st = s.state();
        let cm = |name: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": "default"}})
        };
        for name in ["creds", "feature-flags", "gitlab-listener.5d1f", "direct"] {
            st.store.create("/configmaps", cm(name)).expect("create");
        }
        // the Task names "creds": found through it (a TaskRun's taskRef, then its volumes)
        let task = json!({"apiVersion": "tekton.dev/v1", "kind": "Task",
            "metadata": {"name": "t", "namespace": "default"},
            "spec": {"volumes": [{"name": "v", "configMap": {"name": "creds"}}]}});
        st.store.create("tekton.dev/tasks", task).expect("task");
        let run = json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": "r", "namespace": "default"},
            "spec": {"taskRef": {"name": "t"}, "podTemplate": {"x": ["direct"]}}});
        let mut names: Vec<String> = st
            .related_objects(&run)
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["creds", "direct", "feature-flags", "t"]);
    }
}
