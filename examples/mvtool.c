/* mvtool - medvol from the command line. One subcommand per operation:
     mvtool info FILE...                       header summary (like nib-ls / fslhd)
     mvtool stats FILE                         sum mean std min max of the scaled values
     mvtool convert IN OUT [--dtype NAME] [--nifti2]
                                               rewrite in another format or dtype
     mvtool phantom OUT [--size N] [--kind shepp|smooth] [--dtype int16|float32]
     mvtool znorm IN OUT [--nonzero] [--mask MASK] [--per-frame]
     mvtool rescale IN OUT [LO,HI] [--pct P1,P2] [--clip] [--nonzero]
     mvtool clamp IN OUT LO,HI
     mvtool crop-or-pad IN OUT X,Y,Z [--fill V]
     mvtool flip IN OUT AXES                   e.g. 0 or 0,2
     mvtool reorient IN OUT CODE               e.g. RAS, LPS
     mvtool resample IN OUT --shape X,Y,Z | --spacing A,B,C [--interp nearest|linear|cubic] [--align-corners]
                                               scipy zoom grid (float32 out; 4D: each time point)
     mvtool chain IN OUT STEP...               several steps in one pass (see usage)
     mvtool fft IN OUT / ifft IN OUT           numpy.fft.fftn / ifftn over the three
                                               spatial axes (norm backward, no shift)
     mvtool fftc IN OUT / ifftc IN OUT         centred, as MRI code uses:
                                               fftshift(fftn(ifftshift(x), norm=ortho))
     mvtool rss IN OUT                         root-sum-of-squares over the coil axis
                                               (dims[3], as BART), float32 out
   Intensity operations and resampling write float32; spatial ones keep the
   input's dtype; the FFTs write complex64 (real inputs promoted, scaling
   applied), each volume of a 4D (or higher) file transformed on its own.
   Single-step commands and chains load crop-first: only the part of the
   file the result needs is read (and decompressed).
   Any error prints the status name and its detail to stderr and exits 1. */
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(mv_status st)
{
    fprintf(stderr, "mvtool: %s: %s\n", mv_status_str(st), mv_last_error());
    return 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: mvtool info FILE...\n"
            "       mvtool stats FILE\n"
            "       mvtool convert IN OUT [--dtype NAME] [--nifti2]\n"
            "       mvtool phantom OUT [--size N] [--kind shepp|smooth] [--dtype int16|float32]\n"
            "       mvtool znorm IN OUT [--nonzero] [--mask MASK] [--per-frame]\n"
            "       mvtool rescale IN OUT [LO,HI] [--pct P1,P2] [--clip] [--nonzero]   (default 0,1)\n"
            "       mvtool clamp IN OUT LO,HI\n"
            "       mvtool crop-or-pad IN OUT X,Y,Z [--fill V]\n"
            "       mvtool flip IN OUT AXES                  (e.g. 0 or 0,2)\n"
            "       mvtool reorient IN OUT CODE              (e.g. RAS, LPS)\n"
            "       mvtool resample IN OUT --shape X,Y,Z | --spacing A,B,C [--interp nearest|linear|cubic]\n"
            "                       [--align-corners]        (default linear, field of view kept; float32 out)\n"
            "       mvtool chain IN OUT STEP...  steps, in order, run in one pass:\n"
            "           crop-or-pad:X,Y,Z[:FILL]  box:X0,Y0,Z0:SX,SY,SZ[:FILL]  flip:AXES\n"
            "           permute:P0,P1,P2  reorient:CODE  rot90:K:A0,A1  znorm[:nonzero]\n"
            "           rescale[:LO,HI[:P1,P2[:clip]]]  clamp:LO,HI  cast:DTYPE[:trunc]\n"
            "           resample:shape:X,Y,Z[:INTERP]  resample:spacing:A,B,C[:INTERP]\n"
            "           (a resample step splits the chain: the steps before it run in one\n"
            "            pass, then it resamples, then the steps after it run in one pass)\n"
            "       mvtool fft|ifft IN OUT          numpy fftn / ifftn over x,y,z (complex64 out)\n"
            "       mvtool fftc|ifftc IN OUT        centred (ifftshift, FFT, fftshift), norm ortho\n"
            "       mvtool rss IN OUT               root-sum-of-squares over dims[3] (coils), float32\n"
            "files: .nii, .hdr/.img pairs (NIfTI-1/2; Analyze 7.5 read), .gz of either\n");
    return 2;
}

static const char *xform_name(int code)
{
    static const char *names[] = {"unknown", "scanner", "aligned", "talairach", "mni_152", "template"};
    return code >= 0 && code <= 5 ? names[code] : "invalid";
}

static const char *space_unit(int u)
{
    switch (u & 7) {
    case MV_UNITS_METER: return "m";
    case MV_UNITS_MM: return "mm";
    case MV_UNITS_MICRON: return "um";
    default: return "unknown";
    }
}
static const char *time_unit(int u)
{
    switch (u & 0x38) {
    case MV_UNITS_SEC: return "s";
    case MV_UNITS_MSEC: return "ms";
    case MV_UNITS_USEC: return "us";
    case MV_UNITS_HZ: return "Hz";
    case MV_UNITS_PPM: return "ppm";
    case MV_UNITS_RADS: return "rad/s";
    default: return "unknown";
    }
}

static int cmd_info(int argc, char **argv)
{
    int f;
    if (argc < 1) return usage();
    for (f = 0; f < argc; f++) {
        mv_vol v;
        mv_load_opts o;
        mv_status st;
        char code[4];
        int i, r;
        const mv_meta *m = &v.meta;
        memset(&o, 0, sizeof(o));
        o.header_only = 1;
        st = mv_load(argv[f], &v, &o);
        if (st != MV_OK) return fail(st);
        mv_orientation(&v, code);
        if (f) printf("\n");
        printf("file         %s\n", argv[f]);
        printf("format       %s%s, %s-endian\n",
               m->format == MV_FORMAT_NIFTI1 ? "NIfTI-1" : m->format == MV_FORMAT_NIFTI2 ? "NIfTI-2" : "Analyze 7.5",
               m->pair ? " pair (.hdr/.img)" : " single file", m->big_endian ? "big" : "little");
        printf("dtype        %s (datatype %d, %d bits)\n", mv_dtype_name(v.dtype), mv_dtype_nifti_code(v.dtype),
               (int)mv_dtype_size(v.dtype) * 8);
        printf("dims         ");
        for (i = 0; i < v.ndim; i++) printf("%s%lld", i ? " x " : "", (long long)v.dim[i]);
        printf("   (%dD, %lld voxels, %llu bytes)\n", v.ndim, (long long)mv_vol_count(&v),
               (unsigned long long)mv_vol_count(&v) * mv_dtype_size(v.dtype));
        printf("spacing      ");
        for (i = 0; i < v.ndim; i++) printf("%s%g", i ? " x " : "", v.spacing[i]);
        printf("   (space %s, time %s)\n", space_unit(m->xyzt_units), time_unit(m->xyzt_units));
        printf("orientation  %s\n", code);
        for (r = 0; r < 4; r++)
            printf("%s [ %12.6g %12.6g %12.6g %12.6g ]\n", r ? "            " : "affine      ", v.affine[r][0],
                   v.affine[r][1], v.affine[r][2], v.affine[r][3]);
        if (m->format != MV_FORMAT_ANALYZE) {
            printf("qform        code %d (%s), quatern %g %g %g, offset %g %g %g, qfac %g\n", m->qform_code,
                   xform_name(m->qform_code), m->quatern[0], m->quatern[1], m->quatern[2], m->qoffset[0], m->qoffset[1],
                   m->qoffset[2], m->qfac);
            printf("sform        code %d (%s)\n", m->sform_code, xform_name(m->sform_code));
            for (r = 0; r < 3; r++)
                printf("             [ %12.6g %12.6g %12.6g %12.6g ]\n", m->srow[r][0], m->srow[r][1], m->srow[r][2],
                       m->srow[r][3]);
        } else {
            printf("origin       %d %d %d (SPM, 1-based voxel)\n", m->analyze_origin[0], m->analyze_origin[1],
                   m->analyze_origin[2]);
        }
        printf("scaling      slope %.9g, inter %.9g\n", m->scl_slope, m->scl_inter);
        printf("calibration  cal_min %g, cal_max %g\n", m->cal_min, m->cal_max);
        printf("intent       %d, p %g %g %g, name \"%s\"\n", m->intent_code, m->intent_p[0], m->intent_p[1],
               m->intent_p[2], m->intent_name);
        printf("timing       toffset %g, slice code %d start %lld end %lld duration %g, dim_info %d\n", m->toffset,
               m->slice_code, (long long)m->slice_start, (long long)m->slice_end, m->slice_duration, m->dim_info);
        printf("descrip      \"%s\"\n", m->descrip);
        printf("aux_file     \"%s\"\n", m->aux_file);
        printf("extensions   %d", m->n_ext);
        for (i = 0; i < m->n_ext; i++) printf("%s code %d (%u bytes)", i ? "," : ":", m->ext[i].code, (unsigned)m->ext[i].size);
        printf("\n");
        mv_free(&v);
    }
    return 0;
}

static int cmd_stats(int argc, char **argv)
{
    mv_vol v;
    mv_stats s;
    mv_status st;
    if (argc != 1) return usage();
    st = mv_load(argv[0], &v, NULL); /* stored values, mapped when possible */
    if (st != MV_OK) return fail(st);
    st = mv_compute_stats(&v, &s, NULL); /* scaled, float64 */
    mv_free(&v);
    if (st != MV_OK) return fail(st);
    printf("sum=%.17g mean=%.17g std=%.17g min=%.17g max=%.17g\n", s.sum, s.mean, s.std, s.min, s.max);
    if (s.nan_count || s.inf_count)
        fprintf(stderr, "mvtool: %lld NaN and %lld infinite voxels left out of the statistics\n", (long long)s.nan_count,
                (long long)s.inf_count);
    return 0;
}

/* Without --dtype the stored values and all metadata are rewritten as they
   are. With --dtype, the values (scaling applied, in float64) are converted:
   rounded half to even and saturated for integer types, with a warning if
   any fell outside the new type's range. */
static int cmd_convert(int argc, char **argv)
{
    mv_vol v, out;
    mv_save_opts so;
    mv_dtype dt = MV_DT_UNKNOWN;
    mv_status st;
    int i;
    if (argc < 2) return usage();
    memset(&so, 0, sizeof(so));
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            dt = mv_dtype_from_name(argv[++i]);
            if (dt == MV_DT_UNKNOWN) {
                fprintf(stderr, "mvtool: unknown dtype '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--nifti2") == 0) {
            so.nifti_version = 2;
        } else {
            return usage();
        }
    }
    st = mv_load(argv[0], &v, NULL);
    if (st != MV_OK) return fail(st);
    if (dt == MV_DT_UNKNOWN || dt == v.dtype) {
        st = mv_save(argv[1], &v, &so);
        mv_free(&v);
        return st == MV_OK ? 0 : fail(st);
    }
    {
        mv_convert_opts co;
        memset(&co, 0, sizeof(co));
        co.scaled = mv_dtype_is_complex(v.dtype) || mv_dtype_is_float(v.dtype) || mv_dtype_is_integer(v.dtype);
        if (mv_dtype_is_integer(dt) && !mv_dtype_is_complex(v.dtype)) {
            mv_stats s;
            double lo, hi, big = 1e300, small = -1e300;
            unsigned char probe[8];
            /* the new type's range, from saturating conversions of +-huge */
            mv_convert_buffer(&big, MV_DT_F64, probe, dt, 1, NULL);
            mv_convert_buffer(probe, dt, &hi, MV_DT_F64, 1, NULL);
            mv_convert_buffer(&small, MV_DT_F64, probe, dt, 1, NULL);
            mv_convert_buffer(probe, dt, &lo, MV_DT_F64, 1, NULL);
            if (mv_compute_stats(&v, &s, NULL) == MV_OK && (s.min < lo || s.max > hi))
                fprintf(stderr, "mvtool: values %g..%g saturate in %s (%g..%g)\n", s.min, s.max, mv_dtype_name(dt), lo, hi);
        }
        st = mv_convert(&v, &out, dt, &co);
        mv_free(&v);
        if (st != MV_OK) return fail(st);
        st = mv_save(argv[1], &out, &so);
        mv_free(&out);
        return st == MV_OK ? 0 : fail(st);
    }
}

static int cmd_phantom(int argc, char **argv)
{
    mv_vol v;
    mv_status st;
    int64_t n = 128;
    const char *kind = "shepp";
    mv_dtype dt = MV_DT_F32;
    int i;
    if (argc < 1) return usage();
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) n = atoll(argv[++i]);
        else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc) kind = argv[++i];
        else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) dt = mv_dtype_from_name(argv[++i]);
        else return usage();
    }
    if (strcmp(kind, "shepp") == 0) st = mv_phantom_shepp_logan(&v, n, n, n);
    else if (strcmp(kind, "smooth") == 0) st = mv_phantom_smooth(&v, dt, n, n, n, 1);
    else return usage();
    if (st != MV_OK) return fail(st);
    st = mv_save(argv[0], &v, NULL);
    mv_free(&v);
    return st == MV_OK ? 0 : fail(st);
}

/* "a,b,c" into up to n numbers; returns how many, -1 on junk */
static int parse_list(const char *s, double *out, int n)
{
    int k = 0;
    char *end;
    if (!s || !*s) return 0;
    for (;;) {
        if (k == n) return -1;
        out[k++] = strtod(s, &end);
        if (end == s) return -1;
        if (*end == 0) return k;
        if (*end != ',') return -1;
        s = end + 1;
    }
}

static int run_chain(const char *in, const char *out, const mv_op *ops, int n)
{
    mv_vol v;
    mv_status st = mv_pipeline_load(in, ops, n, &v, NULL);
    if (st != MV_OK) return fail(st);
    st = mv_save(out, &v, NULL);
    mv_free(&v);
    return st == MV_OK ? 0 : fail(st);
}

static int bad_arg(const char *what, const char *arg)
{
    fprintf(stderr, "mvtool: %s: '%s'\n", what, arg ? arg : "");
    return 2;
}

static int cmd_znorm(int argc, char **argv)
{
    mv_intensity_opts o;
    const char *mask_path = NULL;
    mv_vol v, m, out;
    mv_status st;
    int i;
    if (argc < 2) return usage();
    memset(&o, 0, sizeof(o));
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--nonzero") == 0) o.nonzero = 1;
        else if (strcmp(argv[i], "--per-frame") == 0) o.per_frame = 1;
        else if (strcmp(argv[i], "--mask") == 0 && i + 1 < argc) mask_path = argv[++i];
        else return usage();
    }
    if (!mask_path && !o.per_frame) {
        mv_op op = mv_op_znorm(o.nonzero);
        return run_chain(argv[0], argv[1], &op, 1);
    }
    st = mv_load(argv[0], &v, NULL);
    if (st != MV_OK) return fail(st);
    mv_vol_init(&m);
    if (mask_path && (st = mv_load(mask_path, &m, NULL)) != MV_OK) {
        mv_free(&v);
        return fail(st);
    }
    o.mask = mask_path ? &m : NULL;
    st = mv_znorm(&v, &out, &o);
    mv_free(&v);
    mv_free(&m);
    if (st != MV_OK) return fail(st);
    st = mv_save(argv[1], &out, NULL);
    mv_free(&out);
    return st == MV_OK ? 0 : fail(st);
}

static int cmd_rescale(int argc, char **argv)
{
    double r[2] = {0, 1}, pct[2] = {0, 0};
    int i, clip = 0, nonzero = 0;
    mv_op op;
    if (argc < 2) return usage();
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--pct") == 0 && i + 1 < argc) {
            if (parse_list(argv[++i], pct, 2) != 2) return bad_arg("--pct wants P1,P2", argv[i]);
        } else if (strcmp(argv[i], "--clip") == 0) {
            clip = 1;
        } else if (strcmp(argv[i], "--nonzero") == 0) {
            nonzero = 1;
        } else if (parse_list(argv[i], r, 2) != 2) {
            return bad_arg("range wants LO,HI", argv[i]);
        }
    }
    op = mv_op_rescale_pct(r[0], r[1], pct[0], pct[1], clip);
    op.nonzero = nonzero;
    return run_chain(argv[0], argv[1], &op, 1);
}

static int cmd_clamp(int argc, char **argv)
{
    double r[2];
    mv_op op;
    if (argc != 3) return usage();
    if (parse_list(argv[2], r, 2) != 2) return bad_arg("range wants LO,HI", argv[2]);
    op = mv_op_clamp(r[0], r[1]);
    return run_chain(argv[0], argv[1], &op, 1);
}

static int cmd_crop_or_pad(int argc, char **argv)
{
    double sh[3], fill = 0;
    mv_op op;
    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--fill") == 0)) return usage();
    if (parse_list(argv[2], sh, 3) != 3) return bad_arg("shape wants X,Y,Z", argv[2]);
    if (argc == 5 && parse_list(argv[4], &fill, 1) != 1) return bad_arg("--fill wants a number", argv[4]);
    op = mv_op_crop_or_pad((int64_t)sh[0], (int64_t)sh[1], (int64_t)sh[2], fill);
    return run_chain(argv[0], argv[1], &op, 1);
}

static int axes_mask(const char *s, unsigned *mask)
{
    double ax[7];
    int n = parse_list(s, ax, 7), i;
    *mask = 0;
    if (n <= 0) return 0;
    for (i = 0; i < n; i++) {
        if (ax[i] < 0 || ax[i] > 6 || ax[i] != (int)ax[i]) return 0;
        *mask |= 1u << (int)ax[i];
    }
    return 1;
}

static int cmd_flip(int argc, char **argv)
{
    unsigned mask;
    mv_op op;
    if (argc != 3) return usage();
    if (!axes_mask(argv[2], &mask)) return bad_arg("axes wants a list like 0 or 0,2", argv[2]);
    op = mv_op_flip(mask);
    return run_chain(argv[0], argv[1], &op, 1);
}

static int cmd_reorient(int argc, char **argv)
{
    mv_op op;
    if (argc != 3) return usage();
    op = mv_op_reorient(argv[2]);
    return run_chain(argv[0], argv[1], &op, 1);
}

/* ---- resampling ---- */

typedef struct resample_step {
    int by_spacing;         /* 0: shape[], 1: spacing[] */
    int64_t shape[3];
    double spacing[3];
    mv_resample_opts o;
} resample_step;

static int parse_interp(const char *s, mv_interp *interp)
{
    if (strcmp(s, "nearest") == 0) *interp = MV_INTERP_NEAREST;
    else if (strcmp(s, "linear") == 0) *interp = MV_INTERP_LINEAR;
    else if (strcmp(s, "cubic") == 0) *interp = MV_INTERP_CUBIC;
    else return 0;
    return 1;
}

/* "X,Y,Z" as three whole voxel counts >= 1 */
static int parse_shape(const char *s, int64_t *shape)
{
    double v[3];
    int a;
    if (parse_list(s, v, 3) != 3) return 0;
    for (a = 0; a < 3; a++) {
        if (!(v[a] >= 1 && v[a] <= 2147483647.0) || v[a] != (double)(int64_t)v[a]) return 0;
        shape[a] = (int64_t)v[a];
    }
    return 1;
}

/* "A,B,C" as three spacings in mm, finite and > 0 */
static int parse_spacing(const char *s, double *spacing)
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

static int cmd_resample(int argc, char **argv)
{
    resample_step r;
    int i, have_shape = 0, have_spacing = 0;
    mv_vol v, out;
    mv_status st;
    if (argc < 2) return usage();
    resample_step_init(&r);
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            if (!parse_shape(argv[++i], r.shape)) return bad_arg("--shape wants X,Y,Z (whole numbers >= 1)", argv[i]);
            have_shape = 1;
        } else if (strcmp(argv[i], "--spacing") == 0 && i + 1 < argc) {
            if (!parse_spacing(argv[++i], r.spacing)) return bad_arg("--spacing wants A,B,C (mm, > 0)", argv[i]);
            have_spacing = 1;
        } else if (strcmp(argv[i], "--interp") == 0 && i + 1 < argc) {
            if (!parse_interp(argv[++i], &r.o.interp)) return bad_arg("--interp wants nearest, linear or cubic", argv[i]);
        } else if (strcmp(argv[i], "--align-corners") == 0) {
            r.o.align_corners = 1;
        } else {
            return usage();
        }
    }
    if (have_shape == have_spacing) {
        fprintf(stderr, "mvtool: resample: give exactly one of --shape X,Y,Z and --spacing A,B,C\n");
        return 2;
    }
    r.by_spacing = have_spacing;
    st = mv_load(argv[0], &v, NULL);
    if (st != MV_OK) return fail(st);
    st = resample_run(&r, &v, &out);
    mv_free(&v);
    if (st != MV_OK) return fail(st);
    st = mv_save(argv[1], &out, NULL);
    mv_free(&out);
    return st == MV_OK ? 0 : fail(st);
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
    double a[3], b[3];
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
    if (!strcmp(part[0], "crop-or-pad") && n >= 2 && parse_list(part[1], a, 3) == 3) {
        double fill = 0;
        if (n == 3 && parse_list(part[2], &fill, 1) != 1) return 0;
        *op = mv_op_crop_or_pad((int64_t)a[0], (int64_t)a[1], (int64_t)a[2], fill);
        return n <= 3;
    }
    if (!strcmp(part[0], "box") && n >= 3 && parse_list(part[1], a, 3) == 3 && parse_list(part[2], b, 3) == 3) {
        int64_t st[3], sz[3];
        double fill = 0;
        int i;
        if (n == 4 && parse_list(part[3], &fill, 1) != 1) return 0;
        for (i = 0; i < 3; i++) {
            st[i] = (int64_t)a[i];
            sz[i] = (int64_t)b[i];
        }
        *op = mv_op_box(st, sz, fill);
        return n <= 4;
    }
    if (!strcmp(part[0], "flip") && n == 2) {
        unsigned mask;
        if (!axes_mask(part[1], &mask)) return 0;
        *op = mv_op_flip(mask);
        return 1;
    }
    if (!strcmp(part[0], "permute") && n == 2 && parse_list(part[1], a, 3) == 3) {
        *op = mv_op_permute((int)a[0], (int)a[1], (int)a[2]);
        return 1;
    }
    if (!strcmp(part[0], "reorient") && n == 2) {
        *op = mv_op_reorient(part[1]);
        return 1;
    }
    if (!strcmp(part[0], "rot90") && n == 3 && parse_list(part[1], a, 1) == 1 && parse_list(part[2], b, 2) == 2) {
        *op = mv_op_rot90((int)a[0], (int)b[0], (int)b[1]);
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
    if (st != MV_OK) return fail(st);
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
    if (st == MV_OK) st = mv_save(outp, &v, NULL);
    mv_free(&v);
    return st == MV_OK ? 0 : fail(st);
}

static int cmd_chain(int argc, char **argv)
{
    mv_op ops[64];
    resample_step rs[64];
    int resample_at[64], i, n = argc - 2, n_rs = 0;
    if (argc < 3 || n > 64) return usage();
    for (i = 0; i < n; i++) {
        resample_at[i] = -1;
        memset(&ops[i], 0, sizeof(ops[i]));
        if (strncmp(argv[i + 2], "resample:", 9) == 0) {
            if (!parse_resample_step(argv[i + 2], &rs[n_rs])) return bad_arg("malformed resample step", argv[i + 2]);
            resample_at[i] = n_rs++;
        } else if (!parse_step(argv[i + 2], &ops[i])) {
            return bad_arg("unknown or malformed step", argv[i + 2]);
        }
    }
    if (n_rs == 0) return run_chain(argv[0], argv[1], ops, n);
    return run_chain_resampled(argv[0], argv[1], ops, resample_at, rs, n);
}

/* ---- FFT subcommands ---- */

/* fft / ifft / fftc / ifftc: load, promote to complex64 (NIfTI scaling
   applied), transform the spatial axes in place (higher axes are a batch:
   each volume on its own), save complex64 with the input's geometry. The
   centred forms are mv_fftc_into: no data moves for the shifts. */
static int cmd_fft(int argc, char **argv, int inverse, int centred)
{
    mv_vol v, c;
    mv_convert_opts co;
    mv_fft_opts fo;
    mv_status st;
    int n_axes;
    if (argc != 2) return usage();
    st = mv_load(argv[0], &v, NULL);
    if (st != MV_OK) return fail(st);
    memset(&co, 0, sizeof(co));
    co.scaled = 1;
    st = mv_convert(&v, &c, MV_DT_C64, &co);
    mv_free(&v);
    if (st != MV_OK) return fail(st);
    memset(&fo, 0, sizeof(fo));
    fo.norm = centred ? MV_FFT_ORTHO : MV_FFT_BACKWARD;
    n_axes = c.ndim < 3 ? c.ndim : 3;
    if (centred) st = mv_fftc_into(&c, &c, (1u << n_axes) - 1, inverse, NULL);
    else st = mv_fft_c2c(c.data, c.data, c.ndim, c.dim, (1u << n_axes) - 1, inverse, &fo);
    if (st == MV_OK) st = mv_save(argv[1], &c, NULL);
    mv_free(&c);
    return st == MV_OK ? 0 : fail(st);
}

/* rss: root-sum-of-squares over the coil axis (dims[3], BART's coil
   dimension; dims[4..] stay, one RSS per volume), float32 out. complex64
   and float32 go straight in; other dtypes, and scaled files, through
   their scaled values (complex128 as complex64). A file with no coil axis
   (3D) gives |x|. */
static int cmd_rss(int argc, char **argv)
{
    mv_vol v, c, r;
    mv_convert_opts co;
    mv_status st;
    int scaled;
    if (argc != 2) return usage();
    st = mv_load(argv[0], &v, NULL);
    if (st != MV_OK) return fail(st);
    scaled = (v.meta.scl_slope != 0 && v.meta.scl_slope != 1) || v.meta.scl_inter != 0;
    if ((v.dtype != MV_DT_C64 && v.dtype != MV_DT_F32) || scaled) {
        memset(&co, 0, sizeof(co));
        co.scaled = 1;
        st = mv_convert(&v, &c, mv_dtype_is_complex(v.dtype) ? MV_DT_C64 : MV_DT_F32, &co);
        mv_free(&v);
        if (st != MV_OK) return fail(st);
        v = c;
    }
    st = mv_rss(&v, &r, NULL);
    mv_free(&v);
    if (st == MV_OK) st = mv_save(argv[1], &r, NULL);
    mv_free(&r);
    return st == MV_OK ? 0 : fail(st);
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(argv[1], "stats") == 0) return cmd_stats(argc - 2, argv + 2);
    if (strcmp(argv[1], "convert") == 0) return cmd_convert(argc - 2, argv + 2);
    if (strcmp(argv[1], "phantom") == 0) return cmd_phantom(argc - 2, argv + 2);
    if (strcmp(argv[1], "znorm") == 0) return cmd_znorm(argc - 2, argv + 2);
    if (strcmp(argv[1], "rescale") == 0) return cmd_rescale(argc - 2, argv + 2);
    if (strcmp(argv[1], "clamp") == 0) return cmd_clamp(argc - 2, argv + 2);
    if (strcmp(argv[1], "crop-or-pad") == 0) return cmd_crop_or_pad(argc - 2, argv + 2);
    if (strcmp(argv[1], "flip") == 0) return cmd_flip(argc - 2, argv + 2);
    if (strcmp(argv[1], "reorient") == 0) return cmd_reorient(argc - 2, argv + 2);
    if (strcmp(argv[1], "resample") == 0) return cmd_resample(argc - 2, argv + 2);
    if (strcmp(argv[1], "chain") == 0) return cmd_chain(argc - 2, argv + 2);
    if (strcmp(argv[1], "fft") == 0) return cmd_fft(argc - 2, argv + 2, 0, 0);
    if (strcmp(argv[1], "ifft") == 0) return cmd_fft(argc - 2, argv + 2, 1, 0);
    if (strcmp(argv[1], "fftc") == 0) return cmd_fft(argc - 2, argv + 2, 0, 1);
    if (strcmp(argv[1], "ifftc") == 0) return cmd_fft(argc - 2, argv + 2, 1, 1);
    if (strcmp(argv[1], "rss") == 0) return cmd_rss(argc - 2, argv + 2);
    return usage();
}
