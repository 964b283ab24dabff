"""pygrappa's GRAPPA (cgrappa, its C++ kernel) on a BART .cfl k-space, for
tests/test_recon.c and bench/recon_bench.py. Runs under whichever python has
pygrappa (.ci/run installs it, --no-deps, into Debian's /usr/bin/python3;
the test tries the python3 on PATH first, then that one).

  ref_pygrappa.py IN OUT [KX KY]   exit 77 when pygrappa cannot be imported

IN: undersampled k-space (x, y, 1, C) with a fully sampled centre; the ACS
given to pygrappa is the block of fully sampled centre lines (as medvol
detects it). OUT: the filled k-space. pygrappa's package __init__ imports
scikit-image (view_as_windows, compare_mse) for modules we do not use; when
scikit-image is absent, numpy stand-ins are registered first.
"""
import sys
import time
import types

try:
    import numpy as np
except ImportError as e:  # the python3 on PATH may lack numpy: a skip, not a failure
    print('numpy unavailable: %s' % e)
    sys.exit(77)

try:
    import skimage.util  # noqa: F401
    import skimage.measure  # noqa: F401
except ImportError:
    sk = types.ModuleType('skimage')
    sku = types.ModuleType('skimage.util')
    skm = types.ModuleType('skimage.measure')

    def view_as_windows(a, shape, step=1):
        from numpy.lib.stride_tricks import sliding_window_view
        return sliding_window_view(a, shape)[(slice(None, None, step),) * a.ndim]

    sku.view_as_windows = view_as_windows
    skm.compare_mse = lambda a, b: float(np.mean(np.abs(a - b) ** 2))
    sk.util, sk.measure, sk.__path__ = sku, skm, []
    sys.modules.update({'skimage': sk, 'skimage.util': sku, 'skimage.measure': skm})
try:
    from pygrappa import cgrappa
except Exception as e:  # noqa: BLE001
    print('pygrappa unavailable: %s' % e)
    sys.exit(77)


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


def main():
    k = readcfl(sys.argv[1])
    nx, ny, nc = k.shape[0], k.shape[1], k.shape[3]
    k = k.reshape(nx, ny, nc)
    kern = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (5, 5)
    acq = np.any(k != 0, axis=(0, 2))
    c = ny // 2
    a0 = c
    while a0 > 0 and acq[a0 - 1]:
        a0 -= 1
    a1 = c
    while a1 < ny and acq[a1]:
        a1 += 1
    calib = k[:, a0:a1, :].copy()
    t = time.perf_counter()
    res = cgrappa(k.astype(np.complex128), calib.astype(np.complex128), kernel_size=kern, coil_axis=-1, lamda=0.01)
    dt = time.perf_counter() - t
    writecfl(sys.argv[2], res.reshape(nx, ny, 1, nc))
    print('%.6f' % dt)


if __name__ == '__main__':
    main()
