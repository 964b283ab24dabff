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
   name, the file and the library's detail on stderr).
   This file: the parser, the shared helpers (mvtool.h) and the io commands
   (info, stats, convert, phantom); each family of the others is a file
   beside it (mvtool_ops.c, _math, _filter, _field, _register, _analysis,
   _mri, _recon) with its own table of rows. */
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
   such as -1,3 stay positional (but for a digit option the command lists,
   ecalib's -1); after "--" every word is positional; a word that is no option as a whole but
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
        if (strcmp(w, "--") == 0) { /* getopt's end of options: the rest positional (bart scale -- -0.5 IN OUT) */
            while (++i < argc) a->pos[a->npos++] = argv[i];
            break;
        }
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            printf("usage: %s", c->usage);
            return -1;
        }
        if (!(w[0] == '-' && (w[1] == '-' || (w[1] >= 'a' && w[1] <= 'z') || (w[1] >= 'A' && w[1] <= 'Z'))) &&
            !(w[0] == '-' && w[1] >= '0' && w[1] <= '9' && option_kind(c, w, strlen(w)) >= 0)) { /* bart ecalib -1 */
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

int opt_floats(const args *a, const char *name, float *v, int n)
{
    const char *s = opt_str(a, name), *p = s;
    char *e;
    int k;
    if (!s) return 0;
    for (k = 0; k < n; k++) {
        v[k] = strtof(p, &e);
        if (e == p || !isfinite(v[k]) || *e != (k + 1 < n ? ':' : 0))
            return usage_error(a, n == 1 ? "option wants a number" : n == 3 ? "option wants three numbers a:b:c" :
                               "option wants numbers a:b:...", s);
        p = e + 1;
    }
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

/* every command's load: a BART .cfl with axes beyond medvol's 7 (its
   TIME_DIM 10 and the others up to 15) folded into dims[6], as the
   BART-like commands read them (cfl_load_folded); other formats as is */
int load_or_fail(const char *path, mv_vol *v, const mv_load_opts *opts)
{
    mv_load_opts lo;
    const mv_load_opts *o = &lo;
    mv_status st;
    if (opts)
        lo = *opts;
    else
        memset(&lo, 0, sizeof(lo));
    lo.cfl_fold = 1;
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

static int cfl_load_as(const char *path, mv_vol *v, int64_t bd[16], int mapped)
{
    mv_load_opts lo;
    int64_t fd[MV_MAX_DIMS];
    int ax;
    mv_status st;
    memset(&lo, 0, sizeof(lo));
    lo.cfl_fold = 1;
    lo.mmap = mapped ? MV_MMAP_REQUIRE : MV_MMAP_NEVER;
    mv_vol_init(v);
    st = mv_cfl_load(path, v, &lo);
    if (st == MV_ERR_UNSUPPORTED && mapped) { /* no mapping here (not a file): read it */
        lo.mmap = MV_MMAP_NEVER;
        st = mv_cfl_load(path, v, &lo);
    }
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

/* ---- BART arrays shared by the families ---- */

void strides_of(const int64_t d[16], int64_t s[16])
{
    int ax;
    s[0] = 1;
    for (ax = 1; ax < 16; ax++) s[ax] = s[ax - 1] * d[ax - 1];
}

/* a zeroed array of BART sizes bd (folded to medvol's dims); exit status */
int alloc16(mv_vol *o, const int64_t bd[16], const char *path)
{
    int64_t fd[MV_MAX_DIMS];
    const int nd = cfl_fold_dims(bd, fd);
    mv_status st;
    mv_vol_init(o);
    st = mv_vol_alloc(o, MV_DT_C64, nd, fd, NULL);
    return st == MV_OK ? 0 : fail_at(st, path);
}

/* one whole number in [lo, hi] (BART's axis numbers, sizes, positions) */
int arg_int(const args *a, const char *word, int64_t lo, int64_t hi, const char *what, int64_t *v)
{
    if (parse_ints(word, v, 1, lo, hi) != 1) return usage_error(a, what, word);
    return 0;
}

void ones16(int64_t d[16])
{
    int ax;
    for (ax = 0; ax < 16; ax++) d[ax] = 1;
}

int64_t count16(const int64_t d[16])
{
    int64_t n = 1;
    int ax;
    for (ax = 0; ax < 16; ax++) n *= d[ax];
    return n;
}

/* the next position of a 16-axis counter c within sizes d (first axis
   fastest); 0 when it wrapped to all zeros */
int next16(int64_t c[16], const int64_t d[16])
{
    int ax;
    for (ax = 0; ax < 16; ax++) {
        if (++c[ax] < d[ax]) return 1;
        c[ax] = 0;
    }
    return 0;
}

/* the offset of position c in an array of sizes d broadcast over it (an axis of 1 repeats) */
int64_t offset16(const int64_t c[16], const int64_t d[16])
{
    int64_t off = 0, st = 1;
    int ax;
    for (ax = 0; ax < 16; ax++) {
        if (d[ax] > 1) off += c[ax] * st;
        st *= d[ax];
    }
    return off;
}

int cfl_load_folded(const char *path, mv_vol *v, int64_t bd[16]) { return cfl_load_as(path, v, bd, 0); }
int cfl_load_mapped(const char *path, mv_vol *v, int64_t bd[16]) { return cfl_load_as(path, v, bd, 1); }

int cfl_save_dims(const char *path, mv_vol *v, const int64_t bd[16])
{
    mv_save_opts so;
    mv_status st;
    memset(&so, 0, sizeof(so));
    so.cfl_dims = bd;
    so.exchange = 1; /* bart rewrites its outputs in place: no ext4 flush on the rename either */
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

static int is_cfl(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcmp(path + n - 4, ".cfl") == 0;
}

/* a .cfl's 16 sizes as its header has them (the volume above holds its
   axes beyond medvol's 7 folded into dims[6]) */
static void print_cfl_sizes(const char *path)
{
    int64_t bd[16];
    int ax;
    if (!is_cfl(path) || mv_cfl_dims(path, bd) != MV_OK) return;
    printf("BART dims   ");
    for (ax = 0; ax < 16; ax++) printf(" %lld", (long long)bd[ax]);
    printf("\n");
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
        print_cfl_sizes(a->pos[f]);
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
    { /* .cfl to .cfl: BART's 16 sizes kept (the volume holds them folded) */
        int64_t bd[16];
        if (is_cfl(a->pos[0]) && is_cfl(a->pos[1]) && mv_cfl_dims(a->pos[0], bd) == MV_OK) so.cfl_dims = bd;
        st = mv_save(a->pos[1], &out, &so);
    }
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
};

/* Every family's table, in the order --help lists them. */
typedef struct family {
    const command *rows;
    const int *n;
} family;
static const int n_core_commands = (int)(sizeof(commands) / sizeof(commands[0]));
static const family families[] = {
    {commands, &n_core_commands},
    {mvtool_ops_commands, &mvtool_ops_ncommands},
    {mvtool_math_commands, &mvtool_math_ncommands},
    {mvtool_filter_commands, &mvtool_filter_ncommands},
    {mvtool_field_commands, &mvtool_field_ncommands},
    {mvtool_register_commands, &mvtool_register_ncommands},
    {mvtool_analysis_commands, &mvtool_analysis_ncommands},
    {mvtool_mri_commands, &mvtool_mri_ncommands},
    {mvtool_recon_commands, &mvtool_recon_ncommands},
    {mvtool_array_commands, &mvtool_array_ncommands},
    {mvtool_image_commands, &mvtool_image_ncommands},
    {mvtool_sense_commands, &mvtool_sense_ncommands},
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
