#!/bin/bash
# gpu_check.sh - the GPU session in one command (issue 16): build the CUDA half
# for sm_90 on the GPU machine (cudart static; cuFFT static where the toolkit
# has libcufft_static.a), run the host and device tests, compute-sanitizer
# memcheck and racecheck over the device tests, proton_pdd --gpu against the
# CPU (byte for byte) and its operator table against a D2D copy beside the
# CPU's against memcpy, list the kernels the tests launched (ncu, first
# launch of each), and profile_cuda.
#
#   scripts/gpu_check.sh [steps...]     steps: info build test pdd memcheck racecheck
#                                       kernels profile (default: all); also
#                                       synccheck initcheck sol tiles
#   TILES="40x20 40x14"     the tiles step's tiles (x by z cells)
#   OUT=dir  where logs go (the device tool's $OUT; default build-gpu/logs)
#   PROFILE_ARGS="256 20"   profile_cuda's size and iterations
#   SOL_KERNELS, SOL_COUNT, SOL_ID  the kernels the sol step profiles (see there)
#   SAN_FILTER=name         the sanitizer steps run only the test groups whose
#                           name contains it (racecheck of every group: ~200 s)
#   DEADLINE=epoch-seconds  no step runs past it (each step's limit shrinks to
#                           what is left; a step with under 15 s left is
#                           skipped): a lease's device time is short
#
# Each step writes OUT/<step>.log and a line "step: rc=N seconds=S" to
# OUT/summary.txt, which is printed last. A failed step does not stop the rest.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$BUILD/logs}
mkdir -p "$OUT" "$BUILD"
STEPS=${*:-info build test pdd memcheck racecheck kernels profile}
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
export PATH=$PATH:/usr/local/cuda/bin
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
NCU=$(command -v ncu || ls -d /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)

step() { # step NAME TIMEOUT COMMAND...
    local name=$1 limit=$2 t0 rc
    shift 2
    t0=$(date +%s)
    if [ -n "${DEADLINE:-}" ]; then
        if [ $((DEADLINE - t0)) -lt 15 ]; then
            echo "$name: skipped (deadline)" | tee -a "$SUMMARY"
            return
        fi
        [ $((DEADLINE - t0)) -lt "$limit" ] && limit=$((DEADLINE - t0))
    fi
    echo "== $name: $*"
    timeout "$limit" bash -c "$*" >"$OUT/$name.log" 2>&1
    rc=$?
    echo "$name: rc=$rc seconds=$(($(date +%s) - t0))" | tee -a "$SUMMARY"
    tail -n 25 "$OUT/$name.log"
}

cudalib=$(dirname "$(dirname "$(command -v nvcc)")")/lib64
if [ -f "$cudalib/libcufft_static.a" ]; then FFTLIB="-lcufft_static -lculibos"; else FFTLIB="-lcufft"; fi

for s in $STEPS; do
    case $s in
    info) step info 60 "nvidia-smi; nvcc --version; echo cufft: $FFTLIB; echo sanitizer: $SAN; echo ncu: $NCU; nproc; free -g" ;;
    build) step build 400 "make -j16 cuda BUILD=$BUILD XFLAGS=\"-ffp-contract=off -Wno-error\" NVCCFLAGS='-O3 --threads 0' CUDA_FFT_LIB='$FFTLIB' && ldd $BUILD/test_cuda && ls -la $BUILD/test_cuda $BUILD/profile_cuda" ;;
    test) step test 200 "$BUILD/test_cuda_host && $BUILD/test_cuda" ;;
    pdd) step pdd 300 "tests/test_pdd_gpu.sh $BUILD && $BUILD/proton_pdd_gpu --gpu --profile && $BUILD/proton_pdd_gpu --profile" ;;
    memcheck) step memcheck 300 "$SAN --tool memcheck --leak-check full --error-exitcode 3 $BUILD/test_cuda ${SAN_FILTER:-}" ;;
    racecheck) step racecheck 300 "$SAN --tool racecheck --racecheck-report all --error-exitcode 3 $BUILD/test_cuda ${SAN_FILTER:-}" ;;
    synccheck) step synccheck 300 "$SAN --tool synccheck --error-exitcode 3 $BUILD/test_cuda ${SAN_FILTER:-}" ;;
    initcheck) step initcheck 300 "$SAN --tool initcheck --error-exitcode 3 $BUILD/test_cuda ${SAN_FILTER:-}" ;;
    kernels)
        # every mv__cu_ kernel instantiation in the binary against the ones
        # ncu saw launched (ncu profiles each launch of an mv__cu_ kernel with
        # one cheap metric; names mangled so that instantiations compare)
        step kernels 300 "cuobjdump -symbols $BUILD/test_cuda | grep -o '_Z[A-Za-z0-9_]*mv__cu_[A-Za-z0-9_]*' | sort -u >$BUILD/kernels_all.txt;
          $NCU --clock-control none --kernel-name-base mangled --kernel-name regex:mv__cu_ --metrics gpu__time_duration.sum --csv $BUILD/test_cuda >$BUILD/ncu.csv 2>&1;
          python3 scripts/gpu_kernels.py $BUILD/kernels_all.txt $BUILD/ncu.csv" ;;
    sol)
        # where the time goes in the kernels named by SOL_KERNELS (a regex):
        # throughput against peak, memory, warp stalls, occupancy
        # (SOL_ID instead: an ncu --kernel-id, e.g. '::regex:mv__cu_(a|b)_kernel:2'
        # for the second launch of each kernel that matches)
        if [ -n "${SOL_ID:-}" ]; then pick="--kernel-id '$SOL_ID'"
        else pick="-k regex:'${SOL_KERNELS:-mv__cu_(stats_kernel|resample_sep)}' --launch-count ${SOL_COUNT:-2}"; fi
        step sol 200 "$NCU --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats $pick $BUILD/profile_cuda 256 2" ;;
    profile) step profile 300 "$BUILD/profile_cuda ${PROFILE_ARGS:-256 20}" ;;
    tiles)
        # the one-kernel Lie step's time at each tile of TILES (x by z cells,
        # mv_cuda_transport_set_tile; the planner's first, each beside its
        # own D2D copy): proton_pdd's "step, Lie, fused" row, three runs each
        step tiles 300 "for t in planner ${TILES:-40x20 40x14 40x27 40x22 40x16 40x10 40x8 40x7 20x40}; do
          for k in 1 2 3; do if [ \$t = planner ]; then a=''; else a=\"--gpu-tile \$t\"; fi
            $BUILD/proton_pdd_gpu --gpu --profile \$a | grep -A1 'next row' | tr '\\n' ' '; echo; done; done" ;;
    *) echo "unknown step $s" ;;
    esac
done
echo "==== summary"
cat "$SUMMARY"
