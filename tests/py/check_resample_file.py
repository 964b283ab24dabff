#!/usr/bin/python3
"""Checks a file `mvtool resample` wrote against scipy.ndimage.zoom and
nibabel on the input file.

    /usr/bin/python3 tests/py/check_resample_file.py IN OUT shape|spacing A,B,C INTERP ALIGN

shape: A,B,C is the output shape; spacing: the new voxel spacing in mm, the
shape being round(in * old / new) (half to even, as numpy and scipy round).
INTERP nearest|linear|cubic = zoom order 0|1|3; ALIGN 0 = grid_mode=True
(field of view kept), 1 = grid_mode=False (corner voxel centres kept);
mode='nearest' (the edge continues). 4D inputs: each 3D frame.
Values to 1e-5 of the data's largest magnitude (medvol interpolates in
float32, scipy here in float64); the output must be float32.
The affine, through nibabel.affines.apply_affine on both files' affines:
the grid's corners stay at the same world points (align 0: the outer voxel
edges, -0.5 and n - 0.5, i.e. the field of view; align 1: the corner voxel
centres), which fixes the whole affine; to float32 precision (the file
stores it as float32). (nibabel's rescale_affine is no reference here: it
keeps the world point of voxel (n-1)//2, rounded down.) The stored spacing
must be the new affine's voxel sizes.
Prints OK or the first difference and exits 1."""
import sys

import numpy as np
import nibabel as nib
import scipy.ndimage as nd
from nibabel.affines import apply_affine, voxel_sizes

src, dst, mode, arg, interp, align = sys.argv[1:7]
align = int(align)
img = nib.load(src)
out = nib.load(dst)
x = img.get_fdata(dtype=np.float64)
shape_in = np.array(img.shape[:3])
order = {'nearest': 0, 'linear': 1, 'cubic': 3}[interp]


def fail(msg):
    print('FAIL resample %s -> %s (%s %s %s align=%d): %s' % (src, dst, mode, arg, interp, align, msg))
    sys.exit(1)


vals = [float(v) for v in arg.split(',')]
if mode == 'shape':
    shape_out = np.array([int(v) for v in vals])
else:
    old = np.array(img.header.get_zooms()[:3], dtype=np.float64)
    shape_out = np.round(shape_in * old / np.array(vals)).astype(int)
if tuple(out.shape) != tuple(shape_out) + tuple(img.shape[3:]):
    fail('shape %s, expected %s' % (out.shape, tuple(shape_out) + tuple(img.shape[3:])))
if out.get_data_dtype() != np.float32:
    fail('dtype %s, expected float32' % out.get_data_dtype())

frames = x.reshape(tuple(shape_in) + (-1,), order='F')
want = np.empty(tuple(shape_out) + (frames.shape[3],))
factors = [o / i for o, i in zip(shape_out, shape_in)]
for t in range(frames.shape[3]):
    want[..., t] = nd.zoom(frames[..., t], factors, output=np.float64, order=order, mode='nearest',
                           grid_mode=not align)
got = out.get_fdata(dtype=np.float64).reshape(want.shape, order='F')
tol = 1e-5 * max(1.0, np.max(np.abs(x)))
d = np.max(np.abs(got - want))
if not d <= tol:
    i = np.unravel_index(np.argmax(np.abs(got - want)), want.shape)
    fail('max difference %g > %g at %s: %r vs scipy %r' % (d, tol, i, got[i], want[i]))

# the 8 corners of the grid, in voxel coordinates of the output and of the input
corners_out = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=np.float64)
if align:
    pos_out, pos_in = corners_out * (shape_out - 1), corners_out * (shape_in - 1)
else:
    pos_out, pos_in = corners_out * shape_out - 0.5, corners_out * shape_in - 0.5
w_out, w_in = apply_affine(out.affine, pos_out), apply_affine(img.affine, pos_in)
scale = max(1.0, np.max(np.abs(w_in)))
if np.max(np.abs(w_out - w_in)) > 2e-6 * scale:
    fail('grid corners at world %s, input grid corners at %s' % (w_out.tolist(), w_in.tolist()))
zooms = np.array(out.header.get_zooms()[:3], dtype=np.float64)
if np.max(np.abs(zooms - voxel_sizes(out.affine))) > 1e-6 * np.max(voxel_sizes(out.affine)):
    fail('spacing %s, affine voxel sizes %s' % (zooms.tolist(), voxel_sizes(out.affine).tolist()))
print('OK')
