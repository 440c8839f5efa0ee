#!/usr/bin/env python3
"""Benchmarks the Rollout controller of `sluice serve` (issue 15, item 8), release build, each
measure against a baseline run in the same invocation:

(a) schedule: a canary of STEPS (100) `pause: {duration: 1s}` steps (no analysis) on the
    simulated node; after `set image` the benchmark watches the Rollout and stamps the
    moment each `status.currentStepIndex` k arrives. Per-step error: (T[k] - T[k-1]) - 1 s;
    drift: T[k] - T[0] - k s (goal: |error| <= 100 ms per step). Baseline: the same wait in
    this process, a loop of STEPS `time.sleep(1)` run at the same time; ratio =
    (T[STEPS] - T[0]) / loop time (the ideal is STEPS s).
(b) MANY (1000) Rollouts (canary, 2 steps, 1 replica each) created at once in one namespace:
    time until all are Healthy (the first template is stable at once, as upstream), and the
    server's CPU seconds (utime+stime of the `sluice serve` process from /proc: API server,
    controllers and simulated node) over that time. Baseline: MANY Deployments (1 replica)
    to Available on the same server in the same invocation, created the same way.
(c) peak RSS (VmHWM) of `sluice serve` after (a) and after (b), and its RSS after each part.

Usage: bench/rollouts.py [path/to/sluice]   (default $CARGO_TARGET_DIR or target, /release/sluice)
Env: STEPS (100), MANY (1000), THREADS (4, creating clients). Needs python3."""
import atexit, concurrent.futures, http.client, json, os, re, shutil, signal, ssl, subprocess
import sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SLUICE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(target, "release/sluice"))
STEPS = int(os.environ.get("STEPS", "100"))
MANY = int(os.environ.get("MANY", "1000"))
THREADS = int(os.environ.get("THREADS", "4"))
tmp = tempfile.mkdtemp(prefix="sluice-bench-rollouts-")
if not os.access(SLUICE, os.X_OK):
    sys.exit(f"{SLUICE}: build it first: cargo build --release -p sluice")
TICK = os.sysconf("SC_CLK_TCK")


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return 0.0


def cpu(pid):
    """utime + stime of the process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Server:
    """`sluice serve --listen 127.0.0.1:0 --data DIR`, ready when /readyz answers."""

    def __init__(self, data):
        os.makedirs(data, exist_ok=True)
        self.log = open(os.path.join(tmp, "serve.log"), "ab")
        self.p = subprocess.Popen([SLUICE, "serve", "--listen", "127.0.0.1:0", "--data", data],
                                  stdout=self.log, stderr=self.log)
        atexit.register(lambda p=self.p: p.poll() is None and p.kill())  # also when a step fails
        kubeconfig = os.path.join(data, "kubeconfig")
        t0 = time.time()
        self.url = None
        while self.url is None:
            if self.p.poll() is not None:
                sys.exit(f"sluice serve exited; log: {self.log.name}")
            try:
                text = open(kubeconfig).read()
                m = re.search(r"server: (https?://[^\s]+)", text)
                t = re.search(r"token: (\S+)", text)
                if m and t:
                    self.url, self.token = m.group(1), t.group(1)
            except OSError:
                pass
            if time.time() - t0 > 30:
                sys.exit("no kubeconfig after 30 s")
            time.sleep(0.05)
        self.host, self.port = re.match(r"https?://([^:/]+):(\d+)", self.url).groups()
        while True:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() - t0 > 30:
                sys.exit("not ready after 30 s")
            time.sleep(0.05)

    def conn(self, timeout=60):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # loopback benchmark
        return http.client.HTTPSConnection(self.host, int(self.port), context=ctx, timeout=timeout)

    def request(self, method, path, body=None, conn=None, ctype="application/json"):
        c = conn or self.conn()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": ctype}
        c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data

    def ok(self, method, path, body=None, conn=None, ctype="application/json"):
        code, data = self.request(method, path, body, conn, ctype)
        if code >= 300:
            sys.exit(f"{method} {path}: {code} {data[:500]!r}")
        return json.loads(data) if data else None

    def rss(self):
        return status(self.p.pid, "VmRSS"), status(self.p.pid, "VmHWM")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def wait(pred, what, limit=900, every=0.5):
    t = time.time()
    while True:
        v = pred()
        if v:
            return v
        if time.time() - t > limit:
            sys.exit(f"timed out after {limit} s: {what}")
        time.sleep(every)


def rollout(ns, name, image, steps):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}},
                     "strategy": {"canary": {"steps": steps}}}}


def deployment(ns, name, image):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


RO = "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts"
DEP = "/apis/apps/v1/namespaces/{ns}/deployments"

s = Server(os.path.join(tmp, "data"))
results = []
try:
    for ns in ("bench-sched", "bench-many", "bench-deploy"):
        s.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": ns}})

    # (a) the schedule of STEPS pauses of 1 s
    ns = "bench-sched"
    steps = [{"pause": {"duration": "1s"}} for _ in range(STEPS)]
    s.ok("POST", RO.format(ns=ns), rollout(ns, "sched", "app:1", steps))

    def healthy_new(old=None):
        st = s.ok("GET", RO.format(ns=ns) + "/sched").get("status", {})
        ok = (st.get("phase") == "Healthy" and st.get("stableRS") == st.get("currentPodHash")
              and st.get("stableRS") and st.get("stableRS") != old)
        return st.get("stableRS") if ok else None

    old = wait(healthy_new, "first template stable")
    seen = {}  # step index -> first time seen (monotonic)
    done = threading.Event()

    def watcher():
        c = s.conn(timeout=STEPS * 3 + 60)
        path = RO.format(ns=ns) + "?watch=1&fieldSelector=metadata.name%3Dsched"
        c.request("GET", path, headers={"Authorization": f"Bearer {s.token}"})
        r = c.getresponse()
        while not done.is_set():
            line = r.readline()
            if not line:
                break
            t = time.monotonic()
            st = json.loads(line)["object"].get("status", {})
            idx = st.get("currentStepIndex")
            if st.get("currentPodHash") != old and idx is not None and idx not in seen:
                seen[idx] = t
            if idx == STEPS and st.get("stableRS") != old and st.get("phase") == "Healthy":
                seen.setdefault("healthy", t)
                break
        done.set()
        c.close()

    w = threading.Thread(target=watcher, daemon=True)
    w.start()
    time.sleep(0.5)  # the watch is open
    loop = {}

    def sleep_loop():
        t = time.monotonic()
        for _ in range(STEPS):
            time.sleep(1)
        loop["t"] = time.monotonic() - t

    bl = threading.Thread(target=sleep_loop, daemon=True)
    t_set = time.monotonic()
    bl.start()
    s.ok("PATCH", RO.format(ns=ns) + "/sched",
         {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "app:2"}]}}}},
         ctype="application/merge-patch+json")
    w.join(STEPS * 3 + 60)
    bl.join()
    if not done.is_set() or STEPS not in seen:
        sys.exit(f"(a) the rollout did not reach step {STEPS}: saw {sorted(k for k in seen if k != 'healthy')[-3:]}")
    missing = [k for k in range(STEPS + 1) if k not in seen]
    idx = [k for k in range(STEPS + 1) if k in seen]
    errs = [(seen[b] - seen[a]) / (b - a) - 1.0 for a, b in zip(idx, idx[1:])]
    drift = [seen[k] - seen[0] - k for k in idx]
    total = seen[STEPS] - seen[0]
    over = sum(1 for e in errs if abs(e) > 0.1)
    errs_ms = sorted(abs(e) * 1000 for e in errs)
    rss_a, hwm_a = s.rss()
    results.append(
        f"(a) {STEPS} pause steps of 1 s: step 0 {(seen[0]-t_set)*1000:.0f} ms after the patch; "
        f"steps 0->{STEPS} in {total:.3f} s, baseline sleep loop {loop['t']:.3f} s, "
        f"ratio {total/loop['t']:.4f}; per-step error mean {sum(errs)/len(errs)*1000:+.1f} ms, "
        f"|error| p50 {errs_ms[len(errs_ms)//2]:.0f} ms, max {errs_ms[-1]:.0f} ms, "
        f"{over} of {len(errs)} steps beyond 100 ms; drift at step {STEPS} {drift[-1]*1000:+.0f} ms "
        f"(min {min(drift)*1000:+.0f}, max {max(drift)*1000:+.0f}); "
        f"Healthy {(seen.get('healthy', seen[STEPS])-seen[STEPS])*1000:.0f} ms after step {STEPS}"
        + (f"; indexes never seen: {missing}" if missing else "")
        + f"; RSS {rss_a:.1f} MiB, peak {hwm_a:.1f} MiB")
    print(results[-1], flush=True)
    # the first seconds' phase: step k reached at T[0] + k s + the phase of T[0] in its second
    print("    steps beyond 100 ms (index: error ms):",
          " ".join(f"{b}:{e*1000:+.0f}" for (a, b), e in zip(zip(idx, idx[1:]), errs) if abs(e) > 0.1)
          or "none", flush=True)
    print("    drift per 10 steps (ms):",
          " ".join(f"{drift[k]*1000:+.0f}" for k in range(0, len(drift), 10)), flush=True)

    # (b) MANY rollouts vs MANY deployments, created at once
    def create_all(kind):
        def one(i):
            c = local.__dict__.setdefault("c", s.conn())
            if kind == "deploy":
                path, body = DEP.format(ns="bench-deploy"), deployment("bench-deploy", f"d{i}", "app:1")
            else:
                path, body = RO.format(ns="bench-many"), rollout(
                    "bench-many", f"r{i}", "app:1",
                    [{"setWeight": 50}, {"pause": {"duration": "1s"}}])
            s.ok("POST", path, body, conn=c)
        local = threading.local()
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            list(ex.map(one, range(MANY)))

    def count_ready(kind):
        c = s.conn()
        if kind == "deploy":
            items = s.ok("GET", DEP.format(ns="bench-deploy"), conn=c)["items"]
            n = sum(1 for d in items if d.get("status", {}).get("availableReplicas") == 1
                    and any(x.get("type") == "Available" and x.get("status") == "True"
                            for x in d.get("status", {}).get("conditions", [])))
        else:
            items = s.ok("GET", RO.format(ns="bench-many"), conn=c)["items"]
            n = sum(1 for r in items if r.get("status", {}).get("phase") == "Healthy"
                    and r["status"].get("stableRS") == r["status"].get("currentPodHash"))
        c.close()
        return n

    part = {}
    for kind in ("deploy", "rollout"):
        c0, t0 = cpu(s.p.pid), time.monotonic()
        create_all(kind)
        t_created = time.monotonic() - t0
        wait(lambda: count_ready(kind) == MANY, f"{MANY} {kind}s ready", every=0.5)
        wall = time.monotonic() - t0
        part[kind] = (wall, cpu(s.p.pid) - c0, t_created, *s.rss())
        print(f"    {kind}: created in {t_created:.1f} s, all ready in {wall:.1f} s, "
              f"server CPU {part[kind][1]:.1f} s, RSS {part[kind][3]:.1f} MiB", flush=True)
    (dw, dc, dcr, drss, dhwm), (rw, rc, rcr, rrss, rhwm) = part["deploy"], part["rollout"]
    results.append(
        f"(b) {MANY} Rollouts created at once: all Healthy in {rw:.1f} s (created in {rcr:.1f} s), "
        f"server CPU {rc:.1f} s; baseline {MANY} Deployments: all Available in {dw:.1f} s "
        f"(created in {dcr:.1f} s), CPU {dc:.1f} s; ratio wall {rw/dw:.2f}x, CPU {rc/max(dc, 0.01):.2f}x")
    results.append(f"(c) RSS after (a) {rss_a:.1f} MiB, after the Deployments {drss:.1f} MiB, "
                   f"after the Rollouts {rrss:.1f} MiB; peak (VmHWM) {rhwm:.1f} MiB")
finally:
    s.stop()
print("\n".join(results))
shutil.rmtree(tmp, ignore_errors=True)
