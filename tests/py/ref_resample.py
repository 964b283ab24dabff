"""scipy.ndimage references for tests/test_resample.c.

make(out_dir) writes out_dir/rs.json and raw little-endian arrays under
out_dir/rs/ (x fastest, as medvol stores voxels). Called from refs.py; if
scipy is missing it writes nothing and the C tests skip.

Every expected figure comes from scipy.ndimage (zoom, affine_transform) or
numpy, never from medvol:
  - zoom(order=0/1/3, mode='nearest' or 'constant', grid_mode=not align):
    medvol's mv_resample_shape / mv_resample_spacing (fill_outside <->
    mode='constant' with cval);
  - affine_transform with the output-voxel -> input-voxel matrix
    inv(A_in) @ W @ A_out built here in numpy: mv_resample_affine / _like;
  - the output affine expected from the definitions: A_in @ M for a zoom
    (M: o -> (o + 0.5) * in/out - 0.5, or o * (in-1)/(out-1)), A_ref or
    A_out for the world forms; spacing = column norms of that affine.
Interpolated references are float64 (zoom's output=np.float64), so the C
side compares its float32 result with a tolerance relative to the data
range; nearest references keep the input dtype and must match exactly.
"""
import json
import os
import warnings

import numpy as np

LINEAR, NEAREST, CUBIC = 0, 1, 2          # mv_interp
ORDER = {LINEAR: 1, NEAREST: 0, CUBIC: 3}
# tolerance relative to the input's data range (max - min of the scaled values)
TOL = {LINEAR: 1e-5, NEAREST: 0.0, CUBIC: 1e-5}


def _save(d, name, arr):
    arr = np.asarray(arr)
    arr.astype(arr.dtype.newbyteorder('<')).ravel(order='F').tofile(os.path.join(d, name))
    return 'rs/' + name


def _volume(rng, shape, kind='smooth'):
    """a smooth field plus noise (or pure noise), float64, x fastest axes"""
    axes = [np.linspace(0, 1, n) for n in shape]
    grids = np.meshgrid(*axes, indexing='ij')
    v = 300 + 200 * np.sin(3.1 * grids[0] + 1.3) * np.cos(2.3 * grids[1 % len(shape)] - 0.4)
    if len(shape) > 2:
        v = v + 150 * grids[2] ** 2
    noise = rng.uniform(-100, 100, shape)
    return v + noise if kind == 'smooth' else rng.uniform(-500, 1500, shape)


def _rot(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    return (np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
            @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]))


def _affine(R, zooms, offset):
    A = np.eye(4)
    A[:3, :3] = R @ np.diag(zooms)
    A[:3, 3] = offset
    return A


def _zoom_matrix(nin, nout, align):
    """output voxel -> input voxel of a zoom, from its definition"""
    M = np.eye(4)
    for a, (n, m) in enumerate(zip(nin, nout)):
        if align:
            s = (n - 1) / (m - 1) if m > 1 else 1.0
            M[a, a], M[a, 3] = s, 0.0
        else:
            s = n / m
            M[a, a], M[a, 3] = s, 0.5 * s - 0.5
    return M


def make(out_dir):
    try:
        import scipy.ndimage as nd
    except ImportError:
        return
    d = os.path.join(out_dir, 'rs')
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20261122)
    cases = []
    names = set()

    def add_input(name, data, dtype, slope=1.0, inter=0.0):
        stored = np.asarray(data)
        if dtype == 'i2':
            stored = np.round(stored).astype(np.int16)
        elif dtype == 'u1':
            stored = np.clip(np.round(stored), 0, 255).astype(np.uint8)
        else:
            stored = stored.astype(dtype)
        values = stored.astype(np.float64) * slope + inter   # what nibabel's get_fdata gives
        return stored, values, _save(d, name + '_in.bin', stored)

    def zoom_case(name, shape, out_shape=None, interp=LINEAR, align=0, fill=None, dtype='f4', slope=1.0, inter=0.0,
                  spacing=None, new_spacing=None, kind='smooth', frames=0):
        assert name not in names
        names.add(name)
        full = tuple(shape) + ((frames,) if frames else ())
        stored, values, fin = add_input(name, _volume(rng, full, kind), dtype, slope, inter)
        spacing = spacing or [1.0, 1.0, 1.0]
        if new_spacing is not None:
            factors = [o / n for o, n in zip(spacing, new_spacing)]          # what a user hands to zoom
        else:
            factors = [m / n for m, n in zip(out_shape, shape)]
        mode = 'nearest' if fill is None else 'constant'
        cval = 0.0 if fill is None else fill
        order = ORDER[interp]
        src = stored if interp == NEAREST else values
        outdt = stored.dtype if interp == NEAREST else np.float64

        def one(vol):
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')   # grid_mode with 'constant' warns; it is what we mean
                return nd.zoom(vol, factors, output=outdt, order=order, mode=mode, cval=cval, grid_mode=not align)

        if frames:
            ref = np.stack([one(src[..., t]) for t in range(frames)], axis=-1)
        else:
            ref = one(src)
        got_shape = list(ref.shape[:3])
        if out_shape is not None:
            assert got_shape == list(out_shape), (name, got_shape, out_shape)
        A_in = _affine(_rot(0.2, -0.1, 0.3), spacing, [-20.5, 13.0, 4.25])
        M = _zoom_matrix(shape, got_shape, align)
        A_out = A_in @ M
        cases.append({'name': name, 'op': 'shape' if new_spacing is None else 'spacing', 'interp': interp,
                      'align': align, 'fill': 0 if fill is None else 1, 'cval': cval,
                      'in': {'file': fin, 'dtype': stored.dtype.name, 'shape': list(full), 'slope': slope, 'inter': inter,
                             'affine': A_in.tolist(), 'spacing': list(spacing)},
                      'out_shape': got_shape + ([frames] if frames else []),
                      'new_spacing': new_spacing,
                      'ref': _save(d, name + '_ref.bin', ref), 'ref_dtype': ref.dtype.name,
                      'tol': TOL[interp], 'range': float(values.max() - values.min()),
                      'expect_affine': A_out.tolist(),
                      'expect_spacing': np.linalg.norm(A_out[:3, :3], axis=0).tolist()})

    def world_case(name, shape, out_shape, A_in, A_out, W=None, interp=LINEAR, fill=None, op='affine', dtype='f4',
                   slope=1.0, inter=0.0, frames=0):
        assert name not in names
        names.add(name)
        full = tuple(shape) + ((frames,) if frames else ())
        stored, values, fin = add_input(name, _volume(rng, full), dtype, slope, inter)
        Wm = np.eye(4) if W is None else W
        M = np.linalg.inv(A_in) @ Wm @ A_out                    # output voxel -> input voxel
        mode = 'nearest' if fill is None else 'constant'
        cval = 0.0 if fill is None else fill
        src = stored if interp == NEAREST else values
        outdt = stored.dtype if interp == NEAREST else np.float64

        def one(vol):
            return nd.affine_transform(vol, M, output_shape=tuple(out_shape), output=outdt, order=ORDER[interp],
                                       mode=mode, cval=cval)

        ref = np.stack([one(src[..., t]) for t in range(frames)], axis=-1) if frames else one(src)
        cases.append({'name': name, 'op': op, 'interp': interp, 'align': 0, 'fill': 0 if fill is None else 1,
                      'cval': cval,
                      'in': {'file': fin, 'dtype': stored.dtype.name, 'shape': list(full), 'slope': slope, 'inter': inter,
                             'affine': A_in.tolist(), 'spacing': np.linalg.norm(A_in[:3, :3], axis=0).tolist()},
                      'out_shape': list(out_shape) + ([frames] if frames else []),
                      'out_affine': A_out.tolist(), 'world': None if W is None else W.tolist(),
                      'ref': _save(d, name + '_ref.bin', ref), 'ref_dtype': ref.dtype.name,
                      'tol': TOL[interp], 'range': float(values.max() - values.min()),
                      'expect_affine': A_out.tolist(),
                      'expect_spacing': np.linalg.norm(A_out[:3, :3], axis=0).tolist()})

    # ---- zoom, every interpolation, both grid modes, up, down, mixed, odd and even
    for interp in (LINEAR, NEAREST, CUBIC):
        t = {LINEAR: 'lin', NEAREST: 'nn', CUBIC: 'cub'}[interp]
        for align in (0, 1):
            g = 'ac' if align else 'grid'
            zoom_case('%s_%s_up_even' % (t, g), (8, 6, 4), (16, 12, 8), interp, align)
            zoom_case('%s_%s_down_even' % (t, g), (16, 12, 10), (8, 6, 5), interp, align)
            zoom_case('%s_%s_mixed_odd' % (t, g), (7, 9, 5), (13, 4, 9), interp, align)
            zoom_case('%s_%s_aniso' % (t, g), (10, 11, 6), (7, 17, 15), interp, align)
            zoom_case('%s_%s_one_voxel' % (t, g), (1, 5, 4), (3, 5, 7), interp, align)
            zoom_case('%s_%s_to_one' % (t, g), (6, 1, 5), (1, 4, 2), interp, align)
            zoom_case('%s_%s_one_row' % (t, g), (23, 1, 6), (12, 1, 4), interp, align)  # fused cubic, one row
            zoom_case('%s_%s_fill' % (t, g), (9, 7, 6), (14, 5, 11), interp, align, fill=-77.5)
            zoom_case('%s_%s_strong_down' % (t, g), (40, 9, 30), (7, 5, 4), interp, align)
            zoom_case('%s_%s_noise' % (t, g), (9, 8, 7), (20, 19, 18), interp, align, kind='noise')
        # coarser in x and y, much finer in z (thick slices to isotropic): the fused cubic path takes up
        # to 8 (nz + 2) output slices (exactly that many in z_bound), the coefficient path past it
        zoom_case('%s_grid_z_finer' % t, (16, 14, 4), (8, 7, 40), interp)
        zoom_case('%s_grid_z_bound' % t, (16, 14, 3), (8, 7, 40), interp)
        zoom_case('%s_grid_z_past' % t, (16, 14, 3), (8, 7, 41), interp)
        # long rows: several x chunks (256 outputs / 512 inputs each)
        zoom_case('%s_grid_long_rows' % t, (300, 3, 3), (700, 4, 2), interp)
        zoom_case('%s_grid_long_down' % t, (1100, 2, 3), (260, 3, 2), interp)
        # int16 storage with NIfTI scaling (scaled values resampled)
        zoom_case('%s_grid_i16_scaled' % t, (9, 8, 6), (12, 5, 9), interp, dtype='i2', slope=0.37, inter=-12.5)
        # 4D: every frame alike
        zoom_case('%s_grid_4d' % t, (6, 5, 4), (9, 7, 3), interp, frames=3)
    # nearest ties (grid_mode=False, 4 -> 7 samples 0.5, 1.5, ...) must round up as scipy
    zoom_case('nn_ac_ties', (4, 6, 3), (7, 11, 5), NEAREST, 1)
    zoom_case('nn_grid_ties', (4, 2, 6), (6, 1, 4), NEAREST, 0)
    zoom_case('nn_grid_u8', (7, 6, 5), (11, 3, 8), NEAREST, 0, dtype='u1')

    # ---- spacing: shape = round(n * old/new), half to even, as zoom's own rounding
    for interp in (LINEAR, CUBIC, NEAREST):
        t = {LINEAR: 'lin', NEAREST: 'nn', CUBIC: 'cub'}[interp]
        zoom_case('%s_spacing_aniso' % t, (20, 20, 10), None, interp, spacing=[0.8, 0.8, 1.5],
                  new_spacing=[1.0, 1.0, 1.0])
        zoom_case('%s_spacing_half_even' % t, (5, 7, 9), None, interp, spacing=[1.0, 1.0, 1.0],
                  new_spacing=[2.0, 2.0, 2.0])   # 2.5 -> 2, 3.5 -> 4, 4.5 -> 4
    zoom_case('lin_spacing_fill', (12, 10, 9), None, LINEAR, fill=3.0, spacing=[1.2, 0.7, 2.0],
              new_spacing=[0.9, 1.1, 1.3])

    # ---- world forms: rotations, other grids, registration transforms
    A_in = _affine(_rot(0.1, 0.05, -0.2), [1.2, 0.9, 1.5], [-10.0, 5.0, 2.0])
    A_out = _affine(_rot(0.3, -0.2, 0.45), [1.0, 1.1, 0.8], [-8.0, 3.5, 0.0])
    W = np.eye(4)
    W[:3, :3] = _rot(-0.05, 0.1, 0.02)
    W[:3, 3] = [1.5, -2.0, 0.7]
    for interp in (LINEAR, CUBIC, NEAREST):
        t = {LINEAR: 'lin', NEAREST: 'nn', CUBIC: 'cub'}[interp]
        world_case('%s_affine_rot' % t, (17, 15, 12), (19, 13, 14), A_in, A_out, None, interp)
        world_case('%s_affine_rot_fill' % t, (17, 15, 12), (21, 16, 13), A_in, A_out, None, interp, fill=-3.25)
        world_case('%s_affine_xform' % t, (12, 14, 10), (15, 11, 9), A_in, A_out, W, interp)
        world_case('%s_like' % t, (16, 12, 11), (13, 15, 10), A_in, A_out, None, interp, op='like')
    world_case('lin_affine_i16_scaled', (11, 10, 9), (12, 9, 10), A_in, A_out, None, LINEAR, dtype='i2',
               slope=2.5, inter=100.0)
    world_case('lin_affine_4d', (9, 8, 7), (10, 9, 6), A_in, A_out, None, LINEAR, frames=2)
    world_case('cub_affine_4d_fill', (9, 8, 7), (10, 9, 6), A_in, A_out, None, CUBIC, fill=1.5, frames=2)
    # diagonal world maps take the separable path: a shifted, rescaled grid
    A_diag = _affine(np.eye(3), [0.7, 1.3, 1.1], [-3.3, 2.2, -1.7])
    A_diag_in = _affine(np.eye(3), [1.0, 1.0, 1.2], [-4.0, 1.0, -2.0])
    for interp in (LINEAR, CUBIC, NEAREST):
        t = {LINEAR: 'lin', NEAREST: 'nn', CUBIC: 'cub'}[interp]
        world_case('%s_like_diagonal' % t, (14, 12, 10), (18, 9, 12), A_diag_in, A_diag, None, interp, op='like')
        world_case('%s_like_diagonal_fill' % t, (14, 12, 10), (18, 9, 12), A_diag_in, A_diag, None, interp,
                   fill=-1.0, op='like')
    # a flip (negative diagonal): still separable
    A_flip = _affine(np.diag([-1.0, 1.0, -1.0]), [1.0, 0.8, 1.1], [10.0, -2.0, 9.0])
    world_case('lin_affine_flip', (13, 11, 9), (12, 13, 8), A_diag_in, A_flip, None, LINEAR)
    world_case('cub_affine_flip', (13, 11, 9), (12, 13, 8), A_diag_in, A_flip, None, CUBIC)

    with open(os.path.join(out_dir, 'rs.json'), 'w') as f:
        json.dump({'cases': cases}, f, indent=1)
