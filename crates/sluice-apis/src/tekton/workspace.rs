//! Workspaces (tektoncd/pipeline `pkg/apis/pipeline/v1/workspace_types.go`, `workspace_validation.go`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::{FieldError, FieldErrors};

/// `WorkspaceDeclaration`: a workspace a Task needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceDeclaration {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

impl WorkspaceDeclaration {
    /// `GetMountPath`: `/workspace/<name>` unless set.
    pub fn mount_path(&self) -> String {
        if self.mount_path.is_empty() {
            format!("/workspace/{}", self.name)
        } else {
            self.mount_path.clone()
        }
    }
    pub fn is_optional(&self) -> bool {
        self.optional == Some(true)
    }
}

/// `PipelineWorkspaceDeclaration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineWorkspaceDeclaration {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `WorkspacePipelineTaskBinding`: a pipeline task's Task workspace bound to a Pipeline one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspacePipelineTaskBinding {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workspace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
}

/// `WorkspaceBinding`: a run's workspace bound to a volume source.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceBinding {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi: Option<Value>,
}

const SOURCES: &[&str] = &[
    "volumeClaimTemplate",
    "persistentVolumeClaim",
    "emptyDir",
    "configMap",
    "secret",
    "projected",
    "csi",
];

impl WorkspaceBinding {
    /// `WorkspaceBinding.Validate`: exactly one volume source, with its required name.
    pub fn validate(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let set = [
            self.volume_claim_template.is_some(),
            self.persistent_volume_claim.is_some(),
            self.empty_dir.is_some(),
            self.config_map.is_some(),
            self.secret.is_some(),
            self.projected.is_some(),
            self.csi.is_some(),
        ];
        match set.iter().filter(|b| **b).count() {
            0 => errs.push(FieldError::missing_one_of("", SOURCES)),
            1 => {}
            _ => errs.push(FieldError::multiple_one_of("", SOURCES)),
        }
        let empty_str = |v: &Option<Value>, key: &str| {
            v.as_ref()
                .is_some_and(|v| v.get(key).and_then(Value::as_str).unwrap_or("").is_empty())
        };
        if empty_str(&self.persistent_volume_claim, "claimName") {
            errs.push(FieldError::missing("persistentVolumeClaim.claimName"));
        }
        if empty_str(&self.config_map, "name") {
            errs.push(FieldError::missing("configMap.name"));
        }
        if empty_str(&self.secret, "secretName") {
            errs.push(FieldError::missing("secret.secretName"));
        }
        if empty_str(&self.csi, "driver") {
            errs.push(FieldError::missing("csi.driver"));
        }
        if self.projected.as_ref().is_some_and(|p| {
            p.get("sources")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        }) {
            errs.push(FieldError::missing("projected.sources"));
        }
        // Tekton's webhook does not look at paths; the Pod's validation does
        // (kubernetes pkg/apis/core/validation): the binding's subPath becomes the
        // volumeMount's (validateLocalDescendingPath), the sources are the Pod volume's
        // (validateKeyToPath for items, claim names)
        errs.also(crate::corev1::volume::local_descending_path(
            "subPath",
            &self.sub_path,
        ));
        let mut src = serde_json::Map::new();
        for (k, v) in [
            ("persistentVolumeClaim", &self.persistent_volume_claim),
            ("configMap", &self.config_map),
            ("secret", &self.secret),
            ("projected", &self.projected),
        ] {
            if let Some(v) = v {
                src.insert(k.to_owned(), v.clone());
            }
        }
        if !src.is_empty() {
            errs.also(crate::corev1::volume::volume_source(&Value::Object(src)));
        }
        errs
    }
}

/// Validates run workspace bindings: each valid, names unique. Paths relative to the list.
pub fn validate_bindings(bindings: &[WorkspaceBinding]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, b) in bindings.iter().enumerate() {
        errs.also(b.validate().via_index(i));
        if !seen.insert(b.name.as_str()) {
            errs.push(
                FieldError::new(
                    "name",
                    format!("workspace name {:?} must be unique", b.name),
                )
                .via_index(i),
            );
        }
    }
    errs
}
