#!/usr/bin/env python3
"""What the cockpit costs its terminal against a REAL Prometheus (issue 11).

Starts a tiny exporter (Python's http.server, in this process: its counters
grow with time at a rate that drifts slowly, so the charts move like a real
service's), a real `prometheus` scraping it every second on loopback, then,
in turn and `--rounds` times, `rampdeck run --config PLAN` and `htop -d 10`
in a pseudo-terminal through `/work/shared/tools/ptybench.py` (200x50 by
default): bytes written per second, CPU (% of a core, utime + stime of the
process and its children), peak RSS (VmHWM) and time to first output. The
plan polls four PromQL queries (error ratio, p95 from a histogram, request
rate, a saturation gauge) per cohort every second, like `rampdeck demo`, with
holds long enough that no step changes inside the measured window. Only the
measured program runs under ptybench: the exporter, Prometheus and this
script are not counted.

Usage (python3, standard library only; `prometheus` and `htop` on PATH):

    cargo build --release
    python3 benches/cockpit_prometheus.py [--rounds 3] [--secs 30] [--warmup 5]
        [--size 200x50] [--binary target/release/rampdeck] [--only rampdeck,htop]
        [--label NAME=PATH ...] [--dump DIR] [--timeline DIR]

`--timeline DIR` runs each rampdeck under util-linux `script --log-timing`
and keeps DIR/NAME-ROUND.out and .tim: every write with its time, for
`benches/frame_log.py` to split into frames (script's own CPU then counts
in the figures: use it to see where bytes go, not to measure).

`--label NAME=PATH` adds another rampdeck binary to compare (e.g. a build of
the previous commit), measured in the same rounds. Prints one JSON line per
measurement and a Markdown table of ranges at the end.
"""

import argparse
import shlex
import http.server
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

PTYBENCH = "/work/shared/tools/ptybench.py"
BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
START = time.time()


def cohort_profile(version):
    """rps, error ratio, latency scale and saturation of a cohort: a base
    that drifts with a period of a few minutes (canary a little worse)."""
    bad = 1.0 if version == "baseline" else 1.3
    return dict(rps=40.0 if version == "baseline" else 10.0, err=0.003 * bad,
                lat=0.09 * bad, sat=0.42 * bad)


def integral(base, t, amp=0.25, period=97.0):
    """Integral from 0 to t of base * (1 + amp * sin(2 pi s / period)) ds."""
    w = 2 * math.pi / period
    return base * (t + amp * (1 - math.cos(w * t)) / w)


def exposition():
    t = time.time() - START
    out = ["# TYPE http_requests_total counter"]
    hist = ["# TYPE http_request_duration_seconds histogram"]
    gauges = ["# TYPE process_saturation gauge"]
    for version in ("baseline", "canary"):
        p = cohort_profile(version)
        labels = f'service="checkout",version="{version}"'
        total = integral(p["rps"], t)
        errors = integral(p["rps"] * p["err"], t, amp=0.6, period=53.0)
        out.append(f'http_requests_total{{{labels},code="200"}} {total - errors:.3f}')
        out.append(f'http_requests_total{{{labels},code="500"}} {errors:.3f}')
        # Latency: the fraction at or under each bucket moves with a slow wave.
        shift = 1 + 0.3 * math.sin(2 * math.pi * t / 71.0)
        for le in BUCKETS:
            frac = 1 - math.exp(-le / (p["lat"] * shift))
            hist.append(f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {total * frac:.3f}')
        hist.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total:.3f}')
        hist.append(f"http_request_duration_seconds_sum{{{labels}}} {total * p['lat']:.3f}")
        hist.append(f"http_request_duration_seconds_count{{{labels}}} {total:.3f}")
        sat = p["sat"] * (1 + 0.1 * math.sin(2 * math.pi * t / 41.0))
        gauges.append(f"process_saturation{{{labels}}} {sat:.4f}")
    return ("\n".join(out + hist + gauges) + "\n").encode()


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PLAN = """
[rollout]
service = "checkout"
strategy = "canary"
owners = ["bench"]
journal_dir = "{journal}"

[rollout.ticket]
id = "BENCH-1"

[sources.prom]
kind = "prometheus"
url = "{prom}"
interval = "1s"
timeout = "800ms"

[[metrics]]
id = "error_rate"
name = "Error ratio"
source = "prom"
query = 'sum(rate(http_requests_total{{service="{{service}}",version="{{cohort}}",code=~"5.."}}[15s])) / sum(rate(http_requests_total{{service="{{service}}",version="{{cohort}}"}}[15s]))'
baseline = "cohort"
unit = "%"
display_scale = 100.0
bad = "up"
threshold = {{ limit = 0.05, delta = 0.02, slo = 0.01 }}
min_samples = 3

[[metrics]]
id = "p95_latency"
name = "p95 latency"
source = "prom"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{service="{{service}}",version="{{cohort}}"}}[15s])))'
baseline = "cohort"
unit = "ms"
display_scale = 1000.0
bad = "up"
threshold = {{ limit = 1.0, delta = 0.5, slo = 0.5 }}
min_samples = 3

[[metrics]]
id = "rps"
name = "Request rate"
source = "prom"
query = 'sum(rate(http_requests_total{{service="{{service}}",version="{{cohort}}"}}[15s]))'
baseline = "none"
unit = "req/s"
bad = "down"
threshold = {{}}

[[metrics]]
id = "saturation"
name = "Saturation"
source = "prom"
query = 'max(process_saturation{{service="{{service}}",version="{{cohort}}"}})'
baseline = "cohort"
unit = "%"
display_scale = 100.0
bad = "up"
threshold = {{ limit = 0.9 }}

[[triggers]]
name = "errors"
metric = "error_rate"
consecutive = 2

[[steps]]
name = "canary"
weight = 5
hold = "30m"
gate = "auto"

[[steps]]
name = "full"
weight = 100
hold = "30m"
gate = "auto"

[hooks.set_weight]
command = ["true"]
timeout = "5s"

[hooks.rollback]
command = ["true"]
timeout = "5s"

[ui]
retention = "6h"
"""


def start_prometheus(tmp, exporter_port):
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{exporter_port}']\n"
        )
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    proc = subprocess.Popen(
        [shutil.which("prometheus") or "prometheus", f"--config.file={cfg}",
         f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    q = urllib.parse.quote('sum(rate(http_requests_total{version="canary"}[15s]))')
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"prometheus exited; see {log.name}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/query?query={q}", timeout=1) as r:
                if json.load(r)["data"]["result"]:
                    return proc, url
        except Exception:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit("prometheus did not answer with data within 60 s")


def measure(argv, a, env_extra=None, dump=None):
    cols, rows = a.size.split("x")
    cmd = [sys.executable, PTYBENCH, "--cols", cols, "--rows", rows,
           "--secs", str(a.secs), "--warmup", str(a.warmup)]
    if dump:
        cmd += ["--dump", dump]
    for k, v in (env_extra or {}).items():
        cmd += ["--env", f"{k}={v}"]
    out = subprocess.run(cmd + ["--"] + argv, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--binary", default="target/release/rampdeck")
    ap.add_argument("--label", action="append", default=[],
                    help="NAME=PATH: another rampdeck binary to measure in the same rounds")
    ap.add_argument("--only", default="rampdeck,htop")
    ap.add_argument("--dump", default=None,
                    help="DIR: keep each program's raw output (NAME-ROUND.bin)")
    ap.add_argument("--timeline", default=None,
                    help="DIR: log each rampdeck's writes with their times (NAME-ROUND.out/.tim)")
    a = ap.parse_args()
    only = a.only.split(",")
    binaries = []
    if "rampdeck" in only:
        binaries.append(("rampdeck", os.path.abspath(a.binary)))
    for lab in a.label:
        name, path = lab.split("=", 1)
        binaries.append((name, os.path.abspath(path)))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="rampdeck-prom-bench-")
    prom, url = start_prometheus(tmp, server.server_address[1])
    results = {}
    try:
        for r in range(a.rounds):
            runs = [(name, path) for name, path in binaries]
            if "htop" in only:
                runs.append(("htop -d 10", None))
            for name, path in runs:
                if path is None:
                    argv = [shutil.which("htop") or "htop", "-d", "10"]
                    env = {}
                else:
                    journal = tempfile.mkdtemp(dir=tmp, prefix="journal-")
                    plan = os.path.join(journal, "plan.toml")
                    with open(plan, "w") as f:
                        f.write(PLAN.format(journal=journal, prom=url))
                    argv = [path, "run", "--config", plan]
                    env = {"XDG_DATA_HOME": journal, "XDG_RUNTIME_DIR": journal}
                    if a.timeline:
                        os.makedirs(a.timeline, exist_ok=True)
                        stem = os.path.join(a.timeline, f"{name}-{r + 1}")
                        argv = ["script", "-q", "-E", "never", "--log-out", stem + ".out",
                                "--log-timing", stem + ".tim", "-c", shlex.join(argv)]
                before = load()
                dump = None
                if a.dump:
                    os.makedirs(a.dump, exist_ok=True)
                    dump = os.path.join(a.dump, f"{name.split()[0]}-{r + 1}.bin")
                res = measure(argv, a, env, dump)
                res["name"] = name
                res["round"] = r + 1
                res["load_before"] = before
                res["load_after"] = load()
                print(json.dumps(res), flush=True)
                results.setdefault(name, []).append(res)
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.kill()
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    def rng(vals, fmt):
        lo, hi = min(vals), max(vals)
        return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"

    print()
    print(f"| {a.size}, {a.rounds} rounds of {a.secs:g} s | bytes/s | CPU (% of a core) "
          "| peak RSS | first output |")
    print("| --- | --- | --- | --- | --- |")
    for name, rs in results.items():
        print(f"| {name} | {rng([x['steady_bytes_per_s'] for x in rs], lambda v: f'{v:,.0f}')} "
              f"| {rng([x['steady_cpu_pct'] for x in rs], lambda v: f'{v:.2f} %')} "
              f"| {rng([x['peak_rss_kb'] / 1024 for x in rs], lambda v: f'{v:.1f} MB')} "
              f"| {rng([x['first_output_s'] * 1000 for x in rs], lambda v: f'{v:.0f} ms')} |")
    htop = results.get("htop -d 10")
    if htop:
        print()
        for name, rs in results.items():
            if name == "htop -d 10":
                continue
            # Same round, side by side: the ratio of each pair.
            pairs = list(zip(rs, htop))
            cpu = [x["steady_cpu_pct"] / h["steady_cpu_pct"] for x, h in pairs if h["steady_cpu_pct"]]
            byt = [x["steady_bytes_per_s"] / h["steady_bytes_per_s"] for x, h in pairs if h["steady_bytes_per_s"]]
            print(f"{name} / htop, per round: CPU {', '.join(f'{v:.2f}' for v in cpu)}; "
                  f"bytes {', '.join(f'{v:.2f}' for v in byt)}")


if __name__ == "__main__":
    main()
