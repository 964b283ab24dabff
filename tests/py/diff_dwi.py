#!/usr/bin/python3
"""Diffusion gradient tables through medvol, checked by two other tools.

Run with Debian's /usr/bin/python3 (numpy, pynrrd):
    diff_dwi.py MVTOOL CASES SEED [--perturb]

Each case writes a random DWI series as a NRRD file the way Slicer and
DWIConvert write them (NA-MIC's keys: DWMRI_b-value, DWMRI_gradient_NNNN,
DWMRI_NEX_NNNN, a measurement frame; space RAS, LPS or LAS; random
directions and spacings; the gradient axis first or last; raw or gzip;
.nrrd or .nhdr). Its voxels follow one diffusion tensor D given in the
measurement frame's coordinates: S_i = S0 exp(-b |g_i|^2 u_i' D u_i), u_i
the unit gradient. This script never interprets the measurement frame or
the space: two tools do.

  teem (the NRRD reference): tend estim fits the tensor from the keys,
      tend unmf applies the measurement frame: D in the file's world space,
      turned to RAS by the space's axis signs.
  MRtrix3 (the FSL reference): medvol converts the NRRD to NIfTI with
      FSL's bval/bvec beside it (mvtool convert); dwi2tensor -fslgrad fits D
      in scanner (RAS) coordinates from them.

The two tensors must agree (1e-4 of the largest eigenvalue). Then medvol
writes the NIfTI and its bval/bvec back as a DWI NRRD (mvtool convert
--bval --bvec): teem's tensor from that file must agree too, and teem
must read it (unu head). --perturb flips the sign of one bvec component
medvol wrote: every case must then fail (the check can fail).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import nrrd
except ImportError:
    nrrd = None

SPACES = {  # name -> signs taking its coordinates to RAS
    "right-anterior-superior": (1, 1, 1), "RAS": (1, 1, 1),
    "left-posterior-superior": (-1, -1, 1), "LPS": (-1, -1, 1),
    "left-anterior-superior": (-1, 1, 1), "LAS": (-1, 1, 1),
}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout[-400:], r.stderr[-800:]))
    return r


def rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def vec(v):
    return "(" + ",".join("%.17g" % x for x in v) + ")"


def make_case(rng, d, k):
    """A DWI NRRD in d; returns its path."""
    space = str(rng.choice(list(SPACES)))
    dims = rng.integers(2, 4, size=3)
    # image axes: a rotation (or a mirror) times spacings
    R = rotation(rng)
    if rng.random() < 0.4:
        R[:, rng.integers(3)] *= -1
    spacing = rng.uniform(0.7, 2.5, size=3)
    dirs = R * spacing
    origin = rng.uniform(-50, 50, size=3)
    # the measurement frame: identity, an axis flip, or a rotation
    mf_kind = rng.integers(3)
    MF = np.eye(3) if mf_kind == 0 else np.diag(rng.choice([-1.0, 1.0], size=3)) if mf_kind == 1 else rotation(rng)
    # gradients as written: b0s, a shell at |g| = 1, one at |g|^2 = 0.5, NEX repeats
    nb0 = int(rng.integers(1, 3))
    ndir = int(rng.integers(8, 15))
    grads = [np.zeros(3)] * nb0
    for i in range(ndir):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        grads.append(u * (1.0 if i % 3 else np.sqrt(0.5)))
    keys, n = [], 0
    for i, g in enumerate(grads):
        rep = 2 if (i == nb0 + 1 and rng.random() < 0.7) else 1
        keys.append("DWMRI_gradient_%04d:=%s" % (n, " ".join("%.17g" % x for x in g)))
        if rep > 1:
            keys.append("DWMRI_NEX_%04d:=%d" % (n, rep))
        n += rep
    g_all = []  # one per volume: a NEX line repeats the gradient before it once (rep 2)
    for line in keys:
        if line.startswith("DWMRI_gradient_"):
            g_all.append(np.array([float(x) for x in line.split(":=")[1].split()]))
        else:
            g_all.append(g_all[-1])
    g_all = np.array(g_all)
    bmax = float(rng.choice([700.0, 1000.0, 2000.0]))
    # one tensor, in the measurement frame's coordinates (mm^2/s)
    Q = rotation(rng)
    D = Q @ np.diag([1.7e-3, 0.45e-3, 0.3e-3]) @ Q.T
    sig = np.empty(n)
    for i, g in enumerate(g_all):
        b = bmax * (g @ g)
        u = g / np.linalg.norm(g) if b > 0 else np.zeros(3)
        sig[i] = 1000.0 * np.exp(-b * (u @ D @ u))
    vox = np.broadcast_to(sig.astype(np.float32), (dims[2], dims[1], dims[0], n))  # [z][y][x][list]
    list_first = rng.random() < 0.5
    data = np.ascontiguousarray(vox if list_first else np.moveaxis(vox, 3, 0))
    sizes = ([n] if list_first else []) + list(dims) + ([] if list_first else [n])
    kinds = (["list"] if list_first else []) + ["space"] * 3 + ([] if list_first else ["list"])
    sd = [vec(dirs[:, j]) for j in range(3)]
    sdir = (["none"] if list_first else []) + sd + ([] if list_first else ["none"])
    gz = rng.random() < 0.5
    detached = rng.random() < 0.3
    payload = data.astype("<f4").tobytes()
    if gz:
        import gzip
        payload = gzip.compress(payload, 3)
    name = os.path.join(d, "c%d.%s" % (k, "nhdr" if detached else "nrrd"))
    hdr = ["NRRD0005", "type: float", "dimension: 4", "space: " + space, "sizes: " + " ".join(map(str, sizes)),
           "space directions: " + " ".join(sdir), "kinds: " + " ".join(kinds), "endian: little",
           "encoding: " + ("gzip" if gz else "raw"), "space origin: " + vec(origin),
           "measurement frame: " + " ".join(vec(MF[:, j]) for j in range(3)), "modality:=DWMRI",
           "DWMRI_b-value:=%g" % bmax] + keys
    if detached:
        hdr.append("data file: c%d.raw%s" % (k, ".gz" if gz else ""))
        with open(os.path.join(d, "c%d.raw%s" % (k, ".gz" if gz else "")), "wb") as f:
            f.write(payload)
    with open(name, "wb") as f:
        f.write(("\n".join(hdr) + "\n\n").encode())
        if not detached:
            f.write(payload)
    return name, space


def teem_tensor(path, space, d, tag):
    """teem's fit, measurement frame applied, in RAS: 3x3."""
    dt, dtw = os.path.join(d, tag + "-dt.nrrd"), os.path.join(d, tag + "-dtw.nrrd")
    run(["teem-tend", "estim", "-i", path, "-B", "kvp", "-knownB0", "true", "-t", "1", "-o", dt])
    run(["teem-tend", "unmf", "-i", dt, "-o", dtw])
    t, _ = nrrd.read(dtw)
    c = t[(slice(None),) + tuple(s // 2 for s in t.shape[1:])].astype(np.float64)  # conf, xx xy xz yy yz zz
    D = np.array([[c[1], c[2], c[3]], [c[2], c[4], c[5]], [c[3], c[5], c[6]]])
    S = np.diag(SPACES[space])
    return S @ D @ S


def mrtrix_tensor(nii, bvec, bval, d, tag):
    out = os.path.join(d, tag + "-mrdt.nii")
    run(["dwi2tensor", "-quiet", "-force", nii, out, "-fslgrad", bvec, bval])
    import nibabel as nib
    t = np.asarray(nib.load(out).dataobj, dtype=np.float64)
    c = t[tuple(s // 2 for s in t.shape[:3])]  # D11 D22 D33 D12 D13 D23 (scanner RAS)
    return np.array([[c[0], c[3], c[4]], [c[3], c[1], c[5]], [c[4], c[5], c[2]]])


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mvtool, cases, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    perturb = "--perturb" in sys.argv
    rng = np.random.default_rng(seed)
    fails = 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for k in range(cases):
            path, space = make_case(rng, d, k)
            try:
                ref = teem_tensor(path, space, d, "c%d" % k)
                scale = np.abs(np.linalg.eigvalsh(ref)).max()
                nii = os.path.join(d, "c%d.nii" % k)
                run([mvtool, "convert", path, nii])
                bvec, bval = nii[:-4] + ".bvec", nii[:-4] + ".bval"
                if perturb:
                    rows = [line.split() for line in open(bvec).read().splitlines()]
                    r = int(rng.integers(3))
                    j = next(i for i, x in enumerate(rows[r]) if abs(float(x)) > 0.2)
                    rows[r][j] = repr(-float(rows[r][j]))
                    open(bvec, "w").write("\n".join(" ".join(x) for x in rows) + "\n")
                got = mrtrix_tensor(nii, bvec, bval, d, "c%d" % k)
                err1 = np.abs(got - ref).max() / scale
                back = os.path.join(d, "c%d-back.nhdr" % k)
                run([mvtool, "convert", nii, back, "--bval", bval, "--bvec", bvec])
                run(["teem-unu", "head", back])
                err2 = np.abs(teem_tensor(back, "LPS", d, "c%d-back" % k) - ref).max() / scale
                worst = max(worst, err1, err2)
                if err1 > 1e-4 or err2 > 1e-4:
                    fails += 1
                    print("FAIL case %d (%s): MRtrix3 from medvol's bval/bvec %.3g, teem from medvol's NRRD %.3g "
                          "(relative to the largest eigenvalue)" % (k, os.path.basename(path), err1, err2))
            except RuntimeError as e:
                fails += 1
                print("FAIL case %d: %s" % (k, e))
    if perturb:
        if fails != cases:
            print("FAIL --perturb: %d of %d cases still passed" % (cases - fails, cases))
            return 1
        print("diff_dwi --perturb: all %d cases failed, as they must" % cases)
        return 0
    print("diff_dwi: %d cases, %d failed; worst difference %.2g of the largest eigenvalue (bound 1e-4)" %
          (cases, fails, worst))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
