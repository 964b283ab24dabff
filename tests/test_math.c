/* test_math.c - >>api-math against numpy's float32 expressions
   (tests/py/ref_morph.py), every ISA against the scalar reference, 1 and 2
   threads, grid checks and bad arguments. */
#include "testutil.h"
#include <stdlib.h>

/* the cases of one ref_morph.py run (tests/testutil.h's batch) */
typedef tu_batch mref;

static int mref_open(mref *r, const char *name)
{
    if (!tu_python("numpy scipy")) {
        mvt_skip("numpy/scipy missing for /usr/bin/python3 (package python3-scipy)");
        return 0;
    }
    return tu_batch_open(r, name);
}

/* one case: a (float32 values) and optional b; returns its id */
static int mref_case(mref *r, const char *op, int nd, const int64_t *dims, const float *a, size_t na, const float *b,
                     size_t nb, const char *params)
{
    int id = tu_batch_case(r), k;
    tu_batch_write(r, id, "a", a, na * 4);
    if (b) tu_batch_write(r, id, "b", b, nb * 4);
    fprintf(r->list, "%s %d", op, nd);
    for (k = 0; k < nd; k++) fprintf(r->list, " %lld", (long long)dims[k]);
    fprintf(r->list, " %s\n", params);
    return id;
}

static int mref_run(mref *r) { return tu_batch_run(r, "ref_morph.py"); }
static void *mref_out(mref *r, int id, size_t bytes) { return tu_batch_read(r, id, "out", bytes); }

static int same_f32(float a, float b)
{
    uint32_t x, y;
    if (a != a && b != b) return 1;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a == 0 && b == 0);
}

/* first differing voxel, or -1 */
static int64_t first_diff(const float *a, const float *b, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        if (!same_f32(a[i], b[i])) return i;
    return -1;
}

static const char *op_names[MV_MATH_OP_COUNT] = {
    NULL, "add", "sub", "mul", "div", "min", "max", "pow", "gt", "ge", "lt", "le", "eq", "ne",
    "thr", "uthr", "mas", "abs", "sqrt", "exp", "log", "sqr", "recip", "bin", "binv", "nan"};

/* values with every awkward case: NaN, +-inf, +-0, the scalar itself, negatives, tiny and huge */
static void fill_values(float *v, int64_t n, uint64_t seed)
{
    uint64_t s = seed;
    int64_t i;
    for (i = 0; i < n; i++) {
        uint64_t r = tu_rand(&s) % 100;
        double u = tu_rand01(&s);
        v[i] = r < 2 ? NAN : r < 3 ? INFINITY : r < 4 ? -INFINITY : r < 8 ? 0.0f : r < 9 ? -0.0f
             : r < 14 ? 2.5f : r < 16 ? 1e-40f : r < 18 ? 3e37f : (float)((u - 0.4) * 200.0);
    }
}

MV_TEST(math, matches_numpy)
{
    static const int64_t dims[4] = {37, 23, 11, 3};
    int64_t n = 37 * 23 * 11 * 3, frame = 37 * 23 * 11;
    float *a = (float *)malloc((size_t)n * 4), *b = (float *)malloc((size_t)n * 4);
    mref r;
    int ids[MV_MATH_OP_COUNT][3], op, form;
    mv_vol va, vb, vb3;
    if (!mref_open(&r, "math_numpy")) goto out;
    fill_values(a, n, 11);
    fill_values(b, n, 12);
    EXPECT_OK(mv_vol_wrap(&va, a, MV_DT_F32, 4, dims));
    EXPECT_OK(mv_vol_wrap(&vb, b, MV_DT_F32, 4, dims));
    EXPECT_OK(mv_vol_wrap(&vb3, b, MV_DT_F32, 3, dims));
    for (op = 1; op < MV_MATH_OP_COUNT; op++) {
        char p[128];
        snprintf(p, sizeof(p), "%s 2.5 %s", op_names[op], op == MV_MATH_THR ? "-7" : "0");
        ids[op][0] = mref_case(&r, "math", 4, dims, a, (size_t)n, NULL, 0, p);
        snprintf(p, sizeof(p), "%s - %s", op_names[op], op == MV_MATH_MAS ? "3" : "0");
        ids[op][1] = mref_case(&r, "math", 4, dims, a, (size_t)n, b, (size_t)n, p);
        ids[op][2] = mref_case(&r, "math", 4, dims, a, (size_t)n, b, (size_t)frame, p);
    }
    if (!mref_run(&r)) goto out;
    for (op = 1; op < MV_MATH_OP_COUNT; op++)
        for (form = 0; form < 3; form++) {
            mv_vol o;
            mv_math_opts mo = MV_ZERO_INIT;
            float *ref = (float *)mref_out(&r, ids[op][form], (size_t)n * 4);
            mo.fill = form == 0 && op == MV_MATH_THR ? -7 : form > 0 && op == MV_MATH_MAS ? 3 : 0;
            mv_vol_init(&o);
            if (!ref) continue;
            EXPECT_OK(mv_math(&va, (mv_math_op)op, form == 0 ? NULL : form == 1 ? &vb : &vb3, 2.5, &o, &mo));
            if (o.data) {
                int64_t at = first_diff((const float *)o.data, ref, n);
                EXPECT_EQ_INT(o.dtype, MV_DT_F32);
                EXPECT_MSG(at < 0, "%s form %d: voxel %lld: %.9g vs numpy %.9g (a %.9g b %.9g)", op_names[op], form,
                           (long long)at, at < 0 ? 0.0 : ((float *)o.data)[at], at < 0 ? 0.0 : ref[at],
                           at < 0 ? 0.0 : a[at], at < 0 ? 0.0 : form == 0 ? 2.5 : b[form == 1 ? at : at % frame]);
            }
            mv_free(&o);
            free(ref);
        }
out:
    free(a);
    free(b);
}

/* an int16 volume with scl_slope/scl_inter: mv_math sees get_fdata's values */
MV_TEST(math, scaled_input_and_where)
{
    static const int64_t dims[3] = {19, 17, 13};
    int64_t n = 19 * 17 * 13, i;
    int16_t *q = (int16_t *)malloc((size_t)n * 2);
    float *vals = (float *)malloc((size_t)n * 4), *b = (float *)malloc((size_t)n * 4);
    uint64_t s = 5;
    mref r;
    int id1, id2;
    mv_vol vq, vb, o1, o2;
    for (i = 0; i < n; i++) {
        q[i] = (int16_t)((int)(tu_rand(&s) % 2001) - 1000);
        vals[i] = (float)((double)q[i] * 0.37 + -11.0);
    }
    fill_values(b, n, 9);
    if (!mref_open(&r, "math_scaled")) goto out;
    id1 = mref_case(&r, "math", 3, dims, vals, (size_t)n, NULL, 0, "uthr 100.5 -1");
    id2 = mref_case(&r, "where", 3, dims, vals, (size_t)n, b, (size_t)n, "-4.25");
    if (!mref_run(&r)) goto out;
    EXPECT_OK(mv_vol_wrap(&vq, q, MV_DT_I16, 3, dims));
    vq.meta.scl_slope = 0.37;
    vq.meta.scl_inter = -11.0;
    EXPECT_OK(mv_vol_wrap(&vb, b, MV_DT_F32, 3, dims));
    mv_vol_init(&o1);
    mv_vol_init(&o2);
    {
        mv_math_opts mo = MV_ZERO_INIT;
        float *ref1 = (float *)mref_out(&r, id1, (size_t)n * 4), *ref2 = (float *)mref_out(&r, id2, (size_t)n * 4);
        mo.fill = -1;
        EXPECT_OK(mv_math(&vq, MV_MATH_UTHR, NULL, 100.5, &o1, &mo));
        EXPECT_OK(mv_where(&vq, &vb, 0, NULL, -4.25, &o2, NULL));
        if (ref1 && o1.data) EXPECT_MSG(first_diff((float *)o1.data, ref1, n) < 0, "uthr on scaled int16 differs");
        if (ref2 && o2.data) EXPECT_MSG(first_diff((float *)o2.data, ref2, n) < 0, "where differs from numpy");
        EXPECT(o1.meta.scl_slope == 1.0 && o1.meta.scl_inter == 0.0);
        free(ref1);
        free(ref2);
    }
    mv_free(&o1);
    mv_free(&o2);
out:
    free(q);
    free(vals);
    free(b);
}

/* every ISA the machine runs equals the reference; 1 and 2 threads equal
   at a size that splits (8 MiB per operand) */
MV_TEST(math, isa_and_threads_identical)
{
    static const int64_t dims[3] = {96, 96, 65}; /* 4.6 MB per operand: two threads split it */
    int64_t n = 96 * 96 * 65;
    float *a = (float *)malloc((size_t)n * 4), *b = (float *)malloc((size_t)n * 4);
    float *ref = (float *)malloc((size_t)n * 4), *got = (float *)malloc((size_t)n * 4);
    mv_vol va, vb, vr, vg;
    mv_isa saved = mv_isa_active();
    unsigned avail = mv_isa_available();
    int op, isa, form;
    fill_values(a, n, 21);
    fill_values(b, n, 22);
    mv_vol_wrap(&va, a, MV_DT_F32, 3, dims);
    mv_vol_wrap(&vb, b, MV_DT_F32, 3, dims);
    mv_vol_wrap(&vr, ref, MV_DT_F32, 3, dims);
    mv_vol_wrap(&vg, got, MV_DT_F32, 3, dims);
    for (op = 1; op < MV_MATH_OP_COUNT; op++)
        for (form = 0; form < 2; form++) {
            mv_math_opts o1 = MV_ZERO_INIT;
            o1.threads = 1;
            o1.fill = 0.5;
            EXPECT_OK(mv_set_isa(MV_ISA_REF));
            EXPECT_OK(mv_math_into(&va, (mv_math_op)op, form ? &vb : NULL, 2.5, &vr, &o1));
            for (isa = 0; isa < MV_ISA_COUNT; isa++) {
                /* the reference's own runs (1 thread: vr again; 2: the
                   split) where it is the active ISA, the no-SIMD suite;
                   elsewhere the SIMD ISAs' 2-thread runs check the split */
                if (!(avail & (1u << isa)) || !tu_isa_extra_runs(isa, (int)saved)) continue;
                EXPECT_OK(mv_set_isa((mv_isa)isa));
                for (o1.threads = 1; o1.threads <= tu_threads_upto(2); o1.threads++) {
                    int64_t at;
                    memset(got, 0x55, (size_t)n * 4);
                    EXPECT_OK(mv_math_into(&va, (mv_math_op)op, form ? &vb : NULL, 2.5, &vg, &o1));
                    at = first_diff(got, ref, n);
                    EXPECT_MSG(at < 0, "%s form %d isa %s threads %d: voxel %lld %.9g vs ref %.9g", op_names[op],
                               form, mv_isa_name((mv_isa)isa), o1.threads, (long long)at, at < 0 ? 0 : got[at],
                               at < 0 ? 0 : ref[at]);
                }
            }
        }
    {   /* select, every ISA */
        mv_math_opts o1 = MV_ZERO_INIT;
        EXPECT_OK(mv_set_isa(MV_ISA_REF));
        EXPECT_OK(mv_where_into(&va, &vb, 0, NULL, 7, &vr, &o1));
        for (isa = 0; isa < MV_ISA_COUNT; isa++) {
            if (!(avail & (1u << isa))) continue;
            EXPECT_OK(mv_set_isa((mv_isa)isa));
            EXPECT_OK(mv_where_into(&va, &vb, 0, NULL, 7, &vg, &o1));
            EXPECT_MSG(first_diff(got, ref, n) < 0, "where on %s", mv_isa_name((mv_isa)isa));
        }
    }
    mv_set_isa(saved);
    {   /* in place: out is a */
        mv_math_opts o1 = MV_ZERO_INIT;
        EXPECT_OK(mv_math_into(&va, MV_MATH_ADD, &vb, 0, &vr, &o1));
        EXPECT_OK(mv_math_into(&va, MV_MATH_ADD, &vb, 0, &va, &o1));
        EXPECT(first_diff(a, ref, n) < 0);
    }
    free(a);
    free(b);
    free(ref);
    free(got);
}

MV_TEST(math, grids_and_bad_arguments)
{
    static const int64_t d1[3] = {8, 6, 4}, d2[3] = {8, 6, 5}, d4[4] = {8, 6, 4, 3}, d42[4] = {8, 6, 4, 2};
    float a[8 * 6 * 4 * 3] = {0}, b[8 * 6 * 5] = {0};
    mv_vol va, vb, v4, v42, o;
    int16_t q[8 * 6 * 4] = {0};
    mv_vol vq;
    mv_vol_wrap(&va, a, MV_DT_F32, 3, d1);
    mv_vol_wrap(&vb, b, MV_DT_F32, 3, d2);
    mv_vol_wrap(&v4, a, MV_DT_F32, 4, d4);
    mv_vol_wrap(&v42, b, MV_DT_F32, 4, d42);
    mv_vol_init(&o);
    EXPECT_STATUS(mv_math(&va, MV_MATH_ADD, &vb, 0, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_MSG(strstr(mv_last_error(), "8x6x4") && strstr(mv_last_error(), "8x6x5"), "detail: %s", mv_last_error());
    /* a 2-frame operand over a 3-frame series: neither the count nor one frame */
    EXPECT_STATUS(mv_math(&v4, MV_MATH_ADD, &v42, 0, &o, NULL), MV_ERR_INVALID_ARG);
    /* affines apart */
    {
        mv_vol vc = va;
        vc.data = b;
        vc.affine[0][3] += 0.01;
        EXPECT_STATUS(mv_math(&va, MV_MATH_MUL, &vc, 0, &o, NULL), MV_ERR_INVALID_ARG);
        EXPECT_MSG(strstr(mv_last_error(), "affines differ") != NULL, "detail: %s", mv_last_error());
        {
            mv_math_opts mo = MV_ZERO_INIT;
            mo.affine_tol = 0.1;
            EXPECT_OK(mv_math(&va, MV_MATH_MUL, &vc, 0, &o, &mo));
            EXPECT(o.affine[0][3] == va.affine[0][3]); /* a's affine */
            mv_free(&o);
            mo.affine_tol = -1;
            vc.affine[0][3] += 100;
            EXPECT_OK(mv_math(&va, MV_MATH_MUL, &vc, 0, &o, &mo));
            mv_free(&o);
        }
    }
    EXPECT_STATUS(mv_math(NULL, MV_MATH_ADD, NULL, 0, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_math(&va, (mv_math_op)0, NULL, 0, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_math(&va, MV_MATH_OP_COUNT, NULL, 0, &o, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_math(&va, MV_MATH_ADD, NULL, 0, NULL, NULL), MV_ERR_INVALID_ARG);
    /* _into: float32 only, matching count, no partial overlap, no in-place on a non-float input */
    mv_vol_wrap(&vq, q, MV_DT_I16, 3, d1);
    EXPECT_STATUS(mv_math_into(&va, MV_MATH_ADD, NULL, 1, &vq, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_math_into(&va, MV_MATH_ADD, NULL, 1, &v4, NULL), MV_ERR_INVALID_ARG);
    {
        mv_vol shifted = va;
        shifted.data = a + 1;
        EXPECT_STATUS(mv_math_into(&va, MV_MATH_ADD, NULL, 1, &shifted, NULL), MV_ERR_INVALID_ARG);
    }
    {
        mv_vol c64 = va;
        c64.dtype = MV_DT_C64;
        EXPECT_STATUS(mv_math(&c64, MV_MATH_ADD, NULL, 1, &o, NULL), MV_ERR_UNSUPPORTED);
    }
    /* a 3D operand broadcast over 4D, allocating form keeps a's shape */
    EXPECT_OK(mv_math(&v4, MV_MATH_ADD, &va, 0, &o, NULL));
    EXPECT_EQ_INT(o.ndim, 4);
    EXPECT_EQ_INT(o.dim[3], 3);
    mv_free(&o);
}
