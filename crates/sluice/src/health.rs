//! `sluice health -f OBJECT [--argocd-cm FILE | --lua SCRIPT] [-o json]`: one object's health
//! as Argo CD judges it (sluice_health).

use std::io::Write;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use sluice_core::object::load_objects;
use sluice_core::yaml::inner_pos;
use sluice_core::{FieldPath, Limits, PathSeg, Pos};
use sluice_health::lua::{LuaOptions, run_health_script};
use sluice_health::overrides::ResourceOverrides;
use sluice_health::{HealthStatus, resource_health};

use crate::{exit, input};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// One object's health as Argo CD judges it: Healthy, Progressing, Degraded, Suspended,
/// Missing or Unknown, with a message.
///
/// The object's group/kind health script from an argocd-cm ConfigMap (`--argocd-cm`) or the
/// given Lua script (`--lua`, run as Argo CD runs its own scripts: standard libraries open)
/// applies first; otherwise Argo CD's built-in checks (Deployment, StatefulSet, DaemonSet,
/// ReplicaSet, Pod, Service, Ingress, PersistentVolumeClaim, Job, HorizontalPodAutoscaler,
/// APIService, Workflow, Application, Rollout). A script that fails gives Unknown with the
/// error, as in Argo CD. Prints `STATUS` or `STATUS: MESSAGE` (`-o json`:
/// `{"status": ..., "message": ...}`; both null when no check applies to the object).
#[derive(Debug, Args)]
#[command(after_help = exit::EXIT_CODES_HELP)]
pub struct HealthArgs {
    /// The object (YAML or JSON, one document; `-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "OBJECT")]
    file: String,
    /// An argocd-cm ConfigMap whose `resource.customizations` (or
    /// `resource.customizations.health.<group>_<kind>`) health scripts apply.
    #[arg(long = "argocd-cm", value_name = "FILE", conflicts_with = "lua")]
    argocd_cm: Option<String>,
    /// A Lua health script to run against the object (global `obj`).
    #[arg(long = "lua", value_name = "SCRIPT")]
    lua: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

fn read(path: &str) -> Result<String> {
    if path == "-" {
        input::read_text("-", std::io::stdin().lock(), None)
    } else {
        input::read_named(path)
    }
}

/// A finding in an input file: printed as `file:line:col: error: message`.
struct Bad(String);

fn bad(file: &str, pos: Pos, msg: impl std::fmt::Display) -> Bad {
    Bad(format!("{file}:{pos}: error: {msg}"))
}

pub fn run(args: &HealthArgs) -> Result<u8> {
    let obj_text = read(&args.file)?;
    let script = args.lua.as_deref().map(read).transpose()?;
    let cm_text = args.argocd_cm.as_deref().map(read).transpose()?;
    match judge(args, &obj_text, script.as_deref(), cm_text.as_deref()) {
        Ok(h) => {
            print(args.output, h.as_ref())?;
            Ok(exit::OK)
        }
        Err(Bad(msg)) => {
            eprintln!("{msg}");
            Ok(exit::FINDINGS)
        }
    }
}

fn judge(
    args: &HealthArgs,
    obj_text: &str,
    script: Option<&str>,
    cm_text: Option<&str>,
) -> Result<Option<HealthStatus>, Bad> {
    let file = args.file.as_str();
    let (obj, n) =
        sluice_health::load_object(obj_text).map_err(|e| bad(file, e.pos(), e.message()))?;
    let Some(obj) = obj else {
        return Err(bad(file, Pos { line: 1, col: 1 }, "no object in the file"));
    };
    if n > 1 {
        return Err(bad(
            file,
            Pos { line: 1, col: 1 },
            format!("{n} documents: give one object"),
        ));
    }
    let Value::Object(m) = &obj else {
        return Err(bad(
            file,
            Pos { line: 1, col: 1 },
            "not an object (a mapping)",
        ));
    };
    if !m.get("apiVersion").is_some_and(Value::is_string)
        || !m.get("kind").is_some_and(Value::is_string)
    {
        return Err(bad(
            file,
            Pos { line: 1, col: 1 },
            "not a Kubernetes object: apiVersion and kind must be strings",
        ));
    }
    if let (Some(script), Some(path)) = (script, args.lua.as_deref()) {
        let lint = sluice_health::lint::lint_script(script, true);
        if let Some(f) = lint.iter().find(|f| f.message.starts_with("syntax error")) {
            return Err(bad(path, f.at, &f.message));
        }
        let opts = LuaOptions {
            open_libs: true,
            ..LuaOptions::default()
        };
        return Ok(Some(run_health_script(&obj, script, &opts)));
    }
    let overrides = match (cm_text, args.argocd_cm.as_deref()) {
        (Some(text), Some(path)) => configmap_overrides(path, text)?,
        _ => ResourceOverrides::new(),
    };
    Ok(resource_health(&obj, &overrides))
}

/// The health scripts of an argocd-cm file; its problems with their positions.
fn configmap_overrides(path: &str, text: &str) -> Result<ResourceOverrides, Bad> {
    let lf = load_objects(path, text, &Limits::default())
        .map_err(|e| bad(path, e.pos(), e.message()))?;
    if let Some(p) = lf.problems.first() {
        return Err(bad(path, p.pos, &p.message));
    }
    let Some(cm) = lf.objects.iter().find(|o| o.object.kind() == "ConfigMap") else {
        return Err(bad(
            path,
            Pos { line: 1, col: 1 },
            "no ConfigMap in the file",
        ));
    };
    let (overrides, errs) = ResourceOverrides::from_configmap(cm.object.value());
    if let Some(e) = errs.first() {
        let value = FieldPath(vec![
            PathSeg::Field("data".to_owned()),
            PathSeg::Key(e.data_key.clone()),
        ]);
        let key_pos = cm.locate(&value);
        let pos = e.at.map_or(key_pos, |at| inner_pos(text, key_pos, at));
        return Err(bad(path, pos, format!("{value}: {}", e.message)));
    }
    Ok(overrides)
}

fn print(output: Output, h: Option<&HealthStatus>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let v = match h {
                Some(h) => json!({"status": h.status.as_str(), "message": h.message}),
                None => json!({"status": null, "message": null}),
            };
            writeln!(out, "{v}")?;
        }
        Output::Text => match h {
            None => writeln!(out, "no health check applies to this object")?,
            Some(h) if h.message.is_empty() => writeln!(out, "{}", h.status)?,
            Some(h) => writeln!(out, "{}: {}", h.status, h.message)?,
        },
    }
    out.flush()?;
    Ok(())
}
