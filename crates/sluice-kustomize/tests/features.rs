//! One case per feature, each compared with `kubectl kustomize` run here, and bad inputs
//! (both fail; ours names the file and the cause).

mod common;

use common::*;

fn check(name: &str, files: &[(&str, &str)]) {
    check_in(name, files, ".");
}

fn check_in(name: &str, files: &[(&str, &str)], sub: &str) {
    ensure_kubectl();
    let root = tree(name, files);
    let dir = root.join(sub);
    let (ok, expected, stderr) = kubectl(&dir);
    assert!(ok, "{name}: kubectl failed: {stderr}");
    let out = sluice(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        same(&expected, &out.yaml),
        "{name}: differs\n--- kubectl\n{expected}\n--- sluice\n{}",
        out.yaml
    );
    assert_eq!(out.warnings, kubectl_warnings(&stderr), "{name}: warnings");
    let _ = std::fs::remove_dir_all(&root);
}

fn fails(name: &str, files: &[(&str, &str)], dir_in_tree: &str, needle: &str) {
    ensure_kubectl();
    let dir = tree(name, files);
    let target = dir.join(dir_in_tree);
    let (ok, _, _) = kubectl(&target);
    assert!(!ok, "{name}: kubectl succeeded");
    let err = sluice(&target).expect_err("sluice fails too");
    assert!(err.to_string().contains(needle), "{name}: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      serviceAccountName: sa
      containers:
      - name: web
        image: nginx:1.0
        envFrom:
        - configMapRef:
            name: cfg
        - secretRef:
            name: sec
        env:
        - name: A
          value: a
      volumes:
      - name: v
        configMap:
          name: cfg
";
const SVC: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
";
const SA: &str = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: r
subjects:
- kind: ServiceAccount
  name: sa
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: r
rules: []
";

/// kyaml reads with go-yaml v3 and prints through JSON and go-yaml v2 (api/resource
/// resource.go AsYAML -> sigs.k8s.io/yaml JSONToYAML): sorting, quoting, folding, numbers.
#[test]
fn emitter_scalars() {
    let obj = "apiVersion: example.com/v1
kind: Thing
metadata:
  name: x
  annotations:
    num: 8080
    yes: yes
spec:
  yes: yes
  on: on
  octal: 0777
  hex: 0x1F
  float: 1.0
  small: 0.000001
  exp: 1.5e3
  big: 12345678901234567890
  frac: 123456789012.5
  date: 2020-01-01
  quoted: 'x'
  t: \"true\"
  n: \"123\"
  empty: \"\"
  nul: null
  colon: \"a: b\"
  hash: \"a #b\"
  lead: \" x\"
  tab: \"a\\tb\"
  emoji: \"\u{1F600}\"
  trail: \"a\\nb  \\n\"
  keep: \"x\\n\\n\"
  indented: \"  a\\nb\"
  folded: >
    folded text
    more
  long: this is a very long string value that goes on and on and on past eighty characters for sure
  longq: \"a very long double quoted string because of the tab\\tcharacter that keeps going and going\"
  key10: a
  key9: a
  key09: a
  Key: a
  _x: a
  list:
  - a: 1
    b: [x]
  - - y
  - {}
  emptylist: []
  base60: \"1:20\"
";
    check(
        "emitter",
        &[
            ("kustomization.yaml", "resources:\n- obj.yaml\n"),
            ("obj.yaml", obj),
        ],
    );
}

/// namespace, namePrefix/nameSuffix and the name references that follow them
/// (api/internal/konfig/builtinpluginconsts/namereference.go); legacy sort order.
#[test]
fn namespace_prefix_suffix_and_name_references() {
    check(
        "names",
        &[
            (
                "kustomization.yaml",
                "namespace: prod\nnamePrefix: p-\nnameSuffix: -s\nresources:\n- d.yaml\n- s.yaml\n- sa.yaml\nconfigMapGenerator:\n- name: cfg\n  literals:\n  - K=V\nsecretGenerator:\n- name: sec\n  literals:\n  - P=secret\n",
            ),
            ("d.yaml", DEPLOY),
            ("s.yaml", SVC),
            ("sa.yaml", SA),
        ],
    );
}

/// labels (includeSelectors, includeTemplates), commonLabels (deprecated: warning),
/// commonAnnotations (commonlabels.go, commonannotations.go field specs).
#[test]
fn labels_and_annotations() {
    check(
        "labels",
        &[
            (
                "kustomization.yaml",
                "resources:\n- d.yaml\n- s.yaml\ncommonLabels:\n  team: a\nlabels:\n- pairs:\n    tier: web\n  includeSelectors: false\n  includeTemplates: true\n- pairs:\n    sel: x\n  includeSelectors: true\n- pairs:\n    plain: only\ncommonAnnotations:\n  note: \"hello\"\n  port: \"8080\"\n",
            ),
            ("d.yaml", DEPLOY),
            ("s.yaml", SVC),
        ],
    );
}

/// images (newName, newTag, digest) and replicas.
#[test]
fn images_and_replicas() {
    check(
        "images",
        &[
            (
                "kustomization.yaml",
                "resources:\n- d.yaml\nimages:\n- name: nginx\n  newName: registry.local/nginx\n  newTag: \"2.0\"\n- name: busybox\n  digest: sha256:abc\nreplicas:\n- name: web\n  count: 5\n",
            ),
            (
                "d.yaml",
                &DEPLOY.replace(
                    "      volumes:",
                    "      initContainers:\n      - name: init\n        image: busybox:1\n      volumes:",
                ),
            ),
        ],
    );
}

/// patches: strategic merge (path and inline), JSON 6902 with target selectors,
/// patchesStrategicMerge and patchesJson6902 (deprecated: warnings).
#[test]
fn patches() {
    check(
        "patches",
        &[
            (
                "kustomization.yaml",
                "resources:\n- d.yaml\n- s.yaml\npatches:\n- path: smp.yaml\n- target:\n    kind: Deployment\n    labelSelector: app=web\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value:\n        patched: \"yes\"\n- target:\n    version: v1\n    kind: Service\n    name: web\n  patch: |-\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: ignored\n    spec:\n      type: NodePort\npatchesStrategicMerge:\n- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: web\n  spec:\n    template:\n      spec:\n        containers:\n        - name: side\n          image: side:1\npatchesJson6902:\n- target:\n    group: apps\n    version: v1\n    kind: Deployment\n    name: web\n  path: ops.yaml\n",
            ),
            ("d.yaml", DEPLOY),
            ("s.yaml", SVC),
            (
                "smp.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        env:\n        - name: B\n          value: b\n        - name: A\n          value: changed\n        resources:\n          limits:\n            cpu: \"1\"\n",
            ),
            (
                "ops.yaml",
                "- op: replace\n  path: /spec/replicas\n  value: 3\n",
            ),
        ],
    );
}

/// configMapGenerator / secretGenerator: files, literals, envs, options, generatorOptions,
/// behavior merge/replace across an overlay, and the name hash (api/hasher/hasher.go).
#[test]
fn generators() {
    check_in(
        "generators",
        &[
            (
                "base/kustomization.yaml",
                "resources:\n- d.yaml\nconfigMapGenerator:\n- name: cfg\n  files:\n  - app.properties\n  - renamed=other.txt\n  envs:\n  - vars.env\n  literals:\n  - Q=\"quoted\"\n- name: plain\n  literals:\n  - A=1\n  options:\n    disableNameSuffixHash: true\n    labels:\n      gen: \"yes\"\nsecretGenerator:\n- name: sec\n  literals:\n  - P=secret\n  type: Opaque\ngeneratorOptions:\n  annotations:\n    from: gen\n",
            ),
            ("base/d.yaml", DEPLOY),
            ("base/app.properties", "a=1\nb=2\n"),
            ("base/other.txt", "other\n"),
            ("base/vars.env", "# comment\nX=1\n\nY=two words\n"),
            (
                "overlay/kustomization.yaml",
                "resources:\n- ../base\nnamePrefix: o-\nconfigMapGenerator:\n- name: cfg\n  behavior: merge\n  literals:\n  - X=overridden\nsecretGenerator:\n- name: sec\n  behavior: replace\n  literals:\n  - N=new\n",
            ),
        ],
        "overlay",
    );
    let dir = tree(
        "generators-overlay",
        &[
            (
                "base/kustomization.yaml",
                "configMapGenerator:\n- name: cfg\n  literals:\n  - A=1\n",
            ),
            (
                "overlay/kustomization.yaml",
                "resources:\n- ../base\nnamePrefix: o-\nconfigMapGenerator:\n- name: cfg\n  behavior: merge\n  literals:\n  - B=2\n",
            ),
        ],
    );
    let (ok, expected, _) = kubectl(&dir.join("overlay"));
    assert!(ok);
    let out = sluice(&dir.join("overlay")).expect("builds");
    assert!(same(&expected, &out.yaml), "{expected}\n{}", out.yaml);
    let _ = std::fs::remove_dir_all(&dir);
}

/// components, nested kustomizations, sortOptions (fifo) and a kind: List file.
#[test]
fn components_nesting_and_sort_options() {
    check_in(
        "components",
        &[
            (
                "app/kustomization.yaml",
                "resources:\n- ../base\ncomponents:\n- ../comp\nsortOptions:\n  order: fifo\n",
            ),
            (
                "base/kustomization.yaml",
                "resources:\n- d.yaml\n- list.yaml\n",
            ),
            ("base/d.yaml", DEPLOY),
            (
                "base/list.yaml",
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n",
            ),
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- extra.yaml\ncommonAnnotations:\n  comp: \"on\"\n",
            ),
            ("comp/extra.yaml", SVC),
        ],
        "app",
    );
}

#[test]
fn missing_resource_file_fails() {
    fails(
        "missing",
        &[("kustomization.yaml", "resources:\n- nope.yaml\n")],
        ".",
        "nope.yaml",
    );
}

#[test]
fn missing_kustomization_fails() {
    fails(
        "nokust",
        &[("x.yaml", "a: 1\n")],
        ".",
        "unable to find one of",
    );
}

#[test]
fn cycles_fail() {
    fails(
        "cycle",
        &[
            ("a/kustomization.yaml", "resources:\n- ../b\n"),
            ("b/kustomization.yaml", "resources:\n- ../a\n"),
        ],
        "a",
        "cycle",
    );
}

#[test]
fn files_outside_the_root_fail() {
    fails(
        "restricted",
        &[
            ("app/kustomization.yaml", "resources:\n- ../outside.yaml\n"),
            ("outside.yaml", SVC),
        ],
        "app",
        "is not in or below",
    );
}

#[test]
fn malformed_yaml_fails() {
    fails(
        "malformed",
        &[
            ("kustomization.yaml", "resources:\n- bad.yaml\n"),
            ("bad.yaml", "apiVersion: v1\nkind: [unclosed\n"),
        ],
        ".",
        "bad.yaml",
    );
}

#[test]
fn json_patch_without_target_fails() {
    fails(
        "notarget",
        &[
            (
                "kustomization.yaml",
                "resources:\n- s.yaml\npatches:\n- patch: |-\n    - op: add\n      path: /spec/type\n      value: NodePort\n",
            ),
            ("s.yaml", SVC),
        ],
        ".",
        "target",
    );
}

const CM: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: env
  namespace: prod
data:
  host: db.example.com:5432
  version: \"2.1\"
  replicas: \"4\"
";

/// replacements: source with fieldPath and delimiter options, targets selected by kind and
/// name, rejected by name and label, list items matched with `[name=x]`, `*` wildcards,
/// target delimiter/index (-1 prefix, past the end suffix, in place), `create`, and
/// replacements read from a file (api/filters/replacement/replacement.go).
#[test]
fn replacements() {
    check(
        "replacements",
        &[
            (
                "kustomization.yaml",
                "resources:\n- d.yaml\n- s.yaml\n- cm.yaml\n- d2.yaml\nnamePrefix: p-\nreplacements:\n- source:\n    kind: ConfigMap\n    name: env\n    fieldPath: data.host\n    options:\n      delimiter: ':'\n      index: 0\n  targets:\n  - select:\n      kind: Deployment\n    reject:\n    - name: other\n    fieldPaths:\n    - spec.template.spec.containers.[name=web].env.[name=A].value\n    - spec.template.metadata.annotations.host\n    options:\n      create: true\n  - select:\n      kind: Service\n    fieldPaths:\n    - spec.selector.app\n    options:\n      create: false\n- source:\n    kind: ConfigMap\n    fieldPath: data.version\n  targets:\n  - select:\n      kind: Deployment\n      name: web\n    fieldPaths:\n    - spec.template.spec.containers.0.image\n    options:\n      delimiter: ':'\n      index: 1\n  - select:\n      kind: Deployment\n    reject:\n    - labelSelector: tier=skip\n    fieldPaths:\n    - metadata.labels.app\n    options:\n      delimiter: '-'\n      index: -1\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - metadata.labels.app\n    options:\n      delimiter: '-'\n      index: 9\n- path: more.yaml\n",
            ),
            ("d.yaml", DEPLOY),
            ("s.yaml", SVC),
            ("cm.yaml", CM),
            (
                "d2.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n  labels:\n    app: other\n    tier: skip\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: busybox:1\n",
            ),
            (
                "more.yaml",
                "- source:\n    kind: ConfigMap\n    fieldPath: data.replicas\n  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - spec.replicas\n  - select:\n      kind: Service\n    fieldPaths:\n    - spec.ports.*.port\n",
            ),
        ],
    );
}

/// vars: `$(VAR)` in the default var reference fields (varreference.go), values read after
/// name prefixes (metadata.name, a list element `spec.ports[0].port` keeping its type), an
/// unknown var left as written, `$$` escaping.
#[test]
fn vars() {
    check(
        "vars",
        &[
            (
                "kustomization.yaml",
                "resources:\n- d.yaml\n- s.yaml\nnamePrefix: demo-\nvars:\n- name: SVC\n  objref:\n    kind: Service\n    name: web\n    apiVersion: v1\n- name: PORT\n  objref:\n    kind: Service\n    name: web\n    apiVersion: v1\n  fieldref:\n    fieldpath: spec.ports[0].port\n",
            ),
            (
                "d.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    svc: $(SVC)\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        command: [\"run\", \"--svc=$(SVC):$(PORT)\", \"$(UNKNOWN)\", \"$$(SVC)\"]\n        env:\n        - name: PORT\n          value: $(PORT)\n",
            ),
            ("s.yaml", SVC),
        ],
    );
}

const MYKIND: &str = "apiVersion: jingfang.example.com/v1beta1
kind: MyKind
metadata:
  name: mykind
spec:
  secretRef:
    name: crdsecret
  beeRef:
    name: bee
  containers:
  - command: [\"echo\", \"$(BEE_ACTION)\"]
    image: myapp
---
apiVersion: v1beta1
kind: Bee
metadata:
  name: bee
spec:
  action: fly
---
apiVersion: v1
kind: Secret
metadata:
  name: crdsecret
data:
  a: Yg==
";

/// crds: OpenAPI definitions whose `x-kubernetes-object-ref-*` properties become name
/// references (api/internal/accumulator/loadconfigfromcrds.go).
#[test]
fn crds() {
    check(
        "crds",
        &[
            (
                "kustomization.yaml",
                "resources:\n- r.yaml\nnamePrefix: p-\ncrds:\n- mykind.json\n",
            ),
            ("r.yaml", MYKIND),
            (
                "mykind.json",
                r##"{
  "github.com/example/pkg/apis/jingfang/v1beta1.MyKind": {
    "Schema": {
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
        "spec": {"$ref": "github.com/example/pkg/apis/jingfang/v1beta1.MyKindSpec"}
      }
    }
  },
  "github.com/example/pkg/apis/jingfang/v1beta1.MyKindSpec": {
    "Schema": {
      "properties": {
        "secretRef": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "Secret",
          "$ref": "k8s.io/api/core/v1.LocalObjectReference"
        },
        "beeRef": {
          "x-kubernetes-object-ref-api-version": "v1beta1",
          "x-kubernetes-object-ref-kind": "Bee",
          "$ref": "github.com/example/pkg/apis/jingfang/v1beta1.Bee"
        }
      }
    }
  }
}
"##,
            ),
        ],
    );
}

/// configurations: custom transformer configs adding field specs for commonLabels,
/// commonAnnotations, namePrefix, images, replicas, nameReference and varReference
/// (api/internal/plugins/builtinconfig/transformerconfig.go), inherited by an overlay.
#[test]
fn configurations() {
    check_in(
        "configurations",
        &[
            (
                "base/kustomization.yaml",
                "resources:\n- r.yaml\nconfigurations:\n- config.yaml\nvars:\n- name: BEE_ACTION\n  objref:\n    kind: Bee\n    name: bee\n    apiVersion: v1beta1\n  fieldref:\n    fieldpath: spec.action\n",
            ),
            ("base/r.yaml", MYKIND),
            (
                "base/config.yaml",
                "commonLabels:\n- path: spec/selectors\n  create: true\n  kind: MyKind\ncommonAnnotations:\n- path: spec/notes\n  create: true\n  kind: MyKind\nnamePrefix:\n- path: spec/alias\n  kind: Bee\nnameReference:\n- kind: Bee\n  fieldSpecs:\n  - path: spec/beeRef/name\n    kind: MyKind\n- kind: Secret\n  fieldSpecs:\n  - path: spec/secretRef/name\n    kind: MyKind\nvarReference:\n- path: spec/containers/command\n  kind: MyKind\nimages:\n- path: spec/containers/image\n  kind: MyKind\nreplicas:\n- path: spec/size\n  kind: MyKind\n  create: true\n",
            ),
            (
                "overlay/kustomization.yaml",
                "resources:\n- ../base\nnamePrefix: test-\ncommonLabels:\n  foo: bar\ncommonAnnotations:\n  note: x\nimages:\n- name: myapp\n  newTag: v2\nreplicas:\n- name: mykind\n  count: 3\n",
            ),
        ],
        "overlay",
    );
}

/// Built-in plugins configured in files under `transformers:` and `generators:`
/// (plugin/builtin/*: fieldSpecs given explicitly replace the defaults), inline configs,
/// and a kustomization directory of configs.
#[test]
fn builtin_plugin_configs() {
    check(
        "builtin-plugins",
        &[
            (
                "kustomization.yaml",
                "resources:\n- d.yaml\n- s.yaml\ntransformers:\n- prefix.yaml\n- labels.yaml\n- annotations.yaml\n- image.yaml\n- patch.yaml\n- replicas.yaml\n- namespace.yaml\n- |-\n  apiVersion: builtin\n  kind: PatchJson6902Transformer\n  metadata:\n    name: json\n  target:\n    kind: Service\n    name: pre-web\n  jsonOp: '[{\"op\": \"add\", \"path\": \"/spec/type\", \"value\": \"NodePort\"}]'\n- more\ngenerators:\n- gen.yaml\n",
            ),
            ("d.yaml", DEPLOY),
            ("s.yaml", SVC),
            (
                "prefix.yaml",
                "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata:\n  name: p\nprefix: pre-\nsuffix: -suf\nfieldSpecs:\n- kind: Service\n  path: metadata/name\n- kind: Deployment\n  path: spec/template/spec/serviceAccountName\n",
            ),
            (
                "labels.yaml",
                "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: a\nfieldSpecs:\n- path: metadata/labels\n  create: true\n- kind: Deployment\n  path: spec/selector/matchLabels\n  create: true\n",
            ),
            (
                "annotations.yaml",
                "apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata:\n  name: a\nannotations:\n  area: \"51\"\nfieldSpecs:\n- kind: Deployment\n  path: spec/template/metadata/annotations\n  create: true\n",
            ),
            (
                "image.yaml",
                "apiVersion: builtin\nkind: ImageTagTransformer\nmetadata:\n  name: i\nimageTag:\n  name: nginx\n  newName: my/nginx\n  newTag: \"2.0\"\n",
            ),
            (
                "patch.yaml",
                "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: pt\ntarget:\n  kind: Deployment\npatch: |-\n  - op: add\n    path: /spec/paused\n    value: true\n",
            ),
            (
                "replicas.yaml",
                "apiVersion: builtin\nkind: ReplicaCountTransformer\nmetadata:\n  name: r\nreplica:\n  name: web\n  count: 5\nfieldSpecs:\n- kind: Deployment\n  path: spec/replicas\n  create: true\n",
            ),
            (
                "namespace.yaml",
                "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata:\n  name: n\n  namespace: team-a\nfieldSpecs:\n- path: metadata/namespace\n  create: true\n",
            ),
            ("more/kustomization.yaml", "resources:\n- ann.yaml\n"),
            (
                "more/ann.yaml",
                "apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata:\n  name: more\nannotations:\n  more: \"yes\"\nfieldSpecs:\n- path: metadata/annotations\n  create: true\n",
            ),
            (
                "gen.yaml",
                "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: gen-cm\n  namespace: gen\nliterals:\n- a=b\n---\napiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: gen-secret\nliterals:\n- p=q\noptions:\n  disableNameSuffixHash: true\n",
            ),
        ],
    );
}

/// Patch targets: name and namespace are anchored regular expressions
/// (api/types/selector.go NewSelectorRegex: `^(?:...)$`).
#[test]
fn regex_target_selectors() {
    check(
        "regex-targets",
        &[
            (
                "kustomization.yaml",
                "resources:\n- r.yaml\npatches:\n- target:\n    kind: ConfigMap\n    name: (a|b)-[0-9]+\n  patch: |-\n    - op: add\n      path: /data/hit\n      value: name\n- target:\n    namespace: prod-.*\n  patch: |-\n    - op: add\n      path: /metadata/labels\n      value: {hit: ns}\n- target:\n    name: a\n  patch: |-\n    - op: add\n      path: /data/exact\n      value: \"yes\"\n",
            ),
            (
                "r.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a-1\n  namespace: prod-eu\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b-22\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c-1\n  namespace: xprod-eu\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ab-1\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {}\n",
            ),
        ],
    );
}

/// Annotation values that YAML reads as null, numbers or booleans keep their text
/// (`~` stays "~", `012` stays "012"); labels do not.
#[test]
fn annotations_keep_their_text() {
    check(
        "annotation-text",
        &[
            ("kustomization.yaml", "resources:\n- a.yaml\n"),
            (
                "a.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    t: ~\n    n: null\n    e:\n    b: true\n    i: 012\n    f: 1.50 # comment\n    q: \"~\"\n  labels:\n    x: ~\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations: {t: ~, i: 0x1F}\n",
            ),
        ],
    );
}

/// buildMetadata: origin annotations for files (relative to the top) and generators
/// (configuredIn/configuredBy), and the managed-by label (api/krusty/kustomizer.go).
#[test]
fn build_metadata() {
    check_in(
        "build-metadata",
        &[
            (
                "base/kustomization.yaml",
                "resources:\n- d.yaml\nconfigMapGenerator:\n- name: g\n  literals: [a=b]\n",
            ),
            ("base/d.yaml", DEPLOY),
            (
                "overlay/kustomization.yaml",
                "resources:\n- ../base\n- s.yaml\nnamePrefix: o-\nbuildMetadata: [originAnnotations, managedByLabel]\nconfigMapGenerator:\n- name: g\n  behavior: merge\n  literals: [c=d]\nsecretGenerator:\n- name: s\n  literals: [c=d]\n",
            ),
            ("overlay/s.yaml", SVC),
        ],
        "overlay",
    );
}

/// buildMetadata transformerAnnotations: the built-in transformers each record themselves
/// (api/internal/target/multitransformer.go); see tests/realworld_classes.rs for the rest.
#[test]
fn transformer_annotations() {
    check(
        "transformer-annotations",
        &[
            (
                "kustomization.yaml",
                "resources:\n- s.yaml\nbuildMetadata: [transformerAnnotations]\nnamePrefix: p-\ncommonLabels: {a: b}\n",
            ),
            ("s.yaml", SVC),
        ],
    );
}

/// A replacement target path that selects nothing fails without `create`, and a scalar
/// keeps its type: text that does not read as it fails (kyaml PathMatcher, go-yaml decode).
#[test]
fn replacement_target_failures() {
    let files = |path: &str| {
        vec![
            (
                "kustomization.yaml".to_owned(),
                format!(
                    "resources:\n- cm.yaml\n- s.yaml\nreplacements:\n- source:\n    kind: ConfigMap\n    fieldPath: data.host\n  targets:\n  - select:\n      kind: Service\n    fieldPaths:\n    - {path}\n"
                ),
            ),
            ("cm.yaml".to_owned(), CM.to_owned()),
            ("s.yaml".to_owned(), SVC.to_owned()),
        ]
    };
    for (name, path, needle) in [
        (
            "replacement-missing",
            "spec.missing",
            "unable to find field \"spec.missing\" in replacement target",
        ),
        (
            "replacement-type",
            "spec.ports.0.port",
            "cannot decode !!str `db.example.com:5432` as a !!int",
        ),
    ] {
        let owned = files(path);
        let refs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        fails(name, &refs, ".", needle);
    }
}

/// openapi: a custom schema gives a custom resource's lists merge keys
/// (`x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy: merge`), found through the
/// kind's `x-kubernetes-group-version-kind` and `$ref`s (kyaml/openapi SetSchema). The custom
/// schema replaces the built-in one: a Deployment's containers are then replaced, not merged.
#[test]
fn custom_openapi_schema() {
    let schema = r##"{"definitions": {
  "v1.Widget": {
    "properties": {
      "apiVersion": {"type": "string"}, "kind": {"type": "string"},
      "metadata": {"type": "object"},
      "spec": {"properties": {"parts": {"items": {"$ref": "#/definitions/v1.Part"},
        "type": "array", "x-kubernetes-patch-merge-key": "id",
        "x-kubernetes-patch-strategy": "merge"},
        "tags": {"items": {"type": "string"}, "type": "array"}}, "type": "object"}
    },
    "type": "object",
    "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}]
  },
  "v1.Part": {"properties": {"id": {"type": "string"}, "size": {"type": "integer"}}, "type": "object"}
}}
"##;
    check(
        "openapi",
        &[
            (
                "kustomization.yaml",
                "resources:\n- w.yaml\n- d.yaml\nopenapi:\n  path: schema.json\npatches:\n- patch: |-\n    apiVersion: example.com/v1\n    kind: Widget\n    metadata:\n      name: w\n    spec:\n      parts:\n      - id: b\n        size: 9\n      - id: c\n      tags: [z]\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: web\n    spec:\n      template:\n        spec:\n          containers:\n          - name: side\n            image: side:1\n",
            ),
            (
                "w.yaml",
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  parts:\n  - id: a\n    size: 1\n  - id: b\n    size: 2\n  tags: [x, y]\n",
            ),
            ("d.yaml", DEPLOY),
            ("schema.json", schema),
        ],
    );
}

/// vars failures, worded as kustomize words them (resaccumulator.go): an object no resource
/// is, a field the object lacks, a name defined twice.
#[test]
fn var_failures() {
    let var = |objref: &str, extra: &str| {
        format!("- name: A\n  objref:\n    kind: {objref}\n    apiVersion: v1\n{extra}")
    };
    for (name, vars, needle) in [
        (
            "var-unmapped",
            var("Secret\n    name: x", ""),
            "var '{A Secret.v1.[noGrp] {metadata.name}}' cannot be mapped to a field in the set of known resources",
        ),
        (
            "var-missing-field",
            var(
                "Service\n    name: web",
                "  fieldref:\n    fieldpath: spec.nope\n",
            ),
            "field specified in var '{A Service.v1.[noGrp] {spec.nope}}' not found in corresponding resource",
        ),
        (
            "var-twice",
            format!(
                "{}{}",
                var("Service\n    name: web", ""),
                var("Service\n    name: web", "")
            ),
            "merging vars [{A Service.[noVer].[noGrp] {}} {A Service.[noVer].[noGrp] {}}]: var 'A' already encountered",
        ),
    ] {
        let k = format!("resources:\n- s.yaml\nvars:\n{vars}");
        fails(
            name,
            &[("kustomization.yaml", &k), ("s.yaml", SVC)],
            ".",
            needle,
        );
    }
}

/// Patches kustomize refuses to configure (plugin/builtin/patchtransformer,
/// patchjson6902transformer): no patch text, `[]` (both an SMP and a JSON patch), an empty
/// JSON 6902 patch.
#[test]
fn unconfigurable_patches_fail() {
    for (name, k, needle) in [
        (
            "patch-empty",
            "patches:\n- target: {kind: Service}\n  patch: \"\"\n",
            "must specify one of patch and path in\ntarget:\n  kind: Service\n",
        ),
        (
            "patch-both",
            "patches:\n- target: {kind: Service}\n  patch: \"[]\"\n",
            "illegally qualifies as both an SM and JSON patch",
        ),
        (
            "json6902-empty",
            "patchesJson6902:\n- target: {version: v1, kind: Service, name: web}\n  patch: \"[]\"\n",
            "trouble configuring builtin PatchJson6902Transformer with config: `\njsonOp: '[]'\ntarget:\n  kind: Service\n  name: web\n  version: v1\n`: patch appears to be empty; file=, JsonOp=[]",
        ),
    ] {
        let k = format!("resources:\n- s.yaml\n{k}");
        fails(
            name,
            &[("kustomization.yaml", &k), ("s.yaml", SVC)],
            ".",
            needle,
        );
    }
}

/// The error `kubectl kustomize` prints for `dir`, or its output when it succeeds.
fn kubectl_outcome(dir: &std::path::Path) -> Result<String, String> {
    let (ok, out, stderr) = kubectl(dir);
    if ok {
        Ok(out)
    } else {
        Err(kubectl_error(&stderr))
    }
}

/// Issue 18 item 12: a kustomization that sets nothing fails (kusttarget.go `Load` ->
/// `Kustomization.CheckEmpty`, types.ErrEmptyKustomization: "kustomization.yaml is empty"),
/// whatever its file is called; a field set to an empty list or mapping is not empty (a
/// non-nil Go slice or map), a field with no value is. Nested, the message is wrapped as
/// kustomize wraps it. Each case is compared with kubectl.
#[test]
fn empty_kustomizations_fail_like_kubectl() {
    ensure_kubectl();
    let cases: &[(&str, &str)] = &[
        ("kustomization.yaml", ""),
        ("kustomization.yaml", "# nothing here\n"),
        ("kustomization.yaml", "\n  \n"),
        ("kustomization.yml", ""),
        ("Kustomization", ""),
        ("kustomization.yaml", "{}\n"),
        ("kustomization.yaml", "null\n"),
        ("kustomization.yaml", "kind: Kustomization\n"),
        (
            "kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
        ),
        ("kustomization.yaml", "kind: Component\n"),
        ("kustomization.yaml", "kind: Foo\n"),
        ("kustomization.yaml", "apiVersion: v1\n"),
        ("kustomization.yaml", "namePrefix: \"\"\n"),
        (
            "kustomization.yaml",
            "namespace: \"\"\nbases:\nresources:\n",
        ),
        ("kustomization.yaml", "sortOptions:\n"),
        // not empty: these build (to nothing)
        ("kustomization.yaml", "resources: []\n"),
        ("kustomization.yaml", "labels: []\n"),
        ("kustomization.yaml", "generatorOptions: {}\n"),
        ("kustomization.yaml", "metadata:\n  name: x\n"),
    ];
    for (i, (file, text)) in cases.iter().enumerate() {
        let name = format!("empty-{i}");
        let dir = tree(&name, &[(file, text)]);
        let want = kubectl_outcome(&dir);
        let got = sluice(&dir).map(|o| o.yaml).map_err(|e| e.to_string());
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert!(same(w, g), "{name} {text:?}: {w:?} vs {g:?}"),
            _ => assert_eq!(got, want, "{name}: {file} {text:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // nested: as a resource directory and as a component, the message names the directory
    // as kustomize does (kusttarget.go accumulateResources / accumulateComponents)
    for (name, parent) in [
        ("empty-nested-resource", "resources:\n- e\n"),
        ("empty-nested-component", "components:\n- e\n"),
    ] {
        let dir = tree(
            name,
            &[
                ("top/kustomization.yaml", parent),
                ("top/e/kustomization.yaml", "kind: Component\n"),
            ],
        );
        // kubectl resolves the directory the same way sluice does
        let top = std::fs::canonicalize(dir.join("top")).expect("tree");
        let want = kubectl_outcome(&top).expect_err("kubectl fails");
        let got = sluice(&top).expect_err("sluice fails").to_string();
        assert_eq!(got, want, "{name}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `kubectl kustomize DIR` with a load restrictor flag.
fn kubectl_with(dir: &std::path::Path, restrictor: &str) -> Result<String, String> {
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .arg(format!("--load-restrictor={restrictor}"))
        .output()
        .expect("kubectl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(kubectl_error(&stderr))
    }
}

/// How a symlink in the tree reaches its target.
#[derive(Debug, Clone, Copy)]
enum LinkForm {
    /// `../outside/x`
    Relative,
    /// `/tmp/.../outside/x`
    Absolute,
    /// a link to a link (inside the root) to the target
    Chain,
    /// the file sits in a directory of the root that is itself a link to the target's
    Dir,
}

/// Issue 18 item 9: every file a build reads that is a symlink leading out of the root is
/// refused under the default restrictor (fileloader.go `RestrictionRootOnly`: the path is
/// resolved, then must be in or below the root; the message names the path as written),
/// and read under LoadRestrictionsNone. The kustomization file itself is then not found
/// (kusttarget.go `LoadKustFile` counts only the names the loader reads). Generated over
/// the files a kustomization names and the ways a link reaches out, each compared with
/// kubectl with both restrictors.
#[test]
fn symlinks_leaving_the_root() {
    use std::os::unix::fs::symlink;
    ensure_kubectl();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: out\n";
    let patch = "- op: add\n  path: /data\n  value: {from: patch}\n";
    // (role, the kustomization naming `{f}`, the outside file's text)
    let roles: &[(&str, &str, &str)] = &[
        ("resource", "resources:\n- {f}\n", cm),
        (
            "patch",
            "resources:\n- in.yaml\npatches:\n- path: {f}\n  target:\n    kind: ConfigMap\n",
            patch,
        ),
        (
            "generator-file",
            "configMapGenerator:\n- name: g\n  files:\n  - {f}\n",
            "hello\n",
        ),
        (
            "generator-env",
            "configMapGenerator:\n- name: g\n  envs:\n  - {f}\n",
            "A=1\n",
        ),
        ("kustomization", "", "resources:\n- in.yaml\n"),
    ];
    let forms = [
        LinkForm::Relative,
        LinkForm::Absolute,
        LinkForm::Chain,
        LinkForm::Dir,
    ];
    for (role, k, target_text) in roles {
        for form in forms {
            let name = format!("symlink-{role}-{form:?}");
            let dir = tree(
                &name,
                &[
                    ("outside/in.yaml", cm),
                    (
                        "root/in.yaml",
                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in\n",
                    ),
                ],
            );
            let dir = std::fs::canonicalize(&dir).expect("tree");
            let root = dir.join("root");
            let target_name = if *role == "kustomization" {
                "kustomization.yaml"
            } else {
                "target.txt"
            };
            std::fs::write(dir.join("outside").join(target_name), target_text).expect("write");
            if *role == "kustomization" {
                // the outside kustomization reads its own in.yaml: only the file is linked
                std::fs::copy(root.join("in.yaml"), dir.join("outside/in.yaml")).expect("copy");
            }
            let link_name = if *role == "kustomization" {
                "kustomization.yaml"
            } else {
                "f.txt"
            };
            let named = match form {
                LinkForm::Relative => {
                    symlink(format!("../outside/{target_name}"), root.join(link_name))
                        .expect("link");
                    link_name.to_owned()
                }
                LinkForm::Absolute => {
                    symlink(dir.join("outside").join(target_name), root.join(link_name))
                        .expect("link");
                    link_name.to_owned()
                }
                LinkForm::Chain => {
                    symlink(format!("../outside/{target_name}"), root.join("hop")).expect("link");
                    symlink("hop", root.join(link_name)).expect("link");
                    link_name.to_owned()
                }
                LinkForm::Dir => {
                    symlink("../outside", root.join("sub")).expect("link");
                    if *role == "kustomization" {
                        // the kustomization of a directory link is inside what it resolves
                        // to; link the file through a linked directory instead
                        symlink("sub/kustomization.yaml", root.join(link_name)).expect("link");
                        link_name.to_owned()
                    } else {
                        format!("sub/{target_name}")
                    }
                }
            };
            if *role != "kustomization" {
                std::fs::write(root.join("kustomization.yaml"), k.replace("{f}", &named))
                    .expect("write");
            }
            for (restrictor, options) in [
                (
                    "LoadRestrictionsRootOnly",
                    sluice_kustomize::Options::default(),
                ),
                (
                    "LoadRestrictionsNone",
                    sluice_kustomize::Options {
                        load_restrictor: sluice_kustomize::LoadRestrictor::None,
                        ..Default::default()
                    },
                ),
            ] {
                let want = kubectl_with(&root, restrictor);
                let got = sluice_kustomize::build(&sluice_kustomize::DiskFs, &root, &options)
                    .map(|o| o.yaml)
                    .map_err(|e| e.to_string());
                let what = format!("{name} {restrictor}");
                match (&want, &got) {
                    (Ok(w), Ok(g)) => assert!(same(w, g), "{what}: {w:?} vs {g:?}"),
                    (Err(w), Err(g)) => {
                        assert_eq!(restrictor, "LoadRestrictionsRootOnly", "{what}: {w}");
                        // the patch message quotes the plugin config in kubectl; the cause
                        // is the same
                        if *role == "patch" {
                            assert!(
                                w.ends_with(g.as_str()) || w.contains("is not in or below"),
                                "{what}: {w}"
                            );
                            assert!(g.contains("is not in or below"), "{what}: {g}");
                        } else {
                            assert_eq!(g, w, "{what}");
                        }
                    }
                    _ => panic!("{what}: kubectl {want:?}, sluice {got:?}"),
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Links that stay in the root, or leave and come back, are read; a component or base
/// directory may itself be a link anywhere (only files are restricted); a dangling link
/// is a missing file. Compared with kubectl.
#[test]
fn symlinks_within_the_root() {
    use std::os::unix::fs::symlink;
    ensure_kubectl();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in\n";
    // (name, files, symlinks as (link, target))
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (
            "inside",
            &[
                ("root/real.yaml", cm),
                ("root/kustomization.yaml", "resources:\n- link.yaml\n"),
            ],
            &[("root/link.yaml", "real.yaml")],
        ),
        (
            "out-and-back",
            &[
                ("root/real.yaml", cm),
                ("root/kustomization.yaml", "resources:\n- link.yaml\n"),
            ],
            &[("root/link.yaml", "../root/real.yaml")],
        ),
        (
            "kustomization-inside",
            &[
                ("root/in.yaml", cm),
                ("root/k.yaml", "resources:\n- in.yaml\n"),
            ],
            &[("root/kustomization.yaml", "k.yaml")],
        ),
        (
            "component-dir-outside",
            &[
                ("root/in.yaml", cm),
                (
                    "root/kustomization.yaml",
                    "resources:\n- in.yaml\ncomponents:\n- comp\n",
                ),
                (
                    "comp/kustomization.yaml",
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: c-\n",
                ),
            ],
            &[("root/comp", "../comp")],
        ),
        (
            "base-dir-outside",
            &[
                ("root/kustomization.yaml", "resources:\n- base\n"),
                ("base/kustomization.yaml", "resources:\n- in.yaml\n"),
                ("base/in.yaml", cm),
            ],
            &[("root/base", "../base")],
        ),
        (
            "outside-kustomization-yaml-and-real-yml",
            &[
                ("root/in.yaml", cm),
                ("root/kustomization.yml", "resources:\n- in.yaml\n"),
                ("outside.yaml", "resources:\n- nope.yaml\n"),
            ],
            &[("root/kustomization.yaml", "../outside.yaml")],
        ),
        (
            "dangling-kustomization",
            &[("root/in.yaml", cm)],
            &[("root/kustomization.yaml", "../nowhere.yaml")],
        ),
    ];
    for (name, files, links) in cases {
        let dir = tree(&format!("symlink-ok-{name}"), files);
        let dir = std::fs::canonicalize(&dir).expect("tree");
        for (link, target) in *links {
            symlink(target, dir.join(link)).expect("link");
        }
        let root = dir.join("root");
        let want = kubectl_outcome(&root);
        let got = sluice(&root).map(|o| o.yaml).map_err(|e| e.to_string());
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert!(same(w, g), "{name}: {w:?} vs {g:?}"),
            _ => assert_eq!(got, want, "{name}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Issue 18 item 12: a YAML error is `file:line:col: what`, each part once (it read
/// "file: invalid YAML: 5:2: invalid YAML: ..."), for every kind of loader error, in the
/// kustomization file and in the files it names.
#[test]
fn yaml_errors_name_the_file_once() {
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata: {}\n",
        "[".repeat(200)
    );
    let cases: &[(&str, &str, &str)] = &[
        (
            "syntax",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n",
            "5:2: invalid YAML: ",
        ),
        (
            "duplicate",
            "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n",
            "3:1: duplicate key \"kind\"",
        ),
        (
            "alias",
            "apiVersion: v1\nkind: ConfigMap\ndata: *nope\n",
            "3:7: invalid YAML: ",
        ),
        ("deep", &deep, "nesting deeper than"),
    ];
    for (name, text, want) in cases {
        // kustomization files let the last repeated key win (go-yaml v2 Unmarshal)
        let places: &[bool] = if *name == "duplicate" {
            &[false]
        } else {
            &[false, true]
        };
        for &in_kustomization in places {
            let files: Vec<(&str, &str)> = if in_kustomization {
                vec![("kustomization.yaml", text)]
            } else {
                vec![
                    ("kustomization.yaml", "resources:\n- r.yaml\n"),
                    ("r.yaml", text),
                ]
            };
            let dir = tree(&format!("yaml-{name}-{in_kustomization}"), &files);
            let dir = std::fs::canonicalize(&dir).expect("tree");
            let file = if in_kustomization {
                "kustomization.yaml"
            } else {
                "r.yaml"
            };
            let err = sluice(&dir).expect_err("fails").to_string();
            let prefix = format!("{}:", dir.join(file).display());
            assert!(err.starts_with(&prefix), "{name}: {err}");
            let rest = &err[prefix.len()..];
            assert!(
                rest.split(':')
                    .next()
                    .is_some_and(|l| l.parse::<u32>().is_ok()),
                "{name}: no line in {err}"
            );
            assert!(err.contains(want), "{name}: {err}");
            assert!(err.matches("invalid YAML").count() <= 1, "{name}: {err}");
            assert_eq!(err.matches(&prefix).count(), 1, "{name}: {err}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
