#!/usr/bin/env python3
"""Where a cockpit's bytes go, frame by frame (issue 11).

Reads a log written by util-linux `script --log-out OUT --log-timing TIM`
(as `benches/cockpit_prometheus.py --timeline DIR` keeps them) and prints
each write with its time and size, the bytes per second over a window, and,
for the frames asked for, what they send: each absolute move as `<row,col>`
on a new line, ESC as `⎋`.

Usage (python3, standard library only):

    python3 benches/cockpit_prometheus.py --rounds 1 --only htop --timeline /tmp/tl
    python3 benches/frame_log.py /tmp/tl/rampdeck-1 [--from 5] [--to 35] [--show 12,15]

A write is what the program gave the terminal at once; the cockpit writes a
frame in one, so a write is a frame (the first screen can span several).
"""

import argparse
import re
import sys


def frames(stem):
    with open(stem + ".tim") as f:
        timing = [line.split() for line in f if line.strip()]
    with open(stem + ".out", "rb") as f:
        data = f.read()
    # `script` starts its log with one header line.
    off = data.index(b"\n") + 1
    t = 0.0
    out = []
    for delay, size in timing:
        t += float(delay)
        n = int(size)
        out.append((t, data[off:off + n]))
        off += n
    return out


def readable(b):
    s = b.decode("utf-8", "replace")
    s = re.sub(r"\x1b\[(\d+);(\d+)H", lambda m: f"\n<{m.group(1)},{m.group(2)}>", s)
    return s.replace("\x1b", "⎋")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stem", help="path without .out/.tim")
    ap.add_argument("--from", dest="start", type=float, default=5.0)
    ap.add_argument("--to", dest="end", type=float, default=None,
                    help="end of the window (default: the last write, the quit, left out)")
    ap.add_argument("--show", default="", help="frame numbers to print, comma-separated")
    a = ap.parse_args()
    fs = frames(a.stem)
    if not fs:
        sys.exit("no writes in the log")
    end = a.end if a.end is not None else fs[-1][0]
    print("frame  time s  bytes")
    for i, (t, b) in enumerate(fs):
        print(f"{i:5}  {t:6.2f}  {len(b):5}")
    window = [len(b) for t, b in fs if a.start <= t < end]
    span = max(end - a.start, 1e-9)
    small = sorted(n for n in window if n < 100)
    large = sorted(n for n in window if n >= 100)
    print(f"\n{a.start:g}–{end:g} s: {sum(window) / span:.0f} B/s in {len(window)} writes")
    if small:
        print(f"  under 100 B: {len(small)}, median {small[len(small) // 2]} B")
    if large:
        print(f"  100 B or more: {len(large)}, median {large[len(large) // 2]} B, max {large[-1]} B")
    for i in [int(x) for x in a.show.split(",") if x.strip()]:
        t, b = fs[i]
        print(f"\n=== frame {i} at {t:.2f} s, {len(b)} B")
        print(readable(b))


if __name__ == "__main__":
    main()
