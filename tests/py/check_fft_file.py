#!/usr/bin/python3
"""mvtool's FFT subcommands against numpy.fft, for tests/test_tools.sh.

  check_fft_file.py make DIR            writes the inputs: r3.nii (float32
                                        9x8x7), s4.nii (int16 6x5x4x3 with
                                        scl_slope/inter), c3.nii (complex64
                                        10x7x5), c2.nii (complex64 12x9, 2D)
  check_fft_file.py MODE IN OUT         MODE fft / ifft / fftc / ifftc: OUT
                                        must be numpy's transform of IN's
                                        scaled values over the (up to) three
                                        spatial axes, complex64, same affine

numpy indexes a nibabel array [x, y, z, t], so the spatial axes are 0..2.
Exit status 0 when relative RMS <= 1e-5 and the affine is kept.
"""
import sys

import numpy as np
import nibabel as nib


def make(d):
    rng = np.random.default_rng(66)
    aff = np.diag([1.5, 2.0, 2.5, 1.0])
    aff[:3, 3] = [-7, 3, 11]
    nib.save(nib.Nifti1Image(rng.normal(size=(9, 8, 7)).astype(np.float32), aff), d + '/r3.nii')
    img = nib.Nifti1Image(rng.integers(-300, 300, size=(6, 5, 4, 3)).astype(np.int16), aff)
    img.header.set_slope_inter(0.5, 3.0)
    nib.save(img, d + '/s4.nii')
    c = (rng.normal(size=(10, 7, 5)) + 1j * rng.normal(size=(10, 7, 5))).astype(np.complex64)
    nib.save(nib.Nifti1Image(c, aff), d + '/c3.nii')
    c2 = (rng.normal(size=(12, 9)) + 1j * rng.normal(size=(12, 9))).astype(np.complex64)
    nib.save(nib.Nifti1Image(c2, aff), d + '/c2.nii')


def expected(mode, x):
    axes = tuple(range(min(x.ndim, 3)))
    x = x.astype(np.complex128)
    if mode == 'fft':
        return np.fft.fftn(x, axes=axes)
    if mode == 'ifft':
        return np.fft.ifftn(x, axes=axes)
    fn = np.fft.fftn if mode == 'fftc' else np.fft.ifftn
    return np.fft.fftshift(fn(np.fft.ifftshift(x, axes=axes), axes=axes, norm='ortho'), axes=axes)


def check(mode, src, dst):
    a, b = nib.load(src), nib.load(dst)
    x = np.asanyarray(a.dataobj)
    if not np.iscomplexobj(x):
        x = a.get_fdata()
    want = expected(mode, x)
    got = np.asanyarray(b.dataobj)
    if got.dtype != np.complex64 or got.shape != want.shape:
        print('dtype/shape %s %s, want complex64 %s' % (got.dtype, got.shape, want.shape))
        return 1
    err = np.sqrt(np.sum(np.abs(got - want) ** 2) / np.sum(np.abs(want) ** 2))
    if not err <= 1e-5 or not np.allclose(a.affine, b.affine):
        print('%s %s: relative RMS %.3g, affine kept: %s' % (mode, src, err, np.allclose(a.affine, b.affine)))
        return 1
    return 0


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        make(sys.argv[2])
        sys.exit(0)
    sys.exit(check(*sys.argv[1:4]))
