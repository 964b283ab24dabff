"""Float64 references for tests/test_recon.c (Debian python3: numpy only).

  ref_recon.py normal P   reads Pk, Ps (BART .cfl pairs: k-space
      (x, y, 1, C) and sensitivities (x, y, 1, C) or (x, y, 1, C, M): M
      ESPIRiT maps) and Plambda.txt, solves (A^H A + lambda I) x = A^H y
      directly with A = mask * fftc * sum_m S_m x_m (mask: samples nonzero
      in some coil, unitary centred FFT), writes Px.cfl (x, y, 1, M).
  ref_recon.py maxeig P   the largest eigenvalue of S^H S (BART's
      Cartesian -e operator: per voxel the Gram matrix of the maps Ps over
      the coils, numpy.linalg.eigvalsh) into Pmaxeig.txt; maxeig_nc P: of
      nc's dense A^H A.
  ref_recon.py nc P       reads Pt (trajectory (3, M)), Pk (k-space (1, M,
      1, C)), Ps (sensitivities (nx, ny, 1, C)) and Plambda.txt, solves the
      same normal equations with A = the exact NUDFT (BART's unitary
      convention: s sum_x f(x) exp(-2 pi i k.(x - N/2) / N), s = 1 /
      sqrt(nx ny)) times S (maps as for normal), writes Px.cfl.
  With Pw.cfl (real weights W >= 0 per sample: (x, y) or (1, M)) normal
      and nc solve (A^H W A + lambda I) x = A^H W y instead, W the same for
      every coil, and normal's mask is W itself (a sample with data and
      W = 0 drops out, one with W > 0 and no data counts), medvol's
      opts.weights and BART's pics -p P with W = |P|^2.
  With Preal.txt (any content) normal and nc solve for a real image (BART
      pics -c, opts.real_value): (Re(A^H W A) + lambda I) x = Re(A^H W y).
  ref_recon.py subspace P   reads Pk (k-space (x, y, 1, C, T): T frames),
      Ps (as normal), Pb (the basis, T x K) and Plambda.txt, solves the
      subspace problem (BART pics -B) directly: frame t is A_t sum_k
      B[t, k] x_k with A_t = mask_t * fftc * maps (mask_t: frame t's samples
      nonzero in some coil), over the K coefficient images; with Pw.cfl
      (x, y, 1, 1, T) or (x, y) the weights W_t in place of the masks, as
      normal; writes Px.cfl (x, y, 1, M, K). With Pt.cfl (3, M) or (3, M,
      1, 1, T: a trajectory per frame) the frames are non-Cartesian, Pk
      (1, M, 1, C, T), A_t the exact NUDFT as nc's (every weight 1).
  ref_recon.py nlinv P   reads Pk (k-space (x, y, z, C, F)), Popts.txt
      ("steps cg maps a b real uncombined no_normalize tol fov shared
      [gridded realtime damping]": shared 1, one set of coils for every
      frame, BART -s; gridded 1, BART nlinv -n: the adjoint without the
      pattern, the image the centred half, FOV 0.5; realtime 1, BART
      rtnlinv: the frames one by one, each from the last's solution and
      regularised towards damping times it, the data scale the first
      frame's, the grid (with Pt) rtnlinv's square smooth size) and, when
      present, Pp (a pattern (x, y, z) or (x, y, z, F)); with Pt (a
      trajectory (3, X, Y) or per frame; k (1, X, Y, C, F), Pp (1, X, Y)
      or per frame) the data gridded as BART's nlinv -t does, by the exact
      NUDFT (nlinv_grid; Pdims.txt "x y z": the image grid given); runs NLINV (Uecker et al.
      2008, BART nlinv's conventions: unnormalised FFTs, BART's fftmod on
      the pattern, the Sobolev weights and the coils, the data scaled by
      100 / ||y||; ENLIVE's Gram-Schmidt for several maps) in complex128
      with at most `cg` CG steps per Gauss-Newton step and BART's legacy
      stop ||r||^2 <= (tol^2 ||b||^2)^2 (tol 0: every step), writes Pimg
      (x, y, z, M', F), Psens (x, y, z, C, M, F) and Pcg.txt (the CG steps
      run in all).
  ref_recon.py cc P   reads Pk (k-space (x, y, z, C, F)) and Popts.txt
      ("geometric P"): BART cc -A's compression matrix of the first volume
      (SVD: the eigenvectors of G = sum k k^H over its samples, largest
      first; geometric: the same per readout position after BART's ifftuc
      along x (its fftmod centring, orthonormal FFT)), each vector's last
      channel entry made real positive, into Pm (R, 1, 1, C, C) and its
      eigenvalues as parts of their sum into Pe (R, C); the first P
      columns applied to every volume as BART's cc -p / ccapply (geometric:
      aligned along x by numpy's SVD as BART's align_ro, the data through
      ifftuc and back) into Py (x, y, z, P, F), Py back to the channels
      (ccapply -u) into Pz, and (geometric) the mixing alone, the data
      taken as already transformed (ccapply -t), into Ph.
  ref_recon.py homodyne P   reads Pk (k-space (x, y, z, ...)) and Popts.txt
      ("axis fraction alpha clear image uncentred"), and Pp (a phase
      reference) when present: BART homodyne from its description
      (Noll 1991: the acquired part weighted by 2, a ramp from 2 - alpha to
      alpha across the symmetric band [N (1 - f), N f), 1 or 0 (clear)
      above; the phase of the centre band of int((f - 1/2) N) samples at
      N/2 - c/2; BART's fftmod-centred unitary transforms, numpy's own with
      uncentred), in float64, into Po.
  ref_recon.py eigh DIR   tests/testutil.h's batch: DIR/cases.txt lines
      "c<id> n nk"; c<id>.a holds a Hermitian n x n matrix (complex128,
      row-major); writes c<id>.w (its eigenvalues, ascending, float64) and
      c<id>.p (the projector onto the eigenvectors of the nk largest,
      complex128 n x n) from numpy.linalg.eigh.
  ref_recon.py tgv P / ictv P   reads Pf (an image (x, y), complex),
      Plambda.txt and Paxes.txt (two lines of axis numbers 0, 1: the
      gradient's axes, ictv's second TV's on the second line) and solves
      bart tgv's / ictv's problem by Chambolle and Pock's primal-dual
      algorithm in float64 (its own method: no ADMM, no CG), D_a the
      circular difference x[i] - x[i - e_a]:
        tgv: min over (x, z_c) of 1/2 ||x - f||^2 + lambda sum |D_c x + z_c|
             + lambda sum_i ||(D_j z_i + D_i z_j)_j||_2,
        ictv: min over (x, w) of 1/2 ||x - f||^2 + lambda ||D_1 (x + w)||_2,1
             + lambda ||D_2 w||_2,1,
      until 1000 steps move x by less than 1e-10; writes Px (the image
      x, unique: the data term is strictly convex in it) and Pobj.txt (the
      optimal value).
"""
import os
import sys
import numpy as np


def readcfl(name):
    with open(name + '.hdr') as f:
        lines = f.read().split('\n')
    dims = [int(v) for v in lines[1].split()]
    a = np.fromfile(name + '.cfl', dtype=np.complex64)
    return a.reshape(dims, order='F')


def writecfl(name, a):
    a = np.asarray(a, dtype=np.complex64)
    dims = list(a.shape) + [1] * (16 - a.ndim)
    with open(name + '.hdr', 'w') as f:
        f.write('# Dimensions\n' + ' '.join(str(d) for d in dims) + '\n')
    a.flatten(order='F').tofile(name + '.cfl')


def fftc(x, axes):
    return np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm='ortho'), axes=axes)


def ifftc(x, axes):
    return np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm='ortho'), axes=axes)


def weights(d, n, nc):
    """Pw.cfl's n weights per sample repeated for the nc coils (coil after
    coil, as y), or None"""
    if not os.path.exists(d + 'w.cfl'):
        return None
    w = readcfl(d + 'w').real.astype(np.float64).reshape(-1, order='F')
    assert w.size == n, (w.size, n)
    return np.tile(w, nc)


def solve(A, y, w, lam, real=False):
    """(A^H W A + lam I) x = A^H W y, W = diag(w) (None: the identity);
    real: over real x, the real parts of both sides"""
    Aw = A if w is None else A * w[:, None]
    N, b = A.conj().T @ Aw, Aw.conj().T @ y
    if real:
        N, b = N.real, b.real
    return np.linalg.solve(N + lam * np.eye(A.shape[1]), b)


def sense_columns(s, mask):
    """the dense Cartesian SENSE operator mask * fftc * sum_m S_m x_m
    (s: (nx, ny, nc, nm)), column by column (small cases only): map m's
    pixels after map m - 1's"""
    nx, ny, nc, nm = s.shape
    n = nx * ny
    cols = []
    for m in range(nm):
        for j in range(n):
            e = np.zeros(n, complex)
            e[j] = 1
            img = e.reshape(nx, ny, order='F')
            cols.append((fftc(s[:, :, :, m] * img[:, :, None], (0, 1)) * mask).reshape(-1, order='F'))
    return np.array(cols).T


def cart_matrix(d):
    """A (dense), y, and the image shape (nx, ny, maps) of a Cartesian case
    (the mask: samples nonzero in some coil, or all of them with weights)"""
    k = readcfl(d + 'k').astype(np.complex128)
    s = readcfl(d + 's').astype(np.complex128)
    nx, ny, nc = k.shape[0], k.shape[1], k.shape[3]
    nm = s.size // (nx * ny * nc)
    k = k.reshape(nx, ny, nc)
    s = s.reshape(nx, ny, nc, nm)
    mask = np.any(k != 0, axis=2) | os.path.exists(d + 'w.cfl')
    return sense_columns(s, mask[:, :, None]), k.reshape(-1, order='F'), (nx, ny, nm)


def normal(d):
    A, y, (nx, ny, nm) = cart_matrix(d)
    lam = float(open(d + 'lambda.txt').read())
    x = solve(A, y, weights(d, nx * ny, A.shape[0] // (nx * ny)), lam, os.path.exists(d + 'real.txt'))
    writecfl(d + 'x', x.reshape(nx, ny, 1, nm, order='F'))


def maxeig(d):
    """BART's Cartesian -e operator, S^H S: per voxel the M x M Gram matrix
    of its maps over the coils; the largest eigenvalue of them all"""
    s = readcfl(d + 's').astype(np.complex128)
    nx, ny, nc = s.shape[0], s.shape[1], s.shape[3]
    s = s.reshape(nx * ny, nc, s.size // (nx * ny * nc), order='F')
    g = np.einsum('vcm,vcn->vmn', s.conj(), s)
    with open(d + 'maxeig.txt', 'w') as f:
        f.write('%.17g\n' % np.linalg.eigvalsh(g).max())


def maxeig_nc(d):
    A, _, _ = nc_matrix(d)
    with open(d + 'maxeig.txt', 'w') as f:
        f.write('%.17g\n' % np.linalg.eigvalsh(A.conj().T @ A)[-1])


def nudft_columns(t, s):
    """the exact NUDFT (BART's unitary convention) of the points t (3, m)
    times the maps s (nx, ny, nc, nm): rows coil after coil, columns map m's
    pixels after map m - 1's"""
    nx, ny, nc, nm = s.shape
    xs, ys = np.meshgrid(np.arange(nx) - nx // 2, np.arange(ny) - ny // 2, indexing='ij')
    xs, ys = xs.reshape(-1, order='F'), ys.reshape(-1, order='F')
    E = np.exp(-2j * np.pi * (np.outer(t[0], xs) / nx + np.outer(t[1], ys) / ny)) / np.sqrt(nx * ny)
    return np.vstack([np.hstack([E * s[:, :, c, j].reshape(-1, order='F')[None, :] for j in range(nm)])
                      for c in range(nc)])


def nc_matrix(d):
    """A (dense NUDFT times the maps), y, and the image shape of a non-Cartesian case"""
    t = readcfl(d + 't').real.astype(np.float64)
    k = readcfl(d + 'k').astype(np.complex128)
    s = readcfl(d + 's').astype(np.complex128)
    nx, ny, nc = s.shape[0], s.shape[1], s.shape[3]
    nm = s.size // (nx * ny * nc)
    m = t.shape[1]
    t = t.reshape(3, m)
    k = k.reshape(m, nc)
    s = s.reshape(nx, ny, nc, nm)
    return nudft_columns(t, s), k.reshape(-1, order='F'), (nx, ny, nm)


def noncart(d):
    A, y, (nx, ny, nm) = nc_matrix(d)
    lam = float(open(d + 'lambda.txt').read())
    m = readcfl(d + 't').shape[1]
    x = solve(A, y, weights(d, m, A.shape[0] // m), lam, os.path.exists(d + 'real.txt'))
    writecfl(d + 'x', x.reshape(nx, ny, 1, nm, order='F'))


def subspace(d):
    k = readcfl(d + 'k').astype(np.complex128)
    s = readcfl(d + 's').astype(np.complex128)
    b = readcfl(d + 'b').astype(np.complex128)
    nx, ny, nc = s.shape[0], s.shape[1], s.shape[3]
    n, nm = nx * ny, s.size // (nx * ny * nc)
    s = s.reshape(nx, ny, nc, nm, order='F')
    if os.path.exists(d + 't.cfl'):  # non-Cartesian: k (1, M, 1, C, T), t (3, M) or (3, M, 1, 1, T)
        tr = readcfl(d + 't').real.astype(np.float64)
        m = tr.shape[1]
        T = k.size // (m * nc)
        tr = tr.reshape(3, m, -1, order='F')
        k = k.reshape(m * nc, T, order='F')
        frame_op = [nudft_columns(tr[:, :, t % tr.shape[2]], s) for t in range(T)]
        frame_y = [k[:, t] for t in range(T)]
        frame_w = [np.ones(m * nc)] * T
    else:
        T = k.size // (n * nc)
        k = k.reshape(nx, ny, nc, T, order='F')
        w = None
        if os.path.exists(d + 'w.cfl'):
            w = readcfl(d + 'w').real.astype(np.float64).reshape(n, -1, order='F')
        E = sense_columns(s, 1)  # one frame's operator without its mask (the weights W_t mask it)
        frame_op = [E] * T
        frame_y = [k[:, :, :, t].reshape(-1, order='F') for t in range(T)]
        frame_w = [np.tile((w[:, t % w.shape[1]] if w is not None else
                            np.any(k[:, :, :, t] != 0, axis=2).reshape(-1, order='F')).astype(np.float64), nc)
                   for t in range(T)]
    K = b.size // T
    b = b.reshape(T, K, order='F')
    # the normal equations block by block: N_jk = sum_t conj(b_tj) b_tk A_t^H W_t A_t, rhs_j = sum_t conj(b_tj) A_t^H W_t y_t
    p = frame_op[0].shape[1]
    N = np.zeros((K * p, K * p), complex)
    rhs = np.zeros(K * p, complex)
    lam = float(open(d + 'lambda.txt').read())
    for t in range(T):
        Aw = frame_op[t] * frame_w[t][:, None]
        G, h = frame_op[t].conj().T @ Aw, Aw.conj().T @ frame_y[t]
        for j in range(K):
            rhs[j * p:(j + 1) * p] += np.conj(b[t, j]) * h
            for i in range(K):
                N[j * p:(j + 1) * p, i * p:(i + 1) * p] += np.conj(b[t, j]) * b[t, i] * G
    x = np.linalg.solve(N + lam * np.eye(K * p), rhs)
    writecfl(d + 'x', x.reshape(nx, ny, 1, nm, K, order='F'))


def eigh(d):
    with open(os.path.join(d, 'cases.txt')) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            i, n, nk = w[0], int(w[1]), int(w[2])
            a = np.fromfile(os.path.join(d, i + '.a'), dtype=np.complex128).reshape(n, n)
            ev, vec = np.linalg.eigh(a)
            u = vec[:, n - nk:]
            ev.astype(np.float64).tofile(os.path.join(d, i + '.w'))
            np.ascontiguousarray(u @ u.conj().T).astype(np.complex128).tofile(os.path.join(d, i + '.p'))


def bart_fftmod(shape):
    """BART's fftmod factor per voxel of (x, y, z): exp(2 pi i sum_a (j -
    c/2) c / n), c = n // 2, over the axes of n > 1"""
    ph = np.zeros(shape)
    for a, n in enumerate(shape):
        if n > 1:
            c = n // 2
            j = np.arange(n, dtype=np.float64)
            sh = [1, 1, 1]
            sh[a] = n
            ph = ph + ((j - c / 2.0) * (c / n)).reshape(sh)
    return np.exp(2j * np.pi * ph)


def rt_grid_size(mx):
    """BART rtnlinv's grid (estimate_fast_sq_im_dims on the doubled
    trajectory): the first 2,3,5,7-smooth integer from int(2 max |2k|)"""
    s = int(np.float32(2) * np.float32(2) * np.float32(max(mx)))
    while True:
        n = s
        for q in (2, 3, 5, 7):
            while n > 0 and n % q == 0:
                n //= q
        if n <= 1:
            return s
        s += 1


def nlinv_grid(d, k, nf, nc, rt=False):
    """non-Cartesian NLINV's gridding (BART nlinv -t): the image grid 2
    ceil(max |k|) per axis, the reconstruction grid twice it; the data and
    |P|^2 of each frame through the exact adjoint NUDFT onto the doubled grid
    (the trajectory doubled) and the centred unitary FFT, times sqrt(2^d)
    and 2^d: (gridded k-space (g, C, F), PSF (g, F), image dims, grid).
    rt (BART rtnlinv -t): the grid rtnlinv's square one, frame f on
    trajectory f mod T with the PSF of frame f mod T's samples"""
    t = readcfl(d + 't')
    npts = t.shape[1] * t.shape[2]
    t = t.reshape(3, npts, -1, order='F')
    mx = np.abs(t).max(axis=(1, 2)).astype(np.float32)
    out = [1 if m == 0 else 2 * int(np.ceil(m)) for m in mx]
    g = [2 * n if n > 1 else 1 for n in out]
    if rt:                                                                # rtnlinv's grid S, maybe odd
        S = rt_grid_size(mx)
        g = [1 if m == 0 else S for m in mx]
        out = [n // 2 if n > 1 else 1 for n in g]
    if os.path.exists(d + 'dims.txt'):                                    # given (BART 0.9's -x)
        out = [int(v) for v in open(d + 'dims.txt').read().split()]
        g = [2 * n if n > 1 else 1 for n in out]
    N = g[0] * g[1] * g[2]
    k = k.reshape(npts, nc, nf, order='F')
    if os.path.exists(d + 'p.cfl'):
        pw = readcfl(d + 'p').astype(np.complex128).reshape(npts, -1, order='F')
    else:
        pw = (np.sum(np.abs(k) ** 2, axis=1) != 0).astype(np.complex128)
    grid = np.stack(np.meshgrid(*[np.arange(n) - n // 2 for n in g], indexing='ij'), -1).reshape(-1, 3, order='F')
    kg = np.zeros((N, nc, nf), complex)
    psf = np.zeros((N, nf), complex)
    for f in range(nf):
        kt = 2 * t[:, :, f % t.shape[2]].real.astype(np.float64)          # (3, npts), the trajectory doubled
        E = np.exp(2j * np.pi * sum(np.outer(grid[:, a], kt[a]) / g[a] for a in range(3))) / np.sqrt(N)
        kg[:, :, f] = E @ k[:, :, f]
        pf = f % t.shape[2] if rt else f
        psf[:, f] = E @ np.abs(pw[:, pf % pw.shape[1]]) ** 2
    sc = 2.0 ** sum(n > 1 for n in g)
    shape = tuple(g)
    kg = fftc(kg.reshape(shape + (nc, nf), order='F'), (0, 1, 2)) * np.sqrt(sc)
    psf = fftc(psf.reshape(shape + (nf,), order='F'), (0, 1, 2)) * sc
    return kg, psf, out, g


def nlinv(d):
    k = readcfl(d + 'k').astype(np.complex128)
    w = open(d + 'opts.txt').read().split()
    steps, cg, nm, a, b, real, unc, nonorm, tol, fov, shared = w[:11]
    # BART nlinv -n (gridded data, the pattern its PSF), rtnlinv (frame by frame, damped reference)
    gridded, rt, damp = (int(w[11]), int(w[12]), float(w[13])) if len(w) > 11 else (0, 0, 0.0)
    shared = int(shared)
    tol, fov = float(tol), float(fov)
    steps, cg, nm, real, unc, nonorm = int(steps), int(cg), int(nm), int(real), int(unc), int(nonorm)
    a, b = float(a), float(b)
    noncart = os.path.exists(d + 't.cfl')
    nc = k.shape[3]
    nf = k.size // (k.shape[0] * k.shape[1] * k.shape[2] * nc)
    if noncart:
        k, psf, out, (nx, ny, nz) = nlinv_grid(d, k, nf, nc, rt)
        fov = fov if fov > 0 else 0.5
    else:
        nx, ny, nz = k.shape[:3]
        out = [nx, ny, nz]
        k = k.reshape(nx, ny, nz, nc, nf, order='F')
        if gridded:
            out = [n // 2 if n > 1 else 1 for n in out]
            fov = fov if fov > 0 else 0.5
    N = nx * ny * nz
    fm = bart_fftmod((nx, ny, nz))
    if noncart:
        pat, pat_adj = psf * fm[..., None], np.broadcast_to(fm[..., None], (nx, ny, nz, 1))
    else:
        if os.path.exists(d + 'p.cfl'):
            pat = readcfl(d + 'p').astype(np.complex128).reshape(nx, ny, nz, -1, order='F')
        else:
            pat = (np.sum(np.abs(k) ** 2, axis=3) != 0).astype(np.complex128)
        pat = pat * fm[..., None]                              # (x, y, z, npf)
        pat_adj = np.broadcast_to(fm[..., None], (nx, ny, nz, 1)) if gridded else pat
    box = np.ones((nx, ny, nz))
    if 0 < fov < 1:                                            # BART's compute_mask: a centred box
        box = np.zeros((nx, ny, nz))
        sl = []
        for n in (nx, ny, nz):
            m = 1 if n == 1 else int(np.float32(n) * np.float32(fov))
            sl.append(slice(n // 2 - m // 2, n // 2 - m // 2 + m))
        box[tuple(sl)] = 1
    lap = np.zeros((nx, ny, nz))
    for ax, n in enumerate((nx, ny, nz)):
        if n > 1:
            sh = [1, 1, 1]
            sh[ax] = n
            lap = lap + (((np.arange(n) - n / 2.0) / n) ** 2).reshape(sh)
    W = (1 + a * lap) ** (-b / 2) * fm / np.sqrt(N)
    msk = box / np.sqrt(N)
    ax3 = (0, 1, 2)
    fwd = lambda v: np.fft.fftn(v, axes=ax3)
    inv = lambda v: np.fft.ifftn(v, axes=ax3) * N          # BART's unnormalised inverse
    cgdone = [0]

    def coils(kk):
        return inv(W[..., None, None, None] * kk)

    def irgnm(y, img, ks, ref, P, PA):
        """the IRGNM of the frames of y (x, y, z, C, F) from (img, ks),
        regularised towards ref (None: 0); P(f), PA(f): frame f's patterns"""
        nf = y.shape[4]

        def F(x, c):
            return np.stack([np.stack([P(f) * fwd(msk * np.sum(x[..., :, f] * c[..., j, :, f % c.shape[5]], axis=3))
                                       for j in range(nc)], axis=3) for f in range(nf)], axis=4)

        def der(x0, c0, dx, dk):
            dc = coils(dk)
            return np.stack([np.stack([P(f) * fwd(msk * (np.sum(dx[..., :, f] * c0[..., j, :, f % c0.shape[5]], axis=3) +
                                                          np.sum(x0[..., :, f] * dc[..., j, :, f % dc.shape[5]], axis=3)))
                                       for j in range(nc)], axis=3) for f in range(nf)], axis=4)

        def adj(x0, c0, z):
            t = np.stack([np.stack([msk * inv(np.conj(PA(f)) * z[..., j, f]) for j in range(nc)], axis=3)
                          for f in range(nf)], axis=4)         # (x, y, z, C, F)
            dx = np.sum(np.conj(c0) * t[:, :, :, :, None, :], axis=3)
            if real:
                dx = dx.real + 0j
            dk = np.conj(W)[..., None, None, None] * fwd(np.conj(x0)[:, :, :, None, :, :] * t[:, :, :, :, None, :])
            if shared:                                             # the coils' adjoint sums over the frames
                dk = np.conj(W)[..., None, None, None] * fwd(np.sum(np.conj(x0)[:, :, :, None, :, :] *
                                                                    t[:, :, :, :, None, :], axis=5, keepdims=True))
            return dx, dk

        alpha = 1.0
        for _ in range(steps):
            c0 = coils(ks)
            r = y - F(img, c0)
            px, pk = adj(img, c0, r)
            if ref is not None:                                # IRGNM towards x_ref: + alpha x_ref
                px, pk = px + alpha * ref[0], pk + alpha * ref[1]
            px, pk = px - alpha * img, pk - alpha * ks
            hx, hk = np.zeros_like(img), np.zeros_like(ks)
            rx, rk = px.copy(), pk.copy()
            qx, qk = rx.copy(), rk.copy()
            rs = np.vdot(rx, rx).real + np.vdot(rk, rk).real
            eps = (tol * tol * rs) ** 2                            # BART's legacy stop (tol 0: none)
            for it in range(cg):
                ax_, ak_ = adj(img, c0, der(img, c0, qx, qk))
                ax_, ak_ = ax_ + alpha * qx, ak_ + alpha * qk
                al = rs / (np.vdot(qx, ax_).real + np.vdot(qk, ak_).real)
                hx, hk = hx + al * qx, hk + al * qk
                rx, rk = rx - al * ax_, rk - al * ak_
                rn = np.vdot(rx, rx).real + np.vdot(rk, rk).real
                if rn <= eps:
                    cgdone[0] += it + 1
                    break
                qx, qk = rx + (rn / rs) * qx, rk + (rn / rs) * qk
                rs = rn
            else:
                cgdone[0] += cg
            img, ks = img + hx, ks + hk
            alpha = alpha / 2
            for m in range(1, nm):                                # ENLIVE: BART's Gram-Schmidt, from the maps before it
                acc = np.zeros_like(ks[..., 0, :])
                for p in range(m):
                    v = np.sum(ks[..., m, :] * np.conj(ks[..., p, :])) / np.sum(np.abs(ks[..., p, :]) ** 2)
                    acc = acc + v * ks[..., p, :]
                ks[..., m, :] = ks[..., m, :] - acc
        return img, ks

    if not rt:
        y = k * (100 / np.linalg.norm(k))
        img, ks = irgnm(y, np.ones((nx, ny, nz, nm, nf), complex),
                        np.zeros((nx, ny, nz, nc, nm, 1 if shared else nf), complex), None,
                        lambda f: pat[..., f % pat.shape[3]], lambda f: pat_adj[..., f % pat_adj.shape[3]])
    else:                                                      # rtnlinv: frame by frame from the last, damped reference
        scale = 100 / np.linalg.norm(k[..., 0])
        img = np.zeros((nx, ny, nz, nm, nf), complex)
        ks = np.zeros((nx, ny, nz, nc, nm, nf), complex)
        xi, xk, ref = np.ones((nx, ny, nz, nm, 1), complex), np.zeros((nx, ny, nz, nc, nm, 1), complex), None
        for f in range(nf):
            pf, pa = pat[..., f % pat.shape[3]], pat_adj[..., f % pat_adj.shape[3]]
            xi, xk = irgnm(k[..., f:f + 1] * scale, xi, xk, ref, lambda _: pf, lambda _: pa)
            img[..., f:f + 1], ks[..., f:f + 1] = xi, xk
            ref = (damp * xi, damp * xk)
    sens = coils(ks) * fm[..., None, None, None]
    if unc:
        groups = [[m] for m in range(nm)]
    else:
        groups = [list(range(nm))]
    res = np.zeros((nx, ny, nz, len(groups), nf), complex)
    for gi, ms in enumerate(groups):
        if nonorm:
            res[..., gi, :] = np.sum(img[..., ms, :], axis=3)
        else:
            buf = np.sum(img[:, :, :, None, ms, :] * sens[:, :, :, :, ms, :], axis=4)
            res[..., gi, :] = np.sqrt(np.sum(np.abs(buf) ** 2, axis=3))
            if len(ms) == 1:
                x = img[..., ms[0], :]
                res[..., gi, :] *= np.where(x == 0, 1, x / np.where(x == 0, 1, np.abs(x)))
    lo = [g // 2 - o // 2 for g, o in zip((nx, ny, nz), out)]    # the centre (md_resize_center)
    res = res[lo[0]:lo[0] + out[0], lo[1]:lo[1] + out[1], lo[2]:lo[2] + out[2]]
    writecfl(d + 'img', res)
    writecfl(d + 'sens', sens)
    open(d + 'cg.txt', 'w').write('%d\n' % cgdone[0])


def bart_fftuc_x(a, inverse):
    """BART's (i)fftuc along axis 0: its (i)fftmod, the orthonormal FFT,
    its (i)fftmod again"""
    n = a.shape[0]
    c = n // 2
    j = np.arange(n, dtype=np.float64)
    ph = np.exp((-2j if inverse else 2j) * np.pi * (j - c / 2.0) * (c / n)).reshape((n,) + (1,) * (a.ndim - 1))
    f = np.fft.ifft if inverse else np.fft.fft
    return ph * f(ph * a, axis=0, norm='ortho')


def cc_vectors(D):
    """D: C x N samples; the eigenvectors of D D^H as columns, largest
    first, the last channel's entry real positive, and the eigenvalues"""
    w, v = np.linalg.eigh(D @ D.conj().T)
    v, w = v[:, ::-1], w[::-1]
    last = v[-1, :]
    ph = np.where(np.abs(last) > 0, np.conj(last) / np.where(np.abs(last) > 0, np.abs(last), 1), 1)
    return v * ph[None, :], w


def cc(d):
    k = readcfl(d + 'k').astype(np.complex128)
    k = k.reshape(k.shape[:4] + (-1,), order='F')
    geo, P = [int(v) for v in open(d + 'opts.txt').read().split()]
    nx, C, F = k.shape[0], k.shape[3], k.shape[4]
    if geo:
        h0 = bart_fftuc_x(k[..., 0], True)
        vw = [cc_vectors(h0[x].reshape(-1, C, order='F').T) for x in range(nx)]
    else:
        vw = [cc_vectors(k[..., 0].reshape(-1, C, order='F').T)]
    R = len(vw)
    m = np.zeros((R, 1, 1, C, C), complex)
    e = np.zeros((R, C))
    for x, (v, w) in enumerate(vw):
        m[x, 0, 0] = v
        e[x] = w / w.sum()
    writecfl(d + 'm', m)
    writecfl(d + 'e', e)
    A = [v[:, :P].T for v, w in vw]                                       # P x C: row m = column m
    for x in range(1, R):                                                 # BART's align_ro
        U, S, Vh = np.linalg.svd(A[x] @ A[x - 1].conj().T)
        A[x] = (Vh.conj().T @ U.conj().T) @ A[x]
    A = np.array(A)                                                       # (R, P, C)

    def mix(a, inverse):                                                  # a (x, y, z, coils, F)
        At = A if R == nx else np.repeat(A, nx, axis=0)
        if inverse:
            return np.einsum('xmc,xyzmf->xyzcf', At, a)
        return np.einsum('xmc,xyzcf->xyzmf', At.conj(), a)

    if geo:
        y = bart_fftuc_x(mix(bart_fftuc_x(k, True), False), False)
        z = bart_fftuc_x(mix(bart_fftuc_x(y, True), True), False)
        writecfl(d + 'h', mix(k, False))
    else:
        y = mix(k, False)
        z = mix(y, True)
    writecfl(d + 'y', y)
    writecfl(d + 'z', z)


def homodyne(d):
    k = readcfl(d + 'k').astype(np.complex128)                           # BART's 16 dims
    w = open(d + 'opts.txt').read().split()
    axis, frac, alpha, clear, image, unc = int(w[0]), float(np.float32(w[1])), float(w[2]), int(w[3]), int(w[4]), int(w[5])
    ones = (1,) * (k.ndim - 3)
    fm = (np.ones(k.shape[:3]) if unc else bart_fftmod(k.shape[:3])).reshape(k.shape[:3] + ones)

    def ifft3(x):  # BART's ifftuc (ifftu with uncentred): ifftmod, the unitary inverse FFT, ifftmod
        return np.conj(fm) * np.fft.ifftn(np.conj(fm) * x, axes=(0, 1, 2), norm='ortho')

    def fft3(x):
        return fm * np.fft.fftn(fm * x, axes=(0, 1, 2), norm='ortho')

    if image:
        k = fft3(k)
    N = k.shape[axis]
    start, end = N * (1 - frac), N * frac
    p = np.arange(N, dtype=np.float64)
    wt = np.where(p < start, 2.0, np.where(p < end, 2 * (alpha - 1) / (end - start) * (p - end) + alpha,
                                          0.0 if clear else 1.0))
    sh = [1] * k.ndim
    sh[axis] = N
    wt = wt.reshape(sh)
    if os.path.exists(d + 'p.cfl'):                                       # broadcast along its dims of 1
        ph = readcfl(d + 'p').astype(np.complex128)
    else:
        c = int((frac - 0.5) * N)
        b0 = N // 2 - c // 2
        band = np.zeros(N)
        band[b0:b0 + c] = 1
        z = ifft3(k * band.reshape(sh))
        a = np.abs(z)
        ph = np.where(a == 0, 1, z / np.where(a == 0, 1, a))
    writecfl(d + 'o', np.real(ifft3(k * wt) * np.conj(ph)))


def cdiff(x, a):
    """BART's circular forward difference along a: x[i] - x[i - e_a]"""
    return x - np.roll(x, 1, axis=a)


def cdiff_t(g, a):
    """its adjoint: g[i] - g[i + e_a]"""
    return g - np.roll(g, -1, axis=a)


def tgv_problem(ax):
    """K, K^T, the dual projection and the regulariser of bart tgv's problem
    on u = [x, z_1 .. z_k]; the dual [p_1 .. p_k, q_11 .. q_kk]"""
    k = len(ax)

    def K(u):
        x, z = u[0], u[1:]
        p = [cdiff(x, ax[c]) + z[c] for c in range(k)]
        q = [cdiff(z[i], ax[j]) + cdiff(z[j], ax[i]) for i in range(k) for j in range(k)]
        return p + q

    def KT(v):
        p, q = v[:k], v[k:]
        x = sum(cdiff_t(p[c], ax[c]) for c in range(k))
        z = [p[i] + sum(cdiff_t(q[i * k + j] + q[j * k + i], ax[j]) for j in range(k)) for i in range(k)]
        return [x] + z

    def project(v, lam):
        p = [pc / np.maximum(1, np.abs(pc) / lam) for pc in v[:k]]
        q = []
        for i in range(k):
            row = v[k + i * k:k + i * k + k]
            s = np.maximum(1, np.sqrt(sum(np.abs(r) ** 2 for r in row)) / lam)
            q += [r / s for r in row]
        return p + q

    def reg(v):
        q = v[k:]
        return sum(np.sum(np.abs(pc)) for pc in v[:k]) + \
            sum(np.sum(np.sqrt(sum(np.abs(q[i * k + j]) ** 2 for j in range(k)))) for i in range(k))
    return K, KT, project, reg, 1 + k


def ictv_problem(ax1, ax2):
    """the same for bart ictv's problem on u = [x, w]"""
    k1 = len(ax1)

    def K(u):
        s = u[0] + u[1]
        return [cdiff(s, a) for a in ax1] + [cdiff(u[1], a) for a in ax2]

    def KT(v):
        g1 = sum(cdiff_t(v[c], a) for c, a in enumerate(ax1))
        g2 = sum(cdiff_t(v[k1 + c], a) for c, a in enumerate(ax2))
        return [g1, g1 + g2]

    def joint(vs, lam):
        s = np.maximum(1, np.sqrt(sum(np.abs(r) ** 2 for r in vs)) / lam)
        return [r / s for r in vs]

    def project(v, lam):
        return joint(v[:k1], lam) + joint(v[k1:], lam)

    def reg(v):
        return np.sum(np.sqrt(sum(np.abs(r) ** 2 for r in v[:k1]))) + \
            np.sum(np.sqrt(sum(np.abs(r) ** 2 for r in v[k1:])))
    return K, KT, project, reg, 2


def primal_dual(f, lam, problem):
    """Chambolle-Pock on 1/2 ||u_0 - f||^2 + lam reg(K u), in chunks of
    1000 steps until a chunk moves u_0 by less than 1e-10; returns u"""
    K, KT, project, reg, nu = problem
    rng = np.random.default_rng(1)
    u = [rng.standard_normal(f.shape) for _ in range(nu)]
    for _ in range(300):  # ||K||^2 by power iteration on K^T K
        u = KT(K(u))
        nrm = np.sqrt(sum(np.sum(np.abs(c) ** 2) for c in u))
        u = [c / nrm for c in u]
    tau = sig = 1 / (np.sqrt(nrm) * 1.02)
    u = [np.zeros_like(f) for _ in range(nu)]
    ub = [c.copy() for c in u]
    v = [np.zeros_like(f) for _ in K(u)]
    for chunk in range(300):
        x_before = u[0].copy()
        for _ in range(1000):
            v = project([a + sig * b for a, b in zip(v, K(ub))], lam)
            g = KT(v)
            un = [(u[0] - tau * g[0] + tau * f) / (1 + tau)] + [u[c] - tau * g[c] for c in range(1, nu)]
            ub = [2 * a - b for a, b in zip(un, u)]
            u = un
        if np.abs(u[0] - x_before).max() < 1e-10:
            return u
    sys.exit('the primal-dual solve did not settle (%g)' % np.abs(u[0] - x_before).max())


def tgv_ictv(mode, d):
    f = readcfl(d + 'f')
    f = f.reshape(f.shape[0], f.shape[1]).astype(np.complex128)
    lam = float(open(d + 'lambda.txt').read())
    lines = open(d + 'axes.txt').read().split('\n')
    ax1 = [int(a) for a in lines[0].split()]
    ax2 = [int(a) for a in lines[1].split()]
    prob = tgv_problem(ax1) if mode == 'tgv' else ictv_problem(ax1, ax2)
    u2 = primal_dual(f, lam, prob)
    obj = 0.5 * np.sum(np.abs(u2[0] - f) ** 2) + lam * prob[3](prob[0](u2))
    writecfl(d + 'x', u2[0])
    with open(d + 'obj.txt', 'w') as fo:
        fo.write('%.17g\n' % obj)


if __name__ == '__main__':
    if sys.argv[1] == 'normal':
        normal(sys.argv[2])
    elif sys.argv[1] == 'maxeig':
        maxeig(sys.argv[2])
    elif sys.argv[1] == 'maxeig_nc':
        maxeig_nc(sys.argv[2])
    elif sys.argv[1] == 'nc':
        noncart(sys.argv[2])
    elif sys.argv[1] == 'subspace':
        subspace(sys.argv[2])
    elif sys.argv[1] == 'nlinv':
        nlinv(sys.argv[2])
    elif sys.argv[1] == 'cc':
        cc(sys.argv[2])
    elif sys.argv[1] == 'homodyne':
        homodyne(sys.argv[2])
    elif sys.argv[1] == 'eigh':
        eigh(sys.argv[2])
    elif sys.argv[1] in ('tgv', 'ictv'):
        tgv_ictv(sys.argv[1], sys.argv[2])
    else:
        sys.exit('unknown mode ' + sys.argv[1])
