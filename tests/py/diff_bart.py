#!/usr/bin/python3
"""Random cases of medvol's MRI half against BART itself (the `bart`
command, Debian's bart 0.8) on the same .cfl files, with an exact numpy
computation where BART's own accuracy is the limit (Debian's
/usr/bin/python3 with python3-numpy).

  /usr/bin/python3 tests/py/diff_bart.py BUILD/diff_bart BUILD/mvtool [CASES [SEED [FAMILY,...]]]

CASES scales every family (default 12: about 15 s; per family 3x cfl, 5x
hdr, 4x traj, 3x fft, 2x rss, 3x nufft, 0.1x ecalib and pics, 1x scale,
cc, homodyne and l1, 2x thresh and twix, 0.5x tv, admm, llr, subspace, nlinv and rtnlinv, 3x array, at least 1); FAMILY (comma-separated:
cfl, hdr, traj, estdelay, fft, rss, nufft, ecalib, pics, scale, cc, homodyne, thresh, l1, tv, admm, llr, subspace, nlinv, rtnlinv, twix,
array, rof, tgv, measure, walsh)
limits the run and leaves out the fixed cases. medvol runs through
tests/diff_bart.c (mv_cfl_load / mv_cfl_save, mv_fftc*, mv_rss*,
mv_bart_scale_estimate, mv_coil_compress) or
through build/mvtool where mvtool takes BART's own arguments (traj, nufft,
ecalib, pics, threshold, nlinv, rtnlinv, twixread, cc, ccapply, homodyne, and the array
commands of the family array). A case's failure prints what differs and the commands that
reproduce it; its files are kept in the printed directory. Exit 0 when
every case agrees.

  cfl     random dims (1..16 sizes, axes of length 1, trailing ones,
          sometimes a size > 1 beyond medvol's 7 axes) and random bytes (NaN
          payloads, -0, subnormals): bart copy writes the pair, medvol loads
          and saves it, bart copy reads medvol's pair back. The .cfl bytes
          and the "# Dimensions" line must equal BART's; medvol's dims are
          BART's less the trailing ones. A size > 1 beyond axis 7 must be
          MV_ERR_UNSUPPORTED (medvol.h mv_cfl_load: "dims 8..16 must be 1 on
          load").
  hdr     a valid header mutated (CRLF, spacing, other sections, no final
          newline, 0 / negative / junk / huge sizes, a wrong or missing
          "# Dimensions" line, > 16 sizes, .cfl a byte or a sample short or
          long, missing files, binary bytes): `bart show -m` and medvol's
          load. When both read it the dims must agree; BART's own form and
          its harmless variants (fewer sizes, CRLF, tabs and spaces, other
          sections before or after, no final newline) must be read by medvol;
          every refusal must be a file status (BAD_HEADER, TRUNCATED,
          BAD_DATA, NOT_FOUND, SIZE_OVERFLOW, UNSUPPORTED) whose detail names
          the file. Where BART reads text medvol refuses (BART stops at
          junk: "2 x 3" reads as 2) or medvol reads text BART refuses, the
          case agrees and the summary counts it.
  traj    mvtool traj and bart traj with the same arguments: random X, Y
          (1 .. 600), -G, -s N, -D, -c, -3 in random order. Both succeed or
          both fail; dims equal; every value within 2 float32 ulps of
          BART's (the same formula rounded once to float32: medvol.h says
          bit for bit, the summary counts values that are not; NaN where
          BART has NaN, -3 with one spoke).
  fft     bart fft -u [-i] MASK against mv_fftc (four forms) on 1..7 axes of
          odd and even lengths, and both against numpy's centred ortho
          transform in float64: relative l2 error <= 1e-6 each (float32 FFT
          rounding, ~1e-7 sqrt(log2 N) as >>api-fft states). MASK is
          given to both as it is: bits of axes past medvol's ndim (trailing
          ones the loader drops) name length-1 axes there, as in BART
          (>>api-mri mv_fftshift); cases with such bits are counted. Then
          mvtool fft in bart fft's own form (random -u / -i / -n and a
          bitmask over BART's 16 axes of a random shape) against bart
          fft itself: within 1e-6; and mvtool fftmod [-i] / fftshift [-b]
          with random bitmasks on such a shape (zeros and -0.0 among the
          samples) against bart's: the same bytes.
  rss     bart rss 8 against mv_rss (coil axis removed, >>api-mri) and
          mv_rss_into (dims[3] = 1, BART's layout) on random (x, y, z, C, t):
          per value |medvol - numpy| <= 4e-7 C |numpy| (float32 sums of C
          squares) and BART the same; then mvtool rss BITMASK (BART's argv)
          and bart rss with a random bitmask (a bit past the file's dims
          at times): BART's dims, the same bound over the combined count.
  nufft   mvtool nufft [-a] [-d X:Y:Z] [--tol T] and bart nufft on random
          points and radial spokes, 2D and 3D, 1..3 coils, even and odd
          sizes. Reference: the exact NUDFT of >>api-nufft in float64 on the
          float32 coordinates of the file: medvol's relative l2 error must
          be <= T (its documented accuracy; relative to the larger of
          ||exact|| and its expected size, ||f|| sqrt(M / N) forward and
          ||y|| adjoint, since three points can cancel by chance). Against BART (even sizes only:
          BART 0.8's NUFFT is wrong for odd sizes, ~0.6 from the exact NUDFT,
          printed after the fixed cases): ||medvol - bart|| / ||bart|| <=
          1e-2 (BART's own error here is 1e-3..2e-3, measured and printed; a
          sign, centre or scale difference is O(1), a 2 % scale error
          fails). BART's default k-space is not periodic: it loses samples
          within ~1.5 of the edge k = +-N/2 (errors up to 2x), so cases with
          points within 2 of it run bart nufft -P (periodic, what >>api-nufft
          defines: "coordinates are periodic with period N").
          Without -d the adjoint's image dims must equal BART's estimate
          (a 1D estimate is MV_ERR_UNSUPPORTED, as documented).
  ecalib  mvtool ecalib and bart ecalib, -m 1 or (30%) -m 2 (defaults, or
          random -r, -k, -c) on small multi-coil phantoms: the maps' and the
          eigenvalues' files in BART's layout (the same 16 sizes), every map:
          eigenvalue maps within 1e-4 (float32 power iterations; measured
          1e-5), or, in a voxel that BART's 30 iterations leave unconverged
          (two close eigenvalues), within 2% of that voxel's distance to the
          converged value (mvtool ecalib --iter 1000: BART's float32 steps
          part from float64 ones in proportion to the way still to go;
          measured 0.2% and 0.7%); in the voxels both
          keep, 1 - |<m, b>| <= 1e-4 (a voxel's map is a unit eigenvector)
          and the phase of <m, b> within 1e-2 rad (medvol.h promises BART's
          rotphase: one phase reference for all voxels, so any difference is
          one constant); the kept supports may differ only where the
          eigenvalue is within 0.02 of the crop. Sizes odd and even, some
          with every R-th line and an ACS band (the box stops at the band
          and sits where BART's window puts it).
  pics    mvtool pics -l2 -S and bart pics -l2 -S with BART's maps (40%:
          ecalib's two, the image one volume per map) on
          small k-space (random lambda, iterations; 30% without -S, where
          both divide by their data scale estimate): Cartesian with random
          R (both run CG from 0 on the same normal equations in float32:
          ||medvol - bart|| / ||bart|| <= 2e-4, float32 rounding over <= 30
          iterations; where that fails, with -S, both are compared with the
          same CG in float64 and medvol must be within max(2e-4, 3x BART's
          distance) of it: lambda 0 with two coils amplifies float32
          rounding, measured 2.5e-4 between the two), or radial (-t, BART's trajectory scaled by 0.4: no
          point near BART's non-periodic edge): <= 1e-2, because CG iterates
          before convergence amplify the ~1e-3 difference of the two NUFFTs
          (measured up to 3.5e-3; a float64 CG with the exact NUDFT differs
          from both by up to 1e-2 at 10 iterations); with lambda 1 and 30
          iterations (converged) medvol must also be within 1e-3 of the exact
          solution of (A^H A + lambda I) x = A^H y (numpy, float64).
  scale   bart pics -d 5 (its "Scaling:" line: the data scale pics divides
          by without -S) and mv_bart_scale_estimate (through this driver)
          on random 2D/3D odd/even k-space with undersampling around an ACS
          band of random width and offset: within 1e-5 relative (+1e-6: BART
          prints %f); cases where BART's p90/max choice is a tie within
          rounding are counted, not compared.
  cc      bart cc [-S|-G] [-A] [-r S|X:Y:Z] -p P | -M against mvtool cc (and a
          share of the SVD -p cases against mv_coil_compress through this
          driver), bart ccapply [-u] [-t] [-S|-G] against mvtool ccapply on
          BART's own matrix (fam_cc): every virtual coil and matrix column
          BART's up to a real sign within 1e-4 (SVD) / 1e-3 (geometric), or
          3e-6 over its eigenvalue gap where larger; ccapply within 1e-5 /
          1e-4; a BART "Empty calibration region" must be medvol's
          MV_ERR_BAD_DATA naming the box.
  homodyne bart homodyne [-r] [-C] [-n] [-I] [-P] and mvtool homodyne on
          random smooth multi-coil images' partial k-space (fam_homodyne):
          within 1e-5.
  thresh  bart threshold [-W|-H|-B|-j] and mvtool threshold on random
          complex arrays (fam_thresh).
  l1      bart pics -l1 / -R W (FISTA, BART's wavelet and random shifts)
          and mvtool pics on random Cartesian 2D/3D and radial data
          (fam_l1: sizes of every residue mod 4, BART's fftmod).
  tv      bart pics -R T (isotropic TV by ADMM) likewise (fam_l1).
  admm    bart pics with two or three terms of -R Q, W, I, T and S in a
          random order, or one with -m (BART's ADMM over several terms), or
          -R I / -R S alone (FISTA), likewise.
  llr     bart pics -R L:XFLAGS:JFLAGS:LAMBDA (locally low rank over a
          series of 2..7 frames: BART's lrthresh, random block shifts from
          rand()) alone (FISTA) or with another term (ADMM), random -b,
          flags, -n, Cartesian 2D/3D with every frame its own lines, or
          radial with a trajectory per frame, the frames in BART's axis 5
          or 10; a fifth of the cases -l2 or -R T alone with mvtool
          --joint; half the TV terms along the frames too (-R T:35 or
          T:1027) (fam_llr).
  array   bart's array commands (noise, poisson, vec, index, delta, upat,
          scale, saxpy, conj, creal, cabs, carg, invert, cpyphs, zexp,
          spow, fmac, avg, var, std, mip, normalize, pattern, nrmse, sdot,
          show, resize, crop, extract, slice, join, flip, circshift,
          transpose, reshape, repmat, squeeze, zeros, ones, copy,
          fovshift, window, filter (-m, -G, -a), casorati, flatten) against
          mvtool's on random 16-axis arrays with zeros, signed zeros, tiny
          and huge samples and random arguments: bart's sizes and bytes; a
          sum (fmac -s, avg, var, std, normalize, pattern) within 1e-6 of
          bart's where its order differs; nrmse, sdot, show and poisson the
          same text; a command bart refuses mvtool refuses too, but for
          poisson's grids that bart asserts on (counted).
  rof     bart rof (TV denoising) on noisy 2D, 3D and series images along
          random axes: within 1e-5 of bart's image.
  tgv     bart tgv and bart ictv (random -i, -u) the same way: within 1e-5
          of bart's array (the image and its fields or parts).
  measure bart measure (all, or one option; printed or OUT) on random
          multi-coil images with items: within 2e-5 of bart's values.
  walsh   bart walsh and ecalib -1 (random calibration sizes, blocks,
          kernels, 2D/3D, odd sizes, undersampled with a fully sampled
          centre), then ecaltwo of bart's Gram matrices to a larger size
          (-m, -c, -S at random): the Gram matrices within 1e-5 / 1e-4, the
          maps and eigenvalues within 1e-4, the text equal.

First the fixed cases: minimal reproducers of the disagreements found
(ESPIRiT's phase reference, BART's getopt spellings that mvtool refuses, the
adjoint NUFFT of a trajectory with frames), and BART 0.8's own limits that
the random cases work around (printed only).
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

BART = os.environ.get('BART', 'bart')
FAMILIES = ['cfl', 'hdr', 'traj', 'estdelay', 'fft', 'rss', 'nufft', 'ecalib', 'pics', 'scale', 'cc', 'homodyne', 'thresh', 'l1', 'tv', 'admm',
            'llr', 'subspace', 'nlinv', 'rtnlinv', 'twix', 'array', 'rof', 'tgv', 'measure', 'walsh', 'wavelet', 'cdf97', 'epg']
FILE_STATUSES = ('MV_ERR_BAD_HEADER', 'MV_ERR_TRUNCATED', 'MV_ERR_BAD_DATA', 'MV_ERR_NOT_FOUND',
                 'MV_ERR_SIZE_OVERFLOW', 'MV_ERR_UNSUPPORTED')


# --- .cfl files, written and read here without medvol -----------------------

def write_cfl(name, a, ndims=None):
    """a: numpy array indexed [d0, d1, ...] (BART's dims order, d0 fastest on
    disk); the header lists ndims sizes (default: a.ndim, at least 1)."""
    a = np.asarray(a, np.complex64)
    dims = list(a.shape) + [1] * ((ndims or 1) - a.ndim)
    with open(name + '.hdr', 'w') as f:
        f.write('# Dimensions\n' + ' '.join(str(d) for d in dims) + ' \n')
    a.ravel(order='F').tofile(name + '.cfl')


def hdr_dims(name):
    """The 16 sizes of a header BART wrote (after its "# Dimensions" line)"""
    with open(name + '.hdr') as f:
        lines = f.read().split('\n')
    d = [int(x) for x in lines[lines.index('# Dimensions') + 1].split()]
    return d + [1] * (16 - len(d))


def read_cfl(name, ndim=None):
    """The samples as a numpy array of the first ndim sizes (default: up to
    the last size > 1); None when a later size is not 1"""
    d = hdr_dims(name)
    if ndim is None:
        ndim = len(trim(d))
    if int(np.prod(d[ndim:])) != 1:
        return None
    return np.fromfile(name + '.cfl', np.complex64).reshape(d[:ndim], order='F')


class Runner:
    """Runs commands in one directory and remembers them for the report"""

    def __init__(self, d):
        self.d, self.log, self.keep = d, [], False

    def __call__(self, cmd, check=False):
        self.log.append(' '.join(cmd))
        r = subprocess.run(cmd, cwd=self.d, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError('%s: exit %d: %s' % (' '.join(cmd), r.returncode, (r.stderr or r.stdout).strip()))
        return r

    def repro(self):
        return '\n'.join('    (cd %s && %s)' % (self.d, c) for c in self.log)


def medvol_line(r):
    """diff_bart's "ok NDIM D..." / "err STATUS DETAIL" -> (True, dims) / (False, status, detail)"""
    if r.returncode != 0 or not r.stdout.strip():
        return (None, 'exit %d' % r.returncode, (r.stderr or '').strip())
    first = r.stdout.strip().split('\n')[0]  # scale prints a second line
    w = first.split(' ', 2)
    if w[0] == 'ok':
        return (True, [int(x) for x in first.split()[2:]])
    return (False, w[1], w[2] if len(w) > 2 else '')


def bart_show_dims(run, name):
    r = run([BART, 'show', '-m', name])
    if r.returncode != 0:
        return None
    for line in r.stdout.split('\n'):
        if line.startswith('AoD:'):
            return [int(x) for x in line.split()[1:]]
    return None


def trim(dims):
    """medvol's dims of a BART size list: trailing ones dropped, ndim >= 1"""
    n = max([k + 1 for k in range(len(dims)) if dims[k] > 1] + [1])
    return list(dims[:n])


def crandn(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale


# --- the families -------------------------------------------------------------

class Ctx:
    def __init__(self, exe, tool, root, rng):
        self.exe, self.tool, self.root, self.rng = exe, tool, root, rng
        self.bad, self.n = 0, 0
        self.notes = {}
        self.worst = {}

    def case_dir(self, fam):
        self.n += 1
        d = os.path.join(self.root, '%s%d' % (fam, self.n))
        os.mkdir(d)
        return d

    def fail(self, fam, what, run):
        self.bad += 1
        print('FAIL %s: %s\n  reproduce:\n%s' % (fam, what, run.repro()))
        run.keep = True

    def note(self, key):
        self.notes[key] = self.notes.get(key, 0) + 1

    def ratio(self, fam, r):
        self.worst[fam] = max(self.worst.get(fam, 0.0), float(r))


def draw_dims16(rng, beyond):
    """1..16 sizes, many ones; beyond: one size > 1 at axis 7..15"""
    nd = int(rng.integers(1, 17))
    d = [int(rng.choice([1, 1, 1, 2, 3, 4, 5])) for _ in range(nd)]
    while int(np.prod(d)) > 2048:
        d[int(np.argmax(d))] = 1
    if beyond:
        nd = max(nd, 8)
        d += [1] * (nd - len(d))
        d[int(rng.integers(7, nd))] = int(rng.choice([2, 3]))
    return d


def fam_cfl(c, run, d):
    rng = c.rng
    beyond = rng.random() < 0.15
    dims = draw_dims16(rng, beyond)
    n = int(np.prod(dims))
    raw = rng.integers(0, 2 ** 32, 2 * n, dtype=np.uint64).astype(np.uint32)  # any bit pattern
    if rng.random() < 0.5:
        raw = np.frombuffer(crandn(rng, n).astype(np.complex64).tobytes(), np.uint32).copy()
    raw.tofile(os.path.join(d, 'src.cfl'))
    with open(os.path.join(d, 'src.hdr'), 'w') as f:
        f.write('# Dimensions\n' + ' '.join(str(x) for x in dims) + '\n')
    run([BART, 'copy', 'src', 'b'], check=True)
    bdims = hdr_dims(os.path.join(d, 'b'))
    mname = str(rng.choice(['m', 'm.cfl', 'm.hdr']))
    res = medvol_line(run([c.exe, 'copy', str(rng.choice(['b', 'b.cfl', 'b.hdr'])), mname]))
    nd = len(trim(bdims))
    if nd > 7:
        # medvol.h mv_cfl_load: "dims 8..16 must be 1 on load (MV_ERR_UNSUPPORTED
        # naming the file and dimension)"
        if res[0] is not False or res[1] != 'MV_ERR_UNSUPPORTED' or 'b.hdr' not in res[2]:
            c.fail('cfl', 'dims %s (a size > 1 on axis %d): medvol %r, expected MV_ERR_UNSUPPORTED naming b.hdr'
                   % (bdims, nd, res), run)
        c.note('cfl: sizes beyond axis 7 refused (documented)')
        return
    if res[0] is not True or res[1] != trim(bdims):
        c.fail('cfl', 'BART dims %s: medvol read %r' % (bdims, res), run)
        return
    with open(os.path.join(d, 'b.cfl'), 'rb') as f:
        bbytes = f.read()
    with open(os.path.join(d, 'm.cfl'), 'rb') as f:
        mbytes = f.read()
    if mbytes != bbytes:
        c.fail('cfl', 'medvol wrote %d bytes unlike BART\'s %d (first difference at byte %s)' % (
            len(mbytes), len(bbytes), next((i for i in range(min(len(mbytes), len(bbytes))) if mbytes[i] != bbytes[i]),
                                           min(len(mbytes), len(bbytes)))), run)
        return
    bh = open(os.path.join(d, 'b.hdr')).read().split('\n')[:2]
    mh = open(os.path.join(d, 'm.hdr')).read().split('\n')[:2]
    if bh != mh:
        c.fail('cfl', 'header lines %r, BART %r' % (mh, bh), run)
        return
    r = run([BART, 'copy', 'm', 'back'])
    if r.returncode != 0:
        c.fail('cfl', 'bart copy refuses medvol\'s pair: %s' % r.stderr.strip(), run)
        return
    with open(os.path.join(d, 'back.cfl'), 'rb') as f:
        if f.read() != bbytes or hdr_dims(os.path.join(d, 'back')) != bdims:
            c.fail('cfl', 'bart copy of medvol\'s pair differs from BART\'s', run)


HDR_MUTATIONS = ['bart', 'short', 'crlf', 'spaces', 'command_first', 'sections_after', 'nofinalnl',
                 'zero', 'negative', 'junk', 'typo', 'empty_dims', 'too_many', 'huge', 'cfl_size', 'missing',
                 'empty_hdr', 'binary', 'duplicate', 'blank_first', 'comment_after', 'beyond7']
BART_FORMS = ('bart', 'short', 'crlf', 'spaces', 'command_first', 'sections_after', 'nofinalnl')


def fam_hdr(c, run, d):
    rng = c.rng
    mut = str(rng.choice(HDR_MUTATIONS))
    dims = [int(rng.choice([1, 2, 3, 4])) for _ in range(int(rng.integers(1, 8)))]
    if dims[0] == 1 and rng.random() < 0.5:
        dims[0] = 2
    size = 8 * int(np.prod(dims))
    sizes = [str(x) for x in dims] + ['1'] * (16 - len(dims))
    body = ' '.join(sizes) + ' '
    text = '# Dimensions\n%s\n# Command\nbart ones\n# Files\n >x\n# Creator\nBART v0.8.00\n' % body
    if mut == 'short':  # BART's own form for fewer dims (bart ones 3 ...)
        text = '# Dimensions\n%s \n' % ' '.join(str(x) for x in dims)
    elif mut == 'crlf':
        text = text.replace('\n', '\r\n')
    elif mut == 'spaces':
        text = '# Dimensions\n  ' + '\t '.join(sizes) + '   \n'
    elif mut == 'command_first':
        text = '# Command\nbart ones 2 3 4 x\n' + text
    elif mut == 'sections_after':
        text = '# Dimensions\n%s\n# Command\n2 3 4\n# Files\n' % body
    elif mut == 'nofinalnl':
        text = '# Dimensions\n%s' % body
    elif mut in ('zero', 'negative', 'junk', 'huge'):
        k = int(rng.integers(0, len(sizes)))
        tok = {'zero': '0', 'negative': str(-int(rng.integers(1, 4))),
               'junk': str(rng.choice(['x', '2x', '0x10', '1e3', '2.5', '+2', '-', '3,', 'nan'])),
               'huge': str(rng.choice(['99999999999999999999', '4611686018427387904', '2147483648',
                                       '18446744073709551617', '4294967297']))}[mut]
        sizes[k] = tok
        text = '# Dimensions\n%s \n' % ' '.join(sizes)
    elif mut == 'typo':
        text = str(rng.choice(['# Dimension', '# dimensions', '#Dimensions', 'Dimensions', '# Dimensions:',
                               '## Dimensions', '# Dimensions 3'])) + '\n%s\n' % body
    elif mut == 'empty_dims':
        text = '# Dimensions\n\n' + ('%s\n' % body if rng.random() < 0.5 else '')
    elif mut == 'too_many':
        extra = ['1'] * int(rng.integers(1, 4))
        if rng.random() < 0.5:
            extra[-1] = '2'
            size *= 2
        text = '# Dimensions\n%s \n' % ' '.join(sizes + extra)
    elif mut == 'cfl_size':
        size += int(rng.choice([-8, 8, -1, 1, 7]))
        if size < 0:
            size = 1
    elif mut == 'empty_hdr':
        text = ''
    elif mut == 'binary':
        k = int(rng.integers(0, len(text)))
        text = text[:k] + str(rng.choice(['\0', '\x7f', '\xff', '\x01'])) + text[k:]
    elif mut == 'duplicate':
        other = [str(int(x) + 1) for x in sizes]
        text = '# Dimensions\n%s\n# Dimensions\n%s\n' % (body, ' '.join(other))
    elif mut == 'blank_first':
        text = '\n' + text
    elif mut == 'comment_after':
        text = '# Dimensions\n%s # a comment\n' % body
    elif mut == 'beyond7':
        k = int(rng.integers(7, 16))
        sizes[k] = '2'
        size *= 2
        text = '# Dimensions\n%s \n' % ' '.join(sizes)
    gone = str(rng.choice(['hdr', 'cfl'])) if mut == 'missing' else ''
    if gone != 'hdr':
        with open(os.path.join(d, 'h.hdr'), 'w', encoding='latin-1') as f:
            f.write(text)
    if gone != 'cfl':
        np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tofile(os.path.join(d, 'h.cfl'))
    bd = bart_show_dims(run, 'h')
    res = medvol_line(run([c.exe, 'load', 'h']))
    if res[0] is None:
        c.fail('hdr', '%s: medvol crashed or printed nothing: %s %s' % (mut, res[1], res[2]), run)
    elif res[0]:
        if bd is not None and trim(bd) != res[1]:
            c.fail('hdr', '%s: medvol reads dims %s, BART %s' % (mut, res[1], bd), run)
        elif bd is None:
            # BART refuses text medvol reads: a leading blank line, a second
            # "# Dimensions" section (medvol.h: "more sections ... are ignored")
            c.note('hdr: medvol reads, BART refuses: %s' % mut)
    else:
        if mut in BART_FORMS:
            c.fail('hdr', '%s (BART\'s form): medvol refuses: %s %s' % (mut, res[1], res[2]), run)
        elif res[1] not in FILE_STATUSES or 'h.' not in res[2]:
            c.fail('hdr', '%s: status %s "%s" (want a file status naming the file)' % (mut, res[1], res[2]), run)
        elif bd is not None:
            c.note('hdr: BART reads, medvol refuses (%s): %s' % (res[1], mut))


def traj_flags(rng, d):
    """bart traj 0.8's options at random (files for -C and -V written in d)"""
    flags = [['-r']] if rng.random() < 0.8 else []
    radial = bool(flags)
    for f, p in (('-G', 0.3), ('-H', 0.1), ('-D', 0.3), ('-c', 0.3), ('-3', 0.2), ('-l', 0.15), ('-g', 0.15),
                 ('-O', 0.15), ('-E', 0.15)):
        if rng.random() < p:
            flags.append([f])
    if rng.random() < 0.2:
        flags.append(['-s', str(int(rng.integers(1, 14)))])
    for f, hi, p in (('-e', 4, 0.25), ('-t', 5, 0.25), ('-m', 5, 0.25)):
        if rng.random() < p:
            flags.append([f, str(int(rng.integers(1, hi)))])
    if rng.random() < 0.15 and not (radial and rng.random() < 0.8):  # bart asserts on -a with -r
        flags.append(['-a', str(int(rng.integers(1, 4)))])
    if rng.random() < 0.15:
        flags.append(['-o', str(float(rng.choice([0.5, 1.5, 2.0, 1.7])))])
    if rng.random() < 0.15:
        flags.append(['-d', str(int(rng.integers(1, 160)) + (300 if rng.random() < 0.5 else 0))])
    if rng.random() < 0.2:
        flags.append(['-R', '%.3f' % float(rng.uniform(-200, 200))])
    for f in ('-q', '-Q'):
        if rng.random() < 0.2:
            flags.append([f, ':'.join('%.3f' % v for v in rng.uniform(-2, 2, 3))])
    if rng.random() < 0.1:
        flags.append(['-z', rng.choice(['1:2', '2:2', '2', '0:3'])])
    if radial and rng.random() < 0.1:
        n = int(rng.integers(1, 12))
        write_cfl(os.path.join(d, 'ang'), (rng.uniform(0, 7, n) + 1j * rng.uniform(-1.5, 1.5, n)).astype(np.complex64))
        flags.append(['-C', 'ang'])
    if rng.random() < 0.1:
        write_cfl(os.path.join(d, 'del'), (rng.uniform(-1, 1, 3) + 0j).astype(np.complex64))
        flags.append(['-V', 'del'])
    return [a for i in rng.permutation(len(flags)) for a in flags[i]]

def fam_traj(c, run, d):
    """bart traj with its options at random, and bart estdims of the result:
    bart's sizes and bytes (within 2 ulps: counted where not bit for bit),
    the same refusals"""
    rng = c.rng
    x = int(rng.choice([1, 2, 3, int(rng.integers(4, 33)), int(rng.integers(33, 71)), int(rng.integers(71, 513))]))
    y = int(rng.choice([1, 2, 3, int(rng.integers(4, 33)), int(rng.integers(33, 71)), int(rng.integers(71, 603))]))
    argv = traj_flags(rng, d)
    argv += ['-x', str(x), '-y', str(y)]
    rb = run([BART, 'traj'] + argv + ['b'])
    rm = run([c.tool, 'traj'] + argv + ['m'])
    if (rb.returncode == 0) != (rm.returncode == 0):
        c.fail('traj', 'bart exit %d, mvtool exit %d: %s' % (rb.returncode, rm.returncode,
                                                            (rm.stderr or rb.stderr).strip()), run)
        return
    if rb.returncode != 0:
        c.note('traj: both refuse: %s' % rb.stderr.strip().replace('\x1b[31m', '').replace('\x1b[0m', ''))
        return
    bd, md = hdr_dims(os.path.join(d, 'b')), hdr_dims(os.path.join(d, 'm'))
    if bd != md:
        c.fail('traj', 'dims %s, BART %s' % (md, bd), run)
        return
    b = np.fromfile(os.path.join(d, 'b.cfl'), np.float32)
    m = np.fromfile(os.path.join(d, 'm.cfl'), np.float32)
    ulp = np.spacing(np.maximum(np.abs(b), np.float32(1.0)).astype(np.float32)).astype(np.float64)
    err = np.abs(m.astype(np.float64) - b) / ulp
    same_nan = np.isnan(m) & np.isnan(b)  # bart traj -3 with one spoke: 0/0 in BART's spiral (both)
    err[same_nan] = 0.0
    if same_nan.any():
        c.note('traj: NaN in BART\'s output and medvol\'s alike (-3, Y = 1)')
    c.ratio('traj', float(err.max()) / 2.0 if err.size else 0.0)
    if not np.all(err <= 2.0):
        i = int(np.argmax(err))
        c.fail('traj', 'float %d (point %d, axis %d) is %.9g, BART %.9g (%.1f ulps)' % (
            i, i // 6, (i // 2) % 3, m[i], b[i], err[i]), run)
    elif np.any((m != b) & ~same_nan):
        c.note('traj: values not bit for bit (within 2 ulps): %s' % ' '.join(argv[:-4]))
    if not same_nan.any():
        eb, em = run([BART, 'estdims', 'b']), run([c.tool, 'estdims', 'b'])
        if (eb.returncode, eb.stdout) != (em.returncode, em.stdout):
            c.fail('traj', 'estdims: bart %r (exit %d), mvtool %r (exit %d)' % (eb.stdout, eb.returncode, em.stdout,
                                                                            em.returncode), run)


def fam_estdelay(c, run, d):
    """bart estdelay, AC-adaptive or RING (random -p, -n, -r), on BART's
    phantom k-space at a delayed radial trajectory (bart traj -q, bart
    phantom -k -t), from the nominal one: the printed delays within 5e-5
    of bart's (their FFTs differ: FFTW's and medvol's), the same warnings
    counted, the same refusals"""
    rng = c.rng
    x = int(rng.integers(8, 161))
    y = int(rng.integers(2, 81))
    base = ['-r', '-x', str(x), '-y', str(y)]
    for f, p in (('-D', 0.5), ('-G', 0.3), ('-c', 0.3)):
        if rng.random() < p:
            base.append(f)
    if rng.random() < 0.3:
        base += ['-o', '2']
    q = ':'.join('%.3f' % v for v in rng.uniform(-1.5, 1.5, 3))
    run([BART, 'traj'] + base + ['-q', q, 't'], check=True)
    run([BART, 'traj'] + base + ['n'], check=True)
    run([BART, 'phantom', '-s', str(int(rng.integers(1, 9))), '-k', '-t', 't', 'k'], check=True)
    opts = []
    if rng.random() < 0.4:
        opts = ['-R']
        if rng.random() < 0.5:
            opts += ['-p', str(2 * int(rng.integers(5, 51)))]
        if rng.random() < 0.4:
            opts += ['-n', str(int(rng.integers(1, 4)))]
        if rng.random() < 0.4:
            opts += ['-r', '%.2f' % float(rng.uniform(1.0, 3.0))]
    rb = run([BART, 'estdelay'] + opts + ['n', 'k'])
    rm = run([c.tool, 'estdelay'] + opts + ['n', 'k'])
    what = 'estdelay %s on traj %s -q %s' % (' '.join(opts), ' '.join(base), q)
    if rb.returncode == 0 and rm.returncode != 0 and ('do not determine' in rm.stderr or 'equally far' in rm.stderr):
        # degenerate: spokes at too few angles (bart solves a singular system in float: noise) or an odd
        # DC-sampled spoke whose samples X/2 and X/2 + 1 are equally far out (bart divides by 0: inf)
        c.note('estdelay: degenerate, bart printed %s, mvtool refused' % (
            'inf/nan' if ('inf' in rb.stdout or 'nan' in rb.stdout) else 'a singular solve'))
        return
    if rb.returncode != 0 or rm.returncode != 0:
        if (rb.returncode == 0) != (rm.returncode == 0) or not rm.stderr.strip():
            c.fail('estdelay', '%s: bart exit %d, mvtool exit %d %s' % (what, rb.returncode, rm.returncode,
                                                                       rm.stderr.strip()), run)
        else:
            c.note('estdelay: refused by both')
        return
    vb = [float(v) for v in rb.stdout.strip().split(':')]
    vm = [float(v) for v in rm.stdout.strip().split(':')]
    e = max(abs(a - b) for a, b in zip(vm, vb))
    c.ratio('estdelay (of 5e-5)', e / 5e-5)
    if not e <= 5e-5:
        c.fail('estdelay', '%s: mvtool %s, bart %s' % (what, rm.stdout.strip(), rb.stdout.strip()), run)
    wb, wm = 'larger region' in rb.stderr, 'larger region' in rm.stderr
    if wb != wm:
        c.fail('estdelay', '%s: bart warns of the region %s, mvtool %s' % (what, wb, wm), run)


def noisy_disc(rng, d, nmax):
    """IN for rof, tgv and ictv: a disc on a ramp plus noise, 2D, 3D or a
    series in axis 10 (sides up to nmax), written as d/in; its 16 sizes"""
    shape = [int(rng.integers(4, nmax)), int(rng.integers(4, nmax))] + ([int(rng.integers(2, 12))] if rng.random() < 0.3 else [1])
    dims = shape + [1] * 7 + ([int(rng.integers(2, 4))] if rng.random() < 0.3 else [1])
    g = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing='ij')
    img = (np.sqrt(sum(x * x for x in g)) < 0.6).astype(np.float64) + 0.3 * g[0]
    a = np.broadcast_to(img.reshape(shape + [1] * 8), dims).astype(np.complex128)
    a = a + float(rng.uniform(0.01, 0.2)) * crandn(rng, dims)
    write_cfl(os.path.join(d, 'in'), a.astype(np.complex64), 16)
    return dims


def same_array_within(c, run, d, fam, what, rb, rm, tol):
    """bart's d/b against mvtool's d/m: both ran, the same shape, relative
    l2 within tol (the same bytes counted)"""
    if rb.returncode != 0 or rm.returncode != 0:
        c.fail(fam, '%s: bart exit %d, mvtool exit %d %s' % (what, rb.returncode, rm.returncode, rm.stderr.strip()), run)
        return
    b, m = read_cfl(os.path.join(d, 'b')), read_cfl(os.path.join(d, 'm'))
    if b.shape != m.shape:
        c.fail(fam, '%s: shape %s, bart %s' % (what, m.shape, b.shape), run)
        return
    e = float(np.linalg.norm((m - b).ravel()) / max(np.linalg.norm(b.ravel()), 1e-30))
    c.ratio('%s (of %g)' % (fam, tol), e / tol)
    if not e <= tol:
        c.fail(fam, '%s: %.3g from bart\'s array' % (what, e), run)
    elif b.tobytes() != m.tobytes():
        c.note('%s: within float rounding, not bart\'s bytes' % fam)


def fam_rof(c, run, d):
    """bart rof (TV denoising by its ADMM) on a noisy piecewise-smooth
    image, 2D, 3D or a series in axis 10, along random axes: within 1e-5
    (relative l2) of bart's image, the same bytes counted; a fresh output
    file each (bart rof starts from its output file's old contents)"""
    rng = c.rng
    dims = noisy_disc(rng, d, 40)
    lam = '%.4g' % float(rng.uniform(0.001, 0.5))
    flags = str(int(rng.choice([1, 2, 3, 4, 5, 7, 1024, 1027, 8])))
    rb = run([BART, 'rof', lam, flags, 'in', 'b'])
    rm = run([c.tool, 'rof', lam, flags, 'in', 'm'])
    same_array_within(c, run, d, 'rof', 'rof %s %s on %s' % (lam, flags, dims), rb, rm, 1e-5)


def fam_tgv(c, run, d):
    """bart tgv or bart ictv (random -i / -u) on a noisy piecewise-smooth
    image, 2D, 3D or a series in axis 10, along random axes (ictv: two
    sets, each with an axis longer than 1, at most three such axes in all):
    within 1e-5 (relative l2) of bart's array, the image and the fields or
    parts in axis 15; a fresh output file each"""
    rng = c.rng
    dims = noisy_disc(rng, d, 32)
    lam = '%.4g' % float(rng.uniform(0.001, 0.3))
    long_axes = [ax for ax in range(16) if ax < len(dims) and dims[ax] > 1]
    if rng.random() < 0.5:
        flags = str(int(rng.choice([1, 2, 3, 4, 5, 7, 1024, 1027, 8])))
        args = ['tgv', lam, flags]
    else:
        f1 = f2 = 0
        while not any(f1 >> ax & 1 for ax in long_axes) or not any(f2 >> ax & 1 for ax in long_axes) \
                or sum(1 for ax in long_axes if (f1 | f2) >> ax & 1) > 3:
            f1, f2 = int(rng.choice([1, 2, 3, 7, 1024, 1027, 6])), int(rng.choice([1, 2, 3, 4, 7, 1024, 1025]))
        opts = (['-i', str(int(rng.integers(5, 120)))] if rng.random() < 0.4 else []) + \
            (['-u', '%.3g' % float(rng.uniform(0.05, 2))] if rng.random() < 0.4 else [])
        args = ['ictv'] + opts + [lam, str(f1), str(f2)]
    rb = run([BART] + args + ['in', 'b'])
    rm = run([c.tool] + args + ['in', 'm'])
    same_array_within(c, run, d, 'tgv', '%s on %s' % (' '.join(args), dims), rb, rm, 1e-5)

def fam_measure(c, run, d):
    """bart measure (all measures, or one of --mse, --mse-mag, --ssim,
    --psnr, printed or written) on random multi-coil 1D/2D/3D images with
    items in axes 4, 10 and 15, values near 1 and noise of 5 to 30%: the
    same names and values within 2e-5 (bart sums its squares in float)"""
    rng = c.rng
    nx = int(rng.choice([1, int(rng.integers(7, 30))]))
    ny = int(rng.integers(7, 30)) if nx == 1 or rng.random() < 0.8 else 1
    dims = [nx, ny, int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 3))] + [1] * 5 + \
        [int(rng.integers(1, 3))] + [1] * 4 + [int(rng.integers(1, 3))]
    ref = 1 + 0.5 * crandn(rng, dims)
    x = ref + float(rng.uniform(0.05, 0.3)) * crandn(rng, dims)
    write_cfl(os.path.join(d, 'r'), ref.astype(np.complex64), 16)
    write_cfl(os.path.join(d, 'x'), x.astype(np.complex64), 16)
    opt = [str(rng.choice(['--mse', '--mse-mag', '--ssim', '--psnr']))] if rng.random() < 0.5 else []
    out = rng.random() < 0.3
    rb = run([BART, 'measure'] + opt + ['r', 'x'] + (['b'] if out else []))
    rm = run([c.tool, 'measure'] + opt + ['r', 'x'] + (['m'] if out else []))
    what = 'measure %s on %s' % (' '.join(opt + (['OUT'] if out else [])), dims)
    if rb.returncode != 0 or rm.returncode != 0:
        c.fail('measure', '%s: bart exit %d, mvtool exit %d %s' % (what, rb.returncode, rm.returncode, rm.stderr.strip()), run)
        return
    if out:
        b, m = read_cfl(os.path.join(d, 'b')), read_cfl(os.path.join(d, 'm'))
        if b.shape != m.shape:
            c.fail('measure', '%s: shape %s, bart %s' % (what, m.shape, b.shape), run)
            return
        bv, mv = b.real.ravel(), m.real.ravel()
    else:
        lb = [l.rsplit(None, 1) if ':' in l else ['', l.strip()] for l in rb.stdout.split('\n') if l.strip()]
        lm = [l.rsplit(None, 1) if ':' in l else ['', l.strip()] for l in rm.stdout.split('\n') if l.strip()]
        if [p[0] for p in lb] != [p[0] for p in lm]:
            c.fail('measure', '%s: lines %s, bart %s' % (what, lm, lb), run)
            return
        bv, mv = np.array([float(p[1]) for p in lb]), np.array([float(p[1]) for p in lm])
    e = float(np.max(np.abs(mv - bv) / np.maximum(np.abs(bv), 1e-30)))
    c.ratio('measure (of 2e-5)', e / 2e-5)
    if not e <= 2e-5:
        c.fail('measure', '%s: %s, bart %s (%.3g apart)' % (what, mv, bv, e), run)


def fam_walsh(c, run, d):
    """bart walsh and bart ecalib -1 (random calibration sizes, blocks and
    kernels, 2D or 3D, odd sizes, a fully sampled centre in undersampled
    k-space), then bart ecaltwo of bart's Gram matrices to a random larger
    size (-m, -c, -S at random) against mvtool's: the Gram matrices within
    1e-5 (walsh) and 1e-4 (ecalib -1: another eigensolver's kernels) of
    relative l2, the maps and eigenvalues within 1e-4, the text equal"""
    rng = c.rng
    three = rng.random() < 0.3
    n = [int(rng.integers(20, 48)), int(rng.integers(20, 48)), int(rng.integers(12, 24)) if three else 1]
    C = int(rng.integers(2, 7))
    k = np.zeros(n + [C], np.complex128)
    g = np.meshgrid(*[(np.arange(m) - m // 2) / m for m in n], indexing='ij')
    obj = sum(rng.uniform(0.5, 1.5) * (sum((x - rng.uniform(-.2, .2)) ** 2 for x in g) < rng.uniform(.02, .08)) for _ in range(3))
    for q in range(C):
        t = 2 * np.pi * q / C
        sens = np.exp(-((g[0] - .5 * np.cos(t)) ** 2 + (g[1] - .5 * np.sin(t)) ** 2) / .5) * np.exp(1j * (rng.uniform(-3, 3) + 2 * g[0] * rng.uniform(-1, 1)))
        k[..., q] = centred(obj * sens, (0, 1, 2) if three else (0, 1), False)
    k += crandn(rng, k.shape, 1e-3 * np.abs(k).max())
    ry = np.zeros(n[1], bool)  # every other phase-encode line and a fully sampled band
    ry[::int(rng.integers(1, 4))] = True
    ry[n[1] // 2 - 8:n[1] // 2 + 8] = True
    k[:, ~ry] = 0
    write_cfl(os.path.join(d, 'k'), k.astype(np.complex64).reshape(n + [C]), 4)
    v3 = lambda lo, hi: ':'.join(str(int(rng.integers(lo, hi))) for _ in range(3)) if rng.random() < 0.5 else str(int(rng.integers(lo, hi)))
    wfl = (['-r', v3(6, 20)] if rng.random() < 0.7 else []) + (['-b', v3(2, 12)] if rng.random() < 0.8 else ['-b', '8'])
    if three:
        wfl[wfl.index('-b') + 1] = ':'.join(str(int(rng.integers(2, 7))) for _ in range(3))
    if three and '-r' not in wfl:  # bart's default 24 must be below every axis longer than 1
        wfl = ['-r', '10'] + wfl
    if '-r' in wfl and any(int(x) >= m for x, m in zip((wfl[wfl.index('-r') + 1].split(':') * 3)[:3], n) if m > 1):
        wfl[wfl.index('-r') + 1] = '6'
    what = 'walsh %s on %s x %d coils' % (' '.join(wfl), n, C)
    rb, rm = run([BART, 'walsh'] + wfl + ['k', 'bw']), run([c.tool, 'walsh'] + wfl + ['k', 'mw'])
    if rb.returncode != 0 and rm.returncode == 1 and 'bart asserts' in rm.stderr:
        c.note('walsh: a calibration size bart asserts on, refused by both')
        return
    if rb.returncode != 0 or rm.returncode != 0 or rb.stdout != rm.stdout:
        c.fail('walsh', '%s: bart exit %d, mvtool exit %d %s; text %r %r' % (what, rb.returncode, rm.returncode, rm.stderr.strip(),
                                                                           rb.stdout, rm.stdout), run)
        return
    b, m = read_cfl(os.path.join(d, 'bw'), 4), read_cfl(os.path.join(d, 'mw'), 4)
    e = rel(m, b)
    c.ratio('walsh Gram matrices (of 1e-5)', e / 1e-5)
    if not e <= 1e-5:
        c.fail('walsh', '%s: %.3g from bart\'s Gram matrices' % (what, e), run)
        return
    kfl = ['-k', v3(3, 7)] if rng.random() < 0.6 else []
    if '-k' in kfl:
        ks = (kfl[1].split(':') * 3)[:3]
        if any(int(x) > 16 for x in ks):
            kfl = []
    rb, rm = run([BART, 'ecalib', '-1', '-r', '16'] + kfl + ['k', 'bc']), run([c.tool, 'ecalib', '-1', '-r', '16'] + kfl + ['k', 'mc'])
    what = 'ecalib -1 -r 16 %s on %s x %d coils' % (' '.join(kfl), n, C)
    if rb.returncode != 0 or rm.returncode != 0:
        c.fail('walsh', '%s: bart exit %d, mvtool exit %d %s' % (what, rb.returncode, rm.returncode, rm.stderr.strip()), run)
        return
    b, m = read_cfl(os.path.join(d, 'bc'), 4), read_cfl(os.path.join(d, 'mc'), 4)
    e = rel(m, b) if b.shape == m.shape else np.inf
    c.ratio('ecalib -1 Gram matrices (of 1e-4)', e / 1e-4)
    if not e <= 1e-4:
        c.fail('walsh', '%s: %.3g from bart\'s Gram matrices (shapes %s %s)' % (what, e, m.shape, b.shape), run)
        return
    for src, grid in (('bw', n) if all(x % 2 == 0 or x == 1 for x in n) else (None, None), ('bc', b.shape[:3])):
        if src is None:
            continue
        size = [int(h + rng.integers(0, 9)) if h > 1 else 1 for h in grid] if src == 'bc' else list(grid)
        if src == 'bc':
            size = [max(s_, m_) if h > 1 else 1 for s_, m_, h in zip(size, n, grid)]
        efl = (['-m', str(int(rng.integers(1, min(C, 3) + 1)))] if rng.random() < 0.5 else []) + \
              (['-c', '%.2f' % rng.uniform(0.1, 0.9)] if rng.random() < 0.4 else []) + (['-S'] if rng.random() < 0.3 else [])
        args = ['ecaltwo'] + efl + [str(x) for x in size] + [src]
        what = '%s (Gram matrices of %s on %s x %d coils)' % (' '.join(args), 'walsh' if src == 'bw' else 'ecalib -1', n, C)
        rb, rm = run([BART] + args + ['be', 'bev']), run([c.tool] + args + ['me', 'mev'])
        if rb.returncode != 0 or rm.returncode != 0 or rb.stdout != rm.stdout:
            c.fail('walsh', '%s: bart exit %d, mvtool exit %d %s' % (what, rb.returncode, rm.returncode, rm.stderr.strip()), run)
            return
        for x, y, t in (('be', 'me', 'maps'), ('bev', 'mev', 'eigenvalues')):
            b, m = read_cfl(os.path.join(d, x), 5), read_cfl(os.path.join(d, y), 5)
            e = rel(m, b) if b.shape == m.shape else np.inf
            c.ratio('ecaltwo %s (of 1e-4)' % t, e / 1e-4)
            if not e <= 1e-4:
                c.fail('walsh', '%s: %s %.3g from bart\'s (shapes %s %s)' % (what, t, e, m.shape, b.shape), run)
                return


def centred(a, axes, inverse):
    if not axes:
        return a.astype(np.complex128)
    x = np.fft.ifftshift(a.astype(np.complex128), axes=axes)
    x = (np.fft.ifftn if inverse else np.fft.fftn)(x, axes=axes, norm='ortho')
    return np.fft.fftshift(x, axes=axes)


def rel(a, ref):
    n = np.linalg.norm(ref)
    return float(np.linalg.norm(a - ref) / n) if n > 0 else float(np.linalg.norm(a))


def fam_fft(c, run, d):
    rng = c.rng
    nd = int(rng.integers(1, 8))
    dims = [int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 17, 25])) for _ in range(nd)]
    while int(np.prod(dims)) > 4096:
        dims[int(np.argmax(dims))] //= 2
    mask = int(rng.integers(1, 1 << nd))
    inv = int(rng.integers(0, 2))
    form = int(rng.integers(0, 4))
    a = crandn(rng, dims).astype(np.complex64)
    write_cfl(os.path.join(d, 'in'), a, 16)
    rb = run([BART, 'fft', '-u'] + (['-i'] if inv else []) + [str(mask), 'in', 'b'])
    if rb.returncode != 0:
        c.fail('fft', 'bart fft failed: %s' % rb.stderr.strip(), run)
        return
    mnd = len(trim(dims))
    if mask >> mnd:
        c.note('fft: mask bits on trailing axes of length 1 (past medvol\'s ndim)')
        if mask & ((1 << mnd) - 1) == 0:
            c.note('fft: mask only on trailing axes of length 1 (a copy)')
    axes = tuple(k for k in range(nd) if mask >> k & 1)
    ref = centred(a, axes, inv)
    b = read_cfl(os.path.join(d, 'b'), nd)
    eb = rel(b, ref)
    c.ratio('fft (bart)', eb / 1e-6)
    if eb > 1e-6:
        c.fail('fft', 'BART\'s own result is %.3g from numpy (reference broken?)' % eb, run)
        return
    res = medvol_line(run([c.exe, 'fftc', str(mask), str(inv), str(form), 'in', 'm']))
    if res[0] is not True:
        c.fail('fft', 'medvol: %r' % (res,), run)
        return
    m = read_cfl(os.path.join(d, 'm'), nd)
    em, emb = rel(m, ref), rel(m, b)
    c.ratio('fft', em / 1e-6)
    if em > 1e-6 or emb > 2e-6:
        c.fail('fft', 'dims %s mask %d inverse %d form %d: medvol %.3g from numpy, %.3g from BART' % (
            dims, mask, inv, form, em, emb), run)
    # mvtool fft in bart fft's own form: random -u / -i / -n, a random bitmask
    # over BART's 16 axes (the fold: one frame axis past medvol's 7 at times;
    # more than 7 separate axes: transformed axis by axis)
    d16 = draw_dims16(rng, rng.random() < 0.5)
    mask16 = int(rng.integers(0, 1 << 16))
    flags = [f for f in ('-u', '-i', '-n') if rng.random() < 0.5]
    write_cfl(os.path.join(d, 'in16'), crandn(rng, d16).astype(np.complex64), 16)
    run([BART, 'fft'] + flags + [str(mask16), 'in16', 'b16'], check=True)
    r = run([c.tool, 'fft'] + flags + [str(mask16), 'in16', 'm16'])
    what = 'mvtool fft %s %d of %s' % (' '.join(flags), mask16, d16)
    if r.returncode != 0:
        c.fail('fft', '%s: %s' % (what, r.stderr.strip()), run)
        return
    if hdr_dims(os.path.join(d, 'm16')) != hdr_dims(os.path.join(d, 'b16')):
        c.fail('fft', '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, 'm16')), hdr_dims(os.path.join(d, 'b16'))), run)
        return
    b16 = np.fromfile(os.path.join(d, 'b16.cfl'), np.complex64).astype(complex)
    m16 = np.fromfile(os.path.join(d, 'm16.cfl'), np.complex64).astype(complex)
    e = np.linalg.norm(m16 - b16) / max(np.linalg.norm(b16), 1e-30)
    c.ratio('fft (mvtool, BART form)', e / 1e-6)
    if e > 1e-6:
        c.fail('fft', '%s: %.3g from BART\'s' % (what, e), run)
        return
    # mvtool fftmod / fftshift: bart's own bytes on the same 16-axis data
    # (with exact zeros and -0.0 among the samples: BART's rounding down to
    # the signs of zeros), random bitmask and direction
    z = crandn(rng, d16).astype(np.complex64).reshape(-1)
    k = rng.integers(0, z.size, size=max(1, z.size // 8))
    z.real[k[: len(k) // 2]] = -0.0
    z[k[len(k) // 2:]] = 0
    write_cfl(os.path.join(d, 'z16'), z.reshape(d16), 16)
    for cmd, opt in (('fftmod', '-i'), ('fftshift', '-b')):
        flags = [opt] if rng.random() < 0.5 else []
        mask16 = int(rng.integers(0, 1 << 16))
        run([BART, cmd] + flags + [str(mask16), 'z16', 'b16'], check=True)
        r = run([c.tool, cmd] + flags + [str(mask16), 'z16', 'm16'])
        what = 'mvtool %s %s %d of %s' % (cmd, ' '.join(flags), mask16, d16)
        if r.returncode != 0:
            c.fail('fft', '%s: %s' % (what, r.stderr.strip()), run)
            return
        mb = open(os.path.join(d, 'm16.cfl'), 'rb').read()
        bb = open(os.path.join(d, 'b16.cfl'), 'rb').read()
        if mb != bb:
            mm, bm = np.frombuffer(mb, np.uint32), np.frombuffer(bb, np.uint32)
            n = int(np.count_nonzero(mm != bm)) if mm.size == bm.size else -1
            c.fail('fft', '%s: not bart\'s bytes (%d of %d floats differ)' % (what, n, bm.size), run)
            return


def fam_rss(c, run, d):
    rng = c.rng
    nd = int(rng.integers(4, 7))
    dims = [int(rng.choice([1, 2, 3, 5, 8])) for _ in range(nd)]
    dims[3] = int(rng.choice([1, 2, 3, 4, 7, 8, 16]))
    while int(np.prod(dims)) > 4096:
        k = int(rng.choice([a for a in range(nd) if a != 3 and dims[a] > 1] or [3]))
        dims[k] = max(1, dims[k] // 2)
    form = int(rng.integers(0, 2))
    a = (crandn(rng, dims) * np.exp(rng.uniform(-5, 5, dims))).astype(np.complex64)
    write_cfl(os.path.join(d, 'in'), a, 16)
    run([BART, 'rss', '8', 'in', 'b'], check=True)
    res = medvol_line(run([c.exe, 'rss', str(form), 'in', 'm']))
    ref = np.sqrt(np.sum(np.abs(a.astype(np.complex128)) ** 2, axis=3, keepdims=True))
    if res[0] is not True:
        c.fail('rss', 'medvol: %r' % (res,), run)
        return
    bdims, mdims = hdr_dims(os.path.join(d, 'b')), hdr_dims(os.path.join(d, 'm'))
    want = bdims if form == 1 else bdims[:3] + bdims[4:] + [1]  # form 0: ">>api-mri: the coil axis removed"
    if mdims != want:
        c.fail('rss', 'form %d: dims %s, expected %s (BART %s)' % (form, mdims, want, bdims), run)
        return
    b = read_cfl(os.path.join(d, 'b'), nd)
    m = np.fromfile(os.path.join(d, 'm.cfl'), np.complex64).reshape(b.shape, order='F')
    tol = 4e-7 * dims[3] * np.abs(ref) + 1e-37
    em, eb = np.max(np.abs(m - ref) / tol), np.max(np.abs(b - ref) / tol)
    c.ratio('rss', em)
    c.ratio('rss (bart)', eb)
    if em > 1 or eb > 1 or np.any(m.imag != 0):
        c.fail('rss', 'dims %s: medvol %.3g, BART %.3g of the tolerance' % (dims, em, eb), run)
        return
    # mvtool rss with BART's argv and any bitmask (bart rss 16 combines ESPIRiT maps)
    fl = int(rng.integers(0, 1 << nd)) | (int(rng.integers(0, 2)) << nd)  # sometimes a bit past the file's dims
    run([BART, 'rss', str(fl), 'in', 'bf'], check=True)
    r = run([c.tool, 'rss', str(fl), 'in', 'mf'])
    if r.returncode != 0:
        c.fail('rss', 'mvtool rss %d: %s' % (fl, r.stderr.strip()), run)
        return
    if hdr_dims(os.path.join(d, 'mf')) != hdr_dims(os.path.join(d, 'bf')):
        c.fail('rss', 'mvtool rss %d: dims %s, BART %s' % (fl, hdr_dims(os.path.join(d, 'mf')),
                                                            hdr_dims(os.path.join(d, 'bf'))), run)
        return
    axes = tuple(ax for ax in range(nd) if fl >> ax & 1)
    ref = np.sqrt(np.sum(np.abs(a.astype(np.complex128)) ** 2, axis=axes, keepdims=True)).ravel(order='F')
    nsum = int(np.prod([dims[ax] for ax in axes]))
    tol = 4e-7 * nsum * ref + 1e-37
    mf = np.fromfile(os.path.join(d, 'mf.cfl'), np.complex64)
    bf = np.fromfile(os.path.join(d, 'bf.cfl'), np.complex64)
    em, eb = np.max(np.abs(mf - ref) / tol), np.max(np.abs(bf - ref) / tol)
    c.ratio('rss (mvtool, any bitmask)', em)
    if em > 1 or eb > 1 or np.any(mf.imag != 0):
        c.fail('rss', 'mvtool rss %d, dims %s: medvol %.3g, BART %.3g of the tolerance' % (fl, dims, em, eb), run)


def nudft(k, N, y=None, img=None):
    """exact >>api-nufft: forward f -> y_j = s sum f(x) e^{-2 pi i k.(x - N/2)/N}; adjoint the transpose"""
    xs = np.meshgrid(*[np.arange(n) - n // 2 for n in N], indexing='ij')
    ph = sum(np.multiply.outer(k[a], xs[a]) / N[a] for a in range(3) if N[a] > 1)
    E = np.exp(-2j * np.pi * ph).reshape((k.shape[1], -1), order='F') / np.sqrt(np.prod(N))  # x fastest
    if img is not None:  # img (N..., C) -> (M, C)
        return E @ img.reshape(int(np.prod(N)), -1, order='F')
    return (E.conj().T @ y).reshape(list(N) + [-1], order='F')  # y (M, C) -> (N..., C)


def fam_nufft(c, run, d):
    rng = c.rng
    three = rng.random() < 0.4
    odd = rng.random() < 0.3
    lens = [3, 5, 7, 9, 11] if odd else [2, 4, 6, 8, 10, 12, 16]
    if three:
        N = [int(rng.choice(lens[:4])) for _ in range(3)]
    else:
        N = [int(rng.choice(lens)) for _ in range(2)] + [1]
        if rng.random() < 0.2:  # the 2D image in another plane
            N = [N[0], 1, N[1]] if rng.random() < 0.5 else [1, N[0], N[1]]
    if odd and all(n % 2 == 0 for n in N):
        N[0] += 1
    used = [a for a in range(3) if N[a] > 1]
    kind = str(rng.choice(['random', 'random', 'spokes', 'bart']))
    if kind == 'bart' and not three and N[2] == 1 and N[0] == N[1]:
        X, Y = N[0], int(rng.integers(1, 9))
        run([BART, 'traj', '-r'] + (['-G'] if rng.random() < 0.5 else []) + (['-c'] if rng.random() < 0.5 else [])
            + ['-x', str(X), '-y', str(Y), 't'], check=True)
        k = read_cfl(os.path.join(d, 't'), 3).reshape(3, -1, order='F').real.astype(np.float64)
    else:
        kind = 'spokes' if kind == 'bart' else kind
        if kind == 'random':
            X, Y = int(rng.integers(1, 40)), int(rng.integers(1, 3))
            k = np.zeros((3, X * Y))
            for a in used:
                k[a] = rng.uniform(-N[a] / 2, N[a] / 2, X * Y) * rng.choice([1.0, 0.5])
        else:
            X, Y = int(rng.choice([4, 5, 8, 9])), int(rng.integers(1, 7))
            r = (np.arange(X) - X / 2 + 0.5 * rng.integers(0, 2)) / X
            dirs = rng.standard_normal((3, Y))
            for a in range(3):
                if N[a] == 1:
                    dirs[a] = 0
            dirs /= np.linalg.norm(dirs, axis=0)
            k = np.einsum('ay,x->axy', dirs * np.array(N)[:, None], r).reshape(3, -1, order='F')
        write_cfl(os.path.join(d, 't'), k.reshape((3, X, Y), order='F').astype(np.complex64))
    k = k.astype(np.float32).astype(np.float64)  # what both tools read
    M = k.shape[1]
    C = int(rng.integers(1, 4))
    adjoint = rng.random() < 0.5
    tol = float(rng.choice([1e-2, 1e-3, 1e-3, 1e-4, 1e-5, 1e-6]))
    dflag = rng.random() < 0.7 or not adjoint
    opt = (['-a'] if adjoint else []) + (['-d', '%d:%d:%d' % tuple(N)] if dflag else [])
    if adjoint:
        inp = crandn(rng, (1, X, Y, C)).astype(np.complex64)
        ref = nudft(k, N, y=inp.reshape(M, C, order='F').astype(np.complex128))
    else:
        inp = crandn(rng, tuple(N) + (C,)).astype(np.complex64)
        ref = nudft(k, N, img=inp.astype(np.complex128)).reshape((1, X, Y, C), order='F')
    write_cfl(os.path.join(d, 'in'), inp)
    tolarg = ['--tol', repr(tol)] if tol != 1e-3 or rng.random() < 0.5 else []
    rm = run([c.tool, 'nufft'] + opt + tolarg + ['t', 'in', 'm'])
    if not dflag:
        # without -d: BART's estimate of the image size (and medvol's, >>api-nufft)
        rb = run([BART, 'nufft', '-a', '-P', 't', 'in', 'b'])
        bdims = hdr_dims(os.path.join(d, 'b')) if rb.returncode == 0 else None
        if bdims and sum(x > 1 for x in bdims[:3]) < 2 and rm.returncode == 1 and 'UNSUPPORTED' in rm.stderr:
            # BART estimates a 1D image (one spoke along an axis): medvol.h
            # mv_nufft_plan_make "MV_ERR_UNSUPPORTED (1D)"
            c.note('nufft: 1D image (estimated), refused as documented')
            return
        mdims = hdr_dims(os.path.join(d, 'm')) if rm.returncode == 0 else None
        if bdims != mdims:
            c.fail('nufft', 'adjoint without -d: medvol dims %s (%s), BART %s' % (mdims, rm.stderr.strip(), bdims), run)
        return
    if rm.returncode != 0:
        c.fail('nufft', 'mvtool nufft: %s' % (rm.stderr or rm.stdout).strip(), run)
        return
    mdims = hdr_dims(os.path.join(d, 'm'))
    want = list(ref.shape) + [1] * (16 - ref.ndim)
    if mdims != want:
        c.fail('nufft', 'dims %s, expected %s' % (mdims, want), run)
        return
    m = read_cfl(os.path.join(d, 'm'), len(ref.shape)).reshape(ref.shape, order='F') if ref.size else ref
    # relative to ||exact||, or to its expected size where a few points
    # cancel by chance (forward: E||y||^2 = M ||f||^2 / N; adjoint: ||y||^2)
    scale = np.linalg.norm(inp) * (np.sqrt(M / np.prod(N)) if not adjoint else 1.0)
    em = float(np.linalg.norm(m - ref) / max(np.linalg.norm(ref), scale))
    c.ratio('nufft', em / tol)
    what = '%s N %s, %d points (%s), %d coils, tol %g: medvol %.3g from the exact NUDFT' % (
        'adjoint' if adjoint else 'forward', N, M, kind, C, tol, em)
    if em > tol:
        c.fail('nufft', what, run)
        return
    if any(N[a] % 2 for a in used):
        c.note('nufft: odd sizes, BART not compared (its NUFFT is wrong there)')
        return
    edge = any(np.any(np.abs(k[a]) > N[a] / 2 - 2) for a in used)
    rb = run([BART, 'nufft'] + (['-P'] if edge else []) + opt + ['t', 'in', 'b'])
    if rb.returncode != 0:
        c.fail('nufft', 'bart nufft: %s' % rb.stderr.strip(), run)
        return
    b = read_cfl(os.path.join(d, 'b'), len(ref.shape)).reshape(ref.shape, order='F')
    den = max(np.linalg.norm(ref), scale)  # as em's (a few points can cancel by chance)
    eb, emb = float(np.linalg.norm(b - ref) / den), float(np.linalg.norm(m - b) / den)
    c.ratio('nufft (bart vs exact, /1e-2)', eb / 1e-2)
    # both are within their own error of the exact result, so their distance
    # is bounded by the sum (a requested tolerance of 1e-2 and BART's ~2e-3
    # may add past 1e-2); a scaling or sign convention apart is O(1)
    bound = max(1e-2, 1.5 * (em + eb))
    c.ratio('nufft (medvol vs bart, /bound)', emb / bound)
    if emb > bound:
        c.fail('nufft', what + '; %.3g from BART (BART %.3g from exact)' % (emb, eb), run)


def coil_phantom(rng, n, C):
    """an (n, n, 1, C) k-space of a smooth random object seen by smooth coils"""
    x = (np.arange(n) - n // 2) / n
    X, Y = np.meshgrid(x, x, indexing='ij')
    obj = np.zeros((n, n))
    for _ in range(4):
        cx, cy, r = rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(0.1, 0.3)
        obj += rng.uniform(0.5, 1.5) * (((X - cx) ** 2 + (Y - cy) ** 2) < r * r)
    maps = []
    for c in range(C):
        t = 2 * np.pi * c / C
        maps.append(np.exp(-((X - 0.6 * np.cos(t)) ** 2 + (Y - 0.6 * np.sin(t)) ** 2) / 0.5)
                    * np.exp(1j * (rng.uniform(-np.pi, np.pi) + 2 * X * rng.uniform(-1, 1))))
    img = obj[..., None] * np.stack(maps, -1)
    k = centred(img, (0, 1), False)
    k += crandn(rng, k.shape, 1e-3 * np.abs(k).max())
    return k.reshape(n, n, 1, C)


def lines_and_acs(rng, n, R, wmin, shift):
    """a phase-encode mask of n lines: every R-th line and a band of
    wmin..n lines about the centre, moved by up to +-shift"""
    w = int(rng.integers(wmin, n + 1))
    mask = np.zeros(n, bool)
    mask[::R] = True
    c0 = max(0, n // 2 - w // 2 + int(rng.integers(-shift, shift + 1)))
    mask[c0:c0 + w] = True
    return mask, w, c0


def fam_ecalib(c, run, d):
    rng = c.rng
    n = int(rng.choice([20, 21, 24, 25, 28, 31, 32]))
    C = int(rng.integers(2, 9))
    k = coil_phantom(rng, n, C)
    if rng.random() < 0.4:  # every R-th line and an ACS band: the box stops at the band, placed as BART places it
        k = k * lines_and_acs(rng, n, int(rng.integers(2, 4)), 14, 2)[0][None, :, None, None]
    write_cfl(os.path.join(d, 'k'), k.astype(np.complex64))
    opt, crop = [], 0.8
    if rng.random() < 0.3:
        opt += ['-r', str(int(rng.choice([12, 16, 20])))]
    if rng.random() < 0.3:
        opt += ['-k', str(int(rng.choice([4, 5])))]
    if rng.random() < 0.3:
        crop = float(rng.choice([0.5, 0.9]))
        opt += ['-c', repr(crop)]
    M = 2 if rng.random() < 0.3 else 1
    run([BART, 'ecalib', '-m', str(M)] + opt + ['k', 'bs', 'be'], check=True)
    rm = run([c.tool, 'ecalib', '-m', str(M)] + opt + ['k', 'ms', 'me'])
    if rm.returncode != 0:
        c.fail('ecalib', 'mvtool ecalib: %s' % rm.stderr.strip(), run)
        return
    names = [os.path.join(d, f) for f in ('bs', 'ms', 'be', 'me')]
    if hdr_dims(names[0]) != hdr_dims(names[1]) or hdr_dims(names[2]) != hdr_dims(names[3]):  # BART's file layouts
        c.fail('ecalib', 'maps dims %s, BART %s; eigenvalues %s, BART %s' % tuple(hdr_dims(f) for f in
                                                                             (names[1], names[0], names[3], names[2])), run)
        return
    bs, ms, be, me = (read_cfl(f, 5) for f in names)
    what = '%dx%d, %d coils, -m %d %s' % (n, n, C, M, ' '.join(opt) or 'defaults')
    allowed = 1e-4
    if float(np.max(np.abs(me - be))) > allowed:
        # voxels whose power iteration has not converged in BART's 30 steps
        # (two close eigenvalues): BART's float32 steps and medvol's float64
        # ones part in proportion to the way still to go (measured: 0.2% and
        # 0.7% of it), so such a voxel may differ by 2% of its distance to
        # the converged value (mvtool ecalib --iter 1000)
        rc = run([c.tool, 'ecalib', '-m', str(M), '--iter', '1000'] + opt + ['k', 'mc', 'mce'])
        mce = read_cfl(os.path.join(d, 'mce'), 5) if rc.returncode == 0 else None
        if mce is not None and mce.shape == me.shape:
            allowed = 1e-4 + 0.02 * np.abs(me - mce)
            c.note('ecalib: unconverged voxels after 30 iterations, compared within 2% of their way to convergence')
    ee = float(np.max(np.abs(me - be) / allowed))
    c.ratio('ecalib (eigenvalues, /1e-4 or unconverged)', ee)
    if ee > 1:
        c.fail('ecalib', what + ': eigenvalue maps differ by %.3g' % float(np.max(np.abs(me - be))), run)
        return
    for q in range(M):
        b, m = bs[..., q].reshape(-1, C, order='F'), ms[..., q].reshape(-1, C, order='F')
        ev = be[..., q].real.reshape(-1, order='F')
        nb, nm = np.linalg.norm(b, axis=1), np.linalg.norm(m, axis=1)
        both = (nb > 0.5) & (nm > 0.5)
        differ = (nb > 0.5) != (nm > 0.5)
        if np.any(np.abs(ev[differ] - crop) > 0.02):
            c.fail('ecalib', what + ': map %d: %d voxels kept by one side only, eigenvalues %s' % (
                q, int(differ.sum()), np.round(ev[differ][:5], 3)), run)
            return
        ip = np.sum(np.conj(b) * m, axis=1)
        dev = 1 - np.abs(ip[both]) / (nb[both] * nm[both])
        ph = np.abs(np.angle(ip[both]))
        worst, wph = (float(dev.max()), float(ph.max())) if dev.size else (0.0, 0.0)
        c.ratio('ecalib (1 - |<m,b>|, /1e-4)', worst / 1e-4)
        c.ratio('ecalib (phase, /1e-2 rad)', wph / 1e-2)
        if worst > 1e-4 or wph > 1e-2:
            c.fail('ecalib', what + ': map %d: worst 1 - |<m,b>| %.3g, worst phase difference %.3g rad (median %.3g) '
                   'over %d voxels' % (q, worst, wph, float(np.median(np.angle(ip[both]))), int(both.sum())), run)
            return


def fam_scale(c, run, d):
    """bart pics's data scale (no -S, no -w: estimate_scaling of the
    fftmod'ed k-space) against mv_bart_scale_estimate: random 2D and 3D
    sizes, odd and even, undersampled phase encodes around an ACS band of
    random width and offset (or none), so the calibration box is limited
    by the sampling and placed as BART places it."""
    rng = c.rng
    nx, ny = int(rng.integers(6, 72)), int(rng.integers(6, 72))
    nz = 1 if rng.random() < 0.7 else int(rng.integers(2, 12))
    C = int(rng.integers(1, 6))
    x, y, z = np.meshgrid((np.arange(nx) - nx // 2) / nx, (np.arange(ny) - ny // 2) / ny,
                          (np.arange(nz) - nz // 2) / nz, indexing='ij')
    obj = np.zeros((nx, ny, nz))
    for _ in range(4):
        cx, cy, r = rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(0.1, 0.3)
        obj += rng.uniform(0.5, 1.5) * (((x - cx) ** 2 + (y - cy) ** 2 + z ** 2) < r * r)
    img = np.stack([obj * np.exp(-((x - 0.6 * np.cos(2 * np.pi * q / C)) ** 2 + (y - 0.6 * np.sin(2 * np.pi * q / C)) ** 2)
                                 / 0.5 + 1j * rng.uniform(-np.pi, np.pi)) for q in range(C)], -1)
    k = np.fft.fftshift(np.fft.fftn(img, axes=(0, 1, 2)), axes=(0, 1, 2)) * 10 ** rng.uniform(2, 4)
    R = int(rng.integers(1, 5))
    mask, acs, c0 = lines_and_acs(rng, ny, R, 0, 3)
    write_cfl(os.path.join(d, 'k'), (k * mask[None, :, None, None]).astype(np.complex64))
    write_cfl(os.path.join(d, 's'), np.full((nx, ny, nz, C), 1 / np.sqrt(C), np.complex64))
    rb = run([BART, 'pics', '-d', '5', '-l2', '-i', '1', 'k', 's', 'o'])
    out = rb.stdout + rb.stderr
    mb = re.search(r'Scaling: ([0-9.eE+-]+).? \(max = ([0-9.eE+-]+)/p90 = ([0-9.eE+-]+)/median = ([0-9.eE+-]+)\)', out)
    res = run([c.exe, 'scale', 'k'])
    what = '%dx%dx%d, %d coils, every %d-th line and %d ACS lines from %d' % (nx, ny, nz, C, R, acs, c0)
    if rb.returncode != 0 or not mb or medvol_line(res)[0] is not True:
        c.fail('scale', '%s: bart pics %d (%s), medvol %r' % (what, rb.returncode, 'scale printed' if mb else
                                                              'no scale line', medvol_line(res)), run)
        return
    b, mx, p90, med = (float(v) for v in mb.groups())
    m = float(res.stdout.split()[-1])
    if abs((mx - p90) - 2 * (p90 - med)) < 1e-5 * mx:  # BART's p90/max choice within rounding
        c.note('scale: p90 or max a tie within rounding, not compared')
        return
    e = abs(m - b) / (1e-5 * b + 1e-6)  # BART prints %f
    c.ratio('scale (/1e-5)', e)
    if e > 1:
        c.fail('scale', '%s: medvol %.9g, BART %.6f (max %g, p90 %g, median %g)' % (what, m, b, mx, p90, med), run)


def cc_sign_worst(m, b, cols, gap_ok):
    """m, b: (n, cols) virtual coils or matrix columns; each of medvol's
    against BART's up to a real sign (both leave the last channel's entry
    real: a phase that is not +-1 is a failure, returned as inf). Columns
    where gap_ok(q) is False (an eigenvalue within rounding of its
    neighbour's: any rotation of the pair is valid) are skipped. The worst
    relative error of the others."""
    worst = 0.0
    for q in range(cols):
        if not gap_ok(q):
            continue
        nb = np.linalg.norm(b[:, q])
        if nb == 0:
            continue
        sp = np.vdot(b[:, q], m[:, q])
        ph = sp / abs(sp) if abs(sp) > 0 else 1.0
        if abs(abs(ph.real) - 1) > 1e-2:
            return float('inf')
        worst = max(worst, np.linalg.norm(m[:, q] - np.sign(ph.real) * b[:, q]) / nb)
    return worst


def fam_cc(c, run, d):
    """bart cc / ccapply against mvtool cc / ccapply (">>api-recon: coil
    compression"): random sizes, odd and even, 2D and 3D, some with the
    calibration box limited by undersampling; -S or -G, -A, -r (one size or
    three), -p P (the virtual coils) or -M (the matrix); each virtual coil
    and each matrix column up to a real sign (an eigenvector's sign is its
    solver's), within 1e-4 (SVD) or 1e-3 (geometric: BART aligns the
    positions in float32), or within 3e-6 / (the eigenvalue's gap to its
    neighbours, relative to the largest) where that is larger, skipped where
    the gap is below 1e-4; a third of the cases ccapply [-u] [-t] with
    BART's own matrix in both (no sign to choose: within 1e-5 / 1e-4); and
    BART's "Empty calibration region" must be medvol's MV_ERR_BAD_DATA
    naming the box (a quarter of the SVD -p cases through the diff_bart
    driver's mv_coil_compress)."""
    rng = c.rng
    nx, ny = int(rng.integers(8, 56)), int(rng.integers(8, 56))
    nz = 1 if rng.random() < 0.7 else int(rng.integers(2, 10))
    C = int(rng.integers(2, 9))
    P = int(rng.integers(1, C + 1))
    k = crandn(rng, (nx, ny, nz, C)) * np.exp(-np.add.outer(np.add.outer(
        ((np.arange(nx) - nx // 2) / 6.0) ** 2, ((np.arange(ny) - ny // 2) / 6.0) ** 2),
        ((np.arange(nz) - nz // 2) / 3.0) ** 2))[..., None]
    k = k @ crandn(rng, (C, C))  # correlated coils
    if rng.random() < 0.4:
        k = k * lines_and_acs(rng, ny, int(rng.integers(2, 4)), 1, 2)[0][None, :, None, None]
    write_cfl(os.path.join(d, 'k'), k.astype(np.complex64))
    geo = rng.random() < 0.5
    kind = ['-G'] if geo else ([] if rng.random() < 0.3 else ['-S'])
    opts = list(kind)
    if rng.random() < 0.25:
        opts.append('-A')
    elif rng.random() < 0.3:
        r = [int(rng.integers(2, 30)) for _ in range(3)]
        opts += ['-r', str(r[0]) if rng.random() < 0.5 else '%d:%d:%d' % tuple(r)]
    mode = rng.choice(['p', 'p', 'M', 'apply'])
    driver = mode == 'p' and not geo and opts == kind and rng.random() < 0.4  # mv_coil_compress: box 24, no -A
    what = '%dx%dx%d, %d coils, %s %s' % (nx, ny, nz, C, ' '.join(opts), 'driver' if driver else mode)
    base = 1e-3 if geo else 1e-4
    if mode == 'apply':
        rb = run([BART, 'cc', '-M'] + kind + ['k', 'mat'])
        if rb.returncode != 0 or 'Empty calibration region' in rb.stdout + rb.stderr:
            c.note('cc: no BART matrix to apply (an empty calibration region)')
            return
        ap = ['-p', str(P)] + (['-t'] if geo and rng.random() < 0.3 else []) + kind
        run([BART, 'ccapply'] + ap + ['k', 'mat', 'b'], check=True)
        r = run([c.tool, 'ccapply'] + ap + ['k', 'mat', 'm'])
        outs = [('b', 'm', 'ccapply')]
        if r.returncode == 0 and rng.random() < 0.5:
            up = ['-u'] + [x for x in ap if x != '-p' and x != str(P)]
            run([BART, 'ccapply'] + up + ['b', 'mat', 'bu'], check=True)
            r = run([c.tool, 'ccapply'] + up + ['m', 'mat', 'mu'])
            outs.append(('bu', 'mu', 'ccapply -u'))
        if r.returncode != 0:
            c.fail('cc', '%s: mvtool ccapply: %s' % (what, r.stderr.strip()), run)
            return
        for bn, mn, w in outs:
            b, m = read_cfl(os.path.join(d, bn), 5), read_cfl(os.path.join(d, mn), 5)
            if b is None or m is None or b.shape != m.shape:
                c.fail('cc', '%s: %s dims %s, BART %s' % (what, w, hdr_dims(os.path.join(d, mn)),
                                                          hdr_dims(os.path.join(d, bn))), run)
                return
            e = np.linalg.norm(m - b) / max(np.linalg.norm(b), 1e-30)
            tol = 1e-4 if geo else 1e-5
            c.ratio('cc (ccapply /tol)', e / tol)
            if e > tol:
                c.fail('cc', '%s: %s differs from BART\'s by %.3g (tol %g)' % (what, w, e, tol), run)
        return
    args = opts + (['-p', str(P)] if mode == 'p' else ['-M'])
    rb = run([BART, 'cc'] + args + ['k', 'b'])
    if rb.returncode != 0:
        c.note('cc: bart cc failed (%s)' % (rb.stderr.strip().split('\n')[-1][:60] if rb.stderr.strip() else 'exit'))
        return
    if driver:
        r = run([c.exe, 'cc', str(P), 'k', 'm'])
        res = medvol_line(r)
        ok, status, detail = res[0] is True, res[1] if res[0] is False else '', res[2] if res[0] is False else ''
    else:  # -d 3: each position's eigenvalues (as parts of their sum) on stderr, for the gaps below
        r = run([c.tool, 'cc', '-d', '3'] + args + ['k', 'm'])
        ok, status, detail = r.returncode == 0, r.stderr.strip(), r.stderr.strip()
    if 'Empty calibration region' in rb.stdout + rb.stderr:  # BART goes on; medvol.h: MV_ERR_BAD_DATA
        c.note('cc: empty calibration region (BART warns, medvol refuses)')
        if ok or 'MV_ERR_BAD_DATA' not in status or 'calibration box' not in detail:
            c.fail('cc', '%s: BART found an empty calibration region, medvol %r' % (what, (ok, status, detail)), run)
        return
    if not ok:
        c.fail('cc', '%s: medvol %r' % (what, (status, detail)), run)
        return
    b, m = read_cfl(os.path.join(d, 'b'), 5), read_cfl(os.path.join(d, 'm'), 5)
    if b is None or m is None or b.shape != m.shape:
        c.fail('cc', '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, 'm')), hdr_dims(os.path.join(d, 'b'))), run)
        return
    # each column's eigenvalue gap to its neighbours, relative to the largest:
    # the smallest over the readout positions (the energies mvtool printed), or
    # for the driver the virtual coils' energies
    if driver:
        en = [np.sum(np.abs(b.reshape(-1, P, order='F')) ** 2, axis=0)]
    else:
        en = [np.array([float(v) for v in line.split()[1:]]) for line in r.stderr.split('\n') if line.startswith('Energy:')]
    def gap(q):
        g = 1.0
        for e in en:
            if e[0] > 0:
                g = min([g] + [abs(e[q] - e[j]) / e[0] for j in (q - 1, q + 1) if 0 <= j < len(e)])
        return g
    if mode == 'M':
        pairs = [(m[x, 0, 0], b[x, 0, 0]) for x in range(b.shape[0])]
    else:
        pairs = [(m.reshape(-1, P, order='F'), b.reshape(-1, P, order='F'))]
    worst = 0.0
    coupled = geo and mode == 'p'  # the alignment mixes the P kept columns: one ill-defined column moves all
    if coupled and min(gap(q) for q in range(P)) < 1e-4:
        c.note('cc -G: a kept eigenvalue ties a neighbour\'s (the alignment is not unique), not compared')
        return
    for q in range(P):
        g = min(gap(j) for j in range(P)) if coupled else gap(q)
        if g < 1e-4:
            c.note('cc: a virtual coil whose eigenvalue ties a neighbour\'s, not compared one by one')
            continue
        tol = max(base, 3e-6 / g)
        for mm, bb in pairs:
            w = cc_sign_worst(mm[:, q:q + 1], bb[:, q:q + 1], 1, lambda _: True)
            worst = max(worst, w / tol)
    c.ratio('cc (/tol)', worst)
    if worst > 1:
        c.fail('cc', '%s: a virtual coil or column differs from BART\'s beyond a sign (%.3g of the tolerance)' %
               (what, worst), run)


def cg_sense64(y, S, mask, lam, it):
    """BART's conjgrad (x0 = 0, `it` steps, no early stop) in float64 on
    (A^H A + lam I) x = A^H y, A = mask * fftc * sum_m S_m x_m over axes 0,
    1 (2D); y (x, y, z, C, 1), S (x, y, z, C, M), x (x, y, z, 1, M)"""
    def normal(x):
        coil = np.sum(S * x, axis=4, keepdims=True)
        return np.sum(np.conj(S) * centred(mask * centred(coil, (0, 1), False), (0, 1), True), axis=3,
                      keepdims=True) + lam * x
    rhs = np.sum(np.conj(S) * centred(mask * y, (0, 1), True), axis=3, keepdims=True)
    x, r = np.zeros_like(rhs), rhs.copy()
    p, rs = r.copy(), float(np.vdot(r, r).real)
    for _ in range(it):
        if rs == 0:
            break
        ap = normal(p)
        pap = float(np.vdot(p, ap).real)
        if pap == 0:
            break
        a = rs / pap
        x, r = x + a * p, r - a * ap
        rn = float(np.vdot(r, r).real)
        p, rs = r + (rn / rs) * p, rn
    return x


def fam_pics(c, run, d):
    rng = c.rng
    nc = rng.random() < 0.4
    # every residue mod 4 (BART's fftmod: medvol.h, CG-SENSE); radial even only (BART's NUFFT: bart_limits)
    n = int(rng.choice([16, 18, 20, 24] if nc else [16, 18, 20, 21, 24, 25]))
    C = int(rng.integers(2, 6))
    k = coil_phantom(rng, n, C)
    lam = float(rng.choice([0.0, 0.001, 0.01, 0.1] + ([1.0, 1.0] if nc else [])))
    it = int(rng.choice([5, 10, 30]))
    M = 2 if rng.random() < 0.4 else 1  # ESPIRiT's two maps (BART's default): the image holds one volume per map
    write_cfl(os.path.join(d, 'kc'), k.astype(np.complex64))
    run([BART, 'ecalib', '-m', str(M), 'kc', 's'], check=True)
    exact = None
    if nc:  # radial k-space of the coil images: BART's trajectory, points away from the edge
        X, Y = 2 * n, int(rng.choice([16, 24, 32]))
        run([BART, 'traj', '-r', '-x', str(X), '-y', str(Y)] + (['-G'] if rng.random() < 0.5 else []) + ['t0'],
            check=True)
        run([BART, 'scale', '0.4', 't0', 't'], check=True)
        t = read_cfl(os.path.join(d, 't'), 3).real.reshape(3, -1, order='F').astype(np.float64)
        img = centred(k[:, :, 0], (0, 1), True).reshape(n, n, 1, C)
        y = nudft(t, [n, n, 1], img=img).reshape(1, X, Y, C, order='F')
        write_cfl(os.path.join(d, 'k'), y.astype(np.complex64))
        what, tol = '%dx%d, %d coils, %d map(s), radial %dx%d' % (n, n, C, M, X, Y), 1e-2
        if lam >= 1.0 and it == 30:  # well conditioned: CG converges, so the exact solution is a reference
            S = read_cfl(os.path.join(d, 's'), 5).reshape(n * n, C, M, order='F').astype(np.complex128)
            E = nudft(t, [n, n, 1], img=np.eye(n * n).reshape((n, n, 1, n * n), order='F'))  # samples x n^2
            EE = E.conj().T @ E
            Yc = y.reshape(-1, C, order='F')
            # the normal matrix in blocks of maps (map m's pixels after map m - 1's)
            A = np.block([[sum(np.conj(S[:, i, p])[:, None] * EE * S[:, i, q][None, :] for i in range(C))
                           for q in range(M)] for p in range(M)])
            b = np.concatenate([sum(np.conj(S[:, i, p]) * (E.conj().T @ Yc[:, i]) for i in range(C)) for p in range(M)])
            exact = np.linalg.solve(A + lam * np.eye(n * n * M), b)
    else:  # Cartesian: every R-th line through the centre, and 6 centre lines
        R = int(rng.choice([1, 2, 3]))
        mask = np.zeros(n, bool)
        mask[(np.arange(n) - n // 2) % R == 0] = True
        mask[n // 2 - 3:n // 2 + 3] = True
        write_cfl(os.path.join(d, 'k'), (k * mask[None, :, None, None]).astype(np.complex64))
        what, tol = '%dx%d, %d coils, %d map(s), R %d' % (n, n, C, M, R), 2e-4
    if rng.random() < 0.3:  # without -S both divide the data by their scale estimate and keep the image so
        args, exact, what = ['-l2', '-r', repr(lam), '-i', str(it)], None, what + ', no -S'
    else:
        args = ['-l2', '-r', repr(lam), '-i', str(it), '-S']
    args += (['-t', 't'] if nc else []) + ['k', 's']
    run([BART, 'pics'] + args + ['b'], check=True)
    rm = run([c.tool, 'pics'] + args + ['m'])
    if rm.returncode != 0:
        c.fail('pics', 'mvtool pics: %s' % rm.stderr.strip(), run)
        return
    if hdr_dims(os.path.join(d, 'm')) != hdr_dims(os.path.join(d, 'b')):
        c.fail('pics', 'dims %s, BART %s' % (hdr_dims(os.path.join(d, 'm')), hdr_dims(os.path.join(d, 'b'))), run)
        return
    # (x, y, 1, 1, maps): flat in BART's order, map after map
    b, m = [read_cfl(os.path.join(d, f)).reshape(-1, order='F') for f in ('b', 'm')]
    e = rel(m, b)
    if e > tol and not nc:
        # float32 rounding amplified by a badly conditioned system (lambda
        # 0, few coils): both drift from the same CG in float64; medvol must
        # then be within 3x BART's own drift of it (2e-4 at least). Without
        # -S both images are divided by their data scale (the scale family
        # holds the two scales within 1e-5): each is compared after its
        # least-squares factor onto the float64 image
        S = read_cfl(os.path.join(d, 's'), 5).astype(np.complex128)
        y = read_cfl(os.path.join(d, 'k'), 5).astype(np.complex128)
        x64 = cg_sense64(y, S, (np.abs(y) > 0).any(axis=3, keepdims=True), lam, it).reshape(-1, order='F')
        fit = (lambda a: a) if '-S' in args else (lambda a: a * (np.vdot(a, x64) / np.vdot(a, a)))
        em, eb = rel(fit(m), x64), rel(fit(b), x64)
        if em <= max(tol, 3 * eb):
            c.note('pics: beyond 2e-4 of BART where both drift from float64 CG alike (lambda 0, ill-conditioned)')
            tol = max(tol, 1.01 * e)
    c.ratio('pics (non-Cartesian)' if nc else 'pics', e / tol)
    if e > tol:
        c.fail('pics', '%s, lambda %g, %d iterations: %.3g from BART' % (what, lam, it, e), run)
    elif exact is not None:
        ee, eb = rel(m, exact), rel(b, exact)
        c.ratio('pics (non-Cartesian vs exact, /1e-3)', ee / 1e-3)
        if ee > 1e-3:
            c.fail('pics', '%s, lambda %g: %.3g from the exact solution (BART %.3g)' % (what, lam, ee, eb), run)


def fixed_ecalib_phase(c, run, d):
    """ESPIRiT's phase reference. medvol.h (>>api-recon): "Each map is
    rotated so that its projection on the first principal component of the
    calibration data is real positive (BART's rotphase)". That component is
    an eigenvector, itself defined up to a phase: BART takes LAPACK cheev's
    ('V', 'U': its LAST coil component real), medvol its own eigensolver's
    (mv__zheev reduces from the first row: the FIRST component real), so
    every map differs from BART's by one constant phase factor."""
    run([BART, 'phantom', '-x', '24', '-k', '-s', '3', 'k'], check=True)
    run([BART, 'ecalib', '-m', '1', 'k', 'b'], check=True)
    r = run([c.tool, 'ecalib', '-m', '1', 'k', 'm'])
    b, m = read_cfl(os.path.join(d, 'b'), 4), read_cfl(os.path.join(d, 'm'), 4) if r.returncode == 0 else None
    if m is None or m.shape != b.shape:
        c.fail('fixed', 'ecalib: mvtool ecalib failed: %s' % r.stderr.strip(), run)
        return
    ip = np.sum(np.conj(b) * m, axis=3).reshape(-1)
    ip = ip[np.abs(ip) > 0.5]
    if rel(m, b) > 1e-4:
        c.fail('fixed', 'ecalib -m1 of bart phantom -x 24 -k -s 3: maps %.3g from BART\'s (relative l2), every '
               'voxel turned by %.4f rad' % (rel(m, b), float(np.median(np.angle(ip)))), run)


def fixed_ecalib_two_coils(c, run, d):
    """The same phase reference with two coils, where cheev's last coil
    entry is not always positive: for two coils LAPACK's steps (medvol.h's
    mv__lapack_cheev_last_signs traces them) make it negative exactly when
    the first coil's power is the larger and the covariance's off-diagonal
    has a negative real part. Both coils'
    powers ordered both ways and the second coil turned by 0, 90, 180 and
    270 degrees (so the off-diagonal's real part takes both signs): every
    map must be BART's, not its negative."""
    base = coil_phantom(np.random.default_rng(7), 24, 2)
    for big in (0, 1):
        for quarter in range(4):
            k = base.copy()
            k[..., big] *= 2
            k[..., 1] *= 1j ** quarter
            write_cfl(os.path.join(d, 'k'), k.astype(np.complex64))
            run([BART, 'ecalib', '-m', '1', 'k', 'b'], check=True)
            r = run([c.tool, 'ecalib', '-m', '1', 'k', 'm'])
            b, m = read_cfl(os.path.join(d, 'b'), 4), read_cfl(os.path.join(d, 'm'), 4) if r.returncode == 0 else None
            what = 'ecalib -m 1, 2 coils, coil %d twice as strong, coil 1 turned by %d degrees' % (big, 90 * quarter)
            if m is None or m.shape != b.shape:
                c.fail('fixed', '%s: mvtool ecalib failed: %s' % (what, r.stderr.strip()), run)
                return
            if rel(m, b) > 1e-4:
                ip = np.sum(np.conj(b) * m, axis=3).reshape(-1)
                ip = ip[np.abs(ip) > 0.5]
                c.fail('fixed', '%s: maps %.3g from BART\'s (relative l2), every voxel turned by %.4f rad' % (
                    what, rel(m, b), float(np.median(np.angle(ip)))), run)


def fixed_spellings(c, run, d):
    """BART's getopt spellings of its flags, refused by mvtool (exit 2): an
    option's value attached (-m1, -x8, -i5, -d8:8:1), flags bundled (-rG),
    and -s 0 (BART: tiny golden angle off)."""
    run([BART, 'phantom', '-x', '24', '-k', '-s', '3', 'k'], check=True)
    run([BART, 'ecalib', '-m', '1', 'k', 'b'], check=True)
    run([BART, 'traj', '-r', '-x', '8', '-y', '4', 't'], check=True)
    run([BART, 'ones', '4', '1', '8', '4', '1', 'ks'], check=True)
    refused = []
    for argv in (['ecalib', '-m1', 'k', 'm1'], ['traj', '-r', '-x8', '-y4', 't1'],
                 ['traj', '-rG', '-x', '8', '-y', '4', 't2'], ['traj', '-r', '-s', '0', '-x', '8', '-y', '4', 't3'],
                 ['pics', '-l2', '-i5', '-S', 'k', 'b', 'p'], ['nufft', '-a', '-d8:8:1', 't', 'ks', 'n']):
        if run([BART] + argv).returncode != 0:
            continue  # BART's own refusal: not a disagreement
        if run([c.tool] + argv).returncode != 0:
            refused.append(' '.join(argv[:-1]))
    if refused:
        c.fail('fixed', 'mvtool refuses BART\'s spellings (bart accepts them): ' + '; '.join(refused), run)


def fixed_nufft_frames(c, run, d):
    """A trajectory with frames (3, X, Y, 1, T): bart nufft -a makes one
    image per frame (X, Y, Z, C, 1, T); mvtool nufft -a (mv_nufft, whose
    >>api-nufft text calls the adjoint "the reverse" of a forward that maps
    one image to every frame) sums the frames into one image."""
    rng = np.random.default_rng(2)
    t = np.zeros((3, 6, 1, 1, 1, 2))
    t[0], t[1] = rng.uniform(-1.5, 1.5, (6, 1, 1, 1, 2)), rng.uniform(-1.5, 1.5, (6, 1, 1, 1, 2))
    write_cfl(os.path.join(d, 'tf'), t)
    write_cfl(os.path.join(d, 'yf'), crandn(rng, (1, 6, 1, 1, 1, 2)))
    run([BART, 'nufft', '-a', '-d', '4:4:1', 'tf', 'yf', 'bf'], check=True)
    r = run([c.tool, 'nufft', '-a', '-d', '4:4:1', 'tf', 'yf', 'mf'])
    bd = hdr_dims(os.path.join(d, 'bf'))
    md = hdr_dims(os.path.join(d, 'mf')) if r.returncode == 0 else r.stderr.strip()
    if md != bd:
        c.fail('fixed', 'nufft -a, 2 frames of 6 points: medvol image dims %s, BART %s (one image per frame)'
               % (trim(md) if r.returncode == 0 else md, trim(bd)), run)


def bart_limits(c, run, d):
    """BART 0.8's NUFFT on odd sizes (information: the random cases do not
    compare BART there)"""
    rng = np.random.default_rng(1)
    t = np.zeros((3, 40))
    t[0], t[1] = rng.uniform(-2, 2, 40), rng.uniform(-2, 2, 40)
    write_cfl(os.path.join(d, 'to'), t.reshape(3, 40, 1))
    img = crandn(rng, (9, 8, 1))
    write_cfl(os.path.join(d, 'io'), img)
    ref = nudft(t, [9, 8, 1], img=img.reshape(9, 8, 1, 1)).reshape(-1)
    if run([BART, 'nufft', 'to', 'io', 'bo']).returncode == 0:
        print('  bart 0.8: nufft of a 9x8 image is %.3g from the exact NUDFT (odd sizes: BART not compared)'
              % rel(read_cfl(os.path.join(d, 'bo'), 3).reshape(-1), ref))


def fam_thresh(c, run, d):
    """bart threshold [-W|-H|-B|-j] against mvtool threshold on random
    complex arrays: -W (BART's wavelet, axes of 16 samples or more) and
    soft within 1e-6 relative (the transform itself, lambda 0, is BART's
    bits; the magnitudes round differently: BART's joint norms are float
    sums), or within 1e-7 of ||x|| where kept values |x| - lambda cancel;
    -H and -B: the same kept samples"""
    rng = c.rng
    nd = int(rng.integers(1, 5))
    dims = [int(rng.choice([1, 5, 15, 16, 17, 24, 31, 40, 64])) for _ in range(min(nd, 3))] + \
           [int(rng.choice([1, 2, 3])) for _ in range(max(0, nd - 3))]
    while int(np.prod(dims)) > 200000:
        dims[int(np.argmax(dims))] //= 2
    x = crandn(rng, dims).astype(np.complex64)
    write_cfl(os.path.join(d, 'x'), x)
    mode = str(rng.choice(['-W', '-W', '-W', '', '-j', '-H', '-B']))
    lam = float(rng.choice([0.0, 0.05, 0.5, 1.0, 3.0]))
    args = []
    if mode == '-j':
        args = ['-j', str(int(rng.integers(1, 1 << len(dims))))]
    elif mode:
        args = [mode]
    args += [repr(lam), 'x']
    run([BART, 'threshold'] + args + ['b'], check=True)
    rm = run([c.tool, 'threshold'] + args + ['m'])
    what = 'threshold %s on %s' % (' '.join(args[:-1]), dims)
    if rm.returncode != 0:
        c.fail('thresh', '%s: mvtool: %s' % (what, rm.stderr.strip()), run)
        return
    b, m = read_cfl(os.path.join(d, 'b'), len(dims)), read_cfl(os.path.join(d, 'm'), len(dims))
    if b is None or m is None or b.shape != m.shape:
        c.fail('thresh', '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, 'm')), hdr_dims(os.path.join(d, 'b'))), run)
        return
    if mode in ('-H', '-B'):
        bad = int(np.sum(b != m))
        if bad:
            c.fail('thresh', '%s: %d samples differ' % (what, bad), run)
        return
    e = rel(m, b) if np.linalg.norm(b) > 0 else float(np.linalg.norm(m))
    if e > 1e-6:
        # a kept value |x| - lambda cancels: the magnitude's float rounding (BART's and medvol's differ by an ulp)
        # grows relative to the result, never beyond a few ulps of |x| (seed 53404's case 717: one value of 15
        # kept, |x| 3.187 at lambda 3, 1.2e-6 of the result and 5.6e-8 of ||x||)
        ex = float(np.linalg.norm((m - b).astype(np.complex128))) / max(float(np.linalg.norm(x.astype(np.complex128))), 1e-30)
        if ex <= 1e-7:
            c.note('thresh: results within 1e-7 of ||x|| though beyond 1e-6 of their own norm (|x| - lambda cancels)')
            e = 1e-6
    c.ratio('thresh %s (/1e-6)' % (mode or 'soft'), e / 1e-6)
    if e > 1e-6:
        c.fail('thresh', '%s: %.3g from BART' % (what, e), run)


def fam_wavelet(c, run, d):
    """bart wavelet [-a] [-H|-D|-C] against mvtool wavelet on random complex
    arrays: up to 3 transformed axes of 16 .. 100 samples (bart asserts
    below 16), axes left alone between and after them, coils and frames as
    batches: forward and adjoint (on bart's own coefficients) bart's bytes
    and sizes"""
    rng = c.rng
    dims = [int(rng.choice([1, 16, 17, 19, 24, 31, 33, 40, 64, 100])) for _ in range(3)] + \
           [int(rng.choice([1, 1, 2, 3])) for _ in range(int(rng.integers(0, 3)))]
    big = [a for a in range(3) if dims[a] >= 16]
    if not big:
        dims[0], big = 24, [0]
    while int(np.prod(dims)) > 300000:
        a = int(np.argmax(dims[:3]))
        dims[a] = max(16, dims[a] // 2)
        if int(np.prod(dims)) > 300000 and len(dims) > 3:
            dims = dims[:3]
    flags = 0
    while flags == 0:
        flags = sum(1 << a for a in big if rng.random() < 0.6)
    typ = [str(rng.choice(['', '-H', '-D', '-C']))]
    typ = [t for t in typ if t]
    write_cfl(os.path.join(d, 'x'), crandn(rng, dims).astype(np.complex64))
    sizes = [str(dims[a]) for a in range(3) if flags >> a & 1]
    run([BART, 'wavelet'] + typ + [str(flags), 'x', 'bf'], check=True)
    run([BART, 'wavelet', '-a'] + typ + [str(flags)] + sizes + ['bf', 'ba'], check=True)
    what = 'wavelet %s %d on %s' % (' '.join(typ), flags, dims)
    for args, b, m in ((typ + [str(flags), 'x'], 'bf', 'mf'), (['-a'] + typ + [str(flags)] + sizes + ['bf'], 'ba', 'ma')):
        r = run([c.tool, 'wavelet'] + args + [m])
        if r.returncode != 0:
            c.fail('wavelet', '%s: mvtool: %s' % (what, r.stderr.strip()), run)
            return
        if hdr_dims(os.path.join(d, b)) != hdr_dims(os.path.join(d, m)):
            c.fail('wavelet', '%s: sizes %s, bart %s' % (what, hdr_dims(os.path.join(d, m)), hdr_dims(os.path.join(d, b))), run)
            return
        if open(os.path.join(d, b + '.cfl'), 'rb').read() != open(os.path.join(d, m + '.cfl'), 'rb').read():
            c.fail('wavelet', '%s%s: not bart\'s bytes' % ('-a ' if b == 'ba' else '', what), run)
            return


def fam_cdf97(c, run, d):
    """bart cdf97 [-i] against mvtool cdf97 on random complex arrays of 1 ..
    4 axes (odd and even lengths, short ones too), random bitmasks: within
    1e-6 of bart's, forward and inverse (bart transforms, inverts and
    transforms again; medvol transforms once)"""
    rng = c.rng
    nd = int(rng.integers(1, 5))
    dims = [int(rng.choice([1, 2, 3, 5, 8, 17, 32, 33, 34, 64, 65, 70, 100])) for _ in range(nd)]
    while int(np.prod(dims)) > 300000:
        dims[int(np.argmax(dims))] //= 2
    flags = int(rng.integers(0, 1 << nd))
    x = crandn(rng, dims).astype(np.complex64)
    write_cfl(os.path.join(d, 'x'), x)
    what = 'cdf97 %d on %s' % (flags, dims)
    for args, b, m in (([str(flags), 'x'], 'bf', 'mf'), (['-i', str(flags), 'bf'], 'bi', 'mi')):
        run([BART, 'cdf97'] + args + [b], check=True)
        r = run([c.tool, 'cdf97'] + args + [m])
        if r.returncode != 0:
            c.fail('cdf97', '%s: mvtool: %s' % (what, r.stderr.strip()), run)
            return
        bb, mm = read_cfl(os.path.join(d, b), nd), read_cfl(os.path.join(d, m), nd)
        if bb is None or mm is None or bb.shape != mm.shape:
            c.fail('cdf97', '%s: sizes %s, bart %s' % (what, hdr_dims(os.path.join(d, m)), hdr_dims(os.path.join(d, b))), run)
            return
        e = rel(mm, bb)
        c.ratio('cdf97 (/1e-6)', e / 1e-6)
        if e > 1e-6:
            c.fail('cdf97', '%s%s: %.3g from bart' % ('-i of ' if b == 'bi' else '', what, e), run)
            return
    e = rel(read_cfl(os.path.join(d, 'mi'), nd), x)
    if e > 1e-6:
        c.fail('cdf97', '%s: -i gives the input back within %.3g' % (what, e), run)


def fam_epg(c, run, d):
    """bart epg against mvtool epg: a random sequence (CPMG, fmSSFP,
    hyperecho, FLASH with each spoiling, spin echo, bSSFP), T1, T2, TR, TE,
    flip, B1, off-resonance and echo count; the signal and states within
    3e-5 of bart's and (where bart gives them) the derivatives 5e-5, the B1
    derivative over B1 (bart's carries an extra factor B1)"""
    rng = c.rng
    seq = str(rng.choice(['C', 'M', 'H', 'F', 'S', 'B']))
    n = {'S': int(rng.integers(1, 3)), 'H': 2 * int(rng.integers(0, 20)) + 1}.get(seq, int(rng.integers(1, 61)))
    t1 = float(rng.uniform(0.2, 2.0))
    p = {'-1': t1, '-2': float(rng.uniform(0.01, t1)), '-r': float(rng.uniform(0.002, 0.02)),
         '-e': float(rng.uniform(0.004, 0.05)), '-f': float(rng.uniform(5, 120)), '-b': float(rng.choice([1.0, rng.uniform(0.6, 1.4)])),
         '-o': float(rng.uniform(-40, 40))}
    args = ['-' + seq, '-n', str(n)] + [x for k, v in p.items() for x in (k, '%.6g' % v)]
    if seq == 'F':
        args += ['-s', str(int(rng.integers(0, 3)))]
    files = ['s', 'st'] if seq in 'HS' else ['s', 'st', 'sd', 'sdr']
    what = 'epg ' + ' '.join(args)
    run([BART, 'epg'] + args + ['b' + f for f in files], check=True)
    r = run([c.tool, 'epg'] + args + ['m' + f for f in files])
    if r.returncode != 0:
        c.fail('epg', '%s: mvtool: %s' % (what, r.stderr.strip()), run)
        return
    b1 = float('%.6g' % p['-b'])
    for f in files:
        if hdr_dims(os.path.join(d, 'b' + f)) != hdr_dims(os.path.join(d, 'm' + f)):
            c.fail('epg', '%s: %s sizes %s, bart %s' % (what, f, hdr_dims(os.path.join(d, 'm' + f)), hdr_dims(os.path.join(d, 'b' + f))), run)
            return
        bb = np.fromfile(os.path.join(d, 'b' + f + '.cfl'), np.complex64).astype(np.complex128)
        mm = np.fromfile(os.path.join(d, 'm' + f + '.cfl'), np.complex64).astype(np.complex128)
        if f in ('sd', 'sdr'):  # bart's B1 derivative: the third of four blocks, B1 times medvol's
            k = bb.size // 4
            mm[2 * k:3 * k] *= b1
        e = rel(mm, bb) if np.any(bb) else float(np.abs(mm).max())
        # SSFP with T2 near T1 amplifies the float rounding of the RF phase
        # (bart's float phase arithmetic, which medvol follows): bart and
        # medvol are each 1e-5 from a float64 Bloch simulation there
        tol = 5e-5 if f in ('sd', 'sdr') else 3e-5
        c.ratio('epg (/tolerance)', e / tol)
        if e > tol:
            c.fail('epg', '%s: %s %.3g from bart' % (what, f, e), run)
            return


def smooth_object(rng, shape):
    """a random object of a few ellipsoids (any 2D/3D shape)"""
    g = np.meshgrid(*[(np.arange(n) - n // 2) / n for n in shape], indexing='ij')
    obj = np.zeros(shape)
    for _ in range(5):
        r2 = sum(((gi - rng.uniform(-0.2, 0.2)) / rng.uniform(0.1, 0.3)) ** 2 for gi in g)
        obj += rng.uniform(0.5, 1.5) * (r2 < 1)
    return obj


def smooth_coils(rng, shape, C):
    """C smooth coil maps on a ring (Gaussian magnitude, a random constant
    phase each), normalised to a root sum of squares of 1"""
    g = np.meshgrid(*[(np.arange(n) - n // 2) / n for n in shape], indexing='ij')
    maps = []
    for i in range(C):
        t = 2 * np.pi * i / C
        maps.append(np.exp(-((g[0] - 0.6 * np.cos(t)) ** 2 + (g[1] - 0.6 * np.sin(t)) ** 2) / 0.5)
                    * np.exp(1j * rng.uniform(-np.pi, np.pi)))
    S = np.stack(maps, -1)
    return S / np.sqrt(np.sum(np.abs(S) ** 2, -1, keepdims=True))


def second_map(rng, S, shape):
    """a second set of maps (ESPIRiT's second map: weaker, other phases),
    which the data does not hold"""
    return np.stack([np.roll(S[..., i], shape[0] // 3, axis=0) * 0.4 * np.exp(1j * rng.uniform(-np.pi, np.pi))
                     for i in range(S.shape[-1])], -1)


def admm_args(rng, lam, nc, three, M):
    """the terms of an admm case: two or three of l2 (-R Q), l1-wavelet
    (-R W), l1 of the image (-R I, on two maps I:16 half the time: jointly
    over the maps), TV (-R T), TGV (-R G, its two terms last in medvol's
    ADMM wherever it stands in BART's) and non-negativity (-R S) in
    a random order (BART's ADMM), or one of Q, W, I, S with -m (ADMM), or
    on Cartesian data one of I, S alone (BART's FISTA with their prox);
    returns the argument list and whether an l1-wavelet term is in it"""
    kinds = list(rng.permutation(['Q', 'W', 'I', 'T', 'S', 'G']))[:int(rng.choice([1, 2, 2, 3]))]
    if kinds == ['T']:
        kinds = ['I']
    # BART picks FISTA when W, I or S comes first and only Q follows, and its FISTA asserts on two terms: -m
    force = (len(kinds) == 1 and (nc or kinds[0] in 'QWG' or rng.random() < 0.5)) or \
        (len(kinds) > 1 and kinds[0] in 'WIS' and all(k == 'Q' for k in kinds[1:]))
    args = ['-m'] if force else []
    for k in kinds:
        if k == 'Q':
            args += ['-R', 'Q:%r' % float(rng.choice([0.005, 0.02, 0.1]))]
        elif k == 'W':
            # radial: lambda <= 0.02, as TV's: at 0.1 with the random shifts BART's own rounds move by 0.14
            # between -i 150 and 600 and the two part by 0.1 (seed 13); -n, or 0.02, 4e-3 and 1e-3 apart
            flags = int(rng.choice([3, 7, 1, 2] if three else [3, 1, 2]))
            args += ['-R', 'W:%d:0:%r' % (flags, min(lam, 0.02) if nc else lam)]
        elif k == 'I':
            joint = 16 if M == 2 and rng.random() < 0.5 else 0  # two maps: half the time jointly over them
            args += ['-R', 'I:%d:%r' % (joint, float(rng.choice([0.001, 0.005, 0.02])))]
        elif k == 'S':
            args += ['-R', 'S']
        elif k == 'G':
            flags = int(rng.choice([3, 7, 1, 2, 5] if three else [3, 7, 1, 2]))
            args += ['-R', 'G:%d:0:%r' % (flags, min(lam, 0.02) if nc else lam)]
        else:
            flags = int(rng.choice([3, 7, 1, 2, 5] if three else [3, 7, 1, 2]))
            args += ['-R', 'T:%d:0:%r' % (flags, min(lam, 0.02) if nc else lam)]
    fista = len(kinds) == 1 and not force
    its = [5, 15, 30] if fista else [150, 300] if nc else [10, 30, 45]
    args += ['-i', str(int(rng.choice(its)))]
    if not fista:
        args += ['-u', repr(float(rng.choice([0.5, 1.0] if nc else [0.2, 0.5, 1.0])))] if rng.random() < 0.5 else []
        args += ['-C', str(int(rng.choice([3, 5, 10])))] if rng.random() < 0.5 else []
    elif rng.random() < 0.3:
        args += ['-s', repr(float(rng.choice([0.5, 0.8])))]
    if 'W' in kinds:
        # radial: -n. With the random shifts ADMM's prox changes every round and its iterates never
        # settle: the NUFFTs' ~1e-3 difference parts BART's and medvol's by up to 0.1 at any -i
        # (seeds 14, 16: 0.05..0.1 at -i 150 .. 1200; the same cases with -n 1e-3). The Cartesian
        # cases check the shifts.
        args += ['-n'] if nc or rng.random() >= 0.6 else []
        if rng.random() < 0.3:
            args += ['--wavelet', 'haar']
    return args, 'W' in kinds


def bart_spread(c, run, d, args, b, fam):
    """how far BART's own image b moves when its data k is scaled by 1 +
    3e-7 (the same pics ARGS, whose last two are k s): the rounding floor a
    case beyond its tolerance (Cartesian 2e-5, radial 5e-2) is then held to (3x)"""
    run([BART, 'scale', '1.0000003', 'k', 'kp'], check=True)
    run([BART, 'pics'] + args[:-2] + ['kp', 's', 'bp'], check=True)
    c.note('%s: cases beyond their tolerance, compared with 3x BART\'s own spread (its data x (1 + 3e-7))' % fam)
    return rel(read_cfl(os.path.join(d, 'bp')).reshape(-1, order='F'), b)


def fam_l1(c, run, d, tv=False, admm=False):
    """bart pics -l1 (or -R W:FLAGS:0:LAMBDA) against mvtool pics: BART's
    FISTA with its wavelet, Cartesian 2D/3D with random variable-density
    lines or radial (-t), BART's random cycle spinning or -n, -S or BART's
    data scale, random lambda, step, wavelet (dau2, haar; cdf44 on axes of
    10 samples and more) and iterations. Maps (30%: two, the second not in
    the data): normalised smooth coils
    (not ESPIRiT: 3D too). Cartesian within 2e-5 (float rounding over the
    iterations; measured <= 3e-6), radial within 1e-2 (the two NUFFTs
    differ by ~1e-3); -e (BART's eigenvalue-scaled step) on 40% of the
    radial cases (the others a step from numpy's power iteration) and 25%
    of the Cartesian ones. The shifts must matter: medvol's image with the other
    choice of -n must be farther from BART's than the tolerance (else the
    case is only counted). With tv: bart pics -R T:FLAGS:0:LAMBDA (isotropic
    TV by BART's ADMM: random -u rho, -C CG steps, -i total CG steps) on
    the same data, the same tolerances but radial's 5e-2 (ADMM's rounds amplify the NUFFTs' difference).
    A quarter of the cases pass -p P (BART's pattern or weights): radial,
    random weights per sample (a tenth 0); Cartesian, a 0/1 pattern
    dropping samples of data and adding samples without, or weights on it
    (BART 0.8's Cartesian pics weights by P where medvol and BART 0.9 on
    weight by |P|^2: bart gets P^2; both get -w 1, as the scale estimates
    differ there)."""
    fam = 'admm' if admm else 'tv' if tv else 'l1'
    rng = c.rng
    nc = rng.random() < 0.3
    three = not nc and rng.random() < 0.35
    # sizes of every residue mod 4: BART's fftmod negates (n = 2 mod 4) or shifts (odd n) its image
    shape = [int(rng.choice([16, 19, 21, 24, 33, 34])), int(rng.choice([16, 23, 24, 30, 31]))] + \
            ([int(rng.choice([10, 11, 12, 16]))] if three else [1])
    if nc:  # square, even: BART's NUFFT is off on odd sizes (bart_limits)
        shape[0] += shape[0] % 2
        shape[1] = shape[0]
    C = int(rng.integers(2, 6))
    obj = smooth_object(rng, shape)
    S = smooth_coils(rng, shape, C)
    img = obj[..., None] * S
    M = 2 if rng.random() < 0.3 else 1
    if nc and C < 3:
        # radial with two maps needs three coils or more (as fam_llr): with two coils and two maps (the second
        # not in the data) the solve is underdetermined and both tools' iterates drift on rounding; seed 53101's
        # tv case 765 (24^2, 2 coils, -R T:1:0:0.02 -i 150): BART 0.060 and medvol 0.042 from themselves under
        # a 3e-7 change of the data, 0.10 apart
        M = 1
    if M == 2:  # a second set of maps (ESPIRiT's second map: weaker, other phases), which the data does not hold
        S2 = second_map(rng, S, shape)
        S = np.stack([S, S2], -1)
    write_cfl(os.path.join(d, 's'), S.astype(np.complex64))
    axes = (0, 1, 2) if three else (0, 1)
    if nc:
        X, Y = 2 * shape[0], int(rng.choice([16, 24, 32]))
        run([BART, 'traj', '-r', '-x', str(X), '-y', str(Y)] + (['-G'] if rng.random() < 0.5 else []) + ['t0'], check=True)
        run([BART, 'scale', '0.4', 't0', 't'], check=True)
        t = read_cfl(os.path.join(d, 't'), 3).real.reshape(3, -1, order='F').astype(np.float64)
        y = nudft(t, shape, img=img).reshape(1, X, Y, C, order='F')
        y += crandn(rng, y.shape, 1e-3 * np.abs(y).max())
        write_cfl(os.path.join(d, 'k'), y.astype(np.complex64))
        # TV: 5e-2, the NUFFTs' ~1e-3 amplified by ADMM's rounds (its inner
        # CG's stopping point moves with them) as l2's CG amplifies it:
        # measured up to 3.5e-2 at -i 150 and 300 (seed 12: 3 of 22 radial
        # cases beyond 2e-2, one map or two; the Cartesian rounds agree to 3e-7)
        what, tol = '%s, %d coils, radial %dx%d' % (shape, C, X, Y), 5e-2 if tv or admm else 1e-2
    else:
        k = centred(img, axes, False)
        k += crandn(rng, k.shape, 1e-3 * np.abs(k).max())
        ny, nz = shape[1], shape[2]
        pdf = np.exp(-(((np.arange(ny) - ny // 2) / (0.3 * ny)) ** 2))[:, None] * \
            (np.exp(-(((np.arange(nz) - nz // 2) / (0.3 * nz)) ** 2))[None, :] if nz > 1 else np.ones((1, 1)))
        mask = rng.random((ny, nz)) < pdf
        mask[ny // 2 - 2:ny // 2 + 2, max(0, nz // 2 - 2):nz // 2 + 2] = True
        write_cfl(os.path.join(d, 'k'), (k * mask[None, :, :, None]).astype(np.complex64))
        what, tol = '%s, %d coils, %.0f%% of the lines' % (shape, C, 100 * mask.mean()), 2e-5
    lam = float(rng.choice([0.001, 0.005, 0.02, 0.1]))
    it = int(rng.choice([5, 15, 30]))
    shifts = rng.random() < 0.6
    wav = str(rng.choice(['dau2', 'dau2', 'haar'] + (['cdf44'] if min(shape[:2]) >= 10 and (not three or shape[2] >= 10) else [])))
    if admm:
        args, shifts = admm_args(rng, lam, nc, three, M)
        shifts = shifts and '-n' not in args  # the other -n only where a wavelet term has shifts
    elif tv:
        flags = int(rng.choice([3, 7, 1, 2, 5] if three else [3, 7, 1, 2]))
        # radial: rounds enough to approach the minimiser: after a few, the two NUFFTs' ~1e-3 flips
        # where the inner CG stops and the iterates part by up to 5e-2 (measured at -i 30; 4e-3 at 300)
        args = ['-R', 'T:%d:0:%r' % (flags, lam), '-i', str(int(rng.choice([150, 300] if nc else [10, 30, 45])))]
        # (radial: rho 0.5 or 1 and lambda <= 0.02; with rho 0.2 and lambda 0.1 BART's and medvol's rounds
        # oscillate without settling, 5e-2..0.35 apart for -i 300..3000, so no reference is meaningful)
        if nc:
            lam = min(lam, 0.02)
            args[1] = 'T:%d:0:%r' % (flags, lam)
        args += ['-u', repr(float(rng.choice([0.5, 1.0] if nc else [0.2, 0.5, 1.0])))] if rng.random() < 0.5 else []
        args += ['-C', str(int(rng.choice([3, 5, 10])))] if rng.random() < 0.5 else []
    elif rng.random() < 0.3:
        flags = int(rng.choice([3, 7, 1, 2] if three else [3, 1, 2]))
        args = ['-R', 'W:%d:0:%r' % (flags, lam)]
    else:
        args = ['-l1', '-r', repr(lam)]
    if admm:
        tv = True  # from here on as TV: no step, radial within 5e-2
    if not tv:
        args += ['-i', str(it)] + ([] if shifts else ['-n']) + (['--wavelet', wav] if wav != 'dau2' else [])
    if nc and not tv and rng.random() < 0.4:  # BART's own remedy: the step over its eigenvalue estimate
        args += ['-e']
    elif nc and not tv:  # a step below 1 / (the normal operator's largest eigenvalue): FISTA diverges beyond 2 / L
        E = nudft(t, shape, img=np.eye(int(np.prod(shape))).reshape(tuple(shape) + (-1,), order='F'))
        E = E.astype(np.complex64)
        Eh = np.ascontiguousarray(E.conj().T)
        Sm = S.reshape(E.shape[1], C, M, order='F').astype(np.complex64)
        v = crandn(rng, (E.shape[1], M)).astype(np.complex64)
        for _ in range(30):  # power iteration on A^H A, A x = E sum_m S_m x_m (converges from below: margin in the step)
            coil = np.sum(Sm * v[:, None, :], axis=2)
            v = np.sum(np.conj(Sm) * (Eh @ (E @ coil))[:, :, None], axis=1)
            L = float(np.linalg.norm(v))
            v /= L
        args += ['-s', repr(float(np.float32(rng.uniform(0.5, 0.9) / L)))]
    elif rng.random() < 0.3 and not tv:
        args += ['-s', repr(float(rng.choice([0.5, 0.8])))]
    if not nc and not tv and rng.random() < 0.25:  # -e on Cartesian data: the same operator, the step over ~1
        args += ['-e']
    if rng.random() < 0.6:
        args += ['-S']
    bargs = list(args)
    if rng.random() < 0.25:
        if nc:
            P = rng.uniform(0.3, 1.5, (1, X, Y)) * (rng.random((1, X, Y)) > 0.1)
            write_cfl(os.path.join(d, 'p'), P.astype(np.complex64))
            args, bargs = args + ['-p', 'p'], bargs + ['-p', 'p']
        else:
            held = np.broadcast_to(mask[None, :, :], tuple(shape))
            P = ((held & (rng.random(shape) < 0.85)) | (rng.random(shape) < 0.05)).astype(np.float64)
            if rng.random() < 0.5:
                P *= rng.uniform(0.2, 1.5, shape)
            write_cfl(os.path.join(d, 'p'), P.astype(np.complex64))
            write_cfl(os.path.join(d, 'p2'), (P ** 2).astype(np.complex64))
            w = [] if '-w' in args else ['-w', '1']
            args, bargs = args + w + ['-p', 'p'], args + w + ['-p', 'p2']
    args += (['-t', 't'] if nc else []) + ['k', 's']
    bargs += (['-t', 't'] if nc else []) + ['k', 's']
    what += ', %d map(s), ' % M + ' '.join(args[:-2])
    run([BART, 'pics'] + bargs + ['b'], check=True)
    rm = run([c.tool, 'pics'] + args + ['m'])
    if rm.returncode != 0:
        c.fail(fam, '%s: mvtool pics: %s' % (what, rm.stderr.strip()), run)
        return
    if hdr_dims(os.path.join(d, 'm')) != hdr_dims(os.path.join(d, 'b')):
        c.fail(fam, '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, 'm')), hdr_dims(os.path.join(d, 'b'))), run)
        return
    b, m = [read_cfl(os.path.join(d, f)).reshape(-1, order='F') for f in ('b', 'm')]  # maps one after the other
    e = rel(m, b)
    if e > tol and (admm and not nc or tv and nc):
        # rounding amplified: some small cases (2 coils, a weak wavelet term beside l1) move BART's own image
        # by as much when its data is scaled by 1 + 3e-7 (seed 31: 4.4e-5 from BART, BART 5.3e-5 from itself;
        # its CG steps per round change at a stopping threshold). medvol must then be within 3x that spread.
        # Radial TV / ADMM likewise: seed 779's tv case 54 (34^2, 2 coils, 16 spokes, -R T:2:0:0.02 -i 150)
        # 0.145 from BART, BART 0.134 from itself.
        spread = bart_spread(c, run, d, bargs, b, fam)
        what += ' (BART\'s own spread %.3g)' % spread
        tol = max(tol, 3 * spread)
    c.ratio(fam + ' pics (non-Cartesian)' if nc else fam + ' pics', e / tol)
    if e > tol:
        c.fail(fam, '%s: %.3g from BART' % (what, e), run)
        return
    if tv and not (admm and shifts):
        return
    other = [a for a in args if a != '-n'] if not shifts else args[:-2] + ['-n'] + args[-2:]
    run([c.tool, 'pics'] + other + ['o'], check=True)
    eo = rel(read_cfl(os.path.join(d, 'o')).reshape(-1, order='F'), b)
    if eo <= 3 * tol:
        c.note('%s: the shifts (-n or not) moved the image by less than 3x the tolerance' % fam)
    elif e > eo / 10:
        c.fail(fam, '%s: %.3g from BART, and %.3g with the other -n: the shifts are not BART\'s' % (what, e, eo), run)


def fam_tv(c, run, d):
    fam_l1(c, run, d, tv=True)


def fam_admm(c, run, d):
    fam_l1(c, run, d, admm=True)


def pics_pair(c, run, d, fam, args, what, mine=()):
    """bart pics ARGS b and mvtool pics [MINE] ARGS m in d: (b, m) as
    flat arrays, or None after a failure (mvtool's error, other dims)"""
    run([BART, 'pics'] + args + ['b'], check=True)
    rm = run([c.tool, 'pics'] + list(mine) + args + ['m'])
    if rm.returncode != 0:
        c.fail(fam, '%s: mvtool pics: %s' % (what, rm.stderr.strip()), run)
        return None
    if hdr_dims(os.path.join(d, 'm')) != hdr_dims(os.path.join(d, 'b')):
        c.fail(fam, '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, 'm')), hdr_dims(os.path.join(d, 'b'))), run)
        return None
    return [read_cfl(os.path.join(d, f)).reshape(-1, order='F') for f in ('b', 'm')]


def fam_llr(c, run, d):
    """bart pics -R L:XFLAGS:JFLAGS:LAMBDA against mvtool pics on a series:
    T frames (2..7, BART's TE axis) of two random objects mixed with weights
    that change per frame (a low-rank series) seen by smooth coils (1 or 2
    maps; two with 3 coils or more), Cartesian 2D/3D, every frame its own random lines around a full
    centre, or radial (40% of the 2D cases: golden-angle spokes cut into
    frames, one trajectory per frame). The term alone (BART's FISTA; radial
    with -e) or beside one of -R Q, W, T, I (ADMM; radial -n), or with -m;
    random -b (3..8), flags (row flags = block flags, or the row flags a
    superset), lambda, -n. Cartesian within 2e-5 (or 3x BART's own spread
    under a 3e-7 change of its data, as admm), radial 1e-2 (FISTA) or 5e-2
    (ADMM): the NUFFTs differ by ~1e-3. Cartesian FISTA cases with shifts:
    medvol with -n must be farther from BART than the tolerance."""
    rng = c.rng
    T = int(rng.integers(2, 8))
    three = rng.random() < 0.3
    nc = not three and rng.random() < 0.4
    shape = [int(rng.choice([16, 19, 24, 30, 33])), int(rng.choice([16, 21, 24, 31]))] + \
            ([int(rng.choice([6, 9, 12]))] if three else [1])
    if nc:
        shape[0] += shape[0] % 2
        shape[1] = shape[0]
    C = int(rng.integers(2, 6))
    o1, o2 = smooth_object(rng, shape), smooth_object(rng, shape)
    S = smooth_coils(rng, shape, C)
    M = 2 if rng.random() < 0.25 else 1
    if C < 3:
        # two maps need three coils or more: with two coils and two maps (the second not in the data) the
        # series is underdetermined, and both tools' iterates drift on rounding (seed 20261126: BART's own
        # spread 1.1-1.5e-5 under data changes of 3e-7 .. 3e-6, medvol 4.5e-5 from it at -i 30, 1.0e-5 at -i 10,
        # growing with -i; BART's LLR prox rounds its SVD of 6 x 798 blocks in float, medvol's in double)
        M = 1
    Sw = S
    if M == 2:
        S2 = second_map(rng, S, shape)
        Sw = np.stack([S, S2], -1)
    write_cfl(os.path.join(d, 's'), Sw.astype(np.complex64))
    wa, wb = rng.uniform(0.2, 1.0, T), rng.uniform(0.2, 1.0, T)
    axes = (0, 1, 2) if three else (0, 1)
    if nc:
        X, Y = 2 * shape[0], int(rng.choice([8, 12, 16]))
        run([BART, 'traj', '-r', '-G', '-x', str(X), '-y', str(Y * T), 't0'], check=True)
        run([BART, 'scale', '0.4', 't0', 't1'], check=True)
        run([BART, 'reshape', str(4 | 32), str(Y), str(T), 't1', 't'], check=True)
        ta = read_cfl(os.path.join(d, 't1'), 3).real.astype(np.float64)
        ks = np.zeros((1, X, Y, C, 1, T), np.complex128)
        for f in range(T):
            img = (wa[f] * o1 + wb[f] * o2)[..., None] * S
            tf = ta[:, :, f * Y:(f + 1) * Y].reshape(3, -1, order='F')
            ks[..., 0, f] = nudft(tf, shape, img=img).reshape(1, X, Y, C, order='F')
        ks += crandn(rng, ks.shape, 1e-3 * np.abs(ks).max())
        what = '%s x %d frames, %d coils, radial %dx%d per frame' % (shape, T, C, X, Y)
    else:
        ks = np.zeros(tuple(shape) + (C, 1, T), np.complex128)
        ny, nz = shape[1], shape[2]
        for f in range(T):
            k = centred((wa[f] * o1 + wb[f] * o2)[..., None] * S, axes, False)
            mask = rng.random((ny, nz)) < 0.35
            mask[ny // 2 - 2:ny // 2 + 2, max(0, nz // 2 - 1):nz // 2 + 1] = True
            ks[..., 0, f] = k * mask[None, :, :, None]
        ks += crandn(rng, ks.shape, 1e-3 * np.abs(ks).max()) * (ks != 0)
        what = '%s x %d frames, %d coils' % (shape, T, C)
    write_cfl(os.path.join(d, 'k'), ks.astype(np.complex64))
    ax10 = rng.random() < 0.3
    tflags = 3 | (1024 if ax10 else 32) if rng.random() < 0.5 else 3  # half the TV terms along the frames too
    if ax10:  # the frames in BART's TIME_DIM (10), beyond medvol's 7 axes: mvtool folds them
        run([BART, 'transpose', '5', '10', 'k', 'k10'], check=True)
        os.replace(os.path.join(d, 'k10.cfl'), os.path.join(d, 'k.cfl'))
        os.replace(os.path.join(d, 'k10.hdr'), os.path.join(d, 'k.hdr'))
        if nc:
            run([BART, 'transpose', '5', '10', 't', 't10'], check=True)
            os.replace(os.path.join(d, 't10.cfl'), os.path.join(d, 't.cfl'))
            os.replace(os.path.join(d, 't10.hdr'), os.path.join(d, 't.hdr'))
        what += ', frames in axis 10'
    jf = int(rng.choice([7, 3, 1, 2] if three else [3, 1, 2, 7]))
    xf = jf if rng.random() < 0.7 else 7
    lam = float(rng.choice([0.005, 0.02, 0.05]))
    args = ['-R', 'L:%d:%d:%r' % (xf, jf, lam)]
    other = rng.random()
    admm = other < 0.45
    if other < 0.35:
        k = str(rng.choice(['Q', 'W', 'T', 'I']))
        term = ['-R', {'Q': 'Q:0.01', 'W': 'W:3:0:0.005', 'T': 'T:%d:0:0.005' % tflags, 'I': 'I:0:0.005'}[k]]
        # either order; BART takes L then only Q as FISTA's and asserts: Q first
        args = term + args if k == 'Q' or rng.random() < 0.5 else args + term
    elif admm:
        args = ['-m'] + args
    args += ['-i', str(int(rng.choice([150, 300] if nc and admm else [10, 20, 30])))]
    if rng.random() < 0.5:
        args += ['-b', str(int(rng.integers(3, 9)))]
    mine = []
    if rng.random() < 0.2:  # no LLR: l2 or TV on the series, mvtool --joint (BART's iterates of a series)
        admm = rng.random() < 0.5
        args = (['-R', 'T:%d:0:0.005' % tflags] if admm else ['-l2', '-r', '0.01']) + \
            ['-i', str(int(rng.choice([150, 300] if nc and admm else [10, 20, 30])))]
        mine = ['--joint'] if tflags == 3 or not admm else []  # TV along the frames: joint anyway
    shifts = not (nc and admm) and rng.random() < 0.6
    args += [] if shifts else ['-n']
    if nc and not admm:
        args += ['-e']
    elif not admm and rng.random() < 0.3:
        args += ['-s', repr(float(rng.choice([0.5, 0.8])))]
    if rng.random() < 0.5:
        args += ['-S']
    args += (['-t', 't'] if nc else []) + ['k', 's']
    tol = (5e-2 if admm else 1e-2) if nc else 2e-5
    what += ', %d map(s), ' % M + ' '.join(args[:-2])
    bm = pics_pair(c, run, d, 'llr', args, what, mine)
    if bm is None:
        return
    b, m = bm
    e = rel(m, b)
    if e > tol and not nc:  # rounding amplified, as in admm: within 3x BART's own spread
        spread = bart_spread(c, run, d, args, b, 'llr')
        what += ' (BART\'s own spread %.3g)' % spread
        tol = max(tol, 3 * spread)
    c.ratio('llr pics (non-Cartesian)' if nc else 'llr pics', e / tol)
    if e > tol:
        c.fail('llr', '%s: %.3g from BART' % (what, e), run)
        return
    if nc or admm or not shifts or mine:
        return
    run([c.tool, 'pics'] + args[:-2] + ['-n'] + args[-2:] + ['o'], check=True)
    eo = rel(read_cfl(os.path.join(d, 'o')).reshape(-1, order='F'), b)
    if eo <= 3 * tol:
        c.note('llr: the block shifts (-n or not) moved the image by less than 3x the tolerance')
    elif e > eo / 10:
        c.fail('llr', '%s: %.3g from BART, and %.3g with -n: the shifts are not BART\'s' % (what, e, eo), run)


def fam_subspace(c, run, d):
    """bart pics -B BASIS (a subspace: BART's TE frames = sum_k B[t, k]
    x_k) against mvtool pics -B: T frames (2..9) of K (1..4) random smooth
    objects through a random complex basis (orthonormal columns, or raw
    uniform ones: BART does not normalise), smooth coils (1 or 2 maps; two
    with 3 coils or more), Cartesian 2D/3D, each frame its own random lines
    around a full centre; -l2 -r (CG), -l1 -e or -R I -e (FISTA), -R L -e
    (LLR over the coefficients, FISTA), -R T (ADMM, sometimes along the
    coefficients: BART's COEFF axis 6, flag 64); a third of the cases pass
    the frames' 0/1 pattern with -p on the data with every line kept (the
    pattern drops the rest; -w 1: bart 0.8's scale estimate ignores P);
    random -i, -S; 40% of the 2D cases radial (subspace_radial). Within 2e-5, or 3x BART's own
    spread under a 3e-7 change of its data (CG near convergence on an
    ill-conditioned subspace amplifies rounding)."""
    rng = c.rng
    T, K = int(rng.integers(2, 10)), int(rng.integers(1, 5))
    K = min(K, T)
    three = rng.random() < 0.3
    nc = not three and rng.random() < 0.4
    shape = [int(rng.choice([16, 19, 24, 30])), int(rng.choice([16, 21, 24]))] + ([int(rng.choice([6, 9]))] if three else [1])
    if nc:
        shape[0] += shape[0] % 2
        shape[1] = shape[0]
    C = int(rng.integers(2, 6))
    S = smooth_coils(rng, shape, C)
    M = 2 if C >= 3 and rng.random() < 0.25 else 1
    Sw = np.stack([S, second_map(rng, S, shape)], -1) if M == 2 else S
    write_cfl(os.path.join(d, 's'), Sw.astype(np.complex64))
    B = rng.uniform(-1, 1, (T, K)) + 1j * rng.uniform(-1, 1, (T, K))
    if rng.random() < 0.6:
        B = np.linalg.qr(B)[0]
    write_cfl(os.path.join(d, 'bas'), B.reshape((1, 1, 1, 1, 1, T, K), order='F').astype(np.complex64))
    objs = [smooth_object(rng, shape) for _ in range(K)]
    if nc:
        subspace_radial(c, run, d, rng, shape, T, K, C, S, B, objs, M)
        return
    axes = (0, 1, 2) if three else (0, 1)
    ny, nz = shape[1], shape[2]
    full = np.zeros(tuple(shape) + (C, 1, T), np.complex128)
    pat = np.zeros(tuple(shape) + (1, 1, T), np.float32)
    for f in range(T):
        img = sum(B[f, j] * objs[j] for j in range(K))
        k = centred(img[..., None] * S, axes, False)
        mask = rng.random((ny, nz)) < 0.35
        mask[ny // 2 - 2:ny // 2 + 2, max(0, nz // 2 - 1):nz // 2 + 1] = True
        full[..., 0, f] = k
        pat[..., 0, 0, f] = np.broadcast_to(mask[None, :, :], tuple(shape))
    full += crandn(rng, full.shape, 1e-3 * np.abs(full).max())
    use_p = rng.random() < 0.33
    ks = full if use_p else full * pat
    write_cfl(os.path.join(d, 'k'), ks.astype(np.complex64))
    what = '%s x %d frames, K %d, %d coils, %d map(s)' % (shape, T, K, C, M)
    kind = rng.random()
    lam = float(rng.choice([0.005, 0.02]))
    if kind < 0.3:
        args = ['-l2', '-r', '0.01']
    elif kind < 0.45:
        args = ['-l1', '-r', repr(lam), '-e']
    elif kind < 0.55:
        args = ['-R', 'I:0:%r' % lam, '-e']
    elif kind < 0.8:
        args = ['-R', 'L:7:7:%r' % lam, '-e', '-b', str(int(rng.integers(3, 9)))]
    else:
        args = ['-R', 'T:%d:0:0.005' % (3 | (64 if rng.random() < 0.4 and K > 1 else 0))]
    args += ['-i', str(int(rng.choice([10, 20, 30])))]
    if rng.random() < 0.5:
        args += ['-S']
    if use_p:
        write_cfl(os.path.join(d, 'p'), pat.astype(np.complex64))
        args += ['-p', 'p', '-w', '1']  # bart 0.8 estimates its scale on the data as given, 0.9 on it times P
    args += ['-B', 'bas', 'k', 's']
    what += ', ' + ' '.join(args[:-2])
    bm = pics_pair(c, run, d, 'subspace', args, what)
    if bm is None:
        return
    b, m = bm
    e, tol = rel(m, b), 2e-5
    if e > tol:
        spread = bart_spread(c, run, d, args, b, 'subspace')
        what += ' (BART\'s own spread %.3g)' % spread
        tol = max(tol, 3 * spread)
    c.ratio('subspace pics', e / tol)
    if e > tol:
        c.fail('subspace', '%s: %.3g from BART' % (what, e), run)


def subspace_radial(c, run, d, rng, shape, T, K, C, S, B, objs, M):
    """fam_subspace's radial cases: golden-angle spokes cut into T frames
    (a trajectory per frame, or the first frame's shared), the frames
    through the exact NUDFT, a third with some spokes zero in every coil
    (BART then weights by the data's 0/1 pattern; mvtool passes it); -l2,
    -l1 -e, -R L -e (within 1e-2: the NUFFTs differ by ~1e-3) or -R T
    (5e-2, ADMM amplifies it)."""
    X, Y = 2 * shape[0], int(rng.choice([8, 12, 16]))
    shared = rng.random() < 0.4
    run([BART, 'traj', '-r', '-G', '-x', str(X), '-y', str(Y * T), 't0'], check=True)
    run([BART, 'scale', '0.4', 't0', 't1'], check=True)
    ta = read_cfl(os.path.join(d, 't1'), 3).real.astype(np.float64)
    if shared:
        run([BART, 'resize', '2', str(Y), 't1', 't'], check=True)
    else:
        run([BART, 'reshape', str(4 | 32), str(Y), str(T), 't1', 't'], check=True)
    ks = np.zeros((1, X, Y, C, 1, T), np.complex128)
    for f in range(T):
        img = sum(B[f, j] * objs[j] for j in range(K))
        tf = ta[:, :, (0 if shared else f) * Y:((0 if shared else f) + 1) * Y].reshape(3, -1, order='F')
        ks[..., 0, f] = nudft(tf, shape, img=img[..., None] * S).reshape(1, X, Y, C, order='F')
    ks += crandn(rng, ks.shape, 1e-3 * np.abs(ks).max())
    zeros = rng.random() < 0.33
    if zeros:
        f = int(rng.integers(0, T))
        ks[0, :, :int(rng.integers(1, Y // 2 + 1)), :, 0, f] = 0
    write_cfl(os.path.join(d, 'k'), ks.astype(np.complex64))
    kind = rng.random()
    lam = float(rng.choice([0.005, 0.02]))
    admm = kind >= 0.85
    args = (['-l2', '-r', '0.01'] if kind < 0.3 else ['-l1', '-r', repr(lam), '-e'] if kind < 0.55 else
            ['-R', 'L:7:7:%r' % lam, '-e', '-n'] if not admm else ['-R', 'T:3:0:0.005'])
    args += ['-i', str(int(rng.choice([150, 300] if admm else [5, 10, 20])))]
    if rng.random() < 0.5:
        args += ['-S']
    args += ['-B', 'bas', '-t', 't', 'k', 's']
    what = '%s x %d frames, K %d, %d coils, %d map(s), radial %dx%d%s%s, %s' % (
        shape, T, K, C, M, X, Y, ' shared' if shared else ' per frame', ', zero spokes' if zeros else '',
        ' '.join(args[:-2]))
    bm = pics_pair(c, run, d, 'subspace', args, what)
    if bm is None:
        return
    b, m = bm
    e, tol = rel(m, b), 5e-2 if admm else 1e-2
    c.ratio('subspace pics (non-Cartesian)', e / tol)
    if e > tol:
        c.fail('subspace', '%s: %.3g from BART' % (what, e), run)


def nlinv_ulp(c, run, d, extra):
    """one ulp of BART's first CG step alpha relative to the image 1 - alpha
    that step leaves (bart nlinv -i 1 -N EXTRA k: the case's options but -i
    and -S), or None (noted) for a
    degenerate case, where 4 of them exceed 1e-2: where the coils' part of
    the right-hand side is small beside the image's (-x), 1 - alpha is small
    and one ulp of alpha (6e-8) a large part of it, which every later step
    carries (BART and medvol round alpha's operands a last bit apart)"""
    run([BART, 'nlinv', '-i', '1', '-N'] + extra + ['k', 'b1'], check=True)
    ulp = 6e-8 / max(np.abs(read_cfl(os.path.join(d, 'b1'))).max(), 1e-30)
    if 4 * ulp > 1e-2:
        c.note('nlinv: degenerate cases skipped (BART\'s first step leaves an image 1 - alpha of a few ulps of alpha)')
        return None
    return ulp


def nlinv_pair(c, run, d, args, what, cmd='nlinv'):
    """bart CMD -d5 ARGS k b bs and mvtool CMD ARGS k m ms (CMD nlinv or
    rtnlinv): (the larger NRMSE of image and coils, b, bs, BART's longest
    inner CG run), or None after a failure (mvtool's error, other dims)"""
    rb = run([BART, cmd, '-d5'] + args + ['k', 'b', 'bs'], check=True)
    longest = max([int(v) + 1 for v in re.findall(r'cg:\s*(\d+)', rb.stdout + rb.stderr)] or [0])
    rm = run([c.tool, cmd] + args + ['k', 'm', 'ms'])
    if rm.returncode != 0:
        c.fail(cmd, '%s: mvtool %s: %s' % (what, cmd, rm.stderr.strip()), run)
        return None
    for o, r in (('b', 'm'), ('bs', 'ms')):
        if hdr_dims(os.path.join(d, o)) != hdr_dims(os.path.join(d, r)):
            c.fail(cmd, '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, r)), hdr_dims(os.path.join(d, o))), run)
            return None
    b, m, bs, ms = [read_cfl(os.path.join(d, f)).reshape(-1, order='F') for f in ('b', 'm', 'bs', 'ms')]
    return max(rel(m, b), rel(ms, bs)), b, bs, longest


def nlinv_tol(c, cmd, args, longest, tol):
    """a case's tolerance: tol, 2e-3 with -m 2 (ENLIVE's second map grows from
    the rounding of the first step's Gram-Schmidt), 5e-2 where one of BART's
    inner CG runs takes 15 iterations or more (a long float CG under BART's
    loose stop: its count moves under rounding, README); noted"""
    if '-m' in args:
        c.note('%s: -m 2 cases held to 2e-3 (the second map starts from rounding)' % cmd)
        tol = max(tol, 2e-3)
    if longest >= 15:
        c.note('%s: cases with a CG step of 15 iterations or more held to 5e-2 (the stop moves under rounding)' % cmd)
        tol = max(tol, 5e-2)
    return tol


def nlinv_judge(c, run, d, args, what, e, tol, b, bs, mult, key, cmd='nlinv'):
    """beyond tol, the case is held to MULT x BART's own spread under a 3e-7
    change of its data instead, when larger; a case where that spread
    exceeds 5% is unstable in BART itself and skipped (noted: small radial
    grids with -f, where both tools' images run away)"""
    if e > tol:
        run([BART, 'scale', '1.0000003', 'k', 'kp'], check=True)
        run([BART, cmd] + args + ['kp', 'bp', 'bps'], check=True)
        spread = max(rel(read_cfl(os.path.join(d, 'bp')).reshape(-1, order='F'), b),
                     rel(read_cfl(os.path.join(d, 'bps')).reshape(-1, order='F'), bs))
        if spread > 0.05:  # BART moves by percents under a 3e-7 change of its data: nothing to compare
            c.note('%s: cases unstable in BART itself skipped (its own spread above 5%%)' % cmd)
            return
        c.note('%s: cases beyond their tolerance, compared with %dx BART\'s own spread (its data x (1 + 3e-7))' % (cmd, mult))
        what += ' (BART\'s own spread %.3g)' % spread
        tol = max(tol, mult * spread)
    c.ratio(key, e / tol)
    if e > tol:
        c.fail(cmd, '%s: %.3g from BART' % (what, e), run)


def fam_homodyne(c, run, d):
    """bart homodyne against mvtool homodyne (">>api-recon: homodyne"):
    random smooth complex images (Gaussian blobs on a constant, a slowly
    varying phase; a few coils), their k-space with the part beyond the
    fraction zeroed along a random axis, sizes odd and even, 2D and 3D;
    random -r, -C, -n, -I (the image from bart fft -u -i), -P (random unit
    phases, one for all coils or one each); within 1e-5 (both compute in
    float32; the phase of the centre band, z / |z|, is compared where the
    centre image is above 1e-3 of its largest: below, the two float32
    roundings of a near-zero z may point anywhere)."""
    rng = c.rng
    nz = 1 if rng.random() < 0.7 else int(rng.integers(2, 12))
    dims = [int(rng.integers(6, 40)), int(rng.integers(6, 40)), nz, int(rng.integers(1, 4))]
    axes = [a for a in range(3) if dims[a] > 1]
    ax = int(rng.choice(axes))
    frac = float(np.float32(rng.uniform(0.55, 1.0)))
    g = np.meshgrid(*[np.arange(n) for n in dims[:3]], indexing='ij')
    img = np.zeros(dims[:3], complex) + 1.0
    for _ in range(3):
        ctr = [rng.uniform(0, n) for n in dims[:3]]
        img += 2 * rng.random() * np.exp(-sum((g[a] - ctr[a]) ** 2 for a in range(3) if dims[a] > 1) / 20.0)
    ph = sum(rng.uniform(-0.15, 0.15) * g[a] for a in range(3))
    coils = np.stack([img * np.exp(1j * (ph + 2 * np.pi * rng.random())) for _ in range(dims[3])], -1)
    k = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(coils, axes=(0, 1, 2)), axes=(0, 1, 2), norm='ortho'), axes=(0, 1, 2))
    idx = [slice(None)] * 4
    idx[ax] = slice(int(np.ceil(dims[ax] * frac)), None)
    k[tuple(idx)] = 0
    write_cfl(os.path.join(d, 'k'), k.astype(np.complex64))
    opts = []
    if rng.random() < 0.4:
        opts += ['-r', '%.3f' % rng.random()]
    if rng.random() < 0.3:
        opts.append('-C')
    if rng.random() < 0.2:
        opts.append('-n')
    src = 'k'
    if rng.random() < 0.2:
        run([BART, 'fft', '-u', '-i'] + (['-n'] if '-n' in opts else []) + ['7', 'k', 'ki'], check=True)
        opts.append('-I')
        src = 'ki'
    if rng.random() < 0.2:
        pdims = dims[:3] + ([dims[3]] if rng.random() < 0.5 else [1])
        write_cfl(os.path.join(d, 'p'), np.exp(2j * np.pi * rng.random(pdims)).astype(np.complex64))
        opts += ['-P', 'p']
    args = opts + [str(ax), repr(frac), src]
    what = '%s, homodyne %s' % ('x'.join(str(v) for v in dims), ' '.join(args))
    run([BART, 'homodyne'] + args + ['b'], check=True)
    r = run([c.tool, 'homodyne'] + args + ['m'])
    if r.returncode != 0:
        c.fail('homodyne', '%s: mvtool: %s' % (what, r.stderr.strip()), run)
        return
    b, m = read_cfl(os.path.join(d, 'b'), 4), read_cfl(os.path.join(d, 'm'), 4)
    if b is None or m is None or b.shape != m.shape:
        c.fail('homodyne', '%s: dims %s, BART %s' % (what, hdr_dims(os.path.join(d, 'm')), hdr_dims(os.path.join(d, 'b'))), run)
        return
    keep = np.ones(b.shape, bool)
    if '-P' not in opts:  # the centre image's magnitude, as both estimate it (numpy, float64)
        kk = read_cfl(os.path.join(d, src), 4).astype(complex)
        if '-I' in opts:
            kk = np.fft.fftn(kk, axes=(0, 1, 2))
        n = dims[ax]
        cb = int((frac - 0.5) * n)
        band = np.zeros(n)
        band[n // 2 - cb // 2:n // 2 - cb // 2 + cb] = 1
        sh = [1, 1, 1, 1]
        sh[ax] = n
        kc = kk * band.reshape(sh) if '-I' not in opts and '-n' not in opts else None
        if kc is not None:
            z = np.abs(np.fft.ifftn(kc, axes=(0, 1, 2)))
            keep = z > 1e-3 * z.max(axis=(0, 1, 2), keepdims=True)
            if not keep.all():
                c.note('homodyne: voxels where the centre image is below 1e-3 of its largest, not compared')
    e = np.linalg.norm((m - b)[keep]) / max(np.linalg.norm(b[keep]), 1e-30)
    c.ratio('homodyne (/1e-5)', e / 1e-5)
    if e > 1e-5:
        c.fail('homodyne', '%s: %.3g from BART\'s' % (what, e), run)


def fam_nlinv(c, run, d):
    """bart nlinv against mvtool nlinv: a random smooth object times smooth
    coils (2..6), 2D or 3D, odd and even sizes, 1..3 frames in BART's axis
    10 (one problem, as BART's), random lines (or (y, z) samples) around a
    full centre; -i 3..6 and a random choice of -m 2 (-U), -c, -N, -S, -a
    / -b, -R, -p (the frames' 0/1 pattern, or weights on it), -s 1024 (the
    frames share the coils); -m 2 on one
    frame (ENLIVE's second map starts from the rounding of the first step's
    Gram-Schmidt, every map being the same until then: on a series BART's
    bits and medvol's round that differently; 2e-3 there, measured up to
    2.5e-4). Images and coils within
    5e-5 or 4 ulps of the first CG step relative to the image it leaves
    (below), or 5x BART's own spread under a 3e-7 change of its data
    (BART's loose CG stop can move by a step: 5e-2 where one of BART's
    inner CG runs takes 15 iterations or more, its count then moving
    under rounding, measured up to 2.2e-2); a case whose first step leaves BART an image of a
    few ulps is skipped (noted)."""
    rng = c.rng
    if rng.random() < 0.25:
        nlinv_radial(c, run, d, rng)
        return
    three = rng.random() < 0.3
    shape = ([int(rng.choice([20, 23, 24])), int(rng.choice([20, 21, 24])), int(rng.choice([16, 19]))] if three else
             [int(rng.choice([24, 29, 32, 40])), int(rng.choice([24, 27, 32])), 1])
    C = int(rng.integers(2, 7))
    F = int(rng.choice([1, 1, 2, 3]))
    S = smooth_coils(rng, shape, C) * (1 + 0.3 * rng.random())
    axes = (0, 1, 2) if three else (0, 1)
    ny, nz = shape[1], shape[2]
    k = np.zeros(tuple(shape) + (C,) + (1,) * 6 + (F,), np.complex128)
    pat = np.zeros(tuple(shape) + (1,) * 7 + (F,), np.float64)
    for f in range(F):
        obj = smooth_object(rng, shape) * np.exp(1j * rng.uniform(-0.5, 0.5))
        kf = centred(obj[..., None] * S, axes, False)
        mask = rng.random((ny, nz)) < 0.45
        mask[ny // 2 - 3:ny // 2 + 3, max(0, nz // 2 - 2):nz // 2 + 2] = True
        k[..., f] = kf.reshape(k[..., f].shape)
        pat[..., f] = np.broadcast_to(mask[None, :, :], tuple(shape)).reshape(pat[..., f].shape)
    k += crandn(rng, k.shape, 1e-3 * np.abs(k).max())
    k *= pat
    write_cfl(os.path.join(d, 'k'), k.astype(np.complex64))
    args = ['-i', str(int(rng.integers(3, 7)))]
    if C >= 3 and F == 1 and rng.random() < 0.3:
        args += ['-m', '2'] + (['-U'] if rng.random() < 0.5 else [])
    for flag, p in (('-c', 0.2), ('-N', 0.2), ('-S', 0.3)):
        if rng.random() < p:
            args.append(flag)
    if rng.random() < 0.2:
        args += ['-a', repr(float(rng.choice([100.0, 440.0]))), '-b', repr(float(rng.choice([16.0, 40.0])))]
    if rng.random() < 0.15:
        args += ['-R', '3']
    if F > 1 and rng.random() < 0.35:
        args += ['-s', '1024']  # one set of coils for the frames (in BART's axis 10)
    if rng.random() < 0.25:
        w = pat * (rng.uniform(0.5, 1.0, pat.shape) if rng.random() < 0.5 else 1)
        write_cfl(os.path.join(d, 'p'), w.astype(np.complex64))
        args += ['-p', 'p']
    what = '%s x %d coils x %d frames, %s' % (shape, C, F, ' '.join(args))
    first = [v for i, v in enumerate(args) if v != '-S' and args[i - 1 if i else 0] != '-i' and v != '-i']
    ulp = nlinv_ulp(c, run, d, first)
    if ulp is None:
        return
    r = nlinv_pair(c, run, d, args, what)
    if r is None:
        return
    e, b, bs, longest = r
    nlinv_judge(c, run, d, args, what, e, nlinv_tol(c, 'nlinv', args, longest, max(5e-5, 4 * ulp)), b, bs, 5, 'nlinv')


def fam_rtnlinv(c, run, d):
    """bart rtnlinv against mvtool rtnlinv: a random smooth object (moving
    a little from frame to frame) times smooth coils (2..5), 2D, odd and
    even sizes, 2..4 frames in BART's axis 10; -p PSF: random lines around
    a full centre in T = 1..frames turns (frame f sampled as turn f mod T,
    the PSF the turn's 0/1 lines or weights on them; the data taken as
    gridded, nlinv -n's model); -i 3..6 and a random choice of -m 2 (each
    map's image, as BART 0.8 writes them), -c, -N, -S, -T (0, 0.5, 0.95),
    -f, -a / -b, -R. Images and coils within 5e-5 or 4 ulps of the first
    CG step relative to the image it leaves (as fam_nlinv: -m 2 2e-3, 5e-2
    where one of BART's inner CG runs takes 15 iterations or more), or 5x
    BART's own spread under a 3e-7 change of its data."""
    rng = c.rng
    shape = [int(rng.choice([24, 29, 32, 40])), int(rng.choice([24, 27, 32])), 1]
    C = int(rng.integers(2, 6))
    F = int(rng.integers(2, 5))
    T = int(rng.integers(1, F + 1))
    S = smooth_coils(rng, shape, C) * (1 + 0.3 * rng.random())
    ny = shape[1]
    lines = np.zeros((ny, T))
    for t in range(T):
        lines[:, t] = rng.random(ny) < 0.45
        lines[ny // 2 - 3:ny // 2 + 3, t] = 1
    weighted = rng.random() < 0.4
    psf = np.broadcast_to(lines[None, :, :], (shape[0], ny, T)) * (rng.uniform(0.5, 1.0, (shape[0], ny, T)) if weighted else 1)
    k = np.zeros(tuple(shape) + (C,) + (1,) * 6 + (F,), np.complex128)
    obj = smooth_object(rng, shape)
    for f in range(F):
        kf = centred((obj * (1 + 0.05 * f) * np.exp(1j * 0.1 * f))[..., None] * S, (0, 1), False)
        kf += crandn(rng, kf.shape, 1e-3 * np.abs(kf).max())
        k[..., f] = (kf * lines[None, :, None, None, f % T]).reshape(k[..., f].shape)
    write_cfl(os.path.join(d, 'k'), k.astype(np.complex64))
    write_cfl(os.path.join(d, 'p'), psf.reshape((shape[0], ny) + (1,) * 8 + (T,), order='F').astype(np.complex64))
    args = ['-i', str(int(rng.integers(3, 7))), '-p', 'p']
    if C >= 3 and rng.random() < 0.25:
        args += ['-m', '2']
    for flag, pr in (('-c', 0.2), ('-N', 0.2), ('-S', 0.3)):
        if rng.random() < pr:
            args.append(flag)
    if rng.random() < 0.4:
        args += ['-T', repr(float(rng.choice([0.0, 0.5, 0.95])))]
    if rng.random() < 0.25:
        args += ['-f', repr(float(rng.choice([0.6, 0.75, 1.0])))]
    if rng.random() < 0.2:
        args += ['-a', repr(float(rng.choice([100.0, 440.0]))), '-b', repr(float(rng.choice([16.0, 40.0])))]
    if rng.random() < 0.15:
        args += ['-R', '3']
    what = '%s x %d coils x %d frames, %d turns, %s' % (shape, C, F, T, ' '.join(args))
    r = nlinv_pair(c, run, d, args, what, 'rtnlinv')
    if r is None:
        return
    e, b, bs, longest = r
    nlinv_judge(c, run, d, args, what, e, nlinv_tol(c, 'rtnlinv', args, longest, 5e-5), b, bs, 5, 'rtnlinv', 'rtnlinv')


def twix_adc(vd, evalinfo, X, C, cnt, center, rng, dma=None):
    """one ADC in the twix layout (twixtools' mdh_def: VD/VE a 192-byte scan
    header, evalinfo at 40, samples 48, channels 50, counters Lin Ave Sli Par
    Eco Phs Rep Set from 52, CenterLin 96, CenterPar 98, then a 32-byte channel
    header and the samples per channel; VB a 128-byte header per channel,
    evalinfo at 20), DMA length the ADC's (VB: per channel times the channels)"""
    data = (rng.standard_normal((C, X)) + 1j * rng.standard_normal((C, X))).astype(np.complex64)
    def mdh(base, size):
        h = bytearray(size)
        struct.pack_into('<QHH', h, base, evalinfo, X, C)
        struct.pack_into('<8H', h, base + 12, *cnt)
        struct.pack_into('<HH', h, base + 12 + 28 + 4 + 2 + 10, *center)
        return h
    if vd:
        h = mdh(40, 192)
        struct.pack_into('<I', h, 0, dma if dma is not None else 192 + C * (32 + 8 * X))
        out = bytes(h)
        for c in range(C):
            out += bytes(32) + data[c].tobytes()
        return out
    out = b''
    for c in range(C):
        h = mdh(20, 128)
        struct.pack_into('<I', h, 0, dma if dma is not None else C * (128 + 8 * X))
        out += bytes(h) + data[c].tobytes()
    return out


def fam_twix(c, run, d):
    """bart twixread against mvtool twixread on random twix files written
    here from the layout (VB, or VD/VE with 1..3 scans of which the last is
    read): 1..40 samples, 1..5 channels, random counters (Lin, Ave, Sli, Par,
    Eco, Phs, Rep, Set) in random order, repeated positions, noise (another
    length), phase-correction, sync and feedback ADCs, ADCs of another
    length, CenterLin / CenterPar; options -A or sizes around the true ones
    (ADCs outside skipped), -a right or wrong, -L, -P, -M, -r. Both read it (the
    same bytes and sizes) or both refuse it (bart aborts; mvtool exits 1
    and writes nothing)."""
    rng = c.rng
    vd = bool(rng.random() < 0.6)
    X, C = int(rng.integers(1, 41)), int(rng.integers(1, 6))
    top = [int(rng.integers(1, 6)) if rng.random() < 0.5 else 1 for _ in range(8)]  # Lin Ave Sli Par Eco Phs Rep Set
    top[0] = int(rng.integers(1, 9))
    cnts = [tuple(int(rng.integers(0, t)) for t in top) for _ in range(int(rng.integers(1, 25)))]
    center = (int(rng.integers(0, 4)), int(rng.integers(0, 3)))
    body = b''
    for k in cnts:
        if rng.random() < 0.1:
            body += twix_adc(vd, 1 << 25, X + 3, C, (0,) * 8, center, rng)  # NOISEADJSCAN
        if rng.random() < 0.1:
            body += twix_adc(vd, 1 << 21, X, C, k, center, rng)  # PHASCOR
        if rng.random() < 0.05:
            body += twix_adc(vd, 1 << 1, X, C, k, center, rng)  # RTFEEDBACK
        if vd and rng.random() < 0.05:
            body += twix_adc(vd, 1 << 5, 0, 0, (0,) * 8, (0, 0), rng, dma=192 + 64) + bytes(64)  # SYNCDATA
        if rng.random() < 0.05:
            body += twix_adc(vd, 0, X + 1, C, k, center, rng)  # another length: skipped
        body += twix_adc(vd, 0, X, C, k, center, rng)
    body += twix_adc(vd, 1, 0, 1 if not vd else 0, (0,) * 8, (0, 0), rng) + bytes(64)  # ACQEND
    scan = struct.pack('<I', 24) + bytes(20) + body
    if vd:
        n = int(rng.integers(1, 4))
        other = struct.pack('<I', 16) + bytes(12) + twix_adc(True, 0, 2, 1, (0,) * 8, (0, 0), rng) + \
            twix_adc(True, 1, 0, 0, (0,) * 8, (0, 0), rng) + bytes(64)
        f = bytearray(8 + 152 * n)
        struct.pack_into('<II', f, 0, 0, n)
        for e in range(n):
            struct.pack_into('<Q', f, 8 + 152 * e + 8, len(f))
            f += scan if e == n - 1 else other
    else:
        f = bytearray(scan)
    open(os.path.join(d, 'f.dat'), 'wb').write(bytes(f))
    args = []
    if rng.random() < 0.5:
        args.append('-A')
    else:
        for flag, v in (('-x', X), ('-y', top[0]), ('-z', top[3]), ('-s', top[2]), ('-v', top[1]), ('-c', C),
                        ('-n', top[6])):
            if v > 1 or rng.random() < 0.3:
                args += [flag, str(max(1, v + int(rng.choice([0, 0, 0, -1, 1]))))]
    if '-A' not in args and top[3] == 1 and '-z' not in args and rng.random() < 0.15:  # radial: -r for -y
        i = args.index('-y') if '-y' in args else -1
        args = (args[:i] + args[i + 2:] if i >= 0 else args) + ['-r', str(top[0])]
    if rng.random() < 0.6:  # the count (the default is lines x partitions x slices x repetitions)
        args += ['-a', str(len(cnts) + int(rng.choice([0, 0, 0, -1])))]
    for flag, p in (('-L', 0.15), ('-P', 0.15), ('-M', 0.1)):
        if rng.random() < p:
            args.append(flag)
    what = '%s, %d samples x %d channels, %d ADCs, twixread %s' % ('VD' if vd else 'VB', X, C, len(cnts), ' '.join(args))
    rb = run([BART, 'twixread'] + args + ['f.dat', 'b'])
    rm = run([c.tool, 'twixread'] + args + ['f.dat', 'm'])
    if (rb.returncode == 0) != (rm.returncode == 0):
        c.fail('twix', '%s: bart exit %d, mvtool exit %d: %s' % (what, rb.returncode, rm.returncode, rm.stderr.strip()), run)
        return
    if rm.returncode != 0:
        c.note('twix: files both refuse (an ADC count or sizes that do not fit)')
        if os.path.exists(os.path.join(d, 'm.cfl')):
            c.fail('twix', '%s: mvtool failed but wrote m.cfl' % what, run)
        return
    if hdr_dims(os.path.join(d, 'b')) != hdr_dims(os.path.join(d, 'm')) or \
            open(os.path.join(d, 'b.cfl'), 'rb').read() != open(os.path.join(d, 'm.cfl'), 'rb').read():
        c.fail('twix', '%s: dims %s, BART %s, or other bytes' % (what, hdr_dims(os.path.join(d, 'm')),
                                                                 hdr_dims(os.path.join(d, 'b'))), run)


def nlinv_radial(c, run, d, rng):
    """bart nlinv -t against mvtool nlinv -t: golden-angle (or uniform) radial
    spokes of X samples (X even 24..48: an image of 2 ceil(X/2 - 1/2) = X), 1..2
    frames (a trajectory each, or one), a smooth object times smooth coils
    through the exact NUDFT, 1% of the spokes' samples noise, -i 3..6,
    sometimes -m 2 (one frame), -c, -S, -f 0.55 / 0.6; within 1e-2 (BART's
    gridding is ~1e-3 from the exact transform, medvol's 1e-6; more near
    the doubled grid's edge, where an image of -f 0.75 reaches: there the
    two differ by percents, as medvol's own with --nufft-tol 1e-2) or 3x
    BART's spread;
    degenerate first steps skipped as in fam_nlinv"""
    X = int(rng.choice([24, 32, 40, 48]))
    Y = int(rng.integers(X // 2, X + 8))
    F = int(rng.choice([1, 1, 2]))
    C = int(rng.integers(2, 6))
    tflags = ['-r', '-x', str(X), '-y', str(Y * F)] + (['-G'] if rng.random() < 0.7 else [])
    run([BART, 'traj'] + tflags + ['t0'], check=True)
    t0 = read_cfl(os.path.join(d, 't0'), 3).real.reshape(3, X, Y * F, order='F')
    shared = F > 1 and rng.random() < 0.4
    shape = [X, X, 1]
    S = smooth_coils(rng, shape, C)
    k = np.zeros((1, X, Y, C, F), np.complex128)
    for f in range(F):
        tf = t0[:, :, :Y] if shared else t0[:, :, f * Y:(f + 1) * Y]
        obj = smooth_object(rng, shape)
        k[0, :, :, :, f] = nudft(tf.reshape(3, -1, order='F'), shape, img=obj[..., None] * S).reshape(X, Y, C, order='F')
    k += crandn(rng, k.shape, 1e-2 * np.abs(k).max())
    write_cfl(os.path.join(d, 'k'), k.reshape((1, X, Y, C) + (1,) * 6 + (F,), order='F').astype(np.complex64))
    tr = (t0[:, :, :Y] if shared else t0).reshape((3, X, Y, 1) + (1,) * 6 + ((1,) if shared else (F,)), order='F')
    write_cfl(os.path.join(d, 't'), tr.astype(np.complex64))
    args = ['-i', str(int(rng.integers(3, 7)))]
    if C >= 3 and F == 1 and rng.random() < 0.3:
        args += ['-m', '2']
    for flag, p in (('-c', 0.2), ('-S', 0.3)):
        if rng.random() < p:
            args.append(flag)
    if rng.random() < 0.25:
        args += ['-f', repr(float(rng.choice([0.55, 0.6])))]  # not beyond: BART's gridding errs near the grid's edge
    args += ['-t', 't']
    what = 'radial %d x %d spokes x %d coils x %d frames%s, %s' % (X, Y, C, F, ' (one trajectory)' if shared else '',
                                                                ' '.join(args))
    if nlinv_ulp(c, run, d, [v for i, v in enumerate(args) if v != '-S' and v != '-i' and args[i - 1] != '-i']) is None:
        return
    r = nlinv_pair(c, run, d, args, what)
    if r is not None:
        nlinv_judge(c, run, d, args, what, r[0], 1e-2, r[1], r[2], 3, 'nlinv radial')



# --- the array family: bart's array commands and mvtool's -------------------

def array_data(rng, dims):
    """random finite samples with zeros, -0 parts and a few tiny and huge
    ones (huge: their squares overflow float, as nrmse's; their sums over
    2048 samples do not, so that a sum's order cannot overflow it)"""
    a = crandn(rng, dims) * np.exp(rng.uniform(-3, 3, dims))
    flat = a.ravel()
    n = flat.size
    for v in (0j, complex(-0.0, -0.0), complex(-0.0, 1.5), complex(2.0, -0.0), complex(1e-30, -1e-30),
              complex(3e34, -2e34)):
        flat[rng.random(n) < 0.03] = v
    return flat.reshape(dims).astype(np.complex64)


def array_second(rng, dims):
    """sizes that broadcast with dims (each axis the same, or 1 in one of them)"""
    return [x if rng.random() < 0.6 else (1 if rng.random() < 0.6 else x) for x in dims]


def array_args(rng, dims, d):
    """one random bart array command on in (sizes dims; in2 beside with
    array_second's sizes when the command takes two): (argv without the
    output, output kind 'cfl' or 'text', whether bart's bytes are expected
    or a sum's rounding may differ)"""
    nd = len(dims)
    axis = lambda: int(rng.integers(0, min(16, nd + 2)))
    mask = lambda: int(rng.integers(0, 1 << min(16, nd + 1)))
    num = lambda: str(rng.choice(['2', '-0.5', '1.5i', '1+2i', '1e-3-2i', '0', '-1', '0.25-0i', '-0']))
    kind = int(rng.integers(0, 33))
    if kind == 32:  # bart filter (median, geometric median, moving average), casorati, flatten: bart's bytes
        r = rng.random()
        if r < 0.6:
            ax = axis()
            ln = int(rng.integers(1, (dims[ax] if ax < nd else 1) + 2))  # sometimes longer than the axis: both refuse
            if rng.random() < 0.3:
                return ['filter', '-a', str(ax), '-l', str(ln), 'in'], 'cfl', True
            return ['filter', '-m', str(ax), '-l', str(ln)] + (['-G'] if rng.random() < 0.3 else []) + ['in'], 'cfl', True
        if r < 0.9:
            pairs = []
            for _ in range(int(rng.integers(1, 4))):
                ax = axis()
                pairs += [str(ax), str(int(rng.integers(1, (dims[ax] if ax < nd else 1) + 2)))]
            return ['casorati'] + pairs + ['in'], 'cfl', True
        return ['flatten', 'in'], 'cfl', True
    if kind == 31:  # bart fovshift -s on Cartesian axes 0..2, or bart window: bart's bytes
        if rng.random() < 0.4:
            return ['window'] + (['-H'] if rng.random() < 0.5 else []) + [str(mask()), 'in'], 'cfl', True
        return ['fovshift', '-s', ':'.join('%.3f' % v for v in rng.uniform(-2, 2, 3)), 'in'], 'cfl', True
    if kind == 30:
        if rng.random() < 0.5:
            return ['mip'] + [f for f in ('-m', '-a') if rng.random() < 0.4] + [str(mask()), 'in'], 'cfl', False
        return ['normalize'] + (['-b'] if rng.random() < 0.4 else []) + [str(mask()), 'in'], 'cfl', False
    if kind == 26:
        return [str(rng.choice(['invert', 'cpyphs', 'zexp'])), 'in'], 'cfl', True
    if kind == 27:
        return (['zexp', '-i', 'in'] if rng.random() < 0.3 else ['spow', '--', num(), 'in']), 'cfl', True
    if kind == 28:
        return [str(rng.choice(['var', 'std'])), str(mask()), 'in'], 'cfl', False
    if kind == 29:
        if rng.random() < 0.3:
            if rng.random() < 0.5:
                n = int(rng.integers(1, 17))
                return ['delta', str(n), str(int(rng.integers(0, 1 << min(n + 1, 16)))), str(int(rng.integers(1, 6)))], 'cfl', True
            o = []
            for flag, hi in (('-Y', 70), ('-Z', 70), ('-y', 5), ('-z', 5), ('-c', 12)):
                if rng.random() < 0.6:
                    o += [flag, str(int(rng.integers(0 if flag == '-c' else 1, hi)))]
            return ['upat'] + o, 'cfl', True
        if rng.random() < 0.5:
            return ['index', str(int(rng.integers(0, 16))), str(int(rng.integers(1, 9)))], 'cfl', True
        return ['vec', '--'] + [num() for _ in range(int(rng.integers(1, 6)))], 'cfl', True
    if kind in (24, 25):  # a Poisson-disc mask: no input, bart's mask and its "points:" line
        o = ['-Y', str(int(rng.integers(1, 160))), '-Z', str(int(rng.integers(1, 160)))]
        for flag, val in (('-y', '%.3g' % rng.uniform(1, 4)), ('-z', '%.3g' % rng.uniform(1, 4)),
                          ('-s', str(int(rng.integers(-2 ** 31, 2 ** 31)))), ('-V', '%.3g' % rng.uniform(0, 30)),
                          ('-D', '%.3g' % rng.uniform(0.5, 2)), ('-R', str(int(rng.integers(1, 3000))))):
            if rng.random() < (0.15 if flag in ('-D', '-R') else 0.5):
                o += [flag, val]
        if rng.random() < 0.3:
            o += ['-C', str(int(rng.integers(0, min(int(o[1]), int(o[3])) + 1)))]
        o += [f for f in ('-v', '-e') if rng.random() < 0.3]
        return ['poisson'] + o, 'cfltext', True
    if kind == 22:
        fmt = str(rng.choice(['%+.6e%+.6ei', '%+.3f%+.3fi', '%+.2e,%+.2e', '%+9.4f,%+9.4f']))
        return ['show'] + (['-s', str(rng.choice([',', ' ', '|']))] if rng.random() < 0.3 else []) + \
            (['-f', fmt] if rng.random() < 0.5 else []) + (['-m'] if rng.random() < 0.1 else []) + ['in'], 'text', False
    if kind == 21:
        opts = []
        for o, v in (('-s', str(int(rng.integers(-2 ** 31, 2 ** 31)))), ('-n', str(rng.choice(['0.5', '2', '1e-4', '0']))),
                     ('-S', str(rng.choice(['0.3', '0', '1', '-1', '1.5'])))):
            if rng.random() < 0.6:
                opts += [o, v]
        return ['noise'] + opts + (['-r'] if rng.random() < 0.3 else []) + ['in'], 'cfl', True
    if kind == 0:
        return ['scale', '--', num(), 'in'], 'cfl', True
    if kind == 1:
        return ['saxpy', '--', num(), 'in', 'in3'], 'cfl', True
    if kind == 2:
        return [str(rng.choice(['conj', 'creal', 'cabs', 'carg'])), 'in'], 'cfl', True
    if kind in (3, 4):
        opts = (['-C'] if rng.random() < 0.4 else []) + (['-s', str(mask())] if kind == 4 else [])
        two = ['in', 'in2'] if rng.random() < 0.8 else ['in']
        return ['fmac'] + opts + two, 'cfl', kind == 3
    if kind == 5:
        return ['avg'] + (['-w'] if rng.random() < 0.5 else []) + [str(mask()), 'in'], 'cfl', False
    if kind == 6:
        return ['pattern'] + (['-s', str(mask())] if rng.random() < 0.5 else []) + ['in'], 'cfl', False
    if kind == 7:
        return ['nrmse'] + (['-s'] if rng.random() < 0.5 else []) + ['in', 'in3'], 'text', False
    if kind == 8:
        return ['sdot', 'in', 'in3'], 'text', False
    if kind in (9, 10):
        pairs = []
        for _ in range(int(rng.integers(1, 4))):
            pairs += [str(axis()), str(int(rng.integers(1, 9)))]
        if kind == 10:
            return ['crop'] + pairs[:2] + ['in'], 'cfl', True
        return ['resize'] + (['-c'] if rng.random() < 0.5 else []) + pairs + ['in'], 'cfl', True
    if kind == 11:
        t = []
        for ax in rng.permutation(nd)[:int(rng.integers(1, 3))]:
            s0 = int(rng.integers(0, dims[ax]))
            t += [str(ax), str(s0), str(int(rng.integers(s0 + 1, dims[ax] + 1)))]
        return ['extract'] + t + ['in'], 'cfl', True
    if kind == 12:
        t = []
        for ax in rng.permutation(nd)[:int(rng.integers(1, 3))]:
            t += [str(ax), str(int(rng.integers(0, dims[ax])))]
        return ['slice'] + t + ['in'], 'cfl', True
    if kind == 13:
        return ['join', str(axis()), 'in', 'in', 'in'][:int(rng.integers(4, 6))], 'cfl', True
    if kind == 14:
        return ['flip', str(mask()), 'in'], 'cfl', True
    if kind == 15:
        ax = axis()
        n = dims[ax] if ax < nd else 1
        return ['circshift', '--', str(ax), str(int(rng.integers(-n + 1, n)) if n > 1 else 0), 'in'], 'cfl', True
    if kind == 16:
        return ['transpose', str(axis()), str(axis()), 'in'], 'cfl', True
    if kind == 17:
        # flagged axes' product kept: split the product over the flagged axes anew
        fl = [ax for ax in range(min(16, nd + 2)) if rng.random() < 0.4] or [0]
        prod = int(np.prod([dims[ax] if ax < nd else 1 for ax in fl]))
        sizes = [1] * len(fl)
        for f in [f for f in range(2, prod + 1) for _ in range(8) if prod % f == 0]:
            while prod % f == 0:
                sizes[int(rng.integers(0, len(fl)))] *= f
                prod //= f
        return ['reshape', str(sum(1 << ax for ax in fl))] + [str(x) for x in sizes] + ['in'], 'cfl', True
    if kind == 18:
        ones = [ax for ax in range(16) if ax >= nd or dims[ax] == 1]
        return ['repmat', str(int(rng.choice(ones))), str(int(rng.integers(1, 4))), 'in'], 'cfl', True
    if kind == 19:
        return ['squeeze', 'in'], 'cfl', True
    if kind == 20:
        n = int(rng.integers(0, 5))
        return [str(rng.choice(['zeros', 'ones'])), str(n)] + [str(int(rng.integers(1, 5))) for _ in range(n)], 'cfl', True
    return ['copy', 'in'], 'cfl', True


def fam_array(c, run, d):
    """bart's array commands (the family's list above) and mvtool's on
    random 16-axis arrays with zeros, signed zeros, tiny and huge samples:
    the same sizes, and bart's bytes, or for a sum (fmac -s, avg, var, std,
    normalize, pattern) within 1e-6 of bart's (a different order counted);
    nrmse, sdot, show and poisson print the same text with the same exit
    status."""
    rng = c.rng
    dims = draw_dims16(rng, rng.random() < 0.2)
    a = array_data(rng, dims)
    write_cfl(os.path.join(d, 'in'), a, 16)
    write_cfl(os.path.join(d, 'in2'), array_data(rng, array_second(rng, dims)), 16)
    write_cfl(os.path.join(d, 'in3'), array_data(rng, dims), 16)
    argv, kind, exact = array_args(rng, dims, d)
    rb = run([BART] + argv + (['b'] if kind != 'text' else []))
    rm = run([c.tool] + argv + (['m'] if kind != 'text' else []))
    if kind == 'cfltext' and rb.returncode == 0 and rb.stdout != rm.stdout:
        c.fail('array', '%s: bart printed %r, mvtool %r' % (' '.join(argv), rb.stdout, rm.stdout), run)
        return
    if kind == 'text' and rb.returncode not in (0, 1):  # bart's error() (nrmse -s of a zero reference): refused
        if rm.returncode not in (1, 2) or not rm.stderr.strip():
            c.fail('array', '%s: bart failed (exit %d), mvtool: exit %d %s' % (' '.join(argv), rb.returncode,
                                                                            rm.returncode, rm.stderr.strip()), run)
        else:
            c.note('array: refused by both')
        return
    if kind == 'text':  # nrmse's exit status is its verdict (1: a NaN from float overflow, as bart's)
        if (rb.returncode, rb.stdout) != (rm.returncode, rm.stdout):
            c.fail('array', '%s: bart printed %r (exit %d), mvtool %r (exit %d)' % (
                ' '.join(argv), rb.stdout, rb.returncode, rm.stdout, rm.returncode), run)
        return
    if rb.returncode != 0 and argv[0] == 'poisson' and 'md_move_block2' in rb.stderr and rm.returncode == 0:
        c.note('array: bart poisson asserts (its grid patch wider than its grid), mvtool checks the whole grid')
        return
    if rb.returncode != 0:  # BART refuses (an axis past its sizes, a block outside): so must mvtool
        if rm.returncode not in (1, 2) or not rm.stderr.strip():
            c.fail('array', '%s: bart failed (%s), mvtool: exit %d %s' % (' '.join(argv), rb.stderr.strip()[-120:],
                                                                       rm.returncode, rm.stderr.strip()), run)
        else:
            c.note('array: refused by both')
        return
    if rm.returncode != 0:
        c.fail('array', '%s: mvtool: %s' % (' '.join(argv), rm.stderr.strip()), run)
        return
    bd, md = hdr_dims(os.path.join(d, 'b')), hdr_dims(os.path.join(d, 'm'))
    if bd != md:
        c.fail('array', '%s: sizes %s, bart %s' % (' '.join(argv), md, bd), run)
        return
    b = np.fromfile(os.path.join(d, 'b.cfl'), np.complex64)
    m = np.fromfile(os.path.join(d, 'm.cfl'), np.complex64)
    if b.tobytes() == m.tobytes():
        return
    e = np.max(np.abs(m.astype(np.complex128) - b) / (1e-6 * np.abs(b) + 1e-37), initial=0.0)
    if exact or not e <= 1 or np.any(np.isnan(m) != np.isnan(b)):
        c.fail('array', '%s on sizes %s: not bart\'s bytes (max %.3g of 1e-6 relative)' % (' '.join(argv), dims, e), run)
        return
    c.ratio('array (a sum in another order)', e)
    c.note('array: %s summed in another order' % argv[0])

def fixed_cases(c):
    """The disagreements the random cases found, as minimal reproducers
    (each fails until medvol is changed), and BART 0.8's own limits that the
    random cases work around (printed, never failed)."""
    bad0 = c.bad
    for f in (fixed_ecalib_phase, fixed_ecalib_two_coils, fixed_spellings, fixed_nufft_frames, bart_limits):
        d = c.case_dir('fixed')
        run = Runner(d)
        try:
            f(c, run, d)
        except Exception as e:  # a BART step that should not fail
            c.fail('fixed', '%s: exception %s: %s' % (f.__name__, type(e).__name__, e), run)
        if not run.keep:
            shutil.rmtree(d)
    print('fixed   %4d cases, %d failures' % (3, c.bad - bad0))


def main():
    exe, tool = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    cases = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20261126
    fams = sys.argv[5].split(',') if len(sys.argv) > 5 else FAMILIES
    if shutil.which(BART) is None:
        print('SKIPPED diff_bart: needs the bart command')
        return 0
    root = tempfile.mkdtemp(prefix='diff_bart.')
    c = Ctx(exe, tool, root, np.random.default_rng(seed))
    per = {'cfl': 3, 'hdr': 5, 'traj': 4, 'estdelay': 1, 'fft': 3, 'rss': 2, 'nufft': 3, 'ecalib': 0.1, 'pics': 0.1, 'scale': 1, 'cc': 1,
           'homodyne': 1,
           'thresh': 2, 'l1': 1, 'tv': 0.5, 'admm': 0.5, 'llr': 0.5, 'subspace': 0.5,
           'nlinv': 0.5, 'rtnlinv': 0.5, 'twix': 2, 'array': 3, 'rof': 0.5, 'tgv': 0.5, 'measure': 1, 'walsh': 0.5, 'wavelet': 2, 'cdf97': 2, 'epg': 3}
    t00 = time.time()
    if len(sys.argv) <= 5:
        fixed_cases(c)
    for fam in fams:
        t0 = time.time()
        ncase = max(1, int(round(cases * per[fam])))
        for _ in range(ncase):
            d = c.case_dir(fam)
            run = Runner(d)
            try:
                globals()['fam_' + fam](c, run, d)
            except Exception as e:  # a BART step that should not fail, or a file that is not there
                c.fail(fam, 'exception %s: %s' % (type(e).__name__, e), run)
            if not run.keep:
                shutil.rmtree(d)
        print('%-7s %4d cases %5.2f s' % (fam, ncase, time.time() - t0))
    for k in sorted(c.worst):
        print('  worst %-34s %.3g of the tolerance' % (k, c.worst[k]))
    for k in sorted(c.notes):
        print('  %4d x %s' % (c.notes[k], k))
    if not c.bad:
        shutil.rmtree(root)
    print('diff_bart: %d failures (seed %d, %.1f s)' % (c.bad, seed, time.time() - t00))
    return 1 if c.bad else 0


if __name__ == '__main__':
    sys.exit(main())
