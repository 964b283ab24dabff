"""Walsh's Gram matrices and ESPIRiT's second part (bart walsh, ecaltwo) in
numpy (float64), against a file of mvtool's or bart's. Uses /usr/bin/python3
(Debian's numpy).

  ecal_ref.py walsh KSPACE CAL BLOCK COV
      KSPACE fully sampled (extract_calib's box is then min(CAL, n) samples
      per axis at n/2 - c/2, slid along the readout to its largest energy);
      the box zero-filled at n/2 - c/2 and inverse-transformed (centred, unnormalised; a phase per axis
      common to the coils cancels in conj(x_i) x_j); per voxel q the Gram
      matrix over BART's block (walsh.c's md_circ_ext over n + b - 1, then
      md_circ_shift by b/2: position q + s - b/2 taken modulo n + b - 1,
      then modulo n), packed as BART (l over i, j <= i: sum conj(x_i) x_j).
      COV within 1e-5 of it (relative l2, and the largest error over the
      largest entry).
  ecal_ref.py maps COV X:Y:Z MAPS EIG
      COV zero-filled in Fourier space to X x Y x Z (centred spectrum at
      n/2 - h/2, unnormalised both ways: h times the interpolant), per voxel
      the Hermitian R with R[i][j] = conj(packed (i, j)), numpy's eigh: the
      leading eigenvalue of EIG within 1e-4 of the largest, and map 0
      within 1e-4 of eigh's leading eigenvector up to its phase where
      the two leading eigenvalues are apart (l2 < 0.7 l1, l1 above 1e-3 of
      the largest; the crop off: mvtool ecaltwo -c 0), its first coil real
      and non-negative (BART's fixphase).
CAL, BLOCK, X:Y:Z: S or X:Y:Z. Exit 1 beyond the tolerances."""
import numpy as np, sys
from numpy.fft import fft, ifft, ifftn, fftshift, ifftshift


def rcfl(name):
    d = [int(x) for x in open(name + '.hdr').read().split('\n')[1].split()]
    return np.fromfile(name + '.cfl', np.complex64).reshape(d, order='F')


def vec3(s):
    v = [int(x) for x in s.split(':')]
    return v * 3 if len(v) == 1 else v


def unpack(cov, C):
    """R (..., C, C) from BART's packed (..., E): R[i][j] = conj(p_l), j <= i"""
    R = np.zeros(cov.shape[:-1] + (C, C), complex)
    l = 0
    for i in range(C):
        for j in range(i + 1):
            R[..., i, j] = np.conj(cov[..., l])
            R[..., j, i] = cov[..., l]
            l += 1
    return R


def walsh(argv):
    k = rcfl(argv[0]).astype(np.complex128)
    cal, blk = vec3(argv[1]), vec3(argv[2])
    d = k.shape[:3]
    C = k.shape[3]
    k = k.reshape(d + (C,))
    c = [min(cal[a], d[a]) if d[a] > 1 else 1 for a in range(3)]
    b = [min(blk[a], d[a]) for a in range(3)]
    sl = [slice(n // 2 - m // 2, n // 2 - m // 2 + m) for n, m in zip(d, c)]
    # extract_calib: the box slid along the readout to its largest energy
    en = [np.sum(np.abs(k[(slice(r, r + c[0]),) + tuple(sl[1:])]) ** 2) for r in range(d[0] - c[0] + 1)]
    r0 = int(np.argmax(en))
    src = (slice(r0, r0 + c[0]),) + tuple(sl[1:])
    assert np.all(k[src] != 0), 'the calibration box is not fully sampled'
    box = np.zeros_like(k)
    box[tuple(sl)] = k[src]
    img = fftshift(ifftn(ifftshift(box, axes=(0, 1, 2)), axes=(0, 1, 2)), axes=(0, 1, 2)) * np.prod(d)
    pairs = [(i, j) for i in range(C) for j in range(i + 1)]
    P = np.stack([np.conj(img[..., i]) * img[..., j] for i, j in pairs], axis=-1)
    for a in range(3):  # the block sums, one axis at a time (any order: sums)
        n, bb = d[a], b[a]
        q = np.arange(n)[:, None] + np.arange(bb)[None, :] - bb // 2
        idx = (q % (n + bb - 1)) % n
        P = np.take(P, idx, axis=a).sum(axis=a + 1)
    got = rcfl(argv[3]).reshape(d + (len(pairs),))
    rel = np.linalg.norm(got - P) / np.linalg.norm(P)
    mx = np.abs(got - P).max() / np.abs(P).max()
    if rel > 1e-5 or mx > 1e-5:
        print('walsh: relative l2 %.3g, largest error %.3g of the largest entry' % (rel, mx))
        return 1
    return 0


def zeropad(x, n, axis):
    h = x.shape[axis]
    if h == n:
        return x
    X = fftshift(fft(ifftshift(x, axes=axis), axis=axis), axes=axis)
    shp = list(x.shape)
    shp[axis] = n
    Y = np.zeros(shp, complex)
    sl = [slice(None)] * x.ndim
    sl[axis] = slice(n // 2 - h // 2, n // 2 - h // 2 + h)
    Y[tuple(sl)] = X
    return fftshift(ifft(ifftshift(Y, axes=axis), axis=axis), axes=axis) * n


def maps(argv):
    cov = rcfl(argv[0]).astype(np.complex128)
    size = vec3(argv[1])
    E = cov.shape[3]
    C = int(round((np.sqrt(8 * E + 1) - 1) / 2))
    cov = cov.reshape(cov.shape[:3] + (E,))
    for a in range(3):
        cov = zeropad(cov, size[a], a)
    w, v = np.linalg.eigh(unpack(cov, C))
    order = np.argsort(-np.abs(w), axis=-1)
    w = np.take_along_axis(w, order, axis=-1)
    lead = np.take_along_axis(v, order[..., None, :], axis=-1)[..., :, 0]
    m = rcfl(argv[2]).reshape(tuple(size) + (C, -1))
    e = rcfl(argv[3]).real.reshape(tuple(size) + (-1,))
    top = np.abs(w[..., 0]).max()
    sep = (np.abs(w[..., 1]) < 0.7 * np.abs(w[..., 0])) & (np.abs(w[..., 0]) > 1e-3 * top)
    ee = np.abs(np.abs(e[..., 0]) - np.abs(w[..., 0]))[sep].max() / top
    agree = np.abs((m[..., 0] * lead.conj()).sum(axis=-1))
    me = np.abs(1 - agree[sep]).max()
    ph = np.abs(m[..., 0, 0].imag).max() + max(0.0, -m[..., 0, 0].real.min())
    if ee > 1e-4 or me > 1e-4 or ph > 1e-5 or sep.sum() < sep.size // 8:
        print('ecaltwo: eigenvalues %.3g of the largest, maps 1 - |<numpy, file>| up to %.3g on %d voxels, '
              'first coil off the real axis by %.3g' % (ee, me, sep.sum(), ph))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(walsh(sys.argv[2:]) if sys.argv[1] == 'walsh' else maps(sys.argv[2:]))
