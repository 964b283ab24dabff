/* mvtool_ops.c - the ops family of mvtool: time points (frames, split,
   merge), one-step intensity and spatial operations (znorm, rescale,
   clamp, crop-or-pad, flip, reorient), resampling and chains of steps read
   crop-first, the FFTs (numpy's and the centred ones) and root-sum-of-
   squares (mvtool's and bart rss's). Conventions as in mvtool.c's header:
   intensity operations and resampling write float32, spatial ones keep the
   dtype, the FFTs write complex64. */
#include "mvtool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- time points: frames, split, merge ---- */

/* "T0[,N]" or fslroi's "T0 N": N time points from T0 (default 1); a single
   one is 3D (squeeze). */
static int cmd_frames(const args *a)
{
    mv_load_opts o;
    mv_vol v;
    int64_t t[2] = {0, 1};
    int k = parse_ints(a->pos[2], t, a->npos == 4 ? 1 : 2, 0, MVT_BIG);
    if (k < 1 || (k == 2 && t[1] < 1)) return usage_error(a, "frames wants T0 or T0,N (whole numbers, T0 >= 0, N >= 1)", a->pos[2]);
    if (a->npos == 4 && parse_ints(a->pos[3], t + 1, 1, 1, MVT_BIG) != 1)
        return usage_error(a, "frames wants N >= 1 (a whole number)", a->pos[3]);
    memset(&o, 0, sizeof(o));
    o.box_start[3] = t[0];
    o.box_size[3] = t[1];
    o.squeeze = t[1] == 1;
    if (load_or_fail(a->pos[0], &v, &o)) return 1;
    return save_and_free(a->pos[1], &v, NULL);
}

/* PREFIX + 4-digit time index + extension: the extension PREFIX ends with
   (.nii, .nii.gz, .hdr, .hdr.gz, .img, .img.gz, MetaImage .mha, .mhd,
   NRRD .nrrd, .nhdr, FreeSurfer .mgh, .mgz), else .nii.gz (fslsplit's). */
static int split_name(const char *prefix, int64_t t, char *out, size_t cap)
{
    static const char *exts[] = {".nii.gz", ".hdr.gz", ".img.gz", ".nii", ".hdr", ".img", ".mha", ".mhd", ".nrrd", ".nhdr",
                                 ".mgh", ".mgz"};
    size_t n = strlen(prefix), e;
    int i, w;
    for (i = 0; i < (int)(sizeof(exts) / sizeof(exts[0])); i++) {
        e = strlen(exts[i]);
        if (n >= e && strcmp(prefix + n - e, exts[i]) == 0) {
            w = snprintf(out, cap, "%.*s%04lld%s", (int)(n - e), prefix, (long long)t, exts[i]);
            return w > 0 && (size_t)w < cap;
        }
    }
    w = snprintf(out, cap, "%s%04lld.nii.gz", prefix, (long long)t);
    return w > 0 && (size_t)w < cap;
}

/* One 3D file per time point (dims[3]); the volume is read once. Each
   frame is a view of it saved with the input's metadata. */
static int cmd_split(const args *a)
{
    mv_vol v;
    int64_t t, nt, frame;
    char name[4096];
    const char *prefix = a->npos > 1 ? a->pos[1] : "vol";
    int i;
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    for (i = 4; i < v.ndim; i++)
        if (v.dim[i] != 1) {
            mv_free(&v);
            fprintf(stderr, "mvtool split: %s: %dD with dims[%d] = %lld: split takes 3D or 4D files\n", a->pos[0], v.ndim, i,
                    (long long)v.dim[i]);
            return 1;
        }
    nt = v.ndim > 3 ? v.dim[3] : 1;
    frame = (int64_t)mv_dtype_size(v.dtype) * v.dim[0] * v.dim[1] * v.dim[2];
    for (t = 0; t < nt; t++) {
        mv_vol f = v;
        mv_status st;
        if (!split_name(prefix, t, name, sizeof(name))) {
            mv_free(&v);
            return usage_error(a, "PREFIX too long", prefix);
        }
        f.data = (unsigned char *)v.data + (size_t)(t * frame);
        f.flags = MV_VOL_BORROWED;
        f.ndim = v.ndim < 3 ? v.ndim : 3;
        for (i = 3; i < MV_MAX_DIMS; i++) {
            f.dim[i] = 1;
            f.spacing[i] = 1;
        }
        st = mv_save(name, &f, NULL);
        if (st != MV_OK) {
            mv_free(&v);
            return fail_at(st, name);
        }
        if (t == 0) warn_unwritten_pairs(name, &f); /* (the frames' files alike: said once) */
    }
    mv_free(&v);
    return 0;
}

/* The inputs, 3D or 4D, one after the other along dims[3] (fslmerge -t).
   All must share the first file's grid: dims 0-2 and affine (1e-6 mm). The
   result keeps the first file's metadata; its dtype and scaling too when
   every file shares them (the stored values are concatenated), else the
   scaled values go to float32. */
static int cmd_merge(const args *a)
{
    int n = a->npos - 1, f, same = 1, r, c, i;
    char **in = a->pos + 1;
    mv_vol first, out, v;
    int64_t nt = 0, dims[4];
    size_t off = 0;
    mv_status st;
    mv_load_opts ho;
    memset(&ho, 0, sizeof(ho));
    ho.header_only = 1;
    ho.squeeze = 1;
    if (load_or_fail(in[0], &first, &ho)) return 1;
    for (f = 0; f < n; f++) { /* the grid check, headers only */
        if (load_or_fail(in[f], &v, &ho)) {
            mv_free(&first);
            return 1;
        }
        for (i = 0, st = MV_OK; i < 3; i++)
            if (v.dim[i] != first.dim[i]) st = MV_ERR_INVALID_ARG;
        for (r = 0; r < 3; r++)
            for (c = 0; c < 4; c++)
                if (fabs(v.affine[r][c] - first.affine[r][c]) > 1e-6) st = MV_ERR_INVALID_ARG;
        if (v.ndim > 4) st = MV_ERR_UNSUPPORTED;
        if (st != MV_OK) {
            fprintf(stderr, "mvtool merge: %s: %s (%lld x %lld x %lld, %dD) than %s (%lld x %lld x %lld): merge needs one 3D grid "
                    "(dims and affine) and 3D or 4D files\n", in[f], v.ndim > 4 ? "more axes" : "another grid",
                    (long long)v.dim[0], (long long)v.dim[1], (long long)v.dim[2], v.ndim, in[0], (long long)first.dim[0],
                    (long long)first.dim[1], (long long)first.dim[2]);
            mv_free(&v);
            mv_free(&first);
            return 1;
        }
        same = same && v.dtype == first.dtype && v.meta.scl_slope == first.meta.scl_slope &&
               v.meta.scl_inter == first.meta.scl_inter;
        nt += v.ndim > 3 ? v.dim[3] : 1;
        mv_free(&v);
    }
    dims[0] = first.dim[0];
    dims[1] = first.dim[1];
    dims[2] = first.dim[2];
    dims[3] = nt;
    st = mv_vol_copy_meta(&first, &out);
    if (st == MV_OK) {
        mv_vol t;
        st = mv_vol_alloc(&t, same ? first.dtype : MV_DT_F32, 4, dims, NULL);
        if (st == MV_OK) {
            out.data = t.data;
            out.flags = t.flags;
            out.mem_base = t.mem_base;
            out.mem_size = t.mem_size;
            out.dtype = t.dtype;
            out.ndim = 4;
            out.dim[3] = nt;
            out.spacing[3] = first.ndim > 3 ? first.spacing[3] : 1;
            if (!same) {
                out.meta.scl_slope = 1;
                out.meta.scl_inter = 0;
            }
        }
    }
    mv_free(&first);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    for (f = 0; f < n && st == MV_OK; f++) {
        mv_load_opts o;
        memset(&o, 0, sizeof(o));
        o.scaled = !same;
        o.dtype = out.dtype;
        st = mv_load(in[f], &v, &o);
        if (st != MV_OK) break;
        if (off + mv_vol_bytes(&v) > mv_vol_bytes(&out)) { /* changed since its header was read */
            mv_free(&v);
            st = mv_set_error(MV_ERR_BAD_DATA, "%s: more voxels than its header said a moment ago", in[f]);
            break;
        }
        memcpy((unsigned char *)out.data + off, v.data, mv_vol_bytes(&v));
        off += mv_vol_bytes(&v);
        mv_free(&v);
    }
    if (st != MV_OK) {
        mv_free(&out);
        return fail_at(st, in[f]);
    }
    return save_and_free(a->pos[0], &out, NULL);
}

/* ---- intensity and spatial operations (one-step chains) ---- */

static int run_chain(const char *in, const char *out, const mv_op *ops, int n)
{
    mv_vol v;
    mv_status st = mv_pipeline_load(in, ops, n, &v, NULL);
    if (st != MV_OK) return fail_at(st, in);
    return save_and_free(out, &v, NULL);
}

static int cmd_znorm(const args *a)
{
    mv_intensity_opts o;
    const char *mask_path = opt_str(a, "--mask");
    mv_vol v, m, out;
    mv_status st;
    memset(&o, 0, sizeof(o));
    o.nonzero = opt_flag(a, "--nonzero");
    o.per_frame = opt_flag(a, "--per-frame");
    if (!mask_path && !o.per_frame) {
        mv_op op = mv_op_znorm(o.nonzero);
        return run_chain(a->pos[0], a->pos[1], &op, 1);
    }
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    mv_vol_init(&m);
    if (mask_path && load_or_fail(mask_path, &m, NULL)) {
        mv_free(&v);
        return 1;
    }
    o.mask = mask_path ? &m : NULL;
    st = mv_znorm(&v, &out, &o);
    mv_free(&v);
    mv_free(&m);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[1], &out, NULL);
}

static int cmd_rescale(const args *a)
{
    double r[2] = {0, 1}, pct[2] = {0, 0};
    const char *p = opt_str(a, "--pct");
    mv_op op;
    if (p && parse_list(p, pct, 2) != 2) return usage_error(a, "--pct wants P1,P2", p);
    if (a->npos == 3 && parse_list(a->pos[2], r, 2) != 2) return usage_error(a, "range wants LO,HI", a->pos[2]);
    op = mv_op_rescale_pct(r[0], r[1], pct[0], pct[1], opt_flag(a, "--clip"));
    op.nonzero = opt_flag(a, "--nonzero");
    return run_chain(a->pos[0], a->pos[1], &op, 1);
}

static int cmd_clamp(const args *a)
{
    double r[2];
    mv_op op;
    if (parse_list(a->pos[2], r, 2) != 2) return usage_error(a, "range wants LO,HI", a->pos[2]);
    op = mv_op_clamp(r[0], r[1]);
    return run_chain(a->pos[0], a->pos[1], &op, 1);
}

static int cmd_crop_or_pad(const args *a)
{
    int64_t sh[3];
    double fill = 0;
    const char *f = opt_str(a, "--fill");
    mv_op op;
    if (parse_ints(a->pos[2], sh, 3, -MVT_BIG, MVT_BIG) != 3) return usage_error(a, "shape wants X,Y,Z (whole numbers)", a->pos[2]);
    if (f && parse_list(f, &fill, 1) != 1) return usage_error(a, "--fill wants a number", f);
    op = mv_op_crop_or_pad(sh[0], sh[1], sh[2], fill);
    return run_chain(a->pos[0], a->pos[1], &op, 1);
}

static int axes_mask(const char *s, unsigned *mask)
{
    int64_t ax[7];
    int n = parse_ints(s, ax, 7, 0, 6), i;
    *mask = 0;
    if (n <= 0) return 0;
    for (i = 0; i < n; i++) *mask |= 1u << (int)ax[i];
    return 1;
}

static int cmd_flip(const args *a)
{
    unsigned mask;
    mv_op op;
    int64_t bits;
    if (parse_ints(a->pos[0], &bits, 1, 0, INT64_MAX) == 1) return mvtool_flip_bart(a); /* bart flip BITMASK IN OUT */
    if (!axes_mask(a->pos[2], &mask)) return usage_error(a, "axes wants a list like 0 or 0,2 (axes 0..6)", a->pos[2]);
    op = mv_op_flip(mask);
    return run_chain(a->pos[0], a->pos[1], &op, 1);
}

static int cmd_reorient(const args *a)
{
    mv_op op = mv_op_reorient(a->pos[2]);
    return run_chain(a->pos[0], a->pos[1], &op, 1);
}

/* ---- resampling ---- */

typedef struct resample_step {
    int by_spacing;         /* 0: shape[], 1: spacing[] */
    int64_t shape[3];
    double spacing[3];
    mv_resample_opts o;
} resample_step;

int parse_interp(const char *s, mv_interp *interp)
{
    if (strcmp(s, "nearest") == 0) *interp = MV_INTERP_NEAREST;
    else if (strcmp(s, "linear") == 0) *interp = MV_INTERP_LINEAR;
    else if (strcmp(s, "cubic") == 0) *interp = MV_INTERP_CUBIC;
    else return 0;
    return 1;
}

/* "X,Y,Z" as three whole voxel counts >= 1 */
int parse_shape(const char *s, int64_t *shape)
{
    return parse_ints(s, shape, 3, 1, 2147483647) == 3;
}

/* "A,B,C" as three spacings in mm, finite and > 0 */
int parse_spacing(const char *s, double *spacing)
{
    int a;
    if (parse_list(s, spacing, 3) != 3) return 0;
    for (a = 0; a < 3; a++)
        if (!(spacing[a] > 0 && spacing[a] < 1e300)) return 0;
    return 1;
}

/* float32 output for every interpolation (nearest would keep the dtype) */
static void resample_step_init(resample_step *r)
{
    memset(r, 0, sizeof(*r));
    r->o.interp = MV_INTERP_LINEAR;
    r->o.dtype = MV_DT_F32;
}

static mv_status resample_run(const resample_step *r, const mv_vol *in, mv_vol *out)
{
    return r->by_spacing ? mv_resample_spacing(in, out, r->spacing, &r->o) : mv_resample_shape(in, out, r->shape, &r->o);
}

static int cmd_resample(const args *a)
{
    resample_step r;
    const char *shape = opt_str(a, "--shape"), *spacing = opt_str(a, "--spacing"), *interp = opt_str(a, "--interp");
    mv_vol v, out;
    mv_status st;
    resample_step_init(&r);
    if (shape && !parse_shape(shape, r.shape)) return usage_error(a, "--shape wants X,Y,Z (whole numbers >= 1)", shape);
    if (spacing && !parse_spacing(spacing, r.spacing)) return usage_error(a, "--spacing wants A,B,C (mm, > 0)", spacing);
    if (interp && !parse_interp(interp, &r.o.interp)) return usage_error(a, "--interp wants nearest, linear or cubic", interp);
    r.o.align_corners = opt_flag(a, "--align-corners");
    if (!shape == !spacing) return usage_error(a, "give exactly one of --shape X,Y,Z and --spacing A,B,C", NULL);
    r.by_spacing = spacing != NULL;
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    st = resample_run(&r, &v, &out);
    mv_free(&v);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[1], &out, NULL);
}

/* "resample:shape:X,Y,Z[:INTERP]" or "resample:spacing:A,B,C[:INTERP]" */
static int parse_resample_step(const char *text, resample_step *r)
{
    char buf[256], *kind, *list, *interp;
    if (strncmp(text, "resample:", 9) != 0 || strlen(text) >= sizeof(buf)) return 0;
    strcpy(buf, text + 9);
    kind = buf;
    list = strchr(kind, ':');
    if (!list) return 0;
    *list++ = 0;
    interp = strchr(list, ':');
    if (interp) *interp++ = 0;
    resample_step_init(r);
    if (interp && !parse_interp(interp, &r->o.interp)) return 0;
    if (strcmp(kind, "shape") == 0) return parse_shape(list, r->shape);
    r->by_spacing = 1;
    return strcmp(kind, "spacing") == 0 && parse_spacing(list, r->spacing);
}

/* one chain step from "name:arg:arg" */
static int parse_step(const char *text, mv_op *op)
{
    char buf[256], *part[5], *p;
    int n = 0;
    double a[3];
    int64_t ia[3], ib[3];
    if (strlen(text) >= sizeof(buf)) return 0;
    strcpy(buf, text);
    for (p = buf; n < 5; n++) {
        part[n] = p;
        p = strchr(p, ':');
        if (!p) {
            n++;
            break;
        }
        *p++ = 0;
    }
    if (!strcmp(part[0], "crop-or-pad") && n >= 2 && parse_ints(part[1], ia, 3, -MVT_BIG, MVT_BIG) == 3) {
        double fill = 0;
        if (n == 3 && parse_list(part[2], &fill, 1) != 1) return 0;
        *op = mv_op_crop_or_pad(ia[0], ia[1], ia[2], fill);
        return n <= 3;
    }
    if (!strcmp(part[0], "box") && n >= 3 && parse_ints(part[1], ia, 3, -MVT_BIG, MVT_BIG) == 3 &&
        parse_ints(part[2], ib, 3, -MVT_BIG, MVT_BIG) == 3) {
        double fill = 0;
        if (n == 4 && parse_list(part[3], &fill, 1) != 1) return 0;
        *op = mv_op_box(ia, ib, fill);
        return n <= 4;
    }
    if (!strcmp(part[0], "flip") && n == 2) {
        unsigned mask;
        if (!axes_mask(part[1], &mask)) return 0;
        *op = mv_op_flip(mask);
        return 1;
    }
    if (!strcmp(part[0], "permute") && n == 2 && parse_ints(part[1], ia, 3, 0, 2) == 3) {
        *op = mv_op_permute((int)ia[0], (int)ia[1], (int)ia[2]);
        return 1;
    }
    if (!strcmp(part[0], "reorient") && n == 2) {
        *op = mv_op_reorient(part[1]);
        return 1;
    }
    if (!strcmp(part[0], "rot90") && n == 3 && parse_ints(part[1], ia, 1, -1000000, 1000000) == 1 &&
        parse_ints(part[2], ib, 2, 0, 2) == 2) {
        *op = mv_op_rot90((int)ia[0], (int)ib[0], (int)ib[1]);
        return 1;
    }
    if (!strcmp(part[0], "znorm") && (n == 1 || (n == 2 && !strcmp(part[1], "nonzero")))) {
        *op = mv_op_znorm(n == 2);
        return 1;
    }
    if (!strcmp(part[0], "rescale")) {
        double r[2] = {0, 1}, pct[2] = {0, 0};
        if (n >= 2 && parse_list(part[1], r, 2) != 2) return 0;
        if (n >= 3 && parse_list(part[2], pct, 2) != 2) return 0;
        if (n == 4 && strcmp(part[3], "clip")) return 0;
        *op = mv_op_rescale_pct(r[0], r[1], pct[0], pct[1], n == 4);
        return n <= 4;
    }
    if (!strcmp(part[0], "clamp") && n == 2 && parse_list(part[1], a, 2) == 2) {
        *op = mv_op_clamp(a[0], a[1]);
        return 1;
    }
    if (!strcmp(part[0], "cast") && (n == 2 || (n == 3 && !strcmp(part[2], "trunc")))) {
        mv_dtype dt = mv_dtype_from_name(part[1]);
        if (dt == MV_DT_UNKNOWN) return 0;
        *op = mv_op_cast(dt, n == 3 ? MV_ROUND_TRUNCATE : MV_ROUND_NEAREST);
        return 1;
    }
    return 0;
}

/* Runs ops[0..n) on *v in one pass (mv_pipeline), replacing it. */
static mv_status chain_segment(mv_vol *v, const mv_op *ops, int n)
{
    mv_vol out;
    mv_status st;
    if (n == 0) return MV_OK;
    mv_vol_init(&out); /* outputs must be initialised (medvol.h MEMORY) */
    st = mv_pipeline(v, ops, n, &out, NULL);
    if (st != MV_OK) return st;
    mv_free(v);
    *v = out;
    return MV_OK;
}

/* A chain with resample steps: mv_pipeline's one pass moves voxels (its
   spatial steps compose into one voxel-to-voxel map) and cannot
   interpolate, so the steps between resample steps run as one pipeline each
   (the first one loads crop-first), with a resampling between them. */
static int run_chain_resampled(const char *in, const char *outp, const mv_op *ops, const int *resample_at,
                               const resample_step *rs, int n)
{
    mv_vol v, out;
    mv_status st;
    int first = 0, i;
    while (first < n && resample_at[first] < 0) first++;
    st = first > 0 ? mv_pipeline_load(in, ops, first, &v, NULL) : mv_load(in, &v, NULL);
    if (st != MV_OK) return fail_at(st, in);
    for (i = first; i < n && st == MV_OK;) {
        int end = i + 1;
        st = resample_run(&rs[resample_at[i]], &v, &out);
        if (st != MV_OK) break;
        mv_free(&v);
        v = out;
        while (end < n && resample_at[end] < 0) end++;
        st = chain_segment(&v, ops + i + 1, end - i - 1);
        i = end;
    }
    if (st != MV_OK) {
        mv_free(&v);
        return fail_at(st, in);
    }
    return save_and_free(outp, &v, NULL);
}

static int cmd_chain(const args *a)
{
    mv_op ops[64];
    resample_step rs[64];
    int resample_at[64], i, n = a->npos - 2, n_rs = 0;
    char **steps = a->pos + 2;
    if (n > 64) return usage_error(a, "at most 64 steps; this one is the 65th", steps[64]);
    for (i = 0; i < n; i++) {
        resample_at[i] = -1;
        memset(&ops[i], 0, sizeof(ops[i]));
        if (strncmp(steps[i], "resample:", 9) == 0) {
            if (!parse_resample_step(steps[i], &rs[n_rs])) return usage_error(a, "malformed resample step", steps[i]);
            resample_at[i] = n_rs++;
        } else if (!parse_step(steps[i], &ops[i])) {
            return usage_error(a, "unknown or malformed step", steps[i]);
        }
    }
    if (n_rs == 0) return run_chain(a->pos[0], a->pos[1], ops, n);
    return run_chain_resampled(a->pos[0], a->pos[1], ops, resample_at, rs, n);
}

/* ---- FFT subcommands ---- */

/* fft / ifft / fftc / ifftc: load, promote to complex64 (NIfTI scaling
   applied), transform the spatial axes in place (higher axes are a batch:
   each volume on its own), save complex64 with the input's geometry. The
   centred forms are mv_fftc_into: no data moves for the shifts. */
static int fft_run(const args *a, int inverse, int centred)
{
    mv_vol v, c;
    mv_convert_opts co;
    mv_fft_opts fo;
    mv_status st;
    int n_axes;
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    memset(&co, 0, sizeof(co));
    co.scaled = 1;
    st = mv_convert(&v, &c, MV_DT_C64, &co);
    mv_free(&v);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    memset(&fo, 0, sizeof(fo));
    fo.norm = centred ? MV_FFT_ORTHO : MV_FFT_BACKWARD;
    n_axes = c.ndim < 3 ? c.ndim : 3;
    if (centred) st = mv_fftc_into(&c, &c, (1u << n_axes) - 1, inverse, NULL);
    else st = mv_fft_c2c(c.data, c.data, c.ndim, c.dim, (1u << n_axes) - 1, inverse, &fo);
    if (st != MV_OK) {
        mv_free(&c);
        return fail_at(st, a->pos[0]);
    }
    return save_and_free(a->pos[1], &c, NULL);
}
/* BART's axes as plan dims: the axes of size above 1 (BART clears the
   flags of singleton axes too), each run of untransformed neighbours merged
   into one dim; pd[np] with the transformed ones in pmask; sd[ns] / smask
   the same axes unmerged. np may exceed a plan's 7 dims. */
typedef struct bart_axes {
    int64_t pd[16], sd[16];
    int np, ns;
    unsigned pmask, smask;
} bart_axes;

static void bart_axes_of(const int64_t bd[16], int64_t flags, bart_axes *g)
{
    int ax;
    memset(g, 0, sizeof(*g));
    for (ax = 0; ax < 16; ax++) {
        const int tr = (int)(flags >> ax & 1);
        if (bd[ax] == 1) continue;
        if (tr) g->smask |= 1u << g->ns;
        g->sd[g->ns++] = bd[ax];
        if (!tr && g->np > 0 && !(g->pmask >> (g->np - 1) & 1)) {
            g->pd[g->np - 1] *= bd[ax];
        } else {
            if (tr) g->pmask |= 1u << g->np;
            g->pd[g->np++] = bd[ax];
        }
    }
}

/* The axis-by-axis form of a separable operation on more plan dims than 7:
   transformed axis k of g as (before, n, after) */
static void bart_axis_view(const bart_axes *g, int k, int64_t d3[3])
{
    int j;
    d3[0] = 1, d3[1] = g->sd[k], d3[2] = 1;
    for (j = 0; j < k; j++) d3[0] *= g->sd[j];
    for (j = k + 1; j < g->ns; j++) d3[2] *= g->sd[j];
}

/* fft [-u] [-i] [-n] BITMASK IN OUT, BART's form (bart fft) on .cfl files:
   the FFT over the axes of BITMASK (bit a: BART's axis a, all 16), centred
   by BART's fftmod before and after (mv_fftmod, BART's rounding; -n: not),
   unnormalised (-u: unitary, 1 / sqrt of the transformed size), forward or
   (-i) inverse, unnormalised too (BART's ifft does not divide); BART's 16
   sizes written back. One plan over bart_axes_of's dims; when that leaves
   more than medvol's 7 dims, one plan per transformed axis (the transform
   is separable; each as (before, n, after)) */
static mv_status fft_bart_plan(float *x, int np, const int64_t *pd, unsigned pmask, int inverse, mv_fft_norm norm)
{
    mv_fft_opts fo;
    mv_fft_plan *pl = NULL;
    mv_status st;
    memset(&fo, 0, sizeof(fo));
    fo.norm = norm;
    st = mv_fft_plan_c2c(&pl, np, pd, pmask, inverse, &fo);
    if (st == MV_OK) st = mv_fft_execute(pl, x, x);
    mv_fft_plan_free(pl);
    return st;
}

mv_status bart_fft_samples(float *x, const int64_t bd[16], unsigned flags, int inverse, mv_fft_norm norm, int centred)
{
    bart_axes g;
    int k;
    mv_status st = MV_OK;
    bart_axes_of(bd, (int64_t)flags, &g);
    if (!g.pmask) return MV_OK;
    if (centred) st = mv_fftmod(x, x, 16, bd, flags, inverse, NULL);
    if (st == MV_OK && g.np <= MV_MAX_DIMS) {
        st = fft_bart_plan(x, g.np, g.pd, g.pmask, inverse, norm);
    } else {
        for (k = 0; k < g.ns && st == MV_OK; k++)
            if (g.smask >> k & 1) {
                int64_t d3[3];
                bart_axis_view(&g, k, d3);
                st = fft_bart_plan(x, 3, d3, 2u, inverse, norm);
            }
    }
    if (st == MV_OK && centred) st = mv_fftmod(x, x, 16, bd, flags, inverse, NULL);
    return st;
}

static int fft_bart(const args *a)
{
    mv_vol v;
    int64_t flags = 0, bd[16];
    int rc, inverse = opt_flag(a, "-i");
    const mv_fft_norm norm = opt_flag(a, "-u") ? MV_FFT_ORTHO : inverse ? MV_FFT_FORWARD : MV_FFT_BACKWARD; /* unnormalised both ways */
    mv_status st;
    if (parse_ints(a->pos[0], &flags, 1, 0, 65535) != 1)
        return usage_error(a, "BITMASK: the dims to transform, 0 .. 65535 (bart fft's)", a->pos[0]);
    if ((rc = cfl_load_folded(a->pos[1], &v, bd))) return rc;
    st = bart_fft_samples((float *)v.data, bd, (unsigned)flags, inverse, norm, !opt_flag(a, "-n"));
    if (st != MV_OK) {
        mv_free(&v);
        return fail_at(st, a->pos[1]);
    }
    return cfl_save_dims(a->pos[2], &v, bd);
}

/* fftmod [-i] BITMASK IN OUT: bart fftmod (the same bytes: mv_fftmod) */
static int cmd_fftmod(const args *a)
{
    mv_vol v;
    int64_t flags = 0, bd[16];
    int rc;
    mv_status st;
    if (parse_ints(a->pos[0], &flags, 1, 0, 65535) != 1)
        return usage_error(a, "BITMASK: the dims to modulate, 0 .. 65535 (bart fftmod's)", a->pos[0]);
    if ((rc = cfl_load_folded(a->pos[1], &v, bd))) return rc;
    st = mv_fftmod(v.data, v.data, 16, bd, (unsigned)flags, opt_flag(a, "-i") || opt_flag(a, "-b"), NULL);
    if (st != MV_OK) {
        mv_free(&v);
        return fail_at(st, a->pos[1]);
    }
    return cfl_save_dims(a->pos[2], &v, bd);
}

static void vol_swap(mv_vol *x, mv_vol *y)
{
    const mv_vol s = *x;
    *x = *y, *y = s;
}

/* fftshift [-b] BITMASK IN OUT: bart fftshift (-b its ifftshift), numpy's
   rolls by n/2 (mv_fftshift_into) over bart_axes_of's dims, or axis by axis
   past 7 of them; in place on the loaded data when every shifted length is
   even (a swap of halves: no second 134 MB buffer to fault in), else
   through a second buffer */
static int cmd_fftshift(const args *a)
{
    mv_vol v, t, vi, vo;
    int64_t flags = 0, bd[16], d3[3];
    bart_axes g;
    int rc, k, even = 1, inverse = opt_flag(a, "-b");
    mv_status st = MV_OK;
    if (parse_ints(a->pos[0], &flags, 1, 0, 65535) != 1)
        return usage_error(a, "BITMASK: the dims to shift, 0 .. 65535 (bart fftshift's)", a->pos[0]);
    if ((rc = cfl_load_folded(a->pos[1], &v, bd))) return rc;
    bart_axes_of(bd, flags, &g);
    for (k = 0; k < g.ns; k++)
        if ((g.smask >> k & 1) && g.sd[k] % 2) even = 0;
    mv_vol_init(&t);
    if (g.pmask && !even) st = mv_vol_alloc(&t, MV_DT_C64, v.ndim, v.dim, NULL);
    if (st == MV_OK && g.pmask && g.np <= MV_MAX_DIMS) {
        st = mv_vol_wrap(&vi, v.data, MV_DT_C64, g.np, g.pd);
        if (st == MV_OK) st = mv_vol_wrap(&vo, even ? v.data : t.data, MV_DT_C64, g.np, g.pd);
        if (st == MV_OK) st = mv_fftshift_into(&vi, &vo, g.pmask, inverse, NULL);
        if (st == MV_OK && !even) vol_swap(&v, &t);
    } else if (st == MV_OK) {
        for (k = 0; k < g.ns && st == MV_OK; k++)
            if (g.smask >> k & 1) { /* from v into t, then the two swap (in place when even) */
                bart_axis_view(&g, k, d3);
                st = mv_vol_wrap(&vi, v.data, MV_DT_C64, 3, d3);
                if (st == MV_OK) st = mv_vol_wrap(&vo, even ? v.data : t.data, MV_DT_C64, 3, d3);
                if (st == MV_OK) st = mv_fftshift_into(&vi, &vo, 2u, inverse, NULL);
                if (st == MV_OK && !even) vol_swap(&v, &t);
            }
    }
    mv_free(&t);
    if (st != MV_OK) {
        mv_free(&v);
        return fail_at(st, a->pos[1]);
    }
    return cfl_save_dims(a->pos[2], &v, bd);
}

static int cmd_fft(const args *a)
{
    if (a->npos == 3) return fft_bart(a);
    if (opt_flag(a, "-u") || opt_flag(a, "-i") || opt_flag(a, "-n"))
        return usage_error(a, "-u, -i and -n are bart fft's: fft [-u] [-i] [-n] BITMASK IN OUT", a->pos[0]);
    return fft_run(a, 0, 0);
}
static int cmd_ifft(const args *a) { return fft_run(a, 1, 0); }
static int cmd_fftc(const args *a) { return fft_run(a, 0, 1); }
static int cmd_ifftc(const args *a) { return fft_run(a, 1, 1); }

/* rss BITMASK IN OUT, BART's form (bart rss): .cfl files, the root sum of
   squares over the axes of BITMASK (bit a: BART's axis a, all 16 of them:
   the groups walk the file's own axes, so a folded frame axis combines
   alone), each kept as an axis of 1, complex out (imaginary 0), BART's
   16 sizes written back. The squares of the float parts are summed in
   float64 (BART sums in float32: the two agree to float rounding). bart
   rss 8 combines coils, bart rss 16 ESPIRiT maps, bart rss 1024 frames. */
static int rss_bart(const args *a)
{
    mv_vol v, r;
    int64_t flags = 0, bd[16], gd[16], fd[MV_MAX_DIMS], i, n;
    cfl_groups g;
    double *acc;
    mv_status st;
    int rc;
    if (parse_ints(a->pos[0], &flags, 1, 0, 65535) != 1)
        return usage_error(a, "BITMASK: the dims to combine, 0 .. 65535 (bart rss's)", a->pos[0]);
    if ((rc = cfl_load_folded(a->pos[1], &v, bd))) return rc;
    cfl_groups_init(&g, bd, (unsigned)flags, gd);
    mv_vol_init(&r);
    st = mv_vol_alloc(&r, MV_DT_C64, cfl_fold_dims(gd, fd), fd, NULL);
    n = mv_vol_count(&r);
    acc = st == MV_OK ? (double *)calloc((size_t)n, sizeof(double)) : NULL;
    if (st == MV_OK && !acc) st = mv_set_error(MV_ERR_OUT_OF_MEMORY, "rss: %lld sums", (long long)n);
    if (st != MV_OK) {
        mv_free(&v);
        mv_free(&r);
        return fail_at(st, a->pos[1]);
    }
    for (i = 0; i < mv_vol_count(&v); i++, cfl_groups_next(&g)) {
        const float *x = (const float *)v.data + 2 * i;
        acc[g.at] += (double)(x[0] * x[0]) + (double)(x[1] * x[1]);
    }
    for (i = 0; i < n; i++) {
        ((float *)r.data)[2 * i] = (float)sqrt(acc[i]);
        ((float *)r.data)[2 * i + 1] = 0;
    }
    free(acc);
    mv_free(&v);
    return cfl_save_dims(a->pos[2], &r, gd);
}

/* rss: root-sum-of-squares over the coil axis (dims[3], BART's coil
   dimension; dims[4..] stay, one RSS per volume), float32 out. complex64
   and float32 go straight in; other dtypes, and scaled files, through
   their scaled values (complex128 as complex64). A file with no coil axis
   (3D) gives |x|. Three arguments: BART's form (rss_bart). */
static int cmd_rss(const args *a)
{
    mv_vol v, c, r;
    mv_convert_opts co;
    mv_status st;
    int scaled;
    if (a->npos == 3) return rss_bart(a);
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    scaled = (v.meta.scl_slope != 0 && v.meta.scl_slope != 1) || v.meta.scl_inter != 0;
    if ((v.dtype != MV_DT_C64 && v.dtype != MV_DT_F32) || scaled) {
        memset(&co, 0, sizeof(co));
        co.scaled = 1;
        st = mv_convert(&v, &c, mv_dtype_is_complex(v.dtype) ? MV_DT_C64 : MV_DT_F32, &co);
        mv_free(&v);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
        v = c;
    }
    st = mv_rss(&v, &r, NULL);
    mv_free(&v);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    return save_and_free(a->pos[1], &r, NULL);
}

/* ---- the family's rows (mvtool.c lists them after its own) ---- */

const command mvtool_ops_commands[] = {
    {"znorm", "z-normalise (float32 out)",
     "mvtool znorm IN OUT [--nonzero] [--mask MASK] [--per-frame]\n", "--nonzero --mask= --per-frame", 2, 2, cmd_znorm},
    {"rescale", "min-max (or percentile) rescale, default to 0,1",
     "mvtool rescale IN OUT [LO,HI] [--pct P1,P2] [--clip] [--nonzero]   (default 0,1; float32)\n",
     "--pct= --clip --nonzero", 2, 3, cmd_rescale},
    {"clamp", "clamp to LO,HI (float32 out)", "mvtool clamp IN OUT LO,HI\n", "", 3, 3, cmd_clamp},
    {"crop-or-pad", "centred crop / pad (dtype kept)", "mvtool crop-or-pad IN OUT X,Y,Z [--fill V]\n", "--fill=", 3, 3,
     cmd_crop_or_pad},
    {"flip", "flip axes (dtype kept); bart flip's form on .cfl files",
     "mvtool flip IN OUT AXES                  (e.g. 0 or 0,2)\n"
     "mvtool flip BITMASK IN OUT               bart flip: .cfl, BART's 16 axes\n",
     "", 3, 3, cmd_flip},
    {"reorient", "reorient to an orientation code (dtype kept)", "mvtool reorient IN OUT CODE              (e.g. RAS, LPS)\n",
     "", 3, 3, cmd_reorient},
    {"resample", "resample to a shape or spacing (scipy zoom grid, float32 out)",
     "mvtool resample IN OUT --shape X,Y,Z | --spacing A,B,C [--interp nearest|linear|cubic]\n"
     "                [--align-corners]\n"
     "  default linear, field of view kept (scipy zoom grid); float32 out; 4D: each\n"
     "  time point.\n",
     "--shape= --spacing= --interp= --align-corners", 2, 2, cmd_resample},
    {"chain", "several steps in one pass (crop-first read)",
     "mvtool chain IN OUT STEP...  steps, in order, run in one pass:\n"
     "    crop-or-pad:X,Y,Z[:FILL]  box:X0,Y0,Z0:SX,SY,SZ[:FILL]  flip:AXES\n"
     "    permute:P0,P1,P2  reorient:CODE  rot90:K:A0,A1  znorm[:nonzero]\n"
     "    rescale[:LO,HI[:P1,P2[:clip]]]  clamp:LO,HI  cast:DTYPE[:trunc]\n"
     "    resample:shape:X,Y,Z[:INTERP]  resample:spacing:A,B,C[:INTERP]\n"
     "  (a resample step splits the chain: the steps before it run in one pass,\n"
     "   then it resamples, then the steps after it run in one pass)\n",
     "", 3, -1, cmd_chain},
    {"frames", "time points T0.. of a 4D file (like fslroi's time form)",
     "mvtool frames IN OUT T0[,N]   or   mvtool frames IN OUT T0 N\n"
     "  N time points (dims[3]) from T0 (0-based; N default 1), as fslroi IN OUT T0 N;\n"
     "  a single time point is written as a 3D volume. Only those frames are read.\n",
     "", 3, 4, cmd_frames},
    {"split", "one 3D file per time point (like fslsplit -t)",
     "mvtool split IN [PREFIX]\n"
     "  writes PREFIX0000.nii.gz, PREFIX0001.nii.gz, ... (the time index in 4 digits,\n"
     "  more if needed; PREFIX default vol), as fslsplit; if PREFIX ends in .nii,\n"
     "  .nii.gz, .hdr, .hdr.gz, .mha, .mhd, .nrrd, .nhdr, .mgh or .mgz the index goes\n"
     "  before that extension (out/t.nii -> out/t0000.nii). Dtype, scaling and metadata are the\n"
     "  input's.\n",
     "", 1, 2, cmd_split},
    {"merge", "concatenate 3D/4D files in time (like fslmerge -t)",
     "mvtool merge OUT IN...\n"
     "  the inputs (3D or 4D) one after the other along dims[3]. All must share the\n"
     "  first input's grid (dims 0-2 and affine); an error names the file that\n"
     "  differs. Dtype and scaling are kept when all inputs share them, else the\n"
     "  scaled values are written as float32. Metadata from the first input.\n",
     "", 2, -1, cmd_merge},
    {"fft", "numpy fftn over x,y,z (complex64 out); bart fft's form on .cfl files",
     "mvtool fft IN OUT\n  numpy.fft.fftn over the three spatial axes (norm backward, no shift),\n"
     "  complex64 out; real inputs promoted (scaling applied); 4D: each volume.\n"
     "mvtool fft [-u] [-i] [-n] BITMASK IN OUT\n"
     "  bart fft's form on .cfl files: over the axes of BITMASK (any of BART's 16;\n"
     "  7: x, y, z), centred as BART's (its fftmod before and after; -n: not),\n"
     "  unnormalised either way (-u: unitary), -i inverse; BART's 16 sizes.\n"
     "  More separate axes than a plan's 7: transformed axis by axis.\n",
     "-u -i -n", 2, 3, cmd_fft},
    {"fftmod", "BART's fftmod modulation over BITMASK (bart fftmod, the same bytes)",
     "mvtool fftmod [-i] BITMASK IN OUT\n"
     "  bart fftmod on .cfl files: each sample times e^(2 pi i sum of (j - c/2) c / n)\n"
     "  over the axes of BITMASK (c = n / 2; -i inverse, its conjugate): the (-1)^j\n"
     "  modulation of even sizes (times a global +-1 or +-i), a fractional shift for\n"
     "  odd ones. Rounded as bart 0.8 rounds it: bart fftmod's bytes. (-b: -i,\n"
     "  newer bart's deprecated spelling.)\n",
     "-i -b", 3, 3, cmd_fftmod},
    {"fftshift", "numpy's fftshift over BITMASK (bart fftshift)",
     "mvtool fftshift [-b] BITMASK IN OUT\n"
     "  bart fftshift on .cfl files: a roll by n/2 along each axis of BITMASK (-b:\n"
     "  ifftshift, by -(n/2)), as numpy.fft.fftshift / ifftshift.\n",
     "-b", 3, 3, cmd_fftshift},
    {"ifft", "numpy ifftn over x,y,z (complex64 out)", "mvtool ifft IN OUT\n  numpy.fft.ifftn, as fft.\n", "", 2, 2, cmd_ifft},
    {"fftc", "centred FFT (ifftshift, FFT, fftshift), norm ortho",
     "mvtool fftc IN OUT\n  fftshift(fftn(ifftshift(x), norm='ortho')) over x,y,z, as MRI code uses.\n", "", 2, 2, cmd_fftc},
    {"ifftc", "centred inverse FFT, norm ortho",
     "mvtool ifftc IN OUT\n  fftshift(ifftn(ifftshift(x), norm='ortho')) over x,y,z.\n", "", 2, 2, cmd_ifftc},
    {"rss", "root-sum-of-squares over the coil axis (dims[3], as BART)",
     "mvtool rss IN OUT\n  root-sum-of-squares over dims[3] (coils, as BART), float32 out; dims[4..]\n"
     "  kept (one RSS per volume).\n"
     "mvtool rss BITMASK IN OUT\n  bart rss: .cfl files, over the dims of BITMASK (8: coils, 16: ESPIRiT\n"
     "  maps, 1024: BART's TIME_DIM), kept as dims of 1, complex out. All 16 of\n"
     "  BART's axes (those beyond medvol's 7 folded on load), OUT with BART's sizes.\n", "", 2, 3, cmd_rss},
};
const int mvtool_ops_ncommands = (int)(sizeof(mvtool_ops_commands) / sizeof(mvtool_ops_commands[0]));
