#!/usr/bin/python3
"""Linear registration side by side: medvol (mvtool register), elastix
(Debian), SimpleITK's ImageRegistrationMethod and greedy (PyPI picsl_greedy)
on the same pairs, in one run: wall time and target registration error.

Runs with Debian's /usr/bin/python3 (numpy, scipy, nibabel from Debian;
SimpleITK and picsl_greedy from PyPI, `pip install --break-system-packages
SimpleITK picsl_greedy`); a tool that is missing gets "n/a".

Data: a real 1 mm brain, the ICBM 2009a T1 template nilearn ships
(197x233x189, uint8), fetched once from its PyPI wheel into build/bench-data.
Each case moves it by a KNOWN transform T (fixed world -> moving world, the
ITK/elastix/greedy direction) onto a DIFFERENT grid (1.1 mm voxels, axes
rotated by a few degrees, another field of view), cubic B-spline sampling.
Multi-modal cases give the moving image a non-monotonic intensity map (a
T2-like contrast: white matter dark, grey matter mid, CSF bright).

TRE: for every fixed voxel inside the brain (the template's grey + white
matter probability > 0.5), |T_est(p) - T_true(p)| in mm; mean and 95th
percentile. Every tool runs with the same thread count (--threads, default 2).

    /usr/bin/python3 bench/register_bench.py [--threads 2] [--cases rigid-ncc,affine-mi,...]
        [--tools medvol,elastix,sitk,greedy] [--reps N] [--out build/register-bench.md]
"""
import argparse, glob, json, os, shutil, subprocess, sys, tempfile, time, zipfile

import numpy as np
import nibabel as nib
from scipy import ndimage

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "build", "bench-data")
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS (its own inverse)


def fetch_brain():
    """The ICBM 2009a T1 and its grey/white matter maps from nilearn's wheel."""
    names = {k: os.path.join(DATA, "mni_icbm152_%s_tal_nlin_sym_09a_converted.nii.gz" % k) for k in ("t1", "gm", "wm")}
    if all(os.path.exists(p) for p in names.values()):
        return names
    os.makedirs(DATA, exist_ok=True)
    tmp = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "nilearn==0.14.1", "-d", tmp], check=True)
    whl = glob.glob(os.path.join(tmp, "nilearn-*.whl"))[0]
    with zipfile.ZipFile(whl) as z:
        for p in names.values():
            with z.open("nilearn/datasets/data/" + os.path.basename(p)) as src, open(p, "wb") as dst:
                shutil.copyfileobj(src, dst)
    shutil.rmtree(tmp)
    return names


def rotation(ax, ay, az):
    """Rx(ax) Ry(ay) Rz(az), angles in degrees."""
    a, b, c = np.radians([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def known_transform(kind, seed, centre):
    """A fixed -> moving world map (4x4, RAS mm) about the brain's centre."""
    rng = np.random.default_rng(seed)
    m = rotation(*rng.uniform(-8, 8, 3))
    if kind == "affine":
        m = m @ np.diag(rng.uniform(0.93, 1.07, 3))
        shear = np.eye(3)
        shear[0, 1], shear[1, 2], shear[0, 2] = rng.uniform(-0.05, 0.05, 3)
        m = m @ shear
    t = rng.uniform(-8, 8, 3)
    T = np.eye(4)
    T[:3, :3] = m
    T[:3, 3] = centre + t - m @ centre
    return T


def t2_like(t1, gm, wm):
    """A non-monotonic contrast of the same anatomy (multi-modal cases)."""
    csf = np.clip((t1 > 5) * 1.0 - gm - wm, 0, 1)
    return (40 * wm + 110 * gm + 230 * csf) * (t1 > 5)


def make_moving(fixed_img, values, T, path):
    """values (on the fixed grid) seen through T onto a 1.1 mm oblique grid."""
    fa = fixed_img.affine
    shape = (180, 200, 170)
    grid = np.eye(4)
    grid[:3, :3] = rotation(4, -3, 6) * 1.1
    centre_f = fa @ np.r_[(np.array(fixed_img.shape) - 1) / 2, 1]
    grid[:3, 3] = centre_f[:3] - grid[:3, :3] @ ((np.array(shape) - 1) / 2)
    # moving voxel v -> moving world y -> fixed world T^-1 y -> fixed voxel
    vox = np.linalg.inv(fa) @ np.linalg.inv(T) @ grid
    coeffs = ndimage.spline_filter(values.astype(np.float64), order=3, mode="nearest")
    out = ndimage.affine_transform(coeffs, vox[:3, :3], vox[:3, 3], output_shape=shape, order=3, mode="constant",
                                   cval=0.0, prefilter=False)
    img = nib.Nifti1Image(np.clip(out, 0, None).astype(np.float32), grid)
    img.set_qform(grid, 1)
    img.set_sform(grid, 1)
    nib.save(img, path)


def tre(T_est, T_true, pts):
    d = (pts @ T_est[:3, :3].T + T_est[:3, 3]) - (pts @ T_true[:3, :3].T + T_true[:3, 3])
    e = np.sqrt((d * d).sum(1))
    return float(e.mean()), float(np.percentile(e, 95))


# ---- tools: each returns the estimated fixed -> moving 4x4 RAS matrix ----

def run_medvol(fixed, moving, kind, metric, threads, work):
    mvtool = os.path.join(ROOT, "build", "mvtool")
    out = os.path.join(work, "medvol.txt")
    subprocess.run([mvtool, "--threads", str(threads), "register", fixed, moving, "--transform", kind, "--metric", metric,
                    "--out-matrix", out, "--quiet"], check=True)
    return np.loadtxt(out).reshape(4, 4)


ELASTIX_PAR = """(FixedInternalImagePixelType "float")
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
(Metric "{metric}")
(AutomaticScalesEstimation "true")
(AutomaticTransformInitialization "true")
(AutomaticTransformInitializationMethod "GeometricalCenter")
(HowToCombineTransforms "Compose")
(NumberOfHistogramBins 32)
(ErodeMask "false")
(NumberOfResolutions 4)
(MaximumNumberOfIterations 250)
(NumberOfSpatialSamples 2048)
(NewSamplesEveryIteration "true")
(ImageSampler "RandomCoordinate")
(BSplineInterpolationOrder 1)
(FinalBSplineInterpolationOrder 3)
(DefaultPixelValue 0)
(WriteResultImage "false")
(ResultImagePixelType "float")
(ResultImageFormat "nii")
"""


def elastix_matrix(path):
    """TransformParameters.0.txt (LPS, fixed -> moving) as a RAS 4x4, via SimpleITK."""
    import SimpleITK as sitk
    kv = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("(") and line.endswith(")"):
            k, _, v = line[1:-1].partition(" ")
            kv[k] = [w.strip('"') for w in v.split()]
    p = [float(x) for x in kv["TransformParameters"]]
    c = [float(x) for x in kv["CenterOfRotationPoint"]]
    if kv["Transform"][0] == "EulerTransform":
        t = sitk.Euler3DTransform()
        t.SetCenter(c)
        t.SetComputeZYX(kv.get("ComputeZYX", ["false"])[0] == "true")
        t.SetParameters(p)
    else:
        t = sitk.AffineTransform(3)
        t.SetCenter(c)
        t.SetParameters(p)
    return sitk_matrix(t)


def sitk_matrix(t):
    """A SimpleITK linear transform (LPS) as a RAS fixed -> moving 4x4."""
    M = np.eye(4)
    M[:3, :3] = np.array(t.GetMatrix()).reshape(3, 3)
    c = np.array(t.GetCenter())
    M[:3, 3] = np.array(t.GetTranslation()) + c - M[:3, :3] @ c
    return LPS @ M @ LPS


def run_elastix(fixed, moving, kind, metric, threads, work):
    par = os.path.join(work, "par.txt")
    with open(par, "w") as f:
        f.write(ELASTIX_PAR.format(transform="EulerTransform" if kind == "rigid" else "AffineTransform",
                                   metric="AdvancedMattesMutualInformation" if metric == "mi"
                                   else "AdvancedNormalizedCorrelation"))
    out = os.path.join(work, "elastix")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["elastix", "-f", fixed, "-m", moving, "-p", par, "-out", out, "-threads", str(threads)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return elastix_matrix(os.path.join(out, "TransformParameters.0.txt"))


def run_sitk(fixed, moving, kind, metric, threads, work):
    import SimpleITK as sitk
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    f = sitk.ReadImage(fixed, sitk.sitkFloat32)
    m = sitk.ReadImage(moving, sitk.sitkFloat32)
    t = sitk.Euler3DTransform() if kind == "rigid" else sitk.AffineTransform(3)
    init = sitk.CenteredTransformInitializer(f, m, t, sitk.CenteredTransformInitializerFilter.GEOMETRY)
    r = sitk.ImageRegistrationMethod()
    if metric == "mi":
        r.SetMetricAsMattesMutualInformation(32)
    else:
        r.SetMetricAsCorrelation()
    r.SetMetricSamplingStrategy(r.RANDOM)
    r.SetMetricSamplingPercentage(0.02, 1)
    r.SetInterpolator(sitk.sitkLinear)
    r.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-4, numberOfIterations=200,
                                               relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    r.SetOptimizerScalesFromPhysicalShift()
    r.SetShrinkFactorsPerLevel([4, 2, 1])
    r.SetSmoothingSigmasPerLevel([2, 1, 0])
    r.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    r.SetInitialTransform(init, inPlace=False)
    out = r.Execute(f, m)
    if out.GetName() == "CompositeTransform":
        out = sitk.CompositeTransform(out).GetNthTransform(0)
    return sitk_matrix(out.Downcast() if hasattr(out, "Downcast") else out)


def quiet(fn, *args):
    """fn(*args) with the process's stdout sent to /dev/null (greedy's C++ log)."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        return fn(*args)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def run_greedy(fixed, moving, kind, metric, threads, work):
    from picsl_greedy import Greedy3D
    out = os.path.join(work, "greedy.mat")
    g = Greedy3D()
    quiet(g.execute, "-threads %d -d 3 -a -dof %d -i %s %s -o %s -n 100x50x20 -m %s -ia-image-centers" %
              (threads, 6 if kind == "rigid" else 12, fixed, moving, out, "NMI" if metric == "mi" else "NCC 2x2x2"))
    return np.loadtxt(out).reshape(4, 4)  # greedy: RAS mm, fixed -> moving


TOOLS = {"medvol": run_medvol, "elastix": run_elastix, "sitk": run_sitk, "greedy": run_greedy}
LABELS = {"medvol": "medvol (mvtool register)", "elastix": "elastix 5.0.1 (Debian)",
          "sitk": "SimpleITK ImageRegistrationMethod", "greedy": "greedy (picsl_greedy)"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default="rigid-ncc,rigid-mi,affine-ncc,affine-mi")
    ap.add_argument("--tools", default="medvol,elastix,sitk,greedy")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reps", type=int, default=1,
                    help="runs per tool and case, interleaved; wall = their median (TRE from the first run)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "register-bench.md"))
    a = ap.parse_args()
    files = fetch_brain()
    fixed_img = nib.load(files["t1"])
    t1 = fixed_img.get_fdata()
    gm, wm = nib.load(files["gm"]).get_fdata() / 255, nib.load(files["wm"]).get_fdata() / 255
    brain = np.argwhere(gm + wm > 0.5).astype(np.float64)
    pts = brain @ fixed_img.affine[:3, :3].T + fixed_img.affine[:3, 3]
    centre = pts.mean(0)
    work = tempfile.mkdtemp(prefix="regbench-")
    fixed = os.path.join(work, "fixed.nii.gz")
    nib.save(nib.Nifti1Image(t1.astype(np.float32), fixed_img.affine), fixed)
    rows = []
    for ci, case in enumerate(a.cases.split(",")):
        kind, metric = case.split("-")
        T = known_transform(kind, a.seed + ci, centre)
        moving = os.path.join(work, "moving-%s.nii.gz" % case)
        make_moving(fixed_img, t2_like(t1, gm, wm) if metric == "mi" else t1, T, moving)
        walls, results = {}, {}
        # rounds of every tool in turn: a slow spell of a shared machine hits every tool alike
        for rep in range(max(1, a.reps)):
            for tool in a.tools.split(","):
                if tool in results and "error" in results[tool]:
                    continue
                cw = os.path.join(work, "%s-%s-%d" % (case, tool, rep))
                os.makedirs(cw, exist_ok=True)
                t0 = time.perf_counter()
                try:
                    est = TOOLS[tool](fixed, moving, kind, metric, a.threads, cw)
                    walls.setdefault(tool, []).append(time.perf_counter() - t0)
                    if tool not in results:
                        mean, p95 = tre(est, T, pts)
                        results[tool] = dict(case=case, tool=tool, tre_mean=mean, tre_p95=p95)
                except Exception as e:  # a missing or failing tool is a row that says so
                    results[tool] = dict(case=case, tool=tool, error="%s: %s" % (type(e).__name__, str(e)[:120]))
        for tool in a.tools.split(","):
            row = results[tool]
            if "error" not in row:
                row["wall_s"] = float(np.median(walls[tool]))
                row["walls_s"] = [round(w, 3) for w in walls[tool]]
            rows.append(row)
            print(json.dumps(row), flush=True)
    with open(a.out, "w") as f:
        f.write("| case | tool | wall s | TRE mean mm | TRE p95 mm | x medvol time |\n|---|---|---|---|---|---|\n")
        for r in rows:
            mv = [x for x in rows if x["case"] == r["case"] and x["tool"] == "medvol" and "wall_s" in x]
            if "error" in r:
                f.write("| %s | %s | n/a | | | %s |\n" % (r["case"], LABELS[r["tool"]], r["error"]))
                continue
            ratio = "%.1f" % (r["wall_s"] / mv[0]["wall_s"]) if mv else ""
            f.write("| %s | %s | %.2f | %.3f | %.3f | %s |\n" % (r["case"], LABELS[r["tool"]], r["wall_s"], r["tre_mean"],
                                                            r["tre_p95"], ratio))
    print("wrote", a.out)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
