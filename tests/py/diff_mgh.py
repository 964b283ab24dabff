#!/usr/bin/python3
"""Random FreeSurfer MGH files (.mgh, .mgz) read and written by medvol
(tests/diff_nibabel.c, the NIfTI harness's driver) and by nibabel
(Debian's /usr/bin/python3 with python3-nibabel 5.0 and numpy), compared
field by field.

  /usr/bin/python3 tests/py/diff_mgh.py BUILD/diff_nibabel [CASES [SEED]]
  /usr/bin/python3 tests/py/diff_mgh.py BUILD/diff_nibabel CASES SEED --case FAMILY:K
        (one case again, its files kept, the medvol commands printed)

CASES per family (default 120), SEED 20261127.

Families:
  read   nibabel writes an MGHImage (1-4 axes, uint8 / int16 / int32 /
         float32, random voxel sizes, permuted, flipped and oblique
         affines, TR, flip angle, TE, TI, FoV and dof in the header), as
         .mgh or .mgz; the bytes are then edited as other writers leave
         them: goodRASFlag 0, the footer cut short or missing, FreeSurfer
         tags after it, the gzip as one member or several (Python's gzip,
         as FreeSurfer's zlib writes one). medvol loads it through a random
         source (mv_load, mv_load_mem, mv_load_mem_borrow, mv_load_io with
         and without seek), crop box, squeeze, dtype conversion, header-only
         and thread count. Agree: the voxels bit for bit (a box as nibabel's
         dataobj slice), img.affine exactly (after a box: img.slicer's affine
         within 4 ulp), header.get_zooms() as the spacing (TR the fourth
         zoom of a 4D file), the footer's five parameters and dof as stored.
         Half the cases then mv_save the volume to .mgh / .mgz (one gzip
         member or medvol's indexed members) and nibabel reads that file:
         same shape, dtype, voxels, footer and dof, and the header fields
         (delta, Mdc, Pxyz_c) exactly those nibabel writes when it saves the
         image it read.
  write  nibabel writes a NIfTI-1 file (4D ones with TR in s or ms); medvol
         loads it and saves it as .mgh / .mgz; nibabel reads that: the
         voxels, and delta / Mdc / Pxyz_c exactly those of nibabel's own
         MGHImage(dataobj, affine) (MGHImage._affine2header), TR in ms.
  bad    refusals: dims 0 or negative, an unknown type code, data cut
         short, a header shorter than 284 bytes: nibabel refuses each and
         medvol must return an error status naming MGH or the file.
"""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np
from nibabel.freesurfer.mghformat import MGHHeader

DTYPES = ['uint8', 'int16', 'int32', 'float32']
SRCS = ['file', 'file', 'mem', 'borrow', 'io', 'ioseek']


def parse_report(path):
    r = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip('\n').partition(' ')
                r[k] = v
    except OSError:
        return {'status': 'NO_REPORT'}
    return r


def floats(r, k):
    return np.array([float(x) for x in r[k].split()])


def rand_affine(rng):
    """a 4x4 affine: permuted / flipped axes, or an oblique rotation, with
    random voxel sizes and a random origin"""
    zooms = rng.choice([1.0, 0.5, 1.25, 2.0, 0.9375, 3.3]) * rng.uniform(0.5, 2.0, 3) if rng.random() < 0.5 else \
        np.array(rng.choice([[1, 1, 1], [0.8, 0.8, 1.5], [2, 2, 2], [1, 1, 3]]), float)
    if rng.random() < 0.5:
        R = np.zeros((3, 3))
        perm = rng.permutation(3)
        for i in range(3):
            R[perm[i], i] = rng.choice([-1.0, 1.0])
    else:
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        R = q
    A = np.eye(4)
    A[:3, :3] = R * zooms
    A[:3, 3] = rng.uniform(-150, 150, 3)
    if rng.random() < 0.2:
        A[:3, 3] = np.round(A[:3, 3])
    return A


def rand_data(rng, shape, dt):
    n = int(np.prod(shape))
    if dt == 'float32':
        x = rng.normal(0, 500, n).astype(np.float32)
        if n > 3 and rng.random() < 0.3:
            x[rng.integers(0, n, 2)] = [np.inf, -0.0]
    else:
        info = np.iinfo(dt)
        x = rng.integers(info.min, info.max, n, endpoint=True).astype(dt)
    return x.reshape(shape, order='F')


def rand_shape(rng):
    nd = int(rng.choice([1, 2, 3, 3, 3, 4, 4]))
    shape = [int(rng.integers(1, 9)) for _ in range(nd)]
    if nd == 4:  # (nibabel cannot write 4D data with one frame: its header drops the axis)
        shape[3] = max(shape[3], 2)
    return tuple(shape)


def mgh_bytes(data, A, hdr_fields, rng):
    """the MGH file nibabel writes for (data, A), with the header fields set"""
    img = nib.MGHImage(data, A)
    h = img.header
    for k, v in hdr_fields.items():
        h[k] = v
    return img.to_bytes() if hasattr(img, 'to_bytes') else None


def gz(raw, rng, members):
    if members <= 1:
        return gzip.compress(raw, compresslevel=int(rng.integers(1, 10)))
    cuts = sorted(set(int(c) for c in rng.integers(1, len(raw), members - 1)))
    out, a = b'', 0
    for c in cuts + [len(raw)]:
        out += gzip.compress(raw[a:c], compresslevel=6)
        a = c
    return out


class Runner:
    def __init__(self, exe, tmp):
        self.exe, self.tmp = exe, tmp

    def run(self, lines):
        bf = os.path.join(self.tmp, 'batch.txt')
        with open(bf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        r = subprocess.run([self.exe, 'batch', bf], capture_output=True, text=True)
        if r.returncode != 0:
            for ln in lines:
                rr = subprocess.run([self.exe] + ln.split(' '), capture_output=True, text=True)
                if rr.returncode != 0:
                    raise SystemExit('CRASH (rc %d): %s %s\n%s' % (rr.returncode, self.exe, ln, rr.stderr[-2000:]))
            raise SystemExit('batch failed (rc %d) but no single command did' % r.returncode)


class Checker:
    def __init__(self):
        self.fails = 0
        self.checks = 0

    def ok(self, cond, case, what):
        self.checks += 1
        if not cond:
            self.fails += 1
            if self.fails <= 30:
                print('FAIL %s: %s' % (case, what))
        return cond


def load_opts(rng, shape, nd):
    """random load options; returns the option string, the box (start,
    size per axis of the file's shape) and the conversion dtype (or None)"""
    o, start, size = {}, [0] * nd, list(shape)
    if rng.random() < 0.35:
        for a in range(nd):
            s = int(rng.integers(0, shape[a]))
            z = int(rng.integers(1, shape[a] - s + 1))
            start[a], size[a] = s, z
        o['bs'] = ':'.join(str(x) for x in start)
        o['bz'] = ':'.join(str(x) for x in size)
    conv = None
    if rng.random() < 0.25:
        conv = str(rng.choice(['float64', 'float32']))
        o['dtype'] = conv
    if rng.random() < 0.3:
        o['squeeze'] = 1
    if rng.random() < 0.1:
        o['header_only'] = 1
    if rng.random() < 0.5:
        o['threads'] = int(rng.integers(1, 4))
    if rng.random() < 0.2:
        o['verify'] = 1
    o['src'] = str(rng.choice(SRCS))
    s = ','.join('%s=%s' % kv for kv in o.items()) if o else '-'
    return s, start, size, conv, o


def check_load(ck, case, r, out_path, img, ref_data, start, size, conv, o, mr, dof):
    if not ck.ok(r.get('status') == 'MV_OK', case, 'load: %s %s' % (r.get('status'), r.get('error'))):
        return
    nd = len(ref_data.shape)
    ck.ok(int(r['format']) == 5, case, 'format %s' % r['format'])
    exp_shape = list(size)
    if o.get('squeeze'):
        while len(exp_shape) > 3 and exp_shape[-1] == 1:
            exp_shape.pop()
    ck.ok(int(r['ndim']) == len(exp_shape), case, 'ndim %s, expected %d' % (r['ndim'], len(exp_shape)))
    dims = [int(x) for x in r['dim'].split()]
    ck.ok(dims[:len(exp_shape)] == exp_shape, case, 'dims %s, expected %s' % (dims, exp_shape))
    # geometry: img.affine, or img.slicer's after a box
    sl = tuple(slice(s, s + z) for s, z in zip(start, size))
    A = img.affine if not any(start[:3]) else img.slicer[sl[:3]].affine
    got = floats(r, 'affine').reshape(4, 4)
    tol = 0.0 if not any(start[:3]) else 4 * np.spacing(np.maximum(1.0, np.abs(A)))
    ck.ok(np.all(np.abs(got - A) <= tol), case, 'affine\n%s\nnibabel\n%s' % (got, A))
    zooms = img.header.get_zooms()
    sp = floats(r, 'spacing')
    ck.ok(np.array_equal(sp[:3], np.array(zooms[:3], float)), case, 'spacing %s, zooms %s' % (sp[:3], zooms))
    if len(img.shape) == 4 and len(exp_shape) >= 4:
        ck.ok(sp[3] == float(zooms[3]), case, 'time spacing %g, TR zoom %g' % (sp[3], float(zooms[3])))
        ck.ok(int(r['xyzt_units']) == 18, case, 'xyzt_units %s for 4D' % r['xyzt_units'])
    ck.ok(np.array_equal(floats(r, 'mgh_mr'), np.array(mr, float)), case, 'mgh_mr %s, file %s' % (r['mgh_mr'], mr))
    ck.ok(int(r['mgh_dof']) == dof, case, 'dof %s, file %d' % (r['mgh_dof'], dof))
    if o.get('header_only'):
        ck.ok(int(r['bytes']) == 0, case, 'header_only returned data')
        return
    ref = ref_data[sl] if nd else ref_data
    ref = ref.astype(conv if conv else ref.dtype.newbyteorder('='))
    dt = np.dtype(r['dtype'])
    ck.ok(dt == ref.dtype, case, 'dtype %s, expected %s' % (dt, ref.dtype))
    raw = np.fromfile(out_path, dt)
    ck.ok(raw.size == ref.size and raw.tobytes() == np.asfortranarray(ref).tobytes(order='F'), case,
          'voxels differ (%d vs %d values)' % (raw.size, ref.size))


def check_resave(ck, case, path, src_img, resave_path, written_from):
    """medvol's rewrite (resave_path) read by nibabel against nibabel's own
    rewrite of the image it read (src_img)"""
    try:
        mine = nib.load(resave_path)
        mine_data = np.asarray(mine.dataobj)
        mh = mine.header
    except Exception as e:  # noqa: BLE001 (nibabel's many error types)
        ck.ok(False, case, 'nibabel cannot read medvol\'s %s: %s' % (resave_path, e))
        return
    ref_data = np.asarray(src_img.dataobj)
    ref_data = ref_data.astype(ref_data.dtype.newbyteorder('='))
    mine_data = mine_data.astype(mine_data.dtype.newbyteorder('='))
    shape3 = ref_data.shape + (1,) * (3 - ref_data.ndim)
    ck.ok(mine_data.shape == shape3 and mine_data.dtype == ref_data.dtype, case,
          'resaved shape/dtype %s %s, expected %s %s' % (mine_data.shape, mine_data.dtype, shape3, ref_data.dtype))
    ck.ok(mine_data.tobytes() == ref_data.reshape(shape3).tobytes(), case, 'resaved voxels differ')
    theirs = nib.MGHImage(ref_data, src_img.affine, src_img.header if written_from == 'mgh' else None)
    theirs.update_header()
    th = theirs.header
    for k in ('delta', 'Mdc', 'Pxyz_c', 'dims', 'type'):
        ck.ok(np.array_equal(mh[k], th[k]), case, 'resaved %s %s, nibabel writes %s' % (k, mh[k], th[k]))
    return mh


def draw_read(rng):
    shape = rand_shape(rng)
    dt = str(rng.choice(DTYPES))
    data = rand_data(rng, shape, dt)
    A = rand_affine(rng)
    fields = {'tr': float(rng.choice([0, 2000, 2.5, 750])), 'flip_angle': float(rng.uniform(0, 1.5)),
              'te': float(rng.uniform(0, 40)), 'ti': float(rng.choice([0, 900, 1100.5])),
              'fov': float(rng.uniform(0, 256)), 'dof': int(rng.integers(0, 30))}
    return shape, dt, data, A, fields


def build_file(rng, d, k, data, A, fields):
    img = nib.MGHImage(data, A)
    for key, v in fields.items():
        img.header[key] = v
    raw = bytearray(img.to_bytes())
    edits = []
    u = rng.random()
    if u < 0.12:  # goodRASFlag 0: nibabel's default geometry
        raw[28:30] = b'\0\0'
        edits.append('goodRAS0')
    foot = 284 + data.nbytes
    u = rng.random()
    if u < 0.1:
        raw = raw[:foot]
        edits.append('nofooter')
    elif u < 0.2:
        raw = raw[:foot + int(rng.integers(1, 20))]
        edits.append('shortfooter')
    elif u < 0.35:  # FreeSurfer's tags after the footer (tag 3: TAG_CMDLINE, as an int32 tag and int64 length)
        text = b'mri_convert in.nii out.mgz\0'
        raw += (3).to_bytes(4, 'big') + len(text).to_bytes(8, 'big') + text
        edits.append('tags')
    raw = bytes(raw)
    comp = rng.random()
    if comp < 0.5:
        path = os.path.join(d, 'r%d.mgh' % k)
        blob = raw
    else:
        path = os.path.join(d, 'r%d.mgz' % k)
        m = 1 if rng.random() < 0.6 else int(rng.integers(2, 5))
        blob = gz(raw, rng, m)
        edits.append('gz%d' % m)
    with open(path, 'wb') as f:
        f.write(blob)
    return path, edits


def footer_of(img):
    h = img.header
    return [float(h['tr']), float(h['flip_angle']), float(h['te']), float(h['ti']), float(h['fov'])], int(h['dof'])


def family_read(seed, cases, only, runner, d, ck, keep):
    plans = []
    for k in range(cases):
        if only is not None and k != only:
            continue
        rng = np.random.default_rng([seed, 1, k])
        shape, dt, data, A, fields = draw_read(rng)
        path, edits = build_file(rng, d, k, data, A, fields)
        img = nib.load(path)
        ref_data = np.asarray(img.dataobj)
        opts, start, size, conv, o = load_opts(rng, ref_data.shape, ref_data.ndim)
        out = os.path.join(d, 'r%d.out' % k)
        rep = os.path.join(d, 'r%d.rep' % k)
        lines = ['read %s %s %s %s' % (opts, path, out, rep)]
        resave = None
        if rng.random() < 0.5:
            ext = str(rng.choice(['.mgh', '.mgz']))  # (nibabel does not take .mgh.gz)
            resave = os.path.join(d, 's%d%s' % (k, ext))
            ro = ['src=file']
            if ext != '.mgh' and rng.random() < 0.4:
                ro.append('sm=1')
            if ext != '.mgh' and rng.random() < 0.5:
                ro.append('gzl=%d' % int(rng.integers(1, 10)))
            lines.append('resave %s %s %s %s.rep' % (','.join(ro), path, resave, resave))
        plans.append((k, path, edits, img, ref_data, start, size, conv, o, out, rep, resave, lines))
    runner.run([ln for p in plans for ln in p[-1]])
    for (k, path, edits, img, ref_data, start, size, conv, o, out, rep, resave, lines) in plans:
        case = 'read:%d (%s %s%s)' % (k, os.path.basename(path), ','.join(edits), ' ' + ' | '.join(lines) if keep else '')
        mr, dof = footer_of(img)
        check_load(ck, case, parse_report(rep), out, img, ref_data, start, size, conv, o, mr, dof)
        if resave:
            rr = parse_report(resave + '.rep')
            if ck.ok(rr.get('status') == 'MV_OK', case, 'resave: %s %s' % (rr.get('status'), rr.get('error'))):
                mh = check_resave(ck, case, path, img, resave, 'mgh')
                if mh is not None:
                    exp_mr = mr
                    if len(img.shape) == 4:
                        exp_mr = [float(img.header.get_zooms()[3])] + mr[1:]
                    got_mr = [float(mh['tr']), float(mh['flip_angle']), float(mh['te']), float(mh['ti']), float(mh['fov'])]
                    ck.ok(got_mr == exp_mr and int(mh['dof']) == dof, case,
                          'resaved footer %s dof %d, expected %s dof %d' % (got_mr, int(mh['dof']), exp_mr, dof))
                    with open(resave, 'rb') as f:
                        head = f.read(2)
                    ck.ok((head == b'\x1f\x8b') == resave.endswith('gz'), case, 'resaved compression follows the name')
    return len(plans)


def family_write(seed, cases, only, runner, d, ck, keep):
    plans = []
    for k in range(cases):
        if only is not None and k != only:
            continue
        rng = np.random.default_rng([seed, 2, k])
        shape = rand_shape(rng)
        dt = str(rng.choice(DTYPES))
        data = rand_data(rng, shape, dt)
        A = rand_affine(rng)
        nii = nib.Nifti1Image(data, A)
        tr_exp = 0.0
        if len(shape) == 4:
            unit = str(rng.choice(['sec', 'msec']))
            tr = float(rng.choice([2.0, 0.8, 1500.0]))
            nii.header.set_xyzt_units('mm', unit)
            nii.header.set_zooms(nii.header.get_zooms()[:3] + (tr,))
            tr_exp = float(np.float32(float(np.float32(tr)) * (1000.0 if unit == 'sec' else 1.0)))
        src = os.path.join(d, 'w%d.nii' % k)
        nib.save(nii, src)
        ext = str(rng.choice(['.mgh', '.mgz']))
        dst = os.path.join(d, 'w%d%s' % (k, ext))
        lines = ['resave src=file %s %s %s.rep' % (src, dst, dst)]
        plans.append((k, src, dst, tr_exp, lines))
    runner.run([ln for p in plans for ln in p[-1]])
    for (k, src, dst, tr_exp, lines) in plans:
        case = 'write:%d%s' % (k, ' ' + lines[0] if keep else '')
        rr = parse_report(dst + '.rep')
        if not ck.ok(rr.get('status') == 'MV_OK', case, 'save: %s %s' % (rr.get('status'), rr.get('error'))):
            continue
        nii = nib.load(src)
        mh = check_resave(ck, case, src, nii, dst, 'nifti')
        if mh is not None:
            ck.ok(float(mh['tr']) == tr_exp, case, 'TR %g ms, expected %g' % (float(mh['tr']), tr_exp))
            mine = nib.load(dst)
            ck.ok(np.allclose(mine.affine, nii.affine, rtol=0, atol=1e-4 * max(1.0, np.abs(nii.affine).max())), case,
                  'affine read back\n%s\nwritten\n%s' % (mine.affine, nii.affine))
    return len(plans)


def family_bad(seed, cases, only, runner, d, ck, keep):
    plans = []
    for k in range(cases):
        if only is not None and k != only:
            continue
        rng = np.random.default_rng([seed, 3, k])
        shape = (3, 4, 5)
        data = rand_data(rng, shape, 'int16')
        raw = bytearray(nib.MGHImage(data, np.eye(4)).to_bytes())
        kind = str(rng.choice(['dims0', 'dimsneg', 'type', 'cut', 'short']))
        if kind == 'dims0':
            i = 4 + 4 * int(rng.integers(0, 4))
            raw[i:i + 4] = b'\0\0\0\0'
        elif kind == 'dimsneg':
            i = 4 + 4 * int(rng.integers(0, 3))
            raw[i:i + 4] = (-3).to_bytes(4, 'big', signed=True)
        elif kind == 'type':
            raw[20:24] = int(rng.choice([2, 5, 6, 7, 8, 9, 11, 99, -1])).to_bytes(4, 'big', signed=True)
        elif kind == 'cut':
            raw = raw[:284 + data.nbytes - int(rng.integers(1, data.nbytes))]
        else:
            raw = raw[:int(rng.integers(4, 284))]
        raw = bytes(raw)
        path = os.path.join(d, 'b%d.%s' % (k, 'mgz' if rng.random() < 0.5 else 'mgh'))
        with open(path, 'wb') as f:
            f.write(gzip.compress(raw) if path.endswith('mgz') else raw)
        try:
            img = nib.load(path)
            np.asarray(img.dataobj)
            nib_ok = True
        except Exception:  # noqa: BLE001
            nib_ok = False
        opts = 'src=%s' % rng.choice(SRCS)
        rep = path + '.rep'
        plans.append((k, kind, path, nib_ok, ['read %s %s %s.out %s' % (opts, path, path, rep)]))
    runner.run([ln for p in plans for ln in p[-1]])
    for (k, kind, path, nib_ok, lines) in plans:
        case = 'bad:%d (%s)%s' % (k, kind, ' ' + lines[0] if keep else '')
        r = parse_report(path + '.rep')
        ck.ok(not nib_ok, case, 'nibabel reads the damaged file (the test needs a refusal)')
        st = r.get('status')
        ck.ok(st not in ('MV_OK', None, 'NO_REPORT'), case, 'medvol loaded a file nibabel refuses')
        err = r.get('error', '')
        src = lines[0].split(' ')[1][4:]
        name = os.path.basename(path) if src == 'file' else 'memory image' if src in ('mem', 'borrow') else 'stream'
        ck.ok(err.startswith(path if src == 'file' else name), case, 'the message does not name the %s: %s' %
              ('file' if src == 'file' else 'source', err))
    return len(plans)


def main():
    argv = sys.argv[1:]
    one = None
    if '--case' in argv:
        i = argv.index('--case')
        fam, _, kk = argv[i + 1].partition(':')
        one = (fam, int(kk))
        argv = argv[:i] + argv[i + 2:]
    args = argv
    exe = args[0]
    cases = int(args[1]) if len(args) > 1 else 120
    seed = int(args[2]) if len(args) > 2 else 20261127
    tmp = tempfile.mkdtemp(prefix='diff_mgh.')
    runner = Runner(exe, tmp)
    ck = Checker()
    counts = {}
    for fam, fn in (('read', family_read), ('write', family_write), ('bad', family_bad)):
        if one and one[0] != fam:
            continue
        d = os.path.join(tmp, fam)
        os.makedirs(d)
        counts[fam] = fn(seed, cases, one[1] if one else None, runner, d, ck, one is not None)
    print('diff_mgh: %s cases, %d checks, %d failures (seed %d)' %
          (', '.join('%s %d' % kv for kv in counts.items()), ck.checks, ck.fails, seed))
    if one:
        print('files kept in', tmp)
    else:
        shutil.rmtree(tmp)
    return 1 if ck.fails else 0


if __name__ == '__main__':
    sys.exit(main())
