/* gzip_bench - medvol's gzip against zlib, libdeflate and ISA-L, side by
   side in one run on the same bytes (a smooth phantom with noise stored as
   int16 and as float32, or the file given).
     gzip_bench [size] [repetitions] [FILE...]
   Each engine compresses at its level 1 and 6 (ISA-L: 1 and 3, its range),
   every output is decompressed by the engine and by medvol and must give the
   input back before any time is printed; decompression is timed on the
   same stream (zlib -6's, the common case) for every engine. Single thread
   unless the row says otherwise. MB/s are of uncompressed bytes, median of
   the repetitions; "vs memcpy" is memcpy-of-the-same-bytes time over the
   engine's time, measured in the same run. */
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
#include "../examples/profile.h"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zlib.h>

typedef size_t (*compress_fn)(const unsigned char *in, size_t n, unsigned char *out, size_t cap, int level);
typedef size_t (*decompress_fn)(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

/* ---- the engines, one function each way ---- */
static int bench_threads = 1, bench_single = 0; /* medvol: threads; one member (pigz's layout) */

static size_t zlib_c(const unsigned char *in, size_t n, unsigned char *out, size_t cap, int level)
{
    z_stream z;
    size_t r;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    z.next_in = (unsigned char *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    r = deflate(&z, Z_FINISH) == Z_STREAM_END ? z.total_out : 0;
    deflateEnd(&z);
    return r;
}
static size_t zlib_d(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    z_stream z;
    size_t total = 0;
    int r = Z_OK;
    memset(&z, 0, sizeof(z));
    inflateInit2(&z, 15 + 16);
    z.next_in = (unsigned char *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    while (z.avail_in > 0 && r != Z_DATA_ERROR) { /* every member */
        r = inflate(&z, Z_FINISH);
        if (r == Z_STREAM_END && z.avail_in > 0) inflateReset(&z);
        else if (r != Z_STREAM_END && r != Z_BUF_ERROR && r != Z_OK) break;
        if (r == Z_BUF_ERROR) break;
    }
    total = z.total_out;
    total = (size_t)(z.next_out - out);
    inflateEnd(&z);
    return total;
}
static struct libdeflate_compressor *ldc[13];
static struct libdeflate_decompressor *ldd;
static size_t libdeflate_c(const unsigned char *in, size_t n, unsigned char *out, size_t cap, int level)
{
    if (!ldc[level]) ldc[level] = libdeflate_alloc_compressor(level);
    return libdeflate_gzip_compress(ldc[level], in, n, out, cap);
}
static size_t libdeflate_d(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    size_t got = 0, used = 0, total = 0;
    if (!ldd) ldd = libdeflate_alloc_decompressor();
    while (n > 0) { /* every member */
        if (libdeflate_gzip_decompress_ex(ldd, in, n, out + total, cap - total, &used, &got) != LIBDEFLATE_SUCCESS) return 0;
        in += used;
        n -= used;
        total += got;
    }
    return total;
}
static size_t isal_c(const unsigned char *in, size_t n, unsigned char *out, size_t cap, int level)
{
    struct isal_zstream s;
    static unsigned char *lvl_buf;
    size_t r;
    if (!lvl_buf) lvl_buf = (unsigned char *)malloc(ISAL_DEF_LVL3_DEFAULT);
    isal_deflate_init(&s);
    s.level = (uint32_t)level;
    s.level_buf = lvl_buf;
    s.level_buf_size = level == 1 ? ISAL_DEF_LVL1_DEFAULT : ISAL_DEF_LVL3_DEFAULT;
    s.gzip_flag = IGZIP_GZIP;
    s.end_of_stream = 1;
    s.flush = NO_FLUSH;
    s.next_in = (uint8_t *)(uintptr_t)in;
    s.avail_in = (uint32_t)n;
    s.next_out = out;
    s.avail_out = (uint32_t)cap;
    r = isal_deflate(&s) == COMP_OK && s.avail_in == 0 ? s.total_out : 0;
    return r;
}
static size_t isal_d(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    struct inflate_state s;
    size_t total = 0;
    while (n > 0) { /* every member */
        isal_inflate_init(&s);
        s.crc_flag = ISAL_GZIP;
        s.next_in = (uint8_t *)(uintptr_t)in;
        s.avail_in = (uint32_t)n;
        s.next_out = out + total;
        s.avail_out = (uint32_t)(cap - total);
        if (isal_inflate(&s) != ISAL_DECOMP_OK || s.block_state != ISAL_BLOCK_FINISH) return 0;
        total += s.total_out;
        n = s.avail_in;
        in = s.next_in;
        while (n > 0 && *in == 0) { in++; n--; } /* padding */
    }
    return total;
}
static size_t medvol_c(const unsigned char *in, size_t n, unsigned char *out, size_t cap, int level)
{
    mv_gzip_opts o;
    size_t len = 0;
    memset(&o, 0, sizeof(o));
    o.level = level;
    o.threads = bench_threads;
    o.single_member = bench_single;
    return mv_gzip(in, n, out, cap, &len, &o) == MV_OK ? len : 0;
}
static size_t medvol_d(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    mv_gzip_opts o;
    size_t len = 0;
    memset(&o, 0, sizeof(o));
    o.threads = bench_threads;
    return mv_gunzip(in, n, out, cap, &len, &o) == MV_OK ? len : 0;
}

typedef struct engine {
    const char *name;
    compress_fn c;
    decompress_fn d;
    int level[2];
} engine;
static const engine engines[] = {
    {"zlib", zlib_c, zlib_d, {1, 6}},
    {"libdeflate", libdeflate_c, libdeflate_d, {1, 6}},
    {"ISA-L", isal_c, isal_d, {1, 3}},
    {"medvol", medvol_c, medvol_d, {1, 6}},
};

/* ---- timing ---- */
typedef struct run_ctx {
    const engine *e;
    const unsigned char *in;
    size_t n;
    unsigned char *out;
    size_t cap, result;
    int level, compress;
} run_ctx;
static void run_once(void *c)
{
    run_ctx *r = (run_ctx *)c;
    r->result = r->compress ? r->e->c(r->in, r->n, r->out, r->cap, r->level) : r->e->d(r->in, r->n, r->out, r->cap);
}

static void bench_buffer(const char *what, const unsigned char *data, size_t n, int reps)
{
    size_t cap = n + n / 8 + (1 << 20), e, k;
    unsigned char *comp = (unsigned char *)malloc(cap), *back = (unsigned char *)malloc(n + 64), *zlib6 = (unsigned char *)malloc(cap);
    size_t zlib6_len = zlib_c(data, n, zlib6, cap, 6);
    prof_result base = prof_memcpy(n, reps);
    char row[96];
    printf("\n## %s: %zu bytes\n", what, n);
    printf("%-40s %9s %9s %9s %10s %8s %12s\n", "", "min ms", "median", "mean", "MB/s", "xmemcpy", "size");
    prof_row("memcpy", base, n, base);
    for (k = 0; k < 2; k++) /* compression, level 1 then 6 */
        for (e = 0; e < MV__ARRAY_LEN(engines); e++) {
            run_ctx r;
            size_t len, back_len, back_mv;
            memset(&r, 0, sizeof(r));
            r.e = &engines[e];
            r.in = data;
            r.n = n;
            r.out = comp;
            r.cap = cap;
            r.level = engines[e].level[k];
            r.compress = 1;
            run_once(&r);
            len = r.result;
            /* agreement: the engine and medvol both give the input back */
            back_len = len ? engines[e].d(comp, len, back, n + 64) : 0;
            back_mv = len ? medvol_d(comp, len, back, n + 64) : 0;
            if (!len || back_len != n || back_mv != n || memcmp(back, data, n) != 0) {
                printf("%s-%d compress: OUTPUTS DISAGREE (len %zu, back %zu / %zu) - not timed\n", engines[e].name, r.level,
                       len, back_len, back_mv);
                continue;
            }
            snprintf(row, sizeof(row), "compress %s-%d", engines[e].name, r.level);
            prof_row(row, prof_run(run_once, &r, reps), n, base);
            printf("%-40s %56zu (%.2f%%)\n", "", len, 100.0 * (double)len / (double)n);
        }
    for (e = 0; e < MV__ARRAY_LEN(engines); e++) { /* decompression of zlib -6's stream */
        run_ctx r;
        memset(&r, 0, sizeof(r));
        r.e = &engines[e];
        r.in = zlib6;
        r.n = zlib6_len;
        r.out = back;
        r.cap = n + 64;
        run_once(&r);
        if (r.result != n || memcmp(back, data, n) != 0) {
            printf("%s decompress: OUTPUT DISAGREES - not timed\n", engines[e].name);
            continue;
        }
        snprintf(row, sizeof(row), "decompress zlib-6 stream: %s", engines[e].name);
        prof_row(row, prof_run(run_once, &r, reps), n, base);
    }
    { /* medvol's own multi-member files: 1 thread, then all */
        mv_gzip_opts o;
        size_t len = 0;
        int t, tmax = mv_threads();
        memset(&o, 0, sizeof(o));
        mv_gzip(data, n, comp, cap, &len, &o);
        for (t = 1; t <= tmax; t = t == tmax ? tmax + 1 : tmax) {
            run_ctx r;
            memset(&r, 0, sizeof(r));
            bench_threads = t;
            r.e = &engines[3];
            r.in = comp;
            r.n = len;
            r.out = back;
            r.cap = n + 64;
            snprintf(row, sizeof(row), "decompress medvol file, %d thread%s", t, t > 1 ? "s" : "");
            prof_row(row, prof_run(run_once, &r, reps), n, base);
            r.in = data;
            r.n = n;
            r.out = comp + cap / 2 > comp + len ? comp : comp;
            r.compress = 1;
            r.out = (unsigned char *)malloc(cap);
            for (k = 0; k < 4; k++) { /* indexed members, then one member in parallel parts */
                r.level = engines[3].level[k % 2];
                bench_single = k >= 2;
                snprintf(row, sizeof(row), "compress medvol-%d%s, %d thread%s", r.level, bench_single ? " one member" : "",
                         t, t > 1 ? "s" : "");
                prof_row(row, prof_run(run_once, &r, reps), n, base);
            }
            bench_single = 0;
            free(r.out);
        }
        bench_threads = 1;
    }
    free(comp);
    free(back);
    free(zlib6);
}

int main(int argc, char **argv)
{
    int64_t size = 256;
    int reps = 5, i, files = 0;
    argc = prof_options(argc, argv);
    if (argc > 1 && argv[1][0] >= '0' && argv[1][0] <= '9') size = atoll(argv[1]);
    if (argc > 2 && argv[2][0] >= '0' && argv[2][0] <= '9') reps = atoi(argv[2]);
    prof_header("gzip_bench");
    printf("# engines: zlib %s, libdeflate %s, ISA-L (libisal), medvol %s\n", zlibVersion(), LIBDEFLATE_VERSION_STRING,
           MEDVOL_VERSION_STRING);
    for (i = 1; i < argc; i++) {
        mv_vol v;
        if (argv[i][0] >= '0' && argv[i][0] <= '9') continue;
        if (mv_load(argv[i], &v, NULL) != MV_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], mv_last_error());
            return 1;
        }
        bench_buffer(argv[i], (const unsigned char *)v.data, mv_vol_bytes(&v), reps);
        mv_free(&v);
        files++;
    }
    if (!files) {
        mv_vol v;
        char what[96];
        mv_phantom_smooth(&v, MV_DT_I16, size, size, size, 1);
        snprintf(what, sizeof(what), "phantom int16 %lld^3", (long long)size);
        bench_buffer(what, (const unsigned char *)v.data, mv_vol_bytes(&v), reps);
        mv_free(&v);
        mv_phantom_smooth(&v, MV_DT_F32, size, size, size, 1);
        snprintf(what, sizeof(what), "phantom float32 %lld^3", (long long)size);
        bench_buffer(what, (const unsigned char *)v.data, mv_vol_bytes(&v), reps);
        mv_free(&v);
    }
    return 0;
}
