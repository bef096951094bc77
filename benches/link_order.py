#!/usr/bin/env python3
"""Write src/link-order.txt: the functions a running cockpit calls, for the
linker to put side by side (issue 11; see src/build.rs for why).

Runs the release binary under valgrind's callgrind, which lists every
function that ran, in two sittings:

1. `rampdeck run` against a real Prometheus, driven by
   benches/cockpit_prometheus.py at 200x50 (the measured cockpit);
2. `rampdeck demo` in a pseudo-terminal (the first thing a new user runs).

The file lists the first sitting's functions, then the ones only the demo
ran, under their mangled names as `nm` prints them from the same binary.
Then it relinks, runs the cockpit once more outside valgrind under
`perf record -e page-faults`, and appends each function whose first call
still faulted a page outside the ordered block: code that valgrind's
emulated CPU never reaches (SHA-NI and AVX variants picked at run time)
or that runs on timing valgrind's slowness changes.
Names carry a hash that stays put across edits of the code but not across
new dependency versions or a new rustc: regenerate after either (a name the
linker no longer finds is skipped, so a stale list costs memory, never a
failed build).

Usage (valgrind, perf, prometheus and python3 on PATH; it runs
`cargo build --release` itself, twice):

    python3 benches/link_order.py [--secs 40]
    python3 benches/cockpit_prometheus.py --rounds 3   # measure
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PTYBENCH = "/work/shared/tools/ptybench.py"

HEADER = """\
# The functions a running cockpit calls, in the order the linker lays them
# out at the start of .text (src/build.rs passes this file to rust-lld with
# --symbol-ordering-file). Written by benches/link_order.py from callgrind
# runs of `rampdeck run` against a real Prometheus ({run} functions), then
# of `rampdeck demo` ({demo} more), then the functions that still faulted a
# page outside that block in a run under perf ({extra}). Regenerate after a
# dependency or rustc upgrade; a name the linker does not find is skipped.
"""


def hot_functions(path, binary):
    """Functions of `binary` that ran, in callgrind's order, from one
    callgrind output file (names compressed as `fn=(id) name`)."""
    objects, names, current, seen, hot = {}, {}, None, set(), []
    line_re = re.compile(r"^(ob|fn|cob|cfn)=\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            m = line_re.match(line.rstrip("\n"))
            if not m:
                continue
            kind, ident, name = m.groups()
            if kind in ("ob", "cob"):
                if name:
                    objects[ident] = name
                if kind == "ob":
                    current = objects.get(ident)
                continue
            if name:
                names[ident] = name
            if kind == "fn" and current and os.path.realpath(current) == binary:
                # callgrind marks recursion levels as name'2
                fn = re.sub(r"'\d+$", "", names[ident])
                if fn not in seen:
                    seen.add(fn)
                    hot.append(fn)
    return hot


def text_symbols(binary):
    out = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    return {p[2] for p in (l.split() for l in out.splitlines())
            if len(p) == 3 and p[1] in "tTwW"}


def cargo_build():
    subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)


def faulting_functions(outdir, binary, secs):
    """Functions of `binary` whose code took a page fault in a cockpit run
    under perf (no valgrind: the real CPU, the real timing)."""
    wrapper = os.path.join(outdir, "rampdeck-under-perf")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec perf record -q -e page-faults -c 1 "
                f"-o {outdir}/pf.$$.data {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    subprocess.run([sys.executable, os.path.join(HERE, "cockpit_prometheus.py"),
                    "--rounds", "1", "--secs", str(secs), "--warmup", "5",
                    "--only", "rampdeck", "--binary", wrapper],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = []
    for data in glob.glob(os.path.join(outdir, "pf.*.data")):
        out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso", "--no-demangle"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and os.path.basename(binary) in parts[-1]:
                found.append(parts[1])
    return found


def write_order(path, run, demo, extra, symbols):
    ordered, seen = [], set()
    counts = []
    for group in (run, demo, extra):
        before = len(ordered)
        for fn in group:
            if fn in symbols and fn not in seen:
                seen.add(fn)
                ordered.append(fn)
        counts.append(len(ordered) - before)
    with open(path, "w") as f:
        f.write(HEADER.format(run=counts[0], demo=counts[1], extra=counts[2]))
        f.write("\n".join(ordered) + "\n")
    return counts


def profile(cmd, outdir, env=None):
    """Run `cmd` (which runs the wrapper) and return the functions that ran."""
    for old in glob.glob(os.path.join(outdir, "cg.*.out")):
        os.remove(old)
    subprocess.run(cmd, check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    files = glob.glob(os.path.join(outdir, "cg.*.out"))
    if not files:
        sys.exit(f"callgrind wrote nothing for {cmd}")
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/rampdeck"))
    ap.add_argument("--secs", type=float, default=40)
    ap.add_argument("--out", default=os.path.join(ROOT, "src/link-order.txt"))
    a = ap.parse_args()
    binary = os.path.realpath(a.binary)
    for tool in ("valgrind", "perf"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not on PATH")
    cargo_build()
    symbols = text_symbols(binary)
    tmp = tempfile.mkdtemp(prefix="rampdeck-link-order-")
    try:
        wrapper = os.path.join(tmp, "rampdeck-under-callgrind")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --tool=callgrind --demangle=no "
                    f"--callgrind-out-file={tmp}/cg.%p.out {binary} \"$@\"\n")
        os.chmod(wrapper, 0o755)

        run = []
        for path in profile([sys.executable, os.path.join(HERE, "cockpit_prometheus.py"),
                             "--rounds", "1", "--secs", str(a.secs), "--warmup", "5",
                             "--only", "rampdeck", "--binary", wrapper], tmp):
            run += hot_functions(path, binary)

        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = dict(os.environ, HOME=home, XDG_DATA_HOME=os.path.join(home, "data"),
                   XDG_RUNTIME_DIR=home)
        demo = []
        for path in profile([sys.executable, PTYBENCH, "--secs", str(a.secs), "--warmup", "5",
                             "--", wrapper, "demo", "--speed", "8"], tmp, env):
            demo += hot_functions(path, binary)
        write_order(a.out, run, demo, [], symbols)
        cargo_build()
        extra = faulting_functions(tmp, binary, a.secs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # Relinking with the list keeps every name (their hashes do not depend
    # on where the linker puts them).
    counts = write_order(a.out, run, demo, extra, text_symbols(binary))
    cargo_build()
    print(f"{a.out}: {counts[0]} functions from `run`, {counts[1]} more from `demo`, "
          f"{counts[2]} that faulted outside them")


if __name__ == "__main__":
    main()
