"""bench.py - medvol side by side with its peers, on identical inputs.

    bench.py run    [--quick] [--large] [--sizes 128,256] [--reps N] [--threads N] [--only REGEX]
    bench.py check  [--sizes ...] [--reps N]     medvol only, against bench/baseline.json
    bench.py baseline [--sizes ...] [--reps N]   medvol only, writes bench/baseline.json

`make bench`, `make bench-check` and `make bench-baseline` call it from the
venv that bench/setup.sh builds (see bench/README.md). Debian 12's
/usr/bin/python3 runs it too, torch from python3-torch (CPU, 1.13.1) and
MONAI 1.4.0 / TorchIO 0.20.23 pip-installed with --no-deps (bench/setup.sh's
header has the commands); point MVBENCH_LIB at the library and --out away
from bench/RESULTS.md for such a run (versions differ from requirements.txt).

How a row is measured (run):
  1. One input per size: medvol's smooth phantom (Gaussian blobs + uniform
     noise, [0, 1000], the same bytes on every machine), as float32 and as
     int16 with NIfTI scaling (slope 0.5, inter 10), in .nii (written by
     medvol), .nii.gz (the .nii bytes through Python's gzip module: one zlib
     member, as gzip(1) and most tools write) and an indexed multi-member
     .nii.gz written by medvol.
  2. Every tool that has the operation runs once on that input (warm-up);
     its output is compared with an independent float64 reference (numpy /
     scipy); max |difference| must be within the row's tolerance, else the
     cell is marked and the tool is not timed.
  3. The agreeing tools are timed in the same process, interleaved (each
     round runs every tool once, in a rotated order), --reps rounds after a
     second warm-up call; median and min of the rounds are reported.
medvol is called through build/libmvbench.so (bench/mvbench.c) with ctypes,
timed with time.perf_counter around the call (ctypes overhead: ~2 us).
"""
import argparse
import ctypes
import gc
import gzip
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB_PATH = os.environ.get("MVBENCH_LIB") or os.path.join(ROOT, "build", "libmvbench.so")
WORK_DIR = os.path.join(ROOT, "build", "bench-work")
BASELINE = os.path.join(HERE, "baseline.json")

MEDVOLS = ("medvol", "medvol-1t", "medvol-into")
PEERS = ["numpy", "scipy", "torch", "MONAI", "TorchIO", "medrs", "SimpleITK", "pynrrd"]
PEER_TITLES = {
    "numpy": "nibabel / numpy / scipy",
    "scipy": "scipy.fft (workers)",
    "torch": "torch",
    "MONAI": "MONAI",
    "TorchIO": "TorchIO",
    "medrs": "medrs",
    "SimpleITK": "SimpleITK",
    "pynrrd": "pynrrd",
}


# ---------------------------------------------------------------------------
# options and threads (before numpy, torch, medrs or SimpleITK are imported)
# ---------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", nargs="?", default="run", choices=["run", "check", "baseline"])
    p.add_argument("--quick", action="store_true", help="128^3 only, 5 rounds: a development run")
    p.add_argument("--large", action="store_true", help="add 512^3")
    p.add_argument("--sizes", help="comma-separated edge lengths (default 128,256)")
    p.add_argument("--reps", type=int, help="timed rounds (default 7; check/baseline 15)")
    p.add_argument("--threads", type=int, default=0, help="threads for every tool (0 = all online cores)")
    p.add_argument("--only", help="regular expression: run the operations whose key matches")
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="markdown table (run)")
    p.add_argument("--json", help="samples as JSON (run; default: --out with .json)")
    p.add_argument("--baseline", default=BASELINE, help="baseline file (check, baseline)")
    p.add_argument("--alpha", type=float, default=0.01, help="check: p-value below which a change counts")
    p.add_argument("--slower", type=float, default=1.10, help="check: median ratio new/base that counts as slower")
    p.add_argument("--faster", type=float, default=0.91, help="check: median ratio new/base that counts as faster")
    a = p.parse_args(argv)
    if a.sizes:
        a.sizes = [int(s) for s in a.sizes.split(",")]
    elif a.quick:
        a.sizes = [128]
    else:
        a.sizes = [128, 256] + ([512] if a.large else [])
    if a.reps is None:
        a.reps = 5 if a.quick else (15 if a.mode != "run" else 7)
    a.reps = max(a.reps, 5)
    if a.threads <= 0:
        a.threads = len(os.sched_getaffinity(0))
    if a.json is None:
        a.json = os.path.splitext(a.out)[0] + ".json"
    return a


def pin_threads(n):
    """Every tool's thread count, set before the libraries load."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ[var] = str(n)


# ---------------------------------------------------------------------------
# medvol through ctypes
# ---------------------------------------------------------------------------
class Medvol:
    """build/libmvbench.so: flat functions, numpy buffers, handles to results."""

    def __init__(self, path=LIB_PATH):
        import numpy as np
        self.np = np
        L = self.lib = ctypes.CDLL(path)
        vp, i64, dbl, cint = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_int
        hp = ctypes.POINTER(ctypes.c_void_p)
        sig = {
            "mvb_data": (vp, [vp]), "mvb_dtype": (cint, [vp]), "mvb_ndim": (cint, [vp]),
            "mvb_dim": (i64, [vp, cint]), "mvb_free": (None, [vp]),
            "mvb_build_info": (ctypes.c_char_p, []), "mvb_last_error": (ctypes.c_char_p, []),
            "mvb_status_str": (ctypes.c_char_p, [cint]), "mvb_threads": (cint, []),
            "mvb_dt_f32": (cint, []), "mvb_dt_i16": (cint, []),
            "mvb_phantom": (cint, [cint, i64, i64, i64, ctypes.c_uint32, vp]),
            "mvb_save": (cint, [ctypes.c_char_p, vp, cint, i64, i64, i64, dbl, dbl, cint, cint]),
            "mvb_save_f32": (cint, [ctypes.c_char_p, vp, i64, i64, i64, cint, cint]),
            "mvb_load": (cint, [ctypes.c_char_p, cint, cint, hp]),
            "mvb_load_box": (cint, [ctypes.c_char_p, i64, i64, i64, i64, i64, i64, cint, hp]),
            "mvb_load_znorm": (cint, [ctypes.c_char_p, cint, hp]),
            "mvb_znorm": (cint, [vp, i64, i64, i64, cint, hp]),
            "mvb_rescale": (cint, [vp, i64, i64, i64, dbl, dbl, cint, hp]),
            "mvb_clamp": (cint, [vp, i64, i64, i64, dbl, dbl, cint, hp]),
            "mvb_crop_or_pad": (cint, [vp, i64, i64, i64, i64, i64, i64, cint, hp]),
            "mvb_flip": (cint, [vp, i64, i64, i64, ctypes.c_uint, cint, hp]),
            "mvb_znorm_into": (cint, [vp, i64, i64, i64, vp, cint]),
            "mvb_rescale_into": (cint, [vp, i64, i64, i64, dbl, dbl, vp, cint]),
            "mvb_clamp_into": (cint, [vp, i64, i64, i64, dbl, dbl, vp, cint]),
            "mvb_crop_or_pad_into": (cint, [vp, i64, i64, i64, i64, i64, i64, vp, cint]),
            "mvb_flip_into": (cint, [vp, i64, i64, i64, ctypes.c_uint, vp, cint]),
            "mvb_resample_shape": (cint, [vp, i64, i64, i64, i64, i64, i64, cint, hp]),
            "mvb_resample_spacing": (cint, [vp, i64, i64, i64, dbl, dbl, dbl, cint, hp]),
            "mvb_resample_shape_interp": (cint, [vp, i64, i64, i64, i64, i64, i64, cint, cint, hp]),
            "mvb_resample_spacing_interp": (cint, [vp, i64, i64, i64, dbl, dbl, dbl, cint, cint, hp]),
            "mvb_resample_shape_into": (cint, [vp, i64, i64, i64, i64, i64, i64, cint, vp, cint]),
            "mvb_dt_c64": (cint, []),
            "mvb_fft": (cint, [cint, vp, i64, i64, i64, cint, cint, hp]),
            "mvb_fft_into": (cint, [cint, vp, i64, i64, i64, cint, vp, cint]),
            "mvb_fftc": (cint, [vp, i64, i64, i64, i64, cint, cint, hp]),
            "mvb_fftc_into": (cint, [vp, i64, i64, i64, i64, cint, vp, cint]),
            "mvb_rss": (cint, [vp, i64, i64, i64, i64, cint, hp]),
            "mvb_rss_into": (cint, [vp, i64, i64, i64, i64, vp, cint]),
            "mvb_coil_combine": (cint, [vp, vp, i64, i64, i64, i64, cint, hp]),
            "mvb_coil_combine_into": (cint, [vp, vp, i64, i64, i64, i64, vp, cint]),
            "mvb_coil_sens": (cint, [i64, i64, i64, cint, vp]),
        }
        self.missing = set()
        for name, (res, args) in sig.items():
            try:
                f = getattr(L, name)
            except AttributeError:  # e.g. resampling before medvol.h has it
                self.missing.add(name)
                continue
            f.restype, f.argtypes = res, args
        self.DT_F32, self.DT_I16 = L.mvb_dt_f32(), L.mvb_dt_i16()
        self.DT_C64 = L.mvb_dt_c64() if self.has("mvb_dt_c64") else -1

    def has(self, name):
        return name not in self.missing

    def build_info(self):
        return self.lib.mvb_build_info().decode()

    def check(self, st, what):
        if st != 0:
            raise RuntimeError("medvol %s: %s: %s" % (what, self.lib.mvb_status_str(st).decode(),
                                                       self.lib.mvb_last_error().decode()))

    def call(self, name, *args):
        """Runs an allocating operation; returns its result (a MvResult)."""
        h = ctypes.c_void_p()
        self.check(getattr(self.lib, name)(*args, ctypes.byref(h)), name)
        return MvResult(self, h.value)

    def into(self, name, inp, shape, *args):
        """Runs an _into form on inp.x into a warm float32 buffer of shape
        (reused); args = the operation's parameters, then the thread count."""
        out = inp.warm(shape)
        params, threads = args[:-1], args[-1]
        self.check(getattr(self.lib, name)(inp.x.ctypes.data, *inp.x.shape, *params, out.ctypes.data, threads),
                   name)
        return out

    def phantom(self, dtype, n, seed=1):
        np = self.np
        a = np.empty((n, n, n), dtype=np.float32 if dtype == "f32" else np.int16, order="F")
        dt = self.DT_F32 if dtype == "f32" else self.DT_I16
        self.check(self.lib.mvb_phantom(dt, n, n, n, seed, a.ctypes.data), "phantom")
        return a

    def save(self, path, a, slope=1.0, inter=0.0, level=0, threads=0):
        dt = self.DT_F32 if a.dtype == self.np.float32 else self.DT_I16
        self.check(self.lib.mvb_save(path.encode(), a.ctypes.data, dt, *a.shape, slope, inter, level, threads), "save")


class MvResult:
    """A volume medvol allocated; .array() views it as numpy (Fortran order)."""

    def __init__(self, mv, h):
        self.mv, self.h = mv, h

    def array(self):
        np, L = self.mv.np, self.mv.lib
        shape = tuple(L.mvb_dim(self.h, a) for a in range(L.mvb_ndim(self.h)))
        dtype = {self.mv.DT_F32: np.float32, self.mv.DT_C64: np.complex64}.get(L.mvb_dtype(self.h), np.int16)
        n = int(np.prod(shape))
        buf = (ctypes.c_byte * (n * np.dtype(dtype).itemsize)).from_address(L.mvb_data(self.h))
        return np.frombuffer(buf, dtype=dtype).reshape(shape, order="F")

    def __del__(self):
        if self.h:
            self.mv.lib.mvb_free(self.h)
            self.h = None


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
class Inputs:
    """One size's inputs: arrays in each tool's natural container, and files."""

    SLOPE, INTER = 0.5, 10.0

    def __init__(self, mv, n, peers, threads):
        np = mv.np
        self.n, self.mv, self.np, self.threads = n, mv, np, threads
        os.makedirs(WORK_DIR, exist_ok=True)
        self.x = mv.phantom("f32", n)               # float32, Fortran order = medvol's layout
        self.raw16 = mv.phantom("i16", n)           # stored int16; scaled = raw * 0.5 + 10
        self.x16 = (self.raw16.astype(np.float64) * self.SLOPE + self.INTER).astype(np.float32)
        self.files = {}
        for name, arr, slope, inter in (("f32", self.x, 1.0, 0.0), ("i16", self.raw16, self.SLOPE, self.INTER)):
            nii = self.path("%s.nii" % name)
            mv.save(nii, arr, slope, inter)
            # not "<name>.nii.gz": beside "<name>.nii", nifticlib (SimpleITK/ITK)
            # silently reads the uncompressed sibling when asked for the .gz
            with open(nii, "rb") as f, gzip.open(self.path("%s-z6.nii.gz" % name), "wb", compresslevel=6) as g:
                shutil.copyfileobj(f, g, 1 << 20)
            mv.save(self.path("%s-mv.nii.gz" % name), arr, slope, inter, level=6, threads=threads)
            self.files[name] = nii
        try:  # MetaImage inputs, written by ITK itself (the loads' reference is self.x)
            import SimpleITK as sitk
            img = sitk.GetImageFromArray(self.x.T)
            sitk.WriteImage(img, self.path("f32.mha"), False)
            sitk.WriteImage(img, self.path("f32-z.mha"), True)
            sitk.WriteImage(img, self.path("f32.nrrd"), False)  # NRRD as ITK (and 3D Slicer) write it
            sitk.WriteImage(img, self.path("f32-z.nrrd"), True)
        except ImportError:
            pass
        try:  # FreeSurfer MGH inputs: nibabel's .mgh (big-endian), that file gzip -6 as one
            # member (as FreeSurfer's zlib writes .mgz), and medvol's indexed .mgz
            import nibabel as nib
            nib.save(nib.MGHImage(self.x, np.eye(4)), self.path("f32.mgh"))
            with open(self.path("f32.mgh"), "rb") as f, gzip.open(self.path("f32-z6.mgz"), "wb", compresslevel=6) as g:
                shutil.copyfileobj(f, g, 1 << 20)
            mv.save(self.path("f32-mv.mgz"), self.x, level=6, threads=threads)
        except ImportError:
            pass
        self.peer_inputs(peers)

    def path(self, name):
        return os.path.join(WORK_DIR, "%d-%s" % (self.n, name))

    def warm(self, shape, dtype=None):
        """An output buffer (float32 unless dtype) of this shape, written once
        (no page faults later)."""
        shape = tuple(int(s) for s in shape)
        dtype = self.np.dtype(dtype or self.np.float32)
        if not hasattr(self, "_warm"):
            self._warm = {}
        if (shape, dtype) not in self._warm:
            self._warm[(shape, dtype)] = self.np.zeros(shape, dtype=dtype, order="F")
        return self._warm[(shape, dtype)]

    NCOILS = 8

    @property
    def z(self):
        """complex64 (X, Y, Z), Fortran order: the float32 phantom + i * the
        phantom of seed 2 (made on first use, untimed)."""
        if not hasattr(self, "_z"):
            np = self.np
            z = np.empty(self.x.shape, dtype=np.complex64, order="F")
            z.real = self.x
            z.imag = self.mv.phantom("f32", self.n, seed=2)
            self._z = z
        return self._z

    @property
    def coils(self):
        """Multi-coil data, complex64 (X, Y, Z, C) in Fortran order (medvol's
        layout; numpy's .T is the C-order (C, Z, Y, X) array a numpy or torch
        user holds): sens = medvol's phantom coil sensitivities (sum_c |S_c|^2
        = 1), img = sens * phantom (coil images), k = the centred forward FFT
        (ortho) of img by scipy.fft in complex128 (the k-space)."""
        if not hasattr(self, "_coils"):
            import scipy.fft
            np, n, C = self.np, self.n, self.NCOILS
            sens = np.empty((n, n, n, C), dtype=np.complex64, order="F")
            self.mv.check(self.mv.lib.mvb_coil_sens(n, n, n, C, sens.ctypes.data), "coil sens")
            img = np.asfortranarray(sens * self.x[..., None])
            ax = (1, 2, 3)
            k = scipy.fft.fftshift(scipy.fft.fftn(scipy.fft.ifftshift(img.T.astype(np.complex128), axes=ax),
                                                  axes=ax, norm="ortho", workers=self.threads), axes=ax)
            self._coils = {"sens": sens, "img": img, "k": np.asfortranarray(k.T.astype(np.complex64))}
            del k
        return self._coils

    def peer_inputs(self, peers):
        """The same voxels in each peer's own container (made once, untimed):
        torch/MONAI/TorchIO a C-contiguous (1, X, Y, Z) tensor, SimpleITK an
        Image (its (Z, Y, X) array is the Fortran (X, Y, Z) one), medrs a
        NiftiImage of the Fortran array."""
        np = self.np
        self.xc = np.ascontiguousarray(self.x)
        if "torch" in peers:
            import torch
            self.t = torch.from_numpy(self.xc)[None]
        if "TorchIO" in peers:
            import torchio as tio
            self.tio = tio.ScalarImage(tensor=self.t, affine=np.eye(4))
        if "medrs" in peers:
            import medrs
            self.medrs = medrs.NiftiImage(self.x)
        if "SimpleITK" in peers:
            import SimpleITK as sitk
            self.sitk = sitk.GetImageFromArray(self.x.T)


def as_xyz(obj, np):
    """Any tool's result as a numpy (X, Y, Z) array (for the agreement check only)."""
    if isinstance(obj, MvResult):
        return obj.array()
    if isinstance(obj, str):  # a saved file: read back by nibabel
        import nibabel as nib
        return np.asarray(nib.load(obj).dataobj)
    mod = type(obj).__module__
    if mod.startswith("SimpleITK"):
        import SimpleITK as sitk
        return sitk.GetArrayFromImage(obj).T
    if mod.startswith("torchio"):
        obj = obj.data
    if hasattr(obj, "to_numpy"):  # medrs.NiftiImage
        return obj.to_numpy()
    if hasattr(obj, "detach"):
        obj = obj.detach().cpu().numpy()
    a = np.asarray(obj)
    return a[0] if a.ndim == 4 and a.shape[0] == 1 else a


# ---------------------------------------------------------------------------
# the operations: one table, per-tool callables, a float64 reference
# ---------------------------------------------------------------------------
class Op:
    """key: short id (JSON, --only); title: the table's row name;
    tools: name -> fn(inp) returning the tool's result (the timed call);
    ref: fn(inp) -> float64 (or exact) numpy (X, Y, Z) reference;
    tol: max |result - ref| that counts as agreement; notes: per-tool
    remarks on convention or configuration; sizes: None = every size;
    mv_needs: libmvbench symbol the medvol callables need; rel: the
    tolerance is relative, max |result - ref| / max |ref| (complex rows)."""

    def __init__(self, key, title, tools, ref, tol, notes=None, sizes=None, mv_needs=None, nbytes=None, rel=False):
        self.key, self.title, self.tools, self.ref, self.tol = key, title, tools, ref, tol
        self.rel = rel  # tol bounds max |result - ref| / max |ref| (scale-aware: FFTs)
        self.notes = notes or {}
        self.sizes, self.mv_needs = sizes, mv_needs
        self.nbytes = nbytes


def build_ops(mv, T):
    """The operation table. T = the thread count every tool uses."""
    import numpy as np

    def dims(i):
        return i.x.shape

    def nib_load(path):
        import nibabel as nib
        return nib.load(path, mmap=False).get_fdata(dtype=np.float32)

    def sitk_read(path):
        import SimpleITK as sitk
        return sitk.ReadImage(path, sitk.sitkFloat32)

    def monai_load(path):
        from monai.transforms import LoadImage
        return LoadImage(image_only=True, dtype=np.float32, reader="NibabelReader")(path)

    def tio_load(path):
        import torchio as tio
        im = tio.ScalarImage(path)
        im.load()
        return im

    def pynrrd_load(path):
        import nrrd
        return nrrd.read(path)[0]

    def medrs_load(path):
        import medrs
        return medrs.load(path).to_numpy()

    # ---- loads: every voxel, scaled, as float32 in process memory ----
    def load_op(key, title, fname, dtype, only=None):
        def f(i):
            return i.path(fname)

        tools = {
            "medvol": lambda i, t=T: mv.call("mvb_load", f(i).encode(), 0, t),
            "medvol-1t": lambda i: mv.call("mvb_load", f(i).encode(), 0, 1),
            "numpy": lambda i: nib_load(f(i)),
            "MONAI": lambda i: monai_load(f(i)),
            "TorchIO": lambda i: tio_load(f(i)),
            "medrs": lambda i: medrs_load(f(i)),
            "SimpleITK": lambda i: sitk_read(f(i)),
            "pynrrd": lambda i: pynrrd_load(f(i)),
        }
        if only:  # formats the other tools do not read
            tools = {k: v for k, v in tools.items() if k in only}
        else:  # (pynrrd reads NRRD alone)
            del tools["pynrrd"]
        ref = (lambda i: i.x) if dtype == "f32" else (lambda i: i.x16)
        notes = {
            "numpy": "nibabel load(mmap=False).get_fdata(float32)",
            "medrs": "load().to_numpy()",
            "TorchIO": "ScalarImage.load() (reads through SimpleITK)",
            "MONAI": "LoadImage(NibabelReader, float32)",
            "medvol": "mv_load(scaled, mmap never): read into fresh memory"} if not only else {
            "medvol": "mv_load (mmap never): read into fresh memory",
            "numpy": "nibabel load(mmap=False).get_fdata(float32)",
            "SimpleITK": "ReadImage(path, sitkFloat32)",
            "pynrrd": "nrrd.read(path) (MONAI's NRRD reader)"}
        return Op(key, title, tools, ref, 0.0, notes={k: v for k, v in notes.items() if k in tools})

    ops = [
        load_op("load_nii_i16", "load .nii int16 (scaled -> f32)", "i16.nii", "i16"),
        load_op("load_nii_f32", "load .nii float32", "f32.nii", "f32"),
        load_op("load_gz_i16", "load .nii.gz int16 (gzip -6, 1 member)", "i16-z6.nii.gz", "i16"),
        load_op("load_gz_f32", "load .nii.gz float32 (gzip -6, 1 member)", "f32-z6.nii.gz", "f32"),
        load_op("load_mvgz_i16", "load .nii.gz int16 (medvol-written, indexed)", "i16-mv.nii.gz", "i16"),
        # MetaImage as ITK writes it (Inputs: SimpleITK's WriteImage; absent without it)
        load_op("load_mha_f32", "load .mha float32 (SimpleITK-written)", "f32.mha", "f32",
                only=("medvol", "medvol-1t", "SimpleITK")),
        load_op("load_mhaz_f32", "load .mha float32, zlib (SimpleITK-written)", "f32-z.mha", "f32",
                only=("medvol", "medvol-1t", "SimpleITK")),
        # NRRD as ITK writes it (raw, and gzip at ITK's level 2, one member)
        load_op("load_nrrd_f32", "load .nrrd float32 (SimpleITK-written)", "f32.nrrd", "f32",
                only=("medvol", "medvol-1t", "SimpleITK", "pynrrd")),
        load_op("load_nrrdz_f32", "load .nrrd float32, gzip (SimpleITK-written)", "f32-z.nrrd", "f32",
                only=("medvol", "medvol-1t", "SimpleITK", "pynrrd")),
        # FreeSurfer MGH (Inputs: nibabel's writer; SimpleITK 2.5 has no MGH reader)
        load_op("load_mgh_f32", "load .mgh float32 (nibabel-written, big-endian)", "f32.mgh", "f32",
                only=("medvol", "medvol-1t", "numpy")),
        load_op("load_mgz_f32", "load .mgz float32 (gzip -6, 1 member)", "f32-z6.mgz", "f32",
                only=("medvol", "medvol-1t", "numpy")),
        load_op("load_mvmgz_f32", "load .mgz float32 (medvol-written, indexed)", "f32-mv.mgz", "f32",
                only=("medvol", "medvol-1t", "numpy")),
    ]

    # ---- crop-first loads: a centred (n/4)^3 box ----
    def box(i):
        s = i.n // 4
        o = (i.n - s) // 2
        return o, s

    def crop_op(key, title, fname, has_medrs):
        def f(i):
            return i.path(fname)

        def nib_crop(i):
            import nibabel as nib
            o, s = box(i)
            return np.asarray(nib.load(f(i), mmap=False).dataobj[o:o + s, o:o + s, o:o + s], dtype=np.float32)

        def sitk_crop(i):
            import SimpleITK as sitk
            o, s = box(i)
            r = sitk.ImageFileReader()
            r.SetFileName(f(i))
            r.SetOutputPixelType(sitk.sitkFloat32)
            r.SetExtractIndex([o] * 3)
            r.SetExtractSize([s] * 3)
            return r.Execute()

        def medrs_crop(i):
            import medrs
            o, s = box(i)
            return medrs.load_cropped(f(i), [o] * 3, [s] * 3).to_numpy()

        def mv_crop(i, t):
            o, s = box(i)
            return mv.call("mvb_load_box", f(i).encode(), o, o, o, s, s, s, t)

        tools = {"medvol": lambda i: mv_crop(i, T), "medvol-1t": lambda i: mv_crop(i, 1),
                 "numpy": nib_crop, "SimpleITK": sitk_crop}
        if has_medrs:
            tools["medrs"] = medrs_crop

        def ref(i):
            o, s = box(i)
            return i.x16[o:o + s, o:o + s, o:o + s]
        return Op(key, title, tools, ref, 0.0, notes={
            "numpy": "nibabel dataobj[box] (reads the box's bytes)",
            "SimpleITK": "ImageFileReader with SetExtractIndex/Size",
            "medrs": "load_cropped"})

    ops += [crop_op("crop_load_nii", "load crop-first (n/4)^3, .nii int16", "i16.nii", True),
            crop_op("crop_load_mvgz", "load crop-first (n/4)^3, .nii.gz int16 (medvol-written)", "i16-mv.nii.gz",
                    False)]

    # ---- load + z-normalize ----
    def znorm_ref(a):
        a = a.astype(np.float64)
        return (a - a.mean()) / a.std()

    def load_znorm_tools():
        p = lambda i: i.files["i16"]  # noqa: E731

        def np_(i):
            a = nib_load(p(i))
            return (a - a.mean()) / a.std()

        def monai_(i):
            from monai.transforms import NormalizeIntensity
            return NormalizeIntensity()(monai_load(p(i)))

        def tio_(i):
            import torchio as tio
            return tio.ZNormalization()(tio.ScalarImage(p(i)))

        def medrs_(i):
            import medrs
            return medrs.load(p(i)).z_normalize()

        def sitk_(i):
            import SimpleITK as sitk
            return sitk.Normalize(sitk_read(p(i)))
        return {"medvol": lambda i: mv.call("mvb_load_znorm", p(i).encode(), T),
                "medvol-1t": lambda i: mv.call("mvb_load_znorm", p(i).encode(), 1),
                "numpy": np_, "MONAI": monai_, "TorchIO": tio_, "medrs": medrs_, "SimpleITK": sitk_}

    znorm_notes = {"TorchIO": "std with ddof=1 (1 + 1/(2N) relative: below float32 at these sizes)",
                   "SimpleITK": "Normalize: std ddof=1, float64 output",
                   "numpy": "(x - x.mean()) / x.std() in float32"}
    ops.append(Op("load_znorm", "load .nii int16 + z-normalize", load_znorm_tools(),
                  lambda i: znorm_ref(i.x16), 1e-5, notes=dict(znorm_notes, medvol="mv_pipeline_load(mv_op_znorm)")))

    # ---- intensity, float32 in memory ----
    def mvx(name, *extra):
        return {"medvol": lambda i: mv.call(name, i.x.ctypes.data, *dims(i), *extra, T),
                "medvol-1t": lambda i: mv.call(name, i.x.ctypes.data, *dims(i), *extra, 1),
                "medvol-into": lambda i: mv.into(name + "_into", i, i.x.shape, *extra, T)}

    def znorm_tools():
        t = mvx("mvb_znorm")
        t["numpy"] = lambda i: (i.x - i.x.mean()) / i.x.std()

        def monai_(i):
            from monai.transforms import NormalizeIntensity
            return NormalizeIntensity()(i.t)

        def tio_(i):
            import torchio as tio
            return tio.ZNormalization()(i.tio)
        t.update(MONAI=monai_, TorchIO=tio_, medrs=lambda i: i.medrs.z_normalize())

        def sitk_(i):
            import SimpleITK as sitk
            return sitk.Normalize(i.sitk)
        t["SimpleITK"] = sitk_
        return t

    ops.append(Op("znorm", "z-normalize f32", znorm_tools(), lambda i: znorm_ref(i.x), 1e-5, notes=znorm_notes))

    def rescale_tools():
        t = mvx("mvb_rescale", 0.0, 1.0)

        def np_(i):
            lo, hi = i.x.min(), i.x.max()
            return (i.x - lo) / (hi - lo)

        def monai_(i):
            from monai.transforms import ScaleIntensity
            return ScaleIntensity(minv=0.0, maxv=1.0)(i.t)

        def tio_(i):
            import torchio as tio
            return tio.RescaleIntensity(out_min_max=(0, 1))(i.tio)

        def sitk_(i):
            import SimpleITK as sitk
            return sitk.RescaleIntensity(i.sitk, 0.0, 1.0)
        t.update(numpy=np_, MONAI=monai_, TorchIO=tio_, medrs=lambda i: i.medrs.rescale(0.0, 1.0), SimpleITK=sitk_)
        return t

    def rescale_ref(i):
        a = i.x.astype(np.float64)
        return (a - a.min()) / (a.max() - a.min())
    ops.append(Op("rescale", "rescale f32 to [0, 1]", rescale_tools(), rescale_ref, 1e-6))

    CL, CH = 100.0, 900.0

    def clamp_tools():
        t = mvx("mvb_clamp", CL, CH)

        def torch_(i):
            import torch
            return torch.clamp(i.t, CL, CH)

        def tio_(i):
            import torchio as tio
            return tio.Clamp(out_min=CL, out_max=CH)(i.tio)

        def sitk_(i):
            import SimpleITK as sitk
            return sitk.Clamp(i.sitk, sitk.sitkFloat32, CL, CH)
        t.update(numpy=lambda i: np.clip(i.x, CL, CH), torch=torch_, TorchIO=tio_,
                 medrs=lambda i: i.medrs.clamp(CL, CH), SimpleITK=sitk_)
        return t
    ops.append(Op("clamp", "clamp f32 to [100, 900]", clamp_tools(), lambda i: np.clip(i.x, CL, CH), 0.0,
                  notes={"MONAI": "no plain clamp transform (torch column: torch.clamp)"}))

    # ---- spatial ----
    def cop_target(n):
        return (n - n // 4 - 1, n + n // 8 + 1, n)  # crop x, pad y (odd differences), keep z

    def cop_bounds(shape, target):
        """MONAI ResizeWithPadOrCrop centring: per axis (crop_before, crop_size, pad_before)."""
        out = []
        for n, m in zip(shape, target):
            if m <= n:
                out.append((n // 2 - m // 2, m, 0))
            else:
                out.append((0, n, (m - n) // 2))
        return out

    def cop_ref(i):
        tgt = cop_target(i.n)
        out = np.zeros(tgt, dtype=np.float32, order="F")
        b = cop_bounds(i.x.shape, tgt)
        src = tuple(slice(c, c + s) for c, s, _ in b)
        dst = tuple(slice(p, p + s) for _, s, p in b)
        out[dst] = i.x[src]
        return out

    def cop_tools():
        t = mvx_shape("mvb_crop_or_pad", cop_target)

        def monai_(i):
            from monai.transforms import ResizeWithPadOrCrop
            return ResizeWithPadOrCrop(cop_target(i.n))(i.t)

        def tio_(i):
            import torchio as tio
            tgt = cop_target(i.n)
            b = cop_bounds(i.x.shape, tgt)
            crop, pad = [], []
            for (c, s, p), n, m in zip(b, i.x.shape, tgt):
                crop += [c, n - c - s]
                pad += [p, m - p - s]
            return tio.Pad(pad)(tio.Crop(crop)(i.tio))

        def sitk_(i):
            import SimpleITK as sitk
            tgt = cop_target(i.n)
            b = cop_bounds(i.x.shape, tgt)
            lo = [c for c, s, p in b]
            hi = [n - c - s for (c, s, p), n in zip(b, i.x.shape)]
            img = sitk.Crop(i.sitk, lo, hi)
            plo = [p for c, s, p in b]
            phi = [m - p - s for (c, s, p), m in zip(b, tgt)]
            return sitk.ConstantPad(img, plo, phi, 0.0)
        t.update(numpy=cop_ref, MONAI=monai_, TorchIO=tio_,
                 medrs=lambda i: i.medrs.crop_or_pad(list(cop_target(i.n))), SimpleITK=sitk_)
        return t

    def mvx_shape(name, target, into=True):
        t = {"medvol": lambda i: mv.call(name, i.x.ctypes.data, *dims(i), *target(i.n), T),
             "medvol-1t": lambda i: mv.call(name, i.x.ctypes.data, *dims(i), *target(i.n), 1)}
        if into:
            t["medvol-into"] = lambda i: mv.into(name + "_into", i, target(i.n), *target(i.n), T)
        return t

    ops.append(Op("crop_or_pad", "crop_or_pad f32 (x: crop, y: pad, odd differences)", cop_tools(), cop_ref, 0.0,
                  notes={"TorchIO": "tio.Crop + tio.Pad with MONAI's bounds (CropOrPad centres odd differences "
                                    "the other way)",
                         "SimpleITK": "Crop + ConstantPad with MONAI's bounds",
                         "numpy": "slicing into np.zeros"}))

    def flip_op(key, title, axes):
        mask = sum(1 << a for a in axes)
        t = {"medvol": lambda i: mv.call("mvb_flip", i.x.ctypes.data, *dims(i), mask, T),
             "medvol-1t": lambda i: mv.call("mvb_flip", i.x.ctypes.data, *dims(i), mask, 1),
             "medvol-into": lambda i: mv.into("mvb_flip_into", i, i.x.shape, mask, T),
             "numpy": lambda i: np.flip(i.x, axes).copy(order="F")}

        def torch_(i):
            import torch
            return torch.flip(i.t, [a + 1 for a in axes])

        def monai_(i):
            from monai.transforms import Flip
            return Flip(spatial_axis=list(axes))(i.t)

        def tio_(i):
            import torchio as tio
            return tio.Flip(axes=tuple(axes))(i.tio)

        def sitk_(i):
            import SimpleITK as sitk
            return sitk.Flip(i.sitk, [a in axes for a in range(3)])
        t.update(torch=torch_, MONAI=monai_, TorchIO=tio_, medrs=lambda i: i.medrs.flip(list(axes)), SimpleITK=sitk_)
        return Op(key, title, t, lambda i: np.flip(i.x, axes), 0.0)

    ops += [flip_op("flip0", "flip f32 axis 0", (0,)), flip_op("flip012", "flip f32 all axes", (0, 1, 2))]

    # ---- resampling, trilinear, field of view kept ----
    def rs_target(n):
        return (3 * n // 4, 5 * n // 8, n // 2 + 1)

    SP = (1.5, 1.5, 1.25)

    def sp_target(n):
        return tuple(int(round(n * 1.0 / s)) for s in SP)  # half to even, as scipy zoom

    def zoom_ref(i, shape):
        from scipy import ndimage
        return ndimage.zoom(i.x.astype(np.float64), [o / n for o, n in zip(shape, i.x.shape)], order=1,
                            grid_mode=True, mode="nearest")

    def sitk_resample(i, shape):
        import SimpleITK as sitk
        sp = [n / o for n, o in zip(i.x.shape, shape)]
        f = sitk.ResampleImageFilter()
        f.SetSize([int(s) for s in shape])
        f.SetOutputSpacing(sp)
        f.SetOutputOrigin([(s - 1) / 2 for s in sp])  # voxel edges align: keeps the field of view
        f.SetOutputDirection(i.sitk.GetDirection())
        f.SetInterpolator(sitk.sitkLinear)
        return f.Execute(i.sitk)

    def rs_tools(target, spacing):
        t = {}
        if spacing:
            t["medvol"] = lambda i: mv.call("mvb_resample_spacing", i.x.ctypes.data, *dims(i), *SP, T)
            t["medvol-1t"] = lambda i: mv.call("mvb_resample_spacing", i.x.ctypes.data, *dims(i), *SP, 1)
        else:
            t = mvx_shape("mvb_resample_shape", target, into=False)
            t["medvol-into"] = lambda i: mv.into("mvb_resample_shape_into", i, target(i.n), *target(i.n), 0, T)

        def scipy_(i):
            from scipy import ndimage
            shape = target(i.n)
            return ndimage.zoom(i.x, [o / n for o, n in zip(shape, i.x.shape)], order=1, grid_mode=True,
                                mode="nearest")

        def torch_(i):
            import torch
            return torch.nn.functional.interpolate(i.t[None], size=target(i.n), mode="trilinear",
                                                   align_corners=False)[0]

        def monai_(i):
            if spacing:
                from monai.data import MetaTensor
                from monai.transforms import Spacing
                return Spacing(pixdim=SP, mode="bilinear", align_corners=False)(MetaTensor(i.t, affine=np.eye(4)))
            from monai.transforms import Resize
            return Resize(target(i.n), mode="trilinear", align_corners=False)(i.t)

        def tio_(i):
            import torchio as tio
            if spacing:
                fov = tuple(n / o for n, o in zip(i.x.shape, target(i.n)))
                return tio.Resample(fov, image_interpolation="linear")(i.tio)
            return tio.Resize(target(i.n), image_interpolation="linear")(i.tio)

        def medrs_(i):
            if spacing:
                return i.medrs.resample(list(SP))
            return i.medrs.resample_to_shape(list(target(i.n)))
        t.update(numpy=scipy_, torch=torch_, MONAI=monai_, TorchIO=tio_, medrs=medrs_,
                 SimpleITK=lambda i: sitk_resample(i, target(i.n)))
        return t

    rs_notes = {"numpy": "scipy.ndimage.zoom(order=1, grid_mode=True, mode='nearest')",
                "torch": "F.interpolate(trilinear, align_corners=False)",
                "SimpleITK": "ResampleImageFilter, linear, output spacing in/out and origin (sp-1)/2",
                "TorchIO": "Resize (SimpleITK underneath)"}
    ops.append(Op("resample_shape", "resample f32 to shape (3n/4, 5n/8, n/2+1), trilinear",
                  rs_tools(rs_target, False), lambda i: zoom_ref(i, rs_target(i.n)), 2e-3, notes=rs_notes,
                  mv_needs="mvb_resample_shape"))
    ops.append(Op("resample_spacing", "resample f32 1 mm to (1.5, 1.5, 1.25) mm, trilinear",
                  rs_tools(sp_target, True), lambda i: zoom_ref(i, sp_target(i.n)), 2e-3,
                  notes=dict(rs_notes,
                             torch="F.interpolate to the shape round(n / spacing) (no spacing API)",
                             TorchIO="Resample to the field-of-view-keeping spacing n/round(n/s) "
                                     "(Resample(s) itself rounds the shape differently and keeps s)",
                             MONAI="Spacing keeps the requested spacing and aligns the first voxel "
                                   "centre: another grid (shape and values differ)"),
                  mv_needs="mvb_resample_spacing"))

    # ---- resampling, cubic B-spline (prefiltered), field of view kept ----
    def cubic_ref(i):
        from scipy import ndimage
        shape = rs_target(i.n)
        return ndimage.zoom(i.x.astype(np.float64), [o / n for o, n in zip(shape, i.x.shape)], order=3,
                            grid_mode=True, mode="nearest")

    def cubic_tools():
        tg = rs_target

        def scipy_(i):
            from scipy import ndimage
            shape = tg(i.n)
            return ndimage.zoom(i.x, [o / n for o, n in zip(shape, i.x.shape)], order=3, grid_mode=True,
                                mode="nearest")

        def sitk_(i):
            import SimpleITK as sitk
            shape = tg(i.n)
            sp = [n / o for n, o in zip(i.x.shape, shape)]
            f = sitk.ResampleImageFilter()
            f.SetSize([int(s) for s in shape])
            f.SetOutputSpacing(sp)
            f.SetOutputOrigin([(s - 1) / 2 for s in sp])
            f.SetOutputDirection(i.sitk.GetDirection())
            f.SetInterpolator(sitk.sitkBSpline)
            return f.Execute(i.sitk)
        return {"medvol": lambda i: mv.call("mvb_resample_shape_interp", i.x.ctypes.data, *dims(i), *tg(i.n), 2, T),
                "medvol-1t": lambda i: mv.call("mvb_resample_shape_interp", i.x.ctypes.data, *dims(i), *tg(i.n), 2,
                                               1),
                "medvol-into": lambda i: mv.into("mvb_resample_shape_into", i, tg(i.n), *tg(i.n), 2, T),
                "numpy": scipy_, "SimpleITK": sitk_}

    ops.append(Op("resample_cubic", "resample f32 to shape (3n/4, 5n/8, n/2+1), cubic B-spline", cubic_tools(),
                  cubic_ref, 2e-3, mv_needs="mvb_resample_shape_interp", notes={
                      "numpy": "scipy.ndimage.zoom(order=3, grid_mode=True, mode='nearest'): spline prefilter "
                               "(float64) + cubic B-spline",
                      "medvol": "MV_INTERP_CUBIC: float32 prefilter and coefficients (float64 before 2026-11-25), edge continues "
                                "(fill_outside 0); into: mv_resample_into with zoom's voxel map (allocates the "
                                "coefficient volume)",
                      "SimpleITK": "ResampleImageFilter, sitkBSpline: its B-spline mirrors at the edges (it "
                                   "matched scipy zoom(order=3, grid_mode=True, mode='mirror') within 3e-5 at 128^3), "
                                   "so it differs from mode='nearest' in the edge voxels and is not timed",
                      "torch": "no 3D cubic mode in F.interpolate (bicubic is 2D only)"}))

    # ---- saving float32 ----
    def save_op(key, title, ext):
        def out(i, tool):  # .nii and .nii.gz under different names (see Inputs: nifticlib)
            return i.path("out-%s%s%s" % (tool, "-gz" if ext.endswith(".gz") else "", ext))

        def mv_save(i, t, tool):
            p = out(i, tool)
            mv.check(mv.lib.mvb_save_f32(p.encode(), i.x.ctypes.data, *dims(i), 0, t), "save")
            return p

        def nib_(i):
            import nibabel as nib
            p = out(i, "nibabel")
            nib.save(nib.Nifti1Image(i.x, np.eye(4)), p)
            return p

        def sitk_(i):
            import SimpleITK as sitk
            p = out(i, "sitk")
            sitk.WriteImage(i.sitk, p)
            return p

        def tio_(i):
            p = out(i, "tio")
            i.tio.save(p)
            return p

        def medrs_(i):
            p = out(i, "medrs")
            i.medrs.save(p)
            return p
        tools = {"medvol": lambda i: mv_save(i, T, "medvol"), "medvol-1t": lambda i: mv_save(i, 1, "medvol1"),
                 "numpy": nib_, "TorchIO": tio_, "medrs": medrs_, "SimpleITK": sitk_}
        return Op(key, title, tools, lambda i: i.x, 0.0, notes={
            "numpy": "nibabel save (gzip level 1 for .gz)",
            "medvol": "mv_save (gzip level 6, 1 MiB members compressed in parallel, for .gz)",
            "MONAI": "SaveImage writes through nibabel"})

    ops += [save_op("save_nii", "save .nii float32", ".nii"), save_op("save_gz", "save .nii.gz float32", ".nii.gz")]
    ops += fft_ops(mv, T, np)
    ops += mri_ops(mv, T, np)
    return ops


def fft_ops(mv, T, np):
    """3D FFTs of one volume (>>api-fft): numpy's fftn / rfftn conventions.
    numpy, scipy and torch see medvol's bytes as the C-order (Z, Y, X) array
    (.T of the Fortran (X, Y, Z) one, no copy), so rfftn halves numpy's last
    axis = medvol's dims[0]; their results are handed back as .T views (no
    copy) for the check. Reference: scipy.fft in complex128 / float64."""
    import scipy.fft

    def fft_op(key, title, kind):
        r2c = kind == 2
        src = (lambda i: i.x) if r2c else (lambda i: i.z)  # noqa: E731

        def out_shape(i):
            n = i.n
            return (n // 2 + 1, n, n) if r2c else (n, n, n)

        def mv_into(i):
            a = src(i)
            out = i.warm(out_shape(i), np.complex64)
            mv.check(mv.lib.mvb_fft_into(kind, a.ctypes.data, *a.shape, 0, out.ctypes.data, T), "fft_into")
            return out

        def tview(i):
            """torch tensor on the same bytes, (Z, Y, X), made once"""
            import torch
            name = "_tx" if r2c else "_tz"
            if not hasattr(i, name):
                setattr(i, name, torch.from_numpy(src(i).T))
            return getattr(i, name)

        def torch_(i):
            import torch
            f = torch.fft.rfftn if r2c else torch.fft.fftn
            return f(tview(i)).permute(2, 1, 0)

        np_f = np.fft.rfftn if r2c else np.fft.fftn
        sp_f = scipy.fft.rfftn if r2c else scipy.fft.fftn
        tools = {
            "medvol": lambda i: mv.call("mvb_fft", kind, src(i).ctypes.data, *src(i).shape, 0, T),
            "medvol-1t": lambda i: mv.call("mvb_fft", kind, src(i).ctypes.data, *src(i).shape, 0, 1),
            "medvol-into": mv_into,
            "numpy": lambda i: np_f(src(i).T).T,
            "scipy": lambda i: sp_f(src(i).T, workers=T).T,
            "torch": torch_,
        }

        def ref(i):
            a = src(i).T.astype(np.float64 if r2c else np.complex128)
            return sp_f(a, workers=T).T
        return Op(key, title, tools, ref, 1e-5, rel=True, notes={
            "medvol": "mv_fft_%s (one-call form, plan cache) into a fresh uninitialised result (huge pages), "
                      "norm backward" % ("r2c" if r2c else "c2c"),
            "numpy": "numpy.fft.%s (complex64 in numpy 2; one thread)" % ("rfftn" if r2c else "fftn"),
            "scipy": "scipy.fft.%s(workers=%d)" % ("rfftn" if r2c else "fftn", T),
            "torch": "torch.fft.%s on the same bytes as a (Z, Y, X) tensor" % ("rfftn" if r2c else "fftn")})

    return [fft_op("fft_c2c", "FFT 3D c2c forward, complex64 (phantom + i phantom)", 0),
            fft_op("fft_r2c", "FFT 3D r2c (rfftn) of the float32 phantom", 2)]


def mri_ops(mv, T, np):
    """Coil operations (>>api-mri) on complex64 (X, Y, Z, C) data, C = 8
    coils, at 128^3 only (128 MiB a copy; 256^3 x 8 would be 1 GiB a copy and
    the complex128 reference 2 GiB). numpy and torch hold the same bytes as
    the C-order (C, Z, Y, X) array (coils first, as sigpy and most torch MRI
    code do) and reduce over axis 0; results come back as .T views."""
    import scipy.fft
    C = Inputs.NCOILS
    ax = (1, 2, 3)

    def shp(i):
        return i.coils["img"].shape

    def torch_of(i, key):
        import torch
        name = "_t_" + key
        if not hasattr(i, name):
            setattr(i, name, torch.from_numpy(i.coils[key].T))
        return getattr(i, name)

    # ---- centred inverse FFT of every coil: fftshift(ifftn(ifftshift(k)), ortho) over x, y, z ----
    def ifftc_into(i):
        k = i.coils["k"]
        out = i.warm(k.shape, np.complex64)
        mv.check(mv.lib.mvb_fftc_into(k.ctypes.data, *k.shape, 1, out.ctypes.data, T), "fftc_into")
        return out

    def ifftc_np(i):
        f = np.fft
        return f.fftshift(f.ifftn(f.ifftshift(i.coils["k"].T, axes=ax), axes=ax, norm="ortho"), axes=ax).T

    def ifftc_sp(i):
        f = scipy.fft
        return f.fftshift(f.ifftn(f.ifftshift(i.coils["k"].T, axes=ax), axes=ax, norm="ortho", workers=T),
                          axes=ax).T

    def ifftc_torch(i):
        import torch
        f = torch.fft
        return f.fftshift(f.ifftn(f.ifftshift(torch_of(i, "k"), dim=ax), dim=ax, norm="ortho"),
                          dim=ax).permute(3, 2, 1, 0)

    def ifftc_ref(i):
        f = scipy.fft
        return f.fftshift(f.ifftn(f.ifftshift(i.coils["k"].T.astype(np.complex128), axes=ax), axes=ax,
                                  norm="ortho", workers=T), axes=ax).T

    ifftc = Op("ifftc_coils", "centred inverse FFT (ortho) of each coil, complex64 %d coils" % C, {
        "medvol": lambda i: mv.call("mvb_fftc", i.coils["k"].ctypes.data, *shp(i), 1, T),
        "medvol-1t": lambda i: mv.call("mvb_fftc", i.coils["k"].ctypes.data, *shp(i), 1, 1),
        "medvol-into": ifftc_into, "numpy": ifftc_np, "scipy": ifftc_sp, "torch": ifftc_torch},
        ifftc_ref, 1e-5, rel=True, sizes=[128], notes={
            "medvol": "mv_fftc(axes x, y, z, inverse): one FFT + sign modulations, no data moved for the shifts",
            "numpy": "fftshift(ifftn(ifftshift(k, axes), axes, norm='ortho'), axes), axes = x, y, z of (C, Z, Y, X)",
            "scipy": "the same with scipy.fft (workers=%d)" % T,
            "torch": "the same with torch.fft"})

    # ---- RSS over coils ----
    def rss_into(i):
        a = i.coils["img"]
        out = i.warm(a.shape[:3])
        mv.check(mv.lib.mvb_rss_into(a.ctypes.data, *a.shape, out.ctypes.data, T), "rss_into")
        return out

    def rss_torch(i):
        import torch
        x = torch_of(i, "img")
        return torch.sqrt(torch.sum(x.real ** 2 + x.imag ** 2, dim=0)).permute(2, 1, 0)

    rss = Op("rss", "coil RSS sqrt(sum_c |x_c|^2), complex64 %d coils -> float32" % C, {
        "medvol": lambda i: mv.call("mvb_rss", i.coils["img"].ctypes.data, *shp(i), T),
        "medvol-1t": lambda i: mv.call("mvb_rss", i.coils["img"].ctypes.data, *shp(i), 1),
        "medvol-into": rss_into,
        "numpy": lambda i: np.sqrt(np.sum(np.abs(i.coils["img"].T) ** 2, axis=0)).T,
        "torch": rss_torch},
        lambda i: np.sqrt(np.sum(np.abs(i.coils["img"].astype(np.complex128)) ** 2, axis=3)), 1e-6, rel=True,
        sizes=[128], notes={"medvol": "mv_rss (BART rss 8)",
                            "numpy": "np.sqrt(np.sum(np.abs(x) ** 2, axis=0)) on (C, Z, Y, X)",
                            "torch": "torch.sqrt(torch.sum(x.real ** 2 + x.imag ** 2, dim=0)) (the fastest of "
                                     "that, torch.abs(x) ** 2 and linalg.vector_norm here)"})

    # ---- sensitivity-weighted combination ----
    def comb_into(i):
        a, s = i.coils["img"], i.coils["sens"]
        out = i.warm(a.shape[:3], np.complex64)
        mv.check(mv.lib.mvb_coil_combine_into(a.ctypes.data, s.ctypes.data, *a.shape, out.ctypes.data, T),
                 "coil_combine_into")
        return out

    def comb_np(i):
        S, x = i.coils["sens"].T, i.coils["img"].T
        num = np.sum(np.conj(S) * x, axis=0)
        den = np.sum(np.abs(S) ** 2, axis=0)
        return np.divide(num, den, out=np.zeros_like(num), where=den != 0).T

    def comb_torch(i):
        import torch
        S, x = torch_of(i, "sens"), torch_of(i, "img")
        num = torch.sum(torch.conj(S) * x, dim=0)
        den = torch.sum(S.real ** 2 + S.imag ** 2, dim=0)
        return torch.where(den != 0, num / den, torch.zeros_like(num)).permute(2, 1, 0)

    def comb_ref(i):
        S, x = i.coils["sens"].astype(np.complex128), i.coils["img"].astype(np.complex128)
        num = np.sum(np.conj(S) * x, axis=3)
        den = np.sum(np.abs(S) ** 2, axis=3)
        return np.divide(num, den, out=np.zeros_like(num), where=den != 0)

    comb = Op("coil_combine", "coil combination sum conj(S) x / sum |S|^2, complex64 %d coils" % C, {
        "medvol": lambda i: mv.call("mvb_coil_combine", i.coils["img"].ctypes.data, i.coils["sens"].ctypes.data,
                                    *shp(i), T),
        "medvol-1t": lambda i: mv.call("mvb_coil_combine", i.coils["img"].ctypes.data,
                                       i.coils["sens"].ctypes.data, *shp(i), 1),
        "medvol-into": comb_into, "numpy": comb_np, "torch": comb_torch},
        comb_ref, 1e-6, rel=True, sizes=[128], notes={
            "medvol": "mv_coil_combine (sensitivities: medvol's phantom coil maps, sum |S|^2 = 1)",
            "numpy": "np.sum(np.conj(S) * x, 0) / np.sum(np.abs(S) ** 2, 0), 0 where the denominator is 0",
            "torch": "the same in torch, |S|^2 as S.real ** 2 + S.imag ** 2 (faster than torch.abs), "
                     "torch.where for the zero denominator"})
    return [ifftc, rss, comb]


# ---------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------
def timed(fn, inp):
    t0 = time.perf_counter()
    r = fn(inp)
    t1 = time.perf_counter()
    return (t1 - t0) * 1e3, r


def max_diff(a, ref, np, rel=False):
    """max |a - ref| (complex: the modulus of the difference); rel: divided
    by max |ref|."""
    if a.shape != tuple(ref.shape):
        return float("inf"), "shape %s, expected %s" % (a.shape, tuple(ref.shape))
    if np.iscomplexobj(a) != np.iscomplexobj(ref):
        return float("inf"), "dtype %s, expected %s" % (a.dtype, ref.dtype)
    d = np.abs(a.astype(ref.dtype) - ref)
    m = float(d.max()) if d.size else 0.0
    if rel and d.size:
        scale = float(np.abs(ref).max())
        m = m / scale if scale > 0 else m
    return m, None


def run_op(op, inp, tools, reps, np, log, yardstick=None):
    """Warm-up + agreement check of every tool, then interleaved timing.
    yardstick: an extra callable timed once in every round (no check), e.g.
    a memcpy, whose samples land in row["yardstick"]."""
    ref = op.ref(inp)
    ref = np.asarray(ref, dtype=np.complex128 if np.iscomplexobj(ref) else np.float64)
    row = {"op": op.key, "title": op.title, "size": inp.n, "tol": op.tol, "rel": op.rel, "tools": {}}
    agreeing = []
    for name in tools:
        cell = row["tools"][name] = {}
        try:
            _, r = timed(op.tools[name], inp)
            d, why = max_diff(as_xyz(r, np), ref, np, op.rel)
            del r
        except Exception as e:  # a peer that fails is reported, not fatal
            cell.update(error="%s: %s" % (type(e).__name__, str(e).splitlines()[0][:160] if str(e) else ""))
            log("  %-10s ERROR %s" % (name, cell["error"]))
            continue
        cell["max_diff"] = d
        cell["agrees"] = d <= op.tol
        if why:
            cell["why"] = why
        if cell["agrees"]:
            agreeing.append(name)
        else:
            log("  %-10s DISAGREES: max diff %.3g > tol %.3g %s" % (name, d, op.tol, why or ""))
    for name in agreeing:  # second warm-up
        _, r = timed(op.tools[name], inp)
        del r
    samples = {name: [] for name in agreeing}
    row["yardstick"] = []
    for k in range(reps):
        order = agreeing[k % len(agreeing):] + agreeing[:k % len(agreeing)] if agreeing else []
        for name in order:
            ms, r = timed(op.tools[name], inp)
            del r
            samples[name].append(ms)
        if yardstick:
            row["yardstick"].append(timed(yardstick, inp)[0])
    for name in agreeing:
        s = samples[name]
        row["tools"][name].update(samples=s, median=statistics.median(s), min=min(s))
    del ref
    gc.collect()
    return row


def ctypes_overhead_us(mv, n=5000):
    """Median time of a ctypes call to a trivial medvol shim function."""
    f, s = mv.lib.mvb_threads, []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        s.append(time.perf_counter() - t0)
    return statistics.median(s) * 1e6


def memcpy_ms(np, n, reps):
    """memcpy of one n^3 float32 volume into a warm buffer (the bandwidth yardstick)."""
    a = np.ones(n ** 3, dtype=np.float32)
    b = np.empty_like(a)
    b.fill(0)
    s = []
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        np.copyto(b, a)
        s.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(s[1:]), min(s[1:])


# ---------------------------------------------------------------------------
# machine and versions
# ---------------------------------------------------------------------------
def machine_info():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "os": "%s %s" % (platform.system(), platform.release()), "python": platform.python_version(),
            "loadavg": "%.1f %.1f %.1f" % os.getloadavg()}


def versions(mv, peers):
    v = {"medvol": mv.build_info()}
    import numpy
    v["numpy"] = numpy.__version__
    for mod, name in (("scipy", "scipy"), ("nibabel", "nibabel"), ("torch", "torch"), ("monai", "MONAI"),
                      ("torchio", "TorchIO"), ("medrs", "medrs"), ("SimpleITK", "SimpleITK"), ("nrrd", "pynrrd")):
        if name in ("scipy", "nibabel") or name in peers:
            try:
                m = __import__(mod)
                v[name] = getattr(m, "__version__", None) or m.Version_VersionString()
            except Exception as e:  # noqa: BLE001
                v[name] = "unavailable (%s)" % type(e).__name__
    return v


def load_peers(threads, log):
    """Imports the peers, sets their thread counts; returns those available."""
    ok = ["numpy", "scipy"]
    import numpy  # noqa: F401
    import nibabel  # noqa: F401
    import scipy  # noqa: F401
    import scipy.fft  # noqa: F401
    try:
        import torch
        torch.set_num_threads(threads)
        ok.append("torch")
    except ImportError as e:
        log("torch unavailable: %s" % e)
    try:
        import warnings
        warnings.filterwarnings("ignore")
        import monai
        monai.data.set_track_meta(True)
        ok.append("MONAI")
    except ImportError as e:
        log("MONAI unavailable: %s" % e)
    for mod, name in (("torchio", "TorchIO"), ("medrs", "medrs"), ("nrrd", "pynrrd")):
        try:
            __import__(mod)
            ok.append(name)
        except ImportError as e:
            log("%s unavailable: %s" % (name, e))
    try:
        import SimpleITK as sitk
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
        ok.append("SimpleITK")
    except ImportError as e:
        log("SimpleITK unavailable: %s" % e)
    return ok


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------
def fmt_ms(x):
    return "%.3g" % x if x < 100 else "%.0f" % x


def fmt_cell(cell, mv_med):
    if cell is None:
        return "—"
    if "error" in cell:
        return "error"
    if not cell.get("agrees"):
        return "✗ differs (%.2g)" % cell["max_diff"]
    s = "%s (%s)" % (fmt_ms(cell["median"]), fmt_ms(cell["min"]))
    if mv_med:
        s += " **%.1f×**" % (cell["median"] / mv_med)
    return s


def render(res):
    args, rows = res["args"], res["rows"]
    m, v = res["machine"], res["versions"]
    T = args["threads"]
    out = ["# medvol side by side with its peers", "",
           "Generated by `make bench` (bench/bench.py) on %s." % res["date"], "",
           "- **Machine**: %s, %d cores (%d usable), %s, Python %s; a shared machine, so other work "
           "adds noise (load average %s at the start of this run): read medians and minima together."
           % (m["cpu"], m["cores"], m["usable_cores"], m["os"], m["python"], m["loadavg"]),
           "- **Threads**: every tool at **%d** thread%s: medvol `opts.threads = %d` (and the \"medvol 1T\" "
           "column at 1); torch `set_num_threads(%d)`; SimpleITK `ProcessObject.SetGlobalDefaultNumberOfThreads"
           "(%d)`; `OMP_NUM_THREADS`, `MKL_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, `RAYON_NUM_THREADS` (medrs) "
           "= %d; scipy.fft `workers=%d` (its own column); numpy (numpy.fft included), scipy.ndimage and "
           "nibabel run on one thread by design."
           % (T, "s" if T > 1 else "", T, T, T, T, T),
           "- **Versions**: " + "; ".join("%s %s" % (k, val) for k, val in v.items()),
           "- **Method**: one input per size (medvol's smooth phantom: Gaussian blobs + uniform noise in "
           "[0, 1000]; int16 files carry scl_slope 0.5, scl_inter 10). Every tool runs once, its output is "
           "checked against a float64 (complex128) numpy/scipy reference (max |diff| <= the row's tolerance; "
           "\"rel\" rows, the FFT and coil rows, bound max |diff| / max |ref|, complex differences by modulus; else the cell "
           "says ✗ and the tool is not timed), then the agreeing tools run %d interleaved rounds after a second "
           "warm-up. Cells: **median ms (min ms)**, then medvol's speedup = peer median / medvol median; the last column also "
           "gives the ratio of the minima, steadier on a busy machine. "
           "\"—\" = the tool has no such operation. medvol's main column is its allocating form (a fresh "
           "result each call, as every peer returns); \"medvol into warm buffer\" is the `_into` form writing "
           "a caller buffer written before (no page faults), the kernel's own cost." % args["reps"],
           "- **memcpy** of one float32 volume into a warm buffer (numpy copyto, same run): %s."
           % "; ".join("%s^3: %s ms" % (n, fmt_ms(ms)) for n, ms in sorted(res["memcpy"].items(),
                                                                        key=lambda kv: int(kv[0]))),
           ""]
    peers = [p for p in PEERS if p in res["peers"]]
    head = ["operation", "size", "max diff / tol", "medvol (%dT)" % T, "medvol 1T", "medvol into warm buffer"] + \
           [PEER_TITLES[p] for p in peers] + ["fastest peer (median ms)", "medvol vs fastest: median (min)"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in rows:
        tools = r["tools"]
        mvc = tools.get("medvol")
        mv_med = mvc.get("median") if mvc and mvc.get("agrees") else None
        diffs = [c["max_diff"] for c in tools.values() if c.get("agrees")]
        dcell = "%.2g / %.2g%s" % (max(diffs) if diffs else float("nan"), r["tol"], " rel" if r.get("rel") else "")
        if mvc is None:
            mcell = "n/a"
        elif "error" in mvc:
            mcell = "error"
        elif not mvc.get("agrees"):
            mcell = "✗ DIFFERS (%.2g)" % mvc["max_diff"]
        else:
            mcell = "**%s** (%s)" % (fmt_ms(mvc["median"]), fmt_ms(mvc["min"]))
        def plain(c):
            if c is None:
                return "—"
            return "%s (%s)" % (fmt_ms(c["median"]), fmt_ms(c["min"])) if c.get("agrees") else fmt_cell(c, None)
        c1s = plain(tools.get("medvol-1t")) if mvc is not None else "n/a"
        cis = plain(tools.get("medvol-into"))
        cells = [fmt_cell(tools.get(p), mv_med) for p in peers]
        timed_peers = [(tools[p]["median"], p) for p in peers if p in tools and tools[p].get("agrees")]
        if timed_peers:
            best, bp = min(timed_peers)
            best_min = min(tools[p]["min"] for p in peers if p in tools and tools[p].get("agrees"))
            fastest = "%s %s" % (PEER_TITLES[bp].split(" /")[0] if bp != "numpy" else "numpy-stack", fmt_ms(best))
            vs = "**%.1f×** (min %.1f×)" % (best / mv_med, best_min / mvc["min"]) if mv_med else "n/a"
        else:
            fastest, vs = "—", "—"
        title = r["title"].replace("|", "\\|")  # a title's |x| must not split the markdown row
        out.append("| " + " | ".join([title, "%d^3" % r["size"], dcell, mcell, c1s, cis] + cells +
                                     [fastest, vs]) + " |")
    out += ["", "## How each tool was called (and convention notes)", ""]
    seen = set()
    for op in res["notes"]:
        if op["notes"] and op["key"] not in seen:
            seen.add(op["key"])
            out.append("- **%s**: " % op["title"] + "; ".join("%s: %s" % (k, val) for k, val in op["notes"].items()))
    out += ["", "## Disagreements and errors (not timed)", ""]
    bad = []
    for r in rows:
        for name, c in r["tools"].items():
            if "error" in c:
                bad.append("- %s, %d^3, %s: error %s" % (r["title"], r["size"], name, c["error"]))
            elif not c.get("agrees"):
                bad.append("- %s, %d^3, %s: max |diff| %.3g > tolerance %.3g %s"
                           % (r["title"], r["size"], name, c["max_diff"], r["tol"], c.get("why", "")))
    out += bad or ["none"]
    if res.get("extra_notes"):
        out += ["", "## Notes", ""] + ["- " + n for n in res["extra_notes"]]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------
def select_ops(ops, only):
    return [o for o in ops if not only or re.search(only, o.key)]


def mode_run(args):
    pin_threads(args.threads)
    import numpy as np
    log = lambda s: print(s, flush=True)  # noqa: E731
    mv = Medvol()
    peers = load_peers(args.threads, log)
    ops = select_ops(build_ops(mv, args.threads), args.only)
    log("medvol: %s" % mv.build_info())
    log("threads: %d for every tool; peers: %s; sizes %s; %d rounds" % (args.threads, ", ".join(peers),
                                                                         args.sizes, args.reps))
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "args": vars(args), "machine": machine_info(),
           "versions": versions(mv, peers), "peers": peers, "rows": [], "memcpy": {},
           "notes": [{"key": o.key, "title": o.title, "notes": o.notes} for o in ops], "extra_notes": []}
    t_start = time.time()
    for n in args.sizes:
        log("== %d^3: making inputs" % n)
        inp = Inputs(mv, n, peers, args.threads)
        res["memcpy"][str(n)] = memcpy_ms(np, n, 9)[0]
        for op in ops:
            if op.sizes and n not in op.sizes:
                continue
            tools = [t for t in MEDVOLS + tuple(PEERS) if t in op.tools and
                     (t.startswith("medvol") or t in peers)]
            if op.mv_needs and not mv.has(op.mv_needs):
                tools = [t for t in tools if not t.startswith("medvol")]
                log("  (medvol: n/a for %s: this medvol.h has no resample API)" % op.key)
            t0 = time.time()
            row = run_op(op, inp, tools, args.reps, np, log)
            row["loadavg"] = os.getloadavg()[0]  # 1-minute load average when the row finished
            res["rows"].append(row)
            mvc = row["tools"].get("medvol", {})
            log("%-34s %4d^3 %7.1fs  medvol %s  %s" % (op.key, n, time.time() - t0,
                                                      fmt_ms(mvc["median"]) if "median" in mvc else "-",
                                                      " ".join("%s=%s" % (k, fmt_ms(c["median"]))
                                                               for k, c in row["tools"].items()
                                                               if "median" in c and not k.startswith("medvol"))))
        gz_sizes = {t: os.path.getsize(inp.path("out-%s-gz.nii.gz" % t)) for t in ("medvol", "nibabel", "sitk", "tio",
                                                                               "medrs")
                    if os.path.exists(inp.path("out-%s-gz.nii.gz" % t))}
        if gz_sizes:
            res["extra_notes"].append("save .nii.gz at %d^3: output sizes (MB) %s; raw %.1f MB" % (
                n, ", ".join("%s %.1f" % (k, s / 1e6) for k, s in gz_sizes.items()), inp.x.nbytes / 1e6))
        del inp
        gc.collect()
    res["extra_notes"].append("ctypes adds %.1f us per medvol call (median of 5000 calls of a trivial shim "
                              "function, this run); " % ctypes_overhead_us(mv) +
                              "medvol's results are its allocating forms (fresh memory, huge pages), as "
                              "the peers' are; inputs are in the page cache for every tool.")
    la = [r["loadavg"] for r in res["rows"]]
    if la:
        res["extra_notes"].append("load average (1 min) on %d usable cores: %s at the start, %.1f to %.1f (median %.1f) "
                                  "as the rows finished, %.1f at the end" % (
                                      len(os.sched_getaffinity(0)), res["machine"]["loadavg"], min(la), max(la),
                                      statistics.median(la), os.getloadavg()[0]))
    res["extra_notes"].append("total run time %.0f s" % (time.time() - t_start))
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    with open(args.out, "w") as f:
        f.write(render(res))
    log("wrote %s and %s" % (args.out, args.json))
    return 0


def medvol_samples(args, log):
    """The regression check's measurement: medvol only (all threads, one
    thread, into a warm buffer), each round also timing a memcpy of one
    float32 volume into a warm buffer. Returns {key: [ms]} and {key: [ms /
    that round's memcpy ms]}: the ratio survives a busy machine (other
    work takes memory bandwidth and cores from both alike)."""
    pin_threads(args.threads)
    import numpy as np
    mv = Medvol()
    ops = select_ops(build_ops(mv, args.threads), args.only)
    out, rel = {}, {}
    for n in args.sizes:
        inp = Inputs(mv, n, [], args.threads)
        src = np.ones(n ** 3, dtype=np.float32)
        dst = np.zeros_like(src)
        copy = lambda i: np.copyto(dst, src)  # noqa: E731
        for op in ops:
            if (op.sizes and n not in op.sizes) or (op.mv_needs and not mv.has(op.mv_needs)):
                continue
            row = run_op(op, inp, [t for t in MEDVOLS if t in op.tools], args.reps, np, log, yardstick=copy)
            for name, c in row["tools"].items():
                key = "%s/%d/%s" % (op.key, n, {"medvol": "%dt" % args.threads, "medvol-1t": "1t",
                                                "medvol-into": "into-%dt" % args.threads}[name])
                if c.get("agrees"):
                    out[key] = c["samples"]
                    rel[key] = [a / b for a, b in zip(c["samples"], row["yardstick"])]
                    log("%-36s median %8.3f ms  min %8.3f  x memcpy %6.2f" % (key, c["median"], c["min"],
                                                                           statistics.median(rel[key])))
                else:
                    log("%-36s FAILED its agreement check: %s" % (key, c))
        del inp
    return mv, out, rel


def mode_baseline(args):
    log = lambda s: print(s, flush=True)  # noqa: E731
    mv, samples, rel = medvol_samples(args, log)
    doc = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_info(), "medvol": mv.build_info(),
           "threads": args.threads, "reps": args.reps, "samples_ms": samples,
           "samples_rel_memcpy": rel}
    with open(args.baseline, "w") as f:
        json.dump(doc, f, indent=1)
    log("wrote %s (%d series)" % (args.baseline, len(samples)))
    return 0


def mode_check(args):
    from scipy.stats import mannwhitneyu
    log = lambda s: print(s, flush=True)  # noqa: E731
    with open(args.baseline) as f:
        base = json.load(f)
    if base.get("threads") != args.threads:
        log("note: baseline used %s threads, this run %d" % (base.get("threads"), args.threads))
    load0 = os.getloadavg()[0]
    _, new_ms, new = medvol_samples(args, lambda s: None)
    load1, cores = os.getloadavg()[0], len(os.sched_getaffinity(0))
    print("load average %.1f at the start, %.1f at the end, %d cores%s" % (
        load0, load1, cores, ": BUSY MACHINE, verdicts are unreliable; rerun to confirm a change"
        if max(load0, load1) > cores else ""))
    print("each series: op time / memcpy time of the same round; ratio = now / baseline")
    print("%-36s %9s %9s %7s %7s %9s  %s" % ("operation/size/threads", "base", "now", "ratio", "min r.", "p",
                                              "verdict"))
    counts = {"faster": 0, "same": 0, "slower": 0}
    for key in sorted(new):
        if key not in base["samples_rel_memcpy"]:
            print("%-36s %9s %9.3f %7s %7s %9s  new (no baseline)" % (key, "-", statistics.median(new[key]), "-", "-",
                                                                      "-"))
            continue
        b, s = base["samples_rel_memcpy"][key], new[key]
        ratio = statistics.median(s) / statistics.median(b)
        ratio_min = min(s) / min(b)
        p = mannwhitneyu(s, b, alternative="two-sided").pvalue
        # a change must show in the test, in the medians and in the minima:
        # on a shared machine a busy spell moves medians but rarely minima
        verdict = "same"
        if p < args.alpha and ratio >= args.slower and ratio_min >= args.slower:
            verdict = "slower"
        elif p < args.alpha and ratio <= args.faster and ratio_min <= args.faster:
            verdict = "faster"
        counts[verdict] += 1
        print("%-36s %9.3f %9.3f %7.3f %7.3f %9.2g  %s" % (key, statistics.median(b), statistics.median(s), ratio,
                                                           ratio_min, p,
                                                           verdict.upper() if verdict == "slower" else verdict))
    print("bench-check: %d faster, %d same, %d slower (Mann-Whitney U two-sided p < %g, and the ratios of "
          "medians and of minima both >= %.2f: slower, both <= %.2f: faster)" % (counts["faster"], counts["same"], counts["slower"], args.alpha,
                                                args.slower, args.faster))
    return 0


def main(argv):
    args = parse_args(argv)
    return {"run": mode_run, "check": mode_check, "baseline": mode_baseline}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
