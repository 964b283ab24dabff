"""Large 2D deformable registration (issue 17): a woven-fabric pair of SIZE x
SIZE uint8 pixels (default 17320, 300 MP) with a known smooth deformation
of up to ~25 px (tests/py/fabric_data.py), registered by medvol's B-spline
FFD in its large-image mode (mvtool register --transform bspline --levels
ending above 1: the registration runs on shrunk copies, the full-resolution
warp is streamed a row at a time), and optionally by OpenCV's DIS optical
flow (preset ultrafast) on the same pair.

usage: /usr/bin/python3 bench/large2d_bench.py [--size 17320] [--threads 2]
           [--levels 32x16x8] [--grid 512] [--dis] [--reps 1]

Reports per tool: wall seconds (medvol: the whole mvtool process: reading
both files, registering, warping, writing the uint8 result), peak resident
memory (/usr/bin/time; the inputs are memory-mapped, so their touched pages
count in it), NCC of the warped image with the fixed one over the interior
(6% margin: the moving image has no content to bring in at the borders),
and the field error against the truth: medvol's field file (on the shrunk
grid) against the analytic inverse deformation at the same points; DIS's
flow against it on a grid of every 8th pixel. Uses Debian's python3
(numpy, scipy, nibabel; python3-opencv for --dis).
"""
import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "py"))
import nibabel as nib  # noqa: E402
import fabric_data  # noqa: E402

MARGIN = 0.06


def interior(n):
    return slice(int(MARGIN * n), int((1 - MARGIN) * n))


def ncc_chunked(a, b, n):
    """NCC of two (X, Y) uint8 images over the interior, in float64 row blocks"""
    c = interior(n)
    s = np.zeros(5)
    for x0 in range(c.start, c.stop, 1024):
        x1 = min(c.stop, x0 + 1024)
        u = np.asarray(a[x0:x1, c], np.float64)
        v = np.asarray(b[x0:x1, c], np.float64)
        s += [u.sum(), v.sum(), (u * u).sum(), (v * v).sum(), (u * v).sum()]
    m = (c.stop - c.start) ** 2
    cov = s[4] - s[0] * s[1] / m
    return cov / np.sqrt((s[2] - s[0] ** 2 / m) * (s[3] - s[1] ** 2 / m))


def timed(cmd):
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M"] + cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    rss = int(re.search(r"MAXRSS (\d+)", p.stderr).group(1)) / 1024.0
    return wall, rss, p.stdout + p.stderr


def field_error_medvol(path, n):
    F = nib.load(path)
    D = np.asarray(F.dataobj)[:, :, 0, 0, :].astype(np.float64)  # (X, Y, 2) LPS mm
    nx, ny = D.shape[:2]
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    p = F.affine @ np.stack([ii.ravel(), jj.ravel(), 0 * ii.ravel(), np.ones(ii.size)])
    # the pair's affine is the identity: world RAS = pixel coordinates
    dx, dy = fabric_data.true_field(p[0], p[1], n)
    ex = -D[:, :, 0].ravel() - dx  # LPS -> RAS
    ey = -D[:, :, 1].ravel() - dy
    sel = (p[0] > MARGIN * n) & (p[0] < (1 - MARGIN) * n) & (p[1] > MARGIN * n) & (p[1] < (1 - MARGIN) * n)
    e = np.sqrt(ex ** 2 + ey ** 2)[sel]
    return e.mean(), np.percentile(e, 95)


def run_medvol(tag, out, a):
    cmd = [os.path.join(ROOT, "build", "mvtool"), "register", tag + "_fixed.nii", tag + "_moving.nii", "--transform", "bspline",
           "--metric", "ncc", "--levels", a.levels, "--grid-spacing", str(a.grid), "--out", out + "_medvol.nii",
           "--out-field", out + "_medvol_field.nii", "--dtype", "uint8", "--threads", str(a.threads)]
    return timed(cmd)


DIS_SCRIPT = r"""
import sys, time, numpy as np, nibabel as nib, cv2
tag, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
cv2.setNumThreads(threads)
t0 = time.time()
f = np.ascontiguousarray(np.asarray(nib.load(tag + "_fixed.nii").dataobj)[:, :, 0].T)   # (Y, X)
m = np.ascontiguousarray(np.asarray(nib.load(tag + "_moving.nii").dataobj)[:, :, 0].T)
dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
flow = dis.calc(f, m, None)                      # f(x) ~ m(x + flow(x))
h, w = f.shape
gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
gx += flow[:, :, 0]
gy += flow[:, :, 1]
warped = cv2.remap(m, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
del gx, gy
t1 = time.time()
img = nib.Nifti1Image(np.ascontiguousarray(warped.T)[:, :, None], np.eye(4))
nib.save(img, out + "_dis.nii")
np.save(out + "_dis_flow8.npy", flow[::8, ::8].copy())
print("DIS %.3f opencv %s" % (t1 - t0, cv2.__version__))
"""


def run_dis(tag, out, a):
    wall, rss, err = timed(["/usr/bin/python3", "-c", DIS_SCRIPT, tag, out, str(a.threads)])
    return wall, rss, err


def dis_field_error(out, n):
    fl = np.load(out + "_dis_flow8.npy").astype(np.float64)  # (Y/8, X/8, 2), pixel (x, y)
    ys, xs = np.meshgrid(np.arange(fl.shape[0]) * 8.0, np.arange(fl.shape[1]) * 8.0, indexing="ij")
    dx, dy = fabric_data.true_field(xs, ys, n)
    e = np.sqrt((fl[:, :, 0] - dx) ** 2 + (fl[:, :, 1] - dy) ** 2)
    sel = (xs > MARGIN * n) & (xs < (1 - MARGIN) * n) & (ys > MARGIN * n) & (ys < (1 - MARGIN) * n)
    return e[sel].mean(), np.percentile(e[sel], 95)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=17320)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levels", default="32x16x8")
    ap.add_argument("--grid", type=float, default=512)
    ap.add_argument("--dis", action="store_true", help="also run OpenCV DIS (about 13 GB at 300 MP)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--dir", default=os.path.join(ROOT, "build", "bench-large2d"))
    a = ap.parse_args()
    n = a.size
    os.makedirs(a.dir, exist_ok=True)
    t0 = time.time()
    args = [sys.executable, os.path.join(ROOT, "tests", "py", "fabric_data.py"), a.dir, str(n), "--no-true"]
    subprocess.run(args, check=True, capture_output=True)
    tag = os.path.join(a.dir, "fabric%d" % n)
    out = os.path.join(a.dir, "out%d" % n)
    print("# %dx%d uint8 fabric pair (%.0f MP), data ready in %.0f s; %d threads" % (n, n, n * n / 1e6, time.time() - t0, a.threads))
    fixed = np.asarray(nib.load(tag + "_fixed.nii").dataobj)[:, :, 0]
    moving = np.asarray(nib.load(tag + "_moving.nii").dataobj)[:, :, 0]
    print("unregistered: NCC %.4f" % ncc_chunked(fixed, moving, n))
    print("| tool | wall s | peak RSS MB | NCC warped | field error mean / p95 px |")
    print("|---|---|---|---|---|")
    for r in range(a.reps):
        wall, rss, err = run_medvol(tag, out, a)
        w = np.asarray(nib.load(out + "_medvol.nii").dataobj)[:, :, 0]
        em, e95 = field_error_medvol(out + "_medvol_field.nii", n)
        print("| medvol B-spline, levels %s, grid %g px | %.2f | %.0f | %.4f | %.3f / %.3f |" % (
            a.levels, a.grid, wall, rss, ncc_chunked(fixed, w, n), em, e95))
        sys.stdout.flush()
        del w
    if a.dis:
        wall, rss, err = run_dis(tag, out, a)
        w = np.asarray(nib.load(out + "_dis.nii").dataobj)[:, :, 0]
        em, e95 = dis_field_error(out, n)
        core = re.search(r"DIS ([0-9.]+) opencv (\S+)", err)
        print("| OpenCV %s DIS ultrafast (flow + remap %s s) | %.2f | %.0f | %.4f | %.3f / %.3f |" % (
            core.group(2) if core else "?", core.group(1) if core else "?", wall, rss, ncc_chunked(fixed, w, n), em, e95))


if __name__ == "__main__":
    main()
