#!/usr/bin/env python3
"""One-member gzip files for the tests of decoding one member on several
threads (gzip.one_member_on_threads, gzip.parallel_engine; Debian's
/usr/bin/python3: numpy, nibabel). usage: ref_gzpar.py DIR [MIB]. Each case
is NAME.gz and NAME.raw in DIR, about MIB MiB each (default 3; the test
build splits reads of 512 KiB and more, MEDVOL_GZIP_PARALLEL_CHUNK 256 KiB;
40 for the shipped 16 MiB). The bytes come from zlib (Python's zlib
module), gzip(1), pigz and nibabel, never from medvol; cases whose tool is
missing are left out. MetaImage files (NAME.mha, NAME.raw) hold one zlib
stream each (Python's zlib, as ITK's MetaIO writes: compress2), and where
SimpleITK is installed one that ITK itself wrote (sitk_i16)."""
import gzip
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np


def member(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY):
    c = zlib.compressobj(level, zlib.DEFLATED, 31, 9, strategy)  # 31: a gzip wrapper
    return c.compress(data) + c.flush()


def ball_int16(rng, shape):
    """a head-like int16 volume: a smooth ellipsoid with noise in a zero background"""
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    c = [s / 2.0 for s in shape]
    inside = ((x - c[2]) / (0.4 * shape[2])) ** 2 + ((y - c[1]) / (0.43 * shape[1])) ** 2 + \
        ((z - c[0]) / (0.44 * shape[0])) ** 2 < 1
    v = 900 + 300 * np.sin(x / 9.0) * np.cos(y / 13.0) + 40 * rng.standard_normal(shape)
    return np.where(inside, v, 0).astype('<i2')


def main(out, mib):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261127)
    size = int(mib * (1 << 20))
    vol = ball_int16(rng, (max(size // (2 * 128 * 128), 8), 128, 128))
    i16 = vol.tobytes()
    f32 = (100 * rng.standard_normal(size // 4)).astype('<f4').tobytes()
    text = b' '.join(b'voxel%d spacing %.3f' % (i % 997, i * 0.001) for i in range(size // 24))
    sparse = bytearray(size)
    sparse[size // 3:size // 3 + size // 48] = rng.integers(0, 256, size // 48, dtype=np.uint8).tobytes()
    cases = {
        'i16_z6': (member(i16, 6), i16),
        'f32_z6': (member(f32, 6), f32),
        'f32_z1': (member(f32, 1), f32),
        'i16_z9': (member(i16, 9), i16),
        'text_z9': (member(text, 9), text),          # every match copies an earlier one
        'sparse_z6': (member(bytes(sparse), 6), bytes(sparse)),
        'i16_fixed': (member(i16, 6, zlib.Z_FIXED), i16),  # no dynamic block to find
        'f32_huff': (member(f32, 6, zlib.Z_HUFFMAN_ONLY), f32),  # no matches at all
        'f32_stored': (member(f32, 0), f32),          # stored blocks only
        'two_members': (member(i16, 6) + member(f32, 9), i16 + f32),
    }
    for name, (blob, raw) in cases.items():
        assert gzip.decompress(blob) == raw
        open(os.path.join(out, name + '.gz'), 'wb').write(blob)
        open(os.path.join(out, name + '.raw'), 'wb').write(raw)
    mixed = os.path.join(out, 'mixed.raw')
    open(mixed, 'wb').write(i16 + f32)
    # pigz: parts of 32 KiB (-b 32), each ended by an empty stored block
    for tool, args, name in (('gzip', ['-9'], 'gzip9'), ('pigz', ['-6', '-b', '32'], 'pigz6')):
        if shutil.which(tool):
            blob = subprocess.run([tool, '-c'] + args + [mixed], capture_output=True, check=True).stdout
            open(os.path.join(out, name + '.gz'), 'wb').write(blob)
            shutil.copyfile(mixed, os.path.join(out, name + '.raw'))
    os.remove(mixed)
    # MetaImage with CompressedData: one zlib stream (RFC 1950) after the header
    def mha(name, raw, etype, dims, level):
        z = zlib.compress(raw, level)
        hdr = ('ObjectType = Image\nNDims = %d\nBinaryData = True\nBinaryDataByteOrderMSB = False\n'
               'CompressedData = True\nCompressedDataSize = %d\nDimSize = %s\nElementSpacing = %s\n'
               'ElementType = %s\nElementDataFile = LOCAL\n' %
               (len(dims), len(z), ' '.join(map(str, dims)), ' '.join(['1'] * len(dims)), etype))
        open(os.path.join(out, name + '.mha'), 'wb').write(hdr.encode() + z)
        open(os.path.join(out, name + '.raw'), 'wb').write(raw)
    mha('i16_zlib6', i16, 'MET_SHORT', vol.shape[::-1], 6)
    mha('i16_zlib9', i16, 'MET_SHORT', vol.shape[::-1], 9)
    mha('f32_zlib1', f32, 'MET_FLOAT', [128, 128, len(f32) // (4 * 128 * 128)], 1)
    mha('text_zlib9', text, 'MET_UCHAR', [len(text)], 9)
    try:
        import SimpleITK as sitk
        sitk.WriteImage(sitk.GetImageFromArray(vol), os.path.join(out, 'sitk_i16.mha'), useCompression=True)
        open(os.path.join(out, 'sitk_i16.raw'), 'wb').write(i16)
    except ImportError:
        pass
    # nibabel's own .nii.gz (one member, written by Python's gzip module)
    import nibabel as nib
    img = nib.Nifti1Image(np.ascontiguousarray(vol.transpose(2, 1, 0)), np.diag([0.9, 0.9, 1.1, 1.0]))
    nib.save(img, os.path.join(out, 'ball.nii.gz'))
    back = np.asanyarray(nib.load(os.path.join(out, 'ball.nii.gz')).dataobj)
    open(os.path.join(out, 'ball.raw'), 'wb').write(back.astype('<i2').tobytes(order='F'))
    print('ok')


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3)
