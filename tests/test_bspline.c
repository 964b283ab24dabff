/* test_bspline.c - cubic B-spline FFD (>>api-bspline) against independent
   references: the dense field against scipy.interpolate.BSpline
   (design_matrix, float64; tests/py/ref_bspline.py), subdivision against
   the unrefined field, the bending energy against closed forms (a
   quadratic, a bilinear and a cubic displacement, which cubic B-splines
   reproduce exactly), cost gradients against central differences of the
   cost, recovery of known smooth deformations of a real brain MRI
   (nibabel's anatomical.nii, 3D and one slice as 2D) with the error
   against the true inverse field and a fold count, thread-count
   determinism, cancel, and argument errors. */
#include "testutil.h"
#include <stdlib.h>

/* RAS affine: rotation rz about z, spacing, offset */
static void bs_affine(double A[4][4], double rz, const double sp[3], const double off[3])
{
    double cz = cos(rz), sz = sin(rz);
    double R[3][3] = {{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}};
    int r, c;
    memset(A, 0, 16 * sizeof(double));
    for (r = 0; r < 3; r++) {
        for (c = 0; c < 3; c++) A[r][c] = R[r][c] * sp[c];
        A[r][3] = off[r];
    }
    A[3][3] = 1;
}

static void bs_blank(mv_vol *v, int64_t X, int64_t Y, int64_t Z, double rz, const double sp[3])
{
    int64_t dims[3];
    double A[4][4], off[3] = {-10, 5, 3};
    dims[0] = X, dims[1] = Y, dims[2] = Z;
    REQUIRE_OK(mv_vol_alloc(v, MV_DT_F32, 3, dims, NULL));
    bs_affine(A, rz, sp, off);
    memcpy(v->affine, A, sizeof(A));
    v->spacing[0] = sp[0], v->spacing[1] = sp[1], v->spacing[2] = sp[2];
}

static int bs_load_anatomical(mv_vol *F)
{
    mv_load_opts lo = MV_ZERO_INIT;
    char path[1200];
    const char *dir = tu_data_dir();
    if (!dir) return 0;
    snprintf(path, sizeof(path), "%s/nifti/anatomical.nii", dir);
    lo.dtype = MV_DT_F32;
    lo.scaled = 1;
    return mv_load(path, F, &lo) == MV_OK;
}

/* slice k of a 3D float32 volume as a 2D image (dim[2] = 1) */
static void bs_slice(const mv_vol *F3, int64_t k, mv_vol *F)
{
    int64_t dims[3];
    dims[0] = F3->dim[0], dims[1] = F3->dim[1], dims[2] = 1;
    REQUIRE_OK(mv_vol_alloc(F, MV_DT_F32, 3, dims, NULL));
    memcpy(F->data, (const float *)F3->data + (size_t)(k * dims[0] * dims[1]), (size_t)(dims[0] * dims[1]) * 4);
    memcpy(F->affine, F3->affine, sizeof(F->affine));
    F->spacing[0] = F3->spacing[0], F->spacing[1] = F3->spacing[1], F->spacing[2] = F3->spacing[2];
}

static void bs_random_coef(mv_bspline_grid *g, double amp, uint64_t seed)
{
    int64_t n = mv_bspline_grid_ncoef(g), i;
    uint64_t s = seed;
    for (i = 0; i < n; i++) g->coef[i] = amp * (2 * tu_rand01(&s) - 1);
}

/* ---- the dense field against scipy's BSpline ---- */

static void bs_scipy_case(const mv_vol *fixed, const double spacing_mm[3], const char *what)
{
    mv_bspline_grid g, r;
    mv_vol f1, f2, f3;
    mv_field_opts fo = MV_ZERO_INIT;
    char args[1300], out[512], txt[512];
    FILE *fp;
    size_t nv, i;
    double got, ref, maxd = 0, maxv = 0;
    REQUIRE_OK(mv_bspline_grid_init(&g, fixed, spacing_mm, NULL));
    bs_random_coef(&g, 2.0, 77);
    mv_vol_init(&f1);
    fo.threads = 1;
    REQUIRE_OK(mv_bspline_field(&g, fixed, &f1, &fo));
    /* the same bits on 3 threads */
    mv_vol_init(&f2);
    fo.threads = 3;
    REQUIRE_OK(mv_bspline_field(&g, fixed, &f2, &fo));
    EXPECT_MSG(memcmp(f1.data, f2.data, mv_vol_bytes(&f1)) == 0, "%s: 1 and 3 threads differ", what);
    /* subdivision keeps the function */
    REQUIRE_OK(mv_bspline_grid_refine(&g, &r));
    EXPECT(r.n[0] == 2 * g.n[0] - 3 && (g.n[1] == 1 || r.n[1] == 2 * g.n[1] - 3));
    mv_vol_init(&f3);
    REQUIRE_OK(mv_bspline_field(&r, fixed, &f3, &fo));
    nv = mv_vol_bytes(&f1) / 4;
    for (i = 0; i < nv; i++) {
        double a = ((float *)f1.data)[i], b = ((float *)f3.data)[i];
        maxd = fabs(a - b) > maxd ? fabs(a - b) : maxd;
        maxv = fabs(a) > maxv ? fabs(a) : maxv;
    }
    printf("    %s: grid %lldx%lldx%lld, refined %lldx%lldx%lld: max |field change| %.3g of %.3g mm\n", what,
           (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], (long long)r.n[0], (long long)r.n[1],
           (long long)r.n[2], maxd, maxv);
    EXPECT_MSG(maxd <= 2e-6 * maxv, "%s: refinement changed the field by %g mm", what, maxd);
    /* scipy */
    if (!tu_python("numpy scipy nibabel")) {
        printf("    %s: scipy check skipped (python3 with numpy, scipy, nibabel not found)\n", what);
    } else {
        REQUIRE_OK(mv_field_save(tu_file("bspline", "field.nii"), &f1, NULL));
        REQUIRE(tu_write_file(tu_file("bspline", "coef.bin"), g.coef, (size_t)mv_bspline_grid_ncoef(&g) * sizeof(double)));
        snprintf(txt, sizeof(txt), "%d %lld %lld %lld %.17g %.17g %.17g %.17g %.17g %.17g %lld %lld %lld\n", g.ndim,
                 (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], g.spacing[0], g.spacing[1], g.spacing[2],
                 g.origin[0], g.origin[1], g.origin[2], (long long)g.fdim[0], (long long)g.fdim[1], (long long)g.fdim[2]);
        fp = fopen(tu_file("bspline", "grid.txt"), "w");
        REQUIRE(fp != NULL);
        fputs(txt, fp);
        fclose(fp);
        snprintf(args, sizeof(args), "field %s", tu_dir("bspline"));
        REQUIRE(tu_run_py("ref_bspline.py", args, out, sizeof(out)) == 0);
        if (strncmp(out, "skip", 4) == 0) {
            printf("    %s: %s", what, out);
        } else {
            if (strncmp(out, "ok", 2) != 0) printf("    ref_bspline.py: %s\n", out);
            REQUIRE(strncmp(out, "ok", 2) == 0);
            {
                char *q = out + 2;
                got = strtod(q, &q);
                ref = strtod(q, &q);
            }
            printf("    %s: max |medvol - scipy BSpline| %.3g mm of max %.3g mm\n", what, got, ref);
            EXPECT(ref > 0.5);
            EXPECT_MSG(got <= 1e-6 * ref + 1e-7, "%s: field differs from scipy by %g", what, got);
        }
    }
    mv_free(&f1);
    mv_free(&f2);
    mv_free(&f3);
    mv_bspline_grid_free(&g);
    mv_bspline_grid_free(&r);
}

MV_TEST(bspline, field_matches_scipy_bspline)
{
    mv_vol v;
    double sp3[3] = {1.2, 0.9, 2.0}, sp2[3] = {0.7, 1.1, 1};
    double g3[3] = {5.0, 4.0, 7.0}, g2[3] = {3.0, 0, 0};
    bs_blank(&v, 23, 19, 13, 0.3, sp3);
    bs_scipy_case(&v, g3, "3D 23x19x13 oblique");
    mv_free(&v);
    bs_blank(&v, 31, 17, 1, -0.2, sp2);
    bs_scipy_case(&v, g2, "2D 31x17");
    mv_free(&v);
}

/* ---- bending energy ---- */

MV_TEST(bspline, bending_energy_closed_forms)
{
    mv_vol v;
    mv_bspline_grid g;
    double sp[3] = {1.5, 1.0, 2.0}, gs[3] = {6.0, 5.0, 8.0}, h[3], a = 0.03, b = 0.02, e = 0.001, be, expect, u0, u1;
    int64_t i, j, k, n0, n1, n2, per;
    double *grad, *grad2;
    bs_blank(&v, 20, 16, 12, 0.4, sp);
    REQUIRE_OK(mv_bspline_grid_init(&g, &v, gs, NULL));
    n0 = g.n[0], n1 = g.n[1], n2 = g.n[2], per = n0 * n1 * n2;
    for (i = 0; i < 3; i++) h[i] = g.spacing[i] * sp[i];
    /* d0 = a u^2 (u mm along axis 0), d1 = b u v, d2 = e w^3 (w along axis 2):
       cubic B-splines reproduce t^2 with c_j = j^2 - 1/3, t with c_j = j and
       t^3 with c_j = j^3 - j (control j at t = j) */
    for (k = 0; k < n2; k++)
        for (j = 0; j < n1; j++)
            for (i = 0; i < n0; i++) {
                int64_t q = (k * n1 + j) * n0 + i;
                double ti = (double)i, tj = (double)j, tk = (double)k;
                g.coef[q] = a * h[0] * h[0] * (ti * ti - 1.0 / 3.0);
                g.coef[per + q] = b * h[0] * h[1] * ti * tj;
                g.coef[2 * per + q] = e * h[2] * h[2] * h[2] * (tk * tk * tk - tk);
            }
    REQUIRE_OK(mv_bspline_bending_energy(&g, &be, NULL));
    /* mean over the domain t in [1, n-2]: (2a)^2 + 2 b^2 + mean (6 e w)^2 */
    u0 = h[2] * 1.0, u1 = h[2] * (double)(n2 - 2);
    expect = 4 * a * a + 2 * b * b + 36 * e * e * (u1 * u1 * u1 - u0 * u0 * u0) / (3 * (u1 - u0));
    printf("    bending energy %.12g, closed form %.12g\n", be, expect);
    EXPECT_NEAR(be, expect, 1e-10 * expect);
    /* gradient against central differences (BE is quadratic: exact up to rounding) */
    bs_random_coef(&g, 1.0, 5);
    grad = (double *)calloc((size_t)(3 * per), sizeof(double));
    grad2 = (double *)calloc((size_t)(3 * per), sizeof(double));
    REQUIRE(grad && grad2);
    REQUIRE_OK(mv_bspline_bending_energy(&g, &be, grad));
    for (i = 0; i < 3 * per; i += 37) {
        double keep = g.coef[i], fp, fm, hh = 1e-3;
        g.coef[i] = keep + hh;
        REQUIRE_OK(mv_bspline_bending_energy(&g, &fp, grad2));
        g.coef[i] = keep - hh;
        REQUIRE_OK(mv_bspline_bending_energy(&g, &fm, grad2));
        g.coef[i] = keep;
        EXPECT_NEAR(grad[i], (fp - fm) / (2 * hh), 1e-7 * (fabs(grad[i]) + 1e-3));
    }
    free(grad);
    free(grad2);
    mv_bspline_grid_free(&g);
    mv_free(&v);
    /* 2D: d1 = a v^2 along axis 1 */
    {
        double sp2[3] = {0.8, 1.3, 1}, g2[3] = {4.0, 0, 0};
        bs_blank(&v, 30, 22, 1, 0.0, sp2);
        REQUIRE_OK(mv_bspline_grid_init(&g, &v, g2, NULL));
        EXPECT(g.ndim == 2 && g.n[2] == 1);
        per = g.n[0] * g.n[1];
        for (j = 0; j < g.n[1]; j++)
            for (i = 0; i < g.n[0]; i++)
                g.coef[per + j * g.n[0] + i] = a * g.spacing[1] * 1.3 * g.spacing[1] * 1.3 * ((double)(j * j) - 1.0 / 3.0);
        REQUIRE_OK(mv_bspline_bending_energy(&g, &be, NULL));
        EXPECT_NEAR(be, 4 * a * a, 1e-10 * 4 * a * a);
        mv_bspline_grid_free(&g);
        mv_free(&v);
    }
}

/* ---- cost gradient against finite differences ---- */

/* moving = fixed warped by a smooth field of amplitude amp mm */
static void bs_deformed(const mv_vol *F, double amp, int is2d, mv_vol *M, mv_vol *dtrue)
{
    mv_vol g;
    mv_field_opts fo = MV_ZERO_INIT;
    int64_t X = F->dim[0], Y = F->dim[1], Z = is2d ? 1 : F->dim[2], i, j, k;
    size_t nv = (size_t)(X * Y * Z);
    int c, nc = is2d ? 2 : 3;
    REQUIRE_OK(mv_field_alloc(&g, F, nc, NULL));
    for (c = 0; c < nc; c++)
        for (k = 0; k < Z; k++)
            for (j = 0; j < Y; j++)
                for (i = 0; i < X; i++)
                    ((float *)g.data)[(size_t)c * nv + (size_t)((k * Y + j) * X + i)] =
                        (float)(amp * sin(6.283 * (double)i / (double)X + 1.1 * c) *
                                sin(6.283 * (double)j / (double)Y + 0.5) *
                                (is2d ? 1.0 : cos(3.1416 * (double)k / (double)Z - 0.3 * c)));
    mv_vol_init(M);
    REQUIRE_OK(mv_field_warp(F, &g, NULL, M, &fo));
    if (dtrue) {
        REQUIRE_OK(mv_field_alloc(dtrue, F, nc, NULL));
        fo.max_iter = 200;
        REQUIRE_OK(mv_field_invert_into(&g, dtrue, &fo, NULL));
    }
    mv_free(&g);
}

static void bs_grad_case(const mv_vol *F, const mv_vol *M, mv_metric_type metric, int order, const char *what)
{
    mv_bspline_grid g;
    mv_bspline_opts o = MV_ZERO_INIT;
    double gs[3] = {12.0, 0, 0}, val, val2, *grad, *grad2, gmax = 0;
    int64_t n, i, ns, checked = 0, worst = -1;
    double worst_err = 0;
    REQUIRE_OK(mv_bspline_grid_init(&g, F, gs, NULL));
    bs_random_coef(&g, 1.5, 11);
    n = mv_bspline_grid_ncoef(&g);
    grad = (double *)calloc((size_t)n, sizeof(double));
    grad2 = (double *)calloc((size_t)n, sizeof(double));
    REQUIRE(grad && grad2);
    o.metric.metric = metric;
    o.moving_order = order;
    o.metric.sampling = MV_SAMPLING_FULL;
    o.regularization = metric == MV_METRIC_MSE ? 50.0 : 0.05;
    o.metric.threads = 1;
    REQUIRE_OK(mv_bspline_cost(F, M, &g, &o, &val, grad, &ns));
    o.metric.threads = 2;
    REQUIRE_OK(mv_bspline_cost(F, M, &g, &o, &val2, grad2, NULL));
    EXPECT_MSG(val == val2 && memcmp(grad, grad2, (size_t)n * sizeof(double)) == 0, "%s: 1 and 2 threads differ", what);
    for (i = 0; i < n; i++) gmax = fabs(grad[i]) > gmax ? fabs(grad[i]) : gmax;
    EXPECT(gmax > 0);
    for (i = 0; i < n; i += n > 1000 ? 13 : 3) {
        double keep = g.coef[i], fp, fm, fd, h = 1e-5;
        if (fabs(grad[i]) < 0.05 * gmax && i % 5) continue; /* the large ones and a sample of the rest */
        g.coef[i] = keep + h;
        REQUIRE_OK(mv_bspline_cost(F, M, &g, &o, &fp, NULL, NULL));
        g.coef[i] = keep - h;
        REQUIRE_OK(mv_bspline_cost(F, M, &g, &o, &fm, NULL, NULL));
        g.coef[i] = keep;
        fd = (fp - fm) / (2 * h);
        checked++;
        if (fabs(fd - grad[i]) > worst_err) worst_err = fabs(fd - grad[i]), worst = i;
    }
    printf("    %s: cost %.6g over %lld samples, %lld coefficients, %lld checked: worst |analytic - central "
           "difference| %.3g (coefficient %lld) of max |grad| %.3g\n",
           what, val, (long long)ns, (long long)n, (long long)checked, worst_err, (long long)worst, gmax);
    EXPECT(checked >= 10);
    /* trilinear moving values bend at voxel faces: a difference step of
       1e-5 mm crosses one now and then, as mv_metric_evaluate's test says */
    EXPECT_MSG(worst_err <= 2e-3 * gmax, "%s: gradient error %g of %g", what, worst_err, gmax);
    free(grad);
    free(grad2);
    mv_bspline_grid_free(&g);
}

MV_TEST(bspline, cost_gradient_matches_finite_differences)
{
    mv_vol F3, M3, F2, M2;
    if (!bs_load_anatomical(&F3)) SKIP("../shared/data/nifti/anatomical.nii not found (set MEDVOL_DATA)");
    bs_deformed(&F3, 3.0, 0, &M3, NULL);
    bs_grad_case(&F3, &M3, MV_METRIC_MSE, 0, "3D MSE cubic moving");
    bs_grad_case(&F3, &M3, MV_METRIC_NCC, 0, "3D NCC cubic moving");
    bs_grad_case(&F3, &M3, MV_METRIC_MI, 0, "3D MI cubic moving");
    bs_grad_case(&F3, &M3, MV_METRIC_MSE, 1, "3D MSE trilinear moving");
    bs_slice(&F3, 12, &F2);
    bs_deformed(&F2, 3.0, 1, &M2, NULL);
    bs_grad_case(&F2, &M2, MV_METRIC_MSE, 0, "2D MSE cubic moving");
    bs_grad_case(&F2, &M2, MV_METRIC_NCC, 0, "2D NCC cubic moving");
    bs_grad_case(&F2, &M2, MV_METRIC_MI, 0, "2D MI cubic moving");
    bs_grad_case(&F2, &M2, MV_METRIC_MI, 1, "2D MI trilinear moving");
    mv_free(&F3);
    mv_free(&M3);
    mv_free(&F2);
    mv_free(&M2);
}

/* ---- recovery of a known deformation ---- */

typedef struct bs_cancel {
    int calls, cancel_at, last_level, levels_done;
} bs_cancel;

static int bs_progress(void *user, const mv_register_progress *p)
{
    bs_cancel *c = (bs_cancel *)user;
    c->last_level = p->level;
    c->levels_done += p->level_done;
    return ++c->calls == c->cancel_at;
}

/* errors (mm) of est against dtrue over voxels brighter than a tenth of
   the maximum, 2 voxels inside the border */
static void bs_errors(const mv_vol *F, const mv_vol *est, const mv_vol *dtrue, int is2d, double *mean_err, double *p95,
                      double *mean_true)
{
    int64_t X = F->dim[0], Y = F->dim[1], Z = is2d ? 1 : F->dim[2], i, j, k, n = 0;
    size_t nv = (size_t)(X * Y * Z);
    int c, nc = is2d ? 2 : 3;
    double sum = 0, sumt = 0, fmax = 0, *errs = (double *)malloc(nv * sizeof(double));
    REQUIRE(errs != NULL);
    for (i = 0; i < (int64_t)nv; i++) fmax = fmax > ((float *)F->data)[i] ? fmax : ((float *)F->data)[i];
    for (k = is2d ? 0 : 2; k < (is2d ? 1 : Z - 2); k++)
        for (j = 2; j < Y - 2; j++)
            for (i = 2; i < X - 2; i++) {
                size_t v = (size_t)((k * Y + j) * X + i);
                double e = 0, t = 0;
                if (((float *)F->data)[v] < 0.1 * fmax) continue;
                for (c = 0; c < nc; c++) {
                    double a = ((float *)est->data)[(size_t)c * nv + v], b = ((float *)dtrue->data)[(size_t)c * nv + v];
                    e += (a - b) * (a - b);
                    t += b * b;
                }
                errs[n++] = sqrt(e);
                sum += sqrt(e);
                sumt += sqrt(t);
            }
    {
        int64_t top = n / 20 + 1, q, r;
        for (q = 0; q < top; q++) {
            int64_t m = q;
            double tmp;
            for (r = q + 1; r < n; r++)
                if (errs[r] > errs[m]) m = r;
            tmp = errs[q], errs[q] = errs[m], errs[m] = tmp;
        }
        *p95 = errs[top - 1];
    }
    *mean_err = sum / (double)n;
    *mean_true = sumt / (double)n;
    free(errs);
}

static void bs_recover(const mv_vol *F, int is2d, mv_metric_type metric, const char *what, double max_mean, double max_p95,
                       int check_threads)
{
    mv_vol M, dtrue, est, est2;
    mv_bspline_opts o = MV_ZERO_INIT;
    mv_bspline_result r, r2;
    bs_cancel cc = {0, 0, 0, 0};
    double me = -1, p95 = -1, mt = -1, gs[3] = {8.0, 0, 0};
    int64_t folds;
    bs_deformed(F, 3.0, is2d, &M, &dtrue);
    o.metric.metric = metric;
    o.grid_spacing[0] = gs[0];
    o.levels = "2x1";
    o.regularization = metric == MV_METRIC_MSE ? 20.0 : 0.002;
    o.progress = bs_progress;
    o.user = &cc;
    o.metric.threads = 2;
    mv_vol_init(&est);
    REQUIRE_OK(mv_register_bspline(F, &M, &est, &o, &r));
    REQUIRE_OK(mv_field_folds(&est, &folds, NULL, NULL));
    bs_errors(F, &est, &dtrue, is2d, &me, &p95, &mt);
    printf("    %s: true field mean %.3f mm; error mean %.3f mm, p95 %.3f mm; %lld folded; cost %.5g (metric %.5g, "
           "bending %.3g); iterations %d/%d, stops %d/%d; %.2f s\n",
           what, mt, me, p95, (long long)folds, r.cost, r.metric, r.bending_energy, r.iterations[0], r.iterations[1],
           (int)r.stop[0], (int)r.stop[1], r.elapsed);
    EXPECT_MSG(mt > 1.0, "the known field is too small to mean anything (%g mm)", mt);
    EXPECT_MSG(me <= max_mean, "%s: mean field error %g mm (bound %g)", what, me, max_mean);
    EXPECT_MSG(p95 <= max_p95, "%s: 95th percentile error %g mm (bound %g)", what, p95, max_p95);
    EXPECT_EQ_INT(folds, 0);
    EXPECT(r.nlevels == 2 && cc.levels_done == 2 && cc.last_level == 1);
    if (check_threads) {
        mv_bspline_grid gout;
        o.metric.threads = 1;
        o.progress = NULL;
        o.grid_out = &gout;
        mv_vol_init(&est2);
        REQUIRE_OK(mv_register_bspline(F, &M, &est2, &o, &r2));
        EXPECT_MSG(memcmp(est.data, est2.data, mv_vol_bytes(&est)) == 0, "%s: 1 and 2 threads give different fields", what);
        EXPECT(r.cost == r2.cost && r.iterations[1] == r2.iterations[1]);
        mv_free(&est2);
        /* the grid handed back makes the same field */
        EXPECT(mv_bspline_grid_ncoef(&gout) == r2.ncoef[1]);
        mv_vol_init(&est2);
        REQUIRE_OK(mv_bspline_field(&gout, F, &est2, NULL));
        EXPECT(memcmp(est.data, est2.data, mv_vol_bytes(&est)) == 0);
        mv_free(&est2);
        mv_bspline_grid_free(&gout);
        o.grid_out = NULL;
        /* cancel at the 4th call: MV_ERR_CANCELLED, field and result untouched */
        memset(&cc, 0, sizeof(cc));
        cc.cancel_at = 4;
        o.progress = bs_progress;
        mv_vol_init(&est2);
        memset(&r2, 0x5a, sizeof(r2));
        EXPECT_STATUS(mv_register_bspline(F, &M, &est2, &o, &r2), MV_ERR_CANCELLED);
        EXPECT(est2.data == NULL && cc.calls == 4 && r2.nlevels == 0x5a5a5a5a);
    }
    mv_free(&M);
    mv_free(&dtrue);
    mv_free(&est);
}

MV_TEST(bspline, recovers_known_field_3d)
{
    mv_vol F;
    if (!bs_load_anatomical(&F)) SKIP("../shared/data/nifti/anatomical.nii not found (set MEDVOL_DATA)");
    /* measured 0.33 / 0.70 mm (MSE), 0.31 / 0.62 (MI) of a 1.48 mm mean field:
       this small noisy 2 mm image is the limit (demons: 0.49 mm) */
    bs_recover(&F, 0, MV_METRIC_MSE, "3D anatomical (33x41x25, 2 mm) MSE", 0.4, 0.9, 1);
    bs_recover(&F, 0, MV_METRIC_MI, "3D anatomical MI", 0.4, 0.9, 0);
    mv_free(&F);
}

MV_TEST(bspline, recovers_known_field_2d)
{
    mv_vol F3, F;
    if (!bs_load_anatomical(&F3)) SKIP("../shared/data/nifti/anatomical.nii not found (set MEDVOL_DATA)");
    bs_slice(&F3, 12, &F);
    bs_recover(&F, 1, MV_METRIC_MSE, "2D anatomical slice (33x41, 2 mm) MSE", 0.45, 1.0, 1);
    bs_recover(&F, 1, MV_METRIC_NCC, "2D anatomical slice NCC", 0.45, 1.0, 0);
    mv_free(&F3);
    mv_free(&F);
}

/* ---- the MNI brain: pairs sampled from one continuous image ---- */

/* tests/py/bspline_data.py pair TAG of spacing sp (2d or not); NULL if
   there is no data (the reason in why) */
static int bs_mni_pair(const char *tag, const char *sp, int is2d, mv_vol *F, mv_vol *M, mv_vol *T, mv_vol *mask,
                       char *why, size_t cap)
{
    char args[512], out[512], path[600];
    mv_load_opts lo = MV_ZERO_INIT;
    if (!tu_python("numpy scipy nibabel")) {
        snprintf(why, cap, "python3 with numpy, scipy and nibabel not found");
        return 0;
    }
    if (tu_run_py("reg_data.py", "build/regdata", out, sizeof(out)) != 0 || strncmp(out, "ok", 2) != 0) {
        snprintf(why, cap, "tests/py/reg_data.py: %.400s", out);
        return 0;
    }
    snprintf(args, sizeof(args), "build/regdata build/bsplinedata %s%s", sp, is2d ? " 2d" : "");
    if (tu_run_py("bspline_data.py", args, out, sizeof(out)) != 0 || strncmp(out, "ok", 2) != 0) {
        snprintf(why, cap, "tests/py/bspline_data.py: %.400s", out);
        return 0;
    }
    lo.dtype = MV_DT_F32;
    lo.scaled = 1;
    snprintf(path, sizeof(path), "build/bsplinedata/%s_fixed.nii", tag);
    if (mv_load(path, F, &lo) != MV_OK) {
        snprintf(why, cap, "%.200s: %.200s", path, mv_last_error());
        return 0;
    }
    snprintf(path, sizeof(path), "build/bsplinedata/%s_moving.nii", tag);
    if (mv_load(path, M, &lo) != MV_OK) {
        snprintf(why, cap, "%.200s: %.200s", path, mv_last_error());
        return 0;
    }
    snprintf(path, sizeof(path), "build/bsplinedata/%s_mask.nii", tag);
    if (mv_load(path, mask, &lo) != MV_OK) {
        snprintf(why, cap, "%.200s: %.200s", path, mv_last_error());
        return 0;
    }
    snprintf(path, sizeof(path), "build/bsplinedata/%s_true.nii", tag);
    if (mv_field_load(path, T, NULL) != MV_OK) {
        snprintf(why, cap, "%.200s: %.200s", path, mv_last_error());
        return 0;
    }
    return 1;
}

static void bs_mni_case(const mv_vol *F, const mv_vol *M, const mv_vol *T, const mv_vol *mask, mv_bspline_opts *o,
                        const char *what, double max_mean, double max_p95)
{
    mv_vol est;
    mv_bspline_result r;
    size_t nv = (size_t)(F->dim[0] * F->dim[1] * (F->ndim > 2 ? F->dim[2] : 1)), v;
    int c, nc = (int)T->dim[4];
    int64_t n = 0, folds, cnt[2001];
    double sum = 0, sumt = 0, p95 = 0;
    memset(cnt, 0, sizeof(cnt));
    mv_vol_init(&est);
    REQUIRE_OK(mv_register_bspline(F, M, &est, o, &r));
    REQUIRE_OK(mv_field_folds(&est, &folds, NULL, NULL));
    for (v = 0; v < nv; v++) {
        double e = 0, t = 0;
        if (((const float *)mask->data)[v] == 0) continue;
        for (c = 0; c < nc; c++) {
            double a = ((float *)est.data)[(size_t)c * nv + v], b = ((const float *)T->data)[(size_t)c * nv + v];
            e += (a - b) * (a - b), t += b * b;
        }
        sum += sqrt(e), sumt += sqrt(t), n++;
        cnt[sqrt(e) >= 2 ? 2000 : (int)(sqrt(e) * 1000)]++; /* 1 um bins */
    }
    {
        int64_t acc = 0;
        int b;
        for (b = 0; b <= 2000; b++) {
            acc += cnt[b];
            if (acc >= (int64_t)(0.95 * (double)n)) {
                p95 = (b + 1) / 1000.0;
                break;
            }
        }
    }
    printf("    %s: true field mean %.3f mm over %lld brain voxels; error mean %.4f mm, p95 %.3f mm; %lld folded; "
           "iterations %d/%d/%d; %.2f s\n",
           what, sumt / (double)n, (long long)n, sum / (double)n, p95, (long long)folds, r.iterations[0], r.iterations[1],
           r.iterations[2], r.elapsed);
    EXPECT(sumt / (double)n > 0.5);
    EXPECT_MSG(sum / (double)n <= max_mean, "%s: mean error %g mm (bound %g)", what, sum / (double)n, max_mean);
    EXPECT_MSG(p95 <= max_p95, "%s: p95 error %g mm (bound %g)", what, p95, max_p95);
    EXPECT_EQ_INT(folds, 0);
    mv_free(&est);
}

MV_TEST(bspline, recovers_known_field_mni)
{
    mv_vol F, M, T, mask;
    mv_bspline_opts o = MV_ZERO_INIT;
    char why[512];
    if (!bs_mni_pair("def12d", "1", 1, &F, &M, &T, &mask, why, sizeof(why))) SKIP("%s", why);
    /* 2D: axial slice, 1 mm, 153x189; measured 0.014 mm mean (MSE, cubic moving) */
    o.metric.metric = MV_METRIC_MSE;
    o.grid_spacing[0] = 8;
    bs_mni_case(&F, &M, &T, &mask, &o, "2D MNI slice (1 mm) MSE", 0.03, 0.1);
    o.metric.metric = MV_METRIC_NCC;
    o.regularization = 1;
    bs_mni_case(&F, &M, &T, &mask, &o, "2D MNI slice (1 mm) NCC, bending 1", 0.05, 0.15);
    mv_free(&F), mv_free(&M), mv_free(&T), mv_free(&mask);
    /* 3D: 3 mm, 55x66x56 brain box; measured 0.087 / 0.24 mm (NCC, bending 1) */
    if (!bs_mni_pair("def3", "3", 0, &F, &M, &T, &mask, why, sizeof(why))) SKIP("%s", why);
    bs_mni_case(&F, &M, &T, &mask, &o, "3D MNI (3 mm) NCC, bending 1", 0.12, 0.35);
    mv_free(&F), mv_free(&M), mv_free(&T), mv_free(&mask);
}

/* ---- argument errors ---- */

/* ---- the transform applied a row at a time (mv_bspline_warp_into) ---- */

/* v filled with a smooth pattern plus a ripple (values 5 .. 245) */
static void bs_fill_pattern(mv_vol *v, uint64_t seed)
{
    int64_t X = v->dim[0], Y = v->dim[1], Z = v->ndim > 2 ? v->dim[2] : 1, i, j, k;
    double ph = tu_rand01(&seed) * 6.28;
    for (k = 0; k < Z; k++)
        for (j = 0; j < Y; j++)
            for (i = 0; i < X; i++) {
                double val = 125 + 60 * sin(0.31 * (double)i + ph) * cos(0.23 * (double)j - 0.4 * (double)k) +
                             50 * cos(0.07 * (double)(i + 2 * j) + 0.11 * (double)k) + 10 * tu_rand01(&seed);
                size_t o = (size_t)((k * Y + j) * X + i);
                if (v->dtype == MV_DT_U8) ((uint8_t *)v->data)[o] = (uint8_t)(val + 0.5);
                else if (v->dtype == MV_DT_I16) ((int16_t *)v->data)[o] = (int16_t)(val + 0.5);
                else ((float *)v->data)[o] = (float)val;
            }
}

/* inverse of an affine 4x4 (3x3 block by cofactors); 0 if singular */
static int bs_inv_affine(const double (*A)[4], double R[4][4])
{
    double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) - A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                 A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
    int r, c;
    if (fabs(det) < 1e-300) return 0;
    R[0][0] = (A[1][1] * A[2][2] - A[1][2] * A[2][1]) / det;
    R[0][1] = (A[0][2] * A[2][1] - A[0][1] * A[2][2]) / det;
    R[0][2] = (A[0][1] * A[1][2] - A[0][2] * A[1][1]) / det;
    R[1][0] = (A[1][2] * A[2][0] - A[1][0] * A[2][2]) / det;
    R[1][1] = (A[0][0] * A[2][2] - A[0][2] * A[2][0]) / det;
    R[1][2] = (A[0][2] * A[1][0] - A[0][0] * A[1][2]) / det;
    R[2][0] = (A[1][0] * A[2][1] - A[1][1] * A[2][0]) / det;
    R[2][1] = (A[0][1] * A[2][0] - A[0][0] * A[2][1]) / det;
    R[2][2] = (A[0][0] * A[1][1] - A[0][1] * A[1][0]) / det;
    for (r = 0; r < 3; r++) {
        R[r][3] = 0;
        for (c = 0; c < 3; c++) R[r][3] -= R[r][c] * A[c][3];
    }
    R[3][0] = R[3][1] = R[3][2] = 0;
    R[3][3] = 1;
    return 1;
}

/* mv_bspline_warp_into on the grid's own fixed grid against the dense path
   (mv_bspline_field + mv_field_warp_into), which the field tests check
   against scipy: equal bit for bit, and for 1 and 3 threads */
static void bs_rows_case(const mv_bspline_grid *g, const mv_vol *fixed, const mv_vol *moving, const double (*M)[4],
                         mv_interp interp, int fill, mv_dtype odt, const char *what)
{
    mv_vol fld, ref, got;
    mv_field_opts o = MV_ZERO_INIT;
    int th;
    o.interp = interp;
    o.fill_outside = fill;
    o.fill = 3;
    o.rounding = MV_ROUND_NEAREST;
    REQUIRE_OK(mv_bspline_field(g, fixed, &fld, NULL));
    REQUIRE_OK(mv_vol_alloc(&ref, odt, 3, fixed->dim, NULL));
    memcpy(ref.affine, fixed->affine, sizeof(ref.affine));
    REQUIRE_OK(mv_field_warp_into(moving, &fld, M, &ref, &o));
    for (th = 1; th <= 3; th += 2) {
        o.threads = th;
        REQUIRE_OK(mv_vol_alloc(&got, odt, 3, fixed->dim, NULL));
        memcpy(got.affine, fixed->affine, sizeof(got.affine));
        REQUIRE_OK(mv_bspline_warp_into(g, moving, M, &got, &o));
        EXPECT_MSG(memcmp(got.data, ref.data, mv_vol_bytes(&ref)) == 0, "%s, %d threads: differs from the dense warp", what, th);
        mv_free(&got);
    }
    mv_free(&ref);
    mv_free(&fld);
}

MV_TEST(bspline, warp_rows_match_dense_warp)
{
    static const double M[4][4] = {{0.99, -0.05, 0.01, 1.5}, {0.04, 1.02, 0.03, -0.8}, {-0.01, -0.02, 0.98, 0.6}, {0, 0, 0, 1}};
    static const double M2[4][4] = {{0.98, 0.06, 0, 1.2}, {-0.05, 1.01, 0, -0.7}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    double sp[3] = {1.2, 1.0, 1.5}, msp[3] = {1, 1.1, 1.2}, gs[3] = {7, 0, 0};
    mv_vol F, Mv, F2, M8, M16;
    mv_bspline_grid g, g2;
    mv_interp in;
    int fill;
    /* 3D: float32 moving on another (turned) grid, and int16 with a scaling */
    bs_blank(&F, 26, 21, 17, 0.3, sp);
    bs_blank(&Mv, 30, 25, 19, -0.2, msp);
    bs_fill_pattern(&Mv, 5);
    REQUIRE_OK(mv_bspline_grid_init(&g, &F, gs, NULL));
    bs_random_coef(&g, 2.5, 11);
    for (in = MV_INTERP_NEAREST; in <= MV_INTERP_LINEAR; in = (mv_interp)(in + 1))
        for (fill = 0; fill < 2; fill++) {
            bs_rows_case(&g, &F, &Mv, NULL, in, fill, MV_DT_F32, "3D float32");
            bs_rows_case(&g, &F, &Mv, M, in, fill, MV_DT_F32, "3D float32 + matrix");
        }
    {
        mv_vol I16;
        int64_t d3[3];
        d3[0] = Mv.dim[0], d3[1] = Mv.dim[1], d3[2] = Mv.dim[2];
        REQUIRE_OK(mv_vol_alloc(&I16, MV_DT_I16, 3, d3, NULL));
        memcpy(I16.affine, Mv.affine, sizeof(I16.affine));
        bs_fill_pattern(&I16, 6);
        I16.meta.scl_slope = 0.5;
        I16.meta.scl_inter = 3;
        bs_rows_case(&g, &F, &I16, M, MV_INTERP_LINEAR, 0, MV_DT_F32, "3D int16 scaled");
        bs_rows_case(&g, &F, &I16, M, MV_INTERP_NEAREST, 1, MV_DT_I16, "3D int16 nearest");
        mv_free(&I16);
    }
    /* 2D: uint8 stays uint8 (rounded), and float32 */
    {
        int64_t d2[3] = {37, 29, 1}, dm[3] = {41, 33, 1};
        const double foff[3] = {-12, 7, 0}, moff[3] = {-13, 8, 0};
        REQUIRE_OK(mv_vol_alloc(&F2, MV_DT_F32, 3, d2, NULL));
        bs_affine(F2.affine, 0.1, sp, foff);
        REQUIRE_OK(mv_vol_alloc(&M8, MV_DT_U8, 3, dm, NULL));
        bs_affine(M8.affine, -0.05, msp, moff);
        bs_fill_pattern(&M8, 9);
        REQUIRE_OK(mv_vol_alloc(&M16, MV_DT_F32, 3, dm, NULL));
        memcpy(M16.affine, M8.affine, sizeof(M16.affine));
        bs_fill_pattern(&M16, 10);
        REQUIRE_OK(mv_bspline_grid_init(&g2, &F2, gs, NULL));
        bs_random_coef(&g2, 3.0, 12);
        for (fill = 0; fill < 2; fill++) {
            bs_rows_case(&g2, &F2, &M8, NULL, MV_INTERP_LINEAR, fill, MV_DT_U8, "2D uint8 -> uint8");
            bs_rows_case(&g2, &F2, &M8, M2, MV_INTERP_LINEAR, fill, MV_DT_F32, "2D uint8 + matrix -> float32");
            bs_rows_case(&g2, &F2, &M8, NULL, MV_INTERP_NEAREST, fill, MV_DT_U8, "2D uint8 nearest");
            bs_rows_case(&g2, &F2, &M16, M2, MV_INTERP_LINEAR, fill, MV_DT_F32, "2D float32 + matrix");
        }
        mv_bspline_grid_free(&g2);
        mv_free(&F2);
        mv_free(&M8);
        mv_free(&M16);
    }
    mv_bspline_grid_free(&g);
    mv_free(&F);
    mv_free(&Mv);
}

/* counts calls; cancels at call `stop` (0 = never) */
typedef struct bs_prog {
    int calls, stop;
    double last;
} bs_prog;
static int bs_prog_cb(void *user, double done)
{
    bs_prog *p = (bs_prog *)user;
    p->calls++;
    p->last = done;
    return p->stop && p->calls >= p->stop;
}

/* A grid over a shrunk copy of the fixed image (a pyramid level) applied
   at full resolution equals the same transform described on the full grid
   (the grid's control points re-expressed in full-resolution voxels:
   origin and spacing through the level's voxel map) warped densely, to
   float32 rounding of the coordinates */
MV_TEST(bspline, warp_rows_on_a_finer_grid)
{
    double sp[3] = {0.9, 0.9, 1}, msp[3] = {1, 1, 1}, gs[3] = {9, 0, 0}, A[4][4], Ai[4][4], P[4][4];
    const double foff[3] = {-30, 12, 0}, moff[3] = {-32, 10, 0};
    int64_t d2[3] = {83, 71, 1}, dm[3] = {90, 80, 1};
    mv_vol F, L, Mv, fld, ref, got;
    mv_bspline_grid g, gf;
    mv_pyramid_schedule s;
    mv_field_opts o = MV_ZERO_INIT;
    size_t i, n;
    int a, r, c;
    double maxd = 0;
    REQUIRE_OK(mv_vol_alloc(&F, MV_DT_F32, 3, d2, NULL));
    bs_affine(F.affine, 0.15, sp, foff);
    bs_fill_pattern(&F, 3);
    REQUIRE_OK(mv_vol_alloc(&Mv, MV_DT_U8, 3, dm, NULL));
    bs_affine(Mv.affine, 0.1, msp, moff);
    bs_fill_pattern(&Mv, 4);
    REQUIRE_OK(mv_pyramid_schedule_parse("3", NULL, &s));
    REQUIRE_OK(mv_pyramid_level(&F, &s, 0, &L, NULL));
    REQUIRE_OK(mv_bspline_grid_init(&g, &L, gs, NULL));
    bs_random_coef(&g, 2.0, 21);
    /* the same control points on F's voxel grid: u_F = P^-1 u_L, P = A_L^-1 A_F */
    gf = g;
    gf.coef = NULL;
    REQUIRE(bs_inv_affine((const double(*)[4])L.affine, Ai));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) {
            P[r][c] = 0;
            for (a = 0; a < 4; a++) P[r][c] += Ai[r][a] * F.affine[a][c];
        }
    for (a = 0; a < 2; a++) {
        gf.spacing[a] = g.spacing[a] / P[a][a];
        gf.origin[a] = (g.origin[a] - P[a][3]) / P[a][a];
    }
    memcpy(gf.fdim, F.dim, 3 * sizeof(int64_t));
    memcpy(gf.affine, F.affine, sizeof(A));
    n = (size_t)mv_bspline_grid_ncoef(&g);
    gf.coef = (double *)malloc(n * sizeof(double));
    REQUIRE(gf.coef != NULL);
    memcpy(gf.coef, g.coef, n * sizeof(double));
    o.interp = MV_INTERP_LINEAR;
    REQUIRE_OK(mv_bspline_field(&gf, &F, &fld, NULL));
    REQUIRE_OK(mv_vol_alloc(&ref, MV_DT_F32, 3, F.dim, NULL));
    memcpy(ref.affine, F.affine, sizeof(A));
    REQUIRE_OK(mv_field_warp_into(&Mv, &fld, NULL, &ref, &o));
    REQUIRE_OK(mv_vol_alloc(&got, MV_DT_F32, 3, F.dim, NULL));
    memcpy(got.affine, F.affine, sizeof(A));
    REQUIRE_OK(mv_bspline_warp_into(&g, &Mv, NULL, &got, &o));
    for (i = 0; i < (size_t)(d2[0] * d2[1]); i++) {
        double e = fabs((double)((float *)got.data)[i] - (double)((float *)ref.data)[i]);
        maxd = e > maxd ? e : maxd;
    }
    EXPECT_MSG(maxd <= 1e-3, "finer grid: differs from the dense warp by %g (values 5 .. 245)", maxd);
    {
        /* progress: 64 reports ending at 1, the same result; a nonzero return cancels */
        mv_vol again;
        bs_prog pr;
        memset(&pr, 0, sizeof(pr));
        o.progress = bs_prog_cb;
        o.progress_user = &pr;
        o.threads = 2;
        REQUIRE_OK(mv_vol_alloc(&again, MV_DT_F32, 3, F.dim, NULL));
        memcpy(again.affine, F.affine, sizeof(A));
        REQUIRE_OK(mv_bspline_warp_into(&g, &Mv, NULL, &again, &o));
        EXPECT_MSG(pr.calls == 64 && pr.last == 1.0, "progress: %d calls, last %g", pr.calls, pr.last);
        EXPECT(memcmp(again.data, got.data, mv_vol_bytes(&got)) == 0);
        memset(&pr, 0, sizeof(pr));
        pr.stop = 2;
        EXPECT_STATUS(mv_bspline_warp_into(&g, &Mv, NULL, &again, &o), MV_ERR_CANCELLED);
        EXPECT(pr.calls == 2 && strstr(mv_last_error(), "cancelled") != NULL);
        o.progress = NULL;
        o.threads = 0;
        mv_free(&again);
    }
    /* out's axes turned against the grid's: refused, naming the axes */
    bs_affine(got.affine, 0.5, sp, foff);
    EXPECT_STATUS(mv_bspline_warp_into(&g, &Mv, NULL, &got, &o), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "axes") != NULL);
    memcpy(got.affine, F.affine, sizeof(A));
    o.interp = MV_INTERP_CUBIC;
    EXPECT_STATUS(mv_bspline_warp_into(&g, &Mv, NULL, &got, &o), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "cubic") != NULL);
    o.interp = MV_INTERP_LINEAR;
    EXPECT_STATUS(mv_bspline_warp_into(NULL, &Mv, NULL, &got, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_warp_into(&g, NULL, NULL, &got, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_warp_into(&g, &Mv, NULL, &Mv, &o), MV_ERR_INVALID_ARG);
    {
        mv_vol o3;
        bs_blank(&o3, 10, 10, 4, 0.15, sp);
        EXPECT_STATUS(mv_bspline_warp_into(&g, &Mv, NULL, &o3, &o), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "2D") != NULL);
        mv_free(&o3);
    }
    free(gf.coef);
    mv_bspline_grid_free(&g);
    mv_free(&F);
    mv_free(&L);
    mv_free(&Mv);
    mv_free(&fld);
    mv_free(&ref);
    mv_free(&got);
}

/* The threaded paths of the large-image mode at a size the pool splits
   (inputs and outputs above the 4 MiB threading threshold: the small
   cases above run on one thread whatever they ask for): a 2D uint8 scan's
   pyramid level (blocks of rows, rows converted into per-worker slots;
   modes reflect and wrap) and the streamed warp (per-worker control sums
   and displacement rows), 2 and 3 threads against 1, MEDVOL_TEST_REPS
   times (also under TSan) */
MV_TEST(bspline, large_2d_threads_identical)
{
    static const mv_boundary modes[2] = {MV_BOUNDARY_REFLECT, MV_BOUNDARY_WRAP};
    int64_t dm[3] = {1450, 1330, 1};
    double sp[3] = {1, 1, 1}, gs[3] = {96, 0, 0};
    const double moff[3] = {-700, -650, 0};
    int reps = tu_test_reps(3), rep, th, mi;
    mv_vol M, L[2], W1, Wt;
    mv_bspline_grid g;
    mv_pyramid_schedule ps;
    mv_filter_opts fo = MV_ZERO_INIT;
    mv_field_opts o = MV_ZERO_INIT;
    REQUIRE_OK(mv_vol_alloc(&M, MV_DT_U8, 3, dm, NULL));
    bs_affine(M.affine, 0.0, sp, moff);
    bs_fill_pattern(&M, 31);
    REQUIRE_OK(mv_pyramid_schedule_parse("3", NULL, &ps));
    for (mi = 0; mi < 2; mi++) {
        fo.mode = modes[mi];
        fo.threads = 1;
        REQUIRE_OK(mv_pyramid_level(&M, &ps, 0, &L[mi], &fo));
        for (rep = 0; rep < reps; rep++)
            for (th = 2; th <= 3; th++) {
                mv_vol t;
                fo.threads = th;
                REQUIRE_OK(mv_pyramid_level(&M, &ps, 0, &t, &fo));
                EXPECT_MSG(memcmp(t.data, L[mi].data, mv_vol_bytes(&t)) == 0, "pyramid level, mode %d, %d threads: differs from 1",
                           (int)modes[mi], th);
                mv_free(&t);
            }
    }
    /* a grid over the level, applied at full resolution to the uint8 scan */
    REQUIRE_OK(mv_bspline_grid_init(&g, &L[0], gs, NULL));
    bs_random_coef(&g, 6.0, 41);
    REQUIRE_OK(mv_vol_alloc(&W1, MV_DT_F32, 3, dm, NULL));
    memcpy(W1.affine, M.affine, sizeof(W1.affine));
    REQUIRE_OK(mv_vol_alloc(&Wt, MV_DT_F32, 3, dm, NULL));
    memcpy(Wt.affine, M.affine, sizeof(Wt.affine));
    o.interp = MV_INTERP_LINEAR;
    o.fill_outside = 1;
    o.threads = 1;
    REQUIRE_OK(mv_bspline_warp_into(&g, &M, NULL, &W1, &o));
    for (rep = 0; rep < reps; rep++)
        for (th = 2; th <= 3; th++) {
            o.threads = th;
            memset(Wt.data, 0, mv_vol_bytes(&Wt));
            REQUIRE_OK(mv_bspline_warp_into(&g, &M, NULL, &Wt, &o));
            EXPECT_MSG(memcmp(Wt.data, W1.data, mv_vol_bytes(&W1)) == 0, "streamed warp, %d threads: differs from 1", th);
        }
    mv_bspline_grid_free(&g);
    mv_free(&M);
    mv_free(&L[0]);
    mv_free(&L[1]);
    mv_free(&W1);
    mv_free(&Wt);
}

MV_TEST(bspline, bad_arguments)
{
    mv_vol v, m, fld;
    mv_bspline_grid g, g2;
    mv_bspline_opts o = MV_ZERO_INIT;
    double sp[3] = {1, 1, 1}, val, bad[3] = {-1, 0, 0}, tiny[3] = {0.1, 0, 0};
    bs_blank(&v, 12, 10, 8, 0, sp);
    bs_blank(&m, 12, 10, 8, 0, sp);
    mv_vol_init(&fld);
    EXPECT_STATUS(mv_bspline_grid_init(NULL, &v, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_grid_init(&g, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_grid_init(&g, &v, bad, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "grid_spacing") != NULL);
    EXPECT_STATUS(mv_bspline_grid_init(&g, &v, tiny, NULL), MV_ERR_INVALID_ARG);
    REQUIRE_OK(mv_bspline_grid_init(&g, &v, NULL, NULL));
    EXPECT(g.n[0] == 4 && g.n[1] == 4 && g.n[2] == 4); /* 16 voxels > the image: one interval */
    EXPECT_STATUS(mv_bspline_grid_refine(&g, &g), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_grid_refine(NULL, &g2), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_bending_energy(&g, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_bspline_cost(&v, &m, &g, NULL, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
    o.metric.metric = MV_METRIC_LNCC;
    EXPECT_STATUS(mv_bspline_cost(&v, &m, &g, &o, &val, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "metric") != NULL);
    o.metric.metric = MV_METRIC_MSE;
    o.regularization = -1;
    EXPECT_STATUS(mv_bspline_cost(&v, &m, &g, &o, &val, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "regularization") != NULL);
    o.regularization = 0;
    o.init_matrix[0][0] = NAN;
    EXPECT_STATUS(mv_register_bspline(&v, &m, &fld, &o, NULL), MV_ERR_INVALID_ARG);
    o.init_matrix[0][0] = 2; /* last row 0 0 0 0 */
    EXPECT_STATUS(mv_register_bspline(&v, &m, &fld, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "init_matrix") != NULL);
    o.init_matrix[0][0] = 0;
    o.levels = "4xq";
    EXPECT_STATUS(mv_register_bspline(&v, &m, &fld, &o, NULL), MV_ERR_INVALID_ARG);
    o.levels = NULL;
    o.iterations[0] = -2;
    EXPECT_STATUS(mv_register_bspline(&v, &m, &fld, &o, NULL), MV_ERR_INVALID_ARG);
    o.iterations[0] = 0;
    EXPECT_STATUS(mv_register_bspline(NULL, &m, &fld, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_register_bspline(&v, &m, &v, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT(fld.data == NULL);
    /* a field on another grid */
    {
        mv_vol other;
        bs_blank(&other, 13, 10, 8, 0, sp);
        REQUIRE_OK(mv_field_alloc(&fld, &other, 3, NULL));
        EXPECT_STATUS(mv_bspline_field_into(&g, &fld, NULL), MV_ERR_INVALID_ARG);
        mv_free(&fld);
        mv_free(&other);
    }
    /* a 2D fixed with a 3D moving */
    {
        mv_vol f2;
        bs_blank(&f2, 12, 10, 1, 0, sp);
        EXPECT_STATUS(mv_register_bspline(&f2, &m, &fld, &o, NULL), MV_ERR_INVALID_ARG);
        mv_free(&f2);
    }
    mv_bspline_grid_free(&g);
    mv_free(&v);
    mv_free(&m);
}
