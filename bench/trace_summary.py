#!/usr/bin/env python3
"""Sums a LibTorch autograd-profiler trace (bench_train_step --trace FILE) by op name.

Prints, per op, calls, total (inclusive) and self milliseconds (inclusive minus the ops nested
directly inside it on the same thread), sorted by self time, and the share of the traced span.

    /usr/bin/python3 bench/trace_summary.py trace.json [--top 30]
"""
import argparse
import json
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    with open(a.trace) as fh:
        events = [e for e in json.load(fh) if e.get("ph") == "X"]
    by_thread = defaultdict(list)
    for e in events:
        by_thread[e["tid"]].append(e)
    total, self_t, calls = defaultdict(float), defaultdict(float), defaultdict(int)
    span = 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        if evs:
            span = max(span, max(e["ts"] + e["dur"] for e in evs) - min(e["ts"] for e in evs))
        stack = []  # (end, name)
        for e in evs:
            start, end = e["ts"], e["ts"] + e["dur"]
            while stack and stack[-1][0] <= start:
                stack.pop()
            if stack:
                self_t[stack[-1][1]] -= e["dur"]
            total[e["name"]] += e["dur"]
            self_t[e["name"]] += e["dur"]
            calls[e["name"]] += 1
            stack.append((end, e["name"]))
    rows = sorted(self_t.items(), key=lambda kv: -kv[1])[: a.top]
    print(f"traced span {span / 1e3:.1f} ms")
    print(f"{'op':48s} {'calls':>7s} {'total ms':>10s} {'self ms':>9s} {'self %':>7s}")
    for name, s in rows:
        print(f"{name[:48]:48s} {calls[name]:7d} {total[name] / 1e3:10.1f} {s / 1e3:9.1f} "
              f"{100 * s / span:7.1f}")


if __name__ == "__main__":
    main()
