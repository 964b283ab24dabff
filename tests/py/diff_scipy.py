#!/usr/bin/python3
"""Random cases of medvol's filters, resampling and morphology against
scipy.ndimage (Debian's /usr/bin/python3 with python3-numpy and
python3-scipy).

  /usr/bin/python3 tests/py/diff_scipy.py BUILD/diff_scipy CASES [SEED]

Each case draws a shape (axes of length 1, 2, 3 and longer), a family's
parameters (every boundary mode, sigmas down to 1e-20, truncations that
leave one tap, derivative orders, windows longer than the axes, general
affine maps, structuring elements and spacings), runs tests/diff_scipy.c on
a random volume and compares with scipy on the same float64 values:
  gauss, box   max |medvol - scipy| <= 2e-5 x max|input| x the filter's
               l1 norm (the float32 accumulation's bound: the test data of
               test_filter.c sit far inside it);
  resample     2e-5 (nearest, linear) / 1e-4 (cubic: a float32 prefilter)
               of max(|input|, |fill|);
  morph, label equal (labels and their count);
  edt          3e-7 relative (float32 rounding of scipy's float64);
  pct          numpy.nanpercentile (method 'linear') of the float32
               array (medvol's VALUES rule for unscaled float32), equal
               (NaN, +-inf, -0, ties, subnormals in the data; -0 and +0
               are one value; nonzero: of the voxels != 0);
  hist         numpy.histogram's counts on that array, equal;
  math         every mv_math_op, volume or scalar operand, against numpy
               on float32 arrays as >>api-math VALUES says (exp, log, pow
               in float64 rounded once): bit for bit, NaN equal to NaN;
  zoom         mv_resample_shape against scipy.ndimage.zoom (grid_mode
               True, or False for align_corners; mode 'nearest'), the
               resample family's tolerances;
  pyramid      the level's shape, and 2e-5 x max|input| against
               zoom(gaussian_filter(x), grid_mode=True, order=1) (no
               smoothing along axes of length 1, as medvol.h says).
Exit 0 when every case agrees; else the failing cases are printed with
the command that reproduces them. CASES is per family.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.ndimage as nd

MODES = ['reflect', 'nearest', 'constant', 'mirror', 'wrap']  # mv_boundary order


def kernel_l1(sigma, order, truncate):
    """sum |w| of scipy's _gaussian_kernel1d(sigma, order, radius), written out"""
    r = int(truncate * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    phi /= phi.sum()
    q = {0: np.ones_like(x), 1: -x / sigma ** 2, 2: x * x / sigma ** 4 - 1.0 / sigma ** 2}[order]
    return float(np.abs(q * phi).sum())


def draw_gauss(rng, d):
    s = [float(rng.choice([0, 1e-20, 0.01, 0.3, 0.8, 1.5, 3.0, 7.0])) for _ in range(3)]
    o = [int(rng.integers(0, 3)) if rng.random() < 0.5 else 0 for _ in range(3)]
    mode, cval = int(rng.integers(0, 5)), float(rng.choice([0, 2.5, -7]))
    trunc = float(rng.choice([0, 4.0, 2.5, 1.0, 0.3, 0.05, 10.0]))
    method = int(rng.integers(0, 2))  # AUTO (FIR at these sigmas) or FIR
    return s + o + [mode, cval, trunc, method]


def ref_gauss(a, p):
    s, o, mode, cval, trunc = p[0:3], [int(x) for x in p[3:6]], int(p[6]), p[7], p[8]
    t = 4.0 if trunc == 0 else trunc
    ref = nd.gaussian_filter(a, sigma=s[::-1], order=o[::-1], mode=MODES[mode], cval=cval, truncate=t)
    l1 = 1.0
    for ax in range(3):
        if s[ax] > 1e-15:
            l1 *= kernel_l1(s[ax], o[ax], t)
    return ref, 2e-5 * max(np.max(np.abs(a)), abs(cval)) * max(l1, 1.0)


def draw_box(rng, d):
    return [int(rng.integers(0, 6)) for _ in range(3)] + [int(rng.integers(0, 5)), float(rng.choice([0, 2.5, -7]))]


def ref_box(a, p):
    size = [2 * int(r) + 1 for r in p[0:3]]
    ref = nd.uniform_filter(a, size=size[::-1], mode=MODES[int(p[3])], cval=p[4])
    return ref, 2e-5 * max(np.max(np.abs(a)), abs(p[4]))


def draw_resample(rng, d):
    m = [int(rng.choice([1, 2, 4, 7, 11])) for _ in range(3)]
    interp, fo, fill = int(rng.integers(0, 3)), int(rng.integers(0, 2)), float(rng.choice([0, 3.5, -2]))
    M = np.zeros((3, 4))
    kind = int(rng.integers(0, 3))
    for ax in range(3):
        if kind == 0:  # separable: zooms and flips
            M[ax, ax] = rng.uniform(0.3, 2.0) * rng.choice([1, -1])
            M[ax, 3] = rng.uniform(-2, d[ax] + 1)
        elif kind == 1:  # whole and half-voxel shifts
            M[ax, ax] = 1.0
            M[ax, 3] = float(rng.integers(-2, 3)) + float(rng.choice([0, 0.5, 0.25]))
        else:  # general
            M[ax, :3] = rng.uniform(-1.2, 1.2, 3)
            M[ax, 3] = rng.uniform(-1, d[ax])
    return m + [interp, fo, fill] + [float(x) for x in M.ravel()]


def ref_resample(a, p):
    m, interp, fo, fill = [int(x) for x in p[0:3]], int(p[3]), int(p[4]), p[5]
    M = np.array(p[6:18]).reshape(3, 4)
    Mn = M[::-1, 2::-1]  # numpy axes (z, y, x)
    off = M[::-1, 3]
    order = {0: 1, 1: 0, 2: 3}[interp]
    ref = nd.affine_transform(a, Mn, off, output_shape=m[::-1], order=order,
                              mode='constant' if fo else 'nearest', cval=fill)
    return ref, (2e-5 if order < 3 else 1e-4) * max(np.max(np.abs(a)), abs(fill))


def draw_morph(rng, d):
    sp = [float(rng.choice([1.0, 0.7, 2.5])) for _ in range(3)]
    shape = int(rng.integers(0, 3))
    return sp + [int(rng.integers(1, 5)), shape, float(rng.choice([1, 1.5, 2, 3, 4.2])),
                 int(rng.choice([6, 18, 26])), int(rng.integers(1, 4)), int(rng.integers(0, 2)),
                 int(rng.integers(0, 2)) if shape != 2 else 0]


def ref_morph(m, p):
    sp, op, shape, r = p[0:3], int(p[3]), int(p[4]), p[5]
    conn, iters, border, mm = int(p[6]), int(p[7]), int(p[8]), int(p[9])
    s = np.array(sp) if mm else np.ones(3)
    its = 1
    if shape == 2:
        st = nd.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[conn])
        its = iters
    else:
        R = [int(np.floor(r / s[ax])) for ax in range(3)]
        if shape == 0:
            g = np.mgrid[-R[0]:R[0] + 1, -R[1]:R[1] + 1, -R[2]:R[2] + 1].astype(float)
            st = ((g[0] * s[0]) ** 2 + (g[1] * s[1]) ** 2 + (g[2] * s[2]) ** 2) <= r * r
        else:
            st = np.ones([2 * x + 1 for x in R], bool)
    f = {1: nd.binary_erosion, 2: nd.binary_dilation, 3: nd.binary_opening, 4: nd.binary_closing}[op]
    # medvol's axes (x, y, z) are nibabel's get_fdata() axes: scipy on the (X, Y, Z) array
    return f(m.T, structure=st, iterations=its, border_value=border).T


def draw_zoom(rng, d):
    return [int(rng.choice([1, 2, 3, 4, 7, 11, 19])) for _ in range(3)] + [int(rng.integers(0, 3)),
                                                                          int(rng.integers(0, 2))]


def draw_pyramid(rng, d):
    return ([float(rng.choice([1, 1.5, 2, 3, 4])) for _ in range(3)] +
            [float(rng.choice([0, 0.5, 1, 2])) for _ in range(3)] +
            [int(rng.integers(0, 5)), int(rng.choice([0, 1, 2, 5]))])


def ref_pyramid(a, p, d):
    f, s, mode, min_size = p[0:3], p[3:6], int(p[6]), int(p[7]) or 16
    m = [max(int(np.floor(d[ax] / f[ax])), min(d[ax], min_size)) for ax in range(3)]
    s = [s[ax] if d[ax] > 1 else 0.0 for ax in range(3)]  # an axis of length 1 is not smoothed (medvol.h)
    sm = nd.gaussian_filter(a, sigma=s[::-1], mode=MODES[mode]) if any(x > 0 for x in s) else a
    ref = nd.zoom(sm, [m[ax] / d[ax] for ax in range(3)][::-1], order=1, grid_mode=True, mode='nearest')
    return ref, m, 2e-5 * np.max(np.abs(a))


def special_values(rng, shape):
    """float32 data with ties, signed zeros, subnormals, infinities and NaN"""
    a = rng.choice([rng.standard_normal(shape) * 10, np.round(rng.standard_normal(shape) * 3)])
    a = a.astype(np.float32)
    flat = a.reshape(-1)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -1e-45, 3.0, 3.0], np.float32)
    for _ in range(int(rng.integers(0, 4))):
        flat[int(rng.integers(0, flat.size))] = specials[int(rng.integers(0, specials.size))]
    return a


def fixed_cases(exe, fin, fout):
    """The disagreements the random cases found, kept as fixed cases:
    the count of failures"""
    bad = 0
    # numpy compares float32 values with the range in float32: float32(1e-40)
    # is inside range=(1e-40, 10) (medvol compared with the float64 1e-40)
    a = np.array([1e-40, 1.0, 0.0, 10.0], np.float32)
    a.tofile(fin)
    r = subprocess.run([exe, 'hist', '4', '1', '1', '7', '1e-40', '10.0', fin, fout], capture_output=True, text=True)
    ref = np.histogram(a, bins=7, range=(1e-40, 10.0))[0]
    if r.returncode != 0 or [int(x) for x in r.stdout.split()] != list(ref):
        print('FAIL fixed hist: %s, numpy %s' % (r.stdout.strip(), list(ref)))
        bad += 1
    # a second derivative along an axis of length 1 (was left unfiltered)
    a = (np.arange(9, dtype=np.float32) + 1).reshape(1, 1, 9)
    a.tofile(fin)
    p = [1.1, 2.0, 0.0, 0, 2, 0, 0, 0.0, 0.0, 1]
    r = subprocess.run([exe, 'gauss', '9', '1', '1'] + [repr(float(x)) for x in p] + [fin, fout],
                       capture_output=True, text=True)
    ref, tol = ref_gauss(a.astype(np.float64), p)
    if r.returncode != 0 or not np.max(np.abs(np.fromfile(fout, np.float32).reshape(ref.shape) - ref)) <= tol:
        print('FAIL fixed gauss: a second derivative along y of length 1')
        bad += 1
    print('fixed     2 cases, %d failures' % bad)
    return bad


def ref_math(a, b, op, s, fill):
    """numpy's float32 result of mv_math_op op (a, b float32 arrays; b None: the scalar s)"""
    f = np.float32
    y = np.float32(s) if b is None else b
    with np.errstate(all='ignore'):
        r = {1: lambda: a + y, 2: lambda: a - y, 3: lambda: a * y, 4: lambda: a / y,
             5: lambda: np.minimum(a, y), 6: lambda: np.maximum(a, y),
             7: lambda: (a.astype(np.float64) ** np.float64(y) if b is None else
                         a.astype(np.float64) ** y.astype(np.float64)),
             8: lambda: a > y, 9: lambda: a >= y, 10: lambda: a < y, 11: lambda: a <= y,
             12: lambda: a == y, 13: lambda: a != y,
             14: lambda: np.where(a < y, f(fill), a), 15: lambda: np.where(a > y, f(fill), a),
             16: lambda: np.where(y > 0, a, f(fill)),
             17: lambda: np.abs(a), 18: lambda: np.sqrt(a), 19: lambda: np.exp(a.astype(np.float64)),
             20: lambda: np.log(a.astype(np.float64)), 21: lambda: a * a, 22: lambda: f(1) / a,
             23: lambda: a > 0, 24: lambda: ~(a > 0), 25: lambda: np.where(np.isnan(a), f(0), a)}[op]()
    return np.asarray(r).astype(np.float32)


def main():
    exe, cases = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261125
    rng = np.random.default_rng(seed)
    tmp = tempfile.mkdtemp(prefix='diff_scipy.')
    fin, fout = os.path.join(tmp, 'in.raw'), os.path.join(tmp, 'out.raw')
    bad = fixed_cases(exe, fin, fout)
    fams = ['gauss', 'box', 'resample', 'zoom', 'morph', 'label', 'edt', 'pyramid', 'pct', 'hist', 'math']
    for fam in fams:
        worst = 0.0
        for _ in range(cases):
            d = [int(rng.choice([1, 1, 2, 3, 5, 9, 17])) for _ in range(3)]
            shape = d[::-1]  # numpy (Z, Y, X): x fastest in the raw file
            if fam in ('gauss', 'box', 'resample', 'pyramid', 'zoom'):
                a = (rng.standard_normal(shape) * 10).astype(np.float32)
                p = {'gauss': draw_gauss, 'box': draw_box, 'resample': draw_resample,
                     'pyramid': draw_pyramid, 'zoom': draw_zoom}[fam](rng, d)
            elif fam == 'math':
                use_b = int(rng.integers(0, 2))
                a = special_values(rng, [2] + shape if use_b else shape)
                p = [int(rng.integers(1, 26)), float(rng.choice([0, -1.5, 2.0, 1e-40, 0.1, 3.0])), use_b,
                     float(rng.choice([0, -7.25]))]
            elif fam == 'pct':
                a = special_values(rng, shape)
                p = [int(rng.integers(0, 2))] + [float(rng.choice([0, 100, 50, 0.5, 99.5, 1e-9, 33.3, 2.5,
                                                                  float(rng.uniform(0, 100))])) for _ in range(5)]
            elif fam == 'hist':
                a = special_values(rng, shape)
                a[np.isinf(a)] = 7.0  # numpy.histogram rejects an infinite range
                lo, hi = sorted([float(rng.choice([-10, -3, 0, 0, 1e-40, 2.5])), float(rng.choice([-3, 0, 0, 3, 10, 2.5]))])
                p = [int(rng.choice([1, 2, 7, 32, 256])), lo, hi]
                if lo == hi and not np.isfinite(a).any():
                    a[...] = 1.0
            else:
                a = (rng.random(shape) < rng.choice([0.05, 0.3, 0.6, 0.95])).astype(np.uint8)
                if fam == 'morph':
                    p = draw_morph(rng, d)
                elif fam == 'label':
                    p = [int(rng.choice([6, 18, 26]))]
                else:
                    p = [float(rng.choice([1.0, 0.7, 2.5])) for _ in range(3)] + [int(rng.integers(0, 2)),
                                                                              int(rng.integers(0, 2))]
            a.tofile(fin)
            cmd = [exe, fam] + [str(x) for x in d] + [repr(x) for x in p] + [fin, fout]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print('FAIL %s: exit %d: %s\n  %s' % (fam, r.returncode, r.stderr.strip(), ' '.join(cmd)))
                bad += 1
                continue
            a64 = a.astype(np.float64)
            if fam in ('gauss', 'box', 'resample'):
                ref, tol = {'gauss': ref_gauss, 'box': ref_box, 'resample': ref_resample}[fam](a64, p)
                got = np.fromfile(fout, dtype=np.float32).reshape(ref.shape)
                err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
                ok = err <= tol
                worst = max(worst, err / tol if tol > 0 else 0.0)
                what = 'max error %.3g > %.3g' % (err, tol)
            elif fam == 'zoom':
                m, order, align = [int(x) for x in p[0:3]], {0: 1, 1: 0, 2: 3}[int(p[3])], int(p[4])
                ref = nd.zoom(a64, [m[ax] / d[ax] for ax in range(3)][::-1], order=order, mode='nearest',
                              grid_mode=not align)
                tol = (2e-5 if order < 3 else 1e-4) * np.max(np.abs(a64))
                got = np.fromfile(fout, dtype=np.float32).reshape(m[::-1])
                ok = ref.shape == got.shape
                what = 'shape %s, scipy %s' % (got.shape, ref.shape)
                if ok:
                    err = float(np.max(np.abs(got - ref)))
                    ok = err <= tol
                    worst = max(worst, err / tol if tol > 0 else 0.0)
                    what = 'max error %.3g > %.3g' % (err, tol)
            elif fam == 'pyramid':
                ref, m, tol = ref_pyramid(a64, p, d)
                shp = [int(x) for x in r.stdout.split()]
                ok = shp == m
                what = 'shape %s, scipy %s' % (shp, m)
                if ok:
                    got = np.fromfile(fout, dtype=np.float32).reshape(ref.shape)
                    err = float(np.max(np.abs(got - ref)))
                    ok = err <= tol
                    worst = max(worst, err / tol if tol > 0 else 0.0)
                    what = 'max error %.3g > %.3g' % (err, tol)
            elif fam == 'math':
                op, sc, use_b, fill = int(p[0]), p[1], int(p[2]), p[3]
                ref = ref_math(a[0] if use_b else a, a[1] if use_b else None, op, sc, fill)
                got = np.fromfile(fout, dtype=np.float32).reshape(ref.shape)
                same = (got.view(np.uint32) == ref.view(np.uint32)) | (np.isnan(got) & np.isnan(ref))
                ok = bool(same.all())
                what = 'op %d: %d of %d values differ (first: %r vs numpy %r)' % (
                    op, int((~same).sum()), same.size, got[~same][:1].tolist(), ref[~same][:1].tolist())
            elif fam == 'pct':
                v = a.reshape(-1)  # an unscaled float32 volume is numpy's float32 array (>>api-intensity)
                if p[0]:
                    v = v[v != 0]
                v = v[~np.isnan(v)]
                ref = [float(np.percentile(v, q, method='linear')) if v.size else np.nan for q in p[1:]]
                got = [float(x) for x in r.stdout.split()]
                ok = all(g == e or (np.isnan(g) and np.isnan(e)) for g, e in zip(got, ref))  # -0 == 0 (medvol.h)
                what = 'medvol %r, numpy %r' % (got, ref)
            elif fam == 'hist':
                v = a.reshape(-1)  # float32 values: numpy's edges are float32 too
                v = v[~np.isnan(v)]
                auto = p[1] == 0 and p[2] == 0  # medvol's range=None
                if auto and v.size == 0:
                    continue  # numpy has no range to take
                ref = np.histogram(v, bins=int(p[0]), range=None if auto else (p[1], p[2]))[0]
                got = np.array([int(x) for x in r.stdout.split()])
                ok = np.array_equal(got, ref)
                what = 'counts differ in %d bins' % int(np.sum(got != ref)) if got.shape == ref.shape else 'shape'
            elif fam == 'morph':
                ref = ref_morph(a.astype(bool), p)
                got = np.fromfile(fout, dtype=np.uint8).reshape(shape).astype(bool)
                ok = np.array_equal(got, ref)
                what = '%d voxels differ' % int(np.sum(got != ref))
            elif fam == 'label':
                st = nd.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[p[0]])
                ref, n = nd.label(a.astype(bool).T, structure=st)
                ref = ref.T
                got = np.fromfile(fout, dtype=np.int32).reshape(shape)
                ok = np.array_equal(got, ref) and int(r.stdout) == n
                what = '%d voxels differ, %s labels vs %d' % (int(np.sum(got != ref)), r.stdout.strip(), n)
            else:
                m = a.astype(bool).T  # (X, Y, Z)
                sp, sign, sq = p[0:3], p[3], p[4]
                got = np.fromfile(fout, dtype=np.float32).reshape(shape).T
                if not (~m).any() or (sign and not m.any()):
                    continue  # no background (or no foreground for the signed form): scipy's result is undefined
                e = nd.distance_transform_edt(m, sampling=sp)
                if sign:
                    e = np.where(m, -e, nd.distance_transform_edt(~m, sampling=sp))
                if sq:
                    e = e * np.abs(e)
                rel = np.abs(got - e) / np.maximum(np.abs(e), 1e-30)
                ok = float(np.max(rel)) <= 3e-7
                worst = max(worst, float(np.max(rel)) / 3e-7)
                what = 'relative error %.3g' % float(np.max(rel))
            if not ok:
                bad += 1
                print('FAIL %s: %s\n  %s   (input: %s)' % (fam, what, ' '.join(cmd), fin))
                a.tofile(fin + '.fail%d' % bad)
        print('%-9s %d cases, worst error %.2f of the tolerance' % (fam, cases, worst))
    print('diff_scipy: %d failures (seed %d)' % (bad, seed))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
