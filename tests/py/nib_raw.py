#!/usr/bin/python3
"""The voxels nibabel reads from each NIfTI file, as raw bytes for the C
tests to compare with: for every IN, writes IN.nib.raw holding
np.asarray(img.dataobj) (stored dtype, unscaled, little-endian, Fortran
order = NIfTI's order, i fastest).
Usage: /usr/bin/python3 tests/py/nib_raw.py IN...   Prints "ok" at the end.
"""
import sys

import numpy as np
import nibabel as nib

for path in sys.argv[1:]:
    img = nib.load(path)
    raw = np.asarray(img.dataobj.get_unscaled())
    raw.astype(raw.dtype.newbyteorder('<')).ravel(order='F').tofile(path + '.nib.raw')
print('ok')
