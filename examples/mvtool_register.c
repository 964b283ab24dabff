/* mvtool_register.c - the registration family of mvtool: register (linear,
   multi-resolution; --transform bspline: B-spline FFD; --transform demons|syn:
   deformable, a displacement field), warp (apply a matrix, an ITK .tfm or an
   elastix TransformParameters file), elastix-field and elastix-write. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "mvtool.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* register --transform bspline: B-spline FFD (mv_register_bspline); the
   field file holds the whole transform (an --init-matrix is folded in) */
/* fixed (pos[0]), moving (pos[1]) and, when named, the fixed mask: all
   loaded, or none (what was loaded freed, the failure printed, 1 returned) */
static int load_registration_inputs(const args *a, const char *fmask, mv_vol *fx, mv_vol *mo, mv_vol *mask)
{
    mv_vol_init(mask);
    if (load_or_fail(a->pos[0], fx, NULL)) return 1;
    if (load_or_fail(a->pos[1], mo, NULL)) {
        mv_free(fx);
        return 1;
    }
    if (fmask && load_or_fail(fmask, mask, NULL)) {
        mv_free(fx);
        mv_free(mo);
        return 1;
    }
    return 0;
}

/* The large-image mode of register_bspline: --levels ending above 1 (say
   32x16x8) registers copies of both images shrunk by the finest factor
   (mv_pyramid_level, smoothed 0.5 x factor voxels) with the levels
   divided by it (4x2x1; --smooth sigmas in voxels divided too), so no
   step touches the full resolution but the final warp, which
   mv_bspline_warp_into streams a row at a time. The field file is
   written on the shrunk grid (a true ITK field: its own affine), the
   elastix file with the fixed image's grid (grid_on_fixed). */
typedef struct large_mode {
    int on;
    double factor;           /* finest shrink of --levels */
    char levels[256], smooth[256];
} large_mode;

static int large_mode_of(const args *a, const char *levels, const char *smooth, large_mode *lm)
{
    mv_pyramid_schedule s;
    mv_status st;
    int l, n = 0;
    memset(lm, 0, sizeof(*lm));
    if (!levels) return 0;
    if ((st = mv_pyramid_schedule_parse(levels, smooth, &s)) != MV_OK) return usage_error(a, mv_last_error(), levels);
    lm->factor = s.shrink[s.nlevels - 1][0];
    if (!(lm->factor > 1)) return 0;
    lm->on = 1;
    for (l = 0; l < s.nlevels; l++)
        n += snprintf(lm->levels + n, sizeof(lm->levels) - (size_t)n, "%s%g", l ? "x" : "", s.shrink[l][0] / lm->factor);
    if (smooth) {
        n = 0;
        for (l = 0; l < s.nlevels; l++)
            n += snprintf(lm->smooth + n, sizeof(lm->smooth) - (size_t)n, "%s%g", l ? "x" : "",
                          s.sigma_in_mm ? s.sigma[l][0] : s.sigma[l][0] / lm->factor);
        snprintf(lm->smooth + n, sizeof(lm->smooth) - (size_t)n, "%s", s.sigma_in_mm ? "mm" : "vox");
    }
    return 0;
}

/* in shrunk by the finest factor of lm (a float32 pyramid level) */
static mv_status large_shrink(const mv_vol *in, const large_mode *lm, int threads, mv_vol *out)
{
    mv_pyramid_schedule s;
    mv_filter_opts fo;
    char f[64];
    mv_status st;
    snprintf(f, sizeof(f), "%g", lm->factor);
    if ((st = mv_pyramid_schedule_parse(f, NULL, &s)) != MV_OK) return st;
    memset(&fo, 0, sizeof(fo));
    fo.threads = threads;
    return mv_pyramid_level(in, &s, 0, out, &fo);
}

/* grid, found on the shrunk copy of fixed, with fixed's own grid: the same
   control points in space (shrunk voxel u is fixed voxel T u, T diagonal:
   mv_pyramid_level keeps the axes), so an elastix file written from it has
   the fixed image's Size, Spacing and Origin and transformix resamples onto
   the full grid as elastix's own result would. Shares grid's coefficients.
   0, or 1 with the reason on stderr. */
static int grid_on_fixed(const mv_bspline_grid *grid, const mv_vol *fixed, const char *fixed_path, mv_bspline_grid *out)
{
    double inv[4][4], T[4][4];
    int r, c, k;
    mv_status st = mv_affine_invert((const double(*)[4])fixed->affine, inv);
    if (st != MV_OK) return fail_at(st, fixed_path);
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) {
            T[r][c] = 0;
            for (k = 0; k < 4; k++) T[r][c] += inv[r][k] * grid->affine[k][c];
        }
    *out = *grid;
    for (r = 0; r < 3; r++) {
        out->fdim[r] = r < fixed->ndim ? fixed->dim[r] : 1;
        for (c = 0; c < 3; c++)
            if (r != c && fabs(T[r][c]) > 1e-6 * fabs(T[c][c])) {
                fprintf(stderr, "register: %s: the shrunk grid's axes are not the fixed image's (%g at %d,%d)\n", fixed_path,
                        T[r][c], r, c);
                return 1;
            }
        if (r < grid->ndim) {
            out->spacing[r] = grid->spacing[r] * T[r][r];
            out->origin[r] = grid->origin[r] * T[r][r] + T[r][3];
        }
    }
    memcpy(out->affine, fixed->affine, sizeof(out->affine));
    return 0;
}

static double mono_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int register_bspline(const args *a)
{
    mv_bspline_opts o;
    mv_bspline_result r;
    mv_vol fx, mo, mask, fld;
    mv_field_opts fo;
    const char *metric = opt_str(a, "--metric"), *its = opt_str(a, "--iterations"), *gs = opt_str(a, "--grid-spacing");
    const char *reg = opt_str(a, "--regularization"), *fmask = opt_str(a, "--fixed-mask");
    const char *initm = opt_str(a, "--init-matrix"), *out = opt_str(a, "--out"), *ofield = opt_str(a, "--out-field");
    const char *thr = opt_str(a, "--threads"), *seed = opt_str(a, "--seed"), *dname = opt_str(a, "--dtype");
    const char *oelx = opt_str(a, "--out-elastix"), *otfm = opt_str(a, "--out-tfm");
    mv_status st;
    mv_bspline_grid grid;
    large_mode lm;
    mv_dtype odt = MV_DT_F32;
    int rc = 0, k, quiet = opt_flag(a, "--quiet");
    double t0 = mono_seconds();
    memset(&o, 0, sizeof(o));
    memset(&fo, 0, sizeof(fo));
    memset(&grid, 0, sizeof(grid));
    if (!metric || !strcmp(metric, "mi")) o.metric.metric = MV_METRIC_MI;
    else if (!strcmp(metric, "mse")) o.metric.metric = MV_METRIC_MSE;
    else if (!strcmp(metric, "ncc")) o.metric.metric = MV_METRIC_NCC;
    else return usage_error(a, "--metric wants mi, ncc or mse with --transform bspline", metric);
    o.levels = opt_str(a, "--levels");
    o.smooth = opt_str(a, "--smooth");
    if ((rc = large_mode_of(a, o.levels, o.smooth, &lm)) != 0) return rc;
    if (dname && (rc = parse_dtype(a, dname, &odt)) != 0) return rc;
    if (its && parse_x_list(its, o.iterations, MV_BSPLINE_MAX_LEVELS) < 1)
        return usage_error(a, "--iterations wants counts like 100x100x50", its);
    if (gs && (k = parse_list(gs, o.grid_spacing, 3)) != 1 && k != 3)
        return usage_error(a, "--grid-spacing wants MM or MMx,MMy,MMz", gs);
    if (gs && !(o.grid_spacing[0] > 0)) return usage_error(a, "--grid-spacing must be > 0", gs);
    o.regularization = 1; /* NCC and MI are O(1): weight 1 keeps the 8 mm grid smooth on brain MRI */
    if (reg && (parse_list(reg, &o.regularization, 1) != 1 || o.regularization < 0))
        return usage_error(a, "--regularization wants a weight >= 0", reg);
    if (thr) {
        int64_t n;
        if (parse_ints(thr, &n, 1, 0, 256) != 1) return usage_error(a, "--threads takes 0 (all cores) .. 256", thr);
        o.metric.threads = (int)n;
        fo.threads = (int)n;
    }
    if (seed) {
        int64_t n;
        if (parse_ints(seed, &n, 1, 0, MVT_BIG) != 1) return usage_error(a, "--seed wants a whole number", seed);
        o.metric.seed = (uint64_t)n;
    }
    if (initm && (st = mv_matrix_read(initm, o.init_matrix)) != MV_OK) return fail_at(st, initm);
    if (!opt_flag(a, "--quiet")) o.progress = progress_line;
    if (load_registration_inputs(a, fmask, &fx, &mo, &mask)) return 1;
    mv_vol_init(&fld);
    if (fmask) o.metric.fixed_mask = &mask;
    if (lm.on) {
        /* register shrunk copies; keep the grid for the full-resolution warp */
        mv_vol fs, ms;
        mv_vol_init(&fs);
        mv_vol_init(&ms);
        if (fmask) {
            rc = usage_error(a, "--fixed-mask is not supported when --levels ends above 1", fmask);
            goto done;
        }
        if ((st = large_shrink(&fx, &lm, fo.threads, &fs)) != MV_OK || (st = large_shrink(&mo, &lm, fo.threads, &ms)) != MV_OK) {
            mv_free(&fs);
            rc = fail_at(st, a->pos[0]);
            goto done;
        }
        if (!quiet)
        {
            char dims[96];
            if (fs.ndim > 2 && fs.dim[2] > 1)
                snprintf(dims, sizeof(dims), "%lldx%lldx%lld", (long long)fs.dim[0], (long long)fs.dim[1], (long long)fs.dim[2]);
            else
                snprintf(dims, sizeof(dims), "%lldx%lld", (long long)fs.dim[0], (long long)fs.dim[1]);
            fprintf(stderr, "bspline: registering copies shrunk %gx (%s), levels %s; %.2f s\n", lm.factor, dims, lm.levels,
                    mono_seconds() - t0);
        }
        o.levels = lm.levels;
        o.smooth = o.smooth ? lm.smooth : NULL;
        o.grid_out = &grid;
        st = mv_register_bspline(&fs, &ms, &fld, &o, &r);
        mv_free(&fs);
        mv_free(&ms);
    } else {
        if (oelx || otfm) o.grid_out = &grid;
        st = mv_register_bspline(&fx, &mo, &fld, &o, &r);
    }
    if (st != MV_OK) {
        rc = fail_at(st, a->pos[1]);
        goto done;
    }
    if (!opt_flag(a, "--quiet"))
        fprintf(stderr, "bspline: %lld coefficients, cost %.6g (metric %.6g, bending energy %.4g mm^-2), %.2f s\n",
                (long long)r.ncoef[r.nlevels - 1], r.cost, r.metric, r.bending_energy, r.elapsed);
    if (out && lm.on) {
        /* the full-resolution warp, streamed through the grid (the init
           matrix applied after it, as in the field file) */
        mv_vol w;
        double t1 = mono_seconds();
        fo.fill_outside = 1;
        fo.rounding = MV_ROUND_NEAREST;
        mv_vol_init(&w);
        if ((st = mv_vol_alloc(&w, odt, fx.ndim < 3 ? fx.ndim : 3, fx.dim, NULL)) != MV_OK) {
            rc = fail_at(st, out);
            goto done;
        }
        memcpy(w.affine, fx.affine, sizeof(w.affine));
        memcpy(w.spacing, fx.spacing, sizeof(w.spacing));
        w.meta.xyzt_units = fx.meta.xyzt_units;
        w.meta.qform_code = fx.meta.qform_code;
        w.meta.sform_code = fx.meta.sform_code;
        st = mv_bspline_warp_into(&grid, &mo, initm ? (const double(*)[4])o.init_matrix : NULL, &w, &fo);
        if (st != MV_OK) {
            mv_free(&w);
            rc = fail_at(st, a->pos[1]);
            goto done;
        }
        if (!quiet) fprintf(stderr, "bspline: full-resolution warp %.2f s\n", mono_seconds() - t1);
        rc = save_and_free(out, &w, NULL);
    }
    if (initm && (st = mv_field_add_affine_into(&fld, (const double(*)[4])o.init_matrix, &fld, &fo)) != MV_OK) {
        rc = fail_at(st, a->pos[1]);
        goto done;
    }
    if (out && !lm.on) {
        mv_vol w;
        fo.fill_outside = 1;
        fo.dtype = odt;
        fo.rounding = MV_ROUND_NEAREST;
        st = mv_field_warp(&mo, &fld, NULL, &w, &fo);
        if (st != MV_OK) {
            rc = fail_at(st, a->pos[1]);
            goto done;
        }
        rc = save_and_free(out, &w, NULL);
    }
    if (ofield && rc == 0) rc = save_field_file(ofield, &fld, NULL); /* (the init matrix folded in) */
    /* elastix and ITK files: the grid on the fixed image's own grid
       (registered on a shrunk copy in the large mode), then the init matrix */
    if ((oelx || otfm) && rc == 0) {
        mv_bspline_grid full = grid;
        const double(*im)[4] = initm ? (const double(*)[4])o.init_matrix : NULL;
        if (lm.on && grid_on_fixed(&grid, &fx, a->pos[0], &full))
            rc = 1;
        else if (oelx && (st = mv_elastix_write_bspline(oelx, &full, im, MV_INTERP_LINEAR)) != MV_OK)
            rc = fail_at(st, oelx);
        else if (otfm && (st = mv_itk_write_bspline(otfm, &full, im, MVTOOL_H5_LEVEL)) != MV_OK)
            rc = fail_at(st, otfm);
    }
    if (!out && !ofield && !oelx && !otfm)
        fprintf(stderr, "register: nothing written (give --out, --out-field, --out-elastix and/or --out-tfm)\n");
done:
    if (!quiet && rc == 0) fprintf(stderr, "bspline: done, %.2f s\n", mono_seconds() - t0);
    mv_free(&fx);
    mv_free(&mo);
    mv_free(&mask);
    mv_free(&fld);
    mv_bspline_grid_free(&grid);
    return rc;
}

/* ---- deformable: --transform demons | syn ---- */

typedef struct defo_progress {
    const char *name;
    int level, nlevels, iterations;
    double first, last;
    struct timespec t0;
} defo_progress;

static double defo_seconds(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void defo_level_line(const defo_progress *p, const char *how)
{
    fprintf(stderr, "%s level %d/%d: %d iterations, metric %.6g -> %.6g%s%s, %.2f s\n", p->name, p->level + 1, p->nlevels,
            p->iterations, p->first, p->last, how ? ", " : "", how ? how : "", defo_seconds(&p->t0));
}

/* one line per finished level on stderr */
static int defo_progress_cb(void *user, int level, int iteration, double metric)
{
    defo_progress *p = (defo_progress *)user;
    if (level != p->level) {
        if (p->level >= 0) defo_level_line(p, NULL);
        p->level = level;
        p->first = metric;
    }
    p->iterations = iteration + 1;
    p->last = metric;
    return 0;
}

/* "--levels N" (a count) or a halving schedule "4x2x1"; 0 if neither */
static int defo_levels(const char *s, int *levels)
{
    int f[MV_SYN_MAX_LEVELS], n, k;
    if (!s) return 1;
    n = parse_x_list(s, f, MV_SYN_MAX_LEVELS);
    if (n == 1 && f[0] >= 1 && f[0] <= MV_SYN_MAX_LEVELS && !strchr(s, 'x')) {
        *levels = f[0];
        return 1;
    }
    if (n < 1) return 0;
    for (k = 0; k < n; k++)
        if (f[k] != 1 << (n - 1 - k)) return 0;
    *levels = n;
    return 1;
}

static int cmd_register_deformable(const args *a, int syn)
{
    const char *metric = opt_str(a, "--metric"), *its = opt_str(a, "--iterations"), *lv = opt_str(a, "--levels");
    const char *sm = opt_str(a, "--smooth"), *initm = opt_str(a, "--init-matrix"), *out = opt_str(a, "--out");
    const char *ofield = opt_str(a, "--out-field"), *thr = opt_str(a, "--threads"), *rad = opt_str(a, "--radius");
    const char *stp = opt_str(a, "--step");
    mv_syn_opts so;
    mv_demons_opts dmo;
    mv_syn_result sr;
    mv_demons_result dr;
    defo_progress pg;
    int levels = 3, iters[MV_SYN_MAX_LEVELS], nit = 0, k, rc = 0, use_mse = 0, radius = 0, threads = 0, has_init = 0;
    double smooth[2] = {0, 0}, init[4][4], step = 0;
    int nsmooth = 0;
    mv_vol fx, mo, d;
    mv_status st;
    memset(iters, 0, sizeof(iters));
    if (!out && !ofield) return usage_error(a, "--transform demons|syn writes --out-field FIELD and/or --out WARPED", NULL);
    if (metric && !strcmp(metric, "mse")) use_mse = 1;
    else if (metric && (!syn || (strcmp(metric, "ncc") && strcmp(metric, "lncc"))))
        return usage_error(a, syn ? "--metric wants ncc (local NCC, the default) or mse" : "demons: --metric wants mse", metric);
    if (!syn) use_mse = 1;
    if (!defo_levels(lv, &levels)) return usage_error(a, "--levels wants a count 1..8 or halving factors like 4x2x1", lv);
    if (its && ((nit = parse_x_list(its, iters, MV_SYN_MAX_LEVELS)) < 1 || nit != levels))
        return usage_error(a, "--iterations wants one count per level, coarsest first, like 100x70x40", its);
    for (k = 0; k < nit; k++)
        if (iters[k] > 1024) return usage_error(a, "--iterations: at most 1024 per level", its);
    if (sm && ((nsmooth = parse_list(sm, smooth, 2)) < 1 || smooth[0] < 0 || (nsmooth > 1 && smooth[1] < 0)))
        return usage_error(a, "--smooth wants FLUID[,DIFFUSION] sigmas in voxels (update, field)", sm);
    if (rad) {
        int64_t n;
        if (!syn || parse_ints(rad, &n, 1, 1, 64) != 1) return usage_error(a, "--radius (syn) wants 1..64 voxels", rad);
        radius = (int)n;
    }
    if (stp && (parse_list(stp, &step, 1) != 1 || !(step > 0) || step > 10))
        return usage_error(a, "--step wants voxels in (0, 10]", stp);
    if (thr) {
        int64_t n;
        if (parse_ints(thr, &n, 1, 0, 256) != 1) return usage_error(a, "--threads takes 0 (all cores) .. 256", thr);
        threads = (int)n;
    }
    if (initm) {
        st = mv_matrix_read(initm, init);
        if (st != MV_OK) return fail_at(st, initm);
        has_init = 1;
    }
    if (load_or_fail(a->pos[0], &fx, NULL)) return 1;
    if (load_or_fail(a->pos[1], &mo, NULL)) {
        mv_free(&fx);
        return 1;
    }
    memset(&pg, 0, sizeof(pg));
    pg.name = syn ? "syn" : "demons";
    pg.level = -1;
    pg.nlevels = levels;
    clock_gettime(CLOCK_MONOTONIC, &pg.t0);
    mv_vol_init(&d);
    if (syn) {
        memset(&so, 0, sizeof(so));
        so.metric = use_mse ? MV_SYN_MSE : MV_SYN_LNCC;
        so.radius = radius;
        so.levels = levels;
        for (k = 0; k < nit; k++) so.iterations[k] = iters[k];
        if (nsmooth > 0) so.sigma_fluid = smooth[0] > 0 ? smooth[0] : -1;
        if (nsmooth > 1) so.sigma_diffusion = smooth[1] > 0 ? smooth[1] : -1;
        so.step = step;
        so.threads = threads;
        if (has_init) memcpy(so.init_matrix, init, sizeof(init));
        if (!opt_flag(a, "--quiet")) so.progress = defo_progress_cb;
        so.progress_user = &pg;
        st = mv_register_syn(&fx, &mo, &d, &so, &sr);
    } else {
        memset(&dmo, 0, sizeof(dmo));
        dmo.levels = levels;
        for (k = 0; k < nit; k++) dmo.iterations[k] = iters[k];
        if (nsmooth > 0) dmo.sigma_fluid = smooth[0] > 0 ? smooth[0] : -1;
        if (nsmooth > 1) dmo.sigma_diffusion = smooth[1] > 0 ? smooth[1] : -1;
        dmo.max_step = step;
        dmo.threads = threads;
        if (has_init) memcpy(dmo.init_matrix, init, sizeof(init));
        if (!opt_flag(a, "--quiet")) dmo.progress = defo_progress_cb;
        dmo.progress_user = &pg;
        st = mv_register_demons(&fx, &mo, &d, &dmo, &dr);
    }
    if (st != MV_OK) {
        rc = fail_at(st, a->pos[1]);
        goto done;
    }
    if (!opt_flag(a, "--quiet")) {
        int conv = syn ? sr.stop_reason == MV_SYN_STOP_CONVERGED : dr.stop_reason == MV_DEMONS_STOP_CONVERGED;
        if (pg.level >= 0) defo_level_line(&pg, conv ? "converged" : "iterations done");
        if (syn)
            fprintf(stderr, "syn: %s %.6g -> %.6g, inverse residual %.3g mm, %.2f s\n", use_mse ? "MSE" : "-LNCC",
                    sr.metric_start, sr.metric, sr.inverse_residual, defo_seconds(&pg.t0));
        else
            fprintf(stderr, "demons: MSE %.6g -> %.6g, %.2f s\n", dr.mse_start, dr.mse, defo_seconds(&pg.t0));
    }
    if (out) {
        mv_vol w;
        mv_field_opts fo;
        memset(&fo, 0, sizeof(fo));
        fo.fill_outside = 1;
        fo.threads = threads;
        mv_vol_init(&w);
        st = mv_field_warp(&mo, &d, has_init ? (const double(*)[4])init : NULL, &w, &fo);
        if (st != MV_OK) {
            rc = fail_at(st, a->pos[1]);
            goto done;
        }
        if ((rc = save_and_free(out, &w, NULL)) != 0) goto done;
    }
    if (ofield) rc = save_field_file(ofield, &d, has_init ? (const double(*)[4])init : NULL);
done:
    mv_free(&fx);
    mv_free(&mo);
    mv_free(&d);
    return rc;
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
    const char *seed = opt_str(a, "--seed"), *oelx = opt_str(a, "--out-elastix");
    mv_status st;
    int rc = 0, ndim;
    memset(&o, 0, sizeof(o));
    if (tr && (!strcmp(tr, "demons") || !strcmp(tr, "syn"))) return cmd_register_deformable(a, !strcmp(tr, "syn"));
    if (!tr || !strcmp(tr, "rigid")) o.transform = MV_TRANSFORM_RIGID;
    else if (!strcmp(tr, "affine")) o.transform = MV_TRANSFORM_AFFINE;
    else if (!strcmp(tr, "translation")) o.transform = MV_TRANSFORM_TRANSLATION;
    else if (!strcmp(tr, "similarity")) o.transform = MV_TRANSFORM_SIMILARITY;
    else if (!strcmp(tr, "bspline")) return register_bspline(a);
    else return usage_error(a, "--transform wants rigid, affine, translation, similarity, bspline, demons or syn", tr);
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
    if (opt_flag(a, "--jitter")) o.metric.jitter = 1;
    if (!opt_flag(a, "--quiet")) o.progress = progress_line;
    if (load_registration_inputs(a, fmask, &fx, &mo, &mask)) return 1;
    if (fmask) o.metric.fixed_mask = &mask;
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
    if (otfm && (st = has_suffix(otfm, ".mat")  ? mv_itk_mat_write(otfm, (const double(*)[4])r.matrix, ndim)
                      : has_suffix(otfm, ".h5") ? mv_itk_h5_write(otfm, (const double(*)[4])r.matrix, ndim)
                                                : mv_itk_tfm_write(otfm, (const double(*)[4])r.matrix, ndim)) != MV_OK) {
        rc = fail_at(st, otfm);
        goto done;
    }
    /* the kind elastix writes for this registration (EulerTransform for rigid, TranslationTransform); with an
       --init-matrix the product is any affine map, and a similarity is an AffineTransform too (Debian's
       elastix 5.0.1 is built without SimilarityTransform: every transformix reads an AffineTransform) */
    if (oelx && (st = mv_elastix_write_type(oelx, (const double(*)[4])r.matrix,
                                            initm || o.transform == MV_TRANSFORM_SIMILARITY ? MV_TRANSFORM_AFFINE
                                                                                          : o.transform,
                                            &fx, MV_INTERP_LINEAR)) != MV_OK) {
        rc = fail_at(st, oelx);
        goto done;
    }
    if (!omat && !otfm && !oelx && !out) { /* nothing asked: the matrix on stdout */
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

/* MATRIX for elastix-write: an ITK .tfm, .mat or .h5 by its extension, else 4x4 text */
static mv_status read_any_matrix(const char *path, double m[4][4])
{
    if (has_suffix(path, ".tfm") || has_suffix(path, ".mat") || has_suffix(path, ".h5")) return mv_itk_tfm_read(path, m);
    return mv_matrix_read(path, m);
}

/* moving onto ref's grid through a transform chain (an elastix chain, or
   an ITK file's transforms: elastix 0, ITK 1): a matrix when every link is
   linear, else the chain's field (0 outside the moving image, as
   transformix's DefaultPixelValue 0 and ITK's ResampleImageFilter) */
static int warp_chain(const args *a, const char *path, int itk, mv_interp interp)
{
    mv_elastix_transform *t = NULL;
    mv_vol mo, ref, w, field;
    mv_load_opts ho = MV_ZERO_INIT;
    mv_status st = itk ? mv_itk_transform_read(path, &t, NULL) : mv_elastix_read(path, &t, NULL);
    if (st != MV_OK) return fail_at(st, path);
    if (load_or_fail(a->pos[0], &mo, NULL)) {
        mv_elastix_free(t);
        return 1;
    }
    ho.header_only = 1;
    if (load_or_fail(a->pos[1], &ref, &ho)) {
        mv_free(&mo);
        mv_elastix_free(t);
        return 1;
    }
    mv_vol_init(&w);
    if (mv_elastix_is_linear(t)) {
        double m[4][4];
        mv_resample_opts ro = MV_ZERO_INIT;
        ro.fill_outside = 1;
        ro.interp = interp;
        st = mv_elastix_matrix(t, m);
        if (st == MV_OK) st = mv_warp_affine(&mo, &ref, (const double(*)[4])m, &w, &ro);
    } else {
        mv_field_opts fo = MV_ZERO_INIT;
        fo.interp = interp;
        fo.fill_outside = 1;
        mv_vol_init(&field);
        st = mv_elastix_field(t, &ref, &field, NULL);
        if (st == MV_OK) st = mv_field_warp(&mo, &field, NULL, &w, &fo);
        mv_free(&field);
    }
    mv_free(&mo);
    mv_free(&ref);
    mv_elastix_free(t);
    if (st != MV_OK) return fail_at(st, path);
    return save_and_free(a->pos[2], &w, NULL);
}

static int cmd_warp(const args *a)
{
    const char *mat = opt_str(a, "--matrix"), *tfm = opt_str(a, "--tfm"), *elx = opt_str(a, "--elastix");
    const char *interp = opt_str(a, "--interp");
    double m[4][4];
    mv_resample_opts ro;
    mv_vol mo, ref, w;
    mv_load_opts ho;
    mv_status st;
    memset(&ro, 0, sizeof(ro));
    ro.fill_outside = 1;
    if (!!mat + !!tfm + !!elx != 1)
        return usage_error(a, "give exactly one of --matrix M.txt, --tfm T.tfm and --elastix TransformParameters.txt", NULL);
    if (interp && !parse_interp(interp, &ro.interp)) return usage_error(a, "--interp wants nearest, linear or cubic", interp);
    if (elx) return warp_chain(a, elx, 0, ro.interp);
    if (tfm) return warp_chain(a, tfm, 1, ro.interp); /* B-splines and composites with them too */
    st = mv_matrix_read(mat, m);
    if (st != MV_OK) return fail_at(st, mat);
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

/* the field of the transform chain in file tpath (an elastix file, or an ITK
   one: itk 1) on rpath's grid (NULL: the elastix file's fixed grid) into out */
static int chain_field(const char *tpath, int itk, const char *rpath, const char *out)
{
    mv_elastix_transform *t = NULL;
    mv_vol ref, field;
    mv_load_opts ho = MV_ZERO_INIT;
    int rc;
    mv_status st = itk ? mv_itk_transform_read(tpath, &t, NULL) : mv_elastix_read(tpath, &t, NULL);
    if (st != MV_OK) return fail_at(st, tpath);
    ho.header_only = 1;
    if (rpath && load_or_fail(rpath, &ref, &ho)) {
        mv_elastix_free(t);
        return 1;
    }
    mv_vol_init(&field);
    st = mv_elastix_field(t, rpath ? &ref : NULL, &field, NULL);
    if (rpath) mv_free(&ref);
    mv_elastix_free(t);
    if (st != MV_OK) return fail_at(st, tpath);
    rc = save_field_file(out, &field, NULL);
    mv_free(&field);
    return rc;
}

static int cmd_elastix_field(const args *a) { return chain_field(a->pos[0], 0, opt_str(a, "--ref"), a->pos[1]); }

static int cmd_tfm_field(const args *a) { return chain_field(a->pos[0], 1, a->pos[1], a->pos[2]); }

/* ---- tfm-convert: an elastix chain or ITK file as an ITK transform file or elastix files ---- */

/* whether path is an ITK transform file (text, MATLAB .mat or HDF5, by its
   first bytes or its name) rather than an elastix TransformParameters file */
static int is_itk_file(const char *path)
{
    unsigned char b[24];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(b, 1, sizeof(b), f);
        fclose(f);
    }
    if (n >= 23 && !memcmp(b, "#Insight Transform File", 23)) return 1;
    if (n >= 8 && !memcmp(b, "\x89HDF\r\n\x1a\n", 8)) return 1;
    return has_suffix(path, ".tfm") || has_suffix(path, ".mat") || has_suffix(path, ".h5") || has_suffix(path, ".hdf5");
}

static int cmd_tfm_convert(const args *a)
{
    const char *in = a->pos[0], *out = a->pos[1], *lv = opt_str(a, "--level"), *ref = opt_str(a, "--ref");
    const char *interp = opt_str(a, "--interp");
    int elastix = opt_flag(a, "--elastix");
    mv_elastix_transform *t = NULL;
    mv_interp ip = MV_INTERP_LINEAR;
    mv_vol fixed;
    int64_t level = MVTOOL_H5_LEVEL;
    mv_status st;
    if (lv && parse_ints(lv, &level, 1, 0, 9) != 1) return usage_error(a, "--level wants a whole number 0-9", lv);
    if (!elastix && (ref || interp)) return usage_error(a, "--ref and --interp go with --elastix", ref ? ref : interp);
    if (elastix && lv) return usage_error(a, "--level is for ITK's .h5, not with --elastix", lv);
    if (interp && !parse_interp(interp, &ip)) return usage_error(a, "--interp wants nearest, linear or cubic", interp);
    st = is_itk_file(in) ? mv_itk_transform_read(in, &t, NULL) : mv_elastix_read(in, &t, NULL);
    if (st != MV_OK) return fail_at(st, in);
    if (elastix) { /* elastix's TransformParameters files, on REF's grid or the chain's own */
        mv_load_opts ho = MV_ZERO_INIT;
        ho.header_only = 1;
        if (ref && load_or_fail(ref, &fixed, &ho)) {
            mv_elastix_free(t);
            return 1;
        }
        st = mv_elastix_write_transform(out, t, ref ? &fixed : NULL, ip);
        if (ref) mv_free(&fixed);
    } else if (has_suffix(out, ".mat")) { /* ANTs' *GenericAffine.mat: a matrix only */
        double m[4][4];
        st = mv_elastix_matrix(t, m);
        if (st == MV_OK) st = mv_itk_mat_write(out, (const double(*)[4])m, mv_elastix_ndim(t));
    } else {
        st = mv_itk_write_transform(out, t, (int)level);
    }
    if (st == MV_OK)
        fprintf(stderr, "tfm-convert: %s -> %s (%d link%s)\n", in, out, mv_elastix_links(t), mv_elastix_links(t) == 1 ? "" : "s");
    mv_elastix_free(t);
    return st == MV_OK ? 0 : fail_at(st, out);
}

/* ---- tfm-points: a CSV of LPS points through an ITK transform file ---- */

/* x as the shortest of %.15g, %.16g, %.17g that reads back the same double */
static void shortest_g(char *buf, size_t cap, double x)
{
    int prec;
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* field k of a CSV line [b, e) (commas split, no quoting): its bounds, or 0
   when the line has fewer fields */
static int csv_field(const char *b, const char *e, int k, const char **fb, const char **fe)
{
    const char *p = b;
    for (; k > 0; k--) {
        while (p < e && *p != ',') p++;
        if (p == e) return 0;
        p++;
    }
    *fb = p;
    while (p < e && *p != ',') p++;
    *fe = p;
    return 1;
}

/* [b, e) trimmed of blanks and one pair of double quotes */
static void csv_trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t')) (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
    if (*e - *b >= 2 && **b == '"' && (*e)[-1] == '"') (*b)++, (*e)--;
}

/* the whole of file path, NUL-terminated (*n bytes before it), or NULL
   with the reason on stderr */
static char *read_text_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t cap = 0, got;
    *n = 0;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (*n + 65536 + 1 > cap) {
            char *g = (char *)realloc(text, cap = 2 * cap + 65536 + 1);
            if (!g) {
                fprintf(stderr, "%s: out of memory after %llu bytes\n", path, (unsigned long long)*n);
                free(text);
                fclose(f);
                return NULL;
            }
            text = g;
        }
        got = fread(text + *n, 1, cap - *n - 1, f);
        *n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error\n", path);
        free(text);
        text = NULL;
    }
    fclose(f);
    if (text) text[*n] = 0;
    return text;
}

/* the header line [b, e): the columns named x, y, z (col[a], -1: none) */
static void tfm_points_header(const char *b, const char *e, int col[3])
{
    const char *fb, *fe;
    int k, a;
    for (k = 0; csv_field(b, e, k, &fb, &fe); k++) {
        csv_trim(&fb, &fe);
        for (a = 0; a < 3; a++)
            if (fe - fb == 1 && (*fb == "xyz"[a] || *fb == "XYZ"[a]) && col[a] < 0) col[a] = k;
    }
}

/* one point line [b, e) (line number line of file in) through t, appended to
   out at *len (room for the line and 96 more bytes); 0, or 1 with the
   reason on stderr */
static int tfm_points_row(const mv_elastix_transform *t, const char *b, const char *e, const int col[3], const char *in,
                          int line, char *out, size_t *len)
{
    const char *fb, *fe;
    double lps[3] = {0, 0, 0}, r[3], q[3];
    char num[3][32];
    int k;
    for (k = 0; k < 3; k++) {
        char *stop;
        if (col[k] < 0) continue;
        if (!csv_field(b, e, col[k], &fb, &fe)) {
            fprintf(stderr, "tfm-points: %s: line %d has no column %c\n", in, line, "xyz"[k]);
            return 1;
        }
        csv_trim(&fb, &fe);
        snprintf(num[k], sizeof(num[k]), "%.*s", (int)(fe - fb < 31 ? fe - fb : 31), fb);
        lps[k] = strtod(num[k], &stop);
        if (fe == fb || fe - fb > 31 || *stop || !isfinite(lps[k])) {
            fprintf(stderr, "tfm-points: %s: line %d, column %c: '%.*s' is not a finite number\n", in, line, "xyz"[k],
                    (int)(fe - fb), fb);
            return 1;
        }
    }
    r[0] = -lps[0], r[1] = -lps[1], r[2] = lps[2]; /* LPS -> RAS and back */
    mv_elastix_point(t, r, q);
    q[0] = -q[0], q[1] = -q[1];
    for (k = 0; k < 3; k++) shortest_g(num[k], sizeof(num[k]), q[k]);
    for (k = 0; csv_field(b, e, k, &fb, &fe); k++) { /* the line again, x, y, z replaced */
        int c = k == col[0] ? 0 : k == col[1] ? 1 : col[2] >= 0 && k == col[2] ? 2 : -1;
        if (k) out[(*len)++] = ',';
        if (c >= 0) fb = num[c], fe = num[c] + strlen(num[c]);
        memcpy(out + *len, fb, (size_t)(fe - fb));
        *len += (size_t)(fe - fb);
    }
    out[(*len)++] = '\n';
    return 0;
}

/* text written to path whole or not at all (a temporary renamed); 0 or 1 */
static int write_whole(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    FILE *f;
    int rc;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "%s: path too long\n", path);
        return 1;
    }
    f = fopen(tmp, "wb");
    rc = !f || fwrite(text, 1, len, f) != len;
    if (f && fclose(f) != 0) rc = 1;
    if (rc == 0 && rename(tmp, path) != 0) rc = 1;
    if (rc) {
        fprintf(stderr, "%s: write failed (%s)\n", path, strerror(errno));
        remove(tmp);
    }
    return rc;
}

static int cmd_tfm_points(const args *a)
{
    const char *in = a->pos[1], *p, *end, *le;
    mv_elastix_transform *t = NULL;
    char *text, *res;
    size_t n, cap, len = 0;
    int col[3] = {-1, -1, -1}, line = 0, header = 1, rc = 0;
    long long points = 0;
    mv_status st = mv_itk_transform_read(a->pos[0], &t, NULL);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    if (!(text = read_text_file(in, &n))) {
        mv_elastix_free(t);
        return 1;
    }
    res = (char *)malloc(cap = n + n / 2 + 256);
    for (p = text, end = text + n; rc == 0 && res && p < end; p = le + (le < end)) {
        const char *b = p, *e;
        line++;
        le = (const char *)memchr(p, '\n', (size_t)(end - p));
        if (!le) le = end;
        e = le > p && le[-1] == '\r' ? le - 1 : le;
        if (e == b) continue; /* blank lines dropped */
        if (len + (size_t)(e - b) + 98 > cap) { /* room for the line, its numbers grown to 32 bytes each */
            char *g = (char *)realloc(res, cap = 2 * cap + (size_t)(e - b) + 98);
            if (!g) free(res);
            res = g;
            if (!res) break;
        }
        if (header) { /* the column names: x, y (and z) among them */
            tfm_points_header(b, e, col);
            if (col[0] < 0 || col[1] < 0 || (mv_elastix_ndim(t) == 3 && col[2] < 0)) {
                fprintf(stderr, "tfm-points: %s: line %d: the header names no %s column (x,y%s: LPS mm, as ITK and ANTs)\n",
                        in, line, col[0] < 0 ? "x" : col[1] < 0 ? "y" : "z", mv_elastix_ndim(t) == 3 ? ",z" : "");
                rc = 1;
            }
            memcpy(res + len, b, (size_t)(e - b));
            len += (size_t)(e - b);
            res[len++] = '\n';
            header = 0;
        } else {
            rc = tfm_points_row(t, b, e, col, in, line, res, &len);
            points += rc == 0;
        }
    }
    free(text);
    mv_elastix_free(t);
    if (!res) fprintf(stderr, "tfm-points: %s: out of memory\n", in);
    if (res && rc == 0 && header) fprintf(stderr, "tfm-points: %s: empty (a header line x,y,z,... then a point a line)\n", in);
    rc = !res || rc || header ? 1 : write_whole(a->pos[2], res, len);
    free(res);
    if (rc == 0) fprintf(stderr, "tfm-points: %lld points\n", points);
    return rc;
}

static int cmd_elastix_write(const args *a)
{
    const char *interp = opt_str(a, "--interp"), *ty = opt_str(a, "--type");
    mv_interp in = MV_INTERP_LINEAR;
    mv_transform_type type = MV_TRANSFORM_AFFINE;
    double m[4][4];
    mv_vol fx;
    mv_load_opts ho = MV_ZERO_INIT;
    mv_status st;
    if (interp && !parse_interp(interp, &in)) return usage_error(a, "--interp wants nearest, linear or cubic", interp);
    if (ty && !strcmp(ty, "rigid")) type = MV_TRANSFORM_RIGID;
    else if (ty && !strcmp(ty, "similarity")) type = MV_TRANSFORM_SIMILARITY;
    else if (ty && !strcmp(ty, "translation")) type = MV_TRANSFORM_TRANSLATION;
    else if (ty && strcmp(ty, "affine")) return usage_error(a, "--type wants affine, rigid, similarity or translation", ty);
    st = read_any_matrix(a->pos[0], m);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    ho.header_only = 1;
    if (load_or_fail(a->pos[1], &fx, &ho)) return 1;
    st = mv_elastix_write_type(a->pos[2], (const double(*)[4])m, type, &fx, in);
    mv_free(&fx);
    if (st != MV_OK) return fail_at(st, a->pos[2]);
    return 0;
}

/* DIR/NAME.FORMAT for transformix's outputs: nii, nii.gz, mhd (elastix's
   default: NAME.mhd + NAME.raw) or mha as the file asks, else nii (said on
   stderr) */
static void transformix_name(char *buf, size_t cap, const char *dir, const char *name, const char *format)
{
    int ok = !strcmp(format, "nii") || !strcmp(format, "nii.gz") || !strcmp(format, "mhd") || !strcmp(format, "mha");
    if (!ok) fprintf(stderr, "transformix: ResultImageFormat \"%s\": writing %s.nii (NIfTI) instead\n", format, name);
    snprintf(buf, cap, "%s/%s.%s", dir, name, ok ? format : "nii");
}

/* DIR/outputpoints.txt: the points of FILE through t (transformix -def
   FILE), with their moving-grid indices when a moving image is given; a
   VTK PolyData FILE (.vtk) gives DIR/outputpoints.vtk, the same file with
   its points moved (as transformix: no indices) */
static int transformix_points(const mv_elastix_transform *t, const char *file, const char *dir, const mv_vol *moving)
{
    mv_elastix_points pts;
    char path[4096];
    mv_status st;
    if (has_suffix(file, ".vtk") || has_suffix(file, ".VTK")) {
        snprintf(path, sizeof(path), "%s/outputpoints.vtk", dir);
        st = mv_elastix_vtk_write(path, t, file);
        return st != MV_OK ? fail_at(st, path) : 0;
    }
    if ((st = mv_elastix_points_read(file, mv_elastix_ndim(t), &pts, NULL)) != MV_OK) return fail_at(st, file);
    snprintf(path, sizeof(path), "%s/outputpoints.txt", dir);
    st = mv_elastix_points_write(path, t, &pts, moving);
    mv_elastix_points_free(&pts);
    return st != MV_OK ? fail_at(st, path) : 0;
}

/* DIR/spatialJacobian.FORMAT (the determinant) or, matrix,
   DIR/fullSpatialJacobian.FORMAT: transformix -jac all / -jacmat all */
static int transformix_jacobian(const mv_elastix_transform *t, const char *tp, const char *dir, const char *format,
                                const mv_field_opts *fo, int matrix)
{
    mv_vol j;
    char path[4096];
    mv_status st;
    mv_vol_init(&j);
    transformix_name(path, sizeof(path), dir, matrix ? "fullSpatialJacobian" : "spatialJacobian", format);
    st = matrix ? mv_elastix_jacobian_matrix(t, NULL, &j, fo) : mv_elastix_jacobian(t, NULL, &j, fo);
    return st != MV_OK ? fail_at(st, tp) : save_and_free(path, &j, NULL);
}

/* transformix's command line on medvol: -tp TP -out DIR, and -in MOVING
   (DIR/result.FORMAT), -def all (DIR/deformationField.FORMAT) or -def
   FILE (DIR/outputpoints.txt), -jac all (DIR/spatialJacobian.FORMAT),
   -jacmat all (DIR/fullSpatialJacobian.FORMAT) */
static int cmd_transformix(const args *a)
{
    const char *tp = opt_str(a, "-tp"), *dir = opt_str(a, "-out"), *in = opt_str(a, "-in"), *def = opt_str(a, "-def");
    const char *jac = opt_str(a, "-jac"), *jacmat = opt_str(a, "-jacmat"), *thr = opt_str(a, "-threads");
    mv_elastix_transform *t = NULL;
    mv_elastix_output eo;
    mv_field_opts fo = MV_ZERO_INIT;
    mv_vol field, mo, w;
    mv_save_opts so = MV_ZERO_INIT;
    char path[4096];
    mv_status st;
    int rc = 0, def_all = def && !strcmp(def, "all");
    if (!tp || !dir) return usage_error(a, "-tp TransformParameters.txt and -out DIR are required", NULL);
    if (jac && strcmp(jac, "all")) return usage_error(a, "-jac takes all", jac);
    if (jacmat && strcmp(jacmat, "all")) return usage_error(a, "-jacmat takes all", jacmat);
    if (!in && !def && !jac && !jacmat)
        return usage_error(a, "nothing to do: give -in MOVING, -def all or a points file, -jac all and/or -jacmat all", NULL);
    if (thr) {
        int64_t n;
        if (parse_ints(thr, &n, 1, 0, 256) != 1) return usage_error(a, "-threads takes 0 (all cores) .. 256", thr);
        fo.threads = (int)n;
    }
    st = mv_elastix_read(tp, &t, NULL);
    if (st == MV_OK) st = mv_elastix_output_opts(t, &eo);
    if (st != MV_OK) {
        mv_elastix_free(t);
        return fail_at(st, tp);
    }
    /* CompressResultImage: the result image's MetaImage zlib, as transformix
       (its field and Jacobians stay uncompressed; a .nii's compression is its name's) */
    so.compress = eo.compress;
    mv_vol_init(&field);
    mv_vol_init(&mo);
    if (in && load_or_fail(in, &mo, NULL)) {
        rc = 1;
        goto done;
    }
    if (def && !def_all && (rc = transformix_points(t, def, dir, in ? &mo : NULL)) != 0) goto done;
    if (def_all || in) { /* on the file's fixed grid, as transformix */
        if ((st = mv_elastix_field(t, NULL, &field, &fo)) != MV_OK) {
            rc = fail_at(st, tp);
            goto done;
        }
    }
    if (def_all) {
        transformix_name(path, sizeof(path), dir, "deformationField", eo.format);
        if ((st = mv_field_save(path, &field, NULL)) != MV_OK) {
            rc = fail_at(st, path);
            goto done;
        }
    }
    if ((jac && (rc = transformix_jacobian(t, tp, dir, eo.format, &fo, 0)) != 0) ||
        (jacmat && (rc = transformix_jacobian(t, tp, dir, eo.format, &fo, 1)) != 0))
        goto done;
    if (in) {
        mv_vol_init(&w);
        /* through the field even for a matrix: ITK's inside rule (half a
           voxel beyond the first and last centres, the samples mirrored) */
        fo.interp = eo.interp;
        fo.fill_outside = 2;
        fo.fill = eo.fill;
        fo.dtype = eo.dtype;
        fo.rounding = eo.rounding;
        st = mv_field_warp(&mo, &field, NULL, &w, &fo);
        if (st != MV_OK) {
            rc = fail_at(st, in);
            goto done;
        }
        if (mv_elastix_ndim(t) == 2 && w.ndim == 3 && w.dim[2] == 1) w.ndim = 2; /* an image, as transformix writes it */
        transformix_name(path, sizeof(path), dir, "result", eo.format);
        rc = save_and_free(path, &w, &so);
    }
done:
    mv_free(&mo);
    mv_free(&field);
    mv_elastix_free(t);
    return rc;
}

const command mvtool_register_commands[] = {
    {"register", "linear registration (rigid/affine, MI/NCC/MSE, multi-resolution)",
     "mvtool register FIXED MOVING [--transform rigid|affine|translation|similarity] [--metric mi|ncc|mse]\n"
     "                [--levels 4x2x1] [--smooth 2x1x0vox] [--iterations 200x100x50] [--fixed-mask M]\n"
     "                [--init-matrix M.txt] [--out WARPED] [--out-matrix M.txt] [--out-tfm T.tfm]\n"
     "                [--out-elastix TransformParameters.txt] [--threads N] [--seed S] [--jitter] [--quiet]\n"
     "                [--transform bspline --grid-spacing MM --regularization W --out-field FIELD]\n"
     "  Finds T (fixed world -> moving world, RAS mm) so that moving(T(x)) matches fixed(x).\n"
     "  Defaults: rigid, Mattes MI (24 bins: mono- and multi-modal), random samples drawn\n"
     "  once per level (2^16 at coarse levels, 2^18 at the finest; every metric but lncc),\n"
     "  levels 4x2x1 smoothed 2x1x0 voxels, centres of mass aligned first,\n"
     "  L-BFGS in scaled parameters (iterations per level default 200x100x50).\n"
     "  --jitter: each random sample at a seeded point of its voxel, its fixed value\n"
     "  interpolated (as ITK v4 samples; helps affine MI and NCC, costs rigid MI).\n"
     "  One line per level on stderr (--quiet: none). --out-matrix: 4x4 text; --out-tfm:\n"
     "  ITK AffineTransform (LPS) for SimpleITK/ANTs, text (.tfm) or, named *.mat, ITK's\n"
     "  MATLAB form (as ANTs writes *0GenericAffine.mat), named *.h5, ITK's HDF5 form;\n"
     "  --out-elastix: elastix's\n"
     "  file for the transform (EulerTransform for rigid, TranslationTransform, else\n"
     "  AffineTransform, which all builds read), the fixed grid, linear, 0 outside;\n"
     "  --out: moving resampled on the fixed\n"
     "  grid (linear, 0 outside). With no output option the matrix goes to stdout.\n"
     "  --transform bspline [--grid-spacing MM] [--regularization W] [--out-field FIELD]:\n"
     "  cubic B-spline FFD (control spacing MM at the finest level, default 16 voxels,\n"
     "  halved per level from 2^(L-1) x; bending-energy weight W, default 1, right for\n"
     "  mi/ncc: with mse scale it by about 2 x the intensity variance; L-BFGS, 100\n"
     "  iterations per level); --out-field: the displacement field (ITK, LPS mm, an\n"
     "  --init-matrix folded in), --out: moving warped by it (--dtype: its dtype, default\n"
     "  float32; integers rounded); --out-elastix TP.txt: the grid as an elastix\n"
     "  BSplineTransform file for transformix (with --init-matrix: TP.txt an affine whose\n"
     "  initial transform is TP-bspline.txt); --out-tfm T.tfm|T.h5: the grid as ITK's\n"
     "  BSplineTransform (after --init-matrix: the composite [Affine, BSplineTransform])\n"
     "  for SimpleITK, ANTs and Slicer. One line per level.\n"
     "  Large images: --levels ending above 1 (e.g. 32x16x8 for a 17320^2 scan) registers\n"
     "  copies of both images shrunk by that last factor, never the full resolution; --out\n"
     "  is still full resolution, warped a row at a time (mv_bspline_warp_into: no full-size\n"
     "  field or coordinates in memory); --out-field is written on the shrunk grid,\n"
     "  --out-elastix with the fixed image's own grid (transformix resamples at full size).\n"
     "mvtool register FIXED MOVING --transform demons|syn [--metric ncc|mse] [--levels 3|4x2x1]\n"
     "                [--iterations 100x70x40] [--smooth FLUID[,DIFFUSION]] [--radius R] [--step S]\n"
     "                [--init-matrix M.txt] [--out WARPED] [--out-field FIELD] [--threads N] [--quiet]\n"
     "  Deformable: the displacement field d (ITK/ANTs file: LPS mm on the fixed grid, moving\n"
     "  point = M(p + d(p)), M the --init-matrix) of diffeomorphic demons (MSE, same\n"
     "  modality) or greedy SyN (local NCC over (2R+1)^3 voxels, default R 2, or MSE; two\n"
     "  half-way fields, default step 0.25 voxel per half, smoothing sqrt(3),sqrt(0.5)\n"
     "  voxels). --smooth: sigmas of the update and of the field (voxels; 0 = none).\n"
     "  One line per level on stderr. --out: moving warped (linear, 0 outside).\n"
     "  FIELD named *.h5 (all three transforms): ITK's HDF5 transform (deflated as ANTs\n"
     "  writes it), the field after the --init-matrix as one CompositeTransform (ANTs'\n"
     "  --write-composite-transform; the B-spline's field has it folded in): what\n"
     "  antsApplyTransforms, SimpleITK and `mvtool warp-field --field` apply whole.\n",
     "--transform= --metric= --levels= --smooth= --iterations= --fixed-mask= --init-matrix= --out= --out-matrix= "
     "--out-tfm= --out-elastix= --threads= --seed= --jitter --quiet --grid-spacing= --regularization= --out-field= --radius= --step= --dtype=",
     2, 2, cmd_register},
    {"warp", "apply a fixed->moving matrix, ITK .tfm or elastix TransformParameters file",
     "mvtool warp MOVING REFERENCE OUT --matrix M.txt | --tfm T.tfm|T.mat|T.h5 | --elastix TP.txt\n"
     "                [--interp nearest|linear|cubic]\n"
     "  OUT(x) = MOVING(T(x)) on REFERENCE's grid (its header only is read); T maps\n"
     "  reference (fixed) world points to moving world points, as register writes it.\n"
     "  --tfm: an ITK transform file, text, MATLAB .mat (ANTs' *GenericAffine.mat) or\n"
     "  HDF5 .h5: matrix kinds, BSplineTransforms and DisplacementFieldTransforms,\n"
     "  alone or in a composite (ANTs' Composite.h5 and InverseComposite.h5).\n"
     "  --elastix: an elastix TransformParameters file and the chain of initial\n"
     "  transforms it names (linear kinds, B-splines, DeformationFieldTransform), as\n"
     "  transformix applies it.\n"
     "  Default linear; 0 outside MOVING.\n",
     "--matrix= --tfm= --elastix= --interp=", 3, 3, cmd_warp},
    {"elastix-field", "the displacement field of an elastix TransformParameters file (transformix -def all)",
     "mvtool elastix-field TransformParameters.txt OUT [--ref REFERENCE]\n"
     "  The file's transform, with the chain of initial transforms it names (Compose or\n"
     "  Add), as an ITK displacement field (float32 (X,Y,Z,1,3), intent 1007, LPS mm,\n"
     "  p -> p + d(p)) on the file's fixed grid (Size, Spacing, Origin, Direction) or on\n"
     "  REFERENCE's: what `transformix -def all` writes as deformationField.nii; OUT\n"
     "  named *.h5: ITK's HDF5 DisplacementFieldTransform.\n",
     "--ref=", 2, 2, cmd_elastix_field},
    {"tfm-field", "an ITK transform file (B-splines, fields, composites) as a displacement field",
     "mvtool tfm-field T.tfm|T.h5|T.mat REFERENCE OUT\n"
     "  The file's transform (matrix kinds, BSplineTransforms and\n"
     "  DisplacementFieldTransforms, alone or in a\n"
     "  CompositeTransform, applied last member first as ITK does) as an ITK\n"
     "  displacement field on REFERENCE's grid (its header only is read): float32\n"
     "  (X,Y,Z,1,3), intent 1007, LPS mm, p -> p + d(p), what antsApplyTransforms\n"
     "  -o [OUT,1] and SimpleITK's TransformToDisplacementField give; OUT named *.h5:\n"
     "  ITK's HDF5 DisplacementFieldTransform.\n",
     "", 3, 3, cmd_tfm_field},
    {"tfm-convert", "an elastix TransformParameters chain or ITK transform file as an ITK file (.h5, .tfm, .mat) or "
     "as elastix files",
     "mvtool tfm-convert IN OUT [--level N]\n"
     "  IN: an elastix TransformParameters file (with the initial transforms it names:\n"
     "  linear kinds, B-splines, DeformationFieldTransform) or an ITK transform file\n"
     "  (.tfm, .mat, .h5: matrix kinds, BSplineTransforms, DisplacementFieldTransforms,\n"
     "  composites). OUT: the same map (fixed -> moving) as ITK writes it, what\n"
     "  SimpleITK, antsApplyTransforms and Slicer read: OUT named *.h5 HDF5 (grids\n"
     "  deflated at --level, default 5, as ANTs; 0 uncompressed), *.mat ANTs' MATLAB\n"
     "  affine (linear chains only), else text .tfm. Linear runs become one\n"
     "  AffineTransform, each B-spline a BSplineTransform, each field a\n"
     "  DisplacementFieldTransform, in a CompositeTransform when more than one.\n"
     "  Refused: elastix's \"Add\" with a B-spline or field (write its field with\n"
     "  elastix-field), nearest-neighbour fields (DeformationFieldInterpolationOrder 0).\n"
     "mvtool tfm-convert IN OUT.txt --elastix [--ref FIXED] [--interp nearest|linear|cubic]\n"
     "  The same map as elastix TransformParameters files, what transformix -tp and\n"
     "  elastix -t0 read: one file per link, OUT the outermost, OUT-1.txt, OUT-2.txt ...\n"
     "  its initial transforms (named as OUT is given: give an absolute path for\n"
     "  transformix run elsewhere); a field written beside as OUT-field.mha\n"
     "  (OUT-K-field.mha), float32. FIXED's grid (its header only is read) is\n"
     "  transformix's output grid; an elastix IN keeps its own without --ref (an ITK\n"
     "  file has none). --interp: transformix's resampling (default linear).\n",
     "--level= --elastix --ref= --interp=", 2, 2, cmd_tfm_convert},
    {"tfm-points", "a CSV of LPS points through an ITK transform file (antsApplyTransformsToPoints)",
     "mvtool tfm-points T.tfm|T.h5|T.mat IN.csv OUT.csv\n"
     "  Each point p of IN.csv (a header line naming its columns, x, y and z among them:\n"
     "  LPS mm, what ITK and ANTs' antsApplyTransformsToPoints read) goes to T(p), the\n"
     "  file's transform as SimpleITK's TransformPoint applies it (fixed -> moving, the\n"
     "  direction the file warps images by: to bring moving points to fixed, give the\n"
     "  inverse, e.g. ANTs' InverseComposite.h5). Other columns are copied as they are,\n"
     "  blank lines dropped; the coordinates written with 15-17 digits (the doubles\n"
     "  exactly). A 2D transform moves x and y. OUT is written whole or not at all.\n",
     "", 3, 3, cmd_tfm_points},
    {"elastix-write", "a 4x4 matrix or ITK .tfm as an elastix TransformParameters file",
     "mvtool elastix-write MATRIX FIXED OUT [--interp nearest|linear|cubic] [--type T]\n"
     "  MATRIX: 4x4 text (fixed -> moving, RAS mm) or an ITK .tfm / .mat; OUT: an elastix\n"
     "  AffineTransform file with FIXED's grid (its header only is read) that\n"
     "  transformix applies: resampling interpolator as --interp (default linear:\n"
     "  FinalBSplineInterpolator of order 0, 1, 3), 0 outside, float .nii results.\n"
     "  --type rigid|similarity|translation: the kind elastix writes for such a\n"
     "  registration (EulerTransform, SimilarityTransform, TranslationTransform)\n"
     "  about FIXED's centre; MATRIX must be of that type (within 1e-9).\n",
     "--interp= --type=", 3, 3, cmd_elastix_write},
    {"transformix", "transformix's command line: apply an elastix TransformParameters file",
     "mvtool transformix -tp TransformParameters.txt -out DIR [-in MOVING] [-def all|POINTS] [-jac all]\n"
     "                   [-jacmat all] [-threads N]\n"
     "  As elastix's transformix: -in writes DIR/result.nii, MOVING resampled on the file's\n"
     "  fixed grid through its chain of transforms with its ResampleInterpolator\n"
     "  (FinalBSplineInterpolationOrder 0, 1 or 3), DefaultPixelValue outside and\n"
     "  ResultImagePixelType (integers truncated); as ITK, a sample within half a voxel\n"
     "  beyond MOVING's first or last voxel centre mirrors the edge; -def all writes\n"
     "  DIR/deformationField.nii (ITK displacement field, LPS mm); -def POINTS (a text file:\n"
     "  point (LPS mm) or index, the count, the coordinates) writes DIR/outputpoints.txt as\n"
     "  transformix (with -in, each point's index in MOVING too), -def MESH.vtk (VTK PolyData,\n"
     "  ASCII or binary, POINTS in LPS mm) DIR/outputpoints.vtk, the file with its points moved\n"
     "  (cells and data kept as they are); -jac all\n"
     "  DIR/spatialJacobian.nii (the determinant, analytic), -jacmat all\n"
     "  DIR/fullSpatialJacobian.nii (the matrix, row by row). Each in the ResultImageFormat the\n"
     "  file asks: nii, nii.gz, mhd (NAME.mhd + NAME.raw) or mha (others are written as .nii);\n"
     "  CompressResultImage \"true\" compresses a MetaImage result (result.zraw), as transformix\n"
     "  (not the field or Jacobians). No transformix.log.\n",
     "-tp= -out= -in= -def= -jac= -jacmat= -threads=", 0, 0, cmd_transformix},
};
const int mvtool_register_ncommands = (int)(sizeof(mvtool_register_commands) / sizeof(mvtool_register_commands[0]));
