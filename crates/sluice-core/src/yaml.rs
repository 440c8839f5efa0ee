//! Multi-document YAML (and JSON, a subset of it) loading with source positions.
//!
//! Scalars resolve the way `kubectl` reads manifests: sigs.k8s.io/yaml decodes with its fork of
//! go-yaml v2, whose resolver follows YAML 1.1 for plain scalars (`yes`/`no`/`on`/`off`/`y`/`n`
//! are booleans, `0777` is octal, `1_000` is an integer, `~` is null) and supports merge keys
//! (`<<`). Quoted and block scalars are always strings. Mapping keys become strings, as the
//! YAML-to-JSON conversion does.
//!
//! Hard limits protect against hostile input: the number of nodes that aliases may expand to
//! (billion laughs), nesting depth, and the size of one document.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// A position in a source text: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    }
}

/// Limits applied while loading. The defaults are generous for real manifests and small
/// enough that a hostile file fails fast with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nodes that alias expansion may add to one document (go-yaml guards the same attack by
    /// an alias-to-node ratio; a fixed budget is simpler to explain).
    pub max_alias_nodes: u64,
    /// Nesting depth of mappings and sequences.
    pub max_depth: usize,
    /// Characters in one document. Kubernetes refuses request bodies over 3 MiB; documents in
    /// a stream are held to a larger bound so big ConfigMaps still load and are judged later.
    pub max_document_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_alias_nodes: 100_000,
            max_depth: 128,
            max_document_chars: 16 * 1024 * 1024,
        }
    }
}

/// Bytes read from one input file or stream (`sluice` commands, kustomize's `DiskFs`).
/// Readers stop one byte past it (`Read::take`), so `/dev/zero` or a huge file costs at most
/// this much memory before it is refused. Four times [`Limits::max_document_chars`], for
/// files of several documents.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How plain scalars resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// go-yaml v2 (sigs.k8s.io/yaml, `kubectl apply`): YAML 1.1 booleans (`yes`, `on`, `y`),
    /// octal `0777`, underscores in numbers; keys resolve too (`y:` is the key `"true"`).
    #[default]
    Yaml11,
    /// go-yaml v3 (kyaml, `kustomize`), as a decode to JSON sees it: only
    /// `true`/`True`/`TRUE`/`false`/... are booleans, `null`/`Null`/`NULL`/`~`/empty are
    /// null, integers as Go's `strconv.ParseInt(s, 0, 64)` after removing `_` (so `0777` is
    /// octal, `0x1F`, `0o17`, `0b11` work), floats by YAML's float syntax, and unquoted
    /// timestamps (`2020-01-01`) become RFC 3339 strings as `time.Time` marshals to JSON.
    /// Mapping keys stay the text written.
    Core,
}

/// Loading options: limits, scalar resolution and what a repeated mapping key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub limits: Limits,
    pub schema: Schema,
    /// `false` (the default): a repeated key is an error (go-yaml v3, kubectl's strict
    /// decoding). `true`: the last value wins, as go-yaml v2's `Unmarshal` into a map does
    /// (kustomize reads kustomization files that way).
    pub last_key_wins: bool,
    /// `true`: folded (`>`) scalars hold what go-yaml v3 reads back after writing them
    /// folded once more ([`go_v3_folded_reencode`]). kustomize's kio reads resources and
    /// strategic merge patches, writes them and reads them again, so a folded value there
    /// is the text after that round trip, not the one first read.
    pub reencode_folded: bool,
}

/// Why a text could not be loaded. Every variant carries the position it refers to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("{pos}: invalid YAML: {message}")]
    Syntax { pos: Pos, message: String },
    #[error("{pos}: duplicate key {key:?} (first defined at line {first_line})")]
    DuplicateKey {
        pos: Pos,
        key: String,
        first_line: u32,
    },
    #[error(
        "{pos}: aliases expand to more than {limit} nodes (possible \"billion laughs\" attack)"
    )]
    AliasLimit { pos: Pos, limit: u64 },
    #[error("{pos}: nesting deeper than {limit} levels")]
    DepthLimit { pos: Pos, limit: usize },
    #[error("{pos}: document larger than {limit} characters")]
    DocumentTooLarge { pos: Pos, limit: usize },
    #[error("{pos}: mapping keys must be scalars")]
    ComplexKey { pos: Pos },
    #[error("{pos}: merge key `<<` needs a mapping or a sequence of mappings")]
    InvalidMerge { pos: Pos },
    #[error("{pos}: unknown alias")]
    UnknownAlias { pos: Pos },
}

impl LoadError {
    pub fn pos(&self) -> Pos {
        match self {
            LoadError::Syntax { pos, .. }
            | LoadError::DuplicateKey { pos, .. }
            | LoadError::AliasLimit { pos, .. }
            | LoadError::DepthLimit { pos, .. }
            | LoadError::DocumentTooLarge { pos, .. }
            | LoadError::ComplexKey { pos }
            | LoadError::InvalidMerge { pos }
            | LoadError::UnknownAlias { pos } => *pos,
        }
    }

    /// The message without the position prefix.
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.pos());
        full.strip_prefix(&prefix)
            .map(str::to_owned)
            .unwrap_or(full)
    }
}

/// Positions of a document's nodes, parallel to its `serde_json::Value`: a mapping's
/// children are in the order of the value's keys, a sequence's in element order. Keeping
/// positions apart from the values costs 40 bytes a node and no copy of any string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub pos: Pos,
    pub children: Vec<Child>,
}

/// A child of a node: for a mapping entry, `key_pos` is where the key is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    pub key_pos: Pos,
    pub node: Node,
}

/// One step of a path into a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Node {
    fn leaf(pos: Pos) -> Node {
        Node {
            pos,
            children: Vec::new(),
        }
    }

    /// Walks `steps` through `value` (the value this node tree describes) as far as they
    /// go. Returns the position of the deepest node reached (the key's position when the
    /// last step is a mapping key, so a message lands on the line that names the field) and
    /// whether every step was found.
    pub fn locate<'a>(
        &self,
        value: &Value,
        steps: impl IntoIterator<Item = Step<'a>>,
    ) -> (Pos, bool) {
        let mut node = self;
        let mut value = value;
        let mut pos = self.pos;
        for step in steps {
            let (index, next) = match (step, value) {
                (Step::Key(k), Value::Object(m)) => match m.iter().position(|(key, _)| key == k) {
                    Some(i) => (i, &m[k]),
                    None => return (pos, false),
                },
                (Step::Index(i), Value::Array(a)) if i < a.len() => (i, &a[i]),
                _ => return (pos, false),
            };
            let Some(child) = node.children.get(index) else {
                return (pos, false);
            };
            pos = child.key_pos;
            node = &child.node;
            value = next;
        }
        (pos, true)
    }
}

/// A document of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based index in the stream.
    pub index: usize,
    pub value: Value,
    pub root: Node,
}

/// Loads every document of a YAML (or JSON) text. Empty documents come back as null.
///
/// go-yaml (libyaml) does not enforce indentation inside flow collections, and manifests rely
/// on it (`args: [` ... `]` with the `]` under the key; several of Tekton's own examples).
/// The scanner used here does enforce it, so such a line is re-indented to the column of its
/// flow collection and the text loaded again; reported columns on that line are shifted back.
pub fn load_documents(text: &str, limits: &Limits) -> Result<Vec<Document>, LoadError> {
    load_documents_with(
        text,
        &Options {
            limits: *limits,
            schema: Schema::Yaml11,
            last_key_wins: false,
            reencode_folded: false,
        },
    )
}

/// [`load_documents`] with a choice of scalar resolution ([`Schema`]).
pub fn load_documents_with(text: &str, options: &Options) -> Result<Vec<Document>, LoadError> {
    let limits = &options.limits;
    let schema = options.schema;
    let last_key_wins = options.last_key_wins;
    let reencode_folded = options.reencode_folded;
    const MAX_REINDENTS: usize = 64;
    let mut patched: Option<String> = None;
    let mut shifts: HashMap<u32, u32> = HashMap::new();
    for _ in 0..=MAX_REINDENTS {
        let current = patched.as_deref().unwrap_or(text);
        match load_once(
            current,
            limits,
            schema,
            (last_key_wins, reencode_folded),
            &shifts,
        ) {
            Err(Attempt::Reindent {
                line,
                col0,
                to_col0,
            }) => {
                let Some(fixed) = reindent(current, line, col0, to_col0) else {
                    break;
                };
                *shifts.entry(line).or_insert(0) += to_col0 - col0;
                patched = Some(fixed);
            }
            Err(Attempt::Failed(e)) => return Err(e),
            Ok(docs) => return Ok(docs),
        }
    }
    // Re-indenting did not help: report the scanner's own error at its original place.
    match load_once(
        text,
        limits,
        schema,
        (last_key_wins, reencode_folded),
        &HashMap::new(),
    ) {
        Err(Attempt::Failed(e)) => Err(e),
        Err(Attempt::Reindent { line, col0, .. }) => Err(LoadError::Syntax {
            pos: Pos {
                line,
                col: col0 + 1,
            },
            message: "invalid indentation".to_owned(),
        }),
        Ok(docs) => Ok(docs),
    }
}

enum Attempt {
    Failed(LoadError),
    /// Line `line` (1-based) starts at 0-based column `col0`, left of the flow collection
    /// it belongs to, which starts at `to_col0`.
    Reindent {
        line: u32,
        col0: u32,
        to_col0: u32,
    },
}

fn reindent(text: &str, line: u32, col0: u32, to_col0: u32) -> Option<String> {
    if to_col0 <= col0 {
        return None;
    }
    let mut out = String::with_capacity(text.len() + (to_col0 - col0) as usize);
    let mut found = false;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            found = true;
            out.extend(std::iter::repeat_n(' ', (to_col0 - col0) as usize));
        }
        out.push_str(l);
    }
    found.then_some(out)
}

/// The character at 1-based `line`, 0-based character column `col0`.
fn char_at(text: &str, line: u32, col0: u32) -> Option<char> {
    text.split('\n')
        .nth(line.checked_sub(1)? as usize)?
        .chars()
        .nth(col0 as usize)
}

fn load_once(
    text: &str,
    limits: &Limits,
    schema: Schema,
    (last_key_wins, reencode_folded): (bool, bool),
    shifts: &HashMap<u32, u32>,
) -> Result<Vec<Document>, Attempt> {
    let mut b = Builder {
        limits: *limits,
        schema,
        last_key_wins,
        reencode_folded,
        docs: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        doc_start: 0,
        root: None,
        shifts,
    };
    for ev in Parser::new_from_str(text) {
        let (event, span) = match ev {
            Ok(x) => x,
            Err(e) => {
                let line = u32::try_from(e.marker().line()).unwrap_or(u32::MAX);
                let col0 = u32::try_from(e.marker().col()).unwrap_or(u32::MAX);
                if e.info() == "invalid indentation"
                    && let Some(to_col0) = b.innermost_flow_col0(text)
                {
                    return Err(Attempt::Reindent {
                        line,
                        col0,
                        to_col0,
                    });
                }
                let pos = b.shifted(line, col0);
                // The scanner caps flow nesting (255) while looking ahead, before our own
                // check sees the events: report it as the depth limit it is.
                return Err(Attempt::Failed(if e.info() == "recursion limit exceeded" {
                    LoadError::DepthLimit {
                        pos,
                        limit: limits.max_depth.min(255),
                    }
                } else {
                    LoadError::Syntax {
                        pos,
                        message: e.info().to_owned(),
                    }
                }));
            }
        };
        b.event(event, span).map_err(Attempt::Failed)?;
    }
    Ok(b.docs)
}

/// A finished node: its value, positions and node count.
#[derive(Debug, Clone)]
struct Built {
    value: Value,
    node: Node,
    size: u64,
}

enum Frame {
    Seq {
        pos: Pos,
        raw: Pos,
        anchor: usize,
        items: Vec<Value>,
        nodes: Vec<Child>,
        size: u64,
    },
    Map {
        pos: Pos,
        raw: Pos,
        anchor: usize,
        map: Map<String, Value>,
        nodes: Vec<Child>,
        key: Option<(String, Pos, bool)>,
        merges: Vec<Built>,
        size: u64,
    },
}

struct Builder<'s> {
    limits: Limits,
    schema: Schema,
    last_key_wins: bool,
    reencode_folded: bool,
    docs: Vec<Document>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Built>,
    alias_nodes: u64,
    doc_start: usize,
    root: Option<Built>,
    /// Columns added to lines by re-indenting (see [`load_documents`]).
    shifts: &'s HashMap<u32, u32>,
}

const MERGE_KEY: &str = "<<";

impl Builder<'_> {
    /// Position for 1-based `line`, 0-based `col0`, as in the text the user wrote.
    fn shifted(&self, line: u32, col0: u32) -> Pos {
        let shift = if self.shifts.is_empty() {
            0
        } else {
            self.shifts.get(&line).copied().unwrap_or(0)
        };
        Pos {
            line,
            col: col0.saturating_sub(shift) + 1,
        }
    }

    /// The 0-based column of the innermost open flow collection (`[` or `{`), if any.
    fn innermost_flow_col0(&self, text: &str) -> Option<u32> {
        self.stack.iter().rev().find_map(|f| {
            let pos = match f {
                Frame::Seq { raw, .. } | Frame::Map { raw, .. } => *raw,
            };
            matches!(char_at(text, pos.line, pos.col - 1), Some('[' | '{')).then_some(pos.col - 1)
        })
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), LoadError> {
        let raw = pos_of(&span);
        let pos = self.shifted(raw.line, raw.col - 1);
        if span.end.index().saturating_sub(self.doc_start) > self.limits.max_document_chars {
            return Err(LoadError::DocumentTooLarge {
                pos,
                limit: self.limits.max_document_chars,
            });
        }
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                self.doc_start = span.start.index();
                self.anchors.clear();
                self.alias_nodes = 0;
                self.root = None;
            }
            Event::DocumentEnd => {
                let root = self.root.take();
                let index = self.docs.len();
                let (value, root) = match root {
                    Some(b) => (b.value, b.node),
                    None => (Value::Null, Node::leaf(pos)),
                };
                self.docs.push(Document { index, value, root });
            }
            Event::Alias(id) => {
                let built = self
                    .anchors
                    .get(&id)
                    .ok_or(LoadError::UnknownAlias { pos })?;
                self.alias_nodes += built.size;
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(LoadError::AliasLimit {
                        pos,
                        limit: self.limits.max_alias_nodes,
                    });
                }
                let mut built = built.clone();
                built.node.pos = pos;
                self.finish(built, 0)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_merge = style == ScalarStyle::Plain && tag.is_none() && text == MERGE_KEY;
                if is_merge && let Some(Frame::Map { key: k @ None, .. }) = self.stack.last_mut() {
                    *k = Some((MERGE_KEY.to_owned(), pos, true));
                    return Ok(());
                }
                let reencoded;
                let text = if self.reencode_folded && style == ScalarStyle::Folded {
                    reencoded = go_v3_folded_reencode(&text);
                    reencoded.as_ref()
                } else {
                    text.as_ref()
                };
                let value = match self.schema {
                    Schema::Yaml11 => resolve_scalar(text, style, tag.as_deref()),
                    Schema::Core => {
                        // keys stay the text written (a decode to map[string]any)
                        let is_key =
                            matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                        if is_key && tag.is_none() {
                            Value::String(text.to_string())
                        } else {
                            resolve_scalar_core(text, style, tag.as_deref())
                        }
                    }
                };
                self.finish(
                    Built {
                        value,
                        node: Node::leaf(pos),
                        size: 1,
                    },
                    anchor,
                )?;
            }
            Event::SequenceStart(anchor, _) => {
                self.push(
                    Frame::Seq {
                        pos,
                        raw,
                        anchor,
                        items: Vec::new(),
                        nodes: Vec::new(),
                        size: 1,
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, _) => {
                self.push(
                    Frame::Map {
                        pos,
                        raw,
                        anchor,
                        map: Map::new(),
                        nodes: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                        size: 1,
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (built, anchor) = match frame {
                    Frame::Seq {
                        pos,
                        anchor,
                        mut items,
                        mut nodes,
                        size,
                        ..
                    } => {
                        // streams hold many documents: no growth slack kept per node
                        items.shrink_to_fit();
                        nodes.shrink_to_fit();
                        (
                            Built {
                                value: Value::Array(items),
                                node: Node {
                                    pos,
                                    children: nodes,
                                },
                                size,
                            },
                            anchor,
                        )
                    }
                    Frame::Map {
                        pos,
                        anchor,
                        mut map,
                        mut nodes,
                        merges,
                        mut size,
                        ..
                    } => {
                        apply_merges(&mut map, &mut nodes, merges, &mut size);
                        nodes.shrink_to_fit();
                        (
                            Built {
                                value: Value::Object(map),
                                node: Node {
                                    pos,
                                    children: nodes,
                                },
                                size,
                            },
                            anchor,
                        )
                    }
                };
                self.finish(built, anchor)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, pos: Pos) -> Result<(), LoadError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(LoadError::DepthLimit {
                pos,
                limit: self.limits.max_depth,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a completed node into its parent (or makes it the document root).
    fn finish(&mut self, built: Built, anchor: usize) -> Result<(), LoadError> {
        if anchor != 0 {
            self.anchors.insert(anchor, built.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(built);
            }
            Some(Frame::Seq {
                items, nodes, size, ..
            }) => {
                *size += built.size;
                nodes.push(Child {
                    key_pos: built.node.pos,
                    node: built.node,
                });
                items.push(built.value);
            }
            Some(Frame::Map {
                map,
                nodes,
                key,
                merges,
                size,
                ..
            }) => match key.take() {
                None => {
                    let k = match built.value {
                        Value::String(s) => s,
                        Value::Null => "null".to_owned(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(LoadError::ComplexKey {
                                pos: built.node.pos,
                            });
                        }
                        other => other.to_string(),
                    };
                    *key = Some((k, built.node.pos, false));
                }
                Some((_, _, true)) => match &built.value {
                    Value::Object(_) => merges.push(built),
                    Value::Array(items) if items.iter().all(Value::is_object) => {
                        let Built { value, node, .. } = built;
                        if let Value::Array(items) = value {
                            for (v, c) in items.into_iter().zip(node.children) {
                                merges.push(Built {
                                    value: v,
                                    node: c.node,
                                    size: 0,
                                });
                            }
                        }
                    }
                    _ => {
                        return Err(LoadError::InvalidMerge {
                            pos: built.node.pos,
                        });
                    }
                },
                Some((k, key_pos, false)) => {
                    if self.last_key_wins
                        && let Some(i) = map.keys().position(|x| *x == k)
                    {
                        if let Some(c) = nodes.get_mut(i) {
                            *c = Child {
                                key_pos,
                                node: built.node,
                            };
                        }
                        map.insert(k, built.value);
                        return Ok(());
                    }
                    if map.contains_key(&k) {
                        let first_line = map
                            .keys()
                            .position(|x| *x == k)
                            .and_then(|i| nodes.get(i))
                            .map_or(0, |c| c.key_pos.line);
                        return Err(LoadError::DuplicateKey {
                            pos: key_pos,
                            key: k,
                            first_line,
                        });
                    }
                    *size += built.size;
                    nodes.push(Child {
                        key_pos,
                        node: built.node,
                    });
                    map.insert(k, built.value);
                }
            },
        }
        Ok(())
    }
}

/// Merge keys (`<<: *base`): entries of the merged mappings that the mapping does not set
/// itself are added after its own, earlier sources first.
fn apply_merges(
    map: &mut Map<String, Value>,
    nodes: &mut Vec<Child>,
    merges: Vec<Built>,
    size: &mut u64,
) {
    for m in merges {
        let (Value::Object(src), node) = (m.value, m.node) else {
            continue;
        };
        for ((k, v), c) in src.into_iter().zip(node.children) {
            if !map.contains_key(&k) {
                *size += 1;
                nodes.push(c);
                map.insert(k, v);
            }
        }
    }
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && tag.handle == "tag:yaml.org,2002:"
    {
        return match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => Value::String(text.to_owned()),
            "null" => Value::Null,
            "bool" => {
                resolve_bool(text).map_or_else(|| Value::String(text.to_owned()), Value::Bool)
            }
            "int" | "float" => {
                resolve_number(text).unwrap_or_else(|| Value::String(text.to_owned()))
            }
            _ => resolve_plain(text),
        };
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::String(text.to_owned());
    }
    resolve_plain(text)
}

fn resolve_scalar_core(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && tag.handle == "tag:yaml.org,2002:"
    {
        return match tag.suffix.as_str() {
            "str" | "binary" => Value::String(text.to_owned()),
            _ => resolve_plain_core(text),
        };
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::String(text.to_owned());
    }
    resolve_plain_core(text)
}

/// What go-yaml v3 reads back after writing `value` as a folded (`>`) block scalar and
/// reading it again (see [`Options::reencode_folded`]).
///
/// go-yaml v3's `yaml_emitter_write_folded_scalar` writes one more line break after a line
/// that does not start with a blank, so that folding on reading keeps the break, but it
/// decides by looking at the value's first line (`k := 0`) instead of the next one. So a
/// break before a more-indented line comes back doubled, and when the value itself starts
/// with a blank no break is doubled and single breaks between ordinary lines come back as
/// spaces. The chomping indicator is chosen from the value (`yaml_emitter_write_block_scalar_hints`),
/// so a value ending in two breaks gains one more under `+`. Values the emitter cannot write as a
/// block scalar (`yaml_emitter_analyze_scalar`: empty, a trailing space, a space before a
/// line break, characters that are not printable) are written double-quoted and come back
/// as they were, as here do values with line breaks other than `\n`. The emitter also folds
/// lines longer than its width at a space; that reads back as the space except in
/// more-indented lines, which depends on the indentation and is not modelled.
pub fn go_v3_folded_reencode(value: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    fn printable(c: char) -> bool {
        matches!(c, '\t' | '\n' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{10000}'..)
            || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
    }
    let block_allowed = !value.is_empty()
        && !value.ends_with(' ')
        && !value.contains(" \n")
        && value.chars().all(printable)
        && !value.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']);
    if !block_allowed || !value.contains('\n') && !value.starts_with([' ', '\t']) {
        return Cow::Borrowed(value);
    }
    // the writer
    let blank0 = matches!(
        value.trim_start_matches('\n').chars().next(),
        None | Some(' ' | '\t')
    );
    let mut out = String::with_capacity(value.len() + 16);
    let (mut breaks, mut leading_spaces) = (true, true);
    for c in value.chars() {
        if c == '\n' {
            if !breaks && !leading_spaces && !blank0 {
                out.push('\n');
            }
            out.push('\n');
            breaks = true;
        } else {
            if breaks {
                leading_spaces = c == ' ' || c == '\t';
            }
            out.push(c);
            breaks = false;
        }
    }
    // the chomping indicator the writer chooses: '-' without a final break, '+' with two
    let strip = !value.ends_with('\n');
    let keep = value == "\n" || value.ends_with("\n\n");
    // the reader (libyaml's yaml_parser_scan_block_scalar, folded)
    let pieces: Vec<&str> = out.split('\n').collect();
    let last = pieces.len() - 1;
    let mut s = String::with_capacity(out.len());
    let (mut leading_break, mut leading_blank, mut trailing) = (false, false, 0usize);
    let mut i = 0;
    while i < last && pieces[i].is_empty() {
        trailing += 1;
        i += 1;
    }
    loop {
        let line = pieces[i];
        if i == last && line.is_empty() {
            break;
        }
        let trailing_blank = line.starts_with([' ', '\t']);
        if leading_break && !leading_blank && !trailing_blank {
            if trailing == 0 {
                s.push(' ');
            }
        } else if leading_break {
            s.push('\n');
        }
        s.extend(std::iter::repeat_n('\n', trailing));
        (trailing, leading_break, leading_blank) = (0, false, trailing_blank);
        s.push_str(line);
        if i == last {
            break;
        }
        leading_break = true;
        i += 1;
        while i < last && pieces[i].is_empty() {
            trailing += 1;
            i += 1;
        }
    }
    if !strip && leading_break {
        s.push('\n');
    }
    if keep {
        s.extend(std::iter::repeat_n('\n', trailing));
    }
    Cow::Owned(s)
}

/// go-yaml v3's resolver for plain scalars, as seen after a decode to JSON (see
/// [`Schema::Core`]). Infinities and NaN have no JSON form and stay strings.
pub fn resolve_plain_core(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(text.to_owned());
    }
    if let Some(ts) = core_timestamp(text) {
        return Value::String(ts);
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(v) = go_parse_int(&plain) {
        return v;
    }
    if is_float_syntax(plain.trim_start_matches(['-', '+']))
        && let Ok(f) = plain.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let u = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if u <= i64::MAX as u64 {
            return Some(Value::Number(Number::from(-(u as i64))));
        }
        if u == i64::MAX as u64 + 1 {
            return Some(Value::Number(Number::from(i64::MIN)));
        }
        return None;
    }
    Some(Value::Number(Number::from(u)))
}

/// go-yaml v3 timestamps (`2006-1-2`, `2006-1-2T15:4:5Z`), rendered as Go's `time.Time`
/// marshals to JSON (RFC 3339). Forms with other zones or fractions stay strings.
fn core_timestamp(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |s: &str, max: u32| -> Option<u32> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok().filter(|v| *v <= max)
    };
    let (m, d) = (num(m, 12)?, num(d, 31)?);
    if m == 0 || d == 0 {
        return None;
    }
    let (hh, mm, ss) = match time {
        None => (0, 0, 0),
        Some(t) => {
            let t = t.strip_suffix('Z')?;
            let mut p = t.split(':');
            let r = (
                num(p.next()?, 23)?,
                num(p.next()?, 59)?,
                num(p.next()?, 59)?,
            );
            if p.next().is_some() {
                return None;
            }
            r
        }
    };
    Some(format!("{y}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"))
}

/// go-yaml v2's resolver (as used by sigs.k8s.io/yaml) for plain scalars.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    let first = text.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.'))
        && let Some(v) = resolve_number(text)
    {
        return v;
    }
    Value::String(text.to_owned())
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

fn resolve_number(text: &str) -> Option<Value> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let int = if let Some(hex) = clean.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = clean.strip_prefix("0b") {
        u64::from_str_radix(bin, 2).ok()
    } else if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|c| c.is_ascii_digit())
    {
        u64::from_str_radix(&clean[1..], 8).ok()
    } else if clean.bytes().all(|c| c.is_ascii_digit()) {
        clean.parse::<u64>().ok()
    } else {
        None
    };
    if let Some(u) = int {
        if neg {
            if u <= i64::MAX as u64 {
                return Some(Value::Number(Number::from(-(u as i64))));
            }
            if u == i64::MAX as u64 + 1 {
                return Some(Value::Number(Number::from(i64::MIN)));
            }
            return None;
        }
        return Some(Value::Number(Number::from(u)));
    }
    // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? ; `.inf`/`.nan` have no
    // JSON form and stay strings.
    if body.contains('_') || !is_float_syntax(body) {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

fn is_float_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let docs = load_documents(text, &Limits::default()).expect("loads");
        docs[0].value.clone()
    }

    #[test]
    fn scalars_resolve_like_go_yaml_v2() {
        assert_eq!(
            one(
                "a: yes\nb: off\nc: ~\nd: 0777\ne: 1_000\nf: 1.5\ng: '1'\nh: 0x1F\ni: .inf\nj: -3\nk: y"
            ),
            json!({"a": true, "b": false, "c": null, "d": 511, "e": 1000, "f": 1.5, "g": "1",
                   "h": 31, "i": ".inf", "j": -3, "k": true})
        );
    }

    fn core(text: &str) -> Value {
        let opts = Options {
            schema: Schema::Core,
            ..Options::default()
        };
        load_documents_with(text, &opts).expect("loads")[0]
            .value
            .clone()
    }

    /// go-yaml v3 resolve.go (read by kyaml, so by kustomize): only true/false spellings are
    /// booleans, keys stay text, `0777` is still octal, dates become time.Time.
    #[test]
    fn scalars_resolve_like_go_yaml_v3() {
        assert_eq!(
            core(
                "a: yes\nb: off\nc: ~\nd: 0777\ne: 1_000\nf: 1.5\ng: '1'\nh: 0x1F\ni: .inf\nj: -3\nk: y\nl: True\nm: 0o17\nn: 2020-01-02\no: 08\ny: 1\np: !!str 12\nq: 12345678901234567890"
            ),
            json!({"a": "yes", "b": "off", "c": null, "d": 511, "e": 1000, "f": 1.5, "g": "1",
                   "h": 31, "i": ".inf", "j": -3, "k": "y", "l": true, "m": 15,
                   "n": "2020-01-02T00:00:00Z", "o": 8.0, "y": 1, "p": "12",
                   "q": 12345678901234567890u64})
        );
        let opts = Options {
            last_key_wins: true,
            ..Options::default()
        };
        let docs = load_documents_with("a: 1\nb: 2\na: 3\n", &opts).expect("loads");
        assert_eq!(docs[0].value, json!({"a": 3, "b": 2}));
        // the default stays go-yaml v2
        assert_eq!(one("a: yes"), json!({"a": true}));
    }

    #[test]
    fn positions_are_one_based() {
        let docs = load_documents("a:\n  b: [1, 2]\n", &Limits::default()).expect("loads");
        let d = &docs[0];
        let (pos, found) = d
            .root
            .locate(&d.value, [Step::Key("a"), Step::Key("b"), Step::Index(1)]);
        assert!(found);
        assert_eq!(pos, Pos { line: 2, col: 10 });
        let (pos, found) = d.root.locate(&d.value, [Step::Key("a"), Step::Key("zz")]);
        assert!(!found);
        assert_eq!(pos, Pos { line: 1, col: 1 });
    }

    #[test]
    fn folded_scalars_reencode_like_go_yaml_v3() {
        // outputs of kubectl kustomize v5.5.0 on folded data values (see
        // sluice-kustomize tests/realworld_classes.rs for the differential test)
        for (read, back) in [
            ("p q\n  r\n  s\nt", "p q\n\n  r\n  s\nt"),
            ("x\n", "x\n"),
            (" lead\na b\nc\n", " lead\na b c\n"),
            ("a\n  b\n\n", "a\n\n  b\n\n"),
            ("plain words", "plain words"),
            ("a\nb", "a\nb"),
            ("trailing \n  x", "trailing \n  x"),
        ] {
            assert_eq!(go_v3_folded_reencode(read), back, "{read:?}");
        }
    }

    #[test]
    fn multi_document_streams() {
        let docs =
            load_documents("a: 1\n---\n---\nb: 2\n...\n", &Limits::default()).expect("loads");
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].value, Value::Null);
        assert_eq!(docs[2].value, json!({"b": 2}));
    }

    #[test]
    fn merge_keys_and_aliases() {
        let v = one("base: &b {p: 1, q: 2}\nd:\n  <<: *b\n  q: 3\n  '<<': 4\n");
        assert_eq!(v["d"], json!({"q": 3, "<<": 4, "p": 1}));
        // go-yaml v2 resolves a plain `y` key to the boolean true, which becomes "true"
        assert_eq!(one("y: 1"), json!({"true": 1}));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = load_documents("a: 1\nb: 2\na: 3\n", &Limits::default()).unwrap_err();
        assert_eq!(
            e,
            LoadError::DuplicateKey {
                pos: Pos { line: 3, col: 1 },
                key: "a".into(),
                first_line: 1
            }
        );
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            s.push_str(&format!("{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = n;
        }
        let e = load_documents(&s, &Limits::default()).unwrap_err();
        assert!(matches!(e, LoadError::AliasLimit { .. }), "{e}");
    }

    #[test]
    fn depth_limit() {
        let s = "[".repeat(1000) + &"]".repeat(1000);
        let e = load_documents(&s, &Limits::default()).unwrap_err();
        assert!(matches!(e, LoadError::DepthLimit { .. }), "{e}");
    }

    #[test]
    fn document_size_limit() {
        let limits = Limits {
            max_document_chars: 100,
            ..Limits::default()
        };
        let s = format!("a: {}\n", "x".repeat(200));
        let e = load_documents(&s, &limits).unwrap_err();
        assert!(matches!(e, LoadError::DocumentTooLarge { .. }), "{e}");
        // the limit is per document
        let s = "a: 1\n---\n".repeat(50);
        assert!(load_documents(&s, &limits).is_ok());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = load_documents("a: [1, 2\nb: 3\n", &Limits::default()).unwrap_err();
        assert!(matches!(e, LoadError::Syntax { .. }));
        assert!(e.pos().line >= 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(s in "\\PC{0,200}") {
            let _ = load_documents(&s, &Limits::default());
        }

        #[test]
        fn never_panics_on_yaml_like_text(
            s in "([a-z]{1,3}|: |- |\\n|  |&a |\\*a |<<|\\[|\\]|\\{|\\}|,|'|\"|#|---\\n|\\|\\n|>\\n|!!str |\\? ){0,80}"
        ) {
            if let Ok(docs) = load_documents(&s, &Limits::default()) {
                for d in docs {
                    let _ = d.root.locate(&d.value, [Step::Key("a"), Step::Index(0)]);
                }
            }
        }
    }

    #[test]
    fn flow_collections_ignore_indentation_like_go_yaml() {
        // tektoncd/pipeline examples/v1/taskruns/array-default.yaml closes `args: [` with a
        // `]` under the key; go-yaml accepts it.
        let text = "spec:\n  args: [\n    \"a\",\n  ]\n  x: {\n  k: v}\n";
        let docs = load_documents(text, &Limits::default()).expect("loads");
        assert_eq!(
            docs[0].value,
            json!({"spec": {"args": ["a"], "x": {"k": "v"}}})
        );
        let d = &docs[0];
        let (pos, _) = d.root.locate(
            &d.value,
            [Step::Key("spec"), Step::Key("x"), Step::Key("k")],
        );
        assert_eq!(pos, Pos { line: 6, col: 3 }, "columns as written");
        // outside flow collections indentation still matters
        assert!(load_documents("a:\n  b: 1\n c: 2\n", &Limits::default()).is_err());
    }

    #[test]
    fn json_loads() {
        assert_eq!(
            one(r#"{"a": [1, "b", true, null]}"#),
            json!({"a": [1, "b", true, null]})
        );
    }
}

/// Where a position inside a string value lands in the source text: `key_pos` is where the
/// value's key is written (what [`Node::locate`] returns for it), `inner` a 1-based line and
/// column inside the string (an embedded script or document). Exact for literal block
/// scalars (`|`, `|-`, `|+`, `|2`) and for the first line of a one-line plain or quoted
/// scalar (escapes aside); otherwise, and when the text does not have the key where
/// `key_pos` says, the key's position.
pub fn inner_pos(text: &str, key_pos: Pos, inner: Pos) -> Pos {
    inner_pos_opt(text, key_pos, inner).unwrap_or(key_pos)
}

fn inner_pos_opt(text: &str, key_pos: Pos, inner: Pos) -> Option<Pos> {
    let key_line = usize::try_from(key_pos.line).ok()?.checked_sub(1)?;
    let mut lines = text.lines().skip(key_line);
    let line: Vec<char> = lines.next()?.chars().collect();
    let mut i = usize::try_from(key_pos.col).ok()?.checked_sub(1)?;
    // skip the key (quoted or plain) up to its ':'
    match line.get(i) {
        Some(q @ ('"' | '\'')) => {
            let q = *q;
            i += 1;
            while i < line.len() && line[i] != q {
                i += if line[i] == '\\' && q == '"' { 2 } else { 1 };
            }
            i += 1;
            while i < line.len() && line[i] != ':' {
                i += 1;
            }
        }
        _ => {
            while i < line.len()
                && !(line[i] == ':' && line.get(i + 1).is_none_or(|c| c.is_whitespace()))
            {
                i += 1;
            }
        }
    }
    if line.get(i) != Some(&':') {
        return None;
    }
    i += 1;
    while line.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let col_of = |i: usize| u32::try_from(i + 1).ok();
    let key_indent = line.iter().take_while(|c| **c == ' ').count();
    match line.get(i) {
        Some('|') => {
            let mut explicit = None;
            for c in line[i + 1..].iter().take_while(|c| !c.is_whitespace()) {
                if let Some(d) = c.to_digit(10) {
                    explicit = Some(d as usize);
                }
            }
            let indent = match explicit {
                Some(d) => key_indent + d,
                None => lines
                    .find(|l| !l.trim().is_empty())?
                    .chars()
                    .take_while(|c| *c == ' ')
                    .count(),
            };
            Some(Pos {
                line: key_pos.line.checked_add(inner.line)?,
                col: u32::try_from(indent).ok()?.checked_add(inner.col)?,
            })
        }
        Some('>') | None => None,
        Some(q @ ('"' | '\'')) if inner.line == 1 => {
            let _ = q;
            Some(Pos {
                line: key_pos.line,
                col: col_of(i + 1)?.checked_add(inner.col.checked_sub(1)?)?,
            })
        }
        Some(_) if inner.line == 1 => Some(Pos {
            line: key_pos.line,
            col: col_of(i)?.checked_add(inner.col.checked_sub(1)?)?,
        }),
        Some(_) => None,
    }
}

#[cfg(test)]
mod inner_pos_tests {
    use super::*;

    #[test]
    fn positions_inside_scalars() {
        let text = "data:\n  script: |\n    line one\n      two\n  one: \"abc\"\n  plain: xyz\n  'q:k': |2\n     x\n";
        let p = |line, col| Pos { line, col };
        assert_eq!(inner_pos(text, p(2, 3), p(1, 1)), p(3, 5));
        assert_eq!(inner_pos(text, p(2, 3), p(2, 3)), p(4, 7));
        assert_eq!(inner_pos(text, p(5, 3), p(1, 2)), p(5, 10));
        assert_eq!(inner_pos(text, p(6, 3), p(1, 3)), p(6, 12));
        assert_eq!(inner_pos(text, p(7, 3), p(1, 2)), p(8, 6));
        // a key that is not there: the key's position
        assert_eq!(inner_pos(text, p(1, 9), p(1, 1)), p(1, 9));
        assert_eq!(inner_pos(text, p(99, 1), p(1, 1)), p(99, 1));
    }
}
