/* cuda_fp16.h - the CUDA emulator's stand-in for CUDA's half-precision
   header (tests only; see cuda_runtime.h beside this file).

   __half is a 2-byte struct holding IEEE binary16 bits, so arrays of it lay
   out in memory as on a GPU. Only what medvol_cuda.h uses is here: the
   conversions, with CUDA's rounding (round to nearest, ties to even; values
   from the halfway point above 65504 become infinity; subnormals kept; a
   NaN becomes the quiet NaN 0x7fff). __double2half rounds the double
   directly, as CUDA's does: going through float would round twice.

   The rounding core (mv_emu::round_bits16) also serves cuda_bf16.h. */
#ifndef MV_EMU_CUDA_FP16_H
#define MV_EMU_CUDA_FP16_H

#include "cuda_runtime.h"

struct __half_raw {
    unsigned short x;
};

struct __attribute__((aligned(2))) __half {
    unsigned short __x;
    __half() = default;
    constexpr __half(const __half_raw &r) : __x(r.x) {}
    constexpr operator __half_raw() const { return __half_raw{__x}; }
};
static_assert(sizeof(__half) == 2 && alignof(__half) == 2, "__half is 16 bits, as on a GPU");
static_assert(std::is_trivially_copyable<__half>::value && std::is_trivially_default_constructible<__half>::value,
              "__half arrays alias 16-bit storage");

namespace mv_emu {

/* The 16-bit format nearest to M * 2^E (0 < M < 2^63), ties to even, without the sign bit. The format has
   `mbits` fraction bits, `emin` is its smallest normal exponent and inf its infinity's bits. Encodings are
   ordered like the values and one quantum apart within a binade, so the encoding is
   (binade index << mbits) + the value counted in quanta of its binade; a carry out of the fraction lands
   on the next binade, and past the largest finite on infinity, by itself. */
static inline unsigned round_bits16(uint64_t M, int E, int emin, int mbits, unsigned inf)
{
    int fl = E + 63 - __builtin_clzll(M); /* floor(log2(value)) */
    if (fl > 1 - emin) return inf;         /* 2^(emax + 1) or more: past the largest finite's halfway point */
    int qe = (fl > emin ? fl : emin) - mbits; /* exponent of the quantum at this value */
    int shift = qe - E;
    uint64_t q;
    if (shift <= 0) {
        q = M << -shift; /* exact: the value has at most mbits + 1 significant bits here */
    } else if (shift >= 64) {
        q = 0; /* M < 2^63 <= 2^(shift - 1): below half a quantum */
    } else {
        uint64_t rem = M & (((uint64_t)1 << shift) - 1), half = (uint64_t)1 << (shift - 1);
        q = M >> shift;
        if (rem > half || (rem == half && (q & 1))) q++;
    }
    uint64_t bits = ((uint64_t)(qe - (emin - mbits)) << mbits) + q;
    return bits >= inf ? inf : (unsigned)bits;
}

/* A double to a 16-bit format (see round_bits16), with its sign; NaN gives the quiet NaN 0x7fff. */
static inline unsigned short f64_to_bits16(double x, int emin, int mbits, unsigned inf)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    unsigned sign = (unsigned)(u >> 63) << 15;
    int e = (int)(u >> 52 & 0x7ff);
    uint64_t m = u & (((uint64_t)1 << 52) - 1);
    if (e == 0x7ff) return m ? 0x7fff : (unsigned short)(sign | inf);
    if (e == 0 && m == 0) return (unsigned short)sign;
    unsigned b = e ? round_bits16(m | (uint64_t)1 << 52, e - 1075, emin, mbits, inf)
                   : round_bits16(m, -1074, emin, mbits, inf);
    return (unsigned short)(sign | b);
}

/* A float to a 16-bit format, the same way. */
static inline unsigned short f32_to_bits16(float x, int emin, int mbits, unsigned inf)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    unsigned sign = (u >> 31) << 15;
    int e = (int)(u >> 23 & 0xff);
    uint32_t m = u & 0x7fffffu;
    if (e == 0xff) return m ? 0x7fff : (unsigned short)(sign | inf);
    if (e == 0 && m == 0) return (unsigned short)sign;
    unsigned b = e ? round_bits16(m | 1u << 23, e - 150, emin, mbits, inf) : round_bits16(m, -149, emin, mbits, inf);
    return (unsigned short)(sign | b);
}

} /* namespace mv_emu */

static inline __half __ushort_as_half(unsigned short x) { return __half(__half_raw{x}); }
static inline unsigned short __half_as_ushort(__half h) { return h.__x; }

/* exact: every half is a float */
static inline float __half2float(__half h)
{
    uint32_t s = (uint32_t)(h.__x >> 15) << 31, e = h.__x >> 10 & 0x1f, m = h.__x & 0x3ff, u;
    if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
        float f = (float)m * 0x1p-24f;
        return s ? -f : f;
    }
    u = e == 0x1f ? s | 0x7f800000u | m << 13 : s | (e + 112) << 23 | m << 13; /* 112 = 127 - 15 */
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline __half __float2half(float f) { return __ushort_as_half(mv_emu::f32_to_bits16(f, -14, 10, 0x7c00)); }
static inline __half __float2half_rn(float f) { return __float2half(f); }
static inline __half __double2half(double d) { return __ushort_as_half(mv_emu::f64_to_bits16(d, -14, 10, 0x7c00)); }

#endif
