"""B-spline FFD side by side: medvol (mvtool register --transform bspline)
and elastix 5 (Debian; BSplineTransform + transformix -def all) on the MNI
brain moved by a known smooth field (tests/py/bspline_data.py: fixed and
moving are samples of one continuous image, the true field is exact).

usage: bspline_vs_elastix.py [--spacing 3] [--threads 2] [--iterations 250]

Both: NCC (elastix AdvancedNormalizedCorrelation), 3 levels, 8 mm final
control spacing, bending energy weight 1 (elastix: TransformBendingEnergy-
Penalty with metric weights 1 / 1: the same cost up to the penalty being a
sample mean there, an exact integral in medvol). elastix: ASGD, 4096 random
samples per iteration, linear interpolation during registration (its
defaults); medvol: L-BFGS, every voxel, cubic moving values. Reported: wall
time of each tool (including reading and writing files), field error over
the brain mask against the truth (mean, p95), folded voxels. One run, on a
shared machine: timings are indicative.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
import nibabel as nib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAR = """(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(FixedImageDimension 3)
(MovingImageDimension 3)
(UseDirectionCosines "true")
(Registration "MultiMetricMultiResolutionRegistration")
(Interpolator "BSplineInterpolator")
(ResampleInterpolator "FinalBSplineInterpolator")
(Resampler "DefaultResampler")
(FixedImagePyramid "FixedSmoothingImagePyramid")
(MovingImagePyramid "MovingSmoothingImagePyramid")
(Optimizer "AdaptiveStochasticGradientDescent")
(Transform "BSplineTransform")
(Metric "AdvancedNormalizedCorrelation" "TransformBendingEnergyPenalty")
(Metric0Weight 1.0)
(Metric1Weight {reg})
(FinalGridSpacingInPhysicalUnits 8.0)
(GridSpacingSchedule 4.0 2.0 1.0)
(HowToCombineTransforms "Compose")
(NumberOfResolutions 3)
(ImagePyramidSchedule 4 4 4 2 2 2 1 1 1)
(MaximumNumberOfIterations {its})
(NumberOfSpatialSamples 4096)
(NewSamplesEveryIteration "true")
(ImageSampler "RandomCoordinate")
(BSplineInterpolationOrder 1)
(FinalBSplineInterpolationOrder 3)
(DefaultPixelValue 0)
(WriteResultImage "false")
(ResultImageFormat "nii")
"""


def errors(est, true, mask):
    e = np.asarray(nib.load(est).dataobj, np.float64)
    t = np.asarray(nib.load(true).dataobj, np.float64)
    m = np.asarray(nib.load(mask).dataobj).reshape(t.shape[:3]) > 0
    e = e.reshape(t.shape)
    err = np.sqrt(((e - t) ** 2).sum(-1)).reshape(t.shape[:3])[m]
    return err.mean(), np.percentile(err, 95)


def folds(field, work):
    out = subprocess.run([os.path.join(ROOT, "build/mvtool"), "jacobian", field, os.path.join(work, "jac.nii")],
                         stderr=subprocess.PIPE, check=True).stderr.decode()
    return int(out.split("jacobian:")[1].split()[0])


def make_pair(spacing):
    """writes (once) the brain pair at `spacing` mm; returns fixed, moving, true field, mask paths"""
    py = sys.executable
    subprocess.run([py, os.path.join(ROOT, "tests/py/reg_data.py"), os.path.join(ROOT, "build/regdata")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([py, os.path.join(ROOT, "tests/py/bspline_data.py"), os.path.join(ROOT, "build/regdata"),
                    os.path.join(ROOT, "build/bsplinedata"), spacing], check=True, stdout=subprocess.DEVNULL)
    tag = os.path.join(ROOT, "build/bsplinedata/def%s" % spacing)
    return tag + "_fixed.nii", tag + "_moving.nii", tag + "_true.nii", tag + "_mask.nii"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spacing", default="3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=250)
    a = ap.parse_args()
    fx, mv, tr, mk = make_pair(a.spacing)
    work = os.path.join(ROOT, "build/bspline-bench")
    os.makedirs(work, exist_ok=True)
    rows = []
    t0 = time.time()
    subprocess.run([os.path.join(ROOT, "build/mvtool"), "register", fx, mv, "--transform", "bspline", "--metric", "ncc",
                    "--grid-spacing", "8", "--regularization", "1", "--levels", "4x2x1", "--threads", str(a.threads),
                    "--out-field", os.path.join(work, "medvol_field.nii"), "--quiet"], check=True)
    t = time.time() - t0
    me, p95 = errors(os.path.join(work, "medvol_field.nii"), tr, mk)
    rows.append(("medvol (mvtool register --transform bspline)", t, me, p95, folds(os.path.join(work, "medvol_field.nii"), work)))
    par = os.path.join(work, "par.txt")
    open(par, "w").write(PAR.format(reg=1.0, its=a.iterations))
    out = os.path.join(work, "elastix")
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    subprocess.run(["elastix", "-f", fx, "-m", mv, "-p", par, "-out", out, "-threads", str(a.threads)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["transformix", "-def", "all", "-tp", os.path.join(out, "TransformParameters.0.txt"), "-out", out,
                    "-threads", str(a.threads)], check=True, stdout=subprocess.DEVNULL)
    t = time.time() - t0
    ef = [f for f in os.listdir(out) if f.startswith("deformationField")][0]
    # transformix writes (X,Y,Z,3) vectors in ITK's LPS mm, p -> p + d(p): medvol's convention; as an mv field file
    d = np.asarray(nib.load(os.path.join(out, ef)).dataobj, np.float32)
    d = d.reshape(d.shape[:3] + (1, 3))
    im = nib.Nifti1Image(d, nib.load(fx).affine)
    im.header.set_intent(1007)
    nib.save(im, os.path.join(work, "elastix_field.nii"))
    me, p95 = errors(os.path.join(work, "elastix_field.nii"), tr, mk)
    rows.append(("elastix (Debian), ASGD %d it/level, 4096 samples" % a.iterations, t, me, p95,
                 folds(os.path.join(work, "elastix_field.nii"), work)))
    shape = nib.load(fx).shape
    print("MNI T1 at %s mm (%s), known smooth field (true mean %.2f mm), %d threads" %
          (a.spacing, "x".join(map(str, shape)), float(np.sqrt((np.asarray(nib.load(tr).dataobj, np.float64) ** 2)
                                                              .sum(-1)).mean()), a.threads))
    print("| tool | wall s | field error mean mm | p95 mm | folded voxels |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.3f | %.3f | %d |" % r)


if __name__ == "__main__":
    main()
