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
