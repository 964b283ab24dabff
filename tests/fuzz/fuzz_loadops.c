/* libFuzzer target: the whole read path a user takes, on arbitrary bytes: a
   NIfTI image (plain or gzip, one member or medvol's indexed members) loaded
   from memory with a crop box and one time point, on one or two threads,
   verified or not; one spatial operation; then a round trip through
   mv_save_mem (compressed or not) and mv_load_mem, which must give the same
   voxels back (abort otherwise, so the fuzzer reports it).
   The last 4 bytes of an input choose the options; the rest is the image.
   Built by `make fuzz` (clang -fsanitize=fuzzer) or with fuzz_main.c as a
   corpus replayer. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_spatial(const mv_vol *in, mv_vol *out, unsigned sel)
{
    static const char *codes[4] = {"RAS", "LPS", "PIR", "SAR"};
    static const int perms[3][3] = {{1, 0, 2}, {2, 1, 0}, {1, 2, 0}};
    int64_t shape[3];
    shape[0] = 1 + (sel >> 3) % 9;
    shape[1] = 1 + (sel >> 7) % 7;
    shape[2] = 0;
    switch (sel % 6) {
    case 0: mv_flip(in, out, (sel >> 3) & 7, NULL); break;
    case 1: mv_permute(in, out, perms[(sel >> 3) % 3], NULL); break;
    case 2: mv_reorient(in, out, codes[(sel >> 3) & 3], NULL); break;
    case 3: mv_rot90(in, out, (int)((sel >> 3) & 3), 0, 1, NULL); break;
    case 4: mv_crop_or_pad(in, out, shape, NULL); break;
    default: mv_vol_copy(in, out); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mv_vol v, w, back;
    mv_load_opts o;
    mv_save_opts so;
    uint32_t sel;
    size_t n, len = 0;
    void *buf;
    if (size < 4) return 0;
    n = size - 4;
    sel = (uint32_t)data[n] | (uint32_t)data[n + 1] << 8 | (uint32_t)data[n + 2] << 16 | (uint32_t)data[n + 3] << 24;
    memset(&o, 0, sizeof(o));
    o.threads = 1 + (sel & 1);
    o.verify = (sel >> 1) & 1;
    if (sel & 4) { /* a crop box */
        o.box_start[0] = (sel >> 8) % 3;
        o.box_start[1] = (sel >> 10) % 3;
        o.box_size[0] = (sel >> 12) % 4;
        o.box_size[2] = (sel >> 14) % 3;
    }
    if (sel & 8) { /* one time point */
        o.box_start[3] = (sel >> 16) % 3;
        o.box_size[3] = 1;
    }
    if (mv_load_mem(data, n, &v, &o) != MV_OK) return 0;
    mv_vol_init(&w);
    fz_spatial(&v, &w, sel >> 18);
    mv_free(&v);
    if (!w.data) return 0;
    memset(&so, 0, sizeof(so));
    so.compress = (sel >> 4) & 1;
    so.gzip.member_size = 1 + ((sel >> 5) & 7) * 61; /* many small members: the index path */
    so.gzip.single_member = (sel >> 28) & 1;
    if (mv_save_mem(&w, NULL, 0, &len, &so) != MV_OK || len > (1u << 24)) {
        mv_free(&w);
        return 0;
    }
    buf = malloc(len);
    if (buf && mv_save_mem(&w, buf, len, &len, &so) == MV_OK) {
        memset(&o, 0, sizeof(o));
        o.threads = 1 + ((sel >> 29) & 1);
        if (mv_load_mem(buf, len, &back, &o) != MV_OK) abort(); /* our own file must load */
        if (back.dtype != w.dtype || mv_vol_bytes(&back) != mv_vol_bytes(&w) ||
            memcmp(back.data, w.data, mv_vol_bytes(&w)) != 0)
            abort(); /* and give the same voxels */
        mv_free(&back);
    }
    free(buf);
    mv_free(&w);
    return 0;
}
