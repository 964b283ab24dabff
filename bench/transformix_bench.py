#!/usr/bin/python3
"""mvtool transformix beside elastix's transformix on the same files
(Debian's /usr/bin/python3 with numpy and nibabel; transformix from
Debian's elastix package): make bench-transformix.

  /usr/bin/python3 bench/transformix_bench.py MVTOOL [SIZE [ROUNDS]]

A SIZE^3 float32 moving image (1 mm, smooth blobs) and a two-file chain as
elastix writes it after an affine + B-spline run: an AffineTransform (a
small rotation, translation, scaling) and a BSplineTransform of order 3
(10 mm grid, coefficients up to 4 mm) that names it as its initial
transform, on a SIZE^3 fixed grid. Three jobs, each run by both tools with
the same arguments and 2 threads: -def all (the displacement field), -in
with FinalBSplineInterpolationOrder 1 and 3 (the resampled image). Each
job's outputs are compared first (result.nii within 1e-4 of the image's
range, the field within 1e-4 mm), then the tools run ROUNDS interleaved
times; the table gives the median and minimum wall time of the whole
process (reading, computing, writing .nii) and transformix / mvtool.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import nibabel as nib


def tp_files(d, n, rng):
    S = np.diag([-1.0, -1.0, 1.0])
    c = np.full(3, (n - 1) / 2.0)
    geo = ['(FixedImageDimension 3)', '(MovingImageDimension 3)', '(Size %d %d %d)' % (n, n, n), '(Index 0 0 0)',
           '(Spacing 1 1 1)', '(Origin %g %g %g)' % tuple(S @ -c), '(Direction -1 0 0 0 -1 0 0 0 1)',
           '(UseDirectionCosines "true")', '(ResultImageFormat "nii")', '(ResultImagePixelType "float")',
           '(DefaultPixelValue 0)', '(Resampler "DefaultResampler")']
    a, b = 0.05, -0.03
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]) @ \
        np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]]) * 1.02
    aff = os.path.join(d, 'TransformParameters.0.txt')
    with open(aff, 'w') as f:
        f.write('\n'.join(['(Transform "AffineTransform")', '(NumberOfParameters 12)',
                           '(TransformParameters %s 2 -1.5 1)' % ' '.join('%.10f' % v for v in R.ravel()),
                           '(InitialTransformParametersFileName "NoInitialTransform")', '(HowToCombineTransforms "Compose")',
                           '(CenterOfRotationPoint 0 0 0)', '(ResampleInterpolator "FinalBSplineInterpolator")',
                           '(FinalBSplineInterpolationOrder 3)'] + geo) + '\n')
    g = int(np.ceil(n / 10.0)) + 3
    coef = rng.uniform(-4, 4, 3 * g ** 3)
    go = np.array([c[0] + 10, c[1] + 10, -c[2] - 10])  # LPS, one spacing beyond the fixed grid's first corner
    bsp = {}
    for order in (1, 3):
        p = os.path.join(d, 'TransformParameters.1.order%d.txt' % order)
        with open(p, 'w') as f:
            f.write('\n'.join(['(Transform "BSplineTransform")', '(NumberOfParameters %d)' % coef.size,
                               '(TransformParameters %s)' % ' '.join('%.6f' % v for v in coef),
                               '(InitialTransformParametersFileName "%s")' % aff, '(HowToCombineTransforms "Compose")',
                               '(GridSize %d %d %d)' % (g, g, g), '(GridIndex 0 0 0)', '(GridSpacing 10 10 10)',
                               '(GridOrigin %g %g %g)' % tuple(go),
                               '(GridDirection -1 0 0 0 -1 0 0 0 1)', '(BSplineTransformSplineOrder 3)',
                               '(UseCyclicTransform "false")', '(ResampleInterpolator "FinalBSplineInterpolator")',
                               '(FinalBSplineInterpolationOrder %d)' % order] + geo) + '\n')
        bsp[order] = p
    return bsp


def run(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit('failed: %s\n%s' % (' '.join(cmd), r.stderr[-2000:]))
    return dt


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    mvtool = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    if not shutil.which('transformix'):
        print('SKIPPED: no transformix (apt-get install elastix)')
        return
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory(prefix='txbench.') as d:
        x = np.arange(n) - (n - 1) / 2.0
        img = np.zeros((n, n, n), np.float32)
        for _ in range(12):
            c = rng.uniform(-n / 3, n / 3, 3)
            s = rng.uniform(n / 20, n / 6)
            g = [np.exp(-(x - c[a]) ** 2 / (2 * s * s)).astype(np.float32) for a in range(3)]
            img += rng.uniform(100, 1000) * g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]
        A = np.eye(4)
        A[:3, 3] = -(n - 1) / 2.0
        moving = os.path.join(d, 'moving.nii')
        nib.save(nib.Nifti1Image(img, A), moving)
        tps = tp_files(d, n, rng)
        jobs = [('-def all (field)', tps[3], ['-def', 'all'], 'deformationField.nii'),
                ('-in, order 1 (linear)', tps[1], ['-in', moving], 'result.nii'),
                ('-in, order 3 (cubic)', tps[3], ['-in', moving], 'result.nii')]
        print('mvtool transformix vs transformix (elastix 5.0.1, Debian), %d^3 float32, affine + B-spline chain, '
              '2 threads, %d rounds, whole process (read, compute, write .nii)' % (n, rounds))
        print('| job | max diff / tol | transformix median (min) s | mvtool median (min) s | speedup median (min) |')
        print('|---|---|---|---|---|')
        for name, tp, args, out in jobs:
            od = {k: os.path.join(d, k) for k in ('tx', 'mv')}
            for v in od.values():
                shutil.rmtree(v, ignore_errors=True)
                os.makedirs(v)
            cmds = {'tx': ['transformix', '-tp', tp, '-out', od['tx'], '-threads', '2'] + args,
                    'mv': [mvtool, 'transformix', '-tp', tp, '-out', od['mv'], '-threads', '2'] + args}
            for k in ('tx', 'mv'):
                run(cmds[k])
            a = np.asarray(nib.load(os.path.join(od['tx'], out)).dataobj, np.float64)
            b = np.asarray(nib.load(os.path.join(od['mv'], out)).dataobj, np.float64)
            tol = 1e-4 if out.startswith('def') else 1e-4 * float(img.max() - img.min())
            err = float(np.max(np.abs(a - b)))
            if a.shape != b.shape or not err <= tol:
                sys.exit('%s: outputs differ: %g > %g' % (name, err, tol))
            t = {'tx': [], 'mv': []}
            for _ in range(rounds):
                for k in ('tx', 'mv'):
                    t[k].append(run(cmds[k]))
            med = {k: float(np.median(v)) for k, v in t.items()}
            mn = {k: float(np.min(v)) for k, v in t.items()}
            print('| %s | %.2g | %.2f (%.2f) | %.3f (%.3f) | **%.1fx** (%.1fx) |'
                  % (name, err / tol, med['tx'], mn['tx'], med['mv'], mn['mv'], med['tx'] / med['mv'], mn['tx'] / mn['mv']))


if __name__ == '__main__':
    main()
