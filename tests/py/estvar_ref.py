"""bart estvar's noise variance in float64 (tests/test_tools.sh), for mv_estvar.

usage: /usr/bin/python3 estvar_ref.py CALMAT BX BY BZ C KX KY KZ
CALMAT: the calibration matrix bart calmat writes for the k-space (its box
BX x BY x BZ of C coils, kernel KX x KY x KZ); prints the variance.

The algorithm of BART's calib/estvar.c, written from it: the calibration
matrix's singular values S (numpy's SVD), the noise floor E the mean over 10
runs of the singular values of the calibration matrix of a box of complex
Gaussian noise of variance 1 drawn with BART's generator (glibc's rand_r
from seed 123 through ctypes; per sample a uniform draw against the spike 1,
then Marsaglia's polar pair times 1 / sqrt(2); 8 x the box's samples drawn
per run, the first box's worth used), and (mean of S / E over the last
quarter)^2 / 1.21. Uses numpy and ctypes (Debian's python3-numpy)."""
import ctypes
import sys

import numpy as np

libc = ctypes.CDLL("libc.so.6")
seed = ctypes.c_uint(123)
RAND_MAX = 2147483647


def uniform():
    return libc.rand_r(ctypes.byref(seed)) / RAND_MAX


def gaussian():
    while True:
        u1, u2 = 2. * uniform() - 1., 2. * uniform() - 1.
        s = u1 * u1 + u2 * u2
        if s <= 1.:
            f = np.sqrt(-2. * np.log(s) / s)
            return complex(f * u1, f * u2)


def calmat(box, k):
    X, Y, Z, _ = box.shape
    return np.array([box[x:x + k[0], y:y + k[1], z:z + k[2], :].reshape(-1, order='F')
                     for z in range(Z - k[2] + 1) for y in range(Y - k[1] + 1) for x in range(X - k[0] + 1)])


name = sys.argv[1]
bd, k = [int(v) for v in sys.argv[2:6]], [int(v) for v in sys.argv[6:9]]
dims = [int(x) for x in open(name + '.hdr').read().split('\n')[1].split()]
A = np.fromfile(name + '.cfl', np.complex64).reshape(dims[:2], order='F').astype(complex)
S = np.linalg.svd(A, compute_uv=False)
L, size = len(S), int(np.prod(bd))
E = np.zeros(L)
for run in range(10):
    draws = []
    for _ in range(8 * size):
        uniform()  # BART's spike test (1 >= u: always taken)
        draws.append(gaussian() / np.sqrt(2.))
    E += np.linalg.svd(calmat(np.array(draws[:size]).reshape(bd, order='F'), k), compute_uv=False)
E /= 10
q = L // 4
print(np.mean(S[L - q:] / E[L - q:]) ** 2 / 1.21)
