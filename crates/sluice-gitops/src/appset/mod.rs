//! The ApplicationSet generator engine (argo-cd `applicationset/generators`,
//! `applicationset/utils`, `applicationset/controllers/template`): an ApplicationSet and
//! its inputs (cluster Secrets, repositories through [`Repos`]) in, the Applications Argo CD
//! would generate out, or every error with its field path.
//!
//! Upstream behaviour kept:
//! - Each entry of `spec.generators` is transformed alone (`generators.Transform`): every
//!   generator set in the entry produces parameter sets, its own `template` is merged under
//!   the ApplicationSet's (mergo: the generator's non-empty fields win), the entry's
//!   `selector` filters the sets on their string values.
//! - Matrix has exactly two children; the second is interpolated with each parameter set
//!   of the first; combination generators nest once; nested selectors apply only with
//!   `applyNestedSelectors`. Merge needs two children and a merge key; the first child is
//!   the base, the others override by merge key (unique there).
//! - The template is rendered string by string (map keys too), fasttemplate leaving unknown
//!   tags, Go templates with `goTemplateOptions`; then the `resources-finalizer` is added
//!   unless the template has finalizers or `preserveResourcesOnDeletion`; then
//!   `templatePatch` is rendered and applied as a strategic merge patch.
//! - The Application goes through the typed `Application` (Go's `omitempty`: `false`,
//!   empty strings and lists disappear), as the controller's structs do.
//!
//! Bounds: a generator (and a matrix product, checked before it is built) yields at most
//! [`MAX_PARAM_SETS`] parameter sets; each Application renders within one
//! `sluice_expr::appset::TEMPLATE_LIMITS` budget, all of them within
//! [`MAX_GENERATED_BYTES`] and [`MAX_GENERATE_TIME`]; git files are parsed within the YAML
//! loader's limits.

mod generators;
mod params;
mod render;

use serde_json::{Map, Value};
use sluice_expr::appset::{Engine, GoOptions};

use crate::repo::Repos;

pub use params::{ParamSet, combine_string_maps, flatten, go_sprint};
pub use render::sort_keys;

/// Parameter sets one generator (or one matrix product) may yield.
pub const MAX_PARAM_SETS: usize = 10_000;

/// Bytes (as JSON) of all the Applications of one ApplicationSet: each renders within its
/// own template budget (16 MiB), and together they stay within this.
pub const MAX_GENERATED_BYTES: usize = 256 * 1024 * 1024;

/// Wall-clock time of one ApplicationSet's generation (each Application also has the
/// template budget's 2 s).
pub const MAX_GENERATE_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// An error of generation, at a field path of the ApplicationSet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct GenerateError {
    pub path: String,
    pub message: String,
}

impl GenerateError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        GenerateError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What the generators read besides the ApplicationSet.
pub struct Inputs<'a> {
    /// Objects among which the Argo CD cluster Secrets are (Secrets labelled
    /// `argocd.argoproj.io/secret-type: cluster`; everything else is ignored).
    pub objects: &'a [Value],
    /// The repositories of git generators.
    pub repos: &'a dyn Repos,
}

/// The settings of one ApplicationSet that every generator sees.
pub(crate) struct Settings {
    pub go: bool,
    pub engine: Engine,
    pub apply_nested_selectors: bool,
}

/// Generates the Applications of `appset` (an ApplicationSet object), in Argo CD's order:
/// generator entry by entry, parameter set by parameter set. Every error is returned, each
/// with its field path; nothing is returned when any generator or rendering failed (the
/// server's `Generate` fails the same way).
pub fn generate(appset: &Value, inputs: &Inputs<'_>) -> Result<Vec<Value>, Vec<GenerateError>> {
    let mut errs = Vec::new();
    let Some(spec) = appset.get("spec").and_then(Value::as_object) else {
        return Err(vec![GenerateError::new("spec", "Required value")]);
    };
    let go = match spec.get("goTemplate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errs.push(GenerateError::new("spec.goTemplate", "expected a boolean"));
            false
        }
    };
    let mut opts: Vec<&str> = Vec::new();
    match spec.get("goTemplateOptions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, o) in a.iter().enumerate() {
                match o.as_str() {
                    Some(s) => opts.push(s),
                    None => errs.push(GenerateError::new(
                        format!("spec.goTemplateOptions[{i}]"),
                        "expected a string",
                    )),
                }
            }
        }
        Some(_) => errs.push(GenerateError::new(
            "spec.goTemplateOptions",
            "expected a list of strings",
        )),
    }
    let go_options = match GoOptions::parse(opts.iter().copied()) {
        Ok(o) => o,
        Err(e) => {
            errs.push(GenerateError::new("spec.goTemplateOptions", e));
            GoOptions::default()
        }
    };
    let settings = Settings {
        go,
        engine: if go {
            Engine::Go(go_options)
        } else {
            Engine::Fast
        },
        apply_nested_selectors: spec
            .get("applyNestedSelectors")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let template = match spec.get("template") {
        Some(t @ Value::Object(_)) => t.clone(),
        None | Some(Value::Null) => {
            errs.push(GenerateError::new("spec.template", "Required value"));
            Value::Object(Map::new())
        }
        Some(_) => {
            errs.push(GenerateError::new("spec.template", "expected an object"));
            Value::Object(Map::new())
        }
    };
    let patch = match spec.get("templatePatch") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            errs.push(GenerateError::new(
                "spec.templatePatch",
                "expected a string",
            ));
            None
        }
    };
    let preserve = spec
        .get("syncPolicy")
        .and_then(|p| p.get("preserveResourcesOnDeletion"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let gens = match spec.get("generators") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => {
            errs.push(GenerateError::new("spec.generators", "Required value"));
            &[]
        }
        Some(_) => {
            errs.push(GenerateError::new("spec.generators", "expected a list"));
            &[]
        }
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let appset_ns = appset
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let mut g = generators::Generators::new(&settings, inputs);
    let mut apps = Vec::new();
    let started = std::time::Instant::now();
    let mut bytes = 0usize;
    for (i, entry) in gens.iter().enumerate() {
        let path = format!("spec.generators[{i}]");
        let results = match g.transform(entry, &path, Some(&template), None, 0, false) {
            Ok(r) => r,
            Err(e) => {
                errs.extend(e);
                continue;
            }
        };
        for r in results {
            for (j, p) in r.params.iter().enumerate() {
                let job = render::Job {
                    settings: &settings,
                    template: &r.template,
                    own_template: r.own_template.as_ref(),
                    params: p,
                    origin: format!("{}, parameter set {j}", r.origin),
                    preserve,
                    patch,
                    namespace: appset_ns,
                };
                match render::application(&job) {
                    Ok(app) => {
                        bytes += serde_json::to_vec(&app).map(|v| v.len()).unwrap_or(0);
                        apps.push(app);
                    }
                    Err(e) => errs.extend(e),
                }
                if bytes > MAX_GENERATED_BYTES || started.elapsed() > MAX_GENERATE_TIME {
                    errs.push(GenerateError::new(
                        path.as_str(),
                        format!(
                            "generation stopped: the Applications exceed {} MiB or {} s",
                            MAX_GENERATED_BYTES / (1024 * 1024),
                            MAX_GENERATE_TIME.as_secs()
                        ),
                    ));
                    return Err(errs);
                }
            }
        }
    }
    if errs.is_empty() { Ok(apps) } else { Err(errs) }
}

/// The parameter sets a generator entry yields and the template they render with.
pub(crate) struct TransformResult {
    pub params: Vec<ParamSet>,
    pub template: Value,
    /// The generator's own template and its path, when it has one (rendering errors in
    /// fields it sets are reported there, the others at `spec.template`).
    pub own_template: Option<(String, Value)>,
    /// The generator's path, for messages.
    pub origin: String,
}
