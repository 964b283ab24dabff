/* profile_bspline.c - B-spline FFD registration (>>api-bspline) on a
   size^3 phantom pair, as a ratio to a memcpy of the bytes each step
   touches (examples/profile.h pairs every timing with a memcpy run in the
   same loop):
   - dense field from the control grid (mv_bspline_field_into): writes 12
     bytes per voxel;
   - one registration iteration at full resolution, full sampling: the
     time of mv_register_bspline with one level and 2k iterations minus
     the one with k, per cost evaluation (each evaluation reads the fixed
     value, the sample map byte and the moving cubic coefficients of every
     voxel: 9 bytes per voxel; the gradient planes and the control grid are
     small). Reported per evaluation and per iteration (the line search
     adds evaluations).
   Above 128^3 only the MSE row at default threads runs (each row is two
   registrations). usage: profile_bspline [size] [iterations] [--threads N] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED  /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct pb_ctx {
    mv_bspline_grid g;
    mv_vol field;
    mv_field_opts fo;
} pb_ctx;

static void pb_field(void *c)
{
    pb_ctx *p = (pb_ctx *)c;
    if (mv_bspline_field_into(&p->g, &p->field, &p->fo) != MV_OK) {
        fprintf(stderr, "profile_bspline: %s\n", mv_last_error());
        exit(1);
    }
}

static double pb_register(const mv_vol *F, const mv_vol *M, mv_metric_type metric, int iters, int threads, int *evals_out,
                          int *iters_out)
{
    mv_bspline_opts o = MV_ZERO_INIT;
    mv_bspline_result r;
    mv_vol f;
    double t0;
    o.metric.metric = metric;
    o.metric.sampling = MV_SAMPLING_FULL;
    o.metric.threads = threads;
    o.levels = "1";
    o.iterations[0] = iters;
    o.step = 0.5;
    o.tolerance = -1;
    o.param_tolerance = -1;
    o.grid_spacing[0] = 10;
    mv_vol_init(&f);
    t0 = prof_now_ms();
    if (mv_register_bspline(F, M, &f, &o, &r) != MV_OK) {
        fprintf(stderr, "profile_bspline: %s\n", mv_last_error());
        exit(1);
    }
    t0 = prof_now_ms() - t0;
    *iters_out = r.iterations[0];
    *evals_out = r.evaluations[0];
    mv_free(&f);
    return t0;
}

int main(int argc, char **argv)
{
    pb_ctx p;
    mv_vol F, M, warp;
    int64_t n = 256, i, nv;
    int iters = 3, pass;
    argc = prof_options(argc, argv);
    if (argc > 1) n = atoll(argv[1]);
    if (argc > 2) iters = atoi(argv[2]);
    if (n < 16 || n > 1024 || iters < 1) {
        fprintf(stderr, "usage: profile_bspline [size 16..1024] [iterations] [--isa NAME] [--threads N]\n");
        return 2;
    }
    memset(&p, 0, sizeof(p));
    if (mv_phantom_smooth(&F, MV_DT_F32, n, n, n, 1) != MV_OK || mv_bspline_grid_init(&p.g, &F, NULL, NULL) != MV_OK ||
        mv_field_alloc(&p.field, &F, 3, NULL) != MV_OK) {
        fprintf(stderr, "profile_bspline: %s\n", mv_last_error());
        return 1;
    }
    nv = n * n * n;
    for (i = 0; i < mv_bspline_grid_ncoef(&p.g); i++) p.g.coef[i] = 1.5 * sin(0.37 * (double)i);
    /* the moving image: the phantom warped by the grid's field */
    mv_vol_init(&warp);
    if (mv_bspline_field_into(&p.g, &p.field, NULL) != MV_OK || mv_field_warp(&F, &p.field, NULL, &warp, NULL) != MV_OK) {
        fprintf(stderr, "profile_bspline: %s\n", mv_last_error());
        return 1;
    }
    M = warp;
    prof_header("profile_bspline: B-spline FFD on a size^3 phantom pair, ratio to memcpy of the bytes touched");
    printf("# field: grid %lldx%lldx%lld control points (16 voxels), %lld coefficients; registration: 10 mm grid\n", (long long)p.g.n[0],
           (long long)p.g.n[1], (long long)p.g.n[2], (long long)mv_bspline_grid_ncoef(&p.g));
    for (pass = 0; pass < 2; pass++) {
        prof_result op, base;
        int th = pass == 0 ? 1 : 0, k, e1, e2, i1, i2;
        size_t bytes = (size_t)nv * 12;
        p.fo.threads = th;
        printf("# %s\n", pass == 0 ? "1 thread" : "default threads");
        prof_run_paired(pb_field, &p, iters, bytes, &op, &base);
        prof_row("dense field from the grid (12 B/voxel out)", op, bytes, base);
        for (k = 0; k < 2; k++) {
            if (n > 128 && (pass == 0 || k == 1)) continue; /* large: MSE at default threads only (minutes otherwise) */
            mv_metric_type mt = k == 0 ? MV_METRIC_MSE : MV_METRIC_NCC;
            double t1 = pb_register(&F, &M, mt, 2, th, &e1, &i1), t2 = pb_register(&F, &M, mt, 4, th, &e2, &i2);
            double per = (t2 - t1) / (double)(e2 - e1 > 0 ? e2 - e1 : 1);
            prof_result mc = prof_memcpy((size_t)nv * 9, 3);
            printf("%-44s %9.1f ms per cost+gradient evaluation (%d vs %d evaluations, %d vs %d iterations); memcpy of 9 "
                   "B/voxel %.1f ms: ratio %.3f\n",
                   k == 0 ? "registration, MSE, cubic moving" : "registration, NCC, cubic moving", per, e2, e1, i2, i1,
                   mc.median, mc.median / per);
        }
    }
    mv_bspline_grid_free(&p.g);
    mv_free(&p.field);
    mv_free(&F);
    mv_free(&M);
    return 0;
}
