/* test_mri.c - MRI kernels against numpy (tests/py/ref_mri.py, run in the
   test) and BART (the bart command on ../shared/data/kspace), on every ISA
   and thread count; SENSE against the phantom it reconstructs. */
#define _POSIX_C_SOURCE 200809L /* rand_r: glibc's own, the reference of mri.bart_noise_matches_glibc */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>

/* ---- helpers ---------------------------------------------------------------- */

/* relative RMS error of n floats a against the reference b */
static double rel_rms(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void fill_random(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t i;
    for (i = 0; i < n; i++) x[i] = (float)(tu_rand01(&s) * 2 - 1);
}

static int alloc_random(mv_vol *v, mv_dtype dt, int nd, const int64_t *dims, uint64_t seed)
{
    if (mv_vol_alloc(v, dt, nd, dims, NULL) != MV_OK) return 0;
    fill_random((float *)v->data, mv_vol_bytes(v) / 4, seed);
    return 1;
}

/* One numpy reference run: cases appended to cases.txt in a fresh folder,
   inputs written beside it, outputs read back after ref_mri.py ran. */
typedef struct refrun {
    char dir[512];
    FILE *list;
    int n;
} refrun;

static int ref_begin(refrun *r, const char *name)
{
    char path[600];
    if (!tu_python("numpy")) return 0;
    snprintf(r->dir, sizeof(r->dir), "%s", tu_path(name));
    {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", r->dir);
        if (system(cmd) != 0) return 0;
    }
    snprintf(path, sizeof(path), "%s/cases.txt", r->dir);
    r->list = fopen(path, "w");
    r->n = 0;
    return r->list != NULL;
}

/* writes vol (and a second input) and a case line; returns the case id */
static int ref_case(refrun *r, const char *op, const mv_vol *v, const mv_vol *v2, const char *params)
{
    char path[600];
    int id = r->n++, a;
    snprintf(path, sizeof(path), "%s/c%d.in", r->dir, id);
    tu_write_file(path, v->data, mv_vol_bytes(v));
    if (v2) {
        snprintf(path, sizeof(path), "%s/c%d.in2", r->dir, id);
        tu_write_file(path, v2->data, mv_vol_bytes(v2));
    }
    fprintf(r->list, "c%d %s %d", id, op, v->ndim);
    for (a = 0; a < v->ndim; a++) fprintf(r->list, " %lld", (long long)v->dim[a]);
    fprintf(r->list, " %s\n", params ? params : "");
    return id;
}

static int ref_run(refrun *r)
{
    fclose(r->list);
    r->list = NULL;
    return tu_run_py("ref_mri.py", r->dir, NULL, 0) == 0;
}

/* numpy's output of case id; NULL (and a failure) if missing or the wrong size */
static float *ref_out(refrun *r, int id, size_t bytes)
{
    char path[600];
    size_t len = 0;
    float *p;
    snprintf(path, sizeof(path), "%s/c%d.out", r->dir, id);
    p = (float *)tu_read_file(path, &len);
    if (!p || len != bytes) {
        MVT_FAIL("numpy output c%d: %zu bytes, %zu expected", id, len, bytes);
        free(p);
        return NULL;
    }
    return p;
}

#define TOL 1e-5

/* ---- shifts and the centred transform ------------------------------------------ */

typedef struct shape_case {
    int nd;
    int64_t d[5];
    unsigned axes;
} shape_case;

static const shape_case shift_cases[] = {
    {3, {6, 5, 4, 1, 1}, 7}, {4, {7, 8, 3, 2, 1}, 5}, {1, {9, 1, 1, 1, 1}, 1},
    {3, {8, 6, 4, 1, 1}, 6}, {5, {5, 4, 3, 2, 2}, 7}, {2, {1, 3, 1, 1, 1}, 3},
};

MV_TEST(mri, shift_matches_numpy)
{
    refrun r;
    int i, inv, ids[64][2];
    mv_vol in[16];
    size_t nc = sizeof(shift_cases) / sizeof(shift_cases[0]);
    if (!ref_begin(&r, "mri-shift")) SKIP("needs /usr/bin/python3 with numpy");
    for (i = 0; i < (int)nc; i++) {
        char p[32];
        REQUIRE(alloc_random(&in[i], MV_DT_C64, shift_cases[i].nd, shift_cases[i].d, 10 + i));
        snprintf(p, sizeof(p), "%u", shift_cases[i].axes);
        ids[i][0] = ref_case(&r, "fftshift", &in[i], NULL, p);
        ids[i][1] = ref_case(&r, "ifftshift", &in[i], NULL, p);
    }
    REQUIRE(ref_run(&r));
    for (i = 0; i < (int)nc; i++) {
        for (inv = 0; inv < 2; inv++) {
            mv_vol out;
            float *want = ref_out(&r, ids[i][inv], mv_vol_bytes(&in[i]));
            int even = 1, a;
            if (!want) continue;
            EXPECT_OK(mv_fftshift(&in[i], &out, shift_cases[i].axes, inv, NULL));
            EXPECT_MSG(out.data && memcmp(out.data, want, mv_vol_bytes(&in[i])) == 0, "case %d inverse %d differs", i,
                       inv);
            for (a = 0; a < in[i].ndim; a++)
                if ((shift_cases[i].axes >> a & 1) && in[i].dim[a] % 2) even = 0;
            if (even) { /* in place: same bytes */
                mv_vol cp;
                REQUIRE_OK(mv_vol_copy(&in[i], &cp));
                EXPECT_OK(mv_fftshift_into(&cp, &cp, shift_cases[i].axes, inv, NULL));
                EXPECT_MSG(memcmp(cp.data, want, mv_vol_bytes(&in[i])) == 0, "in place case %d inverse %d", i, inv);
                mv_free(&cp);
            } else {
                EXPECT_STATUS(mv_fftshift_into(&in[i], &in[i], shift_cases[i].axes, inv, NULL), MV_ERR_INVALID_ARG);
            }
            mv_free(&out);
            free(want);
        }
        mv_free(&in[i]);
    }
}

static const shape_case fftc_cases[] = {
    {3, {16, 12, 8, 1, 1}, 7},  {3, {15, 9, 7, 1, 1}, 7},   {4, {10, 7, 6, 3, 1}, 3}, {4, {32, 32, 1, 4, 1}, 3},
    {3, {6, 10, 14, 1, 1}, 6},  {5, {8, 5, 4, 2, 2}, 7},    {1, {1, 1, 1, 1, 1}, 1},  {2, {2, 3, 1, 1, 1}, 3},
    {3, {64, 48, 20, 1, 1}, 7}, {3, {11, 13, 2, 1, 1}, 5},
    /* BART masks with bits past ndim (length-1 axes): bart fft -u 7 on 2D data */
    {2, {16, 12, 1, 1, 1}, 7},  {1, {9, 1, 1, 1, 1}, 0xffff},
};

MV_TEST(mri, fftc_matches_numpy)
{
    refrun r;
    int i, inv, ids[32][2];
    mv_vol in[32];
    size_t nc = sizeof(fftc_cases) / sizeof(fftc_cases[0]);
    if (!ref_begin(&r, "mri-fftc")) SKIP("needs /usr/bin/python3 with numpy");
    for (i = 0; i < (int)nc; i++) {
        char p[32];
        REQUIRE(alloc_random(&in[i], MV_DT_C64, fftc_cases[i].nd, fftc_cases[i].d, 100 + i));
        snprintf(p, sizeof(p), "%u", fftc_cases[i].axes);
        ids[i][0] = ref_case(&r, "fftc", &in[i], NULL, p);
        ids[i][1] = ref_case(&r, "ifftc", &in[i], NULL, p);
    }
    REQUIRE(ref_run(&r));
    for (i = 0; i < (int)nc; i++) {
        for (inv = 0; inv < 2; inv++) {
            mv_vol out, cp;
            size_t n = mv_vol_bytes(&in[i]);
            float *want = ref_out(&r, ids[i][inv], n);
            double e;
            if (!want) continue;
            EXPECT_OK(mv_fftc(&in[i], &out, fftc_cases[i].axes, inv, NULL));
            e = out.data ? rel_rms((const float *)out.data, want, n / 4) : 1;
            EXPECT_MSG(e <= TOL, "fftc case %d inverse %d: rel rms %.3g", i, inv, e);
            /* in place gives the same bytes as out of place */
            REQUIRE_OK(mv_vol_copy(&in[i], &cp));
            EXPECT_OK(mv_fftc_into(&cp, &cp, fftc_cases[i].axes, inv, NULL));
            EXPECT_MSG(out.data && memcmp(cp.data, out.data, n) == 0, "in place differs, case %d", i);
            mv_free(&cp);
            mv_free(&out);
            free(want);
        }
        mv_free(&in[i]);
    }
}

/* mv_fftmod on BART's up to 16 dims against numpy's float64 fftmod from its
   definition: where every factor is a whole quarter turn (even lengths; an
   odd axis whose index makes the sum one) the product is exact, so equal
   values (a sign of zero aside: BART's, which bart fftmod's bytes test in
   tests/test_tools.sh); else float rounding. Lines (every axis below the
   lowest masked one of length 1) and blocks (an unmasked axis below),
   in place = out of place, the inverse undoes the forward. */
typedef struct fftmod_case {
    int nd;
    int64_t d[16];
    unsigned axes;
} fftmod_case;

static const fftmod_case fftmod_cases[] = {
    {3, {16, 12, 8}, 7},
    {3, {15, 9, 7}, 7},
    {4, {10, 7, 6, 3}, 3},
    {4, {6, 10, 3, 2}, 2},   /* blocks of 6 */
    {4, {6, 9, 3, 2}, 0xA},  /* blocks, odd lengths */
    {4, {9, 5, 4, 3}, 0xD},  /* odd lines repeated along axis 1: the factor table of 4 x 3 lines */
    {2, {1, 9}, 3},          /* the line along axis 1 */
    {5, {8, 5, 4, 2, 2}, 0x14},
    {1, {9}, 0},             /* nothing masked: a copy */
    {3, {14, 1, 5}, 0xffff}, /* bits past ndim */
    {16, {2, 3, 1, 2, 5, 2, 1, 3, 2, 2, 1, 2, 3, 2, 2, 2}, 0xAAAA},
    {16, {3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 0x5555},
};

MV_TEST(mri, fftmod_matches_numpy)
{
    refrun r;
    int i, inv, a, ids[16][2];
    mv_vol in[16];
    size_t nc = sizeof(fftmod_cases) / sizeof(fftmod_cases[0]);
    if (!ref_begin(&r, "mri-fftmod")) SKIP("needs /usr/bin/python3 with numpy");
    for (i = 0; i < (int)nc; i++) {
        const fftmod_case *c = &fftmod_cases[i];
        char p[200];
        int64_t n = 1;
        int len = 0;
        for (a = 0; a < c->nd; a++) n *= c->d[a];
        REQUIRE(alloc_random(&in[i], MV_DT_C64, 1, &n, 300 + i));
        for (len = 0; len < 2 * n; len += 14) /* a part 1e-30 of the other: a quarter turn off by 1e-16 shows */
            ((float *)in[i].data)[len + (len / 14) % 2] = 1e-30f;
        for (inv = 0; inv < 2; inv++) {
            len = snprintf(p, sizeof(p), "%u %d ", c->axes, inv);
            for (a = 0; a < c->nd; a++) len += snprintf(p + len, sizeof(p) - (size_t)len, a ? ",%lld" : "%lld", (long long)c->d[a]);
            ids[i][inv] = ref_case(&r, "fftmod", &in[i], NULL, p);
        }
    }
    REQUIRE(ref_run(&r));
    for (i = 0; i < (int)nc; i++) {
        const fftmod_case *c = &fftmod_cases[i];
        const size_t n = mv_vol_bytes(&in[i]);
        for (inv = 0; inv < 2; inv++) {
            float *want = ref_out(&r, ids[i][inv], n), *got = (float *)malloc(n), *cp = (float *)malloc(n);
            size_t k, exact = 0, q = 0;
            double worst = 0;
            int even = 1, lines = 1, lo = 0; /* lines: every axis below the lowest masked one is 1 */
            REQUIRE(got && cp);
            while (lo < c->nd && !((c->axes >> lo & 1) && c->d[lo] > 1)) lo++;
            for (a = 0; a < c->nd; a++) {
                if ((c->axes >> a & 1) && c->d[a] % 2) even = 0;
                if (a < lo && lo < c->nd && c->d[a] > 1) lines = 0;
            }
            if (!want) continue;
            EXPECT_OK(mv_fftmod(in[i].data, got, c->nd, c->d, c->axes, inv, NULL));
            for (k = 0; k < n / 8; k++) { /* per sample: exact where numpy's factor is a quarter turn */
                const float *x = (const float *)in[i].data + 2 * k, *g = got + 2 * k, *w = want + 2 * k;
                const double m = sqrt((double)x[0] * x[0] + (double)x[1] * x[1]);
                const double e = hypot((double)g[0] - w[0], (double)g[1] - w[1]) / (m > 0 ? m : 1);
                if (e > worst) worst = e;
                if (g[0] == w[0] && g[1] == w[1]) exact++;
                q++;
            }
            EXPECT_MSG(worst <= 2e-7, "fftmod case %d inverse %d: worst relative error %.3g", i, inv, worst);
            if (even && lines) /* even masked lengths on lines: every product exact (blocks: BART's cexp) */
                EXPECT_MSG(exact == q, "fftmod case %d inverse %d: %zu of %zu samples not exact", i, inv, q - exact, q);
            memcpy(cp, in[i].data, n); /* in place: the same bytes */
            EXPECT_OK(mv_fftmod(cp, cp, c->nd, c->d, c->axes, inv, NULL));
            EXPECT_MSG(memcmp(cp, got, n) == 0, "fftmod case %d inverse %d: in place differs", i, inv);
            EXPECT_OK(mv_fftmod(got, got, c->nd, c->d, c->axes, !inv, NULL)); /* the other direction undoes it */
            EXPECT_MSG(rel_rms(got, (const float *)in[i].data, n / 4) <= 2e-7, "fftmod case %d inverse %d: round trip",
                       i, inv);
            free(want);
            free(got);
            free(cp);
        }
        mv_free(&in[i]);
    }
}

/* threads split the lines and blocks (16 K samples an item) and the odd
   lines' factor table without changing a byte; bad arguments */
MV_TEST(mri, fftmod_threads_and_refusals)
{
    /* dt: odd lines along x repeated along y, 33 distinct; dT: 1100 distinct lines of 255, a table of 4.5 MB
       whose making is split too */
    static const int64_t dl[4] = {96, 128, 33, 2}, db[4] = {128, 129, 33, 2}, dt[4] = {127, 64, 33, 2},
                         dT[4] = {255, 2, 1100, 2}, zero[2] = {4, 0};
    int64_t big[16], n = 255 * 2 * 1100 * 2;
    unsigned masks[4] = {7, 6, 15, 5};
    mv_vol x;
    mv_mri_opts mo;
    float *o1, *o3;
    int m, a;
    REQUIRE(alloc_random(&x, MV_DT_C64, 1, &n, 77)); /* 9 MB: worth threads */
    o1 = (float *)malloc(mv_vol_bytes(&x)), o3 = (float *)malloc(mv_vol_bytes(&x));
    REQUIRE(o1 && o3);
    memset(&mo, 0, sizeof(mo));
    for (m = 0; m < 10; m++) {
        const int64_t *d = m < 3 ? dl : m < 6 ? db : m < 8 ? dt : dT;
        const unsigned mask = masks[m < 6 ? m % 3 : 3];
        const int64_t nn = d[0] * d[1] * d[2] * d[3];
        mo.threads = 1;
        EXPECT_OK(mv_fftmod(x.data, o1, 4, d, mask, m & 1, &mo));
        mo.threads = 3;
        EXPECT_OK(mv_fftmod(x.data, o3, 4, d, mask, m & 1, &mo));
        EXPECT_MSG(memcmp(o1, o3, (size_t)nn * 8) == 0, "fftmod mask %u: 3 threads differ from 1", mask);
    }
    for (a = 0; a < 16; a++) big[a] = 1;
    EXPECT_STATUS(mv_fftmod(NULL, o1, 4, dl, 7, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, NULL, 4, dl, 7, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, o1, 4, NULL, 7, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, o1, 0, dl, 7, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, o1, 17, big, 7, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, o1, 2, zero, 1, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, o1, 4, dl, 1u << 16, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftmod(x.data, (float *)x.data + 2, 4, dl, 7, 0, NULL), MV_ERR_INVALID_ARG); /* overlap */
    big[0] = big[1] = big[2] = big[3] = (int64_t)1 << 20;
    EXPECT_STATUS(mv_fftmod(x.data, o1, 16, big, 7, 0, NULL), MV_ERR_SIZE_OVERFLOW);
    free(o1);
    free(o3);
    mv_free(&x);
}

/* bart noise's draws from glibc's own rand_r (the library carries its own
   copy of the generator, so this checks it against the C library's) and
   BART's num/rand.c as written there: per sample a uniform against the
   spike, then Marsaglia's polar pair scaled by sqrtf(var / 2) and added in
   double; real: var in the real part, the imaginary part cleared. Then the
   statistics of the noise itself, a continued sequence, and refusals. */
#if defined(__GLIBC__)
static void noise_reference(float *x, int64_t n, float var, float spike, int real, unsigned *seed)
{
    const float stdev = sqrtf(real ? var : var / 2.f);
    int64_t i;
    for (i = 0; i < n; i++) {
        if (spike >= rand_r(seed) / (double)RAND_MAX) {
            double u1, u2, s;
            do {
                u1 = 2. * (rand_r(seed) / (double)RAND_MAX) - 1.;
                u2 = 2. * (rand_r(seed) / (double)RAND_MAX) - 1.;
                s = u1 * u1 + u2 * u2;
            } while (s > 1.);
            x[2 * i] = (float)(x[2 * i] + stdev * (sqrt(-2. * log(s) / s) * u1));
            x[2 * i + 1] = (float)(x[2 * i + 1] + stdev * (sqrt(-2. * log(s) / s) * u2));
        }
        if (real) x[2 * i + 1] = 0.0f;
    }
}
#endif

/* bart whiten's whitening: the whitened noise's sample covariance is I
   (W K W^H = I for K = L L^H, W = L^-1: exact but for rounding), W lower
   triangular with a real positive diagonal (the Cholesky factor is
   unique, so this is numpy's inv(cholesky(K)) too: tests/test_tools.sh
   compares), -n makes the whitened noise's standard deviation 1, a given
   matrix is applied as it is, a coil that copies another is refused */
MV_TEST(mri, noise_whiten_identity_covariance)
{
    enum { C = 3, N = 4000 };
    static const float mix[C][C][2] = {{{1.0f, 0}, {0, 0}, {0, 0}},
                                       {{0.6f, 0.3f}, {0.5f, -0.2f}, {0, 0}},
                                       {{-0.4f, 0.1f}, {0.2f, 0.7f}, {0.3f, 0}}};
    const int64_t nd[4] = {N, 1, 1, C}, kd[4] = {8, 4, 1, C};
    mv_vol z, noise, k, out = MV_ZERO_INIT, wn = MV_ZERO_INIT, w = MV_ZERO_INIT, cov = MV_ZERO_INIT;
    mv_whiten_opts o;
    unsigned seed = 7;
    int64_t s, i, j, q;
    double worst = 0;
    mv_vol_init(&z), mv_vol_init(&noise), mv_vol_init(&k);
    REQUIRE_OK(mv_vol_alloc(&z, MV_DT_C64, 4, nd, NULL));
    REQUIRE_OK(mv_vol_alloc(&noise, MV_DT_C64, 4, nd, NULL));
    REQUIRE_OK(mv_vol_alloc(&k, MV_DT_C64, 4, kd, NULL));
    memset(z.data, 0, (size_t)mv_vol_bytes(&z));
    REQUIRE_OK(mv_bart_noise(z.data, N * C, 1.0, 1.0, 0, &seed));
    for (s = 0; s < N; s++) /* n = mix z: correlated, complex */
        for (i = 0; i < C; i++) {
            float re = 0, im = 0;
            for (j = 0; j < C; j++) {
                const float *zz = (const float *)z.data + 2 * (s + N * j);
                re += mix[i][j][0] * zz[0] - mix[i][j][1] * zz[1];
                im += mix[i][j][0] * zz[1] + mix[i][j][1] * zz[0];
            }
            ((float *)noise.data)[2 * (s + N * i)] = re, ((float *)noise.data)[2 * (s + N * i) + 1] = im;
        }
    memset(k.data, 0, (size_t)mv_vol_bytes(&k));
    memset(&o, 0, sizeof(o));
    o.matrix_out = &w, o.covariance_out = &cov;
    REQUIRE_OK(mv_noise_whiten(&noise, &noise, &wn, &o)); /* the noise itself, whitened */
    for (i = 0; i < C; i++)
        for (q = 0; q < C; q++) {
            double re = 0, im = 0;
            for (s = 0; s < N; s++) {
                const float *a = (const float *)wn.data + 2 * (s + N * i), *b = (const float *)wn.data + 2 * (s + N * q);
                re += (double)a[0] * b[0] + (double)a[1] * b[1];
                im += (double)a[1] * b[0] - (double)a[0] * b[1];
            }
            re /= N - 1, im /= N - 1;
            worst = fmax(worst, fabs(re - (i == q)) + fabs(im));
        }
    EXPECT_MSG(worst < 1e-5, "whitened noise's covariance is %.3g from I", worst);
    for (j = 0; j < C; j++) /* W[j][i] at i + C j: lower triangular, real positive diagonal */
        for (i = 0; i < C; i++) {
            const float *e = (const float *)w.data + 2 * (i + C * j);
            if (i > j) EXPECT(e[0] == 0 && e[1] == 0);
            if (i == j) EXPECT(e[0] > 0 && e[1] == 0);
        }
    EXPECT(mv_vol_count(&cov) == C * C && fabs(((const float *)cov.data)[0] - 1.0) < 0.1); /* K[0][0] ~ |mix[0]|^2 */
    mv_free(&wn);
    /* -n: the whitened noise's standard deviation over all its samples is 1 */
    o.matrix_out = o.covariance_out = NULL;
    o.normalize = 1;
    REQUIRE_OK(mv_noise_whiten(&noise, &noise, &wn, &o));
    {
        double ss = 0, mr = 0, mi = 0;
        for (s = 0; s < N * C; s++) mr += ((float *)wn.data)[2 * s], mi += ((float *)wn.data)[2 * s + 1];
        mr /= N * C, mi /= N * C;
        for (s = 0; s < N * C; s++) {
            const double a = ((float *)wn.data)[2 * s] - mr, b = ((float *)wn.data)[2 * s + 1] - mi;
            ss += a * a + b * b;
        }
        EXPECT_MSG(fabs(sqrt(ss / (N * C - 1)) - 1) < 1e-5, "-n: standard deviation %.7f", sqrt(ss / (N * C - 1)));
        EXPECT(o.stdev > 0.5 && o.stdev < 2);
    }
    mv_free(&wn);
    /* a given matrix as it is: the identity leaves k-space alone */
    o.normalize = 0;
    memset(w.data, 0, (size_t)mv_vol_bytes(&w));
    for (i = 0; i < C; i++) ((float *)w.data)[2 * (i + C * i)] = 1;
    for (s = 0; s < 2 * 8 * 4 * C; s++) ((float *)k.data)[s] = (float)(s % 7) - 3;
    o.matrix = &w;
    REQUIRE_OK(mv_noise_whiten(&k, &noise, &out, &o));
    EXPECT(memcmp(out.data, k.data, (size_t)mv_vol_bytes(&k)) == 0);
    mv_free(&out);
    /* threads: a volume of 7 chunks of samples split across 2 threads gives
       the one-thread bytes, every time */
    {
        const int64_t bd[4] = {40, 40, 1, C};
        mv_vol kb, y1 = MV_ZERO_INIT, y2 = MV_ZERO_INIT;
        int rep;
        mv_vol_init(&kb);
        REQUIRE_OK(mv_vol_alloc(&kb, MV_DT_C64, 4, bd, NULL));
        for (s = 0; s < 2 * 1600 * C; s++) ((float *)kb.data)[s] = (float)((s * 7919) % 613) / 300.f - 1.f;
        o.matrix = NULL;
        o.threads = 1;
        REQUIRE_OK(mv_noise_whiten(&kb, &noise, &y1, &o));
        for (rep = 0; rep < 5; rep++) {
            o.threads = 2;
            REQUIRE_OK(mv_noise_whiten(&kb, &noise, &y2, &o));
            EXPECT_MSG(memcmp(y1.data, y2.data, (size_t)mv_vol_bytes(&y1)) == 0, "whiten: 2 threads differ (run %d)", rep);
            mv_free(&y2);
        }
        o.threads = 0;
        mv_free(&y1), mv_free(&kb);
    }
    /* refusals: a coil copying another (K singular), coil counts that differ */
    o.matrix = NULL;
    memcpy((float *)noise.data + 2 * N, noise.data, (size_t)N * 8);
    EXPECT_EQ_INT(mv_noise_whiten(&k, &noise, &out, &o), MV_ERR_INVALID_ARG);
    k.dim[3] = 2, k.dim[1] = 6;
    EXPECT_EQ_INT(mv_noise_whiten(&k, &noise, &out, &o), MV_ERR_INVALID_ARG);
    k.dim[3] = C, k.dim[1] = 4;
    mv_free(&z), mv_free(&noise), mv_free(&k), mv_free(&w), mv_free(&cov);
}

MV_TEST(mri, bart_noise_matches_glibc)
{
    enum { N = 200000 };
    float *x = (float *)malloc(N * 8), *r = (float *)malloc(N * 8);
    unsigned s1, s2;
    double m[2] = {0, 0}, v[2] = {0, 0};
    int64_t i, taken = 0;
    int c;
    REQUIRE(x && r);
    for (c = 0; c < 4; c++) { /* default seed 123, var 1; -n 0.5 -s 3; -r -s 7; -S 0.3 */
        const float var = c == 1 ? 0.5f : 1.0f, spike = c == 3 ? 0.3f : 1.0f;
        const int real = c == 2;
        for (i = 0; i < 2 * 5000; i++) x[i] = r[i] = (float)((i % 7) - 3) * 0.25f; /* zeros among them */
        s1 = c == 1 ? 3u : c == 2 ? 7u : 123u;
        EXPECT_OK(mv_bart_noise(x, 5000, var, spike, real, &s1));
#if defined(__GLIBC__)
        s2 = c == 1 ? 3u : c == 2 ? 7u : 123u;
        noise_reference(r, 5000, var, spike, real, &s2);
        EXPECT_MSG(memcmp(x, r, 5000 * 8) == 0, "case %d: not glibc rand_r's noise, as bart draws it", c);
        EXPECT_MSG(s1 == s2, "case %d: the generator's state differs after the draws", c);
#else
        (void)s2, (void)r;
#endif
    }
    /* the statistics: zero data, var 2 -> each part variance 1; -S 0.3 touches about 30% */
    memset(x, 0, N * 8);
    s1 = 99;
    EXPECT_OK(mv_bart_noise(x, N, 2.0, 1.0, 0, &s1));
    for (i = 0; i < N; i++)
        for (c = 0; c < 2; c++) m[c] += x[2 * i + c], v[c] += (double)x[2 * i + c] * x[2 * i + c];
    for (c = 0; c < 2; c++)
        EXPECT_MSG(fabs(m[c] / N) < 0.01 && fabs(v[c] / N - 1.0) < 0.02, "part %d: mean %g, variance %g (0, 1)", c,
                   m[c] / N, v[c] / N);
    memset(x, 0, N * 8);
    EXPECT_OK(mv_bart_noise(x, N, 1.0, 0.3, 1, &s1));
    for (i = 0; i < N; i++) {
        taken += x[2 * i] != 0.0f;
        if (x[2 * i + 1] != 0.0f) break;
    }
    EXPECT_MSG(i == N, "real: imaginary part %g at %lld", i < N ? x[2 * i + 1] : 0.0, (long long)i);
    EXPECT_MSG(fabs((double)taken / N - 0.3) < 0.01, "spike 0.3: %g of the samples", (double)taken / N);
    /* one call of 2n = two calls of n on the same state */
    memset(x, 0, N * 8), memset(r, 0, N * 8);
    s1 = s2 = 5;
    EXPECT_OK(mv_bart_noise(x, 1000, 1.0, 1.0, 0, &s1));
    EXPECT_OK(mv_bart_noise(r, 500, 1.0, 1.0, 0, &s2));
    EXPECT_OK(mv_bart_noise(r + 1000, 500, 1.0, 1.0, 0, &s2));
    EXPECT_MSG(memcmp(x, r, 1000 * 8) == 0 && s1 == s2, "two calls do not continue one sequence");
    EXPECT_OK(mv_bart_noise(NULL, 0, 1.0, 1.0, 0, &s1));
    EXPECT_STATUS(mv_bart_noise(x, 10, 1.0, 1.0, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bart_noise(NULL, 10, 1.0, 1.0, 0, &s1), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bart_noise(x, -1, 1.0, 1.0, 0, &s1), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bart_noise(x, 10, -1.0, 1.0, 0, &s1), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bart_noise(x, 10, 1e39, 1.0, 0, &s1), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bart_noise(x, 10, 1.0, NAN, 0, &s1), MV_ERR_INVALID_ARG);
    free(x);
    free(r);
}

/* bart poisson's masks (mv_poisson_mask; their bytes against bart itself:
   tests/test_tools.sh, make test-diff-bart's family array) here by what a
   Poisson-disc mask must be: no two sampled cells nearer than the disc's
   distance allows (after the acceleration's scaling, less a cell for the
   gridding), the sampled share near 1 / (ay az) of the disc's packing,
   the calibration square full, nothing outside the circle with
   elliptical, another seed another mask, the same seed the same; the
   count returned is the mask's own; refusals. */
#define PD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PD_MAX(a, b) ((a) > (b) ? (a) : (b))
MV_TEST(mri, poisson_mask_properties)
{
    mv_poisson_opts o;
    mv_vol m, m2;
    int64_t pts = 0, n, y, z, y2, z2, ones;
    const float *a;
    int c;
    for (c = 0; c < 4; c++) {
        const int64_t ny = c == 1 ? 96 : 128, nz = c == 1 ? 80 : 128;
        const double ay = c == 0 ? 1 : 2, az = c == 3 ? 1.5 : 2;
        memset(&o, 0, sizeof(o));
        o.accel_y = ay, o.accel_z = az;
        o.elliptical = c == 2;
        o.calib = c == 3 ? 24 : 0;
        REQUIRE_OK(mv_poisson_mask(&m, ny, nz, &o, &pts));
        EXPECT(m.dtype == MV_DT_F32 && m.ndim == 2 && m.dim[0] == ny && m.dim[1] == nz);
        a = (const float *)m.data;
        for (n = ones = 0; n < ny * nz; n++) {
            EXPECT_MSG(a[n] == 0.f || a[n] == 1.f, "mask value %g", a[n]);
            ones += a[n] == 1.f;
        }
        /* the disc: cells at least D (1 / 1.275 samples, scaled by the acceleration along each axis, as the
           unit square is stretched) apart less one cell's diagonal for the flooring */
        for (z = 0; z < nz; z++)
            for (y = 0; y < ny; y++) {
                if (a[z * ny + y] == 0.f || (o.calib && labs((long)(y - ny / 2)) < 13 && labs((long)(z - nz / 2)) < 13))
                    continue;
                for (z2 = z; z2 < PD_MIN(nz, z + 4); z2++)
                    for (y2 = (z2 == z ? y + 1 : PD_MAX(0, y - 4)); y2 < PD_MIN(ny, y + 4); y2++) {
                        const double dy = (double)(y2 - y) / ay, dz = (double)(z2 - z) / az;
                        if (a[z2 * ny + y2] == 0.f ||
                            (o.calib && labs((long)(y2 - ny / 2)) < 13 && labs((long)(z2 - nz / 2)) < 13))
                            continue;
                        EXPECT_MSG(sqrt(dy * dy + dz * dz) + sqrt(1 / (ay * ay) + 1 / (az * az)) >= 1 / 1.275 - 1e-6,
                                   "case %d: cells (%lld, %lld) and (%lld, %lld) too near", c, (long long)y,
                                   (long long)z, (long long)y2, (long long)z2);
                    }
                if (o.elliptical) {
                    const double ry = (y + 0.5) / ny - 0.5, rz = (z + 0.5) / nz - 0.5;
                    EXPECT_MSG(ry * ry + rz * rz <= 0.25 * (1 + 4.0 / PD_MIN(ny, nz)), "case %d: (%lld, %lld) outside", c,
                               (long long)y, (long long)z);
                }
            }
        if (c < 2) /* Bridson's packing at distance D: about 0.7 / D^2 points per unit area, ~1.1 per sample */
            EXPECT_MSG(fabs(ones * ay * az / (double)(ny * nz) - 1.0) < 0.2, "case %d: %lld of %lld sampled at R %g x %g", c,
                       (long long)ones, (long long)(ny * nz), ay, az);
        for (y = 0; y < o.calib; y++)
            for (z = 0; z < o.calib; z++)
                EXPECT_MSG(a[(nz / 2 - o.calib / 2 + z) * ny + (ny / 2 - o.calib / 2 + y)] == 1.f, "calibration (%lld, %lld)",
                           (long long)y, (long long)z);
        EXPECT_MSG(pts >= ones, "case %d: %lld points for %lld sampled cells", c, (long long)pts, (long long)ones);
        if (c != 1) {
            mv_free(&m);
            continue;
        }
        /* the same seed the same mask; another seed another */
        REQUIRE_OK(mv_poisson_mask(&m2, ny, nz, &o, NULL));
        EXPECT(memcmp(m.data, m2.data, (size_t)(ny * nz) * 4) == 0);
        mv_free(&m2);
        o.seed_set = 1, o.seed = 7;
        REQUIRE_OK(mv_poisson_mask(&m2, ny, nz, &o, NULL));
        EXPECT(memcmp(m.data, m2.data, (size_t)(ny * nz) * 4) != 0);
        mv_free(&m2);
        mv_free(&m);
    }
    memset(&o, 0, sizeof(o));
    o.random_points = 300;
    REQUIRE_OK(mv_poisson_mask(&m, 40, 40, &o, &pts));
    EXPECT_MSG(pts == 300, "random points: %lld of 300 kept (the square keeps all)", (long long)pts);
    mv_free(&m);
    EXPECT_STATUS(mv_poisson_mask(NULL, 8, 8, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_poisson_mask(&m, 0, 8, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 5000, NULL, NULL), MV_ERR_INVALID_ARG);
    o.random_points = 0, o.accel_y = 0.5;
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 8, &o, NULL), MV_ERR_INVALID_ARG);
    o.accel_y = 1, o.calib = 9;
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 8, &o, NULL), MV_ERR_INVALID_ARG);
    o.calib = 0, o.var_density = -1;
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 8, &o, NULL), MV_ERR_INVALID_ARG);
    o.var_density = 0, o.min_dist = -1;
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 8, &o, NULL), MV_ERR_INVALID_ARG);
}

/* Multi-class Poisson-disc patterns (opts.classes, bart poisson -T) by
   Wei's definition, from mv_poisson_samples's coordinates (unscaled by the
   accelerations back to the disc's square, in samples of the longer side):
   points of one class at least D = 1 / 1.275 apart, of two classes at
   least D / sqrt(T); the classes about equally full; the mask's frame t
   holds class t's points (bart 0.8 loses the classes of points it cuts:
   tests/test_tools.sh compares the union of its frames); refusals. */
MV_TEST(mri, poisson_classes)
{
    enum { T = 3 };
    mv_poisson_opts o;
    mv_vol s, m;
    int64_t P, i, j, cnt[T] = {0, 0, 0}, pts = 0;
    const int64_t ny = 72, nz = 60;
    const double D = 1 / 1.275, ext = 72;
    double worst_same = 1e9, worst_cross = 1e9;
    memset(&o, 0, sizeof(o));
    o.classes = T, o.accel_y = 1.5, o.accel_z = 1.2, o.elliptical = 1;
    REQUIRE_OK(mv_poisson_samples(&s, ny, nz, &o));
    EXPECT(s.dtype == MV_DT_F32 && s.dim[0] == 3);
    P = s.dim[1];
    {
        const float *c = (const float *)s.data;
        for (i = 0; i < P; i++) {
            const int k = (int)c[3 * i];
            EXPECT_MSG(k >= 0 && k < T && c[3 * i] == (float)k, "point %lld: class %g", (long long)i, c[3 * i]);
            if (k >= 0 && k < T) cnt[k]++;
            for (j = i + 1; j < P; j++) { /* (p - 1/2) n = (p0 - 1/2) accel ext: back to the disc's square */
                const double dy = (c[3 * i + 1] - c[3 * j + 1]) / (o.accel_y * ext) * ext;
                const double dz = (c[3 * i + 2] - c[3 * j + 2]) / (o.accel_z * ext) * ext;
                const double d = sqrt(dy * dy + dz * dz);
                if (c[3 * i] == c[3 * j]) worst_same = d < worst_same ? d : worst_same;
                else worst_cross = d < worst_cross ? d : worst_cross;
            }
        }
    }
    EXPECT_MSG(worst_same >= D * (1 - 1e-4), "two points of one class %.6f apart (at least %.6f)", worst_same, D);
    EXPECT_MSG(worst_cross >= D / sqrt((double)T) * (1 - 1e-4), "points of two classes %.6f apart (at least %.6f)",
               worst_cross, D / sqrt((double)T));
    EXPECT_MSG(worst_cross < D, "classes packed more densely together (%.6f apart at the least)", worst_cross);
    for (i = 0; i < T; i++)
        EXPECT_MSG(fabs((double)cnt[i] * T / (double)P - 1) < 0.1, "class %lld: %lld of %lld points", (long long)i,
                   (long long)cnt[i], (long long)P);
    REQUIRE_OK(mv_poisson_mask(&m, ny, nz, &o, &pts));
    EXPECT(m.ndim == 3 && m.dim[0] == ny && m.dim[1] == nz && m.dim[2] == T);
    { /* each point marks its cell in its class's frame, and nothing else is marked */
        const float *c = (const float *)s.data, *a = (const float *)m.data;
        int64_t marked = 0, ones = 0;
        for (i = 0; i < P; i++) {
            const double py = c[3 * i + 1] / ny + 0.5, pz = c[3 * i + 2] / nz + 0.5;
            const int64_t y = (int64_t)floor(py * ny), z = (int64_t)floor(pz * nz);
            if (y >= 0 && y < ny && z >= 0 && z < nz) marked += a[((int64_t)c[3 * i] * nz + z) * ny + y] == 1.f;
        }
        for (i = 0; i < ny * nz * T; i++) ones += a[i] == 1.f;
        EXPECT_MSG(marked == P && ones <= P && pts == P, "%lld of %lld points in their frames, %lld cells, %lld counted",
                   (long long)marked, (long long)P, (long long)ones, (long long)pts);
    }
    mv_free(&s), mv_free(&m);
    o.classes = 33;
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 8, &o, NULL), MV_ERR_INVALID_ARG);
    o.classes = 2, o.random_points = 10;
    EXPECT_STATUS(mv_poisson_mask(&m, 8, 8, &o, NULL), MV_ERR_INVALID_ARG);
    o.random_points = 0, o.calib = 4;
    EXPECT_STATUS(mv_poisson_samples(&s, 8, 8, &o), MV_ERR_INVALID_ARG);
}

/* the plan form with a user's plan (any norm), threads and the round trip */
MV_TEST(mri, fftc_plan_forms)
{
    int64_t d[4] = {48, 40, 12, 4};
    mv_vol x, y1, y2, back;
    mv_fft_plan *pl = NULL, *pli = NULL;
    mv_fft_opts fo;
    mv_mri_opts mo;
    void *scratch;
    REQUIRE(alloc_random(&x, MV_DT_C64, 4, d, 7));
    memset(&fo, 0, sizeof(fo));
    fo.norm = MV_FFT_ORTHO;
    REQUIRE_OK(mv_fft_plan_c2c(&pl, 4, d, 7, 0, &fo));
    REQUIRE_OK(mv_fft_plan_c2c(&pli, 4, d, 7, 1, &fo));
    scratch = malloc(mv_fftc_scratch_size(pl) + 3);
    REQUIRE_OK(mv_vol_copy(&x, &y1));
    /* odd scratch alignment is fine */
    EXPECT_OK(mv_fftc_execute_into(pl, x.data, y1.data, (char *)scratch + 3));
    memset(&mo, 0, sizeof(mo));
    mo.threads = 1;
    EXPECT_OK(mv_fftc(&x, &y2, 7, 0, &mo));
    EXPECT_MSG(memcmp(y1.data, y2.data, mv_vol_bytes(&x)) == 0, "plan form != volume form (1 thread)");
    mv_free(&y2);
    mo.threads = 2;
    EXPECT_OK(mv_fftc(&x, &y2, 7, 0, &mo));
    EXPECT_MSG(memcmp(y1.data, y2.data, mv_vol_bytes(&x)) == 0, "2 threads differ from 1");
    REQUIRE_OK(mv_vol_copy(&x, &back));
    EXPECT_OK(mv_fftc_execute_into(pli, y1.data, back.data, scratch));
    EXPECT_MSG(rel_rms((const float *)back.data, (const float *)x.data, mv_vol_bytes(&x) / 4) < 1e-6,
               "inverse(forward(x)) != x");
    EXPECT_STATUS(mv_fftc_execute_into(pl, x.data, (char *)x.data + 8, scratch), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftc_execute_into(NULL, x.data, y1.data, scratch), MV_ERR_INVALID_ARG);
    EXPECT_EQ_INT(mv_fftc_scratch_size(NULL), 0);
    free(scratch);
    mv_fft_plan_free(pl);
    mv_fft_plan_free(pli);
    mv_free(&x);
    mv_free(&y1);
    mv_free(&y2);
    mv_free(&back);
}

MV_TEST(mri, resize_matches_numpy)
{
    static const struct {
        int nd;
        int64_t d[5], shape[3];
    } cs[] = {
        {4, {16, 12, 6, 2, 1}, {20, 9, 0}}, {4, {7, 5, 3, 2, 1}, {10, 8, 2}}, {3, {9, 9, 9, 1, 1}, {4, 13, 9}},
        {5, {6, 6, 1, 2, 3}, {8, 3, 1}},
    };
    refrun r;
    int i, ids[8];
    mv_vol in[8];
    if (!ref_begin(&r, "mri-resize")) SKIP("needs /usr/bin/python3 with numpy");
    for (i = 0; i < 4; i++) {
        char p[64];
        REQUIRE(alloc_random(&in[i], MV_DT_C64, cs[i].nd, cs[i].d, 200 + i));
        snprintf(p, sizeof(p), "%lld %lld %lld", (long long)cs[i].shape[0], (long long)cs[i].shape[1],
                 (long long)cs[i].shape[2]);
        ids[i] = ref_case(&r, "resize", &in[i], NULL, p);
    }
    REQUIRE(ref_run(&r));
    for (i = 0; i < 4; i++) {
        mv_vol out;
        float *want;
        if (mv_kspace_resize(&in[i], &out, cs[i].shape, NULL) != MV_OK) {
            MVT_FAIL("resize case %d: %s", i, mv_last_error());
            continue;
        }
        want = ref_out(&r, ids[i], mv_vol_bytes(&out));
        EXPECT_MSG(want && memcmp(out.data, want, mv_vol_bytes(&out)) == 0, "resize case %d differs", i);
        free(want);
        mv_free(&out);
        mv_free(&in[i]);
    }
}

/* ---- coil combination, parts, weights -------------------------------------------- */

MV_TEST(mri, coil_ops_match_numpy)
{
    int64_t d5[5] = {37, 11, 5, 8, 2}, d4[4] = {37, 11, 5, 8}, d2[2] = {37, 11}, d3[3] = {20, 9, 3};
    mv_vol x, xf, s, w, parts;
    refrun r;
    int id_rss, id_rssf, id_comb, id_part[4], id_w, k;
    static const char *pn[4] = {"mag", "phase", "real", "imag"};
    if (!ref_begin(&r, "mri-coil")) SKIP("needs /usr/bin/python3 with numpy");
    REQUIRE(alloc_random(&x, MV_DT_C64, 5, d5, 1));
    REQUIRE(alloc_random(&xf, MV_DT_F32, 5, d5, 2));
    REQUIRE(alloc_random(&s, MV_DT_C64, 4, d4, 3));
    REQUIRE(alloc_random(&w, MV_DT_F32, 2, d2, 4));
    REQUIRE(alloc_random(&parts, MV_DT_C64, 3, d3, 5));
    /* a zero sensitivity column: the combination must give 0 there */
    for (k = 0; k < 8; k++) {
        float *p = (float *)s.data + 2 * (size_t)(k * 37 * 11 * 5 + 17);
        p[0] = p[1] = 0;
    }
    id_rss = ref_case(&r, "rss", &x, NULL, NULL);
    id_rssf = ref_case(&r, "rss_f32", &xf, NULL, NULL);
    id_comb = ref_case(&r, "combine", &x, &s, NULL);
    for (k = 0; k < 4; k++) id_part[k] = ref_case(&r, pn[k], &parts, NULL, NULL);
    id_w = ref_case(&r, "weight", &x, &w, "2");
    REQUIRE(ref_run(&r));
    {
        mv_vol o;
        float *want;
        REQUIRE_OK(mv_rss(&x, &o, NULL));
        EXPECT_EQ_INT(o.ndim, 4);
        EXPECT_EQ_INT(o.dim[3], 2);
        want = ref_out(&r, id_rss, mv_vol_bytes(&o));
        if (want) EXPECT_MSG(rel_rms((float *)o.data, want, (size_t)mv_vol_count(&o)) <= TOL, "rss");
        free(want);
        mv_free(&o);
        REQUIRE_OK(mv_rss(&xf, &o, NULL));
        want = ref_out(&r, id_rssf, mv_vol_bytes(&o));
        if (want) EXPECT_MSG(rel_rms((float *)o.data, want, (size_t)mv_vol_count(&o)) <= TOL, "rss of float32");
        free(want);
        mv_free(&o);
        REQUIRE_OK(mv_coil_combine(&x, &s, &o, NULL));
        want = ref_out(&r, id_comb, mv_vol_bytes(&o));
        if (want) {
            EXPECT_MSG(rel_rms((float *)o.data, want, 2 * (size_t)mv_vol_count(&o)) <= TOL, "combine: %g",
                       rel_rms((float *)o.data, want, 2 * (size_t)mv_vol_count(&o)));
            EXPECT(((float *)o.data)[34] == 0 && ((float *)o.data)[35] == 0);
        }
        free(want);
        mv_free(&o);
        for (k = 0; k < 4; k++) {
            REQUIRE_OK(mv_complex_part(&parts, &o, (mv_cpart)k, NULL));
            want = ref_out(&r, id_part[k], mv_vol_bytes(&o));
            if (want) EXPECT_MSG(rel_rms((float *)o.data, want, (size_t)mv_vol_count(&o)) <= TOL, "%s", pn[k]);
            free(want);
            mv_free(&o);
        }
        REQUIRE_OK(mv_vol_copy(&x, &o));
        EXPECT_OK(mv_kspace_weight(&o, &w, NULL));
        want = ref_out(&r, id_w, mv_vol_bytes(&o));
        if (want) EXPECT_MSG(rel_rms((float *)o.data, want, 2 * (size_t)mv_vol_count(&o)) <= TOL, "weight");
        free(want);
        mv_free(&o);
    }
    mv_free(&x);
    mv_free(&xf);
    mv_free(&s);
    mv_free(&w);
    mv_free(&parts);
}

/* Every ISA gives the reference's bytes, at lengths around the vector
   widths and blocks, and every thread count the same bytes. */
MV_TEST(mri, kernels_every_isa)
{
    static const int64_t lens[] = {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 255, 256, 257, 1000, 4099, 70000};
    unsigned avail = mv_isa_available();
    mv_isa saved = mv_isa_active();
    size_t li;
    int isa, k;
    for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        int64_t d4[4] = {lens[li], 1, 1, 5};
        mv_vol x, s, rr, cr, pr[4], o;
        REQUIRE(alloc_random(&x, MV_DT_C64, 4, d4, 30 + li));
        REQUIRE(alloc_random(&s, MV_DT_C64, 4, d4, 60 + li));
        ((float *)s.data)[0] = ((float *)s.data)[1] = 0; /* only coil 0 zero: denominator stays > 0 */
        REQUIRE_OK(mv_set_isa(MV_ISA_REF));
        REQUIRE_OK(mv_rss(&x, &rr, NULL));
        REQUIRE_OK(mv_coil_combine(&x, &s, &cr, NULL));
        for (k = 0; k < 4; k++) REQUIRE_OK(mv_complex_part(&x, &pr[k], (mv_cpart)k, NULL));
        for (isa = 1; isa < MV_ISA_COUNT; isa++) {
            if (!(avail >> isa & 1)) continue;
            REQUIRE_OK(mv_set_isa((mv_isa)isa));
            REQUIRE_OK(mv_rss(&x, &o, NULL));
            EXPECT_MSG(memcmp(o.data, rr.data, mv_vol_bytes(&o)) == 0, "rss %s n=%lld", mv_isa_name((mv_isa)isa),
                       (long long)lens[li]);
            mv_free(&o);
            REQUIRE_OK(mv_coil_combine(&x, &s, &o, NULL));
            EXPECT_MSG(memcmp(o.data, cr.data, mv_vol_bytes(&o)) == 0, "combine %s n=%lld",
                       mv_isa_name((mv_isa)isa), (long long)lens[li]);
            mv_free(&o);
            for (k = 0; k < 4; k++) {
                REQUIRE_OK(mv_complex_part(&x, &o, (mv_cpart)k, NULL));
                EXPECT_MSG(memcmp(o.data, pr[k].data, mv_vol_bytes(&o)) == 0, "part %d %s n=%lld", k,
                           mv_isa_name((mv_isa)isa), (long long)lens[li]);
                mv_free(&o);
            }
        }
        mv_set_isa(saved);
        mv_free(&x);
        mv_free(&s);
        mv_free(&rr);
        mv_free(&cr);
        for (k = 0; k < 4; k++) mv_free(&pr[k]);
    }
    { /* large enough for the pool: 1, 2 and 3 threads, same bytes */
        int64_t d[5] = {64, 64, 24, 8, 2};
        mv_vol x, s, a, b;
        mv_mri_opts mo;
        int t;
        memset(&mo, 0, sizeof(mo));
        REQUIRE(alloc_random(&x, MV_DT_C64, 5, d, 99));
        REQUIRE(alloc_random(&s, MV_DT_C64, 4, d, 98));
        mo.threads = 1;
        REQUIRE_OK(mv_rss(&x, &a, &mo));
        for (t = 2; t <= 3; t++) {
            mo.threads = t;
            REQUIRE_OK(mv_rss(&x, &b, &mo));
            EXPECT_MSG(memcmp(a.data, b.data, mv_vol_bytes(&a)) == 0, "rss with %d threads", t);
            mv_free(&b);
        }
        mv_free(&a);
        mo.threads = 1;
        REQUIRE_OK(mv_coil_combine(&x, &s, &a, &mo));
        mo.threads = 2;
        REQUIRE_OK(mv_coil_combine(&x, &s, &b, &mo));
        EXPECT_MSG(memcmp(a.data, b.data, mv_vol_bytes(&a)) == 0, "combine with 2 threads");
        mv_free(&a);
        mv_free(&b);
        mv_free(&x);
        mv_free(&s);
    }
}

/* ---- sensitivities, phantom, SENSE ---------------------------------------------------- */

MV_TEST(mri, sens_estimate_matches_numpy)
{
    mv_vol img, sens, k, est;
    mv_mri_opts mo;
    refrun r;
    int id;
    float *want;
    memset(&mo, 0, sizeof(mo));
    if (!ref_begin(&r, "mri-sens")) SKIP("needs /usr/bin/python3 with numpy");
    REQUIRE_OK(mv_phantom_shepp_logan(&img, 40, 36, 10));
    REQUIRE_OK(mv_phantom_coil_sens(&sens, 40, 36, 10, 6));
    REQUIRE_OK(mv_phantom_kspace(&img, &sens, &k, NULL));
    id = ref_case(&r, "sens", &k, NULL, "16 12 0 0.05");
    REQUIRE(ref_run(&r));
    mo.calib[0] = 16;
    mo.calib[1] = 12;
    REQUIRE_OK(mv_coil_sens_estimate(&k, &est, &mo));
    want = ref_out(&r, id, mv_vol_bytes(&est));
    if (want) {
        /* inside the support (where both masks agree; the threshold itself
           is rounded differently in float32 and float64, so a voxel or two
           on its edge may differ); outside it both must be exactly 0 */
        int64_t nvox = 40 * 36 * 10, v, c, differ = 0, inside = 0;
        double num = 0, den = 0;
        const float *g = (const float *)est.data;
        for (v = 0; v < nvox; v++) {
            int ours = g[2 * v] != 0 || g[2 * v + 1] != 0, theirs = want[2 * v] != 0 || want[2 * v + 1] != 0;
            if (ours != theirs) {
                differ++;
                continue;
            }
            inside += ours;
            for (c = 0; c < 6; c++) {
                size_t i = 2 * (size_t)(c * nvox + v);
                num += (g[i] - want[i]) * (g[i] - want[i]) + (g[i + 1] - want[i + 1]) * (g[i + 1] - want[i + 1]);
                den += want[i] * want[i] + want[i + 1] * want[i + 1];
            }
        }
        EXPECT_MSG(differ <= nvox / 1000, "%lld voxels with a different support", (long long)differ);
        EXPECT_MSG(inside > nvox / 4, "support of %lld voxels of %lld", (long long)inside, (long long)nvox);
        EXPECT_MSG(sqrt(num / den) <= TOL, "sens: rel RMS %g", sqrt(num / den));
    }
    free(want);
    mv_free(&img);
    mv_free(&sens);
    mv_free(&k);
    mv_free(&est);
}

/* |a| against the phantom after the least-squares scale: a reconstruction
   is known up to a global factor (here it should be ~1) */
static double image_error(const mv_vol *recon, const mv_vol *phantom)
{
    int64_t n = mv_vol_count(phantom), i;
    const float *p = (const float *)phantom->data, *x = (const float *)recon->data;
    double xp = 0, xx = 0, pp = 0, e = 0, a;
    int cplx = recon->dtype == MV_DT_C64;
    for (i = 0; i < n; i++) {
        double m = cplx ? sqrt((double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1]) : x[i];
        xp += m * p[i];
        xx += m * m;
        pp += (double)p[i] * p[i];
    }
    a = xx > 0 ? xp / xx : 0;
    for (i = 0; i < n; i++) {
        double m = cplx ? sqrt((double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1]) : x[i];
        e += (a * m - p[i]) * (a * m - p[i]);
    }
    return sqrt(e / pp);
}

MV_TEST(mri, phantom_and_sense)
{
    static const struct {
        int64_t n[3];
        int accel[3];
    } cs[] = {{{128, 128, 1}, {1, 2, 1}}, {{64, 64, 32}, {1, 2, 2}}, {{96, 80, 1}, {2, 2, 1}}};
    int i;
    for (i = 0; i < 3; i++) {
        mv_vol img, sens, k, ku, est, zf, s_true, s_est, full;
        mv_mri_opts mo;
        double e_full, e_zf, e_true, e_est, sum_err = 0;
        int64_t v, c, nvox = cs[i].n[0] * cs[i].n[1] * cs[i].n[2];
        REQUIRE_OK(mv_phantom_shepp_logan(&img, cs[i].n[0], cs[i].n[1], cs[i].n[2]));
        REQUIRE_OK(mv_phantom_coil_sens(&sens, cs[i].n[0], cs[i].n[1], cs[i].n[2], 8));
        for (v = 0; v < nvox; v++) { /* the phantom's sensitivities are normalised */
            double e = 0;
            for (c = 0; c < 8; c++) {
                const float *p = (const float *)sens.data + 2 * (c * nvox + v);
                e += (double)p[0] * p[0] + (double)p[1] * p[1];
            }
            sum_err = fabs(e - 1) > sum_err ? fabs(e - 1) : sum_err;
        }
        EXPECT_MSG(sum_err < 1e-5, "sum |S|^2 - 1 up to %g", sum_err);
        REQUIRE_OK(mv_phantom_kspace(&img, &sens, &k, NULL));
        REQUIRE_OK(mv_recon_rss(&k, &full, NULL));
        e_full = image_error(&full, &img);
        REQUIRE_OK(mv_vol_copy(&k, &ku));
        REQUIRE_OK(mv_kspace_undersample(&ku, cs[i].accel, NULL));
        REQUIRE_OK(mv_recon_rss(&ku, &zf, NULL));
        e_zf = image_error(&zf, &img);
        memset(&mo, 0, sizeof(mo));
        REQUIRE_OK(mv_recon_sense(&ku, &sens, &s_true, cs[i].accel, &mo));
        e_true = image_error(&s_true, &img);
        /* autocalibrated: sensitivities from the centre of a (separate) fully
           sampled calibration scan, regularised unfolding */
        REQUIRE_OK(mv_coil_sens_estimate(&k, &est, NULL));
        mo.lambda = 1e-3;
        REQUIRE_OK(mv_recon_sense(&ku, &est, &s_est, cs[i].accel, &mo));
        e_est = image_error(&s_est, &img);
        printf("    %lldx%lldx%lld R=%dx%dx%d: rel RMS error vs phantom: full RSS %.2e, zero-filled RSS %.4f, "
               "SENSE (true sens) %.2e, SENSE (estimated sens) %.4f\n",
               (long long)cs[i].n[0], (long long)cs[i].n[1], (long long)cs[i].n[2], cs[i].accel[0], cs[i].accel[1],
               cs[i].accel[2], e_full, e_zf, e_true, e_est);
        EXPECT_MSG(e_full < 1e-5, "full RSS error %g", e_full);
        EXPECT_MSG(e_true < 1e-4, "SENSE with the true sensitivities: error %g", e_true);
        EXPECT_MSG(e_est < e_zf, "SENSE %g not better than zero-filled %g", e_est, e_zf);
        mv_free(&img);
        mv_free(&sens);
        mv_free(&k);
        mv_free(&ku);
        mv_free(&est);
        mv_free(&zf);
        mv_free(&s_true);
        mv_free(&s_est);
        mv_free(&full);
    }
}

/* the bounded-memory reconstructions equal the kernels run on everything */
MV_TEST(mri, recon_forms_agree)
{
    int64_t d[5] = {24, 20, 6, 4, 3}, d4[4] = {24, 20, 6, 4};
    int accel[3] = {1, 2, 1};
    mv_vol k, s, img, r1, r2, u1, u2;
    REQUIRE(alloc_random(&k, MV_DT_C64, 5, d, 77));
    REQUIRE(alloc_random(&s, MV_DT_C64, 4, d4, 78));
    REQUIRE_OK(mv_fftc(&k, &img, 7, 1, NULL));
    REQUIRE_OK(mv_rss(&img, &r1, NULL));
    REQUIRE_OK(mv_recon_rss(&k, &r2, NULL));
    EXPECT_MSG(memcmp(r1.data, r2.data, mv_vol_bytes(&r1)) == 0, "recon_rss != rss(fftc)");
    EXPECT_EQ_INT(r2.ndim, 4);
    EXPECT_EQ_INT(r2.dim[3], 3);
    REQUIRE_OK(mv_sense_unfold(&img, &s, &u1, accel, NULL));
    REQUIRE_OK(mv_recon_sense(&k, &s, &u2, accel, NULL));
    EXPECT_MSG(memcmp(u1.data, u2.data, mv_vol_bytes(&u1)) == 0, "recon_sense != unfold(fftc)");
    mv_free(&k);
    mv_free(&s);
    mv_free(&img);
    mv_free(&r1);
    mv_free(&r2);
    mv_free(&u1);
    mv_free(&u2);
}

/* ---- BART ----------------------------------------------------------------------------- */

static int read_cfl(const char *base, mv_vol *v)
{
    char path[1024], line[512];
    FILE *f;
    int64_t dims[16];
    int n = 0, nd = 4;
    size_t len;
    void *data;
    snprintf(path, sizeof(path), "%s.hdr", base);
    f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "# Dimensions", 12)) {
            char *p = fgets(line, sizeof(line), f) ? line : NULL, *e;
            while (p && n < 16) {
                long long x = strtoll(p, &e, 10);
                if (e == p) break;
                dims[n++] = x;
                p = e;
            }
            break;
        }
    fclose(f);
    if (n < 4) return 0;
    while (nd < n && nd < MV_MAX_DIMS && dims[nd] > 1) nd++;
    snprintf(path, sizeof(path), "%s.cfl", base);
    data = tu_read_file(path, &len);
    if (!data || mv_vol_alloc(v, MV_DT_C64, nd, dims, NULL) != MV_OK) {
        free(data);
        return 0;
    }
    if (len != mv_vol_bytes(v)) { /* the .cfl does not hold what its .hdr says */
        mv_free(v);
        free(data);
        return 0;
    }
    memcpy(v->data, data, len);
    free(data);
    return 1;
}

MV_TEST(mri, bart_fft_and_rss)
{
    char kdir[600], cmd[4096], img_base[600], rss_base[600];
    const char *data = tu_data_dir();
    mv_vol k, img, rss, bimg, brss, mag;
    double e;
    if (!data) SKIP("no ../shared/data");
    if (system("command -v bart >/dev/null 2>&1") != 0) SKIP("needs the bart command (Debian package bart)");
    snprintf(kdir, sizeof(kdir), "%s/kspace/bart_kspace", data);
    snprintf(img_base, sizeof(img_base), "%s", tu_path("bart_coilimg"));
    snprintf(rss_base, sizeof(rss_base), "%s", tu_path("bart_rss8"));
    snprintf(cmd, sizeof(cmd), "bart fft -u -i 7 %s %s >/dev/null 2>&1 && bart rss 8 %s %s >/dev/null 2>&1", kdir,
             img_base, img_base, rss_base);
    REQUIRE(system(cmd) == 0);
    REQUIRE(read_cfl(kdir, &k));
    REQUIRE(read_cfl(img_base, &bimg));
    REQUIRE(read_cfl(rss_base, &brss));
    EXPECT_EQ_INT(k.dim[3], 8);
    REQUIRE_OK(mv_fftc(&k, &img, 7, 1, NULL));
    e = rel_rms((float *)img.data, (float *)bimg.data, mv_vol_bytes(&img) / 4);
    printf("    centred inverse FFT vs bart fft -u -i 7: rel RMS %.2e\n", e);
    EXPECT_MSG(e <= TOL, "fftc vs bart: %g", e);
    REQUIRE_OK(mv_rss(&img, &rss, NULL));
    /* BART stores the RSS as complex with zero imaginary part */
    REQUIRE_OK(mv_complex_part(&brss, &mag, MV_CPART_REAL, NULL));
    e = rel_rms((float *)rss.data, (float *)mag.data, (size_t)mv_vol_count(&rss));
    printf("    RSS vs bart rss 8: rel RMS %.2e\n", e);
    EXPECT_MSG(e <= TOL, "rss vs bart: %g", e);
    mv_free(&rss);
    REQUIRE_OK(mv_recon_rss(&k, &rss, NULL));
    e = rel_rms((float *)rss.data, (float *)mag.data, (size_t)mv_vol_count(&rss));
    EXPECT_MSG(e <= TOL, "recon_rss vs bart: %g", e);
    mv_free(&k);
    mv_free(&img);
    mv_free(&rss);
    mv_free(&bimg);
    mv_free(&brss);
    mv_free(&mag);
}

/* ---- misuse -------------------------------------------------------------------------------- */

MV_TEST(mri, bad_input)
{
    int64_t d4[4] = {8, 6, 4, 2}, d3[3] = {8, 6, 4}, d5[3] = {8, 6, 5};
    int accel3[3] = {1, 4, 1}, accel0[3] = {0, 1, 1}, big[3] = {8, 6, 4};
    mv_vol x, f, s3, o;
    mv_vol_init(&o);
    REQUIRE(alloc_random(&x, MV_DT_C64, 4, d4, 1));
    REQUIRE(alloc_random(&f, MV_DT_F32, 3, d3, 2));
    REQUIRE(alloc_random(&s3, MV_DT_C64, 3, d5, 3));
    EXPECT_STATUS(mv_rss(NULL, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_rss(&x, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftc(&f, &o, 7, 0, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_fftc(&x, &o, 0, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_fftc(&x, &o, 1u << 16, 0, NULL), MV_ERR_INVALID_ARG); /* past BART's 16 dims */
    EXPECT_STATUS(mv_fftshift(&x, &o, 1u << 16, 0, NULL), MV_ERR_INVALID_ARG);
    { /* a mask naming only length-1 axes past ndim: the input itself, out of place and in place */
        mv_vol c;
        EXPECT_OK(mv_fftc(&x, &o, 1u << 5, 0, NULL));
        EXPECT_MSG(o.data && memcmp(o.data, x.data, mv_vol_bytes(&x)) == 0, "fftc over length-1 axes changed data");
        mv_free(&o);
        EXPECT_OK(mv_fftshift(&x, &o, 3u << 4, 1, NULL));
        EXPECT_MSG(o.data && memcmp(o.data, x.data, mv_vol_bytes(&x)) == 0, "fftshift over length-1 axes moved data");
        mv_free(&o);
        REQUIRE_OK(mv_vol_copy(&x, &c));
        EXPECT_OK(mv_fftc_into(&c, &c, 1u << 4, 1, NULL));
        EXPECT_MSG(memcmp(c.data, x.data, mv_vol_bytes(&x)) == 0, "fftc in place over length-1 axes changed data");
        mv_free(&c);
    }
    EXPECT_STATUS(mv_rss_into(&x, &s3, NULL), MV_ERR_INVALID_ARG);        /* wrong dtype out */
    EXPECT_STATUS(mv_rss_into(&x, &x, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_coil_combine(&x, &s3, &o, NULL), MV_ERR_INVALID_ARG); /* sens dims */
    EXPECT_STATUS(mv_coil_combine(&x, &f, &o, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_kspace_undersample(&x, accel3, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_kspace_undersample(&x, accel0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_kspace_undersample(&x, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_sense_unfold(&x, &x, &o, big, NULL), MV_ERR_UNSUPPORTED); /* R = 192 */
    {
        mv_mri_opts mo;
        int a2[3] = {1, 2, 1};
        memset(&mo, 0, sizeof(mo));
        mo.lambda = -1;
        EXPECT_STATUS(mv_sense_unfold(&x, &x, &o, a2, &mo), MV_ERR_INVALID_ARG);
        mo.lambda = 0;
        mo.calib[1] = -4;
        EXPECT_STATUS(mv_coil_sens_estimate(&x, &o, &mo), MV_ERR_INVALID_ARG);
    }
    EXPECT_STATUS(mv_complex_part(&x, &o, (mv_cpart)9, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_kspace_weight(&x, &x, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_phantom_coil_sens(&o, 8, 8, 8, 0), MV_ERR_INVALID_ARG);
    {
        int64_t neg[3] = {-1, 0, 0};
        EXPECT_STATUS(mv_kspace_resize(&x, &o, neg, NULL), MV_ERR_INVALID_ARG);
    }
    {
        mv_vol bad = x;
        bad.dim[2] = 0;
        EXPECT_STATUS(mv_rss(&bad, &o, NULL), MV_ERR_INVALID_ARG);
        bad = x;
        bad.data = NULL;
        EXPECT_STATUS(mv_rss(&bad, &o, NULL), MV_ERR_INVALID_ARG);
        bad = x;
        bad.dim[0] = (int64_t)1 << 40;
        bad.dim[1] = (int64_t)1 << 30;
        EXPECT_STATUS(mv_rss(&bad, &o, NULL), MV_ERR_SIZE_OVERFLOW);
    }
    EXPECT(strlen(mv_last_error()) > 0);
    mv_free(&x);
    mv_free(&f);
    mv_free(&s3);
}
