/* proton_pdd [--energy MeV] [--grid Nx,Nz,Ntheta,NE] [--step mm] [--spot-sigma mm]
              [--lateral D1,D2,...] [--out DIR] [--profile] [--lie] [--unfused] [--threads N] [--isa NAME]

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

   Defaults: 100 MeV, Strang splitting, fused step, 1 mm cells and step,
   Nx 41, Nz from the range, 72 angles, 200 energy bins (range-based, up to
   the beam energy + 5 MeV), a pencil beam (spot sigma 0). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, mkdir; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"

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

static void usage(void)
{
    fprintf(stderr, "usage: proton_pdd [--energy MeV] [--grid Nx,Nz,Ntheta,NE] [--step mm] [--spot-sigma mm]\n"
                    "                  [--lateral D1,D2,...] [--out DIR] [--profile] [--lie] [--unfused] [--threads N]\n"
                    "                  [--isa NAME]\n");
    exit(2);
}

/* ---- timing one operator / step against memcpy, interleaved ---- */
typedef struct op_ctx {
    mv_transport *t;
    int op; /* 0..2 an operator, 3 a whole step */
    float *a, *b;
    double *dose;
} op_ctx;

static void op_once(void *c)
{
    op_ctx *o = (op_ctx *)c;
    if (o->op < 3) {
        mv_transport_apply(o->t, (mv_transport_op)o->op, o->a, o->b, NULL, NULL);
    } else {
        mv_transport_step(o->t, &o->a, &o->b, o->dose, NULL);
    }
}

static void time_row(const char *name, op_ctx *c, int iters, size_t bytes)
{
    prof_result op, base;
    prof_run_paired(op_once, c, iters, bytes, &op, &base);
    printf("%-28s %8.2f %8.2f %8.2f   memcpy %7.2f  x%.2f\n", name, op.min, op.median, op.mean, base.median,
           op.median / base.median);
}

/* per-operator table on plan t's grid; fluence a (filled), b scratch */
static void operator_table(const mv_transport_opts *o, float *a, float *b, int iters)
{
    mv_transport_opts p = *o;
    mv_transport *t;
    mv_transport_grid g;
    op_ctx c;
    size_t bytes;
    double *dose;
    static const char *names[3] = {"energy loss", "angular scattering", "spatial streaming"};
    int k;
    p.split = MV_SPLIT_LIE;
    p.fused = 0;
    TRY("plan", mv_transport_create(&p, &t));
    TRY("grid", mv_transport_get_grid(t, &g));
    bytes = (size_t)g.cells * sizeof(float);
    dose = (double *)calloc((size_t)g.nz * (size_t)g.nx, sizeof(double));
    if (!dose) die("dose", MV_ERR_OUT_OF_MEMORY);
    printf("# per step on %dx%dx%dx%d (x, z, theta, E) = %.1f MB of float32 fluence, %d threads, ISA %s\n", g.nx,
           g.nz, g.ntheta, g.ne, bytes / 1e6, mv_threads(), mv_isa_name(mv_isa_active()));
    printf("%-28s %8s %8s %8s   %13s  %s\n", "operation", "min ms", "median", "mean", "memcpy median", "ratio");
    c.t = t;
    c.a = a;
    c.b = b;
    c.dose = dose;
    for (k = 0; k < 3; k++) {
        c.op = k;
        time_row(names[k], &c, iters, bytes);
    }
    c.op = 3;
    time_row("step, Lie, unfused", &c, iters, bytes);
    mv_transport_free(t);
    p.fused = 1;
    TRY("plan", mv_transport_create(&p, &t));
    c.t = t;
    time_row("step, Lie, fused", &c, iters, bytes);
    mv_transport_free(t);
    p.split = MV_SPLIT_STRANG;
    p.fused = 0;
    TRY("plan", mv_transport_create(&p, &t));
    c.t = t;
    time_row("step, Strang, unfused", &c, iters, bytes);
    mv_transport_free(t);
    p.fused = 1;
    TRY("plan", mv_transport_create(&p, &t));
    c.t = t;
    time_row("step, Strang, fused", &c, iters, bytes);
    mv_transport_free(t);
    free(dose);
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
    double energy = 100, step = 1, sigma = 0, range, r80, r50, t0, ms, esc_n = 0, esc_e = 0, abs_n = 0, dep = 0;
    int nx = 41, nz = 0, nth = 72, ne = 200, profile = 0, lie = 0, unfused = 0, i, k, s, pk = 0, nsteps;
    const char *out = NULL, *lateral = NULL;
    mv_transport_opts o = MV_ZERO_INIT;
    mv_transport *t;
    mv_transport_grid g;
    mv_transport_beam b = MV_ZERO_INIT;
    float *pa, *pb;
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
        }        else if (!strcmp(a, "--grid") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%d,%d", &nx, &nz, &nth, &ne) != 4) usage();
        } else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--lie")) lie = 1;
        else if (!strcmp(a, "--unfused")) unfused = 1;
        else usage();
    }
    printf("%s\n", mv_build_info());
    if (profile) { /* the baseline grid of the issue: 40x40 x 72 x 200 */
        mv_transport *tp;
        o.nx = 40;
        o.nz = 40;
        o.ntheta = 72;
        o.ne = 200;
        o.e_min = 1;
        o.e_max = 250;
        TRY("plan", mv_transport_create(&o, &tp));
        TRY("grid", mv_transport_get_grid(tp, &g));
        pa = (float *)malloc((size_t)g.cells * 4);
        pb = (float *)malloc((size_t)g.cells * 4);
        if (!pa || !pb) die("fluence", MV_ERR_OUT_OF_MEMORY);
        b.energy = 230;
        b.sigma = 5;
        TRY("source", mv_transport_source(tp, pa, &b));
        memset(pb, 0, (size_t)g.cells * 4);
        for (s = 0; s < 20; s++) TRY("step", mv_transport_step(tp, &pa, &pb, NULL, NULL)); /* a spread-out fluence */
        mv_transport_free(tp);
        operator_table(&o, pa, pb, 10);
        free(pa);
        free(pb);
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
    pa = (float *)malloc((size_t)g.cells * 4);
    pb = (float *)malloc((size_t)g.cells * 4);
    dose = (double *)calloc((size_t)nz * (size_t)nx, sizeof(double));
    depth = (double *)calloc((size_t)nz, sizeof(double));
    if (!pa || !pb || !dose || !depth) die("fluence", MV_ERR_OUT_OF_MEMORY);
    b.energy = energy;
    b.sigma = sigma;
    TRY("source", mv_transport_source(t, pa, &b));
    memset(pb, 0, (size_t)g.cells * 4);
    nsteps = (int)ceil(range / step * 1.05) + 5;
    t0 = prof_now_ms();
    for (s = 0; s < nsteps; s++) {
        mv_transport_balance bal;
        TRY("step", mv_transport_step(t, &pa, &pb, dose, &bal));
        esc_n += bal.particles_escaped;
        esc_e += bal.energy_escaped;
        abs_n += bal.particles_absorbed;
        dep += bal.energy_deposited;
    }
    ms = prof_now_ms() - t0;
    printf("# %.1f MeV protons into water, %dx%dx%dx%d (x, z, theta, E), step %.3g mm, spot sigma %.3g mm, %s %s\n",
           energy, nx, nz, nth, ne, step, sigma, lie ? "Lie" : "Strang", unfused ? "unfused" : "fused");
    printf("# PSTAR CSDA range %.2f mm; %d steps in %.1f ms (%.2f ms per step)\n", range, nsteps, ms, ms / nsteps);
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
        mv_transport_grid gg;
        double left_n = 0, left_e = 0;
        int64_t per, c;
        TRY("grid", mv_transport_get_grid(t, &gg));
        per = gg.cells / gg.ne;
        for (i = 0; i < gg.ne; i++) {
            double n = 0;
            for (c = 0; c < per; c++) n += pa[(size_t)i * (size_t)per + (size_t)c];
            left_n += n;
            left_e += n * gg.energy[i];
        }
        printf("balance: particles 1 = absorbed %.6f + escaped %.6f + in flight %.6f (residual %.2e)\n", abs_n, esc_n,
               left_n, 1 - abs_n - esc_n - left_n);
        printf("balance: energy %.4f MeV = deposited %.4f + escaped %.4f + in flight %.4f (residual %.2e)\n",
               energy, dep, esc_e, left_e, (energy - dep - esc_e - left_e) / energy);
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
    operator_table(&o, pa, pb, 5);
    mv_transport_free(t);
    free(pa);
    free(pb);
    free(dose);
    free(depth);
    return 0;
}
