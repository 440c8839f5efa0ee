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
