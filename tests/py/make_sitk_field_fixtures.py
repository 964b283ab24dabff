#!/usr/bin/python3
"""Write the ITK displacement field transform files SimpleITK makes for
tests/test_register.c (register.itk_field_files) and the fuzz corpora, and
print the points SimpleITK maps through them as the C table the test holds
(RAS mm in, RAS mm out: SimpleITK's LPS with x and y negated):

tests/fuzz/corpus/h5/sitk_field_inverse_composite    ITK's HDF5 form of
    CompositeTransform_double_3_3 [DisplacementFieldTransform, AffineTransform]
    (ANTs' InverseComposite.h5 layout: the affine first, the field on its
    result), the field on a 4x3x3 grid turned a quarter about z (a
    direction that is not its transpose), spacings 2.5, 1.75, 3 mm.
tests/fuzz/corpus/text/sitk_field2d_composite    a .tfm of the 2D
    CompositeTransform_double_2_2 [Euler2DTransform, DisplacementFieldTransform]
    (the field first), its field on a 3x4 grid.

    /usr/bin/python3 tests/py/make_sitk_field_fixtures.py tests/fuzz/corpus

(SimpleITK 2.5.7 from PyPI, installed for /usr/bin/python3 by .ci/run.) The
points: inside each field's buffer, in its outer half voxel (where ITK holds
the edge's vector), on the bounds of the buffer and outside it.
"""
import os
import sys

import numpy as np
import SimpleITK as sitk


def ras(p):
    q = np.zeros(3)
    q[:len(p)] = p
    return q * [-1, -1, 1]


def field_image(rng, size, org, sp, D):
    nd = len(size)
    arr = rng.normal(0, 2.0, tuple(reversed(size)) + (nd,))
    img = sitk.GetImageFromArray(arr, isVector=True)
    img.SetOrigin(org)
    img.SetSpacing(sp)
    img.SetDirection([float(x) for x in np.ravel(D)])
    return img


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261129)
    D = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    size, org, sp = [4, 3, 3], [12.0, -6.5, 3.0], [2.5, 1.75, 3.0]
    aff = sitk.AffineTransform(3)
    aff.SetMatrix([1.01, 0.04, -0.02, -0.03, 0.97, 0.01, 0.02, -0.01, 1.02])
    aff.SetTranslation([0.5, -0.25, 1.0])
    aff.SetCenter([10.0, -2.0, 6.0])
    comp = sitk.CompositeTransform([sitk.DisplacementFieldTransform(field_image(rng, size, org, sp, D)), aff])
    sitk.WriteTransform(comp, '/tmp/sitk_field_inverse_composite.h5')
    os.replace('/tmp/sitk_field_inverse_composite.h5', os.path.join(out, 'h5', 'sitk_field_inverse_composite'))
    size2, org2, sp2 = [3, 4], [-2.0, 1.0], [1.5, 0.5]
    eul = sitk.Euler2DTransform([0.5, 1.5], 0.3, [0.75, -0.5])
    comp2 = sitk.CompositeTransform([eul, sitk.DisplacementFieldTransform(field_image(rng, size2, org2, sp2, np.eye(2)))])
    sitk.WriteTransform(comp2, '/tmp/sitk_field2d_composite.tfm')
    os.replace('/tmp/sitk_field2d_composite.tfm', os.path.join(out, 'text', 'sitk_field2d_composite'))
    print('/* from tests/py/make_sitk_field_fixtures.py (SimpleITK %s) */' % sitk.Version_VersionString())
    rows = []
    # 3D: the points whose image under the affine falls where wanted in the
    # field's grid (index -> LPS: org + D diag(sp) index)
    inv = aff.GetInverse()
    for idx in ([1.5, 1.0, 1.0], [0.0, 0.0, 0.0], [3.0, 2.0, 2.0], [2.25, 0.5, 1.75], [-0.25, 1.0, 1.0],
                [3.25, 2.4, 2.3], [1.0, 1.0, -0.6], [4.0, 1.0, 1.0], [-3.0, 8.0, 1.0]):
        x = np.array(org) + D @ (np.array(sp) * idx)
        p = np.array(inv.TransformPoint(list(x)))
        rows.append((1, ras(p), ras(comp.TransformPoint(list(p)))))
    # 2D: the field first, so its own grid (the lower bound -0.5 is exact: inside)
    for ij in ([0, 0], [2, 3], [1.5, 2.25], [-0.5, 1], [2.25, 3.4], [-0.75, 1], [2.5, 1], [1, 3.5], [7, -3]):
        p = np.array(org2) + np.array(sp2) * ij
        rows.append((0, ras(p), ras(comp2.TransformPoint(list(p)))))
    print('static const struct {\n    int h5;\n    double p[3], q[3];\n} sitk_field_points[%d] = {' % len(rows))
    for kind, p, q in rows:
        print('    {%d, {%.17g, %.17g, %.17g}, {%.17g, %.17g, %.17g}},' % ((kind,) + tuple(p) + tuple(q)))
    print('};')


if __name__ == '__main__':
    main()
