/* profile_analysis [MB] [iterations] [--isa NAME] [--threads N]
   The analysis kernels (medvol.h >>api-analysis) on MB of float32 input
   (default 128): Pearson of one vector against rows, chi-squared with the
   contrast/offset fit, a seed map of a 4D series, then angle selection of
   1e5 angles over 4 ranges, multi-tau and two-time correlation. Each row's
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
    case 3: mv_angle_select(j->ang, j->n, j->ranges, 4, j->idx, j->n, &j->cnt); break;
    }
}

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
    j.idx = (int64_t *)malloc((size_t)j.n * 8);
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

    /* two-time: 500 frames of a 4096-pixel region */
    {
        enum { T = 500, P = 4096 };
        float *st = (float *)malloc((size_t)T * P * 4);
        int32_t *lab = (int32_t *)malloc(P * sizeof(int32_t));
        double *C = (double *)malloc((size_t)T * T * 8), t0, fl = (double)T * (T + 1) / 2 * P * 2;
        for (i = 0; i < (int64_t)T * P; i++) st[i] = (float)(1 + i % 13);
        for (i = 0; i < P; i++) lab[i] = 1;
        mv_twotime(st, MV_DT_F32, T, P, lab, 1, C, NULL);
        t0 = prof_now_ms();
        mv_twotime(st, MV_DT_F32, T, P, lab, 1, C, NULL);
        ms = prof_now_ms() - t0;
        printf("%-40s %9.3f ms: %.2f GFLOP/s (float64 products)\n", "twotime 500 frames x 4096 px", ms, fl / 1e6 / ms);
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
