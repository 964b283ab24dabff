#!/usr/bin/python3
"""Siemens twix (.dat) files written by twixtools (PyPI twixtools 0.24,
Philipp Ehses' reader and writer of Siemens raw data; its structures and
write_twix), for mvtool twixread's checks against bart twixread and against
twixtools' own reader (Debian's /usr/bin/python3 with python3-numpy and
python3-tqdm; twixtools imports matplotlib for its PMU plots, which this
does not draw: a stand-in module when matplotlib is missing).

  /usr/bin/python3 tests/py/twix_data.py write DIR
      writes DIR/NAME.dat for each case of CASES below (VE: a MultiRaid
      header, an adjustment scan first and the image scan last; VB: one
      scan, a 128-byte header per channel), and DIR/NAME.ref.cfl/.hdr: the
      image ADCs of the last scan placed by their counters as bart
      twixread -A places them (Lin 1, Par 2, channel 3, Eco 5, Phs 6, Rep
      10, Set 11, Sli 13, Ave 14), from twixtools' read_twix of the file.
  /usr/bin/python3 tests/py/twix_data.py seeds DIR
      small files for the fuzz corpus (tests/fuzz/corpus/twix)."""
import ctypes
import os
import struct
import sys
import types

import numpy as np

if 'matplotlib' not in sys.modules:
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        m = types.ModuleType('matplotlib')
        m.pyplot = types.ModuleType('matplotlib.pyplot')
        sys.modules['matplotlib'], sys.modules['matplotlib.pyplot'] = m, m.pyplot
import twixtools  # noqa: E402
import twixtools.mdb  # noqa: E402
import twixtools.mdh_def as mdh_def  # noqa: E402

# name: (VE?, samples, channels, lines, partitions, slices, echoes, repetitions, extras)
CASES = {
    've_2d': (True, 16, 3, 8, 1, 1, 1, 1, ''),
    've_3d_echoes': (True, 12, 2, 6, 4, 1, 2, 1, ''),
    've_slices_reps': (True, 10, 4, 5, 1, 3, 1, 2, 'noise phascor sync'),
    've_center': (True, 8, 2, 4, 3, 1, 1, 1, 'center'),
    'vb_2d': (False, 16, 2, 6, 1, 1, 1, 1, ''),
    'vb_3d': (False, 8, 3, 4, 3, 2, 1, 1, 'noise'),
}


def hdr_str(text):
    """a scan's header buffer: its u32 length, then the text"""
    body = text.encode() + b'\0'
    n = 4 + len(body)
    return np.frombuffer(struct.pack('<I', n) + body, np.uint8)


def mdb_of(ve, data, counters, flags=(), center=(0, 0)):
    m = twixtools.mdb.Mdb_local(data=data.astype(np.complex64), version_is_ve=ve)
    for k, v in counters.items():
        setattr(m.mdh.Counter, k, v)
    m.mdh.CenterLin, m.mdh.CenterPar = center
    for f in flags:
        m.add_flag(f)
    return m


def case_mdbs(rng, ve, X, C, Y, Z, S, E, R, extras):
    mdbs = []
    if 'noise' in extras:  # a noise adjust ADC of another length
        mdbs.append(mdb_of(ve, rng.standard_normal((C, X + 4)) + 1j * rng.standard_normal((C, X + 4)), {},
                           ('NOISEADJSCAN',)))
    for r in range(R):
        for s in range(S):
            for z in range(Z):
                for e in range(E):
                    for y in range(Y):
                        if 'phascor' in extras and y == 0:
                            mdbs.append(mdb_of(ve, rng.standard_normal((C, X)) * 1j, {'Lin': 0, 'Par': z},
                                               ('PHASCOR',)))
                        d = rng.standard_normal((C, X)) + 1j * rng.standard_normal((C, X))
                        cnt = {'Lin': y, 'Par': z, 'Sli': s, 'Eco': e, 'Rep': r}
                        ctr = (Y // 2, Z // 2) if 'center' in extras else (0, 0)
                        mdbs.append(mdb_of(ve, d, cnt, (), ctr))
    if 'sync' in extras and ve:
        m = twixtools.mdb.Mdb_local(data=b'\x07' * 96, version_is_ve=ve)  # its DMA length from the bytes
        m._Mdb_local__data = np.frombuffer(b'\x07' * 96, np.uint8)  # write_twix writes sync data with tobytes()
        m.add_flag('SYNCDATA')
        m.mdh.FlagsAndDMALength = (m.mdh.FlagsAndDMALength & ~0x1FFFFFF) | (192 + 96)  # the header and its data
        mdbs.insert(len(mdbs) // 2, m)
    acq = twixtools.mdb.Mdb_local(version_is_ve=ve)
    acq.add_flag('ACQEND')
    mdbs.append(acq)
    return mdbs


def write_vb(path, scan):
    """VB: the header, then per ADC a 128-byte header per channel (its DMA
    length the whole ADC's), the channel's samples after each; ACQEND one
    header"""
    with open(path, 'wb') as f:
        scan['hdr_str'].tofile(f)
        for m in scan['mdb']:
            if m.is_flag_set('ACQEND'):
                f.write(bytearray(m.mdh))
                f.write(b'\0' * 16)
                continue
            data = np.atleast_2d(m.data)
            C, X = data.shape
            m.mdh.FlagsAndDMALength = (m.mdh.FlagsAndDMALength & ~0x1FFFFFF) | (C * (128 + 8 * X))
            m.mdh.UsedChannels, m.mdh.SamplesInScan = C, X
            for c in range(C):
                m.mdh.ChannelId = c
                f.write(bytearray(m.mdh))
                data[c].astype(np.complex64).tofile(f)


def reference(path, ve):
    """twixtools' own reading of the file, placed as bart twixread -A places
    the last scan's image ADCs (of the first image ADC's length)"""
    scans = twixtools.read_twix(path, parse_prot=False, parse_pmu=False, verbose=False)
    mdbs = [m for m in scans[-1]['mdb'] if m.is_image_scan() and not m.is_flag_set('SYNCDATA')]
    X, C = mdbs[0].mdh.SamplesInScan, mdbs[0].mdh.UsedChannels
    mdbs = [m for m in mdbs if m.mdh.SamplesInScan == X and m.mdh.UsedChannels == C]
    axes = {'Lin': 1, 'Par': 2, 'Eco': 5, 'Phs': 6, 'Rep': 10, 'Set': 11, 'Sli': 13, 'Ave': 14}
    dims = [1] * 16
    dims[0], dims[3] = X, C
    for m in mdbs:
        for k, a in axes.items():
            dims[a] = max(dims[a], getattr(m.mdh.Counter, k) + 1)
    out = np.zeros(dims, np.complex64, order='F')
    for m in mdbs:
        idx = [0] * 16
        for k, a in axes.items():
            idx[a] = getattr(m.mdh.Counter, k)
        d = np.atleast_2d(m.data)
        for c in range(C):
            i = list(idx)
            i[3] = c
            out[(slice(None),) + tuple(i[1:])] = d[c]
    return out


def writecfl(name, a):
    with open(name + '.hdr', 'w') as f:
        f.write('# Dimensions\n' + ' '.join(str(v) for v in a.shape) + '\n')
    np.asarray(a, np.complex64).ravel(order='F').tofile(name + '.cfl')


def write_case(d, name, spec, rng):
    ve, X, C, Y, Z, S, E, R, extras = spec
    path = os.path.join(d, name + '.dat')
    if os.path.exists(path):
        os.remove(path)
    image = {'hdr_str': hdr_str('### ASCCONV BEGIN ###\ntProtocolName = "%s"\n### ASCCONV END ###\n' % name),
             'mdb': case_mdbs(rng, ve, X, C, Y, Z, S, E, R, extras)}
    if ve:
        adj = {'hdr_str': hdr_str('adjustments'), 'mdb': case_mdbs(rng, ve, 4, 1, 2, 1, 1, 1, 1, '')}
        twixtools.write_twix([adj, image], path, version_is_ve=True)
    else:
        write_vb(path, image)
    writecfl(os.path.join(d, name + '.ref'), reference(path, ve))


def main():
    mode, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20261202)
    if mode == 'write':
        for name, spec in CASES.items():
            write_case(d, name, spec, rng)
    elif mode == 'seeds':  # under the fuzzer's 8 KiB: VE's 10240-byte MultiRaid header cut to 512
        for name, spec in (('ve_tiny', (True, 4, 2, 3, 1, 1, 1, 1, 'noise sync')),
                           ('vb_tiny', (False, 4, 2, 2, 2, 1, 1, 1, 'noise'))):
            write_case(d, name, spec, rng)
            os.remove(os.path.join(d, name + '.ref.cfl'))
            os.remove(os.path.join(d, name + '.ref.hdr'))
            path = os.path.join(d, name + '.dat')
            b = bytearray(open(path, 'rb').read())
            os.remove(path)
            if spec[0]:
                n = struct.unpack_from('<I', b, 4)[0]
                for e in range(n):
                    off = struct.unpack_from('<Q', b, 8 + 152 * e + 8)[0]
                    struct.pack_into('<Q', b, 8 + 152 * e + 8, off - (10240 - 512))
                b = b[:512] + b[10240:]
            # the last two bytes pick fuzz_twix.c's options: (aux, sel)
            for tag, aux, sel in (('given', 0x20 | (spec[1] - 1), 0x40 * (spec[2] - 1)), ('auto', 0, 1),
                                  ('auto_lp', 0, 7), ('radial', 0x20 | (spec[1] - 1), 0x10 | 0x40 * (spec[2] - 1)),
                                  ('mpi', 0, 9)):
                open(os.path.join(d, '%s_%s' % (name, tag)), 'wb').write(bytes(b) + bytes([aux, sel]))
            open(os.path.join(d, name + '_cut'), 'wb').write(bytes(b[:len(b) * 2 // 3]) + bytes([0, 1]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
