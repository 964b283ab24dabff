/* test_filter.c - mv_gaussian / _into / _derivative, mv_box_filter,
   mv_gradient and the pyramids against scipy.ndimage and numpy
   (tests/py/ref_filter.py: gaussian_filter, uniform_filter, numpy.gradient,
   zoom), every ISA against the scalar reference bit for bit, thread counts
   bit for bit, and bad arguments. */
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reference cases: written here, computed by scipy, read back ---- */

typedef struct fcase {
    const char *kind;   /* gauss, box, grad, pyr */
    int64_t n[4];       /* nx ny nz nt */
    double p[3];        /* sigma / radius / level shape */
    int o[3];           /* derivative orders */
    int mode;
    double cval, truncate;
    mv_dtype dt;        /* input dtype (values are made representable) */
    double slope, inter;
    int method;
    double aff[4][4];   /* grad */
    double sig[3];      /* pyr: the level's sigma (voxels) */
} fcase;

#define MAXCASES 128
typedef struct fbatch {
    fcase c[MAXCASES];
    mv_vol in[MAXCASES];
    int n;
    char dir[512];
} fbatch;

static void vals(double *v, const int64_t *n, uint64_t seed, int integer)
{
    int64_t i, x, y, z, t, cnt = n[0] * n[1] * n[2] * n[3];
    for (i = 0; i < cnt; i++) {
        x = i % n[0];
        y = (i / n[0]) % n[1];
        z = (i / (n[0] * n[1])) % n[2];
        t = i / (n[0] * n[1] * n[2]);
        v[i] = 300.0 + 200.0 * sin(0.7 * (double)x + 0.3 * (double)t) * cos(0.45 * (double)y - 0.2) + 15.0 * (double)z +
               (tu_rand01(&seed) - 0.5) * 120.0;
        if (integer) v[i] = floor(v[i]);
    }
}

/* in: the case's dtype holding raw values whose scaled value is v */
static int make_input(const fcase *c, mv_vol *in, double *v, uint64_t seed)
{
    int64_t dims[4] = {c->n[0], c->n[1], c->n[2], c->n[3]}, i, cnt = dims[0] * dims[1] * dims[2] * dims[3];
    int ndim = dims[3] > 1 ? 4 : dims[2] > 1 ? 3 : 2, a, b;
    vals(v, dims, seed, c->dt != MV_DT_F32 && c->dt != MV_DT_F64);
    if (mv_vol_alloc(in, c->dt, ndim, dims, NULL) != MV_OK) return 0;
    for (i = 0; i < cnt; i++) {
        double raw = c->slope != 0 ? (v[i] - c->inter) / c->slope : v[i];
        switch (c->dt) {
        case MV_DT_F32: ((float *)in->data)[i] = (float)raw; v[i] = (double)(float)raw; break;
        case MV_DT_F64: ((double *)in->data)[i] = raw; break;
        case MV_DT_I16: ((int16_t *)in->data)[i] = (int16_t)floor(raw + 0.5); break;
        case MV_DT_U8: ((uint8_t *)in->data)[i] = (uint8_t)(floor(raw + 0.5) < 0 ? 0 : floor(raw + 0.5) > 255 ? 255 : floor(raw + 0.5)); break;
        default: return 0;
        }
        if (c->dt == MV_DT_I16) v[i] = (double)((int16_t *)in->data)[i];
        if (c->dt == MV_DT_U8) v[i] = (double)((uint8_t *)in->data)[i];
        if (c->slope != 0 && c->dt != MV_DT_F32 && c->dt != MV_DT_F64) v[i] = (double)(float)(v[i] * c->slope + c->inter);
    }
    in->meta.scl_slope = c->slope;
    in->meta.scl_inter = c->inter;
    for (a = 0; a < 4; a++)
        for (b = 0; b < 4; b++) in->affine[a][b] = c->aff[a][b];
    if (in->affine[3][3] == 0)
        for (a = 0; a < 4; a++) in->affine[a][a] = 1.0;
    return 1;
}

static int batch_run(fbatch *B, const char *tag)
{
    char path[700], line[512], args[600];
    FILE *f;
    int i;
    if (!tu_python("numpy scipy")) return 0;
    snprintf(B->dir, sizeof(B->dir), "%s", tu_path(tag));
    snprintf(args, sizeof(args), "mkdir -p '%s'", B->dir);
    if (system(args) != 0) return 0;
    snprintf(path, sizeof(path), "%s/cases.txt", B->dir);
    f = fopen(path, "w");
    if (!f) return 0;
    for (i = 0; i < B->n; i++) {
        const fcase *c = &B->c[i];
        int64_t cnt = c->n[0] * c->n[1] * c->n[2] * c->n[3];
        double *v = (double *)malloc((size_t)cnt * sizeof(double));
        if (!v || !make_input(c, &B->in[i], v, 1000 + (uint64_t)i)) return 0;
        snprintf(path, sizeof(path), "%s/c%d.in", B->dir, i);
        tu_write_file(path, v, (size_t)cnt * sizeof(double));
        free(v);
        if (!strcmp(c->kind, "grad")) {
            snprintf(path, sizeof(path), "%s/c%d.aff", B->dir, i);
            tu_write_file(path, B->in[i].affine, sizeof(B->in[i].affine));
        }
        if (!strcmp(c->kind, "pyr")) {
            snprintf(path, sizeof(path), "%s/c%d.sig", B->dir, i);
            tu_write_file(path, c->sig, sizeof(c->sig));
        }
        snprintf(line, sizeof(line), "c%d %s %lld %lld %lld %lld %.17g %.17g %.17g %d %d %d %d %.17g %.17g\n", i, c->kind,
                 (long long)c->n[0], (long long)c->n[1], (long long)c->n[2], (long long)c->n[3], c->p[0], c->p[1],
                 c->p[2], c->o[0], c->o[1], c->o[2], c->mode, c->cval, c->truncate > 0 ? c->truncate : 4.0);
        fputs(line, f);
    }
    fclose(f);
    return tu_run_py("ref_filter.py", B->dir, NULL, 0) == 0;
}

/* max |got - want| / max(1, max |want|) over n values */
static double rel_err(const float *got, const double *want, int64_t n, int64_t *where)
{
    double m = 1.0, e = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) m = fabs(want[i]) > m ? fabs(want[i]) : m;
    for (i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= e)) {
            e = d;
            if (where) *where = i;
        }
    }
    return e / m;
}

static double *read_ref(const fbatch *B, int i, int64_t n)
{
    char path[700];
    size_t len = 0;
    unsigned char *d;
    snprintf(path, sizeof(path), "%s/c%d.out", B->dir, i);
    d = tu_read_file(path, &len);
    if (d && len != (size_t)n * sizeof(double)) {
        free(d);
        return NULL;
    }
    return (double *)(void *)d;
}

static fcase gcase(int64_t nx, int64_t ny, int64_t nz, int64_t nt, double s0, double s1, double s2, int mode)
{
    fcase c;
    memset(&c, 0, sizeof(c));
    c.kind = "gauss";
    c.n[0] = nx, c.n[1] = ny, c.n[2] = nz, c.n[3] = nt;
    c.p[0] = s0, c.p[1] = s1, c.p[2] = s2;
    c.mode = mode;
    c.dt = MV_DT_F32;
    c.cval = mode == MV_BOUNDARY_CONSTANT ? 17.5 : 0.0;
    return c;
}

static void batch_free(fbatch *B)
{
    int i;
    for (i = 0; i < B->n; i++) mv_free(&B->in[i]);
}

static void check_batch(fbatch *B, double tol)
{
    int i;
    for (i = 0; i < B->n; i++) {
        const fcase *c = &B->c[i];
        mv_filter_opts o = MV_ZERO_INIT;
        mv_vol out;
        int64_t cnt = c->n[0] * c->n[1] * c->n[2] * c->n[3], where = 0;
        double *ref, e;
        mv_status st;
        o.mode = (mv_boundary)c->mode;
        o.cval = c->cval;
        o.truncate = c->truncate;
        o.method = c->method;
        mv_vol_init(&out);
        if (!strcmp(c->kind, "gauss")) {
            if (c->o[0] || c->o[1] || c->o[2]) st = mv_gaussian_derivative(&B->in[i], &out, c->p, c->o, &o);
            else st = mv_gaussian(&B->in[i], &out, c->p, &o);
        } else if (!strcmp(c->kind, "box")) {
            int64_t r[3] = {(int64_t)c->p[0], (int64_t)c->p[1], (int64_t)c->p[2]};
            st = mv_box_filter(&B->in[i], &out, r, &o);
        } else {
            st = mv_gradient(&B->in[i], &out, &o);
            cnt *= 3;
        }
        EXPECT_MSG(st == MV_OK, "case %d (%s): %s %s", i, c->kind, mv_status_str(st), mv_last_error());
        if (st != MV_OK) continue;
        EXPECT_EQ_INT(out.dtype, MV_DT_F32);
        EXPECT_MSG(mv_vol_count(&out) == cnt, "case %d: %lld values, want %lld", i, (long long)mv_vol_count(&out),
                   (long long)cnt);
        ref = read_ref(B, i, cnt);
        EXPECT_MSG(ref != NULL, "case %d: no scipy output", i);
        if (ref && mv_vol_count(&out) == cnt) {
            e = rel_err((const float *)out.data, ref, cnt, &where);
            EXPECT_MSG(e <= tol,
                       "case %d %s %lldx%lldx%lldx%lld p=(%g,%g,%g) o=(%d,%d,%d) mode %d dt %s: rel err %.3g > %.3g at %lld "
                       "(%.9g vs %.9g)",
                       i, c->kind, (long long)c->n[0], (long long)c->n[1], (long long)c->n[2], (long long)c->n[3],
                       c->p[0], c->p[1], c->p[2], c->o[0], c->o[1], c->o[2], c->mode, mv_dtype_name(c->dt), e, tol,
                       (long long)where, (double)((const float *)out.data)[where], ref[where]);
        }
        free(ref);
        mv_free(&out);
    }
}

MV_TEST(filter, gaussian_matches_scipy)
{
    static fbatch B;
    int m;
    memset(&B, 0, sizeof(B));
    for (m = 0; m < 5; m++) {
        B.c[B.n++] = gcase(13, 11, 9, 1, 1.5, 1.5, 1.5, m);
        B.c[B.n++] = gcase(7, 5, 3, 1, 0.7, 2.2, 3.4, m);  /* kernels longer than the axes */
        B.c[B.n++] = gcase(16, 11, 1, 1, 2.0, 1.0, 0.0, m); /* 2D */
        B.c[B.n++] = gcase(9, 8, 7, 2, 1.0, 0.0, 2.5, m);   /* 4D, sigma 0 on y */
        B.c[B.n++] = gcase(33, 4, 5, 1, 0.0, 0.0, 1.2, m);  /* z only */
        B.c[B.n++] = gcase(1, 6, 5, 1, 3.0, 1.0, 1.0, m);   /* an axis of length 1 */
        B.c[B.n++] = gcase(6, 5, 40, 1, 0.5, 0.7, 1.5, m);  /* long z: the ring path of the z pass */
        B.c[B.n++] = gcase(3, 70, 2, 1, 0.5, 0.0, 0.0, m); /* sic: z pass absent, long y */
    }
    B.c[B.n] = gcase(20, 17, 6, 1, 1.3, 0.6, 0.9, MV_BOUNDARY_REFLECT);
    B.c[B.n].dt = MV_DT_I16, B.c[B.n].slope = 0.25, B.c[B.n].inter = -12.0, B.n++;
    B.c[B.n] = gcase(20, 17, 6, 1, 1.3, 0.6, 0.9, MV_BOUNDARY_NEAREST);
    B.c[B.n].dt = MV_DT_U8, B.c[B.n].slope = 3.0, B.c[B.n].inter = 1.0, B.n++;
    B.c[B.n] = gcase(20, 17, 6, 1, 2.3, 1.6, 0.9, MV_BOUNDARY_MIRROR);
    B.c[B.n].dt = MV_DT_F64, B.n++;
    B.c[B.n] = gcase(20, 17, 6, 1, 2.3, 1.6, 0.9, MV_BOUNDARY_WRAP);
    B.c[B.n].truncate = 2.5, B.n++;
    B.c[B.n] = gcase(40, 3, 3, 1, 7.9, 0.2, 1e-9, MV_BOUNDARY_REFLECT);
    B.c[B.n].method = MV_FILTER_FIR, B.n++;
    if (!batch_run(&B, "flt-gauss")) {
        batch_free(&B);
        SKIP("needs /usr/bin/python3 with numpy and scipy");
    }
    check_batch(&B, 1e-5);
    batch_free(&B);
}

MV_TEST(filter, derivative_box_gradient_match_scipy)
{
    static fbatch B;
    static const int ords[][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {2, 0, 0}, {0, 2, 1}, {1, 1, 1}, {2, 2, 2}};
    int m, k;
    memset(&B, 0, sizeof(B));
    for (k = 0; k < 7; k++)
        for (m = 0; m < 5; m += (k < 3 ? 1 : 2)) {
            fcase c = gcase(12, 10, 7, 1, 1.2, 2.0, 0.8, m);
            c.o[0] = ords[k][0], c.o[1] = ords[k][1], c.o[2] = ords[k][2];
            B.c[B.n++] = c;
        }
    for (m = 0; m < 5; m++) { /* long z (ring path), odd and even orders */
        fcase c = gcase(5, 4, 45, 1, 0.9, 1.0, 2.0, m);
        c.o[2] = 1 + m % 2, c.o[0] = m % 3;
        B.c[B.n++] = c;
    }
    for (m = 0; m < 5; m++) { /* derivatives along axes of length 1 are not skipped: scipy
                                  gives c (w0 + 2 sum w_k): -8.7e-5 c for order 2 at sigma 2 */
        fcase c = gcase(9, 1, 1, 1, 1.1, 2.0, 1.5, m);
        c.o[1] = 2, c.o[2] = m % 2 ? 1 : 2;
        B.c[B.n++] = c;
    }
    { /* order on an axis of sigma 0 is ignored (scipy skips the axis) */
        fcase c = gcase(12, 10, 7, 1, 1.2, 0.0, 0.8, 0);
        c.o[0] = 1, c.o[1] = 2;
        B.c[B.n++] = c;
    }
    for (m = 0; m < 5; m++) {
        fcase c = gcase(11, 9, 6, 1, 1, 2, 1, m);
        c.kind = "box";
        B.c[B.n++] = c;
        c = gcase(5, 4, 3, 2, 3, 0, 4, m); /* boxes longer than the axes, 4D */
        c.kind = "box";
        B.c[B.n++] = c;
    }
    {
        fcase c = gcase(10, 9, 8, 1, 0, 0, 0, 0);
        c.kind = "grad";
        memset(c.aff, 0, sizeof(c.aff));
        c.aff[0][0] = 0.9, c.aff[0][1] = 0.2, c.aff[0][2] = -0.1, c.aff[0][3] = 10;
        c.aff[1][0] = -0.15, c.aff[1][1] = 1.1, c.aff[1][2] = 0.05;
        c.aff[2][0] = 0.05, c.aff[2][1] = -0.1, c.aff[2][2] = 2.5, c.aff[3][3] = 1;
        B.c[B.n++] = c;
        c.n[2] = 1; /* 2D: no z derivative */
        c.dt = MV_DT_I16, c.slope = 0.5, c.inter = 3;
        B.c[B.n++] = c;
        c.n[0] = 1, c.n[2] = 4, c.dt = MV_DT_F32, c.slope = 0, c.inter = 0;
        B.c[B.n++] = c;
    }
    if (!batch_run(&B, "flt-deriv")) {
        batch_free(&B);
        SKIP("needs /usr/bin/python3 with numpy and scipy");
    }
    check_batch(&B, 1e-5);
    batch_free(&B);
}

/* The recursive Gaussian against scipy's exact one: max error relative to
   the data's maximum within the tolerance the header states. */
MV_TEST(filter, recursive_within_stated_tolerance)
{
    static fbatch B;
    static const double sig[] = {2, 3, 4, 6, 8, 10};
    int k, m;
    memset(&B, 0, sizeof(B));
    for (k = 0; k < 6; k++)
        for (m = 0; m < 5; m++) {
            fcase c = gcase(70, 64, 3, 1, sig[k], sig[k] * 0.8 < 2 ? 2 : sig[k] * 0.8, 0, m);
            c.method = MV_FILTER_RECURSIVE;
            B.c[B.n++] = c;
        }
    if (!batch_run(&B, "flt-iir")) {
        batch_free(&B);
        SKIP("needs /usr/bin/python3 with numpy and scipy");
    }
    check_batch(&B, MV_FILTER_RECURSIVE_TOL);
    batch_free(&B);
}

static void fill_vol(mv_vol *v, mv_dtype dt, int ndim, const int64_t *dims, uint64_t seed)
{
    int64_t i, n;
    REQUIRE_OK(mv_vol_alloc(v, dt, ndim, dims, NULL));
    n = mv_vol_count(v);
    for (i = 0; i < n; i++) {
        double x = (tu_rand01(&seed) - 0.3) * 1000.0;
        if (dt == MV_DT_F32) ((float *)v->data)[i] = (float)x;
        else ((int16_t *)v->data)[i] = (int16_t)x;
    }
}

/* Every ISA gives the reference's bytes; 1 and 2 threads the same bytes. */
/* one filter of the thread-count check on in at `threads`: 0 Gaussian
   (sigma s), 1 box filter (radii 2, 1, 3), 2 gradient, 3 and 4 the levels
   0 and 1 of a 4x2x1 pyramid (mode constant) */
static mv_status threads_kind(int k, const mv_vol *in, const double s[3], int threads, mv_vol *out)
{
    mv_filter_opts fo = MV_ZERO_INIT;
    mv_pyramid_schedule ps;
    int64_t rad[3] = {2, 1, 3};
    mv_status st;
    fo.threads = threads;
    if (k == 0) return mv_gaussian(in, out, s, &fo);
    if (k == 1) return mv_box_filter(in, out, rad, &fo);
    if (k == 2) return mv_gradient(in, out, &fo);
    if ((st = mv_pyramid_schedule_parse("4x2x1", "2x1x0vox", &ps)) != MV_OK) return st;
    fo.mode = MV_BOUNDARY_CONSTANT;
    fo.cval = 7.0;
    return mv_pyramid_level(in, &ps, k - 3, out, &fo);
}

MV_TEST(filter, every_isa_and_thread_count_identical)
{
    static const int64_t shapes[][3] = {{1, 5, 4}, {3, 4, 5}, {7, 9, 2}, {15, 16, 17}, {17, 3, 31}, {33, 20, 8},
                                        {64, 9, 5}, {257, 6, 5}, {300, 4, 3}};
    static const double sigmas[][3] = {{1.5, 1.5, 1.5}, {0.6, 3.1, 0}, {4.2, 0.3, 2.0}, {9.5, 9.5, 9.5}};
    unsigned avail = mv_isa_available();
    mv_isa saved = mv_isa_active();
    size_t si, gi;
    int isa, m, k;
    for (si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++)
        for (gi = 0; gi < 4; gi++)
            for (m = 0; m < 5; m++) {
                mv_vol in, ref, o;
                mv_filter_opts fo = MV_ZERO_INIT;
                int ords[3] = {1, 0, 2};
                int64_t rad[3] = {2, 1, 3};
                fo.mode = (mv_boundary)m;
                fo.cval = 3.0;
                fill_vol(&in, MV_DT_F32, 3, shapes[si], 7 + si);
                for (k = 0; k < 4; k++) {
                    if (k == 3 && (gi > 0 || m > 0)) continue; /* the gradient has no sigma or mode */
                    if (k == 3) in.affine[0][1] = 0.3, in.affine[2][0] = -0.2; /* oblique: every G term */
                    REQUIRE_OK(mv_set_isa(MV_ISA_REF));
                    if (k == 0) REQUIRE_OK(mv_gaussian(&in, &ref, sigmas[gi], &fo));
                    else if (k == 1) REQUIRE_OK(mv_gaussian_derivative(&in, &ref, sigmas[gi], ords, &fo));
                    else if (k == 2) REQUIRE_OK(mv_box_filter(&in, &ref, rad, &fo));
                    else REQUIRE_OK(mv_gradient(&in, &ref, &fo));
                    for (isa = 1; isa < MV_ISA_COUNT; isa++) {
                        if (!(avail >> isa & 1)) continue;
                        REQUIRE_OK(mv_set_isa((mv_isa)isa));
                        if (k == 0) REQUIRE_OK(mv_gaussian(&in, &o, sigmas[gi], &fo));
                        else if (k == 1) REQUIRE_OK(mv_gaussian_derivative(&in, &o, sigmas[gi], ords, &fo));
                        else if (k == 2) REQUIRE_OK(mv_box_filter(&in, &o, rad, &fo));
                        else REQUIRE_OK(mv_gradient(&in, &o, &fo));
                        EXPECT_MSG(memcmp(o.data, ref.data, mv_vol_bytes(&o)) == 0, "kind %d %s %lldx%lldx%lld sigma %zu mode %d",
                                   k, mv_isa_name((mv_isa)isa), (long long)shapes[si][0], (long long)shapes[si][1],
                                   (long long)shapes[si][2], gi, m);
                        mv_free(&o);
                    }
                    mv_free(&ref);
                }
                mv_free(&in);
            }
    mv_set_isa(saved);
    { /* threads: a volume over the 4 MiB parallel threshold, planes and z blocks split */
        int64_t d3[3] = {130, 100, 90}, d4[4] = {96, 70, 2, 80};
        mv_vol in, a, b;
        double s[3] = {1.5, 2.5, 12.0};
        int meth, kk, th, rep, reps = tu_test_reps(3);
        for (meth = 0; meth < 2; meth++) {
            fill_vol(&in, MV_DT_I16, meth ? 4 : 3, meth ? d4 : d3, 99);
            in.meta.scl_slope = 0.5;
            in.affine[0][1] = 0.3; /* the gradient: an oblique affine */
            /* the Gaussian (3D and 4D); in 3D also the box filter (its x pass
               16 rows as lanes), the gradient and two pyramid levels (the
               planes and the z pass split): 1 thread against 2 and 3, a few
               times over (MEDVOL_TEST_REPS, 3 by default) */
            for (kk = 0; kk < (meth ? 1 : 5); kk++) {
                REQUIRE_OK(threads_kind(kk, &in, s, 1, &a));
                for (rep = 0; rep < reps; rep++)
                    for (th = 2; th <= tu_threads_upto(3); th++) {
                        REQUIRE_OK(threads_kind(kk, &in, s, th, &b));
                        EXPECT_MSG(mv_vol_bytes(&a) == mv_vol_bytes(&b) && memcmp(a.data, b.data, mv_vol_bytes(&a)) == 0,
                                   "kind %d: 1 vs %d threads differ (%dD)", kk, th, meth ? 4 : 3);
                        mv_free(&b);
                    }
                mv_free(&a);
            }
            mv_free(&in);
        }
    }
}

/* _into: in place on float32, caller buffers, same bytes as the allocating form */
MV_TEST(filter, into_and_in_place)
{
    int64_t d[3] = {19, 14, 11};
    double s[3] = {1.1, 2.0, 0.7}, smm[3] = {2.2, 2.0, 2.1};
    mv_vol in, a, b, c;
    mv_filter_opts fo = MV_ZERO_INIT;
    fill_vol(&in, MV_DT_F32, 3, d, 5);
    in.spacing[0] = 2.0, in.spacing[1] = 1.0, in.spacing[2] = 3.0;
    REQUIRE_OK(mv_gaussian(&in, &a, s, NULL));
    REQUIRE_OK(mv_vol_alloc(&b, MV_DT_F32, 3, d, NULL));
    REQUIRE_OK(mv_gaussian_into(&in, &b, s, NULL));
    EXPECT(memcmp(a.data, b.data, mv_vol_bytes(&a)) == 0);
    REQUIRE_OK(mv_vol_copy(&in, &c));
    REQUIRE_OK(mv_gaussian_into(&c, &c, s, NULL));
    EXPECT(memcmp(a.data, c.data, mv_vol_bytes(&a)) == 0);
    mv_free(&c);
    fo.sigma_in_mm = 1; /* 2.2 mm at 2 mm = 1.1 voxels ... */
    smm[0] = 2.2, smm[1] = 2.0, smm[2] = 2.1;
    REQUIRE_OK(mv_gaussian(&in, &c, smm, &fo));
    mv_free(&b);
    REQUIRE_OK(mv_gaussian(&in, &b, s, NULL));
    EXPECT(memcmp(b.data, c.data, mv_vol_bytes(&b)) == 0);
    mv_free(&c);
    /* allocating form with out == in replaces it */
    REQUIRE_OK(mv_vol_copy(&in, &c));
    REQUIRE_OK(mv_gaussian(&c, &c, s, NULL));
    EXPECT(memcmp(a.data, c.data, mv_vol_bytes(&a)) == 0);
    mv_free(&c);
    mv_free(&a);
    mv_free(&b);
    mv_free(&in);
}

static int cancel_cb(void *user, double done)
{
    (void)done;
    return ++*(int *)user >= 2;
}

MV_TEST(filter, bad_arguments)
{
    int64_t d[3] = {8, 7, 6}, d2[3] = {8, 7, 5};
    double s[3] = {1, 1, 1}, bad[3] = {1, -0.5, 1}, nans[3] = {1, 1, NAN};
    int ord[3] = {0, 3, 0};
    int64_t rad[3] = {1, -1, 0};
    mv_vol in, o, w, c64;
    mv_filter_opts fo = MV_ZERO_INIT;
    mv_pyramid_schedule ps;
    int calls = 0;
    fill_vol(&in, MV_DT_F32, 3, d, 1);
    mv_vol_init(&o);
    EXPECT_STATUS(mv_gaussian(NULL, &o, s, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_gaussian(&in, NULL, s, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_gaussian(&in, &o, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_gaussian(&in, &o, bad, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "sigma[1]") != NULL);
    EXPECT_STATUS(mv_gaussian(&in, &o, nans, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "sigma[2]") != NULL);
    EXPECT_STATUS(mv_gaussian_derivative(&in, &o, s, ord, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "order[1]") != NULL);
    EXPECT_STATUS(mv_box_filter(&in, &o, rad, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "radius[1]") != NULL);
    fo.mode = (mv_boundary)9;
    EXPECT_STATUS(mv_gaussian(&in, &o, s, &fo), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "mode") != NULL);
    fo.mode = MV_BOUNDARY_REFLECT;
    fo.truncate = -1;
    EXPECT_STATUS(mv_gaussian(&in, &o, s, &fo), MV_ERR_INVALID_ARG);
    fo.truncate = 0;
    fo.method = 7;
    EXPECT_STATUS(mv_gaussian(&in, &o, s, &fo), MV_ERR_INVALID_ARG);
    fo.method = 0;
    REQUIRE_OK(mv_vol_alloc(&w, MV_DT_F32, 3, d2, NULL));
    EXPECT_STATUS(mv_gaussian_into(&in, &w, s, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "shape") != NULL);
    mv_free(&w);
    REQUIRE_OK(mv_vol_alloc(&w, MV_DT_I16, 3, d, NULL));
    EXPECT_STATUS(mv_gaussian_into(&in, &w, s, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "float32") != NULL);
    mv_free(&w);
    REQUIRE_OK(mv_vol_alloc(&c64, MV_DT_C64, 3, d, NULL));
    EXPECT_STATUS(mv_gaussian(&c64, &o, s, NULL), MV_ERR_INVALID_ARG);
    mv_free(&c64);
    fo.sigma_in_mm = 1;
    in.spacing[1] = 0;
    EXPECT_STATUS(mv_gaussian(&in, &o, s, &fo), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "spacing[1]") != NULL);
    in.spacing[1] = 1;
    fo.sigma_in_mm = 0;
    { /* a singular or non-finite affine: no world gradient */
        double keep = in.affine[1][1];
        in.affine[1][1] = 0;
        in.affine[1][0] = in.affine[1][2] = 0;
        EXPECT_STATUS(mv_gradient(&in, &o, NULL), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "singular") != NULL);
        in.affine[1][1] = NAN;
        EXPECT_STATUS(mv_gradient(&in, &o, NULL), MV_ERR_INVALID_ARG);
        in.affine[1][1] = keep;
        EXPECT(o.data == NULL);
    }
    { /* the recursive filter's constants: a DC gain of 1, arguments checked */
        float c[14];
        int margin = 0;
        REQUIRE_OK(mv_gaussian_recursive_coefs(10.0, 0, c, &margin));
        EXPECT_EQ_INT(margin, 40);
        EXPECT(fabs((double)c[13] - (double)c[3] * (double)c[3]) <= 1e-6 * (double)c[13]);
        EXPECT(fabs(1.0 - ((double)c[0] + c[1] + c[2]) - c[3]) < 1e-6);
        REQUIRE_OK(mv_gaussian_recursive_coefs(0.2, 1.0, c, &margin));
        EXPECT_EQ_INT(margin, 3);
        EXPECT_STATUS(mv_gaussian_recursive_coefs(0, 0, c, &margin), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_gaussian_recursive_coefs(2, -1, c, &margin), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_gaussian_recursive_coefs(2, 0, NULL, &margin), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_gaussian_recursive_coefs(1e9, 0, c, &margin), MV_ERR_SIZE_OVERFLOW);
    }
    fo.progress = cancel_cb;
    fo.progress_user = &calls;
    EXPECT_STATUS(mv_gaussian(&in, &o, s, &fo), MV_ERR_CANCELLED);
    EXPECT(o.data == NULL);
    /* schedules */
    EXPECT_STATUS(mv_pyramid_schedule_parse("4x2x1", "2x1vox", &ps), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "2 sigmas for 3 levels") != NULL);
    EXPECT_STATUS(mv_pyramid_schedule_parse("4xfoox1", NULL, &ps), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "\"foo\"") != NULL);
    EXPECT_STATUS(mv_pyramid_schedule_parse("4x0.5", NULL, &ps), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "\"0.5\"") != NULL);
    EXPECT_STATUS(mv_pyramid_schedule_parse("4x2x", NULL, &ps), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_pyramid_schedule_parse("", NULL, &ps), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_pyramid_schedule_parse("4x2x1", "2x1x0", &ps), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "vox") != NULL);
    EXPECT_STATUS(mv_pyramid_schedule_parse("4x2x1", "2x-1x0mm", &ps), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "\"-1\"") != NULL);
    EXPECT_STATUS(mv_pyramid_schedule_parse("1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1x1", NULL, &ps), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "more than 16") != NULL);
    REQUIRE_OK(mv_pyramid_schedule_parse("4x2x1", "2x1x0vox", &ps));
    EXPECT_STATUS(mv_pyramid_level(&in, &ps, 3, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_pyramid_level(&in, &ps, -1, &o, NULL), MV_ERR_INVALID_ARG);
    ps.nlevels = 17;
    EXPECT_STATUS(mv_pyramid_level(&in, &ps, 0, &o, NULL), MV_ERR_INVALID_ARG);
    mv_free(&in);
}

/* Schedules parse as ANTs writes them; a level equals scipy's
   gaussian_filter followed by the documented sampling, and its affine puts
   every voxel at the mean world position of the input voxels it stands for. */
MV_TEST(filter, pyramid_levels)
{
    static fbatch B;
    mv_pyramid_schedule ps;
    mv_isa saved = mv_isa_active();
    int i, lv, isa;
    REQUIRE_OK(mv_pyramid_schedule_parse("8x4x2x1", "3x2x1x0vox", &ps));
    EXPECT_EQ_INT(ps.nlevels, 4);
    EXPECT(ps.shrink[1][2] == 4 && ps.sigma[0][1] == 3 && ps.sigma[3][0] == 0 && !ps.sigma_in_mm);
    REQUIRE_OK(mv_pyramid_schedule_parse("4x2x1", "2x1x0mm", &ps));
    EXPECT(ps.sigma_in_mm && ps.sigma[0][0] == 2);
    REQUIRE_OK(mv_pyramid_schedule_parse("6x3x1", NULL, &ps));
    EXPECT(ps.sigma[0][0] == 3.0 && ps.sigma[1][2] == 1.5 && ps.sigma[2][1] == 0.0);
    /* levels against scipy: isotropic, anisotropic spacing, min_size */
    memset(&B, 0, sizeof(B));
    REQUIRE_OK(mv_pyramid_schedule_parse("3x2x1", "1.5x1x0vox", &ps));
    ps.min_size = 4;
    for (i = 0; i < 7; i++) {
        /* 3: int16 with scaling, mode constant; 4: uint8, mode nearest;
           5, 6: 2D images (one plane: blocks of rows, converted a row at a
           time into a few slots), uint8 mode wrap (a window's rows are not
           consecutive at the edges), int16 scaled */
        static const int64_t dims[7][3] = {{24, 18, 12}, {24, 18, 12}, {21, 18, 5}, {23, 19, 11}, {17, 26, 9}, {61, 87, 1}, {43, 70, 1}};
        static const int levels[7] = {0, 1, 0, 0, 1, 0, 1};
        fcase c = gcase(dims[i][0], dims[i][1], dims[i][2], 1, 0, 0, 0,
                        i == 3 ? MV_BOUNDARY_CONSTANT : i == 4 ? MV_BOUNDARY_NEAREST : i == 5 ? MV_BOUNDARY_WRAP : MV_BOUNDARY_REFLECT);
        mv_vol probe;
        int64_t shape[3];
        c.kind = "pyr";
        if (i == 3 || i == 6) c.dt = MV_DT_I16, c.slope = 0.5, c.inter = 10;
        if (i == 4 || i == 5) c.dt = MV_DT_U8;
        c.o[0] = levels[i];
        lv = i;
        mv_vol_init(&probe);
        probe.ndim = 3, probe.dim[0] = c.n[0], probe.dim[1] = c.n[1], probe.dim[2] = c.n[2];
        probe.spacing[0] = 1.0, probe.spacing[1] = i == 1 ? 2.0 : 1.0, probe.spacing[2] = i == 1 ? 3.0 : 1.0;
        REQUIRE_OK(mv_pyramid_level_params(&probe, &ps, c.o[0], shape, c.sig));
        c.p[0] = (double)shape[0], c.p[1] = (double)shape[1], c.p[2] = (double)shape[2];
        B.c[B.n++] = c;
    }
    if (!batch_run(&B, "flt-pyr")) {
        batch_free(&B);
        SKIP("needs /usr/bin/python3 with numpy and scipy");
    }
    for (i = 0; i < B.n; i++) {
        fcase *c = &B.c[i];
        mv_vol o, o3;
        mv_filter_opts fo = MV_ZERO_INIT;
        double *ref;
        int64_t cnt, where = 0, x, y, z;
        double e, maxd = 0;
        int a;
        lv = c->o[0];
        fo.mode = (mv_boundary)c->mode;
        fo.cval = c->cval;
        B.in[i].spacing[1] = i == 1 ? 2.0 : 1.0, B.in[i].spacing[2] = i == 1 ? 3.0 : 1.0;
        B.in[i].affine[1][1] = B.in[i].spacing[1] * 0.8, B.in[i].affine[2][1] = B.in[i].spacing[1] * 0.6;
        B.in[i].affine[1][2] = -B.in[i].spacing[2] * 0.6, B.in[i].affine[2][2] = B.in[i].spacing[2] * 0.8;
        B.in[i].affine[0][3] = -20, B.in[i].affine[1][3] = 5, B.in[i].affine[2][3] = 7;
        fo.threads = 1;
        REQUIRE_OK(mv_set_isa(MV_ISA_REF));
        REQUIRE_OK(mv_pyramid_level(&B.in[i], &ps, lv, &o, &fo));
        cnt = mv_vol_count(&o);
        /* any ISA and thread count: the same bits */
        fo.threads = 3;
        for (isa = 1; isa < MV_ISA_COUNT; isa++) {
            if (!(mv_isa_available() >> isa & 1)) continue;
            REQUIRE_OK(mv_set_isa((mv_isa)isa));
            REQUIRE_OK(mv_pyramid_level(&B.in[i], &ps, lv, &o3, &fo));
            EXPECT_MSG(mv_vol_count(&o3) == cnt && memcmp(o.data, o3.data, (size_t)cnt * sizeof(float)) == 0,
                       "pyramid case %d: isa %d at 3 threads differs from the reference at 1", i, isa);
            mv_free(&o3);
        }
        REQUIRE_OK(mv_set_isa(saved));
        EXPECT_MSG(o.dim[0] == (int64_t)c->p[0] && o.dim[1] == (int64_t)c->p[1] && o.dim[2] == (int64_t)c->p[2],
                   "case %d: level shape %lldx%lldx%lld", i, (long long)o.dim[0], (long long)o.dim[1], (long long)o.dim[2]);
        ref = read_ref(&B, i, cnt);
        EXPECT_MSG(ref != NULL, "case %d: no scipy output", i);
        if (ref) {
            e = rel_err((const float *)o.data, ref, cnt, &where);
            EXPECT_MSG(e <= 1e-5, "pyramid case %d: rel err %.3g at %lld", i, e, (long long)where);
        }
        free(ref);
        /* world position of output voxel centres = mean of the input voxel
           centres of its block (the interval [o*f, (o+1)*f) of input edges) */
        for (z = 0; z < o.dim[2]; z++)
            for (y = 0; y < o.dim[1]; y++)
                for (x = 0; x < o.dim[0]; x++) {
                    int64_t oc[3] = {x, y, z};
                    double vin[3], w1[3], w2[3];
                    for (a = 0; a < 3; a++) {
                        double f = (double)B.in[i].dim[a] / (double)o.dim[a];
                        vin[a] = ((double)oc[a] + 0.5) * f - 0.5; /* centre of the block of input edges */
                    }
                    for (a = 0; a < 3; a++) {
                        w1[a] = o.affine[a][3] + o.affine[a][0] * (double)x + o.affine[a][1] * (double)y + o.affine[a][2] * (double)z;
                        w2[a] = B.in[i].affine[a][3] + B.in[i].affine[a][0] * vin[0] + B.in[i].affine[a][1] * vin[1] +
                                B.in[i].affine[a][2] * vin[2];
                        maxd = fabs(w1[a] - w2[a]) > maxd ? fabs(w1[a] - w2[a]) : maxd;
                    }
                }
        EXPECT_MSG(maxd < 1e-9, "pyramid case %d: voxel centres off by %g mm", i, maxd);
        mv_free(&o);
    }
    /* the anisotropy rule: spacing 1 x 2 x 3, factor 3 -> 3, 2 (round 1.5 up), 1 */
    {
        mv_vol probe;
        int64_t shape[3];
        double sg[3];
        mv_vol_init(&probe);
        probe.ndim = 3, probe.dim[0] = 60, probe.dim[1] = 60, probe.dim[2] = 60;
        probe.spacing[0] = 1, probe.spacing[1] = 2, probe.spacing[2] = 3;
        REQUIRE_OK(mv_pyramid_level_params(&probe, &ps, 0, shape, sg));
        EXPECT(shape[0] == 20 && shape[1] == 30 && shape[2] == 60);
        EXPECT_NEAR(sg[0], 1.5, 1e-12);
        EXPECT_NEAR(sg[1], 1.0, 1e-12);
        EXPECT_NEAR(sg[2], 0.5, 1e-12);
    }
    batch_free(&B);
}

/* mv_gaussian_kernel against scipy's _gaussian_kernel1d written out here in
   float64 (order 0: exp(-x^2/2s^2)/sum; 1: times -x/s^2; 2: times
   (x^2/s^4 - 1/s^2)), and the kernel the FIR applies: filtering a unit
   impulse with mode constant 0 returns the weights themselves. */
MV_TEST(filter, kernel_weights_match_definition)
{
    const double sigmas[] = {0.3, 1.0, 1.5, 2.7, 6.0};
    float w[64];
    int s, order, r, k;
    for (s = 0; s < 5; s++)
        for (order = 0; order <= 2; order++) {
            double sg = sigmas[s], sum = 0;
            REQUIRE_OK(mv_gaussian_kernel(sg, order, 0, w, 64, &r));
            EXPECT_MSG(r == (int)(4.0 * sg + 0.5), "sigma %g: radius %d", sg, r);
            for (k = -r; k <= r; k++) sum += exp(-0.5 * k * k / (sg * sg));
            for (k = 0; k <= r; k++) {
                double phi = exp(-0.5 * k * k / (sg * sg)) / sum, q = order == 0 ? 1.0
                                                                   : order == 1 ? -k / (sg * sg)
                                                                                : k * k / (sg * sg * sg * sg) - 1.0 / (sg * sg);
                EXPECT_MSG(w[k] == (float)(q * phi), "sigma %g order %d w[%d] = %.9g, expected %.9g", sg, order, k,
                           (double)w[k], q * phi);
            }
        }
    {
        int64_t d[3] = {41, 1, 1};
        double sigma[3] = {2.2, 0, 0};
        mv_vol imp, out;
        mv_filter_opts o = MV_ZERO_INIT;
        o.mode = MV_BOUNDARY_CONSTANT;
        o.method = MV_FILTER_FIR;
        REQUIRE_OK(mv_vol_alloc(&imp, MV_DT_F32, 3, d, NULL));
        memset(imp.data, 0, 41 * sizeof(float));
        ((float *)imp.data)[20] = 1.0f;
        REQUIRE_OK(mv_gaussian(&imp, &out, sigma, &o));
        REQUIRE_OK(mv_gaussian_kernel(2.2, 0, 0, w, 64, &r));
        for (k = -r; k <= r; k++)
            EXPECT_MSG(((float *)out.data)[20 + k] == w[k < 0 ? -k : k], "impulse response at %d", k);
        mv_free(&out);
        mv_free(&imp);
    }
    EXPECT(mv_gaussian_kernel(0, 0, 0, w, 64, &r) == MV_ERR_INVALID_ARG);
    EXPECT(mv_gaussian_kernel(1, 3, 0, w, 64, &r) == MV_ERR_INVALID_ARG);
    EXPECT(mv_gaussian_kernel(1, 0, -1, w, 64, &r) == MV_ERR_INVALID_ARG);
    EXPECT(mv_gaussian_kernel(10, 0, 0, w, 8, &r) == MV_ERR_BUFFER_TOO_SMALL && r == 40);
    EXPECT(mv_gaussian_kernel(10, 0, 0, NULL, 0, &r) == MV_OK && r == 40);
}
