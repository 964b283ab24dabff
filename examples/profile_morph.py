"""scipy.ndimage beside examples/profile_morph.c, on the same mask.

Usage: profile_morph.py DIR N ITERS. Reads DIR/mask.u8 (x fastest, as
nibabel's get_fdata array of shape (N, N, N) in Fortran order), times
scipy.ndimage.label (26-connectivity), distance_transform_edt and
binary_erosion with the radius-3 ball, writes their results for the C side
to compare (label.i32, edt.f64, ero.u8) and prints 'name median_ms' lines."""
import sys
import time

import numpy as np
import scipy.ndimage as ndi

d, n, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = np.fromfile(d + '/mask.u8', dtype=np.uint8).reshape((n, n, n), order='F').astype(bool)
g = np.meshgrid(*[np.arange(-3, 4)] * 3, indexing='ij')
ball = ((g[0] ** 2 + g[1] ** 2) + g[2] ** 2) <= 9
jobs = [('label', lambda: ndi.label(m, structure=np.ones((3, 3, 3), bool))[0]),
        ('edt', lambda: ndi.distance_transform_edt(m)),
        ('erode_ball3', lambda: ndi.binary_erosion(m, structure=ball))]
for name, f in jobs:
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        r = f()
        ts.append((time.perf_counter() - t0) * 1e3)
    ext = {'label': 'i32', 'edt': 'f64', 'erode_ball3': 'u8'}[name]
    r.astype({'i32': '<i4', 'f64': '<f8', 'u8': 'u1'}[ext]).ravel(order='F').tofile(d + '/' + name + '.' + ext)
    print(name, float(np.median(ts)))
    sys.stdout.flush()
