"""float64 numpy definitions of medvol's registration metrics, written apart
from medvol.h.

usage: ref_register.py FIXED.nii MOVING.nii MATRIX.txt [BINS]
prints one line: "mse V N ncc V N mi V N" (value, samples that counted)
over every fixed voxel (full sampling, no masks).

Definitions (ITK v4 metrics): a fixed voxel x (world A_f i) counts when the
moving voxel coordinate v = inv(A_m) T x lies in [0, n-1] on every axis
(|v| < 1e-3 on an axis of length 1); m = trilinear moving value at v.
  mse = mean (m - f)^2
  ncc = -sum(f~ m~) / sqrt(sum f~^2 sum m~^2)
  mi  = -sum p(l,k) log(p(l,k) / (p_f(l) p_m(k))), Mattes: bins over [min,
        max] of each whole image with 2 padding bins per side, fixed value
        into one bin (order 0), moving value spread over 4 bins by the cubic
        B-spline, p = counts / N.
"""
import sys

import numpy as np
import nibabel as nib


def bspline3(u):
    a = np.abs(u)
    return np.where(a < 1, 2.0 / 3.0 - a * a + 0.5 * a ** 3, np.where(a < 2, (2 - a) ** 3 / 6.0, 0.0))


def main():
    fimg, mimg = nib.load(sys.argv[1]), nib.load(sys.argv[2])
    T = np.loadtxt(sys.argv[3]).reshape(4, 4)
    bins = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    F = np.asarray(fimg.get_fdata(), np.float64)
    Mv = np.asarray(mimg.get_fdata(), np.float64)
    if F.ndim == 2:
        F = F[:, :, None]
    if Mv.ndim == 2:
        Mv = Mv[:, :, None]
    idx = np.indices(F.shape, dtype=np.float64).reshape(3, -1)
    fv = F.reshape(-1, order="C")  # indices() is C order over (i, j, k): same order as idx
    world = fimg.affine[:3, :3] @ idx + fimg.affine[:3, 3:4]
    world = T[:3, :3] @ world + T[:3, 3:4]
    inv = np.linalg.inv(mimg.affine)
    v = inv[:3, :3] @ world + inv[:3, 3:4]
    n = np.array(Mv.shape)
    ok = np.ones(v.shape[1], bool)
    base, frac = [], []
    for a in range(3):
        if n[a] > 1:
            ok &= (v[a] >= 0) & (v[a] <= n[a] - 1)
            b = np.clip(np.floor(v[a]), 0, n[a] - 2)
            base.append(b.astype(np.int64))
            frac.append(v[a] - b)
        else:
            ok &= np.abs(v[a]) < 1e-3
            base.append(np.zeros(v.shape[1], np.int64))
            frac.append(np.zeros(v.shape[1]))
    fv = fv[ok]
    bx, by, bz = [b[ok] for b in base]
    fx, fy, fz = [f[ok] for f in frac]
    m = np.zeros(len(fv))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (fx if dx else 1 - fx) * (fy if dy else 1 - fy) * (fz if dz else 1 - fz)
                ix = np.minimum(bx + dx, n[0] - 1)
                iy = np.minimum(by + dy, n[1] - 1)
                iz = np.minimum(bz + dz, n[2] - 1)
                m += w * Mv[ix, iy, iz]
    N = len(fv)
    mse = np.mean((m - fv) ** 2)
    ft, mt = fv - fv.mean(), m - m.mean()
    ncc = -np.sum(ft * mt) / np.sqrt(np.sum(ft * ft) * np.sum(mt * mt))
    # Mattes MI
    pad = 2
    fmin, fmax = F.min(), F.max()
    mmin, mmax = Mv.min(), Mv.max()
    fbin = (fmax - fmin) / (bins - 2 * pad)
    mbin = (mmax - mmin) / (bins - 2 * pad)
    fterm = fv / fbin - (fmin / fbin - pad)
    l = np.clip(np.floor(fterm).astype(np.int64), pad, bins - pad - 1)
    mterm = m / mbin - (mmin / mbin - pad)
    k0 = np.clip(np.floor(mterm).astype(np.int64), pad, bins - pad - 1)
    P = np.zeros((bins, bins))
    for r in range(4):
        k = k0 - 1 + r
        np.add.at(P, (l, k), bspline3(k - mterm))
    P /= N
    pf, pm = P.sum(axis=1), P.sum(axis=0)
    nz = P > 0
    outer = np.outer(pf, pm)
    mi = -np.sum(P[nz] * np.log(P[nz] / outer[nz]))
    print("mse %.17g %d ncc %.17g %d mi %.17g %d" % (mse, N, ncc, N, mi, N))


if __name__ == "__main__":
    main()
