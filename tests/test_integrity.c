/* test_integrity.c - what a reader of medical data must never get wrong:
   parallel loads of medvol's indexed .nii.gz give nibabel's voxels every
   time, a damaged .nii.gz is an error (never MV_OK) on every load path,
   and an error raised on a worker thread reaches the caller with the same
   detail whatever the thread count; numbers in text files read and write
   the same in a locale that spells 0.5 "0,5". The references are nibabel's
   voxels (tests/py/nib_raw.py, Debian's /usr/bin/python3), gzip(1) -t
   and the C locale's bytes. */
#define _POSIX_C_SOURCE 200809L /* setenv: a compiled locale's folder */
#include "testutil.h"
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

#define IT_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char *it_strdup(const char *s)
{
    char *d = (char *)malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

/* A smooth phantom saved by medvol as an indexed .nii.gz (1 MiB members). */
static int it_write_phantom(const char *path, mv_dtype dt, int64_t nx, int64_t ny, int64_t nz)
{
    mv_vol v;
    mv_status st = mv_phantom_smooth(&v, dt, nx, ny, nz, 7);
    if (st == MV_OK) st = mv_save(path, &v, NULL);
    mv_free(&v);
    return st == MV_OK;
}

/* nibabel's voxels of each file (path.nib.raw) */
static int it_nibabel_raw(const char *const *paths, int n)
{
    char args[4096] = "", out[64];
    int i;
    for (i = 0; i < n; i++) {
        strcat(args, " ");
        strcat(args, paths[i]);
    }
    return tu_run_py("nib_raw.py", args, out, sizeof(out)) == 0 && strncmp(out, "ok", 2) == 0;
}

static unsigned char *it_nib_voxels(const char *path, size_t *len)
{
    char raw[1024];
    snprintf(raw, sizeof(raw), "%s.nib.raw", path);
    return tu_read_file(raw, len);
}

static int it_gzip_t_fails(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "gzip -t '%s' 2>/dev/null", path);
    return system(cmd) != 0;
}

static int it_have(const char *tool)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* The members of an indexed file, from the 'MV' subfield of each member
   header (layout in medvol.h, >>impl-gzip: 'M' 'V', length, version 1,
   compressed size, uncompressed size, little-endian). */
static size_t it_members(const unsigned char *gz, size_t len, size_t *off, size_t cap)
{
    size_t n = 0, pos = 0;
    while (pos + 12 < len && n < cap && gz[pos] == 0x1f && gz[pos + 1] == 0x8b && (gz[pos + 3] & 4)) {
        size_t xlen = gz[pos + 10] | (size_t)gz[pos + 11] << 8, p = pos + 12, csize = 0;
        while (p + 4 <= pos + 12 + xlen) {
            size_t sl = gz[p + 2] | (size_t)gz[p + 3] << 8;
            if (gz[p] == 'M' && gz[p + 1] == 'V') {
                int b;
                for (b = 7; b >= 0; b--) csize = csize << 8 | gz[p + 5 + b];
            }
            p += 4 + sl;
        }
        if (csize == 0) break;
        off[n++] = pos;
        pos += csize;
    }
    return n;
}

/* ---- streams ---- */

/* a forward-only stream (a pipe, a socket): mv_load_io without seek. It
   notes the largest request and how far it was read. */
typedef struct it_stream {
    const unsigned char *p;
    size_t len, pos, max_request;
} it_stream;
static size_t it_read(void *u, void *buf, size_t n)
{
    it_stream *s = (it_stream *)u;
    size_t k = s->len - s->pos < n ? s->len - s->pos : n;
    if (n > s->max_request) s->max_request = n;
    if (k > 40000) k = 40000 + s->pos % 977; /* short reads, as a pipe or socket gives */
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return k;
}

static mv_status it_load_stream_opts(const unsigned char *p, size_t len, mv_vol *v, const mv_load_opts *o, it_stream *st)
{
    mv_io io;
    memset(st, 0, sizeof(*st));
    st->p = p;
    st->len = len;
    memset(&io, 0, sizeof(io));
    io.read = it_read;
    io.user = st;
    return mv_load_io(&io, v, o);
}

static mv_status it_load_stream(const unsigned char *p, size_t len, mv_vol *v)
{
    it_stream st;
    return it_load_stream_opts(p, len, v, NULL, &st);
}

/* ---- parallel loads of indexed files ---- */

MV_TEST(integrity, parallel_indexed_loads_match_nibabel)
{
    static const struct {
        const char *name;
        mv_dtype dt;
        int64_t nx, ny, nz;
    } files[] = {
        {"par-f32-128.nii.gz", MV_DT_F32, 128, 128, 128}, /* 8 MiB: 8 members */
        {"par-i16-160.nii.gz", MV_DT_I16, 160, 144, 120}, /* 5.3 MiB, members not aligned to voxels rows */
        {"par-f32-odd.nii.gz", MV_DT_F32, 97, 131, 89},   /* 4.3 MiB */
    };
    static const int threads[] = {1, 2, 3, 8};
    const char *paths[3];
    size_t f;
    int reps = tu_test_reps(6);
    if (!tu_python("numpy nibabel")) {
        mvt_skip("nibabel (python3-nibabel) not installed");
        return;
    }
    for (f = 0; f < 3; f++) {
        paths[f] = it_strdup(tu_path(files[f].name));
        REQUIRE(it_write_phantom(paths[f], files[f].dt, files[f].nx, files[f].ny, files[f].nz));
    }
    REQUIRE(it_nibabel_raw(paths, 3));
    for (f = 0; f < 3; f++) {
        size_t nlen = 0, glen = 0;
        unsigned char *want = it_nib_voxels(paths[f], &nlen), *gz = tu_read_file(paths[f], &glen);
        size_t t;
        int r, bad = 0;
        REQUIRE(want && gz);
        for (t = 0; t < IT_LEN(threads); t++) {
            for (r = 0; r < reps; r++) {
                mv_load_opts o;
                mv_vol v;
                mv_status st;
                memset(&o, 0, sizeof(o));
                o.threads = threads[t];
                /* from the file, from memory, from a stream */
                if (r % 3 == 2) {
                    it_stream s;
                    st = it_load_stream_opts(gz, glen, &v, &o, &s);
                } else {
                    st = r % 3 ? mv_load_mem(gz, glen, &v, &o) : mv_load(paths[f], &v, &o);
                }
                EXPECT_MSG(st == MV_OK, "%s threads %d: %s %s", files[f].name, threads[t], mv_status_str(st), mv_last_error());
                if (st == MV_OK) {
                    if (mv_vol_bytes(&v) != nlen || memcmp(v.data, want, nlen) != 0) bad++;
                    mv_free(&v);
                }
                /* scaled float32: the converting path (decoded range, then parallel conversion) */
                o.scaled = 1;
                st = mv_load_mem(gz, glen, &v, &o);
                EXPECT_MSG(st == MV_OK, "%s scaled: %s", files[f].name, mv_last_error());
                if (st == MV_OK) {
                    size_t i, n = (size_t)mv_vol_count(&v);
                    const float *got = (const float *)v.data;
                    for (i = 0; i < n; i++) {
                        float w = files[f].dt == MV_DT_I16 ? (float)((const int16_t *)want)[i] : ((const float *)want)[i];
                        if (memcmp(&w, &got[i], 4) != 0) {
                            bad++;
                            break;
                        }
                    }
                    mv_free(&v);
                }
            }
        }
        EXPECT_MSG(bad == 0, "%s: %d loads differ from nibabel's voxels", files[f].name, bad);
        free(want);
        free(gz);
        free((void *)paths[f]);
    }
}

/* ---- streams of .nii.gz ---- */

/* a stream's bytes with n more after them (fill: zero padding, as tape
   blocks leave, or anything else) */
static unsigned char *it_with_tail(const unsigned char *p, size_t len, size_t n, int fill)
{
    unsigned char *b = (unsigned char *)malloc(len + n);
    if (b) {
        memcpy(b, p, len);
        memset(b + len, fill, n);
    }
    return b;
}

/* mv_load_io of a .nii.gz: a load of every voxel reads the stream whole
   first (requests of more than the 64 KiB the sequential decoder asks for)
   and decodes it as a file's bytes, on 2+ threads in parallel; a crop box
   or a header decode as the bytes arrive. Every way must give nibabel's
   voxels, and the same errors. Files: medvol's indexed one and gzip(1)'s
   one member (-6). */
MV_TEST(integrity, gzip_streams_match_nibabel)
{
    static const int threads[] = {1, 2, 3};
    char nii[1024], cmd[4096];
    const char *paths[2];
    int f;
    if (!tu_python("numpy nibabel") || !it_have("gzip")) {
        mvt_skip("needs nibabel and gzip");
        return;
    }
    {
        mv_vol v;
        REQUIRE_OK(mv_phantom_smooth(&v, MV_DT_I16, 160, 144, 60, 5)); /* 2.6 MiB */
        snprintf(nii, sizeof(nii), "%s", tu_path("str.nii"));
        REQUIRE_OK(mv_save(nii, &v, NULL));
        REQUIRE_OK(mv_save(tu_path("str-medvol.nii.gz"), &v, NULL));
        mv_free(&v);
    }
    snprintf(cmd, sizeof(cmd), "gzip -6 -c '%s' > '%s'", nii, tu_path("str-gzip6.nii.gz"));
    REQUIRE(system(cmd) == 0);
    paths[0] = it_strdup(tu_path("str-medvol.nii.gz"));
    paths[1] = it_strdup(tu_path("str-gzip6.nii.gz"));
    REQUIRE(it_nibabel_raw(paths, 2));
    for (f = 0; f < 2; f++) {
        size_t nlen = 0, glen = 0, t;
        unsigned char *want = it_nib_voxels(paths[f], &nlen), *gz = tu_read_file(paths[f], &glen);
        unsigned char *padded, *junk, *long_pad;
        const char *name = strrchr(paths[f], '/') + 1;
        REQUIRE(want && gz && glen > 100000);
        padded = it_with_tail(gz, glen, 1536, 0);
        junk = it_with_tail(gz, glen, 4, 'j');
        for (t = 0; t < IT_LEN(threads); t++) {
            mv_load_opts o;
            mv_vol v;
            it_stream s;
            mv_status st;
            memset(&o, 0, sizeof(o));
            o.threads = threads[t];
            st = it_load_stream_opts(gz, glen, &v, &o, &s);
            EXPECT_MSG(st == MV_OK, "%s threads %d: %s", name, threads[t], mv_last_error());
            if (st == MV_OK) {
                EXPECT_MSG(mv_vol_bytes(&v) == nlen && memcmp(v.data, want, nlen) == 0, "%s threads %d: not nibabel's voxels",
                           name, threads[t]);
                mv_free(&v);
            }
            EXPECT_MSG(s.pos == glen, "%s threads %d: read to %zu of %zu", name, threads[t], s.pos, glen);
            EXPECT_MSG(s.max_request > ((size_t)64 << 10), "%s threads %d: largest request %zu", name, threads[t],
                       s.max_request);
            /* tape blocks of zeros after the data: ignored, as gzip does */
            st = it_load_stream_opts(padded, glen + 1536, &v, &o, &s);
            EXPECT_MSG(st == MV_OK, "%s padded, threads %d: %s", name, threads[t], mv_last_error());
            if (st == MV_OK) {
                EXPECT(mv_vol_bytes(&v) == nlen && memcmp(v.data, want, nlen) == 0);
                mv_free(&v);
            }
            EXPECT_STATUS(it_load_stream_opts(junk, glen + 4, &v, &o, &s), MV_ERR_BAD_DATA);
            EXPECT_MSG(strstr(mv_last_error(), "trailing garbage") != NULL, "%s junk, threads %d: %s", name, threads[t],
                       mv_last_error());
            EXPECT_STATUS(it_load_stream_opts(gz, glen - 5, &v, &o, &s), MV_ERR_TRUNCATED);
            EXPECT_STATUS(it_load_stream_opts(gz, glen / 2, &v, &o, &s), MV_ERR_TRUNCATED);
            /* a crop box near the start reads only what it needs */
            o.box_size[0] = 160;
            o.box_size[1] = 4;
            o.box_size[2] = 1;
            st = it_load_stream_opts(gz, glen, &v, &o, &s);
            EXPECT_MSG(st == MV_OK, "%s box, threads %d: %s", name, threads[t], mv_last_error());
            if (st == MV_OK) {
                EXPECT(mv_vol_bytes(&v) == 160 * 4 * 2 && memcmp(v.data, want, 160 * 4 * 2) == 0);
                mv_free(&v);
            }
            EXPECT_MSG(s.pos < glen / 2 && s.max_request <= ((size_t)64 << 10), "%s box, threads %d: read %zu of %zu",
                       name, threads[t], s.pos, glen);
        }
        { /* a stream longer than a load of max_bytes could need (zero padding
             past it): what was read whole is decoded as it arrives */
            mv_load_opts o;
            mv_vol v;
            it_stream s;
            mv_status st;
            size_t limit = nlen + 4096, more = limit + limit / 4 + ((size_t)3 << 20);
            memset(&o, 0, sizeof(o));
            o.threads = 2;
            o.max_bytes = limit;
            long_pad = it_with_tail(gz, glen, more, 0);
            REQUIRE(long_pad != NULL);
            st = it_load_stream_opts(long_pad, glen + more, &v, &o, &s);
            EXPECT_MSG(st == MV_OK, "%s long padding: %s", name, mv_last_error());
            if (st == MV_OK) {
                EXPECT(mv_vol_bytes(&v) == nlen && memcmp(v.data, want, nlen) == 0);
                mv_free(&v);
            }
            EXPECT(s.pos == glen + more);
            free(long_pad);
        }
        free(padded);
        free(junk);
        free(want);
        free(gz);
        free((void *)paths[f]);
    }
}

/* ---- damaged files ---- */

static void it_corrupt_one(const char *label, const char *good_path, int flips, int check_member, uint64_t *seed)
{
    size_t len = 0, nlen = 0, i;
    unsigned char *good = tu_read_file(good_path, &len), *want = it_nib_voxels(good_path, &nlen), *bad;
    char path[1024];
    int detected = 0;
    if (!good || !want) {
        MVT_FAIL("%s: cannot read %s or its nibabel voxels", label, good_path);
        free(good);
        free(want);
        return;
    }
    bad = (unsigned char *)malloc(len);
    snprintf(path, sizeof(path), "%s", tu_path("damaged.nii.gz"));
    for (i = 0; i < (size_t)flips; i++) {
        size_t pos = 2 + (size_t)(tu_rand(seed) % (len - 2)); /* the magic left alone: it says "gzip" */
        mv_vol v;
        mv_load_opts o;
        mv_status st_file, st_mem, st_box, st_io;
        char detail_file[256], detail_mem[256];
        memcpy(bad, good, len);
        bad[pos] ^= (unsigned char)(1u << (tu_rand(seed) % 8));
        REQUIRE(tu_write_file(path, bad, len));
        memset(&o, 0, sizeof(o));
        st_file = mv_load(path, &v, &o);
        snprintf(detail_file, sizeof(detail_file), "%s", mv_last_error());
        if (st_file == MV_OK) {
            /* gzip -t may pass (a flipped mtime, name, OS byte): then the voxels are the file's */
            int same = mv_vol_bytes(&v) == nlen && memcmp(v.data, want, nlen) == 0;
            EXPECT_MSG(same, "%s: bit flip at byte %zu: MV_OK with wrong voxels", label, pos);
            mv_free(&v);
        }
        st_mem = mv_load_mem(bad, len, &v, &o);
        snprintf(detail_mem, sizeof(detail_mem), "%s", mv_last_error());
        if (st_mem == MV_OK) {
            EXPECT_MSG(mv_vol_bytes(&v) == nlen && memcmp(v.data, want, nlen) == 0,
                       "%s: bit flip at byte %zu: mv_load_mem MV_OK with wrong voxels", label, pos);
            mv_free(&v);
        }
        st_io = it_load_stream(bad, len, &v);
        if (st_io == MV_OK) {
            EXPECT_MSG(mv_vol_bytes(&v) == nlen && memcmp(v.data, want, nlen) == 0,
                       "%s: bit flip at byte %zu: mv_load_io MV_OK with wrong voxels", label, pos);
            mv_free(&v);
        }
        /* a verified partial load: one corner voxel row of the first frame */
        o.box_size[0] = 1;
        o.box_size[1] = 1;
        o.box_size[2] = 1;
        o.verify = 1;
        st_box = mv_load_mem(bad, len, &v, &o);
        if (st_box == MV_OK) mv_free(&v);
        if (it_gzip_t_fails(path)) {
            detected++;
            EXPECT_MSG(st_file != MV_OK && st_mem != MV_OK && st_box != MV_OK && st_io != MV_OK,
                       "%s: bit flip at byte %zu: gzip -t fails, mv_load %s, mv_load_mem %s, verified box load %s, stream %s",
                       label, pos, mv_status_str(st_file), mv_status_str(st_mem), mv_status_str(st_box), mv_status_str(st_io));
            EXPECT_MSG(st_file == MV_OK || strstr(detail_file, path) != NULL, "%s: the message names no file: %s", label,
                       detail_file);
            if (check_member)
                EXPECT_MSG(st_mem == MV_OK || strstr(detail_mem, "gzip member") != NULL || strstr(detail_mem, "header") ||
                               strstr(detail_mem, "NIfTI") || strstr(detail_mem, "vox_offset") || strstr(detail_mem, "dim"),
                           "%s: bit flip at byte %zu: the message names no member: %s", label, pos, detail_mem);
        }
    }
    /* the test must have hit damage that gzip sees */
    EXPECT_MSG(detected >= flips / 2, "%s: only %d of %d flips were detected by gzip -t", label, detected, flips);
    free(good);
    free(want);
    free(bad);
}

MV_TEST(integrity, damaged_gzip_never_loads)
{
    uint64_t seed = 0x5eed2026u;
    char nii[1024], cmd[4096];
    const char *paths[6];
    int n = 0, k;
    const char *data = tu_data_dir();
    if (!tu_python("numpy nibabel") || !it_have("gzip")) {
        mvt_skip("needs nibabel and gzip");
        return;
    }
    /* an int16 phantom as gzip -1, gzip -9 and pigz write it, and as medvol does */
    {
        mv_vol v;
        REQUIRE_OK(mv_phantom_smooth(&v, MV_DT_I16, 96, 80, 40, 3));
        snprintf(nii, sizeof(nii), "%s", tu_path("dmg.nii"));
        REQUIRE_OK(mv_save(nii, &v, NULL));
        REQUIRE_OK(mv_save(tu_path("dmg-medvol.nii.gz"), &v, NULL)); /* indexed: 1 MiB members */
        mv_free(&v);
    }
    snprintf(cmd, sizeof(cmd), "gzip -1 -c '%s' > '%s' && gzip -9 -c '%s' > '%s'", nii, tu_path("dmg-gzip1.nii.gz"), nii,
             tu_path("dmg-gzip9.nii.gz"));
    REQUIRE(system(cmd) == 0);
    paths[n++] = it_strdup(tu_path("dmg-gzip1.nii.gz"));
    paths[n++] = it_strdup(tu_path("dmg-gzip9.nii.gz"));
    paths[n++] = it_strdup(tu_path("dmg-medvol.nii.gz"));
    if (it_have("pigz")) {
        snprintf(cmd, sizeof(cmd), "pigz -p 2 -c '%s' > '%s'", nii, tu_path("dmg-pigz.nii.gz"));
        REQUIRE(system(cmd) == 0);
        paths[n++] = it_strdup(tu_path("dmg-pigz.nii.gz"));
    }
    if (data) { /* a file nibabel's test data ships (plain gzip, 4D int16), copied beside the others */
        char p[1024];
        size_t len = 0;
        unsigned char *b;
        snprintf(p, sizeof(p), "%s/nifti/example4d.nii.gz", data);
        b = tu_read_file(p, &len);
        if (b && tu_write_file(tu_path("dmg-example4d.nii.gz"), b, len)) paths[n++] = it_strdup(tu_path("dmg-example4d.nii.gz"));
        free(b);
    }
    REQUIRE(it_nibabel_raw(paths, n));
    for (k = 0; k < n; k++) {
        it_corrupt_one(strrchr(paths[k], '/') + 1, paths[k], 40, 1, &seed);
        free((void *)paths[k]);
    }
    /* a .hdr.gz/.img.gz pair (gzip -9 of each): damage in the image file */
    {
        size_t len = 0;
        unsigned char *img;
        mv_vol v;
        int detected = 0;
        {
            mv_vol p;
            REQUIRE_OK(mv_phantom_smooth(&p, MV_DT_I16, 64, 48, 20, 5));
            REQUIRE_OK(mv_save(tu_path("pair.hdr"), &p, NULL));
            mv_free(&p);
        }
        snprintf(cmd, sizeof(cmd), "gzip -9 -f '%s' '%s'", tu_path("pair.hdr"), tu_path("pair.img"));
        REQUIRE(system(cmd) == 0);
        REQUIRE_OK(mv_load(tu_path("pair.hdr.gz"), &v, NULL));
        mv_free(&v);
        img = tu_read_file(tu_path("pair.img.gz"), &len);
        REQUIRE(img != NULL && len > 40);
        for (k = 0; k < 20; k++) {
            size_t pos = 2 + (size_t)(tu_rand(&seed) % (len - 2));
            mv_status st;
            img[pos] ^= 0x04;
            REQUIRE(tu_write_file(tu_path("pair.img.gz"), img, len));
            st = mv_load(tu_path("pair.hdr.gz"), &v, NULL);
            if (st == MV_OK) mv_free(&v);
            if (it_gzip_t_fails(tu_path("pair.img.gz"))) {
                detected++;
                EXPECT_MSG(st != MV_OK, "pair.img.gz: bit flip at byte %zu: gzip -t fails, mv_load MV_OK", pos);
                EXPECT_MSG(st == MV_OK || strstr(mv_last_error(), "pair.img.gz") != NULL, "no file name: %s", mv_last_error());
            }
            img[pos] ^= 0x04;
        }
        EXPECT(detected >= 10);
        free(img);
    }
}

/* ---- errors from worker threads ---- */

MV_TEST(integrity, thread_errors_same_detail)
{
    static const int threads[] = {1, 2, 3, 8};
    static const int damaged[][2] = {{0, -1}, {3, -1}, {7, -1}, {3, 6}};
    const char *path = tu_path("thr.nii.gz");
    const char *dpath = tu_path("thr-damaged.nii.gz");
    unsigned char *gz, *bad;
    size_t len = 0, off[64], nm, d;
    REQUIRE(it_write_phantom(path, MV_DT_F32, 128, 128, 128));
    gz = tu_read_file(path, &len);
    REQUIRE(gz != NULL);
    nm = it_members(gz, len, off, 64);
    REQUIRE(nm >= 8 && nm < 64); /* 8 MiB of voxels in 1 MiB members (the header shifts them: 9) */
    off[nm] = len;
    bad = (unsigned char *)malloc(len);
    for (d = 0; d < IT_LEN(damaged); d++) {
        char first[256] = "", first_io[256] = "", want[128];
        size_t t;
        int r, k = damaged[d][0];
        memcpy(bad, gz, len);
        /* the middle of the member's deflate data */
        bad[(off[k] + off[k + 1]) / 2] ^= 0x10;
        if (damaged[d][1] >= 0) bad[(off[damaged[d][1]] + off[damaged[d][1] + 1]) / 2] ^= 0x10;
        REQUIRE(tu_write_file(dpath, bad, len));
        snprintf(want, sizeof(want), "gzip member %d at compressed byte %zu", k, off[k]);
        for (t = 0; t < IT_LEN(threads); t++) {
            for (r = 0; r < 3 * tu_test_reps(3); r++) { /* memory, file, stream (read whole first on 2+ threads) */
                mv_load_opts o;
                mv_vol v;
                mv_status st;
                it_stream s;
                char *same = r % 3 == 2 ? first_io : first;
                memset(&o, 0, sizeof(o));
                o.threads = threads[t];
                st = r % 3 == 1 ? mv_load(dpath, &v, &o) : r % 3 ? it_load_stream_opts(bad, len, &v, &o, &s) : mv_load_mem(bad, len, &v, &o);
                EXPECT_MSG(st == MV_ERR_BAD_DATA, "member %d damaged, threads %d: %s", k, threads[t], mv_status_str(st));
                if (st == MV_OK) {
                    mv_free(&v);
                    continue;
                }
                EXPECT_MSG(strstr(mv_last_error(), want) != NULL, "threads %d: \"%s\" does not name %s", threads[t],
                           mv_last_error(), want);
                if (r % 3 == 1) {
                    EXPECT_MSG(strstr(mv_last_error(), dpath) != NULL, "no file name in \"%s\"", mv_last_error());
                } else if (!same[0]) {
                    snprintf(same, sizeof(first), "%s", mv_last_error());
                } else {
                    EXPECT_MSG(strcmp(same, mv_last_error()) == 0, "threads %d: \"%s\" after \"%s\"", threads[t],
                               mv_last_error(), same);
                }
            }
        }
        /* and mv_gunzip on the same bytes says the same */
        {
            size_t need = 0;
            unsigned char *outb = (unsigned char *)malloc((size_t)128 * 128 * 128 * 4 + 4096);
            mv_gzip_opts go;
            memset(&go, 0, sizeof(go));
            for (t = 0; t < IT_LEN(threads); t++) {
                go.threads = threads[t];
                EXPECT_STATUS(mv_gunzip(bad, len, outb, (size_t)128 * 128 * 128 * 4 + 4096, &need, &go), MV_ERR_BAD_DATA);
                EXPECT_MSG(strstr(mv_last_error(), want) != NULL, "mv_gunzip threads %d: \"%s\"", threads[t], mv_last_error());
            }
            free(outb);
        }
    }
    free(bad);
    free(gz);
}

/* ---- numbers in files, whatever the program's locale ---- */

/* A locale whose decimal point is a comma, as a Qt or GTK application sets
   from LANG=de_DE.UTF-8: an installed one, else de_DE compiled by
   localedef (Debian's locales package) into the test folder. */
static int it_comma_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    char dir[1024], cmd[2200], buf[16];
    size_t i;
    for (i = 0; i < IT_LEN(names); i++)
        if (setlocale(LC_ALL, names[i]) && snprintf(buf, sizeof(buf), "%g", 0.5) > 0 && !strcmp(buf, "0,5")) return 1;
    snprintf(dir, sizeof(dir), "%s", tu_path("locale"));
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir, dir);
    if (system(cmd) != 0) return 0;
    setenv("LOCPATH", dir, 1);
    if (setlocale(LC_ALL, "de_DE.UTF-8") && snprintf(buf, sizeof(buf), "%g", 0.5) > 0 && !strcmp(buf, "0,5")) return 1;
    setlocale(LC_ALL, "C");
    return 0;
}

/* What the library writes, and what it reads back, in the current locale:
   every text format with numbers. Each text into text[k] (its length in
   len[k]); the numbers read into got[]. */
#define IT_TEXTS 6
typedef struct it_numbers {
    char *text[IT_TEXTS];
    size_t len[IT_TEXTS];
    double got[40];
    int ngot;
} it_numbers;

static void it_put(it_numbers *r, double x)
{
    if (r->ngot < (int)IT_LEN(r->got)) r->got[r->ngot++] = x;
}

static void it_numbers_run(it_numbers *r)
{
    static const double m[4][4] = {{0.5, 0.25, 0, 1.25}, {-0.125, 1.5, 0, -2.75}, {0, 0, 0.75, 3.5}, {0, 0, 0, 1}};
    static const char nrrd[] = "NRRD0004\ntype: uchar\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 2 2\n"
                               "space directions: (0.5,0,0) (0,0.75,0) (0,0,1.5)\nspace origin: (1.25,2.5,-3.75)\n"
                               "encoding: ascii\n\n1 2 3 4 5 6 7 8\n";
    static const char tp[] = "(Transform \"EulerTransform\")\n(NumberOfParameters 6)\n"
                             "(TransformParameters 0.0125 -0.025 0.05 1.5 -2.25 0.75)\n"
                             "(InitialTransformParametersFileName \"NoInitialTransform\")\n"
                             "(HowToCombineTransforms \"Compose\")\n(FixedImageDimension 3)\n(MovingImageDimension 3)\n"
                             "(Size 10 10 10)\n(Index 0 0 0)\n(Spacing 1.5 1.5 2.5)\n(Origin -7.5 0.25 1.75)\n"
                             "(Direction 1 0 0 0 1 0 0 0 1)\n(CenterOfRotationPoint 0.5 -1.5 2.5)\n";
    static const double p[3] = {1.25, -0.5, 3.75};
    double back[4][4], q[3];
    mv_vol v, w;
    mv_elastix_transform *t = NULL;
    mv_elastix_points pts;
    size_t n, cap = 1 << 16;
    int k, i, j;
    memset(r, 0, sizeof(*r));
    for (k = 0; k < IT_TEXTS; k++) r->text[k] = (char *)calloc(cap, 1);
    /* writers: a matrix, ITK .tfm, elastix, NRRD and MetaImage headers, FSL */
    EXPECT_OK(mv_matrix_format(m, r->text[0], cap));
    EXPECT_OK(mv_itk_tfm_format(m, 3, r->text[1], cap));
    REQUIRE_OK(mv_load_mem(nrrd, sizeof(nrrd) - 1, &v, NULL));
    EXPECT_OK(mv_elastix_format(m, &v, MV_INTERP_LINEAR, r->text[2], cap));
    {
        mv_save_opts so = MV_ZERO_INIT;
        so.format = MV_FORMAT_NRRD;
        EXPECT_OK(mv_save_mem(&v, r->text[3], cap, &n, &so));
        r->len[3] = n;
    }
    EXPECT_OK(mv_save(tu_path("loc.mha"), &v, NULL));
    free(r->text[4]);
    r->text[4] = (char *)tu_read_file(tu_path("loc.mha"), &r->len[4]);
    {
        static const double grad[8] = {0, 0, 0, 0, 0.6, 0, 0.8, 1000.5};
        int64_t d4[4] = {2, 2, 2, 2};
        mv_vol dwi;
        REQUIRE_OK(mv_vol_alloc(&dwi, MV_DT_U8, 4, d4, NULL));
        memset(dwi.data, 0, 16);
        EXPECT_OK(mv_vol_set_gradients(&dwi, grad, 2));
        EXPECT_OK(mv_save_fsl_gradients(&dwi, tu_path("loc.bval"), tu_path("loc.bvec")));
        free(r->text[5]);
        r->text[5] = (char *)tu_read_file(tu_path("loc.bvec"), &r->len[5]);
        EXPECT_OK(mv_vol_set_gradients(&dwi, NULL, 0));
        EXPECT_OK(mv_load_fsl_gradients(&dwi, tu_path("loc.bval"), tu_path("loc.bvec")));
        for (i = 0; i < 8 && dwi.meta.n_grad == 2; i++) it_put(r, dwi.meta.grad[i]);
        mv_free(&dwi);
    }
    for (k = 0; k < 3; k++) r->len[k] = strlen(r->text[k]);
    /* readers: each writer's text back, a NRRD and MetaImage header's
       geometry, an elastix transform and a transformix point file */
    EXPECT_OK(mv_matrix_parse(r->text[0], back));
    it_put(r, back[0][0]);
    it_put(r, back[1][3]);
    EXPECT_OK(mv_itk_tfm_parse(r->text[1], back));
    it_put(r, back[0][1]);
    it_put(r, back[2][3]);
    for (i = 0; i < 3; i++)
        for (j = 0; j < 4; j += 3) it_put(r, v.affine[i][j]);
    EXPECT_OK(mv_load_metaimage_mem(r->text[4], r->len[4], NULL, 0, &w, NULL));
    if (w.data) {
        it_put(r, w.affine[1][1]);
        it_put(r, w.affine[2][3]);
        mv_free(&w);
    }
    EXPECT_OK(mv_elastix_parse(tp, &t, NULL));
    if (t) {
        EXPECT_OK(mv_elastix_point(t, p, q));
        for (i = 0; i < 3; i++) it_put(r, q[i]);
        mv_elastix_free(t);
    }
    EXPECT_OK(mv_elastix_points_parse("point\n2\n0.5 1.5 2.5\n-1.25 0 3.75\n", 3, &pts, NULL));
    for (i = 0; i < 6 && pts.count == 2; i++) it_put(r, pts.p[i]);
    mv_elastix_points_free(&pts);
    mv_free(&v);
}

/* A program in a locale that writes "0,5" (a Qt or GTK application in
   German) gets the files and numbers it gets in C's: the same bytes out,
   the same values in. Without such a locale medvol's parsers refused
   "0.5" and its writers wrote "0,5". */
MV_TEST(integrity, numbers_any_locale)
{
    it_numbers c, de;
    int k, i;
    setlocale(LC_ALL, "C");
    it_numbers_run(&c);
    EXPECT_MSG(c.ngot == 29, "%d numbers read in C's locale", c.ngot);
    EXPECT(strstr(c.text[0], "0.5 ") != NULL && c.got[7] == 1000.5 && c.got[8] == 0.5 && c.got[28] == 3.75);
    if (!it_comma_locale()) {
        mvt_skip("no locale with a decimal comma (install Debian's locales package: localedef needs de_DE)");
    } else {
        it_numbers_run(&de);
        setlocale(LC_ALL, "C");
        for (k = 0; k < IT_TEXTS; k++)
            EXPECT_MSG(c.len[k] == de.len[k] && c.text[k] && de.text[k] && !memcmp(c.text[k], de.text[k], c.len[k]),
                       "text %d differs in a comma locale: '%.60s'", k, de.text[k] ? de.text[k] : "(none)");
        EXPECT_MSG(de.ngot == c.ngot, "%d numbers read in the comma locale, %d in C's", de.ngot, c.ngot);
        for (i = 0; i < c.ngot && i < de.ngot; i++)
            EXPECT_MSG(memcmp(&c.got[i], &de.got[i], sizeof(double)) == 0, "number %d: %.17g in C, %.17g with commas", i,
                       c.got[i], de.got[i]);
        for (k = 0; k < IT_TEXTS; k++) free(de.text[k]);
    }
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
    for (k = 0; k < IT_TEXTS; k++) free(c.text[k]);
}
