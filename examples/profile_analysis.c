/* profile_analysis [MB] [iterations] [--isa NAME] [--threads N]
   The analysis kernels (medvol.h >>api-analysis) on MB of float32 input
   (default 128): Pearson of one vector against rows, chi-squared with the
   contrast/offset fit, a seed map of a 4D series, then angle selection of
   1e5 angles over 4 ranges, multi-tau and two-time correlation (in GFLOP/s
   beside this machine's float32 FMA peak, measured in the same run). Each row's
   MB/s is input bytes / median time and xmemcpy its ratio to a memcpy of
   the same bytes timed in the same iterations. numpy's time for the same
   shapes (float64 accumulation, vectorised closed forms) comes from
   /usr/bin/python3 in the same run when numpy is there. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, popen; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include <math.h>

typedef struct job {
    int kind;
    float *x, *rows;
    int64_t nrows, n;
    double *out, *c, *o;
    mv_vol *bold, *map;
    double *ang, ranges[8];
    int64_t *idx, cnt;
    int32_t *lab;
} job;

static void run(void *p)
{
    job *j = (job *)p;
    mv_chi2_opts co;
    mv_seed sd;
    memset(&co, 0, sizeof(co));
    memset(&sd, 0, sizeof(sd));
    switch (j->kind) {
    case 0: mv_corr_rows(j->x, j->rows, MV_DT_F32, j->nrows, j->n, j->n, j->out, NULL); break;
    case 1:
        co.fit = 1;
        co.model_shared = 1;
        mv_chi2_rows(j->rows, j->x, NULL, MV_DT_F32, j->nrows, j->n, j->out, j->c, j->o, &co);
        break;
    case 2:
        sd.kind = MV_SEED_VOXEL;
        sd.voxel[0] = 10;
        sd.voxel[1] = 20;
        sd.voxel[2] = 5;
        mv_corr_seed_into(j->bold, &sd, j->map, NULL);
        break;
    case 3: mv_angle_select(j->ang, j->n, j->ranges, 4, j->idx, j->n + 64, &j->cnt); break;
    case 4: mv_twotime(j->rows, MV_DT_F32, j->nrows, j->n, j->lab, 1, j->out, NULL); break;
    }
}

/* The single-precision multiply-add peak of this machine, now: 12
   independent 8-lane FMA chains per thread (no memory), on `threads`
   threads at once, in GFLOP/s (2 per lane per FMA); 0 without AVX2+FMA. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(MEDVOL_NO_THREADS)
#include <immintrin.h>
#include <pthread.h>
#define FMA_ROUNDS 2000000
__attribute__((target("avx2,fma"))) static void *fma_chains(void *out)
{
    /* named registers (an array here would live in memory at -O2), each
       chain from its own start so the compiler cannot merge them */
    __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f), a0 = _mm256_set1_ps(1),
           a1 = _mm256_set1_ps(2), a2 = _mm256_set1_ps(3), a3 = _mm256_set1_ps(4), a4 = _mm256_set1_ps(5),
           a5 = _mm256_set1_ps(6), a6 = _mm256_set1_ps(7), a7 = _mm256_set1_ps(8), a8 = _mm256_set1_ps(9),
           a9 = _mm256_set1_ps(10), a10 = _mm256_set1_ps(11), a11 = _mm256_set1_ps(12);
    float l[8];
    int it;
    for (it = 0; it < FMA_ROUNDS; it++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    a0 = _mm256_add_ps(a0, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    _mm256_storeu_ps(l, a0);
    *(float *)out = l[0];
    return NULL;
}
static double fma_peak_gflops(int threads)
{
    pthread_t t[64];
    float sink[64];
    double best = 0;
    int k, rep;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    if (threads > 64) threads = 64;
    for (rep = 0; rep < 5; rep++) {
        double t0 = prof_now_ms(), gf;
        for (k = 1; k < threads; k++) pthread_create(&t[k], NULL, fma_chains, &sink[k]);
        fma_chains(&sink[0]);
        for (k = 1; k < threads; k++) pthread_join(t[k], NULL);
        gf = (double)threads * FMA_ROUNDS * 12 * 8 * 2 / 1e6 / (prof_now_ms() - t0);
        if (gf > best) best = gf;
    }
    return best;
}
#else
static double fma_peak_gflops(int threads)
{
    (void)threads;
    return 0;
}
#endif

static const char *numpy_script =
    "import sys, time, numpy as np\n"
    "mb = float(sys.argv[1]); it = int(sys.argv[2]); rng = np.random.default_rng(1)\n"
    "def t(f):\n"
    "    f(); ts = []\n"
    "    for _ in range(it):\n"
    "        a = time.perf_counter(); f(); ts.append(time.perf_counter() - a)\n"
    "    return 1e3 * float(np.median(ts))\n"
    "n = 1000; nr = int(mb * 1e6 / 4 / n); Y = rng.random((nr, n), dtype=np.float32); x = rng.random(n, dtype=np.float32)\n"
    "def corr():\n"
    "    xc = x.astype(np.float64) - x.mean(dtype=np.float64); Yd = Y.astype(np.float64)\n"
    "    yc = Yd - Yd.mean(axis=1, keepdims=True)\n"
    "    return (yc @ xc) / np.sqrt((yc * yc).sum(axis=1) * (xc @ xc))\n"
    "print('numpy corr_rows %.3f' % t(corr))\n"
    "n = 200; nr = int(mb * 1e6 / 4 / n); D = rng.random((nr, n), dtype=np.float32); m = rng.random(n, dtype=np.float32)\n"
    "def chi2():\n"
    "    Dd = D.astype(np.float64); md = m.astype(np.float64) - m.mean(dtype=np.float64)\n"
    "    dm = Dd.mean(axis=1, keepdims=True); c = ((Dd - dm) @ md) / (md @ md)\n"
    "    r = (Dd - dm) - c[:, None] * md[None, :]\n"
    "    return (r * r).sum(axis=1), c\n"
    "print('numpy chi2_fit %.3f' % t(chi2))\n"
    "T = int(mb * 1e6 / 4 / (64 * 64 * 32)); B = rng.random((T, 64 * 64 * 32), dtype=np.float32)\n"
    "def seed():\n"
    "    s = B[:, 1000].astype(np.float64); s = (s - s.mean()) / s.std()\n"
    "    Bd = B.astype(np.float64); mu = Bd.mean(axis=0); sd = Bd.std(axis=0); sd[sd == 0] = 1\n"
    "    return (s @ (Bd - mu)) / T / sd\n"
    "print('numpy seed_map %.3f' % t(seed))\n"
    "a = (rng.random(100000) - 0.5) * 360; rg = [(-30, 10), (40, 60), (170, -170), (100, 120)]\n"
    "def ang():\n"
    "    w = 180 - np.mod(180 - a, 360); k = np.zeros(a.size, bool)\n"
    "    for lo, hi in rg:\n"
    "        k |= ((w >= lo) & (w <= hi)) if lo <= hi else ((w >= lo) | (w <= hi))\n"
    "    return np.flatnonzero(k)\n"
    "print('numpy angle_select %.3f' % t(ang))\n";

static void numpy_times(double mb, int iters, double out[4])
{
    char cmd[256], line[256];
    FILE *f, *p;
    const char *names[4] = {"corr_rows", "chi2_fit", "seed_map", "angle_select"};
    int k;
    for (k = 0; k < 4; k++) out[k] = 0;
    f = fopen("/tmp/medvol_profile_analysis.py", "w");
    if (!f) return;
    fputs(numpy_script, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 /tmp/medvol_profile_analysis.py %g %d 2>/dev/null", mb, iters);
    p = popen(cmd, "r");
    if (!p) return;
    while (fgets(line, sizeof(line), p))
        for (k = 0; k < 4; k++) {
            char key[64];
            double v;
            if (sscanf(line, "numpy %63s %lf", key, &v) == 2 && strcmp(key, names[k]) == 0) out[k] = v;
        }
    pclose(p);
}

int main(int argc, char **argv)
{
    double mb, npy[4], ms;
    int iters, k;
    int64_t i;
    job j;
    mv_vol bold, map;
    int64_t dims[4] = {64, 64, 32, 0};
    prof_result r, base;
    argc = prof_options(argc, argv);
    mb = argc > 1 ? atof(argv[1]) : 128;
    iters = argc > 2 ? atoi(argv[2]) : 5;
    if (mb < 1) mb = 1;
    prof_header("profile_analysis");
    memset(&j, 0, sizeof(j));

    /* Pearson: one vector against rows of 1000 */
    j.n = 1000;
    j.nrows = (int64_t)(mb * 1e6 / 4 / (double)j.n);
    j.rows = (float *)malloc((size_t)(j.nrows * j.n) * 4);
    j.x = (float *)malloc((size_t)j.n * 4);
    {   /* outputs for the most rows (the chi-squared rows of 200) */
        size_t most = (size_t)(mb * 1e6 / 4 / 200) + 1;
        j.out = (double *)malloc(most * 8 * 3);
        j.c = j.out + most;
        j.o = j.c + most;
    }
    for (i = 0; i < j.nrows * j.n; i++) j.rows[i] = (float)((i * 2654435761u) % 1000) * 0.001f;
    for (i = 0; i < j.n; i++) j.x[i] = (float)sin((double)i);
    j.kind = 0;
    prof_run_paired(run, &j, iters, (size_t)(j.nrows * j.n) * 4, &r, &base);
    prof_row("corr_rows f32 (rows of 1000)", r, (size_t)(j.nrows * j.n) * 4, base);
    /* chi-squared with the fit: rows of 200, a shared model */
    j.n = 200;
    j.nrows = (int64_t)(mb * 1e6 / 4 / (double)j.n);
    j.kind = 1;
    prof_run_paired(run, &j, iters, (size_t)(j.nrows * j.n) * 4, &r, &base);
    prof_row("chi2 fit f32 (rows of 200)", r, (size_t)(j.nrows * j.n) * 4, base);
    free(j.rows);

    /* seed map of a 64x64x32xT float32 series */
    dims[3] = (int64_t)(mb * 1e6 / 4 / (64.0 * 64 * 32));
    if (dims[3] < 2) dims[3] = 2;
    if (mv_vol_alloc(&bold, MV_DT_F32, 4, dims, NULL) != MV_OK || mv_vol_alloc(&map, MV_DT_F32, 3, dims, NULL) != MV_OK) {
        fprintf(stderr, "%s\n", mv_last_error());
        return 1;
    }
    for (i = 0; i < mv_vol_count(&bold); i++) ((float *)bold.data)[i] = (float)((i * 2654435761u) % 977);
    j.bold = &bold;
    j.map = &map;
    j.kind = 2;
    prof_run_paired(run, &j, iters, mv_vol_bytes(&bold), &r, &base);
    prof_row("corr_seed 64x64x32xT f32", r, mv_vol_bytes(&bold), base);
    mv_free(&bold);
    mv_free(&map);

    /* angle selection: 1e5 angles, 4 ranges (one crossing +-180) */
    j.n = 100000;
    j.ang = (double *)malloc((size_t)j.n * 8);
    j.idx = (int64_t *)malloc((size_t)(j.n + 64) * 8);
    for (i = 0; i < j.n; i++) j.ang[i] = fmod((double)i * 0.7, 360.0) - 179.5;
    {
        static const double rg[8] = {-30, 10, 40, 60, 170, -170, 100, 120};
        memcpy(j.ranges, rg, sizeof(rg));
    }
    j.kind = 3;
    prof_run_paired(run, &j, iters * 20, (size_t)j.n * 8, &r, &base);
    prof_row("angle_select 1e5 angles, 4 ranges", r, (size_t)j.n * 8, base);
    printf("  angle_select median %.1f us (target <= 50 us)\n", r.median * 1e3);
    free(j.ang);
    free(j.idx);

    /* multi-tau: 256x256 frames, 4 regions, m = 16 */
    {
        enum { NP = 256 * 256 };
        int nf = (int)(mb * 1e6 / 4 / NP), f;
        int32_t *lab = (int32_t *)malloc(NP * sizeof(int32_t));
        float *fr = (float *)malloc((size_t)NP * 4);
        mv_mtau *mt;
        double t0;
        if (nf < 64) nf = 64;
        for (i = 0; i < NP; i++) lab[i] = 1 + (int32_t)(i % 4);
        for (i = 0; i < NP; i++) fr[i] = (float)(i % 17);
        mv_mtau_create(&mt, lab, NP, 4, NULL);
        t0 = prof_now_ms();
        for (f = 0; f < nf; f++) {
            fr[f % NP] += 1.0f;
            mv_mtau_push(mt, fr, MV_DT_F32);
        }
        ms = prof_now_ms() - t0;
        base = prof_memcpy((size_t)NP * 4, 20);
        printf("%-40s %9.3f ms for %d frames: %.0f MB/s, %.2f x memcpy of the frames\n", "mtau_push 256x256, 4 rois", ms,
               nf, (double)nf * NP * 4 / 1e6 / (ms / 1e3), base.median * nf / ms);
        mv_mtau_destroy(mt);
        free(lab);
        free(fr);
    }

    /* two-time: 500 frames of a 4096-pixel region, photon counts (small
       integers: the exact float32 product) and real values (float64) */
    {
        enum { T = 500, P = 4096 };
        float *st = (float *)malloc((size_t)T * P * 4);
        int32_t *lab = (int32_t *)malloc(P * sizeof(int32_t));
        double *C = (double *)malloc((size_t)T * T * 8), fl = (double)T * (T + 1) / 2 * P * 2, peak;
        int kind, th = mv_threads();
        for (i = 0; i < P; i++) lab[i] = 1;
        peak = fma_peak_gflops(th);
        for (kind = 0; kind < 2; kind++) {
            job tj;
            memset(&tj, 0, sizeof(tj));
            for (i = 0; i < (int64_t)T * P; i++)
                st[i] = kind ? 1.0f + (float)((i * 2654435761u) % 1000) * 0.003f : (float)((i * 2654435761u) % 9);
            tj.kind = 4;
            tj.rows = st;
            tj.nrows = T;
            tj.n = P;
            tj.out = C;
            tj.lab = lab;
            r = prof_run(run, &tj, iters);
            printf("%-40s %9.3f %9.3f %9.3f  %.1f GFLOP/s", kind ? "twotime 500x4096 real (float64)" : "twotime 500x4096 counts (float32)",
                   r.min, r.median, r.mean, fl / 1e6 / r.median);
            if (peak > 0) printf(" = %.2f of the FMA peak", fl / 1e6 / r.median / peak);
            printf("\n");
        }
        if (peak > 0)
            printf("  single-precision FMA peak, %d threads, registers only (same run): %.1f GFLOP/s\n", th, peak);
        free(st);
        free(lab);
        free(C);
    }

    numpy_times(mb, iters, npy);
    printf("# numpy, same shapes, same run (/usr/bin/python3; 0 = not available):\n");
    {
        const char *names[4] = {"corr_rows", "chi2 fit", "corr_seed", "angle_select"};
        for (k = 0; k < 4; k++) printf("  numpy %-14s median %9.3f ms\n", names[k], npy[k]);
    }
    free(j.x);
    free(j.out);
    return 0;
}
