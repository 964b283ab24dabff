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
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
