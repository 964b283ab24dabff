"""Reference results of medvol's intensity, spatial and chained operations,
computed with numpy and nibabel (Debian's /usr/bin/python3).

make(out) writes, under out/ops/, raw little-endian arrays in NIfTI order
(x fastest: numpy arrays indexed [i, j, k] saved in Fortran order) and
ops.json, a list of cases: the input, the call and its arguments, and the
expected array and affine. Each reference is written the way a numpy user
would write the operation (MONAI / TorchIO / nibabel conventions), never by
porting medvol's code. Affines of spatial operations are found by moving an
index grid through the same numpy operation and reading off where voxels
came from, so they check medvol's affine bookkeeping independently.
"""
import json
import os

import numpy as np
import nibabel as nib
from nibabel.orientations import axcodes2ornt, io_orientation, ornt_transform

RNG = np.random.default_rng(4242)
OUT = None
CASES = []


def save(name, arr):
    arr = np.asarray(arr)
    arr.astype(arr.dtype.newbyteorder('<')).ravel(order='F').tofile(os.path.join(OUT, name))
    return name


def dtname(a):
    return {np.dtype(np.float32): 'float32', np.dtype(np.float64): 'float64', np.dtype(np.int16): 'int16',
            np.dtype(np.uint8): 'uint8', np.dtype(np.int32): 'int32', np.dtype(np.uint16): 'uint16',
            np.dtype(np.int8): 'int8'}[np.asarray(a).dtype]


INPUTS = {}


def add_input(name, arr, affine=None, slope=0.0, inter=0.0):
    if affine is None:
        affine = np.diag([1.5, 0.8, 2.0, 1.0])
        affine[:3, 3] = [-10.25, 4.5, 7.0]
    INPUTS[name] = dict(file=save('in_%s.bin' % name, arr), dtype=dtname(arr), dims=list(arr.shape),
                        affine=np.asarray(affine, float).tolist(), slope=slope, inter=inter)
    return arr


def case(name, inp, call, args, expect, tol='exact', exp_affine=None, mask=None):
    c = dict(name=name, input=INPUTS[inp], call=call, args=args, tol=tol)
    if mask is not None:
        c['mask'] = dict(file=save('mask_%s.bin' % name, mask.astype(np.uint8)), dims=list(mask.shape))
    if isinstance(expect, dict):
        c['expect'] = expect
    else:
        expect = np.asarray(expect)
        c['expect'] = dict(file=save('out_%s.bin' % name, expect), dtype=dtname(expect), dims=list(expect.shape))
    if exp_affine is not None:
        c['expect']['affine'] = np.asarray(exp_affine, float).tolist()
    CASES.append(c)


def smooth(shape, scale=1000.0):
    """smooth blobs plus noise: realistic intensities, no ties by accident"""
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape[:3]], indexing='ij')
    r2 = sum(g * g for g in grids)
    base = scale * np.exp(-2.0 * r2) + 0.05 * scale * RNG.standard_normal(shape[:3])
    if len(shape) > 3:
        base = np.stack([base * (1 + 0.1 * t) + 3 * t for t in range(shape[3])], axis=3)
    return base


def f32_of_stored(raw, slope, inter):
    """the float32 values medvol works on: float32(raw * slope + inter)"""
    v = raw.astype(np.float64)
    if slope not in (0.0,) and np.isfinite(slope):
        v = v * slope + inter
    return v.astype(np.float32)


# ------------------------------------------------------------------ intensity
def znorm_ref(x32, sel=None, apply_sel=False):
    x = x32.astype(np.float64)
    fin = np.isfinite(x) if sel is None else (np.isfinite(x) & sel)
    v = x[fin]
    m = v.mean() if v.size else 0.0
    s = v.std() if v.size else 0.0
    out = (x - m) / s if s > 0 else np.where(np.isfinite(x), 0.0, x - x)
    if apply_sel:
        out = np.where(sel, out, x)
    return out.astype(np.float32)


def rescale_ref(x32, lo, hi, pct=None, clip=False, sel=None):
    x = x32.astype(np.float64)
    pick = np.isfinite(x) if sel is None else (np.isfinite(x) & sel)
    if pct is None:
        mn, mx = x[pick].min(), x[pick].max()
    else:
        vals = x32[(~np.isnan(x32)) & (sel if sel is not None else True)]
        mn, mx = np.percentile(vals, pct)       # numpy on the float32 values, as TorchIO
    out = (x - mn) / (mx - mn) * (hi - lo) + lo if mx > mn else np.full_like(x, lo)
    if clip:
        out = np.clip(out, lo, hi)
    if sel is not None:
        out = np.where(sel, out, x)
    return out.astype(np.float32)


def make_intensity():
    shp = (13, 11, 7)
    x = add_input('f32', smooth(shp).astype(np.float32))
    case('znorm_f32', 'f32', 'znorm', {}, znorm_ref(x), tol='ulp')
    # background zeros: nonzero-only (MONAI) and a mask (TorchIO)
    xb = x.copy()
    xb[:3] = 0
    xb[:, -2:] = 0
    add_input('f32_bg', xb)
    case('znorm_nonzero', 'f32_bg', 'znorm', {'nonzero': 1}, znorm_ref(xb, xb != 0, apply_sel=True), tol='ulp')
    mask = np.zeros(shp, bool)
    mask[2:9, 3:10, 1:6] = True
    case('znorm_mask', 'f32', 'znorm', {}, znorm_ref(x, mask), tol='ulp', mask=mask)
    # NaN and Inf stay; the statistics skip them
    xn = x.copy()
    xn[1, 2, 3] = np.nan
    xn[4, 5, 6] = np.inf
    xn[0, 0, 0] = -np.inf
    add_input('f32_nan', xn)
    case('znorm_nan', 'f32_nan', 'znorm', {}, znorm_ref(xn), tol='ulp')
    add_input('const', np.full(shp, 3.25, np.float32))
    case('znorm_const', 'const', 'znorm', {}, np.zeros(shp, np.float32))
    case('rescale_const', 'const', 'rescale', {'lo': -2, 'hi': 5}, np.full(shp, -2, np.float32))
    # int16 with NIfTI scaling: values are float32(raw * slope + inter)
    raw = np.round(smooth(shp, 3000)).astype(np.int16)
    add_input('i16s', raw, slope=0.5, inter=-100.0)
    v = f32_of_stored(raw, 0.5, -100.0)
    case('znorm_i16_scaled', 'i16s', 'znorm', {}, znorm_ref(v), tol='ulp')
    case('rescale_i16_scaled', 'i16s', 'rescale', {'lo': 0, 'hi': 1}, rescale_ref(v, 0, 1), tol='ulp')
    case('rescale_f32', 'f32', 'rescale', {'lo': -1, 'hi': 1}, rescale_ref(x, -1, 1), tol='ulp')
    case('rescale_default', 'f32', 'rescale', {'lo': 0, 'hi': 0}, rescale_ref(x, 0, 1), tol='ulp')
    case('rescale_pct', 'f32', 'rescale', {'lo': 0, 'hi': 1, 'pct_lo': 0.5, 'pct_hi': 99.5},
         rescale_ref(x, 0, 1, pct=[0.5, 99.5]), tol='ulp')
    case('rescale_pct_clip', 'f32', 'rescale', {'lo': 0, 'hi': 1, 'pct_lo': 2, 'pct_hi': 95, 'clip': 1},
         rescale_ref(x, 0, 1, pct=[2, 95], clip=True), tol='ulp')
    case('rescale_nonzero', 'f32_bg', 'rescale', {'lo': 0, 'hi': 1, 'nonzero': 1},
         rescale_ref(xb, 0, 1, sel=xb != 0), tol='ulp')
    # a slope float32 cannot hold exactly: z-normalisation reads the values in
    # float64 (nibabel's get_fdata: raw * 0.1 + 0.3 in float64) and rounds once
    add_input('i16s2', raw, slope=0.1, inter=0.3)
    v2 = raw.astype(np.float64) * 0.1 + 0.3
    case('znorm_i16_inexact_scaling', 'i16s2', 'znorm', {}, znorm_ref(v2), tol='ulp')
    # a slope so large the scaled values exceed float32's range (1e38 * int16):
    # still finite after normalisation, as numpy computes it in float64
    raw_h = (smooth((9, 8, 7)) * 60 - 30000).astype(np.int16)
    add_input('i16huge', raw_h, slope=1e38, inter=0.0)
    case('znorm_i16_slope_1e38', 'i16huge', 'znorm', {}, znorm_ref(raw_h.astype(np.float64) * 1e38), tol='ulp')
    case('clamp_f32', 'f32_nan', 'clamp', {'lo': 100.5, 'hi': 700.25},
         np.clip(xn, np.float32(100.5), np.float32(700.25)))
    case('clamp_i16_scaled', 'i16s', 'clamp', {'lo': 0, 'hi': 500}, np.clip(v, np.float32(0), np.float32(500)))
    # 4D: per-frame statistics
    x4 = add_input('f32_4d', smooth((9, 8, 6, 3)).astype(np.float32))
    case('znorm_per_frame', 'f32_4d', 'znorm', {'per_frame': 1},
         np.stack([znorm_ref(x4[..., t]) for t in range(3)], axis=3), tol='ulp')
    case('znorm_4d_whole', 'f32_4d', 'znorm', {}, znorm_ref(x4), tol='ulp')
    # output dtype int16 (cast with rounding and saturation)
    z = znorm_ref(x) * np.float32(1000)
    case('rescale_to_i16', 'f32', 'rescale', {'lo': -40000, 'hi': 40000, 'dtype': 'int16'},
         np.clip(np.rint(rescale_ref(x, -40000, 40000)), -32768, 32767).astype(np.int16), tol='exact_or_1')
    del z


def reprs(values):
    """exact decimal strings (JSON has no NaN or Inf; strtod reads these)"""
    return [repr(float(v)) for v in values]


def make_histograms():
    x = INPUTS['f32']
    xs = np.fromfile(os.path.join(OUT, x['file']), '<f4').reshape(x['dims'], order='F')
    res = []
    def hcase(name, inp, arr, nbins, rng, extra=None):
        h, edges = np.histogram(arr, bins=nbins, range=rng)
        d = dict(name=name, input=INPUTS[inp], nbins=nbins, lo=rng[0] if rng else 0, hi=rng[1] if rng else 0,
                 counts=h.tolist())
        d.update(extra or {})
        res.append(d)
    hcase('hist_f32_auto', 'f32', xs, 37, None)
    hcase('hist_f32_range', 'f32', xs, 10, (100.1, 600.3))
    raw = np.fromfile(os.path.join(OUT, INPUTS['i16s']['file']), '<i2').reshape(INPUTS['i16s']['dims'], order='F')
    hcase('hist_i16_scaled', 'i16s', raw.astype(np.float64) * 0.5 - 100.0, 64, None)
    hcase('hist_i16_raw', 'i16s', raw, 50, (-100.0, 1400.0), {'raw': 1})
    xn = np.fromfile(os.path.join(OUT, INPUTS['f32_nan']['file']), '<f4').reshape(INPUTS['f32_nan']['dims'], order='F')
    fin = xn[np.isfinite(xn)]
    h, _ = np.histogram(fin, bins=20, range=(float(fin.min()), float(fin.max())))
    res.append(dict(name='hist_nan_auto', input=INPUTS['f32_nan'], nbins=20, lo=0, hi=0, counts=h.tolist()))
    # percentiles
    qs = [0, 0.5, 1, 2.5, 25, 50, 62.5, 75, 99, 99.5, 100]
    pct = []
    pct.append(dict(name='pct_f32', input=INPUTS['f32'], q=qs, values=reprs(np.percentile(xs, qs))))
    pct.append(dict(name='pct_nan', input=INPUTS['f32_nan'], q=qs, values=reprs(np.nanpercentile(xn, qs))))
    pct.append(dict(name='pct_i16_scaled', input=INPUTS['i16s'], q=qs,
                    values=reprs(np.percentile(raw.astype(np.float64) * 0.5 - 100.0, qs))))
    pct.append(dict(name='pct_i16_raw', input=INPUTS['i16s'], q=qs, raw=1,
                    values=reprs(np.percentile(raw.astype(np.float64), qs))))
    xb = np.fromfile(os.path.join(OUT, INPUTS['f32_bg']['file']), '<f4').reshape(INPUTS['f32_bg']['dims'], order='F')
    pct.append(dict(name='pct_nonzero', input=INPUTS['f32_bg'], q=qs, nonzero=1,
                    values=reprs(np.percentile(xb[xb != 0], qs))))
    ties = np.repeat(np.arange(5, dtype=np.float32), 7).reshape(5, 7, 1)
    add_input('ties', ties)
    pct.append(dict(name='pct_ties', input=INPUTS['ties'], q=qs, values=reprs(np.percentile(ties, qs))))
    neg = (RNG.standard_normal((6, 5, 4)) * 1e-3).astype(np.float32)
    neg[0, 0, 0] = -0.0
    add_input('neg', neg)
    pct.append(dict(name='pct_neg', input=INPUTS['neg'], q=qs, values=reprs(np.percentile(neg, qs))))
    return res, pct


# ------------------------------------------------------------------- spatial
def index_affine(affine, shape, op):
    """the affine of op(volume), found by sending index grids through op:
    op must accept float arrays and fill padding with NaN"""
    idx = [g.astype(np.float64) for g in np.indices(shape[:3])]
    moved = [np.asarray(op(g)) for g in idx]
    ok = ~np.isnan(moved[0])
    # a voxel that came from the input, with an input neighbour along each axis
    for p in zip(*np.nonzero(ok)):
        cols, good = [], True
        for a in range(3):
            q = list(p)
            step = 1 if p[a] + 1 < ok.shape[a] and ok[tuple(q[:a] + [p[a] + 1] + q[a + 1:])] else -1
            q[a] = p[a] + step
            if not (0 <= q[a] < ok.shape[a]) or not ok[tuple(q)]:
                good = False
                break
            cols.append([(moved[b][tuple(q)] - moved[b][p]) * step for b in range(3)])
        if good:
            T = np.eye(4)
            for a in range(3):
                T[:3, a] = cols[a]
            T[:3, 3] = [moved[b][p] for b in range(3)] - T[:3, :3] @ np.array(p, float)
            return affine @ T
    raise ValueError('no input voxel with neighbours in the output')


def crop_or_pad_ref(x, shape, fill):
    """MONAI ResizeWithPadOrCrop: symmetric pad ((out-in)//2 before), then centre crop (in//2 - out//2)"""
    out = x
    for a, n in enumerate(shape):
        if n == 0 or n == out.shape[a]:
            continue
        if n > out.shape[a]:
            before = (n - out.shape[a]) // 2
            pad = [(0, 0)] * out.ndim
            pad[a] = (before, n - out.shape[a] - before)
            out = np.pad(out, pad, constant_values=fill)
        else:
            st = out.shape[a] // 2 - n // 2
            sl = [slice(None)] * out.ndim
            sl[a] = slice(st, st + n)
            out = out[tuple(sl)]
    return out


def box_ref(x, start, size, fill):
    out = np.full(tuple(size) + x.shape[3:], fill, x.dtype)
    src = [slice(max(s, 0), min(s + n, x.shape[a])) for a, (s, n) in enumerate(zip(start, size))]
    dst = [slice(max(-s, 0), max(-s, 0) + (sl.stop - sl.start)) for s, sl in zip(start, src)]
    if all(sl.stop > sl.start for sl in src):
        out[tuple(dst)] = x[tuple(src)]
    return out


def rotated_affine():
    c, s = np.cos(0.3), np.sin(0.3)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([1.2, 0.9, 2.5])
    A = np.eye(4)
    A[:3, :3] = R
    A[:3, 3] = [12.5, -30.25, 8.0]
    return A


def make_spatial():
    shp = (10, 7, 5)
    aff = rotated_affine()
    xi = add_input('s_i16', RNG.integers(-3000, 3000, shp).astype(np.int16), affine=aff)
    xf = add_input('s_f32', RNG.standard_normal((9, 8, 6, 2)).astype(np.float32), affine=aff)
    xu = add_input('s_u8', RNG.integers(0, 255, (6, 5, 4)).astype(np.uint8), affine=aff)
    for name, arr in (('s_i16', xi), ('s_f32', xf)):
        for shape in ([12, 4, 5], [7, 9, 0], [3, 3, 8], [10, 7, 5]):
            tgt = [s if s else arr.shape[a] for a, s in enumerate(shape)]
            op = lambda v, tgt=tgt: crop_or_pad_ref(v, tgt, 0)
            case('cop_%s_%s' % (name, '_'.join(map(str, shape))), name, 'crop_or_pad', {'shape': shape, 'fill': 0},
                 crop_or_pad_ref(arr, tgt, 0), exp_affine=index_affine(np.array(INPUTS[name]['affine']), arr.shape,
                                                                         lambda v: crop_or_pad_ref(v, tgt, np.nan)))
    case('cop_fill', 's_i16', 'crop_or_pad', {'shape': [13, 6, 8], 'fill': -7}, crop_or_pad_ref(xi, [13, 6, 8], -7),
         exp_affine=index_affine(aff, xi.shape, lambda v: crop_or_pad_ref(v, [13, 6, 8], np.nan)))
    for start, size in (([-2, 1, 0], [6, 9, 5]), ([3, -2, -1], [4, 4, 9]), ([20, 0, 0], [3, 2, 2])):
        if start[0] < xi.shape[0]:
            ea = index_affine(aff, xi.shape, lambda v: box_ref(v, start, size, np.nan))
        else:  # no input voxel left: voxel start of the input is voxel 0 (nibabel's slicer)
            T = np.eye(4)
            T[:3, 3] = start
            ea = aff @ T
        case('box_%d_%d_%d' % tuple(start), 's_i16', 'box', {'start': start, 'size': size, 'fill': 5},
             box_ref(xi, start, size, 5), exp_affine=ea)
    for axes in ([0], [1], [2], [0, 2], [0, 1, 2]):
        mask = sum(1 << a for a in axes)
        img = nib.Nifti1Image(xi, aff)
        ornt = np.array([[0, 1], [1, 1], [2, 1]])
        for a in axes:
            ornt[a, 1] = -1
        ro = img.as_reoriented(ornt)  # nibabel's own flip: data and affine
        case('flip_i16_%d' % mask, 's_i16', 'flip', {'axes': mask}, np.asarray(ro.dataobj), exp_affine=ro.affine)
    case('flip_f32_t', 's_f32', 'flip', {'axes': 1 | 8}, np.flip(np.flip(xf, 0), 3),
         exp_affine=index_affine(aff, xf.shape, lambda v: np.flip(v, 0)))
    case('flip_u8_all', 's_u8', 'flip', {'axes': 7}, xu[::-1, ::-1, ::-1],
         exp_affine=index_affine(aff, xu.shape, lambda v: v[::-1, ::-1, ::-1]))
    for perm in ([1, 0, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]):
        ornt = np.zeros((3, 2))
        for i, p in enumerate(perm):
            ornt[p] = [i, 1]  # input axis perm[i] becomes output axis i
        ro = nib.Nifti1Image(xi, aff).as_reoriented(ornt)
        case('perm_%d%d%d' % tuple(perm), 's_i16', 'permute', {'perm': perm}, np.asarray(ro.dataobj),
             exp_affine=ro.affine)
    case('perm_f32_4d', 's_f32', 'permute', {'perm': [2, 0, 1]}, np.transpose(xf, (2, 0, 1, 3)),
         exp_affine=index_affine(aff, xf.shape, lambda v: np.transpose(v, (2, 0, 1))))
    # reorientation: as_closest_canonical for RAS, as_reoriented for the rest
    affs = {
        'las': np.diag([-2.0, 1.5, 1.2, 1.0]),
        'pir': np.array([[0, 0, -1.1, 30], [-0.9, 0, 0, 20], [0, -1.3, 0, -5], [0, 0, 0, 1.0]]),
        'oblique': rotated_affine() @ np.array([[0, 1, 0, 0], [0, 0, -1, 0], [-1, 0, 0, 0], [0, 0, 0, 1.0]]),
    }
    for an, A in affs.items():
        arr = RNG.integers(-500, 500, (8, 6, 5)).astype(np.int16)
        add_input('r_' + an, arr, affine=A)
        img = nib.Nifti1Image(arr, A)
        can = nib.as_closest_canonical(img)
        case('reorient_%s_RAS' % an, 'r_' + an, 'reorient', {'code': 'RAS'}, np.asarray(can.dataobj),
             exp_affine=can.affine)
        for code in ('LPS', 'PIR', 'SAL'):
            t = ornt_transform(io_orientation(A), axcodes2ornt(tuple(code)))
            ro = img.as_reoriented(t)
            case('reorient_%s_%s' % (an, code), 'r_' + an, 'reorient', {'code': code}, np.asarray(ro.dataobj),
                 exp_affine=ro.affine)
    for k in (-1, 0, 1, 2, 3, 5):
        for axes in ((0, 1), (1, 2), (2, 0)):
            op = lambda v, k=k, axes=axes: np.rot90(v, k, axes)
            case('rot90_%d_%d%d' % (k % 4, axes[0], axes[1]), 's_i16', 'rot90', {'k': k, 'axes': list(axes)}, op(xi),
                 exp_affine=index_affine(aff, xi.shape, op))


# --------------------------------------------------------------------- chains
def make_chains():
    """chains against the steps done one by one in numpy"""
    shp = (14, 12, 9)
    raw = np.round(smooth(shp, 2000)).astype(np.int16)
    aff = rotated_affine()
    add_input('c_i16', raw, affine=aff, slope=0.25, inter=5.0)
    v = f32_of_stored(raw, 0.25, 5.0)
    # crop_or_pad -> flip -> z-normalize -> cast int16
    a = crop_or_pad_ref(v, [10, 15, 9], f32_of_stored(np.int16([0]), 0.25, 5.0)[0])
    a = np.flip(a, 1)
    a = znorm_ref(a) * 1  # float32
    exp = np.clip(np.rint(a), -32768, 32767).astype(np.int16)
    steps = [{'op': 'crop_or_pad', 'shape': [10, 15, 9], 'fill': 0}, {'op': 'flip', 'axes': 2}, {'op': 'znorm'},
             {'op': 'cast', 'dtype': 'int16'}]
    case('chain_cop_flip_znorm_cast', 'c_i16', 'pipeline', {'steps': steps}, exp, tol='exact_or_1',
         exp_affine=index_affine(aff, shp, lambda q: np.flip(crop_or_pad_ref(q, [10, 15, 9], np.nan), 1)))
    # z-normalize first (statistics of the whole volume), then crop
    a = znorm_ref(v)
    exp = crop_or_pad_ref(a, [6, 6, 6], 0)
    steps = [{'op': 'znorm'}, {'op': 'crop_or_pad', 'shape': [6, 6, 6], 'fill': 0}]
    case('chain_znorm_crop', 'c_i16', 'pipeline', {'steps': steps}, exp, tol='ulp',
         exp_affine=index_affine(aff, shp, lambda q: crop_or_pad_ref(q, [6, 6, 6], np.nan)))
    # pad with 7 (stored units) then rescale: the padded voxels count
    fillv = f32_of_stored(np.int16([7]), 0.25, 5.0)[0]
    a = crop_or_pad_ref(v, [18, 12, 11], fillv)
    exp = rescale_ref(a, 0, 1)
    steps = [{'op': 'crop_or_pad', 'shape': [18, 12, 11], 'fill': 7}, {'op': 'rescale', 'lo': 0, 'hi': 1}]
    case('chain_pad_rescale', 'c_i16', 'pipeline', {'steps': steps}, exp, tol='ulp',
         exp_affine=index_affine(aff, shp, lambda q: crop_or_pad_ref(q, [18, 12, 11], np.nan)))
    # clamp, pad (float value after an intensity step), percentiles rescale with clip, permute
    a = np.clip(v, np.float32(50), np.float32(400))
    a = box_ref(a, [-3, 2, 0], [20, 8, 9], np.float32(-1.5))
    a = rescale_ref(a, -1, 1, pct=[1, 99], clip=True)
    exp = np.transpose(a, (2, 0, 1))
    steps = [{'op': 'clamp', 'lo': 50, 'hi': 400}, {'op': 'box', 'start': [-3, 2, 0], 'size': [20, 8, 9], 'fill': -1.5},
             {'op': 'rescale', 'lo': -1, 'hi': 1, 'pct_lo': 1, 'pct_hi': 99, 'clip': 1},
             {'op': 'permute', 'perm': [2, 0, 1]}]
    case('chain_clamp_box_pct_perm', 'c_i16', 'pipeline', {'steps': steps}, exp, tol='ulp',
         exp_affine=index_affine(aff, shp, lambda q: np.transpose(box_ref(q, [-3, 2, 0], [20, 8, 9], np.nan), (2, 0, 1))))
    # reorient to RAS then crop to a box then z-normalize nonzero
    img = nib.Nifti1Image(raw, aff)
    can = nib.as_closest_canonical(img)
    cv = f32_of_stored(np.asarray(can.dataobj), 0.25, 5.0)
    cv = box_ref(cv, [1, 1, 1], [8, 8, 8], 0)
    cv[0] = 0
    exp = znorm_ref(cv, cv != 0, apply_sel=True)
    steps = [{'op': 'reorient', 'code': 'RAS'}, {'op': 'box', 'start': [1, 1, 1], 'size': [8, 8, 8], 'fill': 0},
             {'op': 'box', 'start': [1, 0, 0], 'size': [8, 8, 8], 'fill': 0},
             {'op': 'box', 'start': [-1, 0, 0], 'size': [8, 8, 8], 'fill': -20}, {'op': 'znorm', 'nonzero': 1}]
    # the two last boxes shift by one and back: x = 0 becomes padding with
    # the stored value -20, i.e. float32(-20 * 0.25 + 5) = 0
    case('chain_reorient_boxes_nonzero', 'c_i16', 'pipeline', {'steps': steps}, exp, tol='ulp',
         exp_affine=index_affine(can.affine, can.shape, lambda q: box_ref(q, [1, 1, 1], [8, 8, 8], np.nan)))


def make(out):
    global OUT
    np.seterr(all='ignore')  # NaN and Inf cases are on purpose
    OUT = os.path.join(out, 'ops')
    os.makedirs(OUT, exist_ok=True)
    make_intensity()
    hist, pct = make_histograms()
    make_spatial()
    make_chains()
    with open(os.path.join(OUT, 'ops.json'), 'w') as f:
        json.dump({'cases': CASES, 'histograms': hist, 'percentiles': pct}, f, indent=0)


if __name__ == '__main__':
    import sys
    np.seterr(all='ignore')
    make(sys.argv[1])
    print('ok')
