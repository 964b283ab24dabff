/* test_fft.c - the FFT (mv_fft_*) against numpy.fft, computed in the test
   run: the test writes random inputs for every case, tests/py/ref_fft.py
   runs numpy's fftn / ifftn / rfftn / irfftn in float64 with each norm, and
   every case must match at relative RMS <= 1e-5 on every ISA this machine
   runs (forced with mv_set_isa), and agree with the scalar reference. Also:
   in place == out of place (bytes), threads 1/2/3 give the same bytes,
   r2c -> c2r round trips, the one-call forms and their plan cache, caller
   scratch at odd alignment, several threads on one plan, misuse statuses.
   Built with MEDVOL_USE_FFTW the same tests check the FFTW backend (there
   in place and thread counts agree within rounding, not bit for bit). */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if !defined(MEDVOL_NO_THREADS)
#include <pthread.h>
#endif

enum { K_C2C = 0, K_C2CI, K_R2C, K_C2R };
static const char *const kind_names[] = {"c2c", "c2ci", "r2c", "c2r"};
static const char *const norm_names[] = {"backward", "ortho", "forward"};

typedef struct tcase {
    int kind, norm, ndim;
    int64_t dims[4];
    unsigned axes;
    int big; /* large enough (>= 4 MiB) for the worker pool to split it */
} tcase;

#define MAX_CASES 1000
static tcase cases[MAX_CASES];
static int n_cases;

static void add(int kind, int norm, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, unsigned axes, int big)
{
    tcase *c;
    if (n_cases >= MAX_CASES) {
        fprintf(stderr, "test_fft.c: more than MAX_CASES cases\n");
        exit(2);
    }
    c = &cases[n_cases++];
    c->kind = kind;
    c->norm = norm;
    c->ndim = ndim;
    c->dims[0] = d0;
    c->dims[1] = d1;
    c->dims[2] = d2;
    c->dims[3] = d3;
    c->axes = axes;
    c->big = big;
}

/* every kind of a shape, norms rotating so each kind meets each norm */
static void add_all_kinds(int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, unsigned axes, int big)
{
    static int rot;
    int k;
    for (k = 0; k < 4; k++) add(k, (rot + k) % 3, ndim, d0, d1, d2, d3, axes, big);
    rot++;
}

static void make_cases(void)
{
    static const int64_t lens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16, 25, 27, 32, 49, 59, 64, 67, 77, 97, 118, 121,
                                   128, 143, 240, 250, 256, 343, 1000, 1009, 1024, 4096, 4099};
    size_t i;
    int k, norm;
    /* 1-D: every length, every kind, every norm */
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        for (k = 0; k < 4; k++)
            for (norm = 0; norm < 3; norm++) add(k, norm, 1, lens[i], 1, 1, 1, 1, 0);
    /* batched 1-D along each axis */
    add_all_kinds(2, 97, 5, 1, 1, 1, 0);
    add_all_kinds(2, 5, 97, 1, 1, 2, 0);
    add_all_kinds(2, 40, 9, 1, 1, 2, 0);  /* real columns: bundles of vectors + a rest group */
    add_all_kinds(2, 33, 9, 1, 1, 2, 0);  /* an odd number of real columns */
    add_all_kinds(2, 1009, 3, 1, 1, 1, 0);
    add_all_kinds(2, 3, 1009, 1, 1, 2, 0); /* Bluestein along a strided axis */
    add_all_kinds(3, 250, 4, 3, 1, 1, 0);
    add_all_kinds(3, 4, 250, 3, 1, 2, 0);
    add_all_kinds(3, 5, 3, 240, 1, 4, 0);
    add_all_kinds(3, 17, 9, 77, 1, 4, 0);
    add_all_kinds(4, 3, 4, 5, 6, 1, 0);
    /* 2-D */
    add_all_kinds(2, 8, 6, 1, 1, 3, 0);
    add_all_kinds(2, 77, 13, 1, 1, 3, 0);
    add_all_kinds(2, 1, 7, 1, 1, 3, 0);
    add_all_kinds(2, 2, 1, 1, 1, 3, 0);
    add_all_kinds(2, 240, 250, 1, 1, 3, 0);
    add_all_kinds(2, 256, 256, 1, 1, 3, 0);
    add_all_kinds(2, 97, 13, 1, 1, 3, 0);
    add_all_kinds(3, 64, 48, 7, 1, 3, 0); /* batched 2-D over the two fast axes (a slab pass) */
    /* 3-D */
    add_all_kinds(3, 16, 12, 10, 1, 7, 0);
    add_all_kinds(3, 13, 11, 9, 1, 7, 0);
    add_all_kinds(3, 13, 97, 5, 1, 5, 0); /* axes {0,2} */
    add_all_kinds(3, 32, 17, 5, 1, 5, 0);
    add_all_kinds(3, 5, 64, 33, 1, 6, 0); /* axes {1,2}: the real axis is 1 */
    add_all_kinds(3, 32, 32, 32, 1, 7, 0);
    add_all_kinds(3, 1, 1, 1, 1, 7, 0);
    add_all_kinds(3, 7, 1, 4099, 1, 7, 0);
    /* 4-D */
    add_all_kinds(4, 6, 5, 4, 3, 15, 0);
    add_all_kinds(4, 8, 7, 6, 5, 10, 0); /* axes {1,3} */
    add_all_kinds(4, 16, 9, 4, 5, 5, 0);  /* axes {0,2} */
    add_all_kinds(4, 10, 3, 4, 2, 10, 0);
    /* large enough to run on several threads: slab passes, column passes, Bluestein */
    add_all_kinds(3, 128, 96, 50, 1, 7, 1);
    add_all_kinds(3, 512, 300, 8, 1, 7, 1);  /* a slab would be > 1 MiB: column passes only */
    add_all_kinds(2, 1009, 600, 1, 1, 3, 1); /* Bluestein on the contiguous axis */
    add_all_kinds(2, 600, 1009, 1, 1, 3, 1); /* ... and on the strided one */
    add_all_kinds(4, 64, 40, 30, 12, 11, 1); /* axes {0,1,3} */
    add_all_kinds(3, 250, 36, 77, 1, 7, 1);
}

static int64_t prod(const int64_t *d, int n)
{
    int64_t p = 1;
    int k;
    for (k = 0; k < n; k++) p *= d[k];
    return p;
}
static int lowest_axis(unsigned axes)
{
    int h = 0;
    while (!(axes & (1u << h))) h++;
    return h;
}
/* floats in the input and the output of a case */
static size_t in_floats(const tcase *c)
{
    int64_t cd[4];
    memcpy(cd, c->dims, sizeof(cd));
    if (c->kind == K_R2C) return (size_t)prod(c->dims, c->ndim);
    if (c->kind == K_C2R) cd[lowest_axis(c->axes)] = c->dims[lowest_axis(c->axes)] / 2 + 1;
    return 2 * (size_t)prod(cd, c->ndim);
}
static size_t out_floats(const tcase *c)
{
    int64_t cd[4];
    memcpy(cd, c->dims, sizeof(cd));
    if (c->kind == K_C2R) return (size_t)prod(c->dims, c->ndim);
    if (c->kind == K_R2C) cd[lowest_axis(c->axes)] = c->dims[lowest_axis(c->axes)] / 2 + 1;
    return 2 * (size_t)prod(cd, c->ndim);
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0) - 0.5f;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    if (fwrite(p, 1, n, f) != n) {
        fclose(f);
        return 0;
    }
    return fclose(f) == 0;
}
static void *read_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    void *p;
    if (!f) return NULL;
    p = xmalloc(n);
    if (fread(p, 1, n, f) != n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static double rel_rms_vs_ref(const float *y, const double *ref, size_t n)
{
    double e = 0, s = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)y[i] - ref[i];
        e += d * d;
        s += ref[i] * ref[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}
static double rel_rms(const float *y, const float *ref, size_t n)
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

static mv_status make_plan(const tcase *c, mv_fft_plan **p, int threads)
{
    mv_fft_opts o;
    memset(&o, 0, sizeof(o));
    o.norm = (mv_fft_norm)c->norm;
    o.threads = threads;
    switch (c->kind) {
    case K_C2C: return mv_fft_plan_c2c(p, c->ndim, c->dims, c->axes, 0, &o);
    case K_C2CI: return mv_fft_plan_c2c(p, c->ndim, c->dims, c->axes, 1, &o);
    case K_R2C: return mv_fft_plan_r2c(p, c->ndim, c->dims, c->axes, &o);
    default: return mv_fft_plan_c2r(p, c->ndim, c->dims, c->axes, &o);
    }
}

static void describe(const tcase *c, char *buf, size_t cap)
{
    int k;
    size_t n = (size_t)snprintf(buf, cap, "%s %s dims", kind_names[c->kind], norm_names[c->norm]);
    for (k = 0; k < c->ndim && n < cap; k++) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", k ? "x" : " ", (long long)c->dims[k]);
    if (n < cap) snprintf(buf + n, cap - n, " axes 0x%x", c->axes);
}

/* runs a case: out of place, and (c2c) in place, which must give the same bytes */
static float *run_case(const tcase *c, const float *in, int threads, const char *what)
{
    size_t ni = in_floats(c), no = out_floats(c);
    float *out = (float *)xmalloc(no * 4);
    mv_fft_plan *p = NULL;
    mv_status st = make_plan(c, &p, threads);
    char d[128];
    describe(c, d, sizeof(d));
    EXPECT_MSG(st == MV_OK, "%s: plan: %s (%s)", d, mv_status_str(st), mv_last_error());
    if (st != MV_OK) {
        free(out);
        return NULL;
    }
    memset(out, 0xff, no * 4);
    st = mv_fft_execute(p, in, out);
    EXPECT_MSG(st == MV_OK, "%s [%s]: execute: %s (%s)", d, what, mv_status_str(st), mv_last_error());
    if (c->kind == K_C2C || c->kind == K_C2CI) {
        float *io = (float *)xmalloc(ni * 4);
        memcpy(io, in, ni * 4);
        st = mv_fft_execute(p, io, io);
#if defined(MEDVOL_USE_FFTW)
        /* fftwf's in-place plans are other algorithms: equal within rounding */
        EXPECT_MSG(st == MV_OK && rel_rms(io, out, no) <= 1e-6, "%s [%s]: in place differs from out of place", d, what);
#else
        EXPECT_MSG(st == MV_OK && memcmp(io, out, no * 4) == 0, "%s [%s]: in place differs from out of place", d, what);
#endif
        free(io);
    } else {
        EXPECT_MSG(mv_fft_execute(p, out, out) == MV_ERR_INVALID_ARG, "%s: in-place r2c/c2r must be refused", d);
    }
    mv_fft_plan_free(p);
    return out;
}

/* fixed-seed inputs of every case (the same on every run) */
static float **make_inputs(void)
{
    float **inputs = (float **)xmalloc(sizeof(float *) * (size_t)n_cases);
    int i;
    g_rng = 0x9E3779B97F4A7C15ull;
    for (i = 0; i < n_cases; i++) {
        size_t j, ni = in_floats(&cases[i]);
        inputs[i] = (float *)xmalloc(ni * 4);
        for (j = 0; j < ni; j++) inputs[i][j] = rnd();
    }
    return inputs;
}
static void free_arrays(void **a, int n)
{
    int i;
    for (i = 0; i < n; i++) free(a[i]);
    free(a);
}

/* numpy's results of every case (float64), computed now by ref_fft.py;
   NULL entries where a result is missing */
static double **numpy_results(float **inputs)
{
    const char *dir = tu_path("fft");
    char path[1024];
    FILE *man;
    double **want;
    int i, k;
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/manifest.txt", dir);
    man = fopen(path, "w");
    if (!man) return NULL;
    for (i = 0; i < n_cases; i++) {
        const tcase *c = &cases[i];
        snprintf(path, sizeof(path), "%s/in_%d.bin", dir, i);
        if (!write_file(path, inputs[i], in_floats(c) * 4)) {
            fclose(man);
            return NULL;
        }
        fprintf(man, "%d %s %s %d", i, kind_names[c->kind], norm_names[c->norm], c->ndim);
        for (k = 0; k < c->ndim; k++) fprintf(man, " %lld", (long long)c->dims[k]);
        fprintf(man, " %u\n", c->axes);
    }
    fclose(man);
    if (tu_run_py("ref_fft.py", dir, NULL, 0) != 0) return NULL;
    want = (double **)xmalloc(sizeof(double *) * (size_t)n_cases);
    for (i = 0; i < n_cases; i++) {
        snprintf(path, sizeof(path), "%s/out_%d.bin", dir, i);
        want[i] = (double *)read_file(path, out_floats(&cases[i]) * 8);
        remove(path);
        snprintf(path, sizeof(path), "%s/in_%d.bin", dir, i);
        remove(path);
    }
    return want;
}

/* every ISA against numpy; every ISA but the reference against the reference.
   The large cases (those made for the thread tests, 95% of the work) run on
   the scalar reference only in a suite where it is the active ISA (the
   no-SIMD suite): elsewhere each SIMD ISA meets numpy on them directly, and
   a second scalar pass would double the qemu NEON run's longest test for
   code the no-SIMD suite already checks natively. */
MV_TEST(fft, matches_numpy_every_isa)
{
    float **inputs, **refs;
    double **want;
    int i, k;
    unsigned isas = mv_isa_available();
    mv_isa best = mv_isa_active();
    if (!tu_python("numpy")) SKIP("needs /usr/bin/python3 with numpy");
    if (!n_cases) make_cases();
    inputs = make_inputs();
    want = numpy_results(inputs);
    if (!want) {
        free_arrays((void **)inputs, n_cases);
        MVT_FAIL("tests/py/ref_fft.py failed");
        return;
    }
    refs = (float **)calloc((size_t)n_cases, sizeof(float *));
    for (k = 0; k < MV_ISA_COUNT; k++) {
        double worst = 0;
        int worst_case = -1, compared = 0;
        if (!(isas & (1u << k))) continue;
        EXPECT_MSG(mv_set_isa((mv_isa)k) == MV_OK, "mv_set_isa(%s)", mv_isa_name((mv_isa)k));
        for (i = 0; i < n_cases; i++) {
            const tcase *c = &cases[i];
            float *y;
            char d[128];
            double e;
            EXPECT_MSG(want[i] != NULL, "case %d: no numpy result", i);
            if (!want[i]) continue;
            if (c->big && !tu_isa_extra_runs(k, (int)best)) continue;
            describe(c, d, sizeof(d));
            y = run_case(c, inputs[i], 1, mv_isa_name((mv_isa)k));
            if (!y) continue;
            compared++;
            e = rel_rms_vs_ref(y, want[i], out_floats(c));
            EXPECT_MSG(e <= 1e-5, "%s on %s: relative RMS %.3g vs numpy", d, mv_isa_name((mv_isa)k), e);
            if (e > worst) {
                worst = e;
                worst_case = i;
            }
            if (k == MV_ISA_REF) {
                refs[i] = y;
            } else {
                if (refs[i]) {
                    double r = rel_rms(y, refs[i], out_floats(c));
                    EXPECT_MSG(r <= 1e-5, "%s on %s: relative RMS %.3g vs the scalar reference", d,
                               mv_isa_name((mv_isa)k), r);
                }
                free(y);
            }
        }
        if (worst_case >= 0) {
            char d[128];
            describe(&cases[worst_case], d, sizeof(d));
            printf("    isa %-6s: %d cases vs numpy, worst relative RMS %.2e (%s)\n", mv_isa_name((mv_isa)k), compared,
                   worst, d);
        }
    }
    mv_set_isa(best);
    free_arrays((void **)inputs, n_cases);
    free_arrays((void **)refs, n_cases);
    free_arrays((void **)want, n_cases);
}

/* threads 1 / 2 / 3 give the same bytes, on the cases big enough for the
   pool to split, on the active ISA (the MEDVOL_NO_SIMD suite runs this on
   the reference; one ISA per suite keeps the qemu NEON run short) */
MV_TEST(fft, threads_identical)
{
    float **inputs;
    int i;
    mv_isa isa = mv_isa_active();
    if (!n_cases) make_cases();
    inputs = make_inputs();
    for (i = 0; i < n_cases; i++) {
        const tcase *c = &cases[i];
        float *y1, *y2, *y3;
        char d[128];
        if (!c->big) continue;
        describe(c, d, sizeof(d));
        y1 = run_case(c, inputs[i], 1, "1 thread");
        y2 = run_case(c, inputs[i], 2, "2 threads");
        y3 = run_case(c, inputs[i], 3, "3 threads");
        if (y1 && y2 && y3) {
#if defined(MEDVOL_USE_FFTW)
            /* fftwf picks per-thread-count algorithms: equal within rounding */
            EXPECT_MSG(rel_rms(y2, y1, out_floats(c)) <= 1e-6 && rel_rms(y3, y1, out_floats(c)) <= 1e-6,
                       "%s on %s: 1/2/3 threads disagree", d, mv_isa_name(isa));
#else
            EXPECT_MSG(memcmp(y1, y2, out_floats(c) * 4) == 0 && memcmp(y1, y3, out_floats(c) * 4) == 0,
                       "%s on %s: 1/2/3 threads give different bytes", d, mv_isa_name(isa));
#endif
        }
        free(y1);
        free(y2);
        free(y3);
    }
    free_arrays((void **)inputs, n_cases);
}

/* r2c then c2r (backward norm) gives the input back */
MV_TEST(fft, real_round_trips)
{
    static const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 1, 1, 1}, {13, 1, 1, 1}, {250, 1, 1, 1}, {4099, 1, 1, 1},
                                        {8, 6, 1, 1},  {7, 9, 5, 1},  {33, 20, 3, 1}, {6, 5, 4, 3}};
    static const int ndims[] = {1, 1, 1, 1, 1, 2, 3, 3, 4};
    size_t s;
    unsigned axes;
    for (s = 0; s < sizeof(ndims) / sizeof(ndims[0]); s++)
        for (axes = 1; axes < (1u << ndims[s]); axes++) {
            int nd = ndims[s];
            size_t n = (size_t)prod(shapes[s], nd), j, nc;
            int64_t cd[4];
            float *x = (float *)xmalloc(n * 4), *y = (float *)xmalloc(n * 4), *X;
            mv_status st1, st2;
            memcpy(cd, shapes[s], sizeof(cd));
            cd[lowest_axis(axes)] = cd[lowest_axis(axes)] / 2 + 1;
            nc = (size_t)prod(cd, nd);
            X = (float *)xmalloc(nc * 8);
            for (j = 0; j < n; j++) x[j] = rnd();
            st1 = mv_fft_r2c(x, X, nd, shapes[s], axes, NULL);
            st2 = mv_fft_c2r(X, y, nd, shapes[s], axes, NULL);
            EXPECT_MSG(st1 == MV_OK && st2 == MV_OK && rel_rms(y, x, n) <= 1e-6,
                  "round trip %lldx%lldx%lldx%lld (ndim %d) axes 0x%x: %s %s, relative RMS %.3g", (long long)shapes[s][0],
                  (long long)shapes[s][1], (long long)shapes[s][2], (long long)shapes[s][3], nd, axes, mv_status_str(st1),
                  mv_status_str(st2), rel_rms(y, x, n));
            free(x);
            free(y);
            free(X);
        }
}

/* A real line's result depends only on that line (numpy, FFTW and pocketfft
   transform each batch item on its own): in a batch whose lines differ by
   1e6 in scale, with an all-zero line among them, each line's output has
   the bytes it has when every other line is zero, and the zero line gives
   exact zeros; rows and columns (with a rest group), even and odd
   lengths, Bluestein, every ISA; and a column gives the same bytes in a
   column bundle as in a rest group. (The engine once rode two real lines
   as one complex line, x + i y: a line picked up ~eps x its partner's
   magnitude.) With FFTW: within 1e-6 of the line's own magnitude. */
MV_TEST(fft, real_lines_independent)
{
    static const struct {
        int ndim;
        int64_t dims[3];
        unsigned axes;
    } cs[] = {{2, {16, 2, 1}, 1},  {2, {16, 11, 1}, 1}, {2, {13, 10, 1}, 1},  {2, {2018, 3, 1}, 1}, {2, {11, 16, 1}, 2},
              {2, {19, 12, 1}, 2}, {2, {5, 15, 1}, 2},  {2, {3, 2018, 1}, 2}, {3, {6, 10, 7}, 2},   {3, {4, 9, 6}, 4},
              {1, {2, 1, 1}, 1},   {2, {2, 9, 1}, 2}};
    unsigned isas = mv_isa_available();
    mv_isa best = mv_isa_active();
    size_t c;
    int k;
    for (k = 0; k < MV_ISA_COUNT; k++) {
        if (!(isas & (1u << k))) continue;
        mv_set_isa((mv_isa)k);
        for (c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
            const int nd = cs[c].ndim, h = lowest_axis(cs[c].axes);
            int64_t cd[3], n = cs[c].dims[h], lines, l, i;
            size_t nr = (size_t)prod(cs[c].dims, nd), ncx, j;
            int kind;
            memcpy(cd, cs[c].dims, sizeof(cd));
            cd[h] = n / 2 + 1;
            ncx = (size_t)prod(cd, nd);
            lines = (int64_t)(nr / (size_t)n);
            for (kind = 0; kind < 2; kind++) { /* r2c, c2r */
                const int64_t *din = kind ? cd : cs[c].dims, *dout = kind ? cs[c].dims : cd;
                const size_t fin = kind ? 2 * ncx : nr, fout = kind ? nr : 2 * ncx, ef_in = kind ? 2 : 1, ef_out = kind ? 1 : 2;
                const int64_t lin = din[h], lout = dout[h];
                const int64_t s_in = prod(din, h), sout = prod(dout, h);
                float *x = (float *)xmalloc(fin * 4), *y = (float *)xmalloc(fout * 4);
                float *xz = (float *)xmalloc(fin * 4), *yz = (float *)xmalloc(fout * 4);
                int bad = 0, zero_bad = 0;
                mv_status st;
                for (j = 0; j < fin; j++) x[j] = rnd();
                /* line l: index over the other axes; its element e at (l's base) + e * stride */
                for (l = 0; l < lines; l++) {
                    int64_t lo = l % s_in, hi = l / s_in;
                    float s = l % 3 == 0 ? 1e6f : l % 3 == 1 ? 1.0f : 0.0f;
                    for (i = 0; i < lin; i++)
                        for (j = 0; j < ef_in; j++) x[(size_t)((hi * lin + i) * s_in + lo) * ef_in + j] *= s;
                }
                st = kind ? mv_fft_c2r(x, y, nd, cs[c].dims, cs[c].axes, NULL) : mv_fft_r2c(x, y, nd, cs[c].dims, cs[c].axes, NULL);
                EXPECT_MSG(st == MV_OK, "case %zu: %s", c, mv_status_str(st));
                for (l = 0; l < lines; l++) {
                    int64_t lo = l % s_in, hi = l / s_in;
                    double big = 0, err = 0;
                    memset(xz, 0, fin * 4);
                    for (i = 0; i < lin; i++)
                        for (j = 0; j < ef_in; j++) {
                            size_t q = (size_t)((hi * lin + i) * s_in + lo) * ef_in + j;
                            xz[q] = x[q];
                        }
                    st = kind ? mv_fft_c2r(xz, yz, nd, cs[c].dims, cs[c].axes, NULL)
                              : mv_fft_r2c(xz, yz, nd, cs[c].dims, cs[c].axes, NULL);
                    for (i = 0; i < lout; i++)
                        for (j = 0; j < ef_out; j++) {
                            size_t q = (size_t)((hi * lout + i) * sout + lo) * ef_out + j;
                            big = fmax(big, fabs((double)yz[q]));
                            err = fmax(err, fabs((double)y[q] - (double)yz[q]));
#if !defined(MEDVOL_USE_FFTW)
                            bad += memcmp(&y[q], &yz[q], 4) != 0;
#endif
                            if (l % 3 == 2) zero_bad += y[q] != 0.0f;
                        }
                    if (err > 1e-6 * big) bad++;
                }
                EXPECT_MSG(bad == 0 && zero_bad == 0,
                           "%s on %s, case %zu (%s, ndim %d, axes 0x%x): %d values depend on the other lines, %d not zero in a zero line",
                           kind ? "c2r" : "r2c", mv_isa_name((mv_isa)k), c, h == 0 ? "rows" : "columns", nd, cs[c].axes, bad,
                           zero_bad);
                free(x);
                free(y);
                free(xz);
                free(yz);
            }
        }
        /* the same real columns in column bundles and in rest groups: 19
           columns (column j = column j % 3 of a 3-column array) against the
           3 columns, each ISA's kernels meeting each other's (and Bluestein,
           odd, one- and two-stage lengths) */
        {
            static const int64_t lens[] = {2, 6, 8, 12, 15, 22, 52, 64, 70, 128, 250, 2018};
            size_t li;
            for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
                const int64_t n = lens[li], hn = n / 2 + 1, dw[2] = {19, n}, dn[2] = {3, n};
                float *xw = (float *)xmalloc((size_t)(19 * n) * 8), *xn = (float *)xmalloc((size_t)(3 * n) * 8);
                float *yw = (float *)xmalloc((size_t)(19 * n) * 8), *yn = (float *)xmalloc((size_t)(3 * n) * 8);
                int kind, bad;
                int64_t i, j;
                for (kind = 0; kind < 2; kind++) {
                    const int64_t rows = kind ? hn : n, ef = kind ? 2 : 1, orows = kind ? n : hn, of = kind ? 1 : 2;
                    bad = 0;
                    for (i = 0; i < rows * 3 * ef; i++) xn[i] = rnd() * (i % 5 == 0 ? 1e5f : 1.0f);
                    for (i = 0; i < rows; i++)
                        for (j = 0; j < 19 * ef; j++) xw[i * 19 * ef + j] = xn[i * 3 * ef + (j / ef) % 3 * ef + j % ef];
                    if (kind) {
                        mv_fft_c2r(xw, yw, 2, dw, 2, NULL);
                        mv_fft_c2r(xn, yn, 2, dn, 2, NULL);
                    } else {
                        mv_fft_r2c(xw, yw, 2, dw, 2, NULL);
                        mv_fft_r2c(xn, yn, 2, dn, 2, NULL);
                    }
                    for (i = 0; i < orows; i++)
                        for (j = 0; j < 19 * of; j++)
                            bad += memcmp(&yw[i * 19 * of + j], &yn[i * 3 * of + (j / of) % 3 * of + j % of], 4) != 0;
#if defined(MEDVOL_USE_FFTW)
                    bad = 0; /* fftwf: other codelets for other batch shapes */
#endif
                    EXPECT_MSG(bad == 0, "%s on %s, length %lld: %d values differ between column bundles and rest groups",
                               kind ? "c2r" : "r2c", mv_isa_name((mv_isa)k), (long long)n, bad);
                }
                free(xw);
                free(xn);
                free(yw);
                free(yn);
            }
        }
    }
    mv_set_isa(best);
}

/* the one-call forms agree with the plans, caller scratch at any alignment */
MV_TEST(fft, one_call_forms_cache_and_scratch)
{
    const int64_t dims[3] = {24, 10, 7};
    size_t n = 24 * 10 * 7, j;
    float *x = (float *)xmalloc(n * 8), *a = (float *)xmalloc(n * 8), *b = (float *)xmalloc(n * 8);
    unsigned char *scratch;
    mv_fft_plan *p;
    mv_fft_opts o;
    size_t ss;
    memset(&o, 0, sizeof(o));
    o.norm = MV_FFT_ORTHO;
    for (j = 0; j < 2 * n; j++) x[j] = rnd();
    EXPECT_MSG(mv_fft_plan_c2c(&p, 3, dims, 5, 1, &o) == MV_OK, "plan");
    EXPECT_MSG(mv_fft_execute(p, x, a) == MV_OK, "execute");
    ss = mv_fft_scratch_size(p);
    EXPECT_MSG(ss > 0, "scratch size");
    scratch = (unsigned char *)xmalloc(ss + 1);
    EXPECT_MSG(mv_fft_execute_into(p, x, b, scratch + 1) == MV_OK && memcmp(a, b, n * 8) == 0,
          "execute_into with unaligned caller scratch differs");
    memset(b, 0, n * 8);
    EXPECT_MSG(mv_fft_c2c(x, b, 3, dims, 5, 1, &o) == MV_OK && memcmp(a, b, n * 8) == 0, "mv_fft_c2c differs from the plan");
    memset(b, 0, n * 8);
    EXPECT_MSG(mv_fft_c2c(x, b, 3, dims, 5, 1, &o) == MV_OK && memcmp(a, b, n * 8) == 0, "mv_fft_c2c (cached plan) differs");
    mv_fft_cache_clear();
    memset(b, 0, n * 8);
    EXPECT_MSG(mv_fft_c2c(x, b, 3, dims, 5, 1, &o) == MV_OK && memcmp(a, b, n * 8) == 0, "mv_fft_c2c after cache clear differs");
    /* more shapes than the cache holds, then the first again */
    for (j = 1; j <= 20; j++) {
        int64_t d1 = (int64_t)j;
        EXPECT_MSG(mv_fft_c2c(x, b, 1, &d1, 1, 0, NULL) == MV_OK, "mv_fft_c2c length %lld", (long long)d1);
    }
    memset(b, 0, n * 8);
    EXPECT_MSG(mv_fft_c2c(x, b, 3, dims, 5, 1, &o) == MV_OK && memcmp(a, b, n * 8) == 0, "mv_fft_c2c after eviction differs");
    EXPECT_MSG(mv_fft_scratch_size(NULL) == 0, "scratch size of NULL");
    mv_fft_plan_free(p);
    mv_fft_plan_free(NULL);
    free(scratch);
    free(x);
    free(a);
    free(b);
}

MV_TEST(fft, bad_arguments)
{
    const int64_t d3[3] = {8, 8, 8}, bad[2] = {8, 0}, neg[1] = {-3};
    float buf[2 * 512 + 64];
    mv_fft_plan *p = (mv_fft_plan *)(uintptr_t)1;
    mv_fft_opts o;
    memset(&o, 0, sizeof(o));
    EXPECT_MSG(mv_fft_plan_c2c(NULL, 3, d3, 7, 0, NULL) == MV_ERR_INVALID_ARG, "NULL plan pointer");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 0, d3, 1, 0, NULL) == MV_ERR_INVALID_ARG && p == NULL, "ndim 0 (and *plan NULL after)");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 8, d3, 1, 0, NULL) == MV_ERR_INVALID_ARG, "ndim 8");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 3, NULL, 1, 0, NULL) == MV_ERR_INVALID_ARG, "NULL dims");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 2, bad, 1, 0, NULL) == MV_ERR_INVALID_ARG, "a zero dim");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 1, neg, 1, 0, NULL) == MV_ERR_INVALID_ARG, "a negative dim");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 3, d3, 0, 0, NULL) == MV_ERR_INVALID_ARG, "no axes");
    EXPECT_MSG(mv_fft_plan_r2c(&p, 3, d3, 8, NULL) == MV_ERR_INVALID_ARG, "axis bit beyond ndim");
    o.norm = (mv_fft_norm)7;
    EXPECT_MSG(mv_fft_plan_c2r(&p, 3, d3, 7, &o) == MV_ERR_INVALID_ARG, "bad norm");
    o.norm = MV_FFT_BACKWARD;
    o.threads = -1;
    EXPECT_MSG(mv_fft_plan_c2c(&p, 3, d3, 7, 0, &o) == MV_ERR_INVALID_ARG, "negative threads");
    EXPECT_MSG(mv_fft_execute(NULL, buf, buf) == MV_ERR_INVALID_ARG, "execute NULL plan");
    EXPECT_MSG(mv_fft_plan_c2c(&p, 1, d3, 1, 0, NULL) == MV_OK, "plan of 8");
    EXPECT_MSG(mv_fft_execute(p, NULL, buf) == MV_ERR_INVALID_ARG, "execute NULL in");
    EXPECT_MSG(mv_fft_execute(p, buf, buf + 2) == MV_ERR_INVALID_ARG, "partial overlap");
    EXPECT_MSG(mv_fft_execute_into(p, buf, buf + 32, NULL) == MV_ERR_INVALID_ARG, "NULL scratch");
    mv_fft_plan_free(p);
    EXPECT_MSG(mv_fft_plan_r2c(&p, 1, d3, 1, NULL) == MV_OK, "r2c plan of 8");
    EXPECT_MSG(mv_fft_execute(p, buf, buf + 4) == MV_ERR_INVALID_ARG, "overlapping r2c");
    mv_fft_plan_free(p);
    EXPECT_MSG(strlen(mv_last_error()) > 0, "a detail for the last failure");
}

#if !defined(MEDVOL_NO_THREADS)
typedef struct shared_job {
    const mv_fft_plan *plan;
    const float *in;
    float *out;
    int one_call;
    mv_status st;
} shared_job;
static void *shared_run(void *arg)
{
    shared_job *j = (shared_job *)arg;
    const int64_t dims[3] = {40, 30, 20};
    int r;
    j->st = MV_OK;
    for (r = 0; r < 5 && j->st == MV_OK; r++)
        j->st = j->one_call ? mv_fft_c2c(j->in, j->out, 3, dims, 7, 0, NULL) : mv_fft_execute(j->plan, j->in, j->out);
    return NULL;
}
/* one plan (and the one-call forms) on several threads at once */
MV_TEST(fft, one_plan_many_threads)
{
    enum { T = 6 };
    const int64_t dims[3] = {40, 30, 20};
    size_t n = 40 * 30 * 20, j;
    float *x = (float *)xmalloc(n * 8), *want = (float *)xmalloc(n * 8), *outs[T];
    pthread_t th[T];
    shared_job jobs[T];
    mv_fft_plan *p;
    int t;
    for (j = 0; j < 2 * n; j++) x[j] = rnd();
    EXPECT_MSG(mv_fft_plan_c2c(&p, 3, dims, 7, 0, NULL) == MV_OK, "plan");
    mv_fft_execute(p, x, want);
    for (t = 0; t < T; t++) {
        outs[t] = (float *)xmalloc(n * 8);
        jobs[t].plan = p;
        jobs[t].in = x;
        jobs[t].out = outs[t];
        jobs[t].one_call = t & 1;
        pthread_create(&th[t], NULL, shared_run, &jobs[t]);
    }
    for (t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        EXPECT_MSG(jobs[t].st == MV_OK && memcmp(outs[t], want, n * 8) == 0, "thread %d: %s, or different bytes", t,
              mv_status_str(jobs[t].st));
        free(outs[t]);
    }
    mv_fft_plan_free(p);
    free(x);
    free(want);
}
#else
MV_TEST(fft, one_plan_many_threads) { SKIP("MEDVOL_NO_THREADS"); }
#endif
