#!/usr/bin/python3
"""scipy.ndimage.zoom beside medvol on the cases of examples/profile_resample.c.

    /usr/bin/python3 bench/resample_vs_scipy.py [sizes...] [--iters N] [--lib PATH]

Debian's python3 with python3-scipy. scipy runs on one thread
(scipy.ndimage is single threaded; the BLAS/OpenMP pools are pinned to 1
anyway). The input is a smooth field plus noise scaled to [0, 1000],
float32, and every case is the zoom medvol's mv_resample_shape /
mv_resample_spacing computes (grid_mode=True, mode='nearest', the same
output shapes).

With build/libmvbench.so (make build/libmvbench.so; --lib to name another)
medvol runs in the same process on the same array through ctypes
(mvb_resample_shape_interp: the allocating form, fresh output memory as
scipy's is; the C-order array read as medvol's x-fastest volume with the
axes reversed, no copy), on one thread and on all; its output must agree with scipy's
(1e-4 of the data range: float32 arithmetic against scipy's float64)
before any time is printed. ratio = scipy median / medvol median. Without
the library only scipy's times are printed.

It also checks, on a 48^3 volume, that the scipy outputs it times are the
ones medvol's tests compare against (shape and a spot value computed by
hand), so the timed calls are the right ones.
"""
import os
import sys
import time

for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[var] = '1'

import ctypes                          # noqa: E402

import numpy as np                     # noqa: E402
import scipy.ndimage as nd             # noqa: E402

ORDER_TO_INTERP = {1: 0, 0: 1, 3: 2}   # scipy order -> mv_interp (LINEAR 0, NEAREST 1, CUBIC 2)


class Medvol:
    """medvol through build/libmvbench.so: resample into fresh memory, as numpy"""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        i64, vp, hp = ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
        lib.mvb_resample_shape_interp.restype = ctypes.c_int
        lib.mvb_resample_shape_interp.argtypes = [vp, i64, i64, i64, i64, i64, i64, ctypes.c_int, ctypes.c_int, hp]
        lib.mvb_data.restype = vp
        lib.mvb_data.argtypes = [vp]
        lib.mvb_free.argtypes = [vp]
        lib.mvb_last_error.restype = ctypes.c_char_p
        lib.mvb_build_info.restype = ctypes.c_char_p
        lib.mvb_threads.restype = ctypes.c_int
        self.lib = lib
        self.threads = lib.mvb_threads()
        self.info = lib.mvb_build_info().decode()

    def resample(self, v, order, shape, threads):
        """the timed call: returns medvol's result as a handle ...
        v is C-contiguous, as scipy gets it: medvol reads the same bytes as a
        volume with the axes reversed (its x, fastest in memory, is numpy's
        last axis), and a zoom is per axis, so it resamples to the reversed
        shape and its output's bytes are scipy's result in C order"""
        assert v.flags['C_CONTIGUOUS']
        h = ctypes.c_void_p()
        st = self.lib.mvb_resample_shape_interp(v.ctypes.data, *v.shape[::-1], *shape[::-1], ORDER_TO_INTERP[order],
                                                threads, ctypes.byref(h))
        if st != 0:
            raise RuntimeError('medvol: status %d: %s' % (st, self.lib.mvb_last_error().decode()))
        return h

    def array(self, h, shape):
        """... and its voxels, as a C-order array of the shape scipy gives"""
        n = int(np.prod(shape))
        buf = (ctypes.c_float * n).from_address(self.lib.mvb_data(h))
        return np.ndarray(tuple(shape), dtype=np.float32, buffer=buf, order='C')

    def free(self, h):
        self.lib.mvb_free(h)


def phantom(n, seed=1):
    rng = np.random.default_rng(seed)
    ax = (np.arange(n) + 0.5) / n
    x, y, z = np.meshgrid(ax, ax, ax, indexing='ij', sparse=True)
    v = np.zeros((n, n, n))
    for _ in range(8):
        c = 0.15 + 0.7 * rng.random(3)
        w = 0.08 + 0.22 * rng.random(3)
        v += (0.3 + 0.7 * rng.random()) * (np.exp(-(x - c[0]) ** 2 / (2 * w[0] ** 2)) *
                                           np.exp(-(y - c[1]) ** 2 / (2 * w[1] ** 2)) *
                                           np.exp(-(z - c[2]) ** 2 / (2 * w[2] ** 2)))
    v = 50 + 900 * v / v.max() + 100 * (rng.random((n, n, n)) - 0.5)
    return np.clip(v, 0, 1000).astype(np.float32)


def cases(n):
    a = [int(round(n * 0.8)), int(round(n * 0.8)), int(round(n * 1.5))]
    out = [('linear x0.5', 1, [(n + 1) // 2] * 3), ('linear x2', 1, [2 * n] * 3),
           ('linear 0.8x0.8x1.5mm->1mm', 1, a), ('nearest 0.8x0.8x1.5mm->1mm', 0, a),
           ('nearest x2', 0, [2 * n] * 3), ('cubic x0.5', 3, [(n + 1) // 2] * 3), ('cubic x2', 3, [2 * n] * 3),
           ('cubic 0.8x0.8x1.5mm->1mm', 3, a)]
    return [c for c in out if not (c[2][0] >= 1024)]


def zoom(v, order, shape):
    f = [m / s for m, s in zip(shape, v.shape)]
    r = nd.zoom(v, f, order=order, mode='nearest', grid_mode=True)
    assert list(r.shape) == list(shape), (r.shape, shape)
    return r


def sanity():
    v = phantom(48)
    r = zoom(v, 1, [24, 24, 24])
    # grid mode x0.5: output (0,0,0) samples input (0.5, 0.5, 0.5): the mean of the first 2x2x2 block
    expect = v[:2, :2, :2].astype(np.float64).mean()
    assert abs(float(r[0, 0, 0]) - expect) < 1e-3 * max(1, abs(expect)), (r[0, 0, 0], expect)


def timed(fn, reps, release=None):
    """min and median ms of reps calls of fn, and the last result (release:
    frees each earlier one, outside the timing)"""
    times, out = [], None
    for _ in range(reps):
        if out is not None and release:
            release(out)
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[0], times[len(times) // 2], out


MV = None


def main():
    global MV
    args = [a for a in sys.argv[1:]]
    iters = 3
    lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'libmvbench.so')
    for flag in ('--iters', '--lib'):
        if flag in args:
            i = args.index(flag)
            if flag == '--iters':
                iters = int(args[i + 1])
            else:
                lib = args[i + 1]
            del args[i:i + 2]
    sizes = [int(a) for a in args] or [128, 256]
    sanity()
    import scipy
    MV = Medvol(lib) if os.path.exists(lib) else None
    print('# scipy %s, numpy %s, one thread; float32 phantom, zoom(grid_mode=True, mode=nearest)' %
          (scipy.__version__, np.__version__))
    if MV:
        print('# medvol: %s (%s); fresh output memory like scipy; ratio = scipy median / medvol median' %
              (MV.info, lib))
        print('%-40s %5s %10s %10s %10s %10s %8s %8s %9s' % ('case', 'size', 'scipy min', 'median', 'mv 1t med',
                                                             'mv %dt med' % MV.threads, 'x 1t', 'x %dt' % MV.threads,
                                                             'max diff'))
    else:
        print('# (no %s: scipy only)' % lib)
        print('%-40s %5s %10s %10s' % ('case', 'size', 'min ms', 'median ms'))
    for n in sizes:
        v = np.ascontiguousarray(phantom(n))   # C order: what scipy is fastest on
        for name, order, shape in cases(n):
            # the slow ones once (x2 takes seconds at 256^3)
            reps = 1 if np.prod(shape) * (1 + (order == 3)) > 2e7 else iters
            label = name + ' -> %dx%dx%d' % tuple(shape)
            smin, smed, ref = timed(lambda: zoom(v, order, shape), reps)
            if not MV:
                print('%-40s %5d %10.1f %10.1f' % (label, n, smin, smed))
                sys.stdout.flush()
                continue
            # agreement first, then medvol's times (as many runs as it takes: cheap)
            h = MV.resample(v, order, shape, MV.threads)
            diff = float(np.max(np.abs(MV.array(h, shape) - ref)))
            MV.free(h)
            if not diff <= 1e-4 * 1000:
                print('%-40s %5d: medvol and scipy disagree by %g: no times' % (label, n, diff))
                continue
            del ref
            meds = []
            for t in (1, MV.threads):
                _, med, h = timed(lambda: MV.resample(v, order, shape, t), max(iters, 5), MV.free)
                MV.free(h)
                meds.append(med)
            print('%-40s %5d %10.1f %10.1f %10.2f %10.2f %8.1f %8.1f %9.2g' %
                  (label, n, smin, smed, meds[0], meds[1], smed / meds[0], smed / meds[1], diff))
            sys.stdout.flush()


if __name__ == '__main__':
    main()
