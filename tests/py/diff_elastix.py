#!/usr/bin/python3
"""Random cases of medvol's elastix TransformParameters support (mvtool
elastix-field, elastix-write, warp --elastix) against elastix's own
transformix (Debian's elastix 5.0.1 package; Debian's /usr/bin/python3 with
numpy and nibabel).

  /usr/bin/python3 tests/py/diff_elastix.py MVTOOL [CASES [SEED]]
      [--family F[,F...]] [--case K] [--keep] [--model]

CASES per family (default 12: about 7 s on 2 cores; warp CASES/4, at least
2; transformix and points CASES/2; elastix 2 and refusals 1, fixed). Each
case draws its own generator from (SEED, family, case), so `--family F
--case K` with the same SEED reruns one case alone; --keep keeps the files (their folder is printed). --model leaves
mvtool out and compares transformix with this script's numpy model only (a
check of the harness itself; write uses a Python stand-in for elastix-write).
Without transformix on PATH: SKIPPED, exit 0. Exit 1 when a case fails; each
failure is printed with the command that reruns it and the transformix /
mvtool / elastix commands it ran.

Grids: 3-14 voxels per axis, 2D and 3D, spacings 0.5-3 mm, LPS directions
identity, signed permutations or random rotations, origins within ~60 mm,
a nonzero Index in 30% of the fixed grids. Files are written in elastix's
own layout (TransformBase::WriteToFile and each transform's WriteToFile,
elastix 5.0.1), numbers in elastix's fixed notation (parameters 6
decimals, geometry 10) or in %.17g, chosen per case; the model uses the
values the file holds. Fields are compared per component:
|medvol - transformix| <= 1e-4 mm + 1e-6 |transformix| (transformix
computes in double, both store float32); medvol's file must be float32,
intent 1007, of transformix's shape, its nibabel affine within 1e-5 of
transformix's. Every case also checks transformix against the numpy model
(same tolerance; a failure there is the harness's and says "harness"), and
leaves out the voxels within 1e-6 grid units of a B-spline valid region's
edge (the displacement jumps there; counted, none so far).

Debian's elastix 5.0.1 is built without SimilarityTransform,
FinalLinearInterpolator and FinalNearestNeighborInterpolator (also without
AffineDTITransform): transformix refuses a file that names one ("The
following component could not be created"), and silently drops an initial
file that does (its chain then starts later). So transformix reads copies
(NAME.tx.txt) where a SimilarityTransform is the AffineTransform of the same
matrix, centre and translation (%.17g; the model checks the similarity's
parameterisation), and those interpolators are FinalBSplineInterpolator of
order 1 / 0 (checked: order 1 is the trilinear model, order 0 nearest).
mvtool always reads the original files. transformix sometimes dies of
SIGSEGV after a complete run (about 1 run in 100-500 here; the same file then
runs hundreds of times cleanly): such a run is repeated, up to twice, and
counted in the summary.

  linear    TranslationTransform, EulerTransform (2D; 3D ZXY and ComputeZYX),
            SimilarityTransform (2D scale-angle; 3D versor + scale),
            AffineTransform (rotation x shear x scale): rotations up to 0.5
            rad, translations up to 10 mm, scales 0.8-1.25, random centre.
            transformix -def all vs mvtool elastix-field.
  bspline   BSplineTransform / RecursiveBSplineTransform, order 1-3,
            GridSize 4-8 per axis, an oblique GridDirection in 40%, a
            nonzero GridIndex in 40% of the BSplineTransform files (see
            below), coefficients up to 3 mm, the valid region 0.6-1.3 times
            the fixed grid's extent (so part of it gets zero displacement).
  chain     2-3 files chained by InitialTransformParametersFileName
            (absolute paths, as elastix writes them), each with its own
            HowToCombineTransforms (Compose / Add) and fixed grid (only the
            last file's grid is the output grid), linear and B-spline kinds.
  ref       one file of any kind; mvtool elastix-field --ref REF.nii (a
            random oblique grid written by nibabel, 2D as (X, Y) or
            (X, Y, 1)) vs transformix on a copy of the file with REF's grid
            (from REF's float32 sform: origin_LPS = S origin_RAS, Direction
            = S R, S = diag(-1, -1, 1); %.17g). medvol's affine must be
            REF's (a 2D field keeps REF's z row; transformix writes z
            spacing 1).
  write     mvtool elastix-write of a random RAS matrix (rotation, shear,
            scale, translation; 2D: one that keeps z, FIXED (X, Y, 1) with
            any z origin) and a random oblique FIXED.nii, --interp none /
            nearest / linear / cubic; half the cases --type rigid /
            similarity / translation with a matrix of that type (any
            rotation, 3D gimbal locks too), which must be written as
            EulerTransform / SimilarityTransform / TranslationTransform. The file must be FixedImageDimension 2
            or 3, name the interpolator asked for (its own name, or
            FinalBSplineInterpolator of order 0 / 1 / 3), and transformix
            must read it as written; transformix's field must be the
            matrix's displacement S (M p - p) at FIXED's voxels (numpy, the
            field tolerance) on FIXED's grid (affine within 1e-5; x and y
            only in 2D), and mvtool elastix-field of the file must equal it.
  warp      a smooth random MOVING.nii (8-14 voxels per axis) and a
            linear-kind file with FinalLinearInterpolator and
            DefaultPixelValue 0 whose fixed grid lies mostly inside MOVING:
            transformix -in MOVING vs mvtool warp MOVING FIXEDGRID OUT
            --elastix TP --interp linear (FIXEDGRID: a NIfTI with the file's
            fixed grid; OUT must have its shape and affine), at the voxels
            whose moving point is at least 1 voxel inside MOVING (the edge
            rules differ): |diff| <= 1e-4 x MOVING's range.
  transformix (CASES/2, at least 2) mvtool transformix -tp TP -out DIR -in
            MOVING -def all against transformix with the same arguments: a
            linear or B-spline file (FinalBSplineInterpolationOrder 0, 1 or
            3, a random DefaultPixelValue, ResultImagePixelType float or
            short) whose fixed grid partly leaves MOVING, with -in, -def
            all, -jac all and -jacmat all: every voxel of result.nii (edges
            and outside included: ITK's half-voxel rule with mirrored
            samples) within 1e-4 x MOVING's range (short: 1, a truncation
            of two nearly equal values), deformationField.nii within the
            field tolerance, spatialJacobian.nii (the analytic determinant)
            and fullSpatialJacobian.nii (the matrix, 9 or 4 components)
            within 1e-5, the same shapes, affines and dtypes. transformix's
            RecursiveBSplineTransform Jacobian is wrong for an oblique
            GridDirection (its BSplineTransform twin is right and is the
            reference there). A third of the cases (where SimpleITK
            imports) ask for ResultImageFormat "mhd", half of those with
            CompressResultImage "true" (which transformix applies to
            result.mhd only: result.zraw): both sides' .mhd files, compressed
            alike, are read by SimpleITK and compared as above.
  points    (CASES/2, at least 2) mvtool transformix -def POINTS against
            transformix -def POINTS: a chain of 1 or 2 files of any kind,
            1-40 points as "point" (LPS mm, 10% far off the grid, printed
            %.3f / %.6f / %.17g), "index" or a bare count (indices 3 past
            the grid, some .3 / .5 / -.5 / .7 off an integer: rounded half
            up), lines or spaces; -in MOVING in half of the cases
            (OutputIndexMoving). outputpoints.txt line for line: the same
            fields in the same order, indices equal (a difference only where
            the model's continuous index is within 1e-5 of a half: counted,
            none so far), numbers within 1.01e-6 (their 6 printed decimals;
            Deformation a float32 in both: + 2^-23 |value|). transformix's
            InputPoint and OutputPoint are checked against the model. Then
            the same points as a VTK PolyData mesh (ASCII or BINARY, float
            or double, a polyline or a vertex, a triangle, point scalars):
            -def mesh.vtk, outputpoints.vtk's points within 1e-9 mm +
            1e-12 |value| of transformix's (3D; transformix 5.0.1 reads a
            2D transform's VTK points two numbers at a time and aborts, so
            2D is checked against the model), mvtool's bytes after the
            points the input's.
  elastix   2 fixed cases: a 24^3 phantom of 20 Gaussian blobs (1.5 mm;
            case 1 oblique) and a copy moved by a known rigid transform (up
            to 0.06 rad, 2 mm); elastix AffineTransform (Mattes MI, 2
            resolutions, 60 iterations) then BSplineTransform (16 mm grid,
            40 iterations) with -t0 (absolute path: the B-spline file names
            it); for each TransformParameters file elastix wrote, transformix
            -def all vs mvtool elastix-field, and (with SimpleITK) vs
            SimpleITK's points through the file converted by mvtool
            tfm-convert to ITK's .h5. How close elastix came to the known
            map is printed, not checked.
  regwrite  3 fixed cases: mvtool register --transform bspline (a 20^3
            Gaussian-blob phantom, 1.3 mm, oblique in case 1, against a
            copy moved by a small rotation; levels 2x1) with --out-field and
            --out-elastix, case 1 also with an --init-matrix (so the written
            chain is an AffineTransform whose initial file is the B-spline):
            transformix -def all on the written file vs medvol's own field,
            over the whole fixed grid (the padded control grid must give the
            clamped-tap extrapolation of medvol's end intervals). Case 2:
            the large-image mode (36^3, 0.8 mm, --levels 4x2: registered on
            2x shrunk copies): the file must carry the fixed image's own
            grid (Size 36), be medvol's --out-field on the shrunk grid
            (mvtool elastix-field --ref), give transformix's field on the
            full grid (vs mvtool elastix-field), and transformix -in MOVING
            must be medvol's full-resolution --out within 1e-4 of the range
            where the moving point is at least 1 voxel inside MOVING (the
            edge rules differ: --out fills 0, ITK mirrors half a voxel).
  to_itk    mvtool tfm-convert of random elastix chains (1-4 files: the
            linear kinds and B-splines as in chain, composed, or added
            between linear files; in a quarter of the cases the innermost
            file a DeformationFieldTransform of order 1 on a lattice grid)
            into ITK files (.h5 deflated at a random level or not, .tfm,
            .mat for linear chains): SimpleITK's TransformPoint of the file
            on the fixed grid against transformix's -def all field (the
            field tolerance, B-spline edges left out) and, without a field,
            at 40 points about the grid against the numpy model (1e-7 mm +
            1e-9 relative); the file converted back (tfm-convert of the ITK
            file into the other ITK form) must give SimpleITK the same
            points to the bit. A chain that adds (HowToCombineTransforms
            "Add") a B-spline, or adds to one, must be refused naming "Add",
            with no file left. Skipped without SimpleITK.
  refusals  mutations of a valid 3D AffineTransform file (which mvtool must
            read): an AffineDTITransform, a BSplineTransform with
            UseCyclicTransform "true", a missing initial file, NumberOfParameters
            13 with 12 values and 12 with 11, a nan and an -inf parameter.
            mvtool elastix-field must exit with a status > 0, name the
            problem (a keyword: the kind, "cyclic", the missing path,
            NumberOfParameters / TransformParameters, nan / inf / finite)
            and write no OUT.
  from_itk  mvtool tfm-convert --elastix of random ITK files SimpleITK
            writes (.h5 or .tfm; 1-4 members: AffineTransform, Euler,
            Similarity, TranslationTransform, BSplineTransform of order 1-3
            on a random grid, DisplacementFieldTransform in float64 on a
            random oblique grid; a composite when more than one) with --ref
            a fixed image SimpleITK writes (.nii or .mha) and a random
            --interp: transformix's -def all field of the written files
            against SimpleITK's TransformPoint of the ITK file on the fixed
            grid (the field tolerance; the field's vectors are float32 in
            elastix), leaving out the voxels within 1e-6 grid units (1e-4
            with a .nii: its float32 sform) of a member's edge (a B-spline's
            valid region, a field's buffer bounds) at that member's input
            point; the written files converted back to an ITK .h5 must give
            SimpleITK the same field (the same tolerance); in a tenth of the
            cases tfm-convert --elastix without --ref must be refused
            (exit 1, "fixed grid", no file). Skipped without SimpleITK.

What was verified about transformix 5.0.1 (the model; --model checks it):
  - `transformix -def all -tp TP -out DIR` writes DIR/deformationField.nii
    (with ResultImageFormat "nii"): float32, dims (X, Y, Z, 1, 3), 2D files
    (X, Y, 1, 1, 2), intent code 1007, sform and qform codes 1; vectors in
    LPS mm, a fixed point p mapping to p + d(p) (a TranslationTransform
    gives the constant field of its parameters).
  - The field's grid is the file's Size/Spacing/Origin/Direction with the
    origin moved to the physical point of Index (ITK's writer writes the
    region's first voxel); Direction value i*n+j is element (j, i); a 2D
    file's NIfTI has z spacing 1 and z origin 0.
  - Linear kinds map p to A (p - c) + c + t (c = CenterOfRotationPoint);
    Euler 3D: A = Rz Rx Ry (ComputeZYX "false") or Rz Ry Rx; Similarity 3D:
    the versor's vector part (w = sqrt(1 - |v|^2)) times the scale (from
    elastix's sources: Debian's transformix cannot read it).
  - B-splines: continuous grid index c = (GridDirection diag(GridSpacing))^-1
    (p - GridOrigin), GridOrigin the point of index 0 (not of GridIndex);
    zero displacement unless GridIndex + (k - 1) / 2 <= c < GridIndex +
    GridSize - 1 - (k - 1) / 2 on every axis (order k); weights B_k(c - j)
    for j from floor(c - (k - 1) / 2); the coefficient of index j at
    j - GridIndex in the file (all x components, then y, then z, x fastest).
    RecursiveBSplineTransform ignores GridIndex when it reads coefficients
    (it offsets the buffer by the absolute support index: up to 4.8 mm from
    the model with GridIndex (2, -1, 1)), so its files here have GridIndex 0
    (elastix always writes 0).
  - Chains: Compose = T_current(T_initial(x)), Add = T_initial(x) +
    T_current(x) - x, each file's HowToCombineTransforms combining it with
    its own initial chain; the initial files' grids are not used.
  - elastix's own files (6-decimal parameters, the B-spline file naming the
    affine one) match the model too.
  - `transformix -def FILE` (TransformBase::TransformPointsSomePoints and
    itk::TransformixInputPointFileReader): "point" / "index" / a bare count
    (indices), indices rounded half up (-0.5 -> 0, 4.5 -> 5), nearest
    indices by TransformPhysicalPointToContinuousIndex on the file's fixed
    grid (its Index does not shift them), Deformation T(p) - p as float,
    numbers std::fixed (6 decimals), OutputIndexMoving only with -in.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

S3 = np.diag([-1.0, -1.0, 1.0])
S4 = np.diag([-1.0, -1.0, 1.0, 1.0])
FAMILIES = ['linear', 'bspline', 'chain', 'ref', 'write', 'warp', 'transformix', 'points', 'elastix', 'regwrite',
            'defield', 'to_itk', 'refusals', 'from_itk']
LINEAR = ['TranslationTransform', 'EulerTransform', 'SimilarityTransform', 'AffineTransform']
BSPLINE = ['BSplineTransform', 'RecursiveBSplineTransform']
ATOL, RTOL = 1e-4, 1e-6  # field tolerance: ATOL mm + RTOL |value|
EDGE = 1e-6  # voxels within EDGE grid units of a B-spline valid region's edge are left out
TRANSFORMIX = 'transformix'
ELASTIX = 'elastix'
model_only = False


class Failure(Exception):
    pass


class Case:
    def __init__(self, exe, tmp, fam, k, notes):
        self.exe, self.tmp, self.fam, self.k = exe, tmp, fam, k
        self.cmds = []
        self.notes = notes

    def note(self, what, n=1):
        self.notes[what] = self.notes.get(what, 0) + n

    def peak(self, what, v):
        self.notes[what] = max(self.notes.get(what, 0.0), float(v))

    def p(self, name):
        return os.path.join(self.tmp, name)

    def run(self, cmd):
        cmd = [str(a) for a in cmd]
        self.cmds.append(' '.join(cmd))
        return subprocess.run(cmd, capture_output=True, text=True, cwd=self.tmp)

    def mv(self, *args):
        """mvtool ARGS; a nonzero exit is a failure"""
        r = self.run([self.exe] + list(args))
        if r.returncode != 0:
            raise Failure('mvtool %s: exit %d: %s' % (args[0], r.returncode, (r.stderr or r.stdout).strip()))
        return r

    def transformix(self, tp, out, moving=None):
        """transformix -def all -tp TP -out OUT (or -in MOVING): the path it wrote"""
        os.makedirs(out, exist_ok=True)
        cmd = [TRANSFORMIX] + (['-in', moving] if moving else ['-def', 'all']) + ['-tp', tp, '-out', out]
        r = self.run(cmd)
        for _ in range(2):
            if r.returncode >= 0:
                break
            # transformix 5.0.1 dies of SIGSEGV now and then after a complete
            # run (see the module doc): run it again
            self.note('transformix crashes (rerun)')
            r = self.run(cmd)
        path = os.path.join(out, 'result.nii' if moving else 'deformationField.nii')
        if r.returncode != 0 or not os.path.exists(path):
            log = ''
            try:
                with open(os.path.join(out, 'transformix.log')) as f:
                    log = ' '.join(l.strip() for l in f if 'ERROR' in l or 'rror' in l)[:600]
            except OSError:
                pass
            raise Failure('transformix on %s: exit %d, no %s (%s)' % (tp, r.returncode, path, log))
        return path


# ------------------------------------------------------------ grids

def rotation(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def small_rotation(rng, n, amax):
    """a rotation by an angle up to amax about a random axis"""
    if n == 2:
        a = rng.uniform(-amax, amax)
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    ax = rng.standard_normal(3)
    ax /= np.linalg.norm(ax)
    a = rng.uniform(-amax, amax)
    K = np.array([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def rand_direction(rng, n):
    kind = rng.random()
    if kind < 0.2:
        return np.eye(n)
    if kind < 0.35:
        p = np.zeros((n, n))
        p[np.arange(n), rng.permutation(n)] = rng.choice([-1.0, 1.0], n)
        return p
    return rotation(rng, n)


class Fmt:
    """how a case writes numbers: elastix's own fixed notation (parameters
    with 6 decimals, geometry with 10) or %.17g; qp() and qg() round values
    to what the file holds, so that the model sees what both programs read"""

    def __init__(self, rng=None, elx=None):
        self.elx = bool(rng.random() < 0.5) if elx is None else elx

    def par(self, x):
        return '%.6f' % x if self.elx else '%.17g' % x

    def geo(self, x):
        return '%.10f' % x if self.elx else '%.17g' % x

    def qp(self, a):
        return np.vectorize(lambda x: float(self.par(x)))(np.asarray(a, np.float64))

    def qg(self, a):
        return np.vectorize(lambda x: float(self.geo(x)))(np.asarray(a, np.float64))


FULL = Fmt(elx=False)


def make_grid(nd, size, index, spacing, origin, D):
    return {'nd': nd, 'size': [int(x) for x in size], 'index': [int(x) for x in index],
            'spacing': np.array(spacing, np.float64), 'origin': np.array(origin, np.float64),
            'D': np.array(D, np.float64)}


def rand_grid(rng, nd, fmt, center=None, sizes=(3, 15), index_p=0.3):
    """an elastix fixed grid (LPS) centred near center"""
    size = rng.integers(sizes[0], sizes[1], nd)
    index = rng.integers(-4, 5, nd) if rng.random() < index_p else np.zeros(nd, int)
    sp = rng.uniform(0.5, 3.0, nd)
    D = rand_direction(rng, nd)
    if center is None:
        center = rng.uniform(-40, 40, nd)
    o = center - D @ (sp * (index + (size - 1) / 2.0))
    return make_grid(nd, size, index, fmt.qg(sp), fmt.qg(o), fmt.qg(D))


def grid_points(g):
    """LPS points (nd, N) of the grid's voxels, x fastest (NIfTI order)"""
    nd = g['nd']
    axes = [g['index'][a] + np.arange(g['size'][a]) for a in range(nd)]
    mesh = np.meshgrid(*axes[::-1], indexing='ij')
    idx = np.stack([m.ravel() for m in mesh[::-1]]).astype(np.float64)
    return g['origin'][:, None] + (g['D'] * g['spacing']) @ idx


def grid_affine(g):
    """the RAS affine of the NIfTI file ITK writes for the grid (origin at
    the point of Index; 2D: z axis of spacing 1 at 0)"""
    nd = g['nd']
    L = np.eye(3)
    L[:nd, :nd] = g['D'] * g['spacing']
    o = np.zeros(3)
    o[:nd] = g['origin'] + L[:nd, :nd] @ np.array(g['index'], np.float64)
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = L, o
    return S4 @ A


def grid_of_affine(A_ras, dims, nd):
    """an elastix grid of a NIfTI affine (RAS) and dims"""
    A = S4 @ A_ras
    L = A[:nd, :nd]
    sp = np.sqrt((L ** 2).sum(axis=0))
    return make_grid(nd, dims[:nd], [0] * nd, sp, A[:nd, 3], L / sp)


def grid_center(g):
    return g['origin'] + (g['D'] * g['spacing']) @ (np.array(g['index']) + (np.array(g['size']) - 1) / 2.0)


# ------------------------------------------------------------ transforms

def rot3(rx, ry, rz, zyx):
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx if zyx else Rz @ Rx @ Ry


def versor_matrix(v):
    x, y, z = v
    w = np.sqrt(max(0.0, 1 - x * x - y * y - z * z))
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def linear_matrix(tf):
    """(A, t, c) of a linear kind: p -> A (p - c) + c + t"""
    k, nd, p = tf['kind'], tf['nd'], tf['params']
    c = tf.get('center', np.zeros(nd))
    if k == 'TranslationTransform':
        return np.eye(nd), p[:nd], np.zeros(nd)
    if k == 'EulerTransform':
        if nd == 2:
            a = p[0]
            return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]), p[1:3], c
        return rot3(p[0], p[1], p[2], tf['zyx']), p[3:6], c
    if k == 'SimilarityTransform':
        if nd == 2:
            s, a = p[0], p[1]
            return s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]), p[2:4], c
        return p[6] * versor_matrix(p[0:3]), p[3:6], c
    if k == 'AffineTransform':
        return p[:nd * nd].reshape(nd, nd), p[nd * nd:], c
    raise ValueError(k)


def rand_linear(rng, nd, fmt, center, kind=None):
    kind = kind or str(rng.choice(LINEAR))
    tf = {'kind': kind, 'nd': nd, 'zyx': bool(rng.random() < 0.5)}
    t = rng.uniform(-10, 10, nd)
    if kind == 'TranslationTransform':
        p = t
    elif kind == 'EulerTransform':
        p = np.concatenate([rng.uniform(-0.5, 0.5, 1 if nd == 2 else 3), t])
    elif kind == 'SimilarityTransform':
        s = np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
        if nd == 2:
            p = np.concatenate([[s, rng.uniform(-0.5, 0.5)], t])
        else:
            ax = rng.standard_normal(3)
            v = ax / np.linalg.norm(ax) * np.sin(rng.uniform(-0.5, 0.5) / 2)
            p = np.concatenate([v, t, [s]])
    else:
        sh = np.eye(nd) + np.triu(rng.uniform(-0.15, 0.15, (nd, nd)), 1)
        sc = np.diag(np.exp(rng.uniform(np.log(0.8), np.log(1.25), nd)))
        A = small_rotation(rng, nd, 0.5) @ sh @ sc
        p = np.concatenate([A.ravel(), t])
    tf['params'] = fmt.qp(p)
    if kind != 'TranslationTransform':
        tf['center'] = fmt.qg(center + rng.uniform(-20, 20, nd))
    return tf


def rand_bspline(rng, nd, fmt, fixed, kind=None):
    """a B-spline over (a bit less than, or beyond) the fixed grid's extent,
    so that part of the fixed grid lies outside the valid region"""
    kind = kind or str(rng.choice(BSPLINE))
    order = int(rng.integers(1, 4))
    gsize = rng.integers(4, 9, nd)
    # RecursiveBSplineTransform: GridIndex 0 (transformix misreads others: module doc)
    gindex = rng.integers(-3, 4, nd) if kind == 'BSplineTransform' and rng.random() < 0.4 else np.zeros(nd, int)
    gD = rand_direction(rng, nd) if rng.random() < 0.4 else fixed['D']
    # the valid region spans GridSize - order cells; make it cover 0.6-1.3 of the fixed extent
    ext = np.abs(fixed['D'] * fixed['spacing']) @ (np.array(fixed['size']) - 1.0)
    span = float(np.max(ext)) * rng.uniform(0.6, 1.3) + 1.0
    gsp = span / np.maximum(gsize - order, 1) * rng.uniform(0.8, 1.2, nd)
    center = grid_center(fixed) + rng.uniform(-0.15, 0.15, nd) * span
    gorigin = center - gD @ (gsp * (gindex + (gsize - 1) / 2.0))
    n = int(np.prod(gsize))
    coef = rng.uniform(-3, 3, (nd, n))
    tf = {'kind': kind, 'nd': nd, 'order': order, 'gsize': [int(x) for x in gsize],
          'gindex': [int(x) for x in gindex], 'gspacing': fmt.qg(gsp), 'gorigin': fmt.qg(gorigin),
          'gD': fmt.qg(gD), 'params': fmt.qp(coef.ravel())}
    return tf


def bspline_weight(u, order):
    a = np.abs(u)
    if order == 1:
        return np.where(a < 1, 1 - a, 0.0)
    if order == 2:
        return np.where(a < 0.5, 0.75 - a * a, np.where(a < 1.5, (9 - 12 * a + 4 * a * a) / 8, 0.0))
    return np.where(a < 1, (4 - 6 * a * a + 3 * a * a * a) / 6, np.where(a < 2, (2 - a) ** 3 / 6, 0.0))


def eval_bspline(tf, P):
    """(displacement (nd, N), edge distance (N)) of a B-spline kind at P"""
    nd, k = tf['nd'], tf['order']
    gs, gi = np.array(tf['gsize']), np.array(tf['gindex'])
    c = np.linalg.solve(tf['gD'] * tf['gspacing'], P - tf['gorigin'][:, None])
    lo = gi + (k - 1) / 2.0
    hi = gi + gs - 1 - (k - 1) / 2.0
    inside = np.all((c >= lo[:, None]) & (c < hi[:, None]), axis=0)
    edge = np.min(np.minimum(np.abs(c - lo[:, None]), np.abs(c - hi[:, None])), axis=0)
    start = np.floor(c - (k - 1) / 2.0).astype(np.int64)
    coef = tf['params'].reshape(nd, -1)
    d = np.zeros(P.shape)
    strides = np.cumprod([1] + list(gs[:-1]))
    for off in np.ndindex(*([k + 1] * nd)):
        j = start + np.array(off)[:, None]
        w = np.prod(bspline_weight(c - j, k), axis=0)
        rel = np.clip(j - gi[:, None], 0, gs[:, None] - 1)
        flat = (rel * strides[:, None]).sum(axis=0)
        d += w * coef[:, flat]
    d[:, ~inside] = 0
    return d, edge


def eval_one(tf, P):
    """(Q, edge): the points a file's own transform maps P to"""
    if tf['kind'] in BSPLINE:
        d, edge = eval_bspline(tf, P)
        return P + d, edge
    A, t, c = linear_matrix(tf)
    return A @ (P - c[:, None]) + (c + t)[:, None], np.full(P.shape[1], np.inf)


def eval_chain(files, P):
    """files[0] has no initial transform; files[i] names files[i - 1]"""
    Q, edge = eval_one(files[0]['tf'], P)
    for f in files[1:]:
        if f['combine'] == 'Compose':
            Q, e = eval_one(f['tf'], Q)
        else:
            Qc, e = eval_one(f['tf'], P)
            Q = Q + Qc - P
        edge = np.minimum(edge, e)
    return Q, edge


# ------------------------------------------------------------ files

def tp_text(tf, g, fmt, init='NoInitialTransform', combine='Compose', interp='FinalBSplineInterpolator',
            extra=(), params_text=None, count=None, order=3):
    """a TransformParameters file as elastix 5.0.1 writes it"""
    nd = g['nd']
    if tf.get('full'):
        fmt = FULL  # a substitute (tx_equiv): its geometry is the same doubles
    par = params_text if params_text is not None else ' '.join(fmt.par(x) for x in tf['params'])
    n = count if count is not None else len(tf['params'])
    L = ['(Transform "%s")' % tf['kind'], '(NumberOfParameters %d)' % n, '(TransformParameters %s)' % par,
         '(InitialTransformParametersFileName "%s")' % init,
         '(UseBinaryFormatForTransformationParameters "false")', '(HowToCombineTransforms "%s")' % combine, '',
         '// Image specific', '(FixedImageDimension %d)' % nd, '(MovingImageDimension %d)' % nd,
         '(FixedInternalImagePixelType "float")', '(MovingInternalImagePixelType "float")',
         '(Size %s)' % ' '.join('%d' % x for x in g['size']), '(Index %s)' % ' '.join('%d' % x for x in g['index']),
         '(Spacing %s)' % ' '.join(fmt.geo(x) for x in g['spacing']),
         '(Origin %s)' % ' '.join(fmt.geo(x) for x in g['origin']),
         '(Direction %s)' % ' '.join(fmt.geo(x) for x in g['D'].T.ravel()), '(UseDirectionCosines "true")', '']
    k = tf['kind']
    if k in ('EulerTransform', 'SimilarityTransform', 'AffineTransform'):
        L.append('// %s specific' % ('AdvancedAffineTransform' if k == 'AffineTransform' else k))
        L.append('(CenterOfRotationPoint %s)' % ' '.join(fmt.geo(x) for x in tf['center']))
        if k == 'EulerTransform' and nd == 3:
            L.append('(ComputeZYX "%s")' % ('true' if tf['zyx'] else 'false'))
        L.append('')
    elif k in BSPLINE or k == 'AffineDTITransform':
        if k in BSPLINE:
            L += ['// BSplineTransform specific', '(GridSize %s)' % ' '.join('%d' % x for x in tf['gsize']),
                  '(GridIndex %s)' % ' '.join('%d' % x for x in tf['gindex']),
                  '(GridSpacing %s)' % ' '.join(fmt.geo(x) for x in tf['gspacing']),
                  '(GridOrigin %s)' % ' '.join(fmt.geo(x) for x in tf['gorigin']),
                  '(GridDirection %s)' % ' '.join(fmt.geo(x) for x in tf['gD'].T.ravel()),
                  '(BSplineTransformSplineOrder %d)' % tf['order'],
                  '(UseCyclicTransform "%s")' % tf.get('cyclic', 'false'), '']
    L += ['// ResampleInterpolator specific', '(ResampleInterpolator "%s")' % interp]
    if interp == 'FinalBSplineInterpolator':
        L.append('(FinalBSplineInterpolationOrder %d)' % order)
    L += ['', '// Resampler specific', '(Resampler "DefaultResampler")', '(DefaultPixelValue 0.000000)',
          '(ResultImageFormat "nii")', '(ResultImagePixelType "float")', '(CompressResultImage "false")']
    L += list(extra)
    return '\n'.join(L) + '\n'


def write_text(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def read_tp(path):
    """a TransformParameters file's entries: name -> list of strings"""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split('//')[0].strip()
            m = re.match(r'^\((\S+)\s+(.*)\)$', line)
            if m:
                out[m.group(1)] = [w.strip('"') for w in m.group(2).split()]
    return out


# Debian's elastix 5.0.1 is built without these components: transformix
# refuses a file that names one ("could not be created"), and silently drops
# an initial file that does. Its copies of the files name equivalents.
TX_MISSING = ('SimilarityTransform', 'FinalLinearInterpolator', 'FinalNearestNeighborInterpolator')


def tx_equiv(tf):
    """the transform as transformix can read it: a SimilarityTransform as the
    AffineTransform of the same matrix, centre and translation (%.17g)"""
    if tf['kind'] != 'SimilarityTransform':
        return tf
    A, t, c = linear_matrix(tf)
    return {'kind': 'AffineTransform', 'nd': tf['nd'], 'params': np.concatenate([A.ravel(), t]),
            'center': c, 'full': True}


def tx_interp_text(text):
    """a file's text with the interpolators transformix lacks named as the
    B-spline interpolator of order 1 (linear) or 0 (nearest)"""
    for name, order in (('FinalLinearInterpolator', 1), ('FinalNearestNeighborInterpolator', 0)):
        if '"%s"' % name in text:
            text = re.sub(r'\(FinalBSplineInterpolationOrder [^)]*\)\n?', '', text)
            text = text.replace('(ResampleInterpolator "%s")' % name,
                                '(ResampleInterpolator "FinalBSplineInterpolator")\n'
                                '(FinalBSplineInterpolationOrder %d)' % order)
    return text


def write_pair(case, name, tf, g, fmt, **kw):
    """name.txt (for mvtool) and, where it names a component Debian's
    transformix lacks, name.tx.txt with the equivalent: (mvtool's, transformix's)"""
    mv = write_text(case.p(name + '.txt'), tp_text(tf, g, fmt, **kw))
    text = tx_interp_text(tp_text(tx_equiv(tf), g, fmt, **kw))
    if text == tp_text(tf, g, fmt, **kw):
        return mv, mv
    case.note('files with a substitute for transformix')
    return mv, write_text(case.p(name + '.tx.txt'), text)


def chain_of_file(path):
    """the model's chain of a TransformParameters file (elastix's own
    files: the linear kinds, BSplineTransform, RecursiveBSplineTransform)"""
    e = read_tp(path)
    nd = int(e['FixedImageDimension'][0])

    def num(key):
        return np.array([float(x) for x in e[key]])

    tf = {'kind': e['Transform'][0], 'nd': nd, 'params': num('TransformParameters'),
          'zyx': e.get('ComputeZYX', ['false'])[0] == 'true'}
    if 'CenterOfRotationPoint' in e:
        tf['center'] = num('CenterOfRotationPoint')
    if tf['kind'] in BSPLINE:
        tf.update({'order': int(e.get('BSplineTransformSplineOrder', ['3'])[0]),
                   'gsize': [int(x) for x in e['GridSize']], 'gindex': [int(x) for x in e['GridIndex']],
                   'gspacing': num('GridSpacing'), 'gorigin': num('GridOrigin'),
                   'gD': num('GridDirection').reshape(nd, nd).T})
    init = e.get('InitialTransformParametersFileName', ['NoInitialTransform'])[0]
    files = chain_of_file(init) if init != 'NoInitialTransform' else []
    return files + [{'tf': tf, 'combine': e.get('HowToCombineTransforms', ['Compose'])[0]}]


def write_chain(case, files, fmt):
    """writes files[i] as tp<i>.txt (and transformix's tp<i>.tx.txt), each
    naming the one before (absolute paths); returns the last two paths"""
    prev = ('NoInitialTransform', 'NoInitialTransform')
    for i, f in enumerate(files):
        comb = f['combine'] if i else 'Compose'
        mv = write_text(case.p('tp%d.txt' % i), tp_text(f['tf'], f['grid'], fmt, init=prev[0], combine=comb))
        tx = write_text(case.p('tp%d.tx.txt' % i), tp_text(tx_equiv(f['tf']), f['grid'], fmt, init=prev[1],
                                                          combine=comb))
        prev = (mv, tx)
    return prev


def load_field(path):
    import nibabel as nib
    img = nib.load(path)
    return img, np.asarray(img.dataobj, np.float64)


def sitk_skipped(case):
    """whether a family that needs mvtool and SimpleITK skips this case
    (--model, or no SimpleITK: noted)"""
    if model_only:
        return True
    if not have_sitk():
        case.note('skipped: no SimpleITK')
        return True
    return False


def have_sitk():
    try:
        import SimpleITK  # noqa: F401
        return True
    except ImportError:
        return False


class SitkAsNib:
    """A MetaImage file read by SimpleITK, shown as nibabel shows the NIfTI
    file ITK would write of it: .dataobj (X, Y[, Z]) for scalars, (X, Y, Z,
    1, C) for vectors (Z = 1 in 2D), .affine (RAS: LPS with x, y negated),
    get_data_dtype()"""

    def __init__(self, path):
        import SimpleITK as sitk
        img = sitk.ReadImage(path)
        a = sitk.GetArrayFromImage(img)
        nd, nc = img.GetDimension(), img.GetNumberOfComponentsPerPixel()
        if nc > 1:
            a = np.moveaxis(a, -1, 0).T  # (X, Y[, Z], C)
            a = a.reshape(a.shape[:nd] + (1,) * (3 - nd) + (1, nc), order='F')
        else:
            a = a.T
        self.dataobj = np.ascontiguousarray(a)
        D = np.array(img.GetDirection()).reshape(nd, nd)
        A = np.eye(4)
        A[:nd, :nd] = D * np.array(img.GetSpacing())
        A[:nd, 3] = img.GetOrigin()
        self.affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ A

    def get_data_dtype(self):
        return self.dataobj.dtype


def field_vectors(a, nd):
    """(X, Y, Z, 1, nd) -> (nd, N), x fastest"""
    return np.stack([a[:, :, :, 0, c].ravel(order='F') for c in range(nd)])


def save_nifti(path, data, A):
    import nibabel as nib
    img = nib.Nifti1Image(np.asarray(data, np.float32), A)
    img.set_sform(A, code=1)
    img.set_qform(A, code=1)
    nib.save(img, path)
    return nib.load(path)


# ------------------------------------------------------------ comparisons

def compare(case, what, got, ref, mask=None):
    """|got - ref| <= ATOL + RTOL |ref| per component at mask; the worst ratio"""
    tol = ATOL + RTOL * np.abs(ref)
    r = np.abs(got - ref) / tol
    if mask is not None:
        r = r[:, mask]
    if r.size == 0:
        return 0.0
    if not np.all(np.isfinite(r)) or np.max(r) > 1:
        r = np.where(np.isfinite(r), r, np.inf)
        c, i = np.unravel_index(int(np.argmax(r)), r.shape)
        gi = np.flatnonzero(mask)[i] if mask is not None else i
        raise Failure('%s: %d of %d components beyond %g mm + %g relative; worst component %d of voxel %d '
                      '(x fastest): %r vs %r (%.3g x the tolerance)'
                      % (what, int(np.sum(r > 1)), r.size, ATOL, RTOL, c, gi, got[c, gi], ref[c, gi], r[c, i]))
    return float(np.max(r))


def check_field_file(case, what, path, g, nd, ref_affine=None):
    """medvol's field file: float32, intent 1007, shape (X, Y, Z, 1, nd) of g"""
    img, a = load_field(path)
    shape = tuple(g['size']) + (1,) * (3 - nd) + (1, nd)
    if a.shape != shape:
        raise Failure('%s: shape %s, expected %s' % (what, a.shape, shape))
    if img.get_data_dtype() != np.float32:
        raise Failure('%s: dtype %s, expected float32' % (what, img.get_data_dtype()))
    if int(img.header['intent_code']) != 1007:
        raise Failure('%s: intent code %d, expected 1007 (NIFTI_INTENT_VECTOR)'
                      % (what, int(img.header['intent_code'])))
    if ref_affine is not None:
        e = float(np.max(np.abs(img.affine - ref_affine)))
        if e > 1e-5:
            raise Failure('%s: affine\n%s\nexpected\n%s' % (what, img.affine, ref_affine))
    return img, a


def field_case(case, tp, g, nd, model_Q=None, edge=None, label='field'):
    """transformix -def all on tp (grid g) checked against the model (model_Q:
    the points the grid's voxels map to; edge: their distance to a B-spline
    valid region's edge): (worst ratio, transformix's vectors, its image,
    the voxels compared)"""
    P = grid_points(g)
    tx_path = case.transformix(tp, case.p('tx_' + label))
    img, a = load_field(tx_path)
    A = grid_affine(g)
    shape = tuple(g['size']) + (1,) * (3 - nd) + (1, nd)
    if a.shape != shape or int(img.header['intent_code']) != 1007:
        raise Failure('harness: transformix wrote shape %s intent %d, the model expects %s intent 1007'
                      % (a.shape, int(img.header['intent_code']), shape))
    if np.max(np.abs(img.affine - A)) > 1e-5:
        raise Failure('harness: transformix\'s field affine\n%s\nthe model\'s\n%s' % (img.affine, A))
    tx = field_vectors(a, nd)
    mask = None
    if edge is not None:
        mask = edge > EDGE
        case.note('voxels at a B-spline edge (left out)', int((~mask).sum()))
    w = 0.0
    if model_Q is not None:
        w = compare(case, 'harness: transformix vs the numpy model (%s)' % tp, model_Q - P, tx, mask)
        case.peak('model vs transformix', w)
    return w, tx, img, mask


def mv_field(case, tp, out, ref_args, g, nd, tx, tx_img, mask, what, affine=None):
    """mvtool elastix-field TP OUT [ref_args] against transformix's field tx;
    its affine must be transformix's (or affine: REF's)"""
    case.mv('elastix-field', tp, out, *ref_args)
    img, a = check_field_file(case, 'mvtool %s' % what, out, g, nd, tx_img.affine if affine is None else affine)
    return compare(case, 'mvtool elastix-field vs transformix (%s)' % what, field_vectors(a, nd), tx, mask)


def run_field(case, tp, g, nd, Q, edge, label='field', mv_tp=None, ref_args=(), affine=None):
    if any(g['index']):
        case.note('fixed grids with a nonzero Index')
    w, tx, img, mask = field_case(case, tp, g, nd, Q, edge, label=label)
    if model_only:
        return w
    return mv_field(case, mv_tp or tp, case.p('mv_%s.nii' % label), ref_args, g, nd, tx, img, mask, label, affine)


# ------------------------------------------------------------ families

def fam_linear(case, rng):
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    g = rand_grid(rng, nd, fmt)
    tf = rand_linear(rng, nd, fmt, grid_center(g))
    case.note(tf['kind'] + ' %dD' % nd)
    tp, tp_tx = write_pair(case, 'tp', tf, g, fmt)
    Q, edge = eval_one(tf, grid_points(g))
    return run_field(case, tp_tx, g, nd, Q, None, mv_tp=tp)


def fam_bspline(case, rng):
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    g = rand_grid(rng, nd, fmt)
    tf = rand_bspline(rng, nd, fmt, g)
    case.note('%s order %d' % (tf['kind'], tf['order']))
    if any(tf['gindex']):
        case.note('nonzero GridIndex')
    tp = write_text(case.p('tp.txt'), tp_text(tf, g, fmt))
    Q, edge = eval_one(tf, grid_points(g))
    inside = np.any(Q != grid_points(g), axis=0)
    case.note('voxels outside the valid region', int((~inside).sum()))
    return run_field(case, tp, g, nd, Q, edge)


def rand_any(rng, nd, fmt, g, p_bspline=0.4):
    if rng.random() < p_bspline:
        return rand_bspline(rng, nd, fmt, g)
    return rand_linear(rng, nd, fmt, grid_center(g))


def fam_chain(case, rng):
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    n = int(rng.integers(2, 4))
    g = rand_grid(rng, nd, fmt)
    files = []
    for i in range(n):
        gi = g if i == n - 1 else rand_grid(rng, nd, fmt, center=grid_center(g) + rng.uniform(-5, 5, nd))
        files.append({'tf': rand_any(rng, nd, fmt, g, 0.45), 'grid': gi,
                      'combine': str(rng.choice(['Compose', 'Add']))})
    case.note('chains of %d' % n)
    case.note('Add steps', sum(f['combine'] == 'Add' for f in files[1:]))
    tp, tp_tx = write_chain(case, files, fmt)
    Q, edge = eval_chain(files, grid_points(g))
    return run_field(case, tp_tx, g, nd, Q, edge, mv_tp=tp)


def oblique_grid(rng, nd, sizes, spacings, center, zorigin=0.0):
    """a random oblique grid of sizes[0] .. sizes[1] - 1 voxels per axis
    (2D: one z voxel), spacings drawn from the range spacings, centred on
    center (nd values): (dims, spacings, voxel -> LPS linear part, origin)"""
    dims = [int(x) for x in rng.integers(sizes[0], sizes[1], 3)]
    if nd == 2:
        dims[2] = 1
    sp = rng.uniform(spacings[0], spacings[1], 3)
    R = np.eye(3)
    R[:nd, :nd] = rand_direction(rng, nd)
    L = R * sp
    c3 = np.zeros(3)
    c3[:nd] = center
    o = c3 - L @ ((np.array(dims) - 1) / 2.0)
    if nd == 2:
        o[2] = zorigin
    return dims, sp, L, o


def rand_ref_nifti(rng, case, nd, center, zorigin=0.0):
    """REF.nii: a random oblique grid near center (LPS); returns its elastix grid
    as the file holds it (float32 sform)"""
    dims, sp, L, o = oblique_grid(rng, nd, (3, 15), (0.5, 3.0), center, zorigin)
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = L, o
    A = S4 @ A
    shape = tuple(dims[:nd]) if nd == 2 and rng.random() < 0.5 else tuple(dims)
    img = save_nifti(case.p('ref.nii'), rng.standard_normal(shape), A)
    return grid_of_affine(img.header.get_sform(), dims, nd), img.header.get_sform()


def fam_ref(case, rng):
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    g = rand_grid(rng, nd, fmt)
    tf = rand_any(rng, nd, fmt, g, 0.5)
    case.note(tf['kind'])
    tp = write_text(case.p('tp.txt'), tp_text(tf, g, fmt))
    rg, Aref = rand_ref_nifti(rng, case, nd, grid_center(g) + rng.uniform(-8, 8, nd))
    # transformix: the same transform on REF's grid (as the file holds it, %.17g)
    tp_ref = write_text(case.p('tp_on_ref.txt'), tp_text(dict(tx_equiv(tf), full=True), rg, FULL))
    Q, edge = eval_one(tf, grid_points(rg))
    # medvol's field is on REF's grid: REF's affine (a 2D field: REF's z row too,
    # where transformix's 2D file has z spacing 1)
    return run_field(case, tp_ref, rg, nd, Q, edge, mv_tp=tp, ref_args=('--ref', case.p('ref.nii')), affine=Aref)


def rand_ras_matrix(rng, nd):
    k = nd
    sh = np.eye(k) + np.triu(rng.uniform(-0.2, 0.2, (k, k)), 1)
    sc = np.diag(np.exp(rng.uniform(np.log(0.8), np.log(1.25), k)))
    B = small_rotation(rng, k, 0.6) @ sh @ sc
    M = np.eye(4)
    M[:k, :k], M[:k, 3] = B, rng.uniform(-15, 15, k)
    return M


TYPED_KINDS = {'rigid': 'EulerTransform', 'similarity': 'SimilarityTransform', 'translation': 'TranslationTransform'}


def rand_typed_matrix(rng, nd, kind):
    """a random RAS matrix of a registration type: any rotation (up to 0.6
    rad or about pi; 3D, 15% at ITK Euler3D's gimbal lock: 90 degrees about
    LPS x between the z and y rotations), scaled for similarity"""
    R = np.eye(nd)
    if kind != 'translation':
        R = small_rotation(rng, nd, float(rng.choice([0.6, 3.1])))
        if nd == 3 and rng.random() < 0.15:
            a, b, sx = rng.uniform(-np.pi, np.pi), rng.uniform(-np.pi, np.pi), float(rng.choice([-1.0, 1.0]))
            Rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
            Ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
            Rx = np.array([[1, 0, 0], [0, 0, -sx], [0, sx, 0]])
            S3 = np.diag([-1.0, -1.0, 1.0])
            R = S3 @ (Rz @ Rx @ Ry) @ S3  # LPS -> RAS
        if kind == 'similarity':
            R = R * np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
    M = np.eye(4)
    M[:nd, :nd], M[:nd, 3] = R, rng.uniform(-15, 15, nd)
    return M


def py_elastix_write(M, fixed_path, nd, tp):
    """--model's stand-in for mvtool elastix-write: an AffineTransform of
    S M S (centre 0) with FIXED's grid"""
    import nibabel as nib
    hdr = nib.load(fixed_path).header
    dims = [int(x) for x in hdr.get_data_shape()] + [1, 1]
    g = grid_of_affine(hdr.get_sform(), dims, nd)
    L = S4 @ M @ S4
    tf = {'kind': 'AffineTransform', 'nd': nd, 'params': np.concatenate([L[:nd, :nd].ravel(), L[:nd, 3]]),
          'center': np.zeros(nd)}
    write_text(tp, tp_text(tf, g, FULL))


INTERP_NAMES = {'nearest': ('FinalNearestNeighborInterpolator', 0), 'linear': ('FinalLinearInterpolator', 1),
                'cubic': (None, 3)}


def fam_write(case, rng):
    nd = int(rng.choice([2, 3]))
    M = rand_ras_matrix(rng, nd)
    typed = None if model_only or rng.random() < 0.5 else str(rng.choice(sorted(TYPED_KINDS)))
    if typed:  # --type: the kind elastix writes for that registration, about FIXED's centre
        M = rand_typed_matrix(rng, nd, typed)
        case.note('--type ' + typed)
    with open(case.p('m.txt'), 'w') as f:
        for r in range(4):
            f.write(' '.join('%.17g' % x for x in M[r]) + '\n')
    rg, A = rand_ref_nifti(rng, case, nd, rng.uniform(-40, 40, nd), zorigin=rng.uniform(-20, 20))
    os.rename(case.p('ref.nii'), case.p('fixed.nii'))
    interp = str(rng.choice(['', 'nearest', 'linear', 'cubic']))
    case.note('--interp ' + (interp or '(none)'))
    tp = case.p('written.txt')
    if model_only:
        py_elastix_write(M, case.p('fixed.nii'), nd, tp)
    else:
        case.mv('elastix-write', case.p('m.txt'), case.p('fixed.nii'), tp, *(['--interp', interp] if interp else []),
                *(['--type', typed] if typed else []))
    ent = read_tp(tp)
    kind = (ent.get('Transform') or ['(none)'])[0]
    if kind != (TYPED_KINDS[typed] if typed else 'AffineTransform'):
        raise Failure('%s: (Transform "%s") for --type %s' % (tp, kind, typed or '(none)'))
    if typed:  # the parameters through the model's ITK parameterisation: the matrix S M S in LPS
        tf = {'kind': kind, 'nd': nd, 'params': np.array([float(v) for v in ent['TransformParameters']]),
              'center': np.array([float(v) for v in ent.get('CenterOfRotationPoint', ['0'] * nd)]),
              'zyx': (ent.get('ComputeZYX') or ['false'])[0] == 'true'}
        Am, tm, cm = linear_matrix(tf)
        L = S4 @ M @ S4
        e = max(np.max(np.abs(Am - L[:nd, :nd])), np.max(np.abs(Am @ (-cm) + cm + tm - L[:nd, 3])) / 30)
        if not e <= 1e-12:
            raise Failure('%s: the model reads its parameters as a map %.3g from the matrix' % (tp, e))
        if kind == 'SimilarityTransform':  # Debian's transformix lacks it (TX_MISSING): the model's check alone
            case.note('SimilarityTransform checked by the model (transformix lacks it)')
            return 0.0
    if interp and not model_only:
        # the interpolator asked for, by its own name or as the B-spline interpolator of that order
        name, order = INTERP_NAMES[interp]
        got = (ent.get('ResampleInterpolator') or ['(none)'])[0]
        got_order = int(float((ent.get('FinalBSplineInterpolationOrder') or ['3'])[0]))
        if not (got == name or (got == 'FinalBSplineInterpolator' and got_order == order)):
            raise Failure('%s: (ResampleInterpolator "%s") order %d for --interp %s, expected "%s" or '
                          '"FinalBSplineInterpolator" of order %d' % (tp, got, got_order, interp, name, order))
    if (ent.get('FixedImageDimension') or [None])[0] != str(nd):
        raise Failure('%s: FixedImageDimension %s for a %dD FIXED' % (tp, ent.get('FixedImageDimension'), nd))
    with open(tp) as f:
        text = f.read()
    later = None
    try:
        tx_path = case.transformix(tp, case.p('tx'))
    except Failure as e:
        missing = [m for m in TX_MISSING if 'could not be created: %s' % m in str(e)]
        if not missing:
            raise
        # the file as written is refused: a failure, reported after the
        # other checks have run on a copy that transformix reads
        later = ('transformix refuses mvtool\'s %s: "The following component could not be created: %s" '
                 '(Debian\'s elastix 5.0.1 is built without it); (ResampleInterpolator "FinalBSplineInterpolator") '
                 'with (FinalBSplineInterpolationOrder 1) is linear, 0 nearest, in every build' % (tp, missing[0]))
        case.note('written files transformix refuses (%s)' % missing[0])
        tx_path = case.transformix(write_text(case.p('written.tx.txt'), tx_interp_text(text)), case.p('tx2'))
    img, a = load_field(tx_path)
    shape = tuple(rg['size']) + (1,) * (3 - nd) + (1, nd)
    if a.shape != shape:
        raise Failure('transformix on %s: field shape %s, expected %s (FIXED\'s grid)' % (tp, a.shape, shape))
    ea = np.abs(img.affine - A)
    if nd == 2:
        ea = ea[np.ix_([0, 1], [0, 1, 3])]  # a 2D file has no z
    if np.max(ea) > 1e-5:
        raise Failure('transformix on %s: field affine\n%s\nFIXED\'s\n%s' % (tp, img.affine, A))
    tx = field_vectors(a, nd)
    # numpy: p_RAS of each fixed voxel, d_LPS = S (M p - p)
    X, Y, Z = rg['size'] + [1] * (3 - nd)
    k_, j_, i_ = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
    v = np.stack([i_.ravel(), j_.ravel(), k_.ravel(), np.ones(i_.size)])
    p = A @ v
    d = (S4 @ (M @ p - p))[:nd]
    w = compare(case, 'transformix on %s vs the matrix' % tp, tx, d)
    case.peak('transformix vs the matrix', w)
    if model_only:
        return w
    r = mv_field(case, tp, case.p('mv_field.nii'), (), rg, nd, tx, img, None, 'elastix-field of the written file')
    if later:
        raise Failure(later)
    return max(w, r)


def rand_moving(case, rng, nd, sizes, wave):
    """MOVING: a smooth random image (four plane waves of frequencies
    N(0, wave) per voxel) on a random oblique grid of sizes[0] ..
    sizes[1] - 1 voxels per axis, written as moving.nii: (dims, spacings,
    centre, the saved image)"""
    cm = np.zeros(3)
    cm[:nd] = rng.uniform(-30, 30, nd)
    dims, sp, L, o = oblique_grid(rng, nd, sizes, (0.7, 2.5), cm[:nd])
    Al = np.eye(4)
    Al[:3, :3], Al[:3, 3] = L, o
    X, Y, Z = dims
    k_, j_, i_ = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
    img = np.zeros((Z, Y, X))
    for _ in range(4):
        w = rng.normal(0, wave, 3)
        img += rng.normal() * np.sin(w[0] * i_ + w[1] * j_ + w[2] * k_ * (nd == 3) + rng.uniform(0, 6.3))
    img = (img * 100 + 50).transpose(2, 1, 0)
    if nd == 2:
        img = img[:, :, 0]
    return dims, sp, cm, save_nifti(case.p('moving.nii'), img, S4 @ Al)


def fam_warp(case, rng):
    import nibabel as nib
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    dims, sp, cm, mimg = rand_moving(case, rng, nd, (8, 15), 0.5)
    Am = S4 @ mimg.header.get_sform()  # LPS affine of the file
    data = np.asarray(mimg.dataobj, np.float64)
    rangev = float(data.max() - data.min())
    # the fixed grid and the transform: fixed points land mostly inside MOVING
    ext = float(np.min(sp[:nd] * (np.array(dims[:nd]) - 1)))  # MOVING's shortest extent (mm)
    size = rng.integers(6, 13, nd)
    gsp = ext * rng.uniform(0.4, 0.7, nd) / (size - 1)
    D = rand_direction(rng, nd)
    go = cm[:nd] + rng.uniform(-1, 1, nd) - D @ (gsp * (size - 1) / 2.0)
    g = make_grid(nd, size, [0] * nd, fmt.qg(gsp), fmt.qg(go), fmt.qg(D))
    tf = rand_linear(rng, nd, fmt, cm[:nd])
    tsl = slice(3, 6) if (tf['kind'], nd) == ('SimilarityTransform', 3) else slice(-nd, None)
    tf['params'][tsl] = fmt.qp(rng.uniform(-3, 3, nd))  # small: the fixed points land in MOVING
    case.note(tf['kind'] + ' %dD' % nd)
    tp, tp_tx = write_pair(case, 'tp', tf, g, fmt, interp='FinalLinearInterpolator')
    fg = case.p('fixedgrid.nii')
    save_nifti(fg, np.zeros(tuple(g['size'])), grid_affine(g))
    res = case.transformix(tp_tx, case.p('tx'), moving=case.p('moving.nii'))
    rimg = nib.load(res)
    ra = np.asarray(rimg.dataobj, np.float64)
    Q, _ = eval_one(tf, grid_points(g))
    Q3 = np.zeros((3, Q.shape[1]))
    Q3[:nd] = Q
    c = np.linalg.solve(Am[:3, :3], Q3 - Am[:3, 3:4])
    n = np.array(dims, np.float64)[:, None]
    inner = np.all((c[:nd] >= 1) & (c[:nd] <= n[:nd] - 2), axis=0)
    # the model: trilinear (bilinear) interpolation of MOVING at c
    d3 = data.reshape(dims)
    c0 = np.floor(c[:nd]).astype(int)
    f = c[:nd] - c0
    val = np.zeros(c.shape[1])
    for off in np.ndindex(*([2] * nd)):
        idx = [np.clip(c0[a] + off[a], 0, dims[a] - 1) for a in range(nd)] + [np.zeros(c.shape[1], int)] * (3 - nd)
        wgt = np.prod([f[a] if off[a] else 1 - f[a] for a in range(nd)], axis=0)
        val += wgt * d3[tuple(idx)]
    case.note('voxels compared', int(inner.sum()))
    case.note('voxels near or beyond MOVING\'s edge', int((~inner).sum()))
    txv = ra.reshape(-1, order='F')
    if txv.size != Q.shape[1]:
        raise Failure('transformix result %s: shape %s for a grid of %s' % (res, ra.shape, g['size']))
    tol = 1e-4 * rangev
    e = np.abs(txv - val)[inner]
    wm = float(np.max(e) / tol) if e.size else 0.0
    case.peak('model vs transformix', wm)
    if wm > 1:
        raise Failure('harness: transformix vs the trilinear model %.3g x the tolerance' % wm)
    if model_only:
        return wm
    out = case.p('mv_warp.nii')
    case.mv('warp', case.p('moving.nii'), fg, out, '--elastix', tp, '--interp', 'linear')
    oimg = nib.load(out)
    oa = np.asarray(oimg.dataobj, np.float64)
    if oa.size != txv.size or oa.shape[:nd] != tuple(g['size']):
        raise Failure('mvtool warp: shape %s, expected %s' % (oa.shape, tuple(g['size'])))
    if np.max(np.abs(oimg.affine - grid_affine(g))) > 1e-5:
        raise Failure('mvtool warp: affine\n%s\nexpected FIXEDGRID\'s\n%s' % (oimg.affine, grid_affine(g)))
    mv = oa.reshape(-1, order='F')
    e = np.abs(mv - txv)[inner]
    w = float(np.max(e) / tol) if e.size else 0.0
    if not np.isfinite(w) or w > 1:
        i = np.flatnonzero(inner)[int(np.argmax(np.where(np.isfinite(e), e, np.inf)))]
        raise Failure('mvtool warp vs transformix: %d of %d compared voxels beyond 1e-4 x range %.4g; worst voxel %d '
                      '(x fastest): %r vs %r' % (int(np.sum(e > tol)), int(inner.sum()), rangev, i, mv[i], txv[i]))
    return w


def fam_transformix(case, rng):
    """mvtool transformix against transformix: result.nii and deformationField.nii"""
    import nibabel as nib
    if model_only:
        return 0.0
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    dims, sp, cm, mimg = rand_moving(case, rng, nd, (7, 14), 0.6)
    data = np.asarray(mimg.dataobj, np.float64)
    rangev = float(data.max() - data.min())
    # a fixed grid about MOVING's size, so that edges and the outside are sampled
    ext = float(np.min(sp[:nd] * (np.array(dims[:nd]) - 1)))
    size = rng.integers(6, 13, nd)
    gsp = ext * rng.uniform(0.8, 1.3, nd) / (size - 1)
    D = rand_direction(rng, nd)
    go = cm[:nd] + rng.uniform(-2, 2, nd) - D @ (gsp * (size - 1) / 2.0)
    g = make_grid(nd, size, [0] * nd, fmt.qg(gsp), fmt.qg(go), fmt.qg(D))
    tf = rand_any(rng, nd, fmt, g, p_bspline=0.4)
    if tf['kind'] in LINEAR:
        tsl = slice(3, 6) if (tf['kind'], nd) == ('SimilarityTransform', 3) else slice(-nd, None)
        tf['params'][tsl] = fmt.qp(rng.uniform(-3, 3, nd))
    order = int(rng.choice([0, 1, 3]))
    fill = float(np.round(rng.uniform(-50, 50), 2))
    pixel = 'short' if rng.random() < 0.3 else 'float'
    case.note('%s, order %d, %s' % (tf['kind'], order, pixel))
    extra = ['(DefaultPixelValue %.2f)' % fill, '(ResultImagePixelType "%s")' % pixel]
    # a third of the cases in elastix's default format, MetaImage (.mhd + .raw),
    # both sides' files read by SimpleITK (SitkAsNib)
    ext = 'mhd' if rng.random() < 1 / 3 and have_sitk() else 'nii'
    zlib = ext == 'mhd' and rng.random() < 0.5  # CompressResultImage "true": NAME.zraw on both sides
    if ext == 'mhd':
        case.note('ResultImageFormat mhd' + (', CompressResultImage true' if zlib else ''))
    tp, tp_tx = write_pair(case, 'tp', tf, g, fmt, order=order)
    for path in {tp, tp_tx}:  # DefaultPixelValue, the pixel type and the format: replaced in both
        with open(path) as f:
            text = f.read()
        text = text.replace('(DefaultPixelValue 0.000000)', extra[0]).replace('(ResultImagePixelType "float")', extra[1])
        text = text.replace('(ResultImageFormat "nii")', '(ResultImageFormat "%s")' % ext)
        if zlib:
            text = text.replace('(CompressResultImage "false")', '(CompressResultImage "true")')
        write_text(path, text)
    tdir, mdir = case.p('tx'), case.p('mv')
    os.makedirs(tdir)
    os.makedirs(mdir)
    r = case.run([TRANSFORMIX, '-in', case.p('moving.nii'), '-def', 'all', '-jac', 'all', '-jacmat', 'all', '-tp', tp_tx,
                  '-out', tdir])
    if r.returncode < 0:
        case.note('transformix crashes (rerun)')
        r = case.run([TRANSFORMIX, '-in', case.p('moving.nii'), '-def', 'all', '-jac', 'all', '-jacmat', 'all', '-tp', tp_tx,
                  '-out', tdir])
    if r.returncode != 0 or not os.path.exists(os.path.join(tdir, 'result.' + ext)):
        raise Failure('transformix -in -def all on %s: exit %d' % (tp_tx, r.returncode))
    case.mv('transformix', '-tp', tp, '-out', mdir, '-in', case.p('moving.nii'), '-def', 'all', '-jac', 'all', '-jacmat', 'all')
    jdir = tdir
    if tf['kind'] == 'RecursiveBSplineTransform':
        # transformix 5.0.1's RecursiveBSplineTransform gets the spatial
        # Jacobian wrong for an oblique GridDirection (up to 0.55 off its own
        # BSplineTransform of the same grid and coefficients, whose field and
        # result it matches): the Jacobian is compared with that twin's
        jdir = case.p('txb')
        with open(tp_tx) as f:
            twin = write_text(case.p('tp_twin.txt'), f.read().replace('"RecursiveBSplineTransform"', '"BSplineTransform"'))
        os.makedirs(jdir)
        r = case.run([TRANSFORMIX, '-jac', 'all', '-jacmat', 'all', '-tp', twin, '-out', jdir])
        if r.returncode < 0:  # transformix 5.0.1's occasional crash after a complete run, as above
            case.note('transformix crashes (rerun)')
            r = case.run([TRANSFORMIX, '-jac', 'all', '-jacmat', 'all', '-tp', twin, '-out', jdir])
        if r.returncode != 0:
            raise Failure('transformix -jac all on the BSplineTransform twin %s: exit %d' % (twin, r.returncode))
        case.note('RecursiveBSplineTransform Jacobians compared with the BSplineTransform twin')
    worst = 0.0
    load = nib.load if ext == 'nii' else SitkAsNib
    for name, tol in (('result.' + ext, 1.0 if pixel == 'short' else 1e-4 * rangev), ('deformationField.' + ext, None),
                      ('spatialJacobian.' + ext, 1e-5), ('fullSpatialJacobian.' + ext, 1e-5)):
        a = load(os.path.join(jdir if 'patialJacobian' in name else tdir, name))
        b = load(os.path.join(mdir, name))
        if ext == 'mhd':  # the result compressed as the file asks (transformix: the result only), on both sides
            for d in (jdir if 'patialJacobian' in name else tdir, mdir):
                with open(os.path.join(d, name)) as f:
                    if ('CompressedData = True' in f.read()) != (zlib and name.startswith('result.')):
                        raise Failure('%s/%s: CompressedData is not %s' % (d, name, zlib and name.startswith('result.')))
        x, y = np.asarray(a.dataobj, np.float64), np.asarray(b.dataobj, np.float64)
        if x.shape != y.shape or a.get_data_dtype() != b.get_data_dtype():
            raise Failure('mvtool transformix %s: shape %s %s, transformix %s %s'
                          % (name, y.shape, b.get_data_dtype(), x.shape, a.get_data_dtype()))
        if np.max(np.abs(a.affine - b.affine)) > 1e-5:
            raise Failure('mvtool transformix %s: affine\n%s\ntransformix\'s\n%s' % (name, b.affine, a.affine))
        if tol is None:
            worst = max(worst, compare(case, 'mvtool transformix deformationField vs transformix',
                                       field_vectors(y, nd), field_vectors(x, nd)))
            continue
        e = np.abs(x - y)
        wv = float(np.max(e) / tol)
        if not wv <= 1:
            i = int(np.argmax(e))
            raise Failure('mvtool transformix %s vs transformix: %d of %d voxels beyond %.4g; worst voxel %d (C order) '
                          '%r vs transformix %r' % (name, int(np.sum(e > tol)), e.size, tol, i, y.ravel()[i], x.ravel()[i]))
        if name.startswith('result.'):
            case.note('voxels that got DefaultPixelValue', int(np.sum(x == (int(fill) if pixel == 'short' else np.float32(fill)))))
        worst = max(worst, wv)
    return worst


POINT_FIELDS = ['InputIndex', 'InputPoint', 'OutputIndexFixed', 'OutputPoint', 'Deformation', 'OutputIndexMoving']


def read_outputpoints(path):
    """transformix's outputpoints.txt: a list of {field: [strings]} with the
    line's field names in order (key 'order')"""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            parts = line.split('\t; ')
            head = parts[0].split('\t')
            if head[0] != 'Point':
                raise Failure('%s: a line that does not start with Point: %r' % (path, line[:120]))
            row = {'Point': head[1], 'order': []}
            for p in parts[1:]:
                m = re.match(r'^(\w+) = \[ (.*)\]$', p)
                if not m:
                    raise Failure('%s: a field that is not NAME = [ ... ]: %r' % (path, p[:120]))
                row[m.group(1)] = m.group(2).split()
                row['order'].append(m.group(1))
            rows.append(row)
    return rows


def write_points_file(case, rng, nd, g):
    """a transformix input point file of 1-40 points: (path, kind, LPS points
    (nd, N) transformix should read, their fixed-grid indices or None)"""
    n = int(rng.integers(1, 41))
    kind = str(rng.choice(['point', 'index', 'bare']))
    size = np.array(g['size'], np.float64)
    if kind == 'point':
        ci = rng.uniform(-3, size + 2, (n, nd)).T + np.array(g['index'])[:, None]
        far = rng.random(n) < 0.1  # some well off the grid
        ci[:, far] *= 8
        P = g['origin'][:, None] + (g['D'] * g['spacing']) @ ci
        form = str(rng.choice(['%.3f', '%.17g', '%.6f']))
        vals = P
        idx = None
    else:
        ci = rng.integers(-3, size.astype(int) + 3, (n, nd)).T.astype(np.float64) + np.array(g['index'])[:, None]
        # some not integers: rounded half up by both (ties included)
        frac = rng.choice([0.0, 0.0, 0.3, 0.5, -0.5, 0.7], (nd, n))
        vals = ci + frac
        idx = np.floor(vals + 0.5)
        P = g['origin'][:, None] + (g['D'] * g['spacing']) @ idx
        form = '%.1f' if np.any(frac) else '%d'
        vals = np.round(vals, 1)
    sep = str(rng.choice(['\n', ' ', '\n\n']))
    lines = [] if kind == 'bare' else [kind]
    lines.append(str(n))
    for j in range(n):
        lines.append(' '.join((form % v) if form != '%d' else '%d' % int(v) for v in vals[:, j]))
    path = write_text(case.p('points.txt'), sep.join(lines) + '\n')
    if kind == 'point':  # what the file holds
        P = np.array([[float(form % v) for v in vals[a]] for a in range(nd)])
    case.note('%s files' % kind)
    return path, kind, P, idx


def fam_points(case, rng):
    """mvtool transformix -def POINTS against transformix: outputpoints.txt,
    field by field (indices exactly, numbers to their 6 printed decimals)"""
    import nibabel as nib
    if model_only:
        return 0.0
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    moving = rng.random() < 0.5
    cm = None
    if moving:
        dims, sp, cm, mimg = rand_moving(case, rng, nd, (5, 10), 0.5)
        cm = cm[:nd]
    g = rand_grid(rng, nd, fmt, center=cm, index_p=0.5)
    n = 1 if rng.random() < 0.7 else 2
    files = []
    for i in range(n):
        gi = g if i == n - 1 else rand_grid(rng, nd, fmt, center=grid_center(g) + rng.uniform(-5, 5, nd))
        files.append({'tf': rand_any(rng, nd, fmt, g, 0.5), 'grid': gi, 'combine': str(rng.choice(['Compose', 'Add']))})
    tp, tp_tx = write_chain(case, files, fmt)
    case.note('chains of %d' % n)
    pts, kind, P, idx = write_points_file(case, rng, nd, g)
    tdir, mdir = case.p('tx'), case.p('mv')
    os.makedirs(tdir)
    os.makedirs(mdir)
    extra = ['-in', case.p('moving.nii')] if moving else []
    cmd = [TRANSFORMIX, '-def', pts, '-tp', tp_tx, '-out', tdir] + extra
    r = case.run(cmd)
    if r.returncode < 0:
        case.note('transformix crashes (rerun)')
        r = case.run(cmd)
    if r.returncode != 0 or not os.path.exists(os.path.join(tdir, 'outputpoints.txt')):
        raise Failure('transformix -def %s: exit %d, no outputpoints.txt' % (pts, r.returncode))
    case.mv('transformix', '-def', pts, '-tp', tp, '-out', mdir, *extra)
    tx, mv = read_outputpoints(os.path.join(tdir, 'outputpoints.txt')), read_outputpoints(os.path.join(mdir, 'outputpoints.txt'))
    if len(tx) != P.shape[1] or len(mv) != len(tx):
        raise Failure('outputpoints.txt: %d lines from mvtool, %d from transformix, %d points' % (len(mv), len(tx), P.shape[1]))
    # the model: transformix's input points, and its output points through the chain
    Q, edge = eval_chain(files, P)
    M = g['D'] * g['spacing']
    Minv = np.linalg.inv(M)
    worst = 0.0
    for j, (a, b) in enumerate(zip(mv, tx)):
        if a['order'] != b['order'] or a['Point'] != b['Point']:
            raise Failure('point %d: mvtool writes %s %s, transformix %s %s' % (j, a['Point'], a['order'], b['Point'], b['order']))
        tin = np.array([float(x) for x in b['InputPoint']])
        tout = np.array([float(x) for x in b['OutputPoint']])
        if not np.all(np.abs(tin - P[:, j]) <= 2e-6 + 1e-12 * np.abs(P[:, j])):
            raise Failure('harness: point %d: transformix\'s InputPoint %s, the model %s' % (j, tin, P[:, j]))
        if edge[j] > EDGE and not np.all(np.abs(tout - Q[:, j]) <= ATOL + RTOL * np.abs(Q[:, j])):
            raise Failure('harness: point %d: transformix\'s OutputPoint %s, the model %s' % (j, tout, Q[:, j]))
        if edge[j] <= EDGE:
            case.note('points at a valid region\'s edge (not compared)')
            continue
        for name in b['order']:
            x, y = a[name], b[name]
            if len(x) != nd or len(y) != nd:
                raise Failure('point %d %s: %s from mvtool, %s from transformix' % (j, name, x, y))
            if 'Index' in name:
                if x == y:
                    continue
                # allowed only at a tie: the model's continuous index within 1e-5 of a half
                if name == 'OutputIndexMoving':
                    Am = S4 @ nib.load(case.p('moving.nii')).affine
                    c = np.linalg.inv(Am[:nd, :nd]) @ (Q[:, j] - Am[:nd, 3])
                else:
                    c = Minv @ ((P[:, j] if name == 'InputIndex' else Q[:, j]) - g['origin'])
                tie = np.abs(np.abs(c - np.floor(c)) - 0.5) < 1e-5
                if np.all((np.array(x, int) == np.array(y, int)) | tie) and np.all(np.abs(np.array(x, int) - np.array(y, int)) <= 1):
                    case.note('index ties at a half')
                    continue
                raise Failure('point %d (%s file) %s: mvtool %s, transformix %s (continuous %s)' % (j, kind, name, x, y, c))
            fx, fy = np.array([float(v) for v in x]), np.array([float(v) for v in y])
            # 6 printed decimals; Deformation is a float32 in both
            tol = 1.01e-6 + (2.0 ** -23 if name == 'Deformation' else 1e-12) * np.abs(fy)
            wv = float(np.max(np.abs(fx - fy) / tol))
            if not wv <= 1:
                raise Failure('point %d (%s file) %s: mvtool %s, transformix %s' % (j, kind, name, x, y))
            worst = max(worst, wv)
    case.note('points compared', len(tx))
    if moving:
        case.note('with -in (OutputIndexMoving)')
    return max(worst, vtk_points(case, rng, nd, files, tp, tp_tx, P))


def fam_defield(case, rng):
    """elastix's DeformationFieldTransform (a field image named by
    DeformationFieldFileName, DeformationFieldInterpolationOrder 0 nearest
    or 1 linear, UseDirectionCosines true or false), alone or after a
    linear initial transform (Compose or Add): mvtool transformix -def
    POINTS and -def all against transformix. The field: NIfTI vectors
    (nibabel) on a grid of 1-6 points per axis, a lattice (signed
    permutation directions, dyadic spacings and origin: every index exact)
    or any; points around it, on lattice grids also on the buffer's bounds
    (index -0.5 in, size - 0.5 out) and on half-integers (nearest's ties).
    Lattice fields are compared to transformix's 6 printed decimals; other
    grids within 1e-5 mm: ITK's NIfTI reader takes the spacing from pixdim,
    medvol (as nibabel) the sform's columns, float32 numbers that differ in
    their last bits (2e-6 mm seen)."""
    import nibabel as nib
    if model_only:
        return 0.0
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    lattice = bool(rng.random() < 0.5)
    size = rng.integers(2, 7, nd)  # (ITK's NIfTI reader drops a trailing axis of one point: a singular direction)
    if lattice:
        D = np.zeros((nd, nd))
        D[np.arange(nd), rng.permutation(nd)] = rng.choice([-1.0, 1.0], nd)
        sp = rng.choice([0.5, 1.0, 2.0], nd)
        org = np.round(rng.uniform(-20, 20, nd) * 4) / 4
    else:
        D, sp, org = rand_direction(rng, nd), rng.uniform(0.5, 3.0, nd), rng.uniform(-20, 20, nd)
    order = int(rng.integers(0, 2))
    unit_dir = bool(rng.random() < 0.25)
    X, Y, Z = [int(size[a]) if a < nd else 1 for a in range(3)]
    d = rng.normal(0, float(rng.uniform(0.5, 5)), (X, Y, Z, 1, nd)).astype(np.float32)
    save_field_nifti(case.p('field.nii'), d, nd, D, sp, org)
    Dg = np.eye(nd) if unit_dir else D  # the grid elastix uses
    g = make_grid(nd, size, np.zeros(nd, int), sp, org, Dg)
    prev = ('NoInitialTransform', 'NoInitialTransform')
    combine = 'Compose'
    if rng.random() < 0.4:  # (transformix's own equivalent where Debian's lacks the kind: write_pair)
        prev = write_pair(case, 'tp0', rand_linear(rng, nd, fmt, org), g, fmt)
        combine = str(rng.choice(['Compose', 'Add']))
        case.note('after a linear transform (%s)' % combine)
    tps = []
    for name, init in (('tp', prev[0]), ('tp.tx', prev[1])):
        text = tp_text({'kind': 'DeformationFieldTransform', 'params': []}, g, fmt, init=init, combine=combine,
                       count=0, extra=['(DeformationFieldFileName "field.nii")',
                                       '(DeformationFieldInterpolationOrder %d)' % order])
        text = re.sub(r'\(TransformParameters *\)\n', '', text)  # elastix's parser takes no empty entry
        if unit_dir:
            text = text.replace('(UseDirectionCosines "true")', '(UseDirectionCosines "false")')
        tps.append(write_text(case.p(name + '.txt'), text))
    tp, tp_tx = tps
    for what in ('%dD' % nd, 'order %d' % order, 'lattice' if lattice else 'any geometry',
                 'UseDirectionCosines false' if unit_dir else 'direction cosines'):
        case.note(what)
    # points: continuous indices of the field's grid (the grid elastix uses)
    cs = [rng.uniform(-1.5, size + 0.5) for _ in range(30)]
    if lattice and prev[0] == 'NoInitialTransform':
        for _ in range(20):
            c = np.floor(rng.uniform(-0.5, size - 0.5) * 2) / 2  # half-integers: nearest's ties
            a = int(rng.integers(0, nd))
            if rng.random() < 0.5:
                c[a] = float(rng.choice([-0.5, size[a] - 0.5]))
            cs.append(c)
        case.note('bounds and ties')
    P = np.array([org + (Dg * sp) @ c for c in cs]).T
    pts = write_text(case.p('points.txt'), 'point\n%d\n' % P.shape[1] +
                     ''.join(' '.join('%.17g' % v for v in P[:, j]) + '\n' for j in range(P.shape[1])))
    tdir, mdir = case.p('tx'), case.p('mv')
    os.makedirs(tdir)
    os.makedirs(mdir)
    r = case.run([TRANSFORMIX, '-def', pts, '-tp', tp_tx, '-out', tdir])
    if r.returncode < 0:
        case.note('transformix crashes (rerun)')
        r = case.run([TRANSFORMIX, '-def', pts, '-tp', tp_tx, '-out', tdir])
    if r.returncode != 0 or not os.path.exists(os.path.join(tdir, 'outputpoints.txt')):
        raise Failure('transformix -def %s: exit %d, no outputpoints.txt' % (pts, r.returncode))
    case.mv('transformix', '-def', pts, '-tp', tp, '-out', mdir)
    tx, mv = read_outputpoints(os.path.join(tdir, 'outputpoints.txt')), read_outputpoints(os.path.join(mdir, 'outputpoints.txt'))
    if len(tx) != P.shape[1] or len(mv) != len(tx):
        raise Failure('outputpoints.txt: %d lines from mvtool, %d from transformix' % (len(mv), len(tx)))
    worst, moved = 0.0, 0
    for j, (a, b) in enumerate(zip(mv, tx)):
        for name in ('OutputPoint', 'Deformation'):
            fx, fy = np.array([float(v) for v in a[name]]), np.array([float(v) for v in b[name]])
            tol = (1.01e-6 if lattice else 1e-5) + (2.0 ** -23 if name == 'Deformation' else 1e-12) * np.abs(fy)
            wv = float(np.max(np.abs(fx - fy) / tol))
            if not wv <= 1:
                raise Failure('point %d %s (continuous index %s): mvtool %s, transformix %s' % (j, name, cs[j], a[name], b[name]))
            worst = max(worst, wv)
        moved += any(float(v) != 0 for v in b['Deformation'])
    case.note('points moved', moved)
    # the whole field on the fixed grid
    ref = case.transformix(tp_tx, case.p('txall'))
    os.makedirs(case.p('mvall'))
    case.mv('transformix', '-def', 'all', '-tp', tp, '-out', case.p('mvall'))
    fa = np.asarray(nib.load(os.path.join(case.p('mvall'), 'deformationField.nii')).dataobj, np.float64)
    fb = np.asarray(nib.load(ref).dataobj, np.float64)
    err = float(np.abs(fa.reshape(-1) - fb.reshape(-1)).max()) if fa.size == fb.size else np.inf
    tol = 1e-5 * max(1.0, float(np.abs(fb).max()))
    if not err <= tol:
        raise Failure('deformationField.nii: mvtool %s, transformix %s, largest difference %.3g' % (fa.shape, fb.shape, err))
    return max(worst, err / tol)


def sitk_points(path, P):
    """SimpleITK's TransformPoint of the ITK transform file at path on each
    LPS point (the columns of P)"""
    import SimpleITK as sitk
    tr = sitk.ReadTransform(path)
    return np.array([tr.TransformPoint([float(v) for v in P[:, j]]) for j in range(P.shape[1])]).T


def save_field_nifti(path, d, nd, D, sp, org):
    """vectors d (X, Y, Z, 1, nd) as a NIfTI displacement field (nibabel,
    intent vector) on the LPS grid of direction D, spacing sp and origin
    org: an sform alone, the one float32 matrix both readers take"""
    import nibabel as nib
    A = np.eye(4)
    A[:nd, :nd], A[:nd, 3] = D * sp, org
    img = nib.Nifti1Image(d, S4 @ A)
    img.header.set_intent('vector')
    img.set_sform(S4 @ A, 1)
    img.set_qform(S4 @ A, 0)
    nib.save(img, path)


def lattice_field(case, rng, nd, center):
    """a random NIfTI displacement field on a lattice grid (signed
    permutation, dyadic spacing and origin) about center, and its elastix
    grid"""
    size = rng.integers(2, 7, nd)
    D = np.zeros((nd, nd))
    D[np.arange(nd), rng.permutation(nd)] = rng.choice([-1.0, 1.0], nd)
    sp = rng.choice([2.0, 4.0, 8.0], nd)
    org = np.round((center - D @ (sp * (size - 1) / 2.0) + rng.uniform(-4, 4, nd)) * 4) / 4
    X, Y, Z = [int(size[a]) if a < nd else 1 for a in range(3)]
    d = rng.normal(0, float(rng.uniform(0.5, 3)), (X, Y, Z, 1, nd)).astype(np.float32)
    save_field_nifti(case.p('field.nii'), d, nd, D, sp, org)
    return make_grid(nd, size, np.zeros(nd, int), sp, org, D)


def fam_to_itk(case, rng):
    if sitk_skipped(case):
        return 0.0
    nd = int(rng.choice([2, 3]))
    fmt = Fmt(rng)
    n = int(rng.integers(1, 5))
    g = rand_grid(rng, nd, fmt)
    field = bool(rng.random() < 0.25)
    files = []
    for i in range(n):
        gi = g if i == n - 1 else rand_grid(rng, nd, fmt, center=grid_center(g) + rng.uniform(-5, 5, nd))
        files.append({'tf': rand_any(rng, nd, fmt, g, 0.45), 'grid': gi,
                      'combine': str(rng.choice(['Compose', 'Add'], p=[0.75, 0.25])) if i else 'Compose'})
    if field:
        lattice_field(case, rng, nd, grid_center(g))
        files[0]['tf'] = {'kind': 'DeformationFieldTransform', 'params': []}
        case.note('with a DeformationFieldTransform')
    prev = ('NoInitialTransform', 'NoInitialTransform')
    for i, f in enumerate(files):
        names = []
        for name, tf, init in (('tp%d' % i, f['tf'], prev[0]), ('tp%d.tx' % i, tx_equiv(f['tf']), prev[1])):
            if tf['kind'] == 'DeformationFieldTransform':
                text = tp_text(tf, f['grid'], fmt, init=init, count=0,
                               extra=['(DeformationFieldFileName "%s")' % case.p('field.nii'),
                                      '(DeformationFieldInterpolationOrder 1)'])
                text = re.sub(r'\(TransformParameters *\)\n', '', text)
            else:
                text = tp_text(tf, f['grid'], fmt, init=init, combine=f['combine'])
            names.append(write_text(case.p(name + '.txt'), text))
        prev = tuple(names)
    tp, tp_tx = prev
    kinds = [f['tf']['kind'] for f in files]
    linear = all(k in LINEAR for k in kinds)
    # an Add step is written only between matrices: the file and all before it linear
    refuse = any(f['combine'] == 'Add' and not all(k in LINEAR for k in kinds[:i + 1]) for i, f in enumerate(files))
    ext = str(rng.choice(['.h5', '.h5', '.tfm', '.txt'] + (['.mat'] if linear else [])))
    level = int(rng.integers(0, 10)) if ext == '.h5' else 0
    out = case.p('chain' + ext)
    case.note('%s%s' % (ext, ' level %d' % level if ext == '.h5' else ''))
    case.note('chains of %d' % n)
    r = case.run([case.exe, 'tfm-convert', tp, out, '--level', level])
    if refuse:
        case.note('Add with a B-spline (refused)')
        if r.returncode != 1 or 'Add' not in r.stderr or os.path.exists(out):
            raise Failure('tfm-convert of a chain adding a B-spline: exit %d (1 wanted), stderr %r, file left: %s'
                          % (r.returncode, r.stderr.strip(), os.path.exists(out)))
        return 0.0
    if r.returncode != 0:
        raise Failure('mvtool tfm-convert: exit %d: %s' % (r.returncode, r.stderr.strip()))
    case.note('Add steps', sum(f['combine'] == 'Add' for f in files[1:]))
    # SimpleITK on the fixed grid against transformix's field
    P = grid_points(g)
    Qs = sitk_points(out, P)
    Q, edge = (None, None) if field else eval_chain(files, P)
    w, tx, img, mask = field_case(case, tp_tx, g, nd, Q, edge)
    w = max(w, compare(case, 'SimpleITK of %s vs transformix' % os.path.basename(out), Qs - P, tx, mask))
    # off the grid, against the model
    if not field:
        c = np.array([rng.uniform(-2, s + 1, 40) for s in g['size']]) + np.array(g['index'])[:, None]
        P2 = g['origin'][:, None] + (g['D'] * g['spacing']) @ c
        Q2, e2 = eval_chain(files, P2)
        Q2s = sitk_points(out, P2)
        keep = e2 > EDGE
        err = np.abs(Q2s - Q2)[:, keep] / (1e-7 + 1e-9 * np.abs(Q2[:, keep]))
        if err.size and not np.max(err) <= 1:
            j = int(np.argmax(np.max(err, axis=0)))
            raise Failure('SimpleITK of %s vs the numpy model: point %s gives %s, the model %s'
                          % (os.path.basename(out), P2[:, keep][:, j], Q2s[:, keep][:, j], Q2[:, keep][:, j]))
        case.peak('SimpleITK vs the model (of 1e-7 mm)', float(np.max(err)) if err.size else 0.0)
    # converted back from ITK to ITK: the same points to the bit
    back = case.p('back' + ('.tfm' if ext == '.h5' else '.h5'))
    case.mv('tfm-convert', out, back)
    Qb = sitk_points(back, P)
    if not np.array_equal(Qb, Qs):
        raise Failure('%s -> %s: SimpleITK maps the grid differently (largest difference %.3g mm)'
                      % (os.path.basename(out), os.path.basename(back), float(np.max(np.abs(Qb - Qs)))))
    return w


def sitk_grid_image(g, pixel=None):
    """a SimpleITK image (zeros) on grid g (its Index folded into the origin)"""
    import SimpleITK as sitk
    nd = g['nd']
    img = sitk.Image([int(s) for s in g['size']], pixel if pixel is not None else sitk.sitkFloat32)
    img.SetSpacing([float(s) for s in g['spacing']])
    img.SetOrigin([float(v) for v in g['origin'] + (g['D'] * g['spacing']) @ np.array(g['index'], np.float64)])
    img.SetDirection([float(v) for v in g['D'].ravel()])
    return img


def rand_sitk_member(rng, nd, center):
    """a random SimpleITK transform about center (LPS): (transform, its
    kind, its grid for the edge mask or None, the B-spline order or -1 for a
    field)"""
    import SimpleITK as sitk
    kind = str(rng.choice(['affine', 'euler', 'similarity', 'translation', 'bspline', 'field'],
                          p=[0.2, 0.15, 0.1, 0.1, 0.3, 0.15]))
    c = [float(v) for v in center + rng.uniform(-5, 5, nd)]
    t = [float(v) for v in rng.uniform(-6, 6, nd)]
    if kind == 'affine':
        tr = sitk.AffineTransform(nd)
        tr.SetMatrix([float(v) for v in (rotation(rng, nd) @ np.diag(rng.uniform(0.85, 1.2, nd))
                                         + rng.normal(0, 0.04, (nd, nd))).ravel()])
        tr.SetCenter(c)
        tr.SetTranslation(t)
        return tr, 'AffineTransform', None, 0
    if kind == 'euler':
        tr = sitk.Euler3DTransform() if nd == 3 else sitk.Euler2DTransform()
        tr.SetCenter(c)
        if nd == 3:
            tr.SetRotation(*[float(v) for v in rng.uniform(-0.4, 0.4, 3)])
        else:
            tr.SetAngle(float(rng.uniform(-0.4, 0.4)))
        tr.SetTranslation(t)
        return tr, 'Euler', None, 0
    if kind == 'similarity':
        tr = sitk.Similarity3DTransform() if nd == 3 else sitk.Similarity2DTransform()
        tr.SetCenter(c)
        if nd == 3:
            axis = rng.normal(0, 1, 3)
            tr.SetRotation([float(v) for v in axis / np.linalg.norm(axis)], float(rng.uniform(-0.4, 0.4)))
        else:
            tr.SetAngle(float(rng.uniform(-0.4, 0.4)))
        tr.SetScale(float(rng.uniform(0.85, 1.2)))
        tr.SetTranslation(t)
        return tr, 'Similarity', None, 0
    if kind == 'translation':
        return sitk.TranslationTransform(nd, t), 'TranslationTransform', None, 0
    fmt = FULL
    if kind == 'bspline':
        g = rand_grid(rng, nd, fmt, center=np.array(c), sizes=(6, 14), index_p=0.0)
        order = int(rng.integers(1, 4))
        tr = sitk.BSplineTransformInitializer(sitk_grid_image(g), [int(v) for v in rng.integers(1, 5, nd)], order)
        tr.SetParameters([float(v) for v in rng.normal(0, float(rng.uniform(0.3, 2.0)), len(tr.GetParameters()))])
        fp = tr.GetFixedParameters()
        size = [int(round(v)) for v in fp[:nd]]
        D = np.array(fp[3 * nd:]).reshape(nd, nd)
        grid = make_grid(nd, size, [0] * nd, fp[2 * nd:3 * nd], fp[nd:2 * nd], D)
        return tr, 'BSplineTransform order %d' % order, grid, order
    g = rand_grid(rng, nd, fmt, center=np.array(c), sizes=(3, 9), index_p=0.0)
    img = sitk_grid_image(g, sitk.sitkVectorFloat64)
    a = rng.normal(0, float(rng.uniform(0.3, 2.0)), tuple(g['size'][::-1]) + (nd,))
    f = sitk.GetImageFromArray(a, isVector=True)
    f.CopyInformation(img)
    g = make_grid(nd, g['size'], [0] * nd, g['spacing'], np.array(img.GetOrigin()), g['D'])
    return sitk.DisplacementFieldTransform(f), 'DisplacementFieldTransform', g, -1


def edge_distance(grid, order, X):
    """the distance (grid units) of points X (nd, N) to the edges where a
    member's displacement jumps: a B-spline's valid region (ITK: [(order -
    1) / 2, size - 1 - (order - 1) / 2]) or a field's buffer ([-0.5, size -
    0.5))"""
    c = np.linalg.solve(grid['D'] * grid['spacing'], X - grid['origin'][:, None])
    size = np.array(grid['size'], np.float64)[:, None]
    lo, hi = (-0.5, size - 0.5) if order < 0 else ((order - 1) / 2.0, size - 1 - (order - 1) / 2.0)
    return np.min(np.minimum(np.abs(c - lo), np.abs(c - hi)), axis=0)


def fam_from_itk(case, rng):
    """random SimpleITK chains (.h5 / .tfm) converted by mvtool tfm-convert
    --elastix: transformix's field of the written files against SimpleITK's
    TransformPoint of the ITK file"""
    if sitk_skipped(case):
        return 0.0
    import SimpleITK as sitk
    nd = int(rng.choice([2, 3]))
    g = rand_grid(rng, nd, FULL, index_p=0.0)
    n = int(rng.integers(1, 5))
    members = [rand_sitk_member(rng, nd, grid_center(g)) for _ in range(n)]
    for m in members:
        case.note(m[1])
    ext = str(rng.choice(['.h5', '.tfm']))
    itk = case.p('chain' + ext)
    sitk.WriteTransform(members[0][0] if n == 1 else sitk.CompositeTransform([m[0] for m in members]), itk)
    refext = str(rng.choice(['.nii', '.mha']))
    ref = case.p('fixed' + refext)
    sitk.WriteImage(sitk_grid_image(g), ref)
    interp = str(rng.choice(['nearest', 'linear', 'cubic']))
    tp = case.p('chain_elx.txt')
    case.note('ITK ' + ext)
    case.note('fixed ' + refext)
    case.note('chains of %d' % n)
    if rng.random() < 0.1:  # an ITK file has no fixed grid: --ref is needed
        r = case.run([case.exe, 'tfm-convert', itk, tp, '--elastix'])
        if r.returncode != 1 or 'fixed grid' not in r.stderr or os.path.exists(tp):
            raise Failure('tfm-convert --elastix without --ref: exit %d (1 wanted), stderr %r, file left: %s'
                          % (r.returncode, r.stderr.strip(), os.path.exists(tp)))
        case.note('refused without --ref')
    case.mv('tfm-convert', itk, tp, '--elastix', '--ref', ref, '--interp', interp)
    want = {'nearest': 0, 'linear': 1, 'cubic': 3}[interp]
    if '(FinalBSplineInterpolationOrder %d)' % want not in open(tp).read():
        raise Failure('%s: no (FinalBSplineInterpolationOrder %d) for --interp %s' % (tp, want, interp))
    # the edge mask: each member's input points (the members after it applied), SimpleITK's own
    P = grid_points(g)
    X, keep = P.copy(), np.ones(P.shape[1], bool)
    tol = 1e-4 if refext == '.nii' else 1e-6  # a NIfTI's float32 sform moves the grid by ~1e-7 relative
    for tr, kind, grid, order in members[::-1]:
        if grid is not None:
            keep &= edge_distance(grid, order, X) > tol
        X = np.array([tr.TransformPoint([float(v) for v in X[:, j]]) for j in range(X.shape[1])]).T
    case.note('voxels at an edge (left out)', int((~keep).sum()))
    Qs = sitk_points(itk, P)
    if np.max(np.abs(Qs - X)) > 1e-9 * (1 + np.max(np.abs(X))):
        raise Failure('harness: SimpleITK maps the file differently from its members applied in turn')
    ga = make_grid(nd, g['size'], [0] * nd, g['spacing'], g['origin'], g['D'])
    w, tx, img, _ = field_case(case, tp, ga, nd)
    w = compare(case, 'transformix of the written files vs SimpleITK of %s' % os.path.basename(itk), tx, Qs - P, keep)
    # back to ITK: SimpleITK maps as through the original (fields now float32)
    back = case.p('back.h5')
    case.mv('tfm-convert', tp, back)
    w = max(w, compare(case, 'SimpleITK of %s (back from elastix) vs of %s' % (os.path.basename(back), os.path.basename(itk)),
                       sitk_points(back, P) - P, Qs - P))
    return w


def write_vtk(path, P, binary, ftype, rng):
    """P (3, N) as a legacy VTK PolyData file: a polyline through the
    points (a vertex for one point: ITK refuses a line of one), a triangle
    when there are 3, point scalars; the bytes after the coordinates (the
    cells and data, which mvtool keeps as they are)"""
    n = P.shape[1]
    cell = 'VERTICES' if n == 1 else 'LINES'
    head = '# vtk DataFile Version 3.0\nlandmarks %d\n%s\nDATASET POLYDATA\nPOINTS %d %s\n' % (
        n, 'BINARY' if binary else 'ASCII', n, ftype)
    if binary:
        body = P.T.astype('>f4' if ftype == 'float' else '>f8').tobytes()
        rest = (b'\n%s 1 %d\n' % (cell.encode(), n + 1)) + np.array([n] + list(range(n)), '>i4').tobytes() + b'\n'
        rest += b'POINT_DATA %d\nSCALARS s float 1\nLOOKUP_TABLE default\n' % n
        rest += rng.uniform(0, 9, n).astype('>f4').tobytes() + b'\n'
    else:
        form = '%.9g' if ftype == 'float' else '%.17g'
        body = ''.join(' '.join(form % v for v in P[:, j]) + '\n' for j in range(n)).encode()
        rest = ('%s 1 %d\n%s\n' % (cell, n + 1, ' '.join(str(v) for v in [n] + list(range(n))))).encode()
        if n >= 3:
            rest += b'POLYGONS 1 4\n3 0 1 2\n'
        rest += ('POINT_DATA %d\nSCALARS s double 1\nLOOKUP_TABLE default\n%s\n' % (
            n, ' '.join('%.3f' % v for v in rng.uniform(0, 9, n)))).encode()
    with open(path, 'wb') as f:
        f.write(head.encode() + body + rest)
    return rest


def read_vtk_points(path):
    """a VTK PolyData file's POINTS (3, N) (ASCII or BINARY, float or
    double) and the bytes after the coordinates (ASCII: after the line
    break that ends them)"""
    data = open(path, 'rb').read()
    lines = data.split(b'\n', 3)
    binary = lines[2].strip().upper() == b'BINARY'
    m = re.search(rb'POINTS\s+(\d+)\s+(float|double)[ \t\r]*\n', data)
    if not m:
        raise Failure('%s: no POINTS line' % path)
    n, ftype = int(m.group(1)), m.group(2).decode()
    at = m.end()
    if binary:
        size = 4 if ftype == 'float' else 8
        P = np.frombuffer(data[at:at + 3 * n * size], '>f4' if size == 4 else '>f8').astype(np.float64)
        return P.reshape(n, 3).T, data[at + 3 * n * size:]
    words = re.finditer(rb'\S+', data[at:])
    vals, end = [], at
    for _ in range(3 * n):
        w = next(words)
        vals.append(float(w.group()))
        end = at + w.end()
    rest = data[end:]
    rest = rest[1:] if rest.startswith(b'\n') else rest
    return np.array(vals).reshape(n, 3).T, rest


def vtk_points(case, rng, nd, files, tp, tp_tx, P):
    """mvtool transformix -def mesh.vtk against transformix -def mesh.vtk
    (3D; ITK's 2D mesh reader takes the flat list two at a time, so 2D
    checks mvtool against the model): the same points in outputpoints.vtk
    to 1e-9 mm + 1e-12 of the value (both float64; float files rounded to
    float first), transformix's against the model, mvtool's cells and data
    the input's bytes"""
    binary = bool(rng.random() < 0.5)
    ftype = str(rng.choice(['float', 'double']))
    P3 = np.vstack([P, rng.uniform(-5, 5, (1, P.shape[1]))]) if nd == 2 else P.copy()
    if ftype == 'float':
        P3 = P3.astype(np.float32).astype(np.float64)
    mesh = case.p('mesh.vtk')
    rest = write_vtk(mesh, P3, binary, ftype, rng)
    case.note('vtk %s %s files' % ('binary' if binary else 'ascii', ftype))
    Q, edge = eval_chain(files, P3[:nd])
    mdir = case.p('mv_vtk')
    os.makedirs(mdir)
    case.mv('transformix', '-def', mesh, '-tp', tp, '-out', mdir)
    mine, mrest = read_vtk_points(os.path.join(mdir, 'outputpoints.vtk'))
    if mrest != rest:
        raise Failure('outputpoints.vtk: the bytes after the points are not the input\'s')
    if mine.shape != P3.shape:
        raise Failure('outputpoints.vtk: %s points from mvtool, %s in' % (mine.shape, P3.shape))
    if nd == 2:
        if not np.array_equal(mine[2], P3[2]):
            raise Failure('2D outputpoints.vtk: z %s, the input %s' % (mine[2], P3[2]))
        ok = edge <= EDGE
        ok |= np.all(np.abs(mine[:2] - Q) <= ATOL + RTOL * np.abs(Q), axis=0)
        if not np.all(ok):
            raise Failure('2D outputpoints.vtk: mvtool %s, the model %s' % (mine[:2, ~ok], Q[:, ~ok]))
        case.note('vtk 2D points (against the model)', P3.shape[1])
        return 0.0
    tdir = case.p('tx_vtk')
    os.makedirs(tdir)
    cmd = [TRANSFORMIX, '-def', mesh, '-tp', tp_tx, '-out', tdir]
    r = case.run(cmd)
    if r.returncode < 0:
        case.note('transformix crashes (rerun)')
        r = case.run(cmd)
    if r.returncode != 0 or not os.path.exists(os.path.join(tdir, 'outputpoints.vtk')):
        raise Failure('transformix -def %s: exit %d, no outputpoints.vtk' % (mesh, r.returncode))
    theirs, _ = read_vtk_points(os.path.join(tdir, 'outputpoints.vtk'))
    use = edge > EDGE
    if not np.all(np.abs(theirs[:, use] - Q[:, use]) <= ATOL + RTOL * np.abs(Q[:, use])):
        raise Failure('harness: transformix\'s outputpoints.vtk %s, the model %s' % (theirs[:, use], Q[:, use]))
    tol = 1e-9 + 1e-12 * np.abs(theirs[:, use])
    dev = np.abs(mine[:, use] - theirs[:, use]) / tol
    worst = float(dev.max()) if dev.size else 0.0
    if not worst <= 1:
        j = int(np.argmax(dev.max(axis=0)))
        raise Failure('outputpoints.vtk point %d: mvtool %s, transformix %s' % (j, mine[:, use][:, j], theirs[:, use][:, j]))
    case.note('vtk points compared', int(use.sum()))
    case.peak('vtk points: largest difference (mm)', float(np.abs(mine[:, use] - theirs[:, use]).max()) if use.any() else 0.0)
    return worst


ELASTIX_PARAMS = '''(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(FixedImageDimension 3)
(MovingImageDimension 3)
(UseDirectionCosines "true")
(Registration "MultiResolutionRegistration")
(Interpolator "BSplineInterpolator")
(ResampleInterpolator "FinalBSplineInterpolator")
(Resampler "DefaultResampler")
(FixedImagePyramid "FixedSmoothingImagePyramid")
(MovingImagePyramid "MovingSmoothingImagePyramid")
(Optimizer "AdaptiveStochasticGradientDescent")
(Transform "%s")
(Metric "AdvancedMattesMutualInformation")
(NumberOfHistogramBins 24)
(AutomaticScalesEstimation "true")
(AutomaticTransformInitialization "false")
(HowToCombineTransforms "Compose")
(NumberOfResolutions %d)
(MaximumNumberOfIterations %d)
(ImageSampler "RandomCoordinate")
(NumberOfSpatialSamples 2000)
(NewSamplesEveryIteration "true")
(RandomSeed 121212)
(WriteResultImage "false")
(ResultImageFormat "nii")
%s'''


def fam_elastix(case, rng):
    """a real elastix run (affine, then B-spline from it): its files, transformix vs mvtool"""
    n, sp = 24, 1.5
    L = np.eye(3) * sp
    if case.k % 2 == 1:
        L = rotation(rng, 3) * sp  # an oblique phantom
    c0 = rng.uniform(-10, 10, 3)
    o = c0 - L @ np.full(3, (n - 1) / 2.0)
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = L, o
    A = S4 @ A  # RAS
    k_, j_, i_ = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing='ij')
    P = A[:3, :3] @ np.stack([i_.ravel(), j_.ravel(), k_.ravel()]) + A[:3, 3:4]  # RAS points, x fastest in (z, y, x)
    blobs = [(rng.uniform(-12, 12, 3), rng.uniform(1.5, 4), rng.uniform(0.3, 1.0)) for _ in range(20)]

    def phantom(X):
        v = np.zeros(X.shape[1])
        for c, s, a in blobs:
            v += a * np.exp(-((X - (c0 * np.array([-1, -1, 1]) + c)[:, None]) ** 2).sum(axis=0) / (2 * s * s))
        return v.reshape(n, n, n).transpose(2, 1, 0) * 1000

    Rm = small_rotation(rng, 3, 0.06)
    t = rng.uniform(-2, 2, 3)
    cen = P.mean(axis=1)
    # moving(y) = fixed(x) where y = Rm (x - cen) + cen + t: moving = fixed at the inverse map
    Pinv = Rm.T @ (P - (cen + t)[:, None]) + cen[:, None]
    save_nifti(case.p('fixed.nii'), phantom(P), A)
    save_nifti(case.p('moving.nii'), phantom(Pinv), A)
    write_text(case.p('p_affine.txt'), ELASTIX_PARAMS % ('AffineTransform', 2, 60, ''))
    write_text(case.p('p_bspline.txt'), ELASTIX_PARAMS % ('BSplineTransform', 1, 40,
                                                          '(FinalGridSpacingInPhysicalUnits 16.0)\n'))
    outs = []
    for name, extra in (('affine', []), ('bspline', ['-t0', case.p('out_affine/TransformParameters.0.txt')])):
        od = case.p('out_' + name)
        os.makedirs(od)
        r = case.run([ELASTIX, '-f', case.p('fixed.nii'), '-m', case.p('moving.nii'), '-p', case.p('p_%s.txt' % name),
                      '-out', od, '-threads', '2'] + extra)
        tp = os.path.join(od, 'TransformParameters.0.txt')
        if r.returncode != 0 or not os.path.exists(tp):
            raise Failure('elastix (%s) failed: exit %d' % (name, r.returncode))
        outs.append(tp)
    ent = read_tp(outs[1])
    if ent['InitialTransformParametersFileName'][0] != outs[0]:
        raise Failure('elastix\'s B-spline file names %s as its initial file, expected %s'
                      % (ent['InitialTransformParametersFileName'][0], outs[0]))
    worst = 0.0
    g = grid_of_affine(A, [n] * 3, 3)
    for i, tp in enumerate(outs):
        files = chain_of_file(tp)
        Q, edge = eval_chain(files, grid_points(g))
        wm, tx, img, mask = field_case(case, tp, g, 3, Q, edge, label='e%d' % i)
        case.peak('largest |displacement| (mm)', float(np.max(np.abs(tx))))
        # how well elastix found the known map (information only): the field's
        # distance from S (y - x), y = Rm (x - cen) + cen + t in RAS
        known = (S3 @ (Rm @ (P - cen[:, None]) + (cen + t)[:, None] - P))
        case.peak('mean |elastix %s - known map| (mm)' % ('affine', 'B-spline')[i],
                  float(np.mean(np.sqrt(((tx - known) ** 2).sum(axis=0)))))
        if model_only:
            worst = max(worst, wm)
            continue
        worst = max(worst, mv_field(case, tp, case.p('mv_e%d.nii' % i), (), g, 3, tx, img, mask,
                                    os.path.basename(os.path.dirname(tp))))
        if have_sitk():  # elastix's own files converted to ITK's: SimpleITK's points against transformix's field
            conv = case.p('e%d.h5' % i)
            case.mv('tfm-convert', tp, conv)
            Pg = grid_points(g)
            worst = max(worst, compare(case, 'SimpleITK of tfm-convert of %s' % tp, sitk_points(conv, Pg) - Pg, tx, mask))
            case.note('elastix files converted to ITK .h5')
    case.note('elastix files compared', len(outs))
    return worst


def fam_regwrite(case, rng):
    """medvol's B-spline registration written as elastix files: transformix
    -def all on them vs medvol's own field; case 1 with an init matrix,
    case 2 in the large-image mode (registered on copies shrunk 2x)"""
    import nibabel as nib
    if model_only:
        return 0.0
    mode = case.k % 3  # 0 plain, 1 with an --init-matrix, 2 --levels 4x2 (the large mode)
    n, sp = (36, 0.8) if mode == 2 else (20, 1.3)
    L = np.eye(3) * sp if case.k % 2 == 0 else rotation(rng, 3) * sp
    o = rng.uniform(-10, 10, 3) - L @ np.full(3, (n - 1) / 2.0)
    A = np.eye(4)
    A[:3, :3], A[:3, 3] = L, o
    A = S4 @ A  # RAS
    k_, j_, i_ = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing='ij')
    P = A[:3, :3] @ np.stack([i_.ravel(), j_.ravel(), k_.ravel()]) + A[:3, 3:4]
    cen = P.mean(axis=1)
    blobs = [(cen + rng.uniform(-9, 9, 3), rng.uniform(1.5, 4), rng.uniform(0.3, 1.0)) for _ in range(15)]

    def phantom(X):
        v = np.zeros(X.shape[1])
        for c, s_, a in blobs:
            v += a * np.exp(-((X - c[:, None]) ** 2).sum(axis=0) / (2 * s_ * s_))
        return v.reshape(n, n, n).transpose(2, 1, 0) * 1000

    Rm = small_rotation(rng, 3, 0.08)
    save_nifti(case.p('fixed.nii'), phantom(P), A)
    mimg = save_nifti(case.p('moving.nii'), phantom(Rm.T @ (P - cen[:, None]) + cen[:, None]), A)
    args = ['register', case.p('fixed.nii'), case.p('moving.nii'), '--transform', 'bspline', '--levels',
            '4x2' if mode == 2 else '2x1', '--grid-spacing', '8', '--out-field', case.p('mv_field.nii'),
            '--out-elastix', case.p('TP.txt'), '--quiet']
    if mode == 1:
        M = np.eye(4)
        M[:3, :3], M[:3, 3] = small_rotation(rng, 3, 0.05), rng.uniform(-1.5, 1.5, 3)
        with open(case.p('init.txt'), 'w') as f:
            f.write('\n'.join(' '.join('%.17g' % v for v in row) for row in M) + '\n')
        args += ['--init-matrix', case.p('init.txt')]
        case.note('with an --init-matrix (two files)')
    if mode == 2:
        args += ['--out', case.p('mv_warped.nii')]
    case.mv(*args)
    ent = read_tp(case.p('TP.txt'))
    if mode == 1 and (ent['Transform'][0] != 'AffineTransform' or
                      ent['InitialTransformParametersFileName'][0] != case.p('TP-bspline.txt')):
        raise Failure('TP.txt: %s naming %s, expected an AffineTransform naming %s'
                      % (ent['Transform'][0], ent['InitialTransformParametersFileName'][0], case.p('TP-bspline.txt')))
    if [int(x) for x in ent['Size']] != [n] * 3:
        raise Failure('TP.txt: Size %s, the fixed image has %d^3 voxels' % (ent['Size'], n))
    if mode != 2:
        tx_path = case.transformix(case.p('TP.txt'), case.p('tx'))
        img, a = load_field(tx_path)
        mimg, m = check_field_file(case, 'mvtool register --out-field', case.p('mv_field.nii'),
                                   grid_of_affine(A, [n] * 3, 3), 3, img.affine)
        case.peak('largest |displacement| (mm)', float(np.max(np.abs(m))))
        return compare(case, 'transformix on the written files vs medvol\'s --out-field', field_vectors(a, 3),
                       field_vectors(m, 3))
    # the large mode: the file has the full fixed grid; medvol's own field
    # (on the shrunk grid) is the file's there; transformix's field on the
    # full grid is mvtool's, and its result the full-resolution --out
    case.note('large mode (registered 2x shrunk)')
    case.mv('elastix-field', case.p('TP.txt'), case.p('file_on_shrunk.nii'), '--ref', case.p('mv_field.nii'))
    own, _ = load_field(case.p('mv_field.nii'))
    own, on_shrunk = np.asarray(own.dataobj, np.float64), np.asarray(nib.load(case.p('file_on_shrunk.nii')).dataobj, np.float64)
    if own.shape[:3] != (n // 2,) * 3:  # mv_pyramid_level: max(n // 2, min(n, 16)) voxels
        raise Failure('--out-field in the large mode: shape %s, expected the 2x shrunk grid' % (own.shape,))
    worst = compare(case, 'the written file on the shrunk grid vs medvol\'s --out-field', field_vectors(on_shrunk, 3),
                    field_vectors(own, 3))
    os.makedirs(case.p('tx'))
    r = case.run([TRANSFORMIX, '-in', case.p('moving.nii'), '-def', 'all', '-tp', case.p('TP.txt'), '-out', case.p('tx')])
    if r.returncode < 0:
        case.note('transformix crashes (rerun)')
        r = case.run([TRANSFORMIX, '-in', case.p('moving.nii'), '-def', 'all', '-tp', case.p('TP.txt'), '-out', case.p('tx')])
    if r.returncode != 0:
        raise Failure('transformix -in -def all on %s: exit %d' % (case.p('TP.txt'), r.returncode))
    img, a = load_field(os.path.join(case.p('tx'), 'deformationField.nii'))
    if a.shape[:3] != (n,) * 3 or np.max(np.abs(img.affine - A)) > 1e-5:
        raise Failure('transformix on the large mode\'s file: shape %s affine\n%s\nexpected the fixed image\'s %d^3\n%s'
                      % (a.shape, img.affine, n, A))
    case.mv('elastix-field', case.p('TP.txt'), case.p('file_full.nii'))
    full = np.asarray(nib.load(case.p('file_full.nii')).dataobj, np.float64)
    worst = max(worst, compare(case, 'mvtool elastix-field vs transformix on the full grid', field_vectors(full, 3),
                               field_vectors(a, 3)))
    res = np.asarray(nib.load(os.path.join(case.p('tx'), 'result.nii')).dataobj, np.float64)
    out = np.asarray(nib.load(case.p('mv_warped.nii')).dataobj, np.float64)
    rangev = float(np.ptp(np.asarray(mimg.dataobj)))
    # the edge rules differ (--out: 0 outside; ITK: half a voxel mirrored):
    # compared where the moving point is at least 1 voxel inside MOVING (its grid is FIXED's)
    Al = S4 @ A
    q = Al[:3, :3] @ np.stack([i_.ravel(), j_.ravel(), k_.ravel()]) + Al[:3, 3:4]
    q = q + field_vectors(a, 3)  # transformix's field: p -> p + d(p), x fastest as the grid
    c = np.linalg.inv(Al[:3, :3]) @ (q - Al[:3, 3:4])
    inside = np.all((c >= 1) & (c <= n - 2), axis=0).reshape(n, n, n).transpose(2, 1, 0)
    case.note('large mode: voxels compared', int(inside.sum()))
    e = float(np.max(np.abs(res - out)[inside]))
    if not e <= 1e-4 * rangev:
        raise Failure('transformix -in on the large mode\'s file vs medvol\'s --out: max |diff| %.4g (range %.4g)' % (e, rangev))
    case.peak('large mode: |transformix result - --out| / range', e / rangev)
    return max(worst, e / (1e-4 * rangev))


def fam_refusals(case, rng):
    """fixed mutations of one valid file: mvtool must refuse each, naming the
    problem, and write nothing"""
    fmt = Fmt(rng)
    g = rand_grid(rng, 3, fmt)
    aff = rand_linear(rng, 3, fmt, grid_center(g), 'AffineTransform')
    base = write_text(case.p('valid.txt'), tp_text(aff, g, fmt))
    if model_only:
        return 0.0
    case.mv('elastix-field', base, case.p('valid.nii'))
    bs = rand_bspline(rng, 3, fmt, g, 'BSplineTransform')
    bs['cyclic'] = 'true'
    dti = dict(aff, kind='AffineDTITransform')
    par = ' '.join(fmt.par(x) for x in aff['params'])
    muts = [
        ('AffineDTITransform', tp_text(dti, g, fmt), ['AffineDTITransform']),
        ('UseCyclicTransform "true"', tp_text(bs, g, fmt), ['cyclic']),
        ('a missing initial file', tp_text(aff, g, fmt, init=case.p('no_such_dir/TransformParameters.0.txt')),
         ['no_such_dir']),
        ('NumberOfParameters 13 with 12 values', tp_text(aff, g, fmt, count=13),
         ['numberofparameters', 'transformparameters']),
        ('NumberOfParameters 12 with 11 values', tp_text(aff, g, fmt, params_text=par.rsplit(' ', 1)[0]),
         ['numberofparameters', 'transformparameters']),
        ('a nan parameter', tp_text(aff, g, fmt, params_text=re.sub(r'^\S+', 'nan', par)),
         ['nan', 'finite']),
        ('an inf parameter', tp_text(aff, g, fmt, params_text=par.rsplit(' ', 1)[0] + ' -inf'),
         ['inf', 'finite']),
    ]
    for i, (what, text, keys) in enumerate(muts):
        tp = write_text(case.p('bad%d.txt' % i), text)
        out = case.p('bad%d.nii' % i)
        r = case.run([case.exe, 'elastix-field', tp, out])
        msg = (r.stderr + r.stdout).strip()
        if r.returncode <= 0:
            raise Failure('%s (%s): exit %d, expected a refusal (> 0): %s' % (what, tp, r.returncode, msg[:300]))
        if not any(k.lower() in msg.lower() for k in keys):
            raise Failure('%s (%s): the message does not name the problem (none of %s): %s'
                          % (what, tp, ', '.join(keys), msg[:300]))
        if os.path.exists(out):
            raise Failure('%s (%s): refused, but %s was written' % (what, tp, out))
        case.note('refused: ' + what)
    return 0.0


# ------------------------------------------------------------ main

def main():
    global model_only
    args = sys.argv[1:]
    opts, pos = {}, []
    i = 0
    while i < len(args):
        if args[i] in ('--family', '--case'):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        elif args[i] in ('--keep', '--model'):
            opts[args[i][2:]] = True
            i += 1
        else:
            pos.append(args[i])
            i += 1
    if len(pos) < 1:
        print(__doc__)
        return 2
    exe = os.path.abspath(pos[0])
    cases = int(pos[1]) if len(pos) > 1 else 12
    seed = int(pos[2]) if len(pos) > 2 else 20261126
    model_only = bool(opts.get('model'))
    if shutil.which(TRANSFORMIX) is None:
        print('SKIPPED diff_elastix: needs transformix (apt-get install elastix)')
        return 0
    fams = opts['family'].split(',') if 'family' in opts else FAMILIES
    for f in fams:
        if f not in FAMILIES:
            print('--family: one of %s' % ', '.join(FAMILIES))
            return 2
    only = int(opts['case']) if 'case' in opts else None
    count = {'warp': max(2, cases // 4), 'transformix': max(2, cases // 2), 'points': max(2, cases // 2), 'elastix': 2, 'regwrite': 3, 'refusals': 1}
    bad = 0
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix='diff_elastix.') as tmp:
        if opts.get('keep'):
            tmp = tempfile.mkdtemp(prefix='diff_elastix.')
        for fam in fams:
            fn = globals()['fam_' + fam]
            worst, n, notes, t1 = 0.0, 0, {}, time.time()
            for k in ([only] if only is not None else range(count.get(fam, cases))):
                rng = np.random.default_rng([seed, FAMILIES.index(fam), k])
                cdir = os.path.join(tmp, '%s.%d' % (fam, k))
                os.mkdir(cdir)
                case = Case(exe, cdir, fam, k, notes)
                try:
                    worst = max(worst, fn(case, rng))
                    n += 1
                except Failure as e:
                    bad += 1
                    print('FAIL %s case %d: %s\n  rerun: /usr/bin/python3 %s %s 1 %d --family %s --case %d --keep'
                          % (fam, k, e, sys.argv[0], pos[0], seed, fam, k))
                    for c in case.cmds:
                        print('  $ ' + c)
                except Exception as e:  # a step that should not fail: reported with its commands
                    bad += 1
                    print('FAIL %s case %d: exception %s: %s\n  rerun: /usr/bin/python3 %s %s 1 %d --family %s '
                          '--case %d --keep' % (fam, k, type(e).__name__, e, sys.argv[0], pos[0], seed, fam, k))
                    for c in case.cmds:
                        print('  $ ' + c)
            print('%-9s %3d cases, worst %.3g of the tolerance (%.1f s)' % (fam, n, worst, time.time() - t1))
            if notes:
                print('          ' + '; '.join(('%s %.3g' if isinstance(v, float) else '%s %d') % (k, v)
                                             for k, v in sorted(notes.items())))
        if opts.get('keep'):
            print('files kept in %s' % tmp)
    print('diff_elastix: %d failures (seed %d, %.1f s)' % (bad, seed, time.time() - t0))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
