#!/usr/bin/python3
"""Write the chunked .h5 seeds of tests/fuzz/corpus/h5 that h5py (the HDF
Group's library) makes, small enough for the fuzzer's 8 KiB inputs, and
read by tests/test_register.c (register.itk_h5_compressed): ITK's layout of
AffineTransform_double_3_3, parameters 1 .1 0 0 1 0 0 0 1 1 2 3, centre
4 5 6 (the transform of the seeds sitk_affine3d and h5py_earliest).

h5py_earliest_btree_deflate  HDF5's earliest format: the parameters in 3
    chunks of 4 under shuffle, deflate and Fletcher-32, the chunk B-tree's
    nodes made to hold 2 entries (H5Pset_istore_k 1): a tree of two levels.
h5py_latest_farray_deflate   the latest format, big-endian float64: the
    parameters in 3 chunks of 5 (a fixed array index) under Fletcher-32 and
    deflate, the centre in 2 chunks of 2 shuffled.
h5py_latest_implicit         the latest format, float32, allocated early
    and unfiltered: the implicit chunk index.

    /usr/bin/python3 tests/py/make_h5py_h5_seeds.py tests/fuzz/corpus/h5

(Debian's python3-h5py 3.7, HDF5 1.10.8.)
"""
import ctypes
import sys

import h5py
import numpy as np


def hdf5_library():
    for line in open('/proc/self/maps'):
        path = line.split()[-1]
        name = path.rsplit('/', 1)[-1]
        if name.startswith('libhdf5') and '_hl' not in name and '.so' in name:
            return ctypes.CDLL(path)
    raise SystemExit('libhdf5 not found in the process')


def put(g, name, data, chunks, filters, early):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((chunks,))
    for f in filters:
        if f == 'gzip':
            dcpl.set_deflate(6)
        elif f == 'shuffle':
            dcpl.set_shuffle()
        else:
            dcpl.set_fletcher32()
    if early:
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    space = h5py.h5s.create_simple((len(data),), (len(data),))
    ds = h5py.h5d.create(g.id, name.encode(), h5py.h5t.py_create(data.dtype), space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(data))


def make(path, libver, dtype, par, fix, early=False):
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if libver == 'earliest':
        lib = hdf5_library()
        if lib.H5Pset_istore_k(ctypes.c_int64(fcpl.id), ctypes.c_uint(1)) < 0 or \
                lib.H5Pset_sym_k(ctypes.c_int64(fcpl.id), ctypes.c_uint(1), ctypes.c_uint(1)) < 0:
            raise SystemExit('H5Pset_istore_k / H5Pset_sym_k failed')
        fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
    else:
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    with h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)) as f:
        g = f.create_group('TransformGroup').create_group('0')
        g.create_dataset('TransformType', data=np.array([b'AffineTransform_double_3_3'], dtype=object),
                         dtype=h5py.string_dtype('ascii'))
        put(g, 'TransformFixedParameters', np.array([4, 5, 6], dtype), fix[0], fix[1], early)
        put(g, 'TransformParameters', np.array([1, 0.1, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3], dtype), par[0], par[1], early)


def main(out):
    make(out + '/h5py_earliest_btree_deflate', 'earliest', '<f8', (4, ['shuffle', 'gzip', 'fletcher32']), (2, ['gzip']))
    make(out + '/h5py_latest_farray_deflate', 'latest', '>f8', (5, ['fletcher32', 'gzip']), (2, ['shuffle']))
    make(out + '/h5py_latest_implicit', 'latest', '<f4', (5, []), (2, []), early=True)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '.')
