"""mvtool twixread beside bart twixread (BART 0.8) on one Siemens VE raw data
file that twixtools (PyPI) writes: an adjustment scan, then X samples x C
channels x Y lines x Z partitions (default 256 x 32 x 128 x 64: a 547 MB
file, a 537 MB .cfl), read with the sizes given and with -A. Outputs are
compared byte for byte before any time is quoted. Times are wall times of
the commands (process start, reading and the .cfl written), the median of
--reps runs each, the output removed and `sync` run before every run (a new
file each time: bart rewrites an existing .cfl in place, mvtool replaces it
atomically by a new file; and one tool's dirty pages do not slow the other's
writes); `cp` of the .dat file to a new file is the I/O baseline (reading
and writing about as many bytes).

    /usr/bin/python3 bench/twix_bench.py [--size X,C,Y,Z] [--reps N] [--dir DIR]

Needs build/mvtool, the bart command and twixtools in /usr/bin/python3
(tests/py/twix_data.py's requirements)."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MVTOOL = os.path.join(ROOT, 'build', 'mvtool')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'py'))
import twix_data  # noqa: E402  (stands in for matplotlib, imports twixtools)
import twixtools  # noqa: E402
import twixtools.mdb  # noqa: E402


def write_file(path, X, C, Y, Z):
    rng = np.random.default_rng(1)
    d = (rng.standard_normal((C, X)) + 1j * rng.standard_normal((C, X))).astype(np.complex64)
    mdbs = [twix_data.mdb_of(True, d * (1 + y + Y * z), {'Lin': y, 'Par': z}) for z in range(Z) for y in range(Y)]
    acq = twixtools.mdb.Mdb_local(version_is_ve=True)
    acq.add_flag('ACQEND')
    mdbs.append(acq)
    adj = {'hdr_str': twix_data.hdr_str('adjustments'), 'mdb': twix_data.case_mdbs(rng, True, 4, 1, 2, 1, 1, 1, 1, '')}
    if os.path.exists(path):
        os.remove(path)
    twixtools.write_twix([adj, {'hdr_str': twix_data.hdr_str('bench'), 'mdb': mdbs}], path, version_is_ve=True)


def timed(cmd, cwd, out=None):
    if out:  # a new output file for each tool: bart rewrites an existing .cfl in place (its pages and blocks
        for ext in ('.cfl', '.hdr', '.dat'):  # reused), mvtool replaces it by a new file, so neither keeps one
            if os.path.exists(os.path.join(cwd, out + ext)):
                os.remove(os.path.join(cwd, out + ext))
    subprocess.run(['sync'], check=True)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', default='256,32,128,64')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--dir', default=None)
    a = ap.parse_args()
    X, C, Y, Z = [int(v) for v in a.size.split(',')]
    d = a.dir or tempfile.mkdtemp(prefix='twix_bench.')
    dat = os.path.join(d, 'raw.dat')
    write_file(dat, X, C, Y, Z)
    print('file: %s, %.0f MB; output %.0f MB' % (dat, os.path.getsize(dat) / 1e6, X * C * Y * Z * 8 / 1e6))
    for label, opts in (('sizes given', ['-x', str(X), '-y', str(Y), '-z', str(Z), '-c', str(C)]), ('-A', ['-A'])):
        subprocess.run(['bart', 'twixread'] + opts + ['raw.dat', 'b'], cwd=d, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run([MVTOOL, 'twixread'] + opts + ['raw.dat', 'm'], cwd=d, check=True)
        with open(os.path.join(d, 'b.cfl'), 'rb') as fb, open(os.path.join(d, 'm.cfl'), 'rb') as fm:
            while True:
                x, y = fb.read(1 << 24), fm.read(1 << 24)
                if x != y:
                    sys.exit('twixread %s: mvtool and bart differ' % label)
                if not x:
                    break
        tb, tm, tc = [], [], []
        for _ in range(a.reps):
            tb.append(timed(['bart', 'twixread'] + opts + ['raw.dat', 'b'], d, 'b'))
            tm.append(timed([MVTOOL, 'twixread'] + opts + ['raw.dat', 'm'], d, 'm'))
            tc.append(timed(['cp', 'raw.dat', 'copy.dat'], d, 'copy'))
        mb, mm, mc = np.median(tb), np.median(tm), np.median(tc)
        print('twixread %-11s bart %.2f s  mvtool %.2f s  (%.2fx bart; %.2fx cp of the file, %.2f s)  [%d runs each]' %
              (label, mb, mm, mb / mm, mm / mc, mc, a.reps))
    os.remove(os.path.join(d, 'copy.dat'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
