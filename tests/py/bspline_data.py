"""Real test pairs with a known smooth deformation for tests/test_bspline.c
(and bench/bspline_vs_elastix.py).

usage: bspline_data.py REGDATA OUTDIR SPACING_MM [2d]

REGDATA holds the MNI ICBM152 2009a T1 (1 mm) that tests/py/reg_data.py
fetches from PyPI's nilearn wheel. The source S is that volume Gaussian-
smoothed (sigma = SPACING/2 mm, the anti-alias of the coarser grid). The
fixed image is S sampled (scipy map_coordinates, order 3) on a grid of
SPACING mm over the brain's bounding box; the moving image is S sampled at
q + g(q) on the same grid, g an analytic smooth field in RAS mm
(amplitude ~3-4 mm, periods of about the brain's size). Both are samples of
one continuous image, so no interpolation blur favours a wrong field. The
field a registration must find is d with fixed(p) = moving(p + d(p)):
p + d + g(p + d) = p, solved per voxel by fixed-point iteration on the
analytic g (residual < 1e-9 mm). Written (nibabel, float32):
  def{SP}[2d]_fixed.nii, _moving.nii, _mask.nii (S > 0.15 max, brain),
  _true.nii (d as an ITK field: (X,Y,Z,1,3), LPS mm, intent 1007).
2d: the axial slice through the middle of the box, a 2D pair (dim[2] = 1,
the field (X,Y,1,1,2)) with g's in-plane part.
Prints "ok" or "SKIP: reason".
"""
import os
import sys

import numpy as np

from build_lock import hold, write_whole

try:
    import nibabel as nib
    from scipy import ndimage
except ImportError as e:
    print("SKIP: python module missing: %s" % e)
    sys.exit(0)

REG, OUT, SP = sys.argv[1], sys.argv[2], float(sys.argv[3])
TWO_D = len(sys.argv) > 4 and sys.argv[4] == "2d"
MNI = os.path.join(REG, "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
if not os.path.exists(MNI):
    print("SKIP: %s not found (tests/py/reg_data.py fetches it)" % MNI)
    sys.exit(0)
tag = "def%g%s" % (SP, "2d" if TWO_D else "")
LOCK = hold(OUT)  # suites run side by side: one builds, the others wait
if os.path.exists(os.path.join(OUT, tag + "_true.nii")):
    print("ok")
    sys.exit(0)

img = nib.load(MNI)
src = np.asarray(img.get_fdata(), np.float64)
A = img.affine
S = ndimage.gaussian_filter(src, SP / 2.0 / np.abs(np.diag(A)[:3]))
coef = ndimage.spline_filter(S, order=3, mode="nearest")
Ai = np.linalg.inv(A)
# bounding box of the brain (voxels above 10% of the max), 4 mm margin
idx = np.argwhere(S > 0.1 * S.max())
lo = A[:3, :3] @ idx.min(0) + A[:3, 3] - 4.0
hi = A[:3, :3] @ idx.max(0) + A[:3, 3] + 4.0
lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
shape = [int(np.floor((hi[a] - lo[a]) / SP)) + 1 for a in range(3)]
if TWO_D:
    mid = 0.5 * (lo[2] + hi[2])
    lo[2] = mid
    shape[2] = 1
F_aff = np.diag([SP, SP, SP, 1.0])
F_aff[:3, 3] = lo
ctr = 0.5 * (lo + hi)
ext = hi - lo


def g(x):
    """analytic smooth displacement (RAS mm) at points x (3, N)"""
    u = (x - ctr[:, None]) / ext[:, None]
    out = np.empty_like(x)
    out[0] = 3.0 * np.sin(2 * np.pi * u[1] + 0.4) * np.cos(np.pi * u[2])
    out[1] = 3.5 * np.sin(2 * np.pi * u[0] + 1.0) * np.cos(np.pi * u[2] - 0.3)
    out[2] = 2.5 * np.sin(2 * np.pi * u[0] - 0.5) * np.sin(2 * np.pi * u[1] + 0.2)
    if TWO_D:
        out[2] = 0
    return out


grid = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")
vox = np.stack([v.ravel(order="F") for v in grid])  # x fastest
p = F_aff[:3, :3] @ vox + F_aff[:3, 3:4]


def sample(x):
    v = Ai[:3, :3] @ x + Ai[:3, 3:4]
    return ndimage.map_coordinates(coef, v, order=3, mode="nearest", prefilter=False)


fixed = sample(p)
moving = sample(p + g(p))
d = np.zeros_like(p)
for _ in range(200):
    dn = -g(p + d)
    if np.max(np.abs(dn - d)) < 1e-11:
        d = dn
        break
    d = dn
res = np.max(np.abs(d + g(p + d)))
if res > 1e-9:
    raise SystemExit("inverse did not converge: %g" % res)


def save(name, arr, dims):
    im = nib.Nifti1Image(arr.astype(np.float32), F_aff)
    write_whole(os.path.join(OUT, tag + name), lambda t: nib.save(im, t))


dims = tuple(shape)
save("_fixed.nii", fixed.reshape(dims, order="F"), dims)
save("_moving.nii", moving.reshape(dims, order="F"), dims)
save("_mask.nii", (fixed > 0.15 * fixed.max()).reshape(dims, order="F").astype(np.float32), dims)
nc = 2 if TWO_D else 3
lps = d[:nc] * np.array([-1.0, -1.0, 1.0])[:nc, None]
fld = np.stack([lps[c].reshape(dims, order="F") for c in range(nc)], axis=-1)[:, :, :, None, :]
im = nib.Nifti1Image(fld.astype(np.float32), F_aff)
im.header.set_intent(1007)
im.header["xyzt_units"] = 2
write_whole(os.path.join(OUT, tag + "_true.nii"), lambda t: nib.save(im, t))
print("ok")
