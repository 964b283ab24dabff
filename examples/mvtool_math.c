/* mvtool_math.c - the math family of mvtool (>>api-math, >>api-morph):
   math (fslmaths order), label, edt. */
#include "mvtool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "3.5" -> number; anything else is an image path */
static int as_number(const char *s, double *v)
{
    char *end;
    if (!s || !*s) return 0;
    *v = strtod(s, &end);
    return *end == 0;
}

/* the current image as float32 values (VALUES of >>api-math) */
static mv_status to_f32(mv_vol *cur)
{
    if (cur->dtype == MV_DT_F32 && (cur->meta.scl_slope == 0 || !isfinite(cur->meta.scl_slope) ||
                                    (cur->meta.scl_slope == 1 && cur->meta.scl_inter == 0)))
        return MV_OK;
    return mv_math(cur, MV_MATH_MAX, NULL, -HUGE_VAL, cur, NULL); /* max(x, -inf) = x, as float32 */
}

static const struct {
    const char *flag;
    mv_math_op op;
} binops[] = {{"-add", MV_MATH_ADD}, {"-sub", MV_MATH_SUB}, {"-mul", MV_MATH_MUL}, {"-div", MV_MATH_DIV},
              {"-min", MV_MATH_MIN}, {"-max", MV_MATH_MAX}, {"-thr", MV_MATH_THR}, {"-uthr", MV_MATH_UTHR},
              {"-mas", MV_MATH_MAS}},
  unops[] = {{"-abs", MV_MATH_ABS},   {"-sqrt", MV_MATH_SQRT}, {"-sqr", MV_MATH_SQR},  {"-exp", MV_MATH_EXP},
             {"-log", MV_MATH_LOG},   {"-recip", MV_MATH_RECIP}, {"-bin", MV_MATH_BIN}, {"-binv", MV_MATH_BINV},
             {"-nan", MV_MATH_NAN}};

static int cmd_math(const args *a)
{
    mv_vol cur, tmp;
    mv_load_opts lo = MV_ZERO_INIT;
    int i, k, st;
    lo.scaled = 1;
    if ((st = load_or_fail(a->pos[0], &cur, &lo)) != 0) return st;
    if (to_f32(&cur) != MV_OK) return fail_at(MV_ERR_INVALID_ARG, a->pos[0]);
    for (i = 0; i < a->nopt; i++) {
        const char *f = a->opt_name[i], *v = a->opt_val[i];
        mv_status s = MV_OK;
        int done = 0;
        for (k = 0; k < (int)(sizeof(binops) / sizeof(binops[0])); k++)
            if (strcmp(f, binops[k].flag) == 0) {
                double x;
                if (as_number(v, &x)) {
                    if (binops[k].op == MV_MATH_MAS) return usage_error(a, "-mas takes an image", v);
                    s = mv_math(&cur, binops[k].op, NULL, x, &cur, NULL);
                } else {
                    mv_vol b;
                    if ((st = load_or_fail(v, &b, &lo)) != 0) {
                        mv_free(&cur);
                        return st;
                    }
                    s = mv_math(&cur, binops[k].op, &b, 0, &cur, NULL);
                    mv_free(&b);
                    if (s != MV_OK) {
                        mv_free(&cur);
                        return fail_at(s, v);
                    }
                }
                done = 1;
            }
        for (k = 0; !done && k < (int)(sizeof(unops) / sizeof(unops[0])); k++)
            if (strcmp(f, unops[k].flag) == 0) {
                s = mv_math(&cur, unops[k].op, NULL, 0, &cur, NULL);
                done = 1;
            }
        if (!done && (strcmp(f, "-ero") == 0 || strcmp(f, "-dil") == 0)) {
            /* the 3x3x3 box, outside not counted: -ero zeroes voxels with a zero
               in the box (x * binary_erosion(x != 0, box, border_value=1));
               -dil is the max over the box (fslmaths -dilF; on a mask, its dilation) */
            mv_morph_opts mo = MV_ZERO_INIT;
            mv_vol_init(&tmp);
            if (f[1] == 'e') {
                mo.shape = MV_SE_BOX;
                mo.radius = 1;
                mo.border_value = 1;
                s = mv_morph(&cur, MV_MORPH_ERODE, &tmp, &mo);
                if (s == MV_OK) s = mv_math(&cur, MV_MATH_MAS, &tmp, 0, &cur, NULL);
                mv_free(&tmp);
            } else {
                static const int64_t box[3] = {3, 3, 3};
                s = mv_grey_morph(&cur, MV_MORPH_DILATE, box, &cur, NULL);
            }
            done = 1;
        }
        if (!done && strcmp(f, "-s") == 0) {
            /* Gaussian of sigma mm: scipy gaussian_filter(x, sigma / spacing),
               mode reflect, truncate 4, exact FIR (>>api-filter) */
            mv_filter_opts fo = MV_ZERO_INIT;
            double sg[3], x;
            if (!as_number(v, &x) || !(x >= 0)) return usage_error(a, "-s SIGMA (mm, >= 0)", v);
            sg[0] = sg[1] = sg[2] = x;
            fo.sigma_in_mm = 1;
            fo.method = MV_FILTER_FIR;
            s = mv_gaussian(&cur, &cur, sg, &fo);
            done = 1;
        }
        if (!done && strcmp(f, "-fillh") == 0) {
            s = mv_fill_holes(&cur, &cur, -1, NULL);
            if (s == MV_OK) s = to_f32(&cur);
            done = 1;
        }
        if (!done && f[1] == 'T') {
            mv_reduce_op r = strcmp(f, "-Tmean") == 0 ? MV_REDUCE_MEAN : strcmp(f, "-Tstd") == 0 ? MV_REDUCE_STD
                           : strcmp(f, "-Tmin") == 0 ? MV_REDUCE_MIN : MV_REDUCE_MAX;
            s = mv_reduce_frames(&cur, r, &cur, NULL);
            done = 1;
        }
        if (!done) return usage_error(a, "unknown operation", f);
        if (s != MV_OK) {
            mv_free(&cur);
            return fail_at(s, a->pos[0]);
        }
    }
    return save_and_free(a->pos[1], &cur, NULL);
}

static int cmd_label(const args *a)
{
    mv_vol in, out;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_label_opts o = MV_ZERO_INIT;
    const char *s;
    int64_t v, n = 0;
    int st;
    mv_status r;
    o.connectivity = 26;
    if ((s = opt_str(a, "--connectivity"))) {
        if (parse_ints(s, &v, 1, 6, 26) != 1 || (v != 6 && v != 18 && v != 26))
            return usage_error(a, "connectivity 6, 18 or 26", s);
        o.connectivity = (int)v;
    }
    if ((s = opt_str(a, "--largest"))) {
        if (parse_ints(s, &v, 1, 1, MVT_BIG) != 1) return usage_error(a, "--largest N (N >= 1)", s);
        o.largest = v;
    }
    if ((s = opt_str(a, "--min-size"))) {
        if (parse_ints(s, &v, 1, 0, MVT_BIG) != 1) return usage_error(a, "--min-size V (voxels)", s);
        o.min_size = v;
    }
    if ((s = opt_str(a, "--order"))) {
        if (strcmp(s, "nibabel") == 0) o.order = MV_LABEL_ORDER_NIBABEL;
        else if (strcmp(s, "memory") == 0) o.order = MV_LABEL_ORDER_MEMORY;
        else if (strcmp(s, "size") == 0) o.order = MV_LABEL_ORDER_SIZE;
        else return usage_error(a, "--order nibabel|memory|size", s);
    }
    lo.scaled = 1;
    if ((st = load_or_fail(a->pos[0], &in, &lo)) != 0) return st;
    mv_vol_init(&out);
    r = mv_label(&in, &out, &n, &o);
    mv_free(&in);
    if (r != MV_OK) return fail_at(r, a->pos[0]);
    printf("%lld components\n", (long long)n);
    return save_and_free(a->pos[1], &out, NULL);
}

static int cmd_edt(const args *a)
{
    mv_vol in, out;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_edt_opts o = MV_ZERO_INIT;
    int st;
    mv_status r;
    o.sign = opt_flag(a, "--signed");
    o.voxel_units = opt_flag(a, "--voxels");
    lo.scaled = 1;
    if ((st = load_or_fail(a->pos[0], &in, &lo)) != 0) return st;
    mv_vol_init(&out);
    r = mv_edt(&in, &out, &o);
    mv_free(&in);
    if (r != MV_OK) return fail_at(r, a->pos[0]);
    return save_and_free(a->pos[1], &out, NULL);
}

static int cmd_crop_fg(const args *a)
{
    mv_vol in, out;
    mv_load_opts lo = MV_ZERO_INIT;
    const char *s;
    int64_t margin = 0, start[3], size[3];
    int st;
    mv_status r;
    if ((s = opt_str(a, "--margin")) && parse_ints(s, &margin, 1, 0, MVT_BIG) != 1)
        return usage_error(a, "--margin M (voxels >= 0)", s);
    if ((st = load_or_fail(a->pos[0], &in, &lo)) != 0) return st;
    mv_vol_init(&out);
    r = mv_foreground_box(&in, margin, start, size);
    if (r == MV_OK) r = mv_crop_foreground(&in, &out, margin, NULL);
    mv_free(&in);
    if (r != MV_OK) return fail_at(r, a->pos[0]);
    printf("box %lld,%lld,%lld size %lld,%lld,%lld\n", (long long)start[0], (long long)start[1], (long long)start[2],
           (long long)size[0], (long long)size[1], (long long)size[2]);
    return save_and_free(a->pos[1], &out, NULL);
}

/* per-label statistics (fslstats -k / -V / -M / -S style, one line a label) */
static int cmd_regions(const args *a)
{
    mv_vol v, l;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_region_stats *rs;
    int64_t nl = 0, i, t, T, nv;
    int st;
    mv_status r;
    lo.scaled = 1;
    if ((st = load_or_fail(a->pos[0], &v, &lo)) != 0) return st;
    if ((st = load_or_fail(a->pos[1], &l, NULL)) != 0) return st;
    if (mv_dtype_is_integer(l.dtype)) {
        int64_t *cnt = NULL, outside = 0, mx = 0;
        r = mv_label_sizes(&l, NULL, 0, &outside);
        /* the largest label: from a growing table */
        for (mx = 255; r == MV_OK; mx = mx * 16 + 15) {
            free(cnt);
            cnt = (int64_t *)malloc(sizeof(int64_t) * (size_t)(mx + 1));
            r = mv_label_sizes(&l, cnt, mx + 1, &outside);
            if (r != MV_OK || outside == 0 || mx > ((int64_t)1 << 24)) break;
        }
        for (nl = mx + 1; nl > 1 && cnt && cnt[nl - 1] == 0; nl--) {
        }
        free(cnt);
    } else
        nl = 2;
    nv = mv_vol_count(&l);
    T = mv_vol_count(&v) / (nv ? nv : 1);
    rs = (mv_region_stats *)malloc(sizeof(*rs) * (size_t)(nl * T));
    r = rs ? mv_region_stats_compute(&v, &l, nl, rs, NULL) : MV_ERR_OUT_OF_MEMORY;
    if (r != MV_OK) {
        free(rs);
        mv_free(&v);
        mv_free(&l);
        return fail_at(r, a->pos[1]);
    }
    printf("%-6s %-5s %10s %12s %14s %14s %14s %14s %14s  %s\n", "frame", "label", "voxels", "mm3", "mean", "std",
           "min", "max", "sum", "centroid (world mm)");
    for (t = 0; t < T; t++)
        for (i = 1; i < nl; i++) {
            const mv_region_stats *q = &rs[t * nl + i];
            if (!q->count) continue;
            printf("%-6lld %-5lld %10lld %12.6g %14.8g %14.8g %14.8g %14.8g %14.8g  %.4f %.4f %.4f\n", (long long)t,
                   (long long)i, (long long)q->count, q->volume_mm3, q->mean, q->std, q->min, q->max, q->sum,
                   q->centroid[0], q->centroid[1], q->centroid[2]);
        }
    free(rs);
    mv_free(&v);
    mv_free(&l);
    return 0;
}

const command mvtool_math_commands[] = {
    {"math", "fslmaths-style arithmetic, thresholds, masks, morphology, time reductions",
     "mvtool math IN [OP [ARG]]... OUT\n"
     "  Operations run left to right on the float32 values of IN (as fslmaths\n"
     "  -dt float; see medvol.h >>api-math): -add -sub -mul -div -min -max X\n"
     "  (X a number or an image on IN's grid; a 3D image applies to every frame),\n"
     "  -thr X (zero below X), -uthr X (zero above X), -mas IMG (zero where\n"
     "  IMG <= 0), -abs -sqrt -sqr -exp -log -recip -bin (x > 0) -binv -nan,\n"
     "  -ero (zero voxels with a zero in the 3x3x3 box), -dil (max over the box),\n"
     "  -fillh (fill holes of x != 0), -Tmean -Tstd -Tmin -Tmax (over frames).\n"
     "  -s SIGMA (Gaussian, sigma in mm: scipy gaussian_filter(x, SIGMA / spacing),\n"
     "  mode reflect, truncate 4; fslmaths' own boundary may differ). OUT is float32.\n",
     "-add= -sub= -mul= -div= -min= -max= -thr= -uthr= -mas= -abs -sqrt -sqr -exp -log -recip -bin -binv -nan "
     "-ero -dil -fillh -s= -Tmean -Tstd -Tmin -Tmax",
     2, 2, cmd_math},
    {"label", "connected components of the nonzero voxels (scipy.ndimage.label order)",
     "mvtool label IN OUT [--connectivity 6|18|26] [--largest N] [--min-size V] [--order nibabel|memory|size]\n"
     "  OUT: int32 labels 1..n (default 26-connectivity, scipy.ndimage.label's\n"
     "  order on nibabel's array); --largest keeps the N biggest, --min-size\n"
     "  drops components under V voxels. Prints the count.\n",
     "--connectivity= --largest= --min-size= --order=", 2, 2, cmd_label},
    {"edt", "exact Euclidean distance to the nearest zero voxel, in mm",
     "mvtool edt IN OUT [--signed] [--voxels]\n"
     "  scipy.ndimage.distance_transform_edt(IN != 0, sampling=spacing), float32;\n"
     "  --signed: negative inside (minus the distance to the background),\n"
     "  positive outside (the distance to the foreground); --voxels: spacing 1.\n",
     "--signed --voxels", 2, 2, cmd_edt},
    {"crop-foreground", "crop to the box of the voxels > 0 (MONAI CropForeground)",
     "mvtool crop-foreground IN OUT [--margin M]\n"
     "  The box of the voxels > 0 in any frame, widened by M voxels and clipped\n"
     "  to the volume; dtype and scaling kept, the affine moved with the box.\n",
     "--margin=", 2, 2, cmd_crop_fg},
    {"regions", "per-label voxels, mm^3, mean, std, min, max, sum, centroid",
     "mvtool regions VALUES LABELS\n"
     "  One line per nonzero label (and frame) of LABELS (integer labels, or a\n"
     "  mask: nonzero = 1) over the scaled values of VALUES on the same grid.\n",
     "", 2, 2, cmd_regions},
};
const int mvtool_math_ncommands = (int)(sizeof(mvtool_math_commands) / sizeof(mvtool_math_commands[0]));
