#!/usr/bin/env bash
# mvtool end to end: stats of the shared files against manifest.json (via
# /usr/bin/python3), info, conversions, the operations against numpy /
# nibabel and resampling against scipy (tests/py/check_*_file.py), chains,
# phantoms, and the error contract
# (status name + detail on stderr, exit 1). Run from the repo root by make.
set -u
T=build/mvtool
D=${MEDVOL_DATA:-../shared/data}
W=build/tools-tmp
PY=${MEDVOL_PYTHON:-/usr/bin/python3}
rm -rf "$W" && mkdir -p "$W"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# BART's 16 sizes of two headers alike (missing trailing sizes are 1); and the samples too
same_dims() { [ "$(sed -n 2p "$1.hdr" | awk '{for (i = 1; i <= 16; i++) printf "%s ", ($i == "" ? 1 : $i)}')" = \
                "$(sed -n 2p "$2.hdr" | awk '{for (i = 1; i <= 16; i++) printf "%s ", ($i == "" ? 1 : $i)}')" ]; }
same_pair() { cmp -s "$1.cfl" "$2.cfl" && same_dims "$1" "$2"; }

# stats against nibabel's figures (1e-12 relative: float64 sums)
if [ -f "$D/manifest.json" ] && "$PY" -c 'import json' 2>/dev/null; then
  for f in anatomical.nii functional.nii reoriented_anat_moved.nii resampled_anat_moved.nii \
           example4d.nii.gz example_nifti2.nii.gz standard.nii.gz; do
    out=$($T stats "$D/nifti/$f" 2>"$W/err") || {
      if grep -q MV_ERR_UNSUPPORTED "$W/err" && [[ $f == *.gz ]]; then echo "  (skip $f: $(cat "$W/err"))"; continue; fi
      bad "stats $f: $(cat "$W/err")"; continue; }
    "$PY" - "$D/manifest.json" "nifti/$f" "$out" <<'PYEOF' && ok || bad "stats $f: $out"
import json, sys
m = {f['file']: f for f in json.load(open(sys.argv[1]))['files']}[sys.argv[2]]['data']
got = dict(kv.split('=') for kv in sys.argv[3].split())
for k in ('sum', 'mean', 'std', 'min', 'max'):
    a, b = float(got[k]), m[k]
    if abs(a - b) > 1e-12 * max(abs(a), abs(b)):
        print('  %s: %r vs manifest %r' % (k, a, b)); sys.exit(1)
PYEOF
  done
else
  echo "  (skip stats vs manifest: no $D/manifest.json or python3)"
fi

if [ -f "$D/nifti/anatomical.nii" ]; then
  A="$D/nifti/anatomical.nii"
  $T info "$A" > "$W/info" && grep -q "orientation  LAS" "$W/info" && grep -q "dims         33 x 41 x 25" "$W/info" \
    && grep -q "big-endian" "$W/info" && ok || bad "info anatomical"
  $T info "$D/nifti/analyze.hdr" "$D/nifti/nifti2.hdr" > "$W/info2" && grep -q "Analyze 7.5" "$W/info2" \
    && grep -q "NIfTI-2 pair" "$W/info2" && ok || bad "info of header-only files"
  s0=$($T stats "$A")
  $T convert "$A" "$W/a.hdr" && [ "$($T stats "$W/a.hdr")" = "$s0" ] && ok || bad "convert to a pair keeps values"
  $T convert "$A" "$W/a2.nii" --nifti2 && $T info "$W/a2.nii" | grep -q NIfTI-2 && [ "$($T stats "$W/a2.nii")" = "$s0" ] \
    && ok || bad "convert to NIfTI-2"
  $T convert "$A" "$W/a.nii.gz" && [ "$($T stats "$W/a.nii.gz")" = "$s0" ] && gzip -t "$W/a.nii.gz" \
    && ok || bad "convert to .nii.gz"
  $T convert "$W/a.nii.gz" "$W/a3.hdr.gz" && [ "$($T stats "$W/a3.img.gz")" = "$s0" ] && ok || bad "convert .nii.gz to a gzip pair"
  $T convert "$A" "$W/af.nii" --dtype float32 && $T info "$W/af.nii" | grep -q "float32" && ok || bad "convert --dtype float32"
  # '-': standard input, plain or gzip (read whole, then decoded as a file), the same values as the file
  [ "$(cat "$A" | $T stats -)" = "$s0" ] && [ "$($T stats - < "$W/a.nii.gz")" = "$s0" ] && ok || bad "stats of standard input"
  $T info - < "$W/a.nii.gz" | grep -q "dims         33 x 41 x 25" && ok || bad "info of standard input"
  $T convert "$A" "$W/a_in.mgz" && [ "$($T stats - < "$W/a_in.mgz")" = "$($T stats "$W/a_in.mgz")" ] \
    && $T info - < "$W/a_in.mgz" | grep -q "MGH" && ok || bad "an .mgz on standard input"
  cat "$W/a.nii.gz" | $T convert - "$W/a_stdin.nii" && [ "$($T stats "$W/a_stdin.nii")" = "$s0" ] \
    && ok || bad "convert from standard input"
  $T stats - < /dev/null 2> "$W/err"; [ $? -eq 1 ] && grep -q "standard input" "$W/err" && ok || bad "empty standard input: $(cat "$W/err")"
  head -c 3000 "$W/a.nii.gz" | $T stats - 2> "$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_TRUNCATED: standard input" "$W/err" \
    && ok || bad "cut standard input: $(cat "$W/err")"
  # '-' as convert's output: a NIfTI stream on standard output, the bytes a
  # file save writes; nibabel reads the gzip stream (from_bytes) as it loads
  # the input; refused on a terminal (script gives one) and named on a write error
  $T convert "$A" "$W/a_file.nii" && $T convert "$A" - > "$W/a_out.nii" && cmp -s "$W/a_file.nii" "$W/a_out.nii" \
    && ok || bad "convert to standard output: not the file's bytes"
  $T convert "$A" - --compress --dtype float32 | "$PY" -c '
import gzip, sys, numpy as np, nibabel as nib
got = nib.Nifti1Image.from_bytes(gzip.decompress(sys.stdin.buffer.read()))
want = nib.load(sys.argv[1])
assert got.get_data_dtype() == np.float32, got.get_data_dtype()
assert np.array_equal(got.get_fdata(), want.get_fdata().astype(np.float32)), "values"
assert np.allclose(got.affine, want.affine, rtol=0, atol=1e-6), "affine"
' "$A" 2> "$W/err" && ok || bad "convert - --compress vs nibabel: $(tail -3 "$W/err")"
  $T convert "$A" - --nifti2 | $T info - | grep -q "NIfTI-2" && ok || bad "convert - --nifti2"
  # 8 MiB of float32 voxels: 1 MiB members compressed on every thread, written
  # through the callback: the bytes of the file save each time
  $T phantom "$W/big.nii" --size 128 && $T convert "$W/big.nii" "$W/big_file.nii.gz" && \
    ( for r in 1 2 3; do $T convert "$W/big.nii" - --compress | cmp -s - "$W/big_file.nii.gz" || exit 1; done ) \
    && ok || bad "convert - --compress of 8 MiB: not the .nii.gz file's bytes"
  if command -v script >/dev/null; then
    out=$(script -qec "$T convert $A -" /dev/null); rc=$?
    [ $rc -eq 2 ] && [[ $out == *"standard output is a terminal"* ]] && ok || bad "convert - on a terminal: rc $rc: $out"
  fi
  $T convert "$A" - > /dev/full 2> "$W/err"; [ $? -eq 1 ] && grep -q "standard output" "$W/err" && ok \
    || bad "convert - to a full device: $(cat "$W/err")"
  $T convert "$A" "$W/au.nii" --dtype uint8 2> "$W/err" && grep -q "saturate" "$W/err" && ok || bad "convert --dtype uint8 warns"
  # the scaled values in float64: the same statistics (std's float64 summation
  # order differs: compare to 1e-14)
  $T convert "$D/nifti/functional.nii" "$W/fs.nii" --dtype float64 && \
    awk -v a="$($T stats "$W/fs.nii")" -v b="$($T stats "$D/nifti/functional.nii")" 'BEGIN {
      n = split(a, x, /[ =]/); split(b, y, /[ =]/);
      for (i = 2; i <= n; i += 2) { d = x[i] - y[i]; if (d < 0) d = -d; m = x[i] < 0 ? -x[i] : x[i];
        if (d > 1e-14 * m) exit 1 } }' && ok || bad "scaled int16 -> float64 keeps values"
fi

# the operations, each against numpy / nibabel on the same input file
if [ -f "$D/nifti/anatomical.nii" ] && "$PY" -c 'import nibabel' 2>/dev/null; then
  C="$PY tests/py/check_op_file.py"
  R="$PY tests/py/check_resample_file.py"
  # without scipy the resample outputs are not checked (said once here)
  "$PY" -c 'import scipy' 2>/dev/null || { echo "  (skip resample vs scipy: no scipy)"; R=true; }
  for f in anatomical.nii functional.nii example4d.nii.gz; do
    I="$D/nifti/$f"
    $T znorm "$I" "$W/o.nii" && $C znorm "$I" "$W/o.nii" >/dev/null && ok || bad "znorm $f"
    $T znorm "$I" "$W/o.nii" --nonzero && $C znorm-nonzero "$I" "$W/o.nii" >/dev/null && ok || bad "znorm --nonzero $f"
    $T rescale "$I" "$W/o.nii" && $C rescale "$I" "$W/o.nii" 0 1 >/dev/null && ok || bad "rescale $f"
    $T rescale "$I" "$W/o.nii" -1,3 && $C rescale "$I" "$W/o.nii" -1 3 >/dev/null && ok || bad "rescale -1,3 $f"
    $T clamp "$I" "$W/o.nii" 10.5,400 && $C clamp "$I" "$W/o.nii" 10.5 400 >/dev/null && ok || bad "clamp $f"
    $T crop-or-pad "$I" "$W/o.nii" 20,50,24 && $C crop-or-pad "$I" "$W/o.nii" 20 50 24 >/dev/null && ok || bad "crop-or-pad $f"
    $T flip "$I" "$W/o.nii" 0,2 && $C flip "$I" "$W/o.nii" 0 2 >/dev/null && ok || bad "flip $f"
    for code in RAS LPS PIR; do
      $T reorient "$I" "$W/o.nii" $code && $C reorient "$I" "$W/o.nii" $code >/dev/null && ok || bad "reorient $code $f"
    done
    # resampling against scipy.ndimage.zoom (each time point of a 4D file) and the grid's world corners (nibabel)
    while read -r how list interp align; do
      flag=""; [ "$align" = 1 ] && flag="--align-corners"
      $T resample "$I" "$W/o.nii" --$how "$list" --interp "$interp" $flag \
        && $R "$I" "$W/o.nii" "$how" "$list" "$interp" "$align" >/dev/null && ok || bad "resample --$how $list $interp $flag $f"
    done <<'CASES'
shape 20,50,17 linear 0
shape 20,50,17 nearest 0
shape 45,9,31 cubic 0
shape 31,9,40 cubic 1
spacing 2.5,1.5,3 linear 0
spacing 3,3,1.7 linear 1
spacing 1.3,2.9,2.2 nearest 0
CASES
  done
  # a chain equals its steps one by one (voxel for voxel: the statistics see the same values)
  A="$D/nifti/anatomical.nii"
  $T chain "$A" "$W/c.nii" crop-or-pad:30,44,20 flip:1 znorm && $T crop-or-pad "$A" "$W/s1.nii" 30,44,20 \
    && $T flip "$W/s1.nii" "$W/s2.nii" 1 && $T znorm "$W/s2.nii" "$W/s3.nii" \
    && [ "$($T stats "$W/c.nii")" = "$($T stats "$W/s3.nii")" ] && ok || bad "chain = steps"
  $T chain "$A" "$W/c.nii.gz" reorient:RAS rescale:0,255:1,99:clip cast:uint8 && $T info "$W/c.nii.gz" | grep -q uint8 \
    && ok || bad "chain to uint8 .nii.gz"
  $T chain "$A" "$W/c.nii" bogus 2>/dev/null; [ $? -eq 2 ] && ok || bad "chain: unknown step exits 2"
  # a resample step splits the chain; it equals the steps one by one
  $T chain "$A" "$W/c.nii" crop-or-pad:30,44,20 resample:spacing:2.5,1.5,3:cubic flip:1 znorm \
    && $T crop-or-pad "$A" "$W/s1.nii" 30,44,20 && $T resample "$W/s1.nii" "$W/s2.nii" --spacing 2.5,1.5,3 --interp cubic \
    && $T flip "$W/s2.nii" "$W/s3.nii" 1 && $T znorm "$W/s3.nii" "$W/s4.nii" \
    && [ "$($T stats "$W/c.nii")" = "$($T stats "$W/s4.nii")" ] && ok || bad "chain with resample = steps"
  $T chain "$A" "$W/c.nii" resample:shape:20,30,12 && $R "$A" "$W/c.nii" shape 20,30,12 linear 0 >/dev/null \
    && ok || bad "chain of one resample step vs scipy"
  $T chain "$A" "$W/c.nii" resample:shape:20,0,12 2>/dev/null; [ $? -eq 2 ] && ok || bad "chain: bad resample step exits 2"
  $T resample "$A" "$W/c.nii" --interp cubic 2>/dev/null; [ $? -eq 2 ] && ok || bad "resample without --shape/--spacing exits 2"
  $T resample "$A" "$W/c.nii" --shape 5,5,5 --spacing 1,1,1 2>/dev/null; [ $? -eq 2 ] && ok || bad "resample with both exits 2"
  $T resample "$A" "$W/c.nii" --shape 5,0,5 2> "$W/err"; [ $? -eq 2 ] && grep -q "shape wants" "$W/err" && ok || bad "resample bad shape"
  $T resample "$A" "$W/c.nii" --shape 5,5,5 --interp bogus 2>/dev/null; [ $? -eq 2 ] && ok || bad "resample bad interp"
  $T resample "$A" "$W/c.nii" --spacing 1e-7,1,1 2> "$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_" "$W/err" \
    && ok || bad "resample to an impossible size: exit 1 + status"
  $T crop-or-pad "$A" "$W/c.nii" 0,-3,2 2> "$W/err"; [ $? -eq 1 ] && grep -q MV_ERR_INVALID_ARG "$W/err" && ok || bad "bad shape"
else
  echo "  (skip operations vs numpy: no shared data or nibabel)"
fi

# FFT subcommands against numpy.fft on the same files: a real 3D volume, a
# scaled int16 4D series (each volume on its own), complex64 3D and 2D
if "$PY" -c 'import numpy, nibabel' 2>/dev/null && "$PY" tests/py/check_fft_file.py make "$W"; then
  for f in r3 s4 c3 c2; do
    for mode in fft ifft fftc ifftc; do
      $T $mode "$W/$f.nii" "$W/f.nii" && "$PY" tests/py/check_fft_file.py $mode "$W/$f.nii" "$W/f.nii" \
        && ok || bad "$mode $f.nii vs numpy"
    done
  done
  $T fftc "$W/c3.nii" "$W/k.nii" && $T ifftc "$W/k.nii" "$W/back.nii" \
    && "$PY" -c 'import sys, numpy as np, nibabel as nib
a, b = (np.asanyarray(nib.load(p).dataobj) for p in sys.argv[1:3])
sys.exit(0 if np.sqrt(np.sum(np.abs(a - b) ** 2) / np.sum(np.abs(a) ** 2)) < 1e-6 else 1)' "$W/c3.nii" "$W/back.nii" \
    && ok || bad "ifftc(fftc(x)) = x"
  $T fft "$W/r3.nii" 2>/dev/null; [ $? -eq 2 ] && ok || bad "fft: missing OUT exits 2"
else
  echo "  (skip FFT subcommands vs numpy: no numpy/nibabel)"
fi

# mvtool rss against numpy: complex64 (x, y, z, coils, t), float32 4D, scaled int16 4D
if "$PY" -c 'import numpy, nibabel' 2>/dev/null; then
  "$PY" - "$W" <<'PYEOF' && ok || bad "rss inputs"
import sys, numpy as np, nibabel as nib
w = sys.argv[1]; rng = np.random.default_rng(5)
c = (rng.standard_normal((12, 10, 6, 4, 2)) + 1j * rng.standard_normal((12, 10, 6, 4, 2))).astype(np.complex64)
nib.save(nib.Nifti1Image(c, np.diag([2, 2, 3, 1])), w + '/rc.nii')
nib.save(nib.Nifti1Image(rng.standard_normal((9, 8, 7, 3)).astype(np.float32), np.eye(4)), w + '/rf.nii')
i = nib.Nifti1Image(rng.integers(-300, 300, (9, 8, 7, 3)).astype(np.int16), np.eye(4))
i.header.set_slope_inter(0.5, 3)
nib.save(i, w + '/ri.nii')
PYEOF
  for f in rc rf ri; do
    $T rss "$W/$f.nii" "$W/rss_$f.nii" && "$PY" - "$W/$f.nii" "$W/rss_$f.nii" <<'PYEOF' && ok || bad "rss $f.nii vs numpy"
import sys, numpy as np, nibabel as nib
a = nib.load(sys.argv[1]); x = np.asarray(a.get_fdata(dtype=np.complex128) if a.get_data_dtype().kind == 'c' else a.get_fdata())
r = nib.load(sys.argv[2]); y = np.asanyarray(r.dataobj)
want = np.sqrt((np.abs(x) ** 2).sum(axis=3))
ok = y.dtype == np.float32 and y.shape == want.shape and np.allclose(r.affine, a.affine) \
     and np.sqrt(((y - want) ** 2).sum() / (want ** 2).sum()) < 1e-5
sys.exit(0 if ok else 1)
PYEOF
  done
  $T rss "$W/rc.nii" 2>/dev/null; [ $? -eq 2 ] && ok || bad "rss: missing OUT exits 2"
else
  echo "  (skip rss vs numpy: no numpy/nibabel)"
fi

$T phantom "$W/p.nii" --size 24 && $T info "$W/p.nii" | grep -q "24 x 24 x 24" && ok || bad "phantom"
$T phantom "$W/q.nii" --size 16 --kind smooth --dtype int16 && $T info "$W/q.nii" | grep -q int16 && ok || bad "smooth phantom"
# a NRRD's key/value pairs: listed by info, kept by convert (escaped as in the
# file); then the fields kept under ITK's names (the kinds medvol wrote)
printf 'NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 1 1\nencoding: raw\nSegment0_Name:=liver\nnote:=a\\nb\n\nAB' > "$W/kv.nrrd"
$T convert "$W/kv.nrrd" "$W/kv2.nhdr" && $T info "$W/kv2.nhdr" > "$W/kvinfo" && grep -q "^key/values   5" "$W/kvinfo" \
  && grep -qx "  Segment0_Name:=liver" "$W/kvinfo" && grep -qxF '  note:=a\nb' "$W/kvinfo" \
  && grep -qxF '  NRRD_kinds[2]:=domain' "$W/kvinfo" && ok || bad "info lists NRRD key/values"
$T convert "$W/kv2.nhdr" "$W/kv3.nrrd" --unset note --set "Segment0_Name:=right lung" --set "x:=1:=2" \
  --set 'NRRD_labels[0]:=left "L"' && $T info "$W/kv3.nrrd" > "$W/kvinfo" && grep -q "^key/values   6" "$W/kvinfo" \
  && grep -qx "  Segment0_Name:=right lung" "$W/kvinfo" && grep -qx "  x:=1:=2" "$W/kvinfo" \
  && grep -qxF '  NRRD_labels[0]:=left "L"' "$W/kvinfo" && grep -qxF 'labels: "left \"L\"" "" ""' "$W/kv3.nrrd" \
  && ok || bad "convert --set / --unset"
# to MetaImage: the pairs it can hold as extra fields (a value with a line end left out), read back
$T convert "$W/kv2.nhdr" "$W/kv.mha" 2> "$W/err" && grep -aqx "Segment0_Name = liver" "$W/kv.mha" && $T info "$W/kv.mha" > "$W/kvinfo" \
  && grep -q "^key/values   4" "$W/kvinfo" && grep -qx "  Segment0_Name:=liver" "$W/kvinfo" \
  && grep -qxF '  NRRD_kinds[0]:=domain' "$W/kvinfo" && ! grep -q "note" "$W/kvinfo" && ok || bad "MetaImage extra fields"
# what an output leaves out is named on stderr (the kinds NIfTI's axes have anyway are not)
grep -q "kv.mha: 1 key/value pair not written .*: 'note'$" "$W/err" && ok || bad "convert names the pair MetaImage leaves out"
$T convert "$W/kv2.nhdr" "$W/kv.nii" 2> "$W/err" && grep -q "kv.nii: 2 key/value pairs not written .*: 'Segment0_Name', 'note'$" "$W/err" \
  && ok || bad "convert names the pairs NIfTI leaves out"
$T convert "$W/kv2.nhdr" "$W/kv5.nrrd" 2> "$W/err" && [ ! -s "$W/err" ] && ok || bad "convert to NRRD keeps every pair, unsaid"
# per-axis fields follow their axis: axis 0 runs P, axis 1 R, so RAS swaps them
printf 'NRRD0004\ntype: uchar\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 3 2\nspace directions: (0,1,0) (1,0,0) (0,0,2)\nlabels: "a" "b" "c"\nthicknesses: 1 2 3\nencoding: raw\n\n' > "$W/ax.nrrd"
head -c 24 /dev/zero >> "$W/ax.nrrd"
$T reorient "$W/ax.nrrd" "$W/ax2.nrrd" RAS && grep -aqxF 'sizes: 3 4 2' "$W/ax2.nrrd" && grep -aqxF 'labels: "b" "a" "c"' "$W/ax2.nrrd" \
  && grep -aqxF 'thicknesses: 2 1 3' "$W/ax2.nrrd" && ok || bad "reorient moves the per-axis NRRD fields with their axes"
$T convert "$W/kv2.nhdr" "$W/kv4.nrrd" --set "NRRD_kinds[0]:=bogus" 2> "$W/err"; [ $? -eq 2 ] \
  && grep -q "not a NRRD axis kind" "$W/err" && [ ! -e "$W/kv4.nrrd" ] && ok || bad "convert --set refuses a field's bad value"
$T convert "$W/kv2.nhdr" "$W/kv4.nrrd" --set "NRRD_kinds[0]:=list" 2> "$W/err"; [ $? -eq 1 ] \
  && grep -q "NRRD_kinds\[0\]" "$W/err" && [ ! -e "$W/kv4.nrrd" ] && ok || bad "convert refuses a kind its axis cannot have"
$T convert "$W/kv2.nhdr" "$W/kv4.nrrd" --set "#k:=v" 2> "$W/err"; [ $? -eq 2 ] && grep -q "MV_ERR_INVALID_ARG" "$W/err" \
  && grep -q "'#k'" "$W/err" && [ ! -e "$W/kv4.nrrd" ] && ok || bad "convert --set refuses a key NRRD cannot hold"
$T stats "$W/missing.nii" 2> "$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_NOT_FOUND" "$W/err" && ok || bad "missing file: exit 1 + status"
printf 'garbage' > "$W/g.nii"
$T info "$W/g.nii" 2> "$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_TRUNCATED" "$W/err" && ok || bad "garbage file"
$T convert "$W/p.nii" "$W/p.xyz" 2> "$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_INVALID_ARG" "$W/err" && ok || bad "bad name"

# the command line contract: --help / --version on stdout with exit 0, each
# subcommand's usage from the table, usage errors name the offending word (exit 2)
$T --help > "$W/help" 2>/dev/null && grep -q "^usage: mvtool" "$W/help" && grep -q "  merge " "$W/help" && ok || bad "--help on stdout, exit 0"
$T -h > /dev/null 2>&1 && ok || bad "-h exits 0"
$T --version | grep -q "^mvtool (medvol) [0-9]" && ok || bad "--version"
for c in $(awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' "$W/help"); do
  $T $c --help > "$W/u" 2>/dev/null && grep -q "^usage: mvtool $c " "$W/u" && ok || bad "$c --help"
done
$T bogus 2> "$W/err"; [ $? -eq 2 ] && grep -q "'bogus'" "$W/err" && ok || bad "unknown subcommand named"
$T convert a.nii b.nii --dtyp uint8 2> "$W/err"; [ $? -eq 2 ] && grep -q "unknown option: '--dtyp'" "$W/err" && ok || bad "unknown option named"
$T convert a.nii b.nii --dtype uint9 2> "$W/err"; [ $? -eq 2 ] && grep -q "'uint9'" "$W/err" && ok || bad "unknown dtype named"
$T convert a.nii b.nii --dtype 2> "$W/err"; [ $? -eq 2 ] && grep -q "'--dtype'" "$W/err" && ok || bad "option without value named"
$T clamp a.nii b.nii 1,2 extra 2> "$W/err"; [ $? -eq 2 ] && grep -q "'extra'" "$W/err" && ok || bad "extra argument named"
# numbers: out of range or not whole is a usage error naming the word, never a wrapped value
$T phantom "$W/p.nii" --size 1e9 2> "$W/err"; [ $? -eq 2 ] && grep -q "'1e9'" "$W/err" && ok || bad "phantom --size 1e9"
$T phantom "$W/p.nii" --size 99999999999999999999 2> "$W/err"; [ $? -eq 2 ] && ok || bad "phantom --size overflow"
$T phantom "$W/p.nii" --kind blob 2> "$W/err"; [ $? -eq 2 ] && grep -q "'blob'" "$W/err" && ok || bad "phantom --kind named"
$T chain x.nii y.nii box:0,0,0:1e30,1,1 2> "$W/err"; [ $? -eq 2 ] && grep -q "box:0,0,0:1e30,1,1" "$W/err" \
  && ! grep -q -- "-9223372036854775808" "$W/err" && ok || bad "chain box 1e30 named, not wrapped"
$T chain x.nii y.nii box:99999999999999999999,0,0:1,1,1 2> "$W/err"; [ $? -eq 2 ] && ok || bad "chain box int64 overflow"
$T crop-or-pad x.nii y.nii 20,5.5,3 2> "$W/err"; [ $? -eq 2 ] && grep -q "'20,5.5,3'" "$W/err" && ok || bad "crop-or-pad 5.5 named"
$T flip x.nii y.nii 9 2> "$W/err"; [ $? -eq 2 ] && grep -q "'9'" "$W/err" && ok || bad "flip axis 9 named"
$T frames x.nii y.nii 0,0 2> "$W/err"; [ $? -eq 2 ] && grep -q "'0,0'" "$W/err" && ok || bad "frames N = 0 named"
# phantom --dtype applies to Shepp-Logan too: int16 with nibabel's scaling, values within one step of float32
$T phantom "$W/sf.nii" --size 20 && $T phantom "$W/si.nii" --size 20 --dtype int16 && $T info "$W/si.nii" | grep -q "dtype        int16" \
  && "$PY" -c 'import sys, numpy as np, nibabel as nib
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
s = float(b.dataobj.slope)
sys.exit(0 if s != 1 and np.abs(a.get_fdata() - b.get_fdata()).max() <= s else 1)' "$W/sf.nii" "$W/si.nii" \
  && ok || bad "phantom --dtype int16 (shepp)"

# info and stats take several files and go on past one that fails (exit 1), as nib-ls
if [ -f "$D/nifti/anatomical.nii" ]; then
  A="$D/nifti/anatomical.nii" F="$D/nifti/functional.nii"
  $T info "$A" "$W/missing.nii" "$F" > "$W/info3" 2> "$W/err"; rc=$?
  [ $rc -eq 1 ] && [ "$(grep -c '^file ' "$W/info3")" = 2 ] && grep -q "missing.nii" "$W/err" && ok || bad "info goes on past a failure"
  $T stats "$A" "$F" > "$W/st2" && [ "$(wc -l < "$W/st2")" = 2 ] \
    && [ "$(sed -n 1p "$W/st2")" = "$A: $($T stats "$A")" ] && [ "$(sed -n 2p "$W/st2")" = "$F: $($T stats "$F")" ] \
    && ok || bad "stats of two files, one line each with the name"
  $T stats "$W/missing.nii" "$A" > "$W/st1" 2>/dev/null; [ $? -eq 1 ] && [ "$(cat "$W/st1")" = "$A: $($T stats "$A")" ] \
    && ok || bad "stats goes on past a failure"
fi

# error lines name the file the tool was working on
printf 'garbage' > "$W/g.nii"
$T stats "$W/g.nii" 2> "$W/err"; [ $? -eq 1 ] && grep -q "g.nii" "$W/err" && ok || bad "error names the file"
if [ -f "$D/nifti/anatomical.nii" ]; then # the library's detail here names no file: the tool adds it
  $T crop-or-pad "$D/nifti/anatomical.nii" "$W/c.nii" 0,-3,2 2> "$W/err"; [ $? -eq 1 ] && grep -q "anatomical.nii: .*crop_or_pad" "$W/err" \
    && ok || bad "operation error names the input file"
fi

# convert to integer dtypes: values that do not fit get scl_slope/scl_inter as
# nibabel chooses them (compared with nib.save of the same data into that dtype)
if "$PY" -c 'import numpy, nibabel' 2>/dev/null; then
  "$PY" - "$W" <<'PYEOF' && ok || bad "convert inputs"
import sys, numpy as np, nibabel as nib
w = sys.argv[1]; rng = np.random.default_rng(7)
f = (rng.standard_normal((13, 11, 7)) * 500 + 100).astype(np.float32)
f[0, 0, 0] = np.nan; f[1, 0, 0] = np.inf
nib.save(nib.Nifti1Image(f, np.diag([2, 2, 3, 1])), w + '/cf.nii')
nib.save(nib.Nifti1Image(rng.integers(-40000, 40000, (9, 8, 7)).astype(np.int32), np.eye(4)), w + '/ci.nii')
nib.save(nib.Nifti1Image(rng.integers(-250, 0, (9, 8, 7)).astype(np.int16), np.eye(4)), w + '/cn.nii')
for src in ('cf', 'ci', 'cn'):
    img = nib.load(w + '/%s.nii' % src)
    for dt in ('uint8', 'int16'):
        out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine)
        out.set_data_dtype(np.dtype(dt))
        nib.save(out, w + '/nib_%s_%s.nii' % (src, dt))
PYEOF
  CMP='import sys, numpy as np, nibabel as nib
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
sa, sb = (float(a.dataobj.slope), float(a.dataobj.inter)), (float(b.dataobj.slope), float(b.dataobj.inter))
x, y = a.get_fdata(), b.get_fdata()
ok = b.get_data_dtype() == a.get_data_dtype() and np.nanmax(np.abs(x - y)) <= abs(sa[0]) and np.allclose(sa, sb, rtol=1e-6)
if not ok: print("  nibabel", sa, "mvtool", sb, "max diff", np.nanmax(np.abs(x - y)))
sys.exit(0 if ok else 1)'
  # (cf -> int16 fits the range: nibabel scales float data anyway; --scale does the same)
  for c in "cf uint8" "cf int16 --scale" "ci uint8" "ci int16" "cn uint8" "cn int16"; do
    set -- $c
    $T convert "$W/$1.nii" "$W/mv.nii" --dtype $2 ${3:-} 2> "$W/err" && "$PY" -c "$CMP" "$W/nib_$1_$2.nii" "$W/mv.nii" \
      && ok || bad "convert $1 --dtype $2 ${3:-} vs nib.save"
  done
  if [ -f "$D/nifti/functional.nii" ]; then # a scaled int16 file written by another tool
    "$PY" -c 'import sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine)
out.set_data_dtype(np.uint8); nib.save(out, sys.argv[2])' "$D/nifti/functional.nii" "$W/nib_fu.nii" \
      && $T convert "$D/nifti/functional.nii" "$W/mv.nii" --dtype uint8 2>/dev/null && "$PY" -c "$CMP" "$W/nib_fu.nii" "$W/mv.nii" \
      && ok || bad "convert functional.nii (scaled int16) --dtype uint8 vs nib.save"
  fi
  $T convert "$W/cf.nii" "$W/mv.nii" --dtype uint8 2> "$W/err" && grep -q "scl_slope" "$W/err" && ok || bad "convert says the slope"
  $T convert "$W/cf.nii" "$W/mv.nii" --dtype uint8 --saturate 2> "$W/err" && grep -q "saturate in uint8" "$W/err" \
    && "$PY" -c 'import sys, numpy as np, nibabel as nib
b = nib.load(sys.argv[1]); y = np.asanyarray(b.dataobj)
sys.exit(0 if float(b.dataobj.slope) == 1 and y.min() == 0 and y.max() == 255 else 1)' "$W/mv.nii" \
    && ok || bad "convert --saturate clips"
else
  echo "  (skip convert vs nib.save: no numpy/nibabel)"
fi

# time points against nibabel: frames (fslroi's time form), split (fslsplit), merge (fslmerge -t)
if [ -f "$D/nifti/example4d.nii.gz" ] && "$PY" -c 'import numpy, nibabel' 2>/dev/null; then
  E="$D/nifti/example4d.nii.gz" F="$D/nifti/functional.nii"
  SL='import sys, numpy as np, nibabel as nib
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2]); t0, n = int(sys.argv[3]), int(sys.argv[4])
want = np.asanyarray(a.dataobj)[..., t0:t0 + n]
if n == 1: want = want[..., 0]
got = np.asanyarray(b.dataobj)
sys.exit(0 if got.shape == want.shape and np.array_equal(got, want) and np.allclose(a.affine, b.affine)
         and b.get_data_dtype() == a.get_data_dtype() else 1)'
  $T frames "$E" "$W/fr.nii" 1 && "$PY" -c "$SL" "$E" "$W/fr.nii" 1 1 && $T info "$W/fr.nii" | grep -q "(3D" && ok || bad "frames T0 -> 3D"
  $T frames "$F" "$W/fr.nii" 5,3 && "$PY" -c "$SL" "$F" "$W/fr.nii" 5 3 && ok || bad "frames T0,N of a scaled file"
  $T frames "$F" "$W/fr.nii" 20 2> "$W/err"; [ $? -eq 1 ] && grep -q "functional.nii" "$W/err" && ok || bad "frames past the end names the file"
  mkdir -p "$W/sp" && $T split "$F" "$W/sp/t" && [ "$(ls "$W/sp" | wc -l)" = 20 ] && [ -f "$W/sp/t0000.nii.gz" ] && [ -f "$W/sp/t0019.nii.gz" ] \
    && "$PY" -c "$SL" "$F" "$W/sp/t0007.nii.gz" 7 1 && ok || bad "split"
  $T split "$F" "$W/sp/u.nii" && [ -f "$W/sp/u0003.nii" ] && ok || bad "split PREFIX.nii names"
  # MetaImage frames (unscaled int16: MetaImage has no scaling), read back through NIfTI against nibabel
  mkdir -p "$W/spm" && $T split "$E" "$W/spm/m.mhd" && [ -f "$W/spm/m0001.mhd" ] && [ -f "$W/spm/m0001.raw" ] \
    && $T info "$W/spm/m0001.mhd" | grep -q "MetaImage" && $T convert "$W/spm/m0001.mhd" "$W/spm/m1.nii" \
    && "$PY" -c "$SL" "$E" "$W/spm/m1.nii" 1 1 && ok || bad "split PREFIX.mhd names and frames"
  TA=$(realpath "$T") FA=$(realpath "$F"); (cd "$W/sp" && "$TA" split "$FA" 2>/dev/null); [ -f "$W/sp/vol0019.nii.gz" ] && ok || bad "split's default PREFIX vol"
  $T frames "$F" "$W/fr2.nii" 5 3 && cmp -s "$W/fr.nii" "$W/fr2.nii" && ok || bad "frames T0 N (fslroi's form) = T0,N"
  $T frames "$F" "$W/f3.nii" 2,3 && $T merge "$W/m.nii" "$W/sp/t0000.nii.gz" "$W/sp/t0001.nii.gz" "$W/f3.nii" \
    && "$PY" -c "$SL" "$F" "$W/m.nii" 0 5 && ok || bad "merge 3D + 3D + 4D = the frames (nibabel)"
  $T merge "$W/m.nii" "$W/sp/t0000.nii.gz" "$W/fr.nii" "$E" 2> "$W/err"; [ $? -eq 1 ] && grep -q "example4d.nii.gz: another grid" "$W/err" \
    && ok || bad "merge names the file that differs"
  $T phantom "$W/m1.nii" --size 8 && $T phantom "$W/m2.nii" --size 8 --kind smooth && $T merge "$W/m.nii" "$W/m1.nii" "$W/m2.nii" \
    && "$PY" -c 'import sys, numpy as np, nibabel as nib
a, b, m = (nib.load(p) for p in sys.argv[1:4])
sys.exit(0 if np.array_equal(m.get_fdata(), np.stack([a.get_fdata(), b.get_fdata()], axis=3)) and np.allclose(m.affine, a.affine) else 1)' \
      "$W/m1.nii" "$W/m2.nii" "$W/m.nii" && ok || bad "merge of two phantoms = np.stack"
else
  echo "  (skip frames/split/merge vs nibabel: no example4d or nibabel)"
fi

# integrity (issue 18): medvol's own indexed .nii.gz loaded on 1-8 threads
# gives nibabel's statistics every time; a damaged .nii.gz (gzip -t fails)
# is exit 1 naming the file and the gzip member, never statistics
if "$PY" -c 'import nibabel' 2>/dev/null; then
  $T phantom "$W/race.nii.gz" --size 160 --kind smooth
  want=$("$PY" -c 'import sys, nibabel as nib, numpy as np
d = nib.load(sys.argv[1]).get_fdata(dtype=np.float64); print("%.6e %.6e" % (d.mean(), d.std()))' "$W/race.nii.gz")
  nbad=0
  for th in 1 2 3 8; do for r in 1 2 3 4 5; do
    got=$($T --threads $th stats "$W/race.nii.gz" 2>/dev/null | awk '{split($2,m,"="); split($3,s,"="); printf "%.6e %.6e", m[2], s[2]}') || got=error
    [ "$got" = "$want" ] || nbad=$((nbad + 1))
  done; done
  [ $nbad -eq 0 ] && ok || bad "stats of an indexed .nii.gz on 1-8 threads: $nbad of 20 differ from nibabel ($want)"
  cp "$W/race.nii.gz" "$W/dmg.nii.gz"
  len=$(stat -c %s "$W/dmg.nii.gz")
  ndet=0 nbad=0
  for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
    cp "$W/race.nii.gz" "$W/dmg.nii.gz"
    pos=$(( (k * 2654435761) % (len - 20) + 10 ))
    printf "$(printf '\\x%02x' $(( $(od -An -tu1 -j $pos -N1 "$W/dmg.nii.gz") ^ 16 )))" | dd of="$W/dmg.nii.gz" bs=1 seek=$pos conv=notrunc 2>/dev/null
    if ! gzip -t "$W/dmg.nii.gz" 2>/dev/null; then
      ndet=$((ndet + 1))
      $T stats "$W/dmg.nii.gz" > "$W/out" 2> "$W/err"
      rc=$?
      { [ $rc -eq 1 ] && [ ! -s "$W/out" ] && grep -q "dmg.nii.gz" "$W/err" && grep -q "gzip member" "$W/err"; } || { nbad=$((nbad + 1)); cat "$W/err"; }
      $T convert "$W/dmg.nii.gz" "$W/dmg-out.nii" 2>/dev/null && nbad=$((nbad + 1))
      [ -e "$W/dmg-out.nii" ] && nbad=$((nbad + 1))
    fi
  done
  [ $ndet -ge 6 ] && [ $nbad -eq 0 ] && ok || bad "damaged .nii.gz: $ndet flips detected by gzip -t, $nbad loaded or unnamed"
else
  echo "  (skip integrity vs nibabel: no nibabel)"
fi

# mvtool math / label / edt (>>api-math, >>api-morph) against the numpy /
# scipy.ndimage expressions on nibabel's float32 values
if [ -f "$D/nifti/anatomical.nii" ] && "$PY" -c 'import nibabel, scipy.ndimage' 2>/dev/null; then
  A="$D/nifti/anatomical.nii" F="$D/nifti/functional.nii"
  mcheck() { # name, python expression of x (and m, f) that the output must equal bit for bit
    "$PY" - "$A" "$F" "$W/$1.nii" "$2" "$W/mask.nii" <<'PYEOF'
import sys, numpy as np, nibabel as nib, scipy.ndimage as ndi
F32 = np.float32
x = nib.load(sys.argv[1]).get_fdata().astype(F32)  # VALUES of >>api-math
f = nib.load(sys.argv[2]).get_fdata().astype(F32)
try:
    m = nib.load(sys.argv[5]).get_fdata().astype(F32)
except Exception:
    m = None
img = nib.load(sys.argv[3])
y = np.asarray(img.dataobj)
with np.errstate(all='ignore'):
    want = np.asarray(eval(sys.argv[4]))
same = y.shape == want.shape and y.dtype == want.dtype and np.array_equal(y, want, equal_nan=True)
ref = nib.load(sys.argv[1]) if y.shape[:3] == x.shape else nib.load(sys.argv[2])
if not same or not np.allclose(img.affine, ref.affine):
    print('  %s: %s %s vs %s %s' % (sys.argv[3], y.dtype, y.shape, want.dtype, want.shape))
    sys.exit(1)
PYEOF
  }
  $T math "$A" -thr 9000 -uthr 20000 -mul 0.5 -add 3 -sqrt "$W/m1.nii" && mcheck m1 \
    "np.sqrt(np.where(np.where(x < F32(9000), F32(0), x) > F32(20000), F32(0), np.where(x < F32(9000), F32(0), x)) * F32(0.5) + F32(3))" \
    && ok || bad "math -thr -uthr -mul -add -sqrt"
  $T math "$A" -thr 10000 -bin "$W/mask.nii" && mcheck mask "(np.where(x < F32(10000), F32(0), x) > 0).astype(F32)" && ok || bad "math -thr -bin"
  $T math "$A" -mas "$W/mask.nii" -div 7 -max 100 "$W/m2.nii" && mcheck m2 \
    "np.maximum(np.where(m > 0, x, F32(0)) / F32(7), F32(100))" && ok || bad "math -mas -div -max"
  $T math "$W/mask.nii" -ero "$W/m3.nii" && mcheck m3 \
    "np.where(ndi.binary_erosion(m != 0, np.ones((3, 3, 3), bool), border_value=1), m, F32(0)).astype(F32)" \
    && ok || bad "math -ero"
  $T math "$W/mask.nii" -dil -fillh "$W/m4.nii" && mcheck m4 \
    "ndi.binary_fill_holes(ndi.grey_dilation(m, size=(3, 3, 3)) != 0).astype(F32)" && ok || bad "math -dil -fillh"
  $T math "$F" -Tmean "$W/m5.nii" && mcheck m5 "f.astype(np.float64).mean(axis=3).astype(F32)" && ok || bad "math -Tmean"
  $T math "$F" -Tstd "$W/m6.nii" && mcheck m6 "f.astype(np.float64).std(axis=3).astype(F32)" && ok || bad "math -Tstd"
  $T math "$F" -sub "$W/m5.nii" -abs "$W/m7.nii" && mcheck m7 "np.abs(f - f.astype(np.float64).mean(axis=3).astype(F32)[..., None])" \
    && ok || bad "math: a 3D operand over a 4D series"
  $T label "$W/mask.nii" "$W/lab.nii" > "$W/out" && grep -q "53 components" "$W/out" && mcheck lab \
    "ndi.label(m != 0, structure=np.ones((3, 3, 3), bool))[0].astype(np.int32)" && ok || bad "label (26)"
  $T label "$W/mask.nii" "$W/lab2.nii" --connectivity 6 --largest 3 --order size > /dev/null && mcheck lab2 \
    "(lambda l: (lambda o: np.select([l == o[0], l == o[1], l == o[2]], [1, 2, 3], 0).astype(np.int32))(sorted(range(1, l.max() + 1), key=lambda k: (-np.sum(l == k), k))))(ndi.label(m != 0)[0])" \
    && ok || bad "label --connectivity 6 --largest 3 --order size"
  $T edt "$W/mask.nii" "$W/edt.nii" && "$PY" - "$W/mask.nii" "$W/edt.nii" <<'PYEOF' && ok || bad "edt vs scipy (1 ulp)"
import sys, numpy as np, nibabel as nib, scipy.ndimage as ndi
mi = nib.load(sys.argv[1])
want = ndi.distance_transform_edt(mi.get_fdata() != 0, sampling=mi.header.get_zooms()[:3]).astype(np.float32)
y = np.asarray(nib.load(sys.argv[2]).dataobj)
d = np.abs(y.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
sys.exit(0 if y.dtype == np.float32 and d.max() <= 1 else 1)
PYEOF
  $T math "$A" -thr 14000 "$W/hi.nii" && $T crop-foreground "$W/hi.nii" "$W/crop.nii" --margin 1 > /dev/null && \
    "$PY" - "$W/hi.nii" "$W/crop.nii" <<'PYEOF' && ok || bad "crop-foreground vs numpy (box of x > 0, margin 1, affine kept)"
import sys, numpy as np, nibabel as nib
a, c = nib.load(sys.argv[1]), nib.load(sys.argv[2])
x = a.get_fdata()
nz = np.argwhere(x > 0)
lo, hi = np.maximum(nz.min(0) - 1, 0), np.minimum(nz.max(0) + 1, np.array(x.shape) - 1)
want = x[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1]
aff = a.affine.copy(); aff[:3, 3] = a.affine[:3, :3] @ lo + a.affine[:3, 3]
sys.exit(0 if np.array_equal(c.get_fdata(), want) and np.allclose(c.affine, aff) else 1)
PYEOF
  $T regions "$A" "$W/lab.nii" > "$W/reg" && "$PY" - "$A" "$W/lab.nii" "$W/reg" <<'PYEOF' && ok || bad "regions vs numpy"
import sys, numpy as np, nibabel as nib
x = nib.load(sys.argv[1]).get_fdata().astype(np.float32).astype(np.float64)
li = nib.load(sys.argv[2]); l = np.asarray(li.dataobj)
rows = [r.split() for r in open(sys.argv[3]).read().splitlines()[1:]]
assert len(rows) == l.max()
for r in rows:
    k = int(r[1]); v = x[l == k]; ijk = np.argwhere(l == k).mean(0)
    c = li.affine[:3, :3] @ ijk + li.affine[:3, 3]
    assert int(r[2]) == v.size and abs(float(r[3]) - v.size * 8.0) < 1e-9
    for got, want in zip(map(float, r[4:9]), [v.mean(), v.std(), v.min(), v.max(), v.sum()]):
        assert abs(got - want) <= 1e-7 * max(1.0, abs(want)), (k, got, want)  # printed with 8 digits
    for got, want in zip(map(float, r[9:12]), c):
        assert abs(got - want) <= 6e-5, (k, got, want)  # printed with 4 decimals
PYEOF
  $T math "$A" -s 3 "$W/sm.nii" && "$PY" - "$A" "$W/sm.nii" <<'PYEOF' && ok || bad "math -s vs scipy gaussian_filter"
import sys, numpy as np, nibabel as nib, scipy.ndimage as ndi
a = nib.load(sys.argv[1]); x = a.get_fdata().astype(np.float32).astype(np.float64)
want = ndi.gaussian_filter(x, 3.0 / np.array(a.header.get_zooms()[:3]))
y = np.asarray(nib.load(sys.argv[2]).dataobj)
sys.exit(0 if y.dtype == np.float32 and np.abs(y - want).max() <= 1e-5 * np.abs(x).max() else 1)
PYEOF
  $T math "$A" -add "$F" "$W/bad.nii" 2> "$W/err"; rc=$?
  [ $rc -eq 1 ] && grep -q "33x41x25" "$W/err" && grep -q "17x21x3" "$W/err" && ok || bad "math on two grids: $(cat "$W/err")"
  $T math "$A" -frob 2 "$W/bad.nii" 2> "$W/err"; [ $? -eq 2 ] && grep -q -- "-frob" "$W/err" && ok || bad "math: unknown op named"
else
  echo "  (skip math/label/edt: no nibabel/scipy)"
fi

# filters: smooth and gradient against scipy.ndimage.gaussian_filter / numpy.gradient
if [ -f "$D/nifti/anatomical.nii" ] && "$PY" -c 'import scipy, nibabel' 2>/dev/null; then
  A="$D/nifti/anatomical.nii"
  F="$PY tests/py/check_filter_file.py"
  for c in "2 0 reflect" "1.5,0,3vox 0 nearest" "2mm 1 mirror" "1,2,0.5mm 1 wrap" "2.5 0 constant"; do
    set -- $c
    sig=${1%mm}; sig=${sig%vox}
    case $sig in *,*) ;; *) sig="$sig,$sig,$sig" ;; esac
    $T smooth "$A" "$W/sm.nii" "$1" --mode "$3" --cval 7 && $F "$A" "$W/sm.nii" smooth "$sig" "$2" "$3" 7 >/dev/null \
      && ok || bad "smooth $1 --mode $3 vs scipy"
  done
  $T smooth "$D/nifti/functional.nii" "$W/sm4.nii" 1.5 && $F "$D/nifti/functional.nii" "$W/sm4.nii" smooth 1.5,1.5,1.5 0 reflect 0 \
    >/dev/null && ok || bad "smooth a 4D file vs scipy"
  $T gradient "$A" "$W/gr.nii" && $F "$A" "$W/gr.nii" gradient >/dev/null && ok || bad "gradient vs numpy.gradient"
  $T smooth "$A" "$W/sm.nii" 2,x,1 2> "$W/err"; [ $? -eq 2 ] && grep -q "2,x,1" "$W/err" && ok || bad "smooth: bad SIGMA named"
  $T smooth "$A" "$W/sm.nii" 2 --mode edge 2> "$W/err"; [ $? -eq 2 ] && grep -q "edge" "$W/err" && ok || bad "smooth: bad --mode named"
  $T pyramid "$A" "$W/py.nii" 4x2x1 --smooth 2x1x0vox && $T info "$W/py.nii" | grep -q "dims         16 x 16 x 16" \
    && ok || bad "pyramid level 0 of 4x2x1 (min size 16)"
  $T pyramid "$A" "$W/py.nii" 4xjunkx1 2> "$W/err"; [ $? -eq 2 ] && grep -q '"junk"' "$W/err" && ok || bad "pyramid: bad word named"
else
  echo "  (skip filters vs scipy: no anatomical.nii or no scipy/nibabel)"
fi

# displacement fields (>>api-field): a smooth field written by nibabel
# (intent 1007, LPS mm) on anatomical.nii's grid; warp-field against
# scipy map_coordinates (tests/py/ref_field.py), jacobian against
# numpy.gradient, invert-field + compose-field round trip within the
# residual it reports, and the error contract
if [ -f "$D/nifti/anatomical.nii" ] && "$PY" -c 'import nibabel, scipy' 2>/dev/null; then
  F="$W/fd" && mkdir -p "$F"
  cp "$D/nifti/anatomical.nii" "$F/moving.nii"
  "$PY" - "$F" <<'PYEOF'
import sys, numpy as np, nibabel as nib
d = sys.argv[1]
img = nib.load(d + '/moving.nii')
sh = img.shape[:3]
i, j, k = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in sh], indexing='ij')
f = np.zeros(sh + (1, 3), np.float32)
for c in range(3):
    f[..., 0, c] = 1.5 * np.sin(0.2 * i + 0.15 * (c + 1) * j + 0.1 * k + c)
out = nib.Nifti1Image(f, img.affine)
out.header.set_intent('vector')
nib.save(out, d + '/field.nii')
np.savetxt(d + '/M.txt', np.array([[0.99, -0.05, 0.01, 1.5], [0.04, 1.02, 0.03, -0.8], [-0.01, -0.02, 0.98, 0.6], [0, 0, 0, 1]]))
PYEOF
  for interp in linear:1 nearest:0 cubic:3; do
    $T warp-field "$F/moving.nii" "$F/moving.nii" "$F/w.nii" --field "$F/field.nii" --interp ${interp%%:*} 2> "$W/err" || bad "warp-field ${interp%%:*}: $(cat "$W/err")"
    r=$("$PY" tests/py/ref_field.py warp "$F" w ${interp##*:} 0 0) && awk -v r="$r" -v o=${interp##*:} 'BEGIN { split(r, v, " ");
      if (v[1] != "ok") exit 1; if (o == 0) exit (v[4] != 0); exit !(v[2] <= 1e-5 * v[3]) }' && ok || bad "warp-field ${interp%%:*} vs scipy: $r"
  done
  $T warp-field "$F/moving.nii" "$F/moving.nii" "$F/w.nii" --field "$F/field.nii" --matrix "$F/M.txt" 2> "$W/err" || bad "warp-field --matrix: $(cat "$W/err")"
  r=$("$PY" tests/py/ref_field.py warp "$F" w 1 0 0 $(head -3 "$F/M.txt")) && awk -v r="$r" 'BEGIN { split(r, v, " ");
    exit !(v[1] == "ok" && v[2] <= 1e-5 * v[3]) }' && ok || bad "warp-field --matrix vs scipy: $r"
  # the same field and matrix as SimpleITK writes them in one ITK .h5
  # (CompositeTransform([affine, field]), ANTs' layout): warp-field --field X.h5
  # gives --field F --matrix M's voxels (grids equal up to the NIfTI float32 rounding)
  if "$PY" -c 'import SimpleITK' 2>/dev/null; then
    "$PY" -c 'import sys, numpy as np, SimpleITK as sitk
d = sys.argv[1]
f = sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(d + "/field.nii"), sitk.sitkVectorFloat64))
S = np.diag([-1.0, -1.0, 1.0, 1.0]); L = S @ np.loadtxt(d + "/M.txt") @ S
a = sitk.AffineTransform(3); a.SetMatrix([float(x) for x in L[:3, :3].ravel()]); a.SetTranslation([float(x) for x in L[:3, 3]])
sitk.WriteTransform(sitk.CompositeTransform([a, f]), d + "/xfm.h5")' "$F" && \
    $T warp-field "$F/moving.nii" "$F/moving.nii" "$F/wh.nii" --field "$F/xfm.h5" 2> "$W/err" && \
    "$PY" -c 'import sys, numpy as np, nibabel as nib
a = np.asarray(nib.load(sys.argv[1]).dataobj, np.float64); b = np.asarray(nib.load(sys.argv[2]).dataobj, np.float64)
sys.exit(0 if np.abs(a - b).max() <= 1e-4 * max(1.0, np.ptp(a)) else 1)' "$F/w.nii" "$F/wh.nii" && ok \
      || bad "warp-field --field X.h5 (SimpleITK's composite) vs --field F --matrix M: $(cat "$W/err")"
    # the field alone in a .h5 (SimpleITK's writer): jacobian reads it as the NIfTI;
    # the composite (linear members besides) is refused, naming them
    "$PY" -c 'import sys, SimpleITK as sitk
d = sys.argv[1]
sitk.WriteTransform(sitk.DisplacementFieldTransform(sitk.Cast(sitk.ReadImage(d + "/field.nii"), sitk.sitkVectorFloat64)),
                    d + "/fonly.h5")' "$F" && \
      $T jacobian "$F/field.nii" "$F/jn.nii" 2> /dev/null && $T jacobian "$F/fonly.h5" "$F/jh.nii" 2> "$W/err" && \
      "$PY" -c 'import sys, numpy as np, nibabel as nib
a, b = [nib.load(p) for p in sys.argv[1:3]]
sys.exit(0 if np.array_equal(a.get_fdata(), b.get_fdata()) and np.allclose(a.affine, b.affine, atol=1e-5) else 1)' \
        "$F/jn.nii" "$F/jh.nii" && ok || bad "jacobian X.h5 (a field alone) vs jacobian of its NIfTI: $(cat "$W/err")"
    ! $T jacobian "$F/xfm.h5" "$F/jx.nii" 2> "$W/err" && grep -q "linear members" "$W/err" && [ ! -e "$F/jx.nii" ] && ok \
      || bad "jacobian of a composite .h5: want a refusal naming its linear members: $(cat "$W/err")"
  fi
  $T jacobian "$F/field.nii" "$F/jac.nii" 2> "$W/err" && grep -q "folded voxels" "$W/err" && \
    r=$("$PY" tests/py/ref_field.py jac "$F") && awk -v r="$r" -v e="$(cat "$W/err")" 'BEGIN { split(r, v, " ");
      split(e, w, " "); exit !(v[1] == "ok" && v[2] <= 1e-5 && w[2] == v[3]) }' && ok || bad "jacobian vs numpy: $r / $(cat "$W/err")"
  $T invert-field "$F/field.nii" "$F/inv.nii" 2> "$W/err" && res=$(awk '{ print $6 }' "$W/err") && \
    $T compose-field "$F/field.nii" "$F/inv.nii" "$F/c.nii" && \
    "$PY" -c 'import sys, numpy as np, nibabel as nib
c = np.asarray(nib.load(sys.argv[1]).dataobj, np.float64)
m = np.sqrt((c ** 2).sum(axis=-1)).max()
sys.exit(0 if m <= float(sys.argv[2]) * 1.001 + 1e-5 and float(sys.argv[2]) < 1e-3 else 1)' "$F/c.nii" "$res" && ok || bad "invert-field + compose-field: residual $res: $(cat "$W/err")"
  $T warp-field "$F/moving.nii" "$F/moving.nii" "$F/x.nii" --field "$F/moving.nii" 2> "$W/err"
  [ $? -eq 1 ] && grep -q "displacement field" "$W/err" && grep -q "moving.nii" "$W/err" && [ ! -e "$F/x.nii" ] && ok || bad "warp-field by a non-field: $(cat "$W/err")"
  $T warp-field "$F/moving.nii" "$F/moving.nii" "$F/x.nii" 2> /dev/null
  [ $? -eq 2 ] && ok || bad "warp-field without --field is a usage error"
  # demons undoes a known deformation (measured on this 2 mm noisy image: NCC 0.83 -> 0.92, MSE
  # halved; the floor is the interpolation of the deformed copy)
  $T warp-field "$F/moving.nii" "$F/moving.nii" "$F/def.nii" --field "$F/field.nii" 2> "$W/err" && \
    $T demons "$F/moving.nii" "$F/def.nii" "$F/dm.nii" --out "$F/dmw.nii" 2> "$W/err" && grep -q "MSE" "$W/err" && \
    "$PY" -c 'import sys, numpy as np, nibabel as nib
f, m, w = [np.asarray(nib.load(p).dataobj, np.float64).ravel() for p in sys.argv[1:4]]
ncc = lambda a, b: np.corrcoef(a, b)[0, 1]
sys.exit(0 if ncc(f, w) > ncc(f, m) + 0.05 and ((f - w) ** 2).mean() < 0.6 * ((f - m) ** 2).mean() else 1)' "$F/moving.nii" "$F/def.nii" "$F/dmw.nii" && ok || bad "demons: $(tail -2 "$W/err")"
else
  echo "  (skip displacement fields: no anatomical.nii or nibabel/scipy)"
fi

# register / warp (issue 12): ITK's PD slice moved by a known rigid map
# onto another grid (tests/py/reg_data.py); the matrix against the truth,
# warp --matrix / --tfm against register --out, one stderr line per level
if "$PY" tests/py/reg_data.py build/regdata 2>/dev/null | grep -q '^ok.*2d'; then
  R=build/regdata
  if $T register $R/slice2d_pd_fixed.nii $R/slice2d_pd_moving.nii --metric mse --levels 4x2x1 \
       --out-matrix "$W/m.txt" --out-tfm "$W/t.tfm" --out "$W/w.nii" 2> "$W/err"; then
    [ "$(grep -c '^level' "$W/err")" -eq 3 ] && ok || bad "register: not one line per level: $(cat "$W/err")"
    "$PY" -c 'import numpy as np, sys; a = np.loadtxt(sys.argv[1]); b = np.loadtxt(sys.argv[2]); sys.exit(0 if np.abs(a - b).max() < 1e-3 else 1)' \
      "$W/m.txt" $R/slice2d_pd_true.txt && ok || bad "register: matrix $(cat "$W/m.txt") vs truth $(cat $R/slice2d_pd_true.txt)"
    $T warp $R/slice2d_pd_moving.nii $R/slice2d_pd_fixed.nii "$W/w2.nii" --matrix "$W/m.txt" && cmp -s "$W/w.nii" "$W/w2.nii" && ok \
      || bad "warp --matrix differs from register --out"
    $T warp $R/slice2d_pd_moving.nii $R/slice2d_pd_fixed.nii "$W/w3.nii" --tfm "$W/t.tfm" && ok || bad "warp --tfm"
    "$PY" -c 'import nibabel as nib, numpy as np, sys; a = nib.load(sys.argv[1]).get_fdata(); b = nib.load(sys.argv[2]).get_fdata(); sys.exit(0 if np.abs(a - b).max() <= 1e-3 * np.ptp(a) else 1)' \
      "$W/w.nii" "$W/w3.nii" && ok || bad "warp --tfm differs from --matrix"
  else
    bad "register: $(cat "$W/err")"
  fi
  $T register $R/slice2d_pd_fixed.nii $R/slice2d_pd_moving.nii --quiet --iterations 2x2x2 --out-matrix "$W/q.txt" \
    --out-tfm "$W/q.h5" 2> "$W/err" && [ ! -s "$W/err" ] && ok || bad "register --quiet wrote to stderr: $(cat "$W/err")"
  # ITK's HDF5 form: warp --tfm q.h5 gives warp --matrix q.txt's voxels
  head -c 8 "$W/q.h5" | od -An -c | grep -q 'H   D   F' && $T warp $R/slice2d_pd_moving.nii $R/slice2d_pd_fixed.nii "$W/wh.nii" --tfm "$W/q.h5" \
    && $T warp $R/slice2d_pd_moving.nii $R/slice2d_pd_fixed.nii "$W/wq.nii" --matrix "$W/q.txt" && cmp -s "$W/wh.nii" "$W/wq.nii" \
    && ok || bad "register --out-tfm X.h5, then warp --tfm X.h5"
  $T register $R/slice2d_pd_fixed.nii $R/slice2d_pd_moving.nii --transform bogus 2> "$W/err"
  [ $? -eq 2 ] && grep -q bogus "$W/err" && ok || bad "register --transform bogus: not a usage error naming it"
  $T register $R/slice2d_pd_fixed.nii "$W/absent.nii" 2> "$W/err"
  [ $? -eq 1 ] && grep -q absent.nii "$W/err" && ok || bad "register with a missing moving file: $(cat "$W/err")"
  $T warp $R/slice2d_pd_moving.nii $R/slice2d_pd_fixed.nii "$W/w4.nii" 2> "$W/err"
  [ $? -eq 2 ] && [ ! -e "$W/w4.nii" ] && ok || bad "warp without --matrix/--tfm"
else
  echo "  (skip register/warp: tests/py/reg_data.py found no data: offline or no numpy/scipy/nibabel)"
fi

# SimpleITK's field of ITK transform file T (sitk.ReadTransform,
# TransformToDisplacementField) on the grid of field file F (nibabel, LPS
# vectors) equals F within TOL (relative to the largest |d|, mm):
# sitk_field_ok T F TOL (a 2D transform when F has 2 components)
sitk_field_ok() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys, numpy as np, nibabel as nib, SimpleITK as sitk
tf = sitk.ReadTransform(sys.argv[1])
F = nib.load(sys.argv[2]); d = np.asarray(F.dataobj, np.float64)  # (X, Y, Z, 1, nc)
nd = d.shape[-1]
A = np.diag([-1.0, -1, 1, 1]) @ F.affine  # LPS
L = A[:nd, :nd]; sp = np.sqrt((L ** 2).sum(axis=0))
size = [int(x) for x in d.shape[:nd]]
ref = sitk.TransformToDisplacementField(tf, sitk.sitkVectorFloat64, size, [float(x) for x in A[:nd, 3]],
                                        [float(x) for x in sp], [float(x) for x in (L / sp).ravel()])
want = np.moveaxis(sitk.GetArrayFromImage(ref), range(nd), range(nd - 1, -1, -1))  # (X, Y[, Z], nc)
got = d[:, :, 0, 0, :] if nd == 2 else d[:, :, :, 0, :]
err = np.abs(got - want).max()
print('    SimpleITK reads %s: its field within %.2g mm of medvol\'s (|d| up to %.2f)' % (sys.argv[1].split('/')[-1], err, np.abs(want).max()))
sys.exit(0 if err <= float(sys.argv[3]) * max(1.0, np.abs(want).max()) else 1)
PYEOF
}

# ITK B-splines (mv_itk_transform_read): SimpleITK lays a cubic B-spline over
# a smooth phantom's grid (an oblique one) and writes [Affine, BSpline] as
# .tfm and .h5; tfm-field gives SimpleITK's TransformToDisplacementField, warp
# --tfm the warp of that field. Then displacement fields: that field as a
# DisplacementFieldTransform .h5 gives itself back, and ANTs' inverse layout
# [field, affine] (the field applied last) gives SimpleITK's field too
if "$PY" -c 'import SimpleITK, nibabel' 2>/dev/null; then
  $T phantom "$W/bs_ref.nii" --size 20 --kind smooth && "$PY" - "$W" <<'PYEOF' && ok || bad "SimpleITK B-spline files"
import sys, numpy as np, SimpleITK as sitk
w = sys.argv[1]
img = sitk.ReadImage(w + '/bs_ref.nii')
D = np.array([[0.8, -0.6, 0], [0.6, 0.8, 0], [0, 0, 1.0]])  # about the same centre, 1.5 mm off
c = np.array(img.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2.0 for n in img.GetSize()]))
img.SetDirection(list(D.ravel()))
img.SetOrigin(list(c + 1.5 - D @ (np.array(img.GetSpacing()) * (np.array(img.GetSize()) - 1) / 2.0)))
sitk.WriteImage(img, w + '/bs_obl.nii')
bs = sitk.BSplineTransformInitializer(img, [3, 2, 4], 3)
bs.SetParameters(list(np.random.default_rng(5).normal(0, 2.0, len(bs.GetParameters()))))
aff = sitk.AffineTransform(3)
aff.SetMatrix([1.02, 0.05, 0, -0.04, 0.97, 0.02, 0, 0.03, 1.01])
aff.SetTranslation([1.5, -2.0, 0.75])
tf = sitk.CompositeTransform([aff, bs])
for ext in ('tfm', 'h5'):
    sitk.WriteTransform(tf, '%s/bs.%s' % (w, ext))
d = sitk.TransformToDisplacementField(tf, sitk.sitkVectorFloat64, img.GetSize(), img.GetOrigin(), img.GetSpacing(),
                                      img.GetDirection())
np.save(w + '/bs_field.npy', sitk.GetArrayFromImage(d))
sitk.WriteTransform(sitk.DisplacementFieldTransform(sitk.Image(d)), w + '/bs_dfield.h5')
inv = sitk.CompositeTransform([sitk.DisplacementFieldTransform(sitk.Image(d)), aff])
sitk.WriteTransform(inv, w + '/bs_inv.h5')
di = sitk.TransformToDisplacementField(inv, sitk.sitkVectorFloat64, img.GetSize(), img.GetOrigin(), img.GetSpacing(),
                                       img.GetDirection())
np.save(w + '/bs_inv_field.npy', sitk.GetArrayFromImage(di))
PYEOF
  for ext in tfm h5; do
    $T tfm-field "$W/bs.$ext" "$W/bs_obl.nii" "$W/bs_$ext.nii" && "$PY" - "$W/bs_$ext.nii" "$W/bs_field.npy" <<'PYEOF' \
      && ok || bad "tfm-field bs.$ext differs from SimpleITK's TransformToDisplacementField"
import sys, numpy as np, nibabel as nib
got = np.asarray(nib.load(sys.argv[1]).dataobj)[:, :, :, 0, :]  # (X, Y, Z, 3)
want = np.load(sys.argv[2]).transpose(2, 1, 0, 3)               # sitk's (Z, Y, X, 3)
err = np.abs(got - want).max()
sys.exit(0 if err <= 1e-5 * max(1.0, np.abs(want).max()) else print('max diff', err) or 1)
PYEOF
    $T warp "$W/bs_ref.nii" "$W/bs_obl.nii" "$W/bs_w_$ext.nii" --tfm "$W/bs.$ext" \
      && $T warp-field "$W/bs_ref.nii" "$W/bs_obl.nii" "$W/bs_wf_$ext.nii" --field "$W/bs_$ext.nii" --fill 0 \
      && cmp -s "$W/bs_w_$ext.nii" "$W/bs_wf_$ext.nii" && ok || bad "warp --tfm bs.$ext is not the warp of its field"
  done
  for f in dfield:field inv:inv_field; do
    $T tfm-field "$W/bs_${f%%:*}.h5" "$W/bs_obl.nii" "$W/bs_${f%%:*}.nii" \
      && "$PY" - "$W/bs_${f%%:*}.nii" "$W/bs_${f#*:}.npy" <<'PYEOF' && ok || bad "tfm-field bs_${f%%:*}.h5 differs from SimpleITK's"
import sys, numpy as np, nibabel as nib
got = np.asarray(nib.load(sys.argv[1]).dataobj)[:, :, :, 0, :]
want = np.load(sys.argv[2]).transpose(2, 1, 0, 3)
err = np.abs(got - want).max()
sys.exit(0 if err <= 1e-5 * max(1.0, np.abs(want).max()) else print('max diff', err) or 1)
PYEOF
  done
  $T warp "$W/bs_ref.nii" "$W/bs_obl.nii" "$W/bs_w_inv.nii" --tfm "$W/bs_inv.h5" \
    && $T warp-field "$W/bs_ref.nii" "$W/bs_obl.nii" "$W/bs_wf_inv.nii" --field "$W/bs_inv.nii" --fill 0 \
    && cmp -s "$W/bs_w_inv.nii" "$W/bs_wf_inv.nii" && ok || bad "warp --tfm bs_inv.h5 is not the warp of its field"
  # tfm-points: a CSV of LPS points (ANTs' x,y,z,t columns and more) through
  # each file as SimpleITK's TransformPoint maps them; a bad number refused
  printf 'x,y,z,t,label,comment\n' > "$W/pts.csv"
  "$PY" -c 'import sys, numpy as np, SimpleITK as sitk
img = sitk.ReadImage(sys.argv[1])  # points over its grid (index -1 to size): mostly where the B-spline and field act
for i, c in enumerate(np.random.default_rng(3).uniform(-1, 20, (40, 3))):
    p = img.TransformContinuousIndexToPhysicalPoint([float(v) for v in c])
    print("%r,%r,%r,0,%d,pt %d" % (*p, i, i))' "$W/bs_obl.nii" >> "$W/pts.csv"
  for f in bs.tfm bs.h5 bs_inv.h5; do
    $T tfm-points "$W/$f" "$W/pts.csv" "$W/pts_out.csv" 2> /dev/null && "$PY" - "$W/$f" "$W/pts.csv" "$W/pts_out.csv" <<'PYEOF' \
      && ok || bad "tfm-points $f differs from SimpleITK's TransformPoint"
import sys, csv, SimpleITK as sitk
tf = sitk.ReadTransform(sys.argv[1])
rows_in, rows_out = list(csv.reader(open(sys.argv[2]))), list(csv.reader(open(sys.argv[3])))
assert rows_in[0] == rows_out[0] and len(rows_in) == len(rows_out), 'header or count'
for a, b in zip(rows_in[1:], rows_out[1:]):
    want = tf.TransformPoint([float(v) for v in a[:3]])
    assert a[3:] == b[3:], (a, b)
    assert all(abs(float(g) - w) <= 1e-9 * max(1.0, abs(w)) for g, w in zip(b[:3], want)), (a, b, want)
PYEOF
  done
  printf 'x,y,z\n1,2,3\n4,abc,6\n' > "$W/pts_bad.csv"
  rm -f "$W/pts_bad_out.csv"
  $T tfm-points "$W/bs.h5" "$W/pts_bad.csv" "$W/pts_bad_out.csv" 2> "$W/err"
  [ $? -eq 1 ] && grep -q "line 3, column y: 'abc'" "$W/err" && [ ! -e "$W/pts_bad_out.csv" ] && ok \
    || bad "tfm-points with a bad number: $(cat "$W/err")"
  # tfm-convert: ITK files rewritten in the other form, and an elastix chain
  # [Affine, B-spline with a GridIndex and an oblique grid] and an elastix
  # affine (.mat) as ITK files: SimpleITK's field of each equals medvol's
  # field of the input; an Add step with a B-spline refused, no file
  for f in bs.h5:tfm bs.tfm:h5 bs_inv.h5:tfm; do
    i=${f%%:*}; o=conv_${i%%.*}.${f#*:}
    $T tfm-convert "$W/$i" "$W/$o" 2> /dev/null && $T tfm-field "$W/$i" "$W/bs_obl.nii" "$W/conv_ref.nii" \
      && sitk_field_ok "$W/$o" "$W/conv_ref.nii" 1e-6 > /dev/null && ok || bad "tfm-convert $i -> $o: SimpleITK's field differs"
  done
  "$PY" - "$W" <<'PYEOF' && ok || bad "elastix files for tfm-convert"
import sys, numpy as np
w = sys.argv[1]
geo = '(FixedImageDimension 3)\n(MovingImageDimension 3)\n(Size 20 20 20)\n(Spacing 1 1 1)\n(Origin 0 0 0)\n(Direction 1 0 0 0 1 0 0 0 1)\n'
c = np.random.default_rng(7).normal(0, 1.5, 7 * 6 * 5 * 3)
open(w + '/ex_bs.txt', 'w').write('(Transform "BSplineTransform")\n(NumberOfParameters %d)\n(TransformParameters %s)\n' % (len(c), ' '.join('%.6f' % v for v in c)) + geo +
    '(GridSize 7 6 5)\n(GridIndex -1 0 1)\n(GridSpacing 5 6 7)\n(GridOrigin -6 -14 -9)\n(GridDirection 0.8 0.6 0 -0.6 0.8 0 0 0 1)\n(BSplineTransformSplineOrder 3)\n')
for name, init, how in (('ex_af', 'ex_bs', 'Compose'), ('ex_add', 'ex_bs', 'Add'), ('ex_lin', None, 'Compose')):
    open('%s/%s.txt' % (w, name), 'w').write('(Transform "AffineTransform")\n(NumberOfParameters 12)\n(TransformParameters 1.02 0.03 0 -0.02 0.98 0.04 0 -0.03 1.01 -2 3 0.5)\n'
        '(InitialTransformParametersFileName "%s")\n(HowToCombineTransforms "%s")\n(CenterOfRotationPoint -9 -9 9)\n' % (
            '%s/%s.txt' % (w, init) if init else 'NoInitialTransform', how) + geo)
PYEOF
  for f in ex_af:h5 ex_af:tfm ex_lin:mat; do
    i=${f%%:*}; o=conv_$i.${f#*:}
    $T tfm-convert "$W/$i.txt" "$W/$o" --level 9 2> /dev/null && $T elastix-field "$W/$i.txt" "$W/conv_ref.nii" --ref "$W/bs_obl.nii" \
      && sitk_field_ok "$W/$o" "$W/conv_ref.nii" 1e-6 && ok || bad "tfm-convert $i.txt -> $o: SimpleITK's field differs"
  done
  $T tfm-convert "$W/ex_af.txt" "$W/conv_lv.h5" --level 12 2> "$W/err"
  [ $? -eq 2 ] && grep -q "'12'" "$W/err" && [ ! -e "$W/conv_lv.h5" ] && ok || bad "tfm-convert --level 12: not a usage error ($(cat "$W/err"))"
  $T tfm-convert "$W/ex_add.txt" "$W/conv_add.h5" 2> "$W/err"
  [ $? -eq 1 ] && grep -q '"Add"' "$W/err" && [ ! -e "$W/conv_add.h5" ] && ok \
    || bad "tfm-convert of an Add with a B-spline: not refused by name ($(cat "$W/err"))"
  # tfm-convert --elastix: SimpleITK's files as elastix files on bs_obl's grid (medvol's field of them is
  # SimpleITK's; a field in float32), an elastix chain rewritten on its own grid (the same field, byte for
  # byte), and the refusals: an ITK file without --ref, --ref without --elastix
  for i in bs.h5 bs_inv.h5; do
    o=conv_elx_${i%%.*}.txt
    $T tfm-convert "$W/$i" "$W/$o" --elastix --ref "$W/bs_obl.nii" 2> /dev/null && $T elastix-field "$W/$o" "$W/conv_ref.nii" \
      && sitk_field_ok "$W/$i" "$W/conv_ref.nii" 1e-6 > /dev/null && ok || bad "tfm-convert $i -> $o --elastix: the field differs"
  done
  $T tfm-convert "$W/ex_add.txt" "$W/conv_elx_add.txt" --elastix --interp cubic 2> /dev/null \
    && $T elastix-field "$W/ex_add.txt" "$W/conv_a.nii" && $T elastix-field "$W/conv_elx_add.txt" "$W/conv_b.nii" \
    && cmp -s "$W/conv_a.nii" "$W/conv_b.nii" && grep -q '"Add"' "$W/conv_elx_add.txt" && ok \
    || bad "tfm-convert --elastix of an elastix chain with Add: another field"
  rm -f "$W/conv_elx_none.txt"
  $T tfm-convert "$W/bs.h5" "$W/conv_elx_none.txt" --elastix 2> "$W/err"
  [ $? -eq 1 ] && grep -q "fixed grid" "$W/err" && [ ! -e "$W/conv_elx_none.txt" ] && ok \
    || bad "tfm-convert --elastix of an ITK file without --ref: $(cat "$W/err")"
  $T tfm-convert "$W/bs.h5" "$W/conv_elx_none.txt" --ref "$W/bs_obl.nii" 2> "$W/err"
  [ $? -eq 2 ] && [ ! -e "$W/conv_elx_none.txt" ] && ok || bad "tfm-convert --ref without --elastix: not a usage error"
  $T tfm-convert "$W/bs.h5" "$W/conv_elx_none.txt" --elastix --ref "$W/bs_obl.nii" --level 3 2> "$W/err"
  [ $? -eq 2 ] && [ ! -e "$W/conv_elx_none.txt" ] && ok || bad "tfm-convert --elastix --level: not a usage error"
else
  echo "  (skip ITK B-splines: no SimpleITK or nibabel)"
fi

# analysis (issue 15): corr-seed against a nilearn-style numpy map of the same
# file, corr-matrix against numpy.corrcoef of the atlas's region means
if [ -f "$D/nifti/functional.nii" ] && "$PY" -c 'import nibabel' 2>/dev/null; then
  F="$D/nifti/functional.nii"
  "$PY" - "$F" "$W" <<'PYEOF'
import sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); sh = img.shape[:3]
lab = np.zeros(sh, np.int16); lab[:8, :10] = 1; lab[8:, :10] = 3; lab[:, 10:, :2] = 7
nib.save(nib.Nifti1Image(lab, img.affine), sys.argv[2] + '/atlas.nii')
m = np.zeros(sh, np.uint8); m[6:9, 8:11, 1] = 1
nib.save(nib.Nifti1Image(m, img.affine), sys.argv[2] + '/seedmask.nii')
PYEOF
  check_seed() { # OUT then the seed in numpy terms
    "$PY" - "$F" "$1" "$2" <<'PYEOF'
import sys, numpy as np, nibabel as nib
d = nib.load(sys.argv[1]).get_fdata(dtype=np.float64)
got = np.asarray(nib.load(sys.argv[2]).dataobj, dtype=np.float64)
seed = sys.argv[3]
if seed.startswith('voxel:'):
    i, j, k = map(int, seed[6:].split(',')); s = d[i, j, k]
else:
    m = np.asarray(nib.load(seed[5:]).dataobj) != 0; s = d[m].mean(axis=0)
z = lambda a: (a - a.mean(-1, keepdims=True)) / np.where(a.std(-1, keepdims=True) == 0, 1, a.std(-1, keepdims=True))
want = np.tensordot(z(d), z(s), axes=([3], [0])) / s.size
err = np.abs(got - want).max()
sys.exit(0 if got.shape == want.shape and err < 2e-6 else print('max error', err, got.shape) or 1)
PYEOF
  }
  $T corr-seed "$F" "$W/seed.nii" --voxel 8,10,1 && check_seed "$W/seed.nii" voxel:8,10,1 && ok || bad "corr-seed --voxel vs numpy"
  $T corr-seed "$F" "$W/seedm.nii.gz" --mask "$W/seedmask.nii" && check_seed "$W/seedm.nii.gz" "mask:$W/seedmask.nii" && ok \
    || bad "corr-seed --mask vs numpy"
  $T corr-matrix "$F" "$W/cm.csv" --atlas "$W/atlas.nii" && "$PY" - "$F" "$W/atlas.nii" "$W/cm.csv" <<'PYEOF' && ok || bad "corr-matrix vs numpy.corrcoef"
import sys, numpy as np, nibabel as nib
d = nib.load(sys.argv[1]).get_fdata(dtype=np.float64); lab = np.asarray(nib.load(sys.argv[2]).dataobj)
ls = [l for l in np.unique(lab) if l > 0]
want = np.corrcoef(np.array([d[lab == l].mean(axis=0) for l in ls]))
rows = [r.split(',') for r in open(sys.argv[3]).read().split()]
assert rows[0][1:] == [str(l) for l in ls], rows[0]
got = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
err = np.abs(got - want).max()
sys.exit(0 if err < 1e-12 else print('max error', err) or 1)
PYEOF
  $T corr-seed "$F" "$W/x.nii" 2>"$W/err"; [ $? -eq 2 ] && grep -q "one of --voxel" "$W/err" && ok || bad "corr-seed without a seed: usage error"
  $T corr-seed "$F" "$W/x.nii" --voxel 99,0,0 2>"$W/err"; [ $? -eq 1 ] && grep -q "voxel\[0\]" "$W/err" && ok || bad "corr-seed outside the grid: $(cat "$W/err")"
else
  echo "  (skip corr-seed/corr-matrix vs numpy: no functional.nii or nibabel)"
fi

# stats -k / -l / -P / --per-frame against numpy on the shared anatomical and 4D files
A4="$D/nifti/example4d.nii.gz"; AN="$D/nifti/anatomical.nii"
if [ -f "$AN" ] && [ -f "$A4" ] && "$PY" -c "import nibabel, numpy" 2>/dev/null; then
  "$PY" - "$AN" "$W/smask.nii" "$W/slab.nii" <<'PYEOF' || bad "stats: could not write the mask and labels"
import sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); d = img.get_fdata()
m = (d > np.percentile(d, 60)).astype(np.uint8)
lab = np.zeros(d.shape, np.int16); i = np.indices(d.shape)
lab[(i[0] < d.shape[0] // 2) & (d > 0)] = 1; lab[(i[0] >= d.shape[0] // 2) & (d > np.percentile(d, 30))] = 3
nib.save(nib.Nifti1Image(m, img.affine), sys.argv[2]); nib.save(nib.Nifti1Image(lab, img.affine), sys.argv[3])
PYEOF
  check_stats() { # FILE MODE OUT: the lines of mvtool stats vs numpy
    "$PY" - "$@" <<'PYEOF'
import sys, numpy as np, nibabel as nib
path, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
img = nib.load(path); d = img.get_fdata(dtype=np.float64); A = img.affine; vox = abs(np.linalg.det(A[:3, :3]))
lines = [dict(kv.split('=') for kv in l.split()) for l in out.strip().split('\n')]
def close(a, b, tol=1e-12): return abs(a - b) <= tol * max(1.0, abs(b))
def same(l, x, extra={}):
    want = dict(sum=x.sum(), mean=x.mean(), std=x.std(), min=x.min(), max=x.max(), **extra)
    return all(close(float(l[k]), v) for k, v in want.items())
if mode == 'mask':
    m = np.asarray(nib.load(sys.argv[4]).dataobj) != 0; x = d[m]
    q = np.percentile(x, [5, 50, 95])
    ok = len(lines) == 1 and same(lines[0], x, dict(voxels=m.sum(), volume=m.sum() * vox, p5=q[0], p50=q[1], p95=q[2]))
elif mode == 'labels':
    lab = np.asarray(nib.load(sys.argv[4]).dataobj); ls = [l for l in np.unique(lab) if l > 0]; ok = len(lines) == len(ls)
    for l, line in zip(ls, lines):
        sel = lab == l; c = A @ np.append(np.argwhere(sel).mean(axis=0), 1)
        ok = ok and int(line['label']) == l and same(line, d[sel], dict(voxels=sel.sum(), volume=sel.sum() * vox))
        ok = ok and np.allclose([float(v) for v in line['centroid'].split(',')], c[:3], atol=1e-6)
else:  # per frame
    ok = len(lines) == d.shape[3] and all(int(l['frame']) == t and same(l, d[..., t]) for t, l in enumerate(lines))
sys.exit(0 if ok else print('mismatch:', out[:400]) or 1)
PYEOF
  }
  out=$($T stats "$AN" -k "$W/smask.nii" -P 5,50,95) && check_stats "$AN" mask "$out" "$W/smask.nii" && ok || bad "stats -k -P vs numpy: $out"
  out=$($T stats "$AN" -k "$W/slab.nii" -P 5,50,95) && check_stats "$AN" mask "$out" "$W/slab.nii" && ok || bad "stats -k (an integer map: nonzero) vs numpy: $out"
  out=$($T stats "$AN" -l "$W/slab.nii") && check_stats "$AN" labels "$out" "$W/slab.nii" && ok || bad "stats -l vs numpy: $out"
  out=$($T stats "$A4" --per-frame) && check_stats "$A4" frames "$out" && ok || bad "stats --per-frame vs numpy: $out"
  $T stats "$AN" -k "$W/smask.nii" -l "$W/slab.nii" 2>"$W/err"; [ $? -eq 2 ] && grep -q "exclude" "$W/err" && ok || bad "stats -k with -l: usage error"
  $T stats "$AN" -P 120 2>"$W/err"; [ $? -eq 2 ] && grep -q "0..100" "$W/err" && ok || bad "stats -P 120: usage error"
  $T stats "$AN" -k "$A4" 2>"$W/err"; [ $? -eq 1 ] && grep -qi "grid\|dim\|shape" "$W/err" && ok || bad "stats -k on another grid: $(cat "$W/err")"
else
  echo "  (skip stats -k/-l/-P/--per-frame vs numpy: no shared files or nibabel)"
fi

# proton_pdd --lateral: the profile rows are the dose grid's (their sum is the
# depth-dose line at that depth) and the summary's sigma is their RMS width (numpy)
if [ -x build/proton_pdd ] && "$PY" -c "import numpy" 2>/dev/null; then
  build/proton_pdd --energy 70 --grid 31,0,36,120 --spot-sigma 2 --lateral 5,30 >"$W/pdd.txt" 2>"$W/err" && "$PY" - "$W/pdd.txt" <<'PYEOF' && ok || bad "proton_pdd --lateral: $(tail -3 "$W/pdd.txt")"
import sys, re, numpy as np
lines = open(sys.argv[1]).read().split('\n')
depth = {float(a): float(b) for a, b in (l.split() for l in lines if re.match(r'^ *[0-9.]+ [0-9.e+-]+$', l))}
ok = True
for d in (5.0, 30.0):
    rows = np.array([[float(v) for v in l.split()[2:4]] for l in lines if l.startswith('lateral %.2f ' % d) and 'mm:' not in l])
    summ = [l for l in lines if l.startswith('lateral %.2f mm:' % d)][0]
    sigma = float(re.search(r'sigma ([0-9.]+)', summ).group(1))
    x, v = rows[:, 0], rows[:, 1]
    want = np.sqrt((v * (x - (v * x).sum() / v.sum()) ** 2).sum() / v.sum())
    ok = ok and len(rows) == 31 and abs(sigma - want) < 1e-3 and abs(v.sum() - depth[d]) <= 1e-5 * depth[d]
    ok = ok and 2.0 < sigma < 3.0  # the 2 mm spot, widened by scattering with depth
sys.exit(0 if ok else 1)
PYEOF
  build/proton_pdd --energy 70 --lateral 500 >/dev/null 2>"$W/err"; [ $? -eq 2 ] && grep -q "beyond the grid" "$W/err" && ok || bad "proton_pdd --lateral beyond the grid: usage error"
  # --gpu in the CPU build: a clear refusal (exit 2), never a CPU run passed off as the device's
  build/proton_pdd --gpu --energy 70 >/dev/null 2>"$W/err"; [ $? -eq 2 ] && grep -q "this build has no CUDA" "$W/err" && ok || bad "proton_pdd --gpu without CUDA: $(cat "$W/err")"
  build/proton_pdd --compare --energy 70 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "proton_pdd --compare without --gpu: usage error"
else
  echo "  (skip proton_pdd --lateral: no build/proton_pdd or numpy)"
fi


# register --transform bspline (issue 17): an axial slice of the MNI brain
# (1 mm) moved by a known smooth field (tests/py/bspline_data.py: both
# images samples of one continuous image); the field file against the true
# field over the brain, one stderr line per level, no folds, --out equal to
# warp-field with the written field, --out-tfm's ITK BSplineTransform (.h5)
# made into a field by SimpleITK equal to the field file, a bad
# --grid-spacing refused
if "$PY" tests/py/reg_data.py build/regdata 2>/dev/null | grep -q '^ok' && \
   "$PY" tests/py/bspline_data.py build/regdata build/bsplinedata 1 2d 2>/dev/null | grep -q '^ok'; then
  B=build/bsplinedata/def12d
  if $T register ${B}_fixed.nii ${B}_moving.nii --transform bspline --metric mse --grid-spacing 8 --regularization 0 --levels 4x2x1 \
       --out "$W/bw.nii" --out-field "$W/bf.nii" --out-tfm "$W/bt.h5" 2> "$W/err"; then
    [ "$(grep -c '^level' "$W/err")" -eq 3 ] && ok || bad "register bspline: not one line per level: $(cat "$W/err")"
    "$PY" -c 'import sys, numpy as np, nibabel as nib
e = np.asarray(nib.load(sys.argv[1]).dataobj, np.float64); t = np.asarray(nib.load(sys.argv[2]).dataobj, np.float64)
m = np.asarray(nib.load(sys.argv[3]).dataobj).reshape(e.shape[:3]) > 0
err = np.sqrt(((e - t) ** 2).sum(-1)).reshape(e.shape[:3])[m]
print("    bspline 2D MNI slice: field error mean %.4f mm, p95 %.4f mm (true mean %.3f mm)" % (err.mean(), np.percentile(err, 95), np.sqrt((t ** 2).sum(-1)).reshape(e.shape[:3])[m].mean()))
sys.exit(0 if err.mean() < 0.05 and np.percentile(err, 95) < 0.15 else 1)' "$W/bf.nii" ${B}_true.nii ${B}_mask.nii \
      && ok || bad "register bspline: field error against the truth"
    $T jacobian "$W/bf.nii" "$W/bj.nii" 2> "$W/jerr" && grep -q '^jacobian: 0 folded' "$W/jerr" && ok || bad "bspline field folds: $(cat "$W/jerr")"
    $T warp-field ${B}_moving.nii ${B}_fixed.nii "$W/bw2.nii" --field "$W/bf.nii" --fill 0 2> /dev/null && \
      "$PY" -c 'import sys, numpy as np, nibabel as nib
a, b = [nib.load(p).get_fdata() for p in sys.argv[1:3]]
sys.exit(0 if np.abs(a - b).max() <= 1e-4 * np.ptp(a) else 1)' "$W/bw.nii" "$W/bw2.nii" && ok || bad "warp-field with the bspline field differs from --out"
    if "$PY" -c 'import SimpleITK' 2>/dev/null; then
      sitk_field_ok "$W/bt.h5" "$W/bf.nii" 1e-5 && ok || bad "register bspline --out-tfm bt.h5: SimpleITK's field differs"
    else
      echo "  (skip register bspline --out-tfm against SimpleITK: no SimpleITK)"
    fi
  else
    bad "register --transform bspline: $(cat "$W/err")"
  fi
  $T register ${B}_fixed.nii ${B}_moving.nii --transform bspline --grid-spacing -3 2> "$W/err"
  [ $? -eq 2 ] && grep -q grid-spacing "$W/err" && ok || bad "register bspline --grid-spacing -3: not a usage error"
  $T register ${B}_fixed.nii ${B}_moving.nii --transform bspline --metric lncc 2> "$W/err"
  [ $? -eq 2 ] && grep -q lncc "$W/err" && ok || bad "register bspline --metric lncc: not a usage error"
else
  echo "  (skip register --transform bspline: no MNI data (tests/py/reg_data.py) or numpy/scipy/nibabel)"
fi

# register --transform bspline, large-image mode (issue 17): a 1024^2 uint8
# woven-fabric pair with a known smooth deformation of up to 25 px
# (tests/py/fabric_data.py, numpy/scipy); --levels 8x4x2 registers copies
# shrunk 2x and streams the full-resolution warp (mv_bspline_warp_into).
# The field file (on the shrunk grid) against the analytic truth at its
# points, the warped image full size, uint8, and its NCC with the fixed
# image over the interior; --out-tfm's .tfm (the grid on the full-size
# fixed grid) gives SimpleITK the field file's vectors at its points
if "$PY" tests/py/fabric_data.py build/fabricdata 1024 2>/dev/null | grep -q '^ok'; then
  B=build/fabricdata/fabric1024
  if $T register ${B}_fixed.nii ${B}_moving.nii --transform bspline --metric ncc --levels 8x4x2 --grid-spacing 64 \
       --dtype uint8 --out "$W/lw.nii" --out-field "$W/lf.nii" --out-tfm "$W/lt.tfm" 2> "$W/err"; then
    grep -q 'shrunk 2x (512x512)' "$W/err" && grep -q 'full-resolution warp' "$W/err" && ok || bad "register bspline large mode: $(cat "$W/err")"
    "$PY" -c 'import sys, numpy as np, nibabel as nib
sys.path.insert(0, "tests/py"); import fabric_data
w = nib.load(sys.argv[1]); f = np.asarray(nib.load(sys.argv[2] + "_fixed.nii").dataobj)[:, :, 0].astype(float)
m = np.asarray(nib.load(sys.argv[2] + "_moving.nii").dataobj)[:, :, 0].astype(float)
assert w.get_data_dtype() == np.uint8 and w.shape[:2] == (1024, 1024), (w.get_data_dtype(), w.shape)
a = np.asarray(w.dataobj)[:, :, 0].astype(float)
F = nib.load(sys.argv[3]); D = np.asarray(F.dataobj)[:, :, 0, 0, :].astype(float)
ii, jj = np.meshgrid(np.arange(D.shape[0]), np.arange(D.shape[1]), indexing="ij")
p = F.affine @ np.stack([ii.ravel(), jj.ravel(), 0 * ii.ravel(), np.ones(ii.size)])
dx, dy = fabric_data.true_field(p[0], p[1], 1024)
e = np.hypot(-D[:, :, 0].ravel() - dx, -D[:, :, 1].ravel() - dy)
sel = (p[0] > 64) & (p[0] < 960) & (p[1] > 64) & (p[1] < 960)
c = slice(64, 960); ncc = lambda u, v: np.corrcoef(u[c, c].ravel(), v[c, c].ravel())[0, 1]
print("    bspline large mode, 1024^2 fabric: field error mean %.3f px, p95 %.3f px; NCC %.4f (unregistered %.4f)" % (e[sel].mean(), np.percentile(e[sel], 95), ncc(f, a), ncc(f, m)))
sys.exit(0 if e[sel].mean() < 0.5 and np.percentile(e[sel], 95) < 1.0 and ncc(f, a) > 0.98 else 1)' "$W/lw.nii" $B "$W/lf.nii" \
      && ok || bad "register bspline large mode: field error or NCC"
    if "$PY" -c 'import SimpleITK' 2>/dev/null; then
      sitk_field_ok "$W/lt.tfm" "$W/lf.nii" 1e-5 && ok || bad "register bspline large mode --out-tfm lt.tfm: SimpleITK's field differs"
    else
      echo "  (skip register bspline large mode --out-tfm against SimpleITK: no SimpleITK)"
    fi
  else
    bad "register --transform bspline --levels 8x4x2: $(cat "$W/err")"
  fi
else
  echo "  (skip register --transform bspline large mode: numpy/scipy/nibabel missing)"
fi

# register --transform syn|demons (issue 17): ITK's PD slice deformed by a
# known smooth field (written by nibabel, applied by warp-field); the field
# found against inv(g) (invert-field) over the slice's bright pixels, one
# stderr line per level, --out = warp-field with the field, a moving image
# with a slow multiplicative bias (SyN/LNCC still recovers it), usage errors
if "$PY" tests/py/reg_data.py build/regdata 2>/dev/null | grep -q '^ok.*2d' && "$PY" -c 'import nibabel' 2>/dev/null; then
  R=build/regdata S="$W/syn" r="" && mkdir -p "$S"
  "$PY" - "$R/slice2d_pd_fixed.nii" "$S" <<'PYEOF'
import sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); d = sys.argv[2]
X, Y = img.shape[:2]
i, j = np.meshgrid(np.arange(X, dtype=np.float64), np.arange(Y, dtype=np.float64), indexing='ij')
g = np.zeros((X, Y, 1, 1, 2), np.float32)
g[:, :, 0, 0, 0] = 4.0 * np.sin(2 * np.pi * i / X) * np.sin(2 * np.pi * j / Y + 0.5)
g[:, :, 0, 0, 1] = 3.0 * np.cos(2 * np.pi * i / X + 1.1) * np.sin(2 * np.pi * j / Y)
out = nib.Nifti1Image(g, img.affine); out.header.set_intent('vector'); nib.save(out, d + '/g.nii')
PYEOF
  err_ok() { # FIELD TRUTH FIXED MAXFRAC: mean |d - truth| over bright pixels <= MAXFRAC x mean |truth|
    "$PY" -c 'import sys, numpy as np, nibabel as nib
d, t, f = [np.asarray(nib.load(p).dataobj, np.float64) for p in sys.argv[1:4]]
m = f.reshape(f.shape[:2]) > 0.2 * f.max()
e = np.sqrt(((d - t) ** 2).sum(axis=-1)).reshape(m.shape)[m].mean(); n = np.sqrt((t ** 2).sum(axis=-1)).reshape(m.shape)[m].mean()
print("field error %.3f mm of %.3f mm" % (e, n)); sys.exit(0 if e <= float(sys.argv[4]) * n else 1)' "$@"
  }
  $T warp-field $R/slice2d_pd_fixed.nii $R/slice2d_pd_fixed.nii "$S/mov.nii" --field "$S/g.nii" && \
    $T invert-field "$S/g.nii" "$S/truth.nii" 2> /dev/null || bad "syn: making the deformed pair"
  if $T register $R/slice2d_pd_fixed.nii "$S/mov.nii" --transform syn --out-field "$S/d.nii" --out "$S/w.nii" 2> "$W/err"; then
    [ "$(grep -c '^syn level' "$W/err")" -eq 3 ] && grep -q "inverse residual" "$W/err" && ok || bad "register syn: not one line per level: $(cat "$W/err")"
    r=$(err_ok "$S/d.nii" "$S/truth.nii" $R/slice2d_pd_fixed.nii 0.1) && ok || bad "register syn: $r"
    $T warp-field "$S/mov.nii" $R/slice2d_pd_fixed.nii "$S/w2.nii" --field "$S/d.nii" --fill 0 && cmp -s "$S/w.nii" "$S/w2.nii" && ok \
      || bad "register syn --out differs from warp-field --field"
    $T jacobian "$S/d.nii" "$S/jac.nii" 2> "$W/err" && grep -q "^jacobian: 0 folded voxels" "$W/err" && ok || bad "register syn: folds: $(cat "$W/err")"
  else
    bad "register syn: $(cat "$W/err")"
  fi
  # --out-field X.h5 with --init-matrix: one ITK CompositeTransform [M, field] (SimpleITK
  # reads it so); warp-field --field X.h5 gives register's --out voxel for voxel
  printf '1 0 0 0.75\n0 1 0 -0.5\n0 0 1 0\n0 0 0 1\n' > "$S/m.txt"
  $T register $R/slice2d_pd_fixed.nii "$S/mov.nii" --transform syn --levels 2 --iterations 20x10 --quiet \
      --init-matrix "$S/m.txt" --out-field "$S/c.h5" --out "$S/wc.nii" 2> "$W/err" && \
    $T warp-field "$S/mov.nii" $R/slice2d_pd_fixed.nii "$S/wc2.nii" --field "$S/c.h5" --fill 0 2>> "$W/err" && \
    cmp -s "$S/wc.nii" "$S/wc2.nii" && { ! "$PY" -c 'import SimpleITK' 2>/dev/null || \
    "$PY" -c 'import sys, SimpleITK as sitk
t = sitk.CompositeTransform(sitk.ReadTransform(sys.argv[1]))
k = [t.GetNthTransform(i).GetName() for i in range(t.GetNumberOfTransforms())]
sys.exit(0 if k == ["AffineTransform", "DisplacementFieldTransform"] else "%s" % k)' "$S/c.h5"; } && ok \
    || bad "register syn --init-matrix --out-field X.h5: not the composite warp-field applies as --out: $(cat "$W/err")"
  "$PY" -c 'import sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); a = np.asarray(img.dataobj, np.float64); x = a / a.max()
i, j = np.meshgrid(np.arange(a.shape[0]), np.arange(a.shape[1]), indexing="ij")
b = (1 + 0.4 * np.sin(0.03 * i + 0.02 * j + 0.5)).reshape(a.shape)
nib.save(nib.Nifti1Image((1000 * b * (x + 0.3 * x * x)).astype(np.float32), img.affine), sys.argv[2])' "$S/mov.nii" "$S/movb.nii"
  $T register $R/slice2d_pd_fixed.nii "$S/movb.nii" --transform syn --metric ncc --out-field "$S/db.nii" --quiet 2> "$W/err" && \
    [ ! -s "$W/err" ] && r=$(err_ok "$S/db.nii" "$S/truth.nii" $R/slice2d_pd_fixed.nii 0.15) && ok || bad "register syn, biased moving image: $r $(cat "$W/err")"
  $T register $R/slice2d_pd_fixed.nii "$S/mov.nii" --transform demons --levels 4x2x1 --out-field "$S/dd.nii" 2> "$W/err" && \
    [ "$(grep -c '^demons level' "$W/err")" -eq 3 ] && r=$(err_ok "$S/dd.nii" "$S/truth.nii" $R/slice2d_pd_fixed.nii 0.4) && ok \
    || bad "register demons: $r $(cat "$W/err")"
  $T register $R/slice2d_pd_fixed.nii "$S/mov.nii" --transform syn 2> "$W/err"
  [ $? -eq 2 ] && grep -q "out-field" "$W/err" && ok || bad "register syn without outputs: not a usage error"
  $T register $R/slice2d_pd_fixed.nii "$S/mov.nii" --transform syn --metric mi --out-field "$S/x.nii" 2> "$W/err"
  [ $? -eq 2 ] && grep -q "'mi'" "$W/err" && [ ! -e "$S/x.nii" ] && ok || bad "register syn --metric mi: $(cat "$W/err")"
  $T register $R/slice2d_pd_fixed.nii "$S/mov.nii" --transform syn --levels 3 --iterations 10x10 --out-field "$S/x.nii" 2> "$W/err"
  [ $? -eq 2 ] && grep -q "10x10" "$W/err" && ok || bad "register syn: iterations per level not checked: $(cat "$W/err")"
else
  echo "  (skip register --transform syn/demons: tests/py/reg_data.py found no data, or no nibabel)"
fi

# mri family: traj / nufft / dcf on BART .cfl pairs, against bart itself
if command -v bart >/dev/null 2>&1; then
  # every option of bart traj 0.8: its bytes and sizes (-C angles and -V delays from bart's own commands)
  bart index 0 7 "$W/ci" >/dev/null && bart scale 0.37+0.11i "$W/ci" "$W/ca" >/dev/null &&
    bart vec -- 0.2 -0.1 0.05 "$W/dv" >/dev/null && bart repmat 2 5 "$W/dv" "$W/dv5" >/dev/null &&
    bart index 2 5 "$W/i2" >/dev/null && bart repmat 0 3 "$W/i2" "$W/i23" >/dev/null &&
    bart saxpy 0.1 "$W/i23" "$W/dv5" "$W/dvv" >/dev/null && bart repmat 13 2 "$W/dvv" "$W/dvm" >/dev/null ||
    bad "bart index / scale / vec / repmat / saxpy for traj -C and -V"
  for fl in "-r" "-r -G" "-r -s 5" "-r -D -c" "-r -3" "" "-a 2 -y 36" "-e 3" "-o 2" "-G -t 3 -y 7" "-H -y 37" \
    "-s 3 -t 2 -y 7" "-D -t 3 -y 6" "-r -e 3 -y 5" "-r -t 4 -y 5" "-r -m 3 -l -y 5" "-r -m 3 -g -y 5" \
    "-r -G -m 3 -t 2 -e 2 -y 5" "-r -o 1.5 -x 17 -y 5" "-r -d 64 -c -y 5" "-r -R -12.5 -G -y 5" \
    "-r -q 0.3:-0.2:0.1 -y 5" "-r -q 0.3:-0.2:0.1 -O -y 5" "-r -q 0.3:-0.2:0.1 -Q 0.1:0.2:0.05 -3 -y 9" \
    "-r -E -e 3 -y 5" "-r -m 6 -z 2:2 -y 5" "-r -3 -G -y 30" "-3 -G -a 2 -y 4" "-r -C $W/ca" "-r -3 -C $W/ca" \
    "-r -V $W/dv -y 5" "-r -V $W/dvv -y 5 -t 3" "-r -V $W/dvm -y 5 -m 2 -t 2 -G"; do
    $T traj -x 48 -y 37 $fl "$W/mt" && bart traj -x 48 -y 37 $fl "$W/bt" >/dev/null && cmp -s "$W/mt.cfl" "$W/bt.cfl" && [ "$(sed -n 2p "$W/mt.hdr" | xargs)" = "$(sed -n 2p "$W/bt.hdr" | xargs)" ] \
      && ok || bad "traj $fl: not byte-equal to bart traj"
  done
  for fl in "-r -a 2" "-t 2" "-r -3 -t 2" "-H -D" "-r -d 8" "-r -m 5 -z 2:2" "-G -C $W/ca" "-r -V $W/dvv -y 6"; do
    $T traj $fl "$W/x" 2>"$W/err"; rc=$?
    bash -c 'bart traj "$@" >/dev/null 2>&1' bart $fl "$W/bx" 2>/dev/null; rb=$? # bart asserts: its shell's "Aborted" hushed
    [ $rc -ne 0 ] && [ $rb -ne 0 ] && [ -s "$W/err" ] && [ ! -e "$W/x.cfl" ] && ok || bad "traj $fl: bart refuses (exit $rb), mvtool exit $rc"
  done
  # caldir: bart caldir's maps (compared up to a phase per voxel on the phantom's support: where the
  # low-resolution images vanish, the coil directions are rounding) and text; numpy's pipeline (caldir_ref.py)
  bart phantom -x 64 -k -s 6 "$W/cdk" >/dev/null && bart phantom -x 64 "$W/cdi" >/dev/null &&
    bart phantom -3 -x 32 -k -s 4 "$W/cdk3" >/dev/null && bart phantom -3 -x 32 "$W/cdi3" >/dev/null || bad "bart phantom for caldir"
  for R in "24 cdk cdi" "40 cdk cdi" "16 cdk3 cdi3" "7 cdk3 cdi3"; do
    set -- $R
    bart caldir $1 "$W/$2" "$W/bcd" > "$W/bcd.txt" && $T caldir $1 "$W/$2" "$W/mcd" > "$W/mcd.txt" && cmp -s "$W/bcd.txt" "$W/mcd.txt" &&
      "$PY" - "$W/bcd" "$W/mcd" "$W/$3" <<'PYEOF' && ok || bad "caldir $R: not bart caldir's maps or text"
import numpy as np, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
b, m, img = rd(sys.argv[1]), rd(sys.argv[2]), rd(sys.argv[3])
mask = np.abs(img[..., 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] if img.ndim > 3 else img) > 0
mask = np.broadcast_to(mask.reshape(mask.shape + (1,) * (3 - mask.ndim)), b.shape[:3])
agree = np.abs((b * m.conj()).sum(axis=3))[..., 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
e = np.abs(1 - agree[mask]).max()
sys.exit(0 if e < 1e-4 else print('1 - |<bart, mvtool>| up to %.3g' % e) or 1)
PYEOF
  done
  $T caldir 40 "$W/cdk" "$W/mcd" >/dev/null && "$PY" tests/py/caldir_ref.py "$W/cdk" 40 "$W/mcd" >/dev/null && ok || bad "caldir 40: not numpy's maps"
  $T caldir 64 "$W/cdk" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "calsize" "$W/err" && ok || bad "caldir 64 of a 64 readout: $(cat "$W/err")"
  # walsh, ecaltwo, ecalib -1 / -S: bart's Gram matrices (relative l2 within 1e-5, trailing sizes of 1 aside:
  # bart ecalib -1 writes 4 of them; ecalib -1's kernels come from
  # another eigensolver: 1e-4) and maps (1e-4; where BART's float FFT interpolates a large dynamic range its
  # maps lose digits, numpy's float64 pipeline then decides), bart's text; numpy's Walsh sums and eigh (ecal_ref.py)
  ecal_cmp() { "$PY" - "$@" <<'PYEOF'
import numpy as np, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
tol = float(sys.argv[1]); worst = 0
for a, b in zip(sys.argv[2::2], sys.argv[3::2]):
    x, y = rd(a), rd(b)
    x, y = x.reshape(x.shape[:max([0] + [i + 1 for i, n in enumerate(x.shape) if n > 1])]), y.reshape(y.shape[:max([0] + [i + 1 for i, n in enumerate(y.shape) if n > 1])])
    if x.shape != y.shape: sys.exit(print('%s %s: shapes %s %s' % (a, b, x.shape, y.shape)) or 1)
    worst = max(worst, np.linalg.norm(x - y) / max(np.linalg.norm(x), 1e-30))
sys.exit(0 if worst < tol else print('relative l2 up to %.3g' % worst) or 1)
PYEOF
  }
  for R in "cdk|64 64 1|" "cdk|64 64 1|-r 16 -b 7" "cdk3|32 32 32|-r 16:12:8 -b 5:9:3" "cdk3|32 32 32|-b 6"; do
    IFS='|' read -r kf sz fl <<< "$R"
    bart walsh $fl "$W/$kf" "$W/bwc" > "$W/bw.txt" && $T walsh $fl "$W/$kf" "$W/mwc" > "$W/mw.txt" && cmp -s "$W/bw.txt" "$W/mw.txt" &&
      ecal_cmp 1e-5 "$W/bwc" "$W/mwc" && ok || bad "walsh $fl $kf: not bart walsh's Gram matrices or text"
    bart ecaltwo $sz "$W/bwc" "$W/bwm" "$W/bwe" > "$W/bw.txt" && $T ecaltwo $sz "$W/bwc" "$W/mwm" "$W/mwe" > "$W/mw.txt" &&
      cmp -s "$W/bw.txt" "$W/mw.txt" && ecal_cmp 1e-4 "$W/bwm" "$W/mwm" "$W/bwe" "$W/mwe" && ok || bad "ecaltwo $sz of walsh $fl $kf: not bart's maps"
  done
  $T walsh -r 16 "$W/cdk" "$W/mwc" >/dev/null && "$PY" tests/py/ecal_ref.py walsh "$W/cdk" 16 20 "$W/mwc" && ok || bad "walsh -r 16: not numpy's sums"
  $T walsh -r 16:12:8 -b 5:9:3 "$W/cdk3" "$W/mwc3" >/dev/null && "$PY" tests/py/ecal_ref.py walsh "$W/cdk3" 16:12:8 5:9:3 "$W/mwc3" &&
    ok || bad "walsh 3D: not numpy's sums"
  $T ecaltwo -c 0 64 64 1 "$W/mwc" "$W/mwm" "$W/mwe" >/dev/null && "$PY" tests/py/ecal_ref.py maps "$W/mwc" 64:64:1 "$W/mwm" "$W/mwe" &&
    ok || bad "ecaltwo of walsh: not numpy's eigenvectors"
  for R in "cdk||80 64 1|" "cdk|-k 5|64 64 1|" "cdk|-k 5|96 70 1|-m 3 -c 0.5" "cdk||64 64 1|-S" "cdk||72 64 1|-S -c 0.5 -m 3" \
    "cdk3|-k 4:4:3 -r 20|32 32 32|" "cdk3||40 32 36|-m 1"; do
    IFS='|' read -r kf kfl sz fl <<< "$R"
    bart ecalib -1 $kfl "$W/$kf" "$W/bc1" >/dev/null && $T ecalib -1 $kfl "$W/$kf" "$W/mc1" && ecal_cmp 1e-4 "$W/bc1" "$W/mc1" &&
      bart ecaltwo $fl $sz "$W/bc1" "$W/be2" "$W/bee" > "$W/bw.txt" && $T ecaltwo $fl $sz "$W/bc1" "$W/me2" "$W/mee" > "$W/mw.txt" &&
      cmp -s "$W/bw.txt" "$W/mw.txt" && ecal_cmp 1e-4 "$W/be2" "$W/me2" "$W/bee" "$W/mee" && ok || bad "ecalib -1 $kfl $kf, ecaltwo $fl $sz: not bart's"
  done
  $T ecalib -1 "$W/cdk" "$W/mc1" && $T ecaltwo -c 0 96 80 1 "$W/mc1" "$W/me2" "$W/mee" >/dev/null &&
    "$PY" tests/py/ecal_ref.py maps "$W/mc1" 96:80:1 "$W/me2" "$W/mee" && ok || bad "ecaltwo of ecalib -1: not numpy's eigenvectors"
  for fl in "" "-S -c 0.6" "-P" "-I" "-P -I -m 1 -c 0.3"; do
    bart ecalib $fl "$W/cdk" "$W/bes" "$W/bee" >/dev/null && $T ecalib $fl "$W/cdk" "$W/mes" "$W/mee" && ecal_cmp 1e-4 "$W/bes" "$W/mes" "$W/bee" "$W/mee" &&
      ok || bad "ecalib $fl: not bart ecalib's maps"
  done
  $T ecaltwo 32 64 1 "$W/mwc" "$W/x" 2>"$W/err" >/dev/null; [ $? -eq 1 ] && grep -q "size\[0\] = 32" "$W/err" && [ ! -e "$W/x.cfl" ] && ok || bad "ecaltwo below the grid: $(cat "$W/err")"
  # ecalib -W / -a / -v (soft-weighted kernels, SURE's crop) against bart's table at -d 2 (crops tried and their risk)
  # on noisy phantoms (2, 4, 8 coils; 3D), bart's variance given (-v) or each one's estimate (noise-dominated
  # data, where the two agree): row by row the same crop and risk (1e-4) until a crop (its float value replayed
  # from the table) that some voxel's eigenvalue straddles, bart's float one on one side and medvol's float64 one
  # on the other (the masks, the risk and the search's path may part there: the final crops may differ); the maps
  # within 1e-4 (relative l2) but for voxels whose eigenvalue lies between the two crops (2e-4 around)
  sure_cmp() { "$PY" - "$@" <<'PYEOF'
import numpy as np, re, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()][:5], order='F')
def tab(p):  # rows (crop as float32, as the search held it; risk), the crop replayed: += step, and per round back, step / -2
    rows = re.findall(r'\|\s+([0-9]*)\s+\|\s+([0-9]+)\s+\|\s+([0-9.]+)\s+\|\s+([0-9.e+-]+)\s+\|', open(p).read())
    c, s, out = np.float32(0.99), np.float32(-0.1), []
    for i, (r1, r2, cp, risk) in enumerate(rows):
        if i and r1:
            c = np.float32(c - s); s = np.float32(-s / np.float32(2)); c = np.float32(c + s)
        if '%.4f' % c != cp: sys.exit(print('%s: row %d crop %s, replayed %.6f' % (p, i + 1, cp, c)) or 1)
        out.append((c, float(risk))); c = np.float32(c + s)
    return out
bt, mt = tab(sys.argv[1]), tab(sys.argv[2])
bm, mm, be, me = rd(sys.argv[3]), rd(sys.argv[4]), rd(sys.argv[5]).real, rd(sys.argv[6]).real
cb = float(re.search(r'Calculated c: ([0-9.]+)', open(sys.argv[1]).read()).group(1))
cm = float(re.search(r'SURE crop ([0-9.]+)', open(sys.argv[2]).read()).group(1))
if not bt or not mt: sys.exit(print('no table') or 1)
straddled = lambda c: bool(((be >= c) != (me >= c)).any())
explained = False
for i, (b, m) in enumerate(zip(bt, mt)):
    explained = explained or straddled(b[0])
    if b[0] != m[0] or abs(b[1] - m[1]) > 1e-4 * b[1]:
        if not explained: sys.exit(print('row %d: bart %s, mvtool %s; no eigenvalue straddles a crop so far' % (i + 1, b, m)) or 1)
        break
else:
    if len(bt) != len(mt) or cb != cm: sys.exit(print('tables agree, crops %g %g, rows %d %d' % (cb, cm, len(bt), len(mt))) or 1)
if np.abs(be - me).max() > 1e-3: sys.exit(print('eigenvalues differ by %.3g' % np.abs(be - me).max()) or 1)
lo, hi = min(cb, cm) - 2e-4, max(cb, cm) + 2e-4
keep = ~np.broadcast_to((be > lo) & (be < hi), bm.shape)
e = np.linalg.norm((bm - mm)[keep]) / np.linalg.norm(bm)
sys.exit(0 if e < 1e-4 else print('maps: relative l2 %.3g (crops %g %g)' % (e, cb, cm)) or 1)
PYEOF
  }
  bart phantom -x 48 -k -s 4 "$W/sk4" >/dev/null && bart noise -s 11 -n 1000 "$W/sk4" "$W/sn4" >/dev/null &&
    bart phantom -x 48 -k -s 2 "$W/sk2" >/dev/null && bart noise -s 12 -n 1000 "$W/sk2" "$W/sn2" >/dev/null &&
    bart phantom -x 64 -k -s 8 "$W/sk8" >/dev/null && bart noise -s 13 -n 3000 "$W/sk8" "$W/sn8" >/dev/null &&
    bart phantom -3 -x 24 -k -s 3 "$W/sk3" >/dev/null && bart noise -s 14 -n 300 "$W/sk3" "$W/sn3" >/dev/null || bad "ecalib -a: bart phantom / noise"
  for R in "sn4|-a|v" "sn4|-a -m 1|v" "sn4|-a -I|v" "sn4|-a -S|v" "sn4|-a|" "sn2|-a -m 1|v" "sn2|-a|" "sn8|-a|" "sn8|-a -m 1|v" \
    "sn3|-a -r 12 -k 4|v" "sn3|-a -r 12|"; do
    IFS='|' read -r kf fl gv <<< "$R"
    vf=""; [ -n "$gv" ] && vf="-v $(bart estvar "$W/$kf" | awk '{print $4}')"
    bart ecalib $fl $vf -d 5 "$W/$kf" "$W/bsm" "$W/bse" > "$W/bst.txt" 2>&1 && $T ecalib $fl $vf -d 2 "$W/$kf" "$W/msm" "$W/mse" 2> "$W/mst.txt" &&
      sure_cmp "$W/bst.txt" "$W/mst.txt" "$W/bsm" "$W/msm" "$W/bse" "$W/mse" && ok || bad "ecalib $fl $vf $kf: not bart's SURE crop or maps"
  done
  v4=$(bart estvar "$W/sn4" | awk '{print $4}')
  for fl in "-W" "-W -m 1 -c 0.5" "-W -S -c 0.6" "-W -I -P"; do
    bart ecalib $fl -v "$v4" "$W/sn4" "$W/bsm" "$W/bse" >/dev/null && $T ecalib $fl -v "$v4" "$W/sn4" "$W/msm" "$W/mse" &&
      ecal_cmp 1e-4 "$W/bsm" "$W/msm" "$W/bse" "$W/mse" && ok || bad "ecalib $fl -v $v4: not bart ecalib's maps"
  done
  bart ecalib -1 -W -v "$v4" "$W/sn4" "$W/bc1" >/dev/null && $T ecalib -1 -W -v "$v4" "$W/sn4" "$W/mc1" &&
    ecal_cmp 1e-4 "$W/bc1" "$W/mc1" && ok || bad "ecalib -1 -W: not bart's Gram matrices"
  $T ecalib -W -v 0 "$W/sn4" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "\-v takes" "$W/err" && ok || bad "ecalib -v 0: usage error: $(cat "$W/err")"
  $T ecalib -W -v 1e12 "$W/sn4" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "removes every kernel" "$W/err" && [ ! -e "$W/x.cfl" ] &&
    ok || bad "ecalib -W, a variance above the data: $(cat "$W/err")"
  bart resize 3 20 "$W/mwc" "$W/bc5" >/dev/null && $T ecaltwo 64 64 1 "$W/bc5" "$W/x" 2>"$W/err" >/dev/null; [ $? -eq 1 ] && grep -q "dims\[3\] = 20" "$W/err" && ok || bad "ecaltwo of 20 entries: $(cat "$W/err")"
  $T walsh -r 64 "$W/cdk" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "calsize\[0\] = 64" "$W/err" && ok || bad "walsh -r 64 of a 64 readout: $(cat "$W/err")"
  # calmat, casorati, flatten: bart's bytes; svd: bart's singular values (relative 1e-5), U diag(S) VH = IN and
  # orthonormal factors (1e-5), each singular vector bart's up to a phase where the singular values are apart,
  # numpy's singular values
  bart upat -Y 36 -Z 1 -y 2 -c 14 "$W/cmpat" >/dev/null && bart phantom -x 40 -k -s 3 "$W/cmk0" >/dev/null &&
    bart resize -c 1 36 "$W/cmk0" "$W/cmk1" >/dev/null && bart fmac "$W/cmk1" "$W/cmpat" "$W/cmk" >/dev/null &&
    bart zeros 2 6 6 "$W/sz6" >/dev/null && bart noise -s 9 "$W/sz6" "$W/sq6" >/dev/null || bad "bart upat / phantom for calmat"
  for fl in "" "-k 3" "-r 10 -k 4" "-k 6:2:1 -r 12:9:1" "-C -r 8"; do
    bart calmat $fl "$W/cmk" "$W/bcm" >/dev/null && $T calmat $fl "$W/cmk" "$W/mcm" && cmp -s "$W/bcm.cfl" "$W/mcm.cfl" &&
      [ "$(sed -n 2p "$W/bcm.hdr" | xargs)" = "$(sed -n 2p "$W/mcm.hdr" | xargs)" ] && ok || bad "calmat $fl: not bart calmat's bytes"
  done
  $T calmat -k 40 "$W/cmk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && [ ! -e "$W/x.cfl" ] && ok || bad "calmat -k 40: $(cat "$W/err")"
  bart zeros 3 40 36 3 "$W/cmz" >/dev/null; $T calmat "$W/cmz" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_BAD_DATA" "$W/err" && ok || bad "calmat of zeros: $(cat "$W/err")"
  for R in "0 3 1 4|cmk" "0 5|cdk" "1 2 3 2|cmk" "0 1|cmk" "2 3 0 30|cdk3"; do
    IFS='|' read -r ca kf <<< "$R"
    bart casorati $ca "$W/$kf" "$W/bca" >/dev/null && $T casorati $ca "$W/$kf" "$W/mca" && cmp -s "$W/bca.cfl" "$W/mca.cfl" &&
      [ "$(sed -n 2p "$W/bca.hdr" | xargs) 1 1 1 1 1 1 1 1 1 1 1 1 1 1" = "$(sed -n 2p "$W/mca.hdr" | xargs)" ] && ok || bad "casorati $ca $kf: not bart casorati's bytes"
  done
  bart flatten "$W/cdk3" "$W/bfl" >/dev/null && $T flatten "$W/cdk3" "$W/mfl" && cmp -s "$W/bfl.cfl" "$W/mfl.cfl" &&
    [ "$(sed -n 2p "$W/bfl.hdr" | xargs)" = "$(sed -n 2p "$W/mfl.hdr" | xargs)" ] && ok || bad "flatten: not bart flatten's bytes"
  # multicfl: bart's bytes and header lines combining three arrays; bart splits mvtool's file and mvtool bart's
  bart phantom -x 12 "$W/mc1" >/dev/null && bart ones 3 2 3 4 "$W/mc2" >/dev/null && bart noise "$W/mc2" "$W/mc3" >/dev/null || bad "multicfl: bart arrays"
  bart multicfl "$W/mc1" "$W/mc2" "$W/mc3" "$W/bmc" >/dev/null && $T multicfl "$W/mc1" "$W/mc2" "$W/mc3" "$W/mmc" &&
    cmp -s "$W/bmc.cfl" "$W/mmc.cfl" && [ "$(sed -n 1,8p "$W/bmc.hdr")" = "$(sed -n 1,8p "$W/mmc.hdr")" ] && ok || bad "multicfl: not bart's file"
  bart multicfl -s "$W/mmc" "$W/bs1" "$W/bs2" "$W/bs3" >/dev/null && $T multicfl -s "$W/bmc" "$W/ms1" "$W/ms2" "$W/ms3" &&
    cmp -s "$W/bs3.cfl" "$W/mc3.cfl" && cmp -s "$W/ms1.cfl" "$W/mc1.cfl" && cmp -s "$W/ms3.cfl" "$W/mc3.cfl" &&
    [ "$(bart show -m "$W/ms2")" = "$(bart show -m "$W/mc2")" ] && ok || bad "multicfl -s: not the arrays back"
  $T multicfl -s "$W/bmc" "$W/x1" "$W/x2" 2>"$W/err"; [ $? -eq 1 ] && grep -q "holds 3 arrays, 2 outputs" "$W/err" && ok || bad "multicfl -s, too few outputs: refused"
  $T multicfl -s "$W/mc1" "$W/x1" 2>"$W/err"; [ $? -eq 1 ] && grep -q "not a multi-cfl header" "$W/err" && ok || bad "multicfl -s of a plain pair: refused"
  cp "$W/bmc.cfl" "$W/big.cfl" && printf '# Dimensions\n2048 \n# SizesDimensions\n16 \n# MultiDimensions\n4294967296 4294967296 1 1 1 1 1 1 1 1 1 1 1 1 1 1 \n' > "$W/big.hdr" &&
    { $T multicfl -s "$W/big" "$W/x1" 2>"$W/err"; [ $? -eq 1 ]; } && grep -q "more than 2^53" "$W/err" && ok || bad "multicfl -s, sizes whose product overflows: refused"
  # the element-wise commands' threaded, streamed path (mvtool_array.c run_map): 700 x 700 samples are 3.7 chunks
  # of 2^17, two rounds on 2 threads and a partial one on 3; bart's bytes for 1, 2 and 3 threads, repeated
  bart zeros 2 700 700 "$W/thz" >/dev/null && bart noise -s 17 "$W/thz" "$W/thn" >/dev/null || bad "bart noise for the threaded maps"
  for c in "zexp" "scale 1.5+0.25i" "carg" "invert" "cpyphs"; do
    bart $c "$W/thn" "$W/thb" >/dev/null || bad "bart $c"
    for th in 1 2 2 2 3; do
      $T --threads $th $c "$W/thn" "$W/thm" && cmp -s "$W/thb.cfl" "$W/thm.cfl" && ok || bad "$c on $th threads: not bart's bytes"
    done
  done
  # filter: bart filter's bytes (median by magnitude, -G geometric median, -a moving average) on noise, 3D and a
  # series in BART's axis 10; numpy's sliding median (odd lengths) and mean
  bart zeros 3 7 9 4 "$W/flz" >/dev/null && bart noise -s 3 "$W/flz" "$W/fln" >/dev/null && bart zeros 11 5 1 1 1 1 1 1 1 1 1 6 "$W/flz2" >/dev/null &&
    bart noise -s 5 "$W/flz2" "$W/fln2" >/dev/null || bad "bart noise for filter"
  for R in "fln|-m 0 -l 3" "fln|-m 1 -l 4" "fln|-m 2 -l 4" "fln|-a 1 -l 5" "fln|-m 1 -l 5 -G" "fln|-m 0 -l 2 -G" "fln|-m 2 -l 1" \
    "fln2|-m 10 -l 3" "fln2|-a 10 -l 4" "fln2|-m 0 -l 5 -G"; do
    IFS='|' read -r ff fl <<< "$R"
    bart filter $fl "$W/$ff" "$W/bft" >/dev/null && $T filter $fl "$W/$ff" "$W/mft" && cmp -s "$W/bft.cfl" "$W/mft.cfl" &&
      [ "$(sed -n 2p "$W/bft.hdr" | xargs)" = "$(sed -n 2p "$W/mft.hdr" | xargs)" ] && ok || bad "filter $fl of $ff: not bart filter's bytes"
  done
  for R in "-m 1 -l 5|m" "-a 0 -l 4|a"; do
    IFS='|' read -r fl kind <<< "$R"
    $T filter $fl "$W/fln" "$W/mft" && "$PY" - "$W/fln" "$W/mft" "$kind" ${fl#* } <<'PYEOF' && ok || bad "filter $fl: not numpy's"
import numpy as np, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
x, y, kind, dim, ln = rd(sys.argv[1]), rd(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[6])
win = np.lib.stride_tricks.sliding_window_view(x.astype(complex), ln, axis=dim)
if kind == 'm':  # odd length: the middle sample by magnitude
    idx = np.argsort(np.abs(win), axis=-1, kind='stable')[..., ln // 2:ln // 2 + 1]
    ref = np.take_along_axis(win, idx, axis=-1)[..., 0]
else:
    ref = win.mean(axis=-1)
sys.exit(0 if np.abs(ref - y).max() < 1e-6 * max(1, np.abs(ref).max()) else print('max error', np.abs(ref - y).max()) or 1)
PYEOF
  done
  $T filter -m 0 -l 8 "$W/fln" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && [ ! -e "$W/x.cfl" ] && ok || bad "filter -l 8 of 7: $(cat "$W/err")"
  $T filter -m 0 -a 1 -l 2 "$W/fln" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "filter -m and -a: $(cat "$W/err")"
  bart calmat -k 4 -r 12 "$W/cmk" "$W/bcm" >/dev/null && bart noise -s 4 "$W/bcm" "$W/svn" >/dev/null && bart transpose 0 1 "$W/svn" "$W/svt" >/dev/null || bad "bart calmat for svd"
  for R in "bcm|" "bcm|-e" "svt|" "svt|-e" "sq6|"; do
    IFS='|' read -r sf fl <<< "$R"
    bart squeeze "$W/$sf" "$W/svi" >/dev/null && bart svd $fl "$W/svi" "$W/bu" "$W/bs" "$W/bv" >/dev/null && $T svd $fl "$W/svi" "$W/mu" "$W/ms" "$W/mv" &&
      "$PY" - "$W/svi" "$W/bu" "$W/bs" "$W/bv" "$W/mu" "$W/ms" "$W/mv" <<'PYEOF' && ok || bad "svd $fl of $sf: not bart svd's"
import numpy as np, sys
def rd(p):
    d = [int(x) for x in open(p + '.hdr').read().split('\n')[1].split()]
    return np.fromfile(p + '.cfl', np.complex64).reshape(d + [1] * (2 - len(d)), order='F').reshape(d[:2] + [1] * (2 - len(d[:2])), order='F')
a, bu, bs, bv, mu, ms, mv = [rd(p) for p in sys.argv[1:]]
a = a.reshape(a.shape[0], -1).astype(complex)
bs, ms = bs.real.ravel(), ms.real.ravel()
ns = np.linalg.svd(a, compute_uv=False)
top = ns[0]
e = [np.abs(ms - bs).max() / top, np.abs(ms - ns).max() / top]
for u, v in ((mu, mv),):
    K = len(ms)
    e.append(np.abs(u[:, :K] * ms @ v[:K] - a).max() / top)
    e.append(np.abs(u.conj().T @ u - np.eye(u.shape[1])).max())
    e.append(np.abs(v @ v.conj().T - np.eye(v.shape[0])).max())
apart = [r for r in range(len(ms)) if ms[r] > 1e-3 * top and all(abs(ms[r] - ms[q]) > 1e-3 * top for q in range(len(ms)) if q != r)]
for r in apart:
    e.append(abs(1 - abs(np.vdot(bu[:, r], mu[:, r]))))
    e.append(abs(1 - abs(np.vdot(bv[r], mv[r]))))
    ph = np.vdot(bu[:, r], mu[:, r]) / abs(np.vdot(bu[:, r], mu[:, r]))
    e.append(np.abs(mv[r] - np.conj(ph) * bv[r]).max())  # u times ph, vh's row times conj(ph)
sys.exit(0 if max(e) < 1e-4 and len(apart) > 0 else print('svd errors', ['%.2g' % x for x in e[:5]], max(e), len(apart)) or 1)
PYEOF
  done
  $T svd "$W/cdk3" "$W/a" "$W/b" "$W/c" 2>"$W/err"; [ $? -eq 2 ] && [ ! -e "$W/a.cfl" ] && ok || bad "svd of a 4D array: $(cat "$W/err")"
  # estdims: bart's sizes
  for fl in "-r -x 64 -y 21" "-r -x 63 -y 5 -c" "-x 32 -y 30" "-r -3 -x 16 -y 40" "-r -q 0.3:0.1:0 -x 17 -y 5"; do
    bart traj $fl "$W/et" >/dev/null && [ "$($T estdims "$W/et")" = "$(bart estdims "$W/et")" ] && ok || bad "estdims of traj $fl"
  done
  bart zeros 2 2 3 "$W/z2" >/dev/null; $T estdims "$W/z2" 2>"$W/err"; [ $? -eq 1 ] && grep -q "dims\[0\] = 2" "$W/err" && ok || bad "estdims of a 2-row array: $(cat "$W/err")"
  # estdelay: BART 0.8's own tests (tests/estdelay.mk: delays into bart phantom's k-space by traj -q, estimated
  # from the nominal trajectory, the trajectory they give against the true one by nrmse), all steps but the
  # phantom mvtool's; and the printed delays within 5e-5 of bart estdelay's
  while read -r tol tf nf ef pf t2; do
    tf=${tf//,/ } nf=${nf//,/ } ef=${ef//,/ } pf=${pf//,/ } t2=${t2//,/ }; ef=${ef#.} pf=${pf#.}
    $T traj $tf "$W/dt" && $T traj $nf "$W/dn" && bart phantom $pf -k -t "$W/dt" "$W/dk" >/dev/null &&
      q=$($T estdelay $ef "$W/dn" "$W/dk" 2>/dev/null) && qb=$(bart estdelay $ef "$W/dn" "$W/dk" 2>/dev/null) &&
      $T traj $t2 -q "$q" "$W/d2" && bart nrmse -t "$tol" "$W/dt" "$W/d2" >/dev/null &&
      "$PY" -c "import sys; a, b = ([float(v) for v in s.split(':')] for s in sys.argv[1:]); sys.exit(max(abs(x - y) for x, y in zip(a, b)) > 5e-5)" "$q" "$qb" \
      && ok || bad "estdelay ${ef:-(AC-adaptive)} for traj $tf: $q, bart $qb"
  done <<'EOF_ED'
0.00001 -D,-q1.5:1:-0.5,-r,-y8 -D,-r,-y8 . . -D,-r,-y8
0.0001 -D,-q1.5:1.:-0.5,-r,-y8,-c -D,-r,-y8,-c . . -D,-r,-y8,-c
0.0001 -D,-q1.5:1:-0.5,-r,-y8,-o2.,-c -D,-r,-y8,-o2.,-c . . -D,-r,-y8,-o2.,-c
0.0011 -D,-O,-q1.5:1:-0.5,-r,-y8 -D,-r,-y8 . . -D,-O,-r,-y8
0.004 -G,-q0.3:-0.1:0.2,-y5,-o2.,-c -G,-r,-y5,-o2. . -s8 -G,-y5,-o2.
0.0001 -D,-r,-q0.3:0.1:0.2,-O,-c,-y5,-o2. -D,-c,-r,-y5,-o2. -R . -D,-r,-O,-y5,-o2.,-c
0.002 -D,-r,-q0.3:0.1:0.2,-y5,-o2. -D,-r,-y5,-o2. -R . -D,-r,-y5,-o2.
0.0035 -D,-r,-q0.3:0.1:0.2,-c,-y5 -D,-c,-r,-y5 -R -s8 -D,-r,-y5,-c
0.0001 -D,-q1.5:1:-0.5,-r,-y8,-o2. -D,-r,-y8,-o2. . . -D,-r,-y8,-o2.
EOF_ED
  bart traj -r -x 64 -y 50 "$W/nt" >/dev/null && bart phantom -x 64 -s 2 "$W/ph" >/dev/null \
    && bart nufft -d 64:64:1 "$W/nt" "$W/ph" "$W/bk" >/dev/null && $T nufft -d 64:64:1 "$W/nt" "$W/ph" "$W/mk" \
    && bart nufft -a -d 64:64:1 "$W/nt" "$W/bk" "$W/ba" >/dev/null && $T nufft -a -d 64:64:1 "$W/nt" "$W/bk" "$W/ma" \
    && bart nrmse "$W/bk" "$W/mk" | awk '{exit !($1 < 0.01)}' && bart nrmse "$W/ba" "$W/ma" | awk '{exit !($1 < 0.01)}' \
    && ok || bad "nufft / nufft -a vs bart nufft (nrmse >= 0.01)"
  $T dcf "$W/nt" "$W/dw" && [ "$(bart show -d 1 "$W/dw")" = 64 ] && $T dcf "$W/nt" "$W/dp" --pipe-menon 20 && ok || bad "dcf (ramp, Pipe-Menon)"
  $T nufft -d 64:64 "$W/nt" "$W/ph" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "X:Y:Z" "$W/err" && ok || bad "nufft -d malformed: usage error"
  $T nufft --tol 1e-9 -d 64:64:1 "$W/nt" "$W/ph" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "tol" "$W/err" && ok || bad "nufft --tol out of range: $(cat "$W/err")"
else
  echo "  (skip traj/nufft/dcf vs bart: no bart)"
fi

# recon: ecalib / pics -l2 against the bart command itself (same .cfl data),
# grappa against the fully sampled RSS, and the error contract
if command -v bart >/dev/null 2>&1 && "$PY" -c 'import numpy' 2>/dev/null; then
  bart phantom -x 64 -k -s 6 "$W/rk" >/dev/null 2>&1
  bart ecalib -m1 "$W/rk" "$W/rbm" >/dev/null 2>&1
  $T ecalib -m 1 "$W/rk" "$W/rmm" && "$PY" - "$W/rbm" "$W/rmm" <<'PYEOF' && ok || bad "ecalib vs bart ecalib -m1"
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return np.fromfile(n + '.cfl', np.complex64).reshape(d, order='F').squeeze()
b, m = rd(sys.argv[1]), rd(sys.argv[2])
ip = (m * b.conj()).sum(-1, keepdims=True); ph = np.where(abs(ip) > 0, ip / np.maximum(abs(ip), 1e-30), 1)
e = np.linalg.norm(m * ph.conj() - b) / np.linalg.norm(b)
sys.exit(0 if e < 0.02 else print('maps NRMSE', e) or 1)
PYEOF
  "$PY" - "$W/rk" "$W/ru" <<'PYEOF'
import sys, numpy as np
d = [int(v) for v in open(sys.argv[1] + '.hdr').read().split('\n')[1].split()]
k = np.fromfile(sys.argv[1] + '.cfl', np.complex64).reshape(d, order='F')
keep = np.zeros(d[1], bool); keep[d[1] // 2 % 3::3] = True; keep[d[1] // 2 - 8:d[1] // 2 + 8] = True
k[:, ~keep] = 0
open(sys.argv[2] + '.hdr', 'w').write(open(sys.argv[1] + '.hdr').read())
k.flatten(order='F').tofile(sys.argv[2] + '.cfl')
PYEOF
  bart pics -l2 -r 0.02 -i 20 -S "$W/ru" "$W/rbm" "$W/rbp" >/dev/null 2>&1
  $T pics -l2 -r 0.02 -i 20 -S "$W/ru" "$W/rbm" "$W/rmp" && "$PY" - "$W/rbp" "$W/rmp" <<'PYEOF' && ok || bad "pics -l2 -S vs bart pics -l2 -S"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 0.01 else print('image NRMSE', e) or 1)
PYEOF
  $T grappa "$W/ru" "$W/rg" --kernel 5x4 --gfactor "$W/rgf" && "$PY" - "$W/rk" "$W/ru" "$W/rg" "$W/rgf" <<'PYEOF' && ok || bad "grappa vs the fully sampled RSS"
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return np.fromfile(n + '.cfl', np.complex64).reshape(d, order='F').squeeze()
def rss(k):
    i = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(0, 1)), axes=(0, 1), norm='ortho'), axes=(0, 1))
    return np.sqrt((abs(i) ** 2).sum(-1))
k, u, g, gf = (rd(n) for n in sys.argv[1:5])
e, z = (np.linalg.norm(rss(x) - rss(k)) / np.linalg.norm(rss(k)) for x in (g, u))
acq = (u != 0)
ok = e < 0.3 * z and np.array_equal(g[acq], u[acq]) and gf.shape == k.shape[:2] and gf.real.max() >= 1
sys.exit(0 if ok else print('grappa', e, 'zero-filled', z, gf.shape) or 1)
PYEOF
  # non-Cartesian: BART's radial phantom (2x readout oversampling), its analytic maps
  bart traj -r -x 192 -y 64 "$W/nt0" >/dev/null 2>&1 && bart scale 0.5 "$W/nt0" "$W/ntr" >/dev/null 2>&1 &&
    bart phantom -k -s 8 -t "$W/ntr" "$W/nk" >/dev/null 2>&1 && bart phantom -S 8 -x 96 "$W/ns" >/dev/null 2>&1 &&
    bart scale 2 "$W/nk" "$W/nk2" >/dev/null 2>&1 && bart join 5 "$W/nk" "$W/nk2" "$W/nk5" >/dev/null 2>&1
  bart pics -l2 -r 0.01 -i 20 -t "$W/ntr" "$W/nk5" "$W/ns" "$W/nbp" >/dev/null 2>&1
  $T pics -l2 -r 0.01 -i 20 -t "$W/ntr" "$W/nk5" "$W/ns" "$W/nmp" && "$PY" - "$W/nbp" "$W/nmp" <<'PYEOF' && ok || bad "pics -t (2 frames) vs bart pics -l2 -t"
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(n + '.cfl', np.complex64)
(db, b), (dm, m) = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 0.01 and db == dm else print('image NRMSE', e, db, dm) or 1)
PYEOF
  $T pics -l2 -r 0.01 -i 20 -t "$W/ntr" --chunk 1 "$W/nk5" "$W/ns" "$W/nmc" && cmp -s "$W/nmc.cfl" "$W/nmp.cfl" &&
    cmp -s "$W/nmc.hdr" "$W/nmp.hdr" && ok || bad "pics -t --chunk 1: the in-memory bytes"
  $T pics -l2 -t "$W/rk" "$W/nk" "$W/ns" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "traj" "$W/err" && ok || bad "pics -t with k-space as trajectory: $(cat "$W/err")"
  $T pics -l2 -t "$W/ntr" --chunk 0 "$W/nk" "$W/ns" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "pics --chunk 0: usage error"
  $T grappa "$W/rk" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "no undersampling" "$W/err" && ok || bad "grappa on fully sampled data: $(cat "$W/err")"
  $T grappa "$W/ru" "$W/x" --kernel 5 2>"$W/err"; [ $? -eq 2 ] && ok || bad "grappa --kernel 5: usage error"
  $T ecalib -m 3 "$W/rk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "ecalib -m 3: usage error"
  # BART's ESPIRiT workflow: ecalib's default two maps, pics on both, against bart itself
  bart ecalib "$W/rk" "$W/rb2" >/dev/null 2>&1 && bart pics -l2 -r 0.01 "$W/ru" "$W/rb2" "$W/rbp2" >/dev/null 2>&1
  $T ecalib "$W/rk" "$W/rm2" && $T pics -l2 -r 0.01 "$W/ru" "$W/rm2" "$W/rmp2" &&
    "$PY" - "$W/rb2" "$W/rm2" "$W/rbp2" "$W/rmp2" <<'PYEOF' && ok || bad "ecalib (two maps) + pics vs bart ecalib + pics"
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(n + '.cfl', np.complex64)
(dsb, _), (dsm, _), (db, b), (dm, m) = [rd(n) for n in sys.argv[1:5]]
e = np.linalg.norm(m - b) / np.linalg.norm(b)
ok = dsb == dsm and dsm[3:5] == [6, 2] and db == dm and dm[3:5] == [1, 2] and e < 1e-4
sys.exit(0 if ok else print('maps', dsb, dsm, 'image', db, dm, 'NRMSE', e) or 1)
PYEOF
  # the two maps' images combined as BART scripts do (bart rss 16), mvtool taking BART's argv
  bart rss 16 "$W/rmp2" "$W/rbr2" >/dev/null 2>&1
  $T rss 16 "$W/rmp2" "$W/rmr2" && "$PY" - "$W/rbr2" "$W/rmr2" <<'PYEOF' && ok || bad "rss 16 (BART's argv) vs bart rss 16"
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(n + '.cfl', np.complex64)
(db, b), (dm, m) = rd(sys.argv[1]), rd(sys.argv[2])
e = np.max(np.abs(m - b)) / np.max(np.abs(b))
sys.exit(0 if db == dm and dm[4] == 1 and e < 1e-6 else print('rss 16', db, dm, e) or 1)
PYEOF
  $T rss 70000 "$W/rmp2" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "rss 70000: usage error"
  $T pics -l2 -r 0.01 --chunk 1 "$W/ru" "$W/rm2" "$W/rmc2" && cmp -s "$W/rmc2.cfl" "$W/rmp2.cfl" &&
    cmp -s "$W/rmc2.hdr" "$W/rmp2.hdr" && ok || bad "pics --chunk 1, two maps: the in-memory bytes"
  bart join 4 "$W/ru" "$W/ru" "$W/ru4" >/dev/null 2>&1
  $T pics -l2 "$W/ru4" "$W/rm2" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "maps axis" "$W/err" && ok || bad "pics: two maps and k-space dims[4] = 2: $(cat "$W/err")"
  # l1-wavelet pics (BART's FISTA, wavelet and random shifts) and threshold against bart itself
  bart pics -l1 -r 0.01 -i 20 "$W/ru" "$W/rbm" "$W/rbl" >/dev/null 2>&1
  $T pics -l1 -r 0.01 -i 20 "$W/ru" "$W/rbm" "$W/rml" && "$PY" - "$W/rbl" "$W/rml" <<'PYEOF' && ok || bad "pics -l1 vs bart pics -l1"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 2e-5 else print('pics -l1 NRMSE', e) or 1)
PYEOF
  # -e: the step over BART's estimate of A^H A's largest eigenvalue (the two maps of ecalib's default)
  bart pics -e -l1 -r 0.01 -i 20 "$W/ru" "$W/rb2" "$W/rble" >/dev/null 2>&1
  $T pics -e -l1 -r 0.01 -i 20 "$W/ru" "$W/rm2" "$W/rmle" && "$PY" - "$W/rble" "$W/rmle" <<'PYEOF' && ok || bad "pics -e -l1 vs bart pics -e -l1"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 2e-5 else print('pics -e -l1 NRMSE', e) or 1)
PYEOF
  $T pics -l1 -r 0.01 -i 8 -S "$W/ru" "$W/rbm" "$W/rms" && $T pics -l1 -r 0.01 -i 8 -S --chunk 1 "$W/ru" "$W/rbm" "$W/rmc" &&
    cmp -s "$W/rms.cfl" "$W/rmc.cfl" && ok || bad "pics -l1 -S --chunk 1: the in-memory bytes"
  bart pics -R T:3:0:0.01 -i 20 -u 1 "$W/ru" "$W/rbm" "$W/rbt" >/dev/null 2>&1
  $T pics -R T:3:0:0.01 -i 20 -u 1 "$W/ru" "$W/rbm" "$W/rmt" && "$PY" - "$W/rbt" "$W/rmt" <<'PYEOF' && ok || bad "pics -R T vs bart pics -R T"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 2e-5 else print('pics -R T NRMSE', e) or 1)
PYEOF
  $T pics -R T:3:0:0.01 -u 0 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "pics -u 0: usage error"
  $T pics -l1 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "\-r" "$W/err" && ok || bad "pics -l1 without -r: $(cat "$W/err")"
  # several terms by BART's ADMM; -l2 takes the -r before it, -l1 the last one (BART's opt_reg)
  bart pics -r 0.02 -l2 -l1 -r 0.005 -R T:3:0:0.005 -i 20 "$W/ru" "$W/rbm" "$W/rba" >/dev/null 2>&1
  $T pics -r 0.02 -l2 -l1 -r 0.005 -R T:3:0:0.005 -i 20 "$W/ru" "$W/rbm" "$W/rma" && "$PY" - "$W/rba" "$W/rma" <<'PYEOF' && ok || bad "pics -l2 -l1 -R T (ADMM) vs bart pics"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 2e-5 else print('pics -l2 -l1 -R T NRMSE', e) or 1)
PYEOF
  # the image-domain terms: -R I alone (FISTA), with -R S (ADMM), jointly over bart ecalib's two maps
  for R in "-R I:0:0.01 rbm" "-R I:0:0.005 -R S rbm" "-R I:16:0.01 rb2"; do
    M=${R##* }; R=${R% *}
    bart pics $R -i 20 "$W/ru" "$W/$M" "$W/rbi" >/dev/null 2>&1
    $T pics $R -i 20 "$W/ru" "$W/$M" "$W/rmi" && "$PY" - "$W/rbi" "$W/rmi" <<'PYEOF' && ok || bad "pics $R ($M) vs bart pics"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
sys.exit(0 if e < 2e-5 else print('pics NRMSE', e) or 1)
PYEOF
  done
  $T pics -R I:8:0.01 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "JFLAGS" "$W/err" && ok || bad "pics -R I with joint flags beyond the maps: usage error: $(cat "$W/err")"
  $T pics -R W:7:0:0.01 -R W:3:0:0.01 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "one term of each kind" "$W/err" && ok || bad "pics with two -R W: usage error: $(cat "$W/err")"
  $T pics -m -R Q:0 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "LAMBDA > 0" "$W/err" && ok || bad "pics -m -R Q:0: usage error: $(cat "$W/err")"
  $T pics -R M:7:7:0.01 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "M:7:7:0.01" "$W/err" && ok || bad "pics -R M (multi-scale low rank): usage error naming it: $(cat "$W/err")"
  $T pics -R L:1024:7:0.01 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "\-R L" "$W/err" && ok || bad "pics -R L with row flags over the frames: usage error: $(cat "$W/err")"
  $T pics -R L:7:7:0.01 -b 0 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "\-b" "$W/err" && ok || bad "pics -b 0: usage error: $(cat "$W/err")"
  # locally low rank over a series made by bart: 5 frames of two phantoms mixed
  # with changing weights, each its own Poisson-disc lines; then a radial series,
  # golden-angle spokes cut into frames (one trajectory per frame)
  LL="$W/ll"
  mkdir -p "$LL"
  # B M TOL [T]: M's dims are B's, M within TOL of B (NRMSE), [BART's axis 10 holds T frames]
  cat > "$LL/nrmse.py" <<'PYEOF'
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(n + '.cfl', np.complex64)
(db, b), (dm, m) = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / np.linalg.norm(b)
ok = db == dm and e < float(sys.argv[3]) and (len(sys.argv) < 5 or dm[10] == int(sys.argv[4]))
sys.exit(0 if ok else print('NRMSE', e, db, dm) or 1)
PYEOF
  if bart phantom -x 48 -k -s 4 "$LL/pk" >/dev/null 2>&1 && bart phantom -x 48 -k -s 4 -G "$LL/pg" >/dev/null 2>&1; then
    fr=""
    for f in 0 1 2 3 4; do
      bart saxpy 0.$((9 - 2 * f)) "$LL/pk" "$LL/pg" "$LL/m$f" >/dev/null 2>&1 &&
        bart poisson -Y 48 -Z 1 -y 2.5 -z 1 -C 1 -v -s $((f + 3)) "$LL/p$f" >/dev/null 2>&1 &&
        bart fmac "$LL/m$f" "$LL/p$f" "$LL/k$f" >/dev/null 2>&1
      fr="$fr $LL/k$f"
    done
    bart join 5 $fr "$LL/ks" >/dev/null 2>&1 && bart ecalib -m1 "$LL/pk" "$LL/s" >/dev/null 2>&1
    for R in "-R L:7:7:0.02" "-R L:7:7:0.02 -R T:3:0:0.005 -b 4" "-R T:32:0:0.01" "-R T:35:0:0.005"; do
      bart pics $R -i 20 "$LL/ks" "$LL/s" "$LL/b" >/dev/null 2>&1
      $T pics $R -i 20 "$LL/ks" "$LL/s" "$LL/m" && "$PY" "$LL/nrmse.py" "$LL/b" "$LL/m" 2e-5 && ok || bad "pics $R (a 5-frame series) vs bart pics"
    done
    # --joint: the series as one image, BART's CG and ADMM iterates (item by item: the same minimiser, other iterates)
    for R in "-l2 -r 0.01" "-R T:3:0:0.005"; do
      bart pics $R -i 20 "$LL/ks" "$LL/s" "$LL/bj" >/dev/null 2>&1
      $T pics $R -i 20 --joint "$LL/ks" "$LL/s" "$LL/mj" && $T pics $R -i 20 "$LL/ks" "$LL/s" "$LL/mi" &&
        "$PY" - "$LL/bj" "$LL/mj" "$LL/mi" <<'PYEOF' && ok || bad "pics $R --joint (a 5-frame series) vs bart pics"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, j, i = rd(sys.argv[1]), rd(sys.argv[2]), rd(sys.argv[3])
ej, ei = [np.linalg.norm(m - b) / np.linalg.norm(b) for m in (j, i)]
sys.exit(0 if ej < 2e-5 and ei > 10 * ej else print('--joint NRMSE', ej, 'item by item', ei) or 1)
PYEOF
    done
    # the frames in BART's TIME_DIM (10): folded on load, BART's axes written back; --chunk the same bytes
    bart transpose 5 10 "$LL/ks" "$LL/kt" >/dev/null 2>&1 && bart pics -R L:7:7:0.02 -i 20 "$LL/kt" "$LL/s" "$LL/bt" >/dev/null 2>&1
    $T pics -R L:7:7:0.02 -i 20 "$LL/kt" "$LL/s" "$LL/mt" && "$PY" "$LL/nrmse.py" "$LL/bt" "$LL/mt" 2e-5 5 && ok || bad "pics -R L, frames in BART's axis 10, vs bart pics"
    bart pics -R T:1027:0:0.005 -i 20 "$LL/kt" "$LL/s" "$LL/bt2" >/dev/null 2>&1
    $T pics -R T:1027:0:0.005 -i 20 "$LL/kt" "$LL/s" "$LL/mt2" && "$PY" "$LL/nrmse.py" "$LL/bt2" "$LL/mt2" 2e-5 && ok || bad "pics -R T:1027 (TV over x, y and BART's axis 10) vs bart pics"
    $T pics -R T:1024:0:0.01 "$LL/ks" "$LL/s" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "one sample" "$W/err" && ok || bad "pics -R T:1024 with axis 10 of one sample: usage error: $(cat "$W/err")"
    # -R G (TGV) and -R C (ICTV: TV_1 over x, y, TV_2 over axis 10) as BART appends their terms: a 2D slice, with
    # -R W before them, and the series (jointly, as BART solves it)
    for R in "-R G:3:0:0.005|pk" "-R W:3:0:0.005 -R G:3:0:0.005|pk" "-R G:1027:0:0.005|kt" "-R C:1027:0:0.005|kt" "-R C:1025:0:0.01 -u 1|kt" "-R G:3:0:0.005 --joint|kt"; do
      kf=${R#*|} R=${R%|*}
      bart pics ${R% --joint} -i 20 "$LL/$kf" "$LL/s" "$LL/bg" >/dev/null 2>&1
      $T pics $R -i 20 "$LL/$kf" "$LL/s" "$LL/mg" && "$PY" "$LL/nrmse.py" "$LL/bg" "$LL/mg" 2e-5 && ok || bad "pics $R on $kf vs bart pics"
    done
    $T pics -R G:3:0:0.01 -R C:1027:0:0.01 "$LL/kt" "$LL/s" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "together" "$W/err" && ok || bad "pics -R G -R C: usage error: $(cat "$W/err")"
    $T pics -R C:3:0:0.01 "$LL/kt" "$LL/s" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "both" "$W/err" && ok || bad "pics -R C without a frame axis: usage error: $(cat "$W/err")"
    $T pics -R G:3:16:0.01 "$LL/kt" "$LL/s" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "joint flags" "$W/err" && ok || bad "pics -R G with JFLAGS: usage error: $(cat "$W/err")"
    $T pics -R L:7:7:0.02 -i 20 --chunk 2 "$LL/kt" "$LL/s" "$LL/mtc" && cmp -s "$LL/mtc.cfl" "$LL/mt.cfl" &&
      cmp -s "$LL/mtc.hdr" "$LL/mt.hdr" && ok || bad "pics -R L --chunk 2, frames in axis 10: the in-memory bytes and header"
    $T pics -l2 -r 0.01 -i 10 "$LL/kt" "$LL/s" "$LL/ml" && bart pics -l2 -r 0.01 -i 10 "$LL/kt" "$LL/s" "$LL/bl" >/dev/null 2>&1 &&
      [ "$(head -2 "$LL/ml.hdr")" = "$(head -2 "$LL/bl.hdr")" ] && ok || bad "pics -l2, frames in axis 10: BART's dims"
    bart traj -x 48 -y 60 -r -G "$LL/t0" >/dev/null 2>&1 && bart reshape $(bart bitmask 2 5) 12 5 "$LL/t0" "$LL/tr" >/dev/null 2>&1 &&
      bart phantom -x 48 -k -s 4 -t "$LL/tr" "$LL/nk" >/dev/null 2>&1 && bart phantom -x 48 -S 4 "$LL/ns" >/dev/null 2>&1 &&
      bart pics -R L:7:7:0.02 -e -i 20 -t "$LL/tr" "$LL/nk" "$LL/ns" "$LL/nb" >/dev/null 2>&1
    $T pics -R L:7:7:0.02 -e -i 20 -t "$LL/tr" "$LL/nk" "$LL/ns" "$LL/nm" && "$PY" "$LL/nrmse.py" "$LL/nb" "$LL/nm" 1e-2 && ok || bad "pics -R L -t (radial, a trajectory per frame) vs bart pics"
    # -p: each frame's own Poisson lines as BART's pattern (1, 48, 1, 1, 1, 5: shared along x, one per frame)
    # on the fully sampled series, against bart given the lines' data (its 0.8 estimates the scale on the
    # data as given, BART 0.9 on the data times P: the same here) and the pattern repeated along x (bart
    # 0.8 takes no pattern of 1 along an axis of the k-space)
    bart join 5 "$LL/p0" "$LL/p1" "$LL/p2" "$LL/p3" "$LL/p4" "$LL/pj" >/dev/null 2>&1 &&
      bart join 5 "$LL/m0" "$LL/m1" "$LL/m2" "$LL/m3" "$LL/m4" "$LL/ms" >/dev/null 2>&1 &&
      bart repmat 0 48 "$LL/pj" "$LL/pjx" >/dev/null 2>&1 && bart pics -R L:7:7:0.02 -i 20 -p "$LL/pjx" "$LL/ks" "$LL/s" "$LL/bpj" >/dev/null 2>&1
    $T pics -R L:7:7:0.02 -i 20 -p "$LL/pj" "$LL/ms" "$LL/s" "$LL/mpj" && "$PY" "$LL/nrmse.py" "$LL/bpj" "$LL/mpj" 2e-5 && ok || bad "pics -R L -p (a pattern per frame) on the full series vs bart pics -p on the lines"
    # -B: BART's subspace (the model of T2 shuffling): frame f is (0.9 - 0.2 f) times one phantom plus the
    # other, so a 5 x 2 basis spans the series; the 2 coefficient images solved against bart pics -B
    # (CG, FISTA -e, LLR over the coefficients, ADMM TV; -p: each frame's lines on the full series)
    "$PY" - "$LL/bas" "$LL/bas4" <<'PYEOF'
import sys, numpy as np
for name, T in zip(sys.argv[1:], (5, 4)):
    b = np.array([[0.9 - 0.2 * f, 1.0] for f in range(T)], np.complex64)  # (T, K), T fastest in the file
    open(name + '.hdr', 'w').write('# Dimensions\n1 1 1 1 1 %d 2 1 1 1 1 1 1 1 1 1\n' % T)
    b.flatten(order='F').tofile(name + '.cfl')
PYEOF
    for R in "-l2 -r 0.01" "-l1 -r 0.01 -e" "-R L:7:7:0.02 -e" "-R T:3:0:0.005"; do
      bart pics $R -i 20 -B "$LL/bas" "$LL/ks" "$LL/s" "$LL/bB" >/dev/null 2>&1
      $T pics $R -i 20 -B "$LL/bas" "$LL/ks" "$LL/s" "$LL/mB" && "$PY" "$LL/nrmse.py" "$LL/bB" "$LL/mB" 2e-5 && ok ||
        bad "pics $R -B (a 5-frame series, 2 coefficients) vs bart pics -B"
    done
    bart pics -l2 -r 0.01 -i 20 -B "$LL/bas" -p "$LL/pjx" "$LL/ks" "$LL/s" "$LL/bBp" >/dev/null 2>&1
    $T pics -l2 -r 0.01 -i 20 -B "$LL/bas" -p "$LL/pj" "$LL/ms" "$LL/s" "$LL/mBp" && "$PY" "$LL/nrmse.py" "$LL/bBp" "$LL/mBp" 2e-5 &&
      ok || bad "pics -B -p (each frame's lines) on the full series vs bart pics -B -p on the lines"
    $T pics -l2 -B "$LL/bas4" "$LL/ks" "$LL/s" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "frames T" "$W/err" && ok || bad "pics -B with 4 frames for 5: usage error: $(cat "$W/err")"
    $T pics -l2 -B "$LL/bas" "$LL/kt" "$LL/s" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "TE axis 5" "$W/err" && ok || bad "pics -B, frames in axis 10: usage error: $(cat "$W/err")"
    # -B -t: radial frames (a trajectory per frame, and one shared with two spokes of frame 2 zero in every
    # coil: BART then weights by the 0/1 pattern of the nonzero samples, as mvtool); 1e-2: the NUFFTs differ
    bart phantom -x 48 -k -s 4 -t "$LL/tr" "$LL/nkA" >/dev/null 2>&1 && bart phantom -x 48 -k -s 4 -G -t "$LL/tr" "$LL/nkG" >/dev/null 2>&1 &&
      bart slice 5 0 "$LL/tr" "$LL/trs" >/dev/null 2>&1 && bart phantom -x 48 -k -s 4 -t "$LL/trs" "$LL/skA" >/dev/null 2>&1 &&
      bart phantom -x 48 -k -s 4 -G -t "$LL/trs" "$LL/skG" >/dev/null 2>&1 && "$PY" - "$LL" <<'PYEOF' || bad "radial series for pics -B -t"
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(n + '.cfl', np.complex64).reshape(d, order='F')
def wr(n, a):
    open(n + '.hdr', 'w').write('# Dimensions\n' + ' '.join(str(v) for v in a.shape) + '\n')
    a.astype(np.complex64).flatten(order='F').tofile(n + '.cfl')
L = sys.argv[1] + '/'
w = np.array([0.9 - 0.2 * f for f in range(5)]).reshape((1,) * 5 + (5,) + (1,) * 10)
wr(L + 'nkB', rd(L + 'nkA')[1] * w + rd(L + 'nkG')[1])
k = rd(L + 'skA')[1] * w + rd(L + 'skG')[1]
k[0, :, 1:3, :, 0, 2] = 0
wr(L + 'skB', k)
wr(L + 'pone', np.ones((1, 48, 12, 1, 1, 5)))
PYEOF
    for R in "-l2 -r 0.01 -i 10" "-l1 -r 0.01 -e -i 20" "-R L:7:7:0.02 -e -i 20"; do
      bart pics $R -B "$LL/bas" -t "$LL/tr" "$LL/nkB" "$LL/ns" "$LL/bN" >/dev/null 2>&1
      $T pics $R -B "$LL/bas" -t "$LL/tr" "$LL/nkB" "$LL/ns" "$LL/mN" && "$PY" "$LL/nrmse.py" "$LL/bN" "$LL/mN" 1e-2 && ok ||
        bad "pics $R -B -t (radial, a trajectory per frame) vs bart pics -B -t"
    done
    bart pics -l1 -r 0.01 -e -i 20 -B "$LL/bas" -t "$LL/trs" "$LL/skB" "$LL/ns" "$LL/bS" >/dev/null 2>&1
    $T pics -l1 -r 0.01 -e -i 20 -B "$LL/bas" -t "$LL/trs" "$LL/skB" "$LL/ns" "$LL/mS" && "$PY" "$LL/nrmse.py" "$LL/bS" "$LL/mS" 1e-2 &&
      $T pics -l1 -r 0.01 -e -i 20 -B "$LL/bas" -p "$LL/pone" -t "$LL/trs" "$LL/skB" "$LL/ns" "$LL/mS1" &&
      ! "$PY" "$LL/nrmse.py" "$LL/bS" "$LL/mS1" 3e-2 >/dev/null && ok ||
      bad "pics -B -t (one trajectory, zero spokes dropped as BART's estimated pattern) vs bart pics -B -t, and unlike every sample weighted"
    # nlinv: BART's nonlinear inversion (image and coils together) on one frame, a 3D volume, the series
    # (one problem, as BART's), its options and a pattern per frame; -i 5-6 (BART's inner CG stops on a
    # loose rule that a 1e-6 perturbation can move by a step after ~7 Newton steps: the default -i 8 within 1e-2)
    for R in "-i 6" "-i 5 -c" "-i 5 -N" "-i 5 -S" "-i 4 -m 2" "-i 4 -m 2 -U" "-i 5 -a 100 -b 20 -R 3 -M 0.05" "-i 8"; do
      tol=1e-4; [ "$R" = "-i 8" ] && tol=1e-2
      bart nlinv $R "$LL/k0" "$LL/bn" "$LL/bns" >/dev/null 2>&1
      $T nlinv $R "$LL/k0" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" $tol &&
        "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" $tol && ok || bad "nlinv $R (image and coils) vs bart nlinv"
    done
    bart nlinv -i 5 "$LL/ks" "$LL/bn" >/dev/null 2>&1
    $T nlinv -i 5 "$LL/ks" "$LL/mn" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 && ok || bad "nlinv -i 5 of a 5-frame series vs bart nlinv"
    bart nlinv -i 5 -p "$LL/pjx" "$LL/ms" "$LL/bn" >/dev/null 2>&1
    $T nlinv -i 5 -p "$LL/pjx" "$LL/ms" "$LL/mn" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 && ok || bad "nlinv -p (a pattern per frame) vs bart nlinv -p"
    bart phantom -3 -x 24 -k -s 4 "$LL/k3f" >/dev/null 2>&1 && "$PY" - "$LL/k3f" "$LL/k3" <<'PYEOF' || bad "3D k-space for nlinv"
import sys, numpy as np
d = [int(v) for v in open(sys.argv[1] + '.hdr').read().split('\n')[1].split()]
k = np.fromfile(sys.argv[1] + '.cfl', np.complex64).reshape(d, order='F').copy()
rng = np.random.default_rng(3)
keep = rng.uniform(size=(d[1], d[2])) < 0.4
keep[d[1] // 2 - 4:d[1] // 2 + 4, d[2] // 2 - 4:d[2] // 2 + 4] = True
k *= keep.reshape([1, d[1], d[2]] + [1] * 13)
open(sys.argv[2] + '.hdr', 'w').write('# Dimensions\n' + ' '.join(map(str, d)) + '\n')
k.flatten(order='F').tofile(sys.argv[2] + '.cfl')
PYEOF
    bart nlinv -i 6 "$LL/k3" "$LL/bn" "$LL/bns" >/dev/null 2>&1
    $T nlinv -i 6 "$LL/k3" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 &&
      "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" 1e-4 && ok || bad "nlinv -i 6 of a 3D volume vs bart nlinv"
    for R in "-I $LL/k0" "-P"; do
      $T nlinv $R "$LL/k0" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "not implemented" "$W/err" && ok || bad "nlinv $R: usage error: $(cat "$W/err")"
    done
    $T nlinv -s 8 "$LL/ks" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "frame axes" "$W/err" && ok || bad "nlinv -s 8 (the coil axis): usage error: $(cat "$W/err")"
    $T nlinv -s 1024 "$LL/ks" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 5 holds 5 frames" "$W/err" && ok || bad "nlinv -s 1024 with frames in axis 5: usage error: $(cat "$W/err")"
    # -s: one set of coils for the whole series (real-time NLINV's model), Cartesian and radial
    bart nlinv -i 5 -s 32 "$LL/ks" "$LL/bn" "$LL/bns" >/dev/null 2>&1
    $T nlinv -i 5 -s 32 "$LL/ks" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 &&
      "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" 1e-4 && ok || bad "nlinv -s 32 (coils shared by the 5 frames) vs bart nlinv -s"
    bart nlinv -i 5 -f 0.6 "$LL/k0" "$LL/bn" >/dev/null 2>&1
    $T nlinv -i 5 -f 0.6 "$LL/k0" "$LL/mn" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 && ok || bad "nlinv -f 0.6 (a restricted FOV) vs bart nlinv"
    # nlinv -t: golden-angle radial, gridded onto twice the image grid as BART's (its gridding is ~1e-3 from
    # the exact transform, medvol's 1e-6: 1e-2), one trajectory and a series with a trajectory per frame
    bart traj -r -x 64 -y 33 -G "$LL/ntr" >/dev/null 2>&1 && bart phantom -k -s 4 -t "$LL/ntr" "$LL/nrk" >/dev/null 2>&1 &&
      bart traj -r -x 48 -y 60 -G "$LL/ntg" >/dev/null 2>&1 && bart reshape $(bart bitmask 2 10) 20 3 "$LL/ntg" "$LL/ntf" >/dev/null 2>&1 &&
      bart phantom -k -s 4 -t "$LL/ntf" "$LL/nrf" >/dev/null 2>&1
    for R in "-i 6" "-i 5 -m 2" "-i 5 -c -S" "-i 5 -f 0.7"; do
      bart nlinv -t "$LL/ntr" $R "$LL/nrk" "$LL/bn" "$LL/bns" >/dev/null 2>&1
      $T nlinv -t "$LL/ntr" $R "$LL/nrk" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-2 &&
        "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" 1e-2 && ok || bad "nlinv -t $R (radial: image and coils on the doubled grid) vs bart nlinv -t"
    done
    $T nlinv -t "$LL/ntr" -i 4 -x 64:64:1 "$LL/nrk" "$LL/mx" "$LL/mxs" && $T nlinv -t "$LL/ntr" -i 4 "$LL/nrk" "$LL/md" &&
      cmp -s "$LL/mx.cfl" "$LL/md.cfl" && $T nlinv -t "$LL/ntr" -i 4 -x 80:72:1 "$LL/nrk" "$LL/mx" "$LL/mxs" &&
      [ "$(sed -n 2p "$LL/mx.hdr")" = "80 72 1 1 1 1 1 1 1 1 1 1 1 1 1 1 " ] && [ "$(sed -n 2p "$LL/mxs.hdr")" = "160 144 1 4 1 1 1 1 1 1 1 1 1 1 1 1 " ] &&
      ok || bad "nlinv -t -x (BART 0.9's image dims): the estimate's bytes when equal, the dims given"
    bart nlinv -t "$LL/ntf" -i 5 "$LL/nrf" "$LL/bn" >/dev/null 2>&1
    $T nlinv -t "$LL/ntf" -i 5 "$LL/nrf" "$LL/mn" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-2 && ok || bad "nlinv -t (a trajectory per frame, 3 frames in axis 10) vs bart nlinv -t"
    # (bart 0.8 asserts on -t with -s, in its gridding: medvol's radial -s is checked against numpy in recon.nlinv)
    $T nlinv -t "$LL/ntf" -i 5 -s 1024 "$LL/nrf" "$LL/mn" "$LL/mns" && [ "$(sed -n 2p "$LL/mns.hdr")" = "96 96 1 4 1 1 1 1 1 1 1 1 1 1 1 1 " ] &&
      ok || bad "nlinv -t -s 1024: one set of coils on the doubled grid: $(sed -n 2p "$LL/mns.hdr")"
    bart transpose 5 13 "$LL/ks" "$LL/ksms" >/dev/null 2>&1
    $T nlinv "$LL/ksms" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "SMS" "$W/err" && ok || bad "nlinv of SMS data (axis 13): usage error: $(cat "$W/err")"
    # rtnlinv: BART's real-time NLINV (frame after frame, each from the last, regularised towards it damped) and
    # nlinv -n (gridded data and its PSF: the adjoint without it, the image the centred half). Cartesian -p, a
    # PSF of 2 turns for 5 frames (the same model: 1e-4); radial -t, 3 turns for 6 frames on rtnlinv's own grid
    # (126, an image of 63) through BART's gridding (~1e-3 from the exact transform: 1e-2)
    bart phantom -k -s 4 -x 64 "$LL/rkc" >/dev/null 2>&1 && "$PY" - "$LL" <<'PYEOF' || bad "k-space series for rtnlinv"
import sys, numpy as np
L = sys.argv[1] + '/'
def wr(n, a):
    open(L + n + '.hdr', 'w').write('# Dimensions\n' + ' '.join(str(v) for v in a.shape) + '\n')
    a.astype(np.complex64).flatten(order='F').tofile(L + n + '.cfl')
k = np.fromfile(L + 'rkc.cfl', np.complex64).reshape((64, 64, 1, 4) + (1,) * 12, order='F')
p = np.zeros((64, 64, 2))
for t in range(2):
    for y in range(64):
        p[:, y, t] = 1.0 if (y % 3 == t or 28 <= y < 36) else 0.0
p[:, :, 1] *= np.random.default_rng(5).uniform(0.5, 1, size=(64, 1))          # a weighted turn
turn = lambda t: p[:, :, t].reshape((64, 64) + (1,) * 14, order='F')
ks = np.concatenate([k * (turn(f % 2) != 0) * (1 + 0.05 * f) for f in range(5)], axis=10)
wr('rp', p.reshape((64, 64) + (1,) * 8 + (2,) + (1,) * 5, order='F')); wr('rks', ks)
wr('rp0', turn(0)); wr('rk0', ks[:, :, :, :, :, :, :, :, :, :, :1])
PYEOF
    for R in "-i 6" "-i 5 -m 2 -T 0.5 -f 0.7 -S" "-i 5 -T 0 -c -N -a 100 -b 20"; do
      bart rtnlinv $R -p "$LL/rp" "$LL/rks" "$LL/bn" "$LL/bns" >/dev/null 2>&1
      $T rtnlinv $R -p "$LL/rp" "$LL/rks" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 5 &&
        "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" 1e-4 5 && ok || bad "rtnlinv $R -p (2 PSF turns, 5 frames) vs bart rtnlinv -p"
    done
    # (bart 0.8's nlinv -n on a series returns NaN: one frame)
    bart nlinv -n -i 6 -p "$LL/rp0" "$LL/rk0" "$LL/bn" "$LL/bns" >/dev/null 2>&1
    $T nlinv -n -i 6 -p "$LL/rp0" "$LL/rk0" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-4 &&
      "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" 1e-4 && ok || bad "nlinv -n -p (gridded data, its PSF) vs bart nlinv -n"
    bart traj -r -x 64 -y 13 -t 3 "$LL/rtt" >/dev/null 2>&1 && bart phantom -s 4 -t "$LL/rtt" "$LL/rtk1" >/dev/null 2>&1 &&
      bart join 10 "$LL/rtk1" "$LL/rtk1" "$LL/rtk" >/dev/null 2>&1 || bad "radial series for rtnlinv"
    for R in "-i 6" "-i 5 -m 2 -T 0.7 -S"; do
      bart rtnlinv $R -t "$LL/rtt" "$LL/rtk" "$LL/bn" "$LL/bns" >/dev/null 2>&1
      $T rtnlinv $R -t "$LL/rtt" "$LL/rtk" "$LL/mn" "$LL/mns" && "$PY" "$LL/nrmse.py" "$LL/bn" "$LL/mn" 1e-2 6 &&
        "$PY" "$LL/nrmse.py" "$LL/bns" "$LL/mns" 1e-2 6 && ok || bad "rtnlinv $R -t (radial, 3 turns, 6 frames) vs bart rtnlinv -t"
    done
    $T rtnlinv -i 4 -t "$LL/rtt" -x 128:128:1 "$LL/rtk" "$LL/mx" "$LL/mxs" && [ "$(sed -n 2p "$LL/mx.hdr")" = "64 64 1 1 1 1 1 1 1 1 6 1 1 1 1 1 " ] &&
      [ "$(sed -n 2p "$LL/mxs.hdr")" = "128 128 1 4 1 1 1 1 1 1 6 1 1 1 1 1 " ] && ok || bad "rtnlinv -t -x 128:128:1 (the grid given): $(sed -n 2p "$LL/mxs.hdr")"
    for R in "-p $LL/rp -t $LL/rtt" "-I $LL/rk0 -p $LL/rp" "-s -p $LL/rp" "-x 127:127:1 -t $LL/rtt" ""; do
      $T rtnlinv $R "$LL/rks" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "rtnlinv" "$W/err" && ok || bad "rtnlinv $R: usage error: $(cat "$W/err")"
    done
    # twixread: Siemens raw data written by twixtools (PyPI; tests/py/twix_data.py: VE files of two scans, an
    # adjustment scan before the image scan, with noise, phase-correction and sync ADCs, and VB files), read by
    # mvtool twixread and bart twixread 0.8 (the same bytes and sizes), and placed by twixtools' own reader (-A)
    if "$PY" tests/py/twix_data.py write "$LL/tw" >/dev/null 2>"$W/err"; then
      for c in ve_2d ve_3d_echoes ve_slices_reps ve_center vb_2d vb_3d; do
        bart twixread -A "$LL/tw/$c.dat" "$LL/tw/b" >/dev/null 2>&1
        $T twixread -A "$LL/tw/$c.dat" "$LL/tw/m" && same_pair "$LL/tw/b" "$LL/tw/m" && cmp -s "$LL/tw/m.cfl" "$LL/tw/$c.ref.cfl" &&
          same_dims "$LL/tw/m" "$LL/tw/$c.ref" && ok || bad "twixread -A $c vs bart twixread -A and twixtools' reading"
      done
      for R in "-x 10 -y 5 -c 4 -s 3 -n 2 ve_slices_reps" "-x 10 -y 5 -c 4 -s 3 -n 2 -v 2 -a 30 ve_slices_reps" \
               "-x 8 -y 4 -z 3 -c 2 -L -P -a 12 ve_center" "-A -L -P -a 12 ve_center" "-r 6 -x 16 -c 2 vb_2d" "-x 8 -y 4 -z 3 -c 3 -s 2 vb_3d" \
               "-M -x 16 -y 8 -c 3 -a 8 ve_2d" "-M -x 16 -y 6 -c 2 -s 3 -a 4 vb_2d" "-M -A vb_2d"; do
        read -ra tw <<< "$R"
        bart twixread "${tw[@]:0:${#tw[@]}-1}" "$LL/tw/${tw[-1]}.dat" "$LL/tw/b" >/dev/null 2>&1
        $T twixread "${tw[@]:0:${#tw[@]}-1}" "$LL/tw/${tw[-1]}.dat" "$LL/tw/m" 2>/dev/null && same_pair "$LL/tw/b" "$LL/tw/m" && ok ||
          bad "twixread $R vs bart twixread"
      done
      $T twixread -x 16 -y 4 -c 2 "$LL/tw/vb_2d.dat" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "6 image ADCs read, 4 expected" "$W/err" &&
        [ ! -e "$W/x.cfl" ] && ok || bad "twixread with 4 lines of 6: the count error (bart's), no output: $(cat "$W/err")"
      head -c 5000 "$LL/tw/ve_2d.dat" > "$LL/tw/cut.dat"
      $T twixread -A "$LL/tw/cut.dat" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "MV_ERR_TRUNCATED.*cut.dat.* at byte " "$W/err" &&
        ok || bad "twixread of a cut file: MV_ERR_TRUNCATED naming the file and the byte: $(cat "$W/err")"
    else
      echo "  (skip twixread vs twixtools and bart: $(tail -1 "$W/err"))"
    fi
    # cc / ccapply: BART's coil compression. An eigenvector's sign is its solver's: the virtual coils and the
    # matrices' columns are compared each up to a real sign (the last channel's entry is real in both), and the
    # first P columns only (the small eigenvalues' vectors are at BART's float32 rounding); ccapply reads the
    # same (BART's) matrix in both, so its output is compared whole
    cat > "$LL/ccsign.py" <<'PYEOF'
import sys, numpy as np
def rd(n):
    d = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(n + '.cfl', np.complex64).reshape(d, order='F').astype(complex)
(dm, m), (db, b) = rd(sys.argv[1]), rd(sys.argv[2])
tol, cols, mat = float(sys.argv[3]), int(sys.argv[4]), len(sys.argv) > 5
if dm != db:
    sys.exit(print('dims', dm, db) or 1)
if mat:  # (R, 1, 1, C, C): every position, its first `cols` columns
    pairs = [(m[x, 0, 0, :, q], b[x, 0, 0, :, q]) for x in range(dm[0]) for q in range(cols)]
else:    # the virtual coils (axis 3) over every other axis
    mm, bb = np.moveaxis(m, 3, 0).reshape(dm[3], -1), np.moveaxis(b, 3, 0).reshape(db[3], -1)
    pairs = [(mm[q], bb[q]) for q in range(cols)]
worst = 0.0
for u, v in pairs:
    s = np.vdot(v, u)
    ph = s / abs(s) if abs(s) > 0 else 1.0
    if abs(abs(ph.real) - 1) > 1e-2:
        sys.exit(print('a phase that is not a sign:', ph) or 1)
    worst = max(worst, np.linalg.norm(u - np.sign(ph.real) * v) / max(np.linalg.norm(v), 1e-30))
sys.exit(0 if worst < tol else print('worst column NRMSE', worst) or 1)
PYEOF
    bart phantom -x 48 -k -s 6 "$LL/ccp" >/dev/null 2>&1 && bart noise -s 3 -n 0.5 "$LL/ccp" "$LL/cck" >/dev/null 2>&1 &&
      bart phantom -x 45 -k -s 5 "$LL/ccq" >/dev/null 2>&1 && bart noise -s 4 -n 0.5 "$LL/ccq" "$LL/cco" >/dev/null 2>&1 &&
      bart phantom -3 -x 24 -k -s 4 "$LL/cc3" >/dev/null 2>&1 || bad "bart phantom for cc"
    bart join 10 "$LL/m0" "$LL/m1" "$LL/m2" "$LL/ccs" >/dev/null 2>&1 || bad "bart join for cc"
    for R in "-p 4 -S|cck|1e-4" "-p 3|ccq|1e-4" "-p 3|cco|1e-4" "-p 4 -A|cck|1e-4" "-p 4 -r 12|cck|1e-4" "-p 3 -G|cck|1e-3" \
             "-p 3 -G|cco|1e-3" "-p 2 -G -r 16:8:1|cck|1e-3" "-p 2 -G -A|cck|1e-3" "-p 2 -G|cc3|1e-3" "-p 3|ccs|1e-4" \
             "-p 2 -G|ccs|1e-3" "-p 0 -G|cck|1e-3"; do
      o=${R%%|*}; rest=${R#*|}; f=${rest%%|*}; tol=${rest#*|}
      p=$(echo "$o" | sed 's/.*-p \([0-9]*\).*/\1/'); [ "$p" = 0 ] && p=$(sed -n 2p "$LL/$f.hdr" | cut -d' ' -f4)
      bart cc $o "$LL/$f" "$LL/bc" >/dev/null 2>&1
      $T cc $o "$LL/$f" "$LL/mc" && "$PY" "$LL/ccsign.py" "$LL/mc" "$LL/bc" $tol $p && ok || bad "cc $o ($f) vs bart cc, each virtual coil up to a sign"
    done
    for R in "-S|cck|1e-4" "-G|cck|3e-3" "-G -A|cco|3e-3"; do
      o=${R%%|*}; rest=${R#*|}; f=${rest%%|*}; tol=${rest#*|}
      bart cc -M $o "$LL/$f" "$LL/bm" >/dev/null 2>&1
      $T cc -M $o "$LL/$f" "$LL/mm" && "$PY" "$LL/ccsign.py" "$LL/mm" "$LL/bm" $tol 3 mat && ok || bad "cc -M $o ($f): the matrix vs bart cc -M, each column up to a sign"
    done
    bart cc -M -G "$LL/cck" "$LL/bgm" >/dev/null 2>&1 && bart cc -M -S "$LL/cck" "$LL/bsm" >/dev/null 2>&1 &&
      bart fft -i 1 "$LL/cck" "$LL/ckh" >/dev/null 2>&1 || bad "bart cc -M / fft for ccapply"
    for R in "-S -p 4|bsm|cck" "-G -p 3|bgm|cck" "-G -p 6|bgm|cck" "-G -t -p 3|bgm|ckh"; do
      o=${R%%|*}; rest=${R#*|}; mat=${rest%%|*}; f=${rest#*|}
      bart ccapply $o "$LL/$f" "$LL/$mat" "$LL/ba" >/dev/null 2>&1
      $T ccapply $o "$LL/$f" "$LL/$mat" "$LL/ma" && "$PY" "$LL/nrmse.py" "$LL/ba" "$LL/ma" 1e-5 && ok || bad "ccapply $o ($mat) vs bart ccapply"
      bart ccapply -u $o "$LL/ba" "$LL/$mat" "$LL/bu" >/dev/null 2>&1
      $T ccapply -u $o "$LL/ma" "$LL/$mat" "$LL/mu" && "$PY" "$LL/nrmse.py" "$LL/bu" "$LL/mu" 1e-5 && ok || bad "ccapply -u $o ($mat) vs bart ccapply -u"
    done
    $T cc -E -p 2 "$LL/cck" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "not implemented" "$W/err" && ok || bad "cc -E: usage error: $(cat "$W/err")"
    $T ccapply -p 2 "$LL/cck" "$LL/bgm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "needs -G" "$W/err" && ok || bad "ccapply of a geometric matrix without -G: usage error: $(cat "$W/err")"
    $T cc -p 9 "$LL/cck" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "6 coils" "$W/err" && ok || bad "cc -p 9 of 6 coils: usage error: $(cat "$W/err")"
    # homodyne: BART's partial Fourier; the acquired part is the first FRACTION of the axis's samples, the
    # rest zeroed here (bart's phantom k-space, even and odd sizes, 2D and 3D); a phase reference of random
    # unit phases; images in (-I) from bart fft's centred unitary inverse
    "$PY" - "$LL" <<'PYEOF' || bad "partial-Fourier k-space for homodyne"
import sys, numpy as np
d = sys.argv[1]
def rd(n):
    dims = [int(v) for v in open(n + '.hdr').read().split('\n')[1].split()]
    return dims, np.fromfile(n + '.cfl', np.complex64).reshape(dims, order='F')
def wr(n, dims, a):
    open(n + '.hdr', 'w').write('# Dimensions\n' + ' '.join(str(v) for v in dims) + '\n')
    np.asarray(a, np.complex64).flatten(order='F').tofile(n + '.cfl')
for src, dst, ax, f in (('cck', 'hpf', 1, 0.625), ('cck', 'hpx', 0, 0.75), ('cco', 'hpo', 1, 0.7), ('cc3', 'hp3', 2, 0.75)):
    dims, k = rd(d + '/' + src)
    n = dims[ax]
    idx = [slice(None)] * 16
    idx[ax] = slice(int(np.ceil(n * f)), None)
    k = k.copy()
    k[tuple(idx)] = 0
    wr(d + '/' + dst, dims, k)
dims, k = rd(d + '/hpf')
pd = dims[:3] + [1] * 13
wr(d + '/hph', pd, np.exp(2j * np.pi * np.random.default_rng(5).random(pd)))
PYEOF
    bart fft -u -i 7 "$LL/hpf" "$LL/hpi" >/dev/null 2>&1 || bad "bart fft for homodyne -I"
    for R in "1 0.625|hpf" "-r 0.4 -C 1 0.625|hpf" "-n 1 0.625|hpf" "0 0.75|hpx" "1 0.7|hpo" "-r 0.2 2 0.75|hp3" \
             "-I 1 0.625|hpi" "-P LLDIR/hph 1 0.625|hpf"; do
      o=${R%%|*}; f=${R#*|}; o=$(echo "$o" | sed "s|LLDIR|$LL|")
      bart homodyne $o "$LL/$f" "$LL/bh" >/dev/null 2>&1
      $T homodyne $o "$LL/$f" "$LL/mh" && "$PY" "$LL/nrmse.py" "$LL/bh" "$LL/mh" 1e-5 && ok || bad "homodyne $o ($f) vs bart homodyne"
    done
    $T homodyne 3 0.625 "$LL/hpf" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "0, 1 or 2" "$W/err" && ok || bad "homodyne 3 (the coil axis): usage error: $(cat "$W/err")"
    $T homodyne 1 0.4 "$LL/hpf" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "0.5, 1" "$W/err" && ok || bad "homodyne 1 0.4: usage error: $(cat "$W/err")"
    # fft: bart fft's form (BITMASK over BART's 16 axes; centred by BART's fftmod, odd sizes too; -u, -i, -n)
    for R in "7|cck" "-u 3|cck" "-i 6|cck" "-u -i 7|cck" "-n 1|cck" "-u -i -n 3|cck" "3|cco" "-u -i 7|cc3" \
             "-u 1024|ccs" "1027|ccs" "-i 8|cck"; do
      o=${R%%|*}; f=${R#*|}
      bart fft $o "$LL/$f" "$LL/bf" >/dev/null 2>&1
      $T fft $o "$LL/$f" "$LL/mf" && "$PY" "$LL/nrmse.py" "$LL/bf" "$LL/mf" 1e-6 && ok || bad "fft $o ($f) vs bart fft"
    done
    $T fft -u "$LL/cck" "$W/x.nii" 2>"$W/err"; [ $? -eq 2 ] && grep -q "BITMASK" "$W/err" && ok || bad "fft -u without a bitmask: usage error: $(cat "$W/err")"
    # 16 axes of 2 and every other one transformed: more separate axes than a plan takes, axis by axis
    "$PY" -c "import numpy as np; open('$LL/f16.hdr','w').write('# Dimensions\n' + ' '.join(['2'] * 16) + '\n'); (np.random.default_rng(3).standard_normal(2 ** 17).astype(np.float32)).tofile('$LL/f16.cfl')" &&
      bart fft -u 21845 "$LL/f16" "$LL/bf" >/dev/null 2>&1 && $T fft -u 21845 "$LL/f16" "$LL/mf" &&
      "$PY" "$LL/nrmse.py" "$LL/bf" "$LL/mf" 1e-6 && ok || bad "fft -u 21845 over 16 axes of 2 vs bart fft"
    # fftmod / fftshift: bart's own bytes (cmp), BART's lines and blocks (an unmodulated axis below), even and
    # odd sizes, -i / -b, frames in axis 10, 16 axes of 2
    for R in "7|cck" "-i 7|cck" "3|cco" "-i 3|cco" "2|cck" "-i 2|cco" "1032|ccs" "-i 12|cc3" "21845|f16" \
             "-i 43690|f16" "0|cco"; do
      o=${R%%|*}; f=${R#*|}
      bart fftmod $o "$LL/$f" "$LL/bm" >/dev/null 2>&1 && $T fftmod $o "$LL/$f" "$LL/mm" &&
        cmp -s "$LL/bm.cfl" "$LL/mm.cfl" && ok || bad "fftmod $o ($f): not bart fftmod's bytes"
    done
    for R in "7|cck" "-b 3|cco" "10|ccs" "-b 1031|ccs" "-b 21845|f16" "43690|f16" "-b 7|cc3"; do
      o=${R%%|*}; f=${R#*|}
      bart fftshift $o "$LL/$f" "$LL/bm" >/dev/null 2>&1 && $T fftshift $o "$LL/$f" "$LL/mm" &&
        cmp -s "$LL/bm.cfl" "$LL/mm.cfl" && ok || bad "fftshift $o ($f): not bart fftshift's bytes"
    done
    $T fftmod 65536 "$LL/cck" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "BITMASK" "$W/err" && ok || bad "fftmod 65536: usage error: $(cat "$W/err")"
    # the array commands (examples/mvtool_array.c): bart's bytes (cmp) and sizes on BART's phantom k-space,
    # a 3D volume, a series in axis 10 and 16 axes of 2; negative numbers after --, as bart's getopt takes them
    bart fft -i 3 "$LL/cck" "$LL/aim" >/dev/null 2>&1 && bart extract 0 0 20 "$LL/cck" "$LL/ak2" >/dev/null 2>&1 || bad "bart fft / extract for the array commands"
    for R in "noise cck" "noise -s 3 -n 0.5 cck" "noise -r -s 7 cco" "noise -S 0.3 -s -11 -n 2 cc3" "scale 2+0.5i cck" "scale -- -0.5 cck" "scale 1.5i cc3" "saxpy -- -1+2i cck aim" "conj cck" "creal cco" "cabs cck" \
             "carg cck" "fmac cck aim" "fmac -C cck aim" "fmac -s 8 -C cck aim" "fmac -s 3 cc3" "avg 8 cck" "avg -w 1024 ccs" \
             "avg 7 cc3" "pattern cck" "pattern -s 9 cck" "resize 0 60 1 30 cck" "resize -c 0 60 1 30 cco" "crop 3 2 cck" \
             "extract 0 3 40 1 5 6 cck" "extract 10 1 3 ccs" "slice 3 4 cck" "slice 10 2 0 7 ccs" "copy cck" \
             "join 3 cck aim cck" "join 10 ccs ccs" "join 0 cck ak2" "flip 5 cck" "flip 1032 ccs" "flip 21845 f16" \
             "circshift 1 17 cco" "circshift -- 0 -5 cck" "circshift 10 2 ccs" "transpose 0 3 cck" "transpose 1 10 ccs" \
             "transpose 0 15 f16" "reshape 3 96 24 cck" "reshape 1032 2 6 ccs" "repmat 4 3 cck" "repmat 15 2 cc3" \
             "squeeze ccs" "squeeze cc3" "invert cck" "cpyphs cco" "zexp aim" "zexp -i cck" "spow 2 cck" "spow -- -0.5+1i cco" \
             "var 8 cck" "std 1024 ccs" "var 3 cc3" "std 0 cck" "vec -- 1 2+3i -0.5 4i" "index 10 6" \
             "mip 8 cck" "mip -a 3 cc3" "mip -m -a 1024 ccs" "normalize 8 cck" "normalize -b 3 cco" \
             "fovshift -s 0.1:-0.23:0 cck" "fovshift -s 1.7:0.3:-0.45 cc3" "fovshift -s -0.3:0.05:0.2 ccs" \
             "window 3 cck" "window -H 1024 ccs" "window 7 cc3" "window -H 9 cco"; do
      set -- $R; cmd=$1; shift; args=(); for w in "$@"; do [ -f "$LL/$w.cfl" ] && args+=("$LL/$w") || args+=("$w"); done
      bart $cmd "${args[@]}" "$LL/ba" >/dev/null 2>&1 && $T $cmd "${args[@]}" "$LL/ma" && same_pair "$LL/ba" "$LL/ma" && ok ||
        bad "$R: not bart $cmd's bytes or sizes"
    done
    # window: numpy's np.hamming and np.hanning along an axis of ones
    bart ones 2 9 4 "$LL/wn1" >/dev/null 2>&1 && $T window 1 "$LL/wn1" "$LL/wnh" && $T window -H 2 "$LL/wn1" "$LL/wnn" &&
      "$PY" - "$LL/wnh" "$LL/wnn" <<'PYEOF' && ok || bad "window: not numpy's Hamming / Hann windows"
import numpy as np, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
h, n = rd(sys.argv[1]).reshape(9, 4).real, rd(sys.argv[2]).reshape(9, 4).real
ok = np.allclose(h, np.hamming(9)[:, None] * np.ones((1, 4)), atol=1e-6) and np.allclose(n, np.ones((9, 1)) * np.hanning(4)[None, :], atol=1e-6)
sys.exit(0 if ok else 1)
PYEOF
    # fovshift at trajectory points (bart's bytes), and what a shift means: a quarter of the field of view along
    # axis 0 is numpy's roll of the image by -N/4 (circshift, checked against np.roll below); estshift finds a roll
    bart traj -r -x 48 -y 31 "$LL/fst" >/dev/null 2>&1 && bart phantom -k -s 3 -t "$LL/fst" "$LL/fsk" >/dev/null 2>&1 &&
      bart fovshift -t "$LL/fst" -s 0.2:-0.1:0 "$LL/fsk" "$LL/ba" >/dev/null 2>&1 &&
      $T fovshift -t "$LL/fst" -s 0.2:-0.1:0 "$LL/fsk" "$LL/ma" && same_pair "$LL/ba" "$LL/ma" && ok || bad "fovshift -t: not bart's bytes"
    bart phantom -x 48 "$LL/fsi" >/dev/null 2>&1 && $T fft -u 7 "$LL/fsi" "$LL/fsik" && $T fovshift -s 0.25:0:0 "$LL/fsik" "$LL/fso" &&
      $T fft -i -u 7 "$LL/fso" "$LL/fsoi" && $T circshift -- 0 -12 "$LL/fsi" "$LL/fsr" &&
      $T nrmse -t 1e-5 "$LL/fsr" "$LL/fsoi" >/dev/null && ok || bad "fovshift -s 0.25:0:0 is not a roll by -12 of a 48-sample image"
    $T circshift 1 5 "$LL/fsi" "$LL/fsr" && q=$($T estshift 3 "$LL/fsr" "$LL/fsi") &&
      "$PY" -c "import sys; w = sys.argv[1].split(); sys.exit(w[0] != 'Shifts:' or abs(float(w[1])) > 1e-5 or abs(float(w[2]) - 5) > 1e-5)" "$q" &&
      ok || bad "estshift of a roll by 5 along axis 1: $q"
    for f in 1 3 8 11; do
      q=$($T estshift $f "$LL/aim" "$LL/cck") && qb=$(bart estshift $f "$LL/aim" "$LL/cck") &&
        "$PY" -c "import sys; a, b = ([float(v) for v in s.split()[1:]] for s in sys.argv[1:]); sys.exit(len(a) != len(b) or max(abs(x - y) for x, y in zip(a, b)) > 5e-6)" "$q" "$qb" \
        && ok || bad "estshift $f: $q, bart $qb"
    done
    # rof: bart rof's TV denoising (a fresh output each: bart rof starts from an existing output's contents)
    bart phantom -x 48 "$LL/rfp" >/dev/null 2>&1 && bart noise -s 4 -n 0.02 "$LL/rfp" "$LL/rfn" >/dev/null 2>&1 &&
      bart phantom -3 -x 20 "$LL/rf3" >/dev/null 2>&1 && bart noise -s 5 -n 0.02 "$LL/rf3" "$LL/rf3n" >/dev/null 2>&1 &&
      bart repmat 10 3 "$LL/rfn" "$LL/rfs0" >/dev/null 2>&1 && bart noise -s 6 -n 0.05 "$LL/rfs0" "$LL/rfs" >/dev/null 2>&1 ||
      bad "bart phantom / noise / repmat for rof"
    for R in "0.05 3 rfn" "0.1 1 rfn" "0.02 7 rf3n" "0.02 5 rf3n" "0.05 1027 rfs" "0.05 1024 rfs" "0.05 8 rfn" "0.3 3 rfs"; do
      set -- $R; rm -f "$LL/ba.cfl" "$LL/ba.hdr"
      bart rof $1 $2 "$LL/$3" "$LL/ba" >/dev/null 2>&1 && $T rof $1 $2 "$LL/$3" "$LL/ma" &&
        $T nrmse -t 1e-5 "$LL/ba" "$LL/ma" >/dev/null && ok || bad "rof $R: more than 1e-5 from bart rof's image"
    done
    $T rof 0.1 65537 "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "FLAGS" "$W/err" && ok || bad "rof FLAGS 65537: usage error: $(cat "$W/err")"
    $T rof -- -0.1 3 "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "LAMBDA" "$W/err" && ok || bad "rof LAMBDA -0.1: usage error: $(cat "$W/err")"
    bart ones 4 3 3 3 3 "$LL/rf4" >/dev/null 2>&1; $T rof 0.1 15 "$LL/rf4" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "three" "$W/err" && ok || bad "rof along four axes: usage error: $(cat "$W/err")"
    # tgv, ictv: bart's images and fields (bart's ADMM in its float order: within 1e-5 whole, the small fields within 1e-4 on
    # their own); axes of one sample flagged (a zero field each), a flagged axis beyond z, no axis to difference
    for R in "0.05 3 rfn" "0.1 1 rfn" "0.02 7 rf3n" "0.05 7 rfn" "0.05 1027 rfs" "0.05 8 rfn" "0.02 6 rf3n"; do
      set -- $R; rm -f "$LL/ba.cfl" "$LL/ba.hdr"
      bart tgv $1 $2 "$LL/$3" "$LL/ba" >/dev/null 2>&1 && $T tgv $1 $2 "$LL/$3" "$LL/ma" && same_dims "$LL/ba" "$LL/ma" &&
        $T nrmse -t 1e-5 "$LL/ba" "$LL/ma" >/dev/null && ok || bad "tgv $R: more than 1e-5 from bart tgv's"
      nf=$(sed -n 2p "$LL/ba.hdr" | awk '{print $16}')
      if [ "$nf" -gt 1 ] && [ "$2" != 8 ]; then
        bart extract 15 1 "$nf" "$LL/ba" "$LL/baf" >/dev/null 2>&1 && $T extract 15 1 "$nf" "$LL/ma" "$LL/maf" &&
          $T nrmse -t 1e-4 "$LL/baf" "$LL/maf" >/dev/null && ok || bad "tgv $R: fields more than 1e-4 from bart tgv's"
      fi
    done
    for R in "0.02 1 2 rfn" "0.05 3 3 rfn" "-i 100 0.05 3 1 rfn" "-u 0.2 0.02 7 4 rf3n" "0.05 3 1024 rfs"; do
      rm -f "$LL/ba.cfl" "$LL/ba.hdr"; set -- $R; eval "in=\${$#}"
      bart ictv ${R% *} "$LL/$in" "$LL/ba" >/dev/null 2>&1 && $T ictv ${R% *} "$LL/$in" "$LL/ma" && same_dims "$LL/ba" "$LL/ma" &&
        $T nrmse -t 1e-5 "$LL/ba" "$LL/ma" >/dev/null && ok || bad "ictv $R: more than 1e-5 from bart ictv's"
    done
    $T tgv 0.1 65536 "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "FLAGS" "$W/err" && ok || bad "tgv FLAGS 65536: usage error: $(cat "$W/err")"
    $T ictv 0.1 0 1 "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "FLAGS" "$W/err" && ok || bad "ictv FLAGS 0: usage error: $(cat "$W/err")"
    $T ictv 0.1 3 4 "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "longer than 1" "$W/err" && ok || bad "ictv FLAGS2 of one sample: usage error: $(cat "$W/err")"
    $T ictv -u 0 0.1 1 2 "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "rho" "$W/err" && ok || bad "ictv -u 0: usage error: $(cat "$W/err")"
    $T tgv 0.1 15 "$LL/rf4" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "three" "$W/err" && ok || bad "tgv along four axes: usage error: $(cat "$W/err")"
    $T tgv 0.1 3 "$LL/ba" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 15" "$W/err" && ok || bad "tgv of an array with axis 15: usage error: $(cat "$W/err")"
    # whiten: against bart whiten (its float Cholesky: 1e-5 .. 1e-4 apart) and numpy's float64 inv(cholesky(K)) (medvol's W
    # within 1e-6); correlated complex noise written by numpy
    "$PY" - "$LL/whn" <<'PYEOF' || bad "numpy noise for whiten"
import numpy as np, sys
rng = np.random.default_rng(3)
C, N = 4, 5000
A = rng.standard_normal((C, C)) + 1j * rng.standard_normal((C, C))
n = ((rng.standard_normal((N, C)) + 1j * rng.standard_normal((N, C))) @ A.T).astype(np.complex64)
open(sys.argv[1] + '.hdr', 'w').write('# Dimensions\n%d 1 1 %d\n' % (N, C))
n.reshape(N, 1, 1, C).ravel(order='F').tofile(sys.argv[1] + '.cfl')
PYEOF
    bart phantom -x 32 -k -s 4 "$LL/whk" >/dev/null 2>&1 || bad "bart phantom for whiten"
    for fl in "" "-n"; do
      rm -f "$LL/ba.cfl" "$LL/bw.cfl" "$LL/bk.cfl"
      bart whiten $fl "$LL/whk" "$LL/whn" "$LL/ba" "$LL/bw" "$LL/bk" >/dev/null 2>&1 &&
        $T whiten $fl "$LL/whk" "$LL/whn" "$LL/ma" "$LL/mw" "$LL/mk" && $T nrmse -t 3e-4 "$LL/ba" "$LL/ma" >/dev/null &&
        $T nrmse -t 3e-4 "$LL/bw" "$LL/mw" >/dev/null && $T nrmse -t 1e-5 "$LL/bk" "$LL/mk" >/dev/null &&
        [ "$(sed -n 2p "$LL/mw.hdr" | xargs)" = "$(sed -n 2p "$LL/bw.hdr" | xargs)" ] && ok || bad "whiten $fl: not bart whiten's"
    done
    "$PY" - "$LL/whn" "$LL/mw" <<'PYEOF' && ok || bad "whiten: W is not numpy's inv(cholesky(K))"
import numpy as np, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
n = rd(sys.argv[1]).reshape(-1, 4).astype(np.complex128)
K = n.T @ n.conj() / (n.shape[0] - 1)
W = rd(sys.argv[2]).reshape(4, 4).T  # file (coil i, map j) holds W[j][i]
Wt = np.linalg.inv(np.linalg.cholesky(K))
e = np.linalg.norm(W - Wt) / np.linalg.norm(Wt)
sys.exit(0 if e < 1e-6 else print('W %.3g from numpy' % e) or 1)
PYEOF
    $T whiten -o "$LL/bw" "$LL/whk" "$LL/whn" "$LL/ma" && bart whiten -o "$LL/bw" "$LL/whk" "$LL/whn" "$LL/ba" >/dev/null 2>&1 &&
      $T nrmse -t 1e-6 "$LL/ba" "$LL/ma" >/dev/null && ok || bad "whiten -o: not bart's with its matrix"
    $T whiten "$LL/whk" "$LL/rfn" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "coils" "$W/err" && ok || bad "whiten with noise of other coils: $(cat "$W/err")"
    # conv: bart conv's (its FFTs: within 1e-6) and numpy's direct cyclic convolution with the kernel centred at (K - 1) / 2
    bart index 0 5 "$LL/cv5" >/dev/null 2>&1 && bart scale 0.5+0.25i "$LL/cv5" "$LL/cvk" >/dev/null 2>&1 &&
      bart ones 2 3 3 "$LL/cv33" >/dev/null 2>&1 && bart index 1 4 "$LL/cv14" >/dev/null 2>&1 &&
      bart index 10 3 "$LL/cv10" >/dev/null 2>&1 || bad "bart index / scale / ones for conv"
    for R in "1 rfp cvk" "3 rfp cv33" "2 rfp cv14" "3 rfp cv14" "7 rf3 cv33" "1024 rfs0 cv10" "1025 rfs0 cv10"; do
      set -- $R
      bart conv $1 "$LL/$2" "$LL/$3" "$LL/ba" >/dev/null 2>&1 && $T conv $1 "$LL/$2" "$LL/$3" "$LL/ma" &&
        $T nrmse -t 1e-6 "$LL/ba" "$LL/ma" >/dev/null && ok || bad "conv $R: not bart conv's"
    done
    $T conv 1 "$LL/rfp" "$LL/cvk" "$LL/ma" && "$PY" - "$LL/rfp" "$LL/cvk" "$LL/ma" <<'PYEOF' && ok || bad "conv 1: not numpy's cyclic convolution"
import numpy as np, sys
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
f, h, m = rd(sys.argv[1]).astype(np.complex128), rd(sys.argv[2]).astype(np.complex128).ravel(), rd(sys.argv[3])
K = len(h)
ref = sum(h[k] * np.roll(f, k - (K - 1) // 2, axis=0) for k in range(K))
e = np.linalg.norm(m - ref) / np.linalg.norm(ref)
sys.exit(0 if e < 1e-6 else print('%.3g from numpy' % e) or 1)
PYEOF
    $T conv 2 "$LL/rfp" "$LL/cvk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "KERNEL" "$W/err" && ok || bad "conv with a kernel along another axis: $(cat "$W/err")"
    for R in "zeros 3 4 5 6" "ones 2 7 3" "ones 12 2 1 1 1 1 1 1 1 1 1 3 2" "delta 3 5 4" "delta 16 1025 3" "delta 5 0 3" "upat" \
             "upat -Y 64 -Z 48 -y 2 -z 3 -c 8" "upat -Y 31 -Z 20 -y 4 -z 2 -c 5"; do
      bart $R "$LL/ba" && $T $R "$LL/ma" && same_pair "$LL/ba" "$LL/ma" && ok || bad "$R: not bart's bytes or sizes"
    done
    # into existing files: copy at a position, fmac -A, join -a along the outermost axis (bart 0.8 keeps OUT's
    # old bytes where they lie: only there its result is a join)
    for k in b m; do bart zeros 4 60 50 1 6 "$LL/${k}c" && cp "$LL/cck.cfl" "$LL/${k}f.cfl" && cp "$LL/cck.hdr" "$LL/${k}f.hdr" &&
      cp "$LL/cck.cfl" "$LL/${k}j.cfl" && cp "$LL/cck.hdr" "$LL/${k}j.hdr"; done
    bart copy 0 5 1 2 "$LL/cck" "$LL/bc" && $T copy 0 5 1 2 "$LL/cck" "$LL/mc" && same_pair "$LL/bc" "$LL/mc" && ok || bad "copy 0 5 1 2 into an existing array"
    bart fmac -A "$LL/cck" "$LL/aim" "$LL/bf" && $T fmac -A "$LL/cck" "$LL/aim" "$LL/mf" && same_pair "$LL/bf" "$LL/mf" && ok || bad "fmac -A"
    bart join -a 3 "$LL/aim" "$LL/bj" && $T join -a 3 "$LL/aim" "$LL/mj" && same_pair "$LL/bj" "$LL/mj" && ok || bad "join -a 3"
    # Poisson-disc masks: bart poisson's mask (cmp) and its "points:" line, BART's draws from its seeds
    for R in "" "-Y 64 -Z 48 -y 2 -z 2" "-y 1.5 -z 1.5 -C 20" "-v -Y 96 -Z 80 -y 2 -z 2 -e" "-R 500 -Y 32 -Z 40" \
             "-s 5 -Y 100 -Z 100 -y 3 -z 1.2" "-V 5 -Y 60 -Z 60 -y 1.8 -z 1.8 -C 12 -e" "-Y 10 -Z 12 -D 1.5"; do
      bo=$(bart poisson $R "$LL/bp" 2>&1); mo=$($T poisson $R "$LL/mp") && [ "$bo" = "$mo" ] && same_pair "$LL/bp" "$LL/mp" && ok ||
        bad "poisson $R: not bart's mask or line ('$bo' against '$mo')"
    done
    # multi-class patterns (-T) where no point is cut (accelerations 1, the square) and the points as
    # coordinates (-m, any classes): bart's bytes and line; where points are cut bart 0.8 compacts its
    # points but not their classes, so its frames hold other points' classes: the same union of frames
    for R in "-T 2" "-T 32 -Y 64 -Z 64" "-T 3 -s 5 -Y 80 -Z 80 -C 10" "-T 4 -v -Y 64 -Z 64" "-m" "-m -T 3 -Y 40 -Z 40" \
             "-m -e -y 2 -Y 50 -Z 30"; do
      bo=$(bart poisson $R "$LL/bp" 2>&1); mo=$($T poisson $R "$LL/mp") && [ "$bo" = "$mo" ] && same_pair "$LL/bp" "$LL/mp" && ok ||
        bad "poisson $R: not bart's mask or line ('$bo' against '$mo')"
    done
    for R in "-T 4 -Y 64 -Z 64 -y 2" "-T 3 -v -C 8 -Y 80 -Z 60" "-T 5 -e -y 1.5 -z 1.5 -s 7" "-T 3 -s 5 -Y 90 -Z 70 -C 10"; do
      bo=$(bart poisson $R "$LL/bp" 2>&1); mo=$($T poisson $R "$LL/mp") && [ "$bo" = "$mo" ] && "$PY" - "$LL" <<'PYEOF' && ok ||
import sys, numpy as np
L = sys.argv[1]
d = [int(x) for x in open(L + '/bp.hdr').read().split('\n')[1].split()]
b, m = (np.fromfile(L + n, np.complex64).real.reshape(d[3], d[2], d[1]) for n in ('/bp.cfl', '/mp.cfl'))
sys.exit(0 if np.array_equal(b.max(0), m.max(0)) and not np.array_equal(b, m) else 1)
PYEOF
        bad "poisson $R: bart's line and union of frames ('$bo' against '$mo')"
    done
    $T poisson -T 33 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "classes" "$W/err" && ok || bad "poisson -T 33: usage error: $(cat "$W/err")"
    $T poisson -T 2 -R 100 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "no classes" "$W/err" && ok || bad "poisson -T 2 -R: usage error: $(cat "$W/err")"
    $T poisson -m -C 8 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "asserts" "$W/err" && ok || bad "poisson -m -C: usage error: $(cat "$W/err")"
    $T poisson -y 0.5 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "acceleration" "$W/err" && ok || bad "poisson -y 0.5: usage error: $(cat "$W/err")"
    # a compressed-sensing script written for bart, run with mvtool: BART's phantom k-space times a Poisson-disc
    # mask, noise, the pattern back: bart's bytes at each step
    cs_script() { B=$1; O=$2
      $B poisson -Y 48 -Z 48 -y 1.5 -z 1.5 -C 12 "$O-p" >/dev/null && $B transpose 0 1 "$O-p" "$O-q" &&
        $B transpose 1 2 "$O-q" "$O-m" && $B fmac "$LL/cck" "$O-m" "$O-u" && $B noise -s 9 -n 1e-3 "$O-u" "$O-n" &&
        $B pattern "$O-n" "$O-pat"; }
    cs_script bart "$LL/cb" 2>/dev/null && cs_script $T "$LL/cm" && same_pair "$LL/cb-n" "$LL/cm-n" && same_pair "$LL/cb-pat" "$LL/cm-pat" && ok ||
      bad "a bart compressed-sensing script (poisson, transpose, fmac, noise, pattern) with mvtool in its place: not bart's bytes"
    # printed results, and nrmse's verdict as its exit status
    for R in "nrmse cck aim" "nrmse -s cck aim" "nrmse -t 2 cck aim" "nrmse -t 0.5 cck aim" "sdot cck aim" "bitmask 0 1 10" "bitmask -b 1035" \
             "show ak2" "show -m ccs" "show -d 10 ccs" "show -s , -f %+.3f,%+.3f cco" "show -f %+12.4e%+12.4ei f16"; do
      set -- $R; cmd=$1; shift; args=(); for w in "$@"; do [ -f "$LL/$w.cfl" ] && args+=("$LL/$w") || args+=("$w"); done
      bo=$(bart $cmd "${args[@]}" 2>/dev/null); br=$?; mo=$($T $cmd "${args[@]}"); mr=$?
      [ "$bo" = "$mo" ] && [ $br -eq $mr ] && ok || bad "$R: bart printed '$bo' (exit $br), mvtool '$mo' (exit $mr)"
    done
    # a script written for bart, run with mvtool in its place: the same bytes at its end
    arr_script() { B=$1; O=$2
      $B pattern "$LL/cck" "$O-pat" && $B fmac "$LL/cck" "$O-pat" "$O-u" && $B extract 1 8 40 "$O-u" "$O-e" &&
        $B resize -c 0 32 "$O-e" "$O-r" && $B join 4 "$O-r" "$O-r" "$O-j" && $B transpose 0 1 "$O-j" "$O-t" &&
        $B flip 3 "$O-t" "$O-f" && $B circshift 1 5 "$O-f" "$O-c" && $B slice 3 2 "$O-c" "$O-s" && $B squeeze "$O-s" "$O-q" &&
        $B reshape 3 64 16 "$O-q" "$O-h" && $B repmat 5 2 "$O-h" "$O-p" && $B scale 0.5 "$O-p" "$O-x" &&
        $B saxpy 2 "$O-x" "$O-p" "$O-y" && $B avg 32 "$O-y" "$O-a" && $B conj "$O-a" "$O-z"; }
    arr_script bart "$LL/sb" >/dev/null 2>&1 && arr_script $T "$LL/sm" && same_pair "$LL/sb-z" "$LL/sm-z" && ok ||
      bad "a bart script of array commands with mvtool in its place: not bart's bytes"
    # numpy's meaning (not bart's): roll, swapaxes, flip, Fortran-order reshape, tile, centred resize, the
    # mean and sum over axes, |x| and angle, on a random array with an axis in BART's 10
    "$PY" - "$LL/np" <<'PYEOF' || bad "array commands' inputs from numpy"
import numpy as np, sys
r = np.random.default_rng(11)
a = (r.standard_normal((6, 5, 1, 4, 1, 3, 1, 1, 1, 1, 2)) + 1j * r.standard_normal((6, 5, 1, 4, 1, 3, 1, 1, 1, 1, 2))).astype(np.complex64)
open(sys.argv[1] + '.hdr', 'w').write('# Dimensions\n' + ' '.join(map(str, list(a.shape) + [1] * 5)) + '\n')
a.ravel(order='F').tofile(sys.argv[1] + '.cfl')
PYEOF
    for R in "circshift -- 1 -2 np" "transpose 0 10 np" "flip 1033 np" "reshape 9 3 8 np" "repmat 6 3 np" "resize -c 0 3 1 9 np" \
             "avg 1032 np" "fmac -s 33 np" "cabs np" "carg np" "join 10 np np" "extract 1 1 4 np"; do
      set -- $R; cmd=$1; shift; args=(); for w in "$@"; do [ -f "$LL/$w.cfl" ] && args+=("$LL/$w") || args+=("$w"); done
      $T $cmd "${args[@]}" "$LL/na" && "$PY" - "$LL/np" "$LL/na" "$R" <<'PYEOF' && ok || bad "$R: not numpy's"
import numpy as np, sys
def rd(n):
    d = [int(x) for x in open(n + '.hdr').read().split('\n')[1].split()]
    return np.fromfile(n + '.cfl', np.complex64).reshape(d + [1] * (16 - len(d)), order='F').astype(np.complex128)
a, m, w = rd(sys.argv[1]), rd(sys.argv[2]), sys.argv[3].replace('-- ', '').split()
if w[0] == 'circshift': ref = np.roll(a, int(w[2]), axis=int(w[1]))
elif w[0] == 'transpose': ref = np.swapaxes(a, int(w[1]), int(w[2]))
elif w[0] == 'flip': ref = np.flip(a, axis=tuple(k for k in range(16) if int(w[1]) >> k & 1))
elif w[0] == 'reshape':  # axes 0 and 3 (6 x 4 samples) as 3 x 8 in Fortran order, the others kept
    b = np.moveaxis(a, 3, 1).reshape((24,) + a.shape[1:3] + a.shape[4:], order='F')
    ref = np.moveaxis(b.reshape((3, 8) + b.shape[1:], order='F'), 1, 3)
elif w[0] == 'repmat': ref = np.repeat(a, 3, axis=6)
elif w[0] == 'resize':  # centred: n/2 stays at n/2 (BART's md_resize_center)
    ref = np.zeros((3, 9) + a.shape[2:], complex)  # x: 3 of 6 from 6//2 - 3//2 = 2; y: 5 into 9 at 9//2 - 5//2 = 2
    ref[:, 2:7] = a[2:5, :]
elif w[0] == 'avg': ref = a.mean(axis=(3, 10), keepdims=True)
elif w[0] == 'fmac': ref = a.sum(axis=(0, 5), keepdims=True)
elif w[0] == 'cabs': ref = np.abs(a.astype(np.complex64)).astype(complex)
elif w[0] == 'carg': ref = np.angle(a.astype(np.complex64)).astype(complex)
elif w[0] == 'join': ref = np.concatenate([a, a], axis=10)
elif w[0] == 'extract': ref = a[:, 1:4]
if ref.shape != m.shape:
    sys.exit('%s: shape %s, numpy %s' % (' '.join(w), m.shape, ref.shape))
e = np.max(np.abs(m - ref)) / np.max(np.abs(ref))
sys.exit(0 if e <= 1e-6 else '%s: %g from numpy' % (' '.join(w), e))
PYEOF
    done
    # refusals: exit 2 naming the word or axis; a missing file exit 1
    for R in "reshape 3 7 7 cck|differs" "transpose 0 16 cck|0 .. 15" "zeros 0 o|1 .. 16" "join 0 cck cco|axis 1" \
             "scale 2x cck|complex number" "extract 0 5 5 cck|no block" \
             "slice 3 6 cck|no block" "repmat 3 2 cck|size 1" "fmac cck cco|axis 0" "saxpy 1 cck cco|sizes differ" \
             "resize 0 0 cck|size >= 1" "avg 65536 cck|BITMASK" "bitmask -b 1 2|exactly one" "noise -n -1 cck|variance" \
             "noise -s 4000000000 cck|seed"; do
      set -- ${R%%|*}; cmd=$1; shift; args=(); for w in "$@"; do [ -f "$LL/$w.cfl" ] && args+=("$LL/$w") || args+=("$w"); done
      $T $cmd "${args[@]}" "$W/x" 2>"$W/err"; rc=$?
      [ $rc -eq 2 ] && grep -q -- "${R#*|}" "$W/err" && ok || bad "${R%%|*}: usage error (exit $rc): $(cat "$W/err")"
    done
    for f in %+.3f%+.3e %.3f%+.3fi %+f%+fi %+.3f,%+.3fi; do
      $T show -f "$f" "$LL/cck" >/dev/null 2>"$W/err"; [ $? -eq 2 ] && grep -q -- "-f: a format" "$W/err" && ok || bad "show -f $f: usage error: $(cat "$W/err")"
    done
    $T copy 0 40 "$LL/cck" "$LL/mc" 2>"$W/err"; [ $? -eq 2 ] && grep -q "does not fit" "$W/err" && ok || bad "copy 0 40: usage error: $(cat "$W/err")"
    $T conj "$LL/nonexistent" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "nonexistent" "$W/err" && ok || bad "conj of a missing file: exit 1 naming it"
  else
    bad "bart phantom for the -R L series"
  fi
  $T pics -R W:7:1:0.01 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "pics -R W with joint flags on a transformed axis: usage error"
  $T pics -l1 -r 0.01 --wavelet db4 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "db4" "$W/err" && ok || bad "pics --wavelet db4: usage error"
  # pics -p: BART's pattern or weights P, the data term weighted by |P|^2 as BART 0.9 on (Debian's bart 0.8
  # weights its Cartesian data term by P itself: given P^2 it solves the same problem); a 0/1 pattern drops
  # the data outside it; with -t, density compensation as BART's scripts/radial_dcf.sh
  "$PY" - "$W/rk" "$W/rpb" "$W/rpw" "$W/rpw2" <<'PYEOF'
import sys, numpy as np
d = [int(v) for v in open(sys.argv[1] + '.hdr').read().split('\n')[1].split()]
def wr(n, a):
    open(n + '.hdr', 'w').write('# Dimensions\n%d %d 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n' % a.shape)
    a.astype(np.complex64).flatten(order='F').tofile(n + '.cfl')
keep = np.zeros(d[1], bool); keep[d[1] // 2 % 3::3] = True; keep[d[1] // 2 - 8:d[1] // 2 + 8] = True
p = np.zeros(d[:2]); p[:, keep] = 1
w = p * np.random.default_rng(7).uniform(0.3, 1.5, d[:2])
wr(sys.argv[2], p); wr(sys.argv[3], w); wr(sys.argv[4], w ** 2)
PYEOF
  bart pics -l2 -r 0.02 -i 20 -S -p "$W/rpb" "$W/rk" "$W/rbm" "$W/rbq" >/dev/null 2>&1
  $T pics -l2 -r 0.02 -i 20 -S -p "$W/rpb" "$W/rk" "$W/rbm" "$W/rmq" && "$PY" "$LL/nrmse.py" "$W/rbq" "$W/rmq" 2e-5 &&
    "$PY" "$LL/nrmse.py" "$W/rmp" "$W/rmq" 1e-6 && ok || bad "pics -p (0/1 lines on full data) vs bart pics -p, and as pics of the lines' data without -p"
  bart pics -R T:3:0:0.01 -i 20 -w 1 -p "$W/rpw2" "$W/rk" "$W/rbm" "$W/rbw" >/dev/null 2>&1
  $T pics -R T:3:0:0.01 -i 20 -w 1 -p "$W/rpw" "$W/rk" "$W/rbm" "$W/rmw" && "$PY" "$LL/nrmse.py" "$W/rbw" "$W/rmw" 2e-5 && ok || bad "pics -R T -p P (weights, ADMM) vs bart 0.8 pics -p P^2"
  bart pics -l1 -r 0.01 -i 20 -p "$W/rpb" "$W/ru" "$W/rbm" "$W/rbs" >/dev/null 2>&1
  $T pics -l1 -r 0.01 -i 20 -p "$W/rpb" "$W/ru" "$W/rbm" "$W/rms" && "$PY" "$LL/nrmse.py" "$W/rbs" "$W/rms" 2e-5 && ok || bad "pics -l1 -p (BART's scale estimate) vs bart pics -l1 -p"
  $T pics -l2 -r 0.02 -i 20 -S -p "$W/rpw" "$W/rk" "$W/rbm" "$W/rmw2" && $T pics -l2 -r 0.02 -i 20 -S -p "$W/rpw" --chunk 1 "$W/rk" "$W/rbm" "$W/rmwc" &&
    cmp -s "$W/rmw2.cfl" "$W/rmwc.cfl" && ok || bad "pics -p --chunk 1: the in-memory bytes"
  bart ones 3 1 192 64 "$W/none" >/dev/null 2>&1 && bart nufft -a "$W/ntr" "$W/none" "$W/nd0" >/dev/null 2>&1 &&
    bart nufft "$W/ntr" "$W/nd0" "$W/nden" >/dev/null 2>&1 && bart spow -- -0.5 "$W/nden" "$W/nsq" >/dev/null 2>&1 &&
    bart pics -l2 -r 0.01 -i 10 -S -t "$W/ntr" -p "$W/nsq" "$W/nk" "$W/ns" "$W/nbw" >/dev/null 2>&1 &&
    bart pics -l2 -r 0.01 -i 10 -S -t "$W/ntr" "$W/nk" "$W/ns" "$W/nb0" >/dev/null 2>&1
  $T pics -l2 -r 0.01 -i 10 -S -t "$W/ntr" -p "$W/nsq" "$W/nk" "$W/ns" "$W/nmw" && "$PY" "$LL/nrmse.py" "$W/nbw" "$W/nmw" 1e-2 &&
    ! "$PY" "$LL/nrmse.py" "$W/nb0" "$W/nmw" 3e-2 >/dev/null && ok || bad "pics -t -p (density compensation) vs bart pics -t -p, and unlike bart pics -t"
  bart pics -l1 -r 0.005 -i 20 -t "$W/ntr" -p "$W/nsq" "$W/nk" "$W/ns" "$W/nbs" >/dev/null 2>&1
  $T pics -l1 -r 0.005 -i 20 -t "$W/ntr" -p "$W/nsq" "$W/nk" "$W/ns" "$W/nms" && "$PY" "$LL/nrmse.py" "$W/nbs" "$W/nms" 1e-2 && ok || bad "pics -l1 -t -p (the weighted scale estimate) vs bart pics"
  $T pics -l2 -p "$W/rk" "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "per coil" "$W/err" && ok || bad "pics -p with a pattern per coil: usage error: $(cat "$W/err")"
  $T pics -l2 -p "$W/ntr" "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 0 holds 3" "$W/err" && ok || bad "pics -p of another size: usage error: $(cat "$W/err")"
  # BART's -I (IST), -c (a real image), -f (restricted FOV), -d (debug level), -g (GPU: noted, runs on the CPU)
  for R in "-I -l1 -r 0.01" "-I -R I:0:0.02" "-c -l2 -r 0.01" "-c -R W:3:0:0.005 -R T:3:0:0.005" "-f 0.5 -l2 -r 0.01" "-f 0.33 -R T:3:0:0.01"; do
    bart pics $R -i 20 "$W/ru" "$W/rbm" "$W/rbo" >/dev/null 2>&1
    $T pics $R -i 20 "$W/ru" "$W/rbm" "$W/rmo" && "$PY" "$LL/nrmse.py" "$W/rbo" "$W/rmo" 2e-5 && ok || bad "pics $R vs bart pics"
  done
  bart pics -c -l2 -r 0.01 -i 10 -S -t "$W/ntr" "$W/nk" "$W/ns" "$W/nbc" >/dev/null 2>&1
  $T pics -c -l2 -r 0.01 -i 10 -S -t "$W/ntr" "$W/nk" "$W/ns" "$W/nmc" && "$PY" "$LL/nrmse.py" "$W/nbc" "$W/nmc" 1e-2 && ok || bad "pics -c -t vs bart pics -c -t"
  $T pics -d5 -g -l2 -r 0.01 -i 3 "$W/ru" "$W/rbm" "$W/rmd" 2>"$W/err" && [ "$(grep -c "^pics: iteration" "$W/err")" = 3 ] &&
    grep -q "runs on the CPU" "$W/err" && $T pics -l2 -r 0.01 -i 3 "$W/ru" "$W/rbm" "$W/rmd0" && cmp -s "$W/rmd.cfl" "$W/rmd0.cfl" && ok ||
    bad "pics -d5 -g: a line per iteration, the CPU noted, the same image: $(cat "$W/err")"
  $T pics -U -l2 -r 0.01 -i 3 "$W/ru" "$W/rbm" "$W/rmU" 2>"$W/err" && grep -q "low-memory" "$W/err" &&
    $T pics --lowmem -l2 -r 0.01 -i 3 "$W/ru" "$W/rbm" "$W/rmU2" 2>/dev/null && cmp -s "$W/rmU.cfl" "$W/rmd0.cfl" &&
    cmp -s "$W/rmU2.cfl" "$W/rmd0.cfl" && ok || bad "pics -U / --lowmem: accepted, noted, the same image: $(cat "$W/err")"
  $T pics -I -R T:3:0:0.01 "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "IST" "$W/err" && ok || bad "pics -I with ADMM: usage error: $(cat "$W/err")"
  # -W: BART's warm start (CG, FISTA, IST, ADMM with its terms from the start; with -S divided by the data scale, as BART's)
  bart pics -l2 -r 0.01 -i 5 "$W/ru" "$W/rbm" "$W/rw0" >/dev/null 2>&1 && bart pics -l2 -r 0.01 -i 10 "$W/ru" "$W/rbm" "$W/rbW0" >/dev/null 2>&1
  for R in "-l2 -r 0.01" "-l1 -r 0.01" "-l1 -r 0.01 -S" "-I -l1 -r 0.01" "-R T:3:0:0.01" "-R W:3:0:0.005 -R T:3:0:0.005"; do
    bart pics $R -W "$W/rw0" -i 10 "$W/ru" "$W/rbm" "$W/rbW" >/dev/null 2>&1
    $T pics $R -W "$W/rw0" -i 10 "$W/ru" "$W/rbm" "$W/rmW" && "$PY" "$LL/nrmse.py" "$W/rbW" "$W/rmW" 2e-5 && ok || bad "pics $R -W vs bart pics -W"
    [ "$R" = "-l2 -r 0.01" ] && { ! "$PY" "$LL/nrmse.py" "$W/rbW0" "$W/rmW" 1e-3 >/dev/null && ok || bad "pics -l2 -W: the same image as without"; }
  done
  bart pics -l2 -r 0.01 -i 3 -t "$W/ntr" "$W/nk" "$W/ns" "$W/nw0" >/dev/null 2>&1 &&
    bart pics -l1 -r 0.005 -e -i 5 -W "$W/nw0" -t "$W/ntr" "$W/nk" "$W/ns" "$W/nbW" >/dev/null 2>&1
  $T pics -l1 -r 0.005 -e -i 5 -W "$W/nw0" -t "$W/ntr" "$W/nk" "$W/ns" "$W/nmW" && "$PY" "$LL/nrmse.py" "$W/nbW" "$W/nmW" 1e-2 && ok || bad "pics -l1 -e -t -W vs bart pics"
  $T pics -l2 -W "$W/nw0" "$W/ru" "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "start image" "$W/err" && ok || bad "pics -W of another size: usage error: $(cat "$W/err")"
  for m in -W -H -B ""; do
    bart threshold $m 0.8 "$W/rbm" "$W/tb" >/dev/null 2>&1
    $T threshold $m 0.8 "$W/rbm" "$W/tm" && "$PY" - "$W/tb" "$W/tm" <<'PYEOF' && ok || bad "threshold $m vs bart threshold"
import sys, numpy as np
rd = lambda n: np.fromfile(n + '.cfl', np.complex64)
b, m = rd(sys.argv[1]), rd(sys.argv[2])
e = np.linalg.norm(m - b) / max(np.linalg.norm(b), 1e-30)
sys.exit(0 if b.shape == m.shape and e < 1e-6 else print('threshold NRMSE', e) or 1)
PYEOF
  done
  $T threshold -W -j 8 0.8 "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "threshold -W -j: usage error"
  $T threshold -1 "$W/rbm" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "threshold -1: usage error"
  # wavelet (bart wavelet): bart's bytes forward and adjoint, its three
  # filters, 2D and 3D, odd sizes, an axis leaving the hierarchy before the
  # others (256 x 64, 200 x 40 x 20), axes not transformed between and
  # after (bitmasks 2, 5, 6), coils and BART's axis 10 as batches
  for spec in "3 64:48:1:4 64 48" "3 256:64 256 64" "7 200:40:20 200 40 20" "6 20:40:33 40 33" "5 40:7:33 40 33" "2 17:40 40" "3 33:35:1:1:1:1:1:1:1:1:3 33 35"; do
    set -- $spec; wf=$1; wd=$(echo "$2" | tr : ' '); shift 2
    bart zeros "$(echo $wd | wc -w)" $wd "$W/wz" >/dev/null 2>&1 && bart noise -s 7 "$W/wz" "$W/wx" >/dev/null 2>&1
    for wt in "" -H -C; do
      bart wavelet $wt "$wf" "$W/wx" "$W/wbf" >/dev/null 2>&1 && bart wavelet -a $wt "$wf" "$@" "$W/wbf" "$W/wba" >/dev/null 2>&1
      $T wavelet $wt "$wf" "$W/wx" "$W/wmf" && $T wavelet -a $wt "$wf" "$@" "$W/wbf" "$W/wma" &&
        cmp -s "$W/wbf.cfl" "$W/wmf.cfl" && cmp -s "$W/wba.cfl" "$W/wma.cfl" && "$PY" "$LL/nrmse.py" "$W/wbf" "$W/wmf" 1e-30 >/dev/null &&
        "$PY" "$LL/nrmse.py" "$W/wba" "$W/wma" 1e-30 >/dev/null && "$PY" "$LL/nrmse.py" "$W/wx" "$W/wma" 1e-6 >/dev/null && ok ||
        bad "wavelet $wt $wf on $wd: bart wavelet's bytes (forward and -a), and -a inverts"
    done
  done
  $T wavelet 8 "$W/wx" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axes 0, 1 and 2" "$W/err" && ok || bad "wavelet on BART's axis 3: usage error: $(cat "$W/err")"
  $T wavelet -a 3 "$W/wbf" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "wavelet -a without sizes: usage error"
  bart zeros 2 8 40 "$W/wz" >/dev/null 2>&1
  $T wavelet 3 "$W/wz" "$W/x" 2>"$W/err"; [ $? -ne 0 ] && grep -q "axis x has 8 samples" "$W/err" && ok || bad "wavelet on 8 samples (bart asserts): refused: $(cat "$W/err")"
  # cdf97 (bart cdf97 [-i]): within float rounding of bart's (bart transforms,
  # inverts and transforms again), odd and even sizes, 1 to 3 axes, coils
  for spec in "1 64:48" "3 100:37" "7 40:36:34" "2 33:70" "5 66:3:35" "3 31:33:1:4"; do
    set -- $spec; wf=$1; wd=$(echo "$2" | tr : ' ')
    bart zeros "$(echo $wd | wc -w)" $wd "$W/wz" >/dev/null 2>&1 && bart noise -s 4 "$W/wz" "$W/wx" >/dev/null 2>&1
    bart cdf97 "$wf" "$W/wx" "$W/cbf" >/dev/null 2>&1 && bart cdf97 -i "$wf" "$W/cbf" "$W/cba" >/dev/null 2>&1
    $T cdf97 "$wf" "$W/wx" "$W/cmf" && $T cdf97 -i "$wf" "$W/cbf" "$W/cma" && "$PY" "$LL/nrmse.py" "$W/cbf" "$W/cmf" 1e-6 &&
      "$PY" "$LL/nrmse.py" "$W/cba" "$W/cma" 1e-6 && "$PY" "$LL/nrmse.py" "$W/wx" "$W/cma" 1e-6 && ok ||
      bad "cdf97 $wf on $wd: within 1e-6 of bart cdf97 (and -i), and -i inverts"
  done
  bart zeros 11 20 20 1 1 1 1 1 1 1 1 3 "$W/wz" >/dev/null 2>&1
  $T cdf97 1024 "$W/wz" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axes 0 .. 5" "$W/err" && ok || bad "cdf97 along BART's axis 10 (folded): usage error: $(cat "$W/err")"
  # bin (bart bin): quadrature binning of two noisy (cos, sin) motions as
  # bart ssa's EOFs would give them (respiration 57.3 samples a turn,
  # cardiac 13.1, drifts), 300 spokes of 2 coils: bart's bytes with every
  # option; label binning and reordering of 20 and 14 labels (bart divides
  # by N / 10 for its progress line: fewer than 10 labels crash it)
  # cflw.py: a .cfl of BART's 16 sizes written by numpy (these blocks' inputs)
  cat > "$W/cflw.py" <<'PYEOF'
import numpy as np
def wr(n, a, dims):
    d = list(dims) + [1] * (16 - len(dims))
    open(n + '.hdr', 'w').write('# Dimensions\n' + ' '.join(str(x) for x in d) + '\n')
    np.asarray(a, np.complex64).reshape(-1, order='F').tofile(n + '.cfl')
PYEOF
  "$PY" - "$W" <<'PYEOF'
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from cflw import wr
W, rng, T, N = sys.argv[1], np.random.default_rng(1), 300, 20
t = np.arange(T)
pr, pc = 2 * np.pi * t / 57.3 + 0.4, 2 * np.pi * t / 13.1 + 1.1
e = np.stack([np.cos(pr) + 0.3 * rng.standard_normal(T) + 0.002 * t, np.sin(pr) + 0.3 * rng.standard_normal(T),
              np.cos(pc) + 0.2 * rng.standard_normal(T), np.sin(pc) + 0.2 * rng.standard_normal(T) - 0.001 * t,
              rng.standard_normal(T)], 1)
wr(W + '/beof', e + 0.01j * rng.standard_normal((T, 5)), [1] * 10 + [T, 5])
wr(W + '/bspk', rng.standard_normal((6, 1, 1, 2, T)) + 1j * rng.standard_normal((6, 1, 1, 2, T)), [6, 1, 1, 2] + [1] * 6 + [T])
wr(W + '/blab', rng.integers(0, 4, N) + 0.3, [1] * 10 + [N])
wr(W + '/bsrc', rng.standard_normal((5, 3, N)) + 1j * rng.standard_normal((5, 3, N)), [5, 3] + [1] * 8 + [N])
wr(W + '/bord', rng.integers(0, N, 14), [1] * 10 + [14])
wr(W + '/bord4', [2, 0, 1, 2], [1] * 10 + [4])
PYEOF
  for bo in "-R 4 -C 5" "-R 3 -C 6 -a 10" "-R 4 -C 5 -a 9 -A 5" "-R 4 -C 5 -O 30:45" "-R 5 -C 4 -M" "-R 4 -C 5 -r 1:0 -c 3:2" "-R 2 -C 8 -r 2:3 -c 0:1 -a 20" "-R 4 -C 5 -M -a 7"; do
    bart bin $bo "$W/beof" "$W/bspk" "$W/bbb" >/dev/null 2>&1
    $T bin $bo "$W/beof" "$W/bspk" "$W/bmb" && cmp -s "$W/bbb.cfl" "$W/bmb.cfl" && "$PY" "$LL/nrmse.py" "$W/bbb" "$W/bmb" 1e-30 >/dev/null && ok ||
      bad "bin $bo: bart bin's bytes"
  done
  bart bin -l 11 "$W/blab" "$W/bsrc" "$W/bbl" >/dev/null 2>&1 && $T bin -l 11 "$W/blab" "$W/bsrc" "$W/bml" && cmp -s "$W/bbl.cfl" "$W/bml.cfl" &&
    bart bin -l 2 "$W/blab" "$W/bsrc" "$W/bbl" >/dev/null 2>&1 && $T bin -l 2 "$W/blab" "$W/bsrc" "$W/bml" && cmp -s "$W/bbl.cfl" "$W/bml.cfl" &&
    "$PY" "$LL/nrmse.py" "$W/bbl" "$W/bml" 1e-30 >/dev/null && ok || bad "bin -l 11 and -l 2: bart bin's bytes"
  bart bin -o "$W/bord" "$W/bsrc" "$W/bbo" >/dev/null 2>&1 && $T bin -o "$W/bord" "$W/bsrc" "$W/bmo" && cmp -s "$W/bbo.cfl" "$W/bmo.cfl" &&
    "$PY" "$LL/nrmse.py" "$W/bbo" "$W/bmo" 1e-30 >/dev/null && ok || bad "bin -o: bart bin's bytes"
  $T bin -o "$W/bord4" "$W/bsrc" "$W/bm4" && "$PY" - "$W" <<'PYEOF' && ok || bad "bin -o with 4 labels (bart divides by zero): src's slices 2, 0, 1, 2"
import sys, numpy as np
W = sys.argv[1]
rd = lambda n: np.fromfile(W + n + '.cfl', np.complex64)
s, m = rd('/bsrc').reshape(20, 15), rd('/bm4').reshape(4, 15)
sys.exit(0 if np.array_equal(m, s[[2, 0, 1, 2]]) else 1)
PYEOF
  # a cardiac offset of 200 degrees pushes angles past 360, where bart aborts: medvol takes them modulo 360
  $T bin -R 4 -C 5 -O 0:200 "$W/beof" "$W/bspk" "$W/bm2" && $T bin -R 4 -C 5 -O 0:-160 "$W/beof" "$W/bspk" "$W/bm3" &&
    cmp -s "$W/bm2.cfl" "$W/bm3.cfl" && ok || bad "bin -O 0:200 is -O 0:-160"
  $T bin -R 4 "$W/beof" "$W/bspk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "both -R and -C" "$W/err" && ok || bad "bin -R without -C: usage error"
  $T bin "$W/beof" "$W/bspk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "bin without a binning: usage error"
  $T bin -l 3 "$W/bspk" "$W/bsrc" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "bin -l with labels along two axes: usage error"
  $T bin -R 4 -C 5 -c 2:7 "$W/beof" "$W/bspk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "EOF index" "$W/err" && ok || bad "bin -c past the EOFs: usage error"
  # rmfreq (bart rmfreq): 101 golden-angle spokes' DC samples of 3 coils, 1
  # and 2 partitions, with and without a contrast modulation, 1 .. 7
  # harmonics: within 1e-6 of bart's (its float pseudo-inverse; medvol's
  # float64 normal equations), and numpy's lstsq residual for one of them
  bart traj -x 16 -y 101 -r -G "$W/rt" >/dev/null 2>&1 && bart transpose 2 10 "$W/rt" "$W/rt10" >/dev/null 2>&1 &&
    bart repmat 13 2 "$W/rt10" "$W/rt13" >/dev/null 2>&1
  "$PY" - "$W" <<'PYEOF'
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from cflw import wr
W, rng, T, C = sys.argv[1], np.random.default_rng(3), 101, 3
wr(W + '/rk', rng.standard_normal((C, T)) + 1j * rng.standard_normal((C, T)), [1, 1, 1, C] + [1] * 6 + [T])
wr(W + '/rm', 1 + 0.3 * rng.standard_normal((C, T)), [1, 1, 1, C] + [1] * 6 + [T])
wr(W + '/rk2', rng.standard_normal((2, T, C)) + 1j * rng.standard_normal((2, T, C)), [1, 1, 1, C] + [1] * 6 + [T, 1, 1, 2])
PYEOF
  for ro in "rt10 rk" "-N 3 rt10 rk" "-N 1 rt10 rk" "-M $W/rm rt10 rk" "-N 7 -M $W/rm rt10 rk" "-N 2 rt13 rk2"; do
    set -- $ro; rk=${!#}; rtj=${@: -2:1}; ra=("${@:1:$#-2}")
    bart rmfreq "${ra[@]}" "$W/$rtj" "$W/$rk" "$W/rbo" >/dev/null 2>&1
    $T rmfreq "${ra[@]}" "$W/$rtj" "$W/$rk" "$W/rmo" && "$PY" "$LL/nrmse.py" "$W/rbo" "$W/rmo" 1e-6 >/dev/null && ok || bad "rmfreq $ro: within 1e-6 of bart rmfreq"
  done
  $T rmfreq -N 4 "$W/rt10" "$W/rk" "$W/rmo" && "$PY" - "$W" <<'PYEOF' && ok || bad "rmfreq -N 4: numpy's least-squares residual"
import sys, numpy as np
W = sys.argv[1]
rd = lambda n, s: np.fromfile(W + n + '.cfl', np.complex64).reshape(s, order='F')
t, k, m = rd('/rt10', (3, 16, 101)), rd('/rk', (3, 101)), rd('/rmo', (3, 101))
th = np.pi + np.arctan2(t[0, 0].real.astype(np.float64), t[1, 0].real.astype(np.float64))
B = np.stack([np.exp(s * 1j * h * th) for h in range(1, 5) for s in (1, -1)], 1)
r = k.T - B @ np.linalg.lstsq(B, k.T.astype(np.complex128), rcond=None)[0]
sys.exit(0 if np.linalg.norm(m.T - r) / np.linalg.norm(r) < 1e-6 else 1)
PYEOF
  $T rmfreq -N 60 "$W/rt10" "$W/rk" "$W/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "basis functions" "$W/err" && ok || bad "rmfreq -N 60 on 101 spokes: refused: $(cat "$W/err")"
  $T rmfreq "$W/rt13" "$W/rk" "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "inconsistent" "$W/err" && ok || bad "rmfreq with another trajectory: usage error"
  # epg (bart epg): every sequence, derivatives where bart gives them, within
  # 1e-5 (NRMSE) of bart's four files (its float simulation, medvol's
  # float64); FLASH's random RF phases are glibc rand()'s after srand(1), as
  # bart's; B1's derivative where B1 != 1 is bart's over B1 (its pulse
  # derivative's extra factor); -v's Fisher information and bounds as bart
  # prints them; the spin echo's and hyperecho's echo counts refused as bart
  EP="$W/epg"
  mkdir -p "$EP"
  for eo in "-C" "-M" "-F" "-F -s 1" "-F -s 2 -n 30" "-B" "-C -1 1.2 -2 0.08 -e 0.012 -o 3 -n 30" \
    "-F -f 30 -r 0.004 -n 50 -o 20" "-B -f 50 -n 100 -o 7" "-M -f 40 -o 33 -n 16" "-H -n 11" "-S -n 2" "-S -n 1 -f 70"; do
    case "$eo" in -H* | -S*) fs="s st" ;; *) fs="s st sd sdr" ;; esac
    bo=() mo=(); for f in $fs; do bo+=("$EP/b$f"); mo+=("$EP/m$f"); done
    bart epg $eo "${bo[@]}" >/dev/null 2>&1
    r=0; $T epg $eo "${mo[@]}" || r=1
    for f in $fs; do [ $r = 0 ] && "$PY" "$LL/nrmse.py" "$EP/b$f" "$EP/m$f" 1e-5 >/dev/null || r=1; done
    [ $r = 0 ] && ok || bad "epg $eo: within 1e-5 of bart epg's $fs"
  done
  bart epg -F -b 0.8 -n 12 "$EP/bs" "$EP/bst" "$EP/bsd" >/dev/null 2>&1
  $T epg -F -b 0.8 -n 12 "$EP/ms" "$EP/mst" "$EP/msd" && "$PY" - "$EP" <<'PYEOF' && ok || bad "epg -b 0.8: bart's B1 derivative is B1 times medvol's, the others equal"
import sys, numpy as np
E = sys.argv[1]
b, m = (np.fromfile(E + n + '.cfl', np.complex64).reshape(4, 12) for n in ('/bsd', '/msd'))
sys.exit(0 if np.allclose(b[2], 0.8 * m[2], rtol=1e-5, atol=1e-8) and np.allclose(b[[0, 1, 3]], m[[0, 1, 3]], rtol=1e-5, atol=1e-8) else 1)
PYEOF
  # (the printed numbers within 1e-4 and the print's rounding: bart inverts in float)
  cat > "$EP/vcmp.py" <<'PYEOF'
import re, sys
rd = lambda n: (open(n).read(), [float(v) for v in re.findall(r'[-+]?\d+\.\d+', open(n).read())])
(tb, b), (tm, m) = rd(sys.argv[1]), rd(sys.argv[2])
same = re.sub(r'[-+]?\d+\.\d+', '#', tb) == re.sub(r'[-+]?\d+\.\d+', '#', tm)
sys.exit(0 if same and len(b) == len(m) and all(abs(x - y) <= 1e-4 * abs(x) + 0.006 for x, y in zip(b, m)) else 1)
PYEOF
  for eo in "-M -n 16 -u 3" "-C -n 20 -u 2" "-C -n 20 -u 2 -b 0.9" "-F -s 1 -n 40 -u 5" "-B -n 30 -u 1 -o 5"; do
    bart epg $eo -v 1 "$EP/bs" "$EP/bst" "$EP/bsd" > "$EP/bv.txt" 2>/dev/null
    $T epg $eo -v 1 "$EP/ms" "$EP/mst" "$EP/msd" > "$EP/mv.txt" && grep -q "rCRB M0" "$EP/mv.txt" && "$PY" "$EP/vcmp.py" "$EP/bv.txt" "$EP/mv.txt" && ok ||
      bad "epg $eo -v 1: bart's Fisher information and bounds: $(diff "$EP/bv.txt" "$EP/mv.txt" | head -4)"
  done
  $T epg -F -u 2 -v 1 "$EP/ms" "$EP/mst" "$EP/msd" > "$EP/mv.txt" 2>"$W/err" && grep -q "singular" "$W/err" && [ -f "$EP/msd.cfl" ] && ok ||
    bad "epg -F -u 2 -v 1 (ideal spoiling: no T2 information): singular, the files written"
  $T epg -S -n 3 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "1 or 2" "$W/err" && ok || bad "epg -S -n 3: usage error"
  $T epg -H -n 4 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "odd" "$W/err" && ok || bad "epg -H -n 4: usage error"
  $T epg -1 0 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "epg -1 0: usage error"
  # looklocker (bart looklocker): T1 from a fit's Mss, M0, R1* along axis 6,
  # with zeros, 0/0 and a series in axis 10: bart's bytes for 4 option sets,
  # and numpy's M0 / (Mss R1*) + 2 D
  "$PY" - "$EP" "$W" <<'PYEOF'
import numpy as np, sys
sys.path.insert(0, sys.argv[2])
from cflw import wr
rng = np.random.default_rng(1)
a = (rng.uniform(0.05, 2, size=(2, 3, 3, 4)) * np.exp(1j * rng.uniform(0, 6, size=(2, 3, 3, 4)))).astype(np.complex64)
a[0, 0, 0, 0] = a[0, 0, 0, 1] = 0
a[0, 1, :, 2] = 0
wr(sys.argv[1] + '/ll', a.T, [4, 3, 1, 1, 1, 1, 3, 1, 1, 1, 2])
PYEOF
  for lo in "" "-t 0.5" "-D 0.01" "-t 0 -D 0.003"; do
    bart looklocker $lo "$EP/ll" "$EP/bl" >/dev/null 2>&1
    $T looklocker $lo "$EP/ll" "$EP/ml" && cmp -s "$EP/bl.cfl" "$EP/ml.cfl" && ok || bad "looklocker $lo: bart looklocker's bytes"
  done
  $T looklocker -t 0.3 -D 0.002 "$EP/ll" "$EP/ml" && "$PY" - "$EP" <<'PYEOF' && ok || bad "looklocker -t 0.3 -D 0.002: numpy's T1"
import numpy as np, sys
E = sys.argv[1]
a = np.fromfile(E + '/ll.cfl', np.complex64).reshape(2, 3, 3, 4).astype(np.complex128)
m = np.fromfile(E + '/ml.cfl', np.complex64).reshape(2, 3, 4)
with np.errstate(all='ignore'):
    t1 = np.abs(a[:, 1]) / (np.abs(a[:, 0]) * np.abs(a[:, 2])) + 2 * np.float32(0.002)
t1[np.isnan(t1) | (np.abs(a[:, 0]) < np.float32(0.3))] = 0
sys.exit(0 if np.all(m.imag == 0) and np.allclose(m.real, t1, rtol=1e-6, atol=0) else 1)
PYEOF
  $T looklocker "$EP/bs" "$EP/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 6" "$W/err" && ok || bad "looklocker without 3 coefficients: usage error"
  # wavepsf (bart wavepsf): sine and cosine waves, slew- and amplitude-limited,
  # odd sizes, 301 wave points: within 3e-5 of bart's unit phasors (its FFTW
  # float interpolation against medvol's FFT), the same sizes
  for wo in "" "-c" "-x 768 -y 128 -r 0.1 -a 3000 -t 0.00001 -g 0.8 -s 17000 -n 6" "-c -x 257 -y 33 -a 3010 -n 5 -g 1.2 -s 9000" \
    "-x 200 -y 64 -a 4000 -n 3" "-x 100 -y 7 -a 1500 -r 0.05"; do
    bart wavepsf $wo "$EP/bw" >/dev/null 2>&1
    $T wavepsf $wo "$EP/mw" && "$PY" - "$EP" <<'PYEOF' && ok || bad "wavepsf $wo: within 3e-5 of bart wavepsf"
import numpy as np, sys
E = sys.argv[1]
dims = lambda n: [int(v) for v in open(E + n + '.hdr').read().split('\n')[1].split()]
db, dm = dims('/bw'), dims('/mw')
db += [1] * (len(dm) - len(db))
b, m = (np.fromfile(E + n + '.cfl', np.complex64) for n in ('/bw', '/mw'))
sys.exit(0 if db == dm and b.size == m.size and np.abs(b - m).max() < 3e-5 else 1)
PYEOF
  done
  $T wavepsf -a 3005 "$W/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "multiple of 10" "$W/err" && ok || bad "wavepsf -a 3005: usage error"
  # ssa (bart ssa): 200 samples of 3 coordinates (a respiratory and a cardiac
  # oscillation, noise, an offset); numpy's float64 SVD of the trajectory
  # matrix: singular values within 1e-6 of the largest, the leading EOFs
  # (those apart from their neighbours) the same up to phase, the
  # backprojection within 1e-5; bart ssa's singular values above 1e-2 of the
  # largest within 1e-4 of it (bart: float eigenvalues of A A^H, so its small
  # ones are off by ~eps s0^2 / s), its leading EOFs, and its backprojection
  # from them
  SS="$W/ssa"
  mkdir -p "$SS"
  "$PY" - "$SS" "$W" <<'PYEOF'
import numpy as np, sys
sys.path.insert(0, sys.argv[2])
from cflw import wr
rng = np.random.default_rng(2); T, C = 200, 3
t = np.arange(T); x = np.zeros((C, T), complex)
for c in range(C):
    x[c] = (1 + c) * np.exp(2j * np.pi * t / 50 + c) + 0.5 * np.cos(2 * np.pi * t / 13 + 0.3 * c) + 0.05 * (rng.standard_normal(T) + 1j * rng.standard_normal(T)) + 2 + 1j
wr(sys.argv[1] + '/x', x.T, [T, C])
PYEOF
  cat > "$SS/ref.py" <<'PYEOF'
import numpy as np, sys
# DIR W zeropad rm_mean normalize [rank | g:group] [bart]: mvtool's mE mS (mB) against numpy, or bart's bE bS (bB)
D = sys.argv[1]; W, zp, rm, nz = (int(v) for v in sys.argv[2:6]); bart = sys.argv[-1] == 'bart'
sel = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] not in ('-', 'bart') else None
def rd(n):
    d = [int(v) for v in open(D + '/' + n + '.hdr').read().split('\n')[1].split()]
    return d, np.fromfile(D + '/' + n + '.cfl', np.complex64)
d, x = rd('x'); T, C = d[0], d[1]
x = x.reshape(C, T).astype(np.complex128)
if rm: x = x - x.mean(1, keepdims=True)
if nz: x = x / np.sqrt((np.abs(x - x.mean(1, keepdims=True))**2).sum(1, keepdims=True) / (T - 1))
L = T + W - 1 if zp else T
xp = np.zeros((C, L), complex); xp[:, abs(L // 2 - T // 2):abs(L // 2 - T // 2) + T] = x
P = L - W + 1
A = np.concatenate([xp[c][np.arange(P)[:, None] + np.arange(W)[None, :]] for c in range(C)], 1)
U, s, Vh = np.linalg.svd(A)
(dm, em), (_, sm) = rd('mE'), rd('mS')
if bart:
    (_, eb), (_, sb) = rd('bE'), rd('bS')
    U, s = eb.reshape(P, P, order='F').astype(np.complex128), sb.real.astype(np.float64)
ss = np.zeros(P); ss[:min(P, len(s))] = s[:P]
big = ss > (1e-2 if bart else 0) * ss[0]  # bart's small ones: float eigenvalues of A A^H, off by ~eps s0^2 / s
ok = dm[0] == P and dm[1] == P and np.abs(sm.real - ss)[big].max() <= (1e-4 if bart else 1e-6) * ss[0]
gap = lambda j: (j == 0 or ss[j - 1] - ss[j] > 1e-3 * ss[0]) and ss[j] - ss[j + 1] > 1e-3 * ss[0]
lead = [j for j in range(min(8, P - 1)) if gap(j) and ss[j] > 1e-3 * ss[0]]
Um = em.reshape(P, P, order='F')
ok = ok and len(lead) > 0 and min(abs(np.vdot(U[:, j], Um[:, j])) for j in lead) > 1 - (1e-6 if bart else 1e-7)
if sel:
    K = len(s) if not bart else min(P, C * W)
    if sel.startswith('g:'):
        g = int(sel[2:]); keep = np.array([(j <= 30 and bool(abs(g) >> j & 1)) != (g < 0) for j in range(K)])
    else:
        r = int(sel); keep = np.array([j < r if r > 0 else j >= -r for j in range(K)])
    if bart:
        _, bB = rd('bB'); back = bB.reshape(C, T)
    else:
        ALR = (U[:, :K] * (s[:K] * keep)) @ Vh[:K]
        back = np.zeros((C, L), complex); cnt = np.zeros(L)
        for w in range(W):
            back[:, w:w + P] += ALR[:, w::W].T; cnt[w:w + P] += 1
        back /= cnt
    _, bm = rd('mB'); bm = bm.reshape(C, T)
    ok = ok and np.linalg.norm(bm - back) / np.linalg.norm(back) < (1e-4 if bart else 1e-5)
sys.exit(0 if ok else 1)
PYEOF
  for sc in "-w 20|20 1 1 0" "-w 20 -n 1|20 1 1 1" "-w 20 -m 0|20 1 0 0" "-w 30 -z|30 0 1 0" "-w 20 -r 4|20 0 1 0 4" \
    "-w 20 -r -2|20 0 1 0 -2" "-w 25 -g 5|25 0 1 0 g:5" "-w 25 -g -3|25 0 1 0 g:-3" "-w 7 -n 1 -m 0 -r 3|7 0 0 1 3"; do
    so=${sc%%|*} sr=${sc#*|}
    case "$so" in *-r* | *-g*) sf="mE mS mB" bf="bE bS bB" ;; *) sf="mE mS" bf="bE bS" ;; esac
    $T ssa $so "$SS/x" $(for f in $sf; do printf '%s ' "$SS/$f"; done) && "$PY" "$SS/ref.py" "$SS" $sr && ok || bad "ssa $so: numpy's float64 SSA"
    bart ssa $so "$SS/x" $(for f in $bf; do printf '%s ' "$SS/$f"; done) >/dev/null 2>&1
    case "$so" in *-r\ -* | *-g\ -*) sr="${sr% *} -" ;; esac
    "$PY" "$SS/ref.py" "$SS" $sr bart && ok || bad "ssa $so: bart ssa's singular values, leading EOFs (and backprojection)"
  done
  $T ssa "$SS/x" "$SS/mE" 2>"$W/err"; [ $? -eq 2 ] && grep -q "window" "$W/err" && ok || bad "ssa without -w: usage error"
  $T ssa -w 10 "$SS/x" "$SS/mE" "$SS/mS" "$SS/mB" 2>"$W/err"; [ $? -eq 2 ] && grep -q "rank or group" "$W/err" && ok || bad "ssa backprojection without -r/-g: usage error"
  $T ssa -w 300 -z "$SS/x" "$SS/mE" 2>"$W/err"; [ $? -eq 1 ] && grep -q "window" "$W/err" && ok || bad "ssa -w 300 -z on 200 samples: refused"
  # mobafit -T / -D (bart mobafit's exponential models, mv_exp_fit): noisy T2 decays of 6 x 5 voxels in
  # 2 frames (axis 10; zero voxels among them) and two-direction diffusion decays: bart's coefficients
  # within 1e-4 at -i 2, 5 and 10; numpy's own Gauss-Newton (np.linalg.lstsq: the minimum-norm step)
  # within 1e-5 at -i 3; scipy's least_squares optimum within 1e-5 after 30 steps
  MF="$W/mobafit"
  mkdir -p "$MF"
  "$PY" - "$MF" "$W" <<'PYEOF'
import numpy as np, sys
sys.path.insert(0, sys.argv[2])
from cflw import wr
D = sys.argv[1]; rng = np.random.default_rng(4)
w = lambda n, a, dims: wr(D + '/' + n, a, dims)
TE = np.array([0.008, 0.016, 0.024, 0.032, 0.048, 0.064, 0.08, 0.1])
w('te', TE, [1, 1, 1, 1, 1, 8])
rho = rng.uniform(0.5, 2, (6, 5, 2)) * np.exp(1j * rng.uniform(-3, 3, (6, 5, 2))); R2 = rng.uniform(5, 60, (6, 5, 2))
y = rho[..., None] * np.exp(-TE * R2[..., None]) + 0.01 * (rng.standard_normal((6, 5, 2, 8)) + 1j * rng.standard_normal((6, 5, 2, 8)))
y[0, 0, 0] = 0; y[3, 2, 1] = 0
w('tse', np.moveaxis(y, 2, 3).reshape(6, 5, 1, 1, 1, 8, 1, 1, 1, 1, 2), [6, 5, 1, 1, 1, 8, 1, 1, 1, 1, 2])
b = np.repeat([0, 200, 400, 700, 1000], 2).astype(float); g = np.tile([[1, 0], [0.3, 0.95]], (5, 1))
E = -(b[:, None] * g**2)
w('denc', E, [1, 1, 1, 1, 1, 10, 2])
Dc = rng.uniform(0.5e-3, 3e-3, (6, 5, 2)); r0 = rng.uniform(0.5, 2, (6, 5))
yd = r0[..., None] * np.exp(np.einsum('tk,xyk->xyt', E, Dc)) * (1 + 0.005 * rng.standard_normal((6, 5, 10)))
w('dwi', yd.reshape(6, 5, 1, 1, 1, 10), [6, 5, 1, 1, 1, 10])
PYEOF
  cat > "$MF/ref.py" <<'PYEOF'
import numpy as np, sys
from scipy.optimize import least_squares
# DIR ENC IMAGES COEFFS ITERS neg(1 TSE) mode(gn | opt): COEFFS against numpy's Gauss-Newton or scipy's optimum
D, en, yn, xn, it, neg, mode = sys.argv[1:8]; it = int(it)
def rd(n):
    d = [int(v) for v in open(D + '/' + n + '.hdr').read().split('\n')[1].split()]; d += [1] * (16 - len(d))
    return d, np.fromfile(D + '/' + n + '.cfl', np.complex64).astype(np.complex128)
(de, e), (dy, y), (dx, x) = rd(en), rd(yn), rd(xn)
T, K = de[5], de[6]; E = e.reshape(K, T).T * (-1 if neg == '1' else 1)
nv = int(np.prod(dy[:5])); outer = int(np.prod(dy[7:]))
Y = y.reshape(outer, T, nv); X = x.reshape(outer, K + 1, nv)
worst = 0; scale = np.abs(X).max()
for o in range(outer):
    for v in range(nv):
        yy = Y[o, :, v]
        if not np.any(yy):
            worst = max(worst, np.abs(X[o, :, v]).max()); continue
        p = np.zeros(K + 1, complex)
        if mode == 'gn':
            for _ in range(it):
                f = p[0] * np.exp(E @ p[1:])
                J = np.column_stack([np.exp(E @ p[1:])] + [f * E[:, k] for k in range(K)])
                p = np.linalg.lstsq(J, yy - f + J @ p, rcond=None)[0]
        else:
            p0 = X[o, :, v]
            def res(q):
                c = q[:K + 1] + 1j * q[K + 1:]
                r = yy - c[0] * np.exp(E @ c[1:])
                return np.concatenate([r.real, r.imag])
            s = least_squares(res, np.concatenate([p0.real, p0.imag]), xtol=1e-14, ftol=1e-14, gtol=1e-14)
            p = s.x[:K + 1] + 1j * s.x[K + 1:]
        worst = max(worst, np.abs(X[o, :, v] - p).max() / max(np.abs(p).max(), 1e-30) if mode != 'gn' else np.abs(X[o, :, v] - p).max() / scale)
sys.exit(0 if worst < 1e-5 else print('worst %.3g' % worst) or 1)
PYEOF
  for mo in "-T|te tse|1" "-T -i 2|te tse|1" "-T -i 10|te tse|1" "-D|denc dwi|0" "-D -i 3|denc dwi|0"; do
    mf=${mo%%|*} mr=${mo#*|}; mfiles=${mr%|*}
    bart mobafit $mf $(for f in $mfiles; do printf '%s ' "$MF/$f"; done) "$MF/bx" >/dev/null 2>&1
    $T mobafit $mf $(for f in $mfiles; do printf '%s ' "$MF/$f"; done) "$MF/mx" && "$PY" "$LL/nrmse.py" "$MF/bx" "$MF/mx" 1e-4 && ok ||
      bad "mobafit $mf: within 1e-4 of bart mobafit"
  done
  $T mobafit -T -i 3 "$MF/te" "$MF/tse" "$MF/mx" && "$PY" "$MF/ref.py" "$MF" te tse mx 3 1 gn && ok || bad "mobafit -T -i 3: numpy's Gauss-Newton"
  $T mobafit -D -i 3 "$MF/denc" "$MF/dwi" "$MF/mx" && "$PY" "$MF/ref.py" "$MF" denc dwi mx 3 0 gn && ok || bad "mobafit -D -i 3: numpy's Gauss-Newton"
  $T mobafit -T -i 30 "$MF/te" "$MF/tse" "$MF/mx" && "$PY" "$MF/ref.py" "$MF" te tse mx 30 1 opt && ok || bad "mobafit -T -i 30: scipy's least-squares optimum"
  $T mobafit -D -i 30 "$MF/denc" "$MF/dwi" "$MF/mx" && "$PY" "$MF/ref.py" "$MF" denc dwi mx 30 0 opt && ok || bad "mobafit -D -i 30: scipy's least-squares optimum"
  $T mobafit "$MF/te" "$MF/tse" "$MF/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "not built" "$W/err" && ok || bad "mobafit (MGRE): usage error"
  $T mobafit -T "$MF/denc" "$MF/dwi" "$MF/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "one encoding" "$W/err" && ok || bad "mobafit -T with 2 encodings: usage error"
  $T mobafit -D "$MF/te" "$MF/dwi" "$MF/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "series length" "$W/err" && ok || bad "mobafit with another series length: usage error"
  # onehotenc (bart onehotenc): labels with noise (rounded), labels along axis 2 with -i 3, scores with
  # ties along each axis (-r): bart's bytes, numpy's one-hot (np.eye) and argmax (its first maximum)
  OH="$W/onehot"
  mkdir -p "$OH"
  "$PY" - "$OH" "$W" <<'PYEOF'
import numpy as np, sys
sys.path.insert(0, sys.argv[2])
from cflw import wr
D = sys.argv[1]; rng = np.random.default_rng(3)
w = lambda n, a, dims: wr(D + '/' + n, a, dims)
w('lab', rng.integers(0, 5, (6, 4)) + 0.15 * rng.standard_normal((6, 4)), [6, 4])
w('lab3', rng.integers(0, 3, (1, 5, 3)).astype(float), [1, 5, 3])
sc = rng.standard_normal((4, 7, 3)); sc[1, 2, :] = sc[1, 2, 0]; sc[:, 0, 1] = np.round(sc[:, 0, 1])
w('sc', sc + 0.1j, [4, 7, 3])
PYEOF
  for oo in "|lab" "-i 1|lab" "|lab3" "-i 3|lab3" "-r|sc" "-r -i 1|sc" "-r -i 2|sc"; do
    of=${oo#*|} op=${oo%%|*}
    bart onehotenc $op "$OH/$of" "$OH/b" >/dev/null 2>&1
    $T onehotenc $op "$OH/$of" "$OH/m" 2>/dev/null && same_pair "$OH/b" "$OH/m" && ok || bad "onehotenc $op $of: bart's bytes"
  done
  $T onehotenc "$OH/lab" "$OH/m" && $T onehotenc -r -i 2 "$OH/sc" "$OH/mr" 2>/dev/null && "$PY" - "$OH" <<'PYEOF' && ok || bad "onehotenc: numpy's one-hot and argmax"
import numpy as np, sys
D = sys.argv[1]
rd = lambda n: np.fromfile(D + n + '.cfl', np.complex64)
lab = np.rint(rd('/lab').real.reshape(4, 6)).astype(int)
oh = rd('/m').reshape(-1, 4, 6)
r = rd('/mr').reshape(7, 4).real
ok = oh.shape[0] == lab.max() + 1 and np.array_equal(oh.real, np.eye(lab.max() + 1)[lab].transpose(2, 0, 1)) and not np.any(oh.imag)
ok = ok and np.array_equal(r, np.argmax(rd('/sc').real.reshape(3, 7, 4), axis=0))
sys.exit(0 if ok else 1)
PYEOF
  $T onehotenc "$OH/sc" "$OH/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "below 0" "$W/err" && ok || bad "onehotenc of negative labels: usage error (bart asserts)"
  # measure (bart measure): every measure against numpy's float64 definitions and scikit-image's
  # structural_similarity (win_size 7, data_range 1, population covariances) on random multi-coil 3D
  # items (axes 4 and 15) and one-coil 2D images; against bart measure (its float sums: 1e-5) on a
  # scaled multi-coil phantom, each option and OUT
  MS="$W/measure"
  mkdir -p "$MS"
  if "$PY" -c 'import skimage.metrics' 2>/dev/null; then
    "$PY" - "$MS" "$W" <<'PYEOF' || bad "numpy data and measures for measure"
import numpy as np, sys
from skimage.metrics import structural_similarity
sys.path.insert(0, sys.argv[2])
from cflw import wr
D = sys.argv[1]; rng = np.random.default_rng(8)
def case(name, shape, dims):
    ref = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * (1 + np.arange(shape[0]) / 4).reshape([-1] + [1] * (len(shape) - 1))
    x = ref + 0.3 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    wr(D + '/' + name + 'r', ref, dims); wr(D + '/' + name + 'x', x, dims)
    ref = ref.astype(np.complex64).astype(np.complex128); x = x.astype(np.complex64).astype(np.complex128)
    # items: everything past axis 3, as Fortran order lays them out
    r4 = ref.reshape(shape[:3] + (shape[3] if len(shape) > 3 else 1, -1), order='F')
    x4 = x.reshape(r4.shape, order='F')
    d = x4 - r4
    rr, rx = np.sqrt((np.abs(r4) ** 2).sum(3)), np.sqrt((np.abs(x4) ** 2).sum(3))
    dm = rx - rr
    it = r4.shape[-1]
    nm = np.mean([np.sum(np.abs(d[..., i]) ** 2) / np.sum(np.abs(r4[..., i]) ** 2) for i in range(it)])
    nmm = np.mean([np.sum(dm[..., i] ** 2) / np.sum(rr[..., i] ** 2) for i in range(it)])
    ps = np.mean([20 * np.log10(rr[..., i].max()) - 10 * np.log10(np.mean(dm[..., i] ** 2)) for i in range(it)])
    ss = []
    for i in range(it):
        m = rr[..., i].max()
        a = np.sqrt((rx[..., i] / m) ** 2 + 1e-12); b = np.sqrt((rr[..., i] / m) ** 2 + 1e-12)
        ss += [structural_similarity(np.squeeze(a[:, :, z]), np.squeeze(b[:, :, z]), win_size=7, data_range=1.0, use_sample_covariance=False)
               for z in range(a.shape[2])]
    v = [np.mean(dm ** 2), np.mean(np.abs(d) ** 2), ps, np.mean(ss), np.mean(np.abs(d.real) + np.abs(d.imag)),
         np.mean(np.abs(dm)), nm, nmm]
    open(D + '/' + name + '.txt', 'w').write(' '.join('%.17g' % t for t in v) + '\n')
case('a', (20, 16, 3, 3, 2, 2), [20, 16, 3, 3, 2] + [1] * 10 + [2])
case('b', (24, 9, 1), [24, 9])
case('c', (1, 30, 2, 2), [1, 30, 2, 2])
PYEOF
    for c in a b c; do
      $T measure "$MS/${c}r" "$MS/${c}x" > "$MS/$c.out" && "$PY" - "$MS/$c.txt" "$MS/$c.out" <<'PYEOF' && ok || bad "measure, case $c: not numpy's and scikit-image's measures: $(cat "$MS/$c.out")"
import sys
want = [float(t) for t in open(sys.argv[1]).read().split()]
got = [float(l.split(':')[1]) for l in open(sys.argv[2]) if l.strip()]
sys.exit(len(got) != 8 or any(abs(g - w) > 2e-6 * abs(w) for g, w in zip(got, want)))
PYEOF
    done
  fi
  bart phantom -x 40 -s 3 "$MS/p0" >/dev/null 2>&1 && bart scale 1e-4 "$MS/p0" "$MS/p" >/dev/null 2>&1 &&
    bart noise -s 3 -n 0.0001 "$MS/p" "$MS/pn" >/dev/null 2>&1 && bart phantom -x 40 "$MS/q" >/dev/null 2>&1 &&
    bart noise -s 9 -n 0.01 "$MS/q" "$MS/qn" >/dev/null 2>&1 && bart repmat 15 2 "$MS/pn" "$MS/pn15" >/dev/null 2>&1 &&
    bart repmat 15 2 "$MS/p" "$MS/p15" >/dev/null 2>&1 || bad "bart phantom / scale / noise for measure"
  for R in "p pn" "q qn" "p15 pn15"; do
    set -- $R
    for op in "" --mse --mse-mag --ssim --psnr; do
      bart measure $op "$MS/$1" "$MS/$2" > "$MS/b.out" 2>/dev/null && $T measure $op "$MS/$1" "$MS/$2" > "$MS/m.out" &&
        "$PY" - "$MS/b.out" "$MS/m.out" <<'PYEOF' && ok || bad "measure $op $R: not bart's lines within 1e-5: $(paste -d'|' "$MS/b.out" "$MS/m.out" | tr '\n' ' ')"
import sys
b, m = ([l.rsplit(None, 1) if ':' in l else ['', l.strip()] for l in open(f) if l.strip()] for f in sys.argv[1:])
sys.exit(len(b) != len(m) or any(p[0] != q[0] or abs(float(p[1]) - float(q[1])) > 1e-5 * abs(float(p[1])) for p, q in zip(b, m)))
PYEOF
    done
  done
  bart measure "$MS/p15" "$MS/pn15" "$MS/bo" >/dev/null 2>&1 && $T measure "$MS/p15" "$MS/pn15" "$MS/mo" && same_dims "$MS/bo" "$MS/mo" &&
    $T nrmse -t 1e-5 "$MS/bo" "$MS/mo" >/dev/null && ok || bad "measure OUT: not bart's file"
  $T measure --mse --ssim "$MS/p" "$MS/pn" 2>"$W/err"; [ $? -eq 2 ] && grep -q "one of" "$W/err" && ok || bad "measure with two options: usage error"
  $T measure "$MS/p" "$MS/q" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "measure of arrays of other sizes: usage error: $(cat "$W/err")"
  # BART's axes beyond medvol's 7 (TIME_DIM 10, ...): every .cfl command folds
  # them on load and writes bart's own 16 sizes, against bart on series in
  # axis 10 and in axes 5 and 10 (and 10 and 11, which the fold joins)
  FD="$W/fold"
  mkdir -p "$FD"
  hd() { sed -n 2p "$1.hdr" | xargs; }
  bart phantom -x 32 -s 4 "$FD/p" >/dev/null 2>&1 && bart repmat 10 3 "$FD/p" "$FD/r10" >/dev/null 2>&1 &&
    bart noise -s 4 -n 0.1 "$FD/r10" "$FD/q10" >/dev/null 2>&1 && bart repmat 5 2 "$FD/r10" "$FD/r510" >/dev/null 2>&1 &&
    bart noise -s 5 -n 0.1 "$FD/r510" "$FD/q510" >/dev/null 2>&1 && bart repmat 11 2 "$FD/r10" "$FD/r1011" >/dev/null 2>&1 &&
    bart noise -s 6 -n 0.1 "$FD/r1011" "$FD/q1011" >/dev/null 2>&1 || bad "bart series for the fold tests"
  for c in "q10 8" "q10 1024" "q10 1032" "q510 1056" "q510 32" "q1011 1024" "q1011 2048" "q1011 3080"; do
    f=${c% *}; b=${c#* }
    bart rss $b "$FD/$f" "$FD/b" >/dev/null 2>&1
    $T rss $b "$FD/$f" "$FD/m" && "$PY" "$LL/nrmse.py" "$FD/b" "$FD/m" 1e-6 && ok || bad "rss $b ($f) vs bart rss: $(hd "$FD/b") / $(hd "$FD/m")"
  done
  # info and convert fold them too: BART's 16 sizes shown, a .cfl to .cfl conversion keeps them (and the bytes)
  $T info "$FD/q1011.cfl" > "$FD/info.txt" && [ "$(grep '^BART dims' "$FD/info.txt" | cut -c13- | xargs)" = "$(hd "$FD/q1011")" ] &&
    grep -q "32 x 32 x 1 x 4 x 1 x 1 x 6" "$FD/info.txt" && $T convert "$FD/q1011.cfl" "$FD/cv.cfl" && [ "$(hd "$FD/cv")" = "$(hd "$FD/q1011")" ] &&
    cmp -s "$FD/cv.cfl" "$FD/q1011.cfl" && ok || bad "info / convert of a .cfl with axes 10 and 11: $(cat "$FD/info.txt")"
  for f in q10 q510 q1011; do
    for m in "" -H -B -W "-j 1024" "-j 2048" "-j 1056"; do
      bart threshold $m 0.5 "$FD/$f" "$FD/b" >/dev/null 2>&1
      $T threshold $m 0.5 "$FD/$f" "$FD/m" && "$PY" "$LL/nrmse.py" "$FD/b" "$FD/m" 1e-6 && ok || bad "threshold $m ($f) vs bart threshold"
    done
  done
  # nufft: a trajectory shared by the frames, one per frame (axis 10), and shared along axis 5 only
  bart traj -r -x 32 -y 21 "$FD/t" >/dev/null 2>&1 && bart traj -r -G -x 32 -y 126 "$FD/tg" >/dev/null 2>&1 &&
    bart reshape $(bart bitmask 2 10) 21 6 "$FD/tg" "$FD/tg6" >/dev/null 2>&1 && bart extract 10 0 3 "$FD/tg6" "$FD/t10" >/dev/null 2>&1 &&
    bart reshape $(bart bitmask 2 5 10) 21 2 3 "$FD/tg" "$FD/t510" >/dev/null 2>&1 &&
    bart phantom -x 32 -s 2 "$FD/im" >/dev/null 2>&1 && bart repmat 10 3 "$FD/im" "$FD/im10" >/dev/null 2>&1 &&
    bart noise -s 7 -n 0.01 "$FD/im10" "$FD/i10" >/dev/null 2>&1 && bart repmat 5 2 "$FD/i10" "$FD/im510" >/dev/null 2>&1 &&
    bart noise -s 8 -n 0.01 "$FD/im510" "$FD/i510" >/dev/null 2>&1 || bad "bart trajectories for the fold tests"
  for c in "t i10" "t10 i10" "t10 i510" "t510 i510"; do
    tr=${c% *}; im=${c#* }
    bart nufft -d 32:32:1 "$FD/$tr" "$FD/$im" "$FD/bk" >/dev/null 2>&1 && bart nufft -a -d 32:32:1 "$FD/$tr" "$FD/bk" "$FD/ba" >/dev/null 2>&1
    $T nufft -d 32:32:1 "$FD/$tr" "$FD/$im" "$FD/mk" && $T nufft -a -d 32:32:1 "$FD/$tr" "$FD/bk" "$FD/ma" &&
      "$PY" "$LL/nrmse.py" "$FD/bk" "$FD/mk" 0.01 && "$PY" "$LL/nrmse.py" "$FD/ba" "$FD/ma" 0.01 && ok ||
      bad "nufft / nufft -a ($tr, $im) vs bart nufft: $(hd "$FD/bk") / $(hd "$FD/mk")"
  done
  bart repmat 11 2 "$FD/i10" "$FD/i1011" >/dev/null 2>&1
  $T nufft -d 32:32:1 "$FD/t10" "$FD/i1011" "$FD/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 11.*not along axis 10" "$W/err" &&
    ok || bad "nufft, TRAJ per frame in axis 10 shared along 11: usage error naming the axes: $(cat "$W/err")"
  bart extract 10 0 2 "$FD/i10" "$FD/i2" >/dev/null 2>&1
  $T nufft -d 32:32:1 "$FD/t10" "$FD/i2" "$FD/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 10 holds 3" "$W/err" &&
    ok || bad "nufft, 3 trajectories for 2 frames: usage error: $(cat "$W/err")"
  # dcf: the ramp per frame, TRAJ's 16 sizes with axis 0 of 1
  $T dcf "$FD/t" "$FD/d1" && bart repmat 10 3 "$FD/d1" "$FD/d3" >/dev/null 2>&1 && bart repmat 10 3 "$FD/t" "$FD/tr3" >/dev/null 2>&1 &&
    $T dcf "$FD/tr3" "$FD/dm" && [ "$(hd "$FD/dm")" = "$(hd "$FD/d3")" ] && cmp -s "$FD/dm.cfl" "$FD/d3.cfl" && ok || bad "dcf of a series in axis 10"
  $T dcf --pipe-menon 10 "$FD/t" "$FD/p1" && bart repmat 10 3 "$FD/p1" "$FD/p3" >/dev/null 2>&1 &&
    $T dcf --pipe-menon 10 "$FD/tr3" "$FD/pm" && [ "$(hd "$FD/pm")" = "$(hd "$FD/p3")" ] && cmp -s "$FD/pm.cfl" "$FD/p3.cfl" &&
    ok || bad "dcf --pipe-menon of a series in axis 10: each frame's own weights"
  # every command that reads through mv_load takes BART's pair by name (.cfl, or its text .hdr)
  $T info "$FD/t.hdr" | grep -q "^format *BART pair" && $T convert "$FD/t.cfl" "$FD/t.nii" && "$PY" - "$FD/t" <<'PYEOF' && ok || bad "convert of a BART .cfl to NIfTI (nibabel: BART's samples, the identity affine)"
import sys, numpy as np, nibabel as nib
im = nib.load(sys.argv[1] + '.nii')
d = [int(x) for x in open(sys.argv[1] + '.hdr').read().split('\n')[1].split()]
raw = np.fromfile(sys.argv[1] + '.cfl', np.complex64)
data = np.asarray(im.dataobj)
sys.exit(0 if data.dtype == np.complex64 and data.shape == tuple(d[:data.ndim]) and np.array_equal(data.ravel(order='F'), raw)
         and np.allclose(im.affine, np.eye(4)) else 1)
PYEOF
  # ecalib calibrates from the first frame, as bart ecalib does (frames in axis 10, in 5 and 10)
  bart scale 0.5 "$W/rk" "$FD/rk2" >/dev/null 2>&1 && bart noise -s 9 -n 1 "$FD/rk2" "$FD/rkn" >/dev/null 2>&1 &&
    bart join 10 "$W/rk" "$FD/rkn" "$FD/k10" >/dev/null 2>&1 && bart join 5 "$FD/k10" "$FD/k10" "$FD/k510" >/dev/null 2>&1
  $T ecalib -m 1 "$W/rk" "$FD/s0" || bad "ecalib -m 1 of one frame"
  for k in k10 k510; do
    bart ecalib -m1 "$FD/$k" "$FD/bs" >/dev/null 2>&1
    $T ecalib -m 1 "$FD/$k" "$FD/ms" && [ "$(hd "$FD/bs")" = "$(hd "$FD/ms")" ] && cmp -s "$FD/ms.cfl" "$FD/s0.cfl" &&
      ok || bad "ecalib -m 1 ($k): bart's header, the first frame's maps"
  done
  bart join 4 "$W/rk" "$W/rk" "$FD/k4" >/dev/null 2>&1
  $T ecalib "$FD/k4" "$FD/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "maps axis (4)" "$W/err" && ok || bad "ecalib, k-space axis 4 of 2: usage error: $(cat "$W/err")"
  # grappa: each frame with the first one's calibration, KSPACE's sizes
  bart scale 2 "$W/ru" "$FD/ru2" >/dev/null 2>&1 && bart join 10 "$W/ru" "$FD/ru2" "$FD/ru10" >/dev/null 2>&1 &&
    bart join 5 "$FD/ru10" "$FD/ru10" "$FD/ru510" >/dev/null 2>&1
  $T grappa "$W/ru" "$FD/g0" && $T grappa "$FD/ru510" "$FD/g" && [ "$(hd "$FD/g")" = "$(hd "$FD/ru510")" ] &&
    bart extract 5 1 2 10 0 1 "$FD/g" "$FD/g1" >/dev/null 2>&1 && cmp -s "$FD/g1.cfl" "$FD/g0.cfl" && ok || bad "grappa of frames in axes 5 and 10"
  # pics on frames in axes 5 and 10 at once; MAPS with frames and a trajectory half shared are refused
  bart pics -l2 -r 0.01 -i 10 "$FD/ru510" "$W/rbm" "$FD/bp" >/dev/null 2>&1
  $T pics -l2 -r 0.01 -i 10 "$FD/ru510" "$W/rbm" "$FD/mp" && "$PY" "$LL/nrmse.py" "$FD/bp" "$FD/mp" 1e-5 2 && ok || bad "pics -l2, frames in axes 5 and 10, vs bart pics"
  bart repmat 10 2 "$W/rbm" "$FD/s10" >/dev/null 2>&1
  $T pics -l2 "$W/ru" "$FD/s10" "$FD/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "MAPS must be" "$W/err" && ok || bad "pics, MAPS with axis 10: usage error: $(cat "$W/err")"
  bart phantom -x 32 -k -s 2 -t "$FD/t10" "$FD/nk10" >/dev/null 2>&1 && bart repmat 11 2 "$FD/nk10" "$FD/nk1011" >/dev/null 2>&1 &&
    bart phantom -x 32 -S 2 "$FD/ns" >/dev/null 2>&1
  $T pics -l2 -t "$FD/t10" "$FD/nk1011" "$FD/ns" "$FD/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "axis 11.*not along axis 10" "$W/err" &&
    ok || bad "pics -t, TRAJ per frame in axis 10 shared along 11: usage error: $(cat "$W/err")"
else
  echo "  (skip recon commands vs bart: no bart or numpy)"
fi

# the image family (mvtool_image.c): toimg, pol2mask, morphop, roistat, poly against bart 0.8 and numpy / scipy / PIL
if command -v bart >/dev/null 2>&1 && "$PY" -c 'import numpy, scipy.ndimage, PIL' 2>/dev/null; then
  IM=$W/img && mkdir -p "$IM"
  "$PY" - "$IM" <<'PYEOF' || bad "image family: test arrays"
import numpy as np, sys
d = sys.argv[1]
def wr(name, a):
    a = np.asarray(a, np.complex64)
    dims = list(a.shape) + [1] * (16 - a.ndim)
    open('%s/%s.hdr' % (d, name), 'w').write('# Dimensions\n' + ' '.join(map(str, dims)) + '\n')
    a.ravel(order='F').tofile('%s/%s.cfl' % (d, name))
r = np.random.default_rng(7)
# binary blobs in 3 planes (axis 2), a thin array for masks longer than an axis
from scipy import ndimage
wr('blob', (ndimage.gaussian_filter(r.random((40, 30, 3)), (2, 2, 0), mode='wrap') > 0.5).astype(float))
wr('thin', (r.random((2, 9)) < 0.7).astype(float))
# polygons: (2, vertices, polygons) at coordinates no pixel centre lies on
tri = [[3.17, 2.71], [25.33, 6.13], [11.41, 27.77]]
star = [[16 + 13.3 * np.cos(a + 0.1), 15 + 12.7 * np.sin(a + 0.1)] for a in np.arange(5) * 4 * np.pi / 5]  # winding 2 inside
cw = [[28.21, 3.37], [22.13, 3.37], [22.13, 9.71], [28.21, 9.71]]  # clockwise (x right, y up): -1
def polys(ps):
    n = max(len(q) for q in ps)
    return np.array([[q[i % len(q)] for i in range(n)] for q in ps]).transpose(2, 1, 0)  # repeated vertices add nothing
wr('p_tri', polys([tri])); wr('p_star', polys([star])); wr('p_cw', polys([cw])); wr('p_two', polys([tri, cw]))
# ROIs (axis 4: two regions, one weighted) and a series of 3 noisy images (axis 5)
roi = np.zeros((16, 16, 1, 1, 2)); roi[2:9, 3:12, 0, 0, 0] = 1; roi[6:15, 1:7, 0, 0, 1] = 0.5 + r.random((9, 6))
wr('roi', roi)
x = (r.standard_normal((16, 16, 1, 1, 1, 3)) + 1j * r.standard_normal((16, 16, 1, 1, 1, 3))) * [1, 2, 3] + 0.5
wr('ser', x)
img = np.abs(r.standard_normal((24, 20, 3))) * 100; img[5, 7, 1] = 700; img[0, 0, 2] = 0
wr('im3', img); wr('im1', img[:, :, 0])
PYEOF
  # poly: bart's bytes; numpy's polynomial with negative coefficients (bart's parser takes them for options)
  for pc in "6 3 1 0.5 0.25 2.5" "1 0 3" "9 2 0.1 0.3 0.7"; do
    bart poly $pc "$IM/bp" >/dev/null && $T poly $pc "$IM/mp" && cmp -s "$IM/bp.cfl" "$IM/mp.cfl" && ok || bad "poly $pc: not bart poly's bytes"
  done
  $T poly 7 3 -1.5 0.25 -0.125 0.5 "$IM/mp" && "$PY" -c "
import numpy as np, sys
y = np.fromfile('$IM/mp.cfl', np.complex64); x = np.arange(7.)
sys.exit(0 if np.allclose(y, -1.5 + 0.25 * x - 0.125 * x**2 + 0.5 * x**3, rtol=1e-6) and len(y) == 7 else 1)" && ok || bad "poly with negative coefficients: not numpy's"
  $T poly 3 3 1 2 3 4 "$IM/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "L >= N + 1" "$W/err" && ok || bad "poly N + 1 > L: usage error"
  $T poly 5 2 1 2 "$IM/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "poly, a coefficient missing: usage error"
  # pol2mask: bart's bytes for one polygon (a triangle, a star of winding number 2, a clockwise square: -1);
  # numpy's angle sums (the winding number as the turning of the vertices seen from each pixel) for two
  for pf in p_tri p_star p_cw; do
    bart pol2mask -X 32 -Y 30 "$IM/$pf" "$IM/bm" >/dev/null && $T pol2mask -X 32 -Y 30 "$IM/$pf" "$IM/mm" && cmp -s "$IM/bm.cfl" "$IM/mm.cfl" &&
      [ "$(sed -n 2p "$IM/bm.hdr" | xargs)" = "$(sed -n 2p "$IM/mm.hdr" | xargs)" ] && ok || bad "pol2mask $pf: not bart pol2mask's bytes"
  done
  $T pol2mask -X 32 -Y 30 "$IM/p_two" "$IM/mm" && "$PY" - "$IM" <<'PYEOF' && ok || bad "pol2mask of two polygons: not numpy's winding numbers"
import numpy as np, sys
d = sys.argv[1]
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
P, m = rd(d + '/p_two').real[:, :, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], rd(d + '/mm')[:, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
gx, gy = np.meshgrid(np.arange(32.), np.arange(30.), indexing='ij')
ref = 0
for k in range(P.shape[2]):
    ang = np.arctan2(P[1, :, k][None, None, :] - gy[..., None], P[0, :, k][None, None, :] - gx[..., None])
    turn = np.angle(np.exp(1j * (np.roll(ang, -1, axis=-1) - ang))).sum(-1)
    ref = ref + np.round(turn / (2 * np.pi))
sys.exit(0 if m.shape == (32, 30) and np.array_equal(m.real, ref) and not m.imag.any() and (ref == -1).any() and (ref == 1).any() else 1)
PYEOF
  $T pol2mask "$IM/blob" "$IM/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "axis 0 has 40 samples" "$W/err" && ok || bad "pol2mask of a non-polygon: refused"
  # morphop: bart's bytes (binary blobs in three planes, sizes 1 3 5, all four operations; an axis shorter than the mask);
  # scipy's grey erosion and dilation with mode='wrap' (the cyclic box) on each plane
  for op in e d o c; do
    for sz in 1 3 5; do
      bart morphop -$op $sz "$IM/blob" "$IM/bo" >/dev/null && $T morphop -$op $sz "$IM/blob" "$IM/mo" && cmp -s "$IM/bo.cfl" "$IM/mo.cfl" &&
        ok || bad "morphop -$op $sz: not bart morphop's bytes"
    done
    bart morphop -$op 5 "$IM/thin" "$IM/bo" >/dev/null && $T morphop -$op 5 "$IM/thin" "$IM/mo" && cmp -s "$IM/bo.cfl" "$IM/mo.cfl" &&
      ok || bad "morphop -$op 5 of a 2 x 9 array: not bart morphop's bytes"
  done
  $T morphop -d -e 3 "$IM/blob" "$IM/mo" && $T morphop 3 "$IM/blob" "$IM/mo2" && cmp -s "$IM/mo.cfl" "$IM/mo2.cfl" && ok || bad "morphop -d -e: the last operation given"
  $T morphop -e 5 "$IM/blob" "$IM/me" && $T morphop -d 5 "$IM/blob" "$IM/md" && "$PY" - "$IM" <<'PYEOF' && ok || bad "morphop: not scipy's wrapped grey erosion / dilation"
import numpy as np, sys
from scipy import ndimage
d = sys.argv[1]
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')[:, :, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
x, e, dl = rd(d + '/blob').real, rd(d + '/me').real, rd(d + '/md').real
re = ndimage.grey_erosion(x, size=(5, 5, 1), mode='wrap'); rdl = ndimage.grey_dilation(x, size=(5, 5, 1), mode='wrap')
sys.exit(0 if np.array_equal(e, re) and np.array_equal(dl, rdl) and 0 < e.sum() < dl.sum() < x.size else 1)
PYEOF
  $T morphop 4 "$IM/blob" "$IM/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "odd" "$W/err" && ok || bad "morphop, an even size: usage error"
  # roistat: each statistic against bart's (float sums: 1e-5) and numpy's float64 (1e-6); bart's table of all three
  for st in C S M D E V "b -D" "b -V"; do
    bart roistat -$st "$IM/roi" "$IM/ser" "$IM/bs" >/dev/null && $T roistat -$st "$IM/roi" "$IM/ser" "$IM/ms" &&
      [ "$(sed -n 2p "$IM/bs.hdr" | xargs)" = "$(sed -n 2p "$IM/ms.hdr" | xargs)" ] &&
      "$PY" - "$IM" "$st" <<'PYEOF' && ok || bad "roistat -$st: not bart's or numpy's"
import numpy as np, sys
d, st = sys.argv[1], sys.argv[2]
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
roi, x, b, m = rd(d + '/roi').astype(complex), rd(d + '/ser').astype(complex), rd(d + '/bs'), rd(d + '/ms')
R, X = roi.reshape(16, 16, 2, 1, order='F'), x.reshape(16, 16, 1, 3, order='F')  # (16, 16, regions, frames)
cnt = R.sum((0, 1)); s = (R * X).sum((0, 1)); mean = s / cnt
en = (np.abs((X - mean) * R) ** 2).sum((0, 1)); var = en / (cnt - (1 if 'b' in st else 0))
ref = {'C': cnt + 0 * s, 'S': s, 'M': mean, 'E': en, 'V': var, 'D': np.sqrt(var)}[st[-1]]
m2, b2 = m[0, 0, 0, 0].squeeze(), b[0, 0, 0, 0].squeeze()
ok = m.shape == b.shape and np.abs(m2 - ref).max() <= 1e-6 * np.abs(ref).max() and np.abs(m2 - b2).max() <= 1e-5 * np.abs(ref).max()
sys.exit(0 if ok else print(st, np.abs(m2 - ref).max(), np.abs(m2 - b2).max()) or 1)
PYEOF
  done
  bart roistat "$IM/roi" "$IM/ser" > "$IM/bt" && $T roistat "$IM/roi" "$IM/ser" > "$IM/mt" && cmp -s "$IM/bt" "$IM/mt" && [ "$(wc -l < "$IM/mt")" -eq 10 ] &&
    ok || bad "roistat's table: not bart's text: $(diff "$IM/bt" "$IM/mt" | head -4)"
  $T roistat -b -M "$IM/roi" "$IM/ser" "$IM/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "Bessel" "$W/err" && ok || bad "roistat -b -M: usage error"
  $T roistat "$IM/roi" "$IM/ser" "$IM/x" 2>"$W/err"; [ $? -eq 2 ] && ok || bad "roistat, OUT without a statistic: usage error"
  $T roistat -S "$IM/roi" "$IM/blob" "$IM/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "axis 0 has 16 and 40" "$W/err" && ok || bad "roistat, axes that differ: refused"
  # toimg: PIL reads bart's PNGs and mvtool's as the same pixels (one image; three along axis 2, each scaled or all
  # by one; windowing); the file names bart gives
  for R in "im1|" "im3|" "im3|-m" "im3|-W -c 0.2 -w 2.5 -g 0.7" "im1|-W"; do
    IFS='|' read -r f fl <<< "$R"
    rm -f "$IM"/b*.png "$IM"/m*.png
    bart toimg $fl "$IM/$f" "$IM/bt.png" >/dev/null 2>&1 && $T toimg $fl "$IM/$f" "$IM/mt.png" && "$PY" - "$IM" <<'PYEOF' && ok || bad "toimg $fl $f: not bart toimg's pixels"
import glob, numpy as np, sys
from PIL import Image
d = sys.argv[1]
bs, ms = sorted(glob.glob(d + '/bt*.png')), sorted(glob.glob(d + '/mt*.png'))
if [b.replace('/bt', '/mt') for b in bs] != ms or not bs: sys.exit(print('files', bs, ms) or 1)
for b, m in zip(bs, ms):
    B, M = np.asarray(Image.open(b)), np.asarray(Image.open(m))
    if B.shape != M.shape or Image.open(m).mode != 'RGB' or not np.array_equal(B, M) or B.max() == 0: sys.exit(print(b, B.shape, M.shape) or 1)
PYEOF
  done
  rm -f "$IM"/mt*.png && $T toimg "$IM/im3" "$IM/mt" && [ -f "$IM/mt-0002.png" ] && [ ! -f "$IM/mt-0003.png" ] && ok || bad "toimg of three images: PREFIX-0000.png .. -0002.png"
  # fftrot: bart's rotation within 1e-6 (2D both axis orders, odd 90 degrees, 3D in axes 0 and 2); a Gaussian blob off
  # centre rotated by 0.5 rad against the analytic rotated blob: (p1, p2) about n/2 moves to (p1 c + p2 s, -p1 s + p2 c)
  bart phantom -x 32 "$IM/ph" >/dev/null && bart phantom -x 31 "$IM/ph31" >/dev/null && bart phantom -3 -x 16 "$IM/ph3" >/dev/null || bad "fftrot: bart phantoms"
  for R in "0 1 0.3 ph" "1 0 0.7 ph" "0 1 1.5707963 ph31" "0 2 0.4 ph3"; do
    set -- $R
    bart fftrot $1 $2 $3 "$IM/$4" "$IM/br" >/dev/null && $T fftrot $1 $2 $3 "$IM/$4" "$IM/mr" && "$PY" -c "
import numpy as np, sys
a, b = np.fromfile('$IM/br.cfl', np.complex64), np.fromfile('$IM/mr.cfl', np.complex64)
sys.exit(0 if np.linalg.norm(a - b) <= 1e-6 * np.linalg.norm(a) else 1)" && ok || bad "fftrot $R: not bart fftrot's"
  done
  "$PY" - "$IM" "$T" <<'PYEOF' && ok || bad "fftrot of a Gaussian blob: not the analytic rotation"
import numpy as np, subprocess, sys
d, T = sys.argv[1], sys.argv[2]
N = 64; x = np.arange(N)[:, None] - N / 2; y = np.arange(N)[None, :] - N / 2
g = lambda cx, cy: np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 4.0 ** 2))
open(d + '/gb.hdr', 'w').write('# Dimensions\n' + ' '.join(map(str, [N, N] + [1] * 14)) + '\n')
g(12, 3).astype(np.complex64).ravel(order='F').tofile(d + '/gb.cfl')
subprocess.run([T, 'fftrot', '0', '1', '0.5', d + '/gb', d + '/gr'], check=True)
r = np.fromfile(d + '/gr.cfl', np.complex64).reshape(N, N, order='F')
c, s = np.cos(0.5), np.sin(0.5)
ref = g(12 * c + 3 * s, -12 * s + 3 * c)
sys.exit(0 if np.linalg.norm(r - ref) <= 1e-4 * np.linalg.norm(ref) else print(np.linalg.norm(r - ref) / np.linalg.norm(ref)) or 1)
PYEOF
  $T fftrot 1 1 0.3 "$IM/ph" "$IM/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "two different axes" "$W/err" && ok || bad "fftrot 1 1: usage error"
  $T toimg "$IM/im3" "$IM/x.dcm" 2>"$W/err"; [ $? -eq 2 ] && grep -q "DICOM" "$W/err" && ok || bad "toimg .dcm: usage error"
  $T toimg "$IM/im3" "$IM/x.jpg" 2>"$W/err"; [ $? -eq 2 ] && grep -q "extension" "$W/err" && ok || bad "toimg .jpg: usage error"
else
  echo "  (skip the image family vs bart: no bart, numpy, scipy or PIL)"
fi

# the SENSE family (mvtool_sense.c): fakeksp, itsense, pocsense (mv_pocsense) against bart 0.8 and numpy
if command -v bart >/dev/null 2>&1 && "$PY" -c 'import numpy' 2>/dev/null; then
  SE=$W/sense && mkdir -p "$SE"
  nrm() { "$PY" -c "
import numpy as np, sys
a, b = np.fromfile('$1.cfl', np.complex64), np.fromfile('$2.cfl', np.complex64)
e = np.linalg.norm(a - b) / np.linalg.norm(a) if a.shape == b.shape and np.linalg.norm(a) > 0 else 1
sys.exit(0 if e <= $3 else print('relative l2', e) or 1)"; }
  # 32^2 x 4 coils (one ESPIRiT map), 31^2 x 3 (odd), 30^2 x 3 with two maps, 20^3 x 3; each undersampled
  bart phantom -x 32 -k -s 4 "$SE/k32" >/dev/null && bart ecalib -m1 "$SE/k32" "$SE/s32" >/dev/null &&
    bart phantom -x 31 -k -s 3 "$SE/k31" >/dev/null && bart ecalib -m1 "$SE/k31" "$SE/s31" >/dev/null &&
    bart phantom -x 30 -k -s 3 "$SE/k30" >/dev/null && bart ecalib -m2 "$SE/k30" "$SE/s30" >/dev/null &&
    bart phantom -3 -x 20 -k -s 3 "$SE/k20" >/dev/null && bart ecalib -m1 "$SE/k20" "$SE/s20" >/dev/null &&
    bart poisson -Y 20 -Z 20 -y 1.5 -z 1.5 -C 6 "$SE/p20" >/dev/null && bart fmac "$SE/k20" "$SE/p20" "$SE/u20" >/dev/null || bad "sense family: bart's test data"
  for n in 32 31 30; do
    bart upat -Y $n -Z 1 -y 2 -c 6 "$SE/q$n" >/dev/null && bart repmat 0 $n "$SE/q$n" "$SE/p$n" >/dev/null &&
      bart fmac "$SE/k$n" "$SE/p$n" "$SE/u$n" >/dev/null && bart phantom -x $n "$SE/i$n" >/dev/null || bad "sense family: bart's data at $n"
  done
  bart repmat 4 2 "$SE/i30" "$SE/i30" >/dev/null
  # fakeksp: bart's k-space within 1e-6 (its FFT and ours), -r too (the measured samples put back in bart's fftmod'ed domain,
  # so at 30 and 31 they come back turned, as bart's); numpy's centred unitary FFT of the coil images at 32
  for n in 32 31 30; do
    for r in "" "-r"; do
      bart fakeksp $r "$SE/i$n" "$SE/u$n" "$SE/s$n" "$SE/bf" >/dev/null && $T fakeksp $r "$SE/i$n" "$SE/u$n" "$SE/s$n" "$SE/mf" &&
        nrm "$SE/bf" "$SE/mf" 1e-6 && ok || bad "fakeksp $r at $n: not bart fakeksp's"
    done
  done
  $T fakeksp "$SE/i32" "$SE/u32" "$SE/s32" "$SE/mf" && "$PY" - "$SE" <<'PYEOF' && ok || bad "fakeksp: not numpy's centred FFT of the coil images"
import numpy as np, sys
d = sys.argv[1]
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
x, S, m = rd(d + '/i32')[:, :, 0, 0, 0].squeeze(), rd(d + '/s32')[:, :, 0, :, 0].reshape(32, 32, 4, order='F'), rd(d + '/mf').reshape(32, 32, 4, order='F')
ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(S * x[:, :, None], axes=(0, 1)), axes=(0, 1), norm='ortho'), axes=(0, 1))
sys.exit(0 if np.linalg.norm(ref - m) <= 1e-6 * np.linalg.norm(ref) else print(np.linalg.norm(ref - m) / np.linalg.norm(ref)) or 1)
PYEOF
  # itsense: bart's image within 1e-5 (the same CG from the same start; float rounding); numpy's float64 CG on the dense
  # operator with bart's stopping rule at 32
  for n in 32 31 30; do
    bart itsense 0.01 "$SE/s$n" "$SE/u$n" "$SE/p$n" "$SE/bi" >/dev/null && $T itsense 0.01 "$SE/s$n" "$SE/u$n" "$SE/p$n" "$SE/mi" &&
      nrm "$SE/bi" "$SE/mi" 1e-5 && ok || bad "itsense at $n: not bart itsense's"
  done
  bart itsense 0 "$SE/s32" "$SE/u32" "$SE/p32" "$SE/bi" >/dev/null && $T itsense 0 "$SE/s32" "$SE/u32" "$SE/p32" "$SE/mi" && nrm "$SE/bi" "$SE/mi" 1e-5 &&
    ok || bad "itsense 0: not bart itsense's"
  $T itsense 0.01 "$SE/s32" "$SE/u32" "$SE/p32" "$SE/mi" && "$PY" - "$SE" <<'PYEOF' && ok || bad "itsense: not numpy's CG"
import numpy as np, sys
d = sys.argv[1]
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
S, y, P, m = rd(d + '/s32').reshape(32, 32, 4, order='F'), rd(d + '/u32').reshape(32, 32, 4, order='F'), rd(d + '/p32').reshape(32, 32, order='F'), rd(d + '/mi').reshape(32, 32, order='F')
S, y, P = S.astype(complex), y.astype(complex), P.astype(complex)
F = lambda u: np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(u, axes=(0, 1)), axes=(0, 1), norm='ortho'), axes=(0, 1))
Fi = lambda u: np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(u, axes=(0, 1)), axes=(0, 1), norm='ortho'), axes=(0, 1))
A = lambda x: P[:, :, None] * F(S * x[:, :, None])
AH = lambda k: (np.conj(S) * Fi(np.conj(P)[:, :, None] * k)).sum(2)
N = lambda x: AH(A(x)) + 0.01 * x
b = AH(y); x = np.zeros_like(b); r = b.copy(); p = r.copy(); rs = np.vdot(r, r).real; eps2 = (1e-3 * np.linalg.norm(b)) ** 2
for i in range(100):
    Ap = N(p); al = rs / np.vdot(p, Ap).real; x += al * p; r -= al * Ap; rn = np.vdot(r, r).real
    if rn <= eps2: break
    p = r + rn / rs * p; rs = rn
sys.exit(0 if np.linalg.norm(x - m) <= 1e-5 * np.linalg.norm(x) else print(i, np.linalg.norm(x - m) / np.linalg.norm(x)) or 1)
PYEOF
  $T itsense 0.01 "$SE/s20" "$SE/u20" "$SE/p20" "$SE/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "axis 0 has 20 and 1" "$W/err" && ok || bad "itsense, a pattern without the readout: refused (bart asserts)"
  # pocsense: bart's k-space within 1e-5 (default, l2, l1-wavelet, robust; even, odd, two maps, 3D); numpy's POCS (the
  # data scale cancels without a threshold) at 32
  for R in "32|" "32|-r 0.1" "32|-i 20 -r 0.05 -l 1" "32|-i 7 -o 0.01" "31|-i 20 -r 0.05 -l 1" "30|" "30|-r 0.1 -l 2" "20|-i 10 -r 0.02 -l 1" "20|"; do
    IFS='|' read -r n o <<< "$R"
    bart pocsense $o "$SE/u$n" "$SE/s$n" "$SE/bp" >/dev/null && $T pocsense $o "$SE/u$n" "$SE/s$n" "$SE/mp" &&
      nrm "$SE/bp" "$SE/mp" 1e-5 && ok || bad "pocsense $o at $n: not bart pocsense's"
  done
  for o in "" "-r 0.1"; do
    $T pocsense -i 30 $o "$SE/u32" "$SE/s32" "$SE/mp" && "$PY" - "$SE" "${o#-r }" <<'PYEOF' && ok || bad "pocsense -i 30 $o: not numpy's POCS"
import numpy as np, sys
d, al = sys.argv[1], float(sys.argv[2] or 0)
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
S, y, m = rd(d + '/s32').reshape(32, 32, 4, order='F').astype(complex), rd(d + '/u32').reshape(32, 32, 4, order='F').astype(complex), rd(d + '/mp').reshape(32, 32, 4, order='F')
F = lambda u: np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(u, axes=(0, 1)), axes=(0, 1), norm='ortho'), axes=(0, 1))
Fi = lambda u: np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(u, axes=(0, 1)), axes=(0, 1), norm='ortho'), axes=(0, 1))
pat = (np.abs(y) ** 2).sum(2) > 0
x = np.zeros_like(y)
for i in range(30):
    x = np.where(pat[:, :, None], y, x)
    c = Fi(x); x = F(S * (np.conj(S) * c).sum(2)[:, :, None])
    if al: x = x / (1 + al)
sys.exit(0 if np.linalg.norm(x - m) <= 1e-5 * np.linalg.norm(x) else print(np.linalg.norm(x - m) / np.linalg.norm(x)) or 1)
PYEOF
  done
  # estvar (mv_estvar): bart's line on noise (bart noise of variance 1 and 0.25, 2D, 4 coils; 3D), where bart's float Gram
  # matrix keeps its digits; numpy's float64 SVD of bart calmat's matrix against noise drawn by BART's generator
  # (tests/py/estvar_ref.py) on the phantom with noise, where bart's float eigenvalues of the Gram are rounding noise
  bart zeros 4 32 32 1 4 "$SE/z" >/dev/null && bart noise -s 77 -n 1 "$SE/z" "$SE/n1" >/dev/null && bart noise -s 5 -n 0.25 "$SE/z" "$SE/n2" >/dev/null &&
    bart zeros 4 14 14 14 2 "$SE/z3" >/dev/null && bart noise -s 9 "$SE/z3" "$SE/n3" >/dev/null || bad "estvar: bart noise"
  for R in "n1|" "n2|-k 5 -r 20" "n3|-k 3 -r 10"; do
    IFS='|' read -r f o <<< "$R"
    b=$(bart estvar $o "$SE/$f" | awk '{print $4}') && m=$($T estvar $o "$SE/$f" | awk '{print $4}') &&
      awk -v b="$b" -v m="$m" 'BEGIN { d = b - m; if (d < 0) d = -d; exit !(d <= 2e-6 + 2e-5 * b && b > 0) }' && ok || bad "estvar $o $f: $m, bart's $b"
  done
  bart noise -s 3 -n 0.01 "$SE/k32" "$SE/kn" >/dev/null && bart calmat -k 6 -r 24 "$SE/kn" "$SE/cm" >/dev/null &&
    r=$("$PY" tests/py/estvar_ref.py "$SE/cm" 24 24 1 4 6 6 1) && m=$($T estvar "$SE/kn" | awk '{print $4}') &&
    awk -v r="$r" -v m="$m" 'BEGIN { d = r - m; if (d < 0) d = -d; exit !(d <= 2e-6 + 1e-4 * r) }' && ok || bad "estvar of the noisy phantom: $m, numpy's $r"
  $T estvar -k 30 "$SE/kn" 2>"$W/err"; [ $? -eq 1 ] && grep -q "kernel 30 along axis 0" "$W/err" && ok || bad "estvar, a kernel larger than the box: refused"
  # sake (mv_sake): bart's k-space within 2e-4 (bart's float LAPACK SVD each round, medvol's float64 Gram: measured
  # 1e-5 .. 8e-5 after 50 rounds); numpy's float64 SAKE (tests/py/sake_ref.py: numpy's SVD) within 1e-5
  for R in "32|" "32|-s 0.1" "32|-i 20 -o 0.5" "31|-i 30" "30|-i 30 -s 0.3"; do
    IFS='|' read -r n o <<< "$R"
    bart sake $o "$SE/u$n" "$SE/bs" >/dev/null && $T sake $o "$SE/u$n" "$SE/ms" && nrm "$SE/bs" "$SE/ms" 2e-4 && ok || bad "sake $o at $n: not bart sake's"
  done
  for R in "32|20|0.22|1" "31|15|0.3|0.2"; do
    IFS='|' read -r n it al la <<< "$R"
    $T sake -i $it -s $al -o $la "$SE/u$n" "$SE/ms" && e=$("$PY" tests/py/sake_ref.py "$SE/u$n" "$SE/ms" $it $al $la) &&
      awk -v e="$e" 'BEGIN { exit !(e < 1e-5) }' && ok || bad "sake -i $it -s $al -o $la at $n: $e from numpy's"
  done
  $T sake -i 0 "$SE/u32" "$SE/ms" && cmp -s "$SE/u32.cfl" "$SE/ms.cfl" && ok || bad "sake -i 0: the data as they are"
  $T sake -s 1.5 "$SE/u32" "$SE/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "0 .. 1" "$W/err" && ok || bad "sake -s 1.5: usage error"
  # signal: bart's bytes for every model and option set (14 cases); numpy's Look-Locker, TSE and multi-echo formulas
  for o in "" "-I" "-s" "-3 0.1:0.9:4" "-B -I" "-T" "-T -e 0.02 -2 0.03:0.3:5" "-M -b 4 -t 0.5 -n 100" "-G" \
    "-G --fat -0 -50:50:3 -n 12" "-G --fat -e 0.002 -2 0.01:0.1:4" "-F -1 0.2:2:7 -r 0.005 -f 6 -n 50 --av-spokes 3" "-I -n 1" \
    "-M -I -b 5 -t 0.3 -n 40 -1 0.3:1.8:5"; do
    bart signal $o "$SE/bsg" >/dev/null && $T signal $o "$SE/msg" && cmp -s "$SE/bsg.cfl" "$SE/msg.cfl" &&
      [ "$(sed -n 2p "$SE/bsg.hdr" | xargs)" = "$(sed -n 2p "$SE/msg.hdr" | xargs)" ] && ok || bad "signal $o: not bart signal's bytes"
  done
  $T signal -I -1 0.3:2.1:6 -r 0.004 -f 7 -n 60 "$SE/s1" && $T signal -T -2 0.02:0.2:5 -e 0.008 -n 30 "$SE/s2" &&
    $T signal -G -2 0.02:0.08:3 -0 -40:40:4 -e 0.0013 -n 16 "$SE/s3" && "$PY" - "$SE" <<'PYEOF' && ok || bad "signal: not numpy's formulas"
import numpy as np, sys
d = sys.argv[1]
rd = lambda p: np.fromfile(p + '.cfl', np.complex64).reshape([int(x) for x in open(p + '.hdr').read().split('\n')[1].split()], order='F')
ok = True
s1 = rd(d + '/s1').reshape(60, 6, order='F')                      # IR Look-Locker: (measurements, T1s)
T1 = 0.3 + 0.3 * np.arange(6); tr, fa = 0.004, 7 * np.pi / 180; t = np.arange(60)[:, None] * tr
r1s = 1 / T1 - np.log(np.cos(fa)) / tr; mss = 1 / (T1 * r1s)
ok &= np.abs(s1 - (mss - (mss + 1) * np.exp(-t * r1s))).max() < 1e-5
s2 = rd(d + '/s2').reshape(30, 5, order='F')                      # TSE: (echoes, T2s)
T2 = 0.02 + 0.036 * np.arange(5)
ok &= np.abs(s2 - np.exp(-np.arange(30)[:, None] * 0.008 / T2)).max() < 1e-5
s3 = rd(d + '/s3').reshape(16, 3, 4, order='F')                   # water: (echoes, T2s, off-resonances)
T2, f, te = 0.02 + 0.02 * np.arange(3), -40 + 20 * np.arange(4), 0.0013 * np.arange(16)
ref = np.exp((-1 / T2[None, :, None] + 2j * np.pi * f[None, None, :]) * te[:, None, None])
ok &= np.abs(s3 - ref).max() < 1e-5
sys.exit(0 if ok else 1)
PYEOF
  $T signal -B "$SE/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "bSSFP" "$W/err" && ok || bad "signal -B without -I: usage error"
  $T signal -M -b 3 -n 100 "$SE/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "dividing" "$W/err" && ok || bad "signal -M, beats not dividing: usage error"
  $T pocsense -l 3 "$SE/u32" "$SE/s32" "$SE/x" 2>"$W/err"; [ $? -eq 2 ] && grep -q "1 (l1-wavelet) or 2" "$W/err" && ok || bad "pocsense -l 3: usage error"
  $T pocsense "$SE/u32" "$SE/s31" "$SE/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "axis 0 has 32 and 31" "$W/err" && ok || bad "pocsense, maps of another size: refused"
  bart repmat 10 2 "$SE/u32" "$SE/u32t" >/dev/null && $T pocsense "$SE/u32t" "$SE/s32" "$SE/x" 2>"$W/err"; [ $? -eq 1 ] && grep -q "one volume of coils" "$W/err" && ok || bad "pocsense of a series: refused"
else
  echo "  (skip the SENSE family vs bart: no bart or numpy)"
fi

rm -rf "$W"
echo "tools: $pass passed, $fail failed"
[ $fail -eq 0 ]
