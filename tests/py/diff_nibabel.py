#!/usr/bin/python3
"""Random NIfTI-1/2 and Analyze files and volumes, read and written by
medvol (tests/diff_nibabel.c) and by nibabel (Debian's /usr/bin/python3
with python3-nibabel 5.0 and numpy), compared field by field.

  /usr/bin/python3 tests/py/diff_nibabel.py BUILD/diff_nibabel [CASES [SEED]]
  /usr/bin/python3 tests/py/diff_nibabel.py BUILD/diff_nibabel CASES SEED --case FAMILY:K
        (one case again, its files kept, the medvol commands printed)

CASES is per family (default 200: about 2 s on 2 cores), SEED 20261126.
Each case has its own generator (seed, family, k), so --case redraws
exactly the failing case. The C side runs in batches (one process per 64
cases); a crash reruns the batch's commands one by one and names the one.

Families:
  read   Python writes a file (header bytes through nibabel's own header
         struct, so nothing is "fixed" on write; data bytes by numpy):
         NIfTI-1 .nii / .hdr+.img, NIfTI-2 .nii / pair, Analyze 7.5 (SPM2)
         pairs, any of them gzip-compressed; either byte order; every
         datatype; 1-7 dims with axes of length 1 and junk in the unused
         dim[] entries; random qform (qfac 1/-1/0/other, near-unit and
         past-unit quaternions, 180-degree turns), sform (axis permutations,
         oblique, sheared, singular, 45 degrees, random), qform/sform codes
         (invalid ones too), zero / negative / NaN pixdims, scl_slope /
         scl_inter (0, NaN, +-inf, negative, tiny, huge, subnormal), units,
         intents, toffset, cal_min/max, slice fields, text fields (non-ASCII,
         inner NULs), extensions (esize not a multiple of 16 too), vox_offset
         (odd, fractional, past a gap, too small), Analyze origins and
         glmax/glmin/cal scaling. medvol loads it: raw; scaled to float64;
         scaled to float32; one random mix of crop box, squeeze, mmap mode
         (REQUIRE must map exactly when the stored bytes are the answer),
         memory / borrowed / pair / stream source, dtype conversion,
         rounding, strict (must fail exactly when the plain load warned),
         header_only, threads, verify; and half the time loads and mv_saves
         it again (as stored, scaled, or cropped) for nibabel to compare the
         new file with the first.
  write  medvol builds a volume through the public API (mv_vol_alloc'd
         dims/dtype, spacing, affine, qform/sform codes and fields, scaling,
         every header field, extensions, values that need NIfTI-2) and
         saves it (mv_save to .nii, .nii.gz, .hdr/.img(.gz); mv_save_mem;
         mv_save_io; NIfTI-1 / 2 / automatic); nibabel reads it back; then
         medvol reads its own file and the read family's checks run on it.

What "agree" means (each rule from nibabel's source or medvol.h):
  affine      img.affine (get_best_affine after nibabel's header check_fix):
              equal as float64 (sform; qform: both evaluate the quaternion
              in x87 long double and round once; the pixdim-only affine);
              Analyze origin affine within float32 rounding (nibabel
              multiplies the int16 origin by the float32 pixdim in float32,
              spm99analyze.get_origin_affine); after a crop box nibabel's
              img.slicer affine within 4 ulp (numpy's dot). Written files:
              the affine set, within float32 rounding in NIfTI-1.
  orientation nibabel.aff2axcodes (None as '?'); skipped only where the
              polar factor has a near-tie (|a| - |b| <= 1e-9) or a rank at
              the tolerance, where either answer is right (counted).
  fields      every header field of nibabel's check_fix'ed header as read
              (img._load_cache['header']); text fields up to the first NUL
              (mv_meta holds C strings); extensions: codes and contents with
              trailing NULs stripped (nibabel strips them).
  data        raw loads: the stored bytes, np.asarray(dataobj.get_unscaled()),
              bit for bit. scaled to float64: img.get_fdata(), bit for bit
              (NaN payloads aside, signs of zeros included). scaled to float32
              (medvol's default): get_fdata().astype(float32), bit for bit
              (>>api-math VALUES, >>api-volume mv_convert_opts.scaled: float64
              first, rounded once). Complex: np.asarray(img.dataobj)
              (get_fdata drops the imaginary part), as values where scaled
              (numpy multiplies complex by real as complex by complex, which
              only moves signs of zeros); finite complex values only.
              dtype conversions: medvol's documented rule on those values
              (float -> integer rint half-even or trunc, saturate, NaN -> 0;
              integer -> integer saturate; integer -> float rounds once).
              float128 / complex256: nibabel 5.0 refuses them where numpy's
              longdouble is not IEEE binary128 (nifti1.py have_binary128), so
              only medvol's bytes against the file's are checked. RGB: bytes
              (medvol never scales RGB; nibabel cannot scale a record array).
              Values nibabel cannot scale (ValueError: overflow) are skipped.
  refusals    where nibabel refuses a file, medvol must refuse it too unless
              medvol.h documents the leniency: LIMITS' vox_offset inside the
              header (MV_WARN_VOX_OFFSET) and MV_WARN_EXTENSION's "a chain cut
              short by a bad entry"; a valid slope with a non-finite intercept
              must fail medvol's scaled loads (mv__scaling).

Tags of the disagreements this harness found in medvol.h as of 0c5c628 (all
fixed since, or documented in medvol.h and left out as the code says where): ext_tail (an 8..15-byte tail after the last
extension: medvol reads an extension header there, nibabel and nifticlib
stop below 16 bytes), ext_hdr_gz (extensions of a gzip-compressed .hdr are
not read), signed_zero (slope != 1 with inter 0: nibabel does not add the
0), int64_identity_scaling (64-bit integers with no active scaling skip
get_fdata's float64 step in scaled loads), quatern_past_unit (nibabel
refuses |bcd|^2 > 1 + 3 eps, medvol normalises without a warning),
analyze_scaling / analyze_cal_nonfinite (SPM2 glmax/glmin, cal scaling:
nibabel subtracts the cal fields in float32; non-finite cal), 
analyze_unused_dims (nibabel's Analyze affine uses dim[1..3] as stored, past
dim[0]), longdouble_upcast (nibabel scales in long double where the dtype's
range x slope overflows float64). Any other tag is new.
Exit 0 when every case agrees; else each failure is printed with a tag, the
case and the command that reproduces it, and a count per tag at the end.
"""
import gzip
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import nibabel as nib
from nibabel import spm2analyze

warnings.simplefilter('ignore')
np.seterr(all='ignore')
logging.getLogger('nibabel.global').setLevel(logging.CRITICAL + 1)  # check_fix's messages

# NIfTI datatype code -> (numpy dtype of one voxel, medvol name)
RGB = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1')])
RGBA = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1'), ('A', 'u1')])
DT = {2: ('u1', 'uint8'), 4: ('i2', 'int16'), 8: ('i4', 'int32'), 16: ('f4', 'float32'),
      32: ('c8', 'complex64'), 64: ('f8', 'float64'), 128: (RGB, 'rgb24'), 256: ('i1', 'int8'),
      512: ('u2', 'uint16'), 768: ('u4', 'uint32'), 1024: ('i8', 'int64'), 1280: ('u8', 'uint64'),
      1536: (np.longdouble, 'float128'), 1792: ('c16', 'complex128'),
      2048: (np.clongdouble, 'complex256'), 2304: (RGBA, 'rgba32')}
NIFTI_CODES = list(DT)
ANALYZE_CODES = [2, 4, 8, 16, 32, 64, 128]
NAME2NP = {name: np.dtype(d) for d, name in DT.values()}
LONG = ('float128', 'complex256')  # bytes only (medvol.h API TOUR, float128)
ALIGN = {'uint8': 1, 'int8': 1, 'rgb24': 1, 'rgba32': 1, 'uint16': 2, 'int16': 2, 'uint32': 4,
         'int32': 4, 'float32': 4, 'complex64': 4, 'uint64': 8, 'int64': 8, 'float64': 8,
         'complex128': 8, 'float128': 8, 'complex256': 8}  # mv__dt_align: one component, at most 8
# no 32: nibabel parses a CIfTI extension's content as XML (cifti2/parse_cifti2.py)
EXT_CODES = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 34, 40, 1000, -3]
HEADER_CLASS = {'n1': nib.Nifti1Header, 'n1p': nib.nifti1.Nifti1PairHeader, 'n2': nib.Nifti2Header,
                'n2p': nib.nifti2.Nifti2PairHeader, 'ana': spm2analyze.Spm2AnalyzeHeader}
F32 = np.float32
EPS32 = float(np.finfo(np.float32).eps)


# ---------------------------------------------------------------- drawing

def pick(rng, seq, p=None):
    return seq[int(rng.choice(len(seq), p=p))]


def rand_text(rng, n, allow_nul=False):
    """bytes for a text field of n bytes: empty, ASCII, any byte, maybe an inner NUL"""
    k = int(pick(rng, [0, 1, n // 2, n - 1, n]))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        b = bytes(rng.integers(32, 127, k).astype(np.uint8))
    else:
        b = bytes(rng.integers(1, 256, k).astype(np.uint8))
    if allow_nul and k > 2 and rng.random() < 0.1:
        b = b[:k // 2] + b'\0' + b[k // 2 + 1:]
    return b


def rand_float(rng, f32, extra=()):
    v = pick(rng, [0.0, 1.0, -2.5, 1e-30, 3e38 if f32 else 1e300, float('nan'), float('inf'),
                   float(rng.standard_normal() * 100), float(rng.uniform(-1e4, 1e4)),
                   float(np.float32(rng.standard_normal()))] + list(extra))
    return float(np.float32(v)) if f32 else v


def rand_values(rng, name, n):
    """n voxels (file order) of dtype name, with the values that matter"""
    dt = NAME2NP[name]
    if name in ('rgb24', 'rgba32', 'float128', 'complex256'):
        raw = rng.integers(0, 256, n * dt.itemsize).astype(np.uint8)
        if name in LONG and rng.random() < 0.5:  # mostly sane x87 values
            a = rng.standard_normal(n * (2 if name == 'complex256' else 1)).astype(np.longdouble)
            return a.view(dt).copy()
        return raw.view(dt).copy()
    if dt.kind in 'iu':
        ii = np.iinfo(dt)
        kind = int(rng.integers(0, 3))
        if kind == 0:
            a = rng.integers(ii.min, ii.max, n, dtype=dt, endpoint=True)
        elif kind == 1:
            a = rng.integers(max(ii.min, -100), min(ii.max, 100), n, dtype=dt, endpoint=True)
        else:
            a = rng.integers(0, 2, n).astype(dt)
        specials = [ii.min, ii.max, 0, 1]
        if dt.itemsize == 8:  # float64 rounding then float32 rounding (double rounding)
            specials += [2 ** 60 + 2 ** 36 + 1, 2 ** 53 + 1, 2 ** 62 + 2 ** 38 + 1]
            if dt.kind == 'u':
                specials += [2 ** 63 + 2 ** 39 + 1, 2 ** 64 - 1]
            else:
                specials += [-(2 ** 60 + 2 ** 36 + 1)]
        for _ in range(int(rng.integers(0, 4))):
            a[int(rng.integers(0, n))] = pick(rng, specials)
        return a
    if dt.kind == 'c':
        c = np.dtype('f4' if dt.itemsize == 8 else 'f8')
        a = (rng.standard_normal(2 * n) * pick(rng, [1.0, 1e3, 1e-3])).astype(c)
        for _ in range(int(rng.integers(0, 3))):  # finite specials only (see the docstring)
            a[int(rng.integers(0, 2 * n))] = pick(rng, [0.0, -0.0, 1e-40 if c == 'f4' else 1e-310])
        return a.view(dt).copy()
    kind = int(rng.integers(0, 4))
    if kind == 0:
        a = (rng.standard_normal(n) * 100).astype(dt)
    elif kind == 1:
        a = np.round(rng.standard_normal(n) * 5).astype(dt)
    elif kind == 2:  # any bit pattern: NaN payloads, subnormals, infinities
        u = np.dtype('u%d' % dt.itemsize)
        a = rng.integers(0, np.iinfo(u).max, n, dtype=u, endpoint=True).view(dt).copy()
    else:
        a = rng.uniform(-3e4, 3e4, n).astype(dt)
    fi = np.finfo(dt)
    specials = [0.0, -0.0, np.nan, np.inf, -np.inf, float(fi.tiny) / 4, -float(fi.tiny), float(fi.max),
                float(fi.min), 1.0]
    for _ in range(int(rng.integers(0, 5))):
        a[int(rng.integers(0, n))] = pick(rng, specials)
    return a


def rand_shape(rng, big=False):
    ndim = int(pick(rng, [1, 2, 3, 3, 3, 4, 4, 5, 5, 6, 7]))
    dims = [int(pick(rng, [1, 1, 2, 3, 4, 5, 7])) for _ in range(ndim)]
    if big:  # over the loader's 4 MiB threading threshold at 8 bytes per voxel
        dims = pick(rng, [[80, 80, 90], [80, 80, 90, 1], [1, 720, 800]])
    return dims


def rand_quatern(rng, f32):
    kind = int(rng.integers(0, 6))
    if kind == 0:  # random rotation, either sign of w
        q = rng.standard_normal(4)
        q /= np.linalg.norm(q)
        bcd = q[1:]
    elif kind == 1:  # axis permutations and 180-degree turns (w = 0)
        bcd = np.array(pick(rng, [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0.5),
                                  (0, 2 ** -0.5, 2 ** -0.5), (2 ** -0.5, 0, 0), (0, 0, -(2 ** -0.5))]), float)
    elif kind == 2:  # |bcd| just above 1: inside and past nibabel's 3 eps threshold
        v = rng.standard_normal(3)
        k = float(pick(rng, [0.4, 1.0, 2.0, 2.9, 3.1, 10.0, 1e4]))
        eps = EPS32 if f32 else np.finfo(float).eps
        bcd = v / np.linalg.norm(v) * np.sqrt(1 + k * eps)
    elif kind == 3:
        bcd = np.zeros(3)
    elif kind == 4:
        bcd = rng.uniform(-0.7, 0.7, 3)
    else:
        bcd = np.array([rand_float(rng, f32) for _ in range(3)]) if rng.random() < 0.3 else rng.uniform(-1, 1, 3) * 0.5
    return [float(np.float32(x)) if f32 else float(x) for x in bcd]


def rand_matrix(rng):
    """a 3x4 [R | t] of several kinds"""
    kind = int(rng.integers(0, 7))
    t = rng.uniform(-150, 150, 3) * pick(rng, [1.0, 1.0, 0.0, 1e5])
    if kind == 0:  # axis permutation with flips and zooms
        M = np.zeros((3, 3))
        perm = rng.permutation(3)
        for c in range(3):
            M[perm[c], c] = pick(rng, [1, -1]) * pick(rng, [1.0, 0.5, 2.0, 3.3, 0.9375])
    elif kind in (1, 2):  # oblique, slightly sheared for kind 2
        q = rng.standard_normal(4)
        q /= np.linalg.norm(q)
        M = nib.quaternions.quat2mat(q) @ np.diag(rng.uniform(0.3, 4, 3) * pick(rng, [1, -1]))
        if kind == 2:
            M[:, 2] += rng.uniform(-0.2, 0.2, 3)
    elif kind == 3:  # singular: a zero column, or two parallel ones
        M = rng.uniform(-3, 3, (3, 3))
        if rng.random() < 0.5:
            M[:, int(rng.integers(0, 3))] = 0
        else:
            M[:, 2] = M[:, 0] * 2
    elif kind == 4:  # 45 degrees: ties for the orientation
        c = 2 ** -0.5
        M = np.array([[c, -c, 0], [c, c, 0], [0, 0, 1.0]]) * 2
    elif kind == 5:
        M = rng.uniform(-3, 3, (3, 3))
    else:
        M = np.diag(rng.uniform(0.5, 3, 3))
    return np.hstack([M, t[:, None]])


def draw_read(rng):
    """a file description for the read family"""
    c = {}
    fmt = pick(rng, ['n1', 'n1', 'n1p', 'n2', 'n2p', 'ana'], p=[0.3, 0.15, 0.15, 0.15, 0.1, 0.15])
    c['fmt'] = fmt
    c['gz'] = rng.random() < 0.2
    c['endian'] = pick(rng, ['<', '>'])
    f32 = fmt in ('n1', 'n1p', 'ana')
    codes = ANALYZE_CODES if fmt == 'ana' else NIFTI_CODES
    wts = np.array([0.3 if DT[k][1] in LONG else 1.0 for k in codes])  # nibabel 5.0 refuses those here
    code = int(pick(rng, codes, p=wts / wts.sum()))
    c['code'] = code
    name = DT[code][1]
    c['shape'] = rand_shape(rng, big=rng.random() < 0.01 and DT[code][1] in ('float64', 'int64', 'complex64'))
    ndim = len(c['shape'])
    h = {}
    h['dim'] = [ndim] + c['shape'] + [int(pick(rng, [1, 1, 0, 5, -1])) for _ in range(7 - ndim)]
    pix = [pick(rng, [1.0, -1.0, 1.0, -1.0, 0.0, 0.5, 2.0, -3.0])]
    for i in range(7):
        p = float(pick(rng, [1.0, float(rng.uniform(0.2, 4)), 0.0, -float(rng.uniform(0.2, 4)), 2.5]) if i < 3
                  else pick(rng, [1.0, 0.0, float(rng.uniform(0, 3)), -1.5]))
        pix.append(p)
    if rng.random() < 0.02:
        pix[int(rng.integers(1, 4))] = float('nan')
    h['pixdim'] = pix
    h['datatype'] = code
    h['bitpix'] = NAME2NP[name].itemsize * 8 if rng.random() < 0.95 else 7
    h['cal_min'], h['cal_max'] = rand_float(rng, f32), rand_float(rng, f32)
    h['descrip'] = rand_text(rng, 80, allow_nul=True)
    h['aux_file'] = rand_text(rng, 24, allow_nul=True)
    if fmt == 'ana':
        slope = rand_float(rng, True, [1.0, 1.0, 0.0, 0.0])
        h['scl_slope'], h['scl_inter'] = slope, rand_float(rng, True, [0.0, 0.0])
        gl = [0, 0, 255, -100, 32767, 1000]
        h['glmax'], h['glmin'] = int(pick(rng, gl)), int(pick(rng, gl))
        if rng.random() < 0.3:
            h['cal_min'], h['cal_max'] = float(F32(rng.uniform(-100, 100))), float(F32(rng.uniform(-100, 1e4)))
        o = [0, 0, 0, 0, 0]
        ok = rng.random()
        if ok < 0.4:
            o[:3] = [int(rng.integers(-d, 2 * d + 1)) for d in (c['shape'] + [1, 1])[:3]]
        elif ok < 0.6:
            o[:3] = [int(rng.integers(-40, 80)) for _ in range(3)]
        h['origin'] = o
        c['vox_offset'] = float(pick(rng, [0, 0, 0, 16, 7, 100.5]))
        c['ext'] = []
        c['extender'] = None
        c['hdr'] = h
        return c
    h['dim_info'] = int(rng.integers(0, 256))
    h['intent_p1'], h['intent_p2'], h['intent_p3'] = [rand_float(rng, f32) for _ in range(3)]
    h['intent_code'] = int(pick(rng, [0, 0, 2, 3, 5, 1007, 1011, 2003, 9999, -5]))
    h['intent_name'] = rand_text(rng, 16, allow_nul=True)
    h['slice_start'] = int(rng.integers(-5, 50))
    h['slice_end'] = int(rng.integers(-5, 50))
    h['slice_code'] = int(rng.integers(0, 7))
    h['xyzt_units'] = int(pick(rng, [0, 2, 10, 18, 3, int(rng.integers(0, 256))]))
    h['slice_duration'] = rand_float(rng, f32)
    h['toffset'] = rand_float(rng, f32)
    codes = [0, 0, 1, 2, 3, 4, 5]
    h['qform_code'] = int(pick(rng, codes + [6, -1, 300])) if rng.random() < 0.1 else int(pick(rng, codes))
    h['sform_code'] = int(pick(rng, codes + [7, -2, 1000])) if rng.random() < 0.1 else int(pick(rng, codes))
    h['quatern_b'], h['quatern_c'], h['quatern_d'] = rand_quatern(rng, f32)
    h['qoffset_x'], h['qoffset_y'], h['qoffset_z'] = [float(x) for x in rng.uniform(-200, 200, 3)]
    M = rand_matrix(rng)
    h['srow_x'], h['srow_y'], h['srow_z'] = [list(r) for r in M]
    sl = [1.0, 1.0, 0.0, float('nan'), float('inf'), -float('inf'), -2.0, float(rng.uniform(0.001, 10)),
          1e-30, -0.0]
    il = [0.0, 0.0, 0.0, float(rng.uniform(-1000, 1000)), -0.0, 1e-30, float(rng.uniform(-5, 5))]
    if rng.random() < 0.1:
        il = [float('nan'), float('inf'), -float('inf')]  # nibabel refuses these with a valid slope
    if not f32:
        sl += [1e300, 1.2345678901234e300, 5e-320, float(rng.uniform(-1e10, 1e10))]
        il += [-1e307, 1e300]
    h['scl_slope'], h['scl_inter'] = float(pick(rng, sl)), float(pick(rng, il))
    if f32:
        h['scl_slope'], h['scl_inter'] = float(F32(h['scl_slope'])), float(F32(h['scl_inter']))
    if fmt in ('n2', 'n2p') and rng.random() < 0.05:
        h['eol_check'] = [0, 0, 0, 0]
    # extensions: esize a multiple of 16 (rarely not)
    ext = []
    for _ in range(int(pick(rng, [0, 0, 0, 1, 2, 3]))):
        content = bytes(rng.integers(0, 256, int(pick(rng, [0, 3, 8, 16, 40]))).astype(np.uint8))
        if rng.random() < 0.3:
            content += b'\0' * int(rng.integers(1, 9))
        esize = (len(content) + 8 + 15) // 16 * 16
        if rng.random() < 0.03:
            esize = len(content) + 8  # not a multiple of 16
        ext.append((int(pick(rng, EXT_CODES)), content, esize))
    c['ext'] = ext
    c['extender'] = 1 if ext else int(pick(rng, [0, 0, 0, 1])) if fmt in ('n1', 'n2') else \
        pick(rng, [None, None, 0, 1])
    hs = 540 if fmt in ('n2', 'n2p') else 348
    ext_bytes = sum(e[2] for e in ext)
    if fmt in ('n1', 'n2'):
        mn = hs + 4 + ext_bytes
        gap = int(pick(rng, [0] * 12 + [16, 4, 12, 8, 15, 100])) if c['extender'] else \
            int(pick(rng, [0, 0, 16, 5, 200]))
        vo = mn + gap
        r = rng.random()
        if r < 0.03:
            vo = pick(rng, [0, 100, mn - 4])
        elif r < 0.06 and fmt == 'n1':
            vo = mn + gap + 0.5
        c['vox_offset'] = float(vo)
    else:
        c['vox_offset'] = float(pick(rng, [0, 0, 0, 16, 7, 352]))
    c['hdr'] = h
    return c


def header_block(fmt, endian, h, vox_offset):
    hdr = HEADER_CLASS[fmt](endianness=endian, check=False)
    sa = hdr.structarr
    for k, v in h.items():
        if k == 'descrip' or k == 'aux_file' or k == 'intent_name':
            sa[k] = np.frombuffer(v.ljust(sa[k].dtype.itemsize, b'\0'), dtype=sa[k].dtype)[0]
        else:
            sa[k] = v
    sa['vox_offset'] = vox_offset
    return sa.tobytes()


def make_files(c, d, stem):
    """writes the case's file(s) into folder d; returns (path to load, data bytes file order)"""
    fmt, endian = c['fmt'], c['endian']
    name = DT[c['code']][1]
    n = int(np.prod(c['shape']))
    vals = c['values']
    dt = NAME2NP[name]
    if dt.kind in 'iufc' and dt.itemsize > 1 or name in LONG:
        data = vals.astype(dt.newbyteorder(endian)).tobytes()
    else:
        data = vals.tobytes()
    assert len(data) == n * dt.itemsize
    vo = c['vox_offset']
    hb = header_block(fmt, endian, c['hdr'], vo)
    ext = b''
    for code, content, esize in c['ext']:
        e = np.array([esize, code], dtype=np.int32).astype(endian + 'i4').tobytes()
        ext += e + content + b'\0' * (esize - 8 - len(content))
    single = fmt in ('n1', 'n2')
    if c['extender'] is not None:
        hb += bytes([c['extender'], 0, 0, 0]) + ext
    if single:
        off = max(int(vo), len(hb))  # a vox_offset inside the header: the data after it anyway
        blob = hb + b'\0' * (off - len(hb)) + data
        path = os.path.join(d, stem + '.nii')
        files = [(path, blob)]
    else:
        path = os.path.join(d, stem + '.hdr')
        img = b'\xa5' * int(vo) + data
        files = [(path, hb), (os.path.join(d, stem + '.img'), img)]
    out = []
    for p, b in files:
        if c['gz']:
            p += '.gz'
            b = gzip.compress(b, compresslevel=int(pick(c['rng'], [1, 6])), mtime=0)
        with open(p, 'wb') as f:
            f.write(b)
        out.append(p)
    return out[0], data


# ---------------------------------------------------------------- nibabel's view

class NibView:
    """nibabel's reading of one file, or why it refused"""

    def __init__(self, path):
        self.refused = None
        try:
            img = nib.load(path)
            self.img = img
            self.hdr = img._load_cache['header']  # check_fix'ed as read, scaling intact
            self.raw = np.asarray(img.dataobj.get_unscaled())
            self.slope, self.inter = float(img.dataobj.slope), float(img.dataobj.inter)
            self.cal_nonfinite = False
            if nib_format(self.hdr) == 3 and not np.isfinite(self.slope):
                # medvol.h API TOUR: a non-finite Analyze cal range gives no
                # scaling (nibabel scales by NaN or inf): the reference is
                # get_fdata() of the unscaled values
                self.slope, self.inter, self.cal_nonfinite = 1.0, 0.0, True
            self.affine = np.array(img.affine, dtype=np.float64)
        except Exception as e:  # nibabel raises HeaderDataError, ValueError ... for what it refuses
            self.refused = '%s: %s' % (type(e).__name__, str(e).split('\n')[0][:120])
        self._fdata = None

    def fdata(self):
        """get_fdata(), or np.asarray(dataobj) for complex (get_fdata drops the imaginary part)"""
        if self._fdata is None:
            try:
                if self.raw.dtype.kind == 'c' and not self.cal_nonfinite:
                    self._fdata = np.asarray(self.img.dataobj)
                elif self.cal_nonfinite:
                    self._fdata = self.raw.astype(np.complex128 if self.raw.dtype.kind == 'c' else np.float64)
                else:
                    self._fdata = self.img.get_fdata()
            except ValueError as e:  # "Overflow using highest floating point type" (volumeutils)
                self._fdata = str(e)
        return self._fdata


def nib_format(hdr):
    if isinstance(hdr, nib.Nifti2Header):
        return 2
    if isinstance(hdr, nib.Nifti1Header):
        return 1
    return 3


def axcodes(aff):
    try:
        return ''.join(x if x else '?' for x in nib.aff2axcodes(aff))
    except Exception:
        return None


def orientation_ambiguous(aff):
    """io_orientation's polar factor has a near-tie or a rank at its tolerance"""
    try:
        RZS = aff[:3, :3]
        zooms = np.sqrt(np.sum(RZS * RZS, axis=0))
        zooms[zooms == 0] = 1
        RS = RZS / zooms
        P, S, Qs = np.linalg.svd(RS, full_matrices=False)
    except Exception:
        return False
    tol = S.max() * 3 * np.finfo(float).eps
    if np.any((S > tol * 1e-3) & (S < tol * 1e3)):
        return True
    keep = S > tol
    R = np.dot(P[:, keep], Qs[keep])
    for ax in range(3):
        col = np.abs(R[:, ax])
        if abs(col.max() - 1e-8) < 1e-9:
            return True
        if col.max() <= 1e-8:
            continue
        s = np.sort(col)
        if s[-1] - s[-2] <= 1e-9 * max(s[-1], 1e-300):
            return True
        R[int(np.argmax(col)), :] = 0
    return False


# ---------------------------------------------------------------- medvol's report

def parse_report(path):
    r = {}
    exts = []
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip('\n').partition(' ')
                if k == 'ext':
                    code, size, hexs = v.split(' ')
                    exts.append((int(code), int(size), b'' if hexs == '-' else bytes.fromhex(hexs)))
                else:
                    r[k] = v
    except OSError:
        return {'status': 'NO_REPORT'}
    r['exts'] = exts
    return r


def floats(r, k):
    return [float(x) for x in r[k].split()]


def ints(r, k):
    return [int(x) for x in r[k].split()]


def text(r, k):
    return b'' if r[k] == '-' else bytes.fromhex(r[k])


# ---------------------------------------------------------------- reference values

def iinfo_bounds(dt):
    ii = np.iinfo(dt)
    return int(ii.min), int(ii.max)


def to_int(x, dt, rounding):
    """medvol's float -> integer: rint (or trunc), NaN -> 0, saturate"""
    y = np.trunc(x) if rounding == 1 else np.rint(x)
    y = np.where(np.isnan(y), 0.0, y)
    lo, hi = iinfo_bounds(dt)
    out = np.empty(y.shape, dt)
    big = y >= float(hi) + 1.0 if dt.itemsize == 8 else y > hi
    small = y < float(lo)
    mid = ~(big | small)
    out[big], out[small] = hi, lo
    out[mid] = y[mid].astype(dt)
    return out


def int_to_int(x, dt):
    lo, hi = iinfo_bounds(dt)
    if x.dtype.kind == 'u':
        xu = x.astype(np.uint64)
        return np.minimum(xu, np.uint64(hi)).astype(dt)
    xs = x.astype(np.int64)
    if dt.kind == 'u':
        return np.minimum(np.where(xs < 0, 0, xs).astype(np.uint64), np.uint64(hi)).astype(dt)
    return np.clip(xs, lo, hi).astype(dt)


def convert_ref(x, tgt, rounding):
    """x (nibabel's values) as medvol's conversion to tgt gives them; None: medvol must refuse"""
    t = NAME2NP[tgt]
    if x.dtype.names:  # RGB(A) <-> RGB(A) only
        if t.names is None:
            return None
        b = x.view(np.uint8).reshape(-1, x.dtype.itemsize)
        o = np.full((b.shape[0], t.itemsize), 255, np.uint8)  # alpha 255 when added
        k = min(t.itemsize, x.dtype.itemsize)
        o[:, :k] = b[:, :k]
        return o.reshape(-1).view(t)
    if t.names:
        return None
    if x.dtype.kind == 'c':
        return x.astype(t) if t.kind == 'c' else None
    if t.kind == 'c':
        comp = np.dtype('f4' if t.itemsize == 8 else 'f8')
        o = np.zeros(x.shape, t)
        o.real = convert_ref(x, 'float32' if comp == 'f4' else 'float64', rounding)
        return o
    if t.kind == 'f':
        return x.astype(t)
    if x.dtype.kind in 'iu':
        return int_to_int(x, t)
    return to_int(x.astype(np.float64), t, rounding)


def bits_equal(got, ref):
    """(all equal, all differences are signed zeros): bit for bit, NaN == NaN"""
    if got.shape != ref.shape:
        return False, False
    if ref.dtype.kind in 'fc':
        comp = np.dtype('f%d' % (ref.dtype.itemsize // (2 if ref.dtype.kind == 'c' else 1)))
        g, r = got.view(comp), ref.view(comp)
        u = np.dtype('u%d' % comp.itemsize)
        same = (g.view(u) == r.view(u)) | (np.isnan(g) & np.isnan(r))
        if same.all():
            return True, False
        return False, bool(np.all(same | (g == r)))
    same = got.view(np.uint8) == ref.view(np.uint8)
    return bool(same.all()), False


def values_equal(got, ref):
    """as numbers: NaN == NaN, -0 == 0 (complex: per component)"""
    if got.shape != ref.shape:
        return False
    if ref.dtype.kind == 'c':
        comp = np.dtype('f%d' % (ref.dtype.itemsize // 2))
        g, r = got.view(comp), ref.view(comp)
    else:
        g, r = got, ref
    return bool(np.all((g == r) | (np.isnan(g) & np.isnan(r))))


def feq(a, b, rtol=0.0):
    a, b = float(a), float(b)
    if a == b or (a != a and b != b):
        return True
    return rtol > 0 and abs(a - b) <= rtol * max(abs(a), abs(b))


# ---------------------------------------------------------------- the read comparison

STATS = {'orient_compared': 0, 'orient_ambiguous': 0, 'analyze_unused_dims_skipped': 0, 'longdouble_skipped': 0,
         'int64_exact_skipped': 0, 'quatern_near_tie': 0}


class Checker:
    def __init__(self):
        self.fails = []  # (tag, what)

    def fail(self, tag, what):
        self.fails.append((tag, what))


def check_header(ck, r, nv, opdesc, scaled_load, boxed, skip_ext=False):
    """medvol's fields (report r) against nibabel's header"""
    h = nv.hdr
    fmt = nib_format(h)
    if int(r['format']) != fmt:
        ck.fail('format', '%s: format %s, nibabel %d' % (opdesc, r['format'], fmt))
        return
    if int(r['big_endian']) != (h.endianness == '>'):
        ck.fail('field', '%s: big_endian %s, nibabel %s' % (opdesc, r['big_endian'], h.endianness))
    code = int(h['datatype'])
    if int(r['code']) != code and 'dtype=' not in opdesc and not scaled_load:
        ck.fail('dtype', '%s: datatype %s, nibabel %d' % (opdesc, r['code'], code))
    zooms = [float(z) for z in h.get_zooms()]
    sp = floats(r, 'spacing')
    nd = min(len(zooms), int(r['ndim']))  # squeeze drops axes (their spacing goes back to 1)
    if not all(feq(a, b) for a, b in zip(sp[:nd], zooms)):
        ck.fail('spacing', '%s: spacing %s, nibabel zooms %s' % (opdesc, sp[:nd], zooms))
    if fmt == 3:  # Analyze (SPM2): what mv_meta keeps of it
        if not feq(floats(r, 'cal_min')[0], h['cal_min']) or not feq(floats(r, 'cal_max')[0], h['cal_max']):
            ck.fail('field', '%s: cal_min/max %s %s, nibabel %r %r' % (opdesc, r['cal_min'], r['cal_max'],
                                                                     float(h['cal_min']), float(h['cal_max'])))
        if ints(r, 'analyze_origin') != [int(x) for x in h['origin']]:
            ck.fail('field', '%s: origin %s, nibabel %s' % (opdesc, r['analyze_origin'], list(h['origin'])))
        if not scaled_load:
            s, i = h.get_slope_inter()
            s, i = (0.0, 0.0) if s is None else (float(s), float(i))
            if not np.isfinite(s):
                # medvol.h API TOUR: a non-finite Analyze cal range gives no
                # scaling, where nibabel scales by NaN or inf
                s, i = 0.0, 0.0
            if not (feq(floats(r, 'scl_slope')[0], s) and feq(floats(r, 'scl_inter')[0], i)):
                ck.fail('analyze_scaling', '%s: Analyze scale %s %s, nibabel get_slope_inter %r %r' % (
                    opdesc, r['scl_slope'], r['scl_inter'], s, i))
        for k in ('descrip', 'aux_file'):
            ref = bytes(h[k]).split(b'\0')[0]
            if text(r, k) != ref:
                ck.fail('field', '%s: %s %r, nibabel %r' % (opdesc, k, text(r, k), ref))
        return
    pairs = [('qform_code', int(h['qform_code'])), ('sform_code', int(h['sform_code'])),
             ('slice_start', int(h['slice_start'])), ('slice_end', int(h['slice_end'])),
             ('slice_code', int(h['slice_code'])), ('xyzt_units', int(h['xyzt_units'])),
             ('intent_code', int(h['intent_code'])), ('dim_info', int(h['dim_info']))]
    for k, v in pairs:
        if int(r[k]) != v:
            ck.fail('field', '%s: %s %s, nibabel %d' % (opdesc, k, r[k], v))
    fl = [('quatern', [h['quatern_b'], h['quatern_c'], h['quatern_d']]),
          ('qoffset', [h['qoffset_x'], h['qoffset_y'], h['qoffset_z']]),
          ('qfac', [h['pixdim'][0]]),
          ('srow', list(h['srow_x']) + list(h['srow_y']) + list(h['srow_z'])),
          ('cal_min', [h['cal_min']]), ('cal_max', [h['cal_max']]),
          ('slice_duration', [h['slice_duration']]), ('toffset', [h['toffset']]),
          ('intent_p', [h['intent_p1'], h['intent_p2'], h['intent_p3']])]
    if not scaled_load:
        fl += [('scl_slope', [h['scl_slope']]), ('scl_inter', [h['scl_inter']])]
    else:
        fl += [('scl_slope', [1.0]), ('scl_inter', [0.0])]
    for k, v in fl:
        got = floats(r, k)
        if not all(feq(a, b) for a, b in zip(got, v)):
            ck.fail('field', '%s: %s %s, nibabel %s' % (opdesc, k, got, [float(x) for x in v]))
    for k in ('descrip', 'aux_file', 'intent_name'):
        ref = bytes(h[k]).split(b'\0')[0]  # mv_meta keeps C strings: up to the first NUL
        if text(r, k) != ref:
            ck.fail('field', '%s: %s %r, nibabel %r' % (opdesc, k, text(r, k), ref))
    ne = [(int(e.get_code()), e.get_content() if isinstance(e.get_content(), bytes) else e._raw_content)
          for e in h.extensions]
    got = [(c, b.rstrip(b'\0')) for c, _, b in r['exts']]
    if got != ne and not skip_ext:
        gzhdr = r.get('_path', '').endswith('.hdr.gz') and not got
        tail = False
        if len(got) > len(ne) and got[:len(ne)] == ne and h.is_single:  # extra ones in < 16 bytes
            start = int(h['sizeof_hdr']) + 4 + sum(sz + 8 for _, sz, _ in r['exts'][:len(ne)])
            tail = int(h['vox_offset']) - start < 16
        ck.fail('ext_hdr_gz' if gzhdr else 'ext_tail' if tail else 'extensions',
                '%s: medvol %d extensions %s, nibabel %d %s' % (
                    opdesc, len(got), [(c, len(b)) for c, b in got], len(ne), [(c, len(b)) for c, b in ne]))


def check_affine(ck, r, nv, opdesc, start):
    h = nv.hdr
    got = np.array(floats(r, 'affine')).reshape(4, 4)
    ref = nv.affine.copy()
    fmt = nib_format(h)
    rtol = 0.0
    atol_t = np.zeros(3)
    if fmt == 3 and np.any(h['origin'][:3]):
        rtol = EPS32  # nibabel: int16 origin times float32 pixdim, in float32
        atol_t = EPS32 * np.abs(nv.affine[:3, 3])  # that rounding, kept through a crop box's shift
    if start is not None and not np.all(np.isfinite(nv.affine)):
        return  # a NaN pixdim: 0 * NaN spreads differently through numpy's dot and medvol's sum
    if start is not None and any(start[:3]):
        if len(nv.img.shape) >= 3:
            sl = tuple(slice(s, None) for s in start[:3])
            ref = np.array(nv.img.slicer.slice_affine(sl))  # img.slicer[sl].affine without the data
        else:
            T = np.eye(4)
            T[:3, 3] = start[:3]
            ref = ref @ T
        mag = np.abs(nv.affine[:3, :3]) @ np.abs(np.array(start[:3], float)) + np.abs(nv.affine[:3, 3])
        tol_t = 4 * np.finfo(float).eps * mag
    else:
        tol_t = np.zeros(3)
    ok = True
    for i in range(3):
        for j in range(4):
            a, b = got[i, j], ref[i, j]
            if j == 3 and tol_t[i] > 0:
                ok &= (a == b) or (a != a and b != b) or abs(a - b) <= tol_t[i] + rtol * abs(b) + atol_t[i]
            else:
                ok &= feq(a, b, rtol)
    if not ok:
        which = 'sform' if fmt < 3 and h['sform_code'] > 0 else 'qform' if fmt < 3 and h['qform_code'] > 0 \
            else 'analyze' if fmt == 3 else 'base'
        nd = int(h['dim'][0])
        unused = fmt == 3 and nd < 3 and any(int(x) != 1 for x in h['dim'][nd + 1:4])
        if unused:
            # medvol.h API TOUR, NIfTI: Analyze axes past ndim have length 1
            # where nibabel takes the stored dim[] (a documented difference)
            STATS['analyze_unused_dims_skipped'] += 1
            return
        ck.fail('affine',
                '%s: affine (%s) differs: max |diff| %.3g\n    medvol  %s\n    nibabel %s' % (
                    opdesc, which, float(np.nanmax(np.abs(got - ref))), got[:3].tolist(), ref[:3].tolist()))
    # orientation of the loaded volume's affine
    ref_codes = axcodes(got) if start is not None else axcodes(nv.affine)
    got_codes = r.get('orient')
    STATS['orient_compared'] += 1
    if ref_codes is None:
        if got_codes is not None:
            ck.fail('orientation', '%s: medvol %s, nibabel aff2axcodes fails' % (opdesc, got_codes))
    elif got_codes != ref_codes and orientation_ambiguous(got):
        STATS['orient_ambiguous'] += 1
    elif got_codes != ref_codes:
        ck.fail('orientation', '%s: medvol %s, nibabel aff2axcodes %s (affine %s)' % (
            opdesc, got_codes, ref_codes, got[:3].tolist()))


def parse_opts(opts):
    o = {}
    if opts != '-':
        for kv in opts.split(','):
            k, v = kv.split('=')
            o[k] = v
    return o


def check_read(ck, r, out, nv, opts, desc, path, pair, gz, vox_offset, warn_ref, vox_low=False):
    """one medvol load of path (options opts, report r, voxels in out) against nibabel's view nv"""
    o = parse_opts(opts)
    opdesc = '%s [%s]' % (desc, opts)
    scaled = int(o.get('scaled', 0))
    tgt = o.get('dtype')
    header_only = int(o.get('header_only', 0))
    strict = int(o.get('strict', 0))
    st = r.get('status')
    raw = nv.raw
    name = DT[int(nv.hdr['datatype'])][1]
    kind = NAME2NP[name]
    is_rgb = kind.names is not None
    # what the load has to produce (None: refuse)
    ddt = tgt if tgt else name
    if scaled and not is_rgb and not tgt:
        ddt = 'complex64' if kind.kind == 'c' else 'float32'
    must_refuse = None
    if (kind.kind == 'c' and NAME2NP[ddt].kind != 'c') or (is_rgb != (NAME2NP[ddt].names is not None)):
        must_refuse = 'conversion %s -> %s' % (name, ddt)
    if strict and warn_ref is None:
        return  # the plain load failed: nothing to predict the strict one from
    if strict and warn_ref:
        must_refuse = 'strict with warnings %s' % warn_ref
    # mmap REQUIRE: maps exactly when the stored bytes are the answer
    shape = list(raw.shape)
    nd = len(shape)
    bs = [int(x) for x in o['bs'].split(':')] if 'bs' in o else [0] * 7
    bz = [int(x) for x in o['bz'].split(':')] if 'bz' in o else [0] * 7
    sizes = [(bz[i] if bz[i] else shape[i] - bs[i]) for i in range(nd)]
    whole = all(bs[i] == 0 and sizes[i] == shape[i] for i in range(nd))
    slope_active = scaled and not is_rgb and (nv.slope, nv.inter) != (1.0, 0.0)
    if int(o.get('mmap', 0)) == 2 and not header_only and must_refuse is None:
        can = (o.get('src', 'file') == 'file' and not gz and nv.hdr.endianness == '<' and ddt == name
               and not slope_active and whole and vox_offset % ALIGN[name] == 0)
        if not can:
            must_refuse = 'mmap REQUIRE without zero copy'
    if must_refuse:
        if st == 'MV_OK':
            ck.fail('refusal', '%s: loads; medvol.h says it must fail (%s)' % (opdesc, must_refuse))
        return
    if st != 'MV_OK':
        tail = 'esize 0' in r.get('error', '') and not pair
        ck.fail('ext_tail' if tail else 'load', '%s: %s (%s); nibabel loads it' % (opdesc, st, r.get('error', '')))
        return
    if strict and int(r['warnings']) != 0:
        ck.fail('refusal', '%s: strict load returned warnings %s' % (opdesc, r['warnings']))
    if int(o.get('mmap', 0)) == 2 and not header_only and int(r['flags']) != 2:
        ck.fail('mmap', '%s: REQUIRE gave flags %s, not MV_VOL_MAPPED' % (opdesc, r['flags']))
    if int(r['pair']) != int(pair):
        ck.fail('field', '%s: pair %s' % (opdesc, r['pair']))
    if r['dtype'] != ddt:
        ck.fail('dtype', '%s: dtype %s, expected %s' % (opdesc, r['dtype'], ddt))
        return
    # shape: the box, then squeeze (trailing length-1 axes beyond the third)
    exp_nd = nd
    if int(o.get('squeeze', 0)):
        while exp_nd > 3 and sizes[exp_nd - 1] == 1:
            exp_nd -= 1
    dims = ints(r, 'dim')
    if int(r['ndim']) != exp_nd or dims[:exp_nd] != sizes[:exp_nd] or any(d != 1 for d in dims[exp_nd:]):
        ck.fail('shape', '%s: ndim %s dims %s, nibabel shape %s -> expected %s' % (
            opdesc, r['ndim'], dims, shape, sizes[:exp_nd]))
        return
    if vox_low:
        # LIMITS & UNTRUSTED INPUT: "vox_offset below the header of a .nii -> the
        # header end", with MV_WARN_VOX_OFFSET. nibabel refuses 1..351 and reads
        # vox_offset 0 from byte 0 (the header as voxels, extensions to the end
        # of the file): no data or extensions to compare
        if not int(r['warnings']) & 1:
            ck.fail('warning', '%s: vox_offset %s inside the header, no MV_WARN_VOX_OFFSET' % (opdesc, nv.hdr[
                'vox_offset']))
    check_header(ck, r, nv, opdesc, scaled and not is_rgb, not whole, vox_low)
    check_affine(ck, r, nv, opdesc, bs if not whole else None)
    if vox_low:
        return
    if header_only:
        if int(r['bytes']) != 0:
            ck.fail('data', '%s: header_only returned %s bytes' % (opdesc, r['bytes']))
        return
    gdt = NAME2NP[ddt]
    try:
        got = np.fromfile(out, dtype=gdt.newbyteorder('=') if gdt.names is None else gdt)
    except Exception:
        got = np.zeros(0, gdt)
    compare_values(ck, nv, o, got, ddt, bs, sizes, opdesc, 'data')


def compare_values(ck, nv, o, got, ddt, bs, sizes, opdesc, tag0):
    """medvol's voxels got (dtype ddt, file order) against nibabel's values for load options o"""
    scaled = int(o.get('scaled', 0))
    tgt = o.get('dtype')
    rounding = int(o.get('rounding', 0))
    raw = nv.raw
    name = DT[int(nv.hdr['datatype'])][1]
    is_rgb = NAME2NP[name].names is not None
    slope_active = scaled and not is_rgb and (nv.slope, nv.inter) != (1.0, 0.0)
    sl = tuple(slice(bs[i], bs[i] + sizes[i]) for i in range(raw.ndim))
    if name in LONG and (scaled or (tgt and tgt != name)):
        return  # x87 vs binary128 (medvol.h API TOUR): nothing to compare but bytes
    if scaled and not is_rgb:
        src = nv.fdata()
        if isinstance(src, str):
            return  # nibabel cannot scale it either (no float type holds slope x the dtype's range)
        what = 'get_fdata()' if src.dtype.kind != 'c' else 'np.asarray(dataobj)'
    else:
        src = raw
        what = 'get_unscaled()'
    ref = src[sl].ravel(order='F')
    if ddt != src.dtype.name or (scaled and not is_rgb) or tgt:
        conv = convert_ref(ref, ddt, rounding)
        if conv is None:
            ck.fail('harness', '%s: no reference conversion %s -> %s' % (opdesc, src.dtype, ddt))
            return
        ref = conv
        what += ' -> ' + ddt
    gdt = NAME2NP[ddt]
    ref = np.ascontiguousarray(ref).astype(gdt.newbyteorder('=') if gdt.names is None else gdt)
    if got.size != ref.size:
        ck.fail(tag0, '%s: %d values, expected %d' % (opdesc, got.size, ref.size))
        return
    if gdt.kind == 'c' and slope_active:
        ok, zeros = values_equal(got, ref), False  # numpy's complex x real (see the docstring)
    else:
        ok, zeros = bits_equal(got, ref)
    if not ok:
        bad = np.nonzero(~((got.view(np.uint8).reshape(got.size, -1) == ref.view(np.uint8).reshape(
            ref.size, -1)).all(axis=1)))[0]
        k = int(bad[0]) if bad.size else 0
        rawv = raw[sl].ravel(order='F')[k] if raw.dtype.names is None else None
        tag = 'signed_zero' if zeros else tag0
        if tag == tag0 and nib_format(nv.hdr) == 3 and scaled and not (
                np.isfinite(nv.hdr['scl_slope']) and nv.hdr['scl_slope'] != 0):
            # the glmax/glmin, cal_max/cal_min scaling: float32 difference, or not finite
            tag = 'analyze_scaling' if np.isfinite(nv.slope) else 'analyze_cal_nonfinite'
        if tag == tag0 and scaled and raw.dtype.kind in 'iu' and \
                nib.volumeutils.int_scinter_ftype(raw.dtype, np.array([nv.slope]), np.array([nv.inter]),
                                                  np.float64) is not np.float64:
            # nibabel scales in long double where the dtype's range x slope
            # overflows float64; medvol.h API TOUR ("Scaled values follow
            # get_fdata()'s float64 rule ...") documents the last-bit difference
            STATS['longdouble_skipped'] += 1
            return
        if tag == tag0 and scaled and raw.dtype.kind in 'iu' and raw.dtype.itemsize == 8 and \
                (nv.slope, nv.inter) == (1.0, 0.0) and np.dtype(got.dtype).kind in 'iu':
            # medvol.h API TOUR: an unscaled 64-bit integer loaded into an
            # integer dtype stays exact (get_fdata() would round it to float64)
            STATS['int64_exact_skipped'] += 1
            return
        if tag == tag0 and scaled and raw.dtype.kind in 'iu' and raw.dtype.itemsize == 8 and \
                (nv.slope, nv.inter) == (1.0, 0.0):
            tag = 'int64_identity_scaling'  # converted straight from the integer, not through get_fdata
        ck.fail(tag,
                '%s: %d of %d voxels differ from nibabel %s (scaling %r %r); first at %d: medvol %r, '
                'nibabel %r, stored %r' % (opdesc, bad.size, ref.size, what, nv.slope, nv.inter, k,
                                           got[k].item() if got.size else None, ref[k].item(),
                                           rawv.item() if rawv is not None else None))


def resave_opts(rng, nv):
    """load options for a load-then-save: as stored mostly, or scaled, boxed, squeezed"""
    o = []
    r = rng.random()
    name = DT[int(nv.hdr['datatype'])][1]
    if r < 0.2 and NAME2NP[name].names is None and name not in LONG:
        o.append('scaled=1')
    elif r < 0.4:
        shape = list(nv.raw.shape)
        bs = [int(rng.integers(0, shape[i])) if i < len(shape) else 0 for i in range(7)]
        o.append('bs=' + ':'.join(map(str, bs)))
        if rng.random() < 0.5:
            o.append('squeeze=1')
    if rng.random() < 0.2:
        o.append('gzl=%d' % pick(rng, [1, 9, -1]))
    if rng.random() < 0.2:
        o.append('sm=1')
    return ','.join(o) if o else '-'


def check_resave(ck, r, nv, opts, out, desc):
    """medvol loaded nibabel-readable file (nibabel's view nv) and saved it to out:
    nibabel must read out as the same image (medvol.h >>api-nifti: mv_save keeps
    every header field and extension; a changed affine rewrites sform and qform)"""
    o = parse_opts(opts)
    opdesc = '%s [%s]' % (desc, opts)
    if r.get('status') != 'MV_OK':
        if 'saved' in r:
            ck.fail('resave', '%s: mv_save: %s (%s)' % (opdesc, r.get('status'), r.get('error', '')))
        return  # a load failure is the read checks' business
    nv2 = NibView(out)
    if nv2.refused:
        ck.fail('resave', '%s: nibabel refuses medvol\'s file: %s' % (opdesc, nv2.refused))
        return
    h, h2 = nv.hdr, nv2.hdr
    fin = nib_format(h)
    single = out.endswith('.nii') or out.endswith('.nii.gz')
    if h2.is_single != single:
        ck.fail('resave', '%s: nibabel reads single %s' % (opdesc, h2.is_single))
    if fin == 2 and nib_format(h2) != 2 or fin == 1 and nib_format(h2) != 1:
        ck.fail('resave', '%s: NIfTI-%d read, NIfTI-%d written (mv_save keeps NIfTI-2; else NIfTI-1)' % (
            opdesc, fin, nib_format(h2)))
        return
    # shape, dtype and voxels: what the load gave
    name = DT[int(h['datatype'])][1]
    is_rgb = NAME2NP[name].names is not None
    scaled = int(o.get('scaled', 0)) and not is_rgb
    shape = list(nv.raw.shape)
    nd = len(shape)
    bs = [int(x) for x in o['bs'].split(':')] if 'bs' in o else [0] * 7
    sizes = [shape[i] - bs[i] for i in range(nd)]
    exp_nd = nd
    if int(o.get('squeeze', 0)):
        while exp_nd > 3 and sizes[exp_nd - 1] == 1:
            exp_nd -= 1
    ddt = ('complex64' if NAME2NP[name].kind == 'c' else 'float32') if scaled else name
    if list(nv2.raw.shape) != sizes[:exp_nd] or DT[int(h2['datatype'])][1] != ddt:
        ck.fail('resave', '%s: nibabel shape %s dtype %s, expected %s %s' % (
            opdesc, nv2.raw.shape, DT[int(h2['datatype'])][1], sizes[:exp_nd], ddt))
        return
    got = np.ascontiguousarray(nv2.raw.ravel(order='F'))
    if got.dtype.names is None:
        got = got.astype(got.dtype.newbyteorder('='))
    compare_values(ck, nv, o, got, ddt, bs, sizes, opdesc, 'resave')
    # scaling: kept, or 1/0 once applied; Analyze's (SPM2) becomes scl_slope/scl_inter
    if scaled:
        exp_si = (1.0, 0.0)
    elif fin == 3:
        s_, i_ = h.get_slope_inter()
        exp_si = (1.0, 0.0) if s_ is None or not np.isfinite(s_) else (float(F32(s_)), float(F32(i_)))
    else:
        exp_si = (nv.slope, nv.inter)
    rt = 2 * EPS32 if fin == 3 else 0.0
    if not (feq(nv2.slope, exp_si[0], rt) and feq(nv2.inter, exp_si[1], rt)):
        ck.fail('analyze_scaling' if fin == 3 else 'resave', '%s: nibabel scaling %r %r, expected %r %r' % (
            opdesc, nv2.slope, nv2.inter, exp_si[0], exp_si[1]))
    # geometry: the same affine (a crop box moves the origin: nibabel's slicer)
    moved = any(bs[:3])
    ref = np.array(nv.img.slicer.slice_affine(tuple(slice(b, None) for b in bs[:3]))) \
        if moved and nd >= 3 else nv.affine.copy()
    if moved and nd < 3:
        T = np.eye(4)
        T[:3, 3] = bs[:3]
        ref = ref @ T
    # rewritten: a box along a zero column moves nothing, and medvol then keeps the fields
    rewritten = fin == 3 or not np.array_equal(ref, nv.affine, equal_nan=True)
    if np.all(np.isfinite(ref)):
        scale = max(1.0, float(np.abs(ref[:3, :3]).max()))
        if fin == 3 or (moved and fin == 1):
            tol = 4 * EPS32 * (scale + np.abs(ref[:3, 3]))[:, None] * np.ones((3, 4))
        elif moved:
            tol = 8 * np.finfo(float).eps * (scale + np.abs(ref[:3, 3]))[:, None] * np.ones((3, 4))
        else:
            tol = np.zeros((3, 4))  # the stored fields, kept: the same bits
        d = np.abs(nv2.affine[:3] - ref[:3])
        if not np.all((d <= tol) | (nv2.affine[:3] == ref[:3])):
            nd_ = int(h['dim'][0])
            unused = fin == 3 and nd_ < 3 and any(int(x) != 1 for x in h['dim'][nd_ + 1:4])
            if not unused:  # (unused: medvol.h API TOUR's documented difference, as above)
                ck.fail('resave',
                        '%s: nibabel affine of the saved file differs by %.3g\n    read  %s\n    saved %s' % (
                            opdesc, float(d.max()), ref[:3].tolist(), nv2.affine[:3].tolist()))
    # header fields
    if fin == 3:
        exp = {'qform_code': 0, 'sform_code': 2, 'xyzt_units': 0, 'intent_code': 0}
        for k, v in exp.items():
            if int(h2[k]) != v:
                ck.fail('resave', '%s: %s %d, expected %d (Analyze read)' % (opdesc, k, int(h2[k]), v))
        fields = ['cal_min', 'cal_max']
        texts = ['descrip', 'aux_file']
    else:
        if rewritten:
            exp_s = int(h['sform_code']) if int(h['sform_code']) > 0 else 2
            if int(h2['sform_code']) != exp_s or int(h2['qform_code']) != int(h['qform_code']):
                ck.fail('resave', '%s: codes sform %d qform %d, expected %d %d' % (
                    opdesc, int(h2['sform_code']), int(h2['qform_code']), exp_s, int(h['qform_code'])))
        else:
            for k in ('sform_code', 'qform_code', 'quatern_b', 'quatern_c', 'quatern_d', 'qoffset_x',
                      'qoffset_y', 'qoffset_z'):
                if not feq(h2[k], h[k]):
                    ck.fail('resave', '%s: %s %r, read %r' % (opdesc, k, float(h2[k]), float(h[k])))
            for k in ('srow_x', 'srow_y', 'srow_z'):
                if not all(feq(a, b) for a, b in zip(h2[k], h[k])):
                    ck.fail('resave', '%s: %s %s, read %s' % (opdesc, k, list(h2[k]), list(h[k])))
            if not feq(h2['pixdim'][0], h['pixdim'][0]):
                ck.fail('resave', '%s: qfac %r, read %r' % (opdesc, float(h2['pixdim'][0]), float(h['pixdim'][0])))
        fields = ['cal_min', 'cal_max', 'slice_duration', 'toffset', 'intent_p1', 'intent_p2', 'intent_p3']
        for k in ('slice_start', 'slice_end', 'slice_code', 'xyzt_units', 'intent_code', 'dim_info'):
            if int(h2[k]) != int(h[k]):
                ck.fail('resave', '%s: %s %d, read %d' % (opdesc, k, int(h2[k]), int(h[k])))
        texts = ['descrip', 'aux_file', 'intent_name']
        ne = [(int(e.get_code()), e.get_content()) for e in h.extensions]
        ne2 = [(int(e.get_code()), e.get_content()) for e in h2.extensions]
        if ne2 != ne:
            gzhdr = r['_path'].endswith('.hdr.gz') and not ne2
            tail = len(ne2) > len(ne) and ne2[:len(ne)] == ne  # medvol's extra one from a short tail
            ck.fail('ext_hdr_gz' if gzhdr else 'ext_tail' if tail else 'resave', '%s: extensions %s, read %s' % (
                opdesc, [(c, len(b)) for c, b in ne2], [(c, len(b)) for c, b in ne]))
    for k in fields:
        if not feq(h2[k], h[k]):
            ck.fail('resave', '%s: %s %r, read %r' % (opdesc, k, float(h2[k]), float(h[k])))
    for k in texts:  # mv_meta keeps C strings: up to the first NUL
        if h2[k].item() != bytes(h[k]).split(b'\0')[0]:
            ck.fail('resave', '%s: %s %r, read %r' % (opdesc, k, h2[k].item(), bytes(h[k])))
    if not np.all(np.isfinite(ref)):
        return  # a NaN pixdim: the column norms written are NaN too
    zooms, zooms2 = [float(z) for z in h.get_zooms()], [float(z) for z in h2.get_zooms()]
    exp_z = zooms[:exp_nd]
    if rewritten:  # pixdim[1..3] become the column norms of the affine written
        for c in range(min(3, exp_nd)):
            n = float(np.sqrt(np.sum(ref[:3, c] ** 2)))
            if n > 0:
                exp_z[c] = n
    if not all(feq(a, b, 4 * EPS32 if rewritten else 0.0) for a, b in zip(zooms2, exp_z)):
        ck.fail('resave', '%s: zooms %s, expected %s' % (opdesc, zooms2, exp_z))


def read_variants(rng, c, nv, pair):
    """the medvol loads of one file: raw, scaled float64, scaled float32, and one random mix"""
    name = DT[int(nv.hdr['datatype'])][1] if nv.refused is None else DT[c['code']][1]
    kind = NAME2NP[name]
    v = ['-']
    if kind.names is None and name not in LONG:
        v.append('scaled=1,dtype=%s' % ('complex128' if kind.kind == 'c' else 'float64'))
        v.append('scaled=1')
    o = []
    if rng.random() < 0.5 and nv.refused is None:  # a crop box
        shape = list(nv.raw.shape)
        bs, bz = [], []
        for i in range(7):
            d = shape[i] if i < len(shape) else 1
            s = int(rng.integers(0, d))
            bs.append(s)
            bz.append(0 if rng.random() < 0.3 else int(rng.integers(1, d - s + 1)))
        o.append('bs=' + ':'.join(map(str, bs)))
        o.append('bz=' + ':'.join(map(str, bz)))
    if rng.random() < 0.3:
        o.append('squeeze=1')
    if rng.random() < 0.4:
        o.append('mmap=%d' % int(rng.integers(0, 3)))
    srcs = ['file', 'pair'] if pair else ['file', 'mem', 'borrow', 'io', 'ioseek']
    src = pick(rng, srcs)
    if src != 'file':
        o.append('src=' + src)
    r = rng.random()
    if r < 0.3:
        o.append('scaled=1')
    if rng.random() < 0.35:
        tg = pick(rng, ['float32', 'float64', 'int16', 'uint8', 'int64', 'uint64', 'int8', 'uint32',
                        'complex64', 'complex128', 'rgb24', 'rgba32'])
        o.append('dtype=' + tg)
        if rng.random() < 0.5:
            o.append('rounding=1')
    if rng.random() < 0.1:
        o.append('strict=1')
    if rng.random() < 0.05:
        o.append('header_only=1')
    if rng.random() < 0.2:
        o.append('threads=%d' % int(rng.integers(1, 3)))
    if rng.random() < 0.1:
        o.append('verify=1')
    v.append(','.join(o) if o else '-')
    return v


# ---------------------------------------------------------------- the write family

def draw_write(rng):
    """a volume and header set through medvol's API, and how it is saved"""
    w = {}
    names = [DT[k][1] for k in NIFTI_CODES]
    name = pick(rng, names + ['float16', 'bfloat16'], p=None) if rng.random() < 0.05 else pick(rng, names)
    w['dtype'] = name
    shape = rand_shape(rng)
    w['shape'] = shape
    nd = len(shape)
    sp = [float(pick(rng, [1.0, float(rng.uniform(0.3, 4)), 2.0])) for _ in range(7)]
    w['spacing'] = sp
    w['qform_code'] = int(pick(rng, [0, 0, 1, 2, 3, 4, 5]))
    w['sform_code'] = int(pick(rng, [0, 0, 1, 2, 3, 4, 5]))
    w['quatern'] = [0.0, 0.0, 0.0]
    w['qoffset'] = [0.0, 0.0, 0.0]
    w['qfac'] = 1.0
    w['srow'] = [1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0]
    kind = pick(rng, ['changed', 'changed', 'sform', 'qform', 'base'])
    if kind == 'sform':  # the stored sform is the affine: fields kept
        w['sform_code'] = int(pick(rng, [1, 2, 3, 4, 5]))
        M = rand_matrix(rng)
        w['srow'] = [float(x) for x in M.ravel()]
        A = np.vstack([M, [0, 0, 0, 1]])
        if rng.random() < 0.5:  # an unrelated qform beside it
            w['quatern'] = rand_quatern(rng, False)
            w['quatern'] = [x * 0.5 for x in w['quatern']]
            w['qoffset'] = [float(x) for x in rng.uniform(-50, 50, 3)]
            w['qfac'] = float(pick(rng, [1.0, -1.0]))
    elif kind == 'qform':  # sform unused, the qform is the affine
        w['sform_code'] = 0
        w['qform_code'] = int(pick(rng, [1, 2, 3, 4, 5]))
        q = rng.standard_normal(4)
        q /= np.linalg.norm(q)
        if q[0] < 0:
            q = -q
        w['quatern'] = [float(x) for x in q[1:]]
        w['qoffset'] = [float(x) for x in rng.uniform(-100, 100, 3)]
        w['qfac'] = float(pick(rng, [1.0, -1.0]))
        R = nib.quaternions.quat2mat(q)
        A = np.eye(4)
        A[:3, :3] = R @ np.diag([sp[0], sp[1], sp[2] * w['qfac']])
        A[:3, 3] = w['qoffset']
    elif kind == 'base':  # no codes: nibabel's pixdim-only affine
        w['sform_code'] = w['qform_code'] = 0
        A = np.eye(4)
        for c in range(3):
            z = sp[c] if c < nd else 1.0
            dd = shape[c] if c < nd else 1
            A[c, c] = -z if c == 0 else z
            A[c, 3] = -((dd - 1) / 2.0) * A[c, c]
    else:
        A = np.vstack([rand_matrix(rng), [0, 0, 0, 1]])
        if rng.random() < 0.3:  # stale stored fields beside it
            w['srow'] = [float(x) for x in rand_matrix(rng).ravel()]
    if kind == 'changed':  # must differ from what the stored fields give (mv_meta_affine)
        M = meta_affine(w)
        if np.all(np.abs(A - M)[:3] <= 1e-6 * max(1.0, float(np.abs(A[:3, :3]).max()))):
            A[:3, 3] += 1.0
    w['affine_kind'] = kind
    w['affine'] = [float(x) for x in A[:3].ravel()]
    slopes = [(1.0, 0.0), (1.0, 0.0), (0.0, 0.0), (float(rng.uniform(-5, 5)), float(rng.uniform(-100, 100))),
              (float('nan'), 0.0), (2.0, 0.0), (0.5, -1024.0)]
    w['scl_slope'], w['scl_inter'] = pick(rng, slopes)
    w['cal_min'], w['cal_max'] = float(rng.uniform(-10, 0)), float(rng.uniform(0, 1000))
    w['slice_duration'] = float(pick(rng, [0.0, 0.05, float(rng.uniform(0, 2))]))
    w['toffset'] = float(pick(rng, [0.0, -1.5, float(rng.uniform(-10, 10))]))
    w['slice_start'] = int(rng.integers(0, 10))
    w['slice_end'] = int(rng.integers(0, 10))
    w['slice_code'] = int(rng.integers(0, 7))
    w['xyzt_units'] = int(pick(rng, [10, 2, 0, 18, 3, 42]))
    w['intent_code'] = int(pick(rng, [0, 0, 2, 1007, 2003, 3]))
    w['intent_p'] = [float(x) for x in rng.uniform(-5, 5, 3)]
    w['dim_info'] = int(rng.integers(0, 64))
    w['intent_name'] = bytes(rng.integers(32, 127, int(rng.integers(0, 17))).astype(np.uint8))
    w['descrip'] = bytes(rng.integers(32, 127, int(pick(rng, [0, 5, 79, 80]))).astype(np.uint8))
    w['aux_file'] = bytes(rng.integers(32, 127, int(pick(rng, [0, 3, 24]))).astype(np.uint8))
    w['format'] = int(pick(rng, [0, 0, 0, 1, 2])) if kind != 'changed' else int(pick(rng, [0, 0, 0, 1, 2, 3]))
    w['ext'] = [(int(pick(rng, [c for c in EXT_CODES if c != 2])),
                 bytes(rng.integers(0, 256, int(pick(rng, [0, 1, 8, 9, 33]))).astype(np.uint8)))
                for _ in range(int(pick(rng, [0, 0, 1, 2])))]
    # NIfTI-2 by need: float64 values float32 turns into 0 / inf, long slice fields
    r = rng.random()
    w['need2'] = None
    if r < 0.05:
        k = pick(rng, ['scl_inter', 'cal_max', 'toffset', 'slice_duration'])
        w[k] = float(pick(rng, [1e-50, 1e39]))
        w['need2'] = k
    elif r < 0.08:
        w['slice_end'] = 40000
        w['need2'] = 'slice_end'
    w['save_version'] = int(pick(rng, [0, 0, 0, 1, 2]))
    via = pick(rng, ['file', 'file', 'file', 'mem', 'io'])
    w['via'] = via
    if via == 'file':
        w['suffix'] = pick(rng, ['.nii', '.nii.gz', '.hdr', '.hdr.gz', '.img'])
        w['compress'] = 0
    else:
        w['compress'] = int(rng.random() < 0.3)
        w['suffix'] = '.nii.gz' if w['compress'] else '.nii'
    w['gzip_level'] = int(pick(rng, [0, 1, 9, -1]))
    w['single_member'] = int(rng.random() < 0.3)
    w['values'] = rand_values(rng, name, int(np.prod(shape))) if name in NAME2NP else \
        rng.integers(0, 65536, int(np.prod(shape))).astype(np.uint16)
    return w


def meta_affine(w):
    """mv_meta_affine of a new volume's fields: sform, else qform, else pixdim-only"""
    sp, shape = w['spacing'], w['shape']
    A = np.eye(4)
    if w['sform_code'] > 0:
        A[:3] = np.array(w['srow']).reshape(3, 4)
    elif w['qform_code'] > 0:
        b, c, d = w['quatern']
        q = [np.sqrt(max(0.0, 1 - (b * b + c * c + d * d))), b, c, d]
        A[:3, :3] = nib.quaternions.quat2mat(q) @ np.diag([sp[0], sp[1], sp[2] * (-1 if w['qfac'] < 0 else 1)])
        A[:3, 3] = w['qoffset']
    else:
        for c in range(3):
            z = sp[c] if c < len(shape) else 1.0
            dd = shape[c] if c < len(shape) else 1
            A[c, c] = -z if c == 0 else z
            A[c, 3] = -((dd - 1) / 2.0) * A[c, c]
    return A


def fmt_float(x):
    return repr(float(x))


def write_spec(w, d, stem):
    data = os.path.join(d, stem + '.raw')
    w['values'].tofile(data)
    L = ['dtype ' + w['dtype'], 'ndim %d' % len(w['shape']),
         'dim ' + ' '.join(str(x) for x in (w['shape'] + [1] * 7)[:7]),
         'spacing ' + ' '.join(map(fmt_float, w['spacing'])),
         'affine ' + ' '.join(map(fmt_float, w['affine'])),
         'qform_code %d' % w['qform_code'], 'sform_code %d' % w['sform_code'],
         'quatern ' + ' '.join(map(fmt_float, w['quatern'])),
         'qoffset ' + ' '.join(map(fmt_float, w['qoffset'])),
         'qfac ' + fmt_float(w['qfac']), 'srow ' + ' '.join(map(fmt_float, w['srow']))]
    for k in ('scl_slope', 'scl_inter', 'cal_min', 'cal_max', 'slice_duration', 'toffset'):
        L.append('%s %s' % (k, fmt_float(w[k])))
    for k in ('slice_start', 'slice_end', 'slice_code', 'xyzt_units', 'intent_code', 'dim_info', 'format'):
        L.append('%s %d' % (k, w[k]))
    L.append('intent_p ' + ' '.join(map(fmt_float, w['intent_p'])))
    for k in ('intent_name', 'descrip', 'aux_file'):
        L.append('%s %s' % (k, w[k].hex() or '-'))
    for code, content in w['ext']:
        L.append('ext %d %s' % (code, content.hex() or '-'))
    L += ['data ' + data, 'save_version %d' % w['save_version'], 'save_via ' + w['via'],
          'compress %d' % w['compress'], 'gzip_level %d' % w['gzip_level'],
          'single_member %d' % w['single_member']]
    spec = os.path.join(d, stem + '.spec')
    with open(spec, 'w') as f:
        f.write('\n'.join(L) + '\n')
    return spec


def f32(x):
    return float(np.float32(x))


def f32_misfit(w):
    """a float64 field that NIfTI-1's float32 turns into +-inf or 0 (mv_save then
    picks NIfTI-2): the scalar fields, and the stored q/s-form when they are kept"""
    vals = [w[k] for k in ('scl_slope', 'scl_inter', 'cal_min', 'cal_max', 'slice_duration', 'toffset')]
    vals += list(w['intent_p']) + list(w['spacing'][:len(w['shape'])])
    if w['affine_kind'] != 'changed' and w['format'] != 3:
        vals += list(w['quatern']) + list(w['qoffset']) + list(w['srow'])
    for v in vals:
        f = np.float32(v)
        if (np.isfinite(v) and not np.isfinite(f)) or (v != 0 and f == 0):
            return True
    return False


def check_write(ck, w, r, path, desc):
    """nibabel's reading of medvol's file against what was set; returns nibabel's view or None"""
    name = w['dtype']
    if name in ('float16', 'bfloat16'):
        if r.get('status') != 'MV_ERR_UNSUPPORTED':
            ck.fail('write', '%s: %s saved with %s (no NIfTI datatype: MV_ERR_UNSUPPORTED)' % (
                desc, name, r.get('status')))
        return None
    want = w['save_version']
    need2 = w['need2'] is not None or f32_misfit(w)
    if want == 1 and need2:
        if r.get('status') != 'MV_ERR_INVALID_ARG':
            ck.fail('write', '%s: NIfTI-1 asked, %s needs NIfTI-2: %s (medvol.h mv_save: MV_ERR_INVALID_ARG)' % (
                desc, w['need2'], r.get('status')))
        return None
    if r.get('status') != 'MV_OK':
        ck.fail('write', '%s: %s (%s)' % (desc, r.get('status'), r.get('error', '')))
        return None
    if name in LONG:
        return None  # nibabel 5.0 refuses datatypes 1536 / 2048 where longdouble is not binary128
    version = want if want else 2 if (need2 or w['format'] == 2) else 1
    nv = NibView(path)
    if nv.refused:
        ck.fail('write', '%s: nibabel refuses medvol\'s file: %s' % (desc, nv.refused))
        return None
    h = nv.hdr
    single = w['suffix'].startswith('.nii')
    if nib_format(h) != version or h.is_single != single:
        ck.fail('write', '%s: nibabel reads NIfTI-%d (single %s), expected NIfTI-%d (single %s)' % (
            desc, nib_format(h), h.is_single, version, single))
        return nv
    n1 = version == 1
    rnd = f32 if n1 else float
    # shape, dtype, voxels
    if list(nv.raw.shape) != w['shape'] or DT[int(h['datatype'])][1] != name:
        ck.fail('write', '%s: nibabel shape %s dtype %d, set %s %s' % (desc, nv.raw.shape, int(h['datatype']),
                                                                      w['shape'], name))
        return nv
    got = np.ascontiguousarray(nv.raw.ravel(order='F'))
    ref = w['values']
    if got.dtype.names is None:
        got = got.astype(got.dtype.newbyteorder('='))
    if got.tobytes() != ref.tobytes():
        ck.fail('write', '%s: voxels nibabel reads differ from those saved' % desc)
    # header fields
    exp_off = 0 if not single else (352 if n1 else 544) + sum((len(c) + 8 + 15) // 16 * 16 for _, c in w['ext'])
    if int(h['vox_offset']) != exp_off:
        ck.fail('write', '%s: vox_offset %d, expected %d' % (desc, int(h['vox_offset']), exp_off))
    checks = [('scl_slope', rnd(w['scl_slope'])), ('scl_inter', rnd(w['scl_inter'])),
              ('cal_min', rnd(w['cal_min'])), ('cal_max', rnd(w['cal_max'])),
              ('slice_duration', rnd(w['slice_duration'])), ('toffset', rnd(w['toffset'])),
              ('intent_p1', rnd(w['intent_p'][0])), ('intent_p2', rnd(w['intent_p'][1])),
              ('intent_p3', rnd(w['intent_p'][2]))]
    for k, v in checks:
        if not feq(h[k], v):
            ck.fail('write', '%s: nibabel %s %r, set %r' % (desc, k, float(h[k]), v))
    for k in ('slice_start', 'slice_end', 'slice_code', 'xyzt_units', 'intent_code', 'dim_info'):
        if int(h[k]) != w[k]:
            ck.fail('write', '%s: nibabel %s %d, set %d' % (desc, k, int(h[k]), w[k]))
    for k in ('intent_name', 'descrip', 'aux_file'):
        if h[k].item() != w[k]:  # numpy's bytes value: trailing NULs dropped
            ck.fail('write', '%s: nibabel %s %r, set %r' % (desc, k, h[k].item(), w[k]))
    ne = [(int(e.get_code()), e.get_content()) for e in h.extensions]
    if ne != [(c, b.rstrip(b'\0')) for c, b in w['ext']]:
        ck.fail('write', '%s: nibabel extensions %s, set %s' % (desc, [(c, len(b)) for c, b in ne],
                                                               [(c, len(b)) for c, b in w['ext']]))
    # geometry: img.affine is the affine set (stored float32 in NIfTI-1)
    A = np.vstack([np.array(w['affine']).reshape(3, 4), [0, 0, 0, 1]])
    scale = max(1.0, float(np.abs(A[:3, :3]).max()))
    tol = (8 * EPS32 if n1 else 1e-13) * scale
    tol_t = tol + (EPS32 if n1 else 1e-15) * np.abs(A[:3, 3])
    if w['affine_kind'] == 'qform':  # the stored quaternion is the affine: nibabel's qform of those fields
        hq = (nib.Nifti1Header if n1 else nib.Nifti2Header)()
        hq['pixdim'][:4] = [w['qfac'], w['spacing'][0], w['spacing'][1], w['spacing'][2]]
        hq['quatern_b'], hq['quatern_c'], hq['quatern_d'] = w['quatern']
        hq['qoffset_x'], hq['qoffset_y'], hq['qoffset_z'] = w['qoffset']
        A = hq.get_qform()  # float32 fields in NIfTI-1: w = sqrt(1 - |bcd|^2) amplifies their rounding
        tol, tol_t = 1e-12 * scale, 1e-12 * (scale + np.abs(A[:3, 3]))
    diff = np.abs(nv.affine - A)
    if not (np.all(diff[:3, :3] <= tol) and np.all(diff[:3, 3] <= tol_t)):
        ck.fail('write', '%s: nibabel affine differs from the one set (%s) by %.3g\n    set     %s\n'
                '    nibabel %s' % (desc, w['affine_kind'], float(diff.max()), A[:3].tolist(), nv.affine[:3].tolist()))
    # codes: kept when the stored fields give the affine; else sform = affine (code kept
    # or ALIGNED), qform from the affine (code kept) - medvol.h mv__xforms_for_write
    rewritten = w['affine_kind'] == 'changed'  # (format 3, Analyze: always, mv__xforms_for_write)
    exp_s = (w['sform_code'] if w['sform_code'] > 0 else 2) if rewritten else w['sform_code']
    exp_q = w['qform_code']
    if int(h['sform_code']) != exp_s or int(h['qform_code']) != exp_q:
        ck.fail('write', '%s: nibabel codes sform %d qform %d, expected %d %d (%s)' % (
            desc, int(h['sform_code']), int(h['qform_code']), exp_s, exp_q, w['affine_kind']))
    RS = A[:3, :3] / np.maximum(np.sqrt(np.sum(A[:3, :3] ** 2, axis=0)), 1e-300)
    singular = abs(np.linalg.det(RS)) < 1e-6  # the polar factor's null direction is arbitrary
    if rewritten and exp_q > 0 and not singular:  # the qform nibabel's own set_qform makes of the affine
        hq = (nib.Nifti1Header if n1 else nib.Nifti2Header)()
        try:
            hq.set_qform(A, code=1)
            qa, qb = h.get_qform(), hq.get_qform()
        except Exception:  # a zero column: nibabel's set_qform has no answer (SVD of NaN)
            qa = qb = np.eye(4)
        atol = (2e-6 if n1 else 1e-12) * max(1.0, float(np.abs(A[:3, :3]).max()))
        # a quaternion with w near 0 (180 degrees) has two signs that float32
        # storage makes differ (w is recomputed as +sqrt(1 - b^2 - c^2 - d^2)):
        # then medvol's qform must be as close to the affine as nibabel's
        if not np.allclose(qa[:3, :3], qb[:3, :3], rtol=0, atol=atol) and \
                np.abs(qa - A)[:3, :3].max() > np.abs(qb - A)[:3, :3].max() + atol:
            ck.fail('write', '%s: qform of the changed affine differs from nibabel set_qform\'s by %.3g' % (
                desc, float(np.abs(qa - qb).max())))
    zooms = [float(z) for z in h.get_zooms()]
    exp_z = list(w['spacing'][:len(w['shape'])])
    if rewritten:
        for c in range(min(3, len(exp_z))):
            n = float(np.sqrt(np.sum(A[:3, c] ** 2)))
            if n > 0:
                exp_z[c] = n
    if not all(feq(a, rnd(b), 4 * EPS32 if n1 else 1e-14) for a, b in zip(zooms, exp_z)):
        ck.fail('write', '%s: nibabel zooms %s, expected %s' % (desc, zooms, exp_z))
    return nv


# ---------------------------------------------------------------- driving

class Runner:
    def __init__(self, exe, tmp):
        self.exe, self.tmp = exe, tmp

    def batch(self, lines):
        """runs the command lines in one process; a crash reruns them one by one"""
        bf = os.path.join(self.tmp, 'batch.txt')
        with open(bf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        r = subprocess.run([self.exe, 'batch', bf], capture_output=True, text=True)
        crashed = []
        if r.returncode != 0:
            for ln in lines:
                rep = ln.split(' ')[-1]
                if os.path.exists(rep):
                    os.remove(rep)
                rr = subprocess.run([self.exe] + ln.split(' '), capture_output=True, text=True)
                if rr.returncode < 0 or rr.returncode > 2:
                    crashed.append((ln, rr.returncode, rr.stderr[-300:]))
        return crashed


def read_case(c_rng, d, stem):
    """draws (or takes) a file; returns the case record"""
    c = draw_read(c_rng)
    c['rng'] = c_rng
    name = DT[c['code']][1]
    c['values'] = rand_values(c_rng, name, int(np.prod(c['shape'])))
    path, _ = make_files(c, d, stem)
    return c, path


def main():
    args = [a for a in sys.argv[1:]]
    one = None
    if '--case' in args:
        i = args.index('--case')
        one = args[i + 1]
        del args[i:i + 2]
    exe = args[0]
    cases = int(args[1]) if len(args) > 1 else 200
    seed = int(args[2]) if len(args) > 2 else 20261126
    tmp = tempfile.mkdtemp(prefix='diff_nibabel.')
    run = Runner(exe, tmp)
    repro = '/usr/bin/python3 tests/py/diff_nibabel.py %s %d %d --case %%s' % (exe, cases, seed)
    fails = []  # (tag, case, text)
    jobs = []
    if one:
        fam, kk = one.split(':')
        jobs = [(fam, int(kk))]
    else:
        jobs = [('read', k) for k in range(cases)] + [('write', k) for k in range(cases)]
    CHUNK = 64
    counts = {'read': 0, 'write': 0, 'refused_by_nibabel': 0, 'ops': 0, 'resaves': 0}
    for j0 in range(0, len(jobs), CHUNK):
        chunk = jobs[j0:j0 + CHUNK]
        cdir = os.path.join(tmp, 'c%d' % j0)
        os.makedirs(cdir, exist_ok=True)
        recs = []
        lines = []
        # writes first: medvol's files join the reads of this chunk
        wlines = []
        for fam, k in chunk:
            rng = np.random.default_rng([seed, 0 if fam == 'read' else 1, k])
            stem = '%s%d' % (fam[0], k)
            if fam == 'write':
                w = draw_write(rng)
                spec = write_spec(w, cdir, stem)
                path = os.path.join(cdir, stem + w['suffix'])
                rep = os.path.join(cdir, stem + '.wrep')
                wlines.append('write %s %s %s' % (spec, path, rep))
                recs.append(('write', k, rng, w, path, rep))
            else:
                c, path = read_case(rng, cdir, stem)
                recs.append(('read', k, rng, c, path, None))
        crashed = run.batch(wlines) if wlines else []
        for ln, rc, err in crashed:
            fails.append(('crash', '?', 'exit %d: %s\n  %s' % (rc, err, exe + ' ' + ln)))
        # nibabel's view and medvol's loads
        reads = []
        for fam, k, rng, c, path, rep in recs:
            case = '%s:%d' % (fam, k)
            ck = Checker()
            if fam == 'write':
                counts['write'] += 1
                r = parse_report(rep)
                nv = check_write(ck, c, r, path, 'write %s (%s, v%d, %s via %s)' % (
                    case, c['dtype'], c['save_version'], c['suffix'], c['via']))
                for tag, what in ck.fails:
                    fails.append((tag, case, what + '\n  ' + '%s write %s %s' % (exe, path[:-len(c['suffix'])] +
                                                                               '.spec', path)))
                if nv is None:
                    continue
                pair = not c['suffix'].startswith('.nii')
                gz = c['suffix'].endswith('.gz') or c['compress']
                vo = int(nv.hdr['vox_offset'])
                srcpath = path[:-4] + '.hdr' if c['suffix'] == '.img' else path
                reads.append((case, rng, nv, srcpath, pair, gz, vo, {'code': int(nv.hdr['datatype'])}))
            else:
                counts['read'] += 1
                nv = NibView(path)
                pair = c['fmt'] not in ('n1', 'n2')
                hs = 540 if c['fmt'] in ('n2', 'n2p') else 348
                vo = int(c['vox_offset'])
                if not pair and vo < hs + 4:
                    vo = hs + 4  # medvol reads from the header end (LIMITS), with MV_WARN_VOX_OFFSET
                    c['vox_low'] = True
                reads.append((case, rng, nv, path, pair, c['gz'], vo, c))
        for case, rng, nv, path, pair, gz, vo, c in reads:
            vs = read_variants(rng, c, nv, pair)
            ops = []
            for i, opts in enumerate(vs):
                out = os.path.join(cdir, '%s.%d.out' % (case.replace(':', '_'), i))
                rep = out + '.rep'
                lines.append('read %s %s %s %s' % (opts, path, out, rep))
                ops.append((opts, out, rep))
            c['_ops'] = ops
            c['_resave'] = None
            if nv.refused is None and rng.random() < 0.5:  # medvol loads and saves it again
                opts = resave_opts(rng, nv)
                out = os.path.join(cdir, '%s.re%s' % (case.replace(':', '_'), pick(
                    rng, ['.nii', '.nii', '.nii.gz', '.hdr', '.hdr.gz'])))
                rep = out + '.rep'
                lines.append('resave %s %s %s %s' % (opts, path, out, rep))
                c['_resave'] = (opts, out, rep)
        crashed = run.batch(lines) if lines else []
        for ln, rc, err in crashed:
            fails.append(('crash', '?', 'exit %d: %s\n  %s' % (rc, err, exe + ' ' + ln)))
        for case, rng, nv, path, pair, gz, vo, c in reads:
            ck = Checker()
            ops = c['_ops']
            counts['ops'] += len(ops)
            if nv.refused:
                counts['refused_by_nibabel'] += 1
                refusal_rules(ck, case, c, nv, ops, path)
            else:
                base = parse_report(ops[0][2])
                warn_ref = int(base['warnings']) if base.get('status') == 'MV_OK' else None
                for opts, out, rep in ops:
                    r = parse_report(rep)
                    r['_path'] = path
                    check_read(ck, r, out, nv, opts, 'read %s %s' % (case, os.path.basename(path)), path, pair,
                               gz, vo, warn_ref, c.get('vox_low', False))
                if c['_resave'] and not c.get('vox_low'):
                    counts['resaves'] += 1
                    opts, out, rep = c['_resave']
                    r = parse_report(rep)
                    r['_path'] = path
                    check_resave(ck, r, nv, opts, out, 'resave %s %s -> %s' % (
                        case, os.path.basename(path), os.path.basename(out)))
            for tag, what in ck.fails:
                fails.append((tag, case, what))
            if ck.fails:
                for opts, out, rep in ops:
                    fails.append(('_cmd', case, '%s read %s %s %s' % (exe, opts, path, out)))
                if c['_resave']:
                    fails.append(('_cmd', case, '%s resave %s %s %s' % (exe, c['_resave'][0], path,
                                                                      c['_resave'][1])))
    # report
    real = [f for f in fails if f[0] != '_cmd']
    shown = set()
    for tag, case, what in fails:
        if tag == '_cmd':
            if case not in shown:
                shown.add(case)
                print('  reproduce: %s   (files kept in %s)' % (repro % case, tmp))
            print('    ' + what)
            continue
        print('FAIL %s %s: %s' % (tag, case, what))
    tags = {}
    for tag, _, _ in real:
        tags[tag] = tags.get(tag, 0) + 1
    print('diff_nibabel: %d read cases, %d write cases, %d medvol loads, %d resaves, %d files nibabel '
          'refuses; %d failures %s (seed %d)' % (counts['read'], counts['write'], counts['ops'], counts['resaves'],
                                                 counts['refused_by_nibabel'], len(real),
                                        ' '.join('%s=%d' % kv for kv in sorted(tags.items())), seed))
    print('diff_nibabel: %d orientations compared with aff2axcodes, %d different at a near-tie (skipped)' % (
        STATS['orient_compared'], STATS['orient_ambiguous']))
    print('diff_nibabel: documented differences left out: %d Analyze unused-dim affines, %d long-double scalings, '
          '%d exact int64 loads, %d quaternions within 8 ulp of nibabel\'s threshold' % (
              STATS['analyze_unused_dims_skipped'], STATS['longdouble_skipped'], STATS['int64_exact_skipped'],
              STATS['quatern_near_tie']))
    if not real and not one:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if real else 0


def refusal_rules(ck, case, c, nv, ops, path):
    """nibabel refused the file: medvol must refuse it too, except where medvol.h
    documents a leniency (LIMITS & UNTRUSTED INPUT: the lenient fixes, each
    with a warning bit; strict refuses them)"""
    r = parse_report(ops[0][2])
    why = nv.refused
    if r.get('status') != 'MV_OK':
        return  # both refuse
    if 'data code 1536 not supported' in why or 'data code 2048 not supported' in why:
        # medvol.h API TOUR: float128 is IEEE binary128, converted in software;
        # nibabel 5.0 reads it only where numpy's longdouble is binary128
        # (nifti1.py: have_binary128(), else np.void -> "not supported")
        return
    w = int(r['warnings'])
    if c.get('vox_low') and w & 1:
        # LIMITS: "vox_offset below the header of a .nii -> the header end"
        # (MV_WARN_VOX_OFFSET). nibabel refuses 1..351 ("too low for single
        # file") and for 0 reads extensions to the end of the file
        return
    if ('failed to read extension' in why or 'read length must be non-negative' in why) and w & 64:
        # MV_WARN_EXTENSION: "a chain cut short by a bad entry (kept up to it)".
        # nibabel refuses an extension whose esize runs past the end of the file,
        # and one that runs past vox_offset sends its loop (size < 0 = "to the
        # end of the file") into the voxels: read(esize - 8 < 0) raises
        return
    if 'w2 should be positive' in why and w & 256:
        # LIMITS: a qform quaternion past the unit ball beyond 3 eps, where the
        # qform gives the affine, is normalised as nifticlib does, with
        # MV_WARN_QUATERN (strict refuses it)
        return
    if 'w2 should be positive' in why:
        try:  # "w2 should be positive, but is -7.06e-16": a near-tie at the threshold?
            w2 = float(why.split('but is ')[1].split()[0].rstrip(':,'))
        except (IndexError, ValueError):
            w2 = None
        with (gzip.open if path.endswith('.gz') else open)(path, 'rb') as f:
            head = f.read(4)
        n2 = 540 in (struct.unpack('<i', head)[0], struct.unpack('>i', head)[0])
        thr = -3 * np.finfo(np.float64 if n2 else np.float32).eps
        if w2 is not None and abs(w2 - thr) <= 8 * np.finfo(np.float64).eps:
            # nibabel sums b^2 + c^2 + d^2 with np.dot (BLAS: another rounding
            # order), medvol in C order: within a few ulp of the threshold
            # either side may call it; counted, not compared
            STATS['quatern_near_tie'] += 1
            return
        ck.fail('quatern_past_unit', 'read %s %s: nibabel refuses (%s: quatern_b^2+c^2+d^2 past 1 + 3 eps); '
                'medvol loads it with no warning (status %s, warnings %d)' % (
                    case, os.path.basename(path), why, r.get('status'), w))
        return
    if 'Valid slope but invalid intercept' in why and r.get('dtype') in ('rgb24', 'rgba32'):
        return  # medvol never scales RGB (mv__load_want), so there is nothing to refuse
    if 'Valid slope but invalid intercept' in why:
        # nibabel refuses the whole file; medvol reads the stored values and
        # refuses only the scaling (mv__scaling: MV_ERR_BAD_HEADER for a scaled load)
        for opts, out, rep in ops:
            rr = parse_report(rep)
            if 'scaled=1' in opts and rr.get('status') == 'MV_OK':
                ck.fail('refusal', 'read %s [%s]: a valid slope with intercept %s scaled without error' % (
                    case, opts, r['scl_inter']))
        return
    ck.fail('refusal', 'read %s %s: nibabel refuses (%s); medvol loads it (status %s, warnings %d)' % (
        case, os.path.basename(path), why, r.get('status'), w))


if __name__ == '__main__':
    sys.exit(main())
