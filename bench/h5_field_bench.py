#!/usr/bin/python3
"""Reading an ANTs/fMRIPrep-sized ITK .h5 composite (an affine and a
displacement field on the 193 x 229 x 193 MNI 1 mm grid, ITK's compressed
layout: deflate level 5 in chunks of 1 Mi float64 values, superblock 2 and
a version 1 B-tree of chunks (HDF5 1.8's format bounds, h5py's libver
'v108'), as ITK 5.4's TransformFileWriter with UseCompression writes it) with
medvol beside SimpleITK and h5py: make bench-h5.

  /usr/bin/python3 bench/h5_field_bench.py [ROUNDS]

Debian's /usr/bin/python3 with numpy, nibabel, h5py (python3-h5py) and
SimpleITK (pip); medvol through ctypes on build/libmedvol_bench.so
(bench/medvol_so.py). The file is written by h5py (the HDF Group's library:
the bytes ITK's writer makes, tests/py/make_itk_h5_fixtures.py has ITK write
one). Checked first: medvol's field, saved by mv_field_save and read by
nibabel, equals h5py's values rounded to float32 (medvol's fields are
float32), and its matrix is the affine's. Then each reader runs ROUNDS
times (best and median wall time): mv_itk_h5_read_field (the field and the
matrix; the library's threads), sitk.ReadTransform (the composite, ITK's
own reader), h5py reading the parameters dataset alone, and numpy copying
the 205 MB of decoded float64 into fresh memory (the memcpy line).

Then the file rewritten, read and written whole (what `mvtool tfm-convert`
does; ANTs users convert a composite between .h5 and .tfm or decompress
it): medvol's mv_itk_transform_read + mv_itk_write_transform as an
uncompressed .h5 (level 0), beside SimpleITK's ReadTransform +
WriteTransform (which writes uncompressed .h5: it has no compression
option), and medvol's deflated rewrite (level 5, as ANTs writes) for
reference. Checked first: h5py reads medvol's rewrite with the same
parameters, bit for bit, and SimpleITK maps points through it as through
the original.
"""
import ctypes
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import medvol_so  # noqa: E402

X, Y, Z = 193, 229, 193
AFFINE = [1.02, 0.01, 0, -0.01, 0.98, 0.02, 0, -0.02, 1.01, 1.5, -2.0, 0.5]  # LPS matrix rows, translation


def write_itk_h5(path):
    import h5py
    k, j, i = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij', sparse=True)
    d = np.empty((Z, Y, X, 3), np.float64)
    d[..., 0] = 3 * np.sin(i / 17.0) * np.cos(j / 23.0) + 0.01 * k
    d[..., 1] = 2 * np.cos(k / 19.0) * np.sin(i / 29.0 + j / 31.0)
    d[..., 2] = 1.5 * np.sin((i + j + k) / 37.0)
    d = d.astype(np.float32).astype(np.float64)  # float values stored as double, as ANTs writes them
    fix = [X, Y, Z, -96.0, -132.0, -78.0, 1.0, 1.0, 1.0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    vlen = h5py.string_dtype('ascii')
    with h5py.File(path, 'w', libver='v108') as f:
        g = f.create_group('TransformGroup')
        for n, kind in enumerate(['CompositeTransform_double_3_3', 'AffineTransform_double_3_3',
                                  'DisplacementFieldTransform_double_3_3']):
            s = g.create_group(str(n))
            s.create_dataset('TransformType', data=np.array([kind.encode()], dtype=object), dtype=vlen)
        for n, (fp, par) in ((1, ([0.0, 0.0, 0.0], AFFINE)), (2, (fix, d.ravel()))):
            s = g[str(n)]
            s.create_dataset('TransformFixedParameters', data=np.array(fp, np.float64))
            par = np.asarray(par, np.float64)
            s.create_dataset('TransformParameters', data=par, chunks=(min(par.size, 1 << 20),), compression='gzip',
                             compression_opts=5)
    return d


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    import h5py
    import nibabel as nib
    import SimpleITK as sitk
    medvol_so.build_so()
    lib = ctypes.CDLL(medvol_so.SO)
    lib.mv_itk_h5_read_field.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_field_save.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_free.argtypes = [ctypes.c_void_p]
    lib.mv_last_error.restype = ctypes.c_char_p
    tmp = tempfile.mkdtemp(prefix='h5bench.')
    path = os.path.join(tmp, 'xfm.h5')
    d = write_itk_h5(path)
    print('%s: %.1f MB on disk, %d float64 parameters (%.0f MB decoded)' %
          (path, os.path.getsize(path) / 1e6, d.size, d.size * 8 / 1e6))
    vol = ctypes.create_string_buffer(1 << 16)  # an mv_vol (far smaller), opaque here
    m = (ctypes.c_double * 16)()

    def medvol_read():
        if lib.mv_itk_h5_read_field(path.encode(), m, vol, None) != 0:
            raise SystemExit('mv_itk_h5_read_field: ' + lib.mv_last_error().decode())

    # checked first: medvol's field through nibabel against h5py's values
    medvol_read()
    nii = os.path.join(tmp, 'field.nii')
    if lib.mv_field_save(nii.encode(), vol, None) != 0:
        raise SystemExit('mv_field_save: ' + lib.mv_last_error().decode())
    lib.mv_free(vol)
    got = np.asarray(nib.load(nii).dataobj)  # (X, Y, Z, 1, 3)
    want = d.astype(np.float32).transpose(2, 1, 0, 3)[:, :, :, None, :]
    with h5py.File(path, 'r') as f:
        ref = f['TransformGroup/2/TransformParameters'][()].astype(np.float32).reshape(Z, Y, X, 3)
    if not (np.array_equal(got, want) and np.array_equal(ref.transpose(2, 1, 0, 3)[:, :, :, None, :], got)):
        raise SystemExit('medvol field differs from h5py values')
    L = np.array(AFFINE[:9]).reshape(3, 3)
    S = np.diag([-1.0, -1.0, 1.0])
    mm = np.array(list(m)).reshape(4, 4)
    if not (np.allclose(mm[:3, :3], S @ L @ S, atol=0) and np.allclose(mm[:3, 3], S @ AFFINE[9:], atol=0)):
        raise SystemExit('medvol matrix %s differs' % mm)
    print('checked: medvol field == h5py values (float32), matrix == S A S')

    timed = medvol_so.timed

    def mv_once():
        medvol_read()
        lib.mv_free(vol)

    def h5py_once():
        with h5py.File(path, 'r') as f:
            f['TransformGroup/2/TransformParameters'][()]

    dec = d.ravel()

    def copy_once():
        np.copy(dec)

    rows = [('medvol mv_itk_h5_read_field', timed(mv_once, rounds)),
            ('SimpleITK ReadTransform', timed(lambda: sitk.ReadTransform(path), max(1, rounds // 2))),
            ('h5py dataset read', timed(h5py_once, max(1, rounds // 2))),
            ('numpy copy of the decoded bytes', timed(copy_once, rounds))]
    base = rows[0][1][0]
    print('%-34s %9s %9s %8s' % ('reader', 'best s', 'median s', 'x medvol'))
    for name, (best, med) in rows:
        print('%-34s %9.3f %9.3f %8.2f' % (name, best, med, best / base))
    rewrite(lib, sitk, h5py, path, tmp, d, rounds)
    os.remove(path)
    os.remove(nii)
    os.rmdir(tmp)


def rewrite(lib, sitk, h5py, path, tmp, d, rounds):
    lib.mv_itk_transform_read.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_itk_write_transform.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    lib.mv_elastix_free.argtypes = [ctypes.c_void_p]
    out, out5, ref = [os.path.join(tmp, n) for n in ('mv0.h5', 'mv5.h5', 'sitk.h5')]

    def mv_rewrite(dst, level):
        t = ctypes.c_void_p()
        if lib.mv_itk_transform_read(path.encode(), ctypes.byref(t), None) != 0:
            raise SystemExit('mv_itk_transform_read: ' + lib.mv_last_error().decode())
        st = lib.mv_itk_write_transform(dst.encode(), t, level)
        lib.mv_elastix_free(t)
        if st != 0:
            raise SystemExit('mv_itk_write_transform: ' + lib.mv_last_error().decode())

    def sitk_rewrite():
        sitk.WriteTransform(sitk.ReadTransform(path), ref)

    mv_rewrite(out, 0)
    with h5py.File(out, 'r') as f:
        if not np.array_equal(f['TransformGroup/2/TransformParameters'][()], d.ravel()):
            raise SystemExit('medvol\'s rewrite holds other parameters')
    a, b = sitk.ReadTransform(path), sitk.ReadTransform(out)
    for p in np.random.default_rng(1).uniform(-90, 90, (200, 3)):
        if a.TransformPoint([float(v) for v in p]) != b.TransformPoint([float(v) for v in p]):
            raise SystemExit('SimpleITK maps %s differently through medvol\'s rewrite' % p)
    print('checked: medvol\'s rewrite == the parameters (h5py), SimpleITK maps 200 points alike')
    timed = medvol_so.timed
    rows = [('medvol read + write .h5 (level 0)', timed(lambda: mv_rewrite(out, 0), rounds)),
            ('SimpleITK ReadTransform + WriteTransform', timed(sitk_rewrite, max(1, rounds // 2))),
            ('medvol read + write .h5 (level 5)', timed(lambda: mv_rewrite(out5, 5), max(1, rounds // 2)))]
    base = rows[0][1][0]
    print('%-42s %9s %9s %8s' % ('rewrite', 'best s', 'median s', 'x medvol'))
    for name, (best, med) in rows:
        print('%-42s %9.3f %9.3f %8.2f' % (name, best, med, best / base))
    for f in (out, out5, ref):
        os.remove(f)


if __name__ == '__main__':
    main()
