/* medvol.h - v0.1.0 - fast medical-volume kernels - MIT licence (see end of file)

   Do this:
      #define MEDVOL_IMPLEMENTATION
   before you include this file in *one* C or C++ file to create the
   implementation. Every other file includes it without the define.

      // in exactly one .c file
      #define MEDVOL_IMPLEMENTATION
      #include "medvol.h"

   The CUDA companion (medvol_cuda.h) is compiled by nvcc in the one file
   that defines MEDVOL_CUDA_IMPLEMENTATION; it includes this header itself.

QUICK START

      mv_vol vol, f32;
      mv_load_opts lo = MV_ZERO_INIT;          // {0} in C, {} in C++: see OPTIONS
      lo.scaled = 1;                            // scl_slope/scl_inter applied, float32 out
      if (mv_load("t1.nii", &vol, &lo) != MV_OK) {
          fprintf(stderr, "%s\n", mv_last_error());   // which field, offset or limit
          return 1;
      }
      mv_stats st;
      mv_compute_stats(&vol, &st, NULL);        // float64 sums, NaN/Inf counted apart
      printf("%lld voxels, mean %g, std %g\n", (long long)st.count, st.mean, st.std);

      char code[4];
      mv_orientation(&vol, code);               // "RAS", "LAS", ... as nibabel aff2axcodes
      mv_save("copy.nii", &vol, NULL);          // temp file + rename: never half a file
      mv_free(&vol);

      // crop-first: only the bytes of a 64^3 box of time point 3 are read
      lo.box_start[0] = 32; lo.box_start[1] = 32; lo.box_start[2] = 10; lo.box_start[3] = 3;
      lo.box_size[0] = lo.box_size[1] = lo.box_size[2] = 64; lo.box_size[3] = 1;
      mv_load("bold.nii", &vol, &lo);           // vol.affine already points at the box

TABLE OF CONTENTS (search for the anchors)

      >>config        configuration macros, checked
      >>types         mv_status, mv_dtype, mv_isa, mv_vol, option structs
      >>api-runtime   version, status names, last error, threads, ISA, build info
      >>api-volume    dtypes, mv_vol life cycle, affine and orientation, conversion, stats
      >>api-nifti     NIfTI-1/2 and Analyze I/O
      >>api-gzip      gzip/DEFLATE compression and decompression
      >>api-intensity z-normalize, rescale, clamp, histogram, percentiles
      >>api-spatial   crop/pad, flip, permute, reorient, rot90
      >>api-resample  nearest, trilinear, cubic B-spline resampling
      >>api-pipeline  chains of operations in one pass
      >>api-fft       FFT: c2c / r2c / c2r over any axes, plans, numpy norms
      >>api-mri       MRI: centred FFT, shifts, coil combination, sensitivities,
                      SENSE, bounded-memory reconstructions, phantom k-space
      >>api-transport proton transport: phase-space grid, PSTAR physics, scattering,
                      streaming, energy loss, fused step, bookkeeping
      >>api-phantom   synthetic volumes for demos and tests
      >>impl          implementation (MEDVOL_IMPLEMENTATION only)
      >>impl-mem      allocation and checked size arithmetic
      >>impl-error    error detail
      >>impl-cpu      CPU detection and the ISA table
      >>impl-pool     worker pool and slab splitter
      >>impl-dtype    dtype table (sizes, names, NIfTI codes)
      >>impl-ref      scalar reference kernels
      >>impl-fft-types  FFT plan types and the scalar reference FFT kernels
      >>impl-mri-types  MRI kernel table entries and their scalar references
      >>impl-transport-types  proton transport kernel table entries and references
      >>impl-kernels  kernel table: one re-include of >>pass per ISA
      >>impl-dtype    (conversion) dtype conversion with scaling, rounding, saturation
      >>impl-volume   mv_vol life cycle, metadata, extensions
      >>impl-stats    statistics
      >>impl-affine   affines, quaternions, orientation
      >>impl-gzip     CRC-32, DEFLATE decoder and encoder, gzip members and index
      >>impl-nifti    NIfTI reader and writer
      >>impl-resample resampling: separable and general maps, cubic prefilter
      >>impl-phantom  phantoms
      >>impl-ops      intensity, spatial and chained operations: plan, provider,
                      statistics, histogram, percentiles, write pass
      >>impl-fft      FFT planner, executor, plan cache, FFTW backend
      >>impl-mri      MRI: centred FFT, shifts, coil kernels, SENSE, phantom coils
      >>impl-transport proton transport: physics, plan, passes, step
      >>history       version history
      >>license       licence
      >>pass          ISA-templated kernels (re-included once per ISA): the SIMD
                      vocabulary first, then the kernels written once against it
      >>pass-fft      FFT butterflies and transposes, per ISA
      >>pass-mri      RSS, coil combination, complex parts, per ISA
      >>pass-transport proton transport rows (weighted sums, bilinear stream), per ISA

CONFIGURATION (define before including; "impl" = matters only where
MEDVOL_IMPLEMENTATION is defined, "all" = must be the same in every file)

   MEDVOL_IMPLEMENTATION    -      emit the implementation in this file
   MEDVOL_STATIC            all    every function static (private copy per file)
   MEDVOL_DEF               all    decoration of public functions (DLL export ...);
                                   default extern, or static under MEDVOL_STATIC
   MEDVOL_MALLOC(sz,ctx)    impl   allocator; define both or neither (#error). ctx
   MEDVOL_FREE(p,ctx)              is the alloc_ctx of the call's options (NULL if
                                   none). MEDVOL_REALLOC(p,o,n,ctx) is accepted
                                   and never used: the library does not realloc
   MEDVOL_ASSERT(x)         impl   internal invariants only (default assert()); bad
                                   input always gets a status, never an assert
   MEDVOL_NO_STDIO          all    no files, no mmap, no paths: memory buffers and
                                   mv_io callbacks only (firmware)
   MEDVOL_NO_THREADS        impl   no pthreads: one thread, identical results
   MEDVOL_NO_SIMD           impl   scalar reference kernels only
   MEDVOL_NO_AVX512         impl   never use AVX-512 (veto one level)
   MEDVOL_NO_AVX2           impl   never use AVX2 or AVX-512
   MEDVOL_RUNTIME_DISPATCH  impl   x86-64: compile SSE2, AVX2 and AVX-512 kernels
                                   with target attributes and pick by CPUID at run
                                   time (default: the best level the compiler
                                   targets, e.g. -march=native)
   MEDVOL_MAX_BYTES         impl   largest voxel array a reader accepts
                                   (default 64 GiB)
   MEDVOL_NO_THREAD_LOCAL   impl   error detail in a plain static (firmware without
                                   TLS; then not thread-safe)
   MEDVOL_HEADER_FILENAME   impl   how this file re-includes itself for the per-ISA
                                   kernel passes (default "medvol.h")
   MEDVOL_USE_FFTW          impl   mv_fft_* run on fftwf (FFTW3 single precision,
                                   its threads for opts.threads > 1; link
                                   -lfftw3f_threads -lfftw3f); the only optional
                                   external package. Default: medvol's own FFT

THREAD SAFETY
   Every function may be called from several threads at once on different
   volumes. Global state, all of it: the thread-local error detail; the worker
   pool (created on first parallel call, guarded by a mutex; a second caller
   that finds it busy runs its work on its own thread); the thread count set by
   mv_set_threads and the kernel table chosen by mv_set_isa (set these before
   other threads use the library); the FFT plan cache of mv_fft_c2c / _r2c /
   _c2r (up to 16 plans behind a mutex; a plan in use is never evicted;
   mv_fft_cache_clear frees idle ones). An mv_fft_plan is read-only once
   made: any number of threads may execute it at once, each with its own
   scratch.

THREADS
   Default: as many threads as online cores; work under 4 MiB runs on the
   caller's thread. mv_set_threads(n) changes the default, opts.threads = n
   one call (1 = the caller's thread only). Results never depend on the thread
   count: work is split into slabs of the slowest axis and reductions combine
   fixed-size blocks in a fixed order.

SIMD & ISA
   Every kernel has a plain-C reference (mv__*_ref) and SSE2 / AVX2 / AVX-512 /
   NEON variants written once against a small vocabulary (at the top of >>pass).
   Element-wise kernels give bit-identical results on every ISA (no FMA
   contraction); reductions use 8 float64 lanes in a fixed order on every ISA,
   so they are bit-identical too. mv_set_isa(MV_ISA_SSE2) forces a lower level
   (tests, triage); mv_isa_active() and mv_build_info() report it.

ERRORS
   Functions that can fail return mv_status: MV_OK (0) or a positive MV_ERR_*.
   mv_status_str() names it; mv_last_error() gives this thread's detail of the
   last failure ("vox_offset 352 + 2000 data bytes: file is 1200 bytes").
   On failure outputs are never half-filled: an mv_vol output is left as it
   was (see MEMORY, OUTPUT VOLUMES).
   Work split across threads reports the error of its first failing item
   (the first damaged gzip member, the first member that did not compress),
   with that item's detail copied to the calling thread: the status and the
   detail are the same for any thread count and any timing. (Of the threaded
   bodies only gzip decoding, gzip encoding and the loader's data copy can
   fail; the operations, resampling, FFT and MRI kernels check everything
   before they split the work.)
   mv_load's details start with the path ("t.nii: header: dim[0] is 0").
   Warnings: a load that returns MV_OK after correcting a header defect
   (the lenient fixes under LIMITS) sets bits in vol.meta.warnings
   (MV_WARN_VOX_OFFSET, ...) and mv_last_warning() gives this thread's text
   of them for the last load; a clean file leaves both 0 / "". With
   opts.strict each of those defects is MV_ERR_BAD_HEADER instead.

OPTIONS
   Every mv_*_opts struct means "defaults" when all-zero, and a NULL pointer
   means the same. Zero one with MV_ZERO_INIT, the same line in C and C++
   (warning-free at -Wall -Wextra -Wpedantic with gcc and clang), then set
   only the fields you need:
      mv_resample_opts ro = MV_ZERO_INIT;   // {0} in C, {} in C++
      ro.interp = MV_INTERP_CUBIC;
   The same works for mv_vol, mv_stats, mv_io and every other public struct.
   (Plain {0} is an error in C++ where the first field is an enum.)

MEMORY
   OUTPUT VOLUMES. One rule for every function that fills an mv_vol *out
   (dst, v, sens, kspace): out is an output only, written and never read,
   except when it is one of the call's inputs. Then the result replaces it:
   the result is built in new memory first, then the input's old data and
   extensions are released (mv_reorient(&v, &v, "RAS", NULL) followed by
   mv_znorm(&v, &v, NULL) leaves one buffer, no leak). An out that still
   holds a volume and is not an input is overwritten like any C output
   argument: mv_free it first (as with malloc into a pointer that holds
   memory). medvol never frees a buffer it was not handed as an input,
   because an uninitialised struct cannot be told from a live one. On
   failure out is left as it was (loads, which have no input: empty).
   _into forms write into out->data and never release anything.
   Functions marked "allocates: no" never call the allocator. Allocating forms
   ask the kernel for transparent huge pages for buffers over 2 MiB (first
   touch of fresh memory costs more than the kernels). Volumes loaded by mmap
   are private copy-on-write mappings: writing to vol.data never touches the
   file (a file truncated by another process while mapped raises SIGBUS, as
   with any mmap).

LIMITS & UNTRUSTED INPUT
   Readers never trust a file: sizes, offsets and dimensions are checked
   before use, products are overflow-checked, and the voxel array may not
   exceed MEDVOL_MAX_BYTES. A malformed or truncated file gives a specific
   status and detail. By default the reader fixes what nibabel fixes silently
   (qfac 0 -> 1, negative pixdim -> abs, vox_offset below the header of a .nii
   -> the header end, invalid xform codes -> 0, bitpix disagreeing with the
   datatype, non-finite scl_slope -> no scaling, a NIfTI-2 eol_check of all
   zeros, an extension esize not a multiple of 16); each sets a warning (see
   ERRORS) and opts.strict turns each into MV_ERR_BAD_HEADER. What nibabel
   refuses is always refused: a damaged NIfTI-2 eol_check (magic bytes 4..7
   not 0d 0a 1a 0a: a text-mode transfer), an extension esize below 8.
   opts.max_bytes lowers the limit for one load (a service that takes files
   from outside). A compressed file never makes the reader allocate more
   than its compressed bytes can hold (DEFLATE gives at most 1032 bytes per
   byte); the ISIZE of a plain gzip file sizes the voxel array once when it
   agrees with the header.

INTEGRITY
   A full load of a .nii.gz (or .hdr/.img.gz) checks the CRC-32 and ISIZE of
   every gzip member of the file, on every path (one member or medvol's
   indexed members decoded in parallel, mapped or from memory or a stream,
   converted or not): a damaged file is MV_ERR_BAD_DATA (or TRUNCATED) with
   the file name, the member's index (from 0) and its compressed offset,
   never MV_OK. A partial load (a crop box, one time point, header_only)
   stops decoding once it has its bytes and so cannot check the members it
   did not decode; set opts.verify to decode the rest of the file too (its
   bytes are dropped) and get the same check as a full load.

API TOUR
   Volumes. mv_vol is a voxel array (data, dtype, ndim 1..7, dim[0] fastest as
   NIfTI stores it) plus spacing, a 4x4 voxel-to-world affine in RAS+ mm with
   the meaning of nibabel's img.affine, and the NIfTI metadata a faithful
   rewrite needs (mv_meta). mv_vol_alloc / mv_vol_wrap / mv_free manage it.

   Conversion. mv_convert_buffer / mv_convert_into / mv_convert move between
   any two dtypes: float -> integer rounds half to even and saturates (NaN ->
   0); integer -> integer saturates; with opts.scaled the NIfTI scaling
   y = x * scl_slope + scl_inter is applied in float64 first, exactly as
   nibabel's get_fdata() (float64(raw) * float64(slope) + float64(inter)).

   NIfTI. mv_load / mv_load_mem / mv_load_io read NIfTI-1, NIfTI-2 (.nii and
   .hdr/.img pairs) and Analyze 7.5 (SPM2 flavour, as nibabel); either byte
   order; all datatypes; affine = nibabel's img.affine (sform if sform_code > 0,
   else qform, else pixdim-only; Analyze: SPM origin). Native-endian data
   that needs no conversion is memory-mapped (O(1) load). A crop box reads
   only the bytes it needs. mv_save / mv_save_mem write native byte order,
   NIfTI-1 unless a dimension needs NIfTI-2, keeping every header field and
   extension; a changed affine rewrites sform and qform as nibabel does.

   float128 (NIfTI datatype 1536) is IEEE-754 binary128, converted in
   software on every platform. nibabel maps it to numpy.longdouble, which is
   x87 80-bit extended on x86-64: the two disagree on such files; medvol
   follows the format's definition.

   Resampling. mv_resample_shape / mv_resample_spacing are
   scipy.ndimage.zoom (order 0, 1 or 3) with grid_mode=True by default (the
   field of view is kept, torch align_corners=False) or grid_mode=False
   (opts.align_corners), mode='nearest' or a constant fill; the output
   shape for a spacing is round(n * old / new) half to even, as zoom's.
   mv_resample_like / mv_resample_affine sample through world coordinates
   (scipy affine_transform with inv(A_in) * W * A_out). The output affine is
   the input's times the voxel map, so voxels keep their world positions.
   mv_resample_into writes a caller buffer without allocating (cubic: with
   opts.scratch of mv_resample_scratch_size bytes).

   FFT. mv_fft_plan_c2c / _r2c / _c2r + mv_fft_execute[_into] are numpy's
   fftn / ifftn / rfftn / irfftn over any subset of axes (bit k = dims[k]),
   norm= backward / ortho / forward. numpy's shape is our dims reversed, so
   rfftn's halved last axis is our lowest transformed axis. Any length
   (mixed radix 2/3/4/5/7/8, Bluestein for large primes); float32 accuracy
   ~1e-7 relative RMS; the same bytes for every thread count.
   mv_fft_c2c / _r2c / _c2r are one-call forms over a small plan cache;
   mv_fft_execute_into takes caller scratch and never allocates.

   MRI. Complex64 volumes laid out as BART's .cfl: dims[0..2] = x, y, z,
   dims[3] = coils (MV_COIL_AXIS), dims[4..6] = time or any other batch,
   processed volume by volume. K-space is centred (DC at index n/2).
   mv_fftc / mv_fftc_execute_into are fftshift(fftn(ifftshift(x))) with
   ortho scaling (BART fft -u): one FFT plus a sign (even lengths) or
   phase-ramp (odd) modulation on each side, in place or not, no data moved
   for the shifts; mv_fftshift does numpy's shifts on any dtype. mv_rss
   (BART rss 8), mv_coil_combine (sum conj(S) x / sum |S|^2),
   mv_complex_part, mv_kspace_weight (density compensation) and
   mv_kspace_resize (zero-fill or crop around DC) are memory-bound kernels
   with SIMD variants and _into forms. mv_coil_sens_estimate
   (low-resolution / RSS), mv_kspace_undersample + mv_sense_unfold
   (Cartesian SENSE along up to three axes, Tikhonov), mv_recon_rss and
   mv_recon_sense (one coil or one volume at a time: bounded memory).
   mv_phantom_coil_sens + mv_phantom_kspace make test data with no file.

   Proton transport. mv_transport_create plans a deterministic 2D
   phase-space transport (fluence float32 [E][theta][z][x], x fastest,
   theta from +x, a beam along +z at 90 degrees); mv_transport_step
   advances it one step (Lie or Strang splitting of CSDA energy loss,
   Highland angular scattering and bilinear streaming, fused or not, same
   bytes) and reports particles and energy in / out / escaped / absorbed /
   deposited; dose is MeV per (z, x) cell. Water is NIST PSTAR's total
   stopping power (ICRU 49) with log-log interpolation; its CSDA ranges are
   PSTAR's to 0.03%. mv_csda_range, mv_csda_energy, mv_stopping_power and
   mv_highland expose the physics; examples/proton_pdd draws depth-dose
   curves and profiles the operators.

LICENSE
   MIT, see the end of the file.

RECENT VERSION HISTORY
   next                FFT: mv_fft_* (numpy's fftn/ifftn/rfftn/irfftn, any
                       length, plans, plan cache, MEDVOL_USE_FFTW backend).
                       MRI: centred FFT, shifts, RSS, coil combination,
                       sensitivities, SENSE, phantom coils and k-space.
                       Proton transport: mv_transport_* (PSTAR water,
                       Highland, fused Lie/Strang steps, bookkeeping).
   0.1.0  (2026-11-21) foundation: volume model, dtype conversion, statistics,
                       NIfTI-1/2 + Analyze I/O, worker pool, SIMD kernels.
*/

/* The implementation uses POSIX.1-2008 (pread, mkstemp, posix_memalign) and
   madvise; ask for them when this file is the first thing included. */
#if defined(MEDVOL_IMPLEMENTATION) && !defined(MV__KERNEL_PASS) && !defined(_WIN32)
#if !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#if !defined(_DEFAULT_SOURCE) && !defined(_GNU_SOURCE)
#define _DEFAULT_SOURCE 1
#endif
#endif

#ifndef MV__KERNEL_PASS /* the whole file but the per-ISA kernel pass (>>pass) */

/* >>config ================================================================= */
#ifndef MEDVOL_H_INCLUDED
#define MEDVOL_H_INCLUDED

#define MEDVOL_VERSION_MAJOR 0
#define MEDVOL_VERSION_MINOR 1
#define MEDVOL_VERSION_PATCH 0
#define MEDVOL_VERSION_STRING "0.1.0"
#define MEDVOL_VERSION_NUMBER \
    (MEDVOL_VERSION_MAJOR * 10000 + MEDVOL_VERSION_MINOR * 100 + MEDVOL_VERSION_PATCH)

#include <stddef.h>
#include <stdint.h>

#ifndef MEDVOL_DEF
#ifdef MEDVOL_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define MEDVOL_DEF static __attribute__((unused)) /* a file may use a few */
#else
#define MEDVOL_DEF static
#endif
#else
#define MEDVOL_DEF extern
#endif
#endif
#define MVDEF MEDVOL_DEF

#ifdef __cplusplus
extern "C" {
#endif

/* >>types ================================================================== */

#define MV__STATUS_LIST(X)                                                     \
    X(MV_OK, 0, "success")                                                     \
    X(MV_ERR_INVALID_ARG, 1, "invalid argument")                               \
    X(MV_ERR_OUT_OF_MEMORY, 2, "out of memory")                                \
    X(MV_ERR_SIZE_OVERFLOW, 3, "size overflows or exceeds a limit")            \
    X(MV_ERR_IO, 4, "input/output error")                                      \
    X(MV_ERR_NOT_FOUND, 5, "file not found")                                   \
    X(MV_ERR_TRUNCATED, 6, "input ends early")                                 \
    X(MV_ERR_BAD_HEADER, 7, "malformed header")                                \
    X(MV_ERR_BAD_DATA, 8, "corrupt data")                                      \
    X(MV_ERR_UNSUPPORTED, 9, "unsupported")                                    \
    X(MV_ERR_BUFFER_TOO_SMALL, 10, "buffer too small")                         \
    X(MV_ERR_CANCELLED, 11, "cancelled")                                       \
    X(MV_ERR_CUDA, 12, "CUDA error")

/* Result of every function that can fail. MV_OK is 0, errors are positive and
   append-only. */
typedef enum mv_status {
#define MV__STATUS_ENUM(name, value, msg) name = value,
    MV__STATUS_LIST(MV__STATUS_ENUM)
#undef MV__STATUS_ENUM
    MV_STATUS_COUNT
} mv_status;

/* Element types. Every NIfTI datatype plus f16/bf16 for storage. Complex
   types are (re, im) pairs; rgb24/rgba32 are interleaved bytes. */
typedef enum mv_dtype {
    MV_DT_UNKNOWN = 0,
    MV_DT_U8, MV_DT_I8, MV_DT_U16, MV_DT_I16, MV_DT_U32, MV_DT_I32,
    MV_DT_U64, MV_DT_I64,
    MV_DT_F16,    /* IEEE binary16 (no NIfTI code: medvol-only storage) */
    MV_DT_BF16,   /* bfloat16 (no NIfTI code: medvol-only storage) */
    MV_DT_F32, MV_DT_F64,
    MV_DT_F128,   /* IEEE binary128, converted in software */
    MV_DT_C64, MV_DT_C128, MV_DT_C256,
    MV_DT_RGB24, MV_DT_RGBA32,
    MV_DT_COUNT
} mv_dtype;

/* Instruction-set levels of the kernels. */
typedef enum mv_isa {
    MV_ISA_REF = 0,   /* plain C reference */
    MV_ISA_SSE2,
    MV_ISA_AVX2,      /* AVX2 + FMA + F16C + PCLMULQDQ (every AVX2 CPU has them) */
    MV_ISA_AVX512,    /* AVX-512 F/BW/DQ/VL */
    MV_ISA_NEON,      /* AArch64 Advanced SIMD */
    MV_ISA_COUNT
} mv_isa;

/* Rounding of float -> integer conversions. */
typedef enum mv_round {
    MV_ROUND_NEAREST = 0, /* half to even (numpy.rint), then saturate */
    MV_ROUND_TRUNCATE     /* toward zero (C cast, numpy astype), then saturate */
} mv_round;

/* File formats, as read or to be written. */
typedef enum mv_format {
    MV_FORMAT_NONE = 0,   /* not read from a file: the writer chooses */
    MV_FORMAT_NIFTI1,
    MV_FORMAT_NIFTI2,
    MV_FORMAT_ANALYZE     /* Analyze 7.5 (SPM2 flavour); read only */
} mv_format;

/* How mv_load maps files. */
typedef enum mv_mmap_mode {
    MV_MMAP_AUTO = 0, /* map when the stored bytes are the result (native order,
                         no conversion, no box); else read */
    MV_MMAP_NEVER,    /* always read into allocated memory */
    MV_MMAP_REQUIRE   /* map or fail with MV_ERR_UNSUPPORTED */
} mv_mmap_mode;

/* NIfTI codes used in mv_meta. */
enum {
    MV_XFORM_UNKNOWN = 0, MV_XFORM_SCANNER = 1, MV_XFORM_ALIGNED = 2,
    MV_XFORM_TALAIRACH = 3, MV_XFORM_MNI152 = 4, MV_XFORM_TEMPLATE = 5
};
enum {
    MV_UNITS_UNKNOWN = 0, MV_UNITS_METER = 1, MV_UNITS_MM = 2, MV_UNITS_MICRON = 3,
    MV_UNITS_SEC = 8, MV_UNITS_MSEC = 16, MV_UNITS_USEC = 24, MV_UNITS_HZ = 32,
    MV_UNITS_PPM = 40, MV_UNITS_RADS = 48
};

#define MV_MAX_DIMS 7

/* mv_meta.warnings: a header defect the loader corrected, as nibabel does,
   instead of failing (opts.strict fails instead). See ERRORS. */
enum {
    MV_WARN_VOX_OFFSET = 1,   /* vox_offset inside the header of a .nii (-> header end) or fractional (-> floor) */
    MV_WARN_QFAC = 2,         /* pixdim[0] not +-1 (-> 1) */
    MV_WARN_PIXDIM = 4,       /* pixdim[1..3] zero (-> 1) or negative (-> abs) */
    MV_WARN_XFORM_CODE = 8,   /* qform_code / sform_code outside 0..5 (-> 0) */
    MV_WARN_BITPIX = 16,      /* bitpix disagrees with the datatype (ignored) */
    MV_WARN_SCL_SLOPE = 32,   /* non-finite scl_slope (-> no scaling) */
    MV_WARN_EXTENSION = 64,   /* esize not a multiple of 16, or a chain cut short by a bad entry (kept up to it) */
    MV_WARN_EOL_CHECK = 128   /* NIfTI-2 eol_check all zero (-> treated as 0d 0a 1a 0a) */
};

/* One NIfTI header extension: ecode and its payload (esize - 8 bytes on disk,
   padding included, so a rewrite is byte-identical). */
typedef struct mv_extension {
    int32_t code;
    uint32_t size;
    unsigned char *data;
} mv_extension;

/* The NIfTI metadata a faithful rewrite needs. Spacing and the affine live in
   mv_vol; these are the header fields as stored (float32 fields widened). */
typedef struct mv_meta {
    mv_format format;       /* format it was read from (MV_FORMAT_NONE if new) */
    int pair;               /* read from a .hdr/.img pair */
    int big_endian;         /* byte order of the file it was read from */
    int qform_code, sform_code;
    double quatern[3];      /* quatern_b, c, d */
    double qoffset[3];      /* qoffset_x, y, z */
    double qfac;            /* pixdim[0]: +1 or -1 */
    double srow[3][4];      /* srow_x, srow_y, srow_z */
    double scl_slope, scl_inter;
    double cal_min, cal_max;
    double slice_duration, toffset;
    int64_t slice_start, slice_end;
    int slice_code;
    int xyzt_units;
    int intent_code;
    double intent_p[3];
    int dim_info;
    char intent_name[17];
    char descrip[81];
    char aux_file[25];
    int analyze_origin[5];  /* Analyze/SPM "originator" (1-based voxel), if any */
    int n_ext;
    mv_extension *ext;      /* owned by the volume: mv_free releases it */
    unsigned warnings;      /* MV_WARN_* bits: what the loader corrected (see ERRORS) */
} mv_meta;

/* Ownership of mv_vol.data. */
enum { MV_VOL_OWNED = 1, MV_VOL_MAPPED = 2, MV_VOL_BORROWED = 4 };

/* A volume: voxel array plus geometry plus NIfTI metadata.
   Voxel (i, j, k, t, ...) is data[i + dim[0]*(j + dim[1]*(k + dim[2]*(t ...)))].
   Axes beyond ndim have dim 1 and spacing 1. */
typedef struct mv_vol {
    void *data;
    mv_dtype dtype;
    int ndim;                        /* 1..7 */
    int64_t dim[MV_MAX_DIMS];        /* dim[0] = i (x), fastest in memory */
    double spacing[MV_MAX_DIMS];     /* pixdim[1..7]: mm for space, s for time */
    double affine[4][4];             /* voxel (i,j,k) -> world RAS+ mm (nibabel img.affine) */
    mv_meta meta;
    unsigned flags;                  /* MV_VOL_OWNED / MAPPED / BORROWED */
    /* private: what mv_free releases */
    void *mem_base;
    size_t mem_size;
    void *alloc_ctx;
} mv_vol;

/* Streams for mv_load_io / mv_save_io. */
typedef struct mv_io {
    /* read up to n bytes; return the count (0 at the end) or (size_t)-1 on error */
    size_t (*read)(void *user, void *buf, size_t n);
    /* seek to an absolute offset, 0 on success; NULL for forward-only streams */
    int (*seek)(void *user, uint64_t offset);
    /* write exactly n bytes, 0 on success */
    int (*write)(void *user, const void *buf, size_t n);
    void *user;
} mv_io;

/* An initializer that zeroes any medvol struct (options, mv_vol, mv_stats,
   mv_io ...) in C and C++ without a warning at -Wall -Wextra -Wpedantic:
       mv_load_opts lo = MV_ZERO_INIT;
   C gets {0} (gcc and clang exempt exactly {0} from -Wmissing-field-initializers
   and -Wmissing-braces; C99 has no empty braces). C++ gets {}: {0} would
   initialise the first member from int, an error where it is an enum
   (mv_load_opts.dtype) and a missing-initializer warning elsewhere. */
#ifdef __cplusplus
#define MV_ZERO_INIT {}
#else
#define MV_ZERO_INIT {0}
#endif

/* Options: all-zero means defaults; a NULL pointer means all-zero. */
typedef struct mv_convert_opts {
    int scaled;        /* apply y = x * slope + inter in float64 before storing */
    double slope, inter; /* for mv_convert_buffer; the mv_vol forms use vol->meta
                            (slope 0 or non-finite = no scaling, as nibabel) */
    mv_round rounding; /* float -> integer: MV_ROUND_NEAREST (default) */
    int threads;       /* 0 = library default */
    void *alloc_ctx;
} mv_convert_opts;

typedef struct mv_stats_opts {
    int raw;           /* 1: statistics of stored values; default: scaled values
                          (scl_slope/scl_inter applied, as nibabel get_fdata) */
    int threads;
} mv_stats_opts;

/* Statistics over the finite voxels (NaN and +-Inf counted, not used). */
typedef struct mv_stats {
    int64_t count;          /* finite voxels used */
    int64_t nan_count, inf_count;
    double sum, mean;
    double std;             /* population std (ddof 0) */
    double min, max;
} mv_stats;

typedef struct mv_load_opts {
    mv_dtype dtype;         /* 0: as stored; else convert (rounding, saturation) */
    int scaled;             /* apply scl_slope/scl_inter; output float32 unless
                               dtype names another type; meta scaling becomes 1/0 */
    mv_round rounding;      /* for conversions to integer dtypes */
    mv_mmap_mode mmap;      /* MV_MMAP_AUTO (default) / NEVER / REQUIRE */
    int header_only;        /* metadata only: data stays NULL, no .img needed */
    int strict;             /* refuse what nibabel silently fixes (see LIMITS) */
    int64_t box_start[MV_MAX_DIMS]; /* crop-first box: first voxel per axis */
    int64_t box_size[MV_MAX_DIMS];  /* voxels per axis; 0 = to the end of the axis */
    int squeeze;            /* drop trailing axes of length 1 beyond the third
                               (after the box): one time point of a 4D file,
                               box_size[3] = 1, loads as a 3D volume (ndim 3),
                               as nibabel's img.slicer[..., t] does. Axes 0-2
                               and inner length-1 axes are kept */
    int threads;
    void *alloc_ctx;
    int verify;             /* partial loads of compressed files: decode to the end of
                               the file so every CRC-32 is checked (see INTEGRITY) */
    uint64_t max_bytes;     /* largest voxel array (and decompressed range) this load
                               allocates; 0 = MEDVOL_MAX_BYTES (MV_ERR_SIZE_OVERFLOW) */
} mv_load_opts;

/* gzip options (mv_gzip, mv_gunzip, and how mv_save compresses). */
typedef struct mv_gzip_opts {
    int level;          /* 0 = default (6); 1 fastest .. 9 smallest; -1 = stored */
    size_t member_size; /* uncompressed bytes per gzip member (0 = 1 MiB) */
    int single_member;  /* one member, as gzip(1) writes: no index, no parallel compression */
    int threads;        /* 0 = library default */
    void *alloc_ctx;
} mv_gzip_opts;

typedef struct mv_save_opts {
    int nifti_version;      /* 0: 1 unless the volume needs 2 or came from 2 (see mv_save); 1 or 2 */
    int fsync;              /* fsync the file before the rename */
    int compress;           /* gzip (.nii.gz) for mv_save_mem / mv_save_io; mv_save
                               follows the name (a .gz suffix) */
    mv_gzip_opts gzip;      /* how to compress */
    void *alloc_ctx;
} mv_save_opts;

/* >>api-runtime ============================================================ */

/* MEDVOL_VERSION_NUMBER of the compiled implementation (catches a header /
   implementation mismatch). allocates: no. thread-safe: yes. */
MVDEF int mv_version(void);

/* "MV_ERR_TRUNCATED", ... for a status; "MV_ERR_?" for unknown values.
   mv_status_message gives the generic English message. allocates: no. */
MVDEF const char *mv_status_str(mv_status st);
MVDEF const char *mv_status_message(mv_status st);

/* Detail of the last failure on this thread ("" if none): which field, which
   offset, which limit. Valid until the next failing call on this thread. */
MVDEF const char *mv_last_error(void);
/* Records a failure detail (printf format) and returns st: for companion
   headers (medvol_cuda.h) and callbacks. */
MVDEF mv_status mv_set_error(mv_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
MVDEF void mv_clear_error(void);
/* What the last load on this thread corrected ("" if nothing), naming the
   file and each field: "t.nii: vox_offset 0 points into the header (read
   from 352)". Cleared when a load starts; mv_meta.warnings has the bits. */
MVDEF const char *mv_last_warning(void);

/* Default thread count of parallel kernels: n >= 1, or 0 = online cores.
   Returns MV_ERR_INVALID_ARG for n < 0. Call before other threads use the
   library. mv_threads() is the current default. */
MVDEF mv_status mv_set_threads(int n);
MVDEF int mv_threads(void);

/* ISA levels: bitmask (1 << mv_isa) of levels compiled in and runnable here;
   the active one; force a level (MV_ERR_UNSUPPORTED if not available); name. */
MVDEF unsigned mv_isa_available(void);
MVDEF mv_isa mv_isa_active(void);
MVDEF mv_status mv_set_isa(mv_isa isa);
MVDEF const char *mv_isa_name(mv_isa isa);

/* One line: version, compiler, ISA levels compiled and active, threads. */
MVDEF const char *mv_build_info(void);

/* >>api-volume ============================================================= */

/* Bytes per element (0 for MV_DT_UNKNOWN); "int16" style name and the reverse
   (also accepts numpy names: "uint8", "float32", "complex64", "i2", "f4" ...);
   NIfTI datatype codes both ways (MV_DT_UNKNOWN / 0 if none). */
MVDEF size_t mv_dtype_size(mv_dtype dt);
MVDEF const char *mv_dtype_name(mv_dtype dt);
MVDEF mv_dtype mv_dtype_from_name(const char *name);
MVDEF int mv_dtype_nifti_code(mv_dtype dt);
MVDEF mv_dtype mv_dtype_from_nifti_code(int code);
MVDEF int mv_dtype_is_integer(mv_dtype dt);
MVDEF int mv_dtype_is_float(mv_dtype dt);   /* real floating types */
MVDEF int mv_dtype_is_complex(mv_dtype dt);

/* Empty volume: no data, identity affine, spacing 1, scaling 1/0, units mm+s.
   Never releases anything v held (mv_free does). allocates: no. */
MVDEF void mv_vol_init(mv_vol *v);
/* A new volume with a zeroed voxel array of the given shape, empty metadata
   (as mv_vol_init). dims[0] fastest; ndim 1..7; every dim >= 1. v is an
   output volume (MEMORY). allocates: yes. */
MVDEF mv_status mv_vol_alloc(mv_vol *v, mv_dtype dt, int ndim, const int64_t *dims,
                             void *alloc_ctx);
/* A volume around caller memory (never freed by medvol) with empty metadata:
   identity affine, spacing 1. v is an output volume (MEMORY). allocates: no. */
MVDEF mv_status mv_vol_wrap(mv_vol *v, void *data, mv_dtype dt, int ndim,
                            const int64_t *dims);
/* A volume around caller memory with the geometry and metadata of like
   (dims, spacing, affine, NIfTI fields, scl_slope/scl_inter included) and
   the dtype dt: the output of an _into call on like, or of mv_pipeline_into
   on the volume mv_pipeline_geometry gave. Extensions are not shared: v has
   none (like keeps its own). After an intensity step the values are no
   longer scaled: set v->meta.scl_slope = 1, scl_inter = 0 yourself (or wrap
   mv_pipeline_geometry's result, which has them). v is an output volume
   (MEMORY). allocates: no. */
MVDEF mv_status mv_vol_wrap_like(mv_vol *v, void *data, mv_dtype dt, const mv_vol *like);
/* Releases data (owned or mapped) and extensions; leaves an empty volume.
   Safe on an mv_vol_init'ed or zeroed volume. */
MVDEF void mv_free(mv_vol *v);
/* Deep copy (data, metadata, extensions). dst is an output volume (MEMORY).
   allocates: yes. */
MVDEF mv_status mv_vol_copy(const mv_vol *src, mv_vol *dst);
/* Copies geometry and metadata (extensions deep-copied) but not data; dst gets
   no data. dst is an output volume (MEMORY). allocates: only for extensions. */
MVDEF mv_status mv_vol_copy_meta(const mv_vol *src, mv_vol *dst);
/* Voxel count (product of dims) and bytes of the voxel array. */
MVDEF int64_t mv_vol_count(const mv_vol *v);
MVDEF size_t mv_vol_bytes(const mv_vol *v);
/* Replaces the extensions with copies of ext[0..n). allocates: yes. */
MVDEF mv_status mv_vol_set_extensions(mv_vol *v, const mv_extension *ext, int n);

/* Orientation of a volume's voxel axes. mv_io_orientation: for each voxel
   axis, the world axis (0 = x L->R, 1 = y P->A, 2 = z I->S) it runs along
   and its direction +1/-1 (nibabel io_orientation: polar decomposition, then
   greedy by voxel axis); world_axis -1 for a zero column. mv_orientation
   writes the codes ("RAS", "LPS", ... as nibabel aff2axcodes, '?' for a zero
   column) and a NUL. allocates: no. */
MVDEF mv_status mv_io_orientation(const mv_vol *v, int world_axis[3], int sign[3]);
MVDEF mv_status mv_orientation(const mv_vol *v, char code[4]);

/* Converts n elements between any two dtypes (see API TOUR for rounding,
   saturation and scaling). Complex -> real and RGB <-> non-RGB are
   MV_ERR_UNSUPPORTED. src and dst may not overlap and must be aligned as C
   arrays of their element type (MV_ERR_INVALID_ARG). allocates: no.
   thread-safe: yes. */
MVDEF mv_status mv_convert_buffer(const void *src, mv_dtype src_dtype, void *dst,
                                  mv_dtype dst_dtype, size_t n,
                                  const mv_convert_opts *opts);
/* Converts src's voxels into dst, which must have the same dims and its own
   data (dtype = dst->dtype); scaling from src->meta when opts->scaled; dst's
   geometry and metadata are left as they are. allocates: no. */
MVDEF mv_status mv_convert_into(const mv_vol *src, mv_vol *dst, const mv_convert_opts *opts);
/* New volume of dtype with src's geometry and metadata; with opts->scaled the
   result's scl_slope/scl_inter become 1/0. dst is an output volume (MEMORY).
   allocates: yes. */
MVDEF mv_status mv_convert(const mv_vol *src, mv_vol *dst, mv_dtype dtype,
                           const mv_convert_opts *opts);

/* Statistics of all voxels in float64 (see mv_stats). Real dtypes only
   (complex/RGB: MV_ERR_UNSUPPORTED). Deterministic for any thread count and
   ISA. allocates: no. */
MVDEF mv_status mv_compute_stats(const mv_vol *v, mv_stats *out, const mv_stats_opts *opts);

/* >>api-nifti ============================================================== */

#if !defined(MEDVOL_NO_STDIO)
/* Loads a NIfTI-1/2 or Analyze volume. The format comes from the file name:
   .nii = single file; .hdr or .img = pair (either name); a .gz suffix
   (.nii.gz, .hdr.gz/.img.gz) is decompressed by the built-in gzip, in
   parallel for files medvol wrote (member index), and a crop box decodes
   only the members it needs. out is an output (MEMORY); on failure it is
   empty.
   allocates: yes (or maps). thread-safe: yes. */
MVDEF mv_status mv_load(const char *path, mv_vol *out, const mv_load_opts *opts);
#endif
/* Same from memory: a single-file image (header, extensions, data), or just a
   header with opts->header_only. Data that needs no conversion is still
   copied (the buffer may go away); use mv_load_mem_borrow to alias it. */
MVDEF mv_status mv_load_mem(const void *buf, size_t len, mv_vol *out,
                            const mv_load_opts *opts);
/* Zero-copy: out->data points into buf (flag MV_VOL_BORROWED) when the stored
   bytes need no conversion and are aligned for the dtype; else as mv_load_mem. */
MVDEF mv_status mv_load_mem_borrow(const void *buf, size_t len, mv_vol *out,
                                   const mv_load_opts *opts);
/* A .hdr/.img pair (or Analyze) from two buffers. */
MVDEF mv_status mv_load_mem_pair(const void *hdr, size_t hdr_len, const void *img,
                                 size_t img_len, mv_vol *out, const mv_load_opts *opts);
/* A single-file image from a stream (io->read; io->seek optional). */
MVDEF mv_status mv_load_io(const mv_io *io, mv_vol *out, const mv_load_opts *opts);

#if !defined(MEDVOL_NO_STDIO)
/* Saves a volume; the format comes from the name (.nii single, .hdr/.img
   pair). Writes a temporary file in the same folder and renames it, so the
   target is the old file or the whole new one.
   - Version: opts->nifti_version, else NIfTI-1 unless something needs
     NIfTI-2: dims over 32767, a volume read from NIfTI-2 (kept), or a
     float64 field (scl_slope, srow, pixdim, ...) that float32 turns into 0
     or +-inf. Asking for NIfTI-1 then is MV_ERR_INVALID_ARG naming the field.
   - Pairs: both files are renamed into place under a lock (flock on their
     folder) that mv_load takes to open them, so two saves of one pair and a
     load running beside them never mix one save's .hdr with another's .img
     (where the folder cannot be locked, e.g. some network file systems, the
     .img is renamed first and the .hdr last, unguarded). Programs that do
     not take the lock may still see a mix.
   - Modes: a new file gets 0666 less the umask (as open(2)); a replaced
     file keeps its mode. A symlink is written through, as cp does: the file
     it names is replaced (temporary and rename in that file's folder), the
     link stays.
   - Temporaries are TARGET.mvtmp-HOST-PID-RANDOM; a save removes those of
     its target left by a writer of this host that is gone (killed), never
     a live process's. It lists the folder once to find them.
   allocates: small buffers. */
MVDEF mv_status mv_save(const char *path, const mv_vol *v, const mv_save_opts *opts);
#endif
/* Single-file image into caller memory (gzip-compressed with opts->compress).
   buf NULL: *len = bytes needed, MV_OK (compressed: by compressing). cap too
   small: MV_ERR_BUFFER_TOO_SMALL and *len = bytes needed.
   allocates: no (compressed: the compressor's state). */
MVDEF mv_status mv_save_mem(const mv_vol *v, void *buf, size_t cap, size_t *len,
                            const mv_save_opts *opts);
/* Single-file image to a stream (io->write). allocates: no. */
MVDEF mv_status mv_save_io(const mv_vol *v, const mv_io *io, const mv_save_opts *opts);

/* The affine nibabel computes from a volume's metadata (img.affine of a freshly
   loaded file): sform if sform_code > 0, else qform if qform_code > 0, else
   from pixdim (x flipped); Analyze: the SPM origin affine. */
MVDEF void mv_meta_affine(const mv_vol *v, double affine[4][4]);

/* >>api-gzip =============================================================== */

/* Decompresses a whole gzip buffer (RFC 1952: any number of members, FEXTRA,
   FNAME, FCOMMENT, FHCRC; CRC-32 and ISIZE checked; zero padding after the
   last member ignored) into out. *out_len = the decompressed size; with out
   NULL (a sizing call) or out_cap too small the size is still reported, the
   latter with MV_ERR_BUFFER_TOO_SMALL. Files medvol wrote carry a member
   index and decompress in parallel. Errors: MV_ERR_BAD_DATA (what is wrong and
   where), MV_ERR_TRUNCATED, MV_ERR_UNSUPPORTED (not deflate).
   allocates: decoder state (45 KiB per thread). thread-safe: yes. */
MVDEF mv_status mv_gunzip(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                          const mv_gzip_opts *opts);

/* Compresses n bytes as gzip into out (see mv_gzip_opts): by default as
   members of member_size bytes compressed in parallel, each a plain gzip
   member with an index subfield (gzip -d, zlib, nibabel read the whole);
   single_member writes one member as gzip(1) does. *out_len is the exact
   size; with out NULL (or out_cap too small: MV_ERR_BUFFER_TOO_SMALL) the
   size is still computed, by compressing. mv_gzip_bound is the most it can
   be. Levels: 1 fastest ... 9 smallest, 0 = 6, -1 = stored.
   allocates: compressor state (0.3-1.3 MiB per thread) and a batch of
   member buffers. thread-safe: yes. */
MVDEF size_t mv_gzip_bound(size_t n, const mv_gzip_opts *opts);
MVDEF mv_status mv_gzip(const void *in, size_t n, void *out, size_t out_cap, size_t *out_len, const mv_gzip_opts *opts);

/* Streaming decompression, piece by piece: feed input as it comes, take
   output as it fits. Each call consumes input (*in_used bytes) and writes up
   to out_cap bytes (*out_len); *at_end becomes 1 when the input given so far
   ends exactly after a complete member (a stream of several members goes on
   if more input follows). The state is mv_gunzip_stream_size() bytes: from
   mv_gunzip_stream_new (allocates) or caller memory (8-byte aligned) through
   mv_gunzip_stream_init (allocates nothing). One stream per thread. */
typedef struct mv_gunzip_stream mv_gunzip_stream;
MVDEF size_t mv_gunzip_stream_size(void);
MVDEF mv_status mv_gunzip_stream_init(mv_gunzip_stream *s);
MVDEF mv_status mv_gunzip_stream_new(mv_gunzip_stream **s, void *alloc_ctx);
MVDEF void mv_gunzip_stream_free(mv_gunzip_stream *s, void *alloc_ctx);
MVDEF mv_status mv_gunzip_stream_run(mv_gunzip_stream *s, const void *in, size_t in_len, size_t *in_used, void *out,
                                     size_t out_cap, size_t *out_len, int *at_end);

/* >>api-intensity ========================================================== */

/* Options of the intensity operations; all-zero = defaults.
   Which voxels the statistics see: all finite voxels (default); with
   nonzero, the finite voxels != 0, and z-normalize / rescale change those
   voxels only, zeros stay 0 (MONAI NormalizeIntensity(nonzero=True)); with
   a mask, the finite voxels where mask != 0 (mask: any real dtype, the
   input's first three dims, shared by every frame of a 4D input), and every
   voxel is transformed (TorchIO ZNormalization(masking_method)).
   NaN stays NaN and +-Inf stays +-Inf (NaN where std or range is 0); neither
   enters any statistic. */
typedef struct mv_intensity_opts {
    int nonzero;
    const mv_vol *mask;
    int per_frame;          /* 4D and up: statistics per 3D frame (channel-wise) */
    const mv_stats *stats;  /* known statistics of the input (e.g. from mv_load's
                               stats): skips the statistics pass (not with
                               nonzero, mask, per_frame or percentiles) */
    double pct_lo, pct_hi;  /* rescale: map these percentiles (0..100, numpy
                               'linear') to lo/hi instead of min/max; both 0 =
                               min and max */
    int clip;               /* rescale: clamp the result to [lo, hi] (TorchIO
                               RescaleIntensity; MONAI's default is no clip) */
    int raw;                /* ignore scl_slope/scl_inter (default: applied) */
    mv_dtype dtype;         /* allocating forms: output dtype (0 = float32) */
    mv_round rounding;      /* for integer output dtypes */
    int threads;
    void *alloc_ctx;
} mv_intensity_opts;

/* z-normalize: (x - mean) / std, population std (ddof 0), sums in float64,
   evaluated per voxel in float64 and rounded once; std == 0 gives 0.
   mv_znorm allocates the output (float32 unless opts->dtype, geometry and
   metadata of the input, scaling 1/0); mv_znorm_into writes into out->data
   (out: same dims, any real dtype, may be the input itself) and touches
   nothing else of out. allocates: mv_znorm_into no. */
MVDEF mv_status mv_znorm(const mv_vol *in, mv_vol *out, const mv_intensity_opts *opts);
MVDEF mv_status mv_znorm_into(const mv_vol *in, mv_vol *out, const mv_intensity_opts *opts);

/* Min-max rescale to [lo, hi] (lo = hi = 0: [0, 1]): y = (x - min) *
   ((hi - lo) / (max - min)) + lo in float64; a constant input gives lo.
   With opts->pct_lo/pct_hi the percentiles replace min and max. Forms as
   mv_znorm. */
MVDEF mv_status mv_rescale(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts);
MVDEF mv_status mv_rescale_into(const mv_vol *in, mv_vol *out, double lo, double hi,
                                const mv_intensity_opts *opts);

/* Clamp to [lo, hi] (lo <= hi; NaN stays NaN, as numpy.clip). Forms as
   mv_znorm; opts->dtype 0 keeps float32. */
MVDEF mv_status mv_clamp(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts);
MVDEF mv_status mv_clamp_into(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts);
/* Whether z-normalize and rescale see v's values (scaled unless raw) as
   float32 numbers: uint8/uint16/int16 whose scaling float32 holds exactly
   (slope 2, inter -3: yes; slope 0.1: no), and unscaled float32, float16,
   bfloat16, uint8, int8, uint16, int16. Otherwise (int32/64, float64, or a
   scaling such as slope 1e38) their statistics and first step are taken in
   float64 from the stored value, so nothing is rounded or overflowed before
   it is normalised. 0 for a volume the ops refuse (NULL, a valid slope with
   a non-finite intercept). medvol_cuda.h applies the same rule through
   this function. allocates: no. */
MVDEF int mv_intensity_values_f32(const mv_vol *v, int raw);

/* Histogram of nbins equal bins over [lo, hi] exactly as numpy.histogram:
   edges numpy.linspace(lo, hi, nbins + 1), bin i holds edge[i] <= x <
   edge[i+1], the last bin also x == hi, values outside and NaN not counted.
   lo == hi: the range is the data's min and max (min - 0.5, max + 0.5 when
   equal), as numpy. Voxels as selected by opts (nonzero, mask).
   allocates: no. */
MVDEF mv_status mv_histogram(const mv_vol *v, int nbins, double lo, double hi, int64_t *counts,
                             const mv_intensity_opts *opts);

/* Percentiles q[0..nq) (0..100) of the non-NaN voxels selected by opts, as
   numpy.nanpercentile(method='linear'), exactly: a radix selection in a few
   passes over the data, no copy, no sort. No voxel: NaN. allocates: no. */
MVDEF mv_status mv_percentiles(const mv_vol *v, const double *q, int nq, double *out,
                               const mv_intensity_opts *opts);

/* >>api-spatial ============================================================ */

/* Spatial operations move voxels, never change them: the output keeps the
   input's dtype and scaling, and its affine maps every voxel to the world
   point it had (voxels added by padding get the fill value). They act on
   the first three axes and repeat over the others (time, channels).
   Allocating forms copy the metadata (out: MEMORY, OUTPUT VOLUMES); _into
   forms write out->data (dims must be what the operation gives:
   mv_pipeline_geometry tells; other dims: MV_ERR_INVALID_ARG naming both)
   and out->affine and out->spacing, nothing else, allocate nothing, and
   need out->data apart from in->data.
   MISSING AXES. A 1D or 2D volume is treated as having size-1 axes up to
   three (as numpy after np.expand_dims): a shape, box, flip, permutation,
   orientation or rotation may name axes 1 and 2. The result keeps the
   input's ndim unless one of those added axes gets a size other than 1;
   then it is 3D. So crop_or_pad of a 4x3 image to 8,8,4 is 8x8x4, to 8,8,0
   (or 8,8,1) is 8x8; reorient of a 4x3 image to "SAR" is 1x4x3 (when the
   affine's third axis is S); flipping axis 2 of a 2D image only negates the
   affine's third column. Resampling follows the same rule. */
typedef struct mv_spatial_opts {
    double fill;            /* value of padded voxels (as stored, before scaling) */
    int threads;
    void *alloc_ctx;
} mv_spatial_opts;

/* Centred crop and/or pad to shape[0..2] (0 = keep that axis), as MONAI
   ResizeWithPadOrCrop: crop start = in/2 - out/2, pad before = (out - in)/2
   (integer division). */
MVDEF mv_status mv_crop_or_pad(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_spatial_opts *opts);
MVDEF mv_status mv_crop_or_pad_into(const mv_vol *in, mv_vol *out, const int64_t shape[3],
                                    const mv_spatial_opts *opts);
/* The box start[0..2] (may be negative) of size[0..2] (>= 1) in input voxel
   coordinates: crops where it lies inside, pads where it reaches outside. */
MVDEF mv_status mv_crop_pad_box(const mv_vol *in, mv_vol *out, const int64_t start[3], const int64_t size[3],
                                const mv_spatial_opts *opts);
MVDEF mv_status mv_crop_pad_box_into(const mv_vol *in, mv_vol *out, const int64_t start[3], const int64_t size[3],
                                     const mv_spatial_opts *opts);
/* Reverses the axes in the bit mask (bit a = axis a, any axis < ndim). */
MVDEF mv_status mv_flip(const mv_vol *in, mv_vol *out, unsigned axes, const mv_spatial_opts *opts);
MVDEF mv_status mv_flip_into(const mv_vol *in, mv_vol *out, unsigned axes, const mv_spatial_opts *opts);
/* Output axis i is input axis perm[i] (numpy.transpose of the first three
   axes). */
MVDEF mv_status mv_permute(const mv_vol *in, mv_vol *out, const int perm[3], const mv_spatial_opts *opts);
MVDEF mv_status mv_permute_into(const mv_vol *in, mv_vol *out, const int perm[3], const mv_spatial_opts *opts);
/* Permutes and flips the first three axes so the voxel axes run along the
   orientation code ("RAS", "LPS", "PIR", ...; letters R/L, A/P, S/I, one
   of each pair), choosing axes as nibabel io_orientation; "RAS" gives what
   nibabel's as_closest_canonical gives. MV_ERR_UNSUPPORTED if an axis has no
   direction (zero affine column). */
MVDEF mv_status mv_reorient(const mv_vol *in, mv_vol *out, const char *code, const mv_spatial_opts *opts);
MVDEF mv_status mv_reorient_into(const mv_vol *in, mv_vol *out, const char *code, const mv_spatial_opts *opts);
/* numpy.rot90(a, k, axes=(axis0, axis1)): k quarter turns from axis0
   towards axis1 (any k; axes distinct, < 3). */
MVDEF mv_status mv_rot90(const mv_vol *in, mv_vol *out, int k, int axis0, int axis1, const mv_spatial_opts *opts);
MVDEF mv_status mv_rot90_into(const mv_vol *in, mv_vol *out, int k, int axis0, int axis1, const mv_spatial_opts *opts);

/* >>api-resample =========================================================== */

/* Resampling onto a new voxel grid. Every output voxel o is sampled at the
   input voxel coordinate M * o (M: output voxel -> input voxel, 4x4), and
   the output's affine is the input's affine times M, so each output voxel's
   world coordinate is where it sampled (spacing = the column norms of that
   affine, as nibabel voxel_sizes). Values: linear and cubic resample the
   scaled values (scl_slope/scl_inter applied in float64, rounded to float32,
   unless opts->raw) in float32 and store them in the output dtype (float32
   by default; integer dtypes round as opts->rounding and saturate);
   nearest copies stored values unchanged when the output keeps the input's
   dtype (any dtype, complex and RGB included; the scaling stays in the
   metadata), else converts them like linear. The allocating forms copy the
   input's metadata and set scl_slope/scl_inter to 1/0 when they applied the
   scaling. 4D and up: each 3D frame alike. NaN voxels spread to every output
   voxel whose taps include them, as in scipy. Results are identical for
   every thread count and ISA.
   Axis-aligned maps (zoom, spacing, diagonal + translation) run separably
   (per-axis taps, rows interpolated along x, then blended along y and z);
   other maps sample voxel by voxel. */
typedef enum mv_interp {
    MV_INTERP_LINEAR = 0,   /* trilinear (scipy order 1) */
    MV_INTERP_NEAREST,      /* nearest voxel as scipy order 0: index
                               floor(c + 0.5), so a tie goes up */
    MV_INTERP_CUBIC         /* cubic B-spline with prefilter (scipy order 3):
                               float64 prefilter into float32 coefficients */
} mv_interp;

typedef struct mv_resample_opts {
    mv_interp interp;
    int align_corners;      /* the corner voxel centres stay put (scipy zoom
                               grid_mode=False, torch align_corners=True);
                               default: the field of view is kept, voxel edges
                               align (grid_mode=True, align_corners=False) */
    int fill_outside;       /* samples outside the input, i.e. a coordinate
                               outside [0, n-1] on some axis: 0 = the edge
                               continues (scipy mode='nearest': linear and
                               nearest take the edge voxel, cubic the spline
                               of the edge-extended volume); 1 = opts->fill
                               (scipy mode='constant'; cubic then uses the
                               mirror boundary inside, as scipy does) */
    double fill;            /* output value of outside samples (in the output
                               dtype's units: rounded and saturated for
                               integers; RGB: every channel) */
    mv_dtype dtype;         /* output dtype of allocating forms: 0 = float32
                               (nearest: the input's dtype) */
    mv_round rounding;      /* float -> integer outputs (default half to even) */
    int raw;                /* ignore scl_slope/scl_inter */
    void *scratch;          /* cubic: mv_resample_scratch_size bytes (64-byte
                               aligned) for the coefficient volume; NULL: the
                               cubic forms allocate it */
    size_t scratch_size;    /* bytes at scratch (MV_ERR_BUFFER_TOO_SMALL if
                               fewer than needed) */
    int threads;            /* 0 = library default */
    void *alloc_ctx;
} mv_resample_opts;

/* To shape[0..2] (0 = keep): scipy.ndimage.zoom with the factors out/in
   per axis. Output voxel o samples input coordinate (o + 0.5) * in/out - 0.5
   (computed in float64 exactly like scipy, so nearest picks the same
   voxels; align_corners: o * (in - 1)/(out - 1), 0 when out is 1).
   Errors: MV_ERR_INVALID_ARG (NULL, shape < 0, a non-real dtype for linear
   or cubic: MV_ERR_UNSUPPORTED), MV_ERR_SIZE_OVERFLOW, MV_ERR_OUT_OF_MEMORY.
   allocates: the output (and the cubic coefficients). thread-safe: yes. */
MVDEF mv_status mv_resample_shape(const mv_vol *in, mv_vol *out, const int64_t shape[3],
                                  const mv_resample_opts *opts);
/* To voxel spacing[0..2] mm (> 0): shape = round(in * (old / new)), half to
   even and at least 1 (what scipy zoom makes of the factor old / new; old =
   in->spacing), then as mv_resample_shape. The spacing stored is the one
   that keeps the field of view (old * in / out: the requested one when it
   divides the extent). */
MVDEF mv_status mv_resample_spacing(const mv_vol *in, mv_vol *out, const double spacing[3],
                                    const mv_resample_opts *opts);
/* Into the grid of ref (its first three dims and its affine, which the
   output takes) by world coordinates: out voxel -> world (ref affine) ->
   input voxel (inverse input affine). A singular input affine gives
   MV_ERR_INVALID_ARG. */
MVDEF mv_status mv_resample_like(const mv_vol *in, const mv_vol *ref, mv_vol *out, const mv_resample_opts *opts);
/* General form: out has dims[0..2] = shape (0 = keep) and out_affine;
   world_xform (NULL = identity) maps output world points to input world
   points (a registration result). M = inv(in affine) * world_xform *
   out_affine. */
MVDEF mv_status mv_resample_affine(const mv_vol *in, mv_vol *out, const int64_t shape[3],
                                   const double out_affine[4][4], const double world_xform[4][4],
                                   const mv_resample_opts *opts);
/* Caller buffer: writes out->data (out->dtype, out->dim: the first three
   are the grid, the rest must be the input's) and nothing else; vox_map
   maps output voxel (i, j, k, 1) to input voxel coordinates (bottom row
   0 0 0 1, finite). allocates: no; cubic uses opts->scratch or, without
   it, allocates the coefficients. Linear and nearest use about 24 KiB of
   stack per thread. */
MVDEF mv_status mv_resample_into(const mv_vol *in, mv_vol *out, const double vox_map[4][4],
                                 const mv_resample_opts *opts);
/* Scratch bytes mv_resample_into needs for in with these options (the
   thread count is part of it: pass the same opts): 0 unless cubic (and for
   arguments it cannot use). allocates: no. */
MVDEF size_t mv_resample_scratch_size(const mv_vol *in, const mv_resample_opts *opts);

/* >>api-pipeline =========================================================== */

/* A chain of operations run in one read of the input and one write of the
   output: spatial steps compose into one voxel mapping, intensity steps
   into one per-voxel function, and statistics the chain needs are taken by
   a read pass over the input region the output uses. The result equals
   running the steps one by one (statistics sums may differ in the last
   bits, so results within 1 ulp). Build steps with the mv_op_* functions. */
typedef enum mv_op_kind {
    MV_OP_NONE = 0,
    MV_OP_CROP_OR_PAD,      /* shape, fill */
    MV_OP_BOX,              /* start, size, fill */
    MV_OP_FLIP,             /* axes */
    MV_OP_PERMUTE,          /* perm */
    MV_OP_REORIENT,         /* code */
    MV_OP_ROT90,            /* k, perm[0], perm[1] */
    MV_OP_ZNORM,            /* nonzero */
    MV_OP_RESCALE,          /* lo, hi, pct_lo, pct_hi, clip, nonzero */
    MV_OP_CLAMP,            /* lo, hi */
    MV_OP_CAST              /* dtype, rounding */
} mv_op_kind;

typedef struct mv_op {
    mv_op_kind kind;
    int64_t shape[3];       /* crop_or_pad target; box size */
    int64_t start[3];       /* box start */
    double fill;
    unsigned axes;
    int perm[3];
    int k;
    char code[4];
    double lo, hi, pct_lo, pct_hi;
    int clip, nonzero;
    mv_dtype dtype;
    mv_round rounding;
} mv_op;

MVDEF mv_op mv_op_crop_or_pad(int64_t x, int64_t y, int64_t z, double fill);
MVDEF mv_op mv_op_box(const int64_t start[3], const int64_t size[3], double fill);
MVDEF mv_op mv_op_flip(unsigned axes);
MVDEF mv_op mv_op_permute(int p0, int p1, int p2);
MVDEF mv_op mv_op_reorient(const char *code);
MVDEF mv_op mv_op_rot90(int k, int axis0, int axis1);
MVDEF mv_op mv_op_znorm(int nonzero);
MVDEF mv_op mv_op_rescale(double lo, double hi);
MVDEF mv_op mv_op_rescale_pct(double lo, double hi, double pct_lo, double pct_hi, int clip);
MVDEF mv_op mv_op_clamp(double lo, double hi);
MVDEF mv_op mv_op_cast(mv_dtype dtype, mv_round rounding);

typedef struct mv_pipeline_opts {
    int raw;                /* ignore scl_slope/scl_inter */
    mv_stats *stats;        /* if set: statistics of the output (float64) */
    int squeeze;            /* drop the output's trailing length-1 axes beyond
                               the third (as mv_load_opts.squeeze); ignored by
                               mv_pipeline_into (the caller's shape stands) */
    int threads;
    void *alloc_ctx;
} mv_pipeline_opts;

/* What the chain makes of in: out gets dims, dtype, spacing, affine (no
   data, no allocation). Checks every step. */
MVDEF mv_status mv_pipeline_geometry(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out);
/* Runs the chain: allocating (geometry and metadata as the steps leave
   them) or into out->data (dims and dtype as mv_pipeline_geometry says;
   allocates: no; out->affine and spacing set). */
MVDEF mv_status mv_pipeline(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out,
                            const mv_pipeline_opts *opts);
MVDEF mv_status mv_pipeline_into(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out,
                                 const mv_pipeline_opts *opts);
/* Load and run: only the part of the file the output uses is read (crop
   first), mapped files are read once for statistics and once to write. */
#if !defined(MEDVOL_NO_STDIO)
MVDEF mv_status mv_pipeline_load(const char *path, const mv_op *ops, int n_ops, mv_vol *out,
                                 const mv_pipeline_opts *opts);
#endif
MVDEF mv_status mv_pipeline_load_mem(const void *buf, size_t len, const mv_op *ops, int n_ops, mv_vol *out,
                                     const mv_pipeline_opts *opts);

/* >>api-fft ================================================================
   Fast Fourier transforms of float32 volumes with numpy's conventions.

   Layout: arrays are dense, dims[0] fastest in memory (as mv_vol stores
   voxels). numpy sees the same bytes as an array of shape
   (dims[ndim-1], ..., dims[0]), so our axis k is numpy axis ndim-1-k.
   Complex data are interleaved (re, im) float pairs (numpy complex64).

   Transforms: numpy.fft.fftn / ifftn / rfftn / irfftn over the axes whose
   bit is set in `axes` (bit k = dims[k]); the other axes are a batch.
   Norms are numpy's norm=: MV_FFT_BACKWARD (default) leaves the forward
   transform unscaled and divides the inverse by N; MV_FFT_ORTHO scales both
   by 1/sqrt(N); MV_FFT_FORWARD divides the forward by N. N is the product of
   the transformed lengths (the real lengths for r2c / c2r).

   Real transforms halve the lowest transformed axis h (the lowest set bit
   of axes): the complex array has dims[h] / 2 + 1 there, every other dim
   unchanged. That is numpy's rfftn, which halves the LAST of its axes, i.e.
   our lowest: rfftn(x, axes=...) with x of shape (dims[ndim-1], ..., dims[0]).
   c2r is irfftn with s = the real lengths: you pass the REAL dims, and the
   imaginary parts of the DC and (even length) Nyquist bins are ignored, as
   numpy does.

   Lengths: any length >= 1. Radix 2/3/4/5/7/8 passes (Stockham), a generic
   pass for other odd factors up to 63, Bluestein for larger primes.
   Accuracy (float32, against float64 numpy): relative RMS error about
   1e-7 * sqrt(log2 N) for smooth sizes; Bluestein sizes (e.g. prime 4099) a
   few 1e-7. SIMD levels use FMA, so they differ from the reference (and
   from each other) in the last bits; within one ISA the result is the same
   for every thread count and with or without in place.

   Plans: a plan holds the factorisation and twiddle tables of one shape,
   direction, norm and thread count; it is read-only once made, so any number
   of threads may execute one plan at once, each with its own scratch (from
   the allocator, or the caller's buffer with mv_fft_execute_into). The ISA
   is the active one (mv_isa_active) at each execution.

   MEDVOL_USE_FFTW: the same API runs on fftwf (FFTW_ESTIMATE plans made with
   the medvol plan; fftwf threads when opts.threads > 1). Results agree with
   the native engine within float rounding. Link -lfftw3f_threads -lfftw3f. */

/* numpy's norm= */
typedef enum mv_fft_norm {
    MV_FFT_BACKWARD = 0, /* forward unscaled, inverse / N */
    MV_FFT_ORTHO,        /* both / sqrt(N) */
    MV_FFT_FORWARD       /* forward / N, inverse unscaled */
} mv_fft_norm;

/* Options: all-zero = defaults (backward norm, library thread count, the
   default allocator). */
typedef struct mv_fft_opts {
    mv_fft_norm norm;
    int threads;     /* 0 = library default (mv_set_threads); 1 = caller's thread only */
    void *alloc_ctx; /* passed to MEDVOL_MALLOC / MEDVOL_FREE for the plan and scratch */
} mv_fft_opts;

typedef struct mv_fft_plan mv_fft_plan;

/* Plans a complex-to-complex transform of an ndim (1..7) array of dims over
   `axes`; inverse = 0: forward (sign -1, numpy fftn), 1: inverse (sign +1,
   ifftn). Returns MV_ERR_INVALID_ARG (NULL plan or dims, ndim out of range,
   a dim < 1, axes 0 or with bits >= ndim, bad opts), MV_ERR_SIZE_OVERFLOW,
   MV_ERR_OUT_OF_MEMORY. *plan is NULL on failure.
   allocates: yes (the plan and its tables). thread-safe: yes. */
MVDEF mv_status mv_fft_plan_c2c(mv_fft_plan **plan, int ndim, const int64_t *dims, unsigned axes, int inverse,
                                const mv_fft_opts *opts);

/* Plans real -> half-complex (numpy rfftn): the input is real float32 with
   dims, the output complex with dims[h] -> dims[h]/2 + 1, h = the lowest set
   bit of axes (numpy's last axis). Statuses as mv_fft_plan_c2c.
   allocates: yes. thread-safe: yes. */
MVDEF mv_status mv_fft_plan_r2c(mv_fft_plan **plan, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts);

/* Plans half-complex -> real (numpy irfftn with s = the real lengths):
   dims are the REAL output's; the input is complex with dims[h]/2 + 1.
   Statuses as mv_fft_plan_c2c. allocates: yes. thread-safe: yes. */
MVDEF mv_status mv_fft_plan_c2r(mv_fft_plan **plan, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts);

/* Executes a plan: in -> out. c2c may run in place (in == out); any other
   overlap, and any overlap for r2c / c2r (which have no padded in-place
   layout), is MV_ERR_INVALID_ARG. The input is never modified (out of
   place). Returns MV_OK, MV_ERR_INVALID_ARG (NULL pointers, overlap),
   MV_ERR_OUT_OF_MEMORY (scratch).
   allocates: yes, mv_fft_scratch_size(plan) bytes for the call.
   thread-safe: yes, also on the same plan from several threads at once. */
MVDEF mv_status mv_fft_execute(const mv_fft_plan *plan, const void *in, void *out);

/* Bytes of scratch mv_fft_execute_into needs (any alignment will do; it is
   aligned inside). Small for c2c and r2c (a few hundred KiB per thread);
   multi-axis c2r also holds one complex intermediate array (its input must
   survive). 0 for a NULL plan. allocates: no. thread-safe: yes. */
MVDEF size_t mv_fft_scratch_size(const mv_fft_plan *plan);

/* mv_fft_execute with the caller's scratch (at least mv_fft_scratch_size
   bytes; one buffer per concurrent call). Statuses as mv_fft_execute but
   never MV_ERR_OUT_OF_MEMORY. allocates: no (the FFTW backend may allocate
   inside fftwf). thread-safe: yes, with a scratch buffer per call. */
MVDEF mv_status mv_fft_execute_into(const mv_fft_plan *plan, const void *in, void *out, void *scratch);

/* Frees a plan (NULL is fine). Not while another thread executes it.
   allocates: no. thread-safe: yes for different plans. */
MVDEF void mv_fft_plan_free(mv_fft_plan *plan);

/* One-call forms: plan (from a small internal cache of recent plans, keyed
   by kind, shape, axes, direction, norm, threads and alloc_ctx), execute,
   release. The cache is the FFT's only global state: up to 16 plans behind
   a mutex (none with MEDVOL_NO_THREADS); a plan in use by one call is never
   evicted by another. Statuses as the plan and execute functions.
   allocates: yes (a plan on a cache miss, scratch each call).
   thread-safe: yes. */
MVDEF mv_status mv_fft_c2c(const void *in, void *out, int ndim, const int64_t *dims, unsigned axes, int inverse,
                           const mv_fft_opts *opts);
MVDEF mv_status mv_fft_r2c(const float *in, void *out, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts);
MVDEF mv_status mv_fft_c2r(const void *in, float *out, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts);

/* Frees the cached plans no call is using (for leak checkers, custom
   allocators being torn down, or memory pressure). allocates: no.
   thread-safe: yes. */
MVDEF void mv_fft_cache_clear(void);

/* >>api-mri ================================================================
   MRI reconstruction kernels on complex64 (MV_DT_C64) volumes.

   Layout (BART's, so its .cfl dims read as our dims):
     dims[0..2] = x (readout), y, z: the spatial / k-space axes
     dims[3]    = coils (MV_COIL_AXIS; 1 for single-coil data)
     dims[4..6] = any further batch (time, echoes, ...): processed volume by
                  volume, each one independently.
   A single-coil NIfTI series (x, y, z, t) therefore needs t moved to dims[4]
   (or set ndim 5 with dims[3] = 1) before a coil operation; the FFT and
   shift functions take an axis mask and do not care.
   K-space is stored centred: the DC sample is at index n/2 of each axis
   (BART, numpy fftshift), so "the centre of k-space" is the middle.

   Centred transform: fftc = fftshift(fftn(ifftshift(x))) over the axes in a
   mask (bit k = dims[k]), ortho (unitary) scaling, as BART's fft -u and the
   numpy one-liner. It costs one FFT plus one modulation pass on each side:
   for an even length n, ifftshift before and fftshift after a DFT equal
   multiplying by (-1)^i before and (-1)^k * (-1)^(n/2) after; for odd n the
   same identity holds with the phase ramps exp(+-2 pi i h i / n) and
   exp(+-2 pi i (k - h) h / n), h = n / 2. Both are in place, so the
   transform is in place or out of place at the FFT's cost plus ~2 memcpy.

   Coil combination: RSS = sqrt(sum_c |x_c|^2) (float32 out; BART rss 8);
   sensitivity-weighted = sum_c conj(S_c) x_c / sum_c |S_c|^2 (0 where the
   denominator is 0); both accumulate over coils in float32, in coil order,
   so every ISA and thread count gives the same bytes.

   Sensitivities (mv_coil_sens_estimate): low-resolution coil images from
   the fully sampled k-space centre (calib voxels per axis, Hann window),
   divided by their RSS, so sum_c |S_c|^2 = 1 inside the support and S = 0
   where the low-resolution RSS is below mask_threshold of its maximum.

   SENSE (mv_sense_unfold): Cartesian undersampling by accel[a] along up to
   three axes, the sampled lines being those with index = n/2 (mod R) (the
   DC line is sampled; mv_kspace_undersample keeps exactly those). The
   zero-filled coil images are then (1/R) times the sum of the R shifted
   copies x(p + r n/R), and each group of R aliased voxels is solved by
   Tikhonov-regularised least squares (S^H S + lambda' I) x = R S^H a, with
   lambda' = lambda * trace(S^H S) / R (scale-free). Replicas with S = 0
   (outside the support) are left out of the solve and set to 0.

   Units: everything is float32 with float64 where small systems are solved
   (SENSE) or phase ramps computed. _into forms write out->data only (dims
   and dtype must be as documented; geometry untouched) and allocate nothing
   except where "allocates" says an FFT plan. Allocating forms copy the
   input's geometry and metadata (and drop the coil axis where it goes). */

#define MV_COIL_AXIS 3
#define MV_SENSE_MAX_R 32 /* accel[0] * accel[1] * accel[2] at most */

/* Options of the MRI operations; all-zero = defaults. */
typedef struct mv_mri_opts {
    double lambda;          /* SENSE Tikhonov weight, relative (0 = none; 1e-3..1e-1 typical) */
    int64_t calib[3];       /* sensitivity estimation: centre size per axis (0 = min(24, dim)) */
    double mask_threshold;  /* sensitivity support: fraction of the max low-res RSS
                               (0 = default 0.05; < 0 = no mask) */
    int threads;            /* 0 = library default; 1 = caller's thread only */
    void *alloc_ctx;
} mv_mri_opts;

/* What mv_complex_part extracts. */
typedef enum mv_cpart {
    MV_CPART_MAG = 0, /* |z| = sqrt(re^2 + im^2) in float32 (finite for |z| < 1.8e19) */
    MV_CPART_PHASE,   /* atan2(im, re), radians in [-pi, pi] */
    MV_CPART_REAL,
    MV_CPART_IMAG
} mv_cpart;

/* fftshift (inverse 0) or ifftshift (inverse 1) over the axes in the mask,
   as numpy.fft.fftshift / ifftshift: a roll by n/2 (fftshift) or -(n/2)
   (ifftshift) along each axis. Any dtype (moves elements). _into: out has
   in's dims and dtype; in place (out->data == in->data) when every shifted
   axis has even length (else MV_ERR_INVALID_ARG). allocates: _into no. */
MVDEF mv_status mv_fftshift(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts);
MVDEF mv_status mv_fftshift_into(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts);

/* Centred transform with any plan made by mv_fft_plan_c2c (its dims, axes,
   direction and norm; MV_FFT_ORTHO gives BART's fft -u): forward =
   fftshift(fftn(ifftshift(x))), inverse = fftshift(ifftn(ifftshift(x))).
   In place (in == out) or out of place; the input is not modified out of
   place. scratch: mv_fftc_scratch_size(plan) bytes. allocates: no.
   thread-safe: yes, one scratch per concurrent call. */
MVDEF size_t mv_fftc_scratch_size(const mv_fft_plan *plan);
MVDEF mv_status mv_fftc_execute_into(const mv_fft_plan *plan, const void *in, void *out, void *scratch);
/* The same on volumes, ortho scaling, c64 in and out (same dims; in place
   when out->data == in->data). mv_fftc allocates the output.
   allocates: yes (plan from the FFT cache, scratch). */
MVDEF mv_status mv_fftc(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts);
MVDEF mv_status mv_fftc_into(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts);

/* Centred k-space zero-fill / crop of the spatial axes to shape[0..2]
   (0 = keep): the DC sample (index n/2) stays the DC sample, so output
   index o takes input index o - out/2 + in/2, zero where that is outside.
   Coil and batch axes are kept. No rescaling (the unitary image scales by
   sqrt(N_in / N_out)). Any dtype. _into: out has the new dims.
   allocates: _into no. */
MVDEF mv_status mv_kspace_resize(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_mri_opts *opts);
MVDEF mv_status mv_kspace_resize_into(const mv_vol *in, mv_vol *out, const int64_t shape[3],
                                      const mv_mri_opts *opts);

/* Root-sum-of-squares over the coil axis: in c64 (or f32) with dims
   (x, y, z, C, ...), out float32 with the coil axis removed (x, y, z, ...;
   out->dims[3] = 1 is also accepted). allocates: _into no. */
MVDEF mv_status mv_rss(const mv_vol *in, mv_vol *out, const mv_mri_opts *opts);
MVDEF mv_status mv_rss_into(const mv_vol *in, mv_vol *out, const mv_mri_opts *opts);

/* Sensitivity-weighted coil combination sum_c conj(S_c) x_c / sum_c |S_c|^2:
   img c64 (x, y, z, C, ...), sens c64 (x, y, z, C) shared by every volume
   of the batch, out c64 (x, y, z, ...). allocates: _into no. */
MVDEF mv_status mv_coil_combine(const mv_vol *img, const mv_vol *sens, mv_vol *out, const mv_mri_opts *opts);
MVDEF mv_status mv_coil_combine_into(const mv_vol *img, const mv_vol *sens, mv_vol *out, const mv_mri_opts *opts);

/* Density compensation: multiplies every k-space sample (c64, in place) by
   the float32 weight of its position; weights have the first 1..3 dims of
   the k-space and are shared by coils and batch. allocates: no. */
MVDEF mv_status mv_kspace_weight(mv_vol *kspace, const mv_vol *weights, const mv_mri_opts *opts);

/* Magnitude / phase / real / imaginary part of a c64 volume into float32
   (same dims). allocates: _into no. */
MVDEF mv_status mv_complex_part(const mv_vol *in, mv_vol *out, mv_cpart part, const mv_mri_opts *opts);
MVDEF mv_status mv_complex_part_into(const mv_vol *in, mv_vol *out, mv_cpart part, const mv_mri_opts *opts);

/* Coil sensitivities from the fully sampled centre of multi-coil k-space
   (x, y, z, C; only the first volume of a batch is used): see the text
   above. sens: c64 (x, y, z, C). allocates: yes (FFT plan, scratch of one
   float32 volume); _into: sens->data is written, nothing else allocated
   but the FFT plan and its scratch. */
MVDEF mv_status mv_coil_sens_estimate(const mv_vol *kspace, mv_vol *sens, const mv_mri_opts *opts);
MVDEF mv_status mv_coil_sens_estimate_into(const mv_vol *kspace, mv_vol *sens, const mv_mri_opts *opts);

/* Zeroes the k-space lines (c64, in place) not sampled by Cartesian
   undersampling with accel[0..2] (1 = fully sampled axis): kept are the
   samples whose index i_a = n_a/2 (mod accel[a]) on every axis. accel[a]
   must divide dims[a]. allocates: no. */
MVDEF mv_status mv_kspace_undersample(mv_vol *kspace, const int accel[3], const mv_mri_opts *opts);

/* SENSE unfolding of zero-filled coil images `aliased` (c64 x, y, z, C, ...:
   the centred inverse FFT of k-space undersampled as mv_kspace_undersample
   does) with sensitivities sens (c64 x, y, z, C) into out (c64 x, y, z,
   ...). accel[a] >= 1 must divide dims[a]; product <= MV_SENSE_MAX_R.
   allocates: _into no. thread-safe: yes. */
MVDEF mv_status mv_sense_unfold(const mv_vol *aliased, const mv_vol *sens, mv_vol *out, const int accel[3],
                                const mv_mri_opts *opts);
MVDEF mv_status mv_sense_unfold_into(const mv_vol *aliased, const mv_vol *sens, mv_vol *out, const int accel[3],
                                     const mv_mri_opts *opts);

/* Reconstructions with bounded memory. mv_recon_rss: centred inverse FFT
   over the spatial axes (those with dims > 1 among 0..2) of each coil of
   each volume, then RSS; works one coil at a time, so it holds one coil
   volume (plus the FFT's scratch) whatever the coil and time counts.
   out: float32 (x, y, z, ...). mv_recon_sense: per volume of the batch, the
   coil images of that volume (C coil volumes), then mv_sense_unfold.
   allocates: yes (that scratch, the FFT plan). */
MVDEF mv_status mv_recon_rss(const mv_vol *kspace, mv_vol *out, const mv_mri_opts *opts);
MVDEF mv_status mv_recon_sense(const mv_vol *kspace, const mv_vol *sens, mv_vol *out, const int accel[3],
                               const mv_mri_opts *opts);

/* Phantom coil sensitivities: ncoils smooth complex maps (Gaussian
   magnitude around coils on a ring in the x-y plane, alternating in z for
   3D, a smooth phase), normalised so sum_c |S_c|^2 = 1 at every voxel: an
   ideal array whose RSS of S_c * image is |image|. c64 (nx, ny, nz,
   ncoils), grid [-1, 1]^3 as mv_phantom_shepp_logan. allocates: yes. */
MVDEF mv_status mv_phantom_coil_sens(mv_vol *out, int64_t nx, int64_t ny, int64_t nz, int ncoils);
/* Multi-coil centred k-space of an image (f32 or c64, x, y, z) seen by
   sens (c64 x, y, z, C): fftc(S_c * image), ortho. kspace: c64 (x, y, z, C).
   allocates: yes. */
MVDEF mv_status mv_phantom_kspace(const mv_vol *image, const mv_vol *sens, mv_vol *kspace, const mv_mri_opts *opts);

/* >>api-transport ==========================================================
   Deterministic proton transport on a 2D slab (x lateral, z depth): the
   fluence psi[E][theta][z][x] (float32, x fastest) is advanced step by step
   by operator splitting of three operators, each a gather (no atomics):

   - energy loss (continuous slowing down, CSDA): a particle of energy bin i
     (representative energy E_i, CSDA range R_i) has residual range
     R_i - s after a step of path s; it is split between the two bins whose
     ranges bracket R_i - s, linearly in range (so the mean range is carried
     exactly), a virtual bin at E = 0, R = 0 below the lowest bin taking the
     absorbed part (the cutoff is the lowest bin's energy: what falls below
     it is absorbed and its energy deposited in that cell). The energy a
     bin loses (E_i - w_lo E_lo - w_hi E_hi, with the stored float weights)
     is deposited as dose in the particle's (z, x) cell, so energy is
     conserved exactly by construction.
   - angular scattering: per energy bin a normalised Gaussian along theta
     (sampled at the bin centres, half-width 5 sigma + 2 bins) whose discrete
     variance equals theta0^2 exactly (the second moment is what drives the
     lateral spread, Fermi-Eyges), theta0 from Highland's formula for the
     step's path at E_i; theta wraps around 360 degrees.
   - spatial streaming: each (E, theta) plane moves by s along theta with a
     bilinear 2x2 stencil in gather form; shifts that are whole cells (to
     1e-9 of a cell) are exact copies; what leaves the slab is counted as
     escaped (nothing enters).

   Splitting: Lie (default) = energy loss, scattering, streaming, each over
   the full step; Strang = eloss(s/2) scatter(s/2) stream(s) scatter(s/2)
   eloss(s/2) (half scattering = half the variance; streaming keeps the
   whole step so that whole-cell steps stay exact copies: two bilinear
   half-cell moves would blur by half a cell^2 per step). With Lie the dose
   of a step lands where the step began (first order: half a step
   upstream); Strang deposits at mid-step. The fused step does the same
   arithmetic per energy slab while it sits in cache (Lie: one pass over
   the fluence; Strang: two, the energy-loss halves being gathers across
   bins), so fused and unfused results are the same bytes, for every ISA
   and thread count.

   Geometry: x cell i has centre (i - (nx-1)/2) dx (the beam axis x = 0);
   z row k has centre k dz, row 0 centred on the entrance surface where a
   source enters (so depth = path length). theta bin j is j * 360/ntheta
   degrees measured from +x towards +z (a beam along +z is theta = 90).
   Energy bins ascend from e_min to e_max (bin 0 lowest), edges uniform in
   CSDA range (MV_EGRID_RANGE, default) or in energy (MV_EGRID_UNIFORM);
   the representative energy of a bin is the one at its centre (in range,
   resp. energy). Dose: double [z][x], MeV per cell for fluence counted in
   protons (mv_transport_dose_gy converts given a slab thickness).

   Physics: mass stopping power from a table (MeV cm^2/g against MeV) with
   log-log interpolation (power-law extrapolation beyond it; below the
   first point the first segment's power law down to 0), CSDA ranges by
   integrating that interpolant exactly (closed form per segment); Highland:
   theta0 = 13.6 MeV / (beta c p) sqrt(x/X0) (1 + 0.038 ln(x / (X0 beta^2)))
   (z = 1, x the step's path in g/cm^2, clamped at 0 for tiny steps), beta
   and p relativistic with m_p = 938.272 MeV. Highland's log term makes
   theta0^2 not additive over steps: results depend (weakly) on the step.
   mv_material_water gives liquid water: NIST PSTAR total (electronic +
   nuclear) stopping power (ICRU Report 49, 1993), density 1, X0 = 36.08
   g/cm^2. A user material is any such table, density and X0.

   What the model leaves out, and the grid's own errors (know them before
   choosing a grid): no nuclear attenuation, no physical range straggling,
   no delta rays (a CSDA beam: R80 of dose and R50 of fluence both sit at
   the CSDA range, tests/test_transport.c checks 0.5 mm at 70..200 MeV).
   Energy bins whose range width does not divide the step's range (the
   half step's, with Strang) split particles between two bins each step:
   a numerical range straggling of about sqrt(steps) * bin width / 2. Make
   R(e_max) - R(e_min) = ne * step * density / 10 (Strang: half that) and
   the loss is exact, whole bins. The bilinear stencil adds a lateral
   variance of f(1 - f) cells^2 per fractional move f, and a coarse angle
   grid represents small angular spreads by a few particles at +-dtheta
   (variance exact, tails heavy): cells of a fraction of a millimetre and
   5-degree bins give the Fermi-Eyges spread to a few percent (the test:
   0.25 mm, 72 angles, 2 mm steps, within 5% beyond 40% of the range).
   Threads: the energy bins are split among threads (one plan step at a
   time: the plan holds the per-thread slabs); every result is the same
   bytes for any thread count. */

typedef enum mv_egrid { MV_EGRID_RANGE = 0, MV_EGRID_UNIFORM = 1 } mv_egrid;
typedef enum mv_split { MV_SPLIT_LIE = 0, MV_SPLIT_STRANG = 1 } mv_split;
/* operators for mv_transport_apply (each over one full step) */
typedef enum mv_transport_op {
    MV_TRANSPORT_ELOSS = 0,
    MV_TRANSPORT_SCATTER = 1,
    MV_TRANSPORT_STREAM = 2
} mv_transport_op;

/* A material: mass stopping power table (strictly ascending energies, MeV;
   positive stopping powers, MeV cm^2/g; 2..100000 points), density g/cm^3,
   radiation length g/cm^2. The arrays are copied by mv_transport_create. */
typedef struct mv_material {
    const double *energy;
    const double *stopping;
    int n;
    double density;
    double x0;
} mv_material;

/* Transport grid and method; all-zero = defaults. */
typedef struct mv_transport_opts {
    int nx, nz, ntheta, ne;  /* cells (defaults 40, 40, 72, 200) */
    double dx, dz;           /* mm (default 1, 1) */
    double e_min, e_max;     /* MeV, energy range of the bins (default 1, 250) */
    double step;             /* path per step, mm (default dz) */
    mv_egrid egrid;          /* bin edges uniform in range (default) or energy */
    mv_split split;          /* Lie (default) or Strang */
    int fused;               /* 1: the cache-blocked fused step (same bytes) */
    int no_scatter;          /* 1: angular scattering off (a pure CSDA beam) */
    const mv_material *material; /* NULL: water (PSTAR) */
    int threads;             /* 0: library default; results do not depend on it */
    void *alloc_ctx;
} mv_transport_opts;

/* Particle and energy bookkeeping of one step (or operator): in = out +
   escaped + absorbed, energy_in = energy_out + energy_escaped +
   energy_deposited, each summed in float64 over the float32 fluence. */
typedef struct mv_transport_balance {
    double particles_in, particles_out, particles_escaped, particles_absorbed;
    double energy_in, energy_out, energy_escaped, energy_deposited; /* MeV */
} mv_transport_balance;

/* A beam entering at row 0; all-zero = defaults (weight 1, on axis, along +z). */
typedef struct mv_transport_beam {
    double energy;   /* MeV; split linearly in range between the two bins around it */
    double sigma;    /* lateral Gaussian sigma, mm (0: a pencil, split between the two cells around x) */
    double x;        /* lateral centre, mm */
    double tilt;     /* degrees from +z towards +x (theta = 90 - tilt), split between two angle bins */
    double weight;   /* protons (0 = 1) */
} mv_transport_beam;

/* What a plan holds, for callers (arrays owned by the plan, valid until
   mv_transport_free): sizes, energies (MeV) and ranges (g/cm^2) of the bins. */
typedef struct mv_transport_grid {
    int nx, nz, ntheta, ne;
    double dx, dz, step, dtheta;  /* mm, mm, mm, degrees */
    int64_t cells;                /* ne * ntheta * nz * nx */
    const double *energy;         /* ne representative energies */
    const double *edges;          /* ne + 1 bin edges */
    const double *range;          /* ne CSDA ranges of the representative energies */
} mv_transport_grid;

typedef struct mv_transport mv_transport;

/* Liquid water: NIST PSTAR total stopping power (ICRU 49), density 1
   g/cm^3, X0 36.08 g/cm^2. Fills m with pointers to static tables.
   allocates: no. thread-safe. */
MVDEF mv_status mv_material_water(mv_material *m);
/* Mass stopping power S(E), MeV cm^2/g, log-log interpolated (material
   NULL = water). MV_ERR_INVALID_ARG for E <= 0 or a bad table. allocates: no. */
MVDEF mv_status mv_stopping_power(const mv_material *m, double energy, double *s);
/* CSDA range in g/cm^2: the exact integral of dE / S from 0 to E of the
   interpolant; mv_csda_energy is its inverse. allocates: no. thread-safe. */
MVDEF mv_status mv_csda_range(const mv_material *m, double energy, double *range);
MVDEF mv_status mv_csda_energy(const mv_material *m, double range, double *energy);
/* Highland's theta0 (radians, projected angle) for a proton of energy E
   (MeV) over a path of path_mm millimetres of the material. allocates: no. */
MVDEF mv_status mv_highland(const mv_material *m, double energy, double path_mm, double *theta0);

/* Builds a transport plan: grid, energy-loss maps, scattering kernels,
   streaming stencils, per-thread slabs. MV_ERR_INVALID_ARG (a field named)
   for a bad grid, step or material; MV_ERR_SIZE_OVERFLOW for a fluence
   beyond MEDVOL_MAX_BYTES. The plan is read-only afterwards, but a step
   uses the plan's scratch: one step at a time per plan. allocates: yes. */
MVDEF mv_status mv_transport_create(const mv_transport_opts *opts, mv_transport **plan);
MVDEF void mv_transport_free(mv_transport *plan);
MVDEF mv_status mv_transport_get_grid(const mv_transport *plan, mv_transport_grid *grid);
/* Fills psi (all cells; zeros outside the beam) with a beam entering at
   row 0. MV_ERR_INVALID_ARG if the energy is outside the bins'
   representative energies. allocates: no. */
MVDEF mv_status mv_transport_source(const mv_transport *plan, float *psi, const mv_transport_beam *beam);
/* One transport step on two fluence buffers that must not overlap: *psi
   holds the fluence, *work is scratch; on return *psi points at the new
   fluence and *work at the other buffer (the call may exchange the two
   pointers, as a ping-pong). The energy deposited is added to dose ([z][x],
   MeV; NULL to drop it); bal (may be NULL) gets the step's bookkeeping.
   allocates: no. */
MVDEF mv_status mv_transport_step(mv_transport *plan, float **psi, float **work, double *dose,
                                  mv_transport_balance *bal);
/* One operator over a full step, in -> out (no overlap), for profiles and
   tests: the same kernels the step uses. dose and bal may be NULL.
   allocates: no. */
MVDEF mv_status mv_transport_apply(mv_transport *plan, mv_transport_op op, const float *in, float *out,
                                   double *dose, mv_transport_balance *bal);
/* Dose in Gy from MeV per cell, for a slab thickness_mm thick (along y)
   of the plan's material: Gy = MeV * 1.602176634e-13 / (rho dx dz t 1e-6).
   allocates: no. */
MVDEF mv_status mv_transport_dose_gy(const mv_transport *plan, const double *dose_mev, double thickness_mm,
                                     double *gy);

/* >>api-phantom ============================================================ */

/* Modified Shepp-Logan phantom (Toft's 3D intensities) in a float32
   nx x ny x nz volume covering [-1,1]^3, spacing 1 mm, centred affine.
   allocates: yes. */
MVDEF mv_status mv_phantom_shepp_logan(mv_vol *out, int64_t nx, int64_t ny, int64_t nz);
/* A smooth phantom with noise (sum of Gaussian blobs plus uniform noise from a
   fixed-seed generator) scaled to [0, 1000], for profiles and benchmarks:
   the same bytes on every machine. dtype MV_DT_I16 or MV_DT_F32. */
MVDEF mv_status mv_phantom_smooth(mv_vol *out, mv_dtype dtype, int64_t nx, int64_t ny,
                                  int64_t nz, uint32_t seed);

#ifdef __cplusplus
}
#endif
#endif /* MEDVOL_H_INCLUDED */

/* >>impl =================================================================== */
#if defined(MEDVOL_IMPLEMENTATION) && !defined(MV__IMPL_DONE)
#define MV__IMPL_DONE

/* The library never reallocates (a growing buffer is a new block plus a
   copy, which keeps the 64-byte alignment), so MEDVOL_REALLOC is accepted
   and unused: MALLOC and FREE are the pair that must come together. */
#if defined(MEDVOL_MALLOC) || defined(MEDVOL_FREE)
#if !defined(MEDVOL_MALLOC) || !defined(MEDVOL_FREE)
#error "medvol: define both MEDVOL_MALLOC and MEDVOL_FREE, or neither (MEDVOL_REALLOC is optional and unused)"
#endif
#define MV__USER_ALLOC 1
#endif
#if defined(MEDVOL_RUNTIME_DISPATCH) && defined(MEDVOL_NO_SIMD)
#error "medvol: MEDVOL_RUNTIME_DISPATCH and MEDVOL_NO_SIMD contradict each other"
#endif
#ifndef MEDVOL_MAX_BYTES
#define MEDVOL_MAX_BYTES ((uint64_t)64 << 30)
#endif
#ifndef MEDVOL_HEADER_FILENAME
#define MEDVOL_HEADER_FILENAME "medvol.h"
#endif
#ifndef MEDVOL_ASSERT
#include <assert.h>
#define MEDVOL_ASSERT(x) assert(x)
#endif

#include <stdarg.h>
#include <string.h>
#include <math.h>
#include <limits.h>
#include <float.h>
#include <stdlib.h>

#if !defined(_WIN32) && (defined(__unix__) || defined(__APPLE__))
#define MV__POSIX 1
#include <unistd.h>
#endif
#if !defined(MEDVOL_NO_STDIO)
#if !defined(MV__POSIX)
#error "medvol: file I/O needs POSIX (open/pread/mmap); on other systems define MEDVOL_NO_STDIO and use the memory and mv_io forms"
#endif
#if defined(__GLIBC__) && !defined(__USE_XOPEN2K8)
#error "medvol: the implementation needs POSIX.1-2008 declarations: put '#define MEDVOL_IMPLEMENTATION' before every #include of its file, or compile it with -D_POSIX_C_SOURCE=200809L or -std=gnu99"
#endif
#include <stdio.h> /* rename */
#include <fcntl.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/file.h> /* flock: the .hdr/.img pair lock */
#include <dirent.h>   /* stale temporaries beside a saved file */
#include <signal.h>   /* kill(pid, 0): is a temporary's writer alive */
#define MV__HAVE_FILES 1
#endif
#if !defined(MEDVOL_NO_THREADS)
#if !defined(MV__POSIX)
#error "medvol: threads need pthreads; define MEDVOL_NO_THREADS on this system"
#endif
#include <pthread.h>
#define MV__HAVE_THREADS 1
#endif
#if defined(MEDVOL_USE_FFTW)
#include <fftw3.h> /* mv_fft_* on fftwf: link -lfftw3f_threads -lfftw3f */
#endif

/* Element-wise kernels must give the same bits on every ISA: no FMA
   contraction of a*b+c (the Makefile also passes -ffp-contract=off). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* ---- portability ---- */
#if defined(__GNUC__) || defined(__clang__)
#define MV__INLINE static __inline__ __attribute__((always_inline))
#define MV__NOINLINE __attribute__((noinline))
#define MV__LIKELY(x) __builtin_expect(!!(x), 1)
#define MV__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MV__ALIGN(n) __attribute__((aligned(n)))
#define MV__UNUSED __attribute__((unused))
#elif defined(_MSC_VER)
#define MV__INLINE static __forceinline
#define MV__NOINLINE __declspec(noinline)
#define MV__LIKELY(x) (x)
#define MV__UNLIKELY(x) (x)
#define MV__ALIGN(n) __declspec(align(n))
#define MV__UNUSED
#else
#define MV__INLINE static inline
#define MV__NOINLINE
#define MV__LIKELY(x) (x)
#define MV__UNLIKELY(x) (x)
#define MV__ALIGN(n)
#define MV__UNUSED
#endif
#if defined(__cplusplus)
#define MV__RESTRICT __restrict
#else
#define MV__RESTRICT restrict
#endif
#define MV__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MV__MIN(a, b) ((a) < (b) ? (a) : (b))
#define MV__MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(MEDVOL_NO_THREAD_LOCAL)
#define MV__TLS
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define MV__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define MV__TLS _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define MV__TLS __thread
#elif defined(_MSC_VER)
#define MV__TLS __declspec(thread)
#else
#define MV__TLS
#endif

/* Host byte order, decided at run time from memory so no platform macro is
   trusted; the compiler folds it to a constant. */
MV__INLINE int mv__host_is_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* >>impl-mem =============================================================== */

/* Checked size arithmetic: every product or sum that comes from a file goes
   through these. Each returns 1 and stores the result, or 0 on overflow. */
MV__INLINE int mv__mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}
MV__INLINE int mv__add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b > UINT64_MAX - a) return 0;
    *out = a + b;
    return 1;
}
/* A byte count that must also fit size_t (32-bit hosts). */
MV__INLINE int mv__fits_size(uint64_t n) { return n <= (uint64_t)SIZE_MAX; }

#define MV__HUGE_PAGE ((size_t)2 << 20)

/* All library memory comes from here: 64-byte aligned, NULL on failure (the
   caller reports MV_ERR_OUT_OF_MEMORY). Blocks of 2 MiB and more ask for
   transparent huge pages, because first-touch page faults on fresh 4 KiB pages
   cost several times a memcpy of the same bytes. */
#if defined(MV__USER_ALLOC)
static void *mv__alloc(size_t n, void *ctx)
{
    unsigned char *raw, *p;
    (void)ctx; /* for allocators that ignore it */
    if (n > SIZE_MAX - 64) return NULL;
    raw = (unsigned char *)MEDVOL_MALLOC(n + 64, ctx);
    if (!raw) return NULL;
    /* align up, keeping at least one byte before p to store the offset */
    p = raw + (64 - ((uintptr_t)raw & 63));
    p[-1] = (unsigned char)(p - raw);
    return p;
}
static void mv__free(void *ptr, void *ctx)
{
    unsigned char *p = (unsigned char *)ptr;
    if (!p) return;
    MEDVOL_FREE(p - p[-1], ctx);
    (void)ctx;
}
#else
static void *mv__alloc(size_t n, void *ctx)
{
    void *p = NULL;
    (void)ctx;
    if (n == 0) n = 1;
#if defined(MV__HAVE_FILES)
    {
        size_t align = n >= MV__HUGE_PAGE ? MV__HUGE_PAGE : 64;
        if (posix_memalign(&p, align, n) != 0) return NULL;
#if defined(MADV_HUGEPAGE)
        if (n >= MV__HUGE_PAGE) (void)madvise(p, n, MADV_HUGEPAGE);
#endif
        return p;
    }
#else
    {
        unsigned char *raw, *a;
        if (n > SIZE_MAX - 64) return NULL;
        raw = (unsigned char *)malloc(n + 64);
        if (!raw) return NULL;
        a = raw + (64 - ((uintptr_t)raw & 63));
        a[-1] = (unsigned char)(a - raw);
        p = a;
        return p;
    }
#endif
}
static void mv__free(void *ptr, void *ctx)
{
    (void)ctx;
    if (!ptr) return;
#if defined(MV__HAVE_FILES)
    free(ptr);
#else
    {
        unsigned char *p = (unsigned char *)ptr;
        free(p - p[-1]);
    }
#endif
}
#endif

static void *mv__alloc_zero(size_t n, void *ctx)
{
    void *p = mv__alloc(n, ctx);
    if (p) memset(p, 0, n);
    return p;
}

/* >>impl-error ============================================================= */

static MV__TLS char mv__err_detail[256];
static MV__TLS char mv__warn_detail[256]; /* mv_last_warning: the last load's corrections */

/* A small vsnprintf of our own (%s %c %d %i %u %x %ld %lu %lld %llu %lx %llx
   %zu %zd %g %e %f %p %%, with width, '-', '0' and precision), so the error
   path needs no <stdio.h>: MEDVOL_NO_STDIO firmware often has a printf
   without floating point. Always NUL-terminates; truncates silently. */
typedef struct mv__fmtbuf {
    char *p;
    size_t len, cap;
} mv__fmtbuf;

static void mv__fmt_putc(mv__fmtbuf *b, char c)
{
    if (b->len + 1 < b->cap) b->p[b->len] = c;
    b->len++;
}
static void mv__fmt_pad(mv__fmtbuf *b, const char *s, size_t n, int width, int left, char padc)
{
    int pad = width > (int)n ? width - (int)n : 0;
    size_t i;
    if (!left) {
        /* zero padding goes after a sign */
        if (padc == '0' && n > 0 && (s[0] == '-' || s[0] == '+')) {
            mv__fmt_putc(b, s[0]);
            s++;
            n--;
        }
        while (pad-- > 0) mv__fmt_putc(b, padc);
    }
    for (i = 0; i < n; i++) mv__fmt_putc(b, s[i]);
    if (left)
        while (pad-- > 0) mv__fmt_putc(b, ' ');
}
static size_t mv__fmt_u64(char *out, uint64_t v, unsigned base, int upper)
{
    char tmp[24];
    size_t n = 0, i;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}
/* Exact decimal digits of a finite double v > 0: v = m * 2^e is turned into
   the integer m * 2^e (e >= 0) or m * 5^-e (e < 0, then shifted by 10^e) in
   base-1e9 limbs, so every digit printf would print is right. Returns the
   digit count; *exp10 is the decimal exponent of digits[0]. */
#define MV__DTOA_DIGITS 800
static int mv__dtoa_exact(double v, char *digits, int *exp10)
{
    uint32_t limb[100];
    int nl, e, n = 0, i, shift10 = 0;
    uint64_t bits, m;
    memcpy(&bits, &v, 8);
    e = (int)((bits >> 52) & 0x7ff);
    m = bits & (((uint64_t)1 << 52) - 1);
    if (e == 0) e = 1;
    else m |= (uint64_t)1 << 52;
    e -= 1075;
    limb[0] = (uint32_t)(m % 1000000000u);
    limb[1] = (uint32_t)(m / 1000000000u % 1000000000u);
    limb[2] = (uint32_t)(m / 1000000000u / 1000000000u);
    nl = 3;
    while (e != 0) { /* multiply by 2^k or 5^k, k as large as a limb product allows */
        uint32_t f;
        uint64_t carry = 0;
        if (e > 0) {
            int k = e > 28 ? 28 : e;
            f = (uint32_t)1 << k;
            e -= k;
        } else {
            int k = -e > 13 ? 13 : -e, j;
            for (f = 1, j = 0; j < k; j++) f *= 5;
            shift10 -= k;
            e += k;
        }
        for (i = 0; i < nl; i++) {
            uint64_t t = (uint64_t)limb[i] * f + carry;
            limb[i] = (uint32_t)(t % 1000000000u);
            carry = t / 1000000000u;
        }
        while (carry) {
            limb[nl++] = (uint32_t)(carry % 1000000000u);
            carry /= 1000000000u;
        }
    }
    while (nl > 1 && limb[nl - 1] == 0) nl--;
    for (i = nl - 1; i >= 0; i--) { /* most significant limb without leading zeros */
        char tmp[9];
        int k, len = 0;
        uint32_t x = limb[i];
        for (k = 0; k < 9; k++) {
            tmp[8 - k] = (char)('0' + x % 10);
            x /= 10;
        }
        if (i == nl - 1) {
            while (len < 8 && tmp[len] == '0') len++;
        }
        for (k = len; k < 9; k++) digits[n++] = tmp[k];
    }
    *exp10 = n - 1 + shift10;
    return n;
}

/* Keeps `keep` significant digits, rounding half to even on the exact
   digits; a carry out of the first digit bumps the exponent. */
static void mv__round_digits(char *dig, int *nd, int *x, int keep)
{
    int i, up;
    if (keep >= *nd) {
        for (i = *nd; i < keep && i < MV__DTOA_DIGITS; i++) dig[i] = '0';
        *nd = keep < MV__DTOA_DIGITS ? keep : MV__DTOA_DIGITS;
        return;
    }
    if (keep < 0) { /* far below the last digit printed: zero */
        dig[0] = '0';
        *nd = 1;
        return;
    }
    up = dig[keep] > '5';
    if (dig[keep] == '5') {
        for (i = keep + 1; i < *nd && dig[i] == '0'; i++) {
        }
        up = i < *nd || (keep > 0 && ((dig[keep - 1] - '0') & 1));
    }
    *nd = keep;
    if (keep == 0) { /* the whole number rounds to 0 or to one unit above */
        dig[0] = up ? '1' : '0';
        *nd = 1;
        if (up) *x += 1;
        return;
    }
    if (!up) return;
    for (i = keep - 1; i >= 0; i--) {
        if (dig[i] != '9') {
            dig[i]++;
            return;
        }
        dig[i] = '0';
    }
    dig[0] = '1'; /* 999.. -> 1000.. */
    *x += 1;
}

/* %g / %e / %f of a double, as C's printf prints it (no flags but width). */
static size_t mv__fmt_double(char *out, double v, char conv, int prec)
{
    char dig[MV__DTOA_DIGITS + 8];
    size_t n = 0;
    int nd, x, use_exp = conv == 'e', frac, i, strip = conv == 'g';
    if (v != v) {
        memcpy(out, "nan", 3);
        return 3;
    }
    if (v < 0 || (v == 0 && 1.0 / v < 0)) {
        out[n++] = '-';
        v = -v;
    }
    if (v > DBL_MAX) {
        memcpy(out + n, "inf", 3);
        return n + 3;
    }
    if (prec < 0) prec = 6;
    if (prec > 300) prec = 300;
    if (conv == 'g' && prec == 0) prec = 1;
    if (v == 0) {
        dig[0] = '0';
        nd = 1;
        x = 0;
    } else {
        nd = mv__dtoa_exact(v, dig, &x);
    }
    if (conv == 'g') {
        mv__round_digits(dig, &nd, &x, prec);
        use_exp = x < -4 || x >= prec;
        frac = use_exp ? prec - 1 : prec - 1 - x;
    } else if (conv == 'e') {
        mv__round_digits(dig, &nd, &x, prec + 1);
        frac = prec;
    } else {
        if (x + 1 + prec > 330) use_exp = 1; /* keep messages bounded */
        mv__round_digits(dig, &nd, &x, use_exp ? prec + 1 : x + 1 + prec);
        frac = prec;
        if (nd == 1 && dig[0] == '0') x = 0;
    }
    if (use_exp) {
        int last = frac;
        if (strip)
            while (last > 0 && (last >= nd || dig[last] == '0')) last--;
        out[n++] = dig[0];
        if (last > 0) out[n++] = '.';
        for (i = 1; i <= last; i++) out[n++] = i < nd ? dig[i] : '0';
        out[n++] = 'e';
        out[n++] = x < 0 ? '-' : '+';
        if (x < 0) x = -x;
        if (x < 10) out[n++] = '0';
        n += mv__fmt_u64(out + n, (uint64_t)x, 10, 0);
        return n;
    }
    /* positional: dig[i] has weight 10^(x - i) */
    {
        int w, lowest = -frac;
        if (strip) {
            while (lowest < 0 && (x - lowest >= nd || dig[x - lowest] == '0')) lowest++;
        }
        for (w = MV__MAX(x, 0); w >= lowest; w--) {
            int idx = x - w;
            if (w == -1) out[n++] = '.';
            out[n++] = (idx >= 0 && idx < nd) ? dig[idx] : '0';
        }
    }
    return n;
}
static void mv__vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
    mv__fmtbuf b;
    b.p = dst;
    b.len = 0;
    b.cap = cap;
    while (*fmt) {
        char num[400];
        size_t n = 0;
        int width = 0, prec = -1, left = 0, lng = 0, zsz = 0;
        char padc = ' ';
        if (*fmt != '%') {
            mv__fmt_putc(&b, *fmt++);
            continue;
        }
        fmt++;
        for (;; fmt++) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') padc = '0';
            else break;
        }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            prec = 0;
            fmt++;
            while (*fmt >= '0' && *fmt <= '9') prec = prec * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l') { lng++; fmt++; }
        if (*fmt == 'z') { zsz = 1; fmt++; }
        if (left) padc = ' ';
        switch (*fmt) {
        case 'd': case 'i': {
            int64_t v = zsz ? (int64_t)va_arg(ap, ptrdiff_t)
                      : lng >= 2 ? (int64_t)va_arg(ap, long long)
                      : lng == 1 ? (int64_t)va_arg(ap, long) : (int64_t)va_arg(ap, int);
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            if (v < 0) num[n++] = '-';
            n += mv__fmt_u64(num + n, u, 10, 0);
            mv__fmt_pad(&b, num, n, width, left, padc);
            break;
        }
        case 'u': case 'x': case 'X': {
            uint64_t v = zsz ? (uint64_t)va_arg(ap, size_t)
                       : lng >= 2 ? (uint64_t)va_arg(ap, unsigned long long)
                       : lng == 1 ? (uint64_t)va_arg(ap, unsigned long)
                                  : (uint64_t)va_arg(ap, unsigned);
            n = mv__fmt_u64(num, v, *fmt == 'u' ? 10 : 16, *fmt == 'X');
            mv__fmt_pad(&b, num, n, width, left, padc);
            break;
        }
        case 'p': {
            num[0] = '0';
            num[1] = 'x';
            n = 2 + mv__fmt_u64(num + 2, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0);
            mv__fmt_pad(&b, num, n, width, left, ' ');
            break;
        }
        case 'g': case 'e': case 'f':
            n = mv__fmt_double(num, va_arg(ap, double), *fmt, prec);
            mv__fmt_pad(&b, num, n, width, left, padc);
            break;
        case 'c':
            num[0] = (char)va_arg(ap, int);
            mv__fmt_pad(&b, num, 1, width, left, ' ');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            size_t len;
            if (!s) s = "(null)";
            len = strlen(s);
            if (prec >= 0 && (size_t)prec < len) len = (size_t)prec;
            mv__fmt_pad(&b, s, len, width, left, ' ');
            break;
        }
        case '%':
            mv__fmt_putc(&b, '%');
            break;
        default: /* unknown conversion: show it, consume nothing */
            mv__fmt_putc(&b, '%');
            if (*fmt) mv__fmt_putc(&b, *fmt);
            break;
        }
        if (*fmt) fmt++;
    }
    if (cap) b.p[b.len < cap ? b.len : cap - 1] = 0;
}

static void mv__format(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mv__vformat(dst, cap, fmt, ap);
    va_end(ap);
}

/* Records the detail of a failure and returns its status:
   return mv__fail(MV_ERR_TRUNCATED, "file is %llu bytes", n); */
static mv_status mv__fail(mv_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static mv_status mv__fail(mv_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mv__vformat(mv__err_detail, sizeof(mv__err_detail), fmt, ap);
    va_end(ap);
    return st;
}
#define MV__CHECK(cond, st, ...) \
    do {                         \
        if (!(cond)) return mv__fail((st), __VA_ARGS__); \
    } while (0)
#define MV__TRY(expr)                    \
    do {                                 \
        mv_status mv__st_ = (expr);      \
        if (mv__st_ != MV_OK) return mv__st_; \
    } while (0)

/* Puts "prefix: " in front of the current detail (once: a detail that
   already starts with the prefix is left alone) and returns st. Layers that
   know more than the one that failed (the file name, which gzip member) add
   it on the way up. */
static mv_status mv__fail_prefix(mv_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static mv_status mv__fail_prefix(mv_status st, const char *fmt, ...)
{
    char prefix[sizeof(mv__err_detail)], old[sizeof(mv__err_detail)];
    size_t n;
    va_list ap;
    va_start(ap, fmt);
    mv__vformat(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    n = strlen(prefix);
    if (strncmp(mv__err_detail, prefix, n) == 0 && mv__err_detail[n] == ':') return st;
    memcpy(old, mv__err_detail, sizeof(old));
    mv__format(mv__err_detail, sizeof(mv__err_detail), old[0] ? "%s: %s" : "%s", prefix, old);
    return st;
}

MVDEF mv_status mv_set_error(mv_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mv__vformat(mv__err_detail, sizeof(mv__err_detail), fmt ? fmt : "", ap);
    va_end(ap);
    return st;
}
MVDEF void mv_clear_error(void) { mv__err_detail[0] = 0; }
MVDEF const char *mv_last_error(void) { return mv__err_detail; }
MVDEF const char *mv_last_warning(void) { return mv__warn_detail; }

MVDEF const char *mv_status_str(mv_status st)
{
    switch (st) {
#define MV__STATUS_NAME(name, value, msg) case name: return #name;
        MV__STATUS_LIST(MV__STATUS_NAME)
#undef MV__STATUS_NAME
    default: return "MV_ERR_?";
    }
}
MVDEF const char *mv_status_message(mv_status st)
{
    switch (st) {
#define MV__STATUS_MSG(name, value, msg) case name: return msg;
        MV__STATUS_LIST(MV__STATUS_MSG)
#undef MV__STATUS_MSG
    default: return "unknown status";
    }
}
MVDEF int mv_version(void) { return MEDVOL_VERSION_NUMBER; }

/* >>impl-cpu =============================================================== */

#if defined(__x86_64__) || defined(_M_X64)
#define MV__X86_64 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define MV__ARM64 1
#endif

/* Which kernel passes to compile. Compile-time selection takes the best level
   the compiler already targets; MEDVOL_RUNTIME_DISPATCH compiles every x86
   level with target attributes (never the whole file with -mavx2) and picks
   by CPUID at run time. */
#if !defined(MEDVOL_NO_SIMD)
#if defined(MV__X86_64)
#define MV__BUILD_SSE2 1
#if !defined(MEDVOL_NO_AVX2) && \
    (defined(MEDVOL_RUNTIME_DISPATCH) ||                                                  \
     (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__) && defined(__PCLMUL__)))
#define MV__BUILD_AVX2 1
#endif
#if !defined(MEDVOL_NO_AVX512) && !defined(MEDVOL_NO_AVX2) &&                                 \
    (defined(MEDVOL_RUNTIME_DISPATCH) ||                                                     \
     (defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) &&              \
      defined(__AVX512VL__) && defined(__AVX2__) && defined(__FMA__)))
#define MV__BUILD_AVX512 1
#endif
#elif defined(MV__ARM64) && (defined(__ARM_NEON) || defined(_M_ARM64))
#define MV__BUILD_NEON 1
#endif
#endif

#if (defined(MV__BUILD_SSE2) || defined(MV__BUILD_AVX2) || defined(MV__BUILD_AVX512))
/* g++ 12 warns inside its own AVX-512 headers when their functions are
   inlined into target-attributed code (GCC PR 105593, fixed in 13); the
   warning belongs to the header lines, so silence it there only */
#if defined(__cplusplus) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#if defined(__GNUC__) || defined(__clang__)
#include <cpuid.h>
#elif defined(_MSC_VER)
#include <intrin.h>
#endif
#endif
#if defined(MV__BUILD_NEON)
#include <arm_neon.h>
#endif

/* Target attributes for the per-ISA passes (empty when the compiler already
   targets the level, and on MSVC, which needs none). */
#if defined(MEDVOL_RUNTIME_DISPATCH) && (defined(__GNUC__) || defined(__clang__))
#define MV__TARGET(s) __attribute__((target(s)))
#else
#define MV__TARGET(s)
#endif
#define MV__TARGET_SSE2 MV__TARGET("sse2")
#define MV__TARGET_AVX2 MV__TARGET("avx2,fma,f16c,bmi,bmi2,popcnt,pclmul")
#define MV__TARGET_AVX512 \
    MV__TARGET("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,bmi,bmi2,popcnt,pclmul")
/* the AVX-512 pass's functions that also need VPCLMULQDQ (one attribute:
   clang honours only one per function) */
#define MV__TARGET_AVX512_VPCLMUL \
    MV__TARGET("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,bmi,bmi2,popcnt,pclmul,vpclmulqdq")

/* Levels this CPU can run, as a bitmask of (1 << mv_isa), plus whether 512-bit
   vectors are worth it here (they downclock Skylake-SP; not Ice Lake or Zen 4). */
typedef struct mv__cpu {
    unsigned runnable;
    int prefer_512;
    int vpclmul; /* carry-less multiplication of 512-bit vectors (Ice Lake, Zen 4) */
} mv__cpu;

#if defined(MV__X86_64) && (defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)) && \
    !defined(MEDVOL_NO_SIMD)
static void mv__cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int v[4];
    __cpuidex(v, (int)leaf, (int)sub);
    r[0] = (unsigned)v[0]; r[1] = (unsigned)v[1]; r[2] = (unsigned)v[2]; r[3] = (unsigned)v[3];
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}
static uint64_t mv__xgetbv0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return _xgetbv(0);
#else
    uint32_t lo, hi;
    __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}
static mv__cpu mv__detect_cpu(void)
{
    mv__cpu c;
    unsigned r0[4], r1[4], r7[4] = {0, 0, 0, 0};
    uint64_t xcr0 = 0;
    int avx_os = 0, zmm_os = 0, amd;
    c.runnable = (1u << MV_ISA_REF) | (1u << MV_ISA_SSE2); /* SSE2 is x86-64 baseline */
    c.prefer_512 = 0;
    c.vpclmul = 0;
    mv__cpuid(0, 0, r0);
    amd = r0[1] == 0x68747541u; /* "Auth"enticAMD */
    mv__cpuid(1, 0, r1);
    if (r0[0] >= 7) mv__cpuid(7, 0, r7);
    if (r1[2] & (1u << 27)) { /* OSXSAVE: the OS saves vector state */
        xcr0 = mv__xgetbv0();
        avx_os = (xcr0 & 6) == 6;
        zmm_os = (xcr0 & 0xe6) == 0xe6;
    }
    if (avx_os && (r1[2] & (1u << 28)) && (r1[2] & (1u << 12)) && (r1[2] & (1u << 29)) &&
        (r1[2] & (1u << 23)) && (r1[2] & (1u << 1)) && (r7[1] & (1u << 5)) && (r7[1] & (1u << 3)) &&
        (r7[1] & (1u << 8)))
        c.runnable |= 1u << MV_ISA_AVX2; /* AVX FMA F16C POPCNT PCLMULQDQ AVX2 BMI1 BMI2 */
    if ((c.runnable & (1u << MV_ISA_AVX2)) && zmm_os && (r7[1] & (1u << 16)) &&
        (r7[1] & (1u << 17)) && (r7[1] & (1u << 30)) && (r7[1] & (1u << 31)))
        c.runnable |= 1u << MV_ISA_AVX512; /* F DQ BW VL */
    /* AVX512_VBMI2 arrived with Ice Lake, the first Intel core whose 512-bit
       ops do not drop the clock much; every AMD core with AVX-512 is fine */
    c.prefer_512 = amd || (r7[2] & (1u << 6));
    c.vpclmul = (c.runnable & (1u << MV_ISA_AVX512)) && (r7[2] & (1u << 10));
    return c;
}
#else
static mv__cpu mv__detect_cpu(void)
{
    mv__cpu c;
    c.runnable = 1u << MV_ISA_REF;
#if defined(MV__BUILD_NEON)
    c.runnable |= 1u << MV_ISA_NEON; /* Advanced SIMD is mandatory on AArch64 */
#endif
    c.prefer_512 = 1;
    c.vpclmul = 0;
    return c;
}
#endif

static unsigned mv__isa_compiled(void)
{
    unsigned m = 1u << MV_ISA_REF;
#if defined(MV__BUILD_SSE2)
    m |= 1u << MV_ISA_SSE2;
#endif
#if defined(MV__BUILD_AVX2)
    m |= 1u << MV_ISA_AVX2;
#endif
#if defined(MV__BUILD_AVX512)
    m |= 1u << MV_ISA_AVX512;
#endif
#if defined(MV__BUILD_NEON)
    m |= 1u << MV_ISA_NEON;
#endif
    return m;
}

MVDEF const char *mv_isa_name(mv_isa isa)
{
    static const char *const names[] = {"ref", "sse2", "avx2", "avx512", "neon"};
    return (unsigned)isa < MV__ARRAY_LEN(names) ? names[isa] : "?";
}

/* >>impl-pool ============================================================== */

/* A slab body: processes items [begin, end) of a split; worker is 0 for the
   caller and 1..n-1 for pool threads (index into per-thread scratch). */
typedef void (*mv__range_fn)(void *ctx, int64_t begin, int64_t end, int worker);

#define MV__MAX_THREADS 256
#define MV__PAR_MIN_BYTES ((size_t)4 << 20)

static int mv__default_threads = 0; /* 0 = online cores */

static MV__UNUSED int mv__online_cores(void)
{
#if defined(MV__POSIX) && defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MV__MAX_THREADS ? MV__MAX_THREADS : (int)n;
#else
    return 1;
#endif
}

MVDEF mv_status mv_set_threads(int n)
{
    if (n < 0) return mv__fail(MV_ERR_INVALID_ARG, "mv_set_threads: n = %d (use 0 for all cores)", n);
    mv__default_threads = n > MV__MAX_THREADS ? MV__MAX_THREADS : n;
    return MV_OK;
}

/* Threads a call uses: opts.threads if > 0, else the library default. */
static int mv__resolve_threads(int requested)
{
#if defined(MV__HAVE_THREADS)
    int n = requested > 0 ? requested : mv__default_threads > 0 ? mv__default_threads : mv__online_cores();
    return n > MV__MAX_THREADS ? MV__MAX_THREADS : n;
#else
    (void)requested;
    return 1;
#endif
}
MVDEF int mv_threads(void) { return mv__resolve_threads(0); }

#if defined(MV__HAVE_THREADS)
/* One fork-join job at a time. The caller takes chunks like the workers do;
   a caller that finds the pool busy (another thread's job) runs its whole
   range itself, and a worker never submits (nested calls run inline). */
typedef struct mv__pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    int n_workers;          /* threads started */
    int busy;               /* a job is in flight */
    unsigned generation;    /* bumps per job so sleeping workers notice */
    /* the job */
    mv__range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks, next_chunk, done_chunks;
    int max_helpers, helpers;
} mv__pool;

static mv__pool mv__the_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                                PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static MV__TLS int mv__in_worker;
static int mv__atfork_registered;

/* Runs chunks of the current job until none is left. Called with mu held;
   returns with mu held. */
static void mv__pool_take_chunks(mv__pool *p, int worker)
{
    while (p->next_chunk < p->n_chunks) {
        int64_t c = p->next_chunk++, b = c * p->chunk, e = MV__MIN(b + p->chunk, p->n);
        mv__range_fn fn = p->fn;
        MEDVOL_ASSERT(b < e);
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, b, e, worker);
        pthread_mutex_lock(&p->mu);
        if (++p->done_chunks == p->n_chunks) pthread_cond_broadcast(&p->done_cv);
    }
}

static void *mv__pool_worker(void *arg)
{
    mv__pool *p = &mv__the_pool;
    unsigned seen = 0;
    (void)arg;
    mv__in_worker = 1;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->busy || p->generation == seen) pthread_cond_wait(&p->work_cv, &p->mu);
        seen = p->generation;
        /* join unless the job has its helpers already or no work is left;
           the slot (1..threads-1) indexes the job's per-thread scratch */
        if (p->helpers < p->max_helpers && p->next_chunk < p->n_chunks)
            mv__pool_take_chunks(p, ++p->helpers);
    }
    return NULL; /* not reached: workers live as long as the process */
}

/* After fork() only the forking thread exists in the child: forget the
   workers (the child starts new ones on demand) and reset the locks. */
static void mv__pool_atfork_child(void)
{
    mv__pool *p = &mv__the_pool;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->n_workers = 0;
    p->busy = 0;
}

/* Starts workers up to want-1 (the caller is the want-th). mu held. */
static void mv__pool_grow(mv__pool *p, int want)
{
    if (!mv__atfork_registered) {
        pthread_atfork(NULL, NULL, mv__pool_atfork_child);
        mv__atfork_registered = 1;
    }
    while (p->n_workers < want - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, mv__pool_worker, NULL) != 0) {
            pthread_attr_destroy(&attr);
            break; /* run with the threads we have */
        }
        pthread_attr_destroy(&attr);
        p->n_workers++;
    }
}
#endif

/* Splits [0, n) into chunks of at least `grain` items and runs fn over them
   on up to `threads` threads (the caller included). With one thread, or n
   too small, or inside a worker, fn(ctx, 0, n, 0) runs on the caller. The
   results of fn must not depend on where the chunk boundaries fall. */
static void mv__parallel_for(int64_t n, int64_t grain, int threads, mv__range_fn fn, void *ctx)
{
#if defined(MV__HAVE_THREADS)
    mv__pool *p = &mv__the_pool;
    int64_t chunk, n_chunks;
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (threads > MV__MAX_THREADS) threads = MV__MAX_THREADS;
    if (threads <= 1 || n < 2 * grain || mv__in_worker) {
        fn(ctx, 0, n, 0);
        return;
    }
    /* a few chunks per thread balance uneven slabs without much locking */
    n_chunks = MV__MIN((int64_t)threads * 4, n / grain);
    chunk = (n + n_chunks - 1) / n_chunks;
    n_chunks = (n + chunk - 1) / chunk;
    pthread_mutex_lock(&p->mu);
    if (p->busy) { /* another caller's job is running: do ours alone */
        pthread_mutex_unlock(&p->mu);
        fn(ctx, 0, n, 0);
        return;
    }
    mv__pool_grow(p, threads);
    p->busy = 1;
    p->generation++;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->n_chunks = n_chunks;
    p->next_chunk = 0;
    p->done_chunks = 0;
    p->helpers = 0;
    p->max_helpers = threads - 1;
    pthread_cond_broadcast(&p->work_cv);
    mv__in_worker = 1; /* nested calls from fn on this thread run inline */
    mv__pool_take_chunks(p, 0);
    mv__in_worker = 0;
    while (p->done_chunks < p->n_chunks) pthread_cond_wait(&p->done_cv, &p->mu);
    p->busy = 0;
    pthread_mutex_unlock(&p->mu);
#else
    (void)grain;
    (void)threads;
    if (n > 0) fn(ctx, 0, n, 0);
#endif
}

/* mv__parallel_for for bodies that can fail. fn returns the status of its
   range and must handle the items in order, stopping at the first failure.
   The error that reaches the caller, with its detail copied into the
   caller's thread-local detail, is the one of the lowest failing range, so
   it is the first failing item whatever the thread count or timing: chunks
   are handed out in order, so every chunk below a failed one was taken and
   runs to its end, and chunks above a known failure are skipped. */
typedef mv_status (*mv__try_fn)(void *ctx, int64_t begin, int64_t end, int worker);

typedef struct mv__try_job {
    mv__try_fn fn;
    void *ctx;
    int64_t failed_at; /* begin of the lowest failed range, INT64_MAX if none */
    mv_status st;
    char detail[sizeof(mv__err_detail)];
#if defined(MV__HAVE_THREADS)
    pthread_mutex_t mu;
#endif
} mv__try_job;

static void mv__try_range(void *ctx, int64_t b, int64_t e, int worker)
{
    mv__try_job *j = (mv__try_job *)ctx;
    mv_status st;
    int64_t failed_at;
#if defined(MV__HAVE_THREADS)
    pthread_mutex_lock(&j->mu);
#endif
    failed_at = j->failed_at;
#if defined(MV__HAVE_THREADS)
    pthread_mutex_unlock(&j->mu);
#endif
    if (b > failed_at) return; /* its error could not be the one reported */
    st = j->fn(j->ctx, b, e, worker);
    if (st == MV_OK) return;
#if defined(MV__HAVE_THREADS)
    pthread_mutex_lock(&j->mu);
#endif
    if (b < j->failed_at) {
        j->failed_at = b;
        j->st = st;
        memcpy(j->detail, mv__err_detail, sizeof(j->detail)); /* this thread's detail */
    }
#if defined(MV__HAVE_THREADS)
    pthread_mutex_unlock(&j->mu);
#endif
}

static mv_status mv__parallel_try(int64_t n, int64_t grain, int threads, mv__try_fn fn, void *ctx)
{
    mv__try_job j;
    j.fn = fn;
    j.ctx = ctx;
    j.failed_at = INT64_MAX;
    j.st = MV_OK;
    j.detail[0] = 0;
#if defined(MV__HAVE_THREADS)
    pthread_mutex_init(&j.mu, NULL);
#endif
    mv__parallel_for(n, grain, threads, mv__try_range, &j);
#if defined(MV__HAVE_THREADS)
    pthread_mutex_destroy(&j.mu);
#endif
    if (j.st != MV_OK) memcpy(mv__err_detail, j.detail, sizeof(j.detail));
    return j.st;
}

/* Threads worth using for a job that streams `bytes` of memory. */
static int mv__threads_for_bytes(int requested, uint64_t bytes)
{
    int t = mv__resolve_threads(requested);
    if (bytes < MV__PAR_MIN_BYTES) return 1;
    return t;
}

/* >>impl-dtype (table) ===================================================== */

enum { MV__K_NONE, MV__K_UINT, MV__K_SINT, MV__K_FLOAT, MV__K_COMPLEX, MV__K_RGB };

typedef struct mv__dtinfo {
    const char *name;   /* numpy-style name */
    const char *short_name;
    int nifti;          /* NIfTI datatype code, 0 if none */
    unsigned char size; /* bytes per element */
    unsigned char swap; /* byte-swap unit in bytes (1 = none) */
    unsigned char kind;
    unsigned char comp; /* complex: the mv_dtype of one component */
} mv__dtinfo;

static const mv__dtinfo mv__dt[MV_DT_COUNT] = {
    {"unknown", "?", 0, 0, 1, MV__K_NONE, 0},
    {"uint8", "u8", 2, 1, 1, MV__K_UINT, 0},
    {"int8", "i8", 256, 1, 1, MV__K_SINT, 0},
    {"uint16", "u16", 512, 2, 2, MV__K_UINT, 0},
    {"int16", "i16", 4, 2, 2, MV__K_SINT, 0},
    {"uint32", "u32", 768, 4, 4, MV__K_UINT, 0},
    {"int32", "i32", 8, 4, 4, MV__K_SINT, 0},
    {"uint64", "u64", 1280, 8, 8, MV__K_UINT, 0},
    {"int64", "i64", 1024, 8, 8, MV__K_SINT, 0},
    {"float16", "f16", 0, 2, 2, MV__K_FLOAT, 0},
    {"bfloat16", "bf16", 0, 2, 2, MV__K_FLOAT, 0},
    {"float32", "f32", 16, 4, 4, MV__K_FLOAT, 0},
    {"float64", "f64", 64, 8, 8, MV__K_FLOAT, 0},
    {"float128", "f128", 1536, 16, 16, MV__K_FLOAT, 0},
    {"complex64", "c64", 32, 8, 4, MV__K_COMPLEX, MV_DT_F32},
    {"complex128", "c128", 1792, 16, 8, MV__K_COMPLEX, MV_DT_F64},
    {"complex256", "c256", 2048, 32, 16, MV__K_COMPLEX, MV_DT_F128},
    {"rgb24", "rgb24", 128, 3, 1, MV__K_RGB, 0},
    {"rgba32", "rgba32", 2304, 4, 1, MV__K_RGB, 0},
};

MV__INLINE int mv__dtype_ok(mv_dtype dt) { return dt > MV_DT_UNKNOWN && dt < MV_DT_COUNT; }
/* The alignment kernels may assume for an array of dt: that of one component
   (as a C array of the type would have), at most 8. */
MV__INLINE size_t mv__dt_align(mv_dtype dt) { return mv__dt[dt].swap > 8 ? 8 : mv__dt[dt].swap; }
MV__INLINE int mv__aligned(const void *p, mv_dtype dt) { return ((uintptr_t)p % mv__dt_align(dt)) == 0; }

MVDEF size_t mv_dtype_size(mv_dtype dt) { return mv__dtype_ok(dt) ? mv__dt[dt].size : 0; }
MVDEF const char *mv_dtype_name(mv_dtype dt) { return mv__dtype_ok(dt) ? mv__dt[dt].name : "unknown"; }
MVDEF int mv_dtype_nifti_code(mv_dtype dt) { return mv__dtype_ok(dt) ? mv__dt[dt].nifti : 0; }
MVDEF int mv_dtype_is_integer(mv_dtype dt)
{
    return mv__dtype_ok(dt) && (mv__dt[dt].kind == MV__K_UINT || mv__dt[dt].kind == MV__K_SINT);
}
MVDEF int mv_dtype_is_float(mv_dtype dt) { return mv__dtype_ok(dt) && mv__dt[dt].kind == MV__K_FLOAT; }
MVDEF int mv_dtype_is_complex(mv_dtype dt) { return mv__dtype_ok(dt) && mv__dt[dt].kind == MV__K_COMPLEX; }
MVDEF mv_dtype mv_dtype_from_nifti_code(int code)
{
    int i;
    for (i = 1; i < MV_DT_COUNT; i++)
        if (code != 0 && mv__dt[i].nifti == code) return (mv_dtype)i;
    return MV_DT_UNKNOWN;
}

static int mv__streq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return *a == *b;
}

/* the first n characters of a and b, ignoring case */
static MV__UNUSED int mv__streq_nocase_n(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
        if (!x) return 1;
    }
    return 1;
}

MVDEF mv_dtype mv_dtype_from_name(const char *name)
{
    /* numpy type codes, C names, and NIfTI's own */
    static const struct { const char *alias; mv_dtype dt; } aliases[] = {
        {"u1", MV_DT_U8}, {"i1", MV_DT_I8}, {"u2", MV_DT_U16}, {"i2", MV_DT_I16},
        {"u4", MV_DT_U32}, {"i4", MV_DT_I32}, {"u8 ", MV_DT_U64}, {"i8 ", MV_DT_I64},
        {"f2", MV_DT_F16}, {"f4", MV_DT_F32}, {"f8", MV_DT_F64}, {"f16 ", MV_DT_F128},
        {"c8", MV_DT_C64}, {"c16", MV_DT_C128}, {"c32", MV_DT_C256},
        {"uchar", MV_DT_U8}, {"char", MV_DT_I8}, {"short", MV_DT_I16}, {"ushort", MV_DT_U16},
        {"int", MV_DT_I32}, {"uint", MV_DT_U32}, {"float", MV_DT_F32}, {"double", MV_DT_F64},
        {"half", MV_DT_F16}, {"longdouble", MV_DT_F128}, {"rgb", MV_DT_RGB24}, {"rgba", MV_DT_RGBA32},
        {"unsigned_char", MV_DT_U8}, {"signed_short", MV_DT_I16}, {"signed_int", MV_DT_I32},
        {"binary128", MV_DT_F128},
    };
    size_t i;
    if (!name) return MV_DT_UNKNOWN;
    if (name[0] == '<' || name[0] == '>' || name[0] == '=' || name[0] == '|') name++;
    if ((name[0] == 'D' || name[0] == 'd') && (name[1] == 'T' || name[1] == 't') && name[2] == '_')
        name += 3; /* DT_INT16 */
    for (i = 1; i < MV_DT_COUNT; i++)
        if (mv__streq_nocase(name, mv__dt[i].name) || mv__streq_nocase(name, mv__dt[i].short_name))
            return (mv_dtype)i;
    for (i = 0; i < MV__ARRAY_LEN(aliases); i++)
        if (mv__streq_nocase(name, aliases[i].alias)) return aliases[i].dt;
    return MV_DT_UNKNOWN;
}

/* ---- software floating formats ---- */

/* double -> a small IEEE-style format with ebits exponent and mbits mantissa
   bits (binary16: 5/10, bfloat16: 8/7), round half to even; NaN stays a
   quiet NaN, overflow gives infinity. */
static uint32_t mv__f64_to_minifloat(double x, int ebits, int mbits)
{
    uint64_t b, m, full, mant, rem, halfway;
    uint32_t sign;
    int e, ue, shift, bias = (1 << (ebits - 1)) - 1;
    uint32_t emax = (1u << ebits) - 1;
    memcpy(&b, &x, 8);
    sign = (uint32_t)(b >> 63) << (ebits + mbits);
    e = (int)((b >> 52) & 0x7ff);
    m = b & (((uint64_t)1 << 52) - 1);
    if (e == 0x7ff)
        return sign | (emax << mbits) | (m ? (1u << (mbits - 1)) | (uint32_t)(m >> (52 - mbits)) : 0);
    if (e == 0) return sign; /* zero, or a double subnormal: far below any subnormal here */
    ue = e - 1023 + bias;
    full = m | ((uint64_t)1 << 52);
    shift = 52 - mbits + (ue <= 0 ? 1 - ue : 0);
    if (shift > 62) return sign;
    mant = full >> shift;
    rem = full & (((uint64_t)1 << shift) - 1);
    halfway = (uint64_t)1 << (shift - 1);
    if (rem > halfway || (rem == halfway && (mant & 1))) mant++;
    if (ue <= 0) return sign | (uint32_t)mant; /* subnormal (a carry makes it the least normal) */
    if (mant >> (mbits + 1)) { /* rounding carried out of the mantissa */
        mant >>= 1;
        ue++;
    }
    if ((uint32_t)ue >= emax) return sign | (emax << mbits);
    return sign | ((uint32_t)ue << mbits) | ((uint32_t)mant & ((1u << mbits) - 1));
}
static double mv__minifloat_to_f64(uint32_t h, int ebits, int mbits)
{
    uint32_t emax = (1u << ebits) - 1, e = (h >> mbits) & emax, m = h & ((1u << mbits) - 1);
    int bias = (1 << (ebits - 1)) - 1, neg = (h >> (ebits + mbits)) & 1;
    double v;
    if (e == emax) v = m ? (double)NAN : (double)INFINITY;
    else if (e == 0) v = ldexp((double)m, 1 - bias - mbits);
    else v = ldexp((double)(m | (1u << mbits)), (int)e - bias - mbits);
    return neg ? -v : v;
}
#define mv__f16_to_f64(h) mv__minifloat_to_f64((h), 5, 10)
#define mv__f64_to_f16(x) ((uint16_t)mv__f64_to_minifloat((x), 5, 10))
#define mv__bf16_to_f64(h) mv__minifloat_to_f64((h), 8, 7)
#define mv__f64_to_bf16(x) ((uint16_t)mv__f64_to_minifloat((x), 8, 7))

/* IEEE binary128 in native byte order <-> double (round half to even). */
static void mv__f128_words(const unsigned char *p, uint64_t *hi, uint64_t *lo)
{
    if (mv__host_is_big_endian()) {
        memcpy(hi, p, 8);
        memcpy(lo, p + 8, 8);
    } else {
        memcpy(lo, p, 8);
        memcpy(hi, p + 8, 8);
    }
}
static double mv__f128_to_f64(const void *src)
{
    uint64_t hi, lo, sig_hi, mant, below;
    int e, ue, s, neg;
    double v;
    mv__f128_words((const unsigned char *)src, &hi, &lo);
    neg = (int)(hi >> 63);
    e = (int)((hi >> 48) & 0x7fff);
    sig_hi = hi & (((uint64_t)1 << 48) - 1);
    if (e == 0x7fff) {
        v = (sig_hi | lo) ? (double)NAN : (double)INFINITY;
        return neg ? -v : v;
    }
    if (e == 0) return neg ? -0.0 : 0.0; /* binary128 subnormals are < 2^-16382 */
    ue = e - 16383 + 1023;
    if (ue >= 2047) return neg ? -(double)INFINITY : (double)INFINITY;
    sig_hi |= (uint64_t)1 << 48; /* 113-bit significand sig_hi:lo */
    s = 60 + (ue <= 0 ? 1 - ue : 0); /* bits to drop to keep 53 (fewer if subnormal) */
    if (s > 113) return neg ? -0.0 : 0.0;
    if (s < 64) {
        mant = (sig_hi << (64 - s)) | (lo >> s);
        below = lo & (((uint64_t)1 << s) - 1);
        /* round: compare the dropped bits with half of the last kept bit */
        if (below > ((uint64_t)1 << (s - 1)) || (below == ((uint64_t)1 << (s - 1)) && (mant & 1))) mant++;
    } else {
        int s2 = s - 64; /* dropped: all of lo and s2 bits of sig_hi */
        uint64_t hb = s2 ? sig_hi & (((uint64_t)1 << s2) - 1) : 0, half;
        mant = s2 < 64 ? sig_hi >> s2 : 0;
        if (s2 == 0) {
            half = (uint64_t)1 << 63;
            if (lo > half || (lo == half && (mant & 1))) mant++;
        } else {
            half = (uint64_t)1 << (s2 - 1);
            if (hb > half || (hb == half && (lo != 0 || (mant & 1)))) mant++;
        }
    }
    if (ue <= 0) { /* subnormal double: mant is the raw field (a carry makes it normal) */
        uint64_t bits = ((uint64_t)neg << 63) | mant;
        memcpy(&v, &bits, 8);
        return v;
    }
    if (mant >> 53) {
        mant >>= 1;
        ue++;
        if (ue >= 2047) return neg ? -(double)INFINITY : (double)INFINITY;
    }
    {
        uint64_t bits = ((uint64_t)neg << 63) | ((uint64_t)ue << 52) | (mant & (((uint64_t)1 << 52) - 1));
        memcpy(&v, &bits, 8);
    }
    return v;
}
static void mv__f64_to_f128(double x, void *dst)
{
    uint64_t b, m, hi, lo;
    int e;
    unsigned char *p = (unsigned char *)dst;
    memcpy(&b, &x, 8);
    e = (int)((b >> 52) & 0x7ff);
    m = b & (((uint64_t)1 << 52) - 1);
    hi = (b >> 63) << 63;
    lo = 0;
    if (e == 0x7ff) {
        hi |= (uint64_t)0x7fff << 48;
        if (m) hi |= (uint64_t)1 << 47 | (m >> 5);
    } else if (e != 0 || m != 0) {
        int ue;
        if (e == 0) { /* normalise a double subnormal */
            e = 1;
            while (!(m & ((uint64_t)1 << 52))) {
                m <<= 1;
                e--;
            }
            m &= ((uint64_t)1 << 52) - 1;
        }
        ue = e - 1023 + 16383;
        hi |= (uint64_t)ue << 48 | (m >> 4);
        lo = m << 60;
    }
    if (mv__host_is_big_endian()) {
        memcpy(p, &hi, 8);
        memcpy(p + 8, &lo, 8);
    } else {
        memcpy(p, &lo, 8);
        memcpy(p + 8, &hi, 8);
    }
}

/* >>impl-ref =============================================================== */

/* Block statistics of n values shifted by K: s1 = sum(x - K), s2 = sum((x - K)^2)
   in 8 float64 lanes (element i in lane i % 8) summed as mv__sum8, so every
   SIMD width reproduces the same bits; min / max of x. */
typedef struct mv__acc {
    double s1, s2, mn, mx;
} mv__acc;

MV__INLINE double mv__sum8(const double a[8])
{
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

typedef void (*mv__k_to_f32_fn)(const void *src, float *dst, size_t n);
typedef void (*mv__k_to_f32s_fn)(const void *src, float *dst, size_t n, double slope, double inter);
typedef void (*mv__k_from_f32_fn)(const float *src, void *dst, size_t n, int rounding);
typedef void (*mv__k_bswap_fn)(void *p, size_t n);
typedef void (*mv__k_stats_fn)(const void *src, size_t n, double K, mv__acc *out);
typedef uint32_t (*mv__k_crc32_fn)(uint32_t crc, const void *p, size_t n);

/* ---- CRC-32 (gzip's: reflected polynomial 0xEDB88320), slice-by-8 ----
   The tables are computed once with the kernel table (mv__kt_init_once). */
static uint32_t mv__crc_tab[8][256];

static void mv__crc_init(void)
{
    uint32_t i, k, t;
    for (i = 0; i < 256; i++) {
        uint32_t c = i;
        for (k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        mv__crc_tab[0][i] = c;
    }
    for (i = 0; i < 256; i++)
        for (t = 1; t < 8; t++) mv__crc_tab[t][i] = (mv__crc_tab[t - 1][i] >> 8) ^ mv__crc_tab[0][mv__crc_tab[t - 1][i] & 0xff];
}

/* crc of p[0..n) continuing from crc (0 to start), as zlib's crc32().
   Needs the tables: callers go through mv__kernels_get() first. */
static uint32_t mv__crc32_ref(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    uint32_t c = ~crc;
    for (; n && ((uintptr_t)b & 7); n--) c = mv__crc_tab[0][(c ^ *b++) & 0xff] ^ (c >> 8);
    for (; n >= 8; n -= 8, b += 8) {
        /* assembled byte by byte: right on either byte order, one load on little-endian */
        uint32_t lo = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        uint32_t hi = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
        lo ^= c;
        c = mv__crc_tab[7][lo & 0xff] ^ mv__crc_tab[6][(lo >> 8) & 0xff] ^ mv__crc_tab[5][(lo >> 16) & 0xff] ^
            mv__crc_tab[4][lo >> 24] ^ mv__crc_tab[3][hi & 0xff] ^ mv__crc_tab[2][(hi >> 8) & 0xff] ^
            mv__crc_tab[1][(hi >> 16) & 0xff] ^ mv__crc_tab[0][hi >> 24];
    }
    for (; n; n--) c = mv__crc_tab[0][(c ^ *b++) & 0xff] ^ (c >> 8);
    return ~c;
}

/* Rounds a float for an integer destination: NaN -> 0, then half-to-even or
   toward zero (the clamp to the destination's range comes after). */
MV__INLINE float mv__round_f32(float x, int rounding)
{
    if (x != x) return 0.0f;
    return rounding == MV_ROUND_TRUNCATE ? truncf(x) : rintf(x);
}

/* ---- int/float -> float32, plain and scaled (scaled: float64 math) ---- */
#define MV__REF_TO_F32(sfx, T)                                                                   \
    static void mv__to_f32_##sfx##_ref(const void *src, float *dst, size_t n)                   \
    {                                                                                            \
        const T *s = (const T *)src;                                                             \
        size_t i;                                                                                \
        for (i = 0; i < n; i++) dst[i] = (float)s[i];                                            \
    }                                                                                            \
    static void mv__to_f32s_##sfx##_ref(const void *src, float *dst, size_t n, double slope,    \
                                        double inter)                                            \
    {                                                                                            \
        const T *s = (const T *)src;                                                             \
        size_t i;                                                                                \
        for (i = 0; i < n; i++) dst[i] = (float)((double)s[i] * slope + inter);                  \
    }
MV__REF_TO_F32(u8, uint8_t)
MV__REF_TO_F32(i8, int8_t)
MV__REF_TO_F32(u16, uint16_t)
MV__REF_TO_F32(i16, int16_t)
MV__REF_TO_F32(u32, uint32_t)
MV__REF_TO_F32(i32, int32_t)
MV__REF_TO_F32(f32, float)
MV__REF_TO_F32(f64, double)

/* ---- float32 -> integer with rounding and saturation, and -> float64 ---- */
#define MV__REF_FROM_F32(sfx, T, LO, HI)                                                         \
    static void mv__from_f32_##sfx##_ref(const float *src, void *dst, size_t n, int rounding)   \
    {                                                                                            \
        T *d = (T *)dst;                                                                         \
        size_t i;                                                                                \
        for (i = 0; i < n; i++) {                                                                \
            float x = mv__round_f32(src[i], rounding);                                           \
            d[i] = x <= (float)(LO) ? (T)(LO) : x >= (float)(HI) ? (T)(HI) : (T)x;               \
        }                                                                                        \
    }
MV__REF_FROM_F32(u8, uint8_t, 0, 255)
MV__REF_FROM_F32(i8, int8_t, -128, 127)
MV__REF_FROM_F32(u16, uint16_t, 0, 65535)
MV__REF_FROM_F32(i16, int16_t, -32768, 32767)
/* int32: 2^31 is the first float past INT32_MAX, so compare against it */
static void mv__from_f32_i32_ref(const float *src, void *dst, size_t n, int rounding)
{
    int32_t *d = (int32_t *)dst;
    size_t i;
    for (i = 0; i < n; i++) {
        float x = mv__round_f32(src[i], rounding);
        d[i] = x >= 2147483648.0f ? INT32_MAX : x <= -2147483648.0f ? INT32_MIN : (int32_t)x;
    }
}
static void mv__from_f32_f64_ref(const float *src, void *dst, size_t n, int rounding)
{
    double *d = (double *)dst;
    size_t i;
    (void)rounding;
    for (i = 0; i < n; i++) d[i] = (double)src[i];
}

/* ---- byte swapping in place, by unit size ---- */
static void mv__bswap_ref(void *p, size_t n, size_t unit)
{
    unsigned char *b = (unsigned char *)p;
    size_t i, k;
    for (i = 0; i < n; i++, b += unit)
        for (k = 0; k < unit / 2; k++) {
            unsigned char t = b[k];
            b[k] = b[unit - 1 - k];
            b[unit - 1 - k] = t;
        }
}
static void mv__bswap2_ref(void *p, size_t n) { mv__bswap_ref(p, n, 2); }
static void mv__bswap4_ref(void *p, size_t n) { mv__bswap_ref(p, n, 4); }
static void mv__bswap8_ref(void *p, size_t n) { mv__bswap_ref(p, n, 8); }
static void mv__bswap16_ref(void *p, size_t n) { mv__bswap_ref(p, n, 16); }

/* ---- block statistics (finite blocks; see mv__acc) ---- */
#define MV__REF_STATS(sfx, T)                                                                    \
    static void mv__stats_##sfx##_ref(const void *src, size_t n, double K, mv__acc *out)        \
    {                                                                                            \
        const T *s = (const T *)src;                                                             \
        double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};               \
        double mn = (double)INFINITY, mx = -(double)INFINITY;                                    \
        size_t i;                                                                                \
        for (i = 0; i < n; i++) {                                                                \
            double x = (double)s[i], d = x - K;                                                  \
            a1[i & 7] += d;                                                                      \
            a2[i & 7] += d * d;                                                                  \
            mn = x < mn ? x : mn;                                                                \
            mx = x > mx ? x : mx;                                                                \
        }                                                                                        \
        out->s1 = mv__sum8(a1);                                                                  \
        out->s2 = mv__sum8(a2);                                                                  \
        out->mn = mn;                                                                            \
        out->mx = mx;                                                                            \
    }
MV__REF_STATS(u8, uint8_t)
MV__REF_STATS(i8, int8_t)
MV__REF_STATS(u16, uint16_t)
MV__REF_STATS(i16, int16_t)
MV__REF_STATS(u32, uint32_t)
MV__REF_STATS(i32, int32_t)
MV__REF_STATS(f32, float)
MV__REF_STATS(f64, double)

/* Block statistics of the float32 values != 0 (nonzero-only statistics):
   as above with the zeros left out, lanes by position, and their count
   (summed in the same lanes, exact). */
typedef void (*mv__k_stats_nz_fn)(const float *src, size_t n, double K, mv__acc *out, double *count);
static void mv__stats_nz_f32_ref(const float *src, size_t n, double K, mv__acc *out, double *count)
{
    double a0[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    double mn = (double)INFINITY, mx = -(double)INFINITY;
    size_t i;
    for (i = 0; i < n; i++) {
        double x = (double)src[i], d = x - K;
        if (x == 0) continue;
        a0[i & 7] += 1;
        a1[i & 7] += d;
        a2[i & 7] += d * d;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    out->s1 = mv__sum8(a1);
    out->s2 = mv__sum8(a2);
    out->mn = mn;
    out->mx = mx;
    *count = mv__sum8(a0);
}

/* ---- DEFLATE decoding (RFC 1951) ----
   Huffman codes decode through one table lookup (a root of 11 bits for
   literal/lengths, 8 for distances, 7 for code lengths) plus a subtable for
   longer codes. An entry packs what the decoder needs next:
     bits 0-7   bits to consume: the codeword and the extra bits after it
                (subtable pointer: the root bits)
     bits 8-11  codeword bits (where the extra bits start; subtable pointer:
                the subtable's index bits)
     bits 12-13 kind: literal, length/distance, end of block, subtable
     bit  14    invalid (an unused code, or symbols 286/287 30/31)
     bit  15    two symbols in one entry (literal/length root entries of
                dynamic blocks: two literals, or a length with its
                distance; see mv__combine_entry)
     bits 16-31 value: literal byte, length or distance base, subtable offset
   so one shift consumes a symbol and its extra bits together, and a valid
   literal is an entry with bits 12-14 clear.
   The fast loop runs while 40 input and 300 output bytes remain: a 64-bit
   bit buffer refilled 8 bytes at a time without branches, each lookup
   issued before the previous symbol's bytes are stored, matches copied 8
   bytes at a time. Everything else (block headers, the end of the input or
   output, references into a previous output buffer) goes through a
   bit-exact state machine that can stop at any byte and resume, so input can
   arrive in pieces and output can change buffers; a 32 KiB history of the
   output serves back-references that reach into earlier buffers. */

#define MV__E_LITERAL 0u
#define MV__E_LENDIST 1u
#define MV__E_EOB 2u
#define MV__E_SUB 3u
#define MV__E_INVALID (1u << 14)
/* an entry before its code length is known: kind, value, and extra bits in
   the consume field (the builder adds the codeword length to both fields) */
#define MV__E_MAKE(extra, kind, value) ((uint32_t)(extra) | (uint32_t)(kind) << 12 | (uint32_t)(value) << 16)
#define MV__E_TOTAL(e) ((e)&0xffu)         /* codeword + extra bits */
#define MV__E_CODE(e) (((e) >> 8) & 15u)   /* codeword bits */
#define MV__E_EXTRA(e) (MV__E_TOTAL(e) - MV__E_CODE(e))
#define MV__E_KIND(e) (((e) >> 12) & 3u)
#define MV__E_VALUE(e) ((e) >> 16)
#define MV__E_NOT_LITERAL 0x7000u
/* a root literal/length entry may hold two literals (value: first byte, then
   second byte; the consume field covers both codewords; the codeword field
   is the first one's, for the slow path, which decodes one at a time) */
#define MV__E_PAIR 0x8000u
/* an entry with its codeword length l added */
#define MV__E_WITH_LEN(e, l) ((e) + ((uint32_t)(l) | (uint32_t)(l) << 8))

#define MV__LITLEN_ROOT 11
#define MV__DIST_ROOT 8
#define MV__PRE_ROOT 7
/* room for the root plus every subtable any valid code can need (zlib's
   "enough" for these roots is 2342 and 402; a builder that would need more
   rejects the code) */
#define MV__LITLEN_ENOUGH 2400
#define MV__DIST_ENOUGH 420
#define MV__LITLEN_TABLE(s) ((s)->tables)
#define MV__DIST_TABLE(s) ((s)->tables + MV__LITLEN_ENOUGH)
#define MV__WINDOW 32768

static const uint16_t mv__len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                          31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t mv__len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t mv__dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                           193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t mv__dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t mv__precode_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

enum { MV__CODE_LITLEN, MV__CODE_DIST, MV__CODE_PRE };

/* The entry (without its bit counts) a symbol of a code stands for. */
static uint32_t mv__sym_entry(int code, unsigned sym)
{
    if (code == MV__CODE_PRE) return MV__E_MAKE(0, MV__E_LITERAL, sym);
    if (code == MV__CODE_DIST)
        return sym < 30 ? MV__E_MAKE(mv__dist_extra[sym], MV__E_LENDIST, mv__dist_base[sym]) : MV__E_INVALID;
    if (sym < 256) return MV__E_MAKE(0, MV__E_LITERAL, sym);
    if (sym == 256) return MV__E_MAKE(0, MV__E_EOB, 0);
    if (sym < 286) return MV__E_MAKE(mv__len_extra[sym - 257], MV__E_LENDIST, mv__len_base[sym - 257]);
    return MV__E_INVALID; /* 286, 287: have codes in the fixed table but never occur */
}

/* c's low l bits in reverse order (DEFLATE sends codewords MSB first; the
   decoder looks them up LSB first). */
MV__INLINE unsigned mv__reverse_bits(unsigned c, unsigned l)
{
    c = (c & 0x5555u) << 1 | (c >> 1 & 0x5555u);
    c = (c & 0x3333u) << 2 | (c >> 2 & 0x3333u);
    c = (c & 0x0f0fu) << 4 | (c >> 4 & 0x0f0fu);
    c = (c & 0x00ffu) << 8 | (c >> 8 & 0x00ffu);
    return c >> (16 - l);
}

/* Builds the decode table of a canonical code from its lengths. Returns NULL
   or a description of what is wrong with the code. An incomplete code is
   refused unless it is a single code of one bit (RFC 1951 allows it for
   distances; zlib accepts it for literal/lengths too) or an empty distance
   code (a block of literals only); the code-length code must be complete. */
static const char *mv__build_table(uint32_t *table, unsigned cap, unsigned root, const uint8_t *lens, unsigned n, int code)
{
    unsigned count[16], counts4[4][16], offs[16], len, i, k, size, used = 0, next_free;
    uint32_t sorted[320]; /* entries without their lengths, in canonical order */
    int left;
    uint32_t codeword;
    /* four histograms: runs of equal lengths do not wait on one counter */
    memset(counts4, 0, sizeof(counts4));
    for (i = 0; i + 4 <= n; i += 4) {
        counts4[0][lens[i]]++;
        counts4[1][lens[i + 1]]++;
        counts4[2][lens[i + 2]]++;
        counts4[3][lens[i + 3]]++;
    }
    for (; i < n; i++) counts4[0][lens[i]]++;
    for (len = 0; len < 16; len++) count[len] = counts4[0][len] + counts4[1][len] + counts4[2][len] + counts4[3][len];
    count[0] = 0;
    left = 1;
    for (len = 1; len <= 15; len++) {
        left = left * 2 - (int)count[len];
        if (left < 0) return "over-subscribed";
        used += count[len];
    }
    if (left > 0) {
        int one_bit = used == 1 && count[1] == 1;
        if (code == MV__CODE_PRE || !(one_bit || (used == 0 && code == MV__CODE_DIST))) return "incomplete";
    }
    /* symbols sorted by (length, value): the canonical order */
    offs[1] = 0;
    for (len = 1; len < 15; len++) offs[len + 1] = offs[len] + count[len];
    for (i = 0; i < n; i++)
        if (lens[i]) sorted[offs[lens[i]]++] = mv__sym_entry(code, i);
    /* Codes of up to root bits, shortest first (canonical codewords count up
       within a length and double between lengths, RFC 1951 3.2.2). The table
       grows with the length: at 2^len entries, a len-bit code at its
       bit-reversed codeword r belongs at r + k 2^len for every k, which the
       doublings that follow provide; slots that longer codes will take hold
       stale values until then. A complete code overwrites every slot, so only
       an incomplete one needs the two starting slots marked invalid. */
    size = 2;
    if (left > 0) table[0] = table[1] = MV__E_INVALID;
    codeword = 0;
    k = 0;
    for (len = 1; len <= root; len++) {
        unsigned j;
        if (len > 1) {
            memcpy(table + size, table, size * sizeof(*table));
            size *= 2;
        }
        for (j = 0; j < count[len]; j++, k++, codeword++)
            table[mv__reverse_bits(codeword, len)] = MV__E_WITH_LEN(sorted[k], len);
        codeword <<= 1;
    }
    /* Longer codes: a subtable per root prefix, as many index bits as the
       codes sharing that prefix need (they follow in canonical order). */
    next_free = 1u << root;
    {
        unsigned cur_prefix = ~0u, sub_off = 0, sub_bits = 0, remaining[16], b;
        memcpy(remaining, count, sizeof(remaining));
        for (; len <= 15; len++, codeword <<= 1) {
            unsigned j;
            for (j = 0; j < count[len]; j++, k++, codeword++) {
                unsigned rev = mv__reverse_bits(codeword, len);
                uint32_t e = sorted[k];
                remaining[len]--;
                if ((rev & ((1u << root) - 1)) != cur_prefix) {
                    int space;
                    cur_prefix = rev & ((1u << root) - 1);
                    sub_bits = len - root;
                    space = (1 << sub_bits) - (int)remaining[len] - 1;
                    while (space > 0 && root + sub_bits < 15) {
                        sub_bits++;
                        space = space * 2 - (int)remaining[root + sub_bits];
                    }
                    sub_off = next_free;
                    next_free += 1u << sub_bits;
                    if (next_free > cap) return "needs too large a table";
                    table[cur_prefix] = (uint32_t)root | (uint32_t)sub_bits << 8 | (uint32_t)MV__E_SUB << 12 | sub_off << 16;
                }
                for (b = rev >> root; b < (1u << sub_bits); b += 1u << (len - root))
                    table[sub_off + b] = MV__E_WITH_LEN(e, len - root);
            }
        }
    }
    return NULL;
}

/* Two symbols in one root entry of a dynamic literal/length table, so that
   the fast loop does one lookup where it would do two:
   - a pair of literals: a literal whose codeword is followed by another
     literal's, both within the root bits (in 16-bit images: a predictable
     high byte beside a noisy low one). Value: first byte, second byte.
   - a length fused with its distance code: a length symbol without extra
     bits (3-10) followed by a distance codeword (one of the distance
     table's root entries, not a subtable's), both within the root bits
     (16-bit images are mostly a literal then a short match far back, with
     2-3 bit length codes). Value: the length in bits 16-23 and the index of
     the distance's root entry in bits 24-31 (the fast loop reads the base
     there, off the bit buffer's critical path); consume field: both
     codewords and the distance's extra bits (at most 23, so that after two
     literals the 56-bit refill still holds the next root lookup's 11 bits);
     codeword field: both codewords (the distance's extra bits follow).
   Both carry MV__E_PAIR. The slow path decodes one symbol at a time: it
   reads a pair's first byte and splits a fused entry (mv__inf_peek_slow).
   Downward, so every entry read (at i >> l <= i) is still single. Without
   branches: which entries combine is data, not a pattern. Scalar reference
   of the kernel-table entry combine_litlen; the SIMD versions gather. */
#define MV__FUSE_MAX_LEN 10u   /* length symbols 257-264 have no extra bits */
#define MV__FUSE_MAX_BITS 23u
MV__INLINE uint32_t mv__combine_entry(uint32_t e, uint32_t e2, uint32_t d, unsigned i, unsigned root)
{
    uint32_t la = MV__E_TOTAL(e), lb = MV__E_TOTAL(e2), ld = MV__E_CODE(d), dtot = MV__E_TOTAL(d);
    int pair = !((e | e2) & MV__E_NOT_LITERAL) && la + lb <= root;
    int fuse = (e & (MV__E_NOT_LITERAL | MV__E_INVALID)) == (MV__E_LENDIST << 12) && MV__E_CODE(e) == la &&
               MV__E_VALUE(e) <= MV__FUSE_MAX_LEN && (d & (MV__E_NOT_LITERAL | MV__E_INVALID)) == (MV__E_LENDIST << 12) &&
               la + ld <= root && la + dtot <= MV__FUSE_MAX_BITS;
    uint32_t paired = (e + lb) | MV__E_PAIR | (MV__E_VALUE(e2) << 24);
    uint32_t fused = (la + dtot) | (la + ld) << 8 | MV__E_LENDIST << 12 | MV__E_PAIR | MV__E_VALUE(e) << 16 |
                     ((i >> la) & ((1u << MV__DIST_ROOT) - 1)) << 24;
    return pair ? paired : fuse ? fused : e;
}
static void mv__combine_litlen_ref(uint32_t *tables, unsigned root)
{
    uint32_t *table = tables;
    const uint32_t *dist = tables + MV__LITLEN_ENOUGH;
    unsigned i;
    for (i = (1u << root); i-- > 0;) {
        uint32_t e = table[i], la = MV__E_TOTAL(e);
        table[i] = mv__combine_entry(e, table[i >> la], dist[(i >> la) & ((1u << MV__DIST_ROOT) - 1)], i, root);
    }
}

/* decoder states */
enum {
    MV__I_BLOCK,      /* next: a block header */
    MV__I_STORED_LEN, /* stored block: LEN and NLEN */
    MV__I_STORED,     /* stored block: bytes to copy */
    MV__I_DYN_COUNTS, /* dynamic block: HLIT HDIST HCLEN */
    MV__I_DYN_PRE,    /* ... the code-length code */
    MV__I_DYN_LENS,   /* ... the code lengths */
    MV__I_HUFF,       /* Huffman-coded symbols */
    MV__I_LEN_EXTRA,  /* a length symbol's extra bits */
    MV__I_DIST,       /* a distance symbol */
    MV__I_DIST_EXTRA, /* its extra bits */
    MV__I_COPY,       /* a match (part of it) to copy */
    MV__I_END         /* after the final block */
};

typedef struct mv__inflater {
    uint64_t bitbuf; /* bits not yet used, lowest first; bits above bitcnt are zero */
    unsigned bitcnt;
    int state, final;
    uint32_t stored_left, copy_len, copy_dist, len_base, len_extra, dist_extra;
    /* dynamic header in progress */
    unsigned nlit, ndist, npre, nlens, fixed_tables, pending_sym;
    uint8_t lens[320];
    /* history: the last <= 32 KiB produced into earlier output buffers, a
       ring: hist_pos is where the next byte goes */
    uint32_t hist_len, hist_pos;
    uint64_t total_out; /* bytes produced in this stream */
    uint32_t pre[1u << MV__PRE_ROOT];
    /* the literal/length table, then the distance table (MV__DIST_TABLE):
       one array, so a gather can read either */
    uint32_t tables[MV__LITLEN_ENOUGH + MV__DIST_ENOUGH];
    unsigned char hist[MV__WINDOW];
    const char *error; /* what went wrong (static text), with err_arg */
    long long err_arg;
} mv__inflater;

/* Results of mv__inflate besides errors. */
enum { MV__INF_ERROR = -1, MV__INF_NEED_INPUT = 1, MV__INF_NEED_OUTPUT = 2, MV__INF_DONE = 3 };

static void mv__inflate_reset(mv__inflater *s)
{
    s->bitbuf = 0;
    s->bitcnt = 0;
    s->state = MV__I_BLOCK;
    s->final = 0;
    s->hist_len = 0;
    s->hist_pos = 0;
    s->total_out = 0;
    s->fixed_tables = 0;
    s->pending_sym = 0;
    s->error = NULL;
}

static int mv__inf_fail(mv__inflater *s, const char *why, long long arg)
{
    s->error = why;
    s->err_arg = arg;
    return MV__INF_ERROR;
}

MV__INLINE uint64_t mv__load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    if (mv__host_is_big_endian()) {
        uint64_t r = 0;
        int i;
        for (i = 0; i < 8; i++) r |= (uint64_t)p[i] << (8 * i);
        v = r;
    }
    return v;
}

/* The fixed code of BTYPE 1. */
static void mv__build_fixed(mv__inflater *s)
{
    uint8_t l[320];
    unsigned i;
    for (i = 0; i < 144; i++) l[i] = 8;
    for (; i < 256; i++) l[i] = 9;
    for (; i < 280; i++) l[i] = 7;
    for (; i < 288; i++) l[i] = 8;
    mv__build_table(MV__LITLEN_TABLE(s), MV__LITLEN_ENOUGH, MV__LITLEN_ROOT, l, 288, MV__CODE_LITLEN);
    for (i = 0; i < 32; i++) l[i] = 5;
    mv__build_table(MV__DIST_TABLE(s), MV__DIST_ENOUGH, MV__DIST_ROOT, l, 32, MV__CODE_DIST);
    s->fixed_tables = 1;
}

/* Copies a match of len bytes from dist back; the source may start in the
   history (a ring of the output of earlier buffers) and continue in out.
   Slow path. */
static void mv__copy_match_slow(mv__inflater *s, unsigned char *out, size_t op, uint32_t dist, uint32_t len)
{
    uint32_t i;
    for (i = 0; i < len; i++) {
        size_t back = dist;
        out[op + i] = back <= op + i ? out[op + i - back]
                                     : s->hist[(s->hist_pos - (uint32_t)(back - (op + i))) & (MV__WINDOW - 1)];
    }
}

/* The caller is done with an output buffer that holds out[0..n): add its
   bytes to the history ring for references from the next buffer. */
static void mv__inflate_keep_history(mv__inflater *s, const unsigned char *out, size_t n)
{
    if (n >= MV__WINDOW) {
        memcpy(s->hist, out + n - MV__WINDOW, MV__WINDOW);
        s->hist_pos = 0;
        s->hist_len = MV__WINDOW;
    } else if (n > 0) {
        uint32_t first = (uint32_t)MV__MIN(n, (size_t)(MV__WINDOW - s->hist_pos));
        memcpy(s->hist + s->hist_pos, out, first);
        memcpy(s->hist, out + first, n - first);
        s->hist_pos = (s->hist_pos + (uint32_t)n) & (MV__WINDOW - 1);
        s->hist_len = (uint32_t)MV__MIN((size_t)MV__WINDOW, s->hist_len + n);
    }
}

/* The fast loop, written once and stamped per ISA (a BMI2 build turns the
   variable shifts and masks into single instructions): whole symbols while
   40 input and 300 output bytes remain. It returns when a block ends, space
   runs low, the data is wrong (state -1), or a match reaches before this
   output buffer (left pending in MV__I_COPY for the slow path).
   To keep the loop-carried chain short, an entry's bits are consumed before
   its type is tested, the next entry is looked up before the current literal
   is stored, and the next literal/length entry is fetched before a match is
   copied. Only the low byte of the bit count matters (whole entries are
   subtracted from it). */
MV__INLINE void mv__inflate_fast_body(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip,
                                      unsigned char *out, size_t out_cap, size_t *op)
{
    const unsigned char *inp, *in_safe;
    unsigned char *o, *out_safe;
    uint64_t bb = s->bitbuf, saved;
    uint32_t bc = s->bitcnt, e;
    const uint32_t *lt = MV__LITLEN_TABLE(s), *dt = MV__DIST_TABLE(s);
    const uint64_t lmask = (1u << MV__LITLEN_ROOT) - 1, dmask = (1u << MV__DIST_ROOT) - 1;
    if (in_len < 40 || out_cap < 300 || *ip > in_len - 40 || *op > out_cap - 300) return;
    inp = in + *ip;
    in_safe = in + in_len - 40;
    o = out + *op;
    out_safe = out + out_cap - 300;
#define MV__REFILL()                                                  \
    do {                                                              \
        bb |= mv__load_le64(inp) << (bc & 63);                        \
        inp += 7 - ((bc >> 3) & 7);                                   \
        bc |= 56;                                                     \
    } while (0)
/* x & 63: what the shift instruction does anyway, so it costs nothing
   (entries consume at most 28 bits) */
#define MV__CONSUME(x)                                                \
    do {                                                              \
        saved = bb;                                                   \
        bb >>= (x)&63;                                                \
        bc -= (x);                                                    \
    } while (0)
#define MV__EXTRA_BITS(x) ((uint32_t)((saved & (((uint64_t)1 << (uint8_t)(x)) - 1)) >> MV__E_CODE(x)))
#define MV__PUT_LITERALS(x)                                           \
    do {                                                              \
        uint16_t two_ = (uint16_t)((x) >> 16);                        \
        if (mv__host_is_big_endian()) two_ = (uint16_t)(two_ >> 8 | two_ << 8); \
        memcpy(o, &two_, 2);                                          \
        o += 1 + (((x) >> 15) & 1);                                   \
    } while (0)
    MV__REFILL();
    e = lt[bb & lmask];
    do {
        uint32_t len, dist, lit;
        MV__CONSUME(e);
        if (!(e & MV__E_NOT_LITERAL)) {
            /* three more root entries fit in the 56 bits (4 x 11); each is
               one or two literals: store two bytes, advance one or two */
            lit = e;
            e = lt[bb & lmask];
            MV__CONSUME(e);
            MV__PUT_LITERALS(lit);
            if (!(e & MV__E_NOT_LITERAL)) {
                lit = e;
                e = lt[bb & lmask];
                MV__CONSUME(e);
                MV__PUT_LITERALS(lit);
                if (!(e & MV__E_NOT_LITERAL)) {
                    lit = e;
                    e = lt[bb & lmask];
                    MV__REFILL();
                    MV__PUT_LITERALS(lit);
                    continue;
                }
            }
        }
        if (MV__UNLIKELY(e & (MV__E_INVALID | (2u << 12)))) { /* subtable, end of block, invalid */
            if (MV__E_KIND(e) == MV__E_SUB && !(e & MV__E_INVALID)) {
                e = lt[MV__E_VALUE(e) + (bb & ((1u << MV__E_CODE(e)) - 1))];
                MV__CONSUME(e);
                if (!(e & MV__E_NOT_LITERAL)) {
                    *o++ = (unsigned char)MV__E_VALUE(e);
                    MV__REFILL();
                    e = lt[bb & lmask];
                    continue;
                }
            }
            if (e & MV__E_INVALID) {
                bc += (uint8_t)e; /* not consumed after all */
                bb = saved;
                s->state = -1;
                s->error = "invalid literal/length code";
                break;
            }
            if (MV__E_KIND(e) == MV__E_EOB) {
                s->state = s->final ? MV__I_END : MV__I_BLOCK;
                break;
            }
        }
        /* a length, then its distance. At least 14 bits are left (56 minus
           two literals, a length root entry and its subtable entry: 11 + 11
           + 11 + 9), so the distance's root entry is looked up before the
           refill rather than after it: the refill only adds bits above. A
           fused entry has consumed both (at most 23 bits: 11 are left for
           the next lookup). */
        if (e & MV__E_PAIR) { /* fused with its distance (mv__combine_entry) */
            len = (e >> 16) & 0xff;
            dist = MV__E_VALUE(dt[e >> 24]) + MV__EXTRA_BITS(e);
        } else {
            len = MV__E_VALUE(e) + MV__EXTRA_BITS(e);
            e = dt[bb & dmask];
            MV__REFILL();
            MV__CONSUME(e);
            if (MV__UNLIKELY(e & (MV__E_INVALID | (2u << 12)))) {
                if (MV__E_KIND(e) == MV__E_SUB && !(e & MV__E_INVALID)) {
                    e = dt[MV__E_VALUE(e) + (bb & ((1u << MV__E_CODE(e)) - 1))];
                    MV__CONSUME(e);
                }
                if (e & MV__E_INVALID) {
                    s->state = -1;
                    s->error = "invalid distance code";
                    break;
                }
            }
            dist = MV__E_VALUE(e) + MV__EXTRA_BITS(e);
        }
        e = lt[bb & lmask]; /* the next symbol, while the match copies */
        MV__REFILL();
        if (MV__UNLIKELY(dist > (size_t)(o - out))) { /* reaches before this buffer */
            s->copy_len = len;
            s->copy_dist = dist;
            s->state = MV__I_COPY;
            break;
        }
        {
            const unsigned char *src = o - dist;
            unsigned char *end = o + len;
            uint64_t w;
            if (MV__LIKELY(dist >= 8)) {
                /* most matches are short: 24 bytes without a branch, then
                   16 per step (the margin absorbs the overshoot). 8-byte
                   moves measured faster than 16- or 32-byte ones here: a
                   wide load that spans several recent narrow stores
                   cannot take its bytes from the store buffer. */
                memcpy(&w, src, 8);
                memcpy(o, &w, 8);
                memcpy(&w, src + 8, 8);
                memcpy(o + 8, &w, 8);
                memcpy(&w, src + 16, 8);
                memcpy(o + 16, &w, 8);
                if (len > 24) {
                    src += 24;
                    o += 24;
                    do {
                        memcpy(&w, src, 8);
                        memcpy(o, &w, 8);
                        memcpy(&w, src + 8, 8);
                        memcpy(o + 8, &w, 8);
                        src += 16;
                        o += 16;
                    } while (o < end);
                }
            } else if (dist == 1) {
                w = 0x0101010101010101ull * *src;
                memcpy(o, &w, 8);
                memcpy(o + 8, &w, 8);
                memcpy(o + 16, &w, 8);
                if (len > 24) {
                    o += 24;
                    do {
                        memcpy(o, &w, 8);
                        memcpy(o + 8, &w, 8);
                        o += 16;
                    } while (o < end);
                }
            } else {
                /* period dist < 8: bytes until a whole multiple k >= 8 of the
                   period lies behind, then 8-byte copies from k back */
                unsigned k = (8 + dist - 1) / dist * dist;
                unsigned char *stop = o + (k - dist) < end ? o + (k - dist) : end;
                while (o < stop) *o++ = *src++;
                for (src = o - k; o < end; o += 8, src += 8) {
                    memcpy(&w, src, 8);
                    memcpy(o, &w, 8);
                }
            }
            o = end;
        }
    } while (inp < in_safe && o < out_safe);
#undef MV__REFILL
#undef MV__CONSUME
#undef MV__EXTRA_BITS
#undef MV__PUT_LITERALS
    /* give back the whole bytes the bit buffer holds beyond its count */
    bc = (uint8_t)bc;
    inp -= bc >> 3;
    bc &= 7;
    bb &= ((uint64_t)1 << bc) - 1;
    s->bitbuf = bb;
    s->bitcnt = bc;
    *ip = (size_t)(inp - in);
    *op = (size_t)(o - out);
}

static void mv__inflate_fast_ref(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip, unsigned char *out,
                                 size_t out_cap, size_t *op)
{
    mv__inflate_fast_body(s, in, in_len, ip, out, out_cap, op);
}
typedef void (*mv__k_combine_fn)(uint32_t *tables, unsigned root); /* litlen, then dist at MV__LITLEN_ENOUGH */
typedef void (*mv__k_inflate_fn)(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip, unsigned char *out,
                                 size_t out_cap, size_t *op);

/* ---- resampling kernels (used by >>impl-resample) ----
   rs_blend:   dst[i] = sum over taps t of w[t] * rows[t][i] (taps 1, 2 or 4),
               summed left to right in float32; the y and z steps of the
               separable resampler.
   rs_xinterp: dst[i] = sum over taps t of w[t * wstride + i] * src[idx[i] + t]
               (weights planar, one array per tap; src_len floats readable at
               src); the x step.
   rs_bspline: the cubic B-spline prefilter (scipy spline_filter, order 3) of
               MV__RS_LANES interleaved lines of n samples in float64: sample
               i of line l at buf[(i + 1) * MV__RS_LANES + l]; rows 0 and
               n + 1 receive the coefficients at -1 and n. mirror: scipy's
               mirror boundary (mode 'constant'); else the volume's edge
               continues (mode 'nearest', in closed form). Many lines at once
               keep the recursions' dependency chains from stalling. */
typedef void (*mv__k_rs_blend_fn)(float *dst, const float *const *rows, const float *w, int taps, size_t n);
typedef void (*mv__k_rs_xinterp_fn)(float *dst, const float *src, size_t src_len, const int32_t *idx, const float *w,
                                    size_t wstride, int taps, size_t n);
typedef void (*mv__k_rs_bspline_fn)(double *buf, size_t n, int mirror);

#define MV__RS_LANES 32                       /* lines per rs_bspline call */
#define MV__RS_POLE (-0.26794919243112270)    /* sqrt(3) - 2, the cubic B-spline's pole */

static void mv__rs_blend_ref(float *dst, const float *const *rows, const float *w, int taps, size_t n)
{
    size_t i;
    int t;
    for (i = 0; i < n; i++) {
        float acc = w[0] * rows[0][i];
        for (t = 1; t < taps; t++) acc = acc + w[t] * rows[t][i];
        dst[i] = acc;
    }
}

static void mv__rs_xinterp_ref(float *dst, const float *src, size_t src_len, const int32_t *idx, const float *w,
                               size_t wstride, int taps, size_t n)
{
    size_t i;
    int t;
    (void)src_len;
    for (i = 0; i < n; i++) {
        const float *s = src + idx[i];
        float acc = w[i] * s[0];
        for (t = 1; t < taps; t++) acc = acc + w[(size_t)t * wstride + i] * s[t];
        dst[i] = acc;
    }
}

/* The constants of the prefilter, shared by every ISA so all see the same
   bits: gain (1 - z)(1 - 1/z) = 6; the steady state 1/(1 - z) of the causal
   pass over a constant; z / (1 - z^2), which closes the anticausal pass
   over the constant continuation (see mv__rs_bspline_ref). */
typedef struct mv__rs_bsk {
    double z, gain, inv_1mz, zq, mirror_end, zn1, mirror_div;
} mv__rs_bsk;

static mv__rs_bsk mv__rs_bspline_consts(size_t n)
{
    mv__rs_bsk k;
    k.z = MV__RS_POLE;
    k.gain = (1.0 - k.z) * (1.0 - 1.0 / k.z);
    k.inv_1mz = 1.0 / (1.0 - k.z);
    k.zq = k.z / (1.0 - k.z * k.z);
    k.mirror_end = k.z / (k.z * k.z - 1.0);
    k.zn1 = n > 1 ? pow(k.z, (double)(n - 1)) : 1.0;
    k.mirror_div = 1.0 / (1.0 - k.zn1 * k.zn1);
    return k;
}

/* One line of the prefilter (lane l of buf, stride 8), the definition the
   SIMD versions follow operation by operation.
   Edge-continued line (mode 'nearest'): left of 0 the input is g0 forever,
   so the causal sum there is its steady state gain*g0/(1 - z); right of
   n - 1 it is gl forever, and summing the anticausal pass over that tail in
   closed form gives c[n-1] = gl - (c+[n-1] - gain*gl/(1 - z)) * z/(1 - z^2).
   Outside, the coefficients approach the edge value geometrically:
   c[-m] = g0 + z^m (c[0] - g0), c[n-1+m] = gl + z^m (c[n-1] - gl); the rows
   -1 and n hold m = 1 (mv__rs_taps folds the farther ones onto them).
   Mirror line (mode 'constant'): scipy's mirror initialisation, pads
   c[-1] = c[1], c[n] = c[n-2]. */
static void mv__rs_bspline_lane(double *buf, size_t n, int mirror, size_t l, const mv__rs_bsk *k)
{
    double *c = buf + MV__RS_LANES + l; /* c[i * MV__RS_LANES] is sample i */
    const size_t L = MV__RS_LANES;
    size_t i;
    if (n == 1) { /* a constant line: its own coefficients */
        c[-(ptrdiff_t)L] = c[0];
        c[L] = c[0];
        return;
    }
    if (!mirror) {
        double g0 = c[0], gl = c[(n - 1) * L], s;
        c[0] = (k->gain * g0) * k->inv_1mz;
        for (i = 1; i < n; i++) c[i * L] = k->gain * c[i * L] + k->z * c[(i - 1) * L];
        s = (k->gain * gl) * k->inv_1mz;
        c[(n - 1) * L] = gl - (c[(n - 1) * L] - s) * k->zq;
        for (i = n - 1; i-- > 0;) c[i * L] = k->z * (c[(i + 1) * L] - c[i * L]);
        c[-(ptrdiff_t)L] = g0 + k->z * (c[0] - g0);
        c[n * L] = gl + k->z * (c[(n - 1) * L] - gl);
    } else {
        double acc, zi = k->z;
        for (i = 0; i < n; i++) c[i * L] = k->gain * c[i * L];
        acc = c[0] + k->zn1 * c[(n - 1) * L];
        for (i = 1; i + 1 < n; i++) {
            acc = acc + zi * (c[i * L] + k->zn1 * c[(n - 1 - i) * L]);
            zi = zi * k->z;
        }
        c[0] = acc * k->mirror_div;
        for (i = 1; i < n; i++) c[i * L] = c[i * L] + k->z * c[(i - 1) * L];
        c[(n - 1) * L] = (k->z * c[(n - 2) * L] + c[(n - 1) * L]) * k->mirror_end;
        for (i = n - 1; i-- > 0;) c[i * L] = k->z * (c[(i + 1) * L] - c[i * L]);
        c[-(ptrdiff_t)L] = c[L];
        c[n * L] = c[(n - 2) * L];
    }
}

static void mv__rs_bspline_ref(double *buf, size_t n, int mirror)
{
    mv__rs_bsk k = mv__rs_bspline_consts(n);
    size_t l;
    for (l = 0; l < MV__RS_LANES; l++) mv__rs_bspline_lane(buf, n, mirror, l, &k);
}

/* rs_rows_in / rs_rows_out: MV__RS_LANES rows of floats (row l at rows +
   l * stride) to and from the lanes of the prefilter's line buffer:
   buf[(i + 1) * MV__RS_LANES + l] = rows[l * stride + i] for i < n, and
   back rows[l * stride + i] = (float)buf[i * MV__RS_LANES + l] (buffer row 0
   is the coefficient at -1). The x pass's transposition; exact both ways
   (float -> double exactly, double -> float rounds like the cast). */
typedef void (*mv__k_rs_rows_in_fn)(double *buf, const float *rows, size_t stride, size_t n);
typedef void (*mv__k_rs_rows_out_fn)(float *rows, size_t stride, const double *buf, size_t n);

static void mv__rs_rows_in_ref(double *buf, const float *rows, size_t stride, size_t n)
{
    size_t i, l;
    for (l = 0; l < MV__RS_LANES; l++)
        for (i = 0; i < n; i++) buf[(i + 1) * MV__RS_LANES + l] = (double)rows[l * stride + i];
}
static void mv__rs_rows_out_ref(float *rows, size_t stride, const double *buf, size_t n)
{
    size_t i, l;
    for (l = 0; l < MV__RS_LANES; l++)
        for (i = 0; i < n; i++) rows[l * stride + i] = (float)buf[i * MV__RS_LANES + l];
}

/* Cubic weights of x in [0, 1) (scipy's formulas, the last one 1 minus the
   others) for taps floor(c)-1 .. floor(c)+2. */
MV__INLINE void mv__rs_cubic_w(double x, float *w)
{
    double y = 1.0 - x, w0 = y * y * y / 6.0, w1 = (x * x * (x - 2.0) * 3.0 + 4.0) / 6.0,
           w2 = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
    w[0] = (float)w0;
    w[1] = (float)w1;
    w[2] = (float)w2;
    w[3] = (float)(((1.0 - w0) - w1) - w2);
}

/* rs_affine_cub: n voxels of a row of a general (non-separable) cubic
   B-spline map over float32 coefficients stored with row and plane strides
   st[0], st[1] (stored index = voxel + 1; fewer than 2^31 stored): voxel i
   samples c[a] = m0[a] * (double)(x0 + i) + base[a]. Where every c[a] lies
   in [0, lim[a]) (lim = n - 2: all 4 taps stored, nothing to fold) it writes
   dst[i] and todo[i] = 0; elsewhere todo[i] = 1 and dst[i] is the caller's
   (its general path folds the taps). Returns the number of todo voxels.
   Weights as mv__rs_cubic_w; taps summed along x, then y, then z in
   float32 (the order of mv__rs_sample). */
typedef size_t (*mv__k_rs_affine_cub_fn)(float *dst, unsigned char *todo, const float *coef, const int64_t *st,
                                         const double *lim, const double *m0, const double *base, int64_t x0, size_t n);

/* one cubic sample whose 4 x 4 x 4 taps start at v, weights w[axis][tap] */
MV__INLINE float mv__rs_cub_taps(const float *v, size_t sx, size_t sy, float (*w)[4])
{
    float acc = 0;
    int tz, ty;
    for (tz = 0; tz < 4; tz++) {
        float plane = 0;
        for (ty = 0; ty < 4; ty++) {
            const float *r = v + ((size_t)tz * sy + (size_t)ty) * sx;
            float row = ((w[0][0] * r[0] + w[0][1] * r[1]) + w[0][2] * r[2]) + w[0][3] * r[3];
            plane = ty == 0 ? w[1][0] * row : plane + w[1][ty] * row;
        }
        acc = tz == 0 ? w[2][0] * plane : acc + w[2][tz] * plane;
    }
    return acc;
}

static size_t mv__rs_affine_cub_ref(float *dst, unsigned char *todo, const float *coef, const int64_t *st,
                                    const double *lim, const double *m0, const double *base, int64_t x0, size_t n)
{
    const size_t sx = (size_t)st[0], sy = (size_t)st[1];
    size_t i, left = 0;
    for (i = 0; i < n; i++) {
        float w[3][4];
        size_t f[3];
        int a, inside = 1;
        for (a = 0; a < 3; a++) {
            double c = m0[a] * (double)(x0 + (int64_t)i) + base[a], fl;
            inside &= c >= 0 && c < lim[a];
            if (!inside) break;
            fl = (double)(int64_t)c; /* floor: c >= 0 */
            mv__rs_cubic_w(c - fl, w[a]);
            f[a] = (size_t)fl; /* stored index of floor - 1 */
        }
        todo[i] = (unsigned char)!inside;
        if (!inside) {
            left++;
            continue;
        }
        dst[i] = mv__rs_cub_taps(coef + (f[2] * sy + f[1]) * sx + f[0], sx, sy, w);
    }
    return left;
}

/* rs_affine_lin: n voxels of a row of a general (non-separable) trilinear
   map from a float32 volume of dims d[0..2] (each >= 2, fewer than 2^31
   voxels): voxel i samples c[a] = m0[a] * (double)(x0 + i) + base[a].
   With fill, a sample outside [0, d-1] on any axis gets fillv; otherwise c
   is clamped to [0, d-1] (NaN -> 0), f = floor(c) (moved to d-2 with
   t = 1 at the last voxel), t = c - f, and the 8 voxels are blended along
   x, then y, then z as (1 - t) * a + t * b in float32. */
typedef void (*mv__k_rs_affine_lin_fn)(float *dst, const float *vol, const int64_t *d, const double *m0, const double *base,
                                       int64_t x0, size_t n, int fill, float fillv);

static void mv__rs_affine_lin_ref(float *dst, const float *vol, const int64_t *d, const double *m0, const double *base,
                                  int64_t x0, size_t n, int fill, float fillv)
{
    const size_t sy = (size_t)d[0], sz = (size_t)(d[0] * d[1]);
    size_t i;
    int a;
    for (i = 0; i < n; i++) {
        float t[3], u[3], r0, r1, r2, r3;
        size_t f[3];
        int inside = 1;
        const float *v;
        for (a = 0; a < 3; a++) {
            double c = m0[a] * (double)(x0 + (int64_t)i) + base[a], hi = (double)(d[a] - 1), fl;
            inside &= c >= 0 && c <= hi;
            c = !(c > 0) ? 0 : c > hi ? hi : c; /* +0 for NaN and -0, as a vector max(c, 0) */
            fl = (double)(int64_t)c;
            if (fl >= hi) {
                fl = hi - 1;
                t[a] = 1.0f;
            } else {
                t[a] = (float)(c - fl);
            }
            u[a] = 1.0f - t[a];
            f[a] = (size_t)fl;
        }
        if (fill && !inside) {
            dst[i] = fillv;
            continue;
        }
        v = vol + (f[2] * (size_t)d[1] + f[1]) * sy + f[0];
        r0 = u[0] * v[0] + t[0] * v[1];
        r1 = u[0] * v[sy] + t[0] * v[sy + 1];
        r2 = u[0] * v[sz] + t[0] * v[sz + 1];
        r3 = u[0] * v[sz + sy] + t[0] * v[sz + sy + 1];
        r0 = u[1] * r0 + t[1] * r1;
        r2 = u[1] * r2 + t[1] * r3;
        dst[i] = u[2] * r0 + t[2] * r2;
    }
}

/* ---- element-wise kernels of the intensity and spatial operations ---- */

typedef void (*mv__k_affine_fn)(const float *x, float *y, size_t n, double c, double s, double o);
typedef void (*mv__k_clamp_fn)(const float *x, float *y, size_t n, float lo, float hi);
typedef void (*mv__k_reverse_fn)(const void *src, void *dst, size_t n);
typedef void (*mv__k_copy_fn)(void *dst, const void *src, size_t bytes);

/* A forward copy of a row (no overlap). The vector versions exist because
   the C library's memmove picks a backward loop for some address pairs,
   which reads rows at half the speed. */
static void mv__copy_ref(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }

/* y = (x - c) * s + o evaluated in float64 and rounded once: z-normalize
   (c = mean, s = 1/std), rescale (c = min, s = range ratio, o = lo). x and y
   may be the same array. */
static void mv__affine_f32_ref(const float *x, float *y, size_t n, double c, double s, double o)
{
    size_t i;
    for (i = 0; i < n; i++) y[i] = (float)(((double)x[i] - c) * s + o);
}
/* The same, but voxels equal to 0 keep their value (nonzero-only
   normalisation: background stays background). */
static void mv__affine_nz_f32_ref(const float *x, float *y, size_t n, double c, double s, double o)
{
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v == 0 ? v : (float)(((double)v - c) * s + o);
    }
}
/* The same straight from 8/16-bit integers: v = x * slope + inter in
   float64, then (v - c) * s + o. Used only when v is exact in float32 (see
   mv__scaling_exact_f32), so it gives the bits of converting to float32
   first and then mv__affine_f32: one pass instead of two. nonzero: voxels
   whose v is 0 stay 0. */
typedef void (*mv__k_affine_int_fn)(const void *x, float *y, size_t n, double slope, double inter, double c,
                                    double s, double o, int nonzero);
#define MV__REF_AFFINE_INT(sfx, T)                                                                 \
    static void mv__affine_##sfx##_ref(const void *x, float *y, size_t n, double slope, double inter, \
                                       double c, double s, double o, int nonzero)                 \
    {                                                                                              \
        const T *p = (const T *)x;                                                                 \
        size_t i;                                                                                  \
        for (i = 0; i < n; i++) {                                                                  \
            double v = (double)p[i] * slope + inter;                                               \
            y[i] = nonzero && v == 0 ? (float)v : (float)((v - c) * s + o);                        \
        }                                                                                          \
    }
MV__REF_AFFINE_INT(u8, uint8_t)
MV__REF_AFFINE_INT(i16, int16_t)
MV__REF_AFFINE_INT(u16, uint16_t)
#undef MV__REF_AFFINE_INT

/* Clamp to [lo, hi]; NaN stays NaN (as numpy.clip). The comparisons are the
   ones x86 max/min make, so every ISA gives these bits (-0 included). */
static void mv__clamp_f32_ref(const float *x, float *y, size_t n, float lo, float hi)
{
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        v = lo > v ? lo : v;
        v = hi < v ? hi : v;
        y[i] = v;
    }
}
/* dst[i] = src[n - 1 - i] for elements of 1, 2, 4, 8 bytes (a row flip) */
#define MV__REVERSE_REF(bytes, T)                                                            \
    static void mv__reverse##bytes##_ref(const void *src, void *dst, size_t n)               \
    {                                                                                        \
        const T *s = (const T *)src;                                                         \
        T *d = (T *)dst;                                                                     \
        size_t i;                                                                            \
        for (i = 0; i < n; i++) d[i] = s[n - 1 - i];                                         \
    }
MV__REVERSE_REF(1, uint8_t)
MV__REVERSE_REF(2, uint16_t)
MV__REVERSE_REF(4, uint32_t)
MV__REVERSE_REF(8, uint64_t)
#undef MV__REVERSE_REF

/* >>impl-fft-types =========================================================
   The FFT engine lives in three places: these types and the scalar reference
   kernels (before >>impl-kernels, which stamps >>pass-fft per ISA), the ISA-
   templated kernels (>>pass-fft), and the planner, executor, plan cache,
   FFTW backend and API bodies (>>impl-fft).

   How it works (details beside the code):
   - 1-D: Stockham autosort passes (radix 2/3/4/5/7/8 codelets, a generic
     pass for other odd primes <= 61), decimation in frequency, ping-pong
     between two buffers, twiddles in float from double-precision sincos.
     Lengths with a large prime factor (cost model; any factor > 64) use
     Bluestein with a 2,3,5-smooth convolution length.
   - Vectors run ACROSS independent lines, never along one: a vector holds
     one complex number of each of 2 (SSE2, NEON), 4 (AVX2) or 8 (AVX-512)
     lines, so every codelet is the same code on every lane, and a line's
     bytes do not depend on its neighbours, the thread split or the ISA's
     grouping. Strided axes: adjacent columns are one vector load (bundles of
     64 columns = 512-byte row pieces across the whole array, 32 inside a
     slab). The contiguous axis: 8x8 (4x4, 2x2) complex transposes gather
     rows into vectors and scatter them back.
   - Multi-D: the low axes whose block fits in 1 MiB (the "slab", e.g. a
     256x256 plane) are done together per slab while it sits in L2; each
     remaining axis is one pass over the array. Out-of-place c2c reads `in`
     once and then works in `out`. Threads: slabs, or bundles of columns, go
     to mv__parallel_for; the split never changes what a line computes.
   - Real transforms: two real lines ride as the real and imaginary parts of
     one complex line (pairs of adjacent columns, or of rows), then are
     separated by the Hermitian split (r2c) or merged before (c2r).
   - The norm is one multiply folded into the last stage of the first axis. */

#define MV__FFT_MAX_STAGES 64  /* radices 8/4 and odd primes: < 64 stages for any n < 2^63 */
#define MV__FFT_MAX_LANES 8    /* complex lanes of the widest vector (AVX-512) */
/* Complex columns per bundle along a strided axis. Across a whole array the
   rows of a bundle lie far apart (512 KiB at 256^3) and map to the same few
   cache sets: 512-byte row pieces keep DRAM pages and prefetchers busy
   (measured 256^3 axis 2: 16 columns 63 ms, 32: 40 ms, 64: 32 ms, 128: 30 ms).
   Inside a slab (in L2 already) shorter rows keep the buffers in L1. */
#define MV__FFT_COLS_WIDE 64
#define MV__FFT_COLS_SLAB 32
#define MV__FFT_COLS_BLUE 8 /* Bluestein lines: their buffers are 4x longer */
#define MV__FFT_COLS_MAX MV__FFT_COLS_WIDE
#define MV__FFT_GENERIC_MAX 64 /* odd radices up to this go through the generic pass */
#define MV__FFT_SLAB_BYTES ((size_t)1 << 20) /* low axes done together while a slab fits in L2 */

enum { MV__FFT_C2C = 0, MV__FFT_R2C = 1, MV__FFT_C2R = 2 };

/* Loops over the lanes of a vector have a constant count; unrolled, their
   arrays of vectors live in registers (GCC -O2 would keep them in memory). */
#if defined(__clang__)
#define MV__FFT_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define MV__FFT_UNROLL _Pragma("GCC unroll 16")
#else
#define MV__FFT_UNROLL
#endif

/* How a butterfly finishes: plain, times its twiddles, or times the scale
   (the last stage of the one axis that carries the norm). */
enum { MV__FFT_PLAIN = 0, MV__FFT_TWIDDLE = 1, MV__FFT_SCALE = 2 };

/* One Stockham stage of a length-n transform (n = L * p * m1). Before it,
   the data are L interleaved sub-transforms of length p*m1; butterfly (j1, s)
   takes elements (j1 + m1*j)*L + s, j < p, does a length-p DFT, turns output
   k by w^(j1*k) (w = exp(sign 2 pi i / (p*m1))) and stores it at element
   (j1*p + k)*L + s. After the last stage the output is in natural order. */
typedef struct mv__fft_stage {
    int p;
    ptrdiff_t m1, L;
    const float *tw;    /* (re, im) of w^(j1*k), k = 1..p-1, row j1 = 0..m1-1 */
    const float *roots; /* (cos, sin)(2 pi q / p), q < p: for radices without a codelet */
} mv__fft_stage;

/* A 1-D transform of length n in one direction: stages, or Bluestein. */
typedef struct mv__fft_line {
    ptrdiff_t n;
    int sign; /* -1 forward, +1 inverse */
    int n_stages;
    mv__fft_stage st[MV__FFT_MAX_STAGES];
    ptrdiff_t bm;                    /* Bluestein convolution length, 0 = direct */
    const float *chirp;              /* exp(sign i pi j^2 / n), j < n */
    const float *bk;                 /* FFT(conj chirp, wrapped) / bm */
    const struct mv__fft_line *sub;  /* forward plan of length bm */
} mv__fft_line;

/* What a radix pass works on: a bundle of w vectors (or w complex numbers
   in the reference) per element; element strides in floats. */
typedef struct mv__fft_pass_args {
    const mv__fft_stage *st;
    const float *in;
    ptrdiff_t is;
    float *out;
    ptrdiff_t os;
    int w, sign;
    float scale;
} mv__fft_pass_args;

/* One axis operation as a worker sees it: the line, element strides along
   the axis in floats, the scale it applies, and the worker's buffers. */
typedef struct mv__fft_axctx {
    const mv__fft_line *line;
    ptrdiff_t in_es, out_es;
    float scale;
    float *g0, *g1; /* (n + 2) vectors or bundles each (mv__fft_worker_floats) */
    float *work;    /* stage ping-pong or Bluestein buffers */
} mv__fft_axctx;

/* Up to one vector's worth of lines with arbitrary starts (float offsets);
   for r2c/c2r the lines are real and pairs (2l, 2l+1) share lane l. rows:
   full group of consecutive contiguous rows, transposed with vector code. */
typedef struct mv__fft_group {
    int count, rows;
    ptrdiff_t in_off[2 * MV__FFT_MAX_LANES], out_off[2 * MV__FFT_MAX_LANES];
} mv__fft_group;

typedef void (*mv__fft_cols_fn)(const mv__fft_axctx *ax, const float *in, float *out, int w);
typedef void (*mv__fft_group_fn)(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g);

/* The kernels of one ISA, indexed by MV__FFT_C2C / R2C / C2R. */
typedef struct mv__fft_ops {
    int lanes; /* complex lanes per vector (1 for the reference) */
    mv__fft_cols_fn cols[3];
    mv__fft_group_fn group[3];
} mv__fft_ops;

/* >>impl-fft-ref: scalar reference ========================================
   Plain C99, no FMA, one complex number per lane: the oracle for the vector
   kernels and the whole MEDVOL_NO_SIMD build. Same stages, same plans. */

typedef struct mv__cf {
    float re, im;
} mv__cf;

MV__INLINE mv__cf mv__cf_make(float re, float im)
{
    mv__cf z;
    z.re = re;
    z.im = im;
    return z;
}
MV__INLINE mv__cf mv__cf_ld(const float *p) { return mv__cf_make(p[0], p[1]); }
MV__INLINE void mv__cf_st(float *p, mv__cf z)
{
    p[0] = z.re;
    p[1] = z.im;
}
MV__INLINE mv__cf mv__cf_add(mv__cf a, mv__cf b) { return mv__cf_make(a.re + b.re, a.im + b.im); }
MV__INLINE mv__cf mv__cf_sub(mv__cf a, mv__cf b) { return mv__cf_make(a.re - b.re, a.im - b.im); }
MV__INLINE mv__cf mv__cf_scale(mv__cf a, float s) { return mv__cf_make(a.re * s, a.im * s); }
MV__INLINE mv__cf mv__cf_mul(mv__cf a, mv__cf b)
{
    return mv__cf_make(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
MV__INLINE mv__cf mv__cf_conj(mv__cf a) { return mv__cf_make(a.re, -a.im); }
/* times sign*i: the quarter turn in the transform's direction */
MV__INLINE mv__cf mv__cf_rot(mv__cf a, int sign) { return sign < 0 ? mv__cf_make(a.im, -a.re) : mv__cf_make(-a.im, a.re); }

/* Length-p DFT of x into y (p <= 8 by hand, else from the roots table). */
static void mv__fft_dft_ref(const mv__cf *x, mv__cf *y, int p, int sign, const float *roots)
{
    int j, k;
    switch (p) {
    case 2:
        y[0] = mv__cf_add(x[0], x[1]);
        y[1] = mv__cf_sub(x[0], x[1]);
        return;
    case 4: {
        mv__cf e0 = mv__cf_add(x[0], x[2]), e1 = mv__cf_sub(x[0], x[2]);
        mv__cf f0 = mv__cf_add(x[1], x[3]), f1 = mv__cf_rot(mv__cf_sub(x[1], x[3]), sign);
        y[0] = mv__cf_add(e0, f0);
        y[1] = mv__cf_add(e1, f1);
        y[2] = mv__cf_sub(e0, f0);
        y[3] = mv__cf_sub(e1, f1);
        return;
    }
    case 8: { /* two radix-4s after a radix-2 step, the odd half turned by w8^j */
        const float h = 0.70710678118654752440f;
        mv__cf u[4], v[4], a[4], b[4];
        for (j = 0; j < 4; j++) {
            u[j] = mv__cf_add(x[j], x[j + 4]);
            v[j] = mv__cf_sub(x[j], x[j + 4]);
        }
        v[1] = mv__cf_scale(mv__cf_add(v[1], mv__cf_rot(v[1], sign)), h);
        v[2] = mv__cf_rot(v[2], sign);
        v[3] = mv__cf_scale(mv__cf_sub(mv__cf_rot(v[3], sign), v[3]), h);
        mv__fft_dft_ref(u, a, 4, sign, roots);
        mv__fft_dft_ref(v, b, 4, sign, roots);
        for (k = 0; k < 4; k++) {
            y[2 * k] = a[k];
            y[2 * k + 1] = b[k];
        }
        return;
    }
    default: /* y_k = sum_j x_j exp(sign 2 pi i jk / p) */
        for (k = 0; k < p; k++) {
            mv__cf acc = x[0];
            int q = 0;
            for (j = 1; j < p; j++) {
                q += k;
                if (q >= p) q -= p;
                acc = mv__cf_add(acc, mv__cf_mul(x[j], mv__cf_make(roots[2 * q], (float)sign * roots[2 * q + 1])));
            }
            y[k] = acc;
        }
        return;
    }
}

/* One stage over a bundle of w complex numbers per element. */
static void mv__fft_pass_ref(const mv__fft_pass_args *pa)
{
    const mv__fft_stage *st = pa->st;
    const int p = st->p;
    const ptrdiff_t L = st->L, dj = st->m1 * L * pa->is, dk = L * pa->os;
    mv__cf x[MV__FFT_GENERIC_MAX], y[MV__FFT_GENERIC_MAX];
    ptrdiff_t j1, s;
    int c, k;
    for (j1 = 0; j1 < st->m1; j1++) {
        const float *tw = st->tw + (size_t)2 * (size_t)(p - 1) * (size_t)j1;
        for (s = 0; s < L; s++)
            for (c = 0; c < pa->w; c++) {
                const float *a = pa->in + (j1 * L + s) * pa->is + 2 * c;
                float *b = pa->out + (j1 * p * L + s) * pa->os + 2 * c;
                for (k = 0; k < p; k++) x[k] = mv__cf_ld(a + k * dj);
                mv__fft_dft_ref(x, y, p, pa->sign, st->roots);
                for (k = 0; k < p; k++) {
                    mv__cf z = y[k];
                    if (j1 > 0 && k > 0) z = mv__cf_mul(z, mv__cf_ld(tw + 2 * (k - 1)));
                    else if (j1 == 0 && pa->scale != 1.0f) z = mv__cf_scale(z, pa->scale);
                    mv__cf_st(b + k * dk, z);
                }
            }
    }
}

/* src -> dst through the stages, ping-pong in t0/t1 (n*w complex each). */
static void mv__fft_stockham_ref(const mv__fft_line *ln, const float *src, ptrdiff_t is, float *dst, ptrdiff_t os, int w,
                                 float scale, float *t0, float *t1)
{
    mv__fft_pass_args pa;
    int i, c, S = ln->n_stages;
    if (S == 0) {
        for (c = 0; c < w; c++) mv__cf_st(dst + 2 * c, mv__cf_scale(mv__cf_ld(src + 2 * c), scale));
        return;
    }
    pa.w = w;
    pa.sign = ln->sign;
    for (i = 0; i < S; i++) {
        pa.st = &ln->st[i];
        pa.in = i == 0 ? src : (i & 1) ? t0 : t1;
        pa.is = i == 0 ? is : 2 * (ptrdiff_t)w;
        pa.out = i == S - 1 ? dst : (i & 1) ? t1 : t0;
        pa.os = i == S - 1 ? os : 2 * (ptrdiff_t)w;
        pa.scale = i == S - 1 ? scale : 1.0f;
        mv__fft_pass_ref(&pa);
    }
}

/* Bluestein, as the vector version (see mv__fft_bluestein in >>pass-fft). */
static void mv__fft_bluestein_ref(const mv__fft_line *ln, const float *src, ptrdiff_t is, float *dst, ptrdiff_t os, int w,
                                  float scale, float *work)
{
    const ptrdiff_t n = ln->n, m = ln->bm, cv = 2 * (ptrdiff_t)w;
    float *A = work, *B = A + m * cv, *T0 = B + m * cv, *T1 = T0 + m * cv;
    ptrdiff_t j;
    int c;
    for (j = 0; j < n; j++)
        for (c = 0; c < w; c++)
            mv__cf_st(A + j * cv + 2 * c, mv__cf_mul(mv__cf_ld(src + j * is + 2 * c), mv__cf_ld(ln->chirp + 2 * j)));
    for (j = n * cv; j < m * cv; j++) A[j] = 0.0f;
    mv__fft_stockham_ref(ln->sub, A, cv, B, cv, w, 1.0f, T0, T1);
    for (j = 0; j < m; j++)
        for (c = 0; c < w; c++)
            mv__cf_st(B + j * cv + 2 * c, mv__cf_conj(mv__cf_mul(mv__cf_ld(B + j * cv + 2 * c), mv__cf_ld(ln->bk + 2 * j))));
    mv__fft_stockham_ref(ln->sub, B, cv, A, cv, w, 1.0f, T0, T1);
    for (j = 0; j < n; j++) {
        mv__cf cs = mv__cf_scale(mv__cf_ld(ln->chirp + 2 * j), scale);
        for (c = 0; c < w; c++) mv__cf_st(dst + j * os + 2 * c, mv__cf_mul(mv__cf_conj(mv__cf_ld(A + j * cv + 2 * c)), cs));
    }
}

static void mv__fft_line_run_ref(const mv__fft_line *ln, const float *src, ptrdiff_t is, float *dst, ptrdiff_t os, int w,
                                 float scale, float *work)
{
    if (ln->bm) mv__fft_bluestein_ref(ln, src, is, dst, os, w, scale, work);
    else mv__fft_stockham_ref(ln, src, is, dst, os, w, scale, work, work + 2 * ln->n * w);
}

/* two real lines x, y rode as z = x + i y: X_k = (Z_k + conj Z_n-k)/2,
   Y_k = (Z_k - conj Z_n-k)/(2i), both times scale */
static void mv__fft_split_ref(mv__cf zk, mv__cf znk, float half_scale, mv__cf *x, mv__cf *y)
{
    mv__cf b = mv__cf_conj(znk), d = mv__cf_sub(zk, b);
    *x = mv__cf_scale(mv__cf_add(zk, b), half_scale);
    *y = mv__cf_scale(mv__cf_make(d.im, -d.re), half_scale);
}
/* the inverse: Z_k = X_k + i Y_k, Z_n-k = conj X_k + i conj Y_k; DC and
   Nyquist keep only their real parts (numpy's irfft) */
static void mv__fft_merge_ref(mv__cf x, mv__cf y, int edge, mv__cf *zk, mv__cf *znk)
{
    if (edge) x.im = y.im = 0.0f;
    *zk = mv__cf_make(x.re - y.im, x.im + y.re);
    *znk = mv__cf_make(x.re + y.im, y.re - x.im);
}

static void mv__fft_c2c_cols_ref(const mv__fft_axctx *ax, const float *in, float *out, int w)
{
    mv__fft_line_run_ref(ax->line, in, ax->in_es, out, ax->out_es, w, ax->scale, ax->work);
}
/* one lane: the line is transformed where it lies, strided */
static void mv__fft_c2c_group_ref(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g)
{
    mv__fft_line_run_ref(ax->line, in + g->in_off[0], ax->in_es, out + g->out_off[0], ax->out_es, 1, ax->scale, ax->work);
}
static void mv__fft_r2c_cols_ref(const mv__fft_axctx *ax, const float *in, float *out, int w)
{
    const ptrdiff_t n = ax->line->n, cv = 2 * (ptrdiff_t)w;
    float *Z = ax->g0;
    ptrdiff_t k;
    int c;
    mv__fft_line_run_ref(ax->line, in, ax->in_es, Z, cv, w, 1.0f, ax->work);
    for (k = 0; k <= n / 2; k++)
        for (c = 0; c < w; c++) {
            mv__cf x, y;
            mv__fft_split_ref(mv__cf_ld(Z + k * cv + 2 * c), mv__cf_ld(Z + ((n - k) % n) * cv + 2 * c), 0.5f * ax->scale, &x, &y);
            mv__cf_st(out + k * ax->out_es + 4 * c, x);
            mv__cf_st(out + k * ax->out_es + 4 * c + 2, y);
        }
}
static void mv__fft_r2c_group_ref(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g)
{
    const ptrdiff_t n = ax->line->n;
    float *Z = ax->g0;
    ptrdiff_t j, k;
    for (j = 0; j < n; j++) {
        Z[2 * j] = in[g->in_off[0] + j * ax->in_es];
        Z[2 * j + 1] = g->count > 1 ? in[g->in_off[1] + j * ax->in_es] : 0.0f;
    }
    mv__fft_line_run_ref(ax->line, Z, 2, Z, 2, 1, 1.0f, ax->work);
    for (k = 0; k <= n / 2; k++) {
        mv__cf x, y;
        mv__fft_split_ref(mv__cf_ld(Z + 2 * k), mv__cf_ld(Z + 2 * ((n - k) % n)), 0.5f * ax->scale, &x, &y);
        mv__cf_st(out + g->out_off[0] + k * ax->out_es, x);
        if (g->count > 1) mv__cf_st(out + g->out_off[1] + k * ax->out_es, y);
    }
}
static void mv__fft_c2r_cols_ref(const mv__fft_axctx *ax, const float *in, float *out, int w)
{
    const ptrdiff_t n = ax->line->n, cv = 2 * (ptrdiff_t)w;
    float *Z = ax->g0;
    ptrdiff_t k;
    int c;
    for (k = 0; k <= n / 2; k++) {
        int edge = k == 0 || 2 * k == n;
        for (c = 0; c < w; c++) {
            mv__cf zk, znk;
            const float *s = in + k * ax->in_es + 4 * c;
            mv__fft_merge_ref(mv__cf_ld(s), mv__cf_ld(s + 2), edge, &zk, &znk);
            mv__cf_st(Z + k * cv + 2 * c, zk);
            if (k > 0 && !edge) mv__cf_st(Z + (n - k) * cv + 2 * c, znk);
        }
    }
    mv__fft_line_run_ref(ax->line, Z, cv, out, ax->out_es, w, ax->scale, ax->work);
}
static void mv__fft_c2r_group_ref(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g)
{
    const ptrdiff_t n = ax->line->n;
    float *Z = ax->g0;
    ptrdiff_t j, k;
    for (k = 0; k <= n / 2; k++) {
        int edge = k == 0 || 2 * k == n;
        mv__cf zk, znk, y = mv__cf_make(0.0f, 0.0f);
        if (g->count > 1) y = mv__cf_ld(in + g->in_off[1] + k * ax->in_es);
        mv__fft_merge_ref(mv__cf_ld(in + g->in_off[0] + k * ax->in_es), y, edge, &zk, &znk);
        mv__cf_st(Z + 2 * k, zk);
        if (k > 0 && !edge) mv__cf_st(Z + 2 * (n - k), znk);
    }
    mv__fft_line_run_ref(ax->line, Z, 2, Z, 2, 1, ax->scale, ax->work);
    for (j = 0; j < n; j++) {
        out[g->out_off[0] + j * ax->out_es] = Z[2 * j];
        if (g->count > 1) out[g->out_off[1] + j * ax->out_es] = Z[2 * j + 1];
    }
}

static const mv__fft_ops mv__fft_ops_ref = {
    1,
    {mv__fft_c2c_cols_ref, mv__fft_r2c_cols_ref, mv__fft_c2r_cols_ref},
    {mv__fft_c2c_group_ref, mv__fft_r2c_group_ref, mv__fft_c2r_group_ref}};

/* >>impl-mri-types ========================================================= */

/* Voxels per block of the coil kernels: the block's accumulators (3 x 1 KiB
   for the combination) stay in L1 while every coil streams through. */
#define MV__MRI_BLOCK 256

typedef void (*mv__mri_rss_fn)(const float *x, int64_t cstride, int nc, float *out, int64_t n);
typedef void (*mv__mri_combine_fn)(const float *x, int64_t xstride, const float *s, int64_t sstride, int nc,
                                   float *out, int64_t n);
typedef void (*mv__mri_cpart_fn)(const float *x, float *out, int64_t n, int part);

typedef struct mv__mri_ops {
    mv__mri_rss_fn rss;
    mv__mri_combine_fn combine;
    mv__mri_cpart_fn cpart;
} mv__mri_ops;

/* Scalar references: the oracle of the ISA tests and the MEDVOL_NO_SIMD
   build. Same blocking and the same operation order as the vector kernels,
   so their bytes agree. */
static void mv__rss_c64_ref(const float *x, int64_t cstride, int nc, float *out, int64_t n)
{
    float acc[MV__MRI_BLOCK];
    int64_t b0, i;
    int c;
    for (b0 = 0; b0 < n; b0 += MV__MRI_BLOCK) {
        int64_t bn = MV__MIN((int64_t)MV__MRI_BLOCK, n - b0);
        for (c = 0; c < nc; c++) {
            const float *xc = x + (size_t)c * (size_t)cstride + 2 * b0;
            for (i = 0; i < bn; i++) {
                float re = xc[2 * i], im = xc[2 * i + 1], s = re * re + im * im;
                acc[i] = c ? acc[i] + s : s;
            }
        }
        for (i = 0; i < bn; i++) out[b0 + i] = nc ? sqrtf(acc[i]) : 0.0f;
    }
}

static void mv__combine_c64_ref(const float *x, int64_t xstride, const float *s, int64_t sstride, int nc, float *out,
                                int64_t n)
{
    float nr[MV__MRI_BLOCK], ni[MV__MRI_BLOCK], den[MV__MRI_BLOCK];
    int64_t b0, i;
    int c;
    for (b0 = 0; b0 < n; b0 += MV__MRI_BLOCK) {
        int64_t bn = MV__MIN((int64_t)MV__MRI_BLOCK, n - b0);
        for (i = 0; i < bn; i++) nr[i] = ni[i] = den[i] = 0.0f;
        for (c = 0; c < nc; c++) {
            const float *xc = x + (size_t)c * (size_t)xstride + 2 * b0;
            const float *sc = s + (size_t)c * (size_t)sstride + 2 * b0;
            for (i = 0; i < bn; i++) {
                float xr = xc[2 * i], xi = xc[2 * i + 1], sr = sc[2 * i], si = sc[2 * i + 1];
                nr[i] += sr * xr + si * xi;
                ni[i] += sr * xi - si * xr;
                den[i] += sr * sr + si * si;
            }
        }
        for (i = 0; i < bn; i++) {
            float d = den[i];
            out[2 * (b0 + i)] = d > 0 ? nr[i] / d : 0.0f;
            out[2 * (b0 + i) + 1] = d > 0 ? ni[i] / d : 0.0f;
        }
    }
}

static void mv__cpart_c64_ref(const float *x, float *out, int64_t n, int part)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        float re = x[2 * i], im = x[2 * i + 1];
        out[i] = part == 0 ? sqrtf(re * re + im * im) : part == 2 ? re : im;
    }
}

static const mv__mri_ops mv__mri_ops_ref = {mv__rss_c64_ref, mv__combine_c64_ref, mv__cpart_c64_ref};

/* >>impl-transport-types ===================================================
   Proton transport kernel table entries and their scalar references
   (>>api-transport; vector versions in >>pass-transport). Two kernels do
   all the arithmetic of the three operators:
   - wsum: out[t] = (..((w0 s0[t] + w1 s1[t]) + w2 s2[t]) ..) + w_{k-1} s_{k-1}[t],
     the weighted sum of k rows in that fixed order (energy-loss gather over
     source bins, scattering over theta, the theta sums of the bookkeeping);
   the bilinear stream is one wsum of four shifted views of the plane (the
   edge cells by mv__tr_stream_el, in the same order). */

typedef void (*mv__tr_wsum_fn)(float *out, const float *const *src, const float *w, int k, int64_t n);
typedef struct mv__transport_ops {
    mv__tr_wsum_fn wsum;
} mv__transport_ops;

static void mv__tr_wsum_ref(float *out, const float *const *src, const float *w, int k, int64_t n)
{
    int64_t t;
    int j;
    for (t = 0; t < n; t++) {
        float acc = 0.0f;
        if (k > 0) acc = w[0] * src[0][t];
        for (j = 1; j < k; j++) acc = acc + w[j] * src[j][t];
        out[t] = acc;
    }
}

/* One output cell (z, x) of a bilinear move of the plane sp (nz x nx) by
   (iz + fz, ix + fx) cells: the sources (z-iz, x-ix), (z-iz, x-ix-1),
   (z-iz-1, x-ix), (z-iz-1, x-ix-1) with weights w[0..3], 0 outside the
   plane, summed in wsum's order, so the cells the flat wsum computes and
   the edge cells computed here agree on every ISA. */
MV__INLINE float mv__tr_stream_el(const float *sp, int64_t nz, int64_t nx, const float *w, int64_t iz, int64_t ix,
                                  int64_t z, int64_t x)
{
    int64_t z0 = z - iz, x0 = x - ix;
    int z0in = z0 >= 0 && z0 < nz, z1in = z0 - 1 >= 0 && z0 - 1 < nz;
    int x0in = x0 >= 0 && x0 < nx, x1in = x0 - 1 >= 0 && x0 - 1 < nx;
    float a0 = z0in && x0in ? sp[z0 * nx + x0] : 0.0f, b0 = z0in && x1in ? sp[z0 * nx + x0 - 1] : 0.0f;
    float a1 = z1in && x0in ? sp[(z0 - 1) * nx + x0] : 0.0f, b1 = z1in && x1in ? sp[(z0 - 1) * nx + x0 - 1] : 0.0f;
    float acc = w[0] * a0;
    acc = acc + w[1] * b0;
    acc = acc + w[2] * a1;
    return acc + w[3] * b1;
}

static const mv__transport_ops mv__transport_ops_ref = {mv__tr_wsum_ref};

/* >>impl-kernels =========================================================== */

typedef struct mv__kernels {
    mv__k_to_f32_fn to_f32[MV_DT_COUNT];    /* unscaled: exact int -> float rounding */
    mv__k_to_f32s_fn to_f32s[MV_DT_COUNT];  /* float64(x) * slope + inter -> float */
    mv__k_from_f32_fn from_f32[MV_DT_COUNT];
    mv__k_bswap_fn bswap[17];               /* by unit size 2, 4, 8, 16 */
    mv__k_stats_fn stats[MV_DT_COUNT];
    mv__k_crc32_fn crc32;
    mv__k_inflate_fn inflate_fast;
    mv__k_combine_fn combine_litlen; /* on built literal/length and distance tables */
    mv__k_rs_blend_fn rs_blend;             /* resampling */
    mv__k_rs_xinterp_fn rs_xinterp;
    mv__k_rs_bspline_fn rs_bspline;
    mv__k_rs_rows_in_fn rs_rows_in;
    mv__k_rs_rows_out_fn rs_rows_out;
    mv__k_rs_affine_lin_fn rs_affine_lin;
    mv__k_rs_affine_cub_fn rs_affine_cub;
    mv__k_affine_fn affine_f32, affine_nz_f32;
    mv__k_clamp_fn clamp_f32;
    mv__k_reverse_fn reverse[9];            /* by element size 1, 2, 4, 8 */
    mv__k_copy_fn copy;
    mv__k_stats_nz_fn stats_nz_f32;
    mv__k_affine_int_fn affine_int[MV_DT_COUNT]; /* u8, i16, u16 */
    const mv__fft_ops *fft;                 /* FFT codelets and line drivers (>>pass-fft) */
    const mv__mri_ops *mri;                 /* RSS, coil combination, complex parts (>>pass-mri) */
    const mv__transport_ops *transport;     /* proton transport rows (>>pass-transport) */
} mv__kernels;

static void mv__kt_fill_ref(mv__kernels *kt)
{
    memset(kt, 0, sizeof(*kt));
#define MV__SET_TO(sfx, DT)                 \
    kt->to_f32[DT] = mv__to_f32_##sfx##_ref; \
    kt->to_f32s[DT] = mv__to_f32s_##sfx##_ref;
    MV__SET_TO(u8, MV_DT_U8) MV__SET_TO(i8, MV_DT_I8) MV__SET_TO(u16, MV_DT_U16)
    MV__SET_TO(i16, MV_DT_I16) MV__SET_TO(u32, MV_DT_U32) MV__SET_TO(i32, MV_DT_I32)
    MV__SET_TO(f32, MV_DT_F32) MV__SET_TO(f64, MV_DT_F64)
#undef MV__SET_TO
    kt->from_f32[MV_DT_U8] = mv__from_f32_u8_ref;
    kt->from_f32[MV_DT_I8] = mv__from_f32_i8_ref;
    kt->from_f32[MV_DT_U16] = mv__from_f32_u16_ref;
    kt->from_f32[MV_DT_I16] = mv__from_f32_i16_ref;
    kt->from_f32[MV_DT_I32] = mv__from_f32_i32_ref;
    kt->from_f32[MV_DT_F64] = mv__from_f32_f64_ref;
    kt->bswap[2] = mv__bswap2_ref;
    kt->bswap[4] = mv__bswap4_ref;
    kt->bswap[8] = mv__bswap8_ref;
    kt->bswap[16] = mv__bswap16_ref;
    kt->stats[MV_DT_U8] = mv__stats_u8_ref;
    kt->stats[MV_DT_I8] = mv__stats_i8_ref;
    kt->stats[MV_DT_U16] = mv__stats_u16_ref;
    kt->stats[MV_DT_I16] = mv__stats_i16_ref;
    kt->stats[MV_DT_U32] = mv__stats_u32_ref;
    kt->stats[MV_DT_I32] = mv__stats_i32_ref;
    kt->stats[MV_DT_F32] = mv__stats_f32_ref;
    kt->stats[MV_DT_F64] = mv__stats_f64_ref;
    kt->crc32 = mv__crc32_ref;
    kt->inflate_fast = mv__inflate_fast_ref;
    kt->combine_litlen = mv__combine_litlen_ref;
    kt->rs_blend = mv__rs_blend_ref;
    kt->rs_xinterp = mv__rs_xinterp_ref;
    kt->rs_bspline = mv__rs_bspline_ref;
    kt->rs_rows_in = mv__rs_rows_in_ref;
    kt->rs_rows_out = mv__rs_rows_out_ref;
    kt->rs_affine_lin = mv__rs_affine_lin_ref;
    kt->rs_affine_cub = mv__rs_affine_cub_ref;
    kt->affine_f32 = mv__affine_f32_ref;
    kt->affine_nz_f32 = mv__affine_nz_f32_ref;
    kt->clamp_f32 = mv__clamp_f32_ref;
    kt->reverse[1] = mv__reverse1_ref;
    kt->reverse[2] = mv__reverse2_ref;
    kt->reverse[4] = mv__reverse4_ref;
    kt->reverse[8] = mv__reverse8_ref;
    kt->copy = mv__copy_ref;
    kt->stats_nz_f32 = mv__stats_nz_f32_ref;
    kt->affine_int[MV_DT_U8] = mv__affine_u8_ref;
    kt->affine_int[MV_DT_I16] = mv__affine_i16_ref;
    kt->affine_int[MV_DT_U16] = mv__affine_u16_ref;
    kt->fft = &mv__fft_ops_ref;
    kt->mri = &mv__mri_ops_ref;
    kt->transport = &mv__transport_ops_ref;
}

/* What this CPU runs (mv__kt_init_once); the passes' fills read the
   features beyond their level (VPCLMULQDQ). */
static mv__cpu mv__cpu_info;

/* One pass of the >>pass section per compiled ISA: each defines
   mv__kt_fill_<isa>, which overrides the table entries it implements. */
#if defined(MV__BUILD_SSE2)
#define MV__KERNEL_PASS 1
#define MV__PASS_SSE2 1
#include MEDVOL_HEADER_FILENAME
#undef MV__PASS_SSE2
#undef MV__KERNEL_PASS
#endif
#if defined(MV__BUILD_AVX2)
#define MV__KERNEL_PASS 1
#define MV__PASS_AVX2 1
#include MEDVOL_HEADER_FILENAME
#undef MV__PASS_AVX2
#undef MV__KERNEL_PASS
#endif
#if defined(MV__BUILD_AVX512)
#define MV__KERNEL_PASS 1
#define MV__PASS_AVX512 1
#include MEDVOL_HEADER_FILENAME
#undef MV__PASS_AVX512
#undef MV__KERNEL_PASS
#endif
#if defined(MV__BUILD_NEON)
#define MV__KERNEL_PASS 1
#define MV__PASS_NEON 1
#include MEDVOL_HEADER_FILENAME
#undef MV__PASS_NEON
#undef MV__KERNEL_PASS
#endif

/* The active table. Filled once (pthread_once), refilled by mv_set_isa. */
static mv__kernels mv__kt;
static mv_isa mv__active_isa = MV_ISA_REF;

static void mv__kt_build(mv_isa isa)
{
    mv__kt_fill_ref(&mv__kt);
#if defined(MV__BUILD_SSE2)
    if (isa >= MV_ISA_SSE2 && isa != MV_ISA_NEON) mv__kt_fill_sse2(&mv__kt);
#endif
#if defined(MV__BUILD_AVX2)
    if (isa >= MV_ISA_AVX2 && isa != MV_ISA_NEON) mv__kt_fill_avx2(&mv__kt);
#endif
#if defined(MV__BUILD_AVX512)
    if (isa == MV_ISA_AVX512) mv__kt_fill_avx512(&mv__kt);
#endif
#if defined(MV__BUILD_NEON)
    if (isa == MV_ISA_NEON) mv__kt_fill_neon(&mv__kt);
#endif
    mv__active_isa = isa;
}

static void mv__kt_init_once(void)
{
    unsigned avail;
    mv_isa best = MV_ISA_REF;
    int i;
    mv__cpu_info = mv__detect_cpu();
    mv__crc_init();
    avail = mv__cpu_info.runnable & mv__isa_compiled();
    for (i = MV_ISA_COUNT - 1; i > 0; i--) {
        if (!(avail & (1u << i))) continue;
        if (i == MV_ISA_AVX512 && !mv__cpu_info.prefer_512 && (avail & (1u << MV_ISA_AVX2))) continue;
        best = (mv_isa)i;
        break;
    }
    mv__kt_build(best);
}

#if defined(MV__HAVE_THREADS)
static pthread_once_t mv__kt_once = PTHREAD_ONCE_INIT;
MV__INLINE const mv__kernels *mv__kernels_get(void)
{
    pthread_once(&mv__kt_once, mv__kt_init_once);
    return &mv__kt;
}
#else
static int mv__kt_ready;
MV__INLINE const mv__kernels *mv__kernels_get(void)
{
    if (!mv__kt_ready) {
        mv__kt_init_once();
        mv__kt_ready = 1;
    }
    return &mv__kt;
}
#endif

MVDEF unsigned mv_isa_available(void)
{
    mv__kernels_get();
    return mv__cpu_info.runnable & mv__isa_compiled();
}
MVDEF mv_isa mv_isa_active(void)
{
    mv__kernels_get();
    return mv__active_isa;
}
MVDEF mv_status mv_set_isa(mv_isa isa)
{
    if ((unsigned)isa >= MV_ISA_COUNT || !(mv_isa_available() & (1u << isa)))
        return mv__fail(MV_ERR_UNSUPPORTED, "ISA %s is not compiled in or not supported by this CPU",
                        mv_isa_name(isa));
    mv__kt_build(isa);
    return MV_OK;
}

MVDEF const char *mv_build_info(void)
{
    static char info[256];
    char isas[64];
    size_t n = 0;
    int i;
    unsigned compiled = mv__isa_compiled();
    isas[0] = 0;
    for (i = 1; i < MV_ISA_COUNT; i++)
        if (compiled & (1u << i)) {
            mv__format(isas + n, sizeof(isas) - n, "%s%s", n ? "," : "", mv_isa_name((mv_isa)i));
            n = strlen(isas);
        }
    mv__format(info, sizeof(info), "medvol %s; %s; simd: %s%s; active: %s; threads: %d%s%s%s",
               MEDVOL_VERSION_STRING,
#if defined(__clang__)
               "clang " __clang_version__,
#elif defined(__GNUC__)
               "gcc " __VERSION__,
#elif defined(_MSC_VER)
               "msvc",
#else
               "cc",
#endif
               n ? isas : "none",
#if defined(MEDVOL_RUNTIME_DISPATCH)
               " (runtime dispatch)",
#else
               "",
#endif
               mv_isa_name(mv_isa_active()), mv_threads(),
#if defined(MV__HAVE_THREADS)
               " (pthreads)",
#else
               " (MEDVOL_NO_THREADS)",
#endif
#if defined(MV__HAVE_FILES)
               "; files+mmap"
#else
               "; MEDVOL_NO_STDIO"
#endif
               , /* a separate argument: adjacent literals would merge */
#if defined(MEDVOL_USE_FFTW)
               "; fft: fftw3f"
#else
               "; fft: medvol"
#endif
    );
    return info;
}

/* >>impl-dtype (conversion) =============================================== */

/* An integer of any stored width: value = neg ? -mag : mag. */
typedef struct mv__int {
    int neg;
    uint64_t mag;
} mv__int;

static mv__int mv__get_int(mv_dtype dt, const unsigned char *p)
{
    mv__int r;
    int64_t s = 0;
    r.neg = 0;
    r.mag = 0;
    switch (dt) {
    case MV_DT_U8: r.mag = *p; return r;
    case MV_DT_U16: { uint16_t v; memcpy(&v, p, 2); r.mag = v; return r; }
    case MV_DT_U32: { uint32_t v; memcpy(&v, p, 4); r.mag = v; return r; }
    case MV_DT_U64: memcpy(&r.mag, p, 8); return r;
    case MV_DT_I8: s = (int8_t)*p; break;
    case MV_DT_I16: { int16_t v; memcpy(&v, p, 2); s = v; break; }
    case MV_DT_I32: { int32_t v; memcpy(&v, p, 4); s = v; break; }
    case MV_DT_I64: memcpy(&s, p, 8); break;
    default: return r;
    }
    r.neg = s < 0;
    r.mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return r;
}

/* Saturating store of an integer into an integer dtype. */
static void mv__put_int(mv_dtype dt, unsigned char *p, mv__int v)
{
    uint64_t maxpos; /* largest value of dt */
    uint64_t maxneg; /* magnitude of its smallest value */
    uint64_t u;
    switch (dt) {
    case MV_DT_U8: maxpos = 0xff; maxneg = 0; break;
    case MV_DT_U16: maxpos = 0xffff; maxneg = 0; break;
    case MV_DT_U32: maxpos = 0xffffffffu; maxneg = 0; break;
    case MV_DT_U64: maxpos = UINT64_MAX; maxneg = 0; break;
    case MV_DT_I8: maxpos = 0x7f; maxneg = 0x80; break;
    case MV_DT_I16: maxpos = 0x7fff; maxneg = 0x8000; break;
    case MV_DT_I32: maxpos = 0x7fffffffu; maxneg = 0x80000000u; break;
    case MV_DT_I64: maxpos = (uint64_t)INT64_MAX; maxneg = (uint64_t)INT64_MAX + 1; break;
    default: return;
    }
    if (v.neg) {
        uint64_t m = v.mag > maxneg ? maxneg : v.mag;
        u = (uint64_t)0 - m; /* two's complement of the magnitude */
    } else {
        u = v.mag > maxpos ? maxpos : v.mag;
    }
    switch (mv__dt[dt].size) {
    case 1: { uint8_t b = (uint8_t)u; memcpy(p, &b, 1); break; }
    case 2: { uint16_t b = (uint16_t)u; memcpy(p, &b, 2); break; }
    case 4: { uint32_t b = (uint32_t)u; memcpy(p, &b, 4); break; }
    default: memcpy(p, &u, 8); break;
    }
}

/* Any real dtype -> double (float128 rounds once; int64 above 2^53 rounds). */
static double mv__get_f64(mv_dtype dt, const unsigned char *p)
{
    switch (dt) {
    case MV_DT_F32: { float v; memcpy(&v, p, 4); return v; }
    case MV_DT_F64: { double v; memcpy(&v, p, 8); return v; }
    case MV_DT_F16: { uint16_t v; memcpy(&v, p, 2); return mv__f16_to_f64(v); }
    case MV_DT_BF16: { uint16_t v; memcpy(&v, p, 2); return mv__bf16_to_f64(v); }
    case MV_DT_F128: return mv__f128_to_f64(p);
    default: {
        mv__int v = mv__get_int(dt, p);
        double m = (double)v.mag;
        return v.neg ? -m : m;
    }
    }
}

/* double -> integer dtype: NaN -> 0, round, saturate. */
static void mv__put_int_from_f64(mv_dtype dt, unsigned char *p, double x, mv_round rounding)
{
    mv__int v;
    if (x != x) x = 0;
    x = rounding == MV_ROUND_TRUNCATE ? trunc(x) : nearbyint(x);
    v.neg = x < 0;
    x = v.neg ? -x : x;
    /* 2^64 is the first double past UINT64_MAX; mv__put_int saturates the rest */
    v.mag = x >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)x;
    mv__put_int(dt, p, v);
}

/* Integer -> float128 exactly (no detour through double). */
static void mv__int_to_f128(mv__int v, unsigned char *p)
{
    uint64_t hi = 0, lo = 0, m = v.mag;
    if (m) {
        int top = 63;
        while (!(m >> top)) top--;
        /* significand bits below the leading one go to the top of the 112-bit field */
        if (top > 48) {
            hi = (m >> (top - 48)) & (((uint64_t)1 << 48) - 1);
            lo = m << (64 - (top - 48));
        } else {
            hi = (m << (48 - top)) & (((uint64_t)1 << 48) - 1);
        }
        hi |= (uint64_t)(16383 + top) << 48;
        hi |= (uint64_t)v.neg << 63;
    }
    if (mv__host_is_big_endian()) {
        memcpy(p, &hi, 8);
        memcpy(p + 8, &lo, 8);
    } else {
        memcpy(p, &lo, 8);
        memcpy(p + 8, &hi, 8);
    }
}

/* double -> any real dtype. */
static void mv__put_f64(mv_dtype dt, unsigned char *p, double x, mv_round rounding)
{
    switch (dt) {
    case MV_DT_F32: { float v = (float)x; memcpy(p, &v, 4); return; }
    case MV_DT_F64: memcpy(p, &x, 8); return;
    case MV_DT_F16: { uint16_t v = mv__f64_to_f16(x); memcpy(p, &v, 2); return; }
    case MV_DT_BF16: { uint16_t v = mv__f64_to_bf16(x); memcpy(p, &v, 2); return; }
    case MV_DT_F128: mv__f64_to_f128(x, p); return;
    default: mv__put_int_from_f64(dt, p, x, rounding); return;
    }
}

/* Integer -> float dtype, rounding once from the exact integer. */
static void mv__put_float_from_int(mv_dtype dt, unsigned char *p, mv__int v)
{
    switch (dt) {
    case MV_DT_F32: { float f = (float)v.mag; f = v.neg ? -f : f; memcpy(p, &f, 4); return; }
    case MV_DT_F128: mv__int_to_f128(v, p); return;
    default: { double d = (double)v.mag; mv__put_f64(dt, p, v.neg ? -d : d, MV_ROUND_NEAREST); return; }
    }
}

/* The scalar path for every pair of real dtypes: the definition the fast
   kernels must agree with. */
static void mv__convert_real_ref(const unsigned char *src, mv_dtype sdt, size_t sstride,
                                 unsigned char *dst, mv_dtype ddt, size_t dstride, size_t n,
                                 int scaled, double slope, double inter, mv_round rounding)
{
    int s_int = mv_dtype_is_integer(sdt), d_int = mv_dtype_is_integer(ddt);
    size_t i;
    for (i = 0; i < n; i++, src += sstride, dst += dstride) {
        if (!scaled && s_int) {
            mv__int v = mv__get_int(sdt, src);
            if (d_int) mv__put_int(ddt, dst, v);
            else mv__put_float_from_int(ddt, dst, v);
        } else {
            double x = mv__get_f64(sdt, src);
            if (scaled) x = x * slope + inter;
            mv__put_f64(ddt, dst, x, rounding);
        }
    }
}

/* Real -> real for a contiguous run, through the fast kernels where one
   exists for the pair. */
static void mv__convert_real_run(const void *src, mv_dtype sdt, void *dst, mv_dtype ddt, size_t n,
                                 int scaled, double slope, double inter, mv_round rounding)
{
    const mv__kernels *kt = mv__kernels_get();
    if (!scaled && sdt == ddt) {
        memcpy(dst, src, n * mv__dt[sdt].size);
        return;
    }
    if (ddt == MV_DT_F32) {
        if (scaled && kt->to_f32s[sdt]) {
            kt->to_f32s[sdt](src, (float *)dst, n, slope, inter);
            return;
        }
        if (!scaled && kt->to_f32[sdt]) {
            kt->to_f32[sdt](src, (float *)dst, n);
            return;
        }
    }
    if (sdt == MV_DT_F32 && !scaled && kt->from_f32[ddt]) {
        kt->from_f32[ddt]((const float *)src, dst, n, rounding);
        return;
    }
    mv__convert_real_ref((const unsigned char *)src, sdt, mv__dt[sdt].size, (unsigned char *)dst,
                         ddt, mv__dt[ddt].size, n, scaled, slope, inter, rounding);
}

/* Any supported pair for a contiguous run (complex component-wise: the
   intercept goes to the real part, as numpy adds a real to a complex). */
static void mv__convert_run(const void *src, mv_dtype sdt, void *dst, mv_dtype ddt, size_t n,
                            int scaled, double slope, double inter, mv_round rounding)
{
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = (unsigned char *)dst;
    int sk = mv__dt[sdt].kind, dk = mv__dt[ddt].kind;
    MEDVOL_ASSERT(mv__dtype_ok(sdt) && mv__dtype_ok(ddt) && (sk == MV__K_RGB) == (dk == MV__K_RGB));
    if (dk == MV__K_RGB) { /* RGB: bytes as they are; alpha 255 when added */
        size_t i, ss = mv__dt[sdt].size, ds = mv__dt[ddt].size;
        if (ss == ds) {
            memcpy(d, s, n * ss);
            return;
        }
        for (i = 0; i < n; i++, s += ss, d += ds) {
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
            if (ds == 4) d[3] = 255;
        }
        return;
    }
    if (dk == MV__K_COMPLEX) {
        mv_dtype dc = (mv_dtype)mv__dt[ddt].comp;
        size_t dcs = mv__dt[dc].size;
        if (sk == MV__K_COMPLEX) {
            mv_dtype sc = (mv_dtype)mv__dt[sdt].comp;
            size_t scs = mv__dt[sc].size;
            if (!scaled && sc == dc) {
                memcpy(d, s, n * 2 * scs);
                return;
            }
            mv__convert_real_ref(s, sc, 2 * scs, d, dc, 2 * dcs, n, scaled, slope, inter, rounding);
            mv__convert_real_ref(s + scs, sc, 2 * scs, d + dcs, dc, 2 * dcs, n, scaled, slope, 0.0,
                                 rounding);
        } else {
            size_t i;
            mv__convert_real_ref(s, sdt, mv__dt[sdt].size, d, dc, 2 * dcs, n, scaled, slope, inter,
                                 rounding);
            for (i = 0; i < n; i++) mv__put_f64(dc, d + i * 2 * dcs + dcs, 0.0, rounding);
        }
        return;
    }
    mv__convert_real_run(src, sdt, dst, ddt, n, scaled, slope, inter, rounding);
}

static mv_status mv__check_convertible(mv_dtype sdt, mv_dtype ddt)
{
    int sk, dk;
    MV__CHECK(mv__dtype_ok(sdt) && mv__dtype_ok(ddt), MV_ERR_INVALID_ARG,
              "convert: dtype %d -> %d is not a dtype", (int)sdt, (int)ddt);
    sk = mv__dt[sdt].kind;
    dk = mv__dt[ddt].kind;
    MV__CHECK(!(sk == MV__K_COMPLEX && dk != MV__K_COMPLEX), MV_ERR_UNSUPPORTED,
              "convert: %s -> %s would drop the imaginary part", mv__dt[sdt].name, mv__dt[ddt].name);
    MV__CHECK((sk == MV__K_RGB) == (dk == MV__K_RGB), MV_ERR_UNSUPPORTED,
              "convert: %s -> %s (RGB converts only to RGB)", mv__dt[sdt].name, mv__dt[ddt].name);
    return MV_OK;
}

/* The scaling NIfTI readers apply, as nibabel does it: slope 0 or not finite
   means none; a finite slope with a non-finite intercept is an error. Sets
   *active to whether it changes values. */
static mv_status mv__scaling(double slope, double inter, int *active, double *s, double *o)
{
    *active = 0;
    *s = 1.0;
    *o = 0.0;
    if (slope == 0 || !isfinite(slope)) return MV_OK;
    MV__CHECK(isfinite(inter), MV_ERR_BAD_HEADER, "scl_slope %g is valid but scl_inter is %g", slope, inter);
    *s = slope;
    *o = inter;
    *active = !(slope == 1.0 && inter == 0.0);
    return MV_OK;
}

typedef struct mv__cvt_job {
    const unsigned char *src;
    unsigned char *dst;
    mv_dtype sdt, ddt;
    int scaled;
    double slope, inter;
    mv_round rounding;
} mv__cvt_job;

static void mv__convert_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__cvt_job *j = (const mv__cvt_job *)ctx;
    (void)worker;
    mv__convert_run(j->src + (size_t)b * mv__dt[j->sdt].size, j->sdt, j->dst + (size_t)b * mv__dt[j->ddt].size,
                    j->ddt, (size_t)(e - b), j->scaled, j->slope, j->inter, j->rounding);
}

static mv_status mv__convert_n(const void *src, mv_dtype sdt, void *dst, mv_dtype ddt, size_t n,
                               int scaled, double slope, double inter, mv_round rounding, int threads)
{
    mv__cvt_job j;
    uint64_t bytes = (uint64_t)n * (mv__dt[sdt].size + mv__dt[ddt].size);
    j.src = (const unsigned char *)src;
    j.dst = (unsigned char *)dst;
    j.sdt = sdt;
    j.ddt = ddt;
    j.scaled = scaled;
    j.slope = slope;
    j.inter = inter;
    j.rounding = rounding;
    mv__parallel_for((int64_t)n, 1 << 16, mv__threads_for_bytes(threads, bytes), mv__convert_range, &j);
    return MV_OK;
}

MVDEF mv_status mv_convert_buffer(const void *src, mv_dtype src_dtype, void *dst, mv_dtype dst_dtype,
                                  size_t n, const mv_convert_opts *opts)
{
    mv_convert_opts o;
    int active;
    double s, i;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__TRY(mv__check_convertible(src_dtype, dst_dtype));
    MV__CHECK(n == 0 || (src && dst), MV_ERR_INVALID_ARG, "mv_convert_buffer: NULL buffer");
    MV__CHECK(mv__aligned(src, src_dtype) && mv__aligned(dst, dst_dtype), MV_ERR_INVALID_ARG,
              "mv_convert_buffer: buffers must be aligned like arrays of their type (%p, %p)", src, dst);
    MV__CHECK(o.rounding == MV_ROUND_NEAREST || o.rounding == MV_ROUND_TRUNCATE, MV_ERR_INVALID_ARG,
              "mv_convert_buffer: rounding %d", (int)o.rounding);
    active = 0;
    s = 1;
    i = 0;
    if (o.scaled) MV__TRY(mv__scaling(o.slope, o.inter, &active, &s, &i));
    if (mv__dt[dst_dtype].kind == MV__K_RGB) active = 0; /* NIfTI never scales RGB */
    return mv__convert_n(src, src_dtype, dst, dst_dtype, n, active, s, i, o.rounding, o.threads);
}

/* >>impl-volume ============================================================ */

static void mv__identity4(double a[4][4])
{
    int r, c;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) a[r][c] = r == c ? 1.0 : 0.0;
}

MVDEF void mv_vol_init(mv_vol *v)
{
    int i;
    if (!v) return;
    memset(v, 0, sizeof(*v));
    for (i = 0; i < MV_MAX_DIMS; i++) {
        v->dim[i] = 1;
        v->spacing[i] = 1.0;
    }
    mv__identity4(v->affine);
    v->meta.qfac = 1.0;
    v->meta.scl_slope = 1.0;
    v->meta.scl_inter = 0.0;
    v->meta.xyzt_units = MV_UNITS_MM | MV_UNITS_SEC;
    for (i = 0; i < 3; i++) v->meta.srow[i][i] = 1.0;
}

MVDEF int64_t mv_vol_count(const mv_vol *v)
{
    int64_t n = 1;
    int i;
    if (!v || v->ndim < 1 || v->ndim > MV_MAX_DIMS) return 0;
    for (i = 0; i < v->ndim; i++) n *= v->dim[i];
    return n;
}
MVDEF size_t mv_vol_bytes(const mv_vol *v)
{
    return v && mv__dtype_ok(v->dtype) ? (size_t)mv_vol_count(v) * mv__dt[v->dtype].size : 0;
}

/* Validates a shape and returns its byte size. */
static mv_status mv__shape_bytes(mv_dtype dt, int ndim, const int64_t *dims, uint64_t *bytes)
{
    uint64_t n = mv__dtype_ok(dt) ? mv__dt[dt].size : 0;
    int i;
    MV__CHECK(mv__dtype_ok(dt), MV_ERR_INVALID_ARG, "dtype %d is not a dtype", (int)dt);
    MV__CHECK(ndim >= 1 && ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG, "ndim = %d (must be 1..7)", ndim);
    MV__CHECK(dims != NULL, MV_ERR_INVALID_ARG, "dims is NULL");
    for (i = 0; i < ndim; i++) {
        MV__CHECK(dims[i] >= 1, MV_ERR_INVALID_ARG, "dim[%d] = %lld (must be >= 1)", i, (long long)dims[i]);
        MV__CHECK(mv__mul_u64(n, (uint64_t)dims[i], &n), MV_ERR_SIZE_OVERFLOW,
                  "shape overflows 64 bits at dim[%d]", i);
    }
    MV__CHECK(mv__fits_size(n), MV_ERR_SIZE_OVERFLOW, "%llu bytes do not fit in size_t", (unsigned long long)n);
    *bytes = n;
    return MV_OK;
}

static void mv__vol_set_shape(mv_vol *v, mv_dtype dt, int ndim, const int64_t *dims)
{
    int i;
    v->dtype = dt;
    v->ndim = ndim;
    for (i = 0; i < MV_MAX_DIMS; i++) v->dim[i] = i < ndim ? dims[i] : 1;
}

/* ---- output volumes (MEMORY in the top documentation) ----
   out is written, never read, unless it is one of the call's inputs: then
   the result (complete, in its own memory) replaces it and the input's old
   content is released. Reading an out that is not an input to decide what
   to free is what this rule avoids: an uninitialised struct cannot be told
   from a live one (a stale copy left in a stack slot after a volume was
   moved away holds a valid-looking buffer someone else owns), so releasing
   it could free another volume's memory, and refusing it would reject
   correct code. A tried hash "seal" made exactly those mistakes in the
   test suite (stats, resample and gzip tests that reuse stack slots). */

/* The entry of a function that fills out without an input (loads): out is
   emptied, so a failure leaves it empty. */
static MV__UNUSED mv_status mv__out_begin(mv_vol *out)
{
    mv_vol_init(out);
    return MV_OK;
}

/* The one exit of every function that fills an mv_vol *out: res is the
   complete result. out == a or b (an input): the result replaces it and its
   old content is released; else out is overwritten. */
static mv_status mv__out_commit_in(mv_vol *out, mv_vol *res, const mv_vol *a, const mv_vol *b)
{
    if (out == a || out == b) mv_free(out);
    *out = *res;
    return MV_OK;
}
#define mv__out_commit(out, res) mv__out_commit_in((out), (res), NULL, NULL)

MVDEF mv_status mv_vol_alloc(mv_vol *v, mv_dtype dt, int ndim, const int64_t *dims, void *alloc_ctx)
{
    uint64_t bytes = 0;
    mv_vol t;
    MV__CHECK(v != NULL, MV_ERR_INVALID_ARG, "mv_vol_alloc: v is NULL");
    mv_vol_init(&t);
    MV__TRY(mv__shape_bytes(dt, ndim, dims, &bytes));
    t.data = mv__alloc_zero((size_t)bytes, alloc_ctx);
    MV__CHECK(t.data != NULL, MV_ERR_OUT_OF_MEMORY, "mv_vol_alloc: %llu bytes", (unsigned long long)bytes);
    mv__vol_set_shape(&t, dt, ndim, dims);
    t.flags = MV_VOL_OWNED;
    t.mem_base = t.data;
    t.mem_size = (size_t)bytes;
    t.alloc_ctx = alloc_ctx;
    return mv__out_commit(v, &t);
}

MVDEF mv_status mv_vol_wrap(mv_vol *v, void *data, mv_dtype dt, int ndim, const int64_t *dims)
{
    uint64_t bytes = 0;
    mv_vol t;
    MV__CHECK(v != NULL, MV_ERR_INVALID_ARG, "mv_vol_wrap: v is NULL");
    mv_vol_init(&t);
    MV__TRY(mv__shape_bytes(dt, ndim, dims, &bytes));
    MV__CHECK(data != NULL, MV_ERR_INVALID_ARG, "mv_vol_wrap: data is NULL");
    mv__vol_set_shape(&t, dt, ndim, dims);
    t.data = data;
    t.flags = MV_VOL_BORROWED;
    return mv__out_commit(v, &t);
}

MVDEF mv_status mv_vol_wrap_like(mv_vol *v, void *data, mv_dtype dt, const mv_vol *like)
{
    uint64_t bytes = 0;
    mv_vol t;
    MV__CHECK(v != NULL && like != NULL, MV_ERR_INVALID_ARG, "mv_vol_wrap_like: v or like is NULL");
    MV__TRY(mv__shape_bytes(dt, like->ndim, like->dim, &bytes));
    MV__CHECK(data != NULL, MV_ERR_INVALID_ARG, "mv_vol_wrap_like: data is NULL");
    t = *like; /* geometry and metadata */
    mv__vol_set_shape(&t, dt, like->ndim, like->dim);
    t.data = data;
    t.flags = MV_VOL_BORROWED;
    t.mem_base = NULL;
    t.mem_size = 0;
    t.alloc_ctx = NULL;
    t.meta.ext = NULL; /* extensions stay with like: nothing here is ours to free */
    t.meta.n_ext = 0;
    return mv__out_commit(v, &t);
}

static void mv__free_extensions(mv_meta *m, void *ctx)
{
    int i;
    if (m->ext) {
        for (i = 0; i < m->n_ext; i++) mv__free(m->ext[i].data, ctx);
        mv__free(m->ext, ctx);
    }
    m->ext = NULL;
    m->n_ext = 0;
}

MVDEF void mv_free(mv_vol *v)
{
    if (!v) return;
    if ((v->flags & MV_VOL_OWNED) && v->mem_base) mv__free(v->mem_base, v->alloc_ctx);
#if defined(MV__HAVE_FILES)
    if ((v->flags & MV_VOL_MAPPED) && v->mem_base) munmap(v->mem_base, v->mem_size);
#endif
    mv__free_extensions(&v->meta, v->alloc_ctx);
    mv_vol_init(v);
}

/* Deep copy of ext[0..n) into m (m's old list is not freed). */
static mv_status mv__copy_extensions(mv_meta *m, const mv_extension *ext, int n, void *ctx)
{
    int i;
    m->ext = NULL;
    m->n_ext = 0;
    if (n <= 0) return MV_OK;
    MV__CHECK(ext != NULL, MV_ERR_INVALID_ARG, "extensions: NULL list of %d", n);
    m->ext = (mv_extension *)mv__alloc_zero((size_t)n * sizeof(mv_extension), ctx);
    MV__CHECK(m->ext != NULL, MV_ERR_OUT_OF_MEMORY, "extension list of %d", n);
    for (i = 0; i < n; i++) {
        m->ext[i].code = ext[i].code;
        m->ext[i].size = ext[i].size;
        m->ext[i].data = (unsigned char *)mv__alloc(ext[i].size ? ext[i].size : 1, ctx);
        if (!m->ext[i].data) {
            m->n_ext = i;
            mv__free_extensions(m, ctx);
            return mv__fail(MV_ERR_OUT_OF_MEMORY, "extension %d: %u bytes", i, (unsigned)ext[i].size);
        }
        if (ext[i].size) memcpy(m->ext[i].data, ext[i].data, ext[i].size);
        m->n_ext = i + 1;
    }
    return MV_OK;
}

MVDEF mv_status mv_vol_set_extensions(mv_vol *v, const mv_extension *ext, int n)
{
    mv_meta tmp;
    MV__CHECK(v != NULL && n >= 0, MV_ERR_INVALID_ARG, "mv_vol_set_extensions: bad arguments");
    tmp = v->meta;
    MV__TRY(mv__copy_extensions(&tmp, ext, n, v->alloc_ctx));
    mv__free_extensions(&v->meta, v->alloc_ctx);
    v->meta.ext = tmp.ext;
    v->meta.n_ext = tmp.n_ext;
    return MV_OK;
}

/* src's geometry and metadata into *t (extensions copied with src's
   allocator), no data; *t is overwritten, never released. */
static mv_status mv__copy_meta_to(const mv_vol *src, mv_vol *t)
{
    *t = *src;
    t->data = NULL;
    t->flags = 0;
    t->mem_base = NULL;
    t->mem_size = 0;
    return mv__copy_extensions(&t->meta, src->meta.ext, src->meta.n_ext, src->alloc_ctx);
}

MVDEF mv_status mv_vol_copy_meta(const mv_vol *src, mv_vol *dst)
{
    mv_vol t;
    MV__CHECK(src && dst, MV_ERR_INVALID_ARG, "mv_vol_copy_meta: NULL volume");
    MV__TRY(mv__copy_meta_to(src, &t));
    return mv__out_commit_in(dst, &t, src, NULL);
}

MVDEF mv_status mv_vol_copy(const mv_vol *src, mv_vol *dst)
{
    mv_vol t;
    size_t bytes;
    MV__CHECK(src && dst && (src->data || mv_vol_count(src) == 0), MV_ERR_INVALID_ARG,
              "mv_vol_copy: NULL volume or data");
    MV__TRY(mv__copy_meta_to(src, &t));
    bytes = mv_vol_bytes(src);
    t.data = mv__alloc(bytes, src->alloc_ctx);
    if (!t.data) {
        mv_free(&t);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_vol_copy: %zu bytes", bytes);
    }
    t.flags = MV_VOL_OWNED;
    t.mem_base = t.data;
    t.mem_size = bytes;
    memcpy(t.data, src->data, bytes);
    return mv__out_commit_in(dst, &t, src, NULL);
}

static int mv__same_shape(const mv_vol *a, const mv_vol *b)
{
    int i;
    if (a->ndim != b->ndim) return 0;
    for (i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

MVDEF mv_status mv_convert_into(const mv_vol *src, mv_vol *dst, const mv_convert_opts *opts)
{
    mv_convert_opts o;
    int active = 0;
    double s = 1, i = 0;
    MV__CHECK(src && dst && src->data && dst->data, MV_ERR_INVALID_ARG, "mv_convert_into: NULL volume or data");
    MV__CHECK(mv__same_shape(src, dst), MV_ERR_INVALID_ARG, "mv_convert_into: shapes differ");
    MV__TRY(mv__check_convertible(src->dtype, dst->dtype));
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    if (o.scaled && mv__dt[dst->dtype].kind != MV__K_RGB)
        MV__TRY(mv__scaling(src->meta.scl_slope, src->meta.scl_inter, &active, &s, &i));
    return mv__convert_n(src->data, src->dtype, dst->data, dst->dtype, (size_t)mv_vol_count(src), active, s, i,
                         o.rounding, o.threads);
}

MVDEF mv_status mv_convert(const mv_vol *src, mv_vol *dst, mv_dtype dtype, const mv_convert_opts *opts)
{
    mv_vol t;
    mv_status st;
    uint64_t bytes = 0;
    MV__CHECK(src && dst && src->data, MV_ERR_INVALID_ARG, "mv_convert: NULL volume or data");
    MV__TRY(mv__check_convertible(src->dtype, dtype));
    MV__TRY(mv__shape_bytes(dtype, src->ndim, src->dim, &bytes));
    MV__TRY(mv__copy_meta_to(src, &t));
    t.dtype = dtype;
    t.data = mv__alloc((size_t)bytes, src->alloc_ctx);
    if (!t.data) {
        mv_free(&t);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_convert: %llu bytes", (unsigned long long)bytes);
    }
    t.flags = MV_VOL_OWNED;
    t.mem_base = t.data;
    t.mem_size = (size_t)bytes;
    st = mv_convert_into(src, &t, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    if (opts && opts->scaled) {
        t.meta.scl_slope = 1.0;
        t.meta.scl_inter = 0.0;
    }
    return mv__out_commit_in(dst, &t, src, NULL);
}

/* >>impl-stats ============================================================= */

#define MV__BLOCK 4096     /* voxels per reduction block */
#define MV__MAX_SUPER 64   /* superblocks: a fixed split, whatever the threads */

typedef struct mv__moments {
    int64_t n, nan, inf;
    double sum, mean, m2, mn, mx;
} mv__moments;

static void mv__moments_zero(mv__moments *m)
{
    memset(m, 0, sizeof(*m));
    m->mn = (double)INFINITY;
    m->mx = -(double)INFINITY;
}

/* Chan et al.'s pairwise update: exact enough in float64 for any order, and
   we always merge in the same order. */
static void mv__moments_merge(mv__moments *a, const mv__moments *b)
{
    a->nan += b->nan;
    a->inf += b->inf;
    if (b->n == 0) return;
    if (a->n == 0) {
        int64_t nan = a->nan, inf = a->inf;
        *a = *b;
        a->nan = nan;
        a->inf = inf;
        return;
    }
    {
        double n = (double)(a->n + b->n), delta = b->mean - a->mean;
        a->mean += delta * ((double)b->n / n);
        a->m2 += b->m2 + delta * delta * ((double)a->n * (double)b->n / n);
        a->sum += b->sum;
        a->n += b->n;
        a->mn = b->mn < a->mn ? b->mn : a->mn;
        a->mx = b->mx > a->mx ? b->mx : a->mx;
    }
}

static void mv__moments_from_acc(mv__moments *m, size_t n, double K, const mv__acc *acc)
{
    double dn = (double)n, m2 = acc->s2 - acc->s1 * acc->s1 / dn;
    mv__moments_zero(m);
    m->n = (int64_t)n;
    m->sum = dn * K + acc->s1;
    m->mean = K + acc->s1 / dn;
    m->m2 = m2 > 0 ? m2 : 0;
    m->mn = acc->mn;
    m->mx = acc->mx;
}

/* Any real dtype, skipping NaN and Inf; the shift K is the first finite
   value, lanes as in the kernels (element i in lane i % 8). */
static void mv__stats_block_generic(mv_dtype dt, const unsigned char *p, size_t n, mv__moments *m)
{
    double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0}, K = 0;
    size_t i, sz = mv__dt[dt].size, cnt = 0;
    mv__acc acc;
    int64_t nan = 0, inf = 0;
    acc.mn = (double)INFINITY;
    acc.mx = -(double)INFINITY;
    for (i = 0; i < n; i++) {
        double x = mv__get_f64(dt, p + i * sz), d;
        if (x != x) { nan++; continue; }
        if (x - x != 0) { inf++; continue; }
        if (cnt++ == 0) K = x;
        d = x - K;
        a1[i & 7] += d;
        a2[i & 7] += d * d;
        acc.mn = x < acc.mn ? x : acc.mn;
        acc.mx = x > acc.mx ? x : acc.mx;
    }
    acc.s1 = mv__sum8(a1);
    acc.s2 = mv__sum8(a2);
    if (cnt) mv__moments_from_acc(m, cnt, K, &acc);
    else mv__moments_zero(m);
    m->nan = nan;
    m->inf = inf;
}

static void mv__stats_block(const mv__kernels *kt, mv_dtype dt, const unsigned char *p, size_t n, mv__moments *m)
{
    if (kt->stats[dt]) {
        mv__acc acc;
        double K = mv__get_f64(dt, p);
        kt->stats[dt](p, n, K, &acc);
        if (isfinite(acc.s1) && isfinite(acc.s2)) { /* no NaN or Inf in the block */
            mv__moments_from_acc(m, n, K, &acc);
            return;
        }
    }
    mv__stats_block_generic(dt, p, n, m);
}

typedef struct mv__stats_job {
    const unsigned char *data;
    mv_dtype dt;
    int64_t n, blocks_per_super;
    mv__moments *super;
} mv__stats_job;

static void mv__stats_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__stats_job *j = (const mv__stats_job *)ctx;
    const mv__kernels *kt = mv__kernels_get();
    size_t sz = mv__dt[j->dt].size;
    int64_t s;
    (void)worker;
    for (s = b; s < e; s++) {
        int64_t v0 = s * j->blocks_per_super * MV__BLOCK, v1 = MV__MIN(v0 + j->blocks_per_super * MV__BLOCK, j->n);
        mv__moments_zero(&j->super[s]);
        for (; v0 < v1; v0 += MV__BLOCK) {
            mv__moments bm;
            size_t len = (size_t)MV__MIN((int64_t)MV__BLOCK, v1 - v0);
            mv__stats_block(kt, j->dt, j->data + (size_t)v0 * sz, len, &bm);
            mv__moments_merge(&j->super[s], &bm);
        }
    }
}

/* Moments of n values, deterministic for any thread count: blocks of 4096
   merged in order inside superblocks fixed by n alone, superblocks merged in
   order. */
static void mv__moments_compute(const void *data, mv_dtype dt, int64_t n, int threads, mv__moments *out)
{
    mv__moments super[MV__MAX_SUPER];
    mv__stats_job j;
    int64_t nblocks = (n + MV__BLOCK - 1) / MV__BLOCK, nsuper, s;
    mv__moments_zero(out);
    if (n <= 0) return;
    j.blocks_per_super = (nblocks + MV__MAX_SUPER - 1) / MV__MAX_SUPER;
    nsuper = (nblocks + j.blocks_per_super - 1) / j.blocks_per_super;
    j.data = (const unsigned char *)data;
    j.dt = dt;
    j.n = n;
    j.super = super;
    mv__parallel_for(nsuper, 1, mv__threads_for_bytes(threads, (uint64_t)n * mv__dt[dt].size), mv__stats_range, &j);
    for (s = 0; s < nsuper; s++) mv__moments_merge(out, &super[s]);
}

MVDEF mv_status mv_compute_stats(const mv_vol *v, mv_stats *out, const mv_stats_opts *opts)
{
    mv__moments m;
    int active = 0;
    double slope = 1, inter = 0;
    int threads = opts ? opts->threads : 0;
    MV__CHECK(v && out, MV_ERR_INVALID_ARG, "mv_compute_stats: NULL argument");
    MV__CHECK(v->data && mv__dtype_ok(v->dtype), MV_ERR_INVALID_ARG, "mv_compute_stats: volume has no data");
    MV__CHECK(mv__dt[v->dtype].kind != MV__K_COMPLEX && mv__dt[v->dtype].kind != MV__K_RGB, MV_ERR_UNSUPPORTED,
              "mv_compute_stats: %s voxels have no order (take the magnitude first)", mv__dt[v->dtype].name);
    if (!(opts && opts->raw)) MV__TRY(mv__scaling(v->meta.scl_slope, v->meta.scl_inter, &active, &slope, &inter));
    mv__moments_compute(v->data, v->dtype, mv_vol_count(v), threads, &m);
    memset(out, 0, sizeof(*out));
    out->count = m.n;
    out->nan_count = m.nan;
    out->inf_count = m.inf;
    if (m.n == 0) {
        out->mean = out->std = out->min = out->max = (double)NAN;
        return MV_OK;
    }
    out->sum = m.sum;
    out->mean = m.mean;
    out->std = sqrt(m.m2 / (double)m.n);
    out->min = m.mn;
    out->max = m.mx;
    if (active) { /* statistics of x * slope + inter follow from those of x */
        out->sum = slope * m.sum + inter * (double)m.n;
        out->mean = slope * m.mean + inter;
        out->std = fabs(slope) * out->std;
        out->min = slope * (slope >= 0 ? m.mn : m.mx) + inter;
        out->max = slope * (slope >= 0 ? m.mx : m.mn) + inter;
    }
    return MV_OK;
}

/* >>impl-affine ============================================================ */

/* nibabel's get_qform: the quaternion's w from (b, c, d) and the rotation
   computed in long double (numpy's longdouble in fillpositive), then
   M = R * diag(pixdim with pixdim[2] *= qfac), rounded once to double. */
static void mv__quatern_to_affine(const double q[3], const double off[3], const double pix[3], double qfac,
                                  double aff[4][4])
{
    long double b = q[0], c = q[1], d = q[2], a, w2, Nq, s, X, Y, Z;
    long double R[3][3], vox[3];
    int r, k;
    w2 = 1.0L - (b * b + c * c + d * d);
    if (w2 < 0) {
        /* beyond rounding (nibabel raises): normalise (b, c, d), as nifticlib does */
        long double norm = sqrtl(b * b + c * c + d * d);
        if (w2 < -3.0L * FLT_EPSILON && norm > 0) {
            b /= norm;
            c /= norm;
            d /= norm;
        }
        a = 0;
    } else {
        a = sqrtl(w2);
    }
    Nq = a * a + b * b + c * c + d * d;
    if (Nq < (long double)DBL_EPSILON) {
        for (r = 0; r < 3; r++)
            for (k = 0; k < 3; k++) R[r][k] = r == k;
    } else {
        long double wX, wY, wZ, xX, xY, xZ, yY, yZ, zZ;
        s = 2.0L / Nq;
        X = b * s;
        Y = c * s;
        Z = d * s;
        wX = a * X; wY = a * Y; wZ = a * Z;
        xX = b * X; xY = b * Y; xZ = b * Z;
        yY = c * Y; yZ = c * Z; zZ = d * Z;
        R[0][0] = 1.0L - (yY + zZ); R[0][1] = xY - wZ; R[0][2] = xZ + wY;
        R[1][0] = xY + wZ; R[1][1] = 1.0L - (xX + zZ); R[1][2] = yZ - wX;
        R[2][0] = xZ - wY; R[2][1] = yZ + wX; R[2][2] = 1.0L - (xX + yY);
    }
    vox[0] = pix[0];
    vox[1] = pix[1];
    vox[2] = pix[2] * (qfac < 0 ? -1.0L : 1.0L);
    mv__identity4(aff);
    for (r = 0; r < 3; r++) {
        for (k = 0; k < 3; k++) aff[r][k] = (double)(R[r][k] * vox[k]);
        aff[r][3] = off[r];
    }
}

/* One-sided Jacobi SVD of a 3x3 matrix: A = U diag(S) V^T, columns of U of
   zero singular values left zero. Plenty for 3x3 (converges in a few sweeps). */
static void mv__svd3(double A[3][3], double U[3][3], double S[3], double V[3][3])
{
    double W[3][3];
    int sweep, p, q, r, c;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 3; c++) {
            W[r][c] = A[r][c];
            V[r][c] = r == c;
        }
    for (sweep = 0; sweep < 60; sweep++) {
        int rotated = 0;
        for (p = 0; p < 2; p++)
            for (q = p + 1; q < 3; q++) {
                double alpha = 0, beta = 0, gamma = 0, zeta, t, cs, sn;
                for (r = 0; r < 3; r++) {
                    alpha += W[r][p] * W[r][p];
                    beta += W[r][q] * W[r][q];
                    gamma += W[r][p] * W[r][q];
                }
                if (gamma == 0 || fabs(gamma) <= 1e-17 * sqrt(alpha * beta)) continue;
                rotated = 1;
                zeta = (beta - alpha) / (2 * gamma);
                t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                cs = 1 / sqrt(1 + t * t);
                sn = cs * t;
                for (r = 0; r < 3; r++) {
                    double wp = W[r][p], wq = W[r][q], vp = V[r][p], vq = V[r][q];
                    W[r][p] = cs * wp - sn * wq;
                    W[r][q] = sn * wp + cs * wq;
                    V[r][p] = cs * vp - sn * vq;
                    V[r][q] = sn * vp + cs * vq;
                }
            }
        if (!rotated) break;
    }
    for (c = 0; c < 3; c++) {
        double n = sqrt(W[0][c] * W[0][c] + W[1][c] * W[1][c] + W[2][c] * W[2][c]);
        S[c] = n;
        for (r = 0; r < 3; r++) U[r][c] = n > 0 ? W[r][c] / n : 0;
    }
}

/* Columns of the 3x3 part (zooms) and the matrix with unit columns; zero
   columns keep zoom 1 (as nibabel io_orientation). */
static void mv__split_zooms(double aff[4][4], double RS[3][3], double zooms[3])
{
    int r, c;
    for (c = 0; c < 3; c++) {
        double z = sqrt(aff[0][c] * aff[0][c] + aff[1][c] * aff[1][c] + aff[2][c] * aff[2][c]);
        zooms[c] = z;
        if (z == 0) z = 1;
        for (r = 0; r < 3; r++) RS[r][c] = aff[r][c] / z;
    }
}

/* Closest rotation (polar factor) of R with det(R) > 0: U V^T from the SVD;
   a rank-deficient R gets its missing axes completed right-handedly. */
static void mv__polar_rotation(double R[3][3], double P[3][3])
{
    double U[3][3], S[3], V[3][3], smax;
    int r, c, k, good = 0;
    int idx[3] = {0, 1, 2}; /* set before use; initialised for gcc 12 -O3 -Wmaybe-uninitialized */
    mv__svd3(R, U, S, V);
    smax = MV__MAX(S[0], MV__MAX(S[1], S[2]));
    for (c = 0; c < 3; c++)
        if (S[c] > smax * 1e-12) idx[good++] = c;
    if (good < 3) { /* complete the basis of U from V's handedness */
        for (c = 0; c < 3; c++) {
            if (S[c] > smax * 1e-12) continue;
            if (good == 2) {
                int a = idx[0], b = idx[1];
                double sgn;
                /* u_c = +-(u_a x u_b) so that U and V have the same handedness */
                U[0][c] = U[1][a] * U[2][b] - U[2][a] * U[1][b];
                U[1][c] = U[2][a] * U[0][b] - U[0][a] * U[2][b];
                U[2][c] = U[0][a] * U[1][b] - U[1][a] * U[0][b];
                sgn = (V[0][c] * (V[1][a] * V[2][b] - V[2][a] * V[1][b]) +
                       V[1][c] * (V[2][a] * V[0][b] - V[0][a] * V[2][b]) +
                       V[2][c] * (V[0][a] * V[1][b] - V[1][a] * V[0][b]));
                if (sgn < 0)
                    for (r = 0; r < 3; r++) U[r][c] = -U[r][c];
                good = 3;
            } else {
                for (r = 0; r < 3; r++) U[r][c] = V[r][c]; /* degenerate: anything orthonormal */
            }
        }
    }
    for (r = 0; r < 3; r++)
        for (c = 0; c < 3; c++) {
            double s = 0;
            for (k = 0; k < 3; k++) s += U[r][k] * V[c][k];
            P[r][c] = s;
        }
}

static double mv__det3(double m[3][3])
{
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

/* nibabel set_qform: zooms from column norms, qfac from the determinant,
   shears stripped by the polar decomposition, then the quaternion of the
   rotation (Shepperd's method, w >= 0). */
static void mv__affine_to_quatern(double affine[4][4], double quatern[3], double qoffset[3], double pixdim[3],
                                  double *qfac)
{
    double R[3][3], P[3][3], w, x, y, z, t;
    int r;
    mv__split_zooms(affine, R, pixdim);
    *qfac = 1.0;
    if (mv__det3(R) <= 0) {
        *qfac = -1.0;
        for (r = 0; r < 3; r++) R[r][2] = -R[r][2];
    }
    mv__polar_rotation(R, P);
    t = P[0][0] + P[1][1] + P[2][2];
    if (t > 0) {
        double s = sqrt(t + 1.0) * 2;
        w = 0.25 * s;
        x = (P[2][1] - P[1][2]) / s;
        y = (P[0][2] - P[2][0]) / s;
        z = (P[1][0] - P[0][1]) / s;
    } else if (P[0][0] > P[1][1] && P[0][0] > P[2][2]) {
        double s = sqrt(1.0 + P[0][0] - P[1][1] - P[2][2]) * 2;
        w = (P[2][1] - P[1][2]) / s;
        x = 0.25 * s;
        y = (P[0][1] + P[1][0]) / s;
        z = (P[0][2] + P[2][0]) / s;
    } else if (P[1][1] > P[2][2]) {
        double s = sqrt(1.0 + P[1][1] - P[0][0] - P[2][2]) * 2;
        w = (P[0][2] - P[2][0]) / s;
        x = (P[0][1] + P[1][0]) / s;
        y = 0.25 * s;
        z = (P[1][2] + P[2][1]) / s;
    } else {
        double s = sqrt(1.0 + P[2][2] - P[0][0] - P[1][1]) * 2;
        w = (P[1][0] - P[0][1]) / s;
        x = (P[0][2] + P[2][0]) / s;
        y = (P[1][2] + P[2][1]) / s;
        z = 0.25 * s;
    }
    if (w < 0) {
        x = -x;
        y = -y;
        z = -z;
    }
    quatern[0] = x;
    quatern[1] = y;
    quatern[2] = z;
    for (r = 0; r < 3; r++) qoffset[r] = affine[r][3];
}

static mv_status mv__io_orientation(double affine[4][4], int world_axis[3], int sign[3])
{
    double RS[3][3], zooms[3], U[3][3], S[3], V[3][3], R[3][3], smax, tol;
    int r, c, k, in_ax;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++)
            MV__CHECK(isfinite(affine[r][c]), MV_ERR_INVALID_ARG, "affine[%d][%d] is not finite", r, c);
    mv__split_zooms(affine, RS, zooms);
    mv__svd3(RS, U, S, V);
    /* rank by numpy's default tolerance: S.max() * max(shape) * eps */
    smax = MV__MAX(S[0], MV__MAX(S[1], S[2]));
    tol = smax * 3 * DBL_EPSILON;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 3; c++) {
            double s = 0;
            for (k = 0; k < 3; k++)
                if (S[k] > tol) s += U[r][k] * V[c][k];
            R[r][c] = s;
        }
    /* greedy by voxel axis: the world axis it moves along most, which is then
       taken out of the running (nibabel io_orientation) */
    for (in_ax = 0; in_ax < 3; in_ax++) {
        int best = 0;
        double bestv = -1;
        world_axis[in_ax] = -1;
        sign[in_ax] = 0;
        for (r = 0; r < 3; r++)
            if (fabs(R[r][in_ax]) > bestv) {
                bestv = fabs(R[r][in_ax]);
                best = r;
            }
        if (bestv <= 1e-8) continue; /* np.allclose(col, 0) */
        world_axis[in_ax] = best;
        sign[in_ax] = R[best][in_ax] < 0 ? -1 : 1;
        for (c = 0; c < 3; c++) R[best][c] = 0;
    }
    return MV_OK;
}

MVDEF mv_status mv_io_orientation(const mv_vol *v, int world_axis[3], int sign[3])
{
    double aff[4][4];
    MV__CHECK(v && world_axis && sign, MV_ERR_INVALID_ARG, "mv_io_orientation: NULL argument");
    memcpy(aff, v->affine, sizeof(aff));
    return mv__io_orientation(aff, world_axis, sign);
}

MVDEF mv_status mv_orientation(const mv_vol *v, char code[4])
{
    static const char labels[3][2] = {{'L', 'R'}, {'P', 'A'}, {'I', 'S'}};
    int ax[3], sg[3], i;
    MV__CHECK(code != NULL, MV_ERR_INVALID_ARG, "mv_orientation: code is NULL");
    code[0] = 0;
    MV__TRY(mv_io_orientation(v, ax, sg));
    for (i = 0; i < 3; i++) code[i] = ax[i] < 0 ? '?' : labels[ax[i]][sg[i] > 0];
    code[3] = 0;
    return MV_OK;
}

/* >>impl-gzip ============================================================== */

/* Makes at least n bits available from the input, if it has them. */
MV__INLINE int mv__inf_pull(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip, unsigned n)
{
    while (s->bitcnt < n && *ip < in_len) {
        s->bitbuf |= (uint64_t)in[(*ip)++] << s->bitcnt;
        s->bitcnt += 8;
    }
    return s->bitcnt >= n;
}
MV__INLINE uint32_t mv__inf_take(mv__inflater *s, unsigned n)
{
    uint32_t v = (uint32_t)(s->bitbuf & (((uint64_t)1 << n) - 1));
    s->bitbuf >>= n;
    s->bitcnt -= n;
    return v;
}

/* Code-length symbols 16, 17, 18 (RFC 1951 3.2.7): the extra bits after
   them and the repeat count those bits add to. */
#define MV__REPEAT_EXTRA(sym) ((sym) == 16 ? 2u : (sym) == 17 ? 3u : 7u)
#define MV__REPEAT_BASE(sym) ((sym) == 18 ? 11u : 3u)

/* Appends rep copies of what repeat symbol sym stands for (16: the previous
   length, 17 and 18: zero) to lens[0..*n) of total. NULL or what is wrong. */
static const char *mv__inf_repeat_lens(uint8_t *lens, unsigned *n, unsigned total, unsigned sym, unsigned rep)
{
    unsigned val = 0;
    if (sym == 16) {
        if (*n == 0) return "code-length repeat with no previous length";
        val = lens[*n - 1];
    }
    if (*n + rep > total) return "code-length repeat past the end of the lengths";
    memset(lens + *n, (int)val, rep);
    *n += rep;
    return NULL;
}

/* The code lengths of a dynamic block header while 8 input bytes remain
   (nearly always all of them), in locals: the state's bit buffer would be
   reloaded after every byte store into lens, which may alias it. Stops
   early near the end of the input; the slow loop finishes. Returns NULL or
   what is wrong. Whole bytes only, so the state stays exact (no bits above
   bitcnt). */
static const char *mv__inf_lens_fast(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip)
{
    uint64_t bb = s->bitbuf;
    unsigned bc = s->bitcnt, n = s->nlens, total = s->nlit + s->ndist;
    size_t p = *ip;
    const char *why = NULL;
    while (n < total && in_len - p >= 8 && !why) {
        unsigned add = (63 - bc) >> 3, k;
        bb |= (mv__load_le64(in + p) & (((uint64_t)1 << (8 * add)) - 1)) << bc;
        p += add;
        bc += 8 * add;
        /* >= 56 bits: four symbols of at most 7 + 7 bits before the next
           refill, which keeps the refill off most symbols' critical path */
        for (k = 0; k < 4 && n < total; k++) {
            uint32_t e = s->pre[bb & ((1u << MV__PRE_ROOT) - 1)]; /* complete code of <= 7 bits: every entry valid */
            unsigned sym = MV__E_VALUE(e), extra, rep;
            bb >>= MV__E_CODE(e);
            bc -= MV__E_CODE(e);
            if (sym < 16) {
                s->lens[n++] = (uint8_t)sym;
                continue;
            }
            extra = MV__REPEAT_EXTRA(sym);
            rep = (unsigned)(bb & ((1u << extra) - 1)) + MV__REPEAT_BASE(sym);
            bb >>= extra;
            bc -= extra;
            why = mv__inf_repeat_lens(s->lens, &n, total, sym, rep);
            if (why) break;
        }
    }
    s->bitbuf = bb;
    s->bitcnt = bc;
    s->nlens = n;
    *ip = p;
    return why;
}

/* Peeks at one Huffman symbol in the slow path: 0 with *e and the codeword
   length *need (nothing consumed yet), or MV__INF_NEED_INPUT. An invalid
   entry is returned as is. */
static int mv__inf_peek_slow(mv__inflater *s, const uint32_t *table, unsigned root, const unsigned char *in, size_t in_len,
                             size_t *ip, uint32_t *out_e, unsigned *need)
{
    uint32_t e;
    mv__inf_pull(s, in, in_len, ip, 15);
    e = table[s->bitbuf & ((1u << root) - 1)];
    if (table == MV__LITLEN_TABLE(s) && (e & (MV__E_PAIR | MV__E_NOT_LITERAL | MV__E_INVALID)) == (MV__E_PAIR | MV__E_LENDIST << 12)) {
        /* a length fused with its distance: the length alone */
        unsigned ll = MV__E_CODE(e) - MV__E_CODE(MV__DIST_TABLE(s)[e >> 24]);
        e = MV__E_WITH_LEN(MV__E_MAKE(0, MV__E_LENDIST, (e >> 16) & 0xff), ll);
    }
    if (MV__E_KIND(e) == MV__E_SUB) {
        uint32_t sub = table[MV__E_VALUE(e) + ((s->bitbuf >> root) & ((1u << MV__E_CODE(e)) - 1))];
        *need = root + MV__E_CODE(sub);
        e = sub;
    } else {
        *need = MV__E_CODE(e);
    }
    /* an entry of n codeword bits depends on those bits only: right even when
       fewer than root bits have arrived, as long as n have */
    if (!(e & MV__E_INVALID) && s->bitcnt < *need) return MV__INF_NEED_INPUT;
    *out_e = e;
    return 0;
}

/* One symbol, its codeword consumed (the extra bits are the caller's). */
static int mv__inf_decode_slow(mv__inflater *s, const uint32_t *table, unsigned root, const unsigned char *in, size_t in_len,
                               size_t *ip, uint32_t *out_e)
{
    unsigned need = 0;
    if (mv__inf_peek_slow(s, table, root, in, in_len, ip, out_e, &need)) return MV__INF_NEED_INPUT;
    if (!(*out_e & MV__E_INVALID)) mv__inf_take(s, need);
    return 0;
}

/* Decodes from in[*ip..in_len) into out[*op..out_cap) until the output is
   full, the input runs out, the final block ends, or the data is wrong.
   out[0..*op) must be this stream's own earlier output (the fast loop copies
   from it); bytes before out[0] come from the history, which the caller
   extends with mv__inflate_keep_history when it moves to a new buffer. */
static int mv__inflate(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip, unsigned char *out,
                       size_t out_cap, size_t *op)
{
    size_t op0 = *op;
    int r = 0;
    for (;;) {
        switch (s->state) {
        case MV__I_BLOCK: {
            uint32_t hdr;
            if (!mv__inf_pull(s, in, in_len, ip, 3)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            hdr = mv__inf_take(s, 3);
            s->final = hdr & 1;
            switch (hdr >> 1) {
            case 0: /* stored: skip to a byte boundary */
                mv__inf_take(s, s->bitcnt & 7);
                s->state = MV__I_STORED_LEN;
                break;
            case 1:
                if (!s->fixed_tables) mv__build_fixed(s);
                s->state = MV__I_HUFF;
                break;
            case 2:
                s->state = MV__I_DYN_COUNTS;
                break;
            default:
                r = mv__inf_fail(s, "block type 3 (reserved)", 3);
                goto out;
            }
            break;
        }
        case MV__I_STORED_LEN: {
            uint32_t len, nlen;
            if (!mv__inf_pull(s, in, in_len, ip, 32)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            len = mv__inf_take(s, 16);
            nlen = mv__inf_take(s, 16);
            if ((len ^ 0xffffu) != nlen) {
                r = mv__inf_fail(s, "stored block length and its complement disagree", (long long)len);
                goto out;
            }
            s->stored_left = len;
            s->state = MV__I_STORED;
            break;
        }
        case MV__I_STORED: {
            while (s->stored_left && s->bitcnt >= 8 && *op < out_cap) { /* bytes already in the bit buffer */
                out[(*op)++] = (unsigned char)mv__inf_take(s, 8);
                s->stored_left--;
            }
            if (s->stored_left && s->bitcnt < 8) {
                size_t n = MV__MIN((size_t)s->stored_left, MV__MIN(in_len - *ip, out_cap - *op));
                memcpy(out + *op, in + *ip, n);
                *op += n;
                *ip += n;
                s->stored_left -= (uint32_t)n;
            }
            if (s->stored_left) {
                r = *op == out_cap ? MV__INF_NEED_OUTPUT : MV__INF_NEED_INPUT;
                goto out;
            }
            s->state = s->final ? MV__I_END : MV__I_BLOCK;
            break;
        }
        case MV__I_DYN_COUNTS:
            if (!mv__inf_pull(s, in, in_len, ip, 14)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            s->nlit = mv__inf_take(s, 5) + 257;
            s->ndist = mv__inf_take(s, 5) + 1;
            s->npre = mv__inf_take(s, 4) + 4;
            if (s->nlit > 286 || s->ndist > 30) {
                r = mv__inf_fail(s, s->nlit > 286 ? "more than 286 literal/length codes" : "more than 30 distance codes",
                                 s->nlit > 286 ? (long long)s->nlit : (long long)s->ndist);
                goto out;
            }
            memset(s->lens, 0, 19);
            s->nlens = 0;
            s->state = MV__I_DYN_PRE;
            break;
        case MV__I_DYN_PRE: {
            const char *why;
            for (; s->nlens < s->npre; s->nlens++) {
                if (!mv__inf_pull(s, in, in_len, ip, 3)) {
                    r = MV__INF_NEED_INPUT;
                    goto out;
                }
                s->lens[mv__precode_order[s->nlens]] = (uint8_t)mv__inf_take(s, 3);
            }
            why = mv__build_table(s->pre, 1u << MV__PRE_ROOT, MV__PRE_ROOT, s->lens, 19, MV__CODE_PRE);
            if (why) {
                r = mv__inf_fail(s, why[0] == 'o' ? "over-subscribed code-length code" : "incomplete code-length code", 0);
                goto out;
            }
            s->nlens = 0;
            s->state = MV__I_DYN_LENS;
            break;
        }
        case MV__I_DYN_LENS: {
            const char *why = s->pending_sym ? NULL : mv__inf_lens_fast(s, in, in_len, ip);
            if (why) {
                r = mv__inf_fail(s, why, 0);
                goto out;
            }
            while (s->nlens < s->nlit + s->ndist) {
                uint32_t e = MV__E_INVALID, sym, extra;
                if (!s->pending_sym) {
                    if (mv__inf_decode_slow(s, s->pre, MV__PRE_ROOT, in, in_len, ip, &e)) {
                        r = MV__INF_NEED_INPUT;
                        goto out;
                    }
                    if (e & MV__E_INVALID) { /* the code-length code is complete: cannot happen */
                        r = mv__inf_fail(s, "invalid code-length code", 0);
                        goto out;
                    }
                    sym = MV__E_VALUE(e);
                    if (sym < 16) {
                        s->lens[s->nlens++] = (uint8_t)sym;
                        continue;
                    }
                    s->pending_sym = sym; /* its extra bits may come in a later call */
                }
                sym = s->pending_sym;
                extra = MV__REPEAT_EXTRA(sym);
                if (!mv__inf_pull(s, in, in_len, ip, extra)) {
                    r = MV__INF_NEED_INPUT;
                    goto out;
                }
                s->pending_sym = 0;
                why = mv__inf_repeat_lens(s->lens, &s->nlens, s->nlit + s->ndist, sym,
                                          mv__inf_take(s, extra) + MV__REPEAT_BASE(sym));
                if (why) {
                    r = mv__inf_fail(s, why, 0);
                    goto out;
                }
            }
            if (s->lens[256] == 0) {
                r = mv__inf_fail(s, "no code for the end of the block", 0);
                goto out;
            }
            why = mv__build_table(MV__LITLEN_TABLE(s), MV__LITLEN_ENOUGH, MV__LITLEN_ROOT, s->lens, s->nlit, MV__CODE_LITLEN);
            if (why) {
                r = mv__inf_fail(s, why[0] == 'o' ? "over-subscribed literal/length code" : "incomplete literal/length code", 0);
                goto out;
            }
            why = mv__build_table(MV__DIST_TABLE(s), MV__DIST_ENOUGH, MV__DIST_ROOT, s->lens + s->nlit, s->ndist, MV__CODE_DIST);
            if (why) {
                r = mv__inf_fail(s, why[0] == 'o' ? "over-subscribed distance code" : "incomplete distance code", 0);
                goto out;
            }
            mv__kernels_get()->combine_litlen(s->tables, MV__LITLEN_ROOT);
            s->fixed_tables = 0;
            s->state = MV__I_HUFF;
            break;
        }
        case MV__I_HUFF: {
            uint32_t e = MV__E_INVALID;
            unsigned need = 0;
            mv__kernels_get()->inflate_fast(s, in, in_len, ip, out, out_cap, op);
            if (s->state != MV__I_HUFF) {
                if (s->state == -1) {
                    r = mv__inf_fail(s, s->error, 0);
                    goto out;
                }
                break;
            }
            if (mv__inf_peek_slow(s, MV__LITLEN_TABLE(s), MV__LITLEN_ROOT, in, in_len, ip, &e, &need)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            /* a full buffer stops us before a byte, not before the block's end */
            if (*op == out_cap && !(e & MV__E_INVALID) && MV__E_KIND(e) != MV__E_EOB) {
                r = MV__INF_NEED_OUTPUT;
                goto out;
            }
            if (!(e & MV__E_INVALID)) mv__inf_take(s, need);
            if (e & MV__E_INVALID) {
                if (s->bitcnt < 15 && *ip == in_len) { /* maybe just not enough bits yet */
                    r = MV__INF_NEED_INPUT;
                    goto out;
                }
                r = mv__inf_fail(s, "invalid literal/length code", 0);
                goto out;
            }
            if (MV__E_KIND(e) == MV__E_LITERAL) {
                out[(*op)++] = (unsigned char)(MV__E_VALUE(e) & 0xff); /* first of a pair */
            } else if (MV__E_KIND(e) == MV__E_EOB) {
                s->state = s->final ? MV__I_END : MV__I_BLOCK;
            } else {
                s->len_base = MV__E_VALUE(e);
                s->len_extra = MV__E_EXTRA(e);
                s->state = MV__I_LEN_EXTRA;
            }
            break;
        }
        case MV__I_LEN_EXTRA:
            if (!mv__inf_pull(s, in, in_len, ip, s->len_extra)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            s->copy_len = s->len_base + mv__inf_take(s, s->len_extra);
            s->state = MV__I_DIST;
            break;
        case MV__I_DIST: {
            uint32_t e = MV__E_INVALID;
            if (mv__inf_decode_slow(s, MV__DIST_TABLE(s), MV__DIST_ROOT, in, in_len, ip, &e)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            if (e & MV__E_INVALID) {
                if (s->bitcnt < 15 && *ip == in_len) {
                    r = MV__INF_NEED_INPUT;
                    goto out;
                }
                r = mv__inf_fail(s, "invalid distance code", 0);
                goto out;
            }
            s->copy_dist = MV__E_VALUE(e);
            s->dist_extra = MV__E_EXTRA(e);
            s->state = MV__I_DIST_EXTRA;
            break;
        }
        case MV__I_DIST_EXTRA:
            if (!mv__inf_pull(s, in, in_len, ip, s->dist_extra)) {
                r = MV__INF_NEED_INPUT;
                goto out;
            }
            s->copy_dist += mv__inf_take(s, s->dist_extra);
            s->state = MV__I_COPY;
            break;
        case MV__I_COPY: {
            uint32_t n;
            uint64_t produced = s->total_out + (*op - op0);
            if (s->copy_dist > produced || s->copy_dist > *op + s->hist_len) {
                r = mv__inf_fail(s, "distance too far back", (long long)s->copy_dist);
                goto out;
            }
            n = (uint32_t)MV__MIN((size_t)s->copy_len, out_cap - *op);
            mv__copy_match_slow(s, out, *op, s->copy_dist, n);
            *op += n;
            s->copy_len -= n;
            if (s->copy_len) {
                r = MV__INF_NEED_OUTPUT;
                goto out;
            }
            s->state = MV__I_HUFF;
            break;
        }
        case MV__I_END:
            r = MV__INF_DONE;
            goto out;
        default:
            r = mv__inf_fail(s, "decoder state corrupt", s->state);
            goto out;
        }
    }
out:
    s->total_out += *op - op0;
    return r;
}

/* ---- gzip (RFC 1952) ---- */

/* medvol's FEXTRA subfield 'M','V' (17 bytes): version 1, then the member's
   total compressed bytes (header to trailer) and its uncompressed bytes, both
   64-bit little-endian. With it in every member, a reader finds all members
   from their headers alone and decodes them in parallel or picks the ones a
   crop box needs. Every member is still a plain gzip member. */
#define MV__GZ_SUBFIELD_LEN 17

enum {
    MV__GZ_HEADER,  /* inside a member header */
    MV__GZ_DATA,    /* the DEFLATE stream */
    MV__GZ_TRAILER, /* CRC-32 and ISIZE */
    MV__GZ_BETWEEN  /* after a member: another, zero padding, or the end */
};

struct mv_gunzip_stream {
    mv__inflater inf;
    int gz_state;
    unsigned hpos;       /* header byte index, counting the variable parts */
    unsigned flg;
    unsigned xlen, xpos; /* FEXTRA length and position */
    unsigned char sub[4 + MV__GZ_SUBFIELD_LEN]; /* the subfield being read */
    unsigned subpos, sublen;
    uint32_t hcrc;       /* CRC of the header so far (for FHCRC) */
    uint32_t crc;        /* CRC of the member's output */
    uint64_t member_out; /* bytes produced by this member */
    uint64_t member_in;  /* bytes consumed by this member */
    uint64_t total_in, total_out;
    uint64_t member_start; /* compressed offset of the current member's first byte */
    unsigned char trailer[8];
    unsigned tpos;
    int members;           /* members begun (the current one's index is members - 1) */
    int in_member;         /* the current member's first byte was seen */
    int has_index;
    uint64_t idx_csize, idx_usize;
    int zero_padding;
};

MVDEF size_t mv_gunzip_stream_size(void) { return sizeof(struct mv_gunzip_stream); }

MVDEF mv_status mv_gunzip_stream_init(mv_gunzip_stream *s)
{
    MV__CHECK(s != NULL && ((uintptr_t)s % 8) == 0, MV_ERR_INVALID_ARG, "mv_gunzip_stream_init: NULL or misaligned state");
    /* everything after the decoder's tables; the tables are built before use */
    memset(&s->gz_state, 0, sizeof(*s) - offsetof(struct mv_gunzip_stream, gz_state));
    (void)mv__kernels_get(); /* the CRC tables the header check uses */
    mv__inflate_reset(&s->inf);
    s->gz_state = MV__GZ_HEADER;
    return MV_OK;
}

MVDEF mv_status mv_gunzip_stream_new(mv_gunzip_stream **s, void *alloc_ctx)
{
    MV__CHECK(s != NULL, MV_ERR_INVALID_ARG, "mv_gunzip_stream_new: s is NULL");
    *s = (mv_gunzip_stream *)mv__alloc(sizeof(mv_gunzip_stream), alloc_ctx);
    MV__CHECK(*s != NULL, MV_ERR_OUT_OF_MEMORY, "gunzip state (%zu bytes)", sizeof(mv_gunzip_stream));
    return mv_gunzip_stream_init(*s);
}
MVDEF void mv_gunzip_stream_free(mv_gunzip_stream *s, void *alloc_ctx) { mv__free(s, alloc_ctx); }

/* The next whole byte: from the bit buffer first (at byte boundaries it
   holds whole bytes the inflater pulled ahead), then the input. */
static int mv__gz_byte(mv_gunzip_stream *s, const unsigned char *in, size_t in_len, size_t *ip, unsigned *b)
{
    if (s->inf.bitcnt >= 8) {
        *b = mv__inf_take(&s->inf, 8);
        return 1;
    }
    if (*ip < in_len) {
        *b = in[(*ip)++];
        return 1;
    }
    return 0;
}

static uint64_t mv__le_u64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* One header byte: fixed part, FEXTRA (watching for 'MV'), FNAME, FCOMMENT,
   FHCRC. Returns 0 while more header follows, 1 at its end, or an error. */
static mv_status mv__gz_header_byte(mv_gunzip_stream *s, unsigned b, int *done)
{
    unsigned char c = (unsigned char)b;
    *done = 0;
    if (s->hpos < 10) {
        static const char *what[3] = {"first magic byte", "second magic byte", "compression method"};
        if (s->hpos == 0 && b != 0x1f) return mv__fail(MV_ERR_BAD_DATA, "not gzip: byte 0x%02x where the magic 0x1f belongs", b);
        if (s->hpos == 1 && b != 0x8b) return mv__fail(MV_ERR_BAD_DATA, "not gzip: %s is 0x%02x, not 0x8b", what[1], b);
        if (s->hpos == 2 && b != 8) return mv__fail(MV_ERR_UNSUPPORTED, "gzip compression method %u (only 8, deflate, exists)", b);
        if (s->hpos == 3) {
            if (b & 0xe0) return mv__fail(MV_ERR_BAD_DATA, "gzip header: reserved flag bits set (0x%02x)", b);
            s->flg = b;
        }
        s->hcrc = mv__crc32_ref(s->hcrc, &c, 1);
        if (++s->hpos == 10) {
            s->xpos = 0;
            s->xlen = 0;
            if (!(s->flg & 0x1e)) *done = 1;
        }
        return MV_OK;
    }
    if (s->flg & 4) { /* FEXTRA: 2 length bytes, then subfields */
        s->hcrc = mv__crc32_ref(s->hcrc, &c, 1);
        if (s->xpos < 2) {
            s->xlen |= b << (8 * s->xpos);
            s->xpos++;
            s->subpos = 0;
            if (s->xpos == 2 && s->xlen == 0) s->flg &= ~4u;
            else return MV_OK;
        } else {
            /* collect subfields; keep ours if well formed */
            if (s->subpos < sizeof(s->sub)) s->sub[s->subpos] = c;
            s->subpos++;
            if (s->subpos == 4) s->sublen = s->sub[2] | (unsigned)s->sub[3] << 8;
            if (s->subpos >= 4 && s->subpos == 4 + s->sublen) {
                if (s->sub[0] == 'M' && s->sub[1] == 'V' && s->sublen == MV__GZ_SUBFIELD_LEN && s->sub[4] == 1) {
                    s->has_index = 1;
                    s->idx_csize = mv__le_u64(s->sub + 5);
                    s->idx_usize = mv__le_u64(s->sub + 13);
                }
                s->subpos = 0;
            }
            if (++s->xpos == s->xlen + 2) s->flg &= ~4u;
            else return MV_OK;
        }
        if (!(s->flg & 0x1e)) *done = 1;
        return MV_OK;
    }
    if (s->flg & 8) { /* FNAME, zero-terminated */
        s->hcrc = mv__crc32_ref(s->hcrc, &c, 1);
        if (b == 0) s->flg &= ~8u;
        if (!(s->flg & 0x1e)) *done = 1;
        return MV_OK;
    }
    if (s->flg & 16) { /* FCOMMENT */
        s->hcrc = mv__crc32_ref(s->hcrc, &c, 1);
        if (b == 0) s->flg &= ~16u;
        if (!(s->flg & 0x1e)) *done = 1;
        return MV_OK;
    }
    if (s->flg & 2) { /* FHCRC: the low 16 bits of the header's CRC-32 */
        if (s->xpos < 100) { /* first byte */
            s->xpos = 100 + b;
            return MV_OK;
        }
        {
            unsigned stored = (s->xpos - 100) | b << 8;
            if (stored != (s->hcrc & 0xffff))
                return mv__fail(MV_ERR_BAD_DATA, "gzip header CRC mismatch (stored 0x%04x, computed 0x%04x)", stored,
                                (unsigned)(s->hcrc & 0xffff));
        }
        s->flg &= ~2u;
        *done = 1;
    }
    return MV_OK;
}

/* Starts the next member (called when its first byte is in sight). */
static void mv__gz_member_start(mv_gunzip_stream *s)
{
    uint64_t bitbuf = s->inf.bitbuf;
    unsigned bitcnt = s->inf.bitcnt;
    mv__inflate_reset(&s->inf);
    s->inf.bitbuf = bitbuf; /* whole bytes the last member's decoder read ahead */
    s->inf.bitcnt = bitcnt;
    s->gz_state = MV__GZ_HEADER;
    s->hpos = 0;
    s->flg = 0;
    s->hcrc = 0;
    s->crc = 0;
    s->member_out = 0;
    s->tpos = 0;
    s->has_index = 0;
    s->in_member = 0;
}

/* The CRC of produced output, in cache-sized steps by the caller. */
static void mv__gz_account(mv_gunzip_stream *s, const unsigned char *p, size_t n)
{
    s->crc = mv__kernels_get()->crc32(s->crc, p, n);
    s->member_out += n;
    s->total_out += n;
}

MVDEF mv_status mv_gunzip_stream_run(mv_gunzip_stream *s, const void *in_, size_t in_len, size_t *in_used, void *out_,
                                     size_t out_cap, size_t *out_len, int *at_end)
{
    const unsigned char *in = (const unsigned char *)in_;
    unsigned char *out = (unsigned char *)out_;
    size_t ip = 0, op = 0, mb = 0; /* mb: where this call's current member began in out */
    mv_status st = MV_OK;
    MV__CHECK(s && (in || !in_len) && (out || !out_cap) && in_used && out_len, MV_ERR_INVALID_ARG,
              "mv_gunzip_stream_run: NULL argument");
    if (at_end) *at_end = 0;
    for (;;) {
        if (s->gz_state == MV__GZ_HEADER) {
            unsigned b;
            int done = 0;
            if (!s->in_member && (s->inf.bitcnt >= 8 || ip < in_len)) {
                /* the member begins here (counting the whole bytes the decoder read ahead) */
                s->member_start = s->total_in + ip - s->inf.bitcnt / 8;
                s->members++;
                s->in_member = 1;
            }
            while (!done && mv__gz_byte(s, in, in_len, &ip, &b)) {
                st = mv__gz_header_byte(s, b, &done);
                if (st != MV_OK) goto out;
            }
            if (!done) break; /* more input */
            s->gz_state = MV__GZ_DATA;
        }
        if (s->gz_state == MV__GZ_DATA) {
            /* decode in 256 KiB steps so the CRC reads cache-hot bytes */
            size_t cap = MV__MIN(out_cap, op + ((size_t)256 << 10)), op0 = op, rel = op - mb;
            int r = mv__inflate(&s->inf, in, in_len, &ip, out + mb, cap - mb, &rel);
            op = mb + rel;
            mv__gz_account(s, out + op0, op - op0);
            if (r == MV__INF_ERROR) {
                st = mv__fail(MV_ERR_BAD_DATA, "deflate data: %s (at compressed byte %llu)", s->inf.error,
                              (unsigned long long)(s->total_in + ip));
                goto out;
            }
            if (r == MV__INF_NEED_INPUT) break;
            if (r == MV__INF_NEED_OUTPUT) {
                if (op == out_cap) break;
                continue;
            }
            /* final block done: the trailer starts at the next byte boundary */
            mv__inf_take(&s->inf, s->inf.bitcnt & 7);
            s->gz_state = MV__GZ_TRAILER;
            s->tpos = 0;
        }
        if (s->gz_state == MV__GZ_TRAILER) {
            unsigned b;
            while (s->tpos < 8 && mv__gz_byte(s, in, in_len, &ip, &b)) s->trailer[s->tpos++] = (unsigned char)b;
            if (s->tpos < 8) break;
            {
                uint32_t crc = (uint32_t)mv__le_u64(s->trailer) & 0xffffffffu, isize = (uint32_t)(mv__le_u64(s->trailer) >> 32);
                if (crc != s->crc) {
                    st = mv__fail(MV_ERR_BAD_DATA, "CRC-32 mismatch (stored %08x, computed %08x)", (unsigned)crc,
                                  (unsigned)s->crc);
                    goto out;
                }
                if (isize != (uint32_t)s->member_out) {
                    st = mv__fail(MV_ERR_BAD_DATA, "ISIZE %u but %llu bytes came out", (unsigned)isize,
                                  (unsigned long long)s->member_out);
                    goto out;
                }
                if (s->has_index && s->idx_usize != s->member_out) {
                    st = mv__fail(MV_ERR_BAD_DATA, "its index says %llu bytes, %llu came out",
                                  (unsigned long long)s->idx_usize, (unsigned long long)s->member_out);
                    goto out;
                }
            }
            s->gz_state = MV__GZ_BETWEEN;
        }
        if (s->gz_state == MV__GZ_BETWEEN) {
            /* another member, zero padding (tape blocks: ignored, as gzip does), or the end */
            unsigned b = 0;
            if (s->inf.bitcnt < 8 && ip == in_len) {
                if (at_end) *at_end = 1;
                break;
            }
            if (!s->zero_padding && (s->inf.bitcnt >= 8 ? (s->inf.bitbuf & 0xff) == 0x1f : in[ip] == 0x1f)) {
                mv__gz_member_start(s);
                mb = op; /* its references may not reach into the last member's bytes */
                continue;
            }
            mv__gz_byte(s, in, in_len, &ip, &b);
            if (b != 0) {
                st = mv__fail(MV_ERR_BAD_DATA, "trailing garbage after the last member (byte 0x%02x)", b);
                goto out;
            }
            s->zero_padding = 1;
        }
    }
out:
    /* which member: its index (from 0) and where it starts in the compressed data */
    if (st != MV_OK && s->members > 0)
        mv__fail_prefix(st, "gzip member %d at compressed byte %llu", s->members - 1, (unsigned long long)s->member_start);
    s->total_in += ip;
    /* the next call writes somewhere else: keep what references may need */
    mv__inflate_keep_history(&s->inf, out, op);
    *in_used = ip;
    *out_len = op;
    return st;
}

/* ---- one-shot decoding, with the member index when present ---- */

typedef struct mv__gz_member {
    uint64_t in_off, in_len;   /* compressed bytes of the member */
    uint64_t out_off, out_len; /* where its output goes */
    uint64_t index;            /* its place in the file, from 0 */
} mv__gz_member;

/* The index subfield of the member header at p (avail bytes), if any.
   Returns 1 and the sizes when the header is whole and carries it. */
static int mv__gz_member_index(const unsigned char *p, size_t avail, uint64_t *csize, uint64_t *usize)
{
    size_t pos, xlen, end;
    if (avail < 12 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || !(p[3] & 4) || (p[3] & 0xe0)) return 0;
    xlen = p[10] | (size_t)p[11] << 8;
    end = 12 + xlen;
    if (end > avail) return 0;
    for (pos = 12; pos + 4 <= end;) {
        size_t len = p[pos + 2] | (size_t)p[pos + 3] << 8;
        if (pos + 4 + len > end) return 0;
        if (p[pos] == 'M' && p[pos + 1] == 'V' && len == MV__GZ_SUBFIELD_LEN && p[pos + 4] == 1) {
            *csize = mv__le_u64(p + pos + 5);
            *usize = mv__le_u64(p + pos + 13);
            return 1;
        }
        pos += 4 + len;
    }
    return 0;
}

/* Lists the members of an indexed multi-member gzip buffer. Returns the
   member count, or 0 when the buffer is not (entirely) indexed. With list
   NULL it only counts. */
static size_t mv__gz_scan(const unsigned char *in, size_t in_len, mv__gz_member *list, size_t cap, uint64_t *total)
{
    size_t n = 0;
    uint64_t off = 0, out = 0;
    while (off < in_len) {
        uint64_t cs, us;
        /* DEFLATE produces at most 1032 bytes per input byte (a 258-byte
           match in two bits): an index that promises more is not trusted
           (it would size allocations from untrusted numbers) */
        if (!mv__gz_member_index(in + off, in_len - off, &cs, &us) || cs < 20 || cs > in_len - off || us / 1032 > cs) {
            /* zero padding after the last member is fine, anything else is not ours */
            uint64_t k;
            for (k = off; k < in_len && in[k] == 0; k++) {
            }
            if (k == in_len && n > 0) break;
            return 0;
        }
        if (list) {
            if (n == cap) return 0;
            list[n].in_off = off;
            list[n].in_len = cs;
            list[n].out_off = out;
            list[n].out_len = us;
            list[n].index = n;
        }
        if (out + us < out) return 0;
        out += us;
        off += cs;
        n++;
    }
    *total = out;
    return n;
}

typedef struct mv__gz_job {
    const unsigned char *in;
    unsigned char *out;
    const mv__gz_member *m;
    mv_gunzip_stream **state; /* one per worker */
} mv__gz_job;

/* One member of an indexed buffer into its own slice of the output: it must
   use all of its bytes and produce exactly its size. Messages name the
   member by its index in the file and its compressed offset. */
static mv_status mv__gz_decode_member(mv_gunzip_stream *s, const unsigned char *in, const mv__gz_member *m, unsigned char *out)
{
    size_t used = 0, got = 0;
    int end = 0;
    MV__TRY(mv_gunzip_stream_init(s));
    s->members = (int)m->index; /* count and offsets as in the whole file */
    s->total_in = m->in_off;
    MV__TRY(mv_gunzip_stream_run(s, in + m->in_off, (size_t)m->in_len, &used, out + m->out_off, (size_t)m->out_len, &got, &end));
    if (!end || used != m->in_len || got != m->out_len) {
        /* more output than the index promised, or less */
        return mv__fail(MV_ERR_BAD_DATA, "gzip member %llu at compressed byte %llu: its index says %llu -> %llu bytes, decoding gives %s",
                        (unsigned long long)m->index, (unsigned long long)m->in_off, (unsigned long long)m->in_len,
                        (unsigned long long)m->out_len, !end && got == m->out_len ? "more output" : "another size");
    }
    return MV_OK;
}

static mv_status mv__gz_members_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__gz_job *j = (const mv__gz_job *)ctx;
    for (; b < e; b++) MV__TRY(mv__gz_decode_member(j->state[worker], j->in, &j->m[b], j->out));
    return MV_OK;
}

/* Decodes members [0, n) of list in parallel (out sized for all of them).
   An error is the first damaged member's, whatever the thread count. */
static mv_status mv__gz_decode_members(const unsigned char *in, const mv__gz_member *list, size_t n, unsigned char *out,
                                       int threads, void *ctx)
{
    mv_gunzip_stream *states[MV__MAX_THREADS];
    mv_status st;
    mv__gz_job j;
    int t, nt = (int)MV__MIN((size_t)mv__resolve_threads(threads), n);
    if (nt < 1) nt = 1;
    for (t = 0; t < nt; t++) {
        states[t] = (mv_gunzip_stream *)mv__alloc(sizeof(mv_gunzip_stream), ctx);
        if (!states[t]) {
            while (t--) mv__free(states[t], ctx);
            return mv__fail(MV_ERR_OUT_OF_MEMORY, "gunzip states");
        }
    }
    j.in = in;
    j.out = out;
    j.m = list;
    j.state = states;
    st = mv__parallel_try((int64_t)n, 1, nt, mv__gz_members_range, &j);
    for (t = 0; t < nt; t++) mv__free(states[t], ctx);
    return st;
}

MVDEF mv_status mv_gunzip(const void *in_, size_t in_len, void *out_, size_t out_cap, size_t *out_len,
                          const mv_gzip_opts *opts)
{
    const unsigned char *in = (const unsigned char *)in_;
    unsigned char *out = (unsigned char *)out_;
    void *ctx = opts ? opts->alloc_ctx : NULL;
    uint64_t total = 0;
    size_t nm;
    mv_status st;
    MV__CHECK(out_len != NULL && (in || !in_len) && (out || !out_cap), MV_ERR_INVALID_ARG, "mv_gunzip: NULL argument");
    *out_len = 0;
    MV__CHECK(in_len > 0, MV_ERR_TRUNCATED, "mv_gunzip: empty input");
    nm = mv__gz_scan(in, in_len, NULL, 0, &total);
    if (nm > 0 && mv__fits_size(total)) { /* indexed: sizes known up front, members in parallel */
        mv__gz_member *list;
        *out_len = (size_t)total;
        if (!out) return MV_OK;
        MV__CHECK(out_cap >= total, MV_ERR_BUFFER_TOO_SMALL, "mv_gunzip: needs %llu bytes, buffer has %zu",
                  (unsigned long long)total, out_cap);
        list = (mv__gz_member *)mv__alloc(nm * sizeof(mv__gz_member), ctx);
        MV__CHECK(list != NULL, MV_ERR_OUT_OF_MEMORY, "gzip member list (%zu members)", nm);
        mv__gz_scan(in, in_len, list, nm, &total);
        st = mv__gz_decode_members(in, list, nm, out, opts ? opts->threads : 0, ctx);
        mv__free(list, ctx);
        return st;
    }
    { /* one stream in order; past the end of out, count into scratch */
        mv_gunzip_stream *s;
        size_t ip = 0, op = 0;
        int end = 0, members;
        uint64_t member_start;
        MV__TRY(mv_gunzip_stream_new(&s, ctx));
        while (ip < in_len) {
            size_t used, got;
            unsigned char scratch[4096];
            int full = op >= out_cap;
            st = full ? mv_gunzip_stream_run(s, in + ip, in_len - ip, &used, scratch, sizeof(scratch), &got, &end)
                      : mv_gunzip_stream_run(s, in + ip, in_len - ip, &used, out + op, out_cap - op, &got, &end);
            if (st != MV_OK) break;
            ip += used;
            op += got;
            if (used == 0 && got == 0) break;
        }
        members = s->members;
        member_start = s->member_start;
        mv_gunzip_stream_free(s, ctx);
        *out_len = op;
        if (st != MV_OK) return st;
        MV__CHECK(end, MV_ERR_TRUNCATED, "gzip data ends inside member %d at compressed byte %llu (after %zu input bytes)",
                  members - 1, (unsigned long long)member_start, in_len);
        if (!out) return MV_OK;
        MV__CHECK(op <= out_cap, MV_ERR_BUFFER_TOO_SMALL, "mv_gunzip: needs %zu bytes, buffer has %zu", op, out_cap);
        return MV_OK;
    }
}

/* ---- DEFLATE encoder (RFC 1951) -------------------------------------------

   One call compresses a whole buffer into one raw DEFLATE stream; all state
   lives in a caller-provided scratch block (mv__deflate_scratch_size), so
   nothing is allocated and nothing global is touched. API at the end:
   mv__deflate_scratch_size, mv__deflate_bound, mv__deflate_raw.

   Design
   - Parsing. The input is parsed in chunks of MV__DFL_CHUNK bytes into
     "sequences": a run of literals followed by one match (or by nothing at
     the end of a chunk). Literals are never copied: the block writer reads
     them from the input again. Symbol counts are kept while parsing, so a
     block's Huffman codes can be built the moment it ends.
   - Match finders. Minimum match 4, so one 4-byte hash serves every level
     (3-byte matches buy nothing on volumes and under 1% on text).
     Level 1: a table of the last position of each hash, greedy parsing.
     The candidate test is one branch-free expression (window and 4 bytes at
     once), so noisy data, where candidates fail at random, costs no
     mispredictions; after 64 positions without a match the step grows, so
     pure noise is crossed quickly. Levels 2-9: hash chains (head table plus
     a 32 Ki ring of 16-bit backward deltas, so chains never need sliding);
     depth and "nice" length grow with the level; 2-3 parse greedily, 4-9
     lazily (zlib's one-step lookahead). The head tables are large (2^17 -
     2^18): on noise the cost is chain links through hash collisions that
     lead nowhere, and a sparse table ends most searches at the first link.
   - Block splitting. After each chunk, the ideal entropy cost of the block
     so far and of the chunk, each coded on its own, is compared with the
     cost of coding them together; when together costs more than a new
     block header would, the block ends before the chunk (volume statistics
     drift with the anatomy: ~1.5% smaller than fixed blocks). Blocks also
     end at MV__DFL_MAX_BLOCK bytes or when the sequence store is full.
   - Huffman codes. Used symbols sorted by a radix sort; optimal lengths by
     the two-queue Huffman construction; only when those exceed the limit
     (15 bits for literal/length and distance codes, 7 for the code-length
     code), optimal limited lengths by package-merge. Canonical codes as RFC
     1951 3.2.2. A code with fewer than two used symbols gets a second,
     unused one, so every code is complete (inflaters may reject others).
   - Block type. The exact bit cost of the dynamic, static and stored forms
     is computed for every block and the smallest is written, so output
     never exceeds the stored size plus a few bytes per block
     (mv__deflate_bound), and the room check is done once per block.
   - Determinism. Integer arithmetic only, little-endian loads for hashing,
     no dependence on the scratch block's previous contents: the same input
     and level give the same bytes on every machine.
   - Inputs over 4 GiB. Head tables hold 32-bit offsets from a base that is
     moved forward (and the tables rebased) every MV__DFL_REBASE_AT bytes. */

#define MV__DFL_MIN_MATCH 4u
#define MV__DFL_MAX_MATCH 258u
/* Hash chains stop one short of the 32 KiB window: position p and p + 32768
   share a slot of the chain ring, and keeping every candidate closer than
   that means a slot read always belongs to the candidate itself. (Level 1
   has no chains and uses the whole window.) */
#define MV__DFL_MAX_DIST 32767u
#define MV__DFL_WSIZE 32768u
#define MV__DFL_NLITLEN 288u  /* 286 used; the static code defines 288 */
#define MV__DFL_NDIST 32u     /* 30 used */
#define MV__DFL_NPRE 19u
#define MV__DFL_EOB 256u
#define MV__DFL_CHUNK 16384u
#define MV__DFL_MAX_BLOCK 262144u
#define MV__DFL_MAX_STORED 65535u
/* sequences one chunk can produce: one per match (>= 4 bytes, and the last
   match may run past the chunk end) plus the closing literal run */
#define MV__DFL_CHUNK_SEQS ((MV__DFL_CHUNK + MV__DFL_MAX_MATCH) / MV__DFL_MIN_MATCH + 2u)
#define MV__DFL_SEQ_CAP (4u * MV__DFL_CHUNK_SEQS)
#ifndef MV__DFL_REBASE_AT /* tests lower it to exercise the rebase on small inputs */
#define MV__DFL_REBASE_AT ((size_t)1 << 30)
#endif

typedef struct {
    uint32_t litrun; /* literals before the match */
    uint16_t len;    /* match length, 0 = no match (end of a chunk) */
    uint16_t dist;
} mv__dfl_seq;

typedef struct {
    unsigned char hash_bits; /* log2 of the head table entries */
    unsigned char chains;    /* 0: one position per hash (level 1) */
    unsigned char lazy;      /* one-step lazy evaluation */
    unsigned char skip;      /* level 1: misses before the step grows (log2), 0 = never */
    unsigned short depth;    /* chain links followed per search */
    unsigned short nice;     /* stop searching at a match this long */
    unsigned short good;     /* lazy: a match this long quarters the next search */
    unsigned short max_lazy; /* lazy: no lookahead after a match this long */
} mv__dfl_params;

/* level: hash bits, chains, lazy, skip, depth, nice, good, max_lazy. The head
   tables are large because on noisy data the cost is chain links that lead
   nowhere: with 2^17 heads for a 32 Ki window most lookups end at once.
   Small inputs use smaller tables (mv__dfl_hash_bits). */
static const mv__dfl_params mv__dfl_levels[10] = {
    {0, 0, 0, 0, 0, 0, 0, 0},             /* 0: stored, never parsed */
    {15, 0, 0, 6, 1, 258, 0, 0},          /* 1 */
    {17, 1, 0, 0, 4, 16, 0, 0},           /* 2 */
    {17, 1, 0, 0, 8, 32, 0, 0},           /* 3 */
    {17, 1, 1, 0, 8, 32, 8, 16},          /* 4 */
    {17, 1, 1, 0, 16, 64, 8, 32},         /* 5 */
    {17, 1, 1, 0, 32, 128, 16, 64},       /* 6 */
    {18, 1, 1, 0, 64, 192, 32, 128},      /* 7 */
    {18, 1, 1, 0, 256, 258, 64, 258},     /* 8 */
    {18, 1, 1, 0, 1024, 258, 258, 258},   /* 9 */
};

static const unsigned short mv__dfl_len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,  15,  17,  19,  23, 27,
                                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const unsigned char mv__dfl_len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                    2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const unsigned short mv__dfl_dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                                     33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                                     1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const unsigned char mv__dfl_dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                     6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const unsigned char mv__dfl_precode_order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                        11, 4,  12, 3, 13, 2, 14, 1, 15};
/* log2(1 + i/64) in 1/65536 bits, for the entropy estimates of block splitting */
static const unsigned short mv__dfl_log2_frac[65] = {
    0,     1466,  2909,  4331,  5732,  7112,  8473,  9814,  11136, 12440, 13727, 14996, 16248,
    17484, 18704, 19909, 21098, 22272, 23433, 24579, 25711, 26830, 27936, 29029, 30109, 31178,
    32234, 33279, 34312, 35334, 36346, 37346, 38336, 39316, 40286, 41246, 42196, 43137, 44068,
    44990, 45904, 46809, 47705, 48593, 49472, 50344, 51207, 52063, 52911, 53751, 54584, 55410,
    56229, 57040, 57845, 58643, 59434, 60219, 60997, 61769, 62534, 63294, 64047, 64794, 65535};

/* A Huffman code ready for output: reversed code (LSB first) and length. */
typedef struct {
    uint16_t code[MV__DFL_NLITLEN];
    uint8_t len[MV__DFL_NLITLEN];
} mv__dfl_code;

typedef struct {
    uint64_t buf;     /* pending bits, LSB first */
    unsigned cnt;     /* how many; <= 7 after a flush */
    unsigned char *p; /* next output byte */
    unsigned char *end;
    int overflow;     /* out of room: the result will be 0 */
} mv__dfl_bits;

typedef struct {
    const unsigned char *in;
    size_t n;
    size_t base; /* head[] holds positions minus base */
    mv__dfl_params par;
    unsigned hash_shift;
    uint32_t *head;
    uint16_t *prev;
    mv__dfl_seq *seq;
    size_t nseq;
    mv__dfl_bits bw;
    /* frequencies: the chunk being parsed and the block it may join */
    uint32_t chunk_ll[MV__DFL_NLITLEN], chunk_d[MV__DFL_NDIST];
    uint32_t block_ll[MV__DFL_NLITLEN], block_d[MV__DFL_NDIST];
    uint64_t block_cost; /* entropy estimate of block_ll/block_d, 1/65536 bits */
    /* symbol tables */
    uint8_t len_slot[MV__DFL_MAX_MATCH + 1];
    uint8_t dist_slot[512];
    /* codes of the block being written */
    mv__dfl_code ll, d, pre, fixed_ll, fixed_d;
    uint32_t emit_lit[256];                    /* code | len << 16 */
    uint32_t emit_len[MV__DFL_MAX_MATCH + 1];  /* code + extra bits | total bits << 24 */
    uint32_t emit_dist[MV__DFL_NDIST];         /* code | len << 16 | extra bits << 24 */
    /* work space of the Huffman builder */
    uint16_t hw_sym[MV__DFL_NLITLEN], hw_tmp[MV__DFL_NLITLEN], hw_par[2 * MV__DFL_NLITLEN];
    uint32_t hw_iw[MV__DFL_NLITLEN];
    uint8_t hw_depth[MV__DFL_NLITLEN];
    uint64_t hw_wa[2 * MV__DFL_NLITLEN], hw_wb[2 * MV__DFL_NLITLEN];
    uint8_t hw_leaf[15][2 * MV__DFL_NLITLEN];
    uint16_t pre_items[MV__DFL_NLITLEN + MV__DFL_NDIST];
    uint8_t all_lens[MV__DFL_NLITLEN + MV__DFL_NDIST];
} mv__dfl;

/* ---- small helpers ---- */

#define MV__DFL_ROUND64(x) (((x) + (size_t)63) & ~(size_t)63)

static int mv__dfl_level(int level) { return level < 0 ? 6 : level > 9 ? 9 : level; }

/* Little-endian loads written byte by byte: the hash (and so the output) must
   not depend on the host byte order; compilers fold these into one load. */
MV__INLINE uint32_t mv__dfl_load32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
MV__INLINE uint64_t mv__dfl_load64(const unsigned char *p)
{
    return (uint64_t)mv__dfl_load32(p) | ((uint64_t)mv__dfl_load32(p + 4) << 32);
}
MV__INLINE void mv__dfl_store64(unsigned char *p, uint64_t v) /* unrolled: merged into one store */
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
    p[4] = (unsigned char)(v >> 32);
    p[5] = (unsigned char)(v >> 40);
    p[6] = (unsigned char)(v >> 48);
    p[7] = (unsigned char)(v >> 56);
}

MV__INLINE unsigned mv__dfl_ctz64(uint64_t x) /* x != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

MV__INLINE unsigned mv__dfl_bsr32(uint32_t x) /* floor(log2(x)), x != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return 31u - (unsigned)__builtin_clz(x);
#else
    unsigned n = 0;
    while (x >>= 1) n++;
    return n;
#endif
}

MV__INLINE uint32_t mv__dfl_hash(uint32_t four_bytes, unsigned shift) { return (four_bytes * 0x9E3779B1u) >> shift; }

/* First i in [start, max) where a[i] != b[i], else max; 8 bytes at a time. */
MV__INLINE unsigned mv__dfl_match_len(const unsigned char *a, const unsigned char *b, unsigned start, unsigned max)
{
    unsigned i = start;
    while (i + 8 <= max) {
        uint64_t x = mv__dfl_load64(a + i) ^ mv__dfl_load64(b + i);
        if (x) return i + (mv__dfl_ctz64(x) >> 3);
        i += 8;
    }
    while (i < max && a[i] == b[i]) i++;
    return i;
}

/* Distance symbol: a table for 1..256, the same table by 128s above (an
   index select, not a branch: distances are unpredictable). */
MV__INLINE unsigned mv__dfl_dist_slot(const mv__dfl *s, unsigned dist)
{
    unsigned idx = dist <= 256 ? dist - 1 : 256 + ((dist - 1) >> 7);
    return s->dist_slot[idx];
}

/* ---- bit writer ---- */

MV__INLINE void mv__dfl_put(mv__dfl_bits *w, uint64_t bits, unsigned n)
{
    w->buf |= bits << w->cnt;
    w->cnt += n;
}

/* Byte at a time, never past end: only the last 8 bytes of the output. */
static void mv__dfl_flush_slow(mv__dfl_bits *w)
{
    while (w->cnt >= 8) {
        if (w->p < w->end) *w->p++ = (unsigned char)w->buf;
        else w->overflow = 1;
        w->buf >>= 8;
        w->cnt -= 8;
    }
}

/* Writes the whole pending bytes with one 8-byte store (cnt <= 63 here). */
MV__INLINE void mv__dfl_flush(mv__dfl_bits *w)
{
    if (MV__LIKELY(w->end - w->p >= 8)) {
        mv__dfl_store64(w->p, w->buf);
        w->p += w->cnt >> 3;
        w->buf >>= w->cnt & 56u;
        w->cnt &= 7u;
    } else {
        mv__dfl_flush_slow(w);
    }
}

/* Pads to a byte boundary with zero bits (stored blocks, end of stream). */
static void mv__dfl_align(mv__dfl_bits *w)
{
    w->cnt = (w->cnt + 7u) & ~7u;
    mv__dfl_flush_slow(w);
    w->buf = 0;
}

/* ---- Huffman codes ---- */

/* The used symbols in increasing order of frequency, ties by symbol: a
   stable LSD radix sort, one pass per significant byte of the largest
   count (no data-dependent branches; two passes for most blocks). */
static unsigned mv__dfl_sort_symbols(mv__dfl *s, const uint32_t *freq, unsigned nsym)
{
    uint16_t *a = s->hw_sym, *b = s->hw_tmp, *t;
    unsigned m = 0, i, shift;
    uint32_t all = 0;
    for (i = 0; i < nsym; i++) {
        a[m] = (uint16_t)i;
        m += freq[i] != 0;
        all |= freq[i];
    }
    for (shift = 0; shift < 32 && (all >> shift) != 0; shift += 8) {
        unsigned count[256], sum = 0;
        memset(count, 0, sizeof(count));
        for (i = 0; i < m; i++) count[(freq[a[i]] >> shift) & 255]++;
        for (i = 0; i < 256; i++) {
            unsigned c = count[i];
            count[i] = sum;
            sum += c;
        }
        for (i = 0; i < m; i++) b[count[(freq[a[i]] >> shift) & 255]++] = a[i];
        t = a;
        a = b;
        b = t;
    }
    if (a != s->hw_sym) memcpy(s->hw_sym, a, m * sizeof(uint16_t));
    return m;
}

/* Unlimited optimal lengths of the m sorted symbols (two-queue Huffman:
   leaves and merged nodes both come out in weight order). Returns the
   longest length. */
static unsigned mv__dfl_huffman_depths(mv__dfl *s, const uint32_t *freq, unsigned m, uint8_t *lens)
{
    uint32_t *iw = s->hw_iw;     /* weights of internal nodes, in creation order */
    uint16_t *par = s->hw_par;   /* parent of leaf k at [k], of node k at [m + k] */
    uint8_t *depth = s->hw_depth;
    const uint16_t *sym = s->hw_sym;
    unsigned leaf = 0, node = 0, k, maxd = 0;
    for (k = 0; k + 1 < m; k++) {
        uint32_t w = 0;
        int pick;
        for (pick = 0; pick < 2; pick++) {
            /* a leaf wins ties: keeps the tree shallow */
            if (leaf < m && (node >= k || freq[sym[leaf]] <= iw[node])) {
                w += freq[sym[leaf]];
                par[leaf++] = (uint16_t)k;
            } else {
                w += iw[node];
                par[m + node++] = (uint16_t)k;
            }
        }
        iw[k] = w;
    }
    depth[m - 2] = 0; /* the root */
    for (k = m - 2; k-- > 0;) depth[k] = (uint8_t)(depth[par[m + k]] + 1);
    for (k = 0; k < m; k++) {
        unsigned d = depth[par[k]] + 1u;
        lens[sym[k]] = (uint8_t)d;
        maxd = MV__MAX(maxd, d);
    }
    return maxd;
}

/* Optimal lengths no longer than maxlen (package-merge), for the rare block
   whose Huffman code is too deep. The list of level l holds the leaves and
   the pairs ("packages") of level l+1's list, merged by weight; the 2m-2
   lightest items of level 1 define the code: a leaf's length is the number
   of levels at which it falls in the selected prefix. Leaves appear in each
   list in weight order, so it is enough to record which items are leaves. */
static void mv__dfl_package_merge(mv__dfl *s, const uint32_t *freq, unsigned m, unsigned maxlen, uint8_t *lens)
{
    uint64_t *cur = s->hw_wa, *nxt = s->hw_wb, *t;
    const uint16_t *sym = s->hw_sym;
    unsigned i, l, cur_n = m, need;
    MEDVOL_ASSERT(maxlen <= 15 && ((size_t)1 << maxlen) >= m);
    for (i = 0; i < m; i++) {
        cur[i] = freq[sym[i]];
        s->hw_leaf[maxlen - 1][i] = 1;
    }
    for (l = maxlen - 1; l >= 1; l--) {
        unsigned np = cur_n / 2, a = 0, b = 0, k = 0, cap = 2 * m - 2;
        uint8_t *leaf = s->hw_leaf[l - 1];
        while (k < cap && (a < m || b < np)) {
            uint64_t wl = a < m ? freq[sym[a]] : UINT64_MAX;
            uint64_t wp = b < np ? cur[2 * b] + cur[2 * b + 1] : UINT64_MAX;
            if (wl <= wp) {
                nxt[k] = wl;
                leaf[k++] = 1;
                a++;
            } else {
                nxt[k] = wp;
                leaf[k++] = 0;
                b++;
            }
        }
        t = cur;
        cur = nxt;
        nxt = t;
        cur_n = k;
    }
    /* walk back down: the packages among the items taken at level l ask
       for twice as many items at level l+1 */
    for (i = 0; i < m; i++) lens[sym[i]] = 0;
    need = 2 * m - 2;
    for (l = 1; l <= maxlen && need > 0; l++) {
        const uint8_t *leaf = s->hw_leaf[l - 1];
        unsigned leaves = 0, k;
        for (k = 0; k < need; k++) leaves += leaf[k];
        for (k = 0; k < leaves; k++) lens[sym[k]]++;
        need = 2 * (need - leaves);
    }
}

/* Optimal code lengths no longer than maxlen for freq[0..nsym); unused
   symbols get 0. */
static void mv__dfl_huff_lengths(mv__dfl *s, const uint32_t *freq, unsigned nsym, unsigned maxlen, uint8_t *lens)
{
    unsigned m;
    memset(lens, 0, nsym);
    m = mv__dfl_sort_symbols(s, freq, nsym);
    if (m < 2) {
        /* one or no symbol: a complete code still needs two */
        unsigned a = m ? s->hw_sym[0] : 0;
        lens[a] = 1;
        lens[a == 0 ? 1 : 0] = 1;
        return;
    }
    if (mv__dfl_huffman_depths(s, freq, m, lens) > maxlen) mv__dfl_package_merge(s, freq, m, maxlen, lens);
}

/* Canonical codes from lengths (RFC 1951 3.2.2), bit-reversed because DEFLATE
   sends Huffman codes most significant bit first into an LSB-first stream. */
static void mv__dfl_canonical(const uint8_t *lens, unsigned nsym, uint16_t *codes)
{
    unsigned count[16], next[16], i, b, code = 0;
    memset(count, 0, sizeof(count));
    for (i = 0; i < nsym; i++) count[lens[i]]++;
    count[0] = 0;
    for (b = 1; b < 16; b++) {
        code = (code + count[b - 1]) << 1;
        next[b] = code;
    }
    for (i = 0; i < nsym; i++) {
        unsigned len = lens[i], c, r = 0;
        if (!len) {
            codes[i] = 0;
            continue;
        }
        c = next[len]++;
        for (b = 0; b < len; b++) r |= ((c >> b) & 1u) << (len - 1 - b);
        codes[i] = (uint16_t)r;
    }
}

static void mv__dfl_make_code(mv__dfl *s, const uint32_t *freq, unsigned nsym, unsigned maxlen, mv__dfl_code *c)
{
    mv__dfl_huff_lengths(s, freq, nsym, maxlen, c->len);
    mv__dfl_canonical(c->len, nsym, c->code);
}

/* ---- block writer ---- */

/* Run-length codes the code lengths with symbols 16 (repeat previous 3-6),
   17 (3-10 zeros), 18 (11-138 zeros). Items are symbol | extra << 5. */
static unsigned mv__dfl_precode_items(const uint8_t *lens, unsigned total, uint16_t *items, uint32_t *freq)
{
    unsigned i = 0, ni = 0;
    memset(freq, 0, MV__DFL_NPRE * sizeof(uint32_t));
    while (i < total) {
        unsigned v = lens[i], run = 1;
        while (i + run < total && lens[i + run] == v) run++;
        i += run;
        if (v == 0) {
            while (run >= 11) {
                unsigned r = MV__MIN(run, 138u);
                items[ni++] = (uint16_t)(18u | ((r - 11u) << 5));
                freq[18]++;
                run -= r;
            }
            if (run >= 3) {
                items[ni++] = (uint16_t)(17u | ((run - 3u) << 5));
                freq[17]++;
                run = 0;
            }
        } else {
            items[ni++] = (uint16_t)v;
            freq[v]++;
            run--;
            while (run >= 3) {
                unsigned r = MV__MIN(run, 6u);
                items[ni++] = (uint16_t)(16u | ((r - 3u) << 5));
                freq[16]++;
                run -= r;
            }
        }
        while (run > 0) {
            items[ni++] = (uint16_t)v;
            freq[v]++;
            run--;
        }
    }
    return ni;
}

/* Bits of the symbols of a block under a code (litlen and distance parts),
   extra bits excluded: they are the same whichever code is used. */
static uint64_t mv__dfl_symbol_bits(const uint32_t *llf, const uint8_t *lll, const uint32_t *df, const uint8_t *dl)
{
    uint64_t bits = 0;
    unsigned i;
    for (i = 0; i < 286; i++) bits += (uint64_t)llf[i] * lll[i];
    for (i = 0; i < 30; i++) bits += (uint64_t)df[i] * dl[i];
    return bits;
}

static uint64_t mv__dfl_extra_bits(const uint32_t *llf, const uint32_t *df)
{
    uint64_t bits = 0;
    unsigned i;
    for (i = 0; i < 29; i++) bits += (uint64_t)llf[257 + i] * mv__dfl_len_extra[i];
    for (i = 0; i < 30; i++) bits += (uint64_t)df[i] * mv__dfl_dist_extra[i];
    return bits;
}

/* Stored form of len bytes starting at bit offset cnt (0..7): a 3-bit
   header, padding to a byte, LEN/NLEN, the bytes, for every 65535 bytes. */
static uint64_t mv__dfl_stored_bits(size_t len, unsigned cnt)
{
    uint64_t pieces = len == 0 ? 1 : ((uint64_t)len + MV__DFL_MAX_STORED - 1) / MV__DFL_MAX_STORED;
    uint64_t pad = (8u - ((cnt + 3u) & 7u)) & 7u;
    return 3 + pad + 32 + (pieces - 1) * 40 + (uint64_t)len * 8;
}

static void mv__dfl_write_stored(mv__dfl_bits *w, const unsigned char *p, size_t len, int final)
{
    do {
        size_t k = MV__MIN(len, (size_t)MV__DFL_MAX_STORED);
        int last = final && k == len;
        mv__dfl_put(w, (uint64_t)last, 3); /* BTYPE 00 */
        mv__dfl_align(w);
        if ((size_t)(w->end - w->p) < 4 + k) {
            w->overflow = 1;
            return;
        }
        w->p[0] = (unsigned char)k;
        w->p[1] = (unsigned char)(k >> 8);
        w->p[2] = (unsigned char)~k;
        w->p[3] = (unsigned char)(~k >> 8);
        if (k) {
            memcpy(w->p + 4, p, k);
            p += k;
        }
        w->p += 4 + k;
        len -= k;
    } while (len > 0);
}

/* Per-block output tables: a literal is one lookup; a match length is one
   lookup with its extra bits already attached. */
static void mv__dfl_prepare_emit(mv__dfl *s, const mv__dfl_code *ll, const mv__dfl_code *d)
{
    unsigned i, len;
    for (i = 0; i < 256; i++) s->emit_lit[i] = ll->code[i] | ((uint32_t)ll->len[i] << 16);
    for (len = MV__DFL_MIN_MATCH; len <= MV__DFL_MAX_MATCH; len++) {
        unsigned slot = s->len_slot[len], sym = 257 + slot;
        uint32_t bits = ll->code[sym] | ((uint32_t)(len - mv__dfl_len_base[slot]) << ll->len[sym]);
        s->emit_len[len] = bits | ((uint32_t)(ll->len[sym] + mv__dfl_len_extra[slot]) << 24);
    }
    for (i = 0; i < 30; i++)
        s->emit_dist[i] = d->code[i] | ((uint32_t)d->len[i] << 16) | ((uint32_t)mv__dfl_dist_extra[i] << 24);
}

/* The sequences of a block, then end-of-block. The bit buffer lives in a
   local copy so the compiler keeps it in registers across byte stores. */
static void mv__dfl_emit_seqs(mv__dfl *s, const unsigned char *lit, const mv__dfl_seq *seq, size_t nseq,
                              const mv__dfl_code *ll)
{
    mv__dfl_bits w = s->bw;
    const uint32_t *el = s->emit_lit;
    size_t i;
    for (i = 0; i < nseq; i++) {
        uint32_t run = seq[i].litrun;
        unsigned len = seq[i].len;
        /* three literals of <= 15 bits fit above the <= 7 pending bits */
        while (run >= 3) {
            uint32_t e0 = el[lit[0]], e1 = el[lit[1]], e2 = el[lit[2]];
            mv__dfl_put(&w, e0 & 0xFFFF, e0 >> 16);
            mv__dfl_put(&w, e1 & 0xFFFF, e1 >> 16);
            mv__dfl_put(&w, e2 & 0xFFFF, e2 >> 16);
            mv__dfl_flush(&w);
            lit += 3;
            run -= 3;
        }
        while (run > 0) {
            uint32_t e = el[*lit++];
            mv__dfl_put(&w, e & 0xFFFF, e >> 16);
            run--;
        }
        if (len) {
            unsigned dist = seq[i].dist, slot = mv__dfl_dist_slot(s, dist);
            uint32_t el2 = s->emit_len[len], ed = s->emit_dist[slot];
            uint64_t dbits = (ed & 0xFFFF) | ((uint64_t)(dist - mv__dfl_dist_base[slot]) << ((ed >> 16) & 0xFF));
            mv__dfl_flush(&w);
            mv__dfl_put(&w, el2 & 0xFFFFFF, el2 >> 24);
            mv__dfl_put(&w, dbits, ((ed >> 16) & 0xFF) + (ed >> 24));
            lit += len;
        }
        mv__dfl_flush(&w);
    }
    mv__dfl_put(&w, ll->code[MV__DFL_EOB], ll->len[MV__DFL_EOB]);
    mv__dfl_flush(&w);
    s->bw = w;
}

/* Writes input [start, end), parsed as seq[0..nseq) with frequencies llf/df,
   as one block in whichever form is smallest. */
static void mv__dfl_write_block(mv__dfl *s, size_t start, size_t end, size_t nseq, const uint32_t *llf_in,
                                const uint32_t *df, int final)
{
    uint32_t llf[MV__DFL_NLITLEN];
    uint32_t pre_freq[MV__DFL_NPRE];
    unsigned hlit = 286, hdist = 30, hclen = 19, nitems, i;
    uint64_t extra, dyn_bits, fixed_bits, stored_bits, best;
    mv__dfl_bits *w = &s->bw;
    if (w->overflow) return;
    memcpy(llf, llf_in, sizeof(llf));
    llf[MV__DFL_EOB] = 1;

    /* dynamic form: codes, then the code lengths run-length coded */
    mv__dfl_make_code(s, llf, 286, 15, &s->ll);
    mv__dfl_make_code(s, df, 30, 15, &s->d);
    while (hlit > 257 && s->ll.len[hlit - 1] == 0) hlit--;
    while (hdist > 1 && s->d.len[hdist - 1] == 0) hdist--;
    memcpy(s->all_lens, s->ll.len, hlit);
    memcpy(s->all_lens + hlit, s->d.len, hdist);
    nitems = mv__dfl_precode_items(s->all_lens, hlit + hdist, s->pre_items, pre_freq);
    mv__dfl_make_code(s, pre_freq, MV__DFL_NPRE, 7, &s->pre);
    while (hclen > 4 && s->pre.len[mv__dfl_precode_order[hclen - 1]] == 0) hclen--;
    extra = mv__dfl_extra_bits(llf, df);
    dyn_bits = 3 + 5 + 5 + 4 + 3 * (uint64_t)hclen + extra + mv__dfl_symbol_bits(llf, s->ll.len, df, s->d.len);
    for (i = 0; i < MV__DFL_NPRE; i++) {
        static const unsigned char rep_extra[3] = {2, 3, 7};
        dyn_bits += (uint64_t)pre_freq[i] * (s->pre.len[i] + (i >= 16 ? rep_extra[i - 16] : 0));
    }
    fixed_bits = 3 + extra + mv__dfl_symbol_bits(llf, s->fixed_ll.len, df, s->fixed_d.len);
    stored_bits = mv__dfl_stored_bits(end - start, w->cnt);
    best = MV__MIN(dyn_bits, MV__MIN(fixed_bits, stored_bits));

    /* room check up front, so the fast writer never meets the end mid-block */
    if ((uint64_t)(w->end - w->p) < (w->cnt + best + 7) / 8) {
        w->overflow = 1;
        return;
    }
    if (best == stored_bits) {
        mv__dfl_write_stored(w, s->in + start, end - start, final);
        return;
    }
    if (best == dyn_bits) {
        mv__dfl_put(w, (uint64_t)final | (2u << 1), 3);
        mv__dfl_put(w, hlit - 257, 5);
        mv__dfl_put(w, hdist - 1, 5);
        mv__dfl_put(w, hclen - 4, 4);
        mv__dfl_flush(w);
        for (i = 0; i < hclen; i++) {
            mv__dfl_put(w, s->pre.len[mv__dfl_precode_order[i]], 3);
            if (i % 8 == 7) mv__dfl_flush(w);
        }
        mv__dfl_flush(w);
        for (i = 0; i < nitems; i++) {
            unsigned sym = s->pre_items[i] & 31u, x = s->pre_items[i] >> 5;
            mv__dfl_put(w, s->pre.code[sym], s->pre.len[sym]);
            if (sym >= 16) mv__dfl_put(w, x, sym == 16 ? 2 : sym == 17 ? 3 : 7);
            mv__dfl_flush(w);
        }
        mv__dfl_prepare_emit(s, &s->ll, &s->d);
        mv__dfl_emit_seqs(s, s->in + start, s->seq, nseq, &s->ll);
    } else {
        mv__dfl_put(w, (uint64_t)final | (1u << 1), 3);
        mv__dfl_prepare_emit(s, &s->fixed_ll, &s->fixed_d);
        mv__dfl_emit_seqs(s, s->in + start, s->seq, nseq, &s->fixed_ll);
    }
}

/* ---- block splitting ---- */

/* log2(x) in 1/65536 bits, x >= 1 (6-bit table, linear in between). */
MV__INLINE uint32_t mv__dfl_log2_q16(uint32_t x)
{
    unsigned e = mv__dfl_bsr32(x);
    uint32_t m = e >= 22 ? x >> (e - 22) : x << (22 - e); /* 1.22 fixed point */
    uint32_t idx = (m >> 16) & 63, frac = m & 0xFFFF;
    uint32_t lo = mv__dfl_log2_frac[idx], hi = mv__dfl_log2_frac[idx + 1];
    return ((uint32_t)e << 16) + lo + (((hi - lo) * frac) >> 16);
}

/* Ideal cost of coding the counts f[0..n) with their own code:
   T log2 T - sum f log2 f, in 1/65536 bits. */
static uint64_t mv__dfl_entropy(const uint32_t *f, unsigned n)
{
    uint64_t total = 0, sum = 0;
    unsigned i;
    for (i = 0; i < n; i++)
        if (f[i]) {
            total += f[i];
            sum += (uint64_t)f[i] * mv__dfl_log2_q16(f[i]);
        }
    if (total == 0) return 0;
    return total * mv__dfl_log2_q16((uint32_t)MV__MIN(total, (uint64_t)UINT32_MAX)) - sum;
}

static uint64_t mv__dfl_cost2(const uint32_t *ll, const uint32_t *d)
{
    return mv__dfl_entropy(ll, 286) + mv__dfl_entropy(d, 30);
}

/* Should the block end before the chunk just parsed? Yes when coding the two
   together costs more than coding them apart plus a new block's header. The
   header is priced at 4 bits per symbol the chunk uses plus a constant. The
   merged cost is computed anyway and kept for the next decision. */
static int mv__dfl_should_split(mv__dfl *s, uint64_t *merged_cost, uint64_t *chunk_cost)
{
    uint32_t mll[MV__DFL_NLITLEN], md[MV__DFL_NDIST];
    unsigned i, used = 0;
    uint64_t header;
    for (i = 0; i < MV__DFL_NLITLEN; i++) {
        mll[i] = s->block_ll[i] + s->chunk_ll[i];
        used += s->chunk_ll[i] != 0;
    }
    for (i = 0; i < MV__DFL_NDIST; i++) {
        md[i] = s->block_d[i] + s->chunk_d[i];
        used += s->chunk_d[i] != 0;
    }
    *merged_cost = mv__dfl_cost2(mll, md);
    *chunk_cost = mv__dfl_cost2(s->chunk_ll, s->chunk_d);
    header = ((uint64_t)(4 * used + 100)) << 16;
    return *merged_cost > s->block_cost + *chunk_cost + header;
}

/* ---- parsing ---- */

/* Counts the literals in[a..b) (runs the parsers step over in bulk). */
MV__INLINE void mv__dfl_count_lits(uint32_t *freq, const unsigned char *in, size_t a, size_t b)
{
    for (; a < b; a++) freq[in[a]]++;
}

/* Appends a match after the literals since lit, counting its symbols. */
MV__INLINE mv__dfl_seq *mv__dfl_add_match(mv__dfl *s, mv__dfl_seq *sq, size_t litrun, unsigned len, unsigned dist)
{
    sq->litrun = (uint32_t)litrun;
    sq->len = (uint16_t)len;
    sq->dist = (uint16_t)dist;
    s->chunk_ll[257 + s->len_slot[len]]++;
    s->chunk_d[mv__dfl_dist_slot(s, dist)]++;
    return sq + 1;
}

/* Ends a chunk: the literals since lit become a sequence without a match. */
MV__INLINE void mv__dfl_end_chunk(mv__dfl *s, mv__dfl_seq *sq, size_t litrun)
{
    sq->litrun = (uint32_t)litrun;
    sq->len = 0;
    sq->dist = 0;
    s->nseq = (size_t)(sq + 1 - s->seq);
}

/* Level 1: greedy, one candidate per hash. After 2^skip positions without a
   match the step grows by one every 2^skip positions, so noise is crossed
   quickly. Literals are counted as they are passed: one increment, no loop
   of unpredictable length per match. */
static size_t mv__dfl_parse_fast(mv__dfl *s, size_t pos, size_t limit)
{
    const unsigned char *in = s->in;
    const size_t n = s->n, base = s->base;
    const size_t hash_end = n >= 4 ? n - 3 : 0; /* positions with 4 bytes to hash */
    const size_t scan_end = MV__MIN(limit, hash_end);
    uint32_t *head = s->head, *litf = s->chunk_ll;
    mv__dfl_seq *sq = s->seq + s->nseq;
    const unsigned shift = s->hash_shift, skip = s->par.skip;
    const size_t calm = skip ? (size_t)2 << skip : SIZE_MAX; /* misses before the step exceeds 1 */
    size_t lit = pos, misses = skip ? (size_t)1 << skip : 0;
    while (pos < scan_end) {
        uint32_t x = mv__dfl_load32(in + pos);
        uint32_t h = mv__dfl_hash(x, shift);
        size_t cand = base + head[h];
        head[h] = (uint32_t)(pos - base);
        /* One test, no branch to mispredict on noise: the 4 bytes differ, or
           the distance is outside 1..32768 ((d - 1) >> 15 != 0; d = 0 only
           at the very start). cand is always a position already passed, so
           reading it is safe even when it is out of the window. */
        uint32_t dist = (uint32_t)(pos - cand);
        if (MV__UNLIKELY(((mv__dfl_load32(in + cand) ^ x) | ((dist - 1u) >> 15)) == 0)) {
            unsigned max = (unsigned)MV__MIN((size_t)MV__DFL_MAX_MATCH, n - pos);
            unsigned len = mv__dfl_match_len(in + cand, in + pos, 4, max);
            size_t q, end = pos + len;
            sq = mv__dfl_add_match(s, sq, pos - lit, len, dist);
            /* the positions inside the match go in too: text finds ~5% more */
            for (q = pos + 1; q < end && q < hash_end; q++)
                head[mv__dfl_hash(mv__dfl_load32(in + q), shift)] = (uint32_t)(q - base);
            pos = end;
            lit = pos;
            misses = skip ? (size_t)1 << skip : 0;
            continue;
        }
        litf[x & 0xFF]++;
        if (MV__LIKELY(misses < calm)) {
            pos++;
            misses++;
        } else {
            size_t step = MV__MIN(misses++ >> skip, n - pos);
            mv__dfl_count_lits(litf, in, pos + 1, pos + step);
            pos += step;
        }
    }
    if (pos < limit) {
        mv__dfl_count_lits(litf, in, pos, limit);
        pos = limit;
    }
    mv__dfl_end_chunk(s, sq, pos - lit);
    return pos;
}

/* What the chain match finder reads on every position, copied out of the
   state into a local: the table stores (uint32_t, uint16_t) could otherwise
   alias the state's fields, and compilers would reload them each time. */
typedef struct {
    const unsigned char *in;
    uint32_t *head;
    uint16_t *prev;
    size_t base;
    unsigned shift, nice;
} mv__dfl_chain;

/* Inserts pos into its hash chain; returns the previous head (a candidate). */
MV__INLINE size_t mv__dfl_insert(const mv__dfl_chain *c, size_t pos)
{
    uint32_t h = mv__dfl_hash(mv__dfl_load32(c->in + pos), c->shift);
    size_t cand = c->base + c->head[h], d = pos - cand;
    c->head[h] = (uint32_t)(pos - c->base);
    c->prev[pos & (MV__DFL_WSIZE - 1)] = (uint16_t)(d <= MV__DFL_MAX_DIST ? d : 0);
    return cand;
}

/* Longest match at pos longer than best, following the chain from cand.
   Every candidate is checked to be within the window before its chain slot
   is read, so slots are only read for positions that were inserted. */
MV__INLINE unsigned mv__dfl_longest(const mv__dfl_chain *c, size_t pos, size_t cand, unsigned best, unsigned max,
                                    unsigned depth, unsigned *dist)
{
    const unsigned char *p = c->in + pos;
    const uint32_t first = mv__dfl_load32(p);
    if (best >= max) return best;
    for (;;) {
        size_t d = pos - cand;
        const unsigned char *q = c->in + cand;
        unsigned pd;
        if (d - 1 >= MV__DFL_MAX_DIST) break;
        /* the 4 bytes ending at best must match for a longer match */
        if (mv__dfl_load32(q + best - 3) == mv__dfl_load32(p + best - 3) && mv__dfl_load32(q) == first) {
            unsigned len = mv__dfl_match_len(q, p, 4, max);
            if (len > best) {
                best = len;
                *dist = (unsigned)d;
                if (len >= c->nice || len >= max) break;
            }
        }
        if (--depth == 0) break;
        pd = c->prev[cand & (MV__DFL_WSIZE - 1)];
        if (pd == 0) break;
        cand -= pd;
    }
    return best;
}

/* Levels 2-9: hash chains; greedy, or lazy (a match is deferred by one byte
   when the next position has a longer one). Every position inside a match is
   inserted, so long runs find themselves at distance 1 again. */
MV__INLINE size_t mv__dfl_parse_chain(mv__dfl *s, size_t pos, size_t limit, int lazy)
{
    const unsigned char *in = s->in;
    const size_t n = s->n;
    const size_t hash_end = n >= 4 ? n - 3 : 0; /* positions with 4 bytes to hash */
    const size_t scan_end = MV__MIN(limit, hash_end);
    const unsigned depth = s->par.depth, good = s->par.good, max_lazy = s->par.max_lazy;
    uint32_t *litf = s->chunk_ll;
    mv__dfl_seq *sq = s->seq + s->nseq;
    size_t lit = pos;
    mv__dfl_chain c;
    c.in = in;
    c.head = s->head;
    c.prev = s->prev;
    c.base = s->base;
    c.shift = s->hash_shift;
    c.nice = s->par.nice;
    while (pos < scan_end) {
        unsigned dist = 0, len, max = (unsigned)MV__MIN((size_t)MV__DFL_MAX_MATCH, n - pos);
        size_t cand = mv__dfl_insert(&c, pos), next_ins = pos + 1, end, q;
        len = mv__dfl_longest(&c, pos, cand, MV__DFL_MIN_MATCH - 1, max, depth, &dist);
        if (len < MV__DFL_MIN_MATCH) {
            litf[in[pos]]++;
            pos++;
            continue;
        }
        if (lazy) {
            while (len < max_lazy && pos + 1 < scan_end) {
                unsigned d2 = 0, max2 = (unsigned)MV__MIN((size_t)MV__DFL_MAX_MATCH, n - pos - 1), len2;
                size_t c2 = mv__dfl_insert(&c, pos + 1);
                next_ins = pos + 2;
                len2 = mv__dfl_longest(&c, pos + 1, c2, len, max2, len >= good ? depth / 4 + 1 : depth, &d2);
                if (len2 <= len) break;
                litf[in[pos]]++; /* the byte at pos becomes a literal */
                pos++;
                len = len2;
                dist = d2;
            }
        }
        sq = mv__dfl_add_match(s, sq, pos - lit, len, dist);
        end = pos + len;
        for (q = next_ins; q < end && q < hash_end; q++) mv__dfl_insert(&c, q);
        pos = end;
        lit = pos;
    }
    if (pos < limit) {
        mv__dfl_count_lits(litf, in, pos, limit);
        pos = limit;
    }
    mv__dfl_end_chunk(s, sq, pos - lit);
    return pos;
}

static size_t mv__dfl_parse_greedy(mv__dfl *s, size_t pos, size_t limit)
{
    return mv__dfl_parse_chain(s, pos, limit, 0);
}
static size_t mv__dfl_parse_lazy(mv__dfl *s, size_t pos, size_t limit)
{
    return mv__dfl_parse_chain(s, pos, limit, 1);
}

/* Every 1 GiB, move the base of the 32-bit positions forward; entries that
   fall before the new base become the base itself, which is out of reach
   of every later position. */
static void mv__dfl_rebase(mv__dfl *s, size_t pos)
{
    MEDVOL_ASSERT(MV__DFL_REBASE_AT > 2 * (size_t)MV__DFL_WSIZE + MV__DFL_CHUNK + MV__DFL_MAX_MATCH);
    size_t nb = pos - 2 * (size_t)MV__DFL_WSIZE, delta = nb - s->base, i, nh = (size_t)1 << s->par.hash_bits;
    for (i = 0; i < nh; i++) s->head[i] = s->head[i] > delta ? (uint32_t)(s->head[i] - delta) : 0;
    s->base = nb;
}

/* ---- driver ---- */

static void mv__dfl_init_tables(mv__dfl *s)
{
    unsigned slot, i;
    for (slot = 0; slot < 29; slot++) {
        unsigned lo = mv__dfl_len_base[slot], hi = slot == 28 ? 258 : mv__dfl_len_base[slot + 1] - 1u;
        for (i = lo; i <= hi; i++) s->len_slot[i] = (uint8_t)slot;
    }
    s->len_slot[0] = s->len_slot[1] = s->len_slot[2] = 0;
    for (slot = 0; slot < 30; slot++) {
        unsigned lo = mv__dfl_dist_base[slot], hi = lo + (1u << mv__dfl_dist_extra[slot]) - 1;
        for (i = lo; i <= hi; i++) {
            if (i <= 256) s->dist_slot[i - 1] = (uint8_t)slot;
            else s->dist_slot[256 + ((i - 1) >> 7)] = (uint8_t)slot;
        }
    }
    /* the static code of RFC 1951 3.2.6 */
    for (i = 0; i < 288; i++) s->fixed_ll.len[i] = (uint8_t)(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
    memset(s->fixed_d.len, 0, sizeof(s->fixed_d.len));
    for (i = 0; i < 32; i++) s->fixed_d.len[i] = 5;
    mv__dfl_canonical(s->fixed_ll.len, 288, s->fixed_ll.code);
    mv__dfl_canonical(s->fixed_d.len, 32, s->fixed_d.code);
}

/* Head table size for n input bytes: the level's, but no more than about
   four entries per input byte (clearing a big table would dominate small
   inputs). Depends on n and the level only, so output stays deterministic. */
static unsigned mv__dfl_hash_bits(const mv__dfl_params *p, size_t n)
{
    unsigned bits = p->hash_bits;
    while (bits > 10 && ((size_t)1 << (bits - 2)) >= n) bits--;
    return bits;
}

/* Bytes of scratch the compressor needs at this level (state: hash tables,
   chains, symbol buffers): ~0.3 MB at level 1, ~0.75 MB at 2-6, ~1.3 MB at
   7-9. Levels below 0 mean 6, above 9 mean 9. */
static MV__UNUSED size_t mv__deflate_scratch_size(int level)
{
    const mv__dfl_params *p = &mv__dfl_levels[mv__dfl_level(level)];
    if (mv__dfl_level(level) == 0) return 64;
    return MV__DFL_ROUND64(sizeof(mv__dfl)) + MV__DFL_ROUND64((size_t)4 << p->hash_bits) +
           (p->chains ? MV__DFL_ROUND64(MV__DFL_WSIZE * sizeof(uint16_t)) : 0) +
           MV__DFL_ROUND64(MV__DFL_SEQ_CAP * sizeof(mv__dfl_seq));
}

/* Worst-case compressed size of n input bytes. Every block costs at most its
   stored form: 5 bytes per 65535 bytes, plus per block (each at least
   MV__DFL_CHUNK bytes but the last) up to 5.25 bytes for a stored piece that
   starts mid-byte or short; n/2048 + 16 covers both with room. Saturates
   instead of wrapping. */
static MV__UNUSED size_t mv__deflate_bound(size_t n)
{
    size_t extra = n / 2048 + 16;
    return n > SIZE_MAX - extra ? SIZE_MAX : n + extra;
}

/* Level 0: stored blocks only, straight copies. */
static size_t mv__dfl_store_all(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    mv__dfl_bits w;
    w.buf = 0;
    w.cnt = 0;
    w.p = out;
    w.end = out + cap;
    w.overflow = 0;
    mv__dfl_write_stored(&w, in, n, 1);
    return w.overflow ? 0 : (size_t)(w.p - out);
}

/* Lays the state out in the scratch block and clears what must be clear. */
static void mv__dfl_setup(mv__dfl *s, const unsigned char *in, size_t n, unsigned char *out, size_t cap, int level)
{
    unsigned char *mem = (unsigned char *)s;
    size_t off = MV__DFL_ROUND64(sizeof(mv__dfl));
    s->in = in;
    s->n = n;
    s->base = 0;
    s->par = mv__dfl_levels[level];
    s->par.hash_bits = (unsigned char)mv__dfl_hash_bits(&s->par, n);
    s->hash_shift = 32u - s->par.hash_bits;
    s->head = (uint32_t *)(void *)(mem + off);
    off += MV__DFL_ROUND64((size_t)4 << mv__dfl_levels[level].hash_bits);
    s->prev = NULL;
    if (s->par.chains) {
        /* never cleared: a chain slot is only read for a position that was
           inserted (see mv__dfl_longest) */
        s->prev = (uint16_t *)(void *)(mem + off);
        off += MV__DFL_ROUND64(MV__DFL_WSIZE * sizeof(uint16_t));
    }
    s->seq = (mv__dfl_seq *)(void *)(mem + off);
    s->nseq = 0;
    /* all-zero heads read as position 0: a real position, so a "match" there
       is a real match, and the same on every run whatever the scratch held */
    memset(s->head, 0, (size_t)4 << s->par.hash_bits);
    s->bw.buf = 0;
    s->bw.cnt = 0;
    s->bw.p = out;
    s->bw.end = out + cap;
    s->bw.overflow = 0;
    mv__dfl_init_tables(s);
    memset(s->block_ll, 0, sizeof(s->block_ll));
    memset(s->block_d, 0, sizeof(s->block_d));
    s->block_cost = 0;
}

/* Writes the block [start, end) from the first nseq sequences and the block
   counts, then starts the next block with the sequences and counts of the
   chunk that followed (chunk_ll/chunk_d, or nothing). */
static void mv__dfl_end_block(mv__dfl *s, size_t start, size_t end, size_t nseq, int with_chunk, uint64_t chunk_cost)
{
    mv__dfl_write_block(s, start, end, nseq, s->block_ll, s->block_d, 0);
    memmove(s->seq, s->seq + nseq, (s->nseq - nseq) * sizeof(mv__dfl_seq));
    s->nseq -= nseq;
    if (with_chunk) {
        memcpy(s->block_ll, s->chunk_ll, sizeof(s->block_ll));
        memcpy(s->block_d, s->chunk_d, sizeof(s->block_d));
    } else {
        memset(s->block_ll, 0, sizeof(s->block_ll));
        memset(s->block_d, 0, sizeof(s->block_d));
    }
    s->block_cost = chunk_cost;
}

/* Compresses in[0..n) as one complete raw DEFLATE stream (RFC 1951, last
   block with BFINAL = 1) into out[0..cap). Returns the bytes written, or 0
   if cap was too small (never writes past out + cap, never reads past
   in + n). level 0 = stored blocks only, 1 = fastest, 6 = default, 9 =
   smallest. scratch: mv__deflate_scratch_size(level) bytes, 64-byte aligned,
   contents irrelevant. Same input and level, same bytes, on every machine.
   allocates: no. thread-safe: yes, with a scratch block per thread. */
static MV__UNUSED size_t mv__deflate_raw(const unsigned char *in, size_t n, unsigned char *out, size_t cap,
                                         int level, void *scratch)
{
    mv__dfl *s = (mv__dfl *)scratch;
    size_t (*parse)(mv__dfl *, size_t, size_t);
    size_t pos = 0, block_start = 0;
    static const unsigned char no_input = 0;
    level = mv__dfl_level(level);
    MEDVOL_ASSERT(((uintptr_t)scratch & 63) == 0);
    if (cap < 2) return 0; /* the shortest stream, an empty static block, is 2 bytes */
    if (n == 0) in = &no_input; /* may be NULL then: no arithmetic on a null pointer */
    if (level == 0) return mv__dfl_store_all(in, n, out, cap);
    mv__dfl_setup(s, in, n, out, cap, level);
    parse = !s->par.chains ? mv__dfl_parse_fast : s->par.lazy ? mv__dfl_parse_lazy : mv__dfl_parse_greedy;
    while (pos < n) {
        size_t chunk_start = pos, seq0, i;
        uint64_t merged_cost = 0, chunk_cost = 0;
        if (s->nseq + MV__DFL_CHUNK_SEQS > MV__DFL_SEQ_CAP || pos - block_start >= MV__DFL_MAX_BLOCK) {
            /* the sequence store could overflow, or the block is long enough */
            mv__dfl_end_block(s, block_start, pos, s->nseq, 0, 0);
            block_start = pos;
        }
        if (s->bw.overflow) return 0;
        if (pos - s->base >= MV__DFL_REBASE_AT) mv__dfl_rebase(s, pos);
        seq0 = s->nseq;
        memset(s->chunk_ll, 0, sizeof(s->chunk_ll));
        memset(s->chunk_d, 0, sizeof(s->chunk_d));
        pos = parse(s, pos, MV__MIN(n, pos + MV__DFL_CHUNK));
        if (block_start < chunk_start && mv__dfl_should_split(s, &merged_cost, &chunk_cost)) {
            mv__dfl_end_block(s, block_start, chunk_start, seq0, 1, chunk_cost);
            block_start = chunk_start;
        } else {
            for (i = 0; i < MV__DFL_NLITLEN; i++) s->block_ll[i] += s->chunk_ll[i];
            for (i = 0; i < MV__DFL_NDIST; i++) s->block_d[i] += s->chunk_d[i];
            s->block_cost = block_start < chunk_start ? merged_cost : mv__dfl_cost2(s->block_ll, s->block_d);
        }
    }
    mv__dfl_write_block(s, block_start, n, s->nseq, s->block_ll, s->block_d, 1);
    mv__dfl_align(&s->bw);
    return s->bw.overflow ? 0 : (size_t)(s->bw.p - out);
}

/* ---- byte sinks: memory (counting past its end), file descriptor, stream ---- */
typedef struct mv__sink {
    int kind; /* 0 memory, 1 fd, 2 io */
    unsigned char *buf;
    size_t cap, len;
    int fd;
    const mv_io *io;
    const char *name;
} mv__sink;

static mv_status mv__sink_write(mv__sink *s, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    if (s->kind == 0) {
        if (s->buf && s->len <= s->cap && n <= s->cap - s->len) memcpy(s->buf + s->len, b, n);
        s->len += n;
        return MV_OK;
    }
    if (s->kind == 2) {
        MV__CHECK(s->io->write(s->io->user, b, n) == 0, MV_ERR_IO, "%s: write callback failed", s->name);
        s->len += n;
        return MV_OK;
    }
#if defined(MV__HAVE_FILES)
    while (n) {
        ssize_t w = write(s->fd, b, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (w < 0 && errno == EINTR) continue;
        MV__CHECK(w > 0, MV_ERR_IO, "writing '%s': %s", s->name, w < 0 ? strerror(errno) : "no progress");
        b += w;
        n -= (size_t)w;
        s->len += (size_t)w;
    }
#endif
    return MV_OK;
}

/* ---- gzip writing ----
   Data is cut into members of opts.member_size bytes (1 MiB by default),
   compressed in parallel in batches and written in order. Every member is a
   plain gzip member carrying medvol's 'MV' index subfield, so any gzip
   reader decompresses the whole file and medvol decompresses it in
   parallel and at random. A member never spans two pieces (a NIfTI header
   and its voxels), so the voxels start a member. */
#define MV__GZ_HDR_INDEXED (10 + 2 + 4 + MV__GZ_SUBFIELD_LEN)
#define MV__GZ_DEFAULT_MEMBER ((size_t)1 << 20)

typedef struct mv__gz_piece {
    const unsigned char *p;
    size_t n;
} mv__gz_piece;

static size_t mv__gz_member_bound(size_t n) { return MV__GZ_HDR_INDEXED + mv__deflate_bound(n) + 8; }

static int mv__gz_level(const mv_gzip_opts *o)
{
    int level = o ? o->level : 0;
    return level < 0 ? 0 : level == 0 ? 6 : level > 9 ? 9 : level;
}

static void mv__put_le(unsigned char *p, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A member header; with an index: FEXTRA with the 'MV' subfield. */
static size_t mv__gz_write_header(unsigned char *h, int level, int indexed, uint64_t csize, uint64_t usize)
{
    h[0] = 0x1f;
    h[1] = 0x8b;
    h[2] = 8;
    h[3] = indexed ? 4 : 0;
    mv__put_le(h + 4, 0, 4);                      /* no modification time */
    h[8] = (unsigned char)(level >= 9 ? 2 : level == 1 ? 4 : 0); /* XFL: slowest / fastest */
    h[9] = 255;                                   /* OS unknown */
    if (!indexed) return 10;
    mv__put_le(h + 10, 4 + MV__GZ_SUBFIELD_LEN, 2);
    h[12] = 'M';
    h[13] = 'V';
    mv__put_le(h + 14, MV__GZ_SUBFIELD_LEN, 2);
    h[16] = 1;
    mv__put_le(h + 17, csize, 8);
    mv__put_le(h + 25, usize, 8);
    return MV__GZ_HDR_INDEXED;
}

typedef struct mv__gz_task {
    const unsigned char *in;
    size_t n;
    unsigned char *out; /* mv__gz_member_bound(n) bytes */
    size_t len;         /* the member's bytes */
} mv__gz_task;

typedef struct mv__gz_batch {
    mv__gz_task *task;
    void **scratch; /* one per worker */
    int level, indexed;
} mv__gz_batch;

/* One member: compress behind the header room, then header and trailer. */
static mv_status mv__gz_compress_member(mv__gz_task *t, int level, int indexed, void *scratch)
{
    size_t hl = indexed ? MV__GZ_HDR_INDEXED : 10, cap = mv__gz_member_bound(t->n) - hl - 8, body;
    body = mv__deflate_raw(t->in, t->n, t->out + hl, cap, level, scratch);
    MV__CHECK(body != 0, MV_ERR_BUFFER_TOO_SMALL, "deflate: %zu bytes did not fit their bound", t->n);
    t->len = hl + body + 8;
    mv__gz_write_header(t->out, level, indexed, t->len, t->n);
    mv__put_le(t->out + hl + body, mv__kernels_get()->crc32(0, t->in, t->n), 4);
    mv__put_le(t->out + hl + body + 4, (uint32_t)t->n, 4);
    return MV_OK;
}

static mv_status mv__gz_batch_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__gz_batch *j = (const mv__gz_batch *)ctx;
    for (; b < e; b++) MV__TRY(mv__gz_compress_member(&j->task[b], j->level, j->indexed, j->scratch[worker]));
    return MV_OK;
}

/* Compresses the pieces into members written in order to sink. */
static mv_status mv__gz_write_pieces(const mv__gz_piece *pieces, int np, const mv_gzip_opts *o, mv__sink *sink)
{
    size_t msize = o && o->member_size ? o->member_size : MV__GZ_DEFAULT_MEMBER, nmem = 0, m, k;
    int level = mv__gz_level(o), threads = mv__resolve_threads(o ? o->threads : 0), nt, batch, i, w;
    void *ctx = o ? o->alloc_ctx : NULL;
    mv__gz_task *task = NULL;
    void *scratch[MV__MAX_THREADS];
    unsigned char *outbuf = NULL;
    mv_status st = MV_OK;
    mv__gz_batch j;
    for (i = 0; i < np; i++) nmem += (pieces[i].n + msize - 1) / msize;
    if (nmem == 0) nmem = 1; /* empty input: one empty member */
    nt = (int)MV__MIN((size_t)threads, nmem);
    batch = (int)MV__MIN((size_t)nt * 2, nmem);
    memset(scratch, 0, sizeof(scratch));
    task = (mv__gz_task *)mv__alloc_zero((size_t)batch * sizeof(mv__gz_task), ctx);
    outbuf = (unsigned char *)mv__alloc((size_t)batch * mv__gz_member_bound(msize), ctx);
    for (w = 0; w < nt && task && outbuf; w++)
        if (!(scratch[w] = mv__alloc(mv__deflate_scratch_size(level), ctx))) break;
    if (!task || !outbuf || w < nt) {
        st = mv__fail(MV_ERR_OUT_OF_MEMORY, "gzip compression buffers");
        goto done;
    }
    j.task = task;
    j.scratch = scratch;
    j.level = level;
    j.indexed = 1;
    /* walk the members in batches: compress a batch in parallel, write it */
    {
        int pi = 0;
        size_t off = 0;
        for (m = 0; m < nmem && st == MV_OK;) {
            int nb = 0;
            while (nb < batch && m < nmem) {
                while (pi < np && off >= pieces[pi].n && !(pieces[pi].n == 0 && np == 1)) {
                    pi++;
                    off = 0;
                }
                task[nb].in = pi < np ? pieces[pi].p + off : NULL;
                task[nb].n = pi < np ? MV__MIN(msize, pieces[pi].n - off) : 0;
                task[nb].out = outbuf + (size_t)nb * mv__gz_member_bound(msize);
                off += task[nb].n;
                if (pi < np && pieces[pi].n == 0) pi++; /* the one empty member */
                nb++;
                m++;
            }
            st = mv__parallel_try(nb, 1, nt, mv__gz_batch_range, &j);
            for (k = 0; st == MV_OK && k < (size_t)nb; k++) st = mv__sink_write(sink, task[k].out, task[k].len);
        }
    }
done:
    for (w = 0; w < nt; w++) mv__free(scratch[w], ctx);
    mv__free(outbuf, ctx);
    mv__free(task, ctx);
    return st;
}

/* gzip(1)'s layout: one member, no index (the input in one piece). */
static mv_status mv__gz_write_single(const unsigned char *in, size_t n, const mv_gzip_opts *o, mv__sink *sink)
{
    int level = mv__gz_level(o);
    void *ctx = o ? o->alloc_ctx : NULL, *scratch;
    mv__gz_task t;
    mv_status st;
    t.in = in;
    t.n = n;
    t.out = (unsigned char *)mv__alloc(mv__gz_member_bound(n), ctx);
    scratch = mv__alloc(mv__deflate_scratch_size(level), ctx);
    if (!t.out || !scratch) {
        mv__free(t.out, ctx);
        mv__free(scratch, ctx);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "gzip compression buffers (%zu bytes)", mv__gz_member_bound(n));
    }
    st = mv__gz_compress_member(&t, level, 0, scratch);
    if (st == MV_OK) st = mv__sink_write(sink, t.out, t.len);
    mv__free(t.out, ctx);
    mv__free(scratch, ctx);
    return st;
}

MVDEF size_t mv_gzip_bound(size_t n, const mv_gzip_opts *opts)
{
    size_t msize = opts && opts->member_size ? opts->member_size : MV__GZ_DEFAULT_MEMBER, full, rest;
    if (opts && opts->single_member) return mv__gz_member_bound(n);
    full = n / msize;
    rest = n % msize;
    return full * mv__gz_member_bound(msize) + mv__gz_member_bound(rest);
}

MVDEF mv_status mv_gzip(const void *in, size_t n, void *out, size_t out_cap, size_t *out_len, const mv_gzip_opts *opts)
{
    mv__sink s;
    mv__gz_piece piece;
    mv_status st;
    MV__CHECK(out_len && (in || !n) && (out || !out_cap), MV_ERR_INVALID_ARG, "mv_gzip: NULL argument");
    memset(&s, 0, sizeof(s));
    s.buf = (unsigned char *)out;
    s.cap = out_cap;
    s.name = "memory";
    piece.p = (const unsigned char *)in;
    piece.n = n;
    st = opts && opts->single_member ? mv__gz_write_single(piece.p, n, opts, &s) : mv__gz_write_pieces(&piece, 1, opts, &s);
    *out_len = s.len;
    if (st != MV_OK) return st;
    MV__CHECK(out == NULL || s.len <= out_cap, MV_ERR_BUFFER_TOO_SMALL, "mv_gzip: needs %zu bytes, buffer has %zu", s.len,
              out_cap);
    return MV_OK;
}

/* >>impl-nifti ============================================================= */

/* ---- header fields in either byte order (reads) and native order (writes) ---- */
static uint16_t mv__rd_u16(const unsigned char *b, size_t off, int swap)
{
    uint16_t v;
    memcpy(&v, b + off, 2);
    return swap ? (uint16_t)((v >> 8) | (v << 8)) : v;
}
static uint32_t mv__rd_u32(const unsigned char *b, size_t off, int swap)
{
    uint32_t v;
    memcpy(&v, b + off, 4);
    if (swap) v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
    return v;
}
static uint64_t mv__rd_u64(const unsigned char *b, size_t off, int swap)
{
    uint64_t v;
    memcpy(&v, b + off, 8);
    if (swap) {
        uint64_t lo = mv__rd_u32((const unsigned char *)&v, 0, 1), hi = mv__rd_u32((const unsigned char *)&v, 4, 1);
        v = (lo << 32) | hi;
    }
    return v;
}
#define mv__rd_i16(b, o, s) ((int16_t)mv__rd_u16((b), (o), (s)))
#define mv__rd_i32(b, o, s) ((int32_t)mv__rd_u32((b), (o), (s)))
#define mv__rd_i64(b, o, s) ((int64_t)mv__rd_u64((b), (o), (s)))
static double mv__rd_f32(const unsigned char *b, size_t off, int swap)
{
    uint32_t u = mv__rd_u32(b, off, swap);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static double mv__rd_f64(const unsigned char *b, size_t off, int swap)
{
    uint64_t u = mv__rd_u64(b, off, swap);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static void mv__wr_i16(unsigned char *b, size_t off, int64_t v) { int16_t x = (int16_t)v; memcpy(b + off, &x, 2); }
static void mv__wr_i32(unsigned char *b, size_t off, int64_t v) { int32_t x = (int32_t)v; memcpy(b + off, &x, 4); }
static void mv__wr_i64(unsigned char *b, size_t off, int64_t v) { memcpy(b + off, &v, 8); }
static void mv__wr_f32(unsigned char *b, size_t off, double v) { float x = (float)v; memcpy(b + off, &x, 4); }
static void mv__wr_f64(unsigned char *b, size_t off, double v) { memcpy(b + off, &v, 8); }
/* fixed-size, possibly unterminated text field -> C string */
static void mv__rd_str(char *dst, const unsigned char *b, size_t off, size_t n)
{
    size_t i;
    for (i = 0; i < n && b[off + i]; i++) dst[i] = (char)b[off + i];
    dst[i] = 0;
}
static void mv__wr_str(unsigned char *b, size_t off, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && s[i]; i++) b[off + i] = (unsigned char)s[i];
}

/* ---- byte sources: memory, file (pread, optional map), stream ---- */
enum { MV__SRC_MEM, MV__SRC_FILE, MV__SRC_IO, MV__SRC_GZ };
#define MV__SIZE_UNKNOWN UINT64_MAX

typedef struct mv__gzsrc mv__gzsrc;

typedef struct mv__src {
    int kind;
    uint64_t size;            /* MV__SIZE_UNKNOWN for streams */
    const unsigned char *mem; /* memory source, or the file's mapping */
    const char *name;         /* for messages */
    int fd;
    void *map;
    size_t map_len;
    const mv_io *io;
    uint64_t pos;             /* stream position */
    unsigned char peek[2];    /* a stream's first bytes, read to sniff gzip */
    unsigned npeek, peek_used;
    mv__gzsrc *gz;            /* MV__SRC_GZ: the decompressing layer */
} mv__src;

static void mv__src_mem(mv__src *s, const void *buf, size_t len, const char *name)
{
    memset(s, 0, sizeof(*s));
    s->kind = MV__SRC_MEM;
    s->mem = (const unsigned char *)buf;
    s->size = len;
    s->name = name;
    s->fd = -1;
}

static mv_status mv__gzsrc_read(mv__gzsrc *g, uint64_t off, unsigned char *dst, size_t n);

/* Reads exactly n bytes at off. Streams only move forward (skipping by
   reading) unless they can seek. */
static mv_status mv__src_read(mv__src *s, uint64_t off, void *dst, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    uint64_t end;
    if (n == 0) return MV_OK;
    MV__CHECK(mv__add_u64(off, n, &end), MV_ERR_SIZE_OVERFLOW, "%s: offset %llu overflows", s->name,
              (unsigned long long)off);
    if (s->size != MV__SIZE_UNKNOWN && end > s->size)
        return mv__fail(MV_ERR_TRUNCATED, "%s: needs bytes up to %llu but has %llu", s->name,
                        (unsigned long long)end, (unsigned long long)s->size);
    if (s->mem) {
        memcpy(d, s->mem + off, n);
        return MV_OK;
    }
#if defined(MV__HAVE_FILES)
    if (s->kind == MV__SRC_FILE) {
        while (n) {
            size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
            ssize_t r = pread(s->fd, d, chunk, (off_t)off);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return mv__fail(MV_ERR_IO, "%s: read at %llu: %s", s->name, (unsigned long long)off, strerror(errno));
            if (r == 0) return mv__fail(MV_ERR_TRUNCATED, "%s: ends at %llu", s->name, (unsigned long long)off);
            d += r;
            off += (uint64_t)r;
            n -= (size_t)r;
        }
        return MV_OK;
    }
#endif
    if (s->kind == MV__SRC_GZ) {
        mv_status st = mv__gzsrc_read(s->gz, off, d, n);
        return st == MV_OK ? MV_OK : mv__fail_prefix(st, "%s", s->name);
    }
    /* stream: first the bytes peeked at to sniff gzip */
    while (n && s->peek_used < s->npeek && off == s->pos) {
        *d++ = s->peek[s->peek_used++];
        s->pos++;
        off++;
        n--;
    }
    if (n == 0) return MV_OK;
    if (off != s->pos) {
        if (s->io->seek && s->io->seek(s->io->user, off) == 0) {
            s->pos = off;
        } else {
            unsigned char skip[4096];
            MV__CHECK(off > s->pos, MV_ERR_INVALID_ARG, "%s: stream cannot go back from %llu to %llu", s->name,
                      (unsigned long long)s->pos, (unsigned long long)off);
            while (s->pos < off) {
                size_t want = (size_t)MV__MIN((uint64_t)sizeof(skip), off - s->pos), got;
                got = s->io->read(s->io->user, skip, want);
                MV__CHECK(got != (size_t)-1, MV_ERR_IO, "%s: read error at %llu", s->name, (unsigned long long)s->pos);
                MV__CHECK(got != 0, MV_ERR_TRUNCATED, "%s: ends at %llu", s->name, (unsigned long long)s->pos);
                s->pos += got;
            }
        }
    }
    while (n) {
        size_t got = s->io->read(s->io->user, d, n);
        MV__CHECK(got != (size_t)-1, MV_ERR_IO, "%s: read error at %llu", s->name, (unsigned long long)s->pos);
        MV__CHECK(got != 0, MV_ERR_TRUNCATED, "%s: ends at %llu", s->name, (unsigned long long)s->pos);
        MV__CHECK(got <= n, MV_ERR_IO, "%s: read callback returned more than asked", s->name);
        d += got;
        n -= got;
        s->pos += got;
    }
    return MV_OK;
}

/* Pointer to n bytes at off when the source is addressable, else NULL. */
static const unsigned char *mv__src_view(const mv__src *s, uint64_t off, size_t n)
{
    if (!s->mem || off > s->size || n > s->size - off) return NULL;
    return s->mem + off;
}

/* An owned buffer grown by doubling, up to cap_max, keeping `used` bytes:
   for streams, whose headers may promise far more than ever arrives. */
static mv_status mv__grow(unsigned char **p, size_t *cap, size_t need, size_t cap_max, size_t used, void *ctx)
{
    size_t ncap;
    unsigned char *np;
    if (need <= *cap) return MV_OK;
    ncap = *cap ? *cap : ((size_t)1 << 20);
    while (ncap < need) ncap = ncap > cap_max / 2 ? cap_max : ncap * 2;
    if (ncap > cap_max) ncap = cap_max;
    MEDVOL_ASSERT(ncap >= need);
    np = (unsigned char *)mv__alloc(ncap, ctx);
    MV__CHECK(np != NULL, MV_ERR_OUT_OF_MEMORY, "buffer of %zu bytes", ncap);
    if (used) memcpy(np, *p, used);
    mv__free(*p, ctx);
    *p = np;
    *cap = ncap;
    return MV_OK;
}

/* n bytes at off into new memory. From a source of unknown size the memory
   grows with the bytes that actually arrive, so a forged size costs nothing. */
#define MV__STREAM_STEP ((size_t)1 << 20)
static mv_status mv__src_read_new(mv__src *s, uint64_t off, size_t n, void *ctx, unsigned char **out)
{
    unsigned char *p = NULL;
    size_t cap = 0, got = 0;
    mv_status st = MV_OK;
    *out = NULL;
    if (s->size != MV__SIZE_UNKNOWN || n <= MV__STREAM_STEP) {
        p = (unsigned char *)mv__alloc(n ? n : 1, ctx);
        MV__CHECK(p != NULL, MV_ERR_OUT_OF_MEMORY, "%zu bytes", n);
        st = mv__src_read(s, off, p, n);
    } else {
        while (st == MV_OK && got < n) {
            size_t piece = MV__MIN(n - got, MV__STREAM_STEP);
            st = mv__grow(&p, &cap, got + piece, n, got, ctx);
            if (st == MV_OK) st = mv__src_read(s, off + got, p + got, piece);
            got += piece;
        }
    }
    if (st != MV_OK) {
        mv__free(p, ctx);
        return st;
    }
    *out = p;
    return MV_OK;
}

#if defined(MV__HAVE_FILES)
static mv_status mv__src_open(mv__src *s, const char *path)
{
    struct stat st;
    memset(s, 0, sizeof(*s));
    s->kind = MV__SRC_FILE;
    s->name = path;
    s->fd = open(path, O_RDONLY);
    if (s->fd < 0)
        return mv__fail(errno == ENOENT ? MV_ERR_NOT_FOUND : MV_ERR_IO, "open '%s': %s", path, strerror(errno));
    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(s->fd);
        s->fd = -1;
        return mv__fail(MV_ERR_IO, "'%s' is not a regular file", path);
    }
    s->size = (uint64_t)st.st_size;
    return MV_OK;
}
/* Private copy-on-write mapping of the whole file (writable: kernels may
   change vol.data without touching the file). */
static mv_status mv__src_map(mv__src *s, int writable)
{
    void *p;
    int flags = MAP_PRIVATE;
    if (s->map) return MV_OK;
    MV__CHECK(s->size > 0 && mv__fits_size(s->size), MV_ERR_UNSUPPORTED, "%s: cannot map %llu bytes", s->name,
              (unsigned long long)s->size);
#if defined(MAP_NORESERVE)
    flags |= MAP_NORESERVE; /* no swap reservation for pages we never write */
#endif
    p = mmap(NULL, (size_t)s->size, writable ? PROT_READ | PROT_WRITE : PROT_READ, flags, s->fd, 0);
    MV__CHECK(p != MAP_FAILED, MV_ERR_IO, "mmap '%s': %s", s->name, strerror(errno));
    s->map = p;
    s->map_len = (size_t)s->size;
    s->mem = (const unsigned char *)p;
    return MV_OK;
}
#endif

static void mv__gzsrc_close(mv__gzsrc *g);
static MV__UNUSED void mv__src_close(mv__src *s)
{
    if (s->kind == MV__SRC_GZ) {
        mv__gzsrc_close(s->gz);
        s->gz = NULL;
        return;
    }
#if defined(MV__HAVE_FILES)
    if (s->map) munmap(s->map, s->map_len);
    if (s->kind == MV__SRC_FILE && s->fd >= 0) close(s->fd);
#endif
    s->map = NULL;
    s->mem = NULL;
    s->fd = -1;
}

/* ---- gzip-compressed sources ----
   The compressed bytes are in memory (a buffer or the mapped file) or come
   from a stream. Plain gzip is read forward: bytes before a requested
   offset are decoded into scratch and dropped, and decoding stops once the
   request is served (a crop box near the start reads little). Files with
   medvol's member index are read at random: members inside a request are
   decoded in parallel straight into it, partial ones through a one-member
   cache. A reader is used by one thread at a time (the cache and the stream
   state are its own): the loader never hands it to its workers; the member
   decoding inside a read is what runs in parallel.
   Integrity: every member decoded is checked (CRC-32, ISIZE, the index's
   sizes); mv__gzsrc_finish decodes what a read did not reach, so a full
   load has checked every byte of the file. */
#define MV__GZ_SCRATCH ((size_t)64 << 10)

struct mv__gzsrc {
    mv_gunzip_stream *st;
    mv__src *under;             /* a stream's compressed bytes */
    const unsigned char *in;    /* or all of them in memory */
    size_t in_len, in_pos;
    unsigned char *inbuf;       /* stream input */
    size_t inbuf_len, inbuf_pos;
    int under_done;
    unsigned char *skip;
    uint64_t out_pos;
    mv__gz_member *members;     /* the index, when every member has one */
    size_t nmembers;
    unsigned char *decoded;     /* per member: 1 once decoded (and so checked) */
    unsigned char *cache;       /* the last partly used member */
    size_t cache_cap, cache_member; /* cached member + 1, 0 if none */
    int stream_end;             /* sequential: the last run ended after a whole member */
    int threads;
    void *ctx;
};

static void mv__gzsrc_close(mv__gzsrc *g)
{
    void *ctx;
    if (!g) return;
    ctx = g->ctx;
    if (g->st) mv_gunzip_stream_free(g->st, ctx);
    mv__free(g->inbuf, ctx);
    mv__free(g->skip, ctx);
    mv__free(g->members, ctx);
    mv__free(g->decoded, ctx);
    mv__free(g->cache, ctx);
    mv__free(g, ctx);
}

/* Sequential: one step of the stream into dst (up to cap bytes), pulling
   compressed bytes from the underlying stream when needed. *stalled: the
   step neither used input nor produced output and no input is left. */
static mv_status mv__gzsrc_step(mv__gzsrc *g, unsigned char *dst, size_t cap, size_t *produced, int *stalled)
{
    const unsigned char *in;
    size_t avail, used = 0;
    *produced = 0;
    if (g->in) {
        in = g->in + g->in_pos;
        avail = g->in_len - g->in_pos;
    } else {
        if (g->inbuf_pos == g->inbuf_len && !g->under_done) { /* pull more from the stream */
            size_t k = g->under->io->read(g->under->io->user, g->inbuf, MV__GZ_SCRATCH);
            MV__CHECK(k != (size_t)-1, MV_ERR_IO, "%s: read error", g->under->name);
            MV__CHECK(k <= MV__GZ_SCRATCH, MV_ERR_IO, "%s: read callback returned more than asked", g->under->name);
            g->inbuf_len = k;
            g->inbuf_pos = 0;
            g->under_done = k == 0;
        }
        in = g->inbuf + g->inbuf_pos;
        avail = g->inbuf_len - g->inbuf_pos;
    }
    MV__TRY(mv_gunzip_stream_run(g->st, in, avail, &used, dst, cap, produced, &g->stream_end));
    if (g->in) g->in_pos += used;
    else g->inbuf_pos += used;
    g->out_pos += *produced;
    *stalled = used == 0 && *produced == 0 && (g->in || g->under_done);
    return MV_OK;
}

/* Sequential: n bytes from the stream's current position into dst. */
static mv_status mv__gzsrc_decode(mv__gzsrc *g, unsigned char *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t produced;
        int stalled = 0;
        MV__TRY(mv__gzsrc_step(g, dst + got, n - got, &produced, &stalled));
        got += produced;
        if (stalled)
            return mv__fail(MV_ERR_TRUNCATED, "gzip data end after %llu decompressed bytes; %llu more were needed",
                            (unsigned long long)g->out_pos, (unsigned long long)(n - got));
    }
    return MV_OK;
}

/* Indexed: the member holding byte off (members are in output order). */
static size_t mv__gz_find_member(const mv__gzsrc *g, uint64_t off)
{
    size_t lo = 0, hi = g->nmembers;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (g->members[mid].out_off <= off) lo = mid;
        else hi = mid;
    }
    return lo;
}

static void mv__gzsrc_mark_decoded(mv__gzsrc *g, const mv__gz_member *list, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) g->decoded[list[i].index] = 1;
}

static mv_status mv__gzsrc_read_indexed(mv__gzsrc *g, uint64_t off, unsigned char *dst, size_t n)
{
    uint64_t end = off + n;
    size_t m = mv__gz_find_member(g, off), first_whole = 0, nwhole = 0;
    mv__gz_member whole[64];
    for (; m < g->nmembers && g->members[m].out_off < end; m++) {
        const mv__gz_member *mm = &g->members[m];
        uint64_t a = MV__MAX(off, mm->out_off), b = MV__MIN(end, mm->out_off + mm->out_len);
        if (a == mm->out_off && b == mm->out_off + mm->out_len && mm->out_len > 0) {
            /* whole member: decode straight into the request, in batches */
            if (nwhole == 0) first_whole = m;
            whole[nwhole] = *mm;
            whole[nwhole].out_off = mm->out_off - off;
            if (++nwhole == MV__ARRAY_LEN(whole)) {
                MV__TRY(mv__gz_decode_members(g->in, whole, nwhole, dst, g->threads, g->ctx));
                mv__gzsrc_mark_decoded(g, whole, nwhole);
                nwhole = 0;
            }
            continue;
        }
        if (g->cache_member != m + 1) { /* part of a member: through the cache */
            mv__gz_member one = *mm;
            one.out_off = 0;
            if (g->cache_cap < mm->out_len) {
                mv__free(g->cache, g->ctx);
                g->cache_cap = 0;
                MV__CHECK(mv__fits_size(mm->out_len), MV_ERR_SIZE_OVERFLOW, "gzip member of %llu bytes",
                          (unsigned long long)mm->out_len);
                g->cache = (unsigned char *)mv__alloc((size_t)mm->out_len, g->ctx);
                MV__CHECK(g->cache != NULL, MV_ERR_OUT_OF_MEMORY, "gzip member cache (%llu bytes)", (unsigned long long)mm->out_len);
                g->cache_cap = (size_t)mm->out_len;
            }
            g->cache_member = 0;
            MV__TRY(mv__gz_decode_members(g->in, &one, 1, g->cache, 1, g->ctx));
            mv__gzsrc_mark_decoded(g, &one, 1);
            g->cache_member = m + 1;
        }
        if (b > a) memcpy(dst + (a - off), g->cache + (a - mm->out_off), (size_t)(b - a));
    }
    (void)first_whole;
    if (nwhole) {
        MV__TRY(mv__gz_decode_members(g->in, whole, nwhole, dst, g->threads, g->ctx));
        mv__gzsrc_mark_decoded(g, whole, nwhole);
    }
    return MV_OK;
}

/* Decodes (into scratch) and so checks whatever reads did not reach: the
   members never decoded, or the rest of a sequential stream up to its end,
   which must be the end of a whole member with nothing after it but zero
   padding. After it, every CRC-32 and ISIZE of the file has been checked. */
static mv_status mv__gzsrc_finish(mv__gzsrc *g)
{
    if (g->members) {
        size_t m;
        for (m = 0; m < g->nmembers; m++) {
            mv__gz_member one = g->members[m];
            if (g->decoded[m] || one.out_len == 0) continue;
            if (g->cache_cap < one.out_len) {
                mv__free(g->cache, g->ctx);
                g->cache_cap = 0;
                MV__CHECK(mv__fits_size(one.out_len), MV_ERR_SIZE_OVERFLOW, "gzip member of %llu bytes",
                          (unsigned long long)one.out_len);
                g->cache = (unsigned char *)mv__alloc((size_t)one.out_len, g->ctx);
                MV__CHECK(g->cache != NULL, MV_ERR_OUT_OF_MEMORY, "gzip member cache (%llu bytes)",
                          (unsigned long long)one.out_len);
                g->cache_cap = (size_t)one.out_len;
            }
            g->cache_member = 0;
            one.out_off = 0;
            MV__TRY(mv__gz_decode_members(g->in, &one, 1, g->cache, 1, g->ctx));
            g->decoded[m] = 1;
            g->cache_member = m + 1;
        }
        return MV_OK;
    }
    for (;;) {
        size_t produced;
        int stalled = 0;
        MV__TRY(mv__gzsrc_step(g, g->skip, MV__GZ_SCRATCH, &produced, &stalled));
        if (stalled) break;
    }
    MV__CHECK(g->stream_end, MV_ERR_TRUNCATED, "gzip data end inside member %d (at compressed byte %llu)",
              g->st->members - 1, (unsigned long long)g->st->member_start);
    return MV_OK;
}

static mv_status mv__gzsrc_read(mv__gzsrc *g, uint64_t off, unsigned char *dst, size_t n)
{
    if (n == 0) return MV_OK;
    if (g->members) return mv__gzsrc_read_indexed(g, off, dst, n);
    MV__CHECK(off >= g->out_pos, MV_ERR_INVALID_ARG, "gzip stream cannot go back from %llu to %llu",
              (unsigned long long)g->out_pos, (unsigned long long)off);
    while (g->out_pos < off) {
        size_t k = (size_t)MV__MIN((uint64_t)MV__GZ_SCRATCH, off - g->out_pos);
        MV__TRY(mv__gzsrc_decode(g, g->skip, k));
    }
    return mv__gzsrc_decode(g, dst, n);
}

/* If raw holds gzip data, wraps it: *use is then a decompressing source
   (size known only with the member index), else raw itself. */
static mv_status mv__src_sniff_gz(mv__src *raw, mv__src *wrap, mv__src **use, int threads, void *ctx)
{
    unsigned char magic[2];
    mv__gzsrc *g;
    *use = raw;
    if (raw->kind == MV__SRC_IO) { /* peek, and give the bytes back through peek[] */
        size_t k = 0;
        while (k < 2) {
            size_t r = raw->io->read(raw->io->user, raw->peek + k, 2 - k);
            MV__CHECK(r != (size_t)-1, MV_ERR_IO, "%s: read error", raw->name);
            if (r == 0) break;
            k += r;
        }
        raw->npeek = (unsigned)k;
        if (k < 2 || raw->peek[0] != 0x1f || raw->peek[1] != 0x8b) return MV_OK;
    } else {
        if (raw->size < 2) return MV_OK;
        MV__TRY(mv__src_read(raw, 0, magic, 2));
        if (magic[0] != 0x1f || magic[1] != 0x8b) return MV_OK;
#if defined(MV__HAVE_FILES)
        if (raw->kind == MV__SRC_FILE) MV__TRY(mv__src_map(raw, 0)); /* compressed bytes in memory */
#endif
    }
    g = (mv__gzsrc *)mv__alloc_zero(sizeof(mv__gzsrc), ctx);
    MV__CHECK(g != NULL, MV_ERR_OUT_OF_MEMORY, "gzip reader");
    g->ctx = ctx;
    g->threads = threads;
    g->skip = (unsigned char *)mv__alloc(MV__GZ_SCRATCH, ctx);
    if (!g->skip || mv_gunzip_stream_new(&g->st, ctx) != MV_OK) {
        mv__gzsrc_close(g);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "gzip reader");
    }
    memset(wrap, 0, sizeof(*wrap));
    wrap->kind = MV__SRC_GZ;
    wrap->name = raw->name;
    wrap->fd = -1;
    wrap->gz = g;
    wrap->size = MV__SIZE_UNKNOWN;
    if (raw->kind == MV__SRC_IO) {
        g->under = raw;
        g->inbuf = (unsigned char *)mv__alloc(MV__GZ_SCRATCH, ctx);
        if (!g->inbuf) {
            mv__gzsrc_close(g);
            return mv__fail(MV_ERR_OUT_OF_MEMORY, "gzip reader");
        }
        memcpy(g->inbuf, raw->peek, 2);
        g->inbuf_len = 2;
        raw->peek_used = 2;
    } else {
        uint64_t total = 0;
        size_t nm;
        g->in = raw->mem;
        g->in_len = (size_t)raw->size;
        nm = mv__gz_scan(g->in, g->in_len, NULL, 0, &total);
        if (nm > 0) {
            g->members = (mv__gz_member *)mv__alloc(nm * sizeof(mv__gz_member), ctx);
            g->decoded = (unsigned char *)mv__alloc_zero(nm, ctx);
            if (!g->members || !g->decoded) {
                mv__gzsrc_close(g);
                return mv__fail(MV_ERR_OUT_OF_MEMORY, "gzip member list");
            }
            g->nmembers = mv__gz_scan(g->in, g->in_len, g->members, nm, &total);
            wrap->size = total;
        }
    }
    *use = wrap;
    return MV_OK;
}

/* ---- header parsing ---- */

#define MV__N1_SIZE 348
#define MV__N2_SIZE 540

typedef struct mv__nhdr {
    mv_format format;
    int swap;          /* file byte order differs from the host's */
    size_t hdr_size;   /* 348 or 540 */
    int ndim;
    int64_t dim[8];    /* as stored */
    double pixdim[8];  /* after nibabel's fixes */
    int datatype;
    mv_dtype dtype;
    uint64_t vox_offset;
    uint64_t data_bytes;
    mv_meta meta;      /* no extensions yet */
} mv__nhdr;

/* Reads the fields of each layout into h (no validation yet). */
static void mv__parse_n1(const unsigned char *b, int sw, mv__nhdr *h)
{
    int i;
    mv_meta *m = &h->meta;
    for (i = 0; i < 8; i++) {
        h->dim[i] = mv__rd_i16(b, 40 + 2 * i, sw);
        h->pixdim[i] = mv__rd_f32(b, 76 + 4 * i, sw);
    }
    h->datatype = mv__rd_i16(b, 70, sw);
    m->dim_info = b[39];
    for (i = 0; i < 3; i++) m->intent_p[i] = mv__rd_f32(b, 56 + 4 * i, sw);
    m->intent_code = mv__rd_i16(b, 68, sw);
    m->slice_start = mv__rd_i16(b, 74, sw);
    m->scl_slope = mv__rd_f32(b, 112, sw);
    m->scl_inter = mv__rd_f32(b, 116, sw);
    m->slice_end = mv__rd_i16(b, 120, sw);
    m->slice_code = b[122];
    m->xyzt_units = b[123];
    m->cal_max = mv__rd_f32(b, 124, sw);
    m->cal_min = mv__rd_f32(b, 128, sw);
    m->slice_duration = mv__rd_f32(b, 132, sw);
    m->toffset = mv__rd_f32(b, 136, sw);
    mv__rd_str(m->descrip, b, 148, 80);
    mv__rd_str(m->aux_file, b, 228, 24);
    m->qform_code = mv__rd_i16(b, 252, sw);
    m->sform_code = mv__rd_i16(b, 254, sw);
    for (i = 0; i < 3; i++) {
        m->quatern[i] = mv__rd_f32(b, 256 + 4 * i, sw);
        m->qoffset[i] = mv__rd_f32(b, 268 + 4 * i, sw);
    }
    for (i = 0; i < 12; i++) m->srow[i / 4][i % 4] = mv__rd_f32(b, 280 + 4 * i, sw);
    mv__rd_str(m->intent_name, b, 328, 16);
}

static void mv__parse_n2(const unsigned char *b, int sw, mv__nhdr *h)
{
    int i;
    mv_meta *m = &h->meta;
    h->datatype = mv__rd_i16(b, 12, sw);
    for (i = 0; i < 8; i++) {
        h->dim[i] = mv__rd_i64(b, 16 + 8 * i, sw);
        h->pixdim[i] = mv__rd_f64(b, 104 + 8 * i, sw);
    }
    for (i = 0; i < 3; i++) m->intent_p[i] = mv__rd_f64(b, 80 + 8 * i, sw);
    m->scl_slope = mv__rd_f64(b, 176, sw);
    m->scl_inter = mv__rd_f64(b, 184, sw);
    m->cal_max = mv__rd_f64(b, 192, sw);
    m->cal_min = mv__rd_f64(b, 200, sw);
    m->slice_duration = mv__rd_f64(b, 208, sw);
    m->toffset = mv__rd_f64(b, 216, sw);
    m->slice_start = mv__rd_i64(b, 224, sw);
    m->slice_end = mv__rd_i64(b, 232, sw);
    mv__rd_str(m->descrip, b, 240, 80);
    mv__rd_str(m->aux_file, b, 320, 24);
    m->qform_code = mv__rd_i32(b, 344, sw);
    m->sform_code = mv__rd_i32(b, 348, sw);
    for (i = 0; i < 3; i++) {
        m->quatern[i] = mv__rd_f64(b, 352 + 8 * i, sw);
        m->qoffset[i] = mv__rd_f64(b, 376 + 8 * i, sw);
    }
    for (i = 0; i < 12; i++) m->srow[i / 4][i % 4] = mv__rd_f64(b, 400 + 8 * i, sw);
    m->slice_code = mv__rd_i32(b, 496, sw);
    m->xyzt_units = mv__rd_i32(b, 500, sw);
    m->intent_code = mv__rd_i32(b, 504, sw);
    mv__rd_str(m->intent_name, b, 508, 16);
    m->dim_info = b[524];
}

/* Analyze 7.5 as nibabel's Spm2AnalyzeHeader: scale factor in funused1
   (the NIfTI scl_slope position), intercept in funused2, else from the
   glmax/glmin and cal_max/cal_min ranges; origin (1-based voxel) at 253. */
static void mv__parse_analyze(const unsigned char *b, int sw, mv__nhdr *h)
{
    int i;
    mv_meta *m = &h->meta;
    double slope, inter, glmax, glmin;
    for (i = 0; i < 8; i++) {
        h->dim[i] = mv__rd_i16(b, 40 + 2 * i, sw);
        h->pixdim[i] = mv__rd_f32(b, 76 + 4 * i, sw);
    }
    h->datatype = mv__rd_i16(b, 70, sw);
    m->cal_max = mv__rd_f32(b, 124, sw);
    m->cal_min = mv__rd_f32(b, 128, sw);
    mv__rd_str(m->descrip, b, 148, 80);
    mv__rd_str(m->aux_file, b, 228, 24);
    for (i = 0; i < 5; i++) m->analyze_origin[i] = mv__rd_i16(b, 253 + 2 * i, sw);
    slope = mv__rd_f32(b, 112, sw);
    inter = mv__rd_f32(b, 116, sw);
    glmax = mv__rd_i32(b, 140, sw);
    glmin = mv__rd_i32(b, 144, sw);
    if (isfinite(slope) && slope != 0) {
        m->scl_slope = slope;
        m->scl_inter = isfinite(inter) ? inter : 0.0;
    } else if (glmax - glmin != 0 && m->cal_max - m->cal_min != 0) {
        m->scl_slope = (m->cal_max - m->cal_min) / (glmax - glmin);
        m->scl_inter = m->cal_min - m->scl_slope * glmin;
    } else {
        m->scl_slope = 0; /* no scaling */
        m->scl_inter = 0;
    }
    m->xyzt_units = 0;
    m->qfac = 1;
}

/* A defect the loader corrected: its bit in m->warnings and its text
   appended to mv_last_warning() (mv__load_core clears it and prefixes the
   file name). */
static void mv__warn(mv_meta *m, unsigned bit, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void mv__warn(mv_meta *m, unsigned bit, const char *fmt, ...)
{
    size_t n = strlen(mv__warn_detail);
    va_list ap;
    m->warnings |= bit;
    if (n && n + 2 < sizeof(mv__warn_detail)) {
        memcpy(mv__warn_detail + n, "; ", 3);
        n += 2;
    }
    va_start(ap, fmt);
    mv__vformat(mv__warn_detail + n, sizeof(mv__warn_detail) - n, fmt, ap);
    va_end(ap);
}

/* Header bytes -> validated mv__nhdr. `single` = the data follows the header
   in the same file (vox_offset then counts from its start and may not point
   into the header). */
static mv_status mv__parse_header(const unsigned char *b, size_t len, int single, int strict, mv__nhdr *h)
{
    uint32_t sz;
    int sw, i;
    uint64_t n;
    double vox;
    mv_meta *m = &h->meta;
    memset(h, 0, sizeof(*h));
    MV__CHECK(len >= 4, MV_ERR_TRUNCATED, "header: %zu bytes, not even sizeof_hdr", len);
    sz = mv__rd_u32(b, 0, 0);
    sw = 0;
    if (sz != MV__N1_SIZE && sz != MV__N2_SIZE) {
        sz = mv__rd_u32(b, 0, 1);
        sw = 1;
    }
    MV__CHECK(sz == MV__N1_SIZE || sz == MV__N2_SIZE, MV_ERR_BAD_HEADER,
              "header: sizeof_hdr is %u (0x%08x); NIfTI-1 and Analyze have 348, NIfTI-2 540",
              (unsigned)mv__rd_u32(b, 0, 0), (unsigned)mv__rd_u32(b, 0, 0));
    MV__CHECK(len >= sz, MV_ERR_TRUNCATED, "header: %zu bytes, sizeof_hdr says %u", len, (unsigned)sz);
    h->swap = sw;
    h->hdr_size = sz;
    if (sz == MV__N2_SIZE) {
        MV__CHECK((memcmp(b + 4, "n+2", 4) == 0 || memcmp(b + 4, "ni2", 4) == 0), MV_ERR_BAD_HEADER,
                  "header: sizeof_hdr is 540 but the magic is not \"n+2\" or \"ni2\"");
        /* eol_check (magic bytes 4..7) catches a text-mode transfer that
           rewrote line ends, which also shifted every byte after it: refused,
           as nibabel does; all zero is only a careless writer (nibabel fixes it) */
        if (memcmp(b + 8, "\r\n\032\n", 4) != 0) {
            MV__CHECK(memcmp(b + 8, "\0\0\0\0", 4) == 0, MV_ERR_BAD_HEADER,
                      "header: NIfTI-2 magic bytes 4..7 (eol_check) are %02x %02x %02x %02x, not 0d 0a 1a 0a: "
                      "damaged by a text-mode transfer?", b[8], b[9], b[10], b[11]);
            MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: NIfTI-2 magic bytes 4..7 (eol_check) are all 0, not 0d 0a 1a 0a");
            mv__warn(m, MV_WARN_EOL_CHECK, "NIfTI-2 eol_check (magic bytes 4..7) all 0, not 0d 0a 1a 0a");
        }
        h->format = MV_FORMAT_NIFTI2;
        mv__parse_n2(b, sw, h);
        MV__CHECK(mv__rd_i64(b, 168, sw) >= 0, MV_ERR_BAD_HEADER, "header: vox_offset is %lld",
                  (long long)mv__rd_i64(b, 168, sw));
        h->vox_offset = (uint64_t)mv__rd_i64(b, 168, sw);
    } else {
        if (memcmp(b + 344, "n+1", 4) == 0 || memcmp(b + 344, "ni1", 4) == 0) {
            h->format = MV_FORMAT_NIFTI1;
            mv__parse_n1(b, sw, h);
        } else {
            h->format = MV_FORMAT_ANALYZE;
            mv__parse_analyze(b, sw, h);
        }
        vox = mv__rd_f32(b, 108, sw);
        MV__CHECK(isfinite(vox) && vox >= 0 && vox < 18446744073709551616.0, MV_ERR_BAD_HEADER,
                  "header: vox_offset is %g", vox);
        if (vox != floor(vox)) {
            MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: vox_offset %g is not a whole number", vox);
            mv__warn(m, MV_WARN_VOX_OFFSET, "vox_offset %g is not a whole number (read from %.0f)", vox, floor(vox));
        }
        h->vox_offset = (uint64_t)vox;
    }
    m->format = h->format;
    m->big_endian = mv__host_is_big_endian() ? !sw : sw;

    /* dimensions */
    h->ndim = (int)h->dim[0];
    MV__CHECK(h->dim[0] >= 1 && h->dim[0] <= 7, MV_ERR_BAD_HEADER, "header: dim[0] is %lld (must be 1..7)",
              (long long)h->dim[0]);
    for (i = 1; i <= h->ndim; i++)
        MV__CHECK(h->dim[i] >= 1, MV_ERR_BAD_HEADER, "header: dim[%d] is %lld (must be >= 1)", i, (long long)h->dim[i]);

    /* datatype */
    MV__CHECK(h->datatype != 1, MV_ERR_UNSUPPORTED, "header: datatype 1 (DT_BINARY, 1 bit per voxel) is not supported");
    h->dtype = mv_dtype_from_nifti_code(h->datatype);
    MV__CHECK(h->dtype != MV_DT_UNKNOWN, MV_ERR_BAD_HEADER, "header: datatype %d is not a NIfTI datatype", h->datatype);
    if (h->format == MV_FORMAT_ANALYZE)
        MV__CHECK(h->datatype <= 128, MV_ERR_BAD_HEADER, "header: datatype %d does not exist in Analyze 7.5", h->datatype);
    {
        int bitpix = mv__rd_i16(b, h->format == MV_FORMAT_NIFTI2 ? 14 : 72, sw);
        if (bitpix != (int)mv__dt[h->dtype].size * 8) {
            MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: bitpix %d disagrees with datatype %d (%s)", bitpix,
                      h->datatype, mv__dt[h->dtype].name);
            mv__warn(m, MV_WARN_BITPIX, "bitpix %d disagrees with datatype %d (%s): ignored", bitpix, h->datatype,
                     mv__dt[h->dtype].name);
        }
    }

    /* size of the voxel array */
    n = mv__dt[h->dtype].size;
    for (i = 1; i <= h->ndim; i++)
        MV__CHECK(mv__mul_u64(n, (uint64_t)h->dim[i], &n), MV_ERR_SIZE_OVERFLOW,
                  "header: dims overflow 64 bits at dim[%d] = %lld", i, (long long)h->dim[i]);
    MV__CHECK(n <= (uint64_t)MEDVOL_MAX_BYTES && mv__fits_size(n), MV_ERR_SIZE_OVERFLOW,
              "header: voxel array of %llu bytes exceeds MEDVOL_MAX_BYTES (%llu)", (unsigned long long)n,
              (unsigned long long)MEDVOL_MAX_BYTES);
    h->data_bytes = n;

    /* where the data starts: a single file's data may not overlap its header */
    if (single && h->vox_offset < h->hdr_size + 4) {
        MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: vox_offset %llu points into the header (minimum %zu)",
                  (unsigned long long)h->vox_offset, h->hdr_size + 4);
        mv__warn(m, MV_WARN_VOX_OFFSET, "vox_offset %llu points into the header (read from %zu)",
                 (unsigned long long)h->vox_offset, h->hdr_size + 4);
        h->vox_offset = h->hdr_size + 4;
    }

    /* nibabel's silent fixes, refused under strict */
    if (h->format != MV_FORMAT_ANALYZE) {
        if (h->pixdim[0] != 1 && h->pixdim[0] != -1) {
            MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: pixdim[0] (qfac) is %g, not 1 or -1", h->pixdim[0]);
            mv__warn(m, MV_WARN_QFAC, "pixdim[0] (qfac) is %g, not 1 or -1 (read as 1)", h->pixdim[0]);
            h->pixdim[0] = 1;
        }
        for (i = 0; i < 2; i++) {
            int *code = i ? &m->sform_code : &m->qform_code;
            if (*code < 0 || *code > 5) {
                MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: %s_code %d is not 0..5", i ? "sform" : "qform", *code);
                mv__warn(m, MV_WARN_XFORM_CODE, "%s_code %d is not 0..5 (read as 0)", i ? "sform" : "qform", *code);
                *code = 0;
            }
        }
        if (!isfinite(m->scl_slope)) {
            MV__CHECK(!strict, MV_ERR_BAD_HEADER, "header: scl_slope is %g", m->scl_slope);
            mv__warn(m, MV_WARN_SCL_SLOPE, "scl_slope is %g (no scaling)", m->scl_slope);
        }
    }
    for (i = 1; i <= 3; i++) {
        MV__CHECK(!strict || (isfinite(h->pixdim[i]) && h->pixdim[i] > 0), MV_ERR_BAD_HEADER,
                  "header: pixdim[%d] is %g (must be > 0)", i, h->pixdim[i]);
        if (!(h->pixdim[i] > 0))
            mv__warn(m, MV_WARN_PIXDIM, "pixdim[%d] is %g (read as %g)", i, h->pixdim[i],
                     h->pixdim[i] == 0 ? 1.0 : fabs(h->pixdim[i]));
        if (h->pixdim[i] == 0) h->pixdim[i] = 1;
        if (h->pixdim[i] < 0) h->pixdim[i] = -h->pixdim[i];
    }
    m->qfac = h->pixdim[0] < 0 ? -1.0 : 1.0;
    return MV_OK;
}

MVDEF void mv_meta_affine(const mv_vol *v, double aff[4][4])
{
    const mv_meta *m = &v->meta;
    int r, c;
    mv__identity4(aff);
    if (m->format == MV_FORMAT_ANALYZE) { /* nibabel Spm99AnalyzeHeader.get_origin_affine */
        double zooms[3], origin[3];
        int any = 0, inside = 1;
        for (c = 0; c < 3; c++) {
            double d = (double)v->dim[c];
            zooms[c] = v->spacing[c];
            origin[c] = m->analyze_origin[c];
            any |= m->analyze_origin[c] != 0;
            inside &= origin[c] > -d && origin[c] < d * 2;
        }
        zooms[0] = -zooms[0];
        for (c = 0; c < 3; c++) {
            origin[c] = (any && inside) ? origin[c] - 1 : ((double)v->dim[c] - 1) / 2.0;
            aff[c][c] = zooms[c];
            aff[c][3] = -origin[c] * zooms[c];
        }
        return;
    }
    if (m->sform_code > 0) {
        for (r = 0; r < 3; r++)
            for (c = 0; c < 4; c++) aff[r][c] = m->srow[r][c];
        return;
    }
    if (m->qform_code > 0) {
        mv__quatern_to_affine(m->quatern, m->qoffset, v->spacing, m->qfac, aff);
        return;
    }
    /* nibabel shape_zoom_affine: centred, x flipped, axes past ndim unit */
    for (c = 0; c < 3; c++) {
        double z = c < v->ndim ? v->spacing[c] : 1.0, d = c < v->ndim ? (double)v->dim[c] : 1.0;
        if (c == 0) z = -z;
        aff[c][c] = z;
        aff[c][3] = -((d - 1) / 2.0) * z;
    }
}

/* Extension chain in [start, end) of src: esize, ecode, payload. An esize
   below 8 (0 included: the spec wants a positive multiple of 16) is always an
   error, as in nibabel: the chain cannot go on and the rest would be lost
   silently. Lenient mode keeps the entries before one that runs past the end
   and accepts an esize that is not a multiple of 16 (both with a warning, as
   nibabel warns); strict mode reports both. */
#define MV__MAX_EXTENSIONS 4096
static mv_status mv__read_extensions(mv__src *src, uint64_t start, uint64_t end, int swap, int strict, mv_meta *m,
                                     void *ctx)
{
    mv_extension list[64], *big = NULL, *exts = list;
    int n = 0, cap = 64, i;
    uint64_t pos = start;
    mv_status st = MV_OK;
    while (pos + 8 <= end) {
        unsigned char eh[8];
        int32_t esize, ecode;
        st = mv__src_read(src, pos, eh, 8);
        if (st != MV_OK) break;
        esize = mv__rd_i32(eh, 0, swap);
        ecode = mv__rd_i32(eh, 4, swap);
        if (esize < 8) {
            st = mv__fail(MV_ERR_BAD_HEADER, "extension %d at offset %llu: esize %d (must be a positive multiple of 16)",
                          n, (unsigned long long)pos, (int)esize);
            break;
        }
        if ((uint64_t)esize > end - pos) {
            if (strict)
                st = mv__fail(MV_ERR_BAD_HEADER, "extension %d at offset %llu: esize %d (%llu bytes left before the data)",
                              n, (unsigned long long)pos, (int)esize, (unsigned long long)(end - pos));
            else
                mv__warn(m, MV_WARN_EXTENSION, "extension %d at offset %llu: esize %d runs past the %llu bytes left (%d kept)",
                         n, (unsigned long long)pos, (int)esize, (unsigned long long)(end - pos), n);
            break;
        }
        if (esize % 16) {
            if (strict) {
                st = mv__fail(MV_ERR_BAD_HEADER, "extension %d at offset %llu: esize %d is not a multiple of 16", n,
                              (unsigned long long)pos, (int)esize);
                break;
            }
            mv__warn(m, MV_WARN_EXTENSION, "extension %d at offset %llu: esize %d is not a multiple of 16", n,
                     (unsigned long long)pos, (int)esize);
        }
        if (n == MV__MAX_EXTENSIONS) {
            st = mv__fail(MV_ERR_SIZE_OVERFLOW, "more than %d header extensions", MV__MAX_EXTENSIONS);
            break;
        }
        if (n == cap) { /* grow the list */
            mv_extension *nb = (mv_extension *)mv__alloc((size_t)cap * 2 * sizeof(mv_extension), ctx);
            if (!nb) {
                st = mv__fail(MV_ERR_OUT_OF_MEMORY, "extension list");
                break;
            }
            memcpy(nb, exts, (size_t)n * sizeof(mv_extension));
            if (big) mv__free(big, ctx);
            exts = big = nb;
            cap *= 2;
        }
        exts[n].code = ecode;
        exts[n].size = (uint32_t)(esize - 8);
        st = mv__src_read_new(src, pos + 8, (size_t)esize - 8, ctx, &exts[n].data);
        if (st != MV_OK) break;
        n++;
        pos += (uint64_t)esize;
    }
    if (st == MV_OK && n > 0) {
        m->ext = (mv_extension *)mv__alloc((size_t)n * sizeof(mv_extension), ctx);
        if (m->ext) {
            memcpy(m->ext, exts, (size_t)n * sizeof(mv_extension));
            m->n_ext = n;
        } else {
            st = mv__fail(MV_ERR_OUT_OF_MEMORY, "extension list");
        }
    }
    if (st != MV_OK)
        for (i = 0; i < n; i++) mv__free(exts[i].data, ctx);
    if (big) mv__free(big, ctx);
    return st;
}

/* ---- the crop box: runs of contiguous voxels in the file ---- */
typedef struct mv__box {
    int ndim;
    int64_t dim[MV_MAX_DIMS], start[MV_MAX_DIMS], size[MV_MAX_DIMS], stride[MV_MAX_DIMS];
    int k;           /* first axis the box does not cover whole (ndim if none) */
    int64_t run_len; /* voxels per run */
    int64_t count;   /* voxels in the box */
    int whole;
} mv__box;

static mv_status mv__box_plan(const mv__nhdr *h, const mv_load_opts *o, mv__box *b)
{
    int i;
    int64_t stride = 1;
    memset(b, 0, sizeof(*b));
    b->ndim = h->ndim;
    b->count = 1;
    for (i = 0; i < MV_MAX_DIMS; i++) {
        int64_t d = i < h->ndim ? h->dim[i + 1] : 1, s = o->box_start[i], n = o->box_size[i];
        MV__CHECK(s >= 0 && s < d, MV_ERR_INVALID_ARG, "box_start[%d] = %lld outside 0..%lld", i, (long long)s,
                  (long long)(d - 1));
        if (n == 0) n = d - s;
        MV__CHECK(n >= 1 && n <= d - s, MV_ERR_INVALID_ARG, "box_size[%d] = %lld does not fit (dim %lld, start %lld)", i,
                  (long long)o->box_size[i], (long long)d, (long long)s);
        b->dim[i] = d;
        b->start[i] = s;
        b->size[i] = n;
        b->stride[i] = stride;
        stride *= d;
        b->count *= n;
    }
    for (b->k = 0; b->k < h->ndim && b->start[b->k] == 0 && b->size[b->k] == b->dim[b->k]; b->k++) {
    }
    b->whole = b->k == h->ndim;
    b->run_len = b->whole ? b->count : b->stride[b->k] * b->size[b->k];
    return MV_OK;
}

/* Voxel index in the file of the first voxel of run r. */
static int64_t mv__box_run_start(const mv__box *b, int64_t r)
{
    int64_t off;
    int i;
    MEDVOL_ASSERT(r >= 0 && r * b->run_len < b->count);
    if (b->whole) return 0;
    off = b->start[b->k] * b->stride[b->k];
    for (i = b->k + 1; i < b->ndim; i++) {
        off += (b->start[i] + r % b->size[i]) * b->stride[i];
        r /= b->size[i];
    }
    return off;
}

/* ---- data ingestion: file bytes -> volume voxels ---- */
#define MV__BOUNCE_ELEMS 32768

typedef struct mv__ingest {
    mv__src *src;
    uint64_t data_off; /* file offset of voxel 0 */
    const mv__box *box;
    mv_dtype sdt, ddt;
    int swap, scaled;
    double slope, inter;
    mv_round rounding;
    unsigned char *dst;
    unsigned char *bounce; /* MV__BOUNCE_ELEMS source voxels per worker, or NULL */
} mv__ingest;

/* n voxels at file offset off -> dst, converting as configured. */
static mv_status mv__ingest_piece(const mv__ingest *g, uint64_t off, size_t n, unsigned char *dst, unsigned char *bounce)
{
    const mv__kernels *kt = mv__kernels_get();
    size_t ss = mv__dt[g->sdt].size, ds = mv__dt[g->ddt].size, unit = mv__dt[g->sdt].swap;
    int same = g->sdt == g->ddt && !g->scaled;
    if (same) { /* straight into the destination, swapped there while cache-hot */
        const unsigned char *v = mv__src_view(g->src, off, n * ss);
        if (v) memcpy(dst, v, n * ss);
        else MV__TRY(mv__src_read(g->src, off, dst, n * ss));
        if (g->swap && unit > 1) kt->bswap[unit](dst, n * ss / unit);
        return MV_OK;
    }
    while (n) {
        size_t m = MV__MIN(n, (size_t)MV__BOUNCE_ELEMS);
        const unsigned char *v = mv__src_view(g->src, off, m * ss);
        if (!v || g->swap || !mv__aligned(v, g->sdt)) { /* through the bounce buffer */
            if (v) memcpy(bounce, v, m * ss);
            else MV__TRY(mv__src_read(g->src, off, bounce, m * ss));
            if (g->swap && unit > 1) kt->bswap[unit](bounce, m * ss / unit);
            v = bounce;
        }
        mv__convert_run(v, g->sdt, dst, g->ddt, m, g->scaled, g->slope, g->inter, g->rounding);
        off += m * ss;
        dst += m * ds;
        n -= m;
    }
    return MV_OK;
}

/* Output voxels [b, e): pieces of runs. */
static mv_status mv__ingest_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__ingest *g = (const mv__ingest *)ctx;
    const mv__box *box = g->box;
    size_t ss = mv__dt[g->sdt].size, ds = mv__dt[g->ddt].size;
    unsigned char *bounce = g->bounce ? g->bounce + (size_t)worker * MV__BOUNCE_ELEMS * ss : NULL;
    while (b < e) {
        int64_t r = b / box->run_len, o = b % box->run_len, n = MV__MIN(box->run_len - o, e - b);
        uint64_t off = g->data_off + (uint64_t)(mv__box_run_start(box, r) + o) * ss;
        MEDVOL_ASSERT(n > 0 && mv__box_run_start(box, r) + o + n <= box->stride[box->ndim - 1] * box->dim[box->ndim - 1]);
        MV__TRY(mv__ingest_piece(g, off, (size_t)n, g->dst + (size_t)b * ds, bounce));
        b += n;
    }
    return MV_OK;
}

/* A gzip source whose decompressed size is unknown (no member index) must
   be able to hold `need` bytes: DEFLATE gives at most 1032 bytes per
   compressed byte, so a header that promises more is a truncated file, found
   before anything is allocated. *sized: a buffer of that size may be taken
   at once, because the size is known, or because the last member's ISIZE
   (the size mod 2^32 of a one-member file, as gzip, pigz and nibabel write)
   agrees; else it grows with the bytes that arrive. */
static mv_status mv__gz_plausible(const mv__src *s, uint64_t need, int *sized)
{
    const mv__gzsrc *g = s->gz;
    uint64_t bound;
    uint32_t isize;
    *sized = 1;
    if (s->kind != MV__SRC_GZ || s->size != MV__SIZE_UNKNOWN) return MV_OK;
    *sized = 0;
    if (!g->in) return MV_OK; /* a stream: grow */
    bound = g->in_len > UINT64_MAX / 1032 ? UINT64_MAX : (uint64_t)g->in_len * 1032;
    MV__CHECK(need <= bound, MV_ERR_TRUNCATED,
              "%s: %zu compressed bytes hold at most %llu bytes, the header needs %llu (truncated or not this file's data)",
              s->name, g->in_len, (unsigned long long)bound, (unsigned long long)need);
    if (g->in_len < 18) return MV_OK; /* not even one whole member */
    isize = (uint32_t)(mv__le_u64(g->in + g->in_len - 8) >> 32); /* the trailer: CRC-32, ISIZE */
    *sized = need >= ((uint64_t)1 << 32) || isize >= need;
    return MV_OK;
}

/* The rest of a compressed source, decoded to check it (see mv__gzsrc_finish). */
static mv_status mv__src_finish(mv__src *s)
{
    mv_status st;
    if (s->kind != MV__SRC_GZ) return MV_OK;
    st = mv__gzsrc_finish(s->gz);
    return st == MV_OK ? MV_OK : mv__fail_prefix(st, "%s", s->name);
}

/* What the caller wants out of the stored data. */
typedef struct mv__want {
    mv_dtype ddt;
    int scaled; /* scaling changes values */
    double slope, inter;
} mv__want;

static mv_status mv__load_want(const mv__nhdr *h, const mv_load_opts *o, mv__want *w)
{
    int kind = mv__dt[h->dtype].kind;
    w->ddt = o->dtype ? o->dtype : h->dtype;
    w->scaled = 0;
    w->slope = 1;
    w->inter = 0;
    if (o->scaled && kind != MV__K_RGB) {
        MV__TRY(mv__scaling(h->meta.scl_slope, h->meta.scl_inter, &w->scaled, &w->slope, &w->inter));
        if (!o->dtype) w->ddt = kind == MV__K_COMPLEX ? MV_DT_C64 : MV_DT_F32;
    }
    MV__CHECK(mv__dtype_ok(w->ddt), MV_ERR_INVALID_ARG, "load: dtype %d is not a dtype", (int)o->dtype);
    return mv__check_convertible(h->dtype, w->ddt);
}

/* Fills everything but the data of out from a parsed header and box. */
static void mv__vol_from_header(const mv__nhdr *h, const mv__box *box, mv_dtype ddt, mv_vol *out)
{
    int i, r;
    double corner[3];
    mv_vol_init(out);
    out->meta = h->meta;
    out->dtype = ddt;
    out->ndim = h->ndim;
    for (i = 0; i < MV_MAX_DIMS; i++) {
        out->dim[i] = i < h->ndim ? h->dim[i + 1] : 1;
        out->spacing[i] = h->pixdim[i + 1];
    }
    mv_meta_affine(out, out->affine);
    if (box) { /* the box's first voxel becomes voxel 0: move the origin there */
        for (r = 0; r < 3; r++)
            corner[r] = out->affine[r][0] * (double)box->start[0] + out->affine[r][1] * (double)box->start[1] +
                        out->affine[r][2] * (double)box->start[2];
        for (r = 0; r < 3; r++) out->affine[r][3] += corner[r];
        for (i = 0; i < h->ndim; i++) out->dim[i] = box->size[i];
    }
}

/* mv_load_opts.squeeze / mv_pipeline_opts.squeeze: trailing length-1 axes
   beyond the third go (dim and spacing back to 1, as for axes past ndim);
   the voxel order is unchanged, so only the shape moves. */
static void mv__vol_squeeze(mv_vol *v)
{
    while (v->ndim > 3 && v->dim[v->ndim - 1] == 1) {
        v->ndim--;
        v->spacing[v->ndim] = 1.0;
    }
}

static mv_status mv__load_sources(mv__src *hsrc, mv__src *isrc, int single, int borrow, const mv_load_opts *opts,
                                  mv_vol *out)
{
    unsigned char hb[MV__N2_SIZE];
    mv__nhdr h;
    mv__box box;
    mv__want w;
    mv_load_opts o;
    mv_vol v;
    mv__src *dsrc = single ? hsrc : isrc, *data_src = dsrc, tmp_src;
    size_t hlen;
    uint64_t ext_end, end = 0, data_off, limit;
    unsigned char *gz_tmp = NULL;
    mv_status st;
    int zero_copy;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    mv_vol_init(out);

    /* header: 4 bytes say which layout, then the rest */
    if (hsrc->size != MV__SIZE_UNKNOWN && hsrc->size < 4)
        return mv__fail(MV_ERR_TRUNCATED, "%s: %s (%llu bytes): no room for sizeof_hdr (a header is 348 or 540 bytes)",
                        hsrc->name, hsrc->size ? "too short" : "empty file", (unsigned long long)hsrc->size);
    MV__TRY(mv__src_read(hsrc, 0, hb, 4));
    hlen = (mv__rd_u32(hb, 0, 0) == MV__N2_SIZE || mv__rd_u32(hb, 0, 1) == MV__N2_SIZE) ? MV__N2_SIZE : MV__N1_SIZE;
    if (hsrc->size != MV__SIZE_UNKNOWN && hsrc->size < hlen)
        return mv__fail(MV_ERR_TRUNCATED, "%s: %llu bytes, shorter than a %zu-byte header", hsrc->name,
                        (unsigned long long)hsrc->size, hlen);
    MV__TRY(mv__src_read(hsrc, 4, hb + 4, hlen - 4));
    MV__TRY(mv__parse_header(hb, hlen, single, o.strict, &h));
    MV__CHECK(!(single && h.format == MV_FORMAT_ANALYZE), MV_ERR_BAD_HEADER,
              "%s: no NIfTI magic: an Analyze header needs its .img (load the .hdr)", hsrc->name);
    MV__TRY(mv__box_plan(&h, &o, &box));
    MV__TRY(mv__load_want(&h, &o, &w));

    /* extensions: after the 4-byte extender, up to the data (single file) or
       the end of the .hdr */
    ext_end = single ? h.vox_offset : hsrc->size;
    if (ext_end != MV__SIZE_UNKNOWN && ext_end >= h.hdr_size + 4 && h.format != MV_FORMAT_ANALYZE) {
        unsigned char extender[4];
        MV__TRY(mv__src_read(hsrc, h.hdr_size, extender, 4));
        if (extender[0] != 0)
            MV__TRY(mv__read_extensions(hsrc, h.hdr_size + 4, ext_end, h.swap, o.strict, &h.meta, o.alloc_ctx));
    }
    mv__vol_from_header(&h, box.whole ? NULL : &box, w.ddt, &v);
    if (o.squeeze) mv__vol_squeeze(&v);
    v.alloc_ctx = o.alloc_ctx;
    v.meta.pair = !single;
    if (w.scaled || (o.scaled && mv__dt[h.dtype].kind != MV__K_RGB)) {
        v.meta.scl_slope = 1.0; /* the values are scaled now */
        v.meta.scl_inter = 0.0;
    }
    if (o.header_only) {
        *out = v;
        return MV_OK;
    }
    data_off = h.vox_offset;
    limit = o.max_bytes && o.max_bytes < (uint64_t)MEDVOL_MAX_BYTES ? o.max_bytes : (uint64_t)MEDVOL_MAX_BYTES;
    if ((uint64_t)box.count * mv__dt[w.ddt].size > limit) {
        mv_free(&v);
        return mv__fail(MV_ERR_SIZE_OVERFLOW, "%s: voxel array of %llu bytes exceeds the limit of %llu (%s)", hsrc->name,
                        (unsigned long long)box.count * mv__dt[w.ddt].size, (unsigned long long)limit,
                        o.max_bytes ? "opts.max_bytes" : "MEDVOL_MAX_BYTES");
    }

    /* the data must all be there */
    st = mv__add_u64(h.vox_offset, h.data_bytes, &end) ? MV_OK : mv__fail(MV_ERR_SIZE_OVERFLOW, "vox_offset overflows");
    if (st == MV_OK && dsrc->size != MV__SIZE_UNKNOWN && end > dsrc->size)
        st = mv__fail(MV_ERR_TRUNCATED, "%s: %llu bytes; the header needs vox_offset %llu + %llu data bytes", dsrc->name,
                      (unsigned long long)dsrc->size, (unsigned long long)h.vox_offset, (unsigned long long)h.data_bytes);

    /* zero copy: the stored bytes are the answer (native order, no
       conversion, whole volume, aligned for the dtype) */
    zero_copy = st == MV_OK && box.whole && !h.swap && w.ddt == h.dtype && !w.scaled &&
                h.vox_offset % mv__dt_align(h.dtype) == 0;
#if defined(MV__HAVE_FILES)
    if (st == MV_OK && o.mmap == MV_MMAP_REQUIRE && !(zero_copy && dsrc->kind == MV__SRC_FILE))
        st = mv__fail(MV_ERR_UNSUPPORTED,
                      "%s: cannot map: %s", dsrc->name,
                      dsrc->kind == MV__SRC_GZ ? "the file is gzip-compressed"
                      : dsrc->kind != MV__SRC_FILE ? "not a file"
                      : !box.whole              ? "a crop box needs a copy"
                      : h.swap                  ? "the file's byte order is not the host's"
                      : (w.ddt != h.dtype || w.scaled) ? "the dtype or scaling changes"
                                                       : "vox_offset is not aligned for the dtype");
    if (st == MV_OK && zero_copy && dsrc->kind == MV__SRC_FILE && o.mmap != MV_MMAP_NEVER) {
        st = mv__src_map(dsrc, 1);
        if (st == MV_OK) {
            v.data = (unsigned char *)dsrc->map + h.vox_offset;
            v.mem_base = dsrc->map;
            v.mem_size = dsrc->map_len;
            v.flags = MV_VOL_MAPPED;
            dsrc->map = NULL; /* the volume owns the mapping now */
            dsrc->mem = NULL;
            *out = v;
            return MV_OK;
        }
    }
    /* a crop box from a file: map it read-only so only the touched pages
       are read (one fault per page, not one syscall per row) */
    if (st == MV_OK && !box.whole && dsrc->kind == MV__SRC_FILE && o.mmap != MV_MMAP_NEVER)
        (void)mv__src_map(dsrc, 0); /* on failure we fall back to pread */
#else
    MV__CHECK(o.mmap != MV_MMAP_REQUIRE, MV_ERR_UNSUPPORTED, "mmap needs files (MEDVOL_NO_STDIO)");
#endif
    if (st == MV_OK && zero_copy && borrow && dsrc->kind == MV__SRC_MEM && mv__aligned(dsrc->mem + h.vox_offset, h.dtype)) {
        v.data = (void *)(uintptr_t)(dsrc->mem + h.vox_offset);
        v.flags = MV_VOL_BORROWED;
        *out = v;
        return MV_OK;
    }

    /* compressed data that is not read straight into the voxels (conversion,
       byte swap, crop): decode just the byte range the box spans into scratch,
       then convert from memory like any other buffer, in parallel */
    if (st == MV_OK && dsrc->kind == MV__SRC_GZ && !(box.whole && !h.swap && w.ddt == h.dtype && !w.scaled)) {
        size_t ss = mv__dt[h.dtype].size;
        int64_t nruns = box.count / box.run_len;
        uint64_t lo = h.vox_offset + (uint64_t)mv__box_run_start(&box, 0) * ss,
                 hi = h.vox_offset + (uint64_t)(mv__box_run_start(&box, nruns - 1) + box.run_len) * ss;
        int sized = 0;
        if (hi - lo > limit)
            st = mv__fail(MV_ERR_SIZE_OVERFLOW, "%s: decompressed range of %llu bytes exceeds the limit of %llu", dsrc->name,
                          (unsigned long long)(hi - lo), (unsigned long long)limit);
        if (st == MV_OK) st = mv__gz_plausible(dsrc, hi, &sized);
        if (st == MV_OK && sized) { /* the size is known or believable: one buffer */
            gz_tmp = (unsigned char *)mv__alloc((size_t)(hi - lo), o.alloc_ctx);
            if (!gz_tmp) st = mv__fail(MV_ERR_OUT_OF_MEMORY, "decompressed range of %llu bytes", (unsigned long long)(hi - lo));
            if (st == MV_OK) st = mv__src_read(dsrc, lo, gz_tmp, (size_t)(hi - lo));
        } else if (st == MV_OK) { /* grows with the bytes that arrive */
            st = mv__src_read_new(dsrc, lo, (size_t)(hi - lo), o.alloc_ctx, &gz_tmp);
        }
        if (st == MV_OK) {
            mv__src_mem(&tmp_src, gz_tmp, (size_t)(hi - lo), dsrc->name);
            dsrc = &tmp_src;
            data_off = h.vox_offset - lo; /* modulo 2^64: file offset -> offset in gz_tmp */
        }
    }

    /* copy: parallel when the source can be read from several threads. A
       stream, or a gzip file whose size is not known or believed, fills a
       voxel array that grows as its bytes arrive. A gzip reader is one
       thread's (its cache and stream state): its reads run on the caller,
       and decode the members of an indexed file in parallel themselves. */
    if (st == MV_OK) {
        mv__ingest g;
        size_t out_bytes = (size_t)box.count * mv__dt[w.ddt].size;
        int sized = 1, stream, threads;
        int need_bounce = !(h.dtype == w.ddt && !w.scaled);
        if (dsrc->kind == MV__SRC_GZ) st = mv__gz_plausible(dsrc, end, &sized);
        stream = dsrc->kind == MV__SRC_IO || !sized;
        threads = stream || dsrc->kind == MV__SRC_GZ ? 1 : mv__threads_for_bytes(o.threads, out_bytes);
        memset(&g, 0, sizeof(g));
        /* a stream's voxel array grows as its bytes arrive (below) */
        if (st == MV_OK) v.data = mv__alloc(stream ? MV__MIN(out_bytes, MV__STREAM_STEP) : out_bytes, o.alloc_ctx);
        if (st == MV_OK && !v.data) {
            st = mv__fail(MV_ERR_OUT_OF_MEMORY, "voxel array of %zu bytes", out_bytes);
        } else if (st == MV_OK) { /* owned from here on, so mv_free releases it on any failure */
            v.flags = MV_VOL_OWNED;
            v.mem_base = v.data;
            v.mem_size = stream ? MV__MIN(out_bytes, MV__STREAM_STEP) : out_bytes;
        }
        if (st == MV_OK && need_bounce) {
            g.bounce = (unsigned char *)mv__alloc((size_t)threads * MV__BOUNCE_ELEMS * mv__dt[h.dtype].size, o.alloc_ctx);
            if (!g.bounce) st = mv__fail(MV_ERR_OUT_OF_MEMORY, "conversion buffers");
        }
        if (st == MV_OK) {
            g.src = dsrc;
            g.data_off = data_off;
            g.box = &box;
            g.sdt = h.dtype;
            g.ddt = w.ddt;
            g.swap = h.swap;
            g.scaled = w.scaled;
            g.slope = w.slope;
            g.inter = w.inter;
            g.rounding = o.rounding;
            g.dst = (unsigned char *)v.data;
            if (stream) {
                size_t ds = mv__dt[w.ddt].size, step = MV__MAX(MV__STREAM_STEP / ds, (size_t)1);
                int64_t b;
                for (b = 0; b < box.count && st == MV_OK; b += (int64_t)step) {
                    int64_t e = MV__MIN(box.count, b + (int64_t)step);
                    unsigned char *p = (unsigned char *)v.data;
                    st = mv__grow(&p, &v.mem_size, (size_t)e * ds, out_bytes, (size_t)b * ds, o.alloc_ctx);
                    v.data = v.mem_base = g.dst = p;
                    if (st == MV_OK) st = mv__ingest_range(&g, b, e, 0);
                }
            } else {
                st = mv__parallel_try(box.count, (int64_t)1 << 16, threads, mv__ingest_range, &g);
            }
        }
        if (g.bounce) mv__free(g.bounce, o.alloc_ctx);
    }
    /* integrity: a full load (or a verified partial one) has checked every
       gzip member of the file(s) (see INTEGRITY) */
    if (st == MV_OK && (box.whole || o.verify)) {
        st = mv__src_finish(hsrc);
        if (st == MV_OK && data_src != hsrc) st = mv__src_finish(data_src);
    }
    mv__free(gz_tmp, o.alloc_ctx);
    if (st != MV_OK) {
        mv_free(&v);
        return st;
    }
    *out = v;
    return MV_OK;
}

/* The loader on two sources (the same one for a single file), either of
   which may turn out to be gzip-compressed. */
static mv_status mv__load_core(mv__src *hsrc, mv__src *isrc, int single, int borrow, const mv_load_opts *opts,
                               mv_vol *out)
{
    mv__src hwrap, iwrap, *hs = hsrc, *is = isrc;
    int threads = opts ? opts->threads : 0;
    void *ctx = opts ? opts->alloc_ctx : NULL;
    mv_status st;
    mv_vol res; /* out is written once the load is complete */
    mv_vol_init(&res);
    mv__warn_detail[0] = 0;
    st = mv__src_sniff_gz(hsrc, &hwrap, &hs, threads, ctx);
    if (st == MV_OK && !single && isrc && isrc->kind != MV__SRC_MEM) st = mv__src_sniff_gz(isrc, &iwrap, &is, threads, ctx);
    else if (st == MV_OK && !single && isrc && isrc->size >= 2) st = mv__src_sniff_gz(isrc, &iwrap, &is, threads, ctx);
    if (st == MV_OK) st = mv__load_sources(hs, is, single, borrow, opts, &res);
    if (st == MV_OK && res.meta.warnings) { /* name the file once, in front */
        char w[sizeof(mv__warn_detail)];
        memcpy(w, mv__warn_detail, sizeof(w));
        mv__format(mv__warn_detail, sizeof(mv__warn_detail), "%s: %s", hsrc->name, w);
    }
    if (st != MV_OK) mv__warn_detail[0] = 0;
    if (st == MV_OK) st = mv__out_commit(out, &res);
    if (hs == &hwrap) mv__src_close(&hwrap);
    if (is == &iwrap) mv__src_close(&iwrap);
    return st;
}

/* name ends with ext, ignoring case */
static MV__UNUSED int mv__ends_with(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n >= e && mv__streq_nocase(name + n - e, ext);
}

MVDEF mv_status mv_load_mem(const void *buf, size_t len, mv_vol *out, const mv_load_opts *opts)
{
    mv__src s;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_load_mem: out is NULL");
    MV__TRY(mv__out_begin(out));
    MV__CHECK(buf != NULL || len == 0, MV_ERR_INVALID_ARG, "mv_load_mem: buf is NULL");
    mv__src_mem(&s, buf, len, "memory image");
    return mv__load_core(&s, NULL, 1, 0, opts, out);
}

MVDEF mv_status mv_load_mem_borrow(const void *buf, size_t len, mv_vol *out, const mv_load_opts *opts)
{
    mv__src s;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_load_mem_borrow: out is NULL");
    MV__TRY(mv__out_begin(out));
    MV__CHECK(buf != NULL || len == 0, MV_ERR_INVALID_ARG, "mv_load_mem_borrow: buf is NULL");
    mv__src_mem(&s, buf, len, "memory image");
    return mv__load_core(&s, NULL, 1, 1, opts, out);
}

MVDEF mv_status mv_load_mem_pair(const void *hdr, size_t hdr_len, const void *img, size_t img_len, mv_vol *out,
                                 const mv_load_opts *opts)
{
    mv__src hs, is;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_load_mem_pair: out is NULL");
    MV__TRY(mv__out_begin(out));
    MV__CHECK((hdr || !hdr_len) && (img || !img_len), MV_ERR_INVALID_ARG, "mv_load_mem_pair: NULL buffer");
    mv__src_mem(&hs, hdr, hdr_len, "header buffer");
    mv__src_mem(&is, img, img_len, "image buffer");
    return mv__load_core(&hs, &is, 0, 0, opts, out);
}

MVDEF mv_status mv_load_io(const mv_io *io, mv_vol *out, const mv_load_opts *opts)
{
    mv__src s;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_load_io: out is NULL");
    MV__TRY(mv__out_begin(out));
    MV__CHECK(io && io->read, MV_ERR_INVALID_ARG, "mv_load_io: no read callback");
    memset(&s, 0, sizeof(s));
    s.kind = MV__SRC_IO;
    s.size = MV__SIZE_UNKNOWN;
    s.io = io;
    s.fd = -1;
    s.name = "stream";
    return mv__load_core(&s, NULL, 1, 0, opts, out);
}

#if defined(MV__HAVE_FILES)
/* The pair lock: a .hdr/.img pair changes as one. mv_save renames the new
   .img and .hdr while holding flock(LOCK_EX) on the folder that holds the
   names; mv_load opens both under LOCK_SH, so it gets both files of one save
   (the open descriptors keep them whatever is renamed later). A folder, not
   a lock file: nothing is left beside the data, and a reader needs no write
   permission. Held only around renames and opens, so saves of different
   pairs in one folder hardly wait. Returns the descriptor to close (which
   unlocks), or -1 where the folder cannot be locked (then unguarded). */
static int mv__pair_lock(const char *path, int exclusive)
{
    const char *slash = strrchr(path, '/');
    char buf[4096], *dir = buf;
    size_t n = slash ? (size_t)(slash - path) : 0;
    int fd;
    if (!slash) dir = (char *)".";
    else if (n == 0) dir = (char *)"/";
    else if (n < sizeof(buf)) {
        memcpy(buf, path, n);
        buf[n] = 0;
    } else {
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        if (errno == EINTR) continue;
        close(fd);
        return -1;
    }
    return fd;
}
static void mv__pair_unlock(int fd)
{
    if (fd >= 0) close(fd);
}

/* mv_load's details start with the path (once): lower layers name a
   "header" or a gzip member, not the file the caller gave. */
static mv_status mv__name_error(mv_status st, const char *path, const char *other)
{
    char d[sizeof(mv__err_detail)];
    if (st == MV_OK || strstr(mv__err_detail, path) || (other && strstr(mv__err_detail, other))) return st;
    memcpy(d, mv__err_detail, sizeof(d));
    mv__format(mv__err_detail, sizeof(mv__err_detail), "%s: %s", path, d);
    return st;
}

/* Where the other file of a pair is: "x.hdr" <-> "x.img", with or without
   ".gz" (as the name has it, else the other way), keeping the case. */
static char *mv__pair_sibling(const char *path, void *ctx)
{
    size_t n = strlen(path), core = n, i;
    int gz = mv__ends_with(path, ".gz"), is_hdr, upper;
    char *s;
    if (gz) core -= 3;
    is_hdr = core >= 4 && mv__streq_nocase_n(path + core - 4, ".hdr", 4);
    upper = path[core - 1] >= 'A' && path[core - 1] <= 'Z';
    s = (char *)mv__alloc(n + 4, ctx);
    if (!s) return NULL;
    memcpy(s, path, n + 1);
    for (i = 0; i < 3; i++) s[core - 3 + i] = (char)((is_hdr ? "img" : "hdr")[i] - (upper ? 'a' - 'A' : 0));
#if defined(MV__HAVE_FILES)
    {
        struct stat st;
        if (stat(s, &st) != 0) { /* try the other compression */
            if (gz) s[core] = 0;
            else memcpy(s + n, upper ? ".GZ" : ".gz", 4);
            if (stat(s, &st) != 0) { /* neither: report the first */
                if (gz) memcpy(s + core, path + core, 4);
                else s[n] = 0;
            }
        }
    }
#endif
    return s;
}

MVDEF mv_status mv_load(const char *path, mv_vol *out, const mv_load_opts *opts)
{
    mv__src hs, is;
    mv_status st;
    void *ctx = opts ? opts->alloc_ctx : NULL;
    size_t n;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_load: out is NULL");
    MV__TRY(mv__out_begin(out));
    MV__CHECK(path != NULL && path[0], MV_ERR_INVALID_ARG, "mv_load: empty path");
    n = strlen(path) - (mv__ends_with(path, ".gz") ? 3 : 0);
    if (n >= 4 && (mv__streq_nocase_n(path + n - 4, ".hdr", 4) || mv__streq_nocase_n(path + n - 4, ".img", 4))) {
        int is_hdr = mv__streq_nocase_n(path + n - 4, ".hdr", 4);
        char *other = mv__pair_sibling(path, ctx);
        int header_only = opts && opts->header_only, lock;
        MV__CHECK(other != NULL, MV_ERR_OUT_OF_MEMORY, "%s: file name", path);
        lock = header_only ? -1 : mv__pair_lock(path, 0); /* both files of one save */
        st = mv__src_open(&hs, is_hdr ? path : other);
        if (st == MV_OK && !header_only) {
            st = mv__src_open(&is, is_hdr ? other : path);
            if (st != MV_OK) mv__src_close(&hs);
        }
        mv__pair_unlock(lock);
        if (st == MV_OK) {
            if (header_only) mv__src_mem(&is, NULL, 0, "no image");
            st = mv__load_core(&hs, &is, 0, 0, opts, out);
            if (!header_only) mv__src_close(&is);
            mv__src_close(&hs);
        }
        st = mv__name_error(st, path, other);
        mv__free(other, ctx);
        return st;
    }
    st = mv__src_open(&hs, path);
    if (st == MV_OK) {
        st = mv__load_core(&hs, NULL, 1, 0, opts, out);
        mv__src_close(&hs);
    }
    return mv__name_error(st, path, NULL);
}
#endif

/* ---- writer ---- */

typedef struct mv__wplan {
    int version;         /* 1 or 2 */
    size_t hdr_size;
    uint64_t ext_bytes;  /* padded extension bytes */
    uint64_t vox_offset;
    uint64_t data_bytes;
} mv__wplan;

static uint64_t mv__ext_padded(uint32_t size) { return ((uint64_t)size + 8 + 15) / 16 * 16; }

static const char *mv__f32_misfit(const mv_vol *v);

/* name: the file (or "mv_save_mem" ...) for messages. */
static mv_status mv__plan_write(const mv_vol *v, int pair, int want_version, const char *name, mv__wplan *p)
{
    int i, need2 = 0;
    uint64_t bytes = 0;
    const char *misfit;
    memset(p, 0, sizeof(*p));
    MV__CHECK(v != NULL, MV_ERR_INVALID_ARG, "%s: the volume is NULL", name);
    MV__CHECK(v->data != NULL, MV_ERR_INVALID_ARG, "%s: the volume has no data", name);
    if (mv__shape_bytes(v->dtype, v->ndim, v->dim, &bytes) != MV_OK) {
        char d[sizeof(mv__err_detail)];
        memcpy(d, mv__err_detail, sizeof(d));
        return mv__fail(MV_ERR_INVALID_ARG, "%s: %s", name, d);
    }
    MV__CHECK(mv__dt[v->dtype].nifti != 0, MV_ERR_UNSUPPORTED,
              "%s: %s has no NIfTI datatype (convert to float32 first)", name, mv__dt[v->dtype].name);
    MV__CHECK(want_version >= 0 && want_version <= 2, MV_ERR_INVALID_ARG, "%s: nifti_version %d (0, 1 or 2)", name,
              want_version);
    MV__CHECK(v->meta.n_ext >= 0 && (v->meta.n_ext == 0 || v->meta.ext), MV_ERR_INVALID_ARG, "%s: bad extension list",
              name);
    for (i = 0; i < v->ndim; i++) need2 |= v->dim[i] > 32767;
    need2 |= v->meta.slice_start > 32767 || v->meta.slice_end > 32767 || v->meta.slice_start < -32768 ||
             v->meta.slice_end < -32768;
    p->ext_bytes = 0;
    for (i = 0; i < v->meta.n_ext; i++) p->ext_bytes += mv__ext_padded(v->meta.ext[i].size);
    need2 |= p->ext_bytes > ((uint64_t)1 << 24) - 1024; /* NIfTI-1 vox_offset is a float */
    /* NIfTI-1 stores float32: a float64 value that becomes +-inf or 0 there
       (slope 2.4e-319 -> 0 = "no scaling") changes the image, so such a
       volume stays NIfTI-2, and so does one read from NIfTI-2 (a rewrite
       keeps its format, as nibabel keeps the header class) */
    misfit = mv__f32_misfit(v);
    p->version = want_version ? want_version : need2 || misfit || v->meta.format == MV_FORMAT_NIFTI2 ? 2 : 1;
    MV__CHECK(!(p->version == 1 && need2), MV_ERR_INVALID_ARG,
              "%s: NIfTI-1 cannot hold this volume (dims over 32767 or large extensions): use NIfTI-2", name);
    MV__CHECK(!(p->version == 1 && misfit), MV_ERR_INVALID_ARG,
              "%s: %s does not fit NIfTI-1's float32 (it would become 0 or infinite): use NIfTI-2", name,
              misfit ? misfit : "");
    p->hdr_size = p->version == 2 ? MV__N2_SIZE : MV__N1_SIZE;
    p->vox_offset = pair ? 0 : p->hdr_size + 4 + p->ext_bytes;
    p->data_bytes = bytes;
    return MV_OK;
}

/* The q/s-form fields to write: the stored ones when they still give the
   volume's affine; otherwise recomputed from the affine (sform = affine, code
   kept or ALIGNED; qform from the polar decomposition, code kept), as
   nibabel does when an image's affine has changed. */
typedef struct mv__xforms {
    int qform_code, sform_code;
    double quatern[3], qoffset[3], qfac, srow[3][4], pixdim[3];
} mv__xforms;

static void mv__xforms_for_write(const mv_vol *v, mv__xforms *x)
{
    double m[4][4], aff[4][4], scale = 0, diff = 0;
    int r, c;
    mv_meta_affine(v, m);
    /* the tolerance scales with the rotation/zoom part only: scaled by a
       translation of 1e7 it would swallow a flip or a permutation */
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) {
            if (c < 3) scale = MV__MAX(scale, fabs(v->affine[r][c]));
            diff = MV__MAX(diff, fabs(v->affine[r][c] - m[r][c]));
        }
    x->qform_code = v->meta.qform_code;
    x->sform_code = v->meta.sform_code;
    for (r = 0; r < 3; r++) x->pixdim[r] = v->spacing[r];
    if (v->meta.format != MV_FORMAT_ANALYZE && diff <= 1e-9 * (scale > 1 ? scale : 1)) {
        memcpy(x->quatern, v->meta.quatern, sizeof(x->quatern));
        memcpy(x->qoffset, v->meta.qoffset, sizeof(x->qoffset));
        memcpy(x->srow, v->meta.srow, sizeof(x->srow));
        x->qfac = v->meta.qfac;
        return;
    }
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) aff[r][c] = v->affine[r][c];
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) x->srow[r][c] = aff[r][c];
    if (x->sform_code <= 0) x->sform_code = MV_XFORM_ALIGNED;
    mv__affine_to_quatern(aff, x->quatern, x->qoffset, x->pixdim, &x->qfac);
    for (r = 0; r < 3; r++)
        if (x->pixdim[r] == 0) x->pixdim[r] = v->spacing[r];
}

/* The first float64 header value NIfTI-1's float32 cannot keep (finite ->
   infinite, non-zero -> 0), named; NULL if all fit. */
static int mv__f32_fits(double d)
{
    float f = (float)d;
    if (isfinite(d) && !isfinite(f)) return 0;
    return !(d != 0 && f == 0);
}
static const char *mv__f32_misfit(const mv_vol *v)
{
    static const char *const srow_name[3] = {"srow_x", "srow_y", "srow_z"};
    const mv_meta *m = &v->meta;
    mv__xforms x;
    int i;
    if (!mv__f32_fits(m->scl_slope)) return "scl_slope";
    if (!mv__f32_fits(m->scl_inter)) return "scl_inter";
    if (!mv__f32_fits(m->cal_min)) return "cal_min";
    if (!mv__f32_fits(m->cal_max)) return "cal_max";
    if (!mv__f32_fits(m->slice_duration)) return "slice_duration";
    if (!mv__f32_fits(m->toffset)) return "toffset";
    for (i = 0; i < 3; i++)
        if (!mv__f32_fits(m->intent_p[i])) return "intent_p";
    for (i = 0; i < v->ndim && i < 7; i++)
        if (!mv__f32_fits(v->spacing[i])) return "pixdim";
    mv__xforms_for_write(v, &x);
    for (i = 0; i < 3; i++)
        if (!mv__f32_fits(x.quatern[i])) return "quatern";
    for (i = 0; i < 3; i++)
        if (!mv__f32_fits(x.qoffset[i])) return "qoffset";
    for (i = 0; i < 12; i++)
        if (!mv__f32_fits(x.srow[i / 4][i % 4])) return srow_name[i / 4];
    return NULL;
}

static void mv__encode_header(const mv_vol *v, const mv__wplan *p, int pair, unsigned char *b)
{
    const mv_meta *m = &v->meta;
    mv__xforms x;
    double pixdim[8];
    int i;
    mv__xforms_for_write(v, &x);
    pixdim[0] = x.qfac;
    for (i = 1; i < 8; i++) pixdim[i] = v->spacing[i - 1];
    for (i = 0; i < 3; i++) pixdim[i + 1] = x.pixdim[i];
    memset(b, 0, MV__N2_SIZE);
    if (p->version == 2) {
        mv__wr_i32(b, 0, MV__N2_SIZE);
        memcpy(b + 4, pair ? "ni2\0\r\n\032\n" : "n+2\0\r\n\032\n", 8);
        mv__wr_i16(b, 12, mv__dt[v->dtype].nifti);
        mv__wr_i16(b, 14, (int64_t)mv__dt[v->dtype].size * 8);
        mv__wr_i64(b, 16, v->ndim);
        for (i = 1; i < 8; i++) mv__wr_i64(b, 16 + 8 * (size_t)i, i <= v->ndim ? v->dim[i - 1] : 1);
        for (i = 0; i < 3; i++) mv__wr_f64(b, 80 + 8 * (size_t)i, m->intent_p[i]);
        for (i = 0; i < 8; i++) mv__wr_f64(b, 104 + 8 * (size_t)i, pixdim[i]);
        mv__wr_i64(b, 168, (int64_t)p->vox_offset);
        mv__wr_f64(b, 176, m->scl_slope);
        mv__wr_f64(b, 184, m->scl_inter);
        mv__wr_f64(b, 192, m->cal_max);
        mv__wr_f64(b, 200, m->cal_min);
        mv__wr_f64(b, 208, m->slice_duration);
        mv__wr_f64(b, 216, m->toffset);
        mv__wr_i64(b, 224, m->slice_start);
        mv__wr_i64(b, 232, m->slice_end);
        mv__wr_str(b, 240, m->descrip, 80);
        mv__wr_str(b, 320, m->aux_file, 24);
        mv__wr_i32(b, 344, x.qform_code);
        mv__wr_i32(b, 348, x.sform_code);
        for (i = 0; i < 3; i++) {
            mv__wr_f64(b, 352 + 8 * (size_t)i, x.quatern[i]);
            mv__wr_f64(b, 376 + 8 * (size_t)i, x.qoffset[i]);
        }
        for (i = 0; i < 12; i++) mv__wr_f64(b, 400 + 8 * (size_t)i, x.srow[i / 4][i % 4]);
        mv__wr_i32(b, 496, m->slice_code);
        mv__wr_i32(b, 500, m->xyzt_units);
        mv__wr_i32(b, 504, m->intent_code);
        mv__wr_str(b, 508, m->intent_name, 16);
        b[524] = (unsigned char)m->dim_info;
        return;
    }
    mv__wr_i32(b, 0, MV__N1_SIZE);
    b[38] = 'r'; /* "regular", as nibabel writes it */
    b[39] = (unsigned char)m->dim_info;
    mv__wr_i16(b, 40, v->ndim);
    for (i = 1; i < 8; i++) mv__wr_i16(b, 40 + 2 * (size_t)i, i <= v->ndim ? v->dim[i - 1] : 1);
    for (i = 0; i < 3; i++) mv__wr_f32(b, 56 + 4 * (size_t)i, m->intent_p[i]);
    mv__wr_i16(b, 68, m->intent_code);
    mv__wr_i16(b, 70, mv__dt[v->dtype].nifti);
    mv__wr_i16(b, 72, (int64_t)mv__dt[v->dtype].size * 8);
    mv__wr_i16(b, 74, m->slice_start);
    for (i = 0; i < 8; i++) mv__wr_f32(b, 76 + 4 * (size_t)i, pixdim[i]);
    mv__wr_f32(b, 108, (double)p->vox_offset);
    mv__wr_f32(b, 112, m->scl_slope);
    mv__wr_f32(b, 116, m->scl_inter);
    mv__wr_i16(b, 120, m->slice_end);
    b[122] = (unsigned char)m->slice_code;
    b[123] = (unsigned char)m->xyzt_units;
    mv__wr_f32(b, 124, m->cal_max);
    mv__wr_f32(b, 128, m->cal_min);
    mv__wr_f32(b, 132, m->slice_duration);
    mv__wr_f32(b, 136, m->toffset);
    mv__wr_str(b, 148, m->descrip, 80);
    mv__wr_str(b, 228, m->aux_file, 24);
    mv__wr_i16(b, 252, x.qform_code);
    mv__wr_i16(b, 254, x.sform_code);
    for (i = 0; i < 3; i++) {
        mv__wr_f32(b, 256 + 4 * (size_t)i, x.quatern[i]);
        mv__wr_f32(b, 268 + 4 * (size_t)i, x.qoffset[i]);
    }
    for (i = 0; i < 12; i++) mv__wr_f32(b, 280 + 4 * (size_t)i, x.srow[i / 4][i % 4]);
    mv__wr_str(b, 328, m->intent_name, 16);
    memcpy(b + 344, pair ? "ni1" : "n+1", 4);
}

/* Header, extender, extensions (padded to 16 bytes) into hs. */
static mv_status mv__write_nifti_header(const mv_vol *v, const mv__wplan *p, int pair, mv__sink *hs)
{
    unsigned char hb[MV__N2_SIZE], ext4[4] = {0, 0, 0, 0}, pad[16];
    int i;
    mv__encode_header(v, p, pair, hb);
    MV__TRY(mv__sink_write(hs, hb, p->hdr_size));
    ext4[0] = v->meta.n_ext > 0;
    MV__TRY(mv__sink_write(hs, ext4, 4));
    memset(pad, 0, sizeof(pad));
    for (i = 0; i < v->meta.n_ext; i++) {
        const mv_extension *e = &v->meta.ext[i];
        uint64_t esize = mv__ext_padded(e->size);
        unsigned char eh[8];
        mv__wr_i32(eh, 0, (int64_t)esize);
        mv__wr_i32(eh, 4, e->code);
        MV__TRY(mv__sink_write(hs, eh, 8));
        if (e->size) MV__TRY(mv__sink_write(hs, e->data, e->size));
        MV__TRY(mv__sink_write(hs, pad, (size_t)(esize - 8 - e->size)));
    }
    return MV_OK;
}

/* The whole file(s): header into hs, voxels into ds (the same sink for a
   single file); gzip-compressed when g is given: a single file as members
   (the header in its own, so the voxels start a member), a pair as two
   gzip files. */
static mv_status mv__write_nifti(const mv_vol *v, const mv__wplan *p, int pair, mv__sink *hs, mv__sink *ds,
                                 const mv_gzip_opts *g)
{
    mv__sink mem;
    mv__gz_piece pc[2];
    unsigned char *hb, *all = NULL;
    size_t hlen = p->hdr_size + 4 + (size_t)p->ext_bytes;
    void *ctx = g ? g->alloc_ctx : NULL;
    mv_status st;
    if (!g) {
        MV__TRY(mv__write_nifti_header(v, p, pair, hs));
        return mv__sink_write(ds, v->data, (size_t)p->data_bytes);
    }
    hb = (unsigned char *)mv__alloc(hlen, ctx);
    MV__CHECK(hb != NULL, MV_ERR_OUT_OF_MEMORY, "header buffer");
    memset(&mem, 0, sizeof(mem));
    mem.buf = hb;
    mem.cap = hlen;
    mem.name = "header";
    st = mv__write_nifti_header(v, p, pair, &mem);
    pc[0].p = hb;
    pc[0].n = hlen;
    pc[1].p = (const unsigned char *)v->data;
    pc[1].n = (size_t)p->data_bytes;
    if (st == MV_OK && pair) {
        st = g->single_member ? mv__gz_write_single(hb, hlen, g, hs) : mv__gz_write_pieces(pc, 1, g, hs);
        if (st == MV_OK) st = g->single_member ? mv__gz_write_single(pc[1].p, pc[1].n, g, ds) : mv__gz_write_pieces(pc + 1, 1, g, ds);
    } else if (st == MV_OK && g->single_member) { /* one DEFLATE stream needs the bytes in one piece */
        all = (unsigned char *)mv__alloc(hlen + pc[1].n, ctx);
        if (!all) st = mv__fail(MV_ERR_OUT_OF_MEMORY, "gzip input of %zu bytes", hlen + pc[1].n);
        if (st == MV_OK) {
            memcpy(all, hb, hlen);
            memcpy(all + hlen, pc[1].p, pc[1].n);
            st = mv__gz_write_single(all, hlen + pc[1].n, g, hs);
        }
    } else if (st == MV_OK) {
        st = mv__gz_write_pieces(pc, 2, g, hs);
    }
    mv__free(all, ctx);
    mv__free(hb, ctx);
    return st;
}

MVDEF mv_status mv_save_mem(const mv_vol *v, void *buf, size_t cap, size_t *len, const mv_save_opts *opts)
{
    mv__wplan p;
    mv__sink s;
    uint64_t total;
    MV__CHECK(len != NULL, MV_ERR_INVALID_ARG, "mv_save_mem: len is NULL");
    MV__TRY(mv__plan_write(v, 0, opts ? opts->nifti_version : 0, "mv_save_mem", &p));
    memset(&s, 0, sizeof(s));
    s.buf = (unsigned char *)buf;
    s.cap = buf ? cap : 0;
    s.name = "memory";
    if (opts && opts->compress) { /* the size is known by compressing (also for a sizing call) */
        MV__TRY(mv__write_nifti(v, &p, 0, &s, &s, &opts->gzip));
        *len = s.len;
        MV__CHECK(!buf || s.len <= cap, MV_ERR_BUFFER_TOO_SMALL, "mv_save_mem: needs %zu bytes, buffer has %zu", s.len, cap);
        return MV_OK;
    }
    MV__CHECK(mv__add_u64(p.vox_offset, p.data_bytes, &total) && mv__fits_size(total), MV_ERR_SIZE_OVERFLOW,
              "mv_save_mem: image size overflows");
    *len = (size_t)total;
    if (!buf) return MV_OK;
    MV__CHECK(cap >= total, MV_ERR_BUFFER_TOO_SMALL, "mv_save_mem: needs %llu bytes, buffer has %zu",
              (unsigned long long)total, cap);
    return mv__write_nifti(v, &p, 0, &s, &s, NULL);
}

MVDEF mv_status mv_save_io(const mv_vol *v, const mv_io *io, const mv_save_opts *opts)
{
    mv__wplan p;
    mv__sink s;
    MV__CHECK(io && io->write, MV_ERR_INVALID_ARG, "mv_save_io: no write callback");
    MV__TRY(mv__plan_write(v, 0, opts ? opts->nifti_version : 0, "mv_save_io", &p));
    memset(&s, 0, sizeof(s));
    s.kind = 2;
    s.io = io;
    s.name = "stream";
    return mv__write_nifti(v, &p, 0, &s, &s, opts && opts->compress ? &opts->gzip : NULL);
}

#if defined(MV__HAVE_FILES)
/* ---- files: where a save goes ----
   A save writes a temporary beside the target and renames it over the
   target (same folder, so the rename is atomic). The temporary is made like
   any new file (open(2) with 0666, so the umask and a default ACL apply);
   replacing a file keeps that file's mode. A symlink is written through, as
   cp does: the file it names is replaced, in that file's folder, and the
   link stays. Temporaries are named TARGET.mvtmp-HOST-PID-RANDOM: a save
   removes the ones of its target whose writer (same host, that pid) is gone,
   left by a writer that was killed; never a live writer's. */
#define MV__MAX_LINKS 40

/* path with its symlinks followed (each hop relative to the link's folder). */
static mv_status mv__follow_links(const char *path, void *ctx, char **out)
{
    size_t n = strlen(path);
    char *cur = (char *)mv__alloc(n + 1, ctx);
    int hops;
    *out = NULL;
    MV__CHECK(cur != NULL, MV_ERR_OUT_OF_MEMORY, "%s: file name", path);
    memcpy(cur, path, n + 1);
    for (hops = 0; hops <= MV__MAX_LINKS; hops++) {
        struct stat st;
        char link[4096], *next, *slash;
        ssize_t len;
        size_t keep;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *out = cur;
            return MV_OK;
        }
        len = readlink(cur, link, sizeof(link) - 1);
        if (len <= 0 || (size_t)len >= sizeof(link) - 1) {
            mv_status e = mv__fail(MV_ERR_IO, "%s: cannot read the symlink '%s'", path, cur);
            mv__free(cur, ctx);
            return e;
        }
        link[len] = 0;
        slash = strrchr(cur, '/');
        keep = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1; /* the link's folder, '/' included */
        next = (char *)mv__alloc(keep + (size_t)len + 1, ctx);
        if (!next) {
            mv__free(cur, ctx);
            return mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: file name", path);
        }
        memcpy(next, cur, keep);
        memcpy(next + keep, link, (size_t)len + 1);
        mv__free(cur, ctx);
        cur = next;
    }
    mv__free(cur, ctx);
    return mv__fail(MV_ERR_IO, "%s: more than %d symlinks", path, MV__MAX_LINKS);
}

/* This host's name as it goes into temporary names: [A-Za-z0-9.] only. */
static void mv__tmp_host(char *h, size_t cap)
{
    char full[256];
    size_t i;
    if (gethostname(full, sizeof(full)) != 0) full[0] = 0;
    full[sizeof(full) - 1] = 0;
    for (i = 0; full[i] && i + 1 < cap; i++) { /* the first cap - 1 characters */
        char c = full[i];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
        h[i] = plain ? c : '_';
    }
    h[i] = 0;
    if (!h[0]) memcpy(h, "host", 5);
}

/* Removes TARGET.mvtmp-HOST-PID-XXXXXX files of this host whose process is
   gone (kill(pid, 0) fails with ESRCH). Our own pid's are another thread's. */
static void mv__clean_stale_tmps(const char *target)
{
    const char *slash = strrchr(target, '/'), *base = slash ? slash + 1 : target;
    char dir[4096], host[17], full[4096 + 256];
    size_t dn = slash ? (size_t)(slash - target) : 0, bn = strlen(base), hn;
    DIR *d;
    struct dirent *e;
    if (dn >= sizeof(dir) || bn > 200) return;
    if (!slash) {
        memcpy(dir, ".", 2);
    } else if (dn == 0) {
        memcpy(dir, "/", 2);
    } else {
        memcpy(dir, target, dn);
        dir[dn] = 0;
    }
    mv__tmp_host(host, sizeof(host));
    hn = strlen(host);
    d = opendir(dir);
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name, *rest, *p;
        size_t len = strlen(nm);
        long pid = 0, scale = 1;
        if (len < bn + 7 || memcmp(nm, base, bn) != 0 || memcmp(nm + bn, ".mvtmp-", 7) != 0) continue;
        rest = nm + bn + 7;
        len = strlen(rest); /* HOST-PID-XXXXXX */
        if (len < hn + 10 || memcmp(rest, host, hn) != 0 || rest[hn] != '-' || rest[len - 7] != '-') continue;
        for (p = rest + len - 8; p > rest + hn && *p >= '0' && *p <= '9' && scale < 1000000000L; p--) {
            pid += (*p - '0') * scale;
            scale *= 10;
        }
        if (p != rest + hn || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        mv__format(full, sizeof(full), "%s/%s", dir, nm);
        (void)unlink(full);
    }
    closedir(d);
}

/* A temporary file beside the target. */
typedef struct mv__tmpfile {
    char *tmp;
    char *target; /* symlinks followed */
    int fd;
} mv__tmpfile;

static mv_status mv__tmp_create(mv__tmpfile *t, const char *path, void *ctx)
{
    static MV__TLS unsigned long counter;
    char host[17]; /* short: the temporary's name must stay under NAME_MAX */
    struct stat st;
    size_t n;
    int tries;
    t->fd = -1;
    t->tmp = NULL;
    MV__TRY(mv__follow_links(path, ctx, &t->target));
    mv__clean_stale_tmps(t->target);
    mv__tmp_host(host, sizeof(host));
    n = strlen(t->target);
    t->tmp = (char *)mv__alloc(n + 7 + sizeof(host) + 48, ctx);
    if (!t->tmp) {
        mv__free(t->target, ctx);
        t->target = NULL;
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: file name", path);
    }
    for (tries = 0; tries < 100 && t->fd < 0; tries++) {
        /* the random part only has to differ from a live writer's: a counter,
           the clock and a stack address, mixed */
        uint64_t r = (uint64_t)(uintptr_t)&st ^ ((uint64_t)++counter << 32) ^ ((uint64_t)getpid() << 16) ^ (uint64_t)tries;
        char rnd[7];
        int i;
        r *= 0x9E3779B97F4A7C15ull;
        r ^= r >> 29;
        for (i = 0; i < 6; i++) rnd[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(r >> (6 * i)) % 36];
        rnd[6] = 0;
        mv__format(t->tmp, n + 7 + sizeof(host) + 48, "%s.mvtmp-%s-%ld-%s", t->target, host, (long)getpid(), rnd);
        t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (t->fd < 0 && errno != EEXIST) break;
    }
    if (t->fd < 0) {
        mv_status e = mv__fail(MV_ERR_IO, "%s: cannot create a file next to '%s': %s", path, t->target, strerror(errno));
        mv__free(t->tmp, ctx);
        mv__free(t->target, ctx);
        t->tmp = t->target = NULL;
        return e;
    }
    /* replacing a file keeps its mode (a new one has what open gave it) */
    if (stat(t->target, &st) == 0 && S_ISREG(st.st_mode)) (void)fchmod(t->fd, st.st_mode & 07777);
    return MV_OK;
}

/* Closes (after an fsync if asked); on failure or without do_rename removes
   the temporary; the rename itself is mv__tmp_rename. */
static mv_status mv__tmp_close(mv__tmpfile *t, mv_status st, int do_fsync)
{
    if (t->fd >= 0) {
        if (st == MV_OK && do_fsync && fsync(t->fd) != 0)
            st = mv__fail(MV_ERR_IO, "fsync '%s': %s", t->tmp, strerror(errno));
        if (close(t->fd) != 0 && st == MV_OK) st = mv__fail(MV_ERR_IO, "close '%s': %s", t->tmp, strerror(errno));
        t->fd = -1;
    }
    return st;
}
static mv_status mv__tmp_rename(mv__tmpfile *t, mv_status st, void *ctx)
{
    if (st != MV_OK || !t->tmp) return st;
    if (rename(t->tmp, t->target) != 0) return mv__fail(MV_ERR_IO, "rename to '%s': %s", t->target, strerror(errno));
    mv__free(t->tmp, ctx); /* the name is the target's now: nothing to remove */
    t->tmp = NULL;
    return MV_OK;
}
static void mv__tmp_free(mv__tmpfile *t, void *ctx)
{
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    if (t->tmp) (void)unlink(t->tmp); /* not renamed: a failed save */
    mv__free(t->tmp, ctx);
    mv__free(t->target, ctx);
    t->tmp = t->target = NULL;
}

static void mv__sink_fd(mv__sink *s, int fd, const char *name)
{
    memset(s, 0, sizeof(*s));
    s->kind = 1;
    s->fd = fd;
    s->name = name;
}

MVDEF mv_status mv_save(const char *path, const mv_vol *v, const mv_save_opts *opts)
{
    mv__wplan p;
    mv__tmpfile th, ti;
    mv__sink hs, is;
    mv_status st;
    int pair, gz, do_fsync = opts ? opts->fsync : 0;
    void *ctx = opts ? opts->alloc_ctx : NULL;
    size_t n;
    mv_gzip_opts gzo;
    MV__CHECK(path && path[0], MV_ERR_INVALID_ARG, "mv_save: empty path");
    gz = mv__ends_with(path, ".gz");
    n = strlen(path) - (gz ? 3 : 0);
    pair = n >= 4 && (mv__streq_nocase_n(path + n - 4, ".hdr", 4) || mv__streq_nocase_n(path + n - 4, ".img", 4));
    MV__CHECK(pair || (n >= 4 && mv__streq_nocase_n(path + n - 4, ".nii", 4)), MV_ERR_INVALID_ARG,
              "'%s': cannot tell the format from the name (use .nii, .hdr or .img, each with or without .gz)", path);
    MV__TRY(mv__plan_write(v, pair, opts ? opts->nifti_version : 0, path, &p));
    if (opts) gzo = opts->gzip;
    else memset(&gzo, 0, sizeof(gzo));
    if (!gzo.alloc_ctx) gzo.alloc_ctx = ctx;
    if (!pair) {
        MV__TRY(mv__tmp_create(&th, path, ctx));
        mv__sink_fd(&hs, th.fd, path);
        st = mv__write_nifti(v, &p, 0, &hs, &hs, gz ? &gzo : NULL);
        st = mv__tmp_rename(&th, mv__tmp_close(&th, st, do_fsync), ctx);
        mv__tmp_free(&th, ctx);
        return st;
    }
    {
        int is_hdr = mv__streq_nocase_n(path + n - 4, ".hdr", 4), upper = path[n - 1] >= 'A' && path[n - 1] <= 'Z', i;
        char *other = (char *)mv__alloc(strlen(path) + 1, ctx);
        const char *hname, *iname;
        MV__CHECK(other != NULL, MV_ERR_OUT_OF_MEMORY, "file name");
        memcpy(other, path, strlen(path) + 1); /* the sibling: same compression, same case */
        for (i = 0; i < 3; i++) other[n - 3 + i] = (char)((is_hdr ? "img" : "hdr")[i] - (upper ? 'a' - 'A' : 0));
        hname = is_hdr ? path : other;
        iname = is_hdr ? other : path;
        st = mv__tmp_create(&ti, iname, ctx);
        if (st == MV_OK) {
            st = mv__tmp_create(&th, hname, ctx);
            if (st == MV_OK) {
                int lock;
                mv__sink_fd(&hs, th.fd, hname);
                mv__sink_fd(&is, ti.fd, iname);
                st = mv__write_nifti(v, &p, 1, &hs, &is, gz ? &gzo : NULL);
                st = mv__tmp_close(&ti, st, do_fsync);
                st = mv__tmp_close(&th, st, do_fsync);
                /* both renames under the pair lock, so a loader (or another
                   save) sees the old pair or the new one, never a mix; image
                   first, for readers that do not lock */
                lock = st == MV_OK ? mv__pair_lock(path, 1) : -1;
                st = mv__tmp_rename(&ti, st, ctx);
                st = mv__tmp_rename(&th, st, ctx);
                mv__pair_unlock(lock);
                mv__tmp_free(&th, ctx);
            }
            mv__tmp_free(&ti, ctx);
        }
        mv__free(other, ctx);
        return st;
    }
}
#endif

/* >>impl-resample ========================================================== */

/* How it works. Output voxel o samples input coordinate M * o. When M is
   diagonal (zoom, spacing, translations) every axis has its own taps, and a
   slice is made row by row: the input rows under a row's taps are blended
   along z, interpolated along x into a row of the output's width, and those
   rows are blended along y (a ring of the last rows is reused while y
   advances). Strong downsampling in x interpolates x first, then blends z.
   Rows are cut into chunks of at most MV__RS_LMAX output voxels spanning at
   most MV__RS_SMAX input voxels, so every buffer is a fixed stack array
   (about 24 KiB): the linear and nearest forms allocate nothing. Other maps
   sample voxel by voxel. Cubic first turns each 3D frame into B-spline
   coefficients (float64 lines, float32 volume with one voxel of padding on
   every side) and then interpolates those with four taps per axis. Work is
   split by output slice, and nothing a slice computes depends on another,
   so any thread count gives the same bits. */

#define MV__RS_LMAX 256             /* output voxels per row chunk */
#define MV__RS_SMAX 512             /* input voxels a converted or blended chunk may span */
#define MV__RS_MAX_DIM (INT64_C(2147483647) - 16) /* int32 tap indices, padding included */
#define MV__RS_FAR 64.0             /* cubic: beyond this many voxels the spline is flat */

/* One axis of a separable map: input coordinate c = ((double)o + u) * s + v
   (scipy zoom's own arithmetic with u = 0.5, v = -0.5 in grid mode). */
typedef struct mv__rs_axis {
    double s, u, v;
    int64_t n, m;   /* input and output voxels */
    int taps;       /* 1, 2 or 4 */
    int64_t lo, hi; /* outputs [lo, hi) sample inside the input; the rest get the fill value */
} mv__rs_axis;

typedef struct mv__rs_map {
    double M[3][4];   /* output voxel (i, j, k, 1) -> input voxel */
    int separable;
    mv__rs_axis ax[3];
} mv__rs_map;

MV__INLINE double mv__rs_coord(const mv__rs_axis *a, int64_t o) { return ((double)o + a->u) * a->s + a->v; }

/* floor of |c| < 2^62 without libm (floor() is a call on baseline x86-64) */
MV__INLINE double mv__rs_floor(double c)
{
    int64_t t = (int64_t)c;
    return (double)(t - ((double)t > c));
}

/* scipy's mirror of an index into [0, n) (mode 'mirror', whole-sample) */
static int64_t mv__rs_mirror(int64_t k, int64_t n)
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

/* Taps of coordinate c on an axis of n input voxels: returns the first of
   the `taps` consecutive stored indices (cubic coefficients are stored from
   index -1, so stored = voxel + 1) and their weights.
   Nearest and linear clamp c to [0, n-1] (the edge continues; fill mode
   asks only about coordinates inside). Nearest takes floor(c + 0.5) as
   scipy order 0 does. Linear weights 1 - t, t; at c = n-1 the window
   moves left with weights 0, 1.
   Cubic: the B-spline weights of floor(c)-1 .. floor(c)+2, moved into a
   window inside the stored -1 .. n. Mirror mode maps outside taps back as
   scipy does; edge mode uses c[-m] = g0 + z^m (c[0] - g0) with
   g0 = (c[-1] - z c[0]) / (1 - z), i.e. tap -1-m weighs
   ((1 - z^m)/(1 - z) + z^m) on c[-1] and -z (1 - z^m)/(1 - z) on c[0]
   (likewise on the right), so the padding of one voxel reaches any
   distance. */
static int64_t mv__rs_taps(double c, int64_t n, mv_interp interp, int mirror, float *w)
{
    if (interp == MV_INTERP_NEAREST) {
        double cl = !(c >= 0) ? 0 : c > (double)(n - 1) ? (double)(n - 1) : c; /* NaN -> 0 */
        w[0] = 1.0f;
        return (int64_t)(cl + 0.5); /* floor: cl + 0.5 > 0 */
    }
    if (interp == MV_INTERP_LINEAR) {
        double cl, f, t;
        if (n == 1) {
            w[0] = 1.0f;
            return 0;
        }
        cl = !(c >= 0) ? 0 : c > (double)(n - 1) ? (double)(n - 1) : c;
        f = (double)(int64_t)cl; /* floor: cl >= 0 */
        t = cl - f;
        if (f >= (double)(n - 1)) {
            f = (double)(n - 2);
            t = 1.0;
        }
        w[0] = (float)(1.0 - t);
        w[1] = (float)t;
        return (int64_t)f;
    }
    if (n == 1) { /* constant along this axis */
        w[0] = 1.0f;
        return 1;
    }
    if (c >= 0 && c < (double)(n - 1)) { /* every tap stored: nothing to fold */
        double f = (double)(int64_t)c;
        mv__rs_cubic_w(c - f, w);
        return (int64_t)f; /* stored index of floor(c) - 1 */
    }
    {
        const double z = MV__RS_POLE;
        double f, x, y, bw[4], acc[4] = {0, 0, 0, 0};
        int64_t fi, s, k;
        int a;
        if (!(c >= -MV__RS_FAR)) c = -MV__RS_FAR; /* NaN too */
        if (c > (double)(n - 1) + MV__RS_FAR) c = (double)(n - 1) + MV__RS_FAR;
        f = mv__rs_floor(c);
        x = c - f;
        y = 1.0 - x;
        bw[0] = y * y * y / 6.0;
        bw[1] = (x * x * (x - 2.0) * 3.0 + 4.0) / 6.0;
        bw[2] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
        bw[3] = ((1.0 - bw[0]) - bw[1]) - bw[2];
        fi = (int64_t)f;
        s = fi - 1 < -1 ? -1 : fi - 1 > n - 3 ? n - 3 : fi - 1;
        for (a = 0; a < 4; a++) {
            int64_t at[2];
            double wt[2];
            int np = 1, q;
            k = fi - 1 + a;
            at[0] = k;
            wt[0] = bw[a];
            if (k < -1 || k > n) {
                if (mirror) {
                    at[0] = mv__rs_mirror(k, n);
                } else {
                    int left = k < -1;
                    double p = pow(z, (double)(left ? -1 - k : k - n));
                    at[0] = left ? -1 : n;
                    at[1] = left ? 0 : n - 1;
                    wt[0] = bw[a] * ((1.0 - p) / (1.0 - z) + p);
                    wt[1] = -bw[a] * (z * (1.0 - p) / (1.0 - z));
                    np = 2;
                }
            }
            for (q = 0; q < np; q++) {
                int64_t slot = at[q] - s;
                /* only weights of (near) zero can fall outside the window */
                slot = slot < 0 ? 0 : slot > 3 ? 3 : slot;
                acc[slot] += wt[q];
            }
        }
        for (a = 0; a < 4; a++) w[a] = (float)acc[a];
        return s + 1;
    }
}

/* Outputs [lo, hi) of an axis whose coordinate lies in [0, n-1]: c is
   monotone in o, so they form one run. */
static void mv__rs_inside(mv__rs_axis *a, int fill)
{
    int64_t o;
    a->lo = 0;
    a->hi = a->m;
    if (!fill) return;
    a->lo = a->m;
    a->hi = 0;
    for (o = 0; o < a->m; o++) {
        double c = mv__rs_coord(a, o);
        if (c >= 0 && c <= (double)(a->n - 1)) {
            if (a->lo > o) a->lo = o;
            a->hi = o + 1;
        }
    }
    if (a->lo >= a->hi) a->lo = a->hi = 0;
}

/* ---- small affine algebra ---- */

static void mv__rs_mul44(const double a[4][4], const double b[4][4], double r[4][4])
{
    double t[4][4];
    int i, j, k;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) {
            double s = 0;
            for (k = 0; k < 4; k++) s += a[i][k] * b[k][j];
            t[i][j] = s;
        }
    memcpy(r, t, sizeof(t));
}

static int mv__rs_finite44(const double a[4][4])
{
    int i, j;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++)
            if (!isfinite(a[i][j])) return 0;
    return 1;
}

static int mv__rs_bottom_ok(const double a[4][4])
{
    return a[3][0] == 0 && a[3][1] == 0 && a[3][2] == 0 && a[3][3] == 1;
}

/* Inverse of an affine (its 3x4 part; bottom row taken as 0 0 0 1).
   Fails (0) when not finite or singular relative to its column sizes. */
static int mv__rs_inverse(const double a[4][4], double r[4][4])
{
    double m[3][3], inv[3][3], det, scale = 1;
    int i, j;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j++)
            if (!isfinite(a[i][j])) return 0;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) m[i][j] = a[i][j];
    for (j = 0; j < 3; j++) scale *= sqrt(m[0][j] * m[0][j] + m[1][j] * m[1][j] + m[2][j] * m[2][j]);
    det = mv__det3(m);
    if (!(scale > 0) || !(fabs(det) > 1e-12 * scale) || !isfinite(det)) return 0;
    inv[0][0] = (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det;
    inv[0][1] = (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det;
    inv[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det;
    inv[1][0] = (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det;
    inv[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det;
    inv[1][2] = (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det;
    inv[2][0] = (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det;
    inv[2][1] = (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det;
    inv[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det;
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 3; j++) r[i][j] = inv[i][j];
        r[i][3] = -(inv[i][0] * a[0][3] + inv[i][1] * a[1][3] + inv[i][2] * a[2][3]);
    }
    r[3][0] = r[3][1] = r[3][2] = 0;
    r[3][3] = 1;
    return 1;
}

/* The map of a 4x4 output -> input voxel matrix: separable when every
   off-diagonal term moves the coordinate by less than 1e-9 voxel across the
   whole output (rounding left over from composing affines). */
static void mv__rs_map_from_matrix(const double vm[4][4], const int64_t n[3], const int64_t m[3], mv__rs_map *map)
{
    int r, c;
    map->separable = 1;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) {
            map->M[r][c] = vm[r][c];
            if (c < 3 && r != c && fabs(vm[r][c]) * (double)(m[c] > 1 ? m[c] - 1 : 1) > 1e-9) map->separable = 0;
        }
    for (r = 0; r < 3; r++) {
        map->ax[r].s = vm[r][r];
        map->ax[r].u = 0;
        map->ax[r].v = vm[r][3];
        map->ax[r].n = n[r];
        map->ax[r].m = m[r];
    }
}

/* ---- the job ---- */

typedef struct mv__rs_job {
    const mv__kernels *kt;
    const mv__rs_map *map;
    mv_interp interp;
    int mirror;             /* cubic with fill: mirror boundary */
    int fill;               /* fill mode */
    float fillf;            /* fill value in the float32 pipeline */
    unsigned char fillb[32];/* fill value as an output voxel */
    int xfirst;             /* interpolate x before blending z */
    int need_span;          /* chunks limited to MV__RS_SMAX input voxels */
    /* source: input frames, or the coefficient volume of one frame */
    const unsigned char *src;
    mv_dtype sdt;
    size_t ses, src_frame;  /* element and frame bytes (0: one frame) */
    int64_t sx, sy, sz;     /* stored dims */
    int direct;             /* float32 rows used in place */
    int scaled;
    double slope, inter;
    /* output */
    unsigned char *dst;
    mv_dtype odt;
    size_t oes, dst_frame;
    int64_t ox, oy, oz, frame0;
    mv_round rounding;
    float post;             /* cubic: samples times this (2^k, undoing the
                               prefilter's scaling of huge values; else 1) */
} mv__rs_job;

typedef struct mv__rs_bufs {
    float ring[4][MV__RS_LMAX];      /* x-interpolated rows by stored y */
    float xw[4 * MV__RS_LMAX];       /* x weights, planar */
    float out[MV__RS_LMAX];          /* an output chunk before conversion */
    float work[4 * MV__RS_SMAX + 4 * MV__RS_LMAX]; /* converted rows + z blend or x-first rows */
    int32_t xi[MV__RS_LMAX], ri[MV__RS_LMAX];      /* x taps: stored, relative to the chunk */
} mv__rs_bufs;

/* A stored row of the source from x0, as float32: in place, or converted
   (scaled) into buf. */
static const float *mv__rs_row(const mv__rs_job *j, const unsigned char *frame, int64_t y, int64_t z, int64_t x0,
                               int64_t len, float *buf)
{
    const unsigned char *p = frame + ((size_t)(z * j->sy + y) * (size_t)j->sx + (size_t)x0) * j->ses;
    if (j->direct) return (const float *)(const void *)p;
    mv__convert_real_run(p, j->sdt, buf, MV_DT_F32, (size_t)len, j->scaled, j->slope, j->inter, MV_ROUND_NEAREST);
    return buf;
}

/* One source voxel as float32 (the general path). */
static float mv__rs_voxel(const mv__rs_job *j, const unsigned char *frame, size_t off)
{
    const unsigned char *p = frame + off * j->ses;
    float v;
    if (j->direct) {
        memcpy(&v, p, 4);
        return v;
    }
    if (!j->scaled) {
        switch (j->sdt) {
        case MV_DT_U8: return (float)*p;
        case MV_DT_I8: return (float)(int8_t)*p;
        case MV_DT_U16: { uint16_t x; memcpy(&x, p, 2); return (float)x; }
        case MV_DT_I16: { int16_t x; memcpy(&x, p, 2); return (float)x; }
        case MV_DT_F64: { double x; memcpy(&x, p, 8); return (float)x; }
        default: break;
        }
    }
    mv__convert_real_run(p, j->sdt, &v, MV_DT_F32, 1, j->scaled, j->slope, j->inter, MV_ROUND_NEAREST);
    return v;
}

/* n output voxels of the fill value. */
static void mv__rs_fill_run(const mv__rs_job *j, unsigned char *d, size_t n)
{
    size_t i;
    if (j->oes == 4) {
        uint32_t v;
        memcpy(&v, j->fillb, 4);
        for (i = 0; i < n; i++) memcpy(d + 4 * i, &v, 4);
        return;
    }
    for (i = 0; i < n; i++) memcpy(d + i * j->oes, j->fillb, j->oes);
}

/* Writes a float32 chunk to the output row (converting unless float32). */
static void mv__rs_store(const mv__rs_job *j, unsigned char *d, const float *v, size_t n)
{
    if (j->odt == MV_DT_F32) {
        if ((const void *)d != (const void *)v) memcpy(d, v, n * 4);
        return;
    }
    mv__convert_real_run(v, MV_DT_F32, d, j->odt, n, 0, 1.0, 0.0, j->rounding);
}

/* Taps of the x chunk from x0: up to MV__RS_LMAX outputs whose inputs span
   at most MV__RS_SMAX stored voxels when they are converted or blended
   first. Returns the chunk's end; *a = first stored voxel it reads. */
static int64_t mv__rs_plan_x(const mv__rs_job *j, int64_t x0, mv__rs_bufs *b, int64_t *a, int64_t *span)
{
    const mv__rs_axis *ax = &j->map->ax[0];
    int64_t lo = INT64_MAX, hi = INT64_MIN, x = x0, i;
    float w[4];
    int t, T = ax->taps;
    while (x < ax->m && x - x0 < MV__RS_LMAX) {
        int64_t s = mv__rs_taps(mv__rs_coord(ax, x), ax->n, j->interp, j->mirror, w);
        int64_t nlo = s < lo ? s : lo, nhi = s > hi ? s : hi;
        if (j->need_span && x > x0 && nhi - nlo + T > MV__RS_SMAX) break;
        lo = nlo;
        hi = nhi;
        b->xi[x - x0] = (int32_t)s;
        for (t = 0; t < T; t++) b->xw[t * MV__RS_LMAX + (x - x0)] = w[t];
        x++;
    }
    for (i = 0; i < x - x0; i++) b->ri[i] = (int32_t)(b->xi[i] - lo);
    *a = lo;
    *span = hi - lo + T;
    return x;
}

/* The x-interpolated row at stored y for the z taps zs.. with weights wz. */
static void mv__rs_xrow(const mv__rs_job *j, const unsigned char *frame, int64_t y, int64_t zs, const float *wz, int64_t a,
                        int64_t span, size_t L, mv__rs_bufs *b, float *dst)
{
    const mv__kernels *kt = j->kt;
    int Tx = j->map->ax[0].taps, Tz = j->map->ax[2].taps, c;
    const float *r[4];
    float *seg = b->work + 4 * MV__RS_SMAX;
    if (Tz == 1) {
        r[0] = mv__rs_row(j, frame, y, zs, a, span, b->work);
        kt->rs_xinterp(dst, r[0], (size_t)span, b->ri, b->xw, MV__RS_LMAX, Tx, L);
        return;
    }
    for (c = 0; c < Tz; c++) r[c] = mv__rs_row(j, frame, y, zs + c, a, span, b->work + c * MV__RS_SMAX);
    if (!j->xfirst) {
        kt->rs_blend(seg, r, wz, Tz, (size_t)span);
        kt->rs_xinterp(dst, seg, (size_t)span, b->ri, b->xw, MV__RS_LMAX, Tx, L);
    } else {
        const float *xr[4];
        for (c = 0; c < Tz; c++) {
            float *t = seg + c * MV__RS_LMAX;
            kt->rs_xinterp(t, r[c], (size_t)span, b->ri, b->xw, MV__RS_LMAX, Tx, L);
            xr[c] = t;
        }
        kt->rs_blend(dst, xr, wz, Tz, L);
    }
}

/* Output slice k of frame f, separable linear or cubic. */
static void mv__rs_slice_sep(const mv__rs_job *j, int64_t f, int64_t k, mv__rs_bufs *b)
{
    const mv__rs_axis *X = &j->map->ax[0], *Y = &j->map->ax[1], *Z = &j->map->ax[2];
    const unsigned char *frame = j->src + (size_t)f * j->src_frame;
    unsigned char *slice = j->dst + (size_t)(j->frame0 + f) * j->dst_frame + (size_t)(k * j->oy) * (size_t)j->ox * j->oes;
    float wz[4], wy[4];
    int64_t zs, x0, x1, jj;
    int Ty = Y->taps, t;
    if (k < Z->lo || k >= Z->hi) {
        mv__rs_fill_run(j, slice, (size_t)(j->ox * j->oy));
        return;
    }
    zs = mv__rs_taps(mv__rs_coord(Z, k), Z->n, j->interp, j->mirror, wz);
    for (x0 = 0; x0 < j->ox; x0 = x1) {
        int64_t a, span, tags[4] = {-1, -1, -1, -1};
        size_t L;
        x1 = mv__rs_plan_x(j, x0, b, &a, &span);
        L = (size_t)(x1 - x0);
        for (jj = 0; jj < j->oy; jj++) {
            unsigned char *d = slice + (size_t)(jj * j->ox + x0) * j->oes;
            float *o = j->odt == MV_DT_F32 ? (float *)(void *)d : b->out;
            const float *rows[4];
            int64_t ys, i;
            if (jj < Y->lo || jj >= Y->hi) {
                mv__rs_fill_run(j, d, L);
                continue;
            }
            ys = mv__rs_taps(mv__rs_coord(Y, jj), Y->n, j->interp, j->mirror, wy);
            for (t = 0; t < Ty; t++) {
                int64_t y = ys + t;
                int slot = (int)(y % Ty);
                if (tags[slot] != y) {
                    mv__rs_xrow(j, frame, y, zs, wz, a, span, L, b, b->ring[slot]);
                    tags[slot] = y;
                }
                rows[t] = b->ring[slot];
            }
            j->kt->rs_blend(o, rows, wy, Ty, L);
            if (j->post != 1.0f)
                for (i = 0; i < (int64_t)L; i++) o[i] *= j->post;
            for (i = x0; i < x1 && i < X->lo; i++) o[i - x0] = j->fillf;
            for (i = x1; i-- > x0 && i >= X->hi;) o[i - x0] = j->fillf;
            if (o == b->out) mv__rs_store(j, d, o, L);
        }
    }
}

/* One linear or cubic sample at stored window starts s[] with weights w[]:
   x taps summed first, then y, then z, in float32. */
static float mv__rs_sample(const mv__rs_job *j, const unsigned char *frame, const int64_t *s, float (*w)[4], const int *T)
{
    float acc = 0;
    int tz, ty, tx;
    for (tz = 0; tz < T[2]; tz++) {
        float plane = 0;
        for (ty = 0; ty < T[1]; ty++) {
            size_t off = ((size_t)(s[2] + tz) * (size_t)j->sy + (size_t)(s[1] + ty)) * (size_t)j->sx + (size_t)s[0];
            float row;
            if (j->direct) {
                const float *v = (const float *)(const void *)frame + off;
                row = w[0][0] * v[0];
                for (tx = 1; tx < T[0]; tx++) row = row + w[0][tx] * v[tx];
            } else {
                row = w[0][0] * mv__rs_voxel(j, frame, off);
                for (tx = 1; tx < T[0]; tx++) row = row + w[0][tx] * mv__rs_voxel(j, frame, off + (size_t)tx);
            }
            plane = ty == 0 ? w[1][0] * row : plane + w[1][ty] * row;
        }
        acc = tz == 0 ? w[2][0] * plane : acc + w[2][tz] * plane;
    }
    return acc;
}

/* Output slice k of frame f, any map, linear or cubic, voxel by voxel. The
   common case (float32 source, every axis at least 2 voxels, taps inside)
   computes taps inline; the rest goes through mv__rs_taps. */
static void mv__rs_slice_gen(const mv__rs_job *j, int64_t f, int64_t k, mv__rs_bufs *b)
{
    const double(*M)[4] = j->map->M;
    const unsigned char *frame = j->src + (size_t)f * j->src_frame;
    unsigned char *slice = j->dst + (size_t)(j->frame0 + f) * j->dst_frame + (size_t)(k * j->oy) * (size_t)j->ox * j->oes;
    const int cubic = j->interp == MV_INTERP_CUBIC;
    const float *vol = (const float *)(const void *)frame;
    int64_t n[3], jj, x0, i;
    double m0[3];
    int a, T[3], fast = j->direct, row_kernel, cub_kernel;
    double lim[3];
    int64_t st[2];
    unsigned char todo[MV__RS_LMAX];
    for (a = 0; a < 3; a++) {
        n[a] = j->map->ax[a].n;
        T[a] = n[a] == 1 ? 1 : cubic ? 4 : 2;
        fast &= n[a] >= (cubic ? 3 : 2);
    }
    /* trilinear rows of a float32 volume under 2^31 voxels: the kernel */
    row_kernel = fast && !cubic && n[0] * n[1] * n[2] < INT64_C(2147483647);
    /* cubic rows over stored coefficients under 2^31: the kernel does the
       voxels whose taps are all stored, the loop below the rest */
    cub_kernel = fast && cubic && j->sx * j->sy * j->sz < INT64_C(2147483647);
    st[0] = j->sx;
    st[1] = j->sy;
    for (a = 0; a < 3; a++) {
        m0[a] = M[a][0];
        lim[a] = (double)(n[a] - 2);
    }
    for (jj = 0; jj < j->oy; jj++) {
        double base[3];
        for (a = 0; a < 3; a++) base[a] = M[a][1] * (double)jj + M[a][2] * (double)k + M[a][3];
        for (x0 = 0; x0 < j->ox; x0 += MV__RS_LMAX) {
            size_t L = (size_t)MV__MIN((int64_t)MV__RS_LMAX, j->ox - x0);
            unsigned char *d = slice + (size_t)(jj * j->ox + x0) * j->oes;
            float *o = j->odt == MV_DT_F32 ? (float *)(void *)d : b->out;
            size_t left = L;
            if (row_kernel) {
                j->kt->rs_affine_lin(o, vol, n, m0, base, x0, L, j->fill, j->fillf);
                if (o == b->out) mv__rs_store(j, d, o, L);
                continue;
            }
            if (cub_kernel) {
                left = j->kt->rs_affine_cub(o, todo, vol, st, lim, m0, base, x0, L);
                if (j->post != 1.0f)
                    for (i = 0; i < (int64_t)L; i++)
                        if (!todo[i]) o[i] *= j->post;
            }
            for (i = 0; i < (int64_t)L && left > 0; i++) {
                double c[3];
                float w[3][4];
                int64_t s[3];
                int inside = 1;
                if (cub_kernel && !todo[i]) continue;
                for (a = 0; a < 3; a++) {
                    c[a] = M[a][0] * (double)(x0 + i) + base[a];
                    inside &= c[a] >= 0 && c[a] <= (double)(n[a] - 1);
                }
                if (j->fill && !inside) {
                    o[i] = j->fillf;
                    continue;
                }
                if (fast && cubic && c[0] >= 0 && c[0] < lim[0] && c[1] >= 0 && c[1] < lim[1] && c[2] >= 0 && c[2] < lim[2]) {
                    /* cubic with every tap on stored coefficients (only past 2^31 coefficients: else the kernel did it) */
                    for (a = 0; a < 3; a++) {
                        double fl = (double)(int64_t)c[a]; /* floor: c >= 0 */
                        mv__rs_cubic_w(c[a] - fl, w[a]);
                        s[a] = (int64_t)fl; /* stored index of floor - 1 */
                    }
                    o[i] = mv__rs_cub_taps(vol + ((size_t)s[2] * (size_t)j->sy + (size_t)s[1]) * (size_t)j->sx + (size_t)s[0],
                                           (size_t)j->sx, (size_t)j->sy, w) *
                           j->post;
                    continue;
                }
                for (a = 0; a < 3; a++) s[a] = mv__rs_taps(c[a], n[a], j->interp, j->mirror, w[a]);
                o[i] = mv__rs_sample(j, frame, s, w, T) * j->post;
            }
            if (o == b->out) mv__rs_store(j, d, o, L);
        }
    }
}

/* Copies n elements of es bytes: d[i] = s[idx[i]]. */
static void mv__rs_copy_idx(unsigned char *d, const unsigned char *s, const int32_t *idx, size_t n, size_t es)
{
    size_t i;
    switch (es) {
    case 1:
        for (i = 0; i < n; i++) d[i] = s[idx[i]];
        break;
    case 2:
        for (i = 0; i < n; i++) memcpy(d + 2 * i, s + 2 * (size_t)idx[i], 2);
        break;
    case 4:
        for (i = 0; i < n; i++) memcpy(d + 4 * i, s + 4 * (size_t)idx[i], 4);
        break;
    case 8:
        for (i = 0; i < n; i++) memcpy(d + 8 * i, s + 8 * (size_t)idx[i], 8);
        break;
    default:
        for (i = 0; i < n; i++) memcpy(d + es * i, s + es * (size_t)idx[i], es);
        break;
    }
}

/* Output slice k of frame f, nearest: stored elements copied (or gathered
   and converted when the dtype changes). Separable maps take the x indices
   of a chunk once for all rows. */
static void mv__rs_slice_nearest(const mv__rs_job *j, int64_t f, int64_t k, mv__rs_bufs *b)
{
    const mv__rs_map *map = j->map;
    const unsigned char *frame = j->src + (size_t)f * j->src_frame;
    unsigned char *slice = j->dst + (size_t)(j->frame0 + f) * j->dst_frame + (size_t)(k * j->oy) * (size_t)j->ox * j->oes;
    unsigned char *tmp = (unsigned char *)(void *)b->work; /* MV__RS_LMAX elements of up to 32 bytes */
    const mv__rs_axis *X = &map->ax[0], *Y = &map->ax[1], *Z = &map->ax[2];
    int64_t n[3], jj, x0, i, zi = 0;
    int same = j->sdt == j->odt, a;
    size_t es = j->ses;
    float w[4];
    n[0] = X->n;
    n[1] = Y->n;
    n[2] = Z->n;
    if (map->separable) {
        if (k < Z->lo || k >= Z->hi) {
            mv__rs_fill_run(j, slice, (size_t)(j->ox * j->oy));
            return;
        }
        zi = mv__rs_taps(mv__rs_coord(Z, k), n[2], MV_INTERP_NEAREST, 0, w);
    }
    for (x0 = 0; x0 < j->ox; x0 += MV__RS_LMAX) {
        int64_t L = MV__MIN((int64_t)MV__RS_LMAX, j->ox - x0), in0 = 0, in1 = L;
        if (map->separable) { /* the x indices of the chunk, and its inside part [in0, in1) */
            in0 = MV__MAX(X->lo - x0, (int64_t)0);
            in1 = MV__MIN(X->hi - x0, L);
            if (in1 < in0) in1 = in0;
            for (i = in0; i < in1; i++) b->xi[i] = (int32_t)mv__rs_taps(mv__rs_coord(X, x0 + i), n[0], MV_INTERP_NEAREST, 0, w);
        }
        for (jj = 0; jj < j->oy; jj++) {
            unsigned char *d = slice + (size_t)(jj * j->ox + x0) * j->oes, *g = same ? d : tmp;
            int any_fill = 0;
            if (map->separable) {
                const unsigned char *row;
                if (jj < Y->lo || jj >= Y->hi) {
                    mv__rs_fill_run(j, d, (size_t)L);
                    continue;
                }
                row = frame + (size_t)(zi * n[1] + mv__rs_taps(mv__rs_coord(Y, jj), n[1], MV_INTERP_NEAREST, 0, w)) * (size_t)n[0] * es;
                mv__rs_copy_idx(g + (size_t)in0 * es, row, b->xi + in0, (size_t)(in1 - in0), es);
            } else {
                double base[3];
                for (a = 0; a < 3; a++) base[a] = map->M[a][1] * (double)jj + map->M[a][2] * (double)k + map->M[a][3];
                for (i = 0; i < L; i++) {
                    double c[3];
                    int inside = 1;
                    int64_t q[3];
                    for (a = 0; a < 3; a++) {
                        c[a] = map->M[a][0] * (double)(x0 + i) + base[a];
                        inside &= c[a] >= 0 && c[a] <= (double)(n[a] - 1);
                    }
                    b->ri[i] = !j->fill || inside;
                    any_fill |= !b->ri[i];
                    /* (an outside voxel copies voxel 0, then gets the fill value) */
                    for (a = 0; a < 3; a++) q[a] = b->ri[i] ? mv__rs_taps(c[a], n[a], MV_INTERP_NEAREST, 0, w) : 0;
                    memcpy(g + (size_t)i * es, frame + (size_t)((q[2] * n[1] + q[1]) * n[0] + q[0]) * es, es);
                }
            }
            if (!same)
                mv__convert_run(tmp + (size_t)in0 * es, j->sdt, d + (size_t)in0 * j->oes, j->odt, (size_t)(in1 - in0), j->scaled,
                                j->slope, j->inter, j->rounding);
            if (map->separable) {
                mv__rs_fill_run(j, d, (size_t)in0);
                mv__rs_fill_run(j, d + (size_t)in1 * j->oes, (size_t)(L - in1));
            } else if (any_fill) {
                for (i = 0; i < L; i++)
                    if (!b->ri[i]) memcpy(d + (size_t)i * j->oes, j->fillb, j->oes);
            }
        }
    }
}

static void mv__rs_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__rs_job *j = (const mv__rs_job *)ctx;
    mv__rs_bufs bufs;
    int64_t it;
    (void)worker;
    for (it = b; it < e; it++) {
        int64_t f = it / j->oz, k = it % j->oz;
        if (j->interp == MV_INTERP_NEAREST) mv__rs_slice_nearest(j, f, k, &bufs);
        else if (j->map->separable) mv__rs_slice_sep(j, f, k, &bufs);
        else mv__rs_slice_gen(j, f, k, &bufs);
    }
}

/* ---- cubic prefilter: a frame -> coefficients (stored dims n + 2) ---- */

typedef struct mv__rs_pf {
    const mv__kernels *kt;
    const unsigned char *frame; /* input frame */
    mv_dtype dt;
    size_t es;
    int scaled;
    double slope, inter;
    float *coef;
    int64_t nx, ny, nz, SX, SY;
    int mirror;
    unsigned char *work; /* per worker work_bytes (mv__rs_scratch_bytes) */
    size_t work_bytes;
    float pre;           /* input values times this before the prefilter (2^-k or 1) */
    float *wmax;         /* per worker: largest finite |value| seen (pre = 1) */
} mv__rs_pf;

/* float32 runs <-> lane columns of the line buffer */
MV__INLINE void mv__rs_lanes_in(double *dst, const float *src, int64_t nl)
{
    int64_t l;
    if (nl == MV__RS_LANES)
        for (l = 0; l < MV__RS_LANES; l++) dst[l] = (double)src[l];
    else
        for (l = 0; l < nl; l++) dst[l] = (double)src[l];
}
MV__INLINE void mv__rs_lanes_out(float *dst, const double *src, int64_t nl)
{
    int64_t l;
    if (nl == MV__RS_LANES)
        for (l = 0; l < MV__RS_LANES; l++) dst[l] = (float)src[l];
    else
        for (l = 0; l < nl; l++) dst[l] = (float)src[l];
}

/* x then y prefilter of input slices [z0, z1) into stored planes z + 1:
   MV__RS_LANES rows (x) or columns (y) per kernel call */
static void mv__rs_pf_xy(void *ctx, int64_t z0, int64_t z1, int worker)
{
    const mv__rs_pf *p = (const mv__rs_pf *)ctx;
    const int64_t L = MV__RS_LANES, SX = p->SX, SY = p->SY;
    const int direct = p->dt == MV_DT_F32 && !p->scaled;
    double *buf = (double *)(void *)(p->work + (size_t)worker * p->work_bytes);
    float *stage = (float *)(void *)(buf + (MV__MAX(p->nx, MV__MAX(p->ny, p->nz)) + 2) * L); /* L rows of up to max dim + 2 */
    int64_t z, y0, x0, y;
    for (z = z0; z < z1; z++) {
        float *plane = p->coef + (size_t)(z + 1) * (size_t)(SX * SY);
        for (y0 = 0; y0 < p->ny; y0 += L) {
            /* the block of rows goes through a staging copy both ways, so
               memory sees one sequential stream, not 32 interleaved rows */
            int64_t nl = MV__MIN(L, p->ny - y0);
            const unsigned char *rows = p->frame + (size_t)(z * p->ny + y0) * (size_t)p->nx * p->es;
            if (direct) memcpy(stage, rows, (size_t)(nl * p->nx) * 4);
            else mv__convert_real_run(rows, p->dt, stage, MV_DT_F32, (size_t)(nl * p->nx), p->scaled, p->slope, p->inter,
                                      MV_ROUND_NEAREST);
            {
                /* values near FLT_MAX: the coefficients (up to 27x the
                   values) and the float32 sums of the interpolation would
                   overflow, so the caller scales such a frame by 2^-k
                   (exact) and the samples back by 2^k; here the largest
                   finite magnitude, and the scaling when it is set */
                size_t i, cnt = (size_t)(nl * p->nx);
                float mx = p->wmax[worker];
                if (p->pre != 1.0f) {
                    for (i = 0; i < cnt; i++) stage[i] *= p->pre;
                } else {
                    for (i = 0; i < cnt; i++) {
                        float a = fabsf(stage[i]);
                        mx = a > mx && a <= FLT_MAX ? a : mx;
                    }
                    p->wmax[worker] = mx;
                }
            }
            if (nl < L) memset(stage + nl * p->nx, 0, (size_t)((L - nl) * p->nx) * 4);
            p->kt->rs_rows_in(buf, stage, (size_t)p->nx, (size_t)p->nx);
            p->kt->rs_bspline(buf, (size_t)p->nx, p->mirror);
            p->kt->rs_rows_out(stage, (size_t)SX, buf, (size_t)SX);
            memcpy(plane + (size_t)(y0 + 1) * (size_t)SX, stage, (size_t)(nl * SX) * 4);
        }
        for (x0 = 0; x0 < SX; x0 += L) {
            int64_t nl = MV__MIN(L, SX - x0);
            if (nl < L) memset(buf, 0, (size_t)((p->ny + 2) * L) * sizeof(double));
            for (y = 0; y < p->ny; y++) mv__rs_lanes_in(buf + (y + 1) * L, plane + (size_t)(y + 1) * (size_t)SX + (size_t)x0, nl);
            p->kt->rs_bspline(buf, (size_t)p->ny, p->mirror);
            for (y = 0; y < SY; y++) mv__rs_lanes_out(plane + (size_t)y * (size_t)SX + (size_t)x0, buf + y * L, nl);
        }
    }
}

/* z prefilter of stored rows [y0, y1): a whole row of every plane at a
   time (read and written as 1 KiB-scale runs, not 128-byte pieces), as
   strips of MV__RS_LANES columns, one line buffer each */
static void mv__rs_pf_z(void *ctx, int64_t y0, int64_t y1, int worker)
{
    const mv__rs_pf *p = (const mv__rs_pf *)ctx;
    const int64_t L = MV__RS_LANES, SX = p->SX, SY = p->SY, SZ = p->nz + 2, strips = (SX + L - 1) / L;
    const size_t plane = (size_t)(SX * SY), strip_len = (size_t)(SZ * L);
    double *buf = (double *)(void *)(p->work + (size_t)worker * p->work_bytes);
    int64_t y, st, z;
    if (SX % L) memset(buf, 0, (size_t)strips * strip_len * sizeof(double)); /* the last strip's spare lanes */
    for (y = y0; y < y1; y++) {
        float *row = p->coef + (size_t)y * (size_t)SX;
        for (z = 0; z < p->nz; z++)
            for (st = 0; st < strips; st++)
                mv__rs_lanes_in(buf + (size_t)st * strip_len + (size_t)(z + 1) * L, row + (size_t)(z + 1) * plane + (size_t)(st * L),
                                MV__MIN(L, SX - st * L));
        for (st = 0; st < strips; st++) p->kt->rs_bspline(buf + (size_t)st * strip_len, (size_t)p->nz, p->mirror);
        for (z = 0; z < SZ; z++)
            for (st = 0; st < strips; st++)
                mv__rs_lanes_out(row + (size_t)z * plane + (size_t)(st * L), buf + (size_t)st * strip_len + (size_t)z * L,
                                 MV__MIN(L, SX - st * L));
    }
}

/* Scratch of the cubic path: the coefficient volume, then per worker the
   larger of the x/y buffers (a line buffer of the longest axis plus a
   staging block of rows) and the z buffer (a row's strips). 0 on
   overflow. */
static size_t mv__rs_scratch_bytes(const int64_t n[3], int threads, size_t *coef_bytes, size_t *work_bytes)
{
    uint64_t c = 4, nmax = 0, xy, zb, w;
    int a;
    for (a = 0; a < 3; a++) {
        if (n[a] < 1 || n[a] > MV__RS_MAX_DIM) return 0;
        if (!mv__mul_u64(c, (uint64_t)(n[a] + 2), &c)) return 0;
        nmax = (uint64_t)n[a] > nmax ? (uint64_t)n[a] : nmax;
    }
    c = (c + 63) & ~(uint64_t)63;
    xy = (nmax + 2) * MV__RS_LANES * (sizeof(double) + sizeof(float));
    if (!mv__mul_u64((uint64_t)(n[2] + 2) * sizeof(double), ((uint64_t)(n[0] + 2) + MV__RS_LANES - 1) / MV__RS_LANES * MV__RS_LANES,
                     &zb))
        return 0;
    w = ((xy > zb ? xy : zb) + 63) & ~(uint64_t)63;
    *coef_bytes = (size_t)c;
    *work_bytes = (size_t)w;
    if (!mv__mul_u64(w, (uint64_t)threads, &w) || !mv__add_u64(c, w, &c) || !mv__fits_size(c)) return 0;
    return (size_t)c;
}

/* ---- the common runner ---- */

static int mv__rs_overlap(const mv_vol *a, const mv_vol *b)
{
    const unsigned char *pa = (const unsigned char *)a->data, *pb = (const unsigned char *)b->data;
    size_t na = mv_vol_bytes(a), nb = mv_vol_bytes(b);
    return pa < pb + nb && pb < pa + na;
}

/* Checks in, out and opts for a run; on success fills the job's geometry
   and conversion fields and *frames. */
static mv_status mv__rs_check(const mv_vol *in, const mv_vol *out, const mv_resample_opts *o, mv__rs_job *j, int64_t *frames)
{
    uint64_t bytes;
    int a, active = 0;
    double slope = 1, inter = 0;
    int kind;
    MV__CHECK(in && out, MV_ERR_INVALID_ARG, "resample: NULL volume");
    MV__CHECK(in->data && out->data, MV_ERR_INVALID_ARG, "resample: %s has no data", in->data ? "out" : "in");
    MV__TRY(mv__shape_bytes(in->dtype, in->ndim, in->dim, &bytes));
    MV__TRY(mv__shape_bytes(out->dtype, out->ndim, out->dim, &bytes));
    MV__CHECK((unsigned)o->interp <= (unsigned)MV_INTERP_CUBIC, MV_ERR_INVALID_ARG, "resample: interp %d", (int)o->interp);
    MV__CHECK(o->rounding == MV_ROUND_NEAREST || o->rounding == MV_ROUND_TRUNCATE, MV_ERR_INVALID_ARG,
              "resample: rounding %d", (int)o->rounding);
    MV__CHECK(o->threads >= 0, MV_ERR_INVALID_ARG, "resample: threads = %d", o->threads);
    if (in->ndim > 3) {
        MV__CHECK(out->ndim == in->ndim, MV_ERR_INVALID_ARG, "resample: out has %d dims, in has %d", out->ndim, in->ndim);
        for (a = 3; a < in->ndim; a++)
            MV__CHECK(out->dim[a] == in->dim[a], MV_ERR_INVALID_ARG, "resample: out dim[%d] = %lld, in has %lld", a,
                      (long long)out->dim[a], (long long)in->dim[a]);
    } else {
        MV__CHECK(out->ndim <= 3, MV_ERR_INVALID_ARG, "resample: out has %d dims for a %d-dim input", out->ndim, in->ndim);
    }
    for (a = 0; a < 3; a++) {
        int64_t n = a < in->ndim ? in->dim[a] : 1, m = a < out->ndim ? out->dim[a] : 1;
        MV__CHECK(n <= MV__RS_MAX_DIM && m <= MV__RS_MAX_DIM, MV_ERR_SIZE_OVERFLOW,
                  "resample: axis %d has %lld -> %lld voxels (limit 2^31 - 17)", a, (long long)n, (long long)m);
    }
    MV__CHECK(mv__aligned(in->data, in->dtype) && mv__aligned(out->data, out->dtype), MV_ERR_INVALID_ARG,
              "resample: data not aligned for its dtype");
    MV__CHECK(!mv__rs_overlap(in, out), MV_ERR_INVALID_ARG, "resample: in and out data overlap");
    kind = mv__dt[in->dtype].kind;
    if (o->interp != MV_INTERP_NEAREST) {
        MV__CHECK(kind != MV__K_COMPLEX && kind != MV__K_RGB, MV_ERR_UNSUPPORTED,
                  "resample: %s input needs nearest (linear and cubic interpolate real values)", mv__dt[in->dtype].name);
        MV__CHECK(mv__dt[out->dtype].kind != MV__K_COMPLEX && mv__dt[out->dtype].kind != MV__K_RGB, MV_ERR_UNSUPPORTED,
                  "resample: %s output from a %s interpolation", mv__dt[out->dtype].name,
                  o->interp == MV_INTERP_LINEAR ? "linear" : "cubic");
    } else if (in->dtype != out->dtype) {
        MV__TRY(mv__check_convertible(in->dtype, out->dtype));
    }
    /* scaling applies whenever values pass through a conversion */
    if (!o->raw && kind != MV__K_RGB && !(o->interp == MV_INTERP_NEAREST && in->dtype == out->dtype))
        MV__TRY(mv__scaling(in->meta.scl_slope, in->meta.scl_inter, &active, &slope, &inter));
    j->scaled = active;
    j->slope = slope;
    j->inter = inter;
    *frames = 1;
    for (a = 3; a < in->ndim; a++) *frames *= in->dim[a];
    return MV_OK;
}

/* The fill value as an output voxel: through float32 for the interpolating
   paths (as their rows are), directly for nearest; RGB gets it on every
   channel (alpha 255). */
static void mv__rs_fill_bytes(mv__rs_job *j, double fill)
{
    memset(j->fillb, 0, sizeof(j->fillb));
    j->fillf = (float)fill;
    if (mv__dt[j->odt].kind == MV__K_RGB) {
        double v = fill != fill ? 0 : fill < 0 ? 0 : fill > 255 ? 255 : nearbyint(fill);
        j->fillb[0] = j->fillb[1] = j->fillb[2] = (unsigned char)v;
        j->fillb[3] = 255;
    } else if (j->interp == MV_INTERP_NEAREST) {
        mv__convert_run(&fill, MV_DT_F64, j->fillb, j->odt, 1, 0, 1.0, 0.0, j->rounding);
    } else {
        mv__convert_run(&j->fillf, MV_DT_F32, j->fillb, j->odt, 1, 0, 1.0, 0.0, j->rounding);
    }
}

/* Runs a checked map: in -> out->data. *scaled_out: whether the scaling
   was applied to the values. */
static mv_status mv__rs_run(const mv_vol *in, mv_vol *out, mv__rs_map *map, const mv_resample_opts *opts, int *scaled_out)
{
    mv_resample_opts o;
    mv__rs_job j;
    int64_t frames = 1, n[3], m[3], items, f;
    int a, threads, taps;
    uint64_t work_bytes;
    mv_status st = MV_OK;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    memset(&j, 0, sizeof(j));
    j.post = 1.0f;
    MV__TRY(mv__rs_check(in, out, &o, &j, &frames));
    for (a = 0; a < 3; a++) {
        n[a] = a < in->ndim ? in->dim[a] : 1;
        m[a] = a < out->ndim ? out->dim[a] : 1;
        map->ax[a].n = n[a];
        map->ax[a].m = m[a];
        for (taps = 0; taps < 4; taps++)
            MV__CHECK(isfinite(map->M[a][taps]), MV_ERR_INVALID_ARG, "resample: map[%d][%d] is not finite", a, taps);
    }
    taps = o.interp == MV_INTERP_NEAREST ? 1 : o.interp == MV_INTERP_LINEAR ? 2 : 4;
    for (a = 0; a < 3; a++) {
        map->ax[a].taps = n[a] == 1 ? 1 : taps;
        mv__rs_inside(&map->ax[a], o.fill_outside);
    }
    j.kt = mv__kernels_get();
    j.map = map;
    j.interp = o.interp;
    j.fill = o.fill_outside != 0;
    j.mirror = j.fill && o.interp == MV_INTERP_CUBIC;
    j.rounding = o.rounding;
    j.sdt = in->dtype;
    j.ses = mv__dt[in->dtype].size;
    j.odt = out->dtype;
    j.oes = mv__dt[out->dtype].size;
    j.ox = m[0];
    j.oy = m[1];
    j.oz = m[2];
    j.dst = (unsigned char *)out->data;
    j.dst_frame = (size_t)(m[0] * m[1] * m[2]) * j.oes;
    mv__rs_fill_bytes(&j, o.fill);
    *scaled_out = j.scaled;
    work_bytes = (uint64_t)mv_vol_bytes(in) + (uint64_t)mv_vol_bytes(out);
    threads = mv__threads_for_bytes(o.threads, work_bytes);
    if (o.interp != MV_INTERP_CUBIC) {
        j.src = (const unsigned char *)in->data;
        j.src_frame = (size_t)(n[0] * n[1] * n[2]) * j.ses;
        j.sx = n[0];
        j.sy = n[1];
        j.sz = n[2];
        j.direct = in->dtype == MV_DT_F32 && !j.scaled;
        j.xfirst = map->ax[0].taps > 1 && fabs(map->ax[0].s) > 2.0;
        j.need_span = !j.direct || (map->ax[2].taps > 1 && !j.xfirst);
        items = frames * m[2];
        mv__parallel_for(items, MV__MAX(1, 65536 / (m[0] * m[1])), threads, mv__rs_range, &j);
        return MV_OK;
    }
    {
        /* cubic: per frame, coefficients into the scratch, then interpolate */
        mv__rs_pf p;
        size_t coef_bytes = 0, per_worker = 0, need;
        int tmax = mv__resolve_threads(o.threads);
        unsigned char *scratch;
        if (threads > tmax) threads = tmax;
        need = mv__rs_scratch_bytes(n, tmax, &coef_bytes, &per_worker);
        MV__CHECK(need > 0, MV_ERR_SIZE_OVERFLOW, "resample: cubic scratch for %lldx%lldx%lld overflows", (long long)n[0],
                  (long long)n[1], (long long)n[2]);
        if (o.scratch) {
            MV__CHECK(((uintptr_t)o.scratch & 63) == 0, MV_ERR_INVALID_ARG, "resample: scratch %p is not 64-byte aligned",
                      o.scratch);
            MV__CHECK(o.scratch_size >= need, MV_ERR_BUFFER_TOO_SMALL,
                      "resample: scratch_size %zu, cubic needs %zu (mv_resample_scratch_size)", o.scratch_size, need);
            scratch = (unsigned char *)o.scratch;
        } else {
            scratch = (unsigned char *)mv__alloc(need, o.alloc_ctx);
            MV__CHECK(scratch != NULL, MV_ERR_OUT_OF_MEMORY, "resample: %zu bytes of cubic scratch", need);
        }
        memset(&p, 0, sizeof(p));
        p.kt = j.kt;
        p.dt = in->dtype;
        p.es = j.ses;
        p.scaled = j.scaled;
        p.slope = j.slope;
        p.inter = j.inter;
        p.coef = (float *)(void *)scratch;
        p.nx = n[0];
        p.ny = n[1];
        p.nz = n[2];
        p.SX = n[0] + 2;
        p.SY = n[1] + 2;
        p.mirror = j.mirror;
        p.work = scratch + coef_bytes;
        p.work_bytes = per_worker;
        j.src = scratch;
        j.src_frame = 0;
        j.sdt = MV_DT_F32;
        j.ses = 4;
        j.sx = n[0] + 2;
        j.sy = n[1] + 2;
        j.sz = n[2] + 2;
        j.direct = 1;
        j.scaled = 0;
        j.xfirst = map->ax[0].taps > 1 && fabs(map->ax[0].s) > 4.0;
        j.need_span = map->ax[2].taps > 1 && !j.xfirst;
        float wmax[MV__MAX_THREADS];
        p.wmax = wmax;
        for (f = 0; f < frames; f++) {
            float mx = 0;
            int w;
            p.frame = (const unsigned char *)in->data + (size_t)f * (size_t)(n[0] * n[1] * n[2]) * p.es;
            p.pre = 1.0f;
            memset(wmax, 0, sizeof(wmax));
            mv__parallel_for(n[2], 1, threads, mv__rs_pf_xy, &p);
            for (w = 0; w < MV__MAX_THREADS; w++) mx = wmax[w] > mx ? wmax[w] : mx;
            j.post = 1.0f;
            if (mx > ldexpf(1.0f, 121)) { /* 2^121 x 27 (prefilter gain) x 3.4 (sums) < FLT_MAX: scale, then again */
                int e = 0;
                (void)frexpf(mx, &e); /* mx < 2^e */
                p.pre = ldexpf(1.0f, 121 - e);
                j.post = ldexpf(1.0f, e - 121);
                mv__parallel_for(n[2], 1, threads, mv__rs_pf_xy, &p);
            }
            mv__parallel_for(n[1] + 2, 1, threads, mv__rs_pf_z, &p);
            j.frame0 = f;
            mv__parallel_for(m[2], MV__MAX(1, 65536 / (m[0] * m[1])), threads, mv__rs_range, &j);
        }
        if (!o.scratch) mv__free(scratch, o.alloc_ctx);
    }
    return st;
}

/* ---- public forms ---- */

/* Allocates the output of a map (oshape, the input's other dims, opts'
   dtype), runs it, and sets geometry: affine = out_aff, spacing = its
   column norms; metadata copied from the input. */
static mv_status mv__rs_alloc_run(const mv_vol *in, mv_vol *out, const int64_t oshape[3], mv__rs_map *map,
                                  const double out_aff[4][4], const mv_resample_opts *opts)
{
    mv_resample_opts o;
    mv_vol t, src;
    mv_dtype odt;
    int64_t dims[MV_MAX_DIMS];
    int ndim, a, r, scaled = 0;
    uint64_t bytes = 0;
    void *ctx;
    mv_status st;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    odt = o.dtype != MV_DT_UNKNOWN ? o.dtype : o.interp == MV_INTERP_NEAREST ? in->dtype : MV_DT_F32;
    ndim = in->ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) dims[a] = a < 3 ? oshape[a] : in->dim[a];
    for (a = ndim; a < 3; a++)
        if (oshape[a] != 1) ndim = 3; /* a 1D/2D input resampled onto a 3D grid */
    MV__TRY(mv__shape_bytes(odt, ndim, dims, &bytes));
    ctx = o.alloc_ctx ? o.alloc_ctx : in->alloc_ctx;
    src = *in;
    src.alloc_ctx = ctx; /* extensions are copied with the output's allocator */
    MV__TRY(mv__copy_meta_to(&src, &t));
    t.dtype = odt;
    t.ndim = ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) t.dim[a] = a < ndim ? dims[a] : 1;
    t.alloc_ctx = ctx;
    t.data = mv__alloc((size_t)bytes, ctx);
    if (!t.data) {
        mv_free(&t);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "resample: %llu bytes of output", (unsigned long long)bytes);
    }
    t.flags = MV_VOL_OWNED;
    t.mem_base = t.data;
    t.mem_size = (size_t)bytes;
    st = mv__rs_run(in, &t, map, &o, &scaled);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    for (r = 0; r < 4; r++)
        for (a = 0; a < 4; a++) t.affine[r][a] = out_aff[r][a];
    for (a = 0; a < 3; a++)
        t.spacing[a] = sqrt(out_aff[0][a] * out_aff[0][a] + out_aff[1][a] * out_aff[1][a] + out_aff[2][a] * out_aff[2][a]);
    if (scaled) {
        t.meta.scl_slope = 1.0;
        t.meta.scl_inter = 0.0;
    }
    return mv__out_commit_in(out, &t, in, NULL);
}

static mv_status mv__rs_check_in(const mv_vol *in, const mv_vol *out, const char *fn)
{
    MV__CHECK(in && out, MV_ERR_INVALID_ARG, "%s: NULL volume", fn);
    MV__CHECK(in->ndim >= 1 && in->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG, "%s: input ndim = %d", fn, in->ndim);
    MV__CHECK(in->data != NULL, MV_ERR_INVALID_ARG, "%s: input has no data", fn);
    return MV_OK;
}

static int64_t mv__rs_in_dim(const mv_vol *v, int a) { return a < v->ndim ? v->dim[a] : 1; }

static mv_status mv__rs_shape(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_resample_opts *opts)
{
    mv__rs_map map;
    double M[4][4], aff[4][4];
    int64_t oshape[3];
    int a, align = opts && opts->align_corners;
    MV__TRY(mv__rs_check_in(in, out, "mv_resample_shape"));
    MV__CHECK(shape != NULL, MV_ERR_INVALID_ARG, "mv_resample_shape: shape is NULL");
    memset(&map, 0, sizeof(map));
    mv__identity4(M);
    for (a = 0; a < 3; a++) {
        int64_t n = mv__rs_in_dim(in, a), m;
        double s;
        MV__CHECK(shape[a] >= 0, MV_ERR_INVALID_ARG, "mv_resample_shape: shape[%d] = %lld", a, (long long)shape[a]);
        m = shape[a] == 0 ? n : shape[a];
        MV__CHECK(m <= MV__RS_MAX_DIM, MV_ERR_SIZE_OVERFLOW, "mv_resample_shape: shape[%d] = %lld", a, (long long)m);
        oshape[a] = m;
        /* scipy zoom: in/out per axis (grid mode), (in-1)/(out-1) else, 1 for one output voxel */
        s = !align ? (double)n / (double)m : m > 1 ? (double)(n - 1) / (double)(m - 1) : 1.0;
        map.ax[a].s = s;
        map.ax[a].u = align ? 0.0 : 0.5;
        map.ax[a].v = align ? 0.0 : -0.5;
        M[a][a] = s;
        M[a][3] = mv__rs_coord(&map.ax[a], 0);
        map.M[a][a] = M[a][a];
        map.M[a][3] = M[a][3];
    }
    map.separable = 1;
    mv__rs_mul44((const double(*)[4])in->affine, (const double(*)[4])M, aff);
    return mv__rs_alloc_run(in, out, oshape, &map, (const double(*)[4])aff, opts);
}

/* Python's round(): half to even, exactly (q < 2^52) */
static double mv__rs_round_even(double q)
{
    double r = floor(q), d = q - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0)) r += 1;
    return r;
}

static mv_status mv__rs_spacing(const mv_vol *in, mv_vol *out, const double spacing[3], const mv_resample_opts *opts)
{
    int64_t shape[3];
    int a;
    MV__TRY(mv__rs_check_in(in, out, "mv_resample_spacing"));
    MV__CHECK(spacing != NULL, MV_ERR_INVALID_ARG, "mv_resample_spacing: spacing is NULL");
    for (a = 0; a < 3; a++) {
        double old = a < in->ndim ? in->spacing[a] : 1.0, q;
        MV__CHECK(isfinite(spacing[a]) && spacing[a] > 0, MV_ERR_INVALID_ARG, "mv_resample_spacing: spacing[%d] = %g", a,
                  spacing[a]);
        MV__CHECK(isfinite(old) && old > 0, MV_ERR_INVALID_ARG, "mv_resample_spacing: input spacing[%d] = %g", a, old);
        q = (double)mv__rs_in_dim(in, a) * (old / spacing[a]);
        MV__CHECK(q < (double)MV__RS_MAX_DIM, MV_ERR_SIZE_OVERFLOW, "mv_resample_spacing: axis %d would have %g voxels", a, q);
        q = mv__rs_round_even(q);
        shape[a] = q < 1 ? 1 : (int64_t)q;
    }
    return mv__rs_shape(in, out, shape, opts);
}

/* resample_like / resample_affine: M = inv(in affine) * W * out_aff */
static mv_status mv__rs_world(const mv_vol *in, mv_vol *out, const int64_t oshape[3], const double out_aff[4][4],
                              const double W[4][4], const mv_resample_opts *opts, const char *fn)
{
    double inv[4][4], M[4][4];
    int64_t n[3];
    mv__rs_map map;
    int a;
    MV__CHECK(mv__rs_finite44(out_aff) && mv__rs_bottom_ok(out_aff), MV_ERR_INVALID_ARG,
              "%s: the output affine must be finite with bottom row 0 0 0 1", fn);
    MV__CHECK(mv__rs_inverse((const double(*)[4])in->affine, inv), MV_ERR_INVALID_ARG,
              "%s: the input affine is singular or not finite", fn);
    if (W) {
        MV__CHECK(mv__rs_finite44(W) && mv__rs_bottom_ok(W), MV_ERR_INVALID_ARG,
                  "%s: world_xform must be finite with bottom row 0 0 0 1", fn);
        mv__rs_mul44((const double(*)[4])inv, W, M);
        mv__rs_mul44((const double(*)[4])M, out_aff, M);
    } else {
        mv__rs_mul44((const double(*)[4])inv, out_aff, M);
    }
    for (a = 0; a < 3; a++) n[a] = mv__rs_in_dim(in, a);
    memset(&map, 0, sizeof(map));
    mv__rs_map_from_matrix((const double(*)[4])M, n, oshape, &map);
    return mv__rs_alloc_run(in, out, oshape, &map, out_aff, opts);
}

static mv_status mv__rs_like(const mv_vol *in, const mv_vol *ref, mv_vol *out, const mv_resample_opts *opts)
{
    int64_t oshape[3];
    int a;
    MV__TRY(mv__rs_check_in(in, out, "mv_resample_like"));
    MV__CHECK(ref != NULL && ref->ndim >= 1 && ref->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG, "mv_resample_like: bad ref");
    for (a = 0; a < 3; a++) {
        oshape[a] = mv__rs_in_dim(ref, a);
        MV__CHECK(oshape[a] >= 1 && oshape[a] <= MV__RS_MAX_DIM, MV_ERR_INVALID_ARG, "mv_resample_like: ref dim[%d] = %lld", a,
                  (long long)oshape[a]);
    }
    return mv__rs_world(in, out, oshape, (const double(*)[4])ref->affine, NULL, opts, "mv_resample_like");
}

static mv_status mv__rs_affine(const mv_vol *in, mv_vol *out, const int64_t shape[3], const double out_affine[4][4],
                               const double world_xform[4][4], const mv_resample_opts *opts)
{
    int64_t oshape[3];
    int a;
    MV__TRY(mv__rs_check_in(in, out, "mv_resample_affine"));
    MV__CHECK(shape && out_affine, MV_ERR_INVALID_ARG, "mv_resample_affine: NULL shape or affine");
    for (a = 0; a < 3; a++) {
        MV__CHECK(shape[a] >= 0 && shape[a] <= MV__RS_MAX_DIM, shape[a] < 0 ? MV_ERR_INVALID_ARG : MV_ERR_SIZE_OVERFLOW,
                  "mv_resample_affine: shape[%d] = %lld", a, (long long)shape[a]);
        oshape[a] = shape[a] == 0 ? mv__rs_in_dim(in, a) : shape[a];
    }
    return mv__rs_world(in, out, oshape, out_affine, world_xform, opts, "mv_resample_affine");
}

/* The allocating forms leave *out as it was on failure (MEMORY). */
static mv_status mv__rs_done(mv_status st, const mv_vol *in, mv_vol *out)
{
    (void)in;
    (void)out;
    return st;
}
MVDEF mv_status mv_resample_shape(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_resample_opts *opts)
{
    return mv__rs_done(mv__rs_shape(in, out, shape, opts), in, out);
}
MVDEF mv_status mv_resample_spacing(const mv_vol *in, mv_vol *out, const double spacing[3], const mv_resample_opts *opts)
{
    return mv__rs_done(mv__rs_spacing(in, out, spacing, opts), in, out);
}
MVDEF mv_status mv_resample_like(const mv_vol *in, const mv_vol *ref, mv_vol *out, const mv_resample_opts *opts)
{
    return mv__rs_done(mv__rs_like(in, ref, out, opts), in, out);
}
MVDEF mv_status mv_resample_affine(const mv_vol *in, mv_vol *out, const int64_t shape[3], const double out_affine[4][4],
                                   const double world_xform[4][4], const mv_resample_opts *opts)
{
    return mv__rs_done(mv__rs_affine(in, out, shape, out_affine, world_xform, opts), in, out);
}

MVDEF mv_status mv_resample_into(const mv_vol *in, mv_vol *out, const double vox_map[4][4], const mv_resample_opts *opts)
{
    mv__rs_map map;
    int64_t n[3], m[3];
    int a, scaled = 0;
    MV__CHECK(in && out && vox_map, MV_ERR_INVALID_ARG, "mv_resample_into: NULL argument");
    MV__CHECK(in->ndim >= 1 && in->ndim <= MV_MAX_DIMS && out->ndim >= 1 && out->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
              "mv_resample_into: ndim %d -> %d", in->ndim, out->ndim);
    MV__CHECK(mv__rs_finite44(vox_map) && mv__rs_bottom_ok(vox_map), MV_ERR_INVALID_ARG,
              "mv_resample_into: vox_map must be finite with bottom row 0 0 0 1");
    for (a = 0; a < 3; a++) {
        n[a] = mv__rs_in_dim(in, a);
        m[a] = mv__rs_in_dim(out, a);
    }
    memset(&map, 0, sizeof(map));
    mv__rs_map_from_matrix(vox_map, n, m, &map);
    return mv__rs_run(in, out, &map, opts, &scaled);
}

MVDEF size_t mv_resample_scratch_size(const mv_vol *in, const mv_resample_opts *opts)
{
    int64_t n[3];
    size_t coef = 0, work = 0;
    int a;
    if (!in || !opts || opts->interp != MV_INTERP_CUBIC || in->ndim < 1 || in->ndim > MV_MAX_DIMS || opts->threads < 0)
        return 0;
    for (a = 0; a < 3; a++) n[a] = mv__rs_in_dim(in, a);
    return mv__rs_scratch_bytes(n, mv__resolve_threads(opts->threads), &coef, &work);
}

/* >>impl-phantom =========================================================== */

/* Toft's modified 3D Shepp-Logan: intensity, semi-axes a b c, centre
   x0 y0 z0, Euler angles phi theta psi (degrees), as in the widely used
   phantom3d table. */
static const double mv__shepp_logan3d[10][10] = {
    {1.0, 0.6900, 0.920, 0.810, 0.00, 0.0000, 0.00, 0, 0, 0},
    {-0.8, 0.6624, 0.874, 0.780, 0.00, -0.0184, 0.00, 0, 0, 0},
    {-0.2, 0.1100, 0.310, 0.220, 0.22, 0.0000, 0.00, -18, 0, 10},
    {-0.2, 0.1600, 0.410, 0.280, -0.22, 0.0000, 0.00, 18, 0, 10},
    {0.1, 0.2100, 0.250, 0.410, 0.00, 0.3500, -0.15, 0, 0, 0},
    {0.1, 0.0460, 0.046, 0.050, 0.00, 0.1000, 0.25, 0, 0, 0},
    {0.1, 0.0460, 0.046, 0.050, 0.00, -0.1000, 0.25, 0, 0, 0},
    {0.1, 0.0460, 0.023, 0.050, -0.08, -0.6050, 0.00, 0, 0, 0},
    {0.1, 0.0230, 0.023, 0.020, 0.00, -0.6060, 0.00, 0, 0, 0},
    {0.1, 0.0230, 0.046, 0.020, 0.06, -0.6050, 0.00, 0, 0, 0},
};

/* grid coordinate of voxel i of n on [-1, 1] (linspace) */
static double mv__lin11(int64_t i, int64_t n) { return n > 1 ? -1.0 + 2.0 * (double)i / (double)(n - 1) : 0.0; }

static void mv__centred_affine(mv_vol *v)
{
    int c;
    mv__identity4(v->affine);
    for (c = 0; c < 3; c++) v->affine[c][3] = -((double)v->dim[c] - 1) / 2.0;
}

MVDEF mv_status mv_phantom_shepp_logan(mv_vol *out, int64_t nx, int64_t ny, int64_t nz)
{
    int64_t dims[3], i, j, k;
    double rot[10][9];
    int e;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_phantom_shepp_logan: out is NULL");
    dims[0] = nx;
    dims[1] = ny;
    dims[2] = nz;
    MV__TRY(mv_vol_alloc(out, MV_DT_F32, 3, dims, NULL));
    for (e = 0; e < 10; e++) {
        const double deg = 3.14159265358979323846 / 180.0, *p = mv__shepp_logan3d[e];
        double cph = cos(p[7] * deg), sph = sin(p[7] * deg), cth = cos(p[8] * deg), sth = sin(p[8] * deg);
        double cps = cos(p[9] * deg), sps = sin(p[9] * deg);
        double r[9];
        r[0] = cps * cph - cth * sph * sps;
        r[1] = cps * sph + cth * cph * sps;
        r[2] = sps * sth;
        r[3] = -sps * cph - cth * sph * cps;
        r[4] = -sps * sph + cth * cph * cps;
        r[5] = cps * sth;
        r[6] = sth * sph;
        r[7] = -sth * cph;
        r[8] = cth;
        memcpy(rot[e], r, sizeof(r));
    }
    for (k = 0; k < nz; k++)
        for (j = 0; j < ny; j++)
            for (i = 0; i < nx; i++) {
                /* intensities are whole tenths: summing them as integers keeps
                   1 - 0.8 - 0.2 exactly 0 */
                double x = mv__lin11(i, nx), y = mv__lin11(j, ny), z = mv__lin11(k, nz);
                int tenths = 0;
                for (e = 0; e < 10; e++) {
                    const double *p = mv__shepp_logan3d[e], *r = rot[e];
                    double u0 = r[0] * x + r[1] * y + r[2] * z - p[4];
                    double u1 = r[3] * x + r[4] * y + r[5] * z - p[5];
                    double u2 = r[6] * x + r[7] * y + r[8] * z - p[6];
                    if (u0 * u0 / (p[1] * p[1]) + u1 * u1 / (p[2] * p[2]) + u2 * u2 / (p[3] * p[3]) <= 1.0)
                        tenths += (int)floor(p[0] * 10.0 + 0.5);
                }
                ((float *)out->data)[i + nx * (j + ny * k)] = (float)(tenths / 10.0);
            }
    mv__centred_affine(out);
    return MV_OK;
}

/* splitmix64: a counter-based generator, so any voxel's noise is known
   without generating the ones before it */
static uint64_t mv__splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

#define MV__BLOBS 8
typedef struct mv__smooth_job {
    mv_vol *v;
    const double *gx, *gy, *gz; /* per blob: 1-D Gaussian tables */
    double weight[MV__BLOBS];
    uint32_t seed;
} mv__smooth_job;

static void mv__smooth_range(void *ctx, int64_t z0, int64_t z1, int worker)
{
    const mv__smooth_job *j = (const mv__smooth_job *)ctx;
    int64_t nx = j->v->dim[0], ny = j->v->dim[1], x, y, z;
    (void)worker;
    for (z = z0; z < z1; z++)
        for (y = 0; y < ny; y++) {
            double wyz[MV__BLOBS];
            int b;
            for (b = 0; b < MV__BLOBS; b++) wyz[b] = j->weight[b] * j->gy[b * ny + y] * j->gz[b * j->v->dim[2] + z];
            for (x = 0; x < nx; x++) {
                int64_t idx = x + nx * (y + ny * z);
                double s = 0, noise;
                for (b = 0; b < MV__BLOBS; b++) s += wyz[b] * j->gx[b * nx + x];
                noise = (double)(mv__splitmix64(((uint64_t)j->seed << 40) ^ (uint64_t)idx) >> 11) * (1.0 / 9007199254740992.0);
                s = 50.0 + 900.0 * s + 100.0 * (noise - 0.5);
                s = s < 0 ? 0 : s > 1000 ? 1000 : s;
                if (j->v->dtype == MV_DT_I16) ((int16_t *)j->v->data)[idx] = (int16_t)nearbyint(s);
                else ((float *)j->v->data)[idx] = (float)s;
            }
        }
}

MVDEF mv_status mv_phantom_smooth(mv_vol *out, mv_dtype dtype, int64_t nx, int64_t ny, int64_t nz, uint32_t seed)
{
    mv__smooth_job j;
    int64_t dims[3], n[3], i;
    double *tab[3], wsum = 0;
    int b, a;
    mv_status st = MV_OK;
    mv_vol res;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_phantom_smooth: out is NULL");
    MV__CHECK(dtype == MV_DT_I16 || dtype == MV_DT_F32, MV_ERR_INVALID_ARG, "mv_phantom_smooth: dtype %s (int16 or float32)",
              mv_dtype_name(dtype));
    dims[0] = n[0] = nx;
    dims[1] = n[1] = ny;
    dims[2] = n[2] = nz;
    mv_vol_init(&res);
    MV__TRY(mv_vol_alloc(&res, dtype, 3, dims, NULL));
    for (a = 0; a < 3; a++) {
        tab[a] = (double *)mv__alloc((size_t)n[a] * MV__BLOBS * sizeof(double), NULL);
        if (!tab[a]) st = mv__fail(MV_ERR_OUT_OF_MEMORY, "phantom tables");
    }
    if (st == MV_OK) {
        uint64_t r = seed;
        for (b = 0; b < MV__BLOBS; b++) {
            /* blob b: centre in the middle 70% of the box, width 8..30% of it */
            for (a = 0; a < 3; a++) {
                double c, w;
                r = mv__splitmix64(r);
                c = 0.15 + 0.7 * (double)(r >> 11) / 9007199254740992.0;
                r = mv__splitmix64(r);
                w = 0.08 + 0.22 * (double)(r >> 11) / 9007199254740992.0;
                for (i = 0; i < n[a]; i++) {
                    double t = ((double)i + 0.5) / (double)n[a] - c;
                    tab[a][b * n[a] + i] = exp(-t * t / (2 * w * w));
                }
            }
            r = mv__splitmix64(r);
            j.weight[b] = 0.3 + 0.7 * (double)(r >> 11) / 9007199254740992.0;
            wsum += j.weight[b];
        }
        for (b = 0; b < MV__BLOBS; b++) j.weight[b] /= wsum / 2.5; /* peaks overlap: keep it near 1 */
        j.v = &res;
        j.gx = tab[0];
        j.gy = tab[1];
        j.gz = tab[2];
        j.seed = seed;
        mv__parallel_for(nz, 1, mv__threads_for_bytes(0, mv_vol_bytes(&res)), mv__smooth_range, &j);
        mv__centred_affine(&res);
    }
    for (a = 0; a < 3; a++) mv__free(tab[a], NULL);
    if (st != MV_OK) {
        mv_free(&res);
        return st;
    }
    return mv__out_commit(out, &res);
}

/* >>impl-ops ===============================================================
   Intensity and spatial operations and their chains share one engine:

   - A plan (mv__plan) holds what the chain does so far: a voxel mapping from
     the current grid to the source (per output axis: which source axis, which
     direction, which offset), the boxes where earlier pads created voxels
     ("stages", each with its fill value), and the per-voxel intensity steps
     (mv__eop) in order.
   - Steps that need statistics (z-normalize, rescale) take them when the
     plan reaches them, by a read pass over the source region the volume has
     at that point (mv__provider), plus the padded voxels as constants.
   - The write pass (mv__write_rows) walks output rows: each row splits into
     fill segments and one source segment; the source segment is fetched
     (contiguous, reversed or gathered), converted to float32 in L1-sized
     pieces, sent through the steps and stored in the output dtype.
   So a chain reads its input once per statistics step plus once to write,
   and writes its output once. */

#define MV__ROW 512          /* elements per row piece: buffers stay in L1 */
#define MV__UNIT 1024        /* elements per statistics unit when converted */
#define MV__MAX_STAGES 16    /* pads in one chain */
#define MV__MAX_EOPS 32      /* intensity steps in one chain */

typedef enum mv__eop_kind { MV__E_AFFINE, MV__E_CLAMP, MV__E_ROUND } mv__eop_kind;

/* One per-voxel step on float32 values. */
typedef struct mv__eop {
    mv__eop_kind kind;
    double c, s, o;   /* affine: (x - c) * s + o */
    int nonzero;      /* affine: zeros keep their value */
    float lo, hi;     /* clamp */
    mv_dtype dtype;   /* round: through this dtype (a cast in the middle of a chain) */
    mv_round rounding;
} mv__eop;

/* x[0..n) through the steps into y (x may be y; n <= MV__ROW). */
static void mv__eops_row(const mv__kernels *kt, const mv__eop *e, int n_e, const float *x, float *y, size_t n)
{
    int i;
    if (n_e == 0 && x != y) memcpy(y, x, n * sizeof(float));
    for (i = 0; i < n_e; i++, x = y) {
        switch (e[i].kind) {
        case MV__E_AFFINE:
            (e[i].nonzero ? kt->affine_nz_f32 : kt->affine_f32)(x, y, n, e[i].c, e[i].s, e[i].o);
            break;
        case MV__E_CLAMP: kt->clamp_f32(x, y, n, e[i].lo, e[i].hi); break;
        case MV__E_ROUND: {
            double tmp[MV__ROW * 2]; /* 16 bytes per element at most */
            MEDVOL_ASSERT(n <= MV__ROW);
            mv__convert_real_run(x, MV_DT_F32, tmp, e[i].dtype, n, 0, 1.0, 0.0, e[i].rounding);
            mv__convert_real_run(tmp, e[i].dtype, y, MV_DT_F32, n, 0, 1.0, 0.0, MV_ROUND_NEAREST);
            break;
        }
        }
    }
}

/* One value through the steps, with the same kernels as the rows. */
static float mv__eops_one(const mv__eop *e, int n_e, float x)
{
    float y = x;
    mv__eops_row(mv__kernels_get(), e, n_e, &y, &y, 1);
    return y;
}

/* d = odd * 2^e exactly (d finite, nonzero); 0 for d = 0 */
static void mv__odd_exp(double d, int64_t *odd, int *e)
{
    int ex;
    double m = frexp(fabs(d), &ex); /* m in [0.5, 1) */
    int64_t k = (int64_t)ldexp(m, 53);
    *e = ex - 53;
    while (k && !(k & 1)) {
        k >>= 1;
        (*e)++;
    }
    *odd = d < 0 ? -k : k;
}

/* Whether float32(x * slope + inter) equals x * slope + inter for every
   value x of an 8- or 16-bit integer dtype (it does for the usual slopes
   such as 0.5 or 2 with integer intercepts): then statistics of the raw
   values, transformed, are those of the float32 values. Sufficient test:
   with slope = S 2^a and inter = T 2^b (S, T odd), every x * slope + inter
   is N(x) 2^min(a, b) with |N(x)| below 2^24. */
static int mv__scaling_exact_f32(mv_dtype dt, double slope, double inter)
{
    int64_t S, T, xmax;
    int a, b, m;
    double nmax;
    switch (dt) {
    case MV_DT_U8: xmax = 255; break;
    case MV_DT_I8: xmax = 128; break;
    case MV_DT_U16: xmax = 65535; break;
    case MV_DT_I16: xmax = 32768; break;
    default: return 0;
    }
    if (!isfinite(slope) || !isfinite(inter) || slope == 0) return 0;
    mv__odd_exp(slope, &S, &a);
    mv__odd_exp(inter, &T, &b);
    if (inter == 0) b = a;
    m = MV__MIN(a, b);
    if (a - m > 60 || b - m > 60) return 0;
    nmax = (double)xmax * fabs((double)S) * ldexp(1.0, a - m) + fabs((double)T) * ldexp(1.0, b - m);
    return nmax < 16777216.0 && m > -140 && m < 100; /* and far from float32's exponent limits */
}

/* ---- the source: a voxel array seen in full-volume coordinates ---- */

typedef struct mv__vsrc {
    const unsigned char *base;
    mv_dtype dt;
    size_t esz;
    int ndim;
    int64_t full[MV_MAX_DIMS];   /* dims of the whole volume */
    int64_t org[MV_MAX_DIMS];    /* the array holds [org, org + dim) of it */
    int64_t dim[MV_MAX_DIMS];
    int64_t stride[MV_MAX_DIMS]; /* elements */
    int scaled;                  /* values: float32(x * slope + inter) */
    double slope, inter;
    int exact;                   /* 8/16-bit integers whose values are exact in float32 */
} mv__vsrc;

static void mv__vsrc_from_vol(mv__vsrc *s, const mv_vol *v, int scaled, double slope, double inter)
{
    int a;
    int64_t st = 1;
    memset(s, 0, sizeof(*s));
    s->base = (const unsigned char *)v->data;
    s->dt = v->dtype;
    s->esz = mv__dt[v->dtype].size;
    s->ndim = v->ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        s->full[a] = s->dim[a] = a < v->ndim ? v->dim[a] : 1;
        s->stride[a] = st;
        st *= s->dim[a];
    }
    s->scaled = scaled;
    s->slope = slope;
    s->inter = inter;
    s->exact = (v->dtype == MV_DT_U8 || v->dtype == MV_DT_I16 || v->dtype == MV_DT_U16) &&
               (!scaled || mv__scaling_exact_f32(v->dtype, slope, inter));
}

/* Whether the source's values (scaled) are exactly float32 numbers: then
   the float32 path is exact; else the first intensity step reads them in
   float64 (statistics and the per-voxel evaluation), so a value beyond
   float32's range or precision (int32, float64, scl_slope 1e38) is not
   rounded or overflowed before it is normalised. */
static int mv__vsrc_values_f32(const mv__vsrc *s)
{
    if (s->exact) return 1;
    if (s->scaled) return 0;
    switch (s->dt) {
    case MV_DT_F32: case MV_DT_F16: case MV_DT_BF16: case MV_DT_U8: case MV_DT_I8: case MV_DT_U16: case MV_DT_I16:
        return 1;
    default: return 0;
    }
}

MVDEF int mv_intensity_values_f32(const mv_vol *v, int raw)
{
    mv__vsrc s;
    int active = 0;
    double slope = 1.0, inter = 0.0, sl, in;
    if (!v || !mv__dtype_ok(v->dtype)) return 0;
    sl = v->meta.scl_slope;
    in = v->meta.scl_inter;
    /* a valid slope with a non-finite intercept: the ops refuse the volume
       (answered here without mv__scaling, which would set mv_last_error) */
    if (!raw && sl != 0 && isfinite(sl) && !isfinite(in)) return 0;
    if (!raw) (void)mv__scaling(sl, in, &active, &slope, &inter);
    mv__vsrc_from_vol(&s, v, active, slope, inter);
    return mv__vsrc_values_f32(&s);
}

/* element offset of full-volume coordinates c[0..MV_MAX_DIMS) */
static int64_t mv__vsrc_offset(const mv__vsrc *s, const int64_t *c)
{
    int64_t off = 0;
    int a;
    for (a = 0; a < MV_MAX_DIMS; a++) off += (c[a] - s->org[a]) * s->stride[a];
    return off;
}

/* ---- statistics over a source box: units fixed by the box alone ---- */

enum { MV__WANT_ANY, MV__WANT_F32, MV__WANT_F64 };

/* A reader of the values in a source box: runs of contiguous elements cut
   into units, each unit delivered as (pointer, dtype, count). Values are
   float32 after scaling and the steps, or raw when they are equal to that
   (WANT_ANY), or float64 (WANT_F64: scaling in float64, no steps). With a
   selection (nonzero or mask) only the selected values come, compacted. */
typedef struct mv__provider {
    const mv__vsrc *src;
    int64_t lo[MV_MAX_DIMS], hi[MV_MAX_DIMS];
    const mv__eop *eop;
    int n_eop;
    const mv_vol *mask; /* dims = the source's first three */
    int nonzero;
    int want;
    /* derived */
    int lead;           /* axes [0, lead) are whole: a run covers them and part of axis lead */
    int64_t run_len, n_runs, unit, units_per_run, n_units;
    int direct;         /* raw values go to the consumer (see mv__provider_setup) */
    int direct_nz;      /* raw float32 with zeros in: the consumer leaves them out */
    int direct_scaled;  /* raw integers whose scaling is exact: moments transform after */
} mv__provider;


static void mv__provider_setup(mv__provider *p)
{
    const mv__vsrc *s = p->src;
    int a;
    p->lead = 0;
    while (p->lead < MV_MAX_DIMS && p->lo[p->lead] == s->org[p->lead] && p->hi[p->lead] == s->org[p->lead] + s->dim[p->lead])
        p->lead++;
    if (p->mask && p->lead > 2) p->lead = 2; /* a run stays inside one 3D frame */
    p->run_len = 1;
    for (a = 0; a < MV_MAX_DIMS && a <= p->lead; a++) p->run_len *= p->hi[a] - p->lo[a];
    p->n_runs = 1;
    for (a = p->lead + 1; a < MV_MAX_DIMS; a++) p->n_runs *= p->hi[a] - p->lo[a];
    for (a = 0; a < MV_MAX_DIMS; a++)
        if (p->hi[a] <= p->lo[a]) p->n_runs = 0;
    /* raw values can go straight to the consumer when they are the values:
       the statistics read them in place, no conversion pass over the data */
    {
        int plain = p->n_eop == 0 && !p->mask && (!s->scaled || (s->slope == 1.0 && s->inter == 0.0));
        int small = s->dt == MV_DT_U8 || s->dt == MV_DT_I8 || s->dt == MV_DT_U16 || s->dt == MV_DT_I16;
        p->direct_nz = p->want == MV__WANT_ANY && plain && p->nonzero && s->dt == MV_DT_F32;
        p->direct_scaled = p->want == MV__WANT_ANY && p->n_eop == 0 && !p->mask && !p->nonzero && s->scaled && small &&
                           !(s->slope == 1.0 && s->inter == 0.0) && mv__scaling_exact_f32(s->dt, s->slope, s->inter);
        p->direct = p->direct_nz || p->direct_scaled ||
                    (p->want == MV__WANT_ANY && plain && !p->nonzero && (small || s->dt == MV_DT_F32)) ||
                    (p->want == MV__WANT_F32 && plain && !p->nonzero && s->dt == MV_DT_F32);
    }
    p->unit = p->direct ? MV__BLOCK : MV__UNIT;
    p->units_per_run = (p->run_len + p->unit - 1) / p->unit;
    p->n_units = p->n_runs * p->units_per_run;
}

/* full-volume coordinates of the first element of run r */
static void mv__provider_run_start(const mv__provider *p, int64_t r, int64_t *c)
{
    int a;
    for (a = 0; a < MV_MAX_DIMS; a++) c[a] = p->lo[a];
    for (a = p->lead + 1; a < MV_MAX_DIMS; a++) {
        int64_t ext = p->hi[a] - p->lo[a];
        c[a] = p->lo[a] + r % ext;
        r /= ext;
    }
}

/* The mask's selection for n elements from in-frame index i0 (the mask has
   the source's first three dims; a run never leaves its 3D frame). */
static void mv__mask_flags(const mv_vol *m, int64_t i0, size_t n, unsigned char *sel)
{
    size_t i, k, sz = mv__dt[m->dtype].size;
    const unsigned char *p = (const unsigned char *)m->data + (size_t)i0 * sz;
    int is_float = mv__dt[m->dtype].kind == MV__K_FLOAT;
    for (i = 0; i < n; i++, p += sz) {
        unsigned char any = 0;
        if (is_float) any = mv__get_f64(m->dtype, p) != 0; /* -0.0 is not selected */
        else
            for (k = 0; k < sz; k++) any |= p[k];
        sel[i] = any != 0;
    }
}

typedef void (*mv__consume_fn)(void *ctx, int64_t super, const void *vals, mv_dtype dt, size_t n, int worker);

/* Delivers unit u (elements [e0, e0 + n) of its run) to fn. */
static void mv__provider_unit(const mv__provider *p, int64_t u, int64_t super, mv__consume_fn fn, void *ctx,
                              int worker)
{
    const mv__vsrc *s = p->src;
    int64_t r = u / p->units_per_run, e0 = (u % p->units_per_run) * p->unit, c[MV_MAX_DIMS];
    size_t n = (size_t)MV__MIN(p->unit, p->run_len - e0), done;
    int64_t mask_i0 = 0;
    const unsigned char *raw;
    mv__provider_run_start(p, r, c);
    raw = s->base + (size_t)(mv__vsrc_offset(s, c) + e0) * s->esz;
    if (p->direct) {
        fn(ctx, super, raw, s->dt, n, worker);
        return;
    }
    if (p->mask) mask_i0 = c[0] + s->full[0] * (c[1] + s->full[1] * c[2]) + e0;
    for (done = 0; done < n;) {
        size_t k = MV__MIN((size_t)MV__UNIT, n - done), m = 0, i;
        const unsigned char *q = raw + done * s->esz;
        unsigned char sel[MV__UNIT];
        if (p->want == MV__WANT_F64) {
            double buf[MV__UNIT];
            mv__convert_real_run(q, s->dt, buf, MV_DT_F64, k, s->scaled, s->slope, s->inter, MV_ROUND_NEAREST);
            if (p->mask) mv__mask_flags(p->mask, mask_i0 + (int64_t)done, k, sel);
            for (i = 0; i < k; i++) {
                buf[m] = buf[i];
                m += p->mask ? sel[i] : p->nonzero ? buf[i] != 0 : 1;
            }
            fn(ctx, super, buf, MV_DT_F64, m, worker);
        } else {
            float buf[MV__UNIT];
            size_t j;
            mv__convert_real_run(q, s->dt, buf, MV_DT_F32, k, s->scaled, s->slope, s->inter, MV_ROUND_NEAREST);
            for (j = 0; j < k; j += MV__ROW)
                mv__eops_row(mv__kernels_get(), p->eop, p->n_eop, buf + j, buf + j, MV__MIN((size_t)MV__ROW, k - j));
            if (p->mask) mv__mask_flags(p->mask, mask_i0 + (int64_t)done, k, sel);
            if (p->mask || p->nonzero) {
                for (i = 0; i < k; i++) {
                    buf[m] = buf[i];
                    m += p->mask ? sel[i] : buf[i] != 0;
                }
            } else {
                m = k;
            }
            fn(ctx, super, buf, MV_DT_F32, m, worker);
        }
        done += k;
    }
}

/* Superblocks: a split of the units fixed by their count, at most
   MV__MAX_SUPER; a thread takes whole superblocks and goes through their
   units in order, so per-superblock results never depend on threads. */
typedef struct mv__prov_job {
    const mv__provider *p;
    int64_t per_super;
    mv__consume_fn fn;
    void *ctx;
} mv__prov_job;

static void mv__prov_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__prov_job *j = (const mv__prov_job *)ctx;
    int64_t s, u;
    for (s = b; s < e; s++) {
        int64_t u1 = MV__MIN((s + 1) * j->per_super, j->p->n_units);
        for (u = s * j->per_super; u < u1; u++) mv__provider_unit(j->p, u, s, j->fn, j->ctx, worker);
    }
}

static int64_t mv__provider_supers(const mv__provider *p, int64_t *per_super)
{
    int64_t per = (p->n_units + MV__MAX_SUPER - 1) / MV__MAX_SUPER;
    if (per < 1) per = 1;
    *per_super = per;
    return (p->n_units + per - 1) / per;
}

static void mv__provider_run(const mv__provider *p, mv__consume_fn fn, void *ctx, int threads)
{
    mv__prov_job j;
    int64_t n_super = mv__provider_supers(p, &j.per_super);
    uint64_t bytes = (uint64_t)(p->n_runs * p->run_len) * p->src->esz;
    j.p = p;
    j.fn = fn;
    j.ctx = ctx;
    mv__parallel_for(n_super, 1, mv__threads_for_bytes(threads, bytes), mv__prov_range, &j);
}

/* -- moments (z-normalize, min-max) -- */
typedef struct mv__mom_ctx {
    mv__moments super[MV__MAX_SUPER];
    int nz; /* raw float32 blocks with zeros to leave out */
} mv__mom_ctx;

/* Moments of the float32 values != 0 of a block, NaN and Inf counted apart. */
static void mv__stats_nz_block(const mv__kernels *kt, const float *v, size_t n, mv__moments *m)
{
    mv__acc acc;
    double cnt = 0, K = 0;
    size_t i;
    for (i = 0; i < n; i++) /* shift by the first value that counts */
        if (v[i] != 0) {
            K = v[i];
            break;
        }
    kt->stats_nz_f32(v, n, K, &acc, &cnt);
    if (isfinite(acc.s1) && isfinite(acc.s2)) {
        if (cnt > 0) mv__moments_from_acc(m, (size_t)cnt, K, &acc);
        else mv__moments_zero(m);
        return;
    }
    { /* NaN or Inf in the block: compact the values that count, then as usual */
        float buf[MV__BLOCK];
        size_t k = 0;
        MEDVOL_ASSERT(n <= MV__BLOCK);
        for (i = 0; i < n; i++) {
            buf[k] = v[i];
            k += v[i] != 0;
        }
        if (k) mv__stats_block(kt, MV_DT_F32, (const unsigned char *)buf, k, m);
        else mv__moments_zero(m);
    }
}

static void mv__consume_moments(void *ctx, int64_t super, const void *vals, mv_dtype dt, size_t n, int worker)
{
    mv__mom_ctx *m = (mv__mom_ctx *)ctx;
    mv__moments bm;
    (void)worker;
    if (n == 0) return;
    if (m->nz) mv__stats_nz_block(mv__kernels_get(), (const float *)vals, n, &bm);
    else mv__stats_block(mv__kernels_get(), dt, (const unsigned char *)vals, n, &bm);
    mv__moments_merge(&m->super[super], &bm);
}

static void mv__provider_moments(const mv__provider *p, int threads, mv__moments *out)
{
    mv__mom_ctx m;
    int64_t per, n_super = mv__provider_supers(p, &per), s;
    for (s = 0; s < n_super; s++) mv__moments_zero(&m.super[s]);
    m.nz = p->direct_nz;
    mv__provider_run(p, mv__consume_moments, &m, threads);
    mv__moments_zero(out);
    for (s = 0; s < n_super; s++) mv__moments_merge(out, &m.super[s]);
    if (p->direct_scaled && out->n > 0) { /* moments of x * slope + inter from those of x */
        double a = p->src->slope, b = p->src->inter, mn = out->mn, mx = out->mx;
        out->sum = a * out->sum + b * (double)out->n;
        out->mean = a * out->mean + b;
        out->m2 = a * a * out->m2;
        out->mn = a >= 0 ? a * mn + b : a * mx + b;
        out->mx = a >= 0 ? a * mx + b : a * mn + b;
    }
}

/* cnt copies of the value v (the padded voxels of a stage) */
static void mv__moments_add_const(mv__moments *m, double v, int64_t cnt)
{
    mv__moments c;
    if (cnt <= 0) return;
    mv__moments_zero(&c);
    if (v != v) {
        c.nan = cnt;
    } else if (v - v != 0) {
        c.inf = cnt;
    } else {
        c.n = cnt;
        c.sum = v * (double)cnt;
        c.mean = v;
        c.m2 = 0;
        c.mn = c.mx = v;
    }
    mv__moments_merge(m, &c);
}

/* -- histogram: numpy.histogram's bins -- */
typedef struct mv__hist_ctx {
    int nbins;
    double lo, hi, norm;
    double *edges;     /* nbins + 1, in the precision numpy compares in */
    int64_t *counts;   /* per worker: nbins each */
} mv__hist_ctx;

static void mv__hist_add(const mv__hist_ctx *h, int64_t *cnt, double x)
{
    int64_t i;
    if (!(x >= h->lo && x <= h->hi)) return; /* outside, or NaN */
    i = (int64_t)((x - h->lo) * h->norm);
    if (i >= h->nbins) i = h->nbins - 1;
    if (i < 0) i = 0;
    /* the edges decide, as numpy's correction step makes them decide */
    while (i > 0 && x < h->edges[i]) i--;
    while (i < h->nbins - 1 && x >= h->edges[i + 1]) i++;
    cnt[i]++;
}

static void mv__consume_hist(void *ctx, int64_t super, const void *vals, mv_dtype dt, size_t n, int worker)
{
    const mv__hist_ctx *h = (const mv__hist_ctx *)ctx;
    int64_t *cnt = h->counts + (size_t)worker * (size_t)h->nbins;
    size_t i;
    (void)super;
    if (dt == MV_DT_F64) {
        const double *v = (const double *)vals;
        for (i = 0; i < n; i++) mv__hist_add(h, cnt, v[i]);
    } else {
        const float *v = (const float *)vals;
        for (i = 0; i < n; i++) mv__hist_add(h, cnt, v[i]);
    }
}

/* numpy's 'linear' percentile from the sorted values: virtual index
   (n - 1) * q / 100, then _lerp; f32 = the values are float32, so numpy takes
   their difference in float32. */
static void mv__percentile_ranks(double q, int64_t n, int64_t *below, int64_t *above, double *gamma)
{
    double idx = (double)(n - 1) * (q / 100.0);
    double fl = floor(idx);
    if (idx >= (double)(n - 1)) {
        *below = *above = n - 1;
        *gamma = 0;
        return;
    }
    if (idx < 0) fl = 0;
    *below = (int64_t)fl;
    *above = *below + 1;
    *gamma = idx - fl;
}
static double mv__lerp_numpy(double a, double b, double t, int f32)
{
    double diff = f32 ? (double)((float)b - (float)a) : b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

static int mv__bitlen(uint64_t x)
{
    int n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}
static int mv__ctz64(uint64_t x)
{
    int n = 0;
    if (!x) return 64;
    while (!(x & 1)) {
        n++;
        x >>= 1;
    }
    return n;
}

/* -- radix selection (percentiles) --
   Exact order statistics without a copy or a sort. Keys are the values'
   bits made monotone (negative: all bits flipped; else the sign bit set;
   -0 counts as +0): 32-bit keys of float32 values, 64-bit keys of float64
   values. A first pass finds the smallest and largest key and the low bits
   every key shares; keys are then taken relative to the smallest, without
   those bits, so the 16-bit digits spread over the data's actual range (a
   float32 volume needs two digit passes, often one). Each digit pass counts
   the digit under the prefixes still wanted; each rank goes down into its
   digit. Counts are integers: any thread count gives the same answer. */
#define MV__RADIX_BITS 16
#define MV__RADIX_BINS ((size_t)1 << MV__RADIX_BITS)

MV__INLINE uint64_t mv__key64(double x)
{
    uint64_t b;
    if (x == 0) x = 0; /* -0 -> +0 */
    memcpy(&b, &x, 8);
    return (b >> 63) ? ~b : b | ((uint64_t)1 << 63);
}
MV__INLINE double mv__value_of_key64(uint64_t k)
{
    uint64_t b = (k >> 63) ? k & ~((uint64_t)1 << 63) : ~k;
    double x;
    memcpy(&x, &b, 8);
    return x;
}
MV__INLINE uint32_t mv__key32(float x)
{
    uint32_t b;
    if (x == 0) x = 0; /* -0 -> +0 */
    memcpy(&b, &x, 4);
    return b ^ ((uint32_t)((int32_t)b >> 31) | 0x80000000u);
}
MV__INLINE float mv__value_of_key32(uint32_t k)
{
    uint32_t b = (k >> 31) ? k & 0x7fffffffu : ~k;
    float x;
    memcpy(&x, &b, 4);
    return x;
}

/* Constants that join a selection (padded voxels): cnt copies of v. */
typedef struct mv__const_vals {
    int n;
    double v[MV__MAX_STAGES];
    int64_t cnt[MV__MAX_STAGES];
} mv__const_vals;

typedef struct mv__scan_ctx { /* per worker: count, smallest and largest key, bits that differ */
    int64_t n[MV__MAX_THREADS];
    uint64_t kmin[MV__MAX_THREADS], kmax[MV__MAX_THREADS], diff[MV__MAX_THREADS], ref[MV__MAX_THREADS];
} mv__scan_ctx;

static void mv__scan_add(mv__scan_ctx *c, int w, uint64_t k, int64_t times)
{
    if (c->n[w] == 0) c->ref[w] = c->kmin[w] = c->kmax[w] = k;
    c->n[w] += times;
    c->kmin[w] = k < c->kmin[w] ? k : c->kmin[w];
    c->kmax[w] = k > c->kmax[w] ? k : c->kmax[w];
    c->diff[w] |= k ^ c->ref[w];
}

static void mv__consume_scan(void *ctx, int64_t super, const void *vals, mv_dtype dt, size_t n, int w)
{
    mv__scan_ctx *c = (mv__scan_ctx *)ctx;
    size_t i;
    (void)super;
    if (dt == MV_DT_F32) {
        const float *v = (const float *)vals;
        uint64_t kmin = UINT64_MAX, kmax = 0, diff = 0, ref = 0;
        int64_t cnt = 0;
        for (i = 0; i < n; i++) {
            uint64_t k = mv__key32(v[i]);
            if (v[i] != v[i]) continue;
            if (!cnt++) ref = k;
            kmin = k < kmin ? k : kmin;
            kmax = k > kmax ? k : kmax;
            diff |= k ^ ref;
        }
        if (cnt) { /* this unit as one summary */
            mv__scan_add(c, w, ref, 0);
            c->n[w] += cnt;
            c->kmin[w] = kmin < c->kmin[w] ? kmin : c->kmin[w];
            c->kmax[w] = kmax > c->kmax[w] ? kmax : c->kmax[w];
            c->diff[w] |= diff | (ref ^ c->ref[w]);
        }
    } else {
        const double *v = (const double *)vals;
        for (i = 0; i < n; i++)
            if (v[i] == v[i]) mv__scan_add(c, w, mv__key64(v[i]), 1);
    }
}

typedef struct mv__radix_ctx {
    int f32;             /* 32-bit keys of float32 values (else float64) */
    uint64_t kmin;       /* keys are (key - kmin) >> low */
    int low;
    int shift;           /* digit = (key >> shift) & dmask */
    uint64_t dmask;
    int prefix_shift;    /* prefix = key >> prefix_shift; 64: every key */
    int n_pre;
    uint64_t pre[128];   /* sorted prefixes still wanted */
    int64_t *counts;     /* [worker][n_pre][MV__RADIX_BINS] */
} mv__radix_ctx;

static uint64_t mv__rkey(const mv__radix_ctx *r, double x)
{
    uint64_t k = r->f32 ? mv__key32((float)x) : mv__key64(x);
    return (k - r->kmin) >> r->low;
}

static void mv__radix_add(const mv__radix_ctx *r, int64_t *cnt, uint64_t key, int64_t times)
{
    uint64_t pre = r->prefix_shift >= 64 ? 0 : key >> r->prefix_shift;
    int a = 0, b = r->n_pre - 1;
    while (a < b) { /* binary search among the wanted prefixes */
        int m = (a + b) / 2;
        if (r->pre[m] < pre) a = m + 1;
        else b = m;
    }
    if (r->pre[a] == pre) cnt[(size_t)a * MV__RADIX_BINS + ((key >> r->shift) & r->dmask)] += times;
}

static void mv__consume_radix(void *ctx, int64_t super, const void *vals, mv_dtype dt, size_t n, int w)
{
    const mv__radix_ctx *r = (const mv__radix_ctx *)ctx;
    int64_t *cnt = r->counts + (size_t)w * (size_t)r->n_pre * MV__RADIX_BINS;
    size_t i;
    (void)super;
    if (dt == MV_DT_F32) {
        const float *v = (const float *)vals;
        uint32_t kmin = (uint32_t)r->kmin;
        int low = r->low, sh = r->shift, ps = r->prefix_shift;
        uint32_t dm = (uint32_t)r->dmask;
        if (ps >= 32) { /* the first digit: every key counts */
            for (i = 0; i < n; i++)
                if (v[i] == v[i]) cnt[((mv__key32(v[i]) - kmin) >> low >> sh) & dm]++;
        } else if (r->n_pre <= 2) { /* the usual case: one or two prefixes */
            uint32_t p0 = (uint32_t)r->pre[0], p1 = (uint32_t)r->pre[r->n_pre - 1];
            int64_t *c1 = cnt + (size_t)(r->n_pre - 1) * MV__RADIX_BINS;
            for (i = 0; i < n; i++) {
                uint32_t k = (mv__key32(v[i]) - kmin) >> low, pre = k >> ps;
                if (v[i] != v[i]) continue;
                if (pre == p0) cnt[(k >> sh) & dm]++;
                else if (pre == p1) c1[(k >> sh) & dm]++;
            }
        } else {
            for (i = 0; i < n; i++)
                if (v[i] == v[i]) mv__radix_add(r, cnt, ((uint64_t)mv__key32(v[i]) - r->kmin) >> low, 1);
        }
    } else {
        const double *v = (const double *)vals;
        for (i = 0; i < n; i++)
            if (v[i] == v[i]) mv__radix_add(r, cnt, mv__rkey(r, v[i]), 1);
    }
}

static void mv__radix_prefixes(mv__radix_ctx *rc, const uint64_t *pre_of, int n_rank)
{
    int i, j, k;
    rc->n_pre = 0;
    for (i = 0; i < n_rank; i++) {
        int dup = 0;
        for (k = 0; k < rc->n_pre; k++) dup |= rc->pre[k] == pre_of[i];
        if (!dup) rc->pre[rc->n_pre++] = pre_of[i];
    }
    for (i = 1; i < rc->n_pre; i++) { /* insertion sort: a handful */
        uint64_t v = rc->pre[i];
        j = i - 1;
        while (j >= 0 && rc->pre[j] > v) {
            rc->pre[j + 1] = rc->pre[j];
            j--;
        }
        rc->pre[j + 1] = v;
    }
}

/* One digit pass: counts per wanted prefix, summed over the workers and
   the constants, into *tot (the caller frees it with mv__free). */
static mv_status mv__radix_pass(const mv__provider *p, const mv__const_vals *cv, mv__radix_ctx *rc, int nthr,
                                void *alloc_ctx, int64_t **tot)
{
    size_t per_worker = (size_t)rc->n_pre * MV__RADIX_BINS, j;
    int w, i;
    rc->counts = (int64_t *)mv__alloc_zero((size_t)nthr * per_worker * sizeof(int64_t), alloc_ctx);
    MV__CHECK(rc->counts != NULL, MV_ERR_OUT_OF_MEMORY, "percentiles: %d digit tables of 512 KiB", rc->n_pre * nthr);
    mv__provider_run(p, mv__consume_radix, rc, nthr);
    for (w = 1; w < nthr; w++)
        for (j = 0; j < per_worker; j++) rc->counts[j] += rc->counts[(size_t)w * per_worker + j];
    for (i = 0; cv && i < cv->n; i++)
        if (cv->cnt[i] > 0 && cv->v[i] == cv->v[i]) mv__radix_add(rc, rc->counts, mv__rkey(rc, cv->v[i]), cv->cnt[i]);
    *tot = rc->counts;
    rc->counts = NULL;
    return MV_OK;
}

/* The first pass: how many values, and where their keys lie. */
static mv_status mv__radix_scan(const mv__provider *p, const mv__const_vals *cv, mv__radix_ctx *rc, int nthr,
                                void *alloc_ctx, int64_t *n, int *bits)
{
    mv__scan_ctx *sc = (mv__scan_ctx *)mv__alloc_zero(sizeof(mv__scan_ctx), alloc_ctx);
    uint64_t kmin = UINT64_MAX, kmax = 0, diff = 0, ref = 0;
    int w, i, have = 0;
    MV__CHECK(sc != NULL, MV_ERR_OUT_OF_MEMORY, "percentiles: %u bytes", (unsigned)sizeof(mv__scan_ctx));
    mv__provider_run(p, mv__consume_scan, sc, nthr);
    for (i = 0; cv && i < cv->n; i++)
        if (cv->cnt[i] > 0 && cv->v[i] == cv->v[i])
            mv__scan_add(sc, 0, rc->f32 ? mv__key32((float)cv->v[i]) : mv__key64(cv->v[i]), cv->cnt[i]);
    *n = 0;
    for (w = 0; w < MV__MAX_THREADS; w++) {
        if (!sc->n[w]) continue;
        if (!have) ref = sc->ref[w];
        have = 1;
        *n += sc->n[w];
        kmin = sc->kmin[w] < kmin ? sc->kmin[w] : kmin;
        kmax = sc->kmax[w] > kmax ? sc->kmax[w] : kmax;
        diff |= sc->diff[w] | (sc->ref[w] ^ ref);
    }
    mv__free(sc, alloc_ctx);
    if (!have) kmin = kmax = 0;
    rc->kmin = kmin;
    rc->low = diff ? mv__ctz64(diff) : 0;
    *bits = mv__bitlen((kmax - kmin) >> rc->low);
    return MV_OK;
}

/* Percentiles q[0..nq) (numpy 'linear') of the provider's values (float32
   when p->want is MV__WANT_F32, else float64) plus the constants, NaN left
   out; *count = how many values there are. f32_diff: interpolate as numpy
   does for a float32 array (the difference of the two neighbours in
   float32). allocates: 512 KiB digit tables per followed prefix per thread. */
static mv_status mv__percentiles_of(const mv__provider *p, const mv__const_vals *cv, const double *q, int nq,
                                    int f32_diff, double *out, int64_t *count, int threads, void *alloc_ctx)
{
    mv__radix_ctx rc;
    int nthr = mv__resolve_threads(threads), i, b, bits = 0, top;
    int64_t n = 0, *tot = NULL;
    memset(&rc, 0, sizeof(rc));
    rc.f32 = p->want == MV__WANT_F32;
    MV__TRY(mv__radix_scan(p, cv, &rc, nthr, alloc_ctx, &n, &bits));
    *count = n;
    for (b = 0; b < nq; b += 32) { /* 32 percentiles = 64 ranks per batch */
        int m = MV__MIN(32, nq - b), nr = 2 * m;
        int64_t rk[64];
        uint64_t pre_of[64];
        double g[32];
        if (n == 0) {
            for (i = 0; i < m; i++) out[b + i] = (double)NAN;
            continue;
        }
        for (i = 0; i < m; i++) mv__percentile_ranks(q[b + i], n, &rk[2 * i], &rk[2 * i + 1], &g[i]);
        for (i = 0; i < nr; i++) pre_of[i] = 0;
        for (top = bits; top > 0; top -= MV__RADIX_BITS) {
            int dbits = MV__MIN(MV__RADIX_BITS, top);
            rc.shift = top - dbits;
            rc.prefix_shift = top == bits ? 64 : top;
            rc.dmask = ((uint64_t)1 << dbits) - 1;
            mv__radix_prefixes(&rc, pre_of, nr);
            MV__TRY(mv__radix_pass(p, cv, &rc, nthr, alloc_ctx, &tot));
            for (i = 0; i < nr; i++) { /* each rank goes down into its digit */
                const int64_t *h;
                int k = 0;
                uint64_t dgt = 0;
                while (k < rc.n_pre - 1 && rc.pre[k] != pre_of[i]) k++;
                h = tot + (size_t)k * MV__RADIX_BINS;
                while (dgt < rc.dmask && rk[i] >= h[dgt]) rk[i] -= h[dgt++];
                pre_of[i] = (pre_of[i] << dbits) | dgt;
            }
            mv__free(tot, alloc_ctx);
        }
        for (i = 0; i < m; i++) {
            uint64_t k0 = rc.kmin + (pre_of[2 * i] << rc.low), k1 = rc.kmin + (pre_of[2 * i + 1] << rc.low);
            double lo = rc.f32 ? (double)mv__value_of_key32((uint32_t)k0) : mv__value_of_key64(k0);
            double hi = rc.f32 ? (double)mv__value_of_key32((uint32_t)k1) : mv__value_of_key64(k1);
            out[b + i] = mv__lerp_numpy(lo, hi, g[i], f32_diff);
        }
    }
    return MV_OK;
}

/* ---- the plan ---- */

/* Output voxel -> source voxel, axis by axis: the source coordinate along
   axis[a] is off[a] + sign[a] * o[a]. */
typedef struct mv__map {
    int axis[MV_MAX_DIMS];
    int sign[MV_MAX_DIMS];
    int64_t off[MV_MAX_DIMS];
} mv__map;

/* A box of the first three axes, [lo, hi). */
typedef struct mv__box3 {
    int64_t lo[3], hi[3];
} mv__box3;

typedef struct mv__plan {
    int ndim;
    int64_t dim[MV_MAX_DIMS];   /* the grid so far (at the end: the output's) */
    mv__map map;                /* grid -> source */
    int n_dom;                  /* dom[0]: the source; dom[k]: what pad k made */
    mv__box3 dom[MV__MAX_STAGES];
    double fill[MV__MAX_STAGES];    /* pad value as given (stored units before any intensity step) */
    float fill_f[MV__MAX_STAGES];   /* as a float32 value where it enters */
    int fill_eop[MV__MAX_STAGES];   /* the first step it goes through */
    int fill_units[MV__MAX_STAGES]; /* 0 stored source units, 1 a pending cast's dtype, 2 float32 */
    int n_eop;
    mv__eop eop[MV__MAX_EOPS];
    int values;                 /* intensities change: the float32 path */
    mv_dtype out_dt;            /* values: float32 or the last cast's */
    mv_round rounding;
    mv__box3 used;              /* source region some pass reads (for crop-first loads) */
    int used_any;
} mv__plan;

static void mv__plan_init(mv__plan *pl, const mv__vsrc *s)
{
    int a;
    memset(pl, 0, sizeof(*pl));
    pl->ndim = s->ndim;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        pl->dim[a] = s->full[a];
        pl->map.axis[a] = a;
        pl->map.sign[a] = 1;
    }
    pl->n_dom = 1;
    for (a = 0; a < 3; a++) pl->dom[0].hi[a] = s->full[a];
    pl->out_dt = s->dt;
}

/* A spatial step: new axis a reads current axis ax[a] at of[a] + sg[a] * n. */
typedef struct mv__step {
    int64_t dim[MV_MAX_DIMS];
    int ax[MV_MAX_DIMS], sg[MV_MAX_DIMS];
    int64_t of[MV_MAX_DIMS];
} mv__step;

static void mv__step_identity(mv__step *t, const mv__plan *pl)
{
    int a;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        t->dim[a] = pl->dim[a];
        t->ax[a] = a;
        t->sg[a] = 1;
        t->of[a] = 0;
    }
}

static void mv__plan_apply_step(mv__plan *pl, const mv__step *t)
{
    mv__map m;
    int a, k;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int b = t->ax[a];
        m.axis[a] = pl->map.axis[b];
        m.sign[a] = pl->map.sign[b] * t->sg[a];
        m.off[a] = pl->map.off[b] + pl->map.sign[b] * t->of[a];
    }
    for (k = 0; k < pl->n_dom; k++) { /* the stage boxes move with the grid */
        mv__box3 nb;
        for (a = 0; a < 3; a++) {
            int b = t->ax[a];
            int64_t lo = pl->dom[k].lo[b], hi = pl->dom[k].hi[b];
            MEDVOL_ASSERT(b < 3);
            if (t->sg[a] > 0) {
                nb.lo[a] = lo - t->of[a];
                nb.hi[a] = hi - t->of[a];
            } else {
                nb.lo[a] = t->of[a] - hi + 1;
                nb.hi[a] = t->of[a] - lo + 1;
            }
            /* voxels a crop removed are gone, even if a later pad puts
               new ones where they were: every stage ends at the grid */
            nb.lo[a] = MV__MAX(nb.lo[a], 0);
            nb.hi[a] = MV__MAX(MV__MIN(nb.hi[a], t->dim[a]), nb.lo[a]);
        }
        pl->dom[k] = nb;
    }
    pl->map = m;
    for (a = 0; a < MV_MAX_DIMS; a++) pl->dim[a] = t->dim[a];
    /* missing axes (>>api-spatial): a 1D/2D grid that gets a size other
       than 1 on one of the first three axes becomes 3D */
    for (a = pl->ndim; a < 3; a++)
        if (pl->dim[a] != 1) pl->ndim = 3;
}

/* The affine of the grid: the source affine times the voxel map, with the
   translation summed in axis order as numpy's matrix product does. */
static void mv__plan_affine(const mv__map *m, const double src[4][4], double out[4][4])
{
    int r, a;
    for (r = 0; r < 4; r++) {
        double t[3] = {0, 0, 0}, acc;
        for (a = 0; a < 3; a++) {
            out[r][a] = m->sign[a] * src[r][m->axis[a]];
            t[m->axis[a]] = (double)m->off[a];
        }
        acc = src[r][0] * t[0];
        acc += src[r][1] * t[1];
        acc += src[r][2] * t[2];
        out[r][3] = acc + src[r][3];
    }
}

static int64_t mv__box3_count(const mv__box3 *b, const int64_t *dim)
{
    int64_t n = 1;
    int a;
    for (a = 0; a < 3; a++) {
        int64_t lo = MV__MAX(b->lo[a], 0), hi = MV__MIN(b->hi[a], dim[a]);
        if (hi <= lo) return 0;
        n *= hi - lo;
    }
    return n;
}

/* The source box (full coordinates, every axis) that the grid's voxels
   inside dom[0] read; returns 0 if there are none. */
static int mv__plan_source_box(const mv__plan *pl, int64_t *lo, int64_t *hi)
{
    int a;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int64_t cl = a < 3 ? MV__MAX(pl->dom[0].lo[a], 0) : 0, ch = a < 3 ? MV__MIN(pl->dom[0].hi[a], pl->dim[a]) : pl->dim[a];
        int s = pl->map.axis[a];
        if (ch <= cl) return 0;
        if (pl->map.sign[a] > 0) {
            lo[s] = pl->map.off[a] + cl;
            hi[s] = pl->map.off[a] + ch;
        } else {
            lo[s] = pl->map.off[a] - ch + 1;
            hi[s] = pl->map.off[a] - cl + 1;
        }
    }
    return 1;
}

static void mv__plan_mark_used(mv__plan *pl)
{
    int64_t lo[MV_MAX_DIMS], hi[MV_MAX_DIMS];
    int a;
    if (!mv__plan_source_box(pl, lo, hi)) return;
    for (a = 0; a < 3; a++) {
        if (!pl->used_any || lo[a] < pl->used.lo[a]) pl->used.lo[a] = lo[a];
        if (!pl->used_any || hi[a] > pl->used.hi[a]) pl->used.hi[a] = hi[a];
    }
    pl->used_any = 1;
}

/* The padded voxels of the current grid as constants: for each pad stage,
   how many voxels it made that are still there, and their value now. */
static void mv__plan_fill_consts(const mv__plan *pl, mv__const_vals *cv)
{
    int64_t frames = 1, prev;
    int k, a;
    for (a = 3; a < MV_MAX_DIMS; a++) frames *= pl->dim[a];
    cv->n = 0;
    prev = mv__box3_count(&pl->dom[0], pl->dim);
    for (k = 1; k < pl->n_dom; k++) {
        int64_t now = mv__box3_count(&pl->dom[k], pl->dim);
        cv->v[cv->n] = mv__eops_one(pl->eop + pl->fill_eop[k], pl->n_eop - pl->fill_eop[k], pl->fill_f[k]);
        cv->cnt[cv->n] = (now - prev) * frames;
        cv->n++;
        prev = now;
    }
}

/* What a statistics step sees: a provider over the source part of the
   current grid, with the steps so far. */
static int mv__plan_provider(const mv__plan *pl, const mv__vsrc *s, mv__provider *p, int want, int nonzero,
                             const mv_vol *mask)
{
    memset(p, 0, sizeof(*p));
    p->src = s;
    p->eop = pl->eop;
    p->n_eop = pl->n_eop;
    p->want = want;
    p->nonzero = nonzero;
    p->mask = mask;
    if (!mv__plan_source_box(pl, p->lo, p->hi)) {
        int a;
        for (a = 0; a < MV_MAX_DIMS; a++) p->lo[a] = p->hi[a] = 0;
    }
    mv__provider_setup(p);
    return 1;
}

static mv_status mv__plan_push_eop(mv__plan *pl, const mv__eop *e)
{
    MV__CHECK(pl->n_eop < MV__MAX_EOPS, MV_ERR_INVALID_ARG, "a chain takes at most %d intensity steps", MV__MAX_EOPS);
    pl->eop[pl->n_eop++] = *e;
    return MV_OK;
}

/* Starts the float32 path (a value step comes): a pending cast becomes a
   rounding step. */
static mv_status mv__plan_begin_values(mv__plan *pl)
{
    if (pl->values && pl->out_dt != MV_DT_F32) {
        mv__eop e;
        memset(&e, 0, sizeof(e));
        e.kind = MV__E_ROUND;
        e.dtype = pl->out_dt;
        e.rounding = pl->rounding;
        MV__TRY(mv__plan_push_eop(pl, &e));
    }
    pl->values = 1;
    pl->out_dt = MV_DT_F32;
    return MV_OK;
}

/* The fill value as a float32 where it enters the chain, and the units it
   is given in: stored source units before any intensity step (scaled like
   every stored voxel), the pending cast's dtype, or float32. */
static float mv__plan_fill_value(const mv__plan *pl, const mv__vsrc *s, double fill)
{
    unsigned char b[32];
    float f;
    if (!pl->values) {
        mv__put_f64(s->dt, b, fill, MV_ROUND_NEAREST);
        mv__convert_real_run(b, s->dt, &f, MV_DT_F32, 1, s->scaled, s->slope, s->inter, MV_ROUND_NEAREST);
        return f;
    }
    if (pl->out_dt != MV_DT_F32) {
        mv__put_f64(pl->out_dt, b, fill, pl->rounding);
        mv__convert_real_run(b, pl->out_dt, &f, MV_DT_F32, 1, 0, 1.0, 0.0, MV_ROUND_NEAREST);
        return f;
    }
    return (float)fill;
}

/* crop and/or pad to the box [start, start + size) of the current grid */
static mv_status mv__plan_box(mv__plan *pl, const mv__vsrc *s, const int64_t *start, const int64_t *size, double fill)
{
    mv__step t;
    int a, pads = 0;
    mv__step_identity(&t, pl);
    for (a = 0; a < 3; a++) {
        MV__CHECK(size[a] >= 1 && size[a] <= ((int64_t)1 << 40), MV_ERR_INVALID_ARG, "box size[%d] = %lld", a,
                  (long long)size[a]);
        MV__CHECK(start[a] > -((int64_t)1 << 40) && start[a] < ((int64_t)1 << 40), MV_ERR_INVALID_ARG,
                  "box start[%d] = %lld", a, (long long)start[a]);
        t.dim[a] = size[a];
        t.of[a] = start[a];
        pads |= start[a] < 0 || start[a] + size[a] > pl->dim[a];
    }
    if (pads) {
        MV__CHECK(pl->n_dom < MV__MAX_STAGES, MV_ERR_INVALID_ARG, "a chain takes at most %d pads", MV__MAX_STAGES - 1);
        /* the padded grid is the new stage: in current coordinates it is the box itself */
        for (a = 0; a < 3; a++) {
            pl->dom[pl->n_dom].lo[a] = start[a];
            pl->dom[pl->n_dom].hi[a] = start[a] + size[a];
        }
        pl->fill[pl->n_dom] = fill;
        pl->fill_f[pl->n_dom] = mv__plan_fill_value(pl, s, fill);
        pl->fill_eop[pl->n_dom] = pl->n_eop;
        pl->fill_units[pl->n_dom] = !pl->values ? 0 : pl->out_dt != MV_DT_F32 ? 1 : 2;
        pl->n_dom++;
    }
    mv__plan_apply_step(pl, &t);
    return MV_OK;
}

static mv_status mv__plan_flip(mv__plan *pl, unsigned axes)
{
    mv__step t;
    int a, n = MV__MAX(pl->ndim, 3); /* missing axes have size 1: flipping one is allowed */
    MV__CHECK(axes < (1u << n), MV_ERR_INVALID_ARG, "flip axes mask 0x%x names an axis >= %d (ndim %d)", axes, n,
              pl->ndim);
    mv__step_identity(&t, pl);
    for (a = 0; a < n; a++)
        if (axes & (1u << a)) {
            t.sg[a] = -1;
            t.of[a] = pl->dim[a] - 1;
        }
    mv__plan_apply_step(pl, &t);
    return MV_OK;
}

static mv_status mv__plan_permute(mv__plan *pl, const int *perm)
{
    mv__step t;
    int a, seen = 0;
    mv__step_identity(&t, pl);
    for (a = 0; a < 3; a++) {
        MV__CHECK(perm[a] >= 0 && perm[a] < 3 && !(seen & (1 << perm[a])), MV_ERR_INVALID_ARG,
                  "permutation (%d, %d, %d) is not one of the axes 0, 1, 2", perm[0], perm[1], perm[2]);
        seen |= 1 << perm[a];
        t.ax[a] = perm[a];
        t.dim[a] = pl->dim[perm[a]];
    }
    mv__plan_apply_step(pl, &t);
    return MV_OK;
}

/* world axis and direction of an orientation letter */
static int mv__code_axis(char c, int *sign)
{
    switch (c) {
    case 'R': case 'r': *sign = 1; return 0;
    case 'L': case 'l': *sign = -1; return 0;
    case 'A': case 'a': *sign = 1; return 1;
    case 'P': case 'p': *sign = -1; return 1;
    case 'S': case 's': *sign = 1; return 2;
    case 'I': case 'i': *sign = -1; return 2;
    default: *sign = 0; return -1;
    }
}

static mv_status mv__plan_reorient(mv__plan *pl, const mv_vol *geom_src, const char *code)
{
    mv_vol g;
    int wa[3], sg[3], want_axis[3], want_sign[3], seen = 0, a, perm[3];
    unsigned flips = 0;
    MV__CHECK(code != NULL && strlen(code) == 3, MV_ERR_INVALID_ARG, "orientation code must be 3 letters (\"RAS\")");
    for (a = 0; a < 3; a++) {
        want_axis[a] = mv__code_axis(code[a], &want_sign[a]);
        MV__CHECK(want_axis[a] >= 0 && !(seen & (1 << want_axis[a])), MV_ERR_INVALID_ARG,
                  "orientation code \"%s\": one of R/L, A/P, S/I each", code);
        seen |= 1 << want_axis[a];
    }
    /* the orientation of the grid as it is now */
    mv_vol_init(&g);
    g.ndim = 3;
    mv__plan_affine(&pl->map, geom_src->affine, g.affine);
    MV__TRY(mv_io_orientation(&g, wa, sg));
    for (a = 0; a < 3; a++)
        MV__CHECK(wa[a] >= 0, MV_ERR_UNSUPPORTED, "reorient: voxel axis %d has no direction (zero affine column)", a);
    /* output axis j runs along world axis want_axis[j]: the grid axis i with wa[i] == it */
    for (a = 0; a < 3; a++) {
        int i;
        for (i = 0; i < 3 && wa[i] != want_axis[a]; i++) {
        }
        perm[a] = i;
        if (sg[i] != want_sign[a]) flips |= 1u << a;
    }
    MV__TRY(mv__plan_permute(pl, perm));
    return flips ? mv__plan_flip(pl, flips) : MV_OK;
}

static mv_status mv__plan_rot90(mv__plan *pl, int k, int a0, int a1)
{
    int perm[3] = {0, 1, 2};
    MV__CHECK(a0 >= 0 && a0 < 3 && a1 >= 0 && a1 < 3 && a0 != a1, MV_ERR_INVALID_ARG,
              "rot90 axes (%d, %d): two different axes of 0, 1, 2", a0, a1);
    k = ((k % 4) + 4) % 4;
    perm[a0] = a1;
    perm[a1] = a0;
    /* numpy.rot90: k = 1 flips axis1 then swaps; 2 flips both; 3 swaps then flips axis1 */
    if (k == 1) {
        MV__TRY(mv__plan_flip(pl, 1u << a1));
        return mv__plan_permute(pl, perm);
    }
    if (k == 2) return mv__plan_flip(pl, (1u << a0) | (1u << a1));
    if (k == 3) {
        MV__TRY(mv__plan_permute(pl, perm));
        return mv__plan_flip(pl, 1u << a1);
    }
    return MV_OK;
}

/* Extra inputs of the one-operation forms (mask, known statistics). */
typedef struct mv__run_opts {
    const mv_vol *mask;
    const mv_stats *stats;
    int threads;
    void *alloc_ctx;
    int geometry_only;      /* compile without statistics passes */
    int chain;              /* a chain of the caller's (errors name the step) */
} mv__run_opts;

/* mean / std of the current grid's values (as the step sees them) */
static mv_status mv__plan_moments(mv__plan *pl, const mv__vsrc *s, int nonzero, const mv__run_opts *ro, mv__moments *m)
{
    mv__provider p;
    mv__const_vals cv;
    int k;
    /* before any step, values float32 cannot hold are taken in float64 */
    mv__plan_provider(pl, s, &p, pl->n_eop == 0 && !mv__vsrc_values_f32(s) ? MV__WANT_F64 : MV__WANT_ANY, nonzero, ro->mask);
    mv__provider_moments(&p, ro->threads, m);
    mv__plan_fill_consts(pl, &cv);
    for (k = 0; k < cv.n; k++)
        if (!(nonzero && cv.v[k] == 0)) mv__moments_add_const(m, cv.v[k], cv.cnt[k]);
    return MV_OK;
}

static mv_status mv__plan_znorm(mv__plan *pl, const mv__vsrc *s, int nonzero, const mv__run_opts *ro)
{
    mv__eop e;
    double mean = 0, sd = 0;
    MV__TRY(mv__plan_begin_values(pl));
    mv__plan_mark_used(pl);
    if (ro->geometry_only) return MV_OK;
    if (ro->stats && !nonzero && !ro->mask) {
        mean = ro->stats->mean;
        sd = ro->stats->std;
    } else {
        mv__moments m;
        MV__TRY(mv__plan_moments(pl, s, nonzero, ro, &m));
        if (m.n > 0) {
            mean = m.mean;
            sd = sqrt(m.m2 / (double)m.n);
        }
    }
    memset(&e, 0, sizeof(e));
    e.kind = MV__E_AFFINE;
    e.c = isfinite(mean) ? mean : 0;
    e.s = sd > 0 && isfinite(sd) ? 1.0 / sd : 0.0; /* std 0 (or no voxel): zeros */
    e.o = 0;
    e.nonzero = nonzero;
    return mv__plan_push_eop(pl, &e);
}

/* min and max, or two percentiles, of the current grid's values */
static mv_status mv__plan_range(mv__plan *pl, const mv__vsrc *s, const mv_op *op, const mv__run_opts *ro, double *mn,
                                double *mx)
{
    if (op->pct_lo == 0 && op->pct_hi == 0) {
        mv__moments m;
        if (ro->stats && !op->nonzero && !ro->mask) {
            *mn = ro->stats->min;
            *mx = ro->stats->max;
            return MV_OK;
        }
        MV__TRY(mv__plan_moments(pl, s, op->nonzero, ro, &m));
        *mn = m.n ? m.mn : 0;
        *mx = m.n ? m.mx : 0;
        return MV_OK;
    } else {
        mv__provider p;
        mv__const_vals cv, kept;
        double q[2], v[2];
        int64_t count;
        int k;
        mv__plan_provider(pl, s, &p, MV__WANT_F32, op->nonzero, ro->mask);
        mv__plan_fill_consts(pl, &cv);
        kept.n = 0;
        for (k = 0; k < cv.n; k++)
            if (!(op->nonzero && cv.v[k] == 0)) {
                kept.v[kept.n] = cv.v[k];
                kept.cnt[kept.n++] = cv.cnt[k];
            }
        q[0] = op->pct_lo;
        q[1] = op->pct_hi;
        MV__TRY(mv__percentiles_of(&p, &kept, q, 2, 1, v, &count, ro->threads, ro->alloc_ctx));
        *mn = count ? v[0] : 0;
        *mx = count ? v[1] : 0;
        return MV_OK;
    }
}

static mv_status mv__plan_rescale(mv__plan *pl, const mv__vsrc *s, const mv_op *op, const mv__run_opts *ro)
{
    mv__eop e;
    double mn = 0, mx = 0, lo = op->lo, hi = op->hi, span;
    if (lo == 0 && hi == 0) hi = 1;
    MV__CHECK(isfinite(lo) && isfinite(hi), MV_ERR_INVALID_ARG, "rescale range [%g, %g] is not finite", lo, hi);
    MV__CHECK(op->pct_lo >= 0 && op->pct_hi <= 100 && op->pct_lo <= op->pct_hi, MV_ERR_INVALID_ARG,
              "rescale percentiles %g, %g (0 <= lo <= hi <= 100)", op->pct_lo, op->pct_hi);
    MV__TRY(mv__plan_begin_values(pl));
    mv__plan_mark_used(pl);
    if (!ro->geometry_only) MV__TRY(mv__plan_range(pl, s, op, ro, &mn, &mx));
    span = mx - mn;
    memset(&e, 0, sizeof(e));
    e.kind = MV__E_AFFINE;
    e.c = isfinite(mn) ? mn : 0;
    e.s = span > 0 && isfinite(span) ? (hi - lo) / span : 0.0; /* constant input: lo */
    e.o = lo;
    e.nonzero = op->nonzero;
    MV__TRY(mv__plan_push_eop(pl, &e));
    if (op->clip) {
        memset(&e, 0, sizeof(e));
        e.kind = MV__E_CLAMP;
        e.lo = (float)MV__MIN(lo, hi);
        e.hi = (float)MV__MAX(lo, hi);
        MV__TRY(mv__plan_push_eop(pl, &e));
    }
    return MV_OK;
}

static mv_status mv__plan_clamp(mv__plan *pl, double lo, double hi)
{
    mv__eop e;
    MV__CHECK(lo <= hi, MV_ERR_INVALID_ARG, "clamp range [%g, %g]: lo > hi or NaN", lo, hi);
    MV__TRY(mv__plan_begin_values(pl));
    memset(&e, 0, sizeof(e));
    e.kind = MV__E_CLAMP;
    e.lo = (float)lo;
    e.hi = (float)hi;
    return mv__plan_push_eop(pl, &e);
}

static mv_status mv__plan_cast(mv__plan *pl, mv_dtype dt, mv_round rounding)
{
    MV__CHECK(mv__dtype_ok(dt) && mv__dt[dt].kind != MV__K_COMPLEX && mv__dt[dt].kind != MV__K_RGB, MV_ERR_INVALID_ARG,
              "output dtype %s is not supported (real dtypes only)", mv__dtype_ok(dt) ? mv__dt[dt].name : "(invalid)");
    MV__CHECK(rounding == MV_ROUND_NEAREST || rounding == MV_ROUND_TRUNCATE, MV_ERR_INVALID_ARG, "cast: rounding %d",
              (int)rounding);
    if (pl->values && pl->out_dt != MV_DT_F32) MV__TRY(mv__plan_begin_values(pl)); /* the pending cast happens first */
    pl->values = 1;
    pl->out_dt = dt;
    pl->rounding = rounding;
    return MV_OK;
}

static mv_status mv__plan_op(mv__plan *pl, const mv__vsrc *s, const mv_vol *geom, const mv_op *op, const mv__run_opts *ro)
{
    int64_t start[3], size[3];
    int a;
    switch (op->kind) {
    case MV_OP_CROP_OR_PAD:
        for (a = 0; a < 3; a++) {
            int64_t in = pl->dim[a], out = op->shape[a] ? op->shape[a] : in;
            MV__CHECK(out >= 1 && out <= ((int64_t)1 << 40), MV_ERR_INVALID_ARG, "crop_or_pad shape[%d] = %lld", a,
                      (long long)op->shape[a]);
            start[a] = out <= in ? in / 2 - out / 2 : -((out - in) / 2);
            size[a] = out;
        }
        return mv__plan_box(pl, s, start, size, op->fill);
    case MV_OP_BOX: return mv__plan_box(pl, s, op->start, op->shape, op->fill);
    case MV_OP_FLIP: return mv__plan_flip(pl, op->axes);
    case MV_OP_PERMUTE: return mv__plan_permute(pl, op->perm);
    case MV_OP_REORIENT: return mv__plan_reorient(pl, geom, op->code);
    case MV_OP_ROT90: return mv__plan_rot90(pl, op->k, op->perm[0], op->perm[1]);
    case MV_OP_ZNORM: return mv__plan_znorm(pl, s, op->nonzero, ro);
    case MV_OP_RESCALE: return mv__plan_rescale(pl, s, op, ro);
    case MV_OP_CLAMP: return mv__plan_clamp(pl, op->lo, op->hi);
    case MV_OP_CAST: return mv__plan_cast(pl, op->dtype, op->rounding);
    default: return mv__fail(MV_ERR_INVALID_ARG, "operation kind %d", (int)op->kind);
    }
}

/* ---- the write pass ---- */

typedef struct mv__write_job {
    const mv__plan *pl;
    const mv__vsrc *s;
    const mv__kernels *kt;
    unsigned char *out;
    mv_dtype odt;
    size_t oesz;
    int64_t ostride[MV_MAX_DIMS];
    unsigned char fill_bytes[MV__MAX_STAGES][16]; /* each stage's voxels as written */
    int fill_zero[MV__MAX_STAGES];
    int64_t sx;                  /* source elements per output x step */
    int64_t step[MV_MAX_DIMS];   /* source elements per output step, each axis */
    int64_t p0;                  /* source element of output voxel 0 (may lie outside) */
    /* work units: tq rows along axis q at once, x in tiles of xt, so a
       transposing read (x along a far source axis) reuses the source lines
       of a tile from L1; q = 0 and tq = 1 for row by row */
    int q;
    int64_t tq, xt;
    int64_t udim[MV_MAX_DIMS];   /* units per axis (axis 0: 1; axis q: blocks) */
    int rows_down;               /* consecutive rows read at falling addresses */
    int mrg;                     /* axes [0, mrg) are contiguous in source and output
                                    and fully copied: one "row" spans them all */
    int64_t mrg_len;             /* elements of such a row */
} mv__write_job;

/* n copies of one element of esz bytes */
static void mv__fill_elems(unsigned char *dst, const unsigned char *val, int is_zero, size_t esz, size_t n)
{
    size_t done;
    if (n == 0) return;
    if (is_zero) {
        memset(dst, 0, n * esz);
        return;
    }
    if (esz == 4) {
        uint32_t v, *d = (uint32_t *)(void *)dst;
        size_t i;
        memcpy(&v, val, 4);
        if (((uintptr_t)dst & 3) == 0) {
            for (i = 0; i < n; i++) d[i] = v;
            return;
        }
    }
    memcpy(dst, val, esz); /* doubling copies */
    for (done = 1; done < n;) {
        size_t k = MV__MIN(done, n - done);
        memcpy(dst + done * esz, dst, k * esz);
        done += k;
    }
}

/* n source elements starting at element p, step sx, into dst (contiguous).
   rows_down: the rows around this one are read at falling addresses. */
static void mv__gather(const mv__kernels *kt, const unsigned char *base, int64_t p, int64_t sx, size_t esz, size_t n,
                       unsigned char *dst, int rows_down)
{
    size_t i;
    if (sx == 1) {
        kt->copy(dst, base + (size_t)p * esz, n * esz);
        return;
    }
    if (sx == -1) {
        const unsigned char *first = base + (size_t)(p - (int64_t)n + 1) * esz;
        if (esz <= 8 && kt->reverse[esz] && rows_down) {
            kt->reverse[esz](first, dst, n); /* read downwards, like the rows */
        } else if (esz <= 8 && kt->reverse[esz]) {
            /* through an L1 buffer, so the source is read upwards like the
               rows around it and the destination written upwards: mixed
               directions within a page defeat the hardware prefetchers
               (half the speed) */
            uint64_t buf[512];
            size_t per = sizeof(buf) / esz, done = 0;
            while (done < n) {
                size_t k = MV__MIN(per, n - done);
                kt->copy(buf, first + (n - done - k) * esz, k * esz);
                kt->reverse[esz](buf, dst + done * esz, k);
                done += k;
            }
        } else {
            for (i = 0; i < n; i++) memcpy(dst + i * esz, first + (n - 1 - i) * esz, esz);
        }
        return;
    }
    switch (esz) { /* a transposing read: one element per source line */
    case 1: for (i = 0; i < n; i++) dst[i] = base[p + (int64_t)i * sx]; break;
    case 2: {
        const uint16_t *b = (const uint16_t *)(const void *)base;
        uint16_t *d = (uint16_t *)(void *)dst;
        for (i = 0; i < n; i++) d[i] = b[p + (int64_t)i * sx];
        break;
    }
    case 4: {
        const uint32_t *b = (const uint32_t *)(const void *)base;
        uint32_t *d = (uint32_t *)(void *)dst;
        for (i = 0; i < n; i++) d[i] = b[p + (int64_t)i * sx];
        break;
    }
    case 8: {
        const uint64_t *b = (const uint64_t *)(const void *)base;
        uint64_t *d = (uint64_t *)(void *)dst;
        for (i = 0; i < n; i++) d[i] = b[p + (int64_t)i * sx];
        break;
    }
    default:
        for (i = 0; i < n; i++) memcpy(dst + i * esz, base + (size_t)(p + (int64_t)i * sx) * esz, esz);
    }
}

/* The source segment [x0, x0 + n) of a row, source element p at x0. */
/* k (<= MV__ROW) contiguous raw source elements into the output: converted,
   through the steps, stored in the output dtype. */
static void mv__emit(const mv__write_job *j, const unsigned char *raw, unsigned char *o, size_t k)
{
    const mv__plan *pl = j->pl;
    const mv__vsrc *s = j->s;
    float fb[MV__ROW];
    const float *f;
    if (pl->n_eop == 0) { /* casts only: straight from the stored type, exact */
        mv__convert_real_run(raw, s->dt, o, j->odt, k, s->scaled, s->slope, s->inter, pl->rounding);
        return;
    }
    if (s->exact && pl->eop[0].kind == MV__E_AFFINE) {
        /* integers straight into the first step: one pass, the same bits */
        const mv__eop *e = &pl->eop[0];
        float *t = j->odt == MV_DT_F32 && pl->n_eop == 1 ? (float *)(void *)o : fb;
        j->kt->affine_int[s->dt](raw, t, k, s->scaled ? s->slope : 1.0, s->scaled ? s->inter : 0.0, e->c, e->s, e->o,
                                 e->nonzero);
        if (t == fb) {
            mv__eops_row(j->kt, pl->eop + 1, pl->n_eop - 1, fb, fb, k);
            if (j->odt == MV_DT_F32) memcpy(o, fb, k * sizeof(float));
            else mv__convert_real_run(fb, MV_DT_F32, o, j->odt, k, 0, 1.0, 0.0, pl->rounding);
        }
        return;
    }
    if (!mv__vsrc_values_f32(s) && pl->eop[0].kind == MV__E_AFFINE) {
        /* the first step in float64 from the stored value (see
           mv__vsrc_values_f32): y = ((x * slope + inter) - c) * s + o */
        const mv__eop *e = &pl->eop[0];
        double v64[MV__ROW];
        size_t i;
        mv__convert_real_run(raw, s->dt, v64, MV_DT_F64, k, s->scaled, s->slope, s->inter, MV_ROUND_NEAREST);
        for (i = 0; i < k; i++) fb[i] = e->nonzero && v64[i] == 0 ? (float)v64[i] : (float)((v64[i] - e->c) * e->s + e->o);
        if (j->odt == MV_DT_F32) {
            mv__eops_row(j->kt, pl->eop + 1, pl->n_eop - 1, fb, (float *)(void *)o, k);
        } else {
            mv__eops_row(j->kt, pl->eop + 1, pl->n_eop - 1, fb, fb, k);
            mv__convert_real_run(fb, MV_DT_F32, o, j->odt, k, 0, 1.0, 0.0, pl->rounding);
        }
        return;
    }
    if (s->dt == MV_DT_F32 && !s->scaled) {
        f = (const float *)(const void *)raw;
    } else {
        mv__convert_real_run(raw, s->dt, fb, MV_DT_F32, k, s->scaled, s->slope, s->inter, MV_ROUND_NEAREST);
        f = fb;
    }
    if (j->odt == MV_DT_F32) {
        mv__eops_row(j->kt, pl->eop, pl->n_eop, f, (float *)(void *)o, k);
    } else {
        mv__eops_row(j->kt, pl->eop, pl->n_eop, f, fb, k);
        mv__convert_real_run(fb, MV_DT_F32, o, j->odt, k, 0, 1.0, 0.0, pl->rounding);
    }
}

/* n output voxels from source element p on, stepping sx. */
static void mv__write_source(const mv__write_job *j, int64_t p, unsigned char *dst, size_t n)
{
    const mv__vsrc *s = j->s;
    size_t done;
    if (!j->pl->values) { /* voxels move, bytes stay */
        mv__gather(j->kt, s->base, p, j->sx, s->esz, n, dst, j->rows_down);
        return;
    }
    for (done = 0; done < n; done += MV__ROW) {
        size_t k = MV__MIN((size_t)MV__ROW, n - done);
        int64_t q = p + (int64_t)done * j->sx;
        double stage[MV__ROW * 2]; /* raw elements of up to 16 bytes */
        const unsigned char *raw;
        if (j->sx == 1) {
            raw = s->base + (size_t)q * s->esz;
        } else {
            mv__gather(j->kt, s->base, q, j->sx, s->esz, k, (unsigned char *)stage, j->rows_down);
            raw = (const unsigned char *)stage;
        }
        mv__emit(j, raw, dst + done * j->oesz, k);
    }
}

/* A transposing tile without padding: output x in [x0, x1) reads along a
   far source axis, output rows q0..q1 along source x. Each source line is
   read once, whole, into an L1 tile (lines a power-of-two stride apart
   would fight over the same cache sets if gathered in place), then each
   output row segment is picked from the tile. */
#define MV__TILE_X 64  /* output x per tile */
#define MV__TILE_Q 256 /* source bytes per tile row: four lines */
static void mv__write_tile(const mv__write_job *j, int64_t *o, int64_t x0, int64_t x1, int64_t q0, int64_t q1)
{
    const mv__plan *pl = j->pl;
    const mv__vsrc *s = j->s;
    size_t esz = s->esz, nq = (size_t)(q1 - q0), nx = (size_t)(x1 - x0), i, r;
    int64_t p = j->p0, row = 0, sq = j->step[j->q];
    unsigned char tile[MV__TILE_X * MV__TILE_Q], stage[MV__TILE_X * 16];
    int a;
    o[j->q] = q0;
    for (a = 1; a < pl->ndim; a++) {
        p += o[a] * j->step[a];
        row += o[a] * j->ostride[a];
    }
    /* tile[i] = the nq source elements of output x = x0 + i, in q order */
    for (i = 0; i < nx; i++) {
        int64_t e = p + (x0 + (int64_t)i) * j->sx;
        unsigned char *t = tile + i * nq * esz;
#if defined(__GNUC__) || defined(__clang__)
        /* the next tile's line: a stride no prefetcher follows */
        if (x1 + (int64_t)i < pl->dim[0]) __builtin_prefetch(s->base + (size_t)(e + MV__TILE_X * j->sx) * esz);
#endif
        if (sq == 1 && nq * esz == MV__TILE_Q) memcpy(t, s->base + (size_t)e * esz, MV__TILE_Q); /* inlined */
        else if (sq == 1) memcpy(t, s->base + (size_t)e * esz, nq * esz);
        else mv__gather(j->kt, s->base, e, -1, esz, nq, t, 0);
    }
    for (r = 0; r < nq; r++) {
        unsigned char *out = j->out + (size_t)(row + (int64_t)r * j->ostride[j->q] + x0) * j->oesz;
        unsigned char *dst = pl->values ? stage : out;
        switch (esz) { /* column r of the tile */
        case 1: for (i = 0; i < nx; i++) dst[i] = tile[i * nq + r]; break;
        case 2: for (i = 0; i < nx; i++) memcpy(dst + 2 * i, tile + (i * nq + r) * 2, 2); break;
        case 4: for (i = 0; i < nx; i++) memcpy(dst + 4 * i, tile + (i * nq + r) * 4, 4); break;
        case 8: for (i = 0; i < nx; i++) memcpy(dst + 8 * i, tile + (i * nq + r) * 8, 8); break;
        default: for (i = 0; i < nx; i++) memcpy(dst + esz * i, tile + (i * nq + r) * esz, esz);
        }
        if (pl->values) mv__emit(j, stage, out, nx);
    }
}

/* [xa, xb) of one output row: fill segments of the outer stages around the
   source part. */
static void mv__write_row(const mv__write_job *j, const int64_t *o, int64_t xa, int64_t xb)
{
    const mv__plan *pl = j->pl;
    int64_t L = xa, R = xb, row = 0, p = j->p0;
    int k, a;
    unsigned char *orow;
    for (a = 1; a < pl->ndim; a++) {
        row += o[a] * j->ostride[a];
        p += o[a] * j->step[a];
    }
    orow = j->out + (size_t)row * j->oesz;
    for (k = pl->n_dom - 1; k >= 1; k--) {
        const mv__box3 *d = &pl->dom[k - 1];
        int64_t lo = MV__MAX(d->lo[0], L), hi = MV__MIN(d->hi[0], R);
        int inside = o[1] >= d->lo[1] && o[1] < d->hi[1] && o[2] >= d->lo[2] && o[2] < d->hi[2];
        if (!inside || hi <= lo) {
            mv__fill_elems(orow + (size_t)L * j->oesz, j->fill_bytes[k], j->fill_zero[k], j->oesz, (size_t)(R - L));
            return;
        }
        mv__fill_elems(orow + (size_t)L * j->oesz, j->fill_bytes[k], j->fill_zero[k], j->oesz, (size_t)(lo - L));
        mv__fill_elems(orow + (size_t)hi * j->oesz, j->fill_bytes[k], j->fill_zero[k], j->oesz, (size_t)(R - hi));
        L = lo;
        R = hi;
    }
    if (L < R) mv__write_source(j, p + L * j->sx, orow + (size_t)L * j->oesz, (size_t)(R - L));
}

/* Units [b, e): coordinates from the first unit by division, then by
   counting, so a row costs a few additions. */
static void mv__write_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__write_job *j = (const mv__write_job *)ctx;
    const mv__plan *pl = j->pl;
    int64_t u[MV_MAX_DIMS], o[MV_MAX_DIMS], t = b, r, x0;
    int a;
    (void)worker;
    if (j->mrg > 1) { /* whole planes (or volumes) per row: no padding, no reordering */
        int64_t row = b, p;
        for (; row < e; row++) {
            int64_t t2 = row, off = 0;
            p = j->p0;
            for (a = j->mrg; a < pl->ndim; a++) {
                int64_t c = t2 % pl->dim[a];
                t2 /= pl->dim[a];
                p += c * j->step[a];
                off += c * j->ostride[a];
            }
            mv__write_source(j, p, j->out + (size_t)off * j->oesz, (size_t)j->mrg_len);
        }
        return;
    }
    u[0] = 0;
    for (a = 1; a < MV_MAX_DIMS; a++) { /* axes past ndim have one unit: 0 */
        u[a] = t % j->udim[a];
        t /= j->udim[a];
    }
    for (a = 0; a < MV_MAX_DIMS; a++) o[a] = u[a];
    for (; b < e; b++) {
        for (a = 1; a < pl->ndim; a++) o[a] = u[a];
        if (j->q == 0) {
            mv__write_row(j, o, 0, pl->dim[0]);
        } else {
            int64_t q0 = u[j->q] * j->tq, q1 = MV__MIN(q0 + j->tq, pl->dim[j->q]);
            for (x0 = 0; x0 < pl->dim[0]; x0 += j->xt) {
                int64_t x1 = MV__MIN(x0 + j->xt, pl->dim[0]);
                if (pl->n_dom == 1) {
                    mv__write_tile(j, o, x0, x1, q0, q1);
                    continue;
                }
                for (r = q0; r < q1; r++) { /* with padding: row by row */
                    o[j->q] = r;
                    mv__write_row(j, o, x0, x1);
                }
            }
        }
        for (a = 1; a < pl->ndim; a++) { /* next unit */
            if (++u[a] < j->udim[a]) break;
            u[a] = 0;
        }
    }
}

/* The bytes a stage's padded voxels get in the output. */
static void mv__stage_fill_bytes(const mv__plan *pl, const mv__vsrc *s, int k, mv_dtype odt, unsigned char *b)
{
    memset(b, 0, 16);
    if (!pl->values) {
        mv__put_f64(s->dt, b, pl->fill[k], MV_ROUND_NEAREST);
    } else if (pl->n_eop == 0) {
        /* casts only: a fill given in stored units converts like the data,
           one given after the cast is in the cast's units */
        if (pl->fill_units[k] == 0) {
            unsigned char raw[16];
            memset(raw, 0, sizeof(raw));
            mv__put_f64(s->dt, raw, pl->fill[k], MV_ROUND_NEAREST);
            mv__convert_real_run(raw, s->dt, b, odt, 1, s->scaled, s->slope, s->inter, pl->rounding);
        } else {
            mv__put_f64(odt, b, pl->fill[k], pl->rounding);
        }
    } else {
        float v = mv__eops_one(pl->eop + pl->fill_eop[k], pl->n_eop - pl->fill_eop[k], pl->fill_f[k]);
        mv__convert_real_run(&v, MV_DT_F32, b, odt, 1, 0, 1.0, 0.0, pl->rounding);
    }
}

/* One long contiguous run (a whole volume copied in order) in pieces. */
static void mv__write_piece(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__write_job *j = (const mv__write_job *)ctx;
    const int64_t piece = (int64_t)1 << 16;
    int64_t x0 = b * piece, x1 = MV__MIN(e * piece, j->mrg_len);
    (void)worker;
    mv__write_source(j, j->p0 + x0, j->out + (size_t)x0 * j->oesz, (size_t)(x1 - x0));
}
static void mv__write_split(mv__write_job *j, int threads)
{
    const int64_t piece = (int64_t)1 << 16;
    int64_t n = (j->mrg_len + piece - 1) / piece;
    uint64_t bytes = (uint64_t)j->mrg_len * (j->oesz + j->s->esz);
    mv__parallel_for(n, 4, mv__threads_for_bytes(threads, bytes), mv__write_piece, j);
}

static void mv__write_pass(const mv__plan *pl, const mv__vsrc *s, unsigned char *out, mv_dtype odt, int threads)
{
    mv__write_job j;
    int64_t st = 1, units = 1, unit_bytes;
    int a, k;
    memset(&j, 0, sizeof(j));
    j.pl = pl;
    j.s = s;
    j.kt = mv__kernels_get();
    j.out = out;
    j.odt = odt;
    j.oesz = mv__dt[odt].size;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int sa = pl->map.axis[a];
        j.ostride[a] = st;
        st *= pl->dim[a];
        j.step[a] = pl->map.sign[a] * s->stride[sa];
        j.p0 += (pl->map.off[a] - s->org[sa]) * s->stride[sa];
    }
    for (k = 1; k < pl->n_dom; k++) {
        size_t i;
        mv__stage_fill_bytes(pl, s, k, odt, j.fill_bytes[k]);
        j.fill_zero[k] = 1;
        for (i = 0; i < j.oesz; i++) j.fill_zero[k] &= j.fill_bytes[k][i] == 0;
    }
    j.sx = j.step[0];
    /* transposing: output x runs along a far source axis; the output axis
       that runs along source x gets blocked with x into tiles of one cache
       line of source elements each way */
    j.q = 0;
    j.tq = 1;
    j.xt = pl->dim[0];
    if (pl->map.axis[0] != 0)
        for (a = 1; a < 3; a++)
            if (pl->map.axis[a] == 0) {
                j.q = a;
                j.tq = MV__MAX((int64_t)1, (int64_t)(MV__TILE_Q / s->esz)); /* a few source lines */
                j.xt = MV__TILE_X;
            }
    for (a = 0; a < MV_MAX_DIMS; a++) {
        j.udim[a] = a == 0 ? 1 : a == j.q ? (pl->dim[a] + j.tq - 1) / j.tq : pl->dim[a];
        units *= j.udim[a];
    }
    j.rows_down = pl->ndim > 1 && j.step[j.q == 1 ? 2 : 1] < 0;
    /* leading axes copied whole and in order merge into one long row: small
       rows would otherwise cost more in bookkeeping than in bytes */
    j.mrg = 1;
    j.mrg_len = pl->dim[0];
    if (pl->n_dom == 1) {
        int m = 0;
        while (m < pl->ndim && pl->map.axis[m] == m && pl->map.sign[m] == 1 && pl->map.off[m] == s->org[m] &&
               pl->dim[m] == s->dim[m])
            m++;
        if (m >= 1) { /* axes [0, m) whole: rows span them and axis m */
            int mm = m < pl->ndim && pl->map.axis[m] == m && pl->map.sign[m] == 1 ? m + 1 : m;
            j.mrg = mm;
            j.mrg_len = 1;
            for (a = 0; a < mm; a++) j.mrg_len *= pl->dim[a];
        }
    }
    if (j.mrg > 1) {
        int64_t rows = 1, grain;
        for (a = j.mrg; a < pl->ndim; a++) rows *= pl->dim[a];
        unit_bytes = j.mrg_len * (int64_t)(j.oesz + s->esz);
        grain = MV__MAX((int64_t)1, ((int64_t)1 << 20) / MV__MAX(unit_bytes, (int64_t)1));
        if (rows == 1 && j.mrg_len > (1 << 20)) { /* one long run: split it for the threads */
            mv__write_split(&j, threads);
            return;
        }
        mv__parallel_for(rows, grain, mv__threads_for_bytes(threads, (uint64_t)rows * (uint64_t)unit_bytes),
                         mv__write_range, &j);
        return;
    }
    unit_bytes = pl->dim[0] * j.tq * (int64_t)(j.oesz + s->esz);
    {
        int64_t grain = MV__MAX((int64_t)1, (64 << 10) / MV__MAX(unit_bytes, (int64_t)1));
        uint64_t bytes = (uint64_t)units * (uint64_t)unit_bytes;
        mv__parallel_for(units, grain, mv__threads_for_bytes(threads, bytes), mv__write_range, &j);
    }
}

/* ---- running a chain ---- */

static mv_status mv__check_ops(const mv_op *ops, int n_ops)
{
    MV__CHECK(n_ops >= 0 && n_ops <= 256, MV_ERR_INVALID_ARG, "n_ops = %d (0..256)", n_ops);
    MV__CHECK(n_ops == 0 || ops != NULL, MV_ERR_INVALID_ARG, "ops is NULL");
    return MV_OK;
}

static const char *mv__op_name(mv_op_kind k)
{
    static const char *names[] = {"none", "crop_or_pad", "box", "flip", "permute", "reorient",
                                  "rot90", "znorm", "rescale", "clamp", "cast"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* The plan of ops over in (statistics taken unless geometry_only). A
   failing step's detail is prefixed with the function (fn) and, for a
   chain, the step: "mv_znorm: ..." or "mv_pipeline: step 2 (flip): ...". */
static mv_status mv__compile(const mv_vol *in, const mv__vsrc *s, const mv_op *ops, int n_ops, const mv__run_opts *ro,
                             mv__plan *pl, const char *fn, int chain)
{
    int i;
    mv_status st = MV_OK;
    mv__plan_init(pl, s);
    for (i = 0; i < n_ops && st == MV_OK; i++) {
        int k = mv__dt[s->dt].kind;
        if (ops[i].kind >= MV_OP_ZNORM && ops[i].kind <= MV_OP_CAST && (k == MV__K_COMPLEX || k == MV__K_RGB))
            st = mv__fail(MV_ERR_UNSUPPORTED, "%s input is not supported (real dtypes only; %s volumes take spatial steps only)",
                          mv__dt[s->dt].name, k == MV__K_COMPLEX ? "complex" : "RGB");
        else
            st = mv__plan_op(pl, s, in, &ops[i], ro);
    }
    if (st != MV_OK) {
        char detail[256];
        size_t n = strlen(mv_last_error());
        if (n >= sizeof(detail)) n = sizeof(detail) - 1;
        memcpy(detail, mv_last_error(), n);
        detail[n] = 0;
        if (chain) return mv__fail(st, "%s: step %d (%s): %s", fn, i - 1, mv__op_name(ops[i - 1].kind), detail);
        return mv__fail(st, "%s: %s", fn, detail);
    }
    mv__plan_mark_used(pl);
    return MV_OK;
}

/* Geometry and metadata of the result: dims, dtype, affine, spacing, and
   (meta_too) the input's metadata adjusted. */
static void mv__result_geometry(const mv__plan *pl, const mv_vol *in, mv_vol *out, int meta_too)
{
    int a;
    if (meta_too) {
        int fields[3], f;
        out->meta.dim_info = 0;
        fields[0] = in->meta.dim_info & 3;
        fields[1] = (in->meta.dim_info >> 2) & 3;
        fields[2] = (in->meta.dim_info >> 4) & 3;
        for (f = 0; f < 3; f++) { /* freq / phase / slice follow their axis */
            int na = 0;
            for (a = 0; a < 3 && fields[f]; a++)
                if (pl->map.axis[a] == fields[f] - 1) na = a + 1;
            out->meta.dim_info |= na << (2 * f);
        }
        if (pl->values) {
            out->meta.scl_slope = 1.0;
            out->meta.scl_inter = 0.0;
            out->meta.cal_min = out->meta.cal_max = 0;
        }
        out->ndim = pl->ndim;
        out->dtype = pl->values ? pl->out_dt : in->dtype;
        for (a = 0; a < MV_MAX_DIMS; a++) out->dim[a] = a < pl->ndim ? pl->dim[a] : 1;
    }
    mv__plan_affine(&pl->map, in->affine, out->affine);
    for (a = 0; a < MV_MAX_DIMS; a++) out->spacing[a] = a < 3 ? in->spacing[pl->map.axis[a]] : in->spacing[a];
}

/* "4x3x1" */
static void mv__dims_str(int ndim, const int64_t *dim, char *buf, size_t cap)
{
    size_t k = 0;
    int a;
    buf[0] = 0;
    if (ndim < 1 || ndim > MV_MAX_DIMS) ndim = 1;
    for (a = 0; a < ndim && k + 24 < cap; a++) {
        char digits[24];
        size_t n = mv__fmt_u64(digits, (uint64_t)(dim[a] < 0 ? 0 : dim[a]), 10, 0);
        if (a) buf[k++] = 'x';
        memcpy(buf + k, digits, n);
        k += n;
        buf[k] = 0;
    }
}

static int mv__ranges_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + nb && y < x + na;
}

/* A result volume: the input's metadata (extensions copied with the call's
   allocator, which then owns all of it) and obytes of uninitialised data. */
static mv_status mv__result_alloc(const mv_vol *in, size_t obytes, void *alloc_ctx, mv_vol *t, const char *fn)
{
    *t = *in;
    t->data = NULL;
    t->flags = 0;
    t->mem_base = NULL;
    t->mem_size = 0;
    t->alloc_ctx = alloc_ctx;
    MV__TRY(mv__copy_extensions(&t->meta, in->meta.ext, in->meta.n_ext, alloc_ctx));
    t->data = mv__alloc(obytes, alloc_ctx);
    if (!t->data) {
        mv__free_extensions(&t->meta, alloc_ctx);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: %llu bytes", fn, (unsigned long long)obytes);
    }
    t->flags = MV_VOL_OWNED;
    t->mem_base = t->data;
    t->mem_size = obytes;
    return MV_OK;
}

/* Runs a chain on in (raw: no scaling) into out: allocating (into = 0) or
   into out->data. */
static mv_status mv__run(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out, int into, int raw,
                         const mv__run_opts *ro, const char *fn)
{
    mv__vsrc s;
    mv__plan pl;
    int active = 0, a;
    double slope = 1, inter = 0;
    mv_dtype odt;
    size_t obytes;
    MV__CHECK(in && out, MV_ERR_INVALID_ARG, "%s: NULL volume", fn);
    MV__CHECK(in->data && mv__dtype_ok(in->dtype) && in->ndim >= 1 && in->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
              "%s: input volume has no data", fn);
    for (a = 0; a < in->ndim; a++) MV__CHECK(in->dim[a] >= 1, MV_ERR_INVALID_ARG, "%s: input dim[%d] = %lld", fn, a, (long long)in->dim[a]);
    MV__TRY(mv__check_ops(ops, n_ops));
    if (!raw && mv__dt[in->dtype].kind != MV__K_RGB && mv__dt[in->dtype].kind != MV__K_COMPLEX)
        MV__TRY(mv__scaling(in->meta.scl_slope, in->meta.scl_inter, &active, &slope, &inter));
    mv__vsrc_from_vol(&s, in, active, slope, inter);
    MV__TRY(mv__compile(in, &s, ops, n_ops, ro, &pl, fn, ro->chain));
    if (!pl.values) s.scaled = 0; /* moves keep the stored values and the scaling */
    odt = pl.values ? pl.out_dt : in->dtype;
    {
        uint64_t b;
        MV__TRY(mv__shape_bytes(odt, pl.ndim, pl.dim, &b));
        obytes = (size_t)b;
    }
    if (into) {
        MV__CHECK(out->data != NULL, MV_ERR_INVALID_ARG, "%s: output volume has no data", fn);
        MV__CHECK(out->dtype == odt, MV_ERR_INVALID_ARG, "%s: output dtype %s, the result is %s", fn,
                  mv__dtype_ok(out->dtype) ? mv__dt[out->dtype].name : "?", mv__dt[odt].name);
        for (a = 0; a < MV_MAX_DIMS; a++) {
            int64_t want = a < pl.ndim ? pl.dim[a] : 1, have = a < out->ndim ? out->dim[a] : 1;
            if (want != have) {
                char w[160], h[160];
                mv__dims_str(pl.ndim, pl.dim, w, sizeof(w));
                mv__dims_str(out->ndim, out->dim, h, sizeof(h));
                return mv__fail(MV_ERR_INVALID_ARG, "%s: output dims %s, the result is %s (dim[%d] differs)", fn, h, w, a);
            }
        }
        if (mv__ranges_overlap(in->data, mv_vol_bytes(in), out->data, obytes)) {
            int same = 1;
            for (a = 0; a < MV_MAX_DIMS; a++) same &= pl.map.axis[a] == a && pl.map.sign[a] == 1 && pl.map.off[a] == 0;
            same &= pl.n_dom == 1 && out->data == in->data && mv__dt[odt].size == s.esz;
            MV__CHECK(same, MV_ERR_INVALID_ARG,
                      "%s: input and output overlap (only a same-size, voxel-for-voxel step may run in place)", fn);
        }
        mv__write_pass(&pl, &s, (unsigned char *)out->data, odt, ro->threads);
        mv__result_geometry(&pl, in, out, 0);
        return MV_OK;
    } else {
        mv_vol t;
        MV__TRY(mv__result_alloc(in, obytes, ro->alloc_ctx, &t, fn));
        mv__result_geometry(&pl, in, &t, 1);
        mv__write_pass(&pl, &s, (unsigned char *)t.data, odt, ro->threads);
        return mv__out_commit_in(out, &t, in, NULL);
    }
}

/* ---- the steps as values ---- */

static mv_op mv__op_new(mv_op_kind kind)
{
    mv_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    return op;
}
MVDEF mv_op mv_op_crop_or_pad(int64_t x, int64_t y, int64_t z, double fill)
{
    mv_op op = mv__op_new(MV_OP_CROP_OR_PAD);
    op.shape[0] = x;
    op.shape[1] = y;
    op.shape[2] = z;
    op.fill = fill;
    return op;
}
MVDEF mv_op mv_op_box(const int64_t start[3], const int64_t size[3], double fill)
{
    mv_op op = mv__op_new(MV_OP_BOX);
    int a;
    for (a = 0; a < 3; a++) {
        op.start[a] = start ? start[a] : 0;
        op.shape[a] = size ? size[a] : 0;
    }
    op.fill = fill;
    return op;
}
MVDEF mv_op mv_op_flip(unsigned axes)
{
    mv_op op = mv__op_new(MV_OP_FLIP);
    op.axes = axes;
    return op;
}
MVDEF mv_op mv_op_permute(int p0, int p1, int p2)
{
    mv_op op = mv__op_new(MV_OP_PERMUTE);
    op.perm[0] = p0;
    op.perm[1] = p1;
    op.perm[2] = p2;
    return op;
}
MVDEF mv_op mv_op_reorient(const char *code)
{
    mv_op op = mv__op_new(MV_OP_REORIENT);
    size_t i;
    for (i = 0; code && i < 3 && code[i]; i++) op.code[i] = code[i];
    if (code && i == 3 && code[3]) op.code[0] = '?'; /* too long: refused when run */
    return op;
}
MVDEF mv_op mv_op_rot90(int k, int axis0, int axis1)
{
    mv_op op = mv__op_new(MV_OP_ROT90);
    op.k = k;
    op.perm[0] = axis0;
    op.perm[1] = axis1;
    return op;
}
MVDEF mv_op mv_op_znorm(int nonzero)
{
    mv_op op = mv__op_new(MV_OP_ZNORM);
    op.nonzero = nonzero;
    return op;
}
MVDEF mv_op mv_op_rescale(double lo, double hi)
{
    mv_op op = mv__op_new(MV_OP_RESCALE);
    op.lo = lo;
    op.hi = hi;
    return op;
}
MVDEF mv_op mv_op_rescale_pct(double lo, double hi, double pct_lo, double pct_hi, int clip)
{
    mv_op op = mv_op_rescale(lo, hi);
    op.pct_lo = pct_lo;
    op.pct_hi = pct_hi;
    op.clip = clip;
    return op;
}
MVDEF mv_op mv_op_clamp(double lo, double hi)
{
    mv_op op = mv__op_new(MV_OP_CLAMP);
    op.lo = lo;
    op.hi = hi;
    return op;
}
MVDEF mv_op mv_op_cast(mv_dtype dtype, mv_round rounding)
{
    mv_op op = mv__op_new(MV_OP_CAST);
    op.dtype = dtype;
    op.rounding = rounding;
    return op;
}

/* ---- intensity operations ---- */

static mv_status mv__check_mask(const mv_vol *in, const mv_vol *mask)
{
    int a;
    MV__CHECK(mask->data && mv__dtype_ok(mask->dtype), MV_ERR_INVALID_ARG, "mask has no data");
    MV__CHECK(mv__dt[mask->dtype].kind != MV__K_COMPLEX && mv__dt[mask->dtype].kind != MV__K_RGB, MV_ERR_INVALID_ARG,
              "mask dtype %s: a real dtype", mv__dt[mask->dtype].name);
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int64_t want = a < 3 && a < in->ndim ? in->dim[a] : 1, have = a < mask->ndim ? mask->dim[a] : 1;
        MV__CHECK(want == have, MV_ERR_INVALID_ARG, "mask dim[%d] = %lld, the volume's first three dims need %lld", a,
                  (long long)have, (long long)want);
    }
    return MV_OK;
}

/* A 3D frame of v as a volume of its own (same dtype and scaling). */
static mv_vol mv__frame_view(const mv_vol *v, int64_t f)
{
    mv_vol t = *v;
    size_t fbytes = (size_t)(v->dim[0] * v->dim[1] * v->dim[2]) * mv__dt[v->dtype].size;
    int a;
    t.data = (unsigned char *)v->data + (size_t)f * fbytes;
    t.ndim = 3;
    for (a = 3; a < MV_MAX_DIMS; a++) t.dim[a] = 1;
    t.meta.ext = NULL;
    t.meta.n_ext = 0;
    t.flags = MV_VOL_BORROWED;
    return t;
}

static mv_status mv__intensity(const mv_vol *in, mv_vol *out, int into, mv_op op, const mv_intensity_opts *opts,
                               const char *fn)
{
    mv_intensity_opts o;
    mv__run_opts ro;
    mv_op ops[2];
    int n = 1;
    mv_dtype want;
    int64_t frames = 1, f;
    int a;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CHECK(in && out, MV_ERR_INVALID_ARG, "%s: NULL volume", fn);
    MV__CHECK(in->data && mv__dtype_ok(in->dtype) && in->ndim >= 1 && in->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
              "%s: input volume has no data", fn);
    want = into ? out->dtype : o.dtype ? o.dtype : MV_DT_F32;
    if (o.mask) MV__TRY(mv__check_mask(in, o.mask));
    MV__CHECK(!(o.stats && (o.nonzero || o.mask || o.per_frame || o.pct_lo != 0 || o.pct_hi != 0)), MV_ERR_INVALID_ARG,
              "%s: known statistics do not go with nonzero, mask, per_frame or percentiles", fn);
    op.nonzero = o.nonzero;
    if (op.kind == MV_OP_RESCALE) {
        op.pct_lo = o.pct_lo;
        op.pct_hi = o.pct_hi;
        op.clip = o.clip;
    }
    ops[0] = op;
    if (want != MV_DT_F32) ops[n++] = mv_op_cast(want, o.rounding);
    memset(&ro, 0, sizeof(ro));
    ro.mask = o.mask;
    ro.stats = o.stats;
    ro.threads = o.threads;
    ro.alloc_ctx = o.alloc_ctx;
    for (a = 3; a < in->ndim; a++) frames *= in->dim[a];
    if (!o.per_frame || frames <= 1) return mv__run(in, ops, n, out, into, o.raw, &ro, fn);
    /* statistics per 3D frame: each frame is a chain of its own */
    if (!into) {
        mv_vol t;
        uint64_t bytes = 0;
        MV__TRY(mv__shape_bytes(want, in->ndim, in->dim, &bytes));
        MV__TRY(mv__result_alloc(in, (size_t)bytes, o.alloc_ctx, &t, fn));
        t.dtype = want;
        t.meta.scl_slope = 1.0;
        t.meta.scl_inter = 0.0;
        t.meta.cal_min = t.meta.cal_max = 0;
        for (f = 0; f < frames; f++) {
            mv_vol vi = mv__frame_view(in, f), vo = mv__frame_view(&t, f);
            mv_status st = mv__run(&vi, ops, n, &vo, 1, o.raw, &ro, fn);
            if (st != MV_OK) {
                mv_free(&t);
                return st;
            }
        }
        return mv__out_commit_in(out, &t, in, NULL);
    }
    for (a = 0; a < MV_MAX_DIMS; a++)
        MV__CHECK((a < in->ndim ? in->dim[a] : 1) == (a < out->ndim ? out->dim[a] : 1), MV_ERR_INVALID_ARG,
                  "%s: output dims differ from the input's at dim[%d]", fn, a);
    MV__CHECK(out->data != NULL, MV_ERR_INVALID_ARG, "%s: output volume has no data", fn);
    for (f = 0; f < frames; f++) {
        mv_vol vi = mv__frame_view(in, f), vo = mv__frame_view(out, f);
        MV__TRY(mv__run(&vi, ops, n, &vo, 1, o.raw, &ro, fn));
    }
    return MV_OK;
}

MVDEF mv_status mv_znorm(const mv_vol *in, mv_vol *out, const mv_intensity_opts *opts)
{
    return mv__intensity(in, out, 0, mv_op_znorm(0), opts, "mv_znorm");
}
MVDEF mv_status mv_znorm_into(const mv_vol *in, mv_vol *out, const mv_intensity_opts *opts)
{
    return mv__intensity(in, out, 1, mv_op_znorm(0), opts, "mv_znorm_into");
}
MVDEF mv_status mv_rescale(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts)
{
    return mv__intensity(in, out, 0, mv_op_rescale(lo, hi), opts, "mv_rescale");
}
MVDEF mv_status mv_rescale_into(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts)
{
    return mv__intensity(in, out, 1, mv_op_rescale(lo, hi), opts, "mv_rescale_into");
}
MVDEF mv_status mv_clamp(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts)
{
    return mv__intensity(in, out, 0, mv_op_clamp(lo, hi), opts, "mv_clamp");
}
MVDEF mv_status mv_clamp_into(const mv_vol *in, mv_vol *out, double lo, double hi, const mv_intensity_opts *opts)
{
    return mv__intensity(in, out, 1, mv_op_clamp(lo, hi), opts, "mv_clamp_into");
}

/* The values numpy would see: float32 for unscaled float32 (and float16 /
   bfloat16) volumes, float64 (get_fdata) for everything else. */
/* The values numpy would see: a float32 array for unscaled float32 (and
   float16 / bfloat16) volumes (*np_f32 = 1: numpy bins and interpolates in
   float32), float64 (get_fdata) for everything else. They are read as
   float32 whenever that is exact (8- and 16-bit integers, exactly scaled),
   which is faster, else as float64. */
static mv_status mv__value_provider(const mv_vol *v, const mv_intensity_opts *o, mv__vsrc *s, mv__provider *p,
                                    int *np_f32, const char *fn)
{
    int active = 0, a, small;
    double slope = 1, inter = 0;
    MV__CHECK(v && v->data && mv__dtype_ok(v->dtype) && v->ndim >= 1 && v->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
              "%s: volume has no data", fn);
    MV__CHECK(mv__dt[v->dtype].kind != MV__K_COMPLEX && mv__dt[v->dtype].kind != MV__K_RGB, MV_ERR_UNSUPPORTED,
              "%s: %s voxels have no order", fn, mv__dt[v->dtype].name);
    if (o->mask) MV__TRY(mv__check_mask(v, o->mask));
    if (!o->raw) MV__TRY(mv__scaling(v->meta.scl_slope, v->meta.scl_inter, &active, &slope, &inter));
    mv__vsrc_from_vol(s, v, active, slope, inter);
    memset(p, 0, sizeof(*p));
    p->src = s;
    p->nonzero = o->nonzero;
    p->mask = o->mask;
    *np_f32 = !active && (v->dtype == MV_DT_F32 || v->dtype == MV_DT_F16 || v->dtype == MV_DT_BF16);
    small = v->dtype == MV_DT_U8 || v->dtype == MV_DT_I8 || v->dtype == MV_DT_U16 || v->dtype == MV_DT_I16;
    p->want = *np_f32 || (small && (!active || mv__scaling_exact_f32(v->dtype, slope, inter))) ? MV__WANT_F32
                                                                                            : MV__WANT_F64;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        p->lo[a] = 0;
        p->hi[a] = s->dim[a];
    }
    mv__provider_setup(p);
    return MV_OK;
}

MVDEF mv_status mv_histogram(const mv_vol *v, int nbins, double lo, double hi, int64_t *counts,
                             const mv_intensity_opts *opts)
{
    mv_intensity_opts o;
    mv__vsrc s;
    mv__provider p;
    mv__hist_ctx h;
    int nthr, w, i, np_f32 = 0;
    double step;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CHECK(nbins >= 1 && nbins <= (1 << 24), MV_ERR_INVALID_ARG, "mv_histogram: nbins = %d (1 .. 2^24)", nbins);
    MV__CHECK(counts != NULL, MV_ERR_INVALID_ARG, "mv_histogram: counts is NULL");
    MV__CHECK(isfinite(lo) && isfinite(hi) && lo <= hi, MV_ERR_INVALID_ARG, "mv_histogram: range [%g, %g]", lo, hi);
    MV__TRY(mv__value_provider(v, &o, &s, &p, &np_f32, "mv_histogram"));
    if (lo == 0 && hi == 0) { /* numpy's range=None: the data's min and max */
        mv__moments m;
        mv__provider q = p;
        q.want = p.want; /* min/max of the same values */
        mv__provider_moments(&q, o.threads, &m);
        if (m.n > 0) {
            lo = m.mn;
            hi = m.mx;
        } else {
            lo = 0;
            hi = 1;
        }
    }
    if (lo == hi) {
        lo -= 0.5;
        hi += 0.5;
    }
    nthr = mv__resolve_threads(o.threads);
    h.nbins = nbins;
    h.lo = lo;
    h.hi = hi;
    h.norm = (double)nbins / (hi - lo);
    h.edges = (double *)mv__alloc((size_t)(nbins + 1) * sizeof(double), o.alloc_ctx);
    h.counts = (int64_t *)mv__alloc_zero((size_t)nthr * (size_t)nbins * sizeof(int64_t), o.alloc_ctx);
    if (!h.edges || !h.counts) {
        mv__free(h.edges, o.alloc_ctx);
        mv__free(h.counts, o.alloc_ctx);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_histogram: %d bins x %d threads", nbins, nthr);
    }
    /* numpy.linspace(lo, hi, nbins + 1): i * step + lo, the last exactly hi,
       then in the dtype numpy compares in */
    step = (hi - lo) / nbins;
    for (i = 0; i <= nbins; i++) {
        double e = i == nbins ? hi : (double)i * step + lo;
        h.edges[i] = np_f32 ? (double)(float)e : e;
    }
    mv__provider_run(&p, mv__consume_hist, &h, nthr);
    for (i = 0; i < nbins; i++) {
        int64_t c = 0;
        for (w = 0; w < nthr; w++) c += h.counts[(size_t)w * (size_t)nbins + (size_t)i];
        counts[i] = c;
    }
    mv__free(h.edges, o.alloc_ctx);
    mv__free(h.counts, o.alloc_ctx);
    return MV_OK;
}

MVDEF mv_status mv_percentiles(const mv_vol *v, const double *q, int nq, double *out, const mv_intensity_opts *opts)
{
    mv_intensity_opts o;
    mv__vsrc s;
    mv__provider p;
    int64_t count;
    int i, np_f32 = 0;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    MV__CHECK(nq >= 0 && (nq == 0 || (q && out)), MV_ERR_INVALID_ARG, "mv_percentiles: NULL q or out");
    for (i = 0; i < nq; i++)
        MV__CHECK(q[i] >= 0 && q[i] <= 100, MV_ERR_INVALID_ARG, "mv_percentiles: q[%d] = %g (0 .. 100)", i, q[i]);
    MV__TRY(mv__value_provider(v, &o, &s, &p, &np_f32, "mv_percentiles"));
    if (nq == 0) return MV_OK;
    return mv__percentiles_of(&p, NULL, q, nq, np_f32, out, &count, o.threads, o.alloc_ctx);
}

/* ---- spatial operations ---- */

static mv_status mv__spatial(const mv_vol *in, mv_vol *out, int into, mv_op op, const mv_spatial_opts *opts,
                             const char *fn)
{
    mv__run_opts ro;
    memset(&ro, 0, sizeof(ro));
    if (opts) {
        op.fill = opts->fill;
        ro.threads = opts->threads;
        ro.alloc_ctx = opts->alloc_ctx;
    }
    return mv__run(in, &op, 1, out, into, 1, &ro, fn);
}

MVDEF mv_status mv_crop_or_pad(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_spatial_opts *opts)
{
    MV__CHECK(shape != NULL, MV_ERR_INVALID_ARG, "mv_crop_or_pad: shape is NULL");
    return mv__spatial(in, out, 0, mv_op_crop_or_pad(shape[0], shape[1], shape[2], 0), opts, "mv_crop_or_pad");
}
MVDEF mv_status mv_crop_or_pad_into(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_spatial_opts *opts)
{
    MV__CHECK(shape != NULL, MV_ERR_INVALID_ARG, "mv_crop_or_pad_into: shape is NULL");
    return mv__spatial(in, out, 1, mv_op_crop_or_pad(shape[0], shape[1], shape[2], 0), opts, "mv_crop_or_pad_into");
}
MVDEF mv_status mv_crop_pad_box(const mv_vol *in, mv_vol *out, const int64_t start[3], const int64_t size[3],
                                const mv_spatial_opts *opts)
{
    MV__CHECK(start && size, MV_ERR_INVALID_ARG, "mv_crop_pad_box: start or size is NULL");
    return mv__spatial(in, out, 0, mv_op_box(start, size, 0), opts, "mv_crop_pad_box");
}
MVDEF mv_status mv_flip(const mv_vol *in, mv_vol *out, unsigned axes, const mv_spatial_opts *opts)
{
    return mv__spatial(in, out, 0, mv_op_flip(axes), opts, "mv_flip");
}
MVDEF mv_status mv_flip_into(const mv_vol *in, mv_vol *out, unsigned axes, const mv_spatial_opts *opts)
{
    return mv__spatial(in, out, 1, mv_op_flip(axes), opts, "mv_flip_into");
}
MVDEF mv_status mv_crop_pad_box_into(const mv_vol *in, mv_vol *out, const int64_t start[3], const int64_t size[3],
                                     const mv_spatial_opts *opts)
{
    MV__CHECK(start && size, MV_ERR_INVALID_ARG, "mv_crop_pad_box_into: start or size is NULL");
    return mv__spatial(in, out, 1, mv_op_box(start, size, 0), opts, "mv_crop_pad_box_into");
}
MVDEF mv_status mv_permute(const mv_vol *in, mv_vol *out, const int perm[3], const mv_spatial_opts *opts)
{
    MV__CHECK(perm != NULL, MV_ERR_INVALID_ARG, "mv_permute: perm is NULL");
    return mv__spatial(in, out, 0, mv_op_permute(perm[0], perm[1], perm[2]), opts, "mv_permute");
}
MVDEF mv_status mv_permute_into(const mv_vol *in, mv_vol *out, const int perm[3], const mv_spatial_opts *opts)
{
    MV__CHECK(perm != NULL, MV_ERR_INVALID_ARG, "mv_permute_into: perm is NULL");
    return mv__spatial(in, out, 1, mv_op_permute(perm[0], perm[1], perm[2]), opts, "mv_permute_into");
}
MVDEF mv_status mv_reorient(const mv_vol *in, mv_vol *out, const char *code, const mv_spatial_opts *opts)
{
    MV__CHECK(code != NULL && strlen(code) == 3, MV_ERR_INVALID_ARG, "mv_reorient: code must be 3 letters");
    return mv__spatial(in, out, 0, mv_op_reorient(code), opts, "mv_reorient");
}
MVDEF mv_status mv_reorient_into(const mv_vol *in, mv_vol *out, const char *code, const mv_spatial_opts *opts)
{
    MV__CHECK(code != NULL && strlen(code) == 3, MV_ERR_INVALID_ARG, "mv_reorient_into: code must be 3 letters");
    return mv__spatial(in, out, 1, mv_op_reorient(code), opts, "mv_reorient_into");
}
MVDEF mv_status mv_rot90(const mv_vol *in, mv_vol *out, int k, int axis0, int axis1, const mv_spatial_opts *opts)
{
    return mv__spatial(in, out, 0, mv_op_rot90(k, axis0, axis1), opts, "mv_rot90");
}
MVDEF mv_status mv_rot90_into(const mv_vol *in, mv_vol *out, int k, int axis0, int axis1, const mv_spatial_opts *opts)
{
    return mv__spatial(in, out, 1, mv_op_rot90(k, axis0, axis1), opts, "mv_rot90_into");
}

/* ---- chains ---- */

static void mv__pipeline_ro(const mv_pipeline_opts *opts, mv__run_opts *ro, int *raw)
{
    memset(ro, 0, sizeof(*ro));
    ro->chain = 1;
    *raw = 0;
    if (opts) {
        ro->threads = opts->threads;
        ro->alloc_ctx = opts->alloc_ctx;
        *raw = opts->raw;
    }
}

MVDEF mv_status mv_pipeline_geometry(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out)
{
    mv__vsrc s;
    mv__plan pl;
    mv__run_opts ro;
    mv_vol t;
    int active = 0;
    double slope = 1, inter = 0;
    MV__CHECK(in && out && mv__dtype_ok(in->dtype) && in->ndim >= 1 && in->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG,
              "mv_pipeline_geometry: NULL or empty volume");
    MV__TRY(mv__check_ops(ops, n_ops));
    if (mv__dt[in->dtype].kind != MV__K_RGB && mv__dt[in->dtype].kind != MV__K_COMPLEX)
        MV__TRY(mv__scaling(in->meta.scl_slope, in->meta.scl_inter, &active, &slope, &inter));
    mv__vsrc_from_vol(&s, in, active, slope, inter);
    memset(&ro, 0, sizeof(ro));
    ro.geometry_only = 1;
    MV__TRY(mv__compile(in, &s, ops, n_ops, &ro, &pl, "mv_pipeline_geometry", 1));
    t = *in;
    t.data = NULL;
    t.flags = 0;
    t.mem_base = NULL;
    t.mem_size = 0;
    t.meta.ext = NULL;
    t.meta.n_ext = 0;
    mv__result_geometry(&pl, in, &t, 1);
    return mv__out_commit_in(out, &t, in, NULL);
}

MVDEF mv_status mv_pipeline(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out, const mv_pipeline_opts *opts)
{
    mv__run_opts ro;
    int raw;
    mv_status st;
    mv__pipeline_ro(opts, &ro, &raw);
    st = mv__run(in, ops, n_ops, out, 0, raw, &ro, "mv_pipeline");
    if (st == MV_OK && opts && opts->squeeze) mv__vol_squeeze(out);
    return st;
}

MVDEF mv_status mv_pipeline_into(const mv_vol *in, const mv_op *ops, int n_ops, mv_vol *out,
                                 const mv_pipeline_opts *opts)
{
    mv__run_opts ro;
    int raw;
    mv__pipeline_ro(opts, &ro, &raw);
    return mv__run(in, ops, n_ops, out, 1, raw, &ro, "mv_pipeline_into");
}

/* Crop-first load of a chain: the header, the region the chain reads, then
   the chain on that region in full-volume coordinates. */
typedef mv_status (*mv__loader_fn)(const void *ctx, mv_vol *out, const mv_load_opts *opts);

static mv_status mv__pipeline_load_with(mv__loader_fn load, const void *lctx, const mv_op *ops, int n_ops, mv_vol *out,
                                        const mv_pipeline_opts *opts, const char *fn)
{
    mv_vol hdr, sub;
    mv_load_opts lo;
    mv__run_opts ro;
    mv__plan pl;
    mv__vsrc s;
    int raw, a, active = 0;
    double slope = 1, inter = 0;
    mv_status st;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: out is NULL", fn);
    MV__TRY(mv__check_ops(ops, n_ops));
    mv_vol_init(&hdr);
    mv_vol_init(&sub);
    mv__pipeline_ro(opts, &ro, &raw);
    memset(&lo, 0, sizeof(lo));
    lo.header_only = 1;
    lo.alloc_ctx = ro.alloc_ctx;
    MV__TRY(load(lctx, &hdr, &lo));
    if (!raw && mv__dt[hdr.dtype].kind != MV__K_RGB && mv__dt[hdr.dtype].kind != MV__K_COMPLEX) {
        st = mv__scaling(hdr.meta.scl_slope, hdr.meta.scl_inter, &active, &slope, &inter);
        if (st != MV_OK) {
            mv_free(&hdr);
            return st;
        }
    }
    /* where the chain reads: compile without statistics */
    mv__vsrc_from_vol(&s, &hdr, active, slope, inter);
    ro.geometry_only = 1;
    st = mv__compile(&hdr, &s, ops, n_ops, &ro, &pl, fn, 1);
    ro.geometry_only = 0;
    if (st != MV_OK) {
        mv_free(&hdr);
        return st;
    }
    lo.header_only = 0;
    lo.threads = ro.threads;
    for (a = 0; a < 3; a++) {
        int64_t l = pl.used_any ? MV__MAX(pl.used.lo[a], 0) : 0, h = pl.used_any ? MV__MIN(pl.used.hi[a], hdr.dim[a]) : 1;
        if (h <= l) { /* nothing of the source is used (all padding): read one voxel */
            l = 0;
            h = 1;
        }
        lo.box_start[a] = l;
        lo.box_size[a] = h - l;
    }
    st = load(lctx, &sub, &lo);
    if (st != MV_OK) {
        mv_free(&hdr);
        return st;
    }
    /* the loaded box, seen in the whole volume's coordinates */
    s.base = (const unsigned char *)sub.data;
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int64_t st_ = 1;
        int b;
        s.org[a] = a < 3 ? lo.box_start[a] : 0;
        s.dim[a] = a < sub.ndim ? sub.dim[a] : 1;
        for (b = 0; b < a; b++) st_ *= s.dim[b];
        s.stride[a] = st_;
    }
    st = mv__compile(&hdr, &s, ops, n_ops, &ro, &pl, fn, 1);
    if (st == MV_OK) {
        mv_vol t = hdr;
        size_t obytes;
        uint64_t b64 = 0;
        mv_dtype odt = pl.values ? pl.out_dt : hdr.dtype;
        if (!pl.values) s.scaled = 0;
        st = mv__shape_bytes(odt, pl.ndim, pl.dim, &b64);
        obytes = (size_t)b64;
        if (st == MV_OK) {
            t.data = mv__alloc(obytes, ro.alloc_ctx);
            if (!t.data) st = mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: %llu bytes", fn, (unsigned long long)obytes);
        }
        if (st == MV_OK) {
            t.flags = MV_VOL_OWNED;
            t.mem_base = t.data;
            t.mem_size = obytes;
            t.alloc_ctx = ro.alloc_ctx;
            mv__result_geometry(&pl, &hdr, &t, 1);
            mv__write_pass(&pl, &s, (unsigned char *)t.data, odt, ro.threads);
            hdr.meta.ext = NULL; /* the result owns them now */
            hdr.meta.n_ext = 0;
            if (opts && opts->squeeze) mv__vol_squeeze(&t);
            st = mv__out_commit(out, &t);
        }
    }
    mv_free(&sub);
    mv_free(&hdr);
    return st;
}

typedef struct mv__mem_src {
    const void *buf;
    size_t len;
} mv__mem_src;
static mv_status mv__load_mem_cb(const void *ctx, mv_vol *out, const mv_load_opts *opts)
{
    const mv__mem_src *m = (const mv__mem_src *)ctx;
    return mv_load_mem_borrow(m->buf, m->len, out, opts);
}
MVDEF mv_status mv_pipeline_load_mem(const void *buf, size_t len, const mv_op *ops, int n_ops, mv_vol *out,
                                     const mv_pipeline_opts *opts)
{
    mv__mem_src m;
    m.buf = buf;
    m.len = len;
    return mv__pipeline_load_with(mv__load_mem_cb, &m, ops, n_ops, out, opts, "mv_pipeline_load_mem");
}

#if !defined(MEDVOL_NO_STDIO)
static mv_status mv__load_path_cb(const void *ctx, mv_vol *out, const mv_load_opts *opts)
{
    return mv_load((const char *)ctx, out, opts);
}
MVDEF mv_status mv_pipeline_load(const char *path, const mv_op *ops, int n_ops, mv_vol *out,
                                 const mv_pipeline_opts *opts)
{
    MV__CHECK(path != NULL, MV_ERR_INVALID_ARG, "mv_pipeline_load: path is NULL");
    return mv__pipeline_load_with(mv__load_path_cb, path, ops, n_ops, out, opts, "mv_pipeline_load");
}
#endif

/* >>impl-fft ================================================================ */

/* The kernels of the active ISA, from the kernel table (mv_set_isa may
   change it between calls; plans do not depend on the ISA). */
static const mv__fft_ops *mv__fft_ops_active(void) { return mv__kernels_get()->fft; }

/* ---- planning a line: factors, Bluestein, tables ---- */

#define MV__FFT_TWO_PI 6.283185307179586476925286766559

/* (cos, sin)(2 pi q / n) in double, q reduced first so large n stay exact */
static void mv__fft_root(uint64_t q, uint64_t n, double *c, double *s)
{
    double a;
    q %= n;
    /* fold into [0, n/2] so the angle stays small where sin/cos are accurate */
    if (2 * q > n) {
        a = MV__FFT_TWO_PI * (double)(n - q) / (double)n;
        *c = cos(a);
        *s = -sin(a);
    } else {
        a = MV__FFT_TWO_PI * (double)q / (double)n;
        *c = cos(a);
        *s = sin(a);
    }
}

/* Factors of n in stage order: 8s and 4s for the power of two (a 2 only
   when n has a single factor 2; 2^4 = 4*4 rather than 8*2), then 3, 5, 7,
   then larger primes. (A radix-16 codelet was tried: faster on transposed
   rows, slower on column bundles, which rebroadcast its 15 twiddles per
   vector; no net gain at 256^2 or 256^3, so it is not here.) */
static int mv__fft_factorize(ptrdiff_t n, int *fac)
{
    int nf = 0, k = 0, i, eights, fours = 0;
    ptrdiff_t p;
    while (n % 2 == 0) {
        n /= 2;
        k++;
    }
    eights = k / 3;
    if (k == 1) {
        fac[nf++] = 2;
    } else if (k % 3 == 1) {
        eights--;
        fours = 2;
    } else if (k % 3 == 2) {
        fours = 1;
    }
    for (i = 0; i < eights; i++) fac[nf++] = 8;
    for (i = 0; i < fours; i++) fac[nf++] = 4;
    for (p = 3; p * p <= n; p += 2)
        while (n % p == 0) {
            fac[nf++] = p > INT_MAX ? INT_MAX : (int)p;
            n /= p;
        }
    if (n > 1) fac[nf++] = n > INT_MAX ? INT_MAX : (int)n; /* INT_MAX: a huge prime, Bluestein anyway */
    return nf;
}

/* Rough cost per element of a radix pass (radix-2 butterfly = 1). */
static double mv__fft_radix_cost(int p)
{
    switch (p) {
    case 2: return 1.0;
    case 3: return 1.7;
    case 4: return 1.1;
    case 5: return 2.2;
    case 7: return 3.0;
    case 8: return 1.3;
    default: return 0.5 * p + 1.0;
    }
}
static double mv__fft_direct_cost(ptrdiff_t n)
{
    int fac[MV__FFT_MAX_STAGES], nf = mv__fft_factorize(n, fac), i;
    double c = 0;
    for (i = 0; i < nf; i++) c += fac[i] > MV__FFT_GENERIC_MAX ? 1e30 : mv__fft_radix_cost(fac[i]);
    return c * (double)n;
}

/* Bluestein's convolution length: the cheapest 2,3,5-smooth m >= 2n - 1
   (for each 3^b 5^c, the smallest 2^a that reaches the bound; a larger one
   only costs more). */
static ptrdiff_t mv__fft_bluestein_len(ptrdiff_t n)
{
    const ptrdiff_t lo = 2 * n - 1;
    ptrdiff_t best = 0, p35, p5, m;
    double best_cost = 0;
    for (p5 = 1; p5 < 2 * lo; p5 *= 5)
        for (p35 = p5; p35 < 2 * lo; p35 *= 3) {
            double c;
            for (m = p35; m < lo; m *= 2) continue;
            c = mv__fft_direct_cost(m);
            if (!best || c < best_cost) {
                best = m;
                best_cost = c;
            }
        }
    return best;
}

/* 0 = direct stages, else the Bluestein length. */
static ptrdiff_t mv__fft_choose_bluestein(ptrdiff_t n)
{
    ptrdiff_t m;
    double direct = mv__fft_direct_cost(n);
    if (n <= 8) return 0;
    m = mv__fft_bluestein_len(n);
    /* two FFTs of length m plus the chirp and spectrum products */
    return 2.0 * mv__fft_direct_cost(m) + 3.0 * (double)m + 2.0 * (double)n < direct ? m : 0;
}

/* Table memory of a line, as mv__fft_line_build lays it out. */
static size_t mv__fft_round64(size_t b) { return (b + 63) & ~(size_t)63; }
static size_t mv__fft_line_bytes(ptrdiff_t n)
{
    ptrdiff_t bm = mv__fft_choose_bluestein(n), L = 1;
    int fac[MV__FFT_MAX_STAGES], nf, i;
    size_t b = 0;
    if (bm)
        return mv__fft_round64(sizeof(mv__fft_line)) + mv__fft_round64((size_t)n * 8) + mv__fft_round64((size_t)bm * 8) +
               mv__fft_line_bytes(bm);
    nf = mv__fft_factorize(n, fac);
    for (i = 0; i < nf; i++) {
        ptrdiff_t m1 = n / L / fac[i];
        b += mv__fft_round64((size_t)(fac[i] - 1) * (size_t)m1 * 8) + mv__fft_round64((size_t)fac[i] * 8);
        L *= fac[i];
    }
    return b;
}

typedef struct mv__fft_arena {
    unsigned char *p;
    size_t used, cap;
} mv__fft_arena;
static float *mv__fft_take(mv__fft_arena *a, size_t bytes)
{
    float *f = (float *)(void *)(a->p + a->used);
    a->used += mv__fft_round64(bytes);
    MEDVOL_ASSERT(a->used <= a->cap);
    return f;
}

static mv_status mv__fft_line_build(mv__fft_line *ln, ptrdiff_t n, int sign, mv__fft_arena *a, void *ctx);

/* Bluestein tables: chirp c_j = exp(sign i pi (j^2 mod 2n) / n), and
   bk = FFT_bm(b) / bm with b_j = b_bm-j = conj(c_j), computed by the
   reference kernels on the forward sub-plan. */
static mv_status mv__fft_bluestein_build(mv__fft_line *ln, mv__fft_arena *a, void *ctx)
{
    const ptrdiff_t n = ln->n, m = ln->bm;
    mv__fft_line *sub = (mv__fft_line *)(void *)mv__fft_take(a, sizeof(mv__fft_line));
    float *chirp = mv__fft_take(a, (size_t)n * 8), *bk = mv__fft_take(a, (size_t)m * 8), *b, *tmp;
    uint64_t sq = 0, two_n = 2 * (uint64_t)n;
    ptrdiff_t j;
    MV__TRY(mv__fft_line_build(sub, m, -1, a, ctx));
    for (j = 0; j < n; j++) {
        double c, s;
        /* angle pi sq / n = 2 pi sq / 2n; (j+1)^2 = j^2 + 2j + 1 keeps sq < 2n */
        mv__fft_root(sq, two_n, &c, &s);
        chirp[2 * j] = (float)c;
        chirp[2 * j + 1] = (float)(ln->sign * s);
        sq = (sq + 2 * (uint64_t)j + 1) % two_n;
    }
    b = (float *)mv__alloc((size_t)m * 8 * 3, ctx);
    if (!b) return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_fft plan: %llu bytes of Bluestein tables", (unsigned long long)m * 24);
    tmp = b + 2 * m;
    memset(b, 0, (size_t)m * 8);
    for (j = 0; j < n; j++) {
        b[2 * j] = chirp[2 * j];
        b[2 * j + 1] = -chirp[2 * j + 1];
        if (j > 0) {
            b[2 * (m - j)] = chirp[2 * j];
            b[2 * (m - j) + 1] = -chirp[2 * j + 1];
        }
    }
    mv__fft_stockham_ref(sub, b, 2, bk, 2, 1, 1.0f / (float)m, tmp, tmp + 2 * m);
    mv__free(b, ctx);
    ln->sub = sub;
    ln->chirp = chirp;
    ln->bk = bk;
    return MV_OK;
}

/* Fills ln for length n and direction sign; tables come from the arena
   (sized by mv__fft_line_bytes). */
static mv_status mv__fft_line_build(mv__fft_line *ln, ptrdiff_t n, int sign, mv__fft_arena *a, void *ctx)
{
    int fac[MV__FFT_MAX_STAGES], nf, i, k, q;
    ptrdiff_t L = 1, j1;
    memset(ln, 0, sizeof(*ln));
    ln->n = n;
    ln->sign = sign;
    ln->bm = mv__fft_choose_bluestein(n);
    if (ln->bm) return mv__fft_bluestein_build(ln, a, ctx);
    nf = mv__fft_factorize(n, fac);
    ln->n_stages = nf;
    for (i = 0; i < nf; i++) {
        mv__fft_stage *st = &ln->st[i];
        const int p = fac[i];
        float *tw, *roots;
        st->p = p;
        st->L = L;
        st->m1 = n / L / p;
        tw = mv__fft_take(a, (size_t)(p - 1) * (size_t)st->m1 * 8);
        roots = mv__fft_take(a, (size_t)p * 8);
        for (j1 = 0; j1 < st->m1; j1++)
            for (k = 1; k < p; k++) {
                /* w^(j1 k) with w = exp(sign 2 pi i / (p m1)) = exp(sign 2 pi i L / n) */
                double c, s;
                mv__fft_root((uint64_t)j1 * (uint64_t)k * (uint64_t)L, (uint64_t)n, &c, &s);
                tw[2 * ((size_t)j1 * (size_t)(p - 1) + (size_t)(k - 1))] = (float)c;
                tw[2 * ((size_t)j1 * (size_t)(p - 1) + (size_t)(k - 1)) + 1] = (float)(sign * s);
            }
        for (q = 0; q < p; q++) {
            double c, s;
            mv__fft_root((uint64_t)q, (uint64_t)p, &c, &s);
            roots[2 * q] = (float)c;
            roots[2 * q + 1] = (float)s;
        }
        st->tw = tw;
        st->roots = roots;
        L *= p;
    }
    return MV_OK;
}

/* Columns per bundle for a line: Bluestein lines always the narrow width. */
static int mv__fft_bundle_cols(const mv__fft_line *ln, int cols) { return ln->bm ? MV__FFT_COLS_BLUE : cols; }

/* A worker's buffers for one line, in floats: g0 and g1 hold (n + 2)
   elements of a bundle (or of a vector, the narrower); then the stage
   ping-pong (2 n) or Bluestein's four buffers of bm. */
static size_t mv__fft_worker_g(const mv__fft_line *ln, int cols)
{
    return ((size_t)ln->n + 2) * 2 * (size_t)mv__fft_bundle_cols(ln, cols);
}
static size_t mv__fft_worker_floats(const mv__fft_line *ln, int cols)
{
    size_t cv = 2 * (size_t)mv__fft_bundle_cols(ln, cols);
    return 2 * mv__fft_worker_g(ln, cols) + (ln->bm ? 4 * (size_t)ln->bm * cv : 2 * (size_t)ln->n * cv);
}

/* ---- the plan ---- */

enum { MV__FFT_IN = 0, MV__FFT_OUT = 1, MV__FFT_INTER = 2 };

/* One axis operation: which array it reads and writes, and its scale. */
typedef struct mv__fft_op {
    int axis, kind, src, dst;
    float scale;
    const mv__fft_line *line;
} mv__fft_op;

/* A pass: ops [first, first + count) over slabs of dims [0, slab) (each slab
   done by one worker, all its ops while it sits in cache), or, slab == 0,
   one op over the whole array split into independent bundles of lines. */
typedef struct mv__fft_pass {
    int first, count, slab;
} mv__fft_pass;

struct mv_fft_plan {
    int kind, inverse, ndim, h;
    unsigned axes;
    mv_fft_norm norm;
    int threads_req, threads;
    void *alloc_ctx;
    int64_t dims[MV_MAX_DIMS];  /* as given: the real shape for r2c / c2r */
    int64_t cdims[MV_MAX_DIMS]; /* the complex array (dims[h] -> dims[h]/2 + 1) */
    float scale;
    int n_ops, n_passes;
    mv__fft_op op[MV_MAX_DIMS];
    mv__fft_pass pass[MV_MAX_DIMS];
    mv__fft_line line[MV_MAX_DIMS];
    size_t in_bytes, out_bytes, inter_bytes, worker_bytes, scratch_bytes;
    void *tables;
#if defined(MEDVOL_USE_FFTW)
    fftwf_plan fw[4]; /* [aligned?][in place?] */
#endif
};

static const int64_t *mv__fft_array_dims(const mv_fft_plan *pl, int which)
{
    if (which == MV__FFT_INTER) return pl->cdims;
    if (pl->kind == MV__FFT_C2C) return pl->dims;
    if (pl->kind == MV__FFT_R2C) return which == MV__FFT_IN ? pl->dims : pl->cdims;
    return which == MV__FFT_IN ? pl->cdims : pl->dims;
}
static int mv__fft_array_floats(const mv_fft_plan *pl, int which) /* floats per element */
{
    if (pl->kind == MV__FFT_R2C && which == MV__FFT_IN) return 1;
    if (pl->kind == MV__FFT_C2R && which == MV__FFT_OUT) return 1;
    return 2;
}
static int64_t mv__fft_prod(const int64_t *d, int lo, int hi)
{
    int64_t p = 1;
    int k;
    for (k = lo; k < hi; k++) p *= d[k];
    return p;
}

/* Decides the ops (which axes, in which order, reading and writing what),
   the passes, and the buffer sizes. Geometry only, never the thread count,
   so the results do not depend on it. */
static void mv__fft_plan_layout(mv_fft_plan *pl)
{
    int order[MV_MAX_DIMS], n = 0, k, i, slab = 0, in_slab = 0;
    size_t wf = 0;
    for (k = 0; k < pl->ndim; k++) {
        if (!(pl->axes & (1u << k))) continue;
        if (k != pl->h && pl->dims[k] == 1) continue; /* length 1: the identity */
        order[n++] = k;
    }
    if (pl->kind == MV__FFT_C2R) /* c2r: the real axis (the lowest) last */
        for (i = 0; i < n / 2; i++) {
            int t = order[i];
            order[i] = order[n - 1 - i];
            order[n - 1 - i] = t;
        }
    pl->n_ops = n;
    for (i = 0; i < n; i++) {
        mv__fft_op *op = &pl->op[i];
        op->axis = order[i];
        op->kind = op->axis == pl->h ? pl->kind : MV__FFT_C2C;
        op->line = &pl->line[op->axis];
        op->scale = i == 0 ? pl->scale : 1.0f;
        if (pl->kind == MV__FFT_C2R && n > 1) {
            op->src = i == 0 ? MV__FFT_IN : MV__FFT_INTER;
            op->dst = i == n - 1 ? MV__FFT_OUT : MV__FFT_INTER;
        } else {
            op->src = i == 0 ? MV__FFT_IN : MV__FFT_OUT;
            op->dst = MV__FFT_OUT;
        }
        /* the wide width bounds the slab width too */
        if (mv__fft_worker_floats(op->line, MV__FFT_COLS_MAX) > wf) wf = mv__fft_worker_floats(op->line, MV__FFT_COLS_MAX);
    }
    /* the slab: the most low dims whose block still fits, if it holds >= 2 ops */
    for (k = pl->ndim; k >= 1; k--) {
        int cnt = 0;
        if ((size_t)mv__fft_prod(pl->cdims, 0, k) * 8 > MV__FFT_SLAB_BYTES) continue;
        for (i = 0; i < n; i++) cnt += pl->op[i].axis < k;
        if (cnt >= 2) {
            slab = k;
            in_slab = cnt;
        }
        break;
    }
    /* c2c / r2c run the ops upwards, so the slab ops come first; c2r runs
       them downwards (its real axis, the lowest, last), so they come last */
    pl->n_passes = 0;
    {
        int slab_first = pl->kind == MV__FFT_C2R ? n - in_slab : 0;
        for (i = 0; i < n; i++) {
            mv__fft_pass *ps = &pl->pass[pl->n_passes];
            if (slab && i == slab_first) {
                ps->first = i;
                ps->count = in_slab;
                ps->slab = slab;
                pl->n_passes++;
                i += in_slab - 1;
                continue;
            }
            ps->first = i;
            ps->count = 1;
            ps->slab = 0;
            pl->n_passes++;
        }
    }
    pl->in_bytes = (size_t)mv__fft_prod(mv__fft_array_dims(pl, MV__FFT_IN), 0, pl->ndim) * 4 * mv__fft_array_floats(pl, MV__FFT_IN);
    pl->out_bytes = (size_t)mv__fft_prod(mv__fft_array_dims(pl, MV__FFT_OUT), 0, pl->ndim) * 4 * mv__fft_array_floats(pl, MV__FFT_OUT);
    pl->inter_bytes = pl->kind == MV__FFT_C2R && n > 1 ? mv__fft_round64((size_t)mv__fft_prod(pl->cdims, 0, pl->ndim) * 8) : 0;
    pl->worker_bytes = mv__fft_round64(wf * sizeof(float));
    pl->scratch_bytes = 64 + pl->inter_bytes + (size_t)pl->threads * pl->worker_bytes;
}

/* The numpy norm: 1, 1/sqrt(N) or 1/N on the forward or the inverse side. */
static float mv__fft_norm_scale(mv_fft_norm norm, int inverse, double N)
{
    if (norm == MV_FFT_ORTHO) return (float)(1.0 / sqrt(N));
    if ((norm == MV_FFT_BACKWARD) == (inverse != 0)) return (float)(1.0 / N);
    return 1.0f;
}

#if defined(MEDVOL_USE_FFTW)
static mv_status mv__fftw_plan_make(mv_fft_plan *pl);
static void mv__fftw_plan_free(mv_fft_plan *pl);
#endif

MVDEF void mv_fft_plan_free(mv_fft_plan *plan)
{
    void *ctx;
    if (!plan) return;
    ctx = plan->alloc_ctx;
#if defined(MEDVOL_USE_FFTW)
    mv__fftw_plan_free(plan);
#endif
    mv__free(plan->tables, ctx);
    mv__free(plan, ctx);
}

static mv_status mv__fft_plan_new(mv_fft_plan **plan, int kind, int ndim, const int64_t *dims, unsigned axes, int inverse,
                                  const mv_fft_opts *opts)
{
    static const char *const names[] = {"mv_fft_plan_c2c", "mv_fft_plan_r2c", "mv_fft_plan_c2r"};
    const char *fn = names[kind];
    mv_fft_plan *pl;
    void *ctx = opts ? opts->alloc_ctx : NULL;
    uint64_t total = 1, bytes, tb = 0;
    double N = 1;
    int k;
    mv__fft_arena a;
    mv_status st;
    MV__CHECK(plan, MV_ERR_INVALID_ARG, "%s: plan is NULL", fn);
    *plan = NULL;
    MV__CHECK(ndim >= 1 && ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG, "%s: ndim %d (1..%d)", fn, ndim, MV_MAX_DIMS);
    MV__CHECK(dims, MV_ERR_INVALID_ARG, "%s: dims is NULL", fn);
    MV__CHECK(axes != 0 && (axes >> ndim) == 0, MV_ERR_INVALID_ARG, "%s: axes 0x%x (bits 0..%d, at least one)", fn, axes,
              ndim - 1);
    MV__CHECK(!opts || ((unsigned)opts->norm <= MV_FFT_FORWARD && opts->threads >= 0), MV_ERR_INVALID_ARG,
              "%s: opts.norm %d / opts.threads %d", fn, opts ? (int)opts->norm : 0, opts ? opts->threads : 0);
    for (k = 0; k < ndim; k++) {
        MV__CHECK(dims[k] >= 1, MV_ERR_INVALID_ARG, "%s: dims[%d] = %lld", fn, k, (long long)dims[k]);
        MV__CHECK(mv__mul_u64(total, (uint64_t)dims[k], &total), MV_ERR_SIZE_OVERFLOW, "%s: dims overflow", fn);
        if (axes & (1u << k)) N *= (double)dims[k];
    }
    MV__CHECK(mv__mul_u64(total, 8, &bytes) && bytes <= (uint64_t)PTRDIFF_MAX / 4 && mv__fits_size(bytes * 4),
              MV_ERR_SIZE_OVERFLOW, "%s: %llu elements is too many", fn, (unsigned long long)total);
    pl = (mv_fft_plan *)mv__alloc_zero(sizeof(*pl), ctx);
    MV__CHECK(pl, MV_ERR_OUT_OF_MEMORY, "%s: plan", fn);
    pl->kind = kind;
    pl->inverse = kind == MV__FFT_C2C ? inverse != 0 : kind == MV__FFT_C2R;
    pl->ndim = ndim;
    pl->axes = axes;
    pl->norm = opts ? opts->norm : MV_FFT_BACKWARD;
    pl->threads_req = opts ? opts->threads : 0;
    pl->threads = mv__resolve_threads(pl->threads_req);
    pl->alloc_ctx = ctx;
    pl->h = -1;
    for (k = 0; k < ndim; k++) pl->dims[k] = pl->cdims[k] = dims[k];
    if (kind != MV__FFT_C2C) {
        for (k = 0; !(axes & (1u << k)); k++) {
        }
        pl->h = k;
        pl->cdims[k] = dims[k] / 2 + 1;
    }
    pl->scale = mv__fft_norm_scale(pl->norm, pl->inverse, N);
    for (k = 0; k < ndim; k++)
        if (axes & (1u << k)) tb += mv__fft_line_bytes((ptrdiff_t)dims[k]);
    pl->tables = mv__alloc(tb ? (size_t)tb : 64, ctx);
    if (!pl->tables) {
        mv__free(pl, ctx);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: %llu bytes of twiddles", fn, (unsigned long long)tb);
    }
    a.p = (unsigned char *)pl->tables;
    a.used = 0;
    a.cap = (size_t)tb;
    for (k = 0; k < ndim; k++)
        if (axes & (1u << k)) {
            st = mv__fft_line_build(&pl->line[k], (ptrdiff_t)dims[k], pl->inverse ? 1 : -1, &a, ctx);
            if (st != MV_OK) {
                mv_fft_plan_free(pl);
                return st;
            }
        }
    mv__fft_plan_layout(pl);
#if defined(MEDVOL_USE_FFTW)
    st = mv__fftw_plan_make(pl);
    if (st != MV_OK) {
        mv_fft_plan_free(pl);
        return st;
    }
#endif
    *plan = pl;
    return MV_OK;
}

MVDEF mv_status mv_fft_plan_c2c(mv_fft_plan **plan, int ndim, const int64_t *dims, unsigned axes, int inverse,
                                const mv_fft_opts *opts)
{
    return mv__fft_plan_new(plan, MV__FFT_C2C, ndim, dims, axes, inverse, opts);
}
MVDEF mv_status mv_fft_plan_r2c(mv_fft_plan **plan, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts)
{
    return mv__fft_plan_new(plan, MV__FFT_R2C, ndim, dims, axes, 0, opts);
}
MVDEF mv_status mv_fft_plan_c2r(mv_fft_plan **plan, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts)
{
    return mv__fft_plan_new(plan, MV__FFT_C2R, ndim, dims, axes, 1, opts);
}

MVDEF size_t mv_fft_scratch_size(const mv_fft_plan *plan) { return plan ? plan->scratch_bytes : 0; }

/* ---- executing: ops over regions, split into items ---- */

/* How one op's lines fall into kernel calls on a region, for one ISA.
   Column mode (inner >= one vector of lanes): per block, full bundles of
   wfull vectors, one bundle of wpart vectors, and a group of the `left`
   columns. Line mode: all lines of the region in groups of a vector. */
typedef struct mv__fft_items {
    const mv__fft_op *op;
    const mv__fft_ops *ops;
    ptrdiff_t n_in, n_out, inner, outer;
    int in_f, out_f;         /* floats per column */
    ptrdiff_t in_bs, out_bs; /* floats per block */
    int lane_cols;           /* columns per lane: 1 complex, 2 real */
    int cols;                /* column mode */
    int bundle_cols;         /* complex columns (or real column pairs) per full bundle */
    ptrdiff_t wfull, nfull, wpart, left, per_block, count;
} mv__fft_items;

static void mv__fft_items_init(mv__fft_items *it, const mv_fft_plan *pl, const mv__fft_op *op, const mv__fft_ops *ops,
                               int region_dims, int cols)
{
    const int64_t *din = mv__fft_array_dims(pl, op->src), *dout = mv__fft_array_dims(pl, op->dst);
    const int k = op->axis;
    ptrdiff_t group, bundle;
    it->op = op;
    it->ops = ops;
    it->in_f = mv__fft_array_floats(pl, op->src);
    it->out_f = mv__fft_array_floats(pl, op->dst);
    it->n_in = (ptrdiff_t)din[k];
    it->n_out = (ptrdiff_t)dout[k];
    it->inner = (ptrdiff_t)mv__fft_prod(dout, 0, k);
    it->outer = (ptrdiff_t)mv__fft_prod(dout, k + 1, region_dims);
    it->in_bs = it->inner * it->in_f * it->n_in;
    it->out_bs = it->inner * it->out_f * it->n_out;
    it->lane_cols = op->kind == MV__FFT_C2C ? 1 : 2;
    group = (ptrdiff_t)it->lane_cols * ops->lanes;
    it->cols = it->inner >= group;
    it->bundle_cols = mv__fft_bundle_cols(op->line, cols);
    if (it->cols) {
        it->wfull = it->bundle_cols / ops->lanes;
        bundle = group * it->wfull;
        it->nfull = it->inner / bundle;
        it->wpart = it->inner % bundle / group;
        it->left = it->inner % group;
        it->per_block = it->nfull + (it->wpart > 0) + (it->left > 0);
        it->count = it->outer * it->per_block;
    } else {
        it->count = (it->inner * it->outer + group - 1) / group;
    }
}

/* Runs items [b, e) of an op on a region. */
static void mv__fft_items_run(const mv__fft_items *it, const mv__fft_axctx *ax, const float *in, float *out, ptrdiff_t b,
                              ptrdiff_t e)
{
    const int kind = it->op->kind, group_lines = it->lane_cols * it->ops->lanes;
    ptrdiff_t item;
    for (item = b; item < e; item++) {
        mv__fft_group g;
        int l;
        if (it->cols) {
            ptrdiff_t blk = item / it->per_block, r = item % it->per_block, col;
            const float *bi = in + blk * it->in_bs;
            float *bo = out + blk * it->out_bs;
            if (r < it->nfull || (r == it->nfull && it->wpart)) {
                int w = (int)(r < it->nfull ? it->wfull : it->wpart);
                col = r * group_lines * it->wfull;
                it->ops->cols[kind](ax, bi + col * it->in_f, bo + col * it->out_f, w);
                continue;
            }
            col = it->inner - it->left;
            g.count = (int)it->left;
            g.rows = 0;
            for (l = 0; l < g.count; l++) {
                g.in_off[l] = blk * it->in_bs + (col + l) * it->in_f;
                g.out_off[l] = blk * it->out_bs + (col + l) * it->out_f;
            }
        } else {
            ptrdiff_t first = item * group_lines, lines = it->inner * it->outer;
            g.count = (int)MV__MIN((ptrdiff_t)group_lines, lines - first);
            g.rows = it->inner == 1 && g.count == group_lines;
            for (l = 0; l < g.count; l++) {
                ptrdiff_t q = first + l, blk = q / it->inner, i = q % it->inner;
                g.in_off[l] = blk * it->in_bs + i * it->in_f;
                g.out_off[l] = blk * it->out_bs + i * it->out_f;
            }
        }
        it->ops->group[kind](ax, in, out, &g);
    }
}

typedef struct mv__fft_job {
    const mv_fft_plan *pl;
    const mv__fft_ops *ops;
    const mv__fft_pass *pass;
    const float *arr_in[3];
    float *arr_out[3];
    unsigned char *workers;
    mv__fft_items items; /* whole-array passes */
} mv__fft_job;

static void mv__fft_axctx_init(mv__fft_axctx *ax, const mv__fft_job *job, const mv__fft_op *op, const mv__fft_items *it,
                               int worker)
{
    float *wb = (float *)(void *)(job->workers + (size_t)worker * job->pl->worker_bytes);
    size_t g = mv__fft_worker_g(op->line, it->bundle_cols);
    ax->line = op->line;
    ax->in_es = it->inner * it->in_f;
    ax->out_es = it->inner * it->out_f;
    ax->scale = op->scale;
    ax->g0 = wb;
    ax->g1 = wb + g;
    ax->work = wb + 2 * g;
}

/* slab pass: each slab through all of its ops on one worker */
static void mv__fft_slab_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__fft_job *job = (const mv__fft_job *)ctx;
    const mv_fft_plan *pl = job->pl;
    int i;
    for (i = 0; i < job->pass->count; i++) {
        const mv__fft_op *op = &pl->op[job->pass->first + i];
        const int K = job->pass->slab;
        const ptrdiff_t in_pitch = (ptrdiff_t)mv__fft_prod(mv__fft_array_dims(pl, op->src), 0, K) * mv__fft_array_floats(pl, op->src);
        const ptrdiff_t out_pitch = (ptrdiff_t)mv__fft_prod(mv__fft_array_dims(pl, op->dst), 0, K) * mv__fft_array_floats(pl, op->dst);
        mv__fft_items it;
        mv__fft_axctx ax;
        int64_t s;
        mv__fft_items_init(&it, pl, op, job->ops, K, MV__FFT_COLS_SLAB);
        mv__fft_axctx_init(&ax, job, op, &it, worker);
        for (s = b; s < e; s++)
            mv__fft_items_run(&it, &ax, job->arr_in[op->src] + s * in_pitch, job->arr_out[op->dst] + s * out_pitch, 0, it.count);
    }
}

static void mv__fft_items_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__fft_job *job = (const mv__fft_job *)ctx;
    const mv__fft_op *op = job->items.op;
    mv__fft_axctx ax;
    mv__fft_axctx_init(&ax, job, op, &job->items, worker);
    mv__fft_items_run(&job->items, &ax, job->arr_in[op->src], job->arr_out[op->dst], (ptrdiff_t)b, (ptrdiff_t)e);
}

/* c2c with every transformed length 1: a (scaled) copy */
static void mv__fft_copy_scaled(const float *in, float *out, size_t n, float scale)
{
    size_t i;
    if (scale == 1.0f) {
        if (in != out) memmove(out, in, n * sizeof(float));
        return;
    }
    for (i = 0; i < n; i++) out[i] = in[i] * scale;
}

static int mv__fft_overlap(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + nb && y < x + na;
}

#if defined(MEDVOL_USE_FFTW)
static mv_status mv__fftw_execute(const mv_fft_plan *pl, const void *in, void *out, void *scratch);
#endif

/* The native engine: pass after pass, each split over the worker pool. */
static MV__UNUSED mv_status mv__fft_execute_native(const mv_fft_plan *plan, const void *in, void *out, void *scratch)
{
    unsigned char *s = (unsigned char *)scratch + ((64 - ((uintptr_t)scratch & 63)) & 63);
    mv__fft_job job;
    int p, nt;
    if (plan->n_ops == 0) {
        mv__fft_copy_scaled((const float *)in, (float *)out, plan->out_bytes / 4, plan->scale);
        return MV_OK;
    }
    job.pl = plan;
    job.ops = mv__fft_ops_active();
    job.arr_in[MV__FFT_IN] = (const float *)in;
    job.arr_out[MV__FFT_IN] = NULL;
    job.arr_in[MV__FFT_OUT] = job.arr_out[MV__FFT_OUT] = (float *)out;
    job.arr_in[MV__FFT_INTER] = job.arr_out[MV__FFT_INTER] = (float *)(void *)s;
    job.workers = s + plan->inter_bytes;
    nt = mv__threads_for_bytes(plan->threads, (uint64_t)plan->in_bytes + plan->out_bytes);
    for (p = 0; p < plan->n_passes; p++) {
        job.pass = &plan->pass[p];
        if (job.pass->slab) {
            mv__parallel_for(mv__fft_prod(plan->cdims, job.pass->slab, plan->ndim), 1, nt, mv__fft_slab_range, &job);
        } else {
            mv__fft_items_init(&job.items, plan, &plan->op[job.pass->first], job.ops, plan->ndim, MV__FFT_COLS_WIDE);
            mv__parallel_for(job.items.count, 1, nt, mv__fft_items_range, &job);
        }
    }
    return MV_OK;
}

MVDEF mv_status mv_fft_execute_into(const mv_fft_plan *plan, const void *in, void *out, void *scratch)
{
    MV__CHECK(plan && in && out && scratch, MV_ERR_INVALID_ARG, "mv_fft_execute: NULL %s",
              !plan ? "plan" : !in ? "in" : !out ? "out" : "scratch");
    if (plan->kind == MV__FFT_C2C)
        MV__CHECK(in == out || !mv__fft_overlap(in, plan->in_bytes, out, plan->out_bytes), MV_ERR_INVALID_ARG,
                  "mv_fft_execute: in and out overlap without being equal");
    else
        MV__CHECK(!mv__fft_overlap(in, plan->in_bytes, out, plan->out_bytes), MV_ERR_INVALID_ARG,
                  "mv_fft_execute: r2c / c2r cannot run in place (in and out overlap)");
#if defined(MEDVOL_USE_FFTW)
    return mv__fftw_execute(plan, in, out, scratch);
#else
    return mv__fft_execute_native(plan, in, out, scratch);
#endif
}

MVDEF mv_status mv_fft_execute(const mv_fft_plan *plan, const void *in, void *out)
{
    void *scratch;
    mv_status st;
    MV__CHECK(plan, MV_ERR_INVALID_ARG, "mv_fft_execute: plan is NULL");
    scratch = mv__alloc(plan->scratch_bytes, plan->alloc_ctx);
    MV__CHECK(scratch, MV_ERR_OUT_OF_MEMORY, "mv_fft_execute: %llu bytes of scratch", (unsigned long long)plan->scratch_bytes);
    st = mv_fft_execute_into(plan, in, out, scratch);
    mv__free(scratch, plan->alloc_ctx);
    return st;
}

/* ---- the plan cache of the one-call forms ----
   A few recent plans, keyed by everything that makes them; a plan in use is
   pinned (refs) so eviction never frees it under another thread. */
#define MV__FFT_CACHE_SLOTS 16
typedef struct mv__fft_cache_slot {
    mv_fft_plan *plan;
    int refs;
    uint64_t used;
} mv__fft_cache_slot;
static mv__fft_cache_slot mv__fft_cache[MV__FFT_CACHE_SLOTS];
static uint64_t mv__fft_cache_clock;
#if defined(MV__HAVE_THREADS)
static pthread_mutex_t mv__fft_cache_mu = PTHREAD_MUTEX_INITIALIZER;
#define MV__FFT_LOCK() pthread_mutex_lock(&mv__fft_cache_mu)
#define MV__FFT_UNLOCK() pthread_mutex_unlock(&mv__fft_cache_mu)
#else
#define MV__FFT_LOCK() ((void)0)
#define MV__FFT_UNLOCK() ((void)0)
#endif

static int mv__fft_plan_matches(const mv_fft_plan *pl, int kind, int ndim, const int64_t *dims, unsigned axes, int inverse,
                                const mv_fft_opts *opts)
{
    int k;
    if (pl->kind != kind || pl->ndim != ndim || pl->axes != axes) return 0;
    if (kind == MV__FFT_C2C && pl->inverse != (inverse != 0)) return 0;
    if (pl->norm != (opts ? opts->norm : MV_FFT_BACKWARD) || pl->threads_req != (opts ? opts->threads : 0)) return 0;
    if (pl->alloc_ctx != (opts ? opts->alloc_ctx : NULL)) return 0;
    for (k = 0; k < ndim; k++)
        if (pl->dims[k] != dims[k]) return 0;
    return 1;
}

/* A plan for the call, from the cache or new (then cached if a slot is free
   or holds an idle plan). *cached says whether mv__fft_cache_release must
   unpin it or free it. */
static mv_status mv__fft_cache_acquire(mv_fft_plan **plan, int *cached, int kind, int ndim, const int64_t *dims,
                                       unsigned axes, int inverse, const mv_fft_opts *opts)
{
    int i, victim = -1;
    mv_fft_plan *pl;
    MV__FFT_LOCK();
    for (i = 0; i < MV__FFT_CACHE_SLOTS; i++) {
        mv__fft_cache_slot *s = &mv__fft_cache[i];
        if (s->plan && mv__fft_plan_matches(s->plan, kind, ndim, dims, axes, inverse, opts)) {
            s->refs++;
            s->used = ++mv__fft_cache_clock;
            *plan = s->plan;
            *cached = 1;
            MV__FFT_UNLOCK();
            return MV_OK;
        }
    }
    MV__FFT_UNLOCK();
    MV__TRY(mv__fft_plan_new(&pl, kind, ndim, dims, axes, inverse, opts));
    MV__FFT_LOCK();
    for (i = 0; i < MV__FFT_CACHE_SLOTS; i++) {
        mv__fft_cache_slot *s = &mv__fft_cache[i];
        if (!s->plan) {
            victim = i;
            break;
        }
        if (s->refs == 0 && (victim < 0 || s->used < mv__fft_cache[victim].used)) victim = i;
    }
    *cached = victim >= 0;
    if (victim >= 0) {
        mv__fft_cache_slot *s = &mv__fft_cache[victim];
        mv_fft_plan *old = s->plan;
        s->plan = pl;
        s->refs = 1;
        s->used = ++mv__fft_cache_clock;
        MV__FFT_UNLOCK();
        mv_fft_plan_free(old);
    } else {
        MV__FFT_UNLOCK();
    }
    *plan = pl;
    return MV_OK;
}

static void mv__fft_cache_release(mv_fft_plan *plan, int cached)
{
    int i;
    if (!cached) {
        mv_fft_plan_free(plan);
        return;
    }
    MV__FFT_LOCK();
    for (i = 0; i < MV__FFT_CACHE_SLOTS; i++)
        if (mv__fft_cache[i].plan == plan) mv__fft_cache[i].refs--;
    MV__FFT_UNLOCK();
}

MVDEF void mv_fft_cache_clear(void)
{
    mv_fft_plan *freed[MV__FFT_CACHE_SLOTS];
    int i, n = 0;
    MV__FFT_LOCK();
    for (i = 0; i < MV__FFT_CACHE_SLOTS; i++)
        if (mv__fft_cache[i].plan && mv__fft_cache[i].refs == 0) {
            freed[n++] = mv__fft_cache[i].plan;
            mv__fft_cache[i].plan = NULL;
        }
    MV__FFT_UNLOCK();
    for (i = 0; i < n; i++) mv_fft_plan_free(freed[i]);
}

static mv_status mv__fft_oneshot(int kind, const void *in, void *out, int ndim, const int64_t *dims, unsigned axes, int inverse,
                                 const mv_fft_opts *opts)
{
    mv_fft_plan *pl;
    int cached;
    mv_status st;
    MV__TRY(mv__fft_cache_acquire(&pl, &cached, kind, ndim, dims, axes, inverse, opts));
    st = mv_fft_execute(pl, in, out);
    mv__fft_cache_release(pl, cached);
    return st;
}

MVDEF mv_status mv_fft_c2c(const void *in, void *out, int ndim, const int64_t *dims, unsigned axes, int inverse,
                           const mv_fft_opts *opts)
{
    return mv__fft_oneshot(MV__FFT_C2C, in, out, ndim, dims, axes, inverse, opts);
}
MVDEF mv_status mv_fft_r2c(const float *in, void *out, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts)
{
    return mv__fft_oneshot(MV__FFT_R2C, in, out, ndim, dims, axes, 0, opts);
}
MVDEF mv_status mv_fft_c2r(const void *in, float *out, int ndim, const int64_t *dims, unsigned axes, const mv_fft_opts *opts)
{
    return mv__fft_oneshot(MV__FFT_C2R, in, out, ndim, dims, axes, 1, opts);
}

/* ---- MEDVOL_USE_FFTW: the same API on fftwf ----
   The guru interface takes our strides as they are; r2c/c2r halve the last
   of its dims, so the halved axis h goes last. Four plans per call shape
   (aligned or not, in place or not) are made up front with FFTW_ESTIMATE,
   since fftwf_execute_dft needs a plan whose alignment and in-placeness
   match the arrays. FFTW's planner is not thread-safe: it runs under the
   cache mutex. c2r destroys its input in FFTW, so it works on a copy. */
#if defined(MEDVOL_USE_FFTW)
static int mv__fftw_threads_ready;

static void mv__fftw_dims(const mv_fft_plan *pl, fftwf_iodim *tr, int *ntr, fftwf_iodim *hm, int *nhm)
{
    const int64_t *din = mv__fft_array_dims(pl, MV__FFT_IN), *dout = mv__fft_array_dims(pl, MV__FFT_OUT);
    int k;
    *ntr = *nhm = 0;
    for (k = pl->ndim - 1; k >= 0; k--) {
        fftwf_iodim d;
        d.n = (int)pl->dims[k];
        d.is = (int)mv__fft_prod(din, 0, k);
        d.os = (int)mv__fft_prod(dout, 0, k);
        if (pl->axes & (1u << k)) {
            if (k != pl->h) tr[(*ntr)++] = d;
        } else {
            hm[(*nhm)++] = d;
        }
    }
    if (pl->h >= 0) { /* the halved axis last */
        fftwf_iodim d;
        d.n = (int)pl->dims[pl->h];
        d.is = (int)mv__fft_prod(din, 0, pl->h);
        d.os = (int)mv__fft_prod(dout, 0, pl->h);
        tr[(*ntr)++] = d;
    }
}

static fftwf_plan mv__fftw_make_one(const mv_fft_plan *pl, void *in, void *out, unsigned flags)
{
    fftwf_iodim tr[MV_MAX_DIMS], hm[MV_MAX_DIMS];
    int ntr, nhm;
    mv__fftw_dims(pl, tr, &ntr, hm, &nhm);
    if (pl->kind == MV__FFT_C2C)
        return fftwf_plan_guru_dft(ntr, tr, nhm, hm, (fftwf_complex *)in, (fftwf_complex *)out,
                                   pl->inverse ? FFTW_BACKWARD : FFTW_FORWARD, flags);
    if (pl->kind == MV__FFT_R2C) return fftwf_plan_guru_dft_r2c(ntr, tr, nhm, hm, (float *)in, (fftwf_complex *)out, flags);
    return fftwf_plan_guru_dft_c2r(ntr, tr, nhm, hm, (fftwf_complex *)in, (float *)out, flags);
}

static mv_status mv__fftw_plan_make(mv_fft_plan *pl)
{
    size_t big = MV__MAX(pl->in_bytes, pl->out_bytes);
    float *a, *b;
    int i, ok = 1;
    MV__CHECK(mv__fft_prod(pl->dims, 0, pl->ndim) <= INT_MAX / 2, MV_ERR_UNSUPPORTED,
              "MEDVOL_USE_FFTW: FFTW's guru interface takes int sizes and strides");
    a = (float *)fftwf_malloc(big + 64);
    b = (float *)fftwf_malloc(big + 64);
    if (!a || !b) {
        fftwf_free(a);
        fftwf_free(b);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "MEDVOL_USE_FFTW: planning arrays");
    }
    MV__FFT_LOCK();
    if (!mv__fftw_threads_ready) {
        fftwf_init_threads();
        mv__fftw_threads_ready = 1;
    }
    fftwf_plan_with_nthreads(pl->threads);
    for (i = 0; i < 4; i++) {
        int aligned = !(i & 2), inplace = i & 1;
        unsigned flags = FFTW_ESTIMATE | (aligned ? 0u : (unsigned)FFTW_UNALIGNED);
        float *src = aligned ? a : a + 1, *dst = inplace ? src : aligned ? b : b + 1;
        pl->fw[i] = NULL;
        if (inplace && pl->kind != MV__FFT_C2C) continue;
        pl->fw[i] = mv__fftw_make_one(pl, src, dst, flags);
        if (!pl->fw[i]) ok = 0;
    }
    MV__FFT_UNLOCK();
    fftwf_free(a);
    fftwf_free(b);
    if (pl->kind == MV__FFT_C2R) {
        pl->inter_bytes = mv__fft_round64(pl->in_bytes);
        pl->scratch_bytes = 64 + pl->inter_bytes;
    } else {
        pl->inter_bytes = 0;
        pl->scratch_bytes = 64;
    }
    return ok ? MV_OK : mv__fail(MV_ERR_UNSUPPORTED, "MEDVOL_USE_FFTW: fftwf planner refused the transform");
}

static void mv__fftw_plan_free(mv_fft_plan *pl)
{
    int i;
    MV__FFT_LOCK();
    for (i = 0; i < 4; i++)
        if (pl->fw[i]) fftwf_destroy_plan(pl->fw[i]);
    MV__FFT_UNLOCK();
}

typedef struct mv__fftw_scale_job {
    float *p;
    float s;
} mv__fftw_scale_job;
static void mv__fftw_scale_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__fftw_scale_job *j = (const mv__fftw_scale_job *)ctx;
    int64_t i;
    (void)worker;
    for (i = b; i < e; i++) j->p[i] *= j->s;
}

static mv_status mv__fftw_execute(const mv_fft_plan *pl, const void *in, void *out, void *scratch)
{
    int aligned = fftwf_alignment_of((float *)(uintptr_t)in) == 0 && fftwf_alignment_of((float *)out) == 0;
    int inplace = in == out;
    float *src = (float *)(uintptr_t)in;
    fftwf_plan p;
    if (pl->kind == MV__FFT_C2R) { /* FFTW's c2r overwrites its input */
        float *copy = (float *)(void *)((unsigned char *)scratch + ((64 - ((uintptr_t)scratch & 63)) & 63));
        memcpy(copy, in, pl->in_bytes);
        src = copy;
        aligned = aligned && fftwf_alignment_of(copy) == 0;
    }
    p = pl->fw[(aligned ? 0 : 2) + inplace];
    if (pl->kind == MV__FFT_C2C) fftwf_execute_dft(p, (fftwf_complex *)src, (fftwf_complex *)out);
    else if (pl->kind == MV__FFT_R2C) fftwf_execute_dft_r2c(p, src, (fftwf_complex *)out);
    else fftwf_execute_dft_c2r(p, (fftwf_complex *)src, (float *)out);
    if (pl->scale != 1.0f) {
        mv__fftw_scale_job j;
        j.p = (float *)out;
        j.s = pl->scale;
        mv__parallel_for((int64_t)(pl->out_bytes / 4), 1 << 16, mv__threads_for_bytes(pl->threads, pl->out_bytes),
                         mv__fftw_scale_range, &j);
    }
    return MV_OK;
}
#endif /* MEDVOL_USE_FFTW */

/* >>impl-mri =============================================================== */

/* The kernels of the active ISA (the kernel table; mv_set_isa refills it). */
static const mv__mri_ops *mv__mri_ops_active(void) { return mv__kernels_get()->mri; }

static const mv_mri_opts *mv__mri_opts_or_default(const mv_mri_opts *opts, mv_mri_opts *tmp)
{
    if (opts) return opts;
    memset(tmp, 0, sizeof(*tmp));
    return tmp;
}

/* Shape of an MRI volume: voxels per coil volume (x*y*z), coils (dims[3]),
   volumes in the batch (dims[4..]). */
typedef struct mv__mri_shape {
    int64_t nvox, nc, nbatch;
} mv__mri_shape;

static mv__mri_shape mv__mri_shape_of(const mv_vol *v)
{
    mv__mri_shape s;
    int a;
    s.nvox = v->dim[0] * v->dim[1] * v->dim[2];
    s.nc = v->ndim > MV_COIL_AXIS ? v->dim[MV_COIL_AXIS] : 1;
    s.nbatch = 1;
    for (a = MV_COIL_AXIS + 1; a < v->ndim; a++) s.nbatch *= v->dim[a];
    return s;
}

/* A volume the kernels may touch: data, sane dims, a product that fits. */
static mv_status mv__mri_check_vol(const mv_vol *v, const char *fn, const char *what)
{
    uint64_t n = 1;
    int a;
    MV__CHECK(v != NULL, MV_ERR_INVALID_ARG, "%s: %s is NULL", fn, what);
    MV__CHECK(v->ndim >= 1 && v->ndim <= MV_MAX_DIMS, MV_ERR_INVALID_ARG, "%s: %s has ndim %d", fn, what, v->ndim);
    for (a = 0; a < MV_MAX_DIMS; a++) {
        MV__CHECK(v->dim[a] >= 1 && (a < v->ndim || v->dim[a] == 1), MV_ERR_INVALID_ARG, "%s: %s dims[%d] = %lld",
                  fn, what, a, (long long)v->dim[a]);
        MV__CHECK(mv__mul_u64(n, (uint64_t)v->dim[a], &n), MV_ERR_SIZE_OVERFLOW, "%s: %s voxel count overflows",
                  fn, what);
    }
    MV__CHECK(mv_dtype_size(v->dtype) > 0, MV_ERR_INVALID_ARG, "%s: %s has no dtype", fn, what);
    MV__CHECK(mv__mul_u64(n, mv_dtype_size(v->dtype), &n) && mv__fits_size(n), MV_ERR_SIZE_OVERFLOW,
              "%s: %s byte count overflows", fn, what);
    MV__CHECK(v->data != NULL, MV_ERR_INVALID_ARG, "%s: %s has no data", fn, what);
    return MV_OK;
}

static mv_status mv__mri_check_c64(const mv_vol *v, const char *fn, const char *what)
{
    MV__TRY(mv__mri_check_vol(v, fn, what));
    MV__CHECK(v->dtype == MV_DT_C64, MV_ERR_UNSUPPORTED, "%s: %s is %s, complex64 needed", fn, what,
              mv_dtype_name(v->dtype));
    return MV_OK;
}

/* out must have in's spatial dims and (count check) one value per voxel of
   each batch volume: the coil axis dropped or kept at 1. */
static mv_status mv__mri_check_out(const mv_vol *in, const mv_vol *out, mv_dtype dt, const char *fn)
{
    mv__mri_shape s = mv__mri_shape_of(in);
    int a;
    MV__TRY(mv__mri_check_vol(out, fn, "out"));
    MV__CHECK(out->dtype == dt, MV_ERR_INVALID_ARG, "%s: out is %s, %s needed", fn, mv_dtype_name(out->dtype),
              mv_dtype_name(dt));
    for (a = 0; a < 3; a++)
        MV__CHECK(out->dim[a] == in->dim[a], MV_ERR_INVALID_ARG, "%s: out dims[%d] = %lld, input has %lld", fn, a,
                  (long long)out->dim[a], (long long)in->dim[a]);
    MV__CHECK(mv_vol_count(out) == s.nvox * s.nbatch, MV_ERR_INVALID_ARG,
              "%s: out has %lld voxels, %lld needed (x*y*z times the batch dims[4..])", fn,
              (long long)mv_vol_count(out), (long long)(s.nvox * s.nbatch));
    return MV_OK;
}

/* New output volume: in's geometry and metadata, dtype dt, and either the
   same dims (drop_coil 0) or dims with the coil axis removed. */
static mv_status mv__mri_alloc_like(const mv_vol *in, mv_dtype dt, int drop_coil, mv_vol *out, void *ctx,
                                    const char *fn)
{
    mv_vol t;
    int a, nd = in->ndim;
    size_t bytes;
    t = *in;
    t.data = NULL;
    t.flags = 0;
    t.mem_base = NULL;
    t.mem_size = 0;
    t.alloc_ctx = ctx; /* extensions and data both belong to the call's allocator */
    MV__TRY(mv__copy_extensions(&t.meta, in->meta.ext, in->meta.n_ext, ctx));
    t.dtype = dt;
    if (drop_coil && in->ndim > MV_COIL_AXIS) {
        for (a = MV_COIL_AXIS; a < MV_MAX_DIMS - 1; a++) {
            t.dim[a] = t.dim[a + 1];
            t.spacing[a] = t.spacing[a + 1];
        }
        t.dim[MV_MAX_DIMS - 1] = 1;
        t.spacing[MV_MAX_DIMS - 1] = 1;
        nd = in->ndim - 1;
    }
    t.ndim = nd;
    bytes = (size_t)mv_vol_count(&t) * mv_dtype_size(dt);
    t.data = mv__alloc(bytes, ctx);
    if (!t.data) {
        mv__free_extensions(&t.meta, ctx);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: %zu bytes", fn, bytes);
    }
    t.flags = MV_VOL_OWNED;
    t.mem_base = t.data;
    t.mem_size = bytes;
    t.meta.scl_slope = 1;
    t.meta.scl_inter = 0;
    *out = t; /* the caller commits it (mv__out_commit) once filled */
    return MV_OK;
}

/* ---- fftshift / ifftshift ------------------------------------------------ */

typedef struct mv__shift_job {
    const unsigned char *in;
    unsigned char *out;
    size_t esz;
    int ndim;
    int64_t dims[MV_MAX_DIMS];
    int64_t src_off[MV_MAX_DIMS]; /* source index = (i + src_off) mod n; 0 on unshifted axes */
    int64_t nlines;
} mv__shift_job;

/* decodes a line number (over dims[1..]) into indices, shifted per axis, and
   returns the shifted line's number */
static int64_t mv__shift_src_line(const mv__shift_job *j, int64_t line)
{
    int64_t src = 0, mul = 1;
    int a;
    for (a = 1; a < j->ndim; a++) {
        int64_t n = j->dims[a], i = line % n;
        line /= n;
        src += ((i + j->src_off[a]) % n) * mul;
        mul *= n;
    }
    return src;
}

/* out of place: each output line is one or two segments of a source line */
static void mv__shift_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__shift_job *j = (const mv__shift_job *)ctx;
    size_t row = (size_t)j->dims[0] * j->esz, k = (size_t)j->src_off[0] * j->esz;
    int64_t l;
    (void)worker;
    for (l = b; l < e; l++) {
        const unsigned char *src = j->in + (size_t)mv__shift_src_line(j, l) * row;
        unsigned char *dst = j->out + (size_t)l * row;
        memcpy(dst, src + k, row - k);
        memcpy(dst + (row - k), src, k);
    }
}

/* in place, every shifted axis even: the map is an involution, so line l
   and its partner swap (each pair once, by the lower number); a line that
   is its own partner (no outer axis shifted) swaps its halves. */
static void mv__shift_inplace_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__shift_job *j = (const mv__shift_job *)ctx;
    size_t row = (size_t)j->dims[0] * j->esz, k = (size_t)j->src_off[0] * j->esz, i;
    int64_t l;
    unsigned char *o = j->out;
    (void)worker;
    for (l = b; l < e; l++) {
        int64_t p = mv__shift_src_line(j, l);
        unsigned char *x = o + (size_t)l * row, *y = o + (size_t)p * row;
        if (p < l) continue;
        if (p == l) {
            for (i = 0; i < k; i++) {
                unsigned char t = x[i];
                x[i] = x[i + k];
                x[i + k] = t;
            }
            continue;
        }
        /* x[i] <-> y[(i + k) mod row]: k = 0 or row/2 */
        for (i = 0; i < row; i++) {
            size_t q = i + k < row ? i + k : i + k - row;
            unsigned char t = x[i];
            x[i] = y[q];
            y[q] = t;
        }
    }
}

MVDEF mv_status mv_fftshift_into(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts)
{
    static const char *fn = "mv_fftshift_into";
    mv_mri_opts od;
    mv__shift_job j;
    int a, inplace, even = 1;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(in, fn, "in"));
    MV__TRY(mv__mri_check_vol(out, fn, "out"));
    MV__CHECK(axes != 0 && axes < (1u << in->ndim), MV_ERR_INVALID_ARG, "%s: axes 0x%x for ndim %d", fn, axes,
              in->ndim);
    MV__CHECK(out->dtype == in->dtype && out->ndim == in->ndim &&
                  !memcmp(out->dim, in->dim, sizeof(in->dim)),
              MV_ERR_INVALID_ARG, "%s: out must have in's dtype and dims", fn);
    memset(&j, 0, sizeof(j));
    j.in = (const unsigned char *)in->data;
    j.out = (unsigned char *)out->data;
    j.esz = mv_dtype_size(in->dtype);
    j.ndim = in->ndim;
    j.nlines = 1;
    for (a = 0; a < in->ndim; a++) {
        int64_t n = in->dim[a], h = n / 2;
        j.dims[a] = n;
        if (a) j.nlines *= n;
        if (axes & (1u << a)) {
            j.src_off[a] = inverse ? h : n - h;
            if (n % 2) even = 0;
        }
    }
    inplace = in->data == out->data;
    if (inplace) {
        MV__CHECK(even, MV_ERR_INVALID_ARG, "%s: in place needs even lengths on the shifted axes", fn);
        mv__parallel_for(j.nlines, 64, mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(in)),
                         mv__shift_inplace_range, &j);
    } else {
        MV__CHECK(!mv__fft_overlap(in->data, mv_vol_bytes(in), out->data, mv_vol_bytes(out)), MV_ERR_INVALID_ARG,
                  "%s: in and out overlap without being equal", fn);
        mv__parallel_for(j.nlines, 64, mv__threads_for_bytes(opts->threads, 2 * (uint64_t)mv_vol_bytes(in)),
                         mv__shift_range, &j);
    }
    return MV_OK;
}

MVDEF mv_status mv_fftshift(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(in, "mv_fftshift", "in"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_fftshift: out is NULL");
    MV__TRY(mv__mri_alloc_like(in, in->dtype, 0, &t, opts->alloc_ctx, "mv_fftshift"));
    st = mv_fftshift_into(in, &t, axes, inverse, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, in, NULL);
}

/* ---- centred transform ---------------------------------------------------- */

/* exp(sign * 2 pi i num / den), exact at multiples of a quarter turn (so even
   lengths get exact +-1 and 0) */
static void mv__mri_turn(int64_t num, int64_t den, int sign, float *c, float *s)
{
    int64_t q = num % den;
    if (q < 0) q += den;
    if ((4 * q) % den == 0) {
        static const float cs[4][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
        int quarter = (int)(4 * q / den);
        *c = cs[quarter][0];
        *s = (float)sign * cs[quarter][1];
        return;
    }
    {
        double ang = 2.0 * 3.14159265358979323846 * (double)q / (double)den;
        *c = (float)cos(ang);
        *s = (float)(sign * sin(ang));
    }
}

/* Bytes of the phase tables an fftc needs beyond the FFT's scratch: per
   transformed axis n complex pre- and post-factors (odd lengths only use
   them, but the layout is the same). */
static size_t mv__fftc_table_bytes(const mv_fft_plan *pl)
{
    size_t n = 0;
    int a;
    for (a = 0; a < pl->ndim; a++)
        if (pl->axes & (1u << a)) n += 2 * (size_t)pl->dims[a];
    return n * 2 * sizeof(float) + 64;
}

MVDEF size_t mv_fftc_scratch_size(const mv_fft_plan *plan)
{
    if (!plan) return 0;
    return mv_fft_scratch_size(plan) + 64 + mv__fftc_table_bytes(plan);
}

typedef struct mv__mod_job {
    const float *in;
    float *out;
    int ndim;
    int64_t dims[MV_MAX_DIMS];
    unsigned axes;
    int all_even;
    const float *tab[MV_MAX_DIMS]; /* complex factor of each index on a transformed axis */
    int64_t nlines;
} mv__mod_job;

/* out = in * prod_a f_a(i_a), line by line along axis 0 */
static void mv__mod_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__mod_job *j = (const mv__mod_job *)ctx;
    int64_t n0 = j->dims[0], l, i;
    int tr0 = (j->axes & 1u) != 0;
    (void)worker;
    for (l = b; l < e; l++) {
        const float *x = j->in + 2 * (size_t)l * (size_t)n0;
        float *y = j->out + 2 * (size_t)l * (size_t)n0;
        double cr = 1, ci = 0;
        int64_t rest = l;
        int a;
        for (a = 1; a < j->ndim; a++) {
            int64_t n = j->dims[a], idx = rest % n;
            rest /= n;
            if (j->axes & (1u << a)) {
                double tr = j->tab[a][2 * idx], ti = j->tab[a][2 * idx + 1], t = cr * tr - ci * ti;
                ci = cr * ti + ci * tr;
                cr = t;
            }
        }
        if (j->all_even) {
            /* every factor is +-1: the line's sign, alternating along axis 0 */
            float s = (float)cr, s1 = tr0 ? j->tab[0][2] * s : s;
            float s0 = tr0 ? j->tab[0][0] * s : s;
            for (i = 0; i + 1 < n0; i += 2) {
                y[2 * i] = x[2 * i] * s0;
                y[2 * i + 1] = x[2 * i + 1] * s0;
                y[2 * i + 2] = x[2 * i + 2] * s1;
                y[2 * i + 3] = x[2 * i + 3] * s1;
            }
            if (i < n0) {
                y[2 * i] = x[2 * i] * s0;
                y[2 * i + 1] = x[2 * i + 1] * s0;
            }
        } else {
            for (i = 0; i < n0; i++) {
                double fr = cr, fi = ci, xr = x[2 * i], xi = x[2 * i + 1];
                if (tr0) {
                    double tr = j->tab[0][2 * i], ti = j->tab[0][2 * i + 1];
                    fr = cr * tr - ci * ti;
                    fi = cr * ti + ci * tr;
                }
                y[2 * i] = (float)(xr * fr - xi * fi);
                y[2 * i + 1] = (float)(xr * fi + xi * fr);
            }
        }
    }
}

MVDEF mv_status mv_fftc_execute_into(const mv_fft_plan *plan, const void *in, void *out, void *scratch)
{
    static const char *fn = "mv_fftc_execute_into";
    mv__mod_job j;
    float *tabs, *pre[MV_MAX_DIMS], *post[MV_MAX_DIMS];
    unsigned char *fs;
    int a, sign, nt;
    MV__CHECK(plan && in && out && scratch, MV_ERR_INVALID_ARG, "%s: NULL %s", fn,
              !plan ? "plan" : !in ? "in" : !out ? "out" : "scratch");
    MV__CHECK(plan->kind == MV__FFT_C2C, MV_ERR_INVALID_ARG, "%s: the plan is not complex-to-complex", fn);
    MV__CHECK(in == out || !mv__fft_overlap(in, plan->in_bytes, out, plan->out_bytes), MV_ERR_INVALID_ARG,
              "%s: in and out overlap without being equal", fn);
    /* tables after the FFT's own scratch, 64-byte aligned */
    fs = (unsigned char *)scratch;
    tabs = (float *)(void *)(fs + mv_fft_scratch_size(plan) + 64 - ((uintptr_t)(fs + mv_fft_scratch_size(plan)) & 63));
    /* forward: pre exp(+2 pi i h n / N), post exp(+2 pi i (k - h) h / N);
       inverse: the conjugates (derivation in the >>api-mri text) */
    sign = plan->inverse ? -1 : 1;
    memset(&j, 0, sizeof(j));
    j.ndim = plan->ndim;
    j.axes = plan->axes;
    j.all_even = 1;
    j.nlines = 1;
    for (a = 0; a < plan->ndim; a++) {
        int64_t n = plan->dims[a], h = n / 2, i;
        j.dims[a] = n;
        if (a) j.nlines *= n;
        pre[a] = post[a] = NULL;
        if (!(plan->axes & (1u << a))) continue;
        if (n % 2) j.all_even = 0;
        pre[a] = tabs;
        post[a] = tabs + 2 * n;
        tabs += 4 * n;
        for (i = 0; i < n; i++) {
            mv__mri_turn((h % n) * i % n, n, sign, &pre[a][2 * i], &pre[a][2 * i + 1]);
            mv__mri_turn(((i - h) % n + n) % n * h % n, n, sign, &post[a][2 * i], &post[a][2 * i + 1]);
        }
    }
    nt = mv__threads_for_bytes(plan->threads_req, (uint64_t)plan->in_bytes * 2);
    /* the pre-factor doubles as the copy into out */
    j.in = (const float *)in;
    j.out = (float *)out;
    for (a = 0; a < plan->ndim; a++) j.tab[a] = pre[a];
    mv__parallel_for(j.nlines, 16, nt, mv__mod_range, &j);
    MV__TRY(mv_fft_execute_into(plan, out, out, scratch));
    j.in = (const float *)out;
    for (a = 0; a < plan->ndim; a++) j.tab[a] = post[a];
    mv__parallel_for(j.nlines, 16, nt, mv__mod_range, &j);
    return MV_OK;
}

/* Runs fftc over a raw complex array with a cached ortho plan. */
static mv_status mv__fftc_raw(const void *in, void *out, int ndim, const int64_t *dims, unsigned axes, int inverse,
                              int threads, void *ctx, const char *fn)
{
    mv_fft_opts fo;
    mv_fft_plan *pl;
    int cached;
    void *scratch;
    mv_status st;
    memset(&fo, 0, sizeof(fo));
    fo.norm = MV_FFT_ORTHO;
    fo.threads = threads;
    fo.alloc_ctx = ctx;
    MV__TRY(mv__fft_cache_acquire(&pl, &cached, MV__FFT_C2C, ndim, dims, axes, inverse, &fo));
    scratch = mv__alloc(mv_fftc_scratch_size(pl), ctx);
    if (!scratch) {
        mv__fft_cache_release(pl, cached);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: FFT scratch of %zu bytes", fn, mv_fftc_scratch_size(pl));
    }
    st = mv_fftc_execute_into(pl, in, out, scratch);
    mv__free(scratch, ctx);
    mv__fft_cache_release(pl, cached);
    return st;
}

MVDEF mv_status mv_fftc_into(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts)
{
    static const char *fn = "mv_fftc_into";
    mv_mri_opts od;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(in, fn, "in"));
    MV__TRY(mv__mri_check_c64(out, fn, "out"));
    MV__CHECK(out->ndim == in->ndim && !memcmp(out->dim, in->dim, sizeof(in->dim)), MV_ERR_INVALID_ARG,
              "%s: out must have in's dims", fn);
    MV__CHECK(axes != 0 && axes < (1u << in->ndim), MV_ERR_INVALID_ARG, "%s: axes 0x%x for ndim %d", fn, axes,
              in->ndim);
    return mv__fftc_raw(in->data, out->data, in->ndim, in->dim, axes, inverse, opts->threads, opts->alloc_ctx, fn);
}

MVDEF mv_status mv_fftc(const mv_vol *in, mv_vol *out, unsigned axes, int inverse, const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(in, "mv_fftc", "in"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_fftc: out is NULL");
    MV__TRY(mv__mri_alloc_like(in, MV_DT_C64, 0, &t, opts->alloc_ctx, "mv_fftc"));
    st = mv_fftc_into(in, &t, axes, inverse, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, in, NULL);
}

/* ---- k-space resize ------------------------------------------------------ */

typedef struct mv__resize_job {
    const unsigned char *in;
    unsigned char *out;
    size_t esz;
    int64_t idim[MV_MAX_DIMS], odim[MV_MAX_DIMS];
    int64_t off[3]; /* input index = output index + off (per spatial axis) */
} mv__resize_job;

static void mv__resize_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__resize_job *j = (const mv__resize_job *)ctx;
    size_t orow = (size_t)j->odim[0] * j->esz;
    int64_t l, lo0 = MV__MAX(0, -j->off[0]), hi0 = MV__MIN(j->odim[0], j->idim[0] - j->off[0]);
    (void)worker;
    for (l = b; l < e; l++) {
        int64_t y = l % j->odim[1], z = (l / j->odim[1]) % j->odim[2], rest = l / (j->odim[1] * j->odim[2]);
        int64_t sy = y + j->off[1], sz = z + j->off[2];
        unsigned char *dst = j->out + (size_t)l * orow;
        if (sy < 0 || sy >= j->idim[1] || sz < 0 || sz >= j->idim[2] || hi0 <= lo0) {
            memset(dst, 0, orow);
            continue;
        }
        {
            const unsigned char *src =
                j->in + ((size_t)((rest * j->idim[2] + sz) * j->idim[1] + sy) * (size_t)j->idim[0]) * j->esz;
            memset(dst, 0, (size_t)lo0 * j->esz);
            memcpy(dst + (size_t)lo0 * j->esz, src + (size_t)(lo0 + j->off[0]) * j->esz, (size_t)(hi0 - lo0) * j->esz);
            memset(dst + (size_t)hi0 * j->esz, 0, (size_t)(j->odim[0] - hi0) * j->esz);
        }
    }
}

MVDEF mv_status mv_kspace_resize_into(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_mri_opts *opts)
{
    static const char *fn = "mv_kspace_resize_into";
    mv_mri_opts od;
    mv__resize_job j;
    int a;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(in, fn, "in"));
    MV__TRY(mv__mri_check_vol(out, fn, "out"));
    MV__CHECK(shape != NULL, MV_ERR_INVALID_ARG, "%s: shape is NULL", fn);
    MV__CHECK(out->dtype == in->dtype, MV_ERR_INVALID_ARG, "%s: out dtype differs", fn);
    MV__CHECK(in->data != out->data && !mv__fft_overlap(in->data, mv_vol_bytes(in), out->data, mv_vol_bytes(out)),
              MV_ERR_INVALID_ARG, "%s: in and out overlap", fn);
    memset(&j, 0, sizeof(j));
    for (a = 0; a < MV_MAX_DIMS; a++) {
        int64_t want = a < 3 && shape[a] > 0 ? shape[a] : in->dim[a];
        MV__CHECK(a >= 3 || shape[a] >= 0, MV_ERR_INVALID_ARG, "%s: shape[%d] = %lld", fn, a, (long long)shape[a]);
        MV__CHECK(out->dim[a] == want, MV_ERR_INVALID_ARG, "%s: out dims[%d] = %lld, %lld expected", fn, a,
                  (long long)out->dim[a], (long long)want);
        j.idim[a] = in->dim[a];
        j.odim[a] = want;
        if (a < 3) j.off[a] = in->dim[a] / 2 - want / 2;
    }
    j.in = (const unsigned char *)in->data;
    j.out = (unsigned char *)out->data;
    j.esz = mv_dtype_size(in->dtype);
    mv__parallel_for(mv_vol_count(out) / out->dim[0], 64,
                     mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(out)), mv__resize_range, &j);
    return MV_OK;
}

MVDEF mv_status mv_kspace_resize(const mv_vol *in, mv_vol *out, const int64_t shape[3], const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    int a;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(in, "mv_kspace_resize", "in"));
    MV__CHECK(out != NULL && shape != NULL, MV_ERR_INVALID_ARG, "mv_kspace_resize: NULL out or shape");
    for (a = 0; a < 3; a++)
        MV__CHECK(shape[a] >= 0 && shape[a] <= ((int64_t)1 << 31), MV_ERR_INVALID_ARG,
                  "mv_kspace_resize: shape[%d] = %lld", a, (long long)shape[a]);
    {
        mv_vol shaped = *in;
        for (a = 0; a < 3; a++)
            if (shape[a] > 0) shaped.dim[a] = shape[a];
        if (shaped.ndim < 3) shaped.ndim = 3;
        MV__CHECK(mv__mri_check_vol(&shaped, "mv_kspace_resize", "output shape") == MV_OK, MV_ERR_SIZE_OVERFLOW,
                  "mv_kspace_resize: output too large");
        MV__TRY(mv__mri_alloc_like(&shaped, in->dtype, 0, &t, opts->alloc_ctx, "mv_kspace_resize"));
    }
    st = mv_kspace_resize_into(in, &t, shape, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, in, NULL);
}

/* ---- coil combination ---------------------------------------------------- */

/* Items of the coil kernels: voxel chunks of every batch volume, so that a
   chunk never straddles two volumes. */
#define MV__MRI_CHUNK 4096

typedef struct mv__coil_job {
    const mv__mri_ops *ops;
    const float *x, *s;
    float *out;
    int64_t nvox, nc, chunks_per_vol;
    int real_in; /* rss of float32 input */
    int part;
} mv__coil_job;

static void mv__rss_f32_range_one(const float *x, int64_t cstride, int64_t nc, float *out, int64_t n)
{
    int64_t i, c;
    for (i = 0; i < n; i++) {
        float acc = 0;
        for (c = 0; c < nc; c++) {
            float v = x[(size_t)c * (size_t)cstride + (size_t)i];
            acc = c ? acc + v * v : v * v;
        }
        out[i] = sqrtf(acc);
    }
}

static void mv__rss_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__coil_job *j = (const mv__coil_job *)ctx;
    int64_t it;
    (void)worker;
    for (it = b; it < e; it++) {
        int64_t t = it / j->chunks_per_vol, v0 = (it % j->chunks_per_vol) * MV__MRI_CHUNK;
        int64_t n = MV__MIN((int64_t)MV__MRI_CHUNK, j->nvox - v0);
        float *o = j->out + (size_t)(t * j->nvox + v0);
        if (j->real_in)
            mv__rss_f32_range_one(j->x + (size_t)(t * j->nc * j->nvox + v0), j->nvox, j->nc, o, n);
        else
            j->ops->rss(j->x + 2 * (size_t)(t * j->nc * j->nvox + v0), 2 * j->nvox, (int)j->nc, o, n);
    }
}

MVDEF mv_status mv_rss_into(const mv_vol *in, mv_vol *out, const mv_mri_opts *opts)
{
    static const char *fn = "mv_rss_into";
    mv_mri_opts od;
    mv__coil_job j;
    mv__mri_shape s;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(in, fn, "in"));
    MV__CHECK(in->dtype == MV_DT_C64 || in->dtype == MV_DT_F32, MV_ERR_UNSUPPORTED, "%s: in is %s (c64 or f32)", fn,
              mv_dtype_name(in->dtype));
    MV__TRY(mv__mri_check_out(in, out, MV_DT_F32, fn));
    s = mv__mri_shape_of(in);
    MV__CHECK(s.nc <= INT32_MAX, MV_ERR_INVALID_ARG, "%s: %lld coils", fn, (long long)s.nc);
    memset(&j, 0, sizeof(j));
    j.ops = mv__mri_ops_active();
    j.x = (const float *)in->data;
    j.out = (float *)out->data;
    j.nvox = s.nvox;
    j.nc = s.nc;
    j.real_in = in->dtype == MV_DT_F32;
    j.chunks_per_vol = (s.nvox + MV__MRI_CHUNK - 1) / MV__MRI_CHUNK;
    mv__parallel_for(j.chunks_per_vol * s.nbatch, 1, mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(in)),
                     mv__rss_range, &j);
    return MV_OK;
}

MVDEF mv_status mv_rss(const mv_vol *in, mv_vol *out, const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(in, "mv_rss", "in"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_rss: out is NULL");
    MV__TRY(mv__mri_alloc_like(in, MV_DT_F32, 1, &t, opts->alloc_ctx, "mv_rss"));
    st = mv_rss_into(in, &t, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, in, NULL);
}

static void mv__combine_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__coil_job *j = (const mv__coil_job *)ctx;
    int64_t it;
    (void)worker;
    for (it = b; it < e; it++) {
        int64_t t = it / j->chunks_per_vol, v0 = (it % j->chunks_per_vol) * MV__MRI_CHUNK;
        int64_t n = MV__MIN((int64_t)MV__MRI_CHUNK, j->nvox - v0);
        j->ops->combine(j->x + 2 * (size_t)(t * j->nc * j->nvox + v0), 2 * j->nvox, j->s + 2 * (size_t)v0,
                        2 * j->nvox, (int)j->nc, j->out + 2 * (size_t)(t * j->nvox + v0), n);
    }
}

static mv_status mv__check_sens(const mv_vol *img, const mv_vol *sens, const char *fn)
{
    mv__mri_shape si, ss;
    int a;
    MV__TRY(mv__mri_check_c64(sens, fn, "sens"));
    si = mv__mri_shape_of(img);
    ss = mv__mri_shape_of(sens);
    for (a = 0; a < 3; a++)
        MV__CHECK(sens->dim[a] == img->dim[a], MV_ERR_INVALID_ARG, "%s: sens dims[%d] = %lld, images have %lld", fn,
                  a, (long long)sens->dim[a], (long long)img->dim[a]);
    MV__CHECK(ss.nc == si.nc && ss.nbatch == 1, MV_ERR_INVALID_ARG,
              "%s: sens must be (x, y, z, %lld coils), got %lld coils and %lld volumes", fn, (long long)si.nc,
              (long long)ss.nc, (long long)ss.nbatch);
    MV__CHECK(si.nc <= INT32_MAX, MV_ERR_INVALID_ARG, "%s: %lld coils", fn, (long long)si.nc);
    return MV_OK;
}

MVDEF mv_status mv_coil_combine_into(const mv_vol *img, const mv_vol *sens, mv_vol *out, const mv_mri_opts *opts)
{
    static const char *fn = "mv_coil_combine_into";
    mv_mri_opts od;
    mv__coil_job j;
    mv__mri_shape s;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(img, fn, "img"));
    MV__TRY(mv__check_sens(img, sens, fn));
    MV__TRY(mv__mri_check_out(img, out, MV_DT_C64, fn));
    s = mv__mri_shape_of(img);
    memset(&j, 0, sizeof(j));
    j.ops = mv__mri_ops_active();
    j.x = (const float *)img->data;
    j.s = (const float *)sens->data;
    j.out = (float *)out->data;
    j.nvox = s.nvox;
    j.nc = s.nc;
    j.chunks_per_vol = (s.nvox + MV__MRI_CHUNK - 1) / MV__MRI_CHUNK;
    mv__parallel_for(j.chunks_per_vol * s.nbatch, 1,
                     mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(img) + mv_vol_bytes(sens)),
                     mv__combine_range, &j);
    return MV_OK;
}

MVDEF mv_status mv_coil_combine(const mv_vol *img, const mv_vol *sens, mv_vol *out, const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(img, "mv_coil_combine", "img"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_coil_combine: out is NULL");
    MV__TRY(mv__mri_alloc_like(img, MV_DT_C64, 1, &t, opts->alloc_ctx, "mv_coil_combine"));
    st = mv_coil_combine_into(img, sens, &t, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, img, sens);
}

/* ---- density compensation, complex parts ----------------------------------- */

typedef struct mv__weight_job {
    float *k;
    const float *w;
    int64_t nw;
} mv__weight_job;

static void mv__weight_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__weight_job *j = (const mv__weight_job *)ctx;
    int64_t v, i;
    (void)worker;
    for (v = b; v < e; v++) {
        float *k = j->k + 2 * (size_t)(v * j->nw);
        for (i = 0; i < j->nw; i++) {
            k[2 * i] *= j->w[i];
            k[2 * i + 1] *= j->w[i];
        }
    }
}

MVDEF mv_status mv_kspace_weight(mv_vol *kspace, const mv_vol *weights, const mv_mri_opts *opts)
{
    static const char *fn = "mv_kspace_weight";
    mv_mri_opts od;
    mv__weight_job j;
    int a;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(kspace, fn, "kspace"));
    MV__TRY(mv__mri_check_vol(weights, fn, "weights"));
    MV__CHECK(weights->dtype == MV_DT_F32, MV_ERR_UNSUPPORTED, "%s: weights are %s, float32 needed", fn,
              mv_dtype_name(weights->dtype));
    MV__CHECK(weights->ndim <= 3, MV_ERR_INVALID_ARG, "%s: weights have %d dims (1..3)", fn, weights->ndim);
    for (a = 0; a < weights->ndim; a++)
        MV__CHECK(weights->dim[a] == kspace->dim[a], MV_ERR_INVALID_ARG, "%s: weights dims[%d] = %lld, k-space has %lld",
                  fn, a, (long long)weights->dim[a], (long long)kspace->dim[a]);
    j.k = (float *)kspace->data;
    j.w = (const float *)weights->data;
    j.nw = mv_vol_count(weights);
    mv__parallel_for(mv_vol_count(kspace) / j.nw, 1, mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(kspace)),
                     mv__weight_range, &j);
    return MV_OK;
}

static void mv__cpart_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__coil_job *j = (const mv__coil_job *)ctx;
    int64_t v0 = b * MV__MRI_CHUNK, v1 = MV__MIN(e * MV__MRI_CHUNK, j->nvox), i;
    (void)worker;
    if (j->part == MV_CPART_PHASE) {
        for (i = v0; i < v1; i++) j->out[i] = atan2f(j->x[2 * i + 1], j->x[2 * i]);
        return;
    }
    j->ops->cpart(j->x + 2 * (size_t)v0, j->out + v0, v1 - v0, j->part);
}

MVDEF mv_status mv_complex_part_into(const mv_vol *in, mv_vol *out, mv_cpart part, const mv_mri_opts *opts)
{
    static const char *fn = "mv_complex_part_into";
    mv_mri_opts od;
    mv__coil_job j;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(in, fn, "in"));
    MV__TRY(mv__mri_check_vol(out, fn, "out"));
    MV__CHECK((unsigned)part <= MV_CPART_IMAG, MV_ERR_INVALID_ARG, "%s: part %d", fn, (int)part);
    MV__CHECK(out->dtype == MV_DT_F32 && mv_vol_count(out) == mv_vol_count(in), MV_ERR_INVALID_ARG,
              "%s: out must be float32 with in's voxel count", fn);
    memset(&j, 0, sizeof(j));
    j.ops = mv__mri_ops_active();
    j.x = (const float *)in->data;
    j.out = (float *)out->data;
    j.nvox = mv_vol_count(in);
    j.part = (int)part;
    mv__parallel_for((j.nvox + MV__MRI_CHUNK - 1) / MV__MRI_CHUNK, 1,
                     mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(in)), mv__cpart_range, &j);
    return MV_OK;
}

MVDEF mv_status mv_complex_part(const mv_vol *in, mv_vol *out, mv_cpart part, const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(in, "mv_complex_part", "in"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_complex_part: out is NULL");
    MV__TRY(mv__mri_alloc_like(in, MV_DT_F32, 0, &t, opts->alloc_ctx, "mv_complex_part"));
    st = mv_complex_part_into(in, &t, part, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, in, NULL);
}

/* ---- undersampling, sensitivities ------------------------------------------ */

/* spatial axes that are transformed: those longer than 1 (a length-1 axis is
   its own transform) */
static unsigned mv__mri_spatial_axes(const mv_vol *v)
{
    unsigned m = 0;
    int a;
    for (a = 0; a < 3 && a < v->ndim; a++)
        if (v->dim[a] > 1) m |= 1u << a;
    return m ? m : 1u;
}

static mv_status mv__check_accel(const mv_vol *v, const int accel[3], int64_t *rtot, const char *fn)
{
    int a;
    *rtot = 1;
    MV__CHECK(accel != NULL, MV_ERR_INVALID_ARG, "%s: accel is NULL", fn);
    for (a = 0; a < 3; a++) {
        MV__CHECK(accel[a] >= 1 && v->dim[a] % accel[a] == 0, MV_ERR_INVALID_ARG,
                  "%s: accel[%d] = %d must be >= 1 and divide dims[%d] = %lld", fn, a, accel[a], a,
                  (long long)v->dim[a]);
        *rtot *= accel[a];
    }
    MV__CHECK(*rtot <= MV_SENSE_MAX_R, MV_ERR_UNSUPPORTED, "%s: total acceleration %lld exceeds %d", fn,
              (long long)*rtot, MV_SENSE_MAX_R);
    return MV_OK;
}

MVDEF mv_status mv_kspace_undersample(mv_vol *kspace, const int accel[3], const mv_mri_opts *opts)
{
    static const char *fn = "mv_kspace_undersample";
    int64_t rtot, l, nl, i, n0;
    float *k;
    (void)opts;
    MV__TRY(mv__mri_check_c64(kspace, fn, "kspace"));
    MV__TRY(mv__check_accel(kspace, accel, &rtot, fn));
    n0 = kspace->dim[0];
    nl = mv_vol_count(kspace) / n0;
    k = (float *)kspace->data;
    for (l = 0; l < nl; l++) {
        int64_t y = l % kspace->dim[1], z = (l / kspace->dim[1]) % kspace->dim[2];
        float *row = k + 2 * (size_t)(l * n0);
        if (y % accel[1] != (kspace->dim[1] / 2) % accel[1] || z % accel[2] != (kspace->dim[2] / 2) % accel[2]) {
            memset(row, 0, 2 * sizeof(float) * (size_t)n0);
            continue;
        }
        if (accel[0] > 1)
            for (i = 0; i < n0; i++)
                if (i % accel[0] != (n0 / 2) % accel[0]) row[2 * i] = row[2 * i + 1] = 0.0f;
    }
    return MV_OK;
}

/* Hann taper over a calibration window of cs samples centred on the DC
   sample: 1 at DC, falling to near 0 at the window's edges. */
static float mv__calib_taper(int64_t d, int64_t cs)
{
    double half = (double)(cs / 2 + 1), c = cos(1.5707963267948966 * (double)d / half);
    return (float)(c * c);
}

MVDEF mv_status mv_coil_sens_estimate_into(const mv_vol *kspace, mv_vol *sens, const mv_mri_opts *opts)
{
    static const char *fn = "mv_coil_sens_estimate_into";
    mv_mri_opts od;
    mv__mri_shape s;
    int64_t cs[3], lo[3], x, y, z, c, v;
    int a;
    float *S, *rss, mx = 0, thr;
    double frac;
    mv_vol sv, rv;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(kspace, fn, "kspace"));
    MV__TRY(mv__mri_check_c64(sens, fn, "sens"));
    s = mv__mri_shape_of(kspace);
    for (a = 0; a < 3; a++) {
        MV__CHECK(sens->dim[a] == kspace->dim[a], MV_ERR_INVALID_ARG, "%s: sens dims[%d] differs", fn, a);
        MV__CHECK(opts->calib[a] >= 0, MV_ERR_INVALID_ARG, "%s: calib[%d] = %lld", fn, a, (long long)opts->calib[a]);
        cs[a] = MV__MIN(opts->calib[a] ? opts->calib[a] : 24, kspace->dim[a]);
        lo[a] = kspace->dim[a] / 2 - cs[a] / 2;
    }
    MV__CHECK(mv__mri_shape_of(sens).nc == s.nc && mv_vol_count(sens) == s.nvox * s.nc, MV_ERR_INVALID_ARG,
              "%s: sens must be (x, y, z, %lld coils)", fn, (long long)s.nc);
    frac = opts->mask_threshold == 0 ? 0.05 : opts->mask_threshold;
    /* windowed centre of the first volume -> sens, then to image space */
    S = (float *)sens->data;
    memset(S, 0, mv_vol_bytes(sens));
    for (c = 0; c < s.nc; c++)
        for (z = lo[2]; z < lo[2] + cs[2]; z++)
            for (y = lo[1]; y < lo[1] + cs[1]; y++)
                for (x = lo[0]; x < lo[0] + cs[0]; x++) {
                    size_t i = (size_t)(((c * kspace->dim[2] + z) * kspace->dim[1] + y) * kspace->dim[0] + x);
                    float w = mv__calib_taper(x - kspace->dim[0] / 2, cs[0]) *
                              mv__calib_taper(y - kspace->dim[1] / 2, cs[1]) *
                              mv__calib_taper(z - kspace->dim[2] / 2, cs[2]);
                    S[2 * i] = ((const float *)kspace->data)[2 * i] * w;
                    S[2 * i + 1] = ((const float *)kspace->data)[2 * i + 1] * w;
                }
    {
        int64_t d4[4];
        d4[0] = sens->dim[0];
        d4[1] = sens->dim[1];
        d4[2] = sens->dim[2];
        d4[3] = s.nc;
        MV__TRY(mv__fftc_raw(S, S, 4, d4, mv__mri_spatial_axes(sens), 1, opts->threads, opts->alloc_ctx, fn));
    }
    rss = (float *)mv__alloc((size_t)s.nvox * sizeof(float), opts->alloc_ctx);
    MV__CHECK(rss != NULL, MV_ERR_OUT_OF_MEMORY, "%s: %lld floats", fn, (long long)s.nvox);
    {
        mv_mri_opts o1 = *opts;
        int64_t dd[4];
        dd[0] = sens->dim[0];
        dd[1] = sens->dim[1];
        dd[2] = sens->dim[2];
        dd[3] = s.nc;
        mv_vol_wrap(&sv, S, MV_DT_C64, 4, dd);
        mv_vol_wrap(&rv, rss, MV_DT_F32, 3, dd);
        st = mv_rss_into(&sv, &rv, &o1);
    }
    if (st != MV_OK) {
        mv__free(rss, opts->alloc_ctx);
        return st;
    }
    for (v = 0; v < s.nvox; v++) mx = rss[v] > mx ? rss[v] : mx;
    thr = frac < 0 ? 0.0f : (float)(frac * mx);
    /* S_c = I_c / RSS inside the support, 0 outside */
    for (c = 0; c < s.nc; c++) {
        float *Sc = S + 2 * (size_t)(c * s.nvox);
        for (v = 0; v < s.nvox; v++) {
            float r = rss[v];
            if (r > 0 && r >= thr) {
                Sc[2 * v] /= r;
                Sc[2 * v + 1] /= r;
            } else {
                Sc[2 * v] = Sc[2 * v + 1] = 0.0f;
            }
        }
    }
    mv__free(rss, opts->alloc_ctx);
    return MV_OK;
}

MVDEF mv_status mv_coil_sens_estimate(const mv_vol *kspace, mv_vol *sens, const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t, first;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(kspace, "mv_coil_sens_estimate", "kspace"));
    MV__CHECK(sens != NULL, MV_ERR_INVALID_ARG, "mv_coil_sens_estimate: sens is NULL");
    first = *kspace; /* the sensitivities have no batch dims */
    if (first.ndim > MV_COIL_AXIS + 1) {
        int a;
        for (a = MV_COIL_AXIS + 1; a < MV_MAX_DIMS; a++) first.dim[a] = 1;
        first.ndim = MV_COIL_AXIS + 1;
    }
    MV__TRY(mv__mri_alloc_like(&first, MV_DT_C64, 0, &t, opts->alloc_ctx, "mv_coil_sens_estimate"));
    st = mv_coil_sens_estimate_into(kspace, &t, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(sens, &t, kspace, NULL);
}

/* ---- SENSE ------------------------------------------------------------------ */

typedef struct mv__sense_job {
    const float *a, *s;
    float *out;
    int64_t dims[3], m[3], nvox, nc, npos;
    int accel[3], rtot;
    double lambda;
} mv__sense_job;

/* Cholesky solve of the n x n Hermitian positive definite A (row-major,
   complex double as re/im pairs) with right-hand side b, in place: x in b.
   Returns 0 when a pivot is not positive (numerically singular). */
static int mv__chol_solve(double *A, double *b, int n)
{
    int i, k, p;
    for (k = 0; k < n; k++) {
        double d = A[2 * (k * n + k)];
        for (p = 0; p < k; p++) d -= A[2 * (k * n + p)] * A[2 * (k * n + p)] + A[2 * (k * n + p) + 1] * A[2 * (k * n + p) + 1];
        if (!(d > 0)) return 0;
        d = sqrt(d);
        A[2 * (k * n + k)] = d;
        A[2 * (k * n + k) + 1] = 0;
        for (i = k + 1; i < n; i++) {
            /* L[i][k] = (A[i][k] - sum_p L[i][p] conj(L[k][p])) / L[k][k] */
            double re = A[2 * (i * n + k)], im = A[2 * (i * n + k) + 1];
            for (p = 0; p < k; p++) {
                double lr = A[2 * (i * n + p)], li = A[2 * (i * n + p) + 1];
                double kr = A[2 * (k * n + p)], ki = A[2 * (k * n + p) + 1];
                re -= lr * kr + li * ki;
                im -= li * kr - lr * ki;
            }
            A[2 * (i * n + k)] = re / d;
            A[2 * (i * n + k) + 1] = im / d;
        }
    }
    /* L y = b */
    for (i = 0; i < n; i++) {
        double re = b[2 * i], im = b[2 * i + 1];
        for (p = 0; p < i; p++) {
            double lr = A[2 * (i * n + p)], li = A[2 * (i * n + p) + 1];
            re -= lr * b[2 * p] - li * b[2 * p + 1];
            im -= lr * b[2 * p + 1] + li * b[2 * p];
        }
        b[2 * i] = re / A[2 * (i * n + i)];
        b[2 * i + 1] = im / A[2 * (i * n + i)];
    }
    /* L^H x = y */
    for (i = n - 1; i >= 0; i--) {
        double re = b[2 * i], im = b[2 * i + 1];
        for (p = i + 1; p < n; p++) {
            double lr = A[2 * (p * n + i)], li = -A[2 * (p * n + i) + 1]; /* conj(L[p][i]) */
            re -= lr * b[2 * p] - li * b[2 * p + 1];
            im -= lr * b[2 * p + 1] + li * b[2 * p];
        }
        b[2 * i] = re / A[2 * (i * n + i)];
        b[2 * i + 1] = im / A[2 * (i * n + i)];
    }
    return 1;
}

static void mv__sense_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__sense_job *j = (const mv__sense_job *)ctx;
    double A[2 * MV_SENSE_MAX_R * MV_SENSE_MAX_R], A0[2 * MV_SENSE_MAX_R * MV_SENSE_MAX_R], rhs[2 * MV_SENSE_MAX_R];
    int64_t q[MV_SENSE_MAX_R], it; /* output voxels of the replicas in the solve */
    (void)worker;
    for (it = b; it < e; it++) {
        int64_t t = it / j->npos, p = it % j->npos;
        int64_t p0 = p % j->m[0], p1 = (p / j->m[0]) % j->m[1], p2 = p / (j->m[0] * j->m[1]);
        int64_t pv = p0 + j->dims[0] * (p1 + j->dims[1] * p2), c;
        const float *at = j->a + 2 * (size_t)(t * j->nc * j->nvox);
        float *ot = j->out + 2 * (size_t)(t * j->nvox);
        double trace = 0, lam;
        int r, s, n = 0, r0, r1, r2;
        /* the replicas of this aliased voxel; keep those with coil energy */
        for (r2 = 0; r2 < j->accel[2]; r2++)
            for (r1 = 0; r1 < j->accel[1]; r1++)
                for (r0 = 0; r0 < j->accel[0]; r0++) {
                    int64_t v = (p0 + r0 * j->m[0]) + j->dims[0] * ((p1 + r1 * j->m[1]) + j->dims[1] * (p2 + r2 * j->m[2]));
                    double en = 0;
                    for (c = 0; c < j->nc; c++) {
                        const float *sc = j->s + 2 * (size_t)(c * j->nvox + v);
                        en += (double)sc[0] * sc[0] + (double)sc[1] * sc[1];
                    }
                    ot[2 * v] = ot[2 * v + 1] = 0.0f;
                    if (en > 0) {
                        q[n++] = v;
                        trace += en;
                    }
                }
        if (n <= 0 || n > MV_SENSE_MAX_R) continue; /* n <= R <= MAX_R; the bound tells the compiler too */
        /* normal equations: A = S^H S, rhs = S^H a */
        for (r = 0; r < n; r++) {
            rhs[2 * r] = rhs[2 * r + 1] = 0;
            for (s = 0; s < n; s++) A0[2 * (r * n + s)] = A0[2 * (r * n + s) + 1] = 0;
        }
        for (c = 0; c < j->nc; c++) {
            const float *sc = j->s + 2 * (size_t)(c * j->nvox);
            double ar = at[2 * (size_t)(c * j->nvox + pv)], ai = at[2 * (size_t)(c * j->nvox + pv) + 1];
            for (r = 0; r < n; r++) {
                double sr = sc[2 * q[r]], si = sc[2 * q[r] + 1];
                rhs[2 * r] += sr * ar + si * ai;
                rhs[2 * r + 1] += sr * ai - si * ar;
                for (s = 0; s <= r; s++) {
                    double tr = sc[2 * q[s]], ti = sc[2 * q[s] + 1];
                    /* A[r][s] += conj(S_r) S_s */
                    A0[2 * (r * n + s)] += sr * tr + si * ti;
                    A0[2 * (r * n + s) + 1] += sr * ti - si * tr;
                }
            }
        }
        for (r = 0; r < n; r++)
            for (s = r + 1; s < n; s++) {
                A0[2 * (r * n + s)] = A0[2 * (s * n + r)];
                A0[2 * (r * n + s) + 1] = -A0[2 * (s * n + r) + 1];
            }
        lam = j->lambda * trace / n;
        for (;;) {
            double x[2 * MV_SENSE_MAX_R];
            memcpy(A, A0, sizeof(double) * 2 * (size_t)(n * n));
            for (r = 0; r < n; r++) A[2 * (r * n + r)] += lam;
            memcpy(x, rhs, sizeof(double) * 2 * (size_t)n);
            if (mv__chol_solve(A, x, n)) {
                for (r = 0; r < n; r++) {
                    ot[2 * q[r]] = (float)(x[2 * r] * j->rtot);
                    ot[2 * q[r] + 1] = (float)(x[2 * r + 1] * j->rtot);
                }
                break;
            }
            /* singular without regularisation (coils that cannot tell the
               replicas apart): the smallest regularisation that solves it */
            lam = lam > 0 ? lam * 10 : 1e-9 * trace / n;
        }
    }
}

MVDEF mv_status mv_sense_unfold_into(const mv_vol *aliased, const mv_vol *sens, mv_vol *out, const int accel[3],
                                     const mv_mri_opts *opts)
{
    static const char *fn = "mv_sense_unfold_into";
    mv_mri_opts od;
    mv__sense_job j;
    mv__mri_shape s;
    int64_t rtot;
    int a;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(aliased, fn, "aliased"));
    MV__TRY(mv__check_sens(aliased, sens, fn));
    MV__TRY(mv__mri_check_out(aliased, out, MV_DT_C64, fn));
    MV__TRY(mv__check_accel(aliased, accel, &rtot, fn));
    MV__CHECK(opts->lambda >= 0 && opts->lambda < 1e30, MV_ERR_INVALID_ARG, "%s: lambda = %g", fn, opts->lambda);
    MV__CHECK(out->data != aliased->data, MV_ERR_INVALID_ARG, "%s: out cannot be the aliased images", fn);
    s = mv__mri_shape_of(aliased);
    memset(&j, 0, sizeof(j));
    j.a = (const float *)aliased->data;
    j.s = (const float *)sens->data;
    j.out = (float *)out->data;
    for (a = 0; a < 3; a++) {
        j.dims[a] = aliased->dim[a];
        j.accel[a] = accel[a];
        j.m[a] = aliased->dim[a] / accel[a];
    }
    j.nvox = s.nvox;
    j.nc = s.nc;
    j.npos = s.nvox / rtot;
    j.rtot = (int)rtot;
    j.lambda = opts->lambda;
    mv__parallel_for(j.npos * s.nbatch, 256, mv__threads_for_bytes(opts->threads, (uint64_t)mv_vol_bytes(aliased) * 4),
                     mv__sense_range, &j);
    return MV_OK;
}

MVDEF mv_status mv_sense_unfold(const mv_vol *aliased, const mv_vol *sens, mv_vol *out, const int accel[3],
                                const mv_mri_opts *opts)
{
    mv_mri_opts od;
    mv_vol t;
    mv_status st;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(aliased, "mv_sense_unfold", "aliased"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_sense_unfold: out is NULL");
    MV__TRY(mv__mri_alloc_like(aliased, MV_DT_C64, 1, &t, opts->alloc_ctx, "mv_sense_unfold"));
    st = mv_sense_unfold_into(aliased, sens, &t, accel, opts);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, aliased, sens);
}

/* ---- bounded-memory reconstructions ---------------------------------------- */

typedef struct mv__sq_job {
    const float *x;
    float *acc;
    int first, last;
} mv__sq_job;

/* acc = (first ? 0 : acc) + |x|^2, then sqrt on the last coil: the same
   operations, in the same order, as mv_rss on all coils at once */
static void mv__sq_range(void *ctx, int64_t b, int64_t e, int worker)
{
    const mv__sq_job *j = (const mv__sq_job *)ctx;
    int64_t i;
    (void)worker;
    for (i = b; i < e; i++) {
        float re = j->x[2 * i], im = j->x[2 * i + 1], s = re * re + im * im;
        float a = j->first ? s : j->acc[i] + s;
        j->acc[i] = j->last ? sqrtf(a) : a;
    }
}

MVDEF mv_status mv_recon_rss(const mv_vol *kspace, mv_vol *out, const mv_mri_opts *opts)
{
    static const char *fn = "mv_recon_rss";
    mv_mri_opts od;
    mv__mri_shape s;
    mv_fft_opts fo;
    mv_fft_plan *pl = NULL;
    mv_vol t;
    void *scratch = NULL;
    float *img = NULL;
    mv_status st;
    int64_t b, c;
    int cached = 0;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(kspace, fn, "kspace"));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: out is NULL", fn);
    s = mv__mri_shape_of(kspace);
    memset(&fo, 0, sizeof(fo));
    fo.norm = MV_FFT_ORTHO;
    fo.threads = opts->threads;
    fo.alloc_ctx = opts->alloc_ctx;
    MV__TRY(mv__fft_cache_acquire(&pl, &cached, MV__FFT_C2C, 3, kspace->dim, mv__mri_spatial_axes(kspace), 1, &fo));
    st = mv__mri_alloc_like(kspace, MV_DT_F32, 1, &t, opts->alloc_ctx, fn);
    if (st != MV_OK) {
        mv__fft_cache_release(pl, cached);
        return st;
    }
    scratch = mv__alloc(mv_fftc_scratch_size(pl), opts->alloc_ctx);
    img = (float *)mv__alloc((size_t)s.nvox * 8, opts->alloc_ctx);
    if (!scratch || !img) {
        st = mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: one coil volume and FFT scratch", fn);
        goto done;
    }
    for (b = 0; b < s.nbatch && st == MV_OK; b++)
        for (c = 0; c < s.nc && st == MV_OK; c++) {
            mv__sq_job j;
            st = mv_fftc_execute_into(pl, (const float *)kspace->data + 2 * (size_t)((b * s.nc + c) * s.nvox), img,
                                      scratch);
            j.x = img;
            j.acc = (float *)t.data + (size_t)(b * s.nvox);
            j.first = c == 0;
            j.last = c == s.nc - 1;
            if (st == MV_OK)
                mv__parallel_for(s.nvox, 1 << 15, mv__threads_for_bytes(opts->threads, (uint64_t)s.nvox * 12),
                                 mv__sq_range, &j);
        }
done:
    mv__free(scratch, opts->alloc_ctx);
    mv__free(img, opts->alloc_ctx);
    mv__fft_cache_release(pl, cached);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, kspace, NULL);
}

MVDEF mv_status mv_recon_sense(const mv_vol *kspace, const mv_vol *sens, mv_vol *out, const int accel[3],
                               const mv_mri_opts *opts)
{
    static const char *fn = "mv_recon_sense";
    mv_mri_opts od;
    mv__mri_shape s;
    mv_fft_opts fo;
    mv_fft_plan *pl = NULL;
    mv_vol t, av, ov;
    void *scratch = NULL;
    float *img = NULL;
    mv_status st;
    int64_t b, d4[4], rtot;
    int cached = 0;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_c64(kspace, fn, "kspace"));
    MV__TRY(mv__check_sens(kspace, sens, fn));
    MV__TRY(mv__check_accel(kspace, accel, &rtot, fn));
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "%s: out is NULL", fn);
    s = mv__mri_shape_of(kspace);
    d4[0] = kspace->dim[0];
    d4[1] = kspace->dim[1];
    d4[2] = kspace->dim[2];
    d4[3] = s.nc;
    memset(&fo, 0, sizeof(fo));
    fo.norm = MV_FFT_ORTHO;
    fo.threads = opts->threads;
    fo.alloc_ctx = opts->alloc_ctx;
    MV__TRY(mv__fft_cache_acquire(&pl, &cached, MV__FFT_C2C, 4, d4, mv__mri_spatial_axes(kspace), 1, &fo));
    st = mv__mri_alloc_like(kspace, MV_DT_C64, 1, &t, opts->alloc_ctx, fn);
    if (st != MV_OK) {
        mv__fft_cache_release(pl, cached);
        return st;
    }
    scratch = mv__alloc(mv_fftc_scratch_size(pl), opts->alloc_ctx);
    img = (float *)mv__alloc((size_t)(s.nvox * s.nc) * 8, opts->alloc_ctx);
    if (!scratch || !img) {
        st = mv__fail(MV_ERR_OUT_OF_MEMORY, "%s: coil images of one volume and FFT scratch", fn);
        goto done;
    }
    mv_vol_wrap(&av, img, MV_DT_C64, 4, d4);
    mv_vol_wrap(&ov, t.data, MV_DT_C64, 3, d4);
    for (b = 0; b < s.nbatch && st == MV_OK; b++) {
        st = mv_fftc_execute_into(pl, (const float *)kspace->data + 2 * (size_t)(b * s.nc * s.nvox), img, scratch);
        ov.data = (float *)t.data + 2 * (size_t)(b * s.nvox);
        if (st == MV_OK) st = mv_sense_unfold_into(&av, sens, &ov, accel, opts);
    }
done:
    mv__free(scratch, opts->alloc_ctx);
    mv__free(img, opts->alloc_ctx);
    mv__fft_cache_release(pl, cached);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(out, &t, kspace, sens);
}

/* ---- phantom ------------------------------------------------------------------ */

MVDEF mv_status mv_phantom_coil_sens(mv_vol *out, int64_t nx, int64_t ny, int64_t nz, int ncoils)
{
    int64_t dims[4], x, y, z, nvox;
    int c;
    float *S;
    MV__CHECK(out != NULL, MV_ERR_INVALID_ARG, "mv_phantom_coil_sens: out is NULL");
    MV__CHECK(ncoils >= 1 && ncoils <= 1024, MV_ERR_INVALID_ARG, "mv_phantom_coil_sens: %d coils (1..1024)", ncoils);
    dims[0] = nx;
    dims[1] = ny;
    dims[2] = nz;
    dims[3] = ncoils;
    MV__TRY(mv_vol_alloc(out, MV_DT_C64, 4, dims, NULL));
    S = (float *)out->data;
    nvox = nx * ny * nz;
    for (z = 0; z < nz; z++)
        for (y = 0; y < ny; y++)
            for (x = 0; x < nx; x++) {
                double px = mv__lin11(x, nx), py = mv__lin11(y, ny), pz = mv__lin11(z, nz), norm = 0;
                int64_t v = x + nx * (y + ny * z);
                /* coils on a ring of radius 1.3 around the object (alternating
                   above and below the centre plane in 3D); Gaussian fall-off,
                   a smooth phase that turns across the field of view */
                for (c = 0; c < ncoils; c++) {
                    double th = 2 * 3.14159265358979323846 * c / ncoils, cx = 1.3 * cos(th), cy = 1.3 * sin(th);
                    double cz = nz > 1 ? (c % 2 ? 0.6 : -0.6) : 0.0;
                    double d2 = (px - cx) * (px - cx) + (py - cy) * (py - cy) + (pz - cz) * (pz - cz);
                    double mag = exp(-d2 / (2 * 0.9 * 0.9)), ph = th + 0.8 * (px * cos(th) + py * sin(th)) + 0.3 * pz;
                    S[2 * (size_t)(c * nvox + v)] = (float)(mag * cos(ph));
                    S[2 * (size_t)(c * nvox + v) + 1] = (float)(mag * sin(ph));
                    norm += mag * mag;
                }
                norm = 1.0 / sqrt(norm);
                for (c = 0; c < ncoils; c++) {
                    float *p = S + 2 * (size_t)(c * nvox + v);
                    p[0] = (float)(p[0] * norm);
                    p[1] = (float)(p[1] * norm);
                }
            }
    mv__centred_affine(out);
    return MV_OK;
}

MVDEF mv_status mv_phantom_kspace(const mv_vol *image, const mv_vol *sens, mv_vol *kspace, const mv_mri_opts *opts)
{
    static const char *fn = "mv_phantom_kspace";
    mv_mri_opts od;
    mv_vol t;
    mv__mri_shape s;
    int64_t c, v;
    int a;
    mv_status st;
    float *K;
    opts = mv__mri_opts_or_default(opts, &od);
    MV__TRY(mv__mri_check_vol(image, fn, "image"));
    MV__CHECK(image->dtype == MV_DT_F32 || image->dtype == MV_DT_C64, MV_ERR_UNSUPPORTED, "%s: image is %s", fn,
              mv_dtype_name(image->dtype));
    MV__TRY(mv__mri_check_c64(sens, fn, "sens"));
    MV__CHECK(kspace != NULL, MV_ERR_INVALID_ARG, "%s: kspace is NULL", fn);
    for (a = 0; a < 3; a++)
        MV__CHECK(sens->dim[a] == image->dim[a], MV_ERR_INVALID_ARG, "%s: sens dims[%d] differs from the image's", fn,
                  a);
    MV__CHECK(mv_vol_count(image) == image->dim[0] * image->dim[1] * image->dim[2], MV_ERR_INVALID_ARG,
              "%s: image must be 3D", fn);
    s = mv__mri_shape_of(sens);
    MV__TRY(mv__mri_alloc_like(sens, MV_DT_C64, 0, &t, opts->alloc_ctx, fn));
    K = (float *)t.data;
    for (c = 0; c < s.nc; c++)
        for (v = 0; v < s.nvox; v++) {
            const float *sc = (const float *)sens->data + 2 * (size_t)(c * s.nvox + v);
            float ir, ii;
            if (image->dtype == MV_DT_F32) {
                ir = ((const float *)image->data)[v];
                ii = 0;
            } else {
                ir = ((const float *)image->data)[2 * v];
                ii = ((const float *)image->data)[2 * v + 1];
            }
            K[2 * (size_t)(c * s.nvox + v)] = sc[0] * ir - sc[1] * ii;
            K[2 * (size_t)(c * s.nvox + v) + 1] = sc[0] * ii + sc[1] * ir;
        }
    st = mv__fftc_raw(K, K, t.ndim, t.dim, mv__mri_spatial_axes(&t), 0, opts->threads, opts->alloc_ctx, fn);
    if (st != MV_OK) {
        mv_free(&t);
        return st;
    }
    return mv__out_commit_in(kspace, &t, image, sens);
}

/* >>impl-transport =========================================================
   Proton transport (>>api-transport): material physics, plan, the three
   operators as passes over energy slabs, the fused step, bookkeeping. */

/* NIST PSTAR, liquid water: kinetic energy (MeV) and total (electronic +
   nuclear) mass stopping power (MeV cm^2/g), the tables of ICRU Report 49
   (1993) as PSTAR serves them (physics.nist.gov/PhysRefData/Star/Text/
   PSTAR.html), 1 keV to 1 GeV (PSTAR's 22.5 MeV row is not carried; the
   log-log interpolant between 20 and 25 MeV stands for it). Integrated by
   mv_csda_range they give PSTAR's CSDA ranges to better than 0.1% from
   10 MeV up (tests/test_transport.c checks 10..300 MeV). */
static const double mv__pstar_water_e[] = {
    0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.0125, 0.015,
    0.0175, 0.02, 0.0225, 0.025, 0.0275, 0.03, 0.035, 0.04, 0.045, 0.05, 0.055, 0.06, 0.065, 0.07, 0.075,
    0.08, 0.085, 0.09, 0.095, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.35, 0.4, 0.45, 0.5,
    0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.5, 4,
    4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10, 12.5, 15, 17.5, 20, 25, 27.5, 30, 35, 40, 45, 50, 55,
    60, 65, 70, 75, 80, 85, 90, 95, 100, 125, 150, 175, 200, 225, 250, 275, 300, 350, 400, 450, 500, 550,
    600, 650, 700, 750, 800, 850, 900, 950, 1000};
static const double mv__pstar_water_s[] = {
    176.9, 198.4, 218.4, 237.0, 254.4, 286.4, 315.3, 342.0, 366.7, 390.0, 412.0, 432.9, 474.5, 511.0,
    543.7, 573.3, 600.1, 624.5, 646.7, 667.1, 702.8, 732.4, 756.9, 776.8, 792.7, 805.0, 814.2, 820.5, 824.3,
    826.0, 825.8, 823.9, 820.6, 816.1, 781.4, 737.1, 696.9, 661.3, 629.4, 600.6, 574.4, 550.4, 508.0, 471.9,
    440.6, 413.2, 389.1, 368.0, 349.2, 332.5, 317.5, 303.9, 291.7, 280.5, 270.2, 260.8, 222.9, 195.7, 174.9,
    158.6, 145.4, 134.4, 125.1, 117.2, 104.2, 94.04, 85.86, 79.11, 73.43, 68.58, 64.38, 60.71, 57.47, 54.60,
    52.02, 49.69, 47.59, 45.67, 38.15, 32.92, 29.05, 26.07, 21.75, 20.13, 18.76, 16.56, 14.88, 13.54, 12.45,
    11.54, 10.78, 10.13, 9.559, 9.063, 8.625, 8.236, 7.888, 7.573, 7.289, 6.192, 5.445, 4.903, 4.492, 4.170,
    3.911, 3.698, 3.520, 3.241, 3.032, 2.871, 2.743, 2.640, 2.556, 2.485, 2.426, 2.376, 2.333, 2.296, 2.264,
    2.236, 2.211};

#define MV__PROTON_MASS 938.272 /* MeV (CODATA 938.27208816) */
#define MV__MAX_MATERIAL 100000

MVDEF mv_status mv_material_water(mv_material *m)
{
    MV__CHECK(m, MV_ERR_INVALID_ARG, "mv_material_water: m is NULL");
    m->energy = mv__pstar_water_e;
    m->stopping = mv__pstar_water_s;
    m->n = (int)(sizeof(mv__pstar_water_e) / sizeof(mv__pstar_water_e[0]));
    m->density = 1.0;
    m->x0 = 36.08;
    return MV_OK;
}

static mv_status mv__material_check(const char *fn, const mv_material *m)
{
    int k;
    MV__CHECK(m->energy && m->stopping, MV_ERR_INVALID_ARG, "%s: material table is NULL", fn);
    MV__CHECK(m->n >= 2 && m->n <= MV__MAX_MATERIAL, MV_ERR_INVALID_ARG, "%s: material.n = %d (2..%d)", fn, m->n,
              MV__MAX_MATERIAL);
    MV__CHECK(m->density > 0 && m->density < 1e6, MV_ERR_INVALID_ARG, "%s: material.density = %g", fn, m->density);
    MV__CHECK(m->x0 > 0 && m->x0 < 1e12, MV_ERR_INVALID_ARG, "%s: material.x0 = %g", fn, m->x0);
    for (k = 0; k < m->n; k++) {
        MV__CHECK(m->energy[k] > 0 && m->energy[k] < 1e12 && (k == 0 || m->energy[k] > m->energy[k - 1]),
                  MV_ERR_INVALID_ARG, "%s: material.energy[%d] = %g (positive, strictly ascending)", fn, k,
                  m->energy[k]);
        MV__CHECK(m->stopping[k] > 0 && m->stopping[k] < 1e12, MV_ERR_INVALID_ARG,
                  "%s: material.stopping[%d] = %g (positive)", fn, k, m->stopping[k]);
    }
    return MV_OK;
}

static mv_status mv__material_get(const char *fn, const mv_material *m, mv_material *out)
{
    if (!m) return mv_material_water(out);
    *out = *m;
    return mv__material_check(fn, out);
}

/* log-log exponent of segment k (clamped to the table) */
static double mv__tr_b(const mv_material *m, int k)
{
    if (k < 0) k = 0;
    if (k > m->n - 2) k = m->n - 2;
    return log(m->stopping[k + 1] / m->stopping[k]) / log(m->energy[k + 1] / m->energy[k]);
}
/* the exponent below the table: the first segment's, if the range integral
   down to 0 converges with it, else constant S */
static double mv__tr_blow(const mv_material *m)
{
    double b = mv__tr_b(m, 0);
    return b < 1.0 ? b : 0.0;
}
/* integral of dE / (s_k (E/e_k)^b) from ea to eb */
static double mv__tr_seg(double ek, double sk, double b, double ea, double eb)
{
    double c = 1.0 - b;
    if (fabs(c) < 1e-12) return ek / sk * log(eb / ea);
    return ek / sk * (pow(eb / ek, c) - pow(ea / ek, c)) / c;
}
static double mv__tr_stop(const mv_material *m, double e)
{
    int lo = 0, hi = m->n - 1;
    if (e <= m->energy[0]) return m->stopping[0] * pow(e / m->energy[0], mv__tr_blow(m));
    while (hi - lo > 1) { /* energy[lo] <= e < energy[hi] */
        int mid = (lo + hi) / 2;
        if (m->energy[mid] <= e) lo = mid;
        else hi = mid;
    }
    if (e >= m->energy[m->n - 1]) lo = m->n - 2;
    return m->stopping[lo] * pow(e / m->energy[lo], mv__tr_b(m, lo));
}
static double mv__tr_range(const mv_material *m, double e)
{
    double r, bl = mv__tr_blow(m);
    int k;
    if (e <= 0) return 0;
    r = m->energy[0] / m->stopping[0] / (1.0 - bl);
    if (e <= m->energy[0]) return r * pow(e / m->energy[0], 1.0 - bl);
    for (k = 0; k < m->n - 1; k++) {
        double top = k == m->n - 2 ? e : MV__MIN(e, m->energy[k + 1]);
        r += mv__tr_seg(m->energy[k], m->stopping[k], mv__tr_b(m, k), m->energy[k], top);
        if (e <= m->energy[k + 1]) break;
    }
    return r;
}
static double mv__tr_energy(const mv_material *m, double r)
{
    double r0, rk, bl = mv__tr_blow(m);
    int k;
    if (r <= 0) return 0;
    r0 = m->energy[0] / m->stopping[0] / (1.0 - bl);
    if (r <= r0) return m->energy[0] * pow(r / r0, 1.0 / (1.0 - bl));
    rk = r0;
    for (k = 0; k < m->n - 1; k++) {
        double b = mv__tr_b(m, k), ek = m->energy[k], sk = m->stopping[k], c = 1.0 - b, base;
        double seg = mv__tr_seg(ek, sk, b, ek, m->energy[k + 1]);
        if (k < m->n - 2 && r > rk + seg) {
            rk += seg;
            continue;
        }
        if (fabs(c) < 1e-12) return ek * exp((r - rk) * sk / ek);
        base = 1.0 + (r - rk) * sk * c / ek;
        return base > 0 ? ek * pow(base, 1.0 / c) : HUGE_VAL;
    }
    return HUGE_VAL; /* not reached: the last segment always answers */
}
static double mv__tr_highland(const mv_material *m, double e, double path_mm)
{
    double pc = sqrt(e * (e + 2.0 * MV__PROTON_MASS)), beta = pc / (e + MV__PROTON_MASS), pv = pc * beta;
    double t = path_mm * m->density / 10.0 / m->x0, th;
    if (t <= 0 || e <= 0) return 0;
    th = 13.6 / pv * sqrt(t) * (1.0 + 0.038 * log(t / (beta * beta)));
    return th > 0 ? th : 0;
}

MVDEF mv_status mv_stopping_power(const mv_material *m, double energy, double *s)
{
    mv_material mm;
    MV__CHECK(s, MV_ERR_INVALID_ARG, "mv_stopping_power: s is NULL");
    MV__TRY(mv__material_get("mv_stopping_power", m, &mm));
    MV__CHECK(energy > 0 && energy < 1e12, MV_ERR_INVALID_ARG, "mv_stopping_power: energy = %g MeV", energy);
    *s = mv__tr_stop(&mm, energy);
    return MV_OK;
}
MVDEF mv_status mv_csda_range(const mv_material *m, double energy, double *range)
{
    mv_material mm;
    MV__CHECK(range, MV_ERR_INVALID_ARG, "mv_csda_range: range is NULL");
    MV__TRY(mv__material_get("mv_csda_range", m, &mm));
    MV__CHECK(energy >= 0 && energy < 1e12, MV_ERR_INVALID_ARG, "mv_csda_range: energy = %g MeV", energy);
    *range = mv__tr_range(&mm, energy);
    return MV_OK;
}
MVDEF mv_status mv_csda_energy(const mv_material *m, double range, double *energy)
{
    mv_material mm;
    MV__CHECK(energy, MV_ERR_INVALID_ARG, "mv_csda_energy: energy is NULL");
    MV__TRY(mv__material_get("mv_csda_energy", m, &mm));
    MV__CHECK(range >= 0 && range < 1e12, MV_ERR_INVALID_ARG, "mv_csda_energy: range = %g g/cm^2", range);
    *energy = mv__tr_energy(&mm, range);
    MV__CHECK(*energy < HUGE_VAL, MV_ERR_INVALID_ARG, "mv_csda_energy: range %g g/cm^2 beyond the table", range);
    return MV_OK;
}
MVDEF mv_status mv_highland(const mv_material *m, double energy, double path_mm, double *theta0)
{
    mv_material mm;
    MV__CHECK(theta0, MV_ERR_INVALID_ARG, "mv_highland: theta0 is NULL");
    MV__TRY(mv__material_get("mv_highland", m, &mm));
    MV__CHECK(energy > 0 && energy < 1e12, MV_ERR_INVALID_ARG, "mv_highland: energy = %g MeV", energy);
    MV__CHECK(path_mm >= 0 && path_mm < 1e12, MV_ERR_INVALID_ARG, "mv_highland: path_mm = %g", path_mm);
    *theta0 = mv__tr_highland(&mm, energy, path_mm);
    return MV_OK;
}

/* ---- the plan ---- */

typedef struct mv__tr_shift {
    int64_t ix, iz;      /* whole-cell part of the move (floor) */
    float w[4];          /* bilinear weights: (z-iz, x-ix), (z-iz, x-ix-1), (z-iz-1, x-ix), (z-iz-1, x-ix-1) */
    int copy;            /* whole-cell move: rows are copied */
    int64_t xa, xb;      /* source columns [xa, xb) keep all their particles */
    double *wx, *wz;     /* fraction of a source cell's content that stays in the slab, per column / row */
} mv__tr_shift;

/* energy loss over one step, as gather lists per target bin */
typedef struct mv__tr_eloss {
    int *start, *src;       /* ne + 1; entries: source bins, ascending per target */
    float *w;
    int *ds_start, *ds_src; /* sources whose dose and totals a target's pass computes */
    double *dep, *absorb;   /* per source bin: MeV deposited and fraction absorbed per particle */
} mv__tr_eloss;

typedef struct mv__tr_kernel {
    int *start;          /* ne + 1 */
    int *off;            /* theta offsets (gather from theta - off) */
    float *w;
} mv__tr_kernel;

struct mv_transport {
    int nx, nz, nth, ne, threads, split, fused, no_scatter;
    double dx, dz, step, dth;
    int64_t row, plane, cells;
    mv_material mat;
    double *mat_e, *mat_s;
    double *energy, *edges, *range;
    mv__tr_eloss el[2];     /* energy loss over a full and a half step */
    mv__tr_kernel sc[2];    /* scattering kernels: full and half variance */
    mv__tr_shift *sh[2];    /* per theta: full and half step */
    double *win;
    int maxptr;
    float *scratch, *zero_row, *ones;
    const float **ptrs;
    double *dpart, *nin, *nout, *ngat, *esc;
    void *alloc_ctx;
};

MVDEF void mv_transport_free(mv_transport *t)
{
    void *ctx;
    int i;
    if (!t) return;
    ctx = t->alloc_ctx;
    mv__free(t->mat_e, ctx);
    mv__free(t->mat_s, ctx);
    mv__free(t->energy, ctx);
    mv__free(t->edges, ctx);
    mv__free(t->range, ctx);
    for (i = 0; i < 2; i++) {
        mv__free(t->el[i].start, ctx);
        mv__free(t->el[i].src, ctx);
        mv__free(t->el[i].w, ctx);
        mv__free(t->el[i].ds_start, ctx);
        mv__free(t->el[i].ds_src, ctx);
        mv__free(t->el[i].dep, ctx);
        mv__free(t->el[i].absorb, ctx);
    }
    mv__free(t->sc[0].start, ctx);
    mv__free(t->sc[0].off, ctx);
    mv__free(t->sc[0].w, ctx);
    mv__free(t->sc[1].start, ctx);
    mv__free(t->sc[1].off, ctx);
    mv__free(t->sc[1].w, ctx);
    mv__free(t->sh[0], ctx);
    mv__free(t->sh[1], ctx);
    mv__free(t->win, ctx);
    mv__free(t->scratch, ctx);
    mv__free(t->zero_row, ctx);
    mv__free(t->ones, ctx);
    mv__free((void *)t->ptrs, ctx);
    mv__free(t->dpart, ctx);
    mv__free(t->nin, ctx);
    mv__free(t->nout, ctx);
    mv__free(t->ngat, ctx);
    mv__free(t->esc, ctx);
    mv__free(t, ctx);
}

/* zeroed block of n items of size sz, or NULL (overflow-checked) */
static void *mv__tr_new(mv_transport *t, uint64_t n, size_t sz)
{
    uint64_t b;
    if (!mv__mul_u64(n ? n : 1, (uint64_t)sz, &b) || !mv__fits_size(b)) return NULL;
    return mv__alloc_zero((size_t)b, t->alloc_ctx);
}

static double mv__tr_phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Scattering kernel of standard deviation sig (in bins): sampled Gaussian
   exp(-d^2 / 2 s^2), |d| <= 5 sigma + 2, s chosen by bisection so the
   discrete variance is sig^2; where the kernel would wrap around the circle,
   s = sigma and the weights are folded modulo ntheta. Writes up to
   ntheta or 2h+1 entries; returns the count. */
static int mv__tr_gauss(double sig, int nth, int *off, float *w, double *g)
{
    double v = sig * sig, s, lo, hi, sum;
    int h, d, k, n = 0;
    if (!(sig > 1e-4)) {
        off[0] = 0;
        w[0] = 1.0f;
        return 1;
    }
    h = (int)ceil(5.0 * sig) + 2;
    if (2 * h + 1 >= nth) { /* wraps: fold */
        for (k = 0; k < nth; k++) g[k] = 0;
        for (d = -h; d <= h; d++) g[((d % nth) + nth) % nth] += exp(-(double)d * d / (2 * v));
        sum = 0;
        for (k = 0; k < nth; k++) sum += g[k];
        for (k = 0; k < nth; k++) {
            off[n] = k;
            w[n++] = (float)(g[k] / sum);
        }
        return n;
    }
    lo = 0;
    hi = sig + 1.0;
    for (k = 0; k < 100; k++) {
        double m = 0, s0 = 0;
        s = 0.5 * (lo + hi);
        for (d = -h; d <= h; d++) {
            double e = exp(-(double)d * d / (2 * s * s));
            s0 += e;
            m += (double)d * d * e;
        }
        if (m / s0 < v) lo = s;
        else hi = s;
    }
    s = 0.5 * (lo + hi);
    /* tails below 1e-9 of the centre are dropped (they change the variance
       by less than 1e-7 of itself) and the rest renormalised */
    sum = 0;
    for (d = -h; d <= h; d++) {
        g[d + h] = exp(-(double)d * d / (2 * s * s));
        if (g[d + h] < 1e-9) g[d + h] = 0;
        sum += g[d + h];
    }
    for (d = -h; d <= h; d++) {
        if (g[d + h] == 0) continue;
        off[n] = d;
        w[n++] = (float)(g[d + h] / sum);
    }
    return n;
}

static mv_status mv__tr_build_kernels(mv_transport *t, int half)
{
    mv__tr_kernel *K = &t->sc[half];
    double dth = t->dth * 3.14159265358979323846 / 180.0, *g;
    int i, cap = 0, n = 0, *off;
    float *w;
    for (i = 0; i < t->ne; i++) {
        double th = t->no_scatter ? 0 : mv__tr_highland(&t->mat, t->energy[i], t->step);
        double sig = th / dth * (half ? sqrt(0.5) : 1.0);
        int h = sig > 1e-4 ? (int)ceil(5.0 * sig) + 2 : 0;
        cap += 2 * h + 1 >= t->nth ? t->nth : 2 * h + 1;
    }
    K->start = (int *)mv__tr_new(t, (uint64_t)t->ne + 1, sizeof(int));
    K->off = (int *)mv__tr_new(t, (uint64_t)cap, sizeof(int));
    K->w = (float *)mv__tr_new(t, (uint64_t)cap, sizeof(float));
    g = (double *)mv__tr_new(t, (uint64_t)cap + (uint64_t)t->nth + 8, sizeof(double));
    if (!K->start || !K->off || !K->w || !g) {
        mv__free(g, t->alloc_ctx);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_transport_create: scattering kernels");
    }
    off = K->off;
    w = K->w;
    for (i = 0; i < t->ne; i++) {
        double th = t->no_scatter ? 0 : mv__tr_highland(&t->mat, t->energy[i], t->step);
        double sig = th / dth * (half ? sqrt(0.5) : 1.0);
        int m;
        K->start[i] = n;
        m = mv__tr_gauss(sig, t->nth, off + n, w + n, g);
        n += m;
        if (m > t->maxptr) t->maxptr = m;
    }
    K->start[t->ne] = n;
    mv__free(g, t->alloc_ctx);
    return MV_OK;
}

static void mv__tr_build_shift(mv_transport *t, int half, double *win)
{
    int j;
    int64_t k;
    double hs = half ? 0.5 * t->step : t->step;
    for (j = 0; j < t->nth; j++) {
        mv__tr_shift *s = &t->sh[half][j];
        double a = j * t->dth * 3.14159265358979323846 / 180.0;
        double ux = hs * cos(a) / t->dx, uz = hs * sin(a) / t->dz, fx, fz;
        double rx = floor(ux + 0.5), rz = floor(uz + 0.5);
        if (fabs(ux - rx) < 1e-9) ux = rx; /* whole cells: exact copies */
        if (fabs(uz - rz) < 1e-9) uz = rz;
        s->ix = (int64_t)floor(ux);
        s->iz = (int64_t)floor(uz);
        fx = ux - (double)s->ix;
        fz = uz - (double)s->iz;
        s->w[0] = (float)((1 - fz) * (1 - fx));
        s->w[1] = (float)((1 - fz) * fx);
        s->w[2] = (float)(fz * (1 - fx));
        s->w[3] = (float)(fz * fx);
        s->copy = fx == 0 && fz == 0;
        s->wx = win;
        win += t->nx;
        s->wz = win;
        win += t->nz;
        s->xa = t->nx;
        s->xb = 0;
        for (k = 0; k < t->nx; k++) {
            int64_t d0 = k + s->ix, d1 = d0 + 1;
            s->wx[k] = (d0 >= 0 && d0 < t->nx ? 1 - fx : 0) + (d1 >= 0 && d1 < t->nx ? fx : 0);
            if (s->wx[k] == 1.0) {
                if (k < s->xa) s->xa = k;
                s->xb = k + 1;
            }
        }
        if (s->xb <= s->xa) s->xa = s->xb = t->nx;
        for (k = 0; k < t->nz; k++) {
            int64_t d0 = k + s->iz, d1 = d0 + 1;
            s->wz[k] = (d0 >= 0 && d0 < t->nz ? 1 - fz : 0) + (d1 >= 0 && d1 < t->nz ? fz : 0);
        }
    }
}

static mv_status mv__tr_build_eloss(mv_transport *t, int half)
{
    mv__tr_eloss *L = &t->el[half];
    int ne = t->ne, i;
    double hg = (half ? 0.5 : 1.0) * t->step * t->mat.density / 10.0; /* g/cm^2 per step */
    int *tj = (int *)mv__tr_new(t, (uint64_t)ne, 2 * sizeof(int));
    float *tw = (float *)mv__tr_new(t, (uint64_t)ne, 2 * sizeof(float));
    int *fill = (int *)mv__tr_new(t, (uint64_t)ne + 1, sizeof(int));
    int *desig = (int *)mv__tr_new(t, (uint64_t)ne, sizeof(int));
    mv_status st = MV_OK;
    L->start = (int *)mv__tr_new(t, (uint64_t)ne + 1, sizeof(int));
    L->src = (int *)mv__tr_new(t, (uint64_t)ne, 2 * sizeof(int));
    L->w = (float *)mv__tr_new(t, (uint64_t)ne, 2 * sizeof(float));
    L->ds_start = (int *)mv__tr_new(t, (uint64_t)ne + 1, sizeof(int));
    L->ds_src = (int *)mv__tr_new(t, (uint64_t)ne, sizeof(int));
    L->dep = (double *)mv__tr_new(t, (uint64_t)ne, sizeof(double));
    L->absorb = (double *)mv__tr_new(t, (uint64_t)ne, sizeof(double));
    if (!tj || !tw || !fill || !desig || !L->start || !L->src || !L->w || !L->ds_start || !L->ds_src ||
        !L->dep || !L->absorb) {
        st = mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_transport_create: energy-loss map");
        goto done;
    }
    for (i = 0; i < ne; i++) {
        double r = t->range[i] - hg, e = t->energy[i];
        tj[2 * i] = tj[2 * i + 1] = -1;
        tw[2 * i] = tw[2 * i + 1] = 0;
        desig[i] = 0;
        if (r <= 0) { /* stops within the step */
        } else if (r < t->range[0]) { /* between the virtual bin (0, 0) and bin 0 */
            tj[2 * i + 1] = 0;
            tw[2 * i + 1] = (float)(r / t->range[0]);
        } else {
            int lo = 0, hi = i; /* range[lo] <= r < range[hi] */
            double f;
            while (hi - lo > 1) {
                int mid = (lo + hi) / 2;
                if (t->range[mid] <= r) lo = mid;
                else hi = mid;
            }
            f = (r - t->range[lo]) / (t->range[lo + 1] - t->range[lo]);
            if (f < 1e-9) f = 0; /* a step of whole bins: one target, an exact copy */
            if (f > 1 - 1e-9 && lo + 1 < i) {
                lo++;
                f = 0;
            }
            tj[2 * i] = lo;
            tw[2 * i] = (float)(1 - f);
            tj[2 * i + 1] = lo + 1;
            tw[2 * i + 1] = (float)f;
            desig[i] = lo;
        }
        L->dep[i] = e;
        L->absorb[i] = 1;
        if (tj[2 * i] >= 0) {
            L->dep[i] -= (double)tw[2 * i] * t->energy[tj[2 * i]];
            L->absorb[i] -= (double)tw[2 * i];
        }
        if (tj[2 * i + 1] >= 0) {
            L->dep[i] -= (double)tw[2 * i + 1] * t->energy[tj[2 * i + 1]];
            L->absorb[i] -= (double)tw[2 * i + 1];
        }
    }
    /* gather lists: per target, its sources in ascending order */
    for (i = 0; i < ne; i++) {
        int k;
        for (k = 0; k < 2; k++)
            if (tj[2 * i + k] >= 0 && tw[2 * i + k] != 0.0f) fill[tj[2 * i + k] + 1]++;
    }
    for (i = 0; i < ne; i++) fill[i + 1] += fill[i];
    memcpy(L->start, fill, (size_t)(ne + 1) * sizeof(int));
    for (i = 0; i < ne; i++) {
        int k;
        for (k = 0; k < 2; k++) {
            int j = tj[2 * i + k];
            if (j < 0 || tw[2 * i + k] == 0.0f) continue;
            L->src[fill[j]] = i;
            L->w[fill[j]++] = tw[2 * i + k];
        }
    }
    for (i = 0; i < ne; i++) {
        int k = L->start[i + 1] - L->start[i];
        if (k > t->maxptr) t->maxptr = k;
    }
    memset(fill, 0, (size_t)(ne + 1) * sizeof(int));
    for (i = 0; i < ne; i++) fill[desig[i] + 1]++;
    for (i = 0; i < ne; i++) fill[i + 1] += fill[i];
    memcpy(L->ds_start, fill, (size_t)(ne + 1) * sizeof(int));
    for (i = 0; i < ne; i++) L->ds_src[fill[desig[i]]++] = i;
done:
    mv__free(tj, t->alloc_ctx);
    mv__free(tw, t->alloc_ctx);
    mv__free(fill, t->alloc_ctx);
    mv__free(desig, t->alloc_ctx);
    return st;
}

MVDEF mv_status mv_transport_create(const mv_transport_opts *opts, mv_transport **plan)
{
    mv_transport_opts o;
    mv_transport *t;
    mv_material mm;
    uint64_t cells, bytes;
    double rmin, rmax;
    int i;
    mv_status st;
    MV__CHECK(plan, MV_ERR_INVALID_ARG, "mv_transport_create: plan is NULL");
    *plan = NULL;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof(o));
    if (!o.nx) o.nx = 40;
    if (!o.nz) o.nz = 40;
    if (!o.ntheta) o.ntheta = 72;
    if (!o.ne) o.ne = 200;
    if (o.dx == 0) o.dx = 1;
    if (o.dz == 0) o.dz = 1;
    if (o.e_min == 0) o.e_min = 1;
    if (o.e_max == 0) o.e_max = 250;
    if (o.step == 0) o.step = o.dz;
    MV__CHECK(o.nx > 0 && o.nx <= (1 << 24), MV_ERR_INVALID_ARG, "mv_transport_create: nx = %d", o.nx);
    MV__CHECK(o.nz > 0 && o.nz <= (1 << 24), MV_ERR_INVALID_ARG, "mv_transport_create: nz = %d", o.nz);
    MV__CHECK(o.ntheta > 0 && o.ntheta <= 65536, MV_ERR_INVALID_ARG, "mv_transport_create: ntheta = %d",
              o.ntheta);
    MV__CHECK(o.ne >= 2 && o.ne <= 65536, MV_ERR_INVALID_ARG, "mv_transport_create: ne = %d (2..65536)", o.ne);
    MV__CHECK(o.dx > 0 && o.dx < 1e6, MV_ERR_INVALID_ARG, "mv_transport_create: dx = %g mm", o.dx);
    MV__CHECK(o.dz > 0 && o.dz < 1e6, MV_ERR_INVALID_ARG, "mv_transport_create: dz = %g mm", o.dz);
    MV__CHECK(o.step > 0 && o.step < 1e6, MV_ERR_INVALID_ARG, "mv_transport_create: step = %g mm", o.step);
    MV__CHECK(o.e_min > 0 && o.e_max > o.e_min && o.e_max < 1e6, MV_ERR_INVALID_ARG,
              "mv_transport_create: e_min = %g, e_max = %g MeV (0 < e_min < e_max)", o.e_min, o.e_max);
    MV__CHECK(o.egrid == MV_EGRID_RANGE || o.egrid == MV_EGRID_UNIFORM, MV_ERR_INVALID_ARG,
              "mv_transport_create: egrid = %d", (int)o.egrid);
    MV__CHECK(o.split == MV_SPLIT_LIE || o.split == MV_SPLIT_STRANG, MV_ERR_INVALID_ARG,
              "mv_transport_create: split = %d", (int)o.split);
    MV__CHECK(o.threads >= 0, MV_ERR_INVALID_ARG, "mv_transport_create: threads = %d", o.threads);
    MV__TRY(mv__material_get("mv_transport_create", o.material, &mm));
    cells = (uint64_t)o.ne * (uint64_t)o.ntheta * (uint64_t)o.nz * (uint64_t)o.nx; /* each < 2^24, 2^16 */
    MV__CHECK(mv__mul_u64(cells, 4, &bytes) && bytes <= (uint64_t)MEDVOL_MAX_BYTES && mv__fits_size(bytes),
              MV_ERR_SIZE_OVERFLOW, "mv_transport_create: fluence of %llu cells exceeds MEDVOL_MAX_BYTES",
              (unsigned long long)cells);
    t = (mv_transport *)mv__alloc_zero(sizeof(*t), o.alloc_ctx);
    MV__CHECK(t, MV_ERR_OUT_OF_MEMORY, "mv_transport_create: plan");
    t->alloc_ctx = o.alloc_ctx;
    t->nx = o.nx;
    t->nz = o.nz;
    t->nth = o.ntheta;
    t->ne = o.ne;
    t->dx = o.dx;
    t->dz = o.dz;
    t->step = o.step;
    t->dth = 360.0 / o.ntheta;
    t->split = (int)o.split;
    t->fused = o.fused != 0;
    t->no_scatter = o.no_scatter != 0;
    t->row = (int64_t)o.nz * o.nx;
    t->plane = t->row * o.ntheta;
    t->cells = (int64_t)cells;
    t->threads = mv__resolve_threads(o.threads);
    t->mat_e = (double *)mv__tr_new(t, (uint64_t)mm.n, sizeof(double));
    t->mat_s = (double *)mv__tr_new(t, (uint64_t)mm.n, sizeof(double));
    t->energy = (double *)mv__tr_new(t, (uint64_t)o.ne, sizeof(double));
    t->edges = (double *)mv__tr_new(t, (uint64_t)o.ne + 1, sizeof(double));
    t->range = (double *)mv__tr_new(t, (uint64_t)o.ne, sizeof(double));
    if (!t->mat_e || !t->mat_s || !t->energy || !t->edges || !t->range) {
        mv_transport_free(t);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_transport_create: tables");
    }
    memcpy(t->mat_e, mm.energy, (size_t)mm.n * sizeof(double));
    memcpy(t->mat_s, mm.stopping, (size_t)mm.n * sizeof(double));
    t->mat = mm;
    t->mat.energy = t->mat_e;
    t->mat.stopping = t->mat_s;
    /* energy bins */
    rmin = mv__tr_range(&t->mat, o.e_min);
    rmax = mv__tr_range(&t->mat, o.e_max);
    for (i = 0; i <= o.ne; i++) {
        if (o.egrid == MV_EGRID_RANGE) t->edges[i] = mv__tr_energy(&t->mat, rmin + (rmax - rmin) * i / o.ne);
        else t->edges[i] = o.e_min + (o.e_max - o.e_min) * i / o.ne;
    }
    t->edges[0] = o.e_min;
    t->edges[o.ne] = o.e_max;
    for (i = 0; i < o.ne; i++) {
        if (o.egrid == MV_EGRID_RANGE) {
            t->range[i] = rmin + (rmax - rmin) * (i + 0.5) / o.ne;
            t->energy[i] = mv__tr_energy(&t->mat, t->range[i]);
        } else {
            t->energy[i] = 0.5 * (t->edges[i] + t->edges[i + 1]);
            t->range[i] = mv__tr_range(&t->mat, t->energy[i]);
        }
        if (!(t->energy[i] < HUGE_VAL) || (i && !(t->range[i] > t->range[i - 1]))) {
            mv_transport_free(t);
            return mv__fail(MV_ERR_INVALID_ARG, "mv_transport_create: energy bins not resolvable by the material table");
        }
    }
    if ((st = mv__tr_build_eloss(t, 0)) != MV_OK || (st = mv__tr_build_eloss(t, 1)) != MV_OK || (st = mv__tr_build_kernels(t, 0)) != MV_OK ||
        (st = mv__tr_build_kernels(t, 1)) != MV_OK) {
        mv_transport_free(t);
        return st;
    }
    t->sh[0] = (mv__tr_shift *)mv__tr_new(t, (uint64_t)t->nth, sizeof(mv__tr_shift));
    t->sh[1] = (mv__tr_shift *)mv__tr_new(t, (uint64_t)t->nth, sizeof(mv__tr_shift));
    t->win = (double *)mv__tr_new(t, (uint64_t)t->nth * 2, (size_t)(t->nx + t->nz) * sizeof(double));
    if (t->maxptr < t->nth) t->maxptr = t->nth; /* the theta sums */
    t->scratch = (float *)mv__tr_new(t, (uint64_t)t->threads, (size_t)(2 * t->plane + 2 * t->row) * sizeof(float));
    t->zero_row = (float *)mv__tr_new(t, (uint64_t)t->nx, sizeof(float));
    t->ones = (float *)mv__tr_new(t, (uint64_t)t->nth, sizeof(float));
    t->ptrs = (const float **)mv__tr_new(t, (uint64_t)t->threads * (uint64_t)t->maxptr, sizeof(float *));
    t->dpart = (double *)mv__tr_new(t, (uint64_t)t->ne, (size_t)t->row * sizeof(double));
    t->nin = (double *)mv__tr_new(t, (uint64_t)t->ne, sizeof(double));
    t->nout = (double *)mv__tr_new(t, (uint64_t)t->ne, sizeof(double));
    t->ngat = (double *)mv__tr_new(t, (uint64_t)t->ne, sizeof(double));
    t->esc = (double *)mv__tr_new(t, (uint64_t)t->ne * (uint64_t)t->nth, sizeof(double));
    if (!t->sh[0] || !t->sh[1] || !t->win || !t->scratch || !t->zero_row || !t->ones || !t->ptrs || !t->dpart ||
        !t->nin || !t->nout || !t->ngat || !t->esc) {
        mv_transport_free(t);
        return mv__fail(MV_ERR_OUT_OF_MEMORY, "mv_transport_create: scratch (%d threads)", t->threads);
    }
    for (i = 0; i < t->nth; i++) t->ones[i] = 1.0f;
    mv__tr_build_shift(t, 0, t->win);
    mv__tr_build_shift(t, 1, t->win + (size_t)t->nth * (size_t)(t->nx + t->nz));
    *plan = t;
    return MV_OK;
}

MVDEF mv_status mv_transport_get_grid(const mv_transport *t, mv_transport_grid *g)
{
    MV__CHECK(t && g, MV_ERR_INVALID_ARG, "mv_transport_get_grid: %s is NULL", t ? "grid" : "plan");
    g->nx = t->nx;
    g->nz = t->nz;
    g->ntheta = t->nth;
    g->ne = t->ne;
    g->dx = t->dx;
    g->dz = t->dz;
    g->step = t->step;
    g->dtheta = t->dth;
    g->cells = t->cells;
    g->energy = t->energy;
    g->edges = t->edges;
    g->range = t->range;
    return MV_OK;
}

/* ---- the passes ----
   A pass walks the energy bins (in parallel, one bin per item; every bin's
   result depends on that bin's item only, so any split gives the same
   bytes). Per bin: optionally the energy-loss gather from the source bins
   of the input, then up to two plane operators, each from one slab of the
   worker's scratch to the other (the last into the output), so the slab
   stays in cache between operators. */

enum { MV__TR_SCAT = 1, MV__TR_SCAT_HALF, MV__TR_STREAM, MV__TR_STREAM_HALF };

typedef struct mv__tr_pass {
    mv_transport *t;
    const mv__transport_ops *ops;
    const float *in;
    float *out;
    int op[3], nops;
    int gather; /* 0: none, 1: energy loss over the step, 2: over half the step */
    int sum_in, sum_out;
} mv__tr_pass;

/* theta sum of one bin's plane into row (float, theta ascending); returns
   its total in float64 */
static double mv__tr_plane_sum(const mv_transport *t, const mv__transport_ops *ops, const float *src, float *row,
                               const float **ptrs)
{
    double s = 0;
    int64_t k;
    int j;
    for (j = 0; j < t->nth; j++) ptrs[j] = src + (size_t)j * (size_t)t->row;
    ops->wsum(row, ptrs, t->ones, t->nth, t->row);
    for (k = 0; k < t->row; k++) s += row[k];
    return s;
}

/* acc += one theta row just written (the row is in L1): the running theta
   sum of an output plane, in the order of mv__tr_plane_sum (same bytes) */
static void mv__tr_acc_row(const mv__transport_ops *ops, float *acc, const float *r, int first, int64_t n)
{
    static const float one2[2] = {1.0f, 1.0f};
    const float *two[2];
    two[0] = acc;
    two[1] = r;
    if (first) ops->wsum(acc, two + 1, one2, 1, n);
    else ops->wsum(acc, two, one2, 2, n);
}

static void mv__tr_scatter_plane(const mv_transport *t, const mv__transport_ops *ops, int half, int bin,
                                 const float *src, float *dst, const float **ptrs, float *acc)
{
    const mv__tr_kernel *K = &t->sc[half];
    int b = K->start[bin], k = K->start[bin + 1] - b, j, m;
    int copy = k == 1 && K->off[b] == 0 && K->w[b] == 1.0f;
    if (copy) memcpy(dst, src, (size_t)t->plane * sizeof(float));
    for (j = 0; j < t->nth; j++) {
        float *o = dst + (size_t)j * (size_t)t->row;
        if (!copy) {
            for (m = 0; m < k; m++) {
                int s = (j - K->off[b + m]) % t->nth;
                ptrs[m] = src + (size_t)(s < 0 ? s + t->nth : s) * (size_t)t->row;
            }
            ops->wsum(o, ptrs, K->w + b, k, t->row);
        }
        if (acc) mv__tr_acc_row(ops, acc, o, j == 0, t->row);
    }
}

/* streams one bin's plane; returns the particles that left the slab (per
   theta into esc) */
/* streams theta plane j of one bin (sp -> dp, nz x nx); returns the
   particles that left the slab; acc as mv__tr_acc_row */
static double mv__tr_stream_theta(const mv_transport *t, const mv__transport_ops *ops, int half, int j,
                                  const float *sp, float *dp, float *acc)
{
    const mv__tr_shift *s = &t->sh[half][j];
    int64_t nx = t->nx, nz = t->nz, z, x;
    double e = 0;
    if (s->copy) {
        for (z = 0; z < nz; z++) {
            int64_t z0 = z - s->iz, lo = MV__MAX(s->ix, (int64_t)0), hi = MV__MIN(nx + s->ix, nx);
            float *o = dp + z * nx;
            if (z0 < 0 || z0 >= nz || hi <= lo) {
                memset(o, 0, (size_t)nx * sizeof(float));
                continue;
            }
            for (x = 0; x < lo; x++) o[x] = 0.0f;
            memcpy(o + lo, sp + z0 * nx + (lo - s->ix), (size_t)(hi - lo) * sizeof(float));
            for (x = hi; x < nx; x++) o[x] = 0.0f;
        }
    } else {
        /* the flat plane: every target whose four sources lie inside the
           plane's memory, as one wsum of four shifted views; then the
           cells outside that range and the edge columns (whose flat
           sources wrapped into the neighbouring row) one by one */
        int64_t P = t->row, D = s->iz * nx + s->ix, p0 = MV__MAX((int64_t)0, D + nx + 1),
                p1 = MV__MIN(P, P + D), p;
        int64_t xl = MV__MIN(MV__MAX(s->ix + 1, (int64_t)0), nx), xh = MV__MAX(MV__MIN(nx + s->ix, nx), xl);
        if (p1 > p0) {
            const float *v[4];
            v[0] = sp + (p0 - D);
            v[1] = sp + (p0 - D - 1);
            v[2] = sp + (p0 - D - nx);
            v[3] = sp + (p0 - D - nx - 1);
            ops->wsum(dp + p0, v, s->w, 4, p1 - p0);
        } else {
            p0 = p1 = P;
        }
        for (p = 0; p < p0; p++) dp[p] = mv__tr_stream_el(sp, nz, nx, s->w, s->iz, s->ix, p / nx, p % nx);
        for (p = p1; p < P; p++) dp[p] = mv__tr_stream_el(sp, nz, nx, s->w, s->iz, s->ix, p / nx, p % nx);
        for (z = p0 / nx; z <= (p1 - 1) / nx && z < nz; z++) {
            for (x = 0; x < xl; x++) {
                p = z * nx + x;
                if (p >= p0 && p < p1) dp[p] = mv__tr_stream_el(sp, nz, nx, s->w, s->iz, s->ix, z, x);
            }
            for (x = xh; x < nx; x++) {
                p = z * nx + x;
                if (p >= p0 && p < p1) dp[p] = mv__tr_stream_el(sp, nz, nx, s->w, s->iz, s->ix, z, x);
            }
        }
    }
    if (acc) mv__tr_acc_row(ops, acc, dp, j == 0, t->row);
    /* what leaves: each source cell keeps wz * wx of its content */
    for (z = 0; z < nz; z++) {
        const float *r = sp + z * nx;
        double wz = s->wz[z];
        if (wz < 1.0) {
            for (x = 0; x < nx; x++) e += (double)r[x] * (1.0 - wz * s->wx[x]);
        } else {
            for (x = 0; x < s->xa; x++) e += (double)r[x] * (1.0 - s->wx[x]);
            for (x = MV__MAX(s->xa, s->xb); x < nx; x++) e += (double)r[x] * (1.0 - s->wx[x]);
        }
    }
    return e;
}

/* streams one bin's plane; the particles that left the slab go to esc[theta] */
static void mv__tr_stream_plane(const mv_transport *t, const mv__transport_ops *ops, int half, const float *src,
                                float *dst, double *esc, float *acc)
{
    int j;
    for (j = 0; j < t->nth; j++)
        esc[j] = mv__tr_stream_theta(t, ops, half, j, src + (size_t)j * (size_t)t->row, dst + (size_t)j * (size_t)t->row,
                                     acc);
}

/* scattering then streaming, theta row by theta row: each scattered row
   goes through tmp (in L1) straight into its stream; the same arithmetic
   as the two operators one after the other */
static void mv__tr_scatter_stream(const mv_transport *t, const mv__transport_ops *ops, int shalf, int mhalf, int bin,
                                  const float *src, float *dst, const float **ptrs, float *tmp, double *esc, float *acc)
{
    const mv__tr_kernel *K = &t->sc[shalf];
    int b = K->start[bin], k = K->start[bin + 1] - b, j, m;
    int copy = k == 1 && K->off[b] == 0 && K->w[b] == 1.0f;
    for (j = 0; j < t->nth; j++) {
        const float *r = src + (size_t)j * (size_t)t->row;
        if (!copy) {
            for (m = 0; m < k; m++) {
                int s = (j - K->off[b + m]) % t->nth;
                ptrs[m] = src + (size_t)(s < 0 ? s + t->nth : s) * (size_t)t->row;
            }
            ops->wsum(tmp, ptrs, K->w + b, k, t->row);
            r = tmp;
        }
        esc[j] = mv__tr_stream_theta(t, ops, mhalf, j, r, dst + (size_t)j * (size_t)t->row, acc);
    }
}

/* acc: NULL, or where the theta sum of dst goes */
static void mv__tr_apply_op(const mv_transport *t, const mv__transport_ops *ops, int op, int bin, const float *src,
                            float *dst, const float **ptrs, float *acc)
{
    switch (op) {
    case MV__TR_SCAT: mv__tr_scatter_plane(t, ops, 0, bin, src, dst, ptrs, acc); break;
    case MV__TR_SCAT_HALF: mv__tr_scatter_plane(t, ops, 1, bin, src, dst, ptrs, acc); break;
    case MV__TR_STREAM:
        mv__tr_stream_plane(t, ops, 0, src, dst, t->esc + (size_t)bin * (size_t)t->nth, acc);
        break;
    default: mv__tr_stream_plane(t, ops, 1, src, dst, t->esc + (size_t)bin * (size_t)t->nth, acc); break;
    }
}

/* source i's dose: its theta sum times the energy a particle of it deposits */
static void mv__tr_dose_part(const mv_transport *t, const mv__tr_eloss *L, int i, const float *row)
{
    double dep = L->dep[i], *dp = t->dpart + (size_t)i * (size_t)t->row;
    int64_t c;
    for (c = 0; c < t->row; c++) dp[c] = dep * (double)row[c];
}

static void mv__tr_pass_range(void *ctx, int64_t b, int64_t e, int worker)
{
    mv__tr_pass *p = (mv__tr_pass *)ctx;
    mv_transport *t = p->t;
    const mv__transport_ops *ops = p->ops;
    float *s0 = t->scratch + (size_t)worker * (size_t)(2 * t->plane + 2 * t->row), *s1 = s0 + t->plane;
    float *row = s1 + t->plane, *tmp = row + t->row;
    const float **ptrs = t->ptrs + (size_t)worker * (size_t)t->maxptr;
    size_t plane = (size_t)t->plane;
    int64_t j;
    for (j = b; j < e; j++) {
        const float *cur = p->in + (size_t)j * plane;
        float *fin = p->out + (size_t)j * plane, *bufs[2];
        int nb = 0, o;
        bufs[0] = s0;
        bufs[1] = s1;
        if (p->sum_in && !p->gather) t->nin[j] = mv__tr_plane_sum(t, ops, cur, row, ptrs);
        if (p->gather) {
            const mv__tr_eloss *L = &t->el[p->gather - 1];
            int g0 = L->start[j], k = L->start[j + 1] - g0, m;
            float *dst = p->nops ? bufs[nb++] : fin;
            int inl = -1; /* an owned source that is also gathered: its theta sum rides along */
            const float *two[2];
            static const float one2[2] = {1.0f, 1.0f};
            if (!(k == 1 && L->w[g0] == 1.0f))
                for (m = L->ds_start[j]; m < L->ds_start[j + 1] && inl < 0; m++) {
                    int q;
                    for (q = 0; q < k; q++)
                        if (L->src[g0 + q] == L->ds_src[m]) inl = L->ds_src[m];
                }
            /* the dose and totals of the other sources this target owns */
            for (m = L->ds_start[j]; m < L->ds_start[j + 1]; m++) {
                int i = L->ds_src[m];
                if (i == inl) continue;
                t->ngat[i] = mv__tr_plane_sum(t, ops, p->in + (size_t)i * plane, row, ptrs);
                mv__tr_dose_part(t, L, i, row);
            }
            if (k == 1 && L->w[g0] == 1.0f) {
                memcpy(dst, p->in + (size_t)L->src[g0] * plane, plane * sizeof(float));
            } else {
                int th;
                size_t rl = (size_t)t->row;
                for (th = 0; th < t->nth; th++) { /* row by row: the owned source's row is in L1 for its sum */
                    for (m = 0; m < k; m++) ptrs[m] = p->in + (size_t)L->src[g0 + m] * plane + (size_t)th * rl;
                    ops->wsum(dst + (size_t)th * rl, ptrs, L->w + g0, k, t->row);
                    if (inl < 0) continue;
                    two[0] = row;
                    two[1] = p->in + (size_t)inl * plane + (size_t)th * rl;
                    if (th == 0) ops->wsum(row, two + 1, one2, 1, t->row);
                    else ops->wsum(row, two, one2, 2, t->row);
                }
                if (inl >= 0) {
                    double sum = 0;
                    int64_t c;
                    for (c = 0; c < t->row; c++) sum += row[c];
                    t->ngat[inl] = sum;
                    mv__tr_dose_part(t, L, inl, row);
                }
            }
            cur = dst;
        }
        for (o = 0; o < p->nops; o++) {
            /* scattering followed by streaming: theta row by theta row */
            int pair = o + 1 < p->nops && p->op[o] <= MV__TR_SCAT_HALF && p->op[o + 1] >= MV__TR_STREAM;
            int last = o + pair == p->nops - 1;
            float *dst = last ? fin : bufs[nb++ & 1], *acc = last && p->sum_out ? row : NULL;
            if (pair) {
                mv__tr_scatter_stream(t, ops, p->op[o] == MV__TR_SCAT_HALF, p->op[o + 1] == MV__TR_STREAM_HALF, (int)j,
                                      cur, dst, ptrs, tmp, t->esc + (size_t)j * (size_t)t->nth, acc);
                o++;
            } else {
                mv__tr_apply_op(t, ops, p->op[o], (int)j, cur, dst, ptrs, acc);
            }
            cur = dst;
        }
        if (p->sum_out) { /* the output's theta sum: summed by the last operator as it wrote, else here */
            double sum = 0;
            int64_t c;
            if (!p->nops) mv__tr_plane_sum(t, ops, fin, row, ptrs);
            for (c = 0; c < t->row; c++) sum += row[c];
            t->nout[j] = sum;
        }
    }
}

typedef struct mv__tr_dose_job {
    const mv_transport *t;
    double *dose;
} mv__tr_dose_job;

static void mv__tr_dose_range(void *ctx, int64_t b, int64_t e, int worker)
{
    mv__tr_dose_job *d = (mv__tr_dose_job *)ctx;
    const mv_transport *t = d->t;
    int i;
    int64_t c;
    (void)worker;
    for (i = 0; i < t->ne; i++) {
        const double *dp = t->dpart + (size_t)i * (size_t)t->row;
        for (c = b; c < e; c++) d->dose[c] += dp[c];
    }
}

/* Runs one pass and adds its bookkeeping to bal. */
static void mv__tr_run_pass(mv_transport *t, const float *in, float *out, int gather, int op0, int op1, int op2,
                            int sum_in, int sum_out, double *dose, mv_transport_balance *bal)
{
    mv__tr_pass p;
    int i, j, threads, stream = 0;
    const mv__tr_eloss *L = &t->el[gather ? gather - 1 : 0];
    p.t = t;
    p.ops = mv__kernels_get()->transport;
    p.in = in;
    p.out = out;
    p.gather = gather;
    p.nops = 0;
    if (op0) p.op[p.nops++] = op0;
    if (op1) p.op[p.nops++] = op1;
    if (op2) p.op[p.nops++] = op2;
    for (i = 0; i < p.nops; i++) stream |= p.op[i] >= MV__TR_STREAM;
    p.sum_in = sum_in;
    p.sum_out = sum_out;
    threads = mv__threads_for_bytes(t->threads, (uint64_t)t->cells * 4);
    mv__parallel_for(t->ne, 1, threads, mv__tr_pass_range, &p);
    if (sum_in && !gather)
        for (i = 0; i < t->ne; i++) {
            bal->particles_in += t->nin[i];
            bal->energy_in += t->nin[i] * t->energy[i];
        }
    if (stream)
        for (i = 0; i < t->ne; i++)
            for (j = 0; j < t->nth; j++) {
                double e = t->esc[(size_t)i * (size_t)t->nth + (size_t)j];
                bal->particles_escaped += e;
                bal->energy_escaped += e * t->energy[i];
            }
    if (gather) {
        if (sum_in) /* the gather saw the input: its totals are the input's */
            for (i = 0; i < t->ne; i++) {
                bal->particles_in += t->ngat[i];
                bal->energy_in += t->ngat[i] * t->energy[i];
            }
        for (i = 0; i < t->ne; i++) {
            bal->particles_absorbed += t->ngat[i] * L->absorb[i];
            bal->energy_deposited += t->ngat[i] * L->dep[i];
        }
        if (dose) {
            mv__tr_dose_job d;
            d.t = t;
            d.dose = dose;
            mv__parallel_for(t->row, 64, mv__threads_for_bytes(t->threads, (uint64_t)t->ne * (uint64_t)t->row * 8),
                             mv__tr_dose_range, &d);
        }
    }
    if (sum_out)
        for (i = 0; i < t->ne; i++) {
            bal->particles_out += t->nout[i];
            bal->energy_out += t->nout[i] * t->energy[i];
        }
}

static mv_status mv__tr_check_buffers(const char *fn, const mv_transport *t, const float *a, const float *b)
{
    size_t n = (size_t)t->cells * sizeof(float);
    MV__CHECK(a && b, MV_ERR_INVALID_ARG, "%s: %s is NULL", fn, a ? "output fluence" : "input fluence");
    MV__CHECK((const char *)a + n <= (const char *)b || (const char *)b + n <= (const char *)a, MV_ERR_INVALID_ARG,
              "%s: input and output fluence overlap", fn);
    return MV_OK;
}

MVDEF mv_status mv_transport_step(mv_transport *t, float **psi, float **work, double *dose,
                                  mv_transport_balance *bal)
{
    mv_transport_balance b;
    float *p, *w;
    enum { S = MV__TR_SCAT, SH = MV__TR_SCAT_HALF, M = MV__TR_STREAM };
    MV__CHECK(t && psi && work, MV_ERR_INVALID_ARG, "mv_transport_step: %s is NULL", !t ? "plan" : !psi ? "psi" : "work");
    MV__TRY(mv__tr_check_buffers("mv_transport_step", t, *psi, *work));
    p = *psi;
    w = *work;
    memset(&b, 0, sizeof(b));
    if (t->split == MV_SPLIT_LIE && t->fused) {
        mv__tr_run_pass(t, p, w, 1, S, M, 0, 1, 1, dose, &b); /* one pass */
    } else if (t->split == MV_SPLIT_LIE) {
        mv__tr_run_pass(t, p, w, 1, 0, 0, 0, 1, 0, dose, &b);
        mv__tr_run_pass(t, w, p, 0, S, 0, 0, 0, 0, dose, &b);
        mv__tr_run_pass(t, p, w, 0, M, 0, 0, 0, 1, dose, &b);
    } else if (t->fused) { /* two passes: the result is back in *psi */
        mv__tr_run_pass(t, p, w, 2, SH, M, SH, 1, 0, dose, &b);
        mv__tr_run_pass(t, w, p, 2, 0, 0, 0, 0, 1, dose, &b);
        w = p;
        p = *work;
    } else {
        mv__tr_run_pass(t, p, w, 2, 0, 0, 0, 1, 0, dose, &b);
        mv__tr_run_pass(t, w, p, 0, SH, 0, 0, 0, 0, dose, &b);
        mv__tr_run_pass(t, p, w, 0, M, 0, 0, 0, 0, dose, &b);
        mv__tr_run_pass(t, w, p, 0, SH, 0, 0, 0, 0, dose, &b);
        mv__tr_run_pass(t, p, w, 2, 0, 0, 0, 0, 1, dose, &b);
    }
    *psi = w; /* the last pass wrote w */
    *work = p;
    if (bal) *bal = b;
    return MV_OK;
}

MVDEF mv_status mv_transport_apply(mv_transport *t, mv_transport_op op, const float *in, float *out, double *dose,
                                   mv_transport_balance *bal)
{
    mv_transport_balance b;
    int sums = bal != NULL;
    MV__CHECK(t, MV_ERR_INVALID_ARG, "mv_transport_apply: plan is NULL");
    MV__TRY(mv__tr_check_buffers("mv_transport_apply", t, in, out));
    memset(&b, 0, sizeof(b));
    switch (op) {
    case MV_TRANSPORT_ELOSS:
        mv__tr_run_pass(t, in, out, 1, 0, 0, 0, 1, sums, dose, &b);
        break;
    case MV_TRANSPORT_SCATTER: mv__tr_run_pass(t, in, out, 0, MV__TR_SCAT, 0, 0, sums, sums, dose, &b); break;
    case MV_TRANSPORT_STREAM: mv__tr_run_pass(t, in, out, 0, MV__TR_STREAM, 0, 0, sums, sums, dose, &b); break;
    default: return mv__fail(MV_ERR_INVALID_ARG, "mv_transport_apply: op = %d", (int)op);
    }
    if (bal) *bal = b;
    return MV_OK;
}

MVDEF mv_status mv_transport_source(const mv_transport *t, float *psi, const mv_transport_beam *beam)
{
    mv_transport_beam bm;
    double r, fe, th, fth, u, wsum = 0;
    int je, jt, k;
    int64_t x;
    MV__CHECK(t && psi, MV_ERR_INVALID_ARG, "mv_transport_source: %s is NULL", t ? "psi" : "plan");
    if (beam) bm = *beam;
    else memset(&bm, 0, sizeof(bm));
    if (bm.weight == 0) bm.weight = 1;
    MV__CHECK(bm.energy >= t->energy[0] && bm.energy <= t->energy[t->ne - 1], MV_ERR_INVALID_ARG,
              "mv_transport_source: energy = %g MeV outside the bins (%g .. %g)", bm.energy, t->energy[0],
              t->energy[t->ne - 1]);
    MV__CHECK(bm.sigma >= 0 && bm.sigma < 1e9 && fabs(bm.x) < 1e9 && fabs(bm.tilt) <= 360 && bm.weight > 0 &&
                  bm.weight < 1e30,
              MV_ERR_INVALID_ARG, "mv_transport_source: sigma %g, x %g, tilt %g, weight %g", bm.sigma, bm.x, bm.tilt,
              bm.weight);
    memset(psi, 0, (size_t)t->cells * sizeof(float));
    r = mv__tr_range(&t->mat, bm.energy);
    for (je = 0; je < t->ne - 2 && t->range[je + 1] <= r; je++) {
    }
    fe = (r - t->range[je]) / (t->range[je + 1] - t->range[je]);
    if (fe < 0) fe = 0;
    if (fe > 1) fe = 1;
    th = fmod(90.0 - bm.tilt + 720.0, 360.0) / t->dth;
    jt = (int)floor(th);
    fth = th - jt;
    if (fth < 1e-9) fth = 0;
    jt %= t->nth;
    for (x = 0; x < t->nx; x++) {
        double xc = ((double)x - 0.5 * (t->nx - 1)) * t->dx, w;
        if (bm.sigma > 0) {
            w = mv__tr_phi((xc + 0.5 * t->dx - bm.x) / bm.sigma) - mv__tr_phi((xc - 0.5 * t->dx - bm.x) / bm.sigma);
        } else {
            u = (bm.x - xc) / t->dx; /* the pencil split between the two cells around it */
            w = fabs(u) < 1 ? 1 - fabs(u) : 0;
        }
        if (w <= 0) continue;
        wsum += w;
        for (k = 0; k < 4; k++) {
            int e = je + (k & 1), a = (jt + (k >> 1)) % t->nth;
            double f = ((k & 1) ? fe : 1 - fe) * ((k >> 1) ? fth : 1 - fth);
            if (f == 0) continue;
            psi[((size_t)e * (size_t)t->nth + (size_t)a) * (size_t)t->row + (size_t)x] += (float)(bm.weight * w * f);
        }
    }
    (void)wsum;
    return MV_OK;
}

MVDEF mv_status mv_transport_dose_gy(const mv_transport *t, const double *dose_mev, double thickness_mm, double *gy)
{
    double f;
    int64_t c;
    MV__CHECK(t && dose_mev && gy, MV_ERR_INVALID_ARG, "mv_transport_dose_gy: %s is NULL",
              !t ? "plan" : !dose_mev ? "dose_mev" : "gy");
    MV__CHECK(thickness_mm > 0 && thickness_mm < 1e9, MV_ERR_INVALID_ARG, "mv_transport_dose_gy: thickness_mm = %g",
              thickness_mm);
    f = 1.602176634e-13 / (t->mat.density * t->dx * t->dz * thickness_mm * 1e-6);
    for (c = 0; c < t->row; c++) gy[c] = dose_mev[c] * f;
    return MV_OK;
}

#endif /* MEDVOL_IMPLEMENTATION */

/* >>history ================================================================
   next                gzip: DEFLATE/gzip decoder and encoder (levels, parallel
                       indexed members), .nii.gz I/O, PCLMUL CRC-32 (VPCLMULQDQ
                       on 512-bit vectors where present); inflate decodes a
                       length with its distance code, or two literals, in one
                       lookup (tables combined per block by gathers).
                       Operations: z-normalize, rescale, clamp, histogram,
                       percentiles, crop/pad, flip, permute, reorient, rot90,
                       one-pass chains with crop-first loads; resampling
                       (nearest, trilinear, cubic B-spline; scipy zoom grids).
                       FFT engine: complex and real transforms over any axes
                       with numpy's norms, any length (mixed radix + Bluestein),
                       SSE2/AVX2/AVX-512/NEON codelets across independent
                       lines, reusable thread-safe plans, a 16-plan cache,
                       optional FFTW3 backend (MEDVOL_USE_FFTW). MRI kernels:
                       fused centred FFT (modulation, no shifts), fftshift,
                       k-space resize, RSS and sensitivity-weighted coil
                       combination (SIMD), density weighting, complex parts,
                       low-res/RSS sensitivities, Cartesian SENSE (1-3 axes,
                       Tikhonov), bounded-memory recons, phantom coils/k-space.
   0.1.0  (2026-11-21) foundation: stb-style header, mv_vol model with every
                       NIfTI dtype plus f16/bf16, conversions with rounding,
                       saturation and NIfTI scaling, deterministic float64
                       statistics, NIfTI-1/2 and Analyze reading (mmap, crop
                       boxes, both byte orders, extensions) and writing
                       (temp file + rename), worker pool, SSE2/AVX2/AVX-512/NEON
                       kernels with scalar references, phantoms.
*/

/* >>license ================================================================
MIT License

Copyright (c) 2026 the medvol authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
*/

#else /* MV__KERNEL_PASS */

/* >>pass ===================================================================
   ISA-templated kernels. medvol.h includes itself here once per compiled ISA
   with MV__PASS_<ISA> defined; every name goes through MV__SFX so each pass
   makes its own functions (mv__to_f32_i16_avx2, ...). The vocabulary below
   is the only ISA-specific code; the kernels after it are written once.
   Tails (fewer than one vector) finish with the _ref function, so the
   results are bit-identical to the reference. */

#if defined(MV__PASS_SSE2)
#define MV__SFX(name) name##_sse2
#define MV__FN static MV__UNUSED MV__TARGET_SSE2
#define MV__VL 4  /* float / int32 lanes */
#define MV__ZEROUPPER() ((void)0) /* no 256-bit state in this pass */
#define MV__VDL 2 /* double lanes */
#define mv__vf __m128
#define mv__vd __m128d
#define mv__vi __m128i
#define mv__vf_loadu(p) _mm_loadu_ps(p)
#define mv__vf_storeu(p, v) _mm_storeu_ps((p), (v))
#define mv__vf_set1(x) _mm_set1_ps(x)
#define mv__vf_min(a, b) _mm_min_ps((a), (b))
#define mv__vf_max(a, b) _mm_max_ps((a), (b))
#define mv__vf_nan_to_zero(v) _mm_and_ps((v), _mm_cmpord_ps((v), (v)))
#define mv__vf_ge_mask_i(a, b) _mm_castps_si128(_mm_cmpge_ps((a), (b)))
#define mv__vd_loadu(p) _mm_loadu_pd(p)
#define mv__vd_storeu(p, v) _mm_storeu_pd((p), (v))
#define mv__vd_set1(x) _mm_set1_pd(x)
#define mv__vd_add(a, b) _mm_add_pd((a), (b))
#define mv__vd_sub(a, b) _mm_sub_pd((a), (b))
#define mv__vd_mul(a, b) _mm_mul_pd((a), (b))
#define mv__vd_min(a, b) _mm_min_pd((a), (b))
#define mv__vd_max(a, b) _mm_max_pd((a), (b))
#define mv__vd_from_vf_lo(v) _mm_cvtps_pd(v)
#define mv__vd_from_vf_hi(v) _mm_cvtps_pd(_mm_movehl_ps((v), (v)))
#define mv__vf_from_vd(lo, hi) _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi))
#define mv__vd_from_vi_lo(v) _mm_cvtepi32_pd(v)
#define mv__vd_from_vi_hi(v) _mm_cvtepi32_pd(_mm_shuffle_epi32((v), 0xEE))
#define mv__vf_from_vi(v) _mm_cvtepi32_ps(v)
#define mv__vi_from_vf_rne(v) _mm_cvtps_epi32(v) /* MXCSR rounding: half to even */
#define mv__vi_from_vf_trunc(v) _mm_cvttps_epi32(v)
#define mv__vi_loadu(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define mv__vi_storeu(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define mv__vi_set1(x) _mm_set1_epi32(x)
#define mv__vi_blend(mask, a, b) _mm_or_si128(_mm_and_si128((mask), (b)), _mm_andnot_si128((mask), (a)))
MV__FN __m128i MV__SFX(mv__ld_i16)(const int16_t *p)
{
    __m128i x = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm_srai_epi32(_mm_unpacklo_epi16(x, x), 16);
}
MV__FN __m128i MV__SFX(mv__ld_u16)(const uint16_t *p)
{
    __m128i x = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm_unpacklo_epi16(x, _mm_setzero_si128());
}
MV__FN __m128i MV__SFX(mv__ld_u8)(const uint8_t *p)
{
    int32_t w;
    __m128i x, z = _mm_setzero_si128();
    memcpy(&w, p, 4);
    x = _mm_cvtsi32_si128(w);
    return _mm_unpacklo_epi16(_mm_unpacklo_epi8(x, z), z);
}
MV__FN __m128i MV__SFX(mv__ld_i8)(const int8_t *p)
{
    int32_t w;
    __m128i x;
    memcpy(&w, p, 4);
    x = _mm_cvtsi32_si128(w);
    x = _mm_unpacklo_epi8(x, x);
    return _mm_srai_epi32(_mm_unpacklo_epi16(x, x), 24);
}
MV__FN __m128i MV__SFX(mv__ld_i32)(const int32_t *p) { return mv__vi_loadu(p); }
/* stores of int32 lanes already clamped to the destination's range */
MV__FN void MV__SFX(mv__st_i16)(int16_t *p, __m128i v) { _mm_storel_epi64((__m128i *)(void *)p, _mm_packs_epi32(v, v)); }
MV__FN void MV__SFX(mv__st_u16)(uint16_t *p, __m128i v)
{
    /* SSE2 has no unsigned 32->16 pack: shift to signed range, pack, shift back */
    __m128i x = _mm_sub_epi32(v, _mm_set1_epi32(32768));
    x = _mm_packs_epi32(x, x);
    _mm_storel_epi64((__m128i *)(void *)p, _mm_xor_si128(x, _mm_set1_epi16((short)0x8000)));
}
MV__FN void MV__SFX(mv__st_u8)(uint8_t *p, __m128i v)
{
    __m128i x = _mm_packs_epi32(v, v);
    int32_t w = _mm_cvtsi128_si32(_mm_packus_epi16(x, x));
    memcpy(p, &w, 4);
}
MV__FN void MV__SFX(mv__st_i8)(int8_t *p, __m128i v)
{
    __m128i x = _mm_packs_epi32(v, v);
    int32_t w = _mm_cvtsi128_si32(_mm_packs_epi16(x, x));
    memcpy(p, &w, 4);
}
MV__FN void MV__SFX(mv__st_i32)(int32_t *p, __m128i v) { mv__vi_storeu(p, v); }
/* byte swaps of one 16-byte vector; SSE2 has no byte shuffle */
#define MV__BSWAP_BYTES 16
MV__FN __m128i MV__SFX(mv__swap2)(__m128i x) { return _mm_or_si128(_mm_slli_epi16(x, 8), _mm_srli_epi16(x, 8)); }
MV__FN __m128i MV__SFX(mv__swap4)(__m128i x)
{
    x = MV__SFX(mv__swap2)(x);
    return _mm_shufflehi_epi16(_mm_shufflelo_epi16(x, 0xB1), 0xB1);
}
MV__FN __m128i MV__SFX(mv__swap8)(__m128i x)
{
    x = MV__SFX(mv__swap2)(x);
    return _mm_shufflehi_epi16(_mm_shufflelo_epi16(x, 0x1B), 0x1B);
}
MV__FN __m128i MV__SFX(mv__swap16)(__m128i x) { return _mm_shuffle_epi32(MV__SFX(mv__swap8)(x), 0x4E); }
#define mv__vb __m128i
#define mv__vb_loadu(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define mv__vb_storeu(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define mv__vf_keep_zero(v, r)                                                               \
    _mm_or_ps(_mm_and_ps(_mm_cmpeq_ps((v), _mm_setzero_ps()), (v)),                          \
              _mm_andnot_ps(_mm_cmpeq_ps((v), _mm_setzero_ps()), (r)))
#define mv__vf_clamp(v, lo, hi) _mm_min_ps((hi), _mm_max_ps((lo), (v)))
#define mv__vf_reverse(v) _mm_shuffle_ps((v), (v), 0x1B)
#define mv__vd_reverse(v) _mm_shuffle_pd((v), (v), 1)
#define mv__vd_nz_select(v, x, other)                                                        \
    _mm_or_pd(_mm_and_pd(_mm_cmpneq_pd((v), _mm_setzero_pd()), (x)),                         \
              _mm_andnot_pd(_mm_cmpneq_pd((v), _mm_setzero_pd()), (other)))
MV__FN __m128i MV__SFX(mv__vb_reverse16)(__m128i x)
{
    x = _mm_shufflehi_epi16(_mm_shufflelo_epi16(x, 0x1B), 0x1B);
    return _mm_shuffle_epi32(x, 0x4E);
}

#elif defined(MV__PASS_AVX2)
#define MV__SFX(name) name##_avx2
#define MV__FN static MV__UNUSED MV__TARGET_AVX2
#define MV__VL 8
/* before a kernel's scalar tail or return: gcc 12 leaves vzeroupper out of
   some AVX kernels (tail calls into the reference), and SSE code after
   dirty upper halves runs up to 2x slower on some CPUs */
#define MV__ZEROUPPER() _mm256_zeroupper()
#define MV__VDL 4
#define mv__vf __m256
#define mv__vd __m256d
#define mv__vi __m256i
#define mv__vf_loadu(p) _mm256_loadu_ps(p)
#define mv__vf_storeu(p, v) _mm256_storeu_ps((p), (v))
#define mv__vf_set1(x) _mm256_set1_ps(x)
#define mv__vf_min(a, b) _mm256_min_ps((a), (b))
#define mv__vf_max(a, b) _mm256_max_ps((a), (b))
#define mv__vf_nan_to_zero(v) _mm256_and_ps((v), _mm256_cmp_ps((v), (v), _CMP_ORD_Q))
#define mv__vf_ge_mask_i(a, b) _mm256_castps_si256(_mm256_cmp_ps((a), (b), _CMP_GE_OQ))
#define mv__vd_loadu(p) _mm256_loadu_pd(p)
#define mv__vd_storeu(p, v) _mm256_storeu_pd((p), (v))
#define mv__vd_set1(x) _mm256_set1_pd(x)
#define mv__vd_add(a, b) _mm256_add_pd((a), (b))
#define mv__vd_sub(a, b) _mm256_sub_pd((a), (b))
#define mv__vd_mul(a, b) _mm256_mul_pd((a), (b))
#define mv__vd_min(a, b) _mm256_min_pd((a), (b))
#define mv__vd_max(a, b) _mm256_max_pd((a), (b))
#define mv__vd_from_vf_lo(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define mv__vd_from_vf_hi(v) _mm256_cvtps_pd(_mm256_extractf128_ps((v), 1))
#define mv__vf_from_vd(lo, hi) \
    _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1)
#define mv__vd_from_vi_lo(v) _mm256_cvtepi32_pd(_mm256_castsi256_si128(v))
#define mv__vd_from_vi_hi(v) _mm256_cvtepi32_pd(_mm256_extracti128_si256((v), 1))
#define mv__vf_from_vi(v) _mm256_cvtepi32_ps(v)
#define mv__vi_from_vf_rne(v) _mm256_cvtps_epi32(v)
#define mv__vi_from_vf_trunc(v) _mm256_cvttps_epi32(v)
#define mv__vi_loadu(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define mv__vi_storeu(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define mv__vi_set1(x) _mm256_set1_epi32(x)
#define mv__vi_blend(mask, a, b) _mm256_blendv_epi8((a), (b), (mask))
MV__FN __m256i MV__SFX(mv__ld_i16)(const int16_t *p) { return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)); }
MV__FN __m256i MV__SFX(mv__ld_u16)(const uint16_t *p) { return _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)); }
MV__FN __m256i MV__SFX(mv__ld_u8)(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)); }
MV__FN __m256i MV__SFX(mv__ld_i8)(const int8_t *p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)); }
MV__FN __m256i MV__SFX(mv__ld_i32)(const int32_t *p) { return mv__vi_loadu(p); }
MV__FN void MV__SFX(mv__st_i16)(int16_t *p, __m256i v)
{
    _mm_storeu_si128((__m128i *)(void *)p, _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}
MV__FN void MV__SFX(mv__st_u16)(uint16_t *p, __m256i v)
{
    _mm_storeu_si128((__m128i *)(void *)p, _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}
MV__FN void MV__SFX(mv__st_u8)(uint8_t *p, __m256i v)
{
    __m128i x = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(void *)p, _mm_packus_epi16(x, x));
}
MV__FN void MV__SFX(mv__st_i8)(int8_t *p, __m256i v)
{
    __m128i x = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(void *)p, _mm_packs_epi16(x, x));
}
MV__FN void MV__SFX(mv__st_i32)(int32_t *p, __m256i v) { mv__vi_storeu(p, v); }
#define MV__BSWAP_BYTES 32
#define mv__vb __m256i
#define mv__vb_loadu(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define mv__vb_storeu(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
MV__FN __m256i MV__SFX(mv__swap_by)(__m256i x, int unit)
{
    /* reverse the bytes of each unit within each 128-bit lane */
    char idx[16];
    int i;
    __m128i m;
    for (i = 0; i < 16; i++) idx[i] = (char)((i / unit) * unit + (unit - 1 - i % unit));
    m = _mm_loadu_si128((const __m128i *)(const void *)idx);
    return _mm256_shuffle_epi8(x, _mm256_broadcastsi128_si256(m));
}
#define MV__HAVE_SWAP_BY 1
#define mv__vf_keep_zero(v, r) _mm256_blendv_ps((r), (v), _mm256_cmp_ps((v), _mm256_setzero_ps(), _CMP_EQ_OQ))
#define mv__vf_clamp(v, lo, hi) _mm256_min_ps((hi), _mm256_max_ps((lo), (v)))
#define mv__vf_reverse(v) _mm256_permutevar8x32_ps((v), _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0))
#define mv__vd_reverse(v) _mm256_permute4x64_pd((v), 0x1B)
#define mv__vd_nz_select(v, x, other) _mm256_blendv_pd((other), (x), _mm256_cmp_pd((v), _mm256_setzero_pd(), _CMP_NEQ_UQ))
MV__FN __m256i MV__SFX(mv__vb_reverse16)(__m256i x)
{
    const __m256i idx = _mm256_setr_epi8(14, 15, 12, 13, 10, 11, 8, 9, 6, 7, 4, 5, 2, 3, 0, 1, 14, 15, 12, 13, 10,
                                         11, 8, 9, 6, 7, 4, 5, 2, 3, 0, 1);
    return _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x, idx), 0x4E);
}

#elif defined(MV__PASS_AVX512)
#define MV__SFX(name) name##_avx512
#define MV__FN static MV__UNUSED MV__TARGET_AVX512
#define MV__VL 16
#define MV__ZEROUPPER() _mm256_zeroupper()
#define MV__VDL 8
#define mv__vf __m512
#define mv__vd __m512d
#define mv__vi __m512i
#define mv__vf_loadu(p) _mm512_loadu_ps(p)
#define mv__vf_storeu(p, v) _mm512_storeu_ps((p), (v))
#define mv__vf_set1(x) _mm512_set1_ps(x)
#define mv__vf_min(a, b) _mm512_min_ps((a), (b))
#define mv__vf_max(a, b) _mm512_max_ps((a), (b))
#define mv__vf_nan_to_zero(v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), (v), _CMP_ORD_Q), (v))
#define mv__vd_loadu(p) _mm512_loadu_pd(p)
#define mv__vd_storeu(p, v) _mm512_storeu_pd((p), (v))
#define mv__vd_set1(x) _mm512_set1_pd(x)
#define mv__vd_add(a, b) _mm512_add_pd((a), (b))
#define mv__vd_sub(a, b) _mm512_sub_pd((a), (b))
#define mv__vd_mul(a, b) _mm512_mul_pd((a), (b))
#define mv__vd_min(a, b) _mm512_min_pd((a), (b))
#define mv__vd_max(a, b) _mm512_max_pd((a), (b))
#define mv__vd_from_vf_lo(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define mv__vd_from_vf_hi(v) \
    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
#define mv__vf_from_vd(lo, hi)                                                             \
    _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo))), \
                                        _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1))
#define mv__vd_from_vi_lo(v) _mm512_cvtepi32_pd(_mm512_castsi512_si256(v))
#define mv__vd_from_vi_hi(v) _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64((v), 1))
#define mv__vf_from_vi(v) _mm512_cvtepi32_ps(v)
#define mv__vi_from_vf_rne(v) _mm512_cvtps_epi32(v)
#define mv__vi_from_vf_trunc(v) _mm512_cvttps_epi32(v)
#define mv__vi_loadu(p) _mm512_loadu_si512((const void *)(p))
#define mv__vi_storeu(p, v) _mm512_storeu_si512((void *)(p), (v))
#define mv__vi_set1(x) _mm512_set1_epi32(x)
MV__FN __m512i MV__SFX(mv__ld_i16)(const int16_t *p) { return _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p)); }
MV__FN __m512i MV__SFX(mv__ld_u16)(const uint16_t *p) { return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p)); }
MV__FN __m512i MV__SFX(mv__ld_u8)(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)); }
MV__FN __m512i MV__SFX(mv__ld_i8)(const int8_t *p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)); }
MV__FN __m512i MV__SFX(mv__ld_i32)(const int32_t *p) { return mv__vi_loadu(p); }
MV__FN void MV__SFX(mv__st_i16)(int16_t *p, __m512i v) { _mm256_storeu_si256((__m256i *)(void *)p, _mm512_cvtsepi32_epi16(v)); }
MV__FN void MV__SFX(mv__st_u16)(uint16_t *p, __m512i v) { _mm256_storeu_si256((__m256i *)(void *)p, _mm512_cvtusepi32_epi16(v)); }
MV__FN void MV__SFX(mv__st_u8)(uint8_t *p, __m512i v) { _mm_storeu_si128((__m128i *)(void *)p, _mm512_cvtusepi32_epi8(v)); }
MV__FN void MV__SFX(mv__st_i8)(int8_t *p, __m512i v) { _mm_storeu_si128((__m128i *)(void *)p, _mm512_cvtsepi32_epi8(v)); }
MV__FN void MV__SFX(mv__st_i32)(int32_t *p, __m512i v) { mv__vi_storeu(p, v); }
#define MV__BSWAP_BYTES 64
#define mv__vb __m512i
#define mv__vb_loadu(p) _mm512_loadu_si512((const void *)(p))
#define mv__vb_storeu(p, v) _mm512_storeu_si512((void *)(p), (v))
MV__FN __m512i MV__SFX(mv__swap_by)(__m512i x, int unit)
{
    char idx[16];
    int i;
    __m128i m;
    for (i = 0; i < 16; i++) idx[i] = (char)((i / unit) * unit + (unit - 1 - i % unit));
    m = _mm_loadu_si128((const __m128i *)(const void *)idx);
    return _mm512_shuffle_epi8(x, _mm512_broadcast_i32x4(m));
}
#define MV__HAVE_SWAP_BY 1
#define mv__vf_keep_zero(v, r) _mm512_mask_mov_ps((r), _mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_EQ_OQ), (v))
#define mv__vf_clamp(v, lo, hi) _mm512_min_ps((hi), _mm512_max_ps((lo), (v)))
#define mv__vf_reverse(v) \
    _mm512_permutexvar_ps(_mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), (v))
#define mv__vd_reverse(v) _mm512_permutexvar_pd(_mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0), (v))
#define mv__vd_nz_select(v, x, other) \
    _mm512_mask_mov_pd((other), _mm512_cmp_pd_mask((v), _mm512_setzero_pd(), _CMP_NEQ_UQ), (x))
MV__FN __m512i MV__SFX(mv__vb_reverse16)(__m512i x)
{
    const __m512i idx = _mm512_setr_epi64(0x001c001d001e001fLL, 0x00180019001a001bLL, 0x0014001500160017LL,
                                          0x0010001100120013LL, 0x000c000d000e000fLL, 0x00080009000a000bLL,
                                          0x0004000500060007LL, 0x0000000100020003LL);
    return _mm512_permutexvar_epi16(idx, x);
}

#elif defined(MV__PASS_NEON)
#define MV__SFX(name) name##_neon
#define MV__FN static MV__UNUSED
#define MV__VL 4
#define MV__ZEROUPPER() ((void)0)
#define MV__VDL 2
#define mv__vf float32x4_t
#define mv__vd float64x2_t
#define mv__vi int32x4_t
#define mv__vf_loadu(p) vld1q_f32(p)
#define mv__vf_storeu(p, v) vst1q_f32((p), (v))
#define mv__vf_set1(x) vdupq_n_f32(x)
#define mv__vf_min(a, b) vminq_f32((a), (b))
#define mv__vf_max(a, b) vmaxq_f32((a), (b))
#define mv__vf_nan_to_zero(v) vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32((v), (v))))
#define mv__vf_ge_mask_i(a, b) vreinterpretq_s32_u32(vcgeq_f32((a), (b)))
#define mv__vd_loadu(p) vld1q_f64(p)
#define mv__vd_storeu(p, v) vst1q_f64((p), (v))
#define mv__vd_set1(x) vdupq_n_f64(x)
#define mv__vd_add(a, b) vaddq_f64((a), (b))
#define mv__vd_sub(a, b) vsubq_f64((a), (b))
#define mv__vd_mul(a, b) vmulq_f64((a), (b))
#define mv__vd_min(a, b) vminq_f64((a), (b))
#define mv__vd_max(a, b) vmaxq_f64((a), (b))
#define mv__vd_from_vf_lo(v) vcvt_f64_f32(vget_low_f32(v))
#define mv__vd_from_vf_hi(v) vcvt_high_f64_f32(v)
#define mv__vf_from_vd(lo, hi) vcvt_high_f32_f64(vcvt_f32_f64(lo), (hi))
#define mv__vd_from_vi_lo(v) vcvtq_f64_s64(vmovl_s32(vget_low_s32(v)))
#define mv__vd_from_vi_hi(v) vcvtq_f64_s64(vmovl_high_s32(v))
#define mv__vf_from_vi(v) vcvtq_f32_s32(v)
#define mv__vi_from_vf_rne(v) vcvtnq_s32_f32(v)
#define mv__vi_from_vf_trunc(v) vcvtq_s32_f32(v)
#define mv__vi_loadu(p) vld1q_s32((const int32_t *)(p))
#define mv__vi_storeu(p, v) vst1q_s32((int32_t *)(p), (v))
#define mv__vi_set1(x) vdupq_n_s32(x)
#define mv__vi_blend(mask, a, b) vbslq_s32(vreinterpretq_u32_s32(mask), (b), (a))
MV__FN int32x4_t MV__SFX(mv__ld_i16)(const int16_t *p) { return vmovl_s16(vld1_s16(p)); }
MV__FN int32x4_t MV__SFX(mv__ld_u16)(const uint16_t *p) { return vreinterpretq_s32_u32(vmovl_u16(vld1_u16(p))); }
MV__FN int32x4_t MV__SFX(mv__ld_u8)(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(w))))));
}
MV__FN int32x4_t MV__SFX(mv__ld_i8)(const int8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(w)))));
}
MV__FN int32x4_t MV__SFX(mv__ld_i32)(const int32_t *p) { return vld1q_s32(p); }
MV__FN void MV__SFX(mv__st_i16)(int16_t *p, int32x4_t v) { vst1_s16(p, vqmovn_s32(v)); }
MV__FN void MV__SFX(mv__st_u16)(uint16_t *p, int32x4_t v) { vst1_u16(p, vqmovun_s32(v)); }
MV__FN void MV__SFX(mv__st_u8)(uint8_t *p, int32x4_t v)
{
    uint16x4_t h = vqmovun_s32(v);
    uint32_t w = vget_lane_u32(vreinterpret_u32_u8(vqmovn_u16(vcombine_u16(h, h))), 0);
    memcpy(p, &w, 4);
}
MV__FN void MV__SFX(mv__st_i8)(int8_t *p, int32x4_t v)
{
    int16x4_t h = vqmovn_s32(v);
    uint32_t w = vget_lane_u32(vreinterpret_u32_s8(vqmovn_s16(vcombine_s16(h, h))), 0);
    memcpy(p, &w, 4);
}
MV__FN void MV__SFX(mv__st_i32)(int32_t *p, int32x4_t v) { vst1q_s32(p, v); }
#define MV__BSWAP_BYTES 16
#define mv__vb uint8x16_t
#define mv__vb_loadu(p) vld1q_u8((const uint8_t *)(p))
#define mv__vb_storeu(p, v) vst1q_u8((uint8_t *)(p), (v))
MV__FN uint8x16_t MV__SFX(mv__swap2)(uint8x16_t x) { return vrev16q_u8(x); }
MV__FN uint8x16_t MV__SFX(mv__swap4)(uint8x16_t x) { return vrev32q_u8(x); }
MV__FN uint8x16_t MV__SFX(mv__swap8)(uint8x16_t x) { return vrev64q_u8(x); }
MV__FN uint8x16_t MV__SFX(mv__swap16)(uint8x16_t x)
{
    uint8x16_t r = vrev64q_u8(x);
    return vextq_u8(r, r, 8);
}
#define mv__vf_keep_zero(v, r) vbslq_f32(vceqzq_f32(v), (v), (r))
/* compare and select, not vmaxq/vminq: those order -0 below +0 and x86 does not */
#define mv__vf_clamp(v, lo, hi) MV__SFX(mv__clamp_sel)((v), (lo), (hi))
MV__FN float32x4_t MV__SFX(mv__clamp_sel)(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    v = vbslq_f32(vcgtq_f32(lo, v), lo, v);
    return vbslq_f32(vcltq_f32(hi, v), hi, v);
}
MV__FN float32x4_t MV__SFX(mv__vf_reverse_q)(float32x4_t v)
{
    float32x4_t r = vrev64q_f32(v);
    return vextq_f32(r, r, 2);
}
#define mv__vf_reverse(v) MV__SFX(mv__vf_reverse_q)(v)
#define mv__vd_reverse(v) vextq_f64((v), (v), 1)
#define mv__vd_nz_select(v, x, other) vbslq_f64(vceqzq_f64(v), (other), (x))
MV__FN uint8x16_t MV__SFX(mv__vb_reverse16)(uint8x16_t x)
{
    uint8x16_t r = vreinterpretq_u8_u16(vrev64q_u16(vreinterpretq_u16_u8(x)));
    return vextq_u8(r, r, 8);
}
#endif

/* ---------------------------------------------------------------------------
   Kernels, written once. */

#define MV__NACC (8 / MV__VDL) /* double vectors that make the 8 reduction lanes */

/* int -> float32, unscaled (int32 -> float rounds once, like the reference) */
#define MV__PASS_TO_F32(sfx, T)                                                              \
    MV__FN void MV__SFX(mv__to_f32_##sfx)(const void *src, float *dst, size_t n)            \
    {                                                                                        \
        const T *s = (const T *)src;                                                         \
        size_t i = 0;                                                                        \
        for (; i + MV__VL <= n; i += MV__VL)                                                 \
            mv__vf_storeu(dst + i, mv__vf_from_vi(MV__SFX(mv__ld_##sfx)(s + i)));            \
        mv__to_f32_##sfx##_ref(s + i, dst + i, n - i);                                       \
    }
MV__PASS_TO_F32(u8, uint8_t)
MV__PASS_TO_F32(i8, int8_t)
MV__PASS_TO_F32(u16, uint16_t)
MV__PASS_TO_F32(i16, int16_t)
MV__PASS_TO_F32(i32, int32_t)

/* int -> float32 with NIfTI scaling in float64: float(double(x)*slope + inter) */
#define MV__PASS_TO_F32S(sfx, T)                                                             \
    MV__FN void MV__SFX(mv__to_f32s_##sfx)(const void *src, float *dst, size_t n, double slope, \
                                           double inter)                                     \
    {                                                                                        \
        const T *s = (const T *)src;                                                         \
        mv__vd vs = mv__vd_set1(slope), vo = mv__vd_set1(inter);                             \
        size_t i = 0;                                                                        \
        for (; i + MV__VL <= n; i += MV__VL) {                                               \
            mv__vi x = MV__SFX(mv__ld_##sfx)(s + i);                                         \
            mv__vd lo = mv__vd_add(mv__vd_mul(mv__vd_from_vi_lo(x), vs), vo);                \
            mv__vd hi = mv__vd_add(mv__vd_mul(mv__vd_from_vi_hi(x), vs), vo);                \
            mv__vf_storeu(dst + i, mv__vf_from_vd(lo, hi));                                  \
        }                                                                                    \
        mv__to_f32s_##sfx##_ref(s + i, dst + i, n - i, slope, inter);                        \
    }
MV__PASS_TO_F32S(u8, uint8_t)
MV__PASS_TO_F32S(i8, int8_t)
MV__PASS_TO_F32S(u16, uint16_t)
MV__PASS_TO_F32S(i16, int16_t)
MV__PASS_TO_F32S(i32, int32_t)

MV__FN void MV__SFX(mv__to_f32s_f32)(const void *src, float *dst, size_t n, double slope, double inter)
{
    const float *s = (const float *)src;
    mv__vd vs = mv__vd_set1(slope), vo = mv__vd_set1(inter);
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vf x = mv__vf_loadu(s + i);
        mv__vd lo = mv__vd_add(mv__vd_mul(mv__vd_from_vf_lo(x), vs), vo);
        mv__vd hi = mv__vd_add(mv__vd_mul(mv__vd_from_vf_hi(x), vs), vo);
        mv__vf_storeu(dst + i, mv__vf_from_vd(lo, hi));
    }
    mv__to_f32s_f32_ref(s + i, dst + i, n - i, slope, inter);
}
MV__FN void MV__SFX(mv__to_f32s_f64)(const void *src, float *dst, size_t n, double slope, double inter)
{
    const double *s = (const double *)src;
    mv__vd vs = mv__vd_set1(slope), vo = mv__vd_set1(inter);
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vd lo = mv__vd_add(mv__vd_mul(mv__vd_loadu(s + i), vs), vo);
        mv__vd hi = mv__vd_add(mv__vd_mul(mv__vd_loadu(s + i + MV__VDL), vs), vo);
        mv__vf_storeu(dst + i, mv__vf_from_vd(lo, hi));
    }
    mv__to_f32s_f64_ref(s + i, dst + i, n - i, slope, inter);
}
MV__FN void MV__SFX(mv__to_f32_f64)(const void *src, float *dst, size_t n)
{
    const double *s = (const double *)src;
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL)
        mv__vf_storeu(dst + i, mv__vf_from_vd(mv__vd_loadu(s + i), mv__vd_loadu(s + i + MV__VDL)));
    mv__to_f32_f64_ref(s + i, dst + i, n - i);
}

/* float32 -> integer: NaN -> 0, clamp to the range, round (the bounds are
   integers, so clamping first gives the reference's round-then-saturate) */
#define MV__PASS_FROM_F32(sfx, T, LO, HI)                                                    \
    MV__FN void MV__SFX(mv__from_f32_##sfx)(const float *src, void *dst, size_t n, int rounding) \
    {                                                                                        \
        T *d = (T *)dst;                                                                     \
        mv__vf lo = mv__vf_set1((float)(LO)), hi = mv__vf_set1((float)(HI));                 \
        size_t i = 0;                                                                        \
        if (rounding == MV_ROUND_TRUNCATE) {                                                 \
            for (; i + MV__VL <= n; i += MV__VL) {                                           \
                mv__vf x = mv__vf_min(mv__vf_max(mv__vf_nan_to_zero(mv__vf_loadu(src + i)), lo), hi); \
                MV__SFX(mv__st_##sfx)(d + i, mv__vi_from_vf_trunc(x));                       \
            }                                                                                \
        } else {                                                                             \
            for (; i + MV__VL <= n; i += MV__VL) {                                           \
                mv__vf x = mv__vf_min(mv__vf_max(mv__vf_nan_to_zero(mv__vf_loadu(src + i)), lo), hi); \
                MV__SFX(mv__st_##sfx)(d + i, mv__vi_from_vf_rne(x));                         \
            }                                                                                \
        }                                                                                    \
        MV__ZEROUPPER();                                                                     \
        mv__from_f32_##sfx##_ref(src + i, d + i, n - i, rounding);                           \
    }
MV__PASS_FROM_F32(u8, uint8_t, 0, 255)
MV__PASS_FROM_F32(i8, int8_t, -128, 127)
MV__PASS_FROM_F32(u16, uint16_t, 0, 65535)
MV__PASS_FROM_F32(i16, int16_t, -32768, 32767)

MV__FN void MV__SFX(mv__from_f32_f64)(const float *src, void *dst, size_t n, int rounding)
{
    double *d = (double *)dst;
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vf x = mv__vf_loadu(src + i);
        mv__vd_storeu(d + i, mv__vd_from_vf_lo(x));
        mv__vd_storeu(d + i + MV__VDL, mv__vd_from_vf_hi(x));
    }
    mv__from_f32_f64_ref(src + i, d + i, n - i, rounding);
}

/* in-place byte swap by unit size, whole vectors then the reference */
#if defined(MV__HAVE_SWAP_BY)
#define MV__PASS_BSWAP(unit)                                                                 \
    MV__FN void MV__SFX(mv__bswap##unit)(void *p, size_t n)                                  \
    {                                                                                        \
        unsigned char *b = (unsigned char *)p;                                               \
        size_t i = 0, per = MV__BSWAP_BYTES / (unit);                                        \
        for (; i + per <= n; i += per)                                                       \
            mv__vb_storeu(b + i * (unit), MV__SFX(mv__swap_by)(mv__vb_loadu(b + i * (unit)), (unit))); \
        mv__bswap##unit##_ref(b + i * (unit), n - i);                                        \
    }
#else
#define MV__PASS_BSWAP(unit)                                                                 \
    MV__FN void MV__SFX(mv__bswap##unit)(void *p, size_t n)                                  \
    {                                                                                        \
        unsigned char *b = (unsigned char *)p;                                               \
        size_t i = 0, per = MV__BSWAP_BYTES / (unit);                                        \
        for (; i + per <= n; i += per)                                                       \
            mv__vb_storeu(b + i * (unit), MV__SFX(mv__swap##unit)(mv__vb_loadu(b + i * (unit)))); \
        mv__bswap##unit##_ref(b + i * (unit), n - i);                                        \
    }
#endif
MV__PASS_BSWAP(2)
MV__PASS_BSWAP(4)
MV__PASS_BSWAP(8)
MV__PASS_BSWAP(16)

/* Block statistics: 16 values per step as 16/MV__VDL double vectors, vector k
   feeding accumulator k % MV__NACC, so element e lands in lane e % 8 exactly
   as in the reference; the tail continues lane by lane in scalar code. */
#define MV__PASS_STATS(sfx, T, LOAD16)                                                       \
    MV__FN void MV__SFX(mv__stats_##sfx)(const void *src, size_t n, double K, mv__acc *out) \
    {                                                                                        \
        const T *s = (const T *)src;                                                         \
        mv__vd a1[MV__NACC], a2[MV__NACC], vk = mv__vd_set1(K);                              \
        mv__vd vmn = mv__vd_set1((double)INFINITY), vmx = mv__vd_set1(-(double)INFINITY);    \
        double l1[8], l2[8], lmn[MV__VDL], lmx[MV__VDL], mn, mx;                             \
        size_t i = 0;                                                                        \
        int k;                                                                               \
        for (k = 0; k < MV__NACC; k++) a1[k] = a2[k] = mv__vd_set1(0.0);                     \
        for (; i + 16 <= n; i += 16) {                                                       \
            mv__vd v[16 / MV__VDL];                                                          \
            LOAD16(s + i, v);                                                                \
            for (k = 0; k < 16 / MV__VDL; k++) {                                             \
                mv__vd d = mv__vd_sub(v[k], vk);                                             \
                a1[k % MV__NACC] = mv__vd_add(a1[k % MV__NACC], d);                          \
                a2[k % MV__NACC] = mv__vd_add(a2[k % MV__NACC], mv__vd_mul(d, d));           \
                vmn = mv__vd_min(v[k], vmn);                                                 \
                vmx = mv__vd_max(v[k], vmx);                                                 \
            }                                                                                \
        }                                                                                    \
        for (k = 0; k < MV__NACC; k++) {                                                     \
            mv__vd_storeu(l1 + k * MV__VDL, a1[k]);                                          \
            mv__vd_storeu(l2 + k * MV__VDL, a2[k]);                                          \
        }                                                                                    \
        mv__vd_storeu(lmn, vmn);                                                             \
        mv__vd_storeu(lmx, vmx);                                                             \
        mn = lmn[0];                                                                         \
        mx = lmx[0];                                                                         \
        for (k = 1; k < MV__VDL; k++) {                                                      \
            mn = lmn[k] < mn ? lmn[k] : mn;                                                  \
            mx = lmx[k] > mx ? lmx[k] : mx;                                                  \
        }                                                                                    \
        for (; i < n; i++) {                                                                 \
            double x = (double)s[i], d = x - K;                                              \
            l1[i & 7] += d;                                                                  \
            l2[i & 7] += d * d;                                                              \
            mn = x < mn ? x : mn;                                                            \
            mx = x > mx ? x : mx;                                                            \
        }                                                                                    \
        out->s1 = mv__sum8(l1);                                                              \
        out->s2 = mv__sum8(l2);                                                              \
        out->mn = mn;                                                                        \
        out->mx = mx;                                                                        \
    }
#define MV__LOAD16_F32(p, v)                                                                 \
    do {                                                                                     \
        int j_;                                                                              \
        for (j_ = 0; j_ < 16 / MV__VL; j_++) {                                               \
            mv__vf f_ = mv__vf_loadu((p) + j_ * MV__VL);                                     \
            (v)[2 * j_] = mv__vd_from_vf_lo(f_);                                             \
            (v)[2 * j_ + 1] = mv__vd_from_vf_hi(f_);                                         \
        }                                                                                    \
    } while (0)
#define MV__LOAD16_INT(p, v, sfx)                                                            \
    do {                                                                                     \
        int j_;                                                                              \
        for (j_ = 0; j_ < 16 / MV__VL; j_++) {                                               \
            mv__vi x_ = MV__SFX(mv__ld_##sfx)((p) + j_ * MV__VL);                            \
            (v)[2 * j_] = mv__vd_from_vi_lo(x_);                                             \
            (v)[2 * j_ + 1] = mv__vd_from_vi_hi(x_);                                         \
        }                                                                                    \
    } while (0)
#define MV__LOAD16_F64(p, v)                                                                 \
    do {                                                                                     \
        int j_;                                                                              \
        for (j_ = 0; j_ < 16 / MV__VDL; j_++) (v)[j_] = mv__vd_loadu((p) + j_ * MV__VDL);    \
    } while (0)
#define MV__LOAD16_I16(p, v) MV__LOAD16_INT(p, v, i16)
#define MV__LOAD16_U16(p, v) MV__LOAD16_INT(p, v, u16)
#define MV__LOAD16_U8(p, v) MV__LOAD16_INT(p, v, u8)
#define MV__LOAD16_I8(p, v) MV__LOAD16_INT(p, v, i8)
#define MV__LOAD16_I32(p, v) MV__LOAD16_INT(p, v, i32)
MV__PASS_STATS(f32, float, MV__LOAD16_F32)
MV__PASS_STATS(f64, double, MV__LOAD16_F64)
MV__PASS_STATS(i16, int16_t, MV__LOAD16_I16)
MV__PASS_STATS(u16, uint16_t, MV__LOAD16_U16)
MV__PASS_STATS(u8, uint8_t, MV__LOAD16_U8)
MV__PASS_STATS(i8, int8_t, MV__LOAD16_I8)
MV__PASS_STATS(i32, int32_t, MV__LOAD16_I32)

/* CRC-32 by carry-less multiplication (Intel's "Fast CRC Computation for
   Generic Polynomials Using PCLMULQDQ", bit-reflected form): four 128-bit
   accumulators fold 64 bytes per step, then 128 -> 64 -> 32 bits and a
   Barrett reduction. The constants are x^k mod P (reflected, times x) for
   the fold distances: R1/R2 for 512 bits, R3/R4 for 128, R5 for 64; mu and
   P' for Barrett. Short inputs and the tail go to the table version. */
#if defined(MV__PASS_AVX2) || defined(MV__PASS_AVX512)
MV__FN __m128i MV__SFX(mv__crc_fold)(__m128i x, __m128i k, __m128i data)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}
/* The end: a 128-bit remainder x0 of everything before b, then b[0..n)
   16 bytes at a time, reduced to 32 bits; the last bytes by table. */
MV__FN uint32_t MV__SFX(mv__crc32_from_fold)(__m128i x0, const unsigned char *b, size_t n)
{
    __m128i k = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL), t, mask; /* R4 : R3 */
    uint32_t crc;
    for (; n >= 16; n -= 16, b += 16) x0 = MV__SFX(mv__crc_fold)(x0, k, _mm_loadu_si128((const __m128i *)(const void *)b));
    /* 128 -> 64 bits (and 32 zero bits appended) */
    t = _mm_clmulepi64_si128(x0, k, 0x10);
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
    /* 64 -> 32 */
    mask = _mm_set_epi32(0, 0, 0, -1);
    k = _mm_set_epi64x(0, 0x163cd6124LL); /* R5 */
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, mask), k, 0x00), t);
    /* Barrett reduction to the 32-bit remainder */
    k = _mm_set_epi64x(0x1F7011641LL, 0x1DB710641LL); /* mu : P' */
    t = x0;
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask), k, 0x10);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask), k, 0x00);
    x0 = _mm_xor_si128(x0, t);
    crc = ~(uint32_t)_mm_extract_epi32(x0, 1);
    return n ? mv__crc32_ref(crc, b, n) : crc;
}
MV__FN uint32_t MV__SFX(mv__crc32)(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    __m128i x0, x1, x2, x3, k;
    if (n < 64) return mv__crc32_ref(crc, p, n);
    x0 = _mm_loadu_si128((const __m128i *)(const void *)b);
    x1 = _mm_loadu_si128((const __m128i *)(const void *)(b + 16));
    x2 = _mm_loadu_si128((const __m128i *)(const void *)(b + 32));
    x3 = _mm_loadu_si128((const __m128i *)(const void *)(b + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
    b += 64;
    n -= 64;
    k = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL); /* R2 : R1 */
    for (; n >= 64; n -= 64, b += 64) {
        x0 = MV__SFX(mv__crc_fold)(x0, k, _mm_loadu_si128((const __m128i *)(const void *)b));
        x1 = MV__SFX(mv__crc_fold)(x1, k, _mm_loadu_si128((const __m128i *)(const void *)(b + 16)));
        x2 = MV__SFX(mv__crc_fold)(x2, k, _mm_loadu_si128((const __m128i *)(const void *)(b + 32)));
        x3 = MV__SFX(mv__crc_fold)(x3, k, _mm_loadu_si128((const __m128i *)(const void *)(b + 48)));
    }
    k = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL); /* R4 : R3 */
    x1 = MV__SFX(mv__crc_fold)(x0, k, x1);
    x2 = MV__SFX(mv__crc_fold)(x1, k, x2);
    x0 = MV__SFX(mv__crc_fold)(x2, k, x3);
    return MV__SFX(mv__crc32_from_fold)(x0, b, n);
}
#define MV__HAVE_CRC32 1
#endif

/* The same folds on four 128-bit lanes per instruction (VPCLMULQDQ): four
   512-bit accumulators take 256 bytes per step (fold distance 2048 bits:
   x^2080 and x^2016 mod P), then their sixteen lanes fold into one in
   stream order and the 128-bit version's tail finishes. About four times
   the 128-bit version's throughput where the instruction exists. */
#if defined(MV__PASS_AVX512) && (defined(MEDVOL_RUNTIME_DISPATCH) || defined(__VPCLMULQDQ__))
static MV__UNUSED MV__TARGET_AVX512_VPCLMUL __m512i MV__SFX(mv__crc_fold512)(__m512i x, __m512i k, __m512i data)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11), data,
                                     0x96); /* a ^ b ^ c */
}
static MV__UNUSED MV__TARGET_AVX512_VPCLMUL uint32_t MV__SFX(mv__crc32_vpclmul)(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    __m512i x0, x1, x2, x3, k;
    __m128i lanes[16], x;
    int i;
    if (n < 512) return MV__SFX(mv__crc32)(crc, p, n);
    x0 = _mm512_loadu_si512((const void *)b);
    x1 = _mm512_loadu_si512((const void *)(b + 64));
    x2 = _mm512_loadu_si512((const void *)(b + 128));
    x3 = _mm512_loadu_si512((const void *)(b + 192));
    x0 = _mm512_xor_si512(x0, _mm512_castsi128_si512(_mm_cvtsi32_si128((int)~crc)));
    b += 256;
    n -= 256;
    k = _mm512_broadcast_i32x4(_mm_set_epi64x(0x1322d1430LL, 0x11542778aLL)); /* x^2016 : x^2080 */
    for (; n >= 256; n -= 256, b += 256) {
        x0 = MV__SFX(mv__crc_fold512)(x0, k, _mm512_loadu_si512((const void *)b));
        x1 = MV__SFX(mv__crc_fold512)(x1, k, _mm512_loadu_si512((const void *)(b + 64)));
        x2 = MV__SFX(mv__crc_fold512)(x2, k, _mm512_loadu_si512((const void *)(b + 128)));
        x3 = MV__SFX(mv__crc_fold512)(x3, k, _mm512_loadu_si512((const void *)(b + 192)));
    }
    _mm512_storeu_si512((void *)lanes, x0);
    _mm512_storeu_si512((void *)(lanes + 4), x1);
    _mm512_storeu_si512((void *)(lanes + 8), x2);
    _mm512_storeu_si512((void *)(lanes + 12), x3);
    _mm256_zeroupper(); /* 128-bit work from here on, and SSE code after the return */
    x = lanes[0];
    for (i = 1; i < 16; i++) x = MV__SFX(mv__crc_fold)(x, _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL), lanes[i]);
    return MV__SFX(mv__crc32_from_fold)(x, b, n);
}
#define MV__HAVE_CRC32_VPCLMUL 1
#endif

/* mv__combine_litlen_ref, 16 or 8 entries at a time: the second entries
   come by gather (from indices below the block, which are still single, or
   inside it, read before the block is stored). Needs root >= 4. */
#if defined(MV__PASS_AVX512)
MV__FN void MV__SFX(mv__combine_litlen)(uint32_t *tables, unsigned root)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i low8 = _mm512_set1_epi32(0xff), low4 = _mm512_set1_epi32(15), kind = _mm512_set1_epi32(MV__E_NOT_LITERAL | MV__E_INVALID);
    const __m512i length_kind = _mm512_set1_epi32(MV__E_LENDIST << 12), dist_mask = _mm512_set1_epi32((1 << MV__DIST_ROOT) - 1);
    const __m512i dist_at = _mm512_set1_epi32(MV__LITLEN_ENOUGH);
    const __m512i rootv = _mm512_set1_epi32((int)root), pair_bit = _mm512_set1_epi32((int)MV__E_PAIR);
    const __m512i max_len = _mm512_set1_epi32(MV__FUSE_MAX_LEN), max_bits = _mm512_set1_epi32(MV__FUSE_MAX_BITS);
    unsigned i;
    for (i = 1u << root; i >= 16;) {
        __m512i e, la, below, dist_index, g, lg, ld, paired, fused;
        __mmask16 is_length, pair, fuse;
        i -= 16;
        e = _mm512_loadu_si512((const void *)(tables + i));
        la = _mm512_and_si512(e, low8);
        below = _mm512_srlv_epi32(_mm512_add_epi32(_mm512_set1_epi32((int)i), lane), la);
        dist_index = _mm512_and_si512(below, dist_mask);
        /* one gather: the second literal/length entry where e is a literal,
           the distance entry where e is a length (they exclude each other) */
        is_length = _mm512_cmpeq_epi32_mask(_mm512_and_si512(e, kind), length_kind);
        g = _mm512_i32gather_epi32(_mm512_mask_add_epi32(below, is_length, dist_index, dist_at), (const void *)tables, 4);
        lg = _mm512_and_si512(g, low8);
        ld = _mm512_and_si512(_mm512_srli_epi32(g, 8), low4);
        pair = _mm512_testn_epi32_mask(_mm512_or_si512(e, g), _mm512_set1_epi32(MV__E_NOT_LITERAL)) &
               _mm512_cmple_epu32_mask(_mm512_add_epi32(la, lg), rootv);
        fuse = is_length & _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_srli_epi32(e, 8), low4), la) &
               _mm512_cmple_epu32_mask(_mm512_srli_epi32(e, 16), max_len) &
               _mm512_cmpeq_epi32_mask(_mm512_and_si512(g, kind), length_kind) &
               _mm512_cmple_epu32_mask(_mm512_add_epi32(la, ld), rootv) &
               _mm512_cmple_epu32_mask(_mm512_add_epi32(la, lg), max_bits);
        paired = _mm512_or_si512(_mm512_or_si512(_mm512_add_epi32(e, lg), pair_bit),
                                 _mm512_slli_epi32(_mm512_srli_epi32(g, 16), 24));
        fused = _mm512_or_si512(_mm512_or_si512(_mm512_add_epi32(la, lg), _mm512_slli_epi32(_mm512_add_epi32(la, ld), 8)),
                                _mm512_or_si512(_mm512_or_si512(length_kind, pair_bit),
                                                _mm512_or_si512(_mm512_slli_epi32(_mm512_srli_epi32(e, 16), 16),
                                                                _mm512_slli_epi32(dist_index, 24))));
        e = _mm512_mask_mov_epi32(e, fuse, fused);
        _mm512_storeu_si512((void *)(tables + i), _mm512_mask_mov_epi32(e, pair, paired));
    }
}
#define MV__HAVE_COMBINE_LITLEN 1
#elif defined(MV__PASS_AVX2)
MV__FN void MV__SFX(mv__combine_litlen)(uint32_t *tables, unsigned root)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), low8 = _mm256_set1_epi32(0xff), low4 = _mm256_set1_epi32(15);
    const __m256i not_literal = _mm256_set1_epi32(MV__E_NOT_LITERAL), kind = _mm256_set1_epi32(MV__E_NOT_LITERAL | MV__E_INVALID);
    const __m256i length_kind = _mm256_set1_epi32(MV__E_LENDIST << 12), dist_mask = _mm256_set1_epi32((1 << MV__DIST_ROOT) - 1);
    const __m256i dist_at = _mm256_set1_epi32(MV__LITLEN_ENOUGH);
    const __m256i rootv = _mm256_set1_epi32((int)root), pair_bit = _mm256_set1_epi32((int)MV__E_PAIR);
    const __m256i max_len = _mm256_set1_epi32(MV__FUSE_MAX_LEN), max_bits = _mm256_set1_epi32(MV__FUSE_MAX_BITS);
    const __m256i zero = _mm256_setzero_si256();
    unsigned i;
    for (i = 1u << root; i >= 8;) {
        __m256i e, la, below, dist_index, is_length, g, lg, ld, pair, fuse, paired, fused;
        i -= 8;
        e = _mm256_loadu_si256((const __m256i *)(const void *)(tables + i));
        la = _mm256_and_si256(e, low8);
        below = _mm256_srlv_epi32(_mm256_add_epi32(_mm256_set1_epi32((int)i), lane), la);
        dist_index = _mm256_and_si256(below, dist_mask);
        /* one gather: the second literal/length entry where e is a literal,
           the distance entry where e is a length (they exclude each other) */
        is_length = _mm256_cmpeq_epi32(_mm256_and_si256(e, kind), length_kind);
        g = _mm256_i32gather_epi32((const int *)(const void *)tables,
                                   _mm256_blendv_epi8(below, _mm256_add_epi32(dist_index, dist_at), is_length), 4);
        lg = _mm256_and_si256(g, low8);
        ld = _mm256_and_si256(_mm256_srli_epi32(g, 8), low4);
        /* all compared values are small: signed comparisons are exact */
        pair = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(la, lg), rootv),
                                   _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_or_si256(e, g), not_literal), zero));
        fuse = _mm256_and_si256(is_length, _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_srli_epi32(e, 8), low4), la));
        fuse = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_srli_epi32(e, 16), max_len), fuse);
        fuse = _mm256_and_si256(fuse, _mm256_cmpeq_epi32(_mm256_and_si256(g, kind), length_kind));
        fuse = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(la, ld), rootv), fuse);
        fuse = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(la, lg), max_bits), fuse);
        paired = _mm256_or_si256(_mm256_or_si256(_mm256_add_epi32(e, lg), pair_bit),
                                 _mm256_slli_epi32(_mm256_srli_epi32(g, 16), 24));
        fused = _mm256_or_si256(_mm256_or_si256(_mm256_add_epi32(la, lg), _mm256_slli_epi32(_mm256_add_epi32(la, ld), 8)),
                                _mm256_or_si256(_mm256_or_si256(length_kind, pair_bit),
                                                _mm256_or_si256(_mm256_slli_epi32(_mm256_srli_epi32(e, 16), 16),
                                                                _mm256_slli_epi32(dist_index, 24))));
        e = _mm256_blendv_epi8(e, fused, fuse);
        _mm256_storeu_si256((__m256i *)(void *)(tables + i), _mm256_blendv_epi8(e, paired, pair));
    }
    MV__ZEROUPPER();
}
#define MV__HAVE_COMBINE_LITLEN 1
#endif

/* DEFLATE's fast loop, compiled for this ISA (BMI2 shifts under AVX2+) */
MV__FN void MV__SFX(mv__inflate_fast)(mv__inflater *s, const unsigned char *in, size_t in_len, size_t *ip,
                                      unsigned char *out, size_t out_cap, size_t *op)
{
    mv__inflate_fast_body(s, in, in_len, ip, out, out_cap, op);
}

/* resampling kernels */
/* helpers that pass vectors through pointers must be inlined to stay in
   registers */
#if defined(__GNUC__) || defined(__clang__)
#define MV__RS_FNI MV__FN __inline__ __attribute__((always_inline))
#else
#define MV__RS_FNI MV__FN
#endif
/* The x step loads each output's taps as one contiguous run (2 or 4 floats)
   and transposes them into one vector per tap: on the CPUs measured this
   beats hardware gathers 2-3x. AVX-512 permutes from a 32-float window when
   the 16 outputs' taps fit in it. mv__rs_ld2/ld4: taps of MV__VL outputs. */
#if defined(MV__PASS_SSE2) || defined(MV__PASS_AVX2) || defined(MV__PASS_AVX512)
/* two adjacent floats as a 64-bit lane (__m64 loads are alias-safe) */
#define MV__RS_PAIR(v, p, hi) (hi ? _mm_loadh_pi((v), (const __m64 *)(const void *)(p)) : _mm_loadl_pi((v), (const __m64 *)(const void *)(p)))
MV__RS_FNI void MV__SFX(mv__rs_ld2x4)(const float *s, const int32_t *idx, __m128 *a, __m128 *b)
{
    __m128 p01 = MV__RS_PAIR(MV__RS_PAIR(_mm_setzero_ps(), s + idx[0], 0), s + idx[1], 1);
    __m128 p23 = MV__RS_PAIR(MV__RS_PAIR(_mm_setzero_ps(), s + idx[2], 0), s + idx[3], 1);
    *a = _mm_shuffle_ps(p01, p23, 0x88);
    *b = _mm_shuffle_ps(p01, p23, 0xDD);
}
MV__RS_FNI void MV__SFX(mv__rs_ld4x4)(const float *s, const int32_t *idx, __m128 *t)
{
    __m128 r0 = _mm_loadu_ps(s + idx[0]), r1 = _mm_loadu_ps(s + idx[1]), r2 = _mm_loadu_ps(s + idx[2]),
           r3 = _mm_loadu_ps(s + idx[3]);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    t[0] = r0;
    t[1] = r1;
    t[2] = r2;
    t[3] = r3;
}
#endif
#if defined(MV__PASS_SSE2)
#define mv__rs_vf_add(a, b) _mm_add_ps((a), (b))
#define mv__rs_vf_mul(a, b) _mm_mul_ps((a), (b))
#define mv__rs_vf_sub(a, b) _mm_sub_ps((a), (b))
MV__RS_FNI void MV__SFX(mv__rs_ld2)(const float *s, size_t len, const int32_t *idx, __m128 *a, __m128 *b)
{
    (void)len;
    MV__SFX(mv__rs_ld2x4)(s, idx, a, b);
}
MV__RS_FNI void MV__SFX(mv__rs_ld4)(const float *s, size_t len, const int32_t *idx, __m128 *t)
{
    (void)len;
    MV__SFX(mv__rs_ld4x4)(s, idx, t);
}
#elif defined(MV__PASS_AVX2)
#define mv__rs_vf_add(a, b) _mm256_add_ps((a), (b))
#define mv__rs_vf_mul(a, b) _mm256_mul_ps((a), (b))
#define mv__rs_vf_sub(a, b) _mm256_sub_ps((a), (b))
#define MV__RS_JOIN(lo, hi) _mm256_insertf128_ps(_mm256_castps128_ps256(lo), (hi), 1)
MV__RS_FNI void MV__SFX(mv__rs_ld2)(const float *s, size_t len, const int32_t *idx, __m256 *a, __m256 *b)
{
    __m128 a0, b0, a1, b1;
    (void)len;
    MV__SFX(mv__rs_ld2x4)(s, idx, &a0, &b0);
    MV__SFX(mv__rs_ld2x4)(s, idx + 4, &a1, &b1);
    *a = MV__RS_JOIN(a0, a1);
    *b = MV__RS_JOIN(b0, b1);
}
MV__RS_FNI void MV__SFX(mv__rs_ld4)(const float *s, size_t len, const int32_t *idx, __m256 *t)
{
    __m128 lo[4], hi[4];
    int k;
    (void)len;
    MV__SFX(mv__rs_ld4x4)(s, idx, lo);
    MV__SFX(mv__rs_ld4x4)(s, idx + 4, hi);
    for (k = 0; k < 4; k++) t[k] = MV__RS_JOIN(lo[k], hi[k]);
}
#elif defined(MV__PASS_AVX512)
#define mv__rs_vf_add(a, b) _mm512_add_ps((a), (b))
#define mv__rs_vf_mul(a, b) _mm512_mul_ps((a), (b))
#define mv__rs_vf_sub(a, b) _mm512_sub_ps((a), (b))
/* the 16 outputs' taps as positions in a window of 32 floats from *base, or
   0 when they do not fit (or the window would leave the source); idx must
   be monotonic (separable maps), as only its ends are looked at */
MV__RS_FNI int MV__SFX(mv__rs_window)(size_t len, const int32_t *idx, int taps, __m512i *pos, int32_t *base)
{
    int32_t lo = MV__MIN(idx[0], idx[15]), hi = MV__MAX(idx[0], idx[15]);
    if (hi - lo + taps > 32 || (size_t)lo + 32 > len) return 0;
    *base = lo;
    *pos = _mm512_sub_epi32(_mm512_loadu_si512((const void *)idx), _mm512_set1_epi32(lo));
    return 1;
}
/* mv__rs_ld2_any / ld4_any: taps at any offsets; mv__rs_ld2 / ld4: offsets
   in order (the window test looks only at the first and last) */
MV__RS_FNI void MV__SFX(mv__rs_ld2_any)(const float *s, const int32_t *idx, __m512 *a, __m512 *b)
{
    __m128 qa[4], qb[4];
    int k;
    for (k = 0; k < 4; k++) MV__SFX(mv__rs_ld2x4)(s, idx + 4 * k, &qa[k], &qb[k]);
    *a = _mm512_insertf32x4(_mm512_insertf32x4(_mm512_insertf32x4(_mm512_castps128_ps512(qa[0]), qa[1], 1), qa[2], 2), qa[3], 3);
    *b = _mm512_insertf32x4(_mm512_insertf32x4(_mm512_insertf32x4(_mm512_castps128_ps512(qb[0]), qb[1], 1), qb[2], 2), qb[3], 3);
}
MV__RS_FNI void MV__SFX(mv__rs_ld2)(const float *s, size_t len, const int32_t *idx, __m512 *a, __m512 *b)
{
    __m512i pos;
    int32_t base;
    if (MV__SFX(mv__rs_window)(len, idx, 2, &pos, &base)) {
        __m512 w0 = _mm512_loadu_ps(s + base), w1 = _mm512_loadu_ps(s + base + 16);
        *a = _mm512_permutex2var_ps(w0, pos, w1);
        *b = _mm512_permutex2var_ps(w0, _mm512_add_epi32(pos, _mm512_set1_epi32(1)), w1);
    } else {
        MV__SFX(mv__rs_ld2_any)(s, idx, a, b);
    }
}
MV__RS_FNI void MV__SFX(mv__rs_ld4_any)(const float *s, const int32_t *idx, __m512 *t)
{
    __m128 q[4][4];
    int k;
    for (k = 0; k < 4; k++) MV__SFX(mv__rs_ld4x4)(s, idx + 4 * k, q[k]);
    for (k = 0; k < 4; k++)
        t[k] = _mm512_insertf32x4(_mm512_insertf32x4(_mm512_insertf32x4(_mm512_castps128_ps512(q[0][k]), q[1][k], 1), q[2][k], 2),
                                  q[3][k], 3);
}
MV__RS_FNI void MV__SFX(mv__rs_ld4)(const float *s, size_t len, const int32_t *idx, __m512 *t)
{
    __m512i pos;
    int32_t base;
    int k;
    if (MV__SFX(mv__rs_window)(len, idx, 4, &pos, &base)) {
        __m512 w0 = _mm512_loadu_ps(s + base), w1 = _mm512_loadu_ps(s + base + 16);
        for (k = 0; k < 4; k++) t[k] = _mm512_permutex2var_ps(w0, _mm512_add_epi32(pos, _mm512_set1_epi32(k)), w1);
    } else {
        MV__SFX(mv__rs_ld4_any)(s, idx, t);
    }
}
#elif defined(MV__PASS_NEON)
#define mv__rs_vf_add(a, b) vaddq_f32((a), (b))
#define mv__rs_vf_mul(a, b) vmulq_f32((a), (b))
#define mv__rs_vf_sub(a, b) vsubq_f32((a), (b))
MV__RS_FNI void MV__SFX(mv__rs_ld2)(const float *s, size_t len, const int32_t *idx, float32x4_t *a, float32x4_t *b)
{
    float32x4_t p01 = vcombine_f32(vld1_f32(s + idx[0]), vld1_f32(s + idx[1]));
    float32x4_t p23 = vcombine_f32(vld1_f32(s + idx[2]), vld1_f32(s + idx[3]));
    (void)len;
    *a = vuzp1q_f32(p01, p23);
    *b = vuzp2q_f32(p01, p23);
}
MV__RS_FNI void MV__SFX(mv__rs_ld4)(const float *s, size_t len, const int32_t *idx, float32x4_t *t)
{
    float32x4_t r0 = vld1q_f32(s + idx[0]), r1 = vld1q_f32(s + idx[1]), r2 = vld1q_f32(s + idx[2]), r3 = vld1q_f32(s + idx[3]);
    float32x4_t t0 = vtrn1q_f32(r0, r1), t1 = vtrn2q_f32(r0, r1), t2 = vtrn1q_f32(r2, r3), t3 = vtrn2q_f32(r2, r3);
    (void)len;
    t[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    t[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    t[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    t[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}
#endif

/* y/z step: weighted sum of 1, 2 or 4 rows, same order as the reference.
   dst never overlaps a row, so a ragged end recomputes the last full vector
   (the same values again) instead of going scalar. */
MV__FN void MV__SFX(mv__rs_blend)(float *dst, const float *const *rows, const float *w, int taps, size_t n)
{
    size_t i, last = n >= MV__VL ? n - MV__VL : 0; /* start of the last full vector */
    if (n < MV__VL || (taps != 1 && taps != 2 && taps != 4)) {
        mv__rs_blend_ref(dst, rows, w, taps, n);
        return;
    }
    if (taps == 2) {
        mv__vf w0 = mv__vf_set1(w[0]), w1 = mv__vf_set1(w[1]);
        const float *r0 = rows[0], *r1 = rows[1];
        for (i = 0;; i += MV__VL) {
            if (i > last) i = last;
            mv__vf_storeu(dst + i, mv__rs_vf_add(mv__rs_vf_mul(w0, mv__vf_loadu(r0 + i)), mv__rs_vf_mul(w1, mv__vf_loadu(r1 + i))));
            if (i == last) break;
        }
    } else if (taps == 4) {
        mv__vf w0 = mv__vf_set1(w[0]), w1 = mv__vf_set1(w[1]), w2 = mv__vf_set1(w[2]), w3 = mv__vf_set1(w[3]);
        const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
        for (i = 0;; i += MV__VL) {
            mv__vf acc;
            if (i > last) i = last;
            acc = mv__rs_vf_add(mv__rs_vf_mul(w0, mv__vf_loadu(r0 + i)), mv__rs_vf_mul(w1, mv__vf_loadu(r1 + i)));
            acc = mv__rs_vf_add(acc, mv__rs_vf_mul(w2, mv__vf_loadu(r2 + i)));
            mv__vf_storeu(dst + i, mv__rs_vf_add(acc, mv__rs_vf_mul(w3, mv__vf_loadu(r3 + i))));
            if (i == last) break;
        }
    } else {
        mv__vf w0 = mv__vf_set1(w[0]);
        for (i = 0;; i += MV__VL) {
            if (i > last) i = last;
            mv__vf_storeu(dst + i, mv__rs_vf_mul(w0, mv__vf_loadu(rows[0] + i)));
            if (i == last) break;
        }
    }
}

/* x step: taps loaded together and transposed, weights from planar arrays;
   a ragged end recomputes the last full vector; 1 tap (a 1-voxel axis)
   goes to the reference */
MV__FN void MV__SFX(mv__rs_xinterp)(float *dst, const float *src, size_t src_len, const int32_t *idx, const float *w,
                                     size_t wstride, int taps, size_t n)
{
    size_t i, last = n >= MV__VL ? n - MV__VL : 0;
    if (n >= MV__VL && taps == 2) {
        const float *w1 = w + wstride;
        for (i = 0;; i += MV__VL) {
            mv__vf a, b;
            if (i > last) i = last;
            MV__SFX(mv__rs_ld2)(src, src_len, idx + i, &a, &b);
            mv__vf_storeu(dst + i, mv__rs_vf_add(mv__rs_vf_mul(mv__vf_loadu(w + i), a), mv__rs_vf_mul(mv__vf_loadu(w1 + i), b)));
            if (i == last) break;
        }
    } else if (n >= MV__VL && taps == 4) {
        const float *w1 = w + wstride, *w2 = w + 2 * wstride, *w3 = w + 3 * wstride;
        for (i = 0;; i += MV__VL) {
            mv__vf t[4], acc;
            if (i > last) i = last;
            MV__SFX(mv__rs_ld4)(src, src_len, idx + i, t);
            acc = mv__rs_vf_add(mv__rs_vf_mul(mv__vf_loadu(w + i), t[0]), mv__rs_vf_mul(mv__vf_loadu(w1 + i), t[1]));
            acc = mv__rs_vf_add(acc, mv__rs_vf_mul(mv__vf_loadu(w2 + i), t[2]));
            mv__vf_storeu(dst + i, mv__rs_vf_add(acc, mv__rs_vf_mul(mv__vf_loadu(w3 + i), t[3])));
            if (i == last) break;
        }
    } else {
        mv__rs_xinterp_ref(dst, src, src_len, idx, w, wstride, taps, n);
    }
}

/* the prefilter: each time step updates every lane group before the next
   step, so MV__RS_LANES / MV__VDL independent chains overlap; rows -1 and n
   hold the edge samples until the pads replace them (see
   mv__rs_bspline_lane for the arithmetic, followed op by op) */
#define MV__RS_G (MV__RS_LANES / MV__VDL)
MV__FN void MV__SFX(mv__rs_bspline)(double *buf, size_t n, int mirror)
{
    const size_t L = MV__RS_LANES;
    mv__rs_bsk k = mv__rs_bspline_consts(n);
    mv__vd z = mv__vd_set1(k.z), gain = mv__vd_set1(k.gain), prev[MV__RS_G];
    double *c = buf + L, *lo = buf, *hi = buf + (n + 1) * L, *r;
    size_t i;
    int g;
    if (n < 2) {
        mv__rs_bspline_ref(buf, n, mirror);
        return;
    }
    if (!mirror) {
        mv__vd inv = mv__vd_set1(k.inv_1mz), zq = mv__vd_set1(k.zq);
        for (g = 0; g < MV__RS_G; g++) {
            mv__vd g0 = mv__vd_loadu(c + g * MV__VDL);
            mv__vd_storeu(lo + g * MV__VDL, g0);
            mv__vd_storeu(hi + g * MV__VDL, mv__vd_loadu(c + (n - 1) * L + g * MV__VDL));
            prev[g] = mv__vd_mul(mv__vd_mul(gain, g0), inv);
            mv__vd_storeu(c + g * MV__VDL, prev[g]);
        }
        for (i = 1; i < n; i++)
            for (g = 0, r = c + i * L; g < MV__RS_G; g++) {
                prev[g] = mv__vd_add(mv__vd_mul(gain, mv__vd_loadu(r + g * MV__VDL)), mv__vd_mul(z, prev[g]));
                mv__vd_storeu(r + g * MV__VDL, prev[g]);
            }
        for (g = 0; g < MV__RS_G; g++) {
            mv__vd gl = mv__vd_loadu(hi + g * MV__VDL), s = mv__vd_mul(mv__vd_mul(gain, gl), inv);
            prev[g] = mv__vd_sub(gl, mv__vd_mul(mv__vd_sub(prev[g], s), zq));
            mv__vd_storeu(c + (n - 1) * L + g * MV__VDL, prev[g]);
            mv__vd_storeu(hi + g * MV__VDL, mv__vd_add(gl, mv__vd_mul(z, mv__vd_sub(prev[g], gl))));
        }
        for (i = n - 1; i-- > 0;)
            for (g = 0, r = c + i * L; g < MV__RS_G; g++) {
                prev[g] = mv__vd_mul(z, mv__vd_sub(prev[g], mv__vd_loadu(r + g * MV__VDL)));
                mv__vd_storeu(r + g * MV__VDL, prev[g]);
            }
        for (g = 0; g < MV__RS_G; g++) {
            mv__vd g0 = mv__vd_loadu(lo + g * MV__VDL);
            mv__vd_storeu(lo + g * MV__VDL, mv__vd_add(g0, mv__vd_mul(z, mv__vd_sub(prev[g], g0))));
        }
    } else {
        mv__vd zn1 = mv__vd_set1(k.zn1);
        double zi = k.z;
        for (i = 0; i < n; i++)
            for (g = 0, r = c + i * L; g < MV__RS_G; g++) mv__vd_storeu(r + g * MV__VDL, mv__vd_mul(gain, mv__vd_loadu(r + g * MV__VDL)));
        for (g = 0; g < MV__RS_G; g++)
            prev[g] = mv__vd_add(mv__vd_loadu(c + g * MV__VDL), mv__vd_mul(zn1, mv__vd_loadu(c + (n - 1) * L + g * MV__VDL)));
        for (i = 1; i + 1 < n; i++) {
            mv__vd vzi = mv__vd_set1(zi);
            for (g = 0; g < MV__RS_G; g++) {
                mv__vd t = mv__vd_add(mv__vd_loadu(c + i * L + g * MV__VDL),
                                      mv__vd_mul(zn1, mv__vd_loadu(c + (n - 1 - i) * L + g * MV__VDL)));
                prev[g] = mv__vd_add(prev[g], mv__vd_mul(vzi, t));
            }
            zi = zi * k.z;
        }
        for (g = 0; g < MV__RS_G; g++) {
            prev[g] = mv__vd_mul(prev[g], mv__vd_set1(k.mirror_div));
            mv__vd_storeu(c + g * MV__VDL, prev[g]);
        }
        for (i = 1; i < n; i++)
            for (g = 0, r = c + i * L; g < MV__RS_G; g++) {
                prev[g] = mv__vd_add(mv__vd_loadu(r + g * MV__VDL), mv__vd_mul(z, prev[g]));
                mv__vd_storeu(r + g * MV__VDL, prev[g]);
            }
        for (g = 0; g < MV__RS_G; g++) {
            prev[g] = mv__vd_mul(mv__vd_add(mv__vd_mul(z, mv__vd_loadu(c + (n - 2) * L + g * MV__VDL)), prev[g]),
                                 mv__vd_set1(k.mirror_end));
            mv__vd_storeu(c + (n - 1) * L + g * MV__VDL, prev[g]);
        }
        for (i = n - 1; i-- > 0;)
            for (g = 0, r = c + i * L; g < MV__RS_G; g++) {
                prev[g] = mv__vd_mul(z, mv__vd_sub(prev[g], mv__vd_loadu(r + g * MV__VDL)));
                mv__vd_storeu(r + g * MV__VDL, prev[g]);
            }
        for (g = 0; g < MV__RS_G; g++) {
            mv__vd_storeu(lo + g * MV__VDL, mv__vd_loadu(c + L + g * MV__VDL));
            mv__vd_storeu(hi + g * MV__VDL, mv__vd_loadu(c + (n - 2) * L + g * MV__VDL));
        }
    }
}

/* the x pass's transposition: MV__VDL x MV__VDL blocks of floats converted
   to doubles and transposed in registers (see mv__rs_rows_in_ref) */
#if defined(MV__PASS_SSE2)
#define MV__RS_LDF(p) _mm_cvtps_pd(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(const void *)(p)))
#define MV__RS_STF(p, v) _mm_storel_pi((__m64 *)(void *)(p), _mm_cvtpd_ps(v))
MV__RS_FNI void MV__SFX(mv__rs_tr)(__m128d *r)
{
    __m128d a = _mm_unpacklo_pd(r[0], r[1]), b = _mm_unpackhi_pd(r[0], r[1]);
    r[0] = a;
    r[1] = b;
}
#elif defined(MV__PASS_AVX2)
#define MV__RS_LDF(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define MV__RS_STF(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
MV__RS_FNI void MV__SFX(mv__rs_tr)(__m256d *r)
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#elif defined(MV__PASS_AVX512)
#define MV__RS_LDF(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define MV__RS_STF(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
MV__RS_FNI void MV__SFX(mv__rs_tr)(__m512d *r)
{
    __m512d t[8], v[8];
    int k;
    for (k = 0; k < 4; k++) {
        t[2 * k] = _mm512_unpacklo_pd(r[2 * k], r[2 * k + 1]);     /* rows 2k, 2k+1 at even columns */
        t[2 * k + 1] = _mm512_unpackhi_pd(r[2 * k], r[2 * k + 1]); /* ... at odd columns */
    }
    for (k = 0; k < 2; k++) {
        v[4 * k] = _mm512_shuffle_f64x2(t[k], t[k + 2], 0x88);     /* columns (0 4) or (1 5), rows 0-3 */
        v[4 * k + 1] = _mm512_shuffle_f64x2(t[k], t[k + 2], 0xDD); /* columns (2 6) or (3 7), rows 0-3 */
        v[4 * k + 2] = _mm512_shuffle_f64x2(t[k + 4], t[k + 6], 0x88);
        v[4 * k + 3] = _mm512_shuffle_f64x2(t[k + 4], t[k + 6], 0xDD);
    }
    for (k = 0; k < 2; k++) {
        r[k] = _mm512_shuffle_f64x2(v[4 * k], v[4 * k + 2], 0x88);         /* column k */
        r[k + 4] = _mm512_shuffle_f64x2(v[4 * k], v[4 * k + 2], 0xDD);     /* column k + 4 */
        r[k + 2] = _mm512_shuffle_f64x2(v[4 * k + 1], v[4 * k + 3], 0x88); /* column k + 2 */
        r[k + 6] = _mm512_shuffle_f64x2(v[4 * k + 1], v[4 * k + 3], 0xDD); /* column k + 6 */
    }
}
#elif defined(MV__PASS_NEON)
#define MV__RS_LDF(p) vcvt_f64_f32(vld1_f32(p))
#define MV__RS_STF(p, v) vst1_f32((p), vcvt_f32_f64(v))
MV__RS_FNI void MV__SFX(mv__rs_tr)(float64x2_t *r)
{
    float64x2_t a = vzip1q_f64(r[0], r[1]), b = vzip2q_f64(r[0], r[1]);
    r[0] = a;
    r[1] = b;
}
#endif
MV__FN void MV__SFX(mv__rs_rows_in)(double *buf, const float *rows, size_t stride, size_t n)
{
    const size_t L = MV__RS_LANES;
    size_t i = 0;
    int g, k;
    for (; i + MV__VDL <= n; i += MV__VDL)
        for (g = 0; g < MV__RS_G; g++) {
            mv__vd r[MV__VDL];
            for (k = 0; k < MV__VDL; k++) r[k] = MV__RS_LDF(rows + (size_t)(g * MV__VDL + k) * stride + i);
            MV__SFX(mv__rs_tr)(r);
            for (k = 0; k < MV__VDL; k++) mv__vd_storeu(buf + (i + 1 + (size_t)k) * L + (size_t)g * MV__VDL, r[k]);
        }
    mv__rs_rows_in_ref(buf + i * L, rows + i, stride, n - i);
}
MV__FN void MV__SFX(mv__rs_rows_out)(float *rows, size_t stride, const double *buf, size_t n)
{
    const size_t L = MV__RS_LANES;
    size_t i = 0;
    int g, k;
    for (; i + MV__VDL <= n; i += MV__VDL)
        for (g = 0; g < MV__RS_G; g++) {
            mv__vd r[MV__VDL];
            for (k = 0; k < MV__VDL; k++) r[k] = mv__vd_loadu(buf + (i + (size_t)k) * L + (size_t)g * MV__VDL);
            MV__SFX(mv__rs_tr)(r);
            for (k = 0; k < MV__VDL; k++) MV__RS_STF(rows + (size_t)(g * MV__VDL + k) * stride + i, r[k]);
        }
    mv__rs_rows_out_ref(rows + i, stride, buf + i * L, n - i);
}

/* General trilinear rows (mv__rs_affine_lin_ref, bit for bit): the
   coordinates in float64 as the reference computes them, MV__VDL lanes at
   a time (two double vectors make one float vector); the 8 corners as 4
   x-pairs through mv__rs_ld2 (contiguous pairs transposed beat 8 hardware
   gathers here too: 1.35x on AVX2, equal on AVX-512, at 128^3 rotated);
   the blend in float32 in the reference's order. Small per-ISA pieces:
   max(c, 0) that maps NaN to 0, truncation, lane masks, int32 stores.
   MV__ZEROUPPER (see the pass vocabulary): gcc 12 left out the vzeroupper
   before these kernels' reference tails and returns, and the SSE code after
   them (the caller's general path, libm's pow) ran 2x slower on this CPU. */
#if defined(MV__PASS_AVX512)
#define mv__rs_vd_max0(a) _mm512_max_pd((a), _mm512_setzero_pd()) /* NaN -> 0 (second operand) */
#define mv__rs_vd_trunc(a) _mm512_roundscale_pd((a), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
#define mv__rs_vd_lanes() _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7)
#define mv__rs_vd_store_i32(p, a) _mm256_storeu_si256((__m256i *)(void *)(p), _mm512_cvttpd_epi32(a))
#define MV__RS_LD2_ANY(s, idx, a, b) MV__SFX(mv__rs_ld2_any)((s), (idx), (a), (b))
#define MV__RS_LD4_ANY(s, idx, t) MV__SFX(mv__rs_ld4_any)((s), (idx), (t))
#define mv__rs_vd_div(a, b) _mm512_div_pd((a), (b))
#elif defined(MV__PASS_AVX2)
#define mv__rs_vd_max0(a) _mm256_max_pd((a), _mm256_setzero_pd())
#define mv__rs_vd_trunc(a) _mm256_round_pd((a), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
#define mv__rs_vd_lanes() _mm256_setr_pd(0, 1, 2, 3)
#define MV__RS_LD2_ANY(s, idx, a, b) MV__SFX(mv__rs_ld2)((s), 0, (idx), (a), (b)) /* no window: any order */
#define MV__RS_LD4_ANY(s, idx, t) MV__SFX(mv__rs_ld4)((s), 0, (idx), (t))
#define mv__rs_vd_div(a, b) _mm256_div_pd((a), (b))
#define mv__rs_vd_store_i32(p, a) _mm_storeu_si128((__m128i *)(void *)(p), _mm256_cvttpd_epi32(a))
#elif defined(MV__PASS_SSE2)
#define mv__rs_vd_max0(a) _mm_max_pd((a), _mm_setzero_pd())
#define mv__rs_vd_trunc(a) _mm_cvtepi32_pd(_mm_cvttpd_epi32(a)) /* 0 <= a < 2^31 here */
#define mv__rs_vd_lanes() _mm_setr_pd(0, 1)
#define MV__RS_LD2_ANY(s, idx, a, b) MV__SFX(mv__rs_ld2)((s), 0, (idx), (a), (b))
#define MV__RS_LD4_ANY(s, idx, t) MV__SFX(mv__rs_ld4)((s), 0, (idx), (t))
#define mv__rs_vd_div(a, b) _mm_div_pd((a), (b))
#define mv__rs_vd_store_i32(p, a) _mm_storel_epi64((__m128i *)(void *)(p), _mm_cvttpd_epi32(a))
#elif defined(MV__PASS_NEON)
#define mv__rs_vd_max0(a) vmaxnmq_f64((a), vdupq_n_f64(0)) /* maxNum: the number, so NaN -> 0, and +0 over -0 */
#define mv__rs_vd_trunc(a) vrndq_f64(a)
#define mv__rs_vd_lanes() vsetq_lane_f64(1.0, vdupq_n_f64(0.0), 1)
#define MV__RS_LD2_ANY(s, idx, a, b) MV__SFX(mv__rs_ld2)((s), 0, (idx), (a), (b))
#define MV__RS_LD4_ANY(s, idx, t) MV__SFX(mv__rs_ld4)((s), 0, (idx), (t))
#define mv__rs_vd_div(a, b) vdivq_f64((a), (b))
#define mv__rs_vd_store_i32(p, a) vst1_s32((p), vmovn_s64(vcvtq_s64_f64(a)))
#endif

/* One axis of MV__VDL samples at coordinates c on an axis whose last voxel
   is hi: weight t, window start f (as doubles), and the lanes inside
   [0, hi] cleared from *inside_bits where they are not. */
MV__RS_FNI void MV__SFX(mv__rs_lin_axis)(mv__vd c, double hi, mv__vd *t, mv__vd *f, int *inside_bits)
{
    mv__vd vhi = mv__vd_set1(hi), one = mv__vd_set1(1.0), hi1 = mv__vd_set1(hi - 1), cl, fl;
    cl = mv__vd_min(mv__rs_vd_max0(c), vhi);
    fl = mv__rs_vd_trunc(cl); /* floor: cl >= 0 */
#if defined(MV__PASS_AVX512)
    {
        __mmask8 in = _mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_GE_OQ) & _mm512_cmp_pd_mask(c, vhi, _CMP_LE_OQ);
        __mmask8 last = _mm512_cmp_pd_mask(fl, vhi, _CMP_GE_OQ);
        *t = _mm512_mask_blend_pd(last, mv__vd_sub(cl, fl), one);
        *f = _mm512_mask_blend_pd(last, fl, hi1);
        *inside_bits &= (int)in;
    }
#elif defined(MV__PASS_AVX2)
    {
        __m256d in = _mm256_and_pd(_mm256_cmp_pd(c, _mm256_setzero_pd(), _CMP_GE_OQ), _mm256_cmp_pd(c, vhi, _CMP_LE_OQ));
        __m256d last = _mm256_cmp_pd(fl, vhi, _CMP_GE_OQ);
        *t = _mm256_blendv_pd(mv__vd_sub(cl, fl), one, last);
        *f = _mm256_blendv_pd(fl, hi1, last);
        *inside_bits &= _mm256_movemask_pd(in);
    }
#elif defined(MV__PASS_SSE2)
    {
        __m128d in = _mm_and_pd(_mm_cmpge_pd(c, _mm_setzero_pd()), _mm_cmple_pd(c, vhi)); /* ordered: NaN is outside */
        __m128d last = _mm_cmpge_pd(fl, vhi);
        *t = _mm_or_pd(_mm_and_pd(last, one), _mm_andnot_pd(last, mv__vd_sub(cl, fl)));
        *f = _mm_or_pd(_mm_and_pd(last, hi1), _mm_andnot_pd(last, fl));
        *inside_bits &= _mm_movemask_pd(in);
    }
#elif defined(MV__PASS_NEON)
    {
        uint64x2_t in = vandq_u64(vcgeq_f64(c, vdupq_n_f64(0)), vcleq_f64(c, vhi)), last = vcgeq_f64(fl, vhi);
        *t = vbslq_f64(last, one, mv__vd_sub(cl, fl));
        *f = vbslq_f64(last, hi1, fl);
        *inside_bits &= (int)(vgetq_lane_u64(in, 0) & 1u) | (int)(vgetq_lane_u64(in, 1) & 2u);
    }
#endif
}

MV__FN void MV__SFX(mv__rs_affine_lin)(float *dst, const float *vol, const int64_t *d, const double *m0, const double *base,
                                        int64_t x0, size_t n, int fill, float fillv)
{
    const size_t sy = (size_t)d[0], sz = (size_t)(d[0] * d[1]);
    const int all_in = (1 << MV__VDL) - 1;
    const mv__vf one = mv__vf_set1(1.0f);
    mv__vd step[3], scale_y = mv__vd_set1((double)sy), scale_z = mv__vd_set1((double)sz);
    size_t i = 0;
    int a, h;
    for (a = 0; a < 3; a++) step[a] = mv__vd_set1(m0[a]);
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vf t[3], u[3], r0, r1, r2, r3, p0, p1;
        int32_t idx[MV__VL];
        int inside[2] = {all_in, all_in};
        mv__vd tw[3][2];
        for (h = 0; h < 2; h++) {
            /* x as the reference forms it: (double)(x0 + i + lane) */
            mv__vd x = mv__vd_add(mv__vd_set1((double)(x0 + (int64_t)i + h * MV__VDL)), mv__rs_vd_lanes()), f[3];
            for (a = 0; a < 3; a++) {
                mv__vd c = mv__vd_add(mv__vd_mul(step[a], x), mv__vd_set1(base[a]));
                MV__SFX(mv__rs_lin_axis)(c, (double)(d[a] - 1), &tw[a][h], &f[a], &inside[h]);
            }
            /* the window's offset, exact in float64 (below 2^31) */
            mv__rs_vd_store_i32(idx + h * MV__VDL, mv__vd_add(mv__vd_add(mv__vd_mul(f[2], scale_z), mv__vd_mul(f[1], scale_y)), f[0]));
        }
        for (a = 0; a < 3; a++) {
            t[a] = mv__vf_from_vd(tw[a][0], tw[a][1]);
            u[a] = mv__rs_vf_sub(one, t[a]);
        }
        MV__RS_LD2_ANY(vol, idx, &r0, &p0);
        r0 = mv__rs_vf_add(mv__rs_vf_mul(u[0], r0), mv__rs_vf_mul(t[0], p0));
        MV__RS_LD2_ANY(vol + sy, idx, &r1, &p0);
        r1 = mv__rs_vf_add(mv__rs_vf_mul(u[0], r1), mv__rs_vf_mul(t[0], p0));
        MV__RS_LD2_ANY(vol + sz, idx, &r2, &p0);
        r2 = mv__rs_vf_add(mv__rs_vf_mul(u[0], r2), mv__rs_vf_mul(t[0], p0));
        MV__RS_LD2_ANY(vol + sz + sy, idx, &r3, &p0);
        r3 = mv__rs_vf_add(mv__rs_vf_mul(u[0], r3), mv__rs_vf_mul(t[0], p0));
        p0 = mv__rs_vf_add(mv__rs_vf_mul(u[1], r0), mv__rs_vf_mul(t[1], r1));
        p1 = mv__rs_vf_add(mv__rs_vf_mul(u[1], r2), mv__rs_vf_mul(t[1], r3));
        mv__vf_storeu(dst + i, mv__rs_vf_add(mv__rs_vf_mul(u[2], p0), mv__rs_vf_mul(t[2], p1)));
        if (fill && (inside[0] & inside[1]) != all_in) { /* rare: rows crossing the edge */
            int k;
            for (k = 0; k < MV__VL; k++)
                if (!((inside[k / MV__VDL] >> (k % MV__VDL)) & 1)) dst[i + (size_t)k] = fillv;
        }
    }
    MV__ZEROUPPER();
    mv__rs_affine_lin_ref(dst + i, vol, d, m0, base, x0 + (int64_t)i, n - i, fill, fillv);
}

/* Lanes of c inside [0, lim): a bit per lane, as mv__rs_lin_axis counts them */
MV__RS_FNI int MV__SFX(mv__rs_in_bits)(mv__vd c, double lim)
{
#if defined(MV__PASS_AVX512)
    return (int)(_mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_GE_OQ) & _mm512_cmp_pd_mask(c, _mm512_set1_pd(lim), _CMP_LT_OQ));
#elif defined(MV__PASS_AVX2)
    return _mm256_movemask_pd(_mm256_and_pd(_mm256_cmp_pd(c, _mm256_setzero_pd(), _CMP_GE_OQ), _mm256_cmp_pd(c, _mm256_set1_pd(lim), _CMP_LT_OQ)));
#elif defined(MV__PASS_SSE2)
    return _mm_movemask_pd(_mm_and_pd(_mm_cmpge_pd(c, _mm_setzero_pd()), _mm_cmplt_pd(c, _mm_set1_pd(lim))));
#elif defined(MV__PASS_NEON)
    uint64x2_t in = vandq_u64(vcgeq_f64(c, vdupq_n_f64(0)), vcltq_f64(c, vdupq_n_f64(lim)));
    return (int)(vgetq_lane_u64(in, 0) & 1u) | (int)(vgetq_lane_u64(in, 1) & 2u);
#endif
}

/* General cubic rows (mv__rs_affine_cub_ref, bit for bit): coordinates and
   the cubic weights in float64 by the reference's formulas
   (mv__rs_cubic_w), rounded to float32, then the 16 runs of 4 taps through
   mv__rs_ld4 and the sums in the reference's order. A voxel whose taps are
   not all stored is computed at its coordinate clamped into [0, lim] (taps
   still inside the stored volume; equal to c for the others) and marked
   todo, so vectors across the edge stay vectors (sending them to the
   reference made AVX-512 slower than the reference itself). */
MV__FN size_t MV__SFX(mv__rs_affine_cub)(float *dst, unsigned char *todo, const float *coef, const int64_t *st,
                                         const double *lim, const double *m0, const double *base, int64_t x0, size_t n)
{
    const size_t sx = (size_t)st[0], sy = (size_t)st[1];
    const int all_in = (1 << MV__VDL) - 1;
    const mv__vd one = mv__vd_set1(1.0), two = mv__vd_set1(2.0), three = mv__vd_set1(3.0), four = mv__vd_set1(4.0),
                 six = mv__vd_set1(6.0), scale_y = mv__vd_set1((double)sx), scale_z = mv__vd_set1((double)(sx * sy));
    size_t i = 0, left = 0;
    int a, h, k;
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vd c[2][3];
        mv__vf w[3][4], acc = mv__vf_set1(0.0f);
        int32_t idx[MV__VL];
        int in[2] = {all_in, all_in}, tz, ty;
        for (h = 0; h < 2; h++) {
            mv__vd x = mv__vd_add(mv__vd_set1((double)(x0 + (int64_t)i + h * MV__VDL)), mv__rs_vd_lanes());
            for (a = 0; a < 3; a++) {
                c[h][a] = mv__vd_add(mv__vd_mul(mv__vd_set1(m0[a]), x), mv__vd_set1(base[a]));
                in[h] &= MV__SFX(mv__rs_in_bits)(c[h][a], lim[a]);
                c[h][a] = mv__vd_min(mv__rs_vd_max0(c[h][a]), mv__vd_set1(lim[a])); /* NaN -> 0 */
            }
        }
        for (a = 0; a < 3; a++) {
            mv__vd wd[4][2];
            for (h = 0; h < 2; h++) {
                mv__vd fl = mv__rs_vd_trunc(c[h][a]), t = mv__vd_sub(c[h][a], fl), y = mv__vd_sub(one, t);
                mv__vd w0 = mv__rs_vd_div(mv__vd_mul(mv__vd_mul(y, y), y), six);
                mv__vd w1 = mv__rs_vd_div(mv__vd_add(mv__vd_mul(mv__vd_mul(mv__vd_mul(t, t), mv__vd_sub(t, two)), three), four), six);
                mv__vd w2 = mv__rs_vd_div(mv__vd_add(mv__vd_mul(mv__vd_mul(mv__vd_mul(y, y), mv__vd_sub(y, two)), three), four), six);
                wd[0][h] = w0;
                wd[1][h] = w1;
                wd[2][h] = w2;
                wd[3][h] = mv__vd_sub(mv__vd_sub(mv__vd_sub(one, w0), w1), w2);
                /* the window's offset, exact in float64 (below 2^31); built up over the axes */
                if (a == 0) c[h][0] = fl;
                else if (a == 1) c[h][0] = mv__vd_add(c[h][0], mv__vd_mul(fl, scale_y));
                else mv__rs_vd_store_i32(idx + h * MV__VDL, mv__vd_add(c[h][0], mv__vd_mul(fl, scale_z)));
            }
            for (k = 0; k < 4; k++) w[a][k] = mv__vf_from_vd(wd[k][0], wd[k][1]);
        }
        for (tz = 0; tz < 4; tz++) {
            mv__vf plane = mv__vf_set1(0.0f);
            for (ty = 0; ty < 4; ty++) {
                mv__vf r[4], row;
                MV__RS_LD4_ANY(coef + ((size_t)tz * sy + (size_t)ty) * sx, idx, r);
                row = mv__rs_vf_add(mv__rs_vf_add(mv__rs_vf_add(mv__rs_vf_mul(w[0][0], r[0]), mv__rs_vf_mul(w[0][1], r[1])),
                                                  mv__rs_vf_mul(w[0][2], r[2])),
                                    mv__rs_vf_mul(w[0][3], r[3]));
                plane = ty == 0 ? mv__rs_vf_mul(w[1][0], row) : mv__rs_vf_add(plane, mv__rs_vf_mul(w[1][ty], row));
            }
            acc = tz == 0 ? mv__rs_vf_mul(w[2][0], plane) : mv__rs_vf_add(acc, mv__rs_vf_mul(w[2][tz], plane));
        }
        mv__vf_storeu(dst + i, acc);
        for (k = 0; k < MV__VL; k++) {
            todo[i + (size_t)k] = (unsigned char)!((in[k / MV__VDL] >> (k % MV__VDL)) & 1);
            left += todo[i + (size_t)k];
        }
    }
    MV__ZEROUPPER();
    return left + mv__rs_affine_cub_ref(dst + i, todo + i, coef, st, lim, m0, base, x0 + (int64_t)i, n - i);
}
#undef MV__RS_LD2_ANY
#undef MV__RS_LD4_ANY
#undef mv__rs_vd_div
#undef mv__rs_vd_max0
#undef mv__rs_vd_trunc
#undef mv__rs_vd_lanes
#undef mv__rs_vd_store_i32

/* intensity kernels: float64 arithmetic per voxel, rounded once */
MV__FN void MV__SFX(mv__affine_f32)(const float *x, float *y, size_t n, double c, double sc, double o)
{
    mv__vd vc = mv__vd_set1(c), vs = mv__vd_set1(sc), vo = mv__vd_set1(o);
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vf v = mv__vf_loadu(x + i);
        mv__vd lo = mv__vd_add(mv__vd_mul(mv__vd_sub(mv__vd_from_vf_lo(v), vc), vs), vo);
        mv__vd hi = mv__vd_add(mv__vd_mul(mv__vd_sub(mv__vd_from_vf_hi(v), vc), vs), vo);
        mv__vf_storeu(y + i, mv__vf_from_vd(lo, hi));
    }
    mv__affine_f32_ref(x + i, y + i, n - i, c, sc, o);
}
MV__FN void MV__SFX(mv__affine_nz_f32)(const float *x, float *y, size_t n, double c, double sc, double o)
{
    mv__vd vc = mv__vd_set1(c), vs = mv__vd_set1(sc), vo = mv__vd_set1(o);
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL) {
        mv__vf v = mv__vf_loadu(x + i);
        mv__vd lo = mv__vd_add(mv__vd_mul(mv__vd_sub(mv__vd_from_vf_lo(v), vc), vs), vo);
        mv__vd hi = mv__vd_add(mv__vd_mul(mv__vd_sub(mv__vd_from_vf_hi(v), vc), vs), vo);
        mv__vf_storeu(y + i, mv__vf_keep_zero(v, mv__vf_from_vd(lo, hi)));
    }
    mv__affine_nz_f32_ref(x + i, y + i, n - i, c, sc, o);
}
MV__FN void MV__SFX(mv__clamp_f32)(const float *x, float *y, size_t n, float lo, float hi)
{
    mv__vf vlo = mv__vf_set1(lo), vhi = mv__vf_set1(hi);
    size_t i = 0;
    for (; i + 2 * MV__VL <= n; i += 2 * MV__VL) {
        mv__vf a = mv__vf_loadu(x + i), b = mv__vf_loadu(x + i + MV__VL);
        mv__vf_storeu(y + i, mv__vf_clamp(a, vlo, vhi));
        mv__vf_storeu(y + i + MV__VL, mv__vf_clamp(b, vlo, vhi));
    }
    mv__clamp_f32_ref(x + i, y + i, n - i, lo, hi);
}

/* row flips: whole vectors from the far end, reversed in registers; the
   middle that is left (fewer than two vectors) goes to the reference */
MV__FN void MV__SFX(mv__reverse4)(const void *src, void *dst, size_t n)
{
    const float *s = (const float *)src;
    float *d = (float *)dst;
    size_t i = 0;
    for (; i + MV__VL <= n; i += MV__VL) mv__vf_storeu(d + i, mv__vf_reverse(mv__vf_loadu(s + n - i - MV__VL)));
    mv__reverse4_ref(s, d + i, n - i);
}
MV__FN void MV__SFX(mv__reverse8)(const void *src, void *dst, size_t n)
{
    const double *s = (const double *)src;
    double *d = (double *)dst;
    size_t i = 0;
    for (; i + MV__VDL <= n; i += MV__VDL) mv__vd_storeu(d + i, mv__vd_reverse(mv__vd_loadu(s + n - i - MV__VDL)));
    mv__reverse8_ref(s, d + i, n - i);
}
MV__FN void MV__SFX(mv__reverse2)(const void *src, void *dst, size_t n)
{
    const uint16_t *s = (const uint16_t *)src;
    uint16_t *d = (uint16_t *)dst;
    size_t i = 0, per = MV__BSWAP_BYTES / 2;
    for (; i + per <= n; i += per) mv__vb_storeu(d + i, MV__SFX(mv__vb_reverse16)(mv__vb_loadu(s + n - i - per)));
    mv__reverse2_ref(s, d + i, n - i);
}

/* integers -> (x * slope + inter - c) * s + o in float64, one pass */
#define MV__PASS_AFFINE_INT(sfx, T)                                                                \
    MV__FN void MV__SFX(mv__affine_##sfx)(const void *x, float *y, size_t n, double slope, double inter, \
                                          double c, double sc, double o, int nonzero)               \
    {                                                                                              \
        const T *p = (const T *)x;                                                                 \
        mv__vd vsl = mv__vd_set1(slope), vin = mv__vd_set1(inter), vc = mv__vd_set1(c);            \
        mv__vd vs = mv__vd_set1(sc), vo = mv__vd_set1(o);                                          \
        size_t i = 0;                                                                              \
        for (; i + MV__VL <= n; i += MV__VL) {                                                     \
            mv__vi xi = MV__SFX(mv__ld_##sfx)(p + i);                                              \
            mv__vd lo = mv__vd_add(mv__vd_mul(mv__vd_from_vi_lo(xi), vsl), vin);                   \
            mv__vd hi = mv__vd_add(mv__vd_mul(mv__vd_from_vi_hi(xi), vsl), vin);                   \
            mv__vf v = mv__vf_from_vd(lo, hi);                                                     \
            mv__vf r = mv__vf_from_vd(mv__vd_add(mv__vd_mul(mv__vd_sub(lo, vc), vs), vo),          \
                                      mv__vd_add(mv__vd_mul(mv__vd_sub(hi, vc), vs), vo));         \
            mv__vf_storeu(y + i, nonzero ? mv__vf_keep_zero(v, r) : r);                            \
        }                                                                                          \
        mv__affine_##sfx##_ref(p + i, y + i, n - i, slope, inter, c, sc, o, nonzero);              \
    }
MV__PASS_AFFINE_INT(u8, uint8_t)
MV__PASS_AFFINE_INT(i16, int16_t)
MV__PASS_AFFINE_INT(u16, uint16_t)
#undef MV__PASS_AFFINE_INT

/* nonzero-only block statistics: the lanes of mv__stats_f32 with the zeros
   masked out (and counted in the same lanes) */
MV__FN void MV__SFX(mv__stats_nz_f32)(const float *s, size_t n, double K, mv__acc *out, double *count)
{
    mv__vd a0[MV__NACC], a1[MV__NACC], a2[MV__NACC], vk = mv__vd_set1(K), zero = mv__vd_set1(0.0), one = mv__vd_set1(1.0);
    mv__vd inf = mv__vd_set1((double)INFINITY), ninf = mv__vd_set1(-(double)INFINITY), vmn = inf, vmx = ninf;
    double l0[8], l1[8], l2[8], lmn[MV__VDL], lmx[MV__VDL], mn, mx;
    size_t i = 0;
    int k;
    for (k = 0; k < MV__NACC; k++) a0[k] = a1[k] = a2[k] = zero;
    for (; i + 16 <= n; i += 16) {
        mv__vd v[16 / MV__VDL];
        MV__LOAD16_F32(s + i, v);
        for (k = 0; k < 16 / MV__VDL; k++) {
            mv__vd d = mv__vd_nz_select(v[k], mv__vd_sub(v[k], vk), zero);
            a0[k % MV__NACC] = mv__vd_add(a0[k % MV__NACC], mv__vd_nz_select(v[k], one, zero));
            a1[k % MV__NACC] = mv__vd_add(a1[k % MV__NACC], d);
            a2[k % MV__NACC] = mv__vd_add(a2[k % MV__NACC], mv__vd_mul(d, d));
            vmn = mv__vd_min(mv__vd_nz_select(v[k], v[k], inf), vmn);
            vmx = mv__vd_max(mv__vd_nz_select(v[k], v[k], ninf), vmx);
        }
    }
    for (k = 0; k < MV__NACC; k++) {
        mv__vd_storeu(l0 + k * MV__VDL, a0[k]);
        mv__vd_storeu(l1 + k * MV__VDL, a1[k]);
        mv__vd_storeu(l2 + k * MV__VDL, a2[k]);
    }
    mv__vd_storeu(lmn, vmn);
    mv__vd_storeu(lmx, vmx);
    mn = lmn[0];
    mx = lmx[0];
    for (k = 1; k < MV__VDL; k++) {
        mn = lmn[k] < mn ? lmn[k] : mn;
        mx = lmx[k] > mx ? lmx[k] : mx;
    }
    for (; i < n; i++) {
        double x = (double)s[i], d = x - K;
        if (x == 0) continue;
        l0[i & 7] += 1;
        l1[i & 7] += d;
        l2[i & 7] += d * d;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    out->s1 = mv__sum8(l1);
    out->s2 = mv__sum8(l2);
    out->mn = mn;
    out->mx = mx;
    *count = mv__sum8(l0);
}

/* forward row copy: four vectors per step, the tail by the library */
MV__FN void MV__SFX(mv__copy)(void *dst, const void *src, size_t bytes)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, w = MV__BSWAP_BYTES;
    for (; i + 4 * w <= bytes; i += 4 * w) {
        mv__vb a = mv__vb_loadu(s + i), b = mv__vb_loadu(s + i + w), c = mv__vb_loadu(s + i + 2 * w),
               e = mv__vb_loadu(s + i + 3 * w);
        mv__vb_storeu(d + i, a);
        mv__vb_storeu(d + i + w, b);
        mv__vb_storeu(d + i + 2 * w, c);
        mv__vb_storeu(d + i + 3 * w, e);
    }
    if (i < bytes) memcpy(d + i, s + i, bytes - i);
}

/* >>pass-fft ===============================================================
   FFT kernels, written once against the small complex-vector vocabulary
   below and stamped once per ISA by the >>pass re-include (MV__PASS_SSE2,
   _AVX2, _AVX512, _NEON; names through MV__SFX, functions MV__FN).

   A complex vector (mv__fc) holds MV__FCL complex numbers (re, im
   interleaved) that belong to MV__FCL *independent* transforms: the lanes
   never mix. So every lane computes exactly what the others compute, and a
   line's result does not depend on which lines share its vector, on how the
   work is split across threads, or on the bundle width (DETERMINISM).
   Multi-D: along a strided axis MV__FCL adjacent columns are one vector load;
   along the contiguous axis MV__FCL rows are transposed into vectors
   (mv__fc_transpose) on the way in and out. Radix passes are Stockham
   (self-sorting, decimation in frequency); see mv__fft_stage. */

#if defined(MV__PASS_AVX512)
#define mv__fc __m512
#define mv__fh __m256 /* MV__FCL floats: one real row segment */
#define MV__FCL 8
#define MV__FFT_INL MV__INLINE MV__TARGET_AVX512
#define mv__fc_ld(p) _mm512_loadu_ps(p)
#define mv__fc_st(p, v) _mm512_storeu_ps((p), (v))
#define mv__fc_set1(x) _mm512_set1_ps(x)
#define mv__fc_zero() _mm512_setzero_ps()
#define mv__fc_add(a, b) _mm512_add_ps((a), (b))
#define mv__fc_sub(a, b) _mm512_sub_ps((a), (b))
#define mv__fc_mul(a, b) _mm512_mul_ps((a), (b))
#define mv__fc_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c))   /* a*b + c */
#define mv__fc_fnma(a, b, c) _mm512_fnmadd_ps((a), (b), (c)) /* c - a*b */
#define mv__fc_swap(a) _mm512_permute_ps((a), 0xB1)          /* (re,im) -> (im,re) */
#define mv__fc_xor(a, m) _mm512_xor_ps((a), (m))
#define mv__fc_and(a, m) _mm512_and_ps((a), (m))
#define mv__fc_sign_re() _mm512_castsi512_ps(_mm512_set1_epi64(0x80000000LL))
#define mv__fc_sign_im() _mm512_castsi512_ps(_mm512_set1_epi64(INT64_MIN))
#define mv__fc_re_only() _mm512_castsi512_ps(_mm512_set1_epi64(0xFFFFFFFFLL))
/* a twiddle's imaginary part as mv__fc_cmulw wants it */
#define mv__fc_twi(x) _mm512_set1_ps(x)
/* a * (wr + i wi), wr and wi broadcast: one fused multiply-add/sub */
#define mv__fc_cmulw(a, wr, wi) _mm512_fmaddsub_ps((a), (wr), _mm512_mul_ps(mv__fc_swap(a), (wi)))
#define mv__fh_ld(p) _mm256_loadu_ps(p)
#define mv__fh_st(p, v) _mm256_storeu_ps((p), (v))

/* 8 x 8 complex (64-bit) transpose: pairs, then 128-bit pairs, then halves.
   Spelled out (no arrays, no loops) so it stays in registers. */
MV__FFT_INL void MV__SFX(mv__fc_transpose)(mv__fc *v)
{
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    __m512d t0 = _mm512_unpacklo_pd(_mm512_castps_pd(v[0]), _mm512_castps_pd(v[1]));
    __m512d t1 = _mm512_unpackhi_pd(_mm512_castps_pd(v[0]), _mm512_castps_pd(v[1]));
    __m512d t2 = _mm512_unpacklo_pd(_mm512_castps_pd(v[2]), _mm512_castps_pd(v[3]));
    __m512d t3 = _mm512_unpackhi_pd(_mm512_castps_pd(v[2]), _mm512_castps_pd(v[3]));
    __m512d t4 = _mm512_unpacklo_pd(_mm512_castps_pd(v[4]), _mm512_castps_pd(v[5]));
    __m512d t5 = _mm512_unpackhi_pd(_mm512_castps_pd(v[4]), _mm512_castps_pd(v[5]));
    __m512d t6 = _mm512_unpacklo_pd(_mm512_castps_pd(v[6]), _mm512_castps_pd(v[7]));
    __m512d t7 = _mm512_unpackhi_pd(_mm512_castps_pd(v[6]), _mm512_castps_pd(v[7]));
    /* u_c: rows 0..3 (or 4..7) of columns c and c + 4 */
    __m512d u0 = _mm512_permutex2var_pd(t0, lo, t2), u2 = _mm512_permutex2var_pd(t0, hi, t2);
    __m512d u1 = _mm512_permutex2var_pd(t1, lo, t3), u3 = _mm512_permutex2var_pd(t1, hi, t3);
    __m512d u4 = _mm512_permutex2var_pd(t4, lo, t6), u6 = _mm512_permutex2var_pd(t4, hi, t6);
    __m512d u5 = _mm512_permutex2var_pd(t5, lo, t7), u7 = _mm512_permutex2var_pd(t5, hi, t7);
    v[0] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u0, u4, 0x44));
    v[4] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u0, u4, 0xEE));
    v[1] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u1, u5, 0x44));
    v[5] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u1, u5, 0xEE));
    v[2] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u2, u6, 0x44));
    v[6] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u2, u6, 0xEE));
    v[3] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u3, u7, 0x44));
    v[7] = _mm512_castpd_ps(_mm512_shuffle_f64x2(u3, u7, 0xEE));
}
/* lo = x0 y0 x1 y1 .., hi = the rest (complex lanes of x and y interleaved) */
MV__FFT_INL void MV__SFX(mv__fc_zip)(mv__fc x, mv__fc y, mv__fc *lo, mv__fc *hi)
{
    const __m512i il = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), ih = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    *lo = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(x), il, _mm512_castps_pd(y)));
    *hi = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(x), ih, _mm512_castps_pd(y)));
}
MV__FFT_INL void MV__SFX(mv__fc_unzip)(mv__fc lo, mv__fc hi, mv__fc *x, mv__fc *y)
{
    const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), io = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    *x = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(lo), ie, _mm512_castps_pd(hi)));
    *y = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(lo), io, _mm512_castps_pd(hi)));
}
/* (a0 b0 a1 b1 ..): two real rows as the (re, im) of one complex row */
MV__FFT_INL mv__fc MV__SFX(mv__fc_from_halves)(mv__fh a, mv__fh b)
{
    const __m512i idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    return _mm512_permutex2var_ps(_mm512_castps256_ps512(a), idx, _mm512_castps256_ps512(b));
}
MV__FFT_INL void MV__SFX(mv__fc_to_halves)(mv__fc v, mv__fh *a, mv__fh *b)
{
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
    *a = _mm512_castps512_ps256(_mm512_permutexvar_ps(ie, v));
    *b = _mm512_castps512_ps256(_mm512_permutexvar_ps(io, v));
}

#elif defined(MV__PASS_AVX2)
#define mv__fc __m256
#define mv__fh __m128
#define MV__FCL 4
#define MV__FFT_INL MV__INLINE MV__TARGET_AVX2
#define mv__fc_ld(p) _mm256_loadu_ps(p)
#define mv__fc_st(p, v) _mm256_storeu_ps((p), (v))
#define mv__fc_set1(x) _mm256_set1_ps(x)
#define mv__fc_zero() _mm256_setzero_ps()
#define mv__fc_add(a, b) _mm256_add_ps((a), (b))
#define mv__fc_sub(a, b) _mm256_sub_ps((a), (b))
#define mv__fc_mul(a, b) _mm256_mul_ps((a), (b))
#define mv__fc_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define mv__fc_fnma(a, b, c) _mm256_fnmadd_ps((a), (b), (c))
#define mv__fc_swap(a) _mm256_permute_ps((a), 0xB1)
#define mv__fc_xor(a, m) _mm256_xor_ps((a), (m))
#define mv__fc_and(a, m) _mm256_and_ps((a), (m))
#define mv__fc_sign_re() _mm256_castsi256_ps(_mm256_set1_epi64x(0x80000000LL))
#define mv__fc_sign_im() _mm256_castsi256_ps(_mm256_set1_epi64x(INT64_MIN))
#define mv__fc_re_only() _mm256_castsi256_ps(_mm256_set1_epi64x(0xFFFFFFFFLL))
#define mv__fc_twi(x) _mm256_set1_ps(x)
#define mv__fc_cmulw(a, wr, wi) _mm256_fmaddsub_ps((a), (wr), _mm256_mul_ps(mv__fc_swap(a), (wi)))
#define mv__fh_ld(p) _mm_loadu_ps(p)
#define mv__fh_st(p, v) _mm_storeu_ps((p), (v))

/* 4 x 4 complex transpose */
MV__FFT_INL void MV__SFX(mv__fc_transpose)(mv__fc *v)
{
    __m256d t0 = _mm256_unpacklo_pd(_mm256_castps_pd(v[0]), _mm256_castps_pd(v[1]));
    __m256d t1 = _mm256_unpackhi_pd(_mm256_castps_pd(v[0]), _mm256_castps_pd(v[1]));
    __m256d t2 = _mm256_unpacklo_pd(_mm256_castps_pd(v[2]), _mm256_castps_pd(v[3]));
    __m256d t3 = _mm256_unpackhi_pd(_mm256_castps_pd(v[2]), _mm256_castps_pd(v[3]));
    v[0] = _mm256_castpd_ps(_mm256_permute2f128_pd(t0, t2, 0x20));
    v[1] = _mm256_castpd_ps(_mm256_permute2f128_pd(t1, t3, 0x20));
    v[2] = _mm256_castpd_ps(_mm256_permute2f128_pd(t0, t2, 0x31));
    v[3] = _mm256_castpd_ps(_mm256_permute2f128_pd(t1, t3, 0x31));
}
MV__FFT_INL void MV__SFX(mv__fc_zip)(mv__fc x, mv__fc y, mv__fc *lo, mv__fc *hi)
{
    __m256d a = _mm256_unpacklo_pd(_mm256_castps_pd(x), _mm256_castps_pd(y)); /* x0 y0 x2 y2 */
    __m256d b = _mm256_unpackhi_pd(_mm256_castps_pd(x), _mm256_castps_pd(y)); /* x1 y1 x3 y3 */
    *lo = _mm256_castpd_ps(_mm256_permute2f128_pd(a, b, 0x20));
    *hi = _mm256_castpd_ps(_mm256_permute2f128_pd(a, b, 0x31));
}
MV__FFT_INL void MV__SFX(mv__fc_unzip)(mv__fc lo, mv__fc hi, mv__fc *x, mv__fc *y)
{
    __m256d a = _mm256_permute2f128_pd(_mm256_castps_pd(lo), _mm256_castps_pd(hi), 0x20); /* x0 y0 x2 y2 */
    __m256d b = _mm256_permute2f128_pd(_mm256_castps_pd(lo), _mm256_castps_pd(hi), 0x31); /* x1 y1 x3 y3 */
    *x = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
    *y = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
}
MV__FFT_INL mv__fc MV__SFX(mv__fc_from_halves)(mv__fh a, mv__fh b)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_unpacklo_ps(a, b)), _mm_unpackhi_ps(a, b), 1);
}
MV__FFT_INL void MV__SFX(mv__fc_to_halves)(mv__fc v, mv__fh *a, mv__fh *b)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    *a = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    *b = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}

#elif defined(MV__PASS_SSE2)
#define mv__fc __m128
#define mv__fh __m128 /* the low two floats */
#define MV__FCL 2
#define MV__FFT_INL MV__INLINE MV__TARGET_SSE2
#define mv__fc_ld(p) _mm_loadu_ps(p)
#define mv__fc_st(p, v) _mm_storeu_ps((p), (v))
#define mv__fc_set1(x) _mm_set1_ps(x)
#define mv__fc_zero() _mm_setzero_ps()
#define mv__fc_add(a, b) _mm_add_ps((a), (b))
#define mv__fc_sub(a, b) _mm_sub_ps((a), (b))
#define mv__fc_mul(a, b) _mm_mul_ps((a), (b))
#define mv__fc_fma(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c)) /* no FMA in SSE2 */
#define mv__fc_fnma(a, b, c) _mm_sub_ps((c), _mm_mul_ps((a), (b)))
#define mv__fc_swap(a) _mm_shuffle_ps((a), (a), 0xB1)
#define mv__fc_xor(a, m) _mm_xor_ps((a), (m))
#define mv__fc_and(a, m) _mm_and_ps((a), (m))
#define mv__fc_sign_re() _mm_castsi128_ps(_mm_set_epi32(0, INT32_MIN, 0, INT32_MIN))
#define mv__fc_sign_im() _mm_castsi128_ps(_mm_set_epi32(INT32_MIN, 0, INT32_MIN, 0))
#define mv__fc_re_only() _mm_castsi128_ps(_mm_set_epi32(0, -1, 0, -1))
/* without fmaddsub the sign goes into the twiddle: (-wi, wi) */
#define mv__fc_twi(x) _mm_xor_ps(_mm_set1_ps(x), mv__fc_sign_re())
#define mv__fc_cmulw(a, wr, wi) _mm_add_ps(_mm_mul_ps((a), (wr)), _mm_mul_ps(mv__fc_swap(a), (wi)))
#define mv__fh_ld(p) _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(const void *)(p))
#define mv__fh_st(p, v) _mm_storel_pi((__m64 *)(void *)(p), (v))

MV__FFT_INL void MV__SFX(mv__fc_transpose)(mv__fc *v)
{
    __m128 a = v[0], b = v[1];
    v[0] = _mm_movelh_ps(a, b);
    v[1] = _mm_movehl_ps(b, a);
}
MV__FFT_INL void MV__SFX(mv__fc_zip)(mv__fc x, mv__fc y, mv__fc *lo, mv__fc *hi)
{
    *lo = _mm_movelh_ps(x, y);
    *hi = _mm_movehl_ps(y, x);
}
MV__FFT_INL void MV__SFX(mv__fc_unzip)(mv__fc lo, mv__fc hi, mv__fc *x, mv__fc *y)
{
    *x = _mm_movelh_ps(lo, hi);
    *y = _mm_movehl_ps(hi, lo);
}
MV__FFT_INL mv__fc MV__SFX(mv__fc_from_halves)(mv__fh a, mv__fh b) { return _mm_unpacklo_ps(a, b); }
MV__FFT_INL void MV__SFX(mv__fc_to_halves)(mv__fc v, mv__fh *a, mv__fh *b)
{
    *a = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 0, 2, 0));
    *b = _mm_shuffle_ps(v, v, _MM_SHUFFLE(3, 1, 3, 1));
}

#elif defined(MV__PASS_NEON)
#define mv__fc float32x4_t
#define mv__fh float32x2_t
#define MV__FCL 2
#define MV__FFT_INL MV__INLINE
#define mv__fc_ld(p) vld1q_f32(p)
#define mv__fc_st(p, v) vst1q_f32((p), (v))
#define mv__fc_set1(x) vdupq_n_f32(x)
#define mv__fc_zero() vdupq_n_f32(0.0f)
#define mv__fc_add(a, b) vaddq_f32((a), (b))
#define mv__fc_sub(a, b) vsubq_f32((a), (b))
#define mv__fc_mul(a, b) vmulq_f32((a), (b))
#define mv__fc_fma(a, b, c) vfmaq_f32((c), (a), (b))
#define mv__fc_fnma(a, b, c) vfmsq_f32((c), (a), (b))
#define mv__fc_swap(a) vrev64q_f32(a)
#define mv__fc_xor(a, m) vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(m)))
#define mv__fc_and(a, m) vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(m)))
#define mv__fc_sign_re() vreinterpretq_f32_u64(vdupq_n_u64(0x80000000ull))
#define mv__fc_sign_im() vreinterpretq_f32_u64(vdupq_n_u64(0x8000000000000000ull))
#define mv__fc_re_only() vreinterpretq_f32_u64(vdupq_n_u64(0xFFFFFFFFull))
#define mv__fc_twi(x) mv__fc_xor(vdupq_n_f32(x), mv__fc_sign_re())
#define mv__fc_cmulw(a, wr, wi) vfmaq_f32(vmulq_f32((a), (wr)), mv__fc_swap(a), (wi))
#define mv__fh_ld(p) vld1_f32(p)
#define mv__fh_st(p, v) vst1_f32((p), (v))

MV__FFT_INL void MV__SFX(mv__fc_transpose)(mv__fc *v)
{
    float64x2_t a = vreinterpretq_f64_f32(v[0]), b = vreinterpretq_f64_f32(v[1]);
    v[0] = vreinterpretq_f32_f64(vzip1q_f64(a, b));
    v[1] = vreinterpretq_f32_f64(vzip2q_f64(a, b));
}
MV__FFT_INL void MV__SFX(mv__fc_zip)(mv__fc x, mv__fc y, mv__fc *lo, mv__fc *hi)
{
    *lo = vreinterpretq_f32_f64(vzip1q_f64(vreinterpretq_f64_f32(x), vreinterpretq_f64_f32(y)));
    *hi = vreinterpretq_f32_f64(vzip2q_f64(vreinterpretq_f64_f32(x), vreinterpretq_f64_f32(y)));
}
MV__FFT_INL void MV__SFX(mv__fc_unzip)(mv__fc lo, mv__fc hi, mv__fc *x, mv__fc *y)
{
    MV__SFX(mv__fc_zip)(lo, hi, x, y); /* a 2 x 2 transpose is its own inverse */
}
MV__FFT_INL mv__fc MV__SFX(mv__fc_from_halves)(mv__fh a, mv__fh b) { return vzip1q_f32(vcombine_f32(a, a), vcombine_f32(b, b)); }
MV__FFT_INL void MV__SFX(mv__fc_to_halves)(mv__fc v, mv__fh *a, mv__fh *b)
{
    *a = vget_low_f32(vuzp1q_f32(v, v));
    *b = vget_low_f32(vuzp2q_f32(v, v));
}
#endif

#define MV__FFT_FN MV__FN
#define MV__FV (2 * MV__FCL) /* floats per complex vector */

/* ---- small complex helpers ---- */

/* multiplies by sign*i, the quarter turn of the transform's direction:
   rot is mv__fc_sign_im() for sign -1 ((re,im) -> (im,-re)), sign_re() for +1 */
#define mv__fc_rot(a, rot) mv__fc_xor(mv__fc_swap(a), (rot))

/* tw[2k], tw[2k+1]: real and prepared imaginary twiddle k+1 (as loaded by
   mv__fft_load_tw); tw[0] is the scale for MV__FFT_SCALE */
MV__FFT_INL mv__fc MV__SFX(mv__fft_finish)(mv__fc y, const mv__fc *tw, int k, int mode)
{
    if (mode == MV__FFT_TWIDDLE && k > 0) return mv__fc_cmulw(y, tw[2 * k - 2], tw[2 * k - 1]);
    if (mode == MV__FFT_SCALE) return mv__fc_mul(y, tw[0]);
    return y;
}

/* broadcasts the p-1 twiddles of butterfly row j1 (or the scale) */
MV__FFT_INL int MV__SFX(mv__fft_load_tw)(const mv__fft_pass_args *pa, ptrdiff_t j1, mv__fc *tw)
{
    int p = pa->st->p, k;
    if (j1 == 0) {
        tw[0] = mv__fc_set1(pa->scale);
        return pa->scale != 1.0f ? MV__FFT_SCALE : MV__FFT_PLAIN;
    }
    {
        const float *t = pa->st->tw + (size_t)2 * (size_t)(p - 1) * (size_t)j1;
        for (k = 0; k < p - 1; k++) {
            tw[2 * k] = mv__fc_set1(t[2 * k]);
            tw[2 * k + 1] = mv__fc_twi(t[2 * k + 1]);
        }
    }
    return MV__FFT_TWIDDLE;
}

/* ---- butterflies: read p vectors dj floats apart from a, write p vectors
   dk floats apart to b (all loads before any store: in place is safe) ---- */

MV__FFT_INL void MV__SFX(mv__fft_bfly2)(const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk, const mv__fc *tw, mv__fc rot, int mode)
{
    mv__fc x0 = mv__fc_ld(a), x1 = mv__fc_ld(a + dj);
    (void)rot;
    mv__fc_st(b, MV__SFX(mv__fft_finish)(mv__fc_add(x0, x1), tw, 0, mode));
    mv__fc_st(b + dk, MV__SFX(mv__fft_finish)(mv__fc_sub(x0, x1), tw, 1, mode));
}

MV__FFT_INL void MV__SFX(mv__fft_bfly3)(const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk, const mv__fc *tw, mv__fc rot, int mode)
{
    const mv__fc half = mv__fc_set1(0.5f), s3 = mv__fc_set1(0.86602540378443864676f);
    mv__fc x0 = mv__fc_ld(a), x1 = mv__fc_ld(a + dj), x2 = mv__fc_ld(a + 2 * dj);
    mv__fc t = mv__fc_add(x1, x2), d = mv__fc_rot(mv__fc_mul(mv__fc_sub(x1, x2), s3), rot);
    mv__fc r = mv__fc_fnma(t, half, x0);
    mv__fc_st(b, MV__SFX(mv__fft_finish)(mv__fc_add(x0, t), tw, 0, mode));
    mv__fc_st(b + dk, MV__SFX(mv__fft_finish)(mv__fc_add(r, d), tw, 1, mode));
    mv__fc_st(b + 2 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(r, d), tw, 2, mode));
}

MV__FFT_INL void MV__SFX(mv__fft_bfly4)(const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk, const mv__fc *tw, mv__fc rot, int mode)
{
    mv__fc x0 = mv__fc_ld(a), x1 = mv__fc_ld(a + dj), x2 = mv__fc_ld(a + 2 * dj), x3 = mv__fc_ld(a + 3 * dj);
    mv__fc e0 = mv__fc_add(x0, x2), e1 = mv__fc_sub(x0, x2);
    mv__fc f0 = mv__fc_add(x1, x3), f1 = mv__fc_rot(mv__fc_sub(x1, x3), rot);
    mv__fc_st(b, MV__SFX(mv__fft_finish)(mv__fc_add(e0, f0), tw, 0, mode));
    mv__fc_st(b + dk, MV__SFX(mv__fft_finish)(mv__fc_add(e1, f1), tw, 1, mode));
    mv__fc_st(b + 2 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(e0, f0), tw, 2, mode));
    mv__fc_st(b + 3 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(e1, f1), tw, 3, mode));
}

MV__FFT_INL void MV__SFX(mv__fft_bfly5)(const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk, const mv__fc *tw, mv__fc rot, int mode)
{
    const mv__fc c1 = mv__fc_set1(0.30901699437494742410f), c2 = mv__fc_set1(-0.80901699437494742410f);
    const mv__fc s1 = mv__fc_set1(0.95105651629515357212f), s2 = mv__fc_set1(0.58778525229247312917f);
    mv__fc x0 = mv__fc_ld(a), x1 = mv__fc_ld(a + dj), x2 = mv__fc_ld(a + 2 * dj);
    mv__fc x3 = mv__fc_ld(a + 3 * dj), x4 = mv__fc_ld(a + 4 * dj);
    mv__fc t1 = mv__fc_add(x1, x4), t2 = mv__fc_add(x2, x3), d1 = mv__fc_sub(x1, x4), d2 = mv__fc_sub(x2, x3);
    mv__fc r1 = mv__fc_fma(t2, c2, mv__fc_fma(t1, c1, x0)), r2 = mv__fc_fma(t2, c1, mv__fc_fma(t1, c2, x0));
    mv__fc i1 = mv__fc_rot(mv__fc_fma(d2, s2, mv__fc_mul(d1, s1)), rot);
    mv__fc i2 = mv__fc_rot(mv__fc_fnma(d2, s1, mv__fc_mul(d1, s2)), rot);
    mv__fc_st(b, MV__SFX(mv__fft_finish)(mv__fc_add(x0, mv__fc_add(t1, t2)), tw, 0, mode));
    mv__fc_st(b + dk, MV__SFX(mv__fft_finish)(mv__fc_add(r1, i1), tw, 1, mode));
    mv__fc_st(b + 2 * dk, MV__SFX(mv__fft_finish)(mv__fc_add(r2, i2), tw, 2, mode));
    mv__fc_st(b + 3 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(r2, i2), tw, 3, mode));
    mv__fc_st(b + 4 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(r1, i1), tw, 4, mode));
}

MV__FFT_INL void MV__SFX(mv__fft_bfly7)(const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk, const mv__fc *tw, mv__fc rot, int mode)
{
    const mv__fc c1 = mv__fc_set1(0.62348980185873353053f), c2 = mv__fc_set1(-0.22252093395631440429f);
    const mv__fc c3 = mv__fc_set1(-0.90096886790241912624f);
    const mv__fc s1 = mv__fc_set1(0.78183148246802980871f), s2 = mv__fc_set1(0.97492791218182360702f);
    const mv__fc s3 = mv__fc_set1(0.43388373911755812048f);
    mv__fc x0 = mv__fc_ld(a), x1 = mv__fc_ld(a + dj), x2 = mv__fc_ld(a + 2 * dj), x3 = mv__fc_ld(a + 3 * dj);
    mv__fc x4 = mv__fc_ld(a + 4 * dj), x5 = mv__fc_ld(a + 5 * dj), x6 = mv__fc_ld(a + 6 * dj);
    mv__fc t1 = mv__fc_add(x1, x6), t2 = mv__fc_add(x2, x5), t3 = mv__fc_add(x3, x4);
    mv__fc d1 = mv__fc_sub(x1, x6), d2 = mv__fc_sub(x2, x5), d3 = mv__fc_sub(x3, x4);
    /* y_k = x0 + sum_j cos(2 pi jk/7) t_j  +-  rot(sum_j sin(2 pi jk/7) d_j) */
    mv__fc r1 = mv__fc_fma(t3, c3, mv__fc_fma(t2, c2, mv__fc_fma(t1, c1, x0)));
    mv__fc r2 = mv__fc_fma(t3, c1, mv__fc_fma(t2, c3, mv__fc_fma(t1, c2, x0)));
    mv__fc r3 = mv__fc_fma(t3, c2, mv__fc_fma(t2, c1, mv__fc_fma(t1, c3, x0)));
    mv__fc i1 = mv__fc_rot(mv__fc_fma(d3, s3, mv__fc_fma(d2, s2, mv__fc_mul(d1, s1))), rot);
    mv__fc i2 = mv__fc_rot(mv__fc_fnma(d3, s1, mv__fc_fnma(d2, s3, mv__fc_mul(d1, s2))), rot);
    mv__fc i3 = mv__fc_rot(mv__fc_fma(d3, s2, mv__fc_fnma(d2, s1, mv__fc_mul(d1, s3))), rot);
    mv__fc_st(b, MV__SFX(mv__fft_finish)(mv__fc_add(x0, mv__fc_add(t1, mv__fc_add(t2, t3))), tw, 0, mode));
    mv__fc_st(b + dk, MV__SFX(mv__fft_finish)(mv__fc_add(r1, i1), tw, 1, mode));
    mv__fc_st(b + 2 * dk, MV__SFX(mv__fft_finish)(mv__fc_add(r2, i2), tw, 2, mode));
    mv__fc_st(b + 3 * dk, MV__SFX(mv__fft_finish)(mv__fc_add(r3, i3), tw, 3, mode));
    mv__fc_st(b + 4 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(r3, i3), tw, 4, mode));
    mv__fc_st(b + 5 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(r2, i2), tw, 5, mode));
    mv__fc_st(b + 6 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(r1, i1), tw, 6, mode));
}

/* radix 8 = radix 2 on (x_j, x_j+4), then two radix-4s, the odd one on
   inputs turned by the eighth roots w8^j */
MV__FFT_INL void MV__SFX(mv__fft_bfly8)(const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk, const mv__fc *tw, mv__fc rot, int mode)
{
    const mv__fc h = mv__fc_set1(0.70710678118654752440f);
    mv__fc x0 = mv__fc_ld(a), x1 = mv__fc_ld(a + dj), x2 = mv__fc_ld(a + 2 * dj), x3 = mv__fc_ld(a + 3 * dj);
    mv__fc x4 = mv__fc_ld(a + 4 * dj), x5 = mv__fc_ld(a + 5 * dj), x6 = mv__fc_ld(a + 6 * dj), x7 = mv__fc_ld(a + 7 * dj);
    mv__fc u0 = mv__fc_add(x0, x4), u1 = mv__fc_add(x1, x5), u2 = mv__fc_add(x2, x6), u3 = mv__fc_add(x3, x7);
    mv__fc v0 = mv__fc_sub(x0, x4), v1 = mv__fc_sub(x1, x5), v2 = mv__fc_sub(x2, x6), v3 = mv__fc_sub(x3, x7);
    mv__fc e0, e1, f0, f1;
    v2 = mv__fc_rot(v2, rot);                                  /* v2 * w8^2 */
    v1 = mv__fc_mul(mv__fc_add(v1, mv__fc_rot(v1, rot)), h);  /* v1 * w8 */
    v3 = mv__fc_mul(mv__fc_sub(mv__fc_rot(v3, rot), v3), h);  /* v3 * w8^3 */
    e0 = mv__fc_add(u0, u2), e1 = mv__fc_sub(u0, u2);
    f0 = mv__fc_add(u1, u3), f1 = mv__fc_rot(mv__fc_sub(u1, u3), rot);
    mv__fc_st(b, MV__SFX(mv__fft_finish)(mv__fc_add(e0, f0), tw, 0, mode));
    mv__fc_st(b + 2 * dk, MV__SFX(mv__fft_finish)(mv__fc_add(e1, f1), tw, 2, mode));
    mv__fc_st(b + 4 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(e0, f0), tw, 4, mode));
    mv__fc_st(b + 6 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(e1, f1), tw, 6, mode));
    e0 = mv__fc_add(v0, v2), e1 = mv__fc_sub(v0, v2);
    f0 = mv__fc_add(v1, v3), f1 = mv__fc_rot(mv__fc_sub(v1, v3), rot);
    mv__fc_st(b + dk, MV__SFX(mv__fft_finish)(mv__fc_add(e0, f0), tw, 1, mode));
    mv__fc_st(b + 3 * dk, MV__SFX(mv__fft_finish)(mv__fc_add(e1, f1), tw, 3, mode));
    mv__fc_st(b + 5 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(e0, f0), tw, 5, mode));
    mv__fc_st(b + 7 * dk, MV__SFX(mv__fft_finish)(mv__fc_sub(e1, f1), tw, 7, mode));
}

/* any odd radix p <= MV__FFT_GENERIC_MAX: pairs (x_j, x_p-j) as sums t_j and
   differences d_j, then y_k, y_p-k = x0 + sum cos(2 pi jk/p) t_j +- rot(sum sin d_j).
   Twiddles are read from memory here: there are too many for registers. */
MV__FFT_INL void MV__SFX(mv__fft_bflyg)(const mv__fft_pass_args *pa, const float *a, ptrdiff_t dj, float *b, ptrdiff_t dk,
                                        ptrdiff_t j1, mv__fc rot)
{
    const int p = pa->st->p, h = (p - 1) / 2;
    const float *roots = pa->st->roots, *twr = pa->st->tw + (size_t)2 * (size_t)(p - 1) * (size_t)j1;
    mv__fc t[MV__FFT_GENERIC_MAX / 2], d[MV__FFT_GENERIC_MAX / 2], x0 = mv__fc_ld(a), y0 = x0;
    int j, k;
    for (j = 1; j <= h; j++) {
        mv__fc xa = mv__fc_ld(a + j * dj), xb = mv__fc_ld(a + (p - j) * dj);
        t[j - 1] = mv__fc_add(xa, xb);
        d[j - 1] = mv__fc_sub(xa, xb);
        y0 = mv__fc_add(y0, t[j - 1]);
    }
    for (k = 1; k <= h; k++) {
        mv__fc r = x0, im = mv__fc_zero(), yk, ypk;
        int q = 0;
        for (j = 1; j <= h; j++) {
            q += k;
            if (q >= p) q -= p;
            r = mv__fc_fma(t[j - 1], mv__fc_set1(roots[2 * q]), r);
            im = mv__fc_fma(d[j - 1], mv__fc_set1(roots[2 * q + 1]), im);
        }
        im = mv__fc_rot(im, rot);
        yk = mv__fc_add(r, im);
        ypk = mv__fc_sub(r, im);
        if (j1 > 0) {
            yk = mv__fc_cmulw(yk, mv__fc_set1(twr[2 * (k - 1)]), mv__fc_twi(twr[2 * (k - 1) + 1]));
            ypk = mv__fc_cmulw(ypk, mv__fc_set1(twr[2 * (p - k - 1)]), mv__fc_twi(twr[2 * (p - k - 1) + 1]));
        } else if (pa->scale != 1.0f) {
            yk = mv__fc_mul(yk, mv__fc_set1(pa->scale));
            ypk = mv__fc_mul(ypk, mv__fc_set1(pa->scale));
        }
        mv__fc_st(b + k * dk, yk);
        mv__fc_st(b + (p - k) * dk, ypk);
    }
    if (j1 == 0 && pa->scale != 1.0f) y0 = mv__fc_mul(y0, mv__fc_set1(pa->scale));
    mv__fc_st(b, y0);
}

/* ---- passes: one Stockham stage over a bundle of w vectors per element ----
   Butterfly (j1, s) reads elements (j1 + m1*j)*L + s, j < p, and writes
   elements (j1*p + k)*L + s, k < p. One function per radix so each loop nest
   holds its butterfly inline; the row loops are stamped three times (plain,
   twiddled, scaled) so the choice is made once per row, not per butterfly. */
#define MV__FFT_DEFINE_PASS(P, BFLY)                                                                                \
    MV__FFT_INL void MV__SFX(mv__fft_row##P)(const mv__fft_pass_args *pa, ptrdiff_t j1, const mv__fc *tw, mv__fc rot, \
                                             int mode)                                                              \
    {                                                                                                               \
        const ptrdiff_t L = pa->st->L, dj = pa->st->m1 * L * pa->is, dk = L * pa->os;                               \
        ptrdiff_t s;                                                                                                \
        int c;                                                                                                      \
        for (s = 0; s < L; s++) {                                                                                   \
            const float *a = pa->in + (j1 * L + s) * pa->is;                                                        \
            float *b = pa->out + (j1 * P * L + s) * pa->os;                                                         \
            for (c = 0; c < pa->w; c++) BFLY(a + c * MV__FV, dj, b + c * MV__FV, dk, tw, rot, mode);                \
        }                                                                                                           \
    }                                                                                                               \
    MV__FFT_FN void MV__SFX(mv__fft_pass##P)(const mv__fft_pass_args *pa)                                           \
    {                                                                                                               \
        mv__fc tw[2 * (P - 1)], rot = pa->sign < 0 ? mv__fc_sign_im() : mv__fc_sign_re();                          \
        ptrdiff_t j1;                                                                                               \
        for (j1 = 0; j1 < pa->st->m1; j1++) {                                                                       \
            int mode = MV__SFX(mv__fft_load_tw)(pa, j1, tw);                                                        \
            if (mode == MV__FFT_TWIDDLE) MV__SFX(mv__fft_row##P)(pa, j1, tw, rot, MV__FFT_TWIDDLE);                 \
            else if (mode == MV__FFT_SCALE) MV__SFX(mv__fft_row##P)(pa, j1, tw, rot, MV__FFT_SCALE);                \
            else MV__SFX(mv__fft_row##P)(pa, j1, tw, rot, MV__FFT_PLAIN);                                           \
        }                                                                                                           \
    }
MV__FFT_DEFINE_PASS(2, MV__SFX(mv__fft_bfly2))
MV__FFT_DEFINE_PASS(3, MV__SFX(mv__fft_bfly3))
MV__FFT_DEFINE_PASS(4, MV__SFX(mv__fft_bfly4))
MV__FFT_DEFINE_PASS(5, MV__SFX(mv__fft_bfly5))
MV__FFT_DEFINE_PASS(7, MV__SFX(mv__fft_bfly7))
MV__FFT_DEFINE_PASS(8, MV__SFX(mv__fft_bfly8))
#undef MV__FFT_DEFINE_PASS

MV__FFT_FN void MV__SFX(mv__fft_passg)(const mv__fft_pass_args *pa)
{
    const ptrdiff_t m1 = pa->st->m1, L = pa->st->L, dj = m1 * L * pa->is, dk = L * pa->os;
    const int p = pa->st->p;
    mv__fc rot = pa->sign < 0 ? mv__fc_sign_im() : mv__fc_sign_re();
    ptrdiff_t j1, s;
    int c;
    for (j1 = 0; j1 < m1; j1++)
        for (s = 0; s < L; s++) {
            const float *a = pa->in + (j1 * L + s) * pa->is;
            float *b = pa->out + (j1 * p * L + s) * pa->os;
            for (c = 0; c < pa->w; c++) MV__SFX(mv__fft_bflyg)(pa, a + c * MV__FV, dj, b + c * MV__FV, dk, j1, rot);
        }
}

/* ---- one line (a bundle of w vectors per element) through all stages ---- */

/* n == 1: the transform is the identity (times the scale) */
MV__FFT_INL void MV__SFX(mv__fft_copy_scaled)(const float *src, float *dst, int w, float scale)
{
    const mv__fc sv = mv__fc_set1(scale);
    int c;
    for (c = 0; c < w; c++) mv__fc_st(dst + c * MV__FV, mv__fc_mul(mv__fc_ld(src + c * MV__FV), sv));
}

MV__FFT_FN void MV__SFX(mv__fft_pass_any)(const mv__fft_pass_args *pa)
{
    switch (pa->st->p) {
    case 2: MV__SFX(mv__fft_pass2)(pa); break;
    case 3: MV__SFX(mv__fft_pass3)(pa); break;
    case 4: MV__SFX(mv__fft_pass4)(pa); break;
    case 5: MV__SFX(mv__fft_pass5)(pa); break;
    case 7: MV__SFX(mv__fft_pass7)(pa); break;
    case 8: MV__SFX(mv__fft_pass8)(pa); break;
    default: MV__SFX(mv__fft_passg)(pa); break;
    }
}

/* src (element stride is floats) -> dst (stride os) through the stages,
   ping-ponging between t0 and t1 (n*w vectors each); src == dst is fine */
MV__FFT_FN void MV__SFX(mv__fft_stockham)(const mv__fft_line *ln, const float *src, ptrdiff_t is, float *dst, ptrdiff_t os,
                                           int w, float scale, float *t0, float *t1)
{
    const ptrdiff_t cv = (ptrdiff_t)w * MV__FV;
    mv__fft_pass_args pa;
    int i, S = ln->n_stages;
    if (S == 0) {
        MV__SFX(mv__fft_copy_scaled)(src, dst, w, scale);
        return;
    }
    pa.w = w;
    pa.sign = ln->sign;
    for (i = 0; i < S; i++) {
        pa.st = &ln->st[i];
        pa.in = i == 0 ? src : (i & 1) ? t0 : t1;
        pa.is = i == 0 ? is : cv;
        pa.out = i == S - 1 ? dst : (i & 1) ? t1 : t0;
        pa.os = i == S - 1 ? os : cv;
        pa.scale = i == S - 1 ? scale : 1.0f;
        MV__SFX(mv__fft_pass_any)(&pa);
    }
}

/* Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c_(k-j)), c_j = exp(sign i pi j^2/n),
   the convolution done with FFTs of length bm (2,3,5-smooth, >= 2n-1).
   The inverse FFT is conj(FFT(conj(.))); 1/bm is folded into bk. */
MV__FFT_FN void MV__SFX(mv__fft_bluestein)(const mv__fft_line *ln, const float *src, ptrdiff_t is, float *dst, ptrdiff_t os,
                                            int w, float scale, float *work)
{
    const ptrdiff_t n = ln->n, m = ln->bm, cv = (ptrdiff_t)w * MV__FV;
    float *A = work, *B = A + m * cv, *T0 = B + m * cv, *T1 = T0 + m * cv;
    const mv__fc conj = mv__fc_sign_im(), sv = mv__fc_set1(scale);
    ptrdiff_t j;
    int c;
    for (j = 0; j < n; j++) {
        mv__fc cr = mv__fc_set1(ln->chirp[2 * j]), ci = mv__fc_twi(ln->chirp[2 * j + 1]);
        for (c = 0; c < w; c++) mv__fc_st(A + j * cv + c * MV__FV, mv__fc_cmulw(mv__fc_ld(src + j * is + c * MV__FV), cr, ci));
    }
    for (j = n * cv; j < m * cv; j += MV__FV) mv__fc_st(A + j, mv__fc_zero());
    MV__SFX(mv__fft_stockham)(ln->sub, A, cv, B, cv, w, 1.0f, T0, T1);
    for (j = 0; j < m; j++) {
        mv__fc br = mv__fc_set1(ln->bk[2 * j]), bi = mv__fc_twi(ln->bk[2 * j + 1]);
        for (c = 0; c < w; c++) {
            float *p = B + j * cv + c * MV__FV;
            mv__fc_st(p, mv__fc_xor(mv__fc_cmulw(mv__fc_ld(p), br, bi), conj));
        }
    }
    MV__SFX(mv__fft_stockham)(ln->sub, B, cv, A, cv, w, 1.0f, T0, T1);
    for (j = 0; j < n; j++) {
        mv__fc cr = mv__fc_mul(mv__fc_set1(ln->chirp[2 * j]), sv), ci = mv__fc_twi(ln->chirp[2 * j + 1] * scale);
        for (c = 0; c < w; c++)
            mv__fc_st(dst + j * os + c * MV__FV, mv__fc_cmulw(mv__fc_xor(mv__fc_ld(A + j * cv + c * MV__FV), conj), cr, ci));
    }
}

MV__FFT_INL void MV__SFX(mv__fft_line_run)(const mv__fft_line *ln, const float *src, ptrdiff_t is, float *dst, ptrdiff_t os,
                                           int w, float scale, float *work)
{
    if (ln->bm) MV__SFX(mv__fft_bluestein)(ln, src, is, dst, os, w, scale, work);
    else MV__SFX(mv__fft_stockham)(ln, src, is, dst, os, w, scale, work, work + ln->n * w * MV__FV);
}

/* The line's transform of a vector buffer A (n + 2 vectors), ping-ponging
   with B: returns whichever of the two holds the result. Two buffers instead
   of three keep a 256-long line (16 KiB a buffer on AVX-512) inside L1. */
MV__FFT_FN float *MV__SFX(mv__fft_line_inbuf)(const mv__fft_line *ln, float *A, float *B, float scale, float *work)
{
    mv__fft_pass_args pa;
    int i, S = ln->n_stages;
    if (ln->bm || S == 0) {
        MV__SFX(mv__fft_line_run)(ln, A, MV__FV, A, MV__FV, 1, scale, work);
        return A;
    }
    pa.w = 1;
    pa.sign = ln->sign;
    pa.is = pa.os = MV__FV;
    for (i = 0; i < S; i++) {
        pa.st = &ln->st[i];
        pa.in = (i & 1) ? B : A;
        pa.out = (i & 1) ? A : B;
        pa.scale = i == S - 1 ? scale : 1.0f;
        MV__SFX(mv__fft_pass_any)(&pa);
    }
    return (S & 1) ? B : A;
}

/* ---- real <-> half-complex: two real lines x, y ride as z = x + i y ---- */

/* X_k = (Z_k + conj Z_n-k)/2, Y_k = (Z_k - conj Z_n-k)/(2i), times scale */
MV__FFT_INL void MV__SFX(mv__fft_split)(mv__fc zk, mv__fc znk, mv__fc half_scale, mv__fc *x, mv__fc *y)
{
    mv__fc b = mv__fc_xor(znk, mv__fc_sign_im());
    *x = mv__fc_mul(mv__fc_add(zk, b), half_scale);
    /* (d re, d im) / (2i) = (d im, -d re) / 2 */
    *y = mv__fc_mul(mv__fc_xor(mv__fc_swap(mv__fc_sub(zk, b)), mv__fc_sign_im()), half_scale);
}

/* Z_k = X_k + i Y_k and Z_n-k = conj X_k + i conj Y_k; the imaginary parts of
   the DC (and, n even, Nyquist) bins are dropped, as numpy's irfft does */
MV__FFT_INL void MV__SFX(mv__fft_merge)(mv__fc x, mv__fc y, int edge, mv__fc *zk, mv__fc *znk)
{
    if (edge) {
        x = mv__fc_and(x, mv__fc_re_only());
        y = mv__fc_and(y, mv__fc_re_only());
    }
    *zk = mv__fc_add(x, mv__fc_xor(mv__fc_swap(y), mv__fc_sign_re()));
    *znk = mv__fc_add(mv__fc_xor(x, mv__fc_sign_im()), mv__fc_swap(y));
}

/* ---- gathering MV__FCL lines into vectors (lane l = line l) and back ---- */

/* complex lines: rows (contiguous, full group) by transposes, else one by one */
MV__FFT_INL void MV__SFX(mv__fft_gather_c)(const mv__fft_axctx *ax, const float *in, const mv__fft_group *g, ptrdiff_t n,
                                           float *G)
{
    ptrdiff_t j = 0;
    int l;
    if (g->rows) {
        for (; j + MV__FCL <= n; j += MV__FCL) {
            mv__fc v[MV__FCL];
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) v[l] = mv__fc_ld(in + g->in_off[l] + 2 * j);
            MV__SFX(mv__fc_transpose)(v);
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) mv__fc_st(G + (j + l) * MV__FV, v[l]);
        }
    }
    for (; j < n; j++)
        for (l = 0; l < MV__FCL; l++) {
            float *d = G + j * MV__FV + 2 * l;
            if (l < g->count) {
                const float *s = in + g->in_off[l] + j * ax->in_es;
                d[0] = s[0];
                d[1] = s[1];
            } else {
                d[0] = d[1] = 0.0f;
            }
        }
}
MV__FFT_INL void MV__SFX(mv__fft_scatter_c)(const mv__fft_axctx *ax, const float *G, ptrdiff_t n, float *out,
                                            const ptrdiff_t *off, int count, int rows)
{
    ptrdiff_t j = 0;
    int l;
    if (rows) {
        for (; j + MV__FCL <= n; j += MV__FCL) {
            mv__fc v[MV__FCL];
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) v[l] = mv__fc_ld(G + (j + l) * MV__FV);
            MV__SFX(mv__fc_transpose)(v);
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) mv__fc_st(out + off[l] + 2 * j, v[l]);
        }
    }
    for (; j < n; j++)
        for (l = 0; l < count; l++) {
            const float *s = G + j * MV__FV + 2 * l;
            float *d = out + off[l] + j * ax->out_es;
            d[0] = s[0];
            d[1] = s[1];
        }
}

MV__FFT_FN void MV__SFX(mv__fft_c2c_cols)(const mv__fft_axctx *ax, const float *in, float *out, int w)
{
    MV__SFX(mv__fft_line_run)(ax->line, in, ax->in_es, out, ax->out_es, w, ax->scale, ax->work);
}

MV__FFT_FN void MV__SFX(mv__fft_c2c_group)(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g)
{
    const ptrdiff_t n = ax->line->n;
    float *R;
    MV__SFX(mv__fft_gather_c)(ax, in, g, n, ax->g0);
    R = MV__SFX(mv__fft_line_inbuf)(ax->line, ax->g0, ax->g1, ax->scale, ax->work);
    MV__SFX(mv__fft_scatter_c)(ax, R, n, out, g->out_off, g->count, g->rows);
}

/* r2c along a strided axis: w vectors = 2*w*MV__FCL adjacent real columns */
MV__FFT_FN void MV__SFX(mv__fft_r2c_cols)(const mv__fft_axctx *ax, const float *in, float *out, int w)
{
    const ptrdiff_t n = ax->line->n, cv = (ptrdiff_t)w * MV__FV;
    const mv__fc hs = mv__fc_set1(0.5f * ax->scale);
    float *Z = ax->g0;
    ptrdiff_t k;
    int c;
    MV__SFX(mv__fft_line_run)(ax->line, in, ax->in_es, Z, cv, w, 1.0f, ax->work);
    for (k = 0; k <= n / 2; k++) {
        const float *zk = Z + k * cv, *znk = Z + ((n - k) % n) * cv;
        float *o = out + k * ax->out_es;
        for (c = 0; c < w; c++) {
            mv__fc x, y, lo, hi;
            MV__SFX(mv__fft_split)(mv__fc_ld(zk + c * MV__FV), mv__fc_ld(znk + c * MV__FV), hs, &x, &y);
            MV__SFX(mv__fc_zip)(x, y, &lo, &hi);
            mv__fc_st(o + 2 * c * MV__FV, lo);
            mv__fc_st(o + 2 * c * MV__FV + MV__FV, hi);
        }
    }
}

/* r2c of up to 2*MV__FCL real lines: pairs (2l, 2l+1) share lane l */
MV__FFT_FN void MV__SFX(mv__fft_r2c_group)(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g)
{
    const ptrdiff_t n = ax->line->n, h = n / 2 + 1;
    const mv__fc hs = mv__fc_set1(0.5f * ax->scale);
    float *G = ax->g0, *X, *Y;
    ptrdiff_t j = 0, k;
    int l;
    if (g->rows) {
        for (; j + MV__FCL <= n; j += MV__FCL) {
            mv__fc v[MV__FCL];
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++)
                v[l] = MV__SFX(mv__fc_from_halves)(mv__fh_ld(in + g->in_off[2 * l] + j), mv__fh_ld(in + g->in_off[2 * l + 1] + j));
            MV__SFX(mv__fc_transpose)(v);
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) mv__fc_st(G + (j + l) * MV__FV, v[l]);
        }
    }
    for (; j < n; j++)
        for (l = 0; l < 2 * MV__FCL; l++)
            G[j * MV__FV + l] = l < g->count ? in[g->in_off[l] + j * ax->in_es] : 0.0f;
    G = MV__SFX(mv__fft_line_inbuf)(ax->line, G, ax->g1, 1.0f, ax->work);
    X = G == ax->g0 ? ax->g1 : ax->g0; /* the other buffer */
    Y = X + h * MV__FV;
    for (k = 0; k < h; k++) {
        mv__fc x, y;
        MV__SFX(mv__fft_split)(mv__fc_ld(G + k * MV__FV), mv__fc_ld(G + ((n - k) % n) * MV__FV), hs, &x, &y);
        mv__fc_st(X + k * MV__FV, x);
        mv__fc_st(Y + k * MV__FV, y);
    }
    {
        /* lane l of X goes to line 2l, of Y to line 2l+1 */
        ptrdiff_t xo[MV__FCL], yo[MV__FCL];
        int nx = 0, ny = 0;
        for (l = 0; l < g->count; l++) {
            if (l & 1) yo[ny++] = g->out_off[l];
            else xo[nx++] = g->out_off[l];
        }
        MV__SFX(mv__fft_scatter_c)(ax, X, h, out, xo, nx, g->rows);
        MV__SFX(mv__fft_scatter_c)(ax, Y, h, out, yo, ny, g->rows);
    }
}

/* c2r along a strided axis: the half spectra of 2*w*MV__FCL real columns */
MV__FFT_FN void MV__SFX(mv__fft_c2r_cols)(const mv__fft_axctx *ax, const float *in, float *out, int w)
{
    const ptrdiff_t n = ax->line->n, cv = (ptrdiff_t)w * MV__FV;
    float *Z = ax->g0;
    ptrdiff_t k;
    int c;
    for (k = 0; k <= n / 2; k++) {
        const float *s = in + k * ax->in_es;
        int edge = k == 0 || 2 * k == n;
        for (c = 0; c < w; c++) {
            mv__fc x, y, zk, znk;
            MV__SFX(mv__fc_unzip)(mv__fc_ld(s + 2 * c * MV__FV), mv__fc_ld(s + 2 * c * MV__FV + MV__FV), &x, &y);
            MV__SFX(mv__fft_merge)(x, y, edge, &zk, &znk);
            mv__fc_st(Z + k * cv + c * MV__FV, zk);
            if (k > 0 && !edge) mv__fc_st(Z + (n - k) * cv + c * MV__FV, znk);
        }
    }
    MV__SFX(mv__fft_line_run)(ax->line, Z, cv, out, ax->out_es, w, ax->scale, ax->work);
}

MV__FFT_FN void MV__SFX(mv__fft_c2r_group)(const mv__fft_axctx *ax, const float *in, float *out, const mv__fft_group *g)
{
    const ptrdiff_t n = ax->line->n, h = n / 2 + 1;
    float *G = ax->g0, *X = ax->g1, *Y = ax->g1 + h * MV__FV;
    mv__fft_group gx, gy;
    ptrdiff_t j = 0, k;
    int l;
    /* even lines are X, odd lines Y: two complex gathers */
    gx.rows = gy.rows = g->rows;
    gx.count = (g->count + 1) / 2;
    gy.count = g->count / 2;
    for (l = 0; l < MV__FCL; l++) {
        gx.in_off[l] = 2 * l < g->count ? g->in_off[2 * l] : 0;
        gy.in_off[l] = 2 * l + 1 < g->count ? g->in_off[2 * l + 1] : 0;
    }
    MV__SFX(mv__fft_gather_c)(ax, in, &gx, h, X);
    MV__SFX(mv__fft_gather_c)(ax, in, &gy, h, Y);
    for (k = 0; k < h; k++) {
        mv__fc zk, znk;
        int edge = k == 0 || 2 * k == n;
        MV__SFX(mv__fft_merge)(mv__fc_ld(X + k * MV__FV), mv__fc_ld(Y + k * MV__FV), edge, &zk, &znk);
        mv__fc_st(G + k * MV__FV, zk);
        if (k > 0 && !edge) mv__fc_st(G + (n - k) * MV__FV, znk);
    }
    G = MV__SFX(mv__fft_line_inbuf)(ax->line, G, ax->g1, ax->scale, ax->work);
    if (g->rows) {
        for (; j + MV__FCL <= n; j += MV__FCL) {
            mv__fc v[MV__FCL];
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) v[l] = mv__fc_ld(G + (j + l) * MV__FV);
            MV__SFX(mv__fc_transpose)(v);
            MV__FFT_UNROLL for (l = 0; l < MV__FCL; l++) {
                mv__fh a, b;
                MV__SFX(mv__fc_to_halves)(v[l], &a, &b);
                mv__fh_st(out + g->out_off[2 * l] + j, a);
                mv__fh_st(out + g->out_off[2 * l + 1] + j, b);
            }
        }
    }
    for (; j < n; j++)
        for (l = 0; l < g->count; l++) out[g->out_off[l] + j * ax->out_es] = G[j * MV__FV + l];
}

static const mv__fft_ops MV__SFX(mv__fft_ops) = {
    MV__FCL,
    {MV__SFX(mv__fft_c2c_cols), MV__SFX(mv__fft_r2c_cols), MV__SFX(mv__fft_c2r_cols)},
    {MV__SFX(mv__fft_c2c_group), MV__SFX(mv__fft_r2c_group), MV__SFX(mv__fft_c2r_group)}};

#undef mv__fc
#undef mv__fh
#undef MV__FCL
#undef MV__FFT_INL
#undef MV__FFT_FN
#undef MV__FV
#undef mv__fc_ld
#undef mv__fc_st
#undef mv__fc_set1
#undef mv__fc_zero
#undef mv__fc_add
#undef mv__fc_sub
#undef mv__fc_mul
#undef mv__fc_fma
#undef mv__fc_fnma
#undef mv__fc_swap
#undef mv__fc_xor
#undef mv__fc_and
#undef mv__fc_sign_re
#undef mv__fc_sign_im
#undef mv__fc_re_only
#undef mv__fc_twi
#undef mv__fc_cmulw
#undef mv__fc_rot
#undef mv__fh_ld
#undef mv__fh_st

/* >>pass-mri ===============================================================
   Memory-bound MRI kernels (RSS, sensitivity-weighted combination,
   magnitude / real / imaginary), written once against the small
   deinterleaving vocabulary below and stamped per ISA (MV__PASS_SSE2,
   _AVX2, _AVX512, _NEON; names through MV__SFX, functions MV__FN).

   A complex array is (re, im) pairs; the kernels load 2 * MV__ML floats and
   split them into a vector of MV__ML real parts and one of imaginary parts
   (mv__m_deint). On AVX2 the split leaves the lanes in the order
   0 1 4 5 2 3 6 7 (in-lane shuffles are 1-cycle, a lane-crossing fix per
   load is not); per-voxel accumulators keep that order across coils and
   mv__m_fix puts it right once, when a real result is stored. Complex
   results are re-interleaved by mv__m_int_st, which on AVX2 undoes the same
   order for free. Arithmetic is the reference's, operation for operation,
   with FP contraction off, so the bytes equal the _ref kernels'. */

#if defined(MV__PASS_AVX512)
#define MV__ML 16
#define mv__mv __m512
#define MV__M_INL MV__INLINE MV__TARGET_AVX512
#define mv__m_ld(p) _mm512_loadu_ps(p)
#define mv__m_st(p, v) _mm512_storeu_ps((p), (v))
#define mv__m_zero() _mm512_setzero_ps()
#define mv__m_add(a, b) _mm512_add_ps((a), (b))
#define mv__m_sub(a, b) _mm512_sub_ps((a), (b))
#define mv__m_mul(a, b) _mm512_mul_ps((a), (b))
#define mv__m_div(a, b) _mm512_div_ps((a), (b))
#define mv__m_sqrt(a) _mm512_sqrt_ps(a)
#define mv__m_fix(a) (a)
/* v where d > 0, else 0 */
#define mv__m_keep_pos(d, v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((d), _mm512_setzero_ps(), _CMP_GT_OQ), (v))
MV__M_INL void MV__SFX(mv__m_deint)(const float *p, mv__mv *re, mv__mv *im)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    *re = _mm512_permutex2var_ps(a, ev, b);
    *im = _mm512_permutex2var_ps(a, od, b);
}
MV__M_INL void MV__SFX(mv__m_int_st)(float *p, mv__mv re, mv__mv im)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    _mm512_storeu_ps(p, _mm512_permutex2var_ps(re, lo, im));
    _mm512_storeu_ps(p + 16, _mm512_permutex2var_ps(re, hi, im));
}
#elif defined(MV__PASS_AVX2)
#define MV__ML 8
#define mv__mv __m256
#define MV__M_INL MV__INLINE MV__TARGET_AVX2
#define mv__m_ld(p) _mm256_loadu_ps(p)
#define mv__m_st(p, v) _mm256_storeu_ps((p), (v))
#define mv__m_zero() _mm256_setzero_ps()
#define mv__m_add(a, b) _mm256_add_ps((a), (b))
#define mv__m_sub(a, b) _mm256_sub_ps((a), (b))
#define mv__m_mul(a, b) _mm256_mul_ps((a), (b))
#define mv__m_div(a, b) _mm256_div_ps((a), (b))
#define mv__m_sqrt(a) _mm256_sqrt_ps(a)
/* lanes 0 1 4 5 2 3 6 7 -> 0..7: swap the middle 64-bit pairs */
#define mv__m_fix(a) _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(a), 0xD8))
#define mv__m_keep_pos(d, v) _mm256_and_ps((v), _mm256_cmp_ps((d), _mm256_setzero_ps(), _CMP_GT_OQ))
MV__M_INL void MV__SFX(mv__m_deint)(const float *p, mv__mv *re, mv__mv *im)
{
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    *re = _mm256_shuffle_ps(a, b, 0x88);
    *im = _mm256_shuffle_ps(a, b, 0xDD);
}
MV__M_INL void MV__SFX(mv__m_int_st)(float *p, mv__mv re, mv__mv im)
{
    /* re, im in the 0 1 4 5 2 3 6 7 order: the in-lane unpacks restore it */
    _mm256_storeu_ps(p, _mm256_unpacklo_ps(re, im));
    _mm256_storeu_ps(p + 8, _mm256_unpackhi_ps(re, im));
}
#elif defined(MV__PASS_SSE2)
#define MV__ML 4
#define mv__mv __m128
#define MV__M_INL MV__INLINE MV__TARGET_SSE2
#define mv__m_ld(p) _mm_loadu_ps(p)
#define mv__m_st(p, v) _mm_storeu_ps((p), (v))
#define mv__m_zero() _mm_setzero_ps()
#define mv__m_add(a, b) _mm_add_ps((a), (b))
#define mv__m_sub(a, b) _mm_sub_ps((a), (b))
#define mv__m_mul(a, b) _mm_mul_ps((a), (b))
#define mv__m_div(a, b) _mm_div_ps((a), (b))
#define mv__m_sqrt(a) _mm_sqrt_ps(a)
#define mv__m_fix(a) (a)
#define mv__m_keep_pos(d, v) _mm_and_ps((v), _mm_cmpgt_ps((d), _mm_setzero_ps()))
MV__M_INL void MV__SFX(mv__m_deint)(const float *p, mv__mv *re, mv__mv *im)
{
    __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 4);
    *re = _mm_shuffle_ps(a, b, 0x88);
    *im = _mm_shuffle_ps(a, b, 0xDD);
}
MV__M_INL void MV__SFX(mv__m_int_st)(float *p, mv__mv re, mv__mv im)
{
    _mm_storeu_ps(p, _mm_unpacklo_ps(re, im));
    _mm_storeu_ps(p + 4, _mm_unpackhi_ps(re, im));
}
#elif defined(MV__PASS_NEON)
#define MV__ML 4
#define mv__mv float32x4_t
#define MV__M_INL MV__INLINE
#define mv__m_ld(p) vld1q_f32(p)
#define mv__m_st(p, v) vst1q_f32((p), (v))
#define mv__m_zero() vdupq_n_f32(0.0f)
#define mv__m_add(a, b) vaddq_f32((a), (b))
#define mv__m_sub(a, b) vsubq_f32((a), (b))
#define mv__m_mul(a, b) vmulq_f32((a), (b))
#define mv__m_div(a, b) vdivq_f32((a), (b))
#define mv__m_sqrt(a) vsqrtq_f32(a)
#define mv__m_fix(a) (a)
#define mv__m_keep_pos(d, v) \
    vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vcgtq_f32((d), vdupq_n_f32(0.0f))))
MV__M_INL void MV__SFX(mv__m_deint)(const float *p, mv__mv *re, mv__mv *im)
{
    float32x4x2_t v = vld2q_f32(p);
    *re = v.val[0];
    *im = v.val[1];
}
MV__M_INL void MV__SFX(mv__m_int_st)(float *p, mv__mv re, mv__mv im)
{
    float32x4x2_t v;
    v.val[0] = re;
    v.val[1] = im;
    vst2q_f32(p, v);
}
#endif

/* RSS of n voxels: x points at coil 0, coil c at x + c * cstride floats. The
   block's squares stay in L1 while the coils stream past. */
MV__FN void MV__SFX(mv__rss_c64)(const float *x, int64_t cstride, int nc, float *out, int64_t n)
{
    float acc[MV__MRI_BLOCK];
    int64_t b0;
    for (b0 = 0; b0 < n; b0 += MV__MRI_BLOCK) {
        int64_t bn = MV__MIN((int64_t)MV__MRI_BLOCK, n - b0), nv = bn - bn % MV__ML, i;
        int c;
        for (c = 0; c < nc; c++) {
            const float *xc = x + (size_t)c * (size_t)cstride + 2 * b0;
            for (i = 0; i < nv; i += MV__ML) {
                mv__mv re, im, s;
                MV__SFX(mv__m_deint)(xc + 2 * i, &re, &im);
                s = mv__m_add(mv__m_mul(re, re), mv__m_mul(im, im));
                if (c) s = mv__m_add(mv__m_ld(acc + i), s);
                mv__m_st(acc + i, s);
            }
            for (; i < bn; i++) {
                float re = xc[2 * i], im = xc[2 * i + 1], s = re * re + im * im;
                acc[i] = c ? acc[i] + s : s;
            }
        }
        for (i = 0; i < nv; i += MV__ML) mv__m_st(out + b0 + i, mv__m_sqrt(mv__m_fix(mv__m_ld(acc + i))));
        for (; i < bn; i++) out[b0 + i] = nc ? sqrtf(acc[i]) : 0.0f;
    }
}

/* sum_c conj(S_c) x_c / sum_c |S_c|^2 over n voxels; complex out. */
/* Coils innermost, the three sums in registers: 2 * nc input streams, which
   the prefetchers follow (measured at 128^3 x 8 coils: 15-20 ms against
   21-32 ms for the block-of-accumulators form the RSS uses). */
MV__FN void MV__SFX(mv__combine_c64)(const float *x, int64_t xstride, const float *s, int64_t sstride, int nc,
                                     float *out, int64_t n)
{
    int64_t i = 0, nv = n - n % MV__ML;
    int c;
    for (; i < nv; i += MV__ML) {
        mv__mv a = mv__m_zero(), b = mv__m_zero(), d = mv__m_zero(), re, im;
        for (c = 0; c < nc; c++) {
            mv__mv xr, xi, sr, si;
            MV__SFX(mv__m_deint)(x + (size_t)c * (size_t)xstride + 2 * i, &xr, &xi);
            MV__SFX(mv__m_deint)(s + (size_t)c * (size_t)sstride + 2 * i, &sr, &si);
            a = mv__m_add(a, mv__m_add(mv__m_mul(sr, xr), mv__m_mul(si, xi)));
            b = mv__m_add(b, mv__m_sub(mv__m_mul(sr, xi), mv__m_mul(si, xr)));
            d = mv__m_add(d, mv__m_add(mv__m_mul(sr, sr), mv__m_mul(si, si)));
        }
        re = mv__m_keep_pos(d, mv__m_div(a, d));
        im = mv__m_keep_pos(d, mv__m_div(b, d));
        MV__SFX(mv__m_int_st)(out + 2 * i, re, im);
    }
    for (; i < n; i++) {
        float nr = 0, ni = 0, den = 0;
        for (c = 0; c < nc; c++) {
            const float *xc = x + (size_t)c * (size_t)xstride, *sc = s + (size_t)c * (size_t)sstride;
            float xr = xc[2 * i], xi = xc[2 * i + 1], sr = sc[2 * i], si = sc[2 * i + 1];
            nr += sr * xr + si * xi;
            ni += sr * xi - si * xr;
            den += sr * sr + si * si;
        }
        out[2 * i] = den > 0 ? nr / den : 0.0f;
        out[2 * i + 1] = den > 0 ? ni / den : 0.0f;
    }
}

/* magnitude (part 0), real (2) or imaginary (3) part of n complex values */
MV__FN void MV__SFX(mv__cpart_c64)(const float *x, float *out, int64_t n, int part)
{
    int64_t i = 0, nv = n - n % MV__ML;
    for (; i < nv; i += MV__ML) {
        mv__mv re, im, r;
        MV__SFX(mv__m_deint)(x + 2 * i, &re, &im);
        r = part == 0 ? mv__m_sqrt(mv__m_add(mv__m_mul(re, re), mv__m_mul(im, im))) : part == 2 ? re : im;
        mv__m_st(out + i, mv__m_fix(r));
    }
    for (; i < n; i++) {
        float re = x[2 * i], im = x[2 * i + 1];
        out[i] = part == 0 ? sqrtf(re * re + im * im) : part == 2 ? re : im;
    }
}

static const mv__mri_ops MV__SFX(mv__mri_ops) = {MV__SFX(mv__rss_c64), MV__SFX(mv__combine_c64),
                                                 MV__SFX(mv__cpart_c64)};

#undef MV__ML
#undef mv__mv
#undef MV__M_INL
#undef mv__m_ld
#undef mv__m_st
#undef mv__m_zero
#undef mv__m_add
#undef mv__m_sub
#undef mv__m_mul
#undef mv__m_div
#undef mv__m_sqrt
#undef mv__m_fix
#undef mv__m_keep_pos

/* >>pass-transport =========================================================
   Proton transport row kernel (>>impl-transport-types has the reference),
   stamped per ISA against the small vocabulary below. Operation order is the
   reference's, FP contraction off, tails by the reference element function:
   the bytes equal the _ref kernels'. */

#if defined(MV__PASS_AVX512)
#define MV__TL 16
#define mv__tv __m512
#define mv__t_ld(p) _mm512_loadu_ps(p)
#define mv__t_st(p, v) _mm512_storeu_ps((p), (v))
#define mv__t_set1(x) _mm512_set1_ps(x)
#define mv__t_add(a, b) _mm512_add_ps((a), (b))
#define mv__t_mul(a, b) _mm512_mul_ps((a), (b))
#elif defined(MV__PASS_AVX2)
#define MV__TL 8
#define mv__tv __m256
#define mv__t_ld(p) _mm256_loadu_ps(p)
#define mv__t_st(p, v) _mm256_storeu_ps((p), (v))
#define mv__t_set1(x) _mm256_set1_ps(x)
#define mv__t_add(a, b) _mm256_add_ps((a), (b))
#define mv__t_mul(a, b) _mm256_mul_ps((a), (b))
#elif defined(MV__PASS_SSE2)
#define MV__TL 4
#define mv__tv __m128
#define mv__t_ld(p) _mm_loadu_ps(p)
#define mv__t_st(p, v) _mm_storeu_ps((p), (v))
#define mv__t_set1(x) _mm_set1_ps(x)
#define mv__t_add(a, b) _mm_add_ps((a), (b))
#define mv__t_mul(a, b) _mm_mul_ps((a), (b))
#elif defined(MV__PASS_NEON)
#define MV__TL 4
#define mv__tv float32x4_t
#define mv__t_ld(p) vld1q_f32(p)
#define mv__t_st(p, v) vst1q_f32((p), (v))
#define mv__t_set1(x) vdupq_n_f32(x)
#define mv__t_add(a, b) vaddq_f32((a), (b))
#define mv__t_mul(a, b) vmulq_f32((a), (b))
#endif

/* Weighted sum of k rows. Blocks of 4 vectors keep 4 independent
   accumulators per source row in flight; each lane's order of operations is
   the reference's. */
MV__FN void MV__SFX(mv__tr_wsum)(float *out, const float *const *src, const float *w, int k, int64_t n)
{
    int64_t t = 0;
    int j;
    if (k <= 0) {
        for (t = 0; t < n; t++) out[t] = 0.0f;
        return;
    }
    for (; t + 4 * MV__TL <= n; t += 4 * MV__TL) {
        mv__tv w0 = mv__t_set1(w[0]);
        const float *s0 = src[0] + t;
        mv__tv a = mv__t_mul(w0, mv__t_ld(s0)), b = mv__t_mul(w0, mv__t_ld(s0 + MV__TL));
        mv__tv c = mv__t_mul(w0, mv__t_ld(s0 + 2 * MV__TL)), d = mv__t_mul(w0, mv__t_ld(s0 + 3 * MV__TL));
        for (j = 1; j < k; j++) {
            mv__tv wj = mv__t_set1(w[j]);
            const float *sj = src[j] + t;
            a = mv__t_add(a, mv__t_mul(wj, mv__t_ld(sj)));
            b = mv__t_add(b, mv__t_mul(wj, mv__t_ld(sj + MV__TL)));
            c = mv__t_add(c, mv__t_mul(wj, mv__t_ld(sj + 2 * MV__TL)));
            d = mv__t_add(d, mv__t_mul(wj, mv__t_ld(sj + 3 * MV__TL)));
        }
        mv__t_st(out + t, a);
        mv__t_st(out + t + MV__TL, b);
        mv__t_st(out + t + 2 * MV__TL, c);
        mv__t_st(out + t + 3 * MV__TL, d);
    }
    for (; t + MV__TL <= n; t += MV__TL) {
        mv__tv a = mv__t_mul(mv__t_set1(w[0]), mv__t_ld(src[0] + t));
        for (j = 1; j < k; j++) a = mv__t_add(a, mv__t_mul(mv__t_set1(w[j]), mv__t_ld(src[j] + t)));
        mv__t_st(out + t, a);
    }
    MV__ZEROUPPER();
    for (; t < n; t++) {
        float acc = w[0] * src[0][t];
        for (j = 1; j < k; j++) acc = acc + w[j] * src[j][t];
        out[t] = acc;
    }
}

static const mv__transport_ops MV__SFX(mv__transport_ops) = {MV__SFX(mv__tr_wsum)};

#undef MV__TL
#undef mv__tv
#undef mv__t_ld
#undef mv__t_st
#undef mv__t_set1
#undef mv__t_add
#undef mv__t_mul

static void MV__SFX(mv__kt_fill)(mv__kernels *kt)
{
    kt->to_f32[MV_DT_U8] = MV__SFX(mv__to_f32_u8);
    kt->to_f32[MV_DT_I8] = MV__SFX(mv__to_f32_i8);
    kt->to_f32[MV_DT_U16] = MV__SFX(mv__to_f32_u16);
    kt->to_f32[MV_DT_I16] = MV__SFX(mv__to_f32_i16);
    kt->to_f32[MV_DT_I32] = MV__SFX(mv__to_f32_i32);
    kt->to_f32[MV_DT_F64] = MV__SFX(mv__to_f32_f64);
    kt->to_f32s[MV_DT_U8] = MV__SFX(mv__to_f32s_u8);
    kt->to_f32s[MV_DT_I8] = MV__SFX(mv__to_f32s_i8);
    kt->to_f32s[MV_DT_U16] = MV__SFX(mv__to_f32s_u16);
    kt->to_f32s[MV_DT_I16] = MV__SFX(mv__to_f32s_i16);
    kt->to_f32s[MV_DT_I32] = MV__SFX(mv__to_f32s_i32);
    kt->to_f32s[MV_DT_F32] = MV__SFX(mv__to_f32s_f32);
    kt->to_f32s[MV_DT_F64] = MV__SFX(mv__to_f32s_f64);
    kt->from_f32[MV_DT_U8] = MV__SFX(mv__from_f32_u8);
    kt->from_f32[MV_DT_I8] = MV__SFX(mv__from_f32_i8);
    kt->from_f32[MV_DT_U16] = MV__SFX(mv__from_f32_u16);
    kt->from_f32[MV_DT_I16] = MV__SFX(mv__from_f32_i16);
    kt->from_f32[MV_DT_F64] = MV__SFX(mv__from_f32_f64);
    kt->bswap[2] = MV__SFX(mv__bswap2);
    kt->bswap[4] = MV__SFX(mv__bswap4);
    kt->bswap[8] = MV__SFX(mv__bswap8);
    kt->bswap[16] = MV__SFX(mv__bswap16);
    kt->stats[MV_DT_F32] = MV__SFX(mv__stats_f32);
    kt->stats[MV_DT_F64] = MV__SFX(mv__stats_f64);
    kt->stats[MV_DT_I16] = MV__SFX(mv__stats_i16);
    kt->stats[MV_DT_U16] = MV__SFX(mv__stats_u16);
    kt->stats[MV_DT_U8] = MV__SFX(mv__stats_u8);
    kt->stats[MV_DT_I8] = MV__SFX(mv__stats_i8);
    kt->stats[MV_DT_I32] = MV__SFX(mv__stats_i32);
#if defined(MV__HAVE_CRC32_VPCLMUL)
    kt->crc32 = mv__cpu_info.vpclmul ? MV__SFX(mv__crc32_vpclmul) : MV__SFX(mv__crc32);
#elif defined(MV__HAVE_CRC32)
    kt->crc32 = MV__SFX(mv__crc32);
#endif
    kt->inflate_fast = MV__SFX(mv__inflate_fast);
#if defined(MV__HAVE_COMBINE_LITLEN)
    kt->combine_litlen = MV__SFX(mv__combine_litlen);
#endif
    kt->rs_blend = MV__SFX(mv__rs_blend);
    kt->rs_xinterp = MV__SFX(mv__rs_xinterp);
    kt->rs_bspline = MV__SFX(mv__rs_bspline);
    kt->rs_rows_in = MV__SFX(mv__rs_rows_in);
    kt->rs_rows_out = MV__SFX(mv__rs_rows_out);
    kt->rs_affine_lin = MV__SFX(mv__rs_affine_lin);
    kt->rs_affine_cub = MV__SFX(mv__rs_affine_cub);
    kt->affine_f32 = MV__SFX(mv__affine_f32);
    kt->affine_nz_f32 = MV__SFX(mv__affine_nz_f32);
    kt->clamp_f32 = MV__SFX(mv__clamp_f32);
    kt->reverse[2] = MV__SFX(mv__reverse2);
    kt->reverse[4] = MV__SFX(mv__reverse4);
    kt->reverse[8] = MV__SFX(mv__reverse8);
    kt->copy = MV__SFX(mv__copy);
    kt->stats_nz_f32 = MV__SFX(mv__stats_nz_f32);
    kt->affine_int[MV_DT_U8] = MV__SFX(mv__affine_u8);
    kt->affine_int[MV_DT_I16] = MV__SFX(mv__affine_i16);
    kt->affine_int[MV_DT_U16] = MV__SFX(mv__affine_u16);
    kt->fft = &MV__SFX(mv__fft_ops);
    kt->mri = &MV__SFX(mv__mri_ops);
    kt->transport = &MV__SFX(mv__transport_ops);
}

/* every pass macro goes, so the next pass starts clean */
#undef MV__SFX
#undef MV__FN
#undef MV__VL
#undef MV__ZEROUPPER
#undef MV__VDL
#undef MV__NACC
#undef MV__BSWAP_BYTES
#undef MV__HAVE_SWAP_BY
#undef MV__HAVE_CRC32
#undef MV__HAVE_CRC32_VPCLMUL
#undef MV__HAVE_COMBINE_LITLEN
#undef mv__vf
#undef mv__vd
#undef mv__vi
#undef mv__vb
#undef mv__vf_loadu
#undef mv__vf_storeu
#undef mv__vf_set1
#undef mv__vf_min
#undef mv__vf_max
#undef mv__vf_nan_to_zero
#undef mv__vf_ge_mask_i
#undef mv__vd_loadu
#undef mv__vd_storeu
#undef mv__vd_set1
#undef mv__vd_add
#undef mv__vd_sub
#undef mv__vd_mul
#undef mv__vd_min
#undef mv__vd_max
#undef mv__vd_from_vf_lo
#undef mv__vd_from_vf_hi
#undef mv__vf_from_vd
#undef mv__vd_from_vi_lo
#undef mv__vd_from_vi_hi
#undef mv__vf_from_vi
#undef mv__vi_from_vf_rne
#undef mv__vi_from_vf_trunc
#undef mv__vi_loadu
#undef mv__vi_storeu
#undef mv__vi_set1
#undef mv__vi_blend
#undef mv__vb_loadu
#undef mv__vb_storeu
#undef mv__vf_keep_zero
#undef mv__vf_clamp
#undef mv__vf_reverse
#undef mv__vd_reverse
#undef mv__vd_nz_select
#undef MV__PASS_TO_F32
#undef MV__PASS_TO_F32S
#undef MV__PASS_FROM_F32
#undef MV__PASS_BSWAP
#undef MV__PASS_STATS
#undef MV__LOAD16_F32
#undef MV__LOAD16_INT
#undef MV__LOAD16_F64
#undef MV__LOAD16_I16
#undef MV__LOAD16_U16
#undef MV__LOAD16_U8
#undef MV__LOAD16_I8
#undef MV__LOAD16_I32
#undef mv__rs_vf_add
#undef mv__rs_vf_mul
#undef mv__rs_vf_sub
#undef MV__RS_G
#undef MV__RS_PAIR
#undef MV__RS_JOIN
#undef MV__RS_LDF
#undef MV__RS_STF
#undef MV__RS_FNI

#endif /* MV__KERNEL_PASS */
