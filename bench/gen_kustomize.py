#!/usr/bin/env python3
"""Writes a synthetic kustomize overlay of N resources (a quarter each Deployments,
Services, ConfigMaps, ServiceAccounts) into DIR.

full: base + overlay with namePrefix, namespace, labels, an image tag, a strategic-merge
patch per Deployment and a ConfigMap generator. resources: the base alone, no transformers.
patches: an overlay with 500 JSON 6902 patches (inline), each targeting one object by kind
and name (issue 11 item 5: many targeted patches must stay cheap).
usage: gen_kustomize.py DIR N full|resources|patches
"""
import os
import sys

out, n, variant = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = os.path.join(out, "base")
os.makedirs(base, exist_ok=True)
files = []
per = max(n // 4, 1)
for i in range(per):
    name = f"app-{i}"
    with open(os.path.join(base, f"{name}.yaml"), "w") as f:
        f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {name}
      containers:
      - name: main
        image: example/app:1.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: {name}-config
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  FEATURE: "on"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
""")
    files.append(f"{name}.yaml")
with open(os.path.join(base, "kustomization.yaml"), "w") as f:
    f.write("resources:\n" + "".join(f"- {x}\n" for x in files))
if variant == "full":
    ov = os.path.join(out, "overlay")
    os.makedirs(os.path.join(ov, "patches"), exist_ok=True)
    patches = []
    for i in range(per):
        p = f"patches/app-{i}.yaml"
        with open(os.path.join(ov, p), "w") as f:
            f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
spec:
  template:
    spec:
      containers:
      - name: main
        resources:
          limits:
            cpu: "1"
""")
        patches.append(p)
    with open(os.path.join(ov, "kustomization.yaml"), "w") as f:
        f.write("resources:\n- ../base\nnamePrefix: prod-\nnamespace: production\n"
                "labels:\n- pairs:\n    env: production\n  includeSelectors: true\n"
                "images:\n- name: example/app\n  newTag: \"2.0\"\n"
                "configMapGenerator:\n- name: shared\n  literals:\n  - REGION=eu\n"
                "patches:\n" + "".join(f"- path: {p}\n" for p in patches))
if variant == "patches":
    ov = os.path.join(out, "overlay")
    os.makedirs(ov, exist_ok=True)
    kinds = [("Deployment", "app-{}"), ("Service", "app-{}"), ("ConfigMap", "app-{}-config"),
             ("ServiceAccount", "app-{}")]
    with open(os.path.join(ov, "kustomization.yaml"), "w") as f:
        f.write("resources:\n- ../base\npatches:\n")
        for j in range(500):
            kind, pat = kinds[j % 4]
            name = pat.format((j // 4) % per)
            f.write(f"- target:\n    kind: {kind}\n    name: {name}\n"
                    f"  patch: |-\n    - op: add\n      path: /metadata/annotations\n"
                    f"      value: {{patched-{j}: \"yes\"}}\n")
