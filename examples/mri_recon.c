/* mri_recon [size] [coils] [iterations] [--out DIR] [--isa NAME] [--threads N]

   An MRI reconstruction demo that doubles as a profiler. From the embedded
   3D Shepp-Logan phantom (size^3) and `coils` synthetic coil sensitivities
   it makes fully sampled multi-coil k-space, undersamples it by R = 2 (y)
   and R = 4 (2 x 2 along y and z), and reconstructs: root-sum-of-squares
   (fully sampled and zero-filled) and SENSE (sensitivities estimated from
   the centre of the fully sampled scan, Tikhonov-regularised unfolding).
   Writes NIfTI magnitude images to DIR (default mri-out) and prints the
   error of each against the phantom, then per-stage times (min / median /
   mean ms over the iterations) and, for the memory-bound coil kernels, the
   ratio to a memcpy of the coil data measured in the same run.
   Then parallel imaging on the central 2D slice (size^2, the same coils):
   GRAPPA at R = 3 with 24 ACS lines (calibration, application, g-factor),
   ESPIRiT maps of the fully sampled slice and CG-SENSE (30 iterations,
   lambda 0.01) at R = 4 with 24 ACS lines, then the same with ESPIRiT's
   two maps (BART ecalib's default; the root sum of squares of the two
   images), and NLINV on the same R = 4 data (BART nlinv: image and coils
   together, no calibration), each with its time and its error against the
   phantom; coil compression of the R = 4 data to half the coils (BART cc
   -S and -G) and ESPIRiT + CG-SENSE on the virtual coils, beside the same
   on all coils; partial Fourier (5/8 of the lines) by homodyne (BART
   homodyne) beside zero filling;
   compressed sensing on random variable-density lines (about R = 4, 16
   centre lines): CG-SENSE beside l1-wavelet (BART pics -l1 -r 0.005 on
   BART's data scale: FISTA, 30 iterations), TV (BART pics -R
   T:7:0:0.005 -i 150: ADMM, 150 CG steps in all) and both (-R W:7:0:0.003
   -R T:7:0:0.003: ADMM over two terms). Last, radial: the
   slice's coil images sampled on golden-angle spokes by the forward NUFFT (BART's trajectory and
   scaling; pi/2 * size spokes of 2 * size samples scaled by 1/2, i.e. two-
   fold readout oversampling as `bart traj -x 2N` + `bart scale 0.5`; without
   it the object's corners alias along the spokes), density compensation
   (analytic ramp and 10 Pipe-Menon iterations) and the adjoint NUFFT back
   to an RSS image (gridding: not an inverse, so its error stays ~0.2), then
   non-Cartesian CG-SENSE on the Toeplitz normal operator (30 iterations,
   the coil sensitivities) from all spokes and from every 4th, with times
   and errors (at 64^2 the iterative error, 0.18, is near what 300
   iterations reach, 0.173: the rest is what the spokes do not sample),
   and 5 iterations without and with the Pipe-Menon DCF as sample weights
   (BART pics -p: at 64^2 0.34 and 0.18, the weighted 5 as good as the
   unweighted 30), then NLINV on all spokes (BART nlinv -t: the image and
   the coils together, no maps). Defaults: size 128, 8 coils, 5
   iterations. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"

#include <math.h>
#include <sys/stat.h>

static void die(const char *what, mv_status st)
{
    fprintf(stderr, "%s: %s (%s)\n", what, mv_status_str(st), mv_last_error());
    exit(1);
}
#define TRY(what, expr)                    \
    do {                                   \
        mv_status st_ = (expr);            \
        if (st_ != MV_OK) die(what, st_);  \
    } while (0)

/* relative RMS error of |recon| against the phantom, after the
   least-squares global scale */
static double image_error(const mv_vol *recon, const mv_vol *phantom)
{
    int64_t n = mv_vol_count(phantom), i;
    const float *p = (const float *)phantom->data, *x = (const float *)recon->data;
    double xp = 0, xx = 0, pp = 0, e = 0, a;
    int cplx = recon->dtype == MV_DT_C64;
    for (i = 0; i < n; i++) {
        double m = cplx ? sqrt((double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1]) : x[i];
        xp += m * p[i];
        xx += m * m;
        pp += (double)p[i] * p[i];
    }
    a = xx > 0 ? xp / xx : 0;
    for (i = 0; i < n; i++) {
        double m = cplx ? sqrt((double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1]) : x[i];
        e += (a * m - p[i]) * (a * m - p[i]);
    }
    return sqrt(e / pp);
}

/* Random phase-encode lines of 2D k-space k (n x ny, coils, c64): the 16
   centre lines kept, each other line y kept where the next draw of the
   LCG *seed falls below p(y) = floor + (1 - floor) exp(-d^2 / (2 width^2))
   (d = (y - ny/2) / (ny/2); width 0: p = floor), the rest zeroed in every
   coil. Returns the lines kept. */
static int64_t keep_random_lines(float *k, int64_t n, int64_t ny, int coils, double floor_p, double width, unsigned *seed)
{
    int64_t y, kept = 0;
    int c;
    for (y = 0; y < ny; y++) {
        double d = (double)(y - ny / 2) / (ny / 2);
        double p = width > 0 ? floor_p + (1 - floor_p) * exp(-d * d / (2 * width * width)) : floor_p;
        int keep = y >= ny / 2 - 8 && y < ny / 2 + 8;
        *seed = *seed * 1664525u + 1013904223u;
        keep = keep || (*seed >> 8) / 16777216.0 < p;
        kept += keep;
        for (c = 0; c < coils && !keep; c++) memset(k + 2 * (c * ny + y) * n, 0, (size_t)n * 8);
    }
    return kept;
}

/* saves |v| (float32 as is, complex as magnitude) as DIR/name */
static void save_mag(const char *dir, const char *name, const mv_vol *v)
{
    char path[1024];
    mv_vol m;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (v->dtype == MV_DT_C64) {
        TRY("magnitude", mv_complex_part(v, &m, MV_CPART_MAG, NULL));
        TRY(path, mv_save(path, &m, NULL));
        mv_free(&m);
    } else {
        TRY(path, mv_save(path, v, NULL));
    }
}

/* the frames of a subspace solve: frame t = sum_k B[t, k] c_k (bs: c64
   (T, K), c: K coefficient images), into a copy of like (x, y, 1, T) */
static void subspace_frames(const mv_vol *bs, const mv_vol *c, const mv_vol *like, mv_vol *frames)
{
    const int64_t T = bs->dim[0], K = bs->dim[1], nv = mv_vol_count(c) / K;
    const float *b = (const float *)bs->data, *x = (const float *)c->data;
    int64_t t, k, v;
    TRY("subspace frames", mv_vol_copy(like, frames));
    for (t = 0; t < T; t++)
        for (v = 0; v < nv; v++) {
            double re = 0, im = 0;
            for (k = 0; k < K; k++) {
                const double br = b[2 * (k * T + t)], bi = b[2 * (k * T + t) + 1];
                re += br * x[2 * (k * nv + v)] - bi * x[2 * (k * nv + v) + 1];
                im += br * x[2 * (k * nv + v) + 1] + bi * x[2 * (k * nv + v)];
            }
            ((float *)frames->data)[2 * (t * nv + v)] = (float)re;
            ((float *)frames->data)[2 * (t * nv + v) + 1] = (float)im;
        }
}

/* a row without a memcpy pair (compute-bound stages): no ratio */
static void row_unpaired(const char *name, prof_result r, size_t bytes)
{
    double mbs = r.median > 0 ? (double)bytes / 1e6 / (r.median / 1e3) : 0;
    printf("%-40s %9.3f %9.3f %9.3f %10.0f %8s\n", name, r.min, r.median, r.mean, mbs, "-");
}

/* ---- timed stages: each a closure over the volumes it needs ---- */
typedef struct stage_ctx {
    const mv_vol *k, *ku, *img, *sens, *est, *aliased;
    mv_vol *out, *out2, *scratch_k;
    const int *accel;
    const mv_mri_opts *mo;
} stage_ctx;

static void st_kspace(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    mv_vol t;
    TRY("kspace", mv_phantom_kspace(s->img, s->sens, &t, NULL));
    mv_free(&t);
}
static void st_ifftc(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    TRY("ifftc", mv_fftc_into(s->k, s->out, 7, 1, NULL));
}
/* the same transform without the shifts: what the centring costs */
static void st_ifft_plain(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    mv_fft_opts fo;
    memset(&fo, 0, sizeof(fo));
    fo.norm = MV_FFT_ORTHO;
    TRY("ifft", mv_fft_c2c(s->k->data, s->out->data, s->k->ndim, s->k->dim, 7, 1, &fo));
}
static void st_rss(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    TRY("rss", mv_rss_into(s->out, s->out2, NULL));
}
static void st_combine(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    TRY("combine", mv_coil_combine_into(s->out, s->sens, s->out2, NULL));
}
static void st_mag(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    TRY("magnitude", mv_complex_part_into(s->img, s->out2, MV_CPART_MAG, NULL));
}
static void st_undersample(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    memcpy(s->scratch_k->data, s->k->data, mv_vol_bytes(s->k));
    TRY("undersample", mv_kspace_undersample(s->scratch_k, s->accel, NULL));
}
static void st_recon_rss(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    mv_vol t;
    TRY("recon_rss", mv_recon_rss(s->ku, &t, NULL));
    mv_free(&t);
}
static void st_sens(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    TRY("sens", mv_coil_sens_estimate_into(s->k, s->out, NULL));
}
static void st_unfold(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    TRY("unfold", mv_sense_unfold_into(s->aliased, s->est, s->out2, s->accel, s->mo));
}
static void st_recon_sense(void *c)
{
    stage_ctx *s = (stage_ctx *)c;
    mv_vol t;
    TRY("recon_sense", mv_recon_sense(s->ku, s->est, &t, s->accel, s->mo));
    mv_free(&t);
}

int main(int argc, char **argv)
{
    int64_t n = 128, nvox, d4[4], d3[3];
    int coils = 8, iters = 5, i, r2[3] = {1, 2, 1}, r4[3] = {1, 2, 2};
    const char *dir = "mri-out";
    mv_vol img, sens, k, k2, k4, est, coil_img, rss_full, rss_r2, rss_r4, sense_r2, sense_r4, al2, al4;
    mv_vol buf_c, buf_f, buf_1c, buf_k;
    mv_mri_opts mo;
    stage_ctx sc;
    prof_result a, b;
    size_t coil_bytes;
    double load[3] = {0, 0, 0};
    (void)prof_memcpy; /* profile.h's unpaired baseline: the pairs below are used instead */
    argc = prof_options(argc, argv);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) dir = argv[++i];
        else if (i == 1) n = atoi(argv[i]);
        else if (i == 2) coils = atoi(argv[i]);
        else if (i == 3) iters = atoi(argv[i]);
    }
    if (n < 4 || n % 4 || coils < 1 || iters < 1) {
        fprintf(stderr, "usage: mri_recon [size (multiple of 4)] [coils] [iterations] [--out DIR]\n");
        return 2;
    }
    prof_header("mri_recon");
#if defined(__linux__)
    {
        FILE *f = fopen("/proc/loadavg", "r");
        if (f) {
            if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = 0;
            fclose(f);
        }
    }
#endif
    printf("# %lld^3 voxels, %d coils, %d iterations; load average %.2f %.2f %.2f\n", (long long)n, coils, iters,
           load[0], load[1], load[2]);
    mkdir(dir, 0755);
    nvox = n * n * n;
    coil_bytes = (size_t)nvox * (size_t)coils * 8;

    /* the data: phantom, sensitivities, k-space, undersampled k-space */
    TRY("phantom", mv_phantom_shepp_logan(&img, n, n, n));
    TRY("coil sensitivities", mv_phantom_coil_sens(&sens, n, n, n, coils));
    TRY("k-space", mv_phantom_kspace(&img, &sens, &k, NULL));
    TRY("copy", mv_vol_copy(&k, &k2));
    TRY("R=2", mv_kspace_undersample(&k2, r2, NULL));
    TRY("copy", mv_vol_copy(&k, &k4));
    TRY("R=4", mv_kspace_undersample(&k4, r4, NULL));

    /* reconstructions */
    memset(&mo, 0, sizeof(mo));
    mo.lambda = 1e-3;
    TRY("rss full", mv_recon_rss(&k, &rss_full, NULL));
    TRY("rss R=2", mv_recon_rss(&k2, &rss_r2, NULL));
    TRY("rss R=4", mv_recon_rss(&k4, &rss_r4, NULL));
    TRY("sensitivities", mv_coil_sens_estimate(&k, &est, NULL));
    TRY("SENSE R=2", mv_recon_sense(&k2, &est, &sense_r2, r2, &mo));
    TRY("SENSE R=4", mv_recon_sense(&k4, &est, &sense_r4, r4, &mo));
    printf("# error vs phantom (relative RMS of the magnitude, best global scale):\n");
    printf("#   RSS fully sampled %.2e | R=2: zero-filled RSS %.4f, SENSE %.4f | R=4 (2x2): zero-filled RSS %.4f, "
           "SENSE %.4f\n",
           image_error(&rss_full, &img), image_error(&rss_r2, &img), image_error(&sense_r2, &img),
           image_error(&rss_r4, &img), image_error(&sense_r4, &img));
    save_mag(dir, "phantom.nii", &img);
    save_mag(dir, "rss_full.nii", &rss_full);
    save_mag(dir, "rss_zerofilled_r2.nii", &rss_r2);
    save_mag(dir, "rss_zerofilled_r4.nii", &rss_r4);
    save_mag(dir, "sense_r2.nii", &sense_r2);
    save_mag(dir, "sense_r4.nii", &sense_r4);
    printf("# wrote %s/{phantom,rss_full,rss_zerofilled_r2,rss_zerofilled_r4,sense_r2,sense_r4}.nii\n", dir);

    /* per-stage profile on warm buffers */
    d4[0] = d4[1] = d4[2] = n;
    d4[3] = coils;
    d3[0] = d3[1] = d3[2] = n;
    TRY("buffer", mv_vol_alloc(&buf_c, MV_DT_C64, 4, d4, NULL));
    TRY("buffer", mv_vol_alloc(&buf_k, MV_DT_C64, 4, d4, NULL));
    TRY("buffer", mv_vol_alloc(&buf_f, MV_DT_F32, 3, d3, NULL));
    TRY("buffer", mv_vol_alloc(&buf_1c, MV_DT_C64, 3, d3, NULL));
    TRY("coil images", mv_fftc(&k, &coil_img, 7, 1, NULL));
    TRY("aliased R=2", mv_fftc(&k2, &al2, 7, 1, NULL));
    TRY("aliased R=4", mv_fftc(&k4, &al4, 7, 1, NULL));
    memset(&sc, 0, sizeof(sc));
    sc.k = &k;
    sc.img = &img;
    sc.sens = &sens;
    sc.est = &est;
    sc.mo = &mo;
    printf("%-40s %9s %9s %9s %10s %8s\n", "stage", "min ms", "median", "mean", "MB/s", "xmemcpy");

    sc.out = &buf_c;
    a = prof_run(st_kspace, &sc, iters);
    row_unpaired("k-space of the phantom (alloc + fftc)", a, coil_bytes);
    sc.out = &buf_c;
    prof_run_paired(st_ifftc, &sc, iters, coil_bytes, &a, &b);
    prof_row("centred inverse FFT, all coils", a, coil_bytes, b);
    a = prof_run(st_ifft_plain, &sc, iters);
    row_unpaired("  the same FFT without the centring", a, coil_bytes);
    sc.out = &coil_img;
    sc.out2 = &buf_f;
    prof_run_paired(st_rss, &sc, iters, coil_bytes, &a, &b);
    prof_row("RSS (vs memcpy of the coil data)", a, coil_bytes, b);
    sc.out2 = &buf_1c;
    prof_run_paired(st_combine, &sc, iters, coil_bytes, &a, &b);
    prof_row("sens-weighted combine (vs coil data)", a, coil_bytes, b);
    prof_run_paired(st_combine, &sc, iters, 2 * coil_bytes, &a, &b);
    prof_row("sens-weighted combine (vs coil+sens)", a, 2 * coil_bytes, b);
    {
        mv_vol cimg;
        sc.out2 = &buf_f;
        cimg = buf_1c;
        sc.img = &cimg;
        prof_run_paired(st_mag, &sc, iters, (size_t)nvox * 8, &a, &b);
        prof_row("magnitude of one complex volume", a, (size_t)nvox * 8, b);
        sc.img = &img;
    }
    sc.scratch_k = &buf_k;
    sc.accel = r2;
    a = prof_run(st_undersample, &sc, iters);
    row_unpaired("undersample R=2 (copy + zero lines)", a, coil_bytes);
    sc.ku = &k2;
    a = prof_run(st_recon_rss, &sc, iters);
    row_unpaired("zero-filled RSS recon R=2 (coil by coil)", a, coil_bytes);
    sc.out = &buf_c;
    a = prof_run(st_sens, &sc, iters);
    row_unpaired("sensitivity estimate (low-res / RSS)", a, coil_bytes);
    sc.aliased = &al2;
    sc.out2 = &buf_1c;
    a = prof_run(st_unfold, &sc, iters);
    row_unpaired("SENSE unfold R=2", a, coil_bytes);
    sc.aliased = &al4;
    sc.accel = r4;
    a = prof_run(st_unfold, &sc, iters);
    row_unpaired("SENSE unfold R=4 (2x2)", a, coil_bytes);
    sc.ku = &k2;
    sc.accel = r2;
    a = prof_run(st_recon_sense, &sc, iters);
    row_unpaired("SENSE recon R=2 (fftc + unfold)", a, coil_bytes);
    printf("# MB/s: coil k-space or coil-image bytes per second; xmemcpy: memcpy median / stage median, paired in this run\n");

    /* parallel imaging on the central 2D slice */
    {
        mv_vol img2, sens2, kf, ku3, ku4, g3, gf, maps, x4, r;
        mv_grappa_calib *cal = NULL;
        mv_cg_opts co;
        double t0, t1, t2, t3;
        int64_t y, c, x, ny = n;
        TRY("2D phantom", mv_phantom_shepp_logan(&img2, n, n, 1));
        TRY("2D coils", mv_phantom_coil_sens(&sens2, n, n, 1, coils));
        TRY("2D k-space", mv_phantom_kspace(&img2, &sens2, &kf, NULL));
        TRY("copy", mv_vol_copy(&kf, &ku3));
        TRY("copy", mv_vol_copy(&kf, &ku4));
        for (c = 0; c < coils; c++) /* y = n/2 (mod R) and 24 centre lines kept */
            for (y = 0; y < ny; y++)
                for (x = 0; x < n; x++) {
                    int acs = y >= ny / 2 - 12 && y < ny / 2 + 12;
                    float *p3 = (float *)ku3.data + 2 * ((c * ny + y) * n + x), *p4 = (float *)ku4.data + 2 * ((c * ny + y) * n + x);
                    if (!acs && (y - ny / 2) % 3) p3[0] = p3[1] = 0;
                    if (!acs && (y - ny / 2) % 4) p4[0] = p4[1] = 0;
                }
        t0 = prof_now_ms();
        TRY("GRAPPA calibration", mv_grappa_calibrate(&ku3, &cal, NULL));
        t1 = prof_now_ms();
        TRY("GRAPPA application", mv_grappa_apply(cal, &ku3, &g3, NULL));
        t2 = prof_now_ms();
        TRY("g-factor", mv_grappa_gfactor(cal, &sens2, &gf, NULL));
        t3 = prof_now_ms();
        TRY("rss", mv_recon_rss(&g3, &r, NULL));
        printf("# 2D %lld^2, %d coils: GRAPPA R=3 5x4, 24 ACS: calibration %.1f ms, application %.1f ms, g-factor %.1f ms; "
               "error vs phantom %.4f (zero-filled ", (long long)n, coils, t1 - t0, t2 - t1, t3 - t2, image_error(&r, &img2));
        save_mag(dir, "grappa_r3.nii", &r);
        mv_free(&r);
        TRY("rss", mv_recon_rss(&ku3, &r, NULL));
        printf("%.4f)\n", image_error(&r, &img2));
        save_mag(dir, "gfactor_r3.nii", &gf);
        mv_free(&r);
        t0 = prof_now_ms();
        TRY("ESPIRiT", mv_ecalib(&kf, &maps, NULL, NULL));
        t1 = prof_now_ms();
        memset(&co, 0, sizeof(co));
        co.lambda = 0.01;
        co.iterations = 30;
        TRY("CG-SENSE", mv_cgsense(&ku4, &maps, &x4, &co));
        t2 = prof_now_ms();
        printf("# 2D: ESPIRiT maps %.1f ms; CG-SENSE R=4, 24 ACS, 30 iterations %.1f ms; error vs phantom %.4f\n", t1 - t0,
               t2 - t1, image_error(&x4, &img2));
        save_mag(dir, "cgsense_r4.nii", &x4);
        /* ESPIRiT's two maps (BART ecalib's default): CG-SENSE solves for one
           image per map, combined by their root sum of squares */
        {
            mv_ecalib_opts eo;
            mv_vol maps2, x2;
            memset(&eo, 0, sizeof(eo));
            eo.maps = 2;
            t0 = prof_now_ms();
            TRY("ESPIRiT, 2 maps", mv_ecalib(&kf, &maps2, NULL, &eo));
            t1 = prof_now_ms();
            TRY("CG-SENSE, 2 maps", mv_cgsense(&ku4, &maps2, &x2, &co));
            t2 = prof_now_ms();
            TRY("rss of the maps", mv_rss(&x2, &r, NULL)); /* the maps sit on the coil axis */
            printf("# 2D: ESPIRiT 2 maps %.1f ms; CG-SENSE on both, R=4, 30 iterations %.1f ms; error of their root "
                   "sum of squares vs phantom %.4f\n", t1 - t0, t2 - t1, image_error(&r, &img2));
            save_mag(dir, "cgsense_r4_2maps.nii", &r);
            mv_free(&r);
            mv_free(&x2);
            mv_free(&maps2);
        }
        /* NLINV (BART nlinv): the image and the coils from the same R=4 data,
           no calibration step, BART's defaults (8 Gauss-Newton steps) */
        {
            mv_nlinv_opts no;
            mv_vol xn;
            memset(&no, 0, sizeof(no));
            t0 = prof_now_ms();
            TRY("NLINV", mv_nlinv(&ku4, &xn, NULL, &no));
            t1 = prof_now_ms();
            printf("# 2D: NLINV (BART nlinv, 8 steps, %d CG steps in all; image and coils together, no calibration) "
                   "R=4 %.1f ms; error vs phantom %.4f (its intensity carries the coils' RSS, as BART's image)\n", no.cg_iterations_done, t1 - t0, image_error(&xn, &img2));
            save_mag(dir, "nlinv_r4.nii", &xn);
            mv_free(&xn);
        }
        /* coil compression (BART cc -p, -S and -G) of the R=4 data to half
           the coils, then ESPIRiT from its own 24 ACS lines and CG-SENSE on
           the virtual coils, beside the same on all coils */
        {
            mv_cc_opts cco;
            mv_vol mat, kc, mc, xc;
            int geo;
            double e_all;
            TRY("ESPIRiT on the R=4 data", mv_ecalib(&ku4, &mc, NULL, NULL));
            TRY("CG-SENSE", mv_cgsense(&ku4, &mc, &xc, &co));
            e_all = image_error(&xc, &img2);
            mv_free(&xc);
            mv_free(&mc);
            for (geo = 0; geo < 2; geo++) {
                double e;
                memset(&cco, 0, sizeof(cco));
                cco.geometric = geo;
                cco.virtual_coils = coils / 2 > 0 ? coils / 2 : 1;
                t0 = prof_now_ms();
                TRY("coil compression matrix", mv_cc_calibrate(&ku4, &mat, NULL, &cco));
                TRY("coil compression", mv_cc_apply(&ku4, &mat, &kc, &cco));
                t1 = prof_now_ms();
                TRY("ESPIRiT on the virtual coils", mv_ecalib(&kc, &mc, NULL, NULL));
                TRY("CG-SENSE on the virtual coils", mv_cgsense(&kc, &mc, &xc, &co));
                t2 = prof_now_ms();
                e = image_error(&xc, &img2);
                printf("# 2D: coil compression (BART cc -p %lld %s) %d -> %lld coils %.1f ms; ESPIRiT + CG-SENSE R=4 on "
                       "them %.1f ms; error vs phantom %.4f (all %d coils: %.4f)\n", (long long)cco.virtual_coils,
                       geo ? "-G, geometric" : "-S, SVD", coils, (long long)cco.virtual_coils, t1 - t0, t2 - t1, e, coils,
                       e_all);
                save_mag(dir, geo ? "cc_gcc_cgsense_r4.nii" : "cc_svd_cgsense_r4.nii", &xc);
                mv_free(&xc);
                mv_free(&mc);
                mv_free(&kc);
                mv_free(&mat);
            }
        }
        /* partial Fourier (BART homodyne): 5/8 of the y lines of the fully
           sampled slice, each coil's homodyne image, their root sum of
           squares, beside the zero-filled one */
        {
            mv_homodyne_opts ho;
            mv_vol kp, hk, hz;
            const int64_t kept = (5 * ny + 7) / 8;
            TRY("copy", mv_vol_copy(&kf, &kp));
            for (c = 0; c < coils; c++)
                memset((float *)kp.data + 2 * (c * ny + kept) * n, 0, (size_t)((ny - kept) * n) * 8);
            memset(&ho, 0, sizeof(ho));
            ho.axis = 1;
            ho.fraction = 0.625;
            t0 = prof_now_ms();
            TRY("homodyne", mv_homodyne(&kp, &hk, &ho));
            t1 = prof_now_ms();
            TRY("rss", mv_rss(&hk, &r, NULL)); /* the coils' real images: their root sum of squares */
            TRY("rss", mv_recon_rss(&kp, &hz, NULL));
            printf("# 2D: partial Fourier, 5/8 of the lines: homodyne (BART homodyne 1 0.625, each coil) %.1f ms; error "
                   "of the coils' RSS vs phantom %.4f (zero-filled %.4f)\n", t1 - t0, image_error(&r, &img2),
                   image_error(&hz, &img2));
            save_mag(dir, "homodyne_pf.nii", &r);
            mv_free(&r), mv_free(&hz), mv_free(&hk), mv_free(&kp);
        }
        /* compressed sensing: random variable-density lines, l2 CG-SENSE
           beside l1-wavelet (BART pics -l1 -r 0.005: FISTA, Daubechies 2,
           cycle spinning) on BART's data scale */
        {
            mv_vol kcs, xl2, xl1, xtv, xwt;
            double scale = 0, t4, t5, t6, t7;
            unsigned seed = 2026u;
            int64_t kept = 0;
            TRY("copy", mv_vol_copy(&kf, &kcs));
            kept = keep_random_lines((float *)kcs.data, n, ny, coils, 0.12, 0.12, &seed);
            TRY("scale", mv_bart_scale_estimate(&kcs, &scale, NULL));
            memset(&co, 0, sizeof(co));
            co.iterations = 30;
            co.lambda = 0.01;
            co.scale = scale;
            t3 = prof_now_ms();
            TRY("CG-SENSE", mv_cgsense(&kcs, &maps, &xl2, &co));
            t4 = prof_now_ms();
            co.lambda = 0;
            co.l1_wavelet = 0.005;
            TRY("l1-wavelet", mv_cgsense(&kcs, &maps, &xl1, &co));
            t5 = prof_now_ms();
            co.l1_wavelet = 0;
            co.tv = 0.005;
            co.iterations = 150; /* BART's -i counts TV's CG steps: 15 rounds */
            TRY("TV", mv_cgsense(&kcs, &maps, &xtv, &co));
            t6 = prof_now_ms();
            printf("# 2D: random lines (%lld of %lld, R=%.1f, 16 centre): CG-SENSE 30 iterations %.1f ms, error %.4f; "
                   "l1-wavelet (BART pics -l1 -r 0.005) 30 FISTA iterations %.1f ms, error %.4f; "
                   "TV (BART pics -R T:7:0:0.005 -i 150, ADMM) %d CG steps %.1f ms, error %.4f\n",
                   (long long)kept, (long long)ny, (double)ny / kept, t4 - t3, image_error(&xl2, &img2), t5 - t4,
                   image_error(&xl1, &img2), co.iterations_done, t6 - t5, image_error(&xtv, &img2));
            co.l1_wavelet = 0.003; /* both terms at once: BART's ADMM over several terms */
            co.tv = 0.003;
            TRY("l1-wavelet + TV", mv_cgsense(&kcs, &maps, &xwt, &co));
            t7 = prof_now_ms();
            printf("# 2D: l1-wavelet + TV (BART pics -R W:7:0:0.003 -R T:7:0:0.003 -i 150, ADMM over two terms) "
                   "%d CG steps %.1f ms, error %.4f\n",
                   co.iterations_done, t7 - t6, image_error(&xwt, &img2));
            save_mag(dir, "cs_l2.nii", &xl2);
            save_mag(dir, "cs_l1_wavelet.nii", &xl1);
            save_mag(dir, "cs_tv.nii", &xtv);
            save_mag(dir, "cs_l1_tv.nii", &xwt);
            mv_free(&kcs);
            mv_free(&xl2);
            mv_free(&xl1);
            mv_free(&xtv);
            mv_free(&xwt);
        }
        /* a dynamic series: 8 frames whose contrast changes (x_t = a_t p +
           b_t p^2: rank two over time), each frame its own random lines
           (16 centre): l2 CG-SENSE frame by frame beside locally low rank
           (BART pics -R L:7:7:0.01: the frames solved together, FISTA) */
        {
            enum { T = 8 };
            int64_t kd[5], td[4], f, v, nv = n * n;
            mv_vol ks, truth, frame, kt, xs2, xsl;
            double scale = 0, t4, t5, t6;
            unsigned seed = 77u;
            kd[0] = kd[1] = n, kd[2] = 1, kd[3] = coils, kd[4] = T;
            td[0] = td[1] = n, td[2] = 1, td[3] = T;
            TRY("series", mv_vol_alloc(&ks, MV_DT_C64, 5, kd, NULL));
            TRY("series", mv_vol_alloc(&truth, MV_DT_F32, 4, td, NULL));
            TRY("frame", mv_vol_copy(&img2, &frame));
            for (f = 0; f < T; f++) {
                double wa = exp(-f / 4.0), wb = 0.2 + 0.15 * f;
                for (v = 0; v < nv; v++) {
                    double p = ((const float *)img2.data)[v];
                    ((float *)frame.data)[v] = ((float *)truth.data)[f * nv + v] = (float)(wa * p + wb * p * p);
                }
                TRY("frame k-space", mv_phantom_kspace(&frame, &sens2, &kt, NULL));
                keep_random_lines((float *)kt.data, n, ny, coils, 0.15, 0, &seed);
                memcpy((float *)ks.data + 2 * f * nv * coils, kt.data, (size_t)(nv * coils) * 8);
                mv_free(&kt);
            }
            TRY("scale", mv_bart_scale_estimate(&ks, &scale, NULL));
            memset(&co, 0, sizeof(co));
            co.iterations = 30;
            co.lambda = 0.01;
            co.scale = scale;
            t4 = prof_now_ms();
            TRY("CG-SENSE, series", mv_cgsense(&ks, &maps, &xs2, &co));
            t5 = prof_now_ms();
            co.lambda = 0;
            co.llr = 0.01;
            TRY("locally low rank", mv_cgsense(&ks, &maps, &xsl, &co));
            t6 = prof_now_ms();
            printf("# 2D series, %d frames, each its own random lines + 16 centre: CG-SENSE frame by frame 30 iterations "
                   "%.1f ms, error %.4f; locally low rank (BART pics -R L:7:7:0.01 -i 30, the frames together) %.1f ms, "
                   "error %.4f\n",
                   (int)T, t5 - t4, image_error(&xs2, &truth), t6 - t5, image_error(&xsl, &truth));
            save_mag(dir, "series_l2.nii", &xs2);
            save_mag(dir, "series_llr.nii", &xsl);
            { /* the subspace (BART pics -B): the frames' temporal span {a_t, b_t} orthonormalised, a basis of 2
                 coefficient images (T2 shuffling takes its basis from simulated signal curves the same way);
                 the frames are the basis times the 2 images solved */
                int64_t bd[2] = {T, 2};
                double u[2][T], nrm = 0, dot = 0;
                mv_vol bs, xc, xcl, xsb, xsbl;
                for (f = 0; f < T; f++) u[0][f] = exp(-f / 4.0), u[1][f] = 0.2 + 0.15 * f;
                for (f = 0; f < T; f++) nrm += u[0][f] * u[0][f];
                for (f = 0; f < T; f++) u[0][f] /= sqrt(nrm), dot += u[0][f] * u[1][f];
                for (f = 0, nrm = 0; f < T; f++) u[1][f] -= dot * u[0][f], nrm += u[1][f] * u[1][f];
                TRY("basis", mv_vol_alloc(&bs, MV_DT_C64, 2, bd, NULL));
                for (f = 0; f < 2 * T; f++) { /* B[t, k] at 2 (k T + t), real */
                    ((float *)bs.data)[2 * f] = (float)(f < T ? u[0][f] : u[1][f - T] / sqrt(nrm));
                    ((float *)bs.data)[2 * f + 1] = 0;
                }
                co.basis = &bs;
                co.iterations = 30;
                co.llr = 0;
                co.lambda = 0.01;
                t4 = prof_now_ms();
                TRY("subspace", mv_cgsense(&ks, &maps, &xc, &co));
                t5 = prof_now_ms();
                co.lambda = 0;
                co.llr = 0.01;
                TRY("subspace, locally low rank", mv_cgsense(&ks, &maps, &xcl, &co));
                t6 = prof_now_ms();
                subspace_frames(&bs, &xc, &xs2, &xsb);
                subspace_frames(&bs, &xcl, &xs2, &xsbl);
                printf("# 2D series: subspace (BART pics -B, 2 coefficient images of the frames' temporal span, -i 30): "
                       "-l2 %.1f ms, error of its frames %.4f (lines sampled in one frame or none leave both "
                       "coefficients underdetermined); with -R L:7:7:0.01 on the coefficients (T2 shuffling's "
                       "pics) %.1f ms, error %.4f\n",
                       t5 - t4, image_error(&xsb, &truth), t6 - t5, image_error(&xsbl, &truth));
                save_mag(dir, "series_subspace.nii", &xsbl);
                co.basis = NULL;
                co.llr = 0;
                mv_free(&bs);
                mv_free(&xc);
                mv_free(&xcl);
                mv_free(&xsb);
                mv_free(&xsbl);
            }
            mv_free(&ks);
            mv_free(&truth);
            mv_free(&frame);
            mv_free(&xs2);
            mv_free(&xsl);
        }
        printf("# wrote %s/{grappa_r3,gfactor_r3,cgsense_r4,cgsense_r4_2maps,nlinv_r4,cs_l2,cs_l1_wavelet,cs_tv,cs_l1_tv,series_l2,"
               "series_llr,series_subspace}.nii\n",
               dir);
        mv_grappa_free(cal);
        mv_free(&img2);
        mv_free(&sens2);
        mv_free(&kf);
        mv_free(&ku3);
        mv_free(&ku4);
        mv_free(&g3);
        mv_free(&gf);
        mv_free(&maps);
        mv_free(&x4);
    }

    /* radial: forward NUFFT on golden-angle spokes, density compensation, adjoint */
    {
        mv_vol img2, sens2, kf, coil2, traj, kr, kw, w, back, r;
        mv_traj_opts to;
        mv_dcf_opts dop;
        int64_t dims[3], c, spokes = (int64_t)(1.5707963267948966 * (double)n) + 1;
        double t0, t1, t2, t3;
        int pm;
        dims[0] = dims[1] = n;
        dims[2] = 1;
        TRY("2D phantom", mv_phantom_shepp_logan(&img2, n, n, 1));
        TRY("2D coils", mv_phantom_coil_sens(&sens2, n, n, 1, coils));
        TRY("2D k-space", mv_phantom_kspace(&img2, &sens2, &kf, NULL));
        TRY("coil images", mv_fftc(&kf, &coil2, 3, 1, NULL));
        memset(&to, 0, sizeof(to));
        to.golden = 1;
        t0 = prof_now_ms();
        TRY("trajectory", mv_traj_radial(&traj, 2 * n, spokes, &to));
        for (c = 0; c < 2 * (int64_t)mv_vol_count(&traj); c++) ((float *)traj.data)[c] *= 0.5f;
        t1 = prof_now_ms();
        TRY("forward NUFFT", mv_nufft(&traj, &coil2, &kr, 0, dims, NULL));
        t2 = prof_now_ms();
        printf("# radial 2D %lld^2, %d coils, %lld golden-angle spokes x %lld samples: trajectory %.1f ms, forward NUFFT "
               "%.1f ms\n",
               (long long)n, coils, (long long)spokes, (long long)(2 * n), t1 - t0, t2 - t1);
        for (pm = 0; pm < 2; pm++) {
            memset(&dop, 0, sizeof(dop));
            dop.method = pm ? MV_DCF_PIPE_MENON : MV_DCF_RAMP;
            dop.iterations = 10;
            t0 = prof_now_ms();
            TRY("density compensation", mv_dcf(&traj, &w, &dop));
            t1 = prof_now_ms();
            TRY("copy", mv_vol_copy(&kr, &kw));
            TRY("weighting", mv_kspace_weight(&kw, &w, NULL));
            TRY("adjoint NUFFT", mv_nufft(&traj, &kw, &back, 1, dims, NULL));
            t2 = prof_now_ms();
            TRY("rss", mv_rss(&back, &r, NULL));
            t3 = prof_now_ms();
            printf("#   %s DCF %.1f ms, weighting + adjoint NUFFT %.1f ms, RSS %.1f ms; error vs phantom %.4f\n",
                   pm ? "Pipe-Menon (10 iterations)" : "ramp", t1 - t0, t2 - t1, t3 - t2, image_error(&r, &img2));
            save_mag(dir, pm ? "radial_pipe_menon.nii" : "radial_ramp.nii", &r);
            mv_free(&w);
            mv_free(&kw);
            mv_free(&back);
            mv_free(&r);
        }
        /* iterative: non-Cartesian CG-SENSE on the Toeplitz normal operator
           (BART pics -l2 -t) with the coil sensitivities; all spokes, then
           every 4th (4x fewer) */
        {
            mv_vol maps, x, tsub, ksub;
            mv_cg_opts co;
            int sub;
            TRY("maps", mv_vol_copy(&sens2, &maps)); /* the model's: ESPIRiT's are normalised, the phantom's coils not */
            for (sub = 1; sub <= 4; sub *= 4) {
                int64_t ns = (spokes + sub - 1) / sub, j, tdims[3] = {3, 2 * n, ns}, kdims[4] = {1, 2 * n, ns, coils};
                TRY("sub trajectory", mv_vol_alloc(&tsub, MV_DT_C64, 3, tdims, NULL));
                TRY("sub k-space", mv_vol_alloc(&ksub, MV_DT_C64, 4, kdims, NULL));
                for (j = 0; j < ns; j++) { /* spoke j * sub of every coil */
                    memcpy((float *)tsub.data + 2 * 3 * 2 * n * j, (const float *)traj.data + 2 * 3 * 2 * n * j * sub,
                           (size_t)(3 * 2 * n) * 8);
                    for (c = 0; c < coils; c++)
                        memcpy((float *)ksub.data + 2 * (2 * n * (c * ns + j)),
                               (const float *)kr.data + 2 * (2 * n * (c * spokes + j * sub)), (size_t)(2 * n) * 8);
                }
                memset(&co, 0, sizeof(co));
                co.lambda = 0.01;
                co.iterations = 30;
                t0 = prof_now_ms();
                TRY("CG-SENSE", mv_cgsense_nc(&tsub, &ksub, &maps, &x, &co));
                t1 = prof_now_ms();
                printf("#   CG-SENSE (Toeplitz, %d iterations, lambda 0.01), %lld spokes: %.1f ms; error vs "
                       "phantom %.4f\n",
                       co.iterations_done, (long long)ns, t1 - t0, image_error(&x, &img2));
                save_mag(dir, sub == 1 ? "radial_cgsense.nii" : "radial_cgsense_r4.nii", &x);
                mv_free(&x);
                mv_free(&tsub);
                mv_free(&ksub);
            }
            /* density-compensated CG-SENSE (BART pics -p with P = dcf^1/2:
               weights W = dcf): the same minimiser's neighbourhood in fewer
               iterations, 5 of them beside 5 without */
            memset(&dop, 0, sizeof(dop));
            dop.method = MV_DCF_PIPE_MENON;
            dop.iterations = 10;
            TRY("density compensation", mv_dcf(&traj, &w, &dop));
            for (pm = 0; pm < 2; pm++) {
                memset(&co, 0, sizeof(co));
                co.lambda = 0.01;
                co.iterations = 5;
                co.weights = pm ? &w : NULL;
                t0 = prof_now_ms();
                TRY("CG-SENSE", mv_cgsense_nc(&traj, &kr, &maps, &x, &co));
                t1 = prof_now_ms();
                printf("#   CG-SENSE %s, %d iterations: %.1f ms; error vs phantom %.4f\n",
                       pm ? "weighted by the Pipe-Menon DCF (BART pics -p)" : "unweighted", co.iterations_done, t1 - t0,
                       image_error(&x, &img2));
                if (pm) save_mag(dir, "radial_cgsense_dcf.nii", &x);
                mv_free(&x);
            }
            mv_free(&w);
            mv_free(&maps);
        }
        /* NLINV on the spokes (BART nlinv -t): image and coils together, no
           maps, on twice the image grid */
        {
            mv_nlinv_opts no;
            mv_vol xn;
            memset(&no, 0, sizeof(no));
            t0 = prof_now_ms();
            TRY("non-Cartesian NLINV", mv_nlinv_nc(&traj, &kr, &xn, NULL, &no));
            t1 = prof_now_ms();
            printf("#   NLINV (BART nlinv -t, 8 steps, %d CG steps; no maps): %.1f ms; error vs phantom %.4f (its "
                   "intensity carries the coils' RSS)\n", no.cg_iterations_done, t1 - t0, image_error(&xn, &img2));
            save_mag(dir, "radial_nlinv.nii", &xn);
            mv_free(&xn);
        }
        printf("# wrote %s/{radial_ramp,radial_pipe_menon,radial_cgsense,radial_cgsense_r4,radial_cgsense_dcf,radial_nlinv}.nii\n", dir);
        mv_free(&img2);
        mv_free(&sens2);
        mv_free(&kf);
        mv_free(&coil2);
        mv_free(&traj);
        mv_free(&kr);
    }

    mv_free(&img);
    mv_free(&sens);
    mv_free(&k);
    mv_free(&k2);
    mv_free(&k4);
    mv_free(&est);
    mv_free(&coil_img);
    mv_free(&rss_full);
    mv_free(&rss_r2);
    mv_free(&rss_r4);
    mv_free(&sense_r2);
    mv_free(&sense_r4);
    mv_free(&al2);
    mv_free(&al4);
    mv_free(&buf_c);
    mv_free(&buf_k);
    mv_free(&buf_f);
    mv_free(&buf_1c);
    mv_fft_cache_clear();
    return 0;
}
