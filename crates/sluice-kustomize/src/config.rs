//! Transformer configurations: the field specs the built-in transformers touch beyond
//! kustomize's defaults, read from `configurations:` files and from `crds:` OpenAPI
//! definitions (api/internal/plugins/builtinconfig/transformerconfig.go,
//! api/internal/accumulator/loadconfigfromcrds.go). The defaults themselves live in
//! [`crate::fieldspec`]; a config here only ever adds to them, as `MakeDefaultConfig().Merge`
//! does upstream.

use serde_json::Value;

use crate::fieldspec::{FieldSpec, NameRef};

/// Extra field specs per transformer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
    pub name_reference: Vec<NameRef>,
    pub var_reference: Vec<FieldSpec>,
}

fn specs(v: Option<&Value>) -> Vec<FieldSpec> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(FieldSpec::from_value).collect())
        .unwrap_or_default()
}

fn push_unique(into: &mut Vec<FieldSpec>, more: &[FieldSpec]) {
    for s in more {
        if !into.contains(s) {
            into.push(s.clone());
        }
    }
}

impl TransformerConfig {
    /// Reads a configuration file's mapping (`namePrefix:`, `nameReference:`, ...).
    pub fn from_value(v: &Value) -> TransformerConfig {
        let name_reference = v
            .get("nameReference")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|nr| NameRef {
                        kind: str_of(nr, "kind"),
                        group: str_of(nr, "group"),
                        referrers: specs(nr.get("fieldSpecs")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        TransformerConfig {
            name_prefix: specs(v.get("namePrefix")),
            name_suffix: specs(v.get("nameSuffix")),
            namespace: specs(v.get("namespace")),
            common_labels: specs(v.get("commonLabels")),
            template_labels: specs(v.get("templateLabels")),
            common_annotations: specs(v.get("commonAnnotations")),
            images: specs(v.get("images")),
            replicas: specs(v.get("replicas")),
            name_reference,
            var_reference: specs(v.get("varReference")),
        }
    }

    /// Adds `other`'s specs to this config (duplicates dropped).
    pub fn merge(&mut self, other: &TransformerConfig) {
        push_unique(&mut self.name_prefix, &other.name_prefix);
        push_unique(&mut self.name_suffix, &other.name_suffix);
        push_unique(&mut self.namespace, &other.namespace);
        push_unique(&mut self.common_labels, &other.common_labels);
        push_unique(&mut self.template_labels, &other.template_labels);
        push_unique(&mut self.common_annotations, &other.common_annotations);
        push_unique(&mut self.images, &other.images);
        push_unique(&mut self.replicas, &other.replicas);
        push_unique(&mut self.var_reference, &other.var_reference);
        for nr in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|x| x.kind == nr.kind && x.group == nr.group)
            {
                Some(x) => push_unique(&mut x.referrers, &nr.referrers),
                None => self.name_reference.push(nr.clone()),
            }
        }
    }

    /// The config implied by a `crds:` file: OpenAPI definitions by type name, whose
    /// properties carry `x-kubernetes-annotation`, `x-kubernetes-label-selector`,
    /// `x-kubernetes-identity` and `x-kubernetes-object-ref-{api-version,kind,name-key}`.
    pub fn from_crd_definitions(defs: &Value) -> TransformerConfig {
        let mut tc = TransformerConfig::default();
        let Some(map) = defs.as_object() else {
            return tc;
        };
        for (name, api) in map {
            let props = api.get("Schema").and_then(|s| s.get("properties"));
            let looks_like_k8s = props.is_some_and(|p| {
                ["kind", "apiVersion", "metadata"]
                    .iter()
                    .all(|k| p.get(k).is_some())
            });
            if !looks_like_k8s {
                continue;
            }
            let kind = name.rsplit('.').next().unwrap_or(name).to_owned();
            crd_walk(&mut tc, &kind, defs, name, &mut Vec::new());
        }
        tc
    }
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn crd_walk(
    tc: &mut TransformerConfig,
    kind: &str,
    defs: &Value,
    type_name: &str,
    path: &mut Vec<String>,
) {
    // upstream recurses without a bound; a self-referencing schema would not end
    if path.len() > 32 {
        return;
    }
    let Some(props) = defs
        .get(type_name)
        .and_then(|a| a.get("Schema"))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let fs = |path: &[String]| FieldSpec {
        group: None,
        version: None,
        kind: Some(kind.to_owned()),
        path: path.to_vec(),
        create: false,
        seq_at: Vec::new(),
    };
    for (prop, p) in props {
        path.push(prop.clone());
        let ext = |k: &str| p.get(k).and_then(Value::as_str);
        if ext("x-kubernetes-annotation").is_some() {
            push_unique(&mut tc.common_annotations, &[fs(path)]);
        }
        if ext("x-kubernetes-label-selector").is_some() {
            push_unique(&mut tc.common_labels, &[fs(path)]);
        }
        if ext("x-kubernetes-identity").is_some() {
            push_unique(&mut tc.name_prefix, &[fs(path)]);
        }
        if ext("x-kubernetes-object-ref-api-version").is_some()
            && let Some(ref_kind) = ext("x-kubernetes-object-ref-kind")
        {
            let key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut p2 = path.clone();
            p2.push(key.to_owned());
            tc.merge(&TransformerConfig {
                name_reference: vec![NameRef {
                    kind: ref_kind.to_owned(),
                    group: String::new(),
                    referrers: vec![fs(&p2)],
                }],
                ..TransformerConfig::default()
            });
        }
        if let Some(r) = p.get("$ref").and_then(Value::as_str) {
            crd_walk(tc, kind, defs, r, path);
        }
        path.pop();
    }
}
