#!/usr/bin/env python3
"""Writes a multi-document manifest stream of about SIZE_MB megabytes (default 10) to stdout:
Tekton Tasks and Pipelines, ConfigMaps and Deployments in rotation, all valid."""
import sys

size = int(float(sys.argv[1] if len(sys.argv) > 1 else 10) * 1024 * 1024)
TASK = """apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build-{i}
  labels:
    app.kubernetes.io/name: build-{i}
spec:
  params:
  - name: image
    type: string
  - name: flags
    type: array
    default: []
  workspaces:
  - name: source
  results:
  - name: digest
  steps:
  - name: build
    image: alpine:3.20
    workingDir: $(workspaces.source.path)
    args: ["--image=$(params.image)", "$(params.flags[*])"]
    command: [sh, -c]
  - name: report
    image: alpine:3.20
    script: |
      #!/bin/sh
      echo -n sha256:{i} > $(results.digest.path)
---
"""
PIPELINE = """apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: pipe-{i}
spec:
  params:
  - name: image
  workspaces:
  - name: ws
  tasks:
  - name: a
    taskRef:
      name: build-{i}
    params:
    - name: image
      value: $(params.image)
    workspaces:
    - name: source
      workspace: ws
  - name: b
    runAfter: [a]
    taskSpec:
      params:
      - name: d
      steps:
      - name: s
        image: alpine
        script: echo $(params.d)
    params:
    - name: d
      value: $(tasks.a.results.digest)
---
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i}
  namespace: default
data:
  key-a: "value {i}"
  key-b: |
    line one
    line two
  enabled: "true"
---
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  labels: {{app: web-{i}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web-{i}}}
  template:
    metadata:
      labels: {{app: web-{i}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
---
"""
out = sys.stdout
written = 0
i = 0
while written < size:
    for t in (TASK, PIPELINE, CONFIGMAP, DEPLOYMENT):
        s = t.format(i=i)
        out.write(s)
        written += len(s)
    i += 1
