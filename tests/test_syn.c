/* test_syn.c - greedy symmetric normalisation (SyN) with local NCC.
   References: a float64 numpy LNCC (tests/py/ref_syn.py: cumulative-sum
   window sums, no running sums) for the value and both derivative maps;
   central finite differences of medvol's own value for the derivatives;
   known smooth deformations of real images (the MNI ICBM 2009a brain on a
   2 mm grid and ITK's proton-density slice, both made by
   tests/py/reg_data.py) with the true field inverted by
   mv_field_invert_into, measured over the brain; a nonlinear, spatially
   varying intensity remap of the moving image (LNCC holds, MSE cannot);
   cancel, thread-count determinism, argument errors. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int sy_load(const char *name, mv_vol *v)
{
    mv_load_opts lo = MV_ZERO_INIT;
    char path[1200];
    lo.dtype = MV_DT_F32;
    lo.scaled = 1;
    snprintf(path, sizeof(path), "build/regdata/%s", name);
    return mv_load(path, v, &lo) == MV_OK;
}

static int sy_load_anatomical(mv_vol *F)
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

/* a float32 image of dims (ndim 3, Z may be 1) with a unit affine */
static void sy_alloc(mv_vol *v, int64_t X, int64_t Y, int64_t Z)
{
    int64_t d[3];
    d[0] = X, d[1] = Y, d[2] = Z;
    REQUIRE_OK(mv_vol_alloc(v, MV_DT_F32, 3, d, NULL));
}

/* m = 1000 b (x + 0.3 x^2), x = f / max f (sampled shift voxels along x),
   b = 1 + bias sin(...) a slow gain (period ~200 voxels): intensities
   that differ locally but keep a locally monotonic relation */
static void sy_remap(const mv_vol *f, mv_vol *m, double bias, int shift)
{
    int64_t X = f->dim[0], Y = f->dim[1], Z = f->ndim > 2 ? f->dim[2] : 1, i, j, k;
    const float *p = (const float *)f->data;
    float *q = (float *)m->data;
    double mx = 0;
    size_t v;
    for (v = 0; v < (size_t)(X * Y * Z); v++) mx = p[v] > mx ? p[v] : mx;
    for (k = 0; k < Z; k++)
        for (j = 0; j < Y; j++)
            for (i = 0; i < X; i++) {
                size_t s = (size_t)((k * Y + j) * X + (i + shift < X ? i + shift : i)), o = (size_t)((k * Y + j) * X + i);
                double x = p[s] / (mx > 0 ? mx : 1);
                double b = 1.0 + bias * sin(0.03 * (double)i + 0.02 * (double)j + 0.5) * cos(0.04 * (double)k);
                q[o] = (float)(1000.0 * b * (0.3 * x + 1.5 * x * x));
            }
}

/* ---- LNCC value and derivatives ---- */

static void sy_lncc_case(const mv_vol *f, const mv_vol *m, int radius, const char *tag)
{
    mv_lncc_opts o = MV_ZERO_INIT;
    mv_vol df, dm;
    double S, ref[6];
    char args[1400], out[512], *q;
    int k;
    mv_vol_init(&df);
    mv_vol_init(&dm);
    REQUIRE_OK(mv_vol_copy(f, &df));
    REQUIRE_OK(mv_vol_copy(f, &dm));
    o.radius = radius;
    REQUIRE_OK(mv_lncc_into(f, m, &S, &df, &dm, &o));
    REQUIRE_OK(mv_save(tu_file("syn", "f.nii"), f, NULL));
    REQUIRE_OK(mv_save(tu_file("syn", "m.nii"), m, NULL));
    REQUIRE_OK(mv_save(tu_file("syn", "df.nii"), &df, NULL));
    REQUIRE_OK(mv_save(tu_file("syn", "dm.nii"), &dm, NULL));
    snprintf(args, sizeof(args), "lncc %s %d %.17g", tu_dir("syn"), radius, S);
    REQUIRE(tu_run_py("ref_syn.py", args, out, sizeof(out)) == 0);
    if (strncmp(out, "ok", 2) != 0) fprintf(stderr, "ref_syn.py: %s\n", out);
    REQUIRE(strncmp(out, "ok", 2) == 0);
    q = out + 2;
    for (k = 0; k < 6; k++) ref[k] = strtod(q, &q);
    printf("    %s r=%d: S %.9f (numpy %.9f), |dS/df - ref| %.2g of %.2g, |dS/dm - ref| %.2g of %.2g\n", tag, radius, S,
           ref[0], ref[2], ref[3], ref[4], ref[5]);
    EXPECT_MSG(ref[1] <= 1e-9 * fabs(ref[0]) + 1e-12, "%s r=%d: S %.17g vs numpy %.17g", tag, radius, S, ref[0]);
    EXPECT_MSG(ref[0] > 0.05 && ref[0] < 0.999, "%s: S = %g is a degenerate case", tag, ref[0]);
    EXPECT_MSG(ref[2] <= 1e-5 * ref[3], "%s r=%d: dS/df off by %g (max %g)", tag, radius, ref[2], ref[3]);
    EXPECT_MSG(ref[4] <= 1e-5 * ref[5], "%s r=%d: dS/dm off by %g (max %g)", tag, radius, ref[4], ref[5]);
    mv_free(&df);
    mv_free(&dm);
}

MV_TEST(syn, lncc_matches_numpy)
{
    mv_vol F, M, F2, M2;
    int r;
    if (!tu_python("numpy nibabel")) SKIP("python3 with numpy and nibabel not found");
    if (!sy_load_anatomical(&F)) SKIP("shared data nifti/anatomical.nii not found (set MEDVOL_DATA)");
    mv_vol_init(&M);
    REQUIRE_OK(mv_vol_copy(&F, &M));
    sy_remap(&F, &M, 0.3, 1);
    for (r = 1; r <= 3; r++) sy_lncc_case(&F, &M, r, "3D anatomical 33x41x25");
    /* 2D: slice 12 */
    sy_alloc(&F2, F.dim[0], F.dim[1], 1);
    sy_alloc(&M2, F.dim[0], F.dim[1], 1);
    memcpy(F2.data, (float *)F.data + (size_t)(12 * F.dim[0] * F.dim[1]), (size_t)(F.dim[0] * F.dim[1]) * 4);
    memcpy(M2.data, (float *)M.data + (size_t)(12 * F.dim[0] * F.dim[1]), (size_t)(F.dim[0] * F.dim[1]) * 4);
    sy_lncc_case(&F2, &M2, 2, "2D slice 33x41");
    sy_lncc_case(&F2, &M2, 30, "2D slice, window wider than the image");
    mv_free(&F);
    mv_free(&M);
    mv_free(&F2);
    mv_free(&M2);
}

/* central differences of S in float64 against the analytic derivatives */
MV_TEST(syn, lncc_gradient_finite_differences)
{
    mv_vol f, m, df, dm;
    mv_lncc_opts o = MV_ZERO_INIT;
    uint64_t rng = 77;
    int64_t X = 11, Y = 9, Z = 7, i, j, k;
    int t, worst_rel_ok = 1;
    double S, gmax = 0, emax = 0;
    sy_alloc(&f, X, Y, Z);
    sy_alloc(&m, X, Y, Z);
    sy_alloc(&df, X, Y, Z);
    sy_alloc(&dm, X, Y, Z);
    for (k = 0; k < Z; k++)
        for (j = 0; j < Y; j++)
            for (i = 0; i < X; i++) {
                size_t v = (size_t)((k * Y + j) * X + i);
                double s = sin(0.7 * (double)i + 0.3 * (double)j) * cos(0.5 * (double)k + 0.2 * (double)i);
                ((float *)f.data)[v] = (float)(3.0 + s + 0.3 * tu_rand01(&rng));
                ((float *)m.data)[v] = (float)(exp(0.8 * s) + 0.4 * tu_rand01(&rng));
            }
    o.radius = 2;
    REQUIRE_OK(mv_lncc_into(&f, &m, &S, &df, &dm, &o));
    for (t = 0; t < 60; t++) {
        /* corners, edges and the inside; both images */
        size_t v = t < 8 ? (size_t)(((t & 4 ? Z - 1 : 0) * Y + (t & 2 ? Y - 1 : 0)) * X + (t & 1 ? X - 1 : 0))
                         : (size_t)(tu_rand(&rng) % (uint64_t)(X * Y * Z));
        mv_vol *img = t % 2 ? &m : &f;
        float *p = (float *)img->data, old = p[v];
        double h = 1e-2, sp, sm, fd, an;
        float up = (float)(old + h), dn = (float)(old - h);
        p[v] = up;
        REQUIRE_OK(mv_lncc_into(&f, &m, &sp, NULL, NULL, &o));
        p[v] = dn;
        REQUIRE_OK(mv_lncc_into(&f, &m, &sm, NULL, NULL, &o));
        p[v] = old;
        fd = (sp - sm) / ((double)up - (double)dn);
        an = ((float *)(t % 2 ? dm.data : df.data))[v];
        gmax = fabs(an) > gmax ? fabs(an) : gmax;
        emax = fabs(fd - an) > emax ? fabs(fd - an) : emax;
        if (!(fabs(fd - an) <= 2e-3 * fabs(an) + 1e-8)) worst_rel_ok = 0;
        EXPECT_MSG(fabs(fd - an) <= 2e-3 * fabs(an) + 1e-8, "voxel %zu of %s: analytic %.8g, central difference %.8g",
                   v, t % 2 ? "m" : "f", an, fd);
    }
    printf("    S = %.6f; 60 voxels (8 corners): max |fd - analytic| %.3g, max |analytic| %.3g%s\n", S, emax, gmax,
           worst_rel_ok ? "" : " (FAILED)");
    EXPECT(gmax > 1e-5);
    mv_free(&f);
    mv_free(&m);
    mv_free(&df);
    mv_free(&dm);
}

MV_TEST(syn, lncc_threads_identical)
{
    mv_vol f, m, df1, dm1, df2, dm2;
    mv_lncc_opts o = MV_ZERO_INIT;
    double s1, s2;
    uint64_t rng = 5;
    size_t v, n;
    sy_alloc(&f, 70, 45, 33);
    sy_alloc(&m, 70, 45, 33);
    sy_alloc(&df1, 70, 45, 33);
    sy_alloc(&dm1, 70, 45, 33);
    sy_alloc(&df2, 70, 45, 33);
    sy_alloc(&dm2, 70, 45, 33);
    n = (size_t)(70 * 45 * 33);
    for (v = 0; v < n; v++) {
        ((float *)f.data)[v] = (float)(sin(0.01 * (double)v) + tu_rand01(&rng));
        ((float *)m.data)[v] = (float)(cos(0.013 * (double)v) + tu_rand01(&rng));
    }
    o.radius = 3;
    o.threads = 1;
    REQUIRE_OK(mv_lncc_into(&f, &m, &s1, &df1, &dm1, &o));
    o.threads = 3;
    REQUIRE_OK(mv_lncc_into(&f, &m, &s2, &df2, &dm2, &o));
    EXPECT(s1 == s2);
    EXPECT(memcmp(df1.data, df2.data, n * 4) == 0);
    EXPECT(memcmp(dm1.data, dm2.data, n * 4) == 0);
    mv_free(&f);
    mv_free(&m);
    mv_free(&df1);
    mv_free(&dm1);
    mv_free(&df2);
    mv_free(&dm2);
}

/* ---- registration of known smooth deformations ---- */

typedef struct sy_cancel {
    int calls, cancel_at, last_level;
} sy_cancel;

static int sy_progress(void *user, int level, int iteration, double metric)
{
    sy_cancel *c = (sy_cancel *)user;
    (void)iteration;
    (void)metric;
    c->last_level = level;
    return ++c->calls == c->cancel_at;
}

typedef struct sy_err {
    double mean, p95, mean_true;
    int64_t folds;
} sy_err;

/* moving(q) = remap(fixed(q + g(q))) for a smooth g of about amp mm; the
   field SyN must find is d = inv(g). Errors (mm) over voxels brighter than
   a fifth of the maximum, 3 voxels inside. remap: 0 none, else the bias
   amplitude of sy_remap. est_out (may be NULL) keeps the estimate. */
static void sy_case(const mv_vol *F, double amp, double remap, const mv_syn_opts *o, mv_syn_result *res, sy_err *e,
                    mv_vol *est_out, int use_demons)
{
    mv_vol g, dtrue, M, est;
    mv_field_opts fo = MV_ZERO_INIT;
    int64_t X = F->dim[0], Y = F->dim[1], Z = F->ndim > 2 ? F->dim[2] : 1, i, j, k, n = 0;
    int is2d = Z == 1, c, nc = is2d ? 2 : 3, b = is2d ? 0 : 3;
    size_t nv = (size_t)(X * Y * Z);
    double sum = 0, sumt = 0, fmax = 0, *errs;
    memset(e, 0, sizeof(*e));
    e->mean = e->p95 = -1;
    REQUIRE_OK(mv_field_alloc(&g, F, nc, NULL));
    REQUIRE_OK(mv_field_alloc(&dtrue, F, nc, NULL));
    for (c = 0; c < nc; c++)
        for (k = 0; k < Z; k++)
            for (j = 0; j < Y; j++)
                for (i = 0; i < X; i++)
                    ((float *)g.data)[(size_t)c * nv + (size_t)((k * Y + j) * X + i)] =
                        (float)(amp * sin(6.283 * (double)i / (double)X + 1.1 * c) * sin(6.283 * (double)j / (double)Y + 0.5) *
                                (is2d ? 1.0 : cos(3.1416 * (double)k / (double)Z - 0.3 * c)));
    mv_vol_init(&M);
    REQUIRE_OK(mv_field_warp(F, &g, NULL, &M, &fo));
    if (remap > 0) {
        mv_vol t;
        mv_vol_init(&t);
        REQUIRE_OK(mv_vol_copy(&M, &t));
        sy_remap(&t, &M, remap, 0);
        mv_free(&t);
    }
    fo.max_iter = 200;
    REQUIRE_OK(mv_field_invert_into(&g, &dtrue, &fo, NULL));
    mv_vol_init(&est);
    if (use_demons) {
        mv_demons_opts dmo = MV_ZERO_INIT;
        mv_demons_result dr;
        dmo.levels = o->levels;
        REQUIRE_OK(mv_register_demons(F, &M, &est, &dmo, &dr));
    } else {
        REQUIRE_OK(mv_register_syn(F, &M, &est, o, res));
    }
    REQUIRE_OK(mv_field_folds(&est, &e->folds, NULL, NULL));
    for (i = 0; i < (int64_t)nv; i++) fmax = fmax > ((float *)F->data)[i] ? fmax : ((float *)F->data)[i];
    errs = (double *)malloc(nv * sizeof(double));
    REQUIRE(errs != NULL);
    for (k = b; k < Z - b; k++)
        for (j = 3; j < Y - 3; j++)
            for (i = 3; i < X - 3; i++) {
                size_t v = (size_t)((k * Y + j) * X + i);
                double er = 0, t = 0;
                if (((float *)F->data)[v] < 0.2 * fmax) continue;
                for (c = 0; c < nc; c++) {
                    double a = ((float *)est.data)[(size_t)c * nv + v], bb = ((float *)dtrue.data)[(size_t)c * nv + v];
                    er += (a - bb) * (a - bb);
                    t += bb * bb;
                }
                errs[n++] = sqrt(er);
                sum += sqrt(er);
                sumt += sqrt(t);
            }
    if (n > 0) {
        int64_t top = n / 20 + 1, q;
        for (q = 0; q < top; q++) {
            int64_t mi = q, r;
            for (r = q + 1; r < n; r++)
                if (errs[r] > errs[mi]) mi = r;
            {
                double tmp = errs[q];
                errs[q] = errs[mi];
                errs[mi] = tmp;
            }
        }
        e->p95 = errs[top - 1];
        e->mean = sum / (double)n;
        e->mean_true = sumt / (double)n;
    }
    free(errs);
    if (est_out) *est_out = est;
    else mv_free(&est);
    mv_free(&g);
    mv_free(&dtrue);
    mv_free(&M);
}

/* the 2 mm MNI brain (80x96x80) cut to its middle 64x80x64 and halved to
   4 mm: 32x40x32 */
static int sy_brain(mv_vol *B)
{
    mv_vol full, cut;
    mv_resample_opts ro = MV_ZERO_INIT;
    mv_filter_opts fo = MV_ZERO_INIT;
    int64_t start[3] = {8, 8, 8}, size[3] = {64, 80, 64}, shape[3] = {32, 40, 32};
    double sig[3] = {1.0, 1.0, 1.0};
    mv_vol sm;
    if (!sy_load("brain3d_rigid_fixed.nii", &full)) return 0;
    mv_status st;
    mv_vol_init(&cut);
    mv_vol_init(&sm);
    ro.interp = MV_INTERP_LINEAR;
    st = mv_crop_pad_box(&full, &cut, start, size, NULL);
    if (st == MV_OK) st = mv_gaussian(&cut, &sm, sig, &fo);
    if (st == MV_OK) st = mv_resample_shape(&sm, B, shape, &ro);
    mv_free(&full);
    mv_free(&cut);
    mv_free(&sm);
    return st == MV_OK;
}

MV_TEST(syn, recovers_known_field_3d)
{
    mv_vol F, e1, e2;
    mv_syn_opts o = MV_ZERO_INIT;
    mv_syn_result r1, r2;
    sy_err e;
    sy_cancel cc = {0, 0, 0};
    const char *why = tu_regdata();
    if (why) SKIP("%s", why);
    REQUIRE(sy_brain(&F));
    o.progress = sy_progress;
    o.progress_user = &cc;
    sy_case(&F, 6.0, 0, &o, &r1, &e, &e1, 0);
    printf("    SyN LNCC 3D MNI brain (32x40x32, 4 mm): true field mean %.3f mm; error mean %.3f mm, p95 %.3f mm; "
           "%lld folded; -LNCC %.4f -> %.4f; iterations %d/%d/%d; inverse residual %.3g mm\n",
           e.mean_true, e.mean, e.p95, (long long)e.folds, r1.metric_start, r1.metric, r1.iterations[0], r1.iterations[1],
           r1.iterations[2], r1.inverse_residual);
    EXPECT_MSG(e.mean_true > 2.5, "the known field is too small to mean anything (%g mm)", e.mean_true);
    /* measured: mean 0.51 mm (0.13 voxel), p95 1.45 mm of a 2.9 mm mean
       field; at 4 mm this blurred brain has little texture inside the white
       matter, where the field is the smoothing's interpolation (demons: 0.51
       too; the same brain at 2 mm, 64x80x64: SyN 0.31 mm, demons 0.49 mm) */
    EXPECT_MSG(e.mean <= 0.2 * e.mean_true, "mean field error %g mm of a %g mm field", e.mean, e.mean_true);
    EXPECT_MSG(e.p95 <= 0.6 * e.mean_true, "95th percentile error %g mm", e.p95);
    EXPECT_EQ_INT(e.folds, 0);
    EXPECT(r1.metric < r1.metric_start - 0.1);
    EXPECT(cc.calls > 0 && cc.last_level == 2);
    /* the same bits with one thread */
    o.threads = 1;
    o.progress = NULL;
    sy_case(&F, 6.0, 0, &o, &r2, &e, &e2, 0);
    EXPECT(memcmp(e1.data, e2.data, mv_vol_bytes(&e1)) == 0);
    EXPECT(r1.metric == r2.metric);
    mv_free(&e1);
    mv_free(&e2);
    /* cancel at the 5th call: MV_ERR_CANCELLED and the field untouched */
    {
        mv_vol M, out;
        memset(&cc, 0, sizeof(cc));
        cc.cancel_at = 5;
        o.progress = sy_progress;
        mv_vol_init(&out);
        REQUIRE_OK(mv_vol_copy(&F, &M));
        EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_CANCELLED);
        EXPECT(out.data == NULL && cc.calls == 5);
        mv_free(&M);
    }
    mv_free(&F);
}

MV_TEST(syn, recovers_known_field_2d)
{
    mv_vol F;
    mv_syn_opts o = MV_ZERO_INIT;
    mv_syn_result r;
    sy_err e;
    const char *why = tu_regdata();
    if (why) SKIP("%s", why);
    REQUIRE(sy_load("slice2d_pd_fixed.nii", &F));
    sy_case(&F, 5.0, 0, &o, &r, &e, NULL, 0);
    printf("    SyN LNCC 2D ITK PD slice (%lldx%lld, 1 mm): true field mean %.3f mm; error mean %.3f mm, p95 %.3f mm; "
           "%lld folded; -LNCC %.4f -> %.4f\n",
           (long long)F.dim[0], (long long)F.dim[1], e.mean_true, e.mean, e.p95, (long long)e.folds, r.metric_start, r.metric);
    EXPECT_MSG(e.mean_true > 2.5, "known field mean %g mm", e.mean_true);
    EXPECT_MSG(e.mean <= 0.1 * e.mean_true, "mean field error %g mm of a %g mm field", e.mean, e.mean_true);
    EXPECT_MSG(e.p95 <= 0.4 * e.mean_true, "95th percentile error %g mm", e.p95);
    EXPECT_EQ_INT(e.folds, 0);
    /* MSE as the metric on the same (same-modality) pair */
    o.metric = MV_SYN_MSE;
    sy_case(&F, 5.0, 0, &o, &r, &e, NULL, 0);
    printf("    SyN MSE, same pair: error mean %.3f mm, p95 %.3f mm; %lld folded; MSE %.4g -> %.4g\n", e.mean, e.p95,
           (long long)e.folds, r.metric_start, r.metric);
    /* measured 0.44 mm: MSE forces concentrate on the strongest edges, so
       the max-normalised step leaves low-contrast regions slow */
    EXPECT_MSG(e.mean <= 0.2 * e.mean_true, "MSE: mean field error %g mm of a %g mm field", e.mean, e.mean_true);
    EXPECT_EQ_INT(e.folds, 0);
    EXPECT(r.metric < 0.2 * r.metric_start);
    mv_free(&F);
}

/* the moving image's intensities remapped nonlinearly with a spatial bias:
   LNCC recovers the field; MSE (SyN MSE, demons) cannot match intensities */
MV_TEST(syn, local_intensity_change)
{
    mv_vol F;
    mv_syn_opts o = MV_ZERO_INIT;
    mv_syn_result r;
    sy_err e, em, ed;
    const char *why = tu_regdata();
    if (why) SKIP("%s", why);
    REQUIRE(sy_load("slice2d_pd_fixed.nii", &F));
    sy_case(&F, 5.0, 0.4, &o, &r, &e, NULL, 0);
    o.metric = MV_SYN_MSE;
    sy_case(&F, 5.0, 0.4, &o, &r, &em, NULL, 0);
    o.levels = 3;
    sy_case(&F, 5.0, 0.4, &o, &r, &ed, NULL, 1);
    printf("    remapped 2D pair, true field mean %.3f mm: SyN LNCC error mean %.3f p95 %.3f (%lld folded); SyN MSE mean "
           "%.3f; demons mean %.3f\n",
           e.mean_true, e.mean, e.p95, (long long)e.folds, em.mean, ed.mean);
    EXPECT_MSG(e.mean <= 0.15 * e.mean_true, "LNCC: mean field error %g mm of a %g mm field", e.mean, e.mean_true);
    EXPECT_EQ_INT(e.folds, 0);
    EXPECT_MSG(em.mean > 2 * e.mean && ed.mean > 2 * e.mean, "MSE-driven methods should fail here (%g, %g vs %g)", em.mean,
               ed.mean, e.mean);
    mv_free(&F);
}

MV_TEST(syn, init_matrix)
{
    /* the deformed moving image again, its grid moved by whole voxels (+7 mm
       in x, -4 mm in y): with that translation as init_matrix SyN solves the
       same problem, so the field must be the one found without it */
    mv_vol F, M, est0, est1, g;
    mv_syn_opts o = MV_ZERO_INIT;
    mv_field_opts fo = MV_ZERO_INIT;
    mv_syn_result r0, r1;
    double err = 0, big = 0;
    size_t v, nv;
    int64_t i, j, X, Y;
    const char *why = tu_regdata();
    if (why) SKIP("%s", why);
    REQUIRE(sy_load("slice2d_pd_fixed.nii", &F));
    X = F.dim[0], Y = F.dim[1];
    nv = (size_t)(X * Y);
    REQUIRE_OK(mv_field_alloc(&g, &F, 2, NULL));
    for (j = 0; j < Y; j++)
        for (i = 0; i < X; i++) {
            ((float *)g.data)[j * X + i] = (float)(3.0 * sin(6.283 * (double)i / (double)X) * sin(6.283 * (double)j / (double)Y));
            ((float *)g.data)[nv + (size_t)(j * X + i)] = (float)(2.0 * cos(6.283 * (double)i / (double)X));
        }
    mv_vol_init(&M);
    mv_vol_init(&est0);
    mv_vol_init(&est1);
    REQUIRE_OK(mv_field_warp(&F, &g, NULL, &M, &fo));
    o.levels = 2;
    o.iterations[0] = o.iterations[1] = 25;
    REQUIRE_OK(mv_register_syn(&F, &M, &est0, &o, &r0));
    M.affine[0][3] += 7.0; /* moving(T(p)) with T(p) = p + (7, -4, 0) is the same image */
    M.affine[1][3] -= 4.0;
    o.init_matrix[0][0] = o.init_matrix[1][1] = o.init_matrix[2][2] = o.init_matrix[3][3] = 1;
    o.init_matrix[0][3] = 7.0;
    o.init_matrix[1][3] = -4.0;
    REQUIRE_OK(mv_register_syn(&F, &M, &est1, &o, &r1));
    for (v = 0; v < 2 * nv; v++) {
        double a = ((float *)est0.data)[v], b = ((float *)est1.data)[v];
        err = fabs(a - b) > err ? fabs(a - b) : err;
        big = fabs(a) > big ? fabs(a) : big;
    }
    printf("    init_matrix = the grid's whole-voxel shift: largest |d - d_without| %.3g mm (largest |d| %.3g mm); "
           "-LNCC %.5f vs %.5f\n",
           err, big, r1.metric, r0.metric);
    EXPECT_MSG(big > 2.0, "the field is too small to mean anything (%g mm)", big);
    EXPECT_MSG(err < 1e-3, "the fields differ by %g mm", err);
    EXPECT(fabs(r1.metric - r0.metric) < 1e-6);
    /* without the matrix the shifted pair is another problem: the field must differ */
    memset(o.init_matrix, 0, sizeof(o.init_matrix));
    mv_free(&est1);
    mv_vol_init(&est1);
    REQUIRE_OK(mv_register_syn(&F, &M, &est1, &o, &r1));
    EXPECT(r1.metric > r0.metric + 0.01);
    mv_free(&F);
    mv_free(&M);
    mv_free(&g);
    mv_free(&est0);
    mv_free(&est1);
}

MV_TEST(syn, bad_args)
{
    mv_vol F, M, out, i16, f4;
    mv_syn_opts o = MV_ZERO_INIT;
    mv_lncc_opts lo = MV_ZERO_INIT;
    double S;
    int64_t d4[4] = {5, 5, 5, 2};
    sy_alloc(&F, 8, 8, 8);
    sy_alloc(&M, 8, 8, 6);
    mv_vol_init(&out);
    EXPECT_STATUS(mv_register_syn(NULL, &M, &out, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_register_syn(&F, &M, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
    o.levels = 9;
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "levels") != NULL);
    o.levels = 0;
    o.metric = 7;
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "metric") != NULL);
    o.metric = 0;
    o.step = -1;
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    o.step = 0;
    o.iterations[2] = 5000;
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    o.iterations[2] = 0;
    o.radius = -1;
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    o.radius = 0;
    o.init_matrix[0][0] = 1;
    o.init_matrix[3][0] = 1; /* bad bottom row */
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "init_matrix") != NULL);
    memset(o.init_matrix, 0, sizeof(o.init_matrix));
    o.sigma_fluid = NAN;
    EXPECT_STATUS(mv_register_syn(&F, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    o.sigma_fluid = 0;
    REQUIRE_OK(mv_vol_alloc(&f4, MV_DT_F32, 4, d4, NULL));
    EXPECT_STATUS(mv_register_syn(&f4, &M, &out, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT(out.data == NULL);
    /* mv_lncc_into */
    EXPECT_STATUS(mv_lncc_into(&F, &M, &S, NULL, NULL, NULL), MV_ERR_INVALID_ARG); /* dims differ */
    EXPECT(strstr(mv_last_error(), "dims") != NULL);
    EXPECT_STATUS(mv_lncc_into(&F, &F, NULL, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
    lo.radius = 65;
    EXPECT_STATUS(mv_lncc_into(&F, &F, &S, NULL, NULL, &lo), MV_ERR_INVALID_ARG);
    lo.radius = 0;
    {
        int64_t d3[3] = {8, 8, 8};
        REQUIRE_OK(mv_vol_alloc(&i16, MV_DT_I16, 3, d3, NULL));
        EXPECT_STATUS(mv_lncc_into(&i16, &F, &S, NULL, NULL, &lo), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "float32") != NULL);
    }
    EXPECT_STATUS(mv_lncc_into(&F, &F, &S, &F, NULL, &lo), MV_ERR_INVALID_ARG); /* output is an input */
    EXPECT_STATUS(mv_lncc_into(&f4, &f4, &S, NULL, NULL, &lo), MV_ERR_INVALID_ARG);
    /* constant images: S = 0, derivatives 0, no NaN */
    memset(F.data, 0, mv_vol_bytes(&F));
    {
        mv_vol d;
        sy_alloc(&d, 8, 8, 8);
        EXPECT_OK(mv_lncc_into(&F, &F, &S, &d, NULL, &lo));
        EXPECT(S == 0 && ((float *)d.data)[17] == 0);
        mv_free(&d);
    }
    mv_free(&F);
    mv_free(&M);
    mv_free(&i16);
    mv_free(&f4);
}
