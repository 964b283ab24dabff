"""bart caldir's maps in numpy (float64): the centred box of CAL samples
per axis, BART's Kaiser window (beta 4, 0 at the first sample), the
centred unnormalised inverse FFT, each coil over the RSS; MAPS... (mvtool's
or bart's) compared up to a phase per voxel (BART's fftmod centring) on the
voxels holding signal. Valid where extract_calib's box is the centred one
(even sizes: tests/test_tools.sh uses 64^2 with CAL 40). Exit 1 beyond
1e-4. Usage: /usr/bin/python3 caldir_ref.py KSPACE CAL MAPS..."""
import numpy as np, sys
from numpy.fft import ifftn, ifftshift, fftshift
def rcfl(name):
    d = [int(x) for x in open(name + '.hdr').read().split('\n')[1].split()]
    return np.fromfile(name + '.cfl', np.complex64).reshape(d, order='F')
def kaiser(m, n, beta=4.0):
    if m == 1: return 1.0
    if abs(n / m - 0.5) >= 0.5: return 0.0
    return np.i0(beta * np.sqrt(1 - (2 * n / m - 1) ** 2)) / np.i0(beta)
k = rcfl(sys.argv[1]).astype(np.complex128)
cal = int(sys.argv[2])
d = k.shape[:3]; C = k.shape[3]
c = [min(cal, n) if n > 1 else 1 for n in d]
box = np.zeros(d + (C,), complex)
w = np.ones(c)
for ax in range(3):
    sh = [1, 1, 1]; sh[ax] = c[ax]
    w = w * np.array([kaiser(c[ax], i) for i in range(c[ax])]).reshape(sh)
sl = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for n, m in zip(d, c))
box[sl] = k[sl + (slice(None),)].reshape(c + [C]) * w[..., None]
# centred inverse FFT (DC at n/2 in and out), unnormalised; a global phase per axis does not matter after
# the division by the RSS only if it is the same for every coil: it is
img = fftshift(ifftn(ifftshift(box, axes=(0, 1, 2)), axes=(0, 1, 2)), axes=(0, 1, 2)) * np.prod(d)
rss = np.sqrt((np.abs(img) ** 2).sum(axis=3))
ref = img / np.where(rss == 0, 1, rss)[..., None]
mask = rss > 1e-2 * rss.max()
worst = 0
for f in sys.argv[3:]:
    m = rcfl(f).reshape(d + (C,))
    # BART's centring differs from numpy's by a phase common to the coils at each voxel (odd sizes: a shift); compare
    # the maps up to one phase per voxel: |sum m conj(ref)| = 1 where they agree
    agree = np.abs((m * ref.conj()).sum(axis=3))
    e = np.abs(1 - agree[mask]).max()
    print(f, 'max 1 - |<m, ref>| on %d voxels: %.3g' % (mask.sum(), e))
    worst = max(worst, e)
sys.exit(0 if worst < 1e-4 else 1)
