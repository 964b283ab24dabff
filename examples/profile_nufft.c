/* profile_nufft [size] [coils] [tol] [--isa NAME] [--threads N]
   The 2D radial NUFFT of issue 13: an N^2 image (default 256), 402 spokes
   x 2N samples (BART traj -r -G, halved to |k| <= N/2), 32 coils, tol 1e-3.
   Stages: plan (sort into bins, kernel fit, deconvolution, FFT plans), the
   upsampled-grid FFT of the coil batch alone, the whole adjoint (type 1:
   gather + spread + FFT + deconvolution) and forward (type 2), the spread /
   interpolation share (whole - FFT), the Toeplitz normal operator, and
   Pipe-Menon density compensation (30 iterations), and weighting 500,000
   samples x the coils in place (mv_kspace_weight, issue 13's figure).
   Ratios are to a paired memcpy of the k-space. */
#define _POSIX_C_SOURCE 200809L
#ifndef MEDVOL_EXAMPLE_LINKED
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"

typedef struct pctx {
    mv_nufft_plan *p;
    mv_nufft_toeplitz *t;
    mv_fft_plan *f;
    void *scratch, *grid, *fscr;
    float *img, *ks, *coords;
    int64_t nc, np;
    double tol;
    mv_vol traj, w;
    mv_vol kw, ww; /* 500,000 samples x coils and their weights */
} pctx;

static void run_adj(void *c)
{
    pctx *x = (pctx *)c;
    if (mv_nufft_execute_into(x->p, 1, x->ks, x->img, x->nc, x->scratch) != MV_OK) exit(1);
}
static void run_fwd(void *c)
{
    pctx *x = (pctx *)c;
    if (mv_nufft_execute_into(x->p, 0, x->img, x->ks, x->nc, x->scratch) != MV_OK) exit(1);
}
static void run_fft(void *c)
{
    pctx *x = (pctx *)c;
    if (mv_fft_execute_into(x->f, x->grid, x->grid, x->fscr) != MV_OK) exit(1);
}
static void run_plan(void *c)
{
    pctx *x = (pctx *)c;
    mv_nufft_plan *q = NULL;
    mv_nufft_opts o = MV_ZERO_INIT;
    o.tol = x->tol;
    o.coils = x->nc;
    if (mv_nufft_plan_make(&q, (const int64_t[3]){x->np, x->np, 1}, x->coords, x->traj.dim[1] * x->traj.dim[2], &o) != MV_OK)
        exit(1);
    mv_nufft_plan_free(q);
}
static void run_toep(void *c)
{
    pctx *x = (pctx *)c;
    if (mv_nufft_toeplitz_apply(x->t, x->img, x->img, x->nc) != MV_OK) exit(1);
}
static void run_pm(void *c)
{
    pctx *x = (pctx *)c;
    mv_dcf_opts o = MV_ZERO_INIT;
    o.method = MV_DCF_PIPE_MENON;
    o.iterations = 30;
    if (mv_dcf_into(&x->traj, &x->w, &o) != MV_OK) exit(1);
}
static void run_weight(void *c)
{
    pctx *x = (pctx *)c;
    if (mv_kspace_weight(&x->kw, &x->ww, NULL) != MV_OK) exit(1);
}

int main(int argc, char **argv)
{
    int64_t n = 256, nc = 32, m, i, grid[3], d[4];
    double tol = 1e-3, beta;
    int w, deg, iters = 5;
    pctx x;
    mv_nufft_opts o = MV_ZERO_INIT;
    mv_traj_opts to = MV_ZERO_INIT;
    mv_fft_opts fo = MV_ZERO_INIT;
    prof_result r, base;
    size_t kbytes;
    char name[200];
    argc = prof_options(argc, argv);
    if (argc > 1) n = atoll(argv[1]);
    if (argc > 2) nc = atoll(argv[2]);
    if (argc > 3) tol = atof(argv[3]);
    if (argc > 4 || n < 8 || nc < 1 || tol <= 0) {
        fprintf(stderr, "usage: profile_nufft [size] [coils] [tol] [--isa NAME] [--threads N]\n");
        return 2;
    }
    memset(&x, 0, sizeof(x));
    x.nc = nc;
    x.np = n;
    x.tol = tol;
    to.golden = 1;
    if (mv_traj_radial(&x.traj, 2 * n, 402, &to) != MV_OK) return 1;
    m = 2 * n * 402;
    x.coords = (float *)malloc((size_t)m * 12);
    for (i = 0; i < m; i++) {
        float *t = (float *)x.traj.data + 6 * i;
        t[0] *= 0.5f; /* |k| <= N/2 */
        t[2] *= 0.5f;
        x.coords[3 * i] = t[0];
        x.coords[3 * i + 1] = t[2];
        x.coords[3 * i + 2] = 0;
    }
    o.tol = tol;
    o.coils = nc;
    if (mv_nufft_plan_make(&x.p, (const int64_t[3]){n, n, 1}, x.coords, m, &o) != MV_OK) {
        fprintf(stderr, "%s\n", mv_last_error());
        return 1;
    }
    mv_nufft_plan_info(x.p, &w, &beta, grid, &deg, NULL);
    x.scratch = malloc(mv_nufft_scratch_size(x.p, nc));
    x.img = (float *)malloc((size_t)(8 * n * n * nc));
    x.ks = (float *)malloc((size_t)(8 * m * nc));
    for (i = 0; i < 2 * n * n * nc; i++) x.img[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (i = 0; i < 2 * m * nc; i++) x.ks[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    d[0] = nc;
    d[1] = grid[0];
    d[2] = grid[1];
    fo.norm = MV_FFT_FORWARD;
    if (mv_fft_plan_c2c(&x.f, 3, d, 6u, 1, &fo) != MV_OK) return 1;
    x.grid = calloc((size_t)(8 * nc * grid[0] * grid[1]), 1);
    x.fscr = malloc(mv_fft_scratch_size(x.f));
    if (mv_nufft_toeplitz_make(&x.t, x.p, NULL, NULL) != MV_OK) return 1;
    {
        int64_t wd[3] = {1, 2 * n, 402};
        if (mv_vol_alloc(&x.w, MV_DT_F32, 3, wd, NULL) != MV_OK) return 1;
    }
    snprintf(name, sizeof(name), "profile_nufft %lld^2, %lld x 402 points, %lld coils, tol %g", (long long)n,
             (long long)(2 * n), (long long)nc, tol);
    prof_header(name);
    printf("# kernel width %d, beta %.2f, Horner degree %d, grid %lld x %lld\n", w, beta, deg, (long long)grid[0],
           (long long)grid[1]);
    kbytes = (size_t)(8 * m * nc);
    prof_run_paired(run_plan, &x, iters, kbytes, &r, &base);
    prof_row("plan (sort, fit, deconv, FFT plans)", r, kbytes, base);
    prof_run_paired(run_fft, &x, iters, kbytes, &r, &base);
    prof_row("  grid FFT of the coil batch", r, kbytes, base);
    {
        prof_result ff = r;
        prof_run_paired(run_adj, &x, iters, kbytes, &r, &base);
        prof_row("adjoint (type 1) all coils", r, kbytes, base);
        printf("%-40s %9s %9.3f\n", "  of which not FFT (gather, spread, deconv)", "", r.median - ff.median);
        prof_run_paired(run_fwd, &x, iters, kbytes, &r, &base);
        prof_row("forward (type 2) all coils", r, kbytes, base);
        printf("%-40s %9s %9.3f\n", "  of which not FFT (deconv, interp, scatter)", "", r.median - ff.median);
    }
    prof_run_paired(run_toep, &x, iters, kbytes, &r, &base);
    prof_row("Toeplitz A^H A all coils", r, kbytes, base);
    prof_run_paired(run_pm, &x, 3, kbytes / (size_t)nc, &r, &base);
    prof_row("Pipe-Menon DCF, 30 iterations", r, kbytes / (size_t)nc, base);
    {
        /* weights near 1, so repeated weighting stays finite */
        int64_t kd[4] = {1, 1000, 500, nc}, wd[3] = {1, 1000, 500}, q;
        if (mv_vol_alloc(&x.kw, MV_DT_C64, 4, kd, NULL) != MV_OK || mv_vol_alloc(&x.ww, MV_DT_F32, 3, wd, NULL) != MV_OK) return 1;
        for (q = 0; q < 2 * 500000 * nc; q++) ((float *)x.kw.data)[q] = (float)((q * 7919) % 1000) / 1000.0f - 0.5f;
        for (q = 0; q < 500000; q++) ((float *)x.ww.data)[q] = 1.0f + (float)(q % 7 - 3) * 1e-7f;
        prof_run_paired(run_weight, &x, iters, (size_t)(8 * 500000 * nc), &r, &base);
        snprintf(name, sizeof(name), "k-space weighting, 500000 x %lld coils", (long long)nc);
        prof_row(name, r, (size_t)(8 * 500000 * nc), base);
        mv_free(&x.kw);
        mv_free(&x.ww);
    }
    mv_nufft_toeplitz_free(x.t);
    mv_nufft_plan_free(x.p);
    mv_fft_plan_free(x.f);
    mv_free(&x.traj);
    mv_free(&x.w);
    free(x.scratch);
    free(x.img);
    free(x.ks);
    free(x.coords);
    free(x.grid);
    free(x.fscr);
    return 0;
}
