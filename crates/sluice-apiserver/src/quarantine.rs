//! Quarantine: stored objects that today's checks reject.
//!
//! An object admitted by an older Sluice (or written before a check existed) may be one that
//! today's validation refuses — a policy whose expression nests too deep for the evaluator,
//! say. Evaluating it could crash a controller on every start. So on start every stored
//! object that engines and controllers interpret — custom resources (Tekton, Triggers, Argo,
//! Kyverno, user CRDs) and CRDs — is re-admitted with the built-in checks (names,
//! `sluice_apis::validate_one`; unknown fields aside, as `fieldValidation=Ignore`; each object
//! alone, so a missing or changed reference does not count). Built-in kinds (ConfigMaps,
//! Secrets, workloads) are data no engine evaluates, and there may be hundreds of thousands:
//! they are not re-checked. An object that fails is quarantined:
//! - it stays stored and served (get, list, watch), so it can be read, fixed or deleted;
//! - a Warning Event (reason `Quarantined`) on it says why, and the server logs it;
//! - controllers and background work skip it ([`State::is_quarantined`]): the policy engine,
//!   the simulated node;
//! - the quarantine ends with the object's resourceVersion: an update must pass admission, so
//!   the next version is clean, and a delete removes it.
//!
//! A check that panics on an object quarantines that object too.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sluice_core::{FieldErrors, names};

use crate::admission::{self, FieldValidation};
use crate::ops::meta_str;
use crate::resources::ResourceInfo;
use crate::server::State;
use crate::store::{resource_key, rv_of};
use crate::util;

/// One quarantined object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The store's `group/resource` key.
    pub resource: String,
    pub namespace: String,
    pub name: String,
    /// The resourceVersion that failed; later versions passed admission.
    pub resource_version: u64,
    /// Why, as the checks said it.
    pub reason: String,
}

type Key = (String, String, String);

/// Stack of the threads that re-check stored objects.
const CHECK_STACK: usize = 128 * 1024 * 1024;

/// The quarantined objects by `(resource, namespace, name)`.
#[derive(Debug, Default)]
pub struct Quarantine {
    objects: HashMap<Key, Quarantined>,
}

/// The built-in checks of admission on a stored object: Err(summary) when they reject it.
pub fn check_stored(info: &ResourceInfo, obj: &Value) -> Result<(), String> {
    let outcome = crate::supervise::isolate(|| {
        let mut errors = crate::ops::name_errors(info, meta_str(obj, "name"));
        let (errs, _, _) = admission::validate(obj, &[], FieldValidation::Ignore);
        for e in errs {
            errors.push(e);
        }
        errors
    });
    match outcome {
        Ok(errors) if errors.has_errors() => Err(summary(&errors)),
        Ok(_) => Ok(()),
        Err(panic) => Err(format!("the checks panicked on it: {panic}")),
    }
}

fn summary(errors: &FieldErrors) -> String {
    let list: Vec<String> = errors
        .iter()
        .map(|e| {
            let p = e.path.to_string();
            if p.is_empty() {
                e.message.clone()
            } else {
                format!("{p}: {}", e.message)
            }
        })
        .collect();
    let mut s = list.join("; ");
    if s.len() > 2048 {
        let mut cut = 2048;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

impl State {
    /// Re-admits the stored custom resources and CRDs with today's checks (on every core for
    /// a large store) and quarantines those that fail. Returns one warning per quarantined
    /// object.
    pub fn readmit_stored(&self) -> Vec<String> {
        let infos: HashMap<String, Arc<ResourceInfo>> = {
            let reg = self.reg();
            reg.all()
                .iter()
                .filter(|r| r.custom || r.kind == "CustomResourceDefinition")
                .map(|r| (resource_key(&r.group, &r.plural), r.clone()))
                .collect()
        };
        // kept as stored and parsed one at a time: a large store is never held parsed at once
        let all: Vec<(String, crate::store::Obj)> = self
            .store
            .all()
            .into_iter()
            .filter(|(key, ..)| infos.contains_key(&**key))
            .map(|(key, _, _, o)| (key.to_string(), o))
            .collect();
        // small stores are checked on one thread (fewer per-thread allocator heaps kept);
        // large ones on every core
        let threads = if all.len() < 2_000 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 8)
        };
        let chunk = all.len().div_ceil(threads).max(1);
        let check = |part: &[(String, crate::store::Obj)]| -> Vec<(String, Arc<Value>, String)> {
            part.iter()
                .filter_map(|(key, stored)| {
                    let info = infos.get(key)?;
                    let obj = Arc::new(stored.value());
                    check_stored(info, &obj)
                        .err()
                        .map(|why| (key.clone(), obj, why))
                })
                .collect()
        };
        // the checks run on threads with deep stacks: parsers have depth limits, and an
        // object nested past them must still be judged, not overflow the stack (an abort)
        let failed: Vec<(String, Arc<Value>, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = all
                .chunks(chunk)
                .filter_map(|part| {
                    let check = &check;
                    match std::thread::Builder::new()
                        .name("readmit".into())
                        .stack_size(CHECK_STACK)
                        .spawn_scoped(s, move || check(part))
                    {
                        Ok(h) => Some(h),
                        Err(e) => {
                            crate::log_warning(format!(
                                "re-admitting {} stored objects: no thread for them ({e}); they are not re-checked",
                                part.len()
                            ));
                            None
                        }
                    }
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut warnings = Vec::new();
        for (key, obj, why) in failed {
            let q = Quarantined {
                resource: key.clone(),
                namespace: meta_str(&obj, "namespace").to_owned(),
                name: meta_str(&obj, "name").to_owned(),
                resource_version: rv_of(&obj),
                reason: why,
            };
            let shown = if q.namespace.is_empty() {
                format!("{} {}", key, q.name)
            } else {
                format!("{} {}/{}", key, q.namespace, q.name)
            };
            warnings.push(format!(
                "quarantined {shown} (resourceVersion {}): it fails today's admission checks and is kept, served and ignored by controllers until it is fixed or deleted: {}",
                q.resource_version, q.reason
            ));
            self.record_quarantine_event(&obj, &q);
            self.quarantine
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .objects
                .insert((q.resource.clone(), q.namespace.clone(), q.name.clone()), q);
        }
        warnings
    }

    /// Whether controllers must leave `obj` (of the store resource `resource`) alone.
    pub fn is_quarantined(&self, resource: &str, obj: &Value) -> bool {
        self.is_quarantined_at(
            resource,
            meta_str(obj, "namespace"),
            meta_str(obj, "name"),
            rv_of(obj),
        )
    }

    /// [`State::is_quarantined`] of a stored object, without parsing it.
    pub fn is_quarantined_stored(&self, resource: &str, obj: &crate::store::Stored) -> bool {
        let m = obj.meta();
        self.is_quarantined_at(resource, &m.namespace, &m.name, obj.rv())
    }

    fn is_quarantined_at(&self, resource: &str, namespace: &str, name: &str, rv: u64) -> bool {
        let q = self.quarantine.read().unwrap_or_else(|e| e.into_inner());
        if q.objects.is_empty() {
            return false;
        }
        q.objects
            .get(&(resource.to_owned(), namespace.to_owned(), name.to_owned()))
            .is_some_and(|e| e.resource_version == rv)
    }

    /// The objects quarantined now (those still stored at the version that failed).
    pub fn quarantined(&self) -> Vec<Quarantined> {
        let q = self.quarantine.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Quarantined> = q
            .objects
            .values()
            .filter(|e| {
                self.store
                    .get(&e.resource, &e.namespace, &e.name)
                    .is_some_and(|o| rv_of(&o) == e.resource_version)
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (&a.resource, &a.namespace, &a.name).cmp(&(&b.resource, &b.namespace, &b.name))
        });
        out
    }

    /// A core/v1 Warning Event `Quarantined` on the object (in its namespace; cluster-scoped
    /// objects' events go to `default`, as upstream's recorder does). Restarts bump `count`.
    fn record_quarantine_event(&self, obj: &Value, q: &Quarantined) {
        let ns = if q.namespace.is_empty() {
            "default".to_owned()
        } else {
            q.namespace.clone()
        };
        let base = if names::dns1123_subdomain(&q.name).is_empty() && q.name.len() < 200 {
            q.name.clone()
        } else {
            "sluice-quarantine".to_owned()
        };
        let name = format!(
            "{base}.{:016x}",
            fnv(&format!(
                "{}/{}/{}/{}",
                q.resource, q.namespace, q.name, q.resource_version
            ))
        );
        let now = util::now_rfc3339();
        let message = format!(
            "stored object fails today's admission checks; it is kept and served but controllers ignore it until it is fixed or deleted: {}",
            q.reason
        );
        if let Some(old) = self.store.get("/events", &ns, &name) {
            let mut ev = (*old).clone();
            let count = ev.get("count").and_then(Value::as_i64).unwrap_or(1) + 1;
            ev["count"] = json!(count);
            ev["lastTimestamp"] = json!(now);
            ev["message"] = json!(message);
            if let Err(e) = self.store.update("/events", ev, None) {
                crate::log_warning(format!("recording the quarantine event {ns}/{name}: {e}"));
            }
            return;
        }
        let mut involved = json!({
            "apiVersion": obj.get("apiVersion").cloned().unwrap_or(json!("")),
            "kind": obj.get("kind").cloned().unwrap_or(json!("")),
            "name": q.name,
            "uid": meta_str(obj, "uid"),
            "resourceVersion": q.resource_version.to_string(),
        });
        if !q.namespace.is_empty() {
            involved["namespace"] = json!(q.namespace);
        }
        let ev = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns, "uid": util::new_uid(), "creationTimestamp": now},
            "involvedObject": involved,
            "reason": "Quarantined",
            "message": message,
            "type": "Warning",
            "source": {"component": "sluice-apiserver"},
            "reportingComponent": "sluice-apiserver",
            "reportingInstance": "",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        if let Err(e) = self.store.create("/events", ev) {
            crate::log_warning(format!("recording the quarantine event {ns}/{name}: {e}"));
        }
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
