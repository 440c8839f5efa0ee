#!/usr/bin/env python3
"""Benchmarks `sluice run` (issue: pipeline engine). In one run:
(a) a 100-task linear chain and (b) a 200-task wide DAG, each task one step running `true`,
against the same 100/200 commands as one plain sh script (each `true` as a separate
process, as `/bin/true`); prints the wall times, the overhead per task, and (c) the peak RSS of
`sluice run` on (b). Usage: bench/run.py [path/to/sluice] (default target/release/sluice)."""
import os, resource, subprocess, sys, tempfile, time

sluice = sys.argv[1] if len(sys.argv) > 1 else "target/release/sluice"
tmp = tempfile.mkdtemp(prefix="sluice-bench-")

def pipeline(n, chain):
    out = ["apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: bench}\nspec:\n  pipelineSpec:\n    tasks:"]
    for i in range(n):
        after = f"\n        runAfter: [t{i-1}]" if chain and i > 0 else ""
        out.append(f"      - name: t{i}{after}\n        taskSpec:\n          steps: [{{name: s, image: alpine, command: [/bin/true]}}]")
    return "\n".join(out) + "\n"

counter = [0]
def run_sluice(path, n):
    counter[0] += 1
    env = dict(os.environ, SLUICE_DATA_DIR=os.path.join(tmp, f"data{counter[0]}"))
    t = time.perf_counter()
    p = subprocess.run([sluice, "run", "-q", "--parallelism", str(n), "-f", path],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(p.stderr.decode()[-2000:])
    return wall

def run_sh(n):
    script = os.path.join(tmp, f"plain{n}.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nset -e\n" + "/bin/true\n" * n)
    t = time.perf_counter()
    subprocess.run(["sh", script], check=True)
    return time.perf_counter() - t

rows = []
for name, n, chain in [("(a) 100-task linear chain", 100, True), ("(b) 200-task wide DAG", 200, False)]:
    path = os.path.join(tmp, f"{n}.yaml")
    with open(path, "w") as f:
        f.write(pipeline(n, chain))
    base = min(run_sh(n) for _ in range(3))
    walls = [run_sluice(path, n if not chain else 1) for _ in range(3)]
    wall = min(walls)
    rows.append((name, n, wall, base, (wall - base) / n * 1000))
before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
run_sluice(os.path.join(tmp, "200.yaml"), 200)
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
for name, n, wall, base, per in rows:
    print(f"{name}: sluice {wall*1000:.0f} ms, plain sh {base*1000:.0f} ms, overhead {per:.2f} ms/task (goal <= 2 ms)")
print(f"(c) peak RSS of sluice run on (b): {rss_kb/1024:.1f} MB (goal <= 30 MB){' (max over runs)' if before else ''}")
