/* libFuzzer target: MetaImage headers and voxels (medvol.h METAIMAGE) from
   memory. The input is a .mha (header text, then the voxels or a zlib
   stream); when its header names a data file, the bytes after the first NUL
   (or none) are that file. The last byte picks load options (a crop box, a
   dtype, header only). A load that succeeds is rewritten as .mha, plain and
   zlib-compressed, and read back: the voxels must come back the same, and
   the extra fields (some left out, none changed; written once more, all
   of them), and every list a load gives must pass the setters (abort
   otherwise, so the fuzzer reports it). Loaded on 3 threads (a zlib stream
   of 32 KiB and more decodes in parallel in the fuzz builds), the status,
   message and voxels must be one thread's. Built by `make fuzz` or with
   fuzz_main.c as a replayer. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#elif !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* getpid, mkdir (the implementation asks for them itself) */
#endif
#include "../../medvol.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* whether b's pairs are some of a's, with a's values, in a's order (a
   rewrite leaves out what MetaImage cannot hold, never changes a value) */
static int pairs_within(const mv_vol *b, const mv_vol *a)
{
    int i, j = 0;
    for (i = 0; i < b->meta.n_kv; i++) {
        while (j < a->meta.n_kv && strcmp(a->meta.kv[j].key, b->meta.kv[i].key)) j++;
        if (j == a->meta.n_kv || strcmp(a->meta.kv[j].value, b->meta.kv[i].value)) return 0;
        j++;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    char path[128];
    const uint8_t *nul = (const uint8_t *)memchr(data, 0, size);
    uint8_t sel = size ? data[size - 1] : 0;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_vol v, w;
    mv_status st;
    static char msg[1024];
    int k;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/medvol-fuzz-mha-%ld", (long)getpid());
        (void)mkdir(dir, 0700);
    }
    lo.max_bytes = (uint64_t)1 << 24; /* headers may claim anything; keep the fuzzer's memory small */
    lo.threads = 1;
    if (sel & 1) {
        lo.box_start[0] = size > 2 ? data[size - 2] % 3 : 0;
        lo.box_size[1] = size > 3 ? data[size - 3] % 2 : 0;
        lo.box_size[4] = (sel >> 5) & 1;
    }
    if (sel & 2) lo.dtype = MV_DT_F64;
    lo.header_only = (sel & 28) == 28;
    mv_vol_init(&v);
    st = mv_load_metaimage_mem(data, size, nul ? nul + 1 : NULL, nul ? size - (size_t)(nul + 1 - data) : 0, &v, &lo);
    snprintf(msg, sizeof(msg), "%s", st == MV_OK ? "" : mv_last_error());
    { /* the same on 3 threads */
        mv_load_opts l3 = lo;
        mv_status s3;
        l3.threads = 3;
        mv_vol_init(&w);
        s3 = mv_load_metaimage_mem(data, size, nul ? nul + 1 : NULL, nul ? size - (size_t)(nul + 1 - data) : 0, &w, &l3);
        if (s3 != st || (st != MV_OK && strcmp(msg, mv_last_error()) != 0)) abort();
        if (st == MV_OK && (w.dtype != v.dtype || mv_vol_bytes(&w) != mv_vol_bytes(&v) ||
                            (v.data && memcmp(w.data, v.data, mv_vol_bytes(&v)) != 0)))
            abort();
        if (s3 == MV_OK) mv_free(&w);
    }
    if (st != MV_OK) return 0;
    if (v.meta.n_kv > 0) { /* what medvol reads it can write (the extra fields) */
        mv_vol t;
        mv_vol_init(&t);
        if (mv_vol_set_keyvalues(&t, v.meta.kv, v.meta.n_kv) != MV_OK || t.meta.n_kv != v.meta.n_kv) abort();
        mv_free(&t);
    }
    if (!v.data) {
        mv_free(&v);
        return 0;
    }
    for (k = 0; k < 2; k++) { /* plain, then compressed */
        mv_save_opts so = MV_ZERO_INIT;
        so.compress = k;
        snprintf(path, sizeof(path), "%s/x.mha", dir);
        if (mv_save(path, &v, &so) != MV_OK) continue; /* e.g. a type MetaImage cannot hold after a conversion */
        if (mv_load(path, &w, NULL) != MV_OK) abort();
        if (w.dtype != v.dtype || mv_vol_bytes(&w) != mv_vol_bytes(&v) || memcmp(w.data, v.data, mv_vol_bytes(&v)) ||
            !pairs_within(&w, &v))
            abort();
        if (k == 0) { /* written and read once more: the extra fields stay */
            mv_vol w2;
            if (mv_save(path, &w, &so) != MV_OK || mv_load(path, &w2, NULL) != MV_OK || !pairs_within(&w2, &w) ||
                w2.meta.n_kv != w.meta.n_kv)
                abort();
            mv_free(&w2);
        }
        mv_free(&w);
    }
    mv_free(&v);
    return 0;
}
