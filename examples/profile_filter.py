"""scipy's side of examples/profile_filter.c: scipy.ndimage.gaussian_filter
(sigma 1.5, then 4 and 10, float32 in and out, truncate 4, mode reflect) on a
size^3 float32 volume, min / median ms over the iterations, and memcpy of the
same bytes (numpy copyto into a warm array) in the same run.
Usage: /usr/bin/python3 examples/profile_filter.py [size] [iterations]"""
import sys
import time

import numpy as np
from scipy import ndimage

n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 3
rng = np.random.default_rng(0)
x = rng.standard_normal((n, n, n)).astype(np.float32)
out = np.empty_like(x)


def timed(fn):
    fn()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return min(t), float(np.median(t))


mc = timed(lambda: np.copyto(out, x))
print('# scipy %s numpy %s, %d^3 float32, %d iterations' % (__import__('scipy').__version__, np.__version__, n, iters))
print('%-36s %9.3f %9.3f' % ('memcpy (np.copyto)', mc[0], mc[1]))
for s in (1.5, 4.0, 10.0):
    r = timed(lambda: ndimage.gaussian_filter(x, s, output=out))
    print('%-36s %9.3f %9.3f  xmemcpy %.3f' % ('gaussian_filter sigma %g' % s, r[0], r[1], mc[1] / r[1]))
