/* mvtool_register.c - the registration family of mvtool: register (linear,
   multi-resolution) and warp (apply a matrix or an ITK .tfm). */
#include "mvtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *stop_name(mv_stop_reason s)
{
    switch (s) {
    case MV_STOP_MAX_ITERATIONS: return "max iterations";
    case MV_STOP_METRIC_CONVERGED: return "metric converged";
    case MV_STOP_STEP_TOO_SMALL: return "step below minimum";
    case MV_STOP_PARAM_CONVERGED: return "parameters converged";
    case MV_STOP_GRADIENT_SMALL: return "gradient vanished";
    case MV_STOP_LINE_SEARCH: return "line search found no decrease";
    default: return "-";
    }
}

static int progress_line(void *user, const mv_register_progress *p)
{
    (void)user;
    if (p->level_done)
        fprintf(stderr, "level %d/%d: %d iterations, metric %.6g, %lld samples, %s, %.2f s\n", p->level + 1, p->nlevels,
                p->iteration, p->metric, (long long)p->nsamples, stop_name(p->stop), p->elapsed);
    return 0;
}

/* "200x100x50" into up to n whole numbers >= 1 */
static int parse_x_list(const char *s, int *out, int n)
{
    int k = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1000000 || k >= n) return -1;
        out[k++] = (int)v;
        s = end;
        if (*s == 'x') {
            s++;
            if (!*s) return -1;
        } else if (*s) {
            return -1;
        }
    }
    return k;
}

static int cmd_register(const args *a)
{
    mv_register_opts o;
    mv_register_result r;
    mv_vol fx, mo, mask;
    double init[4][4];
    const char *tr = opt_str(a, "--transform"), *metric = opt_str(a, "--metric"), *its = opt_str(a, "--iterations");
    const char *fmask = opt_str(a, "--fixed-mask"), *initm = opt_str(a, "--init-matrix"), *out = opt_str(a, "--out");
    const char *omat = opt_str(a, "--out-matrix"), *otfm = opt_str(a, "--out-tfm"), *thr = opt_str(a, "--threads");
    const char *seed = opt_str(a, "--seed");
    mv_status st;
    int rc = 0, ndim;
    memset(&o, 0, sizeof(o));
    if (!tr || !strcmp(tr, "rigid")) o.transform = MV_TRANSFORM_RIGID;
    else if (!strcmp(tr, "affine")) o.transform = MV_TRANSFORM_AFFINE;
    else if (!strcmp(tr, "translation")) o.transform = MV_TRANSFORM_TRANSLATION;
    else if (!strcmp(tr, "similarity")) o.transform = MV_TRANSFORM_SIMILARITY;
    else return usage_error(a, "--transform wants rigid, affine, translation or similarity", tr);
    if (!metric || !strcmp(metric, "mi")) o.metric.metric = MV_METRIC_MI;
    else if (!strcmp(metric, "mse")) o.metric.metric = MV_METRIC_MSE;
    else if (!strcmp(metric, "ncc")) o.metric.metric = MV_METRIC_NCC;
    else if (!strcmp(metric, "lncc")) o.metric.metric = MV_METRIC_LNCC;
    else return usage_error(a, "--metric wants mi, ncc, mse or lncc", metric);
    o.levels = opt_str(a, "--levels");
    o.smooth = opt_str(a, "--smooth");
    if (its && parse_x_list(its, o.iterations, MV_REGISTER_MAX_LEVELS) < 1)
        return usage_error(a, "--iterations wants counts like 200x100x50", its);
    if (thr) {
        int64_t n;
        if (parse_ints(thr, &n, 1, 0, 256) != 1) return usage_error(a, "--threads takes 0 (all cores) .. 256", thr);
        o.metric.threads = (int)n;
    }
    if (seed) {
        int64_t n;
        if (parse_ints(seed, &n, 1, 0, MVT_BIG) != 1) return usage_error(a, "--seed wants a whole number", seed);
        o.metric.seed = (uint64_t)n;
    }
    if (initm) {
        st = mv_matrix_read(initm, init);
        if (st != MV_OK) return fail_at(st, initm);
        o.init_matrix = (const double(*)[4])init;
    }
    if (!opt_flag(a, "--quiet")) o.progress = progress_line;
    if (load_or_fail(a->pos[0], &fx, NULL)) return 1;
    if (load_or_fail(a->pos[1], &mo, NULL)) {
        mv_free(&fx);
        return 1;
    }
    mv_vol_init(&mask);
    if (fmask) {
        if (load_or_fail(fmask, &mask, NULL)) {
            mv_free(&fx);
            mv_free(&mo);
            return 1;
        }
        o.metric.fixed_mask = &mask;
    }
    st = mv_register_linear(&fx, &mo, &o, &r);
    if (st != MV_OK) {
        rc = fail_at(st, a->pos[1]);
        goto done;
    }
    ndim = r.transform.ndim;
    if (!opt_flag(a, "--quiet")) {
        int i;
        fprintf(stderr, "fixed -> moving (RAS mm), %.2f s:\n", r.elapsed);
        for (i = 0; i < 4; i++)
            fprintf(stderr, "  %12.8f %12.8f %12.8f %12.6f\n", r.matrix[i][0], r.matrix[i][1], r.matrix[i][2], r.matrix[i][3]);
    }
    if (omat && (st = mv_matrix_write(omat, (const double(*)[4])r.matrix)) != MV_OK) {
        rc = fail_at(st, omat);
        goto done;
    }
    if (otfm && (st = mv_itk_tfm_write(otfm, (const double(*)[4])r.matrix, ndim)) != MV_OK) {
        rc = fail_at(st, otfm);
        goto done;
    }
    if (!omat && !otfm && !out) { /* nothing asked: the matrix on stdout */
        char buf[512];
        if (mv_matrix_format((const double(*)[4])r.matrix, buf, sizeof(buf)) == MV_OK) fputs(buf, stdout);
    }
    if (out) {
        mv_vol w;
        mv_resample_opts ro;
        memset(&ro, 0, sizeof(ro));
        ro.fill_outside = 1;
        st = mv_warp_affine(&mo, &fx, (const double(*)[4])r.matrix, &w, &ro);
        if (st != MV_OK) {
            rc = fail_at(st, a->pos[1]);
            goto done;
        }
        rc = save_and_free(out, &w, NULL);
    }
done:
    mv_free(&fx);
    mv_free(&mo);
    mv_free(&mask);
    return rc;
}

static int cmd_warp(const args *a)
{
    const char *mat = opt_str(a, "--matrix"), *tfm = opt_str(a, "--tfm"), *interp = opt_str(a, "--interp");
    double m[4][4];
    mv_resample_opts ro;
    mv_vol mo, ref, w;
    mv_load_opts ho;
    mv_status st;
    memset(&ro, 0, sizeof(ro));
    ro.fill_outside = 1;
    if (!mat == !tfm) return usage_error(a, "give exactly one of --matrix M.txt and --tfm T.tfm", NULL);
    if (interp && !parse_interp(interp, &ro.interp)) return usage_error(a, "--interp wants nearest, linear or cubic", interp);
    st = mat ? mv_matrix_read(mat, m) : mv_itk_tfm_read(tfm, m);
    if (st != MV_OK) return fail_at(st, mat ? mat : tfm);
    if (load_or_fail(a->pos[0], &mo, NULL)) return 1;
    memset(&ho, 0, sizeof(ho));
    ho.header_only = 1; /* the reference's grid is all warp needs */
    if (load_or_fail(a->pos[1], &ref, &ho)) {
        mv_free(&mo);
        return 1;
    }
    st = mv_warp_affine(&mo, &ref, (const double(*)[4])m, &w, &ro);
    mv_free(&mo);
    mv_free(&ref);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[2], &w, NULL);
}

const command mvtool_register_commands[] = {
    {"register", "linear registration (rigid/affine, MI/NCC/MSE, multi-resolution)",
     "mvtool register FIXED MOVING [--transform rigid|affine|translation|similarity] [--metric mi|ncc|mse]\n"
     "                [--levels 4x2x1] [--smooth 2x1x0vox] [--iterations 200x100x50] [--fixed-mask M]\n"
     "                [--init-matrix M.txt] [--out WARPED] [--out-matrix M.txt] [--out-tfm T.tfm]\n"
     "                [--threads N] [--seed S] [--quiet]\n"
     "  Finds T (fixed world -> moving world, RAS mm) so that moving(T(x)) matches fixed(x).\n"
     "  Defaults: rigid, Mattes MI (32 bins, 2^18 random samples per level: mono- and\n"
     "  multi-modal), levels 4x2x1 smoothed 2x1x0 voxels, centres of mass aligned first,\n"
     "  L-BFGS in scaled parameters (iterations per level default 200x100x50).\n"
     "  One line per level on stderr (--quiet: none). --out-matrix: 4x4 text; --out-tfm:\n"
     "  ITK AffineTransform (LPS) for SimpleITK/ANTs; --out: moving resampled on the fixed\n"
     "  grid (linear, 0 outside). With no output option the matrix goes to stdout.\n",
     "--transform= --metric= --levels= --smooth= --iterations= --fixed-mask= --init-matrix= --out= --out-matrix= "
     "--out-tfm= --threads= --seed= --quiet",
     2, 2, cmd_register},
    {"warp", "apply a fixed->moving matrix or ITK .tfm: moving onto a reference grid",
     "mvtool warp MOVING REFERENCE OUT --matrix M.txt | --tfm T.tfm [--interp nearest|linear|cubic]\n"
     "  OUT(x) = MOVING(T(x)) on REFERENCE's grid (its header only is read); T maps\n"
     "  reference (fixed) world points to moving world points, as register writes it.\n"
     "  Default linear; 0 outside MOVING.\n",
     "--matrix= --tfm= --interp=", 3, 3, cmd_warp},
};
const int mvtool_register_ncommands = (int)(sizeof(mvtool_register_commands) / sizeof(mvtool_register_commands[0]));
