//! `sluice policy apply POLICY... --resource R...` and `sluice policy test DIR...`, in the
//! manner of `kyverno apply` and `kyverno test`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use sluice_core::object::load_objects;
use sluice_core::{FieldError, Limits, LoadedObject, Severity};
use sluice_policy::testsuite::{SuiteReport, run_suite};
use sluice_policy::{
    Action, AdmissionRequest, CompiledPolicy, PolicySet, RuleResult, Status, UserInfo,
};

use crate::{exit, input};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Kyverno policies (ClusterPolicy/Policy validate rules).
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Apply policies to resources: pass, fail, warn, error or skip per policy, rule and
    /// resource. Exits 1 when an Enforce rule fails (or errors under failurePolicy Fail).
    Apply(ApplyArgs),
    /// Run kyverno-test.yaml suites (policies, resources, values, expected results) found
    /// in the given files or directories. Exits 1 on any mismatch.
    Test(TestArgs),
}

#[derive(Debug, Args)]
#[command(after_help = exit::EXIT_CODES_HELP)]
struct ApplyArgs {
    /// Policy files or directories.
    #[arg(required = true, value_name = "POLICY")]
    policies: Vec<String>,
    /// Resource files or directories.
    #[arg(short = 'r', long = "resource", required = true, value_name = "R")]
    resources: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The admission operation the resources are checked for.
    #[arg(long, default_value = "CREATE")]
    operation: String,
}

#[derive(Debug, Args)]
#[command(after_help = exit::EXIT_CODES_HELP)]
struct TestArgs {
    /// kyverno-test.yaml files, or directories searched recursively for them.
    #[arg(required = true, value_name = "DIR")]
    paths: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Only print the summary and failing rows.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: &PolicyArgs) -> Result<u8> {
    match &args.command {
        PolicyCommand::Apply(a) => apply(a),
        PolicyCommand::Test(t) => test(t),
    }
}

/// The files to read for `p`: `(path, named)`, `named` when given on the command line
/// rather than found in a directory (only regular files are read from directories).
fn files_under(p: &str, out: &mut Vec<(String, bool)>) -> Result<()> {
    let meta = std::fs::metadata(p).with_context(|| format!("{p}: cannot read"))?;
    if meta.is_dir() {
        walk_files(p, out)
    } else {
        out.push((p.to_owned(), true));
        Ok(())
    }
}

fn walk_files(p: &str, out: &mut Vec<(String, bool)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(p)
        .with_context(|| format!("{p}: cannot list directory"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for name in entries {
        let child = format!("{}/{}", p.trim_end_matches('/'), name);
        if Path::new(&child).is_dir() {
            walk_files(&child, out)?;
        } else if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json") {
            out.push((child, false));
        }
    }
    Ok(())
}

fn load_files(paths: &[String]) -> Result<Vec<LoadedObject>> {
    let mut files = Vec::new();
    for p in paths {
        files_under(p, &mut files)?;
    }
    let mut out = Vec::new();
    for (f, named) in files {
        let text = if named {
            input::read_named(&f)?
        } else {
            match input::read_walked(&f)? {
                Some(t) => t,
                None => continue,
            }
        };
        let lf = load_objects(&f, &text, &Limits::default())
            .map_err(|e| anyhow::anyhow!("{f}:{}: {}", e.pos(), e.message()))?;
        out.extend(lf.objects);
    }
    Ok(out)
}

/// Checks and compiles policies; invalid ones are reported at file:line:col with the path.
fn load_policies(paths: &[String]) -> Result<(Vec<CompiledPolicy>, Vec<String>)> {
    let objs = load_files(paths)?;
    let plain: Vec<&sluice_core::Object> = objs.iter().map(|o| &o.object).collect();
    let set = sluice_apis::ObjectSet::new(plain);
    let ctx = sluice_apis::Context::new(&set);
    let mut compiled = Vec::new();
    let mut problems = Vec::new();
    for o in &objs {
        let gvk = o.object.gvk();
        if gvk.group != "kyverno.io" || !matches!(gvk.kind.as_str(), "ClusterPolicy" | "Policy") {
            problems.push(format!(
                "{}: {}: not a Kyverno ClusterPolicy or Policy (skipped)",
                o.source.file,
                o.object.display_name()
            ));
            continue;
        }
        let mut errs = sluice_apis::validate_one(&o.object, &ctx);
        let compiled_one = match sluice_policy::compile(&o.object) {
            Ok(c) => Some(c),
            Err(e) => {
                // compile repeats the expression checks validation made: report each once
                let seen: Vec<FieldError> = errs.iter().cloned().collect();
                errs.also(
                    e.into_vec()
                        .into_iter()
                        .filter(|x| !seen.contains(x))
                        .collect::<Vec<_>>(),
                );
                None
            }
        };
        let mut bad = false;
        for e in errs.iter() {
            let pos = o.locate(&e.path);
            if e.severity == Severity::Error {
                bad = true;
            }
            problems.push(format!(
                "{}:{}:{}: {}: {}: {}: {}",
                o.source.file,
                pos.line,
                pos.col,
                e.severity,
                o.object.display_name(),
                e.path,
                e.message
            ));
        }
        if !bad && let Some(c) = compiled_one {
            compiled.push(c);
        }
    }
    Ok((compiled, problems))
}

fn apply(args: &ApplyArgs) -> Result<u8> {
    let (policies, problems) = load_policies(&args.policies)?;
    let invalid = problems.iter().any(|p| p.contains(": error: "));
    for p in &problems {
        eprintln!("{p}");
    }
    if invalid {
        eprintln!("error: invalid policies are not applied");
        return Ok(exit::FINDINGS);
    }
    let resources = load_files(&args.resources)?;
    let set = PolicySet::new(policies);
    let user = UserInfo::default();
    let mut results: Vec<RuleResult> = Vec::new();
    for r in &resources {
        let mut req = AdmissionRequest::create(r.object.value(), &user);
        req.operation = args.operation.clone();
        results.extend(sluice_policy::evaluate(&set, &req));
    }
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let blocked = results.iter().any(|r| {
        r.action == Action::Enforce
            && (r.status == Status::Fail
                || (r.status == Status::Error
                    && r.failure_policy == sluice_policy::FailurePolicy::Fail))
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        Output::Json => {
            let doc = json!({
                "results": results,
                "summary": {"pass": count(Status::Pass), "fail": count(Status::Fail), "warn": count(Status::Warn),
                    "error": count(Status::Error), "skip": count(Status::Skip)},
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Output::Text => {
            for r in &results {
                writeln!(
                    out,
                    "{}: policy {} rule {} resource {}: {}",
                    r.status.as_str(),
                    r.policy,
                    r.rule,
                    r.resource,
                    r.message
                )?;
            }
            writeln!(
                out,
                "\npass: {}, fail: {}, warn: {}, error: {}, skip: {}",
                count(Status::Pass),
                count(Status::Fail),
                count(Status::Warn),
                count(Status::Error),
                count(Status::Skip)
            )?;
        }
    }
    Ok(if blocked { exit::FINDINGS } else { exit::OK })
}

fn find_suites(p: &str, out: &mut Vec<String>) -> Result<()> {
    let meta = std::fs::metadata(p).with_context(|| format!("{p}: cannot read"))?;
    if !meta.is_dir() {
        out.push(p.to_owned());
        return Ok(());
    }
    let mut entries: Vec<String> = std::fs::read_dir(p)
        .with_context(|| format!("{p}: cannot list directory"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for name in entries {
        let child = format!("{}/{}", p.trim_end_matches('/'), name);
        if Path::new(&child).is_dir() {
            find_suites(&child, out)?;
        } else if name == "kyverno-test.yaml" || name == "kyverno-test.yml" {
            match input::non_regular(&child) {
                Some(kind) => eprintln!("warning: {child}: {kind}, skipped"),
                None => out.push(child),
            }
        }
    }
    Ok(())
}

fn test(args: &TestArgs) -> Result<u8> {
    let mut suites = Vec::new();
    for p in &args.paths {
        find_suites(p, &mut suites)?;
    }
    let read = |p: &str| input::read_named(p).map_err(|e| format!("{e:#}"));
    let list = |p: &str| -> Option<Vec<String>> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| {
                format!(
                    "{}/{}",
                    p.trim_end_matches('/'),
                    e.file_name().to_string_lossy()
                )
            })
            .collect();
        v.sort();
        Some(v)
    };
    let reports: Vec<SuiteReport> = suites.iter().map(|s| run_suite(s, &read, &list)).collect();
    let failed = reports.iter().filter(|r| !r.passed()).count();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        Output::Json => {
            let doc: Vec<Value> = reports
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                    if let Value::Object(m) = &mut v {
                        m.insert("passed".into(), Value::Bool(r.passed()));
                    }
                    v
                })
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &json!({"suites": doc, "failed": failed, "total": reports.len()}),
            )?;
            writeln!(out)?;
        }
        Output::Text => {
            for r in &reports {
                writeln!(out, "Loading test ({}) ...", r.path)?;
                if let Some(e) = &r.error {
                    writeln!(out, "  Error: {e}")?;
                    continue;
                }
                let passed = r.rows.iter().filter(|x| x.ok).count();
                writeln!(out, "  Checking results ...")?;
                writeln!(
                    out,
                    "  {:<4} {:<32} {:<32} {:<40} {:<6} REASON",
                    "ID", "POLICY", "RULE", "RESOURCE", "RESULT"
                )?;
                for (i, row) in r.rows.iter().enumerate() {
                    if args.quiet && row.ok {
                        continue;
                    }
                    let result = if row.ok { "Pass" } else { "Fail" };
                    let reason = if row.ok {
                        "Ok".to_owned()
                    } else {
                        format!("Want {}, got {}: {}", row.expected, row.actual, row.reason)
                    };
                    writeln!(
                        out,
                        "  {:<4} {:<32} {:<32} {:<40} {:<6} {reason}",
                        i + 1,
                        row.policy,
                        row.rule,
                        row.resource,
                        result
                    )?;
                }
                writeln!(
                    out,
                    "  Test Summary: {passed} tests passed and {} tests failed",
                    r.rows.len() - passed
                )?;
            }
            writeln!(
                out,
                "\n{} suite(s): {} passed, {failed} failed",
                reports.len(),
                reports.len() - failed
            )?;
        }
    }
    Ok(if failed > 0 { exit::FINDINGS } else { exit::OK })
}
