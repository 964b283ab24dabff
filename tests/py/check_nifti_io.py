#!/usr/bin/python3
"""nibabel as the reference for the NIfTI I/O defect tests (test_nifti.c).
Usage: /usr/bin/python3 tests/py/check_nifti_io.py COMMAND PATH
  refuses PATH        prints "refused <reason>" if nibabel will not load PATH, else "loaded"
  make_n2 PATH        writes a NIfTI-2 image whose float64 fields do not fit float32
                      (scl_slope 2.4e-319, srow_x[3] -2e108) and prints "made"
  exts PATH           prints "extensions N code1 code2 ..." of nibabel's header
  header PATH         prints "format N", "slope S", "inter I" (img.dataobj's: the
                      header's are nan once loaded) and "affine A00 ... A23" (repr
                      of each float64) of nibabel's view of PATH
"""
import sys

import numpy as np
import nibabel as nib


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == 'refuses':
        try:
            img = nib.load(path)
            np.asarray(img.dataobj)
        except Exception as e:  # nibabel raises HeaderDataError for a damaged header
            print('refused %s' % type(e).__name__)
            return
        print('loaded')
    elif cmd == 'make_n2':
        data = np.arange(24, dtype=np.int16).reshape(4, 3, 2, order='F')
        aff = np.diag([2.0, 3.0, 4.0, 1.0])
        aff[0, 3] = -2e108
        img = nib.Nifti2Image(data, aff)
        img.header.set_sform(aff, code=2)
        img.header.set_qform(None, code=0)
        img.to_filename(path)
        # nibabel's writer sets the scaling it computes (none for int16):
        # put the float64 slope in the header bytes (offset 176), inter 0 (184)
        with open(path, 'r+b') as f:
            f.seek(176)
            f.write(np.array([2.4e-319, 0.0], dtype='<f8').tobytes())
        back = nib.load(path)  # the image keeps the scaling in dataobj, its header says nan
        assert back.dataobj.slope == 2.4e-319 and back.header['srow_x'][3] == -2e108
        assert isinstance(back.header, nib.Nifti2Header)
        print('made')
    elif cmd == 'exts':
        exts = nib.load(path).header.extensions
        print('extensions %d %s' % (len(exts), ' '.join(str(e.get_code()) for e in exts)))
    elif cmd == 'header':
        img = nib.load(path)
        h = img.header
        print('format %d' % (2 if isinstance(h, nib.Nifti2Header) else 1))
        print('slope %r' % float(img.dataobj.slope))
        print('inter %r' % float(img.dataobj.inter))
        print('affine ' + ' '.join(repr(float(x)) for x in img.affine[:3].ravel()))
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
