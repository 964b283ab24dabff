/* profile_register [size] [iterations] [--brain FILE.nii[.gz]] [--isa NAME] [--threads N]
   Linear registration costs on a size^3 float32 phantom (mv_phantom_smooth,
   1 mm; default 128) or, with --brain, on a real volume (e.g. the 1 mm MNI
   ICBM152 T1 that tests/py/reg_data.py unpacks into build/regdata/):
   - pyramid levels 4x2x1 / 2x1x0vox (mv_pyramid_level), ratio to memcpy of
     the level's input bytes;
   - trilinear warp through a rotation into a warm caller buffer
     (mv_resample_into), ratio to memcpy of the output bytes;
   - one metric evaluation with its gradient (MSE, NCC, MI; full sampling,
     and MI with its default 2^18 random samples), timed inside a
     registration run as (last - first progress call) / (evaluations - 1);
     "bytes read" = 16 bytes per sample (x, y, z, fixed value) + the moving
     volume once;
   - whole rigid and affine registrations (default options: levels 4x2x1,
     MI unless named) of the volume moved by a known transform onto another
     grid (2 mm less in x, 1.1 mm voxels, cubic), printing wall time and the
     target registration error over foreground voxels (intensity above the
     volume's mean): mean and 95th percentile of |T_est(p) - T_true(p)| mm.
   The machine may be shared: read ratios, not absolute times. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED   /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include <math.h>

typedef struct pyr_ctx {
    const mv_vol *in;
    mv_pyramid_schedule s;
    int level;
} pyr_ctx;
static void pyr_once(void *c)
{
    pyr_ctx *p = (pyr_ctx *)c;
    mv_vol out;
    if (mv_pyramid_level(p->in, &p->s, p->level, &out, NULL) == MV_OK) mv_free(&out);
}

typedef struct warp_ctx {
    const mv_vol *in;
    mv_vol *out;
    double map[4][4];
} warp_ctx;
static void warp_once(void *c)
{
    warp_ctx *w = (warp_ctx *)c;
    mv_resample_into(w->in, w->out, (const double(*)[4])w->map, NULL);
}

typedef struct eval_timer {
    int n;
    double first, last;
    int64_t nsamples;
} eval_timer;
static int eval_cb(void *user, const mv_register_progress *p)
{
    eval_timer *t = (eval_timer *)user;
    if (p->level_done) return 0;
    if (t->n == 0) t->first = p->elapsed;
    t->last = p->elapsed;
    t->nsamples = p->nsamples;
    t->n++;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void tre(const mv_vol *fx, double thr, const double E[4][4], const double T[4][4], double *mean, double *p95)
{
    int64_t nx = fx->dim[0], ny = fx->dim[1], nz = fx->dim[2], x, y, z, n = 0;
    double *d = (double *)malloc((size_t)(nx * ny * nz) * sizeof(double)), s = 0;
    const float *v = (const float *)fx->data;
    for (z = 0; z < nz; z++)
        for (y = 0; y < ny; y++)
            for (x = 0; x < nx; x++) {
                double p[3], e = 0;
                int k, j;
                if (!(v[x + nx * (y + ny * z)] > thr)) continue;
                for (k = 0; k < 3; k++) p[k] = fx->affine[k][0] * x + fx->affine[k][1] * y + fx->affine[k][2] * z + fx->affine[k][3];
                for (k = 0; k < 3; k++) {
                    double a = E[k][3], b = T[k][3];
                    for (j = 0; j < 3; j++) a += E[k][j] * p[j], b += T[k][j] * p[j];
                    e += (a - b) * (a - b);
                }
                d[n++] = sqrt(e);
                s += sqrt(e);
            }
    qsort(d, (size_t)n, sizeof(double), cmp_d);
    *mean = n ? s / (double)n : 0;
    *p95 = n ? d[(int64_t)(0.95 * (double)(n - 1))] : 0;
    free(d);
}

static void inv4(const double a[4][4], double r[4][4])
{
    /* rigid/affine with last row 0 0 0 1: invert the 3x3 by cofactors */
    double m[3][3], det;
    int i, j;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) m[i][j] = a[i][j];
    det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
          m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    r[0][0] = (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det;
    r[0][1] = -(m[0][1] * m[2][2] - m[0][2] * m[2][1]) / det;
    r[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det;
    r[1][0] = -(m[1][0] * m[2][2] - m[1][2] * m[2][0]) / det;
    r[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det;
    r[1][2] = -(m[0][0] * m[1][2] - m[0][2] * m[1][0]) / det;
    r[2][0] = (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det;
    r[2][1] = -(m[0][0] * m[2][1] - m[0][1] * m[2][0]) / det;
    r[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det;
    for (i = 0; i < 3; i++) r[i][3] = -(r[i][0] * a[0][3] + r[i][1] * a[1][3] + r[i][2] * a[2][3]);
    r[3][0] = r[3][1] = r[3][2] = 0, r[3][3] = 1;
}

int main(int argc, char **argv)
{
    const char *brain = NULL;
    int64_t size = 128;
    int iters = 10, i, L;
    mv_vol fx, mo;
    mv_stats st;
    double T[2][4][4];
    static const char *mnames[3] = {"mi", "mse", "ncc"};
    argc = prof_options(argc, argv);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brain") && i + 1 < argc) brain = argv[++i];
        else if (size == 128 && atoi(argv[i]) > 0 && i == 1) size = atoi(argv[i]);
        else if (atoi(argv[i]) > 0) iters = atoi(argv[i]);
    }
    prof_header("profile_register");
    if (brain) {
        mv_load_opts lo;
        mv_vol raw;
        memset(&lo, 0, sizeof(lo));
        lo.scaled = 1;
        if (mv_load(brain, &raw, &lo) != MV_OK) {
            fprintf(stderr, "%s: %s\n", brain, mv_last_error());
            return 1;
        }
        if (raw.dtype != MV_DT_F32) {
            mv_convert(&raw, &fx, MV_DT_F32, NULL);
            mv_free(&raw);
        } else {
            fx = raw;
        }
    } else if (mv_phantom_smooth(&fx, MV_DT_F32, size, size, size, 1) != MV_OK) {
        fprintf(stderr, "phantom: %s\n", mv_last_error());
        return 1;
    }
    printf("# fixed %lldx%lldx%lld %s\n", (long long)fx.dim[0], (long long)fx.dim[1], (long long)fx.dim[2],
           brain ? brain : "phantom (mv_phantom_smooth)");
    /* pyramid levels */
    {
        pyr_ctx p;
        prof_result r, b;
        p.in = &fx;
        mv_pyramid_schedule_parse("4x2x1", "2x1x0vox", &p.s);
        for (L = 0; L < p.s.nlevels; L++) {
            char name[64];
            p.level = L;
            prof_run_paired(pyr_once, &p, iters, mv_vol_bytes(&fx), &r, &b);
            snprintf(name, sizeof(name), "pyramid level %d (shrink %g)", L, p.s.shrink[L][0]);
            prof_row(name, r, mv_vol_bytes(&fx), b);
        }
    }
    /* trilinear warp through a rotation, warm output */
    {
        warp_ctx w;
        mv_vol out;
        prof_result r, b;
        double c = cos(0.2), s = sin(0.2), cx = (double)(fx.dim[0] - 1) / 2, cy = (double)(fx.dim[1] - 1) / 2;
        memset(w.map, 0, sizeof(w.map));
        w.map[0][0] = c, w.map[0][1] = -s, w.map[1][0] = s, w.map[1][1] = c, w.map[2][2] = 1, w.map[3][3] = 1;
        w.map[0][3] = cx - c * cx + s * cy, w.map[1][3] = cy - s * cx - c * cy;
        mv_vol_alloc(&out, MV_DT_F32, 3, fx.dim, NULL);
        w.in = &fx, w.out = &out;
        prof_run_paired(warp_once, &w, iters, mv_vol_bytes(&out), &r, &b);
        prof_row("warp trilinear rotation (into)", r, mv_vol_bytes(&out), b);
        mv_free(&out);
    }
    /* the moved copies: T0 rigid, T1 affine, about the volume's centre */
    mv_compute_stats(&fx, &st, NULL);
    {
        double ctr[3], R[3][3], A[3][3], ax = 0.08, ay = -0.06, az = 0.1;
        double cxr = cos(ax), sxr = sin(ax), cyr = cos(ay), syr = sin(ay), czr = cos(az), szr = sin(az);
        double X[3][3] = {{1, 0, 0}, {0, 0, 0}, {0, 0, 0}}, Y[3][3] = {{0, 0, 0}, {0, 1, 0}, {0, 0, 0}},
               Z[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 1}}, XY[3][3];
        static const double S[3][3] = {{1.05, 0.02, 0}, {-0.03, 0.96, 0.02}, {0.01, 0, 1.03}};
        int r, k, j;
        X[1][1] = cxr, X[1][2] = -sxr, X[2][1] = sxr, X[2][2] = cxr;
        Y[0][0] = cyr, Y[0][2] = syr, Y[2][0] = -syr, Y[2][2] = cyr;
        Z[0][0] = czr, Z[0][1] = -szr, Z[1][0] = szr, Z[1][1] = czr;
        for (r = 0; r < 3; r++)
            for (k = 0; k < 3; k++) XY[r][k] = X[r][0] * Y[0][k] + X[r][1] * Y[1][k] + X[r][2] * Y[2][k];
        for (r = 0; r < 3; r++)
            for (k = 0; k < 3; k++) R[r][k] = Z[r][0] * XY[0][k] + Z[r][1] * XY[1][k] + Z[r][2] * XY[2][k];
        for (r = 0; r < 3; r++)
            for (k = 0; k < 3; k++) A[r][k] = R[r][0] * S[0][k] + R[r][1] * S[1][k] + R[r][2] * S[2][k];
        for (r = 0; r < 3; r++)
            ctr[r] = fx.affine[r][0] * (double)(fx.dim[0] - 1) / 2 + fx.affine[r][1] * (double)(fx.dim[1] - 1) / 2 +
                     fx.affine[r][2] * (double)(fx.dim[2] - 1) / 2 + fx.affine[r][3];
        for (j = 0; j < 2; j++) {
            static const double shift[3] = {4.0, -6.0, 3.0};
            memset(T[j], 0, sizeof(T[j]));
            for (r = 0; r < 3; r++) {
                double b = ctr[r] + shift[r];
                for (k = 0; k < 3; k++) {
                    T[j][r][k] = j == 0 ? R[r][k] : A[r][k];
                    b -= T[j][r][k] * ctr[k];
                }
                T[j][r][3] = b;
            }
            T[j][3][3] = 1;
        }
    }
    for (i = 0; i < 2; i++) {
        mv_vol ref;
        mv_resample_opts ro;
        double Ti[4][4];
        int m;
        /* moving grid: 1.1 mm voxels, a few voxels fewer; cubic, 0 outside */
        mv_vol_init(&ref);
        ref.ndim = 3;
        for (m = 0; m < 3; m++) ref.dim[m] = (int64_t)((double)fx.dim[m] / 1.1) - 2;
        memcpy(ref.affine, fx.affine, sizeof(ref.affine));
        for (m = 0; m < 3; m++) ref.affine[m][m] *= 1.1, ref.affine[m][3] += 1.5;
        memset(&ro, 0, sizeof(ro));
        ro.interp = MV_INTERP_CUBIC;
        ro.fill_outside = 1;
        inv4((const double(*)[4])T[i], Ti);
        if (mv_warp_affine(&fx, &ref, (const double(*)[4])Ti, &mo, &ro) != MV_OK) {
            fprintf(stderr, "moving: %s\n", mv_last_error());
            return 1;
        }
        if (i == 0) {
            /* per-evaluation cost of each metric, full resolution, fixed iterations */
            for (m = 0; m < 4; m++) {
                mv_register_opts o;
                mv_register_result res;
                eval_timer et;
                int its[1] = {iters + 1};
                double per, bytes;
                prof_result base;
                char name[64];
                memset(&o, 0, sizeof(o));
                memset(&et, 0, sizeof(et));
                o.metric.metric = (mv_metric_type)(m == 3 ? 0 : m);
                o.metric.sampling = m == 3 ? MV_SAMPLING_AUTO : MV_SAMPLING_FULL;
                o.optimizer = MV_OPTIMIZER_REGULAR_STEP;
                o.levels = "1";
                o.smooth = "0vox";
                o.iterations[0] = its[0];
                o.tolerance = -1, o.param_tolerance = -1, o.min_step = 1e-12;
                o.progress = eval_cb, o.user = &et;
                mv_register_linear(&fx, &mo, &o, &res);
                per = et.n > 1 ? (et.last - et.first) / (et.n - 1) * 1e3 : 0;
                bytes = (double)et.nsamples * 16 + (double)mv_vol_bytes(&mo);
                base = prof_memcpy((size_t)bytes, iters);
                snprintf(name, sizeof(name), "metric %s%s + gradient (per eval)", mnames[o.metric.metric],
                         m == 3 ? " 2^18 random" : "");
                printf("%-40s %9.3f %9s %9s %10.0f %8.2f   (%lld samples)\n", name, per, "-", "-",
                       per > 0 ? bytes / 1e6 / (per / 1e3) : 0, per > 0 ? base.median / per : 0, (long long)et.nsamples);
            }
        }
        for (m = 0; m < 3; m++) {
            mv_register_opts o;
            mv_register_result res;
            double mean, p95;
            mv_status s;
            if (m == 1 && i == 1) continue; /* affine: MI and NCC */
            memset(&o, 0, sizeof(o));
            o.transform = i == 0 ? MV_TRANSFORM_RIGID : MV_TRANSFORM_AFFINE;
            o.metric.metric = (mv_metric_type)m;
            s = mv_register_linear(&fx, &mo, &o, &res);
            if (s != MV_OK) {
                printf("register %s %s: %s\n", i == 0 ? "rigid" : "affine", mnames[m], mv_last_error());
                continue;
            }
            tre(&fx, st.mean, (const double(*)[4])res.matrix, (const double(*)[4])T[i], &mean, &p95);
            printf("register %-6s %-4s (levels 4x2x1)        %9.3f s   TRE mean %.4f mm  p95 %.4f mm  (%d+%d+%d its)\n",
                   i == 0 ? "rigid" : "affine", mnames[m], res.elapsed, mean, p95, res.iterations[0], res.iterations[1],
                   res.iterations[2]);
        }
        mv_free(&mo);
    }
    mv_free(&fx);
    return 0;
}
