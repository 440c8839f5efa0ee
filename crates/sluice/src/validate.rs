//! `sluice validate PATH...`

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use sluice_apis::manifests::{Options, Report, Skipped, SourceFile, validate_files};
use sluice_core::Severity;

use crate::{exit, input};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// `path:line:col: severity: Kind/name: field.path: message`, one per line.
    Text,
    Json,
    Yaml,
}

/// Validate Kubernetes manifests (Tekton, Triggers, Argo CD, Rollouts, Kyverno, Kustomize
/// and core kinds) the way the upstream tools would, reporting every problem at once.
///
/// References between the given files are resolved (taskRef -> Task, binding and template
/// refs, StepAction refs, analysis templates). A `feature-flags` ConfigMap among the inputs
/// sets Tekton's feature gates. Documents that are not Kubernetes objects (Helm values,
/// app config) and files a kustomization uses as patches or generator inputs are skipped.
#[derive(Debug, Args)]
#[command(after_help = exit::EXIT_CODES_HELP)]
pub struct ValidateArgs {
    /// Files or directories (searched recursively for .yaml, .yml and .json); `-` reads
    /// standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Also list the documents that were skipped and why.
    #[arg(short, long)]
    verbose: bool,
    /// A Tekton feature flag (`feature-flags` ConfigMap key), e.g.
    /// `enable-api-fields=alpha`; overrides the ConfigMap among the inputs. Repeatable.
    #[arg(long = "feature-flag", value_name = "KEY=VALUE", value_parser = parse_flag)]
    feature_flags: Vec<(String, String)>,
}

fn parse_flag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

pub fn run(args: &ValidateArgs) -> Result<u8> {
    let mut files = Vec::new();
    let mut charts = Vec::new();
    let mut io_errors = Vec::new();
    for p in &args.paths {
        if let Err(e) = collect(p, &mut files, &mut charts) {
            io_errors.push(format!("{e:#}"));
        }
    }
    for e in &io_errors {
        eprintln!("error: {e}");
    }
    let opts = Options {
        tekton_flag_overrides: args.feature_flags.clone(),
        extra_checks: vec![sluice_triggers::validate_cel, sluice_gitops::lint::check],
        inner_checks: vec![sluice_health::lint::lint_argocd_cm],
        ..Options::default()
    };
    let mut report = validate_files(&files, &opts);
    report.skipped.extend(charts.into_iter().map(|dir| Skipped {
        file: dir.into(),
        document: 0,
        reason:
            "a Helm chart (its templates are rendered by Helm, not applied as they are)".to_owned(),
    }));
    print_report(&report, args)?;
    Ok(if !io_errors.is_empty() {
        exit::USAGE
    } else if report.errors() > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

fn is_manifest_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    ) || p.file_name().is_some_and(|n| n == "Kustomization")
}

/// Reads `p` (a file, a directory walked recursively in name order, or `-`). Directories
/// holding a `Chart.yaml` are Helm charts: not read, listed in `charts`. Reads are capped
/// and walks skip what is not a regular file (`crate::input`).
pub(crate) fn collect(p: &str, out: &mut Vec<SourceFile>, charts: &mut Vec<String>) -> Result<()> {
    if p == "-" {
        let text = input::read_text("standard input", std::io::stdin().lock(), None)?;
        out.push(SourceFile {
            name: "-".to_owned(),
            text,
        });
        return Ok(());
    }
    let meta = std::fs::metadata(p).with_context(|| format!("{p}: cannot read"))?;
    if meta.is_dir() {
        return walk(p, out, charts);
    }
    let text = input::read_named(p)?;
    out.push(SourceFile {
        name: p.to_owned(),
        text,
    });
    Ok(())
}

fn walk(p: &str, out: &mut Vec<SourceFile>, charts: &mut Vec<String>) -> Result<()> {
    if Path::new(p).join("Chart.yaml").is_file() {
        charts.push(p.to_owned());
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(p)
        .with_context(|| format!("{p}: cannot list directory"))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let child = format!("{}/{}", p.trim_end_matches('/'), name);
        let ft = e
            .file_type()
            .with_context(|| format!("{child}: cannot stat"))?;
        if !(ft.is_dir() || is_manifest_file(Path::new(&child))) {
            continue;
        }
        if std::fs::metadata(&child).is_ok_and(|m| m.is_dir()) {
            walk(&child, out, charts)?;
        } else if let Some(text) = input::read_walked(&child)? {
            out.push(SourceFile { name: child, text });
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Summary {
    files: usize,
    objects: usize,
    errors: usize,
    warnings: usize,
    skipped: usize,
}

fn print_report(report: &Report, args: &ValidateArgs) -> Result<()> {
    let summary = Summary {
        files: report.files,
        objects: report.objects,
        errors: report.errors(),
        warnings: report.warnings(),
        skipped: report.skipped.len(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        Output::Text => {
            let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
            for f in &report.findings {
                let line = f.render();
                if color {
                    let (word, code) = match f.severity {
                        Severity::Error => ("error", "31"),
                        Severity::Warning => ("warning", "33"),
                    };
                    let tagged = format!(": {word}: ");
                    let colored = format!(": \x1b[1;{code}m{word}\x1b[0m: ");
                    writeln!(out, "{}", line.replacen(&tagged, &colored, 1))?;
                } else {
                    writeln!(out, "{line}")?;
                }
            }
            if args.verbose {
                for s in &report.skipped {
                    eprintln!(
                        "note: {} (document {}): skipped: {}",
                        s.file,
                        s.document + 1,
                        s.reason
                    );
                }
            }
            eprintln!(
                "{} error(s), {} warning(s) in {} object(s) from {} file(s){}",
                summary.errors,
                summary.warnings,
                summary.objects,
                summary.files,
                if summary.skipped > 0 {
                    format!("; {} document(s) skipped (-v lists them)", summary.skipped)
                } else {
                    String::new()
                }
            );
        }
        Output::Json | Output::Yaml => {
            let doc = serde_json::json!({
                "findings": report.findings,
                "skipped": report.skipped,
                "summary": summary,
            });
            if args.output == Output::Json {
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
            } else {
                out.write_all(sluice_core::emit::to_string(&doc).as_bytes())?;
            }
        }
    }
    Ok(())
}
