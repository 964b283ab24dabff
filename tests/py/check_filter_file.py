"""Checks an mvtool smooth / gradient output file against scipy / numpy.
Usage: check_filter_file.py IN OUT smooth SX,SY,SZ MM MODE CVAL
       check_filter_file.py IN OUT gradient
IN is read with nibabel (get_fdata: scaling applied); nibabel arrays are
(x, y, z), so the sigmas go in that order; MM = 1: sigmas in mm (divided by
the voxel sizes). Exit 0 when max |out - ref| <= 1e-5 * max(1, max |ref|)."""
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage

img = nib.load(sys.argv[1])
x = img.get_fdata()
out = np.asarray(nib.load(sys.argv[2]).dataobj, dtype=np.float64)
if sys.argv[3] == 'smooth':
    s = np.array([float(v) for v in sys.argv[4].split(',')])
    if sys.argv[5] == '1':
        s = s / np.array(img.header.get_zooms()[:3])
    s = list(s) + [0.0] * (x.ndim - 3)
    ref = ndimage.gaussian_filter(x, s, mode=sys.argv[6], cval=float(sys.argv[7]))
else:
    v = x.reshape(x.shape[:3])
    g = [np.gradient(v, axis=a) if v.shape[a] > 1 else np.zeros_like(v) for a in range(3)]
    G = np.linalg.inv(img.affine[:3, :3]).T
    ref = np.stack([G[r, 0] * g[0] + G[r, 1] * g[1] + G[r, 2] * g[2] for r in range(3)], axis=-1)
if out.shape != ref.shape:
    print('shape %s vs scipy %s' % (out.shape, ref.shape))
    sys.exit(1)
err = np.max(np.abs(out - ref)) / max(1.0, np.max(np.abs(ref)))
print('rel err %.3g' % err)
sys.exit(0 if err <= 1e-5 else 1)
