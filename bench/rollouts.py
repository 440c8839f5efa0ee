#!/usr/bin/env python3
"""Benchmarks the Rollout controller of `sluice serve` (issue 15). In one run:
(a) schedule: a canary of N pause steps of 1 s each (no analysis), from `set image` to fully
promoted, against its ideal schedule (N s, the baseline); reported as the ratio and the
overhead per step (goal: <= 100 ms per step);
(b) many rollouts: M Rollouts (1 replica, no steps) created at once, time until all are
Healthy;
(c) the peak RSS (VmHWM) of the `sluice serve` process after (a) and (b).
Usage: bench/rollouts.py [path/to/sluice] [N] [M] (default target/release/sluice 20 200).
Needs kubectl."""
import json, os, shutil, socket, subprocess, sys, tempfile, time

sluice = sys.argv[1] if len(sys.argv) > 1 else "target/release/sluice"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
many = int(sys.argv[3]) if len(sys.argv) > 3 else 200
tmp = tempfile.mkdtemp(prefix="sluice-bench-rollouts-")
data = os.path.join(tmp, "data")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

server = subprocess.Popen([sluice, "serve", "--listen", "127.0.0.1:0", "--data", data,
                           "--listeners-listen", f"127.0.0.1:{free_port()}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
kc = os.path.join(data, "kubeconfig")

def kubectl(*args, stdin=None):
    p = subprocess.run(["kubectl", "--kubeconfig", kc, *args], input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {p.stderr}")
    return p.stdout

try:
    t0 = time.time()
    while True:
        if os.path.exists(kc) and subprocess.run(["kubectl", "--kubeconfig", kc, "get", "--raw", "/readyz"],
                                                 capture_output=True).returncode == 0:
            break
        if time.time() - t0 > 30:
            raise SystemExit("sluice serve did not start")
        time.sleep(0.1)

    def rollout(name, image, n_steps, replicas=1):
        st = "".join("      - pause: {duration: 1s}\n" for _ in range(n_steps)) or "      []\n"
        st = ("\n" + st) if n_steps else " []\n"
        return (f"apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: {name}, namespace: default}}\n"
                f"spec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n"
                f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
                f"    spec: {{containers: [{{name: main, image: {image}}}]}}\n"
                f"  strategy:\n    canary:\n      steps:{st}")

    def get(name):
        return json.loads(kubectl("get", "rollout", name, "-o", "json"))

    def wait(pred, what, limit=600):
        t = time.time()
        while not pred():
            if time.time() - t > limit:
                raise SystemExit(f"timed out: {what}")
            time.sleep(0.05)

    def promoted(name, old=None):
        s = get(name).get("status", {})
        return (s.get("phase") == "Healthy" and s.get("stableRS") == s.get("currentPodHash")
                and (old is None or s.get("stableRS") != old))

    # (a)
    kubectl("apply", "-f", "-", stdin=rollout("sched", "app:1", steps))
    wait(lambda: promoted("sched"), "first deploy")
    old = get("sched")["status"]["stableRS"]
    # the readiness wait of the canary's pods (simulated node) is part of the baseline:
    # measured on a rollout without steps in the same server
    kubectl("apply", "-f", "-", stdin=rollout("nosteps", "app:1", 0))
    wait(lambda: promoted("nosteps"), "first deploy (no steps)")
    old0 = get("nosteps")["status"]["stableRS"]
    t = time.time()
    kubectl("patch", "rollout", "nosteps", "--type", "merge", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"app:2"}]}}}}')
    wait(lambda: promoted("nosteps", old0), "nosteps promoted")
    readiness = time.time() - t
    t = time.time()
    kubectl("patch", "rollout", "sched", "--type", "merge", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"app:2"}]}}}}')
    wait(lambda: promoted("sched", old), "sched promoted")
    wall = time.time() - t
    ideal = steps * 1.0 + readiness
    print(f"(a) {steps} pause steps of 1 s: {wall:.2f} s, baseline {ideal:.2f} s "
          f"({steps} s + {readiness:.2f} s promotion without steps), ratio {wall/ideal:.3f}, "
          f"overhead {(wall-ideal)/steps*1000:.0f} ms/step (goal <= 100 ms)")

    # (b)
    docs = "---\n".join(rollout(f"r{i}", "app:1", 0) for i in range(many))
    t = time.time()
    kubectl("apply", "-f", "-", stdin=docs)
    def all_healthy():
        items = json.loads(kubectl("get", "rollouts", "-o", "json"))["items"]
        return sum(1 for i in items if i["metadata"]["name"].startswith("r")
                   and i.get("status", {}).get("phase") == "Healthy") == many
    wait(all_healthy, "many healthy")
    print(f"(b) {many} Rollouts created at once: all Healthy in {time.time()-t:.2f} s")

    # (c)
    with open(f"/proc/{server.pid}/status") as f:
        hwm = next(l for l in f if l.startswith("VmHWM")).split()[1]
    print(f"(c) peak RSS of sluice serve: {int(hwm)/1024:.1f} MB")
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(tmp, ignore_errors=True)
