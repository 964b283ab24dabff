#!/usr/bin/python3
"""Write the ITK composites of many members SimpleITK makes for
tests/test_register.c (register.itk_h5_dense_links) and the fuzz corpus,
and print the points SimpleITK maps through them as the C table the test
holds (RAS mm in, RAS mm out: SimpleITK's LPS with x and y negated).

ITK 5 writes HDF5's newer format, where a group of more than 8 links keeps
them in dense storage (a fractal heap of link messages indexed by a
version 2 B-tree of the names' hashes); a composite of N members is N + 1
groups under /TransformGroup:

tests/fuzz/corpus/h5/sitk_dense12    CompositeTransform_double_3_3 of 12
    members, Euler3DTransforms about different centres and translations in
    turn (they do not commute: a member read in the wrong place moves the
    points), the heap's root a direct block, the B-tree one leaf.
tests/fuzz/corpus/h5/sitk_dense52    the same with 52 members: the heap's
    root an indirect block over two direct blocks, the B-tree two levels.

    /usr/bin/python3 tests/py/make_sitk_dense_fixtures.py tests/fuzz/corpus

(SimpleITK 2.5.7 from PyPI, installed for /usr/bin/python3 by .ci/run.)
"""
import os
import sys

import numpy as np
import SimpleITK as sitk


def ras(p):
    return np.asarray(p, np.float64) * [-1, -1, 1]


def members(rng, n):
    out = []
    for i in range(n):
        if i % 2:
            out.append(sitk.TranslationTransform(3, [float(v) for v in rng.uniform(-3, 3, 3)]))
        else:
            e = sitk.Euler3DTransform()
            e.SetCenter([float(v) for v in rng.uniform(-20, 20, 3)])
            e.SetRotation(*[float(v) for v in rng.uniform(-0.3, 0.3, 3)])
            out.append(e)
    return out


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261129)
    print('/* from tests/py/make_sitk_dense_fixtures.py (SimpleITK %s) */' % sitk.Version_VersionString())
    rows = []
    for n in (12, 52):
        comp = sitk.CompositeTransform(members(rng, n))
        tmp = '/tmp/sitk_dense%d.h5' % n
        sitk.WriteTransform(comp, tmp)
        os.replace(tmp, os.path.join(out, 'h5', 'sitk_dense%d' % n))
        for _ in range(4):
            p = rng.uniform(-30, 30, 3)
            rows.append((n, ras(p), ras(comp.TransformPoint([float(v) for v in p]))))
    print('static const struct {\n    int members;\n    double p[3], q[3];\n} sitk_dense_points[%d] = {' % len(rows))
    for n, p, q in rows:
        print('    {%d, {%s}, {%s}},' % (n, ', '.join('%.17g' % v for v in p), ', '.join('%.17g' % v for v in q)))
    print('};')


if __name__ == '__main__':
    main()
