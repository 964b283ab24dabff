"""SimpleITK applies medvol's .tfm: sitk.ReadTransform + sitk.Resample of
MOVING onto FIXED (linear), compared with medvol's warped image over the
fixed voxels whose mapped point lies inside the moving grid ([0, n-1] per
axis, where both tools interpolate rather than extrapolate).

usage: sitk_apply.py FIXED.nii MOVING.nii T.tfm WARPED.nii
prints "maxdiff D range R"
"""
import sys

import numpy as np
import nibabel as nib
import SimpleITK as sitk

fixed = sitk.ReadImage(sys.argv[1], sitk.sitkFloat64)
moving = sitk.ReadImage(sys.argv[2], sitk.sitkFloat64)
tf = sitk.ReadTransform(sys.argv[3])
res = sitk.Resample(moving, fixed, tf, sitk.sitkLinear, 0.0, sitk.sitkFloat64)
ref = sitk.GetArrayFromImage(res).T  # (x, y, z)
ours = np.asarray(nib.load(sys.argv[4]).get_fdata(), np.float64)
# inside test with SimpleITK's own geometry (LPS), vectorised
def grid(img):
    D = np.array(img.GetDirection()).reshape(3, 3) * np.array(img.GetSpacing())
    return D, np.array(img.GetOrigin())
Df, of = grid(fixed)
Dm, om = grid(moving)
par = np.array(tf.GetParameters())
A, t, c = par[:9].reshape(3, 3), par[9:12], np.array(tf.GetFixedParameters())
idx = np.indices(fixed.GetSize(), dtype=np.float64).reshape(3, -1)
p = Df @ idx + of[:, None]
q = A @ (p - c[:, None]) + (c + t)[:, None]
ci = np.linalg.inv(Dm) @ (q - om[:, None])
ok = np.all((ci >= 0) & (ci <= (np.array(moving.GetSize()) - 1)[:, None]), axis=0)
a = ref.reshape(-1, order="F")[ok]
b = ours.reshape(-1, order="F")[ok]
print("maxdiff %.9g range %.9g" % (np.max(np.abs(a - b)), np.ptp(b)))
