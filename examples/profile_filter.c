/* profile_filter [size] [iterations] [--isa NAME] [--threads N]
   mv_gaussian_into on a size^3 float32 Shepp-Logan phantom (default 256),
   into a warm caller buffer: sigma 1.5 voxels along x only, y only, z only
   (one pass each), all three (the whole filter), in place; sigma 4; sigma
   10 exact (FIR) and recursive; the scalar reference for comparison; the
   allocating form (fresh output memory); box filter and gradient. Each row
   is timed paired with a memcpy of the same bytes (the yardstick, in the same
   run) and shows the ratio memcpy / op ("xmemcpy": 1 = as fast as memcpy).
   scipy.ndimage.gaussian_filter on the same volume and sigma:
   /usr/bin/python3 examples/profile_filter.py [size] [iterations]. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"

typedef struct job {
    mv_vol *in, *out;
    double sigma[3];
    int64_t radius[3];
    mv_filter_opts o;
    int kind; /* 0 gaussian_into, 1 gaussian (allocating), 2 box, 3 gradient */
} job;

static void run_job(void *ctx)
{
    job *j = (job *)ctx;
    mv_status st = MV_OK;
    mv_vol t;
    mv_vol_init(&t);
    if (j->kind == 0) st = mv_gaussian_into(j->in, j->out, j->sigma, &j->o);
    else if (j->kind == 1) st = mv_gaussian(j->in, &t, j->sigma, &j->o);
    else if (j->kind == 2) st = mv_box_filter(j->in, &t, j->radius, &j->o);
    else st = mv_gradient(j->in, &t, &j->o);
    if (st != MV_OK) {
        fprintf(stderr, "profile_filter: %s\n", mv_last_error());
        exit(1);
    }
    mv_free(&t);
}

static void row(const char *name, job *j, int iters, size_t bytes)
{
    prof_result r, base;
    prof_run_paired(run_job, j, iters, bytes, &r, &base);
    prof_row(name, r, bytes, base);
}

int main(int argc, char **argv)
{
    int64_t n;
    int iters, pass;
    mv_vol in, out;
    job j;
    size_t bytes;
    char name[96];
    argc = prof_options(argc, argv);
    n = argc > 1 ? atoll(argv[1]) : 256;
    iters = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 8 || n > 1024 || iters < 1) {
        fprintf(stderr, "usage: profile_filter [size 8..1024] [iterations] [--isa NAME] [--threads N]\n");
        return 1;
    }
    if (mv_phantom_shepp_logan(&in, n, n, n) != MV_OK || mv_vol_copy(&in, &out) != MV_OK) {
        fprintf(stderr, "profile_filter: %s\n", mv_last_error());
        return 1;
    }
    bytes = mv_vol_bytes(&in);
    prof_header("profile_filter: mv_gaussian_into, float32, warm output; ratio to memcpy of the volume");
    printf("# %lld^3 float32 (%.1f MB), %d iterations\n", (long long)n, (double)bytes / 1e6, iters);
    for (pass = 0; pass < 2; pass++) {
        int threads = pass == 0 ? 1 : mv_threads();
        memset(&j, 0, sizeof(j));
        j.in = &in;
        j.out = &out;
        j.o.threads = threads;
        printf("# %d thread(s)\n", threads);
        j.sigma[0] = 1.5, j.sigma[1] = 0, j.sigma[2] = 0;
        snprintf(name, sizeof(name), "gauss s1.5 x pass");
        row(name, &j, iters, bytes);
        j.sigma[0] = 0, j.sigma[1] = 1.5;
        row("gauss s1.5 y pass", &j, iters, bytes);
        j.sigma[1] = 0, j.sigma[2] = 1.5;
        row("gauss s1.5 z pass", &j, iters, bytes);
        j.sigma[0] = j.sigma[1] = j.sigma[2] = 1.5;
        row("gauss s1.5 xyz (whole filter)", &j, iters, bytes);
        j.in = &out;
        row("gauss s1.5 xyz in place", &j, iters, bytes);
        j.in = &in;
        j.sigma[0] = j.sigma[1] = j.sigma[2] = 4.0;
        row("gauss s4 xyz", &j, iters, bytes);
        j.sigma[0] = j.sigma[1] = j.sigma[2] = 10.0;
        j.o.method = MV_FILTER_FIR;
        row("gauss s10 xyz FIR (exact)", &j, iters, bytes);
        j.o.method = MV_FILTER_RECURSIVE;
        row("gauss s10 xyz recursive", &j, iters, bytes);
        j.o.method = 0;
        j.sigma[0] = j.sigma[1] = j.sigma[2] = 1.5;
        j.kind = 1;
        row("mv_gaussian s1.5 (fresh output)", &j, iters, bytes);
        j.kind = 2;
        j.radius[0] = j.radius[1] = j.radius[2] = 2;
        row("mv_box_filter r2 (fresh output)", &j, iters, bytes);
        j.kind = 3;
        row("mv_gradient (fresh 3x output)", &j, iters, bytes);
        if (pass == 0 && mv_isa_active() != MV_ISA_REF) {
            mv_isa was = mv_isa_active();
            j.kind = 0;
            mv_set_isa(MV_ISA_REF);
            row("gauss s1.5 xyz, scalar reference", &j, iters, bytes);
            mv_set_isa(was);
        }
    }
    mv_free(&in);
    mv_free(&out);
    return 0;
}
