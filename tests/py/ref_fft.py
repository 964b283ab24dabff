#!/usr/bin/python3
"""numpy.fft reference for tests/test_fft.c, computed in the test run.

usage: /usr/bin/python3 tests/py/ref_fft.py DIR   (run by tests/test_fft.c)

DIR/manifest.txt has one case per line:
    <id> <kind> <norm> <ndim> <dims[0]> ... <dims[ndim-1]> <axes bitmask>
kind: c2c (fftn), c2ci (ifftn), r2c (rfftn), c2r (irfftn); norm: backward,
ortho or forward (numpy's norm=). dims[0] is the fastest axis, so numpy's
shape is reversed(dims) and our axis k is numpy axis ndim-1-k. Inputs are
DIR/in_<id>.bin (float32; complex as (re, im) pairs, for c2r the half-complex
array whose lowest transformed axis h has dims[h]//2+1). Each result goes to
DIR/out_<id>.bin as float64 (complex as pairs), computed in float64/complex128.
"""
import os
import sys

import numpy as np


def run_case(d, words):
    cid, kind, norm, ndim = words[0], words[1], words[2], int(words[3])
    dims = [int(w) for w in words[4:4 + ndim]]
    axes = int(words[4 + ndim])
    shape = tuple(reversed(dims))
    np_axes = sorted(ndim - 1 - k for k in range(ndim) if axes >> k & 1)
    raw = np.fromfile(os.path.join(d, "in_%s.bin" % cid), dtype=np.float32)
    if kind in ("c2c", "c2ci"):
        x = raw.astype(np.float64).view(np.complex128).reshape(shape)
        fn = np.fft.fftn if kind == "c2c" else np.fft.ifftn
        y = fn(x, axes=np_axes, norm=norm)
    elif kind == "r2c":
        x = raw.astype(np.float64).reshape(shape)
        y = np.fft.rfftn(x, axes=np_axes, norm=norm)
    elif kind == "c2r":
        h = min(k for k in range(ndim) if axes >> k & 1)
        cdims = list(dims)
        cdims[h] = dims[h] // 2 + 1
        x = raw.astype(np.float64).view(np.complex128).reshape(tuple(reversed(cdims)))
        s = [shape[a] for a in np_axes]  # the real lengths, numpy's last axis = our h
        y = np.fft.irfftn(x, s=s, axes=np_axes, norm=norm)
    else:
        raise ValueError("unknown kind " + kind)
    y = np.ascontiguousarray(y)
    if np.iscomplexobj(y):
        y = y.astype(np.complex128).view(np.float64)
    else:
        y = y.astype(np.float64)
    y.tofile(os.path.join(d, "out_%s.bin" % cid))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.txt")) as f:
        for line in f:
            words = line.split()
            if words:
                run_case(d, words)
    return 0


if __name__ == "__main__":
    sys.exit(main())
