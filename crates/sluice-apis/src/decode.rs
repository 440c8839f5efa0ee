//! Typed decoding of unstructured values with field paths.
//!
//! Decoding is strict, as `kubectl apply` (fieldValidation=Strict, the default since
//! Kubernetes 1.27) and Tekton's webhook (knative decodes with `DisallowUnknownFields`) are:
//! every unknown field is reported, all at once, with its path. A value of the wrong type stops
//! decoding of that object; it is reported with the path where it occurred.

use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, FieldPath, PathSeg};

/// The typed value and the unknown fields met on the way (as errors).
pub type Decoded<T> = (T, FieldErrors);

/// Decodes `v` into `T`. `Err` holds the type error (one: decoding cannot go on past it) and
/// the unknown fields seen before it.
pub fn decode<T: DeserializeOwned>(v: &Value) -> Result<Decoded<T>, FieldErrors> {
    // Go's encoding/json leaves a field at its zero value when the JSON holds `null`, and the
    // API server prunes nulls of non-nullable fields: `template:` with nothing after it is an
    // empty template, not a type error. Map entries holding null are dropped before decoding.
    if has_null_entry(v) {
        let mut owned = v.clone();
        drop_null_entries(&mut owned);
        return decode_exact(&owned);
    }
    decode_exact(v)
}

fn has_null_entry(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(|x| x.is_null() || has_null_entry(x)),
        Value::Array(a) => a.iter().any(has_null_entry),
        _ => false,
    }
}

fn drop_null_entries(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_null_entries);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_null_entries),
        _ => {}
    }
}

fn decode_exact<T: DeserializeOwned>(v: &Value) -> Result<Decoded<T>, FieldErrors> {
    let mut unknown = FieldErrors::new();
    let mut track = serde_path_to_error::Track::new();
    let result: Result<T, serde_json::Error> = {
        let de = serde_path_to_error::Deserializer::new(v, &mut track);
        serde_ignored::deserialize(de, |path| {
            let p = ignored_path(&path);
            unknown.push(FieldError::new(p.clone(), format!("unknown field \"{p}\"")));
        })
    };
    match result {
        Ok(t) => Ok((t, unknown)),
        Err(e) => {
            let path = tracked_path(&track.path());
            let mut msg = e.to_string();
            // serde_json appends " at line L column C", meaningless for a Value.
            if let Some(i) = msg.find(" at line ") {
                msg.truncate(i);
            }
            unknown.push(FieldError::new(path, msg));
            Err(unknown)
        }
    }
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> FieldPath {
    let mut segs = Vec::new();
    collect_ignored(p, &mut segs);
    FieldPath(segs)
}

fn collect_ignored(p: &serde_ignored::Path<'_>, out: &mut Vec<PathSeg>) {
    use serde_ignored::Path;
    match p {
        Path::Root => {}
        Path::Seq { parent, index } => {
            collect_ignored(parent, out);
            out.push(PathSeg::Index(*index));
        }
        Path::Map { parent, key } => {
            collect_ignored(parent, out);
            out.push(PathSeg::Field(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => collect_ignored(parent, out),
    }
}

fn tracked_path(p: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment;
    FieldPath(
        p.iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(PathSeg::Index(*index)),
                Segment::Map { key } => Some(PathSeg::Field(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        a: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn unknown_fields_all_reported() {
        let (_, unknown) =
            decode::<Outer>(&json!({"items": [{"a": "x", "b": 1}, {"c": 2}], "d": 3}))
                .expect("decodes");
        let paths: Vec<String> = unknown.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, ["items[0].b", "items[1].c", "d"]);
    }

    #[test]
    fn null_fields_are_zero_values() {
        // `items:` with nothing after it: Go's encoding/json leaves the slice empty.
        let (o, unknown) =
            decode::<Outer>(&json!({"items": null})).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(o.items.is_empty() && unknown.is_empty());
    }

    #[test]
    fn type_errors_have_paths() {
        let e = decode::<Outer>(&json!({"items": [{"a": "x"}, {"a": 1}]})).unwrap_err();
        assert_eq!(
            e.0.last().map(|e| e.path.to_string()),
            Some("items[1].a".into())
        );
        assert!(
            e.0[0].message.contains("expected a string"),
            "{}",
            e.0[0].message
        );
    }
}
