"""A woven-fabric-like 2D pair with a known smooth deformation, for the
large-image B-spline registration (tests/test_bspline.c and
bench/large2d_bench.py). Independent of medvol: numpy + scipy + nibabel.

usage: fabric_data.py OUTDIR SIZE [--no-true] [--seed N]

The fixed image F (SIZE x SIZE, uint8, 1 mm pixels, nibabel's default
affine) is a plain weave: warp and weft threads of period 8 px whose
centre lines wander (a smooth random offset per thread of up to ~1 px),
over/under shading per crossing, times slowly varying brightness and
contrast (band-limited noise at 24, 96 and 384 px: stains, dye and
thickness variation, which the coarse pyramid levels see), plus fine
grain noise at 1.5 px. The moving image is F moved by an analytic smooth
field g (RAS/voxel units, two sine products per component, periods
0.45-0.9 x SIZE, largest |g| about 25 px): moving(q) = F(q + g(q)),
evaluated with scipy map_coordinates (order 3, mode 'mirror') on F's
float values, so the field a registration must find is d with
fixed(p) = moving(p + d(p)), i.e. p + d + g(p + d) = p, solved per pixel
by fixed-point iteration (residual < 1e-6 px). Written:
  fabric{SIZE}_fixed.nii, _moving.nii (uint8, rounded, clipped);
  fabric{SIZE}_true.nii: d as an ITK field ((X, Y, 1, 1, 2), float32, LPS
  mm = (-d_x, -d_y), intent 1007), unless --no-true (the 300 MP bench
  needs no 2.4 GB field).
Rows are made in chunks, so 17320 x 17320 needs about 4 GB. Prints "ok".
"""
import os
import sys

import numpy as np

try:
    import nibabel as nib
    from scipy import ndimage
except ImportError as e:
    print("SKIP: python module missing: %s" % e)
    sys.exit(0)

PERIOD = 8.0
AMP = 25.0
CHUNK = 512


def g_field(px, py, N):
    """the analytic deformation (px) of an N x N pair: periods 0.45-0.9 N,
    |g| up to ~AMP"""
    a = 2 * np.pi / N
    gx = AMP * (0.6 * np.sin(a * px / 0.9 + 0.3) * np.cos(a * py / 0.7 + 1.1) + 0.4 * np.sin(a * (px + py) / 0.45 + 2.0))
    gy = AMP * (0.6 * np.cos(a * px / 0.6 + 0.7) * np.sin(a * py / 0.8 + 0.2) + 0.4 * np.cos(a * (px - py) / 0.5 + 0.9))
    return gx, gy



def true_field(px, py, N, tol=1e-6):
    """d with p + d + g(p + d) = p (px, RAS/voxel axes), by fixed-point iteration"""
    dx = np.zeros_like(px, dtype=np.float64)
    dy = np.zeros_like(py, dtype=np.float64)
    for _ in range(60):
        gx, gy = g_field(px + dx, py + dy, N)
        res = max(np.abs(-gx - dx).max(), np.abs(-gy - dy).max())
        dx, dy = -gx, -gy
        if res < tol:
            break
    return dx, dy


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    OUT, N = args[0], int(args[1])
    NO_TRUE = "--no-true" in sys.argv
    SEED = 7
    for i, a in enumerate(sys.argv):
        if a == "--seed":
            SEED = int(sys.argv[i + 1])
    TAG = os.path.join(OUT, "fabric%d" % N)
    os.makedirs(OUT, exist_ok=True)
    if os.path.exists(TAG + "_moving.nii") and (NO_TRUE or os.path.exists(TAG + "_true.nii")):
        print("ok")
        return

    rng = np.random.default_rng(SEED)


    def smooth_noise(scale):
        """A band-limited random field of unit std at the given scale (px):
        white noise on a grid of scale/2 px, Gaussian-smoothed there, then
        cubic-interpolated to the full grid (separable: rows, then columns)."""
        step = scale / 2.0
        m = int(np.ceil(N / step)) + 8
        c = ndimage.gaussian_filter(rng.standard_normal((m, m)), 1.0, mode="wrap")
        c /= c.std()
        coef = ndimage.spline_filter(c, order=3, mode="mirror")
        pos = np.arange(N) / step + 4.0
        return coef, pos


    def eval_noise(field, rows):
        coef, pos = field
        yy, xx = np.meshgrid(pos[rows], pos, indexing="ij")
        return ndimage.map_coordinates(coef, [yy, xx], order=3, prefilter=False, mode="mirror")


    def thread_offsets(n_threads, scale):
        """per thread a smooth wander along its length (px), up to ~1 px"""
        m = int(np.ceil(N / scale)) + 4
        c = ndimage.gaussian_filter1d(rng.standard_normal((n_threads, m)), 1.0, axis=1)
        c *= 0.6 / max(c.std(), 1e-9)
        return c


    nthreads = int(np.ceil(N / PERIOD)) + 2
    warp_wander = thread_offsets(nthreads, 64.0)  # warp threads (vertical): x offset along y
    weft_wander = thread_offsets(nthreads, 64.0)
    crossing = rng.uniform(0.85, 1.15, (nthreads, nthreads))  # per crossing shading
    bright = [smooth_noise(s) for s in (24.0, 96.0, 384.0)]
    axis = np.arange(N, dtype=np.float64)


    def wander(w, idx_thread, t):
        """the offset of thread idx at positions t (px along it): linear in the coarse samples"""
        u = t / 64.0
        i0 = np.clip(np.floor(u).astype(np.int64), 0, w.shape[1] - 2)
        f = u - i0
        return w[idx_thread, i0] * (1 - f) + w[idx_thread, i0 + 1] * f


    def fabric_rows(rows):
        y = axis[rows][:, None]
        x = axis[None, :]
        # the nearest warp thread to x and weft thread to y, and the distance to their centre lines
        iw = np.clip(np.round(x / PERIOD).astype(np.int64) + 1, 0, nthreads - 1) + 0 * y.astype(np.int64)
        ie = np.clip(np.round(y / PERIOD).astype(np.int64) + 1, 0, nthreads - 1) + 0 * x.astype(np.int64)
        dx = x - ((iw - 1) * PERIOD + wander(warp_wander, iw, y + 0 * x))
        dy = y - ((ie - 1) * PERIOD + wander(weft_wander, ie, x + 0 * y))
        # thread profiles (bright centre, dark gaps); plain weave: warp over weft where iw + ie is even
        pw = np.cos(np.pi * np.clip(dx / (0.5 * PERIOD), -1, 1)) * 0.5 + 0.5
        pe = np.cos(np.pi * np.clip(dy / (0.5 * PERIOD), -1, 1)) * 0.5 + 0.5
        over = ((iw + ie) % 2 == 0)
        v = np.where(over, 0.35 + 0.55 * pw + 0.1 * pe, 0.35 + 0.55 * pe + 0.1 * pw)
        v = v * crossing[iw, ie]
        b = [eval_noise(f, rows) for f in bright]
        v = v * (1.0 + 0.12 * b[0]) * (1.0 + 0.2 * b[1]) + 0.12 * b[2] + 0.04 * b[1]
        return v


    # fixed, as floats (kept for the moving image's interpolation) and uint8
    F = np.empty((N, N), np.float32)  # F[y, x]
    for r0 in range(0, N, CHUNK):
        F[r0:r0 + CHUNK] = fabric_rows(np.arange(r0, min(N, r0 + CHUNK)))
    lo, hi = np.percentile(F[:: max(1, N // 1024), :: max(1, N // 1024)], [0.5, 99.5])
    scale = 235.0 / (hi - lo)
    to_u8 = lambda a: np.clip(np.rint((a - lo) * scale + 10.0), 0, 255).astype(np.uint8)

    affine = np.eye(4)


    def save(arr_yx, name, dtype):
        img = nib.Nifti1Image(np.ascontiguousarray(arr_yx.T)[:, :, None], affine)
        img.set_data_dtype(dtype)
        img.header.set_xyzt_units("mm")
        nib.save(img, TAG + name)


    save(to_u8(F), "_fixed.nii", np.uint8)

    coef = ndimage.spline_filter(F, order=3, mode="mirror", output=np.float32)
    M = np.empty((N, N), np.uint8)
    for r0 in range(0, N, CHUNK):
        rows = np.arange(r0, min(N, r0 + CHUNK))
        qy, qx = np.meshgrid(axis[rows], axis, indexing="ij")
        gx, gy = g_field(qx, qy, N)
        M[r0:r0 + CHUNK] = to_u8(ndimage.map_coordinates(coef, [qy + gy, qx + gx], order=3, prefilter=False, mode="mirror"))
    del coef
    save(M, "_moving.nii", np.uint8)
    del M

    if not NO_TRUE:
        D = np.empty((N, N, 2), np.float32)  # [y, x, (d_x, d_y)] in px = RAS mm
        for r0 in range(0, N, CHUNK):
            rows = np.arange(r0, min(N, r0 + CHUNK))
            py, px = np.meshgrid(axis[rows], axis, indexing="ij")
            dx, dy = true_field(px, py, N)
            D[r0:r0 + CHUNK, :, 0] = -dx  # LPS
            D[r0:r0 + CHUNK, :, 1] = -dy
        t = np.ascontiguousarray(D.transpose(1, 0, 2))[:, :, None, None, :]
        img = nib.Nifti1Image(t, affine)
        img.header.set_intent(1007)
        img.header.set_xyzt_units("mm")
        nib.save(img, TAG + "_true.nii")
    print("ok")


if __name__ == "__main__":
    main()
