/* test_analysis.c - the analysis kernels against numpy (tests/py/ref_analysis.py,
   run in the test: np.corrcoef, np.linalg.lstsq, the angle rule written out,
   a nilearn-style seed map through nibabel), on every ISA and thread count;
   the cache against its contract under a clock the test drives and under
   threads. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>

/* ---- helpers ---------------------------------------------------------------- */

/* the cases of one ref_analysis.py run (tests/testutil.h's batch) */
typedef tu_batch aref;
static int aref_begin(aref *r, const char *name) { return tu_python("numpy") && tu_batch_open(r, name); }
static void aref_write(aref *r, int id, const char *ext, const void *p, size_t bytes) { tu_batch_write(r, id, ext, p, bytes); }
static int aref_run(aref *r) { return tu_batch_run(r, "ref_analysis.py"); }
static void *aref_out(aref *r, int id, size_t bytes) { return tu_batch_read(r, id, "out", bytes); }

/* |a - b| <= tol * max(1, |b|), NaN only against NaN */
static int close_rel(double a, double b, double tol)
{
    if (b != b) return a != a;
    if (isinf(b)) return a == b;
    return fabs(a - b) <= tol * (fabs(b) > 1 ? fabs(b) : 1);
}

/* rows with a large mean and a small spread (BOLD-like), a few correlated
   with x, one constant (NaN), in f32 or f64 */
static void make_rows(void *x, void *rows, mv_dtype dt, int64_t nrows, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    double *xd = (double *)malloc((size_t)n * sizeof(double));
    int64_t r, i;
    for (i = 0; i < n; i++) xd[i] = 1000 + 10 * (tu_rand01(&s) - 0.5);
    for (i = 0; i < n; i++) {
        if (dt == MV_DT_F32) ((float *)x)[i] = (float)xd[i];
        else ((double *)x)[i] = xd[i];
    }
    for (r = 0; r < nrows; r++) {
        double a = tu_rand01(&s) * 2 - 1, off = 500 * tu_rand01(&s);
        for (i = 0; i < n; i++) {
            double v = r == 3 ? 42.0 : off + a * xd[i] + 5 * (tu_rand01(&s) - 0.5);
            if (dt == MV_DT_F32) ((float *)rows)[r * n + i] = (float)v;
            else ((double *)rows)[r * n + i] = v;
        }
    }
    free(xd);
}

/* ---- Pearson ---------------------------------------------------------------- */

MV_TEST(analysis, corr_rows_matches_numpy)
{
    static const int64_t ns[] = {2, 17, 203, 1000};
    aref r;
    int ids[64], k = 0, c, dti, m, f, ni;
    double *got[64];
    if (!aref_begin(&r, "analysis_corr_rows")) {
        mvt_skip("numpy (python3 with numpy) not found");
        return;
    }
    for (ni = 0; ni < 4; ni++)
        for (dti = 0; dti < 2; dti++)
            for (m = 0; m < 2; m++)
                for (f = 0; f < 2; f++) {
                    mv_dtype dt = dti ? MV_DT_F64 : MV_DT_F32;
                    int64_t n = ns[ni], nrows = 9, i;
                    size_t es = dti ? 8 : 4;
                    void *x = malloc((size_t)n * es), *rows = malloc((size_t)(n * nrows) * es);
                    uint8_t *mask = (uint8_t *)malloc((size_t)n);
                    mv_corr_opts o = MV_ZERO_INIT;
                    int id = r.n++;
                    make_rows(x, rows, dt, nrows, n, (uint64_t)(id + 1));
                    for (i = 0; i < n; i++) mask[i] = (uint8_t)(n < 3 || i % 5 != 2);
                    if (m && n > 3) { /* a NaN in a masked sample must not matter */
                        if (dti) ((double *)rows)[n + 2] = NAN;
                        else ((float *)rows)[n + 2] = NAN;
                    }
                    if (!m) { /* an unmasked NaN makes its row NaN */
                        if (dti) ((double *)rows)[5 * n + n - 1] = NAN;
                        else ((float *)rows)[5 * n + n - 1] = NAN;
                    }
                    o.sample_mask = m ? mask : NULL;
                    o.fisher_z = f;
                    got[id] = (double *)malloc((size_t)nrows * sizeof(double));
                    EXPECT_EQ_INT(mv_corr_rows(x, rows, dt, nrows, n, n, got[id], &o), MV_OK);
                    aref_write(&r, id, "x", x, (size_t)n * es);
                    aref_write(&r, id, "rows", rows, (size_t)(n * nrows) * es);
                    aref_write(&r, id, "mask", mask, (size_t)n);
                    fprintf(r.list, "corr_rows c%d %s %lld %lld %d %d\n", id, dti ? "f8" : "f4", (long long)nrows,
                            (long long)n, m, f);
                    ids[k++] = id;
                    free(x);
                    free(rows);
                    free(mask);
                }
    EXPECT(aref_run(&r));
    for (c = 0; c < k; c++) {
        double *ref = (double *)aref_out(&r, ids[c], 9 * sizeof(double));
        int i;
        for (i = 0; ref && i < 9; i++)
            /* atanh amplifies r's rounding by 1 / (1 - r^2) */
            EXPECT_MSG(close_rel(got[ids[c]][i], ref[i], ids[c] % 2 ? 1e-11 : 1e-12), "case c%d row %d: %.17g vs numpy %.17g", ids[c], i,
                       got[ids[c]][i], ref[i]);
        free(ref);
        free(got[ids[c]]);
    }
}

MV_TEST(analysis, corr_matrix_matches_numpy)
{
    static const int64_t shapes[][2] = {{1, 5}, {5, 2}, {23, 50}, {40, 301}};
    aref r;
    double *got[16];
    int64_t nr[16];
    int k, s, dti, m;
    if (!aref_begin(&r, "analysis_corr_matrix")) {
        mvt_skip("numpy (python3 with numpy) not found");
        return;
    }
    for (s = 0; s < 4; s++)
        for (dti = 0; dti < 2; dti++)
            for (m = 0; m < 2; m++) {
                mv_dtype dt = dti ? MV_DT_F64 : MV_DT_F32;
                int64_t nrows = shapes[s][0], n = shapes[s][1], i;
                size_t es = dti ? 8 : 4;
                void *x = malloc((size_t)n * es), *rows = malloc((size_t)(n * nrows) * es);
                uint8_t *mask = (uint8_t *)malloc((size_t)n);
                mv_corr_opts o = MV_ZERO_INIT;
                int id = r.n++;
                make_rows(x, rows, dt, nrows, n, (uint64_t)(id + 100));
                for (i = 0; i < n; i++) mask[i] = (uint8_t)(n < 4 || i % 7 != 1);
                o.sample_mask = m ? mask : NULL;
                nr[id] = nrows;
                got[id] = (double *)malloc((size_t)(nrows * nrows) * sizeof(double));
                EXPECT_EQ_INT(mv_corr_matrix(rows, dt, nrows, n, n, got[id], &o), MV_OK);
                aref_write(&r, id, "rows", rows, (size_t)(n * nrows) * es);
                aref_write(&r, id, "mask", mask, (size_t)n);
                fprintf(r.list, "corr_matrix c%d %s %lld %lld %d\n", id, dti ? "f8" : "f4", (long long)nrows,
                        (long long)n, m);
                free(x);
                free(rows);
                free(mask);
            }
    EXPECT(aref_run(&r));
    for (k = 0; k < r.n; k++) {
        size_t cnt = (size_t)(nr[k] * nr[k]), i;
        double *ref = (double *)aref_out(&r, k, cnt * sizeof(double));
        for (i = 0; ref && i < cnt; i++)
            EXPECT_MSG(close_rel(got[k][i], ref[i], 1e-12), "case c%d entry %zu: %.17g vs numpy %.17g", k, i,
                       got[k][i], ref[i]);
        free(ref);
        free(got[k]);
    }
}

/* ---- seed maps ---------------------------------------------------------------- */

/* seed map of a NIfTI file against the nilearn-style numpy map */
static void seed_case(aref *r, const char *path, mv_seed_kind kind, const int64_t vox[3], const char *maskpath,
                      const uint8_t *tmask, float **got, int64_t *nvox)
{
    mv_vol bold = MV_ZERO_INIT, map = MV_ZERO_INIT, mask = MV_ZERO_INIT;
    mv_seed sd = MV_ZERO_INIT;
    mv_corr_opts o = MV_ZERO_INIT;
    char tpath[700];
    int id = r->n++;
    *got = NULL;
    if (mv_load(path, &bold, NULL) != MV_OK) {
        MVT_FAIL("load %s: %s", path, mv_last_error());
        return;
    }
    sd.kind = kind;
    if (vox) memcpy(sd.voxel, vox, sizeof(sd.voxel));
    if (maskpath) {
        EXPECT_EQ_INT(mv_load(maskpath, &mask, NULL), MV_OK);
        sd.mask = &mask;
    }
    snprintf(tpath, sizeof(tpath), "-");
    if (tmask) {
        snprintf(tpath, sizeof(tpath), "%s/c%d.tmask", r->dir, id);
        tu_write_file(tpath, tmask, (size_t)bold.dim[3]);
        o.sample_mask = tmask;
    }
    EXPECT_EQ_INT(mv_corr_seed(&bold, &sd, &map, &o), MV_OK);
    EXPECT_EQ_INT(map.ndim, 3);
    EXPECT_EQ_INT(map.dtype, MV_DT_F32);
    EXPECT(memcmp(map.affine, bold.affine, sizeof(map.affine)) == 0);
    *nvox = mv_vol_count(&map);
    *got = (float *)malloc((size_t)*nvox * sizeof(float));
    memcpy(*got, map.data, (size_t)*nvox * sizeof(float));
    fprintf(r->list, "seed c%d %s %s %lld %lld %lld %s %s\n", id, path, kind == MV_SEED_VOXEL ? "voxel" : "mask",
            (long long)(vox ? vox[0] : 0), (long long)(vox ? vox[1] : 0), (long long)(vox ? vox[2] : 0),
            maskpath ? maskpath : "-", tpath);
    mv_free(&map);
    mv_free(&mask);
    mv_free(&bold);
}

/* a random 4D float32 series with a seed-correlated signal in half the
   volume, written as NIfTI for nibabel; a mask of a box */
static int make_bold(const char *path, const char *maskpath, int64_t nx, int64_t ny, int64_t nz, int64_t T)
{
    int64_t dims[4] = {nx, ny, nz, T}, md[3] = {nx, ny, nz}, v, t, nvox = nx * ny * nz;
    mv_vol b, m;
    uint64_t s = 12345;
    double *sig = (double *)malloc((size_t)T * sizeof(double));
    int ok;
    for (t = 0; t < T; t++) sig[t] = tu_rand01(&s) - 0.5;
    if (mv_vol_alloc(&b, MV_DT_F32, 4, dims, NULL) != MV_OK || mv_vol_alloc(&m, MV_DT_U8, 3, md, NULL) != MV_OK)
        return 0;
    for (v = 0; v < nvox; v++) {
        double w = (v % 3 == 0) ? 0.0 : (double)(v % 11) / 11.0;
        for (t = 0; t < T; t++)
            ((float *)b.data)[t * nvox + v] =
                v % 97 == 5 ? 7.0f : (float)(800 + w * 40 * sig[t] + 10 * (tu_rand01(&s) - 0.5));
        ((uint8_t *)m.data)[v] = (uint8_t)(v % nx < 3 && (v / nx) % ny < 4);
    }
    ok = mv_save(path, &b, NULL) == MV_OK && mv_save(maskpath, &m, NULL) == MV_OK;
    mv_free(&b);
    mv_free(&m);
    free(sig);
    return ok;
}

MV_TEST(analysis, seed_map_matches_numpy)
{
    aref r;
    const char *dd = tu_data_dir();
    char ex4d[600], func[600], rnd[600], rmask[600];
    float *got[8];
    int64_t nv[8];
    uint8_t tmask[40];
    int k, i;
    static const int64_t v1[3] = {64, 48, 12}, v2[3] = {8, 10, 1}, v3[3] = {5, 6, 3};
    if (!tu_python("numpy nibabel")) {
        mvt_skip("python3 with numpy and nibabel not found");
        return;
    }
    if (!aref_begin(&r, "analysis_seed")) return;
    snprintf(rnd, sizeof(rnd), "%s/bold.nii", r.dir);
    snprintf(rmask, sizeof(rmask), "%s/mask.nii", r.dir);
    EXPECT(make_bold(rnd, rmask, 23, 17, 9, 40));
    for (i = 0; i < 40; i++) tmask[i] = (uint8_t)(i % 6 != 4);
    k = 0;
    seed_case(&r, rnd, MV_SEED_VOXEL, v3, NULL, NULL, &got[k], &nv[k]), k++;
    seed_case(&r, rnd, MV_SEED_MASK, NULL, rmask, NULL, &got[k], &nv[k]), k++;
    seed_case(&r, rnd, MV_SEED_VOXEL, v3, NULL, tmask, &got[k], &nv[k]), k++;
    if (dd) {
        snprintf(ex4d, sizeof(ex4d), "%s/nifti/example4d.nii.gz", dd);
        snprintf(func, sizeof(func), "%s/nifti/functional.nii", dd);
        seed_case(&r, ex4d, MV_SEED_VOXEL, v1, NULL, NULL, &got[k], &nv[k]), k++;
        seed_case(&r, func, MV_SEED_VOXEL, v2, NULL, NULL, &got[k], &nv[k]), k++;
    } else
        printf("    (no ../shared/data: the real-file seed maps are not checked)\n");
    EXPECT(aref_run(&r));
    for (i = 0; i < k; i++) {
        double *ref = got[i] ? (double *)aref_out(&r, i, (size_t)nv[i] * sizeof(double)) : NULL;
        int64_t v, bad = 0, nonzero = 0;
        for (v = 0; ref && v < nv[i]; v++) {
            nonzero += ref[v] != 0;
            if (!(fabs((double)got[i][v] - ref[v]) <= 2e-6)) {
                if (bad++ < 3) MVT_FAIL("seed case %d voxel %lld: %.9g vs numpy %.9g", i, (long long)v, got[i][v], ref[v]);
            }
        }
        EXPECT_MSG(ref == NULL || nonzero > nv[i] / 4, "seed case %d: only %lld nonzero voxels", i, (long long)nonzero);
        free(ref);
        free(got[i]);
    }
}

/* ---- chi-squared ---------------------------------------------------------------- */

MV_TEST(analysis, chi2_matches_lstsq)
{
    aref r;
    double *got[32];
    int64_t nrs[32];
    int fitted[32];
    int k = 0, dti, fit, red, wt, c;
    if (!aref_begin(&r, "analysis_chi2")) {
        mvt_skip("numpy (python3 with numpy) not found");
        return;
    }
    for (dti = 0; dti < 2; dti++)
        for (fit = 0; fit < 2; fit++)
            for (red = 0; red < 2; red++)
                for (wt = 0; wt < 2; wt++) {
                    mv_dtype dt = dti ? MV_DT_F64 : MV_DT_F32;
                    int64_t nrows = 13, n = 57, i, rr;
                    size_t es = dti ? 8 : 4, tot = (size_t)(nrows * n);
                    void *d = malloc(tot * es), *m = malloc(tot * es), *s = malloc(tot * es);
                    double *cc = (double *)malloc((size_t)nrows * 8), *oo = (double *)malloc((size_t)nrows * 8);
                    int64_t *nu = (int64_t *)malloc((size_t)nrows * 8);
                    uint64_t st = 99 + (uint64_t)k;
                    mv_chi2_opts o = MV_ZERO_INIT;
                    int id = r.n++;
                    for (rr = 0; rr < nrows; rr++)
                        for (i = 0; i < n; i++) {
                            /* g2-like: 1 + beta exp(-2 G tau) with noise; model of a wrong contrast */
                            double tau = 1e-3 * pow(1.15, (double)i), G = 50 + 10 * (double)rr;
                            double mod = 1 + 0.3 * exp(-2 * G * tau);
                            double dat = 1.02 + 0.21 * exp(-2 * G * tau) + 0.003 * (tu_rand01(&st) - 0.5);
                            double sg = 0.002 + 0.004 * tu_rand01(&st);
                            if (rr == 4 && i % 9 == 0) dat = NAN;  /* omitted samples */
                            if (rr == 5 && i == 7) sg = 0;          /* sigma 0: omitted when weighted */
                            if (rr == 6 && i > 0) dat = NAN;        /* one sample left: dof <= 0 */
                            if (rr == 7) mod = 1.5;                 /* constant model */
                            if (dti) {
                                ((double *)d)[rr * n + i] = dat;
                                ((double *)m)[rr * n + i] = mod;
                                ((double *)s)[rr * n + i] = sg;
                            } else {
                                ((float *)d)[rr * n + i] = (float)dat;
                                ((float *)m)[rr * n + i] = (float)mod;
                                ((float *)s)[rr * n + i] = (float)sg;
                            }
                        }
                    o.fit = fit;
                    o.reduced = red;
                    o.n_used = nu;
                    got[id] = (double *)malloc((size_t)nrows * 4 * 8);
                    nrs[id] = nrows;
                    fitted[id] = fit;
                    EXPECT_EQ_INT(mv_chi2_rows(d, m, wt ? s : NULL, dt, nrows, n, got[id], cc, oo, &o), MV_OK);
                    for (rr = 0; rr < nrows; rr++) {
                        double g0 = got[id][rr];
                        got[id][nrows + rr] = fit ? cc[rr] : 0; /* laid out as chi2 | c | o | n_used, per row below */
                        got[id][2 * nrows + rr] = fit ? oo[rr] : 0;
                        got[id][3 * nrows + rr] = (double)nu[rr];
                        got[id][rr] = g0;
                    }
                    aref_write(&r, id, "d", d, tot * es);
                    aref_write(&r, id, "m", m, tot * es);
                    aref_write(&r, id, "s", s, tot * es);
                    fprintf(r.list, "chi2 c%d %s %lld %lld %d %d %d\n", id, dti ? "f8" : "f4", (long long)nrows,
                            (long long)n, fit, red, wt);
                    free(d);
                    free(m);
                    free(s);
                    free(cc);
                    free(oo);
                    free(nu);
                    k++;
                }
    EXPECT(aref_run(&r));
    for (c = 0; c < k; c++) {
        int64_t nrows = nrs[c], rr;
        double *ref = (double *)aref_out(&r, c, (size_t)nrows * 4 * 8);
        int q;
        for (rr = 0; ref && rr < nrows; rr++)
            for (q = 0; q < 4; q++) {
                double g = got[c][q * nrows + rr], e = ref[rr * 4 + q];
                /* a constant model (row 7) or one used sample (row 6): lstsq's
                   minimum-norm (c, o) differs from ours (documented); chi2 agrees */
                if ((rr == 6 || rr == 7) && fitted[c] && (q == 1 || q == 2)) continue;
                EXPECT_MSG(close_rel(g, e, 1e-10), "chi2 case c%d row %lld field %d: %.17g vs numpy %.17g", c,
                           (long long)rr, q, g, e);
            }
        free(ref);
        free(got[c]);
    }
}

MV_TEST(analysis, chi2_constant_model)
{
    double d[5] = {1, 2, 3, 4, 5}, m[5] = {2, 2, 2, 2, 2}, chi, c, o;
    mv_chi2_opts opt = MV_ZERO_INIT;
    opt.fit = 1;
    EXPECT_EQ_INT(mv_chi2_rows(d, m, NULL, MV_DT_F64, 1, 5, &chi, &c, &o, &opt), MV_OK);
    EXPECT_NEAR(c, 0.0, 0);
    EXPECT_NEAR(o, 3.0, 1e-15);
    EXPECT_NEAR(chi, 10.0, 1e-13);
}

/* ---- angles ---------------------------------------------------------------- */

MV_TEST(analysis, angles_match_reference)
{
    /* edges: both ends of each range, +-180, their images one turn away, the
       doubles beside the ends, NaN, Inf; ranges plain, crossing +-180 both
       ways of writing it, lo > hi, a full turn, a point */
    static const double ranges[] = {-10, 10, 170, 190, 90, 90, -100, -170, 30, 30 + 360, 120, -120};
    static const double edges[] = {-10, 10, 170, 190, -170, 180, -180, 540, -540, 90, -100, 0, 360, 720, -190,
                                   359.99999999999994, -359.99999999999994, 1e300, -1e300};
    enum { N = 4000 };
    aref r;
    double *a = (double *)malloc(N * sizeof(double));
    uint8_t *got[6], *ref;
    uint64_t s = 5;
    int i, c, nrs[6] = {1, 2, 3, 4, 5, 6};
    int64_t idx[N], cnt;
    if (!aref_begin(&r, "analysis_angles")) {
        mvt_skip("numpy (python3 with numpy) not found");
        free(a);
        return;
    }
    for (i = 0; i < N; i++) a[i] = (tu_rand01(&s) - 0.5) * 1000;
    for (i = 0; i < (int)(sizeof(edges) / sizeof(edges[0])); i++) {
        a[100 + 3 * i] = edges[i];
        a[101 + 3 * i] = nextafter(edges[i], 1e308);
        a[102 + 3 * i] = nextafter(edges[i], -1e308);
    }
    for (i = 200; i < 1200; i++) a[i] = (tu_rand01(&s) - 0.5) * 360; /* a run already in range: the fast path */
    a[1500] = NAN;
    a[1501] = INFINITY;
    a[1502] = -INFINITY;
    for (c = 0; c < 6; c++) {
        got[c] = (uint8_t *)malloc(N);
        EXPECT_EQ_INT(mv_angle_mask(a, N, ranges, nrs[c], got[c]), MV_OK);
        aref_write(&r, c, "a", a, N * sizeof(double));
        aref_write(&r, c, "r", ranges, (size_t)nrs[c] * 2 * sizeof(double));
        fprintf(r.list, "angles c%d %d %d\n", c, N, nrs[c]);
        r.n++;
    }
    EXPECT(aref_run(&r));
    for (c = 0; c < 6; c++) {
        int64_t want = 0, k = 0, bad = 0;
        ref = (uint8_t *)aref_out(&r, c, N);
        for (i = 0; ref && i < N; i++) {
            want += ref[i];
            if (got[c][i] != ref[i] && bad++ < 5)
                MVT_FAIL("%d ranges: angle %d = %.17g: %d, reference %d", nrs[c], i, a[i], got[c][i], ref[i]);
        }
        EXPECT_EQ_INT(mv_angle_select(a, N, ranges, nrs[c], NULL, 0, &cnt), MV_OK);
        EXPECT_EQ_INT(cnt, want);
        EXPECT_EQ_INT(mv_angle_select(a, N, ranges, nrs[c], idx, N, &cnt), MV_OK);
        EXPECT_EQ_INT(cnt, want);
        for (i = 0; ref && i < N; i++)
            if (ref[i]) {
                if (k >= cnt || idx[k] != i) {
                    MVT_FAIL("%d ranges: index %lld is %lld, %d expected", nrs[c], (long long)k,
                             (long long)(k < cnt ? idx[k] : -1), i);
                    break;
                }
                k++;
            }
        if (want > 0) {
            EXPECT_EQ_INT(mv_angle_select(a, N, ranges, nrs[c], idx, want - 1, &cnt), MV_ERR_BUFFER_TOO_SMALL);
            EXPECT_EQ_INT(cnt, want);
        }
        free(ref);
        free(got[c]);
    }
    /* the stated rule on single values */
    {
        static const double crossing[] = {170, -170}, same[] = {170, 190}, full[] = {-180, 180};
        double t[4] = {180, -180, 175, -175};
        uint8_t m1[4], m2[4], m3[4];
        EXPECT_EQ_INT(mv_angle_mask(t, 4, crossing, 1, m1), MV_OK);
        EXPECT_EQ_INT(mv_angle_mask(t, 4, same, 1, m2), MV_OK);
        EXPECT_EQ_INT(mv_angle_mask(t, 4, full, 1, m3), MV_OK);
        for (i = 0; i < 4; i++) {
            EXPECT_EQ_INT(m1[i], 1);
            EXPECT_EQ_INT(m2[i], 1);
            EXPECT_EQ_INT(m3[i], 1);
        }
    }
    free(a);
}

/* ---- every ISA and thread count gives the reference's bytes -------------- */

MV_TEST(analysis, isa_and_threads_identical)
{
    enum { NR = 300, NS = 4099, NA = 1000 };
    float *rows = (float *)malloc((size_t)NR * NS * sizeof(float)), *x = (float *)malloc(NS * sizeof(float));
    double *rows64 = (double *)malloc((size_t)40 * 333 * sizeof(double));
    double ref_rows[NR], ref_mat[40 * 40], ref_chi[NR], got[NR], gmat[40 * 40];
    double *ang = (double *)malloc(NA * sizeof(double));
    uint8_t *mask = (uint8_t *)malloc(NS), ref_ang[NA], gang[NA];
    static const double rg[] = {-30, 45, 150, -150, 80, 100, 0, 0};
    int64_t dims[4] = {67, 45, 33, 40}, i, nvox = 67 * 45 * 33;
    mv_vol bold, ref_map = MV_ZERO_INIT, map = MV_ZERO_INIT;
    mv_seed sd = MV_ZERO_INIT;
    mv_corr_opts o = MV_ZERO_INIT;
    mv_chi2_opts co = MV_ZERO_INIT;
    uint64_t s = 77;
    unsigned avail = mv_isa_available();
    mv_isa isa0 = mv_isa_active();
    int isa, th;
    for (i = 0; i < (int64_t)NR * NS; i++) rows[i] = (float)(tu_rand01(&s) * 100 + (i % NS) * 0.01);
    for (i = 0; i < NS; i++) x[i] = (float)(tu_rand01(&s) + i * 0.001);
    for (i = 0; i < NS; i++) mask[i] = (uint8_t)(i % 13 != 0);
    for (i = 0; i < 40 * 333; i++) rows64[i] = tu_rand01(&s) * 3 + (double)(i % 333) * 0.01;
    for (i = 0; i < NA; i++) ang[i] = (tu_rand01(&s) - 0.5) * (i < 500 ? 360 : 1500);
    EXPECT_EQ_INT(mv_vol_alloc(&bold, MV_DT_F32, 4, dims, NULL), MV_OK); /* 18 MiB: splits over threads */
    for (i = 0; i < nvox * 40; i++) ((float *)bold.data)[i] = (float)(tu_rand01(&s) * 10 + (double)(i / nvox) * (i % 3));
    sd.kind = MV_SEED_VOXEL;
    sd.voxel[0] = 3;
    sd.voxel[1] = 7;
    sd.voxel[2] = 11;
    EXPECT_EQ_INT(mv_set_isa(MV_ISA_REF), MV_OK);
    o.threads = 1;
    o.sample_mask = mask;
    EXPECT_EQ_INT(mv_corr_rows(x, rows, MV_DT_F32, NR, NS, NS, ref_rows, &o), MV_OK);
    o.sample_mask = NULL;
    EXPECT_EQ_INT(mv_corr_matrix(rows64, MV_DT_F64, 40, 333, 333, ref_mat, &o), MV_OK);
    EXPECT_EQ_INT(mv_corr_seed(&bold, &sd, &ref_map, &o), MV_OK);
    co.fit = 1;
    co.threads = 1;
    co.model_shared = 1;
    EXPECT_EQ_INT(mv_chi2_rows(rows, x, NULL, MV_DT_F32, NR, NS, ref_chi, NULL, NULL, &co), MV_OK);
    EXPECT_EQ_INT(mv_angle_mask(ang, NA, rg, 4, ref_ang), MV_OK);
    for (isa = 0; isa < MV_ISA_COUNT; isa++) {
        if (!(avail & (1u << isa))) continue;
        EXPECT_EQ_INT(mv_set_isa((mv_isa)isa), MV_OK);
        for (th = 1; th <= 3; th++) {
            o.threads = th;
            co.threads = th;
            o.sample_mask = mask;
            EXPECT_EQ_INT(mv_corr_rows(x, rows, MV_DT_F32, NR, NS, NS, got, &o), MV_OK);
            EXPECT_MSG(memcmp(got, ref_rows, sizeof(got)) == 0, "corr_rows differs on %s, %d threads",
                       mv_isa_name((mv_isa)isa), th);
            o.sample_mask = NULL;
            EXPECT_EQ_INT(mv_corr_matrix(rows64, MV_DT_F64, 40, 333, 333, gmat, &o), MV_OK);
            EXPECT_MSG(memcmp(gmat, ref_mat, sizeof(gmat)) == 0, "corr_matrix differs on %s, %d threads",
                       mv_isa_name((mv_isa)isa), th);
            EXPECT_EQ_INT(mv_corr_seed(&bold, &sd, &map, &o), MV_OK);
            EXPECT_MSG(memcmp(map.data, ref_map.data, (size_t)nvox * 4) == 0, "seed map differs on %s, %d threads",
                       mv_isa_name((mv_isa)isa), th);
            mv_free(&map);
            EXPECT_EQ_INT(mv_chi2_rows(rows, x, NULL, MV_DT_F32, NR, NS, got, NULL, NULL, &co), MV_OK);
            EXPECT_MSG(memcmp(got, ref_chi, sizeof(got)) == 0, "chi2 differs on %s, %d threads",
                       mv_isa_name((mv_isa)isa), th);
        }
        EXPECT_EQ_INT(mv_angle_mask(ang, NA, rg, 4, gang), MV_OK);
        EXPECT_MSG(memcmp(gang, ref_ang, NA) == 0, "angle mask differs on %s", mv_isa_name((mv_isa)isa));
        { /* the selection (64 angles a step as bits) lists the reference mask's angles */
            int64_t sel[NA], cnt = -1, cnt0 = -1, want = 0, bad = 0;
            EXPECT_EQ_INT(mv_angle_select(ang, NA, rg, 4, sel, NA, &cnt), MV_OK);
            EXPECT_EQ_INT(mv_angle_select(ang, NA, rg, 4, NULL, 0, &cnt0), MV_OK);
            for (i = 0; i < NA; i++)
                if (ref_ang[i]) bad += want >= cnt || sel[want++] != i;
            EXPECT_MSG(bad == 0 && cnt == want && cnt0 == want, "angle select differs on %s: %lld/%lld/%lld, %lld bad",
                       mv_isa_name((mv_isa)isa), (long long)cnt, (long long)cnt0, (long long)want, (long long)bad);
        }
        /* odd lengths through the tails */
        for (i = 0; i < 40; i++) {
            double a1, a2;
            mv_isa cur = (mv_isa)isa;
            o.threads = 1;
            EXPECT_EQ_INT(mv_corr_rows(x + 1, rows + 3, MV_DT_F32, 1, 2 + i, NS, &a1, &o), MV_OK);
            mv_set_isa(MV_ISA_REF);
            EXPECT_EQ_INT(mv_corr_rows(x + 1, rows + 3, MV_DT_F32, 1, 2 + i, NS, &a2, &o), MV_OK);
            mv_set_isa(cur);
            EXPECT_MSG(memcmp(&a1, &a2, 8) == 0, "corr_rows n=%lld differs on %s", (long long)(2 + i),
                       mv_isa_name(cur));
        }
    }
    mv_set_isa(isa0);
    mv_free(&ref_map);
    mv_free(&bold);
    free(rows);
    free(x);
    free(rows64);
    free(ang);
    free(mask);
}

/* The vector chi-squared rows against the reference, byte for byte: f32 and
   f64, with and without the fit, no sigma / a shared sigma / per-row sigmas,
   lengths through every tail (1..40, 200, 1027), and rows with a NaN or
   infinite sample or a sigma <= 0 (redone by the reference's masked passes). */
MV_TEST(analysis, chi2_isa_identical)
{
    enum { NR = 24, NMAX = 1027 };
    static const int64_t lens[] = {1, 7, 8, 15, 16, 17, 31, 33, 40, 200, 1027};
    double *d64 = (double *)malloc((size_t)NR * NMAX * 8), *m64 = (double *)malloc((size_t)NR * NMAX * 8);
    double *s64 = (double *)malloc((size_t)NR * NMAX * 8);
    float *d32 = (float *)malloc((size_t)NR * NMAX * 4), *m32 = (float *)malloc((size_t)NR * NMAX * 4);
    float *s32 = (float *)malloc((size_t)NR * NMAX * 4);
    double ref[4][NR], got[4][NR];
    int64_t nref[NR], ngot[NR], i;
    uint64_t st = 5;
    unsigned avail = mv_isa_available();
    mv_isa isa0 = mv_isa_active();
    size_t li;
    REQUIRE(d64 && m64 && s64 && d32 && m32 && s32);
    for (i = 0; i < (int64_t)NR * NMAX; i++) {
        m64[i] = 1.0 + sin((double)(i % NMAX) * 0.05) * 0.3;
        d64[i] = 2.5 * m64[i] + 0.1 + (tu_rand01(&st) - 0.5) * 0.05;
        s64[i] = 0.01 + tu_rand01(&st) * 0.02;
    }
    d64[3 * NMAX + 5] = NAN; /* rows 3-6: a sample that is not used */
    m64[4 * NMAX + 0] = INFINITY;
    s64[5 * NMAX + 9] = 0.0;
    s64[6 * NMAX + 2] = -1.0;
    for (i = 0; i < (int64_t)NR * NMAX; i++) {
        d32[i] = (float)d64[i];
        m32[i] = (float)m64[i];
        s32[i] = (float)s64[i];
    }
    for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        int64_t n = lens[li];
        int cfg;
        for (cfg = 0; cfg < 2 * 2 * 3 * 2; cfg++) {
            int f64 = cfg & 1, fit = (cfg >> 1) & 1, sg = (cfg >> 2) % 3, shared = cfg / 12, isa, th;
            mv_chi2_opts o = MV_ZERO_INIT;
            const void *d = f64 ? (const void *)d64 : (const void *)d32, *m = f64 ? (const void *)m64 : (const void *)m32;
            const void *sp = sg == 0 ? NULL : f64 ? (const void *)s64 : (const void *)s32;
            mv_dtype dt = f64 ? MV_DT_F64 : MV_DT_F32;
            o.fit = fit;
            o.sigma_shared = sg == 1;
            o.model_shared = shared;
            o.n_used = nref;
            o.threads = 1;
            /* rows of n samples packed at stride n: the NaN rows move with n, which is fine */
            memset(ref, 0, sizeof(ref));
            REQUIRE(mv_set_isa(MV_ISA_REF) == MV_OK);
            EXPECT_EQ_INT(mv_chi2_rows(d, m, sp, dt, NR, n, ref[0], ref[1], ref[2], &o), MV_OK);
            for (isa = 0; isa < MV_ISA_COUNT; isa++) {
                if (!(avail & (1u << isa)) || isa == MV_ISA_REF) continue;
                REQUIRE(mv_set_isa((mv_isa)isa) == MV_OK);
                for (th = 1; th <= 3; th += 2) {
                    memset(got, 0, sizeof(got));
                    o.threads = th;
                    o.n_used = ngot;
                    EXPECT_EQ_INT(mv_chi2_rows(d, m, sp, dt, NR, n, got[0], got[1], got[2], &o), MV_OK);
                    EXPECT_MSG(memcmp(got, ref, sizeof(got)) == 0 && memcmp(ngot, nref, sizeof(ngot)) == 0,
                               "chi2 rows differ from the reference on %s (%d threads): n %lld, %s, fit %d, sigma %d, "
                               "shared model %d", mv_isa_name((mv_isa)isa), th, (long long)n, f64 ? "f64" : "f32", fit,
                               sg, shared);
                }
            }
        }
    }
    mv_set_isa(isa0);
    free(d64);
    free(m64);
    free(s64);
    free(d32);
    free(m32);
    free(s32);
}

MV_TEST(analysis, bad_arguments)
{
    double x[4] = {1, 2, 3, 4}, out[4], rg[2] = {0, NAN};
    int64_t cnt, dims[4] = {2, 2, 2, 1};
    mv_vol v;
    mv_seed sd = MV_ZERO_INIT;
    uint8_t m[4];
    EXPECT_EQ_INT(mv_corr_rows(x, x, MV_DT_I16, 1, 4, 4, out, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_EQ_INT(mv_corr_rows(x, x, MV_DT_F64, 1, 0, 4, out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_EQ_INT(mv_corr_rows(x, x, MV_DT_F64, 1, 4, 3, out, NULL), MV_ERR_INVALID_ARG);
    EXPECT_EQ_INT(mv_corr_rows(NULL, x, MV_DT_F64, 1, 4, 4, out, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "mv_corr_rows") != NULL);
    EXPECT_EQ_INT(mv_corr_rows(x, x, MV_DT_F64, INT64_MAX / 2, 4, 4, out, NULL), MV_ERR_SIZE_OVERFLOW);
    EXPECT_EQ_INT(mv_corr_matrix(x, MV_DT_F64, (int64_t)1 << 40, 4, 4, out, NULL), MV_ERR_SIZE_OVERFLOW);
    EXPECT_EQ_INT(mv_chi2_rows(x, NULL, NULL, MV_DT_F64, 1, 4, out, NULL, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_EQ_INT(mv_angle_mask(x, 4, rg, 1, m), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "range 0") != NULL);
    EXPECT_EQ_INT(mv_angle_mask(x, 4, rg, -1, m), MV_ERR_INVALID_ARG);
    EXPECT_EQ_INT(mv_angle_select(x, 4, NULL, 0, NULL, 0, &cnt), MV_OK);
    EXPECT_EQ_INT(cnt, 0);
    EXPECT_EQ_INT(mv_vol_alloc(&v, MV_DT_F32, 4, dims, NULL), MV_OK);
    EXPECT_EQ_INT(mv_seed_series(&v, &sd, out), MV_ERR_INVALID_ARG); /* one time point */
    EXPECT(strstr(mv_last_error(), "time points") != NULL);
    mv_free(&v);
    dims[3] = 3;
    EXPECT_EQ_INT(mv_vol_alloc(&v, MV_DT_F32, 4, dims, NULL), MV_OK);
    sd.voxel[1] = 2;
    EXPECT_EQ_INT(mv_seed_series(&v, &sd, out), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "voxel[1]") != NULL);
    sd.kind = MV_SEED_MASK;
    EXPECT_EQ_INT(mv_seed_series(&v, &sd, out), MV_ERR_INVALID_ARG);
    sd.kind = (mv_seed_kind)9;
    EXPECT_EQ_INT(mv_seed_series(&v, &sd, out), MV_ERR_INVALID_ARG);
    mv_free(&v);
}

/* ---- the cache ---------------------------------------------------------------- */

#include <pthread.h>

typedef struct fake_clock {
    double t;
} fake_clock;
static double fake_now(void *ctx) { return ((fake_clock *)ctx)->t; }

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++) p[i] = (unsigned char)(seed * 31u + (unsigned)(i / 7) * 13u);
}

/* LRU order and the limits against a model kept here: a list of keys,
   most recent first */
MV_TEST(analysis, cache_lru_order_and_limits)
{
    mv_cache *c;
    mv_cache_opts o = MV_ZERO_INIT;
    mv_cache_stats st;
    mv_cache_ref *ref;
    int model[64], nm = 0, step, i, comp;
    unsigned char buf[300];
    uint64_t s = 3;
    for (comp = 0; comp < 2; comp++) {
        int64_t evicted = 0;
        o.max_bytes = 1000;
        o.max_entries = comp ? 6 : 0;
        o.compress = comp;
        EXPECT_EQ_INT(mv_cache_create(&c, &o), MV_OK);
        nm = 0;
        for (step = 0; step < 400; step++) {
            int k = (int)(tu_rand01(&s) * 20), found = -1;
            char key[16];
            snprintf(key, sizeof(key), "k%02d", k); /* cost = payload + 3 */
            for (i = 0; i < nm; i++)
                if (model[i] == k) found = i;
            if (tu_rand01(&s) < 0.5) { /* get: a hit exactly when the model holds it */
                mv_status g = mv_cache_get(c, key, &ref);
                EXPECT_EQ_INT(g, found >= 0 ? MV_OK : MV_ERR_NOT_FOUND);
                if (g == MV_OK) {
                    const void *d;
                    size_t len;
                    mv_cache_ref_bytes(ref, &d, &len);
                    pattern(buf, len, (unsigned)k);
                    EXPECT(len == 97 && memcmp(d, buf, len) == 0);
                    mv_cache_release(ref);
                }
                if (found >= 0) { /* to the front */
                    memmove(model + 1, model, (size_t)found * sizeof(int));
                    model[0] = k;
                }
            } else { /* put 97 bytes (cost 100; compressed: less) */
                int cap = comp ? 6 : 10; /* entries that fit: by count, or 10 x 100 bytes */
                pattern(buf, 97, (unsigned)k);
                EXPECT_EQ_INT(mv_cache_put(c, key, buf, 97), MV_OK);
                if (found >= 0) {
                    memmove(model + found, model + found + 1, (size_t)(nm - found - 1) * sizeof(int));
                    nm--;
                }
                if (nm == cap) {
                    nm--; /* the least recent goes */
                    evicted++;
                }
                memmove(model + 1, model, (size_t)nm * sizeof(int));
                model[0] = k;
                nm++;
            }
            EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
            EXPECT_MSG(st.bytes <= o.max_bytes, "bytes %llu over the limit", (unsigned long long)st.bytes);
            EXPECT_EQ_INT(st.entries, nm);
            if (comp && nm) EXPECT(st.bytes < st.bytes_raw + (uint64_t)nm * 3);
        }
        EXPECT_EQ_INT((int64_t)st.evictions, evicted);
        EXPECT(st.hits > 50 && st.misses > 50);
        { /* larger than the whole cache on its own (random bytes: no compression helps) */
            static unsigned char big[2000];
            for (i = 0; i < (int)sizeof(big); i++) big[i] = (unsigned char)(tu_rand01(&s) * 256);
            EXPECT_EQ_INT(mv_cache_put(c, "big", big, sizeof(big)), MV_ERR_BUFFER_TOO_SMALL);
        }
        EXPECT_EQ_INT(mv_cache_clear(c), MV_OK);
        EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
        EXPECT_EQ_INT(st.entries, 0);
        EXPECT_EQ_INT((int64_t)st.bytes, 0);
        EXPECT_EQ_INT(mv_cache_destroy(c), MV_OK);
    }
}

MV_TEST(analysis, cache_ttl_and_references)
{
    mv_cache *c;
    mv_cache_opts o = MV_ZERO_INIT;
    mv_cache_stats st;
    mv_cache_ref *r1, *r2;
    fake_clock fc = {100.0};
    unsigned char a[64], b[64];
    const void *d;
    size_t len;
    o.ttl = 10;
    o.clock = fake_now;
    o.clock_ctx = &fc;
    o.max_bytes = 200;
    EXPECT_EQ_INT(mv_cache_create(&c, &o), MV_OK);
    pattern(a, 64, 1);
    pattern(b, 64, 2);
    EXPECT_EQ_INT(mv_cache_put(c, "a", a, 64), MV_OK);
    fc.t = 105;
    EXPECT_EQ_INT(mv_cache_put(c, "b", b, 64), MV_OK);
    fc.t = 109.999;
    EXPECT_EQ_INT(mv_cache_get(c, "a", &r1), MV_OK); /* age 9.999: alive */
    fc.t = 110.5;
    EXPECT_EQ_INT(mv_cache_get(c, "a", &r2), MV_ERR_NOT_FOUND); /* age 10.5: expired */
    EXPECT(r2 == NULL);
    EXPECT_EQ_INT(mv_cache_get(c, "b", &r2), MV_OK);               /* age 5.5 */
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_EQ_INT((int64_t)st.expirations, 1);
    EXPECT_EQ_INT((int64_t)st.hits, 2);
    EXPECT_EQ_INT((int64_t)st.misses, 1);
    EXPECT_EQ_INT(st.entries, 1);
    /* r1 still reads "a" though the entry expired and left the cache */
    EXPECT_EQ_INT(mv_cache_ref_bytes(r1, &d, &len), MV_OK);
    EXPECT(len == 64 && memcmp(d, a, 64) == 0);
    /* replacing and evicting "b" under its reader */
    EXPECT_EQ_INT(mv_cache_put(c, "b", a, 64), MV_OK);
    EXPECT_EQ_INT(mv_cache_put(c, "c", a, 64), MV_OK);
    EXPECT_EQ_INT(mv_cache_put(c, "d", a, 64), MV_OK); /* 3 x 65 <= 200 */
    EXPECT_EQ_INT(mv_cache_put(c, "e", a, 64), MV_OK); /* evicts the new "b" */
    EXPECT_EQ_INT(mv_cache_ref_bytes(r2, &d, &len), MV_OK);
    EXPECT(len == 64 && memcmp(d, b, 64) == 0);
    EXPECT_EQ_INT(mv_cache_destroy(c), MV_ERR_INVALID_ARG); /* references held */
    EXPECT_EQ_INT(mv_cache_release(r1), MV_OK);
    EXPECT_EQ_INT(mv_cache_release(r2), MV_OK);
    {
        mv_vol v;
        int64_t dims[3] = {30, 20, 10};
        EXPECT_EQ_INT(mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL), MV_OK);
        EXPECT_EQ_INT(mv_cache_put_vol(c, "vol", &v), MV_ERR_BUFFER_TOO_SMALL); /* 12000 bytes > 200 */
        mv_free(&v);
    }
    EXPECT_EQ_INT(mv_cache_destroy(c), MV_OK);
}

/* volumes, compressed and not: the reader gets the voxels and the geometry */
MV_TEST(analysis, cache_volumes_compressed)
{
    int comp;
    for (comp = 0; comp < 2; comp++) {
        mv_cache *c;
        mv_cache_opts o = MV_ZERO_INIT;
        mv_cache_stats st;
        mv_cache_ref *r;
        const mv_vol *got;
        const void *d;
        size_t len;
        mv_vol v;
        int64_t dims[3] = {64, 48, 20}, i;
        o.compress = comp;
        o.max_bytes = 1 << 20;
        EXPECT_EQ_INT(mv_cache_create(&c, &o), MV_OK);
        EXPECT_EQ_INT(mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL), MV_OK);
        for (i = 0; i < 64 * 48 * 20; i++) ((int16_t *)v.data)[i] = (int16_t)((i * 7) % 300 - 100);
        v.affine[0][3] = 12.5;
        v.spacing[2] = 2.5;
        EXPECT_EQ_INT(mv_cache_put_vol(c, "vol", &v), MV_OK);
        EXPECT_EQ_INT(mv_cache_get(c, "vol", &r), MV_OK);
        EXPECT_EQ_INT(mv_cache_ref_vol(r, &got), MV_OK);
        EXPECT(got->dtype == MV_DT_I16 && got->ndim == 3 && got->dim[1] == 48);
        EXPECT(got->affine[0][3] == 12.5 && got->spacing[2] == 2.5);
        EXPECT(memcmp(got->data, v.data, mv_vol_bytes(&v)) == 0);
        EXPECT(got->data != v.data);
        EXPECT_EQ_INT(mv_cache_ref_bytes(r, &d, &len), MV_OK);
        EXPECT(d == got->data && len == mv_vol_bytes(&v));
        EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
        EXPECT_EQ_INT((int64_t)st.bytes_raw, (int64_t)mv_vol_bytes(&v));
        if (comp) {
            /* the reader's decompressed copy counts while it is held, beside the payload */
            mv_cache_ref *r2;
            const mv_vol *got2;
            EXPECT_EQ_INT((int64_t)st.bytes_copies, (int64_t)mv_vol_bytes(&v));
            EXPECT_MSG((st.bytes - st.bytes_copies) * 4 < st.bytes_raw, "compressed to %llu of %llu bytes",
                       (unsigned long long)(st.bytes - st.bytes_copies), (unsigned long long)st.bytes_raw);
            EXPECT_EQ_INT(mv_cache_get(c, "vol", &r2), MV_OK); /* a second reader shares the copy */
            EXPECT_EQ_INT(mv_cache_ref_vol(r2, &got2), MV_OK);
            EXPECT(got2->data == got->data);
            EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
            EXPECT_EQ_INT((int64_t)st.bytes_copies, (int64_t)mv_vol_bytes(&v));
            mv_cache_release(r2);
        } else {
            EXPECT_EQ_INT((int64_t)st.bytes, (int64_t)mv_vol_bytes(&v) + 3);
            EXPECT_EQ_INT((int64_t)st.bytes_copies, 0);
        }
        {
            const mv_vol *g2;
            EXPECT_EQ_INT(mv_cache_put(c, "bytes", "xyz", 3), MV_OK);
            mv_cache_release(r);
            EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
            EXPECT_EQ_INT((int64_t)st.bytes_copies, 0); /* the last reader freed the copy */
            EXPECT_EQ_INT(mv_cache_get(c, "bytes", &r), MV_OK);
            EXPECT_EQ_INT(mv_cache_ref_vol(r, &g2), MV_ERR_INVALID_ARG);
            mv_cache_release(r);
        }
        mv_free(&v);
        EXPECT_EQ_INT(mv_cache_destroy(c), MV_OK);
    }
}

/* Compressed entries: a reader's decompressed copy counts toward max_bytes
   while the entry is in the cache, so making it evicts LRU entries, and an
   entry whose payload and copy do not fit together leaves the cache (its
   reader keeps the bytes); the limit holds at every step. */
MV_TEST(analysis, cache_copies_within_limit)
{
    mv_cache *c;
    mv_cache_opts o = MV_ZERO_INIT;
    mv_cache_stats st;
    mv_cache_ref *r1, *r2;
    unsigned char buf[900];
    const void *d;
    size_t len;
    int k;
    o.compress = 1;
    o.max_bytes = 1000;
    EXPECT_EQ_INT(mv_cache_create(&c, &o), MV_OK);
    for (k = 0; k < 4; k++) { /* 4 entries of 300 bytes, each compressed to a few dozen */
        char key[8];
        snprintf(key, sizeof(key), "e%d", k);
        pattern(buf, 300, (unsigned)k);
        EXPECT_EQ_INT(mv_cache_put(c, key, buf, 300), MV_OK);
    }
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_EQ_INT(st.entries, 4);
    EXPECT(st.bytes + 300 <= o.max_bytes); /* room for one copy */
    EXPECT_EQ_INT(mv_cache_get(c, "e1", &r1), MV_OK); /* its copy (300) fits beside the payloads */
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_EQ_INT((int64_t)st.bytes_copies, 300);
    EXPECT(st.bytes <= o.max_bytes && st.entries == 4);
    EXPECT_EQ_INT(mv_cache_get(c, "e2", &r2), MV_OK); /* a second copy: the LRU entries make room */
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_MSG(st.bytes <= o.max_bytes, "bytes %llu over %llu", (unsigned long long)st.bytes,
               (unsigned long long)o.max_bytes);
    EXPECT(st.evictions >= 1 && st.entries < 4);
    mv_cache_release(r2);
    mv_cache_release(r1);
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_EQ_INT((int64_t)st.bytes_copies, 0);
    /* an entry whose payload and copy exceed max_bytes together: the get
       drops it from the cache and its reader still reads it */
    {
        uint64_t s = 9;
        for (k = 0; k < 900; k++) buf[k] = (unsigned char)(k % 4 ? buf[k - 1] : tu_rand01(&s) * 256); /* runs of 4 */
    }
    EXPECT_EQ_INT(mv_cache_clear(c), MV_OK);
    EXPECT_EQ_INT(mv_cache_put(c, "big", buf, 900), MV_OK);
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_MSG(st.bytes < 900 && st.bytes + 900 > o.max_bytes, "payload %llu: compressed, too big beside its copy",
               (unsigned long long)st.bytes);
    EXPECT_EQ_INT(mv_cache_get(c, "big", &r1), MV_OK);
    EXPECT_EQ_INT(mv_cache_ref_bytes(r1, &d, &len), MV_OK);
    EXPECT(len == 900 && memcmp(d, buf, 900) == 0);
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT(st.bytes == 0 && st.entries == 0 && st.bytes_copies == 0);
    mv_cache_release(r1);
    EXPECT_EQ_INT(mv_cache_destroy(c), MV_OK);
}

#if !defined(MEDVOL_NO_STDIO)
MV_TEST(analysis, load_cached_keys_file_state)
{
    mv_cache *c;
    mv_cache_stats st;
    mv_cache_ref *r1, *r2, *r3;
    const mv_vol *v1, *v3;
    mv_vol a, b;
    int64_t da[3] = {10, 11, 12}, db[3] = {10, 11, 13};
    const char *path = tu_path("analysis_cached.nii");
    EXPECT_EQ_INT(mv_cache_create(&c, NULL), MV_OK);
    EXPECT_EQ_INT(mv_vol_alloc(&a, MV_DT_F32, 3, da, NULL), MV_OK);
    EXPECT_EQ_INT(mv_vol_alloc(&b, MV_DT_F32, 3, db, NULL), MV_OK);
    ((float *)a.data)[5] = 3.0f;
    ((float *)b.data)[5] = 4.0f;
    EXPECT_EQ_INT(mv_save(path, &a, NULL), MV_OK);
    EXPECT_EQ_INT(mv_load_cached(c, path, NULL, &r1), MV_OK);
    EXPECT_EQ_INT(mv_load_cached(c, path, NULL, &r2), MV_OK);
    EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
    EXPECT_EQ_INT((int64_t)st.hits, 1);
    EXPECT_EQ_INT((int64_t)st.misses, 1);
    EXPECT_EQ_INT(mv_cache_ref_vol(r1, &v1), MV_OK);
    EXPECT(((const float *)v1->data)[5] == 3.0f && v1->dim[2] == 12);
    EXPECT_EQ_INT(mv_save(path, &b, NULL), MV_OK); /* another file under the same name */
    EXPECT_EQ_INT(mv_load_cached(c, path, NULL, &r3), MV_OK);
    EXPECT_EQ_INT(mv_cache_ref_vol(r3, &v3), MV_OK);
    EXPECT(((const float *)v3->data)[5] == 4.0f && v3->dim[2] == 13);
    EXPECT(((const float *)v1->data)[5] == 3.0f); /* the old reference is untouched */
    mv_cache_release(r2);
    EXPECT_EQ_INT(mv_load_cached(c, "/nonexistent/x.nii", NULL, &r2), MV_ERR_IO);
    EXPECT(r2 == NULL);
    mv_cache_release(r1);
    mv_cache_release(r3);
    EXPECT_EQ_INT(mv_cache_destroy(c), MV_OK);
    mv_free(&a);
    mv_free(&b);
}
#endif

/* threads putting, getting, reading and releasing at once: every read sees
   the bytes its key was put with, the limits hold at every look, nothing
   leaks or is freed under a reader (ASan / TSan builds check the rest) */
typedef struct stress_arg {
    mv_cache *c;
    int id, errors;
    uint64_t max_bytes;
    int64_t max_entries;
} stress_arg;

static void *stress_body(void *p)
{
    stress_arg *a = (stress_arg *)p;
    uint64_t s = 1000 + (uint64_t)a->id;
    unsigned char buf[4096], want[4096];
    mv_cache_ref *held[4] = {NULL, NULL, NULL, NULL};
    int step;
    for (step = 0; step < 3000; step++) {
        int k = (int)(tu_rand01(&s) * 40), slot = step & 3;
        size_t len = 64 + (size_t)k * 97; /* the length is a function of the key */
        char key[16];
        double u = tu_rand01(&s);
        snprintf(key, sizeof(key), "key%d", k);
        if (u < 0.4) {
            pattern(buf, len, (unsigned)k);
            if (mv_cache_put(a->c, key, buf, len) != MV_OK) a->errors++;
        } else if (u < 0.9) {
            mv_cache_release(held[slot]);
            held[slot] = NULL;
            if (mv_cache_get(a->c, key, &held[slot]) == MV_OK) {
                const void *d;
                size_t n;
                mv_cache_ref_bytes(held[slot], &d, &n);
                pattern(want, len, (unsigned)k);
                if (n != len || memcmp(d, want, len) != 0) a->errors++;
            }
        } else if (u < 0.95) {
            (void)mv_cache_remove(a->c, key);
        } else {
            mv_cache_stats st;
            mv_cache_get_stats(a->c, &st);
            if (st.bytes > a->max_bytes || (a->max_entries && st.entries > a->max_entries)) a->errors++;
        }
        /* a held reference still reads its bytes after others evicted it */
        if (held[(slot + 1) & 3]) {
            const void *d;
            size_t n;
            mv_cache_ref_bytes(held[(slot + 1) & 3], &d, &n);
            pattern(want, n, (unsigned)((n - 64) / 97));
            if (memcmp(d, want, n) != 0) a->errors++;
        }
    }
    for (step = 0; step < 4; step++) mv_cache_release(held[step]);
    return NULL;
}

MV_TEST(analysis, cache_threads_stress)
{
    int comp;
    if (strstr(mv_build_info(), "MEDVOL_NO_THREADS")) {
        mvt_skip("MEDVOL_NO_THREADS build: the cache is not thread-safe there");
        return;
    }
    for (comp = 0; comp < 2; comp++) {
        enum { NT = 4 };
        pthread_t t[NT];
        stress_arg a[NT];
        mv_cache *c;
        mv_cache_opts o = MV_ZERO_INIT;
        mv_cache_stats st;
        int i;
        o.max_bytes = 20000;
        o.max_entries = 12;
        o.compress = comp;
        EXPECT_EQ_INT(mv_cache_create(&c, &o), MV_OK);
        for (i = 0; i < NT; i++) {
            a[i].c = c;
            a[i].id = i;
            a[i].errors = 0;
            a[i].max_bytes = o.max_bytes;
            a[i].max_entries = o.max_entries;
            pthread_create(&t[i], NULL, stress_body, &a[i]);
        }
        for (i = 0; i < NT; i++) {
            pthread_join(t[i], NULL);
            EXPECT_MSG(a[i].errors == 0, "thread %d: %d errors", i, a[i].errors);
        }
        EXPECT_EQ_INT(mv_cache_get_stats(c, &st), MV_OK);
        EXPECT(st.bytes <= o.max_bytes && st.entries <= o.max_entries);
        EXPECT(st.evictions > 0 && st.hits > 0);
        EXPECT_EQ_INT(mv_cache_destroy(c), MV_OK);
    }
}

/* ---- multi-tau and two-time ---------------------------------------------------- */

/* one standard normal from the seeded generator (Box-Muller) */
static double gauss(uint64_t *s)
{
    double u1 = tu_rand01(s), u2 = tu_rand01(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Speckle with a known g2: each pixel's field is a complex AR(1) process
   E(t) = rho E(t-1) + sqrt(1 - rho^2) n(t), rho = exp(-Gamma), so
   I = |E|^2 has g2(tau) = 1 + exp(-2 Gamma tau) (beta = 1). Region 1
   has Gamma = 0.05 per frame, region 2 Gamma = 0.02. */
MV_TEST(analysis, mtau_recovers_gamma)
{
    enum { P = 600, T = 3000 };
    static const double gam[2] = {0.05, 0.02};
    int32_t lab[P];
    double er[P], ei[P], lags[200], g2[200];
    float frame[P];
    mv_mtau *mt;
    mv_mtau_opts o = MV_ZERO_INIT;
    uint64_t s = 2024;
    int p, t, nl, r;
    o.m = 16;
    o.levels = 10;
    for (p = 0; p < P; p++) {
        lab[p] = p % 3 == 2 ? 0 : 1 + p % 3; /* 200 pixels each, a third unused */
        er[p] = gauss(&s) / sqrt(2.0);
        ei[p] = gauss(&s) / sqrt(2.0);
    }
    EXPECT_EQ_INT(mv_mtau_create(&mt, lab, P, 2, &o), MV_OK);
    for (t = 0; t < T; t++) {
        for (p = 0; p < P; p++) {
            double rho = exp(-gam[p % 3 == 1]), q = sqrt((1 - rho * rho) / 2);
            er[p] = rho * er[p] + q * gauss(&s);
            ei[p] = rho * ei[p] + q * gauss(&s);
            frame[p] = (float)(er[p] * er[p] + ei[p] * ei[p]);
        }
        EXPECT_EQ_INT(mv_mtau_push(mt, frame, MV_DT_F32), MV_OK);
    }
    EXPECT_EQ_INT(mv_mtau_lags(mt, lags, &nl), MV_OK);
    EXPECT_EQ_INT(nl, 17 + 9 * 8);
    EXPECT(lags[16] == 16 && lags[17] == 18 && lags[25] == 36);
    for (r = 1; r <= 2; r++) {
        /* least squares of log(g2 - 1) = log beta - 2 Gamma tau over level 0 */
        double sx = 0, sy = 0, sxx = 0, sxy = 0, nn = 0, slope, G;
        int j;
        EXPECT_EQ_INT(mv_mtau_g2(mt, r, g2), MV_OK);
        for (j = 1; j <= 16; j++) {
            double y;
            if (!(g2[j] - 1 > 0.05)) continue;
            y = log(g2[j] - 1);
            sx += lags[j];
            sy += y;
            sxx += lags[j] * lags[j];
            sxy += lags[j] * y;
            nn++;
        }
        slope = (nn * sxy - sx * sy) / (nn * sxx - sx * sx);
        G = -slope / 2;
        EXPECT_MSG(fabs(G / gam[r - 1] - 1) < 0.02, "region %d: Gamma %.5f, true %.5f", r, G, gam[r - 1]);
        EXPECT_MSG(fabs(g2[0] - 2) < 0.05, "region %d: g2(0) = %.4f (1 + beta, beta = 1)", r, g2[0]);
        EXPECT(isnan(g2[nl - 1])); /* lag 16 * 2^9 > T: no product yet */
    }
    EXPECT_EQ_INT(mv_mtau_g2(mt, 3, g2), MV_ERR_INVALID_ARG);
    mv_mtau_destroy(mt);
}

MV_TEST(analysis, mtau_matches_multipletau)
{
    static const int cases[][2] = {{1000, 16}, {999, 8}, {4097, 4}};
    aref r;
    double *lg[3];
    double *sums[3][4];
    int nls[3], c, norm;
    if (!tu_python("numpy multipletau")) {
        mvt_skip("python3 with numpy and multipletau not found (pip install multipletau)");
        return;
    }
    if (!aref_begin(&r, "analysis_mtau")) return;
    for (c = 0; c < 3; c++) {
        int n = cases[c][0], i, k;
        double *tr = (double *)malloc((size_t)n * 8);
        int32_t lab = 1;
        mv_mtau *mt;
        mv_mtau_opts o = MV_ZERO_INIT;
        int64_t *cnt;
        uint64_t s = 40 + (uint64_t)c;
        o.m = cases[c][1];
        o.levels = 12;
        for (i = 0; i < n; i++) tr[i] = 5 + sin(i * 0.05) + tu_rand01(&s);
        EXPECT_EQ_INT(mv_mtau_create(&mt, &lab, 1, 1, &o), MV_OK);
        for (i = 0; i < n; i++) EXPECT_EQ_INT(mv_mtau_push(mt, tr + i, MV_DT_F64), MV_OK);
        mv_mtau_lags(mt, NULL, &nls[c]);
        lg[c] = (double *)malloc((size_t)nls[c] * 8);
        mv_mtau_lags(mt, lg[c], &nls[c]);
        for (k = 0; k < 4; k++) sums[c][k] = (double *)malloc((size_t)nls[c] * 8);
        cnt = (int64_t *)malloc((size_t)nls[c] * 8);
        EXPECT_EQ_INT(mv_mtau_sums(mt, 1, sums[c][0], sums[c][1], sums[c][2], cnt), MV_OK);
        for (i = 0; i < nls[c]; i++) sums[c][3][i] = (double)cnt[i];
        free(cnt);
        mv_mtau_destroy(mt);
        for (norm = 0; norm < 2; norm++) {
            int id = r.n++;
            aref_write(&r, id, "t", tr, (size_t)n * 8);
            fprintf(r.list, "mtau c%d %d %d %d\n", id, n, cases[c][1], norm);
        }
        free(tr);
    }
    EXPECT(aref_run(&r));
    for (c = 0; c < 3; c++) {
        int n = cases[c][0], m = cases[c][1];
        for (norm = 0; norm < 2; norm++) {
            char path[700];
            size_t len = 0;
            double *G, a = sums[c][1][0] / sums[c][3][0];
            int rows, i, checked = 0;
            snprintf(path, sizeof(path), "%s/c%d.out", r.dir, 2 * c + norm);
            G = (double *)tu_read_file(path, &len);
            EXPECT(G != NULL);
            rows = (int)(len / 16);
            for (i = 0; G && i < rows; i++) {
                /* multipletau's row i is our lag i (its levels are ours, cut where its data ends) */
                double cntv = sums[c][3][i], mine;
                int lvl = 0;
                double lag = lg[c][i];
                while (lvl < 30 && ldexp((double)m, lvl) < lag) lvl++;
                EXPECT_MSG(G[2 * i] == lag, "case %d row %d: lag %g vs multipletau %g", c, i, lag, G[2 * i]);
                if (!norm) {
                    double nl = floor((double)n / ldexp(1.0, lvl)); /* values of that level */
                    /* N_l of multipletau: halvings with the odd value dropped */
                    int64_t N = n, q;
                    for (q = 0; q < lvl; q++) N /= 2;
                    (void)nl;
                    mine = sums[c][0][i] * (double)n / (double)N;
                } else
                    mine = (sums[c][0][i] - a * (sums[c][1][i] + sums[c][2][i]) + cntv * a * a) / (cntv * a * a);
                EXPECT_MSG(close_rel(mine, G[2 * i + 1], 1e-10), "case %d (n %d, m %d, normalize %d) row %d lag %g: %.17g vs %.17g",
                           c, n, m, norm, i, lag, mine, G[2 * i + 1]);
                checked++;
            }
            EXPECT(checked > m + 8);
            free(G);
        }
        free(lg[c]);
        for (norm = 0; norm < 4; norm++) free(sums[c][norm]);
    }
}

MV_TEST(analysis, twotime_matches_numpy)
{
    enum { T = 70, NP = 53 };
    double *f = (double *)malloc(T * NP * 8), *C = (double *)malloc(T * T * 8), *C2 = (double *)malloc(T * T * 8);
    double *ref;
    int32_t lab[NP];
    float *f32 = (float *)malloc(T * NP * 4);
    uint64_t s = 8;
    aref r;
    int i;
    mv_corr_opts o = MV_ZERO_INIT;
    for (i = 0; i < NP; i++) lab[i] = i % 4;
    for (i = 0; i < T * NP; i++) {
        f[i] = (float)(tu_rand01(&s) * 3 + (i / NP) * 0.01);
        f32[i] = (float)f[i];
    }
    EXPECT_EQ_INT(mv_twotime(f, MV_DT_F64, T, NP, lab, 2, C, NULL), MV_OK);
    o.threads = 1;
    EXPECT_EQ_INT(mv_twotime(f32, MV_DT_F32, T, NP, lab, 2, C2, &o), MV_OK);
    EXPECT(memcmp(C, C2, T * T * 8) == 0); /* the same values in float32 */
    EXPECT_EQ_INT(mv_twotime(f, MV_DT_F64, T, NP, lab, 7, C, NULL), MV_ERR_INVALID_ARG);
    if (!aref_begin(&r, "analysis_twotime")) {
        mvt_skip("numpy (python3 with numpy) not found");
    } else {
        aref_write(&r, 0, "f", f, T * NP * 8);
        aref_write(&r, 0, "l", lab, sizeof(lab));
        fprintf(r.list, "twotime c0 %d %d 2\n", T, NP);
        r.n = 1;
        EXPECT(aref_run(&r));
        ref = (double *)aref_out(&r, 0, T * T * 8);
        for (i = 0; ref && i < T * T; i++)
            EXPECT_MSG(close_rel(C2[i], ref[i], 1e-12), "C[%d][%d]: %.17g vs numpy %.17g", i / T, i % T, C2[i], ref[i]);
        free(ref);
    }
    free(f);
    free(f32);
    free(C);
    free(C2);
}

/* Two-time correlation of speckle against scikit-beam's two_time_corr (the
   XPCS reference): frames of a field E(t) = rho E(t-1) + sqrt(1 - rho^2) n(t)
   per pixel, I = |E|^2 (g2 = 1 + exp(-2 Gamma |t1 - t2|)), three regions
   and unlabelled pixels; float64 (the float64 product) and photon-count-like
   integers (the exact float32 product), both to 1e-12. Skips without
   scikit-beam (pip install scikit-beam --no-deps; Debian python3-skimage). */
MV_TEST(analysis, twotime_matches_skbeam)
{
    enum { T = 48, NP = 150 };
    double *f = (double *)malloc(T * NP * 8), *C = (double *)malloc(T * T * 8), *ref;
    double re[NP], im[NP];
    const double rho = exp(-0.08);
    int32_t lab[NP];
    uint64_t s = 21;
    tu_batch r;
    int i, t, c;
    for (i = 0; i < NP; i++) {
        lab[i] = i % 7 == 0 ? 0 : 1 + i % 3;
        re[i] = tu_rand01(&s) - 0.5, im[i] = tu_rand01(&s) - 0.5;
    }
    for (t = 0; t < T; t++)
        for (i = 0; i < NP; i++) {
            re[i] = rho * re[i] + sqrt(1 - rho * rho) * (tu_rand01(&s) - 0.5);
            im[i] = rho * im[i] + sqrt(1 - rho * rho) * (tu_rand01(&s) - 0.5);
            f[t * NP + i] = re[i] * re[i] + im[i] * im[i];
        }
    if (!tu_python("numpy skbeam") || !tu_batch_open(&r, "analysis_skbeam")) {
        mvt_skip("python3 with scikit-beam not found (pip install scikit-beam --no-deps)");
        free(f);
        free(C);
        return;
    }
    for (c = 0; c < 2; c++) { /* 0: real intensities, 1: counts (integers) */
        if (c == 1)
            for (i = 0; i < T * NP; i++) f[i] = floor(f[i] * 40);
        tu_batch_write(&r, c, "f", f, T * NP * 8);
        tu_batch_write(&r, c, "l", lab, sizeof(lab));
        fprintf(r.list, "twotime_skbeam c%d %d %d %d\n", c, T, NP, 2 + c);
    }
    r.n = 2;
    EXPECT(tu_batch_run(&r, "ref_analysis.py"));
    for (c = 0; c < 2; c++) {
        for (i = 0; i < T * NP; i++) f[i] = 0; /* the frames again, as written */
        {
            double *fw = (double *)tu_batch_read(&r, c, "f", T * NP * 8);
            if (fw) memcpy(f, fw, T * NP * 8);
            free(fw);
        }
        EXPECT_EQ_INT(mv_twotime(f, MV_DT_F64, T, NP, lab, 2 + c, C, NULL), MV_OK);
        ref = (double *)tu_batch_read(&r, c, "out", T * T * 8);
        EXPECT_MSG(ref != NULL, "case %d: no scikit-beam output", c);
        for (i = 0; ref && i < T * T; i++)
            EXPECT_MSG(close_rel(C[i], ref[i], 1e-12), "case %d C[%d][%d]: %.17g vs scikit-beam %.17g", c, i / T, i % T,
                       C[i], ref[i]);
        free(ref);
    }
    free(f);
    free(C);
}

/* Two-time correlation of photon counts (small integers) takes the exact
   float32 product, of real values the float64 one, in blocks: both match
   numpy (1e-12) and give the reference's bytes on every ISA and thread
   count; the counts times 1024 (too large for the float32 product, the same
   C exactly: every step scales by a power of two) give the counts' bytes
   through the float64 product. Two shapes: 160 frames of a 600-pixel region
   (not a multiple of 16: the zero padding) split into row blocks over
   threads, and 40 frames of a 2123-pixel region, whose rows span several sample
   blocks (the sums carried from block to block). */
static void twotime_case(int T, int NP, int region)
{
    float *cnt = (float *)malloc((size_t)T * NP * 4), *real = (float *)malloc((size_t)T * NP * 4);
    double *big = (double *)malloc((size_t)T * NP * 8), *f64 = (double *)malloc((size_t)T * NP * 8);
    double *ref[2], *C = (double *)malloc((size_t)T * T * 8), *C2 = (double *)malloc((size_t)T * T * 8);
    int32_t *lab = (int32_t *)malloc((size_t)NP * sizeof(int32_t));
    unsigned avail = mv_isa_available();
    mv_isa isa0 = mv_isa_active();
    mv_corr_opts o = MV_ZERO_INIT;
    uint64_t s = 21;
    aref r;
    char name[64];
    int i, d, isa, th;
    REQUIRE(cnt && real && big && f64 && C && C2 && lab);
    for (i = 0; i < NP; i++) lab[i] = i % 13 ? region : region + 1;
    for (i = 0; i < T * NP; i++) {
        double u = tu_rand01(&s);
        cnt[i] = (float)(int)(u * u * 7); /* 0..6, mostly small */
        real[i] = (float)(tu_rand01(&s) * 3 + 0.5);
        big[i] = (double)cnt[i] * 1024;
    }
    o.threads = 1;
    REQUIRE(mv_set_isa(MV_ISA_REF) == MV_OK);
    for (d = 0; d < 2; d++) {
        ref[d] = (double *)malloc((size_t)T * T * 8);
        EXPECT_EQ_INT(mv_twotime(d ? real : cnt, MV_DT_F32, T, NP, lab, region, ref[d], &o), MV_OK);
    }
    for (isa = 0; isa < MV_ISA_COUNT; isa++) {
        if (!(avail & (1u << isa))) continue;
        REQUIRE(mv_set_isa((mv_isa)isa) == MV_OK);
        for (th = 1; th <= 3; th++) {
            o.threads = th;
            for (d = 0; d < 2; d++) {
                EXPECT_EQ_INT(mv_twotime(d ? real : cnt, MV_DT_F32, T, NP, lab, region, C, &o), MV_OK);
                EXPECT_MSG(memcmp(C, ref[d], (size_t)T * T * 8) == 0, "twotime %dx%d (%s) differs on %s, %d threads",
                           T, NP, d ? "real" : "counts", mv_isa_name((mv_isa)isa), th);
            }
            EXPECT_EQ_INT(mv_twotime(big, MV_DT_F64, T, NP, lab, region, C2, &o), MV_OK);
            EXPECT_MSG(memcmp(C2, ref[0], (size_t)T * T * 8) == 0,
                       "twotime %dx%d of counts x 1024 differs on %s, %d threads", T, NP, mv_isa_name((mv_isa)isa), th);
        }
    }
    mv_set_isa(isa0);
    snprintf(name, sizeof(name), "analysis_twotime_%d", T);
    if (!aref_begin(&r, name)) {
        mvt_skip("numpy (python3 with numpy) not found");
    } else {
        for (d = 0; d < 2; d++) {
            for (i = 0; i < T * NP; i++) f64[i] = d ? real[i] : cnt[i];
            aref_write(&r, d, "f", f64, (size_t)T * NP * 8);
            aref_write(&r, d, "l", lab, (size_t)NP * sizeof(int32_t));
            fprintf(r.list, "twotime c%d %d %d %d\n", d, T, NP, region);
            r.n++;
        }
        EXPECT(aref_run(&r));
        for (d = 0; d < 2; d++) {
            double *np_ = (double *)aref_out(&r, d, (size_t)T * T * 8);
            int bad = 0;
            for (i = 0; np_ && i < T * T; i++)
                if (!close_rel(ref[d][i], np_[i], 1e-12) && bad++ < 3)
                    MVT_FAIL("%s C[%d][%d]: %.17g vs numpy %.17g", d ? "real" : "counts", i / T, i % T, ref[d][i],
                             np_[i]);
            free(np_);
        }
    }
    for (d = 0; d < 2; d++) free(ref[d]);
    free(cnt);
    free(real);
    free(big);
    free(f64);
    free(C);
    free(C2);
    free(lab);
}

MV_TEST(analysis, twotime_paths_identical)
{
    twotime_case(160, 650, 1);
    twotime_case(40, 2300, 1); /* 2123 pixels: 2128 float32 (8512 bytes) or float64 samples a row */
}
