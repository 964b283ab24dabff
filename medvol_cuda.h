/* medvol_cuda.h - v0.2.0 - the CUDA companion of medvol.h - MIT licence (see medvol.h)

   STATUS: run on an NVIDIA H100 (sm_90, CUDA 13.0, 2026-11-22): every kernel
   against the CPU path (tests/test_cuda.cu: 10 groups pass; every kernel and
   template instantiation in the binary launched by them), compute-sanitizer
   memcheck and racecheck clean, profiled (examples/profile_cuda.cu; the
   numbers and the targets missed are in README.md's CUDA section).
   scripts/gpu_check.sh repeats the whole session in one command.
   Without a GPU, `make test-cuda-emu` runs the same GPU test groups on the
   CPU through tests/cuda_emu (a CUDA emulator: launches, barriers, shuffles,
   stream order and copies checked as a GPU would; cuFFT in float64): the
   code written since that H100 session has run there, not yet on a GPU.

   Do this:
      #define MEDVOL_CUDA_IMPLEMENTATION
   before you include this file in *one* .cu file compiled by nvcc (C++17).
   Every other file (C or C++, any compiler) includes it without the define.
   medvol.h's own implementation (MEDVOL_IMPLEMENTATION) may live in a
   different translation unit, compiled by the host C compiler: this file
   uses only medvol.h's public API.

      // gpu.cu, built with: nvcc -O3 -std=c++17 -arch=sm_90 -c gpu.cu
      #define MEDVOL_CUDA_IMPLEMENTATION
      #include "medvol_cuda.h"
      // link with -lcufft (and medvol.h's implementation, -lm -lpthread)

QUICK START

      mv_vol host;                                  // from mv_load, mv_vol_alloc, ...
      mv_cuda_vol d, z;
      cudaStream_t s;  cudaStreamCreate(&s);
      if (mv_cuda_upload(&host, &d, s) != MV_OK)    // allocates d, copies, waits
          fprintf(stderr, "%s\n", mv_last_error()); // "cudaMallocAsync: out of memory ..."
      mv_cuda_znorm(&d, &z, NULL, s);               // stream-ordered, returns at once
      mv_cuda_download(&z, &host_out, s);           // waits for the stream
      mv_cuda_free(&d, s);  mv_cuda_free(&z, s);

TABLE OF CONTENTS (search for the anchors)

      >>cuda-api-types      mv_cuda_vol, the stream type, options
      >>cuda-api-runtime    devices, streams, the plan cache
      >>cuda-api-volume     device volumes, pinned host volumes, upload/download
      >>cuda-api-convert    dtype conversion, statistics
      >>cuda-api-intensity  z-normalize, rescale, clamp
      >>cuda-api-spatial    crop/pad, box, flip, permute, reorient, rot90
      >>cuda-api-resample   nearest, trilinear and cubic B-spline resampling
      >>cuda-api-filter     Gaussian smoothing (the CPU's FIR, bit for bit)
      >>cuda-api-fft        fftshift, BART's fftmod, centred 3D FFT through cuFFT
      >>cuda-api-mri        RSS, sensitivity-weighted coil combination, density compensation
      >>cuda-api-field      displacement fields: warp, compose, smooth, exp, Jacobian, folds, inverse; the demons
                            update (the CPU's bits)
      >>cuda-api-transport  proton transport: operators, Lie / Strang steps, dose, balance
      >>cuda-api-register   metric value + gradient for linear registration (MSE, NCC, Mattes MI, LNCC)
      >>cuda-api-recon      GRAPPA application (cuFFT readouts, the CPU's unmixing sums),
                            Cartesian CG-SENSE (cuFFT normal operator, fixed-order dot products),
                            non-Cartesian CG-SENSE (device NUFFT adjoint, Toeplitz normal operator)
      >>cuda-api-nufft      NUFFT forward / adjoint (types 2 / 1) from the CPU plan, many coils
      >>cuda-impl           implementation (MEDVOL_CUDA_IMPLEMENTATION only)

CONFIGURATION
   MEDVOL_CUDA_IMPLEMENTATION  emit the implementation here (nvcc, C++17)
   MEDVOL_CUDA_DEF             decoration of the public functions (default
                               extern; static under MEDVOL_STATIC)
   The implementation also obeys medvol.h's MEDVOL_STATIC for its own
   functions. Nothing else: no allocator override (device memory comes from
   cudaMallocAsync, pinned host memory from cudaMallocHost).

NAMES
   Public names are mv_cuda_* (functions, types) and MV_CUDA_* (macros): the
   DESIGN's mv_ prefix plus the backend, as sokol names its backends.
   Each mv_cuda_<op> mirrors mv_<op>: same arguments in the same order, the
   same options struct, and the stream last. Kernels are static __global__
   mv__cu_*; no symbol but mv_cuda_* leaves the implementation's object.

STREAMS AND SYNCHRONY
   Every call takes a stream (mv_cuda_stream: the type cudaStream_t names;
   NULL = the legacy default stream) and is stream-ordered: it enqueues
   kernels and returns without waiting, except where its comment says
   "waits" (synchronous uploads and downloads, mv_cuda_compute_stats, which
   returns numbers, mv_cuda_cgsense_into and mv_cuda_cgsense_nc_into, whose
   host reads two scalars per CG iteration). Statistics needed by z-normalize and rescale are
   reduced and turned into coefficients on the device, so those ops never
   wait for the host either. A failure of an enqueued kernel shows up at the
   next call that checks (or at mv_cuda_sync), as CUDA reports it.

ERRORS
   mv_status as medvol.h: MV_ERR_INVALID_ARG / MV_ERR_UNSUPPORTED for bad
   arguments, MV_ERR_CUDA for a failed CUDA or cuFFT call, with the CUDA
   error text as the detail (mv_last_error(): "cudaMallocAsync: out of
   memory (cudaErrorMemoryAllocation)").

MEMORY
   Device volumes are allocated with cudaMallocAsync on the call's stream
   (the stream-ordered pool: no device-wide synchronisation) and freed with
   cudaFreeAsync. _into forms allocate no volume; the reductions of
   z-normalize / rescale / stats take a few KiB of stream-ordered scratch
   (cudaMallocAsync), and intensity or resample outputs that are not float32
   a float32 temporary of the output's size. The centred FFT uses cuFFT's
   work area, held by the cached plan.

THREAD SAFETY AND GLOBAL STATE
   The only global state is the cuFFT plan cache: up to MV_CUDA_PLAN_CACHE
   plans keyed by (device, stream, transform shape), behind a mutex. A plan
   is keyed by its stream because a cuFFT plan's work area may serve one
   stream at a time. Any thread may call any function on its own volumes.

SEMANTICS AND TOLERANCES AGAINST THE CPU PATH (what tests/test_cuda.cu checks)
   - conversion: the CPU's rules exactly (float -> integer half to even or
     truncate, then saturate, NaN -> 0; integer -> integer saturates;
     scaling y = x * slope + inter in float64 without FMA): bit-identical.
     GPU dtypes: u8 i8 u16 i16 u32 i32 u64 i64 f16 bf16 f32 f64 (not f128,
     complex or RGB: MV_ERR_UNSUPPORTED).
   - statistics (count, nan/inf counts, min, max exact; sum and mean within
     1e-12 relative, std within 1e-9 relative): float64 per-thread shifted
     sums, combined by Chan's formula in a fixed order, so the result is
     deterministic for a given GPU model (it depends on the SM count).
   - z-normalize, rescale: voxel v = float32 of the scaled value, then
     ((double)v - c) * s + o in float64, rounded once (no FMA), as the CPU;
     the statistics are float64 sums over those float32 values, as the CPU's.
     Where the values are not float32 numbers (32/64-bit integers, float64,
     a scaling float32 cannot hold exactly: mv_intensity_values_f32 of
     medvol.h decides for both) the statistics and the affine start from
     the float64 value instead, as the CPU's.
     Rescale's min and max are exact, so it should be bit-identical;
     z-normalize's mean and std may differ from the CPU's in the last bits,
     which moves a voxel by at most 1 ulp. Test tolerance: |gpu - cpu| <=
     4 ulp(|cpu|) + 1e-6 (znorm) / 1e-6 * |hi - lo| (rescale). nonzero, mask
     (a device volume), per_frame and known stats as the CPU; percentiles
     (pct_lo/pct_hi): unsupported.
   - clamp, crop_or_pad, crop_pad_box, flip, permute, rot90, reorient,
     fftshift: bit-identical (values are moved, not computed); affines and
     spacings come from medvol.h's own mv_pipeline_geometry, so they are the
     CPU's bits.
   - resample nearest: identical voxel choice (the same float64 coordinate
     arithmetic as the CPU: ((o + u) * s + v) per axis for axis-aligned maps,
     M[a][0] * x + (M[a][1] * y + M[a][2] * z + M[a][3]) otherwise).
     Trilinear: float32 weights and sums as the CPU, but the CPU's separable
     path blends the axes in another order: |gpu - cpu| <= 8 ulp of the
     input's largest magnitude. Cubic (B-spline, scipy order 3): the CPU's
     coefficient path: the float32 prefilter's operations in its order, the
     overflow guard, the taps and blend, so general (non-axis-aligned)
     maps give the CPU's bits (host-checked); axis-aligned maps, which the
     CPU runs through its fused path (another order of sums), agree within
     1e-5 of the data range (host emulation: 2.7e-7). Field warps with
     cubic: the CPU's bits (host-checked; the GPU groups pass on an H200).
   - centred FFT: fftshift(fftn(ifftshift(x))) (inverse: ifftn), ortho,
     through cuFFT; relative RMS error against a float64 DFT <= 1e-5.
     Even lengths: one pass before cuFFT, z[m] = (-1)^(sum m) x[m + n/2]
     times the ortho scale (see mv__cu_shift_sign); odd lengths: phase ramps
     before and after.
   - BART's fftmod (mv_cuda_fftmod): mv_fftmod's rule and rounding, no
     FMA: even lines the CPU's bytes; a factor from a sine or cosine (odd
     lengths, blocks) CUDA's float64 sin / cos: within one float32 ulp of
     the CPU (the emulator's host libm: the CPU's bytes; GPU group
     `fftmod`).
   - RSS and coil combination accumulate in float32 in coil order without
     FMA, as the CPU code under review does: <= 2 ulp.
   - filters (mv_cuda_gaussian, _gaussian_derivative, _box_filter,
     _gradient): the CPU's float32 / float64 arithmetic in its order, no
     FMA, the CPU's method choice (FIR or recursive): the same bits as
     mv_gaussian, mv_gaussian_derivative, mv_box_filter and mv_gradient
     (the FIR host-checked by tests/test_cuda_host.cu; every filter, mode
     and method compared byte for byte by the GPU group `gaussian` of
     tests/test_cuda.cu, run on the emulator in make test and on an H200).
   - the demons update (mv_cuda_demons_update_into) and the field's
     exponential (mv_cuda_field_exp_into): the CPU's float64 operations per
     voxel in its order, no FMA, the MSE's sums in the CPU's row / block
     order: u, the MSE and exp's output are the CPU's bits (host-checked;
     the GPU group `demons` passes on an H200).
   - Jacobian determinants (mv_cuda_field_jacobian_into) and folds
     (mv_cuda_field_folds): the CPU's float64 differences and determinant
     in its order, no FMA: its bits and its count / minimum; the inverse
     (mv_cuda_field_invert_into): the CPU's fixed point and residual sums
     in its order: its field, iterations and residuals bit for bit
     (host-checked; the GPU group `field` passes on an H200).
   - metrics with gradients (mv_cuda_metric_evaluate, MSE, NCC, MI): each
     sample's terms are the CPU's (same samples, jittered ones included,
     the CPU's world -> moving voxel matrix, its float64 trilinear value
     and gradient, its moving-mask test at the nearest voxel); only the
     order of the float64 sums differs: value and gradient within 1e-9
     relative (of the largest gradient component), sample count exact,
     the same bits on every run for a given size; Mattes MI, its joint
     histogram in 64-bit fixed point (deterministic integer atomics):
     1e-6 relative. LNCC: every sum in the CPU's order (a thread per row
     or box line, rows added in order on the host), so the value is the
     CPU's bits and the gradient within 1e-9 of its largest component
     (host emulation: the same bits for both). Host-checked (MSE / NCC
     within 1.1e-13); the GPU groups `metric` and `metric_lncc` pass on an
     H200.
   - proton transport (mv_cuda_transport_*): the CPU's bits (fluence, dose,
     balance; see >>cuda-api-transport; host-checked, and byte for byte on
     an H200 and an H100: the GPU group `transport`, the one-kernel Lie
     step included, and proton_pdd --gpu --compare).
   - GRAPPA application (mv_cuda_grappa_apply_into): acquired lines the
     CPU's bytes; w(x) the CPU's bytes (host-checked against
     mv_grappa_column_weights); predicted samples differ from
     mv_grappa_apply_into only through the readout FFTs (cuFFT against the
     CPU's FFT): max |gpu - cpu| <= 1e-4 max |cpu|, relative RMS <= 1e-5.
     The host emulation with a float64 DFT in cuFFT's place came to 1.5e-7
     of the peak (tests/test_cuda_host.cu); the H200 2.3e-7.
   - Cartesian CG-SENSE (mv_cuda_cgsense_into): the CPU's mask, products and
     float32 coil sums in its order (no FMA; several ESPIRiT maps: the
     CPU's map mixing and per-map sums in its order), cuFFT for its FFTs, CG dot
     products in float64 in a fixed chunk / lane / tree order (the same
     bytes on every run). Against mv_cgsense_into: the same iteration
     counts, image relative RMS <= 1e-5 for regularised or well-conditioned
     solves; unregularised ill-conditioned solves of many iterations drift
     further, as any two float32 CG runs do (5e-4 allowed for 3D R = 2 x 2,
     30 iterations, lambda 0). Host emulation with a float64 DFT: A^H y and
     one normal operator <= 1.7e-7, solves 1e-6 .. 3.9e-6 (5.6e-5 for that
     drift case); the H200 1e-6 .. 2.9e-6 (1.2e-4).
   - NUFFT (mv_cuda_nufft_*): kernel values the CPU plan's bits; the spread
     (tiles into a 64-bit fixed-point grid, or a gather per grid cell for a
     coil with a non-finite sample) and the interpolation sum in another
     order than the CPU and cuFFT rounds differently: relative l2 error
     against mv_nufft_execute <= 1e-5 (host emulation with a float64 DFT:
     1e-7..3e-7), against a float64 NUDFT <= the plan's tol; two runs give
     the same bytes (integer atomics only). Host-checked; the GPU group
     `nufft` passes on an H200.
   - non-Cartesian CG-SENSE (mv_cuda_cgsense_nc_into): the CPU's NUFFT plan
     and Toeplitz kernel (built on the host, uploaded), its conj(S)
     products and float32 coil sums in its order (no FMA), cuFFT on the
     whole 2N grid where the CPU prunes, the Cartesian solve's CG (fixed-
     order float64 dot products: the same bytes on every run). Against
     mv_cgsense_nc_into: the same iteration counts (one more or fewer where
     the tolerance test lands within rounding of its threshold); image
     relative RMS <= 1e-4 for regularised solves. Radial sampling without
     density compensation is ill-conditioned (eigenvalues of A^H A up to
     ~100 at the k-space centre), so the operators' 1e-7 differences grow
     with the iterations; an iterate can also be ill-conditioned in its
     data (the 7th of one 3D case moves 0.9e-3 .. 3.5e-3 when the k-space
     moves by one ulp), so the tests allow 10x the CPU's own spread under
     such a perturbation where that exceeds 1e-4 (2e-3 for a solve stopped
     by its tolerance). Host emulation with a float64 DFT (2D odd, slices,
     frames with their own trajectories, 3D kooshball): A^H y and one normal
     operator 7e-8 .. 1.3e-7, regularised solves 6e-6 .. 2.2e-5, the two
     ill-conditioned cases 1.5e-4 and 2.9e-4; the H200 9e-6 .. 7.8e-5 on
     the regularised cases, 1.0e-4 and 3.7e-4 on the two ill-conditioned
     ones.

NOT YET (each returns MV_ERR_UNSUPPORTED or is absent): the NUFFT's
Toeplitz operator on its own (mv_cuda_cgsense_nc_into applies it inside
the solve; the kernel is made on the host), density compensation
(Pipe-Menon) and pruned FFT passes on the device (the GPU transforms the
whole oversampled or 2N grid), the CG-SENSE solves' items side by side (they solve one
slice or volume at a time, with a host round trip per iteration: fine for
256^2 x 8 coils and up, launch-bound for many small slices), chunked series
(mv_cgsense_run's callbacks), the regularised solves besides l2 (opts.l1_wavelet,
tv, l1_image, nonneg, llr, admm: BART's FISTA and ADMM run in medvol.h's
mv_cgsense only), GRAPPA calibration and g-factor (the
calibration is made on the host by mv_grappa_calibrate), SENSE unfolding,
morphology, percentile rescale,
f128/complex/RGB conversion, in-place fftshift. The proton transport's
fused Lie step on an H100 (2026-11-26, bench/gpu/2026-11-26-h100): one
kernel, 0.165 ms at the baseline grid, 2.44-2.55x a D2D copy of the
fluence over seven runs (median 2.51x) against a target of <= 2.5x (at
it, not under it: the SMs are active 74% of the kernel, 400 blocks on
132 SMs leaving four SMs a fourth block);
the Strang fused step is still three kernels (10.5-11x). Slow rows without
a stated target:
LNCC (13.7 ms at 256^3), cubic resampling (0.02 of memcpy) and the
recursive Gaussian (0.11), whose line kernels run a thread per line. On the H100 (2026-11-22):
the statistics reduction (0.38 of memcpy: latency-bound float64 sums),
z-normalize / rescale (0.46: two reads of the input), trilinear (0.35 of
the output's memcpy: float64 coordinates), the centred FFT (1.33x bare
cuFFT: one pass of its own; a cuFFT LTO load callback would hide it, at
the cost of nvrtc and nvJitLink at run time).

VERSION HISTORY
   next   (2026-11-29) mv_cuda_cgsense_into and mv_cuda_cgsense_nc_into
          on several ESPIRiT maps (sens (x, y, z, C, M), out with the maps
          axis, as the CPU's): the CPU's map mixing and per-map sums;
          checked on the emulator against mv_cgsense_into /
          mv_cgsense_nc_into, not yet run on a GPU.
          (2026-11-26, H100) the one-kernel Lie step timed and sped up:
          its energy-loss loads issued an angle ahead, int offsets from
          the kernel arguments, a thread's cells a template parameter,
          tiles costed in passes (0.247 -> 0.165 ms at the baseline grid,
          3.7x -> 2.5x a D2D copy); every GPU group passes, memcheck of
          `transport` clean, racecheck clean on the versions before and
          after the landed one (same barriers).
          (2026-11-26, H200) every GPU test group run: all pass,
          compute-sanitizer memcheck / racecheck / synccheck clean; the
          NUFFT adjoint spreads by tiles into a 64-bit fixed-point grid
          (20.9 -> 6.7 ms for 256^2 radial x 32 coils) with the per-cell
          gather kept for non-finite coils; the transport's fused kernels
          share a 32-cell x ntheta block (Lie fused 0.61 -> 0.45 ms) and its
          scattering wraps in 32 bits; the sample gather reduces its maximum
          per warp (passes the `nufft` group on an H100; its time not yet
          measured). Before that:
          mv_cuda_gaussian_derivative[_into], mv_cuda_box_filter[_into],
          mv_cuda_gradient[_into] and the recursive Gaussian (the CPU's
          method choice and bits; checked on the emulator, not yet run on
          a GPU); mv_cuda_metric_evaluate: LNCC (the CPU's bits for the value),
          moving masks, jittered samples (host-checked, not yet run on a
          GPU); mv_cuda_gaussian[_into] (exact FIR, every scipy mode; host-checked,
          not yet run on a GPU); mv_cuda_field_warp_into / _compose_into /
          _smooth_into (the CPU's bits; host-checked, not yet run on a GPU);
          mv_cuda_transport_create / _free / _step / _apply (proton
          transport, the CPU's bits; host-checked, not yet run on a GPU);
          mv_cuda_field_exp_into, mv_cuda_demons_update_into (the CPU's bits)
          and mv_cuda_metric_evaluate (MSE, NCC 1e-9 relative; Mattes MI
          1e-6; value + gradient): host-checked, not yet run on a GPU;
          mv_cuda_grappa_apply_into (GRAPPA application: cuFFT readouts,
          w(x) and the unmixing with the CPU's float32 sums; host-checked,
          not yet run on a GPU); mv_cuda_cgsense_into (Cartesian CG-SENSE:
          the CPU's normal operator around cuFFT, CG with fixed-order
          float64 dot products; host-checked, not yet run on a GPU);
          mv_cuda_nufft_plan_create / _execute / _free (NUFFT types 2 and
          1 from the CPU plan via medvol.h's new mv_nufft_get_tables;
          deterministic spread): host-checked, not yet run on a GPU;
          cubic B-spline resampling (mv_cuda_resample_* with
          MV_CUDA_INTERP_CUBIC) and cubic field warps: the CPU's
          prefilter and taps (general maps and warps: its bits in the host
          emulation), host-checked, not yet run on a GPU;
          mv_cuda_field_jacobian_into / mv_cuda_field_folds /
          mv_cuda_field_invert_into (the CPU's bits and numbers;
          host-checked, not yet run on a GPU);
          mv_cuda_cgsense_nc_into (non-Cartesian CG-SENSE, BART pics -l2
          -t: the device NUFFT's adjoint, the Toeplitz normal operator by
          cuFFT on the 2N grid from medvol.h's new
          mv_nufft_toeplitz_get_kernel, the Cartesian solve's CG driver,
          now shared): host-checked, not yet run on a GPU.
   0.2.0  (2026-11-22) first GPU run (H100): float64 first step of the
          intensity ops where medvol.h has one, warp-per-row kernels with
          32-bit row splits, the centred FFT in one pass plus cuFFT, a
          float32 fast path in the statistics; tests over every dtype.
   0.1.0  (2026-11-21) first version: compiled, reviewed, not yet run on a GPU.
*/

#ifndef MEDVOL_CUDA_H_INCLUDED
#define MEDVOL_CUDA_H_INCLUDED

#include "medvol.h"

#if MEDVOL_VERSION_MAJOR != 0
#error "medvol_cuda.h 0.2 was written for medvol.h 0.x: check the API it mirrors before raising this"
#endif
#if defined(MEDVOL_CUDA_IMPLEMENTATION) && !defined(__CUDACC__)
#error "MEDVOL_CUDA_IMPLEMENTATION needs nvcc (a .cu file): the implementation holds CUDA kernels"
#endif

#define MEDVOL_CUDA_VERSION_MAJOR 0
#define MEDVOL_CUDA_VERSION_MINOR 2
#define MEDVOL_CUDA_VERSION_PATCH 0

#ifndef MEDVOL_CUDA_DEF
#define MEDVOL_CUDA_DEF MVDEF
#endif
#define MVCDEF MEDVOL_CUDA_DEF

#ifdef __cplusplus
extern "C" {
#endif

/* >>cuda-api-types ========================================================= */

/* The stream of every call: what cudaStream_t names, so a cudaStream_t
   passes as it is (NULL = the legacy default stream). Plain C: no CUDA
   header is needed to use this file. */
typedef struct CUstream_st *mv_cuda_stream;

/* A volume on the device: an mv_vol whose data pointer is DEVICE memory on
   `device`, with all of mv_vol's metadata (dtype, ndim, dim, spacing,
   affine, scaling, NIfTI fields). vol.meta has no extensions (n_ext 0), no
   gradient table (n_grad 0) and no key/value pairs (n_kv 0).
   Metadata functions of medvol.h (mv_vol_count, mv_vol_bytes,
   mv_orientation, mv_pipeline_geometry) may be given &d.vol; functions that
   touch voxels may not (the pointer is not host memory).
   vol.flags: MV_VOL_OWNED = freed by mv_cuda_free; MV_VOL_BORROWED =
   wrapped caller memory. */
typedef struct mv_cuda_vol {
    mv_vol vol;
    int device;
} mv_cuda_vol;

/* Options of the resampling twins. Written before medvol.h's resampling
   API landed: the fields and values are those of its mv_resample_opts /
   mv_interp, so switching to them is a rename, left for the first session
   that can run these kernels on a GPU (and test the switch). */
enum { MV_CUDA_INTERP_LINEAR = 0, MV_CUDA_INTERP_NEAREST = 1, MV_CUDA_INTERP_CUBIC = 2 };
typedef struct mv_cuda_resample_opts {
    int interp;             /* MV_CUDA_INTERP_LINEAR (default), _NEAREST or _CUBIC */
    int align_corners;      /* scipy zoom grid_mode=False; default keeps the field of view */
    int fill_outside;       /* 0: the edge continues (scipy mode='nearest'); 1: fill */
    double fill;            /* value of outside samples, in the output dtype's units */
    mv_dtype dtype;         /* allocating forms: 0 = float32 (nearest: the input's dtype) */
    mv_round rounding;      /* float -> integer outputs */
    int raw;                /* ignore scl_slope / scl_inter */
} mv_cuda_resample_opts;

/* >>cuda-api-runtime ======================================================= */

/* Number of CUDA devices: MV_OK with *count = 0 when there is no device or
   no driver (the detail then says why). allocates: no. */
MVCDEF mv_status mv_cuda_device_count(int *count);
/* "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB" into buf (cap bytes). */
MVCDEF mv_status mv_cuda_device_describe(int device, char *buf, size_t cap);
/* Waits for the stream; returns the first error of its kernels, if any. */
MVCDEF mv_status mv_cuda_sync(mv_cuda_stream stream);
/* Destroys the cached cuFFT plans no call is using (before cudaDeviceReset,
   or under leak checkers). thread-safe: yes. */
MVCDEF void mv_cuda_plan_cache_clear(void);
#define MV_CUDA_PLAN_CACHE 16

/* >>cuda-api-volume ======================================================== */

/* Empty device volume (no data, identity affine, as mv_vol_init). */
MVCDEF void mv_cuda_vol_init(mv_cuda_vol *d);
/* Allocates a zeroed device volume of the given shape on the current device,
   stream-ordered (cudaMallocAsync + cudaMemsetAsync on stream). */
MVCDEF mv_status mv_cuda_vol_alloc(mv_cuda_vol *d, mv_dtype dt, int ndim, const int64_t *dims, mv_cuda_stream stream);
/* Wraps caller device memory (never freed by medvol). allocates: no. */
MVCDEF mv_status mv_cuda_vol_wrap(mv_cuda_vol *d, void *device_ptr, mv_dtype dt, int ndim, const int64_t *dims);
/* Frees owned device memory stream-ordered (cudaFreeAsync on stream) and
   leaves an empty volume. Safe on an initialised or zeroed volume. */
MVCDEF void mv_cuda_free(mv_cuda_vol *d, mv_cuda_stream stream);

/* Pinned (page-locked) host volume for the asynchronous copies: as
   mv_vol_alloc, but the data comes from cudaMallocHost. Free it with
   mv_cuda_host_free, never mv_free (it is marked borrowed, so mv_free only
   forgets it). */
MVCDEF mv_status mv_cuda_host_alloc(mv_vol *h, mv_dtype dt, int ndim, const int64_t *dims);
MVCDEF void mv_cuda_host_free(mv_vol *h);

/* Host -> device. mv_cuda_upload allocates d with h's metadata (extensions
   dropped) and copies; _into copies into d (same dtype and dims) and leaves
   d's metadata alone. Both wait until the copy is done, so h may change
   right after. _async: h->data must be pinned (mv_cuda_host_alloc or
   cudaHostRegister; MV_ERR_INVALID_ARG otherwise) and must not change until
   the stream reaches the copy. */
MVCDEF mv_status mv_cuda_upload(const mv_vol *h, mv_cuda_vol *d, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_upload_into(const mv_vol *h, mv_cuda_vol *d, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_upload_async(const mv_vol *h, mv_cuda_vol *d, mv_cuda_stream stream);
/* Device -> host: mv_cuda_download allocates h (mv_vol_alloc: free with
   mv_free) with d's metadata; _into copies into h->data (same dtype and
   dims). Both wait. _async as for the upload (h->data pinned; read it after
   the stream is synchronised). */
MVCDEF mv_status mv_cuda_download(const mv_cuda_vol *d, mv_vol *h, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_download_into(const mv_cuda_vol *d, mv_vol *h, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_download_async(const mv_cuda_vol *d, mv_vol *h, mv_cuda_stream stream);

/* >>cuda-api-convert ======================================================= */

/* mv_convert_into / mv_convert on the device: same rules (see the top
   comment); scaling from src->vol.meta with opts->scaled. */
MVCDEF mv_status mv_cuda_convert_into(const mv_cuda_vol *src, mv_cuda_vol *dst, const mv_convert_opts *opts,
                                      mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_convert(const mv_cuda_vol *src, mv_cuda_vol *dst, mv_dtype dtype, const mv_convert_opts *opts,
                                 mv_cuda_stream stream);
/* mv_compute_stats on the device. Waits (the result is host numbers). */
MVCDEF mv_status mv_cuda_compute_stats(const mv_cuda_vol *v, mv_stats *out, const mv_stats_opts *opts,
                                       mv_cuda_stream stream);

/* >>cuda-api-intensity ===================================================== */

/* mv_znorm / mv_rescale / mv_clamp and their _into forms. opts->mask, when
   set, must point at a DEVICE volume's metadata (&mask_dev.vol). pct_lo /
   pct_hi: MV_ERR_UNSUPPORTED. _into: out may be in itself. */
MVCDEF mv_status mv_cuda_znorm(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_intensity_opts *opts,
                               mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_znorm_into(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_intensity_opts *opts,
                                    mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_rescale(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                                 const mv_intensity_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_rescale_into(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                                      const mv_intensity_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_clamp(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                               const mv_intensity_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_clamp_into(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                                    const mv_intensity_opts *opts, mv_cuda_stream stream);

/* >>cuda-api-spatial ======================================================= */

/* The spatial operations of medvol.h: output geometry (dims, affine,
   spacing, metadata) from mv_pipeline_geometry, voxels moved by one gather
   kernel (32 x 32 shared-memory tiles when the output's x comes from another
   input axis). Any dtype; opts->fill as the CPU stores it (complex
   fill + 0i; RGB rounded and clamped to 0..255, alpha 255). Flips of axes
   beyond 2: MV_ERR_UNSUPPORTED.
   _into: out->vol.data is written, and its affine and spacing, nothing
   else; out may not overlap in. */
MVCDEF mv_status mv_cuda_crop_or_pad(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                     const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_crop_or_pad_into(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                          const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_crop_pad_box(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t start[3],
                                      const int64_t size[3], const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_flip(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, const mv_spatial_opts *opts,
                              mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_flip_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes,
                                   const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_permute(const mv_cuda_vol *in, mv_cuda_vol *out, const int perm[3],
                                 const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_permute_into(const mv_cuda_vol *in, mv_cuda_vol *out, const int perm[3],
                                      const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_reorient(const mv_cuda_vol *in, mv_cuda_vol *out, const char *code,
                                  const mv_spatial_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_rot90(const mv_cuda_vol *in, mv_cuda_vol *out, int k, int axis0, int axis1,
                               const mv_spatial_opts *opts, mv_cuda_stream stream);

/* >>cuda-api-resample ====================================================== */

/* scipy.ndimage.zoom to shape[0..2] (0 = keep): output voxel o samples input
   coordinate (o + 0.5) * in/out - 0.5 (align_corners: o * (in-1)/(out-1)).
   The output affine is the input's times the voxel map. Linear and cubic
   resample scaled float32 values into float32 (or opts->dtype); nearest
   copies stored values when the dtype is kept. Cubic is scipy's order-3
   B-spline (mv_resample_* with MV_INTERP_CUBIC): per frame the float32
   prefilter into a coefficient volume of (n0 + 2)(n1 + 2)(n2 + 2) floats
   (device scratch, stream-ordered), edge-continued (fill_outside 0, scipy
   mode 'nearest') or mirrored inside (fill_outside 1), then 4 x 4 x 4
   taps per output voxel (see SEMANTICS for how it matches the CPU).
   Costs: the prefilter's three passes read and write the coefficients
   (the x pass one line per thread, the y and z passes coalesced), one
   read of the frame for the overflow guard's maximum. */
MVCDEF mv_status mv_cuda_resample_shape(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                        const mv_cuda_resample_opts *opts, mv_cuda_stream stream);
/* Caller buffer: out->vol.data (dims: the grid, then the input's other
   dims) sampled at input voxel vox_map * (i, j, k, 1). Writes the data only. */
MVCDEF mv_status mv_cuda_resample_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double vox_map[4][4],
                                       const mv_cuda_resample_opts *opts, mv_cuda_stream stream);

/* >>cuda-api-filter ======================================================= */

/* The filters of medvol.h's >>api-filter on the device, each the CPU's
   result bit for bit for the same arguments and options: values read as
   float32 as the CPU reads them (scaled unless opts->raw), the CPU's
   float32 / float64 operations per output in its order, no FMA
   (tests/test_cuda.cu compares every mode with the CPU byte for byte).
   Every call is stream-ordered; progress is not called (a call is a few
   kernel launches), threads and alloc_ctx are ignored. _into forms: out is
   a float32 device volume of in's dims (the gradient: (X, Y, Z, 3)) and may
   be in itself for a float32 in (not for the gradient). The allocating
   forms allocate out (in's metadata, scaling 1 / 0). Scratch: one device
   volume of float32 per call (stream-ordered), plus for a recursive pass
   (n + 2 margin) floats per line.

   mv_cuda_gaussian[_into]: mv_gaussian (scipy gaussian_filter, every mode,
   truncate, sigma in voxels or mm). The method as the CPU chooses it: the
   exact FIR (weights from mv_gaussian_kernel; a thread per output, taps
   read along x, y or z), or the recursive filter (MV_FILTER_RECURSIVE, or
   AUTO above MV_FILTER_RECURSIVE_SIGMA voxels; constants from
   mv_gaussian_recursive_coefs; a thread per line) with its stated
   accuracy against scipy (MV_FILTER_RECURSIVE_TOL). MV_FILTER_FIR gives
   scipy's exact filter at any sigma (radius up to 4096).
   mv_cuda_gaussian_derivative[_into]: mv_gaussian_derivative (order 0..2
   per axis, always FIR; scipy's pass order z, y, x in the constant mode).
   mv_cuda_box_filter[_into]: mv_box_filter (scipy uniform_filter of size
   2 radius + 1 per axis, float64 running sums along each line, a thread
   per line).
   mv_cuda_gradient[_into]: mv_gradient (numpy.gradient along the voxel
   axes in float64, mapped to RAS mm by inv(A)^T from mv_affine_invert;
   in of ndim <= 3; out (X, Y, Z, 3), intent 1005 for the allocating form). */
MVCDEF mv_status mv_cuda_gaussian_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                       const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_gaussian(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                  const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_gaussian_derivative_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                                  const int order[3], const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_gaussian_derivative(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                             const int order[3], const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_box_filter_into(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t radius[3],
                                         const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_box_filter(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t radius[3],
                                    const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_gradient_into(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_filter_opts *opts,
                                       mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_gradient(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_filter_opts *opts,
                                  mv_cuda_stream stream);

/* >>cuda-api-fft =========================================================== */

/* numpy.fft.fftshift (inverse 0) / ifftshift (inverse 1) over the axes in
   the mask (bits 0..2), any dtype, out of place (out: same dtype and dims;
   in place is MV_ERR_INVALID_ARG). mv_cuda_fftshift allocates out. */
MVCDEF mv_status mv_cuda_fftshift_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                       mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_fftshift(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                  mv_cuda_stream stream);
/* BART's fftmod (inverse 0) / ifftmod (inverse 1) of complex64 over the axes
   in the mask (BART's bitmask, bits 0..15; bits at or past ndim name
   length-1 axes: no change): medvol.h's mv_fftmod on the device, its rule
   and its rounding (BART 0.8's: lines along the lowest modulated axis when
   every axis below it is 1, else blocks; float32 and float64 products
   without FMA). Even lines are mv_fftmod's bytes; where a factor needs a
   sine or cosine (odd lengths, blocks, odd higher axes) CUDA's float64 sin
   and cos (within 2 ulp, not glibc's) can move a result by one float32
   ulp. One thread a sample (its factor computed there: no table). In place
   when out->vol.data == in->vol.data. allocates: no (mv_cuda_fftmod: out). */
MVCDEF mv_status mv_cuda_fftmod_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                     mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_fftmod(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                mv_cuda_stream stream);
/* Centred transform of complex64 volumes over the axes in the mask (a run of
   consecutive bits among 0..2 once axes of length 1 are dropped, e.g. 7, 3,
   6, 1): fftshift(fftn(ifftshift(x))) (inverse: ifftn), ortho scaling (BART
   fft -u), every other axis a batch. In place when out->vol.data ==
   in->vol.data; out of place the input is not modified. allocates: a cuFFT
   plan on a cache miss (kept in the plan cache). */
MVCDEF mv_status mv_cuda_fftc_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                   mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_fftc(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                              mv_cuda_stream stream);

/* >>cuda-api-mri =========================================================== */

/* Layout as BART: dims[0..2] space, dims[3] coils, dims[4..] batch.
   RSS sqrt(sum_c |x_c|^2) of c64 (or f32) into float32 with the coil axis
   removed (out dims (x, y, z, 1, batch...) or (x, y, z, batch...)). */
MVCDEF mv_status mv_cuda_rss_into(const mv_cuda_vol *in, mv_cuda_vol *out, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_rss(const mv_cuda_vol *in, mv_cuda_vol *out, mv_cuda_stream stream);
/* sum_c conj(S_c) x_c / sum_c |S_c|^2 (0 where the denominator is 0):
   img c64 (x, y, z, C, batch...), sens c64 (x, y, z, C), out c64 (x, y, z,
   1 or batch...). */
MVCDEF mv_status mv_cuda_coil_combine_into(const mv_cuda_vol *img, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                           mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_coil_combine(const mv_cuda_vol *img, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                      mv_cuda_stream stream);
/* Density compensation: every c64 k-space sample times the float32 weight
   of its position (weights: the first 1..3 dims of the k-space, shared by
   coils and batch), in place. */
MVCDEF mv_status mv_cuda_kspace_weight(mv_cuda_vol *kspace, const mv_cuda_vol *weights, mv_cuda_stream stream);

/* >>cuda-api-field ========================================================= */

/* Displacement fields on the device, in medvol.h's convention (>>api-field:
   float32 (X,Y,Z,1,3) or (X,Y,1,1,2), intent 1007, LPS mm, moving point =
   p + d(p)); fields are checked with mv_field_check (the data pointer is
   not read on the host). Each computes what its CPU twin computes, with the
   same float64 coordinate arithmetic in the same order, the CPU's taps and
   blend order and no FMA, so results equal the CPU's bit for bit
   (tests/test_cuda_host.cu runs the element functions on the host against
   mv_field_warp_into / mv_field_compose_into; tests/test_cuda.cu runs the
   kernels on a GPU).
   mv_cuda_field_warp_into: mv_field_warp_into (matrix NULL = identity);
   linear into a float32 out (scaled values), nearest into out of the
   moving image's dtype (stored values); cubic into a float32 out (the
   resampler's prefilter per frame, then the CPU's taps: its bits).
   out: a device volume with the field's first three dims and the moving
   image's further dims. mv_cuda_field_compose_into: mv_field_compose_into
   (out(p) = d2(p) + d1(p + d2(p)); out on d2's grid, may be d2, not d1).
   mv_cuda_field_smooth_into: mv_field_smooth_into, i.e. mv_cuda_gaussian_into
   on every component (the CPU's bits, FIR or recursive as the CPU picks).
   Stream-ordered; allocate nothing but the Gaussian's scratch. */
MVCDEF mv_status mv_cuda_field_warp_into(const mv_cuda_vol *moving, const mv_cuda_vol *field, const double matrix[4][4],
                                         mv_cuda_vol *out, const mv_field_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_field_compose_into(const mv_cuda_vol *d1, const mv_cuda_vol *d2, mv_cuda_vol *out,
                                            const mv_field_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_field_smooth_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                           const mv_filter_opts *fopts, mv_cuda_stream stream);
/* mv_field_jacobian_into on the device: det(I + grad d) per voxel into
   out, a float32 device volume of the field's grid (ndim 1..3, not the
   field): the CPU's central differences, LPS -> voxel matrix and
   determinant in float64 in its order without FMA, rounded once: the
   CPU's bits (host-checked). Stream-ordered; allocates nothing.
   mv_cuda_field_folds: mv_field_folds (the voxels with det <= 0 or not
   finite, *min_det the smallest, NaN if one is NaN; may be NULL): the
   CPU's numbers exactly (an integer count, a minimum: any order gives the
   same). Waits for the stream (it returns numbers); allocates a few KiB of
   block partials (stream-ordered). opts: threads / scratch are host
   options (ignored). */
MVCDEF mv_status mv_cuda_field_jacobian_into(const mv_cuda_vol *field, mv_cuda_vol *out, const mv_field_opts *opts,
                                             mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_field_folds(const mv_cuda_vol *field, int64_t *count, double *min_det, const mv_field_opts *opts,
                                     mv_cuda_stream stream);
/* mv_field_invert_into on the device: e_0 = 0, e_{k+1}(p) = -d(p + e_k(p))
   until the largest residual |e(p) + d(p + e(p))| (mm) is at most opts->tol
   (0 = 1e-4 x the smallest spacing) or opts->max_iter updates (0 = 50).
   out: a device field on d's grid, not d. The CPU's float64 operations per
   voxel in its order (no FMA) and its residual sums in its order: out,
   info->iterations, ->max_residual and ->mean_residual are the CPU's bits
   (host-checked). Waits: the host reads the two residuals after every
   step (one synchronisation per step). allocates: one field, a float64 per
   voxel and two per row of scratch (stream-ordered). */
MVCDEF mv_status mv_cuda_field_invert_into(const mv_cuda_vol *d, mv_cuda_vol *out, const mv_field_opts *opts,
                                           mv_field_info *info, mv_cuda_stream stream);

/* mv_field_exp_into on the device (scaling and squaring): out = v / 2^N,
   then N times out = compose(out, out), each squaring the composition
   kernel above, so out equals the CPU's bit for bit. N as the CPU chooses
   it from the largest norm (a max reduction: exact in any order); with
   opts->squarings == 0 the call waits for that one number (N decides the
   launches), with opts->squarings > 0 it is stream-ordered. info (may be
   NULL): squarings. out may be v. allocates: device scratch of one field
   (stream-ordered). */
MVCDEF mv_status mv_cuda_field_exp_into(const mv_cuda_vol *v, mv_cuda_vol *out, const mv_field_opts *opts,
                                        mv_field_info *info, mv_cuda_stream stream);
/* mv_demons_update_into on the device: the demons force u of one iteration
   from the fixed image and the warped moving image (float32 device volumes
   of u's grid), max_step in mm. Per voxel the CPU's float64 arithmetic in
   its order without FMA, so u equals the CPU's bit for bit. mse (host
   pointer, may be NULL): the mean of (F - W)^2 summed as the CPU sums it
   (each row in x order, rows in the CPU's 256 fixed blocks, blocks in
   order), so it too is the CPU's bits; asking for it waits for the stream.
   With mv_cuda_field_smooth_into, mv_cuda_field_exp_into,
   mv_cuda_field_compose_into and mv_cuda_field_warp_into this is one
   iteration of mv_register_demons on the device. allocates: with mse, a
   float64 per row of the grid (stream-ordered). */
MVCDEF mv_status mv_cuda_demons_update_into(const mv_cuda_vol *fixed, const mv_cuda_vol *warped, mv_cuda_vol *u,
                                            double max_step, const mv_field_opts *opts, double *mse,
                                            mv_cuda_stream stream);

/* >>cuda-api-transport ===================================================
   medvol.h's proton transport (>>api-transport) on the device: the same
   operators, splittings and bookkeeping, from the CPU plan's own tables
   (mv_transport_get_tables / _get_stencil), so results are the CPU's bytes:
   every operator is a gather in the CPU's order of float32 products and
   sums without FMA (__fmul_rn / __fadd_rn), each thread owning whole cells
   (no atomics). What is bit-identical to the CPU (tests/test_cuda_host.cu
   checks it on the host over every cell; tests/test_cuda.cu on a GPU):
   - the fluence after each operator, each Lie or Strang step, fused or not;
   - dose: per cell, source bins added in ascending order in float64;
   - mv_transport_balance: per-bin totals summed cell by cell in the CPU's
     order by one thread per bin (and per (bin, angle) for the escaped),
     combined in bin order by one thread: the same float64 operations.
   Layout as the CPU: psi[E][theta][z][x] float32 on the device, dose
   [z][x] float64 (MeV) on the device.
   The fused step (the plan's opts.fused) keeps each cell's angle column in
   shared memory: energy loss and scattering in one kernel, then streaming
   (Strang: streaming and the second half scattering in one kernel, then
   the last half energy loss). Streaming's 2x2 stencil reads other threads'
   cells, so the scattered fluence goes through global memory (L2) once.
   A column must fit 48 KiB of shared memory with 32 threads: ntheta <= 384;
   beyond that the unfused kernels run (same bytes).
   A fused Lie step without bookkeeping (bal NULL) is one kernel instead:
   a block per (energy bin, tile of the plane) takes the tile and the halo
   its streaming reads through energy loss, scattering and streaming angle
   by angle in shared memory, so the fluence is read and written once
   (mv_cuda_transport_set_tiled). It needs the halo'd tile in 1024 cells
   and, with a window of energy-loss planes as wide as the widest
   scattering kernel (at most 64 angles), in 48 KiB: the baseline grid
   (moves of at most one cell, kernels of 3-7 taps) and moves of up to 12
   cells a step tile; moves of 16 cells do not, and take the two kernels,
   as does a fluence over 2^31 values (8 GiB; the kernel's offsets are
   int). On an H100 at the baseline grid it takes 0.165 ms, 2.5x a D2D
   copy of the fluence (the two kernels: 0.45 ms on an H200).
   Costs: bal != NULL adds reads of the fluence (per-bin totals, escaped
   counts), takes the two-kernel fused Lie step (its escaped counts read
   the scattered fluence) and waits for the stream; dose adds a small
   per-cell pass over the theta sums.
   A whole run on these calls, from C: examples/proton_pdd.c with --gpu
   (build/proton_pdd_gpu; --compare checks it against the CPU byte for
   byte). */
typedef struct mv_cuda_transport mv_cuda_transport;

/* A device plan from a CPU plan (the tables are copied: the CPU plan may
   be freed afterwards): uploads the energy-loss gather lists, scattering kernels
   and streaming stencils of the full and the half step, and allocates the
   bookkeeping scratch (ne * nz * nx floats + (3 + ntheta) * ne doubles).
   One step or apply at a time per device plan (the scratch is shared).
   Waits for the uploads. allocates: device memory (cudaMallocAsync). */
MVCDEF mv_status mv_cuda_transport_create(const mv_transport *cpu_plan, mv_cuda_transport **plan,
                                          mv_cuda_stream stream);
MVCDEF void mv_cuda_transport_free(mv_cuda_transport *plan, mv_cuda_stream stream);
/* mv_transport_step on device buffers: *psi the fluence, *work scratch of
   the same size (no overlap); on return *psi points at the new fluence (the
   pointers may be exchanged). dose: device [z][x] float64 to add to, or
   NULL. bal (host memory, may be NULL): the step's bookkeeping; when given
   the call waits for the stream. Stream-ordered otherwise. */
MVCDEF mv_status mv_cuda_transport_step(mv_cuda_transport *plan, float **psi, float **work, double *dose,
                                        mv_transport_balance *bal, mv_cuda_stream stream);
/* Whether fused Lie steps without bookkeeping (bal NULL) run as one kernel
   over tiles of the plane with their streaming halo (on by default when
   the plan's moves and scattering kernels fit a tile, the limits above)
   or as the two fused kernels (energy loss + scattering, then
   streaming) that steps with bookkeeping take. The bytes are the same;
   for comparisons and profiles. MV_ERR_UNSUPPORTED when on and the plan
   does not tile. */
MVCDEF mv_status mv_cuda_transport_set_tiled(mv_cuda_transport *plan, int on);
/* The one-kernel step's tile, tx x tz output cells a block (the plane in
   ceil(nx / tx) x ceil(nz / tz) tiles, the last ones partial), instead of
   the planner's (0, 0: back to it); turns the tiling on. The planner
   takes the tile that evens the blocks out over the device's SMs; this is
   for profiles and tuning (proton_pdd --gpu-tile): the bytes are the same
   for every tile. MV_ERR_UNSUPPORTED when the plan does not tile or this
   tile with its halo does not fit (1024 cells, 48 KiB);
   MV_ERR_INVALID_ARG for sizes below 0 or over the plane's. */
MVCDEF mv_status mv_cuda_transport_set_tile(mv_cuda_transport *plan, int tx, int tz);
/* the tile fused Lie steps without bookkeeping run on: *tx x *tz output
   cells, 0 x 0 when they take the two kernels */
MVCDEF mv_status mv_cuda_transport_get_tile(const mv_cuda_transport *plan, int *tx, int *tz);
/* mv_transport_apply on the device: one operator over a full step,
   in -> out (device, no overlap); dose and bal as for the step. */
MVCDEF mv_status mv_cuda_transport_apply(mv_cuda_transport *plan, mv_transport_op op, const float *in, float *out,
                                         double *dose, mv_transport_balance *bal, mv_cuda_stream stream);

/* >>cuda-api-register ====================================================== */

/* mv_metric_evaluate on the device: the metric value and its gradient with
   respect to t's parameters (grad: t->nparams values, or NULL), for
   MV_METRIC_MSE, MV_METRIC_NCC, MV_METRIC_MI (Mattes, opts->bins) and
   MV_METRIC_LNCC (opts->radius, dense).
   fixed and moving: float32 device volumes (2D or 3D, unscaled: convert
   others with mv_cuda_convert first). Samples as the CPU draws them
   (FULL, STRIDE, RANDOM by the same splitmix64 coin per voxel, AUTO the
   same choice; opts->jitter moves RANDOM's samples to the CPU's seeded
   points with its trilinear fixed values). Masks are device data on their
   image's grid (any real dtype, nonzero = in): opts->fixed_mask = &m.vol
   and opts->moving_mask = &mm.vol of device volumes m, mm (host memory
   there is undefined behaviour, as for any device pointer); the moving
   mask is tested at the mapped point's nearest voxel, as the CPU's. Each
   sample maps through the CPU's own matrix (world -> moving voxel by
   mv_metric_moving_inverse, composed in its order), and its moving value
   and gradient are the CPU's float64 trilinear arithmetic: each sample's
   terms equal the CPU's, only their summation order differs (per thread
   in a fixed grid-stride order, a fixed tree per block, blocks in order,
   float64): value and gradient within 1e-9 relative of
   mv_metric_evaluate (1e-9 of the largest gradient component for the
   gradient); nsamples exact. MI: the ranges are exact min / max, the
   joint histogram is summed in fixed point (64-bit integer atomics: any
   order, the same sum) and the gradient pass reads its log table as the
   CPU's does: within 1e-6 relative. LNCC: the CPU's five local sums,
   box filters and per-centre terms in its float64 order (one thread per
   line or row, no atomics): the value is the CPU's bits, the gradient
   within 1e-9 of its largest component (only the chain to the
   parameters is computed apart); nsamples = the valid voxels. The same
   GPU and sizes give the same bits on every run. MV_ERR_INVALID_ARG:
   NULL value or t, metric, bins, radius (0..64), sampling, fraction,
   stride, a mask off its image's grid (the detail names it), fewer than 2
   samples; MV_ERR_UNSUPPORTED: images not unscaled float32. Waits for
   the stream (it returns numbers). allocates: a few KiB of device partial
   sums (MI: the histogram and its table; LNCC: 72 bytes a fixed voxel and
   96 bytes a row, device and host; stream-ordered). */
MVCDEF mv_status mv_cuda_metric_evaluate(const mv_cuda_vol *fixed, const mv_cuda_vol *moving, const mv_transform *t,
                                         const mv_metric_opts *opts, double *value, double *grad, int64_t *nsamples,
                                         mv_cuda_stream stream);

/* >>cuda-api-recon ========================================================= */

/* GRAPPA application on the device: mv_grappa_apply_into of medvol.h
   (>>api-recon) with a calibration made on the host by mv_grappa_calibrate.
   kspace and out: device c64 (x, y, z, C, batch...), the calibrated dims
   and coils; out may be kspace (in place). The same steps as the CPU, item
   by item (a 2D slice or a 3D volume of one batch volume): lines with a
   nonzero sample in some coil are acquired, the lattice offset is the
   residue class holding most acquired lines, acquired lines are copied
   unchanged (the same bytes), lattice lines not acquired are zero, and the
   rest are predicted in image space: each acquired lattice line's readout
   zero-padded to nxp (mv_grappa_layout) and inverse transformed by cuFFT,
   per column the unmixing weights w(x) made on the device from the k-space
   weights (the CPU's arithmetic and tap values: the same bytes as
   mv_grappa_column_weights), the predicted lines as the CPU's four float32
   partial sums in its source order (lines, then coils; no FMA), and the
   forward transform back. Tolerance against mv_grappa_apply_into: acquired
   and zero lines bit-identical; predicted samples differ only through the
   readout FFTs' rounding (cuFFT against the CPU's FFT): max |gpu - cpu| <=
   1e-4 max |cpu| over the predicted samples, relative RMS <= 1e-5
   (tests/test_cuda.cu, group grappa). Stream-ordered except for the
   weights' upload from host memory (cal's weights, the tap table), which
   returns once the host copy is staged. allocates: stream-ordered scratch
   (all sets' weights, w(x) of one set: nxp x (ns / kernel[0]) x nt
   complex64, one item's padded readouts: nxp x lines x C complex64) and a
   cuFFT plan (kept in the plan cache). MV_ERR_INVALID_ARG: dims or coils
   not those calibrated. */
MVCDEF mv_status mv_cuda_grappa_apply_into(const mv_grappa_calib *cal, const mv_cuda_vol *kspace, mv_cuda_vol *out,
                                           const mv_grappa_opts *opts, mv_cuda_stream stream);

/* Cartesian CG-SENSE on the device: mv_cgsense_into of medvol.h
   (>>api-recon). kspace c64 (x, y, z, C, batch...), sens c64 (x, y, z, C)
   or, with M ESPIRiT maps (BART's pics on ecalib's default two), (x, y, z,
   C, M); out c64 (x, y, z, batch...) for one map, (x, y, z, M, batch...)
   for M (the CPU's layouts: under opts.slices map m of slice z of batch
   volume b at ((b M + m) nz + z), a slice's maps solved in scratch and
   copied there), all device memory. Several maps: the image is M volumes,
   coil c sees sum_m S_cm x_m (map 0's product, then each further map's
   added in map order) and the adjoint gives map m sum_c conj(S_cm) coil_c,
   the CPU's float32 operations in its order (mv__cgs_mix,
   mv__cgs_maps_range); the CG vectors hold the M volumes. opts as the
   CPU's (NULL = defaults; lambda, iterations, tolerance, slices, progress
   are read, threads / chunk / alloc_ctx / nufft_tol only checked). The
   CPU's steps, item by item (a 2D slice with opts.slices, else a 3D
   volume): mask = positions where some coil's sample is nonzero (the CPU's
   rule), b = A^H y, then CG on (A^H A + lambda I) x = b from x = 0, at most
   opts.iterations (0 = 30), stopping when ||r|| <= tolerance ||b||, with
   the normal operator transforming along y (and z) only when the mask is
   constant along x. Every element-wise product and sum is the CPU's
   float32 operation in its order (no FMA); the transforms are cuFFT's, and
   the CG dot products float64 sums in a fixed block order (the same bytes
   on every run; not the CPU's sequential order). Tolerance against
   mv_cgsense_into (tests/test_cuda.cu, group cgsense: 2D multi-slice and
   3D, odd sizes, lambda > 0, tolerance stopping): the same iteration
   counts; image relative RMS <= 1e-5 for regularised or well-conditioned
   solves (cuFFT's rounding against the CPU's FFT carried through the
   iterations; 1e-6 .. 2.5e-6 in the host emulation with a float64 DFT);
   unregularised ill-conditioned solves drift further with the iterations,
   as any two float32 CG runs do (3D R = 2 x 2, lambda 0, 30 iterations:
   5.6e-5 in the emulation; the test allows 5e-4). Two maps (the second
   orthogonal to the first across the coils, as ESPIRiT's): image
   relative RMS per batch volume of both maps <= 2e-5 (the emulation with
   a float64 cuFFT: 1.4e-6 .. 5.1e-6; a second map doubles the unknowns of
   the same samples, so the float32 CG runs part a little faster). Waits: the
   host reads two scalars per iteration (p.Ap and r.r: one stream
   synchronisation each iteration) to test for the stop and to call
   opts.progress, which is called after every iteration of every item with
   (iteration, ||r||), as the CPU calls it when items run one at a time
   (opts.threads 1 or a single item); nonzero cancels: MV_ERR_CANCELLED, out
   holding the cancelled item's last iterate. opts.iterations_done: the sum
   over items. allocates: stream-ordered scratch (C coil images and 3
   image vectors of one item, M volumes each (4 with slices and several
   maps), its mask, a few KiB of partials), cuFFT plans (kept in the plan
   cache). MV_ERR_INVALID_ARG: sens beyond (x, y, z, C, M), out without
   the maps axis for M > 1, other shapes, opts (naming them).
   MV_ERR_UNSUPPORTED: C x item voxels beyond 2^31 - 1 (one 32-bit cuFFT
   plan). thread-safe: yes (opts per call). */
MVCDEF mv_status mv_cuda_cgsense_into(const mv_cuda_vol *kspace, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                      mv_cg_opts *opts, mv_cuda_stream stream);

/* Non-Cartesian CG-SENSE on the device: mv_cgsense_nc_into of medvol.h
   (>>api-recon, BART pics -l2 -t TRAJ): the same arguments, traj in host
   memory (c64 (3, X, Y, 1), or (3, X, Y, 1, d4..d6) one per frame),
   kspace c64 (1, X, Y, C, d4..d6), sens c64 (Nx, Ny, Nz, C) and out c64
   (Nx, Ny, Nz, d4..d6), or with M ESPIRiT maps sens (Nx, Ny, Nz, C, M)
   and out (Nx, Ny, Nz, M, d4..d6), in device memory (several maps as
   mv_cuda_cgsense_into's: coil c's image sum_m S_cm x_m goes through T, the
   adjoint gives each map's volume); opts.slices as the CPU's
   (2D frames, frame i uses sens slice i mod S). opts as the CPU's (NULL =
   defaults; lambda, iterations, tolerance, slices, nufft_tol, progress
   read; threads and alloc_ctx go to the host-side setup; chunk only
   checked). Per trajectory the host builds the CPU's operators
   (mv_nufft_plan_traj, mv_nufft_toeplitz_make with tol opts.nufft_tol or
   1e-4, as mv_cgsense_plan_make) and uploads them (the NUFFT as
   mv_cuda_nufft_plan_create, the Toeplitz kernel from
   mv_nufft_toeplitz_get_kernel), then per frame: b = sum_c conj(S_c)
   NUFFT^H y_c (mv_cuda_nufft_execute), CG on (A^H A + lambda I) x = b from
   x = 0 with A^H A x = sum_c conj(S_c) T(S_c x), T applied by cuFFT on the
   whole 2N grid (zero-pad, forward FFT, times the real kernel, inverse
   FFT, crop; the CPU prunes its FFTs to the padding, the device does not),
   at most opts.iterations (0 = 30), stopping when ||r|| <= tolerance
   ||b||: the Cartesian device solve's driver (float64 dot products in a
   fixed order, alpha and beta rounded to float32 as the CPU). No
   density compensation and no data scaling, as mv_cgsense_nc (BART's
   pics without -S divides by a scale first: mvtool pics does that, and the
   l2 solution is linear in the data). Tolerance against mv_cgsense_nc_into
   (tests/test_cuda.cu, group cgsense_nc: 2D radial with odd sizes, 3D,
   lambda > 0, tolerance stopping, slices, a trajectory per frame): the
   same iteration counts (one more or fewer allowed where the tolerance
   test lands within rounding of its threshold); image relative RMS <=
   1e-4 for regularised solves, 2e-3 for unregularised or deep ones (the
   operators differ by ~1e-7, the NUFFT's and cuFFT's rounding against the
   CPU's, and radial data without density compensation make A^H A + lambda
   ill-conditioned, so the difference grows with the iterations; the host
   emulation with a float64 DFT gives the numbers in SEMANTICS), or 10x
   the CPU's own spread under a one-ulp perturbation of the k-space where
   that is larger (two maps on the emulator: 1.8e-5 .. 9.4e-5 against
   spreads of 2.9e-5 .. 9.3e-5, per frame volume of both maps). Waits: the host
   builds and uploads the operators (once, or once per frame with a
   trajectory per frame) and reads two scalars per iteration; progress
   after every iteration of every frame with (iteration, ||r||), as the
   CPU calls it when frames run one at a time; nonzero cancels:
   MV_ERR_CANCELLED, out holding the cancelled frame's last iterate.
   opts.iterations_done: the sum over frames. allocates: host memory for
   the operators' setup; stream-ordered device memory: C coil images and
   3 image vectors of M volumes (4 with slices and several maps) of one
   frame, the NUFFT plan (>>cuda-api-nufft), the real kernel (4
   bytes per 2N grid cell) and the 2N grids of a coil batch (all coils
   while their grids fit in 1 GiB, else as many as do); cuFFT plans (plan
   cache). Statuses: MV_ERR_INVALID_ARG (shapes, opts, NULL, naming the
   argument), MV_ERR_UNSUPPORTED (not complex64, a 1D image, grids beyond
   32-bit cuFFT plans), MV_ERR_CUDA, MV_ERR_CANCELLED. thread-safe: yes
   (opts per call). */
MVCDEF mv_status mv_cuda_cgsense_nc_into(const mv_vol *traj, const mv_cuda_vol *kspace, const mv_cuda_vol *sens,
                                         mv_cuda_vol *out, mv_cg_opts *opts, mv_cuda_stream stream);

/* >>cuda-api-nufft =========================================================
   medvol.h's NUFFT (>>api-nufft: BART's conventions, unitary scaling,
   forward e^{-i k.x}, DC at N/2, trajectory in grid units) on the device,
   from the CPU plan's own tables (mv_nufft_get_tables): the same kernel
   width, beta, polynomial coefficients, deapodization factors, upsampled
   grid and the plan's sorted point order. 2D and 3D, many coils per call.
   - kernel values: the CPU's float Horner of its polynomials, product and
     sum rounded one by one (__fmul_rn / __fadd_rn), IEEE sqrtf, the same
     (-1)^m fold: the CPU plan's kernel values bit for bit (host-checked).
   - forward (type 2): zero the oversampled grid, place the deapodized
     image in its middle, cuFFT (sign -1, unscaled), then one thread per
     (point, coil) gathers the w^d cells in the CPU's tap order (2D: the
     same float operations as the CPU's row kernel).
   - adjoint (type 1): the coil batch's samples copied into the device
     order, then a spread by tiles into a 64-bit fixed-point grid: one
     block per (bin of 8 cells per axis, coil) covers the bin's padded tile
     (8 + w - 1 cells per axis). 2D: a thread per tile cell sums the bin's
     points that reach it in float, in device order; 3D: the threads add
     the points' terms into the tile in shared memory in fixed point. The
     tile goes into the integer grid, values scaled by 2^e (e per coil
     from its largest |sample|, so that no cell overflows) and rounded
     once; integer sums are associative, so two runs give the same bytes
     whatever the order of the atomics. A coil with a NaN or
     infinite sample is spread as a gather instead (one thread per cell
     sums the points of the bins that reach it, in a fixed order), which
     carries the NaN into the cells as the CPU does. cuFFT (sign +1,
     unscaled), crop and deapodize. Extra memory: 16 bytes per grid cell
     of the coil batch.
   Tolerances (what the tests check): against mv_nufft_execute relative
   l2 error <= 1e-5 (the spread sums otherwise, cuFFT rounds
   differently); against a float64 NUDFT within the plan's tol, as the
   CPU. Device order: the CPU's sorted order, regrouped stably by the bin
   of the first tap. Layout as the CPU: image c64 (Nx, Ny, Nz, coil
   slowest), k-space c64 in the CPU plan's block layout.
   Memory: the grid of one coil batch (coils * prod grid * 8 bytes), the
   batch's sorted samples (coils * npoints * 8), per point 8 + 4 d + 4 d w
   bytes, and cuFFT's plan (the cache of >>cuda-api-runtime). One execution
   at a time per device plan (the grid is the plan's). */
typedef struct mv_cuda_nufft mv_cuda_nufft;

/* A device plan from a CPU plan (tables copied: the CPU plan may be freed
   afterwards). coils: the coil batch one pass runs (grid memory; 0 = the
   CPU plan's opts.coils, at least 8 when that is 1). Waits for the uploads.
   Returns MV_ERR_INVALID_ARG, MV_ERR_SIZE_OVERFLOW, MV_ERR_CUDA.
   allocates: device memory (cudaMallocAsync). */
MVCDEF mv_status mv_cuda_nufft_plan_create(const mv_nufft_plan *cpu_plan, mv_cuda_nufft **plan, int64_t coils,
                                           mv_cuda_stream stream);
MVCDEF void mv_cuda_nufft_plan_free(mv_cuda_nufft *plan, mv_cuda_stream stream);
/* mv_nufft_execute on device buffers: forward (adjoint = 0: image ->
   k-space) or adjoint (1: k-space -> image) of ncoils coils, in and out
   device c64 arrays (image Nx*Ny*Nz*ncoils, k-space npoints*ncoils in the
   block layout), not overlapping. Stream-ordered. */
MVCDEF mv_status mv_cuda_nufft_execute(mv_cuda_nufft *plan, int adjoint, const void *in, void *out, int64_t ncoils,
                                       mv_cuda_stream stream);

#ifdef __cplusplus
}
#endif
#endif /* MEDVOL_CUDA_H_INCLUDED */

/* >>cuda-impl ============================================================== */
#if defined(MEDVOL_CUDA_IMPLEMENTATION) && !defined(MV__CUDA_IMPL_DONE)
#define MV__CUDA_IMPL_DONE

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cufft.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h> /* malloc: host-side block maxima */
#include <stdio.h> /* snprintf: not reached through the CUDA headers with every host compiler */
#include <string.h>
#include <mutex>
#include <type_traits>

/* ---- errors ---------------------------------------------------------------- */

static mv_status mv__cu_fail(cudaError_t e, const char *what)
{
    (void)cudaGetLastError(); /* a launch error is not sticky: clear it for the next call */
    return mv_set_error(MV_ERR_CUDA, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}
#define MV__CU_TRY(call)                                              \
    do {                                                              \
        cudaError_t e_ = (call);                                      \
        if (e_ != cudaSuccess) return mv__cu_fail(e_, #call);         \
    } while (0)
#define MV__CU_CHECK(cond, st, ...)                                   \
    do {                                                              \
        if (!(cond)) return mv_set_error((st), __VA_ARGS__);          \
    } while (0)
#define MV__CU_STRY(expr)                                             \
    do {                                                              \
        mv_status s_ = (expr);                                        \
        if (s_ != MV_OK) return s_;                                   \
    } while (0)

static const char *mv__cufft_str(cufftResult r)
{
    switch (r) {
    case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    default: return "cuFFT error";
    }
}
#define MV__CUFFT_TRY(call)                                                                  \
    do {                                                                                     \
        cufftResult r_ = (call);                                                             \
        if (r_ != CUFFT_SUCCESS) return mv_set_error(MV_ERR_CUDA, "%s: %s (%d)", #call, mv__cufft_str(r_), (int)r_); \
    } while (0)

/* ---- volumes: checks and geometry ----------------------------------------- */

static int64_t mv__cu_dim(const mv_vol *v, int a) { return a < v->ndim ? v->dim[a] : 1; }

static mv_status mv__cu_check_vol(const mv_cuda_vol *d, const char *fn, const char *which)
{
    int a;
    MV__CU_CHECK(d != NULL, MV_ERR_INVALID_ARG, "%s: %s is NULL", fn, which);
    MV__CU_CHECK(d->vol.data != NULL, MV_ERR_INVALID_ARG, "%s: %s has no data", fn, which);
    MV__CU_CHECK(mv_dtype_size(d->vol.dtype) > 0, MV_ERR_INVALID_ARG, "%s: %s dtype %d", fn, which, (int)d->vol.dtype);
    MV__CU_CHECK(d->vol.ndim >= 1 && d->vol.ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG, "%s: %s ndim %d", fn, which,
                 d->vol.ndim);
    for (a = 0; a < d->vol.ndim; a++)
        MV__CU_CHECK(d->vol.dim[a] >= 1, MV_ERR_INVALID_ARG, "%s: %s dim[%d] = %lld", fn, which, a,
                     (long long)d->vol.dim[a]);
    return MV_OK;
}

static int mv__cu_same_dims(const mv_vol *a, const mv_vol *b)
{
    int k;
    for (k = 0; k < MV_MAX_DIMS; k++)
        if (mv__cu_dim(a, k) != mv__cu_dim(b, k)) return 0;
    return 1;
}

/* Device memory of dims x dtype for d, with meta's metadata (no extensions,
   gradients or key/value pairs, no host ownership fields). */
static mv_status mv__cu_alloc_like(mv_cuda_vol *d, const mv_vol *meta, mv_dtype dt, int ndim, const int64_t *dims,
                                   cudaStream_t s)
{
    mv_cuda_vol t;
    size_t bytes;
    void *p = NULL;
    int a, dev = 0;
    t.vol = *meta;
    t.vol.data = NULL;
    t.vol.meta.ext = NULL;
    t.vol.meta.n_ext = 0;
    t.vol.meta.grad = NULL;
    t.vol.meta.n_grad = 0;
    t.vol.meta.kv = NULL;
    t.vol.meta.n_kv = 0;
    t.vol.mem_base = NULL;
    t.vol.mem_size = 0;
    t.vol.alloc_ctx = NULL;
    t.vol.dtype = dt;
    t.vol.ndim = ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) t.vol.dim[a] = a < ndim ? dims[a] : 1;
    bytes = mv_vol_bytes(&t.vol);
    MV__CU_CHECK(bytes > 0 || mv_vol_count(&t.vol) == 0, MV_ERR_SIZE_OVERFLOW, "device volume: size overflows");
    MV__CU_TRY(cudaGetDevice(&dev));
    MV__CU_TRY(cudaMallocAsync(&p, bytes ? bytes : 1, s));
    t.vol.data = p;
    t.vol.flags = MV_VOL_OWNED;
    t.device = dev;
    *d = t;
    return MV_OK;
}

static int mv__cu_is_gpu_real(mv_dtype dt)
{
    switch (dt) {
    case MV_DT_U8: case MV_DT_I8: case MV_DT_U16: case MV_DT_I16: case MV_DT_U32: case MV_DT_I32:
    case MV_DT_U64: case MV_DT_I64: case MV_DT_F16: case MV_DT_BF16: case MV_DT_F32: case MV_DT_F64: return 1;
    default: return 0;
    }
}

static int mv__cu_is_float(mv_dtype dt)
{
    return dt == MV_DT_F16 || dt == MV_DT_BF16 || dt == MV_DT_F32 || dt == MV_DT_F64;
}

/* NIfTI scaling as medvol applies it (slope 0 or non-finite: none; an
   intercept of 0 as -0, so x * slope + inter keeps a negative zero, as
   medvol.h's mv__scaling says). to_float: the values are read as
   get_fdata() and rounded to a float dtype, so a 64-bit integer goes through
   float64 even unscaled (medvol.h's mv__scaling_values). */
static mv_status mv__cu_scaling(const mv_vol *v, int raw, int to_float, int *active, double *slope, double *inter)
{
    double s = v->meta.scl_slope, i = v->meta.scl_inter;
    *active = 0;
    *slope = 1;
    *inter = 0;
    if (raw) return MV_OK;
    if (s == 0 || !isfinite(s)) {
        *active = to_float && (v->dtype == MV_DT_I64 || v->dtype == MV_DT_U64);
        return MV_OK;
    }
    MV__CU_CHECK(isfinite(i), MV_ERR_BAD_HEADER, "scl_slope %g is valid but scl_inter is %g", s, i);
    *slope = s;
    *inter = i == 0.0 ? -0.0 : i;
    *active = !(s == 1.0 && i == 0.0);
    if (to_float && (v->dtype == MV_DT_I64 || v->dtype == MV_DT_U64)) *active = 1;
    return MV_OK;
}

/* Blocks for a grid-stride loop over `work` items: enough to fill the GPU,
   few enough that per-block partials stay small. */
static int mv__cu_blocks(int64_t work, int threads)
{
    int dev = 0, sms = 132;
    int64_t b;
    if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    b = (work + threads - 1) / threads;
    if (b > (int64_t)sms * 8) b = (int64_t)sms * 8;
    return b < 1 ? 1 : (int)b;
}

/* ---- device value rules (the CPU's mv__convert_real_ref, no FMA) ------------ */

/* Products and sums rounded one by one (no FMA contraction) on the device;
   plain operators on the host, where the same functions serve host-side
   checks (x86-64 compilers do not contract unless asked to). */
#ifdef __CUDA_ARCH__
#define MV__CU_FMUL(a, b) __fmul_rn((a), (b))
#define MV__CU_FADD(a, b) __fadd_rn((a), (b))
#define MV__CU_FSUB(a, b) __fsub_rn((a), (b))
#define MV__CU_DMUL(a, b) __dmul_rn((a), (b))
#define MV__CU_DADD(a, b) __dadd_rn((a), (b))
#define MV__CU_DSUB(a, b) __dsub_rn((a), (b))
/* divisions rounded once, as the CPU's (CUDA's `/` is too unless built
   with --use_fast_math; spelled out so the arithmetic reads the same
   everywhere) */
#define MV__CU_FDIV(a, b) __fdiv_rn((a), (b))
#define MV__CU_DDIV(a, b) __ddiv_rn((a), (b))
#else
#define MV__CU_FMUL(a, b) ((a) * (b))
#define MV__CU_FADD(a, b) ((a) + (b))
#define MV__CU_FSUB(a, b) ((a) - (b))
#define MV__CU_DMUL(a, b) ((a) * (b))
#define MV__CU_DADD(a, b) ((a) + (b))
#define MV__CU_DSUB(a, b) ((a) - (b))
#define MV__CU_FDIV(a, b) ((a) / (b))
#define MV__CU_DDIV(a, b) ((a) / (b))
#endif
#define MV__CU_HD __host__ __device__ __forceinline__

template <typename T> struct mv__cu_traits;
#define MV__CU_INT_TRAITS(T, MN, MX)                                                   \
    template <> struct mv__cu_traits<T> {                                              \
        static constexpr bool is_int = true;                                           \
        static MV__CU_HD __int128 lo() { return (__int128)(MN); }                      \
        static MV__CU_HD __int128 hi() { return (__int128)(MX); }                      \
    };
MV__CU_INT_TRAITS(uint8_t, 0, UINT8_MAX)
MV__CU_INT_TRAITS(int8_t, INT8_MIN, INT8_MAX)
MV__CU_INT_TRAITS(uint16_t, 0, UINT16_MAX)
MV__CU_INT_TRAITS(int16_t, INT16_MIN, INT16_MAX)
MV__CU_INT_TRAITS(uint32_t, 0, UINT32_MAX)
MV__CU_INT_TRAITS(int32_t, INT32_MIN, INT32_MAX)
MV__CU_INT_TRAITS(uint64_t, 0, UINT64_MAX)
MV__CU_INT_TRAITS(int64_t, INT64_MIN, INT64_MAX)
#undef MV__CU_INT_TRAITS
template <> struct mv__cu_traits<__half> { static constexpr bool is_int = false; };
template <> struct mv__cu_traits<__nv_bfloat16> { static constexpr bool is_int = false; };
template <> struct mv__cu_traits<float> { static constexpr bool is_int = false; };
template <> struct mv__cu_traits<double> { static constexpr bool is_int = false; };

/* exact for every type but 64-bit integers past 2^53 (rounded once) */
template <typename T> static MV__CU_HD double mv__cu_f64(T x) { return (double)x; }
template <> MV__CU_HD double mv__cu_f64<__half>(__half x) { return (double)__half2float(x); }
template <> MV__CU_HD double mv__cu_f64<__nv_bfloat16>(__nv_bfloat16 x)
{
    return (double)__bfloat162float(x);
}

/* the value a float32 pipeline sees: scaled in float64 and rounded once, or
   the stored value rounded once (integers, float64) */
template <typename T> static MV__CU_HD float mv__cu_value_f32(T x, int scaled, double slope, double inter)
{
    if (scaled) return (float)MV__CU_DADD(MV__CU_DMUL(mv__cu_f64(x), slope), inter);
    if constexpr (mv__cu_traits<T>::is_int) return (float)x; /* cvt.rn: one rounding, 64-bit too */
    else return (float)mv__cu_f64(x);
}
/* the value statistics see: float64 */
template <typename T> static MV__CU_HD double mv__cu_value_f64(T x, int scaled, double slope, double inter)
{
    double v = mv__cu_f64(x);
    return scaled ? MV__CU_DADD(MV__CU_DMUL(v, slope), inter) : v;
}

/* float64 -> D: float types round to nearest; integers: NaN -> 0, round half
   to even (or truncate), saturate */
template <typename D> static MV__CU_HD D mv__cu_from_f64(double x, int truncate)
{
    if constexpr (mv__cu_traits<D>::is_int) {
        if (x != x) return (D)0;
        x = truncate ? trunc(x) : rint(x);
        if (x <= (double)mv__cu_traits<D>::lo()) return (D)mv__cu_traits<D>::lo();
        if (x >= (double)mv__cu_traits<D>::hi()) return (D)mv__cu_traits<D>::hi();
        return (D)x;
    } else if constexpr (std::is_same<D, __half>::value) {
        return __double2half(x);
    } else if constexpr (std::is_same<D, __nv_bfloat16>::value) {
        return __double2bfloat16(x);
    } else {
        return (D)x;
    }
}

/* The CPU's conversion of one element (see mv__convert_real_ref): unscaled
   integers stay exact integers (saturating) or round once to a float type;
   everything else goes through float64. */
template <typename S, typename D>
static MV__CU_HD D mv__cu_convert1(S x, int scaled, double slope, double inter, int truncate)
{
    if constexpr (mv__cu_traits<S>::is_int) {
        if (!scaled) {
            if constexpr (mv__cu_traits<D>::is_int) {
                __int128 v = (__int128)x;
                if (v < mv__cu_traits<D>::lo()) v = mv__cu_traits<D>::lo();
                if (v > mv__cu_traits<D>::hi()) v = mv__cu_traits<D>::hi();
                return (D)v;
            } else if constexpr (std::is_same<D, float>::value || std::is_same<D, double>::value) {
                return (D)x; /* one rounding from the exact integer */
            } else {
                return mv__cu_from_f64<D>((double)x, truncate); /* f16/bf16: via double, as the CPU */
            }
        }
    }
    return mv__cu_from_f64<D>(mv__cu_value_f64(x, scaled, slope, inter), truncate);
}

/* ---- 16-byte packs: how element-wise kernels read and write ---------------- */

/* A thread handles V = 16 / sizeof(S) consecutive elements read with one
   16-byte load (when both arrays are 16-byte aligned: checked on the host),
   and writes them with the widest stores their byte count allows. */
template <typename S> struct mv__cu_pack_len { static constexpr int V = sizeof(S) >= 16 ? 1 : 16 / (int)sizeof(S); };

template <typename T, int V> static __device__ __forceinline__ void mv__cu_load_pack(T (&x)[V], const T *p)
{
    static_assert(sizeof(T) * V == 16, "a pack is 16 bytes");
    uint4 u = *reinterpret_cast<const uint4 *>(p);
    memcpy(x, &u, 16);
}
template <typename T, int V> static __device__ __forceinline__ void mv__cu_store_pack(T *p, const T (&y)[V])
{
    constexpr int B = (int)sizeof(T) * V;
    if constexpr (B % 16 == 0) {
        for (int q = 0; q < B / 16; q++) {
            uint4 u;
            memcpy(&u, reinterpret_cast<const unsigned char *>(y) + 16 * q, 16);
            reinterpret_cast<uint4 *>(p)[q] = u;
        }
    } else if constexpr (B == 8) {
        uint2 u;
        memcpy(&u, y, 8);
        *reinterpret_cast<uint2 *>(p) = u;
    } else if constexpr (B == 4) {
        unsigned u;
        memcpy(&u, y, 4);
        *reinterpret_cast<unsigned *>(p) = u;
    } else {
        for (int k = 0; k < V; k++) p[k] = y[k];
    }
}

/* Row kernels (gathers, flips, resampling, shifts): a block of 8 warps,
   one output row (x) per warp, lanes striding along x; blockIdx.x splits
   only rows long enough to keep every lane busy for 16 elements or more.
   A row index is split into (y, z, frame) once per warp with 32-bit
   divisions where the sizes allow: int64 division is a software routine of
   about 70 instructions, which at one row per 256 threads (the first
   version) bounded these kernels near 0.3 of memcpy on an H100. */
#define MV__CU_ROW_BLOCK dim3(32, 8)
static dim3 mv__cu_row_grid(int64_t n0, int64_t rows)
{
    int64_t bx = (n0 + 32 * 16 - 1) / (32 * 16), by = (rows + 7) / 8;
    return dim3((unsigned)(bx < 1 ? 1 : bx > 64 ? 64 : bx), (unsigned)(by < 1 ? 1 : by > 65535 ? 65535 : by));
}
static __device__ __forceinline__ void mv__cu_split_row(int64_t r, int64_t n1, int64_t n2, int64_t &y, int64_t &z,
                                                        int64_t &f)
{
    if (((uint64_t)r | (uint64_t)n1 | (uint64_t)n2) <= 0xFFFFFFFFull) {
        uint32_t r32 = (uint32_t)r, t = r32 / (uint32_t)n1;
        y = (int64_t)(r32 - t * (uint32_t)n1);
        z = (int64_t)(t % (uint32_t)n2);
        f = (int64_t)(t / (uint32_t)n2);
    } else {
        int64_t t = r / n1;
        y = r - t * n1;
        z = t % n2;
        f = t / n2;
    }
}
#define MV__CU_FOR_ROWS(r, rows) \
    for (int64_t r = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; r < (rows); r += (int64_t)gridDim.y * blockDim.y)

static int mv__cu_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* out[i] = f(in[i], i) over n elements: packs of V while vec, the rest (and
   everything when !vec) one element per thread. out may equal in. */
template <typename S, typename D, typename F>
static __global__ void mv__cu_map_kernel(const S *in, D *out, int64_t n, F f, int vec, int reverse)
{
    constexpr int V = mv__cu_pack_len<S>::V;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
    int64_t done = 0;
    f.begin();
    if (V > 1 && vec) {
        const int64_t npack = n / V;
        for (int64_t q = tid; q < npack; q += nth) {
            const int64_t p = reverse ? npack - 1 - q : q;
            S x[V];
            D y[V];
            mv__cu_load_pack<S, V>(x, in + p * V);
#pragma unroll
            for (int k = 0; k < V; k++) y[k] = f(x[k], p * V + k);
            mv__cu_store_pack<D, V>(out + p * V, y);
        }
        done = npack * V;
    }
    for (int64_t i = done + tid; i < n; i += nth) out[i] = f(in[i], i);
}

/* reverse: walk the packs from the end, for a pass that follows one over
   the same input from the start (the statistics of z-normalize / rescale):
   what that pass read last is still in L2 when this one reads it first. */
template <typename S, typename D, typename F>
static mv_status mv__cu_map(const S *in, D *out, int64_t n, const F &f, cudaStream_t s, int reverse = 0)
{
    const int threads = 256;
    int vec = mv__cu_aligned16(in) && mv__cu_aligned16(out);
    int64_t work = vec ? n / mv__cu_pack_len<S>::V + 1 : n;
    if (n == 0) return MV_OK;
    mv__cu_map_kernel<S, D, F><<<mv__cu_blocks(work, threads), threads, 0, s>>>(in, out, n, f, vec, reverse);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* dtype -> C type, for a switch over the GPU's real dtypes */
#define MV__CU_CASE_REAL(dt, T, ...)                   \
    switch (dt) {                                      \
    case MV_DT_U8: { typedef uint8_t T; __VA_ARGS__; } break;        \
    case MV_DT_I8: { typedef int8_t T; __VA_ARGS__; } break;         \
    case MV_DT_U16: { typedef uint16_t T; __VA_ARGS__; } break;      \
    case MV_DT_I16: { typedef int16_t T; __VA_ARGS__; } break;       \
    case MV_DT_U32: { typedef uint32_t T; __VA_ARGS__; } break;      \
    case MV_DT_I32: { typedef int32_t T; __VA_ARGS__; } break;       \
    case MV_DT_U64: { typedef uint64_t T; __VA_ARGS__; } break;      \
    case MV_DT_I64: { typedef int64_t T; __VA_ARGS__; } break;       \
    case MV_DT_F16: { typedef __half T; __VA_ARGS__; } break;        \
    case MV_DT_BF16: { typedef __nv_bfloat16 T; __VA_ARGS__; } break;\
    case MV_DT_F32: { typedef float T; __VA_ARGS__; } break;         \
    case MV_DT_F64: { typedef double T; __VA_ARGS__; } break;        \
    default: break;                                    \
    }

/* ---- runtime --------------------------------------------------------------- */

MVCDEF mv_status mv_cuda_device_count(int *count)
{
    cudaError_t e;
    MV__CU_CHECK(count != NULL, MV_ERR_INVALID_ARG, "mv_cuda_device_count: count is NULL");
    *count = 0;
    e = cudaGetDeviceCount(count);
    if (e != cudaSuccess) { /* no driver or no device: not an error of the caller's */
        *count = 0;
        (void)cudaGetLastError();
        mv_set_error(MV_OK, "no CUDA device: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    }
    return MV_OK;
}

MVCDEF mv_status mv_cuda_device_describe(int device, char *buf, size_t cap)
{
    cudaDeviceProp p;
    MV__CU_CHECK(buf != NULL && cap > 0, MV_ERR_INVALID_ARG, "mv_cuda_device_describe: no buffer");
    MV__CU_TRY(cudaGetDeviceProperties(&p, device));
    snprintf(buf, cap, "%s, sm_%d%d, %d SMs, %.1f GiB, CUDA runtime %d", p.name, p.major, p.minor,
             p.multiProcessorCount, (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), CUDART_VERSION);
    return MV_OK;
}

MVCDEF mv_status mv_cuda_sync(mv_cuda_stream stream)
{
    MV__CU_TRY(cudaStreamSynchronize(stream));
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* ---- volumes ---------------------------------------------------------------- */

MVCDEF void mv_cuda_vol_init(mv_cuda_vol *d)
{
    if (!d) return;
    mv_vol_init(&d->vol);
    d->device = 0;
}

MVCDEF mv_status mv_cuda_vol_alloc(mv_cuda_vol *d, mv_dtype dt, int ndim, const int64_t *dims, mv_cuda_stream stream)
{
    mv_vol meta;
    int a;
    MV__CU_CHECK(d != NULL && dims != NULL, MV_ERR_INVALID_ARG, "mv_cuda_vol_alloc: NULL argument");
    MV__CU_CHECK(mv_dtype_size(dt) > 0 && ndim >= 1 && ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
                 "mv_cuda_vol_alloc: dtype %d, ndim %d", (int)dt, ndim);
    for (a = 0; a < ndim; a++)
        MV__CU_CHECK(dims[a] >= 1, MV_ERR_INVALID_ARG, "mv_cuda_vol_alloc: dims[%d] = %lld", a, (long long)dims[a]);
    mv_vol_init(&meta);
    MV__CU_STRY(mv__cu_alloc_like(d, &meta, dt, ndim, dims, stream));
    MV__CU_TRY(cudaMemsetAsync(d->vol.data, 0, mv_vol_bytes(&d->vol), stream));
    return MV_OK;
}

MVCDEF mv_status mv_cuda_vol_wrap(mv_cuda_vol *d, void *device_ptr, mv_dtype dt, int ndim, const int64_t *dims)
{
    int a, dev = 0;
    MV__CU_CHECK(d != NULL && dims != NULL && device_ptr != NULL, MV_ERR_INVALID_ARG, "mv_cuda_vol_wrap: NULL argument");
    MV__CU_CHECK(mv_dtype_size(dt) > 0 && ndim >= 1 && ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
                 "mv_cuda_vol_wrap: dtype %d, ndim %d", (int)dt, ndim);
    for (a = 0; a < ndim; a++)
        MV__CU_CHECK(dims[a] >= 1, MV_ERR_INVALID_ARG, "mv_cuda_vol_wrap: dims[%d] = %lld", a, (long long)dims[a]);
    MV__CU_TRY(cudaGetDevice(&dev));
    mv_vol_init(&d->vol);
    d->vol.data = device_ptr;
    d->vol.dtype = dt;
    d->vol.ndim = ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) d->vol.dim[a] = a < ndim ? dims[a] : 1;
    d->vol.flags = MV_VOL_BORROWED;
    d->device = dev;
    return MV_OK;
}

MVCDEF void mv_cuda_free(mv_cuda_vol *d, mv_cuda_stream stream)
{
    if (!d) return;
    if (d->vol.data && (d->vol.flags & MV_VOL_OWNED)) (void)cudaFreeAsync(d->vol.data, stream);
    mv_cuda_vol_init(d);
}

MVCDEF mv_status mv_cuda_host_alloc(mv_vol *h, mv_dtype dt, int ndim, const int64_t *dims)
{
    void *p = NULL;
    int a;
    MV__CU_CHECK(h != NULL && dims != NULL, MV_ERR_INVALID_ARG, "mv_cuda_host_alloc: NULL argument");
    MV__CU_CHECK(mv_dtype_size(dt) > 0 && ndim >= 1 && ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
                 "mv_cuda_host_alloc: dtype %d, ndim %d", (int)dt, ndim);
    for (a = 0; a < ndim; a++)
        MV__CU_CHECK(dims[a] >= 1, MV_ERR_INVALID_ARG, "mv_cuda_host_alloc: dims[%d] = %lld", a, (long long)dims[a]);
    mv_vol_init(h);
    h->dtype = dt;
    h->ndim = ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) h->dim[a] = a < ndim ? dims[a] : 1;
    MV__CU_TRY(cudaMallocHost(&p, mv_vol_bytes(h) ? mv_vol_bytes(h) : 1));
    memset(p, 0, mv_vol_bytes(h));
    h->data = p;
    h->flags = MV_VOL_BORROWED; /* mv_free must not hand it to free() */
    return MV_OK;
}

MVCDEF void mv_cuda_host_free(mv_vol *h)
{
    if (!h) return;
    if (h->data) (void)cudaFreeHost(h->data);
    h->data = NULL;
    mv_free(h);
}

static mv_status mv__cu_check_copy(const mv_vol *h, const mv_cuda_vol *d, const char *fn)
{
    MV__CU_CHECK(h != NULL && h->data != NULL, MV_ERR_INVALID_ARG, "%s: host volume has no data", fn);
    MV__CU_STRY(mv__cu_check_vol(d, fn, "device volume"));
    MV__CU_CHECK(h->dtype == d->vol.dtype && mv__cu_same_dims(h, &d->vol), MV_ERR_INVALID_ARG,
                 "%s: host %s %lldx%lldx%lld..., device %s %lldx%lldx%lld...", fn, mv_dtype_name(h->dtype),
                 (long long)h->dim[0], (long long)mv__cu_dim(h, 1), (long long)mv__cu_dim(h, 2),
                 mv_dtype_name(d->vol.dtype), (long long)d->vol.dim[0], (long long)mv__cu_dim(&d->vol, 1),
                 (long long)mv__cu_dim(&d->vol, 2));
    return MV_OK;
}

static mv_status mv__cu_check_pinned(const void *p, const char *fn)
{
    cudaPointerAttributes at;
    MV__CU_TRY(cudaPointerGetAttributes(&at, p));
    MV__CU_CHECK(at.type == cudaMemoryTypeHost, MV_ERR_INVALID_ARG,
                 "%s: host data is not pinned (mv_cuda_host_alloc or cudaHostRegister it): an async copy from pageable "
                 "memory would not be asynchronous",
                 fn);
    return MV_OK;
}

MVCDEF mv_status mv_cuda_upload_into(const mv_vol *h, mv_cuda_vol *d, mv_cuda_stream stream)
{
    MV__CU_STRY(mv__cu_check_copy(h, d, "mv_cuda_upload_into"));
    MV__CU_TRY(cudaMemcpyAsync(d->vol.data, h->data, mv_vol_bytes(h), cudaMemcpyHostToDevice, stream));
    MV__CU_TRY(cudaStreamSynchronize(stream));
    return MV_OK;
}

MVCDEF mv_status mv_cuda_upload_async(const mv_vol *h, mv_cuda_vol *d, mv_cuda_stream stream)
{
    MV__CU_STRY(mv__cu_check_copy(h, d, "mv_cuda_upload_async"));
    MV__CU_STRY(mv__cu_check_pinned(h->data, "mv_cuda_upload_async"));
    MV__CU_TRY(cudaMemcpyAsync(d->vol.data, h->data, mv_vol_bytes(h), cudaMemcpyHostToDevice, stream));
    return MV_OK;
}

MVCDEF mv_status mv_cuda_upload(const mv_vol *h, mv_cuda_vol *d, mv_cuda_stream stream)
{
    mv_cuda_vol t;
    mv_status st;
    MV__CU_CHECK(h != NULL && d != NULL && h->data != NULL, MV_ERR_INVALID_ARG, "mv_cuda_upload: NULL or empty volume");
    MV__CU_STRY(mv__cu_alloc_like(&t, h, h->dtype, h->ndim, h->dim, stream));
    st = mv_cuda_upload_into(h, &t, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    *d = t;
    return MV_OK;
}

MVCDEF mv_status mv_cuda_download_into(const mv_cuda_vol *d, mv_vol *h, mv_cuda_stream stream)
{
    MV__CU_STRY(mv__cu_check_copy(h, d, "mv_cuda_download_into"));
    MV__CU_TRY(cudaMemcpyAsync(h->data, d->vol.data, mv_vol_bytes(h), cudaMemcpyDeviceToHost, stream));
    MV__CU_TRY(cudaStreamSynchronize(stream));
    return MV_OK;
}

MVCDEF mv_status mv_cuda_download_async(const mv_cuda_vol *d, mv_vol *h, mv_cuda_stream stream)
{
    MV__CU_STRY(mv__cu_check_copy(h, d, "mv_cuda_download_async"));
    MV__CU_STRY(mv__cu_check_pinned(h->data, "mv_cuda_download_async"));
    MV__CU_TRY(cudaMemcpyAsync(h->data, d->vol.data, mv_vol_bytes(h), cudaMemcpyDeviceToHost, stream));
    return MV_OK;
}

MVCDEF mv_status mv_cuda_download(const mv_cuda_vol *d, mv_vol *h, mv_cuda_stream stream)
{
    mv_vol t;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(d, "mv_cuda_download", "device volume"));
    MV__CU_CHECK(h != NULL, MV_ERR_INVALID_ARG, "mv_cuda_download: host volume is NULL");
    MV__CU_STRY(mv_vol_alloc(&t, d->vol.dtype, d->vol.ndim, d->vol.dim, NULL));
    {   /* geometry and metadata of the device volume, t's own memory */
        mv_vol keep = t;
        t = d->vol;
        t.data = keep.data;
        t.flags = keep.flags;
        t.mem_base = keep.mem_base;
        t.mem_size = keep.mem_size;
        t.alloc_ctx = keep.alloc_ctx;
        t.meta.ext = NULL;
        t.meta.n_ext = 0;
        t.meta.grad = NULL;
        t.meta.n_grad = 0;
        t.meta.kv = NULL;
        t.meta.n_kv = 0;
    }
    st = mv_cuda_download_into(d, &t, stream);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    *h = t;
    return MV_OK;
}

/* ---- conversion ------------------------------------------------------------- */

template <typename S, typename D> struct mv__cu_convert_fn {
    int scaled, truncate;
    double slope, inter;
    __device__ void begin() {}
    __device__ D operator()(S x, int64_t) const { return mv__cu_convert1<S, D>(x, scaled, slope, inter, truncate); }
};

/* n elements src (sdt) -> dst (ddt), both GPU real dtypes */
static mv_status mv__cu_convert_n(const void *src, mv_dtype sdt, void *dst, mv_dtype ddt, int64_t n, int scaled,
                                  double slope, double inter, mv_round rounding, cudaStream_t s)
{
    mv_status st = MV_ERR_UNSUPPORTED;
    if (!scaled && sdt == ddt) {
        if (src != dst) MV__CU_TRY(cudaMemcpyAsync(dst, src, (size_t)n * mv_dtype_size(sdt), cudaMemcpyDeviceToDevice, s));
        return MV_OK;
    }
    MV__CU_CASE_REAL(sdt, S, MV__CU_CASE_REAL(ddt, D, {
        mv__cu_convert_fn<S, D> f;
        f.scaled = scaled;
        f.truncate = rounding == MV_ROUND_TRUNCATE;
        f.slope = slope;
        f.inter = inter;
        st = mv__cu_map((const S *)src, (D *)dst, n, f, s);
    }))
    return st;
}

MVCDEF mv_status mv_cuda_convert_into(const mv_cuda_vol *src, mv_cuda_vol *dst, const mv_convert_opts *opts,
                                      mv_cuda_stream stream)
{
    int active = 0;
    double slope = 1, inter = 0;
    mv_round rounding = opts ? opts->rounding : MV_ROUND_NEAREST;
    MV__CU_STRY(mv__cu_check_vol(src, "mv_cuda_convert_into", "src"));
    MV__CU_STRY(mv__cu_check_vol(dst, "mv_cuda_convert_into", "dst"));
    MV__CU_CHECK(mv__cu_same_dims(&src->vol, &dst->vol), MV_ERR_INVALID_ARG, "mv_cuda_convert_into: dims differ");
    MV__CU_CHECK(mv__cu_is_gpu_real(src->vol.dtype) && mv__cu_is_gpu_real(dst->vol.dtype), MV_ERR_UNSUPPORTED,
                 "mv_cuda_convert_into: %s -> %s (the GPU converts u8..i64, f16, bf16, f32, f64)",
                 mv_dtype_name(src->vol.dtype), mv_dtype_name(dst->vol.dtype));
    MV__CU_CHECK(rounding == MV_ROUND_NEAREST || rounding == MV_ROUND_TRUNCATE, MV_ERR_INVALID_ARG,
                 "mv_cuda_convert_into: rounding %d", (int)rounding);
    if (opts && opts->scaled)
        MV__CU_STRY(mv__cu_scaling(&src->vol, 0, mv__cu_is_float(dst->vol.dtype), &active, &slope, &inter));
    return mv__cu_convert_n(src->vol.data, src->vol.dtype, dst->vol.data, dst->vol.dtype, mv_vol_count(&src->vol),
                            active, slope, inter, rounding, stream);
}

MVCDEF mv_status mv_cuda_convert(const mv_cuda_vol *src, mv_cuda_vol *dst, mv_dtype dtype, const mv_convert_opts *opts,
                                 mv_cuda_stream stream)
{
    mv_cuda_vol t;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(src, "mv_cuda_convert", "src"));
    MV__CU_CHECK(dst != NULL, MV_ERR_INVALID_ARG, "mv_cuda_convert: dst is NULL");
    MV__CU_CHECK(mv__cu_is_gpu_real(dtype), MV_ERR_UNSUPPORTED, "mv_cuda_convert: to %s", mv_dtype_name(dtype));
    MV__CU_STRY(mv__cu_alloc_like(&t, &src->vol, dtype, src->vol.ndim, src->vol.dim, stream));
    st = mv_cuda_convert_into(src, &t, opts, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    if (opts && opts->scaled) {
        t.vol.meta.scl_slope = 1.0;
        t.vol.meta.scl_inter = 0.0;
    }
    *dst = t;
    return MV_OK;
}

/* ---- reductions: statistics in float64 -------------------------------------- */

/* Moments of a set of values: count, mean and sum of squared deviations
   (combined by Chan et al.'s formula), plain sum, extremes, NaN/Inf counts. */
struct mv__cu_moments {
    double mean, m2, sum, mn, mx;
    long long n, nan, inf;
};

static MV__CU_HD void mv__cu_moments_zero(mv__cu_moments &m)
{
    m.mean = m.m2 = m.sum = 0;
    m.mn = HUGE_VAL;
    m.mx = -HUGE_VAL;
    m.n = m.nan = m.inf = 0;
}

static MV__CU_HD void mv__cu_moments_merge(mv__cu_moments &a, const mv__cu_moments &b)
{
    long long n = a.n + b.n;
    if (b.n > 0) {
        double d = b.mean - a.mean, fb = (double)b.n / (double)n;
        a.mean = a.n ? a.mean + d * fb : b.mean;
        a.m2 = a.m2 + b.m2 + d * d * (double)a.n * fb;
        a.sum += b.sum;
        a.mn = fmin(a.mn, b.mn);
        a.mx = fmax(a.mx, b.mx);
        a.n = n;
    }
    a.nan += b.nan;
    a.inf += b.inf;
}

/* One thread's running moments: sums of deviations from its first value K,
   which keeps the float64 sums well conditioned without a division per
   element. */
struct mv__cu_accum {
    double K, s, q, sum, mn, mx;
    float mnf, mxf; /* min / max of add_f32's values */
    long long n, nan, inf;
    MV__CU_HD void zero()
    {
        K = s = q = sum = 0;
        mn = HUGE_VAL;
        mx = -HUGE_VAL;
        mnf = HUGE_VALF;
        mxf = -HUGE_VALF;
        n = nan = inf = 0;
    }
    /* a finite value into the shifted sums */
    MV__CU_HD void add_finite(double v)
    {
        if (n == 0) K = v;
        double d = v - K;
        s += d;
        q += d * d;
        sum += v;
        n++;
    }
    MV__CU_HD void add(double v)
    {
        if (v != v) {
            nan++;
            return;
        }
        if (isinf(v)) {
            inf++;
            return;
        }
        add_finite(v);
        mn = fmin(mn, v);
        mx = fmax(mx, v);
    }
    /* a float32 value (the values of 8/16-bit integers, halves and float32
       are float32 numbers): the class tests and min/max in float32, only
       the sums in float64 (the float64 path's extra compares and min/max
       left the reduction issue-bound at 0.34 of memcpy on an H100) */
    MV__CU_HD void add_f32(float f)
    {
        if (f != f) {
            nan++;
            return;
        }
        if (fabsf(f) == HUGE_VALF) {
            inf++;
            return;
        }
        add_finite((double)f);
        mnf = fminf(mnf, f);
        mxf = fmaxf(mxf, f);
    }
    MV__CU_HD mv__cu_moments moments() const
    {
        mv__cu_moments m;
        m.n = n;
        m.nan = nan;
        m.inf = inf;
        m.sum = sum;
        m.mn = fmin(mn, (double)mnf);
        m.mx = fmax(mx, (double)mxf);
        m.mean = n ? K + s / (double)n : 0;
        m.m2 = n ? fmax(q - s * s / (double)n, 0.0) : 0;
        return m;
    }
};

#define MV__CU_RED_THREADS 256

/* The block's moments, tree-combined in a fixed order (deterministic), left
   in sh[0]. */
static __device__ void mv__cu_block_reduce(mv__cu_moments *sh, mv__cu_moments m)
{
    int t = threadIdx.x;
    sh[t] = m;
    __syncthreads();
    for (int w = MV__CU_RED_THREADS / 2; w > 0; w >>= 1) {
        if (t < w) mv__cu_moments_merge(sh[t], sh[t + w]);
        __syncthreads();
    }
}

/* Which voxels the statistics see. */
struct mv__cu_select {
    int nonzero;
    const void *mask;   /* device, any real dtype; NULL = all */
    mv_dtype mask_dt;
    int64_t mask_count; /* voxels of one mask frame (the first three dims) */
};

static __device__ __forceinline__ bool mv__cu_mask_on(const void *m, mv_dtype dt, int64_t i)
{
    switch (dt) {
    case MV_DT_U8: case MV_DT_I8: return ((const uint8_t *)m)[i] != 0;
    case MV_DT_U16: case MV_DT_I16: return ((const uint16_t *)m)[i] != 0;
    case MV_DT_U32: case MV_DT_I32: return ((const uint32_t *)m)[i] != 0;
    case MV_DT_U64: case MV_DT_I64: return ((const uint64_t *)m)[i] != 0;
    case MV_DT_F16: return __half2float(((const __half *)m)[i]) != 0.0f;
    case MV_DT_BF16: return __bfloat162float(((const __nv_bfloat16 *)m)[i]) != 0.0f;
    case MV_DT_F32: return ((const float *)m)[i] != 0.0f;
    case MV_DT_F64: return ((const double *)m)[i] != 0.0;
    default: return true;
    }
}

static __device__ __forceinline__ bool mv__cu_selected(const mv__cu_select &sel, double v, int64_t i)
{
    if (sel.nonzero && v == 0) return false;
    if (sel.mask && !mv__cu_mask_on(sel.mask, sel.mask_dt, i % sel.mask_count)) return false;
    return true;
}

/* The value a statistic sees: float64 (mv_compute_stats, nibabel's
   get_fdata) or the float32 the intensity ops process (f32 = 1), widened. */
template <typename S>
static __device__ __forceinline__ double mv__cu_stat_value(S x, int f32, int scaled, double slope, double inter)
{
    return f32 ? (double)mv__cu_value_f32(x, scaled, slope, inter) : mv__cu_value_f64(x, scaled, slope, inter);
}

/* Types whose stored values are float32 numbers */
template <typename S> struct mv__cu_f32_exact { static constexpr bool value = false; };
template <> struct mv__cu_f32_exact<uint8_t> { static constexpr bool value = true; };
template <> struct mv__cu_f32_exact<int8_t> { static constexpr bool value = true; };
template <> struct mv__cu_f32_exact<uint16_t> { static constexpr bool value = true; };
template <> struct mv__cu_f32_exact<int16_t> { static constexpr bool value = true; };
template <> struct mv__cu_f32_exact<__half> { static constexpr bool value = true; };
template <> struct mv__cu_f32_exact<__nv_bfloat16> { static constexpr bool value = true; };
template <> struct mv__cu_f32_exact<float> { static constexpr bool value = true; };

/* The value of x as a statistic sees it, accumulated: F32V (f32, or an
   unscaled type of float32 values) through the float32 fast path. */
template <bool F32V, typename S>
static __device__ __forceinline__ void mv__cu_stat_add(mv__cu_accum &acc, S x, int f32, int scaled, double slope,
                                                       double inter, bool all, const mv__cu_select &sel, int64_t i)
{
    if constexpr (F32V) {
        float fv = mv__cu_value_f32(x, scaled, slope, inter);
        if (all || mv__cu_selected(sel, (double)fv, i)) acc.add_f32(fv);
    } else {
        double v = mv__cu_stat_value(x, f32, scaled, slope, inter);
        if (all || mv__cu_selected(sel, v, i)) acc.add(v);
    }
}

/* Pass 1: one mv__cu_moments per block into part[blockIdx.x]. */
template <bool F32V, typename S>
static __global__ void __launch_bounds__(256, 4) mv__cu_stats_kernel(const S *in, int64_t n, int f32, int scaled,
                                                                     double slope, double inter, mv__cu_select sel,
                                                                     int vec, mv__cu_moments *part)
{
    __shared__ mv__cu_moments sh[MV__CU_RED_THREADS];
    constexpr int V = mv__cu_pack_len<S>::V;
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
    const bool all = !sel.nonzero && !sel.mask;
    int64_t done = 0;
    mv__cu_accum acc;
    acc.zero();
    if (V > 1 && vec) {
        /* U packs loaded before any is summed: a thread keeps U 16-byte loads
           in flight instead of waiting on each (one at a time, the float64
           chain per pack left the reduction at 0.35 of memcpy on an H100) */
        constexpr int U = 4;
        const int64_t npack = n / V;
        int64_t p = tid;
        for (; p + (U - 1) * nth < npack; p += U * nth) {
            S x[U][V];
#pragma unroll
            for (int u = 0; u < U; u++) mv__cu_load_pack<S, V>(x[u], in + (p + u * nth) * V);
#pragma unroll
            for (int u = 0; u < U; u++)
#pragma unroll
                for (int k = 0; k < V; k++)
                    mv__cu_stat_add<F32V>(acc, x[u][k], f32, scaled, slope, inter, all, sel, (p + u * nth) * V + k);
        }
        for (; p < npack; p += nth) {
            S x[V];
            mv__cu_load_pack<S, V>(x, in + p * V);
#pragma unroll
            for (int k = 0; k < V; k++) mv__cu_stat_add<F32V>(acc, x[k], f32, scaled, slope, inter, all, sel, p * V + k);
        }
        done = npack * V;
    }
    for (int64_t i = done + tid; i < n; i += nth) mv__cu_stat_add<F32V>(acc, in[i], f32, scaled, slope, inter, all, sel, i);
    mv__cu_block_reduce(sh, acc.moments());
    if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}

/* What the statistics become: an affine map y = (x - c) * s + o. */
enum { MV__CU_COEF_NONE = 0, MV__CU_COEF_ZNORM, MV__CU_COEF_RESCALE };
struct mv__cu_coef {
    double c, s, o;
    mv__cu_moments total;
};

/* Pass 2 (one block): combine the block partials in index order and turn
   them into the coefficients of the op, exactly as the CPU's plan does. */
static __global__ void mv__cu_stats_final(const mv__cu_moments *part, int nparts, int kind, double lo, double hi,
                                   mv__cu_coef *coef)
{
    __shared__ mv__cu_moments sh[MV__CU_RED_THREADS];
    mv__cu_moments m;
    mv__cu_moments_zero(m);
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) mv__cu_moments_merge(m, part[i]);
    mv__cu_block_reduce(sh, m);
    if (threadIdx.x != 0) return;
    m = sh[0];
    coef->total = m;
    coef->c = 0;
    coef->s = 0;
    coef->o = 0;
    if (kind == MV__CU_COEF_ZNORM) {
        double sd = m.n > 0 ? sqrt(m.m2 / (double)m.n) : 0, mean = m.n > 0 ? m.mean : 0;
        coef->c = isfinite(mean) ? mean : 0;
        coef->s = sd > 0 && isfinite(sd) ? 1.0 / sd : 0.0; /* std 0 (or no voxel): zeros */
    } else if (kind == MV__CU_COEF_RESCALE) {
        double mn = m.n ? m.mn : 0, mx = m.n ? m.mx : 0, span = mx - mn;
        coef->c = isfinite(mn) ? mn : 0;
        coef->s = span > 0 && isfinite(span) ? (hi - lo) / span : 0.0; /* constant input: lo */
        coef->o = lo;
    }
}

/* The float32 fast path for types of float32 values (unscaled, or f32:
   the float32 of the scaled value); float64 otherwise. Types of other
   values never take the fast path (f32 with them does not occur: the
   intensity ops take their statistics in float64, see mv_intensity_values_f32),
   so their fast-path kernels are not instantiated. */
template <typename S>
static void mv__cu_launch_stats(int blocks, int threads, cudaStream_t s, const S *data, int64_t n, int f32, int scaled,
                                double slope, double inter, const mv__cu_select &sel, int vec, mv__cu_moments *part)
{
    if constexpr (mv__cu_f32_exact<S>::value) {
        if (f32 || !scaled) {
            mv__cu_stats_kernel<true, S><<<blocks, threads, 0, s>>>(data, n, f32, scaled, slope, inter, sel, vec, part);
            return;
        }
    }
    mv__cu_stats_kernel<false, S><<<blocks, threads, 0, s>>>(data, n, f32, scaled, slope, inter, sel, vec, part);
}

/* Statistics of n values at data into *coef (device), stream-ordered.
   scratch: stream-ordered, freed on the stream after the final kernel. */
static mv_status mv__cu_stats_to(const void *data, mv_dtype dt, int64_t n, int f32, int scaled, double slope,
                                 double inter, const mv__cu_select &sel, int kind, double lo, double hi,
                                 mv__cu_coef *coef, cudaStream_t s)
{
    const int threads = MV__CU_RED_THREADS;
    int vec = mv__cu_aligned16(data), blocks = mv__cu_blocks(n, threads);
    mv__cu_moments *part = NULL;
    mv_status st = MV_ERR_UNSUPPORTED;
    MV__CU_TRY(cudaMallocAsync((void **)&part, sizeof(mv__cu_moments) * (size_t)blocks, s));
    MV__CU_CASE_REAL(dt, S, {
        mv__cu_launch_stats<S>(blocks, threads, s, (const S *)data, n, f32, scaled, slope, inter, sel, vec, part);
        st = MV_OK;
    })
    if (st == MV_OK) {
        cudaError_t e = cudaGetLastError();
        if (e == cudaSuccess) {
            mv__cu_stats_final<<<1, threads, 0, s>>>(part, blocks, kind, lo, hi, coef);
            e = cudaGetLastError();
        }
        if (e != cudaSuccess) st = mv__cu_fail(e, "statistics kernels");
    } else {
        st = mv_set_error(MV_ERR_UNSUPPORTED, "statistics of %s on the GPU", mv_dtype_name(dt));
    }
    (void)cudaFreeAsync(part, s);
    return st;
}

MVCDEF mv_status mv_cuda_compute_stats(const mv_cuda_vol *v, mv_stats *out, const mv_stats_opts *opts,
                                       mv_cuda_stream stream)
{
    mv__cu_coef *coef = NULL, host;
    mv__cu_select sel;
    int active = 0;
    double slope = 1, inter = 0;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(v, "mv_cuda_compute_stats", "volume"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_cuda_compute_stats: out is NULL");
    MV__CU_CHECK(mv__cu_is_gpu_real(v->vol.dtype), MV_ERR_UNSUPPORTED, "mv_cuda_compute_stats: %s",
                 mv_dtype_name(v->vol.dtype));
    MV__CU_STRY(mv__cu_scaling(&v->vol, opts && opts->raw, 0, &active, &slope, &inter));
    memset(&sel, 0, sizeof(sel));
    MV__CU_TRY(cudaMallocAsync((void **)&coef, sizeof(*coef), stream));
    st = mv__cu_stats_to(v->vol.data, v->vol.dtype, mv_vol_count(&v->vol), 0, active, slope, inter, sel,
                         MV__CU_COEF_NONE, 0, 0, coef, stream);
    if (st == MV_OK) {
        cudaError_t e = cudaMemcpyAsync(&host, coef, sizeof(host), cudaMemcpyDeviceToHost, stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
        if (e != cudaSuccess) st = mv__cu_fail(e, "mv_cuda_compute_stats");
    }
    (void)cudaFreeAsync(coef, stream);
    if (st != MV_OK) return st;
    out->count = host.total.n;
    out->nan_count = host.total.nan;
    out->inf_count = host.total.inf;
    out->sum = host.total.sum;
    out->mean = host.total.n ? host.total.mean : 0;
    out->std = host.total.n ? sqrt(host.total.m2 / (double)host.total.n) : 0;
    out->min = host.total.n ? host.total.mn : 0;
    out->max = host.total.n ? host.total.mx : 0;
    return MV_OK;
}

/* ---- intensity -------------------------------------------------------------- */

/* The per-voxel function of z-normalize, rescale and clamp, as the CPU's
   element ops: v = the float32 value; affine (skipping zeros with nonzero):
   ((double)v - c) * s + o rounded once; then the clamp, NaN passing. wide
   (values float32 cannot hold, see mv_intensity_values_f32): the affine
   starts from the float64 value instead, y = float32((v64 - c) * s + o). */
template <typename S> struct mv__cu_intensity_fn {
    int scaled, affine, nonzero, clamp, wide;
    double slope, inter, c, s, o;
    float lo, hi;
    const mv__cu_coef *coef; /* device coefficients (NULL: c, s, o as given) */
    __device__ void begin()
    {
        if (coef) {
            c = coef->c;
            s = coef->s;
            o = coef->o;
        }
    }
    __device__ float operator()(S x, int64_t) const
    {
        float v;
        if (wide && affine) {
            double v64 = mv__cu_value_f64(x, scaled, slope, inter);
            v = nonzero && v64 == 0 ? (float)v64 : (float)__dadd_rn(__dmul_rn(__dsub_rn(v64, c), s), o);
        } else {
            v = mv__cu_value_f32(x, scaled, slope, inter);
            if (affine && !(nonzero && v == 0)) v = (float)__dadd_rn(__dmul_rn(__dsub_rn((double)v, c), s), o);
        }
        if (clamp) {
            v = lo > v ? lo : v;
            v = hi < v ? hi : v;
        }
        return v;
    }
};

enum { MV__CU_OP_ZNORM = 1, MV__CU_OP_RESCALE, MV__CU_OP_CLAMP };

/* One 3D frame (or the whole volume) of an intensity op into float32 out. */
static mv_status mv__cu_intensity_run(const void *in, mv_dtype dt, int64_t n, float *out, int op, double lo, double hi,
                                      const mv_intensity_opts *o, int scaled, double slope, double inter, int wide,
                                      const mv__cu_select &sel, mv__cu_coef *coef, cudaStream_t s)
{
    mv_status st = MV_ERR_UNSUPPORTED;
    int kind = op == MV__CU_OP_ZNORM ? MV__CU_COEF_ZNORM : MV__CU_COEF_RESCALE;
    double c = 0, sc = 0, off = 0;
    int on_device = 0;
    if (op != MV__CU_OP_CLAMP) {
        if (o->stats) { /* known statistics: the coefficients on the host, as the CPU */
            if (op == MV__CU_OP_ZNORM) {
                c = isfinite(o->stats->mean) ? o->stats->mean : 0;
                sc = o->stats->std > 0 && isfinite(o->stats->std) ? 1.0 / o->stats->std : 0.0;
            } else {
                double span = o->stats->max - o->stats->min;
                c = isfinite(o->stats->min) ? o->stats->min : 0;
                sc = span > 0 && isfinite(span) ? (hi - lo) / span : 0.0;
                off = lo;
            }
        } else {
            /* statistics of the values the op transforms (float32, or
               float64 when wide), as the CPU */
            MV__CU_STRY(mv__cu_stats_to(in, dt, n, !wide, scaled, slope, inter, sel, kind, lo, hi, coef, s));
            on_device = 1;
        }
    }
    MV__CU_CASE_REAL(dt, S, {
        mv__cu_intensity_fn<S> f;
        f.scaled = scaled;
        f.slope = slope;
        f.inter = inter;
        f.affine = op != MV__CU_OP_CLAMP;
        f.wide = wide;
        f.nonzero = sel.nonzero;
        f.c = c;
        f.s = sc;
        f.o = off;
        f.coef = on_device ? coef : NULL;
        f.clamp = op == MV__CU_OP_CLAMP || (op == MV__CU_OP_RESCALE && o->clip);
        f.lo = (float)(op == MV__CU_OP_CLAMP ? lo : fmin(lo, hi));
        f.hi = (float)(op == MV__CU_OP_CLAMP ? hi : fmax(lo, hi));
        st = mv__cu_map((const S *)in, out, n, f, s, on_device);
    })
    return st;
}

/* z-normalize and rescale read the input twice (the statistics, then the
   write): 3 units of traffic where memcpy moves 2, so ~0.67 of memcpy's
   throughput is their ceiling at sizes beyond L2. Remedies if the profile
   asks: an L2 persisting access-policy window on the input for volumes
   that fit (H100: 50 MiB L2), or the statistics taken by whatever wrote the
   input (mv_intensity_opts.stats). */
static mv_status mv__cu_intensity(const mv_cuda_vol *in, mv_cuda_vol *out, int into, int op, double lo, double hi,
                                  const mv_intensity_opts *opts, cudaStream_t s, const char *fn)
{
    mv_intensity_opts o;
    mv__cu_select sel;
    mv_cuda_vol res;
    mv_dtype want;
    int active = 0, a, wide;
    double slope = 1, inter = 0;
    int64_t frame_n, frames = 1, f, n;
    size_t esz;
    float *f32 = NULL;
    mv__cu_coef *coef = NULL;
    mv_status st = MV_OK;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_check_vol(in, fn, "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: out is NULL", fn);
    MV__CU_CHECK(mv__cu_is_gpu_real(in->vol.dtype), MV_ERR_UNSUPPORTED, "%s: %s input on the GPU", fn,
                 mv_dtype_name(in->vol.dtype));
    MV__CU_CHECK(o.pct_lo == 0 && o.pct_hi == 0, MV_ERR_UNSUPPORTED, "%s: percentiles are not on the GPU yet", fn);
    MV__CU_CHECK(!(o.stats && (o.nonzero || o.mask || o.per_frame)), MV_ERR_INVALID_ARG,
                 "%s: known statistics do not go with nonzero, mask or per_frame", fn);
    if (op == MV__CU_OP_CLAMP) MV__CU_CHECK(lo <= hi, MV_ERR_INVALID_ARG, "%s: range [%g, %g]", fn, lo, hi);
    if (op == MV__CU_OP_RESCALE) {
        if (lo == 0 && hi == 0) hi = 1;
        MV__CU_CHECK(isfinite(lo) && isfinite(hi), MV_ERR_INVALID_ARG, "%s: range [%g, %g] is not finite", fn, lo, hi);
    }
    MV__CU_STRY(mv__cu_scaling(&in->vol, o.raw, 1, &active, &slope, &inter));
    /* values float32 cannot hold: the op's first step in float64, as the CPU */
    wide = op != MV__CU_OP_CLAMP && !mv_intensity_values_f32(&in->vol, o.raw);
    memset(&sel, 0, sizeof(sel));
    sel.nonzero = o.nonzero;
    if (o.mask) {
        const mv_vol *m = o.mask;
        MV__CU_CHECK(m->data != NULL && mv__cu_is_gpu_real(m->dtype), MV_ERR_INVALID_ARG,
                     "%s: mask must be a device volume of a real dtype", fn);
        for (a = 0; a < MV_MAX_DIMS; a++)
            MV__CU_CHECK(mv__cu_dim(m, a) == (a < 3 ? mv__cu_dim(&in->vol, a) : 1), MV_ERR_INVALID_ARG,
                         "%s: mask dim[%d] = %lld, the volume's first three dims need %lld", fn, a,
                         (long long)mv__cu_dim(m, a), (long long)(a < 3 ? mv__cu_dim(&in->vol, a) : 1));
        sel.mask = m->data;
        sel.mask_dt = m->dtype;
    }
    sel.mask_count = mv__cu_dim(&in->vol, 0) * mv__cu_dim(&in->vol, 1) * mv__cu_dim(&in->vol, 2);
    n = mv_vol_count(&in->vol);
    for (a = 3; a < in->vol.ndim; a++) frames *= in->vol.dim[a];
    if (!o.per_frame) frames = 1;
    frame_n = n / frames;
    esz = mv_dtype_size(in->vol.dtype);

    want = into ? out->vol.dtype : o.dtype ? o.dtype : MV_DT_F32;
    MV__CU_CHECK(mv__cu_is_gpu_real(want), MV_ERR_UNSUPPORTED, "%s: %s output on the GPU", fn, mv_dtype_name(want));
    if (into) {
        MV__CU_STRY(mv__cu_check_vol(out, fn, "output"));
        MV__CU_CHECK(mv__cu_same_dims(&in->vol, &out->vol), MV_ERR_INVALID_ARG, "%s: output dims differ", fn);
        res = *out;
    } else {
        MV__CU_STRY(mv__cu_alloc_like(&res, &in->vol, want, in->vol.ndim, in->vol.dim, s));
        res.vol.meta.scl_slope = 1.0;
        res.vol.meta.scl_inter = 0.0;
        res.vol.meta.cal_min = res.vol.meta.cal_max = 0;
    }
    /* float32 results straight into the output; other dtypes through a
       float32 temporary and the CPU's float32 -> dtype cast */
    if (want == MV_DT_F32) {
        f32 = (float *)res.vol.data;
    } else {
        cudaError_t e = cudaMallocAsync((void **)&f32, (size_t)n * sizeof(float), s);
        if (e != cudaSuccess) st = mv__cu_fail(e, "cudaMallocAsync (float32 temporary)");
    }
    if (st == MV_OK && op != MV__CU_OP_CLAMP && !o.stats) {
        cudaError_t e = cudaMallocAsync((void **)&coef, sizeof(*coef), s);
        if (e != cudaSuccess) st = mv__cu_fail(e, "cudaMallocAsync (coefficients)");
    }
    for (f = 0; st == MV_OK && f < frames; f++) {
        sel.mask_count = frames > 1 ? frame_n : sel.mask_count;
        st = mv__cu_intensity_run((const unsigned char *)in->vol.data + (size_t)(f * frame_n) * esz, in->vol.dtype,
                                  frame_n, f32 + f * frame_n, op, lo, hi, &o, active, slope, inter, wide, sel, coef, s);
    }
    if (st == MV_OK && want != MV_DT_F32)
        st = mv__cu_convert_n(f32, MV_DT_F32, res.vol.data, want, n, 0, 1, 0, o.rounding, s);
    if (want != MV_DT_F32 && f32) (void)cudaFreeAsync(f32, s);
    if (coef) (void)cudaFreeAsync(coef, s);
    if (st != MV_OK) {
        if (!into) mv_cuda_free(&res, s);
        return st;
    }
    if (!into) *out = res;
    return MV_OK;
}

MVCDEF mv_status mv_cuda_znorm(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_intensity_opts *opts,
                               mv_cuda_stream stream)
{
    return mv__cu_intensity(in, out, 0, MV__CU_OP_ZNORM, 0, 0, opts, stream, "mv_cuda_znorm");
}
MVCDEF mv_status mv_cuda_znorm_into(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_intensity_opts *opts,
                                    mv_cuda_stream stream)
{
    return mv__cu_intensity(in, out, 1, MV__CU_OP_ZNORM, 0, 0, opts, stream, "mv_cuda_znorm_into");
}
MVCDEF mv_status mv_cuda_rescale(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                                 const mv_intensity_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_intensity(in, out, 0, MV__CU_OP_RESCALE, lo, hi, opts, stream, "mv_cuda_rescale");
}
MVCDEF mv_status mv_cuda_rescale_into(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                                      const mv_intensity_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_intensity(in, out, 1, MV__CU_OP_RESCALE, lo, hi, opts, stream, "mv_cuda_rescale_into");
}
MVCDEF mv_status mv_cuda_clamp(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                               const mv_intensity_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_intensity(in, out, 0, MV__CU_OP_CLAMP, lo, hi, opts, stream, "mv_cuda_clamp");
}
MVCDEF mv_status mv_cuda_clamp_into(const mv_cuda_vol *in, mv_cuda_vol *out, double lo, double hi,
                                    const mv_intensity_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_intensity(in, out, 1, MV__CU_OP_CLAMP, lo, hi, opts, stream, "mv_cuda_clamp_into");
}

/* ---- element copies by size (moves never look at values) -------------------- */

struct mv__cu_b3 { unsigned char b[3]; }; /* rgb24 */
#define MV__CU_CASE_SIZE(esz, T, ...)                                  \
    switch (esz) {                                                     \
    case 1: { typedef uint8_t T; __VA_ARGS__; } break;                 \
    case 2: { typedef uint16_t T; __VA_ARGS__; } break;                \
    case 3: { typedef mv__cu_b3 T; __VA_ARGS__; } break;               \
    case 4: { typedef uint32_t T; __VA_ARGS__; } break;                \
    case 8: { typedef uint64_t T; __VA_ARGS__; } break;                \
    case 16: { typedef uint4 T; __VA_ARGS__; } break;                  \
    default: break;                                                    \
    }

/* ---- spatial: one gather kernel for every move ------------------------------ */

/* Output voxel (o0, o1, o2) of frame f reads input element
   base + o0*step[0] + o1*step[1] + o2*step[2] + f*in_frame when every
   o_a lies in [lo[a], hi[a]), else it is the fill value. The steps are signed
   input strides (a flip is a negative step, a permute a swapped stride). */
struct mv__cu_gather {
    int64_t od[3], lo[3], hi[3], step[3], base, in_frame, out_frame, frames;
};

/* Rows (o1, o2, f) across blockIdx.y, x across threads: writes coalesced;
   reads coalesced too unless the output's x comes from another input axis. */
template <typename T>
static __global__ void mv__cu_gather_kernel(const T *__restrict__ in, T *__restrict__ out, mv__cu_gather g, T fill)
{
    const int64_t rows = g.od[1] * g.od[2] * g.frames;
    MV__CU_FOR_ROWS(r, rows) {
        int64_t o1, o2, f;
        mv__cu_split_row(r, g.od[1], g.od[2], o1, o2, f);
        T *orow = out + f * g.out_frame + (o2 * g.od[1] + o1) * g.od[0];
        bool row_in = o1 >= g.lo[1] && o1 < g.hi[1] && o2 >= g.lo[2] && o2 < g.hi[2];
        const T *irow = in + f * g.in_frame + g.base + o1 * g.step[1] + o2 * g.step[2];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < g.od[0]; x += (int64_t)gridDim.x * blockDim.x)
            orow[x] = row_in && x >= g.lo[0] && x < g.hi[0] ? irow[x * g.step[0]] : fill;
    }
}

/* Transposing moves (the output's x reads along input axis q != 0) go
   through 32 x 32 shared-memory tiles, so both the reads (along input x,
   which is output axis `xa`) and the writes (along output x) are coalesced. */
template <typename T>
static __global__ void mv__cu_transpose_kernel(const T *__restrict__ in, T *__restrict__ out, mv__cu_gather g, int xa, int za,
                                        T fill)
{
    __shared__ T tile[32][33];
    /* output axes 0, xa and za as scalars: an array indexed by the run-time
       xa / za would live in local memory, a load and store per element */
    const int64_t n0 = g.od[0], na = xa == 1 ? g.od[1] : g.od[2], nz = za == 1 ? g.od[1] : g.od[2];
    const int64_t st0 = g.step[0], sta = xa == 1 ? g.step[1] : g.step[2], stz = za == 1 ? g.step[1] : g.step[2];
    const int64_t lo0 = g.lo[0], hi0 = g.hi[0], loa = xa == 1 ? g.lo[1] : g.lo[2], hia = xa == 1 ? g.hi[1] : g.hi[2];
    const int64_t loz = za == 1 ? g.lo[1] : g.lo[2], hiz = za == 1 ? g.hi[1] : g.hi[2];
    /* output strides of axes xa and za (x is 1) */
    const int64_t oa_stride = xa == 1 ? n0 : n0 * g.od[1], oz_stride = za == 1 ? n0 : n0 * g.od[1];
    const int64_t tiles0 = (n0 + 31) / 32, tilesa = (na + 31) / 32;
    const int64_t planes = nz * g.frames;
    for (int64_t b = blockIdx.x; b < tiles0 * tilesa * planes; b += gridDim.x) {
        int64_t t0, ta, plane, oz, f, rest;
        mv__cu_split_row(b, tiles0, tilesa, t0, ta, plane);
        mv__cu_split_row(plane, nz, 1, oz, rest, f);
        (void)rest;
        const bool z_in = oz >= loz && oz < hiz;
        const T *ibase = in + f * g.in_frame + g.base + oz * stz;
        T *obase = out + f * g.out_frame + oz * oz_stride;
        __syncthreads();
        /* load: threadIdx.x runs along output axis xa (= input x) */
        for (int k = threadIdx.y; k < 32; k += blockDim.y) {
            int64_t o0 = t0 * 32 + k, oa = ta * 32 + threadIdx.x;
            if (o0 < n0 && oa < na) {
                bool inside = z_in && o0 >= lo0 && o0 < hi0 && oa >= loa && oa < hia;
                tile[k][threadIdx.x] = inside ? ibase[o0 * st0 + oa * sta] : fill;
            }
        }
        __syncthreads();
        /* store: threadIdx.x runs along output x */
        for (int k = threadIdx.y; k < 32; k += blockDim.y) {
            int64_t o0 = t0 * 32 + threadIdx.x, oa = ta * 32 + k;
            if (o0 < n0 && oa < na) obase[oa * oa_stride + o0] = tile[threadIdx.x][k];
        }
    }
}

/* The voxel map of a spatial op: output voxel o -> input voxel
   M * o (a signed permutation plus an offset). From medvol's own geometry:
   a probe volume with the identity affine gets affine M (crop, pad, flip,
   permute, rot90); reorient depends on the real affine, so there
   M = inv(A_in) * A_out. */
static mv_status mv__cu_inverse3(const double a[4][4], double r[4][4])
{
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                 a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    int i, j;
    MV__CU_CHECK(det != 0 && isfinite(det), MV_ERR_UNSUPPORTED, "reorient: the affine is singular");
    r[0][0] = (a[1][1] * a[2][2] - a[1][2] * a[2][1]) / det;
    r[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / det;
    r[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / det;
    r[1][0] = (a[1][2] * a[2][0] - a[1][0] * a[2][2]) / det;
    r[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / det;
    r[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / det;
    r[2][0] = (a[1][0] * a[2][1] - a[1][1] * a[2][0]) / det;
    r[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / det;
    r[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / det;
    for (i = 0; i < 3; i++) {
        r[i][3] = 0;
        for (j = 0; j < 3; j++) r[i][3] -= r[i][j] * a[j][3];
    }
    r[3][0] = r[3][1] = r[3][2] = 0;
    r[3][3] = 1;
    return MV_OK;
}

static mv_status mv__cu_voxel_map(const mv_vol *in, const mv_op *op, double M[4][4])
{
    mv_vol probe, g;
    int r, c;
    if (op->kind == MV_OP_REORIENT) {
        double inv[4][4];
        MV__CU_STRY(mv_pipeline_geometry(in, op, 1, &g));
        MV__CU_STRY(mv__cu_inverse3(in->affine, inv));
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++)
                M[r][c] = inv[r][0] * g.affine[0][c] + inv[r][1] * g.affine[1][c] + inv[r][2] * g.affine[2][c] +
                          inv[r][3] * g.affine[3][c];
        return MV_OK;
    }
    probe = *in;
    probe.meta.ext = NULL;
    probe.meta.n_ext = 0;
    probe.meta.grad = NULL;
    probe.meta.n_grad = 0;
    probe.meta.kv = NULL;
    probe.meta.n_kv = 0;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) probe.affine[r][c] = r == c ? 1.0 : 0.0;
    MV__CU_STRY(mv_pipeline_geometry(&probe, op, 1, &g));
    memcpy(M, g.affine, sizeof(g.affine));
    return MV_OK;
}

/* M as a gather: each output axis a reads input axis ax with sign sg and
   offset off (integers, checked). */
static mv_status mv__cu_gather_from_map(const double M[4][4], const mv_vol *in, const int64_t od[3], mv__cu_gather *g,
                                        int in_axis_of[3])
{
    int64_t istride[3];
    int a, r;
    istride[0] = 1;
    istride[1] = mv__cu_dim(in, 0);
    istride[2] = istride[1] * mv__cu_dim(in, 1);
    g->base = 0;
    for (a = 0; a < 3; a++) {
        int ax = -1;
        double sg = 0, off;
        for (r = 0; r < 3; r++) {
            double v = M[r][a];
            if (fabs(v) > 0.5) {
                MV__CU_CHECK(ax < 0 && fabs(fabs(v) - 1.0) < 1e-6, MV_ERR_UNSUPPORTED,
                             "spatial map column %d is not a signed axis (%g)", a, v);
                ax = r;
                sg = v > 0 ? 1 : -1;
            } else {
                MV__CU_CHECK(fabs(v) < 1e-6, MV_ERR_UNSUPPORTED, "spatial map entry (%d, %d) = %g", r, a, v);
            }
        }
        MV__CU_CHECK(ax >= 0, MV_ERR_UNSUPPORTED, "spatial map: output axis %d reads no input axis", a);
        off = M[ax][3];
        MV__CU_CHECK(fabs(off - nearbyint(off)) < 1e-6, MV_ERR_UNSUPPORTED, "spatial map offset %g", off);
        in_axis_of[a] = ax;
        {
            int64_t o = (int64_t)nearbyint(off), n = mv__cu_dim(in, ax), s = (int64_t)sg, lo, hi;
            /* input coordinate off + s*o must lie in [0, n) */
            if (s > 0) {
                lo = -o;
                hi = n - o;
            } else {
                lo = o - n + 1;
                hi = o + 1;
            }
            g->lo[a] = lo < 0 ? 0 : lo > od[a] ? od[a] : lo;
            g->hi[a] = hi < g->lo[a] ? g->lo[a] : hi > od[a] ? od[a] : hi;
            g->step[a] = s * istride[ax];
            g->base += o * istride[ax];
        }
        g->od[a] = od[a];
    }
    return MV_OK;
}

/* The pad fill as one voxel, the CPU's rule (mv__put_fill): complex
   (fill, 0); RGB fill rounded half to even and clamped to 0..255 on every
   channel, NaN as 0, alpha 255; real dtypes converted as one value. */
static mv_status mv__cu_fill_bytes(double fill, mv_dtype dt, unsigned char *b)
{
    memset(b, 0, 16);
    if (dt == MV_DT_RGB24 || dt == MV_DT_RGBA32) {
        double v = fill != fill ? 0 : fill < 0 ? 0 : fill > 255 ? 255 : nearbyint(fill);
        b[0] = b[1] = b[2] = (unsigned char)v;
        if (dt == MV_DT_RGBA32) b[3] = 255;
        return MV_OK;
    }
    if (mv_dtype_is_complex(dt)) {
        mv_dtype part = dt == MV_DT_C64 ? MV_DT_F32 : dt == MV_DT_C128 ? MV_DT_F64 : MV_DT_F128;
        return mv_convert_buffer(&fill, MV_DT_F64, b, part, 1, NULL);
    }
    return mv_convert_buffer(&fill, MV_DT_F64, b, dt, 1, NULL);
}

/* The tiled transpose of 1- to 8-byte elements; false for 16-byte ones,
   which the gather moves (a 32 x 33 tile of them would take 17 KiB and the
   kernel would not be instantiated for a size no test could reach). */
template <typename T>
static bool mv__cu_launch_transpose(const void *in, void *out, const mv__cu_gather &g, int xa, int za, T fill,
                                    cudaStream_t s)
{
    if constexpr (sizeof(T) <= 8) {
        int64_t tiles = ((g.od[0] + 31) / 32) * ((g.od[xa] + 31) / 32) * g.od[za] * g.frames;
        int blocks = (int)(tiles < (int64_t)1 << 20 ? tiles : (int64_t)1 << 20);
        mv__cu_transpose_kernel<T><<<blocks, dim3(32, 8), 0, s>>>((const T *)in, (T *)out, g, xa, za, fill);
        return true;
    } else {
        (void)in, (void)out, (void)g, (void)xa, (void)za, (void)fill, (void)s;
        return false;
    }
}

static mv_status mv__cu_launch_gather(const void *in, void *out, size_t esz, const mv__cu_gather &g, int xa, int za,
                                      const unsigned char *fillb, cudaStream_t s)
{
    mv_status st = MV_ERR_UNSUPPORTED;
    int64_t rows = g.od[1] * g.od[2] * g.frames;
    if (rows == 0 || g.od[0] == 0) return MV_OK;
    MV__CU_CASE_SIZE(esz, T, {
        T fill;
        memcpy(&fill, fillb, sizeof(T));
        if (!(xa > 0 && mv__cu_launch_transpose<T>(in, out, g, xa, za, fill, s))) {
            dim3 grid = mv__cu_row_grid(g.od[0], rows);
            mv__cu_gather_kernel<T><<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const T *)in, (T *)out, g, fill);
        }
        st = MV_OK;
    })
    if (st != MV_OK) return mv_set_error(st, "moves of %zu-byte elements", esz);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

static mv_status mv__cu_spatial(const mv_cuda_vol *in, mv_cuda_vol *out, int into, mv_op op,
                                const mv_spatial_opts *opts, cudaStream_t s, const char *fn)
{
    mv_vol g;
    double M[4][4];
    mv__cu_gather gt;
    mv_cuda_vol res;
    int in_axis_of[3], a, xa = 0, za = 0;
    int64_t od[3];
    unsigned char fillb[16];
    size_t esz;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, fn, "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: out is NULL", fn);
    if (op.kind == MV_OP_CROP_OR_PAD || op.kind == MV_OP_BOX) op.fill = opts ? opts->fill : 0;
    MV__CU_STRY(mv_pipeline_geometry(&in->vol, &op, 1, &g)); /* checks the op, gives the CPU's geometry */
    MV__CU_STRY(mv__cu_voxel_map(&in->vol, &op, M));
    for (a = 0; a < 3; a++) od[a] = mv__cu_dim(&g, a);
    MV__CU_STRY(mv__cu_gather_from_map(M, &in->vol, od, &gt, in_axis_of));
    gt.frames = mv_vol_count(&in->vol) / (mv__cu_dim(&in->vol, 0) * mv__cu_dim(&in->vol, 1) * mv__cu_dim(&in->vol, 2));
    gt.in_frame = mv__cu_dim(&in->vol, 0) * mv__cu_dim(&in->vol, 1) * mv__cu_dim(&in->vol, 2);
    gt.out_frame = od[0] * od[1] * od[2];
    esz = mv_dtype_size(in->vol.dtype);
    MV__CU_STRY(mv__cu_fill_bytes(opts ? opts->fill : 0, in->vol.dtype, fillb));
    /* the output axis that reads input x: a transposing move when it is not x */
    for (a = 0; a < 3; a++)
        if (in_axis_of[a] == 0) xa = a;
    if (xa > 0 && od[0] > 1 && od[xa] > 1) {
        za = xa == 1 ? 2 : 1;
    } else {
        xa = 0;
    }
    if (into) {
        MV__CU_STRY(mv__cu_check_vol(out, fn, "output"));
        MV__CU_CHECK(out->vol.dtype == in->vol.dtype && mv__cu_same_dims(&out->vol, &g), MV_ERR_INVALID_ARG,
                     "%s: output must be %s %lldx%lldx%lld (and the input's other dims)", fn,
                     mv_dtype_name(in->vol.dtype), (long long)od[0], (long long)od[1], (long long)od[2]);
        MV__CU_CHECK(out->vol.data != in->vol.data, MV_ERR_INVALID_ARG, "%s: output overlaps the input", fn);
        res = *out;
    } else {
        MV__CU_STRY(mv__cu_alloc_like(&res, &g, in->vol.dtype, g.ndim, g.dim, s));
    }
    st = mv__cu_launch_gather(in->vol.data, res.vol.data, esz, gt, xa, za, fillb, s);
    if (st != MV_OK) {
        if (!into) mv_cuda_free(&res, s);
        return st;
    }
    memcpy(res.vol.affine, g.affine, sizeof(g.affine));
    memcpy(res.vol.spacing, g.spacing, sizeof(g.spacing));
    if (into) {
        memcpy(out->vol.affine, g.affine, sizeof(g.affine));
        memcpy(out->vol.spacing, g.spacing, sizeof(g.spacing));
    } else {
        *out = res;
    }
    return MV_OK;
}

MVCDEF mv_status mv_cuda_crop_or_pad(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                     const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(shape != NULL, MV_ERR_INVALID_ARG, "mv_cuda_crop_or_pad: shape is NULL");
    return mv__cu_spatial(in, out, 0, mv_op_crop_or_pad(shape[0], shape[1], shape[2], 0), opts, stream,
                          "mv_cuda_crop_or_pad");
}
MVCDEF mv_status mv_cuda_crop_or_pad_into(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                          const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(shape != NULL, MV_ERR_INVALID_ARG, "mv_cuda_crop_or_pad_into: shape is NULL");
    return mv__cu_spatial(in, out, 1, mv_op_crop_or_pad(shape[0], shape[1], shape[2], 0), opts, stream,
                          "mv_cuda_crop_or_pad_into");
}
MVCDEF mv_status mv_cuda_crop_pad_box(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t start[3],
                                      const int64_t size[3], const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_spatial(in, out, 0, mv_op_box(start, size, 0), opts, stream, "mv_cuda_crop_pad_box");
}
MVCDEF mv_status mv_cuda_flip(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, const mv_spatial_opts *opts,
                              mv_cuda_stream stream)
{
    MV__CU_CHECK((axes & ~7u) == 0, MV_ERR_UNSUPPORTED, "mv_cuda_flip: axes 0x%x (the GPU flips axes 0..2)", axes);
    return mv__cu_spatial(in, out, 0, mv_op_flip(axes), opts, stream, "mv_cuda_flip");
}
MVCDEF mv_status mv_cuda_flip_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes,
                                   const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK((axes & ~7u) == 0, MV_ERR_UNSUPPORTED, "mv_cuda_flip_into: axes 0x%x (the GPU flips axes 0..2)", axes);
    return mv__cu_spatial(in, out, 1, mv_op_flip(axes), opts, stream, "mv_cuda_flip_into");
}
MVCDEF mv_status mv_cuda_permute(const mv_cuda_vol *in, mv_cuda_vol *out, const int perm[3],
                                 const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(perm != NULL, MV_ERR_INVALID_ARG, "mv_cuda_permute: perm is NULL");
    return mv__cu_spatial(in, out, 0, mv_op_permute(perm[0], perm[1], perm[2]), opts, stream, "mv_cuda_permute");
}
MVCDEF mv_status mv_cuda_permute_into(const mv_cuda_vol *in, mv_cuda_vol *out, const int perm[3],
                                      const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(perm != NULL, MV_ERR_INVALID_ARG, "mv_cuda_permute_into: perm is NULL");
    return mv__cu_spatial(in, out, 1, mv_op_permute(perm[0], perm[1], perm[2]), opts, stream,
                          "mv_cuda_permute_into");
}
MVCDEF mv_status mv_cuda_reorient(const mv_cuda_vol *in, mv_cuda_vol *out, const char *code,
                                  const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(code != NULL, MV_ERR_INVALID_ARG, "mv_cuda_reorient: code is NULL");
    return mv__cu_spatial(in, out, 0, mv_op_reorient(code), opts, stream, "mv_cuda_reorient");
}
MVCDEF mv_status mv_cuda_rot90(const mv_cuda_vol *in, mv_cuda_vol *out, int k, int axis0, int axis1,
                               const mv_spatial_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_spatial(in, out, 0, mv_op_rot90(k, axis0, axis1), opts, stream, "mv_cuda_rot90");
}

/* ---- resampling -------------------------------------------------------------- */

/* Output voxel -> input coordinate, per axis ((o + u) * s + v) when the map
   is axis-aligned (the CPU's separable path), else the matrix rows in the
   CPU's order: M[a][0] * x + (M[a][1] * y + M[a][2] * z + M[a][3]). */
struct mv__cu_rsmap {
    double M[3][4];
    double u[3], s[3], v[3];
    int separable;
    int64_t n[3], m[3];     /* input and output grid */
    int64_t in_frame, out_frame, frames;
    int linear, fill;
};

static MV__CU_HD void mv__cu_rs_coords(const mv__cu_rsmap &m, int64_t x, int64_t y, int64_t z, double c[3])
{
    if (m.separable) {
        c[0] = MV__CU_DADD(MV__CU_DMUL(MV__CU_DADD((double)x, m.u[0]), m.s[0]), m.v[0]);
        c[1] = MV__CU_DADD(MV__CU_DMUL(MV__CU_DADD((double)y, m.u[1]), m.s[1]), m.v[1]);
        c[2] = MV__CU_DADD(MV__CU_DMUL(MV__CU_DADD((double)z, m.u[2]), m.s[2]), m.v[2]);
    } else {
        for (int a = 0; a < 3; a++) {
            double base = MV__CU_DADD(MV__CU_DADD(MV__CU_DMUL(m.M[a][1], (double)y), MV__CU_DMUL(m.M[a][2], (double)z)),
                                      m.M[a][3]);
            c[a] = MV__CU_DADD(MV__CU_DMUL(m.M[a][0], (double)x), base);
        }
    }
}

/* The CPU's taps (mv__rs_taps): nearest floor(clamped c + 0.5); linear
   clamps c to [0, n-1], weights (1 - t, t) in float32, the window moved
   left at the last voxel. Returns the first index. */
static MV__CU_HD int64_t mv__cu_rs_taps(double c, int64_t n, int linear, float w[2])
{
    double cl = !(c >= 0) ? 0 : c > (double)(n - 1) ? (double)(n - 1) : c; /* NaN -> 0 */
    if (!linear) {
        w[0] = 1.0f;
        w[1] = 0.0f;
        return (int64_t)(cl + 0.5);
    }
    if (n == 1) {
        w[0] = 1.0f;
        w[1] = 0.0f;
        return 0;
    }
    double f = (double)(int64_t)cl, t = cl - f;
    if (f >= (double)(n - 1)) {
        f = (double)(n - 2);
        t = 1.0;
    }
    w[0] = (float)(1.0 - t);
    w[1] = (float)t;
    return (int64_t)f;
}

/* The blend of one output voxel from its taps, in float32: x taps summed
   first, then y, then z (the CPU's mv__rs_sample order), unfused. rows[tz][ty]
   is the input row of tap (ty, tz); x taps start at column sx; T[a] taps
   on axis a (1 or 2). */
template <typename S>
static MV__CU_HD float mv__cu_rs_blend(const S *const rows[2][2], int64_t sx, const float w[3][2], const int T[3],
                                       int scaled, double slope, double inter)
{
    float acc = 0;
    for (int tz = 0; tz < T[2]; tz++) {
        float plane = 0;
        for (int ty = 0; ty < T[1]; ty++) {
            const S *r = rows[tz][ty] + sx;
            float row = MV__CU_FMUL(w[0][0], mv__cu_value_f32(r[0], scaled, slope, inter));
            if (T[0] > 1) row = MV__CU_FADD(row, MV__CU_FMUL(w[0][1], mv__cu_value_f32(r[1], scaled, slope, inter)));
            plane = ty == 0 ? MV__CU_FMUL(w[1][0], row) : MV__CU_FADD(plane, MV__CU_FMUL(w[1][ty], row));
        }
        acc = tz == 0 ? MV__CU_FMUL(w[2][0], plane) : MV__CU_FADD(acc, MV__CU_FMUL(w[2][tz], plane));
    }
    return acc;
}

/* The input rows of the y and z taps s0[1] + ty, s0[2] + tz of a frame */
template <typename S>
static MV__CU_HD void mv__cu_rs_rows(const S *frame, const mv__cu_rsmap &m, int64_t s1, int64_t s2, const int T[3],
                                     const S *rows[2][2])
{
    for (int tz = 0; tz < 2; tz++)
        for (int ty = 0; ty < 2; ty++)
            rows[tz][ty] = frame + ((s2 + (tz < T[2] ? tz : 0)) * m.n[1] + (s1 + (ty < T[1] ? ty : 0))) * m.n[0];
}

/* One output voxel at input coordinates c, in float32. */
template <typename S>
static MV__CU_HD float mv__cu_rs_sample(const S *frame, const mv__cu_rsmap &m, const double c[3], int scaled, double slope,
                                  double inter)
{
    float w[3][2];
    int64_t s0[3];
    int T[3];
    const S *rows[2][2];
    for (int a = 0; a < 3; a++) {
        s0[a] = mv__cu_rs_taps(c[a], m.n[a], m.linear, w[a]);
        T[a] = m.linear && m.n[a] > 1 ? 2 : 1;
    }
    mv__cu_rs_rows(frame, m, s0[1], s0[2], T, rows);
    return mv__cu_rs_blend(rows, s0[0], w, T, scaled, slope, inter);
}

static MV__CU_HD bool mv__cu_rs_inside(const mv__cu_rsmap &m, const double c[3])
{
    return c[0] >= 0 && c[0] <= (double)(m.n[0] - 1) && c[1] >= 0 && c[1] <= (double)(m.n[1] - 1) && c[2] >= 0 &&
           c[2] <= (double)(m.n[2] - 1);
}

/* Linear (or nearest with conversion) into float32. */
template <typename S>
static __global__ void mv__cu_resample_kernel(const S *__restrict__ in, float *__restrict__ out, mv__cu_rsmap m, int scaled,
                                       double slope, double inter, float fill)
{
    const int64_t rows = m.m[1] * m.m[2] * m.frames;
    MV__CU_FOR_ROWS(r, rows) {
        int64_t y, z, f;
        mv__cu_split_row(r, m.m[1], m.m[2], y, z, f);
        const S *frame = in + f * m.in_frame;
        float *orow = out + f * m.out_frame + (z * m.m[1] + y) * m.m[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < m.m[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double c[3];
            mv__cu_rs_coords(m, x, y, z, c);
            orow[x] = m.fill && !mv__cu_rs_inside(m, c) ? fill : mv__cu_rs_sample(frame, m, c, scaled, slope, inter);
        }
    }
}

/* Axis-aligned maps (the zoom of a resample to new spacing): the y and z
   coordinates, taps and inside test belong to the row (one warp's, so
   computing them costs the warp once); each lane adds only its x tap.
   Same arithmetic as mv__cu_rs_sample (bit-identical to the general
   kernel), without the float64 coordinate and tap work of two axes per
   voxel. */
template <typename S>
static __global__ void mv__cu_resample_sep_kernel(const S *__restrict__ in, float *__restrict__ out, mv__cu_rsmap m,
                                                  int scaled, double slope, double inter, float fill)
{
    const int64_t rows_n = m.m[1] * m.m[2] * m.frames;
    int T[3];
    for (int a = 0; a < 3; a++) T[a] = m.linear && m.n[a] > 1 ? 2 : 1;
    MV__CU_FOR_ROWS(r, rows_n) {
        int64_t y, z, f;
        mv__cu_split_row(r, m.m[1], m.m[2], y, z, f);
        /* the row's y and z taps: the same for every lane of the warp */
        double cy = MV__CU_DADD(MV__CU_DMUL(MV__CU_DADD((double)y, m.u[1]), m.s[1]), m.v[1]);
        double cz = MV__CU_DADD(MV__CU_DMUL(MV__CU_DADD((double)z, m.u[2]), m.s[2]), m.v[2]);
        float w[3][2];
        int64_t sy = mv__cu_rs_taps(cy, m.n[1], m.linear, w[1]), sz = mv__cu_rs_taps(cz, m.n[2], m.linear, w[2]);
        const bool row_inside = cy >= 0 && cy <= (double)(m.n[1] - 1) && cz >= 0 && cz <= (double)(m.n[2] - 1);
        const S *rows[2][2];
        mv__cu_rs_rows(in + f * m.in_frame, m, sy, sz, T, rows);
        float *orow = out + f * m.out_frame + (z * m.m[1] + y) * m.m[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < m.m[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double cx = MV__CU_DADD(MV__CU_DMUL(MV__CU_DADD((double)x, m.u[0]), m.s[0]), m.v[0]);
            if (m.fill && !(row_inside && cx >= 0 && cx <= (double)(m.n[0] - 1))) {
                orow[x] = fill;
                continue;
            }
            int64_t sx = mv__cu_rs_taps(cx, m.n[0], m.linear, w[0]);
            orow[x] = mv__cu_rs_blend(rows, sx, w, T, scaled, slope, inter);
        }
    }
}

/* Nearest keeping the dtype: stored elements copied. */
template <typename T>
static __global__ void mv__cu_nearest_kernel(const T *__restrict__ in, T *__restrict__ out, mv__cu_rsmap m, T fill)
{
    const int64_t rows = m.m[1] * m.m[2] * m.frames;
    MV__CU_FOR_ROWS(r, rows) {
        int64_t y, z, f;
        mv__cu_split_row(r, m.m[1], m.m[2], y, z, f);
        T *orow = out + f * m.out_frame + (z * m.m[1] + y) * m.m[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < m.m[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double c[3];
            float w[2];
            int64_t i[3];
            mv__cu_rs_coords(m, x, y, z, c);
            if (m.fill && !mv__cu_rs_inside(m, c)) {
                orow[x] = fill;
                continue;
            }
            for (int a = 0; a < 3; a++) i[a] = mv__cu_rs_taps(c[a], m.n[a], 0, w);
            orow[x] = in[f * m.in_frame + (i[2] * m.n[1] + i[1]) * m.n[0] + i[0]];
        }
    }
}

/* ---- cubic B-spline resampling ---------------------------------------------
   The CPU's coefficient path (medvol.h, mv_resample_into with
   MV_INTERP_CUBIC), one frame at a time:
   1. the frame's values as the float32 pipeline sees them (scaled), their
      largest finite magnitude (a max: exact in any order; taken by the x
      pass while it reads them) and the CPU's overflow guard: above 2^121
      the x pass runs again on the frame scaled by pre = 2^(121 - e)
      (exact), and the samples are scaled back by post = 2^(e - 121);
   2. the cubic B-spline coefficients in float32, stored from index -1 to n
      on every axis ((n0 + 2) x (n1 + 2) x (n2 + 2) floats), by the CPU's
      line recursion (mv__rs_bspline_lane / rs_bspline_rows: its constants,
      its float32 operations in its order, no FMA) along x, then y, then z,
      as the CPU's passes run (x and y per slice, then z). Edge mode (the
      volume continues, scipy mode 'nearest') or mirror (fill_outside,
      scipy mode 'constant'), as the CPU chooses;
   3. per output voxel the CPU's taps (mv__rs_taps: four B-spline weights,
      windows folded onto the stored -1 .. n outside the volume) and the
      blend x, then y, then z in float32 (mv__rs_sample), times post.
   The coefficients are the CPU coefficient path's bits; for general maps
   the samples are too, where the CPU's row kernel sums as mv__rs_sample
   does. Axis-aligned maps run the CPU's fused path (y and x blended before
   z), so those agree within float32 rounding (tests: <= 1e-5 of the data
   range, the CPU's own tolerance against scipy). Costs: the x pass reads
   each line with one thread (a warp touches 32 rows; L1 serves the rest),
   the y and z passes are coalesced (a thread per column); the coefficient
   volume of one frame is device scratch. */

#define MV__CU_BS_POLE (-0.26794919243112270) /* sqrt(3) - 2, as MV__RS_POLE */
#define MV__CU_BS_HORIZON 24                  /* the mirror series' terms, as MV__RS_HORIZON */
#define MV__CU_BS_FAR 64.0                    /* beyond this many voxels the spline is flat (MV__RS_FAR) */

/* The prefilter's float32 constants for a line of n (mv__rs_bspline_constsf) */
struct mv__cu_bsk {
    float z, gain, inv_1mz, zq, mirror_end, zn1, mirror_div;
};
static mv__cu_bsk mv__cu_bs_consts(int64_t n)
{
    const double z = MV__CU_BS_POLE, zn1 = n > 1 ? pow(z, (double)(n - 1)) : 1.0;
    mv__cu_bsk k;
    k.z = (float)z;
    k.gain = (float)((1.0 - z) * (1.0 - 1.0 / z));
    k.inv_1mz = (float)(1.0 / (1.0 - z));
    k.zq = (float)(z / (1.0 - z * z));
    k.mirror_end = (float)(z / (z * z - 1.0));
    k.zn1 = n - 1 > MV__CU_BS_HORIZON ? 0.0f : (float)zn1;
    k.mirror_div = (float)(1.0 / (1.0 - zn1 * zn1));
    return k;
}

/* One line in place: c[i * st] is sample i on entry and coefficient i on
   return, c[-st] and c[n * st] receive the coefficients at -1 and n.
   mv__rs_bspline_lane's operations in its order (see its comment for the
   edge mode's closed forms and the mirror initialisation). */
static MV__CU_HD void mv__cu_bs_line(float *c, int64_t st, int64_t n, int mirror, const mv__cu_bsk &k)
{
#define MV__CU_C(i) c[(int64_t)(i) * st]
    int64_t i;
    if (n == 1) { /* a constant line: its own coefficients */
        MV__CU_C(-1) = MV__CU_C(0);
        MV__CU_C(1) = MV__CU_C(0);
        return;
    }
    if (!mirror) {
        const float g0 = MV__CU_C(0), gl = MV__CU_C(n - 1);
        MV__CU_C(0) = MV__CU_FMUL(MV__CU_FMUL(k.gain, g0), k.inv_1mz);
        for (i = 1; i < n; i++) MV__CU_C(i) = MV__CU_FADD(MV__CU_FMUL(k.gain, MV__CU_C(i)), MV__CU_FMUL(k.z, MV__CU_C(i - 1)));
        const float s = MV__CU_FMUL(MV__CU_FMUL(k.gain, gl), k.inv_1mz);
        MV__CU_C(n - 1) = MV__CU_FSUB(gl, MV__CU_FMUL(MV__CU_FSUB(MV__CU_C(n - 1), s), k.zq));
        for (i = n - 1; i-- > 0;) MV__CU_C(i) = MV__CU_FMUL(k.z, MV__CU_FSUB(MV__CU_C(i + 1), MV__CU_C(i)));
        MV__CU_C(-1) = MV__CU_FADD(g0, MV__CU_FMUL(k.z, MV__CU_FSUB(MV__CU_C(0), g0)));
        MV__CU_C(n) = MV__CU_FADD(gl, MV__CU_FMUL(k.z, MV__CU_FSUB(MV__CU_C(n - 1), gl)));
    } else {
        float acc, zi = k.z;
        for (i = 0; i < n; i++) MV__CU_C(i) = MV__CU_FMUL(k.gain, MV__CU_C(i));
        acc = MV__CU_FADD(MV__CU_C(0), MV__CU_FMUL(k.zn1, MV__CU_C(n - 1)));
        for (i = 1; i + 1 < n && i <= MV__CU_BS_HORIZON; i++) {
            acc = MV__CU_FADD(acc, MV__CU_FMUL(zi, MV__CU_FADD(MV__CU_C(i), MV__CU_FMUL(k.zn1, MV__CU_C(n - 1 - i)))));
            zi = MV__CU_FMUL(zi, k.z);
        }
        MV__CU_C(0) = MV__CU_FMUL(acc, k.mirror_div);
        for (i = 1; i < n; i++) MV__CU_C(i) = MV__CU_FADD(MV__CU_C(i), MV__CU_FMUL(k.z, MV__CU_C(i - 1)));
        MV__CU_C(n - 1) = MV__CU_FMUL(MV__CU_FADD(MV__CU_FMUL(k.z, MV__CU_C(n - 2)), MV__CU_C(n - 1)), k.mirror_end);
        for (i = n - 1; i-- > 0;) MV__CU_C(i) = MV__CU_FMUL(k.z, MV__CU_FSUB(MV__CU_C(i + 1), MV__CU_C(i)));
        MV__CU_C(-1) = MV__CU_C(1);
        MV__CU_C(n) = MV__CU_C(n - 2);
    }
#undef MV__CU_C
}

/* Where a frame's cubic work lives: n the input grid, the coefficient
   volume C (stored dims n + 2), the prefilter constants per axis, the
   boundary, and the device word holding the frame's largest finite
   magnitude (as float bits: for values >= 0 the integer order is the
   float order). */
struct mv__cu_bsjob {
    int64_t n[3];
    float *C;
    mv__cu_bsk k[3];
    int mirror;
    unsigned int *amax;
};

/* the overflow guard's scaling from the largest magnitude: pre on the way
   in, post on the way out (1 and 1 up to 2^121), as the CPU's */
static MV__CU_HD void mv__cu_bs_scale(unsigned int amax_bits, float *pre, float *post)
{
    float mx;
    memcpy(&mx, &amax_bits, 4);
    *pre = 1.0f;
    *post = 1.0f;
    if (mx > 2.6584559915698317e36f) { /* 2^121 */
        int e = 0;
        (void)frexpf(mx, &e); /* mx < 2^e */
        *pre = ldexpf(1.0f, 121 - e);
        *post = ldexpf(1.0f, e - 121);
    }
}

/* the float bits of |v| where v is finite (NaN fails too), else 0: for
   values >= 0 the integer order is the float order (mv__rs_absmax) */
static MV__CU_HD unsigned int mv__cu_bs_absbits(float v)
{
    const float a = fabsf(v);
    unsigned int b = 0;
    if (a <= 3.40282347e38f) memcpy(&b, &a, 4);
    return b;
}

/* x pass item: line (y, z) of the frame read into C's row (scaled, then
   times pre) and filtered along x; returns the bits of the line's largest
   finite |value| before pre (the overflow guard's maximum, taken while the
   frame is read anyway, as the CPU's first pass takes it) */
template <typename S>
static MV__CU_HD unsigned int mv__cu_bs_xline(const S *frame, const mv__cu_bsjob &j, int64_t line, int scaled,
                                              double slope, double inter, float pre)
{
    const int64_t y = line % j.n[1], z = line / j.n[1], SX = j.n[0] + 2, SY = j.n[1] + 2;
    const S *src = frame + line * j.n[0];
    float *row = j.C + ((z + 1) * SY + (y + 1)) * SX + 1;
    unsigned int best = 0;
    for (int64_t i = 0; i < j.n[0]; i++) {
        float v = mv__cu_value_f32(src[i], scaled, slope, inter);
        const unsigned int b = mv__cu_bs_absbits(v);
        best = b > best ? b : best;
        row[i] = pre != 1.0f ? MV__CU_FMUL(v, pre) : v;
    }
    mv__cu_bs_line(row, 1, j.n[0], j.mirror, j.k[0]);
    return best;
}
/* y pass item: stored column x of slice z (every stored x, inside z) */
static MV__CU_HD void mv__cu_bs_yline(const mv__cu_bsjob &j, int64_t line)
{
    const int64_t SX = j.n[0] + 2, SY = j.n[1] + 2, x = line % SX, z = line / SX;
    mv__cu_bs_line(j.C + ((z + 1) * SY + 1) * SX + x, SX, j.n[1], j.mirror, j.k[1]);
}
/* z pass item: stored column (x, y) across the slices (every stored x and y) */
static MV__CU_HD void mv__cu_bs_zline(const mv__cu_bsjob &j, int64_t line)
{
    const int64_t SX = j.n[0] + 2, SY = j.n[1] + 2;
    mv__cu_bs_line(j.C + SX * SY + line, SX * SY, j.n[2], j.mirror, j.k[2]);
}

/* The x pass. First launch (redo 0): every line unscaled, the frame's
   largest finite magnitude into *j.amax (a max: any order gives it). Second
   launch (redo 1): nothing unless that maximum is past 2^121, then every
   line again with the frame scaled by pre, as the CPU redoes its first
   pass; the common case pays one word's read, not a pass over the frame. */
template <typename S>
static __global__ void mv__cu_bs_x_kernel(const S *__restrict__ frame, mv__cu_bsjob j, int scaled, double slope,
                                          double inter, int redo)
{
    float pre = 1.0f, post;
    unsigned int best = 0;
    if (redo) {
        mv__cu_bs_scale(*j.amax, &pre, &post);
        if (pre == 1.0f) return; /* the same for every thread */
    }
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < j.n[1] * j.n[2]; l += (int64_t)gridDim.x * blockDim.x) {
        const unsigned int b = mv__cu_bs_xline(frame, j, l, scaled, slope, inter, pre);
        best = b > best ? b : best;
    }
    if (redo) return;
    for (int o = 16; o > 0; o >>= 1) {
        unsigned int v = __shfl_down_sync(0xffffffffu, best, o);
        best = v > best ? v : best;
    }
    if ((threadIdx.x & 31) == 0 && best) atomicMax(j.amax, best);
}
static __global__ void mv__cu_bs_y_kernel(mv__cu_bsjob j)
{
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < (j.n[0] + 2) * j.n[2]; l += (int64_t)gridDim.x * blockDim.x)
        mv__cu_bs_yline(j, l);
}
static __global__ void mv__cu_bs_z_kernel(mv__cu_bsjob j)
{
    for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < (j.n[0] + 2) * (j.n[1] + 2);
         l += (int64_t)gridDim.x * blockDim.x)
        mv__cu_bs_zline(j, l);
}

/* ---- cubic taps (mv__rs_taps' cubic branch) ---- */

/* floor of |c| < 2^62 (mv__rs_floor) */
static MV__CU_HD double mv__cu_bs_floor(double c)
{
    int64_t t = (int64_t)c;
    return (double)(t - ((double)t > c));
}
/* scipy's whole-sample mirror of an index into [0, n) (mv__rs_mirror) */
static MV__CU_HD int64_t mv__cu_bs_mirror(int64_t k, int64_t n)
{
    int64_t s2 = 2 * n - 2;
    if (n <= 1) return 0;
    if (k < 0) {
        k = s2 * (-k / s2) + k;
        k = k <= 1 - n ? k + s2 : -k;
    } else if (k >= n) {
        k -= s2 * (k / s2);
        if (k >= n) k = s2 - k;
    }
    return k;
}
/* z^m by squaring (mv__rs_pole_pow) */
static MV__CU_HD double mv__cu_bs_pole_pow(int64_t m)
{
    double r = 1.0, b = MV__CU_BS_POLE;
    for (; m > 0; m >>= 1) {
        if (m & 1) r = MV__CU_DMUL(r, b);
        b = MV__CU_DMUL(b, b);
    }
    return r;
}
/* the four weights at fraction x (mv__rs_cubic_w), in float64 then rounded */
static MV__CU_HD void mv__cu_bs_weights(double x, double bw[4])
{
    const double y = MV__CU_DSUB(1.0, x);
    bw[0] = MV__CU_DMUL(MV__CU_DMUL(y, y), y) / 6.0;
    bw[1] = MV__CU_DADD(MV__CU_DMUL(MV__CU_DMUL(MV__CU_DMUL(x, x), MV__CU_DSUB(x, 2.0)), 3.0), 4.0) / 6.0;
    bw[2] = MV__CU_DADD(MV__CU_DMUL(MV__CU_DMUL(MV__CU_DMUL(y, y), MV__CU_DSUB(y, 2.0)), 3.0), 4.0) / 6.0;
    bw[3] = MV__CU_DSUB(MV__CU_DSUB(MV__CU_DSUB(1.0, bw[0]), bw[1]), bw[2]);
}
/* Stored index (voxel + 1) of the first of four taps of coordinate c on an
   axis of n >= 2 voxels, and their weights; outside, windows fold as the
   CPU's: mirror maps taps back, edge mode spreads tap -1-m over the stored
   -1 and 0 by the pole's powers (see mv__rs_taps). n == 1: one tap. */
static MV__CU_HD int64_t mv__cu_bs_taps(double c, int64_t n, int mirror, float w[4])
{
    double bw[4];
    if (n == 1) {
        w[0] = 1.0f;
        w[1] = w[2] = w[3] = 0.0f;
        return 1;
    }
    if (c >= 0 && c < (double)(n - 1)) { /* every tap stored */
        const double f = (double)(int64_t)c;
        mv__cu_bs_weights(MV__CU_DSUB(c, f), bw);
        for (int a = 0; a < 4; a++) w[a] = (float)bw[a];
        return (int64_t)f;
    }
    const double z = MV__CU_BS_POLE;
    double acc[4] = {0, 0, 0, 0};
    if (!(c >= -MV__CU_BS_FAR)) c = -MV__CU_BS_FAR; /* NaN too */
    if (c > (double)(n - 1) + MV__CU_BS_FAR) c = (double)(n - 1) + MV__CU_BS_FAR;
    const double f = mv__cu_bs_floor(c);
    mv__cu_bs_weights(MV__CU_DSUB(c, f), bw);
    const int64_t fi = (int64_t)f, s = fi - 1 < -1 ? -1 : fi - 1 > n - 3 ? n - 3 : fi - 1;
    for (int a = 0; a < 4; a++) {
        const int64_t k = fi - 1 + a;
        int64_t at[2] = {k, k};
        double wt[2] = {bw[a], 0};
        int np = 1;
        if (k < -1 || k > n) {
            if (mirror) {
                at[0] = mv__cu_bs_mirror(k, n);
            } else {
                const int left = k < -1;
                const double p = mv__cu_bs_pole_pow(left ? -1 - k : k - n);
                at[0] = left ? -1 : n;
                at[1] = left ? 0 : n - 1;
                wt[0] = MV__CU_DMUL(bw[a], MV__CU_DADD(MV__CU_DSUB(1.0, p) / MV__CU_DSUB(1.0, z), p));
                wt[1] = MV__CU_DMUL(-bw[a], MV__CU_DMUL(z, MV__CU_DSUB(1.0, p)) / MV__CU_DSUB(1.0, z));
                np = 2;
            }
        }
        for (int q = 0; q < np; q++) {
            int64_t slot = at[q] - s;
            slot = slot < 0 ? 0 : slot > 3 ? 3 : slot; /* only (near) zero weights fall outside the window */
            acc[slot] = MV__CU_DADD(acc[slot], wt[q]);
        }
    }
    for (int a = 0; a < 4; a++) w[a] = (float)acc[a];
    return s + 1;
}

/* One cubic sample at input coordinates c from the coefficients C (stored
   dims n + 2): x taps summed first, then y, then z, in float32 (the CPU's
   mv__rs_sample), times post. */
static MV__CU_HD float mv__cu_bs_sample(const float *C, const int64_t n[3], const double c[3], int mirror, float post)
{
    float w[3][4];
    int64_t s[3];
    int T[3];
    const int64_t SX = n[0] + 2, SY = n[1] + 2;
    for (int a = 0; a < 3; a++) {
        s[a] = mv__cu_bs_taps(c[a], n[a], mirror, w[a]);
        T[a] = n[a] > 1 ? 4 : 1;
    }
    float acc = 0;
    for (int tz = 0; tz < T[2]; tz++) {
        float plane = 0;
        for (int ty = 0; ty < T[1]; ty++) {
            const float *r = C + ((s[2] + tz) * SY + (s[1] + ty)) * SX + s[0];
            float row = MV__CU_FMUL(w[0][0], r[0]);
            for (int tx = 1; tx < T[0]; tx++) row = MV__CU_FADD(row, MV__CU_FMUL(w[0][tx], r[tx]));
            plane = ty == 0 ? MV__CU_FMUL(w[1][0], row) : MV__CU_FADD(plane, MV__CU_FMUL(w[1][ty], row));
        }
        acc = tz == 0 ? MV__CU_FMUL(w[2][0], plane) : MV__CU_FADD(acc, MV__CU_FMUL(w[2][tz], plane));
    }
    return MV__CU_FMUL(acc, post);
}

/* One output frame (m: the map, frames = 1) from the coefficients */
static __global__ void mv__cu_cubic_kernel(mv__cu_bsjob j, float *__restrict__ out, mv__cu_rsmap m, float fill)
{
    float pre, post;
    mv__cu_bs_scale(*j.amax, &pre, &post);
    const int64_t rows = m.m[1] * m.m[2];
    MV__CU_FOR_ROWS(r, rows) {
        const int64_t y = r % m.m[1], z = r / m.m[1];
        float *orow = out + (z * m.m[1] + y) * m.m[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < m.m[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double c[3];
            mv__cu_rs_coords(m, x, y, z, c);
            orow[x] = m.fill && !mv__cu_rs_inside(m, c) ? fill : mv__cu_bs_sample(j.C, j.n, c, j.mirror, post);
        }
    }
}

/* The coefficient scratch of one frame of an n0 x n1 x n2 grid and the
   guard's word (stream-ordered), and its release */
static mv_status mv__cu_bs_begin(mv__cu_bsjob *j, const int64_t n[3], int mirror, cudaStream_t s)
{
    size_t cbytes = sizeof(float);
    for (int a = 0; a < 3; a++) {
        j->n[a] = n[a];
        j->k[a] = mv__cu_bs_consts(n[a]);
        cbytes *= (size_t)(n[a] + 2);
    }
    j->mirror = mirror;
    cbytes = (cbytes + 255) & ~(size_t)255;
    MV__CU_TRY(cudaMallocAsync((void **)&j->C, cbytes + 256, s));
    j->amax = (unsigned int *)(void *)((char *)j->C + cbytes);
    return MV_OK;
}
static void mv__cu_bs_end(mv__cu_bsjob *j, cudaStream_t s) { (void)cudaFreeAsync(j->C, s); }

/* Frame f of in (any real dtype, frames of j.n) into the coefficients:
   the x pass with the guard's maximum (and its scaled redo past 2^121),
   then the y and z passes (stream-ordered) */
static mv_status mv__cu_bs_prefilter(const mv_cuda_vol *in, int64_t f, const mv__cu_bsjob &j, int scaled, double slope,
                                     double inter, cudaStream_t s, const char *fn)
{
    const int threads = 128;
    const int64_t nf = j.n[0] * j.n[1] * j.n[2];
    mv_status st = MV_ERR_UNSUPPORTED;
    MV__CU_TRY(cudaMemsetAsync(j.amax, 0, sizeof(unsigned int), s));
    MV__CU_CASE_REAL(in->vol.dtype, S, {
        const S *frame = (const S *)in->vol.data + f * nf;
        for (int redo = 0; redo < 2; redo++)
            mv__cu_bs_x_kernel<S><<<mv__cu_blocks(j.n[1] * j.n[2], threads), threads, 0, s>>>(frame, j, scaled, slope,
                                                                                                inter, redo);
        st = MV_OK;
    })
    if (st != MV_OK) return mv_set_error(st, "%s: %s voxels", fn, mv_dtype_name(in->vol.dtype));
    mv__cu_bs_y_kernel<<<mv__cu_blocks((j.n[0] + 2) * j.n[2], threads), threads, 0, s>>>(j);
    mv__cu_bs_z_kernel<<<mv__cu_blocks((j.n[0] + 2) * (j.n[1] + 2), threads), threads, 0, s>>>(j);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* The frames of in resampled by cubic B-splines into the float32 f32 (m's
   output grid, frame after frame): per frame the prefilter, then the
   samples. Stream-ordered; allocates the coefficients of one frame. */
static mv_status mv__cu_cubic_run(const mv_cuda_vol *in, float *f32, const mv__cu_rsmap *m, int scaled, double slope,
                                  double inter, float fill, cudaStream_t s, const char *fn)
{
    mv__cu_bsjob j;
    mv_status st = MV_OK;
    mv__cu_rsmap one = *m;
    one.frames = 1;
    const dim3 grid = mv__cu_row_grid(m->m[0], m->m[1] * m->m[2]);
    MV__CU_STRY(mv__cu_bs_begin(&j, m->n, m->fill, s)); /* the CPU's choice: mirror inside when outside is filled */
    for (int64_t f = 0; f < m->frames && st == MV_OK; f++) {
        st = mv__cu_bs_prefilter(in, f, j, scaled, slope, inter, s, fn);
        if (st != MV_OK) break;
        mv__cu_cubic_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>(j, f32 + f * m->out_frame, one, fill);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) st = mv__cu_fail(e, fn);
    }
    mv__cu_bs_end(&j, s);
    return st;
}

/* An outside sample of nearest resampling as one stored element, as the
   CPU's resampler makes it: RGB channels clamped to 0..255 (alpha 255),
   anything else converted from float64 with the output's rounding. */
static mv_status mv__cu_rs_fill_bytes(double fill, mv_dtype dt, mv_round rounding, unsigned char *b)
{
    mv_convert_opts co;
    memset(b, 0, 16);
    if (dt == MV_DT_RGB24 || dt == MV_DT_RGBA32) {
        double v = fill != fill ? 0 : fill < 0 ? 0 : fill > 255 ? 255 : nearbyint(fill);
        b[0] = b[1] = b[2] = (unsigned char)v;
        b[3] = 255; /* beyond an rgb24 element: never copied */
        return MV_OK;
    }
    memset(&co, 0, sizeof(co));
    co.rounding = rounding;
    return mv_convert_buffer(&fill, MV_DT_F64, b, dt, 1, &co);
}

static mv_status mv__cu_resample_run(const mv_cuda_vol *in, mv_cuda_vol *out, mv__cu_rsmap *m,
                                     const mv_cuda_resample_opts *o, cudaStream_t s, const char *fn)
{
    int active = 0, a;
    double slope = 1, inter = 0;
    mv_dtype odt = out->vol.dtype, idt = in->vol.dtype;
    int64_t count;
    mv_status st = MV_ERR_UNSUPPORTED;
    dim3 grid;
    const int cubic = o->interp == MV_CUDA_INTERP_CUBIC;
    MV__CU_CHECK(o->interp == MV_CUDA_INTERP_LINEAR || o->interp == MV_CUDA_INTERP_NEAREST || cubic, MV_ERR_INVALID_ARG,
                 "%s: interpolation %d (0 linear, 1 nearest, 2 cubic)", fn, o->interp);
    for (a = 0; a < 3; a++) {
        m->n[a] = mv__cu_dim(&in->vol, a);
        m->m[a] = mv__cu_dim(&out->vol, a);
    }
    for (a = 3; a < MV_MAX_DIMS; a++)
        MV__CU_CHECK(mv__cu_dim(&in->vol, a) == mv__cu_dim(&out->vol, a), MV_ERR_INVALID_ARG,
                     "%s: output dim[%d] must be the input's", fn, a);
    m->in_frame = m->n[0] * m->n[1] * m->n[2];
    m->out_frame = m->m[0] * m->m[1] * m->m[2];
    m->frames = mv_vol_count(&in->vol) / m->in_frame;
    m->linear = o->interp == MV_CUDA_INTERP_LINEAR;
    m->fill = o->fill_outside;
    count = mv_vol_count(&out->vol);
    if (count == 0) return MV_OK;
    grid = mv__cu_row_grid(m->m[0], m->m[1] * m->m[2] * m->frames);
    if (!m->linear && !cubic && odt == idt) { /* stored values, any dtype */
        unsigned char fillb[16];
        MV__CU_STRY(mv__cu_rs_fill_bytes(o->fill, odt, o->rounding, fillb));
        MV__CU_CASE_SIZE(mv_dtype_size(idt), T, {
            T fill;
            memcpy(&fill, fillb, sizeof(T));
            mv__cu_nearest_kernel<T><<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const T *)in->vol.data, (T *)out->vol.data, *m, fill);
            st = MV_OK;
        })
        if (st != MV_OK) return mv_set_error(st, "%s: %s voxels", fn, mv_dtype_name(idt));
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    MV__CU_CHECK(mv__cu_is_gpu_real(idt) && mv__cu_is_gpu_real(odt), MV_ERR_UNSUPPORTED, "%s: %s -> %s", fn,
                 mv_dtype_name(idt), mv_dtype_name(odt));
    MV__CU_STRY(mv__cu_scaling(&in->vol, o->raw, 1, &active, &slope, &inter));
    {
        float *f32 = (float *)out->vol.data;
        float fillf = (float)o->fill;
        if (odt != MV_DT_F32) MV__CU_TRY(cudaMallocAsync((void **)&f32, (size_t)count * sizeof(float), s));
        if (cubic) st = mv__cu_cubic_run(in, f32, m, active, slope, inter, fillf, s, fn);
        else MV__CU_CASE_REAL(idt, S, {
            if (m->separable)
                mv__cu_resample_sep_kernel<S><<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const S *)in->vol.data, f32, *m, active, slope,
                                                                   inter, fillf);
            else
                mv__cu_resample_kernel<S><<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const S *)in->vol.data, f32, *m, active, slope, inter,
                                                               fillf);
            st = MV_OK;
        })
        if (st == MV_OK && !cubic) {
            cudaError_t e = cudaGetLastError();
            if (e != cudaSuccess) st = mv__cu_fail(e, fn);
        }
        if (st == MV_OK && odt != MV_DT_F32) {
            /* outside voxels carry (float)fill through the cast, as the CPU's float32 pipeline does */
            st = mv__cu_convert_n(f32, MV_DT_F32, out->vol.data, odt, count, 0, 1, 0, o->rounding, s);
        }
        if (odt != MV_DT_F32) (void)cudaFreeAsync(f32, s);
    }
    return st;
}

MVCDEF mv_status mv_cuda_resample_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double vox_map[4][4],
                                       const mv_cuda_resample_opts *opts, mv_cuda_stream stream)
{
    mv_cuda_resample_opts o;
    mv__cu_rsmap m;
    int r, c;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_resample_into", "input"));
    MV__CU_STRY(mv__cu_check_vol(out, "mv_cuda_resample_into", "output"));
    MV__CU_CHECK(vox_map != NULL, MV_ERR_INVALID_ARG, "mv_cuda_resample_into: vox_map is NULL");
    memset(&m, 0, sizeof(m));
    m.separable = 1;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) {
            MV__CU_CHECK(isfinite(vox_map[r][c]), MV_ERR_INVALID_ARG, "mv_cuda_resample_into: vox_map not finite");
            m.M[r][c] = vox_map[r][c];
            /* the CPU's test for an axis-aligned map */
            if (c < 3 && r != c &&
                fabs(vox_map[r][c]) * (double)(mv__cu_dim(&out->vol, c) > 1 ? mv__cu_dim(&out->vol, c) - 1 : 1) > 1e-9)
                m.separable = 0;
        }
    for (r = 0; r < 3; r++) {
        m.s[r] = vox_map[r][r];
        m.u[r] = 0;
        m.v[r] = vox_map[r][3];
    }
    return mv__cu_resample_run(in, out, &m, &o, stream, "mv_cuda_resample_into");
}

MVCDEF mv_status mv_cuda_resample_shape(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                        const mv_cuda_resample_opts *opts, mv_cuda_stream stream)
{
    mv_cuda_resample_opts o;
    mv__cu_rsmap m;
    mv_cuda_vol res;
    int64_t dims[MV_MAX_DIMS];
    double M[4][4], aff[4][4];
    mv_dtype odt;
    int a, r, c, align;
    mv_status st;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_resample_shape", "input"));
    MV__CU_CHECK(out != NULL && shape != NULL, MV_ERR_INVALID_ARG, "mv_cuda_resample_shape: NULL argument");
    align = o.align_corners;
    memset(&m, 0, sizeof(m));
    m.separable = 1;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) M[r][c] = r == c ? 1.0 : 0.0;
    for (a = 0; a < MV_MAX_DIMS; a++) dims[a] = mv__cu_dim(&in->vol, a);
    for (a = 0; a < 3; a++) {
        int64_t n = dims[a], mm;
        MV__CU_CHECK(shape[a] >= 0, MV_ERR_INVALID_ARG, "mv_cuda_resample_shape: shape[%d] = %lld", a,
                     (long long)shape[a]);
        mm = shape[a] == 0 ? n : shape[a];
        dims[a] = mm;
        /* scipy zoom: in/out per axis (grid mode), (in-1)/(out-1) with align corners, 1 for one voxel */
        m.s[a] = !align ? (double)n / (double)mm : mm > 1 ? (double)(n - 1) / (double)(mm - 1) : 1.0;
        m.u[a] = align ? 0.0 : 0.5;
        m.v[a] = align ? 0.0 : -0.5;
        M[a][a] = m.s[a];
        M[a][3] = (0.0 + m.u[a]) * m.s[a] + m.v[a];
        m.M[a][a] = M[a][a];
        m.M[a][3] = M[a][3];
    }
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            aff[r][c] = in->vol.affine[r][0] * M[0][c] + in->vol.affine[r][1] * M[1][c] +
                        in->vol.affine[r][2] * M[2][c] + in->vol.affine[r][3] * M[3][c];
    odt = o.dtype ? o.dtype : o.interp == MV_CUDA_INTERP_NEAREST ? in->vol.dtype : MV_DT_F32;
    MV__CU_STRY(mv__cu_alloc_like(&res, &in->vol, odt, in->vol.ndim < 3 ? 3 : in->vol.ndim, dims, stream));
    memcpy(res.vol.affine, aff, sizeof(aff));
    for (a = 0; a < 3; a++) /* column norms of the new affine, as nibabel voxel_sizes */
        res.vol.spacing[a] = sqrt(aff[0][a] * aff[0][a] + aff[1][a] * aff[1][a] + aff[2][a] * aff[2][a]);
    st = mv__cu_resample_run(in, &res, &m, &o, stream, "mv_cuda_resample_shape");
    if (st != MV_OK) {
        mv_cuda_free(&res, stream);
        return st;
    }
    if (!(o.interp == MV_CUDA_INTERP_NEAREST && odt == in->vol.dtype) && !o.raw) {
        res.vol.meta.scl_slope = 1.0; /* the scaling was applied */
        res.vol.meta.scl_inter = 0.0;
    }
    *out = res;
    return MV_OK;
}

/* ---- filters: the Gaussian FIR ------------------------------------------------ */

/* The element that position i (any integer) of a line of n stands for under
   the mode (scipy's extension, also for kernels longer than the line);
   -1 = the constant. The CPU's mv__fl_ext. */
static MV__CU_HD int64_t mv__cu_fl_ext(int64_t i, int64_t n, int mode)
{
    int64_t p, m;
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case MV_BOUNDARY_NEAREST: return i < 0 ? 0 : n - 1;
    case MV_BOUNDARY_CONSTANT: return -1;
    case MV_BOUNDARY_WRAP: m = i % n; return m < 0 ? m + n : m;
    case MV_BOUNDARY_MIRROR:
        if (n == 1) return 0;
        p = 2 * n - 2;
        m = i % p;
        if (m < 0) m += p;
        return m >= n ? p - m : m;
    default: /* reflect */
        p = 2 * n;
        m = i % p;
        if (m < 0) m += p;
        return m >= n ? p - 1 - m : m;
    }
}

/* One FIR pass along a line: the output at position i of a line of n
   elements at `line` with `stride`, weights w[0..r] of a symmetric kernel
   (anti: antisymmetric, a first derivative). Interior outputs read their
   taps directly; those near an end go through the extension. The CPU's
   mv__fl_line_ref order: w0 c (anti: 0), then + w_k (c[-k] + c[+k]) (anti:
   w_k (c[-k] - c[+k])) for k = 1..r, each product and sum rounded to
   float32. */
static MV__CU_HD float mv__cu_fl_fir_at(const float *line, int64_t stride, int64_t i, int64_t n, const float *w, int r,
                                        int anti, int mode, float cval)
{
    float acc = anti ? 0.0f : MV__CU_FMUL(w[0], line[i * stride]);
    if (i >= r && i + r < n) {
        for (int k = 1; k <= r; k++) {
            const float a = line[(i - k) * stride], b = line[(i + k) * stride];
            acc = MV__CU_FADD(acc, MV__CU_FMUL(w[k], anti ? MV__CU_FSUB(a, b) : MV__CU_FADD(a, b)));
        }
    } else {
        for (int k = 1; k <= r; k++) {
            int64_t lo = mv__cu_fl_ext(i - k, n, mode), hi = mv__cu_fl_ext(i + k, n, mode);
            float a = lo < 0 ? cval : line[lo * stride], b = hi < 0 ? cval : line[hi * stride];
            acc = MV__CU_FADD(acc, MV__CU_FMUL(w[k], anti ? MV__CU_FSUB(a, b) : MV__CU_FADD(a, b)));
        }
    }
    return acc;
}

/* One axis pass over every frame: out = FIR along `axis` of in (both
   float32, dims n[0..2] x frames). One thread per output voxel, rows of x
   across a warp: the taps of the y and z passes are coalesced row reads. */
static __global__ void mv__cu_fl_pass_kernel(const float *__restrict__ in, float *__restrict__ out, int64_t n0, int64_t n1,
                                             int64_t n2, int64_t frames, int axis, const float *__restrict__ w, int r,
                                             int anti, int mode, float cval)
{
    const int64_t rows = n1 * n2 * frames;
    const int64_t stride = axis == 0 ? 1 : axis == 1 ? n0 : n0 * n1, n = axis == 0 ? n0 : axis == 1 ? n1 : n2;
    MV__CU_FOR_ROWS(row, rows) {
        int64_t y, z, f;
        mv__cu_split_row(row, n1, n2, y, z, f);
        const int64_t base = ((f * n2 + z) * n1 + y) * n0;
        const int64_t pos = axis == 0 ? 0 : axis == 1 ? y : z;
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < n0; x += (int64_t)gridDim.x * blockDim.x) {
            const int64_t i = axis == 0 ? x : pos;
            out[base + x] = mv__cu_fl_fir_at(in + base + x - i * stride, stride, i, n, w, r, anti, mode, cval);
        }
    }
}

/* ---- filters: the recursive Gaussian and the box, a thread per line ---------- */

/* Element i (any integer) of a line under the mode, as float32 */
static MV__CU_HD float mv__cu_fl_at(const float *line, int64_t stride, int64_t i, int64_t n, int mode, float cval)
{
    const int64_t s = mv__cu_fl_ext(i, n, mode);
    return s < 0 ? cval : line[s * stride];
}

/* The recursive Gaussian along one line of n elements (src and dst at
   `stride`; may be the same line): the CPU's mv__fl_iir_ref on the line
   padded by `pad` elements of the mode's extension on each side, float32
   operations in its order (no FMA), then times the gain. c: the 14
   constants of mv_gaussian_recursive_coefs. buf: the forward pass's n + 2
   pad values at `bstride` (a thread's own column of the scratch, so a warp
   writes them coalesced). */
static MV__CU_HD void mv__cu_fl_iir_line(const float *src, float *dst, int64_t stride, int64_t n, int64_t pad,
                                         const float *c, float *buf, int64_t bstride, int mode, float cval)
{
    const float a1 = c[0], a2 = c[1], a3 = c[2], S = c[3], gain = c[13];
    const float *M = c + 4;
    const int64_t len = n + 2 * pad;
    const float up = MV__CU_FDIV(mv__cu_fl_at(src, stride, n + pad - 1, n, mode, cval), S), vp = MV__CU_FDIV(up, S);
    float w1 = MV__CU_FDIV(mv__cu_fl_at(src, stride, -pad, n, mode, cval), S), w2 = w1, w3 = w1;
    for (int64_t q = 0; q < len; q++) { /* causal pass */
        const float x = mv__cu_fl_at(src, stride, q - pad, n, mode, cval);
        const float w = MV__CU_FADD(MV__CU_FADD(MV__CU_FADD(x, MV__CU_FMUL(a1, w1)), MV__CU_FMUL(a2, w2)), MV__CU_FMUL(a3, w3));
        buf[q * bstride] = w;
        w3 = w2;
        w2 = w1;
        w1 = w;
    }
    /* Triggs-Sdika: the anticausal pass's state at the end for a constant
       continuation of the input */
    const float u0 = MV__CU_FSUB(buf[(len - 1) * bstride], up), u1 = MV__CU_FSUB(buf[(len - 2) * bstride], up),
                u2 = MV__CU_FSUB(buf[(len - 3) * bstride], up);
    float y1 = MV__CU_FADD(MV__CU_FADD(MV__CU_FADD(MV__CU_FMUL(M[0], u0), MV__CU_FMUL(M[1], u1)), MV__CU_FMUL(M[2], u2)), vp);
    float y2 = MV__CU_FADD(MV__CU_FADD(MV__CU_FADD(MV__CU_FMUL(M[3], u0), MV__CU_FMUL(M[4], u1)), MV__CU_FMUL(M[5], u2)), vp);
    float y3 = MV__CU_FADD(MV__CU_FADD(MV__CU_FADD(MV__CU_FMUL(M[6], u0), MV__CU_FMUL(M[7], u1)), MV__CU_FMUL(M[8], u2)), vp);
    /* anticausal pass down to the line's first element (the padding before
       it is computed by the CPU but never read) */
    for (int64_t q = len - 2; q >= pad; q--) {
        const float y = MV__CU_FADD(MV__CU_FADD(MV__CU_FADD(buf[q * bstride], MV__CU_FMUL(a1, y1)), MV__CU_FMUL(a2, y2)),
                                    MV__CU_FMUL(a3, y3));
        if (q < pad + n) dst[(q - pad) * stride] = MV__CU_FMUL(y, gain);
        y3 = y2;
        y2 = y1;
        y1 = y;
    }
}

/* scipy's uniform_filter1d along one line (src and dst at `stride`,
   different lines): the CPU's mv__fl_box_ref, a float64 running sum, the
   first window added in order and divided by the size, then each step
   adding (new - old) / size, each output rounded to float32. */
static MV__CU_HD void mv__cu_fl_box_line(const float *src, float *dst, int64_t stride, int64_t n, int r, int mode,
                                         float cval)
{
    const double size = (double)(2 * r + 1), inv = MV__CU_DDIV(1.0, size);
    double acc = 0.0;
    for (int64_t k = -r; k <= r; k++) acc = MV__CU_DADD(acc, (double)mv__cu_fl_at(src, stride, k, n, mode, cval));
    acc = MV__CU_DDIV(acc, size);
    dst[0] = (float)acc;
    for (int64_t j = 1; j < n; j++) {
        const double add = (double)mv__cu_fl_at(src, stride, j + r, n, mode, cval),
                     sub = (double)mv__cu_fl_at(src, stride, j - 1 - r, n, mode, cval);
        acc = MV__CU_DADD(acc, MV__CU_DMUL(MV__CU_DSUB(add, sub), inv));
        dst[j * stride] = (float)acc;
    }
}

/* A pass of a line filter (recursive Gaussian or box) along an axis of n
   elements whose lines start `inner` elements apart (1, n0, n0 n1): line L
   = i + inner * o starts at i + o * inner * n. One thread per line; lines
   adjacent in L are adjacent in memory for the y and z passes (coalesced),
   rows for the x pass (each thread walks its own row). */
static __global__ void mv__cu_fl_lines_kernel(const float *in, float *out, int64_t n, int64_t inner, int64_t lines,
                                              int box, int r, const float *__restrict__ c, float *buf, int mode,
                                              float cval)
{
    for (int64_t L = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; L < lines; L += (int64_t)gridDim.x * blockDim.x) {
        const int64_t o = L / inner, base = (L - o * inner) + o * inner * n;
        if (box) mv__cu_fl_box_line(in + base, out + base, inner, n, r, mode, cval);
        else mv__cu_fl_iir_line(in + base, out + base, inner, n, r, c, buf + L, lines, mode, cval);
    }
}

/* ---- filters: plans and the driver -------------------------------------------- */

enum { MV__CU_FL_NONE = 0, MV__CU_FL_FIR, MV__CU_FL_IIR, MV__CU_FL_BOX };

/* The per-axis filters of a call, as the CPU's mv__fl_run sets them up. */
typedef struct mv__cu_fl_plan {
    int kind[3];   /* MV__CU_FL_*; NONE leaves the axis as it is */
    int active[3]; /* kind != NONE */
    int r[3];      /* FIR and box: radius; recursive: the margin filtered beyond each end */
    int anti[3];   /* FIR: antisymmetric kernel (first derivative) */
    float *w[3];   /* host, MV__CU_FL_MAXR + 1 floats each: FIR weights w[0..r]; recursive: the 14 constants */
    int zyx;       /* passes z, y, x (scipy's order; see the CPU's mv__fl_run) */
} mv__cu_fl_plan;
#define MV__CU_FL_MAXR 4096

static mv_status mv__cu_fl_check_opts(const mv_filter_opts *o, const char *fn)
{
    MV__CU_CHECK(isfinite(o->truncate) && o->truncate >= 0, MV_ERR_INVALID_ARG, "%s: truncate %g", fn, o->truncate);
    MV__CU_CHECK((unsigned)o->mode <= (unsigned)MV_BOUNDARY_WRAP, MV_ERR_INVALID_ARG, "%s: mode %d", fn, (int)o->mode);
    MV__CU_CHECK(o->method == MV_FILTER_AUTO || o->method == MV_FILTER_FIR || o->method == MV_FILTER_RECURSIVE,
                 MV_ERR_INVALID_ARG, "%s: method %d", fn, o->method);
    return MV_OK;
}

/* The CPU's rule: an axis of length 1 is left alone by a smoothing filter
   unless the mode is constant (a derivative runs: its weights sum to ~0). */
static void mv__cu_fl_skip_flat(const mv_vol *in, const mv_filter_opts *o, const int *order, mv__cu_fl_plan *p)
{
    for (int a = 0; a < 3; a++) {
        if (p->kind[a] != MV__CU_FL_NONE && mv__cu_dim(in, a) == 1 && o->mode != MV_BOUNDARY_CONSTANT &&
            !(order && order[a] > 0))
            p->kind[a] = MV__CU_FL_NONE;
        p->active[a] = p->kind[a] != MV__CU_FL_NONE;
    }
}

/* Gaussian (order NULL) or derivative axes: FIR, or recursive where the
   CPU's mv_gaussian would run it (order 0 with method RECURSIVE, or AUTO
   above MV_FILTER_RECURSIVE_SIGMA voxels). wbuf: 3 (MV__CU_FL_MAXR + 1). */
static mv_status mv__cu_fl_setup(const mv_vol *in, const double sigma[3], const int *order, const mv_filter_opts *o,
                                  float *wbuf, mv__cu_fl_plan *p, const char *fn)
{
    const double truncate = o->truncate > 0 ? o->truncate : 4.0;
    int a;
    memset(p, 0, sizeof(*p));
    MV__CU_CHECK(sigma != NULL, MV_ERR_INVALID_ARG, "%s: sigma is NULL", fn);
    MV__CU_STRY(mv__cu_fl_check_opts(o, fn));
    for (a = 0; a < 3; a++) {
        double s = sigma[a];
        int ord = order ? order[a] : 0;
        MV__CU_CHECK(isfinite(s) && s >= 0, MV_ERR_INVALID_ARG, "%s: sigma[%d] = %g (must be finite and >= 0)", fn, a, s);
        MV__CU_CHECK(ord >= 0 && ord <= 2, MV_ERR_INVALID_ARG, "%s: order[%d] = %d (0, 1 or 2)", fn, a, ord);
        if (o->sigma_in_mm && s > 0) {
            double sp = a < in->ndim ? in->spacing[a] : 1.0;
            MV__CU_CHECK(isfinite(sp) && sp > 0, MV_ERR_INVALID_ARG, "%s: sigma in mm needs spacing[%d] > 0 (it is %g)",
                         fn, a, sp);
            s /= sp;
        }
        p->w[a] = wbuf + (size_t)a * (MV__CU_FL_MAXR + 1);
        if (!(s > 1e-15)) continue; /* scipy skips the axis */
        if (ord == 0 && (o->method == MV_FILTER_RECURSIVE || (o->method == MV_FILTER_AUTO && s > MV_FILTER_RECURSIVE_SIGMA))) {
            p->kind[a] = MV__CU_FL_IIR;
            MV__CU_STRY(mv_gaussian_recursive_coefs(s, truncate, p->w[a], &p->r[a]));
            continue;
        }
        int r = 0;
        MV__CU_STRY(mv_gaussian_kernel(s, ord, truncate, NULL, 0, &r));
        MV__CU_CHECK(r <= MV__CU_FL_MAXR, MV_ERR_INVALID_ARG, "%s: sigma[%d] = %g voxels needs a kernel radius %d (over %d)",
                     fn, a, s, r, MV__CU_FL_MAXR);
        MV__CU_STRY(mv_gaussian_kernel(s, ord, truncate, p->w[a], MV__CU_FL_MAXR + 1, &r));
        p->kind[a] = MV__CU_FL_FIR;
        p->r[a] = r;
        p->anti[a] = ord == 1;
        if (ord > 0 && o->mode == MV_BOUNDARY_CONSTANT) p->zyx = 1;
    }
    mv__cu_fl_skip_flat(in, o, order, p);
    return MV_OK;
}

static mv_status mv__cu_fl_setup_box(const mv_vol *in, const int64_t radius[3], const mv_filter_opts *o,
                                      mv__cu_fl_plan *p, const char *fn)
{
    memset(p, 0, sizeof(*p));
    MV__CU_CHECK(radius != NULL, MV_ERR_INVALID_ARG, "%s: radius is NULL", fn);
    MV__CU_STRY(mv__cu_fl_check_opts(o, fn));
    for (int a = 0; a < 3; a++) {
        MV__CU_CHECK(radius[a] >= 0 && radius[a] < ((int64_t)1 << 28), MV_ERR_INVALID_ARG, "%s: radius[%d] = %lld", fn, a,
                     (long long)radius[a]);
        if (radius[a] > 0) p->kind[a] = MV__CU_FL_BOX, p->r[a] = (int)radius[a];
    }
    mv__cu_fl_skip_flat(in, o, NULL, p);
    return MV_OK;
}

/* in (any real dtype, scaled unless raw) filtered by plan p into out
   (float32, in's dims; may be in): the values as float32 (the CPU's line
   conversion), then one pass per active axis, x y z (z y x for p->zyx),
   ping-ponging between out and a scratch volume so the last pass lands in
   out (the conversion writes out or the scratch by the number of passes).
   wbuf: the plan's host weights, uploaded once (NULL when every pass is a
   box). The recursive passes also take a scratch of n + 2 margin
   floats per line. */
static mv_status mv__cu_fl_run(const mv_cuda_vol *in, mv_cuda_vol *out, const mv__cu_fl_plan *p, const float *wbuf,
                               const mv_filter_opts *o, cudaStream_t s, const char *fn)
{
    const size_t wbytes = sizeof(float) * 3 * (MV__CU_FL_MAXR + 1);
    float *wdev = NULL, *tmp = NULL, *buf = NULL;
    int64_t n[3], frames, count, bufn = 0;
    int a, k, active = 0, npass = 0, need_w = 0;
    double slope = 1, inter = 0;
    mv_status st = MV_OK;
    cudaError_t e = cudaSuccess;
    MV__CU_CHECK(o->mode != MV_BOUNDARY_CONSTANT || !isnan(o->cval), MV_ERR_INVALID_ARG, "%s: cval is NaN", fn);
    if (!o->raw) MV__CU_STRY(mv__cu_scaling(&in->vol, 0, 1, &active, &slope, &inter));
    for (a = 0; a < 3; a++) n[a] = mv__cu_dim(&in->vol, a);
    count = mv_vol_count(&in->vol);
    if (count == 0) return MV_OK;
    frames = count / (n[0] * n[1] * n[2]);
    for (a = 0; a < 3; a++) {
        if (!p->active[a]) continue;
        npass++;
        if (p->kind[a] != MV__CU_FL_BOX) need_w = 1;
        if (p->kind[a] == MV__CU_FL_IIR) {
            const int64_t len = n[a] + 2 * (int64_t)p->r[a];
            MV__CU_CHECK((double)len * (double)(count / n[a]) * 4.0 < 9.2e18, MV_ERR_SIZE_OVERFLOW,
                         "%s: the recursive pass's line scratch overflows", fn);
            if (len * (count / n[a]) > bufn) bufn = len * (count / n[a]);
        }
    }
    if (npass == 0)
        return mv__cu_convert_n(in->vol.data, in->vol.dtype, out->vol.data, MV_DT_F32, count, active, slope, inter,
                                MV_ROUND_NEAREST, s);
    e = cudaMallocAsync((void **)&tmp, (size_t)count * sizeof(float), s);
    if (e == cudaSuccess && need_w) e = cudaMallocAsync((void **)&wdev, wbytes, s);
    if (e == cudaSuccess && bufn > 0) e = cudaMallocAsync((void **)&buf, (size_t)bufn * sizeof(float), s);
    if (e == cudaSuccess && need_w) e = cudaMemcpyAsync(wdev, wbuf, wbytes, cudaMemcpyHostToDevice, s);
    if (e != cudaSuccess) st = mv__cu_fail(e, fn);
    /* the values go to tmp for an odd number of passes, so the last lands in out */
    float *src = npass % 2 ? tmp : (float *)out->vol.data, *dst = npass % 2 ? (float *)out->vol.data : tmp;
    if (st == MV_OK)
        st = mv__cu_convert_n(in->vol.data, in->vol.dtype, src, MV_DT_F32, count, active, slope, inter, MV_ROUND_NEAREST,
                              s);
    for (k = 0; k < 3 && st == MV_OK; k++) {
        a = p->zyx ? 2 - k : k;
        if (!p->active[a]) continue;
        const float *w = wdev ? wdev + (size_t)a * (MV__CU_FL_MAXR + 1) : NULL; /* the box reads none */
        if (p->kind[a] == MV__CU_FL_FIR) {
            mv__cu_fl_pass_kernel<<<mv__cu_row_grid(n[0], n[1] * n[2] * frames), MV__CU_ROW_BLOCK, 0, s>>>(
                src, dst, n[0], n[1], n[2], frames, a, w, p->r[a], p->anti[a], (int)o->mode, (float)o->cval);
        } else {
            const int64_t inner = a == 0 ? 1 : a == 1 ? n[0] : n[0] * n[1], lines = count / n[a];
            mv__cu_fl_lines_kernel<<<mv__cu_blocks(lines, 128), 128, 0, s>>>(src, dst, n[a], inner, lines,
                                                                             p->kind[a] == MV__CU_FL_BOX, p->r[a], w,
                                                                             buf, (int)o->mode, (float)o->cval);
        }
        e = cudaGetLastError();
        if (e != cudaSuccess) st = mv__cu_fail(e, fn);
        float *t = src;
        src = dst;
        dst = t;
    }
    if (tmp) (void)cudaFreeAsync(tmp, s);
    if (wdev) (void)cudaFreeAsync(wdev, s);
    if (buf) (void)cudaFreeAsync(buf, s);
    return st;
}

/* the checks every _into filter makes of in and out */
static mv_status mv__cu_fl_check_io(const mv_cuda_vol *in, const mv_cuda_vol *out, const char *fn)
{
    MV__CU_STRY(mv__cu_check_vol(in, fn, "input"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "output"));
    MV__CU_CHECK(out->vol.dtype == MV_DT_F32, MV_ERR_INVALID_ARG, "%s: output dtype %s (must be float32)", fn,
                 mv_dtype_name(out->vol.dtype));
    MV__CU_CHECK(mv__cu_same_dims(&in->vol, &out->vol), MV_ERR_INVALID_ARG, "%s: output dims differ from the input's", fn);
    MV__CU_CHECK(mv__cu_is_gpu_real(in->vol.dtype), MV_ERR_INVALID_ARG, "%s: %s voxels (a real dtype is needed)", fn,
                 mv_dtype_name(in->vol.dtype));
    MV__CU_CHECK(out->vol.data != in->vol.data || in->vol.dtype == MV_DT_F32, MV_ERR_INVALID_ARG,
                 "%s: in place (out == in) needs a float32 input", fn);
    return MV_OK;
}

/* Gaussian / derivative (radius NULL; order NULL: no derivative) or box
   (radius) of in into out */
static mv_status mv__cu_fl_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double *sigma, const int *order,
                                const int64_t *radius, const mv_filter_opts *opts, mv_cuda_stream stream, const char *fn)
{
    mv_filter_opts o;
    mv__cu_fl_plan p;
    float *wbuf;
    mv_status st;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_fl_check_io(in, out, fn));
    if (radius) { /* the box has no weights */
        MV__CU_STRY(mv__cu_fl_setup_box(&in->vol, radius, &o, &p, fn));
        return mv__cu_fl_run(in, out, &p, NULL, &o, (cudaStream_t)stream, fn);
    }
    wbuf = (float *)malloc(sizeof(float) * 3 * (MV__CU_FL_MAXR + 1));
    MV__CU_CHECK(wbuf != NULL, MV_ERR_OUT_OF_MEMORY, "%s: kernel weights", fn);
    st = mv__cu_fl_setup(&in->vol, sigma, order, &o, wbuf, &p, fn);
    if (st == MV_OK) st = mv__cu_fl_run(in, out, &p, wbuf, &o, (cudaStream_t)stream, fn);
    /* wbuf may go now: a copy from pageable memory returns once the bytes are staged */
    free(wbuf);
    return st;
}

/* What an allocating form computes: the Gaussian / derivative / box of
   mv__cu_fl_into, or the gradient */
typedef struct mv__cu_fl_args {
    const double *sigma;
    const int *order;
    const int64_t *radius;
    int gradient;
} mv__cu_fl_args;

/* a float32 device volume of dims with in's metadata (scaling 1 / 0),
   filled as args say; out is set only on success */
static mv_status mv__cu_fl_alloc_run(const mv_cuda_vol *in, mv_cuda_vol *out, int ndim, const int64_t *dims,
                                     const mv__cu_fl_args *args, const mv_filter_opts *opts, mv_cuda_stream stream,
                                     const char *fn)
{
    mv_cuda_vol res;
    mv_status st;
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: output is NULL", fn);
    MV__CU_STRY(mv__cu_alloc_like(&res, &in->vol, MV_DT_F32, ndim, dims, (cudaStream_t)stream));
    res.vol.meta.scl_slope = 1;
    res.vol.meta.scl_inter = 0;
    st = args->gradient ? mv_cuda_gradient_into(in, &res, opts, stream)
                        : mv__cu_fl_into(in, &res, args->sigma, args->order, args->radius, opts, stream, fn);
    if (st != MV_OK) {
        mv_cuda_free(&res, stream);
        return st;
    }
    *out = res;
    return MV_OK;
}

MVCDEF mv_status mv_cuda_gaussian_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                       const mv_filter_opts *opts, mv_cuda_stream stream)
{
    return mv__cu_fl_into(in, out, sigma, NULL, NULL, opts, stream, "mv_cuda_gaussian_into");
}

MVCDEF mv_status mv_cuda_gaussian_derivative_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                                  const int order[3], const mv_filter_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(order != NULL, MV_ERR_INVALID_ARG, "mv_cuda_gaussian_derivative_into: order is NULL");
    return mv__cu_fl_into(in, out, sigma, order, NULL, opts, stream, "mv_cuda_gaussian_derivative_into");
}

MVCDEF mv_status mv_cuda_box_filter_into(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t radius[3],
                                         const mv_filter_opts *opts, mv_cuda_stream stream)
{
    MV__CU_CHECK(radius != NULL, MV_ERR_INVALID_ARG, "mv_cuda_box_filter_into: radius is NULL");
    return mv__cu_fl_into(in, out, NULL, NULL, radius, opts, stream, "mv_cuda_box_filter_into");
}

MVCDEF mv_status mv_cuda_gaussian(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                  const mv_filter_opts *opts, mv_cuda_stream stream)
{
    const mv__cu_fl_args args = {sigma, NULL, NULL, 0};
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_gaussian", "input"));
    return mv__cu_fl_alloc_run(in, out, in->vol.ndim, in->vol.dim, &args, opts, stream, "mv_cuda_gaussian");
}

MVCDEF mv_status mv_cuda_gaussian_derivative(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                             const int order[3], const mv_filter_opts *opts, mv_cuda_stream stream)
{
    const mv__cu_fl_args args = {sigma, order, NULL, 0};
    MV__CU_CHECK(order != NULL, MV_ERR_INVALID_ARG, "mv_cuda_gaussian_derivative: order is NULL");
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_gaussian_derivative", "input"));
    return mv__cu_fl_alloc_run(in, out, in->vol.ndim, in->vol.dim, &args, opts, stream, "mv_cuda_gaussian_derivative");
}

MVCDEF mv_status mv_cuda_box_filter(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t radius[3],
                                    const mv_filter_opts *opts, mv_cuda_stream stream)
{
    const mv__cu_fl_args args = {NULL, NULL, radius, 0};
    MV__CU_CHECK(radius != NULL, MV_ERR_INVALID_ARG, "mv_cuda_box_filter: radius is NULL");
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_box_filter", "input"));
    return mv__cu_fl_alloc_run(in, out, in->vol.ndim, in->vol.dim, &args, opts, stream, "mv_cuda_box_filter");
}

/* ---- filters: the gradient in world units ---------------------------------- */

struct mv__cu_grad_g {
    double G[9]; /* inv(A)^T, row-major: component c = sum_k G[3c + k] g_k */
};

/* The CPU's mv__fl_grad_span per voxel: numpy.gradient along x in float64
   (central, one-sided at the ends, 0 for a 1-voxel axis), y and z through
   their neighbour rows and factors, then the world components rounded to
   float32, no FMA. */
static MV__CU_HD void mv__cu_grad_voxel(const float *f, float *out, int64_t nx, int64_t ny, int64_t nz, int64_t x,
                                        int64_t y, int64_t z, const mv__cu_grad_g &g)
{
    const int64_t plane = nx * ny, vol = plane * nz, at = z * plane + y * nx;
    const float *r = f + z * plane + y * nx;
    const float *ym = y > 0 ? r - nx : r, *yp = y < ny - 1 ? r + nx : r;
    const float *zm = z > 0 ? r - plane : r, *zp = z < nz - 1 ? r + plane : r;
    const double hy = ny == 1 ? 0.0 : (y > 0 && y < ny - 1) ? 0.5 : 1.0;
    const double hz = nz == 1 ? 0.0 : (z > 0 && z < nz - 1) ? 0.5 : 1.0;
    double gx;
    if (nx == 1) gx = 0.0;
    else if (x == 0) gx = MV__CU_DSUB((double)r[1], (double)r[0]);
    else if (x == nx - 1) gx = MV__CU_DSUB((double)r[nx - 1], (double)r[nx - 2]);
    else gx = MV__CU_DMUL(0.5, MV__CU_DSUB((double)r[x + 1], (double)r[x - 1]));
    const double gy = MV__CU_DMUL(hy, MV__CU_DSUB((double)yp[x], (double)ym[x]));
    const double gz = MV__CU_DMUL(hz, MV__CU_DSUB((double)zp[x], (double)zm[x]));
    for (int c = 0; c < 3; c++)
        out[at + x + c * vol] = (float)MV__CU_DADD(
            MV__CU_DADD(MV__CU_DMUL(g.G[3 * c], gx), MV__CU_DMUL(g.G[3 * c + 1], gy)), MV__CU_DMUL(g.G[3 * c + 2], gz));
}

static __global__ void mv__cu_grad_kernel(const float *__restrict__ f, float *__restrict__ out, int64_t nx, int64_t ny,
                                          int64_t nz, mv__cu_grad_g g)
{
    MV__CU_FOR_ROWS(row, ny * nz) {
        int64_t y, z, frame; /* frame is 0: the gradient takes one volume */
        mv__cu_split_row(row, ny, nz, y, z, frame);
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < nx; x += (int64_t)gridDim.x * blockDim.x)
            mv__cu_grad_voxel(f, out, nx, ny, nz, x, y, z, g);
    }
}

MVCDEF mv_status mv_cuda_gradient_into(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_filter_opts *opts,
                                       mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_gradient_into";
    mv_filter_opts o;
    mv__cu_grad_g g;
    double I[4][4];
    int64_t n[3], count;
    int a, b, active = 0;
    double slope = 1, inter = 0;
    float *f32 = NULL;
    mv_status st = MV_OK;
    cudaStream_t s = (cudaStream_t)stream;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_check_vol(in, fn, "input"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "output"));
    MV__CU_CHECK(in->vol.ndim <= 3, MV_ERR_INVALID_ARG, "%s: input ndim = %d (a 3D volume; take frames one by one)", fn,
                 in->vol.ndim);
    MV__CU_CHECK(mv__cu_is_gpu_real(in->vol.dtype), MV_ERR_INVALID_ARG, "%s: %s voxels (a real dtype is needed)", fn,
                 mv_dtype_name(in->vol.dtype));
    for (a = 0; a < 3; a++) n[a] = mv__cu_dim(&in->vol, a);
    MV__CU_CHECK(out->vol.dtype == MV_DT_F32 && out->vol.ndim == 4 && out->vol.dim[0] == n[0] &&
                     out->vol.dim[1] == n[1] && out->vol.dim[2] == n[2] && out->vol.dim[3] == 3,
                 MV_ERR_INVALID_ARG, "%s: output must be float32 (%lld, %lld, %lld, 3)", fn, (long long)n[0],
                 (long long)n[1], (long long)n[2]);
    MV__CU_CHECK(out->vol.data != in->vol.data, MV_ERR_INVALID_ARG, "%s: out is the input", fn);
    MV__CU_CHECK(mv_affine_invert(in->vol.affine, I) == MV_OK, MV_ERR_INVALID_ARG,
                 "%s: the affine's 3x3 part is singular or not finite", fn);
    for (a = 0; a < 3; a++)
        for (b = 0; b < 3; b++) g.G[3 * a + b] = I[b][a];
    if (!o.raw) MV__CU_STRY(mv__cu_scaling(&in->vol, 0, 1, &active, &slope, &inter));
    count = n[0] * n[1] * n[2];
    if (count == 0) return MV_OK;
    if (in->vol.dtype == MV_DT_F32 && !active) {
        f32 = (float *)in->vol.data;
    } else {
        /* the CPU's float32 copy of the values */
        MV__CU_TRY(cudaMallocAsync((void **)&f32, (size_t)count * sizeof(float), s));
        st = mv__cu_convert_n(in->vol.data, in->vol.dtype, f32, MV_DT_F32, count, active, slope, inter,
                              MV_ROUND_NEAREST, s);
    }
    if (st == MV_OK) {
        mv__cu_grad_kernel<<<mv__cu_row_grid(n[0], n[1] * n[2]), MV__CU_ROW_BLOCK, 0, s>>>(f32, (float *)out->vol.data,
                                                                                         n[0], n[1], n[2], g);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) st = mv__cu_fail(e, fn);
    }
    if (f32 != (float *)in->vol.data) (void)cudaFreeAsync(f32, s);
    return st;
}

MVCDEF mv_status mv_cuda_gradient(const mv_cuda_vol *in, mv_cuda_vol *out, const mv_filter_opts *opts,
                                  mv_cuda_stream stream)
{
    const mv__cu_fl_args args = {NULL, NULL, NULL, 1};
    int64_t dims[4];
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_gradient", "input"));
    MV__CU_CHECK(in->vol.ndim <= 3, MV_ERR_INVALID_ARG, "mv_cuda_gradient: input ndim = %d (a 3D volume)", in->vol.ndim);
    for (int a = 0; a < 3; a++) dims[a] = mv__cu_dim(&in->vol, a);
    dims[3] = 3;
    st = mv__cu_fl_alloc_run(in, out, 4, dims, &args, opts, stream, "mv_cuda_gradient");
    if (st == MV_OK) {
        /* as mv_gradient: a vector volume on in's grid */
        for (int a = in->vol.ndim; a < 3; a++) out->vol.spacing[a] = 1.0;
        out->vol.spacing[3] = 1.0;
        out->vol.meta.intent_code = 1005;
    }
    return st;
}

/* ---- fftshift ------------------------------------------------------------- */

/* out[o] = in[(o + add) mod n] per shifted axis: fftshift adds n - n/2,
   ifftshift adds n/2 (numpy's rolls by n/2 and -(n/2)). */
struct mv__cu_roll {
    int64_t n[3], add[3], frames;
};

template <typename T>
static __global__ void mv__cu_roll_kernel(const T *__restrict__ in, T *__restrict__ out, mv__cu_roll r)
{
    const int64_t rows = r.n[1] * r.n[2] * r.frames, frame = r.n[0] * r.n[1] * r.n[2];
    MV__CU_FOR_ROWS(row, rows) {
        int64_t y, z, f;
        mv__cu_split_row(row, r.n[1], r.n[2], y, z, f);
        int64_t iy = y + r.add[1], iz = z + r.add[2];
        iy -= iy >= r.n[1] ? r.n[1] : 0;
        iz -= iz >= r.n[2] ? r.n[2] : 0;
        const T *irow = in + f * frame + (iz * r.n[1] + iy) * r.n[0];
        T *orow = out + f * frame + (z * r.n[1] + y) * r.n[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < r.n[0]; x += (int64_t)gridDim.x * blockDim.x) {
            int64_t ix = x + r.add[0];
            ix -= ix >= r.n[0] ? r.n[0] : 0;
            orow[x] = irow[ix];
        }
    }
}

MVCDEF mv_status mv_cuda_fftshift_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                       mv_cuda_stream stream)
{
    mv__cu_roll r;
    mv_status st = MV_ERR_UNSUPPORTED;
    int a;
    int64_t rows;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_fftshift_into", "input"));
    MV__CU_STRY(mv__cu_check_vol(out, "mv_cuda_fftshift_into", "output"));
    MV__CU_CHECK((axes & ~7u) == 0, MV_ERR_UNSUPPORTED, "mv_cuda_fftshift_into: axes 0x%x (bits 0..2)", axes);
    MV__CU_CHECK(out->vol.dtype == in->vol.dtype && mv__cu_same_dims(&in->vol, &out->vol), MV_ERR_INVALID_ARG,
                 "mv_cuda_fftshift_into: output dtype and dims must be the input's");
    MV__CU_CHECK(out->vol.data != in->vol.data, MV_ERR_INVALID_ARG, "mv_cuda_fftshift_into: in place is not supported");
    for (a = 0; a < 3; a++) {
        int64_t n = mv__cu_dim(&in->vol, a);
        r.n[a] = n;
        r.add[a] = !(axes >> a & 1u) ? 0 : inverse ? n / 2 : n - n / 2;
    }
    r.frames = mv_vol_count(&in->vol) / (r.n[0] * r.n[1] * r.n[2]);
    rows = r.n[1] * r.n[2] * r.frames;
    {
        dim3 grid = mv__cu_row_grid(r.n[0], rows);
        MV__CU_CASE_SIZE(mv_dtype_size(in->vol.dtype), T, {
            mv__cu_roll_kernel<T><<<grid, MV__CU_ROW_BLOCK, 0, stream>>>((const T *)in->vol.data, (T *)out->vol.data, r);
            st = MV_OK;
        })
    }
    if (st != MV_OK) return mv_set_error(st, "mv_cuda_fftshift_into: %s", mv_dtype_name(in->vol.dtype));
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* The allocating form of an (in, out, axes, inverse) _into function whose
   output is like its input (dtype, dims, geometry): fftshift, fftmod, fftc */
typedef mv_status (*mv__cu_axes_into_fn)(const mv_cuda_vol *, mv_cuda_vol *, unsigned, int, mv_cuda_stream);
static mv_status mv__cu_axes_alloc(mv__cu_axes_into_fn into, const char *fn, const mv_cuda_vol *in, mv_cuda_vol *out,
                                   unsigned axes, int inverse, mv_cuda_stream stream)
{
    mv_cuda_vol t;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, fn, "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: out is NULL", fn);
    MV__CU_STRY(mv__cu_alloc_like(&t, &in->vol, in->vol.dtype, in->vol.ndim, in->vol.dim, stream));
    st = into(in, &t, axes, inverse, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    *out = t;
    return MV_OK;
}

MVCDEF mv_status mv_cuda_fftshift(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                  mv_cuda_stream stream)
{
    return mv__cu_axes_alloc(mv_cuda_fftshift_into, "mv_cuda_fftshift", in, out, axes, inverse, stream);
}

/* ---- BART's fftmod ------------------------------------------------------------ */

/* medvol.h's mv__bart_fftmod_turns: (j - c/2) c / n, c = n / 2 (the product
   rounded alone, so that a sum of them is never an FMA) */
static __host__ __device__ double mv__cu_fftmod_turns(int64_t n, int64_t j)
{
    const int64_t c = n / 2;
    return MV__CU_DMUL((double)j - (double)c / 2., (double)c / (double)n);
}

/* medvol.h's mv__fftmod_factor (BART's fftmod_phase2): e^{sgn 2 pi i rem},
   quarter turns exact with BART's zero signs */
static __host__ __device__ void mv__cu_fftmod_factor(double ph, int inverse, double *re, double *im)
{
    const double rem = ph - floor(ph), sgn = inverse ? -1.0 : 1.0;
    if (rem == 0 || rem == 0.5) {
        *re = rem == 0 ? 1.0 : -1.0, *im = 0.0;
    } else if (rem == 0.25 || rem == 0.75) {
        const double q = rem == 0.25 ? 1.0 : -1.0;
        *re = (q > 0 ? 0.0 : -0.0) * sgn, *im = q * sgn;
    } else {
        const double y = MV__CU_DMUL(2 * 3.14159265358979323846 * sgn, rem);
        *re = cos(y), *im = sin(y);
    }
}

/* one sample of mv_fftmod: its unit's phase (the masked axes' turns from
   the highest axis down: above lo for lines, from lo for blocks), then the
   line's or block's product */
struct mv__cu_fftmod_fn {
    int nd, lo, lines, inverse;
    unsigned mask;
    int64_t d[MV_MAX_DIMS];
    __device__ void begin() {}
    __device__ float2 operator()(float2 x, int64_t i) const
    {
        int64_t idx[MV_MAX_DIMS], rest = i;
        double ph = 0, fr, fi;
        const int first = lines ? lo + 1 : lo;
        for (int a = 0; a < nd; a++) {
            idx[a] = rest % d[a];
            rest /= d[a];
        }
        for (int a = nd - 1; a >= first; a--)
            if (mask >> a & 1u) ph = MV__CU_DADD(ph, mv__cu_fftmod_turns(d[a], idx[a]));
        if (!lines) { /* BART's md_zsmul2 by the float32 cexp, strength-reduced where real */
            const double y = MV__CU_DMUL(2 * 3.14159265358979323846, inverse ? -ph : ph);
            const float br = (float)cos(y), bi = (float)sin(y);
            if (bi == 0) return make_float2(MV__CU_FMUL(x.x, br), MV__CU_FMUL(x.y, br));
            return make_float2(MV__CU_FSUB(MV__CU_FMUL(x.x, br), MV__CU_FMUL(x.y, bi)),
                               MV__CU_FADD(MV__CU_FMUL(x.x, bi), MV__CU_FMUL(x.y, br)));
        }
        const int64_t n = d[lo], j = idx[lo];
        if (n % 2 == 0) { /* zfftmod's even line: +-(the float32 factor of sample 0) */
            mv__cu_fftmod_factor(MV__CU_DADD(ph, mv__cu_fftmod_turns(n, 0)), inverse, &fr, &fi);
            float pr = (float)fr, pi = (float)fi;
            if (j & 1) pr = -pr, pi = -pi;
            return make_float2(MV__CU_FSUB(MV__CU_FMUL(x.x, pr), MV__CU_FMUL(x.y, pi)),
                               MV__CU_FADD(MV__CU_FMUL(x.x, pi), MV__CU_FMUL(x.y, pr)));
        }
        mv__cu_fftmod_factor(MV__CU_DADD(ph, mv__cu_fftmod_turns(n, j)), inverse, &fr, &fi);
        const double a = x.x, b = x.y;
        return make_float2((float)MV__CU_DSUB(MV__CU_DMUL(a, fr), MV__CU_DMUL(b, fi)),
                           (float)MV__CU_DADD(MV__CU_DMUL(a, fi), MV__CU_DMUL(b, fr)));
    }
};

MVCDEF mv_status mv_cuda_fftmod_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                     mv_cuda_stream stream)
{
    mv__cu_fftmod_fn f;
    int64_t below = 1;
    int a;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_fftmod_into", "input"));
    MV__CU_STRY(mv__cu_check_vol(out, "mv_cuda_fftmod_into", "output"));
    MV__CU_CHECK(in->vol.dtype == MV_DT_C64, MV_ERR_UNSUPPORTED, "mv_cuda_fftmod_into: %s (complex64 only)",
                 mv_dtype_name(in->vol.dtype));
    MV__CU_CHECK(axes < (1u << 16), MV_ERR_INVALID_ARG, "mv_cuda_fftmod_into: axes 0x%x (a BART mask: bits 0..15)",
                 axes);
    MV__CU_CHECK(out->vol.dtype == in->vol.dtype && mv__cu_same_dims(&in->vol, &out->vol), MV_ERR_INVALID_ARG,
                 "mv_cuda_fftmod_into: output dtype and dims must be the input's");
    memset(&f, 0, sizeof(f));
    f.nd = in->vol.ndim;
    f.inverse = inverse != 0;
    f.lo = -1;
    for (a = 0; a < f.nd; a++) {
        f.d[a] = in->vol.dim[a];
        if ((axes >> a & 1u) && f.d[a] > 1) {
            f.mask |= 1u << a;
            if (f.lo < 0) f.lo = a;
        }
    }
    if (f.lo < 0) {
        f.lo = f.nd; /* nothing masked: BART multiplies by cexp(0), a block of everything */
    } else {
        for (a = 0; a < f.lo; a++) below *= f.d[a];
        f.lines = below == 1;
    }
    return mv__cu_map((const float2 *)in->vol.data, (float2 *)out->vol.data, mv_vol_count(&in->vol), f, stream);
}

MVCDEF mv_status mv_cuda_fftmod(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                mv_cuda_stream stream)
{
    return mv__cu_axes_alloc(mv_cuda_fftmod_into, "mv_cuda_fftmod", in, out, axes, inverse, stream);
}

/* ---- centred FFT through cuFFT ------------------------------------------------ */

/* The plan cache: the library's only global state. A plan is keyed by the
   device, the stream (a cuFFT plan's work area serves one stream at a time)
   and the transform's layout; `busy` keeps an entry from being evicted or
   shared while a call enqueues work on it. */
struct mv__cu_plan_entry {
    int used, busy, device;
    cudaStream_t stream;
    int rank;
    int n[3];
    long long stride, dist, batch;
    cufftHandle plan;
    unsigned long long last_use;
};
static mv__cu_plan_entry mv__cu_plans[MV_CUDA_PLAN_CACHE];
static unsigned long long mv__cu_plan_clock;
static std::mutex mv__cu_plan_mutex;

static mv_status mv__cu_plan_get(int rank, const int n[3], long long stride, long long dist, long long batch,
                                 cudaStream_t s, int *slot)
{
    int dev = 0, i, free_slot = -1, victim = -1;
    MV__CU_TRY(cudaGetDevice(&dev));
    std::lock_guard<std::mutex> lock(mv__cu_plan_mutex);
    for (i = 0; i < MV_CUDA_PLAN_CACHE; i++) {
        mv__cu_plan_entry *e = &mv__cu_plans[i];
        if (!e->used) {
            if (free_slot < 0) free_slot = i;
            continue;
        }
        if (!e->busy && e->device == dev && e->stream == s && e->rank == rank && e->n[0] == n[0] &&
            (rank < 2 || e->n[1] == n[1]) && (rank < 3 || e->n[2] == n[2]) && e->stride == stride &&
            e->dist == dist && e->batch == batch) {
            e->busy = 1;
            e->last_use = ++mv__cu_plan_clock;
            *slot = i;
            return MV_OK;
        }
        if (!e->busy && (victim < 0 || e->last_use < mv__cu_plans[victim].last_use)) victim = i;
    }
    i = free_slot >= 0 ? free_slot : victim;
    MV__CU_CHECK(i >= 0, MV_ERR_UNSUPPORTED, "cuFFT plan cache: all %d plans are in use", MV_CUDA_PLAN_CACHE);
    if (mv__cu_plans[i].used) {
        cufftDestroy(mv__cu_plans[i].plan);
        mv__cu_plans[i].used = 0;
    }
    {
        mv__cu_plan_entry e;
        int nn[3] = {n[0], n[1], n[2]};
        memset(&e, 0, sizeof(e));
        /* cuFFT wants the slowest axis first: n[] is fastest first */
        int rn[3];
        for (int k = 0; k < rank; k++) rn[k] = nn[rank - 1 - k];
        MV__CUFFT_TRY(cufftPlanMany(&e.plan, rank, rn, rn, (int)stride, (int)dist, rn, (int)stride, (int)dist, CUFFT_C2C,
                                    (int)batch));
        e.used = 1;
        e.busy = 1;
        e.device = dev;
        e.stream = s;
        e.rank = rank;
        e.n[0] = n[0];
        e.n[1] = rank > 1 ? n[1] : 0;
        e.n[2] = rank > 2 ? n[2] : 0;
        e.stride = stride;
        e.dist = dist;
        e.batch = batch;
        e.last_use = ++mv__cu_plan_clock;
        mv__cu_plans[i] = e;
    }
    *slot = i;
    return MV_OK;
}

static void mv__cu_plan_release(int slot)
{
    std::lock_guard<std::mutex> lock(mv__cu_plan_mutex);
    mv__cu_plans[slot].busy = 0;
}

MVCDEF void mv_cuda_plan_cache_clear(void)
{
    int i;
    std::lock_guard<std::mutex> lock(mv__cu_plan_mutex);
    for (i = 0; i < MV_CUDA_PLAN_CACHE; i++)
        if (mv__cu_plans[i].used && !mv__cu_plans[i].busy) {
            cufftDestroy(mv__cu_plans[i].plan);
            mv__cu_plans[i].used = 0;
        }
}

/* The shifts of the centred transform as modulations (see the top comment
   of the MRI section in medvol.h's branch): per shifted axis of length n,
   h = n / 2, the input is multiplied by exp(sg 2 pi i j h / n) and the
   output by exp(sg 2 pi i h (k - h) / n) (sg = +1 forward, -1 inverse).
   For even n these are (-1)^j and (-1)^(k + h): sign flips. */
struct mv__cu_mod {
    int64_t n[3], h[3], frames;
    int on[3];      /* axis shifted */
    int all_even;   /* every shifted axis even: one mv__cu_shift_sign pass */
    int post;       /* 0: input factor, 1: output factor */
    float sg;       /* +1 forward, -1 inverse */
    float scale;    /* ortho 1/sqrt(N) (post only) */
};

static MV__CU_HD float2 mv__cu_cmul(float2 a, float2 b)
{
    return make_float2(MV__CU_FSUB(MV__CU_FMUL(a.x, b.x), MV__CU_FMUL(a.y, b.y)),
                       MV__CU_FADD(MV__CU_FMUL(a.x, b.y), MV__CU_FMUL(a.y, b.x)));
}

/* The factor of element idx (the modulation passes of odd lengths; even
   ones take mv__cu_shift_sign): the product of the per-axis phases
   exp(sg 2 pi i q / n), q = j h (before) or h (k - h) (after) reduced mod n
   in exact integers, times the scale. */
static MV__CU_HD float2 mv__cu_mod_factor(const mv__cu_mod &m, const int64_t idx[3])
{
    float2 w = make_float2(m.scale, 0.0f);
    for (int a = 0; a < 3; a++) {
        if (!m.on[a]) continue;
        int64_t q = m.post ? m.h[a] * (idx[a] - m.h[a]) : idx[a] * m.h[a];
        double sn, cs, turns;
        q %= m.n[a];
        if (q < 0) q += m.n[a];
        turns = 2.0 * (double)q / (double)m.n[a];
#ifdef __CUDA_ARCH__
        sincospi(turns, &sn, &cs);
#else
        sn = sin(turns * 3.14159265358979323846);
        cs = cos(turns * 3.14159265358979323846);
#endif
        w = mv__cu_cmul(w, make_float2((float)cs, (float)(m.sg * sn)));
    }
    return w;
}

/* x times the factor of each element, in place (odd lengths) */
static __global__ void mv__cu_modulate_kernel(float2 *x, mv__cu_mod m)
{
    const int64_t rows = m.n[1] * m.n[2] * m.frames, frame = m.n[0] * m.n[1] * m.n[2];
    MV__CU_FOR_ROWS(row, rows) {
        int64_t y, z, f;
        mv__cu_split_row(row, m.n[1], m.n[2], y, z, f);
        float2 *p = x + f * frame + (z * m.n[1] + y) * m.n[0];
        int64_t idx[3];
        idx[1] = y;
        idx[2] = z;
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < m.n[0]; i += (int64_t)gridDim.x * blockDim.x) {
            float2 v = p[i], w;
            idx[0] = i;
            w = mv__cu_mod_factor(m, idx);
            p[i] = mv__cu_cmul(v, w);
        }
    }
}

static mv_status mv__cu_modulate(const float2 *in, float2 *out, const mv__cu_mod &m, cudaStream_t s)
{
    int64_t rows = m.n[1] * m.n[2] * m.frames;
    dim3 grid = mv__cu_row_grid(m.n[0], rows);
    if (in != out) { /* only the input side of odd lengths (even ones: mv__cu_shift_sign) */
        MV__CU_TRY(cudaMemcpyAsync(out, in, (size_t)(m.n[0] * m.n[1] * m.n[2] * m.frames) * sizeof(float2),
                                   cudaMemcpyDeviceToDevice, s));
    }
    mv__cu_modulate_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>(out, m);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* Even lengths: both shifts in one pass before the transform. With M the
   sign (-1)^k, M F y = F S y (S: the roll by h = n/2), so the centred
   transform fftshift(F(ifftshift(x))) = (-1)^h M F M x = F z with
   z[m] = (-1)^(sum of m) x[m + h] (indices mod n on the shifted axes; the
   inverse alike): one gather with a sign and the ortho scale, then the
   bare transform, instead of a pass before and a pass after it. In place,
   m <-> m + h pairs up the elements (an involution for even n): one thread
   swaps each pair, the one whose lowest shifted axis index is below h. */
static __device__ __forceinline__ float2 mv__cu_sign_scale(float2 v, int64_t parity, float scale)
{
    float sc = (parity & 1) ? -scale : scale;
    return make_float2(__fmul_rn(v.x, sc), __fmul_rn(v.y, sc));
}

static __global__ void mv__cu_shift_sign_kernel(const float2 *__restrict__ in, float2 *__restrict__ out, mv__cu_mod m)
{
    const int64_t rows = m.n[1] * m.n[2] * m.frames, frame = m.n[0] * m.n[1] * m.n[2];
    const int64_t h0 = m.on[0] ? m.h[0] : 0, h1 = m.on[1] ? m.h[1] : 0, h2 = m.on[2] ? m.h[2] : 0;
    MV__CU_FOR_ROWS(row, rows) {
        int64_t y, z, f;
        mv__cu_split_row(row, m.n[1], m.n[2], y, z, f);
        int64_t ys = y + h1 < m.n[1] ? y + h1 : y + h1 - m.n[1], zs = z + h2 < m.n[2] ? z + h2 : z + h2 - m.n[2];
        const float2 *src = in + f * frame + (zs * m.n[1] + ys) * m.n[0];
        float2 *dst = out + f * frame + (z * m.n[1] + y) * m.n[0];
        int64_t prow = (m.on[1] ? y : 0) + (m.on[2] ? z : 0);
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < m.n[0]; i += (int64_t)gridDim.x * blockDim.x) {
            int64_t is = i + h0 < m.n[0] ? i + h0 : i + h0 - m.n[0];
            dst[i] = mv__cu_sign_scale(src[is], prow + (m.on[0] ? i : 0), m.scale);
        }
    }
}

static __global__ void mv__cu_shift_sign_inplace_kernel(float2 *x, mv__cu_mod m, int lowest)
{
    const int64_t rows = m.n[1] * m.n[2] * m.frames, frame = m.n[0] * m.n[1] * m.n[2];
    const int64_t h0 = m.on[0] ? m.h[0] : 0, h1 = m.on[1] ? m.h[1] : 0, h2 = m.on[2] ? m.h[2] : 0;
    MV__CU_FOR_ROWS(row, rows) {
        int64_t y, z, f;
        mv__cu_split_row(row, m.n[1], m.n[2], y, z, f);
        if ((lowest == 1 && y >= h1) || (lowest == 2 && z >= h2)) continue; /* the partner row's thread swaps */
        int64_t ys = y + h1 < m.n[1] ? y + h1 : y + h1 - m.n[1], zs = z + h2 < m.n[2] ? z + h2 : z + h2 - m.n[2];
        float2 *a = x + f * frame + (z * m.n[1] + y) * m.n[0];
        float2 *b = x + f * frame + (zs * m.n[1] + ys) * m.n[0];
        int64_t pa = (m.on[1] ? y : 0) + (m.on[2] ? z : 0), pb = (m.on[1] ? ys : 0) + (m.on[2] ? zs : 0);
        int64_t end = lowest == 0 ? h0 : m.n[0];
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < end; i += (int64_t)gridDim.x * blockDim.x) {
            int64_t is = i + h0 < m.n[0] ? i + h0 : i + h0 - m.n[0];
            float2 va = a[i], vb = b[is];
            a[i] = mv__cu_sign_scale(vb, pa + (m.on[0] ? i : 0), m.scale);
            b[is] = mv__cu_sign_scale(va, pb + (m.on[0] ? is : 0), m.scale);
        }
    }
}

static mv_status mv__cu_shift_sign(const float2 *in, float2 *out, const mv__cu_mod &m, cudaStream_t s)
{
    int lowest = m.on[0] ? 0 : m.on[1] ? 1 : 2;
    dim3 grid = mv__cu_row_grid(m.n[0], m.n[1] * m.n[2] * m.frames);
    if (in != out) mv__cu_shift_sign_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>(in, out, m);
    else mv__cu_shift_sign_inplace_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>(out, m, lowest);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* The layout of a centred transform of v over `axes`: the modulation
   parameters, and for cuFFT the transformed run of axes lo..hi (rank, n[]
   fastest first), `inner` elements below it and `outer` transforms above;
   *lo = -1 when nothing is transformed (every selected axis has length 1). */
struct mv__cu_fftc_layout {
    mv__cu_mod m;
    int lo, hi, rank, n[3];
    int64_t inner, outer, N;
};

static mv_status mv__cu_fftc_setup(const mv_vol *v, unsigned axes, int inverse, mv__cu_fftc_layout *L)
{
    int a;
    memset(L, 0, sizeof(*L));
    L->lo = L->hi = -1;
    L->n[0] = L->n[1] = L->n[2] = 1;
    L->inner = L->outer = L->N = 1;
    MV__CU_CHECK(axes != 0 && (axes & ~7u) == 0, MV_ERR_UNSUPPORTED, "mv_cuda_fftc_into: axes 0x%x (bits 0..2)", axes);
    /* axes of length 1 transform to themselves: drop them; the rest must be
       consecutive in memory (length-1 axes between them do not count) */
    for (a = 0; a < 3; a++)
        if ((axes >> a & 1u) && mv__cu_dim(v, a) > 1) {
            if (L->lo < 0) L->lo = a;
            L->hi = a;
        }
    for (a = L->lo < 0 ? 3 : L->lo; a <= L->hi; a++)
        MV__CU_CHECK((axes >> a & 1u) || mv__cu_dim(v, a) == 1, MV_ERR_UNSUPPORTED,
                     "mv_cuda_fftc_into: axes 0x%x are not consecutive once length-1 axes are dropped", axes);
    for (a = 0; a < 3; a++) {
        L->m.n[a] = mv__cu_dim(v, a);
        L->m.h[a] = L->m.n[a] / 2;
        L->m.on[a] = (axes >> a & 1u) && L->m.n[a] > 1;
    }
    L->m.frames = mv_vol_count(v) / (L->m.n[0] * L->m.n[1] * L->m.n[2]);
    L->m.sg = inverse ? -1.0f : 1.0f;
    L->m.all_even = 1;
    if (L->lo < 0) return MV_OK;
    for (a = L->lo; a <= L->hi; a++) {
        MV__CU_CHECK(L->m.n[a] <= INT32_MAX, MV_ERR_UNSUPPORTED, "mv_cuda_fftc_into: axis %d too long for cuFFT", a);
        L->n[L->rank++] = (int)L->m.n[a];
        L->N *= L->m.n[a];
        if (L->m.on[a] && L->m.n[a] % 2) L->m.all_even = 0;
    }
    for (a = 0; a < L->lo; a++) L->inner *= L->m.n[a];
    L->outer = mv_vol_count(v) / (L->inner * L->N);
    /* cufftPlanMany takes int strides, distances and counts */
    MV__CU_CHECK(L->N <= INT32_MAX && L->outer <= INT32_MAX && (L->inner == 1 || L->inner * L->N <= INT32_MAX),
                 MV_ERR_UNSUPPORTED, "mv_cuda_fftc_into: %lld x %lld x %lld elements: too large for one 32-bit cuFFT plan",
                 (long long)L->inner, (long long)L->N, (long long)L->outer);
    return MV_OK;
}

MVCDEF mv_status mv_cuda_fftc_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                   mv_cuda_stream stream)
{
    mv__cu_fftc_layout L;
    mv__cu_mod m;
    int slot = -1;
    int64_t inner, outer, N, per_outer, o;
    mv_status st = MV_OK;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_fftc_into", "input"));
    MV__CU_STRY(mv__cu_check_vol(out, "mv_cuda_fftc_into", "output"));
    MV__CU_CHECK(in->vol.dtype == MV_DT_C64 && out->vol.dtype == MV_DT_C64, MV_ERR_UNSUPPORTED,
                 "mv_cuda_fftc_into: complex64 in and out");
    MV__CU_CHECK(mv__cu_same_dims(&in->vol, &out->vol), MV_ERR_INVALID_ARG, "mv_cuda_fftc_into: dims differ");
    MV__CU_STRY(mv__cu_fftc_setup(&in->vol, axes, inverse, &L));
    if (L.lo < 0) { /* nothing to transform: a copy */
        if (in->vol.data != out->vol.data)
            MV__CU_TRY(cudaMemcpyAsync(out->vol.data, in->vol.data, mv_vol_bytes(&in->vol), cudaMemcpyDeviceToDevice,
                                       stream));
        return MV_OK;
    }
    m = L.m;
    inner = L.inner;
    outer = L.outer;
    N = L.N;
    /* one plan: the transformed axes with element stride `inner`, a batch of
       `inner` interleaved transforms (dist 1), or contiguous ones (inner 1)
       batched over the outer axes; interleaved layouts loop over outer */
    per_outer = inner == 1 ? outer : 1;
    /* Even lengths: one pass (shift, sign, scale) before the transform, see
       mv__cu_shift_sign; odd lengths: a modulation before and one after.
       Either pass is memory traffic of its own (on an H100 at 256^3, one
       pass is about a third of cuFFT's own time); to make it free, apply it
       in cuFFT's load callback (cufftXtSetJITCallback with LTO-IR, built by
       nvrtc -dlto), at the cost of nvrtc and nvJitLink at run time.
       1. the pass before the transform, from in into out */
    m.post = 0;
    m.scale = m.all_even ? (float)(1.0 / sqrt((double)N)) : 1.0f; /* even: the ortho scale goes first too */
    MV__CU_STRY(m.all_even ? mv__cu_shift_sign((const float2 *)in->vol.data, (float2 *)out->vol.data, m, stream)
                           : mv__cu_modulate((const float2 *)in->vol.data, (float2 *)out->vol.data, m, stream));
    /* 2. the transform, in place on out */
    MV__CU_STRY(mv__cu_plan_get(L.rank, L.n, inner, inner == 1 ? N : 1, inner == 1 ? per_outer : inner, stream, &slot));
    {
        cufftHandle plan = mv__cu_plans[slot].plan;
        cufftResult r = cufftSetStream(plan, stream);
        int dir = inverse ? CUFFT_INVERSE : CUFFT_FORWARD;
        if (inner == 1) {
            if (r == CUFFT_SUCCESS)
                r = cufftExecC2C(plan, (cufftComplex *)out->vol.data, (cufftComplex *)out->vol.data, dir);
        } else {
            for (o = 0; o < outer && r == CUFFT_SUCCESS; o++) {
                cufftComplex *p = (cufftComplex *)out->vol.data + o * inner * N;
                r = cufftExecC2C(plan, p, p, dir);
            }
        }
        mv__cu_plan_release(slot);
        if (r != CUFFT_SUCCESS)
            st = mv_set_error(MV_ERR_CUDA, "mv_cuda_fftc_into: cufftExecC2C: %s (%d)", mv__cufft_str(r), (int)r);
    }
    if (st != MV_OK || L.m.all_even) return st;
    /* 3. output factor and the ortho scale, in place */
    m.post = 1;
    m.scale = (float)(1.0 / sqrt((double)N));
    return mv__cu_modulate((const float2 *)out->vol.data, (float2 *)out->vol.data, m, stream);
}

MVCDEF mv_status mv_cuda_fftc(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                              mv_cuda_stream stream)
{
    return mv__cu_axes_alloc(mv_cuda_fftc_into, "mv_cuda_fftc", in, out, axes, inverse, stream);
}

/* ---- coils ------------------------------------------------------------------ */

/* out[v, b] over voxels v of a 3D frame and batch b; coil c of batch b is
   at in[v + V * (c + C * b)]. Coils are summed in order, in float32,
   unfused. */
static __global__ void mv__cu_rss_c64_kernel(const float2 *__restrict__ in, float *__restrict__ out, int64_t V, int64_t C,
                                      int64_t B)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < V * B; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = i % V, b = i / V;
        const float2 *p = in + b * C * V + v;
        float acc = 0;
        for (int64_t c = 0; c < C; c++) {
            float2 z = p[c * V];
            acc = __fadd_rn(acc, __fadd_rn(__fmul_rn(z.x, z.x), __fmul_rn(z.y, z.y)));
        }
        out[i] = sqrtf(acc);
    }
}
static __global__ void mv__cu_rss_f32_kernel(const float *__restrict__ in, float *__restrict__ out, int64_t V, int64_t C,
                                      int64_t B)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < V * B; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = i % V, b = i / V;
        const float *p = in + b * C * V + v;
        float acc = 0;
        for (int64_t c = 0; c < C; c++) acc = __fadd_rn(acc, __fmul_rn(p[c * V], p[c * V]));
        out[i] = sqrtf(acc);
    }
}

/* (x, y, z, batch...) dims of a coil reduction's result */
static void mv__cu_coil_out_dims(const mv_vol *in, int *ndim, int64_t dims[MV_MAX_DIMS])
{
    int a, k = 0;
    for (a = 0; a < MV_MAX_DIMS; a++) dims[a] = 1;
    for (a = 0; a < 3; a++) dims[k++] = mv__cu_dim(in, a);
    for (a = 4; a < in->ndim; a++) dims[k++] = in->dim[a];
    *ndim = in->ndim <= 4 ? 3 : in->ndim - 1;
}

/* the output of a coil reduction: (x, y, z, batch...) or (x, y, z, 1, batch...) */
static int mv__cu_coil_out_ok(const mv_vol *in, const mv_vol *out)
{
    int64_t dims[MV_MAX_DIMS];
    int nd, a, dropped = 1, kept = 1;
    mv__cu_coil_out_dims(in, &nd, dims);
    for (a = 0; a < MV_MAX_DIMS; a++) {
        if (mv__cu_dim(out, a) != dims[a]) dropped = 0;
        if (mv__cu_dim(out, a) != (a == 3 ? 1 : mv__cu_dim(in, a))) kept = 0;
    }
    return dropped || kept;
}

MVCDEF mv_status mv_cuda_rss_into(const mv_cuda_vol *in, mv_cuda_vol *out, mv_cuda_stream stream)
{
    int64_t V, C, B;
    int threads = 256, blocks;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_rss_into", "input"));
    MV__CU_STRY(mv__cu_check_vol(out, "mv_cuda_rss_into", "output"));
    MV__CU_CHECK(in->vol.dtype == MV_DT_C64 || in->vol.dtype == MV_DT_F32, MV_ERR_UNSUPPORTED,
                 "mv_cuda_rss_into: %s input (c64 or f32)", mv_dtype_name(in->vol.dtype));
    MV__CU_CHECK(out->vol.dtype == MV_DT_F32 && mv__cu_coil_out_ok(&in->vol, &out->vol), MV_ERR_INVALID_ARG,
                 "mv_cuda_rss_into: output must be float32 (x, y, z[, 1], batch...)");
    V = mv__cu_dim(&in->vol, 0) * mv__cu_dim(&in->vol, 1) * mv__cu_dim(&in->vol, 2);
    C = mv__cu_dim(&in->vol, 3);
    B = mv_vol_count(&in->vol) / (V * C);
    blocks = mv__cu_blocks(V * B, threads);
    if (in->vol.dtype == MV_DT_C64)
        mv__cu_rss_c64_kernel<<<blocks, threads, 0, stream>>>((const float2 *)in->vol.data, (float *)out->vol.data, V, C, B);
    else
        mv__cu_rss_f32_kernel<<<blocks, threads, 0, stream>>>((const float *)in->vol.data, (float *)out->vol.data, V, C, B);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

MVCDEF mv_status mv_cuda_rss(const mv_cuda_vol *in, mv_cuda_vol *out, mv_cuda_stream stream)
{
    mv_cuda_vol t;
    int64_t dims[MV_MAX_DIMS];
    int nd;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_rss", "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_cuda_rss: out is NULL");
    mv__cu_coil_out_dims(&in->vol, &nd, dims);
    MV__CU_STRY(mv__cu_alloc_like(&t, &in->vol, MV_DT_F32, nd, dims, stream));
    st = mv_cuda_rss_into(in, &t, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    *out = t;
    return MV_OK;
}

static __global__ void mv__cu_combine_kernel(const float2 *__restrict__ img, const float2 *__restrict__ sens,
                                      float2 *__restrict__ out, int64_t V, int64_t C, int64_t B)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < V * B; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = i % V, b = i / V;
        const float2 *x = img + b * C * V + v, *S = sens + v;
        float nr = 0, ni = 0, den = 0;
        for (int64_t c = 0; c < C; c++) {
            float2 s = S[c * V], z = x[c * V];
            /* conj(s) * z */
            nr = __fadd_rn(nr, __fadd_rn(__fmul_rn(s.x, z.x), __fmul_rn(s.y, z.y)));
            ni = __fadd_rn(ni, __fsub_rn(__fmul_rn(s.x, z.y), __fmul_rn(s.y, z.x)));
            den = __fadd_rn(den, __fadd_rn(__fmul_rn(s.x, s.x), __fmul_rn(s.y, s.y)));
        }
        out[i] = den != 0 ? make_float2(__fdiv_rn(nr, den), __fdiv_rn(ni, den)) : make_float2(0.0f, 0.0f);
    }
}

MVCDEF mv_status mv_cuda_coil_combine_into(const mv_cuda_vol *img, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                           mv_cuda_stream stream)
{
    int64_t V, C, B;
    int a, threads = 256, blocks;
    MV__CU_STRY(mv__cu_check_vol(img, "mv_cuda_coil_combine_into", "img"));
    MV__CU_STRY(mv__cu_check_vol(sens, "mv_cuda_coil_combine_into", "sens"));
    MV__CU_STRY(mv__cu_check_vol(out, "mv_cuda_coil_combine_into", "output"));
    MV__CU_CHECK(img->vol.dtype == MV_DT_C64 && sens->vol.dtype == MV_DT_C64 && out->vol.dtype == MV_DT_C64,
                 MV_ERR_UNSUPPORTED, "mv_cuda_coil_combine_into: complex64 img, sens and out");
    for (a = 0; a < MV_MAX_DIMS; a++)
        MV__CU_CHECK(mv__cu_dim(&sens->vol, a) == (a < 4 ? mv__cu_dim(&img->vol, a) : 1), MV_ERR_INVALID_ARG,
                     "mv_cuda_coil_combine_into: sens dims must be img's (x, y, z, C)");
    MV__CU_CHECK(mv__cu_coil_out_ok(&img->vol, &out->vol), MV_ERR_INVALID_ARG,
                 "mv_cuda_coil_combine_into: output must be (x, y, z[, 1], batch...)");
    V = mv__cu_dim(&img->vol, 0) * mv__cu_dim(&img->vol, 1) * mv__cu_dim(&img->vol, 2);
    C = mv__cu_dim(&img->vol, 3);
    B = mv_vol_count(&img->vol) / (V * C);
    blocks = mv__cu_blocks(V * B, threads);
    mv__cu_combine_kernel<<<blocks, threads, 0, stream>>>((const float2 *)img->vol.data, (const float2 *)sens->vol.data,
                                                          (float2 *)out->vol.data, V, C, B);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

MVCDEF mv_status mv_cuda_coil_combine(const mv_cuda_vol *img, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                      mv_cuda_stream stream)
{
    mv_cuda_vol t;
    int64_t dims[MV_MAX_DIMS];
    int nd;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(img, "mv_cuda_coil_combine", "img"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_cuda_coil_combine: out is NULL");
    mv__cu_coil_out_dims(&img->vol, &nd, dims);
    MV__CU_STRY(mv__cu_alloc_like(&t, &img->vol, MV_DT_C64, nd, dims, stream));
    st = mv_cuda_coil_combine_into(img, sens, &t, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    *out = t;
    return MV_OK;
}

/* sample i times w[i mod W]: the weights are a prefix of the k-space dims */
struct mv__cu_weight_fn {
    const float *w;
    int64_t W;
    __device__ void begin() {}
    __device__ float2 operator()(float2 z, int64_t i) const
    {
        float s = w[i % W];
        return make_float2(__fmul_rn(z.x, s), __fmul_rn(z.y, s));
    }
};

MVCDEF mv_status mv_cuda_kspace_weight(mv_cuda_vol *kspace, const mv_cuda_vol *weights, mv_cuda_stream stream)
{
    mv__cu_weight_fn f;
    int a, wd;
    MV__CU_STRY(mv__cu_check_vol(kspace, "mv_cuda_kspace_weight", "kspace"));
    MV__CU_STRY(mv__cu_check_vol(weights, "mv_cuda_kspace_weight", "weights"));
    MV__CU_CHECK(kspace->vol.dtype == MV_DT_C64 && weights->vol.dtype == MV_DT_F32, MV_ERR_UNSUPPORTED,
                 "mv_cuda_kspace_weight: complex64 k-space, float32 weights");
    wd = weights->vol.ndim;
    MV__CU_CHECK(wd <= 3, MV_ERR_INVALID_ARG, "mv_cuda_kspace_weight: weights have %d dims (1..3)", wd);
    for (a = 0; a < wd; a++)
        MV__CU_CHECK(weights->vol.dim[a] == mv__cu_dim(&kspace->vol, a), MV_ERR_INVALID_ARG,
                     "mv_cuda_kspace_weight: weights dim[%d] = %lld, k-space %lld", a, (long long)weights->vol.dim[a],
                     (long long)mv__cu_dim(&kspace->vol, a));
    f.w = (const float *)weights->vol.data;
    f.W = mv_vol_count(&weights->vol);
    return mv__cu_map((const float2 *)kspace->vol.data, (float2 *)kspace->vol.data, mv_vol_count(&kspace->vol), f,
                      stream);
}

/* ---- displacement fields ------------------------------------------------------ */

/* Output (field) voxel -> moving voxel: c = B (x, y, z, 1) + C d, summed
   left to right as mv__fd_warp_rows / mv__fd_comp_rows do. */
struct mv__cu_fdmap {
    double B[3][4], C[3][3];
    int64_t g[3];   /* the field's grid (the output's for a warp, d2's for a composition) */
    int64_t nv;
    int nc;
};

static const double mv__cu_fd_S[3] = {-1.0, -1.0, 1.0}; /* LPS <-> RAS */

static MV__CU_HD void mv__cu_fd_coords(const mv__cu_fdmap &w, const float *fld, int64_t x, int64_t y, int64_t z,
                                       double d[3], double c[3])
{
    size_t v = (size_t)((z * w.g[1] + y) * w.g[0] + x);
    d[0] = fld[v];
    d[1] = fld[(size_t)w.nv + v];
    d[2] = w.nc == 3 ? (double)fld[2 * (size_t)w.nv + v] : 0.0;
    for (int a = 0; a < 3; a++) {
        double t = MV__CU_DADD(MV__CU_DMUL(w.B[a][0], (double)x), MV__CU_DMUL(w.B[a][1], (double)y));
        t = MV__CU_DADD(MV__CU_DADD(t, MV__CU_DMUL(w.B[a][2], (double)z)), w.B[a][3]);
        t = MV__CU_DADD(MV__CU_DADD(t, MV__CU_DMUL(w.C[a][0], d[0])), MV__CU_DMUL(w.C[a][1], d[1]));
        c[a] = MV__CU_DADD(t, MV__CU_DMUL(w.C[a][2], d[2]));
    }
}

/* the warp's inside test: [0, n-1] per axis, |c| <= 0.5 on an axis of one voxel */
static MV__CU_HD bool mv__cu_fd_inside(const int64_t n[3], const double c[3])
{
    for (int a = 0; a < 3; a++) {
        bool in = n[a] == 1 ? fabs(c[a]) <= 0.5 : c[a] >= 0 && c[a] <= (double)(n[a] - 1);
        if (!in) return false;
    }
    return true;
}

/* mv__fd_axis: trilinear tap on an axis of n voxels, edge continued */
static MV__CU_HD int64_t mv__cu_fd_axis(double c, int64_t n, double *t)
{
    if (n == 1) {
        *t = 0;
        return 0;
    }
    double cl = !(c > 0) ? 0 : c > (double)(n - 1) ? (double)(n - 1) : c; /* NaN -> 0 */
    double f = (double)(int64_t)cl;
    if (f >= (double)(n - 1)) {
        *t = 1;
        return n - 2;
    }
    *t = MV__CU_DSUB(cl, f);
    return (int64_t)f;
}

/* mv__fd_sample: the field's displacement at voxel coordinate c, trilinear
   in float64, x then y then z */
static MV__CU_HD void mv__cu_fd_sample(const float *d, const int64_t n[3], int64_t nv, int nc, const double c[3],
                                       double out[3])
{
    double t[3];
    int64_t f[3];
    for (int k = 0; k < 3; k++) f[k] = mv__cu_fd_axis(c[k], n[k], &t[k]);
    size_t s0 = n[0] > 1 ? 1 : 0, s1 = n[1] > 1 ? (size_t)n[0] : 0, s2 = n[2] > 1 ? (size_t)(n[0] * n[1]) : 0;
    size_t base = (size_t)f[0] + (size_t)f[1] * (size_t)n[0] + (size_t)f[2] * (size_t)(n[0] * n[1]);
    out[2] = 0;
    for (int k = 0; k < nc; k++) {
        const float *p = d + (size_t)k * (size_t)nv + base;
        double u0 = MV__CU_DSUB(1.0, t[0]), u1 = MV__CU_DSUB(1.0, t[1]);
#define MV__CU_LERP(a, b, u, w) MV__CU_DADD(MV__CU_DMUL((u), (double)(a)), MV__CU_DMUL((w), (double)(b)))
        double r00 = MV__CU_LERP(p[0], p[s0], u0, t[0]), r10 = MV__CU_LERP(p[s1], p[s1 + s0], u0, t[0]);
        double r01 = MV__CU_LERP(p[s2], p[s2 + s0], u0, t[0]), r11 = MV__CU_LERP(p[s2 + s1], p[s2 + s1 + s0], u0, t[0]);
        double p0 = MV__CU_LERP(r00, r10, u1, t[1]), p1 = MV__CU_LERP(r01, r11, u1, t[1]);
        out[k] = MV__CU_LERP(p0, p1, MV__CU_DSUB(1.0, t[2]), t[2]);
#undef MV__CU_LERP
    }
}

/* one voxel of a composition: out(p) = d2(p) + d1(B p + C d2(p)) */
static MV__CU_HD void mv__cu_fd_compose_at(const mv__cu_fdmap &w, const float *d1, const int64_t n1[3], int64_t nv1,
                                           const float *d2, float *out, int64_t x, int64_t y, int64_t z)
{
    double d[3], c[3], e[3];
    size_t v = (size_t)((z * w.g[1] + y) * w.g[0] + x);
    mv__cu_fd_coords(w, d2, x, y, z, d, c);
    mv__cu_fd_sample(d1, n1, nv1, w.nc, c, e);
    out[v] = (float)MV__CU_DADD(e[0], d[0]);
    out[(size_t)w.nv + v] = (float)MV__CU_DADD(e[1], d[1]);
    if (w.nc == 3) out[2 * (size_t)w.nv + v] = (float)MV__CU_DADD(e[2], d[2]);
}

/* Linear warp of scaled values into float32: the CPU's taps and blend. */
template <typename S>
static __global__ void mv__cu_fd_warp_kernel(const S *__restrict__ in, const float *__restrict__ fld, float *__restrict__ out,
                                             mv__cu_fdmap w, mv__cu_rsmap m, int scaled, double slope, double inter,
                                             float fill)
{
    const int64_t rows = w.g[1] * w.g[2] * m.frames;
    MV__CU_FOR_ROWS(r, rows) {
        int64_t y, z, f;
        mv__cu_split_row(r, w.g[1], w.g[2], y, z, f);
        const S *frame = in + f * m.in_frame;
        float *orow = out + f * w.nv + (z * w.g[1] + y) * w.g[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < w.g[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double d[3], c[3];
            mv__cu_fd_coords(w, fld, x, y, z, d, c);
            orow[x] = m.fill && !mv__cu_fd_inside(m.n, c) ? fill : mv__cu_rs_sample(frame, m, c, scaled, slope, inter);
        }
    }
}

/* Cubic warp of one frame into float32 from its B-spline coefficients
   (mv__cu_bs_prefilter): the CPU's coordinates, inside test, taps and
   blend (mv__fd_warp_row's cubic branch), times the guard's post scale */
static __global__ void mv__cu_fd_cubic_kernel(mv__cu_bsjob j, const float *__restrict__ fld, float *__restrict__ out,
                                              mv__cu_fdmap w, int fill_outside, float fill)
{
    float pre, post;
    mv__cu_bs_scale(*j.amax, &pre, &post);
    const int64_t rows = w.g[1] * w.g[2];
    MV__CU_FOR_ROWS(r, rows) {
        const int64_t y = r % w.g[1], z = r / w.g[1];
        float *orow = out + (z * w.g[1] + y) * w.g[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < w.g[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double d[3], c[3];
            mv__cu_fd_coords(w, fld, x, y, z, d, c);
            orow[x] = fill_outside && !mv__cu_fd_inside(j.n, c) ? fill : mv__cu_bs_sample(j.C, j.n, c, j.mirror, post);
        }
    }
}

/* Frame by frame: the moving frame's coefficients, then its warp */
static mv_status mv__cu_fd_cubic_run(const mv_cuda_vol *moving, const mv_cuda_vol *field, mv_cuda_vol *out,
                                     const mv__cu_fdmap &w, const mv__cu_rsmap &m, int scaled, double slope, double inter,
                                     float fill, cudaStream_t s, const char *fn)
{
    mv__cu_bsjob j;
    mv_status st = MV_OK;
    const dim3 grid = mv__cu_row_grid(w.g[0], w.g[1] * w.g[2]);
    MV__CU_STRY(mv__cu_bs_begin(&j, m.n, m.fill, s)); /* mirror inside when outside is filled, as the CPU */
    for (int64_t f = 0; f < m.frames && st == MV_OK; f++) {
        st = mv__cu_bs_prefilter(moving, f, j, scaled, slope, inter, s, fn);
        if (st != MV_OK) break;
        mv__cu_fd_cubic_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>(j, (const float *)field->vol.data,
                                                                 (float *)out->vol.data + f * w.nv, w, m.fill, fill);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) st = mv__cu_fail(e, fn);
    }
    mv__cu_bs_end(&j, s);
    return st;
}

/* Nearest warp of stored elements (any dtype of that size). */
template <typename T>
static __global__ void mv__cu_fd_nearest_kernel(const T *__restrict__ in, const float *__restrict__ fld, T *__restrict__ out,
                                                mv__cu_fdmap w, mv__cu_rsmap m, T fill)
{
    const int64_t rows = w.g[1] * w.g[2] * m.frames;
    MV__CU_FOR_ROWS(r, rows) {
        int64_t y, z, f;
        mv__cu_split_row(r, w.g[1], w.g[2], y, z, f);
        T *orow = out + f * w.nv + (z * w.g[1] + y) * w.g[0];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < w.g[0]; x += (int64_t)gridDim.x * blockDim.x) {
            double d[3], c[3];
            float wt[2];
            int64_t q[3];
            mv__cu_fd_coords(w, fld, x, y, z, d, c);
            if (m.fill && !mv__cu_fd_inside(m.n, c)) {
                orow[x] = fill;
                continue;
            }
            for (int a = 0; a < 3; a++) q[a] = mv__cu_rs_taps(c[a], m.n[a], 0, wt);
            orow[x] = in[f * m.in_frame + (q[2] * m.n[1] + q[1]) * m.n[0] + q[0]];
        }
    }
}

static __global__ void mv__cu_fd_compose_kernel(const float *d1, const float *d2, float *out, mv__cu_fdmap w,
                                                int64_t n10, int64_t n11, int64_t n12, int64_t nv1)
{
    const int64_t rows = w.g[1] * w.g[2];
    const int64_t n1[3] = {n10, n11, n12};
    MV__CU_FOR_ROWS(r, rows) {
        int64_t y, z, f;
        mv__cu_split_row(r, w.g[1], w.g[2], y, z, f);
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < w.g[0]; x += (int64_t)gridDim.x * blockDim.x)
            mv__cu_fd_compose_at(w, d1, n1, nv1, d2, out, x, y, z);
    }
}

/* Host: the map of mv_field_warp_into, by its own arithmetic (mv_affine_*). */
static mv_status mv__cu_fd_warp_map(const mv_vol *moving, const mv_vol *field, const double matrix[4][4],
                                    mv__cu_fdmap *w, const char *fn)
{
    double Mi[4][4], M[4][4], T1[4][4], T2[4][4];
    int a, b, k;
    MV__CU_CHECK(mv_affine_invert(moving->affine, Mi) == MV_OK, MV_ERR_INVALID_ARG,
                 "%s: the moving image's affine is not finite or singular", fn);
    memset(M, 0, sizeof(M));
    for (a = 0; a < 4; a++) M[a][a] = 1;
    if (matrix) {
        for (a = 0; a < 4; a++)
            for (b = 0; b < 4; b++) MV__CU_CHECK(isfinite(matrix[a][b]), MV_ERR_INVALID_ARG, "%s: matrix is not finite", fn);
        MV__CU_CHECK(matrix[3][0] == 0 && matrix[3][1] == 0 && matrix[3][2] == 0 && matrix[3][3] == 1,
                     MV_ERR_INVALID_ARG, "%s: matrix's bottom row is not 0 0 0 1", fn);
        memcpy(M, matrix, sizeof(M));
    }
    memset(w, 0, sizeof(*w));
    for (a = 0; a < 3; a++) w->g[a] = field->dim[a];
    w->nv = field->dim[0] * field->dim[1] * field->dim[2];
    w->nc = (int)field->dim[4];
    mv_affine_multiply((const double(*)[4])M, field->affine, T1);
    mv_affine_multiply((const double(*)[4])Mi, (const double(*)[4])T1, T2);
    for (a = 0; a < 3; a++) {
        for (b = 0; b < 4; b++) w->B[a][b] = T2[a][b];
        for (b = 0; b < 3; b++) {
            double s = 0;
            for (k = 0; k < 3; k++) s += Mi[a][k] * M[k][b];
            w->C[a][b] = w->nc == 2 && b == 2 ? 0 : s * mv__cu_fd_S[b];
        }
    }
    return MV_OK;
}

/* Host: the map of mv_field_compose_into (d2 voxel -> d1 voxel). */
static mv_status mv__cu_fd_compose_map(const mv_vol *d1, const mv_vol *d2, mv__cu_fdmap *w, const char *fn)
{
    double Ai[4][4], M[4][4];
    int a, b;
    MV__CU_CHECK(mv_affine_invert(d1->affine, Ai) == MV_OK, MV_ERR_INVALID_ARG, "%s: d1's affine is singular", fn);
    memset(w, 0, sizeof(*w));
    for (a = 0; a < 3; a++) w->g[a] = d2->dim[a];
    w->nv = d2->dim[0] * d2->dim[1] * d2->dim[2];
    w->nc = (int)d2->dim[4];
    mv_affine_multiply((const double(*)[4])Ai, d2->affine, M);
    for (a = 0; a < 3; a++) {
        for (b = 0; b < 4; b++) w->B[a][b] = M[a][b];
        for (b = 0; b < 3; b++) w->C[a][b] = w->nc == 2 && b == 2 ? 0 : Ai[a][b] * mv__cu_fd_S[b];
    }
    return MV_OK;
}

static mv_status mv__cu_fd_check(const mv_cuda_vol *f, const char *fn, const char *which)
{
    MV__CU_STRY(mv__cu_check_vol(f, fn, which));
    if (mv_field_check(&f->vol, NULL) != MV_OK)
        return mv_set_error(MV_ERR_INVALID_ARG, "%s: %s: %s", fn, which, mv_last_error());
    return MV_OK;
}

MVCDEF mv_status mv_cuda_field_warp_into(const mv_cuda_vol *moving, const mv_cuda_vol *field, const double matrix[4][4],
                                         mv_cuda_vol *out, const mv_field_opts *opts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_warp_into";
    mv_field_opts o;
    mv__cu_fdmap w;
    mv__cu_rsmap m;
    mv_dtype idt, odt;
    int a, active = 0;
    double slope = 1, inter = 0;
    mv_status st = MV_ERR_UNSUPPORTED;
    dim3 grid;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_check_vol(moving, fn, "moving"));
    MV__CU_STRY(mv__cu_fd_check(field, fn, "field"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "out"));
    MV__CU_CHECK(o.interp == MV_INTERP_LINEAR || o.interp == MV_INTERP_NEAREST || o.interp == MV_INTERP_CUBIC,
                 MV_ERR_INVALID_ARG, "%s: interpolation %d", fn, (int)o.interp);
    for (a = 0; a < 3; a++)
        MV__CU_CHECK(mv__cu_dim(&out->vol, a) == field->vol.dim[a], MV_ERR_INVALID_ARG,
                     "%s: out dim[%d] = %lld, the field's grid has %lld", fn, a, (long long)mv__cu_dim(&out->vol, a),
                     (long long)field->vol.dim[a]);
    for (a = 3; a < MV_MAX_DIMS; a++)
        MV__CU_CHECK(mv__cu_dim(&out->vol, a) == mv__cu_dim(&moving->vol, a), MV_ERR_INVALID_ARG,
                     "%s: out dim[%d] must be the moving image's", fn, a);
    MV__CU_CHECK(out->vol.data != moving->vol.data && out->vol.data != field->vol.data, MV_ERR_INVALID_ARG,
                 "%s: out may not be an input", fn);
    MV__CU_STRY(mv__cu_fd_warp_map(&moving->vol, &field->vol, matrix, &w, fn));
    memset(&m, 0, sizeof(m));
    for (a = 0; a < 3; a++) m.n[a] = mv__cu_dim(&moving->vol, a);
    for (a = 0; a < 3; a++) m.m[a] = w.g[a];
    m.in_frame = m.n[0] * m.n[1] * m.n[2];
    m.out_frame = w.nv;
    m.frames = mv_vol_count(&moving->vol) / m.in_frame;
    m.linear = o.interp == MV_INTERP_LINEAR;
    m.fill = o.fill_outside != 0;
    idt = moving->vol.dtype;
    odt = out->vol.dtype;
    if (mv_vol_count(&out->vol) == 0) return MV_OK;
    grid = mv__cu_row_grid(w.g[0], w.g[1] * w.g[2] * m.frames);
    if (o.interp == MV_INTERP_NEAREST) {
        unsigned char fillb[16];
        MV__CU_CHECK(odt == idt, MV_ERR_UNSUPPORTED, "%s: nearest keeps the moving image's dtype (%s, out %s)", fn,
                     mv_dtype_name(idt), mv_dtype_name(odt));
        MV__CU_STRY(mv__cu_rs_fill_bytes(o.fill, odt, o.rounding, fillb));
        MV__CU_CASE_SIZE(mv_dtype_size(idt), T, {
            T fill;
            memcpy(&fill, fillb, sizeof(T));
            mv__cu_fd_nearest_kernel<T><<<grid, MV__CU_ROW_BLOCK, 0, stream>>>(
                (const T *)moving->vol.data, (const float *)field->vol.data, (T *)out->vol.data, w, m, fill);
            st = MV_OK;
        })
        if (st != MV_OK) return mv_set_error(st, "%s: %s voxels", fn, mv_dtype_name(idt));
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    MV__CU_CHECK(odt == MV_DT_F32 && mv__cu_is_gpu_real(idt), MV_ERR_UNSUPPORTED,
                 "%s: linear and cubic warp a real image into float32 (%s -> %s)", fn, mv_dtype_name(idt),
                 mv_dtype_name(odt));
    MV__CU_STRY(mv__cu_scaling(&moving->vol, o.raw, 1, &active, &slope, &inter));
    if (o.interp == MV_INTERP_CUBIC)
        return mv__cu_fd_cubic_run(moving, field, out, w, m, active, slope, inter, (float)o.fill, stream, fn);
    MV__CU_CASE_REAL(idt, S, {
        mv__cu_fd_warp_kernel<S><<<grid, MV__CU_ROW_BLOCK, 0, stream>>>((const S *)moving->vol.data,
                                                                        (const float *)field->vol.data,
                                                                        (float *)out->vol.data, w, m, active, slope,
                                                                        inter, (float)o.fill);
        st = MV_OK;
    })
    if (st != MV_OK) return mv_set_error(st, "%s: %s voxels", fn, mv_dtype_name(idt));
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* mv__fd_geo's L2V (LPS mm vector -> voxel vector) of a field, by the same
   arithmetic: inv(R) S, or for a 2D field the inverse of the in-plane 2x2
   of S R. mv_affine_invert is the CPU's mv__rs_inverse. */
static mv_status mv__cu_fd_l2v(const mv_vol *f, double L2V[3][3], const char *fn)
{
    double Ai[4][4];
    int a, b;
    MV__CU_CHECK(mv_affine_invert(f->affine, Ai) == MV_OK, MV_ERR_INVALID_ARG, "%s: the field's affine is singular", fn);
    for (a = 0; a < 3; a++)
        for (b = 0; b < 3; b++) L2V[a][b] = Ai[a][b] * mv__cu_fd_S[b];
    if (f->dim[4] == 2) {
        double m00 = mv__cu_fd_S[0] * f->affine[0][0], m01 = mv__cu_fd_S[0] * f->affine[0][1];
        double m10 = mv__cu_fd_S[1] * f->affine[1][0], m11 = mv__cu_fd_S[1] * f->affine[1][1];
        double det = m00 * m11 - m01 * m10;
        L2V[0][0] = m11 / det;
        L2V[0][1] = -m01 / det;
        L2V[1][0] = -m10 / det;
        L2V[1][1] = m00 / det;
        L2V[0][2] = L2V[1][2] = L2V[2][0] = L2V[2][1] = 0;
        L2V[2][2] = 1;
    }
    return MV_OK;
}

/* the CPU's fixed blocks of rows (mv__fd_red): at most 256, block b from
   row b * rows / blocks */
#define MV__CU_FD_BLOCKS 256
static MV__CU_HD int64_t mv__cu_fd_block_row(int64_t rows, int64_t blocks, int64_t b) { return b * rows / blocks; }

/* ---- Jacobian determinant and folds (mv_field_jacobian_into, mv_field_folds) ---- */

/* The field's grid and its LPS mm -> voxel matrix (mv__cu_fd_l2v) */
struct mv__cu_jac {
    double L2V[3][3];
    int64_t n[3], nv;
    int nc;
};
static mv_status mv__cu_jac_setup(const mv_vol *f, mv__cu_jac *j, const char *fn)
{
    memset(j, 0, sizeof(*j));
    for (int a = 0; a < 3; a++) j->n[a] = f->dim[a];
    j->nv = f->dim[0] * f->dim[1] * f->dim[2];
    j->nc = (int)f->dim[4];
    return mv__cu_fd_l2v(f, j->L2V, fn);
}

/* det(I + D L2V) at voxel (x, y, z), D by numpy.gradient (central
   differences, one-sided at the border, 0 along an axis of one voxel):
   mv__fd_jdet's float64 operations in its order, no FMA */
static MV__CU_HD double mv__cu_jdet(const float *d, const mv__cu_jac &j, int64_t x, int64_t y, int64_t z)
{
    double D[3][3], J[3][3];
    const int64_t p[3] = {x, y, z};
    const size_t st[3] = {1, (size_t)j.n[0], (size_t)(j.n[0] * j.n[1])};
    const size_t v = (size_t)x + (size_t)y * st[1] + (size_t)z * st[2];
    for (int c = 0; c < 3; c++) {
        size_t lo = v - st[c], hi = v + st[c];
        double h = 2;
        if (j.n[c] == 1) {
            for (int r = 0; r < 3; r++) D[r][c] = 0;
            continue;
        }
        if (p[c] == 0) {
            lo = v;
            h = 1;
        } else if (p[c] == j.n[c] - 1) {
            hi = v;
            h = 1;
        }
        for (int r = 0; r < 3; r++)
            D[r][c] = r < j.nc ? MV__CU_DSUB((double)d[(size_t)r * (size_t)j.nv + hi], (double)d[(size_t)r * (size_t)j.nv + lo]) / h
                               : 0;
    }
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            double s = r == c ? 1.0 : 0.0;
            for (int k = 0; k < 3; k++) s = MV__CU_DADD(s, MV__CU_DMUL(D[r][k], j.L2V[k][c]));
            J[r][c] = s;
        }
    if (j.nc == 2) return MV__CU_DSUB(MV__CU_DMUL(J[0][0], J[1][1]), MV__CU_DMUL(J[0][1], J[1][0]));
    /* mv__det3 */
    return MV__CU_DADD(MV__CU_DSUB(MV__CU_DMUL(J[0][0], MV__CU_DSUB(MV__CU_DMUL(J[1][1], J[2][2]), MV__CU_DMUL(J[1][2], J[2][1]))),
                                   MV__CU_DMUL(J[0][1], MV__CU_DSUB(MV__CU_DMUL(J[1][0], J[2][2]), MV__CU_DMUL(J[1][2], J[2][0])))),
                       MV__CU_DMUL(J[0][2], MV__CU_DSUB(MV__CU_DMUL(J[1][0], J[2][1]), MV__CU_DMUL(J[1][1], J[2][0]))));
}

/* One voxel's share of the folds: counted where det <= 0 or not finite;
   the minimum skips NaN (flagged instead), as mv__fd_jac_blocks */
struct mv__cu_folds {
    long long count;
    double min;
    int nan;
};
static MV__CU_HD void mv__cu_folds_add(mv__cu_folds &f, double det)
{
    f.count += !(det > 0) || !isfinite(det);
    f.nan |= det != det;
    f.min = det < f.min ? det : f.min;
}
static MV__CU_HD void mv__cu_folds_merge(mv__cu_folds &f, const mv__cu_folds &g)
{
    f.count += g.count;
    f.nan |= g.nan;
    f.min = g.min < f.min ? g.min : f.min;
}

/* det per voxel into out (float32) when out != NULL; per block the folds'
   partial (count, min, NaN seen) when part != NULL */
#define MV__CU_JAC_THREADS 256
static __global__ void mv__cu_jac_kernel(const float *__restrict__ d, mv__cu_jac j, float *__restrict__ out,
                                         mv__cu_folds *part)
{
    __shared__ mv__cu_folds sh[MV__CU_JAC_THREADS];
    mv__cu_folds f = {0, HUGE_VAL, 0};
    for (int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; v < j.nv; v += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = v % j.n[0], y = v / j.n[0] % j.n[1], z = v / (j.n[0] * j.n[1]);
        const double det = mv__cu_jdet(d, j, x, y, z);
        if (out) out[v] = (float)det;
        mv__cu_folds_add(f, det);
    }
    if (!part) return;
    sh[threadIdx.x] = f;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) mv__cu_folds_merge(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}

MVCDEF mv_status mv_cuda_field_jacobian_into(const mv_cuda_vol *field, mv_cuda_vol *out, const mv_field_opts *opts,
                                             mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_jacobian_into";
    mv__cu_jac j;
    (void)opts; /* threads, scratch: host options */
    MV__CU_STRY(mv__cu_fd_check(field, fn, "field"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "out"));
    MV__CU_CHECK(out->vol.dtype == MV_DT_F32, MV_ERR_INVALID_ARG, "%s: out is %s, needs float32", fn,
                 mv_dtype_name(out->vol.dtype));
    MV__CU_CHECK(out->vol.ndim >= 1 && out->vol.ndim <= 3, MV_ERR_INVALID_ARG, "%s: out has ndim %d (1..3)", fn,
                 out->vol.ndim);
    for (int a = 0; a < 3; a++)
        MV__CU_CHECK(mv__cu_dim(&out->vol, a) == field->vol.dim[a], MV_ERR_INVALID_ARG,
                     "%s: out dim[%d] = %lld, the field has %lld", fn, a, (long long)mv__cu_dim(&out->vol, a),
                     (long long)field->vol.dim[a]);
    MV__CU_CHECK(out->vol.data != field->vol.data, MV_ERR_INVALID_ARG, "%s: out may not be the field", fn);
    MV__CU_STRY(mv__cu_jac_setup(&field->vol, &j, fn));
    mv__cu_jac_kernel<<<mv__cu_blocks(j.nv, MV__CU_JAC_THREADS), MV__CU_JAC_THREADS, 0, (cudaStream_t)stream>>>(
        (const float *)field->vol.data, j, (float *)out->vol.data, NULL);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

MVCDEF mv_status mv_cuda_field_folds(const mv_cuda_vol *field, int64_t *count, double *min_det, const mv_field_opts *opts,
                                     mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_folds";
    const cudaStream_t s = (cudaStream_t)stream;
    mv__cu_jac j;
    mv__cu_folds *part = NULL, total = {0, HUGE_VAL, 0};
    (void)opts;
    MV__CU_STRY(mv__cu_fd_check(field, fn, "field"));
    MV__CU_CHECK(count != NULL, MV_ERR_INVALID_ARG, "%s: count is NULL", fn);
    MV__CU_STRY(mv__cu_jac_setup(&field->vol, &j, fn));
    const int blocks = mv__cu_blocks(j.nv, MV__CU_JAC_THREADS);
    mv__cu_folds *host = (mv__cu_folds *)malloc((size_t)blocks * sizeof(mv__cu_folds));
    MV__CU_CHECK(host != NULL, MV_ERR_OUT_OF_MEMORY, "%s: %d block partials", fn, blocks);
    cudaError_t e = cudaMallocAsync((void **)&part, (size_t)blocks * sizeof(mv__cu_folds), s);
    if (e != cudaSuccess) {
        free(host);
        return mv__cu_fail(e, fn);
    }
    mv__cu_jac_kernel<<<blocks, MV__CU_JAC_THREADS, 0, s>>>((const float *)field->vol.data, j, NULL, part);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(host, part, (size_t)blocks * sizeof(mv__cu_folds), cudaMemcpyDeviceToHost, s);
    (void)cudaFreeAsync(part, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e == cudaSuccess)
        for (int b = 0; b < blocks; b++) mv__cu_folds_merge(total, host[b]);
    free(host);
    if (e != cudaSuccess) return mv__cu_fail(e, fn);
    *count = (int64_t)total.count;
    if (min_det) *min_det = total.nan ? (double)NAN : total.min;
    return MV_OK;
}

/* ---- field inversion (mv_field_invert_into) ----------------------------------
   The CPU's fixed point e_{k+1}(p) = -d(p + e_k(p)) from e_0 = 0, each
   step also measuring the residual |e_k(p) + d(p + e_k(p))| of the field
   it starts from. Per voxel mv__fd_inv_blocks' float64 operations in its
   order (no FMA) with the composition's trilinear sample
   (mv__cu_fd_sample); the residual's maximum and mean summed as the CPU
   sums them (each row in x order, rows in its 256 fixed blocks, blocks in
   order), so the result, the iteration count and both residuals are the
   CPU's bits. The host reads the two residuals after each step (one
   stream synchronisation per step) to decide whether to stop. */

/* one voxel: next(v) = -d(p + L2V e), returns |e + d(p + L2V e)| */
static MV__CU_HD double mv__cu_inv_at(const float *d, const float *cur, float *next, const mv__cu_jac &g, int64_t x,
                                      int64_t y, int64_t z)
{
    const int64_t v = (z * g.n[1] + y) * g.n[0] + x;
    double e[3], c[3] = {(double)x, (double)y, (double)z}, dv[3], res = 0;
    e[0] = cur[v];
    e[1] = cur[g.nv + v];
    e[2] = g.nc == 3 ? (double)cur[2 * g.nv + v] : 0.0;
    for (int a = 0; a < 3; a++)
        c[a] = MV__CU_DADD(c[a], MV__CU_DADD(MV__CU_DADD(MV__CU_DMUL(g.L2V[a][0], e[0]), MV__CU_DMUL(g.L2V[a][1], e[1])),
                                             MV__CU_DMUL(g.L2V[a][2], e[2])));
    mv__cu_fd_sample(d, g.n, g.nv, g.nc, c, dv);
    for (int a = 0; a < 3; a++) {
        const double q = MV__CU_DADD(e[a], dv[a]); /* the residual of e: e + d(p + e) */
        res = MV__CU_DADD(res, MV__CU_DMUL(q, q));
        dv[a] = -dv[a];
    }
    next[v] = (float)dv[0];
    next[g.nv + v] = (float)dv[1];
    if (g.nc == 3) next[2 * g.nv + v] = (float)dv[2];
    return sqrt(res);
}

/* the CPU's running maximum: NaN, once seen, stays */
static MV__CU_HD double mv__cu_inv_max(double mx, double r) { return r > mx || r != r ? r : mx; }

static __global__ void mv__cu_inv_step_kernel(const float *__restrict__ d, const float *__restrict__ cur,
                                              float *__restrict__ next, mv__cu_jac g, double *__restrict__ res)
{
    const int64_t rows = g.n[1] * g.n[2];
    MV__CU_FOR_ROWS(r, rows) {
        const int64_t y = r % g.n[1], z = r / g.n[1];
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < g.n[0]; x += (int64_t)gridDim.x * blockDim.x)
            res[r * g.n[0] + x] = mv__cu_inv_at(d, cur, next, g, x, y, z);
    }
}

/* per row: the sum in x order and the maximum (row r at rowsum[r], rowmax[r]) */
static MV__CU_HD void mv__cu_inv_row(const double *res, int64_t nx, int64_t r, double *rowsum, double *rowmax)
{
    double s = 0, mx = 0;
    for (int64_t x = 0; x < nx; x++) {
        s = MV__CU_DADD(s, res[r * nx + x]);
        mx = mv__cu_inv_max(mx, res[r * nx + x]);
    }
    rowsum[r] = s;
    rowmax[r] = mx;
}
static __global__ void mv__cu_inv_rows_kernel(const double *res, int64_t nx, int64_t rows, double *rowsum, double *rowmax)
{
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x)
        mv__cu_inv_row(res, nx, r, rowsum, rowmax);
}

/* the residuals' maximum and mean from the rows: block b's rows in order
   (mv__fd_red's blocks), then the blocks in order; out[0] max, out[1] mean */
static MV__CU_HD void mv__cu_inv_block(const double *rowsum, const double *rowmax, int64_t rows, int64_t blocks, int64_t b,
                                       double *bsum, double *bmax)
{
    double s = 0, mx = 0;
    for (int64_t r = mv__cu_fd_block_row(rows, blocks, b); r < mv__cu_fd_block_row(rows, blocks, b + 1); r++) {
        s = MV__CU_DADD(s, rowsum[r]);
        mx = mv__cu_inv_max(mx, rowmax[r]);
    }
    *bsum = s;
    *bmax = mx;
}
static MV__CU_HD void mv__cu_inv_total(const double *bsum, const double *bmax, int64_t blocks, int64_t nv, double out[2])
{
    double mx = 0, mean = 0;
    for (int64_t b = 0; b < blocks; b++) {
        mx = mv__cu_inv_max(mx, bmax[b]);
        mean = MV__CU_DADD(mean, bsum[b]);
    }
    out[0] = mx;
    out[1] = mean / (double)nv;
}
/* one block of MV__CU_FD_BLOCKS threads */
static __global__ void mv__cu_inv_total_kernel(const double *rowsum, const double *rowmax, int64_t rows, int64_t nv,
                                               double *out)
{
    __shared__ double ss[MV__CU_FD_BLOCKS], sm[MV__CU_FD_BLOCKS];
    const int64_t blocks = rows < MV__CU_FD_BLOCKS ? rows : MV__CU_FD_BLOCKS;
    if ((int64_t)threadIdx.x < blocks) mv__cu_inv_block(rowsum, rowmax, rows, blocks, threadIdx.x, &ss[threadIdx.x], &sm[threadIdx.x]);
    __syncthreads();
    if (threadIdx.x == 0) mv__cu_inv_total(ss, sm, blocks, nv, out);
}

/* the CPU's default tolerance: 1e-4 of the smallest column norm of the
   field's affine (its in-plane columns for a 2D field) */
static double mv__cu_inv_tol(const mv_vol *f)
{
    double smin = HUGE_VAL;
    for (int a = 0; a < (f->dim[4] == 2 ? 2 : 3); a++) {
        double s = sqrt(f->affine[0][a] * f->affine[0][a] + f->affine[1][a] * f->affine[1][a] + f->affine[2][a] * f->affine[2][a]);
        smin = s < smin ? s : smin;
    }
    return 1e-4 * smin;
}

MVCDEF mv_status mv_cuda_field_invert_into(const mv_cuda_vol *d, mv_cuda_vol *out, const mv_field_opts *opts,
                                           mv_field_info *info, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_invert_into";
    const cudaStream_t s = (cudaStream_t)stream;
    mv_field_opts o;
    mv__cu_jac g;
    double tol, r2[2] = {0, 0};
    int k, max_iter;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_fd_check(d, fn, "d"));
    MV__CU_STRY(mv__cu_fd_check(out, fn, "out"));
    for (int a = 0; a < 5; a++)
        MV__CU_CHECK(d->vol.dim[a] == out->vol.dim[a], MV_ERR_INVALID_ARG, "%s: out dim[%d] = %lld, d has %lld", fn, a,
                     (long long)out->vol.dim[a], (long long)d->vol.dim[a]);
    MV__CU_CHECK(out->vol.data != d->vol.data, MV_ERR_INVALID_ARG, "%s: out may not be d", fn);
    MV__CU_CHECK(o.max_iter >= 0 && o.tol >= 0 && !(o.tol != o.tol), MV_ERR_INVALID_ARG, "%s: max_iter %d, tol %g", fn,
                 o.max_iter, o.tol);
    if (info) memset(info, 0, sizeof(*info));
    MV__CU_STRY(mv__cu_jac_setup(&d->vol, &g, fn));
    max_iter = o.max_iter > 0 ? o.max_iter : 50;
    tol = o.tol > 0 ? o.tol : mv__cu_inv_tol(&d->vol);
    const int64_t rows = g.n[1] * g.n[2];
    const size_t fbytes = (size_t)g.nv * (size_t)g.nc * sizeof(float);
    const size_t fpad = (fbytes + 255) & ~(size_t)255;
    char *scratch = NULL;
    MV__CU_TRY(cudaMallocAsync((void **)&scratch, fpad + ((size_t)g.nv + 2 * (size_t)rows + 2) * sizeof(double), s));
    float *buf[2] = {(float *)out->vol.data, (float *)(void *)scratch};
    double *res = (double *)(void *)(scratch + fpad), *rowsum = res + g.nv, *rowmax = rowsum + rows, *dev2 = rowmax + rows;
    const dim3 grid = mv__cu_row_grid(g.n[0], rows);
    int cur = 0;
    cudaError_t e = cudaMemsetAsync(buf[0], 0, fbytes, s);
    for (k = 0; e == cudaSuccess; k++) {
        mv__cu_inv_step_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const float *)d->vol.data, buf[cur], buf[1 - cur], g, res);
        mv__cu_inv_rows_kernel<<<mv__cu_blocks(rows, 128), 128, 0, s>>>(res, g.n[0], rows, rowsum, rowmax);
        mv__cu_inv_total_kernel<<<1, MV__CU_FD_BLOCKS, 0, s>>>(rowsum, rowmax, rows, g.nv, dev2);
        e = cudaGetLastError();
        if (e == cudaSuccess) e = cudaMemcpyAsync(r2, dev2, sizeof(r2), cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess) e = cudaStreamSynchronize(s);
        if (e != cudaSuccess || r2[0] <= tol || k >= max_iter || r2[0] != r2[0]) break;
        cur = 1 - cur;
    }
    /* the field whose residual was measured last */
    if (e == cudaSuccess && cur != 0) e = cudaMemcpyAsync(buf[0], buf[cur], fbytes, cudaMemcpyDeviceToDevice, s);
    (void)cudaFreeAsync(scratch, s);
    if (e != cudaSuccess) return mv__cu_fail(e, fn);
    if (info) {
        info->iterations = k;
        info->max_residual = r2[0];
        info->mean_residual = r2[1];
    }
    return MV_OK;
}

MVCDEF mv_status mv_cuda_field_compose_into(const mv_cuda_vol *d1, const mv_cuda_vol *d2, mv_cuda_vol *out,
                                            const mv_field_opts *opts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_compose_into";
    mv__cu_fdmap w;
    int a;
    (void)opts;
    MV__CU_STRY(mv__cu_fd_check(d1, fn, "d1"));
    MV__CU_STRY(mv__cu_fd_check(d2, fn, "d2"));
    MV__CU_STRY(mv__cu_fd_check(out, fn, "out"));
    MV__CU_CHECK(d1->vol.dim[4] == d2->vol.dim[4], MV_ERR_INVALID_ARG, "%s: d1 has %lld components, d2 %lld", fn,
                 (long long)d1->vol.dim[4], (long long)d2->vol.dim[4]);
    for (a = 0; a < 5; a++)
        MV__CU_CHECK(out->vol.dim[a] == d2->vol.dim[a], MV_ERR_INVALID_ARG, "%s: out dim[%d] = %lld, d2's %lld", fn, a,
                     (long long)out->vol.dim[a], (long long)d2->vol.dim[a]);
    MV__CU_CHECK(out->vol.data != d1->vol.data, MV_ERR_INVALID_ARG, "%s: out may be d2, not d1", fn);
    MV__CU_STRY(mv__cu_fd_compose_map(&d1->vol, &d2->vol, &w, fn));
    mv__cu_fd_compose_kernel<<<mv__cu_row_grid(w.g[0], w.g[1] * w.g[2]), MV__CU_ROW_BLOCK, 0, stream>>>(
        (const float *)d1->vol.data, (const float *)d2->vol.data, (float *)out->vol.data, w, d1->vol.dim[0],
        d1->vol.dim[1], d1->vol.dim[2], d1->vol.dim[0] * d1->vol.dim[1] * d1->vol.dim[2]);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

MVCDEF mv_status mv_cuda_field_smooth_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                           const mv_filter_opts *fopts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_smooth_into";
    int a;
    MV__CU_STRY(mv__cu_fd_check(in, fn, "in"));
    MV__CU_STRY(mv__cu_fd_check(out, fn, "out"));
    for (a = 0; a < 5; a++)
        MV__CU_CHECK(out->vol.dim[a] == in->vol.dim[a], MV_ERR_INVALID_ARG, "%s: out dim[%d] = %lld, in's %lld", fn, a,
                     (long long)out->vol.dim[a], (long long)in->vol.dim[a]);
    return mv_cuda_gaussian_into(in, out, sigma, fopts, stream);
}

/* ---- proton transport (>>cuda-api-transport) --------------------------------
   The CPU's operators (medvol.h >>impl-transport) as element functions
   (MV__CU_HD: tests/test_cuda_host.cu runs them on the host against
   mv_transport_apply / _step), item functions that do one thread's work
   (one cell of one energy bin, every angle), thin grid-stride kernels
   around the items, and one step sequence written against a launcher, so
   that the host checks walk the very sequence the device runs. The fused
   kernels call the element functions directly (their angles split across
   lanes of a block, not an item per thread): the host checks cover their
   arithmetic, the GPU group `transport` (and its run on the emulator in
   make test) their indexing, against the CPU byte for byte. So with the
   one-kernel Lie step (mv__cu_tr_lie_kernel): the host launcher runs it as
   its two halves; the emulator runs the kernel itself (with its barriers
   checked by running each grid forward and in reverse). */

/* the bilinear move of one angle (mv_transport_stencil without pointers) */
typedef struct mv__cu_tr_shift {
    int64_t ix, iz, xa, xb;
    float w[4];
    int copy;
} mv__cu_tr_shift;

/* the tables of one step length (full or half), device or host pointers */
typedef struct mv__cu_tr_ops {
    const int *el_start, *el_src;
    const float *el_w;
    const double *el_dep, *el_absorb;
    const int *sc_start, *sc_off;
    const float *sc_w;
    const mv__cu_tr_shift *sh; /* ntheta */
    const double *wx, *wz;     /* ntheta x nx, ntheta x nz: the fractions a source cell keeps */
} mv__cu_tr_ops;

/* The one-kernel Lie step's tiling (mv__cu_tr_plan_tile): a block per
   (bin, tile of tx x tz output cells) works on the tile with the halo its
   streaming reads (hx, hz cells before it, px x pz in all) */
typedef struct mv__cu_tr_tile {
    int ok;             /* 0: the fused Lie step runs two kernels */
    int tx, tz, ntx, ntz; /* output tile, tiles across a plane */
    int hx, hz, px, pz; /* halo before the tile; the halo'd tile */
    int ring, hi;       /* energy-loss planes kept (a power of two), the largest tap offset */
    int maxk, maxg;     /* most scattering taps, most energy-loss sources of a bin */
    int smem;           /* bytes of shared memory a block takes */
} mv__cu_tr_tile;

/* everything a transport kernel reads: sizes, tables, bookkeeping scratch */
typedef struct mv__cu_tr_args {
    int64_t nx, nz, nth, ne, row, plane; /* row = nz nx, plane = ntheta row */
    const double *energy;
    mv__cu_tr_ops op[2];                 /* [0] full step, [1] half step */
    float *rs;                           /* ne x row: theta sums of a fluence */
    double *tot_in, *tot_gat, *tot_out; /* ne: per-bin totals */
    double *esc;                         /* ne x ntheta: escaped per (bin, angle) */
    double *bal;                         /* 8: mv_transport_balance's fields, in its order */
    mv__cu_tr_tile tile;                 /* the one-kernel Lie step (full-step tables) */
} mv__cu_tr_args;

/* what a balance call adds, in mv__tr_run_pass's order */
enum {
    MV__CU_TR_BAL_IN = 1,        /* particles / energy in, from tot_in (no gather) */
    MV__CU_TR_BAL_ESC = 2,       /* escaped, from esc */
    MV__CU_TR_BAL_GATHER_IN = 4, /* in, from the gather's totals tot_gat */
    MV__CU_TR_BAL_GATHER = 8,    /* absorbed and deposited, from tot_gat */
    MV__CU_TR_BAL_OUT = 16       /* out, from tot_out */
};

/* Energy loss of one cell at offset off of a target bin: the gather over
   its k source bins, acc = w0 s0, then acc + w s (the CPU's wsum); one
   source of weight 1 is the CPU's plane copy. */
static MV__CU_HD float mv__cu_tr_gather_bins(const float *in, int64_t plane, const int *src, const float *w, int k,
                                             int64_t off)
{
    if (k == 1 && w[0] == 1.0f) return in[(int64_t)src[0] * plane + off];
    float acc = 0.0f;
    if (k > 0) acc = MV__CU_FMUL(w[0], in[(int64_t)src[0] * plane + off]);
    for (int q = 1; q < k; q++) acc = MV__CU_FADD(acc, MV__CU_FMUL(w[q], in[(int64_t)src[q] * plane + off]));
    return acc;
}

/* Scattering of angle a from a column of ntheta values `stride` apart:
   sum over the kernel of w * col[(a - off) mod ntheta], in kernel order;
   the identity kernel is the CPU's plane copy. The wrap is one compare and
   add for offsets within a turn and a 32-bit remainder only beyond: a
   64-bit remainder per tap (tens of instructions, ~10 taps for each of 23 M
   outputs of the baseline grid) held the H200's scattering at 4.7x a D2D
   copy. ntheta fits an int (the plan's tables are int). */
static MV__CU_HD float mv__cu_tr_scatter_at(const float *col, int64_t stride, int64_t nth, const int *off,
                                            const float *w, int k, int64_t a)
{
    if (k == 1 && off[0] == 0 && w[0] == 1.0f) return col[a * stride];
    const int n = (int)nth, ai = (int)a;
    float acc = 0.0f;
    for (int q = 0; q < k; q++) {
        int s = ai - off[q];
        if (s < 0) s += n;
        else if (s >= n) s -= n;
        if ((unsigned)s >= (unsigned)n) { /* an offset beyond one turn */
            s = (ai - off[q]) % n;
            if (s < 0) s += n;
        }
        const float v = MV__CU_FMUL(w[q], col[(int64_t)s * stride]);
        acc = q == 0 ? v : MV__CU_FADD(acc, v);
    }
    return acc;
}

/* Streaming of output cell (z, x) of one (bin, angle) plane sp (nz x nx):
   whole-cell moves copy; otherwise the four sources in the CPU's order
   (mv__tr_stream_el), 0 outside the plane. */
static MV__CU_HD float mv__cu_tr_stream_at(const float *sp, int64_t nz, int64_t nx, const mv__cu_tr_shift &s,
                                           int64_t z, int64_t x)
{
    const int64_t z0 = z - s.iz, x0 = x - s.ix;
    const bool z0in = z0 >= 0 && z0 < nz, z1in = z0 - 1 >= 0 && z0 - 1 < nz;
    const bool x0in = x0 >= 0 && x0 < nx, x1in = x0 - 1 >= 0 && x0 - 1 < nx;
    if (s.copy) return z0in && x0in ? sp[z0 * nx + x0] : 0.0f;
    const float a0 = z0in && x0in ? sp[z0 * nx + x0] : 0.0f, b0 = z0in && x1in ? sp[z0 * nx + x0 - 1] : 0.0f;
    const float a1 = z1in && x0in ? sp[(z0 - 1) * nx + x0] : 0.0f;
    const float b1 = z1in && x1in ? sp[(z0 - 1) * nx + x0 - 1] : 0.0f;
    float acc = MV__CU_FMUL(s.w[0], a0);
    acc = MV__CU_FADD(acc, MV__CU_FMUL(s.w[1], b0));
    acc = MV__CU_FADD(acc, MV__CU_FMUL(s.w[2], a1));
    return MV__CU_FADD(acc, MV__CU_FMUL(s.w[3], b1));
}

/* theta sum of one cell of a bin: ntheta values `stride` apart, added in
   ascending angle in float32 (the CPU's plane sum with weights 1) */
static MV__CU_HD float mv__cu_tr_theta_sum(const float *p, int64_t stride, int64_t nth)
{
    float acc = p[0];
    for (int64_t a = 1; a < nth; a++) acc = MV__CU_FADD(acc, p[a * stride]);
    return acc;
}

/* a bin's total: its theta sums added cell by cell in float64, onto s
   (0 for a whole bin; a running sum for a part of one) */
static MV__CU_HD double mv__cu_tr_bin_total(double s, const float *rs, int64_t row)
{
    for (int64_t c = 0; c < row; c++) s = MV__CU_DADD(s, (double)rs[c]);
    return s;
}

/* what source cell (z, x) of a (bin, angle) plane lets escape under
   stencil s: it keeps wz wx of its content (rows with wz >= 1: wx alone,
   and columns [xa, xb) keep everything: 0 returned, *term untouched, the
   cell is not added at all, so that a NaN there stays out as on the CPU) */
static MV__CU_HD int mv__cu_tr_escaped_at(const float *sp, int64_t nx, const mv__cu_tr_shift &s, const double *wx,
                                          const double *wz, int64_t z, int64_t x, double *term)
{
    const double r = (double)sp[z * nx + x], wzz = wz[z];
    if (wzz < 1.0) *term = MV__CU_DMUL(r, MV__CU_DSUB(1.0, MV__CU_DMUL(wzz, wx[x])));
    else if (x < s.xa || x >= (s.xa > s.xb ? s.xa : s.xb)) *term = MV__CU_DMUL(r, MV__CU_DSUB(1.0, wx[x]));
    else return 0;
    return 1;
}

/* particles leaving one (bin, angle) plane: the cells' terms added in row
   order (mv__tr_stream_theta's sum, same order) */
static MV__CU_HD double mv__cu_tr_escaped(const float *sp, int64_t nz, int64_t nx, const mv__cu_tr_shift &s,
                                          const double *wx, const double *wz)
{
    double e = 0, term = 0;
    for (int64_t z = 0; z < nz; z++)
        for (int64_t x = 0; x < nx; x++)
            if (mv__cu_tr_escaped_at(sp, nx, s, wx, wz, z, x, &term)) e = MV__CU_DADD(e, term);
    return e;
}

/* dose of cell c after a gather: d + dep_i * rs_i(c) over source bins i in
   ascending order (mv__tr_dose_part + mv__tr_dose_range) */
static MV__CU_HD double mv__cu_tr_dose_at(double d, const float *rs, int64_t row, int64_t ne, const double *dep,
                                          int64_t c)
{
    for (int64_t i = 0; i < ne; i++) d = MV__CU_DADD(d, MV__CU_DMUL(dep[i], (double)rs[i * row + c]));
    return d;
}

/* The bookkeeping of a pass, element by element: the operands of element
   i of group flag (a MV__CU_TR_BAL_* bit; i over bins, or over (bin,
   angle) for the escaped), and its additions to b[8]
   (mv_transport_balance's fields in order). */
static MV__CU_HD int64_t mv__cu_tr_balance_count(const mv__cu_tr_args &A, int flag)
{
    return flag == MV__CU_TR_BAL_ESC ? A.ne * A.nth : A.ne;
}
static MV__CU_HD void mv__cu_tr_balance_operands(const mv__cu_tr_args &A, int h, int flag, int64_t i, double *x,
                                                 double *y, double *z)
{
    switch (flag) {
    case MV__CU_TR_BAL_IN: *x = A.tot_in[i], *y = A.energy[i], *z = 0; break;
    case MV__CU_TR_BAL_ESC: *x = A.esc[i], *y = A.energy[i / A.nth], *z = 0; break;
    case MV__CU_TR_BAL_GATHER_IN: *x = A.tot_gat[i], *y = A.energy[i], *z = 0; break;
    case MV__CU_TR_BAL_GATHER: *x = A.tot_gat[i], *y = A.op[h].el_absorb[i], *z = A.op[h].el_dep[i]; break;
    default: *x = A.tot_out[i], *y = A.energy[i], *z = 0; break;
    }
}
static MV__CU_HD void mv__cu_tr_balance_step(double *b, int flag, double x, double y, double z)
{
    switch (flag) {
    case MV__CU_TR_BAL_IN:
    case MV__CU_TR_BAL_GATHER_IN: /* particles and energy in */
        b[0] = MV__CU_DADD(b[0], x);
        b[4] = MV__CU_DADD(b[4], MV__CU_DMUL(x, y));
        break;
    case MV__CU_TR_BAL_ESC:
        b[2] = MV__CU_DADD(b[2], x);
        b[6] = MV__CU_DADD(b[6], MV__CU_DMUL(x, y));
        break;
    case MV__CU_TR_BAL_GATHER: /* absorbed, deposited */
        b[3] = MV__CU_DADD(b[3], MV__CU_DMUL(x, y));
        b[7] = MV__CU_DADD(b[7], MV__CU_DMUL(x, z));
        break;
    default:
        b[1] = MV__CU_DADD(b[1], x);
        b[5] = MV__CU_DADD(b[5], MV__CU_DMUL(x, y));
        break;
    }
}

/* adds one pass's bookkeeping to A.bal, the additions of mv__tr_run_pass
   in its order (groups in flag order, elements ascending) */
static MV__CU_HD void mv__cu_tr_balance_add(const mv__cu_tr_args &A, int h, int flags)
{
    double b[8], x, y, z;
    for (int q = 0; q < 8; q++) b[q] = A.bal[q];
    for (int flag = 1; flag <= MV__CU_TR_BAL_OUT; flag <<= 1)
        if (flags & flag)
            for (int64_t i = 0; i < mv__cu_tr_balance_count(A, flag); i++) {
                mv__cu_tr_balance_operands(A, h, flag, i, &x, &y, &z);
                mv__cu_tr_balance_step(b, flag, x, y, z);
            }
    for (int q = 0; q < 8; q++) A.bal[q] = b[q];
}

/* ---- items: one thread's work, one cell c of one bin j, every angle ---- */

/* energy loss of target bin j at cell c into dst[a * dstride] (global
   memory: out + j plane + c, stride row; or a shared column); rs (may be
   NULL) gets the theta sum of the input's bin j at c */
static MV__CU_HD void mv__cu_tr_eloss_item(const mv__cu_tr_args &A, int h, const float *in, float *dst, int64_t dstride,
                                           float *rs, int64_t j, int64_t c)
{
    const mv__cu_tr_ops &O = A.op[h];
    const int g0 = O.el_start[j], k = O.el_start[j + 1] - g0;
    for (int64_t a = 0; a < A.nth; a++)
        dst[a * dstride] = mv__cu_tr_gather_bins(in, A.plane, O.el_src + g0, O.el_w + g0, k, a * A.row + c);
    if (rs) rs[j * A.row + c] = mv__cu_tr_theta_sum(in + j * A.plane + c, A.row, A.nth);
}

/* scattering of bin j's column src (stride sstride) into dst (stride dstride) */
static MV__CU_HD void mv__cu_tr_scatter_item(const mv__cu_tr_args &A, int h, const float *src, int64_t sstride,
                                             float *dst, int64_t dstride, int64_t j)
{
    const mv__cu_tr_ops &O = A.op[h];
    const int b = O.sc_start[j], k = O.sc_start[j + 1] - b;
    for (int64_t a = 0; a < A.nth; a++)
        dst[a * dstride] = mv__cu_tr_scatter_at(src, sstride, A.nth, O.sc_off + b, O.sc_w + b, k, a);
}

/* streaming of bin j at cell c = (z, x), every angle, into dst[a * dstride] */
static MV__CU_HD void mv__cu_tr_stream_item(const mv__cu_tr_args &A, int h, const float *in, float *dst, int64_t dstride,
                                            int64_t j, int64_t c)
{
    const int64_t z = c / A.nx, x = c - z * A.nx;
    for (int64_t a = 0; a < A.nth; a++)
        dst[a * dstride] = mv__cu_tr_stream_at(in + (j * A.nth + a) * A.row, A.nz, A.nx, A.op[h].sh[a], z, x);
}

/* ---- kernels: grid-stride over bins (grid y) and cells (grid x) ---- */

#define MV__CU_TR_FOR_BINS(j, A) for (int64_t j = blockIdx.y; j < (A).ne; j += gridDim.y)
#define MV__CU_TR_FOR_CELLS(c, A) \
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < (A).row; c += (int64_t)gridDim.x * blockDim.x)
#define MV__CU_TR_FOR_1D(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* The unfused operator kernels: a thread per cell of a bin, every angle
   (the items). A thread per output value instead (bin, angle and cell on
   the grid) ran slower on an H200: scattering 0.137 -> 0.215 ms, streaming
   0.152 -> 0.179 ms at the baseline grid; ncu put them at 60-77% of the
   SMs' issue rate and 17-24% of DRAM bandwidth, the per-cell index
   arithmetic and table reads no longer shared by 72 angles. */
static __global__ void mv__cu_tr_eloss_kernel(mv__cu_tr_args A, int h, const float *__restrict__ in,
                                              float *__restrict__ out, int want_rs)
{
    MV__CU_TR_FOR_BINS(j, A) MV__CU_TR_FOR_CELLS(c, A)
        mv__cu_tr_eloss_item(A, h, in, out + j * A.plane + c, A.row, want_rs ? A.rs : NULL, j, c);
}
static __global__ void mv__cu_tr_scatter_kernel(mv__cu_tr_args A, int h, const float *__restrict__ in,
                                                float *__restrict__ out)
{
    MV__CU_TR_FOR_BINS(j, A) MV__CU_TR_FOR_CELLS(c, A)
        mv__cu_tr_scatter_item(A, h, in + j * A.plane + c, A.row, out + j * A.plane + c, A.row, j);
}
static __global__ void mv__cu_tr_stream_kernel(mv__cu_tr_args A, int h, const float *__restrict__ in,
                                               float *__restrict__ out)
{
    MV__CU_TR_FOR_BINS(j, A) MV__CU_TR_FOR_CELLS(c, A)
        mv__cu_tr_stream_item(A, h, in, out + j * A.plane + c, A.row, j, c);
}

/* The fused kernels: a block per (bin j, MV__CU_TR_FCELLS cells), its
   threads MV__CU_TR_FCELLS cells x MV__CU_TR_FLANES angle lanes. The first
   operator's values of every angle go into a shared block nth x FCELLS
   (a warp: one angle of 32 consecutive cells, coalesced), a barrier, then
   the scattering of each output from it. They replaced a thread per cell
   holding its own column of nth floats (128 threads a block, 37%
   occupancy at 72 angles): on an H200 at the baseline grid the Lie fused
   step went 0.528 -> 0.452 ms and the Strang fused step 0.887 -> 0.718 ms
   (the theta sums in the kernel, below, are part of that). */
#define MV__CU_TR_FCELLS 32
#define MV__CU_TR_FLANES 8
/* block-uniform loops (the kernels' barriers sit inside them) */
#define MV__CU_TR_FOR_FUSED(j, c0, A)                                          \
    for (int64_t j = blockIdx.y; j < (A).ne; j += gridDim.y)                   \
        for (int64_t c0 = (int64_t)blockIdx.x * MV__CU_TR_FCELLS; c0 < (A).row; \
             c0 += (int64_t)gridDim.x * MV__CU_TR_FCELLS)

/* the scattering half of a fused kernel: col holds the block's nth x FCELLS
   values; the barriers around it are the caller's */
static __device__ __forceinline__ void mv__cu_tr_fused_scatter(const mv__cu_tr_args &A, int hs, const float *col, float *out,
                                                               int64_t j, int64_t c)
{
    const mv__cu_tr_ops &O = A.op[hs];
    const int b = O.sc_start[j], k = O.sc_start[j + 1] - b;
    if (c >= A.row) return;
    for (int64_t a = threadIdx.y; a < A.nth; a += MV__CU_TR_FLANES)
        out[j * A.plane + a * A.row + c] = mv__cu_tr_scatter_at(col + threadIdx.x, MV__CU_TR_FCELLS, A.nth, O.sc_off + b,
                                                                O.sc_w + b, k, a);
}

/* fused (Lie, Strang's ends): energy loss, then its scattering. With
   want_rs the input's own bin j goes into a second shared block as it is
   read (usually one of the gather's sources: a cache hit), and lane 0 of each
   cell adds it up in ascending angle: the theta sums of the rowsum kernel
   without its pass over the fluence. */
static __global__ void mv__cu_tr_eloss_scatter_kernel(mv__cu_tr_args A, int h, const float *__restrict__ in,
                                                      float *__restrict__ out, int want_rs)
{
    extern __shared__ float mv__cu_tr_col[];
    float *own = mv__cu_tr_col + A.nth * MV__CU_TR_FCELLS; /* want_rs: bin j of the input */
    const mv__cu_tr_ops &O = A.op[h];
    MV__CU_TR_FOR_FUSED(j, c0, A) {
        const int g0 = O.el_start[j], k = O.el_start[j + 1] - g0;
        const int64_t c = c0 + threadIdx.x;
        if (c < A.row)
            for (int64_t a = threadIdx.y; a < A.nth; a += MV__CU_TR_FLANES) {
                mv__cu_tr_col[a * MV__CU_TR_FCELLS + threadIdx.x] =
                    mv__cu_tr_gather_bins(in, A.plane, O.el_src + g0, O.el_w + g0, k, a * A.row + c);
                if (want_rs) own[a * MV__CU_TR_FCELLS + threadIdx.x] = in[j * A.plane + a * A.row + c];
            }
        __syncthreads();
        if (want_rs && threadIdx.y == 0 && c < A.row)
            A.rs[j * A.row + c] = mv__cu_tr_theta_sum(own + threadIdx.x, MV__CU_TR_FCELLS, A.nth);
        mv__cu_tr_fused_scatter(A, h, mv__cu_tr_col, out, j, c);
        __syncthreads(); /* before the next (bin, cells) overwrites the blocks */
    }
}
/* fused (Strang): streaming (full step), then the half-step scattering */
static __global__ void mv__cu_tr_stream_scatter_kernel(mv__cu_tr_args A, int hm, int hs, const float *__restrict__ in,
                                                       float *__restrict__ out)
{
    extern __shared__ float mv__cu_tr_col[];
    MV__CU_TR_FOR_FUSED(j, c0, A) {
        const int64_t c = c0 + threadIdx.x;
        if (c < A.row) {
            const int64_t z = c / A.nx, x = c - z * A.nx;
            for (int64_t a = threadIdx.y; a < A.nth; a += MV__CU_TR_FLANES)
                mv__cu_tr_col[a * MV__CU_TR_FCELLS + threadIdx.x] =
                    mv__cu_tr_stream_at(in + (j * A.nth + a) * A.row, A.nz, A.nx, A.op[hm].sh[a], z, x);
        }
        __syncthreads();
        mv__cu_tr_fused_scatter(A, hs, mv__cu_tr_col, out, j, c);
        __syncthreads();
    }
}
/* The whole Lie step in one kernel (fused plans, steps without bookkeeping):
   energy loss, scattering and streaming of one bin over one tile of the
   plane, so that the fluence is read and written once (the two-kernel
   step above writes the scattered fluence and reads it back, and ran at
   9.4x a D2D copy on an H200). A block per (bin j, tile); its halo'd tile
   (the cells the tile's streaming reads, tile.px x tile.pz) lives in shared
   memory as planes over angle:
   - ring: the energy loss of the last tile.ring angles, one plane each
     (scattering of angle a reads angles a - off for its taps' offsets,
     which lie in one window: tile.ring >= hi - lo + 1);
   - two scattered planes (angle a's is streamed while a + 1's is made).
   Angle by angle: the energy loss of angle a - lo (the window's newest),
   a barrier, the scattering of angle a over the halo'd tile, a barrier,
   the streaming of angle a's tile cells from that plane. Halo cells are
   computed by the neighbouring tiles' blocks too (tile.px tile.pz /
   (tx tz) times the work; the planner weighs that against the blocks'
   spread over the SMs). Every value is the element functions' (the same
   operations in the same order as mv__cu_tr_gather_bins, _scatter_at,
   _stream_at; cells outside the plane hold 0 as stream_at's sources):
   the CPU's bytes. A thread owns NC (template: ceil(halo'd cells / 256),
   at most MV__CU_TR_LCELLS) halo'd-tile cells (h = thread + k 256) and as
   many output cells, their offsets worked out once per block.
   Measured on an H100 at the baseline grid (40x40, 72 angles, 200 bins;
   bench/gpu/2026-11-26-h100): 0.247 ms as first written (3.7x a D2D copy;
   each angle waited on its own loads), 0.205 with the loads an angle ahead
   (ncu: issue-bound, 0.8 instructions a cycle per scheduler, 395 a thread
   and angle), 0.173 with int offsets, the angle stepped instead of a
   remainder and the stores hoisted (300), 0.165 with the loads' base kept
   in a register and 40x20 tiles (2.5x the copy; 80 M instructions). What
   is left: the SMs are active 74% of the kernel (400 blocks on 132 SMs:
   four SMs run a fourth block after the others finish). Tried and slower:
   streaming every slot unconditionally (out-of-tile slots reading the
   tile's first cell) to drop the per-cell branches, 0.165 -> 0.169 ms. */
#define MV__CU_TR_LTHREADS 256
#define MV__CU_TR_LCELLS 4 /* halo'd tile <= 1024 cells */
/* the halo'd-tile cells a thread owns (the kernel's NC): the passes of the
   block's threads over the tile, as the launcher picks the kernel and the
   planner costs a tile */
static int mv__cu_tr_tile_passes(int64_t cells)
{
    return (int)((cells + MV__CU_TR_LTHREADS - 1) / MV__CU_TR_LTHREADS);
}
/* blocks an SM holds at once (a register cap: 48 a thread at 5, 64 at 4);
   the prefetched loads need more than the 40 of 6 blocks (spills) */
#define MV__CU_TR_LMINB(nc) ((nc) > 3 ? 4 : 5)
#define MV__CU_TR_LPRE 2   /* energy-loss sources loaded an angle ahead (the rest: on the spot) */
/* p as one register pair that the compiler keeps as it is (an empty asm):
   addresses off it take one multiply-add, where it otherwise folded p's
   offset into every address and reloaded the kernel argument for each;
   loads through it say that they read the read-only input (the asm hides
   the __restrict__ const argument it came from) */
static __device__ __forceinline__ const float *mv__cu_tr_opaque(const float *p)
{
#ifdef __CUDA_ARCH__
    asm("" : "+l"(p));
#endif
    return p;
}
static __device__ __forceinline__ float mv__cu_tr_ldg(const float *p)
{
#ifdef __CUDA_ARCH__
    return __ldg(p);
#else
    return *p;
#endif
}
/* the loads of one angle (abase = its offset in a plane, angle x row):
   the first MV__CU_TR_LPRE of a bin's energy-loss sources (their planes at
   in + so[q]) at the thread's halo'd-tile cells into pre[q][m], and with rs
   bin j's own plane (at in + jo) at its output cells into prs[m]. Offsets
   are int from the kernel argument in (the planner keeps the fluence under
   2^31 values) and each group's base is one opaque pointer, so that a load
   is one multiply-add and the load: 64-bit plane pointers kept per thread
   cost 8 instructions a load, and the registers they took made the
   compiler rebuild them from the arguments for every load. */
template <int NC>
static __device__ __forceinline__ void mv__cu_tr_lie_load(const float *__restrict__ in, const int *so, int jo,
                                                          int abase, int kg, int rs, const int *hoff,
                                                          const int *ooff, float (*pre)[NC], float *prs)
{
#pragma unroll
    for (int q = 0; q < MV__CU_TR_LPRE; q++)
        if (q < kg) {
            const float *src = mv__cu_tr_opaque(in + (so[q] + abase));
#pragma unroll
            for (int m = 0; m < NC; m++)
                if (hoff[m] >= 0) pre[q][m] = mv__cu_tr_ldg(src + hoff[m]);
        }
    if (rs) {
        const float *src = mv__cu_tr_opaque(in + (jo + abase));
#pragma unroll
        for (int m = 0; m < NC; m++)
            if (ooff[m] >= 0) prs[m] = mv__cu_tr_ldg(src + ooff[m]);
    }
}
template <int NC>
static __global__ void __launch_bounds__(MV__CU_TR_LTHREADS, MV__CU_TR_LMINB(NC))
    mv__cu_tr_lie_kernel(mv__cu_tr_args A, const float *__restrict__ in, float *__restrict__ out, int want_rs)
{
    extern __shared__ float mv__cu_tr_lsm[];
    const mv__cu_tr_tile &T = A.tile;
    const mv__cu_tr_ops &O = A.op[0];
    const int P = T.px * T.pz, W = T.ring, nth = (int)A.nth, nx = (int)A.nx, nz = (int)A.nz;
    float *ring = mv__cu_tr_lsm;                 /* W planes of P */
    float *splane = ring + W * P;                /* 2 planes of P */
    float *tw = splane + 2 * P;                  /* maxk tap weights */
    int *toff = (int *)(tw + T.maxk);            /* maxk: hi - offset, >= 0 */
    float *gw = (float *)(toff + T.maxk);        /* maxg energy-loss weights */
    int *gsrc = (int *)(gw + T.maxg);            /* maxg source bins */
    float *aw = (float *)(gsrc + T.maxg);        /* nth x 4 stencil weights */
    int *adelta = (int *)(aw + 4 * nth);         /* nth: the stencil's first source, relative */
    int *acopy = adelta + nth;                   /* nth: whole-cell move */
    const int tid = threadIdx.x;
    for (int t = tid; t < nth; t += blockDim.x) {
        const mv__cu_tr_shift &sh = O.sh[t];
        adelta[t] = -((int)sh.iz * T.px + (int)sh.ix);
        acopy[t] = sh.copy;
        for (int q = 0; q < 4; q++) aw[4 * t + q] = sh.w[q];
    }
    const int tzi = (int)(blockIdx.x / (unsigned)T.ntx), txi = (int)(blockIdx.x - (unsigned)tzi * (unsigned)T.ntx);
    const int z0 = tzi * T.tz, x0 = txi * T.tx;
    int hoff[NC], ooff[NC], obase[NC];
#pragma unroll
    for (int m = 0; m < NC; m++) {
        const int h = tid + m * MV__CU_TR_LTHREADS, o = h;
        const int lz = h / T.px, lx = h - lz * T.px, z = z0 - T.hz + lz, x = x0 - T.hx + lx;
        const int oz = o / T.tx, ox = o - oz * T.tx;
        hoff[m] = h < P && z >= 0 && z < nz && x >= 0 && x < nx ? z * nx + x : -1; /* -1: 0 or no cell */
        ooff[m] = o < T.tx * T.tz && z0 + oz < nz && x0 + ox < nx ? (z0 + oz) * nx + x0 + ox : -1;
        obase[m] = (oz + T.hz) * T.px + ox + T.hx;
    }
    for (int64_t j = blockIdx.y; j < A.ne; j += gridDim.y) {
        const int b = O.sc_start[j], k = O.sc_start[j + 1] - b, g0 = O.el_start[j], kg = O.el_start[j + 1] - g0;
        const bool ident = k == 1 && O.sc_off[b] == 0 && O.sc_w[b] == 1.0f; /* scatter_at's plane copy */
        const bool gcopy = kg == 1 && O.el_w[g0] == 1.0f;                     /* gather_bins' plane copy */
        __syncthreads(); /* the previous bin's planes and tables are done with */
        for (int t = tid; t < k; t += blockDim.x) {
            tw[t] = O.sc_w[b + t];
            toff[t] = T.hi - O.sc_off[b + t];
        }
        for (int t = tid; t < kg; t += blockDim.x) {
            gw[t] = O.el_w[g0 + t];
            gsrc[t] = O.el_src[g0 + t];
        }
        __syncthreads();
        /* this bin's offsets lo .. hi: scattering of angle a reads the
           energy loss of virtual angles a - hi .. a - lo (taken mod nth) */
        int lo = 0, hi = 0;
        for (int q = 0; !ident && q < k; q++) {
            const int off = T.hi - toff[q];
            lo = q == 0 || off < lo ? off : lo;
            hi = q == 0 || off > hi ? off : hi;
        }
        /* v from the first window's oldest to the last window's newest, and
           over 0 .. nth - 1 for the theta sums (ascending) */
        const int vbeg = -hi < 0 ? -hi : 0, vend = nth - lo > nth ? nth - lo : nth;
        /* the bin's planes as int offsets from in and out */
        const int row = (int)A.row, plane = (int)A.plane, jo = (int)j * plane;
        int so[MV__CU_TR_LPRE];
#pragma unroll
        for (int q = 0; q < MV__CU_TR_LPRE; q++) so[q] = (q < kg ? gsrc[q] : 0) * plane;
        float pre[MV__CU_TR_LPRE][NC] = {}, prs[NC] = {}, rsum[NC] = {};
        int va = vbeg % nth; /* v mod nth, stepped with v */
        va += va < 0 ? nth : 0;
        mv__cu_tr_lie_load<NC>(in, so, jo, va * row, kg, want_rs && vbeg >= 0, hoff, ooff, pre, prs);
        for (int v = vbeg; v < vend; v++, va = va + 1 == nth ? 0 : va + 1) {
            /* energy loss of virtual angle v (angle va) into its ring plane:
               mv__cu_tr_gather_bins' operations, the sources outermost; the
               first MV__CU_TR_LPRE sources' values were loaded an angle
               ahead, so that the loads are in flight through the previous
               angle's barriers (a block waited on them once an angle: the
               step went 0.247 -> 0.206 ms on an H100), the rest load here */
            float *rp = ring + ((v + T.hi) & (W - 1)) * P + tid;
            float acc[NC] = {};
            if (gcopy) {
#pragma unroll
                for (int m = 0; m < NC; m++) acc[m] = pre[0][m];
            } else if (kg > 0) { /* acc = w0 s0, then acc + w s */
#pragma unroll
                for (int q = 0; q < MV__CU_TR_LPRE; q++)
                    if (q < kg) {
                        const float wq = gw[q];
#pragma unroll
                        for (int m = 0; m < NC; m++) {
                            const float t = MV__CU_FMUL(wq, pre[q][m]);
                            acc[m] = q == 0 ? t : MV__CU_FADD(acc[m], t);
                        }
                    }
#pragma unroll 1
                for (int q = MV__CU_TR_LPRE; q < kg; q++) {
                    const float wq = gw[q], *src = in + (gsrc[q] * plane + va * row);
#pragma unroll
                    for (int m = 0; m < NC; m++)
                        if (hoff[m] >= 0) acc[m] = MV__CU_FADD(acc[m], MV__CU_FMUL(wq, src[hoff[m]]));
                }
            }
            if (want_rs && v >= 0 && v < nth) /* the theta sums of the input's bin j, ascending angle */
#pragma unroll
                for (int m = 0; m < NC; m++) rsum[m] = v == 0 ? prs[m] : MV__CU_FADD(rsum[m], prs[m]);
            if (v + 1 < vend)
                mv__cu_tr_lie_load<NC>(in, so, jo, (va + 1 == nth ? 0 : va + 1) * row, kg,
                                       want_rs && v + 1 >= 0 && v + 1 < nth, hoff, ooff, pre, prs);
#pragma unroll
            for (int m = 0; m < NC; m++)
                if (hoff[m] >= 0) rp[m * MV__CU_TR_LTHREADS] = acc[m];
            const int a = v + lo; /* the angle whose window is now complete */
            if (a < 0 || a >= nth) continue; /* block-uniform */
            __syncthreads();
            /* scattering of angle a over the halo'd tile (mv__cu_tr_scatter_at's
               operations, taps outermost); cells outside the plane hold 0 */
            float *sp = splane + (a & 1) * P;
#pragma unroll
            for (int m = 0; m < NC; m++) acc[m] = 0.0f;
            if (ident) {
                const float *r = ring + ((a + T.hi) & (W - 1)) * P + tid;
#pragma unroll
                for (int m = 0; m < NC; m++)
                    if (hoff[m] >= 0) acc[m] = r[m * MV__CU_TR_LTHREADS];
            } else if (k > 0) {
                const float w0 = tw[0], *r0 = ring + ((a + toff[0]) & (W - 1)) * P + tid;
#pragma unroll
                for (int m = 0; m < NC; m++)
                    if (hoff[m] >= 0) acc[m] = MV__CU_FMUL(w0, r0[m * MV__CU_TR_LTHREADS]);
#pragma unroll 2
                for (int q = 1; q < k; q++) {
                    const float wq = tw[q], *r = ring + ((a + toff[q]) & (W - 1)) * P + tid;
#pragma unroll
                    for (int m = 0; m < NC; m++)
                        if (hoff[m] >= 0) acc[m] = MV__CU_FADD(acc[m], MV__CU_FMUL(wq, r[m * MV__CU_TR_LTHREADS]));
                }
            }
#pragma unroll
            for (int m = 0; m < NC; m++)
                if (tid + m * MV__CU_TR_LTHREADS < P) sp[tid + m * MV__CU_TR_LTHREADS] = acc[m];
            __syncthreads();
            /* streaming of angle a: the tile's cells from the scattered plane
               (source (z - iz, x - ix) at sp + obase + d) */
            const float *sd = sp + adelta[a];
            const int oo = jo + a * row;
            if (acopy[a]) {
#pragma unroll
                for (int m = 0; m < NC; m++)
                    if (ooff[m] >= 0) out[oo + ooff[m]] = sd[obase[m]];
            } else {
                const float w0 = aw[4 * a], w1 = aw[4 * a + 1], w2 = aw[4 * a + 2], w3 = aw[4 * a + 3];
                const int px = T.px;
#pragma unroll
                for (int m = 0; m < NC; m++)
                    if (ooff[m] >= 0) {
                        const float *s = sd + obase[m];
                        float val = MV__CU_FMUL(w0, s[0]);
                        val = MV__CU_FADD(val, MV__CU_FMUL(w1, s[-1]));
                        val = MV__CU_FADD(val, MV__CU_FMUL(w2, s[-px]));
                        out[oo + ooff[m]] = MV__CU_FADD(val, MV__CU_FMUL(w3, s[-px - 1]));
                    }
            }
        }
        if (want_rs)
#pragma unroll
            for (int m = 0; m < NC; m++)
                if (ooff[m] >= 0) A.rs[(int)j * row + ooff[m]] = rsum[m];
    }
}
static __global__ void mv__cu_tr_rowsum_kernel(mv__cu_tr_args A, const float *__restrict__ in)
{
    MV__CU_TR_FOR_BINS(j, A) MV__CU_TR_FOR_CELLS(c, A)
        A.rs[j * A.row + c] = mv__cu_tr_theta_sum(in + j * A.plane + c, A.row, A.nth);
}
/* The dose of one gather: a block per 32 cells. Each cell adds its bins
   in ascending order in float64 (the CPU's), a chain that one lane walks;
   the block's warps first bring the chain's operands, MV__CU_TR_DBINS bins
   at a time, into shared memory together. (A thread per cell loading its
   own 200 bins one after another, 1600 threads in 7 blocks at the baseline
   grid, waited on one load at a time.) */
#define MV__CU_TR_DBINS 64
static __global__ void mv__cu_tr_dose_kernel(mv__cu_tr_args A, int h, double *__restrict__ dose)
{
    __shared__ float part[MV__CU_TR_DBINS * 32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int64_t c0 = (int64_t)blockIdx.x * 32; c0 < A.row; c0 += (int64_t)gridDim.x * 32) { /* block-uniform */
        const int64_t c = c0 + lane;
        double d = warp == 0 && c < A.row ? dose[c] : 0.0;
        for (int64_t i0 = 0; i0 < A.ne; i0 += MV__CU_TR_DBINS) {
            const int nb = A.ne - i0 < MV__CU_TR_DBINS ? (int)(A.ne - i0) : MV__CU_TR_DBINS;
            __syncthreads(); /* the previous chunk is used */
            for (int i = warp; i < nb; i += nw) part[i * 32 + lane] = c < A.row ? A.rs[(i0 + i) * A.row + c] : 0.0f;
            __syncthreads();
            if (warp == 0) d = mv__cu_tr_dose_at(d, part, 32, nb, A.op[h].el_dep + i0, lane);
        }
        if (warp == 0 && c < A.row) dose[c] = d;
    }
}
/* The bookkeeping kernels add long float64 chains in the CPU's order, so
   one thread walks each chain; the operands are first brought into shared
   memory by many threads together, MV__CU_TR_CHAIN at a time. (Before, one
   thread loaded its chain's operands one after another from global memory,
   and the balance kernel stored its eight sums there after each addition,
   which kept every next load waiting: the Lie fused step with bookkeeping
   took 2.13 ms on an H200 against 0.45 ms without.) */
#define MV__CU_TR_CHAIN 512

/* a block per bin: its total, cell by cell (the CPU's order) */
static __global__ void mv__cu_tr_total_kernel(mv__cu_tr_args A, double *__restrict__ tot)
{
    __shared__ float part[MV__CU_TR_CHAIN];
    for (int64_t j = blockIdx.x; j < A.ne; j += gridDim.x) { /* block-uniform */
        double s = 0;
        for (int64_t c0 = 0; c0 < A.row; c0 += MV__CU_TR_CHAIN) {
            const int n = A.row - c0 < MV__CU_TR_CHAIN ? (int)(A.row - c0) : MV__CU_TR_CHAIN;
            __syncthreads(); /* the previous part is added */
            for (int t = threadIdx.x; t < n; t += blockDim.x) part[t] = A.rs[j * A.row + c0 + t];
            __syncthreads();
            if (threadIdx.x == 0) s = mv__cu_tr_bin_total(s, part, n);
        }
        if (threadIdx.x == 0) tot[j] = s;
    }
}
/* a warp per (bin, angle) plane: what its streaming lets escape. The
   lanes work out the cells' terms (mv__cu_tr_escaped_at) into the warp's
   part of shared memory, lane 0 adds them in row order. */
#define MV__CU_TR_EWARPS 8
static __global__ void mv__cu_tr_escaped_kernel(mv__cu_tr_args A, int h, const float *__restrict__ in)
{
    __shared__ double term[MV__CU_TR_EWARPS][MV__CU_TR_CHAIN / 2];
    __shared__ unsigned char kept[MV__CU_TR_EWARPS][MV__CU_TR_CHAIN / 2];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int64_t warps = (int64_t)gridDim.x * MV__CU_TR_EWARPS;
    for (int64_t p = (int64_t)blockIdx.x * MV__CU_TR_EWARPS + w; p < A.ne * A.nth; p += warps) { /* warp-uniform */
        const int64_t a = p % A.nth;
        const mv__cu_tr_shift &s = A.op[h].sh[a];
        const double *wx = A.op[h].wx + a * A.nx, *wz = A.op[h].wz + a * A.nz;
        double e = 0;
        for (int64_t k0 = 0; k0 < A.row; k0 += MV__CU_TR_CHAIN / 2) {
            const int n = A.row - k0 < MV__CU_TR_CHAIN / 2 ? (int)(A.row - k0) : MV__CU_TR_CHAIN / 2;
            __syncwarp(); /* lane 0 has added the previous part */
            for (int t = lane; t < n; t += 32) {
                const int64_t z = (k0 + t) / A.nx, x = k0 + t - z * A.nx;
                kept[w][t] = (unsigned char)mv__cu_tr_escaped_at(in + p * A.row, A.nx, s, wx, wz, z, x, &term[w][t]);
            }
            __syncwarp();
            if (lane == 0)
                for (int t = 0; t < n; t++)
                    if (kept[w][t]) e = MV__CU_DADD(e, term[w][t]);
        }
        if (lane == 0) A.esc[p] = e;
    }
}
/* one block: the pass's bookkeeping, in the CPU's order (thread 0 adds,
   the block brings each group's operands) */
static __global__ void mv__cu_tr_balance_kernel(mv__cu_tr_args A, int h, int flags)
{
    __shared__ double ox[MV__CU_TR_CHAIN], oy[MV__CU_TR_CHAIN], oz[MV__CU_TR_CHAIN];
    double b[8];
    if (blockIdx.x != 0) return;
    for (int q = 0; q < 8; q++) b[q] = A.bal[q];
    for (int flag = 1; flag <= MV__CU_TR_BAL_OUT; flag <<= 1) {
        if (!(flags & flag)) continue;
        const int64_t count = mv__cu_tr_balance_count(A, flag);
        for (int64_t i0 = 0; i0 < count; i0 += MV__CU_TR_CHAIN) {
            const int n = count - i0 < MV__CU_TR_CHAIN ? (int)(count - i0) : MV__CU_TR_CHAIN;
            __syncthreads(); /* the previous operands are added */
            for (int t = threadIdx.x; t < n; t += blockDim.x)
                mv__cu_tr_balance_operands(A, h, flag, i0 + t, &ox[t], &oy[t], &oz[t]);
            __syncthreads();
            if (threadIdx.x == 0)
                for (int t = 0; t < n; t++) mv__cu_tr_balance_step(b, flag, ox[t], oy[t], oz[t]);
        }
    }
    if (threadIdx.x == 0)
        for (int q = 0; q < 8; q++) A.bal[q] = b[q];
}

/* Whether the fused kernels' shared block (ntheta x MV__CU_TR_FCELLS
   floats) fits 48 KiB: 1, else 0 (the step then runs the unfused kernels:
   ntheta above 384) */
static int mv__cu_tr_fuses(int64_t nth)
{
    return nth * MV__CU_TR_FCELLS * (int64_t)sizeof(float) <= 48 * 1024;
}

/* the launcher of the device: each call one kernel, its launch checked.
   Members are forced inline: an out-of-line copy would be an exported
   symbol outside mv_cuda_ (make test-cuda-symbols; nvcc gives even an
   unnamed namespace external linkage). */
#define MV__CU_TR_THREADS 256
struct mv__cu_tr_gpu {
    cudaStream_t s;
    /* bins on grid y (at most 65535 blocks, the loop takes the rest), cells
       on grid x (at most 64 blocks: larger planes loop) */
    static __forceinline__ dim3 grid(const mv__cu_tr_args &A, int threads)
    {
        int64_t gx = (A.row + threads - 1) / threads, gy = A.ne;
        return dim3((unsigned)(gx > 64 ? 64 : gx < 1 ? 1 : gx), (unsigned)(gy > 65535 ? 65535 : gy < 1 ? 1 : gy));
    }
    /* the fused kernels: FCELLS cells per block on x (at most 4096), bins on y */
    static __forceinline__ dim3 grid_fused(const mv__cu_tr_args &A)
    {
        const int64_t gx = (A.row + MV__CU_TR_FCELLS - 1) / MV__CU_TR_FCELLS;
        return dim3((unsigned)(gx > 4096 ? 4096 : gx < 1 ? 1 : gx), (unsigned)(A.ne > 65535 ? 65535 : A.ne < 1 ? 1 : A.ne));
    }
    __forceinline__ mv_status eloss(const mv__cu_tr_args &A, int h, const float *in, float *out, int rs)
    {
        mv__cu_tr_eloss_kernel<<<grid(A, MV__CU_TR_THREADS), MV__CU_TR_THREADS, 0, s>>>(A, h, in, out, rs);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status scatter(const mv__cu_tr_args &A, int h, const float *in, float *out)
    {
        mv__cu_tr_scatter_kernel<<<grid(A, MV__CU_TR_THREADS), MV__CU_TR_THREADS, 0, s>>>(A, h, in, out);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status stream(const mv__cu_tr_args &A, int h, const float *in, float *out)
    {
        mv__cu_tr_stream_kernel<<<grid(A, MV__CU_TR_THREADS), MV__CU_TR_THREADS, 0, s>>>(A, h, in, out);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status eloss_scatter(const mv__cu_tr_args &A, int h, const float *in, float *out, int rs)
    {
        /* the theta sums in the kernel when both blocks fit 48 KiB (ntheta <= 192) */
        const int in_kernel = rs && mv__cu_tr_fuses(2 * A.nth);
        if (rs && !in_kernel) MV__CU_STRY(rowsum(A, in));
        mv__cu_tr_eloss_scatter_kernel<<<grid_fused(A), dim3(MV__CU_TR_FCELLS, MV__CU_TR_FLANES),
                                         (size_t)((in_kernel ? 2 : 1) * A.nth * MV__CU_TR_FCELLS) * sizeof(float), s>>>(
            A, h, in, out, in_kernel);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status stream_scatter(const mv__cu_tr_args &A, int hm, int hs, const float *in, float *out)
    {
        mv__cu_tr_stream_scatter_kernel<<<grid_fused(A), dim3(MV__CU_TR_FCELLS, MV__CU_TR_FLANES),
                                          (size_t)(A.nth * MV__CU_TR_FCELLS) * sizeof(float), s>>>(A, hm, hs, in, out);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    /* the one-kernel Lie step: a block per (tile, bin) */
    __forceinline__ mv_status lie_step(const mv__cu_tr_args &A, const float *in, float *out, int rs)
    {
        const dim3 g((unsigned)(A.tile.ntx * A.tile.ntz), (unsigned)(A.ne > 65535 ? 65535 : A.ne));
        const size_t sm = (size_t)A.tile.smem;
        switch (mv__cu_tr_tile_passes((int64_t)A.tile.px * A.tile.pz)) {
        case 1: mv__cu_tr_lie_kernel<1><<<g, MV__CU_TR_LTHREADS, sm, s>>>(A, in, out, rs); break;
        case 2: mv__cu_tr_lie_kernel<2><<<g, MV__CU_TR_LTHREADS, sm, s>>>(A, in, out, rs); break;
        case 3: mv__cu_tr_lie_kernel<3><<<g, MV__CU_TR_LTHREADS, sm, s>>>(A, in, out, rs); break;
        default: mv__cu_tr_lie_kernel<MV__CU_TR_LCELLS><<<g, MV__CU_TR_LTHREADS, sm, s>>>(A, in, out, rs); break;
        }
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status rowsum(const mv__cu_tr_args &A, const float *in)
    {
        mv__cu_tr_rowsum_kernel<<<grid(A, MV__CU_TR_THREADS), MV__CU_TR_THREADS, 0, s>>>(A, in);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status dose(const mv__cu_tr_args &A, int h, double *d)
    {
        const int64_t g = (A.row + 31) / 32;
        mv__cu_tr_dose_kernel<<<(unsigned)(g > 65535 ? 65535 : g), MV__CU_TR_THREADS, 0, s>>>(A, h, d);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status totals(const mv__cu_tr_args &A, double *tot)
    {
        mv__cu_tr_total_kernel<<<(unsigned)(A.ne > 65535 ? 65535 : A.ne), MV__CU_TR_THREADS, 0, s>>>(A, tot);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status escaped(const mv__cu_tr_args &A, int h, const float *in)
    {
        const int64_t g = (A.ne * A.nth + MV__CU_TR_EWARPS - 1) / MV__CU_TR_EWARPS;
        mv__cu_tr_escaped_kernel<<<(unsigned)(g > 65535 ? 65535 : g), 32 * MV__CU_TR_EWARPS, 0, s>>>(A, h, in);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
    __forceinline__ mv_status balance(const mv__cu_tr_args &A, int h, int flags)
    {
        mv__cu_tr_balance_kernel<<<1, MV__CU_TR_THREADS, 0, s>>>(A, h, flags);
        MV__CU_TRY(cudaGetLastError());
        return MV_OK;
    }
};

/* ---- the sequences: the CPU's passes as kernels, against a launcher X ---- */

/* energy loss (table h) in -> out, fused with the same table's scattering
   when fuse; then its dose and, with bal, the gather's bookkeeping */
template <class X>
static mv_status mv__cu_tr_gather(X &x, const mv__cu_tr_args &A, int h, const float *in, float *out, int fuse,
                                  int sum_in, double *dose, int bal)
{
    const int rs = dose != NULL || bal;
    MV__CU_STRY(fuse ? x.eloss_scatter(A, h, in, out, rs) : x.eloss(A, h, in, out, rs));
    if (dose) MV__CU_STRY(x.dose(A, h, dose));
    if (bal) {
        MV__CU_STRY(x.totals(A, A.tot_gat));
        MV__CU_STRY(x.balance(A, h, (sum_in ? MV__CU_TR_BAL_GATHER_IN : 0) | MV__CU_TR_BAL_GATHER));
    }
    return MV_OK;
}
/* streaming (full step) in -> out, followed by the half-step scattering
   when scat_half; with bal, the escaped counts of its input first */
template <class X>
static mv_status mv__cu_tr_move(X &x, const mv__cu_tr_args &A, const float *in, float *out, int scat_half, int bal)
{
    if (bal) {
        MV__CU_STRY(x.escaped(A, 0, in));
        MV__CU_STRY(x.balance(A, 0, MV__CU_TR_BAL_ESC));
    }
    return scat_half ? x.stream_scatter(A, 0, 1, in, out) : x.stream(A, 0, in, out);
}
/* the totals of a fluence into tot (in or out) and the balance flag */
template <class X>
static mv_status mv__cu_tr_totals(X &x, const mv__cu_tr_args &A, const float *f, double *tot, int flag)
{
    MV__CU_STRY(x.rowsum(A, f));
    MV__CU_STRY(x.totals(A, tot));
    return x.balance(A, 0, flag);
}

/* One step as mv_transport_step: p the fluence, w scratch; *swapped = 1
   when the result is in w. Bookkeeping flags as the CPU's passes add them,
   so each balance field sees the CPU's additions in the CPU's order. */
template <class X>
static mv_status mv__cu_tr_run_step(X &x, const mv__cu_tr_args &A, int split, int fused, float *p, float *w,
                                    double *dose, int bal, int *swapped)
{
    *swapped = 1;
    if (split == MV_SPLIT_LIE && fused && !bal && A.tile.ok) { /* one kernel (the escaped counts need two) */
        MV__CU_STRY(x.lie_step(A, p, w, dose != NULL));
        return dose ? x.dose(A, 0, dose) : MV_OK;
    }
    fused = fused && mv__cu_tr_fuses(A.nth);
    if (split == MV_SPLIT_LIE && fused) { /* eloss + scatter, stream: back in p */
        MV__CU_STRY(mv__cu_tr_gather(x, A, 0, p, w, 1, 1, dose, bal));
        MV__CU_STRY(mv__cu_tr_move(x, A, w, p, 0, bal));
        *swapped = 0;
        return bal ? mv__cu_tr_totals(x, A, p, A.tot_out, MV__CU_TR_BAL_OUT) : MV_OK;
    }
    if (split == MV_SPLIT_LIE) {
        MV__CU_STRY(mv__cu_tr_gather(x, A, 0, p, w, 0, 1, dose, bal));
        MV__CU_STRY(x.scatter(A, 0, w, p));
        MV__CU_STRY(mv__cu_tr_move(x, A, p, w, 0, bal));
    } else if (fused) { /* eloss/2 + scatter/2, stream + scatter/2, eloss/2 */
        MV__CU_STRY(mv__cu_tr_gather(x, A, 1, p, w, 1, 1, dose, bal));
        MV__CU_STRY(mv__cu_tr_move(x, A, w, p, 1, bal));
        MV__CU_STRY(mv__cu_tr_gather(x, A, 1, p, w, 0, 0, dose, bal));
    } else {
        MV__CU_STRY(mv__cu_tr_gather(x, A, 1, p, w, 0, 1, dose, bal));
        MV__CU_STRY(x.scatter(A, 1, w, p));
        MV__CU_STRY(mv__cu_tr_move(x, A, p, w, 0, bal));
        MV__CU_STRY(x.scatter(A, 1, w, p));
        MV__CU_STRY(mv__cu_tr_gather(x, A, 1, p, w, 0, 0, dose, bal));
    }
    return bal ? mv__cu_tr_totals(x, A, w, A.tot_out, MV__CU_TR_BAL_OUT) : MV_OK;
}

/* One operator over a full step as mv_transport_apply. */
template <class X>
static mv_status mv__cu_tr_run_apply(X &x, const mv__cu_tr_args &A, int op, const float *in, float *out, double *dose,
                                     int bal)
{
    if (op == MV_TRANSPORT_ELOSS) {
        MV__CU_STRY(mv__cu_tr_gather(x, A, 0, in, out, 0, 1, dose, bal));
    } else {
        if (bal) MV__CU_STRY(mv__cu_tr_totals(x, A, in, A.tot_in, MV__CU_TR_BAL_IN));
        if (op == MV_TRANSPORT_SCATTER) MV__CU_STRY(x.scatter(A, 0, in, out));
        else MV__CU_STRY(mv__cu_tr_move(x, A, in, out, 0, bal));
    }
    return bal ? mv__cu_tr_totals(x, A, out, A.tot_out, MV__CU_TR_BAL_OUT) : MV_OK;
}

/* ---- the plan: the CPU plan's tables packed into one block ---- */

/* byte offsets of the tables in the block (16-byte aligned each) */
typedef struct mv__cu_tr_layout {
    size_t energy, el_start[2], el_src[2], el_w[2], el_dep[2], el_absorb[2], sc_start[2], sc_off[2], sc_w[2], sh[2],
        wx[2], wz[2];
    size_t bytes;
} mv__cu_tr_layout;

static size_t mv__cu_tr_take(size_t *at, size_t bytes)
{
    size_t o = (*at + 15) & ~(size_t)15;
    *at = o + bytes;
    return o;
}

/* Sizes and table pointers of a CPU plan: the layout of the block, and,
   when host is not NULL, the block itself written into host (L->bytes). */
static mv_status mv__cu_tr_pack(const mv_transport *cpu, mv__cu_tr_layout *L, unsigned char *host, int64_t *dims)
{
    mv_transport_tables T[2];
    size_t at = 0;
    int h;
    MV__CU_STRY(mv_transport_get_tables(cpu, 0, &T[0]));
    MV__CU_STRY(mv_transport_get_tables(cpu, 1, &T[1]));
    const int64_t nx = T[0].nx, nz = T[0].nz, nth = T[0].ntheta, ne = T[0].ne;
    dims[0] = nx;
    dims[1] = nz;
    dims[2] = nth;
    dims[3] = ne;
    L->energy = mv__cu_tr_take(&at, (size_t)ne * sizeof(double));
    for (h = 0; h < 2; h++) {
        L->el_start[h] = mv__cu_tr_take(&at, (size_t)(ne + 1) * sizeof(int));
        L->el_src[h] = mv__cu_tr_take(&at, (size_t)T[h].eloss_start[ne] * sizeof(int));
        L->el_w[h] = mv__cu_tr_take(&at, (size_t)T[h].eloss_start[ne] * sizeof(float));
        L->el_dep[h] = mv__cu_tr_take(&at, (size_t)ne * sizeof(double));
        L->el_absorb[h] = mv__cu_tr_take(&at, (size_t)ne * sizeof(double));
        L->sc_start[h] = mv__cu_tr_take(&at, (size_t)(ne + 1) * sizeof(int));
        L->sc_off[h] = mv__cu_tr_take(&at, (size_t)T[h].scat_start[ne] * sizeof(int));
        L->sc_w[h] = mv__cu_tr_take(&at, (size_t)T[h].scat_start[ne] * sizeof(float));
        L->sh[h] = mv__cu_tr_take(&at, (size_t)nth * sizeof(mv__cu_tr_shift));
        L->wx[h] = mv__cu_tr_take(&at, (size_t)(nth * nx) * sizeof(double));
        L->wz[h] = mv__cu_tr_take(&at, (size_t)(nth * nz) * sizeof(double));
    }
    L->bytes = at;
    if (!host) return MV_OK;
    memcpy(host + L->energy, T[0].energy, (size_t)ne * sizeof(double));
    for (h = 0; h < 2; h++) {
        memcpy(host + L->el_start[h], T[h].eloss_start, (size_t)(ne + 1) * sizeof(int));
        memcpy(host + L->el_src[h], T[h].eloss_src, (size_t)T[h].eloss_start[ne] * sizeof(int));
        memcpy(host + L->el_w[h], T[h].eloss_w, (size_t)T[h].eloss_start[ne] * sizeof(float));
        memcpy(host + L->el_dep[h], T[h].eloss_dep, (size_t)ne * sizeof(double));
        memcpy(host + L->el_absorb[h], T[h].eloss_absorb, (size_t)ne * sizeof(double));
        memcpy(host + L->sc_start[h], T[h].scat_start, (size_t)(ne + 1) * sizeof(int));
        memcpy(host + L->sc_off[h], T[h].scat_off, (size_t)T[h].scat_start[ne] * sizeof(int));
        memcpy(host + L->sc_w[h], T[h].scat_w, (size_t)T[h].scat_start[ne] * sizeof(float));
        for (int64_t a = 0; a < nth; a++) {
            mv_transport_stencil st;
            mv__cu_tr_shift sh;
            MV__CU_STRY(mv_transport_get_stencil(cpu, h, (int)a, &st));
            memset(&sh, 0, sizeof(sh));
            sh.ix = st.ix;
            sh.iz = st.iz;
            sh.xa = st.xa;
            sh.xb = st.xb;
            memcpy(sh.w, st.w, sizeof(sh.w));
            sh.copy = st.copy;
            memcpy(host + L->sh[h] + (size_t)a * sizeof(sh), &sh, sizeof(sh));
            memcpy(host + L->wx[h] + (size_t)(a * nx) * sizeof(double), st.wx, (size_t)nx * sizeof(double));
            memcpy(host + L->wz[h] + (size_t)(a * nz) * sizeof(double), st.wz, (size_t)nz * sizeof(double));
        }
    }
    return MV_OK;
}

/* What a plan's full-step tables ask of any tile of the one-kernel Lie
   step (mv__cu_tr_lie_kernel): the streaming halo, read at (z - iz -
   {0, 1}, x - ix - {0, 1}), so max(iz) + 1 rows before a tile and -min(iz)
   after (x likewise); the ring of energy-loss planes that holds the widest
   scattering window; the largest tables a bin loads. ok = 0 when no tile
   can do: a kernel spanning over 64 angles, moves over 1024 cells, a plane
   over 2^30 cells, or a fluence over 2^31 - 1 values (8 GiB: the kernel's
   offsets are int). */
typedef struct mv__cu_tr_tile_need {
    int ok;
    int nx, nz, ne, nth;
    int hx, hx1, hz, hz1; /* halo before and after a tile */
    int ring, hi, maxk, maxg;
} mv__cu_tr_tile_need;

static mv__cu_tr_tile_need mv__cu_tr_tile_needs(const mv_transport *cpu)
{
    mv__cu_tr_tile_need N;
    mv_transport_tables T;
    int64_t ix0 = 0, ix1 = 0, iz0 = 0, iz1 = 0, span = 1;
    int a, j;
    memset(&N, 0, sizeof(N));
    if (mv_transport_get_tables(cpu, 0, &T) != MV_OK || (int64_t)T.nx * T.nz > ((int64_t)1 << 30) ||
        (int64_t)T.ne * T.ntheta * T.nx * T.nz > INT32_MAX)
        return N;
    for (a = 0; a < T.ntheta; a++) {
        mv_transport_stencil st;
        if (mv_transport_get_stencil(cpu, 0, a, &st) != MV_OK) return N;
        ix0 = a == 0 || st.ix < ix0 ? st.ix : ix0;
        ix1 = a == 0 || st.ix > ix1 ? st.ix : ix1;
        iz0 = a == 0 || st.iz < iz0 ? st.iz : iz0;
        iz1 = a == 0 || st.iz > iz1 ? st.iz : iz1;
    }
    if (ix0 < -1024 || iz0 < -1024 || ix1 > 1024 || iz1 > 1024) return N;
    N.maxk = N.maxg = 1;
    for (j = 0; j < T.ne; j++) {
        const int b = T.scat_start[j], k = T.scat_start[j + 1] - b, kg = T.eloss_start[j + 1] - T.eloss_start[j];
        int lo = 0, top = 0;
        for (int q = 0; q < k; q++) {
            lo = q == 0 || T.scat_off[b + q] < lo ? T.scat_off[b + q] : lo;
            top = q == 0 || T.scat_off[b + q] > top ? T.scat_off[b + q] : top;
        }
        N.hi = top > N.hi ? top : N.hi;
        span = top - lo + 1 > span ? top - lo + 1 : span;
        N.maxk = k > N.maxk ? k : N.maxk;
        N.maxg = kg > N.maxg ? kg : N.maxg;
    }
    if (span > 64) return N;
    N.ring = 1;
    while (N.ring < span) N.ring <<= 1;
    N.hx = ix1 + 1 > 0 ? (int)ix1 + 1 : 0;
    N.hx1 = ix0 < 0 ? (int)-ix0 : 0;
    N.hz = iz1 + 1 > 0 ? (int)iz1 + 1 : 0;
    N.hz1 = iz0 < 0 ? (int)-iz0 : 0;
    N.nx = T.nx;
    N.nz = T.nz;
    N.ne = T.ne;
    N.nth = T.ntheta;
    N.ok = 1;
    return N;
}

/* the tile of tx x tz output cells (ntx = ceil(nx / tx) across, the last
   one partial when tx does not divide nx) with its halo, if it fits the
   kernel: the halo'd tile in MV__CU_TR_LCELLS x 256 cells, the ring, the
   plane it streams from and the tables in 48 KiB of shared memory */
static mv__cu_tr_tile mv__cu_tr_tile_fit(const mv__cu_tr_tile_need *N, int tx, int tz)
{
    mv__cu_tr_tile t;
    memset(&t, 0, sizeof(t));
    if (!N->ok || tx < 1 || tz < 1 || tx > N->nx || tz > N->nz) return t;
    const int64_t px = (int64_t)tx + N->hx + N->hx1, pz = (int64_t)tz + N->hz + N->hz1, cells = px * pz;
    const int64_t tables = 4 * (2 * (int64_t)N->maxk + 2 * (int64_t)N->maxg + 6 * (int64_t)N->nth);
    const int64_t smem = 4 * (N->ring + 2) * cells + tables;
    if (cells > MV__CU_TR_LCELLS * MV__CU_TR_LTHREADS || smem > 48 * 1024) return t;
    t.ok = 1;
    t.tx = tx;
    t.tz = tz;
    t.ntx = (N->nx + tx - 1) / tx;
    t.ntz = (N->nz + tz - 1) / tz;
    t.hx = N->hx;
    t.hz = N->hz;
    t.px = (int)px;
    t.pz = (int)pz;
    t.ring = N->ring;
    t.hi = N->hi;
    t.maxk = N->maxk;
    t.maxg = N->maxg;
    t.smem = (int)smem;
    return t;
}

/* The planner's tile on a GPU of sms multiprocessors (ok = 0: none fits,
   or sms < 1). Tiles split the plane evenly (tx = ceil(nx / ntx)); the
   choice minimises the busiest SM's work, ceil(blocks / sms) x (passes +
   1) (blocks = ne ntx ntz; a block's threads walk its halo'd tile in
   passes of 256 cells, and each angle costs about one pass more of
   barriers and table reads), then the total, blocks x (passes + 1), then
   takes the wider tile (longer coalesced rows). On an H100 at the
   baseline grid (40x40, 72 angles, 200 bins) the step took 0.168 ms at
   40x20 (400 blocks of 4 passes: 20, 2000), 0.173 at 40x14 (600 of 3: 20,
   2400), 0.198 at 40x8 (1000 of 2: 24), 0.209 at 40x10 and 0.214 at 20x20
   (800 of 3: 28); halo'd cells alone, the earlier measure, ranked 20x20
   first. mv_cuda_transport_set_tile forces another (any tile that fits). */
static mv__cu_tr_tile mv__cu_tr_plan_tile(const mv__cu_tr_tile_need *N, int sms)
{
    mv__cu_tr_tile best;
    int64_t cost = -1, total_cost = -1;
    memset(&best, 0, sizeof(best));
    if (!N->ok || sms < 1) return best;
    for (int tx = 1; tx <= N->nx && tx + N->hx + N->hx1 <= MV__CU_TR_LCELLS * MV__CU_TR_LTHREADS; tx++) {
        const int ntx = (N->nx + tx - 1) / tx;
        if ((N->nx + ntx - 1) / ntx != tx) continue; /* not an even split */
        const int64_t px = tx + N->hx + N->hx1;
        for (int tz = 1; tz <= N->nz && px * (tz + N->hz + N->hz1) <= MV__CU_TR_LCELLS * MV__CU_TR_LTHREADS; tz++) {
            const int ntz = (N->nz + tz - 1) / tz;
            if ((N->nz + ntz - 1) / ntz != tz) continue;
            const mv__cu_tr_tile t = mv__cu_tr_tile_fit(N, tx, tz);
            if (!t.ok) continue; /* shared memory */
            const int64_t blocks = (int64_t)N->ne * ntx * ntz;
            const int64_t passes = mv__cu_tr_tile_passes((int64_t)t.px * t.pz);
            const int64_t c = (blocks + sms - 1) / sms * (passes + 1), total = blocks * (passes + 1);
            if (cost >= 0 &&
                (c > cost || (c == cost && (total > total_cost || (total == total_cost && tx <= best.tx)))))
                continue;
            cost = c;
            total_cost = total;
            best = t;
        }
    }
    return best;
}

/* scratch: rs, three per-bin totals, the escaped counts, the balance */
static size_t mv__cu_tr_scratch_layout(const int64_t *dims, size_t off[6])
{
    const int64_t nx = dims[0], nz = dims[1], nth = dims[2], ne = dims[3];
    size_t at = 0;
    off[0] = mv__cu_tr_take(&at, (size_t)(ne * nz * nx) * sizeof(float));
    off[1] = mv__cu_tr_take(&at, (size_t)ne * sizeof(double));
    off[2] = mv__cu_tr_take(&at, (size_t)ne * sizeof(double));
    off[3] = mv__cu_tr_take(&at, (size_t)ne * sizeof(double));
    off[4] = mv__cu_tr_take(&at, (size_t)(ne * nth) * sizeof(double));
    off[5] = mv__cu_tr_take(&at, 8 * sizeof(double));
    return at;
}

/* the kernels' arguments over a table block and a scratch block (device or host) */
static mv__cu_tr_args mv__cu_tr_args_at(const int64_t *dims, const mv__cu_tr_layout *L, const unsigned char *tab,
                                        unsigned char *scr)
{
    mv__cu_tr_args A;
    size_t off[6];
    int h;
    memset(&A, 0, sizeof(A));
    A.nx = dims[0];
    A.nz = dims[1];
    A.nth = dims[2];
    A.ne = dims[3];
    A.row = A.nz * A.nx;
    A.plane = A.nth * A.row;
    A.energy = (const double *)(tab + L->energy);
    for (h = 0; h < 2; h++) {
        mv__cu_tr_ops *O = &A.op[h];
        O->el_start = (const int *)(tab + L->el_start[h]);
        O->el_src = (const int *)(tab + L->el_src[h]);
        O->el_w = (const float *)(tab + L->el_w[h]);
        O->el_dep = (const double *)(tab + L->el_dep[h]);
        O->el_absorb = (const double *)(tab + L->el_absorb[h]);
        O->sc_start = (const int *)(tab + L->sc_start[h]);
        O->sc_off = (const int *)(tab + L->sc_off[h]);
        O->sc_w = (const float *)(tab + L->sc_w[h]);
        O->sh = (const mv__cu_tr_shift *)(tab + L->sh[h]);
        O->wx = (const double *)(tab + L->wx[h]);
        O->wz = (const double *)(tab + L->wz[h]);
    }
    (void)mv__cu_tr_scratch_layout(dims, off);
    A.rs = (float *)(scr + off[0]);
    A.tot_in = (double *)(scr + off[1]);
    A.tot_gat = (double *)(scr + off[2]);
    A.tot_out = (double *)(scr + off[3]);
    A.esc = (double *)(scr + off[4]);
    A.bal = (double *)(scr + off[5]);
    return A;
}

struct mv_cuda_transport {
    mv__cu_tr_args a; /* device pointers */
    int split, fused;
    void *tables, *scratch;
    mv__cu_tr_tile_need need; /* what the plan's tables ask of a tile */
    mv__cu_tr_tile planned, tile; /* the planner's tile; the one the tiling takes (set_tile) */
    /* a.tile: the one in use, ok 0 when off */
};

MVCDEF mv_status mv_cuda_transport_set_tiled(mv_cuda_transport *t, int on)
{
    MV__CU_CHECK(t != NULL, MV_ERR_INVALID_ARG, "mv_cuda_transport_set_tiled: plan is NULL");
    MV__CU_CHECK(!on || t->tile.ok, MV_ERR_UNSUPPORTED,
                 "mv_cuda_transport_set_tiled: the plan's moves or scattering kernels do not fit a tile");
    t->a.tile = t->tile;
    t->a.tile.ok = on && t->tile.ok;
    return MV_OK;
}

MVCDEF mv_status mv_cuda_transport_set_tile(mv_cuda_transport *t, int tx, int tz)
{
    static const char *fn = "mv_cuda_transport_set_tile";
    MV__CU_CHECK(t != NULL, MV_ERR_INVALID_ARG, "%s: plan is NULL", fn);
    MV__CU_CHECK(tx >= 0 && tz >= 0 && tx <= t->a.nx && tz <= t->a.nz, MV_ERR_INVALID_ARG,
                 "%s: tile %dx%d outside 0..%lld x 0..%lld (the plane)", fn, tx, tz, (long long)t->a.nx,
                 (long long)t->a.nz);
    MV__CU_CHECK(t->planned.ok, MV_ERR_UNSUPPORTED, "%s: the plan's moves or scattering kernels do not fit a tile", fn);
    if (tx == 0 && tz == 0) {
        t->tile = t->planned;
    } else {
        const mv__cu_tr_tile f = mv__cu_tr_tile_fit(&t->need, tx, tz);
        MV__CU_CHECK(f.ok, MV_ERR_UNSUPPORTED,
                     "%s: tile %dx%d with its halo (%dx%d cells) does not fit 1024 cells and 48 KiB of shared memory", fn,
                     tx, tz, tx + t->need.hx + t->need.hx1, tz + t->need.hz + t->need.hz1);
        t->tile = f;
    }
    t->a.tile = t->tile;
    return MV_OK;
}

MVCDEF mv_status mv_cuda_transport_get_tile(const mv_cuda_transport *t, int *tx, int *tz)
{
    MV__CU_CHECK(t && tx && tz, MV_ERR_INVALID_ARG, "mv_cuda_transport_get_tile: %s is NULL", t ? "tx or tz" : "plan");
    *tx = t->a.tile.ok ? t->a.tile.tx : 0;
    *tz = t->a.tile.ok ? t->a.tile.tz : 0;
    return MV_OK;
}

MVCDEF void mv_cuda_transport_free(mv_cuda_transport *t, mv_cuda_stream stream)
{
    if (!t) return;
    if (t->tables) (void)cudaFreeAsync(t->tables, (cudaStream_t)stream);
    if (t->scratch) (void)cudaFreeAsync(t->scratch, (cudaStream_t)stream);
    free(t);
}

MVCDEF mv_status mv_cuda_transport_create(const mv_transport *cpu, mv_cuda_transport **plan, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_transport_create";
    cudaStream_t s = (cudaStream_t)stream;
    mv__cu_tr_layout L;
    mv_transport_tables T;
    int64_t dims[4];
    size_t soff[6], sbytes;
    unsigned char *host;
    mv_cuda_transport *t;
    cudaError_t e;
    MV__CU_CHECK(cpu && plan, MV_ERR_INVALID_ARG, "%s: %s is NULL", fn, cpu ? "plan" : "cpu_plan");
    *plan = NULL;
    MV__CU_STRY(mv_transport_get_tables(cpu, 0, &T));
    MV__CU_STRY(mv__cu_tr_pack(cpu, &L, NULL, dims));
    host = (unsigned char *)calloc(1, L.bytes);
    t = (mv_cuda_transport *)calloc(1, sizeof(*t));
    if (!host || !t) {
        free(host);
        free(t);
        return mv_set_error(MV_ERR_OUT_OF_MEMORY, "%s: %zu bytes of tables", fn, L.bytes);
    }
    mv_status st = mv__cu_tr_pack(cpu, &L, host, dims);
    sbytes = mv__cu_tr_scratch_layout(dims, soff);
    t->split = T.split;
    t->fused = T.fused;
    e = st == MV_OK ? cudaMallocAsync(&t->tables, L.bytes, s) : cudaSuccess;
    if (st == MV_OK && e == cudaSuccess) e = cudaMallocAsync(&t->scratch, sbytes, s);
    if (st == MV_OK && e == cudaSuccess) e = cudaMemcpyAsync(t->tables, host, L.bytes, cudaMemcpyHostToDevice, s);
    if (st == MV_OK && e == cudaSuccess) e = cudaMemsetAsync(t->scratch, 0, sbytes, s);
    if (st == MV_OK && e == cudaSuccess) e = cudaStreamSynchronize(s); /* host may go; errors show here */
    if (st == MV_OK && e != cudaSuccess) st = mv__cu_fail(e, fn);
    free(host);
    if (st != MV_OK) {
        mv_cuda_transport_free(t, stream);
        return st;
    }
    t->a = mv__cu_tr_args_at(dims, &L, (const unsigned char *)t->tables, (unsigned char *)t->scratch);
    {
        int dev = 0, sms = 0;
        if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
            sms = 0; /* no tiling: the two-kernel step */
        (void)cudaGetLastError();
        t->need = mv__cu_tr_tile_needs(cpu);
        t->a.tile = t->tile = t->planned = mv__cu_tr_plan_tile(&t->need, sms);
    }
    *plan = t;
    return MV_OK;
}

static mv_status mv__cu_tr_check(const char *fn, const mv_cuda_transport *t, const float *a, const float *b)
{
    const size_t n = (size_t)(t->a.ne * t->a.plane) * sizeof(float);
    MV__CU_CHECK(a && b, MV_ERR_INVALID_ARG, "%s: %s fluence is NULL", fn, a ? "output" : "input");
    MV__CU_CHECK((const char *)a + n <= (const char *)b || (const char *)b + n <= (const char *)a, MV_ERR_INVALID_ARG,
                 "%s: input and output fluence overlap", fn);
    return MV_OK;
}

/* the device balance: zeroed before a call, read back (waits) after */
static mv_status mv__cu_tr_read_balance(const mv_cuda_transport *t, mv_transport_balance *bal, cudaStream_t s)
{
    double b[8];
    MV__CU_TRY(cudaMemcpyAsync(b, t->a.bal, sizeof(b), cudaMemcpyDeviceToHost, s));
    MV__CU_TRY(cudaStreamSynchronize(s));
    bal->particles_in = b[0];
    bal->particles_out = b[1];
    bal->particles_escaped = b[2];
    bal->particles_absorbed = b[3];
    bal->energy_in = b[4];
    bal->energy_out = b[5];
    bal->energy_escaped = b[6];
    bal->energy_deposited = b[7];
    return MV_OK;
}

MVCDEF mv_status mv_cuda_transport_step(mv_cuda_transport *t, float **psi, float **work, double *dose,
                                        mv_transport_balance *bal, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_transport_step";
    cudaStream_t s = (cudaStream_t)stream;
    mv__cu_tr_gpu x;
    int swapped = 0;
    MV__CU_CHECK(t && psi && work, MV_ERR_INVALID_ARG, "%s: %s is NULL", fn, !t ? "plan" : !psi ? "psi" : "work");
    MV__CU_STRY(mv__cu_tr_check(fn, t, *psi, *work));
    x.s = s;
    if (bal) MV__CU_TRY(cudaMemsetAsync(t->a.bal, 0, 8 * sizeof(double), s));
    MV__CU_STRY(mv__cu_tr_run_step(x, t->a, t->split, t->fused, *psi, *work, dose, bal != NULL, &swapped));
    if (swapped) {
        float *p = *psi;
        *psi = *work;
        *work = p;
    }
    return bal ? mv__cu_tr_read_balance(t, bal, s) : MV_OK;
}

MVCDEF mv_status mv_cuda_transport_apply(mv_cuda_transport *t, mv_transport_op op, const float *in, float *out,
                                         double *dose, mv_transport_balance *bal, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_transport_apply";
    cudaStream_t s = (cudaStream_t)stream;
    mv__cu_tr_gpu x;
    MV__CU_CHECK(t != NULL, MV_ERR_INVALID_ARG, "%s: plan is NULL", fn);
    MV__CU_CHECK(op == MV_TRANSPORT_ELOSS || op == MV_TRANSPORT_SCATTER || op == MV_TRANSPORT_STREAM,
                 MV_ERR_INVALID_ARG, "%s: op = %d", fn, (int)op);
    MV__CU_STRY(mv__cu_tr_check(fn, t, in, out));
    x.s = s;
    if (bal) MV__CU_TRY(cudaMemsetAsync(t->a.bal, 0, 8 * sizeof(double), s));
    MV__CU_STRY(mv__cu_tr_run_apply(x, t->a, (int)op, in, out, dose, bal != NULL));
    return bal ? mv__cu_tr_read_balance(t, bal, s) : MV_OK;
}

/* ---- the field's exponential ------------------------------------------------- */


struct mv__cu_l2v {
    double m[3][3];
};

/* |L2V d(v)|^2 of voxel v in voxel units, summed a = 0, 1, 2 (mv__fd_norm_blocks) */
static MV__CU_HD double mv__cu_fd_norm2(const float *d, int64_t nv, int nc, const mv__cu_l2v &L, int64_t v)
{
    double e[3], s = 0;
    e[0] = d[v];
    e[1] = d[nv + v];
    e[2] = nc == 3 ? (double)d[2 * nv + v] : 0.0;
    for (int a = 0; a < 3; a++) {
        double q = MV__CU_DADD(MV__CU_DADD(MV__CU_DMUL(L.m[a][0], e[0]), MV__CU_DMUL(L.m[a][1], e[1])),
                               MV__CU_DMUL(L.m[a][2], e[2]));
        s = MV__CU_DADD(s, MV__CU_DMUL(q, q));
    }
    return s;
}

/* the CPU's max: NaN wins (it then reports the field as not finite) */
static MV__CU_HD double mv__cu_nanmax(double mx, double s) { return s > mx || s != s ? s : mx; }

/* per block the largest squared norm (a max: the same in any order) */
static __global__ void mv__cu_fd_norm_kernel(const float *d, int64_t nv, int nc, mv__cu_l2v L, double *part)
{
    __shared__ double sh[MV__CU_RED_THREADS];
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
    double mx = 0;
    for (int64_t v = tid; v < nv; v += nth) mx = mv__cu_nanmax(mx, mv__cu_fd_norm2(d, nv, nc, L, v));
    sh[threadIdx.x] = mx;
    __syncthreads();
    for (int w = MV__CU_RED_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] = mv__cu_nanmax(sh[threadIdx.x], sh[threadIdx.x + w]);
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}

/* out[i] = in[i] * s, s a power of two: exact */
static __global__ void mv__cu_scale_kernel(const float *in, float *out, int64_t n, float s)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = MV__CU_FMUL(in[i], s);
}

/* The squarings of mv_field_exp_into from its largest norm: the CPU's formula. */
static int mv__cu_fd_squarings(double mx2)
{
    double nf;
    if (!(mx2 > 0)) return 0;
    nf = 2.0 + 0.5 * log2(mx2);
    return nf <= 0 ? 0 : nf >= 30 ? 30 : (int)ceil(nf);
}

/* the largest squared voxel norm of a field, downloaded (waits) */
static mv_status mv__cu_fd_max_norm2(const mv_cuda_vol *v, const mv__cu_l2v &L, double *mx2, cudaStream_t s)
{
    const int64_t nv = v->vol.dim[0] * v->vol.dim[1] * v->vol.dim[2];
    const int blocks = mv__cu_blocks(nv, MV__CU_RED_THREADS);
    double *part = NULL, *host = (double *)malloc((size_t)blocks * sizeof(double));
    cudaError_t e;
    int b;
    MV__CU_CHECK(host != NULL, MV_ERR_OUT_OF_MEMORY, "mv_cuda_field_exp_into: %d block maxima", blocks);
    e = cudaMallocAsync((void **)&part, (size_t)blocks * sizeof(double), s);
    if (e != cudaSuccess) {
        free(host);
        return mv__cu_fail(e, "cudaMallocAsync (block maxima)");
    }
    mv__cu_fd_norm_kernel<<<blocks, MV__CU_RED_THREADS, 0, s>>>((const float *)v->vol.data, nv, (int)v->vol.dim[4], L, part);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(host, part, (size_t)blocks * sizeof(double), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    cudaFreeAsync(part, s);
    if (e != cudaSuccess) {
        free(host);
        return mv__cu_fail(e, "mv_cuda_field_exp_into: the largest norm");
    }
    *mx2 = 0;
    for (b = 0; b < blocks; b++) *mx2 = mv__cu_nanmax(*mx2, host[b]);
    free(host);
    return MV_OK;
}

MVCDEF mv_status mv_cuda_field_exp_into(const mv_cuda_vol *v, mv_cuda_vol *out, const mv_field_opts *opts,
                                        mv_field_info *info, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_field_exp_into";
    mv_field_opts o;
    mv__cu_l2v L;
    mv__cu_fdmap w;
    int a, N, k, cur = 0;
    float *buf[2] = {NULL, NULL};
    size_t count;
    cudaError_t e = cudaSuccess;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_fd_check(v, fn, "v"));
    MV__CU_STRY(mv__cu_fd_check(out, fn, "out"));
    for (a = 0; a < 5; a++)
        MV__CU_CHECK(out->vol.dim[a] == v->vol.dim[a], MV_ERR_INVALID_ARG, "%s: out dim[%d] = %lld, v's %lld", fn, a,
                     (long long)out->vol.dim[a], (long long)v->vol.dim[a]);
    MV__CU_CHECK(o.squarings >= 0 && o.squarings <= 60, MV_ERR_INVALID_ARG, "%s: squarings %d", fn, o.squarings);
    if (info) memset(info, 0, sizeof(*info));
    MV__CU_STRY(mv__cu_fd_l2v(&v->vol, L.m, fn));
    if (o.squarings > 0) {
        N = o.squarings;
    } else {
        double mx2 = 0;
        MV__CU_STRY(mv__cu_fd_max_norm2(v, L, &mx2, stream));
        MV__CU_CHECK(mx2 == mx2 && mx2 < HUGE_VAL, MV_ERR_INVALID_ARG, "%s: v has a non-finite displacement", fn);
        N = mv__cu_fd_squarings(mx2);
    }
    count = (size_t)mv_vol_count(&v->vol);
    mv__cu_scale_kernel<<<mv__cu_blocks((int64_t)count, 256), 256, 0, stream>>>(
        (const float *)v->vol.data, (float *)out->vol.data, (int64_t)count, ldexpf(1.0f, -N));
    MV__CU_TRY(cudaGetLastError());
    if (N > 0) {
        MV__CU_STRY(mv__cu_fd_compose_map(&out->vol, &out->vol, &w, fn)); /* d1 and d2 on one grid, as the CPU's */
        MV__CU_TRY(cudaMallocAsync((void **)&buf[1], count * sizeof(float), stream));
        buf[0] = (float *)out->vol.data;
        for (k = 0; k < N && e == cudaSuccess; k++) {
            mv__cu_fd_compose_kernel<<<mv__cu_row_grid(w.g[0], w.g[1] * w.g[2]), MV__CU_ROW_BLOCK, 0, stream>>>(
                buf[cur], buf[cur], buf[1 - cur], w, w.g[0], w.g[1], w.g[2], w.nv);
            e = cudaGetLastError();
            cur = 1 - cur;
        }
        if (e == cudaSuccess && cur != 0)
            e = cudaMemcpyAsync(buf[0], buf[1], count * sizeof(float), cudaMemcpyDeviceToDevice, stream);
        cudaFreeAsync(buf[1], stream);
        if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_field_exp_into: squarings");
    }
    if (info) info->squarings = N;
    return MV_OK;
}

/* ---- the demons update ------------------------------------------------------- */

/* The update's grid: dims, components, L2V, alpha^2 */
struct mv__cu_dmgeo {
    int64_t n[3];
    int64_t nv;
    int nc;
    double L2V[3][3];
    double alpha2;
};

/* mv__dm_diff: numpy.gradient along voxel axis a at p */
static MV__CU_HD double mv__cu_dm_diff(const float *v, const int64_t n[3], const int64_t p[3], size_t idx, int a)
{
    size_t st = a == 0 ? 1 : a == 1 ? (size_t)n[0] : (size_t)(n[0] * n[1]);
    if (n[a] == 1) return 0;
    if (p[a] == 0) return MV__CU_DSUB((double)v[idx + st], (double)v[idx]);
    if (p[a] == n[a] - 1) return MV__CU_DSUB((double)v[idx], (double)v[idx - st]);
    return MV__CU_DMUL(0.5, MV__CU_DSUB((double)v[idx + st], (double)v[idx - st]));
}

/* One voxel of mv__dm_force_blocks: the symmetric force into u */
static MV__CU_HD void mv__cu_dm_force_at(const mv__cu_dmgeo &g, const float *F, const float *W, float *u, int64_t x,
                                         int64_t y, int64_t z)
{
    const int64_t p[3] = {x, y, z};
    const size_t idx = (size_t)((z * g.n[1] + y) * g.n[0] + x);
    double diff = MV__CU_DSUB((double)F[idx], (double)W[idx]), gv[3], J[3], n2 = 0, den, uc[3];
    for (int a = 0; a < 3; a++)
        gv[a] = MV__CU_DMUL(0.5, MV__CU_DADD(mv__cu_dm_diff(F, g.n, p, idx, a), mv__cu_dm_diff(W, g.n, p, idx, a)));
    for (int c = 0; c < 3; c++) { /* voxel gradient -> LPS mm: L2V^T */
        J[c] = MV__CU_DADD(MV__CU_DADD(MV__CU_DMUL(g.L2V[0][c], gv[0]), MV__CU_DMUL(g.L2V[1][c], gv[1])),
                           MV__CU_DMUL(g.L2V[2][c], gv[2]));
        if (c >= g.nc) J[c] = 0;
        n2 = MV__CU_DADD(n2, MV__CU_DMUL(J[c], J[c]));
    }
    den = MV__CU_DADD(n2, MV__CU_DMUL(MV__CU_DMUL(g.alpha2, diff), diff));
    for (int c = 0; c < 3; c++) uc[c] = den > 1e-12 && diff == diff ? MV__CU_DDIV(MV__CU_DMUL(diff, J[c]), den) : 0.0;
    u[idx] = (float)uc[0];
    u[(size_t)g.nv + idx] = (float)uc[1];
    if (g.nc == 3) u[2 * (size_t)g.nv + idx] = (float)uc[2];
}

/* the squared differences of one row, in x order (the CPU's rowsum) */
static MV__CU_HD double mv__cu_dm_rowsum(const float *F, const float *W, int64_t nx, int64_t r)
{
    double s = 0;
    for (int64_t x = 0; x < nx; x++) {
        size_t i = (size_t)r * (size_t)nx + (size_t)x;
        double d = MV__CU_DSUB((double)F[i], (double)W[i]);
        s = MV__CU_DADD(s, MV__CU_DMUL(d, d));
    }
    return s;
}

/* the MSE from the row sums: each block's rows in order, the blocks in
   order (sum / nv); one thread per block, then thread 0 alone */
static MV__CU_HD double mv__cu_dm_block_sum(const double *rowsum, int64_t rows, int64_t blocks, int64_t b)
{
    double s = 0;
    for (int64_t r = mv__cu_fd_block_row(rows, blocks, b); r < mv__cu_fd_block_row(rows, blocks, b + 1); r++)
        s = MV__CU_DADD(s, rowsum[r]);
    return s;
}

static __global__ void mv__cu_dm_force_kernel(mv__cu_dmgeo g, const float *__restrict__ F, const float *__restrict__ W,
                                              float *__restrict__ u)
{
    const int64_t rows = g.n[1] * g.n[2];
    MV__CU_FOR_ROWS(r, rows) {
        int64_t y, z, f;
        mv__cu_split_row(r, g.n[1], g.n[2], y, z, f);
        for (int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; x < g.n[0]; x += (int64_t)gridDim.x * blockDim.x)
            mv__cu_dm_force_at(g, F, W, u, x, y, z);
    }
}

static __global__ void mv__cu_dm_rowsum_kernel(const float *F, const float *W, int64_t nx, int64_t rows, double *rowsum)
{
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (int64_t)gridDim.x * blockDim.x)
        rowsum[r] = mv__cu_dm_rowsum(F, W, nx, r);
}

/* one block of MV__CU_FD_BLOCKS threads */
static __global__ void mv__cu_dm_mse_kernel(const double *rowsum, int64_t rows, int64_t nv, double *mse)
{
    __shared__ double sh[MV__CU_FD_BLOCKS];
    const int64_t blocks = rows < MV__CU_FD_BLOCKS ? rows : MV__CU_FD_BLOCKS;
    if ((int64_t)threadIdx.x < blocks) sh[threadIdx.x] = mv__cu_dm_block_sum(rowsum, rows, blocks, threadIdx.x);
    __syncthreads();
    if (threadIdx.x == 0) {
        double s = 0;
        for (int64_t b = 0; b < blocks; b++) s = MV__CU_DADD(s, sh[b]);
        *mse = MV__CU_DDIV(s, (double)nv);
    }
}

static mv_status mv__cu_dm_mse(const float *F, const float *W, const int64_t n[3], double *mse, cudaStream_t s)
{
    const int64_t rows = n[1] * n[2], nv = n[0] * rows;
    double *rowsum = NULL;
    cudaError_t e;
    MV__CU_TRY(cudaMallocAsync((void **)&rowsum, (size_t)(rows + 1) * sizeof(double), s));
    mv__cu_dm_rowsum_kernel<<<mv__cu_blocks(rows, 128), 128, 0, s>>>(F, W, n[0], rows, rowsum);
    e = cudaGetLastError();
    if (e == cudaSuccess) {
        mv__cu_dm_mse_kernel<<<1, MV__CU_FD_BLOCKS, 0, s>>>(rowsum, rows, nv, rowsum + rows);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(mse, rowsum + rows, sizeof(double), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    cudaFreeAsync(rowsum, s);
    if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_demons_update_into: the MSE");
    return MV_OK;
}

/* Host: the update's geometry, as mv_demons_update_into finds it */
static mv_status mv__cu_dm_setup(const mv_vol *u, double max_step, mv__cu_dmgeo *g, const char *fn)
{
    int a;
    memset(g, 0, sizeof(*g));
    for (a = 0; a < 3; a++) g->n[a] = u->dim[a];
    g->nv = u->dim[0] * u->dim[1] * u->dim[2];
    g->nc = (int)u->dim[4];
    g->alpha2 = 1.0 / (4.0 * max_step * max_step);
    return mv__cu_fd_l2v(u, g->L2V, fn);
}

MVCDEF mv_status mv_cuda_demons_update_into(const mv_cuda_vol *fixed, const mv_cuda_vol *warped, mv_cuda_vol *u,
                                            double max_step, const mv_field_opts *opts, double *mse,
                                            mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_demons_update_into";
    mv__cu_dmgeo g;
    int a;
    (void)opts;
    MV__CU_STRY(mv__cu_check_vol(fixed, fn, "fixed"));
    MV__CU_STRY(mv__cu_check_vol(warped, fn, "warped"));
    MV__CU_STRY(mv__cu_fd_check(u, fn, "u"));
    MV__CU_CHECK(fixed->vol.dtype == MV_DT_F32 && warped->vol.dtype == MV_DT_F32, MV_ERR_INVALID_ARG,
                 "%s: fixed and warped must be float32 (%s, %s)", fn, mv_dtype_name(fixed->vol.dtype),
                 mv_dtype_name(warped->vol.dtype));
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int64_t want = a < 3 ? u->vol.dim[a] : 1;
        MV__CU_CHECK(mv__cu_dim(&fixed->vol, a) == want && mv__cu_dim(&warped->vol, a) == want, MV_ERR_INVALID_ARG,
                     "%s: dim[%d]: fixed %lld, warped %lld, the field's grid %lld", fn, a,
                     (long long)mv__cu_dim(&fixed->vol, a), (long long)mv__cu_dim(&warped->vol, a), (long long)want);
    }
    MV__CU_CHECK(max_step > 0 && isfinite(max_step), MV_ERR_INVALID_ARG, "%s: max_step = %g mm", fn, max_step);
    MV__CU_CHECK(u->vol.data != fixed->vol.data && u->vol.data != warped->vol.data, MV_ERR_INVALID_ARG,
                 "%s: u may not be an input", fn);
    MV__CU_STRY(mv__cu_dm_setup(&u->vol, max_step, &g, fn));
    mv__cu_dm_force_kernel<<<mv__cu_row_grid(g.n[0], g.n[1] * g.n[2]), MV__CU_ROW_BLOCK, 0, stream>>>(
        g, (const float *)fixed->vol.data, (const float *)warped->vol.data, (float *)u->vol.data);
    MV__CU_TRY(cudaGetLastError());
    if (mse) MV__CU_STRY(mv__cu_dm_mse((const float *)fixed->vol.data, (const float *)warped->vol.data, g.n, mse, stream));
    return MV_OK;
}

/* ---- registration metrics with gradients ------------------------------------ */

/* How it works. mv_metric_evaluate draws its samples (fixed voxels) once
   and sums per-sample terms over chunks of them; here every thread walks
   the fixed voxels in a grid-stride loop, tests each as the CPU's sampler
   does (finite, mask, stride or the seeded coin) and adds the very terms
   the CPU adds for it: the sample maps through the CPU's matrix V, the
   moving value and voxel gradient come from mv__trilin_grad's float64
   arithmetic (not the resampler's float32 weights: the CPU metric does not
   read moving values that way), and the sums are MSE's (n, sum d^2, H of
   2 d g) or NCC's (n, sf, sm, sff, smm, sfm, Hf, Hm, H1). Only the order
   of the float64 sums differs: per thread in its stride order, a fixed
   tree per block (MV__CU_RED_THREADS), the blocks in order by one thread
   per sum. The grid is a function of the voxel count only, so a given
   GPU and input give the same bits on every run. */

#define MV__CU_MET_BLOCKS 1024 /* most blocks of a metric pass, whatever the GPU */
#define MV__CU_MET_MSE 14      /* sums per thread: n, sum d^2, H[12] */
#define MV__CU_MET_NCC 42      /* n, sf, sm, sff, smm, sfm, Hf[12], Hm[12], H1[12] */
#define MV__CU_MET_MI2 13      /* Mattes MI's second pass: n, H[12] */
#define MV__CU_MI_PAD 2        /* padding bins per side (ITK; the CPU's MV__REG_PAD) */

/* Mattes MI's bins (mv__mi_bin_setup) and, for the gradient pass, the
   table log(p / p_m) of the first pass's histogram. The histogram itself
   is fixed point (a weight w adds w * scale rounded, as unsigned 64-bit
   integers): integer atomics add in any order to the same sum, so the
   histogram is deterministic; the rounding (scale >= 2^30 for up to 2^32
   voxels, 2^37 at 256^3) moves each bin by less than 1e-9 of a sample. */
struct mv__cu_mi {
    int bins;
    double fbin, fnorm, mbin, mnorm;
    double scale;
    const double *lut;     /* pass 2: bins x bins, fixed bin major (device, or host in the host checks) */
};

/* Which fixed voxels are samples (mv__reg_sel_mark's tests) */
struct mv__cu_metsel {
    int kind;                 /* MV_SAMPLING_FULL / _STRIDE / _RANDOM (AUTO resolved on the host) */
    int stride;
    uint64_t seed, thresh;
    int jitter;               /* RANDOM: each sample at a seeded point of its voxel (mv__reg_jitter) */
    const void *mask;         /* device, fixed's grid; NULL = all */
    mv_dtype mask_dt;
};

/* The evaluation: fixed level voxel (i, j, k) -> moving voxel v = V (i, j, k, 1) */
struct mv__cu_metmap {
    double V[12];
    int64_t fd[3], md[3];
    const void *mmask;        /* moving mask: device, moving's grid; NULL = all */
    mv_dtype mmask_dt;
    int metric;               /* MV_METRIC_MSE, _NCC, _MI or _LNCC */
    mv__cu_mi mi;             /* MI only */
};

/* mv__reg_hash: splitmix64 of seed and index */
static MV__CU_HD uint64_t mv__cu_reg_hash(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* voxel i of a mask is in: its value != 0, as mv__reg_mask_u8 tests it
   (NaN is in); host and device (the host checks pass byte masks) */
static MV__CU_HD bool mv__cu_met_mask_on(const void *m, mv_dtype dt, int64_t i)
{
    switch (dt) {
    case MV_DT_U8: case MV_DT_I8: return ((const uint8_t *)m)[i] != 0;
    case MV_DT_U16: case MV_DT_I16: return ((const uint16_t *)m)[i] != 0;
    case MV_DT_U32: case MV_DT_I32: return ((const uint32_t *)m)[i] != 0;
    case MV_DT_U64: case MV_DT_I64: return ((const uint64_t *)m)[i] != 0;
    case MV_DT_F16: case MV_DT_BF16: return (((const uint16_t *)m)[i] & 0x7fffu) != 0; /* +-0 are the zeros */
    case MV_DT_F32: return ((const float *)m)[i] != 0.0f;
    case MV_DT_F64: return ((const double *)m)[i] != 0.0;
    default: return true;
    }
}

/* the sampler's test of voxel i = (x, y, z) of fixed value f (mask: done by the caller) */
static MV__CU_HD bool mv__cu_met_sampled(const mv__cu_metsel &s, float f, int64_t x, int64_t y, int64_t z, int64_t i)
{
    if (!isfinite(f)) return false;
    if (s.kind == MV_SAMPLING_STRIDE && (x % s.stride || y % s.stride || z % s.stride)) return false;
    if (s.kind == MV_SAMPLING_RANDOM && mv__cu_reg_hash(s.seed, (uint64_t)i) > s.thresh) return false;
    return true;
}

/* mv__reg_map12: ((V0 i + V1 j) + V2 k) + V3 per row */
static MV__CU_HD void mv__cu_met_map(const double *V, const float s[3], double v[3])
{
    const double i = s[0], j = s[1], k = s[2];
    for (int r = 0; r < 3; r++)
        v[r] = MV__CU_DADD(MV__CU_DADD(MV__CU_DADD(MV__CU_DMUL(V[4 * r], i), MV__CU_DMUL(V[4 * r + 1], j)),
                                       MV__CU_DMUL(V[4 * r + 2], k)),
                           V[4 * r + 3]);
}

/* one axis of mv__trilin_grad: 0 if outside; else the first voxel, the
   fraction and the stride (0 on an axis of one voxel, which takes |v| < 1e-3) */
static MV__CU_HD bool mv__cu_met_axis(double v, int64_t n, int64_t step, int64_t *i, double *f, int64_t *st)
{
    if (n > 1) {
        if (!(v >= 0 && v <= (double)(n - 1))) return false;
        *i = (int64_t)v;
        if (*i > n - 2) *i = n - 2;
        *f = MV__CU_DSUB(v, (double)*i);
        *st = step;
    } else {
        if (!(fabs(v) < 1e-3)) return false;
        *i = 0, *f = 0, *st = 0;
    }
    return true;
}

#define MV__CU_LRP(a, b, t) MV__CU_DADD((a), MV__CU_DMUL((t), MV__CU_DSUB((b), (a)))) /* a + t (b - a) */

/* mv__trilin_grad: the trilinear value and voxel-unit gradient at voxel v
   of img (dims md), the CPU's operations in its order; false if outside
   the grid or, with a mask (md's grid), if the voxel nearest v is out */
static MV__CU_HD bool mv__cu_met_trilin(const float *img, const int64_t md[3], const void *mask, mv_dtype mask_dt,
                                        const double v[3], double *val, double g[3])
{
    int64_t ix, iy, iz, sx, sy, sz;
    double fx, fy, fz;
    if (!mv__cu_met_axis(v[0], md[0], 1, &ix, &fx, &sx) || !mv__cu_met_axis(v[1], md[1], md[0], &iy, &fy, &sy) ||
        !mv__cu_met_axis(v[2], md[2], md[0] * md[1], &iz, &fz, &sz))
        return false;
    if (mask) { /* the nearest voxel: the upper one from a fraction of 0.5 (mv__trilin_grad) */
        const int64_t jx = ix + (fx >= 0.5 && sx), jy = iy + (fy >= 0.5 && sy), jz = iz + (fz >= 0.5 && sz);
        if (!mv__cu_met_mask_on(mask, mask_dt, jx + md[0] * (jy + md[1] * jz))) return false;
    }
    const float *p = img + (ix + md[0] * (iy + md[1] * iz));
    const double v000 = p[0], v100 = p[sx], v010 = p[sy], v110 = p[sx + sy];
    const double v001 = p[sz], v101 = p[sx + sz], v011 = p[sy + sz], v111 = p[sx + sy + sz];
    const double a00 = MV__CU_LRP(v000, v100, fx), a10 = MV__CU_LRP(v010, v110, fx);
    const double a01 = MV__CU_LRP(v001, v101, fx), a11 = MV__CU_LRP(v011, v111, fx);
    const double b0 = MV__CU_LRP(a00, a10, fy), b1 = MV__CU_LRP(a01, a11, fy);
    *val = MV__CU_LRP(b0, b1, fz);
    const double dx00 = MV__CU_DSUB(v100, v000), dx10 = MV__CU_DSUB(v110, v010);
    const double dx01 = MV__CU_DSUB(v101, v001), dx11 = MV__CU_DSUB(v111, v011);
    const double dx0 = MV__CU_LRP(dx00, dx10, fy), dx1 = MV__CU_LRP(dx01, dx11, fy);
    g[0] = sx ? MV__CU_LRP(dx0, dx1, fz) : 0;
    g[1] = sy ? MV__CU_LRP(MV__CU_DSUB(a10, a00), MV__CU_DSUB(a11, a01), fz) : 0;
    g[2] = sz ? MV__CU_DSUB(b1, b0) : 0;
    return true;
}
#undef MV__CU_LRP

/* mv__reg_jitter: RANDOM's sample (voxel s, value f) moved to a seeded
   uniform point of its voxel (+-0.5 per axis, kept on the grid, rounded to
   float32 where the metric will map it), f the fixed image's trilinear value
   there, both unchanged where that value is not finite. The offsets hash
   (seed ^ a constant per axis, voxel): not the coin's numbers. */
static MV__CU_HD void mv__cu_met_jitter(const mv__cu_metsel &sel, const float *fix, const int64_t fd[3], int64_t i, float s[3],
                                        float *f)
{
    double p[3], val, g[3];
    for (int a = 0; a < 3; a++) {
        const uint64_t h = mv__cu_reg_hash(sel.seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(a + 1)), (uint64_t)i);
        const double u = MV__CU_DSUB(MV__CU_DMUL((double)(h >> 11), 1.0 / 9007199254740992.0), 0.5); /* [-0.5, 0.5) */
        p[a] = (double)s[a];
        if (fd[a] > 1) {
            p[a] = MV__CU_DADD(p[a], u);
            p[a] = p[a] < 0 ? 0 : p[a] > (double)(fd[a] - 1) ? (double)(fd[a] - 1) : p[a];
            p[a] = (double)(float)p[a];
        }
    }
    if (mv__cu_met_trilin(fix, fd, NULL, MV_DT_U8, p, &val, g) && isfinite(val))
        s[0] = (float)p[0], s[1] = (float)p[1], s[2] = (float)p[2], *f = (float)val;
}

/* mv__reg_outer: H += w g (x) (i, j, k, 1) */
static MV__CU_HD void mv__cu_met_outer(double *H, double w, const double g[3], const float s[3])
{
    const double a[3] = {MV__CU_DMUL(w, g[0]), MV__CU_DMUL(w, g[1]), MV__CU_DMUL(w, g[2])};
    const double x[3] = {s[0], s[1], s[2]};
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) H[4 * r + c] = MV__CU_DADD(H[4 * r + c], MV__CU_DMUL(a[r], x[c]));
        H[4 * r + 3] = MV__CU_DADD(H[4 * r + 3], a[r]);
    }
}

/* One sample's terms into acc (K sums), as mv__reg_chunk_mse / _ncc add them */
template <int K>
static MV__CU_HD void mv__cu_met_add(double *acc, float f, double m, const double g[3], const float s[3])
{
    acc[0] = MV__CU_DADD(acc[0], 1.0);
    if constexpr (K == MV__CU_MET_MSE) {
        const double d = MV__CU_DSUB(m, (double)f);
        acc[1] = MV__CU_DADD(acc[1], MV__CU_DMUL(d, d));
        mv__cu_met_outer(acc + 2, MV__CU_DMUL(2.0, d), g, s);
    } else {
        const double fd = f;
        acc[1] = MV__CU_DADD(acc[1], fd);
        acc[2] = MV__CU_DADD(acc[2], m);
        acc[3] = MV__CU_DADD(acc[3], MV__CU_DMUL(fd, fd));
        acc[4] = MV__CU_DADD(acc[4], MV__CU_DMUL(m, m));
        acc[5] = MV__CU_DADD(acc[5], MV__CU_DMUL(fd, m));
        mv__cu_met_outer(acc + 6, fd, g, s);
        mv__cu_met_outer(acc + 18, m, g, s);
        mv__cu_met_outer(acc + 30, 1.0, g, s);
    }
}

/* voxel i of the fixed grid -> (x, y, z): 32-bit divisions where they fit */
static MV__CU_HD void mv__cu_met_split(int64_t i, int64_t nx, int64_t ny, int64_t *x, int64_t *y, int64_t *z)
{
    if (((uint64_t)i | (uint64_t)nx | (uint64_t)ny) <= 0xFFFFFFFFull) {
        uint32_t t = (uint32_t)i / (uint32_t)nx;
        *x = (int64_t)((uint32_t)i - t * (uint32_t)nx);
        *y = (int64_t)(t % (uint32_t)ny);
        *z = (int64_t)(t / (uint32_t)ny);
    } else {
        int64_t t = i / nx;
        *x = i - t * nx;
        *y = t % ny;
        *z = t / ny;
    }
}

/* voxel i's sample: its point s on the fixed grid and fixed value f (the
   voxel's, or jittered); false unless voxel i is a sample (the fixed mask
   is the caller's test) */
static MV__CU_HD bool mv__cu_met_point(const mv__cu_metmap &mp, const mv__cu_metsel &sel, const float *fix, int64_t i,
                                       float s[3], float *f)
{
    int64_t x, y, z;
    *f = fix[i];
    mv__cu_met_split(i, mp.fd[0], mp.fd[1], &x, &y, &z);
    if (!mv__cu_met_sampled(sel, *f, x, y, z, i)) return false;
    s[0] = (float)x, s[1] = (float)y, s[2] = (float)z;
    if (sel.jitter) mv__cu_met_jitter(sel, fix, mp.fd, i, s, f);
    return true;
}

/* ---- Mattes MI's element functions (the CPU's, operation by operation) ---- */

/* mv__bspline3 / mv__bspline3_d */
static MV__CU_HD double mv__cu_bspline3(double u)
{
    double a = fabs(u);
    if (a < 1) return MV__CU_DADD(MV__CU_DSUB(2.0 / 3.0, MV__CU_DMUL(a, a)), MV__CU_DMUL(MV__CU_DMUL(MV__CU_DMUL(0.5, a), a), a));
    if (a < 2) {
        double b = MV__CU_DSUB(2.0, a);
        return MV__CU_DDIV(MV__CU_DMUL(MV__CU_DMUL(b, b), b), 6.0);
    }
    return 0;
}
static MV__CU_HD double mv__cu_bspline3_d(double u)
{
    double a = fabs(u), s = u < 0 ? -1.0 : 1.0;
    if (a < 1) return MV__CU_DMUL(s, MV__CU_DADD(MV__CU_DMUL(-2.0, a), MV__CU_DMUL(MV__CU_DMUL(1.5, a), a)));
    if (a < 2) {
        double b = MV__CU_DSUB(2.0, a);
        return MV__CU_DMUL(MV__CU_DMUL(MV__CU_DMUL(-s, 0.5), b), b);
    }
    return 0;
}

/* mv__parzen4 / mv__parzen4_d: the four weights beta3(r - 1 - f) (derivatives) */
static MV__CU_HD void mv__cu_parzen4(int idx, double t, double w[4])
{
    double f = MV__CU_DSUB(t, (double)idx);
    if (f >= 0 && f < 1) {
        double f2 = MV__CU_DMUL(f, f), f3 = MV__CU_DMUL(f2, f), g = MV__CU_DSUB(1.0, f);
        w[0] = MV__CU_DMUL(MV__CU_DMUL(MV__CU_DMUL(g, g), g), 1.0 / 6.0);
        w[1] = MV__CU_DADD(MV__CU_DSUB(2.0 / 3.0, f2), MV__CU_DMUL(0.5, f3));
        w[2] = MV__CU_DADD(1.0 / 6.0, MV__CU_DMUL(0.5, MV__CU_DSUB(MV__CU_DADD(f, f2), f3)));
        w[3] = MV__CU_DMUL(f3, 1.0 / 6.0);
    } else {
        for (int r = 0; r < 4; r++) w[r] = mv__cu_bspline3(MV__CU_DSUB((double)(r - 1), f));
    }
}
static MV__CU_HD void mv__cu_parzen4_d(int idx, double t, double w[4])
{
    double f = MV__CU_DSUB(t, (double)idx);
    if (f >= 0 && f < 1) {
        double g = MV__CU_DSUB(1.0, f);
        w[0] = MV__CU_DMUL(MV__CU_DMUL(0.5, g), g);
        w[1] = MV__CU_DMUL(f, MV__CU_DSUB(2.0, MV__CU_DMUL(1.5, f)));
        w[2] = MV__CU_DSUB(MV__CU_DMUL(MV__CU_DSUB(MV__CU_DMUL(1.5, f), 1.0), f), 0.5);
        w[3] = MV__CU_DMUL(MV__CU_DMUL(-0.5, f), f);
    } else {
        for (int r = 0; r < 4; r++) w[r] = mv__cu_bspline3_d(MV__CU_DSUB((double)(r - 1), f));
    }
}

/* mv__mi_bin: term = x / width - norm, the bin clamped to [PAD, bins - PAD - 1] */
static MV__CU_HD int mv__cu_mi_bin(double x, double width, double norm, int bins, double *term)
{
    double t = MV__CU_DSUB(MV__CU_DDIV(x, width), norm);
    int idx = (int)t;
    if (!(t >= MV__CU_MI_PAD)) idx = MV__CU_MI_PAD;
    if (idx > bins - MV__CU_MI_PAD - 1) idx = bins - MV__CU_MI_PAD - 1;
    *term = t;
    return idx;
}

/* a histogram weight in fixed point */
static MV__CU_HD unsigned long long mv__cu_mi_fix(double w, double scale)
{
    return (unsigned long long)MV__CU_DADD(MV__CU_DMUL(w, scale), 0.5);
}

/* Pass 1 of one voxel: false unless it is a sample inside moving; else its
   fixed bin l, moving bin idx and the four Parzen weights of bins
   idx - 1 .. idx + 2 (mv__reg_chunk_mi1) */
static MV__CU_HD bool mv__cu_mi_sample(const mv__cu_metmap &mp, const mv__cu_metsel &sel, const float *fix, const float *mov,
                                       int64_t i, int *l, int *idx, double pw[4])
{
    float s[3], f;
    double v[3], m, g[3], term;
    if (!mv__cu_met_point(mp, sel, fix, i, s, &f)) return false;
    mv__cu_met_map(mp.V, s, v);
    if (!mv__cu_met_trilin(mov, mp.md, mp.mmask, mp.mmask_dt, v, &m, g)) return false;
    *l = mv__cu_mi_bin((double)f, mp.mi.fbin, mp.mi.fnorm, mp.mi.bins, &term);
    *idx = mv__cu_mi_bin(m, mp.mi.mbin, mp.mi.mnorm, mp.mi.bins, &term);
    mv__cu_parzen4(*idx, term, pw);
    return true;
}

/* Pass 2 of one sample (mv__reg_chunk_mi2): the moving value and gradient
   as the CPU's cache holds them (float32), w = sum_r beta3'(.) log(p / p_m),
   H += w g (x) (i, j, k, 1) */
static MV__CU_HD void mv__cu_mi_grad_add(const mv__cu_mi &mi, double *acc, float f, double m, const double g[3],
                                         const float s[3])
{
    double term, dw[4], gf[3], w;
    const double mf = (double)(float)m;
    int l, idx;
    for (int a = 0; a < 3; a++) gf[a] = (double)(float)g[a];
    acc[0] = MV__CU_DADD(acc[0], 1.0);
    l = mv__cu_mi_bin((double)f, mi.fbin, mi.fnorm, mi.bins, &term);
    idx = mv__cu_mi_bin(mf, mi.mbin, mi.mnorm, mi.bins, &term);
    mv__cu_parzen4_d(idx, term, dw);
    const double *L = mi.lut + (size_t)l * mi.bins + (idx - 1);
    w = MV__CU_DADD(MV__CU_DADD(MV__CU_DADD(MV__CU_DMUL(dw[0], L[0]), MV__CU_DMUL(dw[1], L[1])), MV__CU_DMUL(dw[2], L[2])),
                    MV__CU_DMUL(dw[3], L[3]));
    mv__cu_met_outer(acc + 1, w, gf, s);
}

/* Voxel i's contribution, if it is a sample that maps inside moving */
template <int K>
static MV__CU_HD void mv__cu_met_voxel(const mv__cu_metmap &mp, const mv__cu_metsel &sel, const float *fix, const float *mov,
                                       int64_t i, double *acc)
{
    float s[3], f;
    double v[3], m, g[3];
    if (!mv__cu_met_point(mp, sel, fix, i, s, &f)) return;
    mv__cu_met_map(mp.V, s, v);
    if (!mv__cu_met_trilin(mov, mp.md, mp.mmask, mp.mmask_dt, v, &m, g)) return;
    if constexpr (K == MV__CU_MET_MI2) mv__cu_mi_grad_add(mp.mi, acc, f, m, g, s);
    else mv__cu_met_add<K>(acc, f, m, g, s);
}

/* the pairing of the block tree: sh[t] += sh[t + w], w = n/2 .. 1 (host
   checks replay it) */
static MV__CU_HD void mv__cu_met_tree_step(double *sh, int t, int w) { sh[t] = MV__CU_DADD(sh[t], sh[t + w]); }

template <int K>
static __global__ void __launch_bounds__(MV__CU_RED_THREADS) mv__cu_met_kernel(mv__cu_metmap mp, mv__cu_metsel sel,
                                                                               const float *__restrict__ fix,
                                                                               const float *__restrict__ mov, int64_t nf,
                                                                               double *part)
{
    __shared__ double sh[MV__CU_RED_THREADS];
    const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
    const int t = threadIdx.x;
    double acc[K];
#pragma unroll
    for (int e = 0; e < K; e++) acc[e] = 0;
    for (int64_t i = tid; i < nf; i += nth) {
        if (sel.mask && !mv__cu_met_mask_on(sel.mask, sel.mask_dt, i)) continue;
        mv__cu_met_voxel<K>(mp, sel, fix, mov, i, acc);
    }
#pragma unroll
    for (int e = 0; e < K; e++) { /* one sum at a time through a fixed tree */
        sh[t] = acc[e];
        __syncthreads();
        for (int w = MV__CU_RED_THREADS / 2; w > 0; w >>= 1) {
            if (t < w) mv__cu_met_tree_step(sh, t, w);
            __syncthreads();
        }
        if (t == 0) part[(size_t)blockIdx.x * K + e] = sh[0];
        __syncthreads();
    }
}

/* the blocks' sums in block order, one thread per sum */
static __global__ void mv__cu_met_final_kernel(const double *part, int blocks, int K, double *tot)
{
    const int e = threadIdx.x;
    if (e >= K) return;
    double s = 0;
    for (int b = 0; b < blocks; b++) s = MV__CU_DADD(s, part[(size_t)b * K + e]);
    tot[e] = s;
}

/* finite fixed voxels inside the mask, per block (AUTO needs the count) */
static __global__ void mv__cu_met_count_kernel(const float *fix, int64_t nf, const void *mask, mv_dtype mask_dt,
                                               unsigned long long *count)
{
    __shared__ unsigned long long sh[MV__CU_RED_THREADS];
    unsigned long long n = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < nf; i += (int64_t)gridDim.x * blockDim.x)
        n += isfinite(fix[i]) && (!mask || mv__cu_mask_on(mask, mask_dt, i));
    sh[threadIdx.x] = n;
    __syncthreads();
    for (int w = MV__CU_RED_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(count, sh[0]); /* integers: any order gives the same count */
}

/* blocks of a metric pass over nf voxels: a function of nf alone */
static int mv__cu_met_blocks(int64_t nf)
{
    int64_t b = (nf + MV__CU_RED_THREADS - 1) / MV__CU_RED_THREADS;
    return b < 1 ? 1 : b > MV__CU_MET_BLOCKS ? MV__CU_MET_BLOCKS : (int)b;
}

/* Host: the map of one evaluation (mv__reg_eval: V = W T F, rows 0..2) */
static mv_status mv__cu_met_setup(const mv_vol *fixed, const mv_vol *moving, const mv_transform *t, int metric,
                                  mv__cu_metmap *mp, double W[4][4], const char *fn)
{
    double T[4][4], WT[4][4], V4[4][4];
    int r, c;
    memset(mp, 0, sizeof(*mp));
    MV__CU_CHECK(mv_metric_moving_inverse(moving, W) == MV_OK, MV_ERR_INVALID_ARG, "%s: moving affine is singular",
                 fn); /* the CPU metric's own inverse: the same samples */
    MV__CU_STRY(mv_transform_matrix(t, T));
    mv_affine_multiply((const double(*)[4])W, (const double(*)[4])T, WT); /* mv__m4_mul's sums */
    mv_affine_multiply((const double(*)[4])WT, fixed->affine, V4);
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) mp->V[4 * r + c] = V4[r][c];
    for (r = 0; r < 3; r++) {
        mp->fd[r] = mv__cu_dim(fixed, r);
        mp->md[r] = mv__cu_dim(moving, r);
    }
    mp->metric = metric;
    return MV_OK;
}

/* Host: mv__reg_chain, d value / d parameters from the voxel-space sums H
   (3x4). dM and dt (d matrix, d translation per parameter) come from
   mv_transform_jacobian, whose columns are dt + dM (x - c): at x = c + e_s
   divided by the step actually taken, and at x = 0 (dt - dM c, the
   chain's db) directly. */
static mv_status mv__cu_met_chain(const mv_vol *fixed, const double W[4][4], const mv_transform *tf, const double *H,
                                  double scale, double *grad)
{
    double HF[3][4], G[3][4], J0[3][MV_TRANSFORM_MAX_PARAMS], Jc[3][MV_TRANSFORM_MAX_PARAMS];
    double dM[MV_TRANSFORM_MAX_PARAMS][3][3];
    int r, s, q, k;
    for (r = 0; r < 3; r++)
        for (s = 0; s < 4; s++) {
            double v = 0;
            for (q = 0; q < 4; q++) v += H[4 * r + q] * fixed->affine[s][q];
            HF[r][s] = v;
        }
    for (r = 0; r < 3; r++)
        for (s = 0; s < 4; s++) G[r][s] = scale * (W[0][r] * HF[0][s] + W[1][r] * HF[1][s] + W[2][r] * HF[2][s]);
    {
        const double zero[3] = {0, 0, 0};
        MV__CU_STRY(mv_transform_jacobian(tf, zero, J0));
        MV__CU_STRY(mv_transform_jacobian(tf, tf->center, Jc));
    }
    for (s = 0; s < 3; s++) {
        double x[3], Js[3][MV_TRANSFORM_MAX_PARAMS], step;
        memcpy(x, tf->center, sizeof(x));
        x[s] += 1.0;
        step = x[s] - tf->center[s];
        MV__CU_STRY(mv_transform_jacobian(tf, x, Js));
        for (k = 0; k < tf->nparams; k++)
            for (r = 0; r < 3; r++) dM[k][r][s] = (Js[r][k] - Jc[r][k]) / step;
    }
    for (k = 0; k < tf->nparams; k++) {
        double v = 0;
        for (r = 0; r < 3; r++) {
            for (s = 0; s < 3; s++) v += G[r][s] * dM[k][r][s];
            v += G[r][3] * J0[r][k];
        }
        grad[k] = v;
    }
    return MV_OK;
}

/* whether the sampling needs the count of candidate voxels (AUTO, RANDOM
   without a fraction; LNCC, which the CPU refuses with fewer than two) */
static int mv__cu_met_needs_count(const mv_metric_opts *o)
{
    return o->metric == MV_METRIC_LNCC || o->sampling == MV_SAMPLING_AUTO ||
           (o->sampling == MV_SAMPLING_RANDOM && !(o->fraction > 0));
}

/* Host: mv__reg_ctx_build's choice of sampling and the coin's threshold,
   given the candidates (finite fixed voxels in the mask) where it needs them */
static void mv__cu_met_resolve(const mv_metric_opts *o, unsigned long long ncand, mv__cu_metsel *sel)
{
    const double nauto = (double)(1 << 18); /* MV__REG_SAMPLES */
    mv_sampling samp = o->sampling;
    memset(sel, 0, sizeof(*sel));
    sel->seed = o->seed ? o->seed : 0x6d65647666ull;
    sel->stride = o->stride > 0 ? o->stride : 2;
    if (o->fixed_mask) {
        sel->mask = o->fixed_mask->data;
        sel->mask_dt = o->fixed_mask->dtype;
    }
    if (o->metric == MV_METRIC_LNCC) samp = MV_SAMPLING_FULL; /* dense: every voxel, no jitter */
    if (samp == MV_SAMPLING_AUTO) samp = (double)ncand > nauto ? MV_SAMPLING_RANDOM : MV_SAMPLING_FULL;
    if (samp == MV_SAMPLING_RANDOM) {
        double frac = o->fraction > 0 ? o->fraction : nauto / (double)ncand;
        if (frac >= 1) samp = MV_SAMPLING_FULL;
        sel->thresh = frac >= 1 ? UINT64_MAX : (uint64_t)(frac * 18446744073709549568.0);
    }
    sel->kind = (int)samp;
    sel->jitter = samp == MV_SAMPLING_RANDOM && o->jitter; /* mv__reg_ctx_build: FULL ignores it */
}

/* Host: the sample selection, counting the candidates on the device where
   the choice needs them (waits for that count) */
static mv_status mv__cu_met_select(const mv_cuda_vol *fixed, const mv_metric_opts *o, int64_t nf, mv__cu_metsel *sel,
                                   cudaStream_t s, const char *fn)
{
    unsigned long long ncand = 0;
    mv__cu_met_resolve(o, 0, sel); /* the mask fields, for the count */
    if (mv__cu_met_needs_count(o)) {
        unsigned long long *d = NULL;
        cudaError_t e;
        MV__CU_TRY(cudaMallocAsync((void **)&d, sizeof(*d), s));
        e = cudaMemsetAsync(d, 0, sizeof(*d), s);
        if (e == cudaSuccess) {
            mv__cu_met_count_kernel<<<mv__cu_met_blocks(nf), MV__CU_RED_THREADS, 0, s>>>(
                (const float *)fixed->vol.data, nf, sel->mask, sel->mask_dt, d);
            e = cudaGetLastError();
        }
        if (e == cudaSuccess) e = cudaMemcpyAsync(&ncand, d, sizeof(ncand), cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess) e = cudaStreamSynchronize(s);
        cudaFreeAsync(d, s);
        if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_metric_evaluate: candidate count");
        MV__CU_CHECK(ncand >= 2, MV_ERR_INVALID_ARG, "%s: metric: %lld finite fixed voxels inside the mask", fn,
                     (long long)ncand);
    }
    mv__cu_met_resolve(o, ncand, sel);
    return MV_OK;
}

/* Host: the sums of one pass (K of them) into tot, downloaded (waits) */
template <int K>
static mv_status mv__cu_met_sums(const mv__cu_metmap &mp, const mv__cu_metsel &sel, const float *fix, const float *mov,
                                 double *tot, cudaStream_t s)
{
    const int64_t nf = mp.fd[0] * mp.fd[1] * mp.fd[2];
    const int blocks = mv__cu_met_blocks(nf);
    double *part = NULL;
    cudaError_t e;
    MV__CU_TRY(cudaMallocAsync((void **)&part, ((size_t)blocks + 1) * K * sizeof(double), s));
    mv__cu_met_kernel<K><<<blocks, MV__CU_RED_THREADS, 0, s>>>(mp, sel, fix, mov, nf, part);
    e = cudaGetLastError();
    if (e == cudaSuccess) {
        mv__cu_met_final_kernel<<<1, 64, 0, s>>>(part, blocks, K, part + (size_t)blocks * K);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(tot, part + (size_t)blocks * K, K * sizeof(double), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    cudaFreeAsync(part, s);
    if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_metric_evaluate: sums");
    return MV_OK;
}

/* ---- Mattes MI: ranges, the histogram pass, the host's part ---- */

/* per block the smallest and largest finite value inside the mask
   (mv__finite_range; min and max are exact in any order) */
static __global__ void mv__cu_met_range_kernel(const float *v, int64_t n, const void *mask, mv_dtype mask_dt, float *part)
{
    __shared__ float lo[MV__CU_RED_THREADS], hi[MV__CU_RED_THREADS];
    float a = INFINITY, b = -INFINITY;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float x = v[i];
        if (isfinite(x) && (!mask || mv__cu_mask_on(mask, mask_dt, i))) a = fminf(a, x), b = fmaxf(b, x);
    }
    lo[threadIdx.x] = a;
    hi[threadIdx.x] = b;
    __syncthreads();
    for (int w = MV__CU_RED_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) {
            lo[threadIdx.x] = fminf(lo[threadIdx.x], lo[threadIdx.x + w]);
            hi[threadIdx.x] = fmaxf(hi[threadIdx.x], hi[threadIdx.x + w]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) part[2 * blockIdx.x] = lo[0], part[2 * blockIdx.x + 1] = hi[0];
}

/* Host: the finite range of a float32 device array (lo > hi: none), waits */
static mv_status mv__cu_met_range(const float *v, int64_t n, const void *mask, mv_dtype mask_dt, double *lo, double *hi,
                                  cudaStream_t s)
{
    const int blocks = mv__cu_met_blocks(n);
    float *part = NULL, *host = (float *)malloc((size_t)blocks * 2 * sizeof(float));
    cudaError_t e;
    MV__CU_CHECK(host != NULL, MV_ERR_OUT_OF_MEMORY, "mv_cuda_metric_evaluate: range partials");
    e = cudaMallocAsync((void **)&part, (size_t)blocks * 2 * sizeof(float), s);
    if (e == cudaSuccess) {
        mv__cu_met_range_kernel<<<blocks, MV__CU_RED_THREADS, 0, s>>>(v, n, mask, mask_dt, part);
        e = cudaGetLastError();
        if (e == cudaSuccess) e = cudaMemcpyAsync(host, part, (size_t)blocks * 2 * sizeof(float), cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess) e = cudaStreamSynchronize(s);
        cudaFreeAsync(part, s);
    }
    if (e != cudaSuccess) {
        free(host);
        return mv__cu_fail(e, "mv_cuda_metric_evaluate: value range");
    }
    *lo = INFINITY, *hi = -INFINITY;
    for (int b = 0; b < blocks; b++) *lo = fmin(*lo, (double)host[2 * b]), *hi = fmax(*hi, (double)host[2 * b + 1]);
    free(host);
    return MV_OK;
}

/* mv__mi_bin_setup: bins - 2 PAD bins span [lo, hi] (a constant image gets width 1) */
static void mv__cu_mi_bin_setup(double lo, double hi, int bins, double *width, double *norm)
{
    double range = hi - lo;
    if (!(range > 0)) range = 1;
    *width = range / (bins - 2 * MV__CU_MI_PAD);
    *norm = lo / *width - MV__CU_MI_PAD;
}

/* Host: the bins and the fixed point's scale: 2^(62 - bits of nf), so
   that nf samples of weight <= 1 in one bin stay below 2^63 */
static void mv__cu_mi_setup(double fmin, double fmax, double mmin, double mmax, int bins, int64_t nf, mv__cu_mi *mi)
{
    int bits = 0;
    while (bits < 62 && ((uint64_t)nf >> bits) != 0) bits++;
    memset(mi, 0, sizeof(*mi));
    mi->bins = bins;
    mv__cu_mi_bin_setup(fmin, fmax, bins, &mi->fbin, &mi->fnorm);
    mv__cu_mi_bin_setup(mmin, mmax, bins, &mi->mbin, &mi->mnorm);
    mi->scale = ldexp(1.0, 62 - bits);
}

/* mv__mi_from_histograms on the fixed-point histogram h (N samples): MI,
   and in P (bins x bins, then the two marginals) log(p / p_m) */
static double mv__cu_mi_from_hist(const unsigned long long *h, double scale, double N, int nb, double *P)
{
    double *pm = P + (size_t)nb * nb, *pf = pm + nb, mi = 0;
    size_t i, len = (size_t)nb * nb;
    int l, m;
    for (i = 0; i < len; i++) P[i] = (double)h[i] / scale;
    if (N < 2) return 0;
    for (m = 0; m < nb; m++) pm[m] = 0, pf[m] = 0;
    for (l = 0; l < nb; l++)
        for (m = 0; m < nb; m++) {
            double p = P[(size_t)l * nb + m] / N;
            P[(size_t)l * nb + m] = p;
            pm[m] += p;
            pf[l] += p;
        }
    for (l = 0; l < nb; l++)
        for (m = 0; m < nb; m++) {
            double p = P[(size_t)l * nb + m];
            if (p > 0) {
                mi += p * log(p / (pm[m] * pf[l]));
                P[(size_t)l * nb + m] = log(p / pm[m]);
            } else {
                P[(size_t)l * nb + m] = 0;
            }
        }
    return mi;
}

/* Pass 1: the joint histogram in fixed point and the sample count; a
   block's histogram in shared memory when bins x bins fits (the background
   piles into few bins: global atomics alone would queue on them) */
#define MV__CU_MI_SHARED_BINS 64
static __global__ void __launch_bounds__(MV__CU_RED_THREADS)
    mv__cu_mi_hist_kernel(mv__cu_metmap mp, mv__cu_metsel sel, const float *__restrict__ fix, const float *__restrict__ mov,
                          int64_t nf, unsigned long long *hist, unsigned long long *count)
{
    __shared__ unsigned long long sh[MV__CU_MI_SHARED_BINS * MV__CU_MI_SHARED_BINS]; /* 32 KiB */
    const int nb = mp.mi.bins, len = nb * nb;
    const bool local = nb <= MV__CU_MI_SHARED_BINS;
    unsigned long long *h = local ? sh : hist, n = 0;
    if (local)
        for (int k = threadIdx.x; k < len; k += blockDim.x) sh[k] = 0;
    __syncthreads();
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < nf; i += (int64_t)gridDim.x * blockDim.x) {
        int l, idx;
        double pw[4];
        if (sel.mask && !mv__cu_mask_on(sel.mask, sel.mask_dt, i)) continue;
        if (!mv__cu_mi_sample(mp, sel, fix, mov, i, &l, &idx, pw)) continue;
        n++;
        unsigned long long *b = h + (size_t)l * nb + (idx - 1);
        for (int r = 0; r < 4; r++) atomicAdd(b + r, mv__cu_mi_fix(pw[r], mp.mi.scale));
    }
    if (n) atomicAdd(count, n);
    __syncthreads();
    if (local)
        for (int k = threadIdx.x; k < len; k += blockDim.x)
            if (sh[k]) atomicAdd(hist + k, sh[k]);
}

/* Host: pass 1 downloaded: the histogram (bins x bins) and the count, waits */
static mv_status mv__cu_mi_hist(const mv__cu_metmap &mp, const mv__cu_metsel &sel, const float *fix, const float *mov,
                                unsigned long long *h, unsigned long long *count, cudaStream_t s)
{
    const int64_t nf = mp.fd[0] * mp.fd[1] * mp.fd[2];
    const size_t len = (size_t)mp.mi.bins * mp.mi.bins;
    unsigned long long *d = NULL;
    cudaError_t e;
    MV__CU_TRY(cudaMallocAsync((void **)&d, (len + 1) * sizeof(*d), s));
    e = cudaMemsetAsync(d, 0, (len + 1) * sizeof(*d), s);
    if (e == cudaSuccess) {
        mv__cu_mi_hist_kernel<<<mv__cu_met_blocks(nf), MV__CU_RED_THREADS, 0, s>>>(mp, sel, fix, mov, nf, d, d + len);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(h, d, len * sizeof(*d), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaMemcpyAsync(count, d + len, sizeof(*d), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    cudaFreeAsync(d, s);
    if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_metric_evaluate: MI histogram");
    return MV_OK;
}

/* Host: Mattes MI's value (pass 1) and gradient (pass 2 through the table) */
static mv_status mv__cu_mi_evaluate(const mv_cuda_vol *fixed, const mv_cuda_vol *moving, const mv_transform *t,
                                    const mv_metric_opts *o, mv__cu_metmap *mp, const mv__cu_metsel &sel,
                                    const double W[4][4], double *value, double *grad, int64_t *nsamples,
                                    cudaStream_t s, const char *fn)
{
    const int nb = o->bins > 0 ? o->bins : 24; /* MV__MI_BINS */
    const int64_t nf = mp->fd[0] * mp->fd[1] * mp->fd[2], nm = mp->md[0] * mp->md[1] * mp->md[2];
    const size_t len = (size_t)nb * nb;
    const float *fix = (const float *)fixed->vol.data, *mov = (const float *)moving->vol.data;
    double fmin, fmax, mmin, mmax, mi, tot[MV__CU_MET_MI2];
    unsigned long long *h = NULL, count = 0;
    double *P = NULL, *dlut = NULL;
    mv_status st = MV_OK;
    cudaError_t e = cudaSuccess;
    MV__CU_STRY(mv__cu_met_range(fix, nf, sel.mask, sel.mask_dt, &fmin, &fmax, s));
    MV__CU_STRY(mv__cu_met_range(mov, nm, mp->mmask, mp->mmask_dt, &mmin, &mmax, s));
    MV__CU_CHECK(fmax >= fmin, MV_ERR_INVALID_ARG, "%s: metric: no finite fixed voxel inside the mask", fn);
    MV__CU_CHECK(mmax >= mmin, MV_ERR_INVALID_ARG, "%s: metric: no finite moving voxel inside the mask", fn);
    mv__cu_mi_setup(fmin, fmax, mmin, mmax, nb, nf, &mp->mi);
    h = (unsigned long long *)malloc(len * sizeof(*h));
    P = (double *)malloc((len + 2 * (size_t)nb) * sizeof(double));
    if (!h || !P) {
        free(h);
        free(P);
        return mv_set_error(MV_ERR_OUT_OF_MEMORY, "%s: MI tables", fn);
    }
    st = mv__cu_mi_hist(*mp, sel, fix, mov, h, &count, s);
    if (st == MV_OK) {
        mi = mv__cu_mi_from_hist(h, mp->mi.scale, (double)count, nb, P);
        if (nsamples) *nsamples = (int64_t)count;
        if (count < 2)
            st = mv_set_error(MV_ERR_INVALID_ARG, "%s: metric: %lld samples map inside the moving image (and mask)", fn,
                              (long long)count);
        else *value = -mi;
    }
    if (st == MV_OK && grad) {
        e = cudaMallocAsync((void **)&dlut, len * sizeof(double), s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(dlut, P, len * sizeof(double), cudaMemcpyHostToDevice, s);
        if (e != cudaSuccess) st = mv__cu_fail(e, "mv_cuda_metric_evaluate: MI table");
        if (st == MV_OK) {
            mp->mi.lut = dlut;
            st = mv__cu_met_sums<MV__CU_MET_MI2>(*mp, sel, fix, mov, tot, s); /* waits: P may go */
        }
        if (st == MV_OK) st = mv__cu_met_chain(&fixed->vol, W, t, tot + 1, 1.0 / ((double)count * mp->mi.mbin), grad);
        if (dlut) cudaFreeAsync(dlut, s);
    }
    free(h);
    free(P);
    return st;
}

/* Host: value and gradient from the sums, mv__reg_eval's formulas */
static mv_status mv__cu_met_finish(const mv_vol *fixed, const double W[4][4], const mv_transform *t, int metric,
                                   const double *tot, double *value, double *grad, int64_t *nsamples, const char *fn)
{
    const double N = tot[0];
    if (nsamples) *nsamples = (int64_t)N;
    MV__CU_CHECK(N >= 2, MV_ERR_INVALID_ARG, "%s: metric: %lld samples map inside the moving image (and mask)", fn,
                 (long long)N);
    if (metric == MV_METRIC_MSE) {
        *value = tot[1] / N;
        if (grad) MV__CU_STRY(mv__cu_met_chain(fixed, W, t, tot + 2, 1.0 / N, grad));
        return MV_OK;
    }
    {
        double mf = tot[1] / N, mm = tot[2] / N, sff, smm, sfm, den, Hd[12];
        int i;
        sff = tot[3] - N * mf * mf, smm = tot[4] - N * mm * mm, sfm = tot[5] - N * mf * mm;
        if (!(sff > 0 && smm > 0)) { /* a constant image: NCC undefined, taken as 0 and flat */
            *value = 0;
            if (grad) memset(grad, 0, (size_t)t->nparams * sizeof(double));
            return MV_OK;
        }
        den = sqrt(sff * smm);
        *value = -sfm / den;
        if (grad) {
            for (i = 0; i < 12; i++) {
                double dsfm = tot[6 + i] - mf * tot[30 + i], dsmm = 2 * (tot[18 + i] - mm * tot[30 + i]);
                Hd[i] = -(dsfm / den - sfm * dsmm / (2 * den * smm));
            }
            MV__CU_STRY(mv__cu_met_chain(fixed, W, t, Hd, 1.0, grad));
        }
    }
    return MV_OK;
}

/* ---- LNCC (local NCC, ANTs CC) -----------------------------------------------

   How it works. mv__reg_eval_lncc on the device, step by step, each sum
   taken in the CPU's order by one thread, so the value and the voxel-space
   gradient sums are the CPU's bits (only the chain to the parameters is
   mv__cu_met_chain's, as for MSE and NCC):
   1. fill, per voxel: the moving value m and gradient g at the mapped
      point (kept as float32 for step 5, as the CPU keeps them) and six
      float64 arrays S1 = valid, f, m, f^2, m^2, f m (zeros where invalid);
   2. per row (y, z) of the fixed grid the sums of S1, f^2 and m^2 in x
      order; the host adds the rows in order: n, then mean f^2, mean m^2
      (the flat-window thresholds);
   3. box sums of the six arrays along each axis of more than one voxel:
      a thread per line runs the CPU's float64 running sum (add the voxel
      entering, then subtract the one leaving) out of place into a spare
      array, which takes the array's place (the CPU works in place on a
      copy of the line);
   4. per voxel the centre's terms: A^2 / (B C) and whether it counts into
      the m^2 and f m arrays (free from here on), alpha, alpha fbar, beta,
      beta mbar into the first four; per row their sums in x order, rows in
      order on the host: the value;
   5. box sums of those four, then per row the twelve sums of w g (x)
      (x, y, z, 1) in x order (mv__lncc_grad), rows in order on the host,
      the chain.
   A row is a thread with a sequential x loop (the CPU's order decides the
   bits), so the x-axis box and the row passes read with a row's stride
   between neighbouring threads: a warp's 32 rows share their cache lines
   over 16 steps (not yet measured on a GPU). Deterministic by
   construction: no atomics, every sum in one thread. Memory: 7 float64
   and 4 float32 arrays of the fixed grid (72 bytes a voxel) and 12 float64
   per row. */

#define MV__CU_LNCC_ROW_THREADS 128

struct mv__cu_lncc {
    mv__cu_metmap mp;   /* V, the dims, the moving mask */
    const float *fix, *mov;
    const void *fmask;  /* fixed mask (fixed's grid), NULL = all */
    mv_dtype fmask_dt;
    double *S[6];       /* S1, Sf, Sm, Sff, Smm, Sfm: each one's current array */
    float *m, *g;       /* moving value and gradient (3 a voxel) at each fixed voxel */
    int radius;
    double gff, gmm;    /* mean squares: the flat-window thresholds' scale */
    double nc;          /* centres that count (the gradient's 1 / nc) */
};

/* Step 1 at voxel i (mv__lncc_fill's body) */
static MV__CU_HD void mv__cu_lncc_fill_at(const mv__cu_lncc &L, int64_t i)
{
    int64_t x, y, z;
    double v[3], mv = 0, gv[3] = {0, 0, 0}, f = L.fix[i];
    mv__cu_met_split(i, L.mp.fd[0], L.mp.fd[1], &x, &y, &z);
    const float s[3] = {(float)x, (float)y, (float)z};
    mv__cu_met_map(L.mp.V, s, v);
    const bool ok = (!L.fmask || mv__cu_met_mask_on(L.fmask, L.fmask_dt, i)) && isfinite(f) &&
                    mv__cu_met_trilin(L.mov, L.mp.md, L.mp.mmask, L.mp.mmask_dt, v, &mv, gv);
    if (!ok) mv = 0, gv[0] = gv[1] = gv[2] = 0, f = 0;
    L.m[i] = (float)mv;
    for (int a = 0; a < 3; a++) L.g[3 * i + a] = (float)gv[a];
    L.S[0][i] = ok ? 1.0 : 0.0, L.S[1][i] = f, L.S[2][i] = mv;
    L.S[3][i] = MV__CU_DMUL(f, f), L.S[4][i] = MV__CU_DMUL(mv, mv), L.S[5][i] = MV__CU_DMUL(f, mv);
}

/* Step 2, row r: valid voxels, sum f^2, sum m^2 in x order */
static MV__CU_HD void mv__cu_lncc_fill_row(const mv__cu_lncc &L, int64_t r, double p[3])
{
    const int64_t nx = L.mp.fd[0], i0 = r * nx;
    double nv = 0, gff = 0, gmm = 0;
    for (int64_t i = i0; i < i0 + nx; i++)
        nv = MV__CU_DADD(nv, L.S[0][i]), gff = MV__CU_DADD(gff, L.S[3][i]), gmm = MV__CU_DADD(gmm, L.S[4][i]);
    p[0] = nv, p[1] = gff, p[2] = gmm;
}

/* Step 3, line l of axis ax: the box sum of src over the (2 rad + 1)
   window cut at the grid's edge into dst, mv__lncc_box's running sum */
static MV__CU_HD void mv__cu_lncc_box_line(const double *src, double *dst, const int64_t d[3], int ax, int rad, int64_t l)
{
    const int64_t n = d[ax], stride = ax == 0 ? 1 : ax == 1 ? d[0] : d[0] * d[1];
    const int64_t base = ax == 0 ? l * n : ax == 1 ? (l / d[0]) * d[0] * d[1] + l % d[0] : l;
    const double *a = src + base;
    double *o = dst + base, run = 0;
    for (int64_t i = 0; i < (rad < n ? (int64_t)rad : n); i++) run = MV__CU_DADD(run, a[i * stride]);
    for (int64_t i = 0; i < n; i++) {
        if (i + rad < n) run = MV__CU_DADD(run, a[(i + rad) * stride]);
        if (i - rad - 1 >= 0) run = MV__CU_DSUB(run, a[(i - rad - 1) * stride]);
        o[i * stride] = run;
    }
}

/* Steps 3 and 5's sequence: the first narr arrays along each axis of more
   than one voxel (none at radius 0), each pass into the spare array, which
   then holds the array; box(src, dst, axis) runs one pass (a kernel on the
   device, a loop in the host checks) */
template <typename Box>
static void mv__cu_lncc_boxes(mv__cu_lncc *L, double **spare, int narr, Box box)
{
    for (int q = 0; q < narr; q++)
        for (int ax = 0; ax < 3; ax++) {
            if (L->mp.fd[ax] <= 1 || L->radius == 0) continue;
            box(L->S[q], *spare, ax);
            double *t = L->S[q];
            L->S[q] = *spare, *spare = t;
        }
}

/* Step 4 at voxel i (mv__lncc_centres' body) */
static MV__CU_HD void mv__cu_lncc_centre_at(const mv__cu_lncc &L, int64_t i)
{
    const double n = L.S[0][i];
    double al = 0, be = 0, fb = 0, mb = 0, term = 0, counts = 0;
    if ((!L.fmask || mv__cu_met_mask_on(L.fmask, L.fmask_dt, i)) && isfinite(L.fix[i]) && n >= 2) {
        const double Sf = L.S[1][i], Sm = L.S[2][i];
        fb = MV__CU_DDIV(Sf, n), mb = MV__CU_DDIV(Sm, n);
        const double A = MV__CU_DSUB(L.S[5][i], MV__CU_DMUL(Sf, mb)), B = MV__CU_DSUB(L.S[3][i], MV__CU_DMUL(Sf, fb));
        const double C = MV__CU_DSUB(L.S[4][i], MV__CU_DMUL(Sm, mb));
        if (B > MV__CU_DMUL(MV__CU_DMUL(1e-5, n), L.gff) && C > MV__CU_DMUL(MV__CU_DMUL(1e-5, n), L.gmm)) {
            const double BC = MV__CU_DMUL(B, C), AA = MV__CU_DMUL(A, A);
            term = MV__CU_DDIV(AA, BC);
            al = MV__CU_DDIV(A, BC), be = MV__CU_DDIV(AA, MV__CU_DMUL(BC, C));
        }
        counts = 1;
    }
    L.S[0][i] = al, L.S[1][i] = MV__CU_DMUL(al, fb), L.S[2][i] = be, L.S[3][i] = MV__CU_DMUL(be, mb);
    L.S[4][i] = term, L.S[5][i] = counts;
}

/* Step 4, row r: sum A^2 / (B C), centres that count (a flat window adds
   +0, which leaves the CPU's sum as it was) */
static MV__CU_HD void mv__cu_lncc_centre_row(const mv__cu_lncc &L, int64_t r, double p[2])
{
    const int64_t nx = L.mp.fd[0], i0 = r * nx;
    double sum = 0, nc = 0;
    for (int64_t i = i0; i < i0 + nx; i++) sum = MV__CU_DADD(sum, L.S[4][i]), nc = MV__CU_DADD(nc, L.S[5][i]);
    p[0] = sum, p[1] = nc;
}

/* Step 5, row r (mv__lncc_grad): H = sum of w g (x) (x, y, z, 1) over the
   voxels with a gradient, w = -2 / nc (f alpha - alpha fbar - m beta + beta mbar) */
static MV__CU_HD void mv__cu_lncc_grad_row(const mv__cu_lncc &L, int64_t r, double H[12])
{
    const int64_t nx = L.mp.fd[0], i0 = r * nx;
    const float y = (float)(r % L.mp.fd[1]), z = (float)(r / L.mp.fd[1]);
    for (int q = 0; q < 12; q++) H[q] = 0;
    for (int64_t i = i0; i < i0 + nx; i++) {
        const float *gi = L.g + 3 * i;
        if (gi[0] == 0 && gi[1] == 0 && gi[2] == 0) continue;
        const double u = MV__CU_DSUB(MV__CU_DMUL((double)L.fix[i], L.S[0][i]), L.S[1][i]);
        const double w = MV__CU_DMUL(MV__CU_DDIV(-2.0, L.nc),
                                     MV__CU_DADD(MV__CU_DSUB(u, MV__CU_DMUL((double)L.m[i], L.S[2][i])), L.S[3][i]));
        const double gv[3] = {gi[0], gi[1], gi[2]};
        const float s[3] = {(float)(i - i0), y, z};
        mv__cu_met_outer(H, w, gv, s);
    }
}

/* Host: the rows' K partials (part[r K + e]) added in row order into tot */
static void mv__cu_lncc_rows_sum(const double *part, int64_t rows, int K, double *tot)
{
    for (int e = 0; e < K; e++) tot[e] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int e = 0; e < K; e++) tot[e] += part[r * K + e];
}

static __global__ void mv__cu_lncc_fill_kernel(mv__cu_lncc L, int64_t n)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        mv__cu_lncc_fill_at(L, i);
}
static __global__ void mv__cu_lncc_centre_kernel(mv__cu_lncc L, int64_t n)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        mv__cu_lncc_centre_at(L, i);
}
static __global__ void mv__cu_lncc_box_kernel(const double *__restrict__ src, double *__restrict__ dst, int64_t n0,
                                              int64_t n1, int64_t n2, int ax, int rad)
{
    const int64_t d[3] = {n0, n1, n2}, lines = n0 * n1 * n2 / d[ax];
    const int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (l < lines) mv__cu_lncc_box_line(src, dst, d, ax, rad, l);
}
/* stage 0: step 2's three sums, 1: step 4's two, 2: step 5's twelve, per row */
static __global__ void mv__cu_lncc_rows_kernel(mv__cu_lncc L, int stage, int64_t rows, double *part)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    if (stage == 0) mv__cu_lncc_fill_row(L, r, part + 3 * r);
    else if (stage == 1) mv__cu_lncc_centre_row(L, r, part + 2 * r);
    else mv__cu_lncc_grad_row(L, r, part + 12 * r);
}

/* Host: one row pass, its partials downloaded and added in row order (waits) */
static cudaError_t mv__cu_lncc_rows(const mv__cu_lncc &L, int stage, double *dpart, double *hpart, double *tot,
                                    cudaStream_t s)
{
    const int64_t rows = L.mp.fd[1] * L.mp.fd[2];
    const int K = stage == 0 ? 3 : stage == 1 ? 2 : 12;
    mv__cu_lncc_rows_kernel<<<(unsigned)((rows + MV__CU_LNCC_ROW_THREADS - 1) / MV__CU_LNCC_ROW_THREADS),
                              MV__CU_LNCC_ROW_THREADS, 0, s>>>(L, stage, rows, dpart);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpyAsync(hpart, dpart, (size_t)rows * K * sizeof(double), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e == cudaSuccess) mv__cu_lncc_rows_sum(hpart, rows, K, tot);
    return e;
}

/* Host: the box passes of the first narr arrays on the device */
static cudaError_t mv__cu_lncc_box_passes(mv__cu_lncc *L, double **spare, int narr, cudaStream_t s)
{
    cudaError_t e = cudaSuccess;
    const int64_t *d = L->mp.fd;
    mv__cu_lncc_boxes(L, spare, narr, [&](const double *src, double *dst, int ax) {
        const int64_t lines = d[0] * d[1] * d[2] / d[ax];
        if (e != cudaSuccess) return;
        mv__cu_lncc_box_kernel<<<(unsigned)((lines + MV__CU_LNCC_ROW_THREADS - 1) / MV__CU_LNCC_ROW_THREADS),
                                 MV__CU_LNCC_ROW_THREADS, 0, s>>>(src, dst, d[0], d[1], d[2], ax, L->radius);
        e = cudaGetLastError();
    });
    return e;
}

/* Host: the moving image has a finite voxel inside its mask (the CPU's
   mv__reg_ctx_build asks it of every metric; LNCC's sums would be NaN) */
static mv_status mv__cu_met_moving_finite(const mv__cu_metmap &mp, const float *mov, cudaStream_t s, const char *fn)
{
    double lo, hi;
    MV__CU_STRY(mv__cu_met_range(mov, mp.md[0] * mp.md[1] * mp.md[2], mp.mmask, mp.mmask_dt, &lo, &hi, s));
    MV__CU_CHECK(hi >= lo, MV_ERR_INVALID_ARG, "%s: metric: no finite moving voxel inside the mask", fn);
    return MV_OK;
}

/* Host: LNCC's value and gradient (steps 1-5 above) */
static mv_status mv__cu_lncc_evaluate(const mv_cuda_vol *fixed, const mv_cuda_vol *moving, const mv_transform *t,
                                      const mv_metric_opts *o, const mv__cu_metmap &mp, const mv__cu_metsel &sel,
                                      const double W[4][4], double *value, double *grad, int64_t *nsamples,
                                      cudaStream_t s, const char *fn)
{
    const int64_t N = mp.fd[0] * mp.fd[1] * mp.fd[2], rows = mp.fd[1] * mp.fd[2];
    const size_t dbytes = ((size_t)7 * N + (size_t)12 * rows) * sizeof(double), fbytes = (size_t)4 * N * sizeof(float);
    mv__cu_lncc L;
    double *base = NULL, *spare, *dpart, *hpart, tot[12];
    mv_status st = MV_OK;
    cudaError_t e;
    MV__CU_STRY(mv__cu_met_moving_finite(mp, (const float *)moving->vol.data, s, fn));
    hpart = (double *)malloc((size_t)rows * 12 * sizeof(double));
    MV__CU_CHECK(hpart != NULL, MV_ERR_OUT_OF_MEMORY, "%s: LNCC row sums of %lld rows", fn, (long long)rows);
    e = cudaMallocAsync((void **)&base, dbytes + fbytes, s);
    if (e != cudaSuccess) {
        free(hpart);
        return mv__cu_fail(e, "mv_cuda_metric_evaluate: LNCC work arrays");
    }
    memset(&L, 0, sizeof(L));
    L.mp = mp;
    L.fix = (const float *)fixed->vol.data, L.mov = (const float *)moving->vol.data;
    L.fmask = sel.mask, L.fmask_dt = sel.mask_dt;
    for (int q = 0; q < 6; q++) L.S[q] = base + (size_t)q * N;
    spare = base + (size_t)6 * N, dpart = base + (size_t)7 * N;
    L.m = (float *)(void *)(base + (size_t)7 * N + (size_t)12 * rows), L.g = L.m + N;
    L.radius = o->radius > 0 ? o->radius : 2;
    mv__cu_lncc_fill_kernel<<<mv__cu_met_blocks(N), MV__CU_RED_THREADS, 0, s>>>(L, N);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = mv__cu_lncc_rows(L, 0, dpart, hpart, tot, s);
    if (e == cudaSuccess) {
        if (nsamples) *nsamples = (int64_t)tot[0];
        if (tot[0] < 2)
            st = mv_set_error(MV_ERR_INVALID_ARG, "%s: metric: %lld samples map inside the moving image (and mask)", fn,
                              (long long)tot[0]);
        L.gff = tot[1] / tot[0], L.gmm = tot[2] / tot[0];
    }
    if (e == cudaSuccess && st == MV_OK) e = mv__cu_lncc_box_passes(&L, &spare, 6, s);
    if (e == cudaSuccess && st == MV_OK) {
        mv__cu_lncc_centre_kernel<<<mv__cu_met_blocks(N), MV__CU_RED_THREADS, 0, s>>>(L, N);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess && st == MV_OK) e = mv__cu_lncc_rows(L, 1, dpart, hpart, tot, s);
    if (e == cudaSuccess && st == MV_OK) {
        L.nc = tot[1];
        *value = L.nc > 0 ? -tot[0] / L.nc : 0;
        if (grad && L.nc > 0) {
            e = mv__cu_lncc_box_passes(&L, &spare, 4, s);
            if (e == cudaSuccess) e = mv__cu_lncc_rows(L, 2, dpart, hpart, tot, s);
            if (e == cudaSuccess) st = mv__cu_met_chain(&fixed->vol, W, t, tot, 1.0, grad);
        } else if (grad) {
            memset(grad, 0, (size_t)t->nparams * sizeof(double));
        }
    }
    cudaFreeAsync(base, s);
    free(hpart);
    if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_metric_evaluate: LNCC");
    return st;
}

static mv_status mv__cu_met_image(const mv_cuda_vol *v, const char *fn, const char *what)
{
    MV__CU_STRY(mv__cu_check_vol(v, fn, what));
    MV__CU_CHECK(v->vol.ndim >= 2 && v->vol.ndim <= 3, MV_ERR_INVALID_ARG, "%s: %s ndim %d (2 or 3)", fn, what,
                 v->vol.ndim);
    MV__CU_CHECK(v->vol.dtype == MV_DT_F32 && (v->vol.meta.scl_slope == 0 || !isfinite(v->vol.meta.scl_slope) ||
                                               (v->vol.meta.scl_slope == 1 && v->vol.meta.scl_inter == 0)),
                 MV_ERR_UNSUPPORTED, "%s: %s must be unscaled float32 on the GPU (%s): mv_cuda_convert it first", fn, what,
                 mv_dtype_name(v->vol.dtype));
    return MV_OK;
}

/* a mask of the metric: the device data (mv_vol of a device volume) of a
   real GPU dtype on image's grid */
static mv_status mv__cu_met_mask(const mv_vol *m, const mv_vol *image, const char *fn, const char *what)
{
    if (!m) return MV_OK;
    MV__CU_CHECK(m->data != NULL && mv__cu_is_gpu_real(m->dtype), MV_ERR_INVALID_ARG,
                 "%s: %s: no data or dtype %s (a device volume's vol, any real dtype)", fn, what, mv_dtype_name(m->dtype));
    MV__CU_CHECK(m->ndim >= 2 && m->ndim <= 3 && mv__cu_dim(m, 0) == image->dim[0] && mv__cu_dim(m, 1) == image->dim[1] &&
                     mv__cu_dim(m, 2) == mv__cu_dim(image, 2),
                 MV_ERR_INVALID_ARG, "%s: %s is %lldx%lldx%lld, its image %lldx%lldx%lld", fn, what,
                 (long long)mv__cu_dim(m, 0), (long long)mv__cu_dim(m, 1), (long long)mv__cu_dim(m, 2),
                 (long long)image->dim[0], (long long)image->dim[1], (long long)mv__cu_dim(image, 2));
    return MV_OK;
}

MVCDEF mv_status mv_cuda_metric_evaluate(const mv_cuda_vol *fixed, const mv_cuda_vol *moving, const mv_transform *t,
                                         const mv_metric_opts *opts, double *value, double *grad, int64_t *nsamples,
                                         mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_metric_evaluate";
    mv_metric_opts o;
    mv__cu_metmap mp;
    mv__cu_metsel sel;
    double W[4][4], tot[MV__CU_MET_NCC];
    int64_t nf;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_CHECK(value != NULL && t != NULL, MV_ERR_INVALID_ARG, "%s: value or t is NULL", fn);
    MV__CU_CHECK((int)o.metric >= 0 && o.metric <= MV_METRIC_LNCC, MV_ERR_INVALID_ARG, "%s: metric %d", fn,
                 (int)o.metric);
    MV__CU_CHECK(o.bins == 0 || (o.bins >= 5 && o.bins <= 1024), MV_ERR_INVALID_ARG, "%s: bins %d (5..1024)", fn, o.bins);
    MV__CU_CHECK(o.radius >= 0 && o.radius <= 64, MV_ERR_INVALID_ARG, "%s: radius %d (0..64)", fn, o.radius);
    MV__CU_CHECK((int)o.sampling >= 0 && o.sampling <= MV_SAMPLING_RANDOM, MV_ERR_INVALID_ARG, "%s: sampling %d", fn,
                 (int)o.sampling);
    MV__CU_CHECK(o.fraction == 0 || (o.fraction > 0 && o.fraction <= 1), MV_ERR_INVALID_ARG,
                 "%s: fraction %g (0 < fraction <= 1)", fn, o.fraction);
    MV__CU_CHECK(o.stride >= 0, MV_ERR_INVALID_ARG, "%s: stride %d", fn, o.stride);
    MV__CU_STRY(mv__cu_met_image(fixed, fn, "fixed"));
    MV__CU_STRY(mv__cu_met_image(moving, fn, "moving"));
    MV__CU_STRY(mv__cu_met_mask(o.fixed_mask, &fixed->vol, fn, "fixed_mask"));
    MV__CU_STRY(mv__cu_met_mask(o.moving_mask, &moving->vol, fn, "moving_mask"));
    MV__CU_STRY(mv__cu_met_setup(&fixed->vol, &moving->vol, t, (int)o.metric, &mp, W, fn));
    if (o.moving_mask) mp.mmask = o.moving_mask->data, mp.mmask_dt = o.moving_mask->dtype;
    nf = mp.fd[0] * mp.fd[1] * mp.fd[2];
    MV__CU_STRY(mv__cu_met_select(fixed, &o, nf, &sel, stream, fn));
    if (o.metric == MV_METRIC_LNCC)
        return mv__cu_lncc_evaluate(fixed, moving, t, &o, mp, sel, W, value, grad, nsamples, stream, fn);
    if (o.metric == MV_METRIC_MI)
        return mv__cu_mi_evaluate(fixed, moving, t, &o, &mp, sel, W, value, grad, nsamples, stream, fn);
    if (o.metric == MV_METRIC_MSE)
        MV__CU_STRY(mv__cu_met_sums<MV__CU_MET_MSE>(mp, sel, (const float *)fixed->vol.data,
                                                    (const float *)moving->vol.data, tot, stream));
    else
        MV__CU_STRY(mv__cu_met_sums<MV__CU_MET_NCC>(mp, sel, (const float *)fixed->vol.data,
                                                    (const float *)moving->vol.data, tot, stream));
    return mv__cu_met_finish(&fixed->vol, W, t, (int)o.metric, tot, value, grad, nsamples, fn);
}

/* ---- MRI reconstruction: GRAPPA application -------------------------------
   mv_grappa_apply_into's three passes on the device, item by item (see
   medvol.h's comment above mv__gr_app_job): a hybrid buffer h holds each
   line's padded readout in image space, coil rows of nxp samples
   (h[(line C + coil) nxp + x], x fastest, so cuFFT batches the rows and a
   warp reads consecutive columns). The CPU keeps the coils of a sample
   side by side for its SIMD FFT; the order of the products' sums is what
   decides the bits, and that is the CPU's: four float32 partial sums over
   the sources in (line, coil) order. Like the CPU, the transforms are
   uncentred (the centring signs cancel between the two transforms, see the
   CPU's comment), so column x of h takes the weights of the centred column
   (x + nxp/2) mod nxp: the tap table below is indexed by h's column.
   The element functions (MV__CU_HD) are what tests/test_cuda_host.cu runs on
   the host against medvol.h's bytes. */

/* line classes, as the CPU's: acquired on the lattice (a source, copied),
   predicted, on the lattice but not acquired (zero), acquired off the
   lattice (ACS lines: copied, never a source) */
enum { MV__CU_GR_ACQ = 1, MV__CU_GR_PRED = 2, MV__CU_GR_ZERO = 3, MV__CU_GR_COPY = 4 };
#define MV__CU_GR_MAXR 256 /* Ry Rz residue classes: accel <= 16 per axis */

/* one item's geometry, passed to every kernel by value */
struct mv__cu_gr {
    int64_t nx, ny, nzl, nc, lines; /* lines = ny nzl */
    int64_t nxp, pad;               /* padded readout, where the samples start in it */
    int64_t cstride;                /* coil stride of the k-space volume (nx ny nz) */
    int64_t nt, nsy;                /* targets ((Ry Rz - 1) C), sources per column (ky kz C) */
    int kx, ky, kz, Ry, Rz;
};

static MV__CU_HD int mv__cu_gr_cx(int k) { return (k - 1) / 2; } /* MV__GR_CX: the kernel's centre tap */

/* the target position o = rz Ry + ry - 1 of line l, -1 on the lattice */
static MV__CU_HD int64_t mv__cu_gr_position(const mv__cu_gr &g, const int64_t off[2], int64_t l)
{
    const int64_t y = l % g.ny, z = l / g.ny;
    const int64_t ry = ((y - off[0]) % g.Ry + g.Ry) % g.Ry, rz = ((z - off[1]) % g.Rz + g.Rz) % g.Rz;
    return rz * g.Ry + ry - 1;
}

/* the class of a line from its acquisition flag and position (the CPU's rule) */
static MV__CU_HD unsigned char mv__cu_gr_class(int acquired, int64_t position)
{
    if (acquired) return position >= 0 ? MV__CU_GR_COPY : MV__CU_GR_ACQ;
    return position < 0 ? MV__CU_GR_ZERO : MV__CU_GR_PRED;
}

/* the lattice offset (y, z) from the acquired-line counts per residue class
   (z mod Rz) Ry + y mod Ry: the first class with the most lines */
static MV__CU_HD void mv__cu_gr_offset(const unsigned long long *cnt, int Ry, int Rz, int64_t off[2])
{
    int best = 0;
    for (int r = 1; r < Ry * Rz; r++)
        if (cnt[r] > cnt[best]) best = r;
    off[0] = best % Ry;
    off[1] = best / Ry;
}

/* w(x)[jc][t] = sum_ix e[ix] W[s(ix)][t], s(ix) = ((jc / C) kx + ix) C + jc % C:
   the CPU's product with the readout taps e of the column as its sources
   (four float32 sums in ix order, no FMA) */
static MV__CU_HD float2 mv__cu_gr_wx(const float2 *w, const float2 *e, int kx, int64_t nc, int64_t nt, int64_t jc,
                                     int64_t t)
{
    const float2 *wrow = w + ((jc / nc) * kx * nc + jc % nc) * nt + t;
    float ar = 0, ai = 0, br = 0, bi = 0;
    for (int ix = 0; ix < kx; ix++) {
        const float x = e[ix].x, y = e[ix].y;
        const float2 pq = wrow[(int64_t)ix * nc * nt];
        ar = MV__CU_FADD(ar, MV__CU_FMUL(x, pq.x));
        ai = MV__CU_FADD(ai, MV__CU_FMUL(x, pq.y));
        br = MV__CU_FADD(br, MV__CU_FMUL(y, pq.x));
        bi = MV__CU_FADD(bi, MV__CU_FMUL(y, pq.y));
    }
    return make_float2(MV__CU_FSUB(ar, bi), MV__CU_FADD(ai, br));
}

/* predicted line l, coil t, column x of h: the sum over the sources (for
   each (jz, jy) its line's C values in coil order, zero outside k-space)
   times w(x)[source][o C + t], as the CPU's four-row product does it.
   wx: [(source nt + target) nxp + x]. */
static MV__CU_HD float2 mv__cu_gr_predict(const mv__cu_gr &g, const int64_t off[2], const float2 *h, const float2 *wx,
                                          int64_t l, int64_t t, int64_t x)
{
    const int64_t y = l % g.ny, z = l / g.ny;
    const int64_t ry = ((y - off[0]) % g.Ry + g.Ry) % g.Ry, rz = ((z - off[1]) % g.Rz + g.Rz) % g.Rz;
    const int64_t o = rz * g.Ry + ry - 1;
    const int cy = mv__cu_gr_cx(g.ky), cz = mv__cu_gr_cx(g.kz);
    float ar = 0, ai = 0, br = 0, bi = 0;
    for (int jz = 0; jz < g.kz; jz++)
        for (int jy = 0; jy < g.ky; jy++) {
            const int64_t vz = z - rz + (int64_t)g.Rz * (jz - cz), vy = y - ry + (int64_t)g.Ry * (jy - cy);
            const int inside = vz >= 0 && vz < g.nzl && vy >= 0 && vy < g.ny;
            const int64_t seg = (int64_t)jz * g.ky + jy;
            for (int64_t c = 0; c < g.nc; c++) {
                const float2 v = inside ? h[((vz * g.ny + vy) * g.nc + c) * g.nxp + x] : make_float2(0.0f, 0.0f);
                const float2 pq = wx[((seg * g.nc + c) * g.nt + o * g.nc + t) * g.nxp + x];
                ar = MV__CU_FADD(ar, MV__CU_FMUL(v.x, pq.x));
                ai = MV__CU_FADD(ai, MV__CU_FMUL(v.x, pq.y));
                br = MV__CU_FADD(br, MV__CU_FMUL(v.y, pq.x));
                bi = MV__CU_FADD(bi, MV__CU_FMUL(v.y, pq.y));
            }
        }
    return make_float2(MV__CU_FSUB(ar, bi), MV__CU_FADD(ai, br));
}

/* sample x of the padded readout of coil c on line l (what the inverse
   transform takes): the k-space sample on acquired lattice lines, else 0 */
static MV__CU_HD float2 mv__cu_gr_padded(const mv__cu_gr &g, const float2 *kin, unsigned char cls, int64_t l, int64_t c,
                                         int64_t x)
{
    const int64_t k = x - g.pad;
    if (cls != MV__CU_GR_ACQ || k < 0 || k >= g.nx) return make_float2(0.0f, 0.0f);
    return kin[c * g.cstride + l * g.nx + k];
}

/* an output sample: predicted lines from the forward transform (times the
   two transforms' ortho scales, 1 / nxp), zero lines 0, the rest copied */
static MV__CU_HD float2 mv__cu_gr_result(unsigned char cls, float2 k, float2 hf, float scale)
{
    if (cls == MV__CU_GR_PRED) return make_float2(MV__CU_FMUL(hf.x, scale), MV__CU_FMUL(hf.y, scale));
    if (cls == MV__CU_GR_ZERO) return make_float2(0.0f, 0.0f);
    return k;
}

/* the readout taps of every column of h: e[x kx + ix] = e^{-2 pi i (ix - cx)
   (xc - nxp/2) / nxp}, xc = (x + nxp/2) mod nxp, with the CPU's expression
   (float64 angle, libm cos / sin, rounded to float32): made on the host, so
   they are the CPU's values whatever the device's sin and cos do */
static void mv__cu_gr_taps(int64_t nxp, int kx, float2 *e)
{
    const int cx = mv__cu_gr_cx(kx);
    for (int64_t x = 0; x < nxp; x++) {
        const int64_t xc = (x + nxp / 2) % nxp;
        for (int ix = 0; ix < kx; ix++) {
            double ang = -2.0 * 3.14159265358979323846 * (double)(ix - cx) * (double)(xc - nxp / 2) / (double)nxp;
            e[x * kx + ix] = make_float2((float)cos(ang), (float)sin(ang));
        }
    }
}

static __global__ void mv__cu_gr_scan_kernel(const float2 *__restrict__ kin, unsigned char *__restrict__ cls,
                                             mv__cu_gr g)
{
    const int64_t n = g.nc * g.lines * g.nx;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = i % g.nx, l = (i / g.nx) % g.lines, c = i / (g.nx * g.lines);
        const float2 v = kin[c * g.cstride + l * g.nx + x];
        if (v.x != 0 || v.y != 0) cls[l] = 1; /* every writer writes 1: no race on the value */
    }
}

/* one block: counts per residue class, the offset, then every line's class */
static __global__ void mv__cu_gr_classify_kernel(unsigned char *cls, int64_t *off_out, mv__cu_gr g)
{
    __shared__ unsigned long long cnt[MV__CU_GR_MAXR];
    __shared__ int64_t off[2];
    for (int r = threadIdx.x; r < MV__CU_GR_MAXR; r += blockDim.x) cnt[r] = 0;
    __syncthreads();
    for (int64_t l = threadIdx.x; l < g.lines; l += blockDim.x)
        if (cls[l]) {
            const int64_t y = l % g.ny, z = l / g.ny;
            atomicAdd(&cnt[(z % g.Rz) * g.Ry + y % g.Ry], 1ull); /* integer counts: order-free */
        }
    __syncthreads();
    if (threadIdx.x == 0) {
        mv__cu_gr_offset(cnt, g.Ry, g.Rz, off);
        off_out[0] = off[0];
        off_out[1] = off[1];
    }
    __syncthreads();
    for (int64_t l = threadIdx.x; l < g.lines; l += blockDim.x) cls[l] = mv__cu_gr_class(cls[l] != 0, mv__cu_gr_position(g, off, l));
}

static __global__ void mv__cu_gr_pack_kernel(const float2 *__restrict__ kin, const unsigned char *__restrict__ cls,
                                             float2 *__restrict__ h, mv__cu_gr g)
{
    const int64_t n = g.lines * g.nc * g.nxp;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = i % g.nxp, lc = i / g.nxp, l = lc / g.nc;
        h[i] = mv__cu_gr_padded(g, kin, cls[l], l, lc % g.nc, x);
    }
}

static __global__ void mv__cu_gr_wx_kernel(const float2 *__restrict__ w, const float2 *__restrict__ taps,
                                           float2 *__restrict__ wx, mv__cu_gr g)
{
    const int64_t n = g.nsy * g.nt * g.nxp;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = i % g.nxp, st = i / g.nxp;
        wx[i] = mv__cu_gr_wx(w, taps + x * g.kx, g.kx, g.nc, g.nt, st / g.nt, st % g.nt);
    }
}

/* threads over (line, coil, column) rows of h; only predicted lines work.
   h's predicted rows are written, its source rows (acquired lattice lines,
   zero rows) only read: no thread reads what another writes. */
static __global__ void mv__cu_gr_fill_kernel(float2 *h, const float2 *__restrict__ wx,
                                             const unsigned char *__restrict__ cls, const int64_t *__restrict__ off_in,
                                             mv__cu_gr g)
{
    const int64_t n = g.lines * g.nc * g.nxp;
    int64_t off[2];
    off[0] = off_in[0];
    off[1] = off_in[1];
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = i % g.nxp, lt = i / g.nxp, l = lt / g.nc;
        if (cls[l] != MV__CU_GR_PRED) continue;
        h[i] = mv__cu_gr_predict(g, off, h, wx, l, lt % g.nc, x);
    }
}

static __global__ void mv__cu_gr_extract_kernel(const float2 *kin, float2 *kout, const float2 *__restrict__ h,
                                                const unsigned char *__restrict__ cls, mv__cu_gr g, float scale)
{
    const int64_t n = g.nc * g.lines * g.nx;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = i % g.nx, l = (i / g.nx) % g.lines, c = i / (g.nx * g.lines);
        const int64_t k = c * g.cstride + l * g.nx + x;
        const unsigned char cl = cls[l];
        /* kin is read only where the sample is copied (in place: the same address) */
        const float2 kv = cl == MV__CU_GR_PRED || cl == MV__CU_GR_ZERO ? make_float2(0.0f, 0.0f) : kin[k];
        kout[k] = mv__cu_gr_result(cl, kv, h[(l * g.nc + c) * g.nxp + g.pad + x], scale);
    }
}

/* device scratch of one application, freed stream-ordered in any case */
struct mv__cu_gr_bufs {
    float2 *w, *taps, *wx, *h;
    unsigned char *cls;
    int64_t *off;
};

static void mv__cu_gr_bufs_free(mv__cu_gr_bufs *b, cudaStream_t s)
{
    void *p[6] = {b->w, b->taps, b->wx, b->h, b->cls, b->off};
    for (int i = 0; i < 6; i++)
        if (p[i]) cudaFreeAsync(p[i], s);
    memset(b, 0, sizeof(*b));
}

/* the calibration's geometry and the device buffers, weights and taps uploaded */
static mv_status mv__cu_gr_setup(const mv_grappa_calib *cal, const mv_cuda_vol *kspace, mv__cu_gr *g, int64_t *nsets,
                                 int *three_d, mv__cu_gr_bufs *b, cudaStream_t s)
{
    static const char *fn = "mv_cuda_grappa_apply_into";
    int accel[3], kernel[3], nc;
    int64_t dims[3], ns, nt, nxp;
    const float *w0;
    MV__CU_STRY(mv_grappa_info(cal, accel, kernel, NULL, &nc));
    MV__CU_STRY(mv_grappa_layout(cal, dims, three_d, nsets, &nxp));
    MV__CU_STRY(mv_grappa_weights(cal, 0, &w0, &ns, &nt));
    for (int a = 0; a < 3; a++)
        MV__CU_CHECK(mv__cu_dim(&kspace->vol, a) == dims[a], MV_ERR_INVALID_ARG,
                     "%s: kspace dims[%d] = %lld, calibrated for %lld", fn, a, (long long)mv__cu_dim(&kspace->vol, a),
                     (long long)dims[a]);
    MV__CU_CHECK(mv__cu_dim(&kspace->vol, 3) == nc, MV_ERR_INVALID_ARG, "%s: %lld coils, calibrated for %d", fn,
                 (long long)mv__cu_dim(&kspace->vol, 3), nc);
    memset(g, 0, sizeof(*g));
    g->nx = dims[0], g->ny = dims[1], g->nzl = *three_d ? dims[2] : 1, g->nc = nc;
    g->lines = g->ny * g->nzl;
    g->nxp = nxp, g->pad = nxp / 2 - dims[0] / 2;
    g->cstride = dims[0] * dims[1] * dims[2];
    g->kx = kernel[0], g->ky = kernel[1], g->kz = *three_d ? kernel[2] : 1;
    g->Ry = accel[1], g->Rz = *three_d ? accel[2] : 1;
    g->nt = nt, g->nsy = ns / kernel[0];
    MV__CU_CHECK(g->Ry >= 1 && g->Rz >= 1 && g->Ry * g->Rz <= MV__CU_GR_MAXR && g->kx >= 1 && g->kx <= 64,
                 MV_ERR_INVALID_ARG, "%s: accel %d x %d, kernel[0] %d", fn, g->Ry, g->Rz, g->kx);
    MV__CU_CHECK(ns == (int64_t)g->kx * g->nsy && nt == (int64_t)(g->Ry * g->Rz - 1) * nc, MV_ERR_INVALID_ARG,
                 "%s: the calibration's %lld x %lld weights do not match its kernel and accel", fn, (long long)ns,
                 (long long)nt);
    /* cuFFT's batch and distance are int */
    MV__CU_CHECK(nxp <= INT32_MAX && g->lines * nc <= INT32_MAX, MV_ERR_UNSUPPORTED, "%s: %lld readouts of %lld: too many for one cuFFT plan",
                 fn, (long long)(g->lines * nc), (long long)nxp);
    {
        const size_t wbytes = (size_t)(*nsets * ns * nt) * sizeof(float2), tbytes = (size_t)(nxp * g->kx) * sizeof(float2);
        float2 *taps = (float2 *)malloc(tbytes);
        cudaError_t e;
        MV__CU_CHECK(taps != NULL, MV_ERR_OUT_OF_MEMORY, "%s: %zu bytes of readout taps", fn, tbytes);
        mv__cu_gr_taps(nxp, g->kx, taps);
        e = cudaMallocAsync((void **)&b->taps, tbytes, s);
        /* pageable host memory: the copy returns once the source is staged,
           so the table may be freed at once */
        if (e == cudaSuccess) e = cudaMemcpyAsync(b->taps, taps, tbytes, cudaMemcpyHostToDevice, s);
        free(taps);
        if (e != cudaSuccess) return mv__cu_fail(e, "mv_cuda_grappa_apply_into: readout taps");
        /* the sets lie one after another in the calibration (mv_grappa_weights) */
        MV__CU_TRY(cudaMallocAsync((void **)&b->w, wbytes, s));
        MV__CU_TRY(cudaMemcpyAsync(b->w, w0, wbytes, cudaMemcpyHostToDevice, s));
    }
    MV__CU_TRY(cudaMallocAsync((void **)&b->wx, (size_t)(g->nsy * nt * nxp) * sizeof(float2), s));
    MV__CU_TRY(cudaMallocAsync((void **)&b->h, (size_t)(g->lines * nc * nxp) * sizeof(float2), s));
    MV__CU_TRY(cudaMallocAsync((void **)&b->cls, (size_t)g->lines, s));
    MV__CU_TRY(cudaMallocAsync((void **)&b->off, 2 * sizeof(int64_t), s));
    return MV_OK;
}

/* the readouts of one item, every row of h, in place (unnormalised) */
static mv_status mv__cu_gr_fft(const mv__cu_gr &g, float2 *h, int dir, cudaStream_t s)
{
    int slot = -1, n[3] = {(int)g.nxp, 0, 0};
    cufftResult r;
    MV__CU_STRY(mv__cu_plan_get(1, n, 1, g.nxp, g.lines * g.nc, s, &slot));
    r = cufftSetStream(mv__cu_plans[slot].plan, s);
    if (r == CUFFT_SUCCESS) r = cufftExecC2C(mv__cu_plans[slot].plan, (cufftComplex *)h, (cufftComplex *)h, dir);
    mv__cu_plan_release(slot);
    if (r != CUFFT_SUCCESS)
        return mv_set_error(MV_ERR_CUDA, "mv_cuda_grappa_apply_into: cufftExecC2C: %s (%d)", mv__cufft_str(r), (int)r);
    return MV_OK;
}

/* one item: classes and offset, w(x) when the set changes, the three passes */
static mv_status mv__cu_gr_item(const mv__cu_gr &g, const mv__cu_gr_bufs &b, const float2 *kin, float2 *kout,
                                const float2 *wset, int new_set, cudaStream_t s)
{
    const int threads = 256;
    const int64_t samples = g.nc * g.lines * g.nx, rows = g.lines * g.nc * g.nxp;
    MV__CU_TRY(cudaMemsetAsync(b.cls, 0, (size_t)g.lines, s));
    mv__cu_gr_scan_kernel<<<mv__cu_blocks(samples, threads), threads, 0, s>>>(kin, b.cls, g);
    MV__CU_TRY(cudaGetLastError());
    mv__cu_gr_classify_kernel<<<1, threads, 0, s>>>(b.cls, b.off, g);
    MV__CU_TRY(cudaGetLastError());
    if (new_set) {
        mv__cu_gr_wx_kernel<<<mv__cu_blocks(g.nsy * g.nt * g.nxp, threads), threads, 0, s>>>(wset, b.taps, b.wx, g);
        MV__CU_TRY(cudaGetLastError());
    }
    mv__cu_gr_pack_kernel<<<mv__cu_blocks(rows, threads), threads, 0, s>>>(kin, b.cls, b.h, g);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_gr_fft(g, b.h, CUFFT_INVERSE, s));
    mv__cu_gr_fill_kernel<<<mv__cu_blocks(rows, threads), threads, 0, s>>>(b.h, b.wx, b.cls, b.off, g);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_gr_fft(g, b.h, CUFFT_FORWARD, s));
    mv__cu_gr_extract_kernel<<<mv__cu_blocks(samples, threads), threads, 0, s>>>(kin, kout, b.h, b.cls, g,
                                                                                 (float)(1.0 / (double)g.nxp));
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

MVCDEF mv_status mv_cuda_grappa_apply_into(const mv_grappa_calib *cal, const mv_cuda_vol *kspace, mv_cuda_vol *out,
                                           const mv_grappa_opts *opts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_grappa_apply_into";
    cudaStream_t s = (cudaStream_t)stream;
    mv__cu_gr g;
    mv__cu_gr_bufs b;
    int64_t nsets = 0, nz, nitems, item, prev_set = -1;
    int three_d = 0;
    mv_status st;
    (void)opts; /* the CPU reads only alloc_ctx and threads from it when applying */
    MV__CU_CHECK(cal != NULL, MV_ERR_INVALID_ARG, "%s: cal is NULL", fn);
    MV__CU_STRY(mv__cu_check_vol(kspace, fn, "kspace"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "out"));
    MV__CU_CHECK(kspace->vol.dtype == MV_DT_C64 && out->vol.dtype == MV_DT_C64, MV_ERR_UNSUPPORTED,
                 "%s: complex64 kspace and out", fn);
    MV__CU_CHECK(mv__cu_same_dims(&kspace->vol, &out->vol), MV_ERR_INVALID_ARG, "%s: out's dims differ from kspace's", fn);
    memset(&b, 0, sizeof(b));
    st = mv__cu_gr_setup(cal, kspace, &g, &nsets, &three_d, &b, s);
    nz = mv__cu_dim(&kspace->vol, 2);
    nitems = st != MV_OK ? 0 : (three_d ? 1 : nz) * (mv_vol_count(&kspace->vol) / (g.cstride * g.nc));
    for (item = 0; st == MV_OK && item < nitems; item++) {
        const int64_t bvol = item / (three_d ? 1 : nz), set = three_d ? 0 : item % nz;
        const int64_t base = bvol * g.cstride * g.nc + set * g.nx * g.ny;
        st = mv__cu_gr_item(g, b, (const float2 *)kspace->vol.data + base, (float2 *)out->vol.data + base,
                            b.w + set * g.nsy * g.kx * g.nt, set != prev_set, s);
        prev_set = set;
    }
    mv__cu_gr_bufs_free(&b, s);
    return st;
}

/* ---- MRI reconstruction: Cartesian CG-SENSE ---------------------------------
   mv_cgsense_into's solve on the device, item by item (one 2D slice of one
   batch volume under opts.slices, else one 3D volume), the CPU's steps in
   its order (medvol.h: mv__cgs_adjoint, mv__cgs_normal, mv__cg_run):
   - the mask: a k-space position is sampled where some coil's sample is
     nonzero (the CPU's rule, mv__cgs_adjoint); when the mask is constant
     along x and y or z has more than one sample, the normal operator
     transforms along y (and z) only, as the CPU's (its x transforms cancel);
   - b = A^H y = sum_c conj(S_c) ifftc(mask y_c), the coil images summed in
     coil order in float32;
   - A^H A p + lambda p = sum_c conj(S_c) ifftc(mask fftc(S_c p)) +
     (float)lambda p: the CPU's products (mv__cmul_c64_ref) and float32
     sums in its order, no FMA; only the FFTs differ (cuFFT);
   - CG (mv__cg_run): float32 vectors, float64 dot products, alpha and beta
     in float64 rounded to float32, the same stopping rules.
   The coil images live in one buffer in the FFT's own (uncentred) order:
   the shifts of the centred transform are folded into the index map of the
   kernels around cuFFT (mv__cu_cg_index). Both shifts map the image index,
   and the centred k-space index, i to (i + ceil(n/2)) mod n per transformed
   axis, so cuFFT runs unnormalised on the buffer and the ortho scales are
   applied once: 1/sqrt(N) in the adjoint's sum, 1/N in the normal
   operator's mask pass. Two layouts: full transforms, coil blocks (c nvox
   + shifted i; cuFFT batch C, dist nvox); y/z transforms, x fastest, then
   the coil, then the shifted (y, z) (cuFFT stride nx C, dist 1, batch nx C:
   one plan and one call for every coil).
   Dot products, the only sums across threads: chunks of MV__CU_CG_CHUNK
   complex values, one block each; lane t sums elements t, t + 256, ... of
   its chunk in float64 (real and imaginary products apart, as the CPU's
   two sums); the lanes are tree-merged in a fixed order, then one block
   merges the chunks' partials the same way and writes s_re + s_im. The
   order depends on n only (not on the GPU), so repeated runs give the same
   bytes. The host reads p.Ap and r.r once per iteration (one stream
   synchronisation) for the stopping test and the progress callback; alpha
   = rsold / p.Ap is formed on the device (float64, rounded to float32),
   beta on the host. The element functions (MV__CU_HD) are what
   tests/test_cuda_host.cu runs on the host against medvol.h. */

#define MV__CU_CG_LANES 256  /* threads of a dot-product block: a power of two */
#define MV__CU_CG_CHUNK 4096 /* complex values per dot-product block */

/* one item's geometry and the current buffer layout, passed by value */
struct mv__cu_cg {
    int64_t n[3];    /* the item's image (x, y, z); z = 1 for 2D slices */
    int64_t nvox, nc;
    int64_t kstride; /* coil stride of the k-space: x y z of the whole volume */
    int64_t sstride; /* coil stride of sens */
    int64_t nmaps;   /* ESPIRiT maps: the image holds nmaps volumes of nvox */
    int64_t mstride; /* map stride of sens (x y z C of the whole volume) */
    int64_t h[3];    /* per axis: ceil(n/2) where the layout transforms it, else 0 */
    int yz;          /* 1: the y/z layout */
};

/* the layout: yz 0 transforms every axis, 1 only y and z */
static void mv__cu_cg_layout(mv__cu_cg *g, int yz)
{
    g->yz = yz;
    for (int a = 0; a < 3; a++) g->h[a] = (a > 0 || !yz) ? (g->n[a] + 1) / 2 : 0;
}

/* buffer position of coil c at image (or centred k-space) index i */
static MV__CU_HD int64_t mv__cu_cg_index(const mv__cu_cg &g, int64_t c, int64_t i)
{
    const int64_t x = i % g.n[0], y = i / g.n[0] % g.n[1], z = i / (g.n[0] * g.n[1]);
    const int64_t bx = (x + g.h[0]) % g.n[0], by = (y + g.h[1]) % g.n[1], bz = (z + g.h[2]) % g.n[2];
    if (g.yz) return ((bz * g.n[1] + by) * g.nc + c) * g.n[0] + bx;
    return c * g.nvox + (bz * g.n[1] + by) * g.n[0] + bx;
}

/* sampled: some coil's sample at position i is nonzero (the CPU's mask) */
static MV__CU_HD unsigned char mv__cu_cg_sampled(const float2 *k, int64_t kstride, int64_t nc, int64_t i)
{
    for (int64_t c = 0; c < nc; c++) {
        const float2 v = k[c * kstride + i];
        if (v.x != 0 || v.y != 0) return 1;
    }
    return 0;
}

/* s x (conj 0) or conj(s) x (conj 1): mv__cmul_c64_ref's expressions */
static MV__CU_HD float2 mv__cu_cg_cmul(float2 x, float2 s, int conj)
{
    if (conj)
        return make_float2(MV__CU_FADD(MV__CU_FMUL(s.x, x.x), MV__CU_FMUL(s.y, x.y)),
                           MV__CU_FSUB(MV__CU_FMUL(s.x, x.y), MV__CU_FMUL(s.y, x.x)));
    return make_float2(MV__CU_FSUB(MV__CU_FMUL(s.x, x.x), MV__CU_FMUL(s.y, x.y)),
                       MV__CU_FADD(MV__CU_FMUL(s.x, x.y), MV__CU_FMUL(s.y, x.x)));
}

/* coil c's image at voxel i, s = coil c's maps: sum_m S_cm p_m, map 0's
   product then each further map's added in map order (medvol.h's
   mv__cgs_mix; one map: S_c p) */
static MV__CU_HD float2 mv__cu_cg_mix(const float2 *p, const float2 *s, int64_t nvox, int64_t nmaps, int64_t mstride,
                                      int64_t i)
{
    float2 t = mv__cu_cg_cmul(p[i], s[i], 0);
    for (int64_t m = 1; m < nmaps; m++) {
        const float2 v = mv__cu_cg_cmul(p[m * nvox + i], s[m * mstride + i], 0);
        t = make_float2(MV__CU_FADD(t.x, v.x), MV__CU_FADD(t.y, v.y));
    }
    return t;
}

/* the adjoint's input sample: the k-space sample where sampled, else 0 */
static MV__CU_HD float2 mv__cu_cg_pack(float2 k, unsigned char m) { return m ? k : make_float2(0.0f, 0.0f); }

/* the normal operator's mask pass, with the two transforms' scale 1/N */
static MV__CU_HD float2 mv__cu_cg_masked(float2 v, unsigned char m, float scale)
{
    return m ? make_float2(MV__CU_FMUL(v.x, scale), MV__CU_FMUL(v.y, scale)) : make_float2(0.0f, 0.0f);
}

/* voxel i of sum_c conj(S_c) (scale t_c), in coil order (the CPU's float32
   sum of the coil images), then + lam p where lam_on (the CPU adds lambda
   p only when lambda != 0); several maps: sens is map m's (sens + m
   mstride) and p its value, for each map's volume (mv__cgs_maps_range) */
static MV__CU_HD float2 mv__cu_cg_reduce(const mv__cu_cg &g, const float2 *buf, const float2 *sens, int64_t i, float scale,
                                         int lam_on, float lam, float2 p)
{
    float2 acc = make_float2(0.0f, 0.0f);
    for (int64_t c = 0; c < g.nc; c++) {
        const float2 t = buf[mv__cu_cg_index(g, c, i)];
        const float2 v = mv__cu_cg_cmul(make_float2(MV__CU_FMUL(t.x, scale), MV__CU_FMUL(t.y, scale)), sens[c * g.sstride + i], 1);
        acc = c == 0 ? v : make_float2(MV__CU_FADD(acc.x, v.x), MV__CU_FADD(acc.y, v.y));
    }
    if (lam_on) acc = make_float2(MV__CU_FADD(acc.x, MV__CU_FMUL(lam, p.x)), MV__CU_FADD(acc.y, MV__CU_FMUL(lam, p.y)));
    return acc;
}

/* alpha of mv__cg_run: rsold / pAp in float64, rounded to float32 */
static MV__CU_HD float mv__cu_cg_alpha(double rsold, double pap) { return (float)(rsold / pap); }

/* x += a p, r -= a ap (mv__cg_run's update) */
static MV__CU_HD void mv__cu_cg_step(float2 &x, float2 &r, float2 p, float2 ap, float a)
{
    x = make_float2(MV__CU_FADD(x.x, MV__CU_FMUL(a, p.x)), MV__CU_FADD(x.y, MV__CU_FMUL(a, p.y)));
    r = make_float2(MV__CU_FSUB(r.x, MV__CU_FMUL(a, ap.x)), MV__CU_FSUB(r.y, MV__CU_FMUL(a, ap.y)));
}

/* p = b p + r (mv__cg_run's new direction) */
static MV__CU_HD float2 mv__cu_cg_dir(float2 p, float2 r, float b)
{
    return make_float2(MV__CU_FADD(MV__CU_FMUL(b, p.x), r.x), MV__CU_FADD(MV__CU_FMUL(b, p.y), r.y));
}

/* lane `lane` of dot-product chunk `chunk`: (sum Re a Re b, sum Im a Im b)
   over elements chunk CHUNK + lane, + LANES, ... in float64 (the products
   of two floats are exact in float64) */
static MV__CU_HD double2 mv__cu_cg_dot_lane(const float2 *a, const float2 *b, int64_t n, int64_t chunk, int lane)
{
    const int64_t end = (chunk + 1) * MV__CU_CG_CHUNK < n ? (chunk + 1) * MV__CU_CG_CHUNK : n;
    double s0 = 0, s1 = 0;
    for (int64_t i = chunk * MV__CU_CG_CHUNK + lane; i < end; i += MV__CU_CG_LANES) {
        s0 = MV__CU_DADD(s0, MV__CU_DMUL((double)a[i].x, (double)b[i].x));
        s1 = MV__CU_DADD(s1, MV__CU_DMUL((double)a[i].y, (double)b[i].y));
    }
    return make_double2(s0, s1);
}

/* lane `lane` of the merge: the chunks' partials lane, lane + LANES, ... in order */
static MV__CU_HD double2 mv__cu_cg_merge_lane(const double2 *part, int64_t nparts, int lane)
{
    double s0 = 0, s1 = 0;
    for (int64_t j = lane; j < nparts; j += MV__CU_CG_LANES) {
        s0 = MV__CU_DADD(s0, part[j].x);
        s1 = MV__CU_DADD(s1, part[j].y);
    }
    return make_double2(s0, s1);
}

/* one step of the fixed tree over the lanes: v[t] += v[t + w] for t < w,
   w = LANES/2, LANES/4, ..., 1; the result in v[0] */
static MV__CU_HD void mv__cu_cg_tree_add(double2 *v, int t, int w)
{
    v[t] = make_double2(MV__CU_DADD(v[t].x, v[t + w].x), MV__CU_DADD(v[t].y, v[t + w].y));
}

/* the dot product from the merged pair: s_re + s_im (the CPU's s0 + s1) */
static MV__CU_HD double mv__cu_cg_dot_value(double2 s) { return MV__CU_DADD(s.x, s.y); }

/* what the host reads back: p.Ap, r.r, and whether the mask varies along x */
struct mv__cu_cg_scalars {
    double pap, rs;
    int notsep, pad;
};

static __global__ void mv__cu_cg_mask_kernel(const float2 *__restrict__ k, unsigned char *__restrict__ mask, mv__cu_cg g)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < g.nvox; i += (int64_t)gridDim.x * blockDim.x)
        mask[i] = mv__cu_cg_sampled(k, g.kstride, g.nc, i);
}

/* the CPU's test mask[i] == mask[row start]; every writer writes 1 */
static __global__ void mv__cu_cg_sep_kernel(const unsigned char *__restrict__ mask, mv__cu_cg_scalars *sc, mv__cu_cg g)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < g.nvox; i += (int64_t)gridDim.x * blockDim.x)
        if (mask[i] != mask[i - i % g.n[0]]) sc->notsep = 1;
}

/* threads over (coil, voxel): the adjoint's masked k-space into the buffer */
static __global__ void mv__cu_cg_pack_kernel(const float2 *__restrict__ k, const unsigned char *__restrict__ mask,
                                             float2 *__restrict__ buf, mv__cu_cg g)
{
    const int64_t n = g.nc * g.nvox;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = j / g.nvox, i = j % g.nvox;
        buf[mv__cu_cg_index(g, c, i)] = mv__cu_cg_pack(k[c * g.kstride + i], mask[i]);
    }
}

/* threads over (coil, voxel): sum_m S_cm p_m into the buffer */
static __global__ void mv__cu_cg_expand_kernel(const float2 *__restrict__ p, const float2 *__restrict__ sens,
                                               float2 *__restrict__ buf, mv__cu_cg g)
{
    const int64_t n = g.nc * g.nvox;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = j / g.nvox, i = j % g.nvox;
        buf[mv__cu_cg_index(g, c, i)] = mv__cu_cg_mix(p, sens + c * g.sstride, g.nvox, g.nmaps, g.mstride, i);
    }
}

/* threads over (coil, k-space position), in place */
static __global__ void mv__cu_cg_maskpass_kernel(const unsigned char *__restrict__ mask, float2 *__restrict__ buf,
                                                 mv__cu_cg g, float scale)
{
    const int64_t n = g.nc * g.nvox;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = j / g.nvox, i = j % g.nvox, b = mv__cu_cg_index(g, c, i);
        buf[b] = mv__cu_cg_masked(buf[b], mask[i], scale);
    }
}

/* threads over (map, voxel): y_m = sum_c conj(S_cm) scale buf_c (+ lam p_m) */
static __global__ void mv__cu_cg_reduce_kernel(const float2 *__restrict__ buf, const float2 *__restrict__ sens,
                                               const float2 *__restrict__ p, float2 *__restrict__ y, mv__cu_cg g,
                                               float scale, int lam_on, float lam)
{
    const int64_t n = g.nmaps * g.nvox;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = j / g.nvox, i = j % g.nvox;
        y[j] = mv__cu_cg_reduce(g, buf, sens + m * g.mstride, i, scale, lam_on, lam, lam_on ? p[j] : make_float2(0.0f, 0.0f));
    }
}

/* one block per chunk (the grid is the chunk count), MV__CU_CG_LANES threads */
static __global__ void mv__cu_cg_dot_kernel(const float2 *__restrict__ a, const float2 *__restrict__ b, int64_t n,
                                            double2 *__restrict__ part)
{
    __shared__ double2 sh[MV__CU_CG_LANES];
    const int t = threadIdx.x;
    sh[t] = mv__cu_cg_dot_lane(a, b, n, blockIdx.x, t);
    __syncthreads();
    for (int w = MV__CU_CG_LANES / 2; w > 0; w >>= 1) {
        if (t < w) mv__cu_cg_tree_add(sh, t, w);
        __syncthreads();
    }
    if (t == 0) part[blockIdx.x] = sh[0];
}

/* one block of MV__CU_CG_LANES threads: the chunks' partials in the same order */
static __global__ void mv__cu_cg_merge_kernel(const double2 *__restrict__ part, int64_t nparts, double *__restrict__ out)
{
    __shared__ double2 sh[MV__CU_CG_LANES];
    const int t = threadIdx.x;
    sh[t] = mv__cu_cg_merge_lane(part, nparts, t);
    __syncthreads();
    for (int w = MV__CU_CG_LANES / 2; w > 0; w >>= 1) {
        if (t < w) mv__cu_cg_tree_add(sh, t, w);
        __syncthreads();
    }
    if (t == 0) *out = mv__cu_cg_dot_value(sh[0]);
}

/* x += alpha p, r -= alpha ap; nothing when p.Ap = 0 (the CPU stops first) */
static __global__ void mv__cu_cg_step_kernel(float2 *__restrict__ x, float2 *__restrict__ r, const float2 *__restrict__ p,
                                             const float2 *__restrict__ ap, int64_t n, const mv__cu_cg_scalars *__restrict__ sc,
                                             double rsold)
{
    const double pap = sc->pap;
    if (pap == 0) return;
    const float a = mv__cu_cg_alpha(rsold, pap);
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float2 xi = x[i], ri = r[i];
        mv__cu_cg_step(xi, ri, p[i], ap[i], a);
        x[i] = xi;
        r[i] = ri;
    }
}

static __global__ void mv__cu_cg_dir_kernel(float2 *__restrict__ p, const float2 *__restrict__ r, int64_t n, float b)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        p[i] = mv__cu_cg_dir(p[i], r[i], b);
}

/* a dot product into *out (device), in the fixed order above */
static mv_status mv__cu_cg_dot(const float2 *a, const float2 *b, int64_t n, double2 *part, double *out, cudaStream_t s)
{
    const int64_t chunks = (n + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK;
    mv__cu_cg_dot_kernel<<<(unsigned)chunks, MV__CU_CG_LANES, 0, s>>>(a, b, n, part);
    MV__CU_TRY(cudaGetLastError());
    mv__cu_cg_merge_kernel<<<1, MV__CU_CG_LANES, 0, s>>>(part, chunks, out);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* the cuFFT layout of a buffer layout: rank 0 = nothing to transform */
struct mv__cu_cg_fftd {
    int rank, n[3];
    long long stride, dist, batch;
    int64_t N; /* product of the transformed lengths */
};

static void mv__cu_cg_fft_desc(const mv__cu_cg &g, int yz, mv__cu_cg_fftd *d)
{
    memset(d, 0, sizeof(*d));
    d->N = 1;
    for (int a = yz ? 1 : 0; a < 3; a++) /* axes of length 1 drop out: the rest stay dense */
        if (g.n[a] > 1) {
            d->n[d->rank++] = (int)g.n[a];
            d->N *= g.n[a];
        }
    d->stride = yz ? g.n[0] * g.nc : 1;
    d->dist = yz ? 1 : g.nvox;
    d->batch = yz ? g.n[0] * g.nc : g.nc;
}

/* device scratch and the plans of one call, released stream-ordered in any case */
struct mv__cu_cg_bufs {
    float2 *buf, *r, *p, *ap;
    float2 *x; /* the solve's image where out does not hold it in one piece (slices with maps), else NULL */
    unsigned char *mask;
    double2 *part;
    mv__cu_cg_scalars *sc;
    int slot[2]; /* plan cache slots of the full and the y/z layout, -1 = none */
    mv__cu_cg_fftd fd[2];
};

static void mv__cu_cg_bufs_free(mv__cu_cg_bufs *b, cudaStream_t s)
{
    void *p[8] = {b->buf, b->r, b->p, b->ap, b->x, b->mask, b->part, b->sc};
    for (int i = 0; i < 8; i++)
        if (p[i]) cudaFreeAsync(p[i], s);
    for (int i = 0; i < 2; i++)
        if (b->slot[i] >= 0) mv__cu_plan_release(b->slot[i]);
    b->slot[0] = b->slot[1] = -1;
}

/* the unnormalised transform of the buffer in layout yz, in place */
static mv_status mv__cu_cg_fft(const mv__cu_cg_bufs &b, int yz, int dir, cudaStream_t s)
{
    cufftResult r;
    if (b.fd[yz].rank == 0) return MV_OK; /* one sample: the transform is the identity */
    r = cufftSetStream(mv__cu_plans[b.slot[yz]].plan, s);
    if (r == CUFFT_SUCCESS)
        r = cufftExecC2C(mv__cu_plans[b.slot[yz]].plan, (cufftComplex *)b.buf, (cufftComplex *)b.buf, dir);
    if (r != CUFFT_SUCCESS)
        return mv_set_error(MV_ERR_CUDA, "mv_cuda_cgsense_into: cufftExecC2C: %s (%d)", mv__cufft_str(r), (int)r);
    return MV_OK;
}

/* the host's copy of the scalars, after the stream has done its work */
static mv_status mv__cu_cg_read(const mv__cu_cg_bufs &b, mv__cu_cg_scalars *h, cudaStream_t s)
{
    MV__CU_TRY(cudaMemcpyAsync(h, b.sc, sizeof(*h), cudaMemcpyDeviceToHost, s));
    MV__CU_TRY(cudaStreamSynchronize(s));
    return MV_OK;
}

/* y = A^H A p + lambda p in layout g */
static mv_status mv__cu_cg_normal(const mv__cu_cg &g, const mv__cu_cg_bufs &b, const float2 *sens, const float2 *p,
                                  float2 *y, float scale, int lam_on, float lam, cudaStream_t s)
{
    const int threads = 256;
    const int64_t all = g.nc * g.nvox;
    mv__cu_cg_expand_kernel<<<mv__cu_blocks(all, threads), threads, 0, s>>>(p, sens, b.buf, g);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_cg_fft(b, g.yz, CUFFT_FORWARD, s));
    mv__cu_cg_maskpass_kernel<<<mv__cu_blocks(all, threads), threads, 0, s>>>(b.mask, b.buf, g, scale);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_cg_fft(b, g.yz, CUFFT_INVERSE, s));
    mv__cu_cg_reduce_kernel<<<mv__cu_blocks(g.nmaps * g.nvox, threads), threads, 0, s>>>(b.buf, sens, p, y, g, 1.0f, lam_on,
                                                                                         lam);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* The CG driver both device CG-SENSE solves share (mv__cg_run's steps).
   The normal operator is a callback that enqueues y = (A^H A + lambda) p
   on the stream; b is in b.r when mv__cu_cg_start runs. */
typedef mv_status (*mv__cu_cg_normal_fn)(void *user, const float2 *p, float2 *y, cudaStream_t s);

/* x = 0, p = r (= b), r.r; waits and returns the scalars (h->rs = b.b) */
static mv_status mv__cu_cg_start(const mv__cu_cg_bufs &b, float2 *x, int64_t n, mv__cu_cg_scalars *h, cudaStream_t s)
{
    MV__CU_TRY(cudaMemsetAsync(x, 0, (size_t)n * sizeof(float2), s));
    MV__CU_TRY(cudaMemcpyAsync(b.p, b.r, (size_t)n * sizeof(float2), cudaMemcpyDeviceToDevice, s));
    MV__CU_STRY(mv__cu_cg_dot(b.r, b.r, n, b.part, &b.sc->rs, s));
    return mv__cu_cg_read(b, h, s);
}

/* mv__cg_run's loop from rsold = b.b: at most opts.iterations (0 = 30),
   stopping when ||r||^2 <= tolerance^2 b.b, progress after each iteration;
   *iters as the CPU counts them. fn names the caller in the cancel message. */
static mv_status mv__cu_cg_iterate(mv__cu_cg_normal_fn normal, void *user, const mv__cu_cg_bufs &b, float2 *x, int64_t n,
                                   double bb, const mv_cg_opts *o, int *iters, const char *fn, cudaStream_t s)
{
    const int threads = 256;
    const int maxit = o->iterations ? o->iterations : 30;
    const double eps2 = o->tolerance * o->tolerance * bb;
    double rsold = bb, rsnew;
    mv__cu_cg_scalars h;
    int it;
    *iters = 0;
    for (it = 0; it < maxit && rsold > 0; it++) {
        double beta;
        MV__CU_STRY(normal(user, b.p, b.ap, s));
        MV__CU_STRY(mv__cu_cg_dot(b.p, b.ap, n, b.part, &b.sc->pap, s));
        mv__cu_cg_step_kernel<<<mv__cu_blocks(n, threads), threads, 0, s>>>(x, b.r, b.p, b.ap, n, b.sc, rsold);
        MV__CU_TRY(cudaGetLastError());
        MV__CU_STRY(mv__cu_cg_dot(b.r, b.r, n, b.part, &b.sc->rs, s));
        MV__CU_STRY(mv__cu_cg_read(b, &h, s));
        if (h.pap == 0) break; /* x and r untouched, as the CPU */
        rsnew = h.rs;
        beta = rsnew / rsold;
        rsold = rsnew;
        *iters = it + 1;
        if (o->progress && o->progress(o->progress_user, it + 1, sqrt(rsnew)))
            return mv_set_error(MV_ERR_CANCELLED, "%s: cancelled by the progress callback after %d iterations", fn, it + 1);
        if (rsnew <= eps2) break;
        mv__cu_cg_dir_kernel<<<mv__cu_blocks(n, threads), threads, 0, s>>>(b.p, b.r, n, (float)beta);
        MV__CU_TRY(cudaGetLastError());
    }
    return MV_OK;
}

/* the Cartesian normal operator as a mv__cu_cg_normal_fn */
struct mv__cu_cg_cart {
    mv__cu_cg g; /* the normal operator's layout */
    const mv__cu_cg_bufs *b;
    const float2 *sens;
    float scale, lam;
    int lam_on;
};

static mv_status mv__cu_cg_cart_normal(void *user, const float2 *p, float2 *y, cudaStream_t s)
{
    const mv__cu_cg_cart *c = (const mv__cu_cg_cart *)user;
    return mv__cu_cg_normal(c->g, *c->b, c->sens, p, y, c->scale, c->lam_on, c->lam, s);
}

/* one item: mask, b = A^H y (into r), then mv__cg_run's loop with x (the
   item's nmaps volumes) in place; *iters as the CPU counts them */
static mv_status mv__cu_cg_item(const mv__cu_cg &g0, const mv__cu_cg_bufs &b, const float2 *k, const float2 *sens,
                                float2 *x, const mv_cg_opts *o, int *iters, cudaStream_t s)
{
    const int threads = 256;
    const int64_t n = g0.nvox, nimg = g0.nmaps * g0.nvox;
    mv__cu_cg g = g0;
    mv__cu_cg_scalars h;
    mv__cu_cg_cart op;
    *iters = 0;
    mv__cu_cg_layout(&g, 0);
    mv__cu_cg_mask_kernel<<<mv__cu_blocks(n, threads), threads, 0, s>>>(k, b.mask, g);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_TRY(cudaMemsetAsync(b.sc, 0, sizeof(*b.sc), s));
    mv__cu_cg_sep_kernel<<<mv__cu_blocks(n, threads), threads, 0, s>>>(b.mask, b.sc, g);
    MV__CU_TRY(cudaGetLastError());
    /* b = A^H y, straight into r (the CPU copies b into r) */
    mv__cu_cg_pack_kernel<<<mv__cu_blocks(g.nc * n, threads), threads, 0, s>>>(k, b.mask, b.buf, g);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_cg_fft(b, 0, CUFFT_INVERSE, s));
    mv__cu_cg_reduce_kernel<<<mv__cu_blocks(nimg, threads), threads, 0, s>>>(b.buf, sens, NULL, b.r, g,
                                                                              (float)(1.0 / sqrt((double)b.fd[0].N)), 0, 0.0f);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_cg_start(b, x, nimg, &h, s));
    /* the normal operator's layout: y/z transforms where the mask allows */
    op.g = g;
    mv__cu_cg_layout(&op.g, !h.notsep && b.slot[1] >= 0);
    op.b = &b;
    op.sens = sens;
    op.scale = (float)(1.0 / (double)b.fd[op.g.yz].N);
    op.lam_on = o->lambda != 0;
    op.lam = (float)o->lambda;
    return mv__cu_cg_iterate(mv__cu_cg_cart_normal, &op, b, x, nimg, h.rs, o, iters, "mv_cuda_cgsense_into", s);
}

/* the CG vectors (n complex values: an item's image), where xbuf an image
   of the solve's own, the dot products' partials, the coil buffer (nbuf
   complex values) and, where nmask, the sampling mask (nmask voxels) */
static mv_status mv__cu_cg_bufs_alloc(mv__cu_cg_bufs *b, int64_t n, int xbuf, int64_t nbuf, int64_t nmask, const char *fn,
                                      cudaStream_t s)
{
    const size_t vb = (size_t)n * sizeof(float2);
    cudaError_t e = cudaMallocAsync((void **)&b->buf, (size_t)nbuf * sizeof(float2), s);
    if (e == cudaSuccess) e = cudaMallocAsync((void **)&b->r, vb, s);
    if (e == cudaSuccess) e = cudaMallocAsync((void **)&b->p, vb, s);
    if (e == cudaSuccess) e = cudaMallocAsync((void **)&b->ap, vb, s);
    if (e == cudaSuccess && xbuf) e = cudaMallocAsync((void **)&b->x, vb, s);
    if (e == cudaSuccess && nmask) e = cudaMallocAsync((void **)&b->mask, (size_t)nmask, s);
    if (e == cudaSuccess)
        e = cudaMallocAsync((void **)&b->part, (size_t)((n + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK) * sizeof(double2), s);
    if (e == cudaSuccess) e = cudaMallocAsync((void **)&b->sc, sizeof(mv__cu_cg_scalars), s);
    if (e != cudaSuccess) return mv__cu_fail(e, fn);
    return MV_OK;
}

/* Where an item's image goes in out: map p of item i (slice z = i mod nzw
   of volume b = i / nzw) at ((b M + p) nzw + z) nvox, an image (x, y, z,
   M, batch...) (medvol.h's mv__cgs_mem_write). The maps of one item lie in
   one piece for one map or volume items; slices with several maps are
   solved in b.x and copied out map by map. */
static float2 *mv__cu_cg_place(float2 *out, int64_t item, int64_t nzw, int64_t nmaps, int64_t nvox, int64_t p)
{
    return out + ((item / nzw * nmaps + p) * nzw + item % nzw) * nvox;
}

static mv_status mv__cu_cg_scatter(const float2 *x, float2 *out, int64_t item, int64_t nzw, int64_t nmaps, int64_t nvox,
                                   cudaStream_t s)
{
    for (int64_t p = 0; p < nmaps; p++)
        MV__CU_TRY(cudaMemcpyAsync(mv__cu_cg_place(out, item, nzw, nmaps, nvox, p), x + p * nvox,
                                   (size_t)nvox * sizeof(float2), cudaMemcpyDeviceToDevice, s));
    return MV_OK;
}

/* The maps of sens (medvol.h's mv__cgs_maps_of): c64 (x, y, z, C, M), M in
   dims[4], nothing beyond */
static mv_status mv__cu_cg_maps_of(const mv_vol *sens, const char *fn, int64_t *nmaps)
{
    *nmaps = 1;
    for (int a = 5; a < MV_MAX_DIMS; a++)
        MV__CU_CHECK(mv__cu_dim(sens, a) == 1, MV_ERR_INVALID_ARG,
                     "%s: sens dims[%d] = %lld: maps are c64 (x, y, z, coils, maps), nothing beyond", fn, a,
                     (long long)mv__cu_dim(sens, a));
    *nmaps = mv__cu_dim(sens, 4);
    return MV_OK;
}

/* mv_cg_opts as the CPU checks it (mv__cg_check) */
static mv_status mv__cu_cg_check_opts(const mv_cg_opts *o, const char *fn)
{
    MV__CU_CHECK(o->lambda >= 0 && o->lambda <= 3.4e38, MV_ERR_INVALID_ARG, "%s: opts.lambda = %g (0 .. 3.4e38: a float)", fn,
                 o->lambda);
    MV__CU_CHECK(o->iterations >= 0, MV_ERR_INVALID_ARG, "%s: opts.iterations = %d", fn, o->iterations);
    MV__CU_CHECK(o->tolerance >= 0 && o->tolerance == o->tolerance, MV_ERR_INVALID_ARG, "%s: opts.tolerance = %g", fn,
                 o->tolerance);
    MV__CU_CHECK(o->nufft_tol == 0 || (o->nufft_tol >= 1e-6 * (1 - 1e-9) && o->nufft_tol <= 0.1), MV_ERR_INVALID_ARG,
                 "%s: opts.nufft_tol = %g (1e-6 .. 0.1, 0 = 1e-4)", fn, o->nufft_tol);
    MV__CU_CHECK(o->chunk >= 0, MV_ERR_INVALID_ARG, "%s: opts.chunk = %lld", fn, (long long)o->chunk);
    /* what the CPU solves besides CG-SENSE, not on the device yet */
    MV__CU_CHECK(o->l1_wavelet == 0 && o->tv == 0 && o->admm == 0 && o->l1_image == 0 && o->nonneg == 0 && o->llr == 0,
                 MV_ERR_UNSUPPORTED,
                 "%s: opts.l1_wavelet / tv / admm / l1_image / nonneg / llr (FISTA and ADMM run on the CPU only)", fn);
    MV__CU_CHECK(o->joint == 0, MV_ERR_UNSUPPORTED, "%s: opts.joint (the device solves item by item)", fn);
    MV__CU_CHECK(o->weights == NULL, MV_ERR_UNSUPPORTED, "%s: opts.weights (sample weights run on the CPU only)", fn);
    /* nor are BART's -c, -W and -B: refused rather than ignored */
    MV__CU_CHECK(!o->real_value && !o->ist, MV_ERR_UNSUPPORTED, "%s: opts.%s (runs on the CPU only)", fn,
                 o->real_value ? "real_value" : "ist");
    MV__CU_CHECK(o->start == NULL && o->start_read == NULL, MV_ERR_UNSUPPORTED,
                 "%s: opts.start / start_read (a start image: the CPU's solvers only)", fn);
    MV__CU_CHECK(o->basis == NULL, MV_ERR_UNSUPPORTED, "%s: opts.basis (the subspace solve runs on the CPU only)", fn);
    MV__CU_CHECK(o->scale == 0 && !o->bart_fftmod, MV_ERR_UNSUPPORTED,
                 "%s: opts.scale / opts.bart_fftmod (scale the data before the call)", fn);
    return MV_OK;
}

MVCDEF mv_status mv_cuda_cgsense_into(const mv_cuda_vol *kspace, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                      mv_cg_opts *opts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_cgsense_into";
    cudaStream_t s = (cudaStream_t)stream;
    mv_cg_opts to;
    mv_cg_opts *o = opts;
    mv__cu_cg g;
    mv__cu_cg_bufs b;
    int64_t nvol, nc, nbatch, nz, nitems, item, nmaps, nzw, total = 0;
    mv_status st = MV_OK;
    int a;
    if (!o) {
        memset(&to, 0, sizeof(to));
        o = &to;
    }
    MV__CU_STRY(mv__cu_check_vol(kspace, fn, "kspace"));
    MV__CU_STRY(mv__cu_check_vol(sens, fn, "sens"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "out"));
    MV__CU_CHECK(kspace->vol.dtype == MV_DT_C64 && sens->vol.dtype == MV_DT_C64, MV_ERR_UNSUPPORTED,
                 "%s: complex64 kspace and sens", fn);
    MV__CU_CHECK(out->vol.dtype == MV_DT_C64, MV_ERR_INVALID_ARG, "%s: out is %s, complex64 needed", fn,
                 mv_dtype_name(out->vol.dtype));
    MV__CU_STRY(mv__cu_cg_check_opts(o, fn));
    MV__CU_STRY(mv__cu_cg_maps_of(&sens->vol, fn, &nmaps));
    for (a = 0; a < 3; a++) {
        MV__CU_CHECK(mv__cu_dim(&sens->vol, a) == mv__cu_dim(&kspace->vol, a), MV_ERR_INVALID_ARG,
                     "%s: sens dims[%d] = %lld, kspace has %lld", fn, a, (long long)mv__cu_dim(&sens->vol, a),
                     (long long)mv__cu_dim(&kspace->vol, a));
        MV__CU_CHECK(mv__cu_dim(&out->vol, a) == mv__cu_dim(&kspace->vol, a), MV_ERR_INVALID_ARG,
                     "%s: out dims[%d] = %lld, kspace has %lld", fn, a, (long long)mv__cu_dim(&out->vol, a),
                     (long long)mv__cu_dim(&kspace->vol, a));
    }
    nvol = mv__cu_dim(&kspace->vol, 0) * mv__cu_dim(&kspace->vol, 1) * mv__cu_dim(&kspace->vol, 2);
    nc = mv__cu_dim(&kspace->vol, 3);
    nbatch = mv_vol_count(&kspace->vol) / (nvol * nc);
    nz = mv__cu_dim(&kspace->vol, 2);
    MV__CU_CHECK(mv__cu_dim(&sens->vol, 3) == nc, MV_ERR_INVALID_ARG, "%s: sens has %lld coils, kspace %lld", fn,
                 (long long)mv__cu_dim(&sens->vol, 3), (long long)nc);
    if (nmaps == 1)
        MV__CU_CHECK(mv_vol_count(&out->vol) == nvol * nbatch, MV_ERR_INVALID_ARG,
                     "%s: out has %lld voxels, %lld needed (x*y*z times the batch dims[4..])", fn,
                     (long long)mv_vol_count(&out->vol), (long long)(nvol * nbatch));
    else
        MV__CU_CHECK(mv__cu_dim(&out->vol, 3) == nmaps && mv_vol_count(&out->vol) == nvol * nmaps * nbatch,
                     MV_ERR_INVALID_ARG, "%s: out must be c64 (%lld, %lld, %lld, %lld maps) x %lld batch volumes", fn,
                     (long long)mv__cu_dim(&kspace->vol, 0), (long long)mv__cu_dim(&kspace->vol, 1), (long long)nz,
                     (long long)nmaps, (long long)nbatch);
    o->iterations_done = 0;
    memset(&g, 0, sizeof(g));
    g.n[0] = mv__cu_dim(&kspace->vol, 0);
    g.n[1] = mv__cu_dim(&kspace->vol, 1);
    g.n[2] = o->slices ? 1 : nz;
    g.nvox = g.n[0] * g.n[1] * g.n[2];
    g.nc = nc;
    g.kstride = nvol;
    g.sstride = nvol;
    g.nmaps = nmaps;
    g.mstride = nvol * nc;
    nzw = o->slices ? nz : 1;
    /* cufftPlanMany takes int lengths, strides, distances and counts; the grid of a dot product is the chunk count */
    MV__CU_CHECK(g.nc * g.nvox <= INT32_MAX && (nmaps * g.nvox + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK <= INT32_MAX,
                 MV_ERR_UNSUPPORTED, "%s: %lld coils x %lld voxels: too many for one 32-bit cuFFT plan", fn,
                 (long long)g.nc, (long long)g.nvox);
    memset(&b, 0, sizeof(b));
    b.slot[0] = b.slot[1] = -1;
    mv__cu_cg_fft_desc(g, 0, &b.fd[0]);
    mv__cu_cg_fft_desc(g, 1, &b.fd[1]);
    /* plans, held for the whole call: the full layout, and y/z when y or z is transformed */
    for (a = 0; a < 2 && st == MV_OK; a++)
        if (b.fd[a].rank > 0)
            st = mv__cu_plan_get(b.fd[a].rank, b.fd[a].n, b.fd[a].stride, b.fd[a].dist, b.fd[a].batch, s, &b.slot[a]);
    if (st == MV_OK)
        st = mv__cu_cg_bufs_alloc(&b, nmaps * g.nvox, nmaps > 1 && nzw > 1, g.nc * g.nvox, g.nvox,
                                  "mv_cuda_cgsense_into: cudaMallocAsync", s);
    /* items in the CPU's order: item = batch volume (3D), or batch volume nz + slice */
    nitems = o->slices ? nz * nbatch : nbatch;
    for (item = 0; st == MV_OK && item < nitems; item++) {
        const int64_t bv = o->slices ? item / nz : item, z = o->slices ? item % nz : 0;
        float2 *xo = (float2 *)out->vol.data;
        int iters = 0;
        st = mv__cu_cg_item(g, b, (const float2 *)kspace->vol.data + (bv * nc * nz + z) * g.n[0] * g.n[1],
                            (const float2 *)sens->vol.data + z * g.n[0] * g.n[1],
                            b.x ? b.x : mv__cu_cg_place(xo, item, nzw, nmaps, g.nvox, 0), o, &iters, s);
        if (b.x && (st == MV_OK || st == MV_ERR_CANCELLED)) { /* a cancelled item's last iterate too, as in place */
            const mv_status sc = mv__cu_cg_scatter(b.x, xo, item, nzw, nmaps, g.nvox, s);
            if (st == MV_OK) st = sc;
        }
        total += iters;
    }
    o->iterations_done = (int)(total < (int64_t)INT32_MAX ? total : (int64_t)INT32_MAX);
    mv__cu_cg_bufs_free(&b, s);
    return st;
}

/* ---- NUFFT (>>cuda-api-nufft) ------------------------------------------------ */

#define MV__CU_NU_MAXW 8    /* widest kernel (medvol.h's MV__NU_MAXW) */
#define MV__CU_NU_MAXDEG 16 /* highest polynomial degree (medvol.h's MV__NU_MAXDEG) */
#define MV__CU_NU_BIN 8     /* bin and tile edge, cells per used axis (>= the widest kernel) */
#define MV__CU_NU_NBL 6     /* bins per axis around a tile: 2 per contiguous run of first taps, 2 runs */

/* Everything a NUFFT kernel reads, by value (pointers: device memory on the
   GPU, host memory in tests/test_cuda_host.cu). Used axes u < d, fastest
   first; axes u >= d have n2 = Bs = nb = 1. */
typedef struct mv__cu_nu_args {
    int d, w, deg;
    int64_t n2[3], ncell;        /* oversampled grid per used axis */
    int64_t Bs[3], nb[3], nbins; /* bins (= spread tiles) per used axis */
    int64_t Nu[3];               /* image dims of the used axes */
    int64_t istr[3];             /* image stride of used axis u (elements) */
    int64_t nvox;                /* Nx Ny Nz */
    int64_t M, block;
    float scale;                 /* (float) 1 / sqrt(Nx Ny Nz), as the CPU */
    float coef[(MV__CU_NU_MAXDEG + 1) * MV__CU_NU_MAXW]; /* coef[e * MAXW + t] */
    const int64_t *perm;         /* device order -> point index */
    const int32_t *i0;           /* d per point: first tap cell */
    const float *kv;             /* d w per point: kernel values, (-1)^m folded in */
    const int64_t *binstart;     /* nbins + 1 offsets into the device order */
    const float *dec[3];         /* per used axis: Nu[u] deapodization factors */
    double fixb;                 /* a cell's |sum| <= fixb * max |sample| (mv__cu_nu_fix_exp) */
    int P[3];                    /* padded tile per used axis: Bs + w - 1 (1 beyond d) */
} mv__cu_nu_args;

/* The CPU's mv__nu_kernel and mv__nu_kernel_at: tap t of a point with
   first tap cell i0 and offset s, float Horner without FMA, negated where
   the cell i0 + t is odd. */
static MV__CU_HD void mv__cu_nu_kernel(const float *coef, int deg, int w, float s, int32_t i0, float *k)
{
    float u[MV__CU_NU_MAXW];
    int t, e;
    for (t = 1; t < w - 1; t++) u[t] = MV__CU_FSUB(MV__CU_FMUL(2.0f, s), 1.0f);
    u[0] = MV__CU_FSUB(MV__CU_FMUL(2.0f, sqrtf(s)), 1.0f);
    u[w - 1] = MV__CU_FSUB(MV__CU_FMUL(2.0f, sqrtf(MV__CU_FSUB(1.0f, s))), 1.0f);
    for (t = 0; t < w; t++) k[t] = coef[deg * MV__CU_NU_MAXW + t];
    for (e = deg - 1; e >= 0; e--)
        for (t = 0; t < w; t++) k[t] = MV__CU_FADD(MV__CU_FMUL(k[t], u[t]), coef[e * MV__CU_NU_MAXW + t]);
    for (t = (i0 & 1) ? 0 : 1; t < w; t += 2) k[t] = -k[t];
}

/* The bins whose points can reach a tile [t0, t0 + tlen) of an axis of n2
   cells: a point covers cell x when (x - i0) mod n2 < w, so its first tap
   i0 lies in (t0 - w + 1 .. t0 + tlen - 1) mod n2; the bins of those cells
   in order of first appearance, each once. Returns the count (<=
   MV__CU_NU_NBL: with Bs >= w a run of first taps meets at most 2 bins and
   the wrap splits it in at most 2 runs). */
static MV__CU_HD int mv__cu_nu_axis_bins(int64_t t0, int64_t tlen, int w, int64_t n2, int64_t Bs, int64_t *bins)
{
    int64_t k, span = tlen + w - 1;
    int n = 0, j;
    for (k = 0; k < span; k++) {
        int64_t pos = (t0 - w + 1 + k) % n2, b;
        int seen = 0;
        if (pos < 0) pos += n2;
        b = pos / Bs;
        for (j = 0; j < n; j++) seen |= bins[j] == b;
        if (!seen && n < MV__CU_NU_NBL) bins[n++] = b;
    }
    return n;
}

/* One grid cell of one coil, spread as a gather (the adjoint's kernel):
   the points of the bins around the cell's tile, bins z, y, x outer to
   inner, points in device order; weight (kz ky) kx (2D: ky kx) as the CPU,
   each product and sum rounded once. vs: the coil's samples in device
   order. */
static MV__CU_HD float2 mv__cu_nu_spread_cell(const mv__cu_nu_args &A, const float2 *vs, const int64_t *x)
{
    int64_t bins[3][MV__CU_NU_NBL];
    int nbl[3] = {1, 1, 1}, u, i2, i1, i0;
    const int d = A.d, w = A.w;
    float re = 0.0f, im = 0.0f;
    bins[1][0] = bins[2][0] = 0;
    for (u = 0; u < d; u++) {
        int64_t t0 = x[u] / A.Bs[u] * A.Bs[u], tlen = A.n2[u] - t0 < A.Bs[u] ? A.n2[u] - t0 : A.Bs[u];
        nbl[u] = mv__cu_nu_axis_bins(t0, tlen, w, A.n2[u], A.Bs[u], bins[u]);
    }
    for (i2 = 0; i2 < nbl[2]; i2++)
        for (i1 = 0; i1 < nbl[1]; i1++)
            for (i0 = 0; i0 < nbl[0]; i0++) {
                int64_t bin = (bins[2][i2] * A.nb[1] + bins[1][i1]) * A.nb[0] + bins[0][i0], q;
                for (q = A.binstart[bin]; q < A.binstart[bin + 1]; q++) {
                    const int32_t *p = A.i0 + (int64_t)d * q;
                    const float *k = A.kv + (int64_t)d * w * q;
                    int64_t t[3] = {0, 0, 0};
                    int in = 1;
                    float wgt;
                    float2 v;
                    for (u = 0; u < d; u++) {
                        t[u] = x[u] - p[u];
                        if (t[u] < 0) t[u] += A.n2[u];
                        in &= t[u] < w;
                    }
                    if (!in) continue;
                    wgt = d == 3 ? MV__CU_FMUL(MV__CU_FMUL(k[2 * w + t[2]], k[w + t[1]]), k[t[0]])
                                 : MV__CU_FMUL(k[w + t[1]], k[t[0]]);
                    v = vs[q];
                    re = MV__CU_FADD(re, MV__CU_FMUL(wgt, v.x));
                    im = MV__CU_FADD(im, MV__CU_FMUL(wgt, v.y));
                }
            }
    return make_float2(re, im);
}

/* ---- the adjoint's spread by tiles, in 64-bit fixed point ----
   One block per (bin, coil) covers the bin's padded tile (Bs + w - 1
   cells per axis): in 2D a thread per tile cell sums, in float and in
   device order, the bin's points that reach it; in 3D the threads add each
   point's w^3 terms into the tile in shared memory in fixed point (each
   term wgt * v exact in float64, a product of two floats, scaled by 2^e
   and rounded once). The tile then goes into the batch's integer grid,
   where neighbouring tiles overlap; a last pass turns the integers into
   the float grid cuFFT takes. Integer addition is associative, so the
   atomics give the same bytes in any order. e is
   chosen per coil from its largest |sample| so that no cell can overflow:
   |cell| <= fixb * vmax with fixb = (points that can reach one cell: those
   of its bin and the two below it along each used axis, mv__cu_nu_fix_bound) *
   (sum over the kernel's coefficients of their |values| = a bound of |k|
   on [-1, 1]) ^ d, and the scaled bound stays under 2^61. A coil with a
   NaN or infinite sample keeps the per-cell gather (mv__cu_nu_spread_cell),
   which propagates it as the CPU does. That gather, the only spread
   before, sums every point of the neighbouring bins for each cell (up to
   ~13,000 in the k-space centre of profile_cuda's 256^2 radial case): its
   adjoint took 20.9 ms for 32 coils on an H200 (1.1x the CPU), the
   forward 0.42 ms. */

/* |re| and |im| of a sample as ordered bits (non-negative floats order as
   their bits; NaN sorts above infinity) */
static MV__CU_HD unsigned mv__cu_nu_abs_bits(float2 v)
{
    unsigned a, b;
    float x = fabsf(v.x), y = fabsf(v.y);
    memcpy(&a, &x, 4);
    memcpy(&b, &y, 4);
    return a > b ? a : b;
}
#define MV__CU_NU_NONFINITE 0x7f800000u /* abs bits >= this: infinity or NaN */

/* the fixed-point exponent of a coil whose largest |sample| has bits vbits */
static MV__CU_HD int mv__cu_nu_fix_exp(double fixb, unsigned vbits)
{
    float vmax;
    int ex;
    memcpy(&vmax, &vbits, 4);
    const double b = fixb * (double)vmax;
    if (!(b > 0)) return 0;
    (void)frexp(b, &ex); /* b < 2^ex */
    ex = 61 - ex;
    return ex > 1000 ? 1000 : ex < -1000 ? -1000 : ex;
}

/* a term in fixed point: w v 2^e rounded to the nearest integer, as the
   two's complement bits atomicAdd takes */
static MV__CU_HD unsigned long long mv__cu_nu_fix(float wgt, float v, double scale)
{
#ifdef __CUDA_ARCH__
    return (unsigned long long)__double2ll_rn((double)wgt * (double)v * scale);
#else
    return (unsigned long long)llrint((double)wgt * (double)v * scale);
#endif
}

/* point q's terms into a padded tile at t0 (cells P0 P1 P2, x fastest):
   add(cell, re, im) with the fixed-point terms, weight (kz ky) kx (2D:
   ky kx) in float as the gather. Add is a device functor in the kernel
   and a host one in tests/test_cuda_host.cu: nvcc is told not to check
   the host / device call of each instantiation. */
#pragma nv_exec_check_disable
template <typename Add>
static MV__CU_HD void mv__cu_nu_tile_point(const mv__cu_nu_args &A, int64_t q, float2 v, const int64_t *t0, double scale,
                                           Add &add)
{
    const int d = A.d, w = A.w;
    const int32_t *p = A.i0 + (int64_t)d * q;
    const float *k = A.kv + (int64_t)d * w * q;
    const int l0 = (int)(p[0] - t0[0]), l1 = (int)(p[1] - t0[1]), l2 = d == 3 ? (int)(p[2] - t0[2]) : 0;
    for (int tz = 0; tz < (d == 3 ? w : 1); tz++)
        for (int ty = 0; ty < w; ty++) {
            const float ky = d == 3 ? MV__CU_FMUL(k[2 * w + tz], k[w + ty]) : k[w + ty];
            const int row = ((l2 + tz) * A.P[1] + l1 + ty) * A.P[0] + l0;
            for (int t = 0; t < w; t++) {
                const float wgt = MV__CU_FMUL(ky, k[t]);
                add(row + t, mv__cu_nu_fix(wgt, v.x, scale), mv__cu_nu_fix(wgt, v.y, scale));
            }
        }
}

/* the tile's origin (first cell per axis) of bin b */
static MV__CU_HD void mv__cu_nu_tile_origin(const mv__cu_nu_args &A, int64_t b, int64_t *t0)
{
    t0[0] = b % A.nb[0] * A.Bs[0];
    t0[1] = b / A.nb[0] % A.nb[1] * A.Bs[1];
    t0[2] = b / (A.nb[0] * A.nb[1]) * A.Bs[2];
}

/* grid cell of padded-tile cell l of the tile at t0 (wrapped once: P < n2) */
static MV__CU_HD int64_t mv__cu_nu_tile_cell(const mv__cu_nu_args &A, const int64_t *t0, int l)
{
    int64_t x[3] = {l % A.P[0], l / A.P[0] % A.P[1], l / (A.P[0] * A.P[1])}, g = 0;
    for (int u = 2; u >= 0; u--) {
        int64_t v = t0[u] + x[u];
        if (v >= A.n2[u]) v -= A.n2[u];
        g = g * A.n2[u] + v;
    }
    return g;
}

/* 2D: cell (cx, cy) of the padded tile at t0, summed over the bin's
   points q0 .. q1 in device order: each term (ky kx) v in float as the
   gather's, the sum in float in that fixed order (the cell-owner form:
   no shared-memory atomics, which the 64-bit sums would need) */
static MV__CU_HD float2 mv__cu_nu_tile_cell_sum(const mv__cu_nu_args &A, const float2 *v, int64_t q0, int64_t q1,
                                                const int64_t *t0, int cx, int cy)
{
    const int w = A.w;
    float re = 0.0f, im = 0.0f;
    for (int64_t q = q0; q < q1; q++) {
        const int32_t *p = A.i0 + 2 * q;
        const int tx = cx - (int)(p[0] - t0[0]), ty = cy - (int)(p[1] - t0[1]);
        if ((unsigned)tx >= (unsigned)w || (unsigned)ty >= (unsigned)w) continue;
        const float *k = A.kv + 2 * w * q;
        const float wgt = MV__CU_FMUL(k[w + ty], k[tx]);
        const float2 x = v[q];
        re = MV__CU_FADD(re, MV__CU_FMUL(wgt, x.x));
        im = MV__CU_FADD(im, MV__CU_FMUL(wgt, x.y));
    }
    return make_float2(re, im);
}

/* a grid cell from its fixed-point sums */
static MV__CU_HD float2 mv__cu_nu_unfix(unsigned long long re, unsigned long long im, int e)
{
    const double s = ldexp(1.0, -e);
    return make_float2((float)((double)(long long)re * s), (float)((double)(long long)im * s));
}

/* One point of one coil, interpolated (the forward's kernel): taps of the
   slowest axis outer, x taps inner, wrapped at the grid's edge, weight
   ky kx[t] (3D: (kz ky) kx[t]) times the cell summed in tap order: the
   CPU's row kernel's operations. g: the coil's grid. */
static MV__CU_HD float2 mv__cu_nu_interp_point(const mv__cu_nu_args &A, const float2 *g, int64_t q)
{
    const int d = A.d, w = A.w;
    const int32_t *p = A.i0 + (int64_t)d * q;
    const float *k = A.kv + (int64_t)d * w * q;
    float re = 0.0f, im = 0.0f;
    int tz, ty, t;
    for (tz = 0; tz < (d == 3 ? w : 1); tz++) {
        int64_t z = d == 3 ? p[2] + tz : 0;
        if (z >= A.n2[2]) z -= A.n2[2];
        for (ty = 0; ty < w; ty++) {
            int64_t y = p[1] + ty, row;
            float ky = d == 3 ? MV__CU_FMUL(k[2 * w + tz], k[w + ty]) : k[w + ty];
            if (y >= A.n2[1]) y -= A.n2[1];
            row = (z * A.n2[1] + y) * A.n2[0];
            for (t = 0; t < w; t++) {
                int64_t xx = p[0] + t;
                float wgt = MV__CU_FMUL(ky, k[t]);
                float2 c;
                if (xx >= A.n2[0]) xx -= A.n2[0];
                c = g[row + xx];
                re = MV__CU_FADD(re, MV__CU_FMUL(wgt, c.x));
                im = MV__CU_FADD(im, MV__CU_FMUL(wgt, c.y));
            }
        }
    }
    return make_float2(re, im);
}

/* Image voxel i (0 .. nvox-1, x fastest): its grid cell (x + n2/2 - N/2
   per used axis) and its deapodization factor, the CPU's float
   expression sc * ((dec1[y] * dec2[z]) * dec0[x]). */
static MV__CU_HD float mv__cu_nu_image_cell(const mv__cu_nu_args &A, int64_t i, int64_t *cell)
{
    int64_t c[3] = {0, 0, 0}, g = 0;
    int u;
    for (u = 0; u < A.d; u++) c[u] = (i / A.istr[u]) % A.Nu[u];
    for (u = A.d - 1; u >= 0; u--) g = g * A.n2[u] + c[u] + A.n2[u] / 2 - A.Nu[u] / 2;
    *cell = g;
    float dyz = A.d == 3 ? MV__CU_FMUL(A.dec[1][c[1]], A.dec[2][c[2]]) : A.dec[1][c[1]];
    return MV__CU_FMUL(A.scale, MV__CU_FMUL(dyz, A.dec[0][c[0]]));
}

/* k-space offset (complex samples) of point m, coil c of nc: the CPU's block layout */
static MV__CU_HD int64_t mv__cu_nu_koff(const mv__cu_nu_args &A, int64_t m, int64_t c, int64_t nc)
{
    return m % A.block + A.block * (c + nc * (m / A.block));
}

/* The geometry of a device plan from the CPU plan's tables (fills A's sizes
   and scalars, no pointers). */
static mv_status mv__cu_nu_geometry(const mv_nufft_tables *T, mv__cu_nu_args *A)
{
    int u, e, t;
    memset(A, 0, sizeof(*A));
    MV__CU_CHECK((T->d == 2 || T->d == 3) && T->w >= 2 && T->w <= MV__CU_NU_MAXW && T->deg >= 0 &&
                     T->deg <= MV__CU_NU_MAXDEG && T->coef_stride >= T->w && T->npoints >= 1 && T->block >= 1,
                 MV_ERR_INVALID_ARG, "mv_cuda_nufft: CPU plan tables out of range (d %d, w %d, deg %d)", T->d, T->w,
                 T->deg);
    A->d = T->d;
    A->w = T->w;
    A->deg = T->deg;
    A->ncell = 1;
    A->nbins = 1;
    for (u = 0; u < 3; u++) {
        A->n2[u] = A->Bs[u] = A->nb[u] = A->Nu[u] = A->istr[u] = 1;
        if (u >= T->d) continue;
        int a = T->ax[u];
        A->n2[u] = T->grid[u];
        A->Nu[u] = T->N[a];
        A->Bs[u] = MV__CU_NU_BIN;
        A->nb[u] = (A->n2[u] + MV__CU_NU_BIN - 1) / MV__CU_NU_BIN;
        for (int b = 0; b < a; b++) A->istr[u] *= T->N[b];
        MV__CU_CHECK(A->n2[u] >= 2 * T->w && A->n2[u] <= ((int64_t)1 << 30), MV_ERR_INVALID_ARG,
                     "mv_cuda_nufft: grid %lld along axis %d", (long long)A->n2[u], u);
        A->ncell *= A->n2[u];
        A->nbins *= A->nb[u];
    }
    MV__CU_CHECK(A->ncell <= (int64_t)INT32_MAX, MV_ERR_UNSUPPORTED,
                 "mv_cuda_nufft: %lld grid cells (cuFFT's plan cache takes int distances)", (long long)A->ncell);
    A->nvox = T->N[0] * T->N[1] * T->N[2];
    A->M = T->npoints;
    A->block = T->block;
    A->scale = (float)T->scale;
    for (e = 0; e <= T->deg; e++)
        for (t = 0; t < MV__CU_NU_MAXW; t++) A->coef[e * MV__CU_NU_MAXW + t] = t < T->w ? T->coef[e * T->coef_stride + t] : 0.0f;
    {
        /* |k| <= the sum of a tap's |coefficients| (Horner on [-1, 1]); per
           point weight <= kmax^d (mv__cu_nu_fix_bound adds the count) */
        double kmax = 0;
        for (t = 0; t < T->w; t++) {
            double a = 0;
            for (e = 0; e <= T->deg; e++) a += fabs((double)A->coef[e * MV__CU_NU_MAXW + t]);
            kmax = a > kmax ? a : kmax;
        }
        A->fixb = T->d == 3 ? kmax * kmax * kmax : kmax * kmax;
    }
    for (u = 0; u < 3; u++) A->P[u] = u < T->d ? (int)A->Bs[u] + T->w - 1 : 1;
    return MV_OK;
}

/* fixb *= the most points that can reach one grid cell: a point reaches
   cells i0 .. i0 + w - 1 per axis, so those of a cell lie in its bin or
   the two below it along each used axis (two: a last bin narrower than w),
   wrapped; binstart: host offsets */
static void mv__cu_nu_fix_bound(mv__cu_nu_args *A, const int64_t *binstart)
{
    int64_t most = 0, b;
    for (b = 0; b < A->nbins; b++) {
        const int64_t bx = b % A->nb[0], by = b / A->nb[0] % A->nb[1], bz = b / (A->nb[0] * A->nb[1]);
        int64_t n = 0;
        for (int dz = 0; dz < (A->d == 3 ? 3 : 1); dz++)
            for (int dy = 0; dy < 3; dy++)
                for (int dx = 0; dx < 3; dx++) {
                    /* a neighbour met twice (an axis of fewer than 3 bins) counts twice: a bound */
                    const int64_t x = (bx - dx + 3 * A->nb[0]) % A->nb[0], y = (by - dy + 3 * A->nb[1]) % A->nb[1],
                                  z = (bz - dz + 3 * A->nb[2]) % A->nb[2], nbin = (z * A->nb[1] + y) * A->nb[0] + x;
                    n += binstart[nbin + 1] - binstart[nbin];
                }
        most = n > most ? n : most;
    }
    A->fixb *= (double)(most > 0 ? most : 1);
}

/* bin of a point from its first taps (x fastest) */
static int64_t mv__cu_nu_bin_of(const mv__cu_nu_args *A, const int32_t *i0)
{
    int64_t b = 0;
    for (int u = A->d - 1; u >= 0; u--) b = b * A->nb[u] + i0[u] / A->Bs[u];
    return b;
}

/* The device order: the CPU's sorted order regrouped stably by bin
   (counting sort). Writes perm, i0, fr (device order) and binstart
   (nbins + 1), host arrays. */
static mv_status mv__cu_nu_order(const mv_nufft_tables *T, const mv__cu_nu_args *A, int64_t *perm, int32_t *i0,
                                 float *fr, int64_t *binstart)
{
    int64_t q, b;
    const int d = A->d;
    memset(binstart, 0, (size_t)(A->nbins + 1) * sizeof(int64_t));
    for (q = 0; q < A->M; q++) binstart[mv__cu_nu_bin_of(A, T->i0 + d * q) + 1]++;
    for (b = 0; b < A->nbins; b++) binstart[b + 1] += binstart[b];
    {
        int64_t *next = (int64_t *)malloc((size_t)A->nbins * sizeof(int64_t));
        MV__CU_CHECK(next != NULL, MV_ERR_OUT_OF_MEMORY, "mv_cuda_nufft_plan_create: %lld bins", (long long)A->nbins);
        memcpy(next, binstart, (size_t)A->nbins * sizeof(int64_t));
        for (q = 0; q < A->M; q++) {
            int64_t g = next[mv__cu_nu_bin_of(A, T->i0 + d * q)]++;
            perm[g] = T->perm[q];
            for (int u = 0; u < d; u++) {
                i0[g * d + u] = T->i0[q * d + u];
                fr[g * d + u] = T->fr[q * d + u];
            }
        }
        free(next);
    }
    return MV_OK;
}

static __global__ void mv__cu_nu_kv_kernel(mv__cu_nu_args A, const float *fr, float *kv)
{
    const int d = A.d, w = A.w;
    for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < A.M; q += (int64_t)gridDim.x * blockDim.x)
        for (int u = 0; u < d; u++)
            mv__cu_nu_kernel(A.coef, A.deg, w, fr[q * d + u], A.i0[q * d + u], kv + (q * d + u) * w);
}

/* adjoint, step 1: the batch's samples into the device order (coil c on
   grid y, points on x), and each coil's largest |sample| into vbits: a
   warp's maximum by shuffles, then one atomic per warp (any order gives a
   maximum). With an atomic per sample, 205,824 of them on each coil's one
   address, the profile's adjoint took 6.7 ms on an H200 of which the
   spread was 1.7 ms (ncu) and the FFT and the rest well under 1 ms: the
   remainder is put down to those atomics (not measured alone). */
#define MV__CU_NU_GATHER_BLOCKS 256 /* blocks per coil: the points loop */
static __global__ void mv__cu_nu_gather_kernel(mv__cu_nu_args A, const float2 *__restrict__ kin, float2 *__restrict__ vs,
                                               int64_t c0, int64_t cb, int64_t nc, unsigned *__restrict__ vbits)
{
    for (int64_t c = blockIdx.y; c < cb; c += gridDim.y) { /* block-uniform: the shuffles below see every lane */
        unsigned m = 0;
        for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < A.M; q += (int64_t)gridDim.x * blockDim.x) {
            const float2 v = kin[mv__cu_nu_koff(A, A.perm[q], c0 + c, nc)];
            const unsigned b = mv__cu_nu_abs_bits(v);
            vs[c * A.M + q] = v;
            m = b > m ? b : m;
        }
        for (int o = 16; o > 0; o >>= 1) {
            const unsigned t = __shfl_down_sync(0xffffffffu, m, o);
            m = t > m ? t : m;
        }
        if ((threadIdx.x & 31) == 0 && m) atomicMax(vbits + c, m); /* vbits starts at 0 */
    }
}

/* The spread's item i of cb * nbins * prod Bs: (coil c, tile = bin, cell
   of the tile), the cell fastest, so a warp shares one tile's bin lists
   and point loop. Its cell coordinates x and index; 0 where the tile
   overhangs the grid's edge. */
static MV__CU_HD int mv__cu_nu_spread_item(const mv__cu_nu_args &A, int64_t i, int64_t *x, int64_t *cell, int64_t *c)
{
    const int64_t tc = A.Bs[0] * A.Bs[1] * A.Bs[2];
    int64_t l = i % tc, bin = (i / tc) % A.nbins, g = 0;
    int u, inside = 1;
    *c = i / (tc * A.nbins);
    mv__cu_nu_tile_origin(A, bin, x);
    x[0] += l % A.Bs[0];
    x[1] += l / A.Bs[0] % A.Bs[1];
    x[2] += l / (A.Bs[0] * A.Bs[1]);
    for (u = 0; u < 3; u++) inside &= x[u] < A.n2[u];
    for (u = 2; u >= 0; u--) g = g * A.n2[u] + x[u];
    *cell = g;
    return inside;
}

/* adjoint, step 2 for a coil with a NaN or infinite sample: every grid
   cell of the coil, once, as a gather (coils on grid y; the blocks of a
   finite coil return at once) */
static __global__ void mv__cu_nu_spread_kernel(mv__cu_nu_args A, const float2 *__restrict__ vs, float2 *__restrict__ grid,
                                               int64_t cb, const unsigned *__restrict__ vbits)
{
    const int64_t per = A.nbins * A.Bs[0] * A.Bs[1] * A.Bs[2];
    for (int64_t c = blockIdx.y; c < cb; c += gridDim.y) {
        if (vbits[c] < MV__CU_NU_NONFINITE) continue;
        for (int64_t l = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; l < per; l += (int64_t)gridDim.x * blockDim.x) {
            int64_t x[3], cell, cc;
            if (!mv__cu_nu_spread_item(A, c * per + l, x, &cell, &cc)) continue;
            grid[c * A.ncell + cell] = mv__cu_nu_spread_cell(A, vs + c * A.M, x);
        }
    }
}

/* shared-memory adder of the tile kernel: comp 0 re, 1 im, 2 both (re
   at cell, im at cells + cell) */
struct mv__cu_nu_shadd {
    unsigned long long *t;
    int comp, cells;
    __device__ __forceinline__ void operator()(int cell, unsigned long long re, unsigned long long im)
    {
        if (comp != 1) atomicAdd(t + cell, re);
        if (comp == 2) atomicAdd(t + cells + cell, im);
        else if (comp == 1) atomicAdd(t + cell, im);
    }
};

/* adjoint, step 2: bin blockIdx.x of coil blockIdx.y (grid-stride) into
   the integer grid ig (re, im per cell, zeroed); passes 1 (re and im
   together) or 2 (re, then im: a 3D tile of width 8 would take 54 KB) */
static __global__ void mv__cu_nu_tile_kernel(mv__cu_nu_args A, const float2 *__restrict__ vs,
                                             unsigned long long *__restrict__ ig, int64_t cb,
                                             const unsigned *__restrict__ vbits, int passes)
{
    extern __shared__ unsigned long long mv__cu_nu_tile[];
    const int cells = A.P[0] * A.P[1] * A.P[2];
    const int64_t b = blockIdx.x, q0 = A.binstart[b], q1 = A.binstart[b + 1];
    int64_t t0[3];
    if (q0 == q1) return; /* the whole block: no barrier is skipped by part of it */
    mv__cu_nu_tile_origin(A, b, t0);
    for (int64_t c = blockIdx.y; c < cb; c += gridDim.y) {
        if (vbits[c] >= MV__CU_NU_NONFINITE) continue;
        const int e = mv__cu_nu_fix_exp(A.fixb, vbits[c]);
        const double scale = ldexp(1.0, e);
        const float2 *v = vs + c * A.M;
        unsigned long long *g = ig + 2 * c * A.ncell;
        for (int pass = 0; pass < passes; pass++) {
            const int comp = passes == 1 ? 2 : pass, n = passes == 1 ? 2 * cells : cells;
            mv__cu_nu_shadd add = {mv__cu_nu_tile, comp, cells};
            for (int l = threadIdx.x; l < n; l += blockDim.x) mv__cu_nu_tile[l] = 0;
            __syncthreads();
            /* lanes of a warp take points n/32 apart, so that they add to
               different cells (consecutive points along a spoke share
               their taps): with this kernel in 2D the profile's adjoint
               went 9.0 -> 8.5 ms on an H200, contention was not its cost */
            const int64_t np = q1 - q0, m = (np + 31) / 32;
            for (int64_t j = threadIdx.x; j < 32 * m; j += blockDim.x) {
                const int64_t q = q0 + j % 32 * m + j / 32;
                if (q < q1) mv__cu_nu_tile_point(A, q, v[q], t0, scale, add);
            }
            __syncthreads();
            for (int l = threadIdx.x; l < n; l += blockDim.x) {
                const unsigned long long x = mv__cu_nu_tile[l];
                const int cl = l < cells ? l : l - cells, k = comp == 2 ? (l < cells ? 0 : 1) : comp;
                if (x) atomicAdd(g + 2 * mv__cu_nu_tile_cell(A, t0, cl) + k, x); /* integers: order-free */
            }
            __syncthreads(); /* before the next pass or coil zeroes the tile */
        }
    }
}

/* adjoint, step 2 in 2D: bin blockIdx.x of coil blockIdx.y (grid-stride),
   a thread per cell of the padded tile (at most 15^2 = 225); the cell's
   float sum (mv__cu_nu_tile_cell_sum) goes into the integer grid in fixed
   point, where the sums of the neighbouring tiles meet in any order.
   H200, profile_cuda's 256^2 radial adjoint (32 coils): this kernel 1.69 ms
   (ncu); the shared-memory form (mv__cu_nu_tile_kernel, kept for 3D, whose
   tiles of up to 15^3 cells would hold a thread on 14 cells) about 3.5 ms
   (the whole adjoint 8.5 ms against 6.7 ms with this kernel), its 64-bit
   shared-memory atomics the likely cost (not confirmed in the SASS). */
static __global__ void mv__cu_nu_tile2_kernel(mv__cu_nu_args A, const float2 *__restrict__ vs,
                                              unsigned long long *__restrict__ ig, int64_t cb,
                                              const unsigned *__restrict__ vbits)
{
    const int64_t b = blockIdx.x, q0 = A.binstart[b], q1 = A.binstart[b + 1];
    const int l = (int)threadIdx.x;
    int64_t t0[3];
    if (q0 == q1 || l >= A.P[0] * A.P[1]) return; /* no barrier in this kernel */
    mv__cu_nu_tile_origin(A, b, t0);
    const int64_t cell = mv__cu_nu_tile_cell(A, t0, l);
    for (int64_t c = blockIdx.y; c < cb; c += gridDim.y) {
        if (vbits[c] >= MV__CU_NU_NONFINITE) continue;
        const double scale = ldexp(1.0, mv__cu_nu_fix_exp(A.fixb, vbits[c]));
        const float2 sum = mv__cu_nu_tile_cell_sum(A, vs + c * A.M, q0, q1, t0, l % A.P[0], l / A.P[0]);
        unsigned long long *g = ig + 2 * (c * A.ncell + cell);
        if (sum.x != 0.0f) atomicAdd(g, mv__cu_nu_fix(1.0f, sum.x, scale)); /* integers: order-free */
        if (sum.y != 0.0f) atomicAdd(g + 1, mv__cu_nu_fix(1.0f, sum.y, scale));
    }
}

/* adjoint, step 3: the float grid of every finite coil from its integers */
static __global__ void mv__cu_nu_unfix_kernel(mv__cu_nu_args A, const unsigned long long *__restrict__ ig,
                                              float2 *__restrict__ grid, int64_t cb, const unsigned *__restrict__ vbits)
{
    const int64_t n = cb * A.ncell;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = i / A.ncell;
        if (vbits[c] >= MV__CU_NU_NONFINITE) continue;
        grid[i] = mv__cu_nu_unfix(ig[2 * i], ig[2 * i + 1], mv__cu_nu_fix_exp(A.fixb, vbits[c]));
    }
}

/* shared memory and passes of the tile kernel: both components when they
   fit the default 48 KiB, else one at a time */
static void mv__cu_nu_tile_launch_shape(const mv__cu_nu_args &A, int *passes, size_t *shmem)
{
    const size_t cells = (size_t)A.P[0] * A.P[1] * A.P[2];
    *passes = 2 * cells * 8 <= 48 * 1024 ? 1 : 2;
    *shmem = (*passes == 1 ? 2 : 1) * cells * 8;
}

/* forward, step 3: kout sample of point perm[q], coil c0 + c, from the grid */
static __global__ void mv__cu_nu_interp_kernel(mv__cu_nu_args A, const float2 *__restrict__ grid, float2 *__restrict__ kout,
                                               int64_t c0, int64_t cb, int64_t nc)
{
    const int64_t n = cb * A.M;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t q = i % A.M, c = i / A.M;
        kout[mv__cu_nu_koff(A, A.perm[q], c0 + c, nc)] = mv__cu_nu_interp_point(A, grid + c * A.ncell, q);
    }
}

/* image <-> grid with deapodization: dir 0 (forward) grid cell = image *
   f, dir 1 (adjoint) image = grid cell * f; items (coil, voxel) */
static __global__ void mv__cu_nu_deapod_kernel(mv__cu_nu_args A, float2 *img, float2 *grid, int64_t c0, int64_t cb,
                                               int dir)
{
    const int64_t n = cb * A.nvox;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = i % A.nvox, c = i / A.nvox, cell;
        float f = mv__cu_nu_image_cell(A, v, &cell);
        float2 *im = img + (c0 + c) * A.nvox + v, *g = grid + c * A.ncell + cell;
        if (dir == 0)
            *g = make_float2(MV__CU_FMUL(im->x, f), MV__CU_FMUL(im->y, f));
        else
            *im = make_float2(MV__CU_FMUL(g->x, f), MV__CU_FMUL(g->y, f));
    }
}

struct mv_cuda_nufft {
    mv__cu_nu_args a; /* device pointers */
    int64_t cb;       /* coil batch */
    void *perm, *i0, *kv, *binstart, *dec, *grid, *vs;
    void *ig, *vbits; /* the adjoint's integer grid (2 x 8 bytes a cell) and per-coil max |sample| bits */
};

MVCDEF void mv_cuda_nufft_plan_free(mv_cuda_nufft *p, mv_cuda_stream stream)
{
    void **bufs[9];
    if (!p) return;
    bufs[0] = &p->perm;
    bufs[1] = &p->i0;
    bufs[2] = &p->kv;
    bufs[3] = &p->binstart;
    bufs[4] = &p->dec;
    bufs[5] = &p->grid;
    bufs[6] = &p->vs;
    bufs[7] = &p->ig;
    bufs[8] = &p->vbits;
    for (int k = 0; k < 9; k++)
        if (*bufs[k]) (void)cudaFreeAsync(*bufs[k], (cudaStream_t)stream);
    free(p);
}

static mv_status mv__cu_nu_malloc(void **p, uint64_t bytes, cudaStream_t s)
{
    MV__CU_CHECK(bytes <= ((uint64_t)1 << 46), MV_ERR_SIZE_OVERFLOW, "mv_cuda_nufft_plan_create: %llu bytes",
                 (unsigned long long)bytes);
    MV__CU_TRY(cudaMallocAsync(p, (size_t)(bytes ? bytes : 1), s));
    return MV_OK;
}

static mv_status mv__cu_nu_create(const mv_nufft_tables *T, mv_cuda_nufft *p, int64_t coils, cudaStream_t s,
                                  int64_t *hperm, int32_t *hi0, float *hfr, int64_t *hbin, float *hdec)
{
    mv__cu_nu_args *A = &p->a;
    const int d = A->d, w = A->w;
    const uint64_t M = (uint64_t)A->M;
    void *fr = NULL;
    int64_t ndec = 0;
    mv_status st = MV_OK;
    MV__CU_STRY(mv__cu_nu_order(T, A, hperm, hi0, hfr, hbin));
    mv__cu_nu_fix_bound(A, hbin);
    for (int u = 0; u < d; u++) {
        memcpy(hdec + ndec, T->dec[u], (size_t)A->Nu[u] * sizeof(float));
        ndec += A->Nu[u];
    }
    p->cb = coils;
    MV__CU_STRY(mv__cu_nu_malloc(&p->perm, M * 8, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->i0, M * d * 4, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->kv, M * d * w * 4, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->binstart, (uint64_t)(A->nbins + 1) * 8, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->dec, (uint64_t)ndec * 4, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->grid, (uint64_t)coils * (uint64_t)A->ncell * 8, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->vs, (uint64_t)coils * M * 8, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->ig, (uint64_t)coils * (uint64_t)A->ncell * 16, s));
    MV__CU_STRY(mv__cu_nu_malloc(&p->vbits, (uint64_t)coils * 4, s));
    MV__CU_STRY(mv__cu_nu_malloc(&fr, M * d * 4, s));
    A->perm = (const int64_t *)p->perm;
    A->i0 = (const int32_t *)p->i0;
    A->kv = (const float *)p->kv;
    A->binstart = (const int64_t *)p->binstart;
    ndec = 0;
    for (int u = 0; u < d; u++) {
        A->dec[u] = (const float *)p->dec + ndec;
        ndec += A->Nu[u];
    }
    {
        cudaError_t e = cudaMemcpyAsync(p->perm, hperm, (size_t)M * 8, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(p->i0, hi0, (size_t)(M * d) * 4, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(fr, hfr, (size_t)(M * d) * 4, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(p->binstart, hbin, (size_t)(A->nbins + 1) * 8, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(p->dec, hdec, (size_t)ndec * 4, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) {
            mv__cu_nu_kv_kernel<<<mv__cu_blocks(A->M, 256), 256, 0, s>>>(*A, (const float *)fr, (float *)p->kv);
            e = cudaGetLastError();
        }
        if (e == cudaSuccess) e = cudaStreamSynchronize(s); /* the host arrays are pageable: wait before they go */
        if (e != cudaSuccess) st = mv__cu_fail(e, "mv_cuda_nufft_plan_create: uploads");
    }
    (void)cudaFreeAsync(fr, s);
    return st;
}

MVCDEF mv_status mv_cuda_nufft_plan_create(const mv_nufft_plan *cpu, mv_cuda_nufft **plan, int64_t coils,
                                           mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_nufft_plan_create";
    cudaStream_t s = (cudaStream_t)stream;
    mv_nufft_tables T;
    mv_cuda_nufft *p;
    int64_t *hperm, *hbin;
    int32_t *hi0;
    float *hfr, *hdec;
    mv_status st;
    MV__CU_CHECK(cpu != NULL && plan != NULL, MV_ERR_INVALID_ARG, "%s: NULL %s", fn, cpu ? "plan" : "cpu_plan");
    *plan = NULL;
    MV__CU_CHECK(coils >= 0 && coils <= 65536, MV_ERR_INVALID_ARG, "%s: coils %lld", fn, (long long)coils);
    MV__CU_STRY(mv_nufft_get_tables(cpu, &T));
    if (coils == 0) coils = T.coils > 1 ? T.coils : 8;
    p = (mv_cuda_nufft *)calloc(1, sizeof(*p));
    MV__CU_CHECK(p != NULL, MV_ERR_OUT_OF_MEMORY, "%s: plan", fn);
    st = mv__cu_nu_geometry(&T, &p->a);
    if (st != MV_OK) {
        free(p);
        return st;
    }
    {
        const int64_t M = p->a.M, d = p->a.d;
        hperm = (int64_t *)malloc((size_t)M * 8);
        hi0 = (int32_t *)malloc((size_t)(M * d) * 4);
        hfr = (float *)malloc((size_t)(M * d) * 4);
        hbin = (int64_t *)malloc((size_t)(p->a.nbins + 1) * 8);
        hdec = (float *)malloc((size_t)(T.N[0] + T.N[1] + T.N[2]) * 4);
    }
    if (!hperm || !hi0 || !hfr || !hbin || !hdec)
        st = mv_set_error(MV_ERR_OUT_OF_MEMORY, "%s: host tables for %lld points", fn, (long long)p->a.M);
    else
        st = mv__cu_nu_create(&T, p, coils, s, hperm, hi0, hfr, hbin, hdec);
    free(hperm);
    free(hi0);
    free(hfr);
    free(hbin);
    free(hdec);
    if (st != MV_OK) {
        mv_cuda_nufft_plan_free(p, stream);
        return st;
    }
    *plan = p;
    return MV_OK;
}

/* the grid's transform of cb coils in place: cuFFT from the plan cache */
static mv_status mv__cu_nu_fft(const mv__cu_nu_args *A, float2 *grid, int64_t cb, int inverse, cudaStream_t s)
{
    int n[3] = {(int)A->n2[0], (int)A->n2[1], (int)A->n2[2]}, slot = -1;
    cufftResult r;
    MV__CU_STRY(mv__cu_plan_get(A->d, n, 1, A->ncell, cb, s, &slot));
    r = cufftSetStream(mv__cu_plans[slot].plan, s);
    if (r == CUFFT_SUCCESS)
        r = cufftExecC2C(mv__cu_plans[slot].plan, (cufftComplex *)grid, (cufftComplex *)grid,
                         inverse ? CUFFT_INVERSE : CUFFT_FORWARD);
    mv__cu_plan_release(slot);
    if (r != CUFFT_SUCCESS)
        return mv_set_error(MV_ERR_CUDA, "mv_cuda_nufft_execute: cufftExecC2C: %s (%d)", mv__cufft_str(r), (int)r);
    return MV_OK;
}

MVCDEF mv_status mv_cuda_nufft_execute(mv_cuda_nufft *p, int adjoint, const void *in, void *out, int64_t ncoils,
                                       mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_nufft_execute";
    cudaStream_t s = (cudaStream_t)stream;
    MV__CU_CHECK(p && in && out, MV_ERR_INVALID_ARG, "%s: NULL %s", fn, !p ? "plan" : !in ? "in" : "out");
    MV__CU_CHECK(ncoils >= 1 && ncoils <= 65536, MV_ERR_INVALID_ARG, "%s: ncoils %lld", fn, (long long)ncoils);
    const mv__cu_nu_args &A = p->a;
    {
        const char *a = (const char *)in, *b = (const char *)out;
        uint64_t ni = (uint64_t)A.nvox * (uint64_t)ncoils * 8, nk = (uint64_t)A.M * (uint64_t)ncoils * 8;
        uint64_t la = adjoint ? nk : ni, lb = adjoint ? ni : nk;
        MV__CU_CHECK(a + la <= b || b + lb <= a, MV_ERR_INVALID_ARG, "%s: in and out overlap", fn);
    }
    float2 *grid = (float2 *)p->grid, *vs = (float2 *)p->vs;
    for (int64_t c0 = 0; c0 < ncoils; c0 += p->cb) {
        const int64_t cb = ncoils - c0 < p->cb ? ncoils - c0 : p->cb;
        if (adjoint) {
            unsigned *vbits = (unsigned *)p->vbits;
            unsigned long long *ig = (unsigned long long *)p->ig;
            const unsigned cy = (unsigned)(cb < 65535 ? cb : 65535);
            int passes;
            size_t shmem;
            mv__cu_nu_tile_launch_shape(A, &passes, &shmem);
            MV__CU_TRY(cudaMemsetAsync(vbits, 0, (size_t)cb * 4, s));
            MV__CU_TRY(cudaMemsetAsync(ig, 0, (size_t)(cb * A.ncell) * 16, s));
            {
                const int64_t gx = (A.M + 255) / 256;
                mv__cu_nu_gather_kernel<<<dim3((unsigned)(gx < MV__CU_NU_GATHER_BLOCKS ? gx : MV__CU_NU_GATHER_BLOCKS), cy),
                                          256, 0, s>>>(A, (const float2 *)in, vs, c0, cb, ncoils, vbits);
            }
            MV__CU_TRY(cudaGetLastError());
            if (A.d == 2) {
                const int t = A.P[0] * A.P[1] <= 128 ? 128 : 256;
                mv__cu_nu_tile2_kernel<<<dim3((unsigned)A.nbins, cy), t, 0, s>>>(A, vs, ig, cb, vbits);
            } else {
                mv__cu_nu_tile_kernel<<<dim3((unsigned)A.nbins, cy), 256, shmem, s>>>(A, vs, ig, cb, vbits, passes);
            }
            MV__CU_TRY(cudaGetLastError());
            mv__cu_nu_unfix_kernel<<<mv__cu_blocks(cb * A.ncell, 256), 256, 0, s>>>(A, ig, grid, cb, vbits);
            MV__CU_TRY(cudaGetLastError());
            mv__cu_nu_spread_kernel<<<dim3(128, cy), 256, 0, s>>>(A, vs, grid, cb, vbits);
            MV__CU_TRY(cudaGetLastError());
            MV__CU_STRY(mv__cu_nu_fft(&A, grid, cb, 1, s));
            mv__cu_nu_deapod_kernel<<<mv__cu_blocks(cb * A.nvox, 256), 256, 0, s>>>(A, (float2 *)out, grid, c0, cb, 1);
            MV__CU_TRY(cudaGetLastError());
        } else {
            MV__CU_TRY(cudaMemsetAsync(grid, 0, (size_t)(cb * A.ncell) * sizeof(float2), s));
            mv__cu_nu_deapod_kernel<<<mv__cu_blocks(cb * A.nvox, 256), 256, 0, s>>>(A, (float2 *)in, grid, c0, cb, 0);
            MV__CU_TRY(cudaGetLastError());
            MV__CU_STRY(mv__cu_nu_fft(&A, grid, cb, 0, s));
            mv__cu_nu_interp_kernel<<<mv__cu_blocks(cb * A.M, 256), 256, 0, s>>>(A, grid, (float2 *)out, c0, cb, ncoils);
            MV__CU_TRY(cudaGetLastError());
        }
    }
    return MV_OK;
}

/* ---- MRI reconstruction: non-Cartesian CG-SENSE (>>cuda-api-recon) ----------
   mv_cgsense_nc_into's solve on the device, frame by frame, the CPU's steps
   in its order (medvol.h: mv__cgs_adjoint, mv__cgs_nc_normal, mv__toep_coil,
   mv__cg_run):
   - the operators are the CPU's: mv_nufft_plan_traj and
     mv_nufft_toeplitz_make with mv_cgsense_plan_make's options (tol
     opts.nufft_tol or 1e-4, the coil count as the batch) are built on the
     host, the NUFFT uploaded as mv_cuda_nufft_plan_create does and the
     Toeplitz kernel khat (mv_nufft_toeplitz_get_kernel) copied as it is;
     the host objects are freed before the solve;
   - b = sum_c conj(S_c) NUFFT^H y_c: mv_cuda_nufft_execute's adjoint into
     the coil buffer, then mv__cu_cg_reduce (the Cartesian's coil sum: the
     CPU's conj(S) products and float32 sum in coil order) over the buffer's
     identity layout (h = 0, yz = 0: coil c at c nvox + i);
   - A^H A p + lambda p = sum_c conj(S_c) T(S_c p) + (float)lambda p, per
     coil: S_c p padded into the low corner of a zeroed 2N grid, cuFFT
     forward (unscaled), times khat (real, every scale folded in), cuFFT
     inverse (unscaled), the low corner copied to the coil buffer, then the
     same mv__cu_cg_reduce. The CPU prunes its transforms to the padding
     (2D 3/4, 3D 7/12 of the work); the device transforms the whole grid
     (cuFFT has no pruned multi-dimensional plan; a per-axis split would
     cost more launches than it saves at these sizes). Only the FFTs'
     rounding differs from the CPU's operator.
   - CG: mv__cu_cg_start / mv__cu_cg_iterate, the Cartesian's driver.
   The 2N grids of one coil batch stay under MV__CU_TP_GRID_BYTES; the
   NUFFT plan gets the same batch. */

#define MV__CU_TP_GRID_BYTES ((int64_t)1 << 30) /* bytes of the 2N grids of one coil batch */

/* the Toeplitz operator's geometry: image N, grid G = 2N (1 stays 1) */
struct mv__cu_tp {
    int64_t N[3], G[3];
    int64_t nvox, ncell;
};

/* grid cell of image voxel i: the image sits in the grid's low corner */
static MV__CU_HD int64_t mv__cu_tp_cell(const mv__cu_tp &t, int64_t i)
{
    const int64_t x = i % t.N[0], y = i / t.N[0] % t.N[1], z = i / (t.N[0] * t.N[1]);
    return (z * t.G[1] + y) * t.G[0] + x;
}

/* grid cell `cell` of one coil before the forward FFT: S x inside the
   image (mv__cmul_c64_ref's product, conj 0; several maps sum_m S_m x_m,
   mv__cu_cg_mix), zero in the padding */
static MV__CU_HD float2 mv__cu_tp_pad(const mv__cu_tp &t, const float2 *x, const float2 *sens, int64_t nmaps,
                                      int64_t mstride, int64_t cell)
{
    const int64_t gx = cell % t.G[0], gy = cell / t.G[0] % t.G[1], gz = cell / (t.G[0] * t.G[1]);
    if (gx >= t.N[0] || gy >= t.N[1] || gz >= t.N[2]) return make_float2(0.0f, 0.0f);
    const int64_t i = (gz * t.N[1] + gy) * t.N[0] + gx;
    return mv__cu_cg_mix(x, sens, t.nvox, nmaps, mstride, i);
}

/* a transformed cell times the real kernel (mv__rmul_c64_ref) */
static MV__CU_HD float2 mv__cu_tp_weight(float2 g, float k) { return make_float2(MV__CU_FMUL(g.x, k), MV__CU_FMUL(g.y, k)); }

/* cuFFT's layout of cb grids: the axes with G > 1, dense, one grid per batch */
static void mv__cu_tp_fft_desc(const mv__cu_tp &t, int64_t cb, mv__cu_cg_fftd *d)
{
    memset(d, 0, sizeof(*d));
    d->N = t.ncell;
    for (int a = 0; a < 3; a++)
        if (t.G[a] > 1) d->n[d->rank++] = (int)t.G[a];
    d->stride = 1;
    d->dist = t.ncell;
    d->batch = cb;
}

/* threads over (coil of the batch, grid cell) */
static __global__ void mv__cu_tp_pad_kernel(mv__cu_tp t, const float2 *__restrict__ x, const float2 *__restrict__ sens,
                                            int64_t sstride, int64_t nmaps, int64_t mstride, int64_t cb,
                                            float2 *__restrict__ grid)
{
    const int64_t n = cb * t.ncell;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        grid[j] = mv__cu_tp_pad(t, x, sens + j / t.ncell * sstride, nmaps, mstride, j % t.ncell);
}

static __global__ void mv__cu_tp_weight_kernel(mv__cu_tp t, const float *__restrict__ khat, int64_t cb,
                                               float2 *__restrict__ grid)
{
    const int64_t n = cb * t.ncell;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        grid[j] = mv__cu_tp_weight(grid[j], khat[j % t.ncell]);
}

/* threads over (coil of the batch, voxel): the low corner into the coil buffer */
static __global__ void mv__cu_tp_crop_kernel(mv__cu_tp t, const float2 *__restrict__ grid, int64_t cb,
                                             float2 *__restrict__ coil)
{
    const int64_t n = cb * t.nvox;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x)
        coil[j] = grid[j / t.nvox * t.ncell + mv__cu_tp_cell(t, j % t.nvox)];
}

/* cb grids transformed in place, unscaled (a plan from the cache per call, as the NUFFT's) */
static mv_status mv__cu_tp_fft(const mv__cu_tp &t, float2 *grid, int64_t cb, int dir, cudaStream_t s)
{
    mv__cu_cg_fftd d;
    cufftResult r;
    int slot = -1;
    mv__cu_tp_fft_desc(t, cb, &d);
    MV__CU_STRY(mv__cu_plan_get(d.rank, d.n, d.stride, d.dist, d.batch, s, &slot));
    r = cufftSetStream(mv__cu_plans[slot].plan, s);
    if (r == CUFFT_SUCCESS) r = cufftExecC2C(mv__cu_plans[slot].plan, (cufftComplex *)grid, (cufftComplex *)grid, dir);
    mv__cu_plan_release(slot);
    if (r != CUFFT_SUCCESS)
        return mv_set_error(MV_ERR_CUDA, "mv_cuda_cgsense_nc_into: cufftExecC2C: %s (%d)", mv__cufft_str(r), (int)r);
    return MV_OK;
}

/* one trajectory's device operators */
struct mv__cu_cgnc {
    mv__cu_tp t;
    mv__cu_cg g;       /* the coil buffer for mv__cu_cg_reduce: identity layout */
    mv_cuda_nufft *nu; /* the adjoint NUFFT */
    float *khat;       /* ncell reals */
    float2 *grid;      /* cb 2N grids */
    int64_t cb;        /* coils per Toeplitz batch */
};

static void mv__cu_cgnc_free(mv__cu_cgnc *op, cudaStream_t s)
{
    mv_cuda_nufft_plan_free(op->nu, s);
    if (op->khat) cudaFreeAsync(op->khat, s);
    if (op->grid) cudaFreeAsync(op->grid, s);
    op->nu = NULL;
    op->khat = NULL;
    op->grid = NULL;
}

/* the Toeplitz geometry and the coil batch from the CPU operator's kernel
   (op->g.nc set) */
static mv_status mv__cu_cgnc_geometry(mv__cu_cgnc *op, const mv_nufft_toeplitz_kernel &K)
{
    const int64_t nc = op->g.nc;
    MV__CU_CHECK(K.ncell2 <= (int64_t)INT32_MAX, MV_ERR_UNSUPPORTED,
                 "mv_cuda_cgsense_nc_into: a 2N grid of %lld cells (cuFFT's plans take int distances)", (long long)K.ncell2);
    for (int a = 0; a < 3; a++) {
        op->t.N[a] = K.N[a];
        op->t.G[a] = K.N2[a];
    }
    op->t.nvox = K.N[0] * K.N[1] * K.N[2];
    op->t.ncell = K.ncell2;
    op->cb = MV__CU_TP_GRID_BYTES / (K.ncell2 * (int64_t)sizeof(float2));
    op->cb = op->cb < 1 ? 1 : op->cb > nc ? nc : op->cb;
    return MV_OK;
}

/* the device operators from the CPU's NUFFT plan and Toeplitz kernel.
   Waits (khat is uploaded from the host operator's pageable memory). */
static mv_status mv__cu_cgnc_upload(mv__cu_cgnc *op, const mv_nufft_plan *cpu, const mv_nufft_toeplitz_kernel &K,
                                    cudaStream_t s)
{
    MV__CU_STRY(mv__cu_cgnc_geometry(op, K));
    MV__CU_STRY(mv_cuda_nufft_plan_create(cpu, &op->nu, op->cb, s));
    MV__CU_TRY(cudaMallocAsync((void **)&op->khat, (size_t)K.ncell2 * sizeof(float), s));
    MV__CU_TRY(cudaMallocAsync((void **)&op->grid, (size_t)(op->cb * K.ncell2) * sizeof(float2), s));
    MV__CU_TRY(cudaMemcpyAsync(op->khat, K.khat, (size_t)K.ncell2 * sizeof(float), cudaMemcpyHostToDevice, s));
    MV__CU_TRY(cudaStreamSynchronize(s)); /* khat is the host operator's: wait before it goes */
    return MV_OK;
}

/* the options mv_cgsense_plan_make gives the NUFFT plan and the Toeplitz
   operator (the tol changes setup work only: the iterations cost the same) */
static mv_nufft_opts mv__cu_cgnc_nufft_opts(const mv_cg_opts *o, int64_t nc)
{
    mv_nufft_opts no;
    memset(&no, 0, sizeof(no));
    no.tol = o->nufft_tol ? o->nufft_tol : 1e-4;
    no.coils = nc;
    no.threads = o->threads;
    no.alloc_ctx = o->alloc_ctx;
    return no;
}

/* the device operators of trajectory traj (3, X, Y) for images dims and
   op->g.nc coils: the CPU's, made on the host, uploaded, freed there */
static mv_status mv__cu_cgnc_make(mv__cu_cgnc *op, const mv_vol *traj, const int64_t dims[3], const mv_cg_opts *o,
                                  cudaStream_t s)
{
    const mv_nufft_opts no = mv__cu_cgnc_nufft_opts(o, op->g.nc);
    mv_nufft_plan *cpu = NULL;
    mv_nufft_toeplitz *toep = NULL;
    mv_nufft_toeplitz_kernel K;
    mv_status st;
    st = mv_nufft_plan_traj(&cpu, dims, traj, &no);
    if (st == MV_OK) st = mv_nufft_toeplitz_make(&toep, cpu, NULL, &no);
    if (st == MV_OK) st = mv_nufft_toeplitz_get_kernel(toep, &K);
    if (st == MV_OK) st = mv__cu_cgnc_upload(op, cpu, K, s);
    mv_nufft_toeplitz_free(toep);
    mv_nufft_plan_free(cpu);
    return st;
}

/* the normal operator of one frame as a mv__cu_cg_normal_fn */
struct mv__cu_cgnc_call {
    const mv__cu_cgnc *op;
    const mv__cu_cg_bufs *b;
    const float2 *sens; /* the frame's maps */
    float lam;
    int lam_on;
};

static mv_status mv__cu_cgnc_normal(void *user, const float2 *p, float2 *y, cudaStream_t s)
{
    const mv__cu_cgnc_call *c = (const mv__cu_cgnc_call *)user;
    const mv__cu_cgnc &op = *c->op;
    const int threads = 256;
    for (int64_t c0 = 0; c0 < op.g.nc; c0 += op.cb) {
        const int64_t cb = op.g.nc - c0 < op.cb ? op.g.nc - c0 : op.cb;
        mv__cu_tp_pad_kernel<<<mv__cu_blocks(cb * op.t.ncell, threads), threads, 0, s>>>(
            op.t, p, c->sens + c0 * op.g.sstride, op.g.sstride, op.g.nmaps, op.g.mstride, cb, op.grid);
        MV__CU_TRY(cudaGetLastError());
        MV__CU_STRY(mv__cu_tp_fft(op.t, op.grid, cb, CUFFT_FORWARD, s));
        mv__cu_tp_weight_kernel<<<mv__cu_blocks(cb * op.t.ncell, threads), threads, 0, s>>>(op.t, op.khat, cb, op.grid);
        MV__CU_TRY(cudaGetLastError());
        MV__CU_STRY(mv__cu_tp_fft(op.t, op.grid, cb, CUFFT_INVERSE, s));
        mv__cu_tp_crop_kernel<<<mv__cu_blocks(cb * op.t.nvox, threads), threads, 0, s>>>(op.t, op.grid, cb,
                                                                                       c->b->buf + c0 * op.t.nvox);
        MV__CU_TRY(cudaGetLastError());
    }
    mv__cu_cg_reduce_kernel<<<mv__cu_blocks(op.g.nmaps * op.t.nvox, threads), threads, 0, s>>>(
        c->b->buf, c->sens, p, y, op.g, 1.0f, c->lam_on, c->lam);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* one frame: b = A^H y into r, then the CG loop with x in place in out */
static mv_status mv__cu_cgnc_item(const mv__cu_cgnc &op, const mv__cu_cg_bufs &b, const float2 *k, const float2 *sens,
                                  float2 *x, const mv_cg_opts *o, int *iters, cudaStream_t s)
{
    const int threads = 256;
    const int64_t nimg = op.g.nmaps * op.t.nvox;
    mv__cu_cg_scalars h;
    mv__cu_cgnc_call call;
    *iters = 0;
    MV__CU_STRY(mv_cuda_nufft_execute(op.nu, 1, k, b.buf, op.g.nc, s));
    mv__cu_cg_reduce_kernel<<<mv__cu_blocks(nimg, threads), threads, 0, s>>>(b.buf, sens, NULL, b.r, op.g, 1.0f, 0, 0.0f);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_STRY(mv__cu_cg_start(b, x, nimg, &h, s));
    call.op = &op;
    call.b = &b;
    call.sens = sens;
    call.lam_on = o->lambda != 0;
    call.lam = (float)o->lambda;
    return mv__cu_cg_iterate(mv__cu_cgnc_normal, &call, b, x, nimg, h.rs, o, iters, "mv_cuda_cgsense_nc_into", s);
}

/* the shapes of mv_cgsense_nc_into (medvol.h's mv__cgs_nc_check): frames,
   whether the trajectory has one per frame, and what out must hold */
struct mv__cu_cgnc_shape {
    int64_t frames, per_frame, nc, M, dims[3], nzs;
    int64_t nmaps; /* ESPIRiT maps (sens dims[4]) */
};

static mv_status mv__cu_cgnc_check(const mv_vol *traj, const mv_cuda_vol *kspace, const mv_cuda_vol *sens,
                                   const mv_cuda_vol *out, const mv_cg_opts *o, mv__cu_cgnc_shape *sh, const char *fn)
{
    const mv_vol *k = &kspace->vol, *se = &sens->vol;
    int a;
    MV__CU_CHECK(traj != NULL, MV_ERR_INVALID_ARG, "%s: traj is NULL", fn);
    MV__CU_CHECK(traj->data != NULL && traj->ndim >= 1 && traj->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
                 "%s: traj has no data or ndim %d", fn, traj->ndim);
    MV__CU_STRY(mv__cu_check_vol(kspace, fn, "kspace"));
    MV__CU_STRY(mv__cu_check_vol(sens, fn, "sens"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "out"));
    MV__CU_CHECK(traj->dtype == MV_DT_C64, MV_ERR_UNSUPPORTED, "%s: traj is %s (complex64, host memory)", fn,
                 mv_dtype_name(traj->dtype));
    MV__CU_CHECK(k->dtype == MV_DT_C64 && se->dtype == MV_DT_C64, MV_ERR_UNSUPPORTED, "%s: complex64 kspace and sens", fn);
    MV__CU_CHECK(out->vol.dtype == MV_DT_C64, MV_ERR_INVALID_ARG, "%s: out is %s, complex64 needed", fn,
                 mv_dtype_name(out->vol.dtype));
    MV__CU_CHECK(mv__cu_dim(traj, 0) == 3 && mv__cu_dim(traj, 3) == 1, MV_ERR_INVALID_ARG,
                 "%s: traj dims (%lld, ., ., %lld): (3, X, Y, 1, frames...) needed", fn, (long long)mv__cu_dim(traj, 0),
                 (long long)mv__cu_dim(traj, 3));
    MV__CU_CHECK(mv__cu_dim(k, 0) == 1 && mv__cu_dim(k, 1) == mv__cu_dim(traj, 1) && mv__cu_dim(k, 2) == mv__cu_dim(traj, 2),
                 MV_ERR_INVALID_ARG, "%s: kspace dims (%lld, %lld, %lld) do not match the trajectory's (1, %lld, %lld)", fn,
                 (long long)mv__cu_dim(k, 0), (long long)mv__cu_dim(k, 1), (long long)mv__cu_dim(k, 2),
                 (long long)mv__cu_dim(traj, 1), (long long)mv__cu_dim(traj, 2));
    sh->nc = mv__cu_dim(k, 3);
    MV__CU_STRY(mv__cu_cg_maps_of(se, fn, &sh->nmaps));
    MV__CU_CHECK(mv__cu_dim(se, 3) == sh->nc, MV_ERR_INVALID_ARG, "%s: sens has %lld coils, kspace %lld", fn,
                 (long long)mv__cu_dim(se, 3), (long long)sh->nc);
    sh->per_frame = 0;
    for (a = 4; a < MV_MAX_DIMS; a++)
        if (mv__cu_dim(traj, a) > 1) sh->per_frame = 1;
    sh->frames = 1;
    for (a = 4; a < MV_MAX_DIMS; a++) {
        MV__CU_CHECK(!sh->per_frame || mv__cu_dim(traj, a) == mv__cu_dim(k, a), MV_ERR_INVALID_ARG,
                     "%s: traj dims[%d] = %lld, kspace has %lld (one trajectory, or one per frame)", fn, a,
                     (long long)mv__cu_dim(traj, a), (long long)mv__cu_dim(k, a));
        sh->frames *= mv__cu_dim(k, a);
    }
    MV__CU_CHECK(!o->slices || mv__cu_dim(k, 4) == mv__cu_dim(se, 2), MV_ERR_INVALID_ARG,
                 "%s: opts.slices: kspace dims[4] = %lld slices, sens has %lld", fn, (long long)mv__cu_dim(k, 4),
                 (long long)mv__cu_dim(se, 2));
    sh->M = mv__cu_dim(traj, 1) * mv__cu_dim(traj, 2);
    sh->dims[0] = mv__cu_dim(se, 0);
    sh->dims[1] = mv__cu_dim(se, 1);
    sh->dims[2] = o->slices ? 1 : mv__cu_dim(se, 2);
    sh->nzs = o->slices ? mv__cu_dim(se, 2) : 1;
    {
        const int64_t per = sh->dims[0] * sh->dims[1] * sh->dims[2];
        MV__CU_CHECK(mv__cu_dim(&out->vol, 0) == sh->dims[0] && mv__cu_dim(&out->vol, 1) == sh->dims[1] &&
                         mv__cu_dim(&out->vol, 2) == mv__cu_dim(se, 2) &&
                         (sh->nmaps == 1 || mv__cu_dim(&out->vol, 3) == sh->nmaps) &&
                         mv_vol_count(&out->vol) == per * sh->nmaps * sh->frames,
                     MV_ERR_INVALID_ARG, "%s: out must be c64 (%lld, %lld, %lld%s) x %lld frames", fn, (long long)sh->dims[0],
                     (long long)sh->dims[1], (long long)mv__cu_dim(se, 2), sh->nmaps > 1 ? ", maps" : "",
                     (long long)(sh->frames / (o->slices ? mv__cu_dim(se, 2) : 1)));
    }
    return MV_OK;
}

/* frame f of a trajectory (3, X, Y, 1, frames...) as a (3, X, Y) view
   (medvol.h's mv__cgs_traj_frame); f = 0 of a shared one is all of it */
static mv_vol mv__cu_traj_frame(const mv_vol *traj, int64_t f)
{
    mv_vol v = *traj;
    v.ndim = 3;
    for (int a = 0; a < MV_MAX_DIMS; a++) v.dim[a] = a < 3 ? mv__cu_dim(traj, a) : 1;
    v.data = (unsigned char *)traj->data + (size_t)f * (size_t)(3 * mv__cu_dim(traj, 1) * mv__cu_dim(traj, 2)) * 8;
    v.flags = 0;
    return v;
}

MVCDEF mv_status mv_cuda_cgsense_nc_into(const mv_vol *traj, const mv_cuda_vol *kspace, const mv_cuda_vol *sens,
                                         mv_cuda_vol *out, mv_cg_opts *opts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_cgsense_nc_into";
    cudaStream_t s = (cudaStream_t)stream;
    mv_cg_opts to;
    mv_cg_opts *o = opts;
    mv__cu_cgnc_shape sh;
    mv__cu_cgnc op;
    mv__cu_cg_bufs b;
    int64_t f, nvox, nzw, total = 0;
    mv_status st = MV_OK;
    if (!o) {
        memset(&to, 0, sizeof(to));
        o = &to;
    }
    MV__CU_STRY(mv__cu_cgnc_check(traj, kspace, sens, out, o, &sh, fn));
    MV__CU_STRY(mv__cu_cg_check_opts(o, fn));
    o->iterations_done = 0;
    nvox = sh.dims[0] * sh.dims[1] * sh.dims[2];
    nzw = o->slices ? sh.nzs : 1;
    MV__CU_CHECK((sh.nmaps * nvox + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK <= INT32_MAX, MV_ERR_UNSUPPORTED,
                 "%s: %lld voxels x %lld maps: too many for one dot-product grid", fn, (long long)nvox,
                 (long long)sh.nmaps);
    memset(&op, 0, sizeof(op));
    op.g.n[0] = sh.dims[0];
    op.g.n[1] = sh.dims[1];
    op.g.n[2] = sh.dims[2];
    op.g.nvox = nvox;
    op.g.nc = sh.nc;
    op.g.sstride = mv__cu_dim(&sens->vol, 0) * mv__cu_dim(&sens->vol, 1) * mv__cu_dim(&sens->vol, 2);
    op.g.nmaps = sh.nmaps;
    op.g.mstride = op.g.sstride * sh.nc;
    memset(&b, 0, sizeof(b));
    b.slot[0] = b.slot[1] = -1;
    st = mv__cu_cg_bufs_alloc(&b, sh.nmaps * nvox, sh.nmaps > 1 && nzw > 1, sh.nc * nvox, 0,
                              "mv_cuda_cgsense_nc_into: cudaMallocAsync", s);
    /* frames in the CPU's order; a trajectory per frame makes operators per frame */
    for (f = 0; st == MV_OK && f < sh.frames; f++) {
        int iters = 0;
        if (f == 0 || sh.per_frame) {
            const mv_vol tv = mv__cu_traj_frame(traj, sh.per_frame ? f : 0);
            mv__cu_cgnc_free(&op, s);
            st = mv__cu_cgnc_make(&op, &tv, sh.dims, o, s);
            if (st != MV_OK) break;
        }
        st = mv__cu_cgnc_item(op, b, (const float2 *)kspace->vol.data + f * sh.M * sh.nc,
                              (const float2 *)sens->vol.data + (f % sh.nzs) * nvox,
                              b.x ? b.x : mv__cu_cg_place((float2 *)out->vol.data, f, nzw, sh.nmaps, nvox, 0), o, &iters, s);
        if (b.x && (st == MV_OK || st == MV_ERR_CANCELLED)) { /* a cancelled frame's last iterate too, as in place */
            const mv_status sc = mv__cu_cg_scatter(b.x, (float2 *)out->vol.data, f, nzw, sh.nmaps, nvox, s);
            if (st == MV_OK) st = sc;
        }
        total += iters;
    }
    o->iterations_done = (int)(total < (int64_t)INT32_MAX ? total : (int64_t)INT32_MAX);
    mv__cu_cgnc_free(&op, s);
    mv__cu_cg_bufs_free(&b, s);
    return st;
}

#endif /* MEDVOL_CUDA_IMPLEMENTATION */
