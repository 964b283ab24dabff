#!/usr/bin/python3
"""Deformable registration with local NCC side by side: medvol's SyN
(mvtool register --transform syn), medvol's demons, and greedy (PyPI
picsl_greedy, the same greedy SyN-style method with NCC) on the same pairs,
in one run: wall time and the error of the field against the KNOWN field.

Runs with Debian's /usr/bin/python3 (numpy, scipy, nibabel from Debian;
picsl_greedy from PyPI); a tool that is missing gets "n/a".

Pairs (all made here with scipy in float64, independent of medvol):
  slice2d      ITK's proton-density brain slice (221x257, 1 mm; from
               tests/py/reg_data.py's cache build/regdata) deformed by a
               smooth field g of ~3 mm: moving(q) = fixed(q + g(q)), cubic;
  slice2d-bias the same with a slow multiplicative bias (+-40%) and a mild
               quadratic intensity map on the moving image;
  brain3d      the MNI ICBM 2009a brain on a 2 mm grid (reg_data.py's
               brain3d_rigid_fixed.nii), the middle 64x80x64, deformed alike.
The field a method must find is d = inv(g) (fixed-point inversion with
map_coordinates, 100 iterations), compared in LPS mm (ITK's convention, which
both medvol and greedy write) over the pixels brighter than a fifth of the
maximum, 3 voxels from the border: mean and 95th percentile.

    /usr/bin/python3 bench/syn_bench.py [--threads 2] [--pairs slice2d,brain3d]
        [--tools syn,demons,greedy] [--out build/syn-bench.md]
"""
import argparse, os, subprocess, sys, tempfile, time

import numpy as np
import nibabel as nib
from scipy import ndimage

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MVTOOL = os.path.join(ROOT, "build", "mvtool")
LPS = np.array([-1.0, -1.0, 1.0])


def known_field(shape, amp):
    """a smooth displacement in voxel units, (ndim, *shape)"""
    idx = np.indices(shape, dtype=np.float64)
    X, Y = shape[0], shape[1]
    g = []
    for c in range(len(shape)):
        v = amp * np.sin(2 * np.pi * idx[0] / X + 1.1 * c) * np.sin(2 * np.pi * idx[1] / Y + 0.5)
        if len(shape) == 3:
            v = v * np.cos(np.pi * idx[2] / shape[2] - 0.3 * c)
        g.append(v)
    return np.array(g)


def warp(img, g, order):
    idx = np.indices(img.shape, dtype=np.float64)
    return ndimage.map_coordinates(img, idx + g, order=order, mode="nearest")


def invert(g, iters=100):
    e = -g.copy()
    for _ in range(iters):
        e = -np.array([warp(gc, e, 1) for gc in g])
    return e


def to_lps_mm(dvox, aff):
    """voxel displacement (ndim, ...) -> LPS mm, last axis components"""
    nd = dvox.shape[0]
    R = aff[:3, :3]
    out = np.zeros(dvox.shape[1:] + (nd,))
    for a in range(nd):
        for b in range(nd):
            out[..., a] += LPS[a] * R[a, b] * dvox[b]
    return out


def make_pair(name, work, amp):
    reg = os.path.join(ROOT, "build", "regdata")
    if name.startswith("slice2d"):
        img = nib.load(os.path.join(reg, "slice2d_pd_fixed.nii"))
        f = np.asarray(img.dataobj, np.float64).reshape(img.shape[:2])
        aff = img.affine
    else:
        img = nib.load(os.path.join(reg, "brain3d_rigid_fixed.nii"))
        f = np.asarray(img.dataobj, np.float64)[8:72, 8:88, 8:72]
        aff = img.affine.copy()
        aff[:3, 3] += aff[:3, :3] @ [8, 8, 8]
    g = known_field(f.shape, amp)
    m = warp(f, g, 3)
    if name.endswith("bias"):
        i, j = np.indices(f.shape[:2])
        b = 1 + 0.4 * np.sin(0.03 * i + 0.02 * j + 0.5)
        x = m / m.max()
        m = 1000 * b * (x + 0.3 * x * x)
    d = to_lps_mm(invert(g), aff)
    fp, mp = os.path.join(work, name + "_f.nii"), os.path.join(work, name + "_m.nii")
    nib.save(nib.Nifti1Image(f.astype(np.float32), aff), fp)
    nib.save(nib.Nifti1Image(m.astype(np.float32), aff), mp)
    mask = f > 0.2 * f.max()
    border = np.zeros(f.shape, bool)
    border[(slice(3, -3),) * f.ndim] = True
    return fp, mp, d, mask & border


def field_error(path, truth, mask):
    a = np.asarray(nib.load(path).dataobj, np.float64)
    a = a.reshape(truth.shape)
    e = np.sqrt(((a - truth) ** 2).sum(-1))[mask]
    return e.mean(), np.percentile(e, 95), np.sqrt((truth ** 2).sum(-1))[mask].mean()


def run_mvtool(kind, fp, mp, out, threads, ndim):
    subprocess.run([MVTOOL, "register", fp, mp, "--transform", kind, "--out-field", out, "--threads", str(threads),
                    "--quiet"], check=True)


def quiet(fn, *args):
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        return fn(*args)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def run_greedy(fp, mp, out, threads, ndim):
    import picsl_greedy
    g = picsl_greedy.Greedy2D() if ndim == 2 else picsl_greedy.Greedy3D()
    quiet(g.execute, "-threads %d -d %d -i %s %s -o %s -n 100x70x40 -m NCC %s -s 1.732vox 0.7071vox" %
          (threads, ndim, fp, mp, out, "x".join(["2"] * ndim)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", default="slice2d,slice2d-bias,brain3d")
    ap.add_argument("--tools", default="syn,demons,greedy")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "syn-bench.md"))
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    rows = ["| pair | tool | wall s | field error mean mm | p95 mm | true field mean mm |", "|---|---|---|---|---|---|"]
    for pair in a.pairs.split(","):
        fp, mp, truth, mask = make_pair(pair, work, 4.0 if pair.startswith("slice") else 3.0)
        ndim = truth.shape[-1]
        for tool in a.tools.split(","):
            if tool == "demons" and pair.endswith("bias"):
                continue  # MSE: meaningless here
            out = os.path.join(work, "%s_%s.nii" % (pair, tool))
            t0 = time.time()
            try:
                if tool == "greedy":
                    run_greedy(fp, mp, out, a.threads, ndim)
                else:
                    run_mvtool(tool, fp, mp, out, a.threads, ndim)
            except Exception as e:  # a missing tool: n/a
                rows.append("| %s | %s | n/a (%s) | | | |" % (pair, tool, str(e)[:60]))
                continue
            t = time.time() - t0
            me, p95, tm = field_error(out, truth, mask)
            rows.append("| %s | %s | %.2f | %.3f | %.3f | %.2f |" % (pair, tool, t, me, p95, tm))
            print(rows[-1], flush=True)
    with open(a.out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
