#!/usr/bin/python3
"""numpy on the operations of the profile_* examples, one thread, each
timed interleaved with a memcpy (numpy.copyto) of the same bytes, so its
"x memcpy" figure compares with the profiles' even when they run at another
moment on a shared machine:

    speedup of medvol = (medvol's x memcpy) / (numpy's x memcpy)

Usage: OMP_NUM_THREADS=1 /usr/bin/python3 bench/ops_vs_numpy.py [size] [repeats]
(Debian's python3 with python3-numpy; scipy's resampling is in
bench/resample_vs_scipy.py.) Inputs are float32
size^3 volumes of smooth blobs plus noise, like mv_phantom_smooth.
"""
import os
import sys
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np  # noqa: E402



def phantom(n):
    g = np.linspace(-1, 1, n, dtype=np.float32)
    x, y, z = np.meshgrid(g, g, g, indexing='ij')
    v = 1000 * np.exp(-2 * (x * x + y * y + z * z)) + 50 * np.random.default_rng(1).standard_normal((n, n, n))
    return np.asfortranarray(v.astype(np.float32))


def paired(fn, nbytes, reps):
    """fn and a copy of nbytes, alternately; medians of each"""
    src = np.full(nbytes // 4, 1.5, np.float32)
    dst = np.empty_like(src)
    fn()
    np.copyto(dst, src)
    a, b = [], []
    for _ in range(reps):
        t = time.perf_counter()
        np.copyto(dst, src)
        b.append(time.perf_counter() - t)
        t = time.perf_counter()
        fn()
        a.append(time.perf_counter() - t)
    return np.median(a) * 1e3, min(a) * 1e3, np.median(b) / np.median(a)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    x = phantom(n)
    out = np.empty_like(x)
    nb = x.nbytes
    rows = []

    def znorm():
        v = x.astype(np.float64)
        np.copyto(out, (v - v.mean()) / v.std(), casting='unsafe')

    def znorm32():  # what MONAI / TorchIO do on float32 tensors
        np.divide(np.subtract(x, x.mean(), out=out), x.std(), out=out)

    def rescale():
        mn, mx = x.min(), x.max()
        np.multiply(np.subtract(x, mn, out=out), 1.0 / (mx - mn), out=out)

    def rescale_pct():
        lo, hi = np.percentile(x, [0.5, 99.5])
        np.clip(np.multiply(np.subtract(x, lo, out=out), 1.0 / (hi - lo), out=out), 0, 1, out=out)

    def clip():
        np.clip(x, 100, 700, out=out)

    c = n * 3 // 4
    s0 = n // 2 - c // 2
    crop_out = np.empty((c, c, c), np.float32, order='F')

    def crop():
        np.copyto(crop_out, x[s0:s0 + c, s0:s0 + c, s0:s0 + c])

    e = n * 5 // 4
    b0 = (e - n) // 2

    def pad():
        np.pad(x, [(b0, e - n - b0)] * 3)

    def flip_all():
        np.copyto(out, x[::-1, ::-1, ::-1])

    def flip_x():
        np.copyto(out, x[::-1])

    rows.append(('znorm f32 (float64 math)', znorm, nb))
    rows.append(('znorm f32 (float32 math)', znorm32, nb))
    rows.append(('rescale min-max f32', rescale, nb))
    rows.append(('rescale percentiles 0.5..99.5', rescale_pct, nb))
    rows.append(('clip f32', clip, nb))
    rows.append(('crop to 3/4 (output bytes)', crop, crop_out.nbytes))
    rows.append(('pad to 5/4 (output bytes)', pad, e ** 3 * 4))
    rows.append(('flip axis 0', flip_x, nb))
    rows.append(('flip all axes', flip_all, nb))
    print('# numpy %s, %d^3 float32, %d repeats, OMP_NUM_THREADS=%s' %
          (np.__version__, n, reps, os.environ.get('OMP_NUM_THREADS')))
    print('%-36s %10s %10s %9s' % ('operation', 'median ms', 'min ms', 'xmemcpy'))
    for name, fn, nbytes in rows:
        med, mn, ratio = paired(fn, nbytes, reps)
        print('%-36s %10.2f %10.2f %9.3f' % (name, med, mn, ratio))


if __name__ == '__main__':
    main()
