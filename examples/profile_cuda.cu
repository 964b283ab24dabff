/* profile_cuda [size] [iterations] - medvol_cuda.h kernels on a size^3 volume.

   Each kernel is timed with cudaEvents on one stream and reported as
   min / median / mean ms, GB/s and its throughput as a fraction of a
   device-to-device cudaMemcpy of the same traffic measured in the same run
   (xmemcpy; >= 0.7 is the issue's target for element-wise and reduction
   ops, >= 0.4 of the output bytes for trilinear resampling). "Traffic" is
   the nominal bytes an op must move: input read once plus output written
   once (znorm's statistics pass is extra reading and shows up as a lower
   fraction). The centred FFT is compared with a bare cuFFT call on the same
   data (target: within 10%). The proton transport runs on its baseline
   grid (40 x 40 cells x 72 angles x 200 energies, whatever the size) and
   is reported as a multiple of one D2D copy of its 92 MB fluence (target:
   the fused step within 2.5 copies). Then upload/download bandwidth (pageable and
   pinned) and a GPU-vs-CPU table of the same ops through medvol.h.
   Registration rows: the demons update (force; with the MSE, which waits),
   the field exponential (4 squarings), MSE, NCC and Mattes MI metrics with
   their gradients (full sampling; MSE also AUTO's 2^18 random samples; MI
   reads fixed and moving twice more: ranges, histogram, gradient), LNCC
   (radius 2, dense: box sums of six then four float64 arrays of the grid,
   72 bytes a voxel of work arrays, a row per thread), traffic the nominal
   bytes (fixed and moving read once; the metric's moving reads are gathers
   and the call waits for its sums).
   NUFFT rows: 2D radial, image 256^2, 402 spokes x 512 samples, 32 coils,
   tol 1e-3, forward and adjoint on device buffers, with mv_nufft_execute's
   time on the same plan beside (CPU threads: all; its coil batch 8).
   Non-Cartesian CG-SENSE rows: radial 256^2 (256 samples x 128 spokes),
   8 and 32 coils, ms per call (1 and 11 iterations, host setup included)
   and per iteration, with mv_cgsense_nc_into beside.

   Without a CUDA device it says so and exits 0. */
#include "../medvol_cuda.h"
#include "profile.h"

#include <cuda_runtime.h>
#include <cufft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cudaStream_t P_s;
static int P_iters = 20;

#define P_CHECK(expr)                                                                          \
    do {                                                                                       \
        mv_status st_ = (expr);                                                                \
        if (st_ != MV_OK) {                                                                    \
            fprintf(stderr, "%s: %s (%s)\n", #expr, mv_status_str(st_), mv_last_error());     \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#define P_CUDA(expr)                                                                           \
    do {                                                                                       \
        cudaError_t e_ = (expr);                                                               \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s: %s\n", #expr, cudaGetErrorString(e_));                        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* one timed GPU operation */
typedef void (*p_gpu_fn)(void *ctx);

/* fn once to warm up, then `P_iters` times, each between two events */
static prof_result p_time_gpu(p_gpu_fn fn, void *ctx)
{
    double ms[PROF_MAX_ITERS];
    cudaEvent_t a, b;
    int i, n = P_iters > PROF_MAX_ITERS ? PROF_MAX_ITERS : P_iters;
    P_CUDA(cudaEventCreate(&a));
    P_CUDA(cudaEventCreate(&b));
    fn(ctx);
    P_CUDA(cudaStreamSynchronize(P_s));
    for (i = 0; i < n; i++) {
        float t = 0;
        P_CUDA(cudaEventRecord(a, P_s));
        fn(ctx);
        P_CUDA(cudaEventRecord(b, P_s));
        P_CUDA(cudaEventSynchronize(b));
        P_CUDA(cudaEventElapsedTime(&t, a, b));
        ms[i] = t;
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return prof_summarise(ms, n);
}

/* device-to-device memcpy of `bytes`: the yardstick */
typedef struct { void *dst; const void *src; size_t bytes; } p_copy;
static void p_copy_once(void *c)
{
    p_copy *p = (p_copy *)c;
    P_CUDA(cudaMemcpyAsync(p->dst, p->src, p->bytes, cudaMemcpyDeviceToDevice, P_s));
}
static prof_result p_memcpy(size_t bytes)
{
    p_copy c;
    prof_result r;
    P_CUDA(cudaMalloc((void **)&c.src, bytes));
    P_CUDA(cudaMalloc(&c.dst, bytes));
    P_CUDA(cudaMemset((void *)c.src, 0x5a, bytes));
    c.bytes = bytes;
    r = p_time_gpu(p_copy_once, &c);
    cudaFree((void *)c.src);
    cudaFree(c.dst);
    return r;
}

/* a table row: traffic bytes, memcpy of traffic/2 bytes (it reads and writes
   each byte, so it moves the same traffic) */
static void p_row(const char *name, prof_result r, size_t traffic)
{
    prof_result base = p_memcpy(traffic / 2);
    double gbs = r.median > 0 ? (double)traffic / 1e9 / (r.median / 1e3) : 0;
    printf("%-44s %9.3f %9.3f %9.3f %9.1f %8.2f\n", name, r.min, r.median, r.mean, gbs,
           r.median > 0 ? base.median / r.median : 0);
}

/* ---- the operations ---- */

typedef struct {
    mv_cuda_vol in, in16, out, out16, mask, c64, c64b, coils, sens, comb, rss, w;
    int64_t n;
} p_bufs;
static p_bufs B;

static void op_convert_i16_f32(void *c) { (void)c; P_CHECK(mv_cuda_convert_into(&B.in16, &B.out, NULL, P_s)); }
static void op_convert_f32_i16(void *c) { (void)c; P_CHECK(mv_cuda_convert_into(&B.in, &B.out16, NULL, P_s)); }
static void op_stats(void *c)
{
    mv_stats st;
    (void)c;
    P_CHECK(mv_cuda_compute_stats(&B.in, &st, NULL, P_s));
}
static void op_znorm(void *c) { (void)c; P_CHECK(mv_cuda_znorm_into(&B.in, &B.out, NULL, P_s)); }
static void op_znorm_mask(void *c)
{
    mv_intensity_opts o;
    (void)c;
    memset(&o, 0, sizeof(o));
    o.mask = &B.mask.vol;
    P_CHECK(mv_cuda_znorm_into(&B.in, &B.out, &o, P_s));
}
static void op_rescale(void *c) { (void)c; P_CHECK(mv_cuda_rescale_into(&B.in, &B.out, 0, 1, NULL, P_s)); }
static void op_clamp(void *c) { (void)c; P_CHECK(mv_cuda_clamp_into(&B.in, &B.out, 100, 900, NULL, P_s)); }
static void op_flip(void *c) { (void)c; P_CHECK(mv_cuda_flip_into(&B.in, &B.out, 7, NULL, P_s)); }
static void op_permute(void *c)
{
    int perm[3] = {2, 1, 0};
    (void)c;
    P_CHECK(mv_cuda_permute_into(&B.in, &B.out, perm, NULL, P_s));
}
static mv_cuda_vol P_crop;
static void op_crop(void *c)
{
    int64_t shape[3] = {B.n - 32, B.n - 32, B.n - 32};
    (void)c;
    P_CHECK(mv_cuda_crop_or_pad_into(&B.in, &P_crop, shape, NULL, P_s));
}
static mv_cuda_vol P_zoom;
static double P_zoom_map[4][4];
static void op_resample_linear(void *c)
{
    (void)c;
    P_CHECK(mv_cuda_resample_into(&B.in, &P_zoom, P_zoom_map, NULL, P_s));
}
static void op_resample_nearest(void *c)
{
    mv_cuda_resample_opts o;
    (void)c;
    memset(&o, 0, sizeof(o));
    o.interp = MV_CUDA_INTERP_NEAREST;
    P_CHECK(mv_cuda_resample_into(&B.in, &P_zoom, P_zoom_map, &o, P_s));
}
static mv_cuda_vol P_half;
static double P_half_map[4][4];
/* a float32 output of shape out and scipy zoom's voxel map onto it from dims (grid mode) */
static void p_zoom_target(mv_cuda_vol *v, double map[4][4], const int64_t dims[3], const int64_t out[3])
{
    P_CHECK(mv_cuda_vol_alloc(v, MV_DT_F32, 3, out, P_s));
    memset(map, 0, 16 * sizeof(double));
    for (int a = 0; a < 3; a++) {
        double s = (double)dims[a] / (double)out[a];
        map[a][a] = s;
        map[a][3] = 0.5 * s - 0.5;
    }
    map[3][3] = 1;
}
static void op_resample_cubic(void *c)
{
    mv_cuda_resample_opts o;
    memset(&o, 0, sizeof(o));
    o.interp = MV_CUDA_INTERP_CUBIC;
    P_CHECK(mv_cuda_resample_into(&B.in, c ? &P_half : &P_zoom, c ? P_half_map : P_zoom_map, &o, P_s));
}
static void op_fftshift(void *c) { (void)c; P_CHECK(mv_cuda_fftshift_into(&B.c64, &B.c64b, 7, 0, P_s)); }
static void op_fftc(void *c) { (void)c; P_CHECK(mv_cuda_fftc_into(&B.c64, &B.c64, 7, 0, P_s)); }
static cufftHandle P_plan;
static void op_bare_cufft(void *c)
{
    (void)c;
    if (cufftExecC2C(P_plan, (cufftComplex *)B.c64.vol.data, (cufftComplex *)B.c64.vol.data, CUFFT_FORWARD) !=
        CUFFT_SUCCESS) {
        fprintf(stderr, "cufftExecC2C failed\n");
        exit(1);
    }
}
static void op_rss(void *c) { (void)c; P_CHECK(mv_cuda_rss_into(&B.coils, &B.rss, P_s)); }
static void op_combine(void *c) { (void)c; P_CHECK(mv_cuda_coil_combine_into(&B.coils, &B.sens, &B.comb, P_s)); }
static void op_weight(void *c) { (void)c; P_CHECK(mv_cuda_kspace_weight(&B.c64, &B.w, P_s)); }

/* ---- transfers ---- */

typedef struct { void *host, *dev; size_t bytes; int up; } p_xfer;
static void p_xfer_once(void *c)
{
    p_xfer *x = (p_xfer *)c;
    if (x->up) P_CUDA(cudaMemcpyAsync(x->dev, x->host, x->bytes, cudaMemcpyHostToDevice, P_s));
    else P_CUDA(cudaMemcpyAsync(x->host, x->dev, x->bytes, cudaMemcpyDeviceToHost, P_s));
}
static void p_transfers(size_t bytes)
{
    p_xfer x;
    int up, pinned;
    P_CUDA(cudaMalloc(&x.dev, bytes));
    x.bytes = bytes;
    for (pinned = 0; pinned < 2; pinned++) {
        if (pinned) P_CUDA(cudaMallocHost(&x.host, bytes));
        else x.host = malloc(bytes);
        memset(x.host, 1, bytes);
        for (up = 1; up >= 0; up--) {
            prof_result r;
            char name[64];
            x.up = up;
            r = p_time_gpu(p_xfer_once, &x);
            snprintf(name, sizeof(name), "%s, %s host memory", up ? "upload" : "download", pinned ? "pinned" : "pageable");
            printf("%-44s %9.3f %9.3f %9.3f %9.1f\n", name, r.min, r.median, r.mean,
                   (double)bytes / 1e9 / (r.median / 1e3));
        }
        if (pinned) cudaFreeHost(x.host);
        else free(x.host);
    }
    cudaFree(x.dev);
}

/* ---- registration: the demons update, the field exponential, metrics with gradients ---- */

typedef struct {
    mv_cuda_vol moving, u, e;  /* a second phantom (the warped moving image), two fields on the grid */
    mv_transform rigid;
    mv_metric_opts mo;
} p_reg;
static p_reg R;

static void op_demons(void *c) { (void)c; P_CHECK(mv_cuda_demons_update_into(&B.in, &R.moving, &R.u, 2.0, NULL, NULL, P_s)); }
static void op_demons_mse(void *c)
{
    double mse;
    (void)c;
    P_CHECK(mv_cuda_demons_update_into(&B.in, &R.moving, &R.u, 2.0, NULL, &mse, P_s));
}
static void op_exp4(void *c)
{
    mv_field_opts o;
    (void)c;
    memset(&o, 0, sizeof(o));
    o.squarings = 4;
    P_CHECK(mv_cuda_field_exp_into(&R.u, &R.e, &o, NULL, P_s));
}
static void p_metric_once(mv_metric_type m, mv_sampling s)
{
    double v, g[MV_TRANSFORM_MAX_PARAMS];
    R.mo.metric = m;
    R.mo.sampling = s;
    P_CHECK(mv_cuda_metric_evaluate(&B.in, &R.moving, &R.rigid, &R.mo, &v, g, NULL, P_s));
}
static void op_metric_mse(void *c) { (void)c; p_metric_once(MV_METRIC_MSE, MV_SAMPLING_FULL); }
static void op_metric_ncc(void *c) { (void)c; p_metric_once(MV_METRIC_NCC, MV_SAMPLING_FULL); }
static void op_metric_mse_auto(void *c) { (void)c; p_metric_once(MV_METRIC_MSE, MV_SAMPLING_AUTO); }
static void op_metric_mi(void *c) { (void)c; p_metric_once(MV_METRIC_MI, MV_SAMPLING_FULL); }
static void op_metric_lncc(void *c) { (void)c; p_metric_once(MV_METRIC_LNCC, MV_SAMPLING_FULL); }

/* a device field (X, Y, Z, 1, 3) on the grid of g */
static void p_field(mv_cuda_vol *f, const mv_cuda_vol *g)
{
    int64_t d[5] = {g->vol.dim[0], g->vol.dim[1], g->vol.dim[2], 1, 3};
    P_CHECK(mv_cuda_vol_alloc(f, MV_DT_F32, 5, d, P_s));
    memcpy(f->vol.affine, g->vol.affine, sizeof(f->vol.affine));
    f->vol.meta.intent_code = MV_INTENT_DISPLACEMENT;
    P_CUDA(cudaMemsetAsync(f->vol.data, 0, mv_vol_bytes(&f->vol), P_s));
}

/* ---- filters ---- */

static void p_filter_once(int method, double sigma)
{
    mv_filter_opts o;
    const double s[3] = {sigma, sigma, sigma};
    memset(&o, 0, sizeof(o));
    o.method = method;
    P_CHECK(mv_cuda_gaussian_into(&B.in, &B.out, s, &o, P_s));
}
static void op_gauss_fir(void *c) { (void)c; p_filter_once(MV_FILTER_FIR, 1.5); }
static void op_gauss_iir(void *c) { (void)c; p_filter_once(MV_FILTER_RECURSIVE, 10.0); }
static void op_box(void *c)
{
    const int64_t r[3] = {2, 2, 2};
    (void)c;
    P_CHECK(mv_cuda_box_filter_into(&B.in, &B.out, r, NULL, P_s));
}
static mv_cuda_vol P_grad;
static void op_gradient(void *c) { (void)c; P_CHECK(mv_cuda_gradient_into(&B.in, &P_grad, NULL, P_s)); }

static void p_filter_rows(int size, size_t f32b)
{
    const int64_t gd[4] = {size, size, size, 3};
    P_CHECK(mv_cuda_vol_alloc(&P_grad, MV_DT_F32, 4, gd, P_s));
    /* traffic: the float32 copy of the input, then each pass reads and
       writes the volume (FIR taps and the box's window come from cache);
       the recursive pass also writes and reads its forward pass (a line of
       n + 2 margin floats: about 1.3x the volume at sigma 10, 256^3, not
       counted); the gradient reads the volume once and writes 3 */
    p_row("gaussian sigma 1.5, FIR (convert + 3 passes)", p_time_gpu(op_gauss_fir, NULL), 8 * f32b);
    p_row("gaussian sigma 10, recursive (convert + 3)", p_time_gpu(op_gauss_iir, NULL), 8 * f32b);
    p_row("box radius 2 (convert + 3 passes)", p_time_gpu(op_box, NULL), 8 * f32b);
    p_row("gradient in world mm (1 read, 3 writes)", p_time_gpu(op_gradient, NULL), 4 * f32b);
    mv_cuda_free(&P_grad, P_s);
}

static void p_registration_rows(int size, size_t f32b)
{
    mv_vol h;
    const double c[3] = {0.5 * size, 0.5 * size, 0.5 * size};
    P_CHECK(mv_phantom_smooth(&h, MV_DT_F32, size, size, size, 2));
    P_CHECK(mv_cuda_upload(&h, &R.moving, P_s));
    mv_free(&h);
    p_field(&R.u, &B.in);
    p_field(&R.e, &B.in);
    P_CHECK(mv_transform_init(&R.rigid, MV_TRANSFORM_RIGID, 3, c));
    R.rigid.params[0] = 0.03, R.rigid.params[2] = -0.02, R.rigid.params[3] = 1.5;
    memset(&R.mo, 0, sizeof(R.mo));
    /* traffic: fixed + warped read, u (3 components) written; exp: the scale
       pass and each squaring read and write the field; metrics: fixed and
       moving read once (the moving reads are gathers) */
    p_row("demons update (force only)", p_time_gpu(op_demons, NULL), 5 * f32b);
    p_row("demons update + MSE (waits)", p_time_gpu(op_demons_mse, NULL), 5 * f32b);
    p_row("field exp, 4 squarings", p_time_gpu(op_exp4, NULL), 5 * 6 * f32b);
    p_row("metric MSE + gradient, full (waits)", p_time_gpu(op_metric_mse, NULL), 2 * f32b);
    p_row("metric NCC + gradient, full (waits)", p_time_gpu(op_metric_ncc, NULL), 2 * f32b);
    p_row("metric MSE + gradient, auto 2^18 (waits)", p_time_gpu(op_metric_mse_auto, NULL), 2 * f32b);
    p_row("metric MI + gradient, full, 24 bins (waits)", p_time_gpu(op_metric_mi, NULL), 2 * f32b);
    p_row("metric LNCC + gradient, radius 2 (waits)", p_time_gpu(op_metric_lncc, NULL), 2 * f32b);
    mv_cuda_free(&R.moving, P_s);
    mv_cuda_free(&R.u, P_s);
    mv_cuda_free(&R.e, P_s);
}

/* ---- CPU side of the comparison ---- */

typedef struct { mv_vol in, out, out16, c64, c64b; int which; } p_cpu;
static void p_cpu_once(void *c)
{
    p_cpu *p = (p_cpu *)c;
    int perm[3] = {2, 1, 0};
    mv_vol t;
    switch (p->which) {
    case 0: P_CHECK(mv_convert_into(&p->out16, &p->out, NULL)); break;
    case 1: P_CHECK(mv_znorm_into(&p->in, &p->out, NULL)); break;
    case 2: P_CHECK(mv_rescale_into(&p->in, &p->out, 0, 1, NULL)); break;
    case 3: P_CHECK(mv_clamp_into(&p->in, &p->out, 100, 900, NULL)); break;
    case 4: P_CHECK(mv_flip_into(&p->in, &p->out, 7, NULL)); break;
    default: /* permute has no _into on the CPU: allocation included */
        P_CHECK(mv_permute(&p->in, &t, perm, NULL));
        mv_free(&t);
        break;
    }
}

/* ---- proton transport: the baseline grid 40 x 40 (z, x) x 72 angles x 200 energies ---- */

typedef struct p_tr {
    mv_cuda_transport *plan;
    float *psi, *work;
    double *dose;
    int op; /* -1: a step */
    int bal;
} p_tr;
static void p_tr_once(void *c)
{
    p_tr *t = (p_tr *)c;
    mv_transport_balance b;
    if (t->op < 0) P_CHECK(mv_cuda_transport_step(t->plan, &t->psi, &t->work, t->dose, t->bal ? &b : NULL, P_s));
    else P_CHECK(mv_cuda_transport_apply(t->plan, (mv_transport_op)t->op, t->psi, t->work, t->dose, NULL, P_s));
}

/* each operator and the steps, as ms and as a multiple of one D2D
   cudaMemcpy of the fluence measured here (target: fused step <= 2.5x) */
static void p_transport(void)
{
    /* untiled: the fused Lie step as two kernels (mv_cuda_transport_set_tiled 0) */
    static const struct { int split, fused, op, bal, untiled; const char *name; } rows[] = {
        {0, 0, MV_TRANSPORT_ELOSS, 0, 0, "energy loss (+ dose)"},
        {0, 0, MV_TRANSPORT_SCATTER, 0, 0, "angular scattering"},
        {0, 0, MV_TRANSPORT_STREAM, 0, 0, "spatial streaming"},
        {0, 0, -1, 0, 0, "Lie step, unfused (+ dose)"},
        {0, 1, -1, 0, 1, "Lie step, fused, two kernels (+ dose)"},
        {0, 1, -1, 0, 0, "Lie step, fused, one kernel (+ dose)"},
        {0, 1, -1, 1, 0, "Lie step, fused, dose + balance (waits)"},
        {1, 0, -1, 0, 0, "Strang step, unfused (+ dose)"},
        {1, 1, -1, 0, 0, "Strang step, fused (+ dose)"},
    };
    mv_transport_opts o;
    mv_transport *cpu = NULL;
    mv_transport_grid g;
    p_copy yard;
    float *a = NULL, *b = NULL;
    double *dose = NULL;
    memset(&o, 0, sizeof(o)); /* defaults: 40 x 40, 72 angles, 200 energies, 1 mm */
    P_CHECK(mv_transport_create(&o, &cpu));
    mv_transport_get_grid(cpu, &g);
    const size_t bytes = (size_t)g.cells * sizeof(float);
    P_CUDA(cudaMalloc(&a, bytes));
    P_CUDA(cudaMalloc(&b, bytes));
    P_CUDA(cudaMalloc(&dose, (size_t)g.nz * (size_t)g.nx * sizeof(double)));
    {   /* a 150 MeV beam, then 60 steps so that the fluence is spread */
        float *h = (float *)malloc(bytes);
        mv_transport_beam beam;
        mv_cuda_transport *gp = NULL;
        memset(&beam, 0, sizeof(beam));
        beam.energy = 150;
        beam.sigma = 3;
        if (!h) exit(1);
        P_CHECK(mv_transport_source(cpu, h, &beam));
        P_CUDA(cudaMemcpy(a, h, bytes, cudaMemcpyHostToDevice));
        P_CHECK(mv_cuda_transport_create(cpu, &gp, P_s));
        for (int k = 0; k < 60; k++) P_CHECK(mv_cuda_transport_step(gp, &a, &b, dose, NULL, P_s));
        P_CUDA(cudaStreamSynchronize(P_s));
        mv_cuda_transport_free(gp, P_s);
        free(h);
    }
    mv_transport_free(cpu);
    yard.src = a;
    yard.dst = b;
    yard.bytes = bytes;
    prof_result copy = p_time_gpu(p_copy_once, &yard);
    printf("\n# proton transport: %d x %d (z, x) x %d angles x %d energies, fluence %.1f MB; xcopy = median / the "
           "D2D copy's median\n", g.nz, g.nx, g.ntheta, g.ne, (double)bytes / 1e6);
    printf("%-44s %9s %9s %9s %8s\n", "transport (device)", "min ms", "median", "mean", "xcopy");
    printf("%-44s %9.3f %9.3f %9.3f %8.2f\n", "cudaMemcpy D2D of the fluence (the yardstick)", copy.min, copy.median,
           copy.mean, 1.0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        p_tr t;
        o.split = rows[i].split ? MV_SPLIT_STRANG : MV_SPLIT_LIE;
        o.fused = rows[i].fused;
        P_CHECK(mv_transport_create(&o, &cpu));
        P_CHECK(mv_cuda_transport_create(cpu, &t.plan, P_s));
        if (rows[i].untiled) P_CHECK(mv_cuda_transport_set_tiled(t.plan, 0));
        mv_transport_free(cpu);
        t.psi = a;
        t.work = b;
        t.dose = dose;
        t.op = rows[i].op;
        t.bal = rows[i].bal;
        prof_result r = p_time_gpu(p_tr_once, &t);
        a = t.psi; /* a step may exchange the buffers */
        b = t.work;
        printf("%-44s %9.3f %9.3f %9.3f %8.2f%s\n", rows[i].name, r.min, r.median, r.mean,
               copy.median > 0 ? r.median / copy.median : 0,
               rows[i].op < 0 && rows[i].fused && !rows[i].bal ? "   (target <= 2.5)" : "");
        mv_cuda_transport_free(t.plan, P_s);
    }
    P_CUDA(cudaStreamSynchronize(P_s));
    cudaFree(a);
    cudaFree(b);
    cudaFree(dose);
}

/* ---- MRI reconstruction: GRAPPA application at 256^2 x 32 coils ----
   Traffic: the k-space read once and the output written once (the nominal
   bytes; the padded image-space buffer, two cuFFT passes over it and the
   unmixing's reads of w(x) come on top, so the fraction is far below 1 by
   construction: it says how much dearer than a copy of the data the
   application is). The CPU's mv_grappa_apply_into on the same data and
   calibration beside it. */
typedef struct {
    const mv_grappa_calib *cal;
    mv_cuda_vol k, out;
    mv_vol hk, hout;
} p_grappa;

static void op_grappa(void *c)
{
    p_grappa *g = (p_grappa *)c;
    P_CHECK(mv_cuda_grappa_apply_into(g->cal, &g->k, &g->out, NULL, P_s));
}
static void op_grappa_cpu(void *c)
{
    p_grappa *g = (p_grappa *)c;
    P_CHECK(mv_grappa_apply_into(g->cal, &g->hk, &g->hout, NULL));
}

static void p_recon_grappa(int R)
{
    const int64_t n = 256, nc = 32, dims[4] = {n, n, 1, nc};
    p_grappa g;
    mv_grappa_calib *cal = NULL;
    mv_grappa_opts o;
    char name[96];
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    memset(&g, 0, sizeof(g));
    memset(&o, 0, sizeof(o));
    o.accel[1] = R;
    P_CHECK(mv_vol_alloc(&g.hk, MV_DT_C64, 4, dims, NULL));
    P_CHECK(mv_vol_alloc(&g.hout, MV_DT_C64, 4, dims, NULL));
    {   /* random samples on the lattice and in a 24-line ACS, zero elsewhere */
        float *d = (float *)g.hk.data;
        for (int64_t c = 0; c < nc; c++)
            for (int64_t y = 0; y < n; y++) {
                int keep = y % R == 0 || (y >= n / 2 - 12 && y < n / 2 + 12);
                for (int64_t x = 0; x < n; x++) {
                    float *p = d + 2 * ((c * n + y) * n + x);
                    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                    p[0] = keep ? (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5) : 0.0f;
                    p[1] = keep ? (float)((double)(rng & 0xFFFFF) / 1048576.0 - 0.5) : 0.0f;
                }
            }
    }
    P_CHECK(mv_grappa_calibrate(&g.hk, &cal, &o));
    g.cal = cal;
    P_CHECK(mv_cuda_upload(&g.hk, &g.k, P_s));
    P_CHECK(mv_cuda_vol_alloc(&g.out, MV_DT_C64, 4, dims, P_s));
    snprintf(name, sizeof(name), "GRAPPA apply 256^2 x 32 coils, R=%d", R);
    {
        prof_result r = p_time_gpu(op_grappa, &g), h = prof_run(op_grappa_cpu, &g, P_iters < 5 ? P_iters : 5);
        p_row(name, r, 2 * mv_vol_bytes(&g.hk));
        printf("%-44s %9.3f ms on the CPU (%s, %d threads): %.1fx\n", "  the same on the CPU (median)", h.median,
               mv_isa_name(mv_isa_active()), mv_threads(), r.median > 0 ? h.median / r.median : 0);
    }
    mv_cuda_free(&g.k, P_s);
    mv_cuda_free(&g.out, P_s);
    mv_free(&g.hk);
    mv_free(&g.hout);
    mv_grappa_free(cal);
}

/* ---- MRI reconstruction: Cartesian CG-SENSE at 256^2 x 8 coils ----
   Lines y % 2 == 0 plus a 24-line centre (the mask is constant along x,
   so the normal operator transforms along y only, as the CPU's), random
   samples and maps, lambda 0, tolerance 0: exactly 1 or 30 iterations.
   Traffic: the nominal bytes the kernels move (each kernel's reads and
   writes, each cuFFT pass counted as one read and one write of the coil
   buffer): per iteration (96 C + 121) n bytes, the mask and A^H y
   (64 C + 40) n, n = 256^2 voxels. The per-iteration row is (t30 - t1) /
   29 of the two medians. The CPU's mv_cgsense_into beside them.
   Then on two ESPIRiT maps (M = 2, random maps): the expand kernel reads
   M images and M maps per coil value and the reduce kernel M maps, the CG
   vectors are M n long, so per iteration ((32 M + 64) C + 121 M) n and
   for the mask and A^H y ((16 M + 48) C + 40 M) n (M = 1: the figures
   above). */
typedef struct {
    mv_cuda_vol k, sens, out;
    mv_vol hk, hsens, hout;
    mv_cg_opts o;
} p_cgs;

static void op_cgsense(void *c)
{
    p_cgs *g = (p_cgs *)c;
    P_CHECK(mv_cuda_cgsense_into(&g->k, &g->sens, &g->out, &g->o, P_s));
}
static void op_cgsense_cpu(void *c)
{
    p_cgs *g = (p_cgs *)c;
    P_CHECK(mv_cgsense_into(&g->hk, &g->hsens, &g->hout, &g->o));
}

static void p_recon_cgsense(int64_t nmaps)
{
    const int64_t n = 256, nc = 8, dims[4] = {n, n, 1, nc}, sdims[5] = {n, n, 1, nc, nmaps},
                  odims[4] = {n, n, 1, nmaps};
    const int its[2] = {1, 30};
    const double M = (double)nmaps;
    p_cgs g;
    prof_result r[2], h[2];
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    memset(&g, 0, sizeof(g));
    P_CHECK(mv_vol_alloc(&g.hk, MV_DT_C64, 4, dims, NULL));
    P_CHECK(mv_vol_alloc(&g.hsens, MV_DT_C64, nmaps > 1 ? 5 : 4, sdims, NULL));
    P_CHECK(mv_vol_alloc(&g.hout, MV_DT_C64, nmaps > 1 ? 4 : 3, odims, NULL));
    {
        float *d = (float *)g.hk.data, *s = (float *)g.hsens.data;
        for (int64_t c = 0; c < nc; c++)
            for (int64_t y = 0; y < n; y++) {
                int keep = y % 2 == 0 || (y >= n / 2 - 12 && y < n / 2 + 12);
                for (int64_t x = 0; x < n; x++) {
                    const int64_t i = (c * n + y) * n + x;
                    for (int j = 0; j < 4; j++) {
                        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                        const float v = (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
                        if (j < 2) d[2 * i + j] = keep ? v : 0.0f;
                        else s[2 * i + j - 2] = v;
                    }
                }
            }
        for (int64_t i = 2 * nc * n * n; i < 2 * nc * n * n * nmaps; i++) { /* further maps: more random values */
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            s[i] = (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
        }
    }
    P_CHECK(mv_cuda_upload(&g.hk, &g.k, P_s));
    P_CHECK(mv_cuda_upload(&g.hsens, &g.sens, P_s));
    P_CHECK(mv_cuda_vol_alloc(&g.out, MV_DT_C64, nmaps > 1 ? 4 : 3, odims, P_s));
    g.o.slices = 1;
    for (int k = 0; k < 2; k++) {
        char name[96];
        const double nv = (double)(n * n);
        const size_t traffic = (size_t)(((double)its[k] * ((32.0 * M + 64.0) * nc + 121.0 * M) +
                                         ((16.0 * M + 48.0) * nc + 40.0 * M)) * nv);
        g.o.iterations = its[k];
        r[k] = p_time_gpu(op_cgsense, &g);
        h[k] = prof_run(op_cgsense_cpu, &g, P_iters < 3 ? P_iters : 3);
        snprintf(name, sizeof(name), "CG-SENSE 256^2 x 8 %s, %d iteration%s", nmaps > 1 ? "x 2 maps" : "coils", its[k],
                 its[k] > 1 ? "s" : "");
        p_row(name, r[k], traffic);
        printf("%-44s %9.3f ms on the CPU (%s, %d threads): %.1fx\n", "  the same on the CPU (median)", h[k].median,
               mv_isa_name(mv_isa_active()), mv_threads(), r[k].median > 0 ? h[k].median / r[k].median : 0);
    }
    {
        const double it_gpu = (r[1].median - r[0].median) / 29.0, it_cpu = (h[1].median - h[0].median) / 29.0;
        const double bytes = ((32.0 * M + 64.0) * nc + 121.0 * M) * (double)(n * n);
        const prof_result base = p_memcpy((size_t)(bytes / 2));
        printf("%-44s %9.3f ms (%.1f GB/s nominal, %.2f x memcpy), CPU %.3f ms: %.1fx\n",
               "  one CG iteration ((t30 - t1) / 29)", it_gpu, it_gpu > 0 ? bytes / 1e9 / (it_gpu / 1e3) : 0,
               it_gpu > 0 ? base.median / it_gpu : 0, it_cpu, it_gpu > 0 ? it_cpu / it_gpu : 0);
    }
    mv_cuda_free(&g.k, P_s);
    mv_cuda_free(&g.sens, P_s);
    mv_cuda_free(&g.out, P_s);
    mv_free(&g.hk);
    mv_free(&g.hsens);
    mv_free(&g.hout);
}

/* ---- MRI reconstruction: non-Cartesian CG-SENSE, radial 256^2 ----
   BART's radial trajectory (256 samples x 128 spokes, about R = 3),
   random data and maps, lambda 0.01, tolerance 0: exactly 1 or 11
   iterations. A call includes the host's setup (the CPU's NUFFT plan and
   Toeplitz kernel, made and uploaded per call) and A^H y; the
   per-iteration row is (t11 - t1) / 10 of the two medians (per coil: two
   512^2 cuFFTs, the pad, weight and crop passes, and the coil sum). The
   CPU's mv_cgsense_nc_into beside them (its FFTs pruned to the padding). */
typedef struct {
    mv_vol traj, hk, hsens, hout;
    mv_cuda_vol k, sens, out;
    mv_cg_opts o;
} p_cgnc;

static void op_cgsense_nc(void *c)
{
    p_cgnc *g = (p_cgnc *)c;
    P_CHECK(mv_cuda_cgsense_nc_into(&g->traj, &g->k, &g->sens, &g->out, &g->o, P_s));
}
static void op_cgsense_nc_cpu(void *c)
{
    p_cgnc *g = (p_cgnc *)c;
    P_CHECK(mv_cgsense_nc_into(&g->traj, &g->hk, &g->hsens, &g->hout, &g->o));
}

static void p_recon_cgsense_nc(int64_t nc)
{
    const int64_t n = 256, X = 256, Y = 128, kd[4] = {1, X, Y, nc}, sd[4] = {n, n, 1, nc}, od[3] = {n, n, 1};
    const int its[2] = {1, 11};
    p_cgnc g;
    prof_result r[2], h[2];
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    memset(&g, 0, sizeof(g));
    P_CHECK(mv_traj_radial(&g.traj, X, Y, NULL));
    P_CHECK(mv_vol_alloc(&g.hk, MV_DT_C64, 4, kd, NULL));
    P_CHECK(mv_vol_alloc(&g.hsens, MV_DT_C64, 4, sd, NULL));
    P_CHECK(mv_vol_alloc(&g.hout, MV_DT_C64, 3, od, NULL));
    {
        float *d[2] = {(float *)g.hk.data, (float *)g.hsens.data};
        const int64_t cnt[2] = {2 * X * Y * nc, 2 * n * n * nc};
        for (int b = 0; b < 2; b++)
            for (int64_t i = 0; i < cnt[b]; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                d[b][i] = (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
            }
    }
    P_CHECK(mv_cuda_upload(&g.hk, &g.k, P_s));
    P_CHECK(mv_cuda_upload(&g.hsens, &g.sens, P_s));
    P_CHECK(mv_cuda_vol_alloc(&g.out, MV_DT_C64, 3, od, P_s));
    g.o.lambda = 0.01;
    for (int k = 0; k < 2; k++) {
        char name[96];
        g.o.iterations = its[k];
        r[k] = p_time_gpu(op_cgsense_nc, &g);
        h[k] = prof_run(op_cgsense_nc_cpu, &g, P_iters < 3 ? P_iters : 3);
        snprintf(name, sizeof(name), "CG-SENSE radial 256^2 x %lld coils, %d it%s", (long long)nc, its[k],
                 its[k] > 1 ? "s" : "");
        printf("%-44s %9.3f %9.3f %9.3f   CPU %9.3f ms (%s, %d threads): %.1fx\n", name, r[k].min, r[k].median,
               r[k].mean, h[k].median, mv_isa_name(mv_isa_active()), mv_threads(),
               r[k].median > 0 ? h[k].median / r[k].median : 0);
    }
    {
        const double it_gpu = (r[1].median - r[0].median) / 10.0, it_cpu = (h[1].median - h[0].median) / 10.0;
        printf("%-44s %9.3f ms, CPU %.3f ms: %.1fx\n", "  one CG iteration ((t11 - t1) / 10)", it_gpu, it_cpu,
               it_gpu > 0 ? it_cpu / it_gpu : 0);
    }
    mv_cuda_free(&g.k, P_s);
    mv_cuda_free(&g.sens, P_s);
    mv_cuda_free(&g.out, P_s);
    mv_free(&g.traj);
    mv_free(&g.hk);
    mv_free(&g.hsens);
    mv_free(&g.hout);
}

/* ---- NUFFT: 2D radial 256^2, 402 spokes x 512 samples, 32 coils, tol 1e-3 ---- */

typedef struct p_nu {
    const mv_nufft_plan *cpu;
    mv_cuda_nufft *gpu;
    void *d_img, *d_ks;
    float *h_img, *h_ks;
    int adjoint;
} p_nu;
static void p_nu_gpu(void *c)
{
    p_nu *t = (p_nu *)c;
    P_CHECK(mv_cuda_nufft_execute(t->gpu, t->adjoint, t->adjoint ? t->d_ks : t->d_img, t->adjoint ? t->d_img : t->d_ks,
                                  32, P_s));
}
static void p_nu_cpu(void *c)
{
    p_nu *t = (p_nu *)c;
    P_CHECK(mv_nufft_execute(t->cpu, t->adjoint, t->adjoint ? (const void *)t->h_ks : (const void *)t->h_img,
                             t->adjoint ? (void *)t->h_img : (void *)t->h_ks, 32));
}

/* GPU (device buffers, stream-ordered) and CPU (medvol.h, all threads) on
   the same plan; the GPU plan's coil batch is 32 (one pass). Bytes: image
   and k-space of the 32 coils, read once and written once. */
static void p_nufft(void)
{
    const int64_t N[3] = {256, 256, 1}, X = 512, Y = 402, M = X * Y, C = 32, nvox = 256 * 256;
    mv_vol traj;
    mv_nufft_opts o;
    mv_nufft_plan *cpu = NULL;
    p_nu t;
    memset(&o, 0, sizeof(o));
    memset(&t, 0, sizeof(t));
    o.tol = 1e-3;
    o.coils = 8; /* the CPU's batch: every kernel evaluation serves 8 coils */
    P_CHECK(mv_traj_radial(&traj, X, Y, NULL));
    P_CHECK(mv_nufft_plan_traj(&cpu, N, &traj, &o));
    mv_free(&traj);
    t.cpu = cpu;
    P_CHECK(mv_cuda_nufft_plan_create(cpu, &t.gpu, C, P_s));
    P_CUDA(cudaMalloc(&t.d_img, (size_t)(nvox * C) * 8));
    P_CUDA(cudaMalloc(&t.d_ks, (size_t)(M * C) * 8));
    t.h_img = (float *)malloc((size_t)(nvox * C) * 8);
    t.h_ks = (float *)malloc((size_t)(M * C) * 8);
    if (!t.h_img || !t.h_ks) exit(1);
    for (int64_t i = 0; i < 2 * nvox * C; i++) t.h_img[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f - 0.5f;
    for (int64_t i = 0; i < 2 * M * C; i++) t.h_ks[i] = (float)((i * 40503u) % 997u) / 997.0f - 0.5f;
    P_CUDA(cudaMemcpy(t.d_img, t.h_img, (size_t)(nvox * C) * 8, cudaMemcpyHostToDevice));
    P_CUDA(cudaMemcpy(t.d_ks, t.h_ks, (size_t)(M * C) * 8, cudaMemcpyHostToDevice));
    printf("\n# NUFFT 2D radial: image 256^2, %lld spokes x %lld samples, %lld coils, tol 1e-3 (BART's conventions)\n",
           (long long)Y, (long long)X, (long long)C);
    printf("%-44s %9s %9s %9s %12s %9s   (CPU: %s, %d threads)\n", "NUFFT (median ms)", "min ms", "median", "mean",
           "CPU median", "speedup", mv_isa_name(mv_isa_active()), mv_threads());
    for (int adj = 0; adj <= 1; adj++) {
        int cpu_iters = P_iters < 3 ? P_iters : 3;
        t.adjoint = adj;
        prof_result g = p_time_gpu(p_nu_gpu, &t), h = prof_run(p_nu_cpu, &t, cpu_iters);
        printf("%-44s %9.3f %9.3f %9.3f %12.3f %8.1fx\n",
               adj ? "adjoint (type 1: spread, FFT, deapodize)" : "forward (type 2: deapodize, FFT, interp)", g.min,
               g.median, g.mean, h.median, g.median > 0 ? h.median / g.median : 0);
    }
    mv_cuda_nufft_plan_free(t.gpu, P_s);
    P_CUDA(cudaStreamSynchronize(P_s));
    cudaFree(t.d_img);
    cudaFree(t.d_ks);
    free(t.h_img);
    free(t.h_ks);
    mv_nufft_plan_free(cpu);
}

int main(int argc, char **argv)
{
    int count = 0, size = 256;
    char desc[256];
    size_t f32b;
    int64_t dims[3], cdims[4];
    mv_vol host;
    prof_result r, rbare;
    argc = prof_options(argc, argv);
    if (argc > 1) size = atoi(argv[1]);
    if (argc > 2) P_iters = atoi(argv[2]);
    if (size < 40 || P_iters < 1) { /* the crop row takes 32 voxels off each axis */
        fprintf(stderr, "usage: profile_cuda [size >= 40] [iterations >= 1]\n");
        return 2;
    }
    if (mv_cuda_device_count(&count) != MV_OK || count == 0) {
        printf("profile_cuda: no CUDA device (%s); nothing to profile\n", mv_last_error());
        return 0;
    }
    P_CHECK(mv_cuda_device_describe(0, desc, sizeof(desc)));
    printf("device: %s\n%s\n", desc, mv_build_info());
    printf("# %d^3 volume, %d iterations; xmemcpy = D2D cudaMemcpy of the same traffic, same run\n", size, P_iters);
    P_CUDA(cudaStreamCreate(&P_s));

    B.n = size;
    dims[0] = dims[1] = dims[2] = size;
    f32b = (size_t)size * size * size * 4;
    P_CHECK(mv_phantom_smooth(&host, MV_DT_F32, size, size, size, 1));
    P_CHECK(mv_cuda_upload(&host, &B.in, P_s));
    P_CHECK(mv_cuda_convert(&B.in, &B.in16, MV_DT_I16, NULL, P_s));
    P_CHECK(mv_cuda_vol_alloc(&B.out, MV_DT_F32, 3, dims, P_s));
    P_CHECK(mv_cuda_vol_alloc(&B.out16, MV_DT_I16, 3, dims, P_s));
    P_CHECK(mv_cuda_convert(&B.in, &B.mask, MV_DT_U8, NULL, P_s)); /* nonzero where the phantom is >= 0.5 */
    {
        int64_t cd[3] = {size - 32, size - 32, size - 32};
        P_CHECK(mv_cuda_vol_alloc(&P_crop, MV_DT_F32, 3, cd, P_s));
    }
    {   /* trilinear zoom 256 -> 1.5x along x, y: output bytes 2.25x the input; cubic x0.5 (the CPU's
           "cubic to a coarser grid" row) */
        const int64_t zd[3] = {size * 3 / 2, size * 3 / 2, size}, hd[3] = {size / 2, size / 2, size / 2};
        p_zoom_target(&P_zoom, P_zoom_map, dims, zd);
        p_zoom_target(&P_half, P_half_map, dims, hd);
    }
    P_CHECK(mv_cuda_vol_alloc(&B.c64, MV_DT_C64, 3, dims, P_s));
    P_CHECK(mv_cuda_vol_alloc(&B.c64b, MV_DT_C64, 3, dims, P_s));
    P_CHECK(mv_cuda_convert(&B.in, &B.w, MV_DT_F32, NULL, P_s));
    {   /* 8 coils of a quarter-size volume per coil keep the memory modest */
        int64_t cs = size / 2;
        cdims[0] = cdims[1] = cdims[2] = cs;
        cdims[3] = 8;
        P_CHECK(mv_cuda_vol_alloc(&B.coils, MV_DT_C64, 4, cdims, P_s));
        P_CHECK(mv_cuda_vol_alloc(&B.sens, MV_DT_C64, 4, cdims, P_s));
        P_CHECK(mv_cuda_vol_alloc(&B.rss, MV_DT_F32, 3, cdims, P_s));
        P_CHECK(mv_cuda_vol_alloc(&B.comb, MV_DT_C64, 3, cdims, P_s));
        P_CUDA(cudaMemsetAsync(B.coils.vol.data, 0x3c, mv_vol_bytes(&B.coils.vol), P_s));
        P_CUDA(cudaMemsetAsync(B.sens.vol.data, 0x3b, mv_vol_bytes(&B.sens.vol), P_s));
    }
    P_CUDA(cudaMemsetAsync(B.c64.vol.data, 0x3c, mv_vol_bytes(&B.c64.vol), P_s));
    P_CHECK(mv_cuda_sync(P_s));

    printf("%-44s %9s %9s %9s %9s %8s\n", "GPU operation", "min ms", "median", "mean", "GB/s", "xmemcpy");
    {
        p_copy yard;
        yard.dst = B.out.vol.data;
        yard.src = B.in.vol.data;
        yard.bytes = f32b;
        p_row("cudaMemcpy D2D (the yardstick)", p_time_gpu(p_copy_once, &yard), 2 * f32b);
    }
    p_row("convert int16 -> float32", p_time_gpu(op_convert_i16_f32, NULL), f32b / 2 + f32b);
    p_row("convert float32 -> int16 (round, saturate)", p_time_gpu(op_convert_f32_i16, NULL), f32b + f32b / 2);
    p_row("statistics (float64 reduction, read only)", p_time_gpu(op_stats, NULL), f32b);
    p_row("znorm float32 (stats + write)", p_time_gpu(op_znorm, NULL), 2 * f32b);
    p_row("znorm float32, uint8 mask", p_time_gpu(op_znorm_mask, NULL), 2 * f32b + f32b / 4);
    p_row("rescale float32 to [0, 1]", p_time_gpu(op_rescale, NULL), 2 * f32b);
    p_row("clamp float32", p_time_gpu(op_clamp, NULL), 2 * f32b);
    p_row("flip all three axes", p_time_gpu(op_flip, NULL), 2 * f32b);
    p_row("permute (2, 1, 0) (tiled transpose)", p_time_gpu(op_permute, NULL), 2 * f32b);
    p_row("crop 32 voxels per axis (output bytes x2)", p_time_gpu(op_crop, NULL), 2 * mv_vol_bytes(&P_crop.vol));
    p_row("resample trilinear x1.5 (output bytes x2)", p_time_gpu(op_resample_linear, NULL), 2 * mv_vol_bytes(&P_zoom.vol));
    p_row("resample nearest x1.5 (output bytes x2)", p_time_gpu(op_resample_nearest, NULL), 2 * mv_vol_bytes(&P_zoom.vol));
    p_row("resample cubic x1.5 (output bytes x2)", p_time_gpu(op_resample_cubic, NULL), 2 * mv_vol_bytes(&P_zoom.vol));
    p_row("resample cubic x0.5 (input + output bytes)", p_time_gpu(op_resample_cubic, &P_half),
          f32b + mv_vol_bytes(&P_half.vol));
    p_row("fftshift complex64, 3 axes", p_time_gpu(op_fftshift, NULL), 4 * f32b);
    p_row("density compensation (c64 in place)", p_time_gpu(op_weight, NULL), 4 * f32b + f32b);
    p_row("RSS of 8 coils (c64 -> f32)", p_time_gpu(op_rss, NULL), mv_vol_bytes(&B.coils.vol) + mv_vol_bytes(&B.rss.vol));
    p_row("coil combine, 8 coils", p_time_gpu(op_combine, NULL),
          2 * mv_vol_bytes(&B.coils.vol) + mv_vol_bytes(&B.comb.vol));
    p_filter_rows(size, f32b);
    p_registration_rows(size, f32b);
    {   /* the centred FFT against a bare cuFFT call on the same data */
        int n[3] = {size, size, size};
        if (cufftPlanMany(&P_plan, 3, n, NULL, 1, 0, NULL, 1, 0, CUFFT_C2C, 1) != CUFFT_SUCCESS ||
            cufftSetStream(P_plan, P_s) != CUFFT_SUCCESS) {
            fprintf(stderr, "cufftPlanMany failed\n");
            return 1;
        }
        rbare = p_time_gpu(op_bare_cufft, NULL);
        r = p_time_gpu(op_fftc, NULL);
        p_row("bare cuFFT c2c 3D in place", rbare, 4 * f32b);
        p_row("centred 3D FFT (ortho, shifts folded)", r, 4 * f32b);
        printf("centred FFT / bare cuFFT (median): %.3f (target <= 1.10)\n", r.median / rbare.median);
        cufftDestroy(P_plan);
    }

    p_transport();
    p_nufft();

    p_recon_grappa(2);
    p_recon_grappa(4);
    p_recon_cgsense(1);
    p_recon_cgsense(2);
    p_recon_cgsense_nc(8);
    p_recon_cgsense_nc(32);

    printf("\n%-44s %9s %9s %9s %9s\n", "transfer", "min ms", "median", "mean", "GB/s");
    p_transfers(f32b);

    {   /* GPU vs CPU on the same ops and the same volume */
        static const char *names[] = {"convert int16 -> float32", "znorm float32", "rescale float32", "clamp float32",
                                      "flip all three axes", "permute (2, 1, 0)"};
        static const p_gpu_fn gpu[] = {op_convert_i16_f32, op_znorm, op_rescale, op_clamp, op_flip, op_permute};
        p_cpu c;
        int k, cpu_iters = P_iters < 5 ? P_iters : 5;
        memset(&c, 0, sizeof(c));
        c.in = host;
        P_CHECK(mv_vol_alloc(&c.out, MV_DT_F32, 3, dims, NULL));
        P_CHECK(mv_convert(&host, &c.out16, MV_DT_I16, NULL));
        printf("\n%-44s %12s %12s %9s   (CPU: %s, %d threads)\n", "GPU vs CPU (median ms)", "GPU", "CPU", "speedup",
               mv_isa_name(mv_isa_active()), mv_threads());
        for (k = 0; k < 6; k++) {
            prof_result g = p_time_gpu(gpu[k], NULL), h;
            c.which = k;
            h = prof_run(p_cpu_once, &c, cpu_iters);
            printf("%-44s %12.3f %12.3f %8.1fx\n", names[k], g.median, h.median, g.median > 0 ? h.median / g.median : 0);
        }
        mv_free(&c.out);
        mv_free(&c.out16);
    }
    mv_free(&host);
    {   /* device memory back, so a leak check (compute-sanitizer, the CUDA emulator) sees none */
        mv_cuda_vol *held[] = {&B.in,  &B.in16, &B.out,  &B.out16, &B.mask, &B.c64,  &B.c64b, &B.coils,
                               &B.sens, &B.comb, &B.rss, &B.w,     &P_crop, &P_zoom, &P_half};
        for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) mv_cuda_free(held[i], P_s);
    }
    (void)prof_row; /* profile.h helpers of the CPU profiles, unused here */
    (void)prof_header;
    (void)prof_memcpy;
    mv_cuda_plan_cache_clear();
    cudaStreamDestroy(P_s);
    return 0;
}
