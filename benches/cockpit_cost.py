#!/usr/bin/env python3
"""What the cockpit costs the terminal it runs in (issue 4, "Performance").

Runs `target/release/rampdeck demo` in a pseudo-terminal (200x50 by default)
for a measuring window after a start-up warm-up, then `htop -d 10` and
`btop` the same way in the same sitting, and prints one table:

- bytes written to the terminal per second over the window (what an SSH
  link carries);
- CPU of the process (utime + stime from /proc/PID/stat) over the window, in
  % of one core;
- time to first output byte and to the first complete frame (rampdeck wraps
  every frame in a synchronized update, so the first `ESC[?2026l` ends it;
  for programs that do not, the end of the first burst of output, i.e. the
  first 30 ms of silence after the first byte);
- peak resident memory (VmHWM from /proc/PID/status, read just before the
  program is stopped);
- for programs using synchronized updates, frames drawn per second.

Python 3 standard library only. Usage:

    cargo build --release
    python3 benches/cockpit_cost.py [--secs 30] [--warmup 5] [--size 200x50]
        [--only rampdeck,htop,btop] [--scenario healthy] [--dump DIR]

`--dump DIR` keeps each program's raw output bytes for inspection.
The rampdeck journal goes to a temporary XDG_DATA_HOME, removed afterwards.
"""

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import sys
import tempfile
import termios
import time

SYNC_END = b"\x1b[?2026l"
QUIET_GAP_S = 0.030


def proc_cpu_s(pid):
    """utime + stime of `pid` in seconds, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14, stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def spawn(argv, cols, rows, env):
    """Fork `argv` on a new pty whose size is set before exec, so the first
    frame is already drawn at the right size."""
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    return pid, fd, t0


def measure(name, argv, cols, rows, warmup, secs, env, quit_keys, dump_dir):
    pid, fd, t0 = spawn(argv, cols, rows, env)
    first_out = None
    first_frame = None
    last_byte = None
    tail = b""
    total = 0
    frames = 0
    uses_sync = False
    win_start = t0 + warmup
    win_end = win_start + secs
    win_bytes0 = None
    win_frames0 = None
    cpu0 = None
    alive = True
    dump = open(os.path.join(dump_dir, f"{name}-{cols}x{rows}.bin"), "wb") if dump_dir else None
    while True:
        now = time.monotonic()
        if cpu0 is None and now >= win_start:
            cpu0, win_bytes0, win_frames0, win_t0 = proc_cpu_s(pid), total, frames, now
        if now >= win_end:
            break
        timeout = min(0.25, max(0.0, win_end - now))
        if first_frame is None and first_out is not None:
            timeout = min(timeout, QUIET_GAP_S)
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            # No sync markers: the first burst ends at the first quiet gap.
            if first_frame is None and first_out is not None and not uses_sync:
                if time.monotonic() - last_byte >= QUIET_GAP_S:
                    first_frame = last_byte - t0
            continue
        try:
            b = os.read(fd, 65536)
        except OSError:
            alive = False
            break
        if not b:
            alive = False
            break
        t = time.monotonic()
        if first_out is None:
            first_out = t - t0
        last_byte = t
        if dump:
            dump.write(b)
        total += len(b)
        joined = tail + b
        n = joined.count(SYNC_END)
        if n:
            uses_sync = True
            frames += n
            if first_frame is None:
                first_frame = t - t0
        tail = joined[-(len(SYNC_END) - 1):]
    end = time.monotonic()
    cpu1 = proc_cpu_s(pid)
    rss = proc_peak_rss_kb(pid)
    if dump:
        dump.close()
    # Stop it: the quit keys, then SIGTERM, then SIGKILL.
    try:
        if alive:
            os.write(fd, quit_keys.encode())
    except OSError:
        pass
    deadline = time.monotonic() + 2
    status = None
    while time.monotonic() < deadline:
        try:
            select.select([fd], [], [], 0.05)
            os.read(fd, 65536)
        except OSError:
            pass
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid:
            break
        status = None
    if status is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.3)
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
    os.close(fd)
    measured = end - win_t0 if cpu0 is not None else 0
    return dict(
        program=name,
        cmd=" ".join(argv),
        size=f"{cols}x{rows}",
        alive=alive,
        window_s=round(measured, 1),
        bytes_per_s=round((total - win_bytes0) / measured) if measured else None,
        cpu_pct=round(100 * (cpu1 - cpu0) / measured, 2) if (measured and cpu1 is not None) else None,
        first_output_ms=round(first_out * 1000, 1) if first_out is not None else None,
        first_frame_ms=round(first_frame * 1000, 1) if first_frame is not None else None,
        frames_per_s=round((frames - win_frames0) / measured, 2) if (measured and uses_sync) else None,
        peak_rss_mb=round(rss / 1024, 1) if rss else None,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secs", type=float, default=30, help="measuring window (s)")
    ap.add_argument("--warmup", type=float, default=5, help="start-up left out (s)")
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--only", default="rampdeck,htop,btop")
    ap.add_argument("--scenario", default="healthy")
    ap.add_argument("--speed", default="1")
    ap.add_argument("--binary", default=None, help="default: target/release/rampdeck")
    ap.add_argument("--dump", default=None, help="directory for raw output bytes")
    ap.add_argument("--json", action="store_true", help="one JSON object per program")
    a = ap.parse_args()
    cols, rows = (int(x) for x in a.size.lower().split("x"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    binary = a.binary or os.path.join(target, "release", "rampdeck")
    if a.dump:
        os.makedirs(a.dump, exist_ok=True)

    data_home = tempfile.mkdtemp(prefix="rampdeck-cost-")
    base_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX")}
    base_env["TERM"] = "xterm-256color"
    programs = {
        "rampdeck": (
            [binary, "demo", "--scenario", a.scenario, "--speed", a.speed],
            dict(base_env, XDG_DATA_HOME=data_home),
            # q, then confirm the quit dialog if the rollout is in progress.
            "qy",
        ),
        "htop": (["htop", "-d", "10"], base_env, "q"),
        "btop": (["btop"], dict(base_env, HOME=data_home), "q"),
    }
    results = []
    try:
        for name in a.only.split(","):
            argv, env, keys = programs[name]
            if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
                print(f"{name}: {argv[0]} not found; skipped", file=sys.stderr)
                continue
            results.append(measure(name, argv, cols, rows, a.warmup, a.secs, env, keys, a.dump))
    finally:
        shutil.rmtree(data_home, ignore_errors=True)

    if a.json:
        for r in results:
            print(json.dumps(r))
        return
    load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {cols}x{rows}  warm-up {a.warmup:g} s, "
          f"window {a.secs:g} s, load average {load[0]:.2f}")
    cols_ = ["program", "bytes_per_s", "cpu_pct", "first_output_ms", "first_frame_ms",
             "frames_per_s", "peak_rss_mb", "alive"]
    print(" | ".join(cols_))
    for r in results:
        print(" | ".join("—" if r[c] is None else str(r[c]) for c in cols_))


if __name__ == "__main__":
    main()
