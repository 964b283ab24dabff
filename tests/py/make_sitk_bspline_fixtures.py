#!/usr/bin/python3
"""Write the ITK B-spline transform files SimpleITK makes for
tests/test_register.c (register.itk_bspline_files) and the fuzz corpora,
and print the points SimpleITK maps through them as the C table the test
holds (RAS mm in, RAS mm out: SimpleITK's LPS with x and y negated):

tests/fuzz/corpus/h5/sitk_bspline_composite    ITK's HDF5 form of
    CompositeTransform_double_3_3 [AffineTransform, BSplineTransform of
    order 3 on a 4x4x4 grid turned a quarter about z (a direction that is
    not its transpose), spacings 7/3, 2.5 and 3 mm].
tests/fuzz/corpus/text/sitk_bspline_composite  the same as a .tfm (a seed).
tests/fuzz/corpus/text/sitk_bspline2d_order2   the .tfm of a 2D
    BSplineTransform of order 2 (BSplineTransform_double_2_2_2) on a
    5x4 grid laid over a 9x7 image by BSplineTransformInitializer.

    /usr/bin/python3 tests/py/make_sitk_bspline_fixtures.py tests/fuzz/corpus

(SimpleITK 2.5.7 from PyPI, installed for /usr/bin/python3 by .ci/run.) The points: inside, outside and on the bounds
of each B-spline's valid region (the first and last voxel of the 2D
image, which ITK takes in).
"""
import os
import sys

import numpy as np
import SimpleITK as sitk


def ras(p):
    q = np.zeros(3)
    q[:len(p)] = p
    return q * [-1, -1, 1]


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261128)
    # 3D: [Affine, BSpline]: ITK applies the B-spline first
    bs = sitk.BSplineTransform(3, 3)
    size, org, sp = [4, 4, 4], [20.0, -8.0, 3.5], [7.0 / 3.0, 2.5, 3.0]
    D = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # not symmetric: rows are not columns
    bs.SetFixedParameters([float(x) for x in size + org + sp] + list(D.ravel()))
    bs.SetParameters(list(rng.normal(0, 1.5, len(bs.GetParameters()))))
    aff = sitk.AffineTransform(3)
    aff.SetMatrix([0.98, 0.05, -0.02, -0.04, 1.03, 0.01, 0.02, -0.01, 0.99])
    aff.SetTranslation([2.0, -1.5, 0.5])
    aff.SetCenter([1.0, 2.0, 3.0])
    comp = sitk.CompositeTransform([aff, bs])
    sitk.WriteTransform(comp, '/tmp/sitk_bspline_composite.h5')
    os.replace('/tmp/sitk_bspline_composite.h5', os.path.join(out, 'h5', 'sitk_bspline_composite'))
    sitk.WriteTransform(comp, '/tmp/sitk_bspline_composite.tfm')
    os.replace('/tmp/sitk_bspline_composite.tfm', os.path.join(out, 'text', 'sitk_bspline_composite'))
    # 2D, order 2, over an image grid
    img = sitk.Image([9, 7], sitk.sitkFloat32)
    img.SetOrigin([-3.0, 4.0])
    img.SetSpacing([1.25, 0.75])
    bs2 = sitk.BSplineTransformInitializer(img, [3, 2], 2)
    bs2.SetParameters(list(rng.normal(0, 1.0, len(bs2.GetParameters()))))
    sitk.WriteTransform(bs2, '/tmp/sitk_bspline2d_order2.tfm')
    os.replace('/tmp/sitk_bspline2d_order2.tfm', os.path.join(out, 'text', 'sitk_bspline2d_order2'))
    print('/* from tests/py/make_sitk_bspline_fixtures.py (SimpleITK %s) */' % sitk.Version_VersionString())
    rows = []
    c = np.array(org)  # 3D: grid index (i, j, k) -> org + D diag(sp) (i, j, k)
    for idx in ([1.5, 1.5, 1.5], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [1.0 - 1e-6, 1.5, 1.5], [2.0 + 1e-6, 1.5, 1.5],
                [1.7, 1.2, 1.9], [0.2, 1.5, 1.5], [1.5, 2.5, 1.5], [-4.0, 0.0, 9.0]):
        p = c + D @ (np.array(sp) * idx)
        rows.append(('h5', ras(p), ras(comp.TransformPoint(list(p)))))
    for ij in ([0, 0], [8, 6], [4, 3], [8, 0], [0, 6], [4.5, 2.25], [-1, 3], [9, 3]):
        p = np.array(img.TransformContinuousIndexToPhysicalPoint([float(x) for x in ij]))
        rows.append(('tfm', ras(p), ras(bs2.TransformPoint(list(p)))))
    print('static const struct {\n    int h5;\n    double p[3], q[3];\n} sitk_bspline_points[%d] = {' % len(rows))
    for kind, p, q in rows:
        print('    {%d, {%.17g, %.17g, %.17g}, {%.17g, %.17g, %.17g}},' % ((kind == 'h5',) + tuple(p) + tuple(q)))
    print('};')


if __name__ == '__main__':
    main()
