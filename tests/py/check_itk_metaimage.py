#!/usr/bin/python3
"""ITK's own MetaImage and NRRD files (Debian's insighttoolkit5-examples:
the .mha, .mhd and .nhdr images of its Data folder, written by ITK and its
tools over the years) read by medvol and by SimpleITK (Debian's
/usr/bin/python3 with numpy and SimpleITK).

  /usr/bin/python3 tests/py/check_itk_metaimage.py BUILD/diff_sitk DIR

For each file: if SimpleITK reads it, mv_load must too, with the same
voxels (bit for bit; vectors as ITK's NIfTI layout, components on axis 4)
and the affine S4 [D diag(spacing) | origin] of SimpleITK's geometry
(1e-15 relative); if SimpleITK refuses it (some of the package's .mhd
files name a .zraw the package lacks), mv_load must return an error
status, not a volume. Exit 0 when all agree and at least one file was
read by both."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_sitk import mha_expected_affine, mha_mv_layout  # noqa: E402 (the metaimage family's own rules)


def main():
    exe, root = sys.argv[1], sys.argv[2]
    files = sorted(f for ext in ('*.mh[ad]', '*.nhdr', '*.nrrd')
                   for f in glob.glob(os.path.join(root, '**', ext), recursive=True))
    tmp = tempfile.mkdtemp(prefix='itk_mha.')
    both = refused = bad = 0
    for path in files:
        name = os.path.basename(path)
        try:
            ref = sitk.ReadImage(path)
        except RuntimeError:
            ref = None
        r = subprocess.run([exe, 'mha-load', path, os.path.join(tmp, 'v.raw'), os.path.join(tmp, 'v.mat')],
                           capture_output=True, text=True)
        if ref is None:
            if r.returncode == 0:
                print('FAIL %s: SimpleITK refuses it, medvol loaded it' % name)
                bad += 1
            else:
                refused += 1
                print('both refuse %s: medvol says %s' % (name, r.stderr.strip().split(': ', 2)[-1][:150]))
            continue
        if r.returncode != 0:
            print('FAIL %s: SimpleITK reads it, medvol says %s' % (name, r.stderr.strip()))
            bad += 1
            continue
        out = r.stdout.split()
        dt = np.dtype(sitk.GetArrayViewFromImage(ref).dtype)
        got = np.fromfile(os.path.join(tmp, 'v.raw'), dt)
        A = np.loadtxt(os.path.join(tmp, 'v.mat')).reshape(4, 4)
        E = mha_expected_affine(ref)
        err = float(np.max(np.abs(A - E) / np.maximum(1.0, np.abs(E))))
        if np.dtype(out[0]) != dt or not np.array_equal(got.view(np.uint8), mha_mv_layout(ref).view(np.uint8)) \
                or err > 1e-15:
            print('FAIL %s: medvol %s, %s voxels; affine off by %.3g\n%s\nexpected\n%s' % (
                name, out[0], 'same' if np.array_equal(got.view(np.uint8), mha_mv_layout(ref).view(np.uint8)) else
                'different', err, A, E))
            bad += 1
            continue
        both += 1
        print('same %s: %s %s, %d channel(s)' % (name, out[0], 'x'.join(out[2:2 + int(out[1])]),
                                                  ref.GetNumberOfComponentsPerPixel()))
    shutil.rmtree(tmp, ignore_errors=True)
    print('check_itk_metaimage: %d files read alike, %d refused by both, %d failures' % (both, refused, bad))
    return 1 if bad or not both else 0


if __name__ == '__main__':
    sys.exit(main())
