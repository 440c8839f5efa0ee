#!/usr/bin/env python3
"""Benchmark of the Application controller of `sluice serve` (issue 10 item 10, the
AWS/CNOE-style workload): N Applications of one 2 KB ConfigMap each, from one local
git repository (`file://`, read through gix), all to Synced and Healthy.

Baseline, same invocation, same server: `kubectl apply` of the same N ConfigMaps (what the
controller has to write, without rendering, comparing or status). Reports wall time of
each, their ratio, the server's peak RSS (VmHWM) and the CPU the server spent.

usage: bench/applications.py [N]   (SLUICE=path/to/sluice, default target dir's debug build)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
sluice = os.environ.get("SLUICE", os.path.join(target, "debug", "sluice"))
work = tempfile.mkdtemp(prefix="sluice-bench-apps-")
repo = os.path.join(work, "repo")
data = os.path.join(work, "data")
payload = "x" * 2000
for i in range(n):
    d = os.path.join(repo, f"app-{i}")
    os.makedirs(d)
    with open(os.path.join(d, "cm.yaml"), "w") as f:
        f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  payload: {payload}\n")
git = ["git", "-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
subprocess.run(git + ["add", "-A"], check=True)
subprocess.run(git + ["commit", "-q", "-m", "apps"], check=True)

proc = subprocess.Popen([sluice, "serve", "--listen", "127.0.0.1:0", "--data", data],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
kc = os.path.join(data, "kubeconfig")


def kubectl(*args, stdin=None):
    return subprocess.run(["kubectl", "--kubeconfig", kc, *args], input=stdin,
                          capture_output=True, text=True)


def status_kb(key):
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def cpu_s():
    with open(f"/proc/{proc.pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


try:
    t0 = time.time()
    while not (os.path.exists(kc) and kubectl("get", "--raw", "/readyz").returncode == 0):
        if time.time() - t0 > 60:
            sys.exit("server did not start")
        time.sleep(0.1)
    kubectl("create", "namespace", "argocd")
    kubectl("create", "namespace", "baseline")
    kubectl("create", "namespace", "apps")
    kubectl("apply", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata:\n  timeout.reconciliation: 30s\n")
    rss_idle = status_kb("VmRSS")

    # baseline: kubectl apply of the same N ConfigMaps
    docs = []
    for i in range(n):
        docs.append(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: baseline\ndata:\n  payload: {payload}\n")
    t = time.time()
    r = kubectl("apply", "-f", "-", stdin="---\n".join(docs))
    base_s = time.time() - t
    if r.returncode != 0:
        sys.exit(r.stderr)

    apps = []
    for i in range(n):
        apps.append(f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: app-{i}, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: "file://{repo}", path: app-{i}, targetRevision: HEAD}}
  destination: {{server: "https://kubernetes.default.svc", namespace: apps}}
  syncPolicy: {{automated: {{prune: true}}}}
""")
    cpu0 = cpu_s()
    t = time.time()
    last_progress = t
    r = kubectl("apply", "-f", "-", stdin="---\n".join(apps))
    if r.returncode != 0:
        sys.exit(r.stderr)
    while True:
        out = kubectl("get", "applications.argoproj.io", "-n", "argocd", "-o", "json")
        items = json.loads(out.stdout)["items"] if out.returncode == 0 else []
        done = sum(1 for a in items
                   if a.get("status", {}).get("sync", {}).get("status") == "Synced"
                   and a.get("status", {}).get("health", {}).get("status") == "Healthy")
        if done == n:
            break
        if time.time() - t > 1800:
            sys.exit(f"timeout: {done}/{n} synced")
        if time.time() - last_progress >= 10:
            last_progress = time.time()
            print(f"  ... {done}/{n} Synced+Healthy after {last_progress - t:.0f} s, server RSS "
                  f"{status_kb('VmRSS') / 1024:.0f} MiB", file=sys.stderr, flush=True)
        # listing N applications is itself work for the server: poll less often when N is large
        time.sleep(0.5 if n <= 1000 else 2.0)
    apps_s = time.time() - t
    cpu_sync = cpu_s() - cpu0
    # steady state: one refresh cycle of N unchanged apps (timeout.reconciliation 30s)
    print(f"  ... all {n} Synced+Healthy after {apps_s:.1f} s; measuring one refresh cycle "
          f"(server pid {proc.pid})", file=sys.stderr, flush=True)
    cpu1 = cpu_s()
    time.sleep(35)
    cpu_cycle = cpu_s() - cpu1
    peak = status_kb("VmHWM")
    rss_steady = status_kb("VmRSS")
    print(f"applications N={n}")
    print(f"  baseline kubectl apply of {n} ConfigMaps: {base_s:.2f} s")
    print(f"  {n} Applications to Synced+Healthy:       {apps_s:.2f} s (ratio {apps_s / base_s:.1f}x)")
    print(f"  server CPU during the sync:                {cpu_sync:.2f} s")
    print(f"  server CPU for one refresh cycle (35 s):   {cpu_cycle:.2f} s")
    print(f"  server RSS idle {rss_idle / 1024:.1f} MiB, after the refresh cycle {rss_steady / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB")
finally:
    proc.terminate()
    proc.wait()
    shutil.rmtree(work, ignore_errors=True)
