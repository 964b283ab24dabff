"""numpy / scipy.ndimage references for tests/test_math.c and tests/test_morph.c.

Usage: ref_morph.py DIR. DIR/cases.txt has one case a line:
    ID OP NDIM D0 D1 ... PARAMS...
DIR/ID.a (and DIR/ID.b) are float32 little-endian arrays with x fastest,
read here as nibabel's get_fdata() array: shape (D0, D1, ...), Fortran
order. Each case writes DIR/ID.out the same way (float32, or int32 for
labels). Every figure is numpy's or scipy's, never medvol's.

Ops:
  where BV                  np.where(a != 0, b, BV)
  math NAME SCALAR|- FILL   numpy float32 expression of mv_math (b from ID.b
                            when SCALAR is '-', broadcast over the 4th axis
                            when it has fewer voxels)
  label CONN ORDER          scipy.ndimage.label(a != 0, structure=
                            generate_binary_structure(3, c)); ORDER 0 on the
                            (X, Y, Z) array, 1 on its transpose
  edt SX SY SZ SIGNED       scipy.ndimage.distance_transform_edt(a != 0,
                            sampling=(SX, SY, SZ)); SIGNED 1:
                            np.where(m, -edt(m), edt(~m)); float64 out
  morph OP SHAPE R S0 S1 S2 CONN ITER BORDER   scipy binary_erosion / _dilation /
                            _opening / _closing with the ball (offsets with
                            ((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2 <= R^2), box or
                            generate_binary_structure(3, c); uint8 out. A ball
                            reaching past 16 voxels goes through scipy's
                            feature transform instead (ball_by_ft: minutes -> ms)
  fill AXIS                 binary_fill_holes (3D, or per slice normal to AXIS)
  regions NL A00..A23       per label 0..NL-1 of np.rint(b): count, finite count,
                            sum mean std min max of a (float64, finite), centroid
                            (affine at the mean index), bbox, volume
  grey erode|dilate A B C   grey_erosion / grey_dilation(a, size=(A, B, C))
  nifti PATH THR CONN       the same label on a real file: (get_fdata(float32)
                            > THR), int32 out; ID.edt the float64 EDT of it
"""
import os
import sys

import numpy as np

try:
    import scipy.ndimage as ndi
except ImportError:  # the C side skips, naming the package
    sys.exit(3)

F32 = np.float32


def load(path, shape):
    return np.fromfile(path, dtype='<f4').reshape(shape, order='F')


def save(path, arr, dt):
    np.asarray(arr).astype(dt).ravel(order='F').astype(np.dtype(dt).newbyteorder('<')).tofile(path)


def math(name, a, b, fill):
    fill = F32(fill)
    with np.errstate(all='ignore'):
        if name == 'add': return a + b
        if name == 'sub': return a - b
        if name == 'mul': return a * b
        if name == 'div': return a / b
        if name == 'min': return np.minimum(a, b)
        if name == 'max': return np.maximum(a, b)
        if name == 'pow': return (a.astype(np.float64) ** np.asarray(b, np.float64)).astype(F32)
        if name == 'gt': return (a > b).astype(F32)
        if name == 'ge': return (a >= b).astype(F32)
        if name == 'lt': return (a < b).astype(F32)
        if name == 'le': return (a <= b).astype(F32)
        if name == 'eq': return (a == b).astype(F32)
        if name == 'ne': return (a != b).astype(F32)
        if name == 'thr': return np.where(a < b, fill, a).astype(F32)
        if name == 'uthr': return np.where(a > b, fill, a).astype(F32)
        if name == 'mas': return np.where(np.broadcast_to(b, a.shape) > 0, a, fill).astype(F32)
        if name == 'abs': return np.abs(a)
        if name == 'sqrt': return np.sqrt(a)
        if name == 'exp': return np.exp(a.astype(np.float64)).astype(F32)
        if name == 'log': return np.log(a.astype(np.float64)).astype(F32)
        if name == 'sqr': return a * a
        if name == 'recip': return F32(1) / a
        if name == 'bin': return (a > 0).astype(F32)
        if name == 'binv': return (~(a > 0)).astype(F32)
        if name == 'nan': return np.where(np.isnan(a), F32(0), a).astype(F32)
    raise SystemExit('unknown op ' + name)


def label(m, conn, order):
    st = ndi.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[conn])
    if order == 1:
        return ndi.label(m.T, structure=st)[0].T
    return ndi.label(m, structure=st)[0]


def edt(m, sampling, signed):
    if not signed:
        return ndi.distance_transform_edt(m, sampling=sampling)
    return np.where(m, -ndi.distance_transform_edt(m, sampling=sampling),
                    ndi.distance_transform_edt(~m, sampling=sampling))


def structure(shape, r, s, conn):
    if shape == 'ball':
        k = [int(np.floor(r / v + 1e-9)) for v in s]
        g = np.meshgrid(*[np.arange(-q, q + 1) for q in k], indexing='ij')
        return ((g[0] * s[0]) ** 2 + (g[1] * s[1]) ** 2) + (g[2] * s[2]) ** 2 <= r * r
    if shape == 'box':
        return np.ones(tuple(2 * int(np.floor(r / v + 1e-12)) + 1 for v in s), bool)
    return ndi.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[conn])


def ball_by_ft(m, r, s, erode, border):
    """binary_erosion / _dilation by the ball, through scipy's feature transform:
    a voxel keeps (erosion) / gains (dilation) iff its nearest site (background
    / foreground, the outside counting as border) lies beyond / within r, the
    squared distance summed as the ball's test, ((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2.
    For big balls, where scipy's erosion (all offsets a voxel) takes minutes."""
    k = [int(np.floor(r / v + 1e-9)) + 1 for v in s]
    sites = ~m if erode else m
    pad = np.pad(sites, [(q, q) for q in k], constant_values=(border == 0) if erode else (border == 1))
    if not pad.any():
        return np.ones_like(m) if erode else np.zeros_like(m)
    ft = ndi.distance_transform_edt(~pad, sampling=s, return_distances=False, return_indices=True)
    sl = tuple(slice(q, q + n) for q, n in zip(k, m.shape))
    idx = np.indices(pad.shape)
    d2 = None
    for a in range(3):
        t = (ft[a][sl] - idx[a][sl]).astype(np.float64) * s[a]
        d2 = t * t if d2 is None else d2 + t * t
    return d2 > r * r if erode else d2 <= r * r


def morph(m, p):
    # OP SHAPE R S0 S1 S2 CONN ITER BORDER
    op, shape, r = p[0], p[1], float(p[2])
    s = tuple(float(v) for v in p[3:6])
    conn, it, border = int(p[6]), int(p[7]), int(p[8])
    if shape == 'ball' and max(r / v for v in s) > 16:
        steps = {'erode': [1], 'dilate': [0], 'open': [1, 0], 'close': [0, 1]}[op]
        for e in steps:
            m = ball_by_ft(m, r, s, e, border)
        return m
    st = structure(shape, r, s, conn)
    f = {'erode': ndi.binary_erosion, 'dilate': ndi.binary_dilation,
         'open': ndi.binary_opening, 'close': ndi.binary_closing}[op]
    return f(m, structure=st, iterations=it, border_value=border)


def main(d):
    for line in open(os.path.join(d, 'cases.txt')):
        w = line.split()
        if not w:
            continue
        cid, op, nd = w[0], w[1], int(w[2])
        shape = tuple(int(x) for x in w[3:3 + nd])
        p = w[3 + nd:]
        base = os.path.join(d, cid)
        if op == 'nifti':
            import nibabel as nib
            x = nib.load(p[0]).get_fdata(dtype=F32)
            m = x > F32(float(p[1]))
            save(base + '.out', label(m, int(p[2]), 0), np.int32)
            save(base + '.edt', ndi.distance_transform_edt(m, sampling=nib.load(p[0]).header.get_zooms()[:3]),
                 np.float64)
            continue
        a = load(base + '.a', shape)
        if op == 'math':
            name, sc, fill = p[0], p[1], float(p[2])
            if sc == '-':
                b = np.fromfile(base + '.b', dtype='<f4')
                if b.size == a.size:
                    b = b.reshape(shape, order='F')
                else:  # one 3D frame over the series
                    b = b.reshape(shape[:3], order='F').reshape(shape[:3] + (1,) * (len(shape) - 3))
            else:
                b = F32(float(sc))
            save(base + '.out', math(name, a, b, fill), F32)
        elif op == 'where':  # np.where(a != 0, b, BV)
            b = load(base + '.b', shape)
            save(base + '.out', np.where(a != 0, b, F32(float(p[0]))).astype(F32), F32)
        elif op == 'label':
            save(base + '.out', label(a != 0, int(p[0]), int(p[1])), np.int32)
        elif op == 'edt':
            save(base + '.out', edt(a != 0, tuple(float(v) for v in p[:3]), int(p[3])), np.float64)
        elif op == 'regions':  # NL then the 12 numbers of the affine's top rows
            nl = int(p[0])
            A = np.array([float(v) for v in p[1:13]] + [0, 0, 0, 1]).reshape(4, 4)
            lab = np.rint(load(base + '.b', shape)).astype(np.int64)
            rows = []
            idx = np.indices(shape).reshape(3, -1).T  # (i, j, k) in F order below
            for l in range(nl):
                sel = lab == l
                v = a[sel].astype(np.float64)
                fin = v[np.isfinite(v)]
                ijk = np.argwhere(sel)
                c = A[:3, :3] @ ijk.mean(axis=0) + A[:3, 3] if len(ijk) else [np.nan] * 3
                bb = list(ijk.min(axis=0)) + list(ijk.max(axis=0)) if len(ijk) else [0, 0, 0, -1, -1, -1]
                stats = [fin.sum(), fin.mean(), fin.std(), fin.min(), fin.max()] if len(fin) else [0] + [np.nan] * 4
                rows.append([sel.sum(), len(fin)] + stats + list(c) + bb + [sel.sum() * abs(np.linalg.det(A[:3, :3]))])
            np.array(rows, np.float64).astype('<f8').tofile(base + '.out')
        elif op == 'morph':
            save(base + '.out', morph(a != 0, p), np.uint8)
        elif op == 'fill':
            m, ax = a != 0, int(p[0])
            if ax < 0:
                out = ndi.binary_fill_holes(m)
            else:
                out = np.stack([ndi.binary_fill_holes(np.take(m, i, axis=ax)) for i in range(m.shape[ax])], axis=ax)
            save(base + '.out', out, np.uint8)
        elif op == 'grey':
            size = tuple(int(v) for v in p[1:4])
            f = ndi.grey_erosion if p[0] == 'erode' else ndi.grey_dilation
            save(base + '.out', f(a, size=size), F32)
        else:
            raise SystemExit('unknown case ' + op)


if __name__ == '__main__':
    main(sys.argv[1])
