//! JSON request bodies decoded as kube-apiserver's strict decoder does
//! (sigs.k8s.io/json `UnmarshalStrict`): the value, plus the duplicate fields met on the way,
//! each as `duplicate field "spec.template.spec.containers[0].imagePullPolicy"`. The last
//! occurrence of a key wins, as upstream; what the findings do depends on `fieldValidation`
//! (Strict rejects, Warn warns, Ignore drops them).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Strict-decoding findings kept per request (upstream's `saveStrictError` stops at 100).
pub const MAX_FINDINGS: usize = 100;

/// What strict decoding found besides the value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// `duplicate field "a.b"`, in document order, deduplicated, at most [`MAX_FINDINGS`].
    pub messages: Vec<String>,
}

impl Findings {
    fn push(&mut self, msg: String) {
        if self.messages.len() < MAX_FINDINGS && !self.messages.contains(&msg) {
            self.messages.push(msg);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Adds `json patch unknown field "[i].x"` for each operation field other than upstream's
    /// `jsonPatchOp` ones (op, path, from, value).
    pub fn extend_unknown_ops(&mut self, patch: &Value) {
        let Some(ops) = patch.as_array() else { return };
        for (i, op) in ops.iter().enumerate() {
            let Some(m) = op.as_object() else { continue };
            for k in m.keys() {
                if !matches!(k.as_str(), "op" | "path" | "from" | "value") {
                    self.push(format!("json patch unknown field \"[{i}].{k}\""));
                }
            }
        }
        // upstream finds them operation by operation
        let op_index = |m: &String| -> usize {
            m.split("\"[")
                .nth(1)
                .and_then(|r| r.split(']').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX)
        };
        self.messages.sort_by_key(op_index);
    }

    /// The findings with `prefix` before each (`json patch ` for a JSON patch's operations).
    pub fn prefixed(self, prefix: &str) -> Findings {
        Findings {
            messages: self
                .messages
                .into_iter()
                .map(|m| format!("{prefix}{m}"))
                .collect(),
        }
    }
}

/// Decodes JSON into a `Value`, reporting duplicate keys with their field path.
pub fn json_strict(bytes: &[u8]) -> Result<(Value, Findings), serde_json::Error> {
    let out = RefCell::new(Findings::default());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = ValueSeed {
        at: None,
        out: &out,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((v, out.into_inner()))
}

/// One step of a field path, borrowed from the frames above.
#[derive(Clone, Copy)]
enum Seg<'p> {
    Key(&'p str),
    Index(usize),
}

struct Node<'p> {
    parent: Option<&'p Node<'p>>,
    seg: Seg<'p>,
}

/// `spec.containers[0].image`, as the strict decoder's field stack renders it.
fn render(node: &Node<'_>) -> String {
    let mut segs = Vec::new();
    let mut cur = Some(node);
    while let Some(n) = cur {
        segs.push(n.seg);
        cur = n.parent;
    }
    let mut s = String::new();
    for seg in segs.iter().rev() {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}

#[derive(Clone, Copy)]
struct ValueSeed<'p> {
    at: Option<&'p Node<'p>>,
    out: &'p RefCell<Findings>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let node = Node {
                parent: self.at,
                seg: Seg::Index(out.len()),
            };
            let seed = ValueSeed {
                at: Some(&node),
                out: self.out,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = {
                let node = Node {
                    parent: self.at,
                    seg: Seg::Key(&key),
                };
                if out.contains_key(&key) {
                    self.out
                        .borrow_mut()
                        .push(format!("duplicate field \"{}\"", render(&node)));
                }
                map.next_value_seed(ValueSeed {
                    at: Some(&node),
                    out: self.out,
                })?
            };
            // the last occurrence wins, as in upstream's map decoding
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dups(s: &str) -> Vec<String> {
        json_strict(s.as_bytes()).expect("json").1.messages
    }

    // The body of kubernetes test/integration/apiserver/field_validation_test.go
    // (invalidBodyJSON): the strict decoder names each duplicate with its full path.
    #[test]
    fn duplicates_are_named_by_path_as_upstream() {
        let body = r#"{"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"dupename","name":"d","labels":{"app":"nginx"}},
            "spec":{"paused":true,"paused":false,
              "template":{"spec":{"containers":[{"name":"nginx","imagePullPolicy":"Always","imagePullPolicy":"Never"}]}}}}"#;
        assert_eq!(
            dups(body),
            [
                r#"duplicate field "metadata.name""#,
                r#"duplicate field "spec.paused""#,
                r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
            ]
        );
        let (v, _) = json_strict(body.as_bytes()).expect("json");
        // last wins
        assert_eq!(v["metadata"]["name"], "d");
        assert_eq!(v["spec"]["paused"], false);
    }

    #[test]
    fn a_top_level_array_and_repeats_are_reported_once() {
        assert_eq!(
            dups(r#"[{"op":"add"},{"path":"/a","path":"/b","path":"/c"}]"#),
            [r#"duplicate field "[1].path""#]
        );
        assert!(dups(r#"{"a":{"b":1},"c":[1,2,{"d":null}]}"#).is_empty());
    }

    #[test]
    fn findings_stop_at_the_upstream_cap() {
        let mut s = String::from("{");
        for i in 0..150 {
            s.push_str(&format!("\"k{i}\":1,\"k{i}\":2,"));
        }
        s.push_str("\"z\":0}");
        assert_eq!(dups(&s).len(), MAX_FINDINGS);
    }

    #[test]
    fn errors_and_depth_are_serde_jsons() {
        assert!(json_strict(b"{\"a\":").is_err());
        assert!(json_strict(b"{} {}").is_err());
        let deep = "[".repeat(100_000);
        assert!(json_strict(deep.as_bytes()).is_err());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            "[a-z]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        // Without duplicates the strict decoder is serde_json's; with a key repeated, it is
        // last-wins and reports the repeat.
        #[test]
        fn agrees_with_serde_json(v in arb_json()) {
            let text = serde_json::to_string(&v).expect("encodes");
            let (got, found) = json_strict(text.as_bytes()).expect("decodes");
            prop_assert_eq!(&got, &v);
            prop_assert!(found.is_empty());
            let doubled = format!("{{\"x\":{text},\"x\":{text}}}");
            let (got, found) = json_strict(doubled.as_bytes()).expect("decodes");
            prop_assert_eq!(&got["x"], &v);
            prop_assert_eq!(found.messages.first().map(String::as_str), Some("duplicate field \"x\""));
        }
    }
}
