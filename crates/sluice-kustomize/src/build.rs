//! `kustomize build`: accumulate resources, run generators and transformers, fix name
//! references, sort and print (kustomize api/internal/target/kusttarget.go).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sluice_core::yaml::{Options as LoadOptions, Pos, Schema, load_documents_with};

use crate::config::TransformerConfig;
use crate::emit::to_yaml;
use crate::error::Error;
use crate::fieldspec::{self, FieldSpec};
use crate::fs::{FileSystem, clean};
use crate::hash::{base64, name_hash};
use crate::patch::{
    is_builtin_group, json_patch, schema_for, strategic_merge, strategic_merge_schema,
};
use crate::refvar::{Var, merge_set, merge_vars, resolve_vars};
use crate::resource::cluster_scoped;
use crate::resource::{Resource, Seg, effective_ns, id_string, split_api_version};

/// `--load-restrictor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadRestrictor {
    /// Files must be inside the kustomization's directory (the default).
    #[default]
    RootOnly,
    None,
}

/// Build options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub load_restrictor: LoadRestrictor,
    /// `--enable-helm`: inflate `helmCharts` (crate::helm) instead of refusing them.
    pub helm: bool,
}

/// A successful build: the YAML stream and the warnings kustomize prints on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub yaml: String,
    pub warnings: Vec<String>,
}

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// kustomize's build annotations (api/konfig: `OriginAnnotationKey`,
/// `TransformerAnnotationKey`).
const ORIGIN_KEY: &str = "config.kubernetes.io/origin";
const TRANSFORMATIONS_KEY: &str = "alpha.config.kubernetes.io/transformations";

/// An origin as kyaml marshals `resource.Origin` for a plugin configured in `configured_in`:
/// `configuredBy` is the config's apiVersion, kind, name and namespace (empty ones left out).
fn plugin_origin(
    configured_in: &str,
    api_version: &str,
    kind: &str,
    name: &str,
    ns: &str,
) -> String {
    let mut o = String::new();
    if !configured_in.is_empty() {
        o.push_str(&format!("configuredIn: {configured_in}\n"));
    }
    o.push_str(&format!(
        "configuredBy:\n  apiVersion: {api_version}\n  kind: {kind}\n"
    ));
    if !name.is_empty() {
        o.push_str(&format!("  name: {name}\n"));
    }
    if !ns.is_empty() {
        o.push_str(&format!("  namespace: {ns}\n"));
    }
    o
}

/// resource.OriginFromCustomPlugin: a plugin config read from `path` as the origin of what
/// it makes or changes.
fn custom_plugin_origin(c: &Value, path: &str) -> String {
    let meta = c.get("metadata").cloned().unwrap_or(Value::Null);
    plugin_origin(
        path,
        str_field(c, "apiVersion"),
        str_field(c, "kind"),
        str_field(&meta, "name"),
        str_field(&meta, "namespace"),
    )
}

/// resWrangler.AddTransformerAnnotation, run after each transformer when origins are
/// tracked: a resource without an origin takes the transformer's as its origin (the
/// transformer is taken to have made it), the others add it to their transformations.
fn mark_transformed(ra: &mut [Resource], origin: &str) {
    for r in ra.iter_mut() {
        if r.origin.is_none() {
            r.origin = Some(origin.to_owned());
            continue;
        }
        let list = r.transformations.get_or_insert_with(String::new);
        for (i, line) in origin.lines().enumerate() {
            list.push_str(if i == 0 { "- " } else { "  " });
            list.push_str(line);
            list.push('\n');
        }
    }
}

const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "crds",
    "sortOptions",
    "buildMetadata",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "openapi",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "imageTags",
];

/// Field names of the structs inside a kustomization (api/types, v5.5.0), for Go's
/// case-insensitive JSON field matching at every level.
const NESTED_FIELDS: &[&str] = &[
    // ObjectMeta, Image, Replica, Label, FieldSpec, Patch, Selector, PatchTarget
    "name",
    "namespace",
    "labels",
    "annotations",
    "newName",
    "newTag",
    "tagSuffix",
    "digest",
    "count",
    "pairs",
    "includeSelectors",
    "includeTemplates",
    "fields",
    "group",
    "version",
    "kind",
    "path",
    "create",
    "patch",
    "target",
    "options",
    "labelSelector",
    "annotationSelector",
    // generators and GeneratorOptions
    "behavior",
    "files",
    "literals",
    "envs",
    "env",
    "type",
    "disableNameSuffixHash",
    "immutable",
    // Replacement, SourceSelector, TargetSelector, FieldOptions
    "source",
    "targets",
    "fieldPath",
    "select",
    "reject",
    "fieldPaths",
    "delimiter",
    "index",
    "encoding",
    // Var, Target, FieldSelector (whose tag is `fieldpath`)
    "objref",
    "fieldref",
    "apiVersion",
    // SortOptions
    "order",
    "legacySortOptions",
    "orderFirst",
    "orderLast",
];

/// Keys whose values are free-form maps, left as written (`options` of a patch is a
/// map of flags; of a generator or replacement, a struct).
const FREE_FORM: &[&str] = &[
    "commonLabels",
    "commonAnnotations",
    "labels",
    "annotations",
    "pairs",
    "openapi",
    "valuesInline",
];

/// Renames keys written in another case to their field's spelling, as Go's encoding/json
/// (which kustomize decodes kustomizations with) matches them: an exact match first, else a
/// case-insensitive one. `in_fieldref`: inside a var's `fieldref` the field is `fieldpath`.
fn canonicalize_fields(v: &mut Value, in_fieldref: bool) {
    match v {
        Value::Object(m) => {
            let taken = std::mem::take(m);
            for (k, mut x) in taken {
                let canon = if in_fieldref && k.eq_ignore_ascii_case("fieldpath") {
                    "fieldpath".to_owned()
                } else if NESTED_FIELDS.contains(&k.as_str()) {
                    k
                } else {
                    NESTED_FIELDS
                        .iter()
                        .find(|f| f.eq_ignore_ascii_case(&k))
                        .map_or(k, |f| (*f).to_owned())
                };
                if !(FREE_FORM.contains(&canon.as_str()) && x.is_object()) {
                    canonicalize_fields(&mut x, canon == "fieldref");
                }
                if !m.contains_key(&canon) {
                    m.insert(canon, x);
                }
            }
        }
        Value::Array(items) => {
            for x in items {
                canonicalize_fields(x, false);
            }
        }
        _ => {}
    }
}

/// Builds the kustomization in `dir`.
pub fn build(fs: &dyn FileSystem, dir: &Path, options: &Options) -> Result<Output, Error> {
    let mut b = Builder {
        fs,
        options: *options,
        warnings: Vec::new(),
        stack: Vec::new(),
        origins: false,
        print_origins: false,
        print_transformations: false,
        generator_origin: None,
        rel: PathBuf::new(),
        openapi: None,
        folded: Default::default(),
    };
    let dir = fs.canonicalize(dir).map_err(|e| Error::Root {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut resources = Vec::new();
    let mut acc = Acc::default();
    let k = b.accumulate(&dir, &mut resources, &mut acc, false)?;
    finish(&mut resources, &k, &acc)?;
    if strings(&k, "buildMetadata")
        .iter()
        .any(|s| s == "managedByLabel")
    {
        // kubectl's embedded kustomize reports its version as "(devel)"
        let specs = [FieldSpec::new(None, None, "metadata/labels", true)];
        let pairs = [(
            "app.kubernetes.io/managed-by".to_owned(),
            "kustomize-(devel)".to_owned(),
        )];
        set_pairs(&mut resources, &specs, &pairs);
    }
    let mut yaml = String::new();
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            yaml.push_str("---\n");
        }
        yaml.push_str(&to_yaml(&output_value(
            r,
            b.print_origins,
            b.print_transformations,
        )));
    }
    Ok(Output {
        yaml,
        warnings: b.warnings,
    })
}

/// The value printed: annotations are strings (kustomize rewrites them as a string map).
/// The origin and transformations annotations are kept during the build whenever
/// `buildMetadata` is set and removed at the end unless asked for (krusty's
/// `RemoveOriginAnnotations`/`RemoveTransformerAnnotations`).
fn output_value(r: &Resource, origins: bool, transformations: bool) -> Value {
    let mut obj = r.obj.clone();
    let build_annotations = [
        (ORIGIN_KEY, r.origin.as_ref().filter(|_| origins)),
        (
            TRANSFORMATIONS_KEY,
            r.transformations.as_ref().filter(|_| transformations),
        ),
    ];
    for (key, o) in build_annotations {
        let Some(o) = o else { continue };
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            let ann = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if ann.is_null() {
                *ann = Value::Object(Map::new());
            }
            if let Value::Object(ann) = ann {
                ann.insert(key.into(), Value::String(o.clone()));
            }
        }
    }
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        match meta.get_mut("annotations") {
            Some(Value::Object(ann)) if !ann.is_empty() => {
                for v in ann.values_mut() {
                    if !v.is_string() {
                        *v = Value::String(scalar_text(v));
                    }
                }
            }
            Some(_) => {
                meta.shift_remove("annotations");
            }
            None => {}
        }
    }
    Value::Object(obj)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => crate::emit::format_number(n),
        other => other.to_string(),
    }
}

/// What a kustomization passes up besides its resources: the transformer configuration
/// and the vars (api/internal/accumulator/resaccumulator.go).
#[derive(Debug, Default)]
struct Acc {
    config: TransformerConfig,
    vars: Vec<Var>,
}

struct Builder<'f> {
    fs: &'f dyn FileSystem,
    options: Options,
    warnings: Vec<String>,
    stack: Vec<PathBuf>,
    /// Any `buildMetadata` at the top: origins are tracked (kusttarget.go sets `kt.origin`
    /// when BuildMetadata is not empty), and transformers record themselves.
    origins: bool,
    /// `originAnnotations` / `transformerAnnotations`: print what `origins` tracks.
    print_origins: bool,
    print_transformations: bool,
    /// The origin of what a `generators:` plugin config makes (its config's origin).
    generator_origin: Option<String>,
    /// The current kustomization's directory as reached from the top (for origins).
    rel: PathBuf,
    /// Custom OpenAPI definitions (`openapi: {path: ...}`); like kyaml's global schema, once
    /// set they stay for the rest of the build.
    openapi: Option<Definitions>,
    /// Folded scalars of the resources read: the value as kio reads it back (see
    /// `sluice_core::yaml::Options::reencode_folded`) -> the value first read. A merging
    /// generator rebuilds the data it keeps from strings (`SetDataMap`), which are printed
    /// from the value first read.
    folded: std::cell::RefCell<std::collections::HashMap<String, String>>,
}

type Kustomization = Map<String, Value>;

fn strings(k: &Kustomization, field: &str) -> Vec<String> {
    match k.get(field) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(scalar_text(other)),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn string_map(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect(),
        _ => Vec::new(),
    }
}

fn str_field<'a>(m: &'a Value, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or_default()
}

impl Builder<'_> {
    fn read(&self, path: &Path) -> Result<Vec<u8>, Error> {
        self.fs.read(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        })
    }

    fn read_text(&self, path: &Path) -> Result<String, Error> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|_| Error::NotText(path.to_path_buf()))
    }

    /// Resolves a file named in the kustomization in `root`, enforcing the load restrictor
    /// as kustomize's `RestrictionRootOnly`: the path is cleaned, then its symlinks
    /// resolved, and the result must be in or below `root` (itself resolved). Every file a
    /// build reads besides the kustomization file comes through here.
    fn file_in(&self, root: &Path, rel: &str) -> Result<PathBuf, Error> {
        let joined = clean(&root.join(rel));
        if self.options.load_restrictor == LoadRestrictor::RootOnly {
            let real = self.fs.canonicalize(&joined).map_err(|e| Error::Read {
                path: joined.clone(),
                source: e,
            })?;
            if !real.starts_with(root) {
                // kustomize names the path as written, not where its links lead
                return Err(Error::Restricted {
                    file: joined,
                    root: root.to_path_buf(),
                });
            }
            return Ok(real);
        }
        Ok(joined)
    }

    /// Whether `dir`'s kustomization file `name` counts: kustomize's `LoadKustFile` reads
    /// each recognized name through the loader, so one that is a directory, or a symlink
    /// leading out of the root under the default restrictor, is not found.
    fn kustomization_file_counts(&self, dir: &Path, name: &str) -> bool {
        let p = dir.join(name);
        if !self.fs.exists(&p) || self.fs.is_dir(&p) {
            return false;
        }
        self.options.load_restrictor == LoadRestrictor::None
            || self
                .fs
                .canonicalize(&p)
                .is_ok_and(|real| real.starts_with(dir))
    }

    fn load_kustomization(&mut self, dir: &Path) -> Result<Kustomization, Error> {
        let found: Vec<&&str> = KUSTOMIZATION_FILES
            .iter()
            .filter(|f| self.kustomization_file_counts(dir, f))
            .collect();
        let file = match found.as_slice() {
            [] => return Err(Error::NoKustomization(dir.to_path_buf())),
            [one] => dir.join(one),
            _ => return Err(Error::MultipleKustomizations(dir.to_path_buf())),
        };
        let text = self.read_text(&file)?;
        let opts = LoadOptions {
            schema: Schema::Core,
            last_key_wins: true,
            ..LoadOptions::default()
        };
        let docs = load_documents_with(&text, &opts).map_err(|e| Error::Yaml {
            path: file.clone(),
            source: e,
        })?;
        let value = docs.into_iter().next().map_or(Value::Null, |d| d.value);
        let k = match value {
            // Go's encoding/json matches field names case-insensitively
            Value::Object(m) => m
                .into_iter()
                .map(|(key, mut v)| {
                    let known = if KNOWN_FIELDS.contains(&key.as_str()) {
                        key
                    } else {
                        KNOWN_FIELDS
                            .iter()
                            .find(|f| f.eq_ignore_ascii_case(&key))
                            .map_or(key, |f| (*f).to_owned())
                    };
                    if !(FREE_FORM.contains(&known.as_str()) && v.is_object()) {
                        canonicalize_fields(&mut v, false);
                    }
                    (known, v)
                })
                .collect(),
            Value::Null => Map::new(),
            _ => {
                return Err(Error::Invalid {
                    path: file,
                    message: "a kustomization must be a mapping".into(),
                });
            }
        };
        for key in k.keys() {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                return Err(Error::Invalid {
                    path: file,
                    message: format!("invalid Kustomization: json: unknown field \"{key}\""),
                });
            }
        }
        // kustomize prints these in alphabetical order of the field, for fields that
        // decode to something (`bases:` with no value does not count)
        for (field, instead, extra) in [
            ("bases", "resources", ""),
            ("commonLabels", "labels", ""),
            ("imageTags", "images", ""),
            ("patchesJson6902", "patches", ""),
            ("patchesStrategicMerge", "patches", ""),
            ("vars", "replacements", " [EXPERIMENTAL]"),
        ] {
            if k.get(field).is_some_and(|v| !v.is_null()) {
                self.warnings.push(format!(
                    "# Warning: '{field}' is deprecated. Please use '{instead}' instead.{extra} Run 'kustomize edit fix' to update your Kustomization automatically."
                ));
            }
        }
        // `Kustomization.CheckEmpty`: nothing but the type decodes to a non-zero value (an
        // empty list or mapping does count, as a non-nil Go slice or map)
        let zero =
            |v: &Value| matches!(v, Value::Null | Value::Bool(false)) || v.as_str() == Some("");
        if k.iter()
            .all(|(key, v)| key == "apiVersion" || key == "kind" || zero(v))
        {
            return Err(Error::Empty(dir.to_path_buf()));
        }
        // `Kustomization.EnforceFields`
        let kind = k.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !kind.is_empty() && kind != "Kustomization" && kind != "Component" {
            return Err(Error::other(format!(
                "Failed to read kustomization file under {}:\nkind should be Kustomization or Component",
                dir.display()
            )));
        }
        for unsupported in ["helmCharts"] {
            if k.get(unsupported)
                .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                if unsupported == "helmCharts" && self.options.helm {
                    continue;
                }
                return Err(Error::Unsupported {
                    what: format!("'{unsupported}' (plugins and Helm)"),
                    detail: if unsupported == "helmCharts" {
                        format!(
                            "{} (Helm charts are inflated with --enable-helm)",
                            file.display()
                        )
                    } else {
                        format!("{}", file.display())
                    },
                });
            }
        }
        Ok(k)
    }

    /// Accumulates the kustomization in `dir` into `ra`; returns the kustomization.
    fn accumulate(
        &mut self,
        dir: &Path,
        ra: &mut Vec<Resource>,
        acc: &mut Acc,
        component: bool,
    ) -> Result<Kustomization, Error> {
        if let Some(from) = self.stack.last()
            && self.stack.iter().any(|d| d == dir)
        {
            return Err(Error::Cycle {
                again: dir.to_path_buf(),
                from: from.clone(),
            });
        }
        self.stack.push(dir.to_path_buf());
        let k = self.load_kustomization(dir)?;
        if self.stack.len() == 1 {
            // the top's buildMetadata governs the whole build (kusttarget.go
            // accumulateDirectory copies it into every sub-kustomization)
            for m in strings(&k, "buildMetadata") {
                self.origins = true;
                match m.as_str() {
                    "originAnnotations" => self.print_origins = true,
                    "transformerAnnotations" => self.print_transformations = true,
                    "managedByLabel" => {}
                    other => {
                        return Err(Error::Unsupported {
                            what: format!("buildMetadata {other}"),
                            detail: dir.display().to_string(),
                        });
                    }
                }
            }
        }
        let kind = k.get("kind").and_then(Value::as_str).unwrap_or_default();
        // a Component built as the root is built like a Kustomization (kusttarget.go checks
        // the kind only of directories it accumulates)
        if kind == "Component" && !component && self.stack.len() > 1 {
            return Err(Error::other(format!(
                "accumulating resources: accumulation err='accumulating resources from '{}': expected kind != 'Component' for path '{}'",
                dir.display(),
                dir.display()
            )));
        }
        let mut res = strings(&k, "resources");
        res.extend(strings(&k, "bases"));
        for r in res {
            self.accumulate_resource(dir, &r, ra, acc)?;
        }
        check_unique(ra)?;
        if let Some(p) = k
            .get("openapi")
            .and_then(|o| o.get("path"))
            .and_then(Value::as_str)
        {
            let path = self.file_in(dir, p)?;
            let text = self.read_text(&path)?;
            let doc = load(&text, &path)?
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            if let Some(Value::Object(defs)) = doc.get("definitions") {
                self.openapi = Some(defs.clone());
            }
        }
        for c in strings(&k, "configurations") {
            let path = self.file_in(dir, &c)?;
            let text = self.read_text(&path)?;
            for doc in load(&text, &path)? {
                acc.config.merge(&TransformerConfig::from_value(&doc));
            }
        }
        for c in strings(&k, "crds") {
            let path = self.file_in(dir, &c)?;
            let text = self.read_text(&path)?;
            for doc in load(&text, &path)? {
                acc.config
                    .merge(&TransformerConfig::from_crd_definitions(&doc));
            }
        }
        self.generate(dir, &k, ra)?;
        if self.options.helm {
            let restrict = self.options.load_restrictor == LoadRestrictor::RootOnly;
            for inflated in crate::helm::inflate(self.fs, dir, &k, restrict)? {
                for obj in self.objects_from_text(&inflated.text, &inflated.source)? {
                    if inflated.keeps(&obj) {
                        append(ra, Resource::new(obj))?;
                    }
                }
            }
        }
        for (g, origin) in self.plugin_configs(dir, &k, "generators")? {
            // resource.OriginFromCustomPlugin: what it makes comes from the config
            self.generator_origin = origin.map(|path| custom_plugin_origin(&g, &path));
            let res = self.run_generator(dir, &g, ra);
            self.generator_origin = None;
            res?;
        }
        // kustomize v5.5 accumulates components after the generators, before the transformers
        // (kusttarget.go accumulateTarget; kubernetes-sigs/kustomize#5170): a component's
        // transformers see the parent's generated objects, and its generators may merge into them.
        for c in strings(&k, "components") {
            if c.contains("://") || c.starts_with("github.com/") {
                return Err(Error::Unsupported {
                    what: "remote components".into(),
                    detail: c,
                });
            }
            let p = clean(&dir.join(&c));
            let p = self.fs.canonicalize(&p).map_err(|e| Error::Read {
                path: p.clone(),
                source: e,
            })?;
            let saved = self.rel.clone();
            self.rel = clean(&saved.join(&c));
            let res = self.accumulate(&p, ra, acc, true);
            self.rel = saved;
            res.map_err(|e| match e {
                // kusttarget.go accumulateComponents
                Error::Empty(ref d) => Error::other(format!(
                    "accumulating components: accumulateDirectory: \"couldn't make target for path '{}': {e}\"",
                    d.display()
                )),
                // accumulateDirectory's "recursed accumulation", quoted by
                // accumulateComponents' `%q`
                Error::Other(m) => Error::Other(format!(
                    "accumulating components: accumulateDirectory: {}",
                    go_quote(&format!(
                        "recursed accumulation of path '{}': {m}",
                        p.display()
                    ))
                )),
                e => e,
            })?;
        }
        let config = acc.config.clone();
        // kusttarget.go runTransformers configures every transformer (the kustomization's
        // and its `transformers:` configs) before it runs any
        let configs = self.plugin_configs(dir, &k, "transformers")?;
        for (c, _) in &configs {
            check_plugin_config(c)?;
        }
        self.transform(dir, &k, ra, &config, true)?;
        for (t, origin) in configs {
            self.run_transformer(dir, &t, ra)?;
            if let Some(path) = origin {
                mark_transformed(ra, &custom_plugin_origin(&t, &path));
            }
        }
        let configs = self.plugin_configs(dir, &k, "validators")?;
        for (c, _) in &configs {
            check_plugin_config(c)?;
        }
        for (v, _) in configs {
            self.run_validator(dir, &v, ra)?;
        }
        if let Some(Value::Array(vars)) = k.get("vars") {
            let vars: Vec<Var> = vars.iter().map(Var::from_value).collect();
            merge_vars(ra, &vars, &mut acc.vars)?;
        }
        self.stack.pop();
        Ok(k)
    }

    fn accumulate_resource(
        &mut self,
        dir: &Path,
        r: &str,
        ra: &mut Vec<Resource>,
        acc: &mut Acc,
    ) -> Result<(), Error> {
        if r.contains("://") || r.starts_with("github.com/") || r.starts_with("git@") {
            return Err(Error::Unsupported {
                what: "remote resources".into(),
                detail: r.to_owned(),
            });
        }
        let joined = clean(&dir.join(r));
        if self.fs.is_dir(&joined) {
            let real = self.fs.canonicalize(&joined).map_err(|e| Error::Read {
                path: joined.clone(),
                source: e,
            })?;
            let mut sub = Vec::new();
            let mut sub_acc = Acc::default();
            let saved = self.rel.clone();
            self.rel = clean(&saved.join(r));
            let res = self.accumulate(&real, &mut sub, &mut sub_acc, false);
            self.rel = saved;
            res.map_err(|e| match e {
                // kusttarget.go accumulateResources: the file attempt's error, then the
                // directory's
                Error::Empty(ref d) => Error::other(format!(
                    "accumulating resources: accumulation err='accumulating resources from '{r}': '{}' must resolve to a file': couldn't make target for path '{}': {e}",
                    d.display(),
                    d.display()
                )),
                e => wrap_accumulation(r, &real, e),
            })?;
            acc.config.merge(&sub_acc.config);
            merge_set(&mut acc.vars, &sub_acc.vars)?;
            for s in sub {
                push_unchecked(ra, s)?;
            }
            return Ok(());
        }
        if !self.fs.exists(&joined) {
            return Err(Error::other(format!(
                "accumulating resources: accumulation err='accumulating resources from '{r}': open {}: no such file or directory': must build at directory: not a valid directory: evalsymlink failure on '{}' : lstat {}: no such file or directory",
                joined.display(),
                joined.display(),
                joined.display()
            )));
        }
        let path = self.file_in(dir, r).map_err(|e| match e {
            // kusttarget.go accumulateResources: the file's error, then the directory's
            Error::Restricted { .. } => Error::other(format!(
                "accumulating resources: accumulation err='accumulating resources from '{r}': {e}': must build at directory: '{}': file is not directory",
                joined.display()
            )),
            e => e,
        })?;
        for obj in self.load_objects(&path)? {
            let mut res = Resource::new(obj);
            if self.origins {
                res.origin = Some(format!("path: {}\n", clean(&self.rel.join(r)).display()));
            }
            push_unchecked(ra, res)?;
        }
        Ok(())
    }

    /// The objects of a resource file (`List` kinds expanded, empty documents skipped).
    fn load_objects(&self, path: &Path) -> Result<Vec<Map<String, Value>>, Error> {
        let text = self.read_text(path)?;
        self.objects_from_text(&text, path)
    }

    /// The objects of YAML text read from `path` (a file, or a chart Helm rendered).
    fn objects_from_text(&self, text: &str, path: &Path) -> Result<Vec<Map<String, Value>>, Error> {
        let text = text.to_owned();
        let mut out = Vec::new();
        let docs = load_docs(&text, path)?;
        if text.contains(": >") || text.contains("- >") {
            let plain = load_with(&text, path, false)?;
            let mut folded = self.folded.borrow_mut();
            for (d, p) in docs.iter().zip(&plain) {
                note_folded(&d.value, p, &mut folded);
            }
        }
        for doc in docs {
            let mut v = doc.value;
            annotations_as_written(&mut v, &doc.root, &text);
            match v {
                Value::Null => {}
                Value::Object(m) => {
                    let kind = m.get("kind").and_then(Value::as_str).unwrap_or_default();
                    let av = m
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if (kind == "Kustomization" || kind == "Component")
                        && (av.is_empty() || av.starts_with("kustomize.config.k8s.io/"))
                    {
                        return Err(Error::Invalid {
                            path: path.to_path_buf(),
                            message: "a kustomization file is not a resource".into(),
                        });
                    }
                    if kind.ends_with("List")
                        && let Some(Value::Array(items)) = m.get("items")
                    {
                        for it in items {
                            if let Value::Object(o) = it {
                                out.push(o.clone());
                            }
                        }
                        continue;
                    }
                    if kind.is_empty() {
                        return Err(Error::Invalid {
                            path: path.to_path_buf(),
                            message: "missing Resource metadata: kind is required".into(),
                        });
                    }
                    out.push(m);
                }
                _ => {
                    return Err(Error::Invalid {
                        path: path.to_path_buf(),
                        message: "a resource must be a mapping".into(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn generate(
        &mut self,
        dir: &Path,
        k: &Kustomization,
        ra: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let global = k.get("generatorOptions").cloned().unwrap_or(Value::Null);
        for (field, kind) in [
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ] {
            let Some(Value::Array(gens)) = k.get(field) else {
                continue;
            };
            for g in gens {
                let mut r = self.generate_one(dir, g, kind, &global, k)?;
                if self.origins {
                    r.origin = Some(match &self.generator_origin {
                        Some(o) => o.clone(),
                        None => plugin_origin(
                            &self.configured_in(dir),
                            "builtin",
                            &format!("{kind}Generator"),
                            "",
                            "",
                        ),
                    });
                }
                let behavior = match g.get("behavior").and_then(Value::as_str) {
                    Some("") | None => "create",
                    Some(b) => b,
                };
                // types.NewGenerationBehavior: any other string is "unspecified", which
                // appendReplaceOrMerge treats as create
                let behavior = match behavior {
                    "merge" | "replace" => behavior,
                    _ => "create",
                };
                // resWrangler.appendReplaceOrMerge: any id the resource had
                // (current or previous name and namespace) equal to the
                // generator's id; `create` must find none
                let want_ns = effective_ns(("", "v1"), kind, r.namespace());
                let found: Vec<usize> = ra
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| {
                        x.kind() == kind
                            && x.group_version() == ("", "v1")
                            && x.had_name(r.name())
                            && (effective_ns(("", "v1"), kind, x.namespace()) == want_ns
                                || x.previous_namespaces
                                    .iter()
                                    .any(|n| effective_ns(("", "v1"), kind, n) == want_ns))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if found.len() > 1 {
                    return Err(Error::other(format!(
                        "found multiple objects that could accept merge of {}",
                        id_string("", "v1", kind, r.name(), r.namespace())
                    )));
                }
                match (found.first(), behavior) {
                    (None, "create") => append(ra, r)?,
                    (None, _) => {
                        return Err(Error::other(format!(
                            "merging from generator {}: id {} does not exist; cannot merge or replace",
                            gen_debug(&r),
                            id_string("", "v1", kind, r.name(), r.namespace())
                        )));
                    }
                    (Some(_), "create") => {
                        return Err(Error::other(format!(
                            "merging from generator {}: id {} exists; behavior must be merge or replace",
                            gen_debug(&r),
                            id_string("", "v1", kind, r.name(), r.namespace())
                        )));
                    }
                    (Some(&i), _) => {
                        merge_generated(&mut ra[i], r, behavior == "replace", &self.folded.borrow())
                    }
                }
            }
        }
        Ok(())
    }

    fn generate_one(
        &self,
        dir: &Path,
        g: &Value,
        kind: &str,
        global: &Value,
        k: &Kustomization,
    ) -> Result<Resource, Error> {
        let name = str_field(g, "name");
        let mut data: Vec<(String, Vec<u8>)> = Vec::new();
        let mut push = |key: String, val: Vec<u8>| -> Result<(), Error> {
            if data.iter().any(|(k, _)| *k == key) {
                return Err(Error::other(format!(
                    "configmap {name} illegally repeats the key `{key}`"
                )));
            }
            data.push((key, val));
            Ok(())
        };
        let mut envs: Vec<String> = sluice_core::json::string_list(g.get("envs"));
        if let Some(e) = g.get("env").and_then(Value::as_str) {
            envs.insert(0, e.to_owned());
        }
        let env_list = format!("[{}]", envs.join(" "));
        for e in envs {
            let path = self
                .file_in(dir, &e)
                .map_err(|err| kv_pairs_error(err, "env source files", &env_list))?;
            let text = self.read_text(&path)?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim_start_matches('\u{feff}');
                let t = line.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                match line.split_once('=') {
                    Some((key, val)) => push(key.trim_start().to_owned(), val.as_bytes().to_vec())?,
                    // a bare key takes its value from the environment, else empty
                    None => {
                        let _ = i;
                        let val = std::env::var(t).unwrap_or_default();
                        push(t.to_owned(), val.into_bytes())?;
                    }
                }
            }
        }
        if let Some(Value::Array(lits)) = g.get("literals") {
            for l in lits {
                let l = scalar_text(l);
                let Some((key, val)) = l.split_once('=') else {
                    return Err(Error::other(format!(
                        "invalid literal source {l}, expected key=value"
                    )));
                };
                let val = strip_quotes(val);
                push(key.to_owned(), val.as_bytes().to_vec())?;
            }
        }
        if let Some(Value::Array(files)) = g.get("files") {
            let list: Vec<String> = files.iter().map(scalar_text).collect();
            let file_list = format!("[{}]", list.join(" "));
            for f in files {
                let f = scalar_text(f);
                let (key, rel) = match f.split_once('=') {
                    Some((k, p)) => (k.to_owned(), p.to_owned()),
                    None => (
                        Path::new(&f)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        f.clone(),
                    ),
                };
                let path = self
                    .file_in(dir, &rel)
                    .map_err(|err| kv_pairs_error(err, "file sources", &file_list))?;
                if self.fs.is_dir(&path) {
                    return Err(Error::Unsupported {
                        what: "directories as generator files".into(),
                        detail: rel,
                    });
                }
                push(key, self.read(&path)?)?;
            }
        }
        let mut obj = Map::new();
        obj.insert("apiVersion".into(), Value::String("v1".into()));
        obj.insert("kind".into(), Value::String(kind.into()));
        let mut meta = Map::new();
        meta.insert("name".into(), Value::String(name.into()));
        let ns = str_field(g, "namespace");
        if !ns.is_empty() {
            meta.insert("namespace".into(), Value::String(ns.into()));
        }
        let opts = g.get("options").cloned().unwrap_or(Value::Null);
        let mut labels = string_map(global.get("labels"));
        labels.extend(string_map(opts.get("labels")));
        let mut anns = string_map(global.get("annotations"));
        anns.extend(string_map(opts.get("annotations")));
        for (field, pairs) in [("labels", labels), ("annotations", anns)] {
            if !pairs.is_empty() {
                let m: Map<String, Value> = pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                meta.insert(field.into(), Value::Object(m));
            }
        }
        obj.insert("metadata".into(), Value::Object(meta));
        let mut dm = Map::new();
        let mut bm = Map::new();
        for (key, val) in data {
            if kind == "Secret" {
                dm.insert(key, Value::String(base64_lines(&val)));
            } else {
                match String::from_utf8(val) {
                    Ok(s) => {
                        dm.insert(key, Value::String(s));
                    }
                    Err(e) => {
                        bm.insert(key, Value::String(base64_lines(e.as_bytes())));
                    }
                }
            }
        }
        if kind == "Secret" {
            let ty = str_field(g, "type");
            obj.insert(
                "type".into(),
                Value::String(if ty.is_empty() { "Opaque" } else { ty }.into()),
            );
        }
        if !dm.is_empty() {
            obj.insert("data".into(), Value::Object(dm));
        }
        if !bm.is_empty() {
            obj.insert("binaryData".into(), Value::Object(bm));
        }
        let immutable = opts
            .get("immutable")
            .or_else(|| global.get("immutable"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if immutable {
            obj.insert("immutable".into(), Value::Bool(true));
        }
        let disable = opts
            .get("disableNameSuffixHash")
            .and_then(Value::as_bool)
            .or_else(|| global.get("disableNameSuffixHash").and_then(Value::as_bool))
            .unwrap_or(false);
        let _ = k;
        let mut r = Resource::new(obj);
        r.needs_hash = !disable;
        r.generated = true;
        Ok(r)
    }

    /// The kustomization file of `dir` as reached from the top (an origin's `configuredIn`).
    fn configured_in(&self, dir: &Path) -> String {
        let file = KUSTOMIZATION_FILES
            .iter()
            .find(|f| self.fs.exists(&dir.join(f)))
            .copied()
            .unwrap_or("kustomization.yaml");
        clean(&self.rel.join(file)).display().to_string()
    }

    /// Runs the kustomization's built-in transformers in kustomize's order
    /// (kusttarget_configplugin.go `configureBuiltinTransformers`). `own`: they are the
    /// kustomization's own fields (each records itself in the transformations when origins
    /// are tracked), not a plugin config run through them.
    fn transform(
        &mut self,
        dir: &Path,
        k: &Kustomization,
        ra: &mut Vec<Resource>,
        config: &TransformerConfig,
        own: bool,
    ) -> Result<(), Error> {
        let origin = |kind: &str| -> Option<String> {
            (own && self.origins)
                .then(|| plugin_origin(&self.configured_in(dir), "builtin", kind, "", ""))
        };
        let mark = |ra: &mut [Resource], o: &Option<String>| {
            if let Some(o) = o {
                mark_transformed(ra, o);
            }
        };
        let psm_origin = origin("PatchStrategicMergeTransformer");
        let patch_origin = origin("PatchTransformer");
        let ns_origin = origin("NamespaceTransformer");
        let prefix_origin = origin("PrefixTransformer");
        let suffix_origin = origin("SuffixTransformer");
        let label_origin = origin("LabelTransformer");
        let ann_origin = origin("AnnotationsTransformer");
        let json_origin = origin("PatchJson6902Transformer");
        let replicas_origin = origin("ReplicaCountTransformer");
        let image_origin = origin("ImageTagTransformer");
        let repl_origin = origin("ReplacementTransformer");
        let openapi = self.openapi.clone();
        let idx = if k.contains_key("patchesStrategicMerge") || k.contains_key("patches") {
            name_index(ra)
        } else {
            NameIndex::new()
        };
        // patchesStrategicMerge
        for p in strings(k, "patchesStrategicMerge") {
            let (text, origin) = if p.contains('\n') || p.contains(": ") {
                (p.clone(), PathBuf::from("<inline patch>"))
            } else {
                let path = self.file_in(dir, &p)?;
                (self.read_text(&path)?, path)
            };
            for doc in load_smp(&text, &origin)? {
                if doc.is_null() {
                    continue;
                }
                // PatchStrategicMergeTransformer reports ResMap.GetById's error as it is
                // (PatchTransformer prefixes "no resource matches strategic merge patch")
                apply_smp_untargeted(ra, &doc, &idx, openapi.as_ref()).map_err(|e| match e {
                    Error::Other(m)
                        if m.starts_with("no resource matches strategic merge patch") =>
                    {
                        match m.split_once("\": ") {
                            Some((_, rest)) => Error::Other(rest.to_owned()),
                            None => Error::Other(m),
                        }
                    }
                    e => e,
                })?;
            }
        }
        if !strings(k, "patchesStrategicMerge").is_empty() {
            mark(ra, &psm_origin);
        }
        // patches
        if let Some(Value::Array(patches)) = k.get("patches") {
            // the ids targets compare, kept up to date as patches change resources
            let mut ids: Vec<SelId> = ra.iter().map(SelId::of).collect();
            for p in patches {
                let config = plugin_config_yaml(
                    p,
                    &[
                        ("path", "path"),
                        ("patch", "patch"),
                        ("target", "target"),
                        ("options", "options"),
                    ],
                );
                let trouble = |cause: String| {
                    Error::other(format!(
                        "trouble configuring builtin PatchTransformer with config: `\n{config}`: {cause}"
                    ))
                };
                let (text, origin) = match (
                    p.get("path")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty()),
                    p.get("patch")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty()),
                ) {
                    (Some(path), None) => {
                        let path = self.file_in(dir, path)?;
                        (self.read_text(&path)?, path)
                    }
                    (None, Some(inline)) => (inline.to_owned(), PathBuf::from("<inline patch>")),
                    (Some(_), Some(_)) => {
                        return Err(trouble(format!(
                            "patch and path can't be set at the same time\n{config}"
                        )));
                    }
                    (None, None) => {
                        return Err(trouble(format!(
                            "must specify one of patch and path in\n{config}"
                        )));
                    }
                };
                let mut docs: Vec<Value> = load(&text, &origin)?
                    .into_iter()
                    .filter(|d| !d.is_null())
                    .collect();
                let target = p.get("target").filter(|t| !t.is_null());
                let is_json = docs.len() == 1 && docs[0].is_array();
                if !is_json && text.contains('>') {
                    docs = load_smp(&text, &origin)?
                        .into_iter()
                        .filter(|d| !d.is_null())
                        .collect();
                } else if !is_json {
                    docs = expand_lists(docs);
                }
                // `[]` reads both as an empty list of objects and as an empty JSON patch
                if docs.len() == 1 && docs[0].as_array().is_some_and(Vec::is_empty) {
                    return Err(trouble(format!(
                        "illegally qualifies as both an SM and JSON patch: {text}"
                    )));
                }
                // a patch object without `kind` or `metadata.name` is not a resource
                // (resource factory `GetValidatedMetadata`), so neither SM nor JSON (seen
                // on a real overlay patching `containers` with `spec:` alone)
                if !is_json && docs.iter().any(|d| d.is_object() && lacks_id(d)) {
                    let source = match (p.get("path").and_then(Value::as_str), p.get("patch")) {
                        (Some(path), _) if !path.is_empty() => {
                            format!("[path: {}]", go_quote(path))
                        }
                        _ => format!("[patch: {}]", go_quote(&text)),
                    };
                    return Err(trouble(format!(
                        "unable to parse SM or JSON patch from {source}"
                    )));
                }
                if is_json {
                    let Some(target) = target else {
                        return Err(Error::Invalid {
                            path: origin,
                            message: "unable to apply patch: a JSON 6902 patch needs a target"
                                .into(),
                        });
                    };
                    let ops = docs[0].as_array().cloned().unwrap_or_default();
                    let sel = Selector::new(target)?;
                    for i in sel.select_indexed(ra, &ids) {
                        json_patch_resource(&mut ra[i], &ops)?;
                        ids[i] = SelId::of(&ra[i]);
                    }
                    mark(ra, &patch_origin);
                    continue;
                }
                for doc in &docs {
                    match target {
                        None => {
                            apply_smp_untargeted(ra, doc, &idx, openapi.as_ref())?;
                            ids = ra.iter().map(SelId::of).collect();
                        }
                        Some(t) => {
                            let sel = Selector::new(t)?;
                            for i in sel.select_indexed(ra, &ids) {
                                apply_smp(&mut ra[i], doc, openapi.as_ref());
                                ids[i] = SelId::of(&ra[i]);
                            }
                        }
                    }
                }
                mark(ra, &patch_origin);
            }
        }
        // a strategic merge patch `$patch: delete` empties its target; empty resources
        // leave the map (resWrangler.ApplySmPatch)
        ra.retain(|r| !r.obj.is_empty());
        // namespace
        if let Some(ns) = k
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            for r in ra.iter_mut() {
                set_namespace(r, ns);
            }
            let mut specs = fieldspec::namespace_defaults();
            specs.extend(config.namespace.iter().cloned());
            set_namespace_fields(ra, &specs, ns)?;
            mark(ra, &ns_origin);
        }
        // prefix / suffix
        let prefix = k
            .get("namePrefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let suffix = k
            .get("nameSuffix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !prefix.is_empty() || !suffix.is_empty() {
            let mut specs = vec![FieldSpec::new(None, None, "metadata/name", false)];
            specs.extend(config.name_prefix.iter().cloned());
            prefix_suffix(ra, prefix, suffix, &specs);
            if !prefix.is_empty() {
                mark(ra, &prefix_origin);
            }
            if !suffix.is_empty() {
                mark(ra, &suffix_origin);
            }
        }
        // labels
        if let Some(Value::Array(labels)) = k.get("labels") {
            for l in labels {
                let pairs = string_map(l.get("pairs"));
                let mut specs: Vec<FieldSpec> = l
                    .get("fields")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(FieldSpec::from_value).collect())
                    .unwrap_or_default();
                if l.get("includeSelectors").and_then(Value::as_bool) == Some(true) {
                    specs.extend(fieldspec::common_labels());
                    specs.extend(config.common_labels.iter().cloned());
                } else {
                    if l.get("includeTemplates").and_then(Value::as_bool) == Some(true) {
                        specs.extend(fieldspec::template_labels());
                        // kustomize v5 merges the StatefulSet claim templates' labels too
                        // (builtinpluginconsts volumeClaimTemplatesMetadataLabels).
                        specs.push(FieldSpec::new(
                            Some("StatefulSet"),
                            Some("apps"),
                            "spec/volumeClaimTemplates[]/metadata/labels",
                            true,
                        ));
                        specs.extend(config.template_labels.iter().cloned());
                    }
                    specs.push(FieldSpec::new(None, None, "metadata/labels", true));
                }
                set_pairs(ra, &specs, &pairs);
                mark(ra, &label_origin);
            }
        }
        let common = string_map(k.get("commonLabels"));
        if !common.is_empty() {
            let mut specs = fieldspec::common_labels();
            specs.extend(config.common_labels.iter().cloned());
            set_pairs(ra, &specs, &common);
        }
        // one LabelTransformer for commonLabels, configured whenever `labels` or
        // `commonLabels` has anything
        if !common.is_empty()
            || k.get("labels")
                .and_then(Value::as_array)
                .is_some_and(|l| !l.is_empty())
        {
            mark(ra, &label_origin);
        }
        let anns = string_map(k.get("commonAnnotations"));
        if !anns.is_empty() {
            let mut specs = fieldspec::common_annotations();
            specs.extend(config.common_annotations.iter().cloned());
            set_pairs(ra, &specs, &anns);
            mark(ra, &ann_origin);
        }
        // patchesJson6902
        if let Some(Value::Array(patches)) = k.get("patchesJson6902") {
            for p in patches {
                let text = match (
                    p.get("path").and_then(Value::as_str),
                    p.get("patch").and_then(Value::as_str),
                ) {
                    (Some(path), _) => {
                        let path = self.file_in(dir, path)?;
                        self.read_text(&path)?
                    }
                    (None, Some(inline)) => inline.to_owned(),
                    (None, None) => return Err(Error::other("must specify one of patch and path")),
                };
                let ops = load(&text, Path::new("<patch>"))?
                    .into_iter()
                    .next()
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                if ops.is_empty() {
                    let config = plugin_config_yaml(
                        p,
                        &[("target", "target"), ("path", "path"), ("patch", "jsonOp")],
                    );
                    return Err(Error::other(format!(
                        "trouble configuring builtin PatchJson6902Transformer with config: `\n{config}`: patch appears to be empty; file={}, JsonOp={}",
                        str_field(p, "path"),
                        str_field(p, "patch")
                    )));
                }
                let Some(target) = p.get("target") else {
                    return Err(Error::other("patchesJson6902 entry needs a target"));
                };
                let sel = Selector::new(target)?;
                for r in ra.iter_mut().filter(|r| sel.selects(r)) {
                    json_patch_resource(r, &ops)?;
                }
                mark(ra, &json_origin);
            }
        }
        // replicas
        if let Some(Value::Array(reps)) = k.get("replicas") {
            for rep in reps {
                let name = str_field(rep, "name");
                let count = rep.get("count").cloned().unwrap_or(Value::Null);
                let mut specs = fieldspec::replicas();
                specs.extend(config.replicas.iter().cloned());
                set_replicas(ra, name, &count, &specs)?;
                mark(ra, &replicas_origin);
            }
        }
        // images
        if let Some(Value::Array(images)) = k.get("images") {
            let mut specs = fieldspec::images();
            specs.extend(config.images.iter().cloned());
            for rule in images {
                set_images(ra, rule, &specs);
                mark(ra, &image_origin);
            }
        }
        if let Some(Value::Array(reps)) = k.get("replacements") {
            let mut all = Vec::new();
            for r in reps {
                match r.get("path").and_then(Value::as_str) {
                    Some(p) => {
                        let path = self.file_in(dir, p)?;
                        let text = self.read_text(&path)?;
                        for doc in load(&text, &path)? {
                            match doc {
                                Value::Array(items) => all.extend(items),
                                Value::Null => {}
                                other => all.push(other),
                            }
                        }
                    }
                    None => all.push(r.clone()),
                }
            }
            let before: Vec<_> = ra.iter().map(Resource::alias_snapshot).collect();
            crate::replacement::apply(ra, &all)?;
            for (r, b) in ra.iter_mut().zip(&before) {
                r.sync_aliases(b);
            }
            if !reps.is_empty() {
                mark(ra, &repl_origin);
            }
        }
        Ok(())
    }
}

/// A generator's file that the load restrictor refuses, worded as kv.go `LoadKvPairs`.
fn kv_pairs_error(e: Error, what: &str, list: &str) -> Error {
    match e {
        Error::Restricted { .. } => Error::other(format!("loading KV pairs: {what}: {list}: {e}")),
        e => e,
    }
}

/// kusttarget.go accumulateResources on a directory that fails to build: the file attempt's
/// error, then accumulateDirectory's "recursed accumulation" with the directory's error
/// (which carries its own nested wrapping), under accumulateTarget's prefix.
fn wrap_accumulation(r: &str, dir: &Path, e: Error) -> Error {
    match e {
        Error::Other(m) => Error::Other(format!(
            "accumulating resources: accumulation err='accumulating resources from '{r}': '{}' must resolve to a file': recursed accumulation of path '{}': {m}",
            dir.display(),
            dir.display()
        )),
        other => other,
    }
}

/// Go's `%q` of a string: double-quoted with Go escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn gen_debug(r: &Resource) -> String {
    format!("{{{} {}}}", r.kind(), r.name())
}

fn strip_quotes(v: &str) -> &str {
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// resWrangler.appendReplaceOrMerge: the generated object replaces the existing one, keeping
/// the existing name and namespace, the labels and annotations of both (the new win) and, for
/// `merge`, the data of both (the new win). Every other field (a Secret's `type`,
/// `immutable`) is the new object's.
fn merge_generated(
    existing: &mut Resource,
    new: Resource,
    replace: bool,
    folded: &std::collections::HashMap<String, String>,
) {
    // the data kept is rebuilt from strings: folded values as first read
    if !replace && !folded.is_empty() {
        for field in ["data", "binaryData"] {
            if let Some(Value::Object(m)) = existing.obj.get_mut(field) {
                for v in m.values_mut() {
                    if let Value::String(s) = v
                        && let Some(orig) = folded.get(s.as_str())
                    {
                        *s = orig.clone();
                    }
                }
            }
        }
    }
    const KEPT: &[&str] = &["metadata", "data", "binaryData"];
    existing
        .obj
        .retain(|k, _| KEPT.contains(&k.as_str()) || new.obj.contains_key(k));
    for (k, v) in &new.obj {
        if !KEPT.contains(&k.as_str()) {
            existing.obj.insert(k.clone(), v.clone());
        }
    }
    for field in ["data", "binaryData"] {
        let incoming = new.obj.get(field).cloned();
        if replace {
            match incoming {
                Some(v) => {
                    existing.obj.insert(field.into(), v);
                }
                None => {
                    existing.obj.remove(field);
                }
            }
        } else if let Some(Value::Object(inc)) = incoming {
            let e = existing
                .obj
                .entry(field)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(e) = e {
                for (k, v) in inc {
                    e.insert(k, v);
                }
            }
        }
    }
    // the generated object's metadata replaces the old one's (a `creationTimestamp: null`
    // of a ConfigMap written in a base goes), with the old name and namespace
    if let Some(Value::Object(new_meta)) = new.obj.get("metadata") {
        let meta = existing.metadata_mut();
        meta.retain(|k, _| {
            matches!(k.as_str(), "name" | "namespace" | "labels" | "annotations")
                || new_meta.contains_key(k)
        });
        for (k, v) in new_meta {
            if !matches!(k.as_str(), "name" | "namespace" | "labels" | "annotations") {
                meta.insert(k.clone(), v.clone());
            }
        }
    }
    for field in ["labels", "annotations"] {
        if let Some(Value::Object(inc)) =
            new.obj.get("metadata").and_then(|m| m.get(field)).cloned()
        {
            let meta = existing.metadata_mut();
            let e = meta
                .entry(field)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(e) = e {
                for (k, v) in inc {
                    e.insert(k, v);
                }
            }
        }
    }
    if !new.needs_hash {
        existing.needs_hash = false;
    }
    // a replacing generator is the object's origin from now on; a merging one is not
    if replace && new.origin.is_some() {
        existing.origin = new.origin;
    }
    existing.generated = true;
}

/// kustomize's resource id key for duplicate detection (`ResId.Equals`: group, version,
/// kind, name and namespace).
fn dup_key(r: &Resource) -> (String, String, String, String, String) {
    (
        r.kind().to_owned(),
        r.group_version().0.to_owned(),
        r.group_version().1.to_owned(),
        r.name().to_owned(),
        effective_ns(r.group_version(), r.kind(), r.namespace()).to_owned(),
    )
}

/// Fails on the first resource whose id is already registered (one pass, hashed).
fn check_unique(ra: &[Resource]) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::with_capacity(ra.len());
    for r in ra {
        if !seen.insert(dup_key(r)) {
            let (g, v) = r.group_version();
            return Err(Error::other(format!(
                "may not add resource with an already registered id: {}",
                id_string(g, v, r.kind(), r.name(), r.namespace())
            )));
        }
    }
    Ok(())
}

/// Appends without checking; [`check_unique`] runs once the resources are all in.
fn push_unchecked(ra: &mut Vec<Resource>, r: Resource) -> Result<(), Error> {
    ra.push(r);
    Ok(())
}

fn append(ra: &mut Vec<Resource>, r: Resource) -> Result<(), Error> {
    let (g, v) = r.group_version();
    if ra.iter().any(|x| {
        x.kind() == r.kind()
            && x.group_version() == (g, v)
            && x.name() == r.name()
            && effective_ns((g, v), x.kind(), x.namespace())
                == effective_ns((g, v), r.kind(), r.namespace())
    }) {
        return Err(Error::other(format!(
            "may not add resource with an already registered id: {}",
            id_string(g, v, r.kind(), r.name(), r.namespace())
        )));
    }
    ra.push(r);
    Ok(())
}

fn load_docs(text: &str, path: &Path) -> Result<Vec<sluice_core::yaml::Document>, Error> {
    let opts = LoadOptions {
        schema: Schema::Core,
        // kio reads resources, writes them and reads them again (go-yaml v3 both ways)
        reencode_folded: true,
        ..LoadOptions::default()
    };
    let mut docs = load_documents_with(text, &opts).map_err(|e| Error::Yaml {
        path: path.to_path_buf(),
        source: e,
    })?;
    if let Some(last) = docs.last_mut() {
        trim_block_scalar_at_eof(&mut last.value, &last.root, text);
    }
    Ok(docs)
}

/// The last scalar written in a document, with the position of its entry's key (or item)
/// and of the scalar itself.
fn last_leaf<'a>(
    v: &'a mut Value,
    n: &sluice_core::yaml::Node,
    key: Option<Pos>,
) -> Option<(&'a mut Value, Option<Pos>, Pos)> {
    let Some(child) = n.children.last() else {
        return Some((v, key, n.pos));
    };
    let next = match v {
        Value::Object(m) => m.values_mut().last(),
        Value::Array(a) => a.last_mut(),
        _ => None,
    };
    last_leaf(next?, &child.node, Some(child.key_pos))
}

/// A block scalar (`|`, `|+`, `>`) that ends the text without a final line break has no
/// trailing newline in go-yaml v3 (libyaml keeps only line breaks actually read), so
/// kustomize prints it `|-`. `value`/`root` are the text's last document.
fn trim_block_scalar_at_eof(value: &mut Value, root: &sluice_core::yaml::Node, text: &str) {
    if text.is_empty() || text.ends_with(['\n', '\r']) {
        return;
    }
    let Some((Value::String(s), Some(key), pos)) = last_leaf(value, root, None) else {
        return;
    };
    // a block scalar's content starts below its header; the header is the nearest
    // non-blank line above, ending with the indicator (and maybe a comment)
    if pos.line <= key.line || !s.ends_with('\n') {
        return;
    }
    let lines: Vec<&str> = text.lines().collect();
    let header = (0..pos.line.saturating_sub(1) as usize)
        .rev()
        .filter_map(|i| lines.get(i))
        .find(|l| !l.trim().is_empty());
    let Some(header) = header else {
        return;
    };
    let code = match header.find(" #") {
        Some(i) => &header[..i],
        None => header,
    };
    let last = code.split_whitespace().last().unwrap_or_default();
    let is_indicator = last.starts_with(['|', '>'])
        && last[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '+' || c == '-');
    if is_indicator {
        s.pop();
    }
}

/// Annotation values that are not strings (`~`, `null`, `012`, `1.50`, `yes`) keep the text
/// written, as kustomize turns annotations into a string map from the YAML nodes' text.
fn annotations_as_written(v: &mut Value, root: &sluice_core::yaml::Node, text: &str) {
    let Some(meta) = v.get("metadata") else {
        return;
    };
    let Some(mi) = v
        .as_object()
        .and_then(|m| m.keys().position(|k| k == "metadata"))
    else {
        return;
    };
    let Some(ai) = meta
        .as_object()
        .and_then(|m| m.keys().position(|k| k == "annotations"))
    else {
        return;
    };
    let Some(ann_node) = root
        .children
        .get(mi)
        .and_then(|c| c.node.children.get(ai))
        .map(|c| &c.node)
    else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(Value::Object(ann)) = v.get_mut("metadata").and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    for (i, (_, val)) in ann.iter_mut().enumerate() {
        if val.is_string() || val.is_object() || val.is_array() {
            continue;
        }
        let Some(node) = ann_node.children.get(i).map(|c| &c.node) else {
            continue;
        };
        let Some(line) = lines.get(node.pos.line.saturating_sub(1) as usize) else {
            continue;
        };
        let start: String = line
            .chars()
            .skip(node.pos.col.saturating_sub(1) as usize)
            .collect();
        let in_flow = line
            .chars()
            .take(node.pos.col.saturating_sub(1) as usize)
            .any(|c| c == '{' || c == '[');
        let mut raw = start.as_str();
        if let Some(i) = raw.find(" #") {
            raw = &raw[..i];
        }
        if in_flow && let Some(i) = raw.find([',', '}', ']']) {
            raw = &raw[..i];
        }
        let raw = raw.trim();
        if !raw.is_empty() && sluice_core::yaml::resolve_plain_core(raw) == *val {
            *val = Value::String(raw.to_owned());
        }
    }
}

fn load(text: &str, path: &Path) -> Result<Vec<Value>, Error> {
    load_with(text, path, false)
}

/// [`load`] of strategic merge patches, which kustomize reads through kio as resources
/// (folded scalars as go-yaml v3 reads them after writing them again).
fn load_smp(text: &str, path: &Path) -> Result<Vec<Value>, Error> {
    load_with(text, path, true).map(expand_lists)
}

/// Objects of a `...List` kind with `items` stand for their items, in patches as in
/// resources (kustomize reads both through `resource.Factory.SliceFromBytes`).
fn expand_lists(docs: Vec<Value>) -> Vec<Value> {
    let is_list = |d: &Value| {
        d.get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && d.get("items").is_some_and(Value::is_array)
    };
    if !docs.iter().any(is_list) {
        return docs;
    }
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        if is_list(&d) {
            if let Some(Value::Array(items)) = d.get("items") {
                out.extend(items.iter().filter(|i| i.is_object()).cloned());
            }
        } else {
            out.push(d);
        }
    }
    out
}

fn load_with(text: &str, path: &Path, reencode_folded: bool) -> Result<Vec<Value>, Error> {
    let opts = LoadOptions {
        schema: Schema::Core,
        reencode_folded,
        ..LoadOptions::default()
    };
    let mut docs = load_documents_with(text, &opts).map_err(|e| Error::Yaml {
        path: path.to_path_buf(),
        source: e,
    })?;
    if let Some(last) = docs.last_mut() {
        trim_block_scalar_at_eof(&mut last.value, &last.root, text);
    }
    Ok(docs.into_iter().map(|d| d.value).collect())
}

/// A patch object without `kind` or `metadata.name`.
fn lacks_id(d: &Value) -> bool {
    let empty = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
    empty(d.get("kind")) || empty(d.get("metadata").and_then(|m| m.get("name")))
}

/// Generated Secret data and ConfigMap binaryData as kyaml writes them (datamap.go
/// `encodeBase64`, go-yaml's): base64 in lines of 70 characters, each ending with a line
/// break, once the text is 70 characters or longer; shorter text on one line without one.
fn base64_lines(data: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64(data);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    // base64 is ASCII: byte chunks are character chunks
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Records the strings of `reencoded` that differ from the same place in `plain` (the same
/// text read without re-encoding folded scalars).
fn note_folded(
    reencoded: &Value,
    plain: &Value,
    out: &mut std::collections::HashMap<String, String>,
) {
    match (reencoded, plain) {
        (Value::String(a), Value::String(b)) if a != b => {
            out.insert(a.clone(), b.clone());
        }
        (Value::Object(a), Value::Object(b)) => {
            for (x, y) in a.values().zip(b.values()) {
                note_folded(x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter().zip(b) {
                note_folded(x, y, out);
            }
        }
        _ => {}
    }
}

/// OpenAPI `definitions` from an `openapi: {path: ...}` file.
type Definitions = Map<String, Value>;

/// Applies JSON 6902 operations to `r`. A name or namespace they change is remembered as a
/// previous id (PatchTransformer calls `StorePreviousId` first), so later targets and
/// references may still use the old one.
fn json_patch_resource(r: &mut Resource, ops: &[Value]) -> Result<(), Error> {
    let (name, ns) = (r.name().to_owned(), r.namespace().to_owned());
    // the origin and transformations are annotations of the object in kustomize: the patch
    // sees them (`/metadata/annotations` exists) and may replace or remove them
    let tracked = r.origin.is_some() || r.transformations.is_some();
    if tracked {
        put_build_annotations(r);
    }
    let mut v = Value::Object(std::mem::take(&mut r.obj));
    let res = json_patch(&mut v, ops);
    if let Value::Object(m) = v {
        r.obj = m;
    }
    if tracked {
        take_build_annotations(r);
    }
    // kustomize applies JSON 6902 patches to the object's JSON and reads it back: every node
    // is new, nothing is shared any more
    r.aliases.clear();
    res.map_err(|e| Error::other(format!("{e}")))?;
    if r.name() != name || r.namespace() != ns {
        r.previous_ids.push((name.clone(), ns.clone()));
    }
    if r.name() != name {
        r.previous_names.push(name);
    }
    if r.namespace() != ns {
        r.previous_namespaces.push(ns);
    }
    Ok(())
}

/// Moves the tracked origin and transformations into the object's annotations.
fn put_build_annotations(r: &mut Resource) {
    let pairs = [
        (ORIGIN_KEY, r.origin.take()),
        (TRANSFORMATIONS_KEY, r.transformations.take()),
    ];
    let meta = r
        .obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if ann.is_null() {
        *ann = Value::Object(Map::new());
    }
    let Value::Object(ann) = ann else { return };
    for (key, v) in pairs {
        if let Some(v) = v {
            ann.insert(key.into(), Value::String(v));
        }
    }
}

/// Takes the origin and transformations back out of the annotations (what a patch left of
/// them); annotations left empty go.
fn take_build_annotations(r: &mut Resource) {
    let Some(Value::Object(meta)) = r.obj.get_mut("metadata") else {
        return;
    };
    let Some(Value::Object(ann)) = meta.get_mut("annotations") else {
        return;
    };
    r.origin = ann.shift_remove(ORIGIN_KEY).map(|v| scalar_text(&v));
    r.transformations = ann
        .shift_remove(TRANSFORMATIONS_KEY)
        .map(|v| scalar_text(&v));
    if ann.is_empty() {
        meta.shift_remove("annotations");
    }
}

fn apply_smp(r: &mut Resource, patch: &Value, openapi: Option<&Definitions>) {
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        r.obj.clear();
        return;
    }
    let (g, ver) = r.group_version();
    let builtin = is_builtin_group(g);
    let schema = openapi.and_then(|d| schema_for(d, g, ver, r.kind()).map(|n| (d, n)));
    let before = r.alias_snapshot();
    let mut v = Value::Object(std::mem::take(&mut r.obj));
    let mut p = patch.clone();
    // the patch's identity does not rename the target
    if let Some(Value::Object(m)) = p.get_mut("metadata") {
        m.remove("name");
        m.remove("namespace");
    }
    if let Value::Object(m) = &mut p {
        m.remove("apiVersion");
        m.remove("kind");
    }
    // a custom schema replaces the built-in one: kinds it does not describe merge no lists
    match schema {
        Some((defs, node)) => strategic_merge_schema(&mut v, &p, defs, node),
        None => strategic_merge(&mut v, &p, builtin && openapi.is_none()),
    }
    if let Value::Object(m) = v {
        r.obj = m;
    }
    // kyaml's merge copies a patched scalar into the existing node
    r.sync_aliases(&before);
}

/// Resources by (kind, any name they had): patches find their targets without a scan.
type NameIndex = std::collections::HashMap<(String, String), Vec<usize>>;

fn name_index(ra: &[Resource]) -> NameIndex {
    let mut idx = NameIndex::new();
    for (i, r) in ra.iter().enumerate() {
        for n in r
            .previous_names
            .iter()
            .map(String::as_str)
            .chain([r.name()])
        {
            let e = idx.entry((r.kind().to_owned(), n.to_owned())).or_default();
            if e.last() != Some(&i) {
                e.push(i);
            }
        }
    }
    idx
}

fn apply_smp_untargeted(
    ra: &mut [Resource],
    doc: &Value,
    idx: &NameIndex,
    openapi: Option<&Definitions>,
) -> Result<(), Error> {
    let av = str_field(doc, "apiVersion");
    let kind = str_field(doc, "kind");
    let meta = doc.get("metadata").cloned().unwrap_or(Value::Null);
    let name = str_field(&meta, "name");
    let ns = str_field(&meta, "namespace");
    let (g, v) = split_api_version(av);
    let id = id_string(g, v, kind, name, ns);
    let none = Vec::new();
    let cands = idx
        .get(&(kind.to_owned(), name.to_owned()))
        .unwrap_or(&none);
    let matches: Vec<usize> = cands
        .iter()
        .map(|i| (*i, &ra[*i]))
        .filter(|(_, r)| {
            r.kind() == kind
                && r.group_version().0 == g
                && if r.is_namespaceable() {
                    r.had_id(name, ns)
                } else {
                    r.had_name(name)
                }
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [i] => {
            apply_smp(&mut ra[*i], doc, openapi);
            Ok(())
        }
        [] => Err(Error::other(format!(
            "no resource matches strategic merge patch \"{id}\": no matches for Id {id}; failed to find unique target for patch {id}"
        ))),
        _ => Err(Error::other(format!(
            "multiple matches for Id {id}; failed to find unique target for patch {id}"
        ))),
    }
}

/// What a selector compares of a resource, read once: many targeted patches then cost a
/// string comparison per resource each, not a walk of its object.
#[derive(Debug, Clone)]
struct SelId {
    group: String,
    version: String,
    kind: String,
    name: String,
    orig_name: String,
    ns: String,
    orig_ns: String,
}

impl SelId {
    fn of(r: &Resource) -> SelId {
        let (g, v) = r.group_version();
        SelId {
            group: g.to_owned(),
            version: v.to_owned(),
            kind: r.kind().to_owned(),
            name: r.name().to_owned(),
            orig_name: r.original_name().to_owned(),
            ns: effective_ns((g, v), r.kind(), r.namespace()).to_owned(),
            orig_ns: effective_ns((g, v), r.kind(), r.original_namespace()).to_owned(),
        }
    }
}

/// One field of a selector: an anchored regular expression, or the literal text when it
/// has no metacharacters (the same matches, without compiling a regex).
#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Regex(regex::Regex),
}

impl Pattern {
    fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(p) => p == s,
            Pattern::Regex(r) => r.is_match(s),
        }
    }
}

/// A patch or replacement target selector (kustomize api/types/selector.go): group, version
/// and kind compared exactly, name and namespace as anchored regular expressions
/// (`^(?:...)$`), label and annotation selectors.
#[derive(Debug, Clone)]
pub struct Selector {
    group: Option<Pattern>,
    version: Option<Pattern>,
    kind: Option<Pattern>,
    name: Option<Pattern>,
    namespace: Option<Pattern>,
    label_selector: Option<String>,
    annotation_selector: Option<String>,
}

impl Selector {
    /// Compiles the selector written at `t` (a mapping; anything else selects everything).
    pub fn new(t: &Value) -> Result<Selector, Error> {
        let f = |k: &str| t.get(k).map(scalar_text).filter(|s| !s.is_empty());
        let re = |k: &str| -> Result<Option<Pattern>, Error> {
            match f(k) {
                None => Ok(None),
                // a pattern without metacharacters matches only itself: no regex to
                // compile (many targeted patches stay cheap)
                Some(p) if !p.contains(|c: char| "\\.+*?()|[]{}^$".contains(c)) => {
                    Ok(Some(Pattern::Exact(p)))
                }
                Some(p) => regex::Regex::new(&format!("^(?:{p})$"))
                    .map(|r| Some(Pattern::Regex(r)))
                    .map_err(|e| Error::other(format!("{e}"))),
            }
        };
        // group, version and kind are anchored regular expressions too (kustomize
        // api/types/selector.go NewSelectorRegex)
        Ok(Selector {
            group: re("group")?,
            version: re("version")?,
            kind: re("kind")?,
            name: re("name")?,
            namespace: re("namespace")?,
            label_selector: f("labelSelector"),
            annotation_selector: f("annotationSelector"),
        })
    }

    /// Whether `r` is selected: its original or current name and namespace match.
    pub fn selects(&self, r: &Resource) -> bool {
        self.selects_id(&SelId::of(r)) && self.selects_labels(r)
    }

    /// The id part of [`Selector::selects`] on an id read before (no map lookups).
    fn selects_id(&self, id: &SelId) -> bool {
        if self.group.as_ref().is_some_and(|x| !x.is_match(&id.group))
            || self
                .version
                .as_ref()
                .is_some_and(|x| !x.is_match(&id.version))
            || self.kind.as_ref().is_some_and(|x| !x.is_match(&id.kind))
        {
            return false;
        }
        if let Some(n) = &self.namespace
            && !n.is_match(&id.orig_ns)
            && !n.is_match(&id.ns)
        {
            return false;
        }
        if let Some(n) = &self.name
            && !n.is_match(&id.orig_name)
            && !n.is_match(&id.name)
        {
            return false;
        }
        true
    }

    /// The resources of `ra` it selects, given their ids read before (`ids[i]` is `ra[i]`'s).
    fn select_indexed(&self, ra: &[Resource], ids: &[SelId]) -> Vec<usize> {
        ids.iter()
            .enumerate()
            .filter(|(i, id)| self.selects_id(id) && self.selects_labels(&ra[*i]))
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether the label and annotation selectors match `r`.
    pub fn selects_labels(&self, r: &Resource) -> bool {
        let meta = r.obj.get("metadata");
        let null = Value::Null;
        for (sel, field) in [
            (&self.label_selector, "labels"),
            (&self.annotation_selector, "annotations"),
        ] {
            if let Some(sel) = sel {
                let have = meta.and_then(|m| m.get(field)).unwrap_or(&null);
                if !selector_matches(sel, have) {
                    return false;
                }
            }
        }
        true
    }
}

/// `a=b,c!=d,e,!f,g in (x,y)` over a label map.
fn selector_matches(sel: &str, have: &Value) -> bool {
    let get = |k: &str| have.get(k).map(scalar_text);
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in sel.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    terms.push(cur);
    terms.iter().all(|t| {
        let t = t.trim();
        if t.is_empty() {
            return true;
        }
        if let Some((k, v)) = t.split_once("!=") {
            return get(k.trim()).as_deref() != Some(v.trim());
        }
        if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
            return get(k.trim()).as_deref() == Some(v.trim());
        }
        if let Some((k, set)) = t.split_once(" notin ") {
            let vals: Vec<&str> = set
                .trim()
                .trim_matches(['(', ')'])
                .split(',')
                .map(str::trim)
                .collect();
            return get(k.trim()).is_none_or(|v| !vals.contains(&v.as_str()));
        }
        if let Some((k, set)) = t.split_once(" in ") {
            let vals: Vec<&str> = set
                .trim()
                .trim_matches(['(', ')'])
                .split(',')
                .map(str::trim)
                .collect();
            return get(k.trim()).is_some_and(|v| vals.contains(&v.as_str()));
        }
        if let Some(k) = t.strip_prefix('!') {
            return get(k.trim()).is_none();
        }
        get(t).is_some()
    })
}

fn set_namespace(r: &mut Resource, ns: &str) {
    let kind = r.kind().to_owned();
    if r.is_namespaceable() {
        r.set_namespace(ns.to_owned());
    }
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
        && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects")
    {
        {
            for s in subjects {
                if str_field(s, "kind") == "ServiceAccount"
                    && str_field(s, "name") == "default"
                    && let Value::Object(m) = s
                {
                    m.insert("namespace".into(), Value::String(ns.to_owned()));
                }
            }
        }
    }
    // a webhook's clientConfig.service is not the namespace transformer's: the name
    // reference to a Service of the build moves it with that Service (namereference.go)
}

/// The namespace transformer's field specs other than `metadata/namespace`; a rename of a
/// `Namespace` object is remembered for name references, and two objects left with one id
/// fail as in kustomize's NamespaceTransformer.
fn set_namespace_fields(ra: &mut [Resource], specs: &[FieldSpec], ns: &str) -> Result<(), Error> {
    for r in ra.iter_mut() {
        let before = r.name().to_owned();
        fieldspec::apply(r, specs, &mut |v: &mut Value| {
            *v = Value::String(ns.to_owned());
        });
        let after = r.name().to_owned();
        if after != before {
            r.metadata_mut()
                .insert("name".into(), Value::String(before));
            r.set_name(after);
        }
    }
    if specs.iter().any(|s| s.path == ["metadata", "name"]) {
        let mut seen = std::collections::HashSet::with_capacity(ra.len());
        if ra.iter().any(|r| !seen.insert(dup_key(r))) {
            return Err(Error::other(
                "namespace transformation produces ID conflict".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Sets label or annotation `pairs` at `specs`. A key created at several places of an
/// object is one node in kustomize ([`Resource::sync_aliases`]); one already present is
/// changed in place, and that change reaches the places it shares a node with.
fn set_pairs(ra: &mut [Resource], specs: &[FieldSpec], pairs: &[(String, String)]) {
    for r in ra.iter_mut() {
        let before = r.alias_snapshot();
        let mut created: Vec<Vec<Vec<Seg>>> = vec![Vec::new(); pairs.len()];
        fieldspec::apply_at(r, specs, &mut |at: &[Seg], v: &mut Value| {
            if v.is_null() {
                *v = Value::Object(Map::new());
            }
            if let Value::Object(m) = v {
                for (i, (k, val)) in pairs.iter().enumerate() {
                    if !m.contains_key(k) {
                        let mut p = at.to_vec();
                        p.push(Seg::Key(k.clone()));
                        created[i].push(p);
                    }
                    m.insert(k.clone(), Value::String(val.clone()));
                }
            }
        });
        r.sync_aliases(&before);
        r.aliases
            .extend(created.into_iter().filter(|g| g.len() > 1));
    }
}

/// Splits an image reference into name, tag and digest.
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].find(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

fn new_image(image: &str, rule: &Value) -> Option<String> {
    let (name, tag, digest) = split_image(image);
    if name != str_field(rule, "name") {
        return None;
    }
    let new_name = str_field(rule, "newName");
    let new_tag = rule.get("newTag").map(scalar_text).unwrap_or_default();
    let new_digest = str_field(rule, "digest");
    let tag_suffix = str_field(rule, "tagSuffix");
    let name = if new_name.is_empty() { name } else { new_name };
    // imagetag/updater.go: a new tag and/or digest replace both; else a tag suffix is
    // appended to the tag (empty when there was none) and drops the digest
    let suffixed;
    let (tag, digest) = if !new_tag.is_empty() && !new_digest.is_empty() {
        (Some(new_tag.as_str()), Some(new_digest))
    } else if !new_tag.is_empty() {
        (Some(new_tag.as_str()), None)
    } else if !new_digest.is_empty() {
        (None, Some(new_digest))
    } else if !tag_suffix.is_empty() {
        suffixed = format!("{}{tag_suffix}", tag.unwrap_or_default());
        (Some(suffixed.as_str()), None)
    } else {
        (tag, digest)
    };
    let mut out = name.to_owned();
    if let Some(t) = tag {
        out.push(':');
        out.push_str(t);
    }
    if let Some(d) = digest {
        out.push('@');
        out.push_str(d);
    }
    Some(out)
}

/// Every `containers`/`initContainers` list anywhere in the object (kustomize's legacy
/// image filter).
fn update_images(v: &mut Value, rules: &[Value]) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(Value::String(img)) = c.get_mut("image") {
                            for rule in rules {
                                if let Some(n) = new_image(img, rule) {
                                    *img = n;
                                    break;
                                }
                            }
                        }
                    }
                }
                update_images(child, rules);
            }
        }
        Value::Array(a) => {
            for x in a {
                update_images(x, rules);
            }
        }
        _ => {}
    }
}

/// The HashTransformer: the content hash appended to the name of each generated object that
/// wants one. kustomize runs it once at the end of the build (kusttarget.go
/// `addHashesToNames`), and again wherever a `transformers:` config names it (the flag
/// stays, so the name gets the hash twice, as kustomize does).
fn add_hashes(ra: &mut [Resource]) {
    for r in ra.iter_mut() {
        if r.needs_hash {
            let h = name_hash(&r.obj);
            let n = format!("{}-{h}", r.name());
            r.set_name(n);
        }
    }
}

/// The steps done once, at the top: hash suffixes, name references, sorting.
fn finish(ra: &mut [Resource], k: &Kustomization, acc: &Acc) -> Result<(), Error> {
    add_hashes(ra);
    let mut refs = fieldspec::name_references();
    let mut extra = TransformerConfig {
        name_reference: refs.clone(),
        ..TransformerConfig::default()
    };
    extra.merge(&acc.config);
    refs = extra.name_reference;
    fix_name_references(ra, &refs)?;
    if !acc.vars.is_empty() {
        let mut specs = fieldspec::var_references();
        specs.extend(acc.config.var_reference.iter().cloned());
        resolve_vars(ra, &acc.vars, &specs)?;
    }
    let fifo = k
        .get("sortOptions")
        .and_then(|s| s.get("order"))
        .and_then(Value::as_str)
        == Some("fifo");
    if !fifo {
        let custom = k
            .get("sortOptions")
            .and_then(|s| s.get("legacySortOptions"))
            .cloned();
        let (first, last): (Vec<String>, Vec<String>) = match &custom {
            Some(c) => (
                sluice_core::json::string_list(c.get("orderFirst")),
                sluice_core::json::string_list(c.get("orderLast")),
            ),
            None => (
                ORDER_FIRST.iter().map(|s| (*s).to_owned()).collect(),
                ORDER_LAST.iter().map(|s| (*s).to_owned()).collect(),
            ),
        };
        ra.sort_by_cached_key(|r| legacy_key(r, &first, &last));
    }
    Ok(())
}

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// kustomize's legacy order: kinds in `first` first, `last` last, the rest between; then by
/// `group_version_kind` with `~G`/`~V` for empty parts, then `namespace|name` (`~X` for no
/// namespace). Two Namespaces of which one has no group compare their `group_version_kind`
/// the other way round, so the core `v1` Namespace comes before a CRD's (kustomize
/// legacy sort, `NodeIsLessThan` / `gvkLessThan`).
type LegacyKey = (i64, u8, std::cmp::Reverse<String>, String, String);

fn legacy_key(r: &Resource, first: &[String], last: &[String]) -> LegacyKey {
    let kind = r.kind();
    let n = first.len() as i64;
    let order = if let Some(i) = first.iter().position(|k| k == kind) {
        -n + i as i64
    } else if let Some(i) = last.iter().position(|k| k == kind) {
        1 + i as i64
    } else {
        0
    };
    let (g, v) = r.group_version();
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_owned()
        } else {
            s.to_owned()
        }
    };
    let gvk = format!("{}_{}_{}", or(g, "~G"), or(v, "~V"), or(kind, "~K"));
    let ns = or(r.namespace(), "~X");
    let name = or(r.name(), "~N");
    let (tier, rev, fwd) = if kind == "Namespace" && g.is_empty() {
        (0, std::cmp::Reverse(gvk), String::new())
    } else {
        (1, std::cmp::Reverse(String::new()), gvk)
    };
    (order, tier, rev, fwd, format!("{ns}|{name}"))
}

/// A resource that references may name: kind, group, every name it had (current last),
/// current name, current namespace, every namespace it had.
struct Target {
    kind: String,
    group: String,
    version: String,
    names: Vec<String>,
    /// The names of its previous ids (kustomize's PrevIds: one per name or namespace
    /// change), which nameref's previousNameMatches looks at.
    prev_id_names: Vec<String>,
    name: String,
    namespace: String,
    namespaces: Vec<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// kustomize's utils.SameEndingSubSlice: one list ends with the other; an empty list
/// matches only an empty one.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

/// The prefixes and suffixes of a referrer (nameref.go `prefixSuffixEquals`).
type Affixes<'a> = (&'a [String], &'a [String]);

/// selectReferral after the namespace sieve: one candidate is the one; among several, those
/// with the referrer's prefixes and suffixes; none left, no rename; several left with one
/// name, the first; several names, kustomize's "found multiple possible referrals" error.
fn sieve<'a>(
    matching: Vec<&'a Target>,
    affixes: Affixes<'_>,
) -> Result<Option<&'a Target>, String> {
    sieve_by(matching, affixes, false)
}

/// `sieve`, where candidates left over are the same referral when their names agree
/// (scalars: nameref.go allNamesAreTheSame) or names and namespaces agree (maps:
/// allNamesAndNamespacesAreTheSame).
fn sieve_by<'a>(
    matching: Vec<&'a Target>,
    affixes: Affixes<'_>,
    with_ns: bool,
) -> Result<Option<&'a Target>, String> {
    if matching.len() <= 1 {
        return Ok(matching.first().copied());
    }
    let same: Vec<&Target> = matching
        .iter()
        .copied()
        .filter(|t| same_ending(&t.prefixes, affixes.0) && same_ending(&t.suffixes, affixes.1))
        .collect();
    if same.len() > 1
        && same
            .iter()
            .any(|t| t.name != same[0].name || (with_ns && t.namespace != same[0].namespace))
    {
        let ids: Vec<String> = same
            .iter()
            .map(|t| id_string(&t.group, &t.version, &t.kind, &t.name, &t.namespace))
            .collect();
        return Err(format!(
            "found multiple possible referrals: {}",
            ids.join(", ")
        ));
    }
    Ok(same.first().copied())
}

/// Points references at the current names of the objects they named
/// (kustomize's nameReference transformer).
fn fix_name_references(ra: &mut [Resource], refs: &[fieldspec::NameRef]) -> Result<(), Error> {
    let targets: Vec<Target> = ra
        .iter()
        .filter(|r| !r.previous_names.is_empty() || !r.previous_namespaces.is_empty())
        .map(|r| {
            let mut names = r.previous_names.clone();
            names.push(r.name().to_owned());
            let mut namespaces = r.previous_namespaces.clone();
            namespaces.push(r.namespace().to_owned());
            Target {
                prev_id_names: r.previous_ids.iter().map(|(n, _)| n.clone()).collect(),
                kind: r.kind().to_owned(),
                group: r.group_version().0.to_owned(),
                version: r.group_version().1.to_owned(),
                names,
                name: r.name().to_owned(),
                namespace: r.namespace().to_owned(),
                namespaces,
                prefixes: r.prefixes.clone(),
                suffixes: r.suffixes.clone(),
            }
        })
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let mut err: Option<String> = None;
    // every resource's namespaces, for the subsets a map reference looks at
    let pool: Vec<PoolEntry> = ra
        .iter()
        .map(|r| {
            let gv = r.group_version();
            PoolEntry {
                cluster: cluster_scoped(gv, r.kind()),
                raw_ns: r.namespace().to_owned(),
                cur: effective_ns(gv, r.kind(), r.namespace()).to_owned(),
                orig: effective_ns(gv, r.kind(), r.original_namespace()).to_owned(),
            }
        })
        .collect();
    // each resource's kind, group, version and namespace, read once
    let ids: Vec<[String; 4]> = ra
        .iter()
        .map(|r| {
            let (g, v) = r.group_version();
            [
                r.kind().to_owned(),
                g.to_owned(),
                v.to_owned(),
                r.namespace().to_owned(),
            ]
        })
        .collect();
    for nr in refs {
        let list: Vec<&Target> = targets
            .iter()
            .filter(|t| t.kind == nr.kind && (nr.group.is_empty() || t.group == nr.group))
            .collect();
        if list.is_empty() {
            continue;
        }
        // every name a candidate had -> the candidates (in order) that had it
        let mut cands: Cands = std::collections::HashMap::new();
        for t in &list {
            for n in &t.names {
                let e = cands.entry(n.as_str()).or_default();
                if !e.iter().any(|x| std::ptr::eq(*x, *t)) {
                    e.push(t);
                }
            }
        }
        for (r, [kind, group, version, referrer_ns]) in ra.iter_mut().zip(&ids) {
            let specs: Vec<&FieldSpec> = nr
                .referrers
                .iter()
                .filter(|s| s.selects_gvk(group, version, kind))
                .collect();
            let (prefixes, suffixes) = (r.prefixes.clone(), r.suffixes.clone());
            let scope = MapScope::new(r, (group, version, kind), referrer_ns, &pool);
            for s in specs {
                // nameref roleRefFilter: a `roleRef/name` follows only referrals a previous
                // id of which its roleRef's `apiGroup` and `kind` select (empty ones select
                // any); without either field (getRoleRefGvk fails) anything goes
                if s.path.ends_with(&["roleRef".to_owned(), "name".to_owned()]) {
                    let role_ref = r.obj.get("roleRef");
                    let field = |k: &str| {
                        role_ref
                            .and_then(|x| x.get(k))
                            .filter(|v| !v.is_null())
                            .map(|v| v.as_str().unwrap_or_default())
                    };
                    if let (Some(api_group), Some(ref_kind)) = (field("apiGroup"), field("kind"))
                        && ((!ref_kind.is_empty() && ref_kind != nr.kind)
                            || (!api_group.is_empty() && api_group != nr.group))
                    {
                        continue;
                    }
                }
                let mut root = Value::Object(std::mem::take(&mut r.obj));
                fieldspec::visit(&mut root, &s.path, false, &mut |v: &mut Value| {
                    let referrer_ns =
                        (!cluster_scoped((group, version), kind)).then_some(referrer_ns.as_str());
                    rename(
                        v,
                        (&cands, &scope),
                        referrer_ns,
                        &nr.kind,
                        (&prefixes, &suffixes),
                        &mut err,
                    );
                });
                if let Value::Object(m) = root {
                    r.obj = m;
                }
            }
        }
    }
    match err {
        Some(e) => Err(Error::other(e)),
        None => Ok(()),
    }
}

/// Referable targets by every name they had.
type Cands<'a> = std::collections::HashMap<&'a str, Vec<&'a Target>>;

/// The target a reference to `old` from namespace `ns` means (nameref.go selectReferral):
/// among the candidates that had the name, those in the referrer's current namespace,
/// cluster-scoped ones and ServiceAccounts; every candidate when the referrer is
/// cluster-scoped (`ns` is `None`).
fn pick<'a>(
    cands: &Cands<'a>,
    old: &str,
    ns: Option<&str>,
    kind: &str,
    affixes: Affixes<'_>,
) -> Result<Option<&'a Target>, String> {
    let matching: &[&Target] = cands.get(old).map_or(&[], Vec::as_slice);
    let in_ns: Vec<&Target> = match ns {
        None => matching.to_vec(),
        Some(ns) => matching
            .iter()
            .copied()
            // a ServiceAccount named by a scalar (a pod's serviceAccountName) must be in
            // the referrer's namespace too (kubectl kustomize v5.5.0); RBAC subjects are
            // maps and choose by their own namespace
            .filter(|c| {
                let gv = (c.group.as_str(), c.version.as_str());
                cluster_scoped(gv, kind)
                    || effective_ns(gv, kind, &c.namespace) == effective_ns(gv, kind, ns)
            })
            .collect(),
    };
    sieve(in_ns, affixes)
}

/// One resource's namespaces, as resmap groups them (`EffectiveNamespace`: "" is
/// "default", cluster-scoped kinds have none).
struct PoolEntry {
    cluster: bool,
    raw_ns: String,
    cur: String,
    orig: String,
}

/// The resources one referrer can refer to (resmap.go SubsetThatCouldBeReferencedByResource):
/// all of them for a cluster-scoped referrer; else the cluster-scoped ones, those in its
/// namespace and, for a RoleBinding, those in a namespace one of its ServiceAccount
/// subjects names (getNamespacesForRoleBinding).
struct MapScope<'a> {
    /// The referrer's effective namespace; `None` when it is cluster-scoped.
    referrer: Option<String>,
    role_binding_ns: std::collections::HashSet<String>,
    pool: &'a [PoolEntry],
    orig_keys: std::cell::OnceCell<std::collections::HashSet<String>>,
}

impl<'a> MapScope<'a> {
    fn new(
        r: &Resource,
        (group, version, kind): (&str, &str, &str),
        ns: &str,
        pool: &'a [PoolEntry],
    ) -> Self {
        let referrer = (!cluster_scoped((group, version), kind))
            .then(|| effective_ns((group, version), kind, ns).to_owned());
        let mut role_binding_ns = std::collections::HashSet::new();
        if kind == "RoleBinding"
            && let Some(Value::Array(subjects)) = r.obj.get("subjects")
        {
            for sub in subjects {
                if sub.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                    && let Some(n) = sub.get("namespace").and_then(Value::as_str)
                {
                    role_binding_ns.insert(n.to_owned());
                }
            }
        }
        MapScope {
            referrer,
            role_binding_ns,
            pool,
            orig_keys: std::cell::OnceCell::new(),
        }
    }

    fn sees(&self, cluster: bool, cur: &str, raw_ns: &str) -> bool {
        match &self.referrer {
            None => true,
            Some(rns) => cluster || cur == rns || self.role_binding_ns.contains(raw_ns),
        }
    }

    /// The original namespaces of the subset (resmap GroupedByOriginalNamespace keys).
    fn orig_keys(&self) -> &std::collections::HashSet<String> {
        self.orig_keys.get_or_init(|| {
            self.pool
                .iter()
                .filter(|p| !p.cluster && self.sees(p.cluster, &p.cur, &p.raw_ns))
                .map(|p| p.orig.clone())
                .collect()
        })
    }
}

/// The referral a `{name, namespace}` map names (nameref.go setMapping): the candidates the
/// referrer can see whose original namespace is the map's when any resource it can see
/// started there, else whose current one is; then selectReferral's sieves.
fn pick_map<'a>(
    cands: &Cands<'a>,
    name: &str,
    map_ns: Option<&str>,
    scope: &MapScope<'_>,
    affixes: Affixes<'_>,
) -> Result<Option<&'a Target>, String> {
    let eff = |c: &Target, ns: &str| effective_ns((&c.group, &c.version), &c.kind, ns).to_owned();
    let visible: Vec<&Target> = cands
        .get(name)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .copied()
        // previousNameMatches: a name the referral had before, not its current one
        .filter(|c| c.prev_id_names.iter().any(|p| p == name))
        .filter(|c| {
            let cluster = cluster_scoped((&c.group, &c.version), &c.kind);
            scope.sees(cluster, &eff(c, &c.namespace), &c.namespace)
        })
        .collect();
    let by_ns: Vec<&Target> = match map_ns {
        None => visible,
        Some(ns) if scope.orig_keys().contains(ns) => visible
            .into_iter()
            .filter(|c| eff(c, c.namespaces.first().map_or("", String::as_str)) == ns)
            .collect(),
        Some(ns) => visible
            .into_iter()
            .filter(|c| eff(c, &c.namespace) == ns)
            .collect(),
    };
    // sameCurrentNamespaceAsReferrer: cluster-scoped referrals and ServiceAccounts pass
    let in_ns: Vec<&Target> = match &scope.referrer {
        None => by_ns,
        Some(rns) => by_ns
            .into_iter()
            .filter(|c| {
                cluster_scoped((&c.group, &c.version), &c.kind)
                    || c.kind == "ServiceAccount"
                    || &eff(c, &c.namespace) == rns
            })
            .collect(),
    };
    sieve_by(in_ns, affixes, true)
}

/// Renames the references in `v`; the first ambiguity is kept in `err`.
fn rename(
    v: &mut Value,
    (cands, scope): (&Cands<'_>, &MapScope<'_>),
    referrer_ns: Option<&str>,
    kind: &str,
    affixes: Affixes<'_>,
    err: &mut Option<String>,
) {
    let mut note = |e: String| {
        if err.is_none() {
            *err = Some(e);
        }
    };
    match v {
        Value::String(s) => match pick(cands, s, referrer_ns, kind, affixes) {
            Ok(Some(c)) => *s = c.name.clone(),
            Ok(None) => {}
            Err(e) => note(e),
        },
        Value::Array(items) => {
            for it in items {
                match it {
                    Value::String(_) => {
                        let mut inner = None;
                        rename(it, (cands, scope), referrer_ns, kind, affixes, &mut inner);
                        if let Some(e) = inner {
                            note(e);
                        }
                    }
                    Value::Object(m) => {
                        // RBAC subjects: only ServiceAccounts
                        if m.get("kind")
                            .and_then(Value::as_str)
                            .is_some_and(|k| k != kind)
                        {
                            continue;
                        }
                        let Some(Value::String(n)) = m.get("name") else {
                            continue;
                        };
                        let map_ns = m.get("namespace").and_then(Value::as_str);
                        let found = match pick_map(cands, n, map_ns, scope, affixes) {
                            Ok(f) => f,
                            Err(e) => {
                                note(e);
                                None
                            }
                        };
                        if let Some(c) = found {
                            let (name, cns) = (c.name.clone(), c.namespace.clone());
                            m.insert("name".into(), Value::String(name));
                            if !cns.is_empty() {
                                m.insert("namespace".into(), Value::String(cns));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Value::Object(m) => {
            // a {name, namespace} map (webhook clientConfig.service): nameref.go setMapping
            // takes the candidates whose original namespace is the map's, else whose current
            // one is; the referral's namespace, when it has one, is written too
            let Some(Value::String(n)) = m.get("name") else {
                return;
            };
            let map_ns = m.get("namespace").and_then(Value::as_str);
            match pick_map(cands, n, map_ns, scope, affixes) {
                Ok(Some(c)) => {
                    let (name, cns) = (c.name.clone(), c.namespace.clone());
                    m.insert("name".into(), Value::String(name));
                    if !cns.is_empty() {
                        m.insert("namespace".into(), Value::String(cns));
                    }
                }
                Ok(None) => {}
                Err(e) => note(e),
            }
        }
        _ => {}
    }
}

/// Sets `value` at every spec selecting each resource (custom namespace field specs).
/// The PrefixSuffixTransformer: `metadata/name` renames (remembering the old name); any
/// other path gets the prefix and suffix around its string value. CRDs, Namespaces and
/// APIServices keep their names.
fn prefix_suffix(ra: &mut [Resource], prefix: &str, suffix: &str, specs: &[FieldSpec]) {
    for r in ra.iter_mut() {
        let (g, _) = r.group_version();
        if matches!(r.kind(), "CustomResourceDefinition" | "Namespace")
            || (r.kind() == "APIService" && g == "apiregistration.k8s.io")
        {
            continue;
        }
        let selected: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects(r)).collect();
        for s in selected {
            if s.path == ["metadata", "name"] {
                let n = format!("{prefix}{}{suffix}", r.name());
                r.set_name(n);
                if !prefix.is_empty() {
                    r.prefixes.push(prefix.to_owned());
                }
                if !suffix.is_empty() {
                    r.suffixes.push(suffix.to_owned());
                }
                continue;
            }
            fieldspec::apply(r, std::slice::from_ref(s), &mut |v: &mut Value| {
                if let Value::String(x) = v {
                    *x = format!("{prefix}{x}{suffix}");
                }
            });
        }
    }
}

/// The ReplicaCountTransformer: `count` at the specs of every resource whose original or
/// current name is `name` and whose kind a spec selects; no such resource is an error, as in
/// kustomize's plugin/builtin/replicacounttransformer (`found`, GetMatchingResourcesByOriginalId
/// and ByCurrentId).
fn set_replicas(
    ra: &mut [Resource],
    name: &str,
    count: &Value,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let mut found = false;
    for r in ra
        .iter_mut()
        .filter(|r| r.name() == name || r.original_name() == name)
    {
        let selected: Vec<FieldSpec> = specs.iter().filter(|s| s.selects(r)).cloned().collect();
        if selected.is_empty() {
            continue;
        }
        found = true;
        fieldspec::apply(r, &selected, &mut |v: &mut Value| {
            *v = count.clone();
        });
    }
    if found {
        return Ok(());
    }
    let gvks: Vec<String> = specs
        .iter()
        .map(|s| {
            let or = |x: &Option<String>, d: &str| {
                x.clone()
                    .filter(|x| !x.is_empty())
                    .unwrap_or_else(|| d.to_owned())
            };
            format!(
                "{}.{}.{}",
                or(&s.kind, "[noKind]"),
                or(&s.version, "[noVer]"),
                or(&s.group, "[noGrp]")
            )
        })
        .collect();
    Err(Error::other(format!(
        "resource with name {name} does not match a config with the following GVK [{}]",
        gvks.join(" ")
    )))
}

/// The ImageTagTransformer: every container list (the legacy filter), then the extra field
/// specs.
fn set_images(ra: &mut [Resource], rule: &Value, specs: &[FieldSpec]) {
    let rules = std::slice::from_ref(rule);
    for r in ra.iter_mut() {
        let mut v = Value::Object(std::mem::take(&mut r.obj));
        update_images(&mut v, rules);
        if let Value::Object(m) = v {
            r.obj = m;
        }
        let selected: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects(r)).collect();
        if selected.is_empty() {
            continue;
        }
        let mut root = Value::Object(std::mem::take(&mut r.obj));
        for s in selected {
            fieldspec::visit(&mut root, &s.path, false, &mut |v: &mut Value| {
                if let Value::String(img) = v
                    && let Some(n) = new_image(img, rule)
                {
                    *img = n;
                }
            });
        }
        if let Value::Object(m) = root {
            r.obj = m;
        }
    }
}

/// The checks a built-in plugin's `Config` makes (api/builtins), worded as the plugin
/// loader reports them: `plugin <config id> fails configuration: <why>`.
fn check_plugin_config(c: &Value) -> Result<(), Error> {
    let why = match str_field(c, "kind") {
        // PatchJson6902Transformer.Config
        "PatchJson6902Transformer" => {
            let target = c.get("target").filter(|t| !t.is_null());
            let (path, op) = (str_field(c, "path"), str_field(c, "jsonOp"));
            match target {
                None => Some(format!("must specify a target for patch {op}")),
                Some(t) if str_field(t, "name").is_empty() => {
                    Some("must specify the target name".to_owned())
                }
                Some(_) if path.is_empty() && op.is_empty() => {
                    Some("empty file path and empty jsonOp".to_owned())
                }
                Some(_) if !path.is_empty() && !op.is_empty() => {
                    Some("must specify a file path or jsonOp, not both".to_owned())
                }
                Some(_) => None,
            }
        }
        _ => None,
    };
    match why {
        None => Ok(()),
        Some(why) => {
            let meta = c.get("metadata").cloned().unwrap_or(Value::Null);
            let (g, v) = split_api_version(str_field(c, "apiVersion"));
            Err(Error::other(format!(
                "plugin {} fails configuration: {why}",
                id_string(
                    g,
                    v,
                    str_field(c, "kind"),
                    str_field(&meta, "name"),
                    str_field(&meta, "namespace")
                )
            )))
        }
    }
}

/// Field specs written in a plugin config's `fieldSpecs`.
fn plugin_specs(c: &Value) -> Vec<FieldSpec> {
    c.get("fieldSpecs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(FieldSpec::from_value).collect())
        .unwrap_or_default()
}

/// Built-in plugins kustomize runs from `transformers:`/`generators:` configs
/// (api/internal/plugins/builtinhelpers/builtins.go).
const BUILTIN_PLUGINS: &[&str] = &[
    "AnnotationsTransformer",
    "ConfigMapGenerator",
    "HashTransformer",
    "ImageTagTransformer",
    "LabelTransformer",
    "NamespaceTransformer",
    "PatchJson6902Transformer",
    "PatchStrategicMergeTransformer",
    "PatchTransformer",
    "PrefixSuffixTransformer",
    "PrefixTransformer",
    "SuffixTransformer",
    "ReplicaCountTransformer",
    "ReplacementTransformer",
    "SecretGenerator",
    "ValueAddTransformer",
];

impl Builder<'_> {
    /// The plugin configs named by `transformers:`/`generators:`/`validators:` entries, each
    /// with the path of its origin when origins are tracked: inline YAML first (the
    /// kustomization file), then files and kustomization directories (built with their own
    /// transformations) in the order listed (kusttarget.go `configureExternalTransformers`
    /// appends the inline configs, then accumulates the paths).
    fn plugin_configs(
        &mut self,
        dir: &Path,
        k: &Kustomization,
        field: &str,
    ) -> Result<Vec<(Value, Option<String>)>, Error> {
        let mut out = Vec::new();
        let mut paths = Vec::new();
        for entry in strings(k, field) {
            let inline = load(&entry, Path::new("<inline>"))
                .ok()
                .filter(|docs| docs.iter().any(Value::is_object));
            if let Some(docs) = inline {
                let origin = self.origins.then(|| self.configured_in(dir));
                out.extend(
                    docs.into_iter()
                        .filter(Value::is_object)
                        .map(|d| (d, origin.clone())),
                );
                continue;
            }
            paths.push(entry);
        }
        for entry in paths {
            let joined = clean(&dir.join(&entry));
            if self.fs.is_dir(&joined) {
                let real = self.fs.canonicalize(&joined).map_err(|e| Error::Read {
                    path: joined.clone(),
                    source: e,
                })?;
                let mut sub = Vec::new();
                let mut sub_acc = Acc::default();
                let saved = self.rel.clone();
                self.rel = clean(&saved.join(&entry));
                let res = self.accumulate(&real, &mut sub, &mut sub_acc, false);
                self.rel = saved;
                res?;
                out.extend(sub.into_iter().map(|r| {
                    let origin = r.origin.as_deref().map(|o| {
                        o.strip_prefix("path: ")
                            .and_then(|p| p.lines().next())
                            .unwrap_or_default()
                            .to_owned()
                    });
                    (Value::Object(r.obj), origin)
                }));
                continue;
            }
            let path = self.file_in(dir, &entry)?;
            let origin = self
                .origins
                .then(|| clean(&self.rel.join(&entry)).display().to_string());
            out.extend(
                self.load_objects(&path)?
                    .into_iter()
                    .map(|o| (Value::Object(o), origin.clone())),
            );
        }
        for (c, _) in &out {
            let kind = str_field(c, "kind");
            if str_field(c, "apiVersion") != "builtin" || !BUILTIN_PLUGINS.contains(&kind) {
                return Err(Error::Unsupported {
                    what: format!("the {field} plugin {kind}"),
                    detail: "only kustomize's built-in plugins (apiVersion: builtin) run; exec and Go plugins do not".into(),
                });
            }
        }
        Ok(out)
    }

    /// Runs a built-in generator configured in a file.
    fn run_generator(
        &mut self,
        dir: &Path,
        c: &Value,
        ra: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let kind = str_field(c, "kind");
        let field = match kind {
            "ConfigMapGenerator" => "configMapGenerator",
            "SecretGenerator" => "secretGenerator",
            other => {
                return Err(Error::Unsupported {
                    what: format!("{other} as a generator"),
                    detail: dir.display().to_string(),
                });
            }
        };
        let mut args = c.as_object().cloned().unwrap_or_default();
        let meta = c.get("metadata").cloned().unwrap_or(Value::Null);
        for key in ["name", "namespace"] {
            let empty = args
                .get(key)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty && let Some(v) = meta.get(key) {
                args.insert(key.into(), v.clone());
            }
        }
        let mut k = Kustomization::new();
        k.insert(field.into(), Value::Array(vec![Value::Object(args)]));
        self.generate(dir, &k, ra)
    }

    /// Runs a built-in transformer configured in a file, with the field specs it names.
    fn run_transformer(
        &mut self,
        dir: &Path,
        c: &Value,
        ra: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let specs = plugin_specs(c);
        let none = TransformerConfig::default();
        let mut k = Kustomization::new();
        match str_field(c, "kind") {
            // both do nothing without pairs (api/builtins LabelTransformer,
            // AnnotationsTransformer: `if len(p.Labels) == 0 { return nil }`)
            "LabelTransformer" | "AnnotationsTransformer" => {
                let field = if str_field(c, "kind") == "LabelTransformer" {
                    "labels"
                } else {
                    "annotations"
                };
                let pairs = string_map(c.get(field));
                if !pairs.is_empty() {
                    set_pairs(ra, &specs, &pairs);
                }
            }
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                prefix_suffix(ra, str_field(c, "prefix"), str_field(c, "suffix"), &specs)
            }
            "ImageTagTransformer" => {
                if let Some(rule) = c.get("imageTag") {
                    set_images(ra, rule, &specs);
                }
            }
            "ReplicaCountTransformer" => {
                let rep = c.get("replica").cloned().unwrap_or(Value::Null);
                let count = rep.get("count").cloned().unwrap_or(Value::Null);
                set_replicas(ra, str_field(&rep, "name"), &count, &specs)?;
            }
            "NamespaceTransformer" => {
                namespace_plugin(ra, c, &specs)?;
            }
            "PatchTransformer" => {
                let mut p = Map::new();
                for key in ["path", "patch", "target", "options"] {
                    if let Some(v) = c.get(key) {
                        p.insert(key.into(), v.clone());
                    }
                }
                k.insert("patches".into(), Value::Array(vec![Value::Object(p)]));
                self.transform(dir, &k, ra, &none, false)?;
            }
            "PatchStrategicMergeTransformer" => {
                let mut paths: Vec<Value> = c
                    .get("paths")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(p) = c.get("patches").filter(|p| !p.is_null()) {
                    paths.push(p.clone());
                }
                k.insert("patchesStrategicMerge".into(), Value::Array(paths));
                self.transform(dir, &k, ra, &none, false)?;
            }
            "PatchJson6902Transformer" => {
                let mut p = Map::new();
                for (from, to) in [("path", "path"), ("jsonOp", "patch"), ("target", "target")] {
                    if let Some(v) = c.get(from) {
                        p.insert(to.into(), v.clone());
                    }
                }
                k.insert(
                    "patchesJson6902".into(),
                    Value::Array(vec![Value::Object(p)]),
                );
                self.transform(dir, &k, ra, &none, false)?;
            }
            "ReplacementTransformer" => {
                k.insert(
                    "replacements".into(),
                    c.get("replacements").cloned().unwrap_or(Value::Null),
                );
                self.transform(dir, &k, ra, &none, false)?;
            }
            "ValueAddTransformer" => value_add(dir, c, ra)?,
            "HashTransformer" => add_hashes(ra),
            other => {
                return Err(Error::Unsupported {
                    what: format!("{other} as a transformer"),
                    detail: dir.display().to_string(),
                });
            }
        }
        Ok(())
    }
}

impl Builder<'_> {
    /// kusttarget.go `runValidators`: a built-in plugin config run as a validator must leave
    /// the resources as they were (but for a `validated-by` label, which it may add and
    /// which stays). kustomize compares YAML nodes (`reflect.DeepEqual` of the RNodes), so a
    /// validator that writes a field with the value it had is an error there too, unless
    /// the node it replaces was itself written by a transformer: which of these applies is
    /// not known here, and such a validator is refused as not supported.
    fn run_validator(
        &mut self,
        dir: &Path,
        c: &Value,
        ra: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let before: Vec<Map<String, Value>> = ra.iter().map(|r| r.obj.clone()).collect();
        self.run_transformer(dir, c, ra)?;
        let fail = |why: String| {
            Error::other(format!(
                "validator shouldn't modify the resource map: {why}"
            ))
        };
        if before.len() != ra.len() {
            return Err(fail("lists have different number of entries".into()));
        }
        let mut after: Vec<Map<String, Value>> = ra.iter().map(|r| r.obj.clone()).collect();
        for obj in &mut after {
            if let Some(Value::Object(labels)) =
                obj.get_mut("metadata").and_then(|m| m.get_mut("labels"))
            {
                labels.shift_remove("validated-by");
            }
        }
        let id = |o: &Map<String, Value>| {
            let v = Value::Object(o.clone());
            let meta = v.get("metadata").cloned().unwrap_or(Value::Null);
            let (g, ver) = split_api_version(str_field(&v, "apiVersion"));
            id_string(
                g,
                ver,
                str_field(&v, "kind"),
                str_field(&meta, "name"),
                str_field(&meta, "namespace"),
            )
        };
        for b in &before {
            let Some(a) = after.iter().find(|a| id(a) == id(b)) else {
                return Err(fail(format!(
                    "id in self missing from other; id: {}",
                    id(b)
                )));
            };
            if a != b {
                return Err(fail("nodes unequal: ".into()));
            }
        }
        if ra.iter().any(|r| !r.obj.is_empty()) && validator_writes(c) {
            return Err(Error::Unsupported {
                what: format!("the built-in {} as a validator", str_field(c, "kind")),
                detail: format!(
                    "{}: it leaves the values as they are, but kustomize compares YAML nodes and may still find it modified the resources",
                    dir.display()
                ),
            });
        }
        Ok(())
    }
}

/// Whether a plugin config, run as a validator that changed no value, may still have
/// rewritten a field: anything but an empty configuration (no labels, annotations, images,
/// patches or replacements to apply) may.
fn validator_writes(c: &Value) -> bool {
    let has = |key: &str| match c.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    match str_field(c, "kind") {
        "LabelTransformer" => has("labels"),
        "AnnotationsTransformer" => has("annotations"),
        "PatchStrategicMergeTransformer" => has("paths") || has("patches"),
        "ReplacementTransformer" => has("replacements"),
        _ => true,
    }
}

/// The NamespaceTransformer plugin (api/builtins NamespaceTransformer.go and
/// api/filters/namespace/namespace.go): nothing without a namespace; `metadata.namespace` of
/// every namespaceable object whatever the field specs say (`metaNamespaceHack`), RBAC
/// binding subjects as `setRoleBindingSubjects` says (`defaultOnly`: those named
/// "default"; `allServiceAccounts`; `none`), then the other field specs (`metadata/name`
/// only for `apiVersion: v1`); `unsetOnly` sets only empty fields; each object must keep a
/// unique id.
fn namespace_plugin(ra: &mut [Resource], c: &Value, specs: &[FieldSpec]) -> Result<(), Error> {
    let ns = c
        .get("metadata")
        .map(|m| str_field(m, "namespace"))
        .unwrap_or_default();
    if ns.is_empty() {
        return Ok(());
    }
    let unset_only = c.get("unsetOnly").and_then(Value::as_bool) == Some(true);
    let mode = str_field(c, "setRoleBindingSubjects");
    if !matches!(mode, "" | "defaultOnly" | "allServiceAccounts" | "none") {
        return Err(Error::other(format!(
            "namespace transformation failed: invalid value \"{mode}\" for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
        )));
    }
    let empty = |v: &Value| v.is_null() || v.as_str() == Some("");
    for r in ra.iter_mut() {
        if r.obj.is_empty() {
            continue;
        }
        if r.is_namespaceable() && (!unset_only || r.namespace().is_empty()) {
            r.set_namespace(ns.to_owned());
        }
        let binding = matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding");
        if binding
            && mode != "none"
            && let Some(Value::Array(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects.iter_mut() {
                let wanted = if mode == "allServiceAccounts" {
                    str_field(s, "kind") == "ServiceAccount"
                } else {
                    str_field(s, "name") == "default"
                };
                if let Value::Object(m) = s
                    && wanted
                    && (!unset_only || m.get("namespace").is_none_or(empty))
                {
                    m.insert("namespace".into(), Value::String(ns.to_owned()));
                }
            }
        }
        let v1 = r.obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
        let rest: Vec<FieldSpec> = specs
            .iter()
            .filter(|s| s.path != ["metadata", "namespace"])
            .filter(|s| v1 || s.path != ["metadata", "name"])
            .filter(|s| {
                !(binding
                    && s.path == ["subjects", "namespace"]
                    && s.kind
                        .as_deref()
                        .is_some_and(|k| k == "RoleBinding" || k == "ClusterRoleBinding"))
            })
            .cloned()
            .collect();
        let before = r.name().to_owned();
        fieldspec::apply(r, &rest, &mut |v: &mut Value| {
            if !unset_only || empty(v) {
                *v = Value::String(ns.to_owned());
            }
        });
        let after = r.name().to_owned();
        if after != before {
            r.metadata_mut()
                .insert("name".into(), Value::String(before));
            r.set_name(after);
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(ra.len());
    if ra
        .iter()
        .filter(|r| !r.obj.is_empty())
        .any(|r| !seen.insert(dup_key(r)))
    {
        return Err(Error::other(
            "namespace transformation produces ID conflict".to_owned(),
        ));
    }
    Ok(())
}

/// The ValueAddTransformer: a value (the kustomization directory's name when not given)
/// written at each target's path, or inserted into a file path held there
/// (`filePathPosition`, 1-based).
fn value_add(dir: &Path, c: &Value, ra: &mut [Resource]) -> Result<(), Error> {
    let mut value = str_field(c, "value").to_owned();
    if value.is_empty() {
        value = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let Some(Value::Array(targets)) = c.get("targets") else {
        return Ok(());
    };
    for t in targets {
        let sel = match t.get("selector").filter(|s| !s.is_null()) {
            Some(s) => Some(Selector::new(s)?),
            None => None,
        };
        let path = fieldspec::split_path(str_field(t, "fieldPath"));
        let pos = t
            .get("filePathPosition")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        for r in ra.iter_mut() {
            if sel.as_ref().is_some_and(|s| !s.selects(r)) {
                continue;
            }
            if path == ["metadata", "namespace"] && pos == 0 {
                if r.is_namespaceable() {
                    r.set_namespace(value.clone());
                }
                continue;
            }
            let mut root = Value::Object(std::mem::take(&mut r.obj));
            fieldspec::visit(&mut root, &path, true, &mut |v: &mut Value| {
                if pos == 0 {
                    *v = Value::String(value.clone());
                    return;
                }
                let old = match v {
                    Value::String(s) => s.clone(),
                    _ => String::new(),
                };
                let mut parts: Vec<&str> = old.split('/').filter(|p| !p.is_empty()).collect();
                let at = (pos - 1).min(parts.len());
                parts.insert(at, &value);
                *v = Value::String(parts.join("/"));
            });
            if let Value::Object(m) = root {
                r.obj = m;
            }
        }
    }
    Ok(())
}

/// A built-in plugin's config as kustomize prints it in "trouble configuring" errors: the
/// kustomization entry's fields under the plugin's names, empty ones left out.
fn plugin_config_yaml(entry: &Value, fields: &[(&str, &str)]) -> String {
    let mut m = Map::new();
    for (from, to) in fields {
        match entry.get(*from) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(v) => {
                m.insert((*to).to_owned(), v.clone());
            }
        }
    }
    to_yaml(&Value::Object(m))
}

#[cfg(test)]
mod selector_tests {
    use super::*;

    /// Literal selector fields match exactly as their anchored regex would; fields with
    /// metacharacters stay regular expressions (kustomize api/types/selector.go).
    #[test]
    fn literal_patterns_match_as_their_anchored_regex() {
        let t = serde_json::json!({"name": "app-0.x", "kind": "Deploy.*"});
        let sel = Selector::new(&t).expect("selector");
        assert!(matches!(sel.kind, Some(Pattern::Regex(_))));
        assert!(
            matches!(sel.name, Some(Pattern::Regex(_))),
            "'.' is a metacharacter"
        );
        let t = serde_json::json!({"name": "app-0_x~y#z&w", "kind": "Deployment"});
        let sel = Selector::new(&t).expect("selector");
        for (f, text) in [(&sel.name, "app-0_x~y#z&w"), (&sel.kind, "Deployment")] {
            let Some(Pattern::Exact(p)) = f else {
                panic!("literal expected");
            };
            let re = regex::Regex::new(&format!("^(?:{p})$")).expect("regex");
            for probe in [text, "x", "", "Deployments", "app-0_x~y#z&", "aDeployment"] {
                assert_eq!(p == probe, re.is_match(probe), "{p} vs {probe}");
            }
        }
    }
}
