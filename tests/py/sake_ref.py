"""SAKE as bart sake runs it (BART 0.8's sake/sake.c), in float64 numpy, for mv_sake.

usage: /usr/bin/python3 sake_ref.py KSPACE OUT ITER ALPHA LAMBDA
KSPACE: a 2D multi-coil .cfl (x, y, 1, coils); prints the relative l2
distance between OUT (medvol's result) and this reference.

Per iteration: BART's robust consistency (a sampled position, where any coil
has data, moves to the data plus its residual soft-thresholded by LAMBDA),
the Casorati matrix of every 6 x 6 block (x fastest) of all coils cut to its
ceil(ALPHA min(rows, cols)) largest singular values (numpy's SVD), each
sample the mean of the blocks covering it, then FISTA's step (BART's
ravine) from the previous iterate. Uses Debian's python3-numpy."""
import sys

import numpy as np

rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
y0 = rd(sys.argv[1])
X, Y, C = y0.shape[0], y0.shape[1], y0.shape[3]
y0 = y0.reshape(X, Y, C, order='F').astype(complex)
m = rd(sys.argv[2]).reshape(X, Y, C, order='F')
iters, alpha, lam = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
kx, ky = min(6, X), min(6, Y)
pos = [(px, py) for py in range(Y - ky + 1) for px in range(X - kx + 1)]
cover = np.zeros((X, Y))
for px, py in pos:
    cover[px:px + kx, py:py + ky] += 1
pat = (np.abs(y0) ** 2).sum(2) > 0
y, prev, t = y0.copy(), np.zeros_like(y0), 1.0
for it in range(iters):
    r = y - y0
    nr = np.abs(r)
    shrink = np.where(nr > lam, (nr - lam) / np.where(nr > 0, nr, 1), 0)
    y = np.where(pat[:, :, None], y0 + r * shrink, y)
    A = np.array([y[px:px + kx, py:py + ky, :].reshape(-1, order='F') for px, py in pos])
    U, S, Vh = np.linalg.svd(A, full_matrices=False)
    k = int(np.ceil(alpha * min(A.shape) - 1e-12))
    Ar = (U[:, :k] * S[:k]) @ Vh[:k]
    acc = np.zeros_like(y)
    for i, (px, py) in enumerate(pos):
        acc[px:px + kx, py:py + ky, :] += Ar[i].reshape(kx, ky, C, order='F')
    x = acc / cover[:, :, None]
    tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
    val = (1 - t) / tn - 1
    y = (1 + val) * prev - val * x
    prev, t = x, tn
print(np.linalg.norm(y - m) / np.linalg.norm(y))
