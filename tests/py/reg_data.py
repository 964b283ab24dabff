"""Real test data for the registration tests, fetched once and cached.

usage: reg_data.py OUTDIR

- 3D: the MNI ICBM152 2009a T1 (1 mm, 197x233x189) and its grey/white matter
  maps from PyPI's nilearn wheel (pip download --no-deps, unzipped).
- 2D: ITK's brain slices (Debian insighttoolkit5-examples: apt-get download +
  dpkg -x; PNG decoded here with zlib, no PIL).

Then the pairs (scipy, float64, written with nibabel): the fixed image is the
source smoothed (Gaussian) and sampled on a fixed grid, the moving one the
same smoothed source sampled on a DIFFERENT grid (spacing, orientation,
shape) through the inverse of a known transform T (fixed world -> moving
world, RAS mm), so moving(T(x)) = fixed(x). Multi-modal pairs remap the
moving intensities non-monotonically. Each pair: NAME_fixed.nii,
NAME_moving.nii, NAME_true.txt (4x4), NAME_mask.nii (fixed foreground).
Prints "ok" or "SKIP: reason" (offline, no package).
"""
import glob
import os
import subprocess
import sys
import zipfile
import zlib
import struct

import numpy as np

from build_lock import hold, write_bytes, write_whole

try:
    import nibabel as nib
    from scipy import ndimage
except ImportError as e:  # the caller reports the skip
    print("SKIP: python module missing: %s" % e)
    sys.exit(0)

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
NILEARN = "0.10.3"
MNI = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


def fetch_mni():
    dst = os.path.join(OUT, MNI)
    if os.path.exists(dst):
        return dst
    whl = glob.glob(os.path.join(OUT, "nilearn-*.whl"))
    if not whl:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "nilearn==" + NILEARN, "-d", OUT],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        whl = glob.glob(os.path.join(OUT, "nilearn-*.whl"))
        if not whl:
            print("SKIP: pip download nilearn failed (offline?): %s" % r.stdout.decode()[-200:].replace("\n", " "))
            sys.exit(0)
    z = zipfile.ZipFile(whl[0])
    for name in z.namelist():
        if "mni_icbm152_" in name and name.endswith("_converted.nii.gz"):
            write_bytes(os.path.join(OUT, os.path.basename(name)), z.read(name))
    return dst


def png_gray(path):
    """8/16-bit grayscale PNG (what ITK's example slices are)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, w, pal = 8, b"", 0, None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert ctype in (0, 3) and interlace == 0 and depth in (8, 16), (path, ctype, depth)
        elif kind == b"PLTE":
            pal = np.frombuffer(body, np.uint8).reshape(-1, 3)[:, 0].astype(np.float64)  # gray palette
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = depth // 8
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], np.uint8).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 0:
                p = 0
            elif ft == 1:
                p = a
            elif ft == 2:
                p = b
            elif ft == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
        out[y] = cur
        prev = cur
    img = out.astype(np.float64) if bpp == 1 else out.view(">u2").astype(np.float64)
    if pal is not None:
        img = pal[out]
    return img.T  # (x, y): x fastest in the file's rows


def fetch_itk():
    d = os.path.join(OUT, "itk")
    pd = os.path.join(d, "usr/share/doc/insighttoolkit5-examples/examples/Data")
    if os.path.isdir(pd):
        return pd
    os.makedirs(d, exist_ok=True)
    r = subprocess.run(["apt-get", "download", "insighttoolkit5-examples"], cwd=d, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    debs = glob.glob(os.path.join(d, "insighttoolkit5-examples_*.deb"))
    if not debs:
        return None
    subprocess.run(["dpkg", "-x", debs[0], d], check=True)
    return pd if os.path.isdir(pd) else None


def rot3(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    X = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Z @ X @ Y


def sample(src, src_aff, grid_shape, grid_aff, world_map):
    """src (smoothed) sampled at world_map(grid world points), cubic, outside 0."""
    idx = np.indices(grid_shape, dtype=np.float64).reshape(len(grid_shape), -1)
    if len(grid_shape) == 2:
        idx = np.vstack([idx, np.zeros((1, idx.shape[1]))])
    pts = grid_aff[:3, :3] @ idx + grid_aff[:3, 3:4]
    pts = world_map[:3, :3] @ pts + world_map[:3, 3:4]
    inv = np.linalg.inv(src_aff)
    v = inv[:3, :3] @ pts + inv[:3, 3:4]
    if src.ndim == 2:
        v = v[:2]
    out = ndimage.map_coordinates(src, v, order=3, mode="constant", cval=0.0, prefilter=True)
    return out.reshape(grid_shape)


def save(name, arr, aff):
    write_whole(os.path.join(OUT, name), lambda t: nib.save(nib.Nifti1Image(arr.astype(np.float32), aff), t))


def save_txt(name, T):
    write_whole(os.path.join(OUT, name), lambda t: np.savetxt(t, T, fmt="%.17g"))


def make_pair(name, src, src_aff, fshape, faff, mshape, maff, T, remap=None, mask_src=None):
    fixed = sample(src, src_aff, fshape, faff, np.eye(4))
    moving = sample(src, src_aff, mshape, maff, np.linalg.inv(T))
    if remap is not None:
        lo, hi = np.percentile(src, 1), np.percentile(src, 99.5)
        moving = remap(np.clip((moving - lo) / (hi - lo), 0, 1)) * 1000.0
    save(name + "_fixed.nii", fixed, faff)
    save(name + "_moving.nii", moving, maff)
    thr = np.percentile(fixed, 60) if mask_src is None else None
    mask = (fixed > thr) if mask_src is None else (sample(mask_src, src_aff, fshape, faff, np.eye(4)) > 0.5)
    save(name + "_mask.nii", mask.astype(np.float32), faff)
    save_txt(name + "_true.txt", T)


def nonmono(x):  # a non-monotonic remap of [0, 1]: dark and bright both low
    return 0.15 + (x - 0.55) ** 2 * 3.0


def main():
    lock = hold(OUT)  # suites run side by side: one builds, the others wait
    done = os.path.join(OUT, "done.txt")
    if os.path.exists(done) and os.path.getmtime(done) >= os.path.getmtime(os.path.abspath(__file__)):
        print("ok " + open(done).read().strip())  # cached
        return
    have = []
    mni = fetch_mni()
    img = nib.load(mni)
    src = ndimage.gaussian_filter(np.asarray(img.get_fdata(), np.float64), 1.0)
    saff = img.affine
    # fixed: a 2 mm grid over the brain (RAS), moving: 2.3 mm LPS-like grid
    fshape = (80, 96, 80)
    faff = np.diag([2.0, 2.0, 2.0, 1.0])
    faff[:3, 3] = [-79.0, -113.0, -71.0]
    mshape = (76, 92, 74)
    maff = np.diag([-2.3, -2.2, 2.4, 1.0])
    maff[:3, 3] = [84.0, 90.0, -80.0]
    c = np.array([0.0, -18.0, 8.0])
    R = rot3(0.07, -0.05, 0.09)
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = c - R @ c + [4.0, -6.0, 3.0]
    make_pair("brain3d_rigid", src, saff, fshape, faff, mshape, maff, T)
    A = np.eye(4)
    A[:3, :3] = rot3(-0.05, 0.06, -0.04) @ np.array([[1.06, 0.03, 0.0], [-0.02, 0.95, 0.04], [0.01, 0.0, 1.03]])
    A[:3, 3] = c - A[:3, :3] @ c + [-3.0, 5.0, 2.0]
    make_pair("brain3d_affine", src, saff, fshape, faff, mshape, maff, A)
    make_pair("brain3d_mi", src, saff, fshape, faff, mshape, maff, T, remap=nonmono)
    have.append("3d")
    pd = fetch_itk()
    if pd:
        pdimg = png_gray(os.path.join(pd, "BrainProtonDensitySliceBorder20.png"))
        t1img = png_gray(os.path.join(pd, "BrainT1SliceBorder20.png"))
        a2 = np.eye(4)  # 1 mm pixels, origin 0
        s2 = lambda im: ndimage.gaussian_filter(im, 0.7)
        fsh = pdimg.shape
        maff2 = np.array([[0.9, -0.1, 0, 12.0], [0.1, 0.9, 0, -8.0], [0, 0, 1, 0], [0, 0, 0, 1]])
        msh = (int(fsh[0] * 1.05), int(fsh[1] * 1.05))
        c2 = np.array([fsh[0] / 2.0, fsh[1] / 2.0, 0])
        ang = 0.12
        T2 = np.eye(4)
        T2[:2, :2] = [[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]
        T2[:3, 3] = c2 - T2[:3, :3] @ c2 + [6.0, -4.5, 0]
        # mono-modal: PD vs PD; multi-modal: the T1 slice (same anatomy) moved
        make_pair("slice2d_pd", s2(pdimg), a2, fsh, a2, msh, maff2, T2)
        fixed = sample(s2(pdimg), a2, fsh, a2, np.eye(4))
        moving = sample(s2(t1img), a2, msh, maff2, np.linalg.inv(T2))
        save("slice2d_t1pd_fixed.nii", fixed, a2)
        save("slice2d_t1pd_moving.nii", moving, maff2)
        save("slice2d_t1pd_mask.nii", (fixed > np.percentile(fixed, 50)).astype(np.float32), a2)
        save_txt("slice2d_t1pd_true.txt", T2)
        have.append("2d")
    write_bytes(done, (" ".join(have) + "\n").encode())
    print("ok " + " ".join(have))


if __name__ == "__main__":
    main()
