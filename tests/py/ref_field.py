"""Independent references for tests/test_field.c (displacement fields).

Usage: ref_field.py COMMAND DIR [args]. Files are NIfTI written by medvol
(read with nibabel) or by SimpleITK; every expected figure comes from
scipy.ndimage.map_coordinates in float64, numpy, or SimpleITK, never from
medvol. Prints one line "ok <numbers>" (or "skip <reason>", exit 0) that the
C side parses; any other output is a failure.

Convention checked (ITK/ANTs): field on the fixed grid, vectors in LPS mm,
fixed world point p -> moving point M(p + d(p)) (RAS world = LPS with x, y
negated).

  warp DIR NAME ORDER FILL CVAL [MATRIX]: DIR/moving.nii, DIR/field.nii,
      DIR/NAME.nii (medvol's result) -> max |medvol - reference| and the
      data range, and (nearest) the number of voxels that differ.
  jac DIR: DIR/field.nii, DIR/jac.nii -> max |medvol - numpy| of
      det(I + grad d) (numpy.gradient along voxel axes, world via the
      affine), and the count of det <= 0.
  compose DIR: DIR/d1.nii, DIR/d2.nii, DIR/comp.nii -> max |medvol - ref|
      of d2(p) + d1(p + d2(p)) (d1 sampled by map_coordinates order 1,
      mode 'nearest' through the affines).
  sitk_warp DIR NAME [MATRIX]: SimpleITK reads DIR/field.nii as a
      DisplacementFieldTransform, composes [matrix, field] and resamples
      DIR/moving.nii onto the field's grid (linear): max |sitk - medvol|
      over voxels whose moving point is at least one voxel inside.
  sitk_field DIR a00 .. a23: SimpleITK writes DIR/sitk_field.nii
      (TransformToDisplacementField of the RAS affine A as an ITK
      AffineTransform, float64 vectors) on the grid of DIR/fixed.nii, and
      DIR/sitk_warped.nii = Resample(moving, fixed, A, linear) plus
      DIR/sitk_mask.nii (1 where the moving point is a voxel inside).
"""
import sys

import numpy as np

S = np.array([-1.0, -1.0, 1.0])


def load(path):
    import nibabel as nib
    img = nib.load(path)
    return np.asarray(img.dataobj), img.affine, img.header


def field_array(path):
    """field (X, Y, Z, nc) float64 in LPS mm, its affine"""
    d, aff, hdr = load(path)
    if int(hdr['intent_code']) != 1007:
        raise SystemExit('bad intent %d' % int(hdr['intent_code']))
    d = np.asarray(d, np.float64)
    return d.reshape(d.shape[:3] + (d.shape[-1],)), aff


def grid_points(shape):
    g = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing='ij')
    return np.stack([x.ravel(order='F') for x in g])  # (3, N), x fastest


def moving_coords(field, faff, maff, M):
    shape = field.shape[:3]
    o = grid_points(shape)
    p = faff[:3, :3] @ o + faff[:3, 3:4]
    nc = field.shape[3]
    d = np.zeros((3, o.shape[1]))
    for c in range(nc):
        d[c] = field[..., c].ravel(order='F')
    q = p + S[:, None] * d
    q = M[:3, :3] @ q + M[:3, 3:4]
    mi = np.linalg.inv(maff)
    return mi[:3, :3] @ q + mi[:3, 3:4], shape


def parse_matrix(args):
    if len(args) >= 12:
        M = np.eye(4)
        M[:3, :] = np.array([float(a) for a in args[:12]]).reshape(3, 4)
        return M
    return np.eye(4)


def cmd_warp(d, name, order, fill, cval, *margs):
    from scipy import ndimage
    order, fill, cval = int(order), int(fill), float(cval)
    mov, maff, _ = load(d + '/moving.nii')
    movf = np.asarray(mov, np.float64)  # nibabel applies scl_slope / scl_inter
    field, faff = field_array(d + '/field.nii')
    out, oaff, _ = load(d + '/' + name + '.nii')
    c, shape = moving_coords(field, faff, maff, parse_matrix(margs))
    mov3 = movf.reshape(movf.shape[:3] if movf.ndim >= 3 else movf.shape + (1,) * (3 - movf.ndim))
    if order == 0:
        # scipy order 0 rounds half up as medvol; clamp for mode 'nearest'
        idx = [np.clip(np.floor(c[a] + 0.5), 0, mov3.shape[a] - 1).astype(np.int64) for a in range(3)]
        ref = mov3[idx[0], idx[1], idx[2]]
        if fill:
            inside = np.ones(c.shape[1], bool)
            for a in range(3):
                n = mov3.shape[a]
                inside &= (np.abs(c[a]) <= 0.5) if n == 1 else ((c[a] >= 0) & (c[a] <= n - 1))
            ref = np.where(inside, ref, cval)
    else:
        mode = 'nearest'
        cc = c.copy()
        inside = np.ones(c.shape[1], bool)
        for a in range(3):
            n = mov3.shape[a]
            if n == 1:
                inside &= np.abs(c[a]) <= 0.5
                cc[a] = 0
            else:
                inside &= (c[a] >= 0) & (c[a] <= n - 1)
        if fill:
            mode = 'constant' if order == 1 else 'mirror'
        ref = ndimage.map_coordinates(mov3, cc, order=order, mode=mode, prefilter=True, output=np.float64)
        if fill:
            ref = np.where(inside, ref, cval)
    got = np.asarray(out, np.float64).ravel(order='F')
    if not np.allclose(oaff, faff, atol=1e-4):
        raise SystemExit('output affine differs from the field affine')
    rng = float(np.ptp(mov3)) or 1.0
    err = np.abs(got - ref)
    print('ok %.6g %.6g %d' % (float(err.max()), rng, int(np.count_nonzero(err > 0))))


def cmd_jac(d):
    field, aff = field_array(d + '/field.nii')
    jac, _, _ = load(d + '/jac.nii')
    nc = field.shape[3]
    shape = field.shape[:3]
    D = np.zeros(shape + (3, 3))
    for r in range(nc):
        for c in range(3):
            if shape[c] > 1:
                D[..., r, c] = np.gradient(field[..., r], axis=c, edge_order=1)
    R = np.diag(S) @ aff[:3, :3]  # voxel -> LPS mm
    if nc == 2:
        L = np.linalg.inv(R[:2, :2])
        J = np.eye(2) + D[..., :2, :2] @ L
    else:
        L = np.linalg.inv(R)
        J = np.eye(3) + D @ L
    det = np.linalg.det(J)
    got = np.asarray(jac, np.float64).reshape(shape)
    print('ok %.6g %d %.6g' % (float(np.abs(got - det).max()), int(np.count_nonzero(det <= 0)), float(det.min())))


def sample_field(field, aff, pts_ras):
    """trilinear, mode 'nearest', at RAS points (3, N) -> (3, N) LPS mm"""
    from scipy import ndimage
    ai = np.linalg.inv(aff)
    c = ai[:3, :3] @ pts_ras + ai[:3, 3:4]
    out = np.zeros((3, pts_ras.shape[1]))
    for k in range(field.shape[3]):
        f = field[..., k]
        cc = c.copy()
        for a in range(3):
            if f.shape[a] == 1:
                cc[a] = 0
        out[k] = ndimage.map_coordinates(f, cc, order=1, mode='nearest')
    return out


def cmd_compose(d):
    d1, a1 = field_array(d + '/d1.nii')
    d2, a2 = field_array(d + '/d2.nii')
    comp, _ = field_array(d + '/comp.nii')
    shape = d2.shape[:3]
    o = grid_points(shape)
    p = a2[:3, :3] @ o + a2[:3, 3:4]
    v2 = np.zeros((3, o.shape[1]))
    for k in range(d2.shape[3]):
        v2[k] = d2[..., k].ravel(order='F')
    ref = v2 + sample_field(d1, a1, p + S[:, None] * v2)
    got = np.zeros_like(ref)
    for k in range(comp.shape[3]):
        got[k] = comp[..., k].ravel(order='F')
    print('ok %.6g' % float(np.abs(got - ref).max()))


def sitk_affine(M, dim=3):
    import SimpleITK as sitk
    Sm = np.diag(S)
    A = (Sm @ M[:3, :3] @ Sm)[:dim, :dim]
    t = (Sm @ M[:3, 3])[:dim]
    tx = sitk.AffineTransform(dim)
    tx.SetMatrix(A.ravel().tolist())
    tx.SetTranslation(t.tolist())
    return tx


def cmd_sitk_warp(d, name, *margs):
    try:
        import SimpleITK as sitk
    except ImportError:
        print('skip SimpleITK not installed in this python')
        return
    M = parse_matrix(margs)
    fimg = sitk.ReadImage(d + '/field.nii')
    tx = sitk.DisplacementFieldTransform(sitk.Cast(fimg, sitk.sitkVectorFloat64))
    dim = fimg.GetDimension()  # a 2D field (X, Y, 1, 1, 2) reads as 2D
    comp = sitk.CompositeTransform([sitk_affine(M, dim), tx])  # ITK applies the last added (the field) first
    moving = sitk.ReadImage(d + '/moving.nii', sitk.sitkFloat64)
    if dim == 2 and moving.GetDimension() == 3:
        moving = moving[:, :, 0]
    ref = sitk.Image(fimg.GetSize(), sitk.sitkFloat64)
    ref.SetOrigin(fimg.GetOrigin())
    ref.SetSpacing(fimg.GetSpacing())
    ref.SetDirection(fimg.GetDirection())
    res = sitk.Resample(moving, ref, comp, sitk.sitkLinear, 0.0, sitk.sitkFloat64)
    want = sitk.GetArrayFromImage(res).transpose().ravel(order='F')  # sitk arrays are z, y, x
    out, _, _ = load(d + '/' + name + '.nii')
    got = np.asarray(out, np.float64).ravel(order='F')
    # where the moving point is a voxel inside, ITK and scipy boundaries agree
    field, faff = field_array(d + '/field.nii')
    mov, maff, _ = load(d + '/moving.nii')
    c, _ = moving_coords(field, faff, maff, M)
    inside = np.ones(c.shape[1], bool)
    for a in range(3):
        if mov.shape[a] > 1:
            inside &= (c[a] >= 1) & (c[a] <= mov.shape[a] - 2)
    err = np.abs(got - want)[inside]
    print('ok %.6g %d %.6g' % (float(err.max()), int(inside.sum()), float(np.ptp(np.asarray(mov, np.float64)))))


def cmd_sitk_field(d, *margs):
    try:
        import SimpleITK as sitk
    except ImportError:
        print('skip SimpleITK not installed in this python')
        return
    M = parse_matrix(margs)
    fixed = sitk.ReadImage(d + '/fixed.nii', sitk.sitkFloat32)
    tx = sitk_affine(M)
    f = sitk.TransformToDisplacementField(tx, sitk.sitkVectorFloat64, fixed.GetSize(), fixed.GetOrigin(),
                                          fixed.GetSpacing(), fixed.GetDirection())
    sitk.WriteImage(f, d + '/sitk_field.nii')
    moving = sitk.ReadImage(d + '/moving.nii', sitk.sitkFloat64)
    ftx = sitk.DisplacementFieldTransform(sitk.Cast(f, sitk.sitkVectorFloat64))
    res = sitk.Resample(moving, fixed, ftx, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    sitk.WriteImage(res, d + '/sitk_warped.nii')
    field, faff = field_array(d + '/sitk_field.nii')
    mov, maff, _ = load(d + '/moving.nii')
    c, shape = moving_coords(field, faff, maff, np.eye(4))
    inside = np.ones(c.shape[1], bool)
    for a in range(3):
        inside &= (c[a] >= 1) & (c[a] <= mov.shape[a] - 2)
    m = sitk.GetImageFromArray(inside.reshape(shape, order='F').transpose().astype(np.uint8))
    m.CopyInformation(fixed)
    sitk.WriteImage(m, d + '/sitk_mask.nii')
    print('ok %d' % int(inside.sum()))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {'warp': cmd_warp, 'jac': cmd_jac, 'compose': cmd_compose, 'sitk_warp': cmd_sitk_warp,
          'sitk_field': cmd_sitk_field}[cmd]
    fn(*args)


if __name__ == '__main__':
    main()
