"""Independent reference for tests/test_bspline.c: the dense field of a
cubic B-spline control grid, from scipy.interpolate.BSpline.design_matrix
(float64), never from medvol.

Usage: ref_bspline.py field DIR
  DIR/grid.txt: "ndim n0 n1 n2 s0 s1 s2 o0 o1 o2 X Y Z" (control points,
  spacing and origin in fixed voxels, the fixed dims); DIR/coef.bin: the
  coefficients, float64, ndim x n2 x n1 x n0 (x fastest); DIR/field.nii:
  medvol's field (X, Y, Z, 1, ndim). Control point j of an axis sits at
  voxel coordinate o + j s, so the knots of the cubic basis are
  o + (i - 2) s, i = 0 .. n + 3 (basis i centred on o + i s). Voxels are
  evaluated inside the knot span scipy accepts ([t_3, t_n]); the grids the
  test makes cover the image, so that is every voxel.
Prints "ok <max |medvol - scipy|> <max |scipy|>" or "skip <reason>".
"""
import sys

import numpy as np

try:
    from scipy.interpolate import BSpline
    import nibabel as nib
except ImportError as e:
    print("skip python module missing: %s" % e)
    sys.exit(0)


def design(nvox, n, s, o):
    x = np.arange(nvox, dtype=np.float64)
    if n == 1:
        return np.ones((nvox, 1))
    t = o + (np.arange(n + 4, dtype=np.float64) - 2.0) * s
    return BSpline.design_matrix(x, t, 3).toarray()


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd != "field":
        raise SystemExit("unknown command")
    v = open(d + "/grid.txt").read().split()
    ndim = int(v[0])
    n = [int(a) for a in v[1:4]]
    s = [float(a) for a in v[4:7]]
    o = [float(a) for a in v[7:10]]
    fd = [int(a) for a in v[10:13]]
    c = np.fromfile(d + "/coef.bin", dtype=np.float64).reshape((ndim, n[2], n[1], n[0]))
    B = [design(fd[a], n[a], s[a], o[a]) for a in range(3)]
    ref = np.empty((fd[0], fd[1], fd[2], ndim))
    for comp in range(ndim):
        # c[comp] is (z, y, x); out (x, y, z)
        ref[..., comp] = np.einsum("xi,yj,zk,kji->xyz", B[0], B[1], B[2], c[comp])
    img = nib.load(d + "/field.nii")
    got = np.asarray(img.dataobj, dtype=np.float64).reshape(fd[0], fd[1], fd[2], ndim, order="F")
    print("ok %.9g %.9g" % (np.max(np.abs(got - ref)), np.max(np.abs(ref))))


main()
