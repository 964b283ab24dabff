#!/usr/bin/python3
"""Random cases of medvol's registration outputs (transform files, warps,
displacement fields) against SimpleITK (Debian's /usr/bin/python3 with
python3-numpy and SimpleITK; 2.5.7 when written).

  /usr/bin/python3 tests/py/diff_sitk.py BUILD/diff_sitk CASES [SEED]
      [--family F] [--case K] [--perturb F] [--keep]

CASES per family (each case draws its own generator from (SEED, family,
case), so `--family F --case K` with the same SEED reruns one case alone;
every 50th case, k % 50 == 49, is LARGE: 64-96 voxels per axis in 3D,
512-768 in 2D, past medvol's 4 MiB threading threshold). --perturb F breaks
one thing on medvol's side of family F (PERTURB below) to show that its
check fails; --keep keeps the temporary files.

Each case draws grids (dims 1..12 per axis, lengths 1 and 2 common; LPS
directions identity, signed permutations, oblique rotations, both; spacings
0.4-3 mm; origins within 60 mm; field grids with float32-exact columns and
origin, which NIfTI stores as they are), transforms (general affine =
rotation x shear x scale with flips, rigid, near-identity; translations,
centres), smooth random fields (sums of sines, LPS mm), 2D (X, Y, 1 images,
(X, Y, 1, 1, 2) fields) and 3D; a quarter of the warp cases are "lattice"
cases (signed permutations, spacings 0.5/1/2, dyadic origins, matrices and
displacements) whose coordinates every side computes exactly, so the
boundary rules are compared at their edges, rounding ties included. It
compares:

  tfm_mv     mv_itk_tfm_write (.tfm), mv_itk_mat_write (ITK's MATLAB
             .mat, what ANTs writes) or mv_itk_h5_write (ITK's HDF5 .h5) of
             a RAS matrix M (2D, 3D), read by
             sitk.ReadTransform: maps LPS points as S M S (S = diag(-1, -1,
             1)); |diff| <= 1e-11 x max(1, |y|) (double on both sides; the
             17-digit text round-trips).
  tfm_sitk   sitk.WriteTransform of Affine (2D, 3D), Euler3D (ZXY and ZYX),
             Euler2D, Similarity2D/3D, VersorRigid3D, Translation (2D, 3D),
             Scale (2D, 3D), ScaleVersor3D, ScaleSkewVersor3D and Composites
             of 1-3 of them (a quarter of them 8-40), with centres, and Affine files renamed to the
             _float_ and MatrixOffsetTransformBase kinds (SimpleITK reads those
             too), read by mv_itk_tfm_read. The kinds the header lists
             (>>api-register: every matrix-plus-offset kind and Composites of
             them) must map RAS points as sitk.ReadTransform of the same file
             maps LPS points (1e-11 relative); a BSplineTransform must be
             MV_ERR_UNSUPPORTED naming the kind, in a .tfm or a .h5 (ITK's
             HDF5 form, read by medvol's own reader). A .mat (1 in 9) is read as SimpleITK wrote it
             or re-encoded big-endian and/or float32 (its variables
             rewritten, the kind renamed _float_; SimpleITK reads those too
             and is the reference); a Composite (ITK keeps its last member
             only) or B-spline .mat must be MV_ERR_UNSUPPORTED naming it.
  tfm_h5py   the transforms of tfm_sitk (B-splines left out) in ITK's HDF5
             layout written by h5py (the HDF Group's library, not ITK's
             writer): HDF5's earliest format (symbol-table groups, version
             1 object headers: what ITK 4 wrote) or the latest (link
             messages, checksums), parameters float64 or float32 of either
             byte order, ITK's old "Tranform..." dataset names, the type
             name a variable-length or (1 in 5) fixed-length string; read
             by mv_itk_tfm_read, must map points as sitk.ReadTransform of
             the same file (1e-11 relative; of the .tfm SimpleITK wrote
             where the string is fixed-length, which ITK cannot read).
             Half the parameter datasets are chunked (h5_storage: random
             chunk sizes; deflate, shuffle and Fletcher-32 in a random
             order, as ITK's UseCompression and h5py write them; the
             indexes of both formats: B-tree, single chunk, implicit, fixed
             array, paged or not; HDF5's unfiltered partial edge chunk); a
             dataset that can grow in the latest format (its extensible
             array) or compressed by h5py's LZF must be MV_ERR_UNSUPPORTED
             naming it and the dataset.
             Skipped when /usr/bin/python3 has no h5py (python3-h5py).
  h5_field   a DisplacementFieldTransform (random grid, smooth field) alone
             or after 1-2 linear transforms in a CompositeTransform, written
             by SimpleITK as .h5 and read by mv_itk_h5_read_field: the
             field's affine maps each index to SimpleITK's point (1e-9
             relative), and each grid point p goes to S m S (p + d(p)) as
             sitk.ReadTransform of the file takes it (1e-6 x the matrix
             norm x max(1, |d|): d is float32 in medvol); a field placed
             before linear members must be MV_ERR_UNSUPPORTED. In half the
             cases h5py rewrites the file in either format, its parameters
             chunked and filtered (h5_storage, never growable), SimpleITK's
             file the reference.
  h5_field_mv  a random field (2D or 3D, random grid) written by
             mv_itk_h5_write_field alone or (2 in 3) after a random matrix m
             as ITK's composite, uncompressed or deflated (levels 1, 5, 9:
             ITK's chunks in a B-tree); SimpleITK reads it: every grid point p goes
             to S m S (p + d(p)) (1e-9 relative: d's float32 values are
             written exactly, and the grid points are the field's nodes
             only if ITK's grid is the field's); h5py reads ITK's layout (class names, groups, float64
             parameters: the vectors interleaved); mv_itk_h5_read_field
             reads the file back bit for bit.
  warp_aff   mv_warp_affine (linear, nearest, cubic; edge or fill; 4D moving
             images in a fifth of the cases) of a float32 image on one random
             grid onto another through M, against sitk.Resample (float64,
             each frame) with AffineTransform(S M S). Linear |diff| <= 2e-6 x
             max(|moving|, |fill|): medvol interpolates in float32 from
             float64 coordinates (8 weights rounded to float32, a float32 sum
             of 8 terms: each step <= 2^-24 relative, about 1e-6 x max|v| in
             all; SimpleITK works in float64); a coordinate off by 1e-6 voxel
             would move a value by up to 2e-6 max|v|. Cubic (sitkBSpline,
             only with fill_outside 1: then medvol's spline has scipy's
             mirror boundary, ITK's BSplineDecomposition boundary; with 0 it
             is the edge-extended volume's spline, another function) 1e-5 x
             max|v| (float32 prefilter coefficients). Nearest: equal (voxels
             within 1e-6 of a rounding tie left out, except lattice cases:
             both round a tie up, medvol floor(c + 0.5), ITK
             RoundHalfIntegerUp).
             Boundary: medvol.h mv_resample_opts.fill_outside ("outside
             [0, n-1] on some axis ... fill", else the edge continues);
             ITK's interpolators treat [-0.5, n-0.5) as inside (clamped
             there) and give the default value beyond. Compared where the two
             rules agree: fill_outside 0 on [-0.5, n-0.5) of every axis,
             fill_outside 1 inside [0, n-1] or outside [-0.5, n-0.5) (both
             fill); 1e-6 voxel margins except in lattice cases. An axis of
             one voxel is inside at |c| <= 1e-9 (2D images: medvol's z
             coordinate is 0 up to rounding).
  warp_field mv_field_warp (field written by mv_field_save, read by
             mv_field_load; an optional matrix) against sitk.Resample with
             CompositeTransform([AffineTransform(S M S),
             DisplacementFieldTransform]) on the field's grid: the warp_aff
             tolerances and boundary rule, except that an axis of one voxel
             is inside for |c| <= 0.5 (medvol.h mv_field_opts.fill_outside;
             ITK: [-0.5, 0.5), so c = +0.5 is left out).
  field_io   medvol -> sitk: mv_field_save's file (.nii, .nii.gz) read by
             sitk.ReadImage is a float32 vector image of the same components
             bit for bit, its geometry the grid's within the header's float32
             rounding (ITK reads a float32 quaternion: 2e-6 per direction
             entry and relative spacing, 1e-6 mm + 1e-6 relative for the
             origin), and DisplacementFieldTransform of it maps points as
             medvol's field does (mv_field_compose_into(field, 0 on a random
             grid): the field sampled there), |diff| <= 4e-7 x max|d| + 1e-9
             mm (both interpolate in float64; medvol stores float32) where
             both interpolate ([-0.5, n-0.5): ITK clamps, medvol's edge
             continues; beyond, ITK gives 0 and medvol the edge: medvol.h
             >>api-field "ITK returns a zero displacement outside"). Grids
             whose last axis has length 1 are not written this way: ITK's
             NIfTI reader drops trailing axes of length 1 (its own 3D field on
             (X, Y, 1) reads back as a 2D image of 3-vectors, on (X, 1, 1)
             not at all).
             sitk -> medvol: sitk.WriteImage of a float32 or float64 vector
             image (2D, 3D, .nii, .nii.gz) read by mv_field_load: dims and
             components, data equal to numpy's float32 rounding, affine equal
             to the file's sform (nibabel's affine; within 3e-7 of the grid).
  compose    mv_field_compose_into(d1, d2) (d1, d2 on different random grids,
             written by SimpleITK) against TransformToDisplacementField of
             CompositeTransform([DFT(d1), DFT(d2)]) on d2's grid, where
             p + d2(p) lies in [-0.5, n-0.5) of d1's grid; 4e-7 x
             (max|d1| + max|d2|) + 1e-9 mm. A third of the cases have
             d2 = 0 (medvol's field sampled at arbitrary points).
  addaff     mv_field_add_affine_into(d or NULL, M) against
             TransformToDisplacementField of CompositeTransform([A, DFT(d)])
             or of A alone (A = AffineTransform(S M S)); 2.5e-7 x max|ref| +
             1e-9 mm (float32 storage of a float64 result). 2D fields with an
             M that moves z: MV_ERR_INVALID_ARG (medvol.h: "A 2D field needs
             an A that keeps z").
  invert     mv_field_invert_into (tol 1e-6 mm, 200 iterations) of a field
             with Lipschitz constant L <= 0.5 (so both fixed-point schemes
             converge) against sitk.InvertDisplacementField (200 iterations,
             max error 1e-7 voxel, boundary not enforced), at the voxels whose
             points p + e(p) of both inverses lie in [0, n-1] of the grid
             (beyond, ITK's field is 0 and medvol's continues, so the
             iterations differ by definition; a voxel's iteration reads the
             field only at its own point): (a) medvol converged (max_residual
             <= tol) and the residual |e(p) + d(p + e(p))| of its inverse as
             SimpleITK evaluates it (the displacement of
             CompositeTransform([DFT(d), DFT(e)])) is at most medvol's
             max_residual + 1e-6 x max|e| (float32 storage); (b) |e_medvol -
             e_sitk| <= (r_medvol + r_sitk) / (1 - L) + 1e-6 x max|e| (the
             fixed point's uniqueness bound).
  jac        mv_field_jacobian against sitk.DisplacementFieldJacobianDeterminant
             (useImageSpacing) on float64 input; ITK's filter ignores the
             direction, so it gets the vectors in the grid's frame, v' =
             inv(R) v (det(I + D S^-1 R^-1) = det(I + R^-1 D S^-1)); border
             voxels left out (medvol.h: "ITK's border voxels use half a
             difference"); 2.5e-7 x max(1, |det|) + 1e-12 x (1 + G)^n, G the
             largest derivative (float32 storage of a float64 result).
  metaimage  MetaImage files (medvol.h METAIMAGE) both ways. SimpleITK writes
             a random image (.mha or .mhd + .raw/.zraw; 2-4 axes of 1-9
             voxels; every ElementType; 1 in 4 a vector image of 2-4
             channels; random directions, spacings, origins; zlib
             compression in a third), then in some cases the file is edited
             as other writers make them: big-endian voxels
             (BinaryDataByteOrderMSB = True), the synonyms Origin /
             Orientation, ElementSize for ElementSpacing, HeaderSize = -1
             after junk bytes; SimpleITK reads the edited file and is the
             reference. (1) mv_load's voxels equal SimpleITK's bit for bit
             (vectors as ITK's NIfTI layout: the components on axis 4),
             its affine equals S4 [D diag(spacing) | origin] from SimpleITK's
             geometry (float64, exact up to 1e-15 relative: the same
             17-digit text parsed by both). (2) medvol rewrites it as .mha or
             .mhd (compressed or not, random level): SimpleITK reads the same
             pixel type, components and voxels, spacing and origin within
             1e-12 relative, direction within 1e-12. (3) medvol rewrites it as
             NIfTI and SimpleITK writes its own NIfTI of the same image:
             nibabel sees the same voxels and shape, affines equal within
             float32 rounding (1e-6 x max(1, |A|)).
  h5_dense   a CompositeTransform of 8-60 random matrix kinds of one
             dimension (9 or more links in /TransformGroup) written as .h5
             by SimpleITK (ITK 5's newer format keeps them in dense
             storage: a fractal heap indexed by a version 2 B-tree; an
             indirect heap block from about 40 members, a B-tree of two
             levels from about 50), and h5py's copy in the latest format
             with the groups created in a random order (track_order in
             half: a creation-order index too): medvol must map points as
             sitk.ReadTransform of SimpleITK's file (1e-11 relative).
Exit 0 when every case agrees; else each failing case is printed with the
command that reruns it and the driver commands (files kept).
"""
import importlib.util
import os
import shutil
import subprocess
import struct
import sys
import tempfile
import time

import numpy as np
import SimpleITK as sitk

S4 = np.diag([-1.0, -1.0, 1.0, 1.0])
FAMILIES = ['tfm_mv', 'tfm_sitk', 'tfm_h5py', 'h5_field', 'h5_field_mv', 'bspline_itk', 'field_itk', 'warp_aff', 'warp_field', 'field_io', 'compose', 'addaff', 'invert', 'jac',
            'metaimage', 'nrrd', 'h5_dense']
# What --perturb F changes on medvol's side (each makes its check fail):
PERTURB = {
    'tfm_mv': "medvol writes the LPS matrix S M S instead of M (no RAS<->LPS)",
    'tfm_sitk': "medvol's matrix read as if it were LPS (no RAS<->LPS)",
    'tfm_h5py': "medvol's matrix read as if it were LPS (no RAS<->LPS)",
    'h5_field': "the field medvol reads from the .h5 scaled by 1 + 1e-4",
    'h5_field_mv': "the field medvol wrote to the .h5 scaled by 1 + 1e-4 in the reference",
    'bspline_itk': "medvol's points scaled by 1 + 1e-7, its field by 1 + 1e-4",
    'field_itk': "medvol's points scaled by 1 + 1e-7, its field by 1 + 1e-4",
    'warp_aff': "medvol's matrix translated by 1e-3 mm along x",
    'warp_field': "the field medvol reads scaled by 1 + 1e-4",
    'field_io': "the sitk-written field's origin moved 1e-4 mm before medvol's affine is compared",
    'compose': "medvol composes d1(p) + d2(p + d1(p)) (arguments swapped; d2 on d1's grid)",
    'addaff': "medvol's matrix translated by 1e-4 mm along y",
    'invert': "medvol's inverse scaled by 1 + 1e-4 before the checks",
    'jac': "the field medvol reads has component 0 scaled by 1 + 1e-4",
    'metaimage': "the affine medvol loads translated by 1e-9 mm along x",
    'nrrd': "the affine medvol loads translated by 1e-9 mm along y",
    'h5_dense': "medvol's matrix read as if it were LPS (no RAS<->LPS)",
}
perturb = None


def f32(x):
    return np.asarray(x, np.float64).astype(np.float32).astype(np.float64)


def rotation(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def signed_perm(rng, n):
    p = np.zeros((n, n))
    p[np.arange(n), rng.permutation(n)] = rng.choice([-1.0, 1.0], n)
    return p


LARGE = False  # set for every 50th case (k % 50 == 49): grids past medvol's threading threshold


def rand_dims(rng, nd, sizes=(1, 1, 2, 3, 4, 5, 7, 9, 12)):
    """dims with axes of length 1 and 2 common; LARGE cases: 48-80 voxels
    per axis in 3D, 300-600 in 2D, so that medvol splits the work across
    threads (MV__PAR_MIN_BYTES, 4 MiB) and its threaded paths are compared"""
    if LARGE:
        sizes = (64, 80, 96) if nd == 3 else (512, 640, 768)
    d = [int(rng.choice(sizes)) for _ in range(3)]
    if nd == 2:
        d[2] = 1
    return d


def rand_grid(rng, nd, dims, center_lps=None, exact=False, lattice=False):
    """A grid: dims, LPS columns L (3x3, voxel step per axis), LPS origin o,
    RAS affine A (4x4). 2D: L = blockdiag(2x2, 1), o[2] = 0. exact: float32
    columns and origin (NIfTI stores them as they are); lattice: signed
    permutation directions, spacings 0.5, 1, 2 and an origin on the 0.5 mm
    lattice (every coordinate dyadic: exact in float64)."""
    k = nd
    kind = int(rng.integers(0, 4)) if not lattice else 1
    R = np.eye(k)
    if kind == 1:
        R = signed_perm(rng, k)
    elif kind == 2:
        R = rotation(rng, k)
    elif kind == 3:
        R = rotation(rng, k) @ signed_perm(rng, k)
    sp = np.array([float(rng.choice([0.4, 0.7, 1.0, 1.3, 2.5, rng.uniform(0.4, 3.0)])) for _ in range(k)])
    if lattice:
        sp = np.array([float(rng.choice([0.5, 1.0, 2.0])) for _ in range(k)])
    L = np.eye(3)
    L[:k, :k] = R * sp
    if center_lps is None:
        center_lps = rng.uniform(-60, 60, 3)
    o = np.array(center_lps, np.float64) - L @ ((np.array(dims) - 1) / 2.0)
    if nd == 2:
        o[2] = 0.0
    if lattice:
        o = np.round(o * 2) / 2
    if exact:
        L, o = f32(L), f32(o)
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = L, o
    return {'dims': list(dims), 'L': L, 'o': o, 'A': S4 @ A, 'nd': nd}


def grid_center_lps(g):
    return g['L'] @ ((np.array(g['dims']) - 1) / 2.0) + g['o']


def set_geometry(img, g):
    k = g['nd']
    L = g['L'][:k, :k]
    sp = np.sqrt((L ** 2).sum(axis=0))
    img.SetSpacing([float(x) for x in sp])
    img.SetDirection([float(x) for x in (L / sp).ravel()])
    img.SetOrigin([float(x) for x in g['o'][:k]])
    return img


def sitk_scalar(a, g):
    """a: numpy (Z, Y, X) -> sitk float64 image on grid g"""
    arr = a.astype(np.float64)
    if g['nd'] == 2:
        arr = arr[0]
    return set_geometry(sitk.GetImageFromArray(arr), g)


def sitk_vector(d, g, dtype=np.float64):
    """d: (nc, Z, Y, X) LPS mm -> sitk vector image on grid g"""
    arr = np.moveaxis(d, 0, -1).astype(dtype)
    if g['nd'] == 2:
        arr = arr[0]
    return set_geometry(sitk.GetImageFromArray(arr, isVector=True), g)


def sitk_ref(g):
    img = sitk.Image([int(x) for x in g['dims'][:g['nd']]], sitk.sitkFloat64)
    return set_geometry(img, g)


def from_sitk_vector(img, nd):
    a = sitk.GetArrayFromImage(img)  # (Z, Y, X, nc) or (Y, X, nc)
    if nd == 2:
        a = a[None]
    return np.moveaxis(a, -1, 0).astype(np.float64)


def from_sitk_scalar(img, nd):
    a = sitk.GetArrayFromImage(img).astype(np.float64)
    return a[None] if nd == 2 else a


def rand_matrix(rng, nd, lattice=False):
    """fixed -> moving RAS matrix (2D: keeps z); lattice: a signed
    permutation and a translation on the 0.5 mm lattice"""
    k = nd
    kind = int(rng.integers(0, 3)) if not lattice else 3
    if kind == 3:
        B, t = signed_perm(rng, k), np.round(rng.uniform(-6, 6, k)) / 2
    elif kind == 0:  # general: rotation x shear x scale (maybe a flip)
        sh = np.eye(k) + np.triu(rng.uniform(-0.3, 0.3, (k, k)), 1)
        sc = np.diag(rng.uniform(0.7, 1.4, k) * np.where(rng.random(k) < 0.15, -1, 1))
        B = rotation(rng, k) @ sh @ sc
        t = rng.uniform(-20, 20, k)
    elif kind == 1:  # rigid
        B, t = rotation(rng, k), rng.uniform(-20, 20, k)
    else:  # near identity
        B, t = np.eye(k) + rng.normal(0, 1e-3, (k, k)), rng.normal(0, 0.5, k)
    M = np.eye(4)
    M[:k, :k], M[:k, 3] = B, t
    return M


def sitk_affine(M, nd):
    L = S4 @ M @ S4
    tf = sitk.AffineTransform(nd)
    tf.SetMatrix([float(x) for x in L[:nd, :nd].ravel()])
    tf.SetTranslation([float(x) for x in L[:nd, 3]])
    return tf


def smooth_field(rng, g, nc, amp):
    """(nc, Z, Y, X) float32 values (as float64): sums of sines in voxel
    coordinates, the largest |component| = amp mm"""
    X, Y, Z = g['dims']
    k, j, i = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
    d = np.zeros((nc, Z, Y, X))
    for c in range(nc):
        for _ in range(3):
            w = rng.normal(0, 0.35, 3)
            if nc == 2:
                w[2] = 0
            d[c] += rng.normal() * np.sin(w[0] * i + w[1] * j + w[2] * k + rng.uniform(0, 2 * np.pi))
        d[c] += rng.normal(0, 0.3)
    m = np.max(np.abs(d))
    return f32(d * (amp / m if m > 0 else 0))


def lipschitz(d, g):
    """an upper bound of the operator norm of the world gradient of d's
    trilinear interpolant: Frobenius norm of max |forward difference| / spacing"""
    nc = d.shape[0]
    sp = np.sqrt((g['L'] ** 2).sum(axis=0))
    G = np.zeros((nc, 3))
    for c in range(nc):
        for a in range(3):
            ax = 2 - a  # numpy axis of voxel axis a
            if d.shape[1 + ax] > 1:
                G[c, a] = np.max(np.abs(np.diff(d[c], axis=ax))) / sp[a]
    # R^-1 of a near-orthonormal grid: its norm (1 up to float32 rounding)
    Rn = np.linalg.norm(np.linalg.inv(g['L'] / sp), 2)
    return float(np.sqrt((G ** 2).sum()) * Rn)


def cont_index(g, pts_lps):
    """continuous voxel coordinates (3, N) of LPS points (3, N) on grid g"""
    return np.linalg.solve(g['L'], pts_lps - g['o'][:, None])


def grid_points_lps(g):
    X, Y, Z = g['dims']
    k, j, i = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
    idx = np.stack([i.ravel(), j.ravel(), k.ravel()]).astype(np.float64)  # (Z, Y, X) order flattened
    return g['L'] @ idx + g['o'][:, None]


def masks(c, dims, fill, exact, one_inside):
    """c (3, N) moving coordinates -> (compare, fill expected) boolean arrays
    where medvol's documented rule and ITK's agree (see the module doc).
    ITK: inside is [-0.5, n-0.5) per axis (clamped there), fill beyond;
    medvol: fill_outside 0 clamps everywhere, 1 fills outside [0, n-1]
    (an axis of one voxel: |c| <= one_inside). exact: the coordinates are
    dyadic and computed exactly by all three (lattice cases), so the rules
    apply at their edges; else margins of 1e-6 voxel leave the edges out."""
    n = np.array(dims, np.float64)[:, None]
    eps = 0.0 if exact else 1e-6
    if exact:
        itk_in = np.all((c >= -0.5) & (c < n - 0.5), axis=0)
        itk_out = ~itk_in
    else:
        itk_in = np.all((c >= -0.5 + eps) & (c <= n - 0.5 - eps), axis=0)
        itk_out = np.any((c < -0.5 - eps) | (c > n - 0.5 + eps), axis=0)
    if not fill:
        return itk_in, np.zeros(c.shape[1], bool)
    core = np.where(n > 1, (c >= eps) & (c <= n - 1 - eps), np.abs(c) <= one_inside)
    core = np.all(core, axis=0)
    if exact:  # medvol fills exactly outside core
        return (core & itk_in) | (~core & itk_out), ~core
    return (core & itk_in) | itk_out, itk_out


def not_tie(c, exact):
    """nearest: no coordinate within 1e-6 of a rounding tie (lattice cases:
    ties are exact, and both round them up: medvol floor(c + 0.5), ITK
    RoundHalfIntegerUp)"""
    if exact:
        return np.ones(c.shape[1], bool)
    f = c - np.floor(c)
    return np.all(np.abs(f - 0.5) > 1e-6, axis=0)


def write_mat(path, M):
    with open(path, 'w') as f:
        for r in range(4):
            f.write(' '.join('%.17g' % x for x in M[r]) + '\n')


def read_mat(path):
    return np.loadtxt(path).reshape(4, 4)


class Case:
    def __init__(self, exe, tmp, fam, k, notes):
        self.exe, self.tmp, self.fam, self.k = exe, tmp, fam, k
        self.cmds = []
        self.notes = notes

    def note(self, what, n=1):
        self.notes[what] = self.notes.get(what, 0) + n

    def peak(self, what, v):
        """the largest v seen under the name what (printed as a fraction of the tolerance)"""
        self.notes[what] = max(self.notes.get(what, 0.0), float(v))

    def p(self, name):
        return os.path.join(self.tmp, name)

    def run(self, *args):
        cmd = [self.exe] + [str(a) for a in args]
        self.cmds.append(' '.join(cmd))
        return subprocess.run(cmd, capture_output=True, text=True)

    def call(self, *args):
        r = self.run(*args)
        if r.returncode != 0:
            raise Failure('exit %d: %s' % (r.returncode, r.stderr.strip()))
        return r.stdout


class Failure(Exception):
    pass


def raw_grid_args(case, name, g):
    write_mat(case.p(name + '.aff'), g['A'])
    return g['dims'] + [case.p(name + '.aff')]


def save_field_mv(case, name, d, g, ext='.nii'):
    """medvol writes the field (mv_field_alloc + mv_field_save)"""
    d.astype(np.float32).tofile(case.p(name + '.raw'))
    case.call('fsave', *(raw_grid_args(case, name + '_grid', g) + [d.shape[0], case.p(name + '.raw'),
                                                                    case.p(name + ext)]))
    return case.p(name + ext)


def save_field_sitk(case, name, d, g, dtype=np.float32, ext='.nii'):
    """SimpleITK writes the field; returns the path and the grid as the file
    stores it: ITK writes the sform from its orthonormalised direction, which
    can differ from g's float32 columns in the last bit, and medvol (as
    nibabel) reads the sform. The references use the file's grid, so that
    both sides see one geometry (field_io checks that medvol reads it)."""
    import nibabel as nib
    path = case.p(name + ext)
    sitk.WriteImage(sitk_vector(d, g, dtype), path)
    A = S4 @ nib.load(path).header.get_sform()
    gf = dict(g)
    gf['L'], gf['o'], gf['A'] = A[:3, :3].copy(), A[:3, 3].copy(), S4 @ A
    return path, gf


def load_field_nib(path):
    """a field file's components (nc, Z, Y, X) as stored (float64)"""
    import nibabel as nib
    a = np.asarray(nib.load(path).dataobj, np.float64)  # (X, Y, Z, 1, nc)
    return np.moveaxis(a[:, :, :, 0, :], -1, 0).transpose(0, 3, 2, 1)


def dft(d, g):
    return sitk.DisplacementFieldTransform(sitk_vector(d, g, np.float64))


def to_field(tf, g):
    f = sitk.TransformToDisplacementFieldFilter()
    f.SetReferenceImage(sitk_ref(g))
    f.SetOutputPixelType(sitk.sitkVectorFloat64)
    return from_sitk_vector(f.Execute(tf), g['nd'])


def composite(*tfs):
    c = sitk.CompositeTransform(tfs[0].GetDimension())
    for t in tfs:
        c.AddTransform(t)
    return c


# ---------------------------------------------------------------- families

def fam_tfm_mv(case, rng):
    nd = int(rng.choice([2, 3]))
    M = rand_matrix(rng, nd)
    Mmv = S4 @ M @ S4 if perturb == 'tfm_mv' else M
    write_mat(case.p('m.txt'), Mmv)
    out = case.p('m' + str(rng.choice(['.tfm', '.mat', '.h5'])))  # text, ITK's MATLAB form or its HDF5 form
    case.call('tfm-write', case.p('m.txt'), nd, out)
    case.note('written as ' + out[out.rindex('.'):])
    if out.endswith('.h5'):
        h5_layout_check(out, nd, S4 @ Mmv @ S4)
    tf = sitk.ReadTransform(out)
    L = S4 @ M @ S4
    worst = 0.0
    for _ in range(12):
        p = rng.uniform(-100, 100, 3)
        if nd == 2:
            p[2] = 0
        y = np.array(tf.TransformPoint([float(x) for x in p[:nd]]))
        ref = (L @ np.append(p, 1))[:nd]
        err = np.max(np.abs(y - ref)) / (1e-11 * max(1.0, np.max(np.abs(ref))))
        worst = max(worst, err)
    if worst > 1:
        raise Failure('%s read by sitk maps points %.3g x the tolerance away from S M S (M: %s)' %
                      (out, worst, np.array2string(M, precision=6)))
    return worst


def h5_layout_check(path, nd, L):
    """the file as h5py (libhdf5) reads it: ITK's layout, the LPS matrix L
    row by row then its translation, a zero centre"""
    try:
        import h5py
    except ImportError:
        return
    with h5py.File(path, 'r') as f:
        g = f['TransformGroup/0']
        kind = g['TransformType'][0]
        kind = kind.decode() if isinstance(kind, bytes) else kind
        want = 'AffineTransform_double_%d_%d' % (nd, nd)
        par, fix = g['TransformParameters'][()], g['TransformFixedParameters'][()]
        if kind != want or list(f['TransformGroup'].keys()) != ['0']:
            raise Failure('%s: h5py reads TransformType %r (%s wanted)' % (path, kind, want))
        ref = np.concatenate([L[:nd, :nd].ravel(), L[:nd, 3]])
        if par.dtype != np.float64 or not np.array_equal(par, ref) or not np.array_equal(fix, np.zeros(nd)):
            raise Failure('%s: h5py reads parameters %r, fixed %r (%r wanted)' % (path, par, fix, ref))


# the kinds mv_itk_tfm_parse refuses (>>api-register: "other kinds (B-spline,
# displacement field) are MV_ERR_UNSUPPORTED naming the kind"); every other
# kind drawn below is a matrix plus an offset and must map points as ITK does
REFUSED = ('BSplineTransform_double_3_3', 'BSplineTransform_double_2_2')


def rand_sitk_transform(rng, member=False):
    """(kind, a random SimpleITK transform); member: drawn as a composite's
    member (a composite drawn then, which the caller discards, stays small)"""
    kind = str(rng.choice(['affine3', 'affine2', 'euler3', 'euler3zyx', 'euler2', 'sim2', 'sim3', 'versor3',
                           'trans3', 'trans2', 'scale3', 'scale2', 'ssv3', 'sv3', 'composite', 'composite',
                           'composite2', 'affine3_float', 'affine3_mob', 'affine2_mob', 'affine2_float', 'bspline']))
    c3, t3 = rng.uniform(-50, 50, 3), rng.uniform(-20, 20, 3)
    c2, t2 = list(c3[:2]), list(t3[:2])
    c3, t3 = list(c3), list(t3)
    ang = list(rng.uniform(-np.pi, np.pi, 3))
    th = rng.uniform(0, 3.0)
    vers = list(rotation(rng, 3)[:, 0] * np.sin(th / 2)) + [float(np.cos(th / 2))]  # unit quaternion
    if kind.startswith('composite'):
        # 1-3 members of the other kinds of that dimension, applied last
        # first; a quarter 8-40 (9 or more links in one HDF5 group: ITK 5's
        # .h5 keeps them in dense storage, a fractal heap and a B-tree)
        parts, want = [], 2 if kind == 'composite2' else 3
        many = int(rng.integers(8, 41)) if not member and rng.random() < 0.25 else 0
        while len(parts) < (many or int(rng.integers(1, 4))):
            k2, t2_ = rand_sitk_transform(rng, True)
            if not k2.startswith(('composite', 'bspline')) and t2_.GetDimension() == want:
                parts.append(t2_)
        return kind, sitk.CompositeTransform(parts)
    if kind == 'bspline':
        tf = sitk.BSplineTransform(3)
        tf.SetTransformDomainMeshSize([2, 2, 2])
        return kind, tf
    if kind.startswith(('affine3', 'affine2')):
        nd = 3 if kind.startswith('affine3') else 2
        M = rand_matrix(rng, nd)
        tf = sitk.AffineTransform(nd)
        tf.SetMatrix([float(x) for x in M[:nd, :nd].ravel()])
        tf.SetTranslation(t3 if nd == 3 else t2)
        tf.SetCenter(c3 if nd == 3 else c2)
    elif kind.startswith('euler3'):
        tf = sitk.Euler3DTransform(c3, ang[0], ang[1], ang[2], t3)
        tf.SetComputeZYX(kind == 'euler3zyx')
    elif kind == 'euler2':
        tf = sitk.Euler2DTransform(c2, ang[0], t2)
    elif kind == 'sim2':
        tf = sitk.Similarity2DTransform(float(rng.uniform(0.5, 2)), ang[0], t2, c2)
    elif kind == 'sim3':
        tf = sitk.Similarity3DTransform(float(rng.uniform(0.5, 2)), vers, t3, c3)
    elif kind == 'versor3':
        tf = sitk.VersorRigid3DTransform(vers, t3, c3)
    elif kind == 'trans3':
        tf = sitk.TranslationTransform(3, t3)
    elif kind == 'trans2':
        tf = sitk.TranslationTransform(2, t2)
    elif kind == 'scale3':
        tf = sitk.ScaleTransform(3, list(rng.uniform(0.5, 2, 3)))
        tf.SetCenter(c3)
    elif kind == 'scale2':
        tf = sitk.ScaleTransform(2, list(rng.uniform(0.5, 2, 2)))
        tf.SetCenter(c2)
    elif kind == 'sv3':
        tf = sitk.ScaleVersor3DTransform(list(rng.uniform(0.5, 2, 3)), vers, t3, c3)
    else:
        tf = sitk.ScaleSkewVersor3DTransform(list(rng.uniform(0.5, 2, 3)), list(rng.uniform(-0.3, 0.3, 6)),
                                             vers, t3, c3)
    return kind, tf


def renamed_kind_text(path, kind):
    """the .tfm text SimpleITK wrote at path; for the kinds drawn as renamed
    Affine files (affine3_float, ..._mob) the class renamed _float_ or
    MatrixOffsetTransformBase (SimpleITK reads those too), in the file too"""
    text = open(path).read()
    if kind in ('affine3_float', 'affine3_mob', 'affine2_mob', 'affine2_float'):
        nd = 2 if kind.startswith('affine2') else 3
        new = 'MatrixOffsetTransformBase' if kind.endswith('mob') else 'AffineTransform'
        text = text.replace('AffineTransform_double_%d_%d' % (nd, nd),
                            '%s_%s_%d_%d' % (new, 'float' if kind.endswith('float') else 'double', nd, nd))
        with open(path, 'w') as f:
            f.write(text)
    return text


def fam_tfm_sitk(case, rng):
    kind, tf = rand_sitk_transform(rng)
    ext = str(rng.choice(['.tfm'] * 6 + ['.txt', '.mat', '.h5']))
    path = case.p('s' + ext)
    sitk.WriteTransform(tf, path)
    if ext == '.h5':
        # ITK's HDF5 form: the class name of group 0 (a composite's members
        # follow it), read by medvol's own HDF5 reader
        if kind.startswith('composite') and tf.GetNumberOfTransforms() >= 8:
            case.note('.h5 composites of 8+ members (dense link storage)')
        tkind = 'BSplineTransform_double_3_3' if kind == 'bspline' else sitk_class_name(tf)
        return read_case(case, rng, path, tkind, '.h5 ')
    if ext == '.mat':
        return mat_case(case, rng, kind, path)
    text = renamed_kind_text(path, kind)
    line = [x for x in text.splitlines() if x.startswith('Transform:')][0]
    return read_case(case, rng, path, line.split()[1], '')


def fam_h5_dense(case, rng):
    """a composite of 8-60 members (9+ links in /TransformGroup) as
    SimpleITK writes it (ITK 5's newer format: the links in dense storage,
    a fractal heap indexed by a version 2 B-tree; from about 40 members an
    indirect heap block, from about 50 a B-tree of two levels), and h5py's
    copy of it in the latest format with the groups created in a random
    order (track_order in half: a creation-order index too): medvol reads
    each as SimpleITK reads SimpleITK's"""
    import h5py
    nd = int(rng.choice([2, 3]))
    n = int(rng.integers(8, 61))
    parts = []
    while len(parts) < n:
        k, tf = rand_sitk_transform(rng, True)
        if not k.startswith(('composite', 'bspline')) and tf.GetDimension() == nd:
            parts.append(tf)
    path = case.p('s.h5')
    sitk.WriteTransform(sitk.CompositeTransform(parts), path)
    case.note('composites of %s members' % ('8-20' if n <= 20 else '21-40' if n <= 40 else '41-60'))
    tkind = 'CompositeTransform_double_%d_%d' % (nd, nd)
    w = read_case(case, rng, path, tkind, 'SimpleITK .h5 ')
    track = bool(rng.random() < 0.5)
    copy = case.p('h.h5')
    with h5py.File(path, 'r') as fi, h5py.File(copy, 'w', libver='latest', track_order=track) as fo:
        for key in fi:
            if key != 'TransformGroup':
                fi.copy(key, fo)
        g = fo.create_group('TransformGroup', track_order=track)
        names = list(fi['TransformGroup'].keys())
        for i in rng.permutation(len(names)):
            fi.copy(fi['TransformGroup'][names[int(i)]], g, name=names[int(i)])
    return max(w, read_case(case, rng, copy, tkind, 'h5py latest%s ' % (', track_order' if track else ''), path))

def sitk_class_name(tf):
    """ITK's class name of tf as its files give it (AffineTransform_double_3_3)"""
    tmp = tempfile.mkdtemp(prefix='h5name')
    try:
        sitk.WriteTransform(tf, os.path.join(tmp, 't.tfm'))
        text = open(os.path.join(tmp, 't.tfm')).read()
    finally:
        shutil.rmtree(tmp)
    return [x for x in text.splitlines() if x.startswith('Transform:')][0].split()[1]


def read_case(case, rng, path, tkind, label, ref=None):
    """medvol reads the transform file at path (of class tkind) as
    sitk.ReadTransform reads ref (path when None); a B-spline is refused
    naming its kind"""
    r = case.run('tfm-read', path, case.p('s.mat'))
    case.note(label + tkind)
    if tkind in REFUSED:
        if r.returncode != 3 or 'MV_ERR_UNSUPPORTED' not in r.stderr or tkind not in r.stderr:
            raise Failure('%s (%s): expected MV_ERR_UNSUPPORTED naming it, got exit %d: %s' %
                          (path, tkind, r.returncode, r.stderr.strip()))
        return 0.0
    if r.returncode != 0:
        raise Failure('%s (%s): exit %d: %s' % (path, tkind, r.returncode, r.stderr.strip()))
    return compare_read(case, rng, path, tkind, case.p('s.mat'), ref)


def tfm_blocks(text):
    """(class name, Parameters, FixedParameters) of each transform of a .tfm text"""
    out = []
    for block in text.split('#Transform ')[1:]:
        kind, par, fix = None, [], []
        for line in block.splitlines():
            if line.startswith('Transform:'):
                kind = line.split()[1]
            elif line.startswith('Parameters:'):
                par = [float(x) for x in line.split()[1:]]
            elif line.startswith('FixedParameters:'):
                fix = [float(x) for x in line.split()[1:]]
        out.append((kind, par, fix))
    return out


def hdf5_library():
    """ctypes handle on the libhdf5 h5py has loaded (for what h5py does not
    wrap: H5Pset_chunk_opts)"""
    import ctypes
    for line in open('/proc/self/maps'):
        path = line.split()[-1]
        name = path.rsplit('/', 1)[-1]
        if name.startswith('libhdf5') and '_hl' not in name and '.so' in name:
            return ctypes.CDLL(path)
    return None


def h5_storage(rng, n, libver, grow_ok):
    """a random storage of a dataset of n values: None (h5py's contiguous)
    or chunk size, filters in the order applied, early allocation (the
    latest format's implicit index when unfiltered), the unfiltered partial
    edge chunk (H5Pset_chunk_opts), and (grow_ok) an unlimited dimension or
    h5py's LZF filter, which medvol refuses"""
    if n == 0 or rng.random() < 0.5:
        return None
    st = {'chunks': int(min(n, max(1, round(np.exp(rng.uniform(0, np.log(n + 1))))))), 'libver': libver}
    if n > 1100 and rng.random() < 0.3:
        st['chunks'] = n // 1100  # over 1024 chunks: the latest format pages its fixed array
    st['filters'] = [f for f in ('gzip', 'shuffle', 'fletcher32') if rng.random() < 0.5]
    if grow_ok and rng.random() < 0.05:
        st['filters'].append('lzf')  # h5py's own filter: refused, named
    rng.shuffle(st['filters'])
    st['level'] = int(rng.integers(0, 10))
    st['early'] = bool(rng.random() < 0.3)
    st['raw_edge'] = bool(st['filters'] and n % st['chunks'] and libver == 'latest' and rng.random() < 0.3)
    st['grow'] = bool(grow_ok and rng.random() < 0.1)
    return st


def h5_storage_text(st, n):
    """st in a few words (how the case notes count it)"""
    if not st:
        return 'contiguous'
    k = -(-n // st['chunks'])
    latest = st['libver'] == 'latest'
    index = ('B-tree' if not latest else 'extensible array' if st['grow'] else 'single chunk' if k == 1 else
             'implicit' if st['early'] and not st['filters'] else 'paged fixed array' if k > 1024 else 'fixed array')
    return '%s, %s%s' % (index, '+'.join(st['filters']) or 'unfiltered', ', raw edge' if st['raw_edge'] else '')


def h5_put(group, name, data, st):
    """dataset name of group holding data (1-D), stored as st says"""
    import ctypes
    import h5py
    data = np.ascontiguousarray(data)
    if not st:
        group.create_dataset(name, data=data)
        return
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((st['chunks'],))
    for f in st['filters']:
        if f == 'gzip':
            dcpl.set_deflate(st['level'])
        elif f == 'shuffle':
            dcpl.set_shuffle()
        elif f == 'lzf':
            dcpl.set_filter(h5py.h5z.FILTER_LZF, h5py.h5z.FLAG_OPTIONAL)
        else:
            dcpl.set_fletcher32()
    if st['early']:
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    if st['raw_edge']:  # H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS
        lib = hdf5_library()
        if lib is None or lib.H5Pset_chunk_opts(ctypes.c_int64(dcpl.id), ctypes.c_uint(2)) < 0:
            raise Failure('H5Pset_chunk_opts failed')
    space = h5py.h5s.create_simple((len(data),), (h5py.h5s.UNLIMITED if st['grow'] else len(data),))
    ds = h5py.h5d.create(group.id, name.encode(), h5py.h5t.py_create(data.dtype), space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def fam_tfm_h5py(case, rng):
    try:
        import h5py
    except ImportError:
        case.note('no h5py: skipped')
        return 0.0
    kind, tf = rand_sitk_transform(rng)
    while kind == 'bspline':
        kind, tf = rand_sitk_transform(rng)
    tfm = case.p('s.tfm')
    sitk.WriteTransform(tf, tfm)
    text = renamed_kind_text(tfm, kind)
    blocks = tfm_blocks(text)
    libver = str(rng.choice(['earliest', 'latest']))
    dtype = str(rng.choice(['<f8', '>f8', '<f4', '>f4']))
    fixed_str = bool(rng.random() < 0.2)
    if fixed_str:
        dtype = str(rng.choice(['<f8', '>f8']))  # (the .tfm, in float64, is then the reference)
    typo = bool(rng.random() < 0.3)
    path = case.p('s.h5')
    refused = []  # (dataset, the word its refusal must hold)
    with h5py.File(path, 'w', libver=libver) as f:
        f.create_dataset('ITKVersion', data=np.array([b'4.13.2'], dtype=object), dtype=h5py.string_dtype('ascii'))
        g = f.create_group('TransformGroup')
        for i, (k, par, fix) in enumerate(blocks):
            sub = g.create_group(str(i))
            if fixed_str:
                sub['TransformType'] = np.array([k.encode()])
            else:
                sub.create_dataset('TransformType', data=np.array([k.encode()], dtype=object),
                                   dtype=h5py.string_dtype('ascii'))
            if not k.startswith('CompositeTransform'):
                pre = 'Tranform' if typo else 'Transform'
                for leaf, vals in (('FixedParameters', fix), ('Parameters', par)):
                    st = h5_storage(rng, len(vals), libver, True)
                    name = '/TransformGroup/%d/%s' % (i, pre + leaf)
                    if st and st['grow'] and libver == 'latest':
                        refused.append((name, 'extensible array'))
                    if st and 'lzf' in st['filters']:
                        refused.append((name, 'LZF'))
                    if st:
                        case.note(h5_storage_text(st, len(vals)))
                    h5_put(sub, pre + leaf, np.array(vals, dtype=dtype), st)
    case.note('h5py %s %s%s%s' % (libver, dtype, ' fixed string' if fixed_str else '', ' Tranform' if typo else ''))
    if libver == 'latest' and len(blocks) > 8:
        case.note('groups of 9+ links (dense link storage)')
    if refused:  # the latest format's extensible array, LZF: refused, named with the dataset
        r = case.run('tfm-read', path, case.p('s.mat'))
        if r.returncode != 3 or 'MV_ERR_UNSUPPORTED' not in r.stderr or \
                not any(name in r.stderr and word in r.stderr for name, word in refused):
            raise Failure('%s (%s): expected MV_ERR_UNSUPPORTED naming it, got exit %d: %s' %
                          (path, refused, r.returncode, r.stderr.strip()))
        return 0.0
    return read_case(case, rng, path, blocks[0][0], '.h5 ', tfm if fixed_str else None)


def h5_rewrite_chunked(case, rng, src, dst):
    """src (an ITK .h5) copied by h5py to dst in either format, each
    transform's parameters stored as h5_storage draws (never growable)"""
    import h5py
    libver = str(rng.choice(['earliest', 'latest']))
    case.note('h5py ' + libver)
    with h5py.File(src, 'r') as fi:
        with h5py.File(dst, 'w', libver=libver) as fo:
            for key in fi:
                if key != 'TransformGroup':
                    fi.copy(key, fo)
            g = fo.create_group('TransformGroup')
            for i in fi['TransformGroup']:
                si, so = fi['TransformGroup'][i], g.create_group(i)
                for leaf in si:
                    if leaf == 'TransformType':
                        si.copy(leaf, so)
                        continue
                    vals = si[leaf][()]
                    st = h5_storage(rng, len(vals), libver, False)
                    case.note(h5_storage_text(st, len(vals)))
                    h5_put(so, leaf, vals, st)


def fam_h5_field(case, rng):
    """a DisplacementFieldTransform alone or last in a composite after 1-2
    linear members, written by SimpleITK as .h5, read by
    mv_itk_h5_read_field: the field's grid maps indices as SimpleITK's
    image does, and every grid point p goes where sitk.ReadTransform of the
    file takes it, S m S (p + d(p)) (d rounded to float32)"""
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, rand_dims(rng, nd))
    d = smooth_field(rng, g, nd, float(rng.uniform(0.5, 6)))
    field = sitk.DisplacementFieldTransform(sitk_vector(d, g))
    parts = []
    for _ in range(int(rng.integers(0, 3))):
        k2, t2 = rand_sitk_transform(rng)
        while k2.startswith(('composite', 'bspline')) or t2.GetDimension() != nd:
            k2, t2 = rand_sitk_transform(rng)
        parts.append(t2)
    misplaced = bool(parts) and rng.random() < 0.1  # the field first: refused
    tf = sitk.CompositeTransform(([field] + parts) if misplaced else (parts + [field])) if parts else field
    path = case.p('f.h5')
    sitk.WriteTransform(tf, path)
    ref_path = path
    if rng.random() < 0.5 and importlib.util.find_spec('h5py') is not None:
        path = case.p('f_chunked.h5')
        h5_rewrite_chunked(case, rng, ref_path, path)
    r = case.run('h5-field', path, case.p('f.raw'), case.p('f.aff'), case.p('f.mat'))
    case.note('%dD field after %d linear' % (nd, len(parts)) + (', misplaced' if misplaced else ''))
    if misplaced:
        if r.returncode != 3 or 'MV_ERR_UNSUPPORTED' not in r.stderr:
            raise Failure('%s: a field before linear members: expected MV_ERR_UNSUPPORTED, got exit %d: %s' %
                          (path, r.returncode, r.stderr.strip()))
        return 0.0
    if r.returncode != 0:
        raise Failure('%s: exit %d: %s' % (path, r.returncode, r.stderr.strip()))
    X, Y, Z, nc = [int(x) for x in r.stdout.split()]
    if [X, Y, Z] != [int(x) for x in g['dims']] or nc != nd:
        raise Failure('%s: field %dx%dx%d, %d components (%s, %d wanted)' % (path, X, Y, Z, nc, g['dims'], nd))
    dmv = np.fromfile(case.p('f.raw'), np.float32).reshape(nc, Z, Y, X).astype(np.float64)
    aff, m = read_mat(case.p('f.aff')), read_mat(case.p('f.mat'))
    if perturb == 'h5_field':
        dmv = dmv * (1 + 1e-4)
    ref_tf = sitk.ReadTransform(ref_path)
    img = sitk_ref(g)
    M = S4 @ m @ S4
    scale = max(1.0, float(np.abs(M[:3, :3]).sum(axis=1).max()))
    worst = 0.0
    every = list(np.ndindex(Z, Y, X))
    if len(every) > 3000:  # a LARGE case: 3000 voxels drawn
        every = [every[int(i)] for i in rng.choice(len(every), 3000, replace=False)]
    for idx in every:
        z, y, x = idx
        ijk = [x, y] if nd == 2 else [x, y, z]
        p = np.array(img.TransformIndexToPhysicalPoint([int(v) for v in ijk]))
        q = (S4 @ aff @ np.array([x, y, z, 1.0]))[:nd]
        if np.max(np.abs(q - p)) > 1e-9 * max(1.0, np.max(np.abs(p))):
            raise Failure('%s: voxel %s at %s in medvol, %s in sitk' % (path, ijk, q, p))
        want = np.array(ref_tf.TransformPoint([float(v) for v in p]))
        pp = np.zeros(3)
        pp[:nd] = p + dmv[:, z, y, x]
        got = (M @ np.append(pp, 1))[:nd]
        dref = np.abs(np.array(d[:, z, y, x]))
        tol = 1e-6 * scale * max(1.0, float(dref.max())) + 1e-9 * max(1.0, float(np.max(np.abs(want))))
        worst = max(worst, float(np.max(np.abs(got - want))) / tol)
    if worst > 1:
        raise Failure('%s: points %.3g x the tolerance from sitk' % (path, worst))
    return worst


def rand_bspline_itk(rng, nd, lattice):
    """an ITK BSplineTransform (order 1-3): either laid over a random image
    grid by sitk.BSplineTransformInitializer (its first and last voxels on
    the bounds of the valid region), returned with that grid, or a
    coefficient grid of 1 to order + 4 points per axis set directly (fewer
    than order + 1: no valid region at all), grid None; lattice: signed
    permutation directions and dyadic spacings and origins (every grid
    index exact). Coefficients normal, 0.5-6 mm."""
    order = int(rng.choice([1, 2, 3, 3]))
    if rng.random() < 0.5:
        g = rand_grid(rng, nd, rand_dims(rng, nd, (2, 3, 5, 8, 13)), lattice=lattice)
        mesh = [int(rng.integers(1, 5)) for _ in range(nd)]
        tf = sitk.BSplineTransformInitializer(sitk_ref(g), mesh, order)
    else:
        g = None
        size = [int(rng.integers(1, order + 5)) if rng.random() < 0.1 else int(rng.integers(order + 1, order + 5))
                for _ in range(nd)]
        cg = rand_grid(rng, nd, size + [1] * (3 - nd), lattice=lattice)
        L = cg['L'][:nd, :nd]
        sp = np.sqrt((L ** 2).sum(axis=0))
        tf = sitk.BSplineTransform(nd, order)
        tf.SetFixedParameters([float(x) for x in size] + [float(x) for x in cg['o'][:nd]] +
                              [float(x) for x in sp] + [float(x) for x in (L / sp).ravel()])
    npar = len(tf.GetParameters())
    tf.SetParameters([float(x) for x in rng.normal(0, float(rng.uniform(0.5, 6)), npar)])
    return tf, g


def bspline_grid_of(tf):
    """(size, origin, spacing, direction) of a sitk BSplineTransform's coefficient grid"""
    fix = np.array(tf.GetFixedParameters())
    nd = tf.GetDimension()
    return fix[:nd], fix[nd:2 * nd], fix[2 * nd:3 * nd], fix[3 * nd:].reshape(nd, nd)


def bspline_points(rng, tf, bounds, n):
    """n LPS points around a B-spline's coefficient grid (grid index -1 to
    size on each axis) and, bounds, points on the bounds of its valid
    region (to rounding: on a lattice grid exactly) and 2^-10 outside"""
    size, org, sp, D = bspline_grid_of(tf)
    nd = len(size)
    half = (sitk.BSplineTransform(tf).GetOrder() - 1) / 2.0
    cs = [rng.uniform(-1, size) for _ in range(n)]
    if bounds:
        for _ in range(n // 2):
            c = np.floor(rng.uniform(0, size) * 4) / 4  # dyadic: exact
            a = int(rng.integers(0, nd))
            c[a] = float(rng.choice([half, size[a] - 1 - half])) + float(rng.choice([0, 0, -2 ** -10, 2 ** -10]))
            cs.append(c)
    return [org + D @ (sp * c) for c in cs]


def rand_linear_member(rng, nd):
    """a random sitk transform of a matrix kind (no composite, no B-spline) of dimension nd"""
    k, tf = rand_sitk_transform(rng)
    while k.startswith(('composite', 'bspline')) or tf.GetDimension() != nd:
        k, tf = rand_sitk_transform(rng)
    return tf


def write_sitk_file(case, rng, tf, exts):
    """tf written by SimpleITK in a form drawn from exts (.tfm, .h5, .mat; .tfm_float:
    the .tfm with float class names; .h5_chunked: the .h5 rewritten by h5py in
    chunks and filters): (the file SimpleITK reads back, the file for medvol, ext)"""
    ext = str(rng.choice(exts))
    ref_path = case.p('t' + ext.split('_')[0])
    sitk.WriteTransform(tf, ref_path)
    path = ref_path
    if ext == '.tfm_float':  # the float classes: the same numbers
        path = case.p('t_float.tfm')
        with open(path, 'w') as f:
            f.write(open(ref_path).read().replace('_double_', '_float_'))
    elif ext == '.h5_chunked':
        if importlib.util.find_spec('h5py') is None:
            case.note('no h5py: .h5 as written')
        else:
            path = case.p('t_chunked.h5')
            h5_rewrite_chunked(case, rng, ref_path, path)
    return ref_path, path, ext


def compare_chain(case, path, ref_tf, pts, nd, fg, fam):
    """medvol's chain of file path (diff_sitk chain) against sitk's ref_tf: the
    LPS points pts through TransformPoint (1e-9 relative) and, fg not None, the
    field on grid fg against TransformToDisplacementField (2e-6); the file
    rewritten by medvol (diff_sitk itk-rewrite: mv_itk_write_transform) in the
    other form (.tfm <-> .h5, deflate level case % 10) and read by SimpleITK
    maps pts as ref_tf (1e-9 relative); --perturb fam scales medvol's points
    by 1 + 1e-7, its field by 1 + 1e-4 and the rewritten file's points by 1 +
    1e-7. (worst fraction of a tolerance, how many points sitk moved)"""
    P = np.zeros((len(pts), 3))
    P[:, :nd] = np.array(pts)
    (P * [-1, -1, 1]).astype(np.float64).tofile(case.p('p.raw'))
    args = ['chain', path, case.p('p.raw'), len(pts), case.p('q.raw')]
    if fg is not None:
        args += raw_grid_args(case, 'fg', fg) + [case.p('f.raw')]
    case.call(*args)
    Q = np.fromfile(case.p('q.raw'), np.float64).reshape(-1, 3) * [-1, -1, 1]
    worst, moved = 0.0, 0
    for p, q in zip(pts, Q):
        try:
            want = np.array(ref_tf.TransformPoint([float(v) for v in p]))
        except RuntimeError:
            # ITK 5.4 reads past a B-spline grid smaller than its support (size
            # < order + 1 on an axis: its nudge at the upper bound makes an
            # empty region valid): no reference; medvol leaves such a point in place
            case.note('ITK throws (a grid smaller than the support)')
            fg = None
            continue
        if perturb == fam:
            q = q * (1 + 1e-7)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(want))), float(np.max(np.abs(p))))
        err = float(np.max(np.abs(q[:nd] - want)))
        if err > tol:
            raise Failure('%s: point %s goes to %s in sitk, %s in medvol' % (path, list(p), list(want), list(q[:nd])))
        worst = max(worst, err / tol)
        moved += bool(np.any(want != p))
    # rewritten by medvol in the other form: SimpleITK's own points
    level = case.k % 10  # (no draw: the family's random sequence stays as it was)
    out = case.p('rewritten' + ('.tfm' if path.endswith('.h5') else '.h5'))
    case.call('itk-rewrite', path, out, level)
    mine = sitk.ReadTransform(out)
    for p in pts:
        try:
            want = np.array(ref_tf.TransformPoint([float(v) for v in p]))
        except RuntimeError:
            continue
        got = np.array(mine.TransformPoint([float(v) for v in p]))
        if perturb == fam:
            got = got * (1 + 1e-7)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(want))), float(np.max(np.abs(p))))
        if not float(np.max(np.abs(got - want))) <= tol:
            raise Failure('%s rewritten by medvol as %s (level %d): SimpleITK maps %s to %s, the original to %s'
                          % (path, out, level, list(p), list(got), list(want)))
    case.note('rewritten as %s' % out[-3:].lstrip('.'))
    if fg is not None:
        X, Y, Z = fg['dims']
        img = sitk_ref(fg)
        df = sitk.TransformToDisplacementField(ref_tf, sitk.sitkVectorFloat64, img.GetSize(), img.GetOrigin(),
                                               img.GetSpacing(), img.GetDirection())
        dref = from_sitk_vector(df, nd)
        dmv = np.fromfile(case.p('f.raw'), np.float32).reshape(nd, Z, Y, X).astype(np.float64)
        if perturb == fam:
            dmv = dmv * (1 + 1e-4)
        tol = 2e-6 * max(1.0, float(np.abs(dref).max()))
        err = float(np.abs(dmv - dref).max())
        if err > tol:
            k = np.unravel_index(int(np.argmax(np.abs(dmv - dref))), dmv.shape)
            raise Failure('%s: field %.3g from sitk at component/z/y/x %s (%.6g vs %.6g)' %
                          (path, err, list(k), dmv[k], dref[k]))
        worst = max(worst, err / tol)
        case.note('fields')
    return worst, moved


def fam_bspline_itk(case, rng):
    """ITK BSplineTransforms, alone or in a composite with linear members
    and other B-splines, as SimpleITK writes them (.tfm, .h5, the .h5
    rewritten by h5py in chunks and filters, float class names; alone also
    MATLAB .mat): medvol's
    mv_itk_transform_read + mv_elastix_point maps points as sitk's
    TransformPoint does (the boundaries of the valid region included, on
    lattice grids where every index is exact) and mv_elastix_field gives
    TransformToDisplacementField's field on a grid (the initializer's
    image grid: its boundary voxels)"""
    nd = int(rng.choice([2, 3]))
    lattice = bool(rng.random() < 0.5)
    bs, g = rand_bspline_itk(rng, nd, lattice)
    members = [bs]
    for _ in range(int(rng.integers(0, 4))):
        if rng.random() < 0.25:
            members.append(rand_bspline_itk(rng, nd, lattice)[0])
        else:
            members.append(rand_linear_member(rng, nd))
    rng.shuffle(members)
    innermost = members[-1].GetName() == 'BSplineTransform'  # ITK applies it first: its bounds are the points'
    tf = sitk.CompositeTransform(members) if len(members) > 1 else bs
    ref_path, path, ext = write_sitk_file(case, rng, tf, ['.tfm', '.tfm', '.tfm_float', '.h5', '.h5', '.h5_chunked'] +
                                          (['.mat'] if len(members) == 1 else []))  # a .mat holds one transform
    for what in ('%dD' % nd, ext, '%d-member' % len(members), 'lattice geometry' if lattice else 'any geometry'):
        case.note(what)
    ref_tf = sitk.ReadTransform(ref_path)
    # the bounds of the innermost B-spline's valid region, where ITK's last
    # bit decides, are compared where medvol has ITK's arithmetic: a grid
    # whose direction is a signed permutation
    inner = members[-1] if innermost else bs
    axis_aligned = innermost and bool(np.all(np.isin(np.abs(bspline_grid_of(inner)[3]), [0.0, 1.0])))
    if axis_aligned:
        case.note('bounds')
    pts = bspline_points(rng, inner, axis_aligned, 60)
    fg = g if g is not None else (rand_grid(rng, nd, rand_dims(rng, nd), center_lps=list(bspline_grid_of(bs)[1]) +
                                            [0] * (3 - nd)) if rng.random() < 0.5 else None)
    return compare_chain(case, path, ref_tf, pts, nd, fg, 'bspline_itk')[0]


def rand_field_itk(rng, nd, lattice):
    """an ITK DisplacementFieldTransform on a random grid of 1-7 points per
    axis (lattice: every index exact, as rand_grid), its vectors normal
    (0.5-6 mm, not smooth: the interpolation is checked, not the field)"""
    g = rand_grid(rng, nd, rand_dims(rng, nd, (1, 2, 3, 4, 5, 7)), lattice=lattice)
    X, Y, Z = g['dims']
    d = rng.normal(0, float(rng.uniform(0.5, 6)), (nd, Z, Y, X))
    return sitk.DisplacementFieldTransform(sitk_vector(d, g)), g


def field_points(rng, g, bounds, n):
    """n LPS points around field grid g (continuous index -1.5 to size + 0.5
    on each axis) and, bounds, some on grid points and half-way between,
    and points on the bounds of its buffer (index -0.5 and size - 0.5,
    exact on a lattice grid) and 2^-10 either side: where ITK's last bit
    decides, asked only of grids whose index medvol computes with ITK's
    arithmetic (signed permutation directions)"""
    nd = g['nd']
    size = np.array(g['dims'][:nd], np.float64)
    cs = []
    for _ in range(n):
        c = rng.uniform(-1.5, size + 0.5)
        if bounds and rng.random() < 0.3:  # grid points and half-way (the bounds among them)
            c = np.floor(c * 2) / 2
        cs.append(c)
    if bounds:
        for _ in range(n // 2):
            c = np.floor(rng.uniform(-0.5, size - 0.5) * 4) / 4
            a = int(rng.integers(0, nd))
            c[a] = float(rng.choice([-0.5, size[a] - 0.5])) + float(rng.choice([0, 0, -2 ** -10, 2 ** -10]))
            cs.append(c)
    return [g['o'][:nd] + g['L'][:nd, :nd] @ c for c in cs]


def fam_field_itk(case, rng):
    """ITK DisplacementFieldTransforms, anywhere in a composite with linear
    members, B-splines and other fields (ANTs' Composite.h5 [affine,
    field], InverseComposite.h5 [field, affine] and longer), as SimpleITK
    writes them (.tfm, .h5, the .h5 rewritten by h5py in chunks and
    filters, float class names): mv_itk_transform_read + mv_elastix_point
    maps points as sitk's TransformPoint (the bounds of the innermost
    field's buffer included when its direction is a signed permutation,
    where medvol's index has ITK's bits) and mv_elastix_field gives
    TransformToDisplacementField's field on a grid"""
    nd = int(rng.choice([2, 3]))
    lattice = bool(rng.random() < 0.5)
    fd, g = rand_field_itk(rng, nd, lattice)
    members = [fd]
    for _ in range(int(rng.integers(0, 4))):
        u = rng.random()
        if u < 0.25:
            members.append(rand_field_itk(rng, nd, lattice)[0])
        elif u < 0.4:
            members.append(rand_bspline_itk(rng, nd, lattice)[0])
        else:
            members.append(rand_linear_member(rng, nd))
    rng.shuffle(members)
    inner = members[-1].GetName() == 'DisplacementFieldTransform'
    if inner:  # ITK applies it first: the points' bounds are its buffer's
        fl = sitk.DisplacementFieldTransform(members[-1]).GetFixedParameters()
        g = {'nd': nd, 'dims': [int(x) for x in fl[:nd]] + [1] * (3 - nd), 'o': np.zeros(3), 'L': np.eye(3)}
        sp, D = np.array(fl[2 * nd:3 * nd]), np.array(fl[3 * nd:]).reshape(nd, nd)
        g['o'][:nd] = fl[nd:2 * nd]
        g['L'][:nd, :nd] = D * sp
        A = np.eye(4)
        A[:3, :3], A[:3, 3] = g['L'], g['o']
        g['A'] = S4 @ A
    tf = sitk.CompositeTransform(members) if len(members) > 1 else fd
    ref_path, path, ext = write_sitk_file(case, rng, tf, ['.tfm', '.tfm_float', '.h5', '.h5', '.h5_chunked'] +
                                          (['.mat'] if len(members) == 1 else []))  # a .mat holds one transform
    kinds = [m.GetName() for m in members]
    for what in ('%dD' % nd, ext, '%d-member' % len(members), 'lattice geometry' if lattice else 'any geometry',
                 'field innermost' if inner else 'field outer'):
        case.note(what)
    if kinds.count('DisplacementFieldTransform') > 1:
        case.note('two or more fields')
    ref_tf = sitk.ReadTransform(ref_path)
    axis_aligned = inner and bool(np.all(np.isin(np.abs(g['L'][:nd, :nd] / np.sqrt((g['L'][:nd, :nd] ** 2).sum(axis=0))),
                                                 [0.0, 1.0])))
    if axis_aligned:
        case.note('bounds')
    pts = field_points(rng, g, axis_aligned, 60)
    fg = g if rng.random() < 0.5 else rand_grid(rng, nd, rand_dims(rng, nd), center_lps=list(grid_center_lps(g)))
    worst, moved = compare_chain(case, path, ref_tf, pts, nd, fg, 'field_itk')
    if moved < len(pts) // 4:
        case.note('few points moved')
    return worst


def fam_h5_field_mv(case, rng):
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, rand_dims(rng, nd))
    d = f32(smooth_field(rng, g, nd, float(rng.uniform(0.5, 6))))
    use_m = rng.random() < 2 / 3
    M = rand_matrix(rng, nd) if use_m else np.eye(4)
    if use_m:
        write_mat(case.p('m.txt'), M)
    d.astype(np.float32).tofile(case.p('f.raw'))
    path = case.p('f.h5')
    level = int(rng.choice([0, 0, 1, 5, 9]))
    os.environ['DIFF_H5_LEVEL'] = str(level)
    try:
        case.call('fsave', *(raw_grid_args(case, 'g', g) + [nd, case.p('f.raw'), path] +
                             ([case.p('m.txt')] if use_m else [])))
    finally:
        del os.environ['DIFF_H5_LEVEL']
    case.note('%dD field%s' % (nd, ' after a matrix' if use_m else ' alone'))
    case.note('deflate level %d' % level if level else 'uncompressed')
    # h5py: ITK's layout
    try:
        import h5py
        with h5py.File(path, 'r') as f:
            grp = f['TransformGroup']
            kinds = [grp[k]['TransformType'][0] for k in sorted(grp.keys())]
            kinds = [k.decode() if isinstance(k, bytes) else k for k in kinds]
            want = (['CompositeTransform_double_%d_%d' % (nd, nd), 'AffineTransform_double_%d_%d' % (nd, nd)]
                    if use_m else []) + ['DisplacementFieldTransform_double_%d_%d' % (nd, nd)]
            par = grp[str(len(want) - 1)]['TransformParameters'][()]
            if kinds != want or par.dtype != np.float64 or \
                    not np.array_equal(par, d.reshape(nd, -1).T.ravel().astype(np.float64)):
                raise Failure('%s: h5py reads %s and %d parameters (%s; the vectors interleaved wanted)' %
                              (path, kinds, par.size, want))
    except ImportError:
        case.note('no h5py: layout unchecked')
    # medvol reads its file back bit for bit
    r = case.run('h5-field', path, case.p('b.raw'), case.p('b.aff'), case.p('b.mat'))
    if r.returncode != 0:
        raise Failure('%s read back: exit %d: %s' % (path, r.returncode, r.stderr.strip()))
    back = np.fromfile(case.p('b.raw'), np.float32)
    if not np.array_equal(back, d.ravel()) or not np.array_equal(read_mat(case.p('b.mat')), M if use_m else np.eye(4)):
        raise Failure('%s read back by medvol: the field or the matrix differs' % path)
    # SimpleITK maps every grid point p to S m S (p + d(p))
    tf = sitk.ReadTransform(path)
    L = S4 @ M @ S4
    pts = grid_points_lps(g)
    dd = d.reshape(nd, -1).astype(np.float64)
    if perturb == 'h5_field_mv':
        dd = dd * (1 + 1e-4)
    if nd == 2:
        dd = np.vstack([dd, np.zeros((1, dd.shape[1]))])
    want = (L[:3, :3] @ (pts + dd) + L[:3, 3:4])[:nd]
    idx = np.arange(pts.shape[1])
    if idx.size > 3000:
        idx = rng.choice(idx.size, 3000, replace=False)
    worst = 0.0
    for i in idx:
        got = np.array(tf.TransformPoint([float(x) for x in pts[:nd, i]]))
        tol = 1e-9 * max(1.0, float(np.max(np.abs(want[:, i]))), float(np.max(np.abs(pts[:, i]))))
        worst = max(worst, float(np.max(np.abs(got - want[:, i]))) / tol)
    if worst > 1:
        raise Failure('%s: SimpleITK maps the grid points %.3g x the tolerance from S m S (p + d(p))' % (path, worst))
    return worst


def compare_read(case, rng, path, tkind, matrix, ref=None):
    """medvol's reading of path (its RAS matrix in the text file matrix)
    against sitk.ReadTransform of the same file (or of ref), at 12 random
    points"""
    ref_tf = sitk.ReadTransform(ref if ref else path)
    nd = ref_tf.GetDimension()
    m = read_mat(matrix)
    if perturb not in ('tfm_sitk', 'tfm_h5py', 'h5_dense'):
        m = S4 @ m @ S4  # medvol's RAS matrix in LPS
    worst = 0.0
    for _ in range(12):
        p = rng.uniform(-100, 100, 3)
        if nd == 2:
            p[2] = 0
        y = np.array(ref_tf.TransformPoint([float(x) for x in p[:nd]]))
        q = m @ np.append(p, 1)
        if nd == 2 and q[2] != 0:
            raise Failure('%s (2D): medvol moves z (%r)' % (path, q[2]))
        err = np.max(np.abs(q[:nd] - y)) / (1e-11 * max(1.0, np.max(np.abs(y))))
        worst = max(worst, err)
    if worst > 1:
        raise Failure('%s (%s): medvol maps points %.3g x the tolerance away from sitk' % (path, tkind, worst))
    return worst


def mat_vars(path):
    """the (name, values) of each MATLAB level 4 matrix in path (either byte order)"""
    data, out, at = open(path, 'rb').read(), [], 0
    while at < len(data):
        e = '<' if struct.unpack('<i', data[at:at + 4])[0] in (0, 10) else '>'
        typ, rows, cols, imag, nl = struct.unpack(e + '5i', data[at:at + 20])
        width = 4 if typ % 100 == 10 else 8
        name = data[at + 20:at + 20 + nl - 1].decode()
        vals = np.frombuffer(data, e + ('f4' if width == 4 else 'f8'), rows * cols, at + 20 + nl)
        out.append((name, vals.astype(np.float64)))
        at += 20 + nl + width * rows * cols
    return out


def mat_encode(variables, big, single):
    """variables as MATLAB level 4 matrices: type M*1000 + P*10 (M 1 big-endian,
    P 1 float32), one column each; float names say _float_ as ITK's do"""
    e, out = '>' if big else '<', b''
    for name, vals in variables:
        if single:
            name = name.replace('_double_', '_float_')
        nb = name.encode() + b'\0'
        out += struct.pack(e + '5i', 1000 * big + 10 * single, len(vals), 1, 0, len(nb)) + nb
        out += np.asarray(vals, e + ('f4' if single else 'f8')).tobytes()
    return out


def mat_case(case, rng, kind, path):
    """a .mat SimpleITK wrote, or the same variables re-encoded big-endian
    and/or as float32 (SimpleITK reads those too): medvol maps points as
    SimpleITK's reading of the same file; a composite (ITK keeps only its
    last member in a .mat) and a B-spline are refused naming the kind"""
    big, single = bool(rng.random() < 0.3), bool(rng.random() < 0.3)
    if big or single:
        data = mat_encode(mat_vars(path), big, single)
        with open(path, 'wb') as f:
            f.write(data)
    tkind = mat_vars(path)[0][0]
    case.note('.mat %s%s' % ('big-endian ' if big else '', 'float' if single else 'double'))
    r = case.run('tfm-read', path, case.p('s.mat.txt'))
    if kind.startswith(('composite', 'bspline')):
        if r.returncode != 3 or 'MV_ERR_UNSUPPORTED' not in r.stderr or tkind not in r.stderr:
            raise Failure('%s (%s): expected MV_ERR_UNSUPPORTED naming it, got exit %d: %s' %
                          (path, tkind, r.returncode, r.stderr.strip()))
        case.note('.mat %s refused' % tkind.split('_')[0])
        return 0.0
    if r.returncode != 0:
        raise Failure('%s (%s): exit %d: %s' % (path, tkind, r.returncode, r.stderr.strip()))
    return compare_read(case, rng, path, tkind, case.p('s.mat.txt'))


def draw_warp_geometry(rng, nd, exact=False, lattice=False):
    """moving grid, fixed grid and M such that the fixed grid maps onto
    (roughly) the moving grid"""
    mov = rand_grid(rng, nd, rand_dims(rng, nd), lattice=lattice)
    M = rand_matrix(rng, nd, lattice)
    cm = grid_center_lps(mov)
    inside = rng.random() < 0.7  # else the grids overlap only in part
    shift = rng.uniform(-0.5, 0.5, 3) if inside else rng.uniform(-4, 4, 3)
    if nd == 2:
        shift[2] = 0
    # fixed centre c_f with M(c_f) = c_m + shift (LPS: S M S)
    L = S4 @ M @ S4
    cf = np.linalg.solve(L[:3, :3], cm + shift - L[:3, 3])
    fix = rand_grid(rng, nd, rand_dims(rng, nd), center_lps=cf, exact=exact, lattice=lattice)
    if inside:
        fix = fit_inside(fix, mov, L, 0.8, exact, lattice)
    return mov, fix, M, inside


def fit_inside(g, outer, L, frac, exact, lattice):
    """g with its spacings scaled (about its centre) so that its corners,
    mapped by the LPS matrix L, span at most frac of outer's voxel range
    on each axis of outer longer than one voxel"""
    nd = g['nd']
    X, Y, Z = [n - 1 for n in g['dims']]
    corners = np.array([[i, j, k] for i in (0, X) for j in (0, Y) for k in (0, Z)], np.float64).T
    c = cont_index(outer, L[:3, :3] @ (g['L'] @ corners + g['o'][:, None]) + L[:3, 3:4])
    half = np.max(np.abs(c - c.mean(axis=1, keepdims=True)), axis=1)
    f = 1.0
    for a in range(3):
        if half[a] > 0:  # an axis of one voxel: inside for |c| < 0.5
            f = min(f, frac * max(outer['dims'][a] - 1, 0.9) / 2 / half[a])
    if lattice:
        f = 2.0 ** np.floor(np.log2(f))
    h = dict(g)
    h['L'] = g['L'].copy()
    h['L'][:, :nd] *= f
    center = grid_center_lps(g)
    h['o'] = center - h['L'] @ ((np.array(g['dims']) - 1) / 2.0)
    if nd == 2:
        h['o'][2] = 0.0
    if lattice:
        h['o'] = np.round(h['o'] * 2) / 2
    if exact:
        h['L'], h['o'] = f32(h['L']), f32(h['o'])
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = h['L'], h['o']
    h['A'] = S4 @ A
    return h


def moving_data(rng, g):
    """float32 (T, Z, Y, X): one frame mostly, 2 or 3 (a 4D moving image:
    medvol warps each frame) in a fifth of the cases"""
    X, Y, Z = g['dims']
    T = 1 if LARGE or rng.random() < 0.8 else int(rng.integers(2, 4))
    a = rng.standard_normal((T, Z, Y, X)) * float(rng.choice([1, 10, 1000]))
    return a.astype(np.float32)


def resample_frames(a, g, ref, tf, interp, fill):
    """sitk.Resample of every frame of a (T, Z, Y, X) on grid g: (T, N)"""
    return np.stack([from_sitk_scalar(sitk.Resample(sitk_scalar(f, g), ref, tf, SITK_INTERP[interp], fill,
                                                    sitk.sitkFloat64), g['nd']).ravel() for f in a])


def moving_args(case, a, mov):
    a.tofile(case.p('mov.raw'))
    write_mat(case.p('mov.aff'), mov['A'])
    if a.shape[0] > 1:
        case.note('4D moving cases')
    return [case.p('mov.raw')] + mov['dims'] + [a.shape[0], case.p('mov.aff')]


SITK_INTERP = {0: sitk.sitkLinear, 1: sitk.sitkNearestNeighbor, 2: sitk.sitkBSpline}  # mv_interp order


def draw_interp(rng):
    """mv_interp and fill_outside. Cubic only with fill_outside 1: then
    medvol's spline has scipy's mirror boundary (mv_resample_opts), which
    is ITK's BSplineDecompositionImageFilter / BSplineInterpolateImageFunction
    boundary; with 0 medvol's spline is that of the edge-extended volume,
    another function everywhere (the recursive prefilter reaches every
    voxel)."""
    interp = int(rng.choice([0, 0, 1, 1, 2]))
    return interp, 1 if interp == 2 else int(rng.integers(0, 2))


def compare_warp(case, got, ref, c, dims, interp, fill_outside, fill, a, what, exact):
    if what == 'field':  # mv_field_opts.fill_outside: "An axis of one voxel (2D images) is inside for |c| <= 0.5"
        one = 0.5 if exact else 0.5 - 1e-6
    else:  # mv_resample_opts: [0, n-1]; 2D images: 0 up to rounding
        one = 0.0 if exact else 1e-9
    cmp_, fillexp = masks(c, dims, fill_outside, exact, one)
    got, ref = got.ravel(), ref.ravel()
    scale = max(float(np.max(np.abs(a))), abs(fill), 1e-30)
    if interp == 1:
        cmp_ = cmp_ & (not_tie(c, exact) | fillexp)
    case.note('voxels compared interpolated', int((cmp_ & ~fillexp).sum()))
    case.note('voxels compared filled', int((cmp_ & fillexp).sum()))
    case.note('voxels left out (boundary band, ties)', int((~cmp_).sum()))
    if interp == 1:
        bad = cmp_ & (got != ref.astype(np.float32))
        err = float(np.max(np.abs(got - ref)[cmp_])) if cmp_.any() else 0.0
        if bad.any():
            i = int(np.argmax(bad))
            raise Failure('nearest: %d of %d compared voxels differ (first: voxel %d at moving coordinate %s: '
                          'medvol %r, sitk %r)' % (int(bad.sum()), int(cmp_.sum()), i, c[:, i].tolist(),
                                                    float(got[i]), float(ref[i])))
        return 0.0, int(cmp_.sum())
    tol = (2e-6 if interp == 0 else 1e-5) * scale
    diff = np.abs(got - ref)
    diff[~cmp_] = 0
    err = float(np.max(diff)) if diff.size else 0.0
    if err > tol:
        i = int(np.argmax(diff))
        raise Failure(('linear' if interp == 0 else 'cubic') + ': max |medvol - sitk| %.3g > %.3g at voxel %d (moving coordinate %s: medvol %r, '
                      'sitk %r); %d voxels compared' % (err, tol, i, c[:, i].tolist(), float(got[i]), float(ref[i]),
                                                        int(cmp_.sum())))
    case.peak('worst %s' % ('linear' if interp == 0 else 'cubic'), err / tol)
    return err / tol, int(cmp_.sum())


def fam_warp_aff(case, rng):
    nd = int(rng.choice([2, 3]))
    lat = bool(rng.random() < 0.25)
    case.note('lattice cases' if lat else 'general cases')
    mov, fix, M, _ = draw_warp_geometry(rng, nd, lattice=lat)
    a = moving_data(rng, mov)
    interp, fo = draw_interp(rng)
    fill = float(rng.choice([0.0, -3.5, 7.25]))
    Mmv = M.copy()
    if perturb == 'warp_aff':
        Mmv[0, 3] += 1e-3
    write_mat(case.p('m.txt'), Mmv)
    case.call('warp', *(moving_args(case, a, mov) + raw_grid_args(case, 'fix', fix) +
                        [case.p('m.txt'), interp, fo, repr(fill), case.p('out.raw')]))
    got = np.fromfile(case.p('out.raw'), np.float32)
    ref = resample_frames(a, mov, sitk_ref(fix), sitk_affine(M, nd), interp, fill)
    L = S4 @ M @ S4
    c = np.tile(cont_index(mov, L[:3, :3] @ grid_points_lps(fix) + L[:3, 3:4]), a.shape[0])
    w, n = compare_warp(case, got, ref, c, mov['dims'], interp, fo, fill, a, 'affine', lat)
    return w


def fam_warp_field(case, rng):
    nd = int(rng.choice([2, 3]))
    lat = bool(rng.random() < 0.25)
    case.note('lattice cases' if lat else 'general cases')
    mov, fix, M, inside = draw_warp_geometry(rng, nd, exact=True, lattice=lat)
    use_m = rng.random() < 0.6
    if not use_m:
        M = np.eye(4)
        inside = rng.random() < 0.7
        shift = np.append(rng.uniform(-4, 4, 2), 0 if nd == 2 else rng.uniform(-4, 4)) * (0.1 if inside else 1)
        fix = rand_grid(rng, nd, rand_dims(rng, nd), center_lps=grid_center_lps(mov) + shift, exact=True,
                        lattice=lat)
        if inside:
            fix = fit_inside(fix, mov, np.eye(4), 0.6, True, lat)
    nc = nd
    spm = float(np.min(np.sqrt((mov['L'][:, :nd] ** 2).sum(axis=0))))
    d = smooth_field(rng, fix, nc, float(rng.choice([0.5, 2.0, 6.0]) if not inside else
                                         rng.choice([0.05, 0.2, 0.5]) * spm))
    if lat:  # displacements on the 0.25 mm lattice: the moving coordinates stay dyadic
        d = np.round(d * 4) / 4
    a = moving_data(rng, mov)
    interp, fo = draw_interp(rng)
    fill = float(rng.choice([0.0, -3.5, 7.25]))
    save_field_mv(case, 'field', d * (1 + 1e-4) if perturb == 'warp_field' else d, fix)
    if use_m:
        write_mat(case.p('m.txt'), M)
    case.call('fwarp', *(moving_args(case, a, mov) + [
        case.p('field.nii'), case.p('m.txt') if use_m else '-', interp, fo, repr(fill), case.p('out.raw')]))
    got = np.fromfile(case.p('out.raw'), np.float32)
    tf = composite(sitk_affine(M, nd), dft(d, fix))
    ref = resample_frames(a, mov, sitk_ref(fix), tf, interp, fill)
    L = S4 @ M @ S4
    dd = d.reshape(nc, -1)
    if nc == 2:
        dd = np.vstack([dd, np.zeros((1, dd.shape[1]))])
    c = np.tile(cont_index(mov, L[:3, :3] @ (grid_points_lps(fix) + dd) + L[:3, 3:4]), a.shape[0])
    w, n = compare_warp(case, got, ref, c, mov['dims'], interp, fo, fill, a, 'field', lat)
    return w


def fam_field_io(case, rng):
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, rand_dims(rng, nd), exact=True)
    d = smooth_field(rng, g, nd, float(rng.choice([0.5, 3.0, 20.0])))
    worst = 0.0
    if rng.random() < 0.5:  # medvol writes, SimpleITK reads
        if g['dims'][nd - 1] == 1:
            # ITK's NIfTI reader drops trailing axes of length 1: its own 3D
            # field on an (X, Y, 1) grid reads back as a 2D image of
            # 3-vectors, on (X, 1, 1) (and a 2D one on (X, 1)) not at all
            # (sitk: "unsupported image dimension of 1"). Such grids are
            # covered by the other direction and the other families.
            g = rand_grid(rng, nd, [max(x, 2) if a == nd - 1 else x for a, x in enumerate(g['dims'])], exact=True)
            d = smooth_field(rng, g, nd, float(rng.choice([0.5, 3.0, 20.0])))
        path = save_field_mv(case, 'mvf', d, g, '.nii.gz' if rng.random() < 0.3 else '.nii')
        img = sitk.ReadImage(path)
        if img.GetDimension() != nd or img.GetNumberOfComponentsPerPixel() != nd or \
                img.GetPixelID() != sitk.sitkVectorFloat32:
            raise Failure('%s read by sitk: dimension %d, %d components, %s; %dD float32 vectors expected' % (
                path, img.GetDimension(), img.GetNumberOfComponentsPerPixel(), img.GetPixelIDTypeAsString(), nd))
        back = from_sitk_vector(img, nd)
        if not np.array_equal(back, d):
            raise Failure('%s read by sitk: %d components differ' % (path, int(np.sum(back != d))))
        k = nd
        L = g['L'][:k, :k]
        sp = np.sqrt((L ** 2).sum(axis=0))
        e_sp = np.max(np.abs(np.array(img.GetSpacing()) - sp) / sp)
        e_dir = np.max(np.abs(np.array(img.GetDirection()).reshape(k, k) - L / sp))
        e_o = np.max(np.abs(np.array(img.GetOrigin()) - g['o'][:k]) / (1e-6 + 1e-6 * np.abs(g['o'][:k])))
        if e_sp > 2e-6 or e_dir > 2e-6 or e_o > 1:
            raise Failure('%s read by sitk: geometry off (spacing %.3g, direction %.3g relative; origin %.3g x tol)'
                          % (path, e_sp, e_dir, e_o))
        worst = max(worst, e_sp / 2e-6, e_dir / 2e-6, e_o)
        # points: medvol's field sampled on a random grid Q vs sitk's DFT of the file it read
        inside = rng.random() < 0.7
        q = rand_grid(rng, nd, rand_dims(rng, nd, (1, 2, 3, 5, 8)), center_lps=grid_center_lps(g) + np.append(
            rng.uniform(-3, 3, 2), 0 if nd == 2 else rng.uniform(-3, 3)) * (0.1 if inside else 1))
        if inside:
            q = fit_inside(q, g, np.eye(4), 0.9, False, False)
        case.call('fsample', path, *(raw_grid_args(case, 'q', q) + [case.p('smp.raw')]))
        got = np.fromfile(case.p('smp.raw'), np.float32).reshape((nd, -1)).astype(np.float64)
        set_geometry(img, g)  # the grid's exact geometry (the header's rounding is checked above)
        ref = to_field(sitk.DisplacementFieldTransform(sitk.Cast(img, sitk.sitkVectorFloat64)), q).reshape(nd, -1)
        c = cont_index(g, grid_points_lps(q))
        inside = np.all((c >= -0.5 + 1e-6) & (c <= np.array(g['dims'])[:, None] - 0.5 - 1e-6), axis=0)
        tol = 4e-7 * np.max(np.abs(d)) + 1e-9
        err = float(np.max(np.abs(got - ref)[:, inside])) if inside.any() else 0.0
        case.note('points compared', int(inside.sum()))
        case.note('points outside', int((~inside).sum()))
        if err > tol:
            raise Failure('%s: medvol samples its field %.3g mm from sitk DisplacementFieldTransform (tol %.3g)'
                          % (path, err, tol))
        return max(worst, err / tol)
    # SimpleITK writes, medvol reads
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    ext = '.nii.gz' if rng.random() < 0.3 else '.nii'
    dval = d if dtype == np.float32 else d + rng.normal(0, 1e-3, d.shape)  # float64 values with low bits
    path, _ = save_field_sitk(case, 'sf', dval, g, dtype, ext)
    out = case.call('fload', path, case.p('fl.raw'), case.p('fl.mat')).split()
    dims = [int(x) for x in out]
    if dims != g['dims'] + [nd]:
        raise Failure('%s: mv_field_load dims %s, expected %s' % (path, dims, g['dims'] + [nd]))
    got = np.fromfile(case.p('fl.raw'), np.float32).reshape(d.shape)
    expect = dval.astype(np.float32)
    if not np.array_equal(got, expect):
        raise Failure('%s: %d components differ from numpy float32 rounding' % (path, int(np.sum(got != expect))))
    A = read_mat(case.p('fl.mat'))
    # ITK writes the sform from its (orthonormalised) direction: the float32
    # sform can differ from the grid's float32 columns in the last bit. The
    # reference is the header's sform (nibabel's affine, sform_code > 0),
    # itself within 3e-7 of the grid's spacing.
    import nibabel as nib
    hdr = nib.load(path).header
    ref = hdr.get_sform()
    if int(hdr['sform_code']) <= 0 or np.max(np.abs(ref - g['A'])) > 3e-7 * (1 + np.max(np.abs(g['A']))):
        raise Failure('%s: SimpleITK wrote sform code %d, affine\n%s\nfor the grid\n%s' % (
            path, int(hdr['sform_code']), ref, g['A']))
    if perturb == 'field_io':
        ref[0, 3] += 1e-4
    if not np.array_equal(A, ref):
        raise Failure('%s: mv_field_load affine\n%s\nexpected (the file\'s sform)\n%s' % (path, A, ref))
    return worst


def fam_compose(case, rng):
    nd = int(rng.choice([2, 3]))
    g1 = rand_grid(rng, nd, rand_dims(rng, nd), exact=True)
    inside = rng.random() < 0.7  # d2's grid and its moved points mostly inside d1's grid
    sp1 = float(np.min(np.sqrt((g1['L'][:, :nd] ** 2).sum(axis=0))))
    c2 = grid_center_lps(g1) + np.append(rng.uniform(-4, 4, 2), 0 if nd == 2 else rng.uniform(-4, 4)) * (
        0.1 * sp1 if inside else 1)
    g2 = rand_grid(rng, nd, rand_dims(rng, nd), center_lps=c2, exact=True)
    if inside:
        g2 = fit_inside(g2, g1, np.eye(4), 0.6, True, False)
    if perturb == 'compose':
        g2 = g1  # one grid, so that only the numbers can tell the order
    d1 = smooth_field(rng, g1, nd, float(rng.choice([0.5, 2.0, 6.0])))
    a2 = float(rng.choice([0.5, 2.0, 6.0])) if not inside else float(rng.choice([0.05, 0.2, 0.5])) * sp1
    d2 = smooth_field(rng, g2, nd, a2) if rng.random() < 0.67 else np.zeros((nd,) + tuple(g2['dims'][::-1]))
    p1, g1 = save_field_sitk(case, 'd1', d1, g1)
    p2, g2 = save_field_sitk(case, 'd2', d2, g2)
    if perturb == 'compose':
        p1, p2 = p2, p1
    case.call('compose', p1, p2, case.p('comp.nii'))
    got = load_field_nib(case.p('comp.nii')).reshape(nd, -1)
    if got.shape[1] != int(np.prod(g2['dims'])):
        raise Failure('output on the wrong grid (%d voxels)' % got.shape[1])
    ref = to_field(composite(dft(d1, g1), dft(d2, g2)), g2).reshape(nd, -1)
    dd = d2.reshape(nd, -1)
    if nd == 2:
        dd = np.vstack([dd, np.zeros((1, dd.shape[1]))])
    c = cont_index(g1, grid_points_lps(g2) + dd)
    inside = np.all((c >= -0.5 + 1e-6) & (c <= np.array(g1['dims'])[:, None] - 0.5 - 1e-6), axis=0)
    tol = 4e-7 * (np.max(np.abs(d1)) + np.max(np.abs(d2))) + 1e-9
    case.note('voxels compared', int(inside.sum()))
    case.note('voxels outside d1', int((~inside).sum()))
    err = float(np.max(np.abs(got - ref)[:, inside])) if inside.any() else 0.0
    if err > tol:
        i = int(np.argmax(np.max(np.abs(got - ref) * inside, axis=0)))
        raise Failure('max |medvol - sitk| %.3g mm > %.3g at voxel %d (d1 coordinate %s: medvol %s, sitk %s)' % (
            err, tol, i, c[:, i].tolist(), got[:, i].tolist(), ref[:, i].tolist()))
    return err / tol


def fam_addaff(case, rng):
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, rand_dims(rng, nd), exact=True)
    d = smooth_field(rng, g, nd, float(rng.choice([0.5, 2.0, 6.0])))
    M = rand_matrix(rng, nd)
    use_in = int(rng.random() < 0.7)
    path, g = save_field_sitk(case, 'd', d, g)
    if nd == 2 and rng.random() < 0.15:
        # medvol.h: "A 2D field needs an A that keeps z": one that does not is refused
        Mz = M.copy()
        Mz[int(rng.integers(0, 3)), 2] += 0.1
        write_mat(case.p('mz.txt'), Mz)
        r = case.run('addaff', path, case.p('mz.txt'), use_in, case.p('outz.nii'))
        case.note('2D field, A moving z: refused')
        if r.returncode != 3 or 'MV_ERR_INVALID_ARG' not in r.stderr:
            raise Failure('2D field with an A that moves z: expected MV_ERR_INVALID_ARG, exit %d: %s' % (
                r.returncode, r.stderr.strip()))
    Mmv = M.copy()
    if perturb == 'addaff':
        Mmv[1, 3] += 1e-4
    write_mat(case.p('m.txt'), Mmv)
    case.call('addaff', path, case.p('m.txt'), use_in, case.p('out.nii'))
    got = load_field_nib(case.p('out.nii')).reshape(nd, -1)
    tf = composite(sitk_affine(M, nd), dft(d, g)) if use_in else sitk_affine(M, nd)
    ref = to_field(tf, g).reshape(nd, -1)
    tol = 2.5e-7 * np.max(np.abs(ref)) + 1e-9
    err = float(np.max(np.abs(got - ref)))
    if err > tol:
        raise Failure('max |medvol - sitk| %.3g mm > %.3g (field %s)' % (err, tol, 'used' if use_in else 'NULL'))
    return err / tol


def fam_invert(case, rng):
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, rand_dims(rng, nd, (1, 2, 3, 5, 8, 12)), exact=True)
    d = smooth_field(rng, g, nd, 1.0)
    Lt = float(rng.choice([0.05, 0.2, 0.5]))
    Lip = lipschitz(d, g)
    if Lip > 0:
        d = f32(d * (Lt / Lip))
    Lip = lipschitz(d, g)
    path, g = save_field_sitk(case, 'd', d, g)
    tol = 1e-6
    info = case.call('invert', path, 200, repr(tol), case.p('inv.nii')).split()
    iters, maxres = int(info[0]), float(info[1])
    e_mv = load_field_nib(case.p('inv.nii'))
    if perturb == 'invert':
        e_mv = e_mv * (1 + 1e-4)
    e_sk = from_sitk_vector(sitk.InvertDisplacementField(sitk_vector(d, g), 200, 1e-7, 1e-9, False), nd)
    P = grid_points_lps(g)

    def residual(e):
        """|e(p) + d(p + e(p))| by SimpleITK (the displacement of
        CompositeTransform([DFT(d), DFT(e)]): e applied first), and where
        p + e(p) lies in [0, n-1] of the grid (both interpolate d)"""
        r = to_field(composite(dft(d, g), dft(e, g)), g).reshape(nd, -1)
        ee = e.reshape(nd, -1)
        if nd == 2:
            ee = np.vstack([ee, np.zeros((1, ee.shape[1]))])
        c = cont_index(g, P + ee)
        n = np.array(g['dims'], np.float64)[:, None]
        ins = np.all(np.where(n > 1, (c >= 0) & (c <= n - 1), np.abs(c) < 0.5 - 1e-6), axis=0)
        return np.sqrt((r ** 2).sum(axis=0)), ins

    r_mv, in_mv = residual(e_mv)
    r_sk, in_sk = residual(e_sk)
    both = in_mv & in_sk
    case.note('voxels compared', int(both.sum()))
    case.note('voxels left out', int((~both).sum()))
    emax = max(float(np.max(np.abs(e_mv))), 1e-30)
    slack = 1e-6 * emax + 1e-9
    if iters >= 200 or maxres > tol:
        raise Failure('mv_field_invert_into did not converge (%d iterations, max residual %.3g > %.3g; L = %.3g)'
                      % (iters, maxres, tol, Lip))
    w = 0.0
    if in_mv.any():
        rm = float(np.max(r_mv[in_mv]))
        if rm > maxres + slack:
            raise Failure('residual of medvol\'s inverse by sitk %.3g mm > medvol\'s max_residual %.3g + %.3g'
                          % (rm, maxres, slack))
        w = rm / (maxres + slack)
        case.peak('worst sitk residual / medvol max_residual', w)
    if both.any():
        de = np.sqrt(((e_mv - e_sk).reshape(nd, -1) ** 2).sum(axis=0))
        bound = (r_mv + r_sk) / (1 - Lip) + slack
        bad = both & (de > bound)
        if bad.any():
            i = int(np.argmax(np.where(both, de / bound, 0)))
            raise Failure('|e_medvol - e_sitk| %.3g mm > %.3g at voxel %d (residuals %.3g, %.3g; L %.3g)' % (
                de[i], bound[i], i, r_mv[i], r_sk[i], Lip))
        w = max(w, float(np.max((de / bound)[both])))
        case.peak('worst |e_medvol - e_sitk| / bound', float(np.max((de / bound)[both])))
    return w


def fam_jac(case, rng):
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, rand_dims(rng, nd), exact=True)
    d = smooth_field(rng, g, nd, float(rng.choice([0.3, 2.0, 8.0])))
    dm = d.copy()
    if perturb == 'jac':
        dm[0] = f32(dm[0] * (1 + 1e-4))
    path, g = save_field_sitk(case, 'd', dm, g)
    case.call('jac', path, case.p('jac.raw'))
    got = np.fromfile(case.p('jac.raw'), np.float32).astype(np.float64).reshape(tuple(g['dims'][::-1]))
    k = nd
    L = g['L'][:k, :k]
    sp = np.sqrt((L ** 2).sum(axis=0))
    Rinv = np.linalg.inv(L / sp)
    v = np.tensordot(Rinv, d.reshape(nd, -1), axes=1).reshape(d.shape)  # vectors in the grid's frame
    gi = {'dims': g['dims'], 'L': np.eye(3), 'o': np.zeros(3), 'nd': nd}
    gi['L'][:k, :k] = np.diag(sp)
    ref = from_sitk_scalar(sitk.DisplacementFieldJacobianDeterminant(sitk_vector(v, gi), True), nd)
    inner = np.ones(ref.shape, bool)
    for a in range(3):
        ax = 2 - a
        if ref.shape[ax] > 1:
            sl = [slice(None)] * 3
            sl[ax] = 0
            inner[tuple(sl)] = False
            sl[ax] = -1
            inner[tuple(sl)] = False
    G = 0.0
    for c in range(nd):
        for a in range(nd):
            if d.shape[3 - a] > 1:
                G = max(G, float(np.max(np.abs(np.diff(d[c], axis=2 - a)))) / float(np.min(sp)))
    tol = 2.5e-7 * np.maximum(1.0, np.abs(ref)) + 1e-12 * (1 + G) ** nd
    diff = np.abs(got - ref)
    case.note('inner voxels', int(inner.sum()))
    case.note('border voxels', int((~inner).sum()))
    bad = inner & (diff > tol)
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(inner, diff / tol, 0))), ref.shape)
        raise Failure('%d of %d inner voxels differ; worst (z, y, x) %s: medvol %r, sitk %r' % (
            int(bad.sum()), int(inner.sum()), tuple(int(x) for x in i), got[i], ref[i]))
    return float(np.max((diff / tol)[inner])) if inner.any() else 0.0


# ---------------------------------------------------------------- MetaImage

MHA_TYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
             np.float32, np.float64]


def mha_values(rng, dtype, shape):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    v = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 6)
    return v.astype(dtype)


def mha_split(path):
    """(header text lines, data bytes, data path or None for LOCAL)"""
    with open(path, 'rb') as f:
        blob = f.read()
    k = blob.index(b'ElementDataFile')
    e = blob.index(b'\n', k) + 1
    lines = blob[:e].decode().splitlines()
    name = lines[-1].split('=', 1)[1].strip()
    if name == 'LOCAL':
        return lines, blob[e:], None
    dpath = os.path.join(os.path.dirname(path), name)
    with open(dpath, 'rb') as f:
        return lines, f.read(), dpath


# MetaIO's own fields: never extra fields (MetaObject's and MetaImage's)
METAIO_FIELDS = {
    'ObjectType', 'ObjectSubType', 'FileFormatVersion', 'Comment', 'AcquisitionDate', 'NDims', 'Name', 'ID', 'ParentID',
    'CompressedData', 'CompressedDataSize', 'BinaryData', 'ElementByteOrderMSB', 'BinaryDataByteOrderMSB', 'Color',
    'Position', 'Origin', 'Offset', 'TransformMatrix', 'Rotation', 'Orientation', 'CenterOfRotation', 'DistanceUnits',
    'AnatomicalOrientation', 'ElementSpacing', 'DimSize', 'HeaderSize', 'Modality', 'ImagePosition', 'SequenceID',
    'ElementMin', 'ElementMax', 'ElementNumberOfChannels', 'ElementSize', 'ElementNBits',
    'ElementToIntensityFunctionSlope', 'ElementToIntensityFunctionOffset', 'ElementType', 'ElementDataFile'}
MHA_KEY_CHARS = 'abcXYZ019 _-.#\t\u00e9'  # (no '=' or ':': MetaIO ends a key at either)
MHA_VAL_CHARS = 'abcXYZ019 _-.:=#\\\t\u00e9'


def rand_extras(rng):
    """extra fields for SimpleITK's metadata dictionary that MetaImage holds
    (ITK writes them as "key = value" lines): no line ends, no white space
    at either end (MetaIO trims it), not empty, keys without '=' or ':',
    not MetaIO's fields, not starting with '#' (a pair NRRD could not give
    back: medvol leaves it out); ITK_ExperimentDate is AcquisitionDate"""
    out = {}
    for _ in range(int(rng.integers(1, 5))):
        k = ''.join(MHA_KEY_CHARS[int(i)] for i in rng.integers(0, len(MHA_KEY_CHARS), int(rng.integers(1, 12)))).strip()
        v = ''.join(MHA_VAL_CHARS[int(i)] for i in rng.integers(0, len(MHA_VAL_CHARS), int(rng.integers(1, 20)))).strip()
        v = v.lstrip('=:').strip()  # (MetaIO skips '=' and ':' before a value: not what ITK wrote)
        if v and ord(v[-1]) > 127:  # (MetaIO drops a last non-ASCII character; medvol keeps it)
            v = v + '.'
        if k and v and not k.startswith(('#', 'ITK_', 'NRRD_')) and k not in METAIO_FIELDS:
            out[k] = v
    if rng.random() < 0.3:
        out['ITK_ExperimentDate'] = '2024-%02d-%02d' % (int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    return out


def sitk_extras(img):
    """SimpleITK's dictionary of a MetaImage without what ITK adds itself
    (ITK_ notes, Modality MET_MOD_UNKNOWN when the file has none)"""
    return {k: img.GetMetaData(k) for k in img.GetMetaDataKeys()
            if (not k.startswith('ITK_') or k in ('ITK_ExperimentDate', 'ITK_VoxelUnits'))
            and not (k == 'Modality' and img.GetMetaData(k) == 'MET_MOD_UNKNOWN')}


def mha_edit(case, rng, path, img):
    """rewrites path as another writer might; returns what was done"""
    import zlib
    lines, data, dpath = mha_split(path)
    done = []
    keys = [ln.split('=', 1)[0].strip() for ln in lines]
    compressed = 'CompressedData = True' in lines
    esize = np.dtype(sitk.GetArrayViewFromImage(img).dtype).itemsize
    if rng.random() < 0.3 and esize > 1:  # big-endian voxels
        raw = zlib.decompress(data) if compressed else data
        raw = np.frombuffer(raw, np.dtype('u%d' % esize)).byteswap().tobytes()
        data = zlib.compress(raw, int(rng.integers(1, 10))) if compressed else raw
        lines = [('BinaryDataByteOrderMSB = True' if k == 'BinaryDataByteOrderMSB' else
                  ('CompressedDataSize = %d' % len(data)) if k == 'CompressedDataSize' else ln)
                 for k, ln in zip(keys, lines)]
        done.append('big-endian')
    if rng.random() < 0.25:
        syn = {'Offset': 'Origin' if rng.random() < 0.5 else 'Position',
               'TransformMatrix': 'Orientation' if rng.random() < 0.5 else 'Rotation',
               'ElementSpacing': 'ElementSize'}
        lines = [(syn[k] + ' =' + ln.split('=', 1)[1]) if k in syn else ln for k, ln in zip(keys, lines)]
        done.append('synonyms')
    if dpath is not None and not compressed and rng.random() < 0.3:
        data = bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8)) + data
        lines.insert(len(lines) - 1, 'HeaderSize = -1')
        done.append('HeaderSize -1')
    if rng.random() < 0.25:  # "Key: Value" lines, which MetaIO reads as "Key = Value"
        lines = [ln.replace(' = ', ': ', 1) if rng.random() < 0.5 else ln for ln in lines]
        done.append('colon separators')
    if not done:
        return done
    text = ('\n'.join(lines) + '\n').encode()
    with open(path, 'wb') as f:
        f.write(text + (data if dpath is None else b''))
    if dpath is not None:
        with open(dpath, 'wb') as f:
            f.write(data)
    return done


def mha_expected_affine(img):
    nd = img.GetDimension()
    D = np.array(img.GetDirection()).reshape(nd, nd)
    sp, o = np.array(img.GetSpacing()), np.array(img.GetOrigin())
    A = np.eye(4)
    k = min(nd, 3)
    A[:k, :k] = D[:k, :k] * sp[:k]
    A[:k, 3] = o[:k]
    return S4 @ A


def mha_mv_layout(img):
    """SimpleITK's voxels in mv_load's order (x fastest; channels on axis 4)"""
    a = sitk.GetArrayFromImage(img)
    nd, nc = img.GetDimension(), img.GetNumberOfComponentsPerPixel()
    if nc > 1:  # (..., X, C) -> (C, 1 .., ..., X): planes per channel after the spatial axes
        a = np.moveaxis(a, -1, 0)
        a = a.reshape((nc,) + (1,) * max(0, 4 - nd) + a.shape[1:])
    return np.ascontiguousarray(a).reshape(-1)


def mha_expected_dims(img):
    nd, nc = img.GetDimension(), img.GetNumberOfComponentsPerPixel()
    d = list(img.GetSize())
    if nc > 1:
        d = d + [1] * max(0, 4 - nd) + [nc]
    return d


def rand_io_image(rng, cplx_ok=False):
    """a random SimpleITK image for the file families: 2-4 axes of 1-9
    voxels (every 50th case larger), every MHA_TYPES dtype, 1 in 4 a vector
    image of 2-4 channels (2D/3D), random directions, spacings and origins;
    with cplx_ok some complex ones. Returns (img, nc, complex dtype or None)"""
    nd = int(rng.choice([2, 2, 3, 3, 3, 4]))  # SimpleITK has no 1D images (the C tests have)
    nc = int(rng.integers(2, 5)) if nd in (2, 3) and rng.random() < 0.25 else 1
    cplx = (np.complex64 if rng.random() < 0.5 else np.complex128) if cplx_ok and nc == 1 and rng.random() < 0.08 else None
    dtype = cplx or MHA_TYPES[int(rng.integers(len(MHA_TYPES)))]
    size = [int(rng.choice([1, 2, 3, 5, 9])) for _ in range(nd)]
    if LARGE:
        size = [int(rng.choice([48, 64])) for _ in range(min(nd, 3))] + [2] * max(0, nd - 3)
    shape = tuple(reversed(size)) + ((nc,) if nc > 1 else ())
    if cplx:
        arr = (mha_values(rng, np.float64, shape) + 1j * mha_values(rng, np.float64, shape)).astype(cplx)
    else:
        arr = mha_values(rng, dtype, shape)
    img = sitk.GetImageFromArray(arr, isVector=nc > 1)
    k = min(nd, 3)
    R = np.eye(nd)
    kind = int(rng.integers(0, 4))
    if k > 1 and kind:
        R[:k, :k] = signed_perm(rng, k) if kind == 1 else rotation(rng, k) @ (signed_perm(rng, k) if kind == 3
                                                                                else np.eye(k))
    img.SetDirection([float(x) for x in R.ravel()])
    img.SetSpacing([float(rng.choice([0.3, 0.5, 1.0, 1.7, rng.uniform(0.2, 4.0)])) for _ in range(nd)])
    img.SetOrigin([float(rng.uniform(-60, 60)) for _ in range(nd)])
    return img, nc, cplx


def check_mv_load(case, src, ref, nc, fam):
    """mv_load of src against SimpleITK's reading ref: dtype, dims, intent,
    voxels bit for bit, the affine to 1e-15; returns the affine's error"""
    out = case.call('mha-load', src, case.p('ld.raw'), case.p('ld.mat'), case.p('ld.kv')).split()
    want_dims = mha_expected_dims(ref)
    got_dims = [int(x) for x in out[2:2 + int(out[1])]]
    want_dt = np.dtype(sitk.GetArrayViewFromImage(ref).dtype)
    if got_dims != want_dims or np.dtype(out[0]) != want_dt:
        raise Failure('%s: mv_load gives %s %s, SimpleITK %s %s' % (src, out[0], got_dims, want_dt, want_dims))
    if int(out[-1]) != (1007 if nc > 1 else 0):
        raise Failure('%s: intent %s, expected %d' % (src, out[-1], 1007 if nc > 1 else 0))
    got = np.fromfile(case.p('ld.raw'), want_dt)
    if not np.array_equal(got.view(np.uint8), mha_mv_layout(ref).view(np.uint8)):
        raise Failure('%s: mv_load voxels differ from SimpleITK\'s' % src)
    A = read_mat(case.p('ld.mat'))
    if perturb == fam:
        A[0 if fam == 'metaimage' else 1, 3] += 1e-9
    E = mha_expected_affine(ref)
    err = float(np.max(np.abs(A - E) / (1e-300 + np.maximum(1.0, np.abs(E)))))
    if err > 1e-15:
        raise Failure('%s: mv_load affine\n%s\nexpected from SimpleITK\'s geometry\n%s' % (src, A, E))
    return err


def check_sitk_reads(dst, ref):
    """SimpleITK reads medvol's file dst as the image ref it was written from"""
    back = sitk.ReadImage(dst)
    if back.GetPixelID() != ref.GetPixelID() or back.GetSize() != ref.GetSize():
        raise Failure('%s read by SimpleITK: %s %s, written from %s %s' % (
            dst, back.GetPixelIDTypeAsString(), back.GetSize(), ref.GetPixelIDTypeAsString(), ref.GetSize()))
    if not np.array_equal(sitk.GetArrayViewFromImage(back).view(np.uint8), sitk.GetArrayViewFromImage(ref).view(np.uint8)):
        raise Failure('%s read by SimpleITK: voxels differ' % dst)
    for what, a, b, rel in (('spacing', back.GetSpacing(), ref.GetSpacing(), True),
                            ('origin', back.GetOrigin(), ref.GetOrigin(), True),
                            ('direction', back.GetDirection(), ref.GetDirection(), False)):
        a, b = np.array(a), np.array(b)
        e = np.max(np.abs(a - b) / (np.maximum(1.0, np.abs(b)) if rel else 1.0))
        if e > 1e-12:
            raise Failure('%s read by SimpleITK: %s %s, written from %s' % (dst, what, a, b))


def fam_metaimage(case, rng):
    import nibabel as nib
    img, nc, _ = rand_io_image(rng)
    nd = img.GetDimension()
    ext = '.mha' if rng.random() < 0.5 else '.mhd'
    src = case.p('src' + ext)
    if rng.random() < 0.5:
        for k, v in rand_extras(rng).items():
            img.SetMetaData(k, v)
        case.note('extra fields')
    sitk.WriteImage(img, src, bool(rng.random() < 0.3))
    for e in mha_edit(case, rng, src, img):
        case.note(e)
    ref = sitk.ReadImage(src)
    case.note('vector images' if nc > 1 else '%dD images' % nd)
    # (1) medvol reads, the extra fields as SimpleITK's dictionary has them
    err = check_mv_load(case, src, ref, nc, 'metaimage')
    if mv_pairs(case.p('ld.kv')) != sitk_extras(ref):
        raise Failure('%s: medvol\'s extra fields %r, SimpleITK\'s %r' % (src, mv_pairs(case.p('ld.kv')), sitk_extras(ref)))
    # (2) medvol writes MetaImage, SimpleITK reads
    ext2 = '.mha' if rng.random() < 0.5 else '.mhd'
    comp = int(rng.random() < 0.4)
    dst = case.p('mv' + ext2)
    case.call('convert', src, dst, comp, int(rng.integers(1, 10)))
    check_sitk_reads(dst, ref)
    if sitk_extras(sitk.ReadImage(dst)) != sitk_extras(ref):
        raise Failure('%s read by SimpleITK: extra fields %r, written from %r' % (
            dst, sitk_extras(sitk.ReadImage(dst)), sitk_extras(ref)))
    if comp and ('CompressedData = True' not in mha_split(dst)[0]):
        raise Failure('%s: asked for compression, the header says otherwise' % dst)
    # (3) NIfTI as ITK writes it
    mine, theirs = case.p('mv.nii'), case.p('itk.nii')
    case.call('convert', src, mine, 0, 0)
    sitk.WriteImage(ref, theirs)
    a, b = nib.load(mine), nib.load(theirs)
    if a.shape != b.shape or not np.array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj)):
        raise Failure('%s vs ITK\'s %s: shape %s vs %s, or voxels differ' % (mine, theirs, a.shape, b.shape))
    e3 = np.max(np.abs(a.affine - b.affine) / np.maximum(1.0, np.abs(b.affine)))
    if e3 > 1e-6:
        raise Failure('%s vs ITK\'s %s: affine\n%s\nvs\n%s' % (mine, theirs, a.affine, b.affine))
    case.peak('nifti affine vs ITK (of 1e-6)', e3 / 1e-6)
    return err / 1e-15


UNU = shutil.which('teem-unu') or shutil.which('unu')  # teem's own reader and writer (Debian: teem-apps)
try:
    import nrrd as pynrrd  # pynrrd (PyPI), MONAI's NRRD reader
except ImportError:
    pynrrd = None


def nrrd_split(path):
    """(header lines, data bytes, data path or None when attached)"""
    with open(path, 'rb') as f:
        blob = f.read()
    k = blob.find(b'\n\n')
    head = blob[:k + 1] if k >= 0 else blob
    lines = head.decode().splitlines()
    for ln in lines:
        if ln.startswith('data file: '):
            dpath = os.path.join(os.path.dirname(path), ln.split(': ', 1)[1])
            with open(dpath, 'rb') as f:
                return lines, f.read(), dpath
    return lines, blob[k + 2:], None


def nrrd_join(path, lines, data):
    """an attached .nrrd at path (a detached header's data file moved in)"""
    lines = [ln for ln in lines if not ln.startswith('data file: ')]
    with open(path, 'wb') as f:
        f.write(('\n'.join(lines) + '\n\n').encode() + data)


def nrrd_field(lines, name):
    for i, ln in enumerate(lines):
        if ln.startswith(name + ': '):
            return i, ln.split(': ', 1)[1]
    return None, None


def nrrd_vectors(text):
    out = []
    for t in text.split():
        out.append(None if t == 'none' else [float(x) for x in t.strip('()').split(',')])
    return out


def nrrd_vec_text(v):
    return 'none' if v is None else '(' + ','.join(repr(float(x)) for x in v) + ')'


# kinds for the values of a voxel that SimpleITK reads (3-gradient: its
# NrrdIO has no size for it; 3D-symmetric-matrix: a pixel type it lacks)
VALUE_KINDS = {0: ['list', 'vector', 'point', 'covariant-vector', 'normal'], 2: ['2-vector'],
               3: ['3-color', 'RGB-color', 'HSV-color', 'XYZ-color', '3-vector', '3-normal', '2D-symmetric-matrix'],
               4: ['4-color', 'RGBA-color', '4-vector', 'quaternion', '2D-matrix'], 9: ['3D-matrix']}
LABEL_CHARS = 'abcXYZ019 _-.:=#"\\\t\u00e9'


def rand_label(rng, n_max=10):
    """text a NRRD label or unit can hold: no line end, no backslash last
    (teem would read it with the closing quote as an escaped quote)"""
    t = ''.join(LABEL_CHARS[int(i)] for i in rng.integers(0, len(LABEL_CHARS), int(rng.integers(1, n_max))))
    return t.rstrip('\\') or 'x'


def rand_fields(rng, nd):
    """NRRD fields for SimpleITK's dictionary under ITK's names (its writer
    writes them): labels, centerings, kinds of the image axes, content"""
    out = {}
    for i in range(nd):
        if rng.random() < 0.5:
            out['NRRD_labels[%d]' % i] = rand_label(rng)
        if rng.random() < 0.4:
            out['NRRD_centerings[%d]' % i] = ['cell', 'node'][int(rng.integers(2))]
        if rng.random() < 0.3:
            out['NRRD_kinds[%d]' % i] = ['domain', 'space'][int(rng.integers(2))]
    if rng.random() < 0.4:
        out['NRRD_content'] = 'c' + rand_label(rng, 30)
    return out


def nrrd_add_fields(rng, lines, img, edits):
    """fields SimpleITK's writer cannot write: thicknesses and old min /
    max (doubles in ITK's dictionary), the values' axis's kind, label and
    units (SimpleITK's writer says vector and drops the rest); the values
    are the first file axis, as SimpleITK writes them"""
    dim = int(nrrd_field(lines, 'dimension')[1])
    if rng.random() < 0.35:
        lines.append('thicknesses: ' + ' '.join('nan' if rng.random() < 0.3 else '%.6g' % rng.uniform(0.1, 9)
                                                for _ in range(dim)))
        lines.append('old min: %.9g' % rng.uniform(-1e3, 0))
        lines.append('old max: %.17g' % rng.uniform(1, 1e5))
        edits.append('thicknesses, old min/max')
    nc = img.GetNumberOfComponentsPerPixel()
    if nc > 1 and rng.random() < 0.6:
        j, kinds = nrrd_field(lines, 'kinds')
        ks = kinds.split()
        choices = VALUE_KINDS[0] + VALUE_KINDS.get(nc, [])
        ks[0] = choices[int(rng.integers(len(choices)))]
        lines[j] = 'kinds: ' + ' '.join(ks)
        unit = '"%s"' % rand_label(rng).replace('"', '\\"')
        lines.append('units: ' + ' '.join([unit] + ['""'] * (dim - 1)))
        if nrrd_field(lines, 'labels')[0] is None:
            lines.append('labels: ' + ' '.join(['"%s"' % rand_label(rng).replace('"', '\\"')] + ['""'] * (dim - 1)))
        edits.append('values kind ' + ks[0])


def nrrd_doubles(path):
    """the kept double fields as pynrrd reads them (NRRD_thicknesses[i] of
    the image axes, NRRD_old min / max), for what SimpleITK cannot print"""
    with open(path, 'rb') as f:  # (pynrrd ends lines at "\n" alone: teem's other line ends made so)
        blob = f.read().replace(b'\r\n', b'\n').replace(b'\r', b'\n')
    lines = blob[:blob.find(b'\n\n') + 1].decode().splitlines()
    h = pynrrd.read_header(lines[:1] + [ln for ln in lines if ln.startswith(  # (the fields wanted: pynrrd
        ('dimension:', 'kinds:', 'thicknesses:', 'old min:', 'old max:'))])   # misreads teem's quotes, some pairs)
    kinds = h.get('kinds', ['domain'] * h['dimension'])
    image = [a for a, k in enumerate(kinds) if k.lower() in ('domain', 'space', 'time', '???', 'none')]
    out = {}
    if 'thicknesses' in h:
        for i, a in enumerate(image):
            if not np.isnan(h['thicknesses'][a]):
                out['NRRD_thicknesses[%d]' % i] = float(h['thicknesses'][a])
    for f in ('old min', 'old max'):
        if f in h and not np.isnan(h[f]):
            out['NRRD_' + f] = float(h[f])
    return out


def nrrd_edit(case, rng, path, img):
    """rewrites the SimpleITK-written file at path as other writers make
    them; returns the path to read (the same, or a new attached .nrrd)"""
    lines, data, dpath = nrrd_split(path)
    gz = nrrd_field(lines, 'encoding')[1] == 'gzip'
    edits = []
    nrrd_add_fields(rng, lines, img, edits)
    i, sp = nrrd_field(lines, 'space')
    if sp == 'left-posterior-superior' and rng.random() < 0.5:  # RAS or LAS coordinates, by name or abbreviation
        name = ['right-anterior-superior', 'RAS', 'left-anterior-superior', 'LAS'][int(rng.integers(4))]
        flip = [-1, -1, 1] if name[0] in 'rR' else [1, -1, 1]  # to RAS: x and y; LAS: y
        lines[i] = 'space: ' + name
        j, d = nrrd_field(lines, 'space directions')
        lines[j] = 'space directions: ' + ' '.join(
            nrrd_vec_text(None if v is None else np.array(v) * flip) for v in nrrd_vectors(d))
        j, o = nrrd_field(lines, 'space origin')
        lines[j] = 'space origin: ' + nrrd_vec_text(np.array(nrrd_vectors(o)[0]) * flip)
        edits.append('space ' + name)
    j, kinds = nrrd_field(lines, 'kinds')
    if kinds and rng.random() < 0.3:
        lines[j] = 'kinds: ' + ' '.join('space' if k == 'domain' else k for k in kinds.split())
        edits.append('kinds space')
    out = path
    if rng.random() < 0.5 or dpath is not None:
        out = case.p('edited.nrrd')
        nrrd_join(out, lines, data)
    else:
        nrrd_join(out, lines, data)
    r = rng.random()
    if UNU and r < 0.45:  # teem re-encodes it: ascii, hex, gzip, or big-endian raw
        enc, endian = [('ascii', None), ('hex', None), ('gzip', None), ('raw', 'big'), ('hex', 'big')][int(rng.integers(5))]
        args = [UNU, 'save', '-f', 'nrrd', '-e', enc, '-i', out, '-o', case.p('unu.nrrd')]
        if endian:
            args += ['-en', endian]
        case.cmds.append(' '.join(args))
        subprocess.run(args, check=True, capture_output=True)
        out = case.p('unu.nrrd')
        edits.append('unu ' + enc + (' ' + endian if endian else ''))
    elif r < 0.7 and not gz:  # data after junk: line skip, byte skip, byte skip -1
        lines, data, _ = nrrd_split(out)
        how = int(rng.integers(3))
        junk = b''.join(b'junk line %d\n' % q for q in range(int(rng.integers(1, 4))))
        if how == 0:
            lines.append('line skip: %d' % junk.count(b'\n'))
        elif how == 1:
            junk = bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8))
            lines.append('byte skip: %d' % len(junk))
        else:
            junk = bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8))
            lines.append('byte skip: -1')
        out = case.p('skip.nrrd')
        nrrd_join(out, lines, junk + data)
        edits.append(['line skip', 'byte skip', 'byte skip -1'][how])
    if UNU and img.GetNumberOfComponentsPerPixel() > 1 and rng.random() < 0.4:  # the channel axis last
        nd = img.GetDimension()
        args = [UNU, 'permute', '-p'] + [str(q) for q in list(range(1, nd + 1)) + [0]] + ['-i', out, '-o',
                                                                                         case.p('perm.nrrd')]
        case.cmds.append(' '.join(args))
        subprocess.run(args, check=True, capture_output=True)
        out = case.p('perm.nrrd')
        edits.append('channels last')
    if rng.random() < 0.3:  # the header's lines ended as Windows or old Mac files end them (teem reads both)
        with open(out, 'rb') as f:
            blob = f.read()
        k = blob.find(b'\n\n') + 2
        eol = b'\r\n' if rng.random() < 0.5 or blob[k:k + 1] == b'\n' else b'\r'  # (a lone '\r' then '\n': one end)
        out = case.p('eol.nrrd')
        with open(out, 'wb') as f:
            f.write(blob[:k].replace(b'\n', eol) + blob[k:])
        edits.append('line ends ' + repr(eol.decode()))
    for e in edits:
        case.note(e)
    return out


KV_CHARS = 'abcXYZ019 _-.:=#\\\n\t\u00e9'


def rand_pairs(rng):
    """a few key/value pairs for SimpleITK's metadata dictionary: any text
    NRRD can hold (teem escapes the backslashes and newlines), keys not
    empty, without ":=" (ITK would write a line that splits there) or ": "
    (a line teem reads as a field), not starting with '#' or the prefixes
    ITK gives meanings (NRRD_, ITK_)"""
    pairs = {}
    for _ in range(int(rng.integers(1, 5))):
        k = ''.join(KV_CHARS[int(i)] for i in rng.integers(0, len(KV_CHARS), int(rng.integers(1, 12))))
        v = ''.join(KV_CHARS[int(i)] for i in rng.integers(0, len(KV_CHARS), int(rng.integers(0, 20))))
        if ':=' in k or ': ' in k or k.startswith(('#', 'NRRD_', 'ITK_')):
            continue
        pairs[k] = v
    return pairs


def sitk_pairs(img):
    """the pairs of a NRRD file in the dictionary SimpleITK read it into
    (without what ITK adds: NRRD_ fields, ITK_ notes)"""
    return {k: img.GetMetaData(k) for k in img.GetMetaDataKeys() if not k.startswith(('NRRD_', 'ITK_'))}


# NRRD fields that ITK's reader keeps as strings in its dictionary under
# "NRRD_" names, as medvol keeps them in meta.kv (NRRD: KEPT FIELDS); ITK
# keeps thicknesses and old min / max as doubles, which SimpleITK cannot
# print, and NRRD_space / NRRD_measurement frame, which medvol's geometry
# and gradient table stand for.
SITK_STRING_FIELDS = ('NRRD_content', 'NRRD_centerings[', 'NRRD_kinds[', 'NRRD_labels[', 'NRRD_units[')


def sitk_fields(img):
    """the NRRD fields SimpleITK keeps as strings (SITK_STRING_FIELDS)"""
    return {k: img.GetMetaData(k) for k in img.GetMetaDataKeys() if k.startswith(SITK_STRING_FIELDS)}


def mv_pairs(path):
    pairs = {}
    with open(path) as f:
        for ln in f:
            k, v = (bytes.fromhex('' if x == '-' else x).decode() for x in ln.split())
            if k in pairs:
                raise Failure('%s: key %r twice in medvol\'s list' % (path, k))
            pairs[k] = v
    return pairs


def fam_nrrd(case, rng):
    img, nc, cplx = rand_io_image(rng, cplx_ok=True)
    nd = img.GetDimension()
    src = case.p('src' + ('.nrrd' if rng.random() < 0.5 else '.nhdr'))
    if rng.random() < 0.5:
        for k, v in rand_pairs(rng).items():
            img.SetMetaData(k, v)
        case.note('key/value pairs')
    if rng.random() < 0.5:
        for k, v in rand_fields(rng, nd).items():
            img.SetMetaData(k, v)
        case.note('NRRD fields')
    sitk.WriteImage(img, src, bool(rng.random() < 0.3))
    src = nrrd_edit(case, rng, src, img)
    ref = sitk.ReadImage(src)
    case.note('vector images' if nc > 1 else 'complex images' if cplx else '%dD images' % nd)
    # (1) medvol reads what SimpleITK reads
    err = check_mv_load(case, src, ref, nc, 'nrrd')
    got = mv_pairs(case.p('ld.kv'))
    plain = {k: v for k, v in got.items() if not k.startswith('NRRD_')}
    if plain != sitk_pairs(ref):
        raise Failure('%s: medvol\'s key/value pairs %r, SimpleITK\'s %r' % (src, plain, sitk_pairs(ref)))
    strs = {k: v for k, v in got.items() if k.startswith(SITK_STRING_FIELDS)}
    if strs != sitk_fields(ref):
        raise Failure('%s: medvol\'s kept fields %r, SimpleITK\'s %r' % (src, strs, sitk_fields(ref)))
    if pynrrd is not None:
        dbl = {k: float(v) for k, v in got.items() if k.startswith('NRRD_') and k not in strs}
        if dbl != nrrd_doubles(src):
            raise Failure('%s: medvol\'s kept numbers %r, pynrrd\'s %r' % (src, dbl, nrrd_doubles(src)))
    # (2) medvol writes NRRD: SimpleITK, pynrrd and teem read it
    comp = int(rng.random() < 0.4)
    dst = case.p('mv' + ('.nrrd' if rng.random() < 0.5 else '.nhdr'))
    case.call('convert', src, dst, comp, int(rng.integers(1, 10)))
    check_sitk_reads(dst, ref)
    back = sitk.ReadImage(dst)
    if sitk_pairs(back) != sitk_pairs(ref) or sitk_fields(back) != sitk_fields(ref):
        raise Failure('%s read by SimpleITK: key/value pairs %r and fields %r, written from %r and %r' % (
            dst, sitk_pairs(back), sitk_fields(back), sitk_pairs(ref), sitk_fields(ref)))
    if pynrrd is not None and nrrd_doubles(dst) != nrrd_doubles(src):
        raise Failure('%s read by pynrrd: kept numbers %r, written from %r' % (dst, nrrd_doubles(dst), nrrd_doubles(src)))
    if comp != (nrrd_field(nrrd_split(dst)[0], 'encoding')[1] == 'gzip'):
        raise Failure('%s: compression %d asked, the header says %s' % (dst, comp, nrrd_field(nrrd_split(dst)[0], 'encoding')[1]))
    # pynrrd misreads two things teem reads: labels with \" escapes (its shlex
    # stops at them) and pairs whose key holds a ':' (it takes a field '')
    lines = nrrd_split(dst)[0]
    trouble = any(ln.startswith(('labels:', 'units:')) and '\\' in ln for ln in lines) or any(
        ':' in ln.split(':=', 1)[0] for ln in lines if ':=' in ln and not ln.startswith('#'))
    if pynrrd is not None and trouble:
        case.note('pynrrd skipped: \\" in labels, or a key with :')
    elif pynrrd is not None:  # pynrrd: x fastest (Fortran order), channels (or re/im) first
        pd, _ = pynrrd.read(dst)
        want = sitk.GetArrayFromImage(ref)
        have = pd.T
        if cplx:
            have = np.ascontiguousarray(have).view(cplx)[..., 0]
        if have.shape != want.shape or not np.array_equal(np.ascontiguousarray(have).view(np.uint8),
                                                          np.ascontiguousarray(want).view(np.uint8)):
            raise Failure('%s read by pynrrd: shape %s or voxels differ from %s' % (dst, have.shape, want.shape))
        case.note('read by pynrrd')
    if UNU:
        r = subprocess.run([UNU, 'save', '-f', 'nrrd', '-e', 'raw', '-i', dst, '-o', case.p('unu_back.nrrd')],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure('%s: teem refuses it: %s' % (dst, r.stderr.strip()[:300]))
        case.note('read by unu')
    return err / 1e-15


def main():
    global perturb, LARGE
    args = sys.argv[1:]
    opts = {}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in ('--family', '--case', '--perturb'):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        elif args[i] == '--keep':
            opts['keep'] = True
            i += 1
        else:
            pos.append(args[i])
            i += 1
    if len(pos) < 2:
        print(__doc__)
        return 2
    exe, cases = os.path.abspath(pos[0]), int(pos[1])
    # small images: ITK's thread pool costs more than it saves (and the
    # machine may be shared); SimpleITK's results do not depend on it
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    seed = int(pos[2]) if len(pos) > 2 else 20261201
    perturb = opts.get('perturb')
    if perturb is not None and perturb not in PERTURB:
        print('--perturb: one of %s' % ', '.join(FAMILIES))
        return 2
    fams = [opts['family']] if 'family' in opts else FAMILIES
    only = int(opts['case']) if 'case' in opts else None
    tmp = tempfile.mkdtemp(prefix='diff_sitk.')
    bad = 0
    t0 = time.time()
    if perturb:
        print('perturbed: %s: %s' % (perturb, PERTURB[perturb]))
    for fam in fams:
        fn = globals()['fam_' + fam]
        worst, n, notes = 0.0, 0, {}
        for k in ([only] if only is not None else range(cases)):
            rng = np.random.default_rng([seed, FAMILIES.index(fam), k])
            cdir = os.path.join(tmp, '%s.%d' % (fam, k))
            os.mkdir(cdir)
            case = Case(exe, cdir, fam, k, notes)
            LARGE = k % 50 == 49
            if LARGE:
                case.note('large cases')
            try:
                worst = max(worst, fn(case, rng))
                n += 1
                if not opts.get('keep'):
                    shutil.rmtree(cdir)
            except Failure as e:
                bad += 1
                print('FAIL %s case %d: %s\n  rerun: /usr/bin/python3 %s %s 1 %d --family %s --case %d\n  files: %s'
                      % (fam, k, e, sys.argv[0], pos[0], seed, fam, k, cdir))
                for c in case.cmds:
                    print('  $ ' + c)
        print('%-10s %d cases, worst %.3g of the tolerance' % (fam, n, worst))
        if notes:
            print('           ' + '; '.join(('%s %.3g' if isinstance(v, float) else '%s %d') % (k, v)
                                           for k, v in sorted(notes.items())))
    print('diff_sitk: %d failures (seed %d, %.1f s)' % (bad, seed, time.time() - t0))
    if not bad and not opts.get('keep'):
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
