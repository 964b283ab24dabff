/* test_register.c - linear registration: transform Jacobians against
   finite differences of the point map, matrix round trips, metric values
   against float64 numpy definitions (tests/py/ref_register.py), metric
   gradients against central finite differences of the metric, identical
   results on 1 and 2 threads and for the same seed, recovery of known
   rigid and affine transforms of real images (the MNI ICBM152 brain from
   PyPI's nilearn wheel, ITK's PD/T1 brain slices from Debian's
   insighttoolkit5-examples; pairs made by tests/py/reg_data.py with scipy,
   the moving image on another grid) within the TRE targets, cancel, the
   transform files (and SimpleITK applying the .tfm when it is installed),
   and argument errors. */
#include "testutil.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const mv_transform_type all_types[4] = {MV_TRANSFORM_TRANSLATION, MV_TRANSFORM_RIGID, MV_TRANSFORM_SIMILARITY,
                                               MV_TRANSFORM_AFFINE};

/* a transform with small random parameters around the identity */
static void random_transform(mv_transform *t, mv_transform_type type, int ndim, uint64_t *rng)
{
    double c[3] = {3.0, -7.0, 11.0};
    int k;
    mv_transform_init(t, type, ndim, c);
    for (k = 0; k < t->nparams; k++) t->params[k] += (tu_rand01(rng) - 0.5) * 0.2;
}

static void apply(const double m[4][4], const double x[3], double y[3])
{
    int r;
    for (r = 0; r < 3; r++) y[r] = m[r][0] * x[0] + m[r][1] * x[1] + m[r][2] * x[2] + m[r][3];
}

MV_TEST(register, transform_jacobian_and_matrix)
{
    uint64_t rng = 42;
    int ti, nd;
    for (nd = 2; nd <= 3; nd++)
        for (ti = 0; ti < 4; ti++) {
            mv_transform t, t2;
            double jac[3][MV_TRANSFORM_MAX_PARAMS], x[3] = {20.0, -15.0, 9.0}, m[4][4], m2[4][4];
            int k, r, c;
            random_transform(&t, all_types[ti], nd, &rng);
            if (nd == 2) x[2] = 0;
            REQUIRE_OK(mv_transform_jacobian(&t, x, jac));
            for (k = 0; k < t.nparams; k++) {
                mv_transform a = t, b = t;
                double ya[3], yb[3], h = 1e-6;
                a.params[k] += h, b.params[k] -= h;
                mv_transform_matrix(&a, m);
                apply((const double(*)[4])m, x, ya);
                mv_transform_matrix(&b, m);
                apply((const double(*)[4])m, x, yb);
                for (r = 0; r < 3; r++) EXPECT_NEAR(jac[r][k], (ya[r] - yb[r]) / (2 * h), 1e-6);
            }
            /* the matrix maps the centre to centre + t for rotation types, and round trips */
            REQUIRE_OK(mv_transform_matrix(&t, m));
            if (nd == 2) EXPECT(m[2][2] == 1 && m[2][0] == 0 && m[0][2] == 0 && m[2][3] == 0);
            REQUIRE_OK(mv_transform_from_matrix((const double(*)[4])m, t.type, nd, t.center, &t2));
            REQUIRE_OK(mv_transform_matrix(&t2, m2));
            for (r = 0; r < 4; r++)
                for (c = 0; c < 4; c++) EXPECT_NEAR(m2[r][c], m[r][c], 1e-9);
        }
    {
        /* Euler3D convention: M = Rz Rx Ry; ax = pi/2 alone turns +y into +z */
        mv_transform t;
        double m[4][4];
        mv_transform_init(&t, MV_TRANSFORM_RIGID, 3, NULL);
        t.params[0] = acos(-1.0) / 2;
        mv_transform_matrix(&t, m);
        EXPECT_NEAR(m[2][1], 1, 1e-12);
        EXPECT_NEAR(m[1][2], -1, 1e-12);
        /* ay = 0.3, az = 0.2: compare with the product written out */
        t.params[0] = 0.1, t.params[1] = 0.3, t.params[2] = 0.2;
        mv_transform_matrix(&t, m);
        {
            double cx = cos(0.1), sx = sin(0.1), cy = cos(0.3), sy = sin(0.3), cz = cos(0.2), sz = sin(0.2);
            /* ITK Euler3DTransform::ComputeMatrix (ComputeZYX off) */
            EXPECT_NEAR(m[0][0], cz * cy - sz * sx * sy, 1e-12);
            EXPECT_NEAR(m[0][1], -sz * cx, 1e-12);
            EXPECT_NEAR(m[0][2], cz * sy + sz * sx * cy, 1e-12);
            EXPECT_NEAR(m[1][0], sz * cy + cz * sx * sy, 1e-12);
            EXPECT_NEAR(m[1][1], cz * cx, 1e-12);
            EXPECT_NEAR(m[1][2], sz * sy - cz * sx * cy, 1e-12);
            EXPECT_NEAR(m[2][0], -cx * sy, 1e-12);
            EXPECT_NEAR(m[2][1], sx, 1e-12);
            EXPECT_NEAR(m[2][2], cx * cy, 1e-12);
        }
    }
}

/* a smooth phantom volume with a rotated, anisotropic affine */
static void make_pair(mv_vol *fx, mv_vol *mo, int two_d)
{
    /* 2D: more pixels, so that the MI histogram has no nearly empty bins
       (p log p has a second derivative of 1/p: finite differences need p >> h) */
    int s = two_d ? 3 : 1;
    mv_phantom_smooth(fx, MV_DT_F32, 40 * s, 36 * s, two_d ? 1 : 30, 7);
    mv_phantom_smooth(mo, MV_DT_F32, 44 * s, 34 * s, two_d ? 1 : 28, 7);
    memset(fx->affine, 0, sizeof(fx->affine));
    memset(mo->affine, 0, sizeof(mo->affine));
    fx->affine[0][0] = 1.5 / s, fx->affine[1][1] = 1.5 / s, fx->affine[2][2] = 1.8;
    fx->affine[0][3] = -30, fx->affine[1][3] = -27, fx->affine[2][3] = two_d ? 0 : -26, fx->affine[3][3] = 1;
    /* moving: x flipped, in-plane rotation, other spacing */
    mo->affine[0][0] = -1.4 / s * cos(0.2), mo->affine[0][1] = -1.5 / s * sin(0.2);
    mo->affine[1][0] = -1.4 / s * sin(0.2), mo->affine[1][1] = 1.5 / s * cos(0.2);
    mo->affine[2][2] = 1.9;
    mo->affine[0][3] = 31, mo->affine[1][3] = -24, mo->affine[2][3] = two_d ? 0 : -25, mo->affine[3][3] = 1;
    if (two_d) {
        fx->ndim = mo->ndim = 2;
    }
}

/* mv_metric_moving_inverse: the moving affine's inverse (W A = I to
   rounding) for an oblique affine with a large offset; singular and NULL
   refused */
MV_TEST(register, metric_moving_inverse)
{
    mv_vol v;
    double W[4][4];
    int i, j, k;
    mv_vol_init(&v);
    v.affine[0][0] = 0.9; v.affine[0][1] = 0.2; v.affine[0][2] = -0.1; v.affine[0][3] = -90.5;
    v.affine[1][0] = -0.15; v.affine[1][1] = 1.1; v.affine[1][2] = 0.05; v.affine[1][3] = 126.25;
    v.affine[2][0] = 0.02; v.affine[2][1] = -0.3; v.affine[2][2] = 2.5; v.affine[2][3] = -72.0;
    v.affine[3][0] = v.affine[3][1] = v.affine[3][2] = 0; v.affine[3][3] = 1;
    REQUIRE_OK(mv_metric_moving_inverse(&v, W));
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) {
            double p = 0;
            for (k = 0; k < 4; k++) p += W[i][k] * v.affine[k][j];
            EXPECT_MSG(fabs(p - (i == j)) < 1e-12, "(W A)[%d][%d] = %.17g", i, j, p);
        }
    v.affine[2][0] = v.affine[2][1] = v.affine[2][2] = 0; /* a singular affine */
    EXPECT_STATUS(mv_metric_moving_inverse(&v, W), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_metric_moving_inverse(NULL, W), MV_ERR_INVALID_ARG);
}

MV_TEST(register, metric_values_match_numpy)
{
    mv_vol fx, mo;
    mv_transform t;
    double m[4][4];
    char args[2048], out[512];
    uint64_t rng = 5;
    int nd;
    if (!tu_python("numpy nibabel")) SKIP("python3 with numpy and nibabel not found");
    for (nd = 3; nd >= 2; nd--) {
        double ref[4];
        long long rn[4];
        static const mv_metric_type mt[4] = {MV_METRIC_MSE, MV_METRIC_NCC, MV_METRIC_MI, MV_METRIC_LNCC};
        int i;
        make_pair(&fx, &mo, nd == 2);
        random_transform(&t, MV_TRANSFORM_AFFINE, nd, &rng);
        REQUIRE_OK(mv_transform_matrix(&t, m));
        REQUIRE_OK(mv_save(tu_path("reg_f.nii"), &fx, NULL));
        REQUIRE_OK(mv_save(tu_path("reg_m.nii"), &mo, NULL));
        REQUIRE_OK(mv_matrix_write(tu_path("reg_t.txt"), (const double(*)[4])m));
        /* MI with the default bins (24) */
        snprintf(args, sizeof(args), "%s %s %s 24", tu_path("reg_f.nii"), tu_path("reg_m.nii"), tu_path("reg_t.txt"));
        REQUIRE(tu_run_py("ref_register.py", args, out, sizeof(out)) == 0);
        REQUIRE(sscanf(out, "mse %lf %lld ncc %lf %lld mi %lf %lld lncc %lf %lld", &ref[0], &rn[0], &ref[1], &rn[1], &ref[2],
                       &rn[2], &ref[3], &rn[3]) == 8);
        /* the files as written (NIfTI keeps the affine in float32) */
        mv_free(&fx);
        mv_free(&mo);
        REQUIRE_OK(mv_load(tu_path("reg_f.nii"), &fx, NULL));
        REQUIRE_OK(mv_load(tu_path("reg_m.nii"), &mo, NULL));
        for (i = 0; i < 4; i++) {
            mv_metric_opts mo_ = MV_ZERO_INIT;
            double v;
            int64_t n;
            mo_.metric = mt[i];
            mo_.sampling = MV_SAMPLING_FULL;
            REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &mo_, &v, NULL, &n));
            EXPECT_EQ_INT((long long)n, rn[i]);
            EXPECT_MSG(fabs(v - ref[i]) <= 1e-9 * fabs(ref[i]), "ndim %d metric %d: %.17g, numpy %.17g", nd, (int)mt[i], v,
                       ref[i]);
        }
        mv_free(&fx);
        mv_free(&mo);
    }
}

MV_TEST(register, metric_gradients_match_finite_differences)
{
    uint64_t rng = 9;
    int nd, ti, mi;
    static const mv_metric_type mts[4] = {MV_METRIC_MSE, MV_METRIC_NCC, MV_METRIC_MI, MV_METRIC_LNCC};
    for (nd = 3; nd >= 2; nd--) {
        mv_vol fx, mo, mask;
        int64_t x, y, z, nz;
        make_pair(&fx, &mo, nd == 2);
        /* samples that enter or leave the moving grid make the metric jump:
           a central fixed mask keeps them all inside for small parameters */
        REQUIRE_OK(mv_vol_alloc(&mask, MV_DT_U8, fx.ndim, fx.dim, NULL));
        nz = nd == 3 ? fx.dim[2] : 1;
        for (z = 0; z < nz; z++)
            for (y = 0; y < fx.dim[1]; y++)
                for (x = 0; x < fx.dim[0]; x++)
                    ((unsigned char *)mask.data)[x + fx.dim[0] * (y + fx.dim[1] * z)] =
                        x > fx.dim[0] / 5 && x < fx.dim[0] - fx.dim[0] / 5 && y > fx.dim[1] / 5 &&
                        y < fx.dim[1] - fx.dim[1] / 5 && (nd == 2 || (z > 7 && z < nz - 8));
        for (ti = 0; ti < 4; ti++)
            for (mi = 0; mi < 4; mi++) {
                mv_transform t;
                mv_metric_opts o = MV_ZERO_INIT;
                double v, g[MV_TRANSFORM_MAX_PARAMS], sc[MV_TRANSFORM_MAX_PARAMS], gmax = 0;
                int k;
                random_transform(&t, all_types[ti], nd, &rng);
                o.metric = mts[mi];
                o.sampling = MV_SAMPLING_FULL;
                o.fixed_mask = &mask;
                REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v, g, NULL));
                REQUIRE_OK(mv_transform_scales(&t, &fx, sc));
                for (k = 0; k < t.nparams; k++) gmax = fmax(gmax, fabs(g[k]) / sqrt(sc[k]));
                for (k = 0; k < t.nparams; k++) {
                    /* 1e-6 mm at the farthest corner (MI of noisy images bends within 1e-3 mm);
                       a sample or window that switches within +-h makes the metric jump, so
                       a mismatch is retried once with h / 10 */
                    double fd = 0, h = 1e-6 / sqrt(sc[k]);
                    int tries;
                    for (tries = 0; tries < 2; tries++, h /= 10) {
                        mv_transform a = t, b = t;
                        double va, vb;
                        a.params[k] += h, b.params[k] -= h;
                        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &a, &o, &va, NULL, NULL));
                        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &b, &o, &vb, NULL, NULL));
                        fd = (va - vb) / (2 * h);
                        if (fabs(fd - g[k]) / sqrt(sc[k]) <= 2e-3 * gmax + 1e-12) break;
                    }
                    /* in scaled units (per mm of corner motion), relative to the largest component */
                    EXPECT_MSG(fabs(fd - g[k]) / sqrt(sc[k]) <= 2e-3 * gmax + 1e-12,
                               "ndim %d type %d metric %d param %d: analytic %.9g, finite differences %.9g", nd,
                               (int)all_types[ti], (int)mts[mi], k, g[k], fd);
                }
            }
        mv_free(&fx);
        mv_free(&mo);
        mv_free(&mask);
    }
}

MV_TEST(register, threads_and_seed_identical)
{
    mv_vol fx, mo;
    mv_transform t;
    uint64_t rng = 3;
    int mi;
    make_pair(&fx, &mo, 0);
    random_transform(&t, MV_TRANSFORM_AFFINE, 3, &rng);
    for (mi = 0; mi < 4; mi++) { /* MI, MSE, NCC, LNCC (dense: no seed) */
        mv_metric_opts o = MV_ZERO_INIT;
        double v1, v2, v3, v4, g1[12], g2[12], g3[12];
        int64_t n1, n2, n3, n4;
        o.metric = (mv_metric_type)mi;
        o.sampling = MV_SAMPLING_RANDOM;
        o.fraction = 0.5;
        o.seed = 77;
        o.threads = 1;
        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v1, g1, &n1));
        o.threads = 2;
        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v2, g2, &n2));
        EXPECT(v1 == v2 && n1 == n2 && memcmp(g1, g2, sizeof(g1)) == 0);
        if (mi == MV_METRIC_LNCC) continue;
        o.seed = 78;
        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v3, g3, &n3));
        EXPECT(n3 != n1 || v3 != v1);
        o.sampling = MV_SAMPLING_FULL;
        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, &v4, NULL, &n4));
        EXPECT_MSG(n1 > 0.45 * (double)n4 && n1 < 0.55 * (double)n4, "random half: %lld of %lld", (long long)n1, (long long)n4);
    }
    {
        /* a whole registration: the same bits on 1 and 2 threads */
        mv_register_opts o = MV_ZERO_INIT;
        mv_register_result r1, r2;
        o.transform = MV_TRANSFORM_RIGID;
        o.metric.metric = MV_METRIC_MI;
        o.metric.sampling = MV_SAMPLING_RANDOM;
        o.metric.fraction = 0.3;
        o.metric.seed = 5;
        o.levels = "2x1";
        o.metric.threads = 1;
        REQUIRE_OK(mv_register_linear(&fx, &mo, &o, &r1));
        o.metric.threads = 2;
        REQUIRE_OK(mv_register_linear(&fx, &mo, &o, &r2));
        EXPECT(memcmp(r1.matrix, r2.matrix, sizeof(r1.matrix)) == 0);
        EXPECT(r1.metric == r2.metric && r1.iterations[1] == r2.iterations[1]);
    }
    mv_free(&fx);
    mv_free(&mo);
}

/* ---- real images moved by known transforms ---- */

typedef struct reg_case {
    const char *name;
    mv_transform_type type;
    mv_metric_type metric;
    const char *levels;
    double mean_max, p95_max;
} reg_case;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* TRE over the fixed mask: |E p - T p| in mm; mean and 95th percentile */
static void tre(const mv_vol *fx, const mv_vol *mask, const double E[4][4], const double T[4][4], double *mean, double *p95)
{
    int64_t nx = fx->dim[0], ny = fx->dim[1], nz = fx->ndim > 2 ? fx->dim[2] : 1, x, y, z, n = 0;
    double *d = (double *)malloc((size_t)(nx * ny * nz) * sizeof(double)), s = 0;
    const float *m = (const float *)mask->data;
    for (z = 0; z < nz; z++)
        for (y = 0; y < ny; y++)
            for (x = 0; x < nx; x++) {
                double p[3], a[3], b[3], e;
                int k;
                if (!m[x + nx * (y + ny * z)]) continue;
                for (k = 0; k < 3; k++) p[k] = fx->affine[k][0] * x + fx->affine[k][1] * y + fx->affine[k][2] * z + fx->affine[k][3];
                apply(E, p, a);
                apply(T, p, b);
                e = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
                d[n++] = e;
                s += e;
            }
    qsort(d, (size_t)n, sizeof(double), cmp_double);
    *mean = n ? s / (double)n : NAN;
    *p95 = n ? d[(int64_t)(0.95 * (double)(n - 1))] : NAN;
    free(d);
}

static int load_case(const char *name, mv_vol *fx, mv_vol *mo, mv_vol *mask, double T[4][4])
{
    char p[512];
    snprintf(p, sizeof(p), "build/regdata/%s_fixed.nii", name);
    if (mv_load(p, fx, NULL) != MV_OK) return 0;
    snprintf(p, sizeof(p), "build/regdata/%s_moving.nii", name);
    if (mv_load(p, mo, NULL) != MV_OK) return 0;
    snprintf(p, sizeof(p), "build/regdata/%s_mask.nii", name);
    if (mv_load(p, mask, NULL) != MV_OK) return 0;
    snprintf(p, sizeof(p), "build/regdata/%s_true.txt", name);
    return mv_matrix_read(p, T) == MV_OK;
}

static void run_cases(const reg_case *cs, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        mv_vol fx, mo, mask;
        double T[4][4], mean, p95;
        mv_register_opts o = MV_ZERO_INIT;
        mv_register_result r;
        REQUIRE(load_case(cs[i].name, &fx, &mo, &mask, T));
        o.transform = cs[i].type;
        o.metric.metric = cs[i].metric;
        o.levels = cs[i].levels;
        REQUIRE_OK(mv_register_linear(&fx, &mo, &o, &r));
        tre(&fx, &mask, (const double(*)[4])r.matrix, (const double(*)[4])T, &mean, &p95);
        printf("    %s type %d metric %d: TRE mean %.4f mm, p95 %.4f mm, %.2f s\n", cs[i].name, (int)cs[i].type,
               (int)cs[i].metric, mean, p95, r.elapsed);
        EXPECT_MSG(mean <= cs[i].mean_max && p95 <= cs[i].p95_max, "%s: TRE mean %.4f p95 %.4f (targets %.2f / %.2f)",
                   cs[i].name, mean, p95, cs[i].mean_max, cs[i].p95_max);
        mv_free(&fx);
        mv_free(&mo);
        mv_free(&mask);
    }
}

MV_TEST(register, recovers_known_transforms_3d_brain)
{
    static const reg_case cs[] = {
        {"brain3d_rigid", MV_TRANSFORM_RIGID, MV_METRIC_MSE, NULL, 0.1, 0.2},
        {"brain3d_affine", MV_TRANSFORM_AFFINE, MV_METRIC_NCC, NULL, 0.1, 0.2},
        {"brain3d_mi", MV_TRANSFORM_RIGID, MV_METRIC_MI, NULL, 0.1, 0.2}, /* non-monotonic intensity remap */
    };
    const char *why = tu_regdata();
    if (why) SKIP("%s", why);
    run_cases(cs, 3);
}

MV_TEST(register, recovers_known_transforms_2d_slices)
{
    static const reg_case cs[] = {
        {"slice2d_pd", MV_TRANSFORM_RIGID, MV_METRIC_MSE, "4x2x1", 0.1, 0.2},
        {"slice2d_pd", MV_TRANSFORM_AFFINE, MV_METRIC_NCC, "4x2x1", 0.1, 0.2},
        {"slice2d_t1pd", MV_TRANSFORM_RIGID, MV_METRIC_MI, "4x2x1", 0.1, 0.2}, /* T1 onto PD */
        {"slice2d_pd", MV_TRANSFORM_AFFINE, MV_METRIC_LNCC, "4x2x1", 0.1, 0.2},
    };
    const char *why = tu_regdata();
    if (why) SKIP("%s", why);
    {
        FILE *f = fopen("build/regdata/slice2d_pd_fixed.nii", "rb");
        if (!f) SKIP("ITK example slices not available (apt-get download insighttoolkit5-examples failed)");
        fclose(f);
    }
    run_cases(cs, 4);
}

static int cancel_at;
static int calls_after_cancel;
static int cancel_cb(void *user, const mv_register_progress *p)
{
    int *n = (int *)user;
    (void)p;
    (*n)++;
    if (*n > cancel_at) calls_after_cancel++;
    return *n >= cancel_at;
}

MV_TEST(register, cancel_returns_promptly)
{
    mv_vol fx, mo;
    mv_register_opts o = MV_ZERO_INIT;
    mv_register_result r;
    int n = 0;
    make_pair(&fx, &mo, 0);
    o.progress = cancel_cb;
    o.user = &n;
    cancel_at = 3;
    calls_after_cancel = 0;
    memset(&r, 0x5a, sizeof(r));
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_CANCELLED);
    EXPECT_EQ_INT(n, 3);
    EXPECT_EQ_INT(calls_after_cancel, 0);
    EXPECT(r.matrix[0][0] == 0 && r.matrix[3][3] == 0 && r.nlevels == 0);
    EXPECT(strstr(mv_last_error(), "cancel") != NULL);
    mv_free(&fx);
    mv_free(&mo);
}

MV_TEST(register, transform_files)
{
    double m[4][4] = {{0.98, -0.17, 0.02, 4.5}, {0.17, 0.97, 0.05, -3.25}, {-0.01, -0.05, 1.02, 7}, {0, 0, 0, 1}}, r[4][4];
    char buf[1024];
    int i, j;
    REQUIRE_OK(mv_matrix_write(tu_path("m.txt"), (const double(*)[4])m));
    REQUIRE_OK(mv_matrix_read(tu_path("m.txt"), r));
    EXPECT(memcmp(m, r, sizeof(m)) == 0);
    REQUIRE_OK(mv_itk_tfm_write(tu_path("t.tfm"), (const double(*)[4])m, 3));
    REQUIRE_OK(mv_itk_tfm_read(tu_path("t.tfm"), r));
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) EXPECT(r[i][j] == m[i][j]);
    /* the LPS file: x and y flipped on both sides */
    REQUIRE_OK(mv_itk_tfm_format((const double(*)[4])m, 3, buf, sizeof(buf)));
    EXPECT(strstr(buf, "#Insight Transform File V1.0\n") == buf);
    EXPECT(strstr(buf, "Transform: AffineTransform_double_3_3\n") != NULL);
    EXPECT(strstr(buf, "Parameters: 0.97999999999999998 -0.17000000000000001 -0.02 ") != NULL);
    EXPECT(strstr(buf, "FixedParameters: 0 0 0\n") != NULL);
    /* 2_2 holds a 2D map only: this one's z terms would be lost */
    EXPECT_STATUS(mv_itk_tfm_format((const double(*)[4])m, 2, buf, sizeof(buf)), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "ndim 3") != NULL);
    {
        double m2[4][4] = {{0.98, -0.17, 0, 4.5}, {0.17, 0.97, 0, -3.25}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        REQUIRE_OK(mv_itk_tfm_format((const double(*)[4])m2, 2, buf, sizeof(buf)));
        EXPECT(strstr(buf, "Transform: AffineTransform_double_2_2\nParameters: 0.97999999999999998 "
                           "-0.17000000000000001 0.17000000000000001 0.96999999999999997 -4.5 3.25\n") != NULL);
        REQUIRE_OK(mv_itk_tfm_parse(buf, r));
        for (i = 0; i < 4; i++)
            for (j = 0; j < 4; j++) EXPECT(r[i][j] == m2[i][j]);
        m2[2][3] = 5; /* a z shift a 2D file cannot carry */
        EXPECT_STATUS(mv_itk_tfm_format((const double(*)[4])m2, 2, buf, sizeof(buf)), MV_ERR_INVALID_ARG);
    }
    /* an ITK file with a centre: y = A (x - c) + c + t in LPS */
    REQUIRE_OK(mv_itk_tfm_parse("#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
                                "Parameters: 1 0 0 0 0 -1 0 1 0 1 2 3\nFixedParameters: 10 20 30\n",
                                r));
    /* LPS: A = [[1,0,0],[0,0,-1],[0,1,0]], A c = (10,-30,20), offset = t + c - A c = (1, 52, 13);
       RAS = D (.) D with D = diag(-1,-1,1,1) */
    EXPECT_NEAR(r[0][3], -1, 1e-12);
    EXPECT_NEAR(r[1][3], -52, 1e-12);
    EXPECT_NEAR(r[2][3], 13, 1e-12);
    EXPECT_NEAR(r[1][2], 1, 1e-12);
    EXPECT_NEAR(r[2][1], -1, 1e-12);
    /* an Euler3D rotation of 90 degrees about z (ITK's default ZXY order),
       centre (1, 2, 3), t (10, 0, 0): LPS (2, 2, 3) = c + (1, 0, 0) goes to
       c + (0, 1, 0) + t = (11, 3, 3); in RAS, (-2, -2, 3) to (-11, -3, 3) */
    REQUIRE_OK(mv_itk_tfm_parse("#Insight Transform File V1.0\n#Transform 0\nTransform: Euler3DTransform_double_3_3\n"
                                "Parameters: 0 0 1.5707963267948966 10 0 0\nFixedParameters: 1 2 3 0\n",
                                r));
    EXPECT_NEAR(r[0][0] * -2 + r[0][1] * -2 + r[0][2] * 3 + r[0][3], -11, 1e-12);
    EXPECT_NEAR(r[1][0] * -2 + r[1][1] * -2 + r[1][2] * 3 + r[1][3], -3, 1e-12);
    EXPECT_NEAR(r[2][0] * -2 + r[2][1] * -2 + r[2][2] * 3 + r[2][3], 3, 1e-12);
    /* a composite applies its last transform first: Translation (1, 0, 0)
       after a scale by 2 about the origin is x -> 2 x + (1, 0, 0) in LPS */
    REQUIRE_OK(mv_itk_tfm_parse("#Insight Transform File V1.0\n#Transform 0\nTransform: CompositeTransform_double_3_3\n"
                                "#Transform 1\nTransform: TranslationTransform_double_3_3\nParameters: 1 0 0\n"
                                "FixedParameters:\n#Transform 2\nTransform: ScaleTransform_double_3_3\n"
                                "Parameters: 2 2 2\nFixedParameters: 0 0 0\n",
                                r));
    EXPECT_NEAR(r[0][0], 2, 1e-15);
    EXPECT_NEAR(r[0][3], -1, 1e-15); /* LPS +1 in x is RAS -1 */
    EXPECT_NEAR(r[1][3], 0, 1e-15);
    EXPECT_STATUS(mv_itk_tfm_parse("#Insight Transform File V1.0\nTransform: CompositeTransform_double_3_3\n#Transform 1\n"
                                   "Transform: BSplineTransform_double_3_3\nParameters: 0\n",
                                   r),
                  MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_itk_tfm_parse("#Insight Transform File V1.0\nTransform: Euler3DTransform_double_3_3\n"
                                   "Parameters: 0 0 1\n",
                                   r),
                  MV_ERR_BAD_DATA); /* 3 Parameters, 6 needed */
    EXPECT_STATUS(mv_itk_tfm_parse("#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\n", r),
                  MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "BSplineTransform_double_3_3") != NULL);
    /* finite numbers whose offset t + c - A c overflows: refused, m left alone (the fuzzer's find) */
    memcpy(r, m, sizeof(m));
    EXPECT_STATUS(mv_itk_tfm_parse("#Insight Transform File V1.0\nTransform: AffineTransform_double_3_3\n"
                                   "Parameters: 1 0 0 1e308 1 0 0 0 1 0 0 0\nFixedParameters: 10 -5 2\n",
                                   r),
                  MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "not finite") != NULL);
    EXPECT(memcmp(r, m, sizeof(m)) == 0);
    EXPECT_STATUS(mv_matrix_parse("1 0 0 0 0 1 0 0 0 0 1 0 0 0 0", r), MV_ERR_BAD_DATA);
    EXPECT_STATUS(mv_matrix_parse("1 0 0 0 0 1 0 0 0 0 1 0 0 0 1 1", r), MV_ERR_BAD_DATA);
    EXPECT_STATUS(mv_matrix_read(tu_path("absent.txt"), r), MV_ERR_NOT_FOUND);
}

MV_TEST(register, simpleitk_applies_the_tfm)
{
    mv_vol fx, mo, mask, w;
    double T[4][4];
    mv_resample_opts ro = MV_ZERO_INIT;
    char args[2048], out[512];
    const char *why = tu_regdata();
    double maxdiff = -1, range = 0;
    if (why) SKIP("%s", why);
    if (!tu_python("SimpleITK numpy nibabel")) SKIP("python3 module SimpleITK not installed");
    REQUIRE(load_case("brain3d_affine", &fx, &mo, &mask, T));
    REQUIRE_OK(mv_itk_tfm_write(tu_path("b.tfm"), (const double(*)[4])T, 3));
    ro.fill_outside = 1;
    REQUIRE_OK(mv_warp_affine(&mo, &fx, (const double(*)[4])T, &w, &ro));
    REQUIRE_OK(mv_save(tu_path("warped.nii"), &w, NULL));
    snprintf(args, sizeof(args), "build/regdata/brain3d_affine_fixed.nii build/regdata/brain3d_affine_moving.nii %s %s",
             tu_path("b.tfm"), tu_path("warped.nii"));
    REQUIRE(tu_run_py("sitk_apply.py", args, out, sizeof(out)) == 0);
    REQUIRE(sscanf(out, "maxdiff %lf range %lf", &maxdiff, &range) == 2);
    EXPECT_MSG(maxdiff <= 1e-4 * range, "SimpleITK vs medvol warped: max |diff| %g of range %g", maxdiff, range);
    mv_free(&fx);
    mv_free(&mo);
    mv_free(&mask);
    mv_free(&w);
}

/* The sample selection, the value ranges and the centre-of-mass moments are
   split across threads by fixed parts (slices, blocks): the same samples and
   the same bits for 1, 2 and 3 threads; non-finite fixed voxels are never
   samples (counted here directly). 128^3 float32 (8 MiB): past the size
   below which the pool is not used. */
/* elastix TransformParameters files: each kind's matrix worked out here
   from elastix's definitions (y = A (x - c) + c + t in LPS), chains
   (Compose, Add, a relative initial name), a B-spline's value at a grid
   node (the cubic's weights 1/6, 2/3, 1/6 per axis), the writer read back,
   and refusals naming the entry. transformix itself is the reference of
   tests/py/diff_elastix.py (make test-diff-elastix). */
static void elx_identity(double L[4][4])
{
    int r, c;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) L[r][c] = r == c;
}

static void elx_expect_lps(const mv_elastix_transform *t, const double L[4][4], double tol)
{
    double m[4][4];
    const double S[4] = {-1, -1, 1, 1};
    int r, c;
    REQUIRE_OK(mv_elastix_matrix(t, m));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) EXPECT_NEAR(m[r][c], S[r] * L[r][c] * S[c], tol);
}

MV_TEST(register, elastix_files)
{
    static const char *head = "(FixedImageDimension 3)\n(MovingImageDimension 3)\n(Size 4 5 6)\n(Spacing 2 1 1)\n"
                              "(Origin 10 20 30)\n(HowToCombineTransforms \"Compose\")\n";
    char text[4096], buf[4096];
    mv_elastix_transform *t = NULL;
    double L[4][4], M[4][4], m[4][4], q[3];
    int r, c;
    /* translation: L = [I t] */
    snprintf(text, sizeof(text), "(Transform \"TranslationTransform\")\n(NumberOfParameters 3)\n"
                                 "(TransformParameters 1.5 -2 0.25) // comment\n%s", head);
    REQUIRE_OK(mv_elastix_parse(text, &t, NULL));
    EXPECT_EQ_INT(mv_elastix_ndim(t), 3);
    EXPECT(mv_elastix_is_linear(t));
    elx_identity(L);
    L[0][3] = 1.5, L[1][3] = -2, L[2][3] = 0.25;
    elx_expect_lps(t, (const double(*)[4])L, 0);
    {
        const double p[3] = {1, 2, 3};
        REQUIRE_OK(mv_elastix_point(t, p, q));
        EXPECT_NEAR(q[0], 1 - 1.5, 0);
        EXPECT_NEAR(q[1], 2 + 2, 0);
        EXPECT_NEAR(q[2], 3.25, 0);
    }
    mv_elastix_free(t);
    /* affine about a centre: L = [A, t + c - A c] */
    snprintf(text, sizeof(text), "(Transform \"AffineTransform\")\n(NumberOfParameters 12)\n"
                                 "(TransformParameters 1.1 0.1 0 -0.2 0.9 0.05 0 0 1.2 3 4 5)\n"
                                 "(CenterOfRotationPoint 1 -1 2)\n%s", head);
    REQUIRE_OK(mv_elastix_parse(text, &t, NULL));
    {
        const double A[3][3] = {{1.1, 0.1, 0}, {-0.2, 0.9, 0.05}, {0, 0, 1.2}}, cc[3] = {1, -1, 2}, tt[3] = {3, 4, 5};
        elx_identity(L);
        for (r = 0; r < 3; r++) {
            L[r][3] = tt[r] + cc[r];
            for (c = 0; c < 3; c++) L[r][c] = A[r][c], L[r][3] -= A[r][c] * cc[c];
        }
    }
    elx_expect_lps(t, (const double(*)[4])L, 1e-15);
    { /* the Jacobian determinant of an affine: det A everywhere */
        mv_vol jd;
        const double Aj[3][3] = {{1.1, 0.1, 0}, {-0.2, 0.9, 0.05}, {0, 0, 1.2}};
        const double detA = 1.1 * (0.9 * 1.2 - 0) - 0.1 * (-0.2 * 1.2 - 0.05 * 0) + 0;
        mv_vol_init(&jd);
        REQUIRE_OK(mv_elastix_jacobian(t, NULL, &jd, NULL));
        EXPECT_NEAR(((float *)jd.data)[0], detA, 1e-6);
        EXPECT_NEAR(((float *)jd.data)[119], detA, 1e-6);
        mv_free(&jd);
        /* and the matrix (transformix -jacmat): A row by row, (4, 5, 6, 1, 9), intent 1007 */
        REQUIRE_OK(mv_elastix_jacobian_matrix(t, NULL, &jd, NULL));
        EXPECT_EQ_INT(jd.ndim, 5);
        EXPECT_EQ_INT(jd.dim[0] * jd.dim[1] * jd.dim[2], 120);
        EXPECT_EQ_INT(jd.dim[3], 1);
        EXPECT_EQ_INT(jd.dim[4], 9);
        EXPECT_EQ_INT(jd.meta.intent_code, 1007);
        for (r = 0; r < 3; r++)
            for (c = 0; c < 3; c++) {
                EXPECT_NEAR(((float *)jd.data)[(r * 3 + c) * 120], Aj[r][c], 1e-6);
                EXPECT_NEAR(((float *)jd.data)[(r * 3 + c) * 120 + 119], Aj[r][c], 1e-6);
            }
        mv_free(&jd);
    }
    /* the fixed grid: Size, Spacing, Origin (LPS) -> a RAS affine */
    {
        mv_vol f;
        mv_vol_init(&f);
        REQUIRE_OK(mv_elastix_field(t, NULL, &f, NULL));
        EXPECT_EQ_INT(f.dim[0], 4);
        EXPECT_EQ_INT(f.dim[2], 6);
        EXPECT_EQ_INT(f.dim[4], 3);
        EXPECT_NEAR(f.affine[0][0], -2, 0);
        EXPECT_NEAR(f.affine[0][3], -10, 0);
        EXPECT_NEAR(f.affine[1][3], -20, 0);
        EXPECT_NEAR(f.affine[2][3], 30, 0);
        /* voxel (1, 0, 0): LPS (12, 20, 30), moved by L */
        for (r = 0; r < 3; r++) {
            const double p[3] = {12, 20, 30};
            double d = L[r][0] * p[0] + L[r][1] * p[1] + L[r][2] * p[2] + L[r][3] - p[r];
            EXPECT_NEAR(((float *)f.data)[(size_t)r * 120 + 1], d, 1e-5 * (1 + fabs(d)));
        }
        mv_free(&f);
    }
    mv_elastix_free(t);
    /* Euler 3D, ZXY (elastix's default) and ZYX: R = Rz Rx Ry / Rz Ry Rx */
    {
        const double ax = 0.1, ay = -0.2, az = 0.3;
        double Rx[3][3] = {{1, 0, 0}, {0, cos(ax), -sin(ax)}, {0, sin(ax), cos(ax)}};
        double Ry[3][3] = {{cos(ay), 0, sin(ay)}, {0, 1, 0}, {-sin(ay), 0, cos(ay)}};
        double Rz[3][3] = {{cos(az), -sin(az), 0}, {sin(az), cos(az), 0}, {0, 0, 1}};
        int zyx;
        for (zyx = 0; zyx < 2; zyx++) {
            double T[3][3], R[3][3];
            int k;
            snprintf(text, sizeof(text), "(Transform \"EulerTransform\")\n(NumberOfParameters 6)\n"
                                         "(TransformParameters 0.1 -0.2 0.3 1 2 3)\n(CenterOfRotationPoint 0 0 0)\n"
                                         "(ComputeZYX \"%s\")\n%s", zyx ? "true" : "false", head);
            REQUIRE_OK(mv_elastix_parse(text, &t, NULL));
            for (r = 0; r < 3; r++)
                for (c = 0; c < 3; c++)
                    for (T[r][c] = 0, k = 0; k < 3; k++) T[r][c] += Rz[r][k] * (zyx ? Ry : Rx)[k][c];
            for (r = 0; r < 3; r++)
                for (c = 0; c < 3; c++)
                    for (R[r][c] = 0, k = 0; k < 3; k++) R[r][c] += T[r][k] * (zyx ? Rx : Ry)[k][c];
            elx_identity(L);
            for (r = 0; r < 3; r++) {
                for (c = 0; c < 3; c++) L[r][c] = R[r][c];
                L[r][3] = r + 1.0;
            }
            elx_expect_lps(t, (const double(*)[4])L, 1e-15);
            mv_elastix_free(t);
        }
    }
    /* 2D similarity (scale, angle, tx, ty): z kept */
    snprintf(text, sizeof(text), "(Transform \"SimilarityTransform\")\n(NumberOfParameters 4)\n"
                                 "(TransformParameters 1.2 0.5 3 -4)\n(CenterOfRotationPoint 0 0)\n"
                                 "(FixedImageDimension 2)\n(MovingImageDimension 2)\n(Size 3 3)\n");
    REQUIRE_OK(mv_elastix_parse(text, &t, NULL));
    EXPECT_EQ_INT(mv_elastix_ndim(t), 2);
    elx_identity(L);
    L[0][0] = 1.2 * cos(0.5), L[0][1] = -1.2 * sin(0.5), L[1][0] = 1.2 * sin(0.5), L[1][1] = 1.2 * cos(0.5);
    L[0][3] = 3, L[1][3] = -4;
    elx_expect_lps(t, (const double(*)[4])L, 1e-15);
    mv_elastix_free(t);
    /* a chain through files: the affine above as the initial transform of a
       translation, named relative to the file naming it; Compose = T(T0(x)),
       Add = T0(x) + T(x) - x */
    {
        const char *dir = tu_path("elx");
        char p0[1024], p1[1024];
        int add;
        mkdir(dir, 0700);
        snprintf(p0, sizeof(p0), "%s/TransformParameters.0.txt", dir);
        snprintf(p1, sizeof(p1), "%s/TransformParameters.1.txt", dir);
        snprintf(text, sizeof(text), "(Transform \"AffineTransform\")\n(NumberOfParameters 12)\n"
                                     "(TransformParameters 1.1 0.1 0 -0.2 0.9 0.05 0 0 1.2 3 4 5)\n"
                                     "(CenterOfRotationPoint 0 0 0)\n%s", head);
        REQUIRE(tu_write_file(p0, text, strlen(text)));
        for (add = 0; add < 2; add++) {
            double A[4][4] = {{1.1, 0.1, 0, 3}, {-0.2, 0.9, 0.05, 4}, {0, 0, 1.2, 5}, {0, 0, 0, 1}};
            snprintf(text, sizeof(text), "(Transform \"TranslationTransform\")\n(NumberOfParameters 3)\n"
                                         "(TransformParameters 1 2 3)\n"
                                         "(InitialTransformParametersFileName \"TransformParameters.0.txt\")\n"
                                         "(HowToCombineTransforms \"%s\")\n(FixedImageDimension 3)\n(Size 2 2 2)\n",
                                         add ? "Add" : "Compose");
            REQUIRE(tu_write_file(p1, text, strlen(text)));
            REQUIRE_OK(mv_elastix_read(p1, &t, NULL));
            EXPECT_EQ_INT(mv_elastix_links(t), 2);
            memcpy(M, A, sizeof(M));
            /* Compose: translation after A; Add: A x + (x + t) - x = A x + t: the same matrix */
            M[0][3] += 1, M[1][3] += 2, M[2][3] += 3;
            elx_expect_lps(t, (const double(*)[4])M, 1e-14);
            mv_elastix_free(t);
        }
        /* Add differs from Compose once the later link is not a translation */
        snprintf(text, sizeof(text), "(Transform \"AffineTransform\")\n(NumberOfParameters 12)\n"
                                     "(TransformParameters 2 0 0 0 1 0 0 0 1 0 0 0)\n(CenterOfRotationPoint 0 0 0)\n"
                                     "(InitialTransformParametersFileName \"%s\")\n(HowToCombineTransforms \"Add\")\n"
                                     "(FixedImageDimension 3)\n(Size 2 2 2)\n", p0);
        REQUIRE(tu_write_file(p1, text, strlen(text)));
        REQUIRE_OK(mv_elastix_read(p1, &t, NULL));
        {
            double A[4][4] = {{1.1, 0.1, 0, 3}, {-0.2, 0.9, 0.05, 4}, {0, 0, 1.2, 5}, {0, 0, 0, 1}};
            memcpy(M, A, sizeof(M));
            M[0][0] += 1; /* A x + diag(2,1,1) x - x */
            elx_expect_lps(t, (const double(*)[4])M, 1e-14);
        }
        mv_elastix_free(t);
        /* a file naming itself: refused after MV_ELASTIX_MAX_CHAIN links */
        snprintf(text, sizeof(text), "(Transform \"TranslationTransform\")\n(TransformParameters 0 0 0)\n"
                                     "(InitialTransformParametersFileName \"%s\")\n(FixedImageDimension 3)\n", p1);
        REQUIRE(tu_write_file(p1, text, strlen(text)));
        EXPECT_STATUS(mv_elastix_read(p1, &t, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(t == NULL && strstr(mv_last_error(), "chain") != NULL);
        /* a missing initial file is named with the file that names it */
        snprintf(text, sizeof(text), "(Transform \"TranslationTransform\")\n(TransformParameters 0 0 0)\n"
                                     "(InitialTransformParametersFileName \"nowhere.txt\")\n(FixedImageDimension 3)\n");
        REQUIRE(tu_write_file(p1, text, strlen(text)));
        EXPECT_STATUS(mv_elastix_read(p1, &t, NULL), MV_ERR_NOT_FOUND);
        EXPECT(strstr(mv_last_error(), "nowhere.txt") != NULL && strstr(mv_last_error(), "TransformParameters.1.txt") != NULL);
        EXPECT_STATUS(mv_elastix_parse(text, &t, NULL), MV_ERR_UNSUPPORTED);
    }
    /* a cubic B-spline: one coefficient (x component, node (2,2,2) of a 5^3
       grid of spacing 1 at 0): d_x = 8 (2/3)^3 at the node, 8 (1/6)(2/3)^2
       one node away along x, 0 outside the valid region [1, 3) */
    {
        char *big = (char *)malloc(65536);
        size_t len;
        int i;
        REQUIRE(big != NULL);
        len = (size_t)snprintf(big, 65536, "(Transform \"BSplineTransform\")\n(NumberOfParameters 375)\n(TransformParameters");
        for (i = 0; i < 375; i++) len += (size_t)snprintf(big + len, 65536 - len, " %d", i == 62 ? 8 : 0);
        snprintf(big + len, 65536 - len, ")\n(FixedImageDimension 3)\n(GridSize 5 5 5)\n(GridSpacing 1 1 1)\n"
                                         "(GridOrigin 0 0 0)\n(BSplineTransformSplineOrder 3)\n");
        REQUIRE_OK(mv_elastix_parse(big, &t, NULL));
        EXPECT(!mv_elastix_is_linear(t));
        EXPECT_STATUS(mv_elastix_matrix(t, m), MV_ERR_UNSUPPORTED);
        {
            const double p1[3] = {-2, -2, 2}, p2[3] = {-1, -2, 2}, p3[3] = {-3.5, -2, 2}; /* RAS of LPS (2,2,2) ... */
            REQUIRE_OK(mv_elastix_point(t, p1, q));
            EXPECT_NEAR(q[0], -2 - 8.0 * 8 / 27, 1e-12); /* LPS +x is RAS -x */
            EXPECT_NEAR(q[1], -2, 0);
            REQUIRE_OK(mv_elastix_point(t, p2, q));
            EXPECT_NEAR(q[0], -1 - 8.0 / 6 * 4 / 9, 1e-12);
            REQUIRE_OK(mv_elastix_point(t, p3, q)); /* c_x = 3.5: outside */
            EXPECT_NEAR(q[0], -3.5, 0);
        }
        mv_elastix_free(t);
        /* cyclic, a count that does not fill the grid */
        EXPECT_STATUS(mv_elastix_parse("(Transform \"BSplineTransform\")\n(TransformParameters 0 0 0)\n(FixedImageDimension 3)\n"
                                       "(GridSize 1 1 1)\n(UseCyclicTransform \"true\")\n", &t, NULL),
                      MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "Cyclic") != NULL);
        EXPECT_STATUS(mv_elastix_parse("(Transform \"BSplineTransform\")\n(TransformParameters 0 0 0 0)\n"
                                       "(FixedImageDimension 3)\n(GridSize 1 1 1)\n", &t, NULL),
                      MV_ERR_BAD_DATA);
        EXPECT(strstr(mv_last_error(), "GridSize") != NULL);
        free(big);
    }
    /* refusals name the entry */
    EXPECT_STATUS(mv_elastix_parse("(Transform \"AffineDTITransform\")\n(TransformParameters 0)\n(FixedImageDimension 3)\n",
                                   &t, NULL), MV_ERR_UNSUPPORTED);
    EXPECT(t == NULL && strstr(mv_last_error(), "AffineDTITransform") != NULL);
    EXPECT_STATUS(mv_elastix_parse("(Transform \"TranslationTransform\")\n(NumberOfParameters 3)\n(TransformParameters 1 2)\n"
                                   "(FixedImageDimension 3)\n", &t, NULL), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "NumberOfParameters") != NULL);
    EXPECT_STATUS(mv_elastix_parse("(Transform \"TranslationTransform\")\n(TransformParameters 1 nan 2)\n"
                                   "(FixedImageDimension 3)\n", &t, NULL), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "TransformParameters") != NULL);
    EXPECT_STATUS(mv_elastix_parse("(TransformParameters 1 2 3)\n(FixedImageDimension 3)\n", &t, NULL), MV_ERR_BAD_HEADER);
    EXPECT_STATUS(mv_elastix_parse("(Transform \"TranslationTransform\")\n(TransformParameters 1 2 3)\n", &t, NULL),
                  MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "FixedImageDimension") != NULL);
    EXPECT_STATUS(mv_elastix_parse("// (Transform \"TranslationTransform\")\n", &t, NULL), MV_ERR_BAD_HEADER);
    EXPECT_STATUS(mv_elastix_parse("(Transform \"TranslationTransform\")\n(TransformParameters 1 2 3)\n(FixedImageDimension 3)\n"
                                   "(UseBinaryFormatForTransformationParameters \"true\")\n", &t, NULL), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "UseBinaryFormat") != NULL);
    EXPECT_STATUS(mv_elastix_parse(NULL, &t, NULL), MV_ERR_INVALID_ARG);
    /* the writer, read back: the same RAS matrix and the fixed grid */
    {
        mv_vol fx, f;
        int64_t dims[3] = {5, 6, 7};
        const double mr[4][4] = {{0.98, -0.17, 0.05, 3.5}, {0.17, 0.98, 0.02, -1}, {-0.05, 0, 1.1, 2}, {0, 0, 0, 1}};
        REQUIRE_OK(mv_vol_alloc(&fx, MV_DT_F32, 3, dims, NULL));
        fx.affine[0][0] = 0, fx.affine[0][1] = -1.5, fx.affine[1][0] = 1.2, fx.affine[1][1] = 0, fx.affine[2][2] = 2;
        fx.affine[0][3] = 7, fx.affine[1][3] = -8, fx.affine[2][3] = 9;
        REQUIRE_OK(mv_elastix_format(mr, &fx, MV_INTERP_LINEAR, buf, sizeof(buf)));
        EXPECT(strstr(buf, "(FinalBSplineInterpolationOrder 1)") != NULL);
        REQUIRE_OK(mv_elastix_parse(buf, &t, NULL));
        REQUIRE_OK(mv_elastix_matrix(t, m));
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++) EXPECT_NEAR(m[r][c], mr[r][c], 1e-14);
        mv_vol_init(&f);
        REQUIRE_OK(mv_elastix_field(t, NULL, &f, NULL));
        for (r = 0; r < 3; r++) {
            EXPECT_EQ_INT(f.dim[r], dims[r]);
            for (c = 0; c < 4; c++) EXPECT_NEAR(f.affine[r][c], fx.affine[r][c], 1e-14);
        }
        mv_free(&f);
        mv_elastix_free(t);
        EXPECT_STATUS(mv_elastix_format(mr, &fx, MV_INTERP_LINEAR, buf, 100), MV_ERR_BUFFER_TOO_SMALL);
        /* typed: each registration type's matrix (random parameters about a random centre, 3D and 2D; rigid
           also at ITK Euler3D's gimbal lock) written as elastix's kind and read back as the same matrix
           (transformix's reading of them: make test-diff-elastix's write) */
        {
            static const char *const kinds[4] = {"EulerTransform", "TranslationTransform", "SimilarityTransform",
                                                 "AffineTransform"};
            uint64_t rng = 99;
            int ty, nd, rep;
            for (nd = 2; nd <= 3; nd++) {
                fx.dim[2] = nd == 3 ? 7 : 1;
                for (ty = MV_TRANSFORM_RIGID; ty <= MV_TRANSFORM_AFFINE; ty++)
                    for (rep = 0; rep < 4; rep++) {
                        mv_transform tr;
                        double mt[4][4], cen[3];
                        int k;
                        for (k = 0; k < 3; k++) cen[k] = (tu_rand01(&rng) - 0.5) * 40;
                        if (nd == 2) cen[2] = 0;
                        REQUIRE_OK(mv_transform_init(&tr, (mv_transform_type)ty, nd, cen));
                        for (k = 0; k < tr.nparams; k++) tr.params[k] += (tu_rand01(&rng) - 0.5) * (k < 3 ? 6 : 20);
                        if (ty == MV_TRANSFORM_SIMILARITY) tr.params[nd == 3 ? 6 : 0] = 0.8 + 0.4 * tu_rand01(&rng);
                        if (ty == MV_TRANSFORM_AFFINE)
                            for (k = 0; k < nd * nd; k++) tr.params[k] = (k % (nd + 1) == 0) + (tu_rand01(&rng) - 0.5) * 0.4;
                        if (ty == MV_TRANSFORM_RIGID && nd == 3 && rep == 3) tr.params[0] = 1.5707963267948966;
                        REQUIRE_OK(mv_transform_matrix(&tr, mt));
                        REQUIRE_OK(mv_elastix_format_type((const double(*)[4])mt, (mv_transform_type)ty, &fx,
                                                          MV_INTERP_LINEAR, buf, sizeof(buf)));
                        EXPECT_MSG(strstr(buf, kinds[ty]) != NULL, "type %d %dD: %s expected", ty, nd, kinds[ty]);
                        REQUIRE_OK(mv_elastix_parse(buf, &t, NULL));
                        REQUIRE_OK(mv_elastix_matrix(t, m));
                        for (r = 0; r < 4; r++)
                            for (c = 0; c < 4; c++)
                                EXPECT_MSG(fabs(m[r][c] - mt[r][c]) <= 1e-12 * (c == 3 ? 30 : 1),
                                           "%s %dD rep %d: [%d][%d] %.17g read back, %.17g written", kinds[ty], nd,
                                           rep, r, c, m[r][c], mt[r][c]);
                        mv_elastix_free(t);
                    }
            }
            fx.dim[2] = 7; /* an affine matrix is no rotation, a rotation no translation */
            EXPECT_STATUS(mv_elastix_format_type(mr, MV_TRANSFORM_RIGID, &fx, MV_INTERP_LINEAR, buf, sizeof(buf)),
                          MV_ERR_INVALID_ARG);
            EXPECT(strstr(mv_last_error(), "scaled rotation") != NULL);
            {
                const double rot[4][4] = {{0, -1, 0, 1}, {1, 0, 0, 2}, {0, 0, 1, 3}, {0, 0, 0, 1}};
                EXPECT_STATUS(mv_elastix_format_type(rot, MV_TRANSFORM_TRANSLATION, &fx, MV_INTERP_LINEAR, buf,
                                                     sizeof(buf)), MV_ERR_INVALID_ARG);
                EXPECT(strstr(mv_last_error(), "pure translation") != NULL);
            }
        }
        fx.dim[2] = 1; /* a 2D fixed image: m must keep z */
        EXPECT_STATUS(mv_elastix_format(mr, &fx, MV_INTERP_LINEAR, buf, sizeof(buf)), MV_ERR_INVALID_ARG);
        mv_free(&fx);
    }
}

/* ITK's MATLAB .mat transform files, built byte by byte here (MATLAB level
   4: type, rows, columns, imaginary, name length, name, values): a
   TranslationTransform (LPS t -> RAS (-tx, -ty, tz)), the same affine in
   every byte order and precision, the writer's exact layout read back,
   refusals naming the fault. SimpleITK itself is the reference of
   tests/py/diff_sitk.py (files it writes, and re-encoded ones it reads). */
static size_t mat_var(unsigned char *out, const char *name, const double *v, int n, int big, int single)
{
    uint32_t head[5];
    size_t at = 0, nl = strlen(name) + 1;
    int i, b;
    head[0] = (uint32_t)(1000 * big + 10 * single), head[1] = (uint32_t)n, head[2] = 1, head[3] = 0, head[4] = (uint32_t)nl;
    for (i = 0; i < 5; i++)
        for (b = 0; b < 4; b++) out[at++] = (unsigned char)(head[i] >> (big ? 24 - 8 * b : 8 * b));
    memcpy(out + at, name, nl);
    at += nl;
    for (i = 0; i < n; i++) {
        unsigned char w[8];
        int width = single ? 4 : 8;
        if (single) {
            float f = (float)v[i];
            memcpy(w, &f, 4);
        } else {
            memcpy(w, &v[i], 8);
        }
        for (b = 0; b < width; b++) out[at++] = w[big ? width - 1 - b : b]; /* this machine is little-endian */
    }
    return at;
}

MV_TEST(register, itk_mat_files)
{
    static const double par[12] = {1.1, 0.1, 0, -0.2, 0.9, 0.05, 0, 0, 1.2, 3, 4, 5}, fix[3] = {1, -1, 2};
    static const double S[4] = {-1, -1, 1, 1};
    const double tr[3] = {1.5, -2, 0.25};
    unsigned char buf[1024];
    double m[4][4], L[4][4], back[4][4];
    size_t n, len = 0;
    int big, single, r, c;
    /* the translation: LPS (1.5, -2, 0.25) is RAS (-1.5, 2, 0.25) */
    n = mat_var(buf, "TranslationTransform_double_3_3", tr, 3, 0, 0);
    n += mat_var(buf + n, "fixed", fix, 0, 0, 0);
    REQUIRE_OK(mv_itk_mat_parse(buf, n, m));
    EXPECT_NEAR(m[0][3], -1.5, 0);
    EXPECT_NEAR(m[1][3], 2, 0);
    EXPECT_NEAR(m[2][3], 0.25, 0);
    EXPECT_NEAR(m[0][0] + m[1][1] + m[2][2], 3, 0);
    /* the affine about c: L = [A, t + c - A c] in LPS, then RAS = S L S */
    for (r = 0; r < 3; r++) {
        L[r][3] = par[9 + r] + fix[r];
        for (c = 0; c < 3; c++) L[r][c] = par[3 * r + c], L[r][3] -= par[3 * r + c] * fix[c];
    }
    for (big = 0; big < 2; big++)
        for (single = 0; single < 2; single++) {
            n = mat_var(buf, single ? "AffineTransform_float_3_3" : "AffineTransform_double_3_3", par, 12, big, single);
            n += mat_var(buf + n, "fixed", fix, 3, big, single);
            REQUIRE_OK(mv_itk_mat_parse(buf, n, m));
            for (r = 0; r < 3; r++)
                for (c = 0; c < 4; c++)
                    EXPECT_NEAR(m[r][c], S[r] * L[r][c] * S[c], single ? 2e-6 : 1e-14);
        }
    /* the writer: 193 bytes in 3D, read back (by content, through mv_itk_tfm_read too) */
    REQUIRE_OK(mv_itk_mat_format((const double(*)[4])m, 3, buf, sizeof(buf), &len));
    EXPECT_EQ_INT((int64_t)len, 193);
    EXPECT(memcmp(buf + 20, "AffineTransform_double_3_3", 27) == 0);
    REQUIRE_OK(mv_itk_mat_parse(buf, len, back));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) EXPECT_NEAR(back[r][c], m[r][c], 1e-15 * (1 + fabs(m[r][c])));
    REQUIRE_OK(mv_itk_mat_write(tu_path("t.mat"), (const double(*)[4])m, 3));
    REQUIRE_OK(mv_itk_tfm_read(tu_path("t.mat"), back));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) EXPECT_NEAR(back[r][c], m[r][c], 1e-15 * (1 + fabs(m[r][c])));
    EXPECT_STATUS(mv_itk_mat_format((const double(*)[4])m, 3, buf, 192, &len), MV_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ_INT((int64_t)len, 193);
    EXPECT_STATUS(mv_itk_mat_format((const double(*)[4])m, 2, buf, sizeof(buf), &len), MV_ERR_INVALID_ARG);
    /* refusals */
    n = mat_var(buf, "AffineTransform_double_3_3", par, 12, 0, 0);
    EXPECT_STATUS(mv_itk_mat_parse(buf, n - 1, m), MV_ERR_BAD_DATA); /* cut short */
    EXPECT(strstr(mv_last_error(), "ends first") != NULL);
    EXPECT_STATUS(mv_itk_mat_parse(buf, 12, m), MV_ERR_BAD_DATA);
    buf[0] = 2; /* type 2: not a full double or float matrix */
    EXPECT_STATUS(mv_itk_mat_parse(buf, n, m), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "type 2") != NULL);
    n = mat_var(buf, "AffineTransform_double_3_3", par, 11, 0, 0);
    EXPECT_STATUS(mv_itk_mat_parse(buf, n, m), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "11 parameters, 12 needed") != NULL);
    n = mat_var(buf, "CompositeTransform_double_3_3", par, 12, 0, 0);
    EXPECT_STATUS(mv_itk_mat_parse(buf, n, m), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "CompositeTransform") != NULL);
    n = mat_var(buf, "BSplineTransform_double_3_3", par, 12, 0, 0);
    EXPECT_STATUS(mv_itk_mat_parse(buf, n, m), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "BSplineTransform_double_3_3") != NULL);
    {
        double bad[12];
        memcpy(bad, par, sizeof(bad));
        bad[4] = NAN;
        n = mat_var(buf, "AffineTransform_double_3_3", bad, 12, 0, 0);
        EXPECT_STATUS(mv_itk_mat_parse(buf, n, m), MV_ERR_BAD_DATA);
        EXPECT(strstr(mv_last_error(), "not finite") != NULL);
    }
    n = mat_var(buf, "AffineTransform_double_3_3", par, 12, 0, 0);
    n += mat_var(buf + n, "centre", fix, 3, 0, 0);
    EXPECT_STATUS(mv_itk_mat_parse(buf, n, m), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "'centre'") != NULL);
}

/* ITK's HDF5 transform files: the files SimpleITK 2.5 (ITK 5.4: HDF5's
   latest format) and h5py (HDF5's earliest format: symbol-table groups, as
   ITK 4 wrote) wrote of AffineTransform_double_3_3 with parameters
   1 0.1 0 0 1 0 0 0 1 1 2 3 and centre 4 5 6 (kept as fuzz seeds): in
   LPS A = [1 .1 0; 0 1 0; 0 0 1], offset t + c - A c = (0.5, 2, 3), so
   RAS m = S L S has m[0][1] = 0.1, translation (-0.5, -2, 3). Then
   medvol's writer read back, the file whole, and damage. */
MV_TEST(register, itk_h5_files)
{
    static const char *const seeds[2] = {"tests/fuzz/corpus/h5/sitk_affine3d", "tests/fuzz/corpus/h5/h5py_earliest"};
    static const double want[4][4] = {{1, 0.1, 0, -0.5}, {0, 1, 0, -2}, {0, 0, 1, 3}, {0, 0, 0, 1}};
    unsigned char out[8192];
    double m[4][4], back[4][4];
    size_t n, len = 0, cut;
    int i, r, c, bad_ok = 1;
    for (i = 0; i < 2; i++) {
        unsigned char *file = tu_read_file(seeds[i], &n);
        REQUIRE(file != NULL);
        EXPECT_STATUS(mv_itk_h5_parse(file, n, m), MV_OK);
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++) EXPECT_MSG(m[r][c] == want[r][c], "%s: m[%d][%d] = %.17g", seeds[i], r, c, m[r][c]);
        REQUIRE_OK(mv_itk_tfm_read(seeds[i], back)); /* by content */
        EXPECT(memcmp(back, m, sizeof(m)) == 0);
        /* every cut of the file refused, none read past it (ASan) */
        for (cut = 0; cut < n; cut += 1 + cut / 64)
            bad_ok &= mv_itk_h5_parse(file, cut, back) != MV_OK;
        free(file);
    }
    EXPECT(bad_ok);
    /* the writer, read back (2D and 3D) */
    REQUIRE_OK(mv_itk_h5_format(want, 3, out, sizeof(out), &len));
    EXPECT(len > 4096 && len < 6144);
    REQUIRE_OK(mv_itk_h5_parse(out, len, m));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) EXPECT_MSG(m[r][c] == want[r][c], "written: m[%d][%d] = %.17g", r, c, m[r][c]);
    EXPECT_STATUS(mv_itk_h5_format(want, 3, out, len - 1, &n), MV_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ_INT((int64_t)n, (int64_t)len);
    EXPECT_STATUS(mv_itk_h5_format(want, 2, out, sizeof(out), &n), MV_ERR_INVALID_ARG); /* z moves */
    {
        const double flat[4][4] = {{0, -1, 0, 2}, {1, 0, 0, 3}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        REQUIRE_OK(mv_itk_h5_format(flat, 2, out, sizeof(out), &len));
        REQUIRE_OK(mv_itk_h5_parse(out, len, m));
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++) EXPECT_MSG(m[r][c] == flat[r][c], "2D m[%d][%d] = %g", r, c, m[r][c]);
        REQUIRE_OK(mv_itk_h5_write(tu_path("t.h5"), flat, 2));
        REQUIRE_OK(mv_itk_tfm_read(tu_path("t.h5"), back));
        EXPECT(memcmp(back, m, sizeof(m)) == 0);
    }
    /* damage: a byte of an object header (its checksum), of the
       superblock, the signature; refusals named */
    REQUIRE_OK(mv_itk_h5_format(want, 3, out, sizeof(out), &len));
    out[len - 20] ^= 1; /* in the root group's header */
    EXPECT_STATUS(mv_itk_h5_parse(out, len, m), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "mv_itk_h5_parse") && strstr(mv_last_error(), "checksum"));
    out[len - 20] ^= 1;
    out[20] ^= 1;
    EXPECT_STATUS(mv_itk_h5_parse(out, len, m), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "superblock") != NULL);
    out[20] ^= 1;
    out[8] = 4;
    EXPECT_STATUS(mv_itk_h5_parse(out, len, m), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "version 4") != NULL);
    out[0] = 'x';
    EXPECT_STATUS(mv_itk_h5_parse(out, len, m), MV_ERR_BAD_HEADER);
    EXPECT_STATUS(mv_itk_h5_parse(NULL, len, m), MV_ERR_INVALID_ARG);
    /* a composite [affine, displacement field] SimpleITK wrote: the affine
       parameters 1 .1 0 0 1 0 0 0 1 1 2 3 (centre 0), the field on a
       4 x 3 x 2 grid, spacing 1.5 2 3, origin 10 20 30 (LPS), direction
       rows (0 -.9553 .2955) (1 0 0) (0 .2955 .9553), its first vector the
       one numpy drew, (0.34558419, 0.82161814, 0.33043708) */
    {
        mv_vol f;
        unsigned char *file = tu_read_file("tests/fuzz/corpus/h5/sitk_composite_field", &n);
        REQUIRE(file != NULL);
        EXPECT_STATUS(mv_itk_h5_parse(file, n, m), MV_ERR_UNSUPPORTED); /* the matrix alone: the field refused */
        EXPECT(strstr(mv_last_error(), "DisplacementFieldTransform_double_3_3") != NULL);
        REQUIRE_OK(mv_itk_h5_parse_field(file, n, m, &f, NULL));
        free(file);
        EXPECT(m[0][1] == 0.1 && m[0][3] == -1 && m[1][3] == -2 && m[2][3] == 3);
        REQUIRE(f.data != NULL && f.ndim == 5 && f.dim[0] == 4 && f.dim[1] == 3 && f.dim[2] == 2 && f.dim[4] == 3);
        EXPECT_OK(mv_field_check(&f, NULL));
        EXPECT_NEAR(((const float *)f.data)[0], 0.34558419, 1e-7);
        EXPECT_NEAR(((const float *)f.data)[24], 0.82161814, 1e-7);
        EXPECT_NEAR(((const float *)f.data)[48], 0.33043708, 1e-7);
        /* RAS affine: LPS direction x spacing, x and y rows negated */
        EXPECT_NEAR(f.affine[0][0], 0, 1e-12);
        EXPECT_NEAR(f.affine[0][1], 0.95533649 * 2, 1e-7);
        EXPECT_NEAR(f.affine[1][0], -1.5, 1e-12);
        EXPECT_NEAR(f.affine[2][2], 0.95533649 * 3, 1e-7);
        EXPECT_NEAR(f.affine[0][3], -10, 0);
        EXPECT_NEAR(f.affine[1][3], -20, 0);
        EXPECT_NEAR(f.affine[2][3], 30, 0);
        mv_free(&f);
        /* a file without a field: the matrix, an empty field */
        REQUIRE_OK(mv_itk_h5_format(want, 3, out, sizeof(out), &len));
        REQUIRE_OK(mv_itk_h5_parse_field(out, len, m, &f, NULL));
        EXPECT(f.data == NULL && m[0][3] == -0.5);
    }
}

/* The compressed files ITK 5.4's own writer made (TransformFileWriter with
   UseCompression, as ANTs writes: deflate level 5 in chunks of 1 Mi
   values; tests/py/make_itk_h5_fixtures.py): the affine of itk_h5_files in
   one chunk, and a composite of that affine (centre 0) and a field of
   80 x 72 x 64 vectors (0.5 + 0.125 i [i == j == k], -0.25,
   1 - 0.0625 (k mod 2)) on spacing 1.5 2 2.5, origin (-10, 20, 5) LPS:
   1,105,920 values in two chunks (superblock 2, the chunks in a version 1
   B-tree: HDF5 1.8's format bounds). Every cut of the files
   is refused (the superblock's end-of-file address), and every changed
   byte of the affine's refused or read the same, but for the 24 bytes of
   its FixedParameters, which ITK stores uncompressed (h5dump -p: OFFSET
   8272): HDF5 keeps no checksum of raw data. Then the same affine in the
   chunks h5py made (tests/py/make_h5py_h5_seeds.py): a two-level B-tree
   of shuffled, deflated, checksummed chunks; a fixed array of big-endian
   ones; the implicit index of float32 ones. */
MV_TEST(register, itk_h5_compressed)
{
    static const double want[4][4] = {{1, 0.1, 0, -0.5}, {0, 1, 0, -2}, {0, 0, 1, 3}, {0, 0, 0, 1}};
    static const char *const h5py_seeds[3] = {"tests/fuzz/corpus/h5/h5py_earliest_btree_deflate",
                                              "tests/fuzz/corpus/h5/h5py_latest_farray_deflate",
                                              "tests/fuzz/corpus/h5/h5py_latest_implicit"};
    double m[4][4];
    size_t n, at, cut;
    int r, c, i, quiet_ok = 1, cut_ok = 1;
    mv_vol f;
    unsigned char *file;
    for (i = 0; i < 3; i++) {
        file = tu_read_file(h5py_seeds[i], &n);
        REQUIRE(file != NULL);
        REQUIRE_OK(mv_itk_h5_parse(file, n, m));
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++) /* the float32 seed: 0.1f, 5 x 0.1f off by 7.5e-9 */
                EXPECT_MSG(fabs(m[r][c] - want[r][c]) <= (i == 2 ? 1e-8 : 0), "%s: m[%d][%d] = %.17g", h5py_seeds[i], r,
                           c, m[r][c]);
        for (cut = 0; cut < n; cut += 1 + cut / 64) cut_ok &= mv_itk_h5_parse(file, cut, m) != MV_OK;
        free(file);
    }
    file = tu_read_file("tests/fuzz/corpus/h5/itk_affine_deflate", &n);
    REQUIRE(file != NULL);
    REQUIRE_OK(mv_itk_h5_parse(file, n, m));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) EXPECT_MSG(m[r][c] == want[r][c], "m[%d][%d] = %.17g", r, c, m[r][c]);
    for (cut = 0; cut < n; cut += 1 + cut / 64) cut_ok &= mv_itk_h5_parse(file, cut, m) != MV_OK;
    for (at = 0; at < n; at++) { /* one bit of each byte: refused, or (padding, names nobody reads) the same */
        file[at] ^= 0x10;
        if (mv_itk_h5_parse(file, n, m) == MV_OK && (at < 8272 || at >= 8296))
            for (r = 0; r < 4; r++)
                for (c = 0; c < 4; c++) quiet_ok &= m[r][c] == want[r][c];
        file[at] ^= 0x10;
    }
    EXPECT(cut_ok);
    EXPECT(quiet_ok);
    free(file);

    file = tu_read_file("tests/fuzz/corpus/h5/itk_composite_field_deflate", &n);
    REQUIRE(file != NULL);
    REQUIRE_OK(mv_itk_h5_parse_field(file, n, m, &f, NULL));
    EXPECT(m[0][1] == 0.1 && m[0][3] == -1 && m[1][3] == -2 && m[2][3] == 3);
    REQUIRE(f.data != NULL && f.dim[0] == 80 && f.dim[1] == 72 && f.dim[2] == 64 && f.dim[4] == 3);
    EXPECT(f.affine[0][0] == -1.5 && f.affine[1][1] == -2 && f.affine[2][2] == 2.5);
    EXPECT(f.affine[0][3] == 10 && f.affine[1][3] == -20 && f.affine[2][3] == 5);
    {
        const float *d = (const float *)f.data;
        int64_t x, y, z, v, bad = 0, nv = 80 * 72 * 64;
        for (z = 0; z < 64; z++)
            for (y = 0; y < 72; y++)
                for (x = 0; x < 80; x++) {
                    v = (z * 72 + y) * 80 + x;
                    bad += d[v] != 0.5f + (x == y && y == z ? 0.125f * (float)x : 0.0f) || d[nv + v] != -0.25f ||
                           d[2 * nv + v] != 1.0f - 0.0625f * (float)(z % 2);
                }
        EXPECT_EQ_INT(bad, 0);
        EXPECT(d[(63 * 72 + 63) * 80 + 63] == 0.5f + 0.125f * 63); /* in the second chunk */
    }
    mv_free(&f);
    for (cut = 1; cut < n; cut += n / 37) cut_ok &= mv_itk_h5_parse_field(file, n - cut, m, &f, NULL) != MV_OK;
    EXPECT(cut_ok);
    EXPECT_STATUS(mv_itk_h5_parse(file, n, m), MV_ERR_UNSUPPORTED); /* the matrix alone: the field named */
    EXPECT(strstr(mv_last_error(), "DisplacementFieldTransform_double_3_3") != NULL);
    free(file);
}

static int elx_write_tp(const char *path, const char *kind, const char *params, const char *init, int add,
                        const char *extra);

/* The threaded paths of the .h5 reader and writer at sizes split across
   threads (two 8 MiB chunks of ITK's composite fixture decoded at once; a
   27 MB field deflated three chunks a batch; a file of two grids of two
   chunks each), repeated, with 1, 2 and 4 threads: the same field read
   every time, the same file bytes written (make test-tsan runs this
   test). */
MV_TEST(register, itk_h5_threads)
{
    static const double m[4][4] = {{1, 0.1, 0, 2}, {0, 0.9, 0.05, -3}, {0.02, 0, 1.1, 1}, {0, 0, 0, 1}};
    static const int threads[3] = {1, 2, 4};
    int reps = tu_test_reps(2), rep, t, same_read = 1, same_file = 1;
    size_t n, nref = 0, nw = 0;
    unsigned char *file = tu_read_file("tests/fuzz/corpus/h5/itk_composite_field_deflate", &n), *wref = NULL, *w;
    double mb[4][4];
    mv_vol ref, f, g;
    int64_t i, nv;
    REQUIRE(file != NULL);
    mv_vol_init(&g);
    g.ndim = 3, g.dim[0] = 128, g.dim[1] = 100, g.dim[2] = 90;
    memset(g.affine, 0, sizeof(g.affine));
    g.affine[0][0] = g.affine[1][1] = g.affine[2][2] = g.affine[3][3] = 1;
    REQUIRE_OK(mv_field_alloc(&f, &g, 3, NULL));
    nv = f.dim[0] * f.dim[1] * f.dim[2] * 3;
    for (i = 0; i < nv; i++) ((float *)f.data)[i] = (float)((i * 7919) % 1000) * 0.25f - 7.0f;
    REQUIRE_OK(mv_set_threads(1));
    REQUIRE_OK(mv_itk_h5_parse_field(file, n, mb, &ref, NULL));
    nref = (size_t)mv_vol_bytes(&ref);
    REQUIRE_OK(mv_itk_h5_write_field(tu_path("thr.h5"), m, &f, 1));
    wref = tu_read_file(tu_path("thr.h5"), &nw);
    REQUIRE(wref != NULL);
    for (rep = 0; rep < reps; rep++)
        for (t = 0; t < 3; t++) {
            size_t nw2 = 0;
            mv_vol b;
            REQUIRE_OK(mv_set_threads(threads[t]));
            REQUIRE_OK(mv_itk_h5_parse_field(file, n, mb, &b, NULL));
            same_read &= (size_t)mv_vol_bytes(&b) == nref && memcmp(b.data, ref.data, nref) == 0;
            mv_free(&b);
            REQUIRE_OK(mv_itk_h5_write_field(tu_path("thr.h5"), m, &f, 1));
            w = tu_read_file(tu_path("thr.h5"), &nw2);
            REQUIRE(w != NULL);
            same_file &= nw2 == nw && memcmp(w, wref, nw) == 0;
            free(w);
        }
    REQUIRE_OK(mv_set_threads(0));
    EXPECT(same_read);
    EXPECT(same_file);
    REQUIRE_OK(mv_itk_h5_read_field(tu_path("thr.h5"), mb, &g, NULL)); /* and the file holds the field */
    EXPECT(memcmp(g.data, f.data, (size_t)nv * 4) == 0);
    mv_free(&g);
    /* two grids in one file (mv_itk_write_transform of an elastix chain of
       two fields, each of two chunks), deflated: the same bytes on 1, 2
       and 4 threads */
    {
        mv_elastix_transform *chain = NULL;
        const int64_t d2[3] = {80, 80, 64};
        char f1[1024], f2[1024], extra[1200];
        mv_vol h;
        int64_t nv2;
        mv_vol_init(&g);
        g.ndim = 3, g.dim[0] = d2[0], g.dim[1] = d2[1], g.dim[2] = d2[2];
        memset(g.affine, 0, sizeof(g.affine));
        g.affine[0][0] = g.affine[1][1] = g.affine[2][2] = g.affine[3][3] = 1;
        REQUIRE_OK(mv_field_alloc(&h, &g, 3, NULL));
        nv2 = d2[0] * d2[1] * d2[2] * 3;
        for (i = 0; i < nv2; i++) ((float *)h.data)[i] = (float)((i * 104729) % 997) * 0.125f - 60.0f;
        REQUIRE_OK(mv_field_save(tu_path("thr_grid.nii"), &h, NULL));
        mv_free(&h);
        snprintf(f1, sizeof(f1), "%s", tu_path("thr_f1.txt"));
        snprintf(f2, sizeof(f2), "%s", tu_path("thr_f2.txt"));
        snprintf(extra, sizeof(extra), "(DeformationFieldFileName \"%s\")\n(DeformationFieldInterpolationOrder 1)\n",
                 tu_path("thr_grid.nii"));
        REQUIRE(elx_write_tp(f1, "DeformationFieldTransform", "", NULL, 0, extra));
        REQUIRE(elx_write_tp(f2, "DeformationFieldTransform", "", f1, 0, extra));
        REQUIRE_OK(mv_elastix_read(f2, &chain, NULL));
        REQUIRE(mv_elastix_links(chain) == 2);
        free(wref);
        wref = NULL;
        for (t = 0; t < 3; t++) {
            size_t nw2 = 0;
            REQUIRE_OK(mv_set_threads(threads[t]));
            REQUIRE_OK(mv_itk_write_transform(tu_path("thr2.h5"), chain, 1));
            w = tu_read_file(tu_path("thr2.h5"), &nw2);
            REQUIRE(w != NULL);
            if (!wref) {
                wref = w, nw = nw2;
                continue;
            }
            EXPECT_MSG(nw2 == nw && memcmp(w, wref, nw) == 0, "two grids deflated on %d threads: other bytes", threads[t]);
            free(w);
        }
        REQUIRE_OK(mv_set_threads(0));
        mv_elastix_free(chain);
    }
    mv_free(&f);
    mv_free(&ref);
    free(wref);
    free(file);
}

/* mv_itk_h5_write_field read back by mv_itk_h5_read_field, uncompressed
   and deflated in chunks (level 5, as ITK): the field bit for bit, its grid (1e-12; a 2D grid's z spacing, which ITK's 2D grid
   lacks, read back as 1), the matrix exactly, alone and after a matrix,
   3D and 2D; the refusals. SimpleITK reads these files in diff_sitk's
   h5_field_mv. */
MV_TEST(register, itk_h5_write_field)
{
    static const double m[4][4] = {{1, 0.1, 0, 2}, {0, 0.9, 0.05, -3}, {0.02, 0, 1.1, 1}, {0, 0, 0, 1}};
    static const double m2[4][4] = {{0.8, -0.6, 0, 4}, {0.6, 0.8, 0, -1}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    mv_vol g, f, back;
    double mb[4][4];
    int64_t i, n;
    int r, c, pass, bad;
    for (pass = 0; pass < 4; pass++) { /* 3D after m, 3D alone, 2D after m2, 2D alone */
        int two = pass >= 2;
        const double(*mm)[4] = pass == 0 ? m : pass == 2 ? m2 : NULL;
        mv_vol_init(&g);
        g.ndim = 3, g.dim[0] = 7, g.dim[1] = 5, g.dim[2] = two ? 1 : 4;
        memset(g.affine, 0, sizeof(g.affine));
        g.affine[0][0] = -1.5, g.affine[1][1] = 0.8, g.affine[1][0] = 0.3, g.affine[2][2] = 2.5, g.affine[3][3] = 1;
        g.affine[0][3] = 10, g.affine[1][3] = -20, g.affine[2][3] = two ? 0 : 5;
        REQUIRE_OK(mv_field_alloc(&f, &g, two ? 2 : 3, NULL));
        n = f.dim[0] * f.dim[1] * f.dim[2] * f.dim[4];
        for (i = 0; i < n; i++) ((float *)f.data)[i] = (float)(0.37 * (double)i - 11.1);
        REQUIRE_OK(mv_itk_h5_write_field(tu_path("wf.h5"), mm, &f, pass % 2 ? 0 : 5));
        REQUIRE_OK(mv_itk_h5_read_field(tu_path("wf.h5"), mb, &back, NULL));
        REQUIRE(back.data != NULL && back.dim[4] == f.dim[4] && back.dim[0] == 7 && back.dim[1] == 5 &&
                back.dim[2] == f.dim[2]);
        EXPECT(memcmp(back.data, f.data, (size_t)n * 4) == 0);
        bad = 0;
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++) {
                bad += mb[r][c] != (mm ? mm[r][c] : r == c ? 1.0 : 0.0);
                /* (a 2D grid's z spacing is not ITK's: read back as 1) */
                bad += fabs(back.affine[r][c] - (two && r == 2 && c == 2 ? 1.0 : f.affine[r][c])) > 1e-12;
            }
        EXPECT_MSG(bad == 0, "pass %d: %d matrix or grid entries differ", pass, bad);
        mv_free(&back);
        mv_free(&f);
    }
    /* three chunks of ITK's 1 Mi values, the last padded (as HDF5 keeps chunks whole) */
    mv_vol_init(&g);
    g.ndim = 3, g.dim[0] = 128, g.dim[1] = 100, g.dim[2] = 90;
    memset(g.affine, 0, sizeof(g.affine));
    g.affine[0][0] = g.affine[1][1] = g.affine[2][2] = g.affine[3][3] = 1;
    REQUIRE_OK(mv_field_alloc(&f, &g, 3, NULL));
    n = f.dim[0] * f.dim[1] * f.dim[2] * 3;
    for (i = 0; i < n; i++) ((float *)f.data)[i] = (float)((i * 7919) % 1000) * 0.25f;
    REQUIRE_OK(mv_itk_h5_write_field(tu_path("wf3.h5"), m, &f, 1));
    REQUIRE_OK(mv_itk_h5_read_field(tu_path("wf3.h5"), mb, &back, NULL));
    REQUIRE(back.data != NULL && back.dim[0] == 128 && back.dim[2] == 90);
    EXPECT(memcmp(back.data, f.data, (size_t)n * 4) == 0 && mb[0][1] == 0.1);
    mv_free(&back);
    mv_free(&f);
    /* refused: a 2D field whose grid mixes z in, a matrix moving z with a 2D field, not a field */
    g.dim[2] = 1, g.affine[2][0] = 0.1;
    REQUIRE_OK(mv_field_alloc(&f, &g, 2, NULL));
    EXPECT_STATUS(mv_itk_h5_write_field(tu_path("wf2.h5"), NULL, &f, 0), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "mixes z") != NULL);
    f.affine[2][0] = 0;
    EXPECT_STATUS(mv_itk_h5_write_field(tu_path("wf2.h5"), m, &f, 5), MV_ERR_INVALID_ARG);
    mv_free(&f);
    {
        FILE *none = fopen(tu_path("wf2.h5"), "rb"); /* nothing half-written */
        EXPECT(none == NULL);
        if (none) fclose(none);
    }
    EXPECT_STATUS(mv_itk_h5_write_field(tu_path("wf2.h5"), NULL, NULL, 0), MV_ERR_INVALID_ARG);
    mv_vol_init(&f);
    EXPECT_STATUS(mv_itk_h5_write_field(tu_path("wf2.h5"), NULL, &f, 0), MV_ERR_INVALID_ARG);
    REQUIRE_OK(mv_field_alloc(&f, &g, 2, NULL));
    EXPECT_STATUS(mv_itk_h5_write_field(tu_path("wf2.h5"), NULL, &f, 10), MV_ERR_INVALID_ARG); /* levels 0-9 */
    mv_free(&f);
}

/* transformix's point files and outputpoints.txt, worked out by hand: a
   translation (1.5, -2, 0.25) on the grid Size 4 5 6, Spacing 2 1 1,
   Origin 10 20 30 (all LPS). Indices round half up (itk::Math::Round: -0.5
   -> 0), Deformation is T(p) - p, OutputIndexMoving uses the moving image's
   own grid. transformix itself is the reference of diff_elastix's points
   family. */
MV_TEST(register, elastix_points)
{
    static const char *tp = "(Transform \"TranslationTransform\")\n(NumberOfParameters 3)\n(TransformParameters 1.5 -2 0.25)\n"
                            "(FixedImageDimension 3)\n(MovingImageDimension 3)\n(Size 4 5 6)\n(Spacing 2 1 1)\n"
                            "(Origin 10 20 30)\n";
    static const char *want_pt =
        "Point\t0\t; InputIndex = [ 1 0 1 ]\t; InputPoint = [ 11.000000 20.400000 30.500000 ]\t; OutputIndexFixed = [ 1 -2 1 ]"
        "\t; OutputPoint = [ 12.500000 18.400000 30.750000 ]\t; Deformation = [ 1.500000 -2.000000 0.250000 ]\n"
        "Point\t1\t; InputIndex = [ 2 1 0 ]\t; InputPoint = [ 13.000000 21.000000 29.500000 ]\t; OutputIndexFixed = [ 2 -1 0 ]"
        "\t; OutputPoint = [ 14.500000 19.000000 29.750000 ]\t; Deformation = [ 1.500000 -2.000000 0.250000 ]\n";
    /* indices (1, 2, 3) and (-0.5, 4.5, 0) -> (0, 5, 0); the moving grid: LPS diag(1, 1, 2), origin (5, 6, 7) */
    static const char *want_ix =
        "Point\t0\t; InputIndex = [ 1 2 3 ]\t; InputPoint = [ 12.000000 22.000000 33.000000 ]\t; OutputIndexFixed = [ 2 0 3 ]"
        "\t; OutputPoint = [ 13.500000 20.000000 33.250000 ]\t; Deformation = [ 1.500000 -2.000000 0.250000 ]"
        "\t; OutputIndexMoving = [ 9 14 13 ]\n"
        "Point\t1\t; InputIndex = [ 0 5 0 ]\t; InputPoint = [ 10.000000 25.000000 30.000000 ]\t; OutputIndexFixed = [ 1 3 0 ]"
        "\t; OutputPoint = [ 11.500000 23.000000 30.250000 ]\t; Deformation = [ 1.500000 -2.000000 0.250000 ]"
        "\t; OutputIndexMoving = [ 7 17 12 ]\n";
    static const struct {
        const char *text, *says;
    } bad[] = {{" \n", "empty"},
               {"points 1 1 2 3", "'points'"},
               {"point", "no count"},
               {"point -1", "'-1'"},
               {"index 2.5 1 2 3", "'2.5'"},
               {"point 3\n1 2 3\n4 5 6\n", "point 2 of 3"},
               {"point 1\n1 2 x3", "'x3'"},
               {"point 1 1 2 nan", "'nan'"},
               {"point 1 1 2 1e999", "'1e999'"},
               {"point 100000000000 1 2 3", "cannot fit"}};
    mv_elastix_transform *t = NULL;
    mv_elastix_points pts;
    mv_vol mo;
    char buf[2048], back[2048];
    size_t len = 0;
    int i;
    REQUIRE_OK(mv_elastix_parse(tp, &t, NULL));
    REQUIRE_OK(mv_elastix_points_parse("point\n2\n11 20.4 30.5\n13 21 29.5\n", 3, &pts, NULL));
    EXPECT_EQ_INT(pts.count, 2);
    EXPECT_EQ_INT(pts.are_indices, 0);
    REQUIRE_OK(mv_elastix_points_format(t, &pts, NULL, buf, sizeof(buf), &len));
    EXPECT_EQ_STR(buf, want_pt);
    EXPECT_EQ_INT((int64_t)len, (int64_t)strlen(want_pt) + 1);
    /* the size protocol: NULL or too small -> the size, an empty string */
    EXPECT_STATUS(mv_elastix_points_format(t, &pts, NULL, NULL, 0, &len), MV_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ_INT((int64_t)len, (int64_t)strlen(want_pt) + 1);
    memset(back, 'x', sizeof(back));
    EXPECT_STATUS(mv_elastix_points_format(t, &pts, NULL, back, len - 1, &len), MV_ERR_BUFFER_TOO_SMALL);
    EXPECT(back[0] == 0);
    REQUIRE_OK(mv_elastix_points_format(t, &pts, NULL, back, len, &len));
    EXPECT_EQ_STR(back, want_pt);
    mv_elastix_points_free(&pts);
    /* a bare count means indices; values round half up */
    mv_vol_init(&mo);
    mo.ndim = 3;
    mo.dim[0] = mo.dim[1] = mo.dim[2] = 8;
    memset(mo.affine, 0, sizeof(mo.affine));
    mo.affine[0][0] = -1, mo.affine[1][1] = -1, mo.affine[2][2] = 2, mo.affine[3][3] = 1;
    mo.affine[0][3] = -5, mo.affine[1][3] = -6, mo.affine[2][3] = 7;
    REQUIRE_OK(mv_elastix_points_parse("2 1 2 3\t-0.5 4.5 0 // trailing words are ignored", 3, &pts, NULL));
    EXPECT_EQ_INT(pts.are_indices, 1);
    REQUIRE_OK(mv_elastix_points_format(t, &pts, &mo, buf, sizeof(buf), &len));
    EXPECT_EQ_STR(buf, want_ix);
    /* files: written whole, read back */
    REQUIRE_OK(mv_elastix_points_write(tu_path("outputpoints.txt"), t, &pts, &mo));
    {
        FILE *f = fopen(tu_path("outputpoints.txt"), "rb");
        size_t n;
        REQUIRE(f != NULL);
        n = fread(back, 1, sizeof(back) - 1, f);
        fclose(f);
        back[n] = 0;
        EXPECT_EQ_STR(back, want_ix);
    }
    mv_elastix_points_free(&pts);
    {
        FILE *f = fopen(tu_path("pts.txt"), "wb");
        REQUIRE(f != NULL);
        fputs("index\n1\n3 4 5\n", f);
        fclose(f);
    }
    REQUIRE_OK(mv_elastix_points_read(tu_path("pts.txt"), 3, &pts, NULL));
    EXPECT_EQ_INT(pts.count, 1);
    EXPECT_NEAR(pts.p[2], 5, 0);
    /* wrong arguments */
    EXPECT_STATUS(mv_elastix_points_format(t, &pts, NULL, buf, sizeof(buf), NULL), MV_ERR_INVALID_ARG);
    pts.ndim = 2;
    EXPECT_STATUS(mv_elastix_points_format(t, &pts, NULL, buf, sizeof(buf), &len), MV_ERR_INVALID_ARG);
    mv_elastix_points_free(&pts);
    EXPECT_STATUS(mv_elastix_points_parse("point 1 1 2 3", 4, &pts, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_elastix_points_read(tu_path("no_such_points.txt"), 3, &pts, NULL), MV_ERR_NOT_FOUND);
    EXPECT(strstr(mv_last_error(), "no_such_points.txt") != NULL);
    /* a point far off every grid: refused, not a wrapped index */
    REQUIRE_OK(mv_elastix_points_parse("point 1 1e300 0 0", 3, &pts, NULL));
    EXPECT_STATUS(mv_elastix_points_format(t, &pts, NULL, buf, sizeof(buf), &len), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "point 0") != NULL);
    mv_elastix_points_free(&pts);
    /* malformed files, each named */
    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        EXPECT_STATUS(mv_elastix_points_parse(bad[i].text, 3, &pts, NULL), MV_ERR_BAD_DATA);
        EXPECT_MSG(strstr(mv_last_error(), bad[i].says) != NULL, "%s: %s", bad[i].text, mv_last_error());
        EXPECT(pts.p == NULL && pts.count == 0);
    }
    /* a 2D transform refuses a 3D moving grid */
    mv_elastix_free(t);
    REQUIRE_OK(mv_elastix_parse("(Transform \"TranslationTransform\")\n(NumberOfParameters 2)\n(TransformParameters 1 2)\n"
                                "(FixedImageDimension 2)\n(MovingImageDimension 2)\n(Size 4 5)\n",
                                &t, NULL));
    REQUIRE_OK(mv_elastix_points_parse("point 1 1 2", 2, &pts, NULL));
    EXPECT_STATUS(mv_elastix_points_format(t, &pts, &mo, buf, sizeof(buf), &len), MV_ERR_INVALID_ARG);
    REQUIRE_OK(mv_elastix_points_format(t, &pts, NULL, buf, sizeof(buf), &len));
    EXPECT_EQ_STR(buf, "Point\t0\t; InputIndex = [ 1 2 ]\t; InputPoint = [ 1.000000 2.000000 ]\t; OutputIndexFixed = [ 2 4 ]"
                       "\t; OutputPoint = [ 2.000000 4.000000 ]\t; Deformation = [ 1.000000 2.000000 ]\n");
    mv_elastix_points_free(&pts);
    mv_elastix_free(t);
}

/* transformix -def mesh.vtk (mv_elastix_vtk_*), worked out by hand: the
   translation (1.5, -2, 0.25) moves each point; the bytes before POINTS
   and after the coordinates are the input's; float points are read as
   floats (0.1f, not 0.1); numbers print as the shortest of %.15g-%.17g
   that reads back (so 0.1f + 1.5 = 1.6000000014901161); BINARY in, BINARY
   out (big-endian doubles); a 2D transform keeps z. transformix itself is
   the reference of diff_elastix's points family (its VTK cases). */
static void vtk_be_doubles(const unsigned char *b, double *v, int n)
{
    int i, k;
    for (i = 0; i < n; i++) {
        uint64_t u = 0;
        for (k = 0; k < 8; k++) u = u << 8 | b[8 * i + k];
        memcpy(&v[i], &u, 8);
    }
}

MV_TEST(register, elastix_vtk_points)
{
    static const char *tp = "(Transform \"TranslationTransform\")\n(NumberOfParameters 3)\n(TransformParameters 1.5 -2 0.25)\n"
                            "(FixedImageDimension 3)\n(MovingImageDimension 3)\n(Size 4 5 6)\n";
    static const char *in = "# vtk DataFile Version 3.0\nlandmarks\nASCII\n\nDATASET POLYDATA\nPOINTS 2 float\n"
                            "0.1 2 3\n-4 5e1 0.25\nLINES 1 3\n2 0 1\nPOINT_DATA 2\nSCALARS d float 1\n"
                            "LOOKUP_TABLE default\n7 8\n";
    static const char *want = "# vtk DataFile Version 3.0\nlandmarks\nASCII\n\nDATASET POLYDATA\nPOINTS 2 double\n"
                              "1.6000000014901161 0 3.25\n-2.5 48 0.5\nLINES 1 3\n2 0 1\nPOINT_DATA 2\n"
                              "SCALARS d float 1\nLOOKUP_TABLE default\n7 8\n";
    static const struct {
        const char *text;
        mv_status st;
        const char *says;
    } bad[] = {{"# vtk DataFile\nx\nASCII\nDATASET POLYDATA\nPOINTS 0 float\n", MV_ERR_BAD_DATA, "line 1"},
               {"# vtk DataFile Version 2.0\nx\n", MV_ERR_BAD_DATA, "line 3"},
               {"# vtk DataFile Version 2.0\nx\nTEXT\nDATASET POLYDATA\n", MV_ERR_BAD_DATA, "ASCII or BINARY"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET UNSTRUCTURED_GRID\nPOINTS 1 float\n1 2 3\n",
                MV_ERR_UNSUPPORTED, "UNSTRUCTURED_GRID"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nFIELD FieldData 0\nPOINTS 1 float\n1 2 3\n",
                MV_ERR_UNSUPPORTED, "FIELD before POINTS"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 1 int\n1 2 3\n", MV_ERR_UNSUPPORTED, "int"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS -1 float\n", MV_ERR_BAD_DATA, "'-1'"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 9 float\n1 2 3\n", MV_ERR_BAD_DATA,
                "cannot fit"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 2 float\n1 2 3 4 5      \n", MV_ERR_BAD_DATA,
                "ends at point 1 of 2 (coordinate 2)"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 1 float\n1 nan 3\n", MV_ERR_BAD_DATA,
                "'nan'"},
               {"# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 1 float\n1 1e39 3\n", MV_ERR_BAD_DATA,
                "finite float"},
               {"# vtk DataFile Version 2.0\nx\nBINARY\nDATASET POLYDATA\nPOINTS 1 double\n\1\2\3", MV_ERR_BAD_DATA,
                "bytes of data"},
               {"# vtk DataFile Version 2.0\nx\nBINARY\nDATASET POLYDATA\nPOINTS 1 double", MV_ERR_BAD_DATA,
                "no line break"}};
    mv_elastix_transform *t = NULL;
    unsigned char buf[1024], bin[256];
    size_t len = 0, n, i;
    REQUIRE_OK(mv_elastix_parse(tp, &t, NULL));
    /* ASCII, the size protocol */
    EXPECT_STATUS(mv_elastix_vtk_format(t, in, strlen(in), NULL, 0, &len), MV_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ_INT((int64_t)len, (int64_t)strlen(want));
    EXPECT_STATUS(mv_elastix_vtk_format(t, in, strlen(in), buf, len - 1, &len), MV_ERR_BUFFER_TOO_SMALL);
    REQUIRE_OK(mv_elastix_vtk_format(t, in, strlen(in), buf, len, &len));
    buf[len] = 0;
    EXPECT_EQ_STR((const char *)buf, want);
    /* BINARY: big-endian doubles in, big-endian doubles out, cells after them as they are */
    {
        static const char head[] = "# vtk DataFile Version 3.0\nb\nBINARY\nDATASET POLYDATA\nPOINTS 2 double\n";
        static const unsigned char cells[] = {'\n', 'V', 'E', 'R', 'T', 'I', 'C', 'E', 'S', ' ', '1', ' ', '2', '\n',
                                              0,    0,   0,   1,   0,   0,   0,   1,   '\n'};
        const double p[6] = {1, 2, 3, -10.5, 0.125, 1e-3}, q[6] = {2.5, 0, 3.25, -9, -1.875, 0.251};
        double got[6];
        n = sizeof(head) - 1;
        memcpy(bin, head, n);
        for (i = 0; i < 6; i++) {
            uint64_t u;
            int k;
            memcpy(&u, &p[i], 8);
            for (k = 0; k < 8; k++) bin[n++] = (unsigned char)(u >> (56 - 8 * k));
        }
        memcpy(bin + n, cells, sizeof(cells));
        n += sizeof(cells);
        REQUIRE_OK(mv_elastix_vtk_format(t, bin, n, buf, sizeof(buf), &len));
        EXPECT_EQ_INT((int64_t)len, (int64_t)n);
        EXPECT(memcmp(buf, head, sizeof(head) - 1) == 0);
        vtk_be_doubles(buf + sizeof(head) - 1, got, 6);
        for (i = 0; i < 6; i++) EXPECT_NEAR(got[i], q[i], 1e-15);
        EXPECT(memcmp(buf + len - sizeof(cells), cells, sizeof(cells)) == 0);
        /* BINARY float: 4 bytes a value in, 8 out */
        {
            static const char fhead[] = "# vtk DataFile Version 3.0\nb\nBINARY\nDATASET POLYDATA\nPOINTS 1 float\n";
            const float f[3] = {0.1f, -2, 8};
            n = sizeof(fhead) - 1;
            memcpy(bin, fhead, n);
            for (i = 0; i < 3; i++) {
                uint32_t u;
                int k;
                memcpy(&u, &f[i], 4);
                for (k = 0; k < 4; k++) bin[n++] = (unsigned char)(u >> (24 - 8 * k));
            }
        }
        bin[n++] = '\n';
        REQUIRE_OK(mv_elastix_vtk_format(t, bin, n, buf, sizeof(buf), &len));
        EXPECT_EQ_INT((int64_t)len, 53 + 16 + 24 + 1); /* the header to POINTS, its line, 3 doubles, the \n after */
        EXPECT(memcmp(buf + 53, "POINTS 1 double\n", 16) == 0);
        vtk_be_doubles(buf + 69, got, 3);
        EXPECT(got[0] == (double)0.1f + 1.5 && got[1] == -4 && got[2] == 8.25);
    }
    /* files: written whole; no points; keywords in any case */
    {
        static const char *none = "# vtk DataFile Version 2.0\nempty\nascii\ndataset polydata\npoints 0 Float\n";
        FILE *f = fopen(tu_path("mesh.vtk"), "wb");
        REQUIRE(f != NULL);
        fputs(in, f);
        fclose(f);
        REQUIRE_OK(mv_elastix_vtk_write(tu_path("outputpoints.vtk"), t, tu_path("mesh.vtk")));
        f = fopen(tu_path("outputpoints.vtk"), "rb");
        REQUIRE(f != NULL);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        EXPECT_EQ_STR((const char *)buf, want);
        REQUIRE_OK(mv_elastix_vtk_format(t, none, strlen(none), buf, sizeof(buf), &len));
        buf[len] = 0;
        EXPECT_EQ_STR((const char *)buf, "# vtk DataFile Version 2.0\nempty\nascii\ndataset polydata\nPOINTS 0 double\n");
        EXPECT_STATUS(mv_elastix_vtk_write(tu_path("out2.vtk"), t, tu_path("no_such_mesh.vtk")), MV_ERR_NOT_FOUND);
        EXPECT(strstr(mv_last_error(), "no_such_mesh.vtk") != NULL);
        f = fopen(tu_path("bad.vtk"), "wb");
        REQUIRE(f != NULL);
        fputs(bad[3].text, f);
        fclose(f);
        EXPECT_STATUS(mv_elastix_vtk_write(tu_path("out2.vtk"), t, tu_path("bad.vtk")), MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "bad.vtk") != NULL);
        f = fopen(tu_path("out2.vtk"), "rb");
        EXPECT(f == NULL); /* nothing half-written */
        if (f) fclose(f);
    }
    /* malformed files, each named */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = strlen(bad[i].text);
        EXPECT_STATUS(mv_elastix_vtk_format(t, bad[i].text, n, buf, sizeof(buf), &len), bad[i].st);
        EXPECT_MSG(strstr(mv_last_error(), bad[i].says) != NULL, "%s: %s", bad[i].text, mv_last_error());
    }
    EXPECT_STATUS(mv_elastix_vtk_format(t, in, strlen(in), buf, sizeof(buf), NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_elastix_vtk_format(NULL, in, strlen(in), buf, sizeof(buf), &len), MV_ERR_INVALID_ARG);
    /* 2D: x and y move, z stays */
    mv_elastix_free(t);
    REQUIRE_OK(mv_elastix_parse("(Transform \"TranslationTransform\")\n(NumberOfParameters 2)\n(TransformParameters 1 2)\n"
                                "(FixedImageDimension 2)\n(MovingImageDimension 2)\n(Size 4 5)\n",
                                &t, NULL));
    {
        static const char *in2 = "# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 1 double\n1 2 7\n";
        REQUIRE_OK(mv_elastix_vtk_format(t, in2, strlen(in2), buf, sizeof(buf), &len));
        buf[len] = 0;
        EXPECT_EQ_STR((const char *)buf, "# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 1 double\n2 4 7\n");
    }
    { /* the input ends in the middle of the count, with no terminator after it: read to its
         end and no further (libFuzzer found strtoll reading on; ASan watches the copy's edge) */
        static const char cut[] = "# vtk DataFile Version 2.0\nx\nASCII\nDATASET POLYDATA\nPOINTS 12";
        char *in3 = (char *)malloc(sizeof(cut) - 1);
        REQUIRE(in3 != NULL);
        memcpy(in3, cut, sizeof(cut) - 1);
        EXPECT_STATUS(mv_elastix_vtk_format(t, in3, sizeof(cut) - 1, buf, sizeof(buf), &len), MV_ERR_BAD_DATA);
        EXPECT(strstr(mv_last_error(), "POINTS 12 without a type") != NULL);
        free(in3);
    }
    mv_elastix_free(t);
}

/* mv_elastix_write_bspline read back by mv_elastix_read (whose evaluation
   tests/py/diff_elastix.py checks against transformix) equals
   mv_bspline_field on the whole fixed grid, its end intervals included:
   the grid is moved half a spacing so the first voxels fall in the first
   control interval, which mv_bspline extrapolates (clamped taps) and
   elastix would zero without the written grid's padding; 17 voxels on 4
   intervals of 4 put the last voxel on the grid's last knot. With a
   matrix the chain is the affine after the B-spline. */
/* elastix's DeformationFieldTransform: a field file (LPS vectors d(i) = cst
   + B i at grid index i, linear: order 1 gives them back exactly inside)
   named beside the parameter file; order 1 and order 0 (nearest, half
   indices rounded up), the buffer's bounds, an initial translation
   composed, refusals */
MV_TEST(register, elastix_field_files)
{
    static const double cst[3] = {1.5, -0.5, 2}, B[3][3] = {{0.25, -1, 0.5}, {2, 0.125, -0.75}, {-0.5, 0.375, 1}};
    static const double cs[][3] = {{0, 0, 0},     {3, 2, 1},     {1.25, 0.5, 0.75}, {2.5, 1.5, 0.5}, {-0.5, 1, 0.5},
                                   {-0.25, 2.25, 1.25}, {3.5, 1, 0}, {1, 2.5, 0},      {1, 1, 1.5},    {0.5, 0.5, 0.5}};
    const int64_t dims[3] = {4, 3, 2};
    mv_vol grid, f;
    mv_elastix_transform *t = NULL;
    char tp[1024], text[2048], lin[1024];
    const char *common = "(FixedImageDimension 3)\n(MovingImageDimension 3)\n(Size 4 3 2)\n(Spacing 2 0.5 4)\n"
                         "(Origin -10 5 2)\n(Direction 1 0 0 0 1 0 0 0 1)\n";
    int64_t v;
    int order, i, a, b;
    double m[4][4], p[3], q[3];
    REQUIRE_OK(mv_vol_alloc(&grid, MV_DT_U8, 3, dims, NULL));
    memset(grid.affine, 0, sizeof(grid.affine));
    grid.affine[0][0] = -2, grid.affine[1][1] = -0.5, grid.affine[2][2] = 4, grid.affine[3][3] = 1; /* LPS: +2, +0.5, +4 */
    grid.affine[0][3] = 10, grid.affine[1][3] = -5, grid.affine[2][3] = 2;                           /* LPS origin -10, 5, 2 */
    grid.spacing[0] = 2, grid.spacing[1] = 0.5, grid.spacing[2] = 4;
    REQUIRE_OK(mv_field_alloc(&f, &grid, 3, NULL));
    for (v = 0; v < 24; v++) {
        const double idx[3] = {(double)(v % 4), (double)(v / 4 % 3), (double)(v / 12)};
        for (a = 0; a < 3; a++) {
            double d = cst[a];
            for (b = 0; b < 3; b++) d += B[a][b] * idx[b];
            ((float *)f.data)[a * 24 + v] = (float)d;
        }
    }
    REQUIRE_OK(mv_field_save(tu_path("elx_defield.nii"), &f, NULL));
    snprintf(tp, sizeof(tp), "%s", tu_path("elx_defield_tp.txt"));
    for (order = 0; order <= 1; order++) {
        snprintf(text, sizeof(text), "(Transform \"DeformationFieldTransform\")\n(NumberOfParameters 0)\n%s"
                                     "(DeformationFieldFileName \"elx_defield.nii\")\n(DeformationFieldInterpolationOrder %d)\n",
                 common, order);
        REQUIRE(tu_write_file(tp, text, strlen(text)));
        REQUIRE_OK(mv_elastix_read(tp, &t, NULL));
        EXPECT(mv_elastix_links(t) == 1 && !mv_elastix_is_linear(t));
        for (i = 0; i < (int)(sizeof(cs) / sizeof(cs[0])); i++) {
            double c[3], d[3], lps[3];
            int inside = 1;
            for (a = 0; a < 3; a++) {
                inside &= cs[i][a] >= -0.5 && cs[i][a] < dims[a] - 0.5;
                c[a] = order == 0 ? floor(cs[i][a] + 0.5) : cs[i][a]; /* nearest: halves up */
                c[a] = c[a] < 0 ? 0 : c[a] > dims[a] - 1 ? dims[a] - 1 : c[a];
            }
            lps[0] = -10 + 2 * cs[i][0], lps[1] = 5 + 0.5 * cs[i][1], lps[2] = 2 + 4 * cs[i][2];
            p[0] = -lps[0], p[1] = -lps[1], p[2] = lps[2];
            REQUIRE_OK(mv_elastix_point(t, p, q));
            for (a = 0; a < 3; a++)
                for (d[a] = cst[a], b = 0; b < 3; b++) d[a] += B[a][b] * c[b];
            for (a = 0; a < 3; a++) {
                double got = a < 2 ? -(q[a] - p[a]) : q[a] - p[a], want = inside ? (double)(float)d[a] : 0;
                if (order == 1 && inside) want = d[a]; /* (the float vectors interpolated: within their rounding) */
                EXPECT_MSG(fabs(got - want) <= 2e-6, "order %d, index %g %g %g: d[%d] = %.9g, want %.9g", order, cs[i][0],
                           cs[i][1], cs[i][2], a, got, want);
            }
        }
        /* rewritten, read back mapping each point to the same bits: as an ITK file a linear field only (ITK's
           DisplacementFieldTransform interpolates linearly; a nearest one refused), as elastix files either */
        {
            mv_elastix_transform *u = NULL;
            int same = 1;
            if (order == 0) {
                EXPECT_STATUS(mv_itk_write_transform(tu_path("elx_defield_itk.tfm"), t, 0), MV_ERR_UNSUPPORTED);
                EXPECT_MSG(strstr(mv_last_error(), "DeformationFieldInterpolationOrder 0") != NULL, "%s", mv_last_error());
                REQUIRE_OK(mv_elastix_write_transform(tu_path("elx_defield_rewritten.txt"), t, NULL, MV_INTERP_LINEAR));
                REQUIRE_OK(mv_elastix_read(tu_path("elx_defield_rewritten.txt"), &u, NULL));
            } else {
                REQUIRE_OK(mv_itk_write_transform(tu_path("elx_defield_itk.h5"), t, 0));
                REQUIRE_OK(mv_itk_transform_read(tu_path("elx_defield_itk.h5"), &u, NULL));
            }
            for (i = 0; i < (int)(sizeof(cs) / sizeof(cs[0])); i++) {
                double r[3];
                p[0] = 10 - 2 * cs[i][0], p[1] = -5 - 0.5 * cs[i][1], p[2] = 2 + 4 * cs[i][2];
                mv_elastix_point(t, p, q);
                mv_elastix_point(u, p, r);
                same &= q[0] == r[0] && q[1] == r[1] && q[2] == r[2];
            }
            EXPECT_MSG(same, "the field rewritten (order %d) maps a point elsewhere", order);
            mv_elastix_free(u);
        }
        EXPECT_STATUS(mv_elastix_matrix(t, m), MV_ERR_UNSUPPORTED);
        mv_elastix_free(t);
        /* text alone cannot name a file */
        EXPECT_STATUS(mv_elastix_parse(text, &t, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(t == NULL && strstr(mv_last_error(), "DeformationFieldFileName") != NULL);
    }
    /* after an initial translation (Compose): the field at the translated point */
    snprintf(lin, sizeof(lin), "%s", tu_path("elx_defield_lin.txt"));
    snprintf(text, sizeof(text), "(Transform \"TranslationTransform\")\n(NumberOfParameters 3)\n(TransformParameters 2 0.5 4)\n%s",
             common);
    REQUIRE(tu_write_file(lin, text, strlen(text)));
    snprintf(text, sizeof(text), "(Transform \"DeformationFieldTransform\")\n(InitialTransformParametersFileName \"%s\")\n%s"
                                 "(DeformationFieldFileName \"elx_defield.nii\")\n(DeformationFieldInterpolationOrder 1)\n",
             lin, common);
    REQUIRE(tu_write_file(tp, text, strlen(text)));
    REQUIRE_OK(mv_elastix_read(tp, &t, NULL));
    p[0] = 10, p[1] = -5, p[2] = 2; /* index (0, 0, 0) -> translated to index (1, 1, 1) */
    REQUIRE_OK(mv_elastix_point(t, p, q));
    {
        double want[3];
        for (a = 0; a < 3; a++) want[a] = cst[a] + B[a][0] + B[a][1] + B[a][2];
        EXPECT(fabs(-(q[0] - p[0]) - (2 + want[0])) <= 2e-6 && fabs(-(q[1] - p[1]) - (0.5 + want[1])) <= 2e-6 &&
               fabs(q[2] - p[2] - (4 + want[2])) <= 2e-6);
    }
    EXPECT_STATUS(mv_elastix_jacobian(t, NULL, &grid, NULL), MV_ERR_UNSUPPORTED);
    mv_elastix_free(t);
    /* refusals, named: no file, a missing file, an order of 2, a 2D field for a 3D transform */
    {
        static const char *const bad[][2] = {{"(DeformationFieldInterpolationOrder 1)\n", "DeformationFieldFileName"},
                                             {"(DeformationFieldFileName \"elx_no_such.nii\")\n", "elx_no_such.nii"},
                                             {"(DeformationFieldFileName \"elx_defield.nii\")\n(DeformationFieldInterpolationOrder 2)\n",
                                              "DeformationFieldInterpolationOrder 2"}};
        for (i = 0; i < 3; i++) {
            snprintf(text, sizeof(text), "(Transform \"DeformationFieldTransform\")\n%s%s", common, bad[i][0]);
            REQUIRE(tu_write_file(tp, text, strlen(text)));
            EXPECT(mv_elastix_read(tp, &t, NULL) != MV_OK && t == NULL);
            EXPECT_MSG(strstr(mv_last_error(), bad[i][1]) != NULL, "%s", mv_last_error());
        }
    }
    mv_free(&f);
    mv_free(&grid);
}

MV_TEST(register, elastix_bspline_written)
{
    mv_vol fx, f1, f2;
    mv_bspline_grid g;
    mv_elastix_transform *t = NULL;
    int64_t dims[3] = {17, 13, 9}, i, nc;
    const double sp[3] = {4 * 1.5, 4 * 1.2, 4 * 2.0};
    const double M[4][4] = {{0.99, -0.05, 0.02, 1.5}, {0.05, 0.99, 0, -2}, {-0.02, 0, 1.01, 0.5}, {0, 0, 0, 1}};
    uint64_t seed = 7;
    char path[1024], bpath[1024];
    int m, pass;
    REQUIRE_OK(mv_vol_alloc(&fx, MV_DT_F32, 3, dims, NULL));
    fx.affine[0][0] = 0, fx.affine[0][1] = -1.2, fx.affine[1][0] = 1.5, fx.affine[1][1] = 0, fx.affine[2][2] = 2;
    fx.affine[0][3] = 5, fx.affine[1][3] = -7, fx.affine[2][3] = 11;
    REQUIRE_OK(mv_bspline_grid_init(&g, &fx, sp, NULL));
    EXPECT_EQ_INT(g.n[0], 7); /* (17 - 1) / 4 = 4 intervals + 3 */
    g.origin[1] += g.spacing[1] / 2;
    nc = mv_bspline_grid_ncoef(&g);
    for (i = 0; i < nc; i++) g.coef[i] = 4.0 * ((double)(tu_rand(&seed) % 2001) / 1000.0 - 1.0);
    snprintf(path, sizeof(path), "%s", tu_path("bsp-TP.txt"));
    snprintf(bpath, sizeof(bpath), "%s", tu_path("bsp-TP-bspline.txt"));
    for (pass = 0; pass < 2; pass++) {
        mv_field_opts fo = MV_ZERO_INIT;
        float *a, *b;
        double worst = 0;
        REQUIRE_OK(mv_elastix_write_bspline(path, &g, pass ? M : NULL, MV_INTERP_CUBIC));
        REQUIRE_OK(mv_elastix_read(path, &t, NULL));
        EXPECT_EQ_INT(mv_elastix_links(t), pass ? 2 : 1);
        mv_vol_init(&f1);
        mv_vol_init(&f2);
        REQUIRE_OK(mv_bspline_field(&g, &fx, &f1, NULL));
        if (pass) REQUIRE_OK(mv_field_add_affine_into(&f1, M, &f1, &fo));
        REQUIRE_OK(mv_elastix_field(t, NULL, &f2, NULL));
        for (m = 0; m < 3; m++) EXPECT_EQ_INT(f2.dim[m], dims[m]);
        a = (float *)f1.data, b = (float *)f2.data;
        for (i = 0; i < 3 * 17 * 13 * 9; i++) worst = fabs((double)a[i] - b[i]) > worst ? fabs((double)a[i] - b[i]) : worst;
        EXPECT(worst < 1e-5);
        if (!(worst < 1e-5)) fprintf(stderr, "    pass %d: largest difference %g mm\n", pass, worst);
        mv_free(&f1);
        mv_free(&f2);
        mv_elastix_free(t);
    }
    {
        FILE *f = fopen(bpath, "rb"); /* the matrix pass wrote the B-spline beside path */
        EXPECT(f != NULL);
        if (f) fclose(f);
    }
    /* the same grid as ITK's BSplineTransform (.tfm, and .h5 deflated),
       alone and after M as [Affine, BSplineTransform]: read back (the ITK
       reader diff_sitk checks against SimpleITK), its field on the fixed
       grid (turned a quarter: a direction that is not its transpose) is
       mv_bspline_field's, the matrix folded in */
    for (pass = 0; pass < 4; pass++) {
        mv_field_opts fo = MV_ZERO_INIT;
        float *a, *b;
        double worst = 0;
        snprintf(path, sizeof(path), "%s", tu_path(pass % 2 ? "bsp-itk.h5" : "bsp-itk.tfm"));
        REQUIRE_OK(mv_itk_write_bspline(path, &g, pass >= 2 ? M : NULL, pass % 2));
        REQUIRE_OK(mv_itk_transform_read(path, &t, NULL));
        EXPECT_EQ_INT(mv_elastix_links(t), pass >= 2 ? 2 : 1);
        mv_vol_init(&f1);
        mv_vol_init(&f2);
        REQUIRE_OK(mv_bspline_field(&g, &fx, &f1, NULL));
        if (pass >= 2) REQUIRE_OK(mv_field_add_affine_into(&f1, M, &f1, &fo));
        REQUIRE_OK(mv_elastix_field(t, &fx, &f2, NULL));
        a = (float *)f1.data, b = (float *)f2.data;
        for (i = 0; i < 3 * 17 * 13 * 9; i++) worst = fabs((double)a[i] - b[i]) > worst ? fabs((double)a[i] - b[i]) : worst;
        EXPECT_MSG(worst < 1e-5, "ITK pass %d: largest difference %g mm", pass, worst);
        mv_free(&f1);
        mv_free(&f2);
        mv_elastix_free(t);
    }
    EXPECT_STATUS(mv_itk_write_bspline(path, &g, NULL, 10), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_itk_write_bspline(NULL, &g, NULL, 0), MV_ERR_INVALID_ARG);
    snprintf(path, sizeof(path), "%s", tu_path("bsp-TP.txt"));
    /* the analytic Jacobian determinant against central differences of the
       point map (h = 1e-4 mm: error ~ h^2 x the third derivative) */
    {
        mv_vol jd, jm;
        int vox[3][3] = {{3, 4, 2}, {0, 0, 0}, {16, 12, 8}}, q;
        REQUIRE_OK(mv_elastix_read(path, &t, NULL));
        mv_vol_init(&jd);
        mv_vol_init(&jm);
        REQUIRE_OK(mv_elastix_jacobian(t, NULL, &jd, NULL));
        REQUIRE_OK(mv_elastix_jacobian_matrix(t, NULL, &jm, NULL));
        EXPECT_EQ_INT(jd.ndim, 3);
        for (q = 0; q < 3; q++) {
            double p0[3], J[3][3], h = 1e-4, det;
            int r, c2;
            for (r = 0; r < 3; r++)
                p0[r] = fx.affine[r][0] * vox[q][0] + fx.affine[r][1] * vox[q][1] + fx.affine[r][2] * vox[q][2] + fx.affine[r][3];
            for (c2 = 0; c2 < 3; c2++) { /* RAS in and out: the LPS Jacobian is S J S, same determinant */
                double pp[3], pm[3], qp[3], qm[3];
                memcpy(pp, p0, sizeof(pp));
                memcpy(pm, p0, sizeof(pm));
                pp[c2] += h, pm[c2] -= h;
                REQUIRE_OK(mv_elastix_point(t, pp, qp));
                REQUIRE_OK(mv_elastix_point(t, pm, qm));
                for (r = 0; r < 3; r++) J[r][c2] = (qp[r] - qm[r]) / (2 * h);
            }
            det = J[0][0] * (J[1][1] * J[2][2] - J[1][2] * J[2][1]) - J[0][1] * (J[1][0] * J[2][2] - J[1][2] * J[2][0]) +
                  J[0][2] * (J[1][0] * J[2][1] - J[1][1] * J[2][0]);
            EXPECT_NEAR(((float *)jd.data)[(vox[q][2] * 13 + vox[q][1]) * 17 + vox[q][0]], det, 2e-5);
            /* the matrix itself, in LPS: S J S (S = diag(-1, -1, 1)) */
            for (r = 0; r < 3; r++)
                for (c2 = 0; c2 < 3; c2++)
                    EXPECT_NEAR(((float *)jm.data)[(size_t)(r * 3 + c2) * (17 * 13 * 9) +
                                                   (size_t)((vox[q][2] * 13 + vox[q][1]) * 17 + vox[q][0])],
                                ((r < 2) == (c2 < 2) ? 1 : -1) * J[r][c2], 2e-5);
        }
        mv_free(&jd);
        mv_free(&jm);
        mv_elastix_free(t);
    }
    g.ndim = 3, g.n[2] = 1; /* a 3D grid with an axis of one control point: not a cubic grid in elastix */
    EXPECT_STATUS(mv_elastix_write_bspline(path, &g, NULL, MV_INTERP_CUBIC), MV_ERR_UNSUPPORTED);
    g.n[2] = 6;
    mv_bspline_grid_free(&g);
    mv_free(&fx);
}

static mv_status elx_run_kind(int kind, const mv_elastix_transform *t, mv_vol *out, const mv_field_opts *fo)
{
    return kind == 0 ? mv_elastix_field(t, NULL, out, fo)
                     : kind == 1 ? mv_elastix_jacobian(t, NULL, out, fo) : mv_elastix_jacobian_matrix(t, NULL, out, fo);
}

/* an elastix parameter file of a 3D transform at path: kind, its
   parameters, the combination with the initial file init (NULL: none),
   extra entries; 1 when written */
static int elx_write_tp(const char *path, const char *kind, const char *params, const char *init, int add,
                        const char *extra)
{
    size_t cap = strlen(params) + (extra ? strlen(extra) : 0) + (init ? strlen(init) : 0) + 1024;
    char *text = (char *)malloc(cap);
    int ok;
    if (!text) return 0;
    snprintf(text, cap, "(Transform \"%s\")\n(TransformParameters %s)\n(InitialTransformParametersFileName \"%s\")\n"
                        "(HowToCombineTransforms \"%s\")\n(FixedImageDimension 3)\n(MovingImageDimension 3)\n(Size 8 8 8)\n"
                        "(Spacing 1 1 1)\n(Origin 0 0 0)\n(Direction 1 0 0 0 1 0 0 0 1)\n%s",
             kind, params, init ? init : "NoInitialTransform", add ? "Add" : "Compose", extra ? extra : "");
    ok = tu_write_file(path, text, strlen(text));
    free(text);
    return ok;
}

/* mv_elastix_field, mv_elastix_jacobian and mv_elastix_jacobian_matrix
   split their rows over threads: a chain (a B-spline, then an affine) on a
   40x36x30 grid (about ten row
   blocks: every thread count up to 3 gets work) gives the one-thread
   bytes with 2 and 3 threads, MEDVOL_TEST_REPS times (default 3); the
   TSan suite runs it too. The field's grid is the file's (mv_elastix_grid).
   Then that field as a field link in three layouts (the field row path
   with the field applied first and last, an Add that must not take it), each voxel against
   mv_elastix_point and the threads against one. */
MV_TEST(register, elastix_field_threads_identical)
{
    mv_vol fx, ref[2];
    mv_bspline_grid g;
    mv_elastix_transform *t = NULL;
    int64_t dims[3] = {40, 36, 30}, i, nc, gd[3];
    const double sp[3] = {8, 8, 8};
    const double M[4][4] = {{0.99, -0.05, 0.02, 1.5}, {0.05, 0.99, 0, -2}, {-0.02, 0, 1.01, 0.5}, {0, 0, 0, 1}};
    double ga[4][4];
    uint64_t seed = 11;
    char path[1024];
    int reps = tu_test_reps(3), rep, th, kind, layout, r, c;
    REQUIRE_OK(mv_vol_alloc(&fx, MV_DT_F32, 3, dims, NULL));
    fx.affine[0][0] = 1.1, fx.affine[1][1] = 0.9, fx.affine[2][2] = 1.3, fx.affine[0][3] = -20;
    REQUIRE_OK(mv_bspline_grid_init(&g, &fx, sp, NULL));
    nc = mv_bspline_grid_ncoef(&g);
    for (i = 0; i < nc; i++) g.coef[i] = 3.0 * ((double)(tu_rand(&seed) % 2001) / 1000.0 - 1.0);
    snprintf(path, sizeof(path), "%s", tu_path("thr-TP.txt"));
    REQUIRE_OK(mv_elastix_write_bspline(path, &g, M, MV_INTERP_LINEAR));
    REQUIRE_OK(mv_elastix_read(path, &t, NULL));
    REQUIRE_OK(mv_elastix_grid(t, gd, ga));
    for (r = 0; r < 3; r++) {
        EXPECT_EQ_INT(gd[r], dims[r]);
        for (c = 0; c < 4; c++) EXPECT_NEAR(ga[r][c], fx.affine[r][c], 1e-12);
    }
    for (kind = 0; kind < 3; kind++) { /* the field, the Jacobian, its matrix */
        mv_field_opts fo = MV_ZERO_INIT;
        size_t bytes;
        fo.threads = 1;
        mv_vol_init(&ref[0]);
        REQUIRE_OK(elx_run_kind(kind, t, &ref[0], &fo));
        bytes = (size_t)mv_vol_count(&ref[0]) * 4;
        for (rep = 0; rep < reps; rep++)
            for (th = 2; th <= 3; th++) {
                fo.threads = th;
                mv_vol_init(&ref[1]);
                REQUIRE_OK(elx_run_kind(kind, t, &ref[1], &fo));
                EXPECT(memcmp(ref[0].data, ref[1].data, bytes) == 0);
                mv_free(&ref[1]);
            }
        for (layout = 0; kind == 0 && layout < 3; layout++) {
            /* that field as a displacement field link: last in ITK's [M, field] .h5 (applied first: ANTs'
               Composite.h5 layout) or first in an elastix DeformationFieldTransform after an affine (applied
               last: the InverseComposite layout), both mv__elx_field_rows_field, or added to it
               (HowToCombineTransforms "Add": point by point):
               the same bits on any thread count, each voxel as mv_elastix_point (the rows split across
               threads) */
            mv_elastix_transform *tf = NULL;
            mv_vol f1;
            int bad = 0;
            if (layout == 0) {
                snprintf(path, sizeof(path), "%s", tu_path("thr-field.h5"));
                REQUIRE_OK(mv_itk_h5_write_field(path, M, &ref[0], 0));
                REQUIRE_OK(mv_itk_transform_read(path, &tf, NULL));
            } else {
                char aff[1024], fld[1024];
                snprintf(aff, sizeof(aff), "%s", tu_path("thr-aff.txt"));
                snprintf(fld, sizeof(fld), "%s", tu_path("thr-field-tp.txt"));
                REQUIRE_OK(mv_field_save(tu_path("thr-field.nii"), &ref[0], NULL));
                REQUIRE(elx_write_tp(aff, "AffineTransform", "0.99 0.05 0.02 -0.05 0.99 0 -0.02 0 1.01 1.5 -2 0.5", NULL, 0,
                                     "(CenterOfRotationPoint 0 0 0)\n"));
                REQUIRE(elx_write_tp(fld, "DeformationFieldTransform", "", aff, layout == 2,
                                     "(DeformationFieldFileName \"thr-field.nii\")\n(DeformationFieldInterpolationOrder 1)\n"));
                REQUIRE_OK(mv_elastix_read(fld, &tf, NULL));
                EXPECT_EQ_INT(mv_elastix_links(tf), 2);
            }
            fo.threads = 1;
            mv_vol_init(&f1);
            REQUIRE_OK(mv_elastix_field(tf, &fx, &f1, &fo));
            for (i = 0; i < dims[0] * dims[1] * dims[2]; i += 7) {
                double p[3], q[3];
                const int64_t x = i % dims[0], y = i / dims[0] % dims[1], z = i / (dims[0] * dims[1]);
                for (r = 0; r < 3; r++) p[r] = fx.affine[r][0] * x + fx.affine[r][1] * y + fx.affine[r][2] * z + fx.affine[r][3];
                REQUIRE_OK(mv_elastix_point(tf, p, q));
                for (r = 0; r < 3; r++) /* LPS components */
                    bad += ((const float *)f1.data)[(size_t)r * (size_t)(dims[0] * dims[1] * dims[2]) + (size_t)i] !=
                           (float)((r < 2 ? -1 : 1) * (q[r] - p[r]));
            }
            EXPECT_MSG(bad == 0, "%d field components differ from mv_elastix_point", bad);
            for (rep = 0; rep < reps; rep++)
                for (th = 2; th <= 3; th++) {
                    fo.threads = th;
                    mv_vol_init(&ref[1]);
                    REQUIRE_OK(mv_elastix_field(tf, &fx, &ref[1], &fo));
                    EXPECT(memcmp(f1.data, ref[1].data, bytes) == 0);
                    mv_free(&ref[1]);
                }
            mv_free(&f1);
            mv_elastix_free(tf);
        }
        mv_free(&ref[0]);
    }
    mv_elastix_free(t);
    mv_bspline_grid_free(&g);
    mv_free(&fx);
}

MV_TEST(register, setup_any_threads)
{
    mv_vol fx, mo;
    mv_transform t;
    mv_metric_opts o = MV_ZERO_INIT;
    double m1[4][4], m[4][4], v1 = 0, v, g1[16], g[16];
    int64_t n1 = 0, n, nfinite = 0, i;
    float *f;
    int th;
    REQUIRE_OK(mv_phantom_smooth(&fx, MV_DT_F32, 128, 128, 128, 3));
    REQUIRE_OK(mv_phantom_smooth(&mo, MV_DT_F32, 120, 128, 124, 4));
    for (th = 1; th <= 3; th++) {
        REQUIRE_OK(mv_set_threads(th));
        REQUIRE_OK(mv_transform_initialize(&fx, &mo, NULL, NULL, MV_INIT_PRINCIPAL_AXES, MV_TRANSFORM_AFFINE, &t));
        REQUIRE_OK(mv_transform_matrix(&t, th == 1 ? m1 : m));
        if (th > 1) EXPECT(memcmp(m, m1, sizeof(m)) == 0);
    }
    REQUIRE_OK(mv_set_threads(0));
    /* +inf voxels are not mass: the same centres as with zeros there */
    f = (float *)fx.data;
    for (i = 0; i < 128 * 128 * 128; i += 4099) f[i] = 0;
    REQUIRE_OK(mv_transform_initialize(&fx, &mo, NULL, NULL, MV_INIT_MOMENTS, MV_TRANSFORM_AFFINE, &t));
    REQUIRE_OK(mv_transform_matrix(&t, m));
    for (i = 0; i < 128 * 128 * 128; i += 4099) f[i] = INFINITY;
    REQUIRE_OK(mv_transform_initialize(&fx, &mo, NULL, NULL, MV_INIT_MOMENTS, MV_TRANSFORM_AFFINE, &t));
    {
        double mi[4][4];
        REQUIRE_OK(mv_transform_matrix(&t, mi));
        EXPECT(memcmp(m, mi, sizeof(m)) == 0);
    }
    for (i = 0; i < 128 * 128 * 128; i += 977) f[i] = (i / 977) % 3 == 0 ? NAN : (i / 977) % 3 == 1 ? INFINITY : -INFINITY;
    for (i = 0; i < 128 * 128 * 128; i++) nfinite += isfinite(f[i]) != 0;
    for (th = 1; th <= 3; th++) {
        REQUIRE_OK(mv_transform_from_matrix((const double(*)[4])m1, MV_TRANSFORM_AFFINE, 3, NULL, &t));
        o.metric = MV_METRIC_MI;
        o.sampling = MV_SAMPLING_RANDOM;
        o.fraction = 0.05;
        o.threads = th;
        REQUIRE_OK(mv_metric_evaluate(&fx, &mo, &t, &o, th == 1 ? &v1 : &v, th == 1 ? g1 : g, th == 1 ? &n1 : &n));
        if (th > 1) {
            EXPECT_EQ_INT((long long)n, (long long)n1);
            EXPECT(memcmp(&v, &v1, sizeof(v)) == 0);
            EXPECT(memcmp(g, g1, (size_t)t.nparams * sizeof(double)) == 0);
        }
        o.metric = MV_METRIC_MSE;
        o.sampling = MV_SAMPLING_FULL;
        mv_transform_init(&t, MV_TRANSFORM_RIGID, 3, NULL);
        REQUIRE_OK(mv_metric_evaluate(&fx, &fx, &t, &o, &v, NULL, &n));
        EXPECT_EQ_INT((long long)n, (long long)nfinite);
    }
    mv_free(&fx);
    mv_free(&mo);
}

MV_TEST(register, initialisation_and_stride)
{
    /* principal axes: Shepp-Logan (distinct semi-axes) turned by 25 degrees about z */
    mv_vol fx, mo;
    mv_transform t;
    double R[4][4], m[4][4], a = 25 * acos(-1.0) / 180, c[3];
    mv_resample_opts ro = MV_ZERO_INIT;
    mv_metric_opts o = MV_ZERO_INIT;
    double v;
    int64_t nfull, nstride;
    int i, j;
    REQUIRE_OK(mv_phantom_shepp_logan(&fx, 64, 64, 64));
    for (i = 0; i < 3; i++)
        c[i] = fx.affine[i][0] * 31.5 + fx.affine[i][1] * 31.5 + fx.affine[i][2] * 31.5 + fx.affine[i][3];
    memset(R, 0, sizeof(R));
    R[0][0] = cos(a), R[0][1] = -sin(a), R[1][0] = sin(a), R[1][1] = cos(a), R[2][2] = R[3][3] = 1;
    for (i = 0; i < 3; i++) R[i][3] = c[i] - (R[i][0] * c[0] + R[i][1] * c[1] + R[i][2] * c[2]);
    {
        /* moving(y) = fixed(R^-1 y): warp fixed through R^-1 (a rotation: its transpose) */
        double Ri[4][4];
        memset(Ri, 0, sizeof(Ri));
        for (i = 0; i < 3; i++)
            for (j = 0; j < 3; j++) Ri[i][j] = R[j][i];
        for (i = 0; i < 3; i++) Ri[i][3] = -(Ri[i][0] * R[0][3] + Ri[i][1] * R[1][3] + Ri[i][2] * R[2][3]);
        Ri[3][3] = 1;
        ro.fill_outside = 1;
        REQUIRE_OK(mv_warp_affine(&fx, &fx, (const double(*)[4])Ri, &mo, &ro));
    }
    REQUIRE_OK(mv_transform_initialize(&fx, &mo, NULL, NULL, MV_INIT_PRINCIPAL_AXES, MV_TRANSFORM_RIGID, &t));
    REQUIRE_OK(mv_transform_matrix(&t, m));
    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) EXPECT_NEAR(m[i][j], R[i][j], 0.03);
    REQUIRE_OK(mv_transform_initialize(&fx, &mo, NULL, NULL, MV_INIT_MOMENTS, MV_TRANSFORM_AFFINE, &t));
    REQUIRE_OK(mv_transform_matrix(&t, m));
    for (i = 0; i < 3; i++) EXPECT_NEAR(m[i][i], 1, 0); /* centres only */
    /* stride 2: about one voxel in 8 */
    mv_transform_init(&t, MV_TRANSFORM_RIGID, 3, c);
    o.metric = MV_METRIC_MSE;
    o.sampling = MV_SAMPLING_FULL;
    REQUIRE_OK(mv_metric_evaluate(&fx, &fx, &t, &o, &v, NULL, &nfull));
    EXPECT_NEAR(v, 0, 1e-12);
    o.sampling = MV_SAMPLING_STRIDE;
    o.stride = 2;
    REQUIRE_OK(mv_metric_evaluate(&fx, &fx, &t, &o, &v, NULL, &nstride));
    EXPECT_EQ_INT((long long)nfull, 64LL * 64 * 64);
    EXPECT_EQ_INT((long long)nstride, 32LL * 32 * 32);
    mv_free(&fx);
    mv_free(&mo);
}

MV_TEST(register, bad_arguments)
{
    mv_vol fx, mo, badmask;
    mv_register_opts o = MV_ZERO_INIT;
    mv_register_result r;
    mv_metric_opts mo_ = MV_ZERO_INIT;
    mv_transform t;
    double v, m[4][4];
    int64_t dims[3] = {5, 5, 5};
    make_pair(&fx, &mo, 0);
    mv_transform_init(&t, MV_TRANSFORM_RIGID, 3, NULL);
    EXPECT_STATUS(mv_register_linear(NULL, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, NULL), MV_ERR_INVALID_ARG);
    o.transform = (mv_transform_type)9;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "transform") != NULL);
    o.transform = MV_TRANSFORM_RIGID;
    o.metric.bins = 3;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "bins") != NULL);
    o.metric.bins = 0;
    o.metric.radius = -1;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "radius") != NULL);
    o.metric.radius = 0;
    o.levels = "4xq";
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "levels") != NULL);
    o.levels = NULL;
    o.relaxation = 1.5;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "relaxation") != NULL);
    o.relaxation = 0;
    REQUIRE_OK(mv_vol_alloc(&badmask, MV_DT_U8, 3, dims, NULL));
    o.metric.fixed_mask = &badmask;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "fixed_mask") != NULL);
    o.metric.fixed_mask = NULL;
    memset(m, 0, sizeof(m));
    o.init_matrix = (const double(*)[4])m;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "init_matrix") != NULL);
    o.init_matrix = NULL;
    mo.affine[0][0] = mo.affine[0][1] = 0;
    EXPECT_STATUS(mv_register_linear(&fx, &mo, &o, &r), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "moving affine") != NULL);
    EXPECT_STATUS(mv_metric_evaluate(&fx, &mo, &t, &mo_, &v, NULL, NULL), MV_ERR_INVALID_ARG);
    mo.affine[0][0] = 1;
    mo.affine[1][1] = 1;
    /* a map that sends everything outside */
    t.params[3] = 1e6;
    EXPECT_STATUS(mv_metric_evaluate(&fx, &mo, &t, &mo_, &v, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "inside the moving image") != NULL);
    t.nparams = 5;
    EXPECT_STATUS(mv_metric_evaluate(&fx, &mo, &t, &mo_, &v, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "nparams") != NULL);
    EXPECT_STATUS(mv_transform_init(&t, MV_TRANSFORM_RIGID, 4, NULL), MV_ERR_INVALID_ARG);
    mv_free(&fx);
    mv_free(&mo);
    mv_free(&badmask);
}

/* ITK BSplineTransforms read as a chain (mv_itk_transform_parse): against
   analytic B-spline sums (coefficients constant: the displacement is that
   constant, partition of unity; coefficients equal to their grid index:
   the displacement is the point's grid index, as B-splines of any order
   reproduce a straight line) on the bounds of ITK's valid region, against
   SimpleITK's TransformPoint on the files it wrote
   (tests/py/make_sitk_bspline_fixtures.py), and the refusals. */
/* from tests/py/make_sitk_bspline_fixtures.py (SimpleITK 2.5.7) */
static const struct {
    int h5;
    double p[3], q[3];
} sitk_bspline_points[17] = {
    {1, {-16.25, 4.5, 8}, {-17.25289318784419, 6.500011070317, 9.4139969509797901}},
    {1, {-17.5, 5.6666666666666661, 6.5}, {-19.12112179324027, 6.9522619301167801, 7.5672379286036691}},
    {1, {-15, 3.333333333333333, 9.5}, {-15.408290836087428, 5.7685988728359749, 10.913581917569008}},
    {1, {-16.25, 5.6666689999999997, 8}, {-17.461666549999997, 7.9566690700000002, 8.8316666899999987}},
    {1, {-16.25, 3.3333309999999994, 8}, {-17.578333449999999, 5.5533309299999996, 8.8083333100000019}},
    {1, {-17, 4.0333333333333332, 9.1999999999999993}, {-17.464891891263839, 6.3480900236969067, 10.40770678478156}},
    {1, {-16.25, 7.5333333333333332, 8}, {-17.368333333333332, 9.8793333333333333, 8.8503333333333352}},
    {1, {-13.75, 4.5, 8}, {-15.07, 6.6549999999999994, 8.7699999999999996}},
    {1, {-20, 17.333333333333336, 30.5}, {-20.103333333333335, 19.898333333333337, 31.298333333333336}},
    {0, {3, -4, 0}, {2.5424539426190944, -3.3281409083930722, 0}},
    {0, {-7, -8.5, 0}, {-6.3341562408324155, -8.2192493209313167, 0}},
    {0, {-2, -6.25, 0}, {-3.5057390963376291, -6.1455262979442713, 0}},
    {0, {-7, -4, 0}, {-7.2923570160386388, -5.0139564753380306, 0}},
    {0, {3, -8.5, 0}, {2.3656676919385555, -7.8271193031140101, 0}},
    {0, {-2.625, -5.6875, 0}, {-4.1811437471833326, -5.8397641385819563, 0}},
    {0, {4.25, -6.25, 0}, {4.25, -6.25, 0}},
    {0, {-8.25, -6.25, 0}, {-8.25, -6.25, 0}},
};

/* the .tfm text of a B-spline kind on an nd-D grid of g^nd points, origin
   o, spacing s, identity direction; component a's coefficient at grid
   index (i, j, k): cst[a] + lin[a] * (index along axis a), or (lin NULL)
   3 sin(0.7 n + 1.3 a) at the n-th grid point */
static char *bspline_tfm(const char *kind, int nd, int g, double o, double s, const double cst[3], const double lin[3],
                         const char *before)
{
    size_t cap = 65536, n = 0;
    char *t = (char *)malloc(cap);
    int a, i, cells = nd == 3 ? g * g * g : g * g;
    n += (size_t)snprintf(t + n, cap - n, "#Insight Transform File V1.0\n%s#Transform %d\nTransform: %s\nParameters:",
                          before, before[0] ? 2 : 0, kind);
    for (a = 0; a < nd; a++)
        for (i = 0; i < cells; i++) {
            int idx[3] = {i % g, (i / g) % g, i / (g * g)};
            n += (size_t)snprintf(t + n, cap - n, " %.17g",
                                  lin ? cst[a] + lin[a] * idx[a] : 3 * sin(0.7 * i + 1.3 * a)); /* NULL: irregular */
        }
    n += (size_t)snprintf(t + n, cap - n, "\nFixedParameters:");
    for (a = 0; a < nd; a++) n += (size_t)snprintf(t + n, cap - n, " %d", g);
    for (a = 0; a < nd; a++) n += (size_t)snprintf(t + n, cap - n, " %.17g", o);
    for (a = 0; a < nd; a++) n += (size_t)snprintf(t + n, cap - n, " %.17g", s);
    for (a = 0; a < nd * nd; a++) n += (size_t)snprintf(t + n, cap - n, " %d", a % (nd + 1) == 0);
    n += (size_t)snprintf(t + n, cap - n, "\n");
    return t;
}

/* Every prefix of an ITK transform file (n bytes; the step grows with the
   cut) through mv_itk_transform_parse: 1 when each left the chain NULL on
   failure and set on success, and (may_parse 0) none parsed. A text's
   prefix can be a file (its first members), an .h5's never. */
static int itk_prefixes_ok(const unsigned char *file, size_t n, int may_parse)
{
    mv_elastix_transform *t = NULL;
    size_t cut;
    int ok = 1;
    for (cut = 0; cut < n; cut += 1 + cut / 32) {
        mv_status st = mv_itk_transform_parse(file, cut, &t, NULL);
        ok &= (st != MV_OK || may_parse) && (st == MV_OK) == (t != NULL);
        if (st == MV_OK) mv_elastix_free(t);
    }
    return ok;
}

/* t at the LPS point p (RAS in and out of mv_elastix_point) */
static void lps_apply(const mv_elastix_transform *t, const double p[3], double q[3])
{
    double r[3] = {-p[0], -p[1], p[2]}, s[3];
    mv_elastix_point(t, r, s);
    q[0] = -s[0], q[1] = -s[1], q[2] = s[2];
}

MV_TEST(register, itk_bspline_files)
{
    static const double cst[3] = {1.5, -0.5, 2.0}, zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    mv_elastix_transform *t = NULL;
    double p[3], q[3], m[4][4];
    char *txt;
    unsigned char *file;
    size_t n;
    int order, i, a, cut_ok = 1;
    mv_vol f, grid;

    /* constant coefficients on a 6^3 grid, origin -10, spacing 4 (LPS): the
       valid region is grid index [h, 5 - h], h = (order - 1) / 2, the
       upper bound included (ITK); outside it the point stays */
    for (order = 1; order <= 3; order++) {
        char kind[64];
        double h = (order - 1) / 2.0, lo = -10 + 4 * h, hi = -10 + 4 * (5 - h);
        snprintf(kind, sizeof(kind), order == 3 ? "BSplineTransform_double_3_3" : "BSplineTransform_float_3_3_%d", order);
        txt = bspline_tfm(kind, 3, 6, -10, 4, cst, zero, "");
        REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
        EXPECT(mv_elastix_ndim(t) == 3 && mv_elastix_links(t) == 1 && !mv_elastix_is_linear(t));
        for (i = 0; i < 6; i++) {
            static const double at[6] = {0, 0, 0, 0, 1e-9, -1e-9};
            double x = i < 2 ? (i ? hi : lo) : i == 2 ? (lo + hi) / 2 : i == 3 ? lo + 0.37 : i == 4 ? hi : lo;
            int inside = i < 4;
            p[0] = x + at[i], p[1] = (lo + hi) / 2 + 0.3, p[2] = hi;
            lps_apply(t, p, q);
            for (a = 0; a < 3; a++)
                EXPECT_MSG(fabs(q[a] - p[a] - (inside ? cst[a] : 0)) <= 1e-12, "order %d, x %.17g: d[%d] = %.17g", order,
                           p[0], a, q[a] - p[a]);
        }
        mv_elastix_free(t);
        free(txt);
        /* coefficients = their grid index: d = the point's grid index (x, y, z) */
        txt = bspline_tfm(kind, 3, 6, -10, 4, zero, one, "");
        REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
        for (i = 0; i < 20; i++) {
            double c[3] = {h + (5 - 2 * h) * i / 19.0, h + (5 - 2 * h) * (19 - i) / 19.0, 2.5 - h + h * (i % 2)};
            for (a = 0; a < 3; a++) p[a] = -10 + 4 * c[a];
            lps_apply(t, p, q);
            for (a = 0; a < 3; a++)
                EXPECT_MSG(fabs(q[a] - p[a] - c[a]) <= 1e-12, "order %d, index %g %g %g: d[%d] = %.17g", order, c[0], c[1],
                           c[2], a, q[a] - p[a]);
        }
        mv_elastix_free(t);
        free(txt);
    }

    /* a composite [Translation, BSpline] (the B-spline first), 2D order 1;
       a grid of 1 point per axis (smaller than the support): no region */
    txt = bspline_tfm("BSplineTransform_double_2_2_1", 2, 4, 0, 1, cst, zero,
                      "#Transform 0\nTransform: CompositeTransform_double_2_2\n#Transform 1\n"
                      "Transform: TranslationTransform_double_2_2\nParameters: 10 20\nFixedParameters:\n");
    REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
    p[0] = 1.25, p[1] = 3, p[2] = 7; /* (3, y): the upper bound */
    lps_apply(t, p, q);
    EXPECT(fabs(q[0] - 12.75) <= 1e-12 && fabs(q[1] - 22.5) <= 1e-12 && q[2] == 7);
    EXPECT_STATUS(mv_elastix_matrix(t, m), MV_ERR_UNSUPPORTED);
    mv_elastix_free(t);
    free(txt);
    txt = bspline_tfm("BSplineTransform_double_3_3", 3, 1, 0, 1, cst, zero, "");
    REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
    p[0] = p[1] = p[2] = 0;
    lps_apply(t, p, q);
    EXPECT(q[0] == 0 && q[1] == 0 && q[2] == 0);
    mv_elastix_free(t);
    free(txt);

    /* SimpleITK's own files and points: the .h5 composite [Affine, BSpline]
       (its grid turned a quarter about z) and a 2D order-2 .tfm over an image grid, whose
       first and last voxels lie on the bounds */
    for (i = 0; i < 2; i++) {
        int k, bad = 0;
        file = tu_read_file(i ? "tests/fuzz/corpus/text/sitk_bspline2d_order2" : "tests/fuzz/corpus/h5/sitk_bspline_composite",
                            &n);
        REQUIRE(file != NULL);
        REQUIRE_OK(mv_itk_transform_parse(file, n, &t, NULL));
        EXPECT(mv_elastix_ndim(t) == (i ? 2 : 3) && mv_elastix_links(t) == (i ? 1 : 2));
        for (k = 0; k < (int)(sizeof(sitk_bspline_points) / sizeof(sitk_bspline_points[0])); k++) {
            if (sitk_bspline_points[k].h5 == i) continue;
            mv_elastix_point(t, sitk_bspline_points[k].p, q);
            for (a = 0; a < 3; a++) bad += fabs(q[a] - sitk_bspline_points[k].q[a]) > 1e-12 * (1 + fabs(q[a]));
        }
        EXPECT_MSG(bad == 0, "%d coordinates differ from SimpleITK's", bad);
        /* a field needs a grid: the chain has none */
        mv_vol_init(&f);
        EXPECT_STATUS(mv_elastix_field(t, NULL, &f, NULL), MV_ERR_INVALID_ARG);
        {
            int64_t dims[3];
            EXPECT_STATUS(mv_elastix_grid(t, dims, m), MV_ERR_INVALID_ARG);
        }
        if (i == 1) { /* the field on the image's own 9 x 7 grid: every voxel as SimpleITK's points above */
            int64_t d[3] = {9, 7, 1};
            REQUIRE_OK(mv_vol_alloc(&grid, MV_DT_U8, 3, d, NULL));
            memset(grid.affine, 0, sizeof(grid.affine));
            grid.affine[0][0] = -1.25, grid.affine[1][1] = -0.75, grid.affine[2][2] = grid.affine[3][3] = 1;
            grid.affine[0][3] = 3, grid.affine[1][3] = -4;
            grid.spacing[0] = 1.25, grid.spacing[1] = 0.75;
            REQUIRE_OK(mv_elastix_field(t, &grid, &f, NULL));
            for (k = 0; k < (int)(sizeof(sitk_bspline_points) / sizeof(sitk_bspline_points[0])); k++) {
                const double *sp = sitk_bspline_points[k].p, *sq = sitk_bspline_points[k].q;
                double x = (3 - sp[0]) / 1.25, y = (-4 - sp[1]) / 0.75; /* the point's voxel, when it is one */
                if (sitk_bspline_points[k].h5 || x != floor(x) || y != floor(y) || x < 0 || x > 8 || y < 0 || y > 6) continue;
                for (a = 0; a < 2; a++) {
                    float v = ((const float *)f.data)[a * 63 + (int)y * 9 + (int)x];
                    EXPECT_MSG(fabs(v + (sq[a] - sp[a])) <= 1e-5, "voxel %g %g: d[%d] %g, SimpleITK %g", x,
                               y, a, v, -(sq[a] - sp[a]));
                }
            }
            mv_free(&f);
            mv_free(&grid);
        }
        mv_elastix_free(t);
        cut_ok &= itk_prefixes_ok(file, n, 0);
        free(file);
    }
    EXPECT(cut_ok);

    /* the field row by row (a grid whose rows run along the B-spline grid's
       first axis: the coefficients summed per row) and voxel by voxel (a
       grid turned a little: each voxel's own sum) equal mv_elastix_point at
       every voxel, in 3D after a matrix (outer) and in 2D, on grids reaching
       past the valid region */
    for (order = 1; order <= 3; order++)
        for (i = 0; i < 4; i++) {
            const int nd = i < 2 ? 3 : 2, turned = i % 2;
            char kind[64];
            int64_t d[3] = {23, 19, nd == 3 ? 17 : 1}, x, y, z, nv = 23 * 19 * (nd == 3 ? 17 : 1);
            int bad = 0;
            snprintf(kind, sizeof(kind), "BSplineTransform_double_%d_%d_%d", nd, nd, order);
            txt = bspline_tfm(kind, nd, 7, -12, 4.5, zero, NULL,
                              nd == 3 ? "#Transform 0\nTransform: CompositeTransform_double_3_3\n#Transform 1\n"
                                        "Transform: AffineTransform_double_3_3\nParameters: 1.1 0.1 0 0 0.9 0.05 0.02 0 1 3 -2 1\n"
                                        "FixedParameters: 1 2 3\n"
                                      : "");
            REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
            REQUIRE_OK(mv_vol_alloc(&grid, MV_DT_U8, 3, d, NULL));
            memset(grid.affine, 0, sizeof(grid.affine));
            grid.affine[0][0] = -1.7, grid.affine[1][1] = -1.6, grid.affine[2][2] = 1.9, grid.affine[3][3] = 1;
            if (turned) grid.affine[1][0] = 0.01, grid.affine[0][1] = -0.01;
            grid.affine[0][3] = 20, grid.affine[1][3] = 17, grid.affine[2][3] = nd == 3 ? -16 : 0;
            grid.spacing[0] = 1.7, grid.spacing[1] = 1.6, grid.spacing[2] = 1.9;
            REQUIRE_OK(mv_elastix_field(t, &grid, &f, NULL));
            for (z = 0; z < d[2]; z++)
                for (y = 0; y < d[1]; y++)
                    for (x = 0; x < d[0]; x++) {
                        const int64_t v = (z * d[1] + y) * d[0] + x;
                        double r[3];
                        for (a = 0; a < 3; a++)
                            r[a] = grid.affine[a][0] * x + grid.affine[a][1] * y + grid.affine[a][2] * z + grid.affine[a][3];
                        mv_elastix_point(t, r, q);
                        for (a = 0; a < nd; a++) { /* the field in LPS: x and y of RAS negated */
                            double want = (a < 2 ? -1 : 1) * (q[a] - r[a]);
                            bad += fabs(((const float *)f.data)[a * nv + v] - want) > 1e-5 * (1 + fabs(want));
                        }
                    }
            EXPECT_MSG(bad == 0, "order %d, %dD, %s grid: %d values differ from mv_elastix_point", order, nd,
                       turned ? "turned" : "row-aligned", bad);
            mv_free(&f);
            mv_free(&grid);
            mv_elastix_free(t);
            free(txt);
        }

    /* refusals, each naming what is wrong */
    {
        static const struct {
            const char *text, *word;
            mv_status st;
        } no[] = {
            {"#Insight Transform File V1.0\nTransform: BSplineDeformableTransform_double_3_3\nParameters: 0\n",
             "BSplineDeformableTransform", MV_ERR_UNSUPPORTED},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3_0\nParameters: 0 0 0\n"
             "FixedParameters: 1 1 1 0 0 0 1 1 1 1 0 0 0 1 0 0 0 1\n",
             "order 0", MV_ERR_UNSUPPORTED},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 0 0\n"
             "FixedParameters: 1 1 1 0 0 0 1 1 1 1 0 0 0 1 0 0 0 1\n",
             "2 Parameters", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 0 1e999 0\n"
             "FixedParameters: 1 1 1 0 0 0 1 1 1 1 0 0 0 1 0 0 0 1\n",
             "Parameters[1]", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 0 0 0\n"
             "FixedParameters: 1 1 1 0 0 0 1 -1 1 1 0 0 0 1 0 0 0 1\n",
             "spacing[1]", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 0 0 0\n"
             "FixedParameters: 1 1 1 0 0 0 1 1 1 1 0 0 1 0 0 0 0 1\n",
             "singular", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 0 0 0\n"
             "FixedParameters: 1 1.5 1 0 0 0 1 1 1 1 0 0 0 1 0 0 0 1\n",
             "size[1]", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 0 0 0\n",
             "FixedParameters", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: CompositeTransform_double_3_3\n#Transform 1\n"
             "Transform: BSplineTransform_double_2_2\nParameters: 0 0\nFixedParameters: 1 1 0 0 1 1 1 0 0 1\n"
             "#Transform 2\nTransform: TranslationTransform_double_3_3\nParameters: 1 2 3\n",
             "a 3D transform in a 2D chain", MV_ERR_BAD_DATA},
            {"#Insight Transform File V1.0\nTransform: CompositeTransform_double_3_3\n", "empty", MV_ERR_BAD_DATA},
            {"1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n", "not an ITK transform file", MV_ERR_BAD_HEADER},
            {"\x89HDF\r\n", "cut short", MV_ERR_TRUNCATED},
        };
        for (i = 0; i < (int)(sizeof(no) / sizeof(no[0])); i++) {
            t = (mv_elastix_transform *)&t; /* anything: a failure sets it to NULL */
            EXPECT_STATUS(mv_itk_transform_parse(no[i].text, strlen(no[i].text), &t, NULL), no[i].st);
            EXPECT_MSG(strstr(mv_last_error(), no[i].word) != NULL && t == NULL, "case %d: %s", i, mv_last_error());
        }
    }
    /* more links than a chain holds: B-splines between translations */
    {
        char *big = (char *)malloc(1 << 16);
        size_t k = (size_t)sprintf(big, "#Insight Transform File V1.0\nTransform: CompositeTransform_double_2_2\n");
        for (i = 0; i < MV_ELASTIX_MAX_CHAIN + 1; i++)
            k += (size_t)sprintf(big + k, i % 2 ? "#Transform %d\nTransform: TranslationTransform_double_2_2\nParameters: 1 2\n"
                                                : "#Transform %d\nTransform: BSplineTransform_double_2_2_1\nParameters: 0 0\n"
                                                  "FixedParameters: 1 1 0 0 1 1 1 0 0 1\n",
                                 i + 1);
        EXPECT_STATUS(mv_itk_transform_parse(big, k, &t, NULL), MV_ERR_UNSUPPORTED);
        /* translations fold into one link: 16 of them read */
        k = (size_t)sprintf(big, "#Insight Transform File V1.0\nTransform: CompositeTransform_double_2_2\n");
        for (i = 0; i < 40; i++)
            k += (size_t)sprintf(big + k, "#Transform %d\nTransform: TranslationTransform_double_2_2\nParameters: 1 2\n", i + 1);
        REQUIRE_OK(mv_itk_transform_parse(big, k, &t, NULL));
        EXPECT(mv_elastix_links(t) == 1 && mv_elastix_is_linear(t));
        REQUIRE_OK(mv_elastix_matrix(t, m));
        EXPECT(m[0][3] == -40 && m[1][3] == -80);
        mv_elastix_free(t);
        free(big);
    }
    /* the matrix readers leave a B-spline to this one, by name */
    file = tu_read_file("tests/fuzz/corpus/text/sitk_bspline2d_order2", &n);
    REQUIRE(file != NULL);
    txt = (char *)malloc(n + 1);
    memcpy(txt, file, n);
    txt[n] = 0;
    EXPECT_STATUS(mv_itk_tfm_parse(txt, m), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "mv_itk_transform_read") != NULL);
    free(txt);
    free(file);
    file = tu_read_file("tests/fuzz/corpus/h5/sitk_bspline_composite", &n);
    REQUIRE(file != NULL);
    EXPECT_STATUS(mv_itk_h5_parse(file, n, m), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "mv_itk_transform_read") != NULL);
    free(file);
}

/* from tests/py/make_sitk_field_fixtures.py (SimpleITK 2.5.7) */
static const struct {
    int h5;
    double p[3], q[3];
} sitk_field_points[18] = {
    {1, {-9.7533738457896, 2.512982400757636, 5.0194144108594418}, {-10.823279730449475, 3.9518327514257621, 3.3130970036717242}},
    {1, {-11.576009806105642, 6.2915198564648254, 2.005455495405136}, {-10.85208685666513, 5.6945356604096338, 3.5375469120037821}},
    {1, {-7.9307378854735582, -1.2655550549495542, 8.0333733263137486}, {-8.8081365811806851, -3.3641311757573749, 9.1528816617628479}},
    {1, {-10.586770448617346, 0.57698582130630305, 7.2279360125633225}, {-10.922546441010841, 1.7467787888601771, 8.5870129982678307}},
    {1, {-9.9308198028189576, 7.0173125316555574, 4.9717749790461419}, {-14.001004237787676, 6.5188524362609037, 3.4546641049559552}},
    {1, {-7.2312386801717068, -1.8789511383014519, 8.9354556252740966}, {-8.108136581180684, -3.9891311757573806, 10.052881661762848}},
    {1, {-9.709128489354244, 3.7543798307507719, 0.30222905088765439}, {-10.250000000000004, 3.9999999999999996, 1.2000000000000002}},
    {1, {-9.499879621461945, -3.921774929096538, 5.0874707420212992}, {-10.25, -3.4999999999999964, 5.9999999999999991}},
    {1, {1.8994934111481503, 14.472465282529919, 5.1306521719584932}, {1.999999999999998, 13.999999999999993, 6}},
    {0, {2, -1, 0}, {1.7337409190609092, 0.16544818436350917, 0}},
    {0, {-1, -2.5, 0}, {-3.1620535423305789, -2.4250513698691365, 0}},
    {0, {-0.25, -2.125, 0}, {0.067027581649099943, -1.5622987510741422, 0}},
    {0, {2.75, -1.5, 0}, {1.1034921921637575, 1.292225891159138, 0}},
    {0, {-1.375, -2.7000000000000002, 0}, {-3.4612006844204131, -2.72693874519226, 0}},
    {0, {3.125, -1.5, 0}, {2.2130947730803214, 0.071260749147355917, 0}},
    {0, {-1.75, -1.5, 0}, {-2.4441706114070074, -1.3694002583266744, 0}},
    {0, {0.5, -2.75, 0}, {0.07473674745228065, -1.898650404745668, 0}},
    {0, {-8.5, 0.5, 0}, {-9.4837323263275266, -1.4534886750395044, 0}},
};

/* A DisplacementFieldTransform_double_ND_ND .tfm (after `before`, a
   composite's first members) on a grid of size g, origin o, spacing s and
   direction D (row by row, LPS), its vectors d(i) = cst + B i at grid
   index i (linear: ITK's linear interpolation gives it back exactly) */
static char *field_tfm(int nd, const int g[3], const double o[3], const double s[3], const double *D,
                       const double cst[3], const double B[3][3], const char *before)
{
    size_t cap = 65536, n = 0;
    char *t = (char *)malloc(cap);
    int a, b, i, cells = g[0] * g[1] * (nd == 3 ? g[2] : 1);
    n += (size_t)snprintf(t + n, cap - n,
                          "#Insight Transform File V1.0\n%s#Transform %d\nTransform: DisplacementFieldTransform_double_%d_%d\n"
                          "Parameters:", before, before[0] ? 2 : 0, nd, nd);
    for (i = 0; i < cells; i++) {
        int idx[3] = {i % g[0], (i / g[0]) % g[1], i / (g[0] * g[1])};
        for (a = 0; a < nd; a++) {
            double v = cst[a];
            for (b = 0; b < nd; b++) v += B[a][b] * idx[b];
            n += (size_t)snprintf(t + n, cap - n, " %.17g", v);
        }
    }
    n += (size_t)snprintf(t + n, cap - n, "\nFixedParameters:");
    for (a = 0; a < nd; a++) n += (size_t)snprintf(t + n, cap - n, " %d", g[a]);
    for (a = 0; a < nd; a++) n += (size_t)snprintf(t + n, cap - n, " %.17g", o[a]);
    for (a = 0; a < nd; a++) n += (size_t)snprintf(t + n, cap - n, " %.17g", s[a]);
    for (a = 0; a < nd * nd; a++) n += (size_t)snprintf(t + n, cap - n, " %.17g", D[a]);
    n += (size_t)snprintf(t + n, cap - n, "\n");
    return t;
}

MV_TEST(register, itk_field_files)
{
    /* a 4 x 3 x 2 grid turned a quarter about z (LPS direction rows), dyadic
       spacings and origin: every point below has an exact grid index */
    static const int g[3] = {4, 3, 2};
    static const double o[3] = {-10, 5, 2}, s[3] = {2, 0.5, 4}, D[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    static const double cst[3] = {1.5, -0.5, 2}, B[3][3] = {{0.25, -1, 0.5}, {2, 0.125, -0.75}, {-0.5, 0.375, 1}};
    /* grid indices per axis: inside, the outer half voxel (the edge's vector)
       with its bounds -0.5 (in) and size - 0.5 (out), and past them */
    static const double cs[][3] = {{0, 0, 0},    {3, 2, 1},      {1.25, 0.5, 0.75}, {2.5, 1.75, 0.25}, {-0.5, 1, 0.5},
                                   {-0.25, 2.25, 1.5}, {3.25, -0.5, -0.5}, {3.5, 1, 0},  {1, 2.5, 0},    {1, 1, 1.5},
                                   {-0.5 - 9.5367431640625e-07, 1, 0}, {3.5 - 9.5367431640625e-07, 2.5 - 9.5367431640625e-07, 1.5 - 9.5367431640625e-07}, {-3, 7, 0}};
    mv_elastix_transform *t = NULL;
    double p[3], q[3], m[4][4];
    char *txt;
    unsigned char *file;
    size_t n;
    int i, a, b, cut_ok = 1;
    mv_vol f, grid, ff;

    txt = field_tfm(3, g, o, s, D, cst, B, "");
    REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
    EXPECT(mv_elastix_ndim(t) == 3 && mv_elastix_links(t) == 1 && !mv_elastix_is_linear(t));
    for (i = 0; i < (int)(sizeof(cs) / sizeof(cs[0])); i++) {
        double c[3], d[3];
        int inside = 1;
        for (a = 0; a < 3; a++) {
            inside &= cs[i][a] >= -0.5 && cs[i][a] < g[a] - 0.5;
            c[a] = cs[i][a] < 0 ? 0 : cs[i][a] > g[a] - 1 ? g[a] - 1 : cs[i][a]; /* the edge's vector */
        }
        for (a = 0; a < 3; a++) {
            p[a] = o[a];
            for (b = 0; b < 3; b++) p[a] += D[a * 3 + b] * s[b] * cs[i][b];
        }
        for (a = 0; a < 3; a++)
            for (d[a] = cst[a], b = 0; b < 3; b++) d[a] += B[a][b] * c[b];
        lps_apply(t, p, q);
        for (a = 0; a < 3; a++)
            EXPECT_MSG(fabs(q[a] - p[a] - (inside ? d[a] : 0)) <= 1e-12, "index %g %g %g: d[%d] = %.17g, want %.17g",
                       cs[i][0], cs[i][1], cs[i][2], a, q[a] - p[a], inside ? d[a] : 0);
    }
    /* no matrix, no analytic Jacobian (named), the field on a grid */
    EXPECT_STATUS(mv_elastix_matrix(t, m), MV_ERR_UNSUPPORTED);
    {
        int64_t d3[3] = {6, 5, 4};
        REQUIRE_OK(mv_vol_alloc(&grid, MV_DT_U8, 3, d3, NULL));
        mv_vol_init(&f);
        EXPECT_STATUS(mv_elastix_jacobian(t, &grid, &f, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "displacement field") != NULL && f.data == NULL);
        EXPECT_STATUS(mv_elastix_jacobian_matrix(t, &grid, &f, NULL), MV_ERR_UNSUPPORTED);
        REQUIRE_OK(mv_elastix_field(t, &grid, &f, NULL));
        for (i = 0; i < 120; i++) { /* each voxel (RAS affine: identity) as mv_elastix_point */
            double r[3] = {(double)(i % 6), (double)(i / 6 % 5), (double)(i / 30)};
            mv_elastix_point(t, r, q);
            for (a = 0; a < 3; a++)
                EXPECT(fabs(((const float *)f.data)[a * 120 + i] - (q[a] - r[a])) <= 1e-5 * (1 + fabs(q[a] - r[a])));
        }
        mv_free(&f);
        mv_free(&grid);
    }
    mv_elastix_free(t);
    free(txt);

    /* 2D, both of ANTs' layouts: [Translation, field] (the field first) and
       [field, Translation] (the translation first, the field on its result) */
    for (i = 0; i < 2; i++) {
        static const int g2[3] = {3, 5, 1};
        static const double o2[3] = {1, 2, 0}, s2[3] = {0.5, 2, 1}, D2[4] = {1, 0, 0, 1}, c2[3] = {1, 2, 0};
        static const char *tr = "#Transform 0\nTransform: CompositeTransform_double_2_2\n#Transform 1\n"
                                "Transform: TranslationTransform_double_2_2\nParameters: 0.25 -4\nFixedParameters:\n";
        const double B2[3][3] = {{1, 0.5, 0}, {-0.25, 2, 0}, {0, 0, 0}};
        if (i == 0) {
            txt = field_tfm(2, g2, o2, s2, D2, c2, B2, tr);
        } else { /* the field's member first, then the translation's */
            char *body = field_tfm(2, g2, o2, s2, D2, c2, B2, "");
            const char *member = strstr(body, "Transform: Disp");
            txt = (char *)malloc(strlen(body) + 512);
            sprintf(txt, "#Insight Transform File V1.0\n#Transform 0\nTransform: CompositeTransform_double_2_2\n"
                         "#Transform 1\n%s#Transform 2\nTransform: TranslationTransform_double_2_2\nParameters: 0.25 -4\n"
                         "FixedParameters:\n", member);
            free(body);
        }
        REQUIRE_OK(mv_itk_transform_parse(txt, strlen(txt), &t, NULL));
        EXPECT(mv_elastix_ndim(t) == 2 && mv_elastix_links(t) == 2);
        {
            /* field index (0.5, 1.25): p = (1.25, 4.5), d = (1 + 0.5 + 0.625, 2 - 0.125 + 2.5) */
            double x[3] = {1.25, 4.5, 3}, y[3];
            if (i == 1) x[0] -= 0.25, x[1] += 4; /* the translation takes it there first */
            lps_apply(t, x, y);
            EXPECT_MSG(fabs(y[0] - (1.25 + 2.125 + (i ? 0 : 0.25))) <= 1e-12 &&
                           fabs(y[1] - (4.5 + 4.375 + (i ? 0 : -4))) <= 1e-12 && y[2] == 3,
                       "layout %d: %.17g %.17g %.17g", i, y[0], y[1], y[2]);
        }
        mv_elastix_free(t);
        free(txt);
    }

    /* SimpleITK's own files and points: the .h5 [field, Affine] (ANTs'
       inverse layout) over a grid turned a quarter about z, a 2D .tfm
       [Euler2D, field]: inside, in the outer half voxel, on the bounds,
       outside */
    for (i = 0; i < 2; i++) {
        int k, bad_pts = 0;
        file = tu_read_file(i ? "tests/fuzz/corpus/h5/sitk_field_inverse_composite" : "tests/fuzz/corpus/text/sitk_field2d_composite",
                            &n);
        REQUIRE(file != NULL);
        REQUIRE_OK(mv_itk_transform_parse(file, n, &t, NULL));
        EXPECT(mv_elastix_ndim(t) == (i ? 3 : 2) && mv_elastix_links(t) == 2);
        for (k = 0; k < (int)(sizeof(sitk_field_points) / sizeof(sitk_field_points[0])); k++) {
            if (sitk_field_points[k].h5 != i) continue;
            mv_elastix_point(t, sitk_field_points[k].p, q);
            for (a = 0; a < 3; a++) bad_pts += fabs(q[a] - sitk_field_points[k].q[a]) > 1e-12 * (1 + fabs(q[a]));
        }
        EXPECT_MSG(bad_pts == 0, "%s: %d coordinates differ from SimpleITK's", i ? ".h5" : ".tfm", bad_pts);
        mv_elastix_free(t);
        cut_ok &= itk_prefixes_ok(file, n, !i); /* the .tfm (i 0): a prefix may be its first members */
        free(file);
    }

    /* refused, named: counts, kinds, grids */
    {
        static const struct {
            const char *from, *to;
            mv_status st;
            const char *says;
        } bad[] = {
            {"Parameters: 1.5", "Parameters:", MV_ERR_BAD_DATA, "Parameters"},
            {"_double_3_3", "_double_3_2", MV_ERR_UNSUPPORTED, "DisplacementFieldTransform_double_N_N"},
            {"_double_3_3", "_double_3_3_3", MV_ERR_UNSUPPORTED, "DisplacementFieldTransform_double_N_N"},
            {"FixedParameters: 4", "FixedParameters: 0", MV_ERR_BAD_DATA, "grid size[0]"},
            {" -10 5 2 2 ", " -10 5 2 -2 ", MV_ERR_BAD_DATA, "grid spacing[0]"},
            {" 0 -1 0 1 0 0 0 0 1", " 0 -1 0 0 -1 0 0 0 1", MV_ERR_BAD_DATA, "singular"},
            {" 0 -1 0 1 0 0 0 0 1", " 0 -1 0 1 0 0 0 0", MV_ERR_BAD_DATA, "FixedParameters"},
        };
        char *base = field_tfm(3, g, o, s, D, cst, B, "");
        for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
            const char *at = strstr(base, bad[i].from);
            REQUIRE(at != NULL);
            txt = (char *)malloc(strlen(base) + 64);
            memcpy(txt, base, (size_t)(at - base));
            strcpy(txt + (at - base), bad[i].to);
            strcat(txt, at + strlen(bad[i].from));
            EXPECT_STATUS(mv_itk_transform_parse(txt, strlen(txt), &t, NULL), bad[i].st);
            EXPECT_MSG(t == NULL && strstr(mv_last_error(), bad[i].says) != NULL, "%s -> %s: %s", bad[i].from, bad[i].to,
                       mv_last_error());
            free(txt);
        }
        free(base);
    }

    /* ITK's own .h5 (deflated chunks, ANTs' layout [Affine, field]): the
       chain maps each of the field's voxels p to m (p + d(p)), m and d as
       mv_itk_h5_parse_field reads them (d rounded to float32 there) */
    file = tu_read_file("tests/fuzz/corpus/h5/itk_composite_field_deflate", &n);
    REQUIRE(file != NULL);
    REQUIRE_OK(mv_itk_transform_parse(file, n, &t, NULL));
    mv_vol_init(&ff);
    REQUIRE_OK(mv_itk_h5_parse_field(file, n, m, &ff, NULL));
    EXPECT(mv_elastix_ndim(t) == 3 && mv_elastix_links(t) == 2 && ff.ndim == 5);
    {
        const int64_t nv = ff.dim[0] * ff.dim[1] * ff.dim[2];
        int64_t v;
        int bad_pts = 0;
        double worst = 0;
        for (v = 0; v < nv; v++) {
            double idx[3] = {(double)(v % ff.dim[0]), (double)(v / ff.dim[0] % ff.dim[1]), (double)(v / ff.dim[0] / ff.dim[1])};
            double r[3], x[3], want[3];
            for (a = 0; a < 3; a++) r[a] = ff.affine[a][0] * idx[0] + ff.affine[a][1] * idx[1] + ff.affine[a][2] * idx[2] + ff.affine[a][3];
            for (a = 0; a < 3; a++) { /* d is LPS: RAS x and y negated */
                double dv = ((const float *)ff.data)[a * nv + v];
                x[a] = r[a] + (a < 2 ? -dv : dv);
            }
            for (a = 0; a < 3; a++) want[a] = m[a][0] * x[0] + m[a][1] * x[1] + m[a][2] * x[2] + m[a][3];
            mv_elastix_point(t, r, q);
            for (a = 0; a < 3; a++) {
                double e = fabs(q[a] - want[a]);
                worst = e > worst ? e : worst;
                bad_pts += e > 1e-5 * (1 + fabs(want[a]));
            }
        }
        EXPECT_MSG(bad_pts == 0 && nv > 100, "%d coordinates differ (worst %g mm) over %lld voxels", bad_pts, worst,
                   (long long)nv);
    }
    mv_free(&ff);
    mv_elastix_free(t);
    cut_ok &= itk_prefixes_ok(file, n, 0);
    free(file);
    EXPECT(cut_ok);
}

/* The elastix chain the writers' tests start from: an AffineTransform
   (file f->af, parameters elx_chain_affine, centre (4, 4, 4)) whose
   initial transform is a B-spline of `order` (f->bs: GridIndex (-1, 0, 2),
   an oblique grid, coefficients in [-2, 2] from *seed) on an Euler
   transform (f->eu) added to a translation (f->tr); files prefix_*.txt;
   1 when written */
static const char *const elx_chain_affine = "1.02 0.03 -0.01 -0.02 0.98 0.04 0.01 -0.03 1.01 -2 3 0.5";
typedef struct elx_chain_files {
    char tr[1024], eu[1024], bs[1024], af[1024];
} elx_chain_files;
static int elx_test_chain(elx_chain_files *f, const char *prefix, int order, uint64_t *seed)
{
    char name[64], coef[16384], grid[512];
    size_t at = 0;
    int i;
    snprintf(name, sizeof(name), "%s_tr.txt", prefix);
    snprintf(f->tr, sizeof(f->tr), "%s", tu_path(name));
    snprintf(name, sizeof(name), "%s_eu.txt", prefix);
    snprintf(f->eu, sizeof(f->eu), "%s", tu_path(name));
    snprintf(name, sizeof(name), "%s_bs.txt", prefix);
    snprintf(f->bs, sizeof(f->bs), "%s", tu_path(name));
    snprintf(name, sizeof(name), "%s_af.txt", prefix);
    snprintf(f->af, sizeof(f->af), "%s", tu_path(name));
    for (i = 0; i < 8 * 7 * 6 * 3; i++) at += (size_t)snprintf(coef + at, sizeof(coef) - at, " %.6f", 4 * tu_rand01(seed) - 2);
    snprintf(grid, sizeof(grid), "(GridSize 8 7 6)\n(GridIndex -1 0 2)\n(GridSpacing 3 2.5 4)\n(GridOrigin 2 -3 -6)\n"
                                 "(GridDirection 0.6 0.8 0 -0.8 0.6 0 0 0 1)\n(BSplineTransformSplineOrder %d)\n", order);
    return elx_write_tp(f->tr, "TranslationTransform", "1.5 -2 0.75", NULL, 0, NULL) &&
           elx_write_tp(f->eu, "EulerTransform", "0.1 -0.05 0.2 0.5 1 -1", f->tr, 1, "(CenterOfRotationPoint 3 4 5)\n") &&
           elx_write_tp(f->bs, "BSplineTransform", coef, f->eu, 0, grid) &&
           elx_write_tp(f->af, "AffineTransform", elx_chain_affine, f->bs, 0, "(CenterOfRotationPoint 4 4 4)\n");
}

/* A random RAS point about that chain's B-spline valid region (grid
   index [0, 5) x [1, 5) x [3, 6) and half a cell around): c -> LPS
   GridOrigin + GridDirection diag(GridSpacing) c -> RAS */
static void elx_chain_point(uint64_t *seed, double p[3])
{
    const double c[3] = {6 * tu_rand01(seed) - 0.5, 5 * tu_rand01(seed) + 0.5, 4 * tu_rand01(seed) + 2.5};
    p[0] = -(2 + 0.6 * 3 * c[0] - 0.8 * 2.5 * c[1]), p[1] = -(-3 + 0.8 * 3 * c[0] + 0.6 * 2.5 * c[1]);
    p[2] = -6 + 4 * c[2];
}

/* mv_itk_write_transform: an elastix chain [Affine, B-spline (order 3,
   GridIndex (-1, 0, 2), an oblique grid; points over its box), Euler added to a translation]
   written as .tfm and .h5 (contiguous, deflated) reads back as ITK's
   [Affine, BSplineTransform, Affine] mapping every point as the chain
   does (the B-spline's origin moved by its index, the added matrices
   summed: within 1e-9 mm); SimpleITK's own files rewritten map
   SimpleITK's points; refusals named, no file left. (SimpleITK against
   transformix on written files: tests/py/diff_elastix.py, family
   to_itk.) */
MV_TEST(register, itk_chain_written)
{
    static const char *const outs[4] = {"chain.tfm", "chain.h5", "chain_z.h5", "chain.HDF5"};
    char af2[1024];
    elx_chain_files ch;
    mv_elastix_transform *t = NULL, *t2 = NULL, *u = NULL;
    uint64_t seed = 11;
    unsigned char *file;
    double m[4][4], p[3], q[3], r[3];
    size_t n;
    int i, k, a, cut_ok = 1, moved = 0;
    REQUIRE(elx_test_chain(&ch, "itkw", 3, &seed));
    snprintf(af2, sizeof(af2), "%s", tu_path("itkw_af2.txt"));
    REQUIRE(elx_write_tp(af2, "AffineTransform", elx_chain_affine, ch.eu, 0, "(CenterOfRotationPoint 4 4 4)\n")); /* without the B-spline */
    REQUIRE_OK(mv_elastix_read(ch.af, &t, NULL));
    REQUIRE_OK(mv_elastix_read(af2, &t2, NULL));
    REQUIRE(mv_elastix_links(t) == 4);
    for (k = 0; k < 4; k++) {
        double worst = 0;
        REQUIRE_OK(mv_itk_write_transform(tu_path(outs[k]), t, k == 2 ? 6 : 0));
        REQUIRE_OK(mv_itk_transform_read(tu_path(outs[k]), &u, NULL));
        EXPECT_EQ_INT(mv_elastix_links(u), 3); /* Affine, B-spline, Euler + translation - I */
        for (i = 0; i < 400; i++) {
            elx_chain_point(&seed, p);
            REQUIRE_OK(mv_elastix_point(t, p, q));
            REQUIRE_OK(mv_elastix_point(u, p, r));
            for (a = 0; a < 3; a++) worst = fmax(worst, fabs(q[a] - r[a]));
            if (k == 0) {
                REQUIRE_OK(mv_elastix_point(t2, p, r));
                moved += fabs(q[0] - r[0]) + fabs(q[1] - r[1]) + fabs(q[2] - r[2]) > 1e-3;
            }
        }
        EXPECT_MSG(worst <= 1e-9, "%s: a point %.3g mm away from the elastix chain's", outs[k], worst);
        mv_elastix_free(u);
        u = NULL;
    }
    EXPECT_MSG(moved > 120, "only %d of 400 points inside the B-spline's region", moved);
    file = tu_read_file(tu_path("chain_z.h5"), &n);
    REQUIRE(file != NULL);
    cut_ok &= itk_prefixes_ok(file, n, 0);
    free(file);
    mv_elastix_free(t2);

    /* refused, named, no file: a B-spline added to the transforms before it */
    REQUIRE(elx_write_tp(af2, "AffineTransform", elx_chain_affine, ch.bs, 1, "(CenterOfRotationPoint 4 4 4)\n"));
    mv_elastix_free(t);
    REQUIRE_OK(mv_elastix_read(af2, &t, NULL));
    EXPECT_STATUS(mv_itk_write_transform(tu_path("chain_add.h5"), t, 0), MV_ERR_UNSUPPORTED);
    EXPECT_MSG(strstr(mv_last_error(), "Add") != NULL, "%s", mv_last_error());
    EXPECT(access(tu_path("chain_add.h5"), F_OK) != 0);
    EXPECT_STATUS(mv_itk_write_transform(tu_path("chain_add.h5"), t, 10), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_itk_write_transform(NULL, t, 0), MV_ERR_INVALID_ARG);
    mv_elastix_free(t);

    /* SimpleITK's own files ([field, Affine] .h5, 2D [Euler2D, field] .tfm)
       rewritten in the other form: SimpleITK's points */
    for (i = 0; i < 2; i++) {
        int bad_pts = 0;
        const char *out = tu_path(i ? "sitk_rewritten.tfm" : "sitk_rewritten.h5");
        file = tu_read_file(i ? "tests/fuzz/corpus/h5/sitk_field_inverse_composite" : "tests/fuzz/corpus/text/sitk_field2d_composite",
                            &n);
        REQUIRE(file != NULL);
        REQUIRE_OK(mv_itk_transform_parse(file, n, &t, NULL));
        free(file);
        REQUIRE_OK(mv_itk_write_transform(out, t, 3));
        mv_elastix_free(t);
        REQUIRE_OK(mv_itk_transform_read(out, &t, NULL));
        EXPECT(mv_elastix_ndim(t) == (i ? 3 : 2) && mv_elastix_links(t) == 2);
        for (k = 0; k < (int)(sizeof(sitk_field_points) / sizeof(sitk_field_points[0])); k++) {
            if (sitk_field_points[k].h5 != i) continue;
            mv_elastix_point(t, sitk_field_points[k].p, q);
            for (a = 0; a < 3; a++) bad_pts += fabs(q[a] - sitk_field_points[k].q[a]) > 1e-12 * (1 + fabs(q[a]));
        }
        EXPECT_MSG(bad_pts == 0, "%s: %d coordinates differ from SimpleITK's", out, bad_pts);
        mv_elastix_free(t);
    }

    /* the longest chain: a composite of 16 members, fields on 3^3 grids
       between affines (none folded), written with 16 grids' chunk indexes
       and read back to the same bits */
    {
        size_t cap = 1 << 16, tl = 0;
        char *txt = (char *)malloc(cap);
        int mem, same = 1;
        REQUIRE(txt != NULL);
        tl += (size_t)snprintf(txt + tl, cap - tl, "#Insight Transform File V1.0\n#Transform 0\nTransform: CompositeTransform_double_3_3\n");
        for (mem = 1; mem <= MV_ELASTIX_MAX_CHAIN; mem++) {
            tl += (size_t)snprintf(txt + tl, cap - tl, "#Transform %d\nTransform: %s_double_3_3\nParameters:", mem,
                                   mem % 2 ? "DisplacementFieldTransform" : "AffineTransform");
            for (i = 0; i < (mem % 2 ? 81 : 12); i++)
                tl += (size_t)snprintf(txt + tl, cap - tl, " %.17g",
                                       mem % 2 ? tu_rand01(&seed) - 0.5 : (i < 9 ? (i % 4 == 0) + 0.05 * (tu_rand01(&seed) - 0.5) : tu_rand01(&seed)));
            tl += (size_t)snprintf(txt + tl, cap - tl, "\nFixedParameters:%s\n",
                                   mem % 2 ? " 3 3 3 -4 -4 -4 4 4 4 1 0 0 0 1 0 0 0 1" : " 0 0 0");
        }
        REQUIRE(tl < cap);
        REQUIRE_OK(mv_itk_transform_parse(txt, tl, &t, NULL));
        free(txt);
        EXPECT_EQ_INT(mv_elastix_links(t), MV_ELASTIX_MAX_CHAIN);
        for (k = 0; k < 2; k++) {
            REQUIRE_OK(mv_itk_write_transform(tu_path("chain16.h5"), t, k));
            REQUIRE_OK(mv_itk_transform_read(tu_path("chain16.h5"), &u, NULL));
            EXPECT_EQ_INT(mv_elastix_links(u), MV_ELASTIX_MAX_CHAIN);
            for (i = 0; i < 200; i++) {
                for (a = 0; a < 3; a++) p[a] = 14 * tu_rand01(&seed) - 7;
                mv_elastix_point(t, p, q);
                mv_elastix_point(u, p, r);
                same &= q[0] == r[0] && q[1] == r[1] && q[2] == r[2];
            }
            mv_elastix_free(u);
            u = NULL;
        }
        EXPECT_MSG(same, "the 16-member composite read back maps a point elsewhere");
        mv_elastix_free(t);
    }

    /* a 2D .mat (ANTs' 2D GenericAffine) is a 2D transform, as SimpleITK reads it */
    memset(m, 0, sizeof(m));
    m[0][0] = 0.9, m[0][1] = 0.1, m[1][0] = -0.1, m[1][1] = 1.1, m[2][2] = m[3][3] = 1, m[0][3] = 3, m[1][3] = -4;
    REQUIRE_OK(mv_itk_mat_write(tu_path("affine2d.mat"), (const double(*)[4])m, 2));
    REQUIRE_OK(mv_itk_transform_read(tu_path("affine2d.mat"), &t, NULL));
    EXPECT_EQ_INT(mv_elastix_ndim(t), 2);
    mv_elastix_free(t);
    EXPECT_MSG(cut_ok, "a prefix of the written .h5 parsed, or left the chain set on failure");
}

/* Chains written as elastix files (mv_elastix_write_transform) and read
   back: an elastix chain [Affine, B-spline (GridIndex, oblique), Euler
   added to a translation] on its own fixed grid maps points to the same
   bits, its "Add" kept; SimpleITK's [field, Affine] .h5 and 2D [Euler2D,
   field] .tfm on a given fixed grid map SimpleITK's tabulated points
   within the float32 rounding of the field's vectors (elastix holds fields
   in float), the field beside as OUT-K-field.mha; refusals leave no file,
   and a failure at the last file removes those written before it.
   transformix itself reads such files in tests/py/diff_elastix.py
   (family from_itk). */
MV_TEST(register, elastix_chain_written)
{
    char out[1024];
    elx_chain_files ch;
    mv_elastix_transform *t = NULL, *u = NULL;
    mv_vol fixed;
    uint64_t seed = 5;
    unsigned char *file;
    const int64_t dims3[3] = {8, 8, 8}, dims2[3] = {8, 8, 1};
    double p[3], q[3], r[3];
    size_t n;
    int i, k, a, same = 1, moved = 0;
    REQUIRE(elx_test_chain(&ch, "elxw", 2, &seed));
    REQUIRE_OK(mv_elastix_read(ch.af, &t, NULL));
    snprintf(out, sizeof(out), "%s", tu_path("elxw_out.txt"));
    REQUIRE_OK(mv_elastix_write_transform(out, t, NULL, MV_INTERP_CUBIC));
    REQUIRE_OK(mv_elastix_read(out, &u, NULL));
    EXPECT_EQ_INT(mv_elastix_links(u), 4);
    for (i = 0; i < 400; i++) {
        elx_chain_point(&seed, p);
        REQUIRE_OK(mv_elastix_point(t, p, q));
        REQUIRE_OK(mv_elastix_point(u, p, r));
        same &= q[0] == r[0] && q[1] == r[1] && q[2] == r[2];
    }
    EXPECT_MSG(same, "the elastix chain written and read back maps a point elsewhere");
    {
        int64_t gd[3], gd2[3];
        double ga[4][4], ga2[4][4];
        REQUIRE_OK(mv_elastix_grid(t, gd, ga));
        REQUIRE_OK(mv_elastix_grid(u, gd2, ga2));
        EXPECT(gd[0] == gd2[0] && gd[1] == gd2[1] && gd[2] == gd2[2] && memcmp(ga, ga2, sizeof(ga)) == 0);
    }
    mv_elastix_free(u);
    u = NULL;
    file = tu_read_file(tu_path("elxw_out-2.txt"), &n); /* the Euler: added, named after the B-spline's file */
    REQUIRE(file != NULL);
    file = (unsigned char *)realloc(file, n + 1);
    REQUIRE(file != NULL);
    file[n] = 0;
    EXPECT(strstr((const char *)file, "(HowToCombineTransforms \"Add\")") != NULL);
    EXPECT(strstr((const char *)file, "elxw_out-3.txt\")") != NULL);
    free(file);
    file = tu_read_file(out, &n);
    REQUIRE(file != NULL);
    file = (unsigned char *)realloc(file, n + 1);
    REQUIRE(file != NULL);
    file[n] = 0;
    EXPECT(strstr((const char *)file, "(FinalBSplineInterpolationOrder 3)") != NULL);
    free(file);

    /* a failure at the last file (a folder holds its name) leaves none of the chain */
    snprintf(out, sizeof(out), "%s", tu_path("elxw_dir.txt"));
    REQUIRE(mkdir(out, 0755) == 0 || errno == EEXIST);
    EXPECT(mv_elastix_write_transform(out, t, NULL, MV_INTERP_LINEAR) != MV_OK);
    EXPECT(access(tu_path("elxw_dir-1.txt"), F_OK) != 0 && access(tu_path("elxw_dir-3.txt"), F_OK) != 0);
    rmdir(out);
    EXPECT_STATUS(mv_elastix_write_transform(tu_path("elxw_bad.txt"), t, NULL, (mv_interp)99), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_elastix_write_transform(NULL, t, NULL, MV_INTERP_LINEAR), MV_ERR_INVALID_ARG);
    mv_elastix_free(t);
    t = NULL;

    /* SimpleITK's field composites on a given fixed grid */
    for (k = 0; k < 2; k++) {
        int bad_pts = 0, nd = k ? 3 : 2;
        char field[1024];
        file = tu_read_file(k ? "tests/fuzz/corpus/h5/sitk_field_inverse_composite" : "tests/fuzz/corpus/text/sitk_field2d_composite",
                            &n);
        REQUIRE(file != NULL);
        REQUIRE_OK(mv_itk_transform_parse(file, n, &t, NULL));
        free(file);
        snprintf(out, sizeof(out), "%s", tu_path(k ? "elxw_sitk3.txt" : "elxw_sitk2.txt"));
        /* an ITK file has no fixed grid of its own; a 2D chain needs a fixed image of one slice */
        EXPECT_STATUS(mv_elastix_write_transform(out, t, NULL, MV_INTERP_LINEAR), MV_ERR_INVALID_ARG);
        EXPECT_MSG(strstr(mv_last_error(), "fixed grid") != NULL, "%s", mv_last_error());
        EXPECT(access(out, F_OK) != 0);
        REQUIRE_OK(mv_vol_alloc(&fixed, MV_DT_U8, 3, dims3, NULL));
        if (!k) EXPECT_STATUS(mv_elastix_write_transform(out, t, &fixed, MV_INTERP_LINEAR), MV_ERR_INVALID_ARG);
        mv_free(&fixed);
        REQUIRE_OK(mv_vol_alloc(&fixed, MV_DT_U8, 3, k ? dims3 : dims2, NULL));
        REQUIRE_OK(mv_elastix_write_transform(out, t, &fixed, MV_INTERP_NEAREST));
        mv_free(&fixed);
        /* [Euler2D, field]: the field is link 1; [field, Affine]: link 0 */
        snprintf(field, sizeof(field), "%s", tu_path(k ? "elxw_sitk3-field.mha" : "elxw_sitk2-1-field.mha"));
        EXPECT_MSG(access(field, F_OK) == 0, "no %s", field);
        snprintf(field, sizeof(field), "%s", tu_path(k ? "elxw_sitk3-1-field.mha" : "elxw_sitk2-field.mha"));
        EXPECT(access(field, F_OK) != 0);
        REQUIRE_OK(mv_elastix_read(out, &u, NULL));
        EXPECT(mv_elastix_ndim(u) == nd && mv_elastix_links(u) == 2);
        for (i = 0; i < (int)(sizeof(sitk_field_points) / sizeof(sitk_field_points[0])); i++) {
            if (sitk_field_points[i].h5 != k) continue;
            mv_elastix_point(u, sitk_field_points[i].p, q);
            for (a = 0; a < 3; a++) bad_pts += fabs(q[a] - sitk_field_points[i].q[a]) > 1e-5;
            moved += fabs(q[0] - sitk_field_points[i].p[0]) > 1e-3;
        }
        EXPECT_MSG(bad_pts == 0, "%s: %d coordinates differ from SimpleITK's", out, bad_pts);
        mv_elastix_free(u);
        mv_elastix_free(t);
        u = t = NULL;
    }
    EXPECT(moved > 6);
}

/* from tests/py/make_sitk_dense_fixtures.py (SimpleITK 2.5.7) */
static const struct {
    int members;
    double p[3], q[3];
} sitk_dense_points[8] = {
    {12, {-11.677640796883736, 7.0847825585732878, -12.862723774973677}, {-10.348808608233394, 22.367624178505128, -15.720853747281414}},
    {12, {19.183524619584801, -19.082914268088203, 23.484097867750869}, {12.590886452835131, -24.016071089949889, 1.0295055130755228}},
    {12, {-16.326036864844667, 20.084412350425684, 19.848267742249298}, {-20.561778677941501, 14.014145351458525, 17.241572750338804}},
    {12, {8.4829529175567409, 13.967260831740415, 15.69358185020468}, {4.4112090694125499, 8.3117698140608312, 13.499951739546956}},
    {52, {23.869391535252149, 28.442364720062923, 16.579778062151121}, {11.251129705720924, 65.984072759087169, 28.523966074007838}},
    {52, {22.061491319710818, 29.069879723570946, -9.0321927860462985}, {0.4296281544900401, 77.516616809880659, 8.2870972230439719}},
    {52, {22.646074695151995, -19.487511364204281, 17.414293132106479}, {6.1748637920181704, 22.523985458915888, 8.9046318044324586}},
    {52, {28.673932845956113, -13.190106045568534, -8.4270666242321752}, {3.0526732199276401, 39.888028749520743, -11.892247488467829}},
};

/* sitk_dense_points of the composite of `members` through t: the
   coordinates more than 1e-9 mm off */
static int dense_points_off(const mv_elastix_transform *t, int members)
{
    double q[3];
    int i, a, off = 0;
    for (i = 0; i < (int)(sizeof(sitk_dense_points) / sizeof(sitk_dense_points[0])); i++) {
        if (sitk_dense_points[i].members != members) continue;
        mv_elastix_point(t, sitk_dense_points[i].p, q);
        for (a = 0; a < 3; a++) off += !(fabs(q[a] - sitk_dense_points[i].q[a]) <= 1e-9);
    }
    return off;
}

/* ITK 5's composites of 8 members or more: their /TransformGroup holds its
   links in dense storage (a fractal heap indexed by a version 2 B-tree),
   read link by link by name. SimpleITK's files of 12 members (one heap
   block, a B-tree leaf) and 52 (an indirect heap block, a B-tree of two
   levels), Euler rotations and translations in turn, map SimpleITK's
   tabulated points; every cut is refused; a bit flipped in the dense
   storage's blocks (the heap's header and direct blocks, the B-tree's
   header and nodes, at their sizes in these files: every 5th byte) is
   refused, each carrying a checksum, or changes no point (raw parameter
   data has no checksum in HDF5: not flipped). Random composites:
   tests/py/diff_sitk.py, family h5_dense. */
MV_TEST(register, itk_h5_dense_links)
{
    static const char *const files[2] = {"tests/fuzz/corpus/h5/sitk_dense12", "tests/fuzz/corpus/h5/sitk_dense52"};
    static const struct {
        char sig[5];
        size_t len;
    } blocks[5] = {{"FRHP", 146}, {"FHDB", 512}, {"BTHD", 38}, {"BTLF", 512}, {"BTIN", 512}};
    mv_elastix_transform *t = NULL;
    unsigned char *file;
    size_t n, at, k;
    int f, b, bad = 0, silent = 0, cut_ok = 1, refused = 0;
    for (f = 0; f < 2; f++) {
        const int members = f ? 52 : 12;
        file = tu_read_file(files[f], &n);
        REQUIRE(file != NULL);
        REQUIRE_OK(mv_itk_transform_parse(file, n, &t, NULL));
        EXPECT_EQ_INT(mv_elastix_ndim(t), 3);
        bad += dense_points_off(t, members);
        mv_elastix_free(t);
        t = NULL;
        cut_ok &= itk_prefixes_ok(file, n, 0);
        for (at = 0; at + 4 <= n; at++)
            for (b = 0; b < 5; b++) {
                if (memcmp(file + at, blocks[b].sig, 4) != 0) continue;
                for (k = at; k < at + blocks[b].len && k < n; k += 5) {
                    file[k] ^= 0x10;
                    if (mv_itk_transform_parse(file, n, &t, NULL) == MV_OK) {
                        silent += dense_points_off(t, members);
                        mv_elastix_free(t);
                        t = NULL;
                    } else {
                        refused++;
                        EXPECT(t == NULL);
                    }
                    file[k] ^= 0x10;
                }
            }
        free(file);
    }
    EXPECT_MSG(bad == 0, "%d coordinates differ from SimpleITK's", bad);
    EXPECT_MSG(cut_ok, "a cut file parsed, or left the chain set on failure");
    EXPECT_MSG(silent == 0, "%d coordinates moved by a flipped bit that was not refused", silent);
    EXPECT_MSG(refused > 400, "only %d flipped files refused", refused);
}
