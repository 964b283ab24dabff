/* profile_field [size] [iterations] [--isa NAME] [--threads N]
   Displacement-field kernels on a size^3 grid (default 128): a float32
   phantom (mv_phantom_smooth) warped by a smooth field of ~3 mm (linear,
   nearest, cubic; into a warm caller buffer), composition, one
   fixed-point iteration of the inverse, the exponential, the Jacobian
   determinant and the fold count. Each row: min / median / mean ms over
   the iterations and the ratio to a memcpy of the bytes the operation
   touches at least once (field in + image out for the warp, two fields in
   + one out for the composition ...), measured interleaved in the same
   run (prof_run_paired). One thread, then the library default. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED  /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct pf_ctx {
    mv_vol img, field, field2, out, jac;
    mv_field_opts o;
    int op;
    int64_t folds;
} pf_ctx;

enum { PF_WARP, PF_COMPOSE, PF_INVERT1, PF_EXP, PF_JAC, PF_FOLDS };

static void pf_run(void *c)
{
    pf_ctx *p = (pf_ctx *)c;
    mv_status st = MV_OK;
    mv_field_opts o = p->o;
    switch (p->op) {
    case PF_WARP: st = mv_field_warp_into(&p->img, &p->field, NULL, &p->out, &o); break;
    case PF_COMPOSE: st = mv_field_compose_into(&p->field, &p->field, &p->field2, &o); break;
    case PF_INVERT1: o.max_iter = 1; o.tol = 1e-30; st = mv_field_invert_into(&p->field, &p->field2, &o, NULL); break;
    case PF_EXP: st = mv_field_exp_into(&p->field, &p->field2, &o, NULL); break;
    case PF_JAC: st = mv_field_jacobian_into(&p->field, &p->jac, &o); break;
    default: st = mv_field_folds(&p->field, &p->folds, NULL, &o); break;
    }
    if (st != MV_OK) {
        fprintf(stderr, "profile_field: %s (%s)\n", mv_status_str(st), mv_last_error());
        exit(1);
    }
}

int main(int argc, char **argv)
{
    pf_ctx p;
    int64_t n = 128, dims[3], i;
    int iters = 5, pass;
    size_t nv, fb;
    void *scratch;
    argc = prof_options(argc, argv);
    if (argc > 1) n = atoll(argv[1]);
    if (argc > 2) iters = atoi(argv[2]);
    if (n < 8 || n > 1024 || iters < 1) {
        fprintf(stderr, "usage: profile_field [size 8..1024] [iterations] [--isa NAME] [--threads N]\n");
        return 2;
    }
    memset(&p, 0, sizeof(p));
    if (mv_phantom_smooth(&p.img, MV_DT_F32, n, n, n, 1) != MV_OK || mv_field_alloc(&p.field, &p.img, 3, NULL) != MV_OK ||
        mv_field_alloc(&p.field2, &p.img, 3, NULL) != MV_OK || mv_vol_copy(&p.img, &p.out) != MV_OK ||
        mv_vol_copy(&p.img, &p.jac) != MV_OK) {
        fprintf(stderr, "profile_field: %s\n", mv_last_error());
        return 1;
    }
    dims[0] = dims[1] = dims[2] = n;
    nv = (size_t)(n * n * n);
    fb = nv * 12;
    for (i = 0; i < (int64_t)(3 * nv); i++) {
        size_t v = (size_t)i % nv;
        double x = (double)(v % (size_t)n), y = (double)(v / (size_t)n % (size_t)n), z = (double)(v / (size_t)(n * n));
        ((float *)p.field.data)[i] = (float)(3.0 * sin(0.05 * x + 0.04 * y + 0.03 * z + (double)(i / (int64_t)nv)));
    }
    scratch = NULL;
    {
        mv_field_opts so = MV_ZERO_INIT;
        size_t need;
        so.interp = MV_INTERP_CUBIC;
        need = mv_field_scratch_size(&p.field, &p.img, &so);
        if (posix_memalign(&scratch, 64, need) != 0) return 1;
        p.o.scratch = scratch;
        p.o.scratch_size = need;
    }
    (void)dims;
    prof_header("profile_field: displacement fields on a size^3 grid, ratio to memcpy of the bytes touched");
    for (pass = 0; pass < 2; pass++) {
        static const struct {
            const char *name;
            int op, interp;
            double bytes_per_voxel;
        } rows[] = {
            {"warp linear (field + image in, out)", PF_WARP, MV_INTERP_LINEAR, 20},
            {"warp nearest", PF_WARP, MV_INTERP_NEAREST, 20},
            {"warp cubic", PF_WARP, MV_INTERP_CUBIC, 20},
            {"compose (2 fields in, 1 out)", PF_COMPOSE, 0, 36},
            {"invert, one iteration", PF_INVERT1, 0, 36},
            {"exp (all squarings)", PF_EXP, 0, 36},
            {"jacobian determinant", PF_JAC, 0, 16},
            {"fold count", PF_FOLDS, 0, 12},
        };
        size_t r;
        p.o.threads = pass == 0 ? 1 : 0;
        printf("# %s\n", pass == 0 ? "1 thread" : "default threads");
        for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            prof_result op, base;
            size_t bytes = (size_t)(rows[r].bytes_per_voxel * (double)nv);
            p.op = rows[r].op;
            p.o.interp = (mv_interp)rows[r].interp;
            prof_run_paired(pf_run, &p, iters, bytes, &op, &base);
            prof_row(rows[r].name, op, bytes, base);
        }
    }
    (void)fb;
    free(scratch);
    mv_free(&p.img);
    mv_free(&p.field);
    mv_free(&p.field2);
    mv_free(&p.out);
    mv_free(&p.jac);
    return 0;
}
