/* test_morph.c - >>api-morph against scipy.ndimage (tests/py/ref_morph.py):
   labels equal scipy.ndimage.label's exactly (on the nibabel (X, Y, Z) array
   and on its transpose), the EDT equals distance_transform_edt after
   rounding to float32, on random masks and on a thresholded real image; 1
   and 2 threads identical at sizes that split. */
#include "testutil.h"
#include <stdlib.h>

#define TMIN(a, b) ((a) < (b) ? (a) : (b))

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

static int mref_case(mref *r, const char *op, const int64_t *dims, const float *a, const char *params)
{
    int id = tu_batch_case(r);
    if (a) tu_batch_write(r, id, "a", a, (size_t)(dims[0] * dims[1] * dims[2]) * 4);
    fprintf(r->list, "%s 3 %lld %lld %lld %s\n", op, (long long)dims[0], (long long)dims[1], (long long)dims[2], params);
    return id;
}

static int mref_run(mref *r) { return tu_batch_run(r, "ref_morph.py"); }
static void *mref_file(mref *r, int id, const char *ext, size_t bytes) { return tu_batch_read(r, id, ext, bytes); }

/* a random mask: blobs of density p (smoothed noise), some NaN as foreground */
static void make_mask(float *m, const int64_t *d, double p, uint64_t seed, int blobs)
{
    uint64_t s = seed;
    int64_t n = d[0] * d[1] * d[2], i;
    for (i = 0; i < n; i++) m[i] = tu_rand01(&s) < p ? (tu_rand(&s) % 50 == 0 ? NAN : 1.0f + (float)(i % 3)) : 0.0f;
    if (blobs) { /* a few solid boxes so components are large too */
        int b;
        for (b = 0; b < 4; b++) {
            int64_t x0 = (int64_t)(tu_rand(&s) % (uint64_t)d[0]), y0 = (int64_t)(tu_rand(&s) % (uint64_t)d[1]),
                    z0 = (int64_t)(tu_rand(&s) % (uint64_t)d[2]), x, y, z;
            for (z = z0; z < TMIN(d[2], z0 + d[2] / 3 + 1); z++)
                for (y = y0; y < TMIN(d[1], y0 + d[1] / 3 + 1); y++)
                    for (x = x0; x < TMIN(d[0], x0 + d[0] / 3 + 1); x++) m[x + d[0] * (y + d[1] * z)] = 1;
        }
    }
}

/* a ball of radius r voxels (centred, index distance) as foreground, with
   background holes of density hole inside (seeded), background outside */
static void make_sphere(float *m, const int64_t *d, double r, double hole, uint64_t seed)
{
    uint64_t s = seed;
    int64_t x, y, z;
    for (z = 0; z < d[2]; z++)
        for (y = 0; y < d[1]; y++)
            for (x = 0; x < d[0]; x++) {
                double u = x - (d[0] - 1) / 2.0, v = y - (d[1] - 1) / 2.0, w = z - (d[2] - 1) / 2.0;
                int in = u * u + v * v + w * w <= r * r && !(tu_rand01(&s) < hole);
                m[x + d[0] * (y + d[1] * z)] = in ? 1.0f : 0.0f;
            }
}

static int64_t first_diff_i32(const int32_t *a, const int32_t *b, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        if (a[i] != b[i]) return i;
    return -1;
}

/* float32 result vs a float64 reference: ulps apart after rounding */
static int64_t ulps_apart(float got, double ref)
{
    float r = (float)ref;
    int32_t x, y;
    if (got == r) return 0;
    if (got != got || r != r) return 1 << 30;
    memcpy(&x, &got, 4);
    memcpy(&y, &r, 4);
    return x > y ? (int64_t)x - y : (int64_t)y - x;
}

typedef struct lcase {
    int64_t d[3];
    double p;
    int blobs;
} lcase;

MV_TEST(morph, label_matches_scipy)
{
    static const lcase cs[] = {{{31, 27, 19}, 0.3, 0}, {{31, 27, 19}, 0.55, 1}, {{64, 1, 1}, 0.5, 0},
                               {{1, 40, 33}, 0.45, 0}, {{17, 23, 1}, 0.6, 0},  {{96, 80, 160}, 0.25, 1},
                               {{1, 1, 1}, 1.0, 0},    {{5, 4, 3}, 0.0, 0}};
    static const int conns[3] = {6, 18, 26};
    int nc = (int)(sizeof(cs) / sizeof(cs[0])), c, k, order, ids[8][3][2];
    float *m[8];
    mref r;
    if (!mref_open(&r, "morph_label")) return;
    for (c = 0; c < nc; c++) {
        int64_t n = cs[c].d[0] * cs[c].d[1] * cs[c].d[2];
        m[c] = (float *)malloc((size_t)n * 4);
        make_mask(m[c], cs[c].d, cs[c].p, 100 + (uint64_t)c, cs[c].blobs);
        for (k = 0; k < 3; k++)
            for (order = 0; order < 2; order++) {
                char p[32];
                snprintf(p, sizeof(p), "%d %d", conns[k], order);
                ids[c][k][order] = mref_case(&r, "label", cs[c].d, m[c], p);
            }
    }
    if (mref_run(&r))
        for (c = 0; c < nc; c++) {
            int64_t n = cs[c].d[0] * cs[c].d[1] * cs[c].d[2];
            mv_vol v;
            mv_vol_wrap(&v, m[c], MV_DT_F32, 3, cs[c].d);
            for (k = 0; k < 3; k++)
                for (order = 0; order < 2; order++) {
                    int32_t *ref = (int32_t *)mref_file(&r, ids[c][k][order], "out", (size_t)n * 4), mx = 0;
                    int th;
                    int64_t i;
                    if (!ref) continue;
                    for (i = 0; i < n; i++) mx = ref[i] > mx ? ref[i] : mx;
                    for (th = 1; th <= 2; th++) {
                        mv_label_opts lo = MV_ZERO_INIT;
                        mv_vol o;
                        int64_t nl = -1, at;
                        lo.connectivity = conns[k];
                        lo.order = order ? MV_LABEL_ORDER_MEMORY : MV_LABEL_ORDER_NIBABEL;
                        lo.threads = th;
                        mv_vol_init(&o);
                        EXPECT_OK(mv_label(&v, &o, &nl, &lo));
                        if (!o.data) continue;
                        EXPECT_EQ_INT(o.dtype, MV_DT_I32);
                        EXPECT_EQ_INT(nl, mx);
                        at = first_diff_i32((const int32_t *)o.data, ref, n);
                        EXPECT_MSG(at < 0, "case %d conn %d order %d threads %d: voxel %lld label %d, scipy %d", c,
                                   conns[k], order, th, (long long)at, at < 0 ? 0 : ((int32_t *)o.data)[at],
                                   at < 0 ? 0 : ref[at]);
                        mv_free(&o);
                    }
                    free(ref);
                }
        }
    for (c = 0; c < nc; c++) free(m[c]);
}

/* largest / min_size / size order, checked against the definitions applied
   to scipy's labels */
MV_TEST(morph, label_filters_match_definition)
{
    static const int64_t d[3] = {40, 36, 30};
    int64_t n = 40 * 36 * 30, i, L = 0, *size;
    float *m = (float *)malloc((size_t)n * 4);
    mref r;
    int id;
    int32_t *ref;
    mv_vol v;
    make_mask(m, d, 0.3, 7, 1);
    if (!mref_open(&r, "morph_filters") || (id = mref_case(&r, "label", d, m, "26 0"), !mref_run(&r))) {
        free(m);
        return;
    }
    ref = (int32_t *)mref_file(&r, id, "out", (size_t)n * 4);
    if (!ref) {
        free(m);
        return;
    }
    for (i = 0; i < n; i++) L = ref[i] > L ? ref[i] : L;
    size = (int64_t *)calloc((size_t)L + 1, 8);
    for (i = 0; i < n; i++) size[ref[i]]++;
    mv_vol_wrap(&v, m, MV_DT_F32, 3, d);
    {
        /* min_size 3: the kept scipy labels, renumbered in scipy's order */
        int32_t *want = (int32_t *)malloc((size_t)(L + 1) * 4), next = 0;
        mv_label_opts lo = MV_ZERO_INIT;
        mv_vol o;
        int64_t nl;
        want[0] = 0;
        for (i = 1; i <= L; i++) want[i] = size[i] >= 3 ? ++next : 0;
        lo.connectivity = 26;
        lo.min_size = 3;
        mv_vol_init(&o);
        EXPECT_OK(mv_label(&v, &o, &nl, &lo));
        EXPECT_EQ_INT(nl, next);
        for (i = 0; i < n && o.data; i++)
            if (((int32_t *)o.data)[i] != want[ref[i]]) {
                MVT_FAIL("min_size: voxel %lld: %d, want %d", (long long)i, ((int32_t *)o.data)[i], want[ref[i]]);
                break;
            }
        mv_free(&o);
        /* largest 2 in size order: the two biggest scipy labels (ties: lower label), biggest = 1 */
        {
            int64_t b1 = 0, b2 = 0;
            for (i = 1; i <= L; i++) {
                if (!b1 || size[i] > size[b1]) {
                    b2 = b1;
                    b1 = i;
                } else if (!b2 || size[i] > size[b2]) b2 = i;
            }
            lo.min_size = 0;
            lo.largest = 2;
            lo.order = MV_LABEL_ORDER_SIZE;
            EXPECT_OK(mv_label(&v, &o, &nl, &lo));
            EXPECT_EQ_INT(nl, 2);
            for (i = 0; i < n && o.data; i++) {
                int32_t w = ref[i] == b1 ? 1 : ref[i] == b2 ? 2 : 0;
                if (((int32_t *)o.data)[i] != w) {
                    MVT_FAIL("largest: voxel %lld: %d, want %d", (long long)i, ((int32_t *)o.data)[i], w);
                    break;
                }
            }
            mv_free(&o);
        }
        /* sizes, relabel, one-hot on scipy's labels */
        {
            mv_vol lv, rl, oh;
            int64_t *cnt = (int64_t *)malloc((size_t)(L + 1) * 8), outside = -1, nr = 0;
            int32_t *sparse = (int32_t *)malloc((size_t)n * 4);
            mv_vol_wrap(&lv, ref, MV_DT_I32, 3, d);
            EXPECT_OK(mv_label_sizes(&lv, cnt, L + 1, &outside));
            EXPECT_EQ_INT(outside, 0);
            for (i = 0; i <= L; i++) EXPECT_EQ_INT(cnt[i], size[i]);
            for (i = 0; i < n; i++) sparse[i] = ref[i] * 3 + (ref[i] ? 5 : 0);
            mv_vol_wrap(&lv, sparse, MV_DT_I32, 3, d);
            mv_vol_init(&rl);
            EXPECT_OK(mv_relabel_sequential(&lv, &rl, &nr, NULL));
            EXPECT_EQ_INT(nr, L);
            if (rl.data) EXPECT(first_diff_i32((int32_t *)rl.data, ref, n) < 0);
            mv_vol_init(&oh);
            EXPECT_OK(mv_one_hot(&rl, 3, &oh, NULL));
            EXPECT_EQ_INT(oh.ndim, 4);
            for (i = 0; i < n && oh.data; i++) {
                int c;
                for (c = 0; c < 3; c++)
                    if (((unsigned char *)oh.data)[c * n + i] != (ref[i] == c)) {
                        MVT_FAIL("one-hot voxel %lld class %d", (long long)i, c);
                        i = n;
                        break;
                    }
            }
            sparse[5] = -2;
            EXPECT_STATUS(mv_relabel_sequential(&lv, &oh, &nr, NULL), MV_ERR_INVALID_ARG);
            mv_free(&rl);
            mv_free(&oh);
            free(cnt);
            free(sparse);
        }
        free(want);
    }
    free(size);
    free(ref);
    free(m);
}

typedef struct ecase {
    int64_t d[3];
    double p;
    double s[3];
    int sign;
    double sphere; /* > 0: a ball of this radius (voxels) with holes of density 1 - p */
} ecase;

MV_TEST(morph, edt_matches_scipy)
{
    static const ecase cs[] = {
        {{33, 29, 21}, 0.97, {1, 1, 1}, 0, 0},       {{33, 29, 21}, 0.9, {0.7, 1.3, 2.1}, 0, 0},
        {{33, 29, 21}, 0.6, {1.1, 0.9, 3.0}, 1, 0},  {{50, 1, 1}, 0.9, {2, 1, 1}, 0, 0},
        {{1, 37, 25}, 0.95, {1, 0.5, 0.8}, 1, 0},    {{96, 80, 160}, 0.999, {0.9, 1.2, 1.5}, 0, 0},
        {{6, 5, 4}, 1.0, {1, 1, 1}, 0, 0},           {{64, 48, 40}, 0.999, {1, 1, 1}, 1, 0},
        /* distances past the pencils' reach (24 voxels): the parabola envelope, float32 and float64 values */
        {{70, 64, 62}, 1.0, {1, 1, 1}, 0, 29},    {{70, 64, 62}, 0.9995, {0.9, 1.1, 1.3}, 1, 28},
        {{70, 64, 62}, 1.0, {2, 2, 2}, 1, 30}};
    int nc = (int)(sizeof(cs) / sizeof(cs[0])), c, ids[11];
    float *m[11];
    mref r;
    if (!mref_open(&r, "morph_edt")) return;
    for (c = 0; c < nc; c++) {
        char p[128];
        int64_t n = cs[c].d[0] * cs[c].d[1] * cs[c].d[2];
        m[c] = (float *)malloc((size_t)n * 4);
        if (cs[c].sphere > 0) make_sphere(m[c], cs[c].d, cs[c].sphere, 1 - cs[c].p, 300 + (uint64_t)c);
        else make_mask(m[c], cs[c].d, cs[c].p, 300 + (uint64_t)c, 0);
        snprintf(p, sizeof(p), "%.17g %.17g %.17g %d", cs[c].s[0], cs[c].s[1], cs[c].s[2], cs[c].sign);
        ids[c] = mref_case(&r, "edt", cs[c].d, m[c], p);
    }
    if (mref_run(&r))
        for (c = 0; c < nc; c++) {
            int64_t n = cs[c].d[0] * cs[c].d[1] * cs[c].d[2], i, worst = 0, at = -1, inexact = 0;
            double *ref = (double *)mref_file(&r, ids[c], "out", (size_t)n * 8);
            int th;
            mv_vol v;
            if (!ref) continue;
            mv_vol_wrap(&v, m[c], MV_DT_F32, 3, cs[c].d);
            v.spacing[0] = cs[c].s[0];
            v.spacing[1] = cs[c].s[1];
            v.spacing[2] = cs[c].s[2];
            for (th = 1; th <= 2; th++) {
                mv_edt_opts eo = MV_ZERO_INIT;
                mv_vol o;
                eo.sign = cs[c].sign;
                eo.threads = th;
                mv_vol_init(&o);
                EXPECT_OK(mv_edt(&v, &o, &eo));
                if (!o.data) continue;
                for (i = 0; i < n; i++) {
                    int64_t u;
                    if (cs[c].p == 1.0 && cs[c].sphere == 0) { /* no background: scipy is undefined, medvol gives +inf */
                        if (((float *)o.data)[i] != INFINITY) u = 1 << 30;
                        else u = 0;
                    } else
                        u = ulps_apart(((float *)o.data)[i], ref[i]);
                    if (u) inexact++;
                    if (u > worst) {
                        worst = u;
                        at = i;
                    }
                }
                EXPECT_MSG(worst <= 1, "case %d threads %d: voxel %lld: %.9g vs scipy %.17g (%lld ulp)", c, th,
                           (long long)at, at < 0 ? 0.0 : ((float *)o.data)[at], at < 0 ? 0.0 : ref[at],
                           (long long)worst);
                EXPECT_MSG(inexact * 1000 <= n, "case %d: %lld voxels not exactly scipy's", c, (long long)inexact);
                mv_free(&o);
            }
            free(ref);
        }
    for (c = 0; c < nc; c++) free(m[c]);
}

/* anatomical.nii thresholded as nibabel + numpy would: labels and EDT */
MV_TEST(morph, real_mask_matches_scipy)
{
    const char *dd = tu_data_dir();
    char path[600], p[700];
    mref r;
    mv_vol img, mask, lab, dist;
    int id;
    int64_t n, nl = 0, i, worst = 0;
    static const int64_t dummy[3] = {1, 1, 1};
    if (!dd) {
        mvt_skip("no shared data folder");
        return;
    }
    if (!tu_python("numpy scipy nibabel")) {
        mvt_skip("nibabel missing for /usr/bin/python3");
        return;
    }
    snprintf(path, sizeof(path), "%s/nifti/anatomical.nii", dd);
    if (!mref_open(&r, "morph_real")) return;
    snprintf(p, sizeof(p), "%s 10000 26", path);
    id = mref_case(&r, "nifti", dummy, NULL, p);
    if (!mref_run(&r)) return;
    {
        mv_load_opts lo = MV_ZERO_INIT;
        lo.scaled = 1;
        EXPECT_OK(mv_load(path, &img, &lo));
    }
    mv_vol_init(&mask);
    mv_vol_init(&lab);
    mv_vol_init(&dist);
    EXPECT_OK(mv_math(&img, MV_MATH_GT, NULL, 10000, &mask, NULL));
    n = mv_vol_count(&img);
    {
        mv_label_opts lo = MV_ZERO_INIT;
        int32_t *ref = (int32_t *)mref_file(&r, id, "out", (size_t)n * 4);
        lo.connectivity = 26;
        EXPECT_OK(mv_label(&mask, &lab, &nl, &lo));
        EXPECT(nl == 53); /* scipy: 53 components at 26-connectivity */
        if (ref && lab.data) EXPECT_MSG(first_diff_i32((int32_t *)lab.data, ref, n) < 0, "labels differ from scipy");
        free(ref);
    }
    {
        double *ref = (double *)mref_file(&r, id, "edt", (size_t)n * 8);
        EXPECT_OK(mv_edt(&mask, &dist, NULL));
        for (i = 0; ref && dist.data && i < n; i++) {
            int64_t u = ulps_apart(((float *)dist.data)[i], ref[i]);
            if (u > worst) worst = u;
        }
        EXPECT_MSG(worst <= 1, "EDT of the real mask: %lld ulp from scipy", (long long)worst);
        free(ref);
    }
    mv_free(&img);
    mv_free(&mask);
    mv_free(&lab);
    mv_free(&dist);
}

MV_TEST(morph, bad_arguments)
{
    static const int64_t d4[4] = {4, 4, 4, 2};
    float a[128] = {0};
    mv_vol v, o;
    mv_label_opts lo = MV_ZERO_INIT;
    mv_edt_opts eo = MV_ZERO_INIT;
    int64_t nl;
    mv_vol_wrap(&v, a, MV_DT_F32, 4, d4);
    mv_vol_init(&o);
    EXPECT_STATUS(mv_label(&v, &o, &nl, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_edt(&v, &o, NULL), MV_ERR_UNSUPPORTED);
    v.ndim = 3;
    lo.connectivity = 8;
    EXPECT_STATUS(mv_label(&v, &o, &nl, &lo), MV_ERR_INVALID_ARG);
    lo.connectivity = 6;
    lo.min_size = -1;
    EXPECT_STATUS(mv_label(&v, &o, &nl, &lo), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_label(NULL, &o, &nl, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_label_into(&v, &v, &nl, NULL), MV_ERR_INVALID_ARG); /* float32 output */
    eo.spacing[1] = -1;
    EXPECT_STATUS(mv_edt(&v, &o, &eo), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_label_sizes(&v, NULL, 0, NULL), MV_ERR_INVALID_ARG); /* float labels */
    /* all background: no labels, distance 0 */
    EXPECT_OK(mv_label(&v, &o, &nl, NULL));
    EXPECT_EQ_INT(nl, 0);
    mv_free(&o);
    EXPECT_OK(mv_edt(&v, &o, NULL));
    EXPECT(((float *)o.data)[17] == 0.0f);
    mv_free(&o);
}

typedef struct mcase {
    int64_t d[3];
    double p;
    mv_morph_op op;
    mv_se_shape shape;
    double r;
    double s[3]; /* spacing; mm = 1 when not all 1 */
    int conn, iters, border;
    double sphere; /* > 0: a ball of this radius (voxels) with holes of density 1 - p */
} mcase;

static const char *morph_name(mv_morph_op op)
{
    return op == MV_MORPH_ERODE ? "erode" : op == MV_MORPH_DILATE ? "dilate" : op == MV_MORPH_OPEN ? "open" : "close";
}

MV_TEST(morph, binary_morphology_matches_scipy)
{
    static const mcase cs[] = {
        {{30, 26, 22}, 0.9, MV_MORPH_ERODE, MV_SE_BALL, 3, {1, 1, 1}, 0, 1, 0, 0},
        {{30, 26, 22}, 0.1, MV_MORPH_DILATE, MV_SE_BALL, 3, {1, 1, 1}, 0, 1, 0, 0},
        {{30, 26, 22}, 0.85, MV_MORPH_ERODE, MV_SE_BALL, 2.5, {0.8, 1.1, 1.7}, 0, 1, 1, 0},
        {{30, 26, 22}, 0.004, MV_MORPH_DILATE, MV_SE_BALL, 2.5, {0.8, 1.1, 2.0}, 0, 1, 1, 0},
        {{30, 26, 22}, 0.6, MV_MORPH_OPEN, MV_SE_BALL, 2, {1, 1, 1}, 0, 1, 0, 0},
        {{30, 26, 22}, 0.4, MV_MORPH_CLOSE, MV_SE_BALL, 2, {1, 1, 1}, 0, 1, 0, 0},
        {{30, 26, 22}, 0.8, MV_MORPH_ERODE, MV_SE_BOX, 2, {1, 1, 1}, 0, 1, 0, 0},
        {{30, 26, 22}, 0.004, MV_MORPH_DILATE, MV_SE_BOX, 2, {1, 1, 1}, 0, 1, 1, 0},
        {{30, 26, 22}, 0.8, MV_MORPH_ERODE, MV_SE_CROSS, 1, {1, 1, 1}, 6, 2, 0, 0},
        {{30, 26, 22}, 0.2, MV_MORPH_DILATE, MV_SE_CROSS, 1, {1, 1, 1}, 18, 1, 0, 0},
        {{30, 26, 22}, 0.7, MV_MORPH_OPEN, MV_SE_CROSS, 1, {1, 1, 1}, 26, 2, 0, 0},
        {{30, 26, 22}, 0.3, MV_MORPH_CLOSE, MV_SE_CROSS, 1, {1, 1, 1}, 6, 1, 1, 0},
        {{96, 80, 100}, 0.93, MV_MORPH_ERODE, MV_SE_BALL, 3, {1, 1, 1}, 0, 1, 0, 0},
        {{96, 80, 100}, 0.05, MV_MORPH_DILATE, MV_SE_CROSS, 1, {1, 1, 1}, 18, 2, 0, 0},
        /* wider bit rows (x reach 7, 8), odd widths, border 1 */
        {{64, 60, 56}, 0.97, MV_MORPH_ERODE, MV_SE_BALL, 7, {1, 1, 1}, 0, 1, 0, 0},
        {{40, 36, 34}, 0.002, MV_MORPH_DILATE, MV_SE_BALL, 7.5, {0.9, 1.0, 1.2}, 0, 1, 0, 0},
        {{131, 7, 9}, 0.9, MV_MORPH_ERODE, MV_SE_BOX, 2, {1, 1, 1}, 0, 1, 1, 0},
        {{67, 20, 18}, 0.1, MV_MORPH_CLOSE, MV_SE_BALL, 3, {1, 1, 1}, 0, 1, 0, 0},
        /* reach over 16 voxels: thresholds of the distance transform (float32, float64 values), against
           scipy's feature transform (ref_morph.py ball_by_ft: its binary_erosion takes minutes here) */
        {{60, 58, 56}, 0.9999, MV_MORPH_OPEN, MV_SE_BALL, 17.5, {1, 1, 1}, 0, 1, 0, 27},
        {{60, 58, 56}, 1.0, MV_MORPH_ERODE, MV_SE_BALL, 17.5, {0.8, 1.1, 1.0}, 0, 1, 1, 26},
        {{60, 58, 56}, 1.0, MV_MORPH_DILATE, MV_SE_BALL, 17, {1, 1, 1}, 0, 1, 0, 8}};
    int nc = (int)(sizeof(cs) / sizeof(cs[0])), c, ids[25];
    float *m[25];
    mref r;
    if (!mref_open(&r, "morph_bin")) return;
    for (c = 0; c < nc; c++) {
        char p[200];
        int64_t n = cs[c].d[0] * cs[c].d[1] * cs[c].d[2];
        m[c] = (float *)malloc((size_t)n * 4);
        if (cs[c].sphere > 0) make_sphere(m[c], cs[c].d, cs[c].sphere, 1 - cs[c].p, 500 + (uint64_t)c);
        else make_mask(m[c], cs[c].d, cs[c].p, 500 + (uint64_t)c, 1);
        snprintf(p, sizeof(p), "%s %s %.17g %.17g %.17g %.17g %d %d %d", morph_name(cs[c].op),
                 cs[c].shape == MV_SE_BALL ? "ball" : cs[c].shape == MV_SE_BOX ? "box" : "cross", cs[c].r, cs[c].s[0],
                 cs[c].s[1], cs[c].s[2], cs[c].conn, cs[c].iters, cs[c].border);
        ids[c] = mref_case(&r, "morph", cs[c].d, m[c], p);
    }
    if (mref_run(&r))
        for (c = 0; c < nc; c++) {
            int64_t n = cs[c].d[0] * cs[c].d[1] * cs[c].d[2], i;
            unsigned char *ref = (unsigned char *)mref_file(&r, ids[c], "out", (size_t)n);
            int th;
            mv_vol v;
            int64_t ones = 0, changed = 0;
            if (!ref) continue;
            for (i = 0; i < n; i++) {
                ones += ref[i];
                changed += ref[i] != (m[c][i] != 0);
            }
            EXPECT_MSG(ones > 0 && ones < n && changed > 0, "case %d: scipy's result is trivial (%lld ones, %lld changed)",
                       c, (long long)ones, (long long)changed);
            mv_vol_wrap(&v, m[c], MV_DT_F32, 3, cs[c].d);
            for (i = 0; i < 3; i++) v.spacing[i] = cs[c].s[i];
            for (th = 1; th <= 2; th++) {
                mv_morph_opts mo = MV_ZERO_INIT;
                mv_vol o;
                mo.shape = cs[c].shape;
                mo.radius = cs[c].r;
                mo.mm = cs[c].s[0] != 1 || cs[c].s[1] != 1 || cs[c].s[2] != 1;
                mo.connectivity = cs[c].conn;
                mo.iterations = cs[c].iters;
                mo.border_value = cs[c].border;
                mo.threads = th;
                mv_vol_init(&o);
                EXPECT_OK(mv_morph(&v, cs[c].op, &o, &mo));
                for (i = 0; o.data && i < n; i++)
                    if (((unsigned char *)o.data)[i] != ref[i]) {
                        MVT_FAIL("case %d (%s) threads %d: voxel %lld: %d, scipy %d", c, morph_name(cs[c].op), th,
                                 (long long)i, ((unsigned char *)o.data)[i], ref[i]);
                        break;
                    }
                mv_free(&o);
            }
            free(ref);
        }
    for (c = 0; c < nc; c++) free(m[c]);
}

MV_TEST(morph, fill_holes_and_grey_match_scipy)
{
    static const int64_t d[3] = {34, 30, 26};
    int64_t n = 34 * 30 * 26, i;
    float *m = (float *)malloc((size_t)n * 4), *g = (float *)malloc((size_t)n * 4);
    uint64_t s = 77;
    mref r;
    int idf[4], idg[3], ax;
    static const int64_t sizes[3][3] = {{3, 3, 3}, {7, 1, 5}, {1, 9, 3}};
    make_mask(m, d, 0.55, 41, 0);
    for (i = 0; i < n; i++) g[i] = (float)(tu_rand01(&s) * 1000.0 - 300.0);
    if (!mref_open(&r, "morph_fill")) goto out;
    for (ax = -1; ax < 3; ax++) {
        char p[16];
        snprintf(p, sizeof(p), "%d", ax);
        idf[ax + 1] = mref_case(&r, "fill", d, m, p);
    }
    for (i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof(p), "%s %lld %lld %lld", i == 1 ? "dilate" : "erode", (long long)sizes[i][0],
                 (long long)sizes[i][1], (long long)sizes[i][2]);
        idg[i] = mref_case(&r, "grey", d, g, p);
    }
    if (!mref_run(&r)) goto out;
    {
        mv_vol v, o;
        mv_vol_wrap(&v, m, MV_DT_F32, 3, d);
        for (ax = -1; ax < 3; ax++) {
            unsigned char *ref = (unsigned char *)mref_file(&r, idf[ax + 1], "out", (size_t)n);
            int64_t filled = 0;
            mv_vol_init(&o);
            EXPECT_OK(mv_fill_holes(&v, &o, ax, NULL));
            for (i = 0; ref && o.data && i < n; i++) {
                filled += ((unsigned char *)o.data)[i] && !(m[i] != 0);
                if (((unsigned char *)o.data)[i] != ref[i]) {
                    MVT_FAIL("fill holes axis %d: voxel %lld", ax, (long long)i);
                    break;
                }
            }
            EXPECT_MSG(filled > 0, "axis %d: no hole filled (a test that cannot fail)", ax);
            mv_free(&o);
            free(ref);
        }
        mv_vol_wrap(&v, g, MV_DT_F32, 3, d);
        for (i = 0; i < 3; i++) {
            float *ref = (float *)mref_file(&r, idg[i], "out", (size_t)n * 4);
            int64_t k;
            mv_vol_init(&o);
            EXPECT_OK(mv_grey_morph(&v, i == 1 ? MV_MORPH_DILATE : MV_MORPH_ERODE, sizes[i], &o, NULL));
            for (k = 0; ref && o.data && k < n; k++)
                if (((float *)o.data)[k] != ref[k]) {
                    MVT_FAIL("grey case %lld: voxel %lld: %g vs scipy %g", (long long)i, (long long)k,
                             ((float *)o.data)[k], ref[k]);
                    break;
                }
            mv_free(&o);
            free(ref);
        }
    }
out:
    free(m);
    free(g);
}

/* region statistics against numpy per label (values with NaN, an oblique
   affine), the foreground box and crop against the definitions */
MV_TEST(morph, regions_and_foreground_match_numpy)
{
    static const int64_t d[3] = {23, 19, 17};
    int64_t n = 23 * 19 * 17, i;
    float *v = (float *)malloc((size_t)n * 4), *lf = (float *)malloc((size_t)n * 4);
    int32_t *li = (int32_t *)malloc((size_t)n * 4);
    uint64_t s = 99;
    mref r;
    int id, k;
    char p[600];
    mv_vol vv, vl;
    const int nl = 6;
    double A[3][4] = {{1.5, 0.2, 0, -30}, {-0.1, 2.0, 0.3, 12}, {0, 0.1, 2.5, -7}};
    for (i = 0; i < n; i++) {
        v[i] = (float)(tu_rand01(&s) * 500 - 100);
        if (i % 97 == 0) v[i] = NAN;
        li[i] = (int32_t)(tu_rand(&s) % 7) - (i % 50 == 0 ? 10 : 0); /* 6 is outside 0..5, some negative */
        if (li[i] == 3 && i > 50) li[i] = 2;                           /* label 3: one voxel at most */
        lf[i] = (float)li[i];
    }
    if (!mref_open(&r, "morph_regions")) goto out;
    k = snprintf(p, sizeof(p), "%d", nl);
    for (i = 0; i < 12; i++) k += snprintf(p + k, sizeof(p) - (size_t)k, " %.17g", A[i / 4][i % 4]);
    id = r.n;
    {   /* the case line: values in .a, labels in .b */
        char path[700];
        snprintf(path, sizeof(path), "%s/c%d.b", r.dir, id);
        tu_write_file(path, lf, (size_t)n * 4);
    }
    mref_case(&r, "regions", d, v, p);
    if (!mref_run(&r)) goto out;
    mv_vol_wrap(&vv, v, MV_DT_F32, 3, d);
    mv_vol_wrap(&vl, li, MV_DT_I32, 3, d);
    for (i = 0; i < 12; i++) vv.affine[i / 4][i % 4] = vl.affine[i / 4][i % 4] = A[i / 4][i % 4];
    {
        mv_region_stats st[6];
        double *ref = (double *)mref_file(&r, id, "out", (size_t)nl * 17 * 8);
        int l;
        EXPECT_OK(mv_region_stats_compute(&vv, &vl, nl, st, NULL));
        for (l = 0; ref && l < nl; l++) {
            const double *w = ref + l * 17;
            EXPECT_EQ_INT(st[l].count, (int64_t)w[0]);
            EXPECT_EQ_INT(st[l].n_finite, (int64_t)w[1]);
            EXPECT_REL(st[l].sum, w[2], 1e-12);
            if (st[l].n_finite) {
                EXPECT_REL(st[l].mean, w[3], 1e-12);
                EXPECT_REL(st[l].std, w[4], 1e-10);
                EXPECT(st[l].min == w[5] && st[l].max == w[6]);
            }
            for (k = 0; k < 3; k++) {
                EXPECT_NEAR(st[l].centroid[k], w[7 + k], 1e-9);
                EXPECT_EQ_INT(st[l].bbox_min[k], (int64_t)w[10 + k]);
                EXPECT_EQ_INT(st[l].bbox_max[k], (int64_t)w[13 + k]);
            }
            EXPECT_REL(st[l].volume_mm3, w[16], 1e-12);
        }
        free(ref);
    }
    {   /* foreground: the box of v > 0 in a cube of zeros, margin clipped */
        int64_t st3[3], sz3[3];
        mv_vol c;
        float *z = (float *)calloc((size_t)n, 4);
        mv_vol vz;
        z[5 + 23 * (7 + 19 * 9)] = 2;
        z[11 + 23 * (4 + 19 * 10)] = 1;
        z[0] = -5; /* not > 0 */
        mv_vol_wrap(&vz, z, MV_DT_F32, 3, d);
        for (i = 0; i < 12; i++) vz.affine[i / 4][i % 4] = A[i / 4][i % 4];
        EXPECT_OK(mv_foreground_box(&vz, 2, st3, sz3));
        EXPECT(st3[0] == 3 && sz3[0] == 11 - 3 + 1 + 2 && st3[1] == 2 && sz3[1] == 9 - 2 + 1 && st3[2] == 7 &&
               sz3[2] == 12 - 7 + 1);
        EXPECT_OK(mv_foreground_box(&vz, 20, st3, sz3));
        EXPECT(st3[0] == 0 && sz3[0] == 23 && st3[2] == 0 && sz3[2] == 17);
        mv_vol_init(&c);
        EXPECT_OK(mv_crop_foreground(&vz, &c, 1, NULL));
        EXPECT(c.dim[0] == 9 && c.dim[1] == 6 && c.dim[2] == 4);
        if (c.data) {
            EXPECT(((float *)c.data)[1 + 9 * (4 + 6 * 1)] == 2.0f); /* voxel (5,7,9), the box from (4,3,8) */
            /* the affine keeps world positions: A (start) = A' (0) */
            for (k = 0; k < 3; k++)
                EXPECT_NEAR(c.affine[k][3], A[k][0] * 4 + A[k][1] * 3 + A[k][2] * 8 + A[k][3], 1e-9);
        }
        mv_free(&c);
        memset(z, 0, (size_t)n * 4);
        EXPECT_STATUS(mv_foreground_box(&vz, 0, st3, sz3), MV_ERR_NOT_FOUND);
        free(z);
    }
out:
    free(v);
    free(lf);
    free(li);
}

/* mv_foreground_box against its definition, the box of the voxels > 0
   (NaN and -0 are not), counted voxel by voxel: rows longer than the
   library's 2048-value blocks, hits at the ends of rows and blocks, a
   scaled int16 volume whose negative slope turns stored values around, and
   frames (the box of every frame together). */
static void fg_brute(const float *v, const int64_t d[3], int64_t T, int64_t lo[3], int64_t hi[3])
{
    int64_t i, a, n = d[0] * d[1] * d[2];
    for (a = 0; a < 3; a++) {
        lo[a] = INT64_MAX;
        hi[a] = -1;
    }
    for (i = 0; i < n * T; i++)
        if (v[i] > 0) {
            int64_t j = i % n, c[3];
            c[0] = j % d[0];
            c[1] = (j / d[0]) % d[1];
            c[2] = j / (d[0] * d[1]);
            for (a = 0; a < 3; a++) {
                lo[a] = c[a] < lo[a] ? c[a] : lo[a];
                hi[a] = c[a] > hi[a] ? c[a] : hi[a];
            }
        }
}

MV_TEST(morph, foreground_box_matches_definition)
{
    static const int64_t shapes[][4] = {{5000, 3, 2, 1}, {37, 29, 23, 1}, {2048, 2, 3, 2}, {64, 1, 1, 1}, {4097, 5, 1, 3}};
    int s, r;
    uint32_t seed = 7;
    for (s = 0; s < 5; s++)
        for (r = 0; r < 6; r++) {
            const int64_t *d = shapes[s], T = shapes[s][3], n = d[0] * d[1] * d[2] * T;
            float *v = (float *)calloc((size_t)n, 4);
            int16_t *q = (int16_t *)calloc((size_t)n, 2);
            int64_t i, k, lo[3], hi[3], st[3], sz[3], dims[4] = {d[0], d[1], d[2], T};
            mv_vol vf, vq;
            int a, hits = r == 0 ? 1 : 5 * r;
            for (i = 0; i < n; i++) { /* background: zeros, negatives, NaN, -0 */
                seed = seed * 1664525u + 1013904223u;
                v[i] = (seed >> 28) == 0 ? -1.0f : (seed >> 28) == 1 ? NAN : (seed >> 28) == 2 ? -0.0f : 0.0f;
            }
            for (k = 0; k < hits; k++) { /* a few hits, some at row and block ends */
                seed = seed * 1664525u + 1013904223u;
                i = (int64_t)(seed % (uint32_t)n);
                if (k % 3 == 1) i = i / d[0] * d[0];
                if (k % 3 == 2) i = i / d[0] * d[0] + d[0] - 1;
                v[i] = 0.5f + (float)k;
            }
            fg_brute(v, d, T, lo, hi);
            mv_vol_wrap(&vf, v, MV_DT_F32, T > 1 ? 4 : 3, dims);
            EXPECT_OK(mv_foreground_box(&vf, 0, st, sz));
            for (a = 0; a < 3; a++)
                EXPECT_MSG(st[a] == lo[a] && sz[a] == hi[a] - lo[a] + 1, "shape %d case %d axis %d: %lld+%lld, defined %lld..%lld",
                           s, r, a, (long long)st[a], (long long)sz[a], (long long)lo[a], (long long)hi[a]);
            /* int16 scaled by -2: the stored negatives are the foreground */
            for (i = 0; i < n; i++) q[i] = (int16_t)(v[i] > 0 ? -3 : (v[i] < 0 ? 4 : 0));
            mv_vol_wrap(&vq, q, MV_DT_I16, T > 1 ? 4 : 3, dims);
            vq.meta.scl_slope = -2;
            vq.meta.scl_inter = 0;
            EXPECT_OK(mv_foreground_box(&vq, 0, st, sz));
            for (a = 0; a < 3; a++) EXPECT(st[a] == lo[a] && sz[a] == hi[a] - lo[a] + 1);
            free(v);
            free(q);
        }
}

/* Every ISA's kernels and 1, 2 and 3 threads give the reference's bytes:
   the EDT (pencil kernels and envelope lines, float32 and float64 values),
   labels (slabs joined at their borders), bit-row morphology and the ball
   by the EDT, on 112x100x96 masks, where every stage splits across
   threads (4 MiB of work). */
typedef struct iso_case {
    int kind; /* 0 EDT, 1 label, 2 morphology */
    int sphere;
    double s[3];
    int sign, conn, order;
    mv_morph_op op;
    mv_se_shape shape;
    double r;
    int iters, border;
} iso_case;

static mv_status iso_run(const iso_case *c, const mv_vol *in, mv_vol *out, int threads)
{
    mv_vol v = *in;
    int a;
    for (a = 0; a < 3; a++) v.spacing[a] = c->s[a];
    if (c->kind == 0) {
        mv_edt_opts eo = MV_ZERO_INIT;
        eo.sign = c->sign;
        eo.threads = threads;
        return mv_edt(&v, out, &eo);
    }
    if (c->kind == 1) {
        mv_label_opts lo = MV_ZERO_INIT;
        int64_t nl;
        lo.connectivity = c->conn;
        lo.order = (mv_label_order)c->order;
        lo.min_size = c->order == MV_LABEL_ORDER_SIZE ? 2 : 0;
        lo.threads = threads;
        return mv_label(&v, out, &nl, &lo);
    }
    {
        mv_morph_opts mo = MV_ZERO_INIT;
        mo.shape = c->shape;
        mo.radius = c->r;
        mo.mm = c->s[0] != 1 || c->s[1] != 1 || c->s[2] != 1;
        mo.connectivity = c->conn;
        mo.iterations = c->iters;
        mo.border_value = c->border;
        mo.threads = threads;
        return mv_morph(&v, c->op, out, &mo);
    }
}

MV_TEST(morph, isa_and_threads_identical)
{
    static const int64_t d[3] = {112, 100, 96};
    static const iso_case cs[] = {
        {0, 1, {1, 1, 1}, 0, 0, 0, MV_MORPH_ERODE, MV_SE_BALL, 0, 0, 0},
        {0, 1, {0.9, 1.1, 1.3}, 1, 0, 0, MV_MORPH_ERODE, MV_SE_BALL, 0, 0, 0},
        {0, 0, {1, 1, 1}, 1, 0, 0, MV_MORPH_ERODE, MV_SE_BALL, 0, 0, 0},
        {1, 0, {1, 1, 1}, 0, 26, MV_LABEL_ORDER_NIBABEL, MV_MORPH_ERODE, MV_SE_BALL, 0, 0, 0},
        {1, 0, {1, 1, 1}, 0, 6, MV_LABEL_ORDER_SIZE, MV_MORPH_ERODE, MV_SE_BALL, 0, 0, 0},
        {2, 0, {1, 1, 1}, 0, 0, 0, MV_MORPH_CLOSE, MV_SE_BALL, 3, 1, 1},
        {2, 1, {1, 1, 1}, 0, 0, 0, MV_MORPH_ERODE, MV_SE_BALL, 17.5, 1, 0},
        {2, 0, {1, 1, 1}, 0, 18, 0, MV_MORPH_DILATE, MV_SE_CROSS, 1, 2, 0},
        {2, 0, {0.7, 1, 1.4}, 0, 0, 0, MV_MORPH_OPEN, MV_SE_BOX, 2.1, 1, 0}};
    int64_t n = d[0] * d[1] * d[2];
    float *m[2];
    mv_vol in[2];
    mv_isa saved = mv_isa_active();
    unsigned avail = mv_isa_available();
    int c, k;
    m[0] = (float *)malloc((size_t)n * 4);
    m[1] = (float *)malloc((size_t)n * 4);
    make_mask(m[0], d, 0.6, 901, 1);
    make_sphere(m[1], d, 46, 0.0002, 902);
    for (k = 0; k < 2; k++) REQUIRE_OK(mv_vol_wrap(&in[k], m[k], MV_DT_F32, 3, d));
    for (c = 0; c < (int)(sizeof(cs) / sizeof(cs[0])); c++) {
        mv_vol ref;
        int isa, th;
        mv_vol_init(&ref);
        EXPECT_OK(mv_set_isa(MV_ISA_REF));
        EXPECT_OK(iso_run(&cs[c], &in[cs[c].sphere], &ref, 1));
        if (!ref.data) continue;
        for (isa = 0; isa < MV_ISA_COUNT; isa++) {
            if (!(avail & (1u << isa))) continue;
            EXPECT_OK(mv_set_isa((mv_isa)isa));
            for (th = 1; th <= 3; th++) {
                mv_vol o;
                if (th > 1 && isa != (int)saved) continue; /* threads: on the active ISA */
                mv_vol_init(&o);
                EXPECT_OK(iso_run(&cs[c], &in[cs[c].sphere], &o, th));
                EXPECT_MSG(o.data && memcmp(o.data, ref.data, mv_vol_bytes(&ref)) == 0,
                           "case %d (kind %d) on %s, %d threads: differs from the reference", c, cs[c].kind,
                           mv_isa_name((mv_isa)isa), th);
                mv_free(&o);
            }
        }
        mv_free(&ref);
    }
    mv_set_isa(saved);
    free(m[0]);
    free(m[1]);
}
