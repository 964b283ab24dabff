#!/usr/bin/python3
"""Labelling, the Euclidean distance transform, ball erosion and issue 20's
mask operations: medvol beside its peers on the same input in one process.

    make bench-morph                      # = /usr/bin/python3 bench/morph_vs_peers.py
    /usr/bin/python3 bench/morph_vs_peers.py [--sizes 128,256] [--reps 5] [--threads 2]
                                            [--lib build/libmvbench.so] [--out FILE]

Debian's python3 with python3-scipy; the other peers are optional and are
rows that say "not installed" when missing:
    /usr/bin/python3 -m pip install --break-system-packages --only-binary=:all: \\
        "scikit-image<0.26" connected-components-3d edt SimpleITK
(scikit-image 0.26 pulls numpy 2, which breaks Debian's nibabel: pin it, or
install numpy-2-free versions; never let pip upgrade Debian's numpy/scipy).
MONAI and TorchIO need torch. PyPI's torch wheel pulls ~4 GB of CUDA
libraries; on Debian 12 take Debian's CPU build (torch 1.13.1) and add the
two pure-Python packages without letting pip touch torch / numpy / scipy:
    apt-get install -y python3-torch python3-deprecated python3-humanize \\
        python3-typer python3-rich
    /usr/bin/python3 -m pip install --break-system-packages --no-deps \\
        "monai==1.4.0" "torchio==0.20.23" "einops==0.8.2"
(MONAI 1.4.0 is the last release for torch < 2.4.1 and needs numpy < 2;
TorchIO 0.20.23 needs torch >= 1.9 and einops, which Debian 12 lacks; check
with /usr/bin/python3 -c "import monai, torchio; monai.config.print_config()").
bench/.venv of `make bench` (bench/requirements.txt) has them too. On the
CPU MONAI's KeepLargestConnectedComponent labels with scikit-image, its
DistanceTransformEDT and FillHoles call scipy.ndimage, TorchIO's
KeepLargestComponent SimpleITK: their rows are those libraries plus the
tensor / MetaTensor / Subject round trip a pipeline pays.

The mask is examples/profile_morph.c's (a smooth field plus noise above
0.35: blobs of every size, ~5k components at 256^3), as the (X, Y, Z)
array nibabel would give, Fortran order (medvol's memory order). Rows:
  label 26    scipy.ndimage.label (3x3x3 ones), skimage.measure.label
              (connectivity 3), cc3d.connected_components (26), SimpleITK
              ConnectedComponent (fully connected); medvol's labels must equal
              scipy's, the others' must be the same partition (relabelled)
  largest     the largest component as a mask, 26- and 6-connected: medvol
              mv_label(largest 1) vs scipy label + bincount, cc3d.largest_k,
              skimage label + bincount, MONAI KeepLargestConnectedComponent
              (connectivity 3 / 1); TorchIO KeepLargestComponent only in the
              6-connected row (sitk.ConnectedComponent's default, faces)
  edt         scipy.ndimage.distance_transform_edt (float64), edt.edt
              (float32, seung-lab), SimpleITK SignedMaurerDistanceMap (of
              the background, outside positive, clipped at 0), MONAI
              DistanceTransformEDT;
              agreement: |d - scipy| <= 1e-5 (1 + scipy)
  erode r=3   binary erosion by the ball x^2 + y^2 + z^2 <= 9: scipy
              binary_erosion, skimage binary_erosion(ball(3)), SimpleITK
              BinaryErode(sitkBall, 3); exact agreement (skimage erodes with
              border_value=True and ITK's ball is another shape: both differ)
and issue 20's MONAI / TorchIO mask operations (build_mask_rows), each
exactly equal to its scipy / numpy definition or marked:
  fill holes  scipy binary_fill_holes (3D, background 6-connected to the
              border), medvol mv_fill_holes(axis -1), MONAI FillHoles(
              connectivity=1; its default 3 is 26-connected background)
  crop fg     crop to the box of the voxels > 0 (margin 0) of a float32
              image that is 0 outside an off-centre ellipsoid: numpy
              nonzero-box slice copy, medvol mv_foreground_box +
              mv_crop_pad_box_into a fresh buffer, MONAI CropForeground
  mask        x where the mask is nonzero else 0 (fslmaths -mas): numpy
              where, medvol mv_math_into(MV_MATH_MAS), MONAI MaskIntensity,
              TorchIO Mask(masking_method=label map)
  threshold   x where x > t else 0: numpy where, MONAI ThresholdIntensity(
              above=True), medvol mv_math_into(MV_MATH_THR) (fslmaths -thr
              keeps x >= t: t is a float32 no voxel equals)
  one-hot     5 classes: numpy ==, medvol mv_one_hot (uint8, channel last),
              MONAI AsDiscrete(to_onehot) (float32), TorchIO OneHot (int64),
              both channel first, compared through np.moveaxis views
The mask rows call medvol.h's API in the same library (libmvbench.so holds
all of it) through ctypes with mirrored opts structs; where medvol
allocates the result it is freed at the next call (in that call's time).
The phantom of the intensity rows is bench/ops_vs_numpy.py's.
A peer that disagrees with the reference is marked and not timed. Every
tool runs once (the check), then all are timed interleaved, round by round:
median and min ms, and x = the peer's median / medvol's median (same run;
medvol warm where the row has it, else medvol alloc). medvol runs with
caller scratch made once ("warm", its _into form as a firmware user or a
loop would call it) and without ("alloc": the scratch allocated and freed
every call). scipy, scikit-image, cc3d and numpy are single-threaded; edt,
SimpleITK, torch (MONAI, TorchIO) and medvol get --threads.
"""
import argparse
import ctypes
import os
import sys
import time

for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(var, '1')

import numpy as np                     # noqa: E402
import scipy                           # noqa: E402
import scipy.ndimage as ndi            # noqa: E402


def mask_for(n):
    """examples/profile_morph.c's mask when it wrote one for n (build/profile_morph.d, 256^3), else the same
    formula with numpy's generator for the noise"""
    path = 'build/profile_morph.d/mask.u8'
    if os.path.exists(path) and os.path.getsize(path) == n ** 3:
        return np.fromfile(path, dtype=np.uint8).reshape((n, n, n), order='F').astype(bool)
    x, y, z = np.meshgrid(*[np.arange(n, dtype=np.float64)] * 3, indexing='ij')
    u = np.random.default_rng(1).random((n, n, n))
    v = np.sin(x * 0.11) * np.cos(y * 0.07 + 0.3) + 0.6 * np.sin(z * 0.09 + x * 0.02) + 0.6 * (u - 0.5)
    return v > 0.35


class Medvol:
    """build/libmvbench.so (bench/mvbench_morph.c)"""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        i64, vp, sz, i32, d = ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_double
        lib.mvb_label_scratch.restype = sz
        lib.mvb_label_scratch.argtypes = [i64, i64, i64, i32, i32]
        lib.mvb_edt_scratch.restype = sz
        lib.mvb_edt_scratch.argtypes = [i64, i64, i64, d, d, d, i32]
        lib.mvb_erode_scratch.restype = sz
        lib.mvb_erode_scratch.argtypes = [i64, i64, i64, d, i32]
        lib.mvb_label_into.argtypes = [vp, i64, i64, i64, i32, vp, i32, vp, sz, ctypes.POINTER(i64)]
        lib.mvb_edt_into.argtypes = [vp, i64, i64, i64, d, d, d, vp, i32, vp, sz]
        lib.mvb_erode_into.argtypes = [vp, i64, i64, i64, d, vp, i32, vp, sz]
        lib.mvb_last_error.restype = ctypes.c_char_p
        lib.mvb_build_info.restype = ctypes.c_char_p
        self.lib = lib
        self.info = lib.mvb_build_info().decode()
        self.blocks = {}

    def scratch(self, key, size):
        """a 64-byte aligned block of size bytes, made and touched once (warm)"""
        if key not in self.blocks or self.blocks[key][1] < size:
            raw = np.zeros(size + 64, np.uint8)
            off = (-raw.ctypes.data) % 64
            self.blocks[key] = (raw, size, raw.ctypes.data + off)
        return ctypes.c_void_p(self.blocks[key][2]), size

    def check(self, st):
        if st != 0:
            raise RuntimeError('medvol: status %d: %s' % (st, self.lib.mvb_last_error().decode()))

    def label(self, m, out, threads, warm, conn=26):
        nx, ny, nz = m.shape
        nl = ctypes.c_int64()
        sp, size = self.scratch(('label', m.shape, threads), self.lib.mvb_label_scratch(nx, ny, nz, conn, threads)) \
            if warm else (None, 0)
        self.check(self.lib.mvb_label_into(m.ctypes.data, nx, ny, nz, conn, out.ctypes.data, threads, sp, size,
                                           ctypes.byref(nl)))
        return out

    def edt(self, m, out, threads, warm):
        nx, ny, nz = m.shape
        sp, size = self.scratch(('edt', m.shape, threads), self.lib.mvb_edt_scratch(nx, ny, nz, 1, 1, 1, threads)) \
            if warm else (None, 0)
        self.check(self.lib.mvb_edt_into(m.ctypes.data, nx, ny, nz, 1.0, 1.0, 1.0, out.ctypes.data, threads, sp,
                                         size))
        return out

    def erode(self, m, out, r, threads, warm):
        nx, ny, nz = m.shape
        sp, size = self.scratch(('ero', m.shape, threads), self.lib.mvb_erode_scratch(nx, ny, nz, r, threads)) \
            if warm else (None, 0)
        self.check(self.lib.mvb_erode_into(m.ctypes.data, nx, ny, nz, r, out.ctypes.data, threads, sp, size))
        return out

    # ---- the medvol API itself (libmvbench.so exports all of medvol.h: mvbench.c defines MEDVOL_IMPLEMENTATION);
    # an mv_vol is an opaque 64 KiB buffer here (sizeof(mv_vol) is 736) read only at data (offset 0) and dim
    # (offset 16); the opts structs are mirrored below (medvol.h >>api-math, >>api-morph, mv_spatial_opts) ----
    def api(self):
        if getattr(self, '_api', False):
            return
        vp, i64, cint, d = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_double
        L = self.lib
        L.mv_vol_wrap.argtypes = [vp, vp, cint, cint, vp]
        L.mv_free.argtypes = [vp]
        L.mv_fill_holes.argtypes = [vp, vp, cint, vp]
        L.mv_foreground_box.argtypes = [vp, i64, vp, vp]
        L.mv_crop_pad_box_into.argtypes = [vp, vp, vp, vp, vp]
        L.mv_one_hot.argtypes = [vp, i64, vp, vp]
        L.mv_math_into.argtypes = [vp, cint, vp, d, vp, vp]
        L.mv_last_error.restype = ctypes.c_char_p
        self.held = {}
        self._api = True

    def api_check(self, st):
        if st != 0:
            raise RuntimeError('medvol: status %d: %s' % (st, self.lib.mv_last_error().decode()))

    def wrap(self, a, dt):
        """an mv_vol over the Fortran-ordered array a (dims = a.shape, x fastest)"""
        assert a.flags.f_contiguous
        v = ctypes.create_string_buffer(65536)
        self.api_check(self.lib.mv_vol_wrap(v, a.ctypes.data, dt, a.ndim, np.array(a.shape, np.int64).ctypes.data))
        return v

    def result(self, key, v, dtype, ndim):
        """the array view of the mv_vol v that medvol allocated; it stays alive until the next call with this key
        (then mv_free: the free of the previous result is in the next call's time, one free per call)"""
        data = ctypes.c_void_p.from_buffer(v, 0).value
        dims = tuple(ctypes.c_int64.from_buffer(v, 16 + 8 * i).value for i in range(ndim))
        cnt = int(np.prod(dims))
        arr = np.ctypeslib.as_array((ctypes.c_uint8 * (cnt * np.dtype(dtype).itemsize)).from_address(data))
        self.held[key] = v
        return arr.view(dtype).reshape(dims, order='F')

    def release(self, key):
        if key in self.held:
            self.lib.mv_free(self.held.pop(key))

    def fill_holes(self, v, threads):
        """mv_fill_holes(axis -1: 3D), out allocated by medvol (uint8)"""
        self.release('fill')
        out = ctypes.create_string_buffer(65536)
        self.api_check(self.lib.mv_fill_holes(v, out, -1, ctypes.byref(MorphOpts(threads=threads))))
        return self.result('fill', out, np.uint8, 3)

    def crop_foreground(self, v, threads):
        """mv_foreground_box (voxels > 0, margin 0), then mv_crop_pad_box_into a caller buffer of the box"""
        start, size = np.zeros(3, np.int64), np.zeros(3, np.int64)
        self.api_check(self.lib.mv_foreground_box(v, 0, start.ctypes.data, size.ctypes.data))
        out = np.empty(tuple(size), np.float32, order='F')
        self.api_check(self.lib.mv_crop_pad_box_into(v, self.wrap(out, MV_DT_F32), start.ctypes.data,
                                                     size.ctypes.data, ctypes.byref(SpatialOpts(threads=threads))))
        return out

    def one_hot(self, v, nclasses, threads):
        """mv_one_hot: uint8 (X, Y, Z, C), allocated by medvol"""
        self.release('onehot')
        out = ctypes.create_string_buffer(65536)
        self.api_check(self.lib.mv_one_hot(v, nclasses, out, ctypes.byref(LabelOpts(threads=threads))))
        return self.result('onehot', out, np.uint8, 4)

    def math_into(self, va, op, vb, s, out, threads):
        """mv_math_into(a, op, b or the scalar s) into the float32 array out"""
        self.api_check(self.lib.mv_math_into(va, op, vb, s, self.wrap(out, MV_DT_F32),
                                             ctypes.byref(MathOpts(threads=threads))))
        return out


# medvol.h's enums and opts structs (the ones the rows below use)
MV_DT_U8, MV_DT_I32, MV_DT_F32 = 1, 6, 11
MV_MATH_THR, MV_MATH_MAS = 14, 16


class MorphOpts(ctypes.Structure):
    _fields_ = [('shape', ctypes.c_int), ('radius', ctypes.c_double), ('mm', ctypes.c_int),
                ('connectivity', ctypes.c_int), ('iterations', ctypes.c_int), ('border_value', ctypes.c_int),
                ('scratch', ctypes.c_void_p), ('scratch_size', ctypes.c_size_t), ('threads', ctypes.c_int),
                ('alloc_ctx', ctypes.c_void_p)]


class SpatialOpts(ctypes.Structure):
    _fields_ = [('fill', ctypes.c_double), ('threads', ctypes.c_int), ('alloc_ctx', ctypes.c_void_p)]


class LabelOpts(ctypes.Structure):
    _fields_ = [('connectivity', ctypes.c_int), ('order', ctypes.c_int), ('min_size', ctypes.c_int64),
                ('largest', ctypes.c_int64), ('scratch', ctypes.c_void_p), ('scratch_size', ctypes.c_size_t),
                ('threads', ctypes.c_int), ('alloc_ctx', ctypes.c_void_p)]


class MathOpts(ctypes.Structure):
    _fields_ = [('fill', ctypes.c_double), ('affine_tol', ctypes.c_double), ('raw', ctypes.c_int),
                ('threads', ctypes.c_int), ('alloc_ctx', ctypes.c_void_p)]


def load_peers(threads):
    peers = {}
    try:
        import skimage
        import skimage.measure
        import skimage.morphology
        peers['skimage'] = skimage
    except Exception as e:  # noqa: BLE001
        peers['skimage'] = 'not installed (%s)' % e.__class__.__name__
    try:
        import cc3d
        peers['cc3d'] = cc3d
    except Exception as e:  # noqa: BLE001
        peers['cc3d'] = 'not installed (%s)' % e.__class__.__name__
    try:
        import edt
        peers['edt'] = edt
    except Exception as e:  # noqa: BLE001
        peers['edt'] = 'not installed (%s)' % e.__class__.__name__
    try:
        import SimpleITK as sitk
        sitk.ProcessObject_SetGlobalDefaultNumberOfThreads(threads)
        peers['SimpleITK'] = sitk
    except Exception as e:  # noqa: BLE001
        peers['SimpleITK'] = 'not installed (%s)' % e.__class__.__name__
    for name, mod in (('MONAI', 'monai'), ('TorchIO', 'torchio')):
        try:
            peers[name] = __import__(mod)
            import torch
            torch.set_num_threads(threads)
        except Exception as e:  # noqa: BLE001
            peers[name] = 'not installed (%s: needs torch)' % e.__class__.__name__
    return peers


def same_partition(a, b):
    """labels a and b split the voxels the same way (a relabelling of each other)"""
    if ((a == 0) != (b == 0)).any():
        return False
    fa, fb = a[a != 0].astype(np.int64), b[a != 0].astype(np.int64)
    if fa.size == 0:
        return True
    pairs = np.unique(fa * (int(fb.max()) + 1) + fb)  # each a label with one b label and back
    return len(pairs) == len(np.unique(fa)) == len(np.unique(fb))


def sitk_image(m):
    """the (X, Y, Z) array as an ITK image with x fastest: GetImageFromArray reads (Z, Y, X) C order"""
    import SimpleITK as sitk
    return sitk.GetImageFromArray(np.ascontiguousarray(m.T).astype(np.uint8))


def sitk_array(img):
    import SimpleITK as sitk
    return sitk.GetArrayFromImage(img).T


def build_rows(n, m, mv, peers, threads):
    """(title, reference, {tool: callable}, agree(result, reference) -> bool)"""
    ball3 = None
    g = np.meshgrid(*[np.arange(-3, 4)] * 3, indexing='ij')
    ball3 = ((g[0] ** 2 + g[1] ** 2) + g[2] ** 2) <= 9
    lab_out = np.zeros(m.shape, np.int32, order='F')
    edt_out = np.zeros(m.shape, np.float32, order='F')
    ero_out = np.zeros(m.shape, np.uint8, order='F')
    mu8 = np.asfortranarray(m.astype(np.uint8))
    rows = []

    # ---- label 26 ----
    tools = {}
    if mv:
        tools['medvol warm'] = lambda: mv.label(mu8, lab_out, threads, True)
        tools['medvol alloc'] = lambda: mv.label(mu8, lab_out, threads, False)
    tools['scipy.ndimage'] = lambda: ndi.label(m, structure=np.ones((3, 3, 3), bool))[0]
    sk, c3, sitk = peers['skimage'], peers['cc3d'], peers['SimpleITK']
    tools['skimage'] = (lambda: sk.measure.label(m, connectivity=3)) if not isinstance(sk, str) else sk
    tools['cc3d'] = (lambda: c3.connected_components(m, connectivity=26)) if not isinstance(c3, str) else c3
    tools['SimpleITK'] = (lambda: sitk_array(sitk.ConnectedComponent(sitk_image(m), True))) \
        if not isinstance(sitk, str) else sitk

    def agree_label(tool, res, ref):
        if tool.startswith('medvol'):
            return np.array_equal(res, ref)
        return same_partition(ref, np.asarray(res))
    rows.append(('label 26-conn', lambda: ndi.label(m, structure=np.ones((3, 3, 3), bool))[0], tools, agree_label))

    # ---- largest component: 26-connected (MONAI connectivity=3) and 6-connected (TorchIO's only choice:
    # sitk.ConnectedComponent's default, faces; MONAI connectivity=1) ----
    mo, tio = peers['MONAI'], peers['TorchIO']
    for conn in (26, 6):
        struct = np.ones((3, 3, 3), bool) if conn == 26 else ndi.generate_binary_structure(3, 1)
        tools = {}
        if mv and hasattr(mv.lib, 'mvb_label_largest_into'):
            mv.lib.mvb_label_largest_into.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                                      ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                      ctypes.POINTER(ctypes.c_int64)]

            def mv_largest(conn=conn):
                lo = np.zeros(m.shape, np.int32, order='F')
                nx, ny, nz = m.shape
                nl = ctypes.c_int64()
                mv.check(mv.lib.mvb_label_largest_into(mu8.ctypes.data, nx, ny, nz, conn, lo.ctypes.data, threads,
                                                       ctypes.byref(nl)))
                return lo != 0
            tools['medvol alloc'] = mv_largest

        def sp_largest(struct=struct):
            lab, k = ndi.label(m, structure=struct)
            cnt = np.bincount(lab.ravel())
            cnt[0] = 0
            return lab == cnt.argmax()
        tools['scipy.ndimage'] = sp_largest
        tools['cc3d'] = (lambda conn=conn: c3.largest_k(m, k=1, connectivity=conn) != 0) \
            if not isinstance(c3, str) else c3

        def sk_largest(conn=conn):
            lab = sk.measure.label(m, connectivity=3 if conn == 26 else 1)
            cnt = np.bincount(lab.ravel())
            cnt[0] = 0
            return lab == cnt.argmax()
        tools['skimage'] = sk_largest if not isinstance(sk, str) else sk
        if not isinstance(mo, str):
            from monai.transforms import KeepLargestConnectedComponent
            klcc = KeepLargestConnectedComponent(applied_labels=[1], connectivity=3 if conn == 26 else 1)
            tools['MONAI'] = lambda klcc=klcc: np.asarray(klcc(m[None].astype(np.uint8)))[0] != 0
        else:
            tools['MONAI'] = mo
        if isinstance(tio, str):
            tools['TorchIO'] = tio
        elif conn == 26:
            tools['TorchIO'] = 'KeepLargestComponent is 6-connected only (next row)'
        else:
            import torch
            klc = tio.KeepLargestComponent()
            lm = tio.LabelMap(tensor=torch.from_numpy(m[None].astype(np.uint8)))
            tools['TorchIO'] = lambda: klc(lm).data.numpy()[0] != 0
        rows.append(('largest %d-component' % conn, sp_largest, tools,
                     lambda tool, res, ref: np.array_equal(res, ref)))

    # ---- EDT ----
    tools = {}
    if mv:
        tools['medvol warm'] = lambda: mv.edt(mu8, edt_out, threads, True)
        tools['medvol alloc'] = lambda: mv.edt(mu8, edt_out, threads, False)
    tools['scipy.ndimage'] = lambda: ndi.distance_transform_edt(m)
    ed = peers['edt']
    tools['edt'] = (lambda: ed.edt(mu8, parallel=threads)) if not isinstance(ed, str) else ed
    if not isinstance(sitk, str):
        def sitk_edt():
            # the background's map: outside it (the mask) the distance to the nearest background voxel; the
            # mask's own map with insideIsPositive measures to the mask's boundary voxels (1 less: differs)
            d = sitk.SignedMaurerDistanceMap(sitk_image(~m), insideIsPositive=False, squaredDistance=False,
                                             useImageSpacing=False)
            return np.maximum(sitk_array(d), 0)
        tools['SimpleITK'] = sitk_edt
    else:
        tools['SimpleITK'] = sitk
    if not isinstance(mo, str):
        from monai.transforms import DistanceTransformEDT
        dte = DistanceTransformEDT()
        tools['MONAI'] = lambda: np.asarray(dte(m[None].astype(np.float32)))[0]
    else:
        tools['MONAI'] = mo

    def agree_edt(tool, res, ref):
        res = np.asarray(res, np.float64)
        return res.shape == ref.shape and bool((np.abs(res - ref) <= 1e-5 * (1 + ref)).all())
    rows.append(('edt (exact)', lambda: ndi.distance_transform_edt(m), tools, agree_edt))

    # ---- erosion ----
    tools = {}
    if mv:
        tools['medvol warm'] = lambda: mv.erode(mu8, ero_out, 3.0, threads, True)
        tools['medvol alloc'] = lambda: mv.erode(mu8, ero_out, 3.0, threads, False)
    tools['scipy.ndimage'] = lambda: ndi.binary_erosion(m, structure=ball3)
    tools['skimage'] = (lambda: sk.morphology.binary_erosion(m, sk.morphology.ball(3))) if not isinstance(sk, str) else sk
    if not isinstance(sitk, str):
        tools['SimpleITK'] = lambda: sitk_array(sitk.BinaryErode(sitk_image(m), [3, 3, 3], sitk.sitkBall))
    else:
        tools['SimpleITK'] = sitk
    rows.append(('erode ball r=3', lambda: ndi.binary_erosion(m, structure=ball3), tools,
                 lambda tool, res, ref: np.array_equal(np.asarray(res) != 0, ref)))
    rows += build_mask_rows(n, m, mv, peers, threads)
    return rows


def phantom(n):
    """bench/ops_vs_numpy.py's float32 volume: a Gaussian blob (0..1000) plus noise (sd 50), Fortran order"""
    g = np.linspace(-1, 1, n, dtype=np.float32)
    x, y, z = np.meshgrid(g, g, g, indexing='ij')
    v = 1000 * np.exp(-2 * (x * x + y * y + z * z)) + 50 * np.random.default_rng(1).standard_normal((n, n, n))
    return np.asfortranarray(v.astype(np.float32))


def build_mask_rows(n, m, mv, peers, threads):
    """issue 20's MONAI / TorchIO mask operations, each beside its scipy / numpy definition (exact agreement):
    fill holes, crop foreground, mask, threshold, one-hot"""
    rows = []
    mo, tio = peers['MONAI'], peers['TorchIO']
    have_mo, have_tio = not isinstance(mo, str), not isinstance(tio, str)
    if have_mo or have_tio:
        import torch
    if mv:
        mv.api()
    mu8 = np.asfortranarray(m.astype(np.uint8))
    exact = lambda tool, res, ref: np.asarray(res).shape == ref.shape and np.array_equal(np.asarray(res), ref)  # noqa

    # ---- fill holes (3D; holes = background not 6-connected to the border) ----
    tools = {}
    if mv:
        vm = mv.wrap(mu8, MV_DT_U8)
        tools['medvol alloc'] = lambda: mv.fill_holes(vm, threads)
    tools['scipy.ndimage'] = lambda: ndi.binary_fill_holes(m)
    if have_mo:
        from monai.transforms import FillHoles
        fh = FillHoles(connectivity=1)  # 1 = scipy's 6-connected background; MONAI's default (3) is 26
        tools['MONAI'] = lambda: np.asarray(fh(mu8[None]))[0]
    else:
        tools['MONAI'] = mo
    rows.append(('fill holes 3D', lambda: ndi.binary_fill_holes(m), tools,
                 lambda tool, res, ref: np.array_equal(np.asarray(res) != 0, ref)))

    # ---- crop to the foreground's box (voxels > 0, margin 0): a float32 image that is 0 outside an off-centre
    # ellipsoid (a skull-stripped head in its field of view) ----
    x = phantom(n)
    g = np.arange(n, dtype=np.float32) / n
    ell = ((g[:, None, None] - 0.45) / 0.30) ** 2 + ((g[None, :, None] - 0.55) / 0.35) ** 2 + \
        ((g[None, None, :] - 0.5) / 0.25) ** 2 <= 1
    xc = np.asfortranarray(np.where(ell, np.abs(x) + 1, 0).astype(np.float32))

    def np_crop():
        box = []
        for ax in range(3):
            nz = np.flatnonzero((xc > 0).any(axis=tuple(a for a in range(3) if a != ax)))
            box.append(slice(nz[0], nz[-1] + 1))
        return xc[tuple(box)].copy(order='F')
    tools = {}
    if mv:
        vc = mv.wrap(xc, MV_DT_F32)
        tools['medvol alloc'] = lambda: mv.crop_foreground(vc, threads)
    tools['numpy'] = np_crop
    if have_mo:
        from monai.transforms import CropForeground
        cf = CropForeground(margin=0, allow_smaller=True)  # select_fn: is_positive (> 0)
        tools['MONAI'] = lambda: np.asarray(cf(xc[None]))[0]
    else:
        tools['MONAI'] = mo
    tools['TorchIO'] = 'no crop-to-foreground transform (CropOrPad(mask_name) crops to a target shape)' \
        if have_tio else tio
    rows.append(('crop foreground', np_crop, tools, exact))

    # ---- mask: x where the mask is nonzero, else 0 (fslmaths -mas; TorchIO Mask, MONAI MaskIntensity) ----
    out = np.zeros(x.shape, np.float32, order='F')
    tools = {}
    if mv:
        vx = mv.wrap(x, MV_DT_F32)
        tools['medvol warm'] = lambda: mv.math_into(vx, MV_MATH_MAS, vm, 0.0, out, threads)
    tools['numpy'] = lambda: np.where(m, x, np.float32(0))
    if have_mo:
        from monai.transforms import MaskIntensity
        mi = MaskIntensity(mask_data=mu8[None])  # select_fn is_positive; multiplies
        tools['MONAI'] = lambda: np.asarray(mi(x[None]))[0]
    else:
        tools['MONAI'] = mo
    if have_tio:
        subj = tio.Subject(t1=tio.ScalarImage(tensor=torch.from_numpy(x[None])),
                           brain=tio.LabelMap(tensor=torch.from_numpy(mu8[None])))
        tmask = tio.Mask(masking_method='brain')
        tools['TorchIO'] = lambda: tmask(subj)['t1'].data.numpy()[0]
    else:
        tools['TorchIO'] = tio
    rows.append(('mask (fslmaths -mas)', lambda: np.where(m, x, np.float32(0)), tools, exact))

    # ---- threshold: x where x > t, else 0 (MONAI ThresholdIntensity(above=True)); fslmaths -thr keeps x >= t:
    # the same where no voxel equals t: t is the first float32 from 300.25 up that no voxel equals (256^3 has
    # a voxel at 300.25 exactly) ----
    t = np.float32(300.25)
    while (x == t).any():
        t = np.nextafter(t, np.float32(np.inf))
    t = float(t)
    tools = {}
    if mv:
        tools['medvol warm'] = lambda: mv.math_into(vx, MV_MATH_THR, None, t, out, threads)
    tools['numpy'] = lambda: np.where(x > np.float32(t), x, np.float32(0))
    if have_mo:
        from monai.transforms import ThresholdIntensity
        ti = ThresholdIntensity(threshold=t, above=True, cval=0.0)
        tools['MONAI'] = lambda: np.asarray(ti(x[None]))[0]
    else:
        tools['MONAI'] = mo
    tools['TorchIO'] = 'no threshold transform' if have_tio else tio
    rows.append(('threshold > %s (fslmaths -thr)' % np.float32(t),
                 lambda: np.where(x > np.float32(t), x, np.float32(0)), tools, exact))

    # ---- one-hot of 5 classes (0..4, bands of the blob): uint8 (X, Y, Z, C) for medvol and numpy; MONAI and
    # TorchIO give (C, X, Y, Z) (float32 / int64), compared as values through a moveaxis view ----
    nc = 5
    lab = np.asfortranarray(np.clip((x / 250).astype(np.int32), 0, nc - 1))

    def np_onehot():
        return (lab[..., None] == np.arange(nc, dtype=np.int32)).astype(np.uint8)
    tools = {}
    if mv:
        vl = mv.wrap(lab, MV_DT_I32)
        tools['medvol alloc'] = lambda: mv.one_hot(vl, nc, threads)
    tools['numpy'] = np_onehot
    if have_mo:
        from monai.transforms import AsDiscrete
        ad = AsDiscrete(to_onehot=nc)
        tools['MONAI'] = lambda: np.moveaxis(np.asarray(ad(lab[None])), 0, -1)
    else:
        tools['MONAI'] = mo
    if have_tio:
        toh = tio.OneHot(num_classes=nc)
        llm = tio.LabelMap(tensor=torch.from_numpy(lab[None]))
        tools['TorchIO'] = lambda: np.moveaxis(toh(llm).data.numpy(), 0, -1)
    else:
        tools['TorchIO'] = tio
    rows.append(('one-hot %d classes' % nc, np_onehot, tools,
                 lambda tool, res, ref: np.asarray(res).shape == ref.shape and np.array_equal(np.asarray(res), ref)))
    return rows


def run_row(title, ref_fn, tools, agree, reps):
    ref = ref_fn()
    live, notes = {}, {}
    for name, f in tools.items():
        if isinstance(f, str):
            notes[name] = f
            continue
        try:
            res = f()
            ok = agree(name, res, ref)
        except Exception as e:  # noqa: BLE001
            notes[name] = 'failed: %s' % e
            continue
        if ok:
            live[name] = f
        else:
            notes[name] = 'differs from the reference: not timed'
    times = {k: [] for k in live}
    for _ in range(reps):
        for name, f in live.items():
            t0 = time.perf_counter()
            f()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return times, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sizes', default='256')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--lib', default='build/libmvbench.so')
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    mv = None
    if os.path.exists(a.lib):
        mv = Medvol(a.lib)
    peers = load_peers(a.threads)
    lines = []

    def say(s=''):
        print(s)
        sys.stdout.flush()
        lines.append(s)
    say('# morph_vs_peers: %s threads; load average %s on %d cores' % (a.threads, ' '.join(
        '%.1f' % v for v in os.getloadavg()), os.cpu_count()))
    say('# medvol: %s' % (mv.info if mv else 'no %s (make build/libmvbench.so)' % a.lib))
    vers = ['numpy %s' % np.__version__, 'scipy %s' % scipy.__version__]
    for k in ('skimage', 'cc3d', 'edt', 'SimpleITK', 'MONAI', 'TorchIO'):
        p = peers[k]
        if isinstance(p, str):
            vers.append('%s missing' % k)
        elif k == 'SimpleITK':
            vers.append('SimpleITK %s' % p.Version_VersionString())
        else:
            vers.append('%s %s' % (k, getattr(p, '__version__', '?')))
    say('# ' + ', '.join(vers))
    for n in [int(s) for s in a.sizes.split(',')]:
        m = np.asfortranarray(mask_for(n))
        say()
        say('## %d^3 mask (%.1f%% foreground)' % (n, 100.0 * m.mean()))
        say()
        say('| operation | tool | median ms | min ms | x (tool / medvol warm) |')
        say('|---|---|---|---|---|')
        for title, ref_fn, tools, agree in build_rows(n, m, mv, peers, a.threads):
            times, notes = run_row(title, ref_fn, tools, agree, a.reps)
            base = np.median(times['medvol warm']) if 'medvol warm' in times else (
                np.median(times['medvol alloc']) if 'medvol alloc' in times else None)
            for name in tools:
                if name in times:
                    med, mn = np.median(times[name]), min(times[name])
                    say('| %s | %s | %.1f | %.1f | %s |' % (title, name, med, mn,
                                                         '%.1f' % (med / base) if base else '-'))
                else:
                    say('| %s | %s | - | - | %s |' % (title, name, notes.get(name, '')))
    if a.out:
        with open(a.out, 'w') as f:
            f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
