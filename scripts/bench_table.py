#!/usr/bin/env python3
"""Pairs nabla's benchmarks with their LibTorch references in Google Benchmark JSON files.

Usage: bench_table.py RESULT.json...   (written with --benchmark_out=F --benchmark_out_format=json)

Naming convention (benchmarks/CMakeLists.txt): BM_Nabla<Name>/<args> is paired with
BM_Torch<Name>/<args>. With --benchmark_repetitions the median aggregate is used, otherwise the
single run (the median of the runs when there are several). Prints one row per pair: both real
times per iteration and LibTorch time / nabla time (above 1: nabla is faster). The thread and
allocator settings come from this process's environment, which `./scripts/nabla bench` sets to
the one the executables ran with.
"""

import json
import os
import statistics
import sys

SIDES = {"BM_Nabla": "nabla", "BM_Torch": "torch"}
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(paths):
    """{(side, key): ns per iteration}, keys in first-seen order."""
    runs = {}  # (side, key) -> [ns, ...] of plain iterations
    medians = {}  # (side, key) -> ns of the median aggregate
    order = []
    for path in paths:
        try:
            if os.path.getsize(path) == 0:
                continue  # the executable ran no benchmark (--benchmark_filter)
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench_table: skipping {path}: {e}", file=sys.stderr)
            continue
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b.get("name", ""))
            side = next((s for p, s in SIDES.items() if name.startswith(p)), None)
            if side is None or b.get("error_occurred", False):
                continue
            key = name[len("BM_Nabla") if side == "nabla" else len("BM_Torch") :]
            key = key.removesuffix("/real_time")
            ns = b["real_time"] * TO_NS.get(b.get("time_unit", "ns"), 1.0)
            if key not in order:
                order.append(key)
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    medians[(side, key)] = ns
            else:
                runs.setdefault((side, key), []).append(ns)
    times = {k: statistics.median(v) for k, v in runs.items()}
    times.update(medians)
    return times, order


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main(argv):
    times, order = load(argv[1:])
    rows = [
        (key, times[("nabla", key)], times[("torch", key)])
        for key in order
        if ("nabla", key) in times and ("torch", key) in times
    ]
    if not rows:
        print("bench_table: no BM_Nabla*/BM_Torch* pair ran (LibTorch not found, or filtered out)")
        return 0
    threads = os.environ.get("OMP_NUM_THREADS", "unset (all cores)")
    tunables = os.environ.get("GLIBC_TUNABLES", "unset")
    print()
    print("nabla vs LibTorch (real time per iteration; median when repeated), same process:")
    print(f"  nabla:    OMP_NUM_THREADS={threads}, glibc malloc, GLIBC_TUNABLES={tunables}")
    coretype = os.environ.get("OPENBLAS_CORETYPE", "unset (OpenBLAS detects the CPU)")
    print(f"  LibTorch: intra-op threads from OMP_NUM_THREADS={threads}, its CPU allocator on the"
          f" same glibc malloc, OpenBLAS kernels OPENBLAS_CORETYPE={coretype}")
    header = ("benchmark", "nabla", "LibTorch", "LibTorch time / nabla time")
    table = [header] + [(k, fmt_time(n), fmt_time(t), f"{t / n:.2f}") for k, n, t in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for i, r in enumerate(table):
        print("  " + " | ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  " + "-+-".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
