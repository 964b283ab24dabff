/* test_isa.c - every kernel on every ISA this machine runs, against its
   scalar reference, bit for bit. This file compiles its own copy of the
   implementation with every x86 level built in, so it can reach the per-ISA
   kernel tables. The copy is private (MEDVOL_STATIC) unless the suite says
   MVT_ISA_IMPLEMENTS: then the suite's configuration is already this file's
   (runtime dispatch on x86, or MEDVOL_NO_SIMD, or AArch64), and the copy is
   the suite's implementation in place of tests/medvol_impl.c, one compile
   of the header fewer (the ASan+UBSan, no-SIMD and NEON suites). */
#if !defined(MVT_ISA_IMPLEMENTS)
#define MEDVOL_STATIC
#elif !defined(MEDVOL_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64)) && !defined(MEDVOL_RUNTIME_DISPATCH)
#error "MVT_ISA_IMPLEMENTS: on x86 the suite must define MEDVOL_RUNTIME_DISPATCH or MEDVOL_NO_SIMD, as this file does"
#endif
#if !defined(MEDVOL_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64)) && !defined(MEDVOL_RUNTIME_DISPATCH)
#define MEDVOL_RUNTIME_DISPATCH
#endif
/* as tests/medvol_impl.c: a gzip member splits from reads of 512 KiB */
#define MEDVOL_GZIP_PARALLEL_CHUNK ((size_t)256 << 10)
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
#include "testutil.h"
#include <stdlib.h>

typedef struct isa_table {
    mv_isa isa;
    mv__kernels k;
} isa_table;

/* the tables of every ISA that is compiled in and runs here */
static int isa_tables(isa_table *out)
{
    unsigned run = mv__detect_cpu().runnable & mv__isa_compiled();
    int n = 0;
    mv__kernels_get(); /* the fills read the CPU's features beyond its level (mv__cpu_info) */
    (void)run;
    (void)out;
#if defined(MV__BUILD_SSE2)
    if (run & (1u << MV_ISA_SSE2)) { out[n].isa = MV_ISA_SSE2; mv__kt_fill_ref(&out[n].k); mv__kt_fill_sse2(&out[n].k); n++; }
#endif
#if defined(MV__BUILD_AVX2)
    if (run & (1u << MV_ISA_AVX2)) { out[n].isa = MV_ISA_AVX2; mv__kt_fill_ref(&out[n].k); mv__kt_fill_avx2(&out[n].k); n++; }
#endif
#if defined(MV__BUILD_AVX512)
    if (run & (1u << MV_ISA_AVX512)) { out[n].isa = MV_ISA_AVX512; mv__kt_fill_ref(&out[n].k); mv__kt_fill_avx512(&out[n].k); n++; }
#endif
#if defined(MV__BUILD_NEON)
    if (run & (1u << MV_ISA_NEON)) { out[n].isa = MV_ISA_NEON; mv__kt_fill_ref(&out[n].k); mv__kt_fill_neon(&out[n].k); n++; }
#endif
    return n;
}

/* lengths around every vector width, and odd ones */
static const size_t lens[] = {0,   1,   2,   3,   4,    5,    7,    8,    9,    15,   16,   17,   31,   32,  33,
                              63,  64,  65,  100, 255,  256,  257,  511,  512,  513,  1000, 2047, 2048, 4095, 4096, 4097};
#define MAXN 4200

/* random bytes with NaN, Inf, denormals, zeros and extremes mixed in */
static void fill(unsigned char *p, size_t bytes, mv_dtype dt, uint64_t seed)
{
    size_t i;
    for (i = 0; i < bytes; i++) p[i] = (unsigned char)(tu_rand(&seed) >> 56);
    if (dt == MV_DT_F32) {
        static const float sp[] = {NAN, INFINITY, -INFINITY, 1e-40f, -1e-42f, 0.0f, -0.0f, 3.4e38f, -3.4e38f, 0.5f, 1.5f,
                                   2.5f, -2.5f, 32767.5f, -32768.5f, 65535.5f, 255.5f, -128.5f, 127.5f, 2147483520.0f,
                                   2147483648.0f, -2147483648.0f, 1e9f};
        float *f = (float *)p;
        size_t n = bytes / 4;
        for (i = 0; i < n; i++) {
            uint64_t r = tu_rand(&seed);
            if (r % 4 == 0) f[i] = sp[(r >> 8) % (sizeof(sp) / sizeof(sp[0]))];
            else if (r % 4 == 1) f[i] = (float)((double)(int64_t)(r >> 20) / 65536.0); /* moderate values */
        }
    }
    if (dt == MV_DT_F64) {
        double *d = (double *)p;
        size_t n = bytes / 8;
        for (i = 0; i < n; i++) {
            uint64_t r = tu_rand(&seed);
            if (r % 3 == 0) d[i] = (double)(int64_t)(r >> 16) / 1024.0;
            if (r % 97 == 1) d[i] = NAN;
        }
    }
}

MV_TEST(isa, kernels_match_reference)
{
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    unsigned char *src = (unsigned char *)malloc(MAXN * 24 + 64), *a = (unsigned char *)malloc(MAXN * 24 + 64),
                  *b = (unsigned char *)malloc(MAXN * 24 + 64);
    int nt = isa_tables(t), i, d, rounding;
    size_t li;
    mv__kernels_get(); /* the CRC tables */
    mv__kt_fill_ref(&ref);
    if (nt == 0) {
        free(t); free(src); free(a); free(b);
        SKIP("no SIMD level compiled in or runnable here");
    }
    for (i = 0; i < nt; i++) {
        const char *isa = mv_isa_name(t[i].isa);
        for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
            size_t n = lens[li];
            for (d = 1; d < MV_DT_COUNT; d++) {
                size_t ss = mv__dt[d].size;
                /* int/float -> float32, plain and scaled */
                if (t[i].k.to_f32[d]) {
                    /* one element in: aligned for the type, not for any vector */
                    fill(src + ss, n * ss, (mv_dtype)d, n * 31 + (size_t)d);
                    ref.to_f32[d](src + ss, (float *)a, n);
                    t[i].k.to_f32[d](src + ss, (float *)b, n);
                    EXPECT_MSG(memcmp(a, b, n * 4) == 0, "[%s] to_f32 %s n=%zu", isa, mv__dt[d].name, n);
                }
                if (t[i].k.to_f32s[d]) {
                    fill(src, n * ss, (mv_dtype)d, n * 17 + (size_t)d);
                    ref.to_f32s[d](src, (float *)a, n, 0.07540696859359741, 3100.76171875);
                    t[i].k.to_f32s[d](src, (float *)b, n, 0.07540696859359741, 3100.76171875);
                    EXPECT_MSG(memcmp(a, b, n * 4) == 0, "[%s] to_f32 scaled %s n=%zu", isa, mv__dt[d].name, n);
                }
                /* float32 -> narrower, both roundings */
                if (t[i].k.from_f32[d])
                    for (rounding = 0; rounding < 2; rounding++) {
                        fill(src, n * 4, MV_DT_F32, n * 7 + (size_t)d);
                        ref.from_f32[d]((const float *)src, a, n, rounding);
                        t[i].k.from_f32[d]((const float *)src, b, n, rounding);
                        EXPECT_MSG(memcmp(a, b, n * ss) == 0, "[%s] from_f32 -> %s n=%zu rounding %d", isa, mv__dt[d].name, n,
                                   rounding);
                    }
                /* block statistics (the reduction lanes must agree exactly) */
                if (t[i].k.stats[d] && n > 0) {
                    mv__acc ra, ta;
                    double K;
                    fill(src + ss, n * ss, (mv_dtype)d, n * 5 + (size_t)d);
                    if (d == MV_DT_F32) { /* finite data: what the kernels are for */
                        size_t k;
                        for (k = 0; k < n; k++) {
                            float *f = (float *)(void *)(src + ss) + k, x;
                            memcpy(&x, f, 4);
                            if (!isfinite(x) || fabsf(x) > 1e30f) x = 1.25f * (float)k;
                            memcpy(f, &x, 4);
                        }
                    }
                    if (d == MV_DT_F64) {
                        size_t k;
                        for (k = 0; k < n; k++) {
                            double x;
                            memcpy(&x, src + ss + k * 8, 8);
                            if (!isfinite(x) || fabs(x) > 1e100) x = 3.5 * (double)k;
                            memcpy(src + ss + k * 8, &x, 8);
                        }
                    }
                    K = mv__get_f64((mv_dtype)d, src + ss);
                    ref.stats[d](src + ss, n, K, &ra);
                    t[i].k.stats[d](src + ss, n, K, &ta);
                    EXPECT_MSG(memcmp(&ra, &ta, sizeof(ra)) == 0, "[%s] stats %s n=%zu: s1 %.17g vs %.17g, s2 %.17g vs %.17g",
                               isa, mv__dt[d].name, n, ra.s1, ta.s1, ra.s2, ta.s2);
                }
            }
            /* CRC-32, from several starting values */
            if (t[i].k.crc32 != ref.crc32) {
                uint32_t c0;
                fill(a, n + 3, MV_DT_U8, n * 11);
                for (c0 = 0; c0 < 3; c0++) {
                    uint32_t start = c0 * 0x9E3779B9u;
                    EXPECT_MSG(ref.crc32(start, a + c0, n) == t[i].k.crc32(start, a + c0, n), "[%s] crc32 n=%zu off %u", isa, n,
                               (unsigned)c0);
                }
            }
            /* intensity steps on float32 with NaN, Inf, -0, denormals */
            {
                static const double cso[][3] = {{1000.5, 0.0123, 0}, {-3.25, 7.5, -1}, {0, 0, 0.5}, {1e30, 1e-30, 2}};
                int k;
                for (k = 0; k < 4; k++) {
                    fill(src + 4, n * 4, MV_DT_F32, n * 13 + (size_t)k);
                    ref.affine_f32((const float *)(src + 4), (float *)a, n, cso[k][0], cso[k][1], cso[k][2]);
                    t[i].k.affine_f32((const float *)(src + 4), (float *)b, n, cso[k][0], cso[k][1], cso[k][2]);
                    EXPECT_MSG(memcmp(a, b, n * 4) == 0, "[%s] affine_f32 n=%zu case %d", isa, n, k);
                    ref.affine_nz_f32((const float *)(src + 4), (float *)a, n, cso[k][0], cso[k][1], cso[k][2]);
                    t[i].k.affine_nz_f32((const float *)(src + 4), (float *)b, n, cso[k][0], cso[k][1], cso[k][2]);
                    EXPECT_MSG(memcmp(a, b, n * 4) == 0, "[%s] affine_nz_f32 n=%zu case %d", isa, n, k);
                    ref.clamp_f32((const float *)(src + 4), (float *)a, n, k ? -1.5f : 0.0f, k ? 1e9f : 0.0f);
                    t[i].k.clamp_f32((const float *)(src + 4), (float *)b, n, k ? -1.5f : 0.0f, k ? 1e9f : 0.0f);
                    EXPECT_MSG(memcmp(a, b, n * 4) == 0, "[%s] clamp_f32 n=%zu case %d", isa, n, k);
                }
            }
            /* integers straight into z-normalize / rescale steps */
            {
                static const mv_dtype idt[3] = {MV_DT_U8, MV_DT_I16, MV_DT_U16};
                int k, nz;
                for (k = 0; k < 3; k++)
                    for (nz = 0; nz < 2; nz++) {
                        fill(src + 2, n * mv__dt[idt[k]].size, idt[k], n * 3 + (size_t)k);
                        ref.affine_int[idt[k]](src + 2, (float *)a, n, 0.5, -20.0, 431.25, 0.0123, nz ? 0 : 1.5, nz);
                        t[i].k.affine_int[idt[k]](src + 2, (float *)b, n, 0.5, -20.0, 431.25, 0.0123, nz ? 0 : 1.5, nz);
                        EXPECT_MSG(memcmp(a, b, n * 4) == 0, "[%s] affine_int %s n=%zu nonzero %d", isa, mv__dt[idt[k]].name, n, nz);
                    }
            }
            /* nonzero-only block statistics: zeros mixed in, finite values */
            if (n > 0) {
                mv__acc ra, ta;
                double rc = 0, tc = 0;
                size_t k;
                float *f = (float *)(void *)(src + 4);
                fill(src + 4, n * 4, MV_DT_F32, n * 29);
                for (k = 0; k < n; k++)
                    if (!isfinite(f[k]) || fabsf(f[k]) > 1e30f || k % 3 == 0) f[k] = k % 3 == 0 ? 0.0f : 0.75f * (float)k;
                ref.stats_nz_f32(f, n, 1.5, &ra, &rc);
                t[i].k.stats_nz_f32(f, n, 1.5, &ta, &tc);
                EXPECT_MSG(memcmp(&ra, &ta, sizeof(ra)) == 0 && rc == tc, "[%s] stats_nz_f32 n=%zu", isa, n);
            }
            /* row flips, from a source that is only element-aligned */
            for (d = 1; d <= 8; d *= 2) {
                fill(src + d, n * (size_t)d, MV_DT_U8, n * 3 + (size_t)d);
                ref.reverse[d](src + d, a, n);
                t[i].k.reverse[d](src + d, b, n);
                EXPECT_MSG(memcmp(a, b, n * (size_t)d) == 0, "[%s] reverse%d n=%zu", isa, d, n);
            }
            /* MRI complex kernels: times s or conj(s), in place too, and times a real */
            if (n > 0 && n <= MAXN) {
                int cj;
                float *x = (float *)(void *)src, *sv = x + 2 * n + 1, *kr = sv + 2 * n + 1;
                size_t q;
                fill(src, (5 * n + 2) * 4, MV_DT_F32, n * 37);
                for (q = 0; q < 5 * n + 2; q++) /* finite (NaN payloads may take either operand's) */
                    if (!isfinite(x[q]) || fabsf(x[q]) > 1e18f) x[q] = 0.375f * (float)q - 100.0f;
                for (cj = 0; cj < 2; cj++) {
                    ref.mri->cmul(x, sv, (float *)a, (int64_t)n, cj);
                    t[i].k.mri->cmul(x, sv, (float *)b, (int64_t)n, cj);
                    EXPECT_MSG(memcmp(a, b, n * 8) == 0, "[%s] cmul conj %d n=%zu", isa, cj, n);
                    memcpy(b, x, n * 8);
                    t[i].k.mri->cmul((float *)b, sv, (float *)b, (int64_t)n, cj);
                    EXPECT_MSG(memcmp(a, b, n * 8) == 0, "[%s] cmul in place conj %d n=%zu", isa, cj, n);
                }
                memcpy(a, x, n * 8);
                memcpy(b, x, n * 8);
                ref.mri->rmul((float *)a, kr, (int64_t)n);
                t[i].k.mri->rmul((float *)b, kr, (int64_t)n);
                EXPECT_MSG(memcmp(a, b, n * 8) == 0, "[%s] rmul n=%zu", isa, n);
                /* coil compression's mixing: 3 inputs into 6 outputs (a group of four and
                   two more), one coefficient per (input, output) or one per value too */
                if (n <= MAXN / 5) {
                    int lw;
                    const int64_t xs = 2 * (int64_t)n + 1, os = 2 * (int64_t)n + 2;
                    const float *kre = x + 6 * n + 8, *kim = kre + 3;
                    fill(src, (24 * n + 16) * 4, MV_DT_F32, n * 41);
                    for (q = 0; q < 24 * n + 16; q++)
                        if (!isfinite(x[q]) || fabsf(x[q]) > 1e18f) x[q] = 0.375f * (float)q - 100.0f;
                    for (lw = 0; lw < 2; lw++) {
                        const int64_t ks = lw ? (int64_t)n : 1;
                        memset(a, 0, (size_t)(6 * os) * 4);
                        memset(b, 0, (size_t)(6 * os) * 4);
                        ref.mri->zmix(x, xs, 3, kre, kim, ks, lw, 6, (float *)a, os, (int64_t)n);
                        t[i].k.mri->zmix(x, xs, 3, kre, kim, ks, lw, 6, (float *)b, os, (int64_t)n);
                        EXPECT_MSG(memcmp(a, b, (size_t)(6 * os) * 4) == 0, "[%s] zmix lanewise %d n=%zu", isa, lw, n);
                    }
                }
            }
            /* byte swaps */
            for (d = 2; d <= 16; d *= 2) {
                fill(a, n * (size_t)d, MV_DT_U8, n + (size_t)d);
                memcpy(b, a, n * (size_t)d);
                ref.bswap[d](a, n);
                t[i].k.bswap[d](b, n);
                EXPECT_MSG(memcmp(a, b, n * (size_t)d) == 0, "[%s] bswap%d n=%zu", isa, d, n);
            }
            if (mvt_cur.failures) break;
        }
    }
    free(t);
    free(src);
    free(a);
    free(b);
}

/* The general trilinear rows (>>impl-resample's warp path): the inside-run
   kernel rs_lin_in and the clamping rs_affine_lin, each in both of its
   x86 forms (pair loads, and the hardware gathers chosen on CPUs whose
   gathers are fast: mv__cpu_info.gather_fast), whatever this CPU would
   pick; rows of every length around the vector widths, steps that move
   all three coordinates (forwards and backwards, steeper than a voxel),
   edge clamp and fill; NaN, Inf and denormals among the voxels; bit for
   bit against the reference */
/* the same bits, except that any NaN equals any NaN: the sign and payload
   of a NaN made from two NaNs (an input NaN and 0 * Inf's) follow the
   operand order, which the compiler may swap in the scalar code */
static int same_floats(const float *a, const float *b, size_t n)
{
    size_t q;
    for (q = 0; q < n; q++)
        if (!(a[q] != a[q] && b[q] != b[q]) && memcmp(a + q, b + q, sizeof(float))) return 0;
    return 1;
}
MV_TEST(isa, general_rows_both_tap_loads_match_reference)
{
    static const int64_t d[3] = {37, 29, 23};
    static const double steps[][3] = {{0.97, 0.26, 0.02}, {-0.71, 0.4, -0.33}, {1.9, -0.05, 0.6}, {0.0, 0.31, -0.12}};
    const size_t nvox = (size_t)(d[0] * d[1] * d[2]);
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    float *vol = (float *)malloc(nvox * sizeof(float)), *a = (float *)malloc(80 * sizeof(float)),
          *b = (float *)malloc(80 * sizeof(float));
    const int saved = (mv__kernels_get(), mv__cpu_info.gather_fast);
    int nt, i, g, si, fl;
    size_t n;
    uint64_t seed = 11;
    REQUIRE(t && vol && a && b);
    fill((unsigned char *)vol, nvox * sizeof(float), MV_DT_F32, 3);
    mv__kt_fill_ref(&ref);
    for (g = 0; g < 2; g++) {
        mv__cpu_info.gather_fast = g;
        nt = isa_tables(t);
        for (i = 0; i < nt; i++)
            for (si = 0; si < (int)(sizeof(steps) / sizeof(steps[0])); si++)
                for (n = 1; n <= 70; n++) {
                    double m0[3], base[3], lo[3], hi[3];
                    int ax;
                    /* inside run: start inside, steps shrunk so that all n
                       samples stay in [0, d - 1) on every axis */
                    for (ax = 0; ax < 3; ax++) {
                        double room = (double)(d[ax] - 1) - 1e-9, s0 = steps[si][ax], span = fabs(s0) * (double)(n - 1);
                        m0[ax] = span < room * 0.9 ? s0 : s0 * room * 0.9 / span;
                        lo[ax] = m0[ax] < 0 ? -m0[ax] * (double)(n - 1) : 0;
                        hi[ax] = room - (m0[ax] > 0 ? m0[ax] * (double)(n - 1) : 0);
                        base[ax] = lo[ax] + (hi[ax] - lo[ax]) * tu_rand01(&seed) - 3 * m0[ax]; /* rows start at x0 = 3 */
                    }
                    memset(a, 0xA5, 80 * sizeof(float));
                    memset(b, 0xA5, 80 * sizeof(float));
                    ref.rs_lin_in(a, vol, d, m0, base, 3, n, 0);
                    t[i].k.rs_lin_in(b, vol, d, m0, base, 3, n, (ptrdiff_t)d[0] * d[1]);
                    EXPECT_MSG(same_floats(a, b, 80), "[%s, gathers %d] rs_lin_in step %d n=%zu",
                               mv_isa_name(t[i].isa), g, si, n);

                    /* clamping rows: through the volume and out of it */
                    for (fl = 0; fl < 2; fl++) {
                        for (ax = 0; ax < 3; ax++) {
                            m0[ax] = steps[si][ax] * 1.3;
                            base[ax] = (double)d[ax] * (tu_rand01(&seed) * 1.4 - 0.2);
                        }
                        memset(a, 0xA5, 80 * sizeof(float));
                        memset(b, 0xA5, 80 * sizeof(float));
                        ref.rs_affine_lin(a, vol, d, m0, base, -5, n, fl, -4.5f);
                        t[i].k.rs_affine_lin(b, vol, d, m0, base, -5, n, fl, -4.5f);
                        EXPECT_MSG(same_floats(a, b, 80), "[%s, gathers %d] rs_affine_lin step %d n=%zu fill %d",
                                   mv_isa_name(t[i].isa), g, si, n, fl);
                    }
                    if (mvt_cur.failures) goto done;
                }
    }
done:
    mv__cpu_info.gather_fast = saved;
    free(t);
    free(vol);
    free(a);
    free(b);
}

/* a float in [-1, 1) from the test's generator */
static float isa_unit(uint64_t *seed) { return (float)((double)(int64_t)(tu_rand(seed) >> 40) / 8388608.0 - 1.0); }

/* The 3D adjoint's sub-grid spread (nufft->spread_col3: a bin column's
   points into the worker's cache-resident block) and the add of its rows
   into the grid (sub_add), bit for bit against the reference: kernel
   widths 2 .. MV__NU_MAXW, first x taps over the whole 8-cell block, z taps that
   leave the slab on either side, a grid small enough that a point's z taps
   wrap into the slab twice; the touched box as well. The whole-transform
   check (nufft.isa_matches_reference) compares within a tolerance only,
   the FFT differing between ISAs. */
static float *isa_aligned_floats(size_t n, void **block)
{
    unsigned char *b = (unsigned char *)calloc(n * sizeof(float) + 64, 1);
    *block = b;
    return b ? (float *)(void *)(b + (64 - ((uintptr_t)b & 63))) : NULL;
}

MV_TEST(isa, nufft_spread_col3_matches_reference)
{
    static const int widths[] = {2, 3, 4, 5, 6, 7, MV__NU_MAXW};
    enum { NPT = 300, BY = 6 };
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    int32_t *i0 = (int32_t *)malloc(3 * NPT * sizeof(int32_t));
    float *kv = (float *)malloc(3 * MV__NU_MAXW * NPT * sizeof(float)), *vs = (float *)malloc(2 * NPT * sizeof(float));
    int nt = isa_tables(t), i, wi, tiny, q, nonzero = 0;
    uint64_t seed = 11;
    REQUIRE(t && i0 && kv && vs);
    mv__kt_fill_ref(&ref);
    for (q = 0; q < 3 * MV__NU_MAXW * NPT; q++) kv[q] = isa_unit(&seed);
    for (q = 0; q < 2 * NPT; q++) vs[q] = isa_unit(&seed);
    for (tiny = 0; tiny < 2; tiny++)
        for (wi = 0; wi < (int)(sizeof(widths) / sizeof(widths[0])); wi++) {
            const int w = widths[wi], h = w / 2;
            const int64_t gx = 40, gy = 36, gz = tiny ? w + 2 : 30, H = 4 + 5 * !tiny, r0 = tiny ? gz - H : 7, x0 = 16, y0 = 12;
            const int64_t px = (7 + w + 7) / 8 * 8, ys = 2 * px, ny = BY + w - 1, zs = ys * ny, nf = zs * H;
            void *ba, *bb;
            float *a = isa_aligned_floats((size_t)nf, &ba), *b = isa_aligned_floats((size_t)nf, &bb);
            mv__nu_col3 ca, cb;
            REQUIRE(a && b);
            for (q = 0; q < NPT; q++) {
                int64_t lx = (int64_t)(tu_rand(&seed) % 8), cy = (int64_t)(tu_rand(&seed) % BY);
                i0[3 * q] = (int32_t)((x0 + lx - h + gx) % gx);
                i0[3 * q + 1] = (int32_t)((y0 + cy - h + gy) % gy);
                i0[3 * q + 2] = (int32_t)(tu_rand(&seed) % (uint64_t)gz);
            }
            memset(&ca, 0, sizeof(ca));
            ca.sub = a;
            ca.ys = ys;
            ca.zs = zs;
            ca.i0 = i0;
            ca.kv = kv;
            ca.vs = vs;
            ca.n = NPT;
            ca.gx = gx;
            ca.gy = gy;
            ca.gz = gz;
            ca.x0 = x0;
            ca.y0 = y0;
            ca.r0 = r0;
            ca.H = H;
            ca.w = w;
            ca.zlo = H;
            ca.ylo = ny;
            ref.nufft->spread_col3(&ca);
            for (q = 0; q < nf; q++) nonzero += a[q] != 0;
            for (i = 0; i < nt; i++) {
                memset(b, 0, (size_t)nf * sizeof(float));
                cb = ca;
                cb.sub = b;
                cb.zlo = H;
                cb.zhi = 0;
                cb.ylo = ny;
                cb.yhi = 0;
                t[i].k.nufft->spread_col3(&cb);
                EXPECT_MSG(!memcmp(a, b, (size_t)nf * sizeof(float)) && cb.zlo == ca.zlo && cb.zhi == ca.zhi && cb.ylo == ca.ylo &&
                               cb.yhi == ca.yhi,
                           "[%s] spread_col3 w=%d gz=%lld: sub-grid or box (z %lld..%lld, y %lld..%lld; reference %lld..%lld, "
                           "%lld..%lld) differs",
                           mv_isa_name(t[i].isa), w, (long long)gz, (long long)cb.zlo, (long long)cb.zhi, (long long)cb.ylo,
                           (long long)cb.yhi, (long long)ca.zlo, (long long)ca.zhi, (long long)ca.ylo, (long long)ca.yhi);
                if (mvt_cur.failures) break;
            }
            free(ba);
            free(bb);
            if (mvt_cur.failures) break;
        }
    EXPECT_MSG(nonzero > 1000, "the spreads wrote %d nonzero floats", nonzero);
    /* sub_add: g[i] += s[i], then s[i] = +0 (bits 0) */
    for (i = 0; i < nt && !mvt_cur.failures; i++) {
        static const int64_t ns[] = {1, 7, 8, 9, 16, 17, 33, 100};
        float g1[100], g2[100], s1[100], s2[100];
        size_t k;
        for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
            int64_t n = ns[k];
            for (q = 0; q < 100; q++) {
                g1[q] = g2[q] = isa_unit(&seed);
                s1[q] = s2[q] = q % 5 == 3 ? -0.0f : isa_unit(&seed);
            }
            ref.nufft->sub_add(g2, s2, n);
            t[i].k.nufft->sub_add(g1, s1, n);
            EXPECT_MSG(!memcmp(g1, g2, sizeof(g1)) && !memcmp(s1, s2, sizeof(s1)), "[%s] sub_add n=%lld", mv_isa_name(t[i].isa),
                       (long long)n);
            for (q = 0; q < n; q++)
                EXPECT_MSG(((uint32_t *)(void *)s1)[q] == 0, "[%s] sub_add left s[%d] = %g", mv_isa_name(t[i].isa), q,
                           (double)s1[q]);
        }
    }
    free(t);
    free(i0);
    free(kv);
    free(vs);
}

/* The cubic prefilter's x lines (the lane layout of MV__RS_LANES rows):
   rs_rows_in, rs_bspline (edge and mirror; line lengths 1, 2, 3, around
   the vector and the mirror series' 24-term cut, longer), rs_lanes_interp
   (1, 2 and 4 taps) and rs_rows_out, each against its scalar reference,
   bit for bit, on row strides wider than the line */
MV_TEST(isa, bspline_lanes_match_reference)
{
    static const size_t ns_[] = {1, 2, 3, 4, 5, 15, 16, 17, 25, 26, 27, 70};
    enum { NL = MV__RS_LANES, XMAXN = 72, XSTRIDE = 75, NOUT = 40 };
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    float *rows = (float *)malloc(NL * XSTRIDE * sizeof(float)), *ra = (float *)malloc(NL * XSTRIDE * sizeof(float)),
          *rb = (float *)malloc(NL * XSTRIDE * sizeof(float)), *ba = (float *)malloc((XMAXN + 2) * NL * sizeof(float)),
          *bb = (float *)malloc((XMAXN + 2) * NL * sizeof(float)), *oa = (float *)malloc(NOUT * NL * sizeof(float)),
          *ob = (float *)malloc(NOUT * NL * sizeof(float)), w[4 * NOUT];
    int32_t idx[NOUT];
    int nt = isa_tables(t), i, mirror, taps;
    size_t ni, q;
    uint64_t seed = 17;
    REQUIRE(t && rows && ra && rb && ba && bb && oa && ob);
    mv__kt_fill_ref(&ref);
    for (q = 0; q < (size_t)NL * XSTRIDE; q++) rows[q] = isa_unit(&seed) * 100.0f;
    for (q = 0; q < 4 * NOUT; q++) w[q] = isa_unit(&seed);
    for (i = 0; i < nt && !mvt_cur.failures; i++)
        for (ni = 0; ni < sizeof(ns_) / sizeof(ns_[0]); ni++)
            for (mirror = 0; mirror < 2; mirror++)
                for (taps = 1; taps <= 4; taps += 1 + (taps == 2)) {
                    const size_t n = ns_[ni];
                    memset(ba, 0, (XMAXN + 2) * NL * sizeof(float));
                    memset(bb, 0, (XMAXN + 2) * NL * sizeof(float));
                    ref.rs_rows_in(ba, rows + 1, XSTRIDE, n);
                    t[i].k.rs_rows_in(bb, rows + 1, XSTRIDE, n);
                    EXPECT_MSG(!memcmp(ba, bb, (n + 2) * NL * sizeof(float)), "[%s] rs_rows_in n=%zu", mv_isa_name(t[i].isa), n);
                    ref.rs_bspline(ba, n, mirror);
                    t[i].k.rs_bspline(bb, n, mirror);
                    EXPECT_MSG(!memcmp(ba, bb, (n + 2) * NL * sizeof(float)), "[%s] rs_bspline n=%zu mirror %d",
                               mv_isa_name(t[i].isa), n, mirror);
                    if (n + 2 >= (size_t)taps) { /* every tap window inside the stored -1 .. n */
                        for (q = 0; q < NOUT; q++) idx[q] = (int32_t)(tu_rand(&seed) % (n + 3 - (size_t)taps));
                        ref.rs_lanes_interp(oa, ba, idx, w, NOUT, taps, NOUT);
                        t[i].k.rs_lanes_interp(ob, ba, idx, w, NOUT, taps, NOUT);
                        EXPECT_MSG(!memcmp(oa, ob, NOUT * NL * sizeof(float)), "[%s] rs_lanes_interp n=%zu taps %d",
                                   mv_isa_name(t[i].isa), n, taps);
                    }
                    memcpy(ra, rows, NL * XSTRIDE * sizeof(float));
                    memcpy(rb, rows, NL * XSTRIDE * sizeof(float));
                    ref.rs_rows_out(ra + 2, XSTRIDE, ba, n + 2);
                    t[i].k.rs_rows_out(rb + 2, XSTRIDE, ba, n + 2);
                    EXPECT_MSG(!memcmp(ra, rb, NL * XSTRIDE * sizeof(float)), "[%s] rs_rows_out n=%zu", mv_isa_name(t[i].isa), n);
                    if (mvt_cur.failures) break;
                }
    free(t);
    free(rows);
    free(ra);
    free(rb);
    free(ba);
    free(bb);
    free(oa);
    free(ob);
}

/* The cubic prefilter along rows (rs_bspline_rows: the y pass within a
   slice, the z pass across slices): its column blocks and the row steps
   for the columns past them; row counts 1, 2, 3 and longer (the mirror
   initialisation's series cut at 24 terms from 26 rows on), widths around
   the block (4 vectors of floats) and the vector, strides wider than the
   width, in place and from a separate input, edge and mirror modes; the
   pad rows -1 and n included; bit for bit */
MV_TEST(isa, bspline_rows_match_reference)
{
    static const size_t ns_[] = {1, 2, 3, 5, 17, 25, 26, 27, 64};
    static const size_t widths[] = {1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 40, 64, 65, 70, 127, 128, 131};
    enum { STRIDE = 137, MAXR = 66 };
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    float *src = (float *)malloc(MAXR * STRIDE * sizeof(float)), *a = (float *)malloc(MAXR * STRIDE * sizeof(float)),
          *b = (float *)malloc(MAXR * STRIDE * sizeof(float));
    float *d = (float *)malloc((MAXR + 1) * STRIDE * sizeof(float));
    int nt = isa_tables(t), i, mirror, inplace;
    size_t ni, wi, q;
    uint64_t seed = 5;
    REQUIRE(t && src && a && b && d);
    mv__kt_fill_ref(&ref);
    for (q = 0; q < MAXR * STRIDE; q++) src[q] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 65536.0);
    for (i = 0; i < nt; i++)
        for (ni = 0; ni < sizeof(ns_) / sizeof(ns_[0]); ni++)
            for (wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
                for (mirror = 0; mirror < 2; mirror++)
                    for (inplace = 0; inplace < 2; inplace++) {
                        const size_t n = ns_[ni], w = widths[wi];
                        /* rows 1 .. n of the buffers (rows 0 and n + 1: the pads) */
                        memcpy(a, src, MAXR * STRIDE * sizeof(float));
                        memcpy(b, src, MAXR * STRIDE * sizeof(float));
                        if (inplace) {
                            ref.rs_bspline_rows(a + STRIDE, STRIDE, a + STRIDE, STRIDE, n, w, d, mirror);
                            t[i].k.rs_bspline_rows(b + STRIDE, STRIDE, b + STRIDE, STRIDE, n, w, d, mirror);
                        } else {
                            ref.rs_bspline_rows(src + 3, STRIDE, a + STRIDE, STRIDE, n, w, d, mirror);
                            t[i].k.rs_bspline_rows(src + 3, STRIDE, b + STRIDE, STRIDE, n, w, d, mirror);
                        }
                        EXPECT_MSG(!memcmp(a, b, MAXR * STRIDE * sizeof(float)), "[%s] rs_bspline_rows n=%zu width=%zu mirror %d in place %d",
                                   mv_isa_name(t[i].isa), n, w, mirror, inplace);
                        if (mvt_cur.failures) goto done;
                    }
done:
    free(t);
    free(src);
    free(a);
    free(b);
    free(d);
}

/* The fused path's prefilter-and-blend along rows (rs_bspline_blend: the
   y pass within a slice, the z pass across slices): row counts 2, 3 and
   longer (the mirror series cut at 24 terms from 26 rows on), widths
   around the column block and the vector (the last columns through a
   block of zeros), output rows downsampled, upsampled (taps repeated) and
   flipped (s descending), strides wider than the width, edge and mirror;
   the outputs bit for bit and nothing written beside them; the running
   |max| against the reference's over finite values only (an infinity and
   a NaN in the rows); asks for memory change nothing */
MV_TEST(isa, bspline_blend_matches_reference)
{
    static const size_t ns_[] = {2, 3, 5, 17, 26, 27, 64};
    static const size_t widths[] = {1, 3, 15, 16, 17, 33, 63, 64, 65, 100, 128, 131};
    enum { STRIDE = 137, MAXR = 64, MAXO = 80, OSTRIDE = 139 };
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    float *src = (float *)malloc(MAXR * STRIDE * sizeof(float)), *a = (float *)malloc(MAXO * OSTRIDE * sizeof(float)),
          *b = (float *)malloc(MAXO * OSTRIDE * sizeof(float)), w[4 * MAXO];
    float *d = (float *)malloc((2 * MAXR + MAXO + 4) * MV__RS_BB_COLS * sizeof(float));
    int32_t s[MAXO];
    int nt = isa_tables(t), i, mirror, kind, track;
    size_t ni, wi, q, nout;
    uint64_t seed = 9;
    REQUIRE(t && src && a && b && d);
    mv__kt_fill_ref(&ref);
    for (q = 0; q < MAXR * STRIDE; q++) src[q] = isa_unit(&seed) * 1000.0f;
    for (q = 0; q < 4 * MAXO; q++) w[q] = isa_unit(&seed);
    for (i = 0; i < nt; i++)
        for (ni = 0; ni < sizeof(ns_) / sizeof(ns_[0]); ni++)
            for (kind = 0; kind < 3; kind++) {
                const size_t n = ns_[ni];
                /* kind 0: about every other row (x0.5), 1: each row about
                   2.5 times (upsampled), 2: the rows flipped */
                nout = kind == 0 ? (n + 1) / 2 : kind == 1 ? MV__MIN((size_t)MAXO, n * 5 / 2) : n - 1;
                for (q = 0; q < nout; q++) {
                    size_t v = kind == 0 ? 2 * q : kind == 1 ? q * 2 / 5 : nout - 1 - q;
                    s[q] = (int32_t)MV__MIN(v, n - 2);
                }
                for (wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
                    for (mirror = 0; mirror < 2; mirror++)
                        for (track = 0; track < 2; track++) {
                            const size_t width = widths[wi];
                            float ma = 0.5f, mb = 0.5f;
                            mv__rs_ask ask[2];
                            ask[0].p = src;
                            ask[0].row_bytes = width * sizeof(float);
                            ask[0].stride = STRIDE * sizeof(float);
                            ask[0].rows = n;
                            ask[0].write = 0;
                            ask[1].p = b;
                            ask[1].row_bytes = nout * OSTRIDE * sizeof(float);
                            ask[1].stride = 0;
                            ask[1].rows = 1;
                            ask[1].write = 1;
                            memset(a, 0x5A, MAXO * OSTRIDE * sizeof(float));
                            memset(b, 0x5A, MAXO * OSTRIDE * sizeof(float));
                            ref.rs_bspline_blend(src + 2, STRIDE, n, width, d, mirror, s, w, nout, a + 1, OSTRIDE,
                                                 track ? &ma : NULL, NULL, 0);
                            t[i].k.rs_bspline_blend(src + 2, STRIDE, n, width, d, mirror, s, w, nout, b + 1, OSTRIDE,
                                                    track ? &mb : NULL, ask, track ? 2 : 0);
                            EXPECT_MSG(!memcmp(a, b, MAXO * OSTRIDE * sizeof(float)) && ma == mb,
                                       "[%s] rs_bspline_blend n=%zu width=%zu outputs %d mirror %d max %g %g",
                                       mv_isa_name(t[i].isa), n, width, kind, mirror, (double)ma, (double)mb);
                            if (mvt_cur.failures) goto done;
                        }
            }
    /* the running max skips an infinity and a NaN, and sees a value
       larger than the rest */
    src[5 * STRIDE + 7] = INFINITY;
    src[9 * STRIDE + 40] = NAN;
    src[12 * STRIDE + 70] = -3.0e6f;
    for (i = 0; i < nt; i++) {
        float ma = 0, mb = 0;
        s[0] = 0;
        ref.rs_bspline_blend(src, STRIDE, 17, 100, d, 0, s, w, 1, a, OSTRIDE, &ma, NULL, 0);
        t[i].k.rs_bspline_blend(src, STRIDE, 17, 100, d, 0, s, w, 1, b, OSTRIDE, &mb, NULL, 0);
        EXPECT_MSG(ma == 3.0e6f && mb == 3.0e6f, "[%s] rs_bspline_blend max %g %g", mv_isa_name(t[i].isa), (double)ma, (double)mb);
    }
done:
    free(t);
    free(src);
    free(a);
    free(b);
    free(d);
}

/* GRAPPA's four-row complex product (>>pass-recon): output counts around
   every vector width, one or several source segments, rows repeated (a
   short group), row strides wider than the outputs; bit for bit */
/* The wavelet's x lines (mv__wav_line_fwd / _inv: the interior as
   contiguous rows of the even and odd samples) against the per-output
   reference, bit for bit: every filter, lines from 1 sample (all edges)
   to past two blocks of MV__WAV_XBLOCK outputs, odd and even; and the
   rows kernel (recon->wav_rows) of every ISA against mv__wav_rows_ref:
   1..10 taps, widths 0..150 floats (vector blocks and tails). */
MV_TEST(isa, wavelet_lines_match_reference)
{
    float *src = (float *)malloc(sizeof(float) * 2 * 700), *a = (float *)malloc(sizeof(float) * 2 * 700);
    float *b = (float *)malloc(sizeof(float) * 2 * 700);
    uint64_t seed = 11;
    int type, inv, lines = 0;
    int64_t n, q;
    REQUIRE(src && a && b);
    for (q = 0; q < 2 * 700; q++) src[q] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 4194304.0);
    for (type = MV_WAVELET_DAU2; type <= MV_WAVELET_CDF44; type++) {
        mv__wav_filter f;
        mv__wav_filter_make(type, &f);
        for (inv = 0; inv < 2; inv++)
            for (n = 1; n <= 300; n++) {
                mv__wav_pass p;
                const int64_t band = mv__wav_band(n, f.flen), nout = inv ? n : 2 * band;
                memset(&p, 0, sizeof(p));
                p.inner = 1;
                p.n_in = inv ? 2 * band : n;
                p.n_out = nout;
                p.band = band;
                p.flen = f.flen;
                p.inverse = inv;
                p.lo = f.f[inv][0];
                p.hi = f.f[inv][1];
                p.rows = mv__kernels_get()->recon->wav_rows;
                memset(a, 0xA5, sizeof(float) * 2 * 700);
                memset(b, 0x5A, sizeof(float) * 2 * 700);
                mv__wav_line_ref(&p, src, a);
                if (inv) mv__wav_line_inv(&p, src, b);
                else mv__wav_line_fwd(&p, src, b);
                EXPECT_MSG(!memcmp(a, b, sizeof(float) * 2 * (size_t)nout), "wavelet %d %s line n=%lld", type,
                           inv ? "inverse" : "forward", (long long)n);
                if (mvt_cur.failures) goto done;
                lines++;
            }
    }
    EXPECT(lines == 3 * 2 * 300);
    { /* the rows kernel of every ISA (lines and y / z passes) against its reference */
        isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
        const float *rows[10];
        int nt = t ? isa_tables(t) : 0, i, taps;
        int64_t w;
        REQUIRE(t);
        for (i = 0; i < nt; i++)
            for (taps = 1; taps <= 10; taps++)
                for (w = 0; w <= 150; w++) {
                    float fv[10];
                    int l;
                    for (l = 0; l < taps; l++) {
                        rows[l] = src + 7 * l + (w % 3); /* overlapping, unaligned rows */
                        fv[l] = src[600 + l];
                    }
                    memset(a, 0xA5, sizeof(float) * 2 * 700);
                    memset(b, 0x5A, sizeof(float) * 2 * 700);
                    mv__wav_rows_ref(rows, fv, taps, a, w);
                    t[i].k.recon->wav_rows(rows, fv, taps, b, w);
                    EXPECT_MSG(!memcmp(a, b, sizeof(float) * (size_t)w), "[%s] wav_rows taps=%d w=%lld",
                               mv_isa_name(t[i].isa), taps, (long long)w);
                    if (mvt_cur.failures) break;
                }
        free(t);
    }
done:
    free(src);
    free(a);
    free(b);
}

/* The Cartesian CG-SENSE normal operator with its centring folded into
   two sign passes (mv__cgs_fold_axes: even lengths) against the centred
   transforms it replaces (op.fold = 0: mv_fftc per coil), the same
   values bit for bit (zeros may differ in sign): 2D and 3D, a line mask
   (y / z transforms) and a point mask (every axis), one and two maps,
   1 and 3 threads; an odd length on a transformed axis keeps mv_fftc
   (9 x 8: the point mask's x, fold 0; the line mask transforms y alone). */
MV_TEST(isa, cgsense_folded_centring_matches_fftc)
{
    static const int64_t shapes[4][3] = {{16, 12, 1}, {8, 6, 4}, {10, 14, 2}, {9, 8, 1}};
    uint64_t seed = 5;
    int si, lines, nm, th, cases = 0;
    for (si = 0; si < 4; si++)
        for (lines = 0; lines < 2; lines++)
            for (nm = 1; nm <= 2; nm++)
                for (th = 1; th <= 3; th += 2) {
                    const int64_t *d = shapes[si], nc = 3, nvox = d[0] * d[1] * d[2];
                    const int64_t sd[5] = {d[0], d[1], d[2], nc, nm};
                    mv_vol sens;
                    mv_cg_opts o;
                    mv_cgsense_plan *pl = NULL;
                    mv__cgs_work w;
                    mv__cgs_op op;
                    unsigned char *work;
                    float *k, *x, *y1, *y2, *b;
                    int64_t i, c, bad = 0;
                    mv_vol_init(&sens);
                    REQUIRE(mv_vol_alloc(&sens, MV_DT_C64, nm > 1 ? 5 : 4, sd, NULL) == MV_OK);
                    for (i = 0; i < 2 * nvox * nc * nm; i++)
                        ((float *)sens.data)[i] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 8388608.0);
                    memset(&o, 0, sizeof(o));
                    o.threads = th;
                    REQUIRE(mv_cgsense_plan_make(&pl, &sens, NULL, &o) == MV_OK);
                    work = (unsigned char *)malloc(mv__cgs_work_bytes(pl, th, NULL));
                    k = (float *)calloc((size_t)(2 * nvox * nc), sizeof(float));
                    x = (float *)malloc(sizeof(float) * 2 * (size_t)(nvox * nm));
                    y1 = (float *)malloc(sizeof(float) * 2 * (size_t)(nvox * nm));
                    y2 = (float *)malloc(sizeof(float) * 2 * (size_t)(nvox * nm));
                    b = (float *)malloc(sizeof(float) * 2 * (size_t)(nvox * nm));
                    REQUIRE(work && k && x && y1 && y2 && b);
                    for (i = 0; i < nvox; i++) { /* lines: every other y (constant along x); else random points */
                        const int keep = lines ? (i / d[0]) % 2 == 0 : (int)(tu_rand(&seed) % 100) < 45;
                        for (c = 0; keep && c < nc; c++) {
                            k[2 * (c * nvox + i)] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 8388608.0);
                            k[2 * (c * nvox + i) + 1] = 0.25f;
                        }
                    }
                    for (i = 0; i < 2 * nvox * nm; i++) x[i] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 8388608.0);
                    mv__cgs_work_split(pl, th, work, &w);
                    mv__cgs_op_init(pl, 0, &w, th, &op);
                    REQUIRE(mv__cgs_adjoint(&op, k, b) == MV_OK);
                    EXPECT_MSG((op.fold != 0) == (si != 3 || lines), "shape %d lines %d: fold 0x%x", si, lines, op.fold); /* 9 x 8: y alone is even */
                    REQUIRE(mv__cgs_normal(&op, x, y1, nvox * nm) == MV_OK);
                    op.fold = 0; /* the centred transforms */
                    REQUIRE(mv__cgs_normal(&op, x, y2, nvox * nm) == MV_OK);
                    for (i = 0; i < 2 * nvox * nm; i++) bad += !(y1[i] == y2[i]);
                    EXPECT_MSG(bad == 0, "shape %d lines %d maps %d threads %d: %lld values differ", si, lines, nm, th,
                               (long long)bad);
                    free(work), free(k), free(x), free(y1), free(y2), free(b);
                    mv_cgsense_plan_free(pl);
                    mv_free(&sens);
                    cases++;
                    if (mvt_cur.failures) return;
                }
    EXPECT(cases == 32);
}

MV_TEST(isa, grappa_rows_match_reference)
{
    static const int64_t ns_[] = {1, 3, 7, 33};
    static const int64_t segs[] = {1, 2, 4};
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    float *w = (float *)malloc(sizeof(float) * (2 * 132 * 4 * 33 + 64)), *xs = (float *)malloc(sizeof(float) * 4 * 4 * 2 * 33);
    float *a = (float *)malloc(sizeof(float) * 4 * 2 * 66), *b = (float *)malloc(sizeof(float) * 4 * 2 * 66);
    int nt = isa_tables(t), i, gi, si, r;
    int64_t n, q;
    uint64_t seed = 7;
    REQUIRE(t && w && xs && a && b);
    mv__kt_fill_ref(&ref);
    for (q = 0; q < 2 * 132 * 4 * 33 + 64; q++) w[q] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 4194304.0);
    for (q = 0; q < 4 * 4 * 2 * 33; q++) xs[q] = (float)((double)(int64_t)(tu_rand(&seed) >> 40) / 4194304.0);
    for (i = 0; i < nt; i++)
        for (n = 0; n <= 66; n++)
            for (si = 0; si < 4; si++)
                for (gi = 0; gi < 3; gi++)
                    for (r = 0; r < 2; r++) {
                        const int64_t nseg = segs[gi], seg = ns_[si], ldw = 2 * n + (r ? 6 : 0);
                        const float *src[16];
                        float *da[4], *db[4];
                        int k, g;
                        for (k = 0; k < 4; k++) {
                            const int row = r && k == 3 ? 2 : k; /* r: the last row repeats the third */
                            for (g = 0; g < nseg; g++) src[k * nseg + g] = xs + 2 * ((row * 4 + (3 - g)) * 33);
                            da[k] = a + 2 * 66 * row;
                            db[k] = b + 2 * 66 * row;
                        }
                        memset(a, 0xA5, sizeof(float) * 4 * 2 * 66);
                        memset(b, 0xA5, sizeof(float) * 4 * 2 * 66);
                        ref.recon->gr_rows(w + (r ? 3 : 0), ldw, nseg, seg, n, src, da);
                        t[i].k.recon->gr_rows(w + (r ? 3 : 0), ldw, nseg, seg, n, src, db);
                        EXPECT_MSG(!memcmp(a, b, sizeof(float) * 4 * 2 * 66), "[%s] gr_rows n=%lld seg=%lld nseg=%lld rep=%d",
                                   mv_isa_name(t[i].isa), (long long)n, (long long)seg, (long long)nseg, r);
                        if (mvt_cur.failures) goto done;
                    }
done:
    free(t);
    free(w);
    free(xs);
    free(a);
    free(b);
}

/* GRAPPA calibration's conjugated float64 product (>>pass-recon): row and
   column counts around every block size, strides wider than the block,
   K = 0, 1 and longer; accumulating into nonzero outputs; bit for bit */
MV_TEST(isa, grappa_zgram_match_reference)
{
    static const int64_t ks[] = {0, 1, 2, 5, 33};
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    double *x = (double *)malloc(sizeof(double) * 33 * 2 * 24), *y = (double *)malloc(sizeof(double) * 33 * 2 * 24);
    double *a = (double *)malloc(sizeof(double) * 19 * 2 * 24), *b = (double *)malloc(sizeof(double) * 19 * 2 * 24);
    double *o = (double *)malloc(sizeof(double) * 19 * 2 * 24);
    int nt = isa_tables(t), i, ki;
    int64_t m, n, q;
    uint64_t seed = 11;
    REQUIRE(t && x && y && a && b && o);
    mv__kt_fill_ref(&ref);
    for (q = 0; q < 33 * 2 * 24; q++) {
        x[q] = (double)(int64_t)(tu_rand(&seed) >> 20) / 1048576.0;
        y[q] = (double)(int64_t)(tu_rand(&seed) >> 20) / 1048576.0;
    }
    for (q = 0; q < 19 * 2 * 24; q++) o[q] = (double)(int64_t)(tu_rand(&seed) >> 30) / 1024.0;
    for (i = 0; i < nt; i++)
        for (ki = 0; ki < 5; ki++)
            for (m = 0; m <= 19; m++)
                for (n = 0; n <= 21; n++) {
                    const int64_t K = ks[ki];
                    memcpy(a, o, sizeof(double) * 19 * 2 * 24);
                    memcpy(b, o, sizeof(double) * 19 * 2 * 24);
                    /* strides of 24 complex: wider than m and n */
                    ref.recon->zgram(a + 2, 48, x + 2, 48, y + 4, 48, K, m, n);
                    t[i].k.recon->zgram(b + 2, 48, x + 2, 48, y + 4, 48, K, m, n);
                    EXPECT_MSG(!memcmp(a, b, sizeof(double) * 19 * 2 * 24), "[%s] zgram K=%lld m=%lld n=%lld",
                               mv_isa_name(t[i].isa), (long long)K, (long long)m, (long long)n);
                    if (mvt_cur.failures) goto done;
                }
done:
    free(t);
    free(x);
    free(y);
    free(a);
    free(b);
    free(o);
}

/* ESPIRiT's kernels (>>pass-recon): the conj-axpy of its transforms, the
   tridiagonalisation row (update and product, update only, product only),
   the QL rotations at lengths around every vector width, and the per-voxel
   kernel over coil counts, one and two maps, phase counts, lane subsets,
   the crop cut (trace and Frobenius) and iteration caps, on Gram matrices
   that converge at once, slowly, or not at all; bit for bit (the voxel
   kernel: the lanes it reports computed, and that report) */
static double ec_rnd(uint64_t *s) { return (double)(int64_t)(tu_rand(s) >> 11) / 4503599627370496.0 - 1.0; }

MV_TEST(isa, espirit_kernels_match_reference)
{
    static const int ncs[] = {1, 2, 3, 8, 9};
    static const int gxs[] = {1, 3, 11};
    static const unsigned acts[] = {0xFFu, 0x5Au, 0x01u, 0x80u};
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    double *x = (double *)malloc(sizeof(double) * 8 * 40), *a = (double *)malloc(sizeof(double) * 4 * 40);
    double *b = (double *)malloc(sizeof(double) * 4 * 40);
    double *tt = (double *)malloc(sizeof(double) * 11 * 2 * 45), *px = (double *)malloc(sizeof(double) * 11 * 16);
    double *sa = (double *)malloc(sizeof(double) * 2000), *sb = (double *)malloc(sizeof(double) * 2000);
    int nt = isa_tables(t), i, mode, ni, gi, ai, it, ci, mm;
    int64_t n, q;
    uint64_t seed = 13;
    REQUIRE(t && x && a && b && tt && px && sa && sb);
    mv__kt_fill_ref(&ref);
    for (i = 0; i < nt; i++)
        for (n = 0; n <= 35; n++) {
            const double ab[4] = {ec_rnd(&seed), ec_rnd(&seed), ec_rnd(&seed), ec_rnd(&seed)}, w[2] = {ec_rnd(&seed), ec_rnd(&seed)};
            for (q = 0; q < 8 * 40; q++) x[q] = ec_rnd(&seed);
            /* zger */
            memcpy(a, x, sizeof(double) * 80), memcpy(b, x, sizeof(double) * 80);
            ref.recon->zger(a, a + 40, x + 80, x + 120, ab[0], ab[1], n);
            t[i].k.recon->zger(b, b + 40, x + 80, x + 120, ab[0], ab[1], n);
            EXPECT_MSG(!memcmp(a, b, sizeof(double) * 80), "[%s] zger n=%lld", mv_isa_name(t[i].isa), (long long)n);
            /* the tridiagonalisation row: rows a[0..40) / a[40..80), p a[80..120) / a[120..160) */
            for (mode = 0; mode < 3; mode++) {
                const int upd = mode != 2, acc = mode != 1;
                memcpy(a, x, sizeof(double) * 160), memcpy(b, x, sizeof(double) * 160);
                ref.recon->ec_her2(a, a + 40, upd ? x + 160 : NULL, x + 200, x + 240, x + 280, ab, acc ? a + 80 : NULL, a + 120, w, n);
                t[i].k.recon->ec_her2(b, b + 40, upd ? x + 160 : NULL, x + 200, x + 240, x + 280, ab, acc ? b + 80 : NULL, b + 120, w, n);
                EXPECT_MSG(!memcmp(a, b, sizeof(double) * 160), "[%s] ec_her2 n=%lld mode %d", mv_isa_name(t[i].isa), (long long)n, mode);
            }
            /* the rotations */
            memcpy(a, x, sizeof(double) * 80), memcpy(b, x, sizeof(double) * 80);
            ref.recon->ec_rot(a, a + 40, ab[0], ab[1], n);
            t[i].k.recon->ec_rot(b, b + 40, ab[0], ab[1], n);
            EXPECT_MSG(!memcmp(a, b, sizeof(double) * 80), "[%s] ec_rot n=%lld", mv_isa_name(t[i].isa), (long long)n);
            if (mvt_cur.failures) goto done;
        }
    for (i = 0; i < nt; i++)
        for (ni = 0; ni < 5; ni++)
            for (gi = 0; gi < 3; gi++)
                for (ai = 0; ai < 4; ai++)
                    for (it = 0; it < 3; it++)
                        for (ci = 0; ci < 4; ci++)
                            for (mm = 1; mm <= 2; mm++) {
                                const int64_t nc = ncs[ni], gx = gxs[gi], E = nc * (nc + 1) / 2, L = MV__EC_LANES;
                                mv__ec_vox va, vb;
                                unsigned ka, kb;
                                int64_t l, k2;
                                if (mm > nc) continue;
                                /* T[0] = u u^H (lower triangle) + noise, the other lags smaller;
                                   kind it: 0 a dominant eigenvalue (converges at once), 1 two
                                   near ones (slow), 2 random (no order) */
                                for (q = 0; q < 2 * gx * E; q++) tt[q] = (it == 2 ? 1.0 : 0.01) * ec_rnd(&seed);
                                if (it < 2) {
                                    double u[2 * 9], u2[2 * 9];
                                    int64_t c, c2, e = 0;
                                    for (c = 0; c < 2 * nc; c++) u[c] = ec_rnd(&seed), u2[c] = ec_rnd(&seed);
                                    for (c = 0; c < nc; c++)
                                        for (c2 = 0; c2 <= c; c2++, e++) { /* u_c conj(u_c2) (+ 0.98 u2 u2^H) */
                                            tt[e] += u[2 * c] * u[2 * c2] + u[2 * c + 1] * u[2 * c2 + 1];
                                            tt[E + e] += u[2 * c + 1] * u[2 * c2] - u[2 * c] * u[2 * c2 + 1];
                                            if (it == 1) {
                                                tt[e] += 0.98 * (u2[2 * c] * u2[2 * c2] + u2[2 * c + 1] * u2[2 * c2 + 1]);
                                                tt[E + e] += 0.98 * (u2[2 * c + 1] * u2[2 * c2] - u2[2 * c] * u2[2 * c2 + 1]);
                                            }
                                        }
                                }
                                for (q = 0; q < gx * L; q++) { /* unit phases */
                                    const double ang = 6.283185307179586 * tu_rand01(&seed);
                                    px[(q / L) * 2 * L + q % L] = cos(ang);
                                    px[(q / L) * 2 * L + L + q % L] = sin(ang);
                                }
                                va.nc = nc, va.gx = gx, va.maps = mm, va.iters = it == 0 ? 30 : it == 1 ? 7 : 30;
                                va.t = tt, va.px = px, va.act = acts[ai];
                                va.cut = ci > 0;
                                va.crop = ci == 1 ? 0.0 : ci == 2 ? 0.3 * (double)nc : 1e9;
                                vb = va;
                                memset(sa, 0, sizeof(double) * 2000);
                                memset(sb, 0, sizeof(double) * 2000);
                                va.g = sa, va.w = sa + 2 * L * E, va.v = va.w + 2 * L * 2 * nc, va.lam = va.v + 2 * L * 2 * nc;
                                vb.g = sb, vb.w = sb + 2 * L * E, vb.v = vb.w + 2 * L * 2 * nc, vb.lam = vb.v + 2 * L * 2 * nc;
                                ka = ref.recon->ec_vox(&va);
                                kb = t[i].k.recon->ec_vox(&vb);
                                EXPECT_MSG(ka == kb && (ka & ~acts[ai]) == 0, "[%s] ec_vox lanes %x vs %x", mv_isa_name(t[i].isa), kb, ka);
                                for (l = 0; l < L; l++) {
                                    if (!(ka >> l & 1u)) continue;
                                    for (k2 = 0; k2 < mm; k2++) EXPECT(!memcmp(&va.lam[k2 * L + l], &vb.lam[k2 * L + l], sizeof(double)));
                                    for (k2 = 0; k2 < mm * nc; k2++) {
                                        EXPECT(!memcmp(&va.v[k2 * 2 * L + l], &vb.v[k2 * 2 * L + l], sizeof(double)));
                                        EXPECT(!memcmp(&va.v[k2 * 2 * L + L + l], &vb.v[k2 * 2 * L + L + l], sizeof(double)));
                                    }
                                }
                                if (mvt_cur.failures) {
                                    MVT_FAIL("[%s] ec_vox nc=%lld gx=%lld act=%x kind %d cut %d maps %d", mv_isa_name(t[i].isa),
                                             (long long)nc, (long long)gx, acts[ai], it, ci, mm);
                                    goto done;
                                }
                            }
done:
    free(t);
    free(x);
    free(a);
    free(b);
    free(tt);
    free(px);
    free(sa);
    free(sb);
}

/* The locally low rank blocks' kernel (>>pass-recon, mv__llr_lanes):
   tall, square and wide blocks (k from 1 to 12), lane subsets, BART's
   bound on or off (exact), thresholds that keep every singular value,
   some, or none, on random, nearly rank-one, all-zero and BART-bound
   blocks (columns c (1, i): their unconjugated products cancel, so the
   bound drops them though their singular values pass the threshold): the
   lanes kept and their matrices bit for bit against the reference */
MV_TEST(isa, llr_kernels_match_reference)
{
    static const int64_t shapes[][2] = {{64, 8}, {16, 8}, {8, 8}, {4, 8}, {1, 5}, {5, 1}, {27, 3}, {3, 27}, {40, 12}};
    static const unsigned acts[] = {0xFFu, 0x5Au, 0x01u, 0x80u, 0x00u};
    const int64_t L = MV__LLR_LANES, S = 2 * MV__LLR_LANES, cap = 64 * 8 * S, kcap = 12 * 12 * S;
    isa_table *t = (isa_table *)malloc(8 * sizeof(isa_table));
    mv__kernels ref;
    double *a0 = (double *)malloc(sizeof(double) * (size_t)cap), *ra = (double *)malloc(sizeof(double) * (size_t)(cap + 3 * kcap));
    double *va = (double *)malloc(sizeof(double) * (size_t)(cap + 3 * kcap));
    int nt = isa_tables(t), i, si, ai, ki, ti, ex;
    uint64_t seed = 29;
    REQUIRE(t && a0 && ra && va);
    mv__kt_fill_ref(&ref);
    for (si = 0; si < (int)(sizeof(shapes) / sizeof(shapes[0])); si++)
        for (ki = 0; ki < 4; ki++)
            for (ti = 0; ti < 3; ti++)
                for (ex = 0; ex < 2; ex++)
                    for (ai = 0; ai < 5; ai++) {
                        const int64_t M = shapes[si][0], N = shapes[si][1], mn = M * N;
                        int64_t e, l;
                        double big = 0;
                        mv__llr_lanes la, lb;
                        unsigned ka;
                        /* kind ki: 0 random, 1 rank one + 1e-3 noise, 2 lane 3 all zero
                           (else random), 3 BART-bound columns c_j (1, i) in the odd lanes */
                        for (l = 0; l < L; l++) {
                            double u[2 * 64], w[2 * 64];
                            for (e = 0; e < 2 * M; e++) u[e] = ec_rnd(&seed);
                            for (e = 0; e < 2 * N; e++) w[e] = ec_rnd(&seed);
                            for (e = 0; e < mn; e++) {
                                const int64_t r = e % M, c = e / M;
                                double re = ec_rnd(&seed), im = ec_rnd(&seed);
                                if (ki == 1) {
                                    re = u[2 * r] * w[2 * c] - u[2 * r + 1] * w[2 * c + 1] + 1e-3 * re;
                                    im = u[2 * r] * w[2 * c + 1] + u[2 * r + 1] * w[2 * c] + 1e-3 * im;
                                } else if (ki == 2 && l == 3) {
                                    re = im = 0;
                                } else if (ki == 3 && (l & 1)) { /* rows r: x_r (1 or i), the same along a column */
                                    const int odd = (int)((N <= M ? r : c) & 1);
                                    re = odd ? 0 : w[2 * (N <= M ? c : r % N)];
                                    im = odd ? w[2 * (N <= M ? c : r % N)] : 0;
                                }
                                a0[e * S + l] = re, a0[e * S + L + l] = im;
                                big = MV__MAX(big, fabs(re) + fabs(im));
                            }
                        }
                        la.M = M, la.N = N, la.lanes = L, la.act = acts[ai], la.exact = ex;
                        /* ti: 0 keeps every value, 1 some (about the median), 2 none */
                        la.thr = ti == 0 ? 0.0f : ti == 1 ? (float)(0.6 * big * sqrt((double)MV__MIN(M, N))) : (float)(1e3 * big * (double)mn);
                        lb = la;
                        la.a = ra, la.g = ra + cap, la.v = la.g + kcap, la.p = la.v + kcap;
                        lb.a = va, lb.g = va + cap, lb.v = lb.g + kcap, lb.p = lb.v + kcap;
                        memcpy(ra, a0, sizeof(double) * (size_t)(mn * S));
                        ka = ref.recon->llr_svt(&la);
                        EXPECT_MSG((ka & ~acts[ai]) == 0, "llr_svt kept %x of %x", ka, acts[ai]);
                        if (ti == 0 && ki != 2) EXPECT_MSG(ka == acts[ai], "threshold 0 kept %x of %x", ka, acts[ai]);
                        if (ti == 1 && ki == 3 && M == 64) /* the odd lanes' rank-one blocks: dropped unseen by BART's bound */
                            EXPECT_MSG((ka & 0xAAu) == (ex ? (acts[ai] & 0xAAu) : 0u), "BART's bound: kept %x of %x (exact %d)", ka,
                                       acts[ai], ex);
                        if (ti == 2) EXPECT_MSG(ka == 0, "huge threshold kept %x", ka);
                        for (i = 0; i < nt; i++) {
                            unsigned kb;
                            memcpy(va, a0, sizeof(double) * (size_t)(mn * S));
                            kb = t[i].k.recon->llr_svt(&lb);
                            EXPECT_MSG(ka == kb, "[%s] llr_svt lanes %x vs %x", mv_isa_name(t[i].isa), kb, ka);
                            for (l = 0; l < L; l++) {
                                if (!(ka >> l & 1u)) continue;
                                for (e = 0; e < mn; e++)
                                    if (memcmp(&ra[e * S + l], &va[e * S + l], sizeof(double)) ||
                                        memcmp(&ra[e * S + L + l], &va[e * S + L + l], sizeof(double))) {
                                        MVT_FAIL("[%s] llr_svt lane %lld element %lld", mv_isa_name(t[i].isa), (long long)l, (long long)e);
                                        break;
                                    }
                            }
                            if (mvt_cur.failures) {
                                MVT_FAIL("[%s] llr_svt M=%lld N=%lld kind %d thr %d exact %d act %x", mv_isa_name(t[i].isa),
                                         (long long)M, (long long)N, ki, ti, ex, acts[ai]);
                                goto done;
                            }
                        }
                    }
done:
    free(t);
    free(a0);
    free(ra);
    free(va);
}

/* ESPIRiT's eigensolver (>>impl-recon: Householder rows, QL with its
   rotations replayed on the kept vectors) against numpy's eigh
   (tests/py/ref_recon.py): the eigenvalues and the projector onto the kept
   eigenvectors, for Gram matrices B^H B with a gap at the threshold, rank
   deficient ones (zero eigenvalues), diagonal ones (nothing to reduce),
   n = 1, 2, 3 and larger; every ISA and 1, 2, 3 threads give the
   reference ISA's bytes */
MV_TEST(isa, espirit_eigen_matches_numpy)
{
    static const int64_t ns[] = {1, 2, 3, 5, 17, 40, 97};
    enum { NCASE = 21 };
    tu_batch r;
    double *mat[NCASE], *wref[NCASE], *yref[NCASE];
    int64_t nn[NCASE], nks[NCASE], i, j, q;
    mv_isa best = mv_isa_active();
    unsigned avail = mv_isa_available();
    int nc = 0, ni, kind, id, isa, th;
    uint64_t seed = 17;
    double ewmax = 0, epmax = 0;
    if (!tu_python("numpy") || !tu_batch_open(&r, "isa_espirit_eigen")) {
        mvt_skip("numpy (python3 with numpy) not found");
        return;
    }
    for (ni = 0; ni < 7; ni++)
        for (kind = 0; kind < 3; kind++) {
            const int64_t n = ns[ni], K = kind == 2 ? n / 2 + 1 : n + 7;
            double *b = (double *)calloc((size_t)(2 * K * n), sizeof(double)), *a = (double *)calloc((size_t)(2 * n * n), sizeof(double));
            double *w = (double *)malloc((size_t)n * sizeof(double)), *ar = (double *)malloc((size_t)(2 * n * n) * sizeof(double)), *y = NULL;
            mv_status st;
            REQUIRE(b && a && w && ar);
            for (q = 0; q < K; q++) /* kind 0: columns past n / 3 scaled by 1e-3 (a gap of 1e-6 in the eigenvalues) */
                for (j = 0; j < n; j++) {
                    const double sc = kind == 0 && j > n / 3 ? 1e-3 : 1.0;
                    if (kind == 1 && q != j) continue; /* diagonal: B = diag */
                    b[2 * (q * n + j)] = sc * (kind == 1 ? (j < (n + 1) / 2 ? 1.0 + (double)j : 1e-4) : tu_rand01(&seed) * 2 - 1);
                    b[2 * (q * n + j) + 1] = kind == 1 ? 0.0 : sc * (tu_rand01(&seed) * 2 - 1);
                }
            for (i = 0; i < n; i++) /* a = B^H B */
                for (j = 0; j < n; j++)
                    for (q = 0; q < K; q++) {
                        const double *x = b + 2 * (q * n + i), *z = b + 2 * (q * n + j);
                        a[2 * (i * n + j)] += x[0] * z[0] + x[1] * z[1];
                        a[2 * (i * n + j) + 1] += x[0] * z[1] - x[1] * z[0];
                    }
            for (i = 0; i < n * n; i++) ar[i] = a[2 * i], ar[n * n + i] = i % (n + 1) == 0 ? 0.0 : a[2 * i + 1];
            mv_set_isa(MV_ISA_REF);
            st = mv__ec_eigen(ar, ar + n * n, n, 1e-3, w, &nks[nc], &y, 1, NULL, NULL);
            EXPECT_MSG(st == MV_OK, "eigen n=%lld kind %d: %s", (long long)n, kind, mv_last_error());
            if (st != MV_OK) goto out;
            id = tu_batch_case(&r);
            fprintf(r.list, "%lld %lld\n", (long long)n, (long long)nks[nc]);
            tu_batch_write(&r, id, "a", a, (size_t)(2 * n * n) * sizeof(double));
            mat[nc] = a, a = NULL, wref[nc] = w, w = NULL, yref[nc] = y, y = NULL, nn[nc] = n;
            /* the same bytes on every ISA and thread count */
            for (isa = 0; isa < 16; isa++) {
                if (!(avail & (1u << isa))) continue;
                REQUIRE_OK(mv_set_isa((mv_isa)isa));
                for (th = 1; th <= 3; th++) {
                    double *w2 = (double *)malloc((size_t)n * sizeof(double)), *y2 = NULL;
                    int64_t nk2 = -1;
                    for (i = 0; i < n * n; i++) ar[i] = mat[nc][2 * i], ar[n * n + i] = i % (n + 1) == 0 ? 0.0 : mat[nc][2 * i + 1];
                    REQUIRE_OK(mv__ec_eigen(ar, ar + n * n, n, 1e-3, w2, &nk2, &y2, th, NULL, NULL));
                    EXPECT_MSG(nk2 == nks[nc] && !memcmp(w2, wref[nc], (size_t)n * sizeof(double)) &&
                                   !memcmp(y2, yref[nc], (size_t)(2 * n * nk2) * sizeof(double)),
                               "eigen n=%lld kind %d: %s with %d threads differs from the reference", (long long)n, kind,
                               mv_isa_name((mv_isa)isa), th);
                    free(w2);
                    mv__free(y2, NULL);
                }
            }
            nc++;
        out:
            free(b);
            free(a);
            free(w);
            free(ar);
            mv__free(y, NULL);
        }
    mv_set_isa(best);
    if (tu_batch_run(&r, "ref_recon.py eigh"))
        for (id = 0; id < nc; id++) {
            const int64_t n = nn[id], nk = nks[id];
            double *wn = (double *)tu_batch_read(&r, id, "w", (size_t)n * sizeof(double));
            double *pn = (double *)tu_batch_read(&r, id, "p", (size_t)(2 * n * n) * sizeof(double));
            double ew = 0, ep = 0;
            int64_t knp = 0;
            if (wn && pn) {
                const double *yr = yref[id], *yi = yr + n * nk;
                while (knp < n && wn[n - 1 - knp] / wn[n - 1] > 1e-3) knp++;
                for (i = 0; i < n; i++) ew = fmax(ew, fabs(wref[id][i] - wn[i]) / wn[n - 1]);
                for (i = 0; i < n; i++) /* |Y Y^H - P| */
                    for (j = 0; j < n; j++) {
                        double pr = 0, pim = 0;
                        for (q = 0; q < nk; q++) {
                            pr += yr[i * nk + q] * yr[j * nk + q] + yi[i * nk + q] * yi[j * nk + q];
                            pim += yi[i * nk + q] * yr[j * nk + q] - yr[i * nk + q] * yi[j * nk + q];
                        }
                        ep = fmax(ep, hypot(pr - pn[2 * (i * n + j)], pim - pn[2 * (i * n + j) + 1]));
                    }
                EXPECT_MSG(knp == nk, "eigen case %d (n=%lld): %lld kept, numpy's eigenvalues keep %lld", id, (long long)n,
                           (long long)nk, (long long)knp);
                EXPECT_MSG(ew < 1e-12, "eigen case %d (n=%lld): eigenvalues off numpy's by %.3g of the largest", id, (long long)n, ew);
                EXPECT_MSG(ep < 1e-9, "eigen case %d (n=%lld, %lld kept): projector off numpy's by %.3g", id, (long long)n,
                           (long long)nk, ep);
            }
            ewmax = fmax(ewmax, ew), epmax = fmax(epmax, ep);
            free(wn);
            free(pn);
        }
    printf("    eigensolver vs numpy: eigenvalues within %.2e of the largest, kept projectors within %.2e\n", ewmax, epmax);
    for (id = 0; id < nc; id++) {
        free(mat[id]);
        free(wref[id]);
        mv__free(yref[id], NULL);
    }
}

/* the reference itself: byte swap reverses, and twice is the identity */
MV_TEST(isa, reference_bswap)
{
    unsigned char x[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, y[16];
    memcpy(y, x, 16);
    mv__bswap4_ref(y, 4);
    EXPECT(y[0] == 4 && y[3] == 1 && y[4] == 8 && y[15] == 13);
    mv__bswap4_ref(y, 4);
    EXPECT(memcmp(x, y, 16) == 0);
    mv__bswap16_ref(y, 1);
    EXPECT(y[0] == 16 && y[15] == 1);
}

/* CRC-32 of "123456789" is 0xCBF43926 (the standard check value), in one
   call or in pieces, on every ISA */
MV_TEST(isa, crc32_check_value)
{
    isa_table t[8];
    mv__kernels ref;
    int nt, i;
    mv__kernels_get(); /* tables */
    mv__kt_fill_ref(&ref);
    EXPECT(ref.crc32(0, "123456789", 9) == 0xCBF43926u);
    EXPECT(ref.crc32(ref.crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    EXPECT(ref.crc32(0, "", 0) == 0);
    nt = isa_tables(t);
    for (i = 0; i < nt; i++) {
        static unsigned char big[1000];
        size_t k;
        for (k = 0; k < sizeof(big); k++) big[k] = (unsigned char)"123456789"[k % 9];
        EXPECT(t[i].k.crc32(0, "123456789", 9) == 0xCBF43926u);
        EXPECT_MSG(t[i].k.crc32(0, big, sizeof(big)) == ref.crc32(0, big, sizeof(big)), "[%s] crc32 of 1000 bytes",
                   mv_isa_name(t[i].isa));
    }
#if defined(MV__BUILD_AVX512)
    /* the table holds one of AVX-512's two versions (VPCLMULQDQ or not):
       the other one too, on lengths around its 256-byte steps */
    if (mv__detect_cpu().runnable & (1u << MV_ISA_AVX512)) {
        static unsigned char data[5000];
        size_t n;
        for (n = 0; n < sizeof(data); n++) data[n] = (unsigned char)(n * 7 + n / 13);
        for (n = 0; n < sizeof(data); n += n < 600 ? 1 : 97) {
            EXPECT_MSG(mv__crc32_avx512(5, data, n) == ref.crc32(5, data, n), "avx512 crc32 n=%zu", n);
            if (mv__cpu_info.vpclmul)
                EXPECT_MSG(mv__crc32_vpclmul_avx512(5, data, n) == ref.crc32(5, data, n), "vpclmul crc32 n=%zu", n);
        }
    }
#endif
}

/* Random complete prefix codes over n symbols (286 literal/lengths, 30
   distances): start from one empty codeword and split random leaves
   shorter than 15 bits. */
static void random_complete_code(uint8_t *cl, unsigned n, uint64_t *seed)
{
    unsigned leaves = 1, i;
    cl[0] = 0;
    while (leaves < n) {
        unsigned k = (unsigned)(tu_rand(seed) % leaves);
        /* skewed like image data (a few short codes, many long ones):
           mostly split what is already long */
        if (tu_rand(seed) % 8 && cl[k] < 5) continue;
        if (cl[k] >= 15) continue;
        cl[k]++;
        cl[leaves++] = cl[k];
    }
    for (i = n - 1; i > 0; i--) { /* shuffle which symbol gets which length */
        unsigned j = (unsigned)(tu_rand(seed) % (i + 1));
        uint8_t t = cl[i];
        cl[i] = cl[j];
        cl[j] = t;
    }
}

/* The symbol whose codeword (canonical, sent MSB first) starts the bit
   string bits (LSB first), found by brute force; its length in *len. */
static int brute_decode(const uint8_t *cl, unsigned n, unsigned bits, unsigned *len)
{
    unsigned l, s, code = 0;
    for (l = 1; l <= 15; l++) {
        for (s = 0; s < n; s++) {
            unsigned b, rev = 0;
            if (cl[s] != l) continue;
            for (b = 0; b < l; b++) rev |= ((code >> b) & 1u) << (l - 1 - b);
            if ((bits & ((1u << l) - 1)) == rev) {
                *len = l;
                return (int)s;
            }
            code++;
        }
        code <<= 1;
    }
    return -1;
}

/* Combined entries (literal pairs, lengths fused with their distance):
   the reference agrees with a brute-force decoder of the two codes, and
   every ISA's kernel gives the reference's table. */
MV_TEST(isa, combined_litlen_entries)
{
    static const uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,    25,
                                           33,   49,   65,   97,   129,  193,   257,   385,   513,   769,
                                           1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385, 24577};
    isa_table t[8];
    mv__kernels ref;
    /* as the inflater holds them: literal/length table, then distances */
    static uint32_t built[MV__LITLEN_ENOUGH + MV__DIST_ENOUGH], want[MV__LITLEN_ENOUGH + MV__DIST_ENOUGH],
        got[MV__LITLEN_ENOUGH + MV__DIST_ENOUGH];
    const uint32_t *dist = built + MV__LITLEN_ENOUGH;
    uint8_t cl[286], dl[30];
    uint64_t seed = 12345;
    int nt, round, i;
    unsigned idx, pairs = 0, fused = 0;
    mv__kernels_get();
    mv__kt_fill_ref(&ref);
    nt = isa_tables(t);
    for (round = 0; round < 60; round++) {
        random_complete_code(cl, 286, &seed);
        random_complete_code(dl, 30, &seed);
        if (cl[256] == 0) continue;
        REQUIRE(mv__build_table(built, MV__LITLEN_ENOUGH, MV__LITLEN_ROOT, cl, 286, MV__CODE_LITLEN) == NULL);
        REQUIRE(mv__build_table(built + MV__LITLEN_ENOUGH, MV__DIST_ENOUGH, MV__DIST_ROOT, dl, 30, MV__CODE_DIST) == NULL);
        memcpy(want, built, sizeof(built));
        ref.combine_litlen(want, MV__LITLEN_ROOT);
        for (idx = 0; idx < (1u << MV__LITLEN_ROOT); idx++) {
            unsigned la = 0, lb = 0, ld = 0;
            uint32_t w = want[idx];
            int a = brute_decode(cl, 286, idx, &la);
            int b = a >= 0 && a < 256 && la < MV__LITLEN_ROOT ? brute_decode(cl, 286, idx >> la, &lb) : -1;
            int ds = a >= 257 && a <= 264 && la < MV__LITLEN_ROOT ? brute_decode(dl, 30, idx >> la, &ld) : -1;
            unsigned dextra = ds >= 4 ? (unsigned)(ds - 2) / 2 : 0;
            int is_pair = b >= 0 && b < 256 && la + lb <= MV__LITLEN_ROOT;
            int is_fused = ds >= 0 && ld <= MV__DIST_ROOT && la + ld <= MV__LITLEN_ROOT && la + ld + dextra <= 23;
            pairs += (unsigned)is_pair;
            fused += (unsigned)is_fused;
            EXPECT_MSG(!!(w & MV__E_PAIR) == (is_pair || is_fused), "round %d index %u: pair %d fused %d", round, idx,
                       is_pair, is_fused);
            if (is_pair)
                EXPECT_MSG(MV__E_VALUE(w) == ((unsigned)a | (unsigned)b << 8) && MV__E_TOTAL(w) == la + lb,
                           "round %d index %u: literals %d %d", round, idx, a, b);
            else if (is_fused)
                EXPECT_MSG(MV__E_KIND(w) == MV__E_LENDIST && ((w >> 16) & 0xff) == (unsigned)(a - 254) &&
                               MV__E_VALUE(dist[w >> 24]) == dist_base[ds] && MV__E_CODE(w) == la + ld &&
                               MV__E_TOTAL(w) == la + ld + dextra,
                           "round %d index %u: length symbol %d, distance symbol %d", round, idx, a, ds);
            else
                EXPECT_MSG(w == built[idx], "round %d index %u changed", round, idx);
        }
        for (i = 0; i < nt; i++) {
            memcpy(got, built, sizeof(built));
            t[i].k.combine_litlen(got, MV__LITLEN_ROOT);
            EXPECT_MSG(memcmp(got, want, sizeof(want)) == 0, "[%s] combine_litlen round %d", mv_isa_name(t[i].isa), round);
        }
        if (mvt_cur.failures) break;
    }
    EXPECT_MSG(pairs > 1000 && fused > 1000, "only %u pair and %u fused entries: the test would not see a wrong one", pairs,
               fused);
}

/* ---- one gzip member on several threads: the engine itself ----
   (>>impl-gzip; this file's copy splits reads of 512 KiB.) On files from
   zlib, gzip(1) and pigz (tests/py/ref_gzpar.py), taken to their data and
   handed to the parallel decoder on 4 threads: with dynamic blocks it must
   accept most of each member (the speculative chunks' starts found and
   chained), and what it accepts and then the stream's own decoding give the
   raw bytes and a clean end. With no dynamic block to find (fixed or stored
   blocks only) the first chunk, the real decoder, finds no place to stop and
   decodes it all; sparse_z6 (zeros with a stretch of noise) has blocks longer
   than this build's small chunks: for these only the bytes are checked.
   Then zlib streams (MetaImage's), whose Adler-32 the engine combines. */
MV_TEST(isa, gzip_parallel_engine)
{
    static const struct {
        const char *name;
        int most; /* 1: most of it is accepted in parallel; -1: any amount */
    } cases[] = {{"i16_z6", 1}, {"i16_z9", 1}, {"f32_z6", 1}, {"f32_huff", 1}, {"sparse_z6", -1}, {"gzip9", 1},
                 {"pigz6", 1},  {"i16_fixed", -1}, {"f32_stored", -1}};
    size_t i;
    if (!tu_gzpar_dir()) SKIP("needs /usr/bin/python3 with numpy and nibabel (tests/py/ref_gzpar.py)");
    for (i = 0; i < MV__ARRAY_LEN(cases); i++) {
        size_t gzn = 0, rawn = 0, ip = 0, op = 0, used = 0, got = 0, done = 0;
        unsigned char *gz, *raw, *out;
        mv_gunzip_stream *s;
        int end = 0;
        if (!tu_gzpar_case(cases[i].name, ".gz", &gz, &gzn, &raw, &rawn) &&
            (!strcmp(cases[i].name, "gzip9") || !strcmp(cases[i].name, "pigz6"))) /* tool missing */
            continue;
        REQUIRE(gz && raw);
        out = (unsigned char *)malloc(rawn);
        REQUIRE_OK(mv_gunzip_stream_new(&s, NULL));
        REQUIRE_OK(mv_gunzip_stream_run(s, gz, gzn, &used, out, 0, &got, &end)); /* to the data */
        ip = used;
        EXPECT(s->gz_state == MV__GZ_DATA && got == 0);
        mv__gz_inflate_parallel(s, gz, gzn, &ip, out, rawn, 4, NULL, &done);
        if (cases[i].most > 0)
            EXPECT_MSG(done > rawn / 2, "%s: %zu of %zu bytes in parallel", cases[i].name, done, rawn);
        EXPECT_MSG(memcmp(out, raw, done) == 0, "%s: the parallel part differs", cases[i].name);
        op = done;
        while (op < rawn || !end) { /* the rest on the stream's own decoder, then its trailer check */
            mv_status st = mv_gunzip_stream_run(s, gz + ip, gzn - ip, &used, out + op, rawn - op, &got, &end);
            EXPECT_MSG(st == MV_OK, "%s: %s (%s)", cases[i].name, mv_status_str(st), mv_last_error());
            if (st != MV_OK || (used == 0 && got == 0)) break;
            ip += used;
            op += got;
            if (end && op == rawn) break;
        }
        EXPECT_MSG(end && op == rawn && memcmp(out, raw, rawn) == 0, "%s: %zu of %zu bytes, end %d", cases[i].name, op, rawn,
                   end);
        mv_gunzip_stream_free(s, NULL);
        free(gz);
        free(raw);
        free(out);
    }
    /* MetaImage's zlib streams (Python's zlib) on a bare decoder: most of it
       in parallel, its Adler-32 combined from slices equal to the direct sum
       of those bytes, then the decoder's own end */
    for (i = 0; i < 2; i++) {
        const char *name = i ? "f32_zlib1" : "i16_zlib6";
        size_t filen = 0, rawn = 0, ip = 0, op = 0, done = 0;
        unsigned char *file, *raw, *out;
        mv__inflater *inf;
        uint32_t sum = 1;
        int r;
        REQUIRE(tu_gzpar_case(name, ".mha", &file, &filen, &raw, &rawn));
        while (ip + 6 < filen && memcmp(file + ip, "LOCAL\n", 6) != 0) ip++; /* the header's last line */
        ip += 6 + 2;                                                        /* and the zlib header */
        REQUIRE(ip < filen);
        out = (unsigned char *)malloc(rawn);
        inf = (mv__inflater *)malloc(sizeof(*inf));
        REQUIRE(out && inf);
        mv__inflate_reset(inf);
        EXPECT(mv__inflate(inf, file, filen, &ip, out, 0, &op) == MV__INF_NEED_OUTPUT && op == 0);
        mv__inflate_parallel(inf, file, filen, filen - 4, &ip, out, rawn, 4, NULL, MV__SUM_ADLER32, &sum, &done);
        EXPECT_MSG(done > rawn / 2, "%s: %zu of %zu bytes in parallel", name, done, rawn);
        EXPECT_MSG(memcmp(out, raw, done) == 0 && sum == mv__adler32(1, raw, done), "%s: parallel part or its Adler-32",
                   name);
        op = done;
        r = mv__inflate(inf, file, filen, &ip, out, rawn, &op);
        EXPECT_MSG(r == MV__INF_DONE && op == rawn && memcmp(out, raw, rawn) == 0, "%s: %d, %zu of %zu bytes", name, r, op,
                   rawn);
        free(inf);
        free(file);
        free(raw);
        free(out);
    }
}
