#!/usr/bin/python3
"""Deformable registration in 3D, every method side by side on one pair: the
MNI T1 brain at 1 mm (153x189x163) moved by a known smooth field of ~3 mm
(tests/py/bspline_data.py: fixed and moving are samples of one continuous
image, the true field exact), the pair of bench/bspline_vs_elastix.py.

Rows: medvol's B-spline FFD, SyN and demons (mvtool register), each with its
defaults and, for SyN and demons, with update smoothing chosen for a smooth
deformation (--smooth 4,0.7071 and 5,0.5 voxels: the defaults are ANTs'/
greedy's sqrt(3),sqrt(0.5) and ITK's demons-like 1,1.5, meant for
anatomy-scale differences); greedy (PyPI picsl_greedy, its defaults and the
same update smoothing); SimpleITK's diffeomorphic demons (symmetric forces,
field sigma 1.5 voxels, 3 levels 100/70/40 iterations: a pyramid built here);
elastix 5 B-spline (Debian; the parameters of bspline_vs_elastix.py).
Reported: wall time (medvol and elastix: the command, reading and writing
files included; greedy and SimpleITK: in this process), field error over the
brain mask against the truth (LPS mm: mean, 95th percentile), folded voxels
(det J <= 0, mvtool jacobian).

    /usr/bin/python3 bench/deformable3d_bench.py [--spacing 1] [--threads 2]
        [--tools bspline,syn,syn-smooth,demons,demons-smooth,greedy,greedy-smooth,sitk-demons,elastix]

Runs with Debian's /usr/bin/python3 (numpy, nibabel, SimpleITK from Debian,
picsl_greedy from PyPI); a tool that is missing is reported as n/a.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
import nibabel as nib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bspline_vs_elastix import PAR, errors, folds, make_pair  # noqa: E402

MVTOOL = os.path.join(ROOT, "build", "mvtool")


def mvtool(fx, mv, out, threads, args):
    subprocess.run([MVTOOL, "register", fx, mv, "--threads", str(threads), "--out-field", out, "--quiet"] + args,
                   check=True)


def greedy(fx, mv, out, threads, smooth):
    import picsl_greedy
    g = picsl_greedy.Greedy3D()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    os.dup2(null, 1)
    try:
        g.execute("-threads %d -d 3 -i %s %s -o %s -n 100x70x40 -m NCC 2x2x2 -s %s" % (threads, fx, mv, out, smooth))
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def sitk_demons(fx, mv, out, threads):
    import SimpleITK as sitk
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    f = sitk.ReadImage(fx, sitk.sitkFloat32)
    m = sitk.ReadImage(mv, sitk.sitkFloat32)
    field = None
    for shrink, its in ((4, 100), (2, 70), (1, 40)):
        if shrink > 1:
            fs = sitk.Shrink(sitk.SmoothingRecursiveGaussian(f, 0.5 * shrink * f.GetSpacing()[0]), [shrink] * 3)
            ms = sitk.Shrink(sitk.SmoothingRecursiveGaussian(m, 0.5 * shrink * m.GetSpacing()[0]), [shrink] * 3)
        else:
            fs, ms = f, m
        d = sitk.DiffeomorphicDemonsRegistrationFilter()
        d.SetNumberOfIterations(its)
        d.SetStandardDeviations(1.5)
        d.SetUseGradientType(d.Symmetric)
        if field is None:
            field = d.Execute(fs, ms)
        else:
            init = sitk.Resample(field, fs, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkVectorFloat64)
            field = d.Execute(fs, ms, init)
    v = sitk.GetArrayFromImage(field).transpose(2, 1, 0, 3).astype(np.float32)  # (X,Y,Z,3), LPS mm
    im = nib.Nifti1Image(v[:, :, :, None, :], nib.load(fx).affine)
    im.header.set_intent(1007)
    nib.save(im, out)


def elastix(fx, mv, out, work, threads):
    par = os.path.join(work, "par.txt")
    open(par, "w").write(PAR.format(reg=1.0, its=250))
    od = os.path.join(work, "elastix")
    os.makedirs(od, exist_ok=True)
    subprocess.run(["elastix", "-f", fx, "-m", mv, "-p", par, "-out", od, "-threads", str(threads)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["transformix", "-def", "all", "-tp", os.path.join(od, "TransformParameters.0.txt"), "-out", od,
                    "-threads", str(threads)], check=True, stdout=subprocess.DEVNULL)
    ef = [f for f in os.listdir(od) if f.startswith("deformationField")][0]
    d = np.asarray(nib.load(os.path.join(od, ef)).dataobj, np.float32)
    im = nib.Nifti1Image(d.reshape(d.shape[:3] + (1, 3)), nib.load(fx).affine)
    im.header.set_intent(1007)
    nib.save(im, out)


TOOLS = {
    "bspline": ("medvol B-spline (--grid-spacing 8 --regularization 1, ncc)",
                lambda fx, mv, out, w, t: mvtool(fx, mv, out, t, ["--transform", "bspline", "--metric", "ncc",
                                                                  "--grid-spacing", "8", "--regularization", "1",
                                                                  "--levels", "4x2x1"])),
    "syn": ("medvol SyN, defaults", lambda fx, mv, out, w, t: mvtool(fx, mv, out, t, ["--transform", "syn"])),
    "syn-smooth": ("medvol SyN --smooth 4,0.7071",
                   lambda fx, mv, out, w, t: mvtool(fx, mv, out, t, ["--transform", "syn", "--smooth", "4,0.7071"])),
    "demons": ("medvol demons, defaults", lambda fx, mv, out, w, t: mvtool(fx, mv, out, t, ["--transform", "demons"])),
    "demons-smooth": ("medvol demons --smooth 5,0.5",
                      lambda fx, mv, out, w, t: mvtool(fx, mv, out, t, ["--transform", "demons", "--smooth", "5,0.5"])),
    "greedy": ("greedy (picsl_greedy), -s 1.732vox 0.7071vox", lambda fx, mv, out, w, t: greedy(fx, mv, out, t,
                                                                                                "1.732vox 0.7071vox")),
    "greedy-smooth": ("greedy, -s 4vox 0.7071vox", lambda fx, mv, out, w, t: greedy(fx, mv, out, t, "4vox 0.7071vox")),
    "sitk-demons": ("SimpleITK diffeomorphic demons (sigma 1.5)", lambda fx, mv, out, w, t: sitk_demons(fx, mv, out, t)),
    "elastix": ("elastix 5 B-spline (ASGD 250 it/level, 4096 samples)", lambda fx, mv, out, w, t: elastix(fx, mv, out, w,
                                                                                                         t)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spacing", default="1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tools", default=",".join(TOOLS))
    a = ap.parse_args()
    fx, mv, tr, mk = make_pair(a.spacing)
    work = os.path.join(ROOT, "build/deformable3d-bench")
    os.makedirs(work, exist_ok=True)
    shape = nib.load(fx).shape
    true_mean = float(np.sqrt((np.asarray(nib.load(tr).dataobj, np.float64) ** 2).sum(-1)).mean())
    print("MNI T1 at %s mm (%s), known smooth field (true mean %.2f mm), %d threads" %
          (a.spacing, "x".join(map(str, shape[:3])), true_mean, a.threads))
    print("| method | wall s | field error mean mm | p95 mm | folded voxels |")
    print("|---|---|---|---|---|")
    for key in a.tools.split(","):
        name, run = TOOLS[key]
        out = os.path.join(work, key + "_field.nii")
        t0 = time.time()
        try:
            run(fx, mv, out, work, a.threads)
        except (ImportError, OSError, subprocess.CalledProcessError) as e:
            print("| %s | n/a (%s) | | | |" % (name, type(e).__name__))
            continue
        t = time.time() - t0
        me, p95 = errors(out, tr, mk)
        print("| %s | %.2f | %.3f | %.3f | %d |" % (name, t, me, p95, folds(out, work)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
