/* medvol_cuda.h - v0.2.0 - the CUDA companion of medvol.h - MIT licence (see medvol.h)

   STATUS: run on an NVIDIA H100 (sm_90, CUDA 13.0, 2026-11-22): every kernel
   against the CPU path (tests/test_cuda.cu: 10 groups pass; every kernel and
   template instantiation in the binary launched by them), compute-sanitizer
   memcheck and racecheck clean, profiled (examples/profile_cuda.cu; the
   numbers and the targets missed are in README.md's CUDA section).
   scripts/gpu_check.sh repeats the whole session in one command.

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
      >>cuda-api-resample   nearest and trilinear resampling
      >>cuda-api-filter     Gaussian smoothing (the CPU's FIR, bit for bit)
      >>cuda-api-fft        fftshift, centred 3D FFT through cuFFT
      >>cuda-api-mri        RSS, sensitivity-weighted coil combination, density compensation
      >>cuda-api-field      displacement fields: warp, compose, smooth (the CPU's bits)
      >>cuda-api-recon      GRAPPA application (cuFFT readouts, the CPU's unmixing sums),
                            Cartesian CG-SENSE (cuFFT normal operator, fixed-order dot products)
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
   returns numbers, mv_cuda_cgsense_into, whose host reads two scalars per
   CG iteration). Statistics needed by z-normalize and rescale are
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
     input's largest magnitude. Cubic: not yet (MV_ERR_UNSUPPORTED).
   - centred FFT: fftshift(fftn(ifftshift(x))) (inverse: ifftn), ortho,
     through cuFFT; relative RMS error against a float64 DFT <= 1e-5.
     Even lengths: one pass before cuFFT, z[m] = (-1)^(sum m) x[m + n/2]
     times the ortho scale (see mv__cu_shift_sign); odd lengths: phase ramps
     before and after.
   - RSS and coil combination accumulate in float32 in coil order without
     FMA, as the CPU code under review does: <= 2 ulp.
   - Gaussian (mv_cuda_gaussian): the CPU FIR's float32 arithmetic in its
     order, no FMA: the same bits as mv_gaussian with method FIR (checked on
     the host by tests/test_cuda_host.cu; the GPU group `gaussian` of
     tests/test_cuda.cu has not run on a GPU yet). No recursive filter.
   - GRAPPA application (mv_cuda_grappa_apply_into): acquired lines the
     CPU's bytes; w(x) the CPU's bytes (host-checked against
     mv_grappa_column_weights); predicted samples differ from
     mv_grappa_apply_into only through the readout FFTs (cuFFT against the
     CPU's FFT): max |gpu - cpu| <= 1e-4 max |cpu|, relative RMS <= 1e-5.
     The host emulation with a float64 DFT in cuFFT's place came to 1.5e-7
     of the peak (tests/test_cuda_host.cu); not yet run on a GPU.
   - Cartesian CG-SENSE (mv_cuda_cgsense_into): the CPU's mask, products and
     float32 coil sums in its order (no FMA), cuFFT for its FFTs, CG dot
     products in float64 in a fixed chunk / lane / tree order (the same
     bytes on every run). Against mv_cgsense_into: the same iteration
     counts, image relative RMS <= 1e-5 for regularised or well-conditioned
     solves; unregularised ill-conditioned solves of many iterations drift
     further, as any two float32 CG runs do (5e-4 allowed for 3D R = 2 x 2,
     30 iterations, lambda 0). Host emulation with a float64 DFT: A^H y and
     one normal operator <= 1.7e-7, solves 1e-6 .. 3.9e-6 (5.6e-5 for that
     drift case); not yet run on a GPU.

NOT YET (each returns MV_ERR_UNSUPPORTED or is absent): non-Cartesian
CG-SENSE (mv_cgsense_nc: the NUFFT's spreading and interpolation, the
Toeplitz operator), the Cartesian solve's items side by side (it solves one
slice or volume at a time, with a host round trip per iteration: fine for
256^2 x 8 coils and up, launch-bound for many small slices), chunked series
(mv_cgsense_run's callbacks), GRAPPA calibration and g-factor (the calibration is made
on the host by mv_grappa_calibrate), SENSE unfolding,
the recursive Gaussian, derivatives and box filters, registration metrics,
displacement fields, morphology, transport, cubic resampling, percentile rescale, f128/complex/RGB
conversion, in-place fftshift. Speed targets missed on the H100 (README):
the statistics reduction (0.38 of memcpy: latency-bound float64 sums),
z-normalize / rescale (0.46: two reads of the input), trilinear (0.35 of
the output's memcpy: float64 coordinates), the centred FFT (1.33x bare
cuFFT: one pass of its own; a cuFFT LTO load callback would hide it, at
the cost of nvrtc and nvJitLink at run time).

VERSION HISTORY
   next   mv_cuda_gaussian[_into] (exact FIR, every scipy mode; host-checked,
          not yet run on a GPU); mv_cuda_field_warp_into / _compose_into /
          _smooth_into (the CPU's bits; host-checked, not yet run on a GPU);
          mv_cuda_grappa_apply_into (GRAPPA application: cuFFT readouts,
          w(x) and the unmixing with the CPU's float32 sums; host-checked,
          not yet run on a GPU); mv_cuda_cgsense_into (Cartesian CG-SENSE:
          the CPU's normal operator around cuFFT, CG with fixed-order
          float64 dot products; host-checked, not yet run on a GPU).
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
   affine, scaling, NIfTI fields). vol.meta has no extensions (n_ext 0).
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
    int interp;             /* MV_CUDA_INTERP_LINEAR (default) or _NEAREST */
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
   input axis). Any dtype; opts->fill as the CPU stores it (complex and RGB
   pads are zero, as on the CPU). Flips of axes beyond 2: MV_ERR_UNSUPPORTED.
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
   The output affine is the input's times the voxel map. Linear resamples
   scaled float32 values into float32 (or opts->dtype); nearest copies
   stored values when the dtype is kept. */
MVCDEF mv_status mv_cuda_resample_shape(const mv_cuda_vol *in, mv_cuda_vol *out, const int64_t shape[3],
                                        const mv_cuda_resample_opts *opts, mv_cuda_stream stream);
/* Caller buffer: out->vol.data (dims: the grid, then the input's other
   dims) sampled at input voxel vox_map * (i, j, k, 1). Writes the data only. */
MVCDEF mv_status mv_cuda_resample_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double vox_map[4][4],
                                       const mv_cuda_resample_opts *opts, mv_cuda_stream stream);

/* >>cuda-api-filter ======================================================= */

/* mv_gaussian / mv_gaussian_into on the device (scipy gaussian_filter, every
   mode, truncate, sigma in voxels or mm): the exact FIR at every sigma, with
   the CPU FIR's float32 arithmetic in the CPU's order (values read as
   float32 as the CPU reads them; passes x, y, z; per output w0 c + sum over
   k = 1..r of w_k (c[-k] + c[+k]), no FMA), so the result equals the CPU's
   FIR bit for bit (opts->method MV_FILTER_FIR on the CPU; AUTO switches the
   CPU to the recursive filter above MV_FILTER_RECURSIVE_SIGMA).
   opts->method MV_FILTER_RECURSIVE: MV_ERR_UNSUPPORTED; progress is not
   called (one call is a few kernel launches). Weights from
   mv_gaussian_kernel. _into: out is a float32 device volume of in's dims and
   may be in itself (float32 in). allocates: device scratch of one volume
   (stream-ordered), and out for mv_cuda_gaussian. */
MVCDEF mv_status mv_cuda_gaussian_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                       const mv_filter_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_gaussian(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                  const mv_filter_opts *opts, mv_cuda_stream stream);

/* >>cuda-api-fft =========================================================== */

/* numpy.fft.fftshift (inverse 0) / ifftshift (inverse 1) over the axes in
   the mask (bits 0..2), any dtype, out of place (out: same dtype and dims;
   in place is MV_ERR_INVALID_ARG). mv_cuda_fftshift allocates out. */
MVCDEF mv_status mv_cuda_fftshift_into(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                       mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_fftshift(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
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
   moving image's dtype (stored values); cubic is MV_ERR_UNSUPPORTED.
   out: a device volume with the field's first three dims and the moving
   image's further dims. mv_cuda_field_compose_into: mv_field_compose_into
   (out(p) = d2(p) + d1(p + d2(p)); out on d2's grid, may be d2, not d1).
   mv_cuda_field_smooth_into: mv_field_smooth_into, i.e. mv_cuda_gaussian_into
   on every component (equal to the CPU where the CPU runs its FIR: sigma
   up to MV_FILTER_RECURSIVE_SIGMA or opts->method MV_FILTER_FIR).
   Stream-ordered; allocate nothing but the Gaussian's scratch. */
MVCDEF mv_status mv_cuda_field_warp_into(const mv_cuda_vol *moving, const mv_cuda_vol *field, const double matrix[4][4],
                                         mv_cuda_vol *out, const mv_field_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_field_compose_into(const mv_cuda_vol *d1, const mv_cuda_vol *d2, mv_cuda_vol *out,
                                            const mv_field_opts *opts, mv_cuda_stream stream);
MVCDEF mv_status mv_cuda_field_smooth_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                           const mv_filter_opts *fopts, mv_cuda_stream stream);

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
   (one map), out c64 (x, y, z, batch...), all device memory; opts as the
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
   5.6e-5 in the emulation; the test allows 5e-4). Waits: the
   host reads two scalars per iteration (p.Ap and r.r: one stream
   synchronisation each iteration) to test for the stop and to call
   opts.progress, which is called after every iteration of every item with
   (iteration, ||r||), as the CPU calls it when items run one at a time
   (opts.threads 1 or a single item); nonzero cancels: MV_ERR_CANCELLED, out
   holding the cancelled item's last iterate. opts.iterations_done: the sum
   over items. allocates: stream-ordered scratch (C + 3 image vectors of one
   item, its mask, a few KiB of partials), cuFFT plans (kept in the plan
   cache). MV_ERR_UNSUPPORTED: C x item voxels beyond 2^31 - 1 (one 32-bit
   cuFFT plan). thread-safe: yes (opts per call). */
MVCDEF mv_status mv_cuda_cgsense_into(const mv_cuda_vol *kspace, const mv_cuda_vol *sens, mv_cuda_vol *out,
                                      mv_cg_opts *opts, mv_cuda_stream stream);

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
   no host ownership fields). */
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

/* NIfTI scaling as medvol applies it (slope 0 or non-finite: none). */
static mv_status mv__cu_scaling(const mv_vol *v, int raw, int *active, double *slope, double *inter)
{
    double s = v->meta.scl_slope, i = v->meta.scl_inter;
    *active = 0;
    *slope = 1;
    *inter = 0;
    if (raw || s == 0 || !isfinite(s)) return MV_OK;
    MV__CU_CHECK(isfinite(i), MV_ERR_BAD_HEADER, "scl_slope %g is valid but scl_inter is %g", s, i);
    *slope = s;
    *inter = i;
    *active = !(s == 1.0 && i == 0.0);
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
#else
#define MV__CU_FMUL(a, b) ((a) * (b))
#define MV__CU_FADD(a, b) ((a) + (b))
#define MV__CU_FSUB(a, b) ((a) - (b))
#define MV__CU_DMUL(a, b) ((a) * (b))
#define MV__CU_DADD(a, b) ((a) + (b))
#define MV__CU_DSUB(a, b) ((a) - (b))
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
    if (opts && opts->scaled) MV__CU_STRY(mv__cu_scaling(&src->vol, 0, &active, &slope, &inter));
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
    MV__CU_STRY(mv__cu_scaling(&v->vol, opts && opts->raw, &active, &slope, &inter));
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
    MV__CU_STRY(mv__cu_scaling(&in->vol, o.raw, &active, &slope, &inter));
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

/* The fill value as one stored element, as the CPU's moves write it:
   converted like a float64 value (round half to even, saturate) for real
   dtypes; complex and RGB pads are zero bytes whatever the fill (the CPU's
   mv__put_f64 writes nothing for them: mirrored, not endorsed). */
static mv_status mv__cu_fill_bytes(double fill, mv_dtype dt, unsigned char *b)
{
    memset(b, 0, 16);
    if (mv_dtype_is_complex(dt) || dt == MV_DT_RGB24 || dt == MV_DT_RGBA32) return MV_OK;
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
    MV__CU_CHECK(o->interp == MV_CUDA_INTERP_LINEAR || o->interp == MV_CUDA_INTERP_NEAREST, MV_ERR_UNSUPPORTED,
                 "%s: interpolation %d (cubic is not on the GPU yet)", fn, o->interp);
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
    if (!m->linear && odt == idt) { /* stored values, any dtype */
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
    MV__CU_STRY(mv__cu_scaling(&in->vol, o->raw, &active, &slope, &inter));
    {
        float *f32 = (float *)out->vol.data;
        float fillf = (float)o->fill;
        if (odt != MV_DT_F32) MV__CU_TRY(cudaMallocAsync((void **)&f32, (size_t)count * sizeof(float), s));
        MV__CU_CASE_REAL(idt, S, {
            if (m->separable)
                mv__cu_resample_sep_kernel<S><<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const S *)in->vol.data, f32, *m, active, slope,
                                                                   inter, fillf);
            else
                mv__cu_resample_kernel<S><<<grid, MV__CU_ROW_BLOCK, 0, s>>>((const S *)in->vol.data, f32, *m, active, slope, inter,
                                                               fillf);
            st = MV_OK;
        })
        if (st == MV_OK) {
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
   elements at `line` with `stride`, weights w[0..r] of a symmetric kernel.
   Interior outputs read their taps directly; those near an end go through
   the extension. The CPU's mv__fl_line_ref order: w0 c, then + w_k (c[-k] +
   c[+k]) for k = 1..r, each product and sum rounded to float32. */
static MV__CU_HD float mv__cu_fl_fir_at(const float *line, int64_t stride, int64_t i, int64_t n, const float *w, int r,
                                        int mode, float cval)
{
    float acc = MV__CU_FMUL(w[0], line[i * stride]);
    if (i >= r && i + r < n) {
        for (int k = 1; k <= r; k++)
            acc = MV__CU_FADD(acc, MV__CU_FMUL(w[k], MV__CU_FADD(line[(i - k) * stride], line[(i + k) * stride])));
    } else {
        for (int k = 1; k <= r; k++) {
            int64_t lo = mv__cu_fl_ext(i - k, n, mode), hi = mv__cu_fl_ext(i + k, n, mode);
            float a = lo < 0 ? cval : line[lo * stride], b = hi < 0 ? cval : line[hi * stride];
            acc = MV__CU_FADD(acc, MV__CU_FMUL(w[k], MV__CU_FADD(a, b)));
        }
    }
    return acc;
}

/* One axis pass over every frame: out = FIR along `axis` of in (both
   float32, dims n[0..2] x frames). One thread per output voxel, rows of x
   across a warp: the taps of the y and z passes are coalesced row reads. */
static __global__ void mv__cu_fl_pass_kernel(const float *__restrict__ in, float *__restrict__ out, int64_t n0, int64_t n1,
                                             int64_t n2, int64_t frames, int axis, const float *__restrict__ w, int r,
                                             int mode, float cval)
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
            out[base + x] = mv__cu_fl_fir_at(in + base + x - i * stride, stride, i, n, w, r, mode, cval);
        }
    }
}

/* The per-axis kernels of a Gaussian call: radius and weights (host), as
   the CPU sets them up; n_axes of them active. */
typedef struct mv__cu_fl_plan {
    int r[3];
    float *w[3]; /* host weights, MV__CU_FL_MAXW each */
    int active[3];
} mv__cu_fl_plan;
#define MV__CU_FL_MAXR 4096

static mv_status mv__cu_fl_setup(const mv_vol *in, const double sigma[3], const mv_filter_opts *o, float *wbuf,
                                  mv__cu_fl_plan *p, const char *fn)
{
    const double truncate = o->truncate > 0 ? o->truncate : 4.0;
    int a;
    MV__CU_CHECK(sigma != NULL, MV_ERR_INVALID_ARG, "%s: sigma is NULL", fn);
    MV__CU_CHECK(isfinite(o->truncate) && o->truncate >= 0, MV_ERR_INVALID_ARG, "%s: truncate %g", fn, o->truncate);
    MV__CU_CHECK((unsigned)o->mode <= (unsigned)MV_BOUNDARY_WRAP, MV_ERR_INVALID_ARG, "%s: mode %d", fn, (int)o->mode);
    MV__CU_CHECK(o->method != MV_FILTER_RECURSIVE, MV_ERR_UNSUPPORTED,
                 "%s: the recursive Gaussian is not on the GPU (its FIR is exact at every sigma)", fn);
    MV__CU_CHECK(o->method == MV_FILTER_AUTO || o->method == MV_FILTER_FIR, MV_ERR_INVALID_ARG, "%s: method %d", fn,
                 o->method);
    for (a = 0; a < 3; a++) {
        double s = sigma[a];
        MV__CU_CHECK(isfinite(s) && s >= 0, MV_ERR_INVALID_ARG, "%s: sigma[%d] = %g (must be finite and >= 0)", fn, a, s);
        if (o->sigma_in_mm && s > 0) {
            double sp = a < in->ndim ? in->spacing[a] : 1.0;
            MV__CU_CHECK(isfinite(sp) && sp > 0, MV_ERR_INVALID_ARG, "%s: sigma in mm needs spacing[%d] > 0 (it is %g)",
                         fn, a, sp);
            s /= sp;
        }
        p->w[a] = wbuf + (size_t)a * (MV__CU_FL_MAXR + 1);
        p->active[a] = 0;
        p->r[a] = 0;
        /* scipy skips sigma <= 1e-15; an axis of length 1 is unchanged but by
           the constant mode (the CPU skips it too: no float32 rounding of
           c (w0 + 2 sum w_k)) */
        if (s > 1e-15 && (mv__cu_dim(in, a) > 1 || o->mode == MV_BOUNDARY_CONSTANT)) {
            int r = 0;
            MV__CU_STRY(mv_gaussian_kernel(s, 0, truncate, NULL, 0, &r));
            MV__CU_CHECK(r <= MV__CU_FL_MAXR, MV_ERR_INVALID_ARG, "%s: sigma[%d] = %g voxels needs a kernel radius %d (over %d)",
                         fn, a, s, r, MV__CU_FL_MAXR);
            MV__CU_STRY(mv_gaussian_kernel(s, 0, truncate, p->w[a], MV__CU_FL_MAXR + 1, &r));
            p->r[a] = r;
            p->active[a] = 1;
        }
    }
    return MV_OK;
}

MVCDEF mv_status mv_cuda_gaussian_into(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                       const mv_filter_opts *opts, mv_cuda_stream stream)
{
    static const char *fn = "mv_cuda_gaussian_into";
    mv_filter_opts o;
    mv__cu_fl_plan p;
    float *wbuf, *wdev = NULL, *tmp = NULL;
    int64_t n[3], frames, count;
    int a, active = 0, npass = 0;
    double slope = 1, inter = 0;
    mv_status st = MV_OK;
    cudaStream_t s = (cudaStream_t)stream;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CU_STRY(mv__cu_check_vol(in, fn, "input"));
    MV__CU_STRY(mv__cu_check_vol(out, fn, "output"));
    MV__CU_CHECK(out->vol.dtype == MV_DT_F32, MV_ERR_INVALID_ARG, "%s: output dtype %s (must be float32)", fn,
                 mv_dtype_name(out->vol.dtype));
    MV__CU_CHECK(mv__cu_same_dims(&in->vol, &out->vol), MV_ERR_INVALID_ARG, "%s: output dims differ from the input's", fn);
    MV__CU_CHECK(mv__cu_is_gpu_real(in->vol.dtype), MV_ERR_INVALID_ARG, "%s: %s voxels (a real dtype is needed)", fn,
                 mv_dtype_name(in->vol.dtype));
    MV__CU_CHECK(isfinite(o.cval), MV_ERR_INVALID_ARG, "%s: cval %g", fn, o.cval);
    wbuf = (float *)malloc(sizeof(float) * 3 * (MV__CU_FL_MAXR + 1));
    MV__CU_CHECK(wbuf != NULL, MV_ERR_OUT_OF_MEMORY, "%s: kernel weights", fn);
    st = mv__cu_fl_setup(&in->vol, sigma, &o, wbuf, &p, fn);
    if (st == MV_OK && !o.raw) st = mv__cu_scaling(&in->vol, 0, &active, &slope, &inter);
    for (a = 0; a < 3; a++) n[a] = mv__cu_dim(&in->vol, a);
    count = mv_vol_count(&in->vol);
    frames = count / (n[0] * n[1] * n[2]);
    for (a = 0; a < 3; a++) npass += p.active[a];
    /* the values as float32 into out (the CPU's line conversion), then the
       passes ping-pong between out and one scratch volume, ending in out */
    if (st == MV_OK && count > 0)
        st = mv__cu_convert_n(in->vol.data, in->vol.dtype, out->vol.data, MV_DT_F32, count, active, slope, inter,
                              MV_ROUND_NEAREST, s);
    if (st == MV_OK && count > 0 && npass > 0) {
        size_t wbytes = sizeof(float) * 3 * (MV__CU_FL_MAXR + 1);
        cudaError_t e = cudaMallocAsync((void **)&tmp, (size_t)count * sizeof(float), s);
        if (e == cudaSuccess) e = cudaMallocAsync((void **)&wdev, wbytes, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(wdev, wbuf, wbytes, cudaMemcpyHostToDevice, s);
        if (e != cudaSuccess) st = mv__cu_fail(e, fn);
        float *src = (float *)out->vol.data, *dst = tmp;
        /* an odd number of passes starts by copying into tmp, so the last lands in out */
        if (st == MV_OK && npass % 2) {
            e = cudaMemcpyAsync(tmp, out->vol.data, (size_t)count * sizeof(float), cudaMemcpyDeviceToDevice, s);
            if (e != cudaSuccess) st = mv__cu_fail(e, fn);
            src = tmp;
            dst = (float *)out->vol.data;
        }
        dim3 grid = mv__cu_row_grid(n[0], n[1] * n[2] * frames);
        for (a = 0; a < 3 && st == MV_OK; a++) {
            if (!p.active[a]) continue;
            mv__cu_fl_pass_kernel<<<grid, MV__CU_ROW_BLOCK, 0, s>>>(src, dst, n[0], n[1], n[2], frames, a,
                                                                  wdev + (size_t)a * (MV__CU_FL_MAXR + 1), p.r[a],
                                                                  (int)o.mode, (float)o.cval);
            e = cudaGetLastError();
            if (e != cudaSuccess) st = mv__cu_fail(e, fn);
            float *t = src;
            src = dst;
            dst = t;
        }
    }
    /* wbuf may go now: a copy from pageable memory returns once the bytes are staged */
    if (tmp) (void)cudaFreeAsync(tmp, s);
    if (wdev) (void)cudaFreeAsync(wdev, s);
    free(wbuf);
    return st;
}

MVCDEF mv_status mv_cuda_gaussian(const mv_cuda_vol *in, mv_cuda_vol *out, const double sigma[3],
                                  const mv_filter_opts *opts, mv_cuda_stream stream)
{
    mv_cuda_vol res;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_gaussian", "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_cuda_gaussian: output is NULL");
    MV__CU_STRY(mv__cu_alloc_like(&res, &in->vol, MV_DT_F32, in->vol.ndim, in->vol.dim, (cudaStream_t)stream));
    res.vol.meta.scl_slope = 1;
    res.vol.meta.scl_inter = 0;
    st = mv_cuda_gaussian_into(in, &res, sigma, opts, stream);
    if (st != MV_OK) {
        mv_cuda_free(&res, stream);
        return st;
    }
    *out = res;
    return MV_OK;
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

MVCDEF mv_status mv_cuda_fftshift(const mv_cuda_vol *in, mv_cuda_vol *out, unsigned axes, int inverse,
                                  mv_cuda_stream stream)
{
    mv_cuda_vol t;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_fftshift", "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_cuda_fftshift: out is NULL");
    MV__CU_STRY(mv__cu_alloc_like(&t, &in->vol, in->vol.dtype, in->vol.ndim, in->vol.dim, stream));
    st = mv_cuda_fftshift_into(in, &t, axes, inverse, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    *out = t;
    return MV_OK;
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
    mv_cuda_vol t;
    mv_status st;
    MV__CU_STRY(mv__cu_check_vol(in, "mv_cuda_fftc", "input"));
    MV__CU_CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_cuda_fftc: out is NULL");
    MV__CU_STRY(mv__cu_alloc_like(&t, &in->vol, in->vol.dtype, in->vol.ndim, in->vol.dim, stream));
    st = mv_cuda_fftc_into(in, &t, axes, inverse, stream);
    if (st != MV_OK) {
        mv_cuda_free(&t, stream);
        return st;
    }
    *out = t;
    return MV_OK;
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
    MV__CU_CHECK(o.interp == MV_INTERP_LINEAR || o.interp == MV_INTERP_NEAREST, MV_ERR_UNSUPPORTED,
                 "%s: interpolation %d (cubic is not on the GPU yet)", fn, (int)o.interp);
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
    if (!m.linear) {
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
                 "%s: linear warps a real image into float32 (%s -> %s)", fn, mv_dtype_name(idt), mv_dtype_name(odt));
    MV__CU_STRY(mv__cu_scaling(&moving->vol, o.raw, &active, &slope, &inter));
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

/* the adjoint's input sample: the k-space sample where sampled, else 0 */
static MV__CU_HD float2 mv__cu_cg_pack(float2 k, unsigned char m) { return m ? k : make_float2(0.0f, 0.0f); }

/* the normal operator's mask pass, with the two transforms' scale 1/N */
static MV__CU_HD float2 mv__cu_cg_masked(float2 v, unsigned char m, float scale)
{
    return m ? make_float2(MV__CU_FMUL(v.x, scale), MV__CU_FMUL(v.y, scale)) : make_float2(0.0f, 0.0f);
}

/* voxel i of sum_c conj(S_c) (scale t_c), in coil order (the CPU's float32
   sum of the coil images), then + lam p where lam_on (the CPU adds lambda
   p only when lambda != 0) */
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

/* threads over (coil, voxel): S_c p into the buffer */
static __global__ void mv__cu_cg_expand_kernel(const float2 *__restrict__ p, const float2 *__restrict__ sens,
                                               float2 *__restrict__ buf, mv__cu_cg g)
{
    const int64_t n = g.nc * g.nvox;
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = j / g.nvox, i = j % g.nvox;
        buf[mv__cu_cg_index(g, c, i)] = mv__cu_cg_cmul(p[i], sens[c * g.sstride + i], 0);
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

/* threads over voxels: y = sum_c conj(S_c) scale buf_c (+ lam p) */
static __global__ void mv__cu_cg_reduce_kernel(const float2 *__restrict__ buf, const float2 *__restrict__ sens,
                                               const float2 *__restrict__ p, float2 *__restrict__ y, mv__cu_cg g,
                                               float scale, int lam_on, float lam)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < g.nvox; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = mv__cu_cg_reduce(g, buf, sens, i, scale, lam_on, lam, lam_on ? p[i] : make_float2(0.0f, 0.0f));
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
    unsigned char *mask;
    double2 *part;
    mv__cu_cg_scalars *sc;
    int slot[2]; /* plan cache slots of the full and the y/z layout, -1 = none */
    mv__cu_cg_fftd fd[2];
};

static void mv__cu_cg_bufs_free(mv__cu_cg_bufs *b, cudaStream_t s)
{
    void *p[7] = {b->buf, b->r, b->p, b->ap, b->mask, b->part, b->sc};
    for (int i = 0; i < 7; i++)
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
    mv__cu_cg_reduce_kernel<<<mv__cu_blocks(g.nvox, threads), threads, 0, s>>>(b.buf, sens, p, y, g, 1.0f, lam_on, lam);
    MV__CU_TRY(cudaGetLastError());
    return MV_OK;
}

/* one item: mask, b = A^H y (into r), then mv__cg_run's loop with x in place
   in out; *iters as the CPU counts them */
static mv_status mv__cu_cg_item(const mv__cu_cg &g0, const mv__cu_cg_bufs &b, const float2 *k, const float2 *sens,
                                float2 *x, const mv_cg_opts *o, int *iters, cudaStream_t s)
{
    const int threads = 256;
    const int64_t n = g0.nvox;
    const int maxit = o->iterations ? o->iterations : 30;
    const int lam_on = o->lambda != 0;
    const float lam = (float)o->lambda;
    mv__cu_cg g = g0;
    mv__cu_cg_scalars h;
    double rsold, rsnew, bb, eps2;
    float scale;
    int it;
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
    mv__cu_cg_reduce_kernel<<<mv__cu_blocks(n, threads), threads, 0, s>>>(b.buf, sens, NULL, b.r, g,
                                                                           (float)(1.0 / sqrt((double)b.fd[0].N)), 0, 0.0f);
    MV__CU_TRY(cudaGetLastError());
    MV__CU_TRY(cudaMemsetAsync(x, 0, (size_t)n * sizeof(float2), s));
    MV__CU_TRY(cudaMemcpyAsync(b.p, b.r, (size_t)n * sizeof(float2), cudaMemcpyDeviceToDevice, s));
    MV__CU_STRY(mv__cu_cg_dot(b.r, b.r, n, b.part, &b.sc->rs, s));
    MV__CU_STRY(mv__cu_cg_read(b, &h, s));
    rsold = bb = h.rs;
    eps2 = o->tolerance * o->tolerance * bb;
    rsnew = rsold;
    /* the normal operator's layout: y/z transforms where the mask allows */
    mv__cu_cg_layout(&g, !h.notsep && b.slot[1] >= 0);
    scale = (float)(1.0 / (double)b.fd[g.yz].N);
    for (it = 0; it < maxit && rsold > 0; it++) {
        double beta;
        MV__CU_STRY(mv__cu_cg_normal(g, b, sens, b.p, b.ap, scale, lam_on, lam, s));
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
            return mv_set_error(MV_ERR_CANCELLED, "mv_cuda_cgsense_into: cancelled by the progress callback after %d iterations",
                                it + 1);
        if (rsnew <= eps2) break;
        mv__cu_cg_dir_kernel<<<mv__cu_blocks(n, threads), threads, 0, s>>>(b.p, b.r, n, (float)beta);
        MV__CU_TRY(cudaGetLastError());
    }
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
    int64_t nvol, nc, nbatch, nz, nitems, item, total = 0;
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
    /* mv_cg_opts as the CPU checks it (mv__cg_check) */
    MV__CU_CHECK(o->lambda >= 0 && o->lambda == o->lambda, MV_ERR_INVALID_ARG, "%s: opts.lambda = %g", fn, o->lambda);
    MV__CU_CHECK(o->iterations >= 0, MV_ERR_INVALID_ARG, "%s: opts.iterations = %d", fn, o->iterations);
    MV__CU_CHECK(o->tolerance >= 0 && o->tolerance == o->tolerance, MV_ERR_INVALID_ARG, "%s: opts.tolerance = %g", fn,
                 o->tolerance);
    MV__CU_CHECK(o->nufft_tol == 0 || (o->nufft_tol >= 1e-6 * (1 - 1e-9) && o->nufft_tol <= 0.1), MV_ERR_INVALID_ARG,
                 "%s: opts.nufft_tol = %g (1e-6 .. 0.1, 0 = 1e-4)", fn, o->nufft_tol);
    MV__CU_CHECK(o->chunk >= 0, MV_ERR_INVALID_ARG, "%s: opts.chunk = %lld", fn, (long long)o->chunk);
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
    MV__CU_CHECK(mv__cu_dim(&sens->vol, 3) == nc && mv_vol_count(&sens->vol) == nvol * nc, MV_ERR_INVALID_ARG,
                 "%s: sens has %lld coils x %lld maps, kspace %lld coils (one map)", fn,
                 (long long)mv__cu_dim(&sens->vol, 3), (long long)(mv_vol_count(&sens->vol) / (nvol * mv__cu_dim(&sens->vol, 3))),
                 (long long)nc);
    MV__CU_CHECK(mv_vol_count(&out->vol) == nvol * nbatch, MV_ERR_INVALID_ARG,
                 "%s: out has %lld voxels, %lld needed (x*y*z times the batch dims[4..])", fn,
                 (long long)mv_vol_count(&out->vol), (long long)(nvol * nbatch));
    o->iterations_done = 0;
    memset(&g, 0, sizeof(g));
    g.n[0] = mv__cu_dim(&kspace->vol, 0);
    g.n[1] = mv__cu_dim(&kspace->vol, 1);
    g.n[2] = o->slices ? 1 : nz;
    g.nvox = g.n[0] * g.n[1] * g.n[2];
    g.nc = nc;
    g.kstride = nvol;
    g.sstride = nvol;
    /* cufftPlanMany takes int lengths, strides, distances and counts; the grid of a dot product is the chunk count */
    MV__CU_CHECK(g.nc * g.nvox <= INT32_MAX && (g.nvox + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK <= INT32_MAX,
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
    {
        const size_t vb = (size_t)g.nvox * sizeof(float2);
        cudaError_t e = cudaSuccess;
        if (st == MV_OK) e = cudaMallocAsync((void **)&b.buf, (size_t)g.nc * vb, s);
        if (st == MV_OK && e == cudaSuccess) e = cudaMallocAsync((void **)&b.r, vb, s);
        if (st == MV_OK && e == cudaSuccess) e = cudaMallocAsync((void **)&b.p, vb, s);
        if (st == MV_OK && e == cudaSuccess) e = cudaMallocAsync((void **)&b.ap, vb, s);
        if (st == MV_OK && e == cudaSuccess) e = cudaMallocAsync((void **)&b.mask, (size_t)g.nvox, s);
        if (st == MV_OK && e == cudaSuccess)
            e = cudaMallocAsync((void **)&b.part, (size_t)((g.nvox + MV__CU_CG_CHUNK - 1) / MV__CU_CG_CHUNK) * sizeof(double2), s);
        if (st == MV_OK && e == cudaSuccess) e = cudaMallocAsync((void **)&b.sc, sizeof(mv__cu_cg_scalars), s);
        if (st == MV_OK && e != cudaSuccess) st = mv__cu_fail(e, "mv_cuda_cgsense_into: cudaMallocAsync");
    }
    /* items in the CPU's order: item = batch volume (3D), or batch volume nz + slice */
    nitems = o->slices ? nz * nbatch : nbatch;
    for (item = 0; st == MV_OK && item < nitems; item++) {
        const int64_t bv = o->slices ? item / nz : item, z = o->slices ? item % nz : 0;
        int iters = 0;
        st = mv__cu_cg_item(g, b, (const float2 *)kspace->vol.data + (bv * nc * nz + z) * g.n[0] * g.n[1],
                            (const float2 *)sens->vol.data + z * g.n[0] * g.n[1], (float2 *)out->vol.data + item * g.nvox,
                            o, &iters, s);
        total += iters;
    }
    o->iterations_done = (int)(total < (int64_t)INT32_MAX ? total : (int64_t)INT32_MAX);
    mv__cu_cg_bufs_free(&b, s);
    return st;
}

#endif /* MEDVOL_CUDA_IMPLEMENTATION */
