#!/usr/bin/python3
"""scipy.ndimage.zoom timings for the cases of examples/profile_resample.c.

    /usr/bin/python3 bench/resample_vs_scipy.py [sizes...] [--iters N]

Debian's python3 with python3-scipy. One thread (scipy.ndimage is single
threaded; the BLAS/OpenMP pools are pinned to 1 anyway). The input is the
same kind of volume as profile_resample's (a smooth field plus noise, scaled
to [0, 1000], float32), and every case is the zoom medvol's
mv_resample_shape / mv_resample_spacing computes (grid_mode=True,
mode='nearest', the same output shapes). Prints min / median ms per case;
run it right after profile_resample and compare the 1-thread medians:
ratio = scipy median / medvol median.

It also checks, on a 48^3 volume, that the scipy outputs it times are the
ones medvol's tests compare against (shape and a spot value computed by
hand), so the timed calls are the right ones.
"""
import os
import sys
import time

for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[var] = '1'

import numpy as np                     # noqa: E402
import scipy.ndimage as nd             # noqa: E402


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


def main():
    args = [a for a in sys.argv[1:]]
    iters = 3
    if '--iters' in args:
        i = args.index('--iters')
        iters = int(args[i + 1])
        del args[i:i + 2]
    sizes = [int(a) for a in args] or [128, 256]
    sanity()
    import scipy
    print('# scipy %s, numpy %s, one thread; float32 phantom, zoom(grid_mode=True, mode=nearest)' %
          (scipy.__version__, np.__version__))
    print('%-34s %6s %10s %10s' % ('case', 'size', 'min ms', 'median ms'))
    for n in sizes:
        v = phantom(n)
        for name, order, shape in cases(n):
            # the slow ones once (x2 takes seconds at 256^3)
            reps = 1 if np.prod(shape) * (1 + (order == 3)) > 2e7 else iters
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                zoom(v, order, shape)
                times.append((time.perf_counter() - t0) * 1e3)
            times.sort()
            print('%-34s %6d %10.1f %10.1f' % (name + ' -> %dx%dx%d' % tuple(shape), n, times[0],
                                               times[len(times) // 2]))
            sys.stdout.flush()


if __name__ == '__main__':
    main()
