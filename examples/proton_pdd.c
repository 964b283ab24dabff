/* proton_pdd [--energy MeV] [--grid Nx,Nz,Ntheta,NE] [--step mm] [--spot-sigma mm]
              [--lateral D1,D2,...] [--out DIR] [--profile] [--lie] [--unfused] [--threads N] [--isa NAME]
              [--gpu [--compare] [--gpu-tile TXxTZ]]

   A proton pencil beam into water, transported to the end of its range by
   medvol's deterministic phase-space transport (>>api-transport): prints
   the depth-dose curve (depth mm, dose, one line each), the Bragg-peak
   depth, R80 and R50 (distal 80% / 50% of the peak dose), the particle and
   energy balance of the whole run, and per-operator ms per step with the
   ratio to a memcpy of the fluence bytes measured in the same run.
   --lateral D1,D2,... prints the lateral dose profile at each depth (mm,
   the nearest row): lines "lateral DEPTH X DOSE" (x mm from the beam axis,
   MeV per mm^2 per proton) and a summary line with the profile's centre and
   RMS width sigma (the number a Fermi-Eyges calculation predicts).
   --out DIR writes DIR/dose.nii.gz (Gy per proton for a 1 mm thick slab,
   x by z). --profile repeats steps on the baseline grid 40x40x72x200
   (92 MB of float32 fluence) and prints each operator, the unfused step and
   the fused step against memcpy.

   --gpu runs the same transport on a CUDA device (medvol_cuda.h's
   mv_cuda_transport_*, made from the same CPU plan: the fluence, dose and
   balance are the CPU's bits) and times the operators against a
   device-to-device copy of the fluence (cudaEvents, paired row by row);
   --compare then runs the CPU path too and prints whether the two doses and
   fluences are identical. --gpu-tile TXxTZ runs fused Lie steps without
   bookkeeping (the profile's "step, Lie, fused" row) on tiles of TX x TZ
   cells instead of the planner's (mv_cuda_transport_set_tile: the same
   bytes; for sweeps of the tile on a GPU). --gpu needs the CUDA build of this file,
   build/proton_pdd_gpu (make cuda: this file compiled with PDD_CUDA and
   linked with medvol_cuda.h's implementation); build/proton_pdd says it has
   no CUDA and exits 2, and the CUDA build on a machine without a device says
   "no CUDA device" and exits 1.

   Defaults: 100 MeV, Strang splitting, fused step, 1 mm cells and step,
   Nx 41, Nz from the range, 72 angles, 200 energy bins (range-based, up to
   the beam energy + 5 MeV), a pencil beam (spot sigma 0). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, mkdir; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#ifdef PDD_CUDA
#include "../medvol_cuda.h"
#include <cuda_runtime_api.h> /* events and the D2D copy of the timing rows */
#endif

#include <math.h>
#include <sys/stat.h>

static void die(const char *what, mv_status st)
{
    fprintf(stderr, "proton_pdd: %s: %s (%s)\n", what, mv_status_str(st), mv_last_error());
    exit(1);
}
#define TRY(what, expr)                    \
    do {                                   \
        mv_status st_ = (expr);            \
        if (st_ != MV_OK) die(what, st_);  \
    } while (0)
#define PASS(expr)                         \
    do {                                   \
        mv_status st_ = (expr);            \
        if (st_ != MV_OK) return st_;      \
    } while (0)

static void usage(void)
{
    fprintf(stderr, "usage: proton_pdd [--energy MeV] [--grid Nx,Nz,Ntheta,NE] [--step mm] [--spot-sigma mm]\n"
                    "                  [--lateral D1,D2,...] [--out DIR] [--profile] [--lie] [--unfused] [--threads N]\n"
                    "                  [--isa NAME] [--gpu [--compare] [--gpu-tile TXxTZ]]\n");
    exit(2);
}

/* ---- where the transport runs: the CPU, or (--gpu) the device ----
   A run holds one plan's fluence, its scratch and a dose grid, in host or
   device memory; run_step / run_apply / run_fetch hide which. The device
   plan is made from the CPU plan, so both run the same tables. */
typedef struct pdd_run {
    mv_transport *t; /* the CPU plan */
    mv_transport_grid g;
    float *a, *b;    /* fluence and scratch (a step may exchange them) */
    double *dose;    /* [z][x], MeV */
    int gpu;
#ifdef PDD_CUDA
    mv_cuda_transport *dt;
    mv_cuda_vol da, db, ddose; /* own the device memory that a, b and dose point into */
#endif
} pdd_run;

static int gpu_tile[2]; /* --gpu-tile: x, z; 0, 0 the planner's */

#ifdef PDD_CUDA
static void fluence_dims(const mv_transport_grid *g, int64_t dims[4])
{
    dims[0] = g->nx;
    dims[1] = g->nz;
    dims[2] = g->ntheta;
    dims[3] = g->ne;
}

static mv_status run_begin_gpu(pdd_run *r, const float *fluence)
{
    int64_t dims[4], ddims[2];
    mv_vol h;
    fluence_dims(&r->g, dims);
    ddims[0] = r->g.nx;
    ddims[1] = r->g.nz;
    mv_cuda_vol_init(&r->da);
    mv_cuda_vol_init(&r->db);
    mv_cuda_vol_init(&r->ddose);
    PASS(mv_cuda_transport_create(r->t, &r->dt, NULL));
    if (gpu_tile[0] || gpu_tile[1]) PASS(mv_cuda_transport_set_tile(r->dt, gpu_tile[0], gpu_tile[1]));
    PASS(mv_cuda_vol_alloc(&r->da, MV_DT_F32, 4, dims, NULL));
    PASS(mv_cuda_vol_alloc(&r->db, MV_DT_F32, 4, dims, NULL));
    PASS(mv_cuda_vol_alloc(&r->ddose, MV_DT_F64, 2, ddims, NULL)); /* zeroed */
    PASS(mv_vol_wrap(&h, (void *)fluence, MV_DT_F32, 4, dims));
    PASS(mv_cuda_upload_into(&h, &r->da, NULL));
    r->a = (float *)r->da.vol.data;
    r->b = (float *)r->db.vol.data;
    r->dose = (double *)r->ddose.vol.data;
    return MV_OK;
}
#endif

/* fluence: the starting fluence (host memory, the plan's grid) */
static mv_status run_begin(pdd_run *r, mv_transport *t, const float *fluence, int gpu)
{
    size_t bytes;
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->gpu = gpu;
    PASS(mv_transport_get_grid(t, &r->g));
    bytes = (size_t)r->g.cells * sizeof(float);
#ifdef PDD_CUDA
    if (gpu) return run_begin_gpu(r, fluence);
#endif
    r->a = (float *)malloc(bytes);
    r->b = (float *)calloc(1, bytes);
    r->dose = (double *)calloc((size_t)r->g.nz * (size_t)r->g.nx, sizeof(double));
    if (!r->a || !r->b || !r->dose) return MV_ERR_OUT_OF_MEMORY;
    memcpy(r->a, fluence, bytes);
    return MV_OK;
}

static void run_end(pdd_run *r)
{
#ifdef PDD_CUDA
    if (r->gpu) {
        mv_cuda_transport_free(r->dt, NULL);
        mv_cuda_free(&r->da, NULL);
        mv_cuda_free(&r->db, NULL);
        mv_cuda_free(&r->ddose, NULL);
        mv_cuda_sync(NULL);
        return;
    }
#endif
    free(r->a);
    free(r->b);
    free(r->dose);
}

/* one step: the fluence in a, dose added, bal (may be NULL) the step's books */
static mv_status run_step(pdd_run *r, mv_transport_balance *bal)
{
#ifdef PDD_CUDA
    if (r->gpu) return mv_cuda_transport_step(r->dt, &r->a, &r->b, r->dose, bal, NULL);
#endif
    return mv_transport_step(r->t, &r->a, &r->b, r->dose, bal);
}

/* one operator over a full step, a -> b (no dose, no books) */
static mv_status run_apply(pdd_run *r, mv_transport_op op)
{
#ifdef PDD_CUDA
    if (r->gpu) return mv_cuda_transport_apply(r->dt, op, r->a, r->b, NULL, NULL, NULL);
#endif
    return mv_transport_apply(r->t, op, r->a, r->b, NULL, NULL);
}

/* the fluence and the dose into host memory (waits for the device) */
static mv_status run_fetch(pdd_run *r, float *fluence, double *dose)
{
#ifdef PDD_CUDA
    if (r->gpu) {
        int64_t dims[4], ddims[2];
        mv_cuda_vol w;
        mv_vol h;
        fluence_dims(&r->g, dims);
        ddims[0] = r->g.nx;
        ddims[1] = r->g.nz;
        PASS(mv_cuda_vol_wrap(&w, r->a, MV_DT_F32, 4, dims));
        PASS(mv_vol_wrap(&h, fluence, MV_DT_F32, 4, dims));
        PASS(mv_cuda_download_into(&w, &h, NULL));
        PASS(mv_vol_wrap(&h, dose, MV_DT_F64, 2, ddims));
        return mv_cuda_download_into(&r->ddose, &h, NULL);
    }
#endif
    memcpy(fluence, r->a, (size_t)r->g.cells * sizeof(float));
    memcpy(dose, r->dose, (size_t)r->g.nz * (size_t)r->g.nx * sizeof(double));
    return MV_OK;
}

/* ---- timing one operator / step against a copy of the fluence, interleaved ----
   CPU: memcpy; device: cudaMemcpy device to device, each timed by events. */
typedef struct op_ctx {
    pdd_run *r;
    int op; /* 0..2 an operator, 3 a whole step */
} op_ctx;

static void op_once(void *c)
{
    op_ctx *o = (op_ctx *)c;
    mv_status st = o->op < 3 ? run_apply(o->r, (mv_transport_op)o->op) : run_step(o->r, NULL);
    if (st != MV_OK) die("timed step", st);
}

#ifdef PDD_CUDA
#define CU_TRY(expr)                                                                                       \
    do {                                                                                                   \
        cudaError_t e_ = (expr);                                                                           \
        if (e_ != cudaSuccess) {                                                                           \
            fprintf(stderr, "proton_pdd: %s: %s\n", #expr, cudaGetErrorString(e_));                        \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

/* as prof_run_paired, on the device: per iteration an event before the
   copy, between copy and operation and after, on the default stream */
static void gpu_run_paired(op_ctx *c, int iters, prof_result *op, prof_result *base)
{
    double a[PROF_MAX_ITERS], b[PROF_MAX_ITERS];
    size_t bytes = (size_t)c->r->g.cells * sizeof(float);
    cudaEvent_t e[3];
    int i, k;
    float ms;
    if (iters > PROF_MAX_ITERS) iters = PROF_MAX_ITERS;
    for (k = 0; k < 3; k++) CU_TRY(cudaEventCreate(&e[k]));
    op_once(c); /* warm: kernels loaded, caches filled */
    for (i = 0; i < iters; i++) {
        CU_TRY(cudaEventRecord(e[0], 0));
        CU_TRY(cudaMemcpyAsync(c->r->b, c->r->a, bytes, cudaMemcpyDeviceToDevice, 0));
        CU_TRY(cudaEventRecord(e[1], 0));
        op_once(c);
        CU_TRY(cudaEventRecord(e[2], 0));
        CU_TRY(cudaEventSynchronize(e[2]));
        CU_TRY(cudaEventElapsedTime(&ms, e[0], e[1]));
        b[i] = ms;
        CU_TRY(cudaEventElapsedTime(&ms, e[1], e[2]));
        a[i] = ms;
    }
    for (k = 0; k < 3; k++) cudaEventDestroy(e[k]);
    *op = prof_summarise(a, iters);
    *base = prof_summarise(b, iters);
}
#endif

static void time_row(const char *name, op_ctx *c, int iters)
{
    prof_result op, base;
#ifdef PDD_CUDA
    if (c->r->gpu) gpu_run_paired(c, iters, &op, &base);
    else
#endif
        prof_run_paired(op_once, c, iters, (size_t)c->r->g.cells * sizeof(float), &op, &base);
    printf("%-28s %8.3f %8.3f %8.3f   %s %7.3f  x%.2f\n", name, op.min, op.median, op.mean,
           c->r->gpu ? "D2D copy" : "memcpy  ", base.median, op.median / base.median);
}

/* one row: a plan of split / fused, timed on op (3: a step) from fluence */
static void table_row(const mv_transport_opts *o, mv_split split, int fused, int op, const char *name,
                      const float *fluence, int iters, int gpu)
{
    mv_transport_opts p = *o;
    mv_transport *t;
    pdd_run r;
    op_ctx c;
    p.split = split;
    p.fused = fused;
    TRY("plan", mv_transport_create(&p, &t));
    TRY("run", run_begin(&r, t, fluence, gpu));
    c.r = &r;
    c.op = op;
#ifdef PDD_CUDA
    if (gpu && split == MV_SPLIT_LIE && fused && op == 3) {
        int tx = 0, tz = 0;
        TRY("tile", mv_cuda_transport_get_tile(r.dt, &tx, &tz));
        printf("# the next row's one-kernel step: tiles of %dx%d cells (x, z)%s\n", tx, tz,
               gpu_tile[0] || gpu_tile[1] ? ", --gpu-tile" : ", the planner's");
    }
#endif
    time_row(name, &c, iters);
    run_end(&r);
    mv_transport_free(t);
}

/* per-operator table on plan o's grid from fluence (host memory) */
static void operator_table(const mv_transport_opts *o, const float *fluence, int iters, int gpu)
{
    static const char *names[3] = {"energy loss", "angular scattering", "spatial streaming"};
    mv_transport *t;
    mv_transport_grid g;
    int k;
    TRY("plan", mv_transport_create(o, &t));
    TRY("grid", mv_transport_get_grid(t, &g));
    mv_transport_free(t);
    if (gpu)
        printf("# per step on %dx%dx%dx%d (x, z, theta, E) = %.1f MB of float32 fluence, on the CUDA device\n",
               g.nx, g.nz, g.ntheta, g.ne, (double)g.cells * 4 / 1e6);
    else
        printf("# per step on %dx%dx%dx%d (x, z, theta, E) = %.1f MB of float32 fluence, %d threads, ISA %s\n",
               g.nx, g.nz, g.ntheta, g.ne, (double)g.cells * 4 / 1e6, mv_threads(), mv_isa_name(mv_isa_active()));
    printf("%-28s %8s %8s %8s   %8s %7s  %s\n", "operation", "min ms", "median", "mean", "baseline", "median",
           "ratio");
    for (k = 0; k < 3; k++) table_row(o, MV_SPLIT_LIE, 0, k, names[k], fluence, iters, gpu);
    table_row(o, MV_SPLIT_LIE, 0, 3, "step, Lie, unfused", fluence, iters, gpu);
    table_row(o, MV_SPLIT_LIE, 1, 3, "step, Lie, fused", fluence, iters, gpu);
    table_row(o, MV_SPLIT_STRANG, 0, 3, "step, Strang, unfused", fluence, iters, gpu);
    table_row(o, MV_SPLIT_STRANG, 1, 3, "step, Strang, fused", fluence, iters, gpu);
}

/* ---- a whole run: nsteps from the source, the books summed over steps ---- */
typedef struct pdd_result {
    float *fluence; /* the plan's grid, host */
    double *dose;   /* [z][x], MeV, host */
    double escaped_n, escaped_e, absorbed_n, deposited, ms;
} pdd_result;

static void transport_run(mv_transport *t, const float *source, int nsteps, int gpu, pdd_result *res)
{
    pdd_run r;
    double t0;
    int s;
    TRY("run", run_begin(&r, t, source, gpu));
    res->escaped_n = res->escaped_e = res->absorbed_n = res->deposited = 0;
    res->fluence = (float *)malloc((size_t)r.g.cells * sizeof(float));
    res->dose = (double *)malloc((size_t)r.g.nz * (size_t)r.g.nx * sizeof(double));
    if (!res->fluence || !res->dose) die("result", MV_ERR_OUT_OF_MEMORY);
    t0 = prof_now_ms();
    for (s = 0; s < nsteps; s++) {
        mv_transport_balance bal;
        TRY("step", run_step(&r, &bal));
        res->escaped_n += bal.particles_escaped;
        res->escaped_e += bal.energy_escaped;
        res->absorbed_n += bal.particles_absorbed;
        res->deposited += bal.energy_deposited;
    }
    TRY("fetch", run_fetch(&r, res->fluence, res->dose));
    res->ms = prof_now_ms() - t0;
    run_end(&r);
}

static void result_free(pdd_result *res)
{
    free(res->fluence);
    free(res->dose);
}

/* --compare: the device run against the CPU's, byte for byte (the device
   path promises the CPU's bits); returns 1 when they agree */
static int compare_runs(const pdd_result *gpu, const pdd_result *cpu, int64_t cells, int64_t dose_cells)
{
    double dmax = 0, fmax = 0;
    int64_t i, fdiff = 0, ddiff = 0;
    int books;
    for (i = 0; i < cells; i++)
        if (memcmp(&gpu->fluence[i], &cpu->fluence[i], sizeof(float))) {
            double d = fabs((double)gpu->fluence[i] - cpu->fluence[i]);
            fdiff++;
            if (d > fmax) fmax = d;
        }
    for (i = 0; i < dose_cells; i++)
        if (memcmp(&gpu->dose[i], &cpu->dose[i], sizeof(double))) {
            double d = fabs(gpu->dose[i] - cpu->dose[i]);
            ddiff++;
            if (d > dmax) dmax = d;
        }
    books = gpu->escaped_n == cpu->escaped_n && gpu->escaped_e == cpu->escaped_e &&
            gpu->absorbed_n == cpu->absorbed_n && gpu->deposited == cpu->deposited;
    printf("gpu vs cpu: fluence %s (%lld of %lld cells differ, max %.3g); dose %s (%lld of %lld differ, max %.3g); "
           "balance %s; cpu %.1f ms, gpu %.1f ms\n",
           fdiff ? "DIFFERS" : "identical", (long long)fdiff, (long long)cells, fmax, ddiff ? "DIFFERS" : "identical",
           (long long)ddiff, (long long)dose_cells, dmax, books ? "identical" : "DIFFERS", cpu->ms, gpu->ms);
    return !fdiff && !ddiff && books;
}

/* --gpu: a device is needed, and this build must have CUDA */
static void gpu_require(void)
{
#ifdef PDD_CUDA
    int n = 0;
    char desc[256];
    if (mv_cuda_device_count(&n) != MV_OK || n == 0) {
        const char *why = mv_last_error(); /* "no CUDA device: <the driver's reason>" */
        fprintf(stderr, "proton_pdd: --gpu: %s%s\n", strncmp(why, "no CUDA device", 14) ? "no CUDA device: " : "", why);
        exit(1);
    }
    if (mv_cuda_device_describe(0, desc, sizeof(desc)) == MV_OK) printf("# device: %s\n", desc);
#else
    fprintf(stderr, "proton_pdd: --gpu: this build has no CUDA; build/proton_pdd_gpu has it (make cuda)\n");
    exit(2);
#endif
}

static double distal(const double *y, int n, int i0, double level, double dz)
{
    int k;
    for (k = i0; k < n - 1; k++)
        if (y[k] >= level && y[k + 1] < level) return (k + (y[k] - level) / (y[k] - y[k + 1])) * dz;
    return -1;
}

/* The lateral profiles of --lateral: the dose row nearest each depth, per
   mm^2 (MeV per cell / cell area), its centre and RMS width. */
static void print_lateral(const char *list, const double *dose, int nx, int nz, double step)
{
    const char *p = list;
    while (*p) {
        char *e;
        double d = strtod(p, &e), sum = 0, m1 = 0, m2 = 0, mean;
        int k, x;
        if (e == p || !(d >= 0)) {
            fprintf(stderr, "proton_pdd: --lateral: '%s' is not a list of depths in mm\n", list);
            exit(2);
        }
        k = (int)floor(d / step + 0.5);
        if (k >= nz) {
            fprintf(stderr, "proton_pdd: --lateral: depth %g mm is beyond the grid (%g mm)\n", d, (nz - 1) * step);
            exit(2);
        }
        for (x = 0; x < nx; x++) {
            double xm = (x - 0.5 * (nx - 1)) * step, v = dose[(size_t)k * nx + x] / (step * step);
            printf("lateral %.2f %8.3f %.6g\n", k * step, xm, v);
            sum += v;
            m1 += v * xm;
        }
        mean = sum > 0 ? m1 / sum : 0;
        for (x = 0; x < nx; x++) {
            double xm = (x - 0.5 * (nx - 1)) * step - mean;
            m2 += dose[(size_t)k * nx + x] / (step * step) * xm * xm;
        }
        printf("lateral %.2f mm: centre %.4f mm, sigma %.4f mm (RMS width of the dose)\n", k * step, mean,
               sum > 0 ? sqrt(m2 / sum) : 0.0);
        p = *e == ',' ? e + 1 : e;
        if (*e && *e != ',') {
            fprintf(stderr, "proton_pdd: --lateral: '%s' is not a list of depths in mm\n", list);
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    double energy = 100, step = 1, sigma = 0, range, r80, r50;
    int nx = 41, nz = 0, nth = 72, ne = 200, profile = 0, lie = 0, unfused = 0, gpu = 0, compare = 0, i, k, pk = 0;
    int nsteps, same = 1;
    const char *out = NULL, *lateral = NULL;
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t;
    mv_transport_grid g;
    mv_transport_beam b = MV_ZERO_INIT;
    pdd_result res;
    float *src;
    double *dose, *depth;
    argc = prof_options(argc, argv); /* --isa NAME, --threads N */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--energy") && i + 1 < argc) energy = atof(argv[++i]);
        else if (!strcmp(a, "--step") && i + 1 < argc) step = atof(argv[++i]);
        else if (!strcmp(a, "--spot-sigma") && i + 1 < argc) sigma = atof(argv[++i]);
        else if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--lateral") && i + 1 < argc) {
            char *e;
            lateral = argv[++i];
            for (e = (char *)lateral; *e; e += *e == ',') /* depths >= 0, comma-separated */
                if (!(strtod(e, &e) >= 0) || (*e && *e != ',')) usage();
        } else if (!strcmp(a, "--grid") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%d,%d", &nx, &nz, &nth, &ne) != 4) usage();
        } else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--lie")) lie = 1;
        else if (!strcmp(a, "--unfused")) unfused = 1;
        else if (!strcmp(a, "--gpu")) gpu = 1;
        else if (!strcmp(a, "--compare")) compare = 1;
        else if (!strcmp(a, "--gpu-tile") && i + 1 < argc) {
            char tail;
            if (sscanf(argv[++i], "%dx%d%c", &gpu_tile[0], &gpu_tile[1], &tail) != 2 || gpu_tile[0] < 1 ||
                gpu_tile[1] < 1)
                usage();
        } else usage();
    }
    if ((compare || gpu_tile[0]) && !gpu) usage();
    printf("%s\n", mv_build_info());
    if (gpu) gpu_require();
    if (profile) { /* the baseline grid of the issue: 40x40 x 72 x 200 */
        o.nx = 40;
        o.nz = 40;
        o.ntheta = 72;
        o.ne = 200;
        o.e_min = 1;
        o.e_max = 250;
        TRY("plan", mv_transport_create(&o, &t));
        TRY("grid", mv_transport_get_grid(t, &g));
        src = (float *)malloc((size_t)g.cells * 4);
        if (!src) die("fluence", MV_ERR_OUT_OF_MEMORY);
        b.energy = 230;
        b.sigma = 5;
        TRY("source", mv_transport_source(t, src, &b));
        transport_run(t, src, 20, 0, &res); /* a spread-out fluence, on the CPU */
        mv_transport_free(t);
        operator_table(&o, res.fluence, 10, gpu);
        result_free(&res);
        free(src);
        return 0;
    }
    TRY("--energy", mv_csda_range(NULL, energy, &range));
    range *= 10; /* mm of water */
    if (!nz) nz = (int)ceil(range * 1.1 / step) + 4;
    o.nx = nx;
    o.nz = nz;
    o.ntheta = nth;
    o.ne = ne;
    o.dx = step;
    o.dz = step;
    o.step = step;
    o.e_min = 0.5;
    o.e_max = energy + 5;
    o.split = lie ? MV_SPLIT_LIE : MV_SPLIT_STRANG;
    o.fused = !unfused;
    TRY("plan", mv_transport_create(&o, &t));
    TRY("grid", mv_transport_get_grid(t, &g));
    src = (float *)malloc((size_t)g.cells * 4);
    depth = (double *)calloc((size_t)nz, sizeof(double));
    if (!src || !depth) die("fluence", MV_ERR_OUT_OF_MEMORY);
    b.energy = energy;
    b.sigma = sigma;
    TRY("source", mv_transport_source(t, src, &b));
    nsteps = (int)ceil(range / step * 1.05) + 5;
    transport_run(t, src, nsteps, gpu, &res);
    dose = res.dose;
    printf("# %.1f MeV protons into water, %dx%dx%dx%d (x, z, theta, E), step %.3g mm, spot sigma %.3g mm, %s %s%s\n",
           energy, nx, nz, nth, ne, step, sigma, lie ? "Lie" : "Strang", unfused ? "unfused" : "fused",
           gpu ? ", on the CUDA device" : "");
    printf("# PSTAR CSDA range %.2f mm; %d steps in %.1f ms (%.2f ms per step)\n", range, nsteps, res.ms,
           res.ms / nsteps);
    printf("# depth_mm dose_MeV_per_mm_per_proton\n");
    for (k = 0; k < nz; k++) {
        int x;
        for (x = 0; x < nx; x++) depth[k] += dose[(size_t)k * nx + x];
        depth[k] /= step;
        if (depth[k] > depth[pk]) pk = k;
    }
    for (k = 0; k < nz; k++) printf("%8.2f %.6g\n", k * step, depth[k]);
    r80 = distal(depth, nz, pk, 0.8 * depth[pk], step);
    r50 = distal(depth, nz, pk, 0.5 * depth[pk], step);
    printf("Bragg peak %.2f mm (%.4g MeV/mm); R80 %.2f mm; R50 %.2f mm (CSDA range %.2f mm: R80 %+.2f)\n", pk * step,
           depth[pk], r80, r50, range, r80 - range);
    {
        double left_n = 0, left_e = 0;
        int64_t per = g.cells / g.ne, c;
        for (i = 0; i < g.ne; i++) {
            double n = 0;
            for (c = 0; c < per; c++) n += res.fluence[(size_t)i * (size_t)per + (size_t)c];
            left_n += n;
            left_e += n * g.energy[i];
        }
        printf("balance: particles 1 = absorbed %.6f + escaped %.6f + in flight %.6f (residual %.2e)\n",
               res.absorbed_n, res.escaped_n, left_n, 1 - res.absorbed_n - res.escaped_n - left_n);
        printf("balance: energy %.4f MeV = deposited %.4f + escaped %.4f + in flight %.4f (residual %.2e)\n", energy,
               res.deposited, res.escaped_e, left_e, (energy - res.deposited - res.escaped_e - left_e) / energy);
    }
    if (lateral) print_lateral(lateral, dose, nx, nz, step);
    if (out) {
        mv_vol v = MV_ZERO_INIT;
        int64_t dims[2];
        char path[1024];
        double *gy = (double *)malloc((size_t)nz * (size_t)nx * sizeof(double));
        float *f;
        dims[0] = nx;
        dims[1] = nz;
        if (!gy) die("dose", MV_ERR_OUT_OF_MEMORY);
        TRY("gy", mv_transport_dose_gy(t, dose, 1.0, gy));
        TRY("dose volume", mv_vol_alloc(&v, MV_DT_F32, 2, dims, NULL));
        f = (float *)v.data;
        for (k = 0; k < nz * nx; k++) f[k] = (float)gy[k];
        v.spacing[0] = step;
        v.spacing[1] = step;
        v.affine[0][0] = step;
        v.affine[1][1] = step;
        v.affine[2][2] = 1;
        v.affine[0][3] = -0.5 * (nx - 1) * step;
        mkdir(out, 0755);
        snprintf(path, sizeof(path), "%s/dose.nii.gz", out);
        TRY(path, mv_save(path, &v, NULL));
        printf("wrote %s (Gy per proton, 1 mm slab)\n", path);
        mv_free(&v);
        free(gy);
    }
    if (compare) {
        pdd_result cpu;
        transport_run(t, src, nsteps, 0, &cpu);
        same = compare_runs(&res, &cpu, g.cells, (int64_t)nz * nx);
        result_free(&cpu);
    }
    operator_table(&o, res.fluence, 5, gpu);
    mv_transport_free(t);
    result_free(&res);
    free(src);
    free(depth);
    return same ? 0 : 3;
}
