/* mvtool_filter.c - mvtool's filter family: smooth (scipy gaussian_filter),
   gradient (world-unit central differences), pyramid (one ITK/ANTs level). */
#include "mvtool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --mode reflect|nearest|constant|mirror|wrap (scipy.ndimage names) */
static int parse_mode(const char *s, mv_boundary *m)
{
    static const char *names[] = {"reflect", "nearest", "constant", "mirror", "wrap"};
    int i;
    for (i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (mv_boundary)i;
            return 1;
        }
    return 0;
}

/* the options smooth and pyramid share: --mode, --cval, --truncate */
static int filter_opts(const args *a, mv_filter_opts *o)
{
    const char *mode = opt_str(a, "--mode"), *cval = opt_str(a, "--cval"), *tr = opt_str(a, "--truncate");
    double v;
    if (mode && !parse_mode(mode, &o->mode))
        return usage_error(a, "--mode wants reflect, nearest, constant, mirror or wrap", mode);
    if (cval) {
        if (parse_list(cval, &v, 1) != 1) return usage_error(a, "--cval wants a number", cval);
        o->cval = v;
    }
    if (tr) {
        if (parse_list(tr, &v, 1) != 1 || !(v > 0)) return usage_error(a, "--truncate wants a number > 0", tr);
        o->truncate = v;
    }
    return 0;
}

/* SIGMA: "2" (voxels), "2mm", "1.5,1.5,3vox", "1,1,2mm" (one value: every axis) */
static int parse_sigma(const char *s, double sigma[3], int *in_mm)
{
    char buf[128];
    size_t n = strlen(s);
    int k;
    if (n == 0 || n >= sizeof(buf)) return 0;
    memcpy(buf, s, n + 1);
    *in_mm = 0;
    if (n > 2 && strcmp(buf + n - 2, "mm") == 0) {
        *in_mm = 1;
        buf[n - 2] = 0;
    } else if (n > 3 && strcmp(buf + n - 3, "vox") == 0) {
        buf[n - 3] = 0;
    }
    k = parse_list(buf, sigma, 3);
    if (k == 1) sigma[1] = sigma[2] = sigma[0];
    else if (k != 3) return 0;
    for (k = 0; k < 3; k++)
        if (!(sigma[k] >= 0)) return 0;
    return 1;
}

static int cmd_smooth(const args *a)
{
    mv_filter_opts o = MV_ZERO_INIT;
    const char *method = opt_str(a, "--method");
    double sigma[3];
    mv_vol v, out;
    mv_status st;
    int e = filter_opts(a, &o);
    if (e) return e;
    if (!parse_sigma(a->pos[2], sigma, &o.sigma_in_mm))
        return usage_error(a, "SIGMA wants S or SX,SY,SZ (>= 0), voxels, or with a suffix mm or vox", a->pos[2]);
    if (method) {
        if (strcmp(method, "auto") == 0) o.method = MV_FILTER_AUTO;
        else if (strcmp(method, "fir") == 0) o.method = MV_FILTER_FIR;
        else if (strcmp(method, "recursive") == 0) o.method = MV_FILTER_RECURSIVE;
        else return usage_error(a, "--method wants auto, fir or recursive", method);
    }
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    mv_vol_init(&out);
    st = mv_gaussian(&v, &out, sigma, &o);
    mv_free(&v);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[1], &out, NULL);
}

static int cmd_gradient(const args *a)
{
    mv_vol v, out;
    mv_status st;
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    mv_vol_init(&out);
    st = mv_gradient(&v, &out, NULL);
    mv_free(&v);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[1], &out, NULL);
}

static int cmd_pyramid(const args *a)
{
    mv_filter_opts o = MV_ZERO_INIT;
    mv_pyramid_schedule s;
    const char *smooth = opt_str(a, "--smooth"), *lv = opt_str(a, "--level");
    int64_t level = 0;
    mv_vol v, out;
    mv_status st;
    int e = filter_opts(a, &o);
    if (e) return e;
    st = mv_pyramid_schedule_parse(a->pos[2], smooth, &s);
    if (st != MV_OK) return usage_error(a, mv_last_error(), a->pos[2]);
    if (lv && parse_ints(lv, &level, 1, 0, s.nlevels - 1) != 1)
        return usage_error(a, "--level wants a level index from 0 (coarsest)", lv);
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    mv_vol_init(&out);
    st = mv_pyramid_level(&v, &s, (int)level, &out, &o);
    mv_free(&v);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[1], &out, NULL);
}

const command mvtool_filter_commands[] = {
    {"smooth", "Gaussian smoothing (scipy gaussian_filter), float32 out",
     "mvtool smooth IN OUT SIGMA [--mode reflect|nearest|constant|mirror|wrap] [--cval V]\n"
     "              [--truncate T] [--method auto|fir|recursive]\n"
     "  SIGMA: 2 (voxels, every axis), 2mm, 1.5,1.5,3vox or 1,1,2mm (x,y,z); 0 leaves an\n"
     "  axis. scipy.ndimage.gaussian_filter semantics (default mode reflect, truncate 4);\n"
     "  scaling applied, float32 out; 4D: each volume.\n",
     "--mode= --cval= --truncate= --method=", 3, 3, cmd_smooth},
    {"gradient", "gradient in world units (per mm, RAS), 4D X,Y,Z,3 out",
     "mvtool gradient IN OUT\n"
     "  numpy.gradient (central, one-sided at the border) along the voxel axes, mapped\n"
     "  through the affine: OUT[...,c] = d/d(world c) for c = x, y, z (RAS mm). 3D in.\n",
     "", 2, 2, cmd_gradient},
    {"pyramid", "one level of an ITK/ANTs smoothing pyramid",
     "mvtool pyramid IN OUT LEVELS [--smooth 2x1x0vox|2x1x0mm] [--level K] [--mode M]\n"
     "  LEVELS: shrink factors, coarsest first (8x4x2x1); --smooth: one sigma per level\n"
     "  (default 0.5 * factor voxels); --level: 0 = coarsest (default). Affine kept true.\n",
     "--smooth= --level= --mode= --cval= --truncate=", 3, 3, cmd_pyramid},
};
const int mvtool_filter_ncommands = (int)(sizeof(mvtool_filter_commands) / sizeof(mvtool_filter_commands[0]));
