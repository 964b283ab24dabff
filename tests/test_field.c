/* test_field.c - displacement fields against independent references:
   scipy.ndimage.map_coordinates in float64 for warps and composition
   (tests/py/ref_field.py), numpy.gradient for Jacobian determinants,
   SimpleITK reading medvol's fields (DisplacementFieldTransform + Resample)
   and writing its own (TransformToDisplacementField), analytic cases
   (affine fields: composition = product, det = det(A); a rotation's
   velocity field: exp = the rotation), round trips for the inverse
   (compose(d, inv d) within the reported residual), thread-count
   determinism, and argument errors. */
#include "testutil.h"
#include <stdlib.h>

/* ---- helpers ---- */

/* RAS affine: rotations (rad) about z then x, spacing, offset */
static void fd_affine(double A[4][4], double rz, double rx, const double sp[3], const double off[3])
{
    double cz = cos(rz), sz = sin(rz), cx = cos(rx), sx = sin(rx);
    double R[3][3] = {{cz, -sz, 0}, {sz * cx, cz * cx, -sx}, {sz * sx, cz * sx, cx}};
    int r, c;
    memset(A, 0, 16 * sizeof(double));
    for (r = 0; r < 3; r++) {
        for (c = 0; c < 3; c++) A[r][c] = R[r][c] * sp[c];
        A[r][3] = off[r];
    }
    A[3][3] = 1;
}

/* a float32 volume of dims with affine A: smooth pattern plus noise */
static int fd_image(mv_vol *v, const int64_t dims[3], double A[4][4], uint64_t seed)
{
    int64_t i, j, k;
    float *p;
    uint64_t s = seed;
    if (mv_vol_alloc(v, MV_DT_F32, 3, dims, NULL) != MV_OK) return 0;
    memcpy(v->affine, A, sizeof(v->affine));
    for (i = 0; i < 3; i++) v->spacing[i] = sqrt(A[0][i] * A[0][i] + A[1][i] * A[1][i] + A[2][i] * A[2][i]);
    p = (float *)v->data;
    for (k = 0; k < dims[2]; k++)
        for (j = 0; j < dims[1]; j++)
            for (i = 0; i < dims[0]; i++)
                *p++ = (float)(500 + 300 * sin(0.31 * (double)i + 0.2) * cos(0.23 * (double)j - 0.4) + 8.0 * (double)k +
                               60 * (tu_rand01(&s) - 0.5));
    return 1;
}

/* fills a field with a smooth displacement of about amp mm */
static void fd_smooth(mv_vol *f, double amp, double phase)
{
    int64_t X = f->dim[0], Y = f->dim[1], Z = f->dim[2], i, j, k;
    int c, nc = (int)f->dim[4];
    float *p = (float *)f->data;
    for (c = 0; c < nc; c++)
        for (k = 0; k < Z; k++)
            for (j = 0; j < Y; j++)
                for (i = 0; i < X; i++)
                    *p++ = (float)(amp * sin(0.21 * (double)i + 0.13 * (double)(c + 1) * (double)j + 0.17 * (double)k +
                                             phase + (double)c));
}

static int fd_py(const char *args, double *vals, int nvals, int *skip)
{
    char out[512], *q;
    int i;
    *skip = 0;
    if (tu_run_py("ref_field.py", args, out, sizeof(out)) != 0) {
        fprintf(stderr, "ref_field.py %s: %s\n", args, out);
        return 0;
    }
    if (strncmp(out, "skip", 4) == 0) {
        *skip = 1;
        return 0;
    }
    if (strncmp(out, "ok", 2) != 0) {
        fprintf(stderr, "ref_field.py %s: %s\n", args, out);
        return 0;
    }
    q = out + 2;
    for (i = 0; i < nvals; i++) vals[i] = strtod(q, &q);
    return 1;
}

static void fd_mat_args(char *buf, size_t cap, const double M[4][4])
{
    int r, c;
    size_t n = 0;
    buf[0] = 0;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) n += (size_t)snprintf(buf + n, cap - n, " %.17g", M[r][c]);
}

/* the standard 3D pair: fixed grid (the field's), moving image elsewhere */
static int fd_pair(mv_vol *fixed, mv_vol *moving, mv_vol *field, double amp)
{
    static const int64_t fd[3] = {23, 19, 17}, md[3] = {26, 22, 19};
    static const double fsp[3] = {1.2, 1.0, 1.5}, foff[3] = {-12, 8, 5}, msp[3] = {1.1, 1.3, 1.4}, moff[3] = {-14, 6, 2};
    double FA[4][4], MA[4][4];
    fd_affine(FA, 0.1, 0.05, fsp, foff);
    fd_affine(MA, -0.07, 0.02, msp, moff);
    if (!fd_image(fixed, fd, FA, 1) || !fd_image(moving, md, MA, 2)) return 0;
    if (mv_field_alloc(field, fixed, 0, NULL) != MV_OK) return 0;
    fd_smooth(field, amp, 0.3);
    return 1;
}

static const double fd_M[4][4] = {{0.99, -0.05, 0.01, 1.5}, {0.04, 1.02, 0.03, -0.8}, {-0.01, -0.02, 0.98, 0.6}, {0, 0, 0, 1}};

/* ---- warps against map_coordinates ---- */

static void fd_warp_case(const mv_vol *moving, const mv_vol *field, mv_interp interp, int fill, const double (*M)[4],
                         double tol_rel, const char *tag)
{
    mv_field_opts o = MV_ZERO_INIT;
    mv_vol out;
    char args[1024], margs[512] = "";
    double v[3];
    int skip;
    static const int order[3] = {1, 0, 3};
    o.interp = interp;
    o.fill_outside = fill;
    o.fill = -7;
    mv_vol_init(&out);
    REQUIRE_OK(mv_field_warp(moving, field, M, &out, &o));
    REQUIRE_OK(mv_save(tu_file("field", "w.nii"), &out, NULL));
    mv_free(&out);
    if (M) fd_mat_args(margs, sizeof(margs), M);
    snprintf(args, sizeof(args), "warp %s w %d %d -7%s", tu_dir("field"), order[interp], fill, margs);
    REQUIRE(fd_py(args, v, 3, &skip));
    if (interp == MV_INTERP_NEAREST)
        EXPECT_MSG(v[2] == 0, "%s: %g nearest voxels differ from scipy (max %g)", tag, v[2], v[0]);
    else
        EXPECT_MSG(v[0] <= tol_rel * v[1], "%s: max error %g vs scipy, range %g", tag, v[0], v[1]);
}

MV_TEST(field, warp_matches_map_coordinates)
{
    mv_vol fixed, moving, field;
    if (!tu_python("numpy scipy nibabel")) SKIP("needs /usr/bin/python3 with numpy, scipy and nibabel");
    REQUIRE(fd_pair(&fixed, &moving, &field, 2.5));
    REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &moving, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &field, NULL));
    fd_warp_case(&moving, &field, MV_INTERP_LINEAR, 0, NULL, 2e-6, "linear");
    fd_warp_case(&moving, &field, MV_INTERP_LINEAR, 1, NULL, 2e-6, "linear fill");
    fd_warp_case(&moving, &field, MV_INTERP_NEAREST, 0, NULL, 0, "nearest");
    fd_warp_case(&moving, &field, MV_INTERP_NEAREST, 1, NULL, 0, "nearest fill");
    fd_warp_case(&moving, &field, MV_INTERP_CUBIC, 0, NULL, 1e-5, "cubic");
    fd_warp_case(&moving, &field, MV_INTERP_LINEAR, 0, fd_M, 2e-6, "linear + matrix");
    fd_warp_case(&moving, &field, MV_INTERP_CUBIC, 0, fd_M, 1e-5, "cubic + matrix");
    fd_warp_case(&moving, &field, MV_INTERP_NEAREST, 1, fd_M, 0, "nearest + matrix");
    {
        /* int16 labels with a scaling: nearest keeps the stored values */
        mv_vol lab;
        mv_convert_opts co = MV_ZERO_INIT;
        REQUIRE_OK(mv_convert(&moving, &lab, MV_DT_I16, &co));
        lab.meta.scl_slope = 0.5;
        lab.meta.scl_inter = 3;
        REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &lab, NULL));
        fd_warp_case(&lab, &field, MV_INTERP_NEAREST, 0, NULL, 0, "int16 nearest");
        fd_warp_case(&lab, &field, MV_INTERP_LINEAR, 0, NULL, 2e-6, "int16 scaled linear");
        mv_free(&lab);
    }
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&field);
}

MV_TEST(field, warp_2d_matches_map_coordinates)
{
    static const int64_t fd[3] = {41, 37, 1}, md[3] = {45, 33, 1};
    static const double fsp[3] = {0.8, 0.9, 1}, foff[3] = {-15, 9, 0}, msp[3] = {0.85, 1.0, 1}, moff[3] = {-16, 10, 0};
    double FA[4][4], MA[4][4];
    mv_vol fixed, moving, field;
    double M2[4][4] = {{0.98, 0.06, 0, 1.2}, {-0.05, 1.01, 0, -0.7}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    if (!tu_python("numpy scipy nibabel")) SKIP("needs /usr/bin/python3 with numpy, scipy and nibabel");
    fd_affine(FA, 0.12, 0, fsp, foff);
    fd_affine(MA, -0.05, 0, msp, moff);
    REQUIRE(fd_image(&fixed, fd, FA, 3) && fd_image(&moving, md, MA, 4));
    REQUIRE_OK(mv_field_alloc(&field, &fixed, 0, NULL));
    EXPECT_EQ_INT(field.dim[4], 2);
    fd_smooth(&field, 3.0, 0.7);
    REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &moving, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &field, NULL));
    fd_warp_case(&moving, &field, MV_INTERP_LINEAR, 0, NULL, 2e-6, "2D linear");
    fd_warp_case(&moving, &field, MV_INTERP_NEAREST, 1, NULL, 0, "2D nearest fill");
    fd_warp_case(&moving, &field, MV_INTERP_CUBIC, 0, (const double(*)[4])M2, 1e-5, "2D cubic + matrix");
    {
        /* uint8 (a scanner's 8-bit image): read as stored until sampled */
        mv_vol u8;
        size_t q;
        REQUIRE_OK(mv_vol_alloc(&u8, MV_DT_U8, 3, moving.dim, NULL));
        memcpy(u8.affine, moving.affine, sizeof(u8.affine));
        for (q = 0; q < (size_t)(md[0] * md[1]); q++) /* 170 .. 830 -> 7 .. 238 */
            ((uint8_t *)u8.data)[q] = (uint8_t)(0.35 * ((double)((const float *)moving.data)[q] - 150.0));
        REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &u8, NULL));
        fd_warp_case(&u8, &field, MV_INTERP_LINEAR, 0, (const double(*)[4])M2, 2e-6, "2D uint8 linear + matrix");
        fd_warp_case(&u8, &field, MV_INTERP_LINEAR, 1, NULL, 2e-6, "2D uint8 linear fill");
        mv_free(&u8);
    }
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&field);
}

/* ---- SimpleITK both ways ---- */

/* fill_outside 2, ITK's B-spline interpolator (transformix): a row 1..4
   shifted by s voxels; inside is -0.5 <= c < 3.5, and there the samples
   mirror about the end voxels: c = 3.3 is 0.7 v3 + 0.3 v2 = 3.7 (linear),
   c = -0.3 is c = 0.3, 1.3; nearest repeats the end voxel; c = 3.6 and
   -0.6 get the fill value. Mode 1 fills everything beyond [0, 3]. */
MV_TEST(field, warp_itk_inside_rule)
{
    static const struct {
        double shift;
        mv_interp interp;
        int mode;
        float want[4];
    } cases[] = {
        {0.3, MV_INTERP_LINEAR, 2, {1.3f, 2.3f, 3.3f, 3.7f}},  {-0.3, MV_INTERP_LINEAR, 2, {1.3f, 1.7f, 2.7f, 3.7f}},
        {0.6, MV_INTERP_LINEAR, 2, {1.6f, 2.6f, 3.6f, -9}},    {-0.6, MV_INTERP_LINEAR, 2, {-9, 1.4f, 2.4f, 3.4f}},
        {0.4, MV_INTERP_NEAREST, 2, {1, 2, 3, 4}},             {0.3, MV_INTERP_LINEAR, 1, {1.3f, 2.3f, 3.3f, -9}},
    };
    int c, i;
    for (c = 0; c < (int)(sizeof(cases) / sizeof(cases[0])); c++) {
        mv_vol mo, f, w;
        int64_t d3[3] = {4, 1, 1};
        mv_field_opts o = MV_ZERO_INIT;
        REQUIRE_OK(mv_vol_alloc(&mo, MV_DT_F32, 3, d3, NULL));
        for (i = 0; i < 4; i++) ((float *)mo.data)[i] = (float)(i + 1);
        mv_vol_init(&f);
        REQUIRE_OK(mv_field_alloc(&f, &mo, 3, NULL));
        for (i = 0; i < 4; i++) ((float *)f.data)[i] = (float)-cases[c].shift; /* LPS x is RAS -x */
        o.fill_outside = cases[c].mode;
        o.fill = -9;
        o.interp = cases[c].interp;
        mv_vol_init(&w);
        REQUIRE_OK(mv_field_warp(&mo, &f, NULL, &w, &o));
        for (i = 0; i < 4; i++) EXPECT_NEAR(((float *)w.data)[i], cases[c].want[i], 1e-6);
        mv_free(&w);
        mv_free(&f);
        mv_free(&mo);
    }
}

MV_TEST(field, simpleitk_reads_medvol_field)
{
    mv_vol fixed, moving, field, out;
    mv_field_opts o = MV_ZERO_INIT;
    char args[1024], margs[512];
    double v[3];
    int skip, pass;
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    if (!tu_python("SimpleITK")) SKIP("needs SimpleITK in /usr/bin/python3 (pip install SimpleITK)");
    REQUIRE(fd_pair(&fixed, &moving, &field, 2.5));
    REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &moving, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &field, NULL));
    for (pass = 0; pass < 2; pass++) {
        mv_vol_init(&out);
        REQUIRE_OK(mv_field_warp(&moving, &field, pass ? fd_M : NULL, &out, &o));
        REQUIRE_OK(mv_save(tu_file("field", "w.nii"), &out, NULL));
        mv_free(&out);
        margs[0] = 0;
        if (pass) fd_mat_args(margs, sizeof(margs), fd_M);
        snprintf(args, sizeof(args), "sitk_warp %s w%s", tu_dir("field"), margs);
        REQUIRE(fd_py(args, v, 3, &skip) || skip);
        if (skip) SKIP("SimpleITK not importable");
        EXPECT_MSG(v[1] > 1000, "only %g voxels compared", v[1]);
        EXPECT_MSG(v[0] <= 2e-5 * v[2], "pass %d: SimpleITK differs by %g (range %g)", pass, v[0], v[2]);
    }
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&field);
    {
        /* 2D: SimpleITK reads (X, Y, 1, 1, 2) as a 2D field */
        static const int64_t fd[3] = {41, 37, 1}, md[3] = {45, 33, 1};
        static const double fsp[3] = {0.8, 0.9, 1}, foff[3] = {-15, 9, 0}, msp[3] = {0.85, 1.0, 1}, moff[3] = {-16, 10, 0};
        double FA[4][4], MA[4][4], M2[4][4] = {{0.98, 0.06, 0, 1.2}, {-0.05, 1.01, 0, -0.7}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        fd_affine(FA, 0.12, 0, fsp, foff);
        fd_affine(MA, -0.05, 0, msp, moff);
        REQUIRE(fd_image(&fixed, fd, FA, 3) && fd_image(&moving, md, MA, 4));
        REQUIRE_OK(mv_field_alloc(&field, &fixed, 0, NULL));
        fd_smooth(&field, 3.0, 0.7);
        REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &moving, NULL));
        REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &field, NULL));
        mv_vol_init(&out);
        REQUIRE_OK(mv_field_warp(&moving, &field, (const double(*)[4])M2, &out, &o));
        REQUIRE_OK(mv_save(tu_file("field", "w.nii"), &out, NULL));
        mv_free(&out);
        fd_mat_args(margs, sizeof(margs), (const double(*)[4])M2);
        snprintf(args, sizeof(args), "sitk_warp %s w%s", tu_dir("field"), margs);
        REQUIRE(fd_py(args, v, 3, &skip));
        EXPECT_MSG(v[1] > 500, "2D: only %g voxels compared", v[1]);
        EXPECT_MSG(v[0] <= 2e-5 * v[2], "2D: SimpleITK differs by %g (range %g)", v[0], v[2]);
        mv_free(&fixed);
        mv_free(&moving);
        mv_free(&field);
    }
}

MV_TEST(field, simpleitk_field_loads_in_medvol)
{
    mv_vol fixed, moving, sf, mf, out, want, mask;
    char args[1024], margs[512];
    double v[1], maxd = 0, maxw = 0;
    int skip;
    size_t i, n, used = 0;
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    if (!tu_python("SimpleITK")) SKIP("needs SimpleITK in /usr/bin/python3 (pip install SimpleITK)");
    REQUIRE(fd_pair(&fixed, &moving, &mf, 0));
    REQUIRE_OK(mv_save(tu_file("field", "fixed.nii"), &fixed, NULL));
    REQUIRE_OK(mv_save(tu_file("field", "moving.nii"), &moving, NULL));
    fd_mat_args(margs, sizeof(margs), fd_M);
    snprintf(args, sizeof(args), "sitk_field %s%s", tu_dir("field"), margs);
    REQUIRE(fd_py(args, v, 1, &skip) || skip);
    if (skip) SKIP("SimpleITK not importable");
    mv_vol_init(&sf);
    REQUIRE_OK(mv_field_load(tu_file("field", "sitk_field.nii"), &sf, NULL));
    REQUIRE_OK(mv_field_check(&sf, &fixed));
    /* the same affine as a medvol field: the LPS convention both ways */
    REQUIRE_OK(mv_field_add_affine_into(NULL, fd_M, &mf, NULL));
    n = (size_t)mv_vol_count(&sf);
    for (i = 0; i < n; i++) {
        double e = fabs((double)((float *)sf.data)[i] - (double)((float *)mf.data)[i]);
        maxd = e > maxd ? e : maxd;
    }
    EXPECT_MSG(maxd <= 1e-4, "SimpleITK's affine field differs from mv_field_add_affine_into by %g mm", maxd);
    mv_vol_init(&out);
    REQUIRE_OK(mv_field_warp(&moving, &sf, NULL, &out, NULL));
    REQUIRE_OK(mv_load(tu_file("field", "sitk_warped.nii"), &want, NULL));
    REQUIRE_OK(mv_load(tu_file("field", "sitk_mask.nii"), &mask, NULL));
    n = (size_t)mv_vol_count(&out);
    REQUIRE(n == (size_t)mv_vol_count(&want) && n == (size_t)mv_vol_count(&mask));
    for (i = 0; i < n; i++) {
        double e;
        if (!((unsigned char *)mask.data)[i]) continue;
        e = fabs((double)((float *)out.data)[i] - (double)((float *)want.data)[i]);
        maxw = e > maxw ? e : maxw;
        used++;
    }
    EXPECT_MSG(used > 1000 && (double)used == v[0], "%zu voxels compared (python: %g)", used, v[0]);
    EXPECT_MSG(maxw <= 2e-3, "medvol's warp by SimpleITK's field differs from SimpleITK's by %g", maxw);
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&sf);
    mv_free(&mf);
    mv_free(&out);
    mv_free(&want);
    mv_free(&mask);
}

/* ---- composition ---- */

MV_TEST(field, compose_matches_scipy_and_affines)
{
    mv_vol fixed, moving, d1, d2, comp, a1, a2, a12;
    double v[1], A1[4][4], A12[4][4], maxe = 0;
    int skip, r, c, k;
    int64_t i, j, z;
    static const double A2[4][4] = {{1.01, 0.03, -0.02, 0.9}, {-0.02, 0.99, 0.01, -1.1}, {0.015, -0.01, 1.0, 0.4}, {0, 0, 0, 1}};
    if (!tu_python("numpy scipy nibabel")) SKIP("needs /usr/bin/python3 with numpy, scipy and nibabel");
    REQUIRE(fd_pair(&fixed, &moving, &d2, 2.0));
    /* d1 on another grid (the moving image's) */
    REQUIRE_OK(mv_field_alloc(&d1, &moving, 3, NULL));
    fd_smooth(&d1, 1.7, 1.1);
    REQUIRE_OK(mv_field_alloc(&comp, &fixed, 3, NULL));
    REQUIRE_OK(mv_field_compose_into(&d1, &d2, &comp, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "d1.nii"), &d1, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "d2.nii"), &d2, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "comp.nii"), &comp, NULL));
    {
        char args[1100];
        snprintf(args, sizeof(args), "compose %s", tu_dir("field"));
        REQUIRE(fd_py(args, v, 1, &skip));
        EXPECT_MSG(v[0] <= 2e-5, "composition differs from map_coordinates by %g mm", v[0]);
    }
    /* in place (out = d2) gives the same bits */
    REQUIRE_OK(mv_field_compose_into(&d1, &d2, &d2, NULL));
    EXPECT(memcmp(d2.data, comp.data, mv_vol_bytes(&comp)) == 0);
    /* affine fields: T1(T2(p)) = (A1 A2) p, exact away from the borders */
    memcpy(A1, fd_M, sizeof(A1));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) {
            A12[r][c] = 0;
            for (k = 0; k < 4; k++) A12[r][c] += A1[r][k] * A2[k][c];
        }
    REQUIRE_OK(mv_field_alloc(&a1, &fixed, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&a2, &fixed, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&a12, &fixed, 3, NULL));
    REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])A1, &a1, NULL));
    REQUIRE_OK(mv_field_add_affine_into(NULL, A2, &a2, NULL));
    REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])A12, &a12, NULL));
    REQUIRE_OK(mv_field_compose_into(&a1, &a2, &comp, NULL));
    for (z = 4; z < fixed.dim[2] - 4; z++)
        for (j = 4; j < fixed.dim[1] - 4; j++)
            for (i = 4; i < fixed.dim[0] - 4; i++)
                for (c = 0; c < 3; c++) {
                    size_t idx = (size_t)c * (size_t)mv_vol_count(&fixed) + (size_t)((z * fixed.dim[1] + j) * fixed.dim[0] + i);
                    double e = fabs((double)((float *)comp.data)[idx] - (double)((float *)a12.data)[idx]);
                    maxe = e > maxe ? e : maxe;
                }
    EXPECT_MSG(maxe <= 1e-4, "compose(A1, A2) differs from A1 A2 by %g mm inside", maxe);
    /* add_affine on a field = composing with the affine field afterwards */
    REQUIRE_OK(mv_field_add_affine_into(&a2, (const double(*)[4])A1, &a2, NULL));
    maxe = 0;
    for (i = 0; i < (int64_t)mv_vol_count(&a2); i++) {
        double e = fabs((double)((float *)a2.data)[i] - (double)((float *)a12.data)[i]);
        maxe = e > maxe ? e : maxe;
    }
    EXPECT_MSG(maxe <= 1e-4, "add_affine(A2 field, A1) differs from A1 A2 by %g mm", maxe);
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&d1);
    mv_free(&d2);
    mv_free(&comp);
    mv_free(&a1);
    mv_free(&a2);
    mv_free(&a12);
}

/* ---- inverse ---- */

static double fd_maxnorm(const mv_vol *f, int margin)
{
    int64_t X = f->dim[0], Y = f->dim[1], Z = f->dim[2], i, j, k;
    size_t nv = (size_t)(X * Y * Z);
    int c, nc = (int)f->dim[4];
    double mx = 0;
    for (k = Z > 1 ? margin : 0; k < (Z > 1 ? Z - margin : 1); k++)
        for (j = margin; j < Y - margin; j++)
            for (i = margin; i < X - margin; i++) {
                double s = 0;
                for (c = 0; c < nc; c++) {
                    double q = ((const float *)f->data)[(size_t)c * nv + (size_t)((k * Y + j) * X + i)];
                    s += q * q;
                }
                s = sqrt(s);
                mx = s > mx ? s : mx;
            }
    return mx;
}

MV_TEST(field, invert_round_trip)
{
    mv_vol fixed, moving, d, e, comp;
    mv_field_opts o = MV_ZERO_INIT;
    mv_field_info info;
    double right, left;
    int pass;
    REQUIRE(fd_pair(&fixed, &moving, &d, 1.2));
    REQUIRE_OK(mv_field_alloc(&e, &fixed, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&comp, &fixed, 3, NULL));
    for (pass = 0; pass < 2; pass++) {
        o.max_iter = pass ? 4 : 0; /* pass 1: stopped early, the residual reported must still be true */
        REQUIRE_OK(mv_field_invert_into(&d, &e, &o, &info));
        if (!pass) EXPECT_MSG(info.max_residual <= 1e-4, "residual %g after %d iterations", info.max_residual, info.iterations);
        else EXPECT_EQ_INT(info.iterations, 4);
        EXPECT(info.mean_residual <= info.max_residual && info.mean_residual >= 0);
        /* compose(d, e)(p) = e(p) + d(p + e(p)): exactly the residual */
        REQUIRE_OK(mv_field_compose_into(&d, &e, &comp, NULL));
        right = fd_maxnorm(&comp, 0);
        EXPECT_MSG(fabs(right - info.max_residual) <= 1e-5 + 1e-3 * info.max_residual,
                   "pass %d: max |compose(d, inv d)| = %g, reported %g", pass, right, info.max_residual);
        /* and the other side, away from the border */
        REQUIRE_OK(mv_field_compose_into(&e, &d, &comp, NULL));
        left = fd_maxnorm(&comp, 3);
        /* e is exact only at grid points: between them the linear
           interpolation of this 1.2 mm sinusoid errs by up to ~0.1 mm */
        if (!pass) EXPECT_MSG(left <= 0.2, "max |compose(inv d, d)| inside = %g mm", left);
    }
    EXPECT(fd_maxnorm(&d, 0) > 1.0); /* the test means something */
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&d);
    mv_free(&e);
    mv_free(&comp);
}

/* ---- exponential ---- */

MV_TEST(field, exp_rotation_and_inverse)
{
    static const int64_t dims[3] = {48, 48, 8};
    static const double sp[3] = {1, 1, 1}, off[3] = {-23.5, -23.5, -3.5};
    mv_vol grid, v, ev, want, nv, env, comp;
    mv_field_opts o = MV_ZERO_INIT;
    mv_field_info info;
    double A[4][4], W[4][4], R[4][4], th = 0.2, maxe = 0, mx;
    int64_t i, j, k;
    int c, expect_n;
    fd_affine(A, 0, 0, sp, off);
    REQUIRE(fd_image(&grid, dims, A, 5));
    REQUIRE_OK(mv_field_alloc(&v, &grid, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&ev, &grid, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&want, &grid, 3, NULL));
    /* velocity W p (rotation generator about z through the world origin,
       the grid's centre): v = the field of I + W; exp = the rotation */
    memset(W, 0, sizeof(W));
    memset(R, 0, sizeof(R));
    W[0][0] = W[1][1] = W[2][2] = W[3][3] = 1;
    W[0][1] = -th;
    W[1][0] = th;
    R[0][0] = R[1][1] = cos(th);
    R[0][1] = -sin(th);
    R[1][0] = sin(th);
    R[2][2] = R[3][3] = 1;
    REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])W, &v, NULL));
    REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])R, &want, NULL));
    REQUIRE_OK(mv_field_exp_into(&v, &ev, &o, &info));
    mx = fd_maxnorm(&v, 0); /* voxels = mm here */
    expect_n = (int)ceil(2 + log2(mx));
    EXPECT_EQ_INT(info.squarings, expect_n);
    for (k = 0; k < dims[2]; k++)
        for (j = 0; j < dims[1]; j++)
            for (i = 0; i < dims[0]; i++) {
                double x = (double)i - 23.5, y = (double)j - 23.5;
                if (x * x + y * y > 12.0 * 12.0) continue;
                for (c = 0; c < 3; c++) {
                    size_t idx = (size_t)c * (size_t)(48 * 48 * 8) + (size_t)((k * 48 + j) * 48 + i);
                    double e = fabs((double)((float *)ev.data)[idx] - (double)((float *)want.data)[idx]);
                    maxe = e > maxe ? e : maxe;
                }
            }
    /* scaling and squaring is (I + W / 2^N)^(2^N) for an affine velocity
       (linear interpolation of affine fields is exact): that, tightly, and
       the rotation expm(W) within the method's O(|W|^2 / 2^N) error */
    EXPECT_MSG(maxe <= 0.01, "exp of a rotation's velocity differs from the rotation by %g mm inside", maxe);
    {
        double P[4][4], Q[4][4];
        int s2, r, cc, kk;
        memcpy(P, W, sizeof(P));
        P[0][1] = -th / (double)(1 << expect_n);
        P[1][0] = th / (double)(1 << expect_n);
        for (s2 = 0; s2 < expect_n; s2++) {
            for (r = 0; r < 4; r++)
                for (cc = 0; cc < 4; cc++) {
                    Q[r][cc] = 0;
                    for (kk = 0; kk < 4; kk++) Q[r][cc] += P[r][kk] * P[kk][cc];
                }
            memcpy(P, Q, sizeof(P));
        }
        REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])P, &want, NULL));
        maxe = 0;
        for (k = 0; k < dims[2]; k++)
            for (j = 0; j < dims[1]; j++)
                for (i = 0; i < dims[0]; i++) {
                    double x = (double)i - 23.5, y = (double)j - 23.5;
                    if (x * x + y * y > 12.0 * 12.0) continue;
                    for (c = 0; c < 3; c++) {
                        size_t idx = (size_t)c * (size_t)(48 * 48 * 8) + (size_t)((k * 48 + j) * 48 + i);
                        double e = fabs((double)((float *)ev.data)[idx] - (double)((float *)want.data)[idx]);
                        maxe = e > maxe ? e : maxe;
                    }
                }
        EXPECT_MSG(maxe <= 2e-4, "exp differs from (I + W/2^N)^(2^N) by %g mm inside", maxe);
    }
    /* a smooth velocity: exp(v) and exp(-v) are inverses */
    fd_smooth(&v, 2.0, 0.2);
    REQUIRE_OK(mv_vol_copy(&v, &nv));
    for (i = 0; i < (int64_t)mv_vol_count(&nv); i++) ((float *)nv.data)[i] = -((float *)nv.data)[i];
    REQUIRE_OK(mv_field_alloc(&env, &grid, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&comp, &grid, 3, NULL));
    REQUIRE_OK(mv_field_exp_into(&v, &ev, NULL, &info));
    REQUIRE_OK(mv_field_exp_into(&nv, &env, NULL, NULL));
    REQUIRE_OK(mv_field_compose_into(&ev, &env, &comp, NULL));
    EXPECT_MSG(fd_maxnorm(&comp, 4) <= 0.05, "|exp(v) o exp(-v)| = %g mm inside", fd_maxnorm(&comp, 4));
    /* exp in place, and with the count forced: the same as composing that many halvings */
    mv_free(&comp);
    REQUIRE_OK(mv_vol_copy(&v, &comp));
    REQUIRE_OK(mv_field_exp_into(&comp, &comp, NULL, NULL));
    EXPECT(memcmp(comp.data, ev.data, mv_vol_bytes(&ev)) == 0);
    o.squarings = 1;
    REQUIRE_OK(mv_field_exp_into(&v, &comp, &o, &info));
    EXPECT_EQ_INT(info.squarings, 1);
    for (i = 0; i < (int64_t)mv_vol_count(&nv); i++) ((float *)nv.data)[i] = ((float *)v.data)[i] * 0.5f;
    REQUIRE_OK(mv_field_compose_into(&nv, &nv, &env, NULL));
    EXPECT(memcmp(comp.data, env.data, mv_vol_bytes(&ev)) == 0);
    mv_free(&grid);
    mv_free(&v);
    mv_free(&ev);
    mv_free(&want);
    mv_free(&nv);
    mv_free(&env);
    mv_free(&comp);
}

/* ---- Jacobian and folds ---- */

MV_TEST(field, jacobian_matches_numpy)
{
    mv_vol fixed, moving, f, jac;
    double v[3], detA, mn;
    int64_t folds, i;
    int skip;
    char args[1100];
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    REQUIRE(fd_pair(&fixed, &moving, &f, 1.5));
    mv_vol_init(&jac);
    REQUIRE_OK(mv_field_jacobian(&f, &jac, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &f, NULL));
    REQUIRE_OK(mv_save(tu_file("field", "jac.nii"), &jac, NULL));
    snprintf(args, sizeof(args), "jac %s", tu_dir("field"));
    REQUIRE(fd_py(args, v, 3, &skip));
    EXPECT_MSG(v[0] <= 1e-5, "Jacobian differs from numpy by %g", v[0]);
    REQUIRE_OK(mv_field_folds(&f, &folds, &mn, NULL));
    EXPECT_EQ_INT(folds, (int64_t)v[1]);
    EXPECT_NEAR(mn, v[2], 1e-5);
    /* a stronger field folds: the count agrees with numpy's */
    fd_smooth(&f, 6.0, 0.3);
    mv_free(&jac);
    REQUIRE_OK(mv_field_jacobian(&f, &jac, NULL));
    REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &f, NULL));
    REQUIRE_OK(mv_save(tu_file("field", "jac.nii"), &jac, NULL));
    REQUIRE(fd_py(args, v, 3, &skip));
    EXPECT_MSG(v[0] <= 1e-4, "Jacobian differs from numpy by %g", v[0]);
    REQUIRE_OK(mv_field_folds(&f, &folds, &mn, NULL));
    EXPECT_EQ_INT(folds, (int64_t)v[1]);
    EXPECT_MSG(folds > 0, "the strong field should fold");
    /* affine fields: det(A) at every voxel, a reflection folds everything */
    REQUIRE_OK(mv_field_add_affine_into(NULL, fd_M, &f, NULL));
    REQUIRE_OK(mv_field_jacobian_into(&f, &jac, NULL));
    detA = fd_M[0][0] * (fd_M[1][1] * fd_M[2][2] - fd_M[1][2] * fd_M[2][1]) -
           fd_M[0][1] * (fd_M[1][0] * fd_M[2][2] - fd_M[1][2] * fd_M[2][0]) +
           fd_M[0][2] * (fd_M[1][0] * fd_M[2][1] - fd_M[1][1] * fd_M[2][0]);
    for (i = 0; i < mv_vol_count(&jac); i++) EXPECT_NEAR(((float *)jac.data)[i], detA, 2e-5);
    {
        double F[4][4] = {{-1, 0, 0, 2}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])F, &f, NULL));
        REQUIRE_OK(mv_field_folds(&f, &folds, &mn, NULL));
        EXPECT_EQ_INT(folds, mv_vol_count(&jac));
        EXPECT_NEAR(mn, -1, 1e-5);
    }
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&f);
    mv_free(&jac);
}

MV_TEST(field, jacobian_2d)
{
    static const int64_t fd[3] = {31, 27, 1};
    static const double fsp[3] = {0.7, 1.1, 2}, foff[3] = {3, -4, 1};
    double FA[4][4], v[3], M2[4][4] = {{1.1, 0.2, 0, 1}, {-0.1, 0.9, 0, 2}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    mv_vol g, f, jac;
    int skip;
    int64_t i;
    char args[1100];
    fd_affine(FA, 0.3, 0, fsp, foff);
    REQUIRE(fd_image(&g, fd, FA, 9));
    REQUIRE_OK(mv_field_alloc(&f, &g, 0, NULL));
    REQUIRE_OK(mv_field_add_affine_into(NULL, (const double(*)[4])M2, &f, NULL));
    mv_vol_init(&jac);
    REQUIRE_OK(mv_field_jacobian(&f, &jac, NULL));
    for (i = 0; i < mv_vol_count(&jac); i++) EXPECT_NEAR(((float *)jac.data)[i], 1.1 * 0.9 + 0.2 * 0.1, 2e-5);
    if (tu_python("numpy nibabel")) {
        fd_smooth(&f, 1.0, 0.5);
        REQUIRE_OK(mv_field_jacobian_into(&f, &jac, NULL));
        REQUIRE_OK(mv_field_save(tu_file("field", "field.nii"), &f, NULL));
        REQUIRE_OK(mv_save(tu_file("field", "jac.nii"), &jac, NULL));
        snprintf(args, sizeof(args), "jac %s", tu_dir("field"));
        REQUIRE(fd_py(args, v, 3, &skip));
        EXPECT_MSG(v[0] <= 1e-5, "2D Jacobian differs from numpy by %g", v[0]);
    }
    mv_free(&g);
    mv_free(&f);
    mv_free(&jac);
}

/* ---- determinism and files ---- */

MV_TEST(field, threads_identical)
{
    static const int64_t dims[3] = {84, 80, 76};
    static const double sp[3] = {1.1, 0.9, 1.3}, off[3] = {-40, -35, -45};
    double A[4][4];
    mv_vol g, f, r1, r2;
    mv_field_opts o1 = MV_ZERO_INIT, o3 = MV_ZERO_INIT;
    mv_field_info i1, i3;
    int interp;
    int64_t c1, c3;
    double m1, m3;
    o1.threads = 1;
    o3.threads = 3;
    fd_affine(A, 0.1, 0.05, sp, off);
    REQUIRE(fd_image(&g, dims, A, 11));
    REQUIRE_OK(mv_field_alloc(&f, &g, 3, NULL));
    fd_smooth(&f, 1.5, 0.1);
    for (interp = 0; interp < 3; interp++) {
        o1.interp = o3.interp = (mv_interp)interp;
        mv_vol_init(&r1);
        mv_vol_init(&r2);
        REQUIRE_OK(mv_field_warp(&g, &f, fd_M, &r1, &o1));
        REQUIRE_OK(mv_field_warp(&g, &f, fd_M, &r2, &o3));
        EXPECT_MSG(memcmp(r1.data, r2.data, mv_vol_bytes(&r1)) == 0, "warp interp %d differs with 3 threads", interp);
        mv_free(&r1);
        mv_free(&r2);
    }
    REQUIRE_OK(mv_field_alloc(&r1, &g, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&r2, &g, 3, NULL));
    o1.max_iter = o3.max_iter = 3;
    REQUIRE_OK(mv_field_invert_into(&f, &r1, &o1, &i1));
    REQUIRE_OK(mv_field_invert_into(&f, &r2, &o3, &i3));
    EXPECT(memcmp(r1.data, r2.data, mv_vol_bytes(&r1)) == 0);
    EXPECT(i1.max_residual == i3.max_residual && i1.mean_residual == i3.mean_residual && i1.iterations == i3.iterations);
    REQUIRE_OK(mv_field_exp_into(&f, &r1, &o1, &i1));
    REQUIRE_OK(mv_field_exp_into(&f, &r2, &o3, &i3));
    EXPECT(memcmp(r1.data, r2.data, mv_vol_bytes(&r1)) == 0);
    REQUIRE_OK(mv_field_compose_into(&f, &r1, &r2, &o3));
    REQUIRE_OK(mv_field_compose_into(&f, &r1, &r1, &o1));
    EXPECT(memcmp(r1.data, r2.data, mv_vol_bytes(&r1)) == 0);
    REQUIRE_OK(mv_field_folds(&r1, &c1, &m1, &o1));
    REQUIRE_OK(mv_field_folds(&r1, &c3, &m3, &o3));
    EXPECT(c1 == c3 && m1 == m3);
    mv_free(&g);
    mv_free(&f);
    mv_free(&r1);
    mv_free(&r2);
}

MV_TEST(field, files_round_trip)
{
    mv_vol fixed, moving, f, back, img;
    REQUIRE(fd_pair(&fixed, &moving, &f, 2.0));
    REQUIRE_OK(mv_field_save(tu_file("field", "rt.nii.gz"), &f, NULL));
    mv_vol_init(&back);
    REQUIRE_OK(mv_field_load(tu_file("field", "rt.nii.gz"), &back, NULL));
    REQUIRE_OK(mv_field_check(&back, &fixed));
    EXPECT(memcmp(back.data, f.data, mv_vol_bytes(&f)) == 0);
    EXPECT_EQ_INT(back.meta.intent_code, 1007);
    EXPECT_EQ_INT(back.ndim, 5);
    /* a plain image is not a field: the detail names the file */
    REQUIRE_OK(mv_save(tu_file("field", "img.nii"), &fixed, NULL));
    mv_vol_init(&img);
    EXPECT_STATUS(mv_field_load(tu_file("field", "img.nii"), &img, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "img.nii") != NULL);
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&f);
    mv_free(&back);
}

MV_TEST(field, bad_input)
{
    mv_vol fixed, moving, f, g2, out, bad;
    int64_t dims[5] = {4, 4, 4, 1, 3}, cnt;
    double I[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    REQUIRE(fd_pair(&fixed, &moving, &f, 1.0));
    REQUIRE_OK(mv_field_alloc(&g2, &moving, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&out, &fixed, 3, NULL));
    /* wrong dtype, dims, intent */
    REQUIRE_OK(mv_vol_alloc(&bad, MV_DT_F64, 5, dims, NULL));
    bad.meta.intent_code = 1007;
    EXPECT_STATUS(mv_field_check(&bad, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "float32") != NULL);
    mv_free(&bad);
    REQUIRE_OK(mv_vol_alloc(&bad, MV_DT_F32, 4, dims, NULL));
    bad.meta.intent_code = 1007;
    EXPECT_STATUS(mv_field_folds(&bad, &cnt, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "mv_field_folds") != NULL);
    mv_free(&bad);
    REQUIRE_OK(mv_vol_alloc(&bad, MV_DT_F32, 5, dims, NULL));
    EXPECT_STATUS(mv_field_invert_into(&bad, &out, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "intent_code") != NULL);
    bad.meta.intent_code = 1007;
    bad.dim[4] = 2; /* 2 components need one slice */
    EXPECT_STATUS(mv_field_check(&bad, NULL), MV_ERR_INVALID_ARG);
    bad.dim[4] = 3;
    /* mismatched grids */
    EXPECT_STATUS(mv_field_compose_into(&f, &g2, &out, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "same voxel grid") != NULL);
    EXPECT_STATUS(mv_field_invert_into(&g2, &out, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_exp_into(&bad, &out, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_check(&f, &moving), MV_ERR_INVALID_ARG);
    out.affine[0][3] += 0.01;
    EXPECT_STATUS(mv_field_add_affine_into(&f, (const double(*)[4])I, &out, NULL), MV_ERR_INVALID_ARG);
    out.affine[0][3] -= 0.01;
    /* aliasing, NULLs, a singular affine, a bad matrix */
    EXPECT_STATUS(mv_field_invert_into(&f, &f, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_compose_into(&out, &f, &out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_warp(NULL, &f, NULL, &moving, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_warp(&moving, NULL, NULL, &bad, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_folds(&f, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_field_add_affine_into(&f, NULL, &out, NULL), MV_ERR_INVALID_ARG);
    {
        double Mb[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 1, 1}};
        mv_vol w;
        mv_vol_init(&w);
        EXPECT_STATUS(mv_field_warp(&moving, &f, (const double(*)[4])Mb, &w, NULL), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "matrix") != NULL);
        f.affine[2][2] = 0;
        f.affine[2][0] = 0;
        f.affine[2][1] = 0;
        EXPECT_STATUS(mv_field_warp(&moving, &f, NULL, &w, NULL), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "singular") != NULL);
        memcpy(f.affine, fixed.affine, sizeof(f.affine));
        /* warp_into: out of another grid */
        EXPECT_STATUS(mv_field_warp_into(&moving, &f, NULL, &moving, NULL), MV_ERR_INVALID_ARG);
    }
    {
        /* a 2D field takes only affines that keep z; tol, threads, scratch */
        mv_field_opts o = MV_ZERO_INIT;
        mv_vol g2d, f2d;
        int64_t d2[3] = {8, 7, 1};
        REQUIRE_OK(mv_vol_alloc(&g2d, MV_DT_F32, 3, d2, NULL));
        REQUIRE_OK(mv_field_alloc(&f2d, &g2d, 0, NULL));
        EXPECT_STATUS(mv_field_add_affine_into(NULL, fd_M, &f2d, NULL), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_field_alloc(&bad, &fixed, 2, NULL), MV_ERR_INVALID_ARG);
        o.tol = -1;
        EXPECT_STATUS(mv_field_invert_into(&f, &out, &o, NULL), MV_ERR_INVALID_ARG);
        o.tol = 0;
        o.threads = -2;
        EXPECT_STATUS(mv_field_exp_into(&f, &out, &o, NULL), MV_ERR_INVALID_ARG);
        o.threads = 0;
        o.scratch = g2d.data; /* 64-byte aligned, 224 bytes */
        o.scratch_size = mv_vol_bytes(&g2d);
        EXPECT_STATUS(mv_field_invert_into(&f, &out, &o, NULL), MV_ERR_BUFFER_TOO_SMALL);
        EXPECT(mv_field_scratch_size(&f, NULL, NULL) >= mv_vol_bytes(&f));
        bad.meta.intent_code = 0;
        EXPECT_EQ_INT(mv_field_scratch_size(&bad, NULL, NULL), 0);
        mv_free(&g2d);
        mv_free(&f2d);
    }
    mv_free(&bad);
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&f);
    mv_free(&g2);
    mv_free(&out);
}

MV_TEST(field, smooth_per_component)
{
    mv_vol fixed, moving, f, sm, comp, cs;
    mv_filter_opts fo = MV_ZERO_INIT;
    double sigma[3] = {2.0, 1.5, 3.0};
    int64_t dims[3];
    size_t nv;
    int c, a;
    REQUIRE(fd_pair(&fixed, &moving, &f, 2.0));
    REQUIRE_OK(mv_vol_copy(&f, &sm));
    fo.sigma_in_mm = 1;
    REQUIRE_OK(mv_field_smooth_into(&f, &sm, sigma, &fo));
    for (a = 0; a < 3; a++) dims[a] = f.dim[a];
    nv = (size_t)(dims[0] * dims[1] * dims[2]);
    /* each component is mv_gaussian of that component (tested against scipy in test_filter.c) */
    for (c = 0; c < 3; c++) {
        REQUIRE_OK(mv_vol_alloc(&comp, MV_DT_F32, 3, dims, NULL));
        memcpy(comp.data, (float *)f.data + (size_t)c * nv, nv * 4);
        for (a = 0; a < 3; a++) comp.spacing[a] = f.spacing[a];
        memcpy(comp.affine, f.affine, sizeof(comp.affine));
        mv_vol_init(&cs);
        REQUIRE_OK(mv_gaussian(&comp, &cs, sigma, &fo));
        EXPECT_MSG(memcmp(cs.data, (float *)sm.data + (size_t)c * nv, nv * 4) == 0, "component %d differs", c);
        mv_free(&comp);
        mv_free(&cs);
    }
    /* in place gives the same; another grid is refused */
    REQUIRE_OK(mv_field_smooth_into(&f, &f, sigma, &fo));
    EXPECT(memcmp(f.data, sm.data, mv_vol_bytes(&f)) == 0);
    mv_free(&sm);
    REQUIRE_OK(mv_field_alloc(&sm, &moving, 3, NULL));
    EXPECT_STATUS(mv_field_smooth_into(&f, &sm, sigma, &fo), MV_ERR_INVALID_ARG);
    mv_free(&fixed);
    mv_free(&moving);
    mv_free(&f);
    mv_free(&sm);
}

/* ---- diffeomorphic demons on a real image deformed by a known field ---- */

typedef struct fd_cancel {
    int calls, cancel_at;
    int last_level, last_iter;
} fd_cancel;

static int fd_progress(void *user, int level, int iteration, double mse)
{
    fd_cancel *c = (fd_cancel *)user;
    (void)mse;
    c->last_level = level;
    c->last_iter = iteration;
    return ++c->calls == c->cancel_at;
}

/* moving(q) = fixed(q + g(q)) for a smooth g; then fixed(p) = moving(p +
   d(p)) with d = inv(g), the field demons must find. Errors (mm) over the
   voxels brighter than a tenth of the maximum, 2 voxels inside. */
static void fd_demons_case(mv_vol *F, double amp, int is2d, double *mean_err, double *p95_err, double *mean_true,
                           int64_t *folds, mv_demons_result *res, const mv_demons_opts *o, mv_vol *est_out)
{
    mv_vol g, dtrue, M, est;
    mv_field_opts fo = MV_ZERO_INIT;
    int64_t X = F->dim[0], Y = F->dim[1], Z = is2d ? 1 : F->dim[2], i, j, k, n = 0;
    size_t nv = (size_t)(X * Y * Z);
    double sum = 0, sumt = 0, fmax = 0, *errs;
    int c, nc = is2d ? 2 : 3;
    *mean_err = *p95_err = *mean_true = -1;
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
    fo.max_iter = 200;
    REQUIRE_OK(mv_field_invert_into(&g, &dtrue, &fo, NULL));
    mv_vol_init(&est);
    REQUIRE_OK(mv_register_demons(F, &M, &est, o, res));
    REQUIRE_OK(mv_field_folds(&est, folds, NULL, NULL));
    for (i = 0; i < (int64_t)nv; i++) fmax = fmax > ((float *)F->data)[i] ? fmax : ((float *)F->data)[i];
    errs = (double *)malloc(nv * sizeof(double));
    REQUIRE(errs != NULL);
    for (k = is2d ? 0 : 2; k < (is2d ? 1 : Z - 2); k++)
        for (j = 2; j < Y - 2; j++)
            for (i = 2; i < X - 2; i++) {
                size_t v = (size_t)((k * Y + j) * X + i);
                double e = 0, t = 0;
                if (((float *)F->data)[v] < 0.1 * fmax) continue;
                for (c = 0; c < nc; c++) {
                    double a = ((float *)est.data)[(size_t)c * nv + v], b = ((float *)dtrue.data)[(size_t)c * nv + v];
                    e += (a - b) * (a - b);
                    t += b * b;
                }
                errs[n++] = sqrt(e);
                sum += sqrt(e);
                sumt += sqrt(t);
            }
    if (n > 0) {
        /* 95th percentile by partial selection sort of the top 5% */
        int64_t top = n / 20 + 1, q;
        for (q = 0; q < top; q++) {
            int64_t m = q, r;
            for (r = q + 1; r < n; r++)
                if (errs[r] > errs[m]) m = r;
            {
                double tmp = errs[q];
                errs[q] = errs[m];
                errs[m] = tmp;
            }
        }
        *p95_err = errs[top - 1];
        *mean_err = sum / (double)n;
        *mean_true = sumt / (double)n;
    }
    free(errs);
    if (est_out) *est_out = est;
    else mv_free(&est);
    mv_free(&g);
    mv_free(&dtrue);
    mv_free(&M);
}

static int fd_load_anatomical(mv_vol *F)
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

MV_TEST(field, demons_recovers_known_field_3d)
{
    mv_vol F, est1, est2;
    mv_demons_opts o = MV_ZERO_INIT;
    mv_demons_result r1, r2;
    double me, p95, mt;
    int64_t folds;
    fd_cancel cc = {0, 0, 0, 0};
    if (!fd_load_anatomical(&F)) SKIP("../shared/data/nifti/anatomical.nii not found (set MEDVOL_DATA)");
    o.progress = fd_progress;
    o.progress_user = &cc;
    fd_demons_case(&F, 3.0, 0, &me, &p95, &mt, &folds, &r1, &o, &est1);
    printf("    demons 3D anatomical (33x41x25, 2 mm): true field mean %.3f mm; error mean %.3f mm, p95 %.3f mm; "
           "%lld folded; MSE %.4g -> %.4g; iterations %d/%d/%d\n",
           mt, me, p95, (long long)folds, r1.mse_start, r1.mse, r1.iterations[0], r1.iterations[1], r1.iterations[2]);
    EXPECT_MSG(mt > 1.0, "the known field is too small to mean anything (%g mm)", mt);
    /* measured: mean 0.49 mm of a 1.48 mm mean field (2 mm voxels), the
       MSE at the floor the true field itself gives (interpolation and
       noise); the rest is where this small image has no texture */
    EXPECT_MSG(me <= 0.4 * mt, "mean field error %g mm, the field's mean is %g mm", me, mt);
    EXPECT_MSG(p95 <= mt + 0.5, "95th percentile error %g mm", p95);
    EXPECT_EQ_INT(folds, 0);
    EXPECT(r1.mse < 0.8 * r1.mse_start);
    EXPECT(cc.calls > 0 && cc.last_level == 2);
    /* the same bits with one thread */
    o.threads = 1;
    o.progress = NULL;
    fd_demons_case(&F, 3.0, 0, &me, &p95, &mt, &folds, &r2, &o, &est2);
    EXPECT(memcmp(est1.data, est2.data, mv_vol_bytes(&est1)) == 0);
    EXPECT(r1.mse == r2.mse);
    mv_free(&est1);
    mv_free(&est2);
    /* cancel at the 5th call: MV_ERR_CANCELLED and the field untouched */
    {
        mv_vol M, out;
        memset(&cc, 0, sizeof(cc));
        cc.cancel_at = 5;
        o.progress = fd_progress;
        mv_vol_init(&out);
        REQUIRE_OK(mv_vol_copy(&F, &M));
        EXPECT_STATUS(mv_register_demons(&F, &M, &out, &o, NULL), MV_ERR_CANCELLED);
        EXPECT(out.data == NULL && cc.calls == 5);
        mv_free(&M);
    }
    mv_free(&F);
}

MV_TEST(field, demons_recovers_known_field_2d)
{
    mv_vol F3, F;
    mv_demons_opts o = MV_ZERO_INIT;
    mv_demons_result r;
    double me, p95, mt;
    int64_t folds, dims[3];
    if (!fd_load_anatomical(&F3)) SKIP("../shared/data/nifti/anatomical.nii not found (set MEDVOL_DATA)");
    /* slice 12 as a 2D image */
    dims[0] = F3.dim[0];
    dims[1] = F3.dim[1];
    dims[2] = 1;
    REQUIRE_OK(mv_vol_alloc(&F, MV_DT_F32, 3, dims, NULL));
    memcpy(F.data, (float *)F3.data + (size_t)(12 * dims[0] * dims[1]), (size_t)(dims[0] * dims[1]) * 4);
    memcpy(F.affine, F3.affine, sizeof(F.affine));
    F.spacing[0] = F3.spacing[0];
    F.spacing[1] = F3.spacing[1];
    o.levels = 2;
    fd_demons_case(&F, 3.0, 1, &me, &p95, &mt, &folds, &r, &o, NULL);
    printf("    demons 2D anatomical slice (33x41, 2 mm): true field mean %.3f mm; error mean %.3f mm, p95 %.3f mm; "
           "%lld folded; MSE %.4g -> %.4g\n",
           mt, me, p95, (long long)folds, r.mse_start, r.mse);
    EXPECT_MSG(me <= 0.4 * mt, "mean field error %g mm, the field's mean is %g mm", me, mt);
    EXPECT_EQ_INT(folds, 0);
    EXPECT(r.mse < r.mse_start);
    mv_free(&F3);
    mv_free(&F);
}

/* ---- one demons update (mv_demons_update_into) from its definition ---- */

/* numpy.gradient of a float32 volume along axis a at voxel (i, j, k) */
static double fd_np_grad(const float *v, const int64_t n[3], int64_t i, int64_t j, int64_t k, int a)
{
    int64_t p[3] = {i, j, k}, st[3] = {1, n[0], n[0] * n[1]}, idx = i + j * n[0] + k * n[0] * n[1];
    if (n[a] == 1) return 0;
    if (p[a] == 0) return (double)v[idx + st[a]] - (double)v[idx];
    if (p[a] == n[a] - 1) return (double)v[idx] - (double)v[idx - st[a]];
    return 0.5 * ((double)v[idx + st[a]] - (double)v[idx - st[a]]);
}

MV_TEST(field, demons_update_matches_definition)
{
    /* an axis-aligned RAS grid of spacing (sx, sy, sz): LPS mm gradient =
       (-g0 / sx, -g1 / sy, g2 / sz); the force from Vercauteren's formula */
    const int64_t n[3] = {19, 14, 11};
    const double sp[3] = {1.2, 0.9, 2.0}, off[3] = {-10, 4, 7}, step = 1.5;
    double A[4][4], mse = 0, mse_ref = 0, worst = 0, umax = 0, mse1 = 0;
    mv_vol F, W, u, u1;
    mv_field_opts o1 = MV_ZERO_INIT;
    int64_t i, j, k;
    int c;
    fd_affine(A, 0, 0, sp, off);
    REQUIRE(fd_image(&F, n, A, 11) && fd_image(&W, n, A, 12));
    REQUIRE_OK(mv_field_alloc(&u, &F, 3, NULL));
    REQUIRE_OK(mv_field_alloc(&u1, &F, 3, NULL));
    REQUIRE_OK(mv_demons_update_into(&F, &W, &u, step, NULL, &mse));
    for (k = 0; k < n[2]; k++)
        for (j = 0; j < n[1]; j++)
            for (i = 0; i < n[0]; i++) {
                int64_t v = i + j * n[0] + k * n[0] * n[1], nv = n[0] * n[1] * n[2];
                double d = (double)((float *)F.data)[v] - (double)((float *)W.data)[v], J[3], n2 = 0, den, norm = 0;
                const double sgn[3] = {-1, -1, 1};
                for (c = 0; c < 3; c++) {
                    J[c] = sgn[c] * 0.5 * (fd_np_grad((float *)F.data, n, i, j, k, c) + fd_np_grad((float *)W.data, n, i, j, k, c)) /
                           sp[c];
                    n2 += J[c] * J[c];
                }
                den = n2 + d * d / (4 * step * step);
                for (c = 0; c < 3; c++) {
                    double want = den > 1e-12 ? d * J[c] / den : 0, got = ((float *)u.data)[c * nv + v];
                    worst = fmax(worst, fabs(got - want) / (fabs(want) + 1e-6));
                    norm += got * got;
                }
                umax = fmax(umax, sqrt(norm));
                mse_ref += d * d;
            }
    mse_ref /= (double)(n[0] * n[1] * n[2]);
    EXPECT_MSG(worst <= 1e-5, "force differs from its definition by %.3g relative", worst);
    EXPECT_MSG(umax <= step * (1 + 1e-6) && umax > 0.5 * step, "largest update %.6g mm, max_step %.3g mm", umax, step);
    EXPECT_REL(mse, mse_ref, 1e-12);
    /* one thread gives the same bits; bad arguments */
    o1.threads = 1;
    REQUIRE_OK(mv_demons_update_into(&F, &W, &u1, step, &o1, &mse1));
    EXPECT(memcmp(u.data, u1.data, mv_vol_bytes(&u)) == 0 && mse == mse1);
    EXPECT_STATUS(mv_demons_update_into(&F, &W, &u, 0.0, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_demons_update_into(&F, &u, &u, step, NULL, NULL), MV_ERR_INVALID_ARG);
    mv_free(&F);
    mv_free(&W);
    mv_free(&u);
    mv_free(&u1);
}
