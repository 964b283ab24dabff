#!/usr/bin/python3
"""scipy.fft (pocketfft) timings for fft_bench.c, same cases, same layout.

Prints one line per case and worker count: "<case index> <workers> <best ms>";
with --serve it answers fft_bench's requests instead (see main).
The arrays are numpy's view of our layout: shape = reversed dims, and our
axis k is numpy axis ndim-1-k. scipy.fft allocates its output every call (it
has no out= argument); that is part of what a scipy user pays.
Run by fft_bench (--serve); by hand: /usr/bin/python3 bench/fft_scipy.py --reps 7
"""
import sys
import time

import numpy as np
import scipy.fft

# (dims with dims[0] fastest, axes as our bit mask, r2c) - keep in step with fft_bench.c
CASES = [
    ((256, 256, 256), 7, False),
    ((256, 256, 32), 3, False),
    ((240, 240, 160), 7, False),
    ((250, 250, 250), 7, False),
    ((256, 256, 256), 7, True),
]


def make_case(idx, rng):
    dims, axes, r2c = CASES[idx]
    shape = tuple(reversed(dims))
    ndim = len(dims)
    np_axes = tuple(sorted(ndim - 1 - k for k in range(ndim) if axes >> k & 1))
    if r2c:
        x = rng.random(shape, dtype=np.float32) - 0.5
        return lambda w: scipy.fft.rfftn(x, axes=np_axes, workers=w)
    x = ((rng.random(shape, dtype=np.float32) - 0.5) + 1j * (rng.random(shape, dtype=np.float32) - 0.5)).astype(np.complex64)
    return lambda w: scipy.fft.fftn(x, axes=np_axes, workers=w)


def best_ms(fn, workers, reps):
    best = 1e30
    for _ in range(reps):
        t = time.perf_counter()
        y = fn(workers)
        best = min(best, time.perf_counter() - t)
        assert y.dtype == np.complex64
        del y
    return best * 1e3


def main():
    """Default: every case, both worker counts, once. --serve: answer
    "<case> <workers> <reps>" lines on stdin with "<best ms>" (fft_bench
    interleaves these requests with its own timings)."""
    rng = np.random.default_rng(1234)
    fns = [make_case(i, rng) for i in range(len(CASES))]
    for fn in fns:  # warm up scipy's plan cache
        fn(1)
        fn(2)
    if "--serve" in sys.argv:
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            if len(words) != 3:
                break
            idx, workers, reps = (int(w) for w in words)
            print("%.3f" % best_ms(fns[idx], workers, reps), flush=True)
        return
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 7
    for idx, fn in enumerate(fns):
        for workers in (1, 2):
            print(idx, workers, "%.3f" % best_ms(fn, workers, reps), flush=True)


if __name__ == "__main__":
    main()
