"""Linear registration side by side: medvol (build/mvtool register) and
elastix (Debian /usr/bin/elastix) on the same pairs in one run, wall time
and target registration error (TRE: |T_est(p) - T_true(p)| over the fixed
mask's voxels, mean and 95th percentile, mm).

usage: /usr/bin/python3 bench/register_vs_elastix.py [PAIR ...] [--threads N]
pairs: the NAME of build/regdata/NAME_{fixed,moving,mask}.nii + NAME_true.txt
(made by tests/py/reg_data.py; default brain3d_rigid brain3d_mi
brain3d_affine). elastix: rigid pairs EulerTransform, affine pairs
AffineTransform; AdvancedMattesMutualInformation 32 bins, ASGD, 3
resolutions, 250 iterations, 2048 random samples per iteration (its
defaults); medvol: default options (MI, 4x2x1). Both on --threads threads
(default 2). The machine may be shared: compare the two columns of one run.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import nibabel as nib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "build", "regdata")
D = np.diag([-1.0, -1.0, 1.0, 1.0])

PARAMS = """(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(FixedImageDimension 3)
(MovingImageDimension 3)
(UseDirectionCosines "true")
(Registration "MultiResolutionRegistration")
(Interpolator "BSplineInterpolator")
(ResampleInterpolator "FinalBSplineInterpolator")
(Resampler "DefaultResampler")
(FixedImagePyramid "FixedSmoothingImagePyramid")
(MovingImagePyramid "MovingSmoothingImagePyramid")
(Optimizer "AdaptiveStochasticGradientDescent")
(Transform "{transform}")
(Metric "AdvancedMattesMutualInformation")
(AutomaticScalesEstimation "true")
(AutomaticTransformInitialization "true")
(AutomaticTransformInitializationMethod "CenterOfGravity")
(HowToCombineTransforms "Compose")
(NumberOfHistogramBins 32)
(NumberOfResolutions 3)
(MaximumNumberOfIterations 250)
(NumberOfSpatialSamples 2048)
(NewSamplesEveryIteration "true")
(ImageSampler "Random")
(BSplineInterpolationOrder 1)
(FinalBSplineInterpolationOrder 3)
(WriteResultImage "false")
(ResultImagePixelType "float")
"""


def rot(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    X = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Z @ X @ Y


def elastix_matrix(path):
    """TransformParameters.0.txt -> 4x4 RAS fixed->moving."""
    kv = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("(") and line.endswith(")"):
            parts = line[1:-1].split()
            kv[parts[0]] = [p.strip('"') for p in parts[1:]]
    p = np.array([float(v) for v in kv["TransformParameters"]])
    c = np.array([float(v) for v in kv["CenterOfRotationPoint"]])
    if kv["Transform"][0] == "EulerTransform":
        M, t = rot(*p[:3]), p[3:6]
    else:
        M, t = p[:9].reshape(3, 3), p[9:12]
    L = np.eye(4)
    L[:3, :3] = M
    L[:3, 3] = t + c - M @ c
    return D @ L @ D


def tre(name, E):
    T = np.loadtxt(os.path.join(DATA, name + "_true.txt"))
    img = nib.load(os.path.join(DATA, name + "_mask.nii"))
    idx = np.argwhere(img.get_fdata() > 0).T.astype(np.float64)
    p = img.affine[:3, :3] @ idx + img.affine[:3, 3:4]
    d = np.linalg.norm((E[:3, :3] @ p + E[:3, 3:4]) - (T[:3, :3] @ p + T[:3, 3:4]), axis=0)
    return d.mean(), np.percentile(d, 95)


def main():
    args = sys.argv[1:]
    threads = "2"
    if "--threads" in args:
        i = args.index("--threads")
        threads = args[i + 1]
        del args[i:i + 2]
    pairs = args or ["brain3d_rigid", "brain3d_mi", "brain3d_affine"]
    mvtool = os.path.join(ROOT, "build", "mvtool")
    print("%-16s %-8s %10s %12s %12s" % ("pair", "tool", "wall s", "TRE mean mm", "TRE p95 mm"))
    for name in pairs:
        fx, mv = os.path.join(DATA, name + "_fixed.nii"), os.path.join(DATA, name + "_moving.nii")
        affine = "affine" in name
        with tempfile.TemporaryDirectory() as tmp:
            mat = os.path.join(tmp, "m.txt")
            t0 = time.perf_counter()
            subprocess.run([mvtool, "register", fx, mv, "--transform", "affine" if affine else "rigid", "--threads",
                            threads, "--quiet", "--out-matrix", mat], check=True)
            t_mv = time.perf_counter() - t0
            m1, p1 = tre(name, np.loadtxt(mat))
            print("%-16s %-8s %10.2f %12.4f %12.4f" % (name, "medvol", t_mv, m1, p1))
            pf = os.path.join(tmp, "p.txt")
            with open(pf, "w") as f:
                f.write(PARAMS.format(transform="AffineTransform" if affine else "EulerTransform"))
            t0 = time.perf_counter()
            r = subprocess.run(["elastix", "-f", fx, "-m", mv, "-p", pf, "-out", tmp, "-threads", threads],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            t_el = time.perf_counter() - t0
            tp = os.path.join(tmp, "TransformParameters.0.txt")
            if r.returncode != 0 or not os.path.exists(tp):
                print("%-16s %-8s failed: %s" % (name, "elastix", r.stdout.decode()[-300:]))
                continue
            m2, p2 = tre(name, elastix_matrix(tp))
            print("%-16s %-8s %10.2f %12.4f %12.4f   (medvol %.1fx faster)" % (name, "elastix", t_el, m2, p2, t_el / t_mv))


if __name__ == "__main__":
    main()
