/* libFuzzer target: NRRD headers and voxels (medvol.h NRRD) from
   memory. The input is a .nrrd (header text, a blank line, then the voxels:
   raw, gzip, ascii or hex); when its header names a data file, the bytes
   after the first NUL (or none) are that file. The last byte picks load
   options (a crop box, a dtype, header only). An attached input must load
   the same through mv_load_mem (by its magic). A load that succeeds is
   rewritten as .nrrd, raw and gzip, and read back: the voxels must come
   back the same, and a DWI series' gradient table, and the key/value pairs
   with the kept fields (NRRD_ keys: the same values, a per-axis one gone
   only where the file lost its axis); written and read once more, the list
   must not change (abort otherwise, so the fuzzer reports it). Every list
   of pairs a load gives must pass the setters' rules (a NRRD can give it
   back). Built by `make fuzz` or with fuzz_main.c as a replayer. */
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

/* whether a and b hold the same key/value pairs in the same order */
static int same_pairs(const mv_vol *a, const mv_vol *b)
{
    int i;
    if (a->meta.n_kv != b->meta.n_kv) return 0;
    for (i = 0; i < a->meta.n_kv; i++)
        if (strcmp(a->meta.kv[i].key, b->meta.kv[i].key) || strcmp(a->meta.kv[i].value, b->meta.kv[i].value)) return 0;
    return 1;
}

/* whether key names a kept NRRD field, as far as this check needs: the
   three single ones, or NRRD_ and a key ending in ']' (a per-axis one; the
   library's own rule is narrower, and a plain pair so named comes back
   as it is) */
static int kept_like(const char *k)
{
    size_t n = strlen(k);
    return !strcmp(k, "NRRD_content") || !strcmp(k, "NRRD_old min") || !strcmp(k, "NRRD_old max") ||
           (!strncmp(k, "NRRD_", 5) && n && k[n - 1] == ']');
}

/* whether b, a's volume written and read back, holds a's plain pairs in
   a's order and nothing else plain, and a's kept fields with their values
   (a per-axis one may be gone: its axis is not in the file) */
static int pairs_kept(const mv_vol *a, const mv_vol *b)
{
    int i, j = 0;
    for (i = 0; i < a->meta.n_kv; i++) {
        const char *k = a->meta.kv[i].key, *x = mv_vol_keyvalue(b, k);
        if (kept_like(k)) {
            if (x ? strcmp(x, a->meta.kv[i].value) != 0 : k[strlen(k) - 1] != ']') return 0;
            continue;
        }
        while (j < b->meta.n_kv && kept_like(b->meta.kv[j].key)) j++;
        if (j == b->meta.n_kv || strcmp(b->meta.kv[j].key, k) || strcmp(b->meta.kv[j].value, a->meta.kv[i].value))
            return 0;
        j++;
    }
    while (j < b->meta.n_kv && kept_like(b->meta.kv[j].key)) j++;
    return j == b->meta.n_kv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    char path[128];
    const uint8_t *nul = (const uint8_t *)memchr(data, 0, size);
    uint8_t sel = size ? data[size - 1] : 0;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_vol v, w;
    int k;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/medvol-fuzz-nrrd-%ld", (long)getpid());
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
    if (mv_load_nrrd_mem(data, size, nul ? nul + 1 : NULL, nul ? size - (size_t)(nul + 1 - data) : 0, &v, &lo) != MV_OK)
        return 0;
    if (v.meta.n_kv > 0) { /* what medvol reads it can write */
        mv_vol t;
        mv_vol_init(&t);
        if (mv_vol_set_keyvalues(&t, v.meta.kv, v.meta.n_kv) != MV_OK || !same_pairs(&t, &v)) abort();
        mv_free(&t);
    }
    if (!nul && size >= 4 && !memcmp(data, "NRRD", 4)) { /* by its magic: the same volume */
        if (mv_load_mem(data, size, &w, &lo) != MV_OK) abort();
        if (w.dtype != v.dtype || mv_vol_bytes(&w) != mv_vol_bytes(&v) ||
            (v.data && memcmp(w.data, v.data, mv_vol_bytes(&v))) || !same_pairs(&v, &w))
            abort();
        mv_free(&w);
    }
    if (!v.data) {
        mv_free(&v);
        return 0;
    }
    for (k = 0; k < 2; k++) { /* plain, then compressed */
        mv_save_opts so = MV_ZERO_INIT;
        so.compress = k;
        snprintf(path, sizeof(path), "%s/x.nrrd", dir);
        if (mv_save(path, &v, &so) != MV_OK) continue; /* e.g. a type NRRD cannot hold after a conversion */
        if (mv_load(path, &w, NULL) != MV_OK) abort();
        if (w.dtype != v.dtype || mv_vol_bytes(&w) != mv_vol_bytes(&v) || memcmp(w.data, v.data, mv_vol_bytes(&v)) ||
            !pairs_kept(&v, &w))
            abort();
        if (k == 0) { /* written and read once more: the list stays */
            mv_vol w2;
            if (mv_save(path, &w, &so) != MV_OK || mv_load(path, &w2, NULL) != MV_OK || !same_pairs(&w, &w2)) abort();
            mv_free(&w2);
        }
        if (v.ndim == 4 && v.meta.n_grad == v.dim[3]) { /* a DWI series: its table comes back (to rounding) */
            int i;
            if (w.meta.n_grad != v.meta.n_grad) abort();
            for (i = 0; i < 4 * v.meta.n_grad; i++) {
                double a = v.meta.grad[i], b = w.meta.grad[i], tol = (i % 4 == 3 ? 1e-9 * (1 + a) : 1e-6);
                if (!(a - b <= tol && b - a <= tol) && !(i % 4 != 3 && v.meta.grad[i - i % 4 + 3] == 0)) abort();
            }
        }
        mv_free(&w);
    }
    mv_free(&v);
    return 0;
}
