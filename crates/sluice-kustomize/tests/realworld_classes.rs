//! One case per class of difference seen on real-world trees (issue 11), each compared with
//! `kubectl kustomize` run here on a small tree the test writes.

mod common;

use common::*;

fn check(name: &str, files: &[(&str, &str)]) {
    ensure_kubectl();
    let root = tree(name, files);
    let (ok, expected, stderr) = kubectl(&root);
    assert!(ok, "{name}: kubectl failed: {stderr}");
    let out = sluice(&root).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        same(&expected, &out.yaml),
        "{name}: differs\n--- kubectl\n{expected}\n--- sluice\n{}",
        out.yaml
    );
    assert_eq!(out.warnings, kubectl_warnings(&stderr), "{name}: warnings");
    let _ = std::fs::remove_dir_all(&root);
}

fn fails(name: &str, files: &[(&str, &str)], needle: &str) {
    ensure_kubectl();
    let root = tree(name, files);
    let (ok, _, stderr) = kubectl(&root);
    assert!(!ok, "{name}: kubectl succeeded");
    let err = sluice(&root).expect_err("sluice fails too");
    assert!(
        err.to_string().contains(needle),
        "{name}: {err}\nkubectl: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

const NS_AND_CM: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: system
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: system
";

/// The namespace transformer's default field specs include `metadata/name` of `Namespace`
/// objects, APIService `spec/service/namespace` and CRD conversion webhooks
/// (kustomize api/konfig/builtinpluginconsts/namespace.go); namePrefix skips Namespaces
/// (api/builtins PrefixTransformer `prefixSuffixFieldSpecsToSkip`). kubebuilder's
/// `config/default` layout: a base Namespace `system`, `namespace:` + `namePrefix:` above.
#[test]
fn namespace_transformer_renames_namespace_objects() {
    check(
        "ns-rename",
        &[
            (
                "base/kustomization.yaml",
                "resources: [ns.yaml, more.yaml]\n",
            ),
            ("base/ns.yaml", NS_AND_CM),
            (
                "base/more.yaml",
                "apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.x.example.com
spec:
  service:
    name: api
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
spec:
  group: example.com
  names: {kind: Thing, plural: things}
  scope: Namespaced
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: webhook
          namespace: system
",
            ),
            (
                "kustomization.yaml",
                "namespace: project-system\nnamePrefix: project-\nresources: [base]\n",
            ),
        ],
    );
    // two Namespace objects cannot both take the namespace's name
    fails(
        "ns-rename-conflict",
        &[
            ("base/kustomization.yaml", "resources: [ns.yaml]\n"),
            (
                "base/ns.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
            ),
            ("kustomization.yaml", "namespace: c\nresources: [base]\n"),
        ],
        "ID conflict",
    );
}

/// Resource ids include the version (api/resid ResId.Equals -> Gvk.Equals): the same name
/// in two versions of one kind is two resources (kubebuilder's multi-version samples).
#[test]
fn ids_include_the_version() {
    check(
        "id-version",
        &[
            ("kustomization.yaml", "resources: [a.yaml]\n"),
            (
                "a.yaml",
                "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\n---\napiVersion: example.com/v2\nkind: Thing\nmetadata:\n  name: t\n",
            ),
        ],
    );
}

/// `behavior: merge|replace` finds the base's object by any id it had (current or previous
/// name and namespace), as resWrangler.appendReplaceOrMerge does with
/// GetMatchingResourcesByAnyId: a ConfigMap from a plain resource file, renamed by a
/// prefix or moved by a namespace in the base (kueue, tektoncd-operator overlays).
#[test]
fn generator_merge_finds_base_objects_by_any_id() {
    let cm =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: manager-config\ndata:\n  a: \"1\"\n";
    // renamed by a prefix and moved to a namespace; the overlay names the current id
    check(
        "gen-merge-current",
        &[
            (
                "base/kustomization.yaml",
                "namespace: kueue-system\nnamePrefix: kueue-\nresources: [cm.yaml]\n",
            ),
            ("base/cm.yaml", cm),
            (
                "kustomization.yaml",
                "resources: [base]\nconfigMapGenerator:\n- name: kueue-manager-config\n  namespace: kueue-system\n  behavior: merge\n  literals: [b=2]\n",
            ),
        ],
    );
    // moved to a namespace; the overlay names the original id (no namespace)
    check(
        "gen-merge-original",
        &[
            (
                "base/kustomization.yaml",
                "namespace: tekton\nresources: [cm.yaml]\n",
            ),
            ("base/cm.yaml", cm),
            (
                "kustomization.yaml",
                "resources: [base]\nconfigMapGenerator:\n- name: manager-config\n  behavior: replace\n  literals: [b=2]\n",
            ),
        ],
    );
}

/// Webhook configurations' `webhooks` merge by `name` in a strategic merge patch
/// (k8s.io/api admissionregistration/v1 `patchMergeKey:"name"`), the patched item first.
#[test]
fn webhooks_merge_by_name() {
    check(
        "webhooks-smp",
        &[
            (
                "kustomization.yaml",
                "resources: [hooks.yaml]
patches:
- patch: |-
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingWebhookConfiguration
    metadata:
      name: vwc
    webhooks:
    - name: b.example.com
      namespaceSelector:
        matchLabels: {x: y}
",
            ),
            (
                "hooks.yaml",
                "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vwc
webhooks:
- name: a.example.com
  sideEffects: None
  admissionReviewVersions: [v1]
  clientConfig:
    service: {name: svc, namespace: system, path: /a}
- name: b.example.com
  sideEffects: None
  admissionReviewVersions: [v1]
  clientConfig:
    service: {name: svc, namespace: system, path: /b}
",
            ),
        ],
    );
}

const CERT_AND_SVC: &str = "apiVersion: v1
kind: Service
metadata:
  name: webhook-service
  namespace: system
spec:
  ports:
  - port: 443
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: serving-cert
  namespace: system
spec:
  dnsNames:
  - SERVICE_NAME.SERVICE_NAMESPACE.svc
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vwc
  annotations:
    cert-manager.io/inject-ca-from: CERTIFICATE_NAMESPACE/CERTIFICATE_NAME
webhooks: []
";

/// Replacement field paths as kubebuilder/cluster-api write them: a leading `.`
/// (yaml.PathGetter's cleanPath drops empty parts) and dotted keys in brackets
/// (`[cert-manager.io/inject-ca-from]`, kyaml utils.SmarterPathSplitter), with `delimiter`,
/// `index` and `create` options.
#[test]
fn replacement_paths_with_leading_dots_and_bracketed_keys() {
    check(
        "repl-brackets",
        &[
            (
                "kustomization.yaml",
                "namespace: project-system
namePrefix: project-
resources: [all.yaml]
replacements:
- source:
    kind: Service
    version: v1
    name: webhook-service
    fieldPath: .metadata.name
  targets:
  - select: {kind: Certificate, group: cert-manager.io, version: v1, name: serving-cert}
    fieldPaths: [.spec.dnsNames.0, .spec.dnsNames.1]
    options: {delimiter: '.', index: 0, create: true}
- source:
    kind: Certificate
    group: cert-manager.io
    version: v1
    name: serving-cert
    fieldPath: .metadata.namespace
  targets:
  - select: {kind: ValidatingWebhookConfiguration}
    fieldPaths:
    - .metadata.annotations.[cert-manager.io/inject-ca-from]
    options: {delimiter: '/', index: 0, create: true}
",
            ),
            ("all.yaml", CERT_AND_SVC),
        ],
    );
}

/// kustomize decodes a kustomization with Go's encoding/json, which matches field names
/// case-insensitively at every level: opentelemetry-operator writes
/// `vars: [{fieldref: {fieldPath: ...}}]` for kustomize's `fieldpath` (api/types/var.go),
/// other trees `NamePrefix`, `Target`, `FieldPaths`.
#[test]
fn kustomization_fields_match_case_insensitively() {
    check(
        "case-insensitive",
        &[
            (
                "kustomization.yaml",
                "NamePrefix: p-
resources: [all.yaml]
vars:
- name: CERTIFICATE_NAMESPACE
  objref: {kind: Certificate, group: cert-manager.io, version: v1, name: serving-cert}
  fieldref:
    fieldPath: metadata.namespace
- name: CERTIFICATE_NAME
  OBJREF: {Kind: Certificate, group: cert-manager.io, version: v1, Name: serving-cert}
  FieldRef: {}
configurations: [config.yaml]
Patches:
- Target: {Kind: Service}
  Patch: |-
    - op: add
      path: /metadata/labels
      value: {a: b}
",
            ),
            ("all.yaml", CERT_AND_SVC),
            (
                "config.yaml",
                "varReference:\n- path: metadata/annotations\n  kind: ValidatingWebhookConfiguration\n",
            ),
        ],
    );
}

/// `create: true` on a list index (kyaml yaml.PathGetter): one past the end appends, a
/// missing list is created by a numeric part, further out fails.
#[test]
fn replacement_create_on_list_indexes() {
    let objects = "apiVersion: v1
kind: ConfigMap
metadata: {name: src}
data: {a: hello}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dst}
data:
  l: [one]
  o: [{x: 1}]
";
    let kustomization = |paths: &str| {
        format!(
            "resources: [all.yaml]
replacements:
- source: {{kind: ConfigMap, name: src, fieldPath: data.a}}
  targets:
  - select: {{kind: ConfigMap, name: dst}}
    fieldPaths: [{paths}]
    options: {{create: true}}
"
        )
    };
    let ok = kustomization("data.l.1, data.o.1.x, data.m.0, data.n.0.x");
    check(
        "repl-create-index",
        &[("kustomization.yaml", &ok), ("all.yaml", objects)],
    );
    let bad = kustomization("data.l.2");
    fails(
        "repl-create-index-far",
        &[("kustomization.yaml", &bad), ("all.yaml", objects)],
        "unable to find or create field \"data.l.2\" in replacement target: index 2 specified but only 1 elements found",
    );
}

/// A block scalar that ends a file with no final line break keeps no trailing newline in
/// go-yaml v3 (libyaml's scanner adds only breaks it read), so kustomize prints `|-`
/// (argo-workflows' webhook secret, argo-rollouts' notification ConfigMap).
#[test]
fn block_scalar_at_end_of_file_without_newline() {
    let cm = |name: &str, indicator: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: {indicator} # c\n\n    x: 1\n    y: \"2\""
        )
    };
    let (a, b, c, d) = (cm("a", "|"), cm("b", "|+"), cm("c", ">"), cm("d", "|2-"));
    let quoted = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e\ndata:\n  k: |\n    x\n  l: \"y\\n\"";
    check(
        "block-eof",
        &[
            (
                "kustomization.yaml",
                "resources: [a.yaml, b.yaml, c.yaml, d.yaml, e.yaml]\n",
            ),
            ("a.yaml", &a),
            ("b.yaml", &b),
            ("c.yaml", &c),
            ("d.yaml", &d),
            ("e.yaml", quoted),
        ],
    );
}

/// A directory whose kustomization is `kind: Component` builds as the root (kustomize
/// v5.5 checks the kind only of directories it accumulates: argo-workflows'
/// `manifests/components/*`); listed under `resources:` it still fails.
#[test]
fn component_built_as_root() {
    let files = [
        (
            "comp/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: c-\nresources: [cm.yaml]\nlabels:\n- pairs: {a: b}\n",
        ),
        (
            "comp/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n",
        ),
        ("kustomization.yaml", "resources: [comp]\n"),
    ];
    ensure_kubectl();
    let root = tree("component-root", &files);
    let dir = root.join("comp");
    let (ok, expected, stderr) = kubectl(&dir);
    assert!(ok, "kubectl failed: {stderr}");
    let out = sluice(&dir).expect("builds");
    assert!(same(&expected, &out.yaml), "{expected}\n---\n{}", out.yaml);
    let _ = std::fs::remove_dir_all(&root);
    fails(
        "component-as-resource",
        &files,
        "expected kind != 'Component'",
    );
}

/// A JSON 6902 patch that renames an object keeps its old id for later patch targets
/// (PatchTransformer stores the previous id first): tektoncd-operator's openshift base
/// renames `tekton-operator` and then patches it by its old name.
#[test]
fn json_patch_rename_keeps_the_old_id() {
    check(
        "json-rename",
        &[
            (
                "kustomization.yaml",
                "resources: [d.yaml]
patches:
- target: {kind: Deployment, name: tekton-operator}
  patch: |-
    - op: replace
      path: /metadata/name
      value: openshift-operator
- target: {kind: Deployment, name: tekton-operator}
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: openshift-operator
    spec:
      replicas: 1
",
            ),
            (
                "d.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: tekton-operator\nspec: {}\n",
            ),
        ],
    );
}

/// A name reference follows a renamed target only within the referrer's current namespace
/// (cluster-scoped targets, ServiceAccounts and cluster-scoped referrers excepted), even
/// with one candidate (api/filters/nameref selectReferral, sameCurrentNamespaceAsReferrer):
/// kueue's certificate in `kueue-system` keeps its issuer's old name.
#[test]
fn name_references_stay_in_the_referrer_namespace() {
    let cert = |name: &str, ns: &str| {
        format!(
            "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  secretName: {name}\n  issuerRef:\n    kind: Issuer\n    name: selfsigned-issuer\n"
        )
    };
    let certs = format!("{}---\n{}", cert("a", "system"), cert("b", "other"));
    check(
        "nameref-ns",
        &[
            (
                "base/kustomization.yaml",
                "resources: [issuer.yaml, certs.yaml]\nconfigurations: [config.yaml]\n",
            ),
            (
                "base/issuer.yaml",
                "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: selfsigned-issuer\n  namespace: system\nspec:\n  selfSigned: {}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  namespace: system\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\n  namespace: other\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- kind: ServiceAccount\n  name: sa\n  namespace: system\n",
            ),
            ("base/certs.yaml", &certs),
            (
                "base/config.yaml",
                "nameReference:\n- kind: Issuer\n  group: cert-manager.io\n  fieldSpecs:\n  - kind: Certificate\n    group: cert-manager.io\n    path: spec/issuerRef/name\n",
            ),
            ("kustomization.yaml", "namePrefix: p-\nresources: [base]\n"),
        ],
    );
}

/// A strategic merge patch `$patch: delete` at the top removes its target, targeted or not,
/// from `patches` and `patchesStrategicMerge` (resWrangler.ApplySmPatch drops the emptied
/// resource): kueue's e2e certmanager overlay deletes the webhook Secret.
#[test]
fn smp_delete_removes_the_target() {
    let del = |kind: &str, name: &str| {
        format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n$patch: delete\n")
    };
    let (s, c, v) = (
        del("Secret", "s"),
        del("ConfigMap", "c"),
        del("Service", "v"),
    );
    check(
        "smp-delete",
        &[
            (
                "r.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: v\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: kept\n",
            ),
            ("del.yaml", &s),
            ("delc.yaml", &c),
            ("delv.yaml", &v),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- path: del.yaml\n  target: {kind: Secret}\n- path: delc.yaml\npatchesStrategicMerge: [delv.yaml]\n",
            ),
        ],
    );
}

/// Any strategic merge patch on a built-in kind rebuilds every keyed list of the target
/// (kyaml walker walkAssociativeSequence): duplicate keys collapse to the first place with
/// the last content; ports are keyed with their protocol (53/TCP and 53/UDP stay).
/// opentelemetry-operator's openshift overlay appends env vars the base already has.
#[test]
fn smp_collapses_duplicate_keys_in_every_keyed_list() {
    check(
        "smp-dedupe",
        &[
            (
                "d.yaml",
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
      - name: a
        image: x
        env:
        - name: A
          value: \"1\"
        - name: B
          value: \"2\"
        - name: A
          valueFrom:
            fieldRef: {fieldPath: metadata.name}
        - name: C
          value: \"4\"
        - name: B
          value: \"5\"
        ports:
        - containerPort: 53
          protocol: TCP
        - containerPort: 53
          protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: s
spec:
  ports:
  - port: 53
    protocol: TCP
  - port: 53
    protocol: UDP
",
            ),
            (
                "kustomization.yaml",
                "resources: [d.yaml]
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: d
    spec:
      replicas: 2
- patch: |-
    apiVersion: v1
    kind: Service
    metadata:
      name: s
    spec:
      type: ClusterIP
",
            ),
        ],
    );
}

// Found by the differential fuzzer (tests/difffuzz.rs), seeds 13, 233, 241, 305 and 344.

/// A `replicas:` entry that matches no Deployment, StatefulSet, ReplicaSet or
/// ReplicationController by original or current name fails the build (kustomize's
/// replicacounttransformer: `found`).
#[test]
fn replicas_without_a_matching_workload_fail() {
    fails(
        "replicas-no-match",
        &[
            (
                "svc.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  ports:\n  - port: 80\n",
            ),
            (
                "kustomization.yaml",
                "resources: [svc.yaml]\nreplicas:\n- name: db\n  count: 2\n",
            ),
        ],
        "resource with name db does not match a config with the following GVK [Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] ReplicationController.[noVer].[noGrp]]",
    );
}

/// `labels` with `includeTemplates: true` also labels a StatefulSet's volumeClaimTemplates.
#[test]
fn labels_include_templates_reach_volume_claim_templates() {
    check(
        "labels-vct",
        &[
            (
                "sts.yaml",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\nspec:\n  template:\n    metadata: {}\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n",
            ),
            (
                "kustomization.yaml",
                "resources: [sts.yaml]\nlabels:\n- pairs: {a: b}\n  includeTemplates: true\n",
            ),
        ],
    );
}

/// Components run after the kustomization's own generators: their transformers label the
/// parent's generated ConfigMap, and their generators may merge into it.
#[test]
fn components_run_after_the_parent_generators() {
    check(
        "components-after-generators",
        &[
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n  c: v\nconfigMapGenerator:\n- name: fromtop\n  behavior: merge\n  literals: [a=b]\n",
            ),
            (
                "kustomization.yaml",
                "components: [comp]\nnamePrefix: p-\nconfigMapGenerator:\n- name: fromtop\n  literals: [x=y]\n",
            ),
        ],
    );
}

/// A merging generator's own fields win: a Secret merged with another `type` takes it (and
/// the hash follows).
#[test]
fn generator_merge_takes_the_new_type() {
    check(
        "merge-type",
        &[
            (
                "base/kustomization.yaml",
                "secretGenerator:\n- name: s\n  literals: [password=pw]\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\nsecretGenerator:\n- name: s\n  behavior: merge\n  type: kubernetes.io/basic-auth\n  literals: [username=u]\n",
            ),
        ],
    );
}

/// A label a base's commonLabels created is one YAML node in kustomize at every place it
/// was created (metadata, selector, template); an overlay that changes it at one place (a
/// `labels` entry without selectors, a strategic merge patch, a replacement) changes it at
/// all of them, and a JSON 6902 patch (a JSON round trip) ends the sharing. Seed 1112.
#[test]
fn labels_created_together_change_together() {
    let base = (
        "base/d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels:\n    k2: orig\nspec:\n  selector:\n    matchLabels:\n      k2: orig\n  template:\n    metadata:\n      labels:\n        k2: orig\n",
    );
    let base_k = (
        "base/kustomization.yaml",
        "resources: [d.yaml]\ncommonLabels:\n  k1: a\n  k2: a\n",
    );
    for (name, overlay) in [
        (
            "alias-labels",
            "resources: [base]\nlabels:\n- pairs: {k1: b, k2: b}\n",
        ),
        (
            "alias-smp",
            "resources: [base]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: d\n      labels:\n        k1: z\n",
        ),
        (
            "alias-json6902",
            "resources: [base]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value: {p: q}\nlabels:\n- pairs: {k1: b}\n",
        ),
        (
            "alias-replacement",
            "resources: [base]\nreplacements:\n- source: {kind: Deployment, fieldPath: metadata.name}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [metadata.labels.k1]\n",
        ),
    ] {
        check(name, &[base, base_k, ("kustomization.yaml", overlay)]);
    }
}

/// A generator with `behavior: create` (or unset) for a name an inherited object had fails
/// (resWrangler.appendReplaceOrMerge); an unknown behavior string is "unspecified", which
/// creates. Seeds 5047 and 6152.
#[test]
fn generator_create_of_an_existing_name_fails_and_unknown_behaviors_create() {
    fails(
        "create-exists",
        &[
            (
                "base/kustomization.yaml",
                "namePrefix: p-\nconfigMapGenerator:\n- name: c\n  literals: [a=b]\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\nconfigMapGenerator:\n- name: c\n  behavior: create\n  literals: [a=c]\n",
            ),
        ],
        "exists; behavior must be merge or replace",
    );
    for behavior in ["Foo", "Merge", "\"\""] {
        check(
            "unknown-behavior",
            &[(
                "kustomization.yaml",
                &format!(
                    "configMapGenerator:\n- name: c\n  behavior: {behavior}\n  literals: [a=b]\n"
                ),
            )],
        );
    }
}

/// Two objects renamed from one name: a reference picks the one that got the referrer's
/// prefixes and suffixes (nameref.go selectReferral, prefixSuffixEquals). Seed 5997.
#[test]
fn name_references_prefer_the_referrers_prefixes_and_suffixes() {
    let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: r\nsubjects:\n- kind: ServiceAccount\n  name: sa\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  serviceAccountName: sa\n";
    check(
        "nameref-affixes",
        &[
            ("base/sa.yaml", sa),
            (
                "base/kustomization.yaml",
                "resources: [sa.yaml]\nnamePrefix: dev-\n",
            ),
            ("comp/sa.yaml", sa),
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [sa.yaml]\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\ncomponents: [comp]\nnameSuffix: -v2\n",
            ),
        ],
    );
}

/// A RoleBinding subject without a namespace refers to a ServiceAccount in the referrer's
/// namespace: one a base moved to another namespace is not it (seed 21703); two candidates
/// with different names and the referrer's affixes are kustomize's "found multiple
/// possible referrals" error (seed 22484).
#[test]
fn subjects_without_namespace_and_ambiguous_referrals() {
    let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: r\nsubjects:\n- kind: ServiceAccount\n  name: sa\n";
    check(
        "subject-other-namespace",
        &[
            ("base/sa.yaml", sa),
            (
                "base/kustomization.yaml",
                "resources: [sa.yaml]\nnamespace: team-a\n",
            ),
            ("own.yaml", sa),
            ("kustomization.yaml", "resources: [base, own.yaml]\n"),
        ],
    );
    fails(
        "ambiguous-referral",
        &[
            ("base/sa.yaml", sa),
            (
                "base/kustomization.yaml",
                "resources: [sa.yaml]\nnamePrefix: p-\n",
            ),
            ("own.yaml", sa),
            (
                "kustomization.yaml",
                "resources: [base, own.yaml]\nnamePrefix: x-\n",
            ),
        ],
        "found multiple possible referrals",
    );
}

/// `images` with `tagSuffix` (kustomize api/filters/imagetag/updater.go: a new tag and/or
/// digest replace both, else the suffix is appended to the tag and drops the digest). The
/// ImageTagTransformer runs the legacy filter over every container list and then the
/// `images` field specs (containers/initContainers of pods and pod templates, any kind), so
/// the suffix lands twice where both reach and once elsewhere (a CronJob's job template).
/// newTag together with digest keeps both (wide fuzzer seeds 31, 68, 122).
#[test]
fn image_tag_suffix_and_tag_with_digest() {
    let r = "apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
      - {name: a, image: nginx:1}
      - {name: noimage}
      initContainers:
      - {name: i, image: nginx}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: a, image: 'nginx@sha256:abc'}
  ephemeralContainers:
  - {name: e, image: 'nginx:1'}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - {name: a, image: 'nginx:1'}
          - {name: b, image: 'busybox:1@sha256:def'}
---
apiVersion: example.com/v1
kind: Foo
metadata: {name: f}
spec:
  containers:
  - image: nginx:1
";
    check(
        "image-tag-suffix",
        &[
            ("r.yaml", r),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\nimages:\n- name: nginx\n  tagSuffix: -fips\n- name: busybox\n  newTag: v2\n  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n",
            ),
        ],
    );
}

/// The generator name hash of kustomize v5.5.0 (api/hasher/hasher.go encodeConfigMap and
/// encodeSecret) covers kind, name, data (binaryData, a Secret's type) but not
/// `immutable` (wide fuzzer seed 97).
#[test]
fn generator_hash_ignores_immutable() {
    check(
        "hash-immutable",
        &[(
            "kustomization.yaml",
            "configMapGenerator:\n- name: c\n  literals: [a=1]\n  options:\n    immutable: true\nsecretGenerator:\n- name: s\n  literals: [a=1]\n  options:\n    immutable: true\n",
        )],
    );
}

/// kyaml's merge2 (kustomize's strategic merge patch): only `$patch` is a directive.
/// `$setElementOrder/...`, `$retainKeys` and `$deleteFromPrimitiveList/...` stay as plain
/// fields; a null clears a field also inside a new subtree; `$patch: delete` on a map
/// removes it; an associative list's `- $patch: replace` item replaces the list while a
/// plain list keeps such items as they are; the fields of a list item are keyed by the
/// list's field (a container's `ports` by containerPort) (wide fuzzer seeds 25, 43, 78).
#[test]
fn strategic_merge_directives_as_kyaml() {
    let r = "apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1}
  template:
    spec:
      containers:
      - name: a
        image: x
        args: [p]
        ports:
        - containerPort: 80
        - containerPort: 82
      volumes:
      - {name: v1, emptyDir: {}}
      - {name: v2, emptyDir: {}}
---
apiVersion: example.com/v1
kind: W
metadata: {name: w}
spec:
  a: 1
  items: [{name: a}]
";
    let k = "resources: [r.yaml]
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: d}
    spec:
      strategy:
        $retainKeys: [type]
        type: Recreate
        rollingUpdate: null
      newmap:
        x: null
        $patch: merge
        y: {z: null, $foo: 1}
        l:
        - {a: null, b: 1, $patch: merge}
        - {}
      template:
        spec:
          $setElementOrder/containers: [{name: b}, {name: a}]
          $deleteFromPrimitiveList/finalizers: [x]
          volumes:
          - $patch: replace
          - name: only
            emptyDir: {}
          containers:
          - name: b
            image: y
            env:
            - {name: E, value: null}
            - {$patch: delete, name: F}
          - name: a
            args:
            - $patch: replace
            - z
            ports:
            - containerPort: 9
            - containerPort: 82
              name: x
- patch: |-
    apiVersion: example.com/v1
    kind: W
    metadata: {name: w}
    spec:
      $retainKeys: [a]
      b:
        $patch: delete
      c: {d: null, $x: 1}
      items:
      - $patch: replace
      - name: c
";
    check(
        "smp-directives",
        &[("r.yaml", r), ("kustomization.yaml", k)],
    );
}

/// Patch and replacement target selectors match group, version and kind as anchored
/// regular expressions, like name and namespace (api/types/selector.go NewSelectorRegex)
/// (wide fuzzer seed 14).
#[test]
fn selector_kind_is_a_regex() {
    check(
        "selector-kind-regex",
        &[
            (
                "r.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
            ),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- target:\n    kind: Deploy.*|Service\n    name: w.*\n  patch: |-\n    - op: add\n      path: /metadata/labels\n      value: {x: \"y\"}\n- target:\n    version: v.*\n    group: apps|\n    kind: Serv\n  patch: |-\n    - op: add\n      path: /metadata/labels\n      value: {never: \"1\"}\n",
            ),
        ],
    );
}

/// A strategic merge patch without a target finds its object by the current id or one it
/// had before as a whole (name and namespace together, kustomize's PrevIds and
/// GetMatchingResourcesByAnyId): a name from before a rename together with a namespace
/// from after it is no id the object had (wide fuzzer seeds 14, 19).
#[test]
fn smp_matches_whole_previous_ids() {
    let dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n      - {name: main, image: x}\n";
    let smp = |name: &str, ns: &str| {
        format!(
            "patches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {name}\n      namespace: {ns}\n    spec:\n      replicas: 3\n"
        )
    };
    // renamed and moved in the base, then moved again by a component
    check(
        "smp-prev-id",
        &[
            ("base/d.yaml", dep),
            (
                "base/kustomization.yaml",
                "resources: [d.yaml]\nnamePrefix: dev-\nnamespace: prod\n",
            ),
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamespace: team-a\n",
            ),
            (
                "kustomization.yaml",
                &format!(
                    "resources: [base]\ncomponents: [comp]\n{}",
                    smp("app", "prod")
                ),
            ),
        ],
    );
    fails(
        "smp-prev-id-mixed",
        &[
            ("base/d.yaml", dep),
            (
                "base/kustomization.yaml",
                "resources: [d.yaml]\nnamespace: team-a\npatches:\n- target: {kind: Deployment, name: app}\n  options: {allowNameChange: true}\n  patch: |-\n    - op: replace\n      path: /metadata/name\n      value: renamed\n",
            ),
            (
                "kustomization.yaml",
                &format!("resources: [base]\n{}", smp("app", "team-a")),
            ),
        ],
        "no matches for Id Deployment.v1.apps/app.team-a",
    );
}

/// A webhook's `clientConfig.service` is not among the namespace transformer's fields: the
/// name reference to a Service of the build renames it and writes the Service's namespace
/// (nameref.go setMapping, candidates by the map's namespace, original first); a Service
/// not in the build keeps its namespace (wide fuzzer seed 29). A map that already names the
/// Service's current name is no reference to fix (nameref.go previousNameMatches looks at
/// the names it had before) and keeps the namespace it wrote (opentelemetry-operator's
/// openshift overlay).
#[test]
fn webhook_service_namespace_follows_the_service() {
    check(
        "webhook-service-current-name",
        &[
            (
                "base/r.yaml",
                "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: m}\nwebhooks:\n- name: a\n  clientConfig:\n    service: {name: svc, namespace: system}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: system}\n",
            ),
            (
                "base/kustomization.yaml",
                "resources: [r.yaml]\nnamespace: op-system\nnamePrefix: op-\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\npatches:\n- patch: |-\n    apiVersion: admissionregistration.k8s.io/v1\n    kind: MutatingWebhookConfiguration\n    metadata: {name: op-m}\n    webhooks:\n    - name: a\n      clientConfig:\n        service: {name: op-svc, namespace: system}\n",
            ),
        ],
    );
    check(
        "webhook-service-ns",
        &[
            (
                "r.yaml",
                "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: v}
webhooks:
- name: a
  clientConfig:
    service: {name: svc, namespace: old}
- name: b
  clientConfig:
    service: {name: missing, namespace: old}
- name: c
  clientConfig:
    service: {name: svc2}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: old}
---
apiVersion: v1
kind: Service
metadata: {name: svc2}
",
            ),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\nnamespace: new\nnamePrefix: p-\n",
            ),
        ],
    );
}

/// `ports` lists where some item names a protocol (DNS on 53/TCP and 53/UDP): kyaml keys
/// them by port and protocol as written; an item with the same port and protocol merges in
/// place, one whose protocol is written on one side only is dropped, new ones go first.
/// Without any protocol the list merges by port, the patch's items first (wide fuzzer
/// seeds 13, 15, 40).
#[test]
fn ports_keyed_with_protocol() {
    let dep = |ports: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n        ports: {ports}\n"
        )
    };
    let cases = [
        (
            "[{containerPort: 80}, {containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]",
            "[{containerPort: 9}, {containerPort: 53, protocol: TCP, name: tcp}, {containerPort: 80, name: http}]",
        ),
        (
            "[{containerPort: 80}, {containerPort: 81}]",
            "[{containerPort: 9}, {containerPort: 81, protocol: TCP, name: u}]",
        ),
        (
            "[{containerPort: 80, protocol: TCP}]",
            "[{containerPort: 80, protocol: UDP, name: u}, {containerPort: 1}]",
        ),
        (
            "[{containerPort: 80}, {containerPort: 81}, {containerPort: 82}]",
            "[{containerPort: 9}, {containerPort: 82, name: x}, {containerPort: 8}]",
        ),
    ];
    for (i, (target, patch)) in cases.iter().enumerate() {
        let k = format!(
            "resources: [r.yaml]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {{name: d}}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: c\n            ports: {patch}\n"
        );
        check(
            &format!("ports-protocol-{i}"),
            &[("r.yaml", &dep(target)), ("kustomization.yaml", &k)],
        );
    }
}

/// With `buildMetadata: [originAnnotations]`, a generator with `behavior: replace` becomes
/// the object's origin; one with `merge` leaves the origin of the object it merges into
/// (wide fuzzer seed 270).
#[test]
fn origin_of_replaced_and_merged_generators() {
    for b in ["merge", "replace"] {
        check(
            &format!("origin-{b}"),
            &[
                (
                    "base/kustomization.yaml",
                    "configMapGenerator:\n- name: c\n  literals: [a=1]\n- name: d\n  literals: [a=1]\n",
                ),
                (
                    "comp/kustomization.yaml",
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator:\n- name: d\n  behavior: merge\n  literals: [c=3]\n",
                ),
                (
                    "kustomization.yaml",
                    &format!(
                        "resources: [base]\ncomponents: [comp]\nbuildMetadata: [originAnnotations]\nconfigMapGenerator:\n- name: c\n  behavior: {b}\n  literals: [b=2]\n- name: d\n  behavior: replace\n  literals: [b=2]\n"
                    ),
                ),
            ],
        );
    }
}

/// A generator merging into or replacing a ConfigMap written in a base puts its own
/// metadata in place of the old one's (a `creationTimestamp: null` goes), keeping the name,
/// the namespace and both sets of labels and annotations (wide fuzzer seeds 303, 484).
#[test]
fn generator_merge_takes_the_new_metadata() {
    for b in ["merge", "replace"] {
        check(
            &format!("gen-meta-{b}"),
            &[
                (
                    "base/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  creationTimestamp: null\n  labels: {a: \"1\"}\n  annotations: {n: x}\n  finalizers: [f]\ndata:\n  a: \"1\"\n",
                ),
                (
                    "base/kustomization.yaml",
                    "resources: [cm.yaml]\nnamespace: ns\n",
                ),
                (
                    "kustomization.yaml",
                    &format!(
                        "resources: [base]\nconfigMapGenerator:\n- name: c\n  namespace: ns\n  behavior: {b}\n  literals: [b=2]\n  options:\n    labels: {{g: \"2\"}}\n"
                    ),
                ),
            ],
        );
    }
}

/// A pod's `serviceAccountName` follows a renamed ServiceAccount only in the pod's own
/// namespace (kubectl kustomize v5.5.0); an RBAC subject names its namespace (wide fuzzer
/// seed 362).
#[test]
fn service_account_name_stays_in_its_namespace() {
    check(
        "sa-namespace",
        &[
            (
                "r.yaml",
                "apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, namespace: team-b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      serviceAccountName: sa
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d2, namespace: team-b}
spec:
  template:
    spec:
      serviceAccountName: sa
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: other}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
- {kind: ServiceAccount, name: sa, namespace: team-b}
",
            ),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\nnameSuffix: -s\n",
            ),
        ],
    );
}

/// An RBAC subject naming a ServiceAccount's current name is no reference to fix either
/// (previousNameMatches): it keeps the namespace it wrote, while one naming the old name
/// follows the ServiceAccount.
#[test]
fn subject_naming_the_current_name_keeps_its_namespace() {
    check(
        "subject-current-name",
        &[
            (
                "base/r.yaml",
                "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: system}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa, namespace: system}\n",
            ),
            (
                "base/kustomization.yaml",
                "resources: [r.yaml]\nnamespace: op-system\nnamePrefix: op-\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\npatches:\n- patch: |-\n    apiVersion: rbac.authorization.k8s.io/v1\n    kind: ClusterRoleBinding\n    metadata: {name: op-crb}\n    subjects:\n    - {kind: ServiceAccount, name: op-sa, namespace: system}\n    - {kind: ServiceAccount, name: sa, namespace: system}\n",
            ),
        ],
    );
}

/// A strategic merge walks associative lists by their merge keys: an empty `- {}` item has
/// no key and is dropped, in the patched list and in the target's other keyed lists; in a
/// custom resource whose list merges by a key of the `openapi` schema too (wide fuzzer
/// seed 24).
#[test]
fn empty_items_of_keyed_lists_go() {
    check(
        "empty-keyed-items",
        &[
            (
                "r.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: x}\n      - {}\n      volumes:\n      - {}\n      tolerations:\n      - {}\n",
            ),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d}\n    spec:\n      template:\n        spec:\n          containers:\n          - {name: b, image: y}\n",
            ),
        ],
    );
}

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: nginx\n";

/// `buildMetadata: [transformerAnnotations]`: each built-in transformer a kustomization
/// configures (api/internal/target/kusttarget_configplugin.go `configureBuiltinTransformers`:
/// one per patch, label entry, image and replica, one for commonLabels whenever `labels` or
/// `commonLabels` is set, Prefix and Suffix apart) records itself in every resource's
/// `alpha.config.kubernetes.io/transformations` after it runs (multitransformer.go,
/// reswrangler.go `AddTransformerAnnotation`), in the base and then the overlay.
#[test]
fn transformer_annotations_record_each_builtin_transformer() {
    check(
        "transformer-annotations",
        &[
            ("base/d.yaml", WEB),
            (
                "base/kustomization.yaml",
                "resources: [d.yaml]\nnamePrefix: b-\nnameSuffix: -s\nlabels:\n- pairs: {tier: web}\ncommonAnnotations: {team: a}\nconfigMapGenerator:\n- name: cm\n  literals: [x=1]\nreplicas:\n- name: web\n  count: 2\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\nbuildMetadata: [transformerAnnotations]\nnamespace: x\nimages:\n- name: nginx\n  newTag: \"2\"\n- name: busybox\n  newTag: \"1\"\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /metadata/annotations/q\n      value: r\nreplacements:\n- source: {kind: ConfigMap, fieldPath: metadata.name}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.template.metadata.annotations.cm]\n    options: {create: true}\n",
            ),
        ],
    );
}

/// The origin and transformations are annotations of the object while kustomize builds: a
/// JSON patch that replaces `/metadata/annotations` drops both, and the next transformer,
/// finding no origin, becomes the origin (reswrangler.go `AddTransformerAnnotation`:
/// "we assume that the transformer generated the resource").
#[test]
fn a_patch_replacing_annotations_resets_the_build_annotations() {
    for meta in [
        "[transformerAnnotations]",
        "[transformerAnnotations, originAnnotations]",
        "[originAnnotations]",
        "[managedByLabel]",
    ] {
        check(
            "build-annotations-reset",
            &[
                ("d.yaml", WEB),
                (
                    "kustomization.yaml",
                    &format!(
                        "resources: [d.yaml]\nbuildMetadata: {meta}\ncommonAnnotations: {{z: w}}\npatches:\n- target: {{kind: Deployment}}\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value: {{q: r}}\nimages:\n- name: nginx\n  newTag: \"2\"\n"
                    ),
                ),
            ],
        );
    }
}

/// `transformers:` configs (built-in plugins): the inline ones run first, then those read
/// from files, in their order (kusttarget.go `configureExternalTransformers` appends the
/// inline configs, then accumulates the paths); with transformerAnnotations each records
/// its config's origin (resource/origin.go `OriginFromCustomPlugin`: configuredIn is the
/// file the config came from, configuredBy its apiVersion, kind, name and namespace).
#[test]
fn transformer_configs_run_inline_first_and_record_their_origin() {
    let lt = "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: lt\nlabels:\n  order: file\nfieldSpecs:\n- path: metadata/labels\n  create: true\n";
    for meta in [
        "",
        "buildMetadata: [transformerAnnotations, originAnnotations]\n",
    ] {
        check(
            "transformer-configs-order",
            &[
                ("d.yaml", WEB),
                ("lt.yaml", lt),
                (
                    "kustomization.yaml",
                    &format!(
                        "resources: [d.yaml]\n{meta}transformers:\n- lt.yaml\n- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata:\n    name: inline\n    namespace: q\n  labels:\n    order: inline\n  fieldSpecs:\n  - path: metadata/labels\n    create: true\n"
                    ),
                ),
            ],
        );
    }
}

/// A HashTransformer config in `transformers:` appends the content hash, and the build's
/// own hash step appends it again (kusttarget.go `addHashesToNames` runs after every
/// transformer); ConfigMap/Secret generators as `generators:` configs take their config's
/// origin.
#[test]
fn hash_transformer_and_generator_configs() {
    check(
        "hash-transformer",
        &[
            (
                "d.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
            ),
            (
                "g.yaml",
                "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: gen1\nliterals: [a=b]\n",
            ),
            (
                "kustomization.yaml",
                "resources: [d.yaml]\nbuildMetadata: [originAnnotations, transformerAnnotations]\ngenerators:\n- g.yaml\n- |-\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata:\n    name: s1\n  literals: [x=y]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: HashTransformer\n  metadata:\n    name: h\n",
            ),
        ],
    );
}

/// `validators:` with a built-in plugin config (kusttarget.go `runValidators`): it runs on
/// the resources after the transformers and must not change them; one that changes a value
/// fails with kustomize's message, one with nothing to do passes.
#[test]
fn builtin_validators() {
    let files = |labels: &str| {
        vec![
            (
                "d.yaml".to_owned(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  labels:\n    l: v\n"
                    .to_owned(),
            ),
            (
                "kustomization.yaml".to_owned(),
                format!(
                    "resources: [d.yaml]\nvalidators:\n- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata:\n    name: v\n  labels: {labels}\n  fieldSpecs:\n  - path: metadata/labels\n    create: true\n"
                ),
            ),
        ]
    };
    let as_refs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let changed = as_refs(&files("{l: other}"));
    let changed: Vec<(&str, &str)> = changed
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    fails(
        "validator-changes",
        &changed,
        "validator shouldn't modify the resource map: nodes unequal: ",
    );
    let nothing = as_refs(&files("{}"));
    let nothing: Vec<(&str, &str)> = nothing
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    check("validator-nothing", &nothing);
}

const RBAC: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  namespace: mine\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: crb\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa}\n- {kind: ServiceAccount, name: default, namespace: old}\n- {kind: User, name: default}\n";

/// A NamespaceTransformer config (api/filters/namespace/namespace.go): `metadata.namespace`
/// of every namespaceable object whatever its field specs, `unsetOnly`, and binding
/// subjects by `setRoleBindingSubjects` (`defaultOnly`: subjects named "default" of any
/// kind; `allServiceAccounts`; `none`); a `subjects/namespace` field spec of a binding kind
/// is left to that option.
#[test]
fn namespace_transformer_config_options() {
    for opts in [
        "",
        "unsetOnly: true\n",
        "setRoleBindingSubjects: allServiceAccounts\n",
        "setRoleBindingSubjects: none\n",
        "unsetOnly: true\nsetRoleBindingSubjects: allServiceAccounts\n",
    ] {
        check(
            "namespace-plugin",
            &[
                ("r.yaml", RBAC),
                (
                    "ns.yaml",
                    &format!(
                        "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata:\n  name: ns\n  namespace: plugin-ns\n{opts}fieldSpecs:\n- path: subjects/namespace\n  kind: ClusterRoleBinding\n  create: true\n"
                    ),
                ),
                (
                    "kustomization.yaml",
                    "resources: [r.yaml]\ntransformers: [ns.yaml]\n",
                ),
            ],
        );
    }
}

/// A PatchJson6902Transformer config must name its target (builtins
/// PatchJson6902Transformer.go `Config`); kustomize configures every transformer before it
/// runs any, so this error comes before the kustomization's own transformers fail.
#[test]
fn json6902_plugin_config_needs_a_target_name() {
    fails(
        "json6902-config",
        &[
            ("r.yaml", RBAC),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- target: {kind: Nothing}\n  patch: |-\n    - op: replace\n      path: /x\n      value: 1\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: PatchJson6902Transformer\n  metadata:\n    name: j\n  target:\n    kind: ConfigMap\n  jsonOp: '[{\"op\": \"add\", \"path\": \"/data\", \"value\": {}}]'\n",
            ),
        ],
        "plugin PatchJson6902Transformer.builtin.[noGrp]/j.[noNs] fails configuration: must specify the target name",
    );
}

/// An error inside a base carries kustomize's wrapping at each level
/// (kusttarget.go accumulateResources: "accumulation err='<the file attempt>': recursed
/// accumulation of path '<dir>': <the directory's error>"); one inside a component is
/// quoted by accumulateComponents' `%q`.
#[test]
fn errors_in_bases_and_components_are_wrapped_as_kustomize() {
    let patch = "patches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: zz\n    data: {a: \"b\"}\n";
    fails(
        "nested-base-error",
        &[
            ("kustomization.yaml", "resources: [mid]\n"),
            ("mid/kustomization.yaml", "resources: [../base]\n"),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
            ),
            (
                "base/kustomization.yaml",
                &format!("resources: [cm.yaml]\n{patch}"),
            ),
        ],
        "must resolve to a file': recursed accumulation of path '",
    );
    // the whole message is kubectl's
    let root = tree(
        "component-error",
        &[
            (
                "kustomization.yaml",
                "resources: [base]\ncomponents: [comp]\n",
            ),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
            ),
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "comp/kustomization.yaml",
                &format!("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n{patch}"),
            ),
        ],
    );
    let (ok, _, stderr) = kubectl(&root);
    assert!(!ok);
    let err = sluice(&root).expect_err("fails").to_string();
    assert!(
        kubectl_error(&stderr).contains(&err),
        "sluice: {err}\nkubectl: {}",
        kubectl_error(&stderr)
    );
    let _ = std::fs::remove_dir_all(&root);
    let root = tree(
        "nested-base-error-exact",
        &[
            ("kustomization.yaml", "resources: [mid]\n"),
            ("mid/kustomization.yaml", "resources: [../base]\n"),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
            ),
            (
                "base/kustomization.yaml",
                &format!("resources: [cm.yaml]\n{patch}"),
            ),
        ],
    );
    let (ok, _, stderr) = kubectl(&root);
    assert!(!ok);
    let err = sluice(&root).expect_err("fails").to_string();
    assert_eq!(kubectl_error(&stderr), err);
    let _ = std::fs::remove_dir_all(&root);
}

/// Strategic merge patch items without the list's merge key (kyaml merge2 walks an
/// associative list by key values; such an item's value is "", and api/kyaml's
/// FieldMatcher with an empty value matches every item that has the key field): the
/// target's items not merged before it are dropped, it is dropped, and keyed items after it
/// are added as they are; a list the target does not have is taken as written.
#[test]
fn keyless_items_in_keyed_lists() {
    let d = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: nginx\n      - name: side\n        image: busybox\n      volumes:\n      - name: a\n        emptyDir: {}\n";
    for lists in [
        "containers:\n- image: patched\nvolumes:\n- emptyDir: {medium: Memory}\n- configMap: {name: x}\ntolerations:\n- key: a\n- operator: Exists\n",
        "containers:\n- {name: main, imagePullPolicy: Always}\n- image: q\n",
        "containers:\n- {name: newone, image: z}\n- image: q\n- {name: main, imagePullPolicy: Always}\n",
        "containers:\n- {name: side, imagePullPolicy: Always}\n- image: q\n- {name: main, imagePullPolicy: Always}\n",
        "containers:\n- image: q\n- {name: side, $patch: delete}\n",
        "initContainers:\n- image: q\nvolumes:\n- {name: b, emptyDir: {}}\n- configMap: {name: x}\n",
    ] {
        let indented: String = lists.lines().map(|l| format!("          {l}\n")).collect();
        check(
            "keyless-items",
            &[
                ("d.yaml", d),
                (
                    "kustomization.yaml",
                    &format!(
                        "resources: [d.yaml]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n        spec:\n{indented}"
                    ),
                ),
            ],
        );
    }
}

/// JSON 6902 operations as evanphx/json-patch v5 (kustomize's) applies them: `replace` of a
/// missing object key adds it, `copy` from a missing object key copies null, and each
/// failure is worded as that library words it ("add operation does not apply: doc is
/// missing path: ...", "error in remove for path: ...", "testing value ... failed").
#[test]
fn json_patch_operations_as_evanphx() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\nl: [1, 2]\n";
    for (op, path, from) in [
        ("add", "/metadata/labels/x", ""),
        ("remove", "/metadata/labels/x", ""),
        ("remove", "/data/zz", ""),
        ("replace", "/metadata/labels/x", ""),
        ("replace", "/data/zz", ""),
        ("add", "/l/5", ""),
        ("add", "/l/2", ""),
        ("remove", "/l/5", ""),
        ("replace", "/l/7", ""),
        ("replace", "/l/1", ""),
        ("move", "/data/q", "/data/zz"),
        ("move", "/data/q", "/metadata/labels/zz"),
        ("move", "/data/q", "/data/a"),
        ("copy", "/data/q", "/data/zz"),
        ("copy", "/data/q", "/metadata/labels/zz"),
        ("copy", "/metadata/labels/q", "/data/a"),
        ("test", "/data/a", ""),
        ("test", "/data/zz", ""),
    ] {
        let from = if from.is_empty() {
            String::new()
        } else {
            format!("\n      from: {from}")
        };
        let root = tree(
            "json-patch-ops",
            &[
                ("c.yaml", cm),
                (
                    "kustomization.yaml",
                    &format!(
                        "resources: [c.yaml]\npatches:\n- target: {{kind: ConfigMap}}\n  patch: |-\n    - op: {op}\n      path: {path}\n      value: \"v\"{from}\n"
                    ),
                ),
            ],
        );
        let (ok, expected, stderr) = kubectl(&root);
        match sluice(&root) {
            Ok(out) => {
                assert!(ok, "{op} {path}{from}: kubectl fails: {stderr}");
                assert_eq!(out.yaml, expected, "{op} {path}{from}");
            }
            Err(e) => {
                assert!(!ok, "{op} {path}{from}: kubectl builds, sluice: {e}");
                assert!(
                    kubectl_error(&stderr).contains(&e.to_string()),
                    "{op} {path}{from}: sluice: {e}\nkubectl: {}",
                    kubectl_error(&stderr)
                );
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// A strategic merge patch naming one key twice in a keyed list: kyaml walks each key value
/// once with the first patch item that has it; the later ones are not used (wide fuzzer
/// seeds 50123, 50231).
#[test]
fn smp_patch_items_with_a_repeated_key() {
    check(
        "smp-repeated-key",
        &[
            (
                "d.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: nginx\n      - name: side\n        image: busybox\n        args: [x]\n",
            ),
            (
                "kustomization.yaml",
                "resources: [d.yaml]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n        spec:\n          containers:\n          - {name: side, image: p1}\n          - {name: new, image: n1}\n          - {name: side, image: p2, command: [c]}\n          - {name: new, image: n2}\n",
            ),
        ],
    );
}

/// A `patchesStrategicMerge` patch that matches nothing fails with ResMap.GetById's words
/// alone (api/builtins PatchStrategicMergeTransformer), where `patches:` prefixes "no
/// resource matches strategic merge patch" (wide fuzzer, both refusing).
#[test]
fn patches_strategic_merge_without_a_target_fails_with_kustomize_words() {
    let root = tree(
        "psm-no-target",
        &[
            (
                "c.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
            (
                "kustomization.yaml",
                "resources: [c.yaml]\npatchesStrategicMerge:\n- |-\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: zz\n  data: {a: b}\n",
            ),
        ],
    );
    let (ok, _, stderr) = kubectl(&root);
    assert!(!ok);
    let err = sluice(&root).expect_err("fails").to_string();
    assert_eq!(kubectl_error(&stderr), err);
    let _ = std::fs::remove_dir_all(&root);
}

/// Folded (`>`) scalars come out as go-yaml v3 reads them after writing them folded again:
/// kyaml's kio reads every resource and strategic merge patch, writes it and reads it back,
/// and go-yaml v3's `yaml_emitter_write_folded_scalar` decides whether to double a line break
/// by looking at the value's first line (`k := 0`, go.yaml.in/yaml/v3 emitterc.go), so a
/// break before a more-indented line gains a blank line and a value starting with a blank
/// loses its folded breaks. Seen on real Kyverno policies (CEL expressions written `>-`).
/// JSON 6902 values are not read through kio and keep the text first read.
#[test]
fn folded_scalars_as_kio_reads_them_back() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  json: >-\n    [\n      {\n        \"kind\": dyn(\"ConfigMap\")\n      }\n    ]\n  b: >-\n    p\n    q\n      r\n      s\n    t\n  c: >\n    x\n\n\n  d: >2\n     lead\n    a\n    b\n\n    c\n  e: >+\n    a\n      b\n\n  f: >\n    trailing space \n      kept\n";
    check(
        "folded-reencode",
        &[
            ("base/cm.yaml", cm),
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "kustomization.yaml",
                "resources: [base]\nnamePrefix: p-\npatches:\n- path: smp.yaml\n- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: x\n    data:\n      inline: >-\n        p\n          q\n- target: {kind: ConfigMap}\n  patch: |\n    - op: add\n      path: /data/z\n      value: >-\n        p\n          q\n",
            ),
            (
                "smp.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  file: >-\n    p\n      q\n",
            ),
        ],
    );
}

/// Cluster scope is decided by apiVersion and kind together: kustomize's `Gvk.IsClusterScoped`
/// asks kyaml's `openapi.IsCertainlyClusterScoped`, whose known types are the precomputed
/// built-in ones (kyaml/openapi/openapi.go `precomputedIsNamespaceScoped`). So Cluster API's
/// `cluster.x-k8s.io/v1beta1 Cluster` (seen in cluster-api e2e templates), a CRD's
/// `ClusterRole` or `Namespace`, `v1alpha1` RBAC, TokenReview and the like get the namespace,
/// while `networking.k8s.io/v1 IngressClass` and `v1 NodeProxyOptions` do not; only the core
/// `v1` Namespace is renamed to the namespace.
#[test]
fn cluster_scope_by_api_version_and_kind() {
    let mut r = String::new();
    for (i, (av, kind)) in [
        ("cluster.x-k8s.io/v1beta1", "Cluster"),
        ("example.com/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1alpha1", "ClusterRole"),
        ("v1", "Namespace"),
        ("example.com/v1", "Namespace"),
        ("authentication.k8s.io/v1", "TokenReview"),
        ("scheduling.k8s.io/v1alpha1", "PriorityClass"),
        ("v1", "NodeProxyOptions"),
        ("networking.k8s.io/v1", "IngressClass"),
        ("extensions/v1beta1", "PodSecurityPolicy"),
        ("policy/v1beta1", "PodSecurityPolicy"),
        ("cert-manager.io/v1", "ClusterIssuer"),
    ]
    .iter()
    .enumerate()
    {
        r.push_str(&format!(
            "---\napiVersion: {av}\nkind: {kind}\nmetadata:\n  name: n{i}\n  namespace: default\n"
        ));
    }
    check(
        "cluster-scope-gvk",
        &[
            ("r.yaml", &r),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\nnamespace: team-a\nnamePrefix: p-\n",
            ),
        ],
    );
}

/// A field spec segment written as a list (`spec/volumeClaimTemplates[]/metadata/labels`,
/// commonLabels' default for StatefulSets) is looked up and never created, even with
/// `create: true` (kustomize api/filters/fieldspec `isSequenceField`): a StatefulSet without
/// volumeClaimTemplates gets none. Seen on real StatefulSets (Kyverno test resources) under
/// `commonLabels` and `labels` with `includeTemplates`.
#[test]
fn list_segments_of_field_specs_are_not_created() {
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: t\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n";
    check(
        "seq-no-create",
        &[
            ("base/sts.yaml", sts),
            (
                "base/kustomization.yaml",
                "resources: [sts.yaml]\ncommonLabels:\n  a: b\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\nlabels:\n- pairs:\n    c: d\n  includeTemplates: true\n",
            ),
        ],
    );
}

/// A binding's `roleRef/name` follows a renamed Role or ClusterRole only when the roleRef's
/// `kind` and `apiGroup` select it (kustomize api/filters/nameref `roleRefFilter`; an
/// `apiGroup` with a version, as a real OpenShift policy test writes, selects nothing; a
/// roleRef without `apiGroup` or `kind` selects anything, `getRoleRefGvk` failing), and
/// a ValidatingAdmissionPolicyBinding's `spec/policyName` follows its policy.
#[test]
fn role_refs_follow_their_kind_and_group() {
    let r = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-cluster\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: reader\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-role\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: reader\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-nogroup\nroleRef:\n  kind: Role\n  name: reader\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-versioned\nroleRef:\n  apiGroup: rbac.authorization.k8s.io/v1\n  kind: Role\n  name: reader\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: vap\nspec:\n  validations:\n  - expression: \"true\"\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: vapb\nspec:\n  policyName: vap\n  validationActions: [Deny]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb-cr-nogroup\nroleRef:\n  kind: ClusterRole\n  name: reader\n";
    check(
        "roleref-kind-group",
        &[
            ("r.yaml", r),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\nnamePrefix: p-\n",
            ),
        ],
    );
}

/// A merging generator keeps the old object's data by rebuilding it from strings
/// (resource `SetDataMap`), so a folded value there loses its style and prints as first read,
/// not as kio reads it back (see `folded_scalars_as_kio_reads_them_back`; wide fuzzer).
#[test]
fn folded_data_kept_by_a_merging_generator() {
    check(
        "folded-merge",
        &[
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  script: >-\n    run\n      --flag\n    done\n",
            ),
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "kustomization.yaml",
                "resources: [base]\nconfigMapGenerator:\n- name: web-config\n  behavior: merge\n  literals:\n  - mode=fast\n",
            ),
        ],
    );
}

/// A strategic merge patch file holding a `...List` (kube-prometheus writes
/// `RoleBindingList`s) patches with each of its items, as resources are read
/// (`resource.Factory.SliceFromBytes` expands lists for both).
#[test]
fn list_kinds_in_patch_files_patch_with_their_items() {
    let list = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBindingList\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n  metadata:\n    name: a\n    namespace: default\n  roleRef:\n    apiGroup: rbac.authorization.k8s.io\n    kind: Role\n    name: r\n  subjects:\n  - kind: ServiceAccount\n    name: s\n    namespace: monitoring\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n  metadata:\n    name: b\n    namespace: kube-system\n  roleRef:\n    apiGroup: rbac.authorization.k8s.io\n    kind: Role\n    name: r\n";
    check(
        "list-patch",
        &[
            ("rb.yaml", list),
            (
                "patch.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBindingList\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n  metadata:\n    name: a\n    namespace: default\n    labels: {patched: \"yes\"}\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n  metadata:\n    name: b\n    namespace: kube-system\n    annotations: {patched: \"yes\"}\n",
            ),
            (
                "kustomization.yaml",
                "resources: [rb.yaml]\npatches:\n- path: patch.yaml\npatchesStrategicMerge:\n- patch.yaml\n",
            ),
        ],
    );
}

/// A `patches:` object without `kind` or `metadata.name` is not a resource (the resource
/// factory validates metadata), so PatchTransformer refuses it as neither SM nor JSON
/// (api/builtins PatchTransformer `Config`: "unable to parse SM or JSON patch"), even with
/// a target; a real overlay patched `containers` under `spec:` alone.
#[test]
fn patches_without_an_id_and_with_a_list_are_refused() {
    let d = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 1\n";
    fails(
        "patch-no-id-list",
        &[
            ("r.yaml", d),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    spec:\n      template:\n        spec:\n          containers:\n          - name: nginx\n",
            ),
        ],
        "unable to parse SM or JSON patch from [patch: \"spec:\\n  template:",
    );
    fails(
        "patch-no-kind",
        &[
            ("r.yaml", d),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    metadata:\n      name: d\n    spec:\n      replicas: 2\n",
            ),
        ],
        "unable to parse SM or JSON patch from [patch: \"metadata:",
    );
    // with both, the patch's own name need not be the target's
    check(
        "patch-id-other-name",
        &[
            ("r.yaml", d),
            (
                "kustomization.yaml",
                "resources: [r.yaml]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    kind: Deployment\n    metadata:\n      name: zz\n    spec:\n      x: [a]\n",
            ),
        ],
    );
}

/// A `{name, namespace}` reference from a cluster-scoped object (a webhook's
/// clientConfig.service) chooses among every resource that started in that namespace when
/// any did, of whatever kind, and only otherwise among those now in it (kustomize
/// api/filters/nameref `filterMapCandidatesByNamespace`: `GroupedByOriginalNamespace` of all
/// referral candidates first). A CronJob written in `team-a` therefore keeps the webhook
/// from following a Service that was put in `team-a` by a component (wide fuzzer seed 2378).
#[test]
fn map_references_look_at_original_namespaces_first() {
    let vwc = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: web-vwc\nwebhooks:\n- name: v.example.com\n  clientConfig:\n    service:\n      name: web\n      namespace: team-a\n";
    let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: web-cron\n  namespace: team-a\nspec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: job\n            image: nginx\n";
    let files = |with_cron: bool| {
        let mut f = vec![
            ("base/vwc.yaml", vwc),
            ("base/cron.yaml", cron),
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [svc.yaml]\nnamespace: team-a\n",
            ),
            (
                "comp/svc.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
            ),
            (
                "kustomization.yaml",
                "resources: [base]\ncomponents: [comp]\nnamePrefix: dev-\nnamespace: team-a\n",
            ),
        ];
        f.push((
            "base/kustomization.yaml",
            if with_cron {
                "resources: [vwc.yaml, cron.yaml]\n"
            } else {
                "resources: [vwc.yaml]\n"
            },
        ));
        f
    };
    check("mapref-orig-ns", &files(true));
    check("mapref-current-ns", &files(false));
}

/// Generated Secret data (and ConfigMap binaryData) is base64 in lines of 70 characters,
/// each ending with a line break, once it is that long (kyaml datamap.go `encodeBase64`),
/// so a real certificate or config file in a secretGenerator prints as a block; the name
/// hash is over that text. The hash's JSON escapes `\f` and `\b` short, as Go 1.22+ does
/// (a real Python file with form feeds in a configMapGenerator).
#[test]
fn generated_secret_data_in_base64_lines() {
    let long: String = (0..40)
        .map(|i| format!("line {i} of a config file\n"))
        .collect();
    check(
        "secret-b64-lines",
        &[
            ("app.conf", &long),
            // 51 bytes: 68 base64 characters, one line; 52: 72, two lines
            (
                "short.txt",
                "012345678901234567890123456789012345678901234567890",
            ),
            (
                "edge.txt",
                "0123456789012345678901234567890123456789012345678901",
            ),
            ("ff.py", "# one\n\x0c\n# two\x08\n"),
            (
                "kustomization.yaml",
                "secretGenerator:\n- name: s\n  files: [app.conf, short.txt, edge.txt]\n  literals: [k=v]\nconfigMapGenerator:\n- name: c\n  files: [ff.py]\n",
            ),
        ],
    );
}

/// A `{name, namespace}` map (RBAC subjects, webhook services) follows a referral only
/// among what its referrer can see, by the referral's original namespace when any visible
/// resource started in the map's namespace, else by its current one (nameref.go setMapping
/// and filterMapCandidatesByNamespace, resmap SubsetThatCouldBeReferencedByResource). Name
/// references are fixed once, at the top (kusttarget.go makeCustomizedResMap): a base's
/// NamespaceTransformer with `setRoleBindingSubjects: allServiceAccounts` moves the subject
/// to its namespace, the overlay moves the ServiceAccount on, and the subject (in neither
/// the original nor the current namespace) keeps the name it was written with. Found by the
/// wide fuzzer (seeds 70221, 2613).
#[test]
fn map_references_look_at_original_then_current_namespaces() {
    let r = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: api-sa
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: api-crb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: api-role
subjects:
- kind: ServiceAccount
  name: api-sa
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: api-rb
  namespace: other
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: api-role
subjects:
- kind: ServiceAccount
  name: api-sa
  namespace: default
- kind: ServiceAccount
  name: api-sa
";
    let base = "resources: [r.yaml]
namePrefix: p-
namespace: prod
transformers:
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata:
    name: t0
    namespace: plugin-ns
  setRoleBindingSubjects: allServiceAccounts
  fieldSpecs:
  - path: metadata/namespace
    create: true
";
    for (name, overlay) in [
        (
            "mapref-ns-overlay",
            "resources: [base]\nnamePrefix: q-\nnamespace: stage\n",
        ),
        ("mapref-prefix-only", "resources: [base]\nnamePrefix: q-\n"),
        ("mapref-ns-only", "resources: [base]\nnamespace: stage\n"),
    ] {
        check(
            name,
            &[
                ("base/r.yaml", r),
                ("base/kustomization.yaml", base),
                ("kustomization.yaml", overlay),
            ],
        );
    }
    check(
        "mapref-base",
        &[("r.yaml", r), ("kustomization.yaml", base)],
    );
}
