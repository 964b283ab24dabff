/* cuda_bf16.h - the CUDA emulator's stand-in for CUDA's bfloat16 header
   (tests only; see cuda_runtime.h beside this file).

   __nv_bfloat16 is a 2-byte struct holding bfloat16 bits (the top half of
   a float32), so arrays of it lay out in memory as on a GPU. Only what
   medvol_cuda.h uses is here: the conversions, with CUDA's rounding (round
   to nearest, ties to even; overflow to infinity; subnormals kept; a NaN
   becomes the quiet NaN 0x7fff). __double2bfloat16 rounds the double
   directly, as CUDA's does: going through float would round twice. The
   double path shares cuda_fp16.h's rounding core; the float path is the
   usual add-and-truncate on the float's bits. */
#ifndef MV_EMU_CUDA_BF16_H
#define MV_EMU_CUDA_BF16_H

#include "cuda_runtime.h"
#include "cuda_fp16.h" /* mv_emu::f64_to_bits16 */

struct __nv_bfloat16_raw {
    unsigned short x;
};

struct __attribute__((aligned(2))) __nv_bfloat16 {
    unsigned short __x;
    __nv_bfloat16() = default;
    constexpr __nv_bfloat16(const __nv_bfloat16_raw &r) : __x(r.x) {}
    constexpr operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
};
static_assert(sizeof(__nv_bfloat16) == 2 && alignof(__nv_bfloat16) == 2, "__nv_bfloat16 is 16 bits, as on a GPU");
static_assert(std::is_trivially_copyable<__nv_bfloat16>::value &&
                  std::is_trivially_default_constructible<__nv_bfloat16>::value,
              "__nv_bfloat16 arrays alias 16-bit storage");

static inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short x) { return __nv_bfloat16(__nv_bfloat16_raw{x}); }
static inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }

/* exact: a bfloat16 is the top half of a float, NaN payloads included */
static inline float __bfloat162float(__nv_bfloat16 h)
{
    uint32_t u = (uint32_t)h.__x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Adding 0x7fff plus the kept part's lowest bit to the float's bits, then dropping the low 16, rounds to
   nearest even: the carry runs into the exponent when it must, up to infinity from the largest finite. */
static inline __nv_bfloat16 __float2bfloat16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __ushort_as_bfloat16(0x7fff);
    u += 0x7fffu + (u >> 16 & 1);
    return __ushort_as_bfloat16((unsigned short)(u >> 16));
}
static inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }

static inline __nv_bfloat16 __double2bfloat16(double d)
{
    return __ushort_as_bfloat16(mv_emu::f64_to_bits16(d, -126, 7, 0x7f80));
}

#endif
