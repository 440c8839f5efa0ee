#!/usr/bin/env python3
"""Benchmark of the web UI on big data (issue 13 item 3), in Debian's headless Chromium.

Starts `sluice serve` (release build by default; SLUICE_BIN=PATH for another binary), stores
RUNS PipelineRuns (default 10,000; `spec.status: PipelineRunPending`, so none runs) and APPS
Applications (default 1,000; project `bench-none`, so each is an InvalidSpecError at once and
no controller work follows), then loads the Runs view and the Applications view in a cold
browser each, REPEAT times (default 3). Measured in the page (tests/it/cdp.py "init"):
  - meaningful paint: ms from navigation start to the first row (`[data-run]`) or tile
    (`[data-app]`) in the DOM;
  - long tasks: count and longest main-thread task (PerformanceObserver "longtask");
  - JS shipped: gzipped size of the page's scripts.
Then one Application of BIG_APP resources (default 2,000 ConfigMaps, synced) and its page:
the resource tree (a virtualised list) and the longest main-thread task while it renders.
Baseline in the same invocation: the same measurement of the login page (no data), so the
ratio is what the data costs. Also the server's peak RSS (VmHWM) after the loads.
"""
import gzip
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CDP = os.path.join(ROOT, "crates/sluice/tests/it/cdp.py")
RUNS = int(os.environ.get("RUNS", "10000"))
APPS = int(os.environ.get("APPS", "1000"))
REPEAT = int(os.environ.get("REPEAT", "3"))

INIT = """
window.__perf = {longest: 0, long: 0, first: null};
try {
  new PerformanceObserver((l) => { for (const e of l.getEntries()) { __perf.long++; __perf.longest = Math.max(__perf.longest, e.duration); } })
    .observe({type: 'longtask', buffered: true});
} catch (e) {}
new MutationObserver(() => {
  if (__perf.first === null && document.querySelector(window.__perfSel || '[data-run], [data-app], .login')) __perf.first = performance.now();
}).observe(document, {childList: true, subtree: true});
"""


def binary():
    b = os.environ.get("SLUICE_BIN")
    if b:
        return b
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "sluice"], cwd=ROOT, check=True)
    return os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sluice")


def main():
    exe = binary()
    data = tempfile.mkdtemp(prefix="sluice-ui-bench-")
    srv = subprocess.Popen([exe, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = None
    for line in srv.stdout:
        m = re.match(r"sluice serve listening on (\S+)", line)
        if m:
            url = m.group(1)
        if "web UI:" in line:
            break
    threading.Thread(target=lambda: [None for _ in srv.stdout], daemon=True).start()
    token = open(os.path.join(data, "token")).read().strip()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def post(path, obj):
        req = urllib.request.Request(url + path, json.dumps(obj).encode(), method="POST")
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Content-Type", "application/json")
        for _ in range(5):
            try:
                urllib.request.urlopen(req, context=ctx).read()
                return
            except urllib.error.HTTPError as e:
                if e.code == 409:
                    return
                time.sleep(0.2)

    try:
        post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
        t0 = time.time()

        def fill(kind, n, k, step):
            for i in range(k, n, step):
                if kind == "run":
                    post("/apis/tekton.dev/v1/namespaces/default/pipelineruns", {
                        "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
                        "metadata": {"name": f"run-{i:05d}", "labels": {"tekton.dev/pipeline": f"p{i % 20}"}},
                        "spec": {"status": "PipelineRunPending", "pipelineSpec": {"tasks": [
                            {"name": "t", "taskSpec": {"steps": [{"name": "s", "image": "alpine", "script": "true"}]}}]}}})
                else:
                    post("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications", {
                        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                        "metadata": {"name": f"app-{i:04d}", "namespace": "argocd", "labels": {"team": f"t{i % 10}"}},
                        "spec": {"project": "bench-none", "source": {"repoURL": "file:///nonexistent", "path": "."},
                                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"}}})

        threads = [threading.Thread(target=fill, args=("run", RUNS, k, 8)) for k in range(8)]
        threads += [threading.Thread(target=fill, args=("app", APPS, k, 8)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"stored {RUNS} PipelineRuns and {APPS} Applications in {time.time() - t0:.1f}s")

        def measure(hash_, sel):
            init = f"window.__perfSel = {json.dumps(sel)};" + INIT
            spec = {"url": f"{url}/{hash_}", "token": None if sel == ".login" else token, "init": init,
                    "steps": [{"wait": "window.__perf && window.__perf.first !== null", "timeout": 120},
                              {"wait": "new Promise(r => setTimeout(() => r(true), 1000))"},
                              {"eval": "JSON.stringify(window.__perf)"},
                              {"eval": "JSON.stringify([...document.scripts].map(s => s.src).filter(Boolean))"}]}
            o = subprocess.run(["python3", CDP], input=json.dumps(spec), capture_output=True, text=True)
            out = json.loads(o.stdout)
            if not out["ok"]:
                raise SystemExit(f"{hash_}: {out}")
            return json.loads(out["results"][2]), json.loads(out["results"][3])

        results = {}
        for name, hash_, sel in [("login (baseline)", "#/login", ".login"), ("runs", "#/runs", "[data-run]"), ("apps", "#/apps", "[data-app]")]:
            firsts, longest, counts = [], [], []
            for _ in range(REPEAT):
                p, scripts = measure(hash_, sel)
                firsts.append(p["first"])
                longest.append(p["longest"])
                counts.append(p["long"])
            results[name] = (sorted(firsts)[len(firsts) // 2], max(longest), max(counts))
            print(f"{name:18s} meaningful paint {results[name][0]:7.0f} ms (median of {REPEAT}), "
                  f"longest task {results[name][1]:5.0f} ms, long tasks {results[name][2]}")
        # one Application of BIG_APP resources (default 2,000 ConfigMaps from a local git
        # repository), synced, then its page: the resource tree is a virtualised list
        big = int(os.environ.get("BIG_APP", "2000"))
        if big:
            repo = tempfile.mkdtemp(prefix="sluice-ui-bench-repo-")
            os.makedirs(os.path.join(repo, "app"))
            with open(os.path.join(repo, "app", "all.yaml"), "w") as f:
                for i in range(big):
                    f.write(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:05d}\ndata:\n  k: v{i}\n")
            env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x")
            for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "big"]):
                subprocess.run(cmd, cwd=repo, env=env, check=True)
            post("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications", {
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": "big", "namespace": "argocd"},
                "spec": {"project": "default", "source": {"repoURL": "file://" + repo, "path": "app"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "big"},
                         "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]}}})
            t1 = time.time()
            while time.time() - t1 < 600:
                req = urllib.request.Request(url + "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/big")
                req.add_header("Authorization", "Bearer " + token)
                app = json.loads(urllib.request.urlopen(req, context=ctx).read())
                if app.get("status", {}).get("sync", {}).get("status") == "Synced":
                    break
                time.sleep(1)
            print(f"Application big ({big} resources) Synced after {time.time() - t1:.1f}s")
            firsts, longest, counts = [], [], []
            for _ in range(REPEAT):
                p, _ = measure("#/apps/argocd/big", "#tree [data-resource]")
                firsts.append(p["first"])
                longest.append(p["longest"])
                counts.append(p["long"])
            name = f"app of {big}"
            results[name] = (sorted(firsts)[len(firsts) // 2], max(longest), max(counts))
            print(f"{name:18s} meaningful paint {results[name][0]:7.0f} ms (median of {REPEAT}), "
                  f"longest task {results[name][1]:5.0f} ms, long tasks {results[name][2]}")
        base = results["login (baseline)"][0]
        for name in results:
            if name != "login (baseline)":
                print(f"ratio {name} / login: {results[name][0] / base:.1f}")
        # shipped JS, gzipped
        total = 0
        for path in ["/ui/app.js", "/ui/dag.js"]:
            try:
                body = urllib.request.urlopen(url + path, context=ctx).read()
                total += len(gzip.compress(body, 9))
            except Exception:
                pass
        print(f"JS shipped: {total / 1024:.1f} KiB gzipped")
        status = open(f"/proc/{srv.pid}/status").read()
        hwm = re.search(r"VmHWM:\s+(\d+) kB", status).group(1)
        print(f"server peak RSS: {int(hwm) / 1024:.1f} MB")
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
