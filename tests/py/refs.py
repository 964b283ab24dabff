#!/usr/bin/python3
"""Reference data for medvol's C tests, computed with numpy and nibabel.

Run by the test runner as: /usr/bin/python3 tests/py/refs.py OUTDIR
(Debian's python3 with python3-numpy and python3-nibabel). Everything is
deterministic: fixed seeds, fixed lists. Arrays are raw little-endian files,
metadata is JSON. The C side never computes these figures itself.
"""
import json
import math
import os
import sys
import zlib
from fractions import Fraction

import numpy as np
import nibabel as nib
import ref_ops
import ref_resample

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
RNG = np.random.default_rng(20261121)

INTS = {'u8': np.uint8, 'i8': np.int8, 'u16': np.uint16, 'i16': np.int16,
        'u32': np.uint32, 'i32': np.int32, 'u64': np.uint64, 'i64': np.int64}
FLOATS = {'f16': np.float16, 'f32': np.float32, 'f64': np.float64}
TYPES = dict(INTS, **FLOATS)


def save(name, arr):
    np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tofile(os.path.join(OUT, name))


def dump_json(name, obj):
    with open(os.path.join(OUT, name), 'w') as f:
        json.dump(obj, f, indent=1)


# ---------------------------------------------------------------- conversion
def int_range(t):
    i = np.iinfo(TYPES[t])
    return int(i.min), int(i.max)


def inputs(t):
    """edge values plus random ones for dtype t"""
    dt = TYPES[t]
    if t in INTS:
        lo, hi = int_range(t)
        edge = [lo, lo + 1, -1, 0, 1, 2, 127, 128, 255, 256, 32767, 32768, 65535, 65536,
                2**31 - 1, 2**31, 2**32 - 1, 2**53 + 1, 2**63 - 1, hi - 1, hi]
        edge = [v for v in edge if lo <= v <= hi]
        rnd = RNG.integers(lo, hi, size=200, dtype=dt, endpoint=True)
        return np.concatenate([np.array(edge, dtype=dt), rnd])
    edge = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 1.0, -1.0, 126.5, 127.5, 128.5,
            -128.5, -129.0, 254.5, 255.5, 256.0, 32766.5, 32767.5, 32768.0, -32768.5, -32769.0,
            65534.5, 65535.5, 65536.0, 2147483520.0, 2147483648.0, -2147483648.0, -2147483904.0,
            4294967040.0, 4294967296.0, 9.2233720368547758e18, -9.2233720368547758e18, 1.8446744073709552e19,
            1e30, -1e30, 65504.0, 65520.0, 6.1e-5, 5.96e-8, 2.98e-8, 1e-40, -1e-40,
            float('nan'), float('inf'), float('-inf'), 3.4028235e38, -3.4028235e38, 1e300]
    a = np.array(edge, dtype=np.float64)
    rnd = RNG.normal(0, 1, 150) * 10.0 ** RNG.integers(-8, 12, 150)
    a = np.concatenate([a, rnd, RNG.uniform(-300, 70000, 100)])
    with np.errstate(over='ignore', invalid='ignore'):
        return a.astype(dt)


def to_float(x, t):
    """exact float64/int -> float dtype t (numpy rounds half to even)"""
    with np.errstate(over='ignore', invalid='ignore'):
        return np.array(x).astype(TYPES[t])


def ref_convert(x, s, d, mode, scaled=False, slope=0.75, inter=-3.25):
    """medvol's definition: integers saturate; floats -> int: NaN->0, rint
    (half even) or trunc, then saturate; scaling in float64 first."""
    if scaled:
        vals = x.astype(np.float64) * slope + inter
        s = 'f64'
    else:
        vals = x
    if d in FLOATS:
        # integers: numpy's C casts round once from the exact integer; floats
        # go through float64, which holds every float16/float32 exactly
        with np.errstate(over='ignore', invalid='ignore'):
            return vals.astype(TYPES[d]) if s in INTS else vals.astype(np.float64).astype(TYPES[d])
    lo, hi = int_range(d)
    out = []
    for v in vals.tolist():
        if s in FLOATS or isinstance(v, float):
            v = float(v)
            if math.isnan(v):
                iv = 0
            elif math.isinf(v):
                iv = hi if v > 0 else lo
            else:
                iv = int(math.trunc(v)) if mode == 'trunc' else round(v)  # round(): half to even
        else:
            iv = int(v)
        out.append(min(max(iv, lo), hi))
    return np.array(out, dtype=TYPES[d])


def make_conversions():
    for s in TYPES:
        x = INPUTS[s]
        save('cvt_in_%s.bin' % s, x)
        for d in TYPES:
            for mode in ('near', 'trunc'):
                save('cvt_%s_%s_%s.bin' % (s, d, mode), ref_convert(x, s, d, mode))
            save('cvt_%s_%s_scaled.bin' % (s, d), ref_convert(x, s, d, 'near', scaled=True))
    dump_json('cvt.json', {'types': list(TYPES), 'slope': 0.75, 'inter': -3.25})


# ---------------------------------------------------------------- f16 / bf16
def bf16_bits(v):
    """round a float64 to bfloat16 (8-bit exponent, 7-bit mantissa), exact
    rational arithmetic, half to even; NaN -> quiet NaN keeping the sign"""
    if math.isnan(v):
        return 0x7fc0 | (0x8000 if math.copysign(1, v) < 0 else 0)
    sign = 0x8000 if math.copysign(1, v) < 0 else 0
    a = abs(v)
    if math.isinf(a):
        return sign | 0x7f80
    if a == 0:
        return sign
    f = Fraction(a)
    # candidates: exponent e with 2^e <= f < 2^(e+1), mantissa step 2^(e-7); subnormal step 2^-133
    e = f.numerator.bit_length() - f.denominator.bit_length()
    if Fraction(2) ** e > f:
        e -= 1
    e = max(e, -126)
    step = Fraction(2) ** (e - 7)
    q, r = divmod(f, step)
    q = int(q)
    if r * 2 > step or (r * 2 == step and q % 2 == 1):
        q += 1
    val = q * step
    if val >= Fraction(2) ** 128:
        return sign | 0x7f80
    # encode val
    if val < Fraction(2) ** -126:
        return sign | int(val / Fraction(2) ** -133)
    e2 = val.numerator.bit_length() - val.denominator.bit_length()
    if Fraction(2) ** e2 > val:
        e2 -= 1
    mant = int(val / Fraction(2) ** (e2 - 7)) - 128
    return sign | ((e2 + 127) << 7) | mant


def make_halfs():
    bits = np.arange(65536, dtype=np.uint16)
    save('f16_all.bin', bits.view(np.float16).astype(np.float64))
    with np.errstate(invalid='ignore'):
        bf = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    save('bf16_all.bin', bf)
    vals = np.concatenate([INPUTS['f64'].astype(np.float64),
                           RNG.normal(0, 1, 500) * 10.0 ** RNG.integers(-45, 39, 500),
                           (np.arange(0, 2000, dtype=np.uint32) << 15 | 0x3f000000).view(np.float32).astype(np.float64)])
    save('half_in.bin', vals)
    with np.errstate(over='ignore', invalid='ignore'):
        save('half_f16.bin', vals.astype(np.float16).view(np.uint16))
    save('half_bf16.bin', np.array([bf16_bits(float(v)) for v in vals], dtype=np.uint16))


# ---------------------------------------------------------------- statistics
def make_stats():
    cases = {}
    for t in ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'i64', 'u64', 'f32', 'f64', 'f16']:
        for n in (1, 7, 4095, 4096, 4097, 100003):
            if t in INTS:
                lo, hi = int_range(t)
                lo, hi = max(lo, -2**40), min(hi, 2**40)
                x = RNG.integers(lo, hi, n).astype(TYPES[t])
            else:
                x = (RNG.normal(1000, 300, n)).astype(TYPES[t])
                if n > 10:
                    x[3] = np.nan
                    x[n // 2] = np.inf
                    x[-1] = -np.inf
                    x[5] = np.nan
            name = 'stats_%s_%d.bin' % (t, n)
            save(name, x)
            f = x.astype(np.float64)
            fin = f[np.isfinite(f)]
            mean = math.fsum(fin) / len(fin)
            cases[name] = {'dtype': t, 'n': n, 'count': int(len(fin)),
                           'nan': int(np.isnan(f).sum()), 'inf': int(np.isinf(f).sum()),
                           'sum': math.fsum(fin), 'mean': mean,
                           'std': math.sqrt(math.fsum((fin - mean) ** 2) / len(fin)),
                           'min': float(fin.min()), 'max': float(fin.max())}
    dump_json('stats.json', cases)


# ---------------------------------------------------------------- orientation
def make_affines():
    from nibabel.orientations import io_orientation, aff2axcodes
    affs = []
    perms = [(0, 1, 2), (1, 0, 2), (2, 1, 0), (0, 2, 1), (1, 2, 0), (2, 0, 1)]
    for i in range(200):
        P = np.zeros((3, 3))
        for c, r in enumerate(perms[i % 6]):
            P[r, c] = RNG.choice([-1, 1]) * RNG.uniform(0.3, 4)
        if i % 3 == 1:   # oblique: rotate by up to 40 degrees
            ang = RNG.uniform(-0.7, 0.7, 3)
            cx, sx, cy, sy, cz, sz = np.cos(ang[0]), np.sin(ang[0]), np.cos(ang[1]), np.sin(ang[1]), np.cos(ang[2]), np.sin(ang[2])
            R = (np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
                 @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]))
            P = R @ P
        if i % 7 == 3:   # shear
            P[0, 1] += RNG.uniform(-0.3, 0.3)
        if i % 17 == 5:  # a zero column
            P[:, RNG.integers(0, 3)] = 0
        A = np.eye(4)
        A[:3, :3] = P
        A[:3, 3] = RNG.uniform(-100, 100, 3)
        ornt = io_orientation(A)
        codes = ''.join(c if c is not None else '?' for c in aff2axcodes(A))
        entry = {'affine': A.tolist(), 'codes': codes,
                 'axis': [-1 if np.isnan(o[0]) else int(o[0]) for o in ornt],
                 'sign': [0 if np.isnan(o[1]) else int(o[1]) for o in ornt]}
        # nibabel set_qform on this affine (skip rank-deficient ones)
        if abs(np.linalg.det(P)) > 1e-6:
            h = nib.Nifti1Header()
            h.set_qform(A, code=1)
            entry['qform'] = {'quatern': [float(h['quatern_b']), float(h['quatern_c']), float(h['quatern_d'])],
                              'qoffset': [float(h['qoffset_x']), float(h['qoffset_y']), float(h['qoffset_z'])],
                              'pixdim': [float(v) for v in h['pixdim'][:4]],
                              'get_qform': h.get_qform().tolist()}
        affs.append(entry)
    dump_json('affines.json', affs)


# ---------------------------------------------------------------- nibabel files
def make_nibabel_files():
    d = os.path.join(OUT, 'nib')
    os.makedirs(d, exist_ok=True)
    files = []
    shapes = [(5,), (4, 3), (5, 4, 3), (3, 4, 2, 3), (2, 3, 2, 2, 3), (2, 2, 1, 2, 2, 2), (2, 1, 2, 2, 1, 2, 2)]
    dts = ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8', 'c8', 'c16']
    k = 0
    for fmt in ('nii1', 'nii2', 'pair1', 'pair2'):
        for endian in ('<', '>'):
            for j, dt in enumerate(dts):
                shape = shapes[(j + k) % len(shapes)]
                k += 1
                n = int(np.prod(shape))
                if dt.startswith('c'):
                    data = (RNG.normal(0, 100, n) + 1j * RNG.normal(0, 100, n)).astype(dt)
                elif dt.startswith('f'):
                    data = RNG.normal(0, 100, n).astype(dt)
                else:
                    info = np.iinfo(dt)
                    data = RNG.integers(info.min, info.max, n, dtype=dt, endpoint=True)
                data = data.reshape(shape, order='F')
                aff = np.eye(4)
                ang = 0.3 + 0.1 * j
                aff[:3, :3] = np.array([[np.cos(ang), -np.sin(ang), 0], [np.sin(ang), np.cos(ang), 0], [0, 0, 1]]) @ np.diag([1.5, 2.0, 2.5])
                aff[:3, 3] = [-10.5, 20.25, 3.0]
                cls = {'nii1': nib.Nifti1Image, 'nii2': nib.Nifti2Image,
                       'pair1': nib.Nifti1Pair, 'pair2': nib.Nifti2Pair}[fmt]
                hdr_cls = {'nii1': nib.nifti1.Nifti1Header, 'nii2': nib.nifti2.Nifti2Header,
                           'pair1': nib.nifti1.Nifti1PairHeader, 'pair2': nib.nifti2.Nifti2PairHeader}[fmt]
                hdr = hdr_cls(endianness=endian)
                img = cls(data, aff, header=hdr)
                img.header.set_data_dtype(dt)
                img.header.set_qform(aff, code=1)
                img.header.set_sform(aff, code=2)
                img.header['descrip'] = b'medvol ref %d' % k
                img.header.set_xyzt_units('mm', 'sec')
                img.header['intent_code'] = 1002
                img.header['cal_min'] = -1.5
                img.header['cal_max'] = 99.5
                if j % 3 == 0:
                    img.header.extensions.append(nib.nifti1.Nifti1Extension(6, b'comment %d' % k))
                    img.header.extensions.append(nib.nifti1.Nifti1Extension(40, bytes(range(k % 50 + 3))))
                name = '%s_%s_%s_%dd' % (fmt, 'le' if endian == '<' else 'be', dt, len(shape))
                path = os.path.join(d, name + ('.nii' if fmt.startswith('nii') else '.img'))
                img.to_filename(path)
                loaded = nib.load(path)
                raw = np.asarray(loaded.dataobj.get_unscaled() if hasattr(loaded.dataobj, 'get_unscaled') else loaded.dataobj)
                rawfile = name + '.raw'
                raw.astype(raw.dtype.newbyteorder('<')).ravel(order='F').tofile(os.path.join(d, rawfile))
                h = loaded.header
                files.append({'file': os.path.relpath(path, OUT), 'raw': os.path.join('nib', rawfile),
                              'dtype': raw.dtype.newbyteorder('=').name, 'shape': list(loaded.shape),
                              'big_endian': endian == '>', 'version': 2 if fmt.endswith('2') else 1,
                              'affine': loaded.affine.tolist(),
                              'qform_code': int(h['qform_code']), 'sform_code': int(h['sform_code']),
                              'descrip': h['descrip'].item().decode(), 'intent_code': int(h['intent_code']),
                              'cal_min': float(h['cal_min']), 'cal_max': float(h['cal_max']),
                              'xyzt_units': int(h['xyzt_units']),
                              'extensions': [[int(e.get_code()), e.get_content().hex()] for e in h.extensions]})
    # an int16 file with scaling: expected scaled float32 values
    data = RNG.integers(-32768, 32767, (6, 5, 4), dtype=np.int16, endpoint=True)
    img = nib.Nifti1Image(data, np.diag([2, 2, 2, 1]))
    img.header.set_data_dtype(np.int16)
    img.header.set_slope_inter(0.07540696859359741, 3100.76171875)
    path = os.path.join(d, 'scaled.nii')
    img.to_filename(path)
    # nibabel may choose its own scaling when saving; record what it stored
    loaded = nib.load(path)
    fd = loaded.get_fdata()
    fd.astype('<f8').ravel(order='F').tofile(os.path.join(d, 'scaled_f64.raw'))
    fd.astype(np.float32).astype('<f4').ravel(order='F').tofile(os.path.join(d, 'scaled_f32.raw'))
    dump_json('nib.json', {'files': files, 'scaled': {'file': 'nib/scaled.nii', 'f64': 'nib/scaled_f64.raw',
                                                       'f32': 'nib/scaled_f32.raw', 'shape': [6, 5, 4]}})


# ---------------------------------------------------------------- phantom
def make_phantom():
    """Toft's modified 3D Shepp-Logan (the phantom3d table), written here
    independently of medvol: linspace(-1, 1) grid, Euler ZXZ rotation of the
    coordinates, intensities summed in tenths."""
    e = [[1, .6900, .920, .810, 0, 0, 0, 0, 0, 0], [-.8, .6624, .874, .780, 0, -.0184, 0, 0, 0, 0],
         [-.2, .1100, .310, .220, .22, 0, 0, -18, 0, 10], [-.2, .1600, .410, .280, -.22, 0, 0, 18, 0, 10],
         [.1, .2100, .250, .410, 0, .35, -.15, 0, 0, 0], [.1, .0460, .046, .050, 0, .1, .25, 0, 0, 0],
         [.1, .0460, .046, .050, 0, -.1, .25, 0, 0, 0], [.1, .0460, .023, .050, -.08, -.605, 0, 0, 0, 0],
         [.1, .0230, .023, .020, 0, -.606, 0, 0, 0, 0], [.1, .0230, .046, .020, .06, -.605, 0, 0, 0, 0]]
    n = (33, 29, 31)
    z, y, x = np.meshgrid(np.linspace(-1, 1, n[2]), np.linspace(-1, 1, n[1]), np.linspace(-1, 1, n[0]), indexing='ij')
    tenths = np.zeros(x.shape, dtype=np.int64)
    for A, a, b, c, x0, y0, z0, phi, theta, psi in e:
        phi, theta, psi = np.radians([phi, theta, psi])
        cph, sph, cth, sth, cps, sps = np.cos(phi), np.sin(phi), np.cos(theta), np.sin(theta), np.cos(psi), np.sin(psi)
        R = np.array([[cps * cph - cth * sph * sps, cps * sph + cth * cph * sps, sps * sth],
                      [-sps * cph - cth * sph * cps, -sps * sph + cth * cph * cps, cps * sth],
                      [sth * sph, -sth * cph, cth]])
        u0 = R[0, 0] * x + R[0, 1] * y + R[0, 2] * z - x0
        u1 = R[1, 0] * x + R[1, 1] * y + R[1, 2] * z - y0
        u2 = R[2, 0] * x + R[2, 1] * y + R[2, 2] * z - z0
        inside = u0 * u0 / (a * a) + u1 * u1 / (b * b) + u2 * u2 / (c * c) <= 1.0
        tenths[inside] += int(round(A * 10))
    save('shepp_33x29x31.bin', (tenths / 10.0).astype(np.float32))   # z-major = x fastest


# ---------------------------------------------------------------- gzip
def gzip_header(flags=0, extra=b'', name=b'', comment=b'', hcrc=False):
    """a member header with the optional fields, built by hand"""
    import struct
    flg = (4 if extra else 0) | (8 if name else 0) | (16 if comment else 0) | (2 if hcrc else 0) | flags
    h = bytes([0x1f, 0x8b, 8, flg]) + struct.pack('<I', 1700000000) + bytes([0, 3])
    if extra:
        h += struct.pack('<H', len(extra)) + extra
    if name:
        h += name + b'\0'
    if comment:
        h += comment + b'\0'
    if hcrc:
        h += struct.pack('<H', zlib.crc32(h) & 0xffff)
    return h


def member(data, level=6, wbits=15, strategy=zlib.Z_DEFAULT_STRATEGY, **hdr):
    import struct
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits, 9, strategy)
    body = c.compress(data) + c.flush()
    return gzip_header(**hdr) + body + struct.pack('<II', zlib.crc32(data), len(data) & 0xffffffff)


def make_gzip():
    import subprocess, shutil
    d = os.path.join(OUT, 'gz')
    os.makedirs(d, exist_ok=True)
    rnd = np.random.default_rng(7)
    phantom = (1000 + 50 * rnd.standard_normal(600000)).astype('<i2').tobytes()
    text = b' '.join(b'voxel%d spacing %.3f' % (i % 997, i * 0.001) for i in range(20000))
    datas = {'empty': b'', 'one': b'x', 'random': rnd.integers(0, 256, 200000, dtype=np.uint8).tobytes(),
             'zeros': bytes(1 << 20), 'text': text, 'phantom': phantom,
             'runs': b''.join(bytes([i % 7]) * (i % 300 + 1) for i in range(3000))}
    cases = []

    def add(name, blob, data):
        open(os.path.join(d, name + '.gz'), 'wb').write(blob)
        open(os.path.join(d, name + '.raw'), 'wb').write(data)
        cases.append(name)

    for dn, data in datas.items():
        for level in (0, 1, 6, 9):
            add('%s_l%d' % (dn, level), member(data, level), data)
        add(dn + '_fixed', member(data, 6, strategy=zlib.Z_FIXED), data)
        add(dn + '_huff', member(data, 6, strategy=zlib.Z_HUFFMAN_ONLY), data)
        add(dn + '_rle', member(data, 6, strategy=zlib.Z_RLE), data)
        add(dn + '_w9', member(data, 6, wbits=9), data)
    t = datas['text']
    add('hdr_all', member(t, 6, extra=b'AB\x03\x00xyzMV\x02\x00qq', name=b'brain.nii', comment=b'a comment',
                          hcrc=True), t)
    add('hdr_text_flag', member(t, 1, flags=1), t)
    add('two_members', member(t[:5000], 9) + member(t[5000:], 1, name=b'second'), t)
    add('many_members', b''.join(member(t[i:i + 3000], 1 + i % 9) for i in range(0, len(t), 3000)), t)
    add('zero_padded', member(t, 6) + bytes(1000), t)
    add('empty_member_first', member(b'', 6) + member(t, 6), t)
    # the gzip and pigz tools
    src = os.path.join(d, 'tool_input')
    open(src, 'wb').write(datas['phantom'] + datas['text'])
    for tool, args in (('gzip', ['-1']), ('gzip', ['-9']), ('pigz', ['-6']), ('pigz', ['-11'] if False else ['-9', '-b', '128'])):
        if shutil.which(tool):
            blob = subprocess.run([tool, '-c'] + args + [src], capture_output=True, check=True).stdout
            add('%s%s' % (tool, ''.join(a.strip('-') for a in args)), blob, datas['phantom'] + datas['text'])
    dump_json('gz.json', {'cases': cases})


INPUTS = {t: inputs(t) for t in TYPES}

if __name__ == '__main__':
    make_conversions()
    make_halfs()
    make_stats()
    make_affines()
    make_nibabel_files()
    make_phantom()
    make_gzip()
    ref_ops.make(OUT)
    ref_resample.make(OUT)
    print('ok')
