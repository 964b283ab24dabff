#!/usr/bin/python3
"""Independent numpy references for test_analysis.c.

usage: ref_analysis.py DIR     reads DIR/cases.txt, writes DIR/<id>.out per case

cases.txt, one case a line (arrays are raw little-endian files DIR/<id>.<name>):
  corr_rows ID DT NROWS N MASKED FISHER   x, rows (DT f4/f8), mask (u1)  -> out f8[NROWS]
  corr_matrix ID DT NROWS N MASKED        rows, mask                     -> out f8[NROWS*NROWS]
  chi2 ID DT NROWS N FIT REDUCED WEIGHTED d, m, s                        -> out f8[NROWS*4]
  angles ID N NRANGES                     a f8[N], r f8[2*NRANGES]       -> out u1[N]
  seed ID PATH KIND I J K MASKPATH TMASK  a NIfTI 4D file; KIND voxel|mask; TMASK u1 file or '-'
                                          -> out f8[x*y*z] (x fastest)
  mtau ID N M NORMALIZE                   t f8[N]: multipletau.autocorrelate(t, m=M, normalize)
                                          -> out f8[lenG*2] (lag, G) rows
  twotime ID T NPIX ROI                   f f8[T*NPIX], l i4[NPIX] -> out f8[T*T]
  twotime_skbeam ID T NPIX ROI            the same through scikit-beam's two_time_corr
                                          (skbeam.core.correlation, one level, T buffers)
Everything is float64, from the definitions: numpy.corrcoef, numpy.linalg.lstsq,
the angle rule written out with math.fmod, a nilearn-style seed map.
"""
import math
import os
import sys

import numpy as np


def rd(d, name, dtype, count=-1):
    return np.fromfile(os.path.join(d, name), dtype=dtype, count=count)


def corr_rows(d, i, dt, nrows, n, masked, fisher):
    x = rd(d, i + '.x', dt).astype(np.float64)
    rows = rd(d, i + '.rows', dt).astype(np.float64).reshape(nrows, n)
    if masked:
        m = rd(d, i + '.mask', np.uint8).astype(bool)
        x, rows = x[m], rows[:, m]
    out = np.empty(nrows)
    with np.errstate(all='ignore'):
        for r in range(nrows):
            out[r] = np.corrcoef(x, rows[r])[0, 1]
        if fisher:
            out = np.arctanh(out)
    return out


def corr_matrix(d, i, dt, nrows, n, masked):
    rows = rd(d, i + '.rows', dt).astype(np.float64).reshape(nrows, n)
    if masked:
        m = rd(d, i + '.mask', np.uint8).astype(bool)
        rows = rows[:, m]
    with np.errstate(all='ignore'):
        return np.corrcoef(rows).ravel()


def chi2(d, i, dt, nrows, n, fit, reduced, weighted):
    D = rd(d, i + '.d', dt).astype(np.float64).reshape(nrows, n)
    M = rd(d, i + '.m', dt).astype(np.float64).reshape(nrows, n)
    S = rd(d, i + '.s', dt).astype(np.float64).reshape(nrows, n) if weighted else np.ones((nrows, n))
    out = np.zeros((nrows, 4))
    for r in range(nrows):
        with np.errstate(all='ignore'):
            ok = np.isfinite(D[r]) & np.isfinite(M[r]) & np.isfinite(S[r]) & (S[r] > 0)
        dd, mm, ss = D[r][ok], M[r][ok], S[r][ok]
        nu = int(ok.sum())
        if fit:
            A = np.stack([mm / ss, 1.0 / ss], axis=1)
            coef, _, _, _ = np.linalg.lstsq(A, dd / ss, rcond=None)
            c, o = coef
            res = (dd - (c * mm + o)) / ss
            x2 = float(np.sum(res * res))
            p = 2
        else:
            c = o = 0.0
            x2 = float(np.sum(((dd - mm) / ss) ** 2))
            p = 0
        if reduced:
            x2 = x2 / (nu - p) if nu - p > 0 else float('nan')
        out[r] = [x2, c, o, nu]
    return out.ravel()


def wrap(a):
    if -180.0 < a <= 180.0:
        return a
    if not math.isfinite(a):
        return float('nan')
    r = math.fmod(a, 360.0)
    if r > 180.0:
        r -= 360.0
    elif r <= -180.0:
        r += 360.0
    return r


def inside(a, lo, hi):
    if hi - lo >= 360.0:
        return math.isfinite(a)
    a, lo, hi = wrap(a), wrap(lo), wrap(hi)
    if lo <= hi:
        return lo <= a <= hi
    return a >= lo or a <= hi


def angles(d, i, n, nr):
    a = rd(d, i + '.a', np.float64)
    rg = rd(d, i + '.r', np.float64).reshape(nr, 2)
    return np.array([any(inside(float(x), float(lo), float(hi)) for lo, hi in rg) for x in a], dtype=np.uint8)


def seed(d, i, path, kind, vi, vj, vk, maskpath, tmask):
    import nibabel as nib
    data = np.asarray(nib.load(path).get_fdata(dtype=np.float64))  # (x, y, z, t), scaled
    if kind == 'voxel':
        s = data[vi, vj, vk, :]
    else:
        m = np.asarray(nib.load(maskpath).dataobj) != 0
        s = data[m].mean(axis=0)
    if tmask != '-':
        keep = np.fromfile(tmask, dtype=np.uint8).astype(bool)
        data, s = data[..., keep], s[keep]
    T = s.size
    # nilearn-style: z-score every series (std 0 -> divide by 1), then r = dot / T
    def z(a):
        mu = a.mean(axis=-1, keepdims=True)
        sd = a.std(axis=-1, keepdims=True)
        sd[sd == 0] = 1.0
        return (a - mu) / sd
    zs = (s - s.mean()) / (s.std() if s.std() > 0 else 1.0)
    r = np.tensordot(z(data), zs, axes=([3], [0])) / T
    return np.clip(r, -1, 1).ravel(order='F')


def mtau(d, i, n, m, normalize):
    import multipletau
    t = rd(d, i + '.t', np.float64)
    return multipletau.autocorrelate(t, m=m, deltat=1, normalize=bool(normalize), dtype=np.float64).ravel()


def twotime(d, i, T, npix, roi):
    f = rd(d, i + '.f', np.float64).reshape(T, npix)
    lab = rd(d, i + '.l', np.int32)
    X = f[:, lab == roi]
    mean = X.mean(axis=1)
    with np.errstate(all='ignore'):
        return ((X @ X.T) / X.shape[1] / np.outer(mean, mean)).ravel()


def twotime_skbeam(d, i, T, npix, roi):
    from skbeam.core import correlation
    f = rd(d, i + '.f', np.float64).reshape(T, 1, npix)
    lab = rd(d, i + '.l', np.int32).reshape(1, npix).astype(np.int64)
    res = correlation.two_time_corr(lab, f, T, T, 1)
    g2 = np.asarray(res[0])  # (regions in ascending label order, T, T)
    rois = sorted(int(v) for v in np.unique(lab) if v > 0)
    return np.ascontiguousarray(g2[rois.index(roi)], dtype=np.float64).ravel()


def main():
    d = sys.argv[1]
    with open(os.path.join(d, 'cases.txt')) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            op, i = w[0], w[1]
            if op == 'corr_rows':
                out = corr_rows(d, i, w[2], int(w[3]), int(w[4]), int(w[5]), int(w[6]))
            elif op == 'corr_matrix':
                out = corr_matrix(d, i, w[2], int(w[3]), int(w[4]), int(w[5]))
            elif op == 'chi2':
                out = chi2(d, i, w[2], int(w[3]), int(w[4]), int(w[5]), int(w[6]), int(w[7]))
            elif op == 'angles':
                out = angles(d, i, int(w[2]), int(w[3]))
            elif op == 'seed':
                out = seed(d, i, w[2], w[3], int(w[4]), int(w[5]), int(w[6]), w[7], w[8])
            elif op == 'mtau':
                out = mtau(d, i, int(w[2]), int(w[3]), int(w[4]))
            elif op == 'twotime':
                out = twotime(d, i, int(w[2]), int(w[3]), int(w[4]))
            elif op == 'twotime_skbeam':
                out = twotime_skbeam(d, i, int(w[2]), int(w[3]), int(w[4]))
            else:
                sys.exit('unknown op ' + op)
            np.ascontiguousarray(out).tofile(os.path.join(d, i + '.out'))


if __name__ == '__main__':
    main()
