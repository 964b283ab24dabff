#!/usr/bin/python3
"""The analysis kernels (medvol.h >>api-analysis) beside numpy and
multipletau on the same arrays, the shapes of examples/profile_analysis.c
(run it beside this: the profile gives each kernel's ratio to memcpy in C).

Each row first checks medvol's output against the peer's (the tolerance is
printed), then times medvol, the peer and a copy of the input's bytes
(numpy.copyto: read + write, the profiles' memcpy yardstick) interleaved,
round after round, so all three see the same moments of a shared machine.
Columns: median and min ms, x memcpy (copy median / op median), and the
peer's median over medvol's (the speed-up).

Two-time correlation: medvol's blocked product is timed beside numpy's
float64 product (X @ X.T) and beside numpy's float32 matrix multiply of the
same shape (X32 @ Y32.T with Y32 a copy, so a plain SGEMM, not SYRK), which
is this machine's single-precision matrix-multiply rate in the same run:
medvol's GFLOP/s (the T(T+1)/2 products it needs, 2 flops a sample) over
numpy's SGEMM GFLOP/s (2 T^2 P) is the "fraction of SGEMM peak".

Usage (Debian's python3 with numpy and multipletau):
    /usr/bin/python3 bench/analysis_bench.py [--mb 128] [--reps 7] [--threads 2] [--cpu-time] [--only twotime]
numpy's SGEMM is a peak only on an optimised BLAS: Debian's python3-numpy
runs on the reference BLAS unless libopenblas0-pthread is installed (the
script prints which BLAS numpy loaded).
medvol runs from build/libmedvol_bench.so (built here from medvol.h with
-O2 -ffp-contract=off -DMEDVOL_RUNTIME_DISPATCH when older than the header).
numpy's BLAS gets the same thread count (OPENBLAS_NUM_THREADS); medvol's
opts.threads is set to it.
"""
import argparse
import ctypes
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("--mb", type=float, default=128, help="input MB of the streaming kernels (profile_analysis's MB)")
ap.add_argument("--reps", type=int, default=7)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--only", default="", help="comma list: corr,chi2,seed,angle,mtau,twotime")
ap.add_argument("--cpu-time", action="store_true",
                help="time with the process's CPU time (with --threads 1: each op's own work, robust to a shared "
                     "machine's time slicing; with more threads it sums them)")
args = ap.parse_args()
for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = str(args.threads)
import numpy as np  # noqa: E402

from medvol_so import SO, build_so  # noqa: E402 (bench/medvol_so.py: the shared library, built on first use)
F32, F64 = 11, 12  # mv_dtype


class CorrOpts(ctypes.Structure):
    _fields_ = [("sample_mask", ctypes.c_void_p), ("fisher_z", ctypes.c_int), ("voxel_mask", ctypes.c_void_p),
                ("threads", ctypes.c_int), ("alloc_ctx", ctypes.c_void_p)]


class Chi2Opts(ctypes.Structure):
    _fields_ = [("fit", ctypes.c_int), ("reduced", ctypes.c_int), ("nparams", ctypes.c_int),
                ("model_shared", ctypes.c_int), ("sigma_shared", ctypes.c_int), ("n_used", ctypes.c_void_p),
                ("threads", ctypes.c_int), ("alloc_ctx", ctypes.c_void_p)]


class Seed(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("voxel", ctypes.c_int64 * 3), ("mask", ctypes.c_void_p),
                ("series", ctypes.c_void_p)]


class MtauOpts(ctypes.Structure):
    _fields_ = [("m", ctypes.c_int), ("levels", ctypes.c_int), ("alloc_ctx", ctypes.c_void_p)]


build_so()
L = ctypes.CDLL(SO)
L.mv_last_error.restype = ctypes.c_char_p
L.mv_build_info.restype = ctypes.c_char_p
L.mv_isa_name.restype = ctypes.c_char_p
VP, I64 = ctypes.c_void_p, ctypes.c_int64
L.mv_corr_rows.argtypes = [VP, VP, ctypes.c_int, I64, I64, I64, VP, VP]
L.mv_chi2_rows.argtypes = [VP, VP, VP, ctypes.c_int, I64, I64, VP, VP, VP, VP]
L.mv_vol_wrap.argtypes = [VP, VP, ctypes.c_int, ctypes.c_int, VP]
L.mv_corr_seed_into.argtypes = [VP, VP, VP, VP]
L.mv_angle_select.argtypes = [VP, I64, VP, ctypes.c_int, VP, I64, VP]
L.mv_mtau_create.argtypes = [VP, VP, I64, ctypes.c_int, VP]
L.mv_mtau_push.argtypes = [VP, VP, ctypes.c_int]
L.mv_mtau_destroy.argtypes = [VP]
L.mv_mtau_lags.argtypes = [VP, VP, VP]
L.mv_mtau_sums.argtypes = [VP, ctypes.c_int, VP, VP, VP, VP]
L.mv_twotime.argtypes = [VP, ctypes.c_int, I64, I64, VP, ctypes.c_int, VP, VP]


def ok(st):
    if st:
        raise RuntimeError(L.mv_last_error().decode())


def ptr(a):
    return a.ctypes.data


clock = time.process_time if args.cpu_time else time.perf_counter


def timed(fns, reps):
    """fns: name -> callable, each called once (warm-up), then round-robin reps times: name -> (median, min) ms"""
    for f in fns.values():
        f()
    ts = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t = clock()
            f()
            ts[k].append((clock() - t) * 1e3)
    return {k: (float(np.median(v)), float(min(v))) for k, v in ts.items()}


ROWS = []


def row(name, nbytes, t, peer, check):
    cp = t["copy"][0]
    med, mn = t["medvol"]
    pmed, pmn = t[peer]
    ROWS.append((name, med, mn, cp / med, peer, pmed, pmn, cp / pmed, pmed / med, check))
    print("%-34s medvol %9.3f (min %9.3f) ms %5.2f x memcpy | %-12s %10.3f (min %10.3f) ms %5.2f x memcpy | "
          "speed-up %6.1f | %s" % (name, med, mn, cp / med, peer, pmed, pmn, cp / pmed, pmed / med, check), flush=True)


def copier(a):
    dst = np.empty_like(a)
    return lambda: np.copyto(dst, a)


def want(k):
    return not args.only or k in args.only.split(",")


rng = np.random.default_rng(1)
mb = args.mb
TH = args.threads
print(L.mv_build_info().decode())
blas = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "blas" in ln.lower()})
print("# analysis_bench: %g MB inputs, %d rounds, %d threads (medvol opts.threads, OPENBLAS_NUM_THREADS), %s; "
      "numpy %s on %s" % (mb, args.reps, TH, "CPU time" if args.cpu_time else "wall time", np.__version__,
                          ", ".join(os.path.basename(b) for b in blas) or "?"), flush=True)
if not any("openblas" in b for b in blas):
    print("# numpy's BLAS is not OpenBLAS: its SGEMM is no peak (Debian: apt-get install libopenblas0-pthread, or "
          "LD_LIBRARY_PATH to an unpacked copy)", flush=True)

# ---- Pearson: one vector against rows of 1000 ----
if want("corr"):
    n = 1000
    nr = int(mb * 1e6 / 4 / n)
    Y = rng.random((nr, n), dtype=np.float32)
    x = rng.random(n, dtype=np.float32)
    out = np.empty(nr)
    o = CorrOpts(None, 0, None, TH, None)

    def mv():
        ok(L.mv_corr_rows(ptr(x), ptr(Y), F32, nr, n, n, ptr(out), ctypes.byref(o)))

    def npy():
        xc = x.astype(np.float64) - x.mean(dtype=np.float64)
        Yd = Y.astype(np.float64)
        yc = Yd - Yd.mean(axis=1, keepdims=True)
        return (yc @ xc) / np.sqrt((yc * yc).sum(axis=1) * (xc @ xc))

    mv()
    err = float(np.max(np.abs(out - npy())))
    t = timed({"copy": copier(Y), "medvol": mv, "numpy": npy}, args.reps)
    row("corr_rows f32 (rows of 1000)", Y.nbytes, t, "numpy", "max|dr| %.1e (<= 1e-12)" % err)
    assert err <= 1e-12
    del Y

# ---- chi-squared with the contrast/offset fit: rows of 200, one model ----
if want("chi2"):
    n = 200
    nr = int(mb * 1e6 / 4 / n)
    m = (1 + 0.3 * np.sin(np.arange(n) * 0.05)).astype(np.float32)
    D = (2.5 * m[None, :] + 0.1 + 0.05 * (rng.random((nr, n), dtype=np.float32) - 0.5)).astype(np.float32)
    chi, cc, oo = np.empty(nr), np.empty(nr), np.empty(nr)
    co = Chi2Opts(1, 0, 0, 1, 0, None, TH, None)

    def mv():
        ok(L.mv_chi2_rows(ptr(D), ptr(m), None, F32, nr, n, ptr(chi), ptr(cc), ptr(oo), ctypes.byref(co)))

    def npy():  # least squares of d = c m + o per row, closed form on centred sums (lstsq's answer)
        Dd = D.astype(np.float64)
        md = m.astype(np.float64)
        mc = md - md.mean()
        dm = Dd.mean(axis=1, keepdims=True)
        c = ((Dd - dm) @ mc) / (mc @ mc)
        r = (Dd - dm) - c[:, None] * mc[None, :]
        return (r * r).sum(axis=1), c, dm[:, 0] - c * md.mean()

    mv()
    rc, rcc, roo = npy()
    err = max(float(np.max(np.abs(chi - rc) / np.abs(rc))), float(np.max(np.abs(cc - rcc) / np.abs(rcc))),
              float(np.max(np.abs(oo - roo) / np.abs(roo))))
    t = timed({"copy": copier(D), "medvol": mv, "numpy": npy}, args.reps)
    row("chi2 fit f32 (rows of 200)", D.nbytes, t, "numpy", "max rel (chi2, c, o) %.1e (<= 1e-9)" % err)
    assert err <= 1e-9
    del D

# ---- seed map: 64x64x32xT float32, one voxel's series ----
if want("seed"):
    T = int(mb * 1e6 / 4 / (64 * 64 * 32))
    B = rng.random((T, 32, 64, 64), dtype=np.float32)  # medvol's (x, y, z, t) with x fastest
    mp = np.empty((32, 64, 64), np.float32)
    vb, vm = ctypes.create_string_buffer(65536), ctypes.create_string_buffer(65536)
    ok(L.mv_vol_wrap(vb, ptr(B), F32, 4, ptr(np.array([64, 64, 32, T], np.int64))))
    ok(L.mv_vol_wrap(vm, ptr(mp), F32, 3, ptr(np.array([64, 64, 32], np.int64))))
    sd = Seed(0, (ctypes.c_int64 * 3)(10, 20, 5), None, None)
    o = CorrOpts(None, 0, None, TH, None)

    def mv():
        ok(L.mv_corr_seed_into(vb, ctypes.byref(sd), vm, ctypes.byref(o)))

    def npy():  # nilearn-style: z-scored seed against z-scored voxels, mean of products
        s = B[:, 5, 20, 10].astype(np.float64)
        s = (s - s.mean()) / s.std()
        Bd = B.reshape(T, -1).astype(np.float64)
        mu = Bd.mean(axis=0)
        sdv = Bd.std(axis=0)
        sdv[sdv == 0] = 1
        return ((s @ (Bd - mu)) / T / sdv).reshape(32, 64, 64)

    mv()
    err = float(np.max(np.abs(mp - npy())))
    t = timed({"copy": copier(B), "medvol": mv, "numpy": npy}, args.reps)
    row("corr_seed 64x64x32x%d f32" % T, B.nbytes, t, "numpy", "max|dr| %.1e (<= 1e-6, float32 map)" % err)
    assert err <= 1e-6
    del B

# ---- angle selection: 1e5 angles, 4 ranges (one across +-180) ----
if want("angle"):
    a = (rng.random(100000) - 0.5) * 360
    rg = np.array([-30, 10, 40, 60, 170, -170, 100, 120], np.float64)
    idx = np.empty(100000 + 64, np.int64)
    cnt = ctypes.c_int64()

    def mv():
        ok(L.mv_angle_select(ptr(a), a.size, ptr(rg), 4, ptr(idx), idx.size, ctypes.byref(cnt)))

    def npy():
        w = 180 - np.mod(180 - a, 360)
        k = np.zeros(a.size, bool)
        for lo, hi in rg.reshape(-1, 2):
            k |= ((w >= lo) & (w <= hi)) if lo <= hi else ((w >= lo) | (w <= hi))
        return np.flatnonzero(k)

    mv()
    same = np.array_equal(idx[:cnt.value], npy())
    t = timed({"copy": copier(a), "medvol": mv, "numpy": npy}, args.reps * 40)
    row("angle_select 1e5 angles, 4 ranges", a.nbytes, t, "numpy", "same indices: %s" % same)
    print("  angle_select medvol median %.1f us, min %.1f us (target <= 50 us)" % (t["medvol"][0] * 1e3,
                                                                                  t["medvol"][1] * 1e3))
    assert same

# ---- multi-tau: multipletau.autocorrelate per pixel, summed over the region ----
if want("mtau"):
    try:
        import multipletau
    except ImportError:
        multipletau = None
        print("multi-tau: multipletau not installed (pip install multipletau)")
    if multipletau is not None:
        P, T, m = 1024, 2000, 16
        fr = rng.poisson(3.0, (T, P)).astype(np.float32)  # photon counts, frame after frame
        lab = np.ones(P, np.int32)
        mo = MtauOpts(m, 12, None)

        def mv():
            h = ctypes.c_void_p()
            ok(L.mv_mtau_create(ctypes.byref(h), ptr(lab), P, 1, ctypes.byref(mo)))
            for f in range(T):
                ok(L.mv_mtau_push(h, ptr(fr[f]), F32))
            nl = ctypes.c_int()
            L.mv_mtau_lags(h, None, ctypes.byref(nl))
            s = np.empty(nl.value)
            c = np.empty(nl.value, np.int64)
            L.mv_mtau_sums(h, 1, ptr(s), None, None, ptr(c))
            L.mv_mtau_destroy(h)
            return s, c

        def mt():
            tot = None
            for p in range(P):
                g = multipletau.autocorrelate(fr[:, p].astype(np.float64), m=m, normalize=False, deltat=1)
                tot = g[:, 1] if tot is None else tot + g[:, 1]
            return g[:, 0], tot

        (s, c), (lags, G) = mv(), mt()
        k = len(G)
        # multipletau's unnormalised G of level l is sxx * N_0 / N_l (N_l values of the level)
        lev = np.maximum(0, np.ceil(np.log2(np.maximum(lags, 1) / m)).astype(int))
        Nl = np.array([T >> int(q) for q in lev], np.float64)
        mine = s[:k] * T / Nl
        err = float(np.max(np.abs(mine - G) / np.abs(G)))
        fcopy = copier(fr)
        t = timed({"copy": fcopy, "medvol": lambda: mv(), "multipletau": lambda: mt()}, max(3, args.reps // 2))
        row("mtau %d px x %d frames, m=%d" % (P, T, m), fr.nbytes, t, "multipletau",
            "max rel G %.1e (<= 1e-10)" % err)
        assert err <= 1e-10

# ---- two-time: 500 frames x 4096 px, photon counts and real values ----
if want("twotime"):
    T, P = 500, 4096
    lab = np.ones(P, np.int32)
    C = np.empty((T, T))
    o = CorrOpts(None, 0, None, TH, None)
    Y32 = rng.random((T, P), dtype=np.float32)
    for kind in ("counts", "real"):
        if kind == "counts":
            X = rng.poisson(4.0, (T, P)).astype(np.float32)
        else:
            X = (rng.random((T, P)) * 3 + 1).astype(np.float32)
        X32 = X.copy()

        def mv():
            ok(L.mv_twotime(ptr(X), F32, T, P, ptr(lab), 1, ptr(C), ctypes.byref(o)))

        def npy():
            Xd = X.astype(np.float64)
            mu = Xd.mean(axis=1)
            return (Xd @ Xd.T) / P / np.outer(mu, mu)

        def sgemm():
            return X32 @ Y32.T

        mv()
        err = float(np.max(np.abs(C - npy()) / np.abs(npy())))
        t = timed({"copy": copier(X), "medvol": mv, "numpy": npy, "sgemm": sgemm}, args.reps)
        gf = T * (T + 1) / 2 * P * 2 / 1e6 / t["medvol"][0]
        gfmin = T * (T + 1) / 2 * P * 2 / 1e6 / t["medvol"][1]
        sg = 2.0 * T * T * P / 1e6 / t["sgemm"][0]
        sgmax = 2.0 * T * T * P / 1e6 / t["sgemm"][1]
        row("twotime %dx%d %s" % (T, P, kind), X.nbytes, t, "numpy", "max rel C %.1e (<= 1e-12)" % err)
        print("  medvol %.1f GFLOP/s (best %.1f); numpy float32 SGEMM %.1f GFLOP/s (best %.1f): %.2f of SGEMM "
              "(best/best %.2f)" % (gf, gfmin, sg, sgmax, gf / sg, gfmin / sgmax), flush=True)
        assert err <= 1e-12
