#!/usr/bin/python3
"""Checks a file mvtool wrote for one operation against numpy / nibabel on
the input file. Usage: /usr/bin/python3 tests/py/check_op_file.py OP IN OUT [ARGS...]
OP: znorm, znorm-nonzero, rescale LO HI, clamp LO HI, crop-or-pad X Y Z,
flip AXIS..., reorient CODE. Values to 1e-6 of the result's range (float32
output against float64 numpy), moves exactly; the affine to float32
precision (the file stores it as float32).
Prints OK or the first difference and exits 1."""
import sys

import numpy as np
import nibabel as nib
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

op, src, dst = sys.argv[1:4]
args = sys.argv[4:]
img = nib.load(src)
out = nib.load(dst)
x = img.get_fdata(dtype=np.float64)
aff = img.affine


def fail(msg):
    print('FAIL %s %s: %s' % (op, src, msg))
    sys.exit(1)


def crop_or_pad(a, shape):
    for ax, n in enumerate(shape):
        if n > a.shape[ax]:
            before = (n - a.shape[ax]) // 2
            pad = [(0, 0)] * a.ndim
            pad[ax] = (before, n - a.shape[ax] - before)
            a = np.pad(a, pad)
        elif n < a.shape[ax]:
            st = a.shape[ax] // 2 - n // 2
            sl = [slice(None)] * a.ndim
            sl[ax] = slice(st, st + n)
            a = a[tuple(sl)]
    return a


def shift_affine(shape_in, shape_out):
    """crop_or_pad keeps voxel world positions: input voxel start -> output voxel 0"""
    T = np.eye(4)
    for ax in range(3):
        i, o = shape_in[ax], shape_out[ax]
        T[ax, 3] = i // 2 - o // 2 if o <= i else -((o - i) // 2)
    return aff @ T


values = True
if op in ('znorm', 'znorm-nonzero'):
    sel = np.isfinite(x) & ((x != 0) if op == 'znorm-nonzero' else True)
    m, s = x[sel].mean(), x[sel].std()
    want = (x - m) / s
    if op == 'znorm-nonzero':
        want = np.where(x != 0, want, 0)
    want_aff = aff
elif op == 'rescale':
    lo, hi = float(args[0]), float(args[1])
    want = (x - x.min()) / (x.max() - x.min()) * (hi - lo) + lo
    want_aff = aff
elif op == 'clamp':
    # medvol clamps the float32 values with float32 bounds, as numpy.clip would
    want = np.clip(x.astype(np.float32), np.float32(args[0]), np.float32(args[1])).astype(np.float64)
    want_aff = aff
elif op == 'crop-or-pad':
    shape = [int(v) for v in args]
    want = crop_or_pad(np.asanyarray(img.dataobj.get_unscaled()), shape)
    want_aff = shift_affine(img.shape, want.shape)
    values = False
elif op in ('flip', 'reorient'):
    # nibabel's reorientation: its affine, and its voxel order applied to the stored values
    if op == 'flip':
        ornt = np.array([[0, 1], [1, 1], [2, 1]])
        for a in args:
            ornt[int(a), 1] = -1
        ro = img.as_reoriented(ornt)
    elif args[0] == 'RAS':
        ornt = io_orientation(aff)
        ro = nib.as_closest_canonical(img)
    else:
        ornt = ornt_transform(io_orientation(aff), axcodes2ornt(tuple(args[0])))
        ro = img.as_reoriented(ornt)
    want = apply_orientation(np.asanyarray(img.dataobj.get_unscaled()), ornt)
    want_aff, values = ro.affine, False
else:
    fail('unknown op')

if out.shape != want.shape:
    fail('shape %s, numpy %s' % (out.shape, want.shape))
if values:
    got = out.get_fdata(dtype=np.float64)
    if out.get_data_dtype() != np.float32:
        fail('dtype %s, expected float32' % out.get_data_dtype())
    tol = 1e-6 * max(1.0, np.nanmax(np.abs(want)))
    d = np.nanmax(np.abs(got - want))
    if not d <= tol:
        fail('max difference %g > %g' % (d, tol))
else:
    got = np.asanyarray(out.dataobj.get_unscaled())
    if got.dtype.newbyteorder('=') != want.dtype.newbyteorder('=') or not np.array_equal(got, want):
        fail('voxels differ (dtype %s vs %s)' % (got.dtype, want.dtype))
    if out.dataobj.slope != img.dataobj.slope or out.dataobj.inter != img.dataobj.inter:
        fail('scaling changed')
# the file holds the affine as float32 (sform): equal to that precision
if np.max(np.abs(out.affine - want_aff)) > 1e-6 * max(1.0, np.max(np.abs(want_aff))):
    fail('affine %s, nibabel %s' % (out.affine.tolist(), want_aff.tolist()))
print('OK')
