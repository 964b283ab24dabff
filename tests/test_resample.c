/* test_resample.c - resampling against scipy.ndimage computed at test time
   (tests/py/ref_resample.py: zoom for shape/spacing, affine_transform for the
   world forms, numpy for the expected affines), the caller-buffer form and
   its scratch, bit-identical output on every ISA and thread count, metadata
   and dtype rules, and argument errors. */
#include "testutil.h"
#include "json.h"
#include <stdlib.h>

/* ---- the scipy cases ---- */

static void mat_from_json(const tj *v, double m[4][4])
{
    int r, c;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) m[r][c] = tj_num(tj_at(tj_at(v, r), c), NAN);
}

/* the input volume of a case: data from its file, affine, spacing, scaling */
static int case_input(const char *refs, const tj *c, mv_vol *v, unsigned char **data)
{
    const tj *in = tj_get(c, "in"), *shape = tj_get(in, "shape");
    int64_t dims[4];
    char path[1024];
    size_t len;
    int i, nd = shape->n;
    mv_dtype dt = mv_dtype_from_name(tj_str(tj_get(in, "dtype"), ""));
    for (i = 0; i < nd; i++) dims[i] = (int64_t)tj_num(tj_at(shape, i), 0);
    snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(in, "file"), ""));
    *data = tu_read_file(path, &len);
    if (!*data || mv_vol_wrap(v, *data, dt, nd, dims) != MV_OK || len != mv_vol_bytes(v)) return 0;
    mat_from_json(tj_get(in, "affine"), v->affine);
    for (i = 0; i < 3; i++) v->spacing[i] = tj_num(tj_at(tj_get(in, "spacing"), i), 1);
    v->meta.scl_slope = tj_num(tj_get(in, "slope"), 1);
    v->meta.scl_inter = tj_num(tj_get(in, "inter"), 0);
    return 1;
}

static mv_resample_opts case_opts(const tj *c)
{
    mv_resample_opts o;
    memset(&o, 0, sizeof(o));
    o.interp = (mv_interp)(int)tj_num(tj_get(c, "interp"), 0);
    o.align_corners = (int)tj_num(tj_get(c, "align"), 0);
    o.fill_outside = (int)tj_num(tj_get(c, "fill"), 0);
    o.fill = tj_num(tj_get(c, "cval"), 0);
    return o;
}

/* runs the case's operation with opts */
static mv_status case_run(const tj *c, const mv_vol *in, mv_vol *out, const mv_resample_opts *o)
{
    const char *op = tj_str(tj_get(c, "op"), "");
    const tj *os = tj_get(c, "out_shape");
    int64_t shape[3];
    int i;
    for (i = 0; i < 3; i++) shape[i] = (int64_t)tj_num(tj_at(os, i), 0);
    if (strcmp(op, "shape") == 0) return mv_resample_shape(in, out, shape, o);
    if (strcmp(op, "spacing") == 0) {
        double sp[3];
        for (i = 0; i < 3; i++) sp[i] = tj_num(tj_at(tj_get(c, "new_spacing"), i), 0);
        return mv_resample_spacing(in, out, sp, o);
    } else {
        double A[4][4], W[4][4];
        const tj *w = tj_get(c, "world");
        mat_from_json(tj_get(c, "out_affine"), A);
        if (strcmp(op, "like") == 0) {
            mv_vol ref;
            mv_vol_init(&ref);
            ref.ndim = 3;
            for (i = 0; i < 3; i++) ref.dim[i] = shape[i];
            memcpy(ref.affine, A, sizeof(A));
            return mv_resample_like(in, &ref, out, o);
        }
        if (w && w->type == TJ_ARR) mat_from_json(w, W);
        return mv_resample_affine(in, out, shape, (const double(*)[4])A, w && w->type == TJ_ARR ? (const double(*)[4])W : NULL,
                                  o);
    }
}

/* compares one case; returns the worst error / (tol * range) seen (<= 1 passes) */
static double check_case(const char *refs, const tj *c, const mv_vol *out)
{
    const char *name = tj_str(tj_get(c, "name"), "?");
    const tj *os = tj_get(c, "out_shape");
    double tol = tj_num(tj_get(c, "tol"), 0), range = tj_num(tj_get(c, "range"), 1), E[4][4], worst = 0;
    mv_interp interp = (mv_interp)(int)tj_num(tj_get(c, "interp"), 0);
    char path[1024];
    unsigned char *ref;
    size_t len, n, i;
    int k, r, failures = mvt_cur.failures;
    EXPECT_MSG(out->ndim == os->n, "%s: ndim %d, expected %d", name, out->ndim, os->n);
    for (k = 0; k < os->n; k++)
        EXPECT_MSG(out->dim[k] == (int64_t)tj_num(tj_at(os, k), 0), "%s: dim[%d] = %lld, scipy has %g", name, k,
                   (long long)out->dim[k], tj_num(tj_at(os, k), 0));
    if (mvt_cur.failures != failures) return 1e9;
    mat_from_json(tj_get(c, "expect_affine"), E);
    for (r = 0; r < 4; r++)
        for (k = 0; k < 4; k++)
            EXPECT_MSG(fabs(out->affine[r][k] - E[r][k]) <= 1e-12 * (fabs(E[r][k]) > 1 ? fabs(E[r][k]) : 1),
                       "%s: affine[%d][%d] = %.17g, numpy says %.17g", name, r, k, out->affine[r][k], E[r][k]);
    for (k = 0; k < 3; k++)
        EXPECT_REL(out->spacing[k], tj_num(tj_at(tj_get(c, "expect_spacing"), k), 0), 1e-12);
    snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(c, "ref"), ""));
    ref = tu_read_file(path, &len);
    n = (size_t)mv_vol_count(out);
    if (interp == MV_INTERP_NEAREST) {
        /* nearest: the same stored values, bit for bit */
        EXPECT_MSG(ref && len == mv_vol_bytes(out) && out->dtype == mv_dtype_from_name(tj_str(tj_get(c, "ref_dtype"), "")),
                   "%s: nearest output %s, %zu bytes vs %zu", name, mv_dtype_name(out->dtype), mv_vol_bytes(out), len);
        if (ref && len == mv_vol_bytes(out)) {
            size_t es = mv_dtype_size(out->dtype);
            for (i = 0; i < n; i++)
                if (memcmp((unsigned char *)out->data + i * es, ref + i * es, es) != 0) {
                    MVT_FAIL("%s: nearest voxel %zu differs from scipy order 0", name, i);
                    worst = 1e9;
                    break;
                }
        }
    } else {
        EXPECT_MSG(ref && len == n * 8 && out->dtype == MV_DT_F32, "%s: reference %zu bytes for %zu voxels", name, len, n);
        if (ref && len == n * 8 && out->dtype == MV_DT_F32) {
            const float *o = (const float *)out->data;
            size_t bad = (size_t)-1;
            for (i = 0; i < n; i++) {
                double e, d;
                memcpy(&e, ref + 8 * i, 8);
                d = fabs((double)o[i] - e) / (tol * range);
                if (!(d <= worst)) {
                    worst = d != d ? 1e9 : d;
                    bad = i;
                }
            }
            if (worst > 1) {
                double e;
                memcpy(&e, ref + 8 * bad, 8);
                MVT_FAIL("%s: voxel %zu = %.9g, scipy %.9g (error %.3g x the tolerance %g of the range %g)", name, bad,
                         (double)o[bad], e, worst, tol, range);
            }
        }
    }
    free(ref);
    return worst;
}

static void run_cases(const char *which)
{
    const char *refs = tu_refs_dir();
    char path[1024];
    tj *doc;
    const tj *cases;
    int i, ran = 0;
    double worst[3] = {0, 0, 0};
    if (!refs) SKIP("needs numpy (refs.py)");
    snprintf(path, sizeof(path), "%s/rs.json", refs);
    doc = tj_parse_file(path);
    if (!doc) SKIP("needs scipy (apt-get install python3-scipy)");
    cases = tj_get(doc, "cases");
    for (i = 0; cases && i < cases->n; i++) {
        const tj *c = tj_at(cases, i);
        const char *op = tj_str(tj_get(c, "op"), "");
        int world = strcmp(op, "affine") == 0 || strcmp(op, "like") == 0;
        mv_vol in, out;
        unsigned char *data = NULL;
        mv_resample_opts o = case_opts(c);
        mv_status st;
        double w;
        if (world != (strcmp(which, "world") == 0)) continue;
        if (!case_input(refs, c, &in, &data)) {
            MVT_FAIL("%s: cannot read the input", tj_str(tj_get(c, "name"), "?"));
            free(data);
            continue;
        }
        st = case_run(c, &in, &out, &o);
        EXPECT_MSG(st == MV_OK, "%s: %s (%s)", tj_str(tj_get(c, "name"), "?"), mv_status_str(st), mv_last_error());
        if (st == MV_OK) {
            w = check_case(refs, c, &out);
            if (w > worst[o.interp]) worst[o.interp] = w;
            /* the scaling went into the values, so the output's is 1/0 */
            if (o.interp != MV_INTERP_NEAREST) EXPECT(out.meta.scl_slope == 1 && out.meta.scl_inter == 0);
            mv_free(&out);
            ran++;
        }
        if (st == MV_OK && o.interp == MV_INTERP_CUBIC) {
            /* again in the caller's scratch of exactly mv_resample_scratch_size bytes (sized from the
               input alone, so it must hold whatever path this output takes; ASan sees an overrun) */
            size_t need = mv_resample_scratch_size(&in, &o);
            unsigned char *block = need ? (unsigned char *)malloc(need + 63) : NULL;
            EXPECT_MSG(block != NULL, "%s: no scratch size", tj_str(tj_get(c, "name"), "?"));
            if (block) {
                o.scratch = block + (63 - (((uintptr_t)block + 63) & 63));
                o.scratch_size = need;
                st = case_run(c, &in, &out, &o);
                EXPECT_MSG(st == MV_OK, "%s, caller's scratch: %s (%s)", tj_str(tj_get(c, "name"), "?"),
                           mv_status_str(st), mv_last_error());
                if (st == MV_OK) {
                    w = check_case(refs, c, &out);
                    if (w > worst[o.interp]) worst[o.interp] = w;
                    mv_free(&out);
                }
                free(block);
            }
        }
        free(data);
        if (mvt_cur.failures > 10) break;
    }
    printf("    %d %s cases; worst error / tolerance: linear %.3g, cubic %.3g, nearest %s\n", ran, which, worst[0], worst[2],
           worst[1] == 0 ? "exact" : "differs");
    EXPECT(ran > 20);
    tj_free(doc);
}

MV_TEST(resample, zoom_matches_scipy) { run_cases("zoom"); }
MV_TEST(resample, world_matches_scipy) { run_cases("world"); }

/* ---- synthetic volumes for the rest ---- */

static void volume(mv_vol *v, mv_dtype dt, int64_t nx, int64_t ny, int64_t nz, uint32_t seed)
{
    REQUIRE_OK(mv_phantom_smooth(v, dt, nx, ny, nz, seed));
    v->affine[0][1] = 0.1; /* not diagonal: the affine must still follow */
    if (dt == MV_DT_I16) {
        v->meta.scl_slope = 0.25;
        v->meta.scl_inter = -7;
    }
}

static void rotation_map(double M[4][4], double ang, double cx, double cy, double cz, double zoom)
{
    double c = cos(ang) * zoom, s = sin(ang) * zoom;
    memset(M, 0, 16 * sizeof(double));
    M[0][0] = c;
    M[0][1] = -s;
    M[1][0] = s;
    M[1][1] = c;
    M[2][2] = zoom;
    M[0][3] = cx;
    M[1][3] = cy;
    M[2][3] = cz;
    M[3][3] = 1;
}

typedef struct rs_cfg {
    const char *name;
    mv_interp interp;
    mv_dtype dt;
    int64_t in[3], out[3];
    int general, fill, align;
} rs_cfg;

/* output of cfg into a fresh volume through mv_resample_into */
static mv_status run_cfg(const rs_cfg *c, const mv_vol *in, mv_vol *out, int threads, mv_dtype odt)
{
    mv_resample_opts o;
    double M[4][4];
    int a;
    memset(&o, 0, sizeof(o));
    o.interp = c->interp;
    o.fill_outside = c->fill;
    o.fill = -4.5;
    o.threads = threads;
    if (c->general) {
        rotation_map(M, 0.35, 3.0, -2.0, 0.5, (double)c->in[0] / (double)c->out[0]);
    } else {
        memset(M, 0, sizeof(M));
        for (a = 0; a < 3; a++) {
            M[a][a] = (double)c->in[a] / (double)c->out[a];
            M[a][3] = 0.5 * M[a][a] - 0.5 + (c->fill ? 0.7 : 0);
        }
        M[3][3] = 1;
    }
    if (mv_vol_alloc(out, odt, 3, c->out, NULL) != MV_OK) return MV_ERR_OUT_OF_MEMORY;
    return mv_resample_into(in, out, (const double(*)[4])M, &o);
}

/* every ISA and thread count gives the reference ISA's bits */
MV_TEST(resample, isa_and_threads_identical)
{
    static const rs_cfg cfgs[] = {
        {"linear up, odd widths", MV_INTERP_LINEAR, MV_DT_F32, {23, 17, 11}, {33, 29, 19}, 0, 0, 0},
        {"linear down", MV_INTERP_LINEAR, MV_DT_F32, {61, 40, 30}, {17, 13, 9}, 0, 0, 0},
        {"linear strong down (x first)", MV_INTERP_LINEAR, MV_DT_F32, {300, 9, 20}, {31, 5, 6}, 0, 0, 0},
        {"linear long rows", MV_INTERP_LINEAR, MV_DT_F32, {280, 5, 4}, {601, 7, 5}, 0, 1, 0},
        {"linear int16 scaled", MV_INTERP_LINEAR, MV_DT_I16, {19, 15, 13}, {25, 9, 17}, 0, 0, 0},
        {"linear rotated", MV_INTERP_LINEAR, MV_DT_F32, {21, 18, 11}, {27, 23, 13}, 1, 1, 0},
        {"linear rotated, edge clamp", MV_INTERP_LINEAR, MV_DT_F32, {19, 23, 9}, {41, 21, 10}, 1, 0, 0},
        {"linear rotated int16", MV_INTERP_LINEAR, MV_DT_I16, {12, 9, 7}, {13, 11, 5}, 1, 0, 0},
        {"cubic up", MV_INTERP_CUBIC, MV_DT_F32, {13, 11, 9}, {31, 15, 17}, 0, 0, 0},
        {"cubic mirror fill", MV_INTERP_CUBIC, MV_DT_I16, {12, 10, 9}, {9, 17, 11}, 0, 1, 0},
        {"cubic thin axes", MV_INTERP_CUBIC, MV_DT_F32, {2, 3, 1}, {5, 7, 3}, 0, 0, 0},
        {"cubic rotated", MV_INTERP_CUBIC, MV_DT_F32, {14, 12, 9}, {17, 15, 7}, 1, 0, 0},
        /* the fused path (axis-aligned, no more output rows than input rows):
           odd widths around the vector lengths, fill (mirror) and edge,
           scaled int16, two slices, x widened within its pads */
        {"cubic down (fused)", MV_INTERP_CUBIC, MV_DT_F32, {61, 40, 30}, {37, 29, 19}, 0, 0, 0},
        {"cubic down fill (fused)", MV_INTERP_CUBIC, MV_DT_I16, {45, 33, 21}, {25, 30, 44}, 0, 1, 0},
        {"cubic two slices (fused)", MV_INTERP_CUBIC, MV_DT_F32, {23, 17, 2}, {24, 9, 5}, 0, 0, 0},
        {"cubic narrow rows (fused)", MV_INTERP_CUBIC, MV_DT_F32, {5, 70, 9}, {3, 33, 4}, 0, 1, 0},
        {"nearest", MV_INTERP_NEAREST, MV_DT_I16, {17, 13, 9}, {25, 7, 12}, 0, 1, 0},
        {"nearest rotated", MV_INTERP_NEAREST, MV_DT_F32, {17, 13, 9}, {21, 11, 8}, 1, 1, 0},
    };
    /* large enough for the pool (over 4 MiB of input plus output: 4.8 MB) */
    static const rs_cfg big[] = {
        {"linear x2 (threads)", MV_INTERP_LINEAR, MV_DT_F32, {60, 50, 45}, {120, 100, 90}, 0, 0, 0},
        {"cubic x2 (threads)", MV_INTERP_CUBIC, MV_DT_I16, {60, 50, 45}, {120, 100, 90}, 0, 1, 0},
        {"cubic rotated (threads)", MV_INTERP_CUBIC, MV_DT_F32, {110, 90, 60}, {110, 90, 60}, 1, 0, 0},
        {"cubic down (fused, threads)", MV_INTERP_CUBIC, MV_DT_F32, {160, 120, 60}, {101, 90, 41}, 0, 0, 0},
        {"cubic down fill (fused, threads)", MV_INTERP_CUBIC, MV_DT_I16, {170, 150, 50}, {121, 150, 77}, 0, 1, 0},
        /* thick slices to isotropic: z 8x finer, at the fused path's bound of
           8 (nz + 2) slices (its tap tables and work sized for it), then past it */
        {"cubic z 8x finer (fused, threads)", MV_INTERP_CUBIC, MV_DT_F32, {128, 100, 12}, {110, 84, 112}, 0, 0, 0},
        {"cubic z past the bound (threads)", MV_INTERP_CUBIC, MV_DT_F32, {128, 100, 12}, {110, 84, 113}, 0, 1, 0},
        {"linear rotated fill (threads)", MV_INTERP_LINEAR, MV_DT_F32, {110, 90, 60}, {97, 101, 63}, 1, 1, 0},
    };
    unsigned avail = mv_isa_available();
    mv_isa active = mv_isa_active();
    size_t ci;
    int isa, t, reps = tu_test_reps(3);
    for (ci = 0; ci < sizeof(cfgs) / sizeof(cfgs[0]) + sizeof(big) / sizeof(big[0]); ci++) {
        const rs_cfg *c = ci < sizeof(cfgs) / sizeof(cfgs[0]) ? &cfgs[ci] : &big[ci - sizeof(cfgs) / sizeof(cfgs[0])];
        int is_big = ci >= sizeof(cfgs) / sizeof(cfgs[0]);
        mv_vol in, ref, got;
        volume(&in, c->dt, c->in[0], c->in[1], c->in[2], (uint32_t)ci + 1);
        REQUIRE_OK(mv_set_isa(MV_ISA_REF));
        REQUIRE_OK(run_cfg(c, &in, &ref, 1, MV_DT_F32));
        for (isa = 0; isa < MV_ISA_COUNT; isa++) {
            if (!(avail & (1u << isa))) continue;
            REQUIRE_OK(mv_set_isa((mv_isa)isa));
            for (t = 1; t <= tu_threads_upto(3); t++) {
                /* the threaded runs of the active ISA MEDVOL_TEST_REPS times
                   (a race shows up in some runs only) */
                int rep, nrep = t > 1 && isa == (int)active ? reps : 1;
                if (t > 1 && !is_big) break; /* small ones never reach the pool */
                if (t > 1 && !tu_isa_extra_runs(isa, (int)active)) break; /* testutil.h says which */
                for (rep = 0; rep < nrep; rep++) {
                    REQUIRE_OK(run_cfg(c, &in, &got, t, MV_DT_F32));
                    EXPECT_MSG(memcmp(got.data, ref.data, mv_vol_bytes(&ref)) == 0, "%s: %s with %d threads differs from ref (run %d)",
                               c->name, mv_isa_name((mv_isa)isa), t, rep);
                    mv_free(&got);
                }
            }
        }
        mv_free(&ref);
        mv_free(&in);
        if (mvt_cur.failures) break;
    }
    EXPECT_OK(mv_set_isa(active));
}

/* The general trilinear, cubic and nearest row kernels (float32, rotated
   maps) on every ISA against the reference: row lengths around each vector
   width
   (1 .. 33 and 71), rows that leave the volume (edge clamp and fill; cubic:
   vectors with some voxels whose taps need folding), a map whose x step
   moves all three coordinates, steps of 0 and far outside; for trilinear
   NaN, +-Inf, -0, denormal and huge voxels in the input (cubic's prefilter
   would spread them everywhere: it gets a larger plain volume, so whole
   vectors have all their taps stored). */
MV_TEST(resample, general_rows_identical)
{
    static const int64_t widths[] = {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 71};
    static const double maps[][3][4] = {
        {{0.83, -0.31, 0.12, 1.3}, {0.29, 0.77, -0.2, -1.1}, {0.07, 0.21, 0.9, 0.4}},  /* turned, crosses the edges */
        {{-0.4, 0.2, 0.05, 12.6}, {0.1, 0.5, 0.3, 0.2}, {-0.02, 0.1, 0.6, 0.1}},       /* x runs backwards */
        {{0.0, 0.3, 0.1, 2.5}, {0.0, 0.6, 0.2, 1.5}, {0.0, 0.05, 0.8, 0.5}},           /* x step 0, general in y/z */
        {{3e5, 0.5, 0.1, -7e5}, {-2e5, 0.4, 0.3, 9.0}, {1e-9, 0.1, 0.5, 0.25}},        /* far outside, both sides */
    };
    unsigned avail = mv_isa_available();
    mv_isa active = mv_isa_active();
    mv_vol in, big, ref, got;
    float *v;
    size_t wi, mi;
    int isa, fill, kind;
    volume(&in, MV_DT_F32, 11, 9, 7, 5);
    volume(&big, MV_DT_F32, 40, 12, 9, 6);
    v = (float *)in.data;
    v[3] = NAN;
    v[20] = INFINITY;
    v[41] = -INFINITY;
    v[50] = 1e-40f;
    v[60] = -0.0f;
    v[70] = 3e38f;
    v[71] = -3e38f;
    for (kind = 0; kind < 3; kind++) /* linear, cubic, nearest */
    for (mi = 0; mi < sizeof(maps) / sizeof(maps[0]); mi++)
        for (wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
            for (fill = 0; fill < 2; fill++) {
                static const mv_interp interps[3] = {MV_INTERP_LINEAR, MV_INTERP_CUBIC, MV_INTERP_NEAREST};
                static const char *names[3] = {"linear", "cubic", "nearest"};
                const mv_vol *src = kind == 1 ? &big : &in;
                int64_t shape[3];
                double M[4][4];
                mv_resample_opts o;
                int r, c;
                shape[0] = widths[wi];
                shape[1] = 6;
                shape[2] = 5;
                memset(M, 0, sizeof(M));
                for (r = 0; r < 3; r++)
                    for (c = 0; c < 4; c++) M[r][c] = maps[mi][r][c];
                M[3][3] = 1;
                memset(&o, 0, sizeof(o));
                o.interp = interps[kind];
                o.fill_outside = fill;
                o.fill = -4.5;
                o.threads = 1;
                REQUIRE_OK(mv_set_isa(MV_ISA_REF));
                REQUIRE_OK(mv_vol_alloc(&ref, MV_DT_F32, 3, shape, NULL));
                REQUIRE_OK(mv_resample_into(src, &ref, (const double(*)[4])M, &o));
                for (isa = 0; isa < MV_ISA_COUNT; isa++) {
                    if (!(avail & (1u << isa)) || isa == MV_ISA_REF) continue;
                    REQUIRE_OK(mv_set_isa((mv_isa)isa));
                    REQUIRE_OK(mv_vol_alloc(&got, MV_DT_F32, 3, shape, NULL));
                    REQUIRE_OK(mv_resample_into(src, &got, (const double(*)[4])M, &o));
                    EXPECT_MSG(memcmp(got.data, ref.data, mv_vol_bytes(&ref)) == 0, "%s, map %d, width %d, fill %d: %s differs from ref",
                               names[kind], (int)mi, (int)widths[wi], fill, mv_isa_name((mv_isa)isa));
                    mv_free(&got);
                }
                mv_free(&ref);
            }
    mv_free(&in);
    mv_free(&big);
    EXPECT_OK(mv_set_isa(active));
}

/* mv_resample_into with scratch equals the allocating form; scratch checks */
MV_TEST(resample, into_and_scratch)
{
    mv_vol in, a, b;
    mv_resample_opts o;
    int64_t shape[3] = {19, 14, 12};
    double M[4][4];
    size_t need;
    unsigned char *block, *scratch;
    int r, c;
    volume(&in, MV_DT_I16, 13, 10, 8, 9);
    memset(&o, 0, sizeof(o));
    o.interp = MV_INTERP_CUBIC;
    o.threads = 1;
    REQUIRE_OK(mv_resample_shape(&in, &a, shape, &o));
    /* vox_map = inv(in affine) * out affine: the same grid */
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) M[r][c] = r == c;
    for (c = 0; c < 3; c++) {
        M[c][c] = (double)in.dim[c] / (double)shape[c];
        M[c][3] = 0.5 * M[c][c] - 0.5;
    }
    REQUIRE_OK(mv_vol_alloc(&b, MV_DT_F32, 3, shape, NULL));
    need = mv_resample_scratch_size(&in, &o);
    EXPECT(need >= (size_t)15 * 12 * 10 * 4);
    block = (unsigned char *)malloc(need + 64);
    REQUIRE(block != NULL);
    scratch = block + (64 - ((uintptr_t)block & 63));
    o.scratch = scratch;
    o.scratch_size = need - 1;
    EXPECT_STATUS(mv_resample_into(&in, &b, (const double(*)[4])M, &o), MV_ERR_BUFFER_TOO_SMALL);
    o.scratch = scratch + 4;
    o.scratch_size = need;
    EXPECT_STATUS(mv_resample_into(&in, &b, (const double(*)[4])M, &o), MV_ERR_INVALID_ARG);
    o.scratch = scratch;
    EXPECT_OK(mv_resample_into(&in, &b, (const double(*)[4])M, &o));
    {
        /* o * s + t against scipy's (o + 0.5) * s - 0.5: equal to rounding */
        const float *x = (const float *)a.data, *y = (const float *)b.data;
        int64_t i, n = mv_vol_count(&a);
        double worst = 0;
        for (i = 0; i < n; i++) worst = fmax(worst, fabs((double)x[i] - y[i]));
        EXPECT_MSG(worst < 1e-3, "into differs from resample_shape by %g", worst);
    }
    /* linear and nearest need no scratch at all */
    o.interp = MV_INTERP_LINEAR;
    EXPECT(mv_resample_scratch_size(&in, &o) == 0);
    o.scratch = NULL;
    o.scratch_size = 0;
    EXPECT_OK(mv_resample_into(&in, &b, (const double(*)[4])M, &o));
    free(block);
    mv_free(&a);
    mv_free(&b);
    mv_free(&in);
}

/* Values near FLT_MAX: cubic's prefilter would overflow (a causal sum
   reaches 8.2x its line's largest value), so frames past 2^121 are scaled
   by a power of two first and back after. Scaling by a power of two is
   exact in every operation, so the result is the plain volume's times
   2^k, bit for bit (k taking the largest value to 2^125 .. 2^126): the fused path (x0.5, edge and fill), the
   coefficient path (x1.6 and rotated), one and two threads. */
MV_TEST(resample, cubic_huge_values_scale_exactly)
{
    static const rs_cfg cfgs[] = {
        {"fused x0.5", MV_INTERP_CUBIC, MV_DT_F32, {64, 48, 40}, {32, 24, 20}, 0, 0, 0},
        {"fused x0.5 fill", MV_INTERP_CUBIC, MV_DT_F32, {64, 48, 40}, {32, 24, 20}, 0, 1, 0},
        {"coefficients x1.6", MV_INTERP_CUBIC, MV_DT_F32, {30, 25, 20}, {48, 40, 32}, 0, 0, 0},
        {"coefficients rotated", MV_INTERP_CUBIC, MV_DT_F32, {30, 25, 20}, {30, 25, 20}, 1, 1, 0},
    };
    size_t ci;
    int threads;
    for (ci = 0; ci < sizeof(cfgs) / sizeof(cfgs[0]); ci++)
        for (threads = 1; threads <= 2; threads++) {
            const rs_cfg *c = &cfgs[ci];
            mv_vol in, big, a, b;
            const float *x, *y;
            int64_t i, n, bad = 0;
            double amax = 0;
            int e = 0, k;
            volume(&in, MV_DT_F32, c->in[0], c->in[1], c->in[2], (uint32_t)ci + 40);
            volume(&big, MV_DT_F32, c->in[0], c->in[1], c->in[2], (uint32_t)ci + 40);
            for (i = 0; i < mv_vol_count(&in); i++) amax = fmax(amax, fabs((double)((const float *)in.data)[i]));
            (void)frexp(amax, &e);
            k = 126 - e; /* the largest value in [2^125, 2^126) */
            for (i = 0; i < mv_vol_count(&in); i++) {
                float *v = (float *)big.data + i;
                *v = ldexpf(*v, k);
            }
            REQUIRE_OK(run_cfg(c, &in, &a, threads, MV_DT_F32));
            REQUIRE_OK(run_cfg(c, &big, &b, threads, MV_DT_F32));
            x = (const float *)a.data;
            y = (const float *)b.data;
            n = mv_vol_count(&a);
            for (i = 0; i < n; i++)
                if (c->fill && x[i] == -4.5f ? y[i] != -4.5f : ldexpf(x[i], k) != y[i]) bad++;
            EXPECT_MSG(bad == 0, "%s, %d threads: %lld of %lld voxels are not the plain result times 2^%d", c->name, threads,
                       (long long)bad, (long long)n, k);
            mv_free(&a);
            mv_free(&b);
            mv_free(&big);
            mv_free(&in);
        }
}

/* metadata, dtypes and the scaling rule */
MV_TEST(resample, metadata_and_dtypes)
{
    mv_vol in, out, rgb, cplx;
    mv_resample_opts o;
    mv_extension ext;
    unsigned char payload[16] = "hello resample";
    int64_t shape[3] = {10, 8, 6}, d3[3] = {4, 3, 2};
    volume(&in, MV_DT_I16, 7, 6, 5, 4);
    strcpy(in.meta.descrip, "source");
    ext.code = 6;
    ext.size = 16;
    ext.data = payload;
    REQUIRE_OK(mv_vol_set_extensions(&in, &ext, 1));
    memset(&o, 0, sizeof(o));
    /* linear: float32, scaling applied and reset, metadata kept */
    REQUIRE_OK(mv_resample_shape(&in, &out, shape, &o));
    EXPECT(out.dtype == MV_DT_F32 && out.meta.scl_slope == 1 && out.meta.scl_inter == 0);
    EXPECT(strcmp(out.meta.descrip, "source") == 0 && out.meta.n_ext == 1 && memcmp(out.meta.ext[0].data, payload, 16) == 0);
    mv_free(&out);
    /* nearest keeps dtype and scaling; raw linear keeps the scaling too */
    o.interp = MV_INTERP_NEAREST;
    REQUIRE_OK(mv_resample_shape(&in, &out, shape, &o));
    EXPECT(out.dtype == MV_DT_I16 && out.meta.scl_slope == 0.25 && out.meta.scl_inter == -7);
    mv_free(&out);
    o.interp = MV_INTERP_LINEAR;
    o.raw = 1;
    REQUIRE_OK(mv_resample_shape(&in, &out, shape, &o));
    EXPECT(out.dtype == MV_DT_F32 && out.meta.scl_slope == 0.25);
    mv_free(&out);
    /* integer output: rounded half to even and saturated, fill saturates too */
    o.raw = 0;
    o.dtype = MV_DT_U8;
    o.fill_outside = 1;
    o.fill = 1e9;
    {
        double M[4][4] = {{1, 0, 0, -2}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        mv_vol f;
        int64_t i;
        REQUIRE_OK(mv_vol_alloc(&out, MV_DT_U8, 3, in.dim, NULL));
        REQUIRE_OK(mv_vol_alloc(&f, MV_DT_F32, 3, in.dim, NULL));
        REQUIRE_OK(mv_resample_into(&in, &out, (const double(*)[4])M, &o));
        REQUIRE_OK(mv_resample_into(&in, &f, (const double(*)[4])M, &o));
        for (i = 0; i < mv_vol_count(&f); i++) {
            float x = ((float *)f.data)[i];
            double want = x != x ? 0 : x < 0 ? 0 : x > 255 ? 255 : nearbyint(x);
            if (((unsigned char *)out.data)[i] != (unsigned char)want) {
                MVT_FAIL("u8 voxel %lld: %u, float %g", (long long)i, ((unsigned char *)out.data)[i], x);
                break;
            }
        }
        EXPECT(((unsigned char *)out.data)[0] == 255); /* x = -2: outside, fill 1e9 saturates */
        mv_free(&f);
        mv_free(&out);
    }
    /* RGB and complex: nearest copies them; linear refuses */
    REQUIRE_OK(mv_vol_alloc(&rgb, MV_DT_RGB24, 3, d3, NULL));
    {
        int64_t i;
        for (i = 0; i < 24 * 3; i++) ((unsigned char *)rgb.data)[i] = (unsigned char)(i * 7);
    }
    memset(&o, 0, sizeof(o));
    o.interp = MV_INTERP_NEAREST;
    REQUIRE_OK(mv_resample_shape(&rgb, &out, d3, &o));
    EXPECT(out.dtype == MV_DT_RGB24 && memcmp(out.data, rgb.data, 72) == 0);
    mv_free(&out);
    o.fill_outside = 1;
    o.fill = 300;
    {
        double M[4][4] = {{1, 0, 0, 10}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        REQUIRE_OK(mv_vol_alloc(&out, MV_DT_RGB24, 3, d3, NULL));
        REQUIRE_OK(mv_resample_into(&rgb, &out, (const double(*)[4])M, &o));
        EXPECT(((unsigned char *)out.data)[0] == 255 && ((unsigned char *)out.data)[71] == 255);
        mv_free(&out);
    }
    o.interp = MV_INTERP_LINEAR;
    EXPECT_STATUS(mv_resample_shape(&rgb, &out, d3, &o), MV_ERR_UNSUPPORTED);
    REQUIRE_OK(mv_vol_alloc(&cplx, MV_DT_C64, 3, d3, NULL));
    EXPECT_STATUS(mv_resample_shape(&cplx, &out, shape, &o), MV_ERR_UNSUPPORTED);
    o.interp = MV_INTERP_NEAREST;
    o.fill_outside = 0;
    REQUIRE_OK(mv_resample_shape(&cplx, &out, shape, &o));
    EXPECT(out.dtype == MV_DT_C64);
    mv_free(&out);
    /* a 2D image onto a 3D grid, and 1-voxel axes everywhere */
    {
        int64_t d2[2] = {5, 4}, s3[3] = {3, 2, 4}, ones[3] = {1, 1, 1};
        mv_vol img;
        REQUIRE_OK(mv_vol_alloc(&img, MV_DT_F32, 2, d2, NULL));
        ((float *)img.data)[0] = 3;
        o.interp = MV_INTERP_CUBIC;
        REQUIRE_OK(mv_resample_shape(&img, &out, s3, &o));
        EXPECT(out.ndim == 3 && out.dim[2] == 4);
        mv_free(&out);
        REQUIRE_OK(mv_resample_shape(&img, &out, ones, &o));
        EXPECT(out.ndim == 2 && out.dim[0] == 1 && out.dim[1] == 1);
        mv_free(&out);
        mv_free(&img);
    }
    mv_free(&cplx);
    mv_free(&rgb);
    mv_free(&in);
}

/* the grid keeps the field of view: voxel corners stay put, world points too */
MV_TEST(resample, field_of_view_kept)
{
    mv_vol in, out;
    mv_resample_opts o;
    double sp[3] = {0.7, 1.9, 2.0};
    int a;
    volume(&in, MV_DT_F32, 20, 16, 9, 2);
    in.spacing[0] = 1.0;
    in.spacing[1] = 1.25;
    in.spacing[2] = 3.0;
    memset(&o, 0, sizeof(o));
    REQUIRE_OK(mv_resample_spacing(&in, &out, sp, &o));
    EXPECT(out.dim[0] == 29 && out.dim[1] == 11 && out.dim[2] == 14); /* 28.57, 10.53, 13.5 -> 14 (half even) */
    for (a = 0; a < 3; a++) {
        /* the corner -0.5 of the input and of the output is one world point */
        double wi = 0, wo = 0;
        int c;
        for (c = 0; c < 3; c++) {
            wi += in.affine[a][c] * -0.5;
            wo += out.affine[a][c] * -0.5;
        }
        EXPECT_NEAR(wi + in.affine[a][3], wo + out.affine[a][3], 1e-12);
    }
    mv_free(&out);
    mv_free(&in);
}

MV_TEST(resample, bad_arguments)
{
    mv_vol in, out;
    mv_resample_opts o;
    int64_t shape[3] = {4, 4, 4}, neg[3] = {4, -1, 4}, huge[3] = {INT64_C(1) << 40, 1, 1}, big3[3] = {INT64_C(2147483000), INT64_C(2147483000), INT64_C(2147483000)};
    double sp[3] = {1, 0, 1}, nan_sp[3] = {1, NAN, 1}, tiny[3] = {1e-300, 1, 1};
    double I[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, P[4][4], S[4][4], keep[4][4];
    volume(&in, MV_DT_F32, 6, 5, 4, 1);
    memset(&o, 0, sizeof(o));
    EXPECT_STATUS(mv_resample_shape(NULL, &out, shape, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_shape(&in, NULL, shape, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_shape(&in, &out, NULL, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_shape(&in, &out, neg, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_shape(&in, &out, huge, &o), MV_ERR_SIZE_OVERFLOW);
    EXPECT_STATUS(mv_resample_shape(&in, &out, big3, &o), MV_ERR_SIZE_OVERFLOW); /* 2^93 bytes */
    EXPECT_STATUS(mv_resample_spacing(&in, &out, sp, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_spacing(&in, &out, nan_sp, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_spacing(&in, &out, tiny, &o), MV_ERR_SIZE_OVERFLOW);
    EXPECT_STATUS(mv_resample_spacing(&in, &out, NULL, &o), MV_ERR_INVALID_ARG);
    o.interp = (mv_interp)7;
    EXPECT_STATUS(mv_resample_shape(&in, &out, shape, &o), MV_ERR_INVALID_ARG);
    o.interp = MV_INTERP_LINEAR;
    o.rounding = (mv_round)5;
    EXPECT_STATUS(mv_resample_shape(&in, &out, shape, &o), MV_ERR_INVALID_ARG);
    o.rounding = MV_ROUND_NEAREST;
    o.threads = -2;
    EXPECT_STATUS(mv_resample_shape(&in, &out, shape, &o), MV_ERR_INVALID_ARG);
    o.threads = 0;
    /* singular affines: the input's, or a given one */
    memcpy(S, I, sizeof(S));
    S[2][2] = 0;
    memcpy(keep, in.affine, sizeof(S));
    memcpy(in.affine, S, sizeof(S));
    EXPECT_STATUS(mv_resample_affine(&in, &out, shape, (const double(*)[4])I, NULL, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_like(&in, &in, &out, &o), MV_ERR_INVALID_ARG);
    memcpy(in.affine, keep, sizeof(S));
    in.affine[1][3] = NAN;
    EXPECT_STATUS(mv_resample_affine(&in, &out, shape, (const double(*)[4])I, NULL, &o), MV_ERR_INVALID_ARG);
    memcpy(in.affine, keep, sizeof(S));
    memcpy(P, I, sizeof(P));
    P[3][0] = 0.5; /* projective */
    EXPECT_STATUS(mv_resample_affine(&in, &out, shape, (const double(*)[4])P, NULL, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_affine(&in, &out, shape, (const double(*)[4])I, (const double(*)[4])P, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_affine(&in, &out, shape, NULL, NULL, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_like(&in, NULL, &out, &o), MV_ERR_INVALID_ARG);
    /* _into: shapes, dtypes, maps, overlap */
    REQUIRE_OK(mv_vol_alloc(&out, MV_DT_F32, 3, shape, NULL));
    EXPECT_STATUS(mv_resample_into(&in, &out, NULL, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])P, &o), MV_ERR_INVALID_ARG);
    P[3][0] = 0;
    P[0][2] = INFINITY;
    EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])P, &o), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_resample_into(&in, &in, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG); /* overlap */
    {
        int64_t d4[4] = {4, 4, 4, 2}, d4b[4] = {4, 4, 4, 3};
        mv_vol v4, o4;
        REQUIRE_OK(mv_vol_alloc(&v4, MV_DT_F32, 4, d4, NULL));
        REQUIRE_OK(mv_vol_alloc(&o4, MV_DT_F32, 4, d4b, NULL));
        EXPECT_STATUS(mv_resample_into(&v4, &o4, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG); /* frames differ */
        EXPECT_STATUS(mv_resample_into(&v4, &out, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG); /* ndim differs */
        EXPECT_STATUS(mv_resample_into(&in, &o4, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG);
        mv_free(&v4);
        mv_free(&o4);
    }
    {
        void *data = out.data;
        out.data = NULL;
        EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG);
        out.data = (unsigned char *)data + 1; /* misaligned float32 */
        EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG);
        out.data = data;
        out.dtype = MV_DT_C64;
        EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_UNSUPPORTED);
        out.dtype = (mv_dtype)99;
        EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG);
        out.dtype = MV_DT_F32;
        out.dim[1] = 0;
        EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG);
        out.dim[1] = 4;
        out.ndim = 9;
        EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_INVALID_ARG);
        out.ndim = 3;
    }
    /* a broken scaling header */
    in.meta.scl_slope = 2;
    in.meta.scl_inter = NAN;
    EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])I, &o), MV_ERR_BAD_HEADER);
    o.raw = 1;
    EXPECT_OK(mv_resample_into(&in, &out, (const double(*)[4])I, &o));
    EXPECT(mv_resample_scratch_size(NULL, &o) == 0 && mv_resample_scratch_size(&in, NULL) == 0);
    /* coordinates far away (1e300 voxels) clamp without overflow; inf - inf
       (a NaN coordinate) samples voxel 0's edge or gets the fill */
    memcpy(P, I, sizeof(P));
    P[0][3] = 1e300;
    P[1][0] = -1e300;
    P[2][0] = 1e308;
    P[2][1] = -1e308;
    o.raw = 0;
    in.meta.scl_inter = 0;
    for (o.interp = MV_INTERP_LINEAR; o.interp <= MV_INTERP_CUBIC; o.interp = (mv_interp)(o.interp + 1)) {
        EXPECT_OK(mv_resample_into(&in, &out, (const double(*)[4])P, &o));
        o.fill_outside = 1;
        EXPECT_OK(mv_resample_into(&in, &out, (const double(*)[4])P, &o));
        o.fill_outside = 0;
    }
    mv_free(&out);
    mv_free(&in);
}
