#!/usr/bin/env python3
"""check_slicer_seg.py DIFF_SITK - 3D Slicer's segmentation files through medvol.

    /usr/bin/python3 tests/py/check_slicer_seg.py build/diff_sitk

The inputs are the two .seg.nrrd files that 3D Slicer wrote and slicerio
(PyPI, the Slicer project's reader) ships as its test data: one labelmap
(3D) and one with overlapping segments (two layers: a list axis first).
Their segment names, colours, label values, layers, extents and terminology
are NRRD key/value pairs (Segment0_Name:=ribs ...). For each file:
  - medvol's pairs (mv_load, meta.kv) have the keys of the header's
    "key:=value" lines in their order, and the values of SimpleITK's
    metadata dictionary of the file (unescaped by teem: Slicer writes a
    conversion parameter's newlines as "\n");
  - medvol's kept fields (NRRD_kinds[i] under ITK's names, the layered
    file's NRRD_kinds[pixel] list) are those of SimpleITK's dictionary;
  - medvol's .seg.nrrd written from it (mv_save, gzip) is read by SimpleITK
    as the same image with the same pairs and fields, and by slicerio as
    the same segmentation: every segment field, the voxels (the layers
    too: slicerio reads them only from an axis of kind list, which medvol
    writes back from the kept kind; ITK's writer says vector), the
    IJK-to-LPS matrix.
Exit 0 when all hold, 1 on a failure (named), 2 usage. Debian's python3 with
SimpleITK and slicerio from PyPI (.ci/run installs them).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import SimpleITK as sitk
import slicerio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_sitk import Failure, check_sitk_reads, mv_pairs, sitk_fields, sitk_pairs  # noqa: E402


def file_keys(path):
    """the keys of the header's key:=value lines, in order"""
    with open(path, 'rb') as f:
        blob = f.read()
    out = []
    for ln in blob[:blob.find(b'\n\n')].decode().splitlines()[1:]:
        if not ln.startswith('#') and ':=' in ln:
            out.append(ln.split(':=', 1)[0])
    return out


def check(exe, src, tmp):
    run = lambda *a: subprocess.run([exe] + list(a), check=True, capture_output=True, text=True)
    ld = [os.path.join(tmp, n) for n in ('ld.raw', 'ld.mat', 'ld.kv')]
    run('mha-load', src, *ld)
    got = mv_pairs(ld[2])
    fields = {k: v for k, v in got.items() if k.startswith('NRRD_')}
    got = {k: v for k, v in got.items() if not k.startswith('NRRD_')}
    if list(got) != file_keys(src):
        raise Failure('%s: medvol\'s keys\n%s\nthe header\'s\n%s' % (src, list(got), file_keys(src)))
    ref = sitk.ReadImage(src)
    if got != sitk_pairs(ref):
        raise Failure('%s: medvol\'s pairs differ from SimpleITK\'s dictionary: %s' % (
            src, [k for k in got if got[k] != sitk_pairs(ref).get(k)]))
    layers = ref.GetNumberOfComponentsPerPixel()
    if fields != sitk_fields(ref):
        raise Failure('%s: medvol\'s kept fields %r, SimpleITK\'s %r' % (src, fields, sitk_fields(ref)))
    dst = os.path.join(tmp, 'mv.seg.nrrd')
    run('convert', src, dst, '1', '6')
    check_sitk_reads(dst, ref)
    back = sitk.ReadImage(dst)
    if sitk_pairs(back) != sitk_pairs(ref) or sitk_fields(back) != sitk_fields(ref):
        raise Failure('%s read by SimpleITK: its pairs or fields differ from %s\'s' % (dst, src))
    a, b = slicerio.read_segmentation(src), slicerio.read_segmentation(dst)
    if a['segments'] != b['segments']:
        raise Failure('%s read by slicerio: segments\n%s\nfrom %s\n%s' % (dst, b['segments'], src, a['segments']))
    if not np.array_equal(a['voxels'], b['voxels']):
        raise Failure('%s read by slicerio: the voxels differ' % dst)
    if np.max(np.abs(np.array(a['ijkToLPS']) - np.array(b['ijkToLPS']))) > 1e-9:
        raise Failure('%s read by slicerio: ijkToLPS\n%s\nfrom\n%s' % (dst, b['ijkToLPS'], a['ijkToLPS']))
    return '%d pairs, %d segments%s: SimpleITK and slicerio' % (
        len(got), len(a['segments']), ', %d layers' % layers if layers > 1 else '')


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    exe = os.path.abspath(sys.argv[1])
    data = os.path.join(os.path.dirname(slicerio.__file__), 'data')
    bad = 0
    for name in ('Segmentation.seg.nrrd', 'SegmentationOverlapping.seg.nrrd'):
        with tempfile.TemporaryDirectory(prefix='slicer_seg.') as tmp:
            try:
                print('%-34s ok (%s)' % (name, check(exe, os.path.join(data, name), tmp)))
            except (Failure, subprocess.CalledProcessError) as e:
                bad += 1
                print('FAIL %s: %s' % (name, getattr(e, 'stderr', None) or e))
    print('check_slicer_seg: %d failures' % bad)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
