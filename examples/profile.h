/* profile.h - what every profile_* example shares: a monotonic timer,
   min/median/mean over iterations, the memcpy baseline measured in the same
   run, and the --isa / --threads options. Include after medvol.h.
   The figure that survives noisy shared machines is the ratio to memcpy of
   the same bytes in the same run, not the milliseconds. */
#ifndef MEDVOL_PROFILE_H
#define MEDVOL_PROFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double prof_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct prof_result {
    double min, median, mean; /* ms */
} prof_result;

static int prof_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static prof_result prof_summarise(double *ms, int n)
{
    prof_result r;
    double sum = 0;
    int i;
    qsort(ms, (size_t)n, sizeof(double), prof_cmp);
    for (i = 0; i < n; i++) sum += ms[i];
    r.min = ms[0];
    r.median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    r.mean = sum / n;
    return r;
}

/* runs fn(ctx) `iters` times after one warm-up and summarises */
#define PROF_MAX_ITERS 1000
typedef void (*prof_fn)(void *ctx);
static prof_result prof_run(prof_fn fn, void *ctx, int iters)
{
    double ms[PROF_MAX_ITERS];
    int i;
    if (iters > PROF_MAX_ITERS) iters = PROF_MAX_ITERS;
    if (iters < 1) iters = 1;
    fn(ctx);
    for (i = 0; i < iters; i++) {
        double t0 = prof_now_ms();
        fn(ctx);
        ms[i] = prof_now_ms() - t0;
    }
    return prof_summarise(ms, iters);
}

/* memcpy of `bytes` into a warm destination: the bandwidth yardstick */
typedef struct prof_memcpy_ctx {
    void *dst;
    const void *src;
    size_t bytes;
} prof_memcpy_ctx;
static void prof_memcpy_once(void *c)
{
    prof_memcpy_ctx *m = (prof_memcpy_ctx *)c;
    memcpy(m->dst, m->src, m->bytes);
}
static prof_result prof_memcpy(size_t bytes, int iters)
{
    prof_memcpy_ctx m;
    prof_result r;
    m.src = malloc(bytes ? bytes : 1);
    m.dst = malloc(bytes ? bytes : 1);
    m.bytes = bytes;
    /* real bytes in the source: untouched (calloc) pages would all map the
       kernel's one zero page and every read would hit the cache */
    memset((void *)m.src, 0x5a, bytes);
    memset(m.dst, 1, bytes); /* warm: no page faults in the timed copies */
    r = prof_run(prof_memcpy_once, &m, iters);
    free((void *)m.src);
    free(m.dst);
    return r;
}

/* fn interleaved with a memcpy of `bytes` (the yardstick), iteration by
   iteration, so both see the same moments of a shared machine's load:
   *op summarises fn, *base the memcpys. The memcpy buffers are kept between
   calls (warm). */
static prof_memcpy_ctx prof_pair_m;
#if defined(__GNUC__) || defined(__clang__)
__attribute__((unused))
#endif
static void prof_run_paired(prof_fn fn, void *ctx, int iters, size_t bytes, prof_result *op, prof_result *base)
{
    double a[PROF_MAX_ITERS], b[PROF_MAX_ITERS];
    int i;
    if (iters > PROF_MAX_ITERS) iters = PROF_MAX_ITERS;
    if (iters < 1) iters = 1;
    if (prof_pair_m.bytes < bytes) {
        free((void *)prof_pair_m.src);
        free(prof_pair_m.dst);
        prof_pair_m.src = malloc(bytes);
        prof_pair_m.dst = malloc(bytes);
        memset((void *)prof_pair_m.src, 0x5a, bytes);
        memset(prof_pair_m.dst, 1, bytes);
        prof_pair_m.bytes = bytes;
    }
    fn(ctx);
    memcpy(prof_pair_m.dst, prof_pair_m.src, bytes);
    for (i = 0; i < iters; i++) {
        double t0 = prof_now_ms();
        memcpy(prof_pair_m.dst, prof_pair_m.src, bytes);
        b[i] = prof_now_ms() - t0;
        t0 = prof_now_ms();
        fn(ctx);
        a[i] = prof_now_ms() - t0;
    }
    *op = prof_summarise(a, iters);
    *base = prof_summarise(b, iters);
}

static void prof_header(const char *title)
{
    printf("%s\n", mv_build_info());
    printf("# %s | active ISA %s | %d threads by default\n", title, mv_isa_name(mv_isa_active()), mv_threads());
    printf("%-40s %9s %9s %9s %10s %8s\n", "operation", "min ms", "median", "mean", "MB/s", "xmemcpy");
}

/* one row: throughput of `bytes` (the op's input bytes unless the profile
   says otherwise) and the ratio memcpy-median / op-median (base: a memcpy of
   the same bytes, best measured paired with the op: prof_run_paired) */
static void prof_row(const char *name, prof_result r, size_t bytes, prof_result base)
{
    double mbs = r.median > 0 ? (double)bytes / 1e6 / (r.median / 1e3) : 0;
    printf("%-40s %9.3f %9.3f %9.3f %10.0f %8.2f\n", name, r.min, r.median, r.mean, mbs,
           r.median > 0 ? base.median / r.median : 0);
}

/* --isa NAME and --threads N, removed from argv; returns the new argc */
static int prof_options(int argc, char **argv)
{
    int i, j = 1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            int k, found = 0;
            for (k = 0; k < MV_ISA_COUNT; k++)
                if (strcmp(name, mv_isa_name((mv_isa)k)) == 0) {
                    found = 1;
                    if (mv_set_isa((mv_isa)k) != MV_OK) {
                        fprintf(stderr, "--isa %s: %s\n", name, mv_last_error());
                        exit(1);
                    }
                }
            if (!found) {
                fprintf(stderr, "--isa %s: unknown (ref sse2 avx2 avx512 neon)\n", name);
                exit(1);
            }
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            mv_set_threads(atoi(argv[++i]));
        } else {
            argv[j++] = argv[i];
        }
    }
    return j;
}

#endif
