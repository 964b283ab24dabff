#!/bin/bash
# test_pdd_gpu.sh BUILD - proton_pdd --gpu (issue 14), run by make test-cuda.
# With a CUDA device: a pencil beam on the device against the same run on
# the CPU (--compare), which must be identical byte for byte (fluence, dose,
# balance: the device path promises the CPU's bits), for Strang fused, Lie
# fused and Lie unfused, with a spot and lateral scattering. Without one:
# the CUDA build must say "no CUDA device" and exit 1 (not crash, not run on
# the CPU as if it were the GPU). (tests/test_tools.sh checks that the CPU
# build refuses --gpu.)
#
# test_pdd_gpu.sh BUILD quick: the first comparison only (make test-cuda-emu
# runs it on the CUDA emulator, where the other two take minutes).
set -u
B=${1:-build}
CASES=("--energy 70 --grid 21,0,36,120" "--energy 100 --spot-sigma 3 --lie" "--energy 70 --lie --unfused --step 0.5")
[ "${2:-}" = quick ] && CASES=("${CASES[0]}")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# shellcheck disable=SC2086
"$B/proton_pdd_gpu" --gpu --compare ${CASES[0]} >"$W/out" 2>"$W/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "no CUDA device" "$W/err"; then
    echo "test_pdd_gpu: SKIPPED the device runs: no CUDA device ($(head -c 200 "$W/err"))"
    exit $fail
fi
first=1
for args in "${CASES[@]}"; do
    # the probe above was the first case: its output stands (under the
    # emulator each run takes ~20 s)
    if [ $first -eq 0 ]; then
        # shellcheck disable=SC2086
        "$B/proton_pdd_gpu" --gpu --compare $args >"$W/out" 2>"$W/err"
        rc=$?
    fi
    first=0
    line=$(grep '^gpu vs cpu:' "$W/out")
    if [ $rc -ne 0 ] || ! echo "$line" | grep -q 'fluence identical.*dose identical.*balance identical'; then
        bad "proton_pdd --gpu --compare $args: rc $rc: ${line:-$(tail -3 "$W/err")}"
    else
        echo "ok: proton_pdd --gpu --compare $args: $line"
        grep '^Bragg peak' "$W/out"
    fi
done
[ $fail -eq 0 ] && echo "test_pdd_gpu: all passed"
exit $fail
