#!/usr/bin/python3
"""ITK deformable transforms' displacement fields on the 193 x 229 x 193 MNI
1 mm grid with medvol beside SimpleITK: make bench-itk-bspline. Two files:
a composite [Affine, BSplineTransform] of order 3 over a 10^3 mesh (what a
SimpleITK B-spline registration saves) and ANTs' InverseComposite.h5 layout
[DisplacementFieldTransform, Affine] (the affine first, the 1 mm field
interpolated at the points it gives: what applying a SyN result backwards
does).

  /usr/bin/python3 bench/itk_bspline_bench.py [ROUNDS]

Debian's /usr/bin/python3 with numpy, nibabel and SimpleITK (pip); medvol
through ctypes on build/libmedvol_bench.so (bench/medvol_so.py). SimpleITK
writes the .h5. Checked first: medvol's field (mv_field_save, read by
nibabel) is SimpleITK's TransformToDisplacementField to float32 rounding.
Then each side runs ROUNDS times (best and median wall time, 2 threads
each): medvol reads the file (mv_itk_transform_read) and makes the field
(mv_elastix_field, float32), SimpleITK reads it (ReadTransform) and makes
its field (TransformToDisplacementField, float64 vectors: ITK's only kind
for it), and numpy copies the field's float32 bytes into fresh memory (the
memcpy line).
"""
import ctypes
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import medvol_so  # noqa: E402

X, Y, Z = 193, 229, 193


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    import nibabel as nib
    import SimpleITK as sitk
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    medvol_so.build_so()
    lib = ctypes.CDLL(medvol_so.SO)
    lib.mv_itk_transform_read.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_elastix_field.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_elastix_free.argtypes = [ctypes.c_void_p]
    lib.mv_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_field_save.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.mv_free.argtypes = [ctypes.c_void_p]
    lib.mv_set_threads.argtypes = [ctypes.c_int]
    lib.mv_last_error.restype = ctypes.c_char_p
    lib.mv_set_threads(2)
    tmp = tempfile.mkdtemp(prefix='bspbench.')
    img = sitk.Image([X, Y, Z], sitk.sitkUInt8)
    img.SetOrigin([96.0, 132.0, -78.0])
    img.SetDirection([-1, 0, 0, 0, -1, 0, 0, 0, 1])  # RAS voxel axes, as MNI files have them
    ref = os.path.join(tmp, 'ref.nii')
    sitk.WriteImage(img, ref)
    bs = sitk.BSplineTransformInitializer(img, [10, 10, 10], 3)
    bs.SetParameters(list(np.random.default_rng(1).normal(0, 3.0, len(bs.GetParameters()))))
    aff = sitk.AffineTransform(3)
    aff.SetMatrix([1.02, 0.01, 0, -0.01, 0.98, 0.02, 0, -0.02, 1.01])
    aff.SetTranslation([1.5, -2.0, 0.5])
    refvol = ctypes.create_string_buffer(1 << 16)  # mv_vols (far smaller), opaque here
    if lib.mv_load(ref.encode(), refvol, None) != 0:
        raise SystemExit('mv_load: ' + lib.mv_last_error().decode())
    path = os.path.join(tmp, 'bspline.h5')
    sitk.WriteTransform(sitk.CompositeTransform([aff, bs]), path)
    print('%s: %s, %d B-spline parameters' % (path, 'CompositeTransform [Affine, BSplineTransform order 3]',
                                             len(bs.GetParameters())))
    bench_file(lib, sitk, nib, img, refvol, path, tmp, rounds)
    d = sitk.TransformToDisplacementField(bs, sitk.sitkVectorFloat64, img.GetSize(), img.GetOrigin(), img.GetSpacing(),
                                          img.GetDirection())
    path = os.path.join(tmp, 'inverse_composite.h5')
    sitk.WriteTransform(sitk.CompositeTransform([sitk.DisplacementFieldTransform(d), aff]), path)
    print('\n%s: %s' % (path, 'CompositeTransform [DisplacementFieldTransform on the 1 mm grid, Affine]'))
    bench_file(lib, sitk, nib, img, refvol, path, tmp, rounds)
    lib.mv_free(refvol)
    os.remove(ref)
    os.rmdir(tmp)


def bench_file(lib, sitk, nib, img, refvol, path, tmp, rounds):
    """the check and the timings of one transform file"""
    field = ctypes.create_string_buffer(1 << 16)

    def medvol_field():
        t = ctypes.c_void_p()
        if lib.mv_itk_transform_read(path.encode(), ctypes.byref(t), None) != 0:
            raise SystemExit('mv_itk_transform_read: ' + lib.mv_last_error().decode())
        st = lib.mv_elastix_field(t, refvol, field, None)
        lib.mv_elastix_free(t)
        if st != 0:
            raise SystemExit('mv_elastix_field: ' + lib.mv_last_error().decode())

    def sitk_field():
        tf = sitk.ReadTransform(path)
        return sitk.TransformToDisplacementField(tf, sitk.sitkVectorFloat64, img.GetSize(), img.GetOrigin(),
                                                 img.GetSpacing(), img.GetDirection())

    medvol_field()
    nii = os.path.join(tmp, 'field.nii')
    if lib.mv_field_save(nii.encode(), field, None) != 0:
        raise SystemExit('mv_field_save: ' + lib.mv_last_error().decode())
    lib.mv_free(field)
    got = np.asarray(nib.load(nii).dataobj)[:, :, :, 0, :].astype(np.float64)  # (X, Y, Z, 3)
    want = sitk.GetArrayFromImage(sitk_field()).transpose(2, 1, 0, 3)
    err = float(np.abs(got - want).max())
    if err > 1e-5 * max(1.0, float(np.abs(want).max())):
        raise SystemExit('medvol field differs from SimpleITK by %.3g mm' % err)
    print('checked: medvol field == SimpleITK TransformToDisplacementField within %.2g mm (float32), |d| up to %.1f mm'
          % (err, np.abs(want).max()))

    timed = medvol_so.timed

    def mv_once():
        medvol_field()
        lib.mv_free(field)

    f32 = got.astype(np.float32)
    rows = [('medvol read + mv_elastix_field', timed(mv_once, rounds)),
            ('SimpleITK read + TransformToDisplacementField', timed(sitk_field, max(1, rounds // 2))),
            ('numpy copy of the float32 field', timed(lambda: np.copy(f32), rounds))]
    base = rows[0][1][0]
    print('%-46s %9s %9s %8s' % ('', 'best s', 'median s', 'x medvol'))
    for name, (best, med) in rows:
        print('%-46s %9.3f %9.3f %8.2f' % (name, best, med, best / base))
    for f in (path, nii):
        os.remove(f)


if __name__ == '__main__':
    main()
