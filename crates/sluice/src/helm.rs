//! `sluice helm template NAME CHART`: Helm's `helm template`, in process (sluice-helm).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;
use sluice_helm::render::{Capabilities, DEFAULT_API_VERSIONS, RenderOptions};
use sluice_helm::strvals::{self, Mode};
use sluice_helm::values::merge_maps;

use crate::exit;

#[derive(Debug, Subcommand)]
pub enum HelmCommand {
    /// Render a chart directory and print the manifests, as `helm template NAME CHART`.
    Template(TemplateArgs),
    /// Package a chart directory into NAME-VERSION.tgz, as `helm package DIR`.
    Package(crate::helm_oci::PackageArgs),
    /// Push a packaged chart to an OCI registry, as `helm push CHART.tgz oci://HOST/PROJECT`.
    Push(crate::helm_oci::PushArgs),
    /// Pull a chart from an OCI registry, as `helm pull oci://HOST/PROJECT/NAME --version V`.
    Pull(crate::helm_oci::PullArgs),
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The release name (`.Release.Name`).
    pub name: String,
    /// The chart directory.
    pub chart: PathBuf,
    /// A values file (YAML); repeat it, later files win.
    #[arg(short = 'f', long = "values")]
    pub values: Vec<PathBuf>,
    /// Values on the command line: `a.b=c,list[0]=x,l={a,b}`.
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Like --set, but every value is a string.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// Like --set, the value a file's content: `key=path`.
    #[arg(long = "set-file")]
    pub set_file: Vec<String>,
    /// Like --set, the value JSON: `key={"a":1}`.
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// The release namespace (`.Release.Namespace`).
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    pub namespace: String,
    /// Print the CRDs of the charts' crds/ directories first.
    #[arg(long)]
    pub include_crds: bool,
    /// Leave the CRDs out (the default without --include-crds).
    #[arg(long)]
    pub skip_crds: bool,
    /// Leave hooks out.
    #[arg(long)]
    pub no_hooks: bool,
    /// Do not validate values against the charts' values.schema.json.
    #[arg(long)]
    pub skip_schema_validation: bool,
    /// `.Capabilities.KubeVersion` (default v1.32.0).
    #[arg(long)]
    pub kube_version: Option<String>,
    /// An API version for `.Capabilities.APIVersions` (`group/version` or
    /// `group/version/Kind`), added to the defaults; repeat it.
    #[arg(short = 'a', long = "api-versions")]
    pub api_versions: Vec<String>,
}

fn user_values(args: &TemplateArgs) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut vals = serde_json::Map::new();
    for f in &args.values {
        let text = crate::input::read_named(&f.to_string_lossy())?;
        let docs = sluice_core::yaml::load_documents_with(
            &text,
            &sluice_core::yaml::Options {
                last_key_wins: true,
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        match docs.into_iter().next().map(|d| d.value) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => merge_maps(&mut vals, m),
            Some(_) => anyhow::bail!("{}: values must be a YAML mapping", f.display()),
        }
    }
    for s in &args.set_json {
        strvals::parse_into(s, &mut vals, Mode::Json)
            .map_err(|e| anyhow::anyhow!("failed parsing --set-json data {s:?}: {e}"))?;
    }
    for s in &args.set {
        strvals::parse_into(s, &mut vals, Mode::Typed)
            .map_err(|e| anyhow::anyhow!("failed parsing --set data: {e}"))?;
    }
    for s in &args.set_string {
        strvals::parse_into(s, &mut vals, Mode::String)
            .map_err(|e| anyhow::anyhow!("failed parsing --set-string data: {e}"))?;
    }
    for s in &args.set_file {
        let Some((k, path)) = s.split_once('=') else {
            anyhow::bail!("failed parsing --set-file data: {s:?} is not key=path");
        };
        let content = crate::input::read_named(path)?;
        let mut one = serde_json::Map::new();
        strvals::parse_into(&format!("{k}=x"), &mut one, Mode::String)
            .map_err(|e| anyhow::anyhow!("failed parsing --set-file data: {e}"))?;
        set_leaf(&mut one, Value::String(content));
        merge_maps(&mut vals, one);
    }
    Ok(vals)
}

/// Replaces the single leaf `"x"` that `parse_into` put at the key path.
fn set_leaf(m: &mut serde_json::Map<String, Value>, v: Value) {
    for (_, x) in m.iter_mut() {
        match x {
            Value::Object(inner) => set_leaf(inner, v.clone()),
            Value::Array(a) => {
                for y in a.iter_mut() {
                    match y {
                        Value::Object(inner) => set_leaf(inner, v.clone()),
                        Value::String(_) => *y = v.clone(),
                        _ => {}
                    }
                }
            }
            _ => *x = v.clone(),
        }
    }
}

pub fn run(cmd: &HelmCommand) -> anyhow::Result<u8> {
    let args = match cmd {
        HelmCommand::Template(a) => a,
        HelmCommand::Package(a) => return crate::helm_oci::package(a),
        HelmCommand::Push(a) => return crate::helm_oci::push(a),
        HelmCommand::Pull(a) => return crate::helm_oci::pull(a),
    };
    let vals = user_values(args)?;
    let mut apis: Vec<String> = DEFAULT_API_VERSIONS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    apis.extend(args.api_versions.iter().cloned());
    let capabilities = match &args.kube_version {
        Some(v) => Capabilities::with_version(v, apis)?,
        None => Capabilities {
            api_versions: apis,
            ..Capabilities::default()
        },
    };
    let opts = RenderOptions {
        release_name: args.name.clone(),
        namespace: args.namespace.clone(),
        capabilities,
        include_crds: args.include_crds,
        skip_crds: args.skip_crds,
        no_hooks: args.no_hooks,
        skip_schema_validation: args.skip_schema_validation,
    };
    let rendered = sluice_helm::load_chart(&sluice_helm::DiskFs, &args.chart)
        .and_then(|c| sluice_helm::render(&c, &vals, &opts));
    match rendered {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(exit::FINDINGS)
        }
    }
}
