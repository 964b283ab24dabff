/* cuda_runtime.h - the CUDA emulator's stand-in for the CUDA runtime (tests only)

   tests/cuda_emu runs medvol_cuda.h's kernels on the CPU so that the GPU
   test groups of tests/test_cuda.cu run on a machine without a GPU, in
   `make test`. It is a test tool, not a second backend: what it cannot show
   (timings, register pressure, the real cuFFT, true concurrency between
   blocks) still needs a GPU session. What it does show:

   - every launch's index arithmetic, block reductions, shared memory,
     __syncthreads, __syncwarp and warp shuffles, run thread by thread (each GPU thread
     is a fiber; a barrier switches between the fibers of a block), in
     thread order or, with MV_EMU_SHUFFLE=seed, in a shuffled order of
     blocks and of threads between barriers, so that results which depend
     on a race change between runs;
   - launch configurations against an H100's limits (block <= 1024 threads,
     grid y/z <= 65535, dynamic shared memory <= 48 KiB): a bad one fails the
     launch as CUDA does (cudaGetLastError);
   - a __syncthreads that only part of a block reaches, and a full-mask
     shuffle with lanes missing: a sticky launch failure, as
     compute-sanitizer's synccheck reports;
   - stream order as CUDA defines it: kernels, async copies, memsets, cuFFT
     executions and stream-ordered frees are queued and run only when the
     host synchronises (a synchronous copy, cudaStreamSynchronize, an event
     wait, cudaFree ...). Host code that reads a pinned buffer before
     synchronising, or reuses it while a copy is queued, sees stale data, as
     on a GPU. Async copies to or from pageable memory behave as CUDA
     documents (device -> pageable waits; pageable -> device is staged at
     the call).
   - device memory that is not initialised: cudaMalloc(Async) fills new
     blocks with 0xFF bytes (NaN in float32 / float64, -1 in integers);
     copies and memsets are checked against the allocations' bounds and the
     copy kind against where the pointers live; with ASan every kernel
     access to device memory is bounds-checked as compute-sanitizer's
     memcheck would.

   medvol_cuda.h is compiled by g++ as C++17 after tests/cuda_emu/rewrite.py
   turns each `k<<<cfg>>>(args)` into `mv_emu::launch(mv_emu::cfg(cfg), "k",
   k, args)` and each `extern __shared__ T x[]` into the launch's dynamic
   shared memory. Device code takes medvol_cuda.h's host branches (no
   __CUDA_ARCH__), the ones tests/test_cuda_host.cu already checks. */
#ifndef MV_EMU_CUDA_RUNTIME_H
#define MV_EMU_CUDA_RUNTIME_H

#include "cuda_runtime_api.h"

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#define MV_EMU 1

/* ---- qualifiers ------------------------------------------------------------ */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
/* Blocks run one after another on one OS thread, so a static local is the
   block's shared memory (thread_local keeps it per OS thread). */
#define __shared__ static thread_local
#define __constant__

/* ---- vector types ------------------------------------------------------------ */
struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) double2 { double x, y; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline double2 make_double2(double x, double y) { return double2{x, y}; }

/* ---- device arithmetic ------------------------------------------------------- */
/* Rounded once each, as the GPU's _rn intrinsics: the emulator is compiled
   with -ffp-contract=off, so plain operators are never fused. */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline void sincospi(double x, double *s, double *c)
{
    *s = sin(x * 3.14159265358979323846);
    *c = cos(x * 3.14159265358979323846);
}

/* The typed overloads of CUDA's cuda_runtime.h */
template <typename T> static inline cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)p, n); }
template <typename T> static inline cudaError_t cudaMallocAsync(T **p, size_t n, cudaStream_t s)
{
    return cudaMallocAsync((void **)p, n, s);
}
template <typename T> static inline cudaError_t cudaMallocHost(T **p, size_t n) { return cudaMallocHost((void **)p, n); }

/* ---- the emulator's engine (tests/cuda_emu/emu_runtime.cc) ------------------------ */
namespace mv_emu {

/* The GPU thread now running (set by the scheduler at every switch). */
extern thread_local uint3 t_threadIdx, t_blockIdx;
extern thread_local dim3 t_blockDim, t_gridDim;

/* Queue op on the stream (one in-order queue for every stream: a valid
   serialisation of CUDA's stream semantics); it runs at the host's next
   synchronisation. An op may report a failure with set_sticky_error. */
void enqueue(cudaStream_t s, std::function<void()> op);
void set_sticky_error(cudaError_t e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Where p lies: 2 device (inside a cudaMalloc block of at least n bytes from
   p), 1 pinned host, 0 anything else; -1 if p is inside a device block but
   p + n runs past its end. */
int where(const void *p, size_t n);

struct launch_cfg {
    dim3 grid, block;
    size_t shared;
    cudaStream_t stream;
};
static inline launch_cfg cfg(dim3 g, dim3 b, size_t sh = 0, cudaStream_t s = 0) { return launch_cfg{g, b, sh, s}; }

/* Validate cfg (a bad one sets cudaGetLastError's error and returns 0),
   then queue the grid: body() runs once per GPU thread. */
void launch_grid(const launch_cfg &c, const char *name, std::function<void()> body);

/* The kernel's arguments are converted to its parameter types at the call
   (NULL stays a null pointer constant) and copied at the launch, as CUDA
   copies them; every GPU thread gets its own copy of the parameters (a
   kernel may change them). */
template <typename T> struct same { typedef T type; };
template <typename... P>
static inline void launch(const launch_cfg &c, const char *name, void (*kernel)(P...), typename same<P>::type... args)
{
    std::tuple<typename std::decay<P>::type...> params(args...);
    launch_grid(c, name, [kernel, params]() { std::apply(kernel, params); });
}

void syncthreads(void);
unsigned long long shfl_down_u64(unsigned int mask, unsigned long long v, unsigned int delta, int width);
void syncwarp(unsigned int mask);
void *dynamic_shared(void);

} /* namespace mv_emu */

#define threadIdx (mv_emu::t_threadIdx)
#define blockIdx (mv_emu::t_blockIdx)
#define blockDim (mv_emu::t_blockDim)
#define gridDim (mv_emu::t_gridDim)
static constexpr int warpSize = 32;

static inline void __syncthreads(void) { mv_emu::syncthreads(); }
static inline void __syncwarp(unsigned int mask = 0xffffffffu) { mv_emu::syncwarp(mask); }

template <typename T> static inline T __shfl_down_sync(unsigned int mask, T v, unsigned int delta, int width = 32)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of up to 8 bytes");
    unsigned long long u = 0;
    memcpy(&u, &v, sizeof(T));
    u = mv_emu::shfl_down_u64(mask, u, delta, width);
    memcpy(&v, &u, sizeof(T));
    return v;
}

/* Atomics: blocks and threads run on one OS thread, one at a time, and a
   fiber is never switched out inside one, so a plain read-modify-write is
   atomic here. */
template <typename T> static inline T atomicAdd(T *p, T v)
{
    T o = *p;
    *p = o + v;
    return o;
}
template <typename T> static inline T atomicMax(T *p, T v)
{
    T o = *p;
    if (v > o) *p = v;
    return o;
}

#endif
