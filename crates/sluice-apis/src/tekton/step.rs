//! Steps, step templates and sidecars (tektoncd/pipeline `pkg/apis/pipeline/v1/container_types.go`,
//! validation from `task_validation.go` `validateStep` and `container_validation.go`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors, names};

use super::param::Param;
use super::result::StepResult;
use super::when::WhenExpression;
use super::{ApiLevel, FeatureFlags, api_fields};

/// `corev1.EnvVar`; `valueFrom` is kept as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<Value>,
}

/// `corev1.VolumeMount`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_read_only: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path_expr: Option<String>,
}

/// `WorkspaceUsage`: a step or sidecar using a Task workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceUsage {
    #[serde(default)]
    pub name: String,
    /// Go's `encoding/json` matches keys case-insensitively; upstream examples write
    /// `mountpath`.
    #[serde(default, alias = "mountpath", alias = "MountPath")]
    pub mount_path: String,
}

/// `StepOutputConfig` (stdoutConfig / stderrConfig).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutputConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `Ref`: a Step referencing a StepAction by name or through a resolver.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resolver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
}

/// `Step`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_devices: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceUsage>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_config: Option<StepOutputConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_config: Option<StepOutputConfig>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_: Option<StepRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<StepResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<WhenExpression>,
}

impl Step {
    /// Every string field that variables may be used in, with its path relative to the step,
    /// and whether the field is an element of `command`/`args` (where arrays may be expanded).
    pub fn strings(&self) -> Vec<(String, &str, bool)> {
        let mut out: Vec<(String, &str, bool)> = vec![
            ("name".into(), self.name.as_str(), false),
            ("image".into(), self.image.as_str(), false),
            ("workingDir".into(), self.working_dir.as_str(), false),
            ("script".into(), self.script.as_str(), false),
            ("onError".into(), self.on_error.as_str(), false),
        ];
        for (i, c) in self.command.iter().enumerate() {
            out.push((format!("command[{i}]"), c.as_str(), true));
        }
        for (i, c) in self.args.iter().enumerate() {
            out.push((format!("args[{i}]"), c.as_str(), true));
        }
        for (i, e) in self.env.iter().flatten().enumerate() {
            if let Some(v) = &e.value {
                out.push((format!("env[{i}].value"), v.as_str(), false));
            }
        }
        for (i, v) in self.volume_mounts.iter().enumerate() {
            out.push((format!("volumeMounts[{i}].name"), v.name.as_str(), false));
            out.push((
                format!("volumeMounts[{i}].mountPath"),
                v.mount_path.as_str(),
                false,
            ));
            if let Some(s) = &v.sub_path {
                out.push((format!("volumeMounts[{i}].subPath"), s.as_str(), false));
            }
        }
        out
    }
}

/// `StepTemplate`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepTemplate {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_devices: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
}

/// `Sidecar`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_devices: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin_once: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
}

/// `MergeStepsWithStepTemplate`, reduced to what validation needs: a step without an image
/// takes the template's.
pub fn merged_image<'a>(step: &'a Step, template: Option<&'a StepTemplate>) -> &'a str {
    if step.image.is_empty() {
        template.map(|t| t.image.as_str()).unwrap_or("")
    } else {
        &step.image
    }
}

/// Parses a Go `time.ParseDuration` string to seconds. `None` when malformed.
pub fn parse_duration(s: &str) -> Option<f64> {
    sluice_core::duration::parse_go_duration(s)
}

/// `validateStep` for each step (after merging the step template's image), plus step
/// results. Paths are relative to `steps`.
pub fn validate_steps(
    steps: &[Step],
    template: Option<&StepTemplate>,
    flags: &FeatureFlags,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut names_seen = BTreeSet::new();
    for (i, s) in steps.iter().enumerate() {
        errs.also(validate_step(s, template, flags, &mut names_seen).via_index(i));
    }
    errs
}

fn validate_step(
    s: &Step,
    template: Option<&StepTemplate>,
    flags: &FeatureFlags,
    names_seen: &mut BTreeSet<String>,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(r) = &s.ref_ {
        if !flags.enable_step_actions {
            errs.push(FieldError::new(
                "",
                "feature flag enable-step-actions should be set to true to reference StepActions in Steps.",
            ));
            return errs;
        }
        match (r.name.is_empty(), r.resolver.is_empty()) {
            (true, true) => errs.push(FieldError::missing("ref.name")),
            (false, false) => errs.push(FieldError::multiple_one_of("ref", &["name", "resolver"])),
            (true, false) => {}
            (false, true) => {
                for m in names::dns1123_subdomain(&r.name) {
                    if !r.name.contains("$(") {
                        errs.push(FieldError::invalid(
                            "ref.name",
                            format!("{:?}: {m}", r.name),
                        ));
                    }
                }
            }
        }
        if !r.params.is_empty() && r.resolver.is_empty() {
            errs.push(FieldError::missing("ref.resolver"));
        }
        let mut with_ref = |cond: bool, field: &str| {
            if cond {
                errs.push(FieldError::new(
                    field,
                    format!("{field} cannot be used with Ref"),
                ));
            }
        };
        with_ref(!s.image.is_empty(), "image");
        with_ref(!s.command.is_empty(), "command");
        with_ref(!s.args.is_empty(), "args");
        with_ref(!s.script.is_empty(), "script");
        with_ref(s.env.is_some(), "env");
        with_ref(!s.volume_mounts.is_empty(), "volumeMounts");
        with_ref(!s.results.is_empty(), "results");
    } else {
        if !s.params.is_empty() {
            errs.push(FieldError::new(
                "params",
                "params cannot be used without Ref",
            ));
        }
        if !s.results.is_empty() && !flags.enable_step_actions {
            errs.push(FieldError::new(
                "",
                "feature flag enable-step-actions should be set to true in order to use Results in Steps.",
            ));
            return errs;
        }
        if merged_image(s, template).is_empty() {
            errs.push(FieldError::missing("image"));
        }
        if !s.script.is_empty() && !s.command.is_empty() {
            errs.push(FieldError::new(
                "script",
                "script cannot be used with command",
            ));
        }
    }
    if !s.name.is_empty() {
        if names_seen.contains(&s.name) {
            errs.push(FieldError::invalid("name", &s.name));
        }
        if !names::dns1123_label(&s.name).is_empty() {
            errs.push(FieldError::new(
                "name",
                format!(
                    "invalid value {:?}: Task step name must be a valid DNS Label, For more info refer to https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names",
                    s.name
                ),
            ));
        }
        names_seen.insert(s.name.clone());
    }
    if let Some(t) = &s.timeout {
        match parse_duration(t) {
            None => errs.push(FieldError::invalid("timeout", t)),
            Some(d) if d < 0.0 => errs.push(FieldError::invalid("timeout", "negative timeout")),
            _ => {}
        }
    }
    errs.also(sub_paths(&s.volume_mounts));
    for (j, vm) in s.volume_mounts.iter().enumerate() {
        if vm.mount_path.starts_with("/tekton/") && !vm.mount_path.starts_with("/tekton/home") {
            errs.push(
                FieldError::new(
                    "mountPath",
                    format!(
                        "volumeMount cannot be mounted under /tekton/ (volumeMount {:?} mounted at {:?})",
                        vm.name, vm.mount_path
                    ),
                )
                .via_index(j)
                .via_field("volumeMounts"),
            );
        }
        if vm.name.starts_with("tekton-internal-") {
            errs.push(
                FieldError::new(
                    "name",
                    format!(
                        "volumeMount name {:?} cannot start with \"tekton-internal-\"",
                        vm.name
                    ),
                )
                .via_index(j)
                .via_field("volumeMounts"),
            );
        }
    }
    if !s.on_error.is_empty()
        && !s.on_error.starts_with("$(params.")
        && s.on_error != "continue"
        && s.on_error != "stopAndFail"
    {
        errs.push(FieldError::new(
            "onError",
            format!(
                "invalid value: {:?}: Task step onError must be either \"continue\" or \"stopAndFail\"",
                s.on_error
            ),
        ));
    }
    if s.script.trim().starts_with("#!win") {
        errs.also(api_fields(flags, "windows script support", ApiLevel::Alpha).via_field("script"));
    }
    if s.stdout_config.is_some() {
        errs.also(
            api_fields(flags, "step stdout stream support", ApiLevel::Alpha)
                .via_field("stdoutConfig"),
        );
    }
    if s.stderr_config.is_some() {
        errs.also(
            api_fields(flags, "step stderr stream support", ApiLevel::Alpha)
                .via_field("stderrConfig"),
        );
    }
    if !s.when.is_empty() {
        errs.also(super::when::validate_when(&s.when, flags).via_field("when"));
    }
    let mut rnames = BTreeSet::new();
    for (j, r) in s.results.iter().enumerate() {
        errs.also(r.validate().via_index(j).via_field("results"));
        if !rnames.insert(r.name.as_str()) {
            errs.push(
                FieldError::invalid("name", &r.name)
                    .via_index(j)
                    .via_field("results"),
            );
        }
    }
    errs
}

/// volumeMounts' `subPath`s: relative, without `..` (kubernetes
/// `validateLocalDescendingPath`, which the Pod's validation applies).
fn sub_paths(mounts: &[VolumeMount]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (j, vm) in mounts.iter().enumerate() {
        if let Some(sp) = &vm.sub_path {
            errs.also(
                crate::corev1::volume::local_descending_path("subPath", sp)
                    .via_index(j)
                    .via_field("volumeMounts"),
            );
        }
    }
    errs
}

/// Sidecar names must not be the reserved results sidecar's.
pub fn validate_sidecars(sidecars: &[Sidecar]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, sc) in sidecars.iter().enumerate() {
        errs.also(sub_paths(&sc.volume_mounts).via_index(i));
        if sc.name == "tekton-log-results" {
            errs.push(
                FieldError::new(
                    "name",
                    format!("Invalid: cannot use reserved sidecar name {} ", sc.name),
                )
                .via_index(i),
            );
        }
        if sc.image.is_empty() {
            errs.push(FieldError::missing("image").via_index(i));
        }
        if !sc.script.is_empty() && !sc.command.is_empty() {
            errs.push(FieldError::new("script", "script cannot be used with command").via_index(i));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("-1s"), Some(-1.0));
    }

    // task_validation.go validateStep: "script cannot be used with command".
    #[test]
    fn script_and_command() {
        let s = Step {
            image: "x".into(),
            script: "echo".into(),
            command: vec!["sh".into()],
            ..Step::default()
        };
        let errs = validate_steps(&[s], None, &FeatureFlags::default());
        assert_eq!(errs.0[0].path.to_string(), "[0].script");
        assert_eq!(errs.0[0].message, "script cannot be used with command");
    }
}
