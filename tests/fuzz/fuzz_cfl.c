/* libFuzzer target: BART .cfl/.hdr pairs. The input is the header text, a
   NUL byte, then the data file's bytes (no NUL: all header, empty data). The
   pair is written to a private folder and read with mv_cfl_load; a load
   that succeeds must hold exactly the data bytes, and must survive a round
   trip through mv_cfl_save and mv_cfl_load (abort otherwise, so the fuzzer
   reports it); then the same with opts.cfl_fold, written back with the
   header's 16 sizes. Built by `make fuzz` or with fuzz_main.c as a replayer. */
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

static int fz_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    char base[128], hdr[160], cfl[160];
    const uint8_t *nul = (const uint8_t *)memchr(data, 0, size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_vol v, w;
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/medvol-fuzz-cfl-%ld", (long)getpid());
        (void)mkdir(dir, 0700);
    }
    snprintf(base, sizeof(base), "%s/x", dir);
    snprintf(hdr, sizeof(hdr), "%s.hdr", base);
    snprintf(cfl, sizeof(cfl), "%s.cfl", base);
    if (!fz_write(hdr, data, hlen) || !fz_write(cfl, nul ? nul + 1 : data, nul ? size - hlen - 1 : 0)) return 0;
    lo.max_bytes = (uint64_t)1 << 24; /* headers may claim anything; keep the fuzzer's memory small */
    mv_vol_init(&v);
    mv_vol_init(&w);
    if (mv_cfl_load(base, &v, &lo) == MV_OK) {
        if (!nul || mv_vol_bytes(&v) != size - hlen - 1 || memcmp(v.data, nul + 1, mv_vol_bytes(&v))) abort();
        if (mv_cfl_save(base, &v, NULL) != MV_OK || mv_cfl_load(base, &w, &lo) != MV_OK) abort();
        if (w.ndim != v.ndim || mv_vol_bytes(&w) != mv_vol_bytes(&v) || memcmp(w.data, v.data, mv_vol_bytes(&v))) abort();
    }
    mv_free(&v);
    mv_free(&w);
    /* BART's axes beyond medvol's folded (opts.cfl_fold): the same bytes,
       and written back with the header's 16 sizes (opts.cfl_dims) */
    if (!fz_write(hdr, data, hlen) || !fz_write(cfl, nul ? nul + 1 : data, nul ? size - hlen - 1 : 0)) return 0;
    lo.cfl_fold = 1;
    if (mv_cfl_load(base, &v, &lo) == MV_OK) {
        int64_t d16[16], e16[16];
        mv_save_opts so = MV_ZERO_INIT;
        if (!nul || mv_vol_bytes(&v) != size - hlen - 1 || memcmp(v.data, nul + 1, mv_vol_bytes(&v))) abort();
        if (mv_cfl_dims(base, d16) != MV_OK) abort();
        so.cfl_dims = d16;
        if (mv_cfl_save(base, &v, &so) != MV_OK || mv_cfl_dims(base, e16) != MV_OK || memcmp(d16, e16, sizeof(d16)))
            abort();
        if (mv_cfl_load(base, &w, &lo) != MV_OK || mv_vol_bytes(&w) != mv_vol_bytes(&v) ||
            memcmp(w.data, v.data, mv_vol_bytes(&v)))
            abort();
    }
    mv_free(&v);
    mv_free(&w);
    return 0;
}
