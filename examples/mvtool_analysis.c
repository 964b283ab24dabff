/* mvtool_analysis.c - the analysis family of mvtool: seed-based correlation
   maps and region-by-region correlation matrices of 4D series (medvol.h
   >>api-analysis). */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_corr_seed(const args *a)
{
    const char *vox = opt_str(a, "--voxel"), *maskp = opt_str(a, "--mask"), *brain = opt_str(a, "--brain-mask");
    mv_vol bold, mask, bm, map;
    mv_seed sd;
    mv_corr_opts o;
    mv_status st;
    int rc;
    memset(&sd, 0, sizeof(sd));
    memset(&o, 0, sizeof(o));
    mv_vol_init(&mask);
    mv_vol_init(&bm);
    if ((vox != NULL) == (maskp != NULL)) return usage_error(a, "give one of --voxel I,J,K and --mask FILE", NULL);
    if (vox) {
        if (parse_ints(vox, sd.voxel, 3, 0, MVT_BIG) != 3) return usage_error(a, "--voxel wants I,J,K", vox);
        sd.kind = MV_SEED_VOXEL;
    }
    if (load_or_fail(a->pos[0], &bold, NULL)) return 1;
    if (maskp) {
        if (load_or_fail(maskp, &mask, NULL)) {
            mv_free(&bold);
            return 1;
        }
        sd.kind = MV_SEED_MASK;
        sd.mask = &mask;
    }
    if (brain) {
        if (load_or_fail(brain, &bm, NULL)) {
            mv_free(&bold);
            mv_free(&mask);
            return 1;
        }
        o.voxel_mask = &bm;
    }
    o.fisher_z = opt_flag(a, "--fisher");
    st = mv_corr_seed(&bold, &sd, &map, &o);
    mv_free(&mask);
    mv_free(&bm);
    mv_free(&bold);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    rc = save_and_free(a->pos[1], &map, NULL);
    return rc;
}

/* Region-mean time series of an atlas, then all pairs of regions. */
static int cmd_corr_matrix(const args *a)
{
    const char *atlas_path = opt_str(a, "--atlas");
    mv_vol raw, bold, atlas, lab;
    mv_load_opts lo;
    mv_convert_opts co;
    mv_corr_opts o;
    mv_status st;
    int64_t nvox, T, v, t, maxl = 0, nr = 0, i, j;
    int64_t *rowof = NULL, *cnt = NULL, *labels = NULL;
    double *series = NULL, *R = NULL;
    const double *d;
    FILE *f;
    int rc = 1;
    if (!atlas_path) return usage_error(a, "--atlas LABELS is required", NULL);
    memset(&lo, 0, sizeof(lo));
    if (load_or_fail(a->pos[0], &raw, &lo)) return 1;
    memset(&co, 0, sizeof(co));
    co.scaled = 1; /* float64 of the scaled values, as nibabel's get_fdata */
    st = mv_convert(&raw, &bold, MV_DT_F64, &co);
    mv_free(&raw);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    if (load_or_fail(atlas_path, &atlas, NULL)) {
        mv_free(&bold);
        return 1;
    }
    if (bold.ndim < 4 || bold.dim[3] < 2) {
        fprintf(stderr, "mvtool corr-matrix: %s: not a 4D series (%d dims)\n", a->pos[0], bold.ndim);
        goto done0;
    }
    nvox = bold.dim[0] * bold.dim[1] * bold.dim[2];
    T = bold.dim[3];
    if (mv_vol_count(&atlas) != nvox || atlas.dim[0] != bold.dim[0] || atlas.dim[1] != bold.dim[1]) {
        fprintf(stderr, "mvtool corr-matrix: %s: the atlas grid is not the series' (%lld voxels, %lld needed)\n",
                atlas_path, (long long)mv_vol_count(&atlas), (long long)nvox);
        goto done0;
    }
    st = mv_convert(&atlas, &lab, MV_DT_I32, NULL);
    if (st != MV_OK) {
        rc = fail_at(st, atlas_path);
        goto done0;
    }
    for (v = 0; v < nvox; v++) {
        int32_t l = ((const int32_t *)lab.data)[v];
        if (l > maxl) maxl = l;
    }
    if (maxl < 1 || maxl > 1000000) {
        fprintf(stderr, "mvtool corr-matrix: %s: labels must be 1..1000000 (largest %lld)\n", atlas_path,
                (long long)maxl);
        goto done1;
    }
    rowof = (int64_t *)calloc((size_t)maxl + 1, sizeof(int64_t));
    cnt = (int64_t *)calloc((size_t)maxl + 1, sizeof(int64_t));
    labels = (int64_t *)calloc((size_t)maxl + 1, sizeof(int64_t));
    if (!rowof || !cnt || !labels) goto oom;
    for (v = 0; v < nvox; v++) {
        int32_t l = ((const int32_t *)lab.data)[v];
        if (l > 0) cnt[l]++;
    }
    for (i = 1; i <= maxl; i++) /* regions in ascending label order */
        if (cnt[i]) {
            rowof[i] = nr;
            labels[nr++] = i;
        }
    series = (double *)calloc((size_t)(nr * T), sizeof(double));
    R = (double *)malloc((size_t)(nr * nr) * sizeof(double));
    if (!series || !R) goto oom;
    d = (const double *)bold.data;
    for (t = 0; t < T; t++)
        for (v = 0; v < nvox; v++) {
            int32_t l = ((const int32_t *)lab.data)[v];
            if (l > 0) series[rowof[l] * T + t] += d[t * nvox + v];
        }
    for (i = 0; i < nr; i++)
        for (t = 0; t < T; t++) series[i * T + t] /= (double)cnt[labels[i]];
    memset(&o, 0, sizeof(o));
    o.fisher_z = opt_flag(a, "--fisher");
    st = mv_corr_matrix(series, MV_DT_F64, nr, T, T, R, &o);
    if (st != MV_OK) {
        rc = fail_at(st, a->pos[0]);
        goto done1;
    }
    f = fopen(a->pos[1], "w");
    if (!f) {
        perror(a->pos[1]);
        goto done1;
    }
    fprintf(f, "label");
    for (j = 0; j < nr; j++) fprintf(f, ",%lld", (long long)labels[j]);
    fprintf(f, "\n");
    for (i = 0; i < nr; i++) {
        fprintf(f, "%lld", (long long)labels[i]);
        for (j = 0; j < nr; j++) fprintf(f, ",%.17g", R[i * nr + j]);
        fprintf(f, "\n");
    }
    rc = fclose(f) == 0 ? 0 : 1;
    if (rc) perror(a->pos[1]);
    goto done1;
oom:
    fprintf(stderr, "mvtool corr-matrix: out of memory\n");
done1:
    mv_free(&lab);
done0:
    free(rowof);
    free(cnt);
    free(labels);
    free(series);
    free(R);
    mv_free(&atlas);
    mv_free(&bold);
    return rc;
}

const command mvtool_analysis_commands[] = {
    {"corr-seed", "seed-based correlation map of a 4D series (NIfTI, float32)",
     "mvtool corr-seed BOLD OUT (--voxel I,J,K | --mask SEED) [--brain-mask M] [--fisher]\n"
     "  Pearson r of every voxel's time series against the seed: voxel (I, J, K)\n"
     "  (0-based) or the mean series of SEED's nonzero voxels. Constant voxels and\n"
     "  voxels outside --brain-mask get 0 (nilearn's convention); --fisher writes\n"
     "  atanh(r). OUT has the series' 3D geometry.\n",
     "--voxel= --mask= --brain-mask= --fisher", 2, 2, cmd_corr_seed},
    {"corr-matrix", "region-by-region correlation of an atlas's mean time series (CSV)",
     "mvtool corr-matrix BOLD OUT.csv --atlas LABELS [--fisher]\n"
     "  The mean series (scaled values) of each label > 0 of LABELS (the series'\n"
     "  grid), then numpy.corrcoef of those series; a header row and column of\n"
     "  labels in ascending order, values %.17g. --fisher writes atanh(r).\n",
     "--atlas= --fisher", 2, 2, cmd_corr_matrix},
};
const int mvtool_analysis_ncommands = (int)(sizeof(mvtool_analysis_commands) / sizeof(mvtool_analysis_commands[0]));
