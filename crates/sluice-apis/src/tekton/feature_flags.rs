//! The `feature-flags` ConfigMap (tektoncd/pipeline `config/config-feature-flags.yaml`,
//! `pkg/apis/config/feature_flags.go`) and the `config-defaults` values validation uses
//! (`pkg/apis/config/default.go`).

use serde_json::Value;

use crate::ObjectSet;

/// Tekton feature flags (and the `config-defaults` values) that change validation or
/// execution. Defaults are upstream's current ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureFlags {
    /// `enable-api-fields`: `stable`, `beta` (default) or `alpha`.
    pub enable_api_fields: String,
    /// `enable-step-actions` (default true).
    pub enable_step_actions: bool,
    /// `enable-cel-in-whenexpression` (default false).
    pub enable_cel_in_whenexpression: bool,
    /// `enable-param-enum` (default false).
    pub enable_param_enum: bool,
    /// `enable-artifacts` (default false).
    pub enable_artifacts: bool,
    /// `keep-pod-on-cancel` (default false).
    pub keep_pod_on_cancel: bool,
    /// `max-result-size` in bytes (default 4096).
    pub max_result_size: u64,
    /// `results-from`: `termination-message` (default) or `sidecar-logs`.
    pub results_from: String,
    /// `disable-affinity-assistant` (default false).
    pub disable_affinity_assistant: bool,
    /// `coschedule`: `workspaces` (default), `pipelineruns`, `isolate-pipelinerun`, `disabled`.
    pub coschedule: String,
    /// `running-in-environment-with-injected-sidecars` (default true).
    pub running_in_environment_with_injected_sidecars: bool,
    /// `await-sidecar-readiness` (default true).
    pub await_sidecar_readiness: bool,
    /// `require-git-ssh-secret-known-hosts` (default false).
    pub require_git_ssh_secret_known_hosts: bool,
    /// `enable-provenance-in-status` (default true).
    pub enable_provenance_in_status: bool,
    /// `set-security-context` (default false).
    pub set_security_context: bool,
    /// `disable-inline-spec`: comma-separated kinds that may not embed specs.
    pub disable_inline_spec: String,
    /// `enable-concise-resolver-syntax` (default false).
    pub enable_concise_resolver_syntax: bool,
    /// `enable-kubernetes-sidecar` (default false).
    pub enable_kubernetes_sidecar: bool,
    /// `config-defaults` `default-timeout-minutes` (default 60).
    pub default_timeout_minutes: u64,
    /// `config-defaults` `default-service-account` (default `default`).
    pub default_service_account: String,
    /// `config-defaults` `default-max-matrix-combinations-count` (default 256).
    pub default_max_matrix_combinations_count: usize,
    /// `config-defaults` `default-pod-template`, when set.
    pub default_pod_template: Option<String>,
}

impl Default for FeatureFlags {
    fn default() -> Self {
        FeatureFlags {
            enable_api_fields: "beta".to_owned(),
            enable_step_actions: true,
            enable_cel_in_whenexpression: false,
            enable_param_enum: false,
            enable_artifacts: false,
            keep_pod_on_cancel: false,
            max_result_size: 4096,
            results_from: "termination-message".to_owned(),
            disable_affinity_assistant: false,
            coschedule: "workspaces".to_owned(),
            running_in_environment_with_injected_sidecars: true,
            await_sidecar_readiness: true,
            require_git_ssh_secret_known_hosts: false,
            enable_provenance_in_status: true,
            set_security_context: false,
            disable_inline_spec: String::new(),
            enable_concise_resolver_syntax: false,
            enable_kubernetes_sidecar: false,
            default_timeout_minutes: 60,
            default_service_account: "default".to_owned(),
            default_max_matrix_combinations_count: 256,
            default_pod_template: None,
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl FeatureFlags {
    /// Reads the `feature-flags` and `config-defaults` ConfigMaps from the set, if any.
    pub fn from_set(set: &ObjectSet<'_>) -> Self {
        let mut flags = FeatureFlags::default();
        for cm in set.of_kind("", "ConfigMap") {
            let Some(data) = cm.value().get("data").and_then(Value::as_object) else {
                continue;
            };
            let pairs = data
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)));
            match cm.name() {
                "feature-flags" => {
                    for (k, v) in pairs {
                        flags.set(k, v);
                    }
                }
                "config-defaults" => {
                    for (k, v) in pairs {
                        flags.set_default(k, v);
                    }
                }
                _ => {}
            }
        }
        flags
    }

    /// Sets one `feature-flags` key; unknown keys and unparsable values are ignored.
    pub fn set(&mut self, key: &str, v: &str) {
        let b = parse_bool(v);
        match key {
            "enable-api-fields" => self.enable_api_fields = v.trim().to_lowercase(),
            "enable-step-actions" => self.enable_step_actions = b.unwrap_or(true),
            "enable-cel-in-whenexpression" => {
                self.enable_cel_in_whenexpression = b.unwrap_or(false)
            }
            "enable-param-enum" => self.enable_param_enum = b.unwrap_or(false),
            "enable-artifacts" => self.enable_artifacts = b.unwrap_or(false),
            "keep-pod-on-cancel" => self.keep_pod_on_cancel = b.unwrap_or(false),
            "max-result-size" => {
                if let Ok(n) = v.trim().parse() {
                    self.max_result_size = n;
                }
            }
            "results-from" => self.results_from = v.trim().to_owned(),
            "disable-affinity-assistant" => self.disable_affinity_assistant = b.unwrap_or(false),
            "coschedule" => self.coschedule = v.trim().to_owned(),
            "running-in-environment-with-injected-sidecars" => {
                self.running_in_environment_with_injected_sidecars = b.unwrap_or(true)
            }
            "await-sidecar-readiness" => self.await_sidecar_readiness = b.unwrap_or(true),
            "require-git-ssh-secret-known-hosts" => {
                self.require_git_ssh_secret_known_hosts = b.unwrap_or(false)
            }
            "enable-provenance-in-status" => self.enable_provenance_in_status = b.unwrap_or(true),
            "set-security-context" => self.set_security_context = b.unwrap_or(false),
            "disable-inline-spec" => self.disable_inline_spec = v.trim().to_owned(),
            "enable-concise-resolver-syntax" => {
                self.enable_concise_resolver_syntax = b.unwrap_or(false)
            }
            "enable-kubernetes-sidecar" => self.enable_kubernetes_sidecar = b.unwrap_or(false),
            _ => {}
        }
    }

    /// Sets one `config-defaults` key.
    pub fn set_default(&mut self, key: &str, v: &str) {
        match key {
            "default-timeout-minutes" => {
                if let Ok(n) = v.trim().parse() {
                    self.default_timeout_minutes = n;
                }
            }
            "default-service-account" => self.default_service_account = v.trim().to_owned(),
            "default-max-matrix-combinations-count" => {
                if let Ok(n) = v.trim().parse() {
                    self.default_max_matrix_combinations_count = n;
                }
            }
            "default-pod-template" => self.default_pod_template = Some(v.to_owned()),
            _ => {}
        }
    }

    /// The `enable-api-fields` level.
    pub fn api_level(&self) -> super::ApiLevel {
        match self.enable_api_fields.as_str() {
            "alpha" => super::ApiLevel::Alpha,
            "beta" => super::ApiLevel::Beta,
            _ => super::ApiLevel::Stable,
        }
    }

    /// Flags with `enable-api-fields` set to `level` (the examples' alpha/ and beta/ runs).
    pub fn with_api_fields(mut self, level: &str) -> Self {
        self.enable_api_fields = level.to_owned();
        self
    }

    /// The default timeout, `default-timeout-minutes` as a Go duration string.
    pub fn default_timeout(&self) -> String {
        format!("{}m0s", self.default_timeout_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_core::Object;

    #[test]
    fn reads_config_maps() {
        let ff = Object::new(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "feature-flags"},
            "data": {"enable-api-fields": "alpha", "enable-step-actions": "false", "max-result-size": "10485760"}}));
        let cd = Object::new(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "config-defaults"},
            "data": {"default-timeout-minutes": "30"}}));
        let set = ObjectSet::new([&ff, &cd]);
        let f = FeatureFlags::from_set(&set);
        assert_eq!(f.enable_api_fields, "alpha");
        assert!(!f.enable_step_actions);
        assert_eq!(f.max_result_size, 10485760);
        assert_eq!(f.default_timeout_minutes, 30);
        assert_eq!(FeatureFlags::default().enable_api_fields, "beta");
    }
}
