/* test_affine.c - affines and orientation codes against nibabel */
#include "testutil.h"
#include "json.h"
#include <stdlib.h>

static void mat_from_json(const tj *a, double m[4][4])
{
    int r, c;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) m[r][c] = tj_num(tj_at(tj_at(a, r), c), NAN);
}

static tj *load_affines(void)
{
    const char *refs = tu_refs_dir();
    char path[1024];
    if (!refs) return NULL;
    snprintf(path, sizeof(path), "%s/affines.json", refs);
    return tj_parse_file(path);
}

MV_TEST(affine, orientation_matches_nibabel)
{
    tj *doc = load_affines();
    int i, k;
    if (!doc) SKIP("needs nibabel (refs.py)");
    for (i = 0; i < doc->n; i++) {
        const tj *e = &doc->items[i];
        mv_vol v;
        char code[4];
        int ax[3], sg[3];
        mv_vol_init(&v);
        mat_from_json(tj_get(e, "affine"), v.affine);
        EXPECT_OK(mv_orientation(&v, code));
        EXPECT_MSG(strcmp(code, tj_str(tj_get(e, "codes"), "")) == 0, "affine %d: %s, nibabel %s", i, code,
                   tj_str(tj_get(e, "codes"), ""));
        EXPECT_OK(mv_io_orientation(&v, ax, sg));
        for (k = 0; k < 3; k++) {
            EXPECT_EQ_INT(ax[k], tj_num(tj_at(tj_get(e, "axis"), k), -9));
            EXPECT_EQ_INT(sg[k], tj_num(tj_at(tj_get(e, "sign"), k), -9));
        }
    }
    tj_free(doc);
}

/* qform -> affine: nibabel get_qform on the same stored quaternion */
MV_TEST(affine, qform_matches_nibabel)
{
    tj *doc = load_affines();
    int i, r, c, tested = 0;
    if (!doc) SKIP("needs nibabel (refs.py)");
    for (i = 0; i < doc->n; i++) {
        const tj *q = tj_get(&doc->items[i], "qform");
        mv_vol v;
        double want[4][4], got[4][4];
        if (!q) continue;
        mv_vol_init(&v);
        v.ndim = 3;
        for (c = 0; c < 3; c++) {
            v.meta.quatern[c] = tj_num(tj_at(tj_get(q, "quatern"), c), 0);
            v.meta.qoffset[c] = tj_num(tj_at(tj_get(q, "qoffset"), c), 0);
            v.spacing[c] = tj_num(tj_at(tj_get(q, "pixdim"), c + 1), 0);
        }
        v.meta.qfac = tj_num(tj_at(tj_get(q, "pixdim"), 0), 0);
        v.meta.qform_code = 1;
        v.meta.sform_code = 0;
        mat_from_json(tj_get(q, "get_qform"), want);
        mv_meta_affine(&v, got);
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++)
                EXPECT_MSG(fabs(got[r][c] - want[r][c]) <= 1e-15 * (1 + fabs(want[r][c])), "affine %d [%d][%d]: %.17g vs %.17g",
                           i, r, c, got[r][c], want[r][c]);
        tested++;
    }
    EXPECT(tested > 100);
    tj_free(doc);
}

/* affine -> qform when writing: nibabel set_qform (polar decomposition) */
MV_TEST(affine, set_qform_matches_nibabel)
{
    tj *doc = load_affines();
    int i, c, tested = 0;
    if (!doc) SKIP("needs nibabel (refs.py)");
    for (i = 0; i < doc->n; i++) {
        const tj *e = &doc->items[i], *q = tj_get(e, "qform");
        mv_vol v, back;
        int64_t dims[3] = {2, 2, 2};
        unsigned char buf[400];
        size_t len;
        mv_load_opts lo;
        if (!q) continue;
        REQUIRE_OK(mv_vol_alloc(&v, MV_DT_U8, 3, dims, NULL));
        mat_from_json(tj_get(e, "affine"), v.affine);
        v.meta.qform_code = 1;
        REQUIRE_OK(mv_save_mem(&v, buf, sizeof(buf), &len, NULL));
        memset(&lo, 0, sizeof(lo));
        lo.header_only = 1;
        REQUIRE_OK(mv_load_mem(buf, len, &back, &lo));
        EXPECT_EQ_INT(back.meta.qform_code, 1);
        EXPECT_EQ_INT(back.meta.sform_code, MV_XFORM_ALIGNED);
        EXPECT(back.meta.qfac == tj_num(tj_at(tj_get(q, "pixdim"), 0), 0));
        {
            /* a 180-degree rotation has w = 0, and then q and -q store the same
               rotation: nibabel's sign is whatever its eigensolver returns */
            double w2 = 1, sgn = 1, dot = 0;
            for (c = 0; c < 3; c++) {
                double nq = tj_num(tj_at(tj_get(q, "quatern"), c), 0);
                w2 -= nq * nq;
                dot += nq * back.meta.quatern[c];
            }
            if (w2 < 1e-6 && dot < 0) sgn = -1;
            for (c = 0; c < 3; c++)
                EXPECT_NEAR(sgn * back.meta.quatern[c], tj_num(tj_at(tj_get(q, "quatern"), c), 0), 2e-7);
        }
        for (c = 0; c < 3; c++) {
            /* float32 fields: one rounding of slightly different float64 paths */
            EXPECT(back.meta.qoffset[c] == tj_num(tj_at(tj_get(q, "qoffset"), c), 0));
            EXPECT_REL(back.spacing[c], tj_num(tj_at(tj_get(q, "pixdim"), c + 1), 0), 2e-7);
        }
        mv_free(&v);
        mv_free(&back);
        tested++;
    }
    EXPECT(tested > 100);
    tj_free(doc);
}

/* no codes: nibabel's shape_zoom_affine (centred, x flipped) */
MV_TEST(affine, base_affine)
{
    mv_vol v;
    double a[4][4];
    mv_vol_init(&v);
    v.ndim = 3;
    v.dim[0] = 4;
    v.dim[1] = 5;
    v.dim[2] = 6;
    v.spacing[0] = 2;
    v.spacing[1] = 3;
    v.spacing[2] = 4;
    mv_meta_affine(&v, a);
    EXPECT(a[0][0] == -2 && a[1][1] == 3 && a[2][2] == 4 && a[0][1] == 0);
    EXPECT(a[0][3] == 3 && a[1][3] == -6 && a[2][3] == -10 && a[3][3] == 1);
    v.ndim = 2; /* axes past ndim: size 1, zoom 1 */
    v.spacing[2] = 7;
    mv_meta_affine(&v, a);
    EXPECT(a[2][2] == 1 && a[2][3] == 0);
}

#define C44(m) ((const double(*)[4])(m)) /* C's const rule for 2D arrays */

/* mv_affine_invert / mv_affine_multiply against the analytic inverse of a
   scaled rotation with a translation: [s R | t]^-1 = [R^T / s | -R^T t / s] */
MV_TEST(affine, invert_and_multiply_analytic)
{
    double a[4][4], r[4][4], p[4][4], want[4][4], R[3][3], s = 1.7, t[3] = {12.5, -3.25, 40};
    double ca = cos(0.3), sa = sin(0.3), cb = cos(-1.1), sb = sin(-1.1);
    double bad[4][4];
    int i, j, k;
    /* R = Rz(0.3) Rx(-1.1) */
    double Rz[3][3] = {{ca, -sa, 0}, {sa, ca, 0}, {0, 0, 1}}, Rx[3][3] = {{1, 0, 0}, {0, cb, -sb}, {0, sb, cb}};
    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) {
            R[i][j] = 0;
            for (k = 0; k < 3; k++) R[i][j] += Rz[i][k] * Rx[k][j];
        }
    memset(a, 0, sizeof(a));
    memset(want, 0, sizeof(want));
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 3; j++) {
            a[i][j] = s * R[i][j];
            want[i][j] = R[j][i] / s;
        }
        a[i][3] = t[i];
        want[i][3] = -(R[0][i] * t[0] + R[1][i] * t[1] + R[2][i] * t[2]) / s;
    }
    a[3][3] = want[3][3] = 1;
    EXPECT_OK(mv_affine_invert(C44(a), r));
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) EXPECT_NEAR(r[i][j], want[i][j], 1e-13 * (j == 3 ? 50 : 1));
    mv_affine_multiply(C44(a), C44(r), p);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) EXPECT_NEAR(p[i][j], i == j ? 1.0 : 0.0, 1e-12);
    mv_affine_multiply(C44(a), C44(r), a); /* r may alias an input */
    for (i = 0; i < 4; i++) EXPECT_NEAR(a[i][i], 1.0, 1e-12);
    memset(bad, 0, sizeof(bad));
    bad[0][0] = bad[1][1] = 1;
    bad[3][3] = 1; /* singular: a zero column */
    EXPECT_STATUS(mv_affine_invert(C44(bad), r), MV_ERR_INVALID_ARG);
    bad[2][2] = NAN;
    EXPECT_STATUS(mv_affine_invert(C44(bad), r), MV_ERR_INVALID_ARG);
}
