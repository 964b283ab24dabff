"""medvol's parallel-imaging commands beside BART 0.8 (ecalib, pics -l2, pics -l1) and
pygrappa (cgrappa, its C++ GRAPPA) on identical data; outputs are checked
against each other (or the fully sampled reference) before any time is
quoted.

    python3 bench/recon_bench.py [--size 256] [--quick] [--pics-only | --subspace-only | --nlinv-only | --cc-only] [--reps N]

Run with the python3 that has pygrappa (the pyenv one on PATH; numpy only
otherwise, GRAPPA rows then skipped). Needs build/mvtool (make build/mvtool)
and the bart command. Data: 256^2 k-space of BART's phantom with 8 coils
(bart phantom -k -s 8), and a 32-coil version made here (the phantom image
times 32 smooth coil maps on a ring, centred unitary FFT), both with
complex Gaussian noise of 0.2% of the largest sample. Undersampling keeps
lines y = N/2 (mod R) and 24 centre lines. Times: BART and mvtool are wall
times of the command (process start and .cfl I/O included) and, for
mvtool, the library call's time (--time); pygrappa is timed in-process.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MVTOOL = os.path.join(ROOT, 'build', 'mvtool')


def readcfl(name):
    with open(name + '.hdr') as f:
        dims = [int(v) for v in f.read().split('\n')[1].split()]
    return np.fromfile(name + '.cfl', dtype=np.complex64).reshape(dims, order='F')


def writecfl(name, a):
    a = np.asarray(a, dtype=np.complex64)
    dims = list(a.shape) + [1] * (16 - a.ndim)
    with open(name + '.hdr', 'w') as f:
        f.write('# Dimensions\n' + ' '.join(str(d) for d in dims) + '\n')
    a.flatten(order='F').tofile(name + '.cfl')


def fftc(x, axes=(0, 1)):
    return np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm='ortho'), axes=axes)


def ifftc(x, axes=(0, 1)):
    return np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm='ortho'), axes=axes)


def rss(k):
    return np.sqrt((np.abs(ifftc(k)) ** 2).sum(axis=-1))


def run(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode:
        sys.exit('failed: %s\n%s%s' % (' '.join(cmd), r.stdout, r.stderr))
    return dt, r.stdout + r.stderr


def undersample(k, R, acs=24):
    ny = k.shape[1]
    m = np.zeros(ny, bool)
    m[(ny // 2) % R::R] = True
    m[ny // 2 - acs // 2:ny // 2 - acs // 2 + acs] = True
    u = k.copy()
    u[:, ~m] = 0
    return u


def aligned_nrmse(m, b):
    ip = np.sum(m * np.conj(b), axis=-1, keepdims=True)
    ph = np.where(np.abs(ip) > 0, ip / np.maximum(np.abs(ip), 1e-30), 1)
    return np.linalg.norm(m * np.conj(ph) - b) / np.linalg.norm(b)


def make_data(d, n):
    rng = np.random.default_rng(1)
    run(['bart', 'phantom', '-x', str(n), '-k', '-s', '8', d + '/k8'])
    k8 = readcfl(d + '/k8').reshape(n, n, 8)
    run(['bart', 'phantom', '-x', str(n), d + '/img'])
    img = readcfl(d + '/img').reshape(n, n)
    x, y = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing='ij')
    maps = []
    for c in range(32):
        a = 2 * np.pi * c / 32
        cx, cy = 1.3 * np.cos(a), 1.3 * np.sin(a)
        mag = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 1.2)
        maps.append(mag * np.exp(1j * (0.8 * x * np.cos(a) + 0.8 * y * np.sin(a) + a)))
    maps = np.stack(maps, -1)
    maps /= np.sqrt((np.abs(maps) ** 2).sum(-1, keepdims=True))
    k32 = fftc(img[:, :, None] * maps).astype(np.complex64)
    out = {}
    for name, k in (('8', k8), ('32', k32)):
        mx = np.abs(k).max()
        noise = 0.002 * mx * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
        kn = (k + noise).astype(np.complex64)
        writecfl(d + '/kn' + name, kn.reshape(n, n, 1, -1))
        out[name] = (k, kn)
    return out


def load_pygrappa():
    try:
        import skimage.util  # noqa: F401
        import skimage.measure  # noqa: F401
    except ImportError:  # stand-ins for what pygrappa's __init__ imports
        sk, sku, skm = (types.ModuleType(m) for m in ('skimage', 'skimage.util', 'skimage.measure'))

        def view_as_windows(a, shape, step=1):
            from numpy.lib.stride_tricks import sliding_window_view
            return sliding_window_view(a, shape)[(slice(None, None, step),) * a.ndim]
        sku.view_as_windows = view_as_windows
        skm.compare_mse = lambda a, b: float(np.mean(np.abs(a - b) ** 2))
        sk.util, sk.measure, sk.__path__ = sku, skm, []
        sys.modules.update({'skimage': sk, 'skimage.util': sku, 'skimage.measure': skm})
    try:
        from pygrappa import cgrappa
        return cgrappa
    except Exception as e:  # noqa: BLE001
        print('pygrappa unavailable (%s): GRAPPA rows without it' % e)
        return None


def grappa_times(n, reps):
    """mvtool grappa --time on the 32-coil data at R = 2, 3, 4: the minimum
    over reps runs of the calibration and application times the library
    reports (one slice, default threads), and the RSS NRMSE against the
    noise-free k-space"""
    print('load average: %s; threads: medvol default' % (os.getloadavg(),))
    print('\n| R | calibration ms | application ms | RSS NRMSE |')
    print('|---|---|---|---|')
    with tempfile.TemporaryDirectory() as d:
        k, kn = make_data(d, n)['32']
        full = rss(k)
        for R in (2, 3, 4):
            writecfl(d + '/g_in', undersample(kn, R).reshape(n, n, 1, 32))
            cal, app = [], []
            for _ in range(reps):
                _, out = run([MVTOOL, 'grappa', '--time', d + '/g_in', d + '/g_out'])
                mm = re.search(r'calibration ([\d.]+) ms, application ([\d.]+) ms', out)
                cal.append(float(mm.group(1)))
                app.append(float(mm.group(2)))
            g = readcfl(d + '/g_out').reshape(n, n, 32)
            em = np.linalg.norm(rss(g) - full) / np.linalg.norm(full)
            print('| %d | %.1f | %.1f | %.6f |' % (R, min(cal), min(app), em))
    print('\nload average after: %s' % (os.getloadavg(),))


def ecalib_times(n, reps, coils):
    """bart ecalib -m1 and mvtool ecalib -m1 --time interleaved, reps runs
    each per coil count: wall times of the commands (/usr/bin/time-like:
    process start and .cfl I/O included), the library call's time, CPU
    time (user + sys of the child), min / median; maps NRMSE vs BART
    (phase aligned) from the last pair"""
    import statistics
    print('load average: %s; threads: medvol default (all cores), BART (OpenMP default)' % (os.getloadavg(),))
    with tempfile.TemporaryDirectory() as d:
        make_data(d, n)
        print('\n| coils | BART wall s min / med | BART CPU s med | medvol wall s min / med | medvol library ms min / med '
              '| medvol CPU s med | BART / medvol (wall, min / med) | maps NRMSE vs BART |')
        print('|---|---|---|---|---|---|---|---|')
        for nc in coils:
            tb, cb, tm, cm, lib = [], [], [], [], []
            for _ in range(reps):
                for who in ('bart', 'mv'):
                    r0 = os.times()
                    if who == 'bart':
                        t, _ = run(['bart', 'ecalib', '-m1', d + '/kn' + nc, d + '/be' + nc])
                    else:
                        t, out = run([MVTOOL, 'ecalib', '-m', '1', '--time', d + '/kn' + nc, d + '/me' + nc])
                        lib.append(float(re.search(r'ecalib: ([\d.]+) ms', out).group(1)))
                    r1 = os.times()
                    c = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
                    (tb if who == 'bart' else tm).append(t)
                    (cb if who == 'bart' else cm).append(c)
            b = readcfl(d + '/be' + nc).reshape(n, n, -1)
            m = readcfl(d + '/me' + nc).reshape(n, n, -1)
            med = statistics.median
            print('| %s | %.3f / %.3f | %.3f | %.3f / %.3f | %.1f / %.1f | %.3f | %.1fx / %.1fx | %.1e |' % (
                nc, min(tb), med(tb), med(cb), min(tm), med(tm), min(lib), med(lib), med(cm), min(tb) / min(tm),
                med(tb) / med(tm), aligned_nrmse(m, b)))
    print('\nload average after: %s' % (os.getloadavg(),))


PICS_CASES = [['-l2', '-r', '0.01', '-i', '30', '-S'], ['-l1', '-r', '0.005', '-i', '30', '-S'],
              ['-l1', '-r', '0.005', '-i', '30', '-n', '-S'], ['-R', 'T:7:0:0.005', '-i', '30', '-S'],
              ['-R', 'W:7:0:0.005', '-R', 'T:7:0:0.005', '-i', '30', '-S']]  # ADMM over two terms
LLR_CASES = [['-R', 'L:7:7:0.02', '-i', '30', '-S'],  # locally low rank, FISTA; then beside TV (ADMM)
             ['-R', 'L:7:7:0.02', '-R', 'T:7:0:0.005', '-i', '30', '-S']]


def pics_row(d, args, kspace, maps, reps, what):
    """bart pics and mvtool pics ARGS on d/KSPACE, d/MAPS, alternately,
    reps each: one table row (min wall, medvol's library time, ratio, the
    images' NRMSE)"""
    tbs, tms, libs = [], [], []
    for _ in range(reps):
        tbs.append(run(['bart', 'pics'] + args + [d + '/' + kspace, d + '/' + maps, d + '/bp'])[0])
        tm, out = run([MVTOOL, 'pics'] + args + ['--time', d + '/' + kspace, d + '/' + maps, d + '/mp'])
        tms.append(tm)
        libs.append(float(re.search(r'pics: ([\d.]+) ms', out).group(1)))
    b, m = readcfl(d + '/bp').squeeze(), readcfl(d + '/mp').squeeze()
    e = np.linalg.norm(m - b) / np.linalg.norm(b)
    print('| pics %s, %s | %.2f s | %.2f s (library %.0f ms) | %.1fx | %.1e |'
          % (' '.join(v.replace(d + '/', '') for v in args), what, min(tbs), min(tms), min(libs), min(tbs) / min(tms), e))


def pics_times(n, reps):
    """pics on 256^2 R=4 8-coil k-space with BART's maps (one, then ecalib's
    two): BART and mvtool
    run alternately, reps each; min wall (process, .cfl I/O) and medvol's
    library time; the images compared first"""
    print('load average: %s' % (os.getloadavg(),))
    with tempfile.TemporaryDirectory() as d:
        data = make_data(d, n)
        k, kn = data['8']
        run(['bart', 'ecalib', '-m1', d + '/kn8', d + '/be8'])
        run(['bart', 'ecalib', '-m2', d + '/kn8', d + '/be82'])  # ESPIRiT's two maps (BART's default)
        writecfl(d + '/u8', undersample(kn, 4).reshape(n, n, 1, 8))
        print('| case | BART 0.8 (min of %d) | medvol (min of %d) | BART / medvol | image NRMSE vs BART |' % (reps, reps))
        print('|---|---|---|---|---|')
        for maps, label in (('be8', ''), ('be82', ', 2 maps')):
            for args in PICS_CASES:
                pics_row(d, args, 'u8', maps, reps, 'R=4, 8 coils' + label)
        # locally low rank over a series: 10 frames of BART's two phantoms mixed with weights that
        # change per frame, each frame R = 4 lines at its own offset (plus 24 centre lines), BART's one map
        run(['bart', 'phantom', '-x', str(n), '-k', '-s', '8', '-G', d + '/kg'])
        kg = readcfl(d + '/kg').reshape(n, n, 8)
        T = 10
        rng = np.random.default_rng(3)
        ks = np.zeros((n, n, 1, 8, 1, T), np.complex64)
        for f in range(T):
            kf = np.exp(-f / 4.0) * kn + (0.2 + 0.1 * f) * kg
            keep = np.zeros(n, bool)
            keep[f % 4::4] = True
            keep[n // 2 - 12:n // 2 + 12] = True
            ks[:, :, 0, :, 0, f] = (kf * keep[None, :, None]).astype(np.complex64)
        ks += (0.001 * np.abs(ks).max() * (rng.standard_normal(ks.shape) + 1j * rng.standard_normal(ks.shape))
               * (ks != 0)).astype(np.complex64)
        writecfl(d + '/s10', ks)
        for args in LLR_CASES:
            pics_row(d, args, 's10', 'be8', reps, '%d frames, R=4, 8 coils' % T)
        subspace_rows(d, n, kn, kg, 'be8', reps)


def subspace_rows(d, n, kn, kg, maps, reps):
    """pics -B (a subspace, T2 shuffling's model): 40 echoes 8 ms apart of
    the two phantoms decaying with T2 80 and 30 ms, each echo R = 8 lines
    at its own offset (plus 16 centre lines), a 4-function basis from the
    SVD of exponential decays (T2 20 .. 200 ms), as T2 shuffling's"""
    T, K = 40, 4
    te = np.arange(T) * 8.0
    u = np.linalg.svd(np.exp(-te[:, None] / np.linspace(20, 200, 50)[None, :]), full_matrices=False)[0][:, :K]
    writecfl(d + '/bas', u.reshape(1, 1, 1, 1, 1, T, K))
    ks = np.zeros((n, n, 1, 8, 1, T), np.complex64)
    for f in range(T):
        keep = np.zeros(n, bool)
        keep[(3 * f) % 8::8] = True
        keep[n // 2 - 8:n // 2 + 8] = True
        kf = np.exp(-te[f] / 80) * kn + np.exp(-te[f] / 30) * kg
        ks[:, :, 0, :, 0, f] = (kf * keep[None, :, None]).astype(np.complex64)
    writecfl(d + '/t2', ks)
    for args in (['-l2', '-r', '0.01', '-i', '30', '-S'], ['-R', 'L:7:7:0.01', '-e', '-i', '30', '-S']):
        pics_row(d, args + ['-B', d + '/bas'], 't2', maps, reps, '%d echoes, K = %d, R=8, 8 coils' % (T, K))
    # radial: 20 echoes of 32 golden-angle spokes each (256 samples), BART's 128^2 phantom decaying with T2 60 ms
    T = 20
    te = np.arange(T) * 10.0
    u = np.linalg.svd(np.exp(-te[:, None] / np.linspace(20, 200, 50)[None, :]), full_matrices=False)[0][:, :K]
    writecfl(d + '/basr', u.reshape(1, 1, 1, 1, 1, T, K))
    run(['bart', 'traj', '-x', '256', '-y', str(32 * T), '-r', '-G', d + '/t0'])
    run(['bart', 'reshape', str(4 | 32), '32', str(T), d + '/t0', d + '/tr'])
    run(['bart', 'phantom', '-x', '128', '-k', '-s', '8', '-t', d + '/tr', d + '/kr0'])
    run(['bart', 'phantom', '-x', '128', '-S', '8', d + '/sr'])
    writecfl(d + '/kr', readcfl(d + '/kr0') * np.exp(-te / 60).reshape((1,) * 5 + (T,) + (1,) * 10))
    pics_row(d, ['-l2', '-r', '0.01', '-i', '10', '-S', '-B', d + '/basr', '-t', d + '/tr'], 'kr', 'sr', reps,
             'radial 128^2, %d echoes x 32 spokes, K = %d, 8 coils' % (T, K))


def nlinv_rows(d, n, kn, reps):
    """nlinv (BART's defaults, and -m 2 -i 6) on 256^2 x 8 coils at R = 3 with
    24 centre lines; BART and mvtool alternately, reps each; the images
    compared (BART's inner CG stops on a loose rule: at -i 8 the two agree
    to ~1e-4 .. 1e-2, see README)"""
    writecfl(d + '/u3', undersample(kn, 3).reshape(n, n, 1, 8))
    for args in ([], ['-m', '2', '-i', '6']):
        tbs, tms, libs = [], [], []
        for _ in range(reps):
            tbs.append(run(['bart', 'nlinv'] + args + [d + '/u3', d + '/bn'])[0])
            tm, out = run([MVTOOL, 'nlinv'] + args + ['--time', d + '/u3', d + '/mn'])
            tms.append(tm)
            libs.append(float(re.search(r'nlinv: ([\d.]+) ms', out).group(1)))
        b, m = readcfl(d + '/bn').squeeze(), readcfl(d + '/mn').squeeze()
        e = np.linalg.norm(m - b) / np.linalg.norm(b)
        print('| nlinv %s, R=3, 8 coils | %.2f s | %.2f s (library %.0f ms) | %.1fx | %.1e |'
              % (' '.join(args) or '(defaults: -i 8)', min(tbs), min(tms), min(libs), min(tbs) / min(tms), e))
    # radial (nlinv -t): 64 golden-angle spokes of 256 samples (the phantom's 8-coil k-space on them), an
    # image of 256^2 reconstructed on BART's doubled 512^2 grid; 1e-3-level differences are BART's gridding
    run(['bart', 'traj', '-r', '-x', '256', '-y', '64', '-G', d + '/tr'])
    run(['bart', 'phantom', '-k', '-s', '8', '-t', d + '/tr', d + '/kr'])
    tbs, tms, libs = [], [], []
    for _ in range(reps):
        tbs.append(run(['bart', 'nlinv', '-t', d + '/tr', d + '/kr', d + '/bn'])[0])
        tm, out = run([MVTOOL, 'nlinv', '-t', d + '/tr', '--time', d + '/kr', d + '/mn'])
        tms.append(tm)
        libs.append(float(re.search(r'nlinv: ([\d.]+) ms', out).group(1)))
    b, m = readcfl(d + '/bn').squeeze(), readcfl(d + '/mn').squeeze()
    e = np.linalg.norm(m - b) / np.linalg.norm(b)
    print('| nlinv -t (defaults: -i 8), radial 64 x 256 golden angle, 8 coils, 512^2 grid | %.2f s | %.2f s (library %.0f ms) | %.1fx | %.1e |'
          % (min(tbs), min(tms), min(libs), min(tbs) / min(tms), e))


def time_pair(bart_cmd, mv_cmd, reps, key):
    """BART's and mvtool's commands alternately, reps each: the least wall
    time of each and mvtool's least library time (its --time line "KEY: T
    ms")"""
    tbs, tms, libs = [], [], []
    for _ in range(reps):
        tbs.append(run(bart_cmd)[0])
        tm, out = run(mv_cmd)
        tms.append(tm)
        libs.append(float(re.search(key + r': ([\d.]+) ms', out).group(1)))
    return min(tbs), min(tms), min(libs)


def table_head(reps, last):
    print('load average: %s' % (os.getloadavg(),))
    print('| case | BART 0.8 (min of %d) | medvol (min of %d) | BART / medvol | %s |' % (reps, reps, last))
    print('|---|---|---|---|---|')


def cc_sign_nrmse(m, b):
    """virtual coils (BART's axis 3) compared each up to a real sign (an
    eigenvector's sign is its solver's): the worst relative error of the
    first three and of all (a coil whose eigenvalue lies close to the next
    one's is ill-conditioned: BART's float32 eigensolver then leaves it
    about 5e-9 / gap from the float64 vector, gap relative to the largest)"""
    m, b = np.moveaxis(m, 3, -1), np.moveaxis(b, 3, -1)  # BART's coil axis 3
    m, b = m.reshape(-1, m.shape[-1]), b.reshape(-1, b.shape[-1])
    err = []
    for q in range(b.shape[1]):
        s = np.sign(np.vdot(b[:, q], m[:, q]).real) or 1.0
        err.append(np.linalg.norm(m[:, q] - s * b[:, q]) / np.linalg.norm(b[:, q]))
    return '%.1e / %.1e' % (max(err[:3]), max(err))


def cc_rows(d, n, kn32, reps):
    """coil compression, 32 coils to 8: bart cc -S / -G / -A and ccapply -G
    on BART's own matrix, 2D 256^2 and a 3D 128^2 x 32 volume (the 2D
    data's centre repeated along z with its own noise); BART and mvtool
    alternately, reps each; the virtual coils compared up to their signs"""
    rng = np.random.default_rng(2)
    c = kn32[n // 2 - 64:n // 2 + 64, n // 2 - 64:n // 2 + 64]
    k3 = np.repeat(c[:, :, None, :], 32, axis=2)
    k3 = k3 + 0.002 * np.abs(c).max() * (rng.standard_normal(k3.shape) + 1j * rng.standard_normal(k3.shape))
    writecfl(d + '/k3', k3.astype(np.complex64))
    cases = [('cc -p 8 -S, 256^2 x 32 coils', ['cc', '-p', '8', '-S'], 'kn32'),
             ('cc -p 8 -G, 256^2 x 32 coils', ['cc', '-p', '8', '-G'], 'kn32'),
             ('cc -p 8 -S -A, 256^2 x 32 coils', ['cc', '-p', '8', '-S', '-A'], 'kn32'),
             ('cc -p 8 -S, 128^2 x 32 x 32 coils (3D)', ['cc', '-p', '8', '-S'], 'k3'),
             ('cc -p 8 -G, 128^2 x 32 x 32 coils (3D)', ['cc', '-p', '8', '-G'], 'k3')]
    run(['bart', 'cc', '-M', '-G', d + '/k3', d + '/mat3'])
    for what, args, k in cases + [('ccapply -p 8 -G (BART\'s matrix), 128^2 x 32 x 32 coils (3D)',
                                    ['ccapply', '-p', '8', '-G'], 'k3')]:
        extra = [d + '/mat3'] if args[0] == 'ccapply' else []
        tb, tm, lib = time_pair(['bart'] + args + [d + '/' + k] + extra + [d + '/bc'],
                                [MVTOOL] + args + ['--time', d + '/' + k] + extra + [d + '/mc'], reps, args[0])
        b, m = readcfl(d + '/bc'), readcfl(d + '/mc')
        e = '%.1e' % (np.linalg.norm(m - b) / np.linalg.norm(b)) if args[0] == 'ccapply' else cc_sign_nrmse(m, b)
        print('| %s | %.2f s | %.2f s (library %.0f ms) | %.1fx | %s |' % (what, tb, tm, lib, tb / tm, e))
    # homodyne: 5/8 of the y lines kept, every coil
    for name, k in (('256^2 x 32 coils', kn32.reshape(n, n, 1, 32)), ('128^2 x 32 x 32 coils (3D)', k3)):
        kp = np.array(k, np.complex64)
        kp[:, (5 * kp.shape[1] + 7) // 8:] = 0
        writecfl(d + '/hp', kp)
        tb, tm, lib = time_pair(['bart', 'homodyne', '1', '0.625', d + '/hp', d + '/bh'],
                                [MVTOOL, 'homodyne', '--time', '1', '0.625', d + '/hp', d + '/mh'], reps, 'homodyne')
        b, m = readcfl(d + '/bh'), readcfl(d + '/mh')
        print('| homodyne 1 0.625, %s | %.2f s | %.2f s (library %.0f ms) | %.1fx | %.1e (image) |'
              % (name, tb, tm, lib, tb / tm, np.linalg.norm(m - b) / np.linalg.norm(b)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--quick', action='store_true', help='skip the 32-coil BART ecalib and pygrappa R=4 (the slow ones)')
    ap.add_argument('--grappa-only', action='store_true',
                    help='only medvol GRAPPA at R = 2, 3, 4 (32 coils): library times, min of --reps runs, and RSS NRMSE')
    ap.add_argument('--reps', type=int, default=5, help='runs per R with --grappa-only, per tool with --ecalib-only (default 5)')
    ap.add_argument('--ecalib-only', action='store_true',
                    help='only ecalib -m1, BART and medvol interleaved, --reps runs each (8 and 32 coils; 8 with --quick)')
    ap.add_argument('--subspace-only', action='store_true',
                    help='only pics -B (-l2, -R L) on a 40-echo series with a 4-function basis, BART and medvol interleaved, --reps runs each')
    ap.add_argument('--nlinv-only', action='store_true',
                    help='only nlinv (defaults; -m 2 -i 6) on 256^2 R=3 8-coil k-space, BART and medvol interleaved, --reps runs each')
    ap.add_argument('--cc-only', action='store_true',
                    help='only cc (-S, -G, -A) and ccapply -G, 32 coils to 8, and homodyne, 2D and 3D, BART and medvol interleaved, --reps runs each')
    ap.add_argument('--pics-only', action='store_true',
                    help='only pics -l2, -l1, -R T and -R W -R T (Cartesian R=4, 8 coils, BART\'s maps) and -R L on a 10-frame series, BART and medvol interleaved, --reps runs each')
    a = ap.parse_args()
    if not os.path.exists(MVTOOL):
        sys.exit('build/mvtool missing: make build/mvtool')
    n = a.size
    if a.grappa_only:
        grappa_times(n, a.reps)
        return
    if a.ecalib_only:
        ecalib_times(n, a.reps, ('8',) if a.quick else ('8', '32'))
        return
    if a.pics_only:
        pics_times(n, a.reps)
        return
    if a.cc_only:
        with tempfile.TemporaryDirectory() as d:
            data = make_data(d, n)
            table_head(a.reps, 'virtual coils vs BART (up to sign): first 3 / all')
            cc_rows(d, n, data['32'][1], a.reps)
        return
    if a.nlinv_only:
        with tempfile.TemporaryDirectory() as d:
            data = make_data(d, n)
            print('load average: %s' % (os.getloadavg(),))
            print('| case | BART 0.8 (min of %d) | medvol (min of %d) | BART / medvol | image NRMSE vs BART |' % (a.reps, a.reps))
            print('|---|---|---|---|---|')
            nlinv_rows(d, n, data['8'][1], a.reps)
        return
    if a.subspace_only:
        with tempfile.TemporaryDirectory() as d:
            data = make_data(d, n)
            run(['bart', 'ecalib', '-m1', d + '/kn8', d + '/be8'])
            run(['bart', 'phantom', '-x', str(n), '-k', '-s', '8', '-G', d + '/kg'])
            print('load average: %s' % (os.getloadavg(),))
            print('| case | BART 0.8 (min of %d) | medvol (min of %d) | BART / medvol | image NRMSE vs BART |' % (a.reps, a.reps))
            print('|---|---|---|---|---|')
            subspace_rows(d, n, data['8'][1], readcfl(d + '/kg').reshape(n, n, 8), 'be8', a.reps)
        return
    rows = []
    print('load average: %s; threads: medvol 2 (default), BART (OpenMP default), pygrappa 1' % (os.getloadavg(),))
    with tempfile.TemporaryDirectory() as d:
        data = make_data(d, n)
        # ESPIRiT
        for nc in ('8', '32'):
            if nc == '32' and a.quick:
                continue
            tb, _ = run(['bart', 'ecalib', '-m1', d + '/kn' + nc, d + '/be' + nc])
            tm, out = run([MVTOOL, 'ecalib', '-m', '1', '--time', d + '/kn' + nc, d + '/me' + nc])
            lib = float(re.search(r'ecalib: ([\d.]+) ms', out).group(1))
            b = readcfl(d + '/be' + nc).reshape(n, n, -1)
            m = readcfl(d + '/me' + nc).reshape(n, n, -1)
            e = aligned_nrmse(m, b)
            rows.append(('ecalib -m1, %s coils' % nc, 'BART %.2f s' % tb, 'medvol %.2f s (library %.0f ms)' % (tm, lib),
                         '%.1fx' % (tb / tm), 'maps NRMSE %.1e (phase aligned)' % e))
        # CG-SENSE, R = 4, 8 coils, BART's maps for both
        k, kn = data['8']
        writecfl(d + '/u8', undersample(kn, 4).reshape(n, n, 1, 8))
        tb, _ = run(['bart', 'pics', '-l2', '-r', '0.01', '-i', '30', '-S', d + '/u8', d + '/be8', d + '/bp'])
        tm, out = run([MVTOOL, 'pics', '-l2', '-r', '0.01', '-i', '30', '-S', '--time', d + '/u8', d + '/be8', d + '/mp'])
        lib = float(re.search(r'pics: ([\d.]+) ms', out).group(1))
        b = readcfl(d + '/bp').squeeze()
        m = readcfl(d + '/mp').squeeze()
        e = np.linalg.norm(m - b) / np.linalg.norm(b)
        rows.append(('pics -l2 -r 0.01 -i 30, R=4, 8 coils', 'BART %.2f s' % tb, 'medvol %.2f s (library %.0f ms)' % (tm, lib),
                     '%.1fx' % (tb / tm), 'image NRMSE %.1e' % e))
        # l1-wavelet (FISTA, BART's cycle spinning), same data and maps
        tb, _ = run(['bart', 'pics', '-l1', '-r', '0.005', '-i', '30', '-S', d + '/u8', d + '/be8', d + '/bl'])
        tm, out = run([MVTOOL, 'pics', '-l1', '-r', '0.005', '-i', '30', '-S', '--time', d + '/u8', d + '/be8', d + '/ml'])
        lib = float(re.search(r'pics: ([\d.]+) ms', out).group(1))
        b, m = readcfl(d + '/bl').squeeze(), readcfl(d + '/ml').squeeze()
        e = np.linalg.norm(m - b) / np.linalg.norm(b)
        rows.append(('pics -l1 -r 0.005 -i 30, R=4, 8 coils', 'BART %.2f s' % tb, 'medvol %.2f s (library %.0f ms)' % (tm, lib),
                     '%.1fx' % (tb / tm), 'image NRMSE %.1e' % e))
        # non-Cartesian CG-SENSE: BART's radial phantom, 64 uniform
        # spokes x 512 samples (2x readout oversampling, bart traj -x 512 +
        # scale 0.5), BART's analytic maps, 8 coils, 256^2
        run(['bart', 'traj', '-r', '-x', str(2 * n), '-y', '64', d + '/nt0'])
        run(['bart', 'scale', '0.5', d + '/nt0', d + '/nt'])
        run(['bart', 'phantom', '-k', '-s', '8', '-t', d + '/nt', d + '/nk'])
        run(['bart', 'phantom', '-S', '8', '-x', str(n), d + '/ns'])
        tb, _ = run(['bart', 'pics', '-l2', '-r', '0.01', '-i', '30', '-S', '-t', d + '/nt', d + '/nk', d + '/ns', d + '/nbp'])
        tm, out = run([MVTOOL, 'pics', '-l2', '-r', '0.01', '-i', '30', '-S', '-t', d + '/nt', '--time', d + '/nk', d + '/ns',
                       d + '/nmp'])
        lib = float(re.search(r'pics: ([\d.]+) ms', out).group(1))
        b = readcfl(d + '/nbp').squeeze()
        m = readcfl(d + '/nmp').squeeze()
        e = np.linalg.norm(m - b) / np.linalg.norm(b)
        rows.append(('pics -l2 -r 0.01 -i 30 -t, radial 64 x 512, 8 coils', 'BART %.2f s' % tb,
                     'medvol %.2f s (library %.0f ms)' % (tm, lib), '%.1fx' % (tb / tm), 'image NRMSE %.1e' % e))
        # GRAPPA, 32 coils
        cg = load_pygrappa()
        k, kn = data['32']
        full = rss(k)
        for R in (2, 3, 4):
            u = undersample(kn, R)
            writecfl(d + '/g_in', u.reshape(n, n, 1, 32))
            tm, out = run([MVTOOL, 'grappa', '--time', d + '/g_in', d + '/g_out'])
            mm = re.search(r'calibration ([\d.]+) ms, application ([\d.]+) ms', out)
            g = readcfl(d + '/g_out').reshape(n, n, 32)
            em = np.linalg.norm(rss(g) - full) / np.linalg.norm(full)
            prow = 'pygrappa: not run'
            tp = None
            if cg is not None and not (a.quick and R == 4):
                acq = np.any(u != 0, axis=(0, 2))
                a0 = a1 = n // 2
                while a0 > 0 and acq[a0 - 1]:
                    a0 -= 1
                while a1 < n and acq[a1]:
                    a1 += 1
                t = time.perf_counter()
                p = cg(u.astype(np.complex128), u[:, a0:a1].astype(np.complex128), kernel_size=(5, 5), coil_axis=-1, lamda=0.01)
                tp = time.perf_counter() - t
                ep = np.linalg.norm(rss(p) - full) / np.linalg.norm(full)
                prow = 'pygrappa %.2f s, RSS NRMSE %.4f' % (tp, ep)
            rows.append(('grappa R=%d, 24 ACS, 32 coils' % R, prow,
                         'medvol %.2f s (calibration %s ms, application %s ms), RSS NRMSE %.4f' % (tm, mm.group(1), mm.group(2), em),
                         '%.0fx' % (tp / tm) if tp else '-', 'zero-filled NRMSE %.4f' % (np.linalg.norm(rss(u) - full) / np.linalg.norm(full))))
    print('\n| case | peer | medvol | peer / medvol (wall) | check |')
    print('|---|---|---|---|---|')
    for r in rows:
        print('| ' + ' | '.join(r) + ' |')
    print('\nload average after: %s' % (os.getloadavg(),))


if __name__ == '__main__':
    main()
