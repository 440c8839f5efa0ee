//! The patch types of `PATCH`: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! Kubernetes strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch) for the
//! built-in kinds, with the patch strategies and merge keys of upstream's schemas
//! (`x-kubernetes-patch-strategy`/`-merge-key` in `openapi_gen.json.gz`, generated from
//! k8s-openapi by tests/openapi_schemas.rs).

use serde_json::{Map, Value};

/// A patch that cannot be applied (400 BadRequest / 422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

fn err(msg: impl Into<String>) -> PatchError {
    PatchError(msg.into())
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(err(format!("invalid JSON pointer {path:?}")));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| err(format!("doc is missing path: /{}", toks.join("/"))))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| err(format!("invalid index {t:?}")))?;
                a.get_mut(i)
                    .ok_or_else(|| err(format!("index out of bounds: {i}")))?
            }
            _ => return Err(err(format!("doc is missing path: /{}", toks.join("/")))),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), PatchError> {
    let toks = tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        *doc = v;
        return Ok(());
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), v);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| err(format!("invalid index {last:?}")))?;
                if i > a.len() {
                    return Err(err(format!("index out of bounds: {i}")));
                }
                a.insert(i, v);
            }
        }
        _ => return Err(err(format!("doc is missing path: {path}"))),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let toks = tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        return Err(err("cannot remove the document root"));
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| {
            err(format!(
                "unable to remove nonexistent key: {last}: missing value"
            ))
        }),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| err(format!("invalid index {last:?}")))?;
            if i >= a.len() {
                return Err(err(format!("index out of bounds: {i}")));
            }
            Ok(a.remove(i))
        }
        _ => Err(err(format!("doc is missing path: {path}"))),
    }
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, PatchError> {
    doc.pointer(path)
        .ok_or_else(|| err(format!("doc is missing path: {path}")))
}

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| err("json patch must be an array of operations"))?;
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| err("operation is missing path"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| err(format!("operation {kind:?} is missing value")))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("operation {kind:?} is missing from")))
        };
        match kind {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                get(doc, path)?;
                let v = value()?;
                let toks = tokens(path)?;
                *parent_mut(doc, &toks)? = v;
            }
            "move" => {
                let v = remove(doc, from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = get(doc, from()?)?.clone();
                add(doc, path, v)?;
            }
            "test" => {
                if get(doc, path)? != &value()? {
                    return Err(err(format!("testing value {path} failed: test failed")));
                }
            }
            other => return Err(err(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(())
}

/// Applies an RFC 7386 JSON merge patch.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    if let Value::Object(d) = doc {
        for (k, v) in p {
            if v.is_null() {
                d.remove(k);
            } else {
                merge_patch(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// How a list field merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Replaced whole (no `x-kubernetes-patch-strategy: merge`).
    Atomic,
    /// Merged by a key field (`x-kubernetes-patch-merge-key`).
    Keyed(&'static str),
    /// A set of scalars (`patchStrategy:"merge"` on a primitive list, e.g. finalizers).
    Set,
}

/// A place in a built-in kind's schema (upstream's definitions, `openapi_gen.json.gz`, with
/// the patch strategies and merge keys of kube-apiserver's spec): what strategic merge patch
/// and field ownership read the list strategies from. `NONE` (custom resources, open
/// objects): every list is atomic, as apimachinery treats a field it has no metadata for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Schema(Option<&'static Value>);

impl Schema {
    pub const NONE: Schema = Schema(None);

    /// The schema of the built-in kind of `apiVersion`/`kind`, or `NONE`.
    pub fn builtin(api_version: &str, kind: &str) -> Schema {
        Schema(crate::openapi::builtin_kind_schema(api_version, kind))
    }

    /// The schema of `obj`'s built-in kind (its `apiVersion` and `kind`), or `NONE`.
    pub fn of(obj: &Value) -> Schema {
        let f = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
        Schema::builtin(f("apiVersion"), f("kind"))
    }

    /// Whether this is a schema (a built-in kind's), not `NONE`.
    pub fn is_builtin(self) -> bool {
        self.0.is_some()
    }

    fn resolved(self) -> Option<&'static Value> {
        self.0.map(crate::openapi::resolve)
    }

    /// The schema of field `k` of the object here (of the list's items, for a list): a
    /// property, or a map's values.
    pub fn field(self, k: &str) -> Schema {
        let Some(mut s) = self.resolved() else {
            return Schema::NONE;
        };
        if s.get("type").and_then(Value::as_str) == Some("array") {
            match s.get("items") {
                Some(i) => s = crate::openapi::resolve(i),
                None => return Schema::NONE,
            }
        }
        if let Some(p) = s.get("properties").and_then(|p| p.get(k)) {
            return Schema(Some(p));
        }
        Schema(s.get("additionalProperties").filter(|a| a.is_object()))
    }

    /// The schema of the items of the list here.
    pub fn items(self) -> Schema {
        Schema(self.resolved().and_then(|s| s.get("items")))
    }

    /// The schema at a path of field names (list items passed through).
    pub fn at(self, names: &[String]) -> Schema {
        names.iter().fold(self, |s, n| s.field(n))
    }

    /// The strategic merge patch strategy of the list here: its
    /// `x-kubernetes-patch-strategy` (a comma-separated list: `merge`, `retainKeys`) and
    /// `x-kubernetes-patch-merge-key`.
    pub fn list_strategy(self) -> ListStrategy {
        let Some(s) = self.0 else {
            return ListStrategy::Atomic;
        };
        let merge = s
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .is_some_and(|v| v.split(',').any(|x| x == "merge"));
        if !merge {
            return ListStrategy::Atomic;
        }
        match s
            .get("x-kubernetes-patch-merge-key")
            .and_then(Value::as_str)
        {
            Some(k) => ListStrategy::Keyed(k),
            None => ListStrategy::Set,
        }
    }

    fn merge_key(self) -> &'static str {
        match self.list_strategy() {
            ListStrategy::Keyed(k) => k,
            _ => "",
        }
    }

    fn name(self) -> String {
        self.0
            .and_then(|s| s.get("description"))
            .and_then(Value::as_str)
            .map(|d| d.chars().take(40).collect())
            .unwrap_or_default()
    }
}

/// The strategy of list field `field` of the object at `parent` (field names from the object
/// root, without indexes) in `root`.
pub fn list_strategy(root: Schema, parent: &[String], field: &str) -> ListStrategy {
    root.at(parent).field(field).list_strategy()
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch as kube-apiserver does
/// (k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatchUsingLookupPatchMeta`,
/// with `MergeParallelList` and `IgnoreUnmatchedNulls`): maps merge, `null` deletes, lists
/// merge by their patch merge key or as sets of scalars where the schema says
/// `x-kubernetes-patch-strategy: merge` and are replaced otherwise; the directives `$patch:
/// replace|delete` (in a map or a list item), `$retainKeys`, `$setElementOrder/FIELD` and
/// `$deleteFromPrimitiveList/FIELD`; merged lists are ordered as upstream orders them
/// (`$setElementOrder`, then the patch's order, then the live object's).
pub fn strategic_merge_patch(
    doc: &mut Value,
    patch: &Value,
    schema: Schema,
) -> Result<(), PatchError> {
    let Value::Object(p) = patch else {
        return Err(err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type(patch)
        )));
    };
    let original = match std::mem::take(doc) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    *doc = Value::Object(merge_map(original, p.clone(), schema)?);
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn no_merge_key(m: &Value, key: &str) -> PatchError {
    err(format!(
        "map: {m} does not contain declared merge key: {key}"
    ))
}

fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> PatchError {
    let t = t
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| t.to_string());
    err(format!(
        "unknown patch type: {t} in map: {}",
        Value::Object(m.clone())
    ))
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(d, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_patch_into_original(&mut original, &mut patch, schema)?;
    for (k, pv) in patch {
        let (key, delete_list) = match k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => (rest.to_owned(), true),
            None => (k, false),
        };
        if pv.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(ov) = original.remove(&key) else {
            if !delete_list && let Some(v) = remove_directives(discard_nulls(pv)) {
                original.insert(key, v);
            }
            continue;
        };
        if json_type(&ov) != json_type(&pv) {
            if delete_list {
                original.insert(key, ov);
            } else if let Some(v) = remove_directives(discard_nulls(pv)) {
                original.insert(key, v);
            }
            continue;
        }
        let sub = schema.field(&key);
        let merged = match (ov, pv) {
            (Value::Object(o), Value::Object(p)) => Value::Object(merge_map(o, p, sub)?),
            (Value::Array(o), Value::Array(p)) => {
                Value::Array(merge_slice_handler(o, p, sub, delete_list)?)
            }
            (_, p) => p,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// `discardNullValuesFromPatch`: a value the original lacks is taken without its nulls.
fn discard_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k, discard_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(discard_nulls).collect()),
        x => x,
    }
}

/// `removeDirectives`: a value new to the original is taken without the maps that carry a
/// `$patch` directive (`None`: the value itself is one, and is not kept).
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, x)| remove_directives(x).map(|x| (k, x)))
                    .collect(),
            ))
        }
        Value::Array(a) => Some(Value::Array(
            a.into_iter().filter_map(remove_directives).collect(),
        )),
        x => Some(x),
    }
}

/// `applyRetainKeysDirective`: the original keeps only the listed keys.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || err("invalid patch format of retainKeys");
    let Value::Array(list) = retain else {
        return Err(bad());
    };
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !list.iter().any(|x| x.as_str() == Some(k)) {
            return Err(bad());
        }
    }
    original.retain(|k, _| list.iter().any(|x| x.as_str() == Some(k)));
    Ok(())
}

fn as_list(v: Option<Value>, what: &str) -> Result<(bool, Vec<Value>), PatchError> {
    match v {
        None => Ok((false, Vec::new())),
        Some(Value::Array(a)) => Ok((true, a)),
        Some(other) => Err(err(format!(
            "expected a list for {what}, but received {}",
            json_type(&other)
        ))),
    }
}

/// `mergePatchIntoOriginal`: each `$setElementOrder/FIELD` with its list FIELD.
fn merge_patch_into_original(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(err(format!("invalid type for {key}: expected a list")));
        };
        let field = &key[SET_ELEMENT_ORDER.len()..];
        let (found_o, orig_list) = as_list(original.get(field).cloned(), field)?;
        let (found_p, patch_list) = as_list(patch.get(field).cloned(), field)?;
        let sub = schema.field(field);
        let merge_key = sub.merge_key();
        validate_patch_with_set_order_list(&patch_list, &order, merge_key)?;
        let merged = match (found_o, found_p) {
            (true, false) => orig_list.clone(),
            (false, true) => match remove_directives(Value::Array(patch_list.clone())) {
                Some(Value::Array(a)) => a,
                _ => continue,
            },
            (true, true) => merge_slice_handler(orig_list.clone(), patch_list.clone(), sub, false)?,
            (false, false) => continue,
        };
        let (patch_items, server_only) = partition(merged, &order, merge_key)?;
        let is_map = slice_is_map(&orig_list, &patch_list)?;
        // upstream orders by the live list as its Go slice reads after the merge: the
        // `$patch: delete` items of a keyed list were removed in place
        // (`deleteMatchingEntries` appends `original[:k]` and `original[k+1:]`), shifting
        // the items after them left within the same backing array
        let live_order = if found_o && found_p && is_map && !merge_key.is_empty() {
            deleted_in_place(orig_list, &patch_list, merge_key)
        } else {
            orig_list
        };
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &live_order,
            merge_key,
            is_map,
        )?;
        original.insert(field.to_owned(), Value::Array(both));
        patch.remove(field);
    }
    Ok(())
}

/// The live list as a Go slice of its length reads after `mergeSliceWithSpecialElements`
/// deleted the items named by `$patch: delete` entries of `patch` in place.
fn deleted_in_place(mut backing: Vec<Value>, patch: &[Value], key: &str) -> Vec<Value> {
    let mut len = backing.len();
    for v in patch {
        if !is_delete_item(v) {
            continue;
        }
        let Some(mv) = v.get(key) else { continue };
        while let Some(k) = backing[..len].iter().position(|o| o.get(key) == Some(mv)) {
            for i in k..len - 1 {
                backing[i] = backing[i + 1].clone();
            }
            len -= 1;
        }
    }
    backing
}

fn merge_key_value_equal(l: &Value, r: &Value, key: &str) -> Result<bool, PatchError> {
    if key.is_empty() {
        return Ok(l == r);
    }
    let lv = l.get(key).ok_or_else(|| no_merge_key(l, key))?;
    let rv = r.get(key).ok_or_else(|| no_merge_key(r, key))?;
    Ok(lv == rv)
}

fn is_delete_item(v: &Value) -> bool {
    v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

/// `validatePatchWithSetOrderList`: the patch list's items appear in the order list, in order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if key.is_empty() {
        patch_list.iter().collect()
    } else {
        if let Some(bad) = patch_list.iter().find(|v| !v.is_object()) {
            return Err(err(format!(
                "expected a map, but received {}",
                json_type(bad)
            )));
        }
        patch_list.iter().filter(|v| !is_delete_item(v)).collect()
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        if non_delete[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[pi], &order[oi], key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(err(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch_list.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// `sliceElementType`: whether the items (all of one type, no lists) are maps.
fn slice_is_map(a: &[Value], b: &[Value]) -> Result<bool, PatchError> {
    let mut prev: Option<&'static str> = None;
    for v in a.iter().chain(b) {
        let t = json_type(v);
        if let Some(p) = prev
            && p != t
        {
            return Err(err(format!(
                "mismatched types: lists mix {p} and {t} items"
            )));
        }
        if t == "array" {
            return Err(err("unable to merge lists of lists"));
        }
        prev = Some(t);
    }
    match prev {
        Some(t) => Ok(t == "object"),
        None => Err(err("no elements in any of the given slices")),
    }
}

fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    let strategy = schema.list_strategy();
    if strategy == ListStrategy::Atomic && !delete_list {
        return Ok(patch);
    }
    merge_slice(original, patch, schema, delete_list)
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = slice_is_map(&original, &patch)?;
    let key = schema.merge_key();
    let (original, patch, merged) = if !is_map {
        if delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        if key.is_empty() {
            return Err(err(format!(
                "cannot merge lists without merge key for {}",
                schema.name()
            )));
        }
        let (original, patch) = merge_slice_with_special_elements(original, patch, key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, key, schema.items())?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = partition(merged, &patch, key)?;
    normalize_element_order(patch_items, server_only, &patch, &original, key, is_map)
}

fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut without = Vec::new();
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(err(format!(
                "expected a map, but received {}",
                json_type(&v)
            )));
        };
        match m.get(DIRECTIVE) {
            None => without.push(v),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let mv = m.get(key).ok_or_else(|| no_merge_key(&v, key))?;
                    original.retain(|o| o.get(key) != Some(mv));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(err("merging lists cannot yet be specified in the patch"));
                }
                _ => return Err(bad_patch_type(d, m)),
            },
        }
    }
    if replace {
        return Ok((without, Vec::new()));
    }
    Ok((original, without))
}

fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    items: Schema,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let mv = v.get(key).ok_or_else(|| no_merge_key(v, key))?;
        if let Some(bad) = original.iter().find(|o| !o.is_object()) {
            return Err(err(format!(
                "expected a map, but received {}",
                json_type(bad)
            )));
        }
        match original.iter().position(|o| o.get(key) == Some(mv)) {
            Some(i) => {
                let o = match std::mem::take(&mut original[i]) {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                let p = v.as_object().cloned().unwrap_or_default();
                original[i] = Value::Object(merge_map(o, p, items)?);
            }
            None => original.push(v.clone()),
        }
    }
    Ok(original)
}

/// `partitionMapsByPresentInList` / `partitionPrimitivesByPresentInList`: (the items present
/// in `by`, the others).
fn partition(
    items: Vec<Value>,
    by: &[Value],
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for v in items {
        let found = if key.is_empty() {
            by.contains(&v)
        } else {
            if !v.is_object() {
                return Err(err(format!(
                    "expected a map, but received {}",
                    json_type(&v)
                )));
            }
            let kv = v.get(key).ok_or_else(|| no_merge_key(&v, key))?;
            by.iter().any(|b| b.get(key) == Some(kv))
        };
        if found {
            inside.push(v);
        } else {
            outside.push(v);
        }
    }
    Ok((inside, outside))
}

/// `index`: the position of `v` in `l`, by merge key for maps.
fn index(l: &[Value], v: &Value, key: &str, is_map: bool) -> Option<usize> {
    if is_map && !key.is_empty() {
        let kv = v.get(key)?;
        l.iter().position(|x| x.get(key) == Some(kv))
    } else {
        l.iter().position(|x| x == v)
    }
}

/// `normalizeSliceOrder`: `sort.SliceStable` by position in `order`, with upstream's
/// comparator (an item not in `order` counts as less), reproduced by insertion sort, which
/// is what Go's `SliceStable` runs on up to 20 items.
fn normalize_slice_order(
    mut to_sort: Vec<Value>,
    order: &[Value],
    key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    if is_map {
        for v in to_sort.iter().chain(order) {
            if v.get(key).is_none() {
                return Err(no_merge_key(v, key));
            }
        }
    }
    let less =
        |a: &Value, b: &Value| match (index(order, a, key, is_map), index(order, b, key, is_map)) {
            (Some(i), Some(j)) => i < j,
            _ => true,
        };
    for i in 1..to_sort.len() {
        let mut j = i;
        while j > 0 && less(&to_sort[j], &to_sort[j - 1]) {
            to_sort.swap(j, j - 1);
            j -= 1;
        }
    }
    Ok(to_sort)
}

/// `normalizeElementOrder`: patch items in the patch's order, server-only items in the live
/// order, merged where both are in the live list by its order, else patch items first.
fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let right = normalize_slice_order(patch, patch_order, key, is_map)?;
    let left = normalize_slice_order(server_only, server_order, key, is_map)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        match (l.peek(), r.peek()) {
            (None, None) => break,
            (Some(_), None) => out.extend(l.next()),
            (None, Some(_)) => out.extend(r.next()),
            (Some(a), Some(b)) => {
                let first_left = matches!(
                    (index(server_order, a, key, is_map), index(server_order, b, key, is_map)),
                    (Some(i), Some(j)) if i < j
                );
                if first_left {
                    out.extend(l.next());
                } else {
                    out.extend(r.next());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // RFC 6902 appendix A examples.
    #[test]
    fn json_patch_ops() {
        let mut d = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2]});
        json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "remove", "path": "/list/0"},
                {"op": "test", "path": "/list/0", "value": 2},
                {"op": "copy", "from": "/list", "path": "/copy"},
            ]),
        )
        .expect("applies");
        assert_eq!(d["metadata"]["labels"], json!({"a": "x", "b/c": "2"}));
        assert_eq!(d["copy"], json!([2, 3]));
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }

    // RFC 7386 section 3 example.
    #[test]
    fn merge_patch_rfc7386() {
        let mut d = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut d, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(d, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn webhooks_merge_by_name() {
        // kubectl's client-side apply sends a webhook with only its changed `rules` (atomic):
        // the webhook merges by name, keeping its clientConfig (admissionregistration/v1
        // types.go: webhooks `patchMergeKey:"name"`)
        let mut doc = json!({"webhooks": [{"name": "w", "sideEffects": "None",
            "clientConfig": {"url": "https://x"}, "rules": [{"operations": ["CREATE"]}]}]});
        let patch = json!({"$setElementOrder/webhooks": [{"name": "w"}],
            "webhooks": [{"name": "w", "rules": [{"operations": ["UPDATE"]}]}]});
        strategic_merge_patch(
            &mut doc,
            &patch,
            Schema::builtin(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
            ),
        )
        .expect("patch");
        assert_eq!(
            doc,
            json!({"webhooks": [{"name": "w", "sideEffects": "None",
                "clientConfig": {"url": "https://x"}, "rules": [{"operations": ["UPDATE"]}]}]})
        );
    }

    // k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go: merge by key, $patch
    // delete, primitive set merge (finalizers). The order is real kubectl's (`kubectl patch
    // --local --type strategic`, v1.32): items new to the live list come first
    // (`normalizeElementOrder`).
    #[test]
    fn strategic_merge_by_key() {
        let mut d = json!({"metadata": {"finalizers": ["a"]}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "s"}]}}}});
        strategic_merge_patch(
            &mut d,
            &json!({"metadata": {"finalizers": ["b"]}, "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "v2", "env": [{"name": "B", "value": "2"}]},
                {"name": "side", "$patch": "delete"}]}}}}),
            Schema::builtin("apps/v1", "Deployment"),
        )
        .expect("applies");
        assert_eq!(d["metadata"]["finalizers"], json!(["b", "a"]));
        let c = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(c.as_array().map(Vec::len), Some(1));
        assert_eq!(c[0]["image"], "v2");
        assert_eq!(
            c[0]["env"],
            json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
        );
    }

    fn arb_patch() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..4).prop_map(|n| Value::Number(n.into())),
            prop::sample::select(vec!["app", "side", "delete", "replace", "merge", "A"])
                .prop_map(|s| Value::String(s.into())),
        ];
        let keys = prop::sample::select(vec![
            "spec",
            "template",
            "containers",
            "name",
            "env",
            "value",
            "ports",
            "containerPort",
            "metadata",
            "finalizers",
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$setElementOrder/env",
            "$deleteFromPrimitiveList/finalizers",
            "volumes",
            "strategy",
            "type",
        ]);
        leaf.prop_recursive(6, 64, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        // Any patch, directives in any place: a result or an error, never a panic.
        #[test]
        fn any_strategic_patch_applies_or_fails_cleanly(p in arb_patch()) {
            let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "w", "finalizers": ["a"]},
                "spec": {"strategy": {"type": "RollingUpdate"}, "template": {"spec": {
                    "containers": [{"name": "app", "env": [{"name": "A"}], "ports": [{"containerPort": 1}]},
                                   {"name": "side"}],
                    "volumes": [{"name": "v"}]}}}});
            let schema = Schema::of(&d);
            let _ = strategic_merge_patch(&mut d, &p, schema);
        }
    }
}
