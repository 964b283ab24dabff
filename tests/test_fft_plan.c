/* test_fft_plan.c - the FFT's plan search and plan description:
   a measured plan (mv_fft_opts.measure) gives the same bytes as the
   estimated one (the search only regroups lines for the cache), on 1 and 2
   threads, c2c / r2c / c2r, 2-D slabs and 3-D; mv_fft_plan_describe names
   the radices each axis runs (radix 16 on the contiguous axis, 8 / 4 on the
   strided ones, Bluestein for a large prime), the passes, and whether the
   plan was measured; short buffers are cut with "..."; misuse statuses.
   With MEDVOL_USE_FFTW the description names the fftwf flags instead and
   measured plans agree within rounding. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *fp_alloc(size_t n)
{
    float *p = (float *)malloc(n ? n * sizeof(float) : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

#if defined(MEDVOL_USE_FFTW)
static double fp_rel_rms(const float *y, const float *ref, size_t n)
{
    double e = 0, s = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)y[i] - (double)ref[i];
        e += d * d;
        s += (double)ref[i] * (double)ref[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}
#endif

/* kind 0 c2c, 1 r2c, 2 c2r */
static mv_status fp_plan(mv_fft_plan **p, int kind, int ndim, const int64_t *dims, unsigned axes, int threads, int measure)
{
    mv_fft_opts o;
    memset(&o, 0, sizeof(o));
    o.threads = threads;
    o.measure = measure;
    if (kind == 0) return mv_fft_plan_c2c(p, ndim, dims, axes, 0, &o);
    if (kind == 1) return mv_fft_plan_r2c(p, ndim, dims, axes, &o);
    return mv_fft_plan_c2r(p, ndim, dims, axes, &o);
}

MV_TEST(fft, measured_plans_same_bytes)
{
    static const struct {
        int kind, ndim;
        int64_t dims[3];
        unsigned axes;
    } cs[] = {{0, 3, {64, 48, 40}, 7},  {0, 3, {256, 256, 4}, 3}, {0, 3, {96, 80, 24}, 6},
              {1, 3, {64, 48, 40}, 7},  {2, 3, {64, 48, 40}, 7}, {0, 2, {1009, 16, 1}, 3},
              {1, 3, {128, 20, 30}, 5}, /* the layouts once paired different real rows: */
              {1, 3, {128, 125, 68}, 3}, {2, 3, {128, 125, 68}, 3}, {1, 3, {75, 64, 40}, 6}};
    size_t c;
    for (c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
        int t;
        for (t = 1; t <= 2; t++) {
            mv_fft_plan *pe = NULL, *pm = NULL;
            size_t nin = 1, nout, i;
            int64_t cd[3];
            int h = 0, k;
            float *x, *ye, *ym;
            char d[640];
            for (k = 0; k < cs[c].ndim; k++) cd[k] = cs[c].dims[k];
            while (!(cs[c].axes & (1u << h))) h++;
            if (cs[c].kind) cd[h] = cs[c].dims[h] / 2 + 1;
            for (k = 0; k < cs[c].ndim; k++) nin *= (size_t)cs[c].dims[k];
            nout = nin;
            if (cs[c].kind) nout = nin / (size_t)cs[c].dims[h] * (size_t)cd[h];
            /* floats: c2c complex both sides; r2c real in; c2r real out */
            {
                size_t fin = cs[c].kind == 0 ? 2 * nin : cs[c].kind == 1 ? nin : 2 * nout;
                size_t fout = cs[c].kind == 0 ? 2 * nin : cs[c].kind == 1 ? 2 * nout : nin;
                x = fp_alloc(fin);
                ye = fp_alloc(fout);
                ym = fp_alloc(fout);
                for (i = 0; i < fin; i++) x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f - 0.5f;
                EXPECT_MSG(fp_plan(&pe, cs[c].kind, cs[c].ndim, cs[c].dims, cs[c].axes, t, 0) == MV_OK, "case %zu: plan", c);
                EXPECT_MSG(fp_plan(&pm, cs[c].kind, cs[c].ndim, cs[c].dims, cs[c].axes, t, 1) == MV_OK, "case %zu: measured plan",
                           c);
                if (pe && pm) {
                    EXPECT_MSG(mv_fft_plan_describe(pm, d, sizeof(d)) == MV_OK, "describe");
#if defined(MEDVOL_USE_FFTW)
                    EXPECT_MSG(strstr(d, "FFTW_MEASURE") != NULL, "case %zu: '%s' does not say FFTW_MEASURE", c, d);
#else
                    EXPECT_MSG(strstr(d, "measured (") != NULL, "case %zu: '%s' does not say measured", c, d);
#endif
                    memset(ye, 0, fout * 4);
                    memset(ym, 0xff, fout * 4);
                    EXPECT_MSG(mv_fft_execute(pe, x, ye) == MV_OK && mv_fft_execute(pm, x, ym) == MV_OK, "execute");
#if defined(MEDVOL_USE_FFTW)
                    EXPECT_MSG(fp_rel_rms(ym, ye, fout) <= 1e-6, "case %zu, %d threads: measured plan differs (%s)", c, t, d);
#else
                    EXPECT_MSG(memcmp(ye, ym, fout * 4) == 0, "case %zu, %d threads: measured plan gives other bytes (%s)", c, t,
                               d);
#endif
                }
                mv_fft_plan_free(pe);
                mv_fft_plan_free(pm);
                free(x);
                free(ye);
                free(ym);
            }
        }
    }
}

MV_TEST(fft, plan_description)
{
    const int64_t d3[3] = {256, 256, 8}, dp[1] = {4099}, d1[2] = {1, 7};
    mv_fft_plan *p = NULL;
    char d[640], small[16];
    EXPECT_MSG(fp_plan(&p, 0, 3, d3, 7, 1, 0) == MV_OK, "plan");
    EXPECT_MSG(mv_fft_plan_describe(p, d, sizeof(d)) == MV_OK, "describe");
    EXPECT_MSG(strstr(d, "c2c forward dims 256x256x8 axes 0x7") != NULL, "'%s': shape", d);
#if defined(MEDVOL_USE_FFTW)
    EXPECT_MSG(strstr(d, "FFTW_ESTIMATE") != NULL, "'%s': flags", d);
#else
    EXPECT_MSG(strstr(d, "axis 0: radix 16x16;") != NULL, "'%s': the contiguous axis runs radix 16", d);
    EXPECT_MSG(strstr(d, "axis 1: radix 8x8x4;") != NULL, "'%s': a strided axis runs radix 8 / 4", d);
    EXPECT_MSG(strstr(d, "axis 2: radix 8;") != NULL, "'%s': axis 2", d);
    EXPECT_MSG(strstr(d, "pass 1: slabs of dims 0..1, axes 0 1") != NULL, "'%s': the slab pass", d);
    EXPECT_MSG(strstr(d, "pass 2: whole array, axis 2") != NULL, "'%s': the whole-array pass", d);
    EXPECT_MSG(strstr(d, "estimated") != NULL, "'%s': estimated", d);
#endif
    /* cut short, still terminated */
    EXPECT_MSG(mv_fft_plan_describe(p, small, sizeof(small)) == MV_OK && strlen(small) == sizeof(small) - 1 &&
                   strcmp(small + sizeof(small) - 4, "...") == 0,
               "short buffer: '%s'", small);
    EXPECT_MSG(mv_fft_plan_describe(p, small, 1) == MV_OK && small[0] == 0, "cap 1");
    EXPECT_MSG(mv_fft_plan_describe(NULL, d, sizeof(d)) == MV_ERR_INVALID_ARG, "NULL plan");
    EXPECT_MSG(mv_fft_plan_describe(p, NULL, 4) == MV_ERR_INVALID_ARG, "NULL buf");
    EXPECT_MSG(mv_fft_plan_describe(p, d, 0) == MV_ERR_INVALID_ARG, "cap 0");
    mv_fft_plan_free(p);
    p = NULL;
#if !defined(MEDVOL_USE_FFTW)
    EXPECT_MSG(fp_plan(&p, 0, 1, dp, 1, 1, 0) == MV_OK && mv_fft_plan_describe(p, d, sizeof(d)) == MV_OK, "prime plan");
    EXPECT_MSG(strstr(d, "axis 0: Bluestein via ") != NULL, "'%s': a large prime runs Bluestein", d);
    mv_fft_plan_free(p);
    p = NULL;
    /* every transformed length 1: no passes */
    EXPECT_MSG(fp_plan(&p, 0, 2, d1, 1, 1, 1) == MV_OK && mv_fft_plan_describe(p, d, sizeof(d)) == MV_OK, "length-1 plan");
    EXPECT_MSG(strstr(d, "a copy;") != NULL && strstr(d, "estimated") != NULL, "'%s': a copy, nothing to measure", d);
    mv_fft_plan_free(p);
#else
    (void)dp;
    (void)d1;
#endif
}
