#!/usr/bin/python3
"""Random cases of medvol's FFT against numpy.fft and of its spatial
operations against nibabel (Debian's /usr/bin/python3 with python3-numpy,
python3-scipy and python3-nibabel).

  /usr/bin/python3 tests/py/diff_numpy.py BUILD/diff_numpy [CASES [SEED [FAMILY]]]

DIFF_NUMPY_ISA=ref|sse2|avx2|avx512 runs every call on that ISA level
(mv_set_isa; the first line printed names the build and the active level).
CASES (default 60): 2 x CASES FFT cases and CASES per spatial op (twice
that for reorient); FAMILY fft, spatial or both (default). Each case runs
tests/diff_numpy.c once on a raw file; DIFF_NUMPY_BUDGET (default 65536)
bounds an FFT case's values (4 % of the cases get 16x that: past the
library's 4 MiB threading threshold and its L2 slabs). First the fixed
cases: the minimal reproducers of what the random cases found.

fft: c2c / r2c / c2r / the centred fftc, one call (after neighbours in
  the plan cache), plan, plan with the caller's scratch, measured plan, in
  place, fftc on volumes; 1D..5D and 7D shapes with axes of length 1, 2,
  3, small and large primes (Bluestein: 4099, 8191, 65521, 131071),
  products of 2,3,5,7,11,13, powers of two up to 2^20, odd lengths for
  the real transforms; a random axis subset (numpy gets it in a random
  order, the halved axis last for the real ones), norm, direction and
  thread count; data of a wide dynamic range (per-element magnitudes over
  16 decades, every batch item its own scale over 12 decades or zero,
  spikes, pure tones, integers, overall scales 1e-25..1e25). The reference
  is numpy.fft in float64 on the same float32 values. Tolerance:

      max |medvol - numpy| <= 2 eps L max|numpy| over each batch item (an
                              index over the axes not transformed, which
                              numpy transforms on its own), eps = 2^-23,
      L = sum over the transformed axes of log2(n) + 1 (Bluestein: 2 (log2 m + 1)
          with m its power-of-two length >= 2n - 1).

  Why: each radix pass of a stable FFT adds rounding errors of relative
  size ~eps to every value it writes, so the 2-norm of the error grows by
  ~eps ||y||_2 per pass, i.e. linearly in the number of passes (log2 n;
  the one extra per axis is the norm's multiplication and the twiddle
  tables' own rounding). The error of one output component is a sum of
  many independent roundings, so per component it is ~eps sqrt(passes)
  rms|y| and its maximum over N components another sqrt(2 ln N) larger:
  eps sqrt(log2 N) sqrt(2 ln N) rms|y| ~ 1.2 eps log2 N rms|y| <=
  1.2 eps log2 N max|y|. Bluestein runs three FFTs of length m plus three
  chirp products, independent errors adding in quadrature (sqrt 3 < 2).
  The factor 2 is the margin over the 1.2; the measured
  worst is printed (well below 1). Exact properties are checked exactly:
  transforms over axes of length 1 only are the identity (every norm's
  factor is 1); one axis of length 2 unscaled (or divided by 2) is
  a + b, a - b in float32 (numpy's float32 arithmetic); and the bytes of
  every form and thread count equal the reference form's (>>api-fft:
  "within one ISA the result is the same for every thread count and with
  or without in place"; measured plans "give the same bytes"), and the
  input is left as it was (out of place).

spatial: volumes of every dtype (uint8 .. float64, complex, RGB; the
  bytes random, or voxel ids for the world check), 1D..4D (the missing
  axes rule of >>api-spatial), affines axis-aligned, oblique (random
  rotations), sheared, permuted and flipped, near 45 degrees (ties of
  io_orientation: cases whose nibabel margin is below 1e-9 are left out
  of the nibabel comparisons and counted):
    orient    mv_orientation == nibabel aff2axcodes ('?' for None),
              mv_io_orientation == io_orientation (also rank-deficient and
              zero-column affines);
    reorient  to a random code: data bit for bit and affine against
              io_orientation + ornt_transform + apply_orientation +
              inv_ornt_aff (and as_closest_canonical for "RAS");
    flip, permute, rot90
              data bit for bit against numpy.flip / transpose / rot90,
              the affine against the voxel map of numpy's definition;
    croppad   the MONAI rule of DESIGN.md (crop start in/2 - out/2, pad
              before (out - in)/2), the fill as the dtype stores it (integers
              rounded half to even and saturated; complex fill + 0i; RGB the
              fill on every channel, as >>api-resample's fill), the affine's
              translation;
    box       mv_crop_pad_box against numpy slicing with padding;
    spacing   mv_resample_spacing: the shape round(n old / new) (half to
              even, >= 1), the stored spacing old n / m, the affine
              A diag(n/m) + (n/m - 1)/2 (the field of view kept: the outer
              voxel corners map to the same world points), the data against
              scipy.ndimage.zoom(grid_mode=True, mode='nearest') (nearest:
              bit for bit on any dtype; linear: 2e-5 of max|input|).
  For every op on id data, every output voxel's world coordinate
  A_out o equals its source voxel's A_in src(o) (1e-9 of the extent);
  1.5 % of the cases (not spacing) are volumes of 4..12 MiB (threads).
Exit 0 when every case agrees; else each failing case is printed with the
command that reproduces it (its input saved next to it).
"""
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

EPS32 = 2.0 ** -23
NORMS = ['backward', 'ortho', 'forward']  # mv_fft_norm order
SMALL_PRIMES = [5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61]
ID0 = 10 ** 7  # voxel ids start here: above every fill value drawn
BIG_PRIMES = [67, 71, 97, 101, 127, 257, 509, 1021, 2053, 4099, 8191, 16381, 65521, 131071]


# ---------------------------------------------------------------- fft ----

def draw_len(rng):
    c = int(rng.integers(0, 9))
    if c == 0:
        return 1
    if c == 1:
        return int(rng.choice([2, 3]))
    if c == 2:
        return int(rng.choice(SMALL_PRIMES))
    if c == 3:
        return int(rng.choice(BIG_PRIMES))
    if c == 4:
        return int(2 ** rng.integers(2, 21))
    if c == 5:
        return int(rng.integers(1, 300)) | 1  # odd
    n = 1  # products of 2, 3, 5, 7, 11, 13 (and, rarely, a big prime)
    for _ in range(int(rng.integers(1, 5))):
        n *= int(rng.choice([2, 3, 5, 7, 11, 13, 4, 8, 9, 25]))
    if c == 8 and rng.random() < 0.3:
        n *= int(rng.choice([67, 127]))
    return n


def bluestein(n):
    """medvol's Bluestein lengths (>>api-fft: radix passes and a generic
    pass for odd factors up to 63; larger primes take Bluestein)"""
    m = n
    for p in (2, 3, 5, 7):
        while m % p == 0:
            m //= p
    f = 11
    while f * f <= m:
        while m % f == 0:
            if f > 63:
                return True
            m //= f
        f += 2
    return m > 63


def axis_cost(n):
    if n == 1:
        return 0.0
    if bluestein(n):
        m = 1
        while m < 2 * n - 1:
            m *= 2
        return 2.0 * (np.log2(m) + 1.0)
    return float(np.log2(n)) + 1.0


def draw_fft(rng, budget):
    if rng.random() < 0.04:
        budget *= 16  # past the library's thread threshold and its L2 slabs
    kind = ['c2c', 'r2c', 'c2r', 'fftc'][int(rng.integers(0, 4))]
    ndim = int(rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 7]))
    dims = [draw_len(rng) for _ in range(ndim)]
    while math.prod(dims) > budget:  # shrink the largest axis until it fits
        a = int(np.argmax(dims))
        dims[a] = max(1, dims[a] // int(rng.choice([2, 3, 5, 7])))
    axes = 0
    while axes == 0:
        axes = int(rng.integers(0, 1 << ndim))
    if rng.random() < 0.05:  # only axes of length 1
        ones = [a for a in range(ndim) if dims[a] == 1]
        if ones:
            axes = sum(1 << a for a in ones)
    inverse = {'c2c': int(rng.integers(0, 2)), 'fftc': int(rng.integers(0, 2)), 'r2c': 0, 'c2r': 1}[kind]
    norm = int(rng.integers(0, 3))
    form = int(rng.integers(0, 6 if kind == 'fftc' else 5))
    threads = int(rng.choice([0, 1, 2, 3]))
    return kind, dims, axes, inverse, norm, form, threads


def fft_data(rng, shape, cplx, dims, axes):
    """float32 (complex64) data over a wide dynamic range"""
    def normal():
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if cplx else x

    c = int(rng.integers(0, 7))
    if c == 0:
        x = normal()
    elif c == 1:  # per element over 16 decades
        x = normal() * 10.0 ** rng.uniform(-8, 8, shape)
    elif c == 2:  # spikes over a faint floor
        x = normal() * 1e-6
        flat = x.reshape(-1)
        for _ in range(int(rng.integers(1, 4))):
            flat[int(rng.integers(0, flat.size))] += 10.0 ** rng.uniform(-3, 3) * (1 if rng.random() < .5 else -1)
    elif c == 3:  # a pure tone on the transformed axes: one output bin
        ph = np.zeros(shape)
        nd = len(dims)
        for a in range(nd):
            if axes >> a & 1:
                n = dims[a]
                k = float(rng.integers(0, n))
                g = np.arange(n).reshape([-1 if ax == nd - 1 - a else 1 for ax in range(nd)])
                ph = ph + 2 * np.pi * k * g / n
        x = np.exp(1j * ph) if cplx else np.cos(ph)
        x = x + normal() * 1e-5
    elif c == 4:  # small integers
        x = np.round(normal() * 3)
    elif c == 5:  # zeros with a little data
        x = normal() * (rng.random(shape) < 0.1)
    else:  # every batch item (index over the axes not transformed) its own scale, over 12 decades
        bs = [1 if axes >> (len(dims) - 1 - ax) & 1 else shape[ax] for ax in range(len(shape))]
        x = normal() * 10.0 ** rng.uniform(-6, 6, bs) * (rng.random(bs) < 0.9)
    n = max(1, int(np.prod(shape)))
    hi = min(25.0, 36.0 - np.log10(n) - 8)  # max * N stays far below float32's 3.4e38
    x = x * 10.0 ** rng.uniform(-25, hi)
    return x.astype(np.complex64 if cplx else np.float32)


def fft_reference(kind, dims, axes, inverse, norm, form, x, rng):
    """numpy's result (float64) for the medvol call"""
    nd = len(dims)
    ax = [nd - 1 - a for a in range(nd) if axes >> a & 1]  # numpy axes
    h = min(a for a in range(nd) if axes >> a & 1)
    x64 = x.astype(np.complex128 if x.dtype == np.complex64 else np.float64)
    nrm = NORMS[norm]
    if kind == 'c2c':
        rng.shuffle(ax)
        return (np.fft.ifftn if inverse else np.fft.fftn)(x64, axes=ax, norm=nrm)
    if kind == 'fftc':
        if form in (0, 5):
            nrm = 'ortho'  # the volume forms are ortho (>>api-mri)
        rng.shuffle(ax)
        f = np.fft.ifftn if inverse else np.fft.fftn
        return np.fft.fftshift(f(np.fft.ifftshift(x64, axes=ax), axes=ax, norm=nrm), axes=ax)
    last = nd - 1 - h  # numpy's halved axis: medvol's lowest
    ax.remove(last)
    rng.shuffle(ax)
    ax.append(last)
    if kind == 'r2c':
        return np.fft.rfftn(x64, axes=ax, norm=nrm)
    s = [dims[nd - 1 - a] for a in ax]
    return np.fft.irfftn(x64, s=s, axes=ax, norm=nrm)


def fft_exact(kind, dims, axes, inverse, norm, form, x):
    """The float32 result where it is exact (None where not): axes of
    length 1 only, or one axis of length 2 unscaled / halved"""
    nd = len(dims)
    t = [a for a in range(nd) if axes >> a & 1]
    if all(dims[a] == 1 for a in t):
        if kind == 'r2c':
            return x.astype(np.complex64)
        if kind == 'c2r':
            return x.real.copy()
        return x.copy()
    if len(t) != 1 or dims[t[0]] != 2:
        return None
    if kind == 'fftc' and form in (0, 5):
        return None  # ortho: 1/sqrt(2)
    scale = {0: (1.0, 0.5), 1: None, 2: (0.5, 1.0)}[norm]
    if scale is None:
        return None
    s = np.float32(scale[1 if (inverse or kind == 'c2r') else 0])
    na = nd - 1 - t[0]
    if kind == 'c2r':
        a = np.take(x, [0], axis=na).real
        b = np.take(x, [1], axis=na).real
    else:
        a, b = np.take(x, [0], axis=na), np.take(x, [1], axis=na)
    if kind == 'fftc':  # fftshift(dft(ifftshift([a, b]))) = [b - a, a + b]
        y = np.concatenate([b - a, a + b], axis=na)
    elif kind == 'r2c':
        y = np.concatenate([a + b, a - b], axis=na).astype(np.complex64)
    else:
        y = np.concatenate([a + b, a - b], axis=na)
    return y * s if s != 1 else y


def run_fft_case(exe, rng, budget, fin, fout):
    kind, dims, axes, inverse, norm, form, threads = draw_fft(rng, budget)
    nd = len(dims)
    h = min(a for a in range(nd) if axes >> a & 1)
    cd = list(dims)
    if kind in ('r2c', 'c2r'):
        cd[h] = dims[h] // 2 + 1
    in_dims = dims if kind != 'c2r' else cd
    x = fft_data(rng, in_dims[::-1], kind != 'r2c', in_dims, axes)
    x.tofile(fin)
    cmd = [exe, 'fft', kind, str(nd)] + [str(d) for d in dims] + [
        hex(axes), str(inverse), str(norm), str(form), str(threads), fin, fout]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return False, 'exit %d: %s' % (r.returncode, r.stderr.strip()), cmd, 0.0
    out_dims = dims if kind in ('c2r',) else (cd if kind == 'r2c' else dims)
    got = np.fromfile(fout, dtype=np.float32 if kind == 'c2r' else np.complex64)
    if got.size != int(np.prod(out_dims)):
        return False, 'output has %d values, expected %d' % (got.size, int(np.prod(out_dims))), cmd, 0.0
    got = got.reshape(out_dims[::-1])
    ref = fft_reference(kind, dims, axes, inverse, norm, form, x, rng)
    if ref.shape != got.shape:
        return False, 'shape %s, numpy %s' % (got.shape, ref.shape), cmd, 0.0
    if 'input_kept 1' not in r.stdout and not (kind == 'fftc' and form == 5):  # 5: in place on the input
        return False, 'form %d: the input was modified (%s)' % (form, r.stdout.strip().replace('\n', ', ')), cmd, 0.0
    if 'consistent 1' not in r.stdout:
        return False, 'form %d, threads %d: bytes differ from the one-thread plan\'s (%s)' % (
            form, threads, r.stdout.strip().replace('\n', ', ')), cmd, 0.0
    if not np.all(np.isfinite(got)):
        return False, '%d non-finite values' % int(np.sum(~np.isfinite(got))), cmd, 0.0
    ex = fft_exact(kind, dims, axes, inverse, norm, form, x)
    if ex is not None and not np.array_equal(got, ex):
        bad = np.argwhere(got != ex)[0]
        return False, 'exact case: %d values differ, first at %s: %r, expected %r' % (
            int(np.sum(got != ex)), tuple(bad), got[tuple(bad)], ex[tuple(bad)]), cmd, 0.0
    # per batch item (an index over the axes not transformed: numpy
    # transforms each on its own), relative to that item's own max|numpy|
    tax = tuple(nd - 1 - a for a in range(nd) if axes >> a & 1)
    L = sum(axis_cost(dims[a]) for a in range(nd) if axes >> a & 1)
    scale = np.max(np.abs(ref), axis=tax)
    err = np.max(np.abs(got.astype(ref.dtype) - ref), axis=tax)
    tol = 2.0 * EPS32 * max(L, 1.0) * scale
    bad = err > tol
    if bad.any():
        with np.errstate(all='ignore'):
            i = np.unravel_index(int(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), 0))), bad.shape)
        return False, 'max error %.3g > %.3g (%.3g of max|numpy| %.3g, L %.1f) in batch item %s of %d%s' % (
            err[i], tol[i], err[i] / scale[i] if scale[i] else np.inf, scale[i], L, tuple(int(v) for v in i),
            bad.size, ' (all-zero item)' if scale[i] == 0 else ''), cmd, 0.0
    nz = scale > 0
    return True, '', cmd, float(np.max(err[nz] / tol[nz], initial=0.0))


# ------------------------------------------------------------ spatial ----

DTYPES = ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float32', 'float64',
          'float16', 'complex64', 'complex128', 'rgb24', 'rgba32']
NPDT = {'rgb24': np.dtype('V3'), 'rgba32': np.dtype('V4')}  # medvol's RGB voxels, as raw bytes


def npdt(dtype):
    return NPDT[dtype] if dtype in NPDT else np.dtype(dtype)
CODES = [''.join(('RL', 'AP', 'SI')[w][f >> i & 1] for i, w in enumerate(perm))
         for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)) for f in range(8)]
assert len(CODES) == 48


def rotation(rng):
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def draw_affine(rng, ndim, degenerate=False):
    c = int(rng.integers(0, 6 if degenerate else 5))
    P = np.eye(3)[rng.permutation(3)] * rng.choice([-1.0, 1.0], 3)
    if c == 0:  # axis-aligned, permuted and flipped
        M = P
    elif c == 1:  # oblique
        M = rotation(rng)
    elif c == 2:  # small obliquity of a permuted / flipped grid
        t = rng.uniform(-0.3, 0.3, 3)
        M = P @ (np.eye(3) + np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]]))
    elif c == 3:  # sheared
        M = rotation(rng) @ (np.eye(3) + np.triu(rng.uniform(-0.5, 0.5, (3, 3)), 1))
    elif c == 4:  # near 45 degrees: ties of io_orientation (left out below their margin)
        a = np.pi / 4 + float(rng.choice([0, 1e-14, 1e-7, 1e-3]))
        cs, sn = np.cos(a), np.sin(a)
        M = P @ np.array([[cs, -sn, 0], [sn, cs, 0], [0, 0, 1]])
    else:  # a zero column, or two parallel ones
        M = rotation(rng)
        j = int(rng.integers(0, 3))
        M[:, j] = 0 if rng.random() < 0.5 else M[:, (j + 1) % 3] * rng.uniform(-2, 2)
    z = rng.choice([1.0, 0.5, 2.0, 0.9, 3.3, 1.7], 3)
    for a in range(ndim, 3):
        z[a] = 1.0  # a missing axis: spacing 1 (>>api-volume), so its column has norm 1
    A = np.eye(4)
    A[:3, :3] = M * z
    if ndim < 3:
        for a in range(ndim, 3):
            n = np.linalg.norm(A[:3, a])
            if n > 0:
                A[:3, a] /= n
    A[:3, 3] = rng.uniform(-100, 100, 3)
    return A


def ornt_margin(A):
    """nibabel io_orientation's R, and the smallest gap between the chosen
    |R| entry and the next candidate (a tie when ~0)"""
    RZS = A[:3, :3]
    zooms = np.sqrt(np.sum(RZS * RZS, axis=0))
    zooms[zooms == 0] = 1
    RS = RZS / zooms
    P, S, Qs = np.linalg.svd(RS, full_matrices=False)
    keep = S > S.max() * 3 * np.finfo(S.dtype).eps
    R = np.dot(P[:, keep], Qs[keep])
    margin = np.inf
    for in_ax in range(3):
        col = np.abs(R[:, in_ax])
        s = np.sort(col)
        margin = min(margin, s[-1] - s[-2], abs(s[-1] - 1e-8))
        if not np.allclose(R[:, in_ax], 0):
            R[int(np.argmax(col)), :] = 0
    return margin


def fill_as_stored(dtype, fill):
    """the padded voxel's value as medvol stores the fill: rounded half to
    even and saturated for integers (mv__put_f64), cast for floats"""
    dt = np.dtype(dtype)
    if dt.kind in 'iu':
        info = np.iinfo(dt)
        return np.array(np.clip(np.rint(fill), info.min, info.max)).astype(dt)
    with np.errstate(over='ignore'):  # float16: 1e6 is inf, as mv__f64_to_f16 rounds it
        return np.array(fill).astype(dt)


def vmap_flip(shape3, a):
    M = np.eye(4)
    M[a, a] = -1
    M[a, 3] = shape3[a] - 1
    return M


def vmap_perm(perm):
    M = np.zeros((4, 4))
    for i, p in enumerate(perm):
        M[p, i] = 1
    M[3, 3] = 1
    return M


def draw_spatial(rng, op):
    ndim = int(rng.choice([1, 2, 3, 3, 3, 3, 4]))
    if op == 'spacing':
        ndim = int(rng.choice([3, 3, 4]))
    dtype = str(rng.choice(DTYPES))
    if op == 'spacing' and rng.random() < 0.5:
        dtype = 'float32'
    dims = [int(rng.choice([1, 1, 2, 3, 4, 5, 7, 8, 10])) for _ in range(ndim)]
    if ndim == 4:
        dims[3] = int(rng.integers(1, 4))
    if ndim >= 3 and op != 'spacing' and rng.random() < 0.015:  # 4..12 MiB: the library's threads
        side = (rng.uniform(4, 12) * 2 ** 20 / npdt(dtype).itemsize / dims[3 if ndim == 4 else 0] ** (ndim == 4)) ** (1 / 3)
        dims[:3] = [max(2, int(side * rng.uniform(0.7, 1.3))) for _ in range(3)]
    A = draw_affine(rng, ndim, degenerate=(op == 'orient'))
    form = int(rng.integers(0, 2)) if op not in ('orient', 'spacing') else 0
    if op == 'orient':
        args = []
    elif op == 'reorient':
        args = [str(rng.choice(CODES))]
    elif op == 'flip':
        args = [hex(int(rng.integers(0, 1 << max(ndim, 3))))]
    elif op == 'permute':
        args = [str(int(v)) for v in rng.permutation(3)]
    elif op == 'croppad':
        fill = float(rng.choice([0, 7, -3, 2.5, 3.5, 1e6, -0.0]))
        args = [str(int(rng.choice([0, 1, 2, 3, 4, 5, 8, 11]))) for _ in range(3)] + [repr(fill)]
    elif op == 'box':
        d3 = dims + [1] * (3 - ndim)
        st = [int(rng.integers(-3, d3[a] + 2)) for a in range(3)]
        sz = [int(rng.integers(1, d3[a] + 5)) for a in range(3)]
        args = [str(v) for v in st + sz] + [repr(float(rng.choice([0, 5, -1, 2.5])))]
    elif op == 'rot90':
        a0, a1 = [int(v) for v in rng.permutation(3)[:2]]
        args = [str(int(rng.integers(-5, 6))), str(a0), str(a1)]
    else:  # spacing: ties of the rounding, shrinking and growing
        sp = np.sqrt(np.sum(A[:3, :3] ** 2, axis=0))
        new = [float(sp[a] * rng.choice([1.0, 2.0, 0.5, 0.8, 1.3, 4.0, 0.4, 3.0])) for a in range(3)]
        args = [repr(v) for v in new] + [str(int(rng.choice([0, 1])))]  # linear, nearest
        if dtype not in ('float32',) and args[3] == '0':
            args[3] = '1'  # linear takes real data: the other dtypes go nearest
        if dtype == 'float16' or dtype in NPDT or dtype.startswith('complex'):
            args[3] = '1'
    return ndim, dims, dtype, A, form, args


def spatial_data(rng, dtype, dims):
    dt = npdt(dtype)
    n = int(np.prod(dims))
    ids = dtype in ('int32', 'uint32', 'int64', 'float64') and rng.random() < 0.8
    if ids:
        raw = (np.arange(n) + ID0).astype(dt)
    else:  # random bytes: NaN payloads, signalling NaNs and -0 must move untouched
        raw = np.frombuffer(rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8).tobytes(), dtype=dt).copy()
    # medvol's (x, y, z, ...) array: the raw file is its Fortran order
    arr = raw.reshape(dims[::-1]).T
    return arr, ids


def as3(arr):
    return arr.reshape(arr.shape + (1,) * max(0, 3 - arr.ndim))


def expected_dims(in_ndim, ref_shape):
    """>>api-spatial MISSING AXES: the input's ndim unless an added axis
    got a size other than 1; then 3D"""
    if in_ndim >= 3:
        return list(ref_shape)
    if all(ref_shape[a] == 1 for a in range(in_ndim, 3)):
        return list(ref_shape[:in_ndim])
    return list(ref_shape[:3])


def spatial_reference(op, arr, A, args, dtype):
    """(data, affine, voxel map out -> in or None) of nibabel / numpy"""
    import nibabel.orientations as no
    a3 = as3(arr)
    s3 = a3.shape[:3]
    if op == 'reorient':
        ornt = no.io_orientation(A)
        t = no.ornt_transform(ornt, no.axcodes2ornt(tuple(args[0])))
        M = no.inv_ornt_aff(t, s3)
        return no.apply_orientation(a3, t), A @ M, M
    if op == 'flip':
        m = int(args[0], 0)
        r, M = a3, np.eye(4)
        for a in range(3):
            if m >> a & 1:
                r = np.flip(r, axis=a)
                M = M @ vmap_flip(s3, a)
        for a in range(3, arr.ndim):
            if m >> a & 1:
                r = np.flip(r, axis=a)
        return r, A @ M, M
    if op == 'permute':
        perm = [int(v) for v in args]
        return a3.transpose(perm + list(range(3, a3.ndim))), A @ vmap_perm(perm), vmap_perm(perm)
    if op == 'rot90':
        k, a0, a1 = [int(v) for v in args]
        r = np.rot90(a3, k, axes=(a0, a1))
        k %= 4
        swap = [0, 1, 2]
        swap[a0], swap[a1] = a1, a0
        # numpy.rot90's source: k 1 = transpose(flip(m, a1)); 2 = flip(flip(m, a0), a1);
        # 3 = flip(transpose(m), a1)
        if k == 0:
            M = np.eye(4)
        elif k == 1:
            M = vmap_flip(s3, a1) @ vmap_perm(swap)
        elif k == 2:
            M = vmap_flip(s3, a0) @ vmap_flip(s3, a1)
        else:
            t = [s3[v] for v in swap]
            M = vmap_perm(swap) @ vmap_flip(t, a1)
        return r, A @ M, M
    if op in ('croppad', 'box'):
        if op == 'croppad':
            want = [int(v) for v in args[:3]]
            out = [want[a] if want[a] else s3[a] for a in range(3)]
            # DESIGN.md (MONAI ResizeWithPadOrCrop): crop start in/2 - out/2, pad before (out - in)/2
            start = [s3[a] // 2 - out[a] // 2 if out[a] <= s3[a] else -((out[a] - s3[a]) // 2) for a in range(3)]
            fill = float(args[3])
        else:
            start = [int(v) for v in args[:3]]
            out = [int(v) for v in args[3:6]]
            fill = float(args[6])
        r = np.empty(tuple(out) + a3.shape[3:], a3.dtype)
        if dtype in NPDT:  # every channel (alpha 255), as >>api-resample's fill for RGB
            c = int(np.clip(np.rint(fill), 0, 255))
            r[...] = bytes([c, c, c, 255][:npdt(dtype).itemsize])
        else:  # complex: fill + 0i
            r[...] = fill_as_stored(dtype, fill)
        src = [slice(max(0, start[a]), min(s3[a], start[a] + out[a])) for a in range(3)]
        dst = [slice(max(0, start[a]) - start[a], min(s3[a], start[a] + out[a]) - start[a]) for a in range(3)]
        if all(s.stop > s.start for s in src):
            r[tuple(dst)] = a3[tuple(src)]
        M = np.eye(4)
        M[:3, 3] = start
        return r, A @ M, M
    raise ValueError(op)


def parse_out(text):
    d = {}
    lines = text.strip().split('\n')
    d['dtype'] = lines[0].split()[1]
    g = [int(v) for v in lines[1].split()]
    d['dims'] = g[1:1 + g[0]]
    d['affine'] = np.vstack([np.array([float(v) for v in lines[2].split()[1:]]).reshape(3, 4), [0, 0, 0, 1]])
    d['spacing'] = [float(v) for v in lines[3].split()[1:]]
    return d


def world_check(got, ids, A_in, A_out, in_shape3):
    """every id voxel's world point is where its source voxel's was;
    (max error, allowed)"""
    g = as3(got)
    idx = np.argwhere(np.ones(g.shape[:3], bool))
    if len(idx) > 20000:  # big volumes: a sample of the voxels, corners included
        pick = np.random.default_rng(len(idx)).integers(0, len(idx), 20000)
        idx = np.concatenate([idx[pick], idx[[0, -1]]])
    v = g[tuple(idx.T)]
    if v.ndim > 1:
        v = v[:, 0] if v.ndim == 2 else v.reshape(v.shape[0], -1)[:, 0]
    keep = v >= ID0  # ids; padded voxels hold the fill (|fill| < ID0)
    if not keep.any():
        return 0.0, 1.0
    lin = (v[keep] - ID0).astype(np.int64)
    lin = lin % int(np.prod(in_shape3))  # the frame's voxel
    src = np.stack(np.unravel_index(lin, in_shape3, order='F'), axis=1)
    w_out = idx[keep] @ A_out[:3, :3].T + A_out[:3, 3]
    w_in = src @ A_in[:3, :3].T + A_in[:3, 3]
    ext = float(np.max(np.abs(A_in[:3, :3]))) * (max(in_shape3) + 10) + float(np.max(np.abs(A_in[:3, 3])))
    return float(np.max(np.abs(w_out - w_in))), 1e-9 * ext


def aff_tol(A, shape):
    return 1e-10 * (float(np.max(np.abs(A[:3, :3]))) * (max(shape) + 10) + float(np.max(np.abs(A[:3, 3]))) + 1)


def run_spatial_case(exe, rng, op, fin, fout, stats):
    import nibabel as nib
    ndim, dims, dtype, A, form, args = draw_spatial(rng, op)
    sp = np.sqrt(np.sum(A[:3, :3] ** 2, axis=0))  # nibabel voxel_sizes
    for a in range(ndim, 3):
        sp[a] = 1.0
    geo = [str(len(dims))] + [str(d) for d in dims] + [repr(float(v)) for v in A[:3, :].ravel()] + \
          [repr(float(v)) for v in sp]
    margin = ornt_margin(A)
    tie = margin < 1e-9
    if op == 'orient':
        cmd = [exe, 'spatial', 'orient', dtype] + geo + ['0']
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return False, 'exit %d: %s' % (r.returncode, r.stderr.strip()), cmd
        if tie:
            stats['ties'] += 1
            return True, '', cmd
        code = r.stdout.split('\n')[0].split()[1]
        orn = [int(v) for v in r.stdout.split('\n')[1].split()[1:]]
        ref = ''.join('?' if c is None else c for c in nib.aff2axcodes(A))
        io = nib.orientations.io_orientation(A)
        ref_o = []
        for a in range(3):
            ref_o += [-1, 0] if np.isnan(io[a, 0]) else [int(io[a, 0]), int(io[a, 1])]
        return code == ref and orn == ref_o, 'code %s ornt %s, nibabel %s %s' % (code, orn, ref, ref_o), cmd
    arr, ids = spatial_data(rng, dtype, dims)
    if op == 'spacing' and args[3] == '0':  # linear: finite float32 data
        arr = np.asfortranarray((rng.standard_normal(dims) * 10.0 ** rng.uniform(-3, 3)).astype(np.float32))
    np.asfortranarray(arr).T.tofile(fin)
    if op == 'spacing':
        return run_spacing_case(exe, rng, dims, dtype, A, sp, args, arr, ids, geo, fin, fout, stats)
    if op == 'reorient' and tie:
        # io_orientation's choice is a tie that rounding decides: no nibabel
        # reference; medvol's result must still keep every voxel's world point
        stats['ties'] += 1
        cmd = [exe, 'spatial', op, dtype] + geo + ['0'] + args + [fin, fout]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return False, 'exit %d: %s' % (r.returncode, r.stderr.strip()), cmd
        o = parse_out(r.stdout)
        if sorted(o['dims'][:3]) != sorted(list(as3(arr).shape[:3])) and len(o['dims']) >= 3:
            return False, 'dims %s are no permutation of %s' % (o['dims'], list(arr.shape)), cmd
        got = np.fromfile(fout, dtype=arr.dtype).reshape(o['dims'][::-1]).T
        if ids:
            err, allowed = world_check(got, ids, A, o['affine'], as3(arr).shape[:3])
            if not err <= allowed:
                return False, 'world coordinates moved by %.3g (> %.3g)' % (err, allowed), cmd
        return True, '', cmd
    ref, ref_aff, M = spatial_reference(op, arr, A, args, dtype)
    want_dims = expected_dims(ndim, ref.shape[:3]) + list(ref.shape[3:])
    cmd = [exe, 'spatial', op, dtype] + geo + [str(form)] + args
    if form == 1:
        cmd += [str(len(want_dims)), 'x'.join(str(v) for v in want_dims)]
    cmd += [fin, fout]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return False, 'exit %d: %s' % (r.returncode, r.stderr.strip()), cmd
    o = parse_out(r.stdout)
    if o['dims'] != want_dims:
        return False, 'dims %s, expected %s' % (o['dims'], want_dims), cmd
    got = np.fromfile(fout, dtype=arr.dtype).reshape(want_dims[::-1]).T
    got3 = as3(got).reshape(ref.shape)
    if got3.tobytes() != np.ascontiguousarray(ref).tobytes():
        diff = np.frombuffer(got3.tobytes(), np.uint8) != np.frombuffer(np.ascontiguousarray(ref).tobytes(), np.uint8)
        first = int(np.argmax(diff)) // arr.dtype.itemsize
        return False, 'data: %d of %d bytes differ (first at voxel %s: %r, expected %r)' % (
            int(diff.sum()), diff.size, np.unravel_index(first, ref.shape), got3.reshape(-1)[first],
            np.ascontiguousarray(ref).reshape(-1)[first]), cmd
    tol = aff_tol(A, as3(arr).shape[:3])
    e = float(np.max(np.abs(o['affine'] - ref_aff)))
    stats['aff'] = max(stats['aff'], e / tol)
    if not e <= tol:
        return False, 'affine differs by %.3g (> %.3g):\n%s\nexpected\n%s' % (e, tol, o['affine'], ref_aff), cmd
    ref_sp = np.sqrt(np.sum(ref_aff[:3, :3] ** 2, axis=0))
    if not np.allclose(o['spacing'], ref_sp, rtol=1e-12, atol=0):
        return False, 'spacing %s, expected %s' % (o['spacing'], list(ref_sp)), cmd
    if op == 'reorient' and args[0] == 'RAS' and dtype in ('uint8', 'int16', 'int32', 'float32', 'float64', 'complex64'):
        img = nib.as_closest_canonical(nib.Nifti1Image(as3(arr), A))
        if not (np.ascontiguousarray(np.asarray(img.dataobj)).tobytes() == np.ascontiguousarray(ref).tobytes()
                and np.allclose(img.affine, ref_aff, rtol=0, atol=tol)):
            return False, 'as_closest_canonical disagrees with the ornt_transform reference', cmd
    if ids:
        err, allowed = world_check(got, ids, A, o['affine'], as3(arr).shape[:3])
        stats['world'] = max(stats['world'], err / allowed)
        if not err <= allowed:
            return False, 'world coordinates moved by %.3g (> %.3g)' % (err, allowed), cmd
    return True, '', cmd


def run_spacing_case(exe, rng, dims, dtype, A, sp, args, arr, ids, geo, fin, fout, stats):
    import scipy.ndimage as nd
    new = [float(v) for v in args[:3]]
    interp = int(args[3])
    cmd = [exe, 'spatial', 'spacing', dtype] + geo + ['0'] + args + [fin, fout]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return False, 'exit %d: %s' % (r.returncode, r.stderr.strip()), cmd
    o = parse_out(r.stdout)
    n = dims[:3]
    # >>api-resample: round(in * (old / new)), half to even (Python's round), at least 1
    m = [max(1, int(round(n[a] * (sp[a] / new[a])))) for a in range(3)]
    want = m + dims[3:]
    if o['dims'] != want:
        return False, 'dims %s, expected %s' % (o['dims'], want), cmd
    f = [n[a] / m[a] for a in range(3)]
    M = np.eye(4)
    for a in range(3):  # output voxel o samples (o + 0.5) n/m - 0.5 (scipy zoom grid_mode)
        M[a, a] = f[a]
        M[a, 3] = 0.5 * f[a] - 0.5
    ref_aff = A @ M
    tol = aff_tol(A, n)
    e = float(np.max(np.abs(o['affine'] - ref_aff)))
    stats['aff'] = max(stats['aff'], e / tol)
    if not e <= tol:
        return False, 'affine differs by %.3g (> %.3g):\n%s\nexpected\n%s' % (e, tol, o['affine'], ref_aff), cmd
    # the field of view: outer corners (-0.5 and n - 0.5 of every axis) map to the same world points
    corners = np.array([[c0, c1, c2, 1.0] for c0 in (0, 1) for c1 in (0, 1) for c2 in (0, 1)])
    ci = corners.copy()
    ci[:, :3] = corners[:, :3] * np.array(n) - 0.5
    co = corners.copy()
    co[:, :3] = corners[:, :3] * np.array(m) - 0.5
    fe = float(np.max(np.abs((ci @ A.T) - (co @ o['affine'].T))))
    if not fe <= tol * 10:
        return False, 'field of view moved by %.3g' % fe, cmd
    ref_sp = [sp[a] * n[a] / m[a] for a in range(3)]  # old * in / out
    if not np.allclose(o['spacing'], ref_sp, rtol=1e-12, atol=0):
        return False, 'spacing %s, expected old*in/out %s' % (o['spacing'], ref_sp), cmd
    vs = np.sqrt(np.sum(o['affine'][:3, :3] ** 2, axis=0))
    if not np.allclose(vs, ref_sp, rtol=1e-9, atol=0):
        return False, 'spacing %s is not the affine\'s voxel sizes %s' % (o['spacing'], list(vs)), cmd
    a3 = as3(arr)
    zoom = [m[a] / n[a] for a in range(3)]
    if interp == 1:  # nearest: scipy's voxel choice on an index grid, any dtype, bit for bit
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            grid = np.arange(int(np.prod(n)), dtype=np.float64).reshape(n)
            pick = nd.zoom(grid, zoom, order=0, mode='nearest', grid_mode=True).astype(np.int64)
        flat = a3.reshape((int(np.prod(n)),) + a3.shape[3:])
        ref = flat[pick.reshape(-1)].reshape(tuple(m) + a3.shape[3:])
        got = np.fromfile(fout, dtype=arr.dtype).reshape(want[::-1]).T.reshape(ref.shape)
        if o['dtype'] != (dtype if dtype in NPDT else np.dtype(dtype).name):
            return False, 'nearest output dtype %s, input %s' % (o['dtype'], dtype), cmd
        if got.tobytes() != np.ascontiguousarray(ref).tobytes():
            return False, 'nearest data: %d voxels differ' % int(np.sum(
                np.frombuffer(got.tobytes(), np.uint8) != np.frombuffer(np.ascontiguousarray(ref).tobytes(),
                                                                        np.uint8))), cmd
    else:  # linear, float32 input with finite values
        x = a3.astype(np.float64)
        x4 = x.reshape(x.shape[:3] + (-1,))
        ref = np.stack([nd.zoom(x4[..., t], zoom, order=1, mode='nearest', grid_mode=True)
                        for t in range(x4.shape[3])], axis=-1).reshape(tuple(m) + a3.shape[3:])
        got = np.fromfile(fout, dtype=np.float32).reshape(want[::-1]).T.reshape(ref.shape)
        big = float(np.max(np.abs(x))) if x.size else 0.0
        err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        if not err <= 2e-5 * big:
            return False, 'linear: max error %.3g > %.3g' % (err, 2e-5 * big), cmd
    return True, '', cmd


def fixed_cases(exe, fin, fout):
    """The disagreements the random cases found, as fixed cases (minimal
    reproducers); the count of failures"""
    bad = 0
    # rfft / irfft of two rows, row 0 a million times row 1: numpy
    # transforms each row on its own (row 1's error ~eps |row 1|); medvol
    # rode the two real rows as one complex line, x + i y, so row 1 got
    # row 0's rounding errors (~0.1 on values ~1, every ISA)
    k = np.arange(16)
    x = np.stack([1e6 * np.sin(1.3 * k + 0.2), np.cos(0.9 * k)]).astype(np.float32)
    b9 = np.arange(9)
    X = np.stack([1e6 * np.cos(0.7 * b9 + 0.1) + 0j, np.sin(0.4 * b9) + 1j * np.cos(0.3 * b9)]).astype(np.complex64)
    for kind, data, ref in (('r2c', x, np.fft.rfft(x.astype(np.float64), axis=-1)),
                            ('c2r', X, np.fft.irfft(X.astype(np.complex128), 16, axis=-1))):
        data.tofile(fin)
        cmd = [exe, 'fft', kind, '2', '16', '2', '0x1', '1' if kind == 'c2r' else '0', '0', '1', '1', fin, fout]
        r = subprocess.run(cmd, capture_output=True, text=True)
        got = np.fromfile(fout, np.float32 if kind == 'c2r' else np.complex64) if r.returncode == 0 else None
        tol = 2 * EPS32 * axis_cost(16) * np.max(np.abs(ref[1]))
        err = np.max(np.abs(got.reshape(ref.shape)[1] - ref[1])) if got is not None and got.size == ref.size else None
        if err is None or not err <= tol:
            bad += 1
            print('FAIL fixed fft %s: row 1 of two (row 0 1e6 times larger): max error %s > %.3g\n  %s' % (
                kind, err, tol, ' '.join(cmd)))
    # padding complex64 and rgb24 volumes: the fill (>>api-spatial "value of
    # padded voxels"; RGB: every channel, as >>api-resample's fill)
    for dtype, want in (('complex64', np.complex64(2.5)), ('rgb24', np.void(b'\x03\x03\x03'))):
        v = np.zeros(4, npdt(dtype))
        v.tofile(fin)
        geo = ['3', '4', '1', '1'] + ['1', '0', '0', '0', '0', '1', '0', '0', '0', '0', '1', '0'] + ['1', '1', '1']
        cmd = [exe, 'spatial', 'croppad', dtype] + geo + ['0', '6', '0', '0', '2.6' if dtype == 'rgb24' else '2.5',
                                                           fin, fout]
        r = subprocess.run(cmd, capture_output=True, text=True)
        got = np.fromfile(fout, v.dtype) if r.returncode == 0 else None
        if got is None or got.size != 6 or got[0].tobytes() != np.array(want).tobytes() or \
                got[5].tobytes() != np.array(want).tobytes():
            bad += 1
            print('FAIL fixed croppad %s: padded voxels %r, expected %r\n  %s' % (
                dtype, None if got is None else (got[0], got[5]), want, ' '.join(cmd)))
    print('fixed     4 cases, %d failures' % bad)
    return bad


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    exe = sys.argv[1]
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261126
    which = sys.argv[4] if len(sys.argv) > 4 else 'both'
    budget = int(os.environ.get('DIFF_NUMPY_BUDGET', 1 << 16))  # voxels per FFT case
    rng = np.random.default_rng(seed)
    tmp = tempfile.mkdtemp(prefix='diff_numpy.')
    fin, fout = os.path.join(tmp, 'in.raw'), os.path.join(tmp, 'out.raw')
    info = subprocess.run([exe, 'info'], capture_output=True, text=True)
    print('diff_numpy: %s' % (info.stdout.strip() or info.stderr.strip()))
    if info.returncode != 0:
        return 2
    bad = fixed_cases(exe, fin, fout)

    def report(fam, what, cmd):
        nonlocal bad
        bad += 1
        keep = fin + '.fail%d' % bad
        if os.path.exists(fin):
            os.replace(fin, keep)
        print('FAIL %s: %s\n  %s' % (fam, what, ' '.join(c if c != fin else keep for c in cmd)))

    if which in ('fft', 'both'):
        worst = {'c2c': 0.0, 'r2c': 0.0, 'c2r': 0.0, 'fftc': 0.0}
        for _ in range(2 * cases):
            ok, what, cmd, ratio = run_fft_case(exe, rng, budget, fin, fout)
            worst[cmd[2]] = max(worst[cmd[2]], ratio)
            if not ok:
                report('fft %s' % cmd[2], what, cmd)
        print('fft       %d cases, worst error of the tolerance: %s' % (
            2 * cases, ', '.join('%s %.3f' % kv for kv in worst.items())))
    if which in ('spatial', 'both'):
        stats = {'ties': 0, 'aff': 0.0, 'world': 0.0}
        ops = ['orient', 'reorient', 'flip', 'permute', 'croppad', 'box', 'rot90', 'spacing']
        for op in ops:
            for _ in range(cases if op != 'reorient' else 2 * cases):
                ok, what, cmd = run_spatial_case(exe, rng, op, fin, fout, stats)
                if not ok:
                    report(op, what, cmd)
        print('spatial   %d cases per op (reorient %d), %d near-tie orientations left out of the nibabel '
              'comparisons; worst affine error %.3g, world error %.3g of the tolerance' % (
                  cases, 2 * cases, stats['ties'], stats['aff'], stats['world']))
    print('diff_numpy: %d failures (seed %d)' % (bad, seed))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
