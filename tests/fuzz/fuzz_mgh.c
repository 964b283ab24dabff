/* libFuzzer target: FreeSurfer MGH files (medvol.h MGH) from memory, plain
   or gzip-compressed (.mgz), through mv_load_mem (the footer read first)
   and mv_load_io without seek (a gzip stream: the footer read after the
   voxels); the two must agree. The last byte picks load options (a crop
   box, a dtype, header only, squeeze). A load that succeeds is written
   again with mv_save_mem (opts.format MV_FORMAT_MGH), plain and
   compressed, and read back: the voxels, the footer and the geometry's
   bytes must come back the same (abort otherwise, so the fuzzer reports
   it). Built by `make fuzz` or with fuzz_main.c as a replayer. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_stream {
    const uint8_t *p;
    size_t len, pos;
} fz_stream;
static size_t fz_read(void *u, void *buf, size_t n)
{
    fz_stream *s = (fz_stream *)u;
    size_t k = s->len - s->pos < n ? s->len - s->pos : n;
    if (k > 13) k = 13; /* short reads */
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return k;
}

/* exact_ndim 0: a 4D volume of one frame may come back 3D (MGH has no such
   shape: nframes 1 is a 3D image); the dims, 1 past ndim, still agree */
static int same_volume(const mv_vol *a, const mv_vol *b, int exact_ndim)
{
    int i;
    if (a->dtype != b->dtype || (exact_ndim && a->ndim != b->ndim) ||
        memcmp(a->meta.mgh_mr, b->meta.mgh_mr, sizeof(a->meta.mgh_mr)))
        return 0;
    for (i = 0; i < MV_MAX_DIMS; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    if (!a->data != !b->data) return 0;
    return !a->data || !memcmp(a->data, b->data, mv_vol_bytes(a));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = size ? data[size - 1] : 0;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_vol v, s, w;
    mv_status st, st2;
    fz_stream fs;
    mv_io io;
    int k;
    lo.max_bytes = (uint64_t)1 << 24; /* headers may claim anything; keep the fuzzer's memory small */
    lo.threads = 1 + (sel >> 7);
    if (sel & 1) {
        lo.box_start[0] = size > 2 ? data[size - 2] % 3 : 0;
        lo.box_size[1] = size > 3 ? data[size - 3] % 2 : 0;
        lo.box_start[3] = (sel >> 5) & 1;
    }
    if (sel & 2) lo.dtype = MV_DT_F64;
    lo.squeeze = (sel >> 6) & 1;
    lo.header_only = (sel & 28) == 28;
    st = mv_load_mem(data, size, &v, &lo);
    memset(&io, 0, sizeof(io));
    fs.p = data;
    fs.len = size;
    fs.pos = 0;
    io.read = fz_read;
    io.user = &fs;
    st2 = mv_load_io(&io, &s, &lo);
    if ((st == MV_OK) != (st2 == MV_OK)) { /* a stream is the same file */
        /* ... but a partial load (a crop box, header only) checks only what
           it decodes (INTEGRITY in medvol.h), and how far a gzip decoder
           gets past the bytes it needs depends on how its input arrives (all
           at once here, 13 bytes a read there): damage just past them, such
           as a member's trailer, can fail one and not the other. Loaded with
           verify, each checks the whole file, and they must agree. */
        mv_status sv, sv2;
        if (!(sel & 1) && !lo.header_only) abort();
        if (st == MV_OK) mv_free(&v);
        if (st2 == MV_OK) mv_free(&s);
        lo.verify = 1;
        lo.header_only = 0;
        sv = mv_load_mem(data, size, &v, &lo);
        fs.pos = 0;
        sv2 = mv_load_io(&io, &s, &lo);
        if ((sv == MV_OK) != (sv2 == MV_OK) || (sv == MV_OK && !same_volume(&v, &s, 1))) abort();
        if (sv == MV_OK) mv_free(&v), mv_free(&s);
        return 0;
    }
    if (st != MV_OK) return 0;
    if (!same_volume(&v, &s, 1)) abort();
    mv_free(&s);
    if (!v.data || v.meta.format != MV_FORMAT_MGH) {
        mv_free(&v);
        return 0;
    }
    for (k = 0; k < 2; k++) { /* plain, then compressed */
        mv_save_opts so = MV_ZERO_INIT;
        size_t len = 0;
        unsigned char *buf;
        so.format = MV_FORMAT_MGH;
        so.compress = k;
        if (mv_save_mem(&v, NULL, 0, &len, &so) != MV_OK) continue; /* e.g. float64 after a conversion */
        buf = (unsigned char *)malloc(len);
        if (!buf) break;
        if (mv_save_mem(&v, buf, len, &len, &so) != MV_OK) abort();
        if (mv_load_mem(buf, len, &w, NULL) != MV_OK) abort();
        if (!same_volume(&v, &w, 0)) abort();
        /* the geometry written is the one read, byte for byte, when unchanged (no box) */
        if (!k && !(sel & 1) && memcmp(w.meta.mgh_geometry, v.meta.mgh_geometry, sizeof(v.meta.mgh_geometry))) abort();
        mv_free(&w);
        free(buf);
    }
    mv_free(&v);
    return 0;
}
