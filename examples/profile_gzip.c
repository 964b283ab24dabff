/* profile_gzip [size] [iterations] [--isa NAME] [--threads N]
   gzip decompression and compression of a realistic volume - a smooth
   phantom with noise stored as int16 and as float32 - in MB/s of the
   uncompressed bytes and as a ratio to memcpy of the same bytes in the same
   run; on one thread and on all. Decompression covers medvol's own indexed
   multi-member files and a single-member stream like gzip(1) writes (on
   several threads it is split speculatively: from 32 MiB up by default). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"

typedef struct gz_ctx {
    const unsigned char *in;
    size_t n;
    unsigned char *out;
    size_t cap, len;
    mv_gzip_opts o;
    int compress;
    mv_status st;
} gz_ctx;

static void gz_once(void *c)
{
    gz_ctx *g = (gz_ctx *)c;
    g->st = g->compress ? mv_gzip(g->in, g->n, g->out, g->cap, &g->len, &g->o) : mv_gunzip(g->in, g->n, g->out, g->cap, &g->len, &g->o);
}

static void profile(const char *what, const mv_vol *v, int iters)
{
    size_t n = mv_vol_bytes(v), cap;
    unsigned char *comp, *single, *back, *packed;
    prof_result base = prof_memcpy(n, iters);
    gz_ctx g;
    size_t clen, slen;
    int t, tc[2] = {1, mv_threads()}, lv;
    char row[96];
    memset(&g, 0, sizeof(g));
    cap = mv_gzip_bound(n, &g.o);
    comp = (unsigned char *)malloc(cap);
    single = (unsigned char *)malloc(cap);
    packed = (unsigned char *)malloc(cap); /* the compression rows' output (the inputs above stay) */
    back = (unsigned char *)malloc(n);
    memset(back, 0, n);
    mv_gzip(v->data, n, comp, cap, &clen, NULL);
    g.o.single_member = 1;
    mv_gzip(v->data, n, single, cap, &slen, &g.o);
    printf("## %s: %zu bytes; level 6 gives %.1f%% (indexed, 1 MiB members) and %.1f%% (one member)\n", what, n,
           100.0 * (double)clen / (double)n, 100.0 * (double)slen / (double)n);
    prof_row("memcpy (warm destination)", base, n, base);
    for (t = 0; t < (tc[1] > 1 ? 2 : 1); t++) {
        memset(&g, 0, sizeof(g));
        g.o.threads = tc[t];
        g.in = comp;
        g.n = clen;
        g.out = back;
        g.cap = n;
        snprintf(row, sizeof(row), "gunzip medvol file, %d thr", tc[t]);
        prof_row(row, prof_run(gz_once, &g, iters), n, base);
        if (g.st != MV_OK || g.len != n || memcmp(back, v->data, n) != 0) printf("    ^ WRONG OUTPUT\n");
        g.in = single; /* no index: on several threads, speculatively (medvol.h >>impl-gzip) */
        g.n = slen;
        snprintf(row, sizeof(row), "gunzip one-member stream, %d thr", tc[t]);
        prof_row(row, prof_run(gz_once, &g, iters), n, base);
        if (g.st != MV_OK || g.len != n || memcmp(back, v->data, n) != 0) printf("    ^ WRONG OUTPUT\n");
        for (lv = 0; lv < 3; lv++) {
            static const int levels[3] = {1, 6, -1};
            memset(&g, 0, sizeof(g));
            g.o.threads = tc[t];
            g.o.level = levels[lv];
            g.compress = 1;
            g.in = (const unsigned char *)v->data;
            g.n = n;
            g.out = packed;
            g.cap = cap;
            snprintf(row, sizeof(row), "gzip level %d, %d thr", levels[lv], tc[t]);
            prof_row(row, prof_run(gz_once, &g, iters), n, base);
        }
    }
    free(comp);
    free(single);
    free(packed);
    free(back);
}

int main(int argc, char **argv)
{
    int64_t size;
    int iters;
    mv_vol v;
    char what[64];
    argc = prof_options(argc, argv);
    size = argc > 1 ? atoll(argv[1]) : 128;
    iters = argc > 2 ? atoi(argv[2]) : 5;
    if (size < 2 || iters < 1) {
        fprintf(stderr, "usage: profile_gzip [size] [iterations] [--isa NAME] [--threads N]\n");
        return 2;
    }
    prof_header("profile_gzip");
    if (mv_phantom_smooth(&v, MV_DT_I16, size, size, size, 1) != MV_OK) return 1;
    snprintf(what, sizeof(what), "int16 %lld^3", (long long)size);
    profile(what, &v, iters);
    mv_free(&v);
    if (mv_phantom_smooth(&v, MV_DT_F32, size, size, size, 1) != MV_OK) return 1;
    snprintf(what, sizeof(what), "float32 %lld^3", (long long)size);
    profile(what, &v, iters);
    mv_free(&v);
    return 0;
}
