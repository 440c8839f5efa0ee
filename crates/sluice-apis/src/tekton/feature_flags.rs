//! The `feature-flags` ConfigMap (tektoncd/pipeline `config/config-feature-flags.yaml`).

use crate::ObjectSet;

/// Tekton feature flags that change validation or execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureFlags {
    /// `enable-api-fields`: `stable` (default), `beta` or `alpha`.
    pub enable_api_fields: String,
}

impl Default for FeatureFlags {
    fn default() -> Self {
        FeatureFlags {
            enable_api_fields: "beta".to_owned(),
        }
    }
}

impl FeatureFlags {
    /// Reads the `feature-flags` ConfigMap from the set, if any.
    pub fn from_set(set: &ObjectSet<'_>) -> Self {
        let mut flags = FeatureFlags::default();
        if let Some(cm) = set
            .of_kind("", "ConfigMap")
            .find(|o| o.name() == "feature-flags")
            && let Some(v) = cm
                .value()
                .pointer("/data/enable-api-fields")
                .and_then(|v| v.as_str())
        {
            flags.enable_api_fields = v.to_owned();
        }
        flags
    }
}
