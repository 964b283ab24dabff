/* test_regspeed.c - the registration speed paths (issue 12): AUTO sampling
   (random 2^16 samples at the coarse levels, 2^18 at the finest, for MI,
   NCC and MSE) gives the same bits on 1, 2 and 3 threads and recovers a
   known rigid transform as well as full sampling does (TRE over a lattice
   of fixed voxels against the analytic transform); the finest level used in place (a float32 input is not
   copied) gives the same bits as the pyramid's copy (the same image as
   float64); the one-pass moments behind MV_INIT_MOMENTS match the direct
   float64 world-space sums; the metric loops (per metric, prefetching, MI
   sub-histograms) give the same bits on 1 and 3 threads for every metric
   and sampling. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void apply4(const double m[4][4], const double x[3], double y[3])
{
    int r;
    for (r = 0; r < 3; r++) y[r] = m[r][0] * x[0] + m[r][1] * x[1] + m[r][2] * x[2] + m[r][3];
}

static void inv4(const double a[4][4], double r[4][4])
{
    /* rigid + translation here: the general 3x3 inverse by cofactors */
    double d = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
               a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    int i, j;
    r[0][0] = (a[1][1] * a[2][2] - a[1][2] * a[2][1]) / d;
    r[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / d;
    r[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / d;
    r[1][0] = (a[1][2] * a[2][0] - a[1][0] * a[2][2]) / d;
    r[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / d;
    r[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / d;
    r[2][0] = (a[1][0] * a[2][1] - a[1][1] * a[2][0]) / d;
    r[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / d;
    r[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / d;
    for (i = 0; i < 3; i++) {
        r[i][3] = 0;
        for (j = 0; j < 3; j++) r[i][3] -= r[i][j] * a[j][3];
    }
    r[3][0] = r[3][1] = r[3][2] = 0, r[3][3] = 1;
}

/* fixed: a smooth phantom, 1 mm, large enough that the finest level has
   more than 2^18 voxels and the half-resolution level more than 2^16;
   moving: fixed moved by the rigid T (fixed world -> moving world) onto a
   1.1 mm grid, cubic */
static void make_moved(mv_vol *fx, mv_vol *mo, double T[4][4])
{
    mv_vol ref;
    mv_resample_opts ro = MV_ZERO_INIT;
    double a = 0.06, b = -0.04, Ti[4][4], c[3];
    int i;
    REQUIRE_OK(mv_phantom_smooth(fx, MV_DT_F32, 96, 88, 80, 11));
    for (i = 0; i < 3; i++) c[i] = fx->affine[i][0] * 47.5 + fx->affine[i][1] * 43.5 + fx->affine[i][2] * 39.5 + fx->affine[i][3];
    memset(T, 0, 16 * sizeof(double));
    /* Rz(a) Rx(b), about c, then a shift */
    T[0][0] = cos(a), T[0][1] = -sin(a) * cos(b), T[0][2] = sin(a) * sin(b);
    T[1][0] = sin(a), T[1][1] = cos(a) * cos(b), T[1][2] = -cos(a) * sin(b);
    T[2][0] = 0, T[2][1] = sin(b), T[2][2] = cos(b);
    for (i = 0; i < 3; i++) T[i][3] = c[i] - (T[i][0] * c[0] + T[i][1] * c[1] + T[i][2] * c[2]) + (i == 0 ? 2.3 : i == 1 ? -1.7 : 1.1);
    T[3][3] = 1;
    inv4((const double(*)[4])T, Ti);
    mv_vol_init(&ref);
    ref.ndim = 3;
    ref.dim[0] = 84, ref.dim[1] = 78, ref.dim[2] = 72;
    memcpy(ref.affine, fx->affine, sizeof(ref.affine));
    for (i = 0; i < 3; i++) ref.affine[i][i] *= 1.1, ref.affine[i][3] += 1.5;
    ro.interp = MV_INTERP_CUBIC;
    ro.fill_outside = 1;
    REQUIRE_OK(mv_warp_affine(fx, &ref, (const double(*)[4])Ti, mo, &ro));
}

/* mean |E p - T p| over a lattice of fixed voxels (every 4th) */
static double tre_mean(const mv_vol *fx, const double E[4][4], const double T[4][4])
{
    int64_t x, y, z, n = 0;
    double s = 0;
    for (z = 0; z < fx->dim[2]; z += 4)
        for (y = 0; y < fx->dim[1]; y += 4)
            for (x = 0; x < fx->dim[0]; x += 4) {
                double v[3] = {(double)x, (double)y, (double)z}, p[3], a[3], b[3];
                int r;
                apply4((const double(*)[4])fx->affine, v, p);
                apply4(E, p, a);
                apply4(T, p, b);
                for (r = 0; r < 3; r++) a[r] -= b[r];
                s += sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
                n++;
            }
    return s / (double)n;
}

/* mv_register_linear on 1, 2 and 3 threads into r[0..2]: 1 when the three
   give the same matrix and metric, bit for bit (a failed call: 0) */
static int register_threads(const mv_vol *fx, const mv_vol *mo, mv_register_opts *o, mv_register_result r[3])
{
    int th;
    for (th = 0; th < 3; th++) {
        o->metric.threads = th + 1;
        if (mv_register_linear(fx, mo, o, &r[th]) != MV_OK) return 0;
    }
    return memcmp(r[0].matrix, r[1].matrix, sizeof(r[0].matrix)) == 0 &&
           memcmp(r[0].matrix, r[2].matrix, sizeof(r[0].matrix)) == 0 && r[0].metric == r[1].metric &&
           r[0].metric == r[2].metric;
}

MV_TEST(regspeed, auto_sampling_any_threads_recovers)
{
    mv_vol fx, mo;
    double T[4][4];
    static const mv_metric_type metrics[3] = {MV_METRIC_MI, MV_METRIC_NCC, MV_METRIC_MSE};
    int mi;
    make_moved(&fx, &mo, T);
    for (mi = 0; mi < 3; mi++) {
        mv_register_opts o = MV_ZERO_INIT;
        mv_register_result r[3], full;
        double e, ef;
        o.transform = MV_TRANSFORM_RIGID;
        o.metric.metric = metrics[mi];
        o.levels = "4x2x1";
        EXPECT_MSG(register_threads(&fx, &mo, &o, r), "metric %d: 1, 2, 3 threads differ", (int)metrics[mi]);
        /* AUTO: the finest level (96x88x80 = 675840 candidates) about 2^18 samples, the
           half-resolution one (48x44x40 = 84480) about 2^16, the coarsest (21120) all */
        EXPECT_MSG(fabs((double)r[0].nsamples[2] / 262144.0 - 1) < 0.05, "finest level %lld samples",
                   (long long)r[0].nsamples[2]);
        EXPECT_MSG(fabs((double)r[0].nsamples[1] / 65536.0 - 1) < 0.05, "level 1 %lld samples", (long long)r[0].nsamples[1]);
        EXPECT_MSG(r[0].nsamples[0] == 24LL * 22 * 20, "level 0 %lld samples", (long long)r[0].nsamples[0]);
        /* the accuracy of full sampling: the phantom's noise, smoothed by the moving
           image's cubic resampling, biases NCC and MSE to ~0.13 mm either way */
        e = tre_mean(&fx, (const double(*)[4])r[0].matrix, (const double(*)[4])T);
        o.metric.sampling = MV_SAMPLING_FULL;
        o.metric.threads = 0;
        REQUIRE_OK(mv_register_linear(&fx, &mo, &o, &full));
        ef = tre_mean(&fx, (const double(*)[4])full.matrix, (const double(*)[4])T);
        EXPECT_MSG(e < 0.2 && e < ef + 0.02, "metric %d: TRE mean %.4f mm, full sampling %.4f", (int)metrics[mi], e, ef);
        printf("    metric %d: TRE mean %.4f mm (full sampling %.4f), samples %lld/%lld/%lld, %.2f s (full %.2f s)\n",
               (int)metrics[mi], e, ef, (long long)r[0].nsamples[0], (long long)r[0].nsamples[1],
               (long long)r[0].nsamples[2], r[0].elapsed, full.elapsed);
    }
    mv_free(&fx);
    mv_free(&mo);
}

/* jittered random samples (opts jitter): the same bits on 1, 2, 3 threads,
   other samples than the voxel centres (another optimum), and the known
   transform still found */
MV_TEST(regspeed, jitter_any_threads_recovers)
{
    mv_vol fx, mo;
    double T[4][4], e;
    mv_register_opts o = MV_ZERO_INIT;
    mv_register_result r[3], plain;
    make_moved(&fx, &mo, T);
    o.transform = MV_TRANSFORM_RIGID;
    o.metric.metric = MV_METRIC_MI;
    o.metric.jitter = 1;
    EXPECT_MSG(register_threads(&fx, &mo, &o, r), "jitter: 1, 2, 3 threads differ");
    o.metric.jitter = 0;
    REQUIRE_OK(mv_register_linear(&fx, &mo, &o, &plain));
    EXPECT_MSG(r[0].metric != plain.metric, "jitter: the same metric as the voxel centres (%.17g)", plain.metric);
    e = tre_mean(&fx, (const double(*)[4])r[0].matrix, (const double(*)[4])T);
    EXPECT_MSG(e < 0.1, "jitter: TRE mean %.4f mm", e);
    printf("    jittered MI: TRE mean %.4f mm (voxel centres %.4f)\n", e,
           tre_mean(&fx, (const double(*)[4])plain.matrix, (const double(*)[4])T));
    mv_free(&fx);
    mv_free(&mo);
}

MV_TEST(regspeed, finest_level_in_place_matches_copy)
{
    mv_vol fx, mo, fx64, mo64;
    mv_convert_opts co = MV_ZERO_INIT;
    double T[4][4];
    int mi;
    make_moved(&fx, &mo, T);
    mv_vol_init(&fx64);
    mv_vol_init(&mo64);
    REQUIRE_OK(mv_convert(&fx, &fx64, MV_DT_F64, &co));
    REQUIRE_OK(mv_convert(&mo, &mo64, MV_DT_F64, &co));
    for (mi = 0; mi < 2; mi++) {
        mv_register_opts o = MV_ZERO_INIT;
        mv_register_result a, b;
        o.transform = MV_TRANSFORM_AFFINE;
        o.metric.metric = mi ? MV_METRIC_NCC : MV_METRIC_MI;
        o.levels = "2x1";
        o.iterations[0] = 20, o.iterations[1] = 15;
        REQUIRE_OK(mv_register_linear(&fx, &mo, &o, &a));     /* float32: finest level in place */
        REQUIRE_OK(mv_register_linear(&fx64, &mo64, &o, &b)); /* float64: the pyramid's float32 copy */
        EXPECT_MSG(memcmp(a.matrix, b.matrix, sizeof(a.matrix)) == 0 && a.metric == b.metric,
                   "metric %d: in place %.17g, copy %.17g", (int)o.metric.metric, a.metric, b.metric);
    }
    mv_free(&fx);
    mv_free(&mo);
    mv_free(&fx64);
    mv_free(&mo64);
}

MV_TEST(regspeed, moments_match_direct_sums)
{
    /* an oblique grid: centre of mass by direct float64 sums of w * world(p) */
    mv_vol fx, mo;
    mv_transform t;
    double cf[3] = {0, 0, 0}, cm[3] = {0, 0, 0};
    int k, r;
    REQUIRE_OK(mv_phantom_smooth(&fx, MV_DT_F32, 45, 38, 29, 3));
    REQUIRE_OK(mv_phantom_smooth(&mo, MV_DT_F32, 41, 44, 33, 5));
    fx.affine[0][1] = 0.21, fx.affine[1][2] = -0.13, fx.affine[2][0] = 0.08, fx.affine[0][3] = -31.5;
    mo.affine[0][0] = -1.2, mo.affine[1][0] = 0.17, mo.affine[2][1] = 0.11, mo.affine[2][3] = 14.25;
    for (k = 0; k < 2; k++) {
        const mv_vol *v = k ? &mo : &fx;
        const float *f = (const float *)v->data;
        double sw = 0, s[3] = {0, 0, 0};
        int64_t x, y, z, i = 0;
        for (z = 0; z < v->dim[2]; z++)
            for (y = 0; y < v->dim[1]; y++)
                for (x = 0; x < v->dim[0]; x++, i++) {
                    double p[3], q[3] = {(double)x, (double)y, (double)z};
                    if (!(f[i] > 0)) continue;
                    apply4((const double(*)[4])v->affine, q, p);
                    sw += f[i];
                    for (r = 0; r < 3; r++) s[r] += f[i] * p[r];
                }
        for (r = 0; r < 3; r++) (k ? cm : cf)[r] = s[r] / sw;
    }
    REQUIRE_OK(mv_transform_initialize(&fx, &mo, NULL, NULL, MV_INIT_MOMENTS, MV_TRANSFORM_RIGID, &t));
    for (r = 0; r < 3; r++) {
        EXPECT_NEAR(t.center[r], cf[r], 1e-9);
        EXPECT_NEAR(t.params[3 + r], cm[r] - cf[r], 1e-9);
    }
    mv_free(&fx);
    mv_free(&mo);
}

MV_TEST(regspeed, metric_loops_threads_identical)
{
    mv_vol fx, mo;
    double T[4][4], c0[3] = {1.0, -2.0, 3.0};
    mv_transform t;
    mv_vol ones;
    mv_isa saved = mv_isa_active();
    int mi, sm;
    make_moved(&fx, &mo, T);
    REQUIRE_OK(mv_vol_alloc(&ones, MV_DT_U8, 3, mo.dim, NULL));
    memset(ones.data, 1, mv_vol_bytes(&ones));
    REQUIRE_OK(mv_transform_from_matrix((const double(*)[4])T, MV_TRANSFORM_AFFINE, 3, c0, &t));
    t.params[1] += 0.01, t.params[9] -= 0.4; /* off the optimum: gradients not near 0 */
    for (mi = 0; mi < 3; mi++)
        for (sm = 0; sm < 3; sm++) {
            mv_metric_opts o = MV_ZERO_INIT;
            double v1, v3, g1[12], g3[12];
            int64_t n1, n3;
            o.metric = (mv_metric_type)mi;
            o.sampling = sm == 0 ? MV_SAMPLING_AUTO : sm == 1 ? MV_SAMPLING_FULL : MV_SAMPLING_STRIDE;
            o.bins = mi == MV_METRIC_MI && sm == 2 ? 100 : 0; /* > 64 bins: one histogram per chunk */
            int isa;
            o.threads = 1;
            REQUIRE_OK(mv_set_isa(MV_ISA_REF));
            REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v1, g1, &n1));
            /* every ISA (the reg_trilin kernels) and thread count: the same bits */
            o.threads = 3;
            for (isa = 1; isa < MV_ISA_COUNT; isa++) {
                if (!(mv_isa_available() >> isa & 1)) continue;
                REQUIRE_OK(mv_set_isa((mv_isa)isa));
                REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v3, g3, &n3));
                EXPECT_MSG(v1 == v3 && n1 == n3 && memcmp(g1, g3, sizeof(g1)) == 0, "metric %d sampling %d isa %d", mi,
                           sm, isa);
            }
            REQUIRE_OK(mv_set_isa(saved));
            /* an all-ones moving mask reads sample by sample (mv__trilin_grad),
               not through the kernel: the same bits */
            o.moving_mask = &ones;
            REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v3, g3, &n3));
            EXPECT_MSG(v1 == v3 && n1 == n3 && memcmp(g1, g3, sizeof(g1)) == 0, "metric %d sampling %d: masked path", mi,
                       sm);
        }
    mv_free(&ones);
    mv_free(&fx);
    mv_free(&mo);
}
