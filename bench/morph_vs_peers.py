#!/usr/bin/python3
"""Labelling, the Euclidean distance transform and ball erosion: medvol
beside its peers on the same mask in the same process.

    make bench-morph                      # = /usr/bin/python3 bench/morph_vs_peers.py
    /usr/bin/python3 bench/morph_vs_peers.py [--sizes 128,256] [--reps 5] [--threads 2]
                                            [--lib build/libmvbench.so] [--out FILE]

Debian's python3 with python3-scipy; the other peers are optional and are
rows that say "not installed" when missing:
    /usr/bin/python3 -m pip install --break-system-packages --only-binary=:all: \\
        "scikit-image<0.26" connected-components-3d edt SimpleITK
(scikit-image 0.26 pulls numpy 2, which breaks Debian's nibabel: pin it, or
install numpy-2-free versions; never let pip upgrade Debian's numpy/scipy).
MONAI and TorchIO need torch (bench/.venv of `make bench` has them); on the
CPU their KeepLargestConnectedComponent / DistanceTransformEDT / erosion
call scikit-image, scipy.ndimage and SimpleITK, which are timed here
directly. With bench/.venv's python the MONAI / TorchIO rows run too.

The mask is examples/profile_morph.c's (a smooth field plus noise above
0.35: blobs of every size, ~5k components at 256^3), as the (X, Y, Z)
array nibabel would give, Fortran order (medvol's memory order). Rows:
  label 26    scipy.ndimage.label (3x3x3 ones), skimage.measure.label
              (connectivity 3), cc3d.connected_components (26), SimpleITK
              ConnectedComponent (fully connected); medvol's labels must equal
              scipy's, the others' must be the same partition (relabelled)
  largest     the largest 26-component as a mask: medvol mv_label(largest 1)
              vs cc3d.largest_k, skimage label + bincount, MONAI
              KeepLargestConnectedComponent, TorchIO KeepLargestComponent
  edt         scipy.ndimage.distance_transform_edt (float64), edt.edt
              (float32, seung-lab), SimpleITK SignedMaurerDistanceMap (of
              the background, clipped at 0), MONAI DistanceTransformEDT;
              agreement: |d - scipy| <= 1e-5 (1 + scipy)
  erode r=3   binary erosion by the ball x^2 + y^2 + z^2 <= 9: scipy
              binary_erosion, skimage binary_erosion(ball(3)), SimpleITK
              BinaryErode(sitkBall, 3); exact agreement
A peer that disagrees is marked and not timed. Every tool runs once (the
check), then all are timed interleaved, round by round: median and min ms,
and x = the peer's median / medvol's median (same run). medvol runs with
caller scratch made once ("warm", its _into form as a firmware user or a
loop would call it) and without ("alloc": the scratch allocated and freed
every call). scipy, scikit-image and cc3d are single-threaded; edt,
SimpleITK and medvol get --threads.
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

    # ---- largest component ----
    tools = {}
    if mv:
        def mv_largest():
            lo = np.zeros(m.shape, np.int32, order='F')
            nx, ny, nz = m.shape
            nl = ctypes.c_int64()
            mv.check(mv.lib.mvb_label_largest_into(mu8.ctypes.data, nx, ny, nz, 26, lo.ctypes.data, threads,
                                                   ctypes.byref(nl)))
            return lo != 0
        if hasattr(mv.lib, 'mvb_label_largest_into'):
            mv.lib.mvb_label_largest_into.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                                      ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                      ctypes.POINTER(ctypes.c_int64)]
            tools['medvol alloc'] = mv_largest

    def sp_largest():
        lab, k = ndi.label(m, structure=np.ones((3, 3, 3), bool))
        cnt = np.bincount(lab.ravel())
        cnt[0] = 0
        return lab == cnt.argmax()
    tools['scipy.ndimage'] = sp_largest
    tools['cc3d'] = (lambda: c3.largest_k(m, k=1, connectivity=26) != 0) if not isinstance(c3, str) else c3

    def sk_largest():
        lab = sk.measure.label(m, connectivity=3)
        cnt = np.bincount(lab.ravel())
        cnt[0] = 0
        return lab == cnt.argmax()
    tools['skimage'] = sk_largest if not isinstance(sk, str) else sk
    mo, tio = peers['MONAI'], peers['TorchIO']
    if not isinstance(mo, str):
        from monai.transforms import KeepLargestConnectedComponent
        klcc = KeepLargestConnectedComponent(applied_labels=[1], connectivity=3)
        tools['MONAI'] = lambda: np.asarray(klcc(m[None].astype(np.uint8)))[0] != 0
    else:
        tools['MONAI'] = mo
    if not isinstance(tio, str):
        import torch
        klc = tio.KeepLargestComponent()
        lm = tio.LabelMap(tensor=torch.from_numpy(m[None].astype(np.uint8)))
        tools['TorchIO'] = lambda: klc(lm).data.numpy()[0] != 0
    else:
        tools['TorchIO'] = tio
    rows.append(('largest 26-component', sp_largest, tools, lambda tool, res, ref: np.array_equal(res, ref)))

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
            d = sitk.SignedMaurerDistanceMap(sitk_image(m), insideIsPositive=True, squaredDistance=False,
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
            notes[name] = 'differs from scipy: not timed'
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
