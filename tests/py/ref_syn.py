"""Independent float64 reference for tests/test_syn.c: local NCC (ANTs CC).

Usage: ref_syn.py lncc DIR R VALUE
  DIR/f.nii, DIR/m.nii (float32 images, read with nibabel), DIR/df.nii,
  DIR/dm.nii (medvol's derivatives), VALUE medvol's S. Window sums are
  computed here from zero-padded cumulative sums in float64 (no running
  sums), the window counts from a padded array of ones, then
  S = mean_c A^2 / (B C) (flat windows: B <= 1e-5 n var(f) or C <= 1e-5 n
  var(m) contribute 0) and the derivatives dS/df, dS/dm by the chain rule
  written per centre and scattered back over each window with the same
  cumulative-sum box (the adjoint of a cut box is the same box).
Prints "ok S_ref |S - S_ref| max|df - ref| max|ref df| max|dm - ref| max|ref dm|".
"""
import sys

import numpy as np


def load(path):
    import nibabel as nib
    return np.asarray(nib.load(path).dataobj, dtype=np.float64)


def box(a, r):
    """sum over the (2r+1)^d window cut at the edge, float64, by cumsum"""
    out = a.astype(np.float64)
    for ax in range(out.ndim):
        n = out.shape[ax]
        if n == 1 or r == 0:
            continue
        pad = [(0, 0)] * out.ndim
        pad[ax] = (r + 1, r)
        c = np.cumsum(np.pad(out, pad), axis=ax)
        hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=ax)
        lo = np.take(c, np.arange(0, n), axis=ax)
        out = hi - lo
    return out


def lncc(f, m, r):
    n = box(np.ones_like(f), r)
    Sf, Sm = box(f, r), box(m, r)
    Sff, Smm, Sfm = box(f * f, r), box(m * m, r), box(f * m, r)
    fb, mb = Sf / n, Sm / n
    A = Sfm - Sf * mb
    B = Sff - Sf * fb
    C = Smm - Sm * mb
    vf, vm = f.var(), m.var()
    ok = (B > 1e-5 * n * vf) & (C > 1e-5 * n * vm) & (vf > 0) & (vm > 0)
    Bs, Cs = np.where(ok, B, 1.0), np.where(ok, C, 1.0)
    a = np.where(ok, A / (Bs * Cs), 0.0)
    b = np.where(ok, A * A / (Bs * Cs * Cs), 0.0)
    g = np.where(ok, A * A / (Bs * Bs * Cs), 0.0)
    N = f.size
    S = np.sum(np.where(ok, A * A / (Bs * Cs), 0.0)) / N
    # dS_c/dm(x) = 2 [a (f(x) - fb) - b (m(x) - mb)], summed over centres c whose window holds x
    dm = 2.0 / N * (f * box(a, r) - box(a * fb, r) - m * box(b, r) + box(b * mb, r))
    df = 2.0 / N * (m * box(a, r) - box(a * mb, r) - f * box(g, r) + box(g * fb, r))
    return S, df, dm


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd != "lncc":
        print("unknown command " + cmd)
        sys.exit(1)
    r, val = int(sys.argv[3]), float(sys.argv[4])
    f, m = load(d + "/f.nii"), load(d + "/m.nii")
    S, df, dm = lncc(f, m, r)
    mdf, mdm = load(d + "/df.nii"), load(d + "/dm.nii")
    print("ok %.17g %.6g %.6g %.6g %.6g %.6g" % (S, abs(val - S), np.abs(mdf - df).max(), np.abs(df).max(),
                                               np.abs(mdm - dm).max(), np.abs(dm).max()))


if __name__ == "__main__":
    main()
