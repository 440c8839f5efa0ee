#!/usr/bin/env python3
"""Benchmarks `sluice serve` (issue 9, item 9), release build, each measure against a
baseline run in the same invocation:

(a) idle RSS of a fresh `sluice serve` (goal <= 40 MB);
(b) webhook -> PipelineRun stored: `wrk` POSTs the GitLab push of tests/fixtures/triggers
    to an EventListener shaped like the seed's (gitlab interceptor with the Secret, CEL
    filter and overlay, binding, template creating a PipelineRun) at a fixed rate for a
    fixed time; baseline: the same wrk against GET /healthz of the same server and port.
    p50/p99 and errors (goal p99 <= 20 ms, zero errors). The template's PipelineRuns are
    `spec.status: PipelineRunPending`, so the measure is the trigger and the store, not
    thousands of runs executing at once;
(c) with 10,000 finished PipelineRuns stored (written through the API by `sluice apiserver`
    on the data dir, each a copy of a real finished run of (d); then `sluice serve` started
    on it): server RSS (goal <= 150 MB) and `sluice pipelinerun list` wall time (goal < 1 s)
    against `kubectl get pipelineruns` and `sluice get pipelineruns`;
(d) 200 PipelineRuns of 5 one-step tasks (a chain, each step /bin/true) created at once:
    all finish; overhead per task, (wall - plain sh running the same number of /bin/true) /
    tasks, against the same for `sluice run` of the same pipeline (goal: within 2x; its
    baseline measured before any server runs and after (d), the faster taken).

Usage: bench/serve.py [path/to/sluice]   (default $CARGO_TARGET_DIR or target, /release/sluice)
Env: RATE (200), DURATION (30 s), CONNS (10), STORED (10000), RUNS (200).
Needs: wrk (Debian package `wrk`), kubectl, python3."""
import atexit, concurrent.futures, http.client, json, os, re, shutil, signal, ssl, statistics
import subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SLUICE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(target, "release/sluice"))
RATE = int(os.environ.get("RATE", "200"))
DURATION = int(os.environ.get("DURATION", "30"))
CONNS = int(os.environ.get("CONNS", "10"))
STORED = int(os.environ.get("STORED", "10000"))
RUNS = int(os.environ.get("RUNS", "200"))
FIX = os.path.join(ROOT, "tests/fixtures/triggers")
TOKEN = "fixture-token-7f3a"
tmp = tempfile.mkdtemp(prefix="sluice-bench-serve-")
for tool in ("wrk", "kubectl"):
    if not shutil.which(tool):
        sys.exit(f"{tool} is not installed (Debian: apt-get install wrk; kubectl: see scripts/deps)")
if not os.access(SLUICE, os.X_OK):
    sys.exit(f"{SLUICE}: build it first: cargo build --release -p sluice")


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return 0.0


class Server:
    """`sluice <cmd> --listen 127.0.0.1:0 --data DIR [extra]`, ready when /readyz answers."""

    def __init__(self, cmd, data, extra=()):
        self.data = data
        os.makedirs(data, exist_ok=True)
        if os.path.exists(os.path.join(data, "kubeconfig")):
            os.remove(os.path.join(data, "kubeconfig"))  # a previous server's port
        self.log = open(os.path.join(tmp, f"{cmd}-{os.path.basename(data)}.log"), "ab")
        self.p = subprocess.Popen([SLUICE, cmd, "--listen", "127.0.0.1:0", "--data", data, *extra],
                                  stdout=self.log, stderr=self.log)
        atexit.register(lambda p=self.p: p.poll() is None and p.kill())  # also when a step fails
        self.kubeconfig = os.path.join(data, "kubeconfig")
        t0 = time.time()
        self.url = None
        while self.url is None:
            if self.p.poll() is not None:
                sys.exit(f"sluice {cmd} exited; log: {self.log.name}")
            try:
                text = open(self.kubeconfig).read()
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
        self.started = time.time() - t0

    def conn(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # loopback benchmark; kubectl verifies with the CA
        return http.client.HTTPSConnection(self.host, int(self.port), context=ctx, timeout=60)

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

    def kubectl(self, *args, stdin=None):
        p = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], input=stdin,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"kubectl {' '.join(args)}: {p.stderr}")
        return p.stdout

    def rss(self):
        return status(self.p.pid, "VmRSS"), status(self.p.pid, "VmHWM")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def in_parallel(server, items, fn, threads=4):
    """fn(conn, item) over items on `threads` keep-alive connections."""
    local = threading.local()

    def run(item):
        if not hasattr(local, "c"):
            local.c = server.conn()
        return fn(local.c, item)

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(run, items))


def sh_baseline(n):
    script = os.path.join(tmp, f"plain{n}.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nset -e\n" + "/bin/true\n" * n)
    t = time.perf_counter()
    subprocess.run(["sh", script], check=True)
    return time.perf_counter() - t


PR_PATH = "/apis/tekton.dev/v1/namespaces/{ns}/pipelineruns"
results = []
print(f"sluice: {SLUICE}; temp: {tmp}", flush=True)

# (d)'s pipeline, and its baseline: `sluice run` of it, one PipelineRun per process,
# sequentially; measured before any server ran and again after (d), the faster of the two
# medians taken (a server's leftover work, e.g. its files' writeback, slows the runs after it
# and would flatter the ratio)
five = {"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": "five"},
        "spec": {"tasks": [dict({"name": f"t{i}", "taskSpec": {"steps": [
            {"name": "s", "image": "alpine", "command": ["/bin/true"]}]}},
            **({"runAfter": [f"t{i-1}"]} if i else {})) for i in range(5)]}}
run_file = os.path.join(tmp, "five-run.yaml")
json.dump({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "five-run"},
           "spec": {"pipelineSpec": five["spec"]}}, open(run_file, "w"))


def run_baseline(tag):
    """Median wall of 20 `sluice run` processes of the 5-task pipeline."""
    walls = []
    for i in range(20):
        env = dict(os.environ, SLUICE_DATA_DIR=os.path.join(tmp, f"run-{tag}-{i}"))
        t = time.perf_counter()
        p = subprocess.run([SLUICE, "run", "-q", "-f", run_file], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(p.stderr.decode()[-2000:])
    return statistics.median(walls)


run_before = run_baseline("before")

# ---------------------------------------------------------------- (a) and (b)
s = Server("serve", os.path.join(tmp, "ab"))
time.sleep(3)
idle_rss, idle_hwm = s.rss()
results.append(f"(a) idle RSS of sluice serve 3 s after ready: {idle_rss:.1f} MB "
               f"(peak {idle_hwm:.1f} MB; ready after {s.started*1000:.0f} ms) (goal <= 40 MB)")
print(results[-1], flush=True)

trigger = open(os.path.join(FIX, "trigger.yaml")).read()
# the template's runs wait (PipelineRunPending): the webhook and the store are measured
trigger = trigger.replace("    spec:\n      pipelineRef:", "    spec:\n      status: PipelineRunPending\n      pipelineRef:")
assert "PipelineRunPending" in trigger
s.kubectl("create", "namespace", "ci")
s.kubectl("apply", "-f", os.path.join(FIX, "pipeline.yaml"), "-f", "-", stdin=trigger)
listener = "/listeners/ci/gitlab-listener"
t0 = time.time()
while "address" not in json.dumps(s.ok("GET", "/apis/triggers.tekton.dev/v1beta1/namespaces/ci/eventlisteners/gitlab-listener").get("status", {})):
    if time.time() - t0 > 30:
        sys.exit("the EventListener has no status.address after 30 s")
    time.sleep(0.1)
body = open(os.path.join(FIX, "push-main.json")).read()
code, answer = s.request("POST", listener, json.loads(body))  # one delivery first: it works
assert code == 202, (code, answer)


def wrk(path, post):
    delay = max(0, CONNS * 1000 // RATE - 1)  # per connection; wrk (not wrk2) has no -R
    lua = [f"function delay() return {delay} end"]
    if post:
        lua += ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]",
                'wrk.headers["Content-Type"] = "application/json"',
                'wrk.headers["X-Gitlab-Event"] = "Push Hook"',
                f'wrk.headers["X-Gitlab-Token"] = "{TOKEN}"']
    lua.append("""done = function(s, lat, req)
  io.write(string.format("RESULT %d %d %d %d %d %d %d %.0f %.0f %.0f\\n", s.requests, s.duration,
    s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout,
    lat:percentile(50), lat:percentile(99), lat.max))
end""")
    script = os.path.join(tmp, "post.lua" if post else "get.lua")
    open(script, "w").write("\n".join(lua) + "\n")
    p = subprocess.run(["wrk", "-t", "2", "-c", str(CONNS), "-d", f"{DURATION}s", "--timeout", "10s",
                        "-s", script, f"{s.url}{path}"], capture_output=True, text=True)
    line = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), None)
    if p.returncode != 0 or line is None:
        sys.exit(f"wrk failed: {p.stdout}\n{p.stderr}")
    n, dur, *rest = (float(x) for x in line.split()[1:])
    errors = sum(rest[:5])
    p50, p99, mx = (x / 1000 for x in rest[5:])
    return {"n": int(n), "rate": n / (dur / 1e6), "errors": int(errors), "p50": p50, "p99": p99, "max": mx}


base = wrk("/healthz", False)
hook = wrk(listener, True)
after_rss, after_hwm = s.rss()
stored = len(s.ok("GET", PR_PATH.format(ns="ci"))["items"])
for name, r in (("GET /healthz (baseline)", base), ("webhook POST -> PipelineRun", hook)):
    results.append(f"(b) {name}: {r['n']} requests in {DURATION} s ({r['rate']:.0f}/s), "
                   f"p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, max {r['max']:.1f} ms, errors {r['errors']}")
    print(results[-1], flush=True)
results.append(f"(b) p99 ratio webhook/baseline: {hook['p99']/max(base['p99'], 1e-3):.1f}x (goal p99 <= 20 ms); "
               f"PipelineRuns stored: {stored} of {hook['n'] + 1} deliveries; "
               f"server RSS after: {after_rss:.1f} MB (peak {after_hwm:.1f} MB)")
print(results[-1], flush=True)
s.stop()

# ---------------------------------------------------------------- (d)
s = Server("serve", os.path.join(tmp, "d"))
s.kubectl("create", "namespace", "wide")
s.ok("POST", "/apis/tekton.dev/v1/namespaces/wide/pipelines", five)
t0 = time.perf_counter()
in_parallel(s, range(RUNS), lambda c, i: s.ok("POST", PR_PATH.format(ns="wide"), {
    "apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": f"run-{i}"},
    "spec": {"pipelineRef": {"name": "five"}}}, conn=c))
created = time.perf_counter() - t0
done = {}
while len(done) < RUNS:
    for pr in s.ok("GET", PR_PATH.format(ns="wide"))["items"]:
        cond = (pr.get("status", {}).get("conditions") or [{}])[0]
        if cond.get("type") == "Succeeded" and cond.get("status") in ("True", "False"):
            done[pr["metadata"]["name"]] = cond
    if time.perf_counter() - t0 > 900:
        sys.exit(f"only {len(done)} of {RUNS} runs finished in 900 s")
    time.sleep(0.1)
wall = time.perf_counter() - t0
d_rss, d_hwm = s.rss()
failed = [n for n, c in done.items() if c["status"] != "True"]
sample = s.ok("GET", PR_PATH.format(ns="wide") + "/run-0")
s.stop()
tasks = RUNS * 5
sh_all = min(sh_baseline(tasks) for _ in range(3))
server_per_task = (wall - sh_all) / tasks * 1000

run_after = run_baseline("after")
run_wall = min(run_before, run_after)
sh5 = statistics.median(sh_baseline(5) for _ in range(5))
run_per_task = (run_wall - sh5) / 5 * 1000
results.append(f"(d) {RUNS} PipelineRuns x 5 tasks at once: {len(done)} finished ({len(failed)} failed), "
               f"wall {wall:.2f} s (creates {created:.2f} s), plain sh of {tasks} /bin/true {sh_all*1000:.0f} ms, "
               f"overhead {server_per_task:.2f} ms/task; server RSS {d_rss:.1f} MB (peak {d_hwm:.1f} MB)")
print(results[-1], flush=True)
results.append(f"(d) sluice run of the same pipeline (median of 20 processes, before the servers / after (d)): "
               f"{run_before*1000:.1f} / {run_after*1000:.1f} ms, the faster taken, "
               f"plain sh of 5 {sh5*1000:.1f} ms, overhead {run_per_task:.2f} ms/task; "
               f"ratio server/run {server_per_task/max(run_per_task, 1e-3):.2f}x (goal <= 2x)")
print(results[-1], flush=True)

# ---------------------------------------------------------------- (c)
data = os.path.join(tmp, "c")
a = Server("apiserver", data)
a.kubectl("create", "namespace", "hist")
a.ok("POST", "/apis/tekton.dev/v1/namespaces/hist/pipelines", five)
template = {k: sample[k] for k in ("apiVersion", "kind", "spec")}
st = sample["status"]


def store(c, i):
    name = f"run-{i:05d}"
    obj = dict(template, metadata={"name": name, "labels": {"tekton.dev/pipeline": "five"}})
    created = a.ok("POST", PR_PATH.format(ns="hist"), obj, conn=c)
    refs = [dict(r, name=r["name"].replace("run-0-", f"{name}-")) for r in st.get("childReferences", [])]
    created["status"] = dict(st, childReferences=refs)
    a.ok("PUT", PR_PATH.format(ns="hist") + f"/{name}/status", created, conn=c)


t0 = time.perf_counter()
in_parallel(a, range(STORED), store)
fill = time.perf_counter() - t0
a.stop()
s = Server("serve", data)
time.sleep(5)
c_rss, c_hwm = s.rss()


def timed(cmd, runs=3):
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        w = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: {p.stderr}")
        lines = len(p.stdout.splitlines())
        best = w if best is None else min(best, w)
    return best, lines


kc = ["--kubeconfig", s.kubeconfig, "-n", "hist"]
t_list, n_list = timed([SLUICE, "pipelinerun", "list", *kc])
t_get, n_get = timed([SLUICE, "get", "pipelineruns", *kc])
t_kubectl, n_kubectl = timed(["kubectl", "get", "pipelineruns", *kc])
c2_rss, c2_hwm = s.rss()
time.sleep(5)
c3_rss, _ = s.rss()
s.stop()
results.append(f"(c) {STORED} finished PipelineRuns stored (filled in {fill:.1f} s): sluice serve RSS 5 s after ready "
               f"{c_rss:.1f} MB (peak {c_hwm:.1f} MB; ready after {s.started:.2f} s), right after the lists {c2_rss:.1f} MB "
               f"(peak {c2_hwm:.1f} MB), 5 s after the lists {c3_rss:.1f} MB (goal <= 150 MB)")
print(results[-1], flush=True)
results.append(f"(c) sluice pipelinerun list: {t_list*1000:.0f} ms ({n_list} lines) (goal < 1 s); "
               f"sluice get pipelineruns: {t_get*1000:.0f} ms ({n_get} lines); kubectl get pipelineruns: "
               f"{t_kubectl*1000:.0f} ms ({n_kubectl} lines); ratio list/kubectl {t_list/t_kubectl:.2f}x")
print(results[-1], flush=True)
print("\n".join(["", "summary:"] + results))
shutil.rmtree(tmp, ignore_errors=True)
