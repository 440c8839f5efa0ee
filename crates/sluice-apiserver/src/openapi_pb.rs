//! `/openapi/v2` as protobuf: the Swagger 2.0 document of [`crate::openapi::swagger_v2`]
//! encoded as gnostic's `openapi.v2.Document` (google/gnostic openapiv2/OpenAPIv2.proto),
//! the only form client-go's `OpenAPISchema` accepts (`Accept:
//! application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). kubectl reads it to
//! validate what has no OpenAPI v3 schema of its own, such as the items of a `v1 List`
//! (`kubectl create -f list.yaml`), and for the patch types a PATCH consumes.
//!
//! Keys gnostic's Swagger 2.0 model has no field for (JSON Schema's `anyOf`, `oneOf`,
//! `not`, OpenAPI v3's `nullable`) are left out, as they cannot appear in a document
//! kube-apiserver serves; vendor extensions (`x-...`) are `NamedAny`s whose `Any.yaml` is
//! the value's JSON text (JSON is YAML), which is how kubectl reads them back.

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn msg(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }

    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v as u64);
        }
    }

    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn strings(m: &mut Msg, field: u32, v: &Value) {
    match v {
        Value::String(s) => m.bytes(field, s.as_bytes()),
        Value::Array(a) => {
            for s in a.iter().filter_map(Value::as_str) {
                m.bytes(field, s.as_bytes());
            }
        }
        _ => {}
    }
}

/// `Any`: the value as YAML (its JSON text).
fn any(v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(2, &v.to_string());
    m
}

/// The `x-...` keys of an object as `NamedAny`s in field `field`.
fn extensions(m: &mut Msg, field: u32, o: &Map<String, Value>) {
    for (k, v) in o.iter().filter(|(k, _)| k.starts_with("x-")) {
        let mut n = Msg::default();
        n.string(1, k);
        n.msg(2, any(v));
        m.msg(field, n);
    }
}

/// `Named*` entries (`name` 1, `value` 2) of an object's members, each value encoded by `f`.
fn named(m: &mut Msg, field: u32, o: &Map<String, Value>, f: impl Fn(&Value) -> Msg) {
    for (k, v) in o {
        let mut n = Msg::default();
        n.string(1, k);
        n.msg(2, f(v));
        m.msg(field, n);
    }
}

/// `Schema`, recursively (depth bounded by the document, which this server generates).
fn schema(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else {
        return m;
    };
    for (k, v) in o {
        match k.as_str() {
            "$ref" => m.string(1, str_of(v)),
            "format" => m.string(2, str_of(v)),
            "title" => m.string(3, str_of(v)),
            "description" => m.string(4, str_of(v)),
            "default" => m.msg(5, any(v)),
            "multipleOf" => m.double(6, v.as_f64().unwrap_or_default()),
            "maximum" => m.double(7, v.as_f64().unwrap_or_default()),
            "exclusiveMaximum" => m.boolean(8, v.as_bool().unwrap_or_default()),
            "minimum" => m.double(9, v.as_f64().unwrap_or_default()),
            "exclusiveMinimum" => m.boolean(10, v.as_bool().unwrap_or_default()),
            "maxLength" => m.int64(11, v.as_i64().unwrap_or_default()),
            "minLength" => m.int64(12, v.as_i64().unwrap_or_default()),
            "pattern" => m.string(13, str_of(v)),
            "maxItems" => m.int64(14, v.as_i64().unwrap_or_default()),
            "minItems" => m.int64(15, v.as_i64().unwrap_or_default()),
            "uniqueItems" => m.boolean(16, v.as_bool().unwrap_or_default()),
            "maxProperties" => m.int64(17, v.as_i64().unwrap_or_default()),
            "minProperties" => m.int64(18, v.as_i64().unwrap_or_default()),
            "required" => strings(&mut m, 19, v),
            "enum" => {
                for e in v.as_array().into_iter().flatten() {
                    m.msg(20, any(e));
                }
            }
            "additionalProperties" => {
                // AdditionalPropertiesItem: oneof schema = 1, boolean = 2
                let mut a = Msg::default();
                match v {
                    Value::Bool(b) => {
                        a.key(2, 0);
                        a.varint(u64::from(*b));
                    }
                    _ => a.msg(1, schema(v)),
                }
                m.msg(21, a);
            }
            "type" => {
                let mut t = Msg::default();
                strings(&mut t, 1, v);
                m.msg(22, t);
            }
            "items" => {
                // ItemsItem: repeated Schema schema = 1
                let mut i = Msg::default();
                match v {
                    Value::Array(a) => a.iter().for_each(|s| i.msg(1, schema(s))),
                    _ => i.msg(1, schema(v)),
                }
                m.msg(23, i);
            }
            "allOf" => {
                for s in v.as_array().into_iter().flatten() {
                    m.msg(24, schema(s));
                }
            }
            "properties" => {
                let mut p = Msg::default();
                if let Some(props) = v.as_object() {
                    named(&mut p, 1, props, schema);
                }
                m.msg(25, p);
            }
            "discriminator" => m.string(26, str_of(v)),
            "readOnly" => m.boolean(27, v.as_bool().unwrap_or_default()),
            "example" => m.msg(30, any(v)),
            _ => {}
        }
    }
    extensions(&mut m, 31, o);
    m
}

/// A parameter: `ParametersItem` { `Parameter` { body = 1 | non-body = 2 } | `$ref` = 2 }.
fn parameter(v: &Value) -> Msg {
    let mut item = Msg::default();
    let Some(o) = v.as_object() else {
        return item;
    };
    if let Some(r) = o.get("$ref") {
        let mut j = Msg::default();
        j.string(1, str_of(r));
        item.msg(2, j);
        return item;
    }
    let s = |k: &str| o.get(k).map(str_of).unwrap_or_default();
    let b = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or_default();
    let mut p = Msg::default();
    if s("in") == "body" {
        let mut body = Msg::default();
        body.string(1, s("description"));
        body.string(2, s("name"));
        body.string(3, "body");
        body.boolean(4, b("required"));
        if let Some(sc) = o.get("schema") {
            body.msg(5, schema(sc));
        }
        extensions(&mut body, 6, o);
        p.msg(1, body);
    } else {
        // the sub-schemas share their first fields; then type/format/... differ by one
        // (query and formData have `allow_empty_value` = 5)
        let (which, shift, ext) = match s("in") {
            "header" => (1, 0, 22),
            "formData" => (2, 1, 23),
            "path" => (4, 0, 22),
            _ => (3, 1, 23),
        };
        let mut sub = Msg::default();
        sub.boolean(1, b("required"));
        sub.string(2, s("in"));
        sub.string(3, s("description"));
        sub.string(4, s("name"));
        if shift == 1 {
            sub.boolean(5, b("allowEmptyValue"));
        }
        sub.string(5 + shift, s("type"));
        sub.string(6 + shift, s("format"));
        sub.string(8 + shift, s("collectionFormat"));
        sub.boolean(19 + shift, b("uniqueItems"));
        extensions(&mut sub, ext, o);
        let mut nb = Msg::default();
        nb.msg(which, sub);
        p.msg(2, nb);
    }
    item.msg(1, p);
    item
}

fn operation(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else {
        return m;
    };
    for (k, v) in o {
        match k.as_str() {
            "tags" => strings(&mut m, 1, v),
            "summary" => m.string(2, str_of(v)),
            "description" => m.string(3, str_of(v)),
            "operationId" => m.string(5, str_of(v)),
            "produces" => strings(&mut m, 6, v),
            "consumes" => strings(&mut m, 7, v),
            "parameters" => {
                for p in v.as_array().into_iter().flatten() {
                    m.msg(8, parameter(p));
                }
            }
            "responses" => {
                let mut r = Msg::default();
                if let Some(codes) = v.as_object() {
                    named(&mut r, 1, codes, |resp| {
                        // ResponseValue { response = 1 }: Response { description 1, schema 2 }
                        let mut rv = Msg::default();
                        let mut resp_m = Msg::default();
                        resp_m.string(1, resp.get("description").map(str_of).unwrap_or(""));
                        if let Some(sc) = resp.get("schema") {
                            let mut si = Msg::default();
                            si.msg(1, schema(sc));
                            resp_m.msg(2, si);
                        }
                        rv.msg(1, resp_m);
                        rv
                    });
                }
                m.msg(9, r);
            }
            "schemes" => strings(&mut m, 10, v),
            "deprecated" => m.boolean(11, v.as_bool().unwrap_or_default()),
            _ => {}
        }
    }
    extensions(&mut m, 13, o);
    m
}

fn path_item(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else {
        return m;
    };
    for (k, v) in o {
        let field = match k.as_str() {
            "$ref" => {
                m.string(1, str_of(v));
                continue;
            }
            "get" => 2,
            "put" => 3,
            "post" => 4,
            "delete" => 5,
            "options" => 6,
            "head" => 7,
            "patch" => 8,
            "parameters" => {
                for p in v.as_array().into_iter().flatten() {
                    m.msg(9, parameter(p));
                }
                continue;
            }
            _ => continue,
        };
        m.msg(field, operation(v));
    }
    extensions(&mut m, 10, o);
    m
}

/// The document as `openapi.v2.Document` bytes.
pub fn document(doc: &Value) -> Vec<u8> {
    let mut m = Msg::default();
    let Some(o) = doc.as_object() else {
        return m.0;
    };
    for (k, v) in o {
        match k.as_str() {
            "swagger" => m.string(1, str_of(v)),
            "info" => {
                let mut i = Msg::default();
                i.string(1, v.get("title").map(str_of).unwrap_or(""));
                i.string(2, v.get("version").map(str_of).unwrap_or(""));
                i.string(3, v.get("description").map(str_of).unwrap_or(""));
                if let Some(io) = v.as_object() {
                    extensions(&mut i, 7, io);
                }
                m.msg(2, i);
            }
            "host" => m.string(3, str_of(v)),
            "basePath" => m.string(4, str_of(v)),
            "schemes" => strings(&mut m, 5, v),
            "consumes" => strings(&mut m, 6, v),
            "produces" => strings(&mut m, 7, v),
            "paths" => {
                let mut p = Msg::default();
                if let Some(po) = v.as_object() {
                    extensions(&mut p, 1, po);
                    let items: Map<String, Value> = po
                        .iter()
                        .filter(|(k, _)| !k.starts_with("x-"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    named(&mut p, 2, &items, path_item);
                }
                m.msg(8, p);
            }
            "definitions" => {
                let mut d = Msg::default();
                if let Some(defs) = v.as_object() {
                    named(&mut d, 1, defs, schema);
                }
                m.msg(9, d);
            }
            "security" => {
                // SecurityRequirement { NamedStringArray { name, StringArray { value } } }
                for req in v.as_array().into_iter().flatten() {
                    let mut r = Msg::default();
                    if let Some(ro) = req.as_object() {
                        named(&mut r, 1, ro, |scopes| {
                            let mut sa = Msg::default();
                            strings(&mut sa, 1, scopes);
                            sa
                        });
                    }
                    m.msg(12, r);
                }
            }
            "securityDefinitions" => {
                // SecurityDefinitionsItem: api_key_security = 2 (type 1, name 2, in 3,
                // description 4); basic = 1 (type 1, description 2)
                let mut sd = Msg::default();
                if let Some(so) = v.as_object() {
                    named(&mut sd, 1, so, |d| {
                        let s = |k: &str| d.get(k).map(str_of).unwrap_or("");
                        let mut item = Msg::default();
                        let mut sec = Msg::default();
                        if s("type") == "basic" {
                            sec.string(1, "basic");
                            sec.string(2, s("description"));
                            item.msg(1, sec);
                        } else {
                            sec.string(1, s("type"));
                            sec.string(2, s("name"));
                            sec.string(3, s("in"));
                            sec.string(4, s("description"));
                            item.msg(2, sec);
                        }
                        item
                    });
                }
                m.msg(13, sd);
            }
            _ => {}
        }
    }
    extensions(&mut m, 16, o);
    m.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads one level of a message: (field, wire type, payload bytes or varint).
    fn fields(mut b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    return v;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let k = varint(&mut b);
            let (field, wire) = ((k >> 3) as u32, k & 7);
            match wire {
                0 => out.push((field, varint(&mut b).to_le_bytes().to_vec())),
                1 => {
                    out.push((field, b[..8].to_vec()));
                    b = &b[8..];
                }
                2 => {
                    let n = varint(&mut b) as usize;
                    out.push((field, b[..n].to_vec()));
                    b = &b[n..];
                }
                w => panic!("wire type {w}"),
            }
        }
        out
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).expect("utf-8")
    }

    #[test]
    fn documents_encode_as_gnostics_openapi_v2_messages() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": {"/api/v1/namespaces/{namespace}/configmaps/{name}": {
                "patch": {"consumes": ["application/strategic-merge-patch+json"],
                    "parameters": [{"name": "body", "in": "body", "required": true,
                        "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
                        {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true}],
                    "x-kubernetes-action": "patch"}}},
            "definitions": {"io.k8s.api.core.v1.ConfigMap": {
                "type": "object", "required": ["a"],
                "properties": {"data": {"type": "object", "additionalProperties": {"type": "string"}},
                    "n": {"type": "integer", "format": "int32", "minimum": 1.5}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "ConfigMap", "version": "v1"}]}},
        });
        let b = document(&doc);
        let top = fields(&b);
        assert_eq!(top[0], (1, b"2.0".to_vec()));
        let info = fields(&top[1].1);
        assert_eq!(
            info,
            vec![(1, b"Kubernetes".to_vec()), (2, b"v1.32.0".to_vec())]
        );
        // paths (8): NamedPathItem (2) -> name, PathItem -> patch (8) -> Operation
        let paths = fields(&top[2].1);
        assert_eq!(paths[0].0, 2);
        let named_path = fields(&paths[0].1);
        assert_eq!(
            text(&named_path[0].1),
            "/api/v1/namespaces/{namespace}/configmaps/{name}"
        );
        let item = fields(&named_path[1].1);
        assert_eq!(item[0].0, 8);
        let op = fields(&item[0].1);
        assert_eq!(
            op[0],
            (7, b"application/strategic-merge-patch+json".to_vec())
        );
        // the body parameter: ParametersItem.parameter(1) -> Parameter.body(1) -> in = body
        let body = fields(&fields(&fields(&op[1].1)[0].1)[0].1);
        assert!(body.contains(&(3, b"body".to_vec())));
        assert!(body.contains(&(4, 1u64.to_le_bytes().to_vec())));
        // the query parameter: non-body(2) -> query sub-schema(3): name 4, type 6, unique 20
        let q = fields(&fields(&fields(&fields(&op[2].1)[0].1)[0].1)[0].1);
        assert!(q.contains(&(4, b"dryRun".to_vec())) && q.contains(&(6, b"string".to_vec())));
        assert!(q.contains(&(20, 1u64.to_le_bytes().to_vec())));
        // the operation's extension
        let ext = fields(&op[3].1);
        assert_eq!(op[3].0, 13);
        assert_eq!(text(&ext[0].1), "x-kubernetes-action");
        assert_eq!(fields(&ext[1].1), vec![(2, b"\"patch\"".to_vec())]);
        // definitions (9): NamedSchema -> Schema with type (22), required (19), properties (25)
        let defs = fields(&top[3].1);
        let ns = fields(&defs[0].1);
        assert_eq!(text(&ns[0].1), "io.k8s.api.core.v1.ConfigMap");
        let s = fields(&ns[1].1);
        let numbers: Vec<u32> = s.iter().map(|f| f.0).collect();
        assert_eq!(numbers, vec![22, 19, 25, 31]);
        assert_eq!(fields(&s[0].1), vec![(1, b"object".to_vec())]);
        let gvk = fields(&fields(&s[3].1)[1].1);
        assert_eq!(
            text(&gvk[0].1),
            r#"[{"group":"","kind":"ConfigMap","version":"v1"}]"#
        );
        // data: additionalProperties (21) as a schema (1)
        let props = fields(&s[2].1);
        let data = fields(&fields(&props[0].1)[1].1);
        assert_eq!(data[1].0, 21);
        assert_eq!(fields(&data[1].1)[0].0, 1);
        // n: minimum (9) as a double
        let n = fields(&fields(&props[1].1)[1].1);
        assert!(n.contains(&(9, 1.5f64.to_le_bytes().to_vec())));
    }
}
