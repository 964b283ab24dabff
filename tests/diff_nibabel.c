/* diff_nibabel.c - one NIfTI / Analyze (or FreeSurfer MGH) read or write
   through medvol's public API, for tests/py/diff_nibabel.py, which draws
   random files and volumes (every datatype and byte order, odd headers,
   crop boxes, every load path) and compares each result with nibabel's,
   and tests/py/diff_mgh.py, which does the same with .mgh/.mgz files. Not
   a test on its own: the Python side decides.

   diff_nibabel read OPTS PATH OUT [REPORT]
       mv_load* of PATH; the voxel array (as loaded, native byte order) to
       OUT, the volume's description to REPORT (default stdout): one
       "key value..." line per field, doubles as %.17g, text fields in hex
       ("-" when empty). OPTS: "-" or key=value,... of
         scaled dtype(name) rounding mmap squeeze strict header_only
         threads verify bs=S0:S1:.. bz=N0:N1:.. (box_start / box_size)
         src=file|mem|borrow|pair|io|ioseek (mv_load, mv_load_mem,
         mv_load_mem_borrow, mv_load_mem_pair on PATH (.hdr) and its .img,
         mv_load_io without / with a seek callback, short reads)
   diff_nibabel resave OPTS PATH OUT [REPORT]
       mv_load of PATH (OPTS as for read, plus v=N: mv_save_opts.nifti_version,
       gzl=N: gzip level, sm=1: one gzip member) and mv_save of the volume
       as it came to OUT (the format from OUT's name); REPORT gets the status.
   diff_nibabel write SPEC PATH [REPORT]
       a volume from SPEC (text: "key value..." lines, see spec_line; the
       voxels from a raw file in native byte order) saved to PATH with
       mv_save, mv_save_mem or mv_save_io; REPORT gets the status.
   diff_nibabel batch FILE
       each line of FILE is one of the commands above (arguments separated
       by single spaces, no quoting); every command's REPORT is its last
       argument. Exits 0 when every line ran (whatever medvol returned). */
#include "../medvol.h"
#include "diff_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

/* strtok_r without POSIX: the next token of *s split at any of seps */
static char *next_token(char **s, const char *seps)
{
    char *t = *s, *e;
    t += strspn(t, seps);
    if (!*t) {
        *s = t;
        return NULL;
    }
    e = t + strcspn(t, seps);
    if (*e) *e++ = 0;
    *s = e;
    return t;
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;
    *buf = NULL;
    *len = 0;
    if (!f) return 0;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    *buf = (unsigned char *)malloc((size_t)n + 1);
    if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        free(*buf);
        *buf = NULL;
        fclose(f);
        return 0;
    }
    fclose(f);
    *len = (size_t)n;
    return 1;
}

static void put_hex(FILE *o, const unsigned char *p, size_t n)
{
    size_t i;
    if (n == 0) fputs(" -", o);
    else fputc(' ', o);
    for (i = 0; i < n; i++) fprintf(o, "%02x", p[i]);
}

static size_t get_hex(const char *s, unsigned char *dst, size_t cap)
{
    size_t n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1] && n < cap) {
        unsigned v = 0;
        if (sscanf(s, "%2x", &v) != 1) break;
        dst[n++] = (unsigned char)v;
        s += 2;
    }
    return n;
}

/* ---- streams for mv_load_io / mv_save_io ---- */

typedef struct membuf {
    const unsigned char *p;
    size_t len, pos, calls;
} membuf;

/* short reads of varying length, as a pipe gives */
static size_t mem_read(void *user, void *buf, size_t n)
{
    membuf *m = (membuf *)user;
    size_t left = m->len - m->pos, k = n;
    m->calls++;
    if (k > 3 && (m->calls % 3) == 0) k = k / 2 + 1;
    if (k > left) k = left;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return k;
}

static int mem_seek(void *user, uint64_t off)
{
    membuf *m = (membuf *)user;
    if (off > m->len) return -1;
    m->pos = (size_t)off;
    return 0;
}

static int file_write(void *user, const void *buf, size_t n)
{
    return fwrite(buf, 1, n, (FILE *)user) == n ? 0 : -1;
}

/* ---- the report ---- */

static void put_doubles(FILE *o, const char *key, const double *v, int n)
{
    int i;
    fputs(key, o);
    for (i = 0; i < n; i++) fprintf(o, " %.17g", v[i]);
    fputc('\n', o);
}

static void report_vol(FILE *o, const mv_vol *v)
{
    const mv_meta *m = &v->meta;
    double aff[16], q;
    char code[4];
    mv_status st;
    int i;
    fprintf(o, "warnings %u\nformat %d\npair %d\nbig_endian %d\n", m->warnings, (int)m->format, m->pair,
            m->big_endian);
    fprintf(o, "dtype %s\ncode %d\nndim %d\ndim", mv_dtype_name(v->dtype), mv_dtype_nifti_code(v->dtype), v->ndim);
    for (i = 0; i < MV_MAX_DIMS; i++) fprintf(o, " %lld", (long long)v->dim[i]);
    fputc('\n', o);
    put_doubles(o, "spacing", v->spacing, MV_MAX_DIMS);
    for (i = 0; i < 16; i++) aff[i] = v->affine[i / 4][i % 4];
    put_doubles(o, "affine", aff, 16);
    st = mv_orientation(v, code);
    if (st == MV_OK) fprintf(o, "orient %s\n", code);
    else fprintf(o, "orient_error %s\n", mv_status_str(st));
    fprintf(o, "qform_code %d\nsform_code %d\n", m->qform_code, m->sform_code);
    put_doubles(o, "quatern", m->quatern, 3);
    put_doubles(o, "qoffset", m->qoffset, 3);
    q = m->qfac;
    put_doubles(o, "qfac", &q, 1);
    for (i = 0; i < 12; i++) aff[i] = m->srow[i / 4][i % 4];
    put_doubles(o, "srow", aff, 12);
    put_doubles(o, "scl_slope", &m->scl_slope, 1);
    put_doubles(o, "scl_inter", &m->scl_inter, 1);
    put_doubles(o, "cal_min", &m->cal_min, 1);
    put_doubles(o, "cal_max", &m->cal_max, 1);
    put_doubles(o, "slice_duration", &m->slice_duration, 1);
    put_doubles(o, "toffset", &m->toffset, 1);
    fprintf(o, "slice_start %lld\nslice_end %lld\nslice_code %d\n", (long long)m->slice_start,
            (long long)m->slice_end, m->slice_code);
    fprintf(o, "xyzt_units %d\nintent_code %d\n", m->xyzt_units, m->intent_code);
    put_doubles(o, "intent_p", m->intent_p, 3);
    fprintf(o, "dim_info %d\nintent_name", m->dim_info);
    put_hex(o, (const unsigned char *)m->intent_name, strlen(m->intent_name));
    fputs("\ndescrip", o);
    put_hex(o, (const unsigned char *)m->descrip, strlen(m->descrip));
    fputs("\naux_file", o);
    put_hex(o, (const unsigned char *)m->aux_file, strlen(m->aux_file));
    fprintf(o, "\nanalyze_origin %d %d %d %d %d\nn_ext %d\n", m->analyze_origin[0], m->analyze_origin[1],
            m->analyze_origin[2], m->analyze_origin[3], m->analyze_origin[4], m->n_ext);
    for (i = 0; i < m->n_ext; i++) {
        fprintf(o, "ext %d %u", (int)m->ext[i].code, (unsigned)m->ext[i].size);
        put_hex(o, m->ext[i].data, m->ext[i].size);
        fputc('\n', o);
    }
    put_doubles(o, "mgh_mr", m->mgh_mr, 5);
    fprintf(o, "mgh_dof %d\n", m->mgh_dof);
    fprintf(o, "flags %u\n", v->flags);
}

static void report_status(FILE *o, mv_status st)
{
    fprintf(o, "status %s\n", mv_status_str(st));
    if (st != MV_OK) fprintf(o, "error %s\n", mv_last_error());
}

/* ---- read ---- */

static int parse_list(const char *s, int64_t *v)
{
    int n = 0;
    while (*s && n < MV_MAX_DIMS) {
        char *end;
        v[n++] = strtoll(s, &end, 10);
        if (*end != ':') break;
        s = end + 1;
    }
    return n;
}

/* OPTS -> load options, the source and (for resave) save options; 0 on a bad option */
static int parse_opts(const char *s, mv_load_opts *o, char *src, size_t src_cap, mv_save_opts *so)
{
    char buf[512], *tok, *rest = buf;
    memset(o, 0, sizeof(*o));
    memset(so, 0, sizeof(*so));
    snprintf(src, src_cap, "file");
    if (strcmp(s, "-") == 0) return 1;
    if (strlen(s) >= sizeof(buf)) return 0;
    memcpy(buf, s, strlen(s) + 1);
    while ((tok = next_token(&rest, ",")) != NULL) {
        char *eq = strchr(tok, '=');
        const char *val;
        if (!eq) return 0;
        *eq = 0;
        val = eq + 1;
        if (strcmp(tok, "scaled") == 0) o->scaled = atoi(val);
        else if (strcmp(tok, "dtype") == 0) {
            o->dtype = mv_dtype_from_name(val);
            if (o->dtype == MV_DT_UNKNOWN) return 0;
        } else if (strcmp(tok, "rounding") == 0) o->rounding = (mv_round)atoi(val);
        else if (strcmp(tok, "mmap") == 0) o->mmap = (mv_mmap_mode)atoi(val);
        else if (strcmp(tok, "squeeze") == 0) o->squeeze = atoi(val);
        else if (strcmp(tok, "strict") == 0) o->strict = atoi(val);
        else if (strcmp(tok, "header_only") == 0) o->header_only = atoi(val);
        else if (strcmp(tok, "threads") == 0) o->threads = atoi(val);
        else if (strcmp(tok, "verify") == 0) o->verify = atoi(val);
        else if (strcmp(tok, "bs") == 0) parse_list(val, o->box_start);
        else if (strcmp(tok, "bz") == 0) parse_list(val, o->box_size);
        else if (strcmp(tok, "src") == 0) snprintf(src, src_cap, "%s", val);
        else if (strcmp(tok, "v") == 0) so->nifti_version = atoi(val);
        else if (strcmp(tok, "gzl") == 0) so->gzip.level = atoi(val);
        else if (strcmp(tok, "sm") == 0) so->gzip.single_member = atoi(val);
        else return 0;
    }
    return 1;
}

/* x.hdr[.gz] -> x.img[.gz], the case kept */
static void sibling_img(const char *hdr, char *img, size_t cap)
{
    size_t n = strlen(hdr), core = n;
    snprintf(img, cap, "%s", hdr);
    if (n > 3 && strcmp(hdr + n - 3, ".gz") == 0) core -= 3;
    if (core >= 4 && core <= cap) memcpy(img + core - 3, hdr[core - 1] == 'R' ? "IMG" : "img", 3);
}

static int cmd_read(const char *opts, const char *path, const char *out, FILE *rep, int resave)
{
    mv_load_opts o;
    mv_save_opts so;
    char src[16], img[4096];
    unsigned char *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    mv_vol v;
    mv_status st;
    membuf mb;
    mv_io io;
    if (!parse_opts(opts, &o, src, sizeof(src), &so)) {
        fprintf(rep, "status BAD_OPTS\n");
        return 1;
    }
    mv_vol_init(&v);
    memset(&io, 0, sizeof(io));
    if (strcmp(src, "file") == 0) {
        st = mv_load(path, &v, &o);
    } else if (!read_file(path, &buf, &len)) {
        fprintf(rep, "status NO_FILE\n");
        return 1;
    } else if (strcmp(src, "mem") == 0) {
        st = mv_load_mem(buf, len, &v, &o);
    } else if (strcmp(src, "borrow") == 0) {
        st = mv_load_mem_borrow(buf, len, &v, &o);
    } else if (strcmp(src, "pair") == 0) {
        sibling_img(path, img, sizeof(img));
        if (!read_file(img, &buf2, &len2)) {
            free(buf);
            fprintf(rep, "status NO_FILE\n");
            return 1;
        }
        st = mv_load_mem_pair(buf, len, buf2, len2, &v, &o);
    } else if (strcmp(src, "io") == 0 || strcmp(src, "ioseek") == 0) {
        mb.p = buf;
        mb.len = len;
        mb.pos = 0;
        mb.calls = 0;
        io.read = mem_read;
        io.seek = strcmp(src, "ioseek") == 0 ? mem_seek : NULL;
        io.user = &mb;
        st = mv_load_io(&io, &v, &o);
    } else {
        free(buf);
        fprintf(rep, "status BAD_OPTS\n");
        return 1;
    }
    if (resave) {
        if (st == MV_OK) {
            st = mv_save(out, &v, &so);
            fprintf(rep, "saved 1\n");
        }
        report_status(rep, st);
        if (st == MV_OK) report_vol(rep, &v);
        mv_free(&v);
        free(buf);
        free(buf2);
        return 0;
    }
    report_status(rep, st);
    if (st == MV_OK) {
        size_t n = v.data ? mv_vol_bytes(&v) : 0;
        report_vol(rep, &v);
        fprintf(rep, "bytes %zu\n", n);
        if (!diff_write_exact(out, v.data, n)) fprintf(rep, "write_failed 1\n");
        mv_free(&v);
    }
    free(buf);
    free(buf2);
    return 0;
}

/* ---- write ---- */

typedef struct wspec {
    mv_vol v;
    char data[4096], via[16];
    int version, compress, level, single_member, have_data;
    mv_extension ext[16];
    unsigned char *ext_data[16];
    int n_ext;
} wspec;

static int read_doubles(const char *s, double *v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(s, &end);
        if (end == s) return 0;
        s = end;
    }
    return 1;
}

/* one line of SPEC; 0 if it is not understood */
static int spec_line(wspec *w, char *line)
{
    mv_vol *v = &w->v;
    mv_meta *m = &v->meta;
    char *key = line, *val = strchr(line, ' ');
    double d[16];
    int i;
    if (!val) return 0;
    *val++ = 0;
    if (strcmp(key, "dtype") == 0) return (v->dtype = mv_dtype_from_name(val)) != MV_DT_UNKNOWN;
    if (strcmp(key, "ndim") == 0) return (v->ndim = atoi(val)) >= 1;
    if (strcmp(key, "dim") == 0) {
        if (!read_doubles(val, d, MV_MAX_DIMS)) return 0;
        for (i = 0; i < MV_MAX_DIMS; i++) v->dim[i] = (int64_t)d[i];
        return 1;
    }
    if (strcmp(key, "spacing") == 0) return read_doubles(val, v->spacing, MV_MAX_DIMS);
    if (strcmp(key, "affine") == 0) {
        if (!read_doubles(val, d, 12)) return 0;
        for (i = 0; i < 12; i++) v->affine[i / 4][i % 4] = d[i];
        return 1;
    }
    if (strcmp(key, "srow") == 0) {
        if (!read_doubles(val, d, 12)) return 0;
        for (i = 0; i < 12; i++) m->srow[i / 4][i % 4] = d[i];
        return 1;
    }
    if (strcmp(key, "quatern") == 0) return read_doubles(val, m->quatern, 3);
    if (strcmp(key, "qoffset") == 0) return read_doubles(val, m->qoffset, 3);
    if (strcmp(key, "intent_p") == 0) return read_doubles(val, m->intent_p, 3);
    if (strcmp(key, "qfac") == 0) return read_doubles(val, &m->qfac, 1);
    if (strcmp(key, "scl_slope") == 0) return read_doubles(val, &m->scl_slope, 1);
    if (strcmp(key, "scl_inter") == 0) return read_doubles(val, &m->scl_inter, 1);
    if (strcmp(key, "cal_min") == 0) return read_doubles(val, &m->cal_min, 1);
    if (strcmp(key, "cal_max") == 0) return read_doubles(val, &m->cal_max, 1);
    if (strcmp(key, "slice_duration") == 0) return read_doubles(val, &m->slice_duration, 1);
    if (strcmp(key, "toffset") == 0) return read_doubles(val, &m->toffset, 1);
    if (strcmp(key, "slice_start") == 0) return (m->slice_start = atoll(val)), 1;
    if (strcmp(key, "slice_end") == 0) return (m->slice_end = atoll(val)), 1;
    if (strcmp(key, "slice_code") == 0) return (m->slice_code = atoi(val)), 1;
    if (strcmp(key, "xyzt_units") == 0) return (m->xyzt_units = atoi(val)), 1;
    if (strcmp(key, "intent_code") == 0) return (m->intent_code = atoi(val)), 1;
    if (strcmp(key, "dim_info") == 0) return (m->dim_info = atoi(val)), 1;
    if (strcmp(key, "qform_code") == 0) return (m->qform_code = atoi(val)), 1;
    if (strcmp(key, "sform_code") == 0) return (m->sform_code = atoi(val)), 1;
    if (strcmp(key, "format") == 0) return (m->format = (mv_format)atoi(val)), 1;
    if (strcmp(key, "intent_name") == 0) return get_hex(val, (unsigned char *)m->intent_name, 16), 1;
    if (strcmp(key, "descrip") == 0) return get_hex(val, (unsigned char *)m->descrip, 80), 1;
    if (strcmp(key, "aux_file") == 0) return get_hex(val, (unsigned char *)m->aux_file, 24), 1;
    if (strcmp(key, "ext") == 0) { /* CODE HEX */
        char *hex = strchr(val, ' ');
        size_t n;
        if (!hex || w->n_ext == 16) return 0;
        *hex++ = 0;
        n = strlen(hex) / 2 + 1;
        w->ext_data[w->n_ext] = (unsigned char *)malloc(n);
        if (!w->ext_data[w->n_ext]) return 0;
        w->ext[w->n_ext].code = atoi(val);
        w->ext[w->n_ext].size = (uint32_t)get_hex(hex, w->ext_data[w->n_ext], n);
        w->ext[w->n_ext].data = w->ext_data[w->n_ext];
        w->n_ext++;
        return 1;
    }
    if (strcmp(key, "data") == 0) return (w->have_data = 1), snprintf(w->data, sizeof(w->data), "%s", val), 1;
    if (strcmp(key, "save_version") == 0) return (w->version = atoi(val)), 1;
    if (strcmp(key, "save_via") == 0) return snprintf(w->via, sizeof(w->via), "%s", val), 1;
    if (strcmp(key, "compress") == 0) return (w->compress = atoi(val)), 1;
    if (strcmp(key, "gzip_level") == 0) return (w->level = atoi(val)), 1;
    if (strcmp(key, "single_member") == 0) return (w->single_member = atoi(val)), 1;
    return 0;
}

static int cmd_write(const char *specpath, const char *path, FILE *rep)
{
    static char line[1 << 16];
    wspec w;
    FILE *f = fopen(specpath, "r");
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    mv_save_opts so;
    mv_status st = MV_OK;
    int i, ok = 1;
    memset(&w, 0, sizeof(w));
    mv_vol_init(&w.v);
    snprintf(w.via, sizeof(w.via), "file");
    if (!f) {
        fprintf(rep, "status NO_SPEC\n");
        return 1;
    }
    while (ok && fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n) ok = spec_line(&w, line);
        if (!ok) fprintf(rep, "status BAD_SPEC\nline %s\n", line);
    }
    fclose(f);
    if (ok && (!w.have_data || !read_file(w.data, &raw, &raw_len))) {
        fprintf(rep, "status NO_DATA\n");
        ok = 0;
    }
    if (ok) {
        mv_vol *v = &w.v;
        v->data = raw;
        v->flags = MV_VOL_BORROWED; /* never handed to mv_free's data release */
        if (mv_vol_bytes(v) != raw_len) {
            fprintf(rep, "status BAD_DATA_SIZE\n");
            ok = 0;
        }
    }
    if (ok && w.n_ext) st = mv_vol_set_extensions(&w.v, w.ext, w.n_ext);
    if (ok && st == MV_OK) {
        memset(&so, 0, sizeof(so));
        so.nifti_version = w.version;
        so.compress = w.compress;
        so.gzip.level = w.level;
        so.gzip.single_member = w.single_member;
        if (strcmp(w.via, "file") == 0) {
            st = mv_save(path, &w.v, &so);
        } else if (strcmp(w.via, "mem") == 0) {
            size_t need = 0, got = 0;
            unsigned char *out;
            st = mv_save_mem(&w.v, NULL, 0, &need, &so);
            out = st == MV_OK ? (unsigned char *)malloc(need + 1) : NULL;
            if (st == MV_OK && !out) st = MV_ERR_OUT_OF_MEMORY;
            if (st == MV_OK) st = mv_save_mem(&w.v, out, need, &got, &so);
            if (st == MV_OK && (got != need || !diff_write_exact(path, out, got))) st = MV_ERR_IO;
            free(out);
        } else {
            FILE *of = fopen(path, "wb");
            mv_io io;
            memset(&io, 0, sizeof(io));
            io.write = file_write;
            io.user = of;
            st = of ? mv_save_io(&w.v, &io, &so) : MV_ERR_IO;
            if (of && fclose(of) != 0 && st == MV_OK) st = MV_ERR_IO;
        }
    }
    if (ok) report_status(rep, st);
    w.v.data = NULL;
    mv_free(&w.v);
    free(raw);
    for (i = 0; i < w.n_ext; i++) free(w.ext_data[i]);
    return ok ? 0 : 1;
}

/* ---- dispatch ---- */

static int run(int argc, char **argv, int batch)
{
    FILE *rep = stdout;
    int r;
    if (argc >= 4 && strcmp(argv[0], "read") == 0 && argc <= 5) {
        if (argc == 5 && !(rep = fopen(argv[4], "w"))) return 1;
        r = cmd_read(argv[1], argv[2], argv[3], rep, 0);
    } else if (argc >= 4 && strcmp(argv[0], "resave") == 0 && argc <= 5) {
        if (argc == 5 && !(rep = fopen(argv[4], "w"))) return 1;
        r = cmd_read(argv[1], argv[2], argv[3], rep, 1);
    } else if (argc >= 3 && strcmp(argv[0], "write") == 0 && argc <= 4) {
        if (argc == 4 && !(rep = fopen(argv[3], "w"))) return 1;
        r = cmd_write(argv[1], argv[2], rep);
    } else {
        fprintf(stderr, "diff_nibabel: usage: see tests/diff_nibabel.c\n");
        return 2;
    }
    if (rep != stdout && fclose(rep) != 0) r = 1;
    return batch ? 0 : r;
}

int main(int argc, char **argv)
{
    static char line[1 << 16];
    FILE *f;
    int bad = 0;
    if (argc == 3 && strcmp(argv[1], "batch") == 0) {
        if (!(f = fopen(argv[2], "r"))) return 2;
        while (fgets(line, sizeof(line), f)) {
            char *args[8], *rest = line, *tok;
            int n = 0;
            while (n < 8 && (tok = next_token(&rest, " \r\n")) != NULL) args[n++] = tok;
            if (n) bad |= run(n, args, 1);
        }
        fclose(f);
        return bad;
    }
    return run(argc - 1, argv + 1, 0);
}
