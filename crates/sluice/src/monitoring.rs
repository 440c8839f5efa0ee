//! `sluice monitoring rules -f FILE [--for DURATION] [-o yaml|json]`: the rule groups of
//! prometheus-operator `PrometheusRule` objects as a Prometheus rule file
//! (`prometheus --config.file` `rule_files:`, `promtool check rules`), as the operator
//! writes them for Prometheus: `groups:` of every PrometheusRule in the file, in order.

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use sluice_core::object::load_objects;
use sluice_core::{FieldPath, Limits};

use crate::{exit, input};

#[derive(Debug, Subcommand)]
pub enum MonitoringCommand {
    Rules(RulesArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

/// Print the `spec.groups` of the PrometheusRule objects (monitoring.coreos.com/v1) in FILE
/// as a Prometheus rule file.
///
/// Each group needs a unique `name` and `rules`; each rule exactly one of `alert` and
/// `record`, a string `expr`, `for`/`keep_firing_for` as Prometheus durations (alerts only),
/// `labels`/`annotations` of strings (annotations: alerts only), as Prometheus's rulefmt
/// checks them. Problems are printed as `file:line:col: error: message` (exit 1). PromQL
/// itself is not parsed: `promtool check rules` on the output does that.
#[derive(Debug, Args)]
#[command(after_help = exit::EXIT_CODES_HELP)]
pub struct RulesArgs {
    /// The file of PrometheusRule objects (YAML or JSON; `-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: String,
    /// Replace every alert's `for:` with this duration (e.g. `0s` in a test).
    #[arg(long = "for", value_name = "DURATION")]
    for_: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Yaml)]
    output: Output,
}

pub fn run(cmd: &MonitoringCommand) -> Result<u8> {
    match cmd {
        MonitoringCommand::Rules(a) => rules(a),
    }
}

fn rules(args: &RulesArgs) -> Result<u8> {
    if let Some(d) = &args.for_
        && !is_duration(d)
    {
        eprintln!("error: --for {d:?}: not a Prometheus duration (such as 30s, 5m, 1h30m, 0)");
        return Ok(exit::USAGE);
    }
    let text = if args.file == "-" {
        input::read_text("-", std::io::stdin().lock(), None)?
    } else {
        input::read_named(&args.file)?
    };
    match rule_file(&args.file, &text, args.for_.as_deref()) {
        Ok(v) => {
            let out = match args.output {
                Output::Yaml => sluice_kustomize::emit::to_yaml(&v),
                Output::Json => format!("{}\n", serde_json::to_string_pretty(&v)?),
            };
            print!("{out}");
            Ok(exit::OK)
        }
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            Ok(exit::FINDINGS)
        }
    }
}

/// Prometheus's duration syntax (`model.ParseDuration`): units y w d h m s ms in that
/// order, each at most once, or `0`.
pub fn is_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = s;
    let mut next = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit_len = if rest.starts_with("ms") {
            2
        } else {
            rest.chars().next().map_or(0, char::len_utf8)
        };
        let unit = &rest[..unit_len];
        let Some(i) = UNITS.iter().position(|u| *u == unit) else {
            return false;
        };
        if i < next {
            return false;
        }
        next = i + 1;
        rest = &rest[unit_len..];
    }
    true
}

/// The rule file of `text`'s PrometheusRules, or every problem found with its position.
pub fn rule_file(file: &str, text: &str, for_: Option<&str>) -> Result<Value, Vec<String>> {
    let lf = load_objects(file, text, &Limits::default())
        .map_err(|e| vec![format!("{file}:{}: error: {}", e.pos(), e.message())])?;
    let mut problems: Vec<String> = lf
        .problems
        .iter()
        .map(|p| format!("{file}:{}: error: {}", p.pos, p.message))
        .collect();
    let mut groups = Vec::new();
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut found = false;
    for o in &lf.objects {
        let v = o.object.value();
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if v.get("kind").and_then(Value::as_str) != Some("PrometheusRule")
            || !api.starts_with("monitoring.coreos.com/")
        {
            continue;
        }
        found = true;
        let mut bad = |path: FieldPath, msg: String| {
            problems.push(format!("{file}:{}: error: {path}: {msg}", o.locate(&path)));
        };
        let gs = FieldPath::root().field("spec").field("groups");
        let Some(list) = v.pointer("/spec/groups").and_then(Value::as_array) else {
            bad(gs, "expected a list of rule groups".into());
            continue;
        };
        for (gi, g) in list.iter().enumerate() {
            let gp = gs.clone().index(gi);
            let name = g.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                bad(gp.clone().field("name"), "a group needs a name".into());
            } else if let Some(prev) = names.insert(name.to_owned(), gp.to_string()) {
                bad(
                    gp.clone().field("name"),
                    format!("{name:?}: repeated group name (first at {prev})"),
                );
            }
            if let Some(i) = g.get("interval")
                && !i.as_str().is_some_and(is_duration)
            {
                bad(gp.clone().field("interval"), "expected a duration".into());
            }
            let Some(rules) = g.get("rules").and_then(Value::as_array) else {
                bad(gp.field("rules"), "expected a list of rules".into());
                continue;
            };
            let mut out_rules = Vec::new();
            for (ri, r) in rules.iter().enumerate() {
                let rp = gp.clone().field("rules").index(ri);
                let mut r = r.clone();
                check_rule(&r, &rp, &mut bad);
                if let (Some(d), Some(m)) = (for_, r.as_object_mut())
                    && m.contains_key("alert")
                {
                    m.insert("for".into(), json!(d));
                }
                out_rules.push(r);
            }
            let mut g = g.clone();
            g["rules"] = Value::Array(out_rules);
            groups.push(g);
        }
    }
    if !found && problems.is_empty() {
        problems.push(format!(
            "{file}:1:1: error: no PrometheusRule (monitoring.coreos.com/v1) in the file"
        ));
    }
    if problems.is_empty() {
        Ok(json!({"groups": groups}))
    } else {
        Err(problems)
    }
}

/// rulefmt's `RuleNode.Validate`, without PromQL parsing.
fn check_rule(r: &Value, rp: &FieldPath, bad: &mut impl FnMut(FieldPath, String)) {
    let Some(m) = r.as_object() else {
        bad(rp.clone(), "expected a rule (a mapping)".into());
        return;
    };
    let alert = m.get("alert");
    let record = m.get("record");
    match (alert, record) {
        (Some(_), Some(_)) => bad(
            rp.clone(),
            "only one of 'record' and 'alert' must be set".into(),
        ),
        (None, None) => bad(rp.clone(), "one of 'record' or 'alert' must be set".into()),
        _ => {}
    }
    for (k, v) in [("alert", alert), ("record", record)] {
        if let Some(v) = v
            && v.as_str().is_none_or(str::is_empty)
        {
            bad(rp.clone().field(k), "expected a non-empty string".into());
        }
    }
    match m.get("expr") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        // the operator's IntOrString: a number is a valid expression
        Some(Value::Number(_)) => {}
        _ => bad(
            rp.clone().field("expr"),
            "field 'expr' must be set in rule".into(),
        ),
    }
    for k in ["for", "keep_firing_for"] {
        if let Some(v) = m.get(k) {
            if record.is_some() {
                bad(
                    rp.clone().field(k),
                    format!("invalid field '{k}' in recording rule"),
                );
            } else if !v.as_str().is_some_and(is_duration) {
                bad(
                    rp.clone().field(k),
                    "expected a Prometheus duration (such as 30s, 5m, 1h)".into(),
                );
            }
        }
    }
    if record.is_some() && m.contains_key("annotations") {
        bad(
            rp.clone().field("annotations"),
            "invalid field 'annotations' in recording rule".into(),
        );
    }
    for k in ["labels", "annotations"] {
        match m.get(k) {
            None | Some(Value::Null) => {}
            Some(Value::Object(kv)) => {
                for (lk, lv) in kv {
                    if !lv.is_string() {
                        bad(
                            rp.clone().field(k).field(lk.as_str()),
                            "expected a string".into(),
                        );
                    }
                }
            }
            Some(_) => bad(rp.clone().field(k), "expected a mapping of strings".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus model.ParseDuration: "1h30m" yes, "30m1h" no (units in order), "1.5h" no.
    #[test]
    fn durations_as_prometheus_parses_them() {
        for d in ["0", "30s", "5m", "1h30m", "1y2w3d4h5m6s7ms", "500ms"] {
            assert!(is_duration(d), "{d}");
        }
        for d in ["", "1.5h", "30m1h", "5", "h", "1x", "1s1s", "-1s"] {
            assert!(!is_duration(d), "{d}");
        }
    }

    #[test]
    fn groups_of_every_prometheusrule_with_for_overridden() {
        let text = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: a\nspec:\n  groups:\n  - name: g1\n    rules:\n    - alert: A\n      expr: up == 0\n      for: 5m\n    - record: job:up:sum\n      expr: sum(up) by (job)\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: b\nspec:\n  groups:\n  - name: g2\n    rules:\n    - alert: B\n      expr: vector(1)\n";
        let v = rule_file("f.yaml", text, Some("0s")).expect("valid");
        assert_eq!(v["groups"][0]["name"], "g1");
        assert_eq!(v["groups"][0]["rules"][0]["for"], "0s");
        assert!(v["groups"][0]["rules"][1].get("for").is_none());
        assert_eq!(v["groups"][1]["rules"][0]["for"], "0s");
        let v = rule_file("f.yaml", text, None).expect("valid");
        assert_eq!(v["groups"][0]["rules"][0]["for"], "5m");
    }

    #[test]
    fn problems_have_positions_and_field_paths() {
        let text = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: a\nspec:\n  groups:\n  - name: g\n    rules:\n    - alert: A\n      record: r\n      expr: up\n    - alert: B\n      for: 5 minutes\n  - name: g\n    rules: []\n";
        let e = rule_file("f.yaml", text, None).expect_err("invalid");
        let all = e.join("\n");
        assert!(
            all.contains("f.yaml:9:7: error: spec.groups[0].rules[0]: only one of 'record' and 'alert' must be set"),
            "{all}"
        );
        assert!(
            all.contains(
                "f.yaml:13:7: error: spec.groups[0].rules[1].for: expected a Prometheus duration"
            ),
            "{all}"
        );
        assert!(
            all.contains("spec.groups[0].rules[1].expr: field 'expr' must be set in rule"),
            "{all}"
        );
        assert!(
            all.contains("f.yaml:14:5: error: spec.groups[1].name: \"g\": repeated group name"),
            "{all}"
        );
        let e = rule_file(
            "f.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
            None,
        )
        .expect_err("none");
        assert!(e[0].contains("no PrometheusRule"), "{e:?}");
    }
}
