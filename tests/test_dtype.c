/* test_dtype.c - dtype table, conversions against numpy, software floats */
#include "testutil.h"
#include "json.h"
#include <stdlib.h>

MV_TEST(dtype, names_and_codes)
{
    static const struct { const char *name; mv_dtype dt; } names[] = {
        {"int16", MV_DT_I16}, {"i16", MV_DT_I16}, {"i2", MV_DT_I16}, {"<i2", MV_DT_I16}, {"DT_INT16", MV_DT_I16},
        {"short", MV_DT_I16}, {"float32", MV_DT_F32}, {"f4", MV_DT_F32}, {"float", MV_DT_F32}, {"FLOAT64", MV_DT_F64},
        {"uint8", MV_DT_U8}, {"u1", MV_DT_U8}, {"complex64", MV_DT_C64}, {"c8", MV_DT_C64}, {"bf16", MV_DT_BF16},
        {"float16", MV_DT_F16}, {"rgb24", MV_DT_RGB24}, {"rgba", MV_DT_RGBA32}, {"float128", MV_DT_F128},
        {"uint64", MV_DT_U64}, {"int8", MV_DT_I8}, {"nonsense", MV_DT_UNKNOWN}, {"", MV_DT_UNKNOWN}};
    static const struct { int code; mv_dtype dt; size_t size; } nifti[] = {
        {2, MV_DT_U8, 1}, {4, MV_DT_I16, 2}, {8, MV_DT_I32, 4}, {16, MV_DT_F32, 4}, {32, MV_DT_C64, 8},
        {64, MV_DT_F64, 8}, {128, MV_DT_RGB24, 3}, {256, MV_DT_I8, 1}, {512, MV_DT_U16, 2}, {768, MV_DT_U32, 4},
        {1024, MV_DT_I64, 8}, {1280, MV_DT_U64, 8}, {1536, MV_DT_F128, 16}, {1792, MV_DT_C128, 16},
        {2048, MV_DT_C256, 32}, {2304, MV_DT_RGBA32, 4}};
    size_t i;
    int d;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        EXPECT_MSG(mv_dtype_from_name(names[i].name) == names[i].dt, "name %s", names[i].name);
    EXPECT_EQ_INT(mv_dtype_from_name(NULL), MV_DT_UNKNOWN);
    for (i = 0; i < sizeof(nifti) / sizeof(nifti[0]); i++) {
        EXPECT_EQ_INT(mv_dtype_from_nifti_code(nifti[i].code), nifti[i].dt);
        EXPECT_EQ_INT(mv_dtype_nifti_code(nifti[i].dt), nifti[i].code);
        EXPECT_EQ_INT(mv_dtype_size(nifti[i].dt), nifti[i].size);
    }
    EXPECT_EQ_INT(mv_dtype_from_nifti_code(0), MV_DT_UNKNOWN);
    EXPECT_EQ_INT(mv_dtype_from_nifti_code(1), MV_DT_UNKNOWN); /* DT_BINARY */
    EXPECT_EQ_INT(mv_dtype_nifti_code(MV_DT_F16), 0);
    EXPECT_EQ_INT(mv_dtype_size(MV_DT_UNKNOWN), 0);
    for (d = 1; d < MV_DT_COUNT; d++) {
        EXPECT_EQ_INT(mv_dtype_from_name(mv_dtype_name((mv_dtype)d)), d);
        EXPECT(mv_dtype_is_integer((mv_dtype)d) + mv_dtype_is_float((mv_dtype)d) + mv_dtype_is_complex((mv_dtype)d) <= 1);
    }
    EXPECT(mv_dtype_is_integer(MV_DT_U64) && !mv_dtype_is_integer(MV_DT_F32));
    EXPECT(mv_dtype_is_float(MV_DT_BF16) && mv_dtype_is_complex(MV_DT_C256));
}

static mv_dtype short_dtype(const char *s) { return mv_dtype_from_name(s); }

/* every real pair, both roundings and with scaling, against refs.py */
MV_TEST(dtype, convert_matches_numpy)
{
    static const char *types[] = {"u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "f16", "f32", "f64"};
    static const char *modes[] = {"near", "trunc", "scaled"};
    const char *refs = tu_refs_dir();
    size_t si, di, mi;
    int isa_pass;
    unsigned avail = mv_isa_available();
    mv_isa active = mv_isa_active();
    if (!refs) SKIP("needs /usr/bin/python3 with numpy and nibabel (refs.py)");
    /* every ISA this machine runs goes through the same references */
    for (isa_pass = 0; isa_pass < MV_ISA_COUNT; isa_pass++) {
        if (!(avail & (1u << isa_pass))) continue;
        REQUIRE_OK(mv_set_isa((mv_isa)isa_pass));
        for (si = 0; si < sizeof(types) / sizeof(types[0]); si++) {
            char path[1024];
            size_t in_len;
            unsigned char *in;
            mv_dtype sdt = short_dtype(types[si]);
            snprintf(path, sizeof(path), "%s/cvt_in_%s.bin", refs, types[si]);
            in = tu_read_file(path, &in_len);
            REQUIRE(in != NULL);
            for (di = 0; di < sizeof(types) / sizeof(types[0]); di++)
                for (mi = 0; mi < 3; mi++) {
                    mv_dtype ddt = short_dtype(types[di]);
                    size_t n = in_len / mv_dtype_size(sdt), ref_len, k, bad = 0, first = 0;
                    unsigned char *ref, *out = (unsigned char *)malloc(n * mv_dtype_size(ddt) + 1);
                    mv_convert_opts o;
                    memset(&o, 0, sizeof(o));
                    o.rounding = mi == 1 ? MV_ROUND_TRUNCATE : MV_ROUND_NEAREST;
                    o.scaled = mi == 2;
                    o.slope = 0.75;
                    o.inter = -3.25;
                    snprintf(path, sizeof(path), "%s/cvt_%s_%s_%s.bin", refs, types[si], types[di], modes[mi]);
                    ref = tu_read_file(path, &ref_len);
                    REQUIRE(ref != NULL && ref_len == n * mv_dtype_size(ddt));
                    EXPECT_OK(mv_convert_buffer(in, sdt, out, ddt, n, &o));
                    for (k = 0; k < n; k++) {
                        size_t sz = mv_dtype_size(ddt);
                        if (memcmp(out + k * sz, ref + k * sz, sz) != 0) {
                            /* NaN payloads may differ; any NaN is a NaN */
                            if (mv_dtype_is_float(ddt)) {
                                double a = 0, b = 0;
                                if (sz == 4) { float x, y; memcpy(&x, out + k * sz, 4); memcpy(&y, ref + k * sz, 4); a = x; b = y; }
                                if (sz == 8) { memcpy(&a, out + k * sz, 8); memcpy(&b, ref + k * sz, 8); }
                                if (sz == 2) { uint16_t x, y; memcpy(&x, out + k * sz, 2); memcpy(&y, ref + k * sz, 2);
                                               a = ((x & 0x7c00) == 0x7c00 && (x & 0x3ff)) ? NAN : 0;
                                               b = ((y & 0x7c00) == 0x7c00 && (y & 0x3ff)) ? NAN : 1; }
                                if (a != a && b != b) continue;
                            }
                            if (!bad++) first = k;
                        }
                    }
                    EXPECT_MSG(bad == 0, "[%s] %s -> %s (%s): %zu of %zu differ, first at %zu", mv_isa_name((mv_isa)isa_pass),
                               types[si], types[di], modes[mi], bad, n, first);
                    free(ref);
                    free(out);
                }
            free(in);
        }
    }
    EXPECT_OK(mv_set_isa(active));
}

MV_TEST(dtype, float16_and_bfloat16)
{
    const char *refs = tu_refs_dir();
    char path[1024];
    size_t n, nin, k, bad;
    double *tab, *in;
    uint16_t *bits, *ref16, *refbf;
    if (!refs) SKIP("needs numpy (refs.py)");
    /* all 65536 patterns of each -> float64 */
    bits = (uint16_t *)malloc(65536 * 2);
    for (k = 0; k < 65536; k++) bits[k] = (uint16_t)k;
    tab = (double *)malloc(65536 * 8);
    snprintf(path, sizeof(path), "%s/f16_all.bin", refs);
    {
        double *ref = (double *)tu_read_file(path, &n);
        REQUIRE(ref && n == 65536 * 8);
        EXPECT_OK(mv_convert_buffer(bits, MV_DT_F16, tab, MV_DT_F64, 65536, NULL));
        for (bad = 0, k = 0; k < 65536; k++) bad += !(tab[k] == ref[k] || (tab[k] != tab[k] && ref[k] != ref[k]));
        EXPECT_MSG(bad == 0, "float16 -> float64: %zu of 65536 patterns differ", bad);
        free(ref);
    }
    snprintf(path, sizeof(path), "%s/bf16_all.bin", refs);
    {
        double *ref = (double *)tu_read_file(path, &n);
        REQUIRE(ref && n == 65536 * 8);
        EXPECT_OK(mv_convert_buffer(bits, MV_DT_BF16, tab, MV_DT_F64, 65536, NULL));
        for (bad = 0, k = 0; k < 65536; k++) bad += !(tab[k] == ref[k] || (tab[k] != tab[k] && ref[k] != ref[k]));
        EXPECT_MSG(bad == 0, "bfloat16 -> float64: %zu of 65536 patterns differ", bad);
        free(ref);
    }
    /* float64 -> half formats, half to even (numpy / exact rationals) */
    snprintf(path, sizeof(path), "%s/half_in.bin", refs);
    in = (double *)tu_read_file(path, &nin);
    nin /= 8;
    snprintf(path, sizeof(path), "%s/half_f16.bin", refs);
    ref16 = (uint16_t *)tu_read_file(path, &n);
    snprintf(path, sizeof(path), "%s/half_bf16.bin", refs);
    refbf = (uint16_t *)tu_read_file(path, &n);
    REQUIRE(in && ref16 && refbf);
    EXPECT_OK(mv_convert_buffer(in, MV_DT_F64, bits, MV_DT_F16, nin, NULL));
    for (bad = 0, k = 0; k < nin; k++) {
        int nan_both = (bits[k] & 0x7fff) > 0x7c00 && (ref16[k] & 0x7fff) > 0x7c00;
        if (bits[k] != ref16[k] && !nan_both && !bad++)
            MVT_FAIL("f64 %.17g -> f16 0x%04x, numpy 0x%04x", in[k], bits[k], ref16[k]);
    }
    EXPECT_MSG(bad == 0, "float64 -> float16: %zu of %zu differ", bad, nin);
    EXPECT_OK(mv_convert_buffer(in, MV_DT_F64, bits, MV_DT_BF16, nin, NULL));
    for (bad = 0, k = 0; k < nin; k++) {
        int nan_both = (bits[k] & 0x7fff) > 0x7f80 && (refbf[k] & 0x7fff) > 0x7f80;
        if (bits[k] != refbf[k] && !nan_both && !bad++)
            MVT_FAIL("f64 %.17g -> bf16 0x%04x, exact 0x%04x", in[k], bits[k], refbf[k]);
    }
    EXPECT_MSG(bad == 0, "float64 -> bfloat16: %zu of %zu differ", bad, nin);
    free(in);
    free(ref16);
    free(refbf);
    free(bits);
    free(tab);
}

/* binary128 against the compiler's own: __float128 on x86-64 (libgcc
   soft-float), long double where that is binary128 (AArch64) */
#include <float.h>
#if defined(__SIZEOF_FLOAT128__) && defined(__x86_64__)
#define TEST_F128 1
typedef __float128 test_f128;
#elif LDBL_MANT_DIG == 113
#define TEST_F128 1
typedef long double test_f128;
#endif
MV_TEST(dtype, float128)
{
#if defined(TEST_F128)
    uint64_t seed = 7;
    int i, bad = 0;
    for (i = 0; i < 20000; i++) {
        double x, back;
        test_f128 q;
        unsigned char mine[16];
        uint64_t r = tu_rand(&seed);
        if (i < 8) {
            static const double special[8] = {0.0, -0.0, 1.0, -2.5, 4.9406564584124654e-324, 1.7976931348623157e308,
                                              2.2250738585072009e-308, 1e-300};
            x = special[i];
        } else {
            memcpy(&x, &r, 8);
            if (x != x) continue;
        }
        q = (test_f128)x;
        EXPECT_OK(mv_convert_buffer(&x, MV_DT_F64, mine, MV_DT_F128, 1, NULL));
        if (memcmp(mine, &q, 16) != 0) bad++;
        EXPECT_OK(mv_convert_buffer(&q, MV_DT_F128, &back, MV_DT_F64, 1, NULL));
        if (memcmp(&back, &x, 8) != 0) bad++;
        {   /* a binary128 with bits below double precision: rounds like the compiler */
            test_f128 q2 = q * (test_f128)(1.0 + 1.0 / 3.0);
            double want = (double)q2, got;
            EXPECT_OK(mv_convert_buffer(&q2, MV_DT_F128, &got, MV_DT_F64, 1, NULL));
            if (memcmp(&want, &got, 8) != 0 && !(want != want && got != got)) bad++;
        }
        {   /* integers convert exactly */
            int64_t iv = (int64_t)r;
            test_f128 wq = (test_f128)iv;
            EXPECT_OK(mv_convert_buffer(&iv, MV_DT_I64, mine, MV_DT_F128, 1, NULL));
            if (memcmp(mine, &wq, 16) != 0) bad++;
        }
    }
    EXPECT_MSG(bad == 0, "%d binary128 conversions differ from __float128", bad);
#else
    SKIP("no binary128 type in this compiler");
#endif
}

MV_TEST(dtype, complex_and_rgb)
{
    float c64[6] = {1.5f, -2.0f, 3.0f, 0.25f, -1e30f, 7.0f};
    double c128[6], re[3] = {1, 2, 3};
    int16_t i16[3] = {-3, 0, 300};
    unsigned char rgb[6] = {1, 2, 3, 4, 5, 6}, rgba[8], back[6];
    float cf[6];
    mv_convert_opts o;
    int k;
    EXPECT_OK(mv_convert_buffer(c64, MV_DT_C64, c128, MV_DT_C128, 3, NULL));
    for (k = 0; k < 6; k++) EXPECT_EQ_INT(c128[k] == (double)c64[k], 1);
    EXPECT_OK(mv_convert_buffer(re, MV_DT_F64, c128, MV_DT_C128, 3, NULL));
    for (k = 0; k < 3; k++) {
        EXPECT(c128[2 * k] == re[k]);
        EXPECT(c128[2 * k + 1] == 0.0);
    }
    /* scaling: slope on both parts, intercept on the real part (numpy x*s+i) */
    memset(&o, 0, sizeof(o));
    o.scaled = 1;
    o.slope = 2;
    o.inter = 10;
    EXPECT_OK(mv_convert_buffer(c64, MV_DT_C64, cf, MV_DT_C64, 3, &o));
    EXPECT(cf[0] == 13.0f && cf[1] == -4.0f && cf[3] == 0.5f);
    EXPECT_OK(mv_convert_buffer(i16, MV_DT_I16, cf, MV_DT_C64, 3, &o));
    EXPECT(cf[0] == 4.0f && cf[1] == 0.0f && cf[4] == 610.0f && cf[5] == 0.0f);
    EXPECT_STATUS(mv_convert_buffer(c64, MV_DT_C64, re, MV_DT_F64, 3, NULL), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "imaginary") != NULL);
    EXPECT_OK(mv_convert_buffer(rgb, MV_DT_RGB24, rgba, MV_DT_RGBA32, 2, NULL));
    EXPECT(rgba[0] == 1 && rgba[3] == 255 && rgba[4] == 4 && rgba[7] == 255);
    EXPECT_OK(mv_convert_buffer(rgba, MV_DT_RGBA32, back, MV_DT_RGB24, 2, NULL));
    EXPECT(memcmp(back, rgb, 6) == 0);
    EXPECT_STATUS(mv_convert_buffer(rgb, MV_DT_RGB24, re, MV_DT_F64, 2, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_convert_buffer(re, MV_DT_F64, rgb, MV_DT_RGB24, 2, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_convert_buffer(re, MV_DT_UNKNOWN, rgb, MV_DT_U8, 2, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_convert_buffer(NULL, MV_DT_F64, rgb, MV_DT_U8, 2, NULL), MV_ERR_INVALID_ARG);
    EXPECT_OK(mv_convert_buffer(NULL, MV_DT_F64, NULL, MV_DT_U8, 0, NULL));
}

/* NIfTI scaling rules (nibabel): slope 0 or non-finite = none; finite slope
   with a non-finite intercept is an error */
MV_TEST(dtype, scaling_rules)
{
    int16_t x[2] = {10, -4};
    float y[2];
    mv_convert_opts o;
    memset(&o, 0, sizeof(o));
    o.scaled = 1;
    o.slope = 0;
    o.inter = 5;
    EXPECT_OK(mv_convert_buffer(x, MV_DT_I16, y, MV_DT_F32, 2, &o));
    EXPECT(y[0] == 10.0f && y[1] == -4.0f);
    o.slope = NAN;
    EXPECT_OK(mv_convert_buffer(x, MV_DT_I16, y, MV_DT_F32, 2, &o));
    EXPECT(y[0] == 10.0f);
    o.slope = 2;
    o.inter = INFINITY;
    EXPECT_STATUS(mv_convert_buffer(x, MV_DT_I16, y, MV_DT_F32, 2, &o), MV_ERR_BAD_HEADER);
    o.inter = -1;
    EXPECT_OK(mv_convert_buffer(x, MV_DT_I16, y, MV_DT_F32, 2, &o));
    EXPECT(y[0] == 19.0f && y[1] == -9.0f);
}

/* the threaded path splits large buffers: results must not change */
MV_TEST(dtype, convert_threads_identical)
{
    size_t n = (size_t)3 << 20, k;
    int16_t *src = (int16_t *)malloc(n * 2);
    float *a = (float *)malloc(n * 4), *b = (float *)malloc(n * 4);
    uint64_t seed = 99;
    mv_convert_opts o;
    for (k = 0; k < n; k++) src[k] = (int16_t)tu_rand(&seed);
    memset(&o, 0, sizeof(o));
    o.scaled = 1;
    o.slope = 0.07540696859359741;
    o.inter = 3100.76171875;
    o.threads = 1;
    EXPECT_OK(mv_convert_buffer(src, MV_DT_I16, a, MV_DT_F32, n, &o));
    o.threads = 4;
    EXPECT_OK(mv_convert_buffer(src, MV_DT_I16, b, MV_DT_F32, n, &o));
    EXPECT(memcmp(a, b, n * 4) == 0);
    for (k = 0; k < n; k += 9973) EXPECT(a[k] == (float)((double)src[k] * o.slope + o.inter));
    { /* int64 -> float32 with slope 1 takes the scaled float64 path (get_fdata()'s
         two roundings, int64 -> float64 -> float32), split across threads:
         24 MiB in, several runs, every value against the two roundings */
        int64_t *big = (int64_t *)malloc(n * 8);
        int rep;
        for (k = 0; k < n; k++) big[k] = (int64_t)(tu_rand(&seed) >> (k % 11)) * (k % 2 ? 1 : -1);
        o.slope = 1;
        o.inter = 0;
        o.threads = 1;
        EXPECT_OK(mv_convert_buffer(big, MV_DT_I64, a, MV_DT_F32, n, &o));
        for (rep = 0; rep < 6; rep++) {
            o.threads = 2 + rep % 3;
            EXPECT_OK(mv_convert_buffer(big, MV_DT_I64, b, MV_DT_F32, n, &o));
            EXPECT_MSG(memcmp(a, b, n * 4) == 0, "int64 run %d with %d threads differs from 1 thread", rep, o.threads);
        }
        for (k = 0; k < n && !mvt_cur.failures; k++) EXPECT(a[k] == (float)(double)big[k]);
        free(big);
    }
    free(src);
    free(a);
    free(b);
}
