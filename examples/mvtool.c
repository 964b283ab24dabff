/* mvtool - medvol from the command line: one binary, one subcommand per
   operation. `mvtool --help` lists them (from the table at the end of this
   file), `mvtool CMD --help` gives one's usage; the table's usage texts are
   the reference for arguments and output formats.
   Conventions: intensity operations and resampling write float32; spatial
   ones keep the input's dtype; the FFTs write complex64. Single-step
   commands and chains load crop-first: only the part of the file the result
   needs is read (and decompressed).
   Exit status: 0 done; 2 usage error (unknown subcommand, option or value;
   the message names the word); 1 a file or operation failed (the status
   name, the file and the library's detail on stderr). */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "mvtool.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the shared argument parser (declared in mvtool.h) ---- */

/* A usage error: names the command and the offending word; exit 2. */
int usage_error(const args *a, const char *what, const char *word)
{
    const char *name = a && a->cmd ? a->cmd->name : NULL;
    if (word) fprintf(stderr, "mvtool%s%s: %s: '%s'\n", name ? " " : "", name ? name : "", what, word);
    else fprintf(stderr, "mvtool%s%s: %s\n", name ? " " : "", name ? name : "", what);
    fprintf(stderr, "(see 'mvtool %s%s--help')\n", name ? name : "", name ? " " : "");
    return 2;
}

/* A library failure: the status name, the file the tool was working on
   (when the library's detail does not already name it) and the detail. */
int fail_at(mv_status st, const char *path)
{
    const char *detail = mv_last_error();
    if (path && !strstr(detail, path)) fprintf(stderr, "mvtool: %s: %s: %s\n", mv_status_str(st), path, detail);
    else fprintf(stderr, "mvtool: %s: %s\n", mv_status_str(st), detail);
    return 1;
}

/* Whether c takes the option word[0 .. len): -1 no, 0 as a flag, 1 with a
   value ("--x=" in its list). */
static int option_kind(const command *c, const char *word, size_t len)
{
    const char *p;
    for (p = c->opts; p && *p;) {
        size_t n = strcspn(p, " =");
        if (n == len && strncmp(p, word, n) == 0) return p[n] == '=';
        p += n;
        while (*p == '=' || *p == ' ') p++;
    }
    return -1;
}

/* A word such as -m1, -d8:8:1 or -rG that is no option of c as a whole,
   read as getopt reads it (BART's commands take them so): one-letter
   options bundled, the first that takes a value taking the rest of the
   word, or the next word when the rest is empty. Returns 0, or the exit
   status. */
static int parse_short_bundle(const command *c, int argc, char **argv, int *i, args *a)
{
    static char names[128][3]; /* "-x" for each letter: the names a->opt_name keeps */
    const char *w = argv[*i];
    size_t k;
    for (k = 1; w[k]; k++) {
        unsigned char ch = (unsigned char)w[k];
        int kind;
        char name[3];
        name[0] = '-';
        name[1] = (char)ch;
        name[2] = 0;
        kind = ch < 128 ? option_kind(c, name, 2) : -1;
        if (kind < 0) return usage_error(a, "unknown option", w);
        if (a->nopt == 32) return usage_error(a, "too many options", w);
        memcpy(names[ch], name, 3);
        a->opt_name[a->nopt] = names[ch];
        a->opt_val[a->nopt] = NULL;
        if (kind == 1) {
            if (w[k + 1]) {
                a->opt_val[a->nopt++] = w + k + 1;
            } else {
                if (*i + 1 >= argc) return usage_error(a, "option needs a value", w);
                a->opt_val[a->nopt++] = argv[++*i];
            }
            return 0;
        }
        a->nopt++;
    }
    return 0;
}

/* Splits argv (after the subcommand) into positionals and options. Words
   starting with "--" (or "-" and a letter) are options, so negative numbers
   such as -1,3 stay positional; a word that is no option as a whole but
   starts with a one-letter one is read as getopt reads it (-m1, -rG: see
   parse_short_bundle). Returns 0, or the exit status (-1 when --help was
   answered: exit 0). */
static int parse_args(const command *c, int argc, char **argv, args *a)
{
    int i;
    memset(a, 0, sizeof(*a));
    a->cmd = c;
    a->pos = (char **)calloc((size_t)argc + 1, sizeof(char *));
    if (!a->pos) return usage_error(a, "out of memory", NULL);
    for (i = 0; i < argc; i++) {
        const char *w = argv[i];
        size_t len;
        int takes, found;
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            printf("usage: %s", c->usage);
            return -1;
        }
        if (!(w[0] == '-' && (w[1] == '-' || (w[1] >= 'a' && w[1] <= 'z') || (w[1] >= 'A' && w[1] <= 'Z')))) {
            a->pos[a->npos++] = argv[i];
            continue;
        }
        len = strlen(w);
        takes = option_kind(c, w, len);
        found = takes >= 0;
        if (!found && w[1] != '-' && len > 2 && option_kind(c, w, 2) >= 0) {
            int rc = parse_short_bundle(c, argc, argv, &i, a);
            if (rc) return rc;
            continue;
        }
        if (!found) return usage_error(a, "unknown option", w);
        if (a->nopt == 32) return usage_error(a, "too many options", w);
        if (takes && i + 1 >= argc) return usage_error(a, "option needs a value", w);
        a->opt_name[a->nopt] = w;
        a->opt_val[a->nopt++] = takes ? argv[++i] : NULL;
    }
    if (a->npos < c->min_pos) {
        const char *nl = strchr(c->usage, '\n');
        fprintf(stderr, "mvtool %s: missing arguments: usage: %.*s\n", c->name,
                (int)(nl ? nl - c->usage : (long)strlen(c->usage)), c->usage);
        return 2;
    }
    if (c->max_pos >= 0 && a->npos > c->max_pos) return usage_error(a, "unexpected argument", a->pos[c->max_pos]);
    return 0;
}

/* The option's value (the last one given), or NULL. */
const char *opt_str(const args *a, const char *name)
{
    int i;
    const char *v = NULL;
    for (i = 0; i < a->nopt; i++)
        if (strcmp(a->opt_name[i], name) == 0) v = a->opt_val[i];
    return v;
}
int opt_flag(const args *a, const char *name)
{
    int i;
    for (i = 0; i < a->nopt; i++)
        if (strcmp(a->opt_name[i], name) == 0) return 1;
    return 0;
}

/* "a,b,c" into up to n finite numbers; returns how many, -1 on junk. */
int parse_list(const char *s, double *out, int n)
{
    int k = 0;
    char *end;
    if (!s || !*s) return -1;
    for (;;) {
        if (k == n) return -1;
        errno = 0;
        out[k] = strtod(s, &end);
        if (end == s || !isfinite(out[k]) || errno == ERANGE) return -1;
        k++;
        if (*end == 0) return k;
        if (*end != ',') return -1;
        s = end + 1;
    }
}

/* "a,b,c" into up to n whole numbers in [lo, hi] (decimal, no fraction,
   no overflow: a number that does not fit is junk, never wrapped); returns
   how many, -1 on junk. */
int parse_ints(const char *s, int64_t *out, int n, int64_t lo, int64_t hi)
{
    int k = 0;
    char *end;
    if (!s || !*s) return -1;
    for (;;) {
        long long v;
        if (k == n) return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || errno == ERANGE || v < lo || v > hi) return -1;
        out[k++] = (int64_t)v;
        if (*end == 0) return k;
        if (*end != ',') return -1;
        s = end + 1;
    }
}


int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

int save_field_file(const char *path, const mv_vol *field, const double (*M)[4])
{
    mv_status st = has_suffix(path, ".h5") ? mv_itk_h5_write_field(path, M, field, MVTOOL_H5_LEVEL)
                                          : mv_field_save(path, field, NULL);
    return st == MV_OK ? 0 : fail_at(st, path);
}

/* "-": standard input, a pipe or a redirect (NIfTI or MGH, gzip-compressed
   or not: what mv_load_io recognises); read once, so a command that reads
   an input twice says so with the stream's error */
static size_t stdin_read(void *user, void *buf, size_t n)
{
    size_t k = fread(buf, 1, n, stdin);
    (void)user;
    return k == 0 && ferror(stdin) ? (size_t)-1 : k;
}

int load_or_fail(const char *path, mv_vol *v, const mv_load_opts *o)
{
    mv_status st;
    if (strcmp(path, "-") == 0) {
        mv_io io;
        memset(&io, 0, sizeof(io));
        io.read = stdin_read;
        st = mv_load_io(&io, v, o);
        return st == MV_OK ? 0 : fail_at(st, "standard input");
    }
    st = mv_load(path, v, o);
    return st == MV_OK ? 0 : fail_at(st, path);
}

/* After a save of v to path: a warning naming the key/value pairs the
   file has no place for (a NRRD's pairs and fields written to NIfTI, say),
   so that a conversion never loses them unsaid. */
static void warn_unwritten_pairs_named(const char *path, const char *name, const mv_vol *v)
{
    int i, n = 0, shown[8];
    for (i = 0; i < v->meta.n_kv; i++)
        if (!mv_save_keeps_keyvalue(path, v, i)) {
            if (n < 8) shown[n] = i;
            n++;
        }
    if (!n) return;
    fprintf(stderr, "mvtool: warning: %s: %d key/value pair%s not written (the format has no place for %s):", name, n,
            n == 1 ? "" : "s", n == 1 ? "it" : "them");
    for (i = 0; i < n && i < 8; i++) fprintf(stderr, "%s '%s'", i ? "," : "", v->meta.kv[shown[i]].key);
    fprintf(stderr, "%s\n", n > 8 ? ", ..." : "");
}
void warn_unwritten_pairs(const char *path, const mv_vol *v)
{
    warn_unwritten_pairs_named(path, path, v);
}

/* "-" as convert's output: the volume as one NIfTI stream on standard
   output (.nii; .nii.gz with --compress, NIfTI-2 with --nifti2), what
   "mvtool ... -" (mv_load_io) and nibabel's Nifti1Image.from_bytes read
   back. Refused when standard output is a terminal, as gzip refuses.
   (mv_save_io calls the callback on this thread, in order: the members
   it compresses side by side are written after they join.) */
static int stdout_write(void *user, const void *buf, size_t n)
{
    (void)user;
    return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

static int save_to_stdout(const char *cmd, const mv_vol *v, const mv_save_opts *so)
{
    mv_io io;
    mv_save_opts o;
    mv_status st;
    if (isatty(fileno(stdout))) {
        fprintf(stderr, "mvtool %s: standard output is a terminal: not writing a volume there (redirect it, or name a file)\n",
                cmd);
        return 2;
    }
    memset(&io, 0, sizeof(io));
    io.write = stdout_write;
    o = *so;
    o.format = o.nifti_version == 2 ? MV_FORMAT_NIFTI2 : MV_FORMAT_NIFTI1;
    st = mv_save_io(v, &io, &o);
    if (st == MV_OK && fflush(stdout) != 0) {
        fprintf(stderr, "mvtool %s: standard output: write failed\n", cmd);
        return 1;
    }
    if (st != MV_OK) return fail_at(st, "standard output");
    warn_unwritten_pairs_named(o.compress ? "-.nii.gz" : "-.nii", "standard output", v);
    return 0;
}

/* Saves and releases v; exit status. */
int save_and_free(const char *path, mv_vol *v, const mv_save_opts *so)
{
    mv_status st = mv_save(path, v, so);
    if (st == MV_OK) warn_unwritten_pairs(path, v);
    mv_free(v);
    return st == MV_OK ? 0 : fail_at(st, path);
}

/* ---- BART .cfl pairs with BART's 16 axes (declared in mvtool.h) ---- */

int cfl_fold_dims(const int64_t bd[16], int64_t dims[MV_MAX_DIMS])
{
    int ax, nd = 1;
    for (ax = 0; ax < MV_MAX_DIMS; ax++) dims[ax] = bd[ax];
    for (ax = MV_MAX_DIMS; ax < 16; ax++) dims[MV_MAX_DIMS - 1] *= bd[ax];
    for (ax = 0; ax < MV_MAX_DIMS; ax++)
        if (dims[ax] > 1) nd = ax + 1;
    return nd;
}

int cfl_load_folded(const char *path, mv_vol *v, int64_t bd[16])
{
    mv_load_opts lo;
    int64_t fd[MV_MAX_DIMS];
    int ax;
    mv_status st;
    memset(&lo, 0, sizeof(lo));
    lo.cfl_fold = 1;
    mv_vol_init(v);
    st = mv_cfl_load(path, v, &lo);
    if (st == MV_OK && bd) st = mv_cfl_dims(path, bd);
    if (st != MV_OK) {
        mv_free(v);
        return fail_at(st, path);
    }
    if (!bd) return 0;
    /* two reads of the header: a pair replaced between them is caught here */
    cfl_fold_dims(bd, fd);
    for (ax = 0; ax < MV_MAX_DIMS; ax++)
        if (fd[ax] != (ax < v->ndim ? v->dim[ax] : 1)) break;
    if (ax == MV_MAX_DIMS) return 0;
    mv_free(v);
    return fail_at(mv_set_error(MV_ERR_BAD_HEADER, "'%s' changed while it was read", path), path);
}

int cfl_save_dims(const char *path, mv_vol *v, const int64_t bd[16])
{
    mv_save_opts so;
    mv_status st;
    memset(&so, 0, sizeof(so));
    so.cfl_dims = bd;
    st = mv_cfl_save(path, v, &so);
    mv_free(v);
    return st == MV_OK ? 0 : fail_at(st, path);
}

int cfl_broadcast(const args *a, const char *xname, const int64_t x[16], const char *yname, const int64_t y[16],
                  int from, int64_t out[16])
{
    char msg[200];
    int ax;
    for (ax = from; ax < 16; ax++) {
        if (x[ax] != y[ax] && x[ax] != 1 && y[ax] != 1) {
            snprintf(msg, sizeof(msg), "BART's axis %d holds %lld samples in this file and %lld in '%s' (each 1 or the "
                     "other's, as bart's)", ax, (long long)x[ax], (long long)y[ax], yname);
            return usage_error(a, msg, xname);
        }
        out[ax] = x[ax] > y[ax] ? x[ax] : y[ax];
    }
    return 0;
}

int cfl_fold_broadcast(const args *a, const char *name, const int64_t x[16], const int64_t out[16])
{
    char msg[300];
    int ax, whole = -1, one = -1;
    for (ax = MV_MAX_DIMS - 1; ax < 16; ax++) {
        if (x[ax] != 1 && x[ax] != out[ax]) { /* no broadcast at all: the folded sizes could still agree */
            snprintf(msg, sizeof(msg), "BART's axis %d holds %lld samples in this file and %lld in the result (1 or as "
                     "many)", ax, (long long)x[ax], (long long)out[ax]);
            return usage_error(a, msg, name);
        }
        if (out[ax] > 1 && x[ax] == out[ax] && whole < 0) whole = ax;
        if (out[ax] > 1 && x[ax] == 1 && one < 0) one = ax;
    }
    if (whole < 0 || one < 0) return 0;
    snprintf(msg, sizeof(msg), "shared along BART's axis %d (1 sample for the result's %lld) but not along axis %d "
             "(%lld): medvol folds BART's axes 6..15 into one, shared along all of them or none (the mix is not implemented)",
             one, (long long)out[one], whole, (long long)out[whole]);
    return usage_error(a, msg, name);
}

void cfl_groups_init(cfl_groups *g, const int64_t bd[16], unsigned flags, int64_t gd[16])
{
    int64_t stride = 1;
    int ax;
    for (ax = 0; ax < 16; ax++) {
        int flagged = (flags >> ax) & 1u;
        g->bd[ax] = bd[ax];
        g->c[ax] = 0;
        gd[ax] = flagged ? 1 : bd[ax];
        g->step[ax] = flagged ? 0 : stride;
        stride *= gd[ax];
    }
    g->at = 0;
}

/* the next sample: an odometer over the 16 coordinates, no divisions */
void cfl_groups_next(cfl_groups *g)
{
    int ax;
    for (ax = 0; ax < 16; ax++) {
        if (++g->c[ax] < g->bd[ax]) {
            g->at += g->step[ax];
            return;
        }
        g->at -= g->step[ax] * (g->bd[ax] - 1);
        g->c[ax] = 0;
    }
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

/* ---- info, stats ---- */

/* s as a NRRD header writes it: a backslash doubled, a newline as \n */
static void print_escaped(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '\n') putchar('\\');
        putchar(*s == '\n' ? 'n' : *s);
    }
}

static void print_info(const char *path, const mv_vol *vp)
{
    const mv_vol *v = vp;
    const mv_meta *m = &v->meta;
    char code[4];
    int i, r;
    mv_orientation(v, code);
    printf("file         %s\n", path);
    printf("format       %s%s, %s-endian\n",
           m->format == MV_FORMAT_NIFTI1   ? "NIfTI-1"
           : m->format == MV_FORMAT_NIFTI2 ? "NIfTI-2"
           : m->format == MV_FORMAT_METAIMAGE ? "MetaImage"
           : m->format == MV_FORMAT_MGH       ? "FreeSurfer MGH"
           : m->format == MV_FORMAT_NRRD      ? "NRRD"
           : m->format == MV_FORMAT_CFL       ? "BART"
                                              : "Analyze 7.5",
           !m->pair                                                        ? " single file"
           : m->format == MV_FORMAT_METAIMAGE || m->format == MV_FORMAT_NRRD ? " header + data file"
           : m->format == MV_FORMAT_CFL                                      ? " pair (.hdr/.cfl)"
                                                                           : " pair (.hdr/.img)",
           m->big_endian ? "big" : "little");
    printf("dtype        %s (datatype %d, %d bits)\n", mv_dtype_name(v->dtype), mv_dtype_nifti_code(v->dtype),
           (int)mv_dtype_size(v->dtype) * 8);
    printf("dims         ");
    for (i = 0; i < v->ndim; i++) printf("%s%lld", i ? " x " : "", (long long)v->dim[i]);
    printf("   (%dD, %lld voxels, %llu bytes)\n", v->ndim, (long long)mv_vol_count(v),
           (unsigned long long)mv_vol_count(v) * mv_dtype_size(v->dtype));
    printf("spacing      ");
    for (i = 0; i < v->ndim; i++) printf("%s%g", i ? " x " : "", v->spacing[i]);
    printf("   (space %s, time %s)\n", space_unit(m->xyzt_units), time_unit(m->xyzt_units));
    printf("orientation  %s\n", code);
    for (r = 0; r < 4; r++)
        printf("%s [ %12.6g %12.6g %12.6g %12.6g ]\n", r ? "            " : "affine      ", v->affine[r][0],
               v->affine[r][1], v->affine[r][2], v->affine[r][3]);
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
    printf("intent       %d, p %g %g %g, name \"%s\"\n", m->intent_code, m->intent_p[0], m->intent_p[1], m->intent_p[2],
           m->intent_name);
    printf("timing       toffset %g, slice code %d start %lld end %lld duration %g, dim_info %d\n", m->toffset,
           m->slice_code, (long long)m->slice_start, (long long)m->slice_end, m->slice_duration, m->dim_info);
    printf("descrip      \"%s\"\n", m->descrip);
    printf("aux_file     \"%s\"\n", m->aux_file);
    if (m->format == MV_FORMAT_MGH)
        printf("mgh          TR %g ms, flip angle %g rad, TE %g ms, TI %g ms, FoV %g, dof %d\n", m->mgh_mr[0], m->mgh_mr[1],
               m->mgh_mr[2], m->mgh_mr[3], m->mgh_mr[4], m->mgh_dof);
    printf("extensions   %d", m->n_ext);
    for (i = 0; i < m->n_ext; i++) printf("%s code %d (%u bytes)", i ? "," : ":", m->ext[i].code, (unsigned)m->ext[i].size);
    printf("\n");
    if (m->n_grad > 0) {
        double lo = m->grad[3], hi = m->grad[3];
        int nb0 = 0;
        for (i = 0; i < m->n_grad; i++) {
            double b = m->grad[4 * i + 3];
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
            nb0 += b == 0;
        }
        printf("gradients    %d (%d with b = 0), b %g .. %g s/mm^2, first direction (RAS) %g %g %g\n", m->n_grad, nb0, lo,
               hi, m->grad[0], m->grad[1], m->grad[2]);
    }
    if (m->n_kv > 0)
        printf("key/values   %d (NRRD's key:=value lines and NRRD_ fields, or MetaImage's extra fields; escaped)\n",
               m->n_kv);
    for (i = 0; i < m->n_kv; i++) {
        printf("  ");
        print_escaped(m->kv[i].key);
        printf(":=");
        print_escaped(m->kv[i].value);
        printf("\n");
    }
}

/* Every file is reported; one that fails gets its error on stderr and the
   others still run (exit 1 at the end), as nib-ls does. */
static int cmd_info(const args *a)
{
    int f, rc = 0, shown = 0;
    for (f = 0; f < a->npos; f++) {
        mv_vol v;
        mv_load_opts o;
        memset(&o, 0, sizeof(o));
        o.header_only = 1;
        if (load_or_fail(a->pos[f], &v, &o)) {
            rc = 1;
            continue;
        }
        if (shown++) printf("\n");
        print_info(a->pos[f], &v);
        mv_free(&v);
    }
    return rc;
}

/* Frame t of a 4D+ volume as a 3D view (same dtype and scaling; not owned). */
static mv_vol frame_view(const mv_vol *v, int64_t t)
{
    mv_vol f = *v;
    size_t bytes = mv_dtype_size(v->dtype) * (size_t)(v->dim[0] * v->dim[1] * v->dim[2]);
    int i;
    for (i = 3; i < MV_MAX_DIMS; i++) f.dim[i] = 1;
    f.ndim = v->ndim < 3 ? v->ndim : 3;
    f.data = (char *)v->data + (size_t)t * bytes;
    f.flags = MV_VOL_BORROWED;
    f.mem_base = NULL;
    f.mem_size = 0;
    return f;
}

static int64_t frame_count(const mv_vol *v)
{
    int64_t n = 1;
    int i;
    for (i = 3; i < v->ndim; i++) n *= v->dim[i];
    return n;
}

/* " p5=.. p50=.." of the finite voxels (within the mask), numpy 'linear'. */
static mv_status print_percentiles(const mv_vol *v, const mv_vol *mask, const double *q, int nq)
{
    mv_intensity_opts io = MV_ZERO_INIT;
    double out[32];
    int i;
    io.mask = mask;
    if (nq == 0) return MV_OK;
    {
        mv_status st = mv_percentiles(v, q, nq, out, &io);
        if (st != MV_OK) return st;
    }
    for (i = 0; i < nq; i++) printf(" p%g=%.17g", q[i], out[i]);
    return MV_OK;
}

/* One line of whole-volume (or whole-frame) statistics. */
static mv_status stats_plain(const char *path, const char *prefix, const mv_vol *v, const double *q, int nq)
{
    mv_stats s;
    mv_status st = mv_compute_stats(v, &s, NULL); /* scaled, float64 */
    if (st != MV_OK) return st;
    printf("%ssum=%.17g mean=%.17g std=%.17g min=%.17g max=%.17g", prefix, s.sum, s.mean, s.std, s.min, s.max);
    st = print_percentiles(v, NULL, q, nq);
    printf("\n");
    if (s.nan_count || s.inf_count)
        fprintf(stderr, "mvtool: %s: %lld NaN and %lld infinite voxels left out of the statistics\n", path,
                (long long)s.nan_count, (long long)s.inf_count);
    return st;
}

/* Per-region lines: label l (1..nlabels-1, or the mask as label 1) of frame
   view f; regions without voxels are skipped for label maps. */
static mv_status stats_regions(const char *prefix, const mv_vol *f, const mv_vol *labels, int64_t nlabels, int is_mask,
                               const double *q, int nq)
{
    mv_region_stats *rs = (mv_region_stats *)calloc((size_t)nlabels, sizeof(*rs));
    mv_status st;
    int64_t l;
    if (!rs) return MV_ERR_OUT_OF_MEMORY;
    st = mv_region_stats_compute(f, labels, nlabels, rs, NULL);
    for (l = 1; st == MV_OK && l < nlabels; l++) {
        const mv_region_stats *r = &rs[l];
        if (!is_mask && r->count == 0) continue;
        printf("%s", prefix);
        if (!is_mask) printf("label=%lld ", (long long)l);
        printf("voxels=%lld volume=%.17g sum=%.17g mean=%.17g std=%.17g min=%.17g max=%.17g", (long long)r->count,
               r->volume_mm3, r->sum, r->mean, r->std, r->min, r->max);
        if (!is_mask)
            printf(" centroid=%.9g,%.9g,%.9g", r->centroid[0], r->centroid[1], r->centroid[2]);
        if (is_mask) st = print_percentiles(f, labels, q, nq);
        printf("\n");
    }
    free(rs);
    return st;
}

/* The number of label slots a label map needs: its largest value + 1. */
static int stats_nlabels(const char *path, const mv_vol *labels, int64_t *nlabels)
{
    mv_stats s;
    mv_status st = mv_compute_stats(labels, &s, NULL);
    if (st != MV_OK) return fail_at(st, path);
    if (!(s.max >= 0) || s.max > 1e7 || s.max != floor(s.max)) {
        fprintf(stderr, "mvtool stats: %s: labels must be whole numbers in 0..10000000 (largest is %g)\n", path, s.max);
        return 1;
    }
    *nlabels = (int64_t)s.max + 1;
    return 0;
}

static int cmd_stats(const args *a)
{
    const char *kpath = opt_str(a, "-k"), *lpath = opt_str(a, "-l"), *plist = opt_str(a, "-P");
    int per_frame = opt_flag(a, "--per-frame"), f, rc = 0, nq = 0;
    double q[32];
    mv_vol region;
    int64_t nlabels = 2;
    if (kpath && lpath) return usage_error(a, "-k and -l exclude each other", lpath);
    if (plist) {
        nq = parse_list(plist, q, 32);
        if (nq < 1) return usage_error(a, "-P wants percentiles such as 5,50,95", plist);
        for (f = 0; f < nq; f++)
            if (q[f] < 0 || q[f] > 100) return usage_error(a, "-P: percentiles are in 0..100", plist);
        if (lpath) return usage_error(a, "-P goes with the whole volume or -k, not -l", plist);
    }
    mv_vol_init(&region);
    if (kpath || lpath) {
        if (load_or_fail(kpath ? kpath : lpath, &region, NULL)) return 1;
        if (kpath) { /* nonzero = inside, whatever the mask's type (an integer mask would read as labels) */
            mv_status st = mv_math(&region, MV_MATH_NE, NULL, 0.0, &region, NULL);
            if (st != MV_OK) {
                mv_free(&region);
                return fail_at(st, kpath);
            }
        }
        if (lpath && stats_nlabels(lpath, &region, &nlabels)) {
            mv_free(&region);
            return 1;
        }
    }
    for (f = 0; f < a->npos; f++) {
        const char *path = a->pos[f];
        int64_t t, nt;
        mv_vol v;
        mv_status st = MV_OK;
        if (load_or_fail(path, &v, NULL)) { /* stored values, mapped when possible */
            rc = 1;
            continue;
        }
        nt = per_frame || kpath || lpath ? frame_count(&v) : 1;
        for (t = 0; t < nt && st == MV_OK; t++) {
            mv_vol fv = nt > 1 || kpath || lpath ? frame_view(&v, t) : v;
            char prefix[1200];
            prefix[0] = 0;
            if (a->npos > 1) snprintf(prefix, sizeof(prefix), "%.1000s: ", path);
            if (nt > 1) snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "frame=%lld ", (long long)t);
            if (kpath || lpath) st = stats_regions(prefix, &fv, &region, nlabels, kpath != NULL, q, nq);
            else st = stats_plain(path, prefix, &fv, q, nq);
        }
        if (nt > 1 && !per_frame)
            fprintf(stderr, "mvtool stats: %s: %lld frames, one line each (a 3D mask or label map applies per frame)\n",
                    path, (long long)nt);
        mv_free(&v);
        if (st != MV_OK) rc = fail_at(st, path);
    }
    mv_free(&region);
    return rc;
}

/* ---- conversion to another dtype ---- */

/* The integer type's range, from saturating conversions of +-huge. */
static void int_range(mv_dtype dt, double *lo, double *hi)
{
    double big = 1e300, small = -1e300;
    unsigned char probe[16];
    mv_convert_buffer(&big, MV_DT_F64, probe, dt, 1, NULL);
    mv_convert_buffer(probe, dt, hi, MV_DT_F64, 1, NULL);
    mv_convert_buffer(&small, MV_DT_F64, probe, dt, 1, NULL);
    mv_convert_buffer(probe, dt, lo, MV_DT_F64, 1, NULL);
}

/* nibabel's casting.shared_range(float32, dt): the type's range cut to
   values a float32 holds (nibabel keeps slope and inter in float32). */
static void int_range_f32(mv_dtype dt, double *lo, double *hi)
{
    double tlo, thi;
    int bits;
    int_range(dt, &tlo, &thi);
    bits = (int)mv_dtype_size(dt) * 8 - (tlo < 0);
    *lo = tlo < 0 ? -ldexp(1, bits) : 0;
    *hi = bits > 24 ? ldexp(1, bits) - ldexp(1, bits - 24) : ldexp(1, bits) - 1;
}

/* nibabel's floor_exact(x, float32): the largest float32 <= x. */
static double floor_f32(double x)
{
    float f = (float)x;
    if ((double)f > x) f = nextafterf(f, -INFINITY);
    return f;
}

/* slope and inter for values mn..mx (finite) written as integer dtype dt,
   as nibabel's SlopeInterArrayWriter chooses them (nib.save of data into an
   integer header dtype): unscaled integer input first tries an intercept
   alone, then (unsigned output) a sign flip; otherwise the range mn..mx is
   stretched over the type's (float32-representable) range, the slope's
   sign chosen so the value nearer zero lands on 0 for unsigned types.
   Both end up float32, as the NIfTI header stores them. */
static void nibabel_slope_inter(double mn, double mx, int integer_input, mv_dtype dt, double *slope, double *inter)
{
    double omin, omax, s, it;
    int_range_f32(dt, &omin, &omax);
    if (integer_input) { /* arraywriters: SlopeInterArrayWriter._iu2iu, then SlopeArrayWriter._iu2iu */
        if (mx - mn <= omax - omin) {
            it = omin == 0 ? floor_f32(mn - omin) : floor_f32(mn + ceil((mx - mn) / 2.0));
            if (mn - it >= omin && mx - it <= omax) {
                *slope = 1;
                *inter = it;
                return;
            }
        }
        if (omin == 0 && mx <= 0 && -mn <= omax) {
            *slope = -1;
            *inter = 0;
            return;
        }
    }
    if (mx == mn) { /* SlopeInterArrayWriter._range_scale */
        *slope = 1;
        *inter = (float)mn;
        return;
    }
    s = (mx - mn) / (omax - omin);
    if (omin == 0 && fabs(mx) < fabs(mn)) {
        it = mx + omin * s;
        s = -s;
    } else {
        it = mn - omin * s;
    }
    *slope = (float)s;
    *inter = (float)it;
}

enum { CV_SATURATE, CV_SCALE_IF_NEEDED, CV_SCALE_ALWAYS };

/* v's values (NIfTI scaling applied) as dtype dt in *out. Integer targets:
   CV_SATURATE rounds half to even and saturates (a warning if values fall
   outside); CV_SCALE_IF_NEEDED picks scl_slope/scl_inter as nibabel does
   (nibabel_slope_inter) when the values do not fit the type (or the
   unscaled integer input does not), and says so on stderr;
   CV_SCALE_ALWAYS does that for any float (or scaled) input too, as
   nib.save does. NaN becomes the code for 0 and +-Inf the finite extremes
   (nibabel's nan2zero and thresholds). */
static mv_status convert_values(const char *path, const mv_vol *v, mv_dtype dt, int mode, mv_vol *out)
{
    mv_convert_opts co;
    mv_stats s;
    double lo, hi, slope = 1, inter = 0, mn, mx, ss = v->meta.scl_slope, si = v->meta.scl_inter;
    int scaled_in = isfinite(ss) && isfinite(si) && ss != 0 && !(ss == 1 && si == 0);
    int integer_input = mv_dtype_is_integer(v->dtype) && !scaled_in, fits, need;
    int64_t n, b;
    size_t ssz, dsz;
    double *buf;
    mv_status st;
    memset(&co, 0, sizeof(co));
    co.scaled = 1;
    if (!mv_dtype_is_integer(dt) || mv_dtype_is_complex(v->dtype) || v->dtype == MV_DT_RGB24 || v->dtype == MV_DT_RGBA32)
        return mv_convert(v, out, dt, &co);
    st = mv_compute_stats(v, &s, NULL);
    if (st != MV_OK) return st;
    int_range(dt, &lo, &hi);
    fits = s.min >= lo && s.max <= hi;
    need = mode != CV_SATURATE && s.min <= s.max && !(s.min == 0 && s.max == 0) &&
           (!fits || (mode == CV_SCALE_ALWAYS && !integer_input));
    if (!need) {
        if (!fits && s.min <= s.max)
            fprintf(stderr, "mvtool: %s: values %g..%g saturate in %s (%g..%g)\n", path, s.min, s.max, mv_dtype_name(dt),
                    lo, hi);
        return mv_convert(v, out, dt, &co);
    }
    mn = s.min;
    mx = s.max;
    if (s.nan_count && !integer_input) { /* NaN is written as 0: the range must hold it */
        mn = mn < 0 ? mn : 0;
        mx = mx > 0 ? mx : 0;
    }
    nibabel_slope_inter(mn, mx, integer_input, dt, &slope, &inter);
    if (!fits)
        fprintf(stderr, "mvtool: %s: values %g..%g do not fit %s: stored with scl_slope %.9g, scl_inter %.9g "
                "(as nibabel; --saturate clips instead)\n", path, s.min, s.max, mv_dtype_name(dt), slope, inter);
    /* a volume of the right shape and metadata, then the values over it */
    st = mv_convert(v, out, dt, &co);
    if (st != MV_OK) return st;
    n = mv_vol_count(v);
    ssz = mv_dtype_size(v->dtype);
    dsz = mv_dtype_size(dt);
    buf = (double *)malloc(65536 * sizeof(double));
    if (!buf) {
        mv_free(out);
        return mv_set_error(MV_ERR_OUT_OF_MEMORY, "%s: conversion buffer", path);
    }
    co.slope = ss;
    co.inter = si;
    for (b = 0; b < n && st == MV_OK; b += 65536) {
        int64_t m = n - b < 65536 ? n - b : 65536, k;
        st = mv_convert_buffer((const unsigned char *)v->data + (size_t)b * ssz, v->dtype, buf, MV_DT_F64, (size_t)m, &co);
        for (k = 0; k < m && st == MV_OK; k++) {
            double x = buf[k];
            x = x != x ? 0 : x < mn ? mn : x > mx ? mx : x;
            buf[k] = (x - inter) / slope;
        }
        if (st == MV_OK)
            st = mv_convert_buffer(buf, MV_DT_F64, (unsigned char *)out->data + (size_t)b * dsz, dt, (size_t)m, NULL);
    }
    free(buf);
    if (st != MV_OK) {
        mv_free(out);
        return st;
    }
    out->meta.scl_slope = slope;
    out->meta.scl_inter = inter;
    return MV_OK;
}

int parse_dtype(const args *a, const char *word, mv_dtype *dt)
{
    *dt = mv_dtype_from_name(word);
    if (*dt == MV_DT_UNKNOWN) return usage_error(a, "unknown dtype", word);
    return 0;
}

/* OUT's name without its image extension (".nii.gz", ".mgz", ...): where
   the FSL gradient files go, as dcm2niix names them (dwi.nii.gz:
   dwi.bval, dwi.bvec). */
static void grad_stem(const char *path, char *stem, size_t cap)
{
    static const char *exts[] = {".nii.gz", ".nii", ".hdr.gz", ".img.gz", ".hdr", ".img", ".mgz", ".mgh", ".mha", ".mhd"};
    size_t n = strlen(path), i;
    snprintf(stem, cap, "%s", path);
    for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t k = strlen(exts[i]);
        if (n > k && n - k < cap && strcmp(path + n - k, exts[i]) == 0) {
            stem[n - k] = 0;
            return;
        }
    }
}

static int is_nrrd_name(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && strcmp(path + n - 5, ".nrrd") == 0) || (n > 5 && strcmp(path + n - 5, ".nhdr") == 0);
}

/* A diffusion series' table beside OUT as FSL's bval/bvec (NRRD holds it
   in its header instead). */
static int save_gradients_beside(const char *out_path, const mv_vol *v)
{
    char stem[4096], bval[4200], bvec[4200];
    mv_status st;
    if (v->meta.n_grad <= 0 || is_nrrd_name(out_path)) return 0;
    grad_stem(out_path, stem, sizeof(stem));
    snprintf(bval, sizeof(bval), "%s.bval", stem);
    snprintf(bvec, sizeof(bvec), "%s.bvec", stem);
    st = mv_save_fsl_gradients(v, bval, bvec);
    if (st != MV_OK) return fail_at(st, out_path);
    fprintf(stderr, "mvtool convert: %d gradients written to %s and %s\n", v->meta.n_grad, bval, bvec);
    return 0;
}

/* --set KEY:=VALUE and --unset KEY, in the order given: the volume's
   key/value pairs (medvol.h KEY/VALUE PAIRS; NRRD writes them). 0, or the
   exit status (2: the library refused the pair, its message on stderr). */
static int apply_pairs(const args *a, mv_vol *v)
{
    int i;
    for (i = 0; i < a->nopt; i++) {
        const char *w = a->opt_val[i], *sep;
        mv_status st = MV_OK;
        if (!strcmp(a->opt_name[i], "--set")) {
            char key[1024];
            sep = strstr(w, ":=");
            if (!sep || (size_t)(sep - w) >= sizeof(key)) return usage_error(a, "--set takes KEY:=VALUE", w);
            memcpy(key, w, (size_t)(sep - w));
            key[sep - w] = 0;
            st = mv_vol_set_keyvalue(v, key, sep + 2);
        } else if (!strcmp(a->opt_name[i], "--unset")) {
            st = mv_vol_set_keyvalue(v, w, NULL);
        }
        if (st != MV_OK) {
            fprintf(stderr, "mvtool %s: %s: %s\n", a->cmd->name, mv_status_str(st), mv_last_error());
            return 2;
        }
    }
    return 0;
}

/* Without --dtype the stored values and all metadata are rewritten as they
   are; with it, the values (scaling applied, in float64) are converted
   (convert_values). A diffusion series' gradient table (from a DWI NRRD,
   or --bval/--bvec) goes with it: into the header of a NRRD output,
   beside any other as FSL's OUT.bval and OUT.bvec. */
static int cmd_convert(const args *a)
{
    mv_vol v, out;
    mv_save_opts so;
    mv_dtype dt = MV_DT_UNKNOWN;
    const char *dname = opt_str(a, "--dtype");
    int mode = opt_flag(a, "--saturate") ? CV_SATURATE : opt_flag(a, "--scale") ? CV_SCALE_ALWAYS : CV_SCALE_IF_NEEDED;
    mv_status st;
    int rc;
    memset(&so, 0, sizeof(so));
    if (dname && (rc = parse_dtype(a, dname, &dt)) != 0) return rc;
    if (opt_flag(a, "--saturate") && opt_flag(a, "--scale")) return usage_error(a, "--saturate and --scale exclude each other", NULL);
    if (opt_flag(a, "--nifti2")) so.nifti_version = 2;
    so.compress = opt_flag(a, "--compress");
    if (!opt_str(a, "--bval") != !opt_str(a, "--bvec")) return usage_error(a, "--bval and --bvec go together", NULL);
    if (load_or_fail(a->pos[0], &v, NULL)) return 1;
    if (opt_str(a, "--bval") && (st = mv_load_fsl_gradients(&v, opt_str(a, "--bval"), opt_str(a, "--bvec"))) != MV_OK) {
        mv_free(&v);
        return fail_at(st, a->pos[0]);
    }
    if ((rc = apply_pairs(a, &v)) != 0) {
        mv_free(&v);
        return rc;
    }
    if (dt == MV_DT_UNKNOWN || dt == v.dtype) {
        out = v;
    } else {
        st = convert_values(a->pos[0], &v, dt, mode, &out);
        mv_free(&v);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
    }
    if (!strcmp(a->pos[1], "-")) {
        rc = save_to_stdout("convert", &out, &so);
        if (!rc && out.meta.n_grad > 0)
            fprintf(stderr, "mvtool convert: warning: %d gradients not written (no bval/bvec beside standard output)\n",
                    out.meta.n_grad);
        mv_free(&out);
        return rc;
    }
    st = mv_save(a->pos[1], &out, &so);
    if (st == MV_OK) warn_unwritten_pairs(a->pos[1], &out);
    rc = st == MV_OK ? save_gradients_beside(a->pos[1], &out) : fail_at(st, a->pos[1]);
    mv_free(&out);
    return rc;
}

/* Shepp-Logan is made in float32 and smooth in int16 or float32; another
   --dtype converts the values, for integer types with scl_slope/scl_inter
   chosen as nib.save does (Shepp-Logan's 0..1 intensities would round to
   0 and 1 otherwise). */
static int cmd_phantom(const args *a)
{
    mv_vol v, out;
    mv_status st;
    int64_t n = 128;
    const char *kind = opt_str(a, "--kind"), *size = opt_str(a, "--size"), *dname = opt_str(a, "--dtype");
    mv_dtype dt = MV_DT_F32;
    int rc;
    if (size && parse_ints(size, &n, 1, 1, 65536) != 1) return usage_error(a, "--size wants a whole number 1..65536", size);
    if (dname && (rc = parse_dtype(a, dname, &dt)) != 0) return rc;
    if (!kind || strcmp(kind, "shepp") == 0) st = mv_phantom_shepp_logan(&v, n, n, n);
    else if (strcmp(kind, "smooth") == 0) st = mv_phantom_smooth(&v, dt == MV_DT_I16 ? MV_DT_I16 : MV_DT_F32, n, n, n, 1);
    else return usage_error(a, "--kind wants shepp or smooth", kind);
    if (st != MV_OK) return fail_at(st, a->pos[0]);
    if (v.dtype != dt) {
        st = convert_values(a->pos[0], &v, dt, CV_SCALE_ALWAYS, &out);
        mv_free(&v);
        if (st != MV_OK) return fail_at(st, a->pos[0]);
        v = out;
    }
    return save_and_free(a->pos[0], &v, NULL);
}

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
static int cmd_fft(const args *a) { return fft_run(a, 0, 0); }
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

/* ---- the table: one row per subcommand drives --help, the parser and
   dispatch ---- */

#define FILES_NOTE                                                                                             \
    "files: .nii, .hdr/.img pairs (NIfTI-1/2; Analyze 7.5 read), .gz of either; an input '-' is standard\n"  \
    "input (NIfTI or MGH, gzip or not), read once\n"

static const command commands[] = {
    {"info", "header summary of each file (like nib-ls / fslhd)",
     "mvtool info FILE...\n"
     "  format, byte order, dtype, dims, spacing, affine, orientation code, q/s-form,\n"
     "  scaling, extensions. Every file is reported; one that cannot be read gets\n"
     "  its error on stderr, the others still print, and the exit status is 1.\n",
     "", 1, -1, cmd_info},
    {"stats", "sum mean std min max (within a mask, per label, per frame), percentiles",
     "mvtool stats FILE... [-k MASK] [-l LABELS] [-P 5,50,95] [--per-frame]\n"
     "  one line per file: sum=S mean=M std=D min=A max=B (float64, %.17g, NIfTI\n"
     "  scaling applied, NaN/Inf left out and counted on stderr); with several\n"
     "  files each line starts with the file name and ': '. A file that fails\n"
     "  is reported on stderr, the others still run (exit 1).\n"
     "  -k MASK: over the voxels where MASK (same grid) is nonzero, adding\n"
     "     voxels=N volume=MM3 (fslstats -k M -V -M -S -R).\n"
     "  -l LABELS: one line per label > 0 present in the integer label map:\n"
     "     label=L voxels= volume= sum= mean= std= min= max= centroid=X,Y,Z (world\n"
     "     mm, RAS), as nilearn region signals and skimage regionprops.\n"
     "  -P 5,50,95: percentiles p5=.. of the finite voxels (within -k), numpy's\n"
     "     nanpercentile(method='linear'), exact.\n"
     "  --per-frame: one line per 3D frame of a 4D file, starting frame=T (-k\n"
     "     and -l always apply per frame: a 3D mask or label map, each frame).\n",
     "-k= -l= -P= --per-frame", 1, -1, cmd_stats},
    {"convert", "rewrite in another format or dtype",
     "mvtool convert IN OUT [--dtype NAME] [--nifti2] [--saturate | --scale] [--compress]\n"
     "               [--bval FILE --bvec FILE] [--set KEY:=VALUE] [--unset KEY]\n"
     "  format from OUT's name (.nii[.gz], .hdr/.img[.gz], MetaImage .mha/.mhd;\n"
     "  --compress: MetaImage's zlib CompressedData; NRRD .nrrd/.nhdr, --compress:\n"
     "  gzip encoding; FreeSurfer .mgh, .mgz); OUT '-': a NIfTI stream on standard\n"
     "  output (.nii, --compress .nii.gz, --nifti2), not to a terminal;\n"
     "  without --dtype stored values and metadata are kept (MetaImage, NRRD and MGH\n"
     "  have no scaling: a scaled input needs --dtype; MGH holds uint8, int16,\n"
     "  int32 and float32). --dtype converts the scaled values (float64; integers\n"
     "  round half to even). To an integer dtype, values outside its range are stored with\n"
     "  scl_slope/scl_inter chosen as nibabel's nib.save does (said on stderr);\n"
     "  --saturate clips them instead (with a warning); --scale scales float (or\n"
     "  scaled) input even when it fits, exactly as nib.save always does.\n"
     "  NAME: uint8 int8 int16 uint16 int32 uint32 int64 uint64 float32 float64 ...\n"
     "  Diffusion series: a DWI NRRD's gradients (DWMRI_ keys, measurement frame),\n"
     "  or FSL's --bval/--bvec given with IN, go into OUT's header (NRRD) or beside\n"
     "  it as FSL's files (dwi.nii.gz: dwi.bval, dwi.bvec; x negated for a\n"
     "  positive-determinant affine, as FSL, dcm2niix and MRtrix3 do).\n"
     "  Key/value pairs (a NRRD's key:=value lines, which NRRD outputs keep):\n"
     "  --set KEY:=VALUE sets one, --unset KEY removes one (each repeatable, in\n"
     "  order; `mvtool info` lists them).\n",
     "--dtype= --nifti2 --saturate --scale --compress --bval= --bvec= --set= --unset=", 2, 2, cmd_convert},
    {"phantom", "a 3D Shepp-Logan or smooth+noise phantom",
     "mvtool phantom OUT [--size N] [--kind shepp|smooth] [--dtype NAME]\n"
     "  N x N x N (default 128), shepp by default, float32 by default; integer\n"
     "  dtypes store the values with scl_slope/scl_inter as nib.save chooses.\n",
     "--size= --kind= --dtype=", 1, 1, cmd_phantom},
    {"znorm", "z-normalise (float32 out)",
     "mvtool znorm IN OUT [--nonzero] [--mask MASK] [--per-frame]\n", "--nonzero --mask= --per-frame", 2, 2, cmd_znorm},
    {"rescale", "min-max (or percentile) rescale, default to 0,1",
     "mvtool rescale IN OUT [LO,HI] [--pct P1,P2] [--clip] [--nonzero]   (default 0,1; float32)\n",
     "--pct= --clip --nonzero", 2, 3, cmd_rescale},
    {"clamp", "clamp to LO,HI (float32 out)", "mvtool clamp IN OUT LO,HI\n", "", 3, 3, cmd_clamp},
    {"crop-or-pad", "centred crop / pad (dtype kept)", "mvtool crop-or-pad IN OUT X,Y,Z [--fill V]\n", "--fill=", 3, 3,
     cmd_crop_or_pad},
    {"flip", "flip axes (dtype kept)", "mvtool flip IN OUT AXES                  (e.g. 0 or 0,2)\n", "", 3, 3, cmd_flip},
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
    {"fft", "numpy fftn over x,y,z (complex64 out)",
     "mvtool fft IN OUT\n  numpy.fft.fftn over the three spatial axes (norm backward, no shift),\n"
     "  complex64 out; real inputs promoted (scaling applied); 4D: each volume.\n", "", 2, 2, cmd_fft},
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

/* Every family's table, in the order --help lists them. */
typedef struct family {
    const command *rows;
    const int *n;
} family;
static const int n_core_commands = (int)(sizeof(commands) / sizeof(commands[0]));
static const family families[] = {
    {commands, &n_core_commands},
    {mvtool_math_commands, &mvtool_math_ncommands},
    {mvtool_filter_commands, &mvtool_filter_ncommands},
    {mvtool_field_commands, &mvtool_field_ncommands},
    {mvtool_register_commands, &mvtool_register_ncommands},
    {mvtool_analysis_commands, &mvtool_analysis_ncommands},
    {mvtool_mri_commands, &mvtool_mri_ncommands},
    {mvtool_recon_commands, &mvtool_recon_ncommands},
};
#define N_FAMILIES ((int)(sizeof(families) / sizeof(families[0])))

static const command *find_command(const char *name)
{
    int f, i;
    for (f = 0; f < N_FAMILIES; f++)
        for (i = 0; i < *families[f].n; i++)
            if (strcmp(families[f].rows[i].name, name) == 0) return &families[f].rows[i];
    return NULL;
}

static void print_help(FILE *f)
{
    int i, k;
    fprintf(f, "usage: mvtool [--threads N] COMMAND ARGS...   (mvtool COMMAND --help for its usage)\n"
               "       mvtool --help | --version\n"
               "       --threads N: threads the library uses (0 = all cores, the default; 1 = none)\n\ncommands:\n");
    for (k = 0; k < N_FAMILIES; k++)
        for (i = 0; i < *families[k].n; i++)
            fprintf(f, "  %-12s %s\n", families[k].rows[i].name, families[k].rows[i].summary);
    fprintf(f, "\n" FILES_NOTE "exit status: 0 done, 1 a file or operation failed, 2 usage error\n");
}

int main(int argc, char **argv)
{
    const command *c;
    args a;
    int rc;
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            c = find_command(argv[2]);
            if (!c) return usage_error(NULL, "unknown command", argv[2]);
            printf("usage: %s", c->usage);
            return 0;
        }
        print_help(stdout);
        return 0;
    }
    /* a global option before the command: the library's thread count */
    if (strcmp(argv[1], "--threads") == 0) {
        char *end = NULL;
        long n;
        if (argc < 3) return usage_error(NULL, "--threads needs a value", argv[1]);
        errno = 0;
        n = strtol(argv[2], &end, 10);
        if (errno || !end || *end || end == argv[2] || n < 0 || n > 256)
            return usage_error(NULL, "--threads takes 0 (all cores) .. 256", argv[2]);
        mv_set_threads((int)n);
        argc -= 2;
        argv += 2;
        if (argc < 2) {
            print_help(stderr);
            return 2;
        }
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mvtool (medvol) %s\n", MEDVOL_VERSION_STRING);
        return 0;
    }
    c = find_command(argv[1]);
    if (!c) return usage_error(NULL, argv[1][0] == '-' ? "unknown option" : "unknown command", argv[1]);
    rc = parse_args(c, argc - 2, argv + 2, &a);
    if (rc == 0) rc = c->run(&a);
    else if (rc < 0) rc = 0;
    free(a.pos);
    return rc;
}
