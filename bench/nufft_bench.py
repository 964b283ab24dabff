#!/usr/bin/env python3
"""NUFFT bench: medvol (ctypes on a shared build of medvol.h) beside FINUFFT
(PyPI finufft) and BART (`bart nufft`) on identical data, errors first.

Case (issue 13): 256^2 image, golden-angle radial 402 spokes x 512 samples
(medvol's trajectory, equal to `bart traj -r -G -x 512 -y 402`, halved so
|k| <= N/2), 32 coils, complex64. Each tool runs type 1 (adjoint) and type 2
(forward) on the same arrays; the relative l2 error of coil 0 is measured
against an exact float64 NUDFT (numpy) on 256 points / 256 voxels. Times:
median of --reps runs after one warm-up, plans made outside the timing (both
libraries reuse a plan across calls), --threads threads.

Run with the python that has finufft (pyenv `python3`; numpy 2 is fine):
    python3 bench/nufft_bench.py [--threads 2] [--reps 3] [--no-bart]
The shared library is built once into build/libmedvol_bench.so.
"""
import argparse, ctypes, os, subprocess, tempfile, time
import numpy as np

from medvol_so import SO, build_so  # noqa: E402 (bench/medvol_so.py: the shared library, built on first use)


class NufftOpts(ctypes.Structure):
    _fields_ = [("tol", ctypes.c_double), ("coils", ctypes.c_int64), ("block", ctypes.c_int64),
                ("threads", ctypes.c_int), ("alloc_ctx", ctypes.c_void_p)]


class Medvol:
    def __init__(self):
        build_so()
        L = ctypes.CDLL(SO)
        L.mv_nufft_plan_make.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int64),
                                         ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(NufftOpts)]
        L.mv_nufft_execute_into.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                            ctypes.c_int64, ctypes.c_void_p]
        L.mv_nufft_scratch_size.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        L.mv_nufft_scratch_size.restype = ctypes.c_size_t
        L.mv_nufft_plan_free.argtypes = [ctypes.c_void_p]
        L.mv_last_error.restype = ctypes.c_char_p
        L.mv_build_info.restype = ctypes.c_char_p
        self.L = L

    def plan(self, dims, coords, tol, coils, threads):
        p = ctypes.c_void_p()
        o = NufftOpts(tol, coils, 0, threads, None)
        d = (ctypes.c_int64 * 3)(*dims)
        c = np.ascontiguousarray(coords, dtype=np.float32)
        st = self.L.mv_nufft_plan_make(ctypes.byref(p), d, c.ctypes.data, c.shape[0], ctypes.byref(o))
        if st:
            raise RuntimeError(self.L.mv_last_error().decode())
        n = self.L.mv_nufft_scratch_size(p, coils)
        scratch = np.empty(n + 64, dtype=np.uint8)
        return p, scratch

    def run(self, plan, adjoint, inp, out, coils):
        p, scratch = plan
        st = self.L.mv_nufft_execute_into(p, adjoint, inp.ctypes.data, out.ctypes.data, coils, scratch.ctypes.data)
        if st:
            raise RuntimeError(self.L.mv_last_error().decode())

    def free(self, plan):
        self.L.mv_nufft_plan_free(plan[0])


def timeit(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3


def radial_golden(X, Y):
    # BART's traj -r -G: angle j * pi (sqrt5 - 1)/2 in double, sinf/cosf of the float angle
    ga = np.pi * (2.0 - (3.0 - np.sqrt(5.0))) / 2.0
    ang = (np.arange(Y) * ga).astype(np.float32)
    read = np.arange(X) + 0.5 - X / 2.0
    kx = (read[None, :] * np.sin(ang)[:, None].astype(np.float64)).astype(np.float32)
    ky = (read[None, :] * np.cos(ang)[:, None].astype(np.float64)).astype(np.float32)
    return kx.ravel(), ky.ravel()  # point m = i + X * j


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--coils", type=int, default=32)
    ap.add_argument("--no-bart", action="store_true")
    ap.add_argument("--3d", dest="d3", action="store_true", help="3D case: 128^3, 2^21 points (8192 golden-means spokes x 256), 1 coil")
    ap.add_argument("--tols", default="1e-2,1e-3,1e-4,1e-5,1e-6", help="comma-separated tolerances")
    a = ap.parse_args()
    N, C, T = a.size, a.coils, a.threads
    rng = np.random.default_rng(0)
    if a.d3:
        N, C = 128, 1
        g1, g2 = 0.46557123187676802665, 0.68232780382801932737
        j = np.arange(8192)
        z = np.mod(j * g1, 1.0)
        az = 2 * np.pi * np.mod(j * g2, 1.0)
        rr = np.sqrt(1 - z * z)
        read = (np.arange(256) + 0.5 - 128) * 0.5  # |k| <= 64
        kx = (read[None, :] * (rr * np.cos(az))[:, None]).astype(np.float32).ravel()
        ky = (read[None, :] * (rr * np.sin(az))[:, None]).astype(np.float32).ravel()
        kz = (read[None, :] * z[:, None]).astype(np.float32).ravel()
        shape = (N, N, N)
    else:
        kx, ky = radial_golden(2 * N, 402)
        kx *= np.float32(0.5)
        ky *= np.float32(0.5)
        kz = np.zeros_like(kx)
        shape = (N, N)
    M = kx.size
    img = (rng.standard_normal((C,) + shape) + 1j * rng.standard_normal((C,) + shape)).astype(np.complex64)  # (c, [z,] y, x)
    ksp = (rng.standard_normal((C, M)) + 1j * rng.standard_normal((C, M))).astype(np.complex64)
    nvox = N ** len(shape)
    s = 1.0 / np.sqrt(nvox)
    nsub = 64 if a.d3 else 256
    xs = np.arange(N) - N / 2
    sub_p = (np.arange(nsub) * 7919) % M
    sub_v = (np.arange(nsub) * 104729) % nvox
    f0 = img[0].astype(np.complex128)
    ref2 = np.empty(nsub, np.complex128)
    for i, q in enumerate(sub_p):  # exact forward at the subset points
        e = np.exp(-2j * np.pi * kx[q].astype(np.float64) * xs / N)
        e2 = np.exp(-2j * np.pi * ky[q].astype(np.float64) * xs / N)
        if a.d3:
            e3 = np.exp(-2j * np.pi * kz[q].astype(np.float64) * xs / N)
            ref2[i] = s * np.einsum("zyx,z,y,x->", f0, e3, e2, e)
        else:
            ref2[i] = s * np.einsum("yx,y,x->", f0, e2, e)
    vx, vy, vz = sub_v % N - N / 2, (sub_v // N) % N - N / 2, sub_v // (N * N) - N / 2
    ref1 = np.empty(nsub, np.complex128)
    k64 = ksp[0].astype(np.complex128)
    for i in range(nsub):
        ph = vx[i] * kx.astype(np.float64) + vy[i] * ky.astype(np.float64)
        if a.d3:
            ph += vz[i] * kz.astype(np.float64)
        ref1[i] = s * (np.exp(2j * np.pi * ph / N) @ k64)

    def err2(out):
        return np.linalg.norm(out[0][sub_p] - ref2) / np.linalg.norm(ref2)

    def err1(out):
        return np.linalg.norm(out[0].ravel()[sub_v] - ref1) / np.linalg.norm(ref1)

    load = os.getloadavg()
    rows = []
    mv = Medvol()
    print("# %s" % mv.L.mv_build_info().decode())
    print("# NUFFT %s, %d points (%s), %d coils, %d threads, load %.1f %.1f %.1f (shared machine)"
          % ("x".join([str(N)] * len(shape)), M, "8192 golden-means spokes x 256" if a.d3 else "402 x %d golden radial" % (2 * N),
             C, T, *load))
    coords = np.stack([kx, ky, kz], 1)
    tols = [float(v) for v in a.tols.split(",")]
    for tol in tols:
        pl = mv.plan((N, N, N if a.d3 else 1), coords, tol, C, T)
        o1 = np.empty((C,) + shape, np.complex64)
        o2 = np.empty((C, M), np.complex64)
        t1 = timeit(lambda: mv.run(pl, 1, ksp, o1, C), a.reps)
        t2 = timeit(lambda: mv.run(pl, 0, img, o2, C), a.reps)
        rows.append(("medvol", tol, t1, err1(o1), t2, err2(o2)))
        mv.free(pl)
    try:
        import finufft
        # finufft's first axis is our slowest (numpy order)
        pts = [(2 * np.pi * v / N).astype(np.float32) for v in ((kz, ky, kx) if a.d3 else (ky, kx))]
        for tol in tols:
            p1 = finufft.Plan(1, shape, n_trans=C, eps=tol, isign=1, dtype="complex64", nthreads=T)
            p1.setpts(*pts)
            p2 = finufft.Plan(2, shape, n_trans=C, eps=tol, isign=-1, dtype="complex64", nthreads=T)
            p2.setpts(*pts)
            r = {}
            kin = ksp if C > 1 else ksp[0]
            iin = img if C > 1 else img[0]
            t1 = timeit(lambda: r.__setitem__(1, (p1.execute(kin) * np.float32(s)).reshape((C,) + shape)), a.reps)
            t2 = timeit(lambda: r.__setitem__(2, (p2.execute(iin) * np.float32(s)).reshape(C, M)), a.reps)
            rows.append(("finufft %s" % finufft.__version__, tol, t1, err1(r[1]), t2, err2(r[2])))
    except ImportError:
        print("# finufft not importable in this python: skipped")
    if not a.no_bart and not a.d3 and subprocess.run("command -v bart", shell=True, capture_output=True).returncode == 0:
        with tempfile.TemporaryDirectory() as d:
            def wcfl(name, arr, dims):
                with open(os.path.join(d, name + ".hdr"), "w") as f:
                    f.write("# Dimensions\n" + " ".join(str(v) for v in dims + [1] * (16 - len(dims))) + "\n")
                np.asarray(arr, np.complex64).tofile(os.path.join(d, name + ".cfl"))

            def rcfl(name, count):
                return np.fromfile(os.path.join(d, name + ".cfl"), np.complex64, count)
            tr = np.zeros((M, 3), np.complex64)
            tr[:, 0], tr[:, 1] = kx, ky
            wcfl("t", tr, [3, 2 * N, 402])
            wcfl("k", ksp, [1, 2 * N, 402, C])
            wcfl("i", img, [N, N, 1, C])
            env = dict(os.environ, OMP_NUM_THREADS=str(T))
            def bart(args):
                t0 = time.perf_counter()
                subprocess.run(["bart", "nufft"] + args, cwd=d, env=env, check=True, capture_output=True)
                return (time.perf_counter() - t0) * 1e3
            t1 = bart(["-a", "-d", "%d:%d:1" % (N, N), "t", "k", "a"])
            t2 = bart(["-d", "%d:%d:1" % (N, N), "t", "i", "f"])
            o1 = rcfl("a", C * N * N).reshape(C, N, N)
            o2 = rcfl("f", C * M).reshape(C, M)
            rows.append(("bart nufft (CLI, incl. I/O)", 0, t1, err1(o1), t2, err2(o2)))
    print("%-28s %8s %11s %10s %11s %10s" % ("tool", "tol", "adjoint ms", "adj err", "forward ms", "fwd err"))
    for r in rows:
        print("%-28s %8.0e %11.1f %10.2e %11.1f %10.2e" % r)
    # equal measured error: for each FINUFFT row, the fastest medvol row at an error no larger
    print("# at equal measured error (medvol's fastest row whose error <= FINUFFT's):")
    for r in rows:
        if not r[0].startswith("finufft"):
            continue
        for k, name in ((2, "adjoint"), (4, "forward")):
            cand = [m for m in rows if m[0] == "medvol" and m[k + 1] <= r[k + 1]]
            if cand:
                best = min(cand, key=lambda m: m[k])
                print("#   finufft tol %.0e %s: %.1f ms (err %.2e) | medvol tol %.0e: %.1f ms (err %.2e) | ratio %.2f"
                      % (r[1], name, r[k], r[k + 1], best[1], best[k], best[k + 1], best[k] / r[k]))


if __name__ == "__main__":
    main()
