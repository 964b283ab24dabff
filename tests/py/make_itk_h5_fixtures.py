#!/usr/bin/env python3
"""Write the compressed ITK .h5 transforms kept as fuzz seeds (and read by
tests/test_register.c, register.itk_h5_compressed) with ITK's own
HDF5TransformIO, as ANTs writes them: TransformFileWriter with
UseCompression on (deflate level 5, chunks of 1 Mi values; superblock 2,
but the chunks indexed by a version 1 B-tree, layout message 3: HDF5's
1.8 format bounds, what h5py calls libver 'v108').

Not run by `make test` (ITK's Python wheels are 1.4 GB); run by hand with a
Python that has them, e.g.

    python3 -m pip install --target /tmp/itkpy itk-core itk-io itk-numerics itk-filtering
    PYTHONPATH=/tmp/itkpy python3 tests/py/make_itk_h5_fixtures.py tests/fuzz/corpus/h5

The files were written with ITK 5.4.7 (itk-io 5.4.7 from PyPI).

itk_affine_deflate: AffineTransform_double_3_3, parameters
    1 .1 0 0 1 0 0 0 1 1 2 3, centre 4 5 6 (the transform of the
    uncompressed seeds sitk_affine3d and h5py_earliest).
itk_composite_field_deflate: CompositeTransform_double_3 of that affine
    (centre 0) and a DisplacementFieldTransform_double_3_3 on an 80 x 72 x 64
    grid (spacing 1.5 2 2.5, origin -10 20 5, identity direction; LPS), its
    1,105,920 values in two chunks. The vector at voxel (i, j, k) is
    (0.5 + 0.125 i [i == j == k], -0.25, 1 - 0.0625 (k mod 2)): dyadic
    values, exact in float32, and a diagonal that crosses the chunk boundary
    (value 1,048,576 is voxel 349,525, in plane k = 60).
"""
import os
import sys

import itk
import numpy as np


def write(tf, path):
    w = itk.TransformFileWriterTemplate[itk.D].New()
    w.SetFileName(path + '.h5')  # (ITK picks its writer by the suffix)
    w.SetInput(tf)
    w.SetUseCompression(True)
    w.Update()
    os.replace(path + '.h5', path)


def affine(centre):
    a = itk.AffineTransform[itk.D, 3].New()
    a.SetFixedParameters(itk.OptimizerParameters[itk.D](centre))
    a.SetParameters(itk.OptimizerParameters[itk.D]([1, 0.1, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3]))
    return a


def main(out):
    write(affine([4.0, 5.0, 6.0]), os.path.join(out, 'itk_affine_deflate'))
    X, Y, Z = 80, 72, 64
    k, j, i = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
    diag = ((i == j) & (j == k)) * 1.0
    d = np.stack([0.5 + 0.125 * i * diag, -0.25 + 0 * i, 1 - 0.0625 * (k % 2)], axis=-1)
    img = itk.image_from_array(d.astype(np.float64), is_vector=True)
    img.SetSpacing([1.5, 2.0, 2.5])
    img.SetOrigin([-10.0, 20.0, 5.0])
    field = itk.DisplacementFieldTransform[itk.D, 3].New()
    field.SetDisplacementField(img)
    comp = itk.CompositeTransform[itk.D, 3].New()
    comp.AddTransform(affine([0.0, 0.0, 0.0]))
    comp.AddTransform(field)
    write(comp, os.path.join(out, 'itk_composite_field_deflate'))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '.')
