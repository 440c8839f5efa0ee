//! Pod volume paths, as kubernetes `pkg/apis/core/validation` checks them:
//! `validateLocalDescendingPath` (a volumeMount `subPath`), `validateLocalNonReservedPath`
//! and `validateKeyToPath` (ConfigMap/Secret/projected/downwardAPI `items[].path`), and
//! `validatePersistentClaimVolumeSource` (`claimName` required). Messages are
//! apimachinery's `field.Invalid`/`field.Required` bodies (`Invalid value: "..": ...`).
//! Paths of findings are relative to the value checked.

use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, names};

/// apimachinery `field.Invalid` body for a string value.
fn invalid(path: &str, value: &str, detail: &str) -> FieldError {
    FieldError::new(path, format!("Invalid value: {value:?}: {detail}"))
}

/// `validateLocalDescendingPath`: not absolute, no `..` element (one finding for any
/// number of them). `path` is the field the value sits at.
pub fn local_descending_path(path: &str, target: &str) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if target.starts_with('/') {
        errs.push(invalid(path, target, "must be a relative path"));
    }
    // validatePathNoBacksteps splits on `/` after filepath.ToSlash (Linux: `/` only)
    if target.split('/').any(|e| e == "..") {
        errs.push(invalid(path, target, "must not contain '..'"));
    }
    errs
}

/// `validateLocalNonReservedPath`: [`local_descending_path`], and no leading `..` (the
/// atomic writer's `..data` and friends), unless the `..` element check already said so.
pub fn local_non_reserved_path(path: &str, target: &str) -> FieldErrors {
    let mut errs = local_descending_path(path, target);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(invalid(path, target, "must not start with '..'"));
    }
    errs
}

/// `validateKeyToPath` of one `items[]` entry: `key` and `path` required, `path` local and
/// not reserved, `mode` within 0..=0o777.
pub fn key_to_path(item: &Value, key_field: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
    if key_field && s("key").is_empty() {
        errs.push(FieldError::new("key", "Required value"));
    }
    let p = s("path");
    if p.is_empty() {
        errs.push(FieldError::new("path", "Required value"));
    }
    errs.also(local_non_reserved_path("path", p));
    if let Some(m) = item.get("mode").and_then(Value::as_i64)
        && !(0..=0o777).contains(&m)
    {
        errs.push(FieldError::new(
            "mode",
            format!(
                "Invalid value: {m}: must be a number between 0 and 0777 (octal), both inclusive"
            ),
        ));
    }
    errs
}

fn items(src: &Value, key_field: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (j, item) in src
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        errs.also(key_to_path(item, key_field).via_index(j).via_field("items"));
    }
    errs
}

/// The paths of a volume source (a Pod `volumes[]` entry or a Tekton workspace binding):
/// `configMap`, `secret`, `downwardAPI` and `projected.sources[]` items, and a
/// `persistentVolumeClaim.claimName` that could name a claim (a PersistentVolumeClaim's
/// name is a DNS-1123 subdomain, kubernetes `ValidatePersistentVolumeName`, so any other
/// claim name, `../x` included, cannot exist; `$(...)` references are left to run time).
pub fn volume_source(v: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for f in ["configMap", "secret"] {
        if let Some(src) = v.get(f) {
            errs.also(items(src, true).via_field(f));
        }
    }
    if let Some(src) = v.get("downwardAPI") {
        errs.also(items(src, false).via_field("downwardAPI"));
    }
    if let Some(srcs) = v
        .get("projected")
        .and_then(|p| p.get("sources"))
        .and_then(Value::as_array)
    {
        for (i, s) in srcs.iter().enumerate() {
            for (f, key_field) in [
                ("configMap", true),
                ("secret", true),
                ("downwardAPI", false),
            ] {
                if let Some(src) = s.get(f) {
                    errs.also(
                        items(src, key_field)
                            .via_field(f)
                            .via_index(i)
                            .via_field("sources")
                            .via_field("projected"),
                    );
                }
            }
            if let Some(p) = s
                .get("serviceAccountToken")
                .and_then(|t| t.get("path"))
                .and_then(Value::as_str)
            {
                errs.also(
                    local_non_reserved_path("path", p)
                        .via_field("serviceAccountToken")
                        .via_index(i)
                        .via_field("sources")
                        .via_field("projected"),
                );
            }
        }
    }
    if let Some(c) = v.get("persistentVolumeClaim") {
        let name = c.get("claimName").and_then(Value::as_str).unwrap_or("");
        if !name.is_empty() && !name.contains("$(") {
            for m in names::dns1123_subdomain(name) {
                errs.push(invalid("persistentVolumeClaim.claimName", name, &m));
            }
        }
    }
    errs
}

/// A Pod spec's `volumes[]` sources and its containers' `volumeMounts[].subPath`.
pub fn pod_spec(spec: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, v) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        errs.also(volume_source(v).via_index(i).via_field("volumes"));
    }
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            errs.also(volume_mounts(c).via_index(i).via_field(field));
        }
    }
    errs
}

/// A container's `volumeMounts[].subPath`.
pub fn volume_mounts(container: &Value) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (j, m) in container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(sp) = m.get("subPath").and_then(Value::as_str) {
            errs.also(
                local_descending_path("subPath", sp)
                    .via_index(j)
                    .via_field("volumeMounts"),
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn msgs(e: &FieldErrors) -> Vec<String> {
        e.iter().map(|e| e.to_string()).collect()
    }

    // kubernetes pkg/apis/core/validation/validation_test.go TestValidateVolumes
    // ("absolute path", "dot dot path", "dot dot first level dirent") and
    // validateLocalNonReservedPath's "must not start with '..'".
    #[test]
    fn upstream_messages() {
        assert_eq!(
            msgs(&local_descending_path("subPath", "/etc")),
            ["subPath: Invalid value: \"/etc\": must be a relative path"]
        );
        assert_eq!(
            msgs(&local_descending_path("subPath", "../../..")),
            ["subPath: Invalid value: \"../../..\": must not contain '..'"]
        );
        assert_eq!(
            msgs(&local_descending_path("subPath", "/a/../b")),
            [
                "subPath: Invalid value: \"/a/../b\": must be a relative path",
                "subPath: Invalid value: \"/a/../b\": must not contain '..'"
            ]
        );
        assert!(local_descending_path("subPath", "a/..b/c..").is_empty());
        assert_eq!(
            msgs(&local_non_reserved_path("path", "..data")),
            ["path: Invalid value: \"..data\": must not start with '..'"]
        );
        assert_eq!(
            msgs(&key_to_path(
                &json!({"key": "k", "path": "../x", "mode": 4096}),
                true
            )),
            [
                "path: Invalid value: \"../x\": must not contain '..'",
                "mode: Invalid value: 4096: must be a number between 0 and 0777 (octal), both inclusive"
            ]
        );
        assert_eq!(
            msgs(&key_to_path(&json!({}), true)),
            ["key: Required value", "path: Required value"]
        );
    }

    #[test]
    fn volume_sources() {
        let v = json!({
            "name": "v",
            "projected": {"sources": [
                {"secret": {"name": "s", "items": [{"key": "a", "path": "/etc/passwd"}]}},
                {"configMap": {"name": "c", "items": [{"key": "a", "path": "ok/file"}]}}
            ]}
        });
        assert_eq!(
            msgs(&volume_source(&v)),
            [
                "projected.sources[0].secret.items[0].path: Invalid value: \"/etc/passwd\": must be a relative path"
            ]
        );
        let pvc = json!({"persistentVolumeClaim": {"claimName": "../../x"}});
        let m = msgs(&volume_source(&pvc));
        assert_eq!(m.len(), 1);
        assert!(
            m[0].starts_with("persistentVolumeClaim.claimName: Invalid value: \"../../x\": a lowercase RFC 1123 subdomain"),
            "{m:?}"
        );
        assert!(
            volume_source(&json!({"persistentVolumeClaim": {"claimName": "$(params.c)"}}))
                .is_empty()
        );
        let pod = json!({
            "volumes": [{"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "../../etc/x"}]}}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "c", "mountPath": "/m", "subPath": ".."}]}]
        });
        assert_eq!(
            msgs(&pod_spec(&pod)),
            [
                "volumes[0].configMap.items[0].path: Invalid value: \"../../etc/x\": must not contain '..'",
                "containers[0].volumeMounts[0].subPath: Invalid value: \"..\": must not contain '..'"
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        // A path is refused exactly when it is absolute or has a `..` element, whatever
        // the mix of `.`, empty, encoded and look-alike elements.
        #[test]
        fn refused_iff_absolute_or_backstep(
            lead in prop_oneof![Just(""), Just("/"), Just("./")],
            els in prop::collection::vec(
                prop_oneof![Just(".."), Just("."), Just(""), Just("%2e%2e"), Just("..."), Just("a"), Just("..\\..")],
                0..6,
            ),
        ) {
            let p = format!("{lead}{}", els.join("/"));
            let refused = !local_descending_path("subPath", &p).is_empty();
            let expected = p.starts_with('/') || p.split('/').any(|e| e == "..");
            prop_assert_eq!(refused, expected, "{:?}", p);
        }
    }
}
