/* libFuzzer target: the NIfTI/Analyze header parser and loader on arbitrary
   bytes, through every entry point and option that changes the code path.
   Built by `make fuzz` (clang -fsanitize=fuzzer) or with fuzz_main.c as a
   corpus replayer. */
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
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_vol v;
    mv_load_opts o;
    uint8_t sel = size ? data[size - 1] : 0; /* the last byte picks options */
    memset(&o, 0, sizeof(o));
    o.strict = sel & 1;
    o.scaled = (sel >> 1) & 1;
    o.threads = 1;
    if (sel & 4) { /* a crop box from two more bytes */
        o.box_start[0] = size > 2 ? data[size - 2] % 4 : 0;
        o.box_size[1] = size > 3 ? data[size - 3] % 3 : 0;
    }
    if (sel & 8) o.dtype = MV_DT_F64;
    if (mv_load_mem(data, size, &v, &o) == MV_OK) {
        mv_stats s;
        char code[4];
        size_t len = 0;
        if (v.data && mv_dtype_is_float(v.dtype) + mv_dtype_is_integer(v.dtype)) mv_compute_stats(&v, &s, NULL);
        mv_orientation(&v, code);
        if (v.data && mv_save_mem(&v, NULL, 0, &len, NULL) == MV_OK && len < (1u << 24)) {
            void *buf = malloc(len);
            if (buf) {
                mv_save_mem(&v, buf, len, &len, NULL);
                free(buf);
            }
        }
        mv_free(&v);
    }
    if (mv_load_mem_borrow(data, size, &v, &o) == MV_OK) mv_free(&v);
    { /* a pair: the first 348/540 bytes are the header, the rest the image */
        size_t h = size > 540 && (sel & 16) ? 540 : size > 348 ? 348 : size;
        if (mv_load_mem_pair(data, h, data + h, size - h, &v, &o) == MV_OK) mv_free(&v);
    }
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        /* a gzip-compressed .hdr (no size up front: its extensions run to
           the end of the stream), then its image bytes given empty */
        mv_load_opts ho = o;
        ho.header_only = 1;
        if (mv_load_mem_pair(data, size, NULL, 0, &v, &ho) == MV_OK) mv_free(&v);
        ho.max_bytes = 4096; /* the rest of the header past the limit */
        if (mv_load_mem_pair(data, size, NULL, 0, &v, &ho) == MV_OK) mv_free(&v);
    }
    { /* a forward-only stream */
        fz_stream st;
        mv_io io;
        st.p = data;
        st.len = size;
        st.pos = 0;
        memset(&io, 0, sizeof(io));
        io.read = fz_read;
        io.user = &st;
        if (mv_load_io(&io, &v, &o) == MV_OK) mv_free(&v);
    }
    return 0;
}
