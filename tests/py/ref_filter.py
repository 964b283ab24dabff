"""scipy.ndimage / numpy references for tests/test_filter.c.

Usage: ref_filter.py DIR. DIR/cases.txt has one case per line:
  id kind nx ny nz nt p0 p1 p2 o0 o1 o2 mode cval truncate
kind: gauss (p = sigma in voxels, o = derivative orders), box (p = radius),
grad (p, o unused; DIR/<id>.aff holds the 4x4 affine as 16 float64),
pyr (p = shrink-level shape m per axis, o unused: the level's sigma in
voxels is in DIR/<id>.sig as 3 float64).
DIR/<id>.in holds the input as float64, x fastest (nx*ny*nz*nt values).
Writes DIR/<id>.out, float64, x fastest. Every figure comes from
scipy.ndimage (gaussian_filter, uniform_filter, zoom) or numpy.gradient,
never from medvol. Exits 3 if scipy is missing (the C test skips).
"""
import os
import sys

try:
    import numpy as np
    from scipy import ndimage
except ImportError:
    sys.exit(3)

MODES = ['reflect', 'nearest', 'constant', 'mirror', 'wrap']


def main(d):
    with open(os.path.join(d, 'cases.txt')) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    for c in lines:
        cid, kind = c[0], c[1]
        nx, ny, nz, nt = (int(v) for v in c[2:6])
        p = [float(v) for v in c[6:9]]
        o = [int(v) for v in c[9:12]]
        mode = MODES[int(c[12])]
        cval = float(c[13])
        trunc = float(c[14])
        x = np.fromfile(os.path.join(d, cid + '.in'), dtype='<f8').reshape(nt, nz, ny, nx)
        if kind == 'gauss':
            y = ndimage.gaussian_filter(x, sigma=(0, p[2], p[1], p[0]), order=(0, o[2], o[1], o[0]), mode=mode,
                                        cval=cval, truncate=trunc)
        elif kind == 'box':
            y = ndimage.uniform_filter(x, size=(1, 2 * int(p[2]) + 1, 2 * int(p[1]) + 1, 2 * int(p[0]) + 1),
                                       mode=mode, cval=cval)
        elif kind == 'grad':
            a = np.fromfile(os.path.join(d, cid + '.aff'), dtype='<f8').reshape(4, 4)
            v = x[0]
            g = []
            for ax, n in ((2, nx), (1, ny), (0, nz)):   # voxel axes i, j, k
                g.append(np.gradient(v, axis=ax) if n > 1 else np.zeros_like(v))
            G = np.linalg.inv(a[:3, :3]).T
            y = np.stack([G[r, 0] * g[0] + G[r, 1] * g[1] + G[r, 2] * g[2] for r in range(3)])
        elif kind == 'pyr':
            s = np.fromfile(os.path.join(d, cid + '.sig'), dtype='<f8')
            v = ndimage.gaussian_filter(x[0], sigma=(s[2], s[1], s[0]), mode=mode, cval=cval, truncate=trunc)
            m = [int(p[0]), int(p[1]), int(p[2])]
            # the level's sampling: output voxel o at input (o + 0.5) * n / m - 0.5, linear
            y = ndimage.zoom(v, (m[2] / nz, m[1] / ny, m[0] / nx), order=1, mode='nearest', grid_mode=True)
        else:
            raise SystemExit('unknown kind ' + kind)
        np.asarray(y, dtype='<f8').tofile(os.path.join(d, cid + '.out'))


if __name__ == '__main__':
    main(sys.argv[1])
