/* fft_bench.c - medvol FFT vs FFTW (fftwf, FFTW_MEASURE) vs scipy.fft (pocketfft).
   examples/profile_fft has the medvol and FFTW columns with memcpy ratios;
   this adds scipy.fft, timed by a Python child in the same run.

   Cases (dims[0] fastest; numpy shape is the reverse):
     256^3 c2c 3D, 32x256x256 batched 2D c2c over the two fast axes,
     240x240x160 c2c 3D, 250^3 c2c 3D, 256^3 r2c 3D; each on 1 and 2 threads.
   Timing: --rounds rounds (default 5); in each round, per case and thread
   count, --reps runs (default 3) of medvol, FFTW and a memcpy of the input
   bytes, interleaved run by run, then the same count of scipy.fft runs from a
   persistent Python child (bench_scipy.py --serve). Best over all rounds:
   the machine is shared, and interleaving gives all three the same load.
   Warm buffers, out of place; FFTW plans (FFTW_MEASURE) are made before any
   timing; medvol's scratch is allocated once (mv_fft_execute_into). Outputs
   are compared (relative RMS) before any time is printed. GFLOP/s =
   5 N log2 N / t for c2c and 2.5 N log2 N / t for r2c (FFTW's convention).

   build and run: make bench-fft (needs libfftw3-dev and python3-scipy)
   run:   build/fft_bench [--rounds N] [--reps N] [--no-scipy] [--isa avx2] [--only NAME] */

#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

typedef struct bench_case {
    const char *name;
    int ndim;
    int64_t dims[3];
    unsigned axes;
    int r2c;
} bench_case;

static const bench_case cases[] = {
    {"256^3 c2c", 3, {256, 256, 256}, 7, 0},
    {"32x256x256 c2c 2D", 3, {256, 256, 32}, 3, 0},
    {"240x240x160 c2c", 3, {240, 240, 160}, 7, 0},
    {"250^3 c2c", 3, {250, 250, 250}, 7, 0},
    {"256^3 r2c", 3, {256, 256, 256}, 7, 1},
};
#define N_CASES ((int)(sizeof(cases) / sizeof(cases[0])))

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int64_t prod(const int64_t *d, int lo, int hi)
{
    int64_t p = 1;
    int k;
    for (k = lo; k < hi; k++) p *= d[k];
    return p;
}

/* FFTW's guru dims in our layout: transformed axes slowest first, the
   halved (lowest transformed) axis last for r2c. */
static fftwf_plan fftw_plan_case(const bench_case *c, float *in, float *out, int threads)
{
    fftwf_iodim tr[3], hm[3];
    int64_t cd[3];
    int ntr = 0, nhm = 0, k, h = 0;
    while (!(c->axes & (1u << h))) h++;
    for (k = 0; k < c->ndim; k++) cd[k] = c->dims[k];
    if (c->r2c) cd[h] = c->dims[h] / 2 + 1;
    for (k = c->ndim - 1; k >= 0; k--) {
        fftwf_iodim d;
        d.n = (int)c->dims[k];
        d.is = (int)prod(c->dims, 0, k);
        d.os = (int)prod(cd, 0, k);
        if (!(c->axes & (1u << k))) hm[nhm++] = d;
        else if (!c->r2c || k != h) tr[ntr++] = d;
    }
    if (c->r2c) {
        tr[ntr].n = (int)c->dims[h];
        tr[ntr].is = (int)prod(c->dims, 0, h);
        tr[ntr].os = (int)prod(cd, 0, h);
        ntr++;
    }
    fftwf_plan_with_nthreads(threads);
    if (c->r2c) return fftwf_plan_guru_dft_r2c(ntr, tr, nhm, hm, in, (fftwf_complex *)out, FFTW_MEASURE);
    return fftwf_plan_guru_dft(ntr, tr, nhm, hm, (fftwf_complex *)in, (fftwf_complex *)out, FFTW_FORWARD, FFTW_MEASURE);
}

static double flops(const bench_case *c)
{
    double n = (double)prod(c->dims, 0, c->ndim), lg = 0;
    int k;
    for (k = 0; k < c->ndim; k++)
        if (c->axes & (1u << k)) lg += log2((double)c->dims[k]);
    return (c->r2c ? 2.5 : 5.0) * n * lg;
}

static void *xalloc(size_t n)
{
    void *p = fftwf_malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    memset(p, 0, n); /* warm: first-touch page faults happen here, not in the timing */
    return p;
}

typedef struct result {
    double mv, fw, cp, sp; /* ms, best */
    double diff;
} result;

/* The scipy child: requests "<case> <workers> <reps>", answers "<best ms>". */
typedef struct scipy_child {
    FILE *to, *from;
    pid_t pid;
} scipy_child;

static int scipy_start(scipy_child *c)
{
    int down[2], up[2];
    char line[64], script[512];
    snprintf(script, sizeof(script), "%s/fft_scipy.py", BENCH_DIR);
    if (pipe(down) || pipe(up)) return 0;
    c->pid = fork();
    if (c->pid < 0) return 0;
    if (c->pid == 0) {
        dup2(down[0], 0);
        dup2(up[1], 1);
        close(down[1]);
        close(up[0]);
        execl("/usr/bin/python3", "python3", script, "--serve", (char *)NULL);
        _exit(127);
    }
    close(down[0]);
    close(up[1]);
    c->to = fdopen(down[1], "w");
    c->from = fdopen(up[0], "r");
    return c->to && c->from && fgets(line, sizeof(line), c->from) && !strncmp(line, "ready", 5);
}
static double scipy_time(scipy_child *c, int idx, int workers, int reps)
{
    char line[64];
    fprintf(c->to, "%d %d %d\n", idx, workers, reps);
    fflush(c->to);
    return fgets(line, sizeof(line), c->from) ? atof(line) : 0;
}
static void scipy_stop(scipy_child *c)
{
    fclose(c->to);
    fclose(c->from);
    waitpid(c->pid, NULL, 0);
}

typedef struct bench_state {
    float *in, *out_mv, *out_fw, *copy;
    size_t in_bytes, out_bytes;
    mv_fft_plan *p[2];
    fftwf_plan fp[2];
    void *scratch[2];
} bench_state;

static void setup(const bench_case *c, bench_state *b)
{
    int64_t n = prod(c->dims, 0, c->ndim), h = 0, nc;
    size_t i;
    int t;
    while (!(c->axes & (1u << h))) h++;
    nc = c->r2c ? n / c->dims[h] * (c->dims[h] / 2 + 1) : n;
    b->in_bytes = (size_t)n * (c->r2c ? 4 : 8);
    b->out_bytes = (size_t)nc * 8;
    b->in = (float *)xalloc(b->in_bytes);
    b->copy = (float *)xalloc(b->in_bytes);
    b->out_mv = (float *)xalloc(b->out_bytes);
    b->out_fw = (float *)xalloc(b->out_bytes);
    for (t = 0; t < 2; t++) {
        mv_fft_opts o;
        memset(&o, 0, sizeof(o));
        o.threads = t + 1;
        b->fp[t] = fftw_plan_case(c, b->in, b->out_fw, t + 1); /* FFTW_MEASURE scribbles on both arrays */
        if (!b->fp[t]) {
            fprintf(stderr, "%s: FFTW planner failed\n", c->name);
            exit(1);
        }
        if ((c->r2c ? mv_fft_plan_r2c(&b->p[t], c->ndim, c->dims, c->axes, &o)
                    : mv_fft_plan_c2c(&b->p[t], c->ndim, c->dims, c->axes, 0, &o)) != MV_OK) {
            fprintf(stderr, "%s: %s\n", c->name, mv_last_error());
            exit(1);
        }
        b->scratch[t] = xalloc(mv_fft_scratch_size(b->p[t]));
    }
    srand(1234);
    for (i = 0; i < b->in_bytes / 4; i++) b->in[i] = (float)rand() / (float)RAND_MAX - 0.5f;
}

static void run_round(const bench_case *c, bench_state *b, int t, int reps, result *q)
{
    int r;
    for (r = 0; r < reps; r++) {
        double t0 = now_s(), t1, t2, t3;
        mv_fft_execute_into(b->p[t], b->in, b->out_mv, b->scratch[t]);
        t1 = now_s();
        if (c->r2c) fftwf_execute_dft_r2c(b->fp[t], b->in, (fftwf_complex *)b->out_fw);
        else fftwf_execute_dft(b->fp[t], (fftwf_complex *)b->in, (fftwf_complex *)b->out_fw);
        t2 = now_s();
        memcpy(b->copy, b->in, b->in_bytes);
        t3 = now_s();
        if ((t1 - t0) * 1e3 < q->mv) q->mv = (t1 - t0) * 1e3;
        if ((t2 - t1) * 1e3 < q->fw) q->fw = (t2 - t1) * 1e3;
        if ((t3 - t2) * 1e3 < q->cp) q->cp = (t3 - t2) * 1e3;
    }
}

static double compare(const bench_state *b)
{
    double e = 0, s = 0;
    size_t i;
    for (i = 0; i < b->out_bytes / 4; i++) {
        double d = (double)b->out_mv[i] - (double)b->out_fw[i];
        e += d * d;
        s += (double)b->out_fw[i] * (double)b->out_fw[i];
    }
    return sqrt(e / s);
}

int main(int argc, char **argv)
{
    result res[N_CASES][2];
    bench_state st[N_CASES];
    scipy_child py = {NULL, NULL, 0};
    int rounds = 5, reps = 3, scipy = 1, ci, ti, round, a;
    const char *only = NULL;
    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--reps") && a + 1 < argc) reps = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--rounds") && a + 1 < argc) rounds = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--no-scipy")) scipy = 0;
        else if (!strcmp(argv[a], "--only") && a + 1 < argc) only = argv[++a];
        else if (!strcmp(argv[a], "--isa") && a + 1 < argc) {
            const char *want = argv[++a];
            int i;
            for (i = 0; i < MV_ISA_COUNT; i++)
                if (!strcmp(want, mv_isa_name((mv_isa)i)) && mv_set_isa((mv_isa)i) != MV_OK) {
                    fprintf(stderr, "%s\n", mv_last_error());
                    return 2;
                }
        }
    }
    fftwf_init_threads();
    printf("%s\n", mv_build_info());
    printf("fft isa: %s; fftw: %s; %d rounds x %d runs\n", mv_isa_name(mv_isa_active()), fftwf_version, rounds, reps);
    if (scipy && !scipy_start(&py)) {
        fprintf(stderr, "scipy child did not start (apt-get install python3-scipy); going on without it\n");
        scipy = 0;
    }
    for (ci = 0; ci < N_CASES; ci++) {
        for (ti = 0; ti < 2; ti++) {
            res[ci][ti].mv = res[ci][ti].fw = res[ci][ti].cp = res[ci][ti].sp = 1e30;
            res[ci][ti].diff = 0;
        }
        if (!only || strstr(cases[ci].name, only)) setup(&cases[ci], &st[ci]);
    }
    for (round = 0; round < rounds; round++)
        for (ci = 0; ci < N_CASES; ci++) {
            if (only && !strstr(cases[ci].name, only)) continue;
            for (ti = 0; ti < 2; ti++) {
                if (round == 0) run_round(&cases[ci], &st[ci], ti, 1, &res[ci][ti]); /* warm-up, then forget it */
                if (round == 0) res[ci][ti].mv = res[ci][ti].fw = res[ci][ti].cp = 1e30;
                run_round(&cases[ci], &st[ci], ti, reps, &res[ci][ti]);
                if (scipy) {
                    double ms = scipy_time(&py, ci, ti + 1, reps);
                    if (ms > 0 && ms < res[ci][ti].sp) res[ci][ti].sp = ms;
                }
            }
        }
    if (scipy) scipy_stop(&py);
    for (ci = 0; ci < N_CASES; ci++) {
        if (only && !strstr(cases[ci].name, only)) continue;
        for (ti = 0; ti < 2; ti++) {
            mv_fft_execute_into(st[ci].p[ti], st[ci].in, st[ci].out_mv, st[ci].scratch[ti]);
            if (cases[ci].r2c) fftwf_execute_dft_r2c(st[ci].fp[ti], st[ci].in, (fftwf_complex *)st[ci].out_fw);
            else fftwf_execute_dft(st[ci].fp[ti], (fftwf_complex *)st[ci].in, (fftwf_complex *)st[ci].out_fw);
            res[ci][ti].diff = compare(&st[ci]);
            if (res[ci][ti].diff > 1e-5) {
                fprintf(stderr, "%s: medvol and FFTW disagree (relative RMS %.3g)\n", cases[ci].name, res[ci][ti].diff);
                return 1;
            }
            fftwf_destroy_plan(st[ci].fp[ti]);
            mv_fft_plan_free(st[ci].p[ti]);
            fftwf_free(st[ci].scratch[ti]);
        }
        fftwf_free(st[ci].in);
        fftwf_free(st[ci].copy);
        fftwf_free(st[ci].out_mv);
        fftwf_free(st[ci].out_fw);
    }
    printf("\n%-20s %3s | %8s %7s | %8s %7s | %8s %7s | %9s %9s | %7s %9s\n", "case", "thr", "medvol", "GF/s", "FFTW", "GF/s",
           "scipy", "GF/s", "vs FFTW", "vs scipy", "memcpy", "rel diff");
    for (ci = 0; ci < N_CASES; ci++)
        for (ti = 0; ti < 2; ti++) {
            const result *q = &res[ci][ti];
            double f = flops(&cases[ci]) * 1e-6;
            if (only && !strstr(cases[ci].name, only)) continue;
            printf("%-20s %3d | %8.2f %7.1f | %8.2f %7.1f | ", cases[ci].name, ti + 1, q->mv, f / q->mv, q->fw, f / q->fw);
            if (q->sp < 1e29) printf("%8.2f %7.1f | %8.2fx %8.2fx | ", q->sp, f / q->sp, q->fw / q->mv, q->sp / q->mv);
            else printf("%8s %7s | %8.2fx %9s | ", "-", "-", q->fw / q->mv, "-");
            printf("%7.2f %9.2g\n", q->cp, q->diff);
        }
    printf("(ms = best over all rounds; 'vs X' = X time / medvol time, > 1 means medvol is faster)\n");
    return 0;
}
