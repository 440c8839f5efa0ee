//! The Kubernetes protobuf envelope (`k8s\0` + `runtime.Unknown`), decoded for the few kinds
//! kubectl's `create <generator>` subcommands send as protobuf: Namespace, ConfigMap,
//! Secret, ServiceAccount, Role, ClusterRole (without aggregationRule), RoleBinding and
//! ClusterRoleBinding (field numbers of k8s.io/api core/v1, rbac/v1 and apimachinery meta/v1
//! generated.proto). Other kinds get 415 and should be sent as JSON.

use serde_json::{Map, Value, json};

/// A body that cannot be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("protobuf: {0}")]
pub struct ProtoError(pub String);

fn e(msg: &str) -> ProtoError {
    ProtoError(msg.to_owned())
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of one message: (number, value), in order.
fn fields(mut b: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtoError> {
    fn varint(b: &mut &[u8]) -> Result<u64, ProtoError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&x, rest) = b.split_first().ok_or_else(|| e("truncated varint"))?;
            *b = rest;
            v |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(e("varint too long"))
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((num, Field::Varint(varint(&mut b)?))),
            2 => {
                let len = varint(&mut b)? as usize;
                if len > b.len() {
                    return Err(e("truncated field"));
                }
                let (v, rest) = b.split_at(len);
                b = rest;
                out.push((num, Field::Bytes(v)));
            }
            1 => b = b.get(8..).ok_or_else(|| e("truncated fixed64"))?,
            5 => b = b.get(4..).ok_or_else(|| e("truncated fixed32"))?,
            _ => return Err(e("unsupported wire type")),
        }
    }
    Ok(out)
}

fn string(f: &Field<'_>) -> Result<String, ProtoError> {
    match f {
        Field::Bytes(b) => String::from_utf8(b.to_vec()).map_err(|_| e("string is not UTF-8")),
        Field::Varint(_) => Err(e("expected a string")),
    }
}

fn bytes<'a>(f: &Field<'a>) -> Result<&'a [u8], ProtoError> {
    match f {
        Field::Bytes(b) => Ok(b),
        Field::Varint(_) => Err(e("expected bytes")),
    }
}

/// A map entry message (key = 1, value = 2).
fn entry(f: &Field<'_>, value_as_base64: bool) -> Result<(String, Value), ProtoError> {
    let mut k = String::new();
    let mut v = Value::String(String::new());
    for (n, x) in fields(bytes(f)?)? {
        match n {
            1 => k = string(&x)?,
            2 if value_as_base64 => v = json!(crate::tls::base64(bytes(&x)?)),
            2 => v = json!(string(&x)?),
            _ => {}
        }
    }
    Ok((k, v))
}

fn object_meta(b: &[u8]) -> Result<Value, ProtoError> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for (n, f) in fields(b)? {
        match n {
            1 => {
                m.insert("name".into(), json!(string(&f)?));
            }
            2 => {
                m.insert("generateName".into(), json!(string(&f)?));
            }
            3 => {
                m.insert("namespace".into(), json!(string(&f)?));
            }
            6 => {
                m.insert("resourceVersion".into(), json!(string(&f)?));
            }
            11 => {
                let (k, v) = entry(&f, false)?;
                labels.insert(k, v);
            }
            12 => {
                let (k, v) = entry(&f, false)?;
                annotations.insert(k, v);
            }
            14 => finalizers.push(json!(string(&f)?)),
            _ => {}
        }
    }
    m.retain(|_, v| v.as_str().is_none_or(|s| !s.is_empty()));
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(m))
}

/// Decodes a protobuf `DeleteOptions` body (what client-go's typed clients send on DELETE,
/// Helm's uninstall among them) into its JSON form: apimachinery meta/v1 generated.proto
/// DeleteOptions (gracePeriodSeconds = 1, preconditions = 2 {uid = 1, resourceVersion = 2},
/// orphanDependents = 3, propagationPolicy = 4, dryRun = 5).
pub fn decode_delete_options(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| e("missing the k8s envelope"))?;
    let mut raw = &[][..];
    for (n, f) in fields(rest)? {
        if n == 2 {
            raw = bytes(&f)?;
        }
    }
    let mut out = Map::new();
    let mut dry = Vec::new();
    for (n, f) in fields(raw)? {
        match (n, &f) {
            (1, Field::Varint(v)) => {
                out.insert("gracePeriodSeconds".into(), json!(*v as i64));
            }
            (2, Field::Bytes(b)) => {
                let mut pre = Map::new();
                for (pn, pf) in fields(b)? {
                    match pn {
                        1 => {
                            pre.insert("uid".into(), json!(string(&pf)?));
                        }
                        2 => {
                            pre.insert("resourceVersion".into(), json!(string(&pf)?));
                        }
                        _ => {}
                    }
                }
                out.insert("preconditions".into(), Value::Object(pre));
            }
            (3, Field::Varint(v)) => {
                out.insert("orphanDependents".into(), json!(*v != 0));
            }
            (4, _) => {
                out.insert("propagationPolicy".into(), json!(string(&f)?));
            }
            (5, _) => dry.push(json!(string(&f)?)),
            _ => {}
        }
    }
    if !dry.is_empty() {
        out.insert("dryRun".into(), Value::Array(dry));
    }
    Ok(Value::Object(out))
}

/// A message whose fields are all strings (or repeated strings), by field number.
fn strings(b: &[u8], names: &[(u64, &str, bool)]) -> Result<Value, ProtoError> {
    let mut m = Map::new();
    for (n, f) in fields(b)? {
        if let Some((_, name, repeated)) = names.iter().find(|(k, _, _)| *k == n) {
            let v = json!(string(&f)?);
            if *repeated {
                let a = m.entry(name.to_string()).or_insert_with(|| json!([]));
                if let Some(a) = a.as_array_mut() {
                    a.push(v);
                }
            } else {
                m.insert(name.to_string(), v);
            }
        }
    }
    Ok(Value::Object(m))
}

/// The spec of the authorization.k8s.io/v1 and authentication.k8s.io/v1 review kinds and
/// TokenRequest (field numbers of their generated.proto).
fn review_spec(kind: &str, b: &[u8]) -> Result<Value, ProtoError> {
    const RESOURCE: &[(u64, &str, bool)] = &[
        (1, "namespace", false),
        (2, "verb", false),
        (3, "group", false),
        (4, "version", false),
        (5, "resource", false),
        (6, "subresource", false),
        (7, "name", false),
    ];
    const NON_RESOURCE: &[(u64, &str, bool)] = &[(1, "path", false), (2, "verb", false)];
    let mut spec = Map::new();
    for (n, f) in fields(b)? {
        match (kind, n) {
            ("TokenReview", 1) => {
                spec.insert("token".into(), json!(string(&f)?));
            }
            ("TokenReview", 2) | ("TokenRequest", 1) => {
                let a = spec.entry("audiences").or_insert_with(|| json!([]));
                if let Some(a) = a.as_array_mut() {
                    a.push(json!(string(&f)?));
                }
            }
            ("TokenRequest", 4) => {
                if let Field::Varint(v) = f {
                    spec.insert("expirationSeconds".into(), json!(v as i64));
                }
            }
            ("TokenRequest", 3) => {
                spec.insert(
                    "boundObjectRef".into(),
                    strings(
                        bytes(&f)?,
                        &[
                            (1, "kind", false),
                            (2, "apiVersion", false),
                            (3, "name", false),
                            (4, "uid", false),
                        ],
                    )?,
                );
            }
            ("SelfSubjectRulesReview", 1) => {
                spec.insert("namespace".into(), json!(string(&f)?));
            }
            ("TokenReview" | "TokenRequest" | "SelfSubjectRulesReview", _) => {}
            (_, 1) => {
                spec.insert("resourceAttributes".into(), strings(bytes(&f)?, RESOURCE)?);
            }
            (_, 2) => {
                spec.insert(
                    "nonResourceAttributes".into(),
                    strings(bytes(&f)?, NON_RESOURCE)?,
                );
            }
            ("SelfSubjectAccessReview", _) => {}
            (_, 3) => {
                spec.insert("user".into(), json!(string(&f)?));
            }
            (_, 4) => {
                let a = spec.entry("groups").or_insert_with(|| json!([]));
                if let Some(a) = a.as_array_mut() {
                    a.push(json!(string(&f)?));
                }
            }
            (_, 6) => {
                spec.insert("uid".into(), json!(string(&f)?));
            }
            _ => {}
        }
    }
    Ok(Value::Object(spec))
}

/// Appends `v` to the array `obj[key]` (created when missing).
fn push(obj: &mut Value, key: &str, v: Value) {
    if !obj.get(key).is_some_and(Value::is_array) {
        obj[key] = json!([]);
    }
    if let Some(a) = obj[key].as_array_mut() {
        a.push(v);
    }
}

/// Decodes a `application/vnd.kubernetes.protobuf` body into the JSON object.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| e("missing the k8s envelope"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(rest)? {
        match n {
            1 => {
                for (tn, tf) in fields(bytes(&f)?)? {
                    match tn {
                        1 => api_version = string(&tf)?,
                        2 => kind = string(&tf)?,
                        _ => {}
                    }
                }
            }
            2 => raw = bytes(&f)?,
            _ => {}
        }
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    let mut data = Map::new();
    let mut binary = Map::new();
    let mut string_data = Map::new();
    for (n, f) in fields(raw)? {
        match (kind.as_str(), n) {
            (_, 1) => obj["metadata"] = object_meta(bytes(&f)?)?,
            ("ConfigMap", 2) => {
                let (k, v) = entry(&f, false)?;
                data.insert(k, v);
            }
            ("ConfigMap", 3) => {
                let (k, v) = entry(&f, true)?;
                binary.insert(k, v);
            }
            ("ConfigMap", 4) | ("Secret", 5) => {
                if let Field::Varint(v) = f {
                    obj["immutable"] = json!(v != 0);
                }
            }
            ("Secret", 2) => {
                let (k, v) = entry(&f, true)?;
                data.insert(k, v);
            }
            ("Secret", 3) => obj["type"] = json!(string(&f)?),
            ("Secret", 4) => {
                let (k, v) = entry(&f, false)?;
                string_data.insert(k, v);
            }
            ("Namespace", 2) => {
                let fins: Vec<Value> = fields(bytes(&f)?)?
                    .iter()
                    .filter(|(n, _)| *n == 1)
                    .map(|(_, x)| string(x).map(Value::String))
                    .collect::<Result<_, _>>()?;
                obj["spec"] = json!({"finalizers": fins});
            }
            ("RoleBinding" | "ClusterRoleBinding", 2) => {
                let subject = strings(
                    bytes(&f)?,
                    &[
                        (1, "kind", false),
                        (2, "apiGroup", false),
                        (3, "name", false),
                        (4, "namespace", false),
                    ],
                )?;
                push(&mut obj, "subjects", subject);
            }
            ("RoleBinding" | "ClusterRoleBinding", 3) => {
                obj["roleRef"] = strings(
                    bytes(&f)?,
                    &[
                        (1, "apiGroup", false),
                        (2, "kind", false),
                        (3, "name", false),
                    ],
                )?;
            }
            ("Role" | "ClusterRole", 2) => {
                let rule = strings(
                    bytes(&f)?,
                    &[
                        (1, "verbs", true),
                        (2, "apiGroups", true),
                        (3, "resources", true),
                        (4, "resourceNames", true),
                        (5, "nonResourceURLs", true),
                    ],
                )?;
                push(&mut obj, "rules", rule);
            }
            ("ServiceAccount", 4) => {
                if let Field::Varint(v) = f {
                    obj["automountServiceAccountToken"] = json!(v != 0);
                }
            }
            (
                "SelfSubjectAccessReview"
                | "SubjectAccessReview"
                | "LocalSubjectAccessReview"
                | "SelfSubjectRulesReview"
                | "TokenRequest"
                | "TokenReview",
                2,
            ) => obj["spec"] = review_spec(&kind, bytes(&f)?)?,
            (
                "Namespace"
                | "ConfigMap"
                | "Secret"
                | "ServiceAccount"
                | "RoleBinding"
                | "ClusterRoleBinding"
                | "Role"
                | "SelfSubjectAccessReview"
                | "SubjectAccessReview"
                | "LocalSubjectAccessReview"
                | "SelfSubjectRulesReview"
                | "TokenRequest"
                | "TokenReview"
                | "SelfSubjectReview",
                _,
            ) => {}
            _ => {
                return Err(e(&format!(
                    "kind {kind} is not decoded from protobuf; send JSON"
                )));
            }
        }
    }
    if !data.is_empty() {
        obj["data"] = Value::Object(data);
    }
    if !binary.is_empty() {
        obj["binaryData"] = Value::Object(binary);
    }
    if !string_data.is_empty() {
        obj["stringData"] = Value::Object(string_data);
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field (the length as a varint).
    fn field(n: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(n << 3) | 2];
        let mut len = payload.len();
        while len >= 0x80 {
            v.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        v.push(len as u8);
        v.extend_from_slice(payload);
        v
    }

    // client-go's protobuf DeleteOptions (apimachinery meta/v1 generated.proto field
    // numbers), as Helm's uninstall sends it
    #[test]
    fn delete_options_decode() {
        let mut raw = vec![0x08, 0x00]; // gracePeriodSeconds: 0
        raw.extend(field(2, &field(1, b"u-1"))); // preconditions.uid
        raw.extend(field(4, b"Background"));
        raw.extend(field(5, b"All"));
        let mut body = b"k8s\0".to_vec();
        body.extend(field(1, &field(2, b"DeleteOptions")));
        body.extend(field(2, &raw));
        assert_eq!(
            decode_delete_options(&body),
            Ok(
                json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "u-1"},
                "propagationPolicy": "Background", "dryRun": ["All"]})
            )
        );
        assert!(decode_delete_options(b"{}").is_err());
        assert!(decode_delete_options(b"k8s\0\x12\x05ab").is_err());
    }

    // runtime.Unknown{typeMeta{apiVersion, kind}, raw: ConfigMap{metadata{name}, data{a: b}}}
    #[test]
    fn decodes_a_configmap_envelope() {
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let meta = [
            field(1, b"x"),
            field(11, &[field(1, b"app"), field(2, b"web")].concat()),
        ]
        .concat();
        let raw = [
            field(1, &meta),
            field(2, &[field(1, b"a"), field(2, b"b")].concat()),
        ]
        .concat();
        let mut body = b"k8s\0".to_vec();
        body.extend(field(1, &type_meta));
        body.extend(field(2, &raw));
        let v = decode(&body).expect("decodes");
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"app": "web"}}, "data": {"a": "b"}})
        );
        assert!(decode(b"nope").is_err());
    }

    /// `kubectl create rolebinding|clusterrole` send rbac/v1 protobuf (k8s.io/api
    /// rbac/v1/generated.proto: RoleBinding subjects=2 roleRef=3, Subject kind=1 apiGroup=2
    /// name=3 namespace=4, RoleRef apiGroup=1 kind=2 name=3, PolicyRule verbs=1 apiGroups=2
    /// resources=3 resourceNames=4 nonResourceURLs=5).
    #[test]
    fn decodes_rbac_kinds() {
        let envelope = |api: &[u8], kind: &[u8], raw: Vec<u8>| {
            let mut body = b"k8s\0".to_vec();
            body.extend(field(1, &[field(1, api), field(2, kind)].concat()));
            body.extend(field(2, &raw));
            body
        };
        let raw = [
            field(1, &[field(1, b"b"), field(3, b"dev")].concat()),
            field(
                2,
                &[
                    field(1, b"User"),
                    field(2, b"rbac.authorization.k8s.io"),
                    field(3, b"jane"),
                ]
                .concat(),
            ),
            field(
                2,
                &[
                    field(1, b"ServiceAccount"),
                    field(3, b"builder"),
                    field(4, b"ci"),
                ]
                .concat(),
            ),
            field(
                3,
                &[
                    field(1, b"rbac.authorization.k8s.io"),
                    field(2, b"ClusterRole"),
                    field(3, b"view"),
                ]
                .concat(),
            ),
        ]
        .concat();
        assert_eq!(
            decode(&envelope(
                b"rbac.authorization.k8s.io/v1",
                b"RoleBinding",
                raw
            ))
            .expect("decodes"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "b", "namespace": "dev"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
                    {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"}],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}})
        );
        let raw = [
            field(1, &field(1, b"r")),
            field(
                2,
                &[
                    field(1, b"get"),
                    field(1, b"list"),
                    field(2, b""),
                    field(3, b"pods"),
                ]
                .concat(),
            ),
        ]
        .concat();
        assert_eq!(
            decode(&envelope(
                b"rbac.authorization.k8s.io/v1",
                b"ClusterRole",
                raw
            ))
            .expect("decodes"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
                "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]})
        );
        // an aggregationRule is not decoded: the client is told to send JSON
        let raw = [field(1, &field(1, b"agg")), field(3, b"")].concat();
        assert!(
            decode(&envelope(
                b"rbac.authorization.k8s.io/v1",
                b"ClusterRole",
                raw
            ))
            .is_err()
        );
    }
}
