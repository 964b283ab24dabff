"""build/libmedvol_bench.so: the whole of medvol.h as one shared library for
the ctypes benches (nufft_bench.py, analysis_bench.py), rebuilt when medvol.h
is newer. Imported from the bench scripts' own folder."""
import os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SO = os.path.join(ROOT, "build", "libmedvol_bench.so")


def build_so():
    hdr = os.path.join(ROOT, "medvol.h")
    if os.path.exists(SO) and os.path.getmtime(SO) > os.path.getmtime(hdr):
        return
    os.makedirs(os.path.dirname(SO), exist_ok=True)
    cmd = ["cc", "-O2", "-shared", "-fPIC", "-ffp-contract=off", "-DMEDVOL_IMPLEMENTATION",
           "-DMEDVOL_RUNTIME_DISPATCH", "-x", "c", hdr, "-o", SO, "-lm", "-lpthread"]
    print("building", SO, "(a few minutes)", file=sys.stderr)
    subprocess.run(cmd, check=True)


def timed(fn, n):
    """best and median wall time of n calls of fn"""
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts), statistics.median(ts)
