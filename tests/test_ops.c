/* test_ops.c - intensity, spatial and chained operations against numpy and
   nibabel (tests/py/ref_ops.py), on every ISA and thread count */
#include "testutil.h"
#include "json.h"
#include <math.h>
#include <stdlib.h>

static tj *ops_doc(void)
{
    const char *refs = tu_refs_dir();
    char path[1024];
    if (!refs) return NULL;
    snprintf(path, sizeof(path), "%s/ops/ops.json", refs);
    return tj_parse_file(path);
}

static void *ref_array(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/ops/%s", tu_refs_dir(), name);
    return tu_read_file(path, len);
}

static int dims_of(const tj *a, int64_t *dims)
{
    int i;
    for (i = 0; i < MV_MAX_DIMS; i++) dims[i] = 1;
    for (i = 0; i < a->n && i < MV_MAX_DIMS; i++) dims[i] = (int64_t)tj_num(tj_at(a, i), 1);
    return a->n;
}

/* the input of a case as a volume owning its data */
static int load_input(const tj *in, mv_vol *v)
{
    int64_t dims[MV_MAX_DIMS];
    int nd = dims_of(tj_get(in, "dims"), dims), r, c;
    size_t len;
    void *data = ref_array(tj_str(tj_get(in, "file"), ""), &len);
    mv_dtype dt = mv_dtype_from_name(tj_str(tj_get(in, "dtype"), ""));
    if (!data || mv_vol_alloc(v, dt, nd, dims, NULL) != MV_OK || len != mv_vol_bytes(v)) {
        free(data);
        return 0;
    }
    memcpy(v->data, data, len);
    free(data);
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) v->affine[r][c] = tj_num(tj_at(tj_at(tj_get(in, "affine"), r), c), NAN);
    v->meta.scl_slope = tj_num(tj_get(in, "slope"), 0);
    v->meta.scl_inter = tj_num(tj_get(in, "inter"), 0);
    return 1;
}

static int load_mask(const tj *m, mv_vol *v)
{
    int64_t dims[MV_MAX_DIMS];
    int nd = dims_of(tj_get(m, "dims"), dims);
    size_t len;
    void *data = ref_array(tj_str(tj_get(m, "file"), ""), &len);
    if (!data || mv_vol_alloc(v, MV_DT_U8, nd, dims, NULL) != MV_OK || len != mv_vol_bytes(v)) {
        free(data);
        return 0;
    }
    memcpy(v->data, data, len);
    free(data);
    return 1;
}

static mv_op step_of(const tj *s)
{
    const char *op = tj_str(tj_get(s, "op"), "");
    int64_t a[3], b[3];
    int i;
    for (i = 0; i < 3; i++) {
        a[i] = (int64_t)tj_num(tj_at(tj_get(s, "shape"), i), tj_num(tj_at(tj_get(s, "start"), i), 0));
        b[i] = (int64_t)tj_num(tj_at(tj_get(s, "size"), i), 0);
    }
    if (!strcmp(op, "crop_or_pad")) return mv_op_crop_or_pad(a[0], a[1], a[2], tj_num(tj_get(s, "fill"), 0));
    if (!strcmp(op, "box")) return mv_op_box(a, b, tj_num(tj_get(s, "fill"), 0));
    if (!strcmp(op, "flip")) return mv_op_flip((unsigned)tj_num(tj_get(s, "axes"), 0));
    if (!strcmp(op, "permute"))
        return mv_op_permute((int)tj_num(tj_at(tj_get(s, "perm"), 0), 0), (int)tj_num(tj_at(tj_get(s, "perm"), 1), 0),
                             (int)tj_num(tj_at(tj_get(s, "perm"), 2), 0));
    if (!strcmp(op, "reorient")) return mv_op_reorient(tj_str(tj_get(s, "code"), ""));
    if (!strcmp(op, "znorm")) return mv_op_znorm((int)tj_num(tj_get(s, "nonzero"), 0));
    if (!strcmp(op, "rescale"))
        return mv_op_rescale_pct(tj_num(tj_get(s, "lo"), 0), tj_num(tj_get(s, "hi"), 0), tj_num(tj_get(s, "pct_lo"), 0),
                                 tj_num(tj_get(s, "pct_hi"), 0), (int)tj_num(tj_get(s, "clip"), 0));
    if (!strcmp(op, "clamp")) return mv_op_clamp(tj_num(tj_get(s, "lo"), 0), tj_num(tj_get(s, "hi"), 0));
    if (!strcmp(op, "cast")) return mv_op_cast(mv_dtype_from_name(tj_str(tj_get(s, "dtype"), "")), MV_ROUND_NEAREST);
    return mv_op_flip(0xffffffffu); /* refused: unknown step in the reference file */
}

/* Runs a case's call; the result is a new volume. */
static mv_status run_case(const tj *c, const mv_vol *in, const mv_vol *mask, mv_vol *out, int threads)
{
    const char *call = tj_str(tj_get(c, "call"), "");
    const tj *args = tj_get(c, "args");
    if (!strcmp(call, "znorm") || !strcmp(call, "rescale") || !strcmp(call, "clamp")) {
        mv_intensity_opts o;
        memset(&o, 0, sizeof(o));
        o.nonzero = (int)tj_num(tj_get(args, "nonzero"), 0);
        o.per_frame = (int)tj_num(tj_get(args, "per_frame"), 0);
        o.pct_lo = tj_num(tj_get(args, "pct_lo"), 0);
        o.pct_hi = tj_num(tj_get(args, "pct_hi"), 0);
        o.clip = (int)tj_num(tj_get(args, "clip"), 0);
        o.mask = mask;
        o.threads = threads;
        if (tj_get(args, "dtype")) o.dtype = mv_dtype_from_name(tj_str(tj_get(args, "dtype"), ""));
        if (!strcmp(call, "znorm")) return mv_znorm(in, out, &o);
        if (!strcmp(call, "rescale")) return mv_rescale(in, out, tj_num(tj_get(args, "lo"), 0), tj_num(tj_get(args, "hi"), 0), &o);
        return mv_clamp(in, out, tj_num(tj_get(args, "lo"), 0), tj_num(tj_get(args, "hi"), 0), &o);
    } else {
        mv_spatial_opts so;
        memset(&so, 0, sizeof(so));
        so.fill = tj_num(tj_get(args, "fill"), 0);
        so.threads = threads;
        if (!strcmp(call, "crop_or_pad")) {
            int64_t shape[3];
            int i;
            for (i = 0; i < 3; i++) shape[i] = (int64_t)tj_num(tj_at(tj_get(args, "shape"), i), 0);
            return mv_crop_or_pad(in, out, shape, &so);
        }
        if (!strcmp(call, "box")) {
            int64_t st[3], sz[3];
            int i;
            for (i = 0; i < 3; i++) {
                st[i] = (int64_t)tj_num(tj_at(tj_get(args, "start"), i), 0);
                sz[i] = (int64_t)tj_num(tj_at(tj_get(args, "size"), i), 0);
            }
            return mv_crop_pad_box(in, out, st, sz, &so);
        }
        if (!strcmp(call, "flip")) return mv_flip(in, out, (unsigned)tj_num(tj_get(args, "axes"), 0), &so);
        if (!strcmp(call, "permute")) {
            int perm[3], i;
            for (i = 0; i < 3; i++) perm[i] = (int)tj_num(tj_at(tj_get(args, "perm"), i), 0);
            return mv_permute(in, out, perm, &so);
        }
        if (!strcmp(call, "reorient")) return mv_reorient(in, out, tj_str(tj_get(args, "code"), ""), &so);
        if (!strcmp(call, "rot90"))
            return mv_rot90(in, out, (int)tj_num(tj_get(args, "k"), 0), (int)tj_num(tj_at(tj_get(args, "axes"), 0), 0),
                            (int)tj_num(tj_at(tj_get(args, "axes"), 1), 0), &so);
        if (!strcmp(call, "pipeline")) {
            const tj *steps = tj_get(args, "steps");
            mv_op ops[16];
            mv_pipeline_opts po;
            int i;
            memset(&po, 0, sizeof(po));
            po.threads = threads;
            for (i = 0; i < steps->n && i < 16; i++) ops[i] = step_of(tj_at(steps, i));
            return mv_pipeline(in, ops, steps->n, out, &po);
        }
    }
    return MV_ERR_INVALID_ARG;
}

static double ulp_of(float x)
{
    float a = fabsf(x);
    if (!(a < INFINITY)) return 0;
    return (double)nextafterf(a, INFINITY) - (double)a;
}

/* Compares a result with the reference array; returns the number of voxels
   outside the case's tolerance and reports the first. */
static int64_t compare_case(const char *name, const char *tol, const mv_vol *got, const tj *exp, const void *want)
{
    int64_t n = mv_vol_count(got), i, bad = 0, off1 = 0;
    mv_dtype dt = got->dtype;
    for (i = 0; i < n; i++) {
        size_t sz = mv_dtype_size(dt);
        const unsigned char *g = (const unsigned char *)got->data + (size_t)i * sz, *w = (const unsigned char *)want + (size_t)i * sz;
        int ok = memcmp(g, w, sz) == 0;
        if (!ok && dt == MV_DT_F32) {
            float a, b;
            memcpy(&a, g, 4);
            memcpy(&b, w, 4);
            if (a != a && b != b) ok = 1;
            else if (!strcmp(tol, "ulp")) ok = fabs((double)a - (double)b) <= ulp_of(b); /* numpy in float64, rounded */
        }
        if (!ok && !strcmp(tol, "exact_or_1") && dt == MV_DT_I16) {
            int16_t a, b;
            memcpy(&a, g, 2);
            memcpy(&b, w, 2);
            ok = abs(a - b) <= 1;
            off1 += ok;
        }
        if (!ok) {
            if (!bad) {
                double a = 0, b = 0;
                if (dt == MV_DT_F32) {
                    float fa, fb;
                    memcpy(&fa, g, 4);
                    memcpy(&fb, w, 4);
                    a = fa;
                    b = fb;
                } else if (dt == MV_DT_I16) {
                    int16_t ia, ib;
                    memcpy(&ia, g, 2);
                    memcpy(&ib, w, 2);
                    a = ia;
                    b = ib;
                }
                MVT_FAIL("%s: voxel %lld = %.9g, numpy %.9g", name, (long long)i, a, b);
            }
            bad++;
        }
    }
    if (off1 * 100 > n) MVT_FAIL("%s: %lld of %lld voxels off by one", name, (long long)off1, (long long)n);
    (void)exp;
    return bad;
}

static void check_affine(const char *name, const mv_vol *got, const tj *exp)
{
    const tj *a = tj_get(exp, "affine");
    int r, c;
    double big = 0;
    if (!a) return;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++) big = fmax(big, fabs(tj_num(tj_at(tj_at(a, r), c), 0)));
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) {
            double w = tj_num(tj_at(tj_at(a, r), c), NAN);
            /* equal to nibabel's matrix product up to its rounding order */
            EXPECT_MSG(fabs(got->affine[r][c] - w) <= 1e-12 * big, "%s: affine[%d][%d] = %.17g, nibabel %.17g", name, r,
                       c, got->affine[r][c], w);
        }
}

MV_TEST(ops, cases_match_numpy)
{
    tj *doc = ops_doc();
    const tj *cases;
    int i, ran = 0;
    if (!doc) SKIP("needs /usr/bin/python3 with numpy and nibabel (refs.py)");
    cases = tj_get(doc, "cases");
    for (i = 0; i < cases->n; i++) {
        const tj *c = tj_at(cases, i), *exp = tj_get(c, "expect");
        const char *name = tj_str(tj_get(c, "name"), "?");
        mv_vol in, mask, out;
        int64_t dims[MV_MAX_DIMS];
        int nd, a;
        size_t len;
        void *want;
        mv_status st;
        if (!load_input(tj_get(c, "input"), &in)) {
            MVT_FAIL("%s: cannot load the input", name);
            continue;
        }
        mv_vol_init(&mask);
        if (tj_get(c, "mask")) REQUIRE(load_mask(tj_get(c, "mask"), &mask));
        st = run_case(c, &in, tj_get(c, "mask") ? &mask : NULL, &out, 1);
        EXPECT_MSG(st == MV_OK, "%s: %s (%s)", name, mv_status_str(st), mv_last_error());
        if (st == MV_OK) {
            nd = dims_of(tj_get(exp, "dims"), dims);
            EXPECT_MSG(out.ndim == nd, "%s: ndim %d, numpy %d", name, out.ndim, nd);
            for (a = 0; a < nd; a++) EXPECT_MSG(out.dim[a] == dims[a], "%s: dim[%d] = %lld, numpy %lld", name, a, (long long)out.dim[a], (long long)dims[a]);
            EXPECT_MSG(out.dtype == mv_dtype_from_name(tj_str(tj_get(exp, "dtype"), "")), "%s: dtype %s, numpy %s", name,
                       mv_dtype_name(out.dtype), tj_str(tj_get(exp, "dtype"), ""));
            want = ref_array(tj_str(tj_get(exp, "file"), ""), &len);
            if (want && len == mv_vol_bytes(&out)) compare_case(name, tj_str(tj_get(c, "tol"), "exact"), &out, exp, want);
            else MVT_FAIL("%s: reference of %zu bytes, result %zu", name, len, mv_vol_bytes(&out));
            free(want);
            check_affine(name, &out, exp);
            mv_free(&out);
            ran++;
        }
        mv_free(&mask);
        mv_free(&in);
    }
    EXPECT(ran == cases->n);
    tj_free(doc);
}

/* Every case again on every ISA and with 1 to 3 threads: the same bits as
   the reference kernels on one thread (the volumes are small, so a large
   one is in ops.threads_identical). */
MV_TEST(ops, every_isa_identical)
{
    tj *doc = ops_doc();
    const tj *cases;
    unsigned avail = mv_isa_available();
    mv_isa saved = mv_isa_active();
    int i, isa;
    if (!doc) SKIP("needs numpy (refs.py)");
    cases = tj_get(doc, "cases");
    for (i = 0; i < cases->n; i++) {
        const tj *c = tj_at(cases, i);
        const char *name = tj_str(tj_get(c, "name"), "?");
        mv_vol in, mask, ref;
        mv_vol_init(&mask);
        if (!load_input(tj_get(c, "input"), &in)) continue;
        if (tj_get(c, "mask")) REQUIRE(load_mask(tj_get(c, "mask"), &mask));
        REQUIRE_OK(mv_set_isa(MV_ISA_REF));
        REQUIRE_OK(run_case(c, &in, tj_get(c, "mask") ? &mask : NULL, &ref, 1));
        for (isa = 1; isa < MV_ISA_COUNT; isa++) {
            mv_vol got;
            if (!(avail & (1u << isa))) continue;
            REQUIRE_OK(mv_set_isa((mv_isa)isa));
            REQUIRE_OK(run_case(c, &in, tj_get(c, "mask") ? &mask : NULL, &got, 1 + isa % 3));
            EXPECT_MSG(memcmp(got.data, ref.data, mv_vol_bytes(&ref)) == 0, "%s: %s differs from the reference ISA", name,
                       mv_isa_name((mv_isa)isa));
            mv_free(&got);
        }
        mv_free(&ref);
        mv_free(&mask);
        mv_free(&in);
    }
    mv_set_isa(saved);
    tj_free(doc);
}

MV_TEST(ops, histograms_match_numpy)
{
    tj *doc = ops_doc();
    const tj *hs;
    int i, k;
    if (!doc) SKIP("needs numpy (refs.py)");
    hs = tj_get(doc, "histograms");
    for (i = 0; i < hs->n; i++) {
        const tj *h = tj_at(hs, i);
        const char *name = tj_str(tj_get(h, "name"), "?");
        int nb = (int)tj_num(tj_get(h, "nbins"), 1), t;
        int64_t *cnt = (int64_t *)calloc((size_t)nb, sizeof(int64_t));
        mv_vol in;
        mv_intensity_opts o;
        REQUIRE(load_input(tj_get(h, "input"), &in));
        memset(&o, 0, sizeof(o));
        o.raw = (int)tj_num(tj_get(h, "raw"), 0);
        for (t = 1; t <= 3; t += 2) {
            o.threads = t;
            EXPECT_OK(mv_histogram(&in, nb, tj_num(tj_get(h, "lo"), 0), tj_num(tj_get(h, "hi"), 0), cnt, &o));
            for (k = 0; k < nb; k++) {
                int64_t w = (int64_t)tj_num(tj_at(tj_get(h, "counts"), k), -1);
                EXPECT_MSG(cnt[k] == w, "%s: bin %d has %lld, numpy %lld", name, k, (long long)cnt[k], (long long)w);
            }
        }
        free(cnt);
        mv_free(&in);
    }
    tj_free(doc);
}

/* The histogram's float32 range test and the percentiles' neighbour rule on
   a volume large enough to be split over threads (8 MiB of float32, above
   the pool's threshold), for 1, 2 and 3 threads, ten times each (TSan runs
   it too). The expected values are analytic: the data are k + 0.5 for
   k = 0..9 (bin k of 10 over (1e-40, 10]), float32(1e-40) (bin 0: numpy
   compares a float32 array with the range in float32), 10 (the last bin,
   closed), and NaN, -0, 11 (not counted); the percentiles of a
   permutation of 0..n-1 are (n - 1) q / 100. */
MV_TEST(ops, histogram_percentiles_threads_analytic)
{
    const int64_t n = (int64_t)1 << 21, dims[3] = {256, 128, 64};
    const double qs[5] = {0, 25, 50, 87.5, 100}; /* q / 100 and (n - 1) q / 100 exact in binary */
    const float tiny = 1e-40f, specials[4] = {NAN, -0.0f, 11.0f, 10.0f};
    int64_t want[10] = {0}, cnt[10], i;
    mv_vol h, p;
    mv_intensity_opts o;
    int t, rep, k;
    REQUIRE_OK(mv_vol_alloc(&h, MV_DT_F32, 3, dims, NULL));
    REQUIRE_OK(mv_vol_alloc(&p, MV_DT_F32, 3, dims, NULL));
    for (i = 0; i < n; i++) {
        float *v = (float *)h.data + i;
        int64_t r = (i * 2654435761u) % 97;
        if (r < 10) *v = (float)r + 0.5f, want[r]++;
        else if (r < 20) *v = tiny, want[0]++;
        else if (r < 24) *v = specials[r - 20], want[9] += r == 23;
        else *v = (float)(r % 10) + 0.5f, want[r % 10]++;
        ((float *)p.data)[i] = (float)((i * 1048573) % n); /* a permutation of 0..n-1 (1048573 is odd) */
    }
    memset(&o, 0, sizeof(o));
    for (t = 1; t <= 3; t++)
        for (rep = 0; rep < 10; rep++) {
            double got[5];
            o.threads = t;
            EXPECT_OK(mv_histogram(&h, 10, 1e-40, 10.0, cnt, &o));
            for (k = 0; k < 10; k++)
                EXPECT_MSG(cnt[k] == want[k], "threads %d: bin %d has %lld, want %lld", t, k, (long long)cnt[k],
                           (long long)want[k]);
            EXPECT_OK(mv_percentiles(&p, qs, 5, got, &o));
            for (k = 0; k < 5; k++)
                EXPECT_MSG(got[k] == (double)(n - 1) * qs[k] / 100.0, "threads %d: q %g = %.17g, want %.17g", t, qs[k],
                           got[k], (double)(n - 1) * qs[k] / 100.0);
        }
    mv_free(&p);
    mv_free(&h);
}

MV_TEST(ops, percentiles_match_numpy)
{
    tj *doc = ops_doc();
    const tj *ps;
    int i, k;
    if (!doc) SKIP("needs numpy (refs.py)");
    ps = tj_get(doc, "percentiles");
    for (i = 0; i < ps->n; i++) {
        const tj *p = tj_at(ps, i), *q = tj_get(p, "q");
        const char *name = tj_str(tj_get(p, "name"), "?");
        double qs[32], got[32];
        mv_vol in;
        mv_intensity_opts o;
        REQUIRE(load_input(tj_get(p, "input"), &in));
        memset(&o, 0, sizeof(o));
        o.raw = (int)tj_num(tj_get(p, "raw"), 0);
        o.nonzero = (int)tj_num(tj_get(p, "nonzero"), 0);
        o.threads = 1 + i % 3;
        for (k = 0; k < q->n; k++) qs[k] = tj_num(tj_at(q, k), 0);
        EXPECT_OK(mv_percentiles(&in, qs, q->n, got, &o));
        for (k = 0; k < q->n; k++) {
            double w = strtod(tj_str(tj_at(tj_get(p, "values"), k), "nan"), NULL);
            EXPECT_MSG((got[k] == w) || (got[k] != got[k] && w != w), "%s: q %g = %.17g, numpy %.17g", name, qs[k], got[k], w);
        }
        mv_free(&in);
    }
    tj_free(doc);
}

/* A volume big enough for the worker pool (over 4 MiB), with background. */
static void big_volume(mv_vol *v, mv_dtype dt)
{
    mv_vol f;
    int64_t i, n;
    mv_vol_init(&f); /* an output must be initialised (MEMORY): f's slot held the last call's */
    REQUIRE_OK(mv_phantom_smooth(&f, dt, 150, 120, 70, 7));
    n = mv_vol_count(&f);
    if (dt == MV_DT_F32)
        for (i = 0; i < n; i += 7) ((float *)f.data)[i] = 0; /* zeros for nonzero-only statistics */
    *v = f;
}

MV_TEST(ops, isa_and_threads_identical)
{
    mv_vol in, ref, got;
    mv_op chains[7][4];
    int n_ops[7], c, d;
    mv_isa saved = mv_isa_active();
    for (d = 0; d < 2; d++) {
        big_volume(&in, d ? MV_DT_I16 : MV_DT_F32);
        in.meta.scl_slope = d ? 0.75 : 0; /* int16 with scaling */
        n_ops[0] = 1; chains[0][0] = mv_op_znorm(0);
        n_ops[1] = 1; chains[1][0] = mv_op_znorm(1);
        n_ops[2] = 1; chains[2][0] = mv_op_rescale_pct(0, 1, 0.5, 99.5, 1);
        n_ops[3] = 2; chains[3][0] = mv_op_crop_or_pad(100, 140, 64, 3); chains[3][1] = mv_op_clamp(10, 500);
        n_ops[4] = 1; chains[4][0] = mv_op_flip(7);
        n_ops[5] = 2; chains[5][0] = mv_op_permute(2, 0, 1); chains[5][1] = mv_op_permute(1, 2, 0);
        n_ops[6] = 3; chains[6][0] = mv_op_permute(2, 1, 0); chains[6][1] = mv_op_znorm(0); chains[6][2] = mv_op_cast(MV_DT_I16, MV_ROUND_NEAREST);
        for (c = 0; c < 7; c++) {
            mv_pipeline_opts po;
            int isa;
            memset(&po, 0, sizeof(po));
            po.threads = 1;
            REQUIRE_OK(mv_set_isa(MV_ISA_REF));
            REQUIRE_OK(mv_pipeline(&in, chains[c], n_ops[c], &ref, &po));
            /* every ISA (long rows: the vector loops run), then more threads */
            for (isa = 1; isa < MV_ISA_COUNT + tu_threads_upto(3) - 1; isa++) {
                const char *what;
                if (isa < MV_ISA_COUNT) {
                    if (!(mv_isa_available() & (1u << isa))) continue;
                    REQUIRE_OK(mv_set_isa((mv_isa)isa));
                    what = mv_isa_name((mv_isa)isa);
                } else {
                    po.threads = isa - MV_ISA_COUNT + 2;
                    what = po.threads == 2 ? "2 threads" : "3 threads";
                }
                REQUIRE_OK(mv_pipeline(&in, chains[c], n_ops[c], &got, &po));
                EXPECT_MSG(mv_vol_bytes(&got) == mv_vol_bytes(&ref) && memcmp(got.data, ref.data, mv_vol_bytes(&ref)) == 0,
                           "chain %d (%s) with %s differs from the reference on one thread", c, d ? "int16" : "float32",
                           what);
                mv_free(&got);
            }
            if (c == 5) /* two permutes that undo each other: the input again */
                EXPECT(memcmp(ref.data, in.data, mv_vol_bytes(&in)) == 0);
            mv_free(&ref);
        }
        mv_free(&in);
    }
    mv_set_isa(saved);
}

MV_TEST(ops, into_forms_and_in_place)
{
    mv_vol in, a, b, g;
    mv_op ops[3];
    int64_t shape[3] = {20, 30, 8}, i, n;
    mv_intensity_opts io;
    REQUIRE_OK(mv_phantom_smooth(&in, MV_DT_F32, 24, 22, 10, 3));
    n = mv_vol_count(&in);
    /* in place z-normalization equals the allocating form */
    REQUIRE_OK(mv_znorm(&in, &a, NULL));
    REQUIRE_OK(mv_vol_copy(&in, &b));
    REQUIRE_OK(mv_znorm_into(&b, &b, NULL));
    EXPECT(memcmp(a.data, b.data, mv_vol_bytes(&a)) == 0);
    mv_free(&b);
    /* known statistics skip the pass and give the same result */
    {
        mv_stats st;
        REQUIRE_OK(mv_compute_stats(&in, &st, NULL));
        memset(&io, 0, sizeof(io));
        io.stats = &st;
        REQUIRE_OK(mv_vol_copy(&in, &b));
        REQUIRE_OK(mv_znorm_into(&in, &b, &io));
        for (i = 0; i < n; i++) EXPECT(fabsf(((float *)a.data)[i] - ((float *)b.data)[i]) <= 1e-5f);
        mv_free(&b);
    }
    mv_free(&a);
    /* caller buffer of the right geometry, found by mv_pipeline_geometry */
    ops[0] = mv_op_crop_or_pad(shape[0], shape[1], shape[2], 0);
    ops[1] = mv_op_rescale(0, 1);
    ops[2] = mv_op_cast(MV_DT_U8, MV_ROUND_NEAREST);
    REQUIRE_OK(mv_pipeline_geometry(&in, ops, 3, &g));
    EXPECT(g.data == NULL && g.dtype == MV_DT_U8 && g.dim[0] == 20 && g.dim[1] == 30 && g.dim[2] == 8);
    REQUIRE_OK(mv_vol_alloc(&b, g.dtype, g.ndim, g.dim, NULL));
    REQUIRE_OK(mv_pipeline_into(&in, ops, 3, &b, NULL));
    REQUIRE_OK(mv_pipeline(&in, ops, 3, &a, NULL));
    EXPECT(memcmp(a.data, b.data, mv_vol_bytes(&a)) == 0);
    EXPECT(memcmp(a.affine, b.affine, sizeof(a.affine)) == 0 && memcmp(a.affine, g.affine, sizeof(a.affine)) == 0);
    mv_free(&a);
    mv_free(&g);
    /* wrong dims or dtype for the result */
    EXPECT_STATUS(mv_crop_or_pad_into(&in, &b, shape, NULL), MV_ERR_INVALID_ARG); /* u8 buffer, f32 result */
    mv_free(&b);
    REQUIRE_OK(mv_vol_alloc(&b, MV_DT_F32, 3, shape, NULL));
    shape[0] = 21;
    EXPECT_STATUS(mv_crop_or_pad_into(&in, &b, shape, NULL), MV_ERR_INVALID_ARG);
    shape[0] = 20;
    EXPECT_OK(mv_crop_or_pad_into(&in, &b, shape, NULL));
    /* a flip cannot run in place; a clamp can */
    EXPECT_STATUS(mv_flip_into(&in, &in, 1, NULL), MV_ERR_INVALID_ARG);
    EXPECT_OK(mv_clamp_into(&in, &in, 100, 200, NULL));
    for (i = 0; i < n; i++) EXPECT(((float *)in.data)[i] >= 100 && ((float *)in.data)[i] <= 200);
    mv_free(&b);
    mv_free(&in);
}

/* Crop-first loads give what the chain gives on the whole loaded volume. */
MV_TEST(ops, pipeline_load_reads_what_it_needs)
{
    mv_vol v, full, a, b;
    mv_op chains[3][3];
    int n_ops[3] = {2, 2, 3}, c, f;
    const char *names[2];
    int64_t start[3] = {-3, 10, 5}, size[3] = {16, 12, 30};
    REQUIRE_OK(mv_phantom_smooth(&v, MV_DT_I16, 40, 36, 30, 11));
    v.meta.scl_slope = 0.5;
    v.meta.scl_inter = 12;
    names[0] = tu_path("pl.nii");
    REQUIRE_OK(mv_save(names[0], &v, NULL));
    names[1] = tu_path("pl.nii.gz");
    REQUIRE_OK(mv_save(names[1], &v, NULL));
    chains[0][0] = mv_op_crop_or_pad(20, 20, 20, 0); chains[0][1] = mv_op_znorm(0);
    chains[1][0] = mv_op_znorm(0); chains[1][1] = mv_op_crop_or_pad(20, 20, 20, 0);
    chains[2][0] = mv_op_box(start, size, -1); chains[2][1] = mv_op_flip(3); chains[2][2] = mv_op_rescale_pct(0, 1, 1, 99, 0);
    for (f = 0; f < 2; f++) {
        REQUIRE_OK(mv_load(names[f], &full, NULL));
        for (c = 0; c < 3; c++) {
            int64_t i, n;
            REQUIRE_OK(mv_pipeline(&full, chains[c], n_ops[c], &a, NULL));
            REQUIRE_OK(mv_pipeline_load(names[f], chains[c], n_ops[c], &b, NULL));
            n = mv_vol_count(&a);
            REQUIRE(mv_vol_count(&b) == n && a.dtype == b.dtype);
            for (i = 0; i < n; i++) {
                float x = ((float *)a.data)[i], y = ((float *)b.data)[i];
                if (fabsf(x - y) > 2e-7f * fabsf(x) + 1e-30f) {
                    MVT_FAIL("%s chain %d voxel %lld: %.9g vs %.9g", names[f], c, (long long)i, x, y);
                    break;
                }
            }
            EXPECT(memcmp(a.affine, b.affine, sizeof(a.affine)) == 0);
            mv_free(&a);
            mv_free(&b);
        }
        mv_free(&full);
    }
    {
        size_t len = 0;
        unsigned char *img;
        REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, NULL));
        img = (unsigned char *)malloc(len);
        REQUIRE_OK(mv_save_mem(&v, img, len, &len, NULL));
        REQUIRE_OK(mv_pipeline_load_mem(img, len, chains[0], 2, &b, NULL));
        EXPECT(b.dim[0] == 20 && b.dtype == MV_DT_F32);
        mv_free(&b);
        free(img);
    }
    mv_free(&v);
}

/* mv_intensity_values_f32 against its definition: whenever it says the
   scaled values are float32 numbers, every value x of the (8/16-bit) dtype
   must give float32(x * slope + inter) == x * slope + inter (computed in
   float64, exact for these slopes); and the documented cases. */
static int values_exact_f32_brute(mv_dtype dt, double slope, double inter)
{
    int64_t lo = dt == MV_DT_I8 ? -128 : dt == MV_DT_I16 ? -32768 : 0,
            hi = dt == MV_DT_I8 ? 127 : dt == MV_DT_I16 ? 32767 : dt == MV_DT_U8 ? 255 : 65535, x;
    for (x = lo; x <= hi; x++) {
        double y = (double)x * slope + inter;
        if ((double)(float)y != y) return 0;
    }
    return 1;
}

MV_TEST(ops, intensity_values_f32_rule)
{
    const mv_dtype small[] = {MV_DT_U8, MV_DT_I8, MV_DT_U16, MV_DT_I16};
    const double scalings[][2] = {{2, -3}, {0.5, 1024}, {0.1, 0}, {1e38, 0}, {3, 0.25}, {4096, 7}, {1.0 / 3, 0}, {1, 0}};
    int64_t dims[3] = {2, 2, 2};
    mv_vol v;
    int i, k;
    for (i = 0; i < 4; i++)
        for (k = 0; k < (int)(sizeof(scalings) / sizeof(scalings[0])); k++) {
            REQUIRE_OK(mv_vol_alloc(&v, small[i], 3, dims, NULL));
            v.meta.scl_slope = scalings[k][0];
            v.meta.scl_inter = scalings[k][1];
            if (mv_intensity_values_f32(&v, 0))
                EXPECT_MSG(values_exact_f32_brute(small[i], scalings[k][0], scalings[k][1]),
                           "%s slope %g inter %g: said float32, but a value is not", mv_dtype_name(small[i]),
                           scalings[k][0], scalings[k][1]);
            EXPECT(mv_intensity_values_f32(&v, 1)); /* raw: the stored 8/16-bit integers */
            mv_free(&v);
        }
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL));
    v.meta.scl_slope = 2;
    v.meta.scl_inter = -3;
    EXPECT(mv_intensity_values_f32(&v, 0));
    v.meta.scl_slope = 0.1;
    EXPECT(!mv_intensity_values_f32(&v, 0));
    v.meta.scl_slope = 1e38;
    EXPECT(!mv_intensity_values_f32(&v, 0));
    v.meta.scl_inter = NAN; /* refused by the ops; no error state left behind */
    mv_set_error(MV_OK, "untouched");
    EXPECT(!mv_intensity_values_f32(&v, 0));
    EXPECT_EQ_STR(mv_last_error(), "untouched");
    mv_free(&v);
    {
        const mv_dtype unscaled_f32[] = {MV_DT_F32, MV_DT_F16, MV_DT_BF16}, wide[] = {MV_DT_I32, MV_DT_U32, MV_DT_I64,
                                                                                      MV_DT_U64, MV_DT_F64};
        for (i = 0; i < 3; i++) {
            REQUIRE_OK(mv_vol_alloc(&v, unscaled_f32[i], 3, dims, NULL));
            EXPECT(mv_intensity_values_f32(&v, 0));
            v.meta.scl_slope = 2; /* float32 * 2 - 3 can round */
            v.meta.scl_inter = -3;
            EXPECT(!mv_intensity_values_f32(&v, 0));
            mv_free(&v);
        }
        for (i = 0; i < 5; i++) {
            REQUIRE_OK(mv_vol_alloc(&v, wide[i], 3, dims, NULL));
            EXPECT(!mv_intensity_values_f32(&v, 1));
            mv_free(&v);
        }
    }
    EXPECT(!mv_intensity_values_f32(NULL, 0));
}

/* padded voxels get opts.fill in every dtype (mv_spatial_opts.fill): complex
   fill + 0i, RGB the fill on every channel (rounded, clamped) and alpha 255;
   the kept voxels are copied. A 2x1x1 volume padded to 4x1x1: voxels 0 and 3
   are padding (pad before = (4 - 2) / 2 = 1), 1 and 2 the input. */
MV_TEST(ops, pad_fill_every_kind)
{
    static const mv_dtype dts[] = {MV_DT_C64, MV_DT_C128, MV_DT_RGB24, MV_DT_RGBA32, MV_DT_F32, MV_DT_I16};
    int64_t dims[3] = {2, 1, 1}, shape[3] = {4, 1, 1}, st[3] = {-1, 0, 0}, sz[3] = {4, 1, 1};
    int i, k, form;
    for (i = 0; i < (int)(sizeof(dts) / sizeof(dts[0])); i++)
        for (form = 0; form < 2; form++) {
            mv_vol in, out;
            mv_spatial_opts so;
            size_t es = mv_dtype_size(dts[i]);
            unsigned char want[16];
            memset(&so, 0, sizeof(so));
            so.fill = 300.6; /* RGB: clamped to 255; int16: 301 */
            REQUIRE_OK(mv_vol_alloc(&in, dts[i], 3, dims, NULL));
            memset(in.data, 0x11, mv_vol_bytes(&in));
            REQUIRE_OK(form ? mv_crop_pad_box(&in, &out, st, sz, &so) : mv_crop_or_pad(&in, &out, shape, &so));
            memset(want, 0, sizeof(want));
            switch (dts[i]) {
            case MV_DT_C64: { float f = 300.6f; memcpy(want, &f, 4); break; }
            case MV_DT_C128: { double d = 300.6; memcpy(want, &d, 8); break; }
            case MV_DT_RGB24: want[0] = want[1] = want[2] = 255; break;
            case MV_DT_RGBA32: want[0] = want[1] = want[2] = want[3] = 255; break;
            case MV_DT_F32: { float f = 300.6f; memcpy(want, &f, 4); break; }
            default: { int16_t h = 301; memcpy(want, &h, 2); break; }
            }
            for (k = 0; k < 4; k++) {
                const unsigned char *p = (const unsigned char *)out.data + (size_t)k * es;
                if (k == 0 || k == 3) {
                    EXPECT_MSG(memcmp(p, want, es) == 0, "%s form %d: voxel %d is not the fill", mv_dtype_name(dts[i]),
                               form, k);
                } else {
                    size_t b;
                    int same = 1;
                    for (b = 0; b < es; b++) same &= p[b] == 0x11;
                    EXPECT_MSG(same, "%s form %d: voxel %d is not the input", mv_dtype_name(dts[i]), form, k);
                }
            }
            mv_free(&out);
            mv_free(&in);
        }
}

MV_TEST(ops, bad_arguments)
{
    mv_vol v, out, mask, cx;
    int64_t dims[3] = {6, 5, 4}, bad[3] = {-1, 5, 4}, size[3] = {2, 2, 2}, start[3] = {0, 0, 0};
    int perm[3] = {0, 0, 1};
    double q = 101, r;
    int64_t counts[4];
    mv_op many[20];
    int i;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_F32, 3, dims, NULL));
    EXPECT_STATUS(mv_znorm(NULL, &out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_znorm(&v, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_crop_or_pad(&v, &out, bad, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_crop_or_pad(&v, &out, NULL, NULL), MV_ERR_INVALID_ARG);
    size[1] = 0;
    EXPECT_STATUS(mv_crop_pad_box(&v, &out, start, size, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_flip(&v, &out, 8, NULL), MV_ERR_INVALID_ARG); /* axis 3 of a 3D volume */
    EXPECT_STATUS(mv_permute(&v, &out, perm, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_reorient(&v, &out, "RAR", NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_reorient(&v, &out, "RASX", NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_rot90(&v, &out, 1, 1, 1, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_clamp(&v, &out, 2, 1, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_clamp(&v, &out, NAN, 1, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_percentiles(&v, &q, 1, &r, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_histogram(&v, 0, 0, 1, counts, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_histogram(&v, 4, 2, 1, counts, NULL), MV_ERR_INVALID_ARG);
    {
        mv_intensity_opts o;
        int64_t md[3] = {6, 5, 3};
        memset(&o, 0, sizeof(o));
        REQUIRE_OK(mv_vol_alloc(&mask, MV_DT_U8, 3, md, NULL));
        o.mask = &mask;
        EXPECT_STATUS(mv_znorm(&v, &out, &o), MV_ERR_INVALID_ARG);
        mv_free(&mask);
    }
    /* complex voxels move but have no intensities to normalise */
    REQUIRE_OK(mv_vol_alloc(&cx, MV_DT_C64, 3, dims, NULL));
    EXPECT_STATUS(mv_znorm(&cx, &out, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_OK(mv_flip(&cx, &out, 1, NULL));
    mv_free(&out);
    mv_free(&cx);
    /* a vector-less affine cannot be reoriented */
    memset(v.affine, 0, sizeof(v.affine));
    EXPECT_STATUS(mv_reorient(&v, &out, "RAS", NULL), MV_ERR_UNSUPPORTED);
    /* chains: too many pads, unknown kinds */
    for (i = 0; i < 20; i++) many[i] = mv_op_crop_or_pad(7 + i, 0, 0, 0);
    EXPECT_STATUS(mv_pipeline(&v, many, 20, &out, NULL), MV_ERR_INVALID_ARG);
    many[0].kind = (mv_op_kind)99;
    EXPECT_STATUS(mv_pipeline(&v, many, 1, &out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_pipeline(&v, NULL, 1, &out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_pipeline(&v, many, -1, &out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_pipeline_load_mem("nonsense", 8, many, 0, &out, NULL), MV_ERR_TRUNCATED);
    EXPECT(out.data == NULL || 1);
    mv_free(&v);
}
