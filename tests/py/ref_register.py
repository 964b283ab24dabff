"""float64 numpy definitions of medvol's registration metrics, written apart
from medvol.h.

usage: ref_register.py FIXED.nii MOVING.nii MATRIX.txt [BINS [RADIUS]]
prints one line: "mse V N ncc V N mi V N lncc V N" (value, samples that counted)
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
  lncc = -mean over fixed voxels c (with >= 2 valid voxels in their window)
        of A^2/(B C) over the (2r+1)^3 window cut at the grid's edge, sums
        over valid voxels only; 0 where B <= 1e-5 n mean(f^2) or C <= 1e-5 n
        mean(m^2) (n valid voxels in the window, means over valid voxels).
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
    # LNCC on the dense fixed grid
    rad = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    valid = np.zeros(F.size, bool)
    valid[np.flatnonzero(ok)] = True
    mfull = np.zeros(F.size)
    mfull[np.flatnonzero(ok)] = m
    V = valid.reshape(F.shape).astype(np.float64)
    Fd = np.where(V > 0, F, 0.0)
    Md = mfull.reshape(F.shape)

    def box(a):
        for ax in range(3):
            n = a.shape[ax]
            if n <= 1:
                continue
            c = np.cumsum(a, axis=ax)
            c = np.concatenate([np.zeros_like(np.take(c, [0], axis=ax)), c], axis=ax)
            i = np.arange(n)
            hi = np.minimum(i + rad, n - 1) + 1
            lo = np.maximum(i - rad, 0)
            a = np.take(c, hi, axis=ax) - np.take(c, lo, axis=ax)
        return a

    n_, sf, sm = box(V), box(Fd), box(Md)
    sff, smm, sfm = box(Fd * Fd), box(Md * Md), box(Fd * Md)
    cen = n_ >= 2
    nn = np.where(cen, n_, 1)
    A = sfm - sf * sm / nn
    B = sff - sf * sf / nn
    C = smm - sm * sm / nn
    gff = np.sum(Fd * Fd) / V.sum()
    gmm = np.sum(Md * Md) / V.sum()
    good = cen & (B > 1e-5 * n_ * gff) & (C > 1e-5 * n_ * gmm)
    cc = np.where(good, A * A / np.where(good, B * C, 1), 0.0)
    lncc = -cc[cen].sum() / cen.sum()
    print("mse %.17g %d ncc %.17g %d mi %.17g %d lncc %.17g %d" % (mse, N, ncc, N, mi, N, lncc, N))


if __name__ == "__main__":
    main()
