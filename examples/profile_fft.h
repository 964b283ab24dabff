/* profile_fft.h - the FFT profile, shared by profile_fft and profile_all.
   Include after medvol.h and profile.h. Define PROFILE_FFT_WITH_FFTW (and
   link -lfftw3f_threads -lfftw3f) to time fftwf with FFTW_MEASURE plans
   beside medvol in the same run: only the profile links FFTW, never the
   library.

   Cases for size N: N^3 c2c 3D, 32 x N x N batched 2D c2c (32 coils of
   N x N slices), N^3 r2c 3D, and two sizes that are not powers of two
   (240x240x160 and 250^3 when N is 256: 15N/16 x 15N/16 x 5N/8 and
   (N - N/42)^3). Each on 1 thread and on all threads.

   Timing: plans made before any timing, warm output and scratch buffers
   (mv_fft_execute_into: no allocation in the timed call), out of place.
   Every run is interleaved with a memcpy of the input bytes (the
   bandwidth yardstick) and, with FFTW, FFTW's run: all three see the same
   moments of a shared machine. GFLOP/s = 5 N log2 N / t for c2c, 2.5 N log2 N
   / t for r2c (N = points transformed, FFTW's convention). With FFTW the
   outputs are compared (relative RMS) before any time is printed. */
#ifndef MEDVOL_PROFILE_FFT_H
#define MEDVOL_PROFILE_FFT_H

#include <math.h>
#if defined(PROFILE_FFT_WITH_FFTW)
#include <fftw3.h>
#endif

typedef struct pfft_case {
    char name[96];
    int64_t dims[3]; /* dims[0] fastest */
    unsigned axes;
    int r2c;
} pfft_case;

static void pfft_check(mv_status st, const char *what)
{
    if (st != MV_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, mv_status_str(st), mv_last_error());
        exit(1);
    }
}

/* medvol plans with opts.measure (profile_fft --measure) */
static int pfft_measure;

static pfft_case pfft_make_case(const char *name, int64_t d0, int64_t d1, int64_t d2, unsigned axes, int r2c)
{
    pfft_case c;
    snprintf(c.name, sizeof(c.name), "%s", name);
    c.dims[0] = d0;
    c.dims[1] = d1;
    c.dims[2] = d2;
    c.axes = axes;
    c.r2c = r2c;
    return c;
}

static int64_t pfft_points(const pfft_case *c) { return c->dims[0] * c->dims[1] * c->dims[2]; }

/* the lowest transformed axis: the one r2c halves */
static int pfft_half_axis(const pfft_case *c)
{
    int h = 0;
    while (!(c->axes & (1u << h))) h++;
    return h;
}

static size_t pfft_in_bytes(const pfft_case *c) { return (size_t)pfft_points(c) * (c->r2c ? 4 : 8); }
static size_t pfft_out_bytes(const pfft_case *c)
{
    int h = pfft_half_axis(c);
    int64_t n = pfft_points(c);
    if (c->r2c) n = n / c->dims[h] * (c->dims[h] / 2 + 1);
    return (size_t)n * 8;
}

static double pfft_flops(const pfft_case *c)
{
    double lg = 0;
    int k;
    for (k = 0; k < 3; k++)
        if (c->axes & (1u << k)) lg += log2((double)c->dims[k]);
    return (c->r2c ? 2.5 : 5.0) * (double)pfft_points(c) * lg;
}

/* a buffer written once (warm: page faults happen here, not in the timing) */
static void *pfft_alloc_warm(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "profile_fft: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

/* one timed call of each engine */
typedef struct pfft_run {
    const mv_fft_plan *plan;
    const float *in;
    float *out;
    void *scratch;
#if defined(PROFILE_FFT_WITH_FFTW)
    fftwf_plan fw;
    float *fw_out;
    int r2c;
#endif
} pfft_run;

static void pfft_medvol_once(void *ctx)
{
    pfft_run *r = (pfft_run *)ctx;
    pfft_check(mv_fft_execute_into(r->plan, r->in, r->out, r->scratch), "mv_fft_execute_into");
}

#if defined(PROFILE_FFT_WITH_FFTW)
static void pfft_fftw_once(void *ctx)
{
    pfft_run *r = (pfft_run *)ctx;
    if (r->r2c) fftwf_execute_dft_r2c(r->fw, (float *)(uintptr_t)r->in, (fftwf_complex *)r->fw_out);
    else fftwf_execute_dft(r->fw, (fftwf_complex *)(uintptr_t)r->in, (fftwf_complex *)r->fw_out);
}

/* FFTW's guru dims in our layout: transformed axes slowest first, the halved
   axis (our lowest transformed one) last for r2c, as rfftn's last axis */
static fftwf_plan pfft_fftw_plan(const pfft_case *c, float *in, float *out, int threads)
{
    fftwf_iodim tr[3], hm[3];
    int64_t cd[3], ins = 1, outs = 1;
    int64_t istride[3], ostride[3];
    int ntr = 0, nhm = 0, k, h = pfft_half_axis(c);
    for (k = 0; k < 3; k++) cd[k] = c->dims[k];
    if (c->r2c) cd[h] = c->dims[h] / 2 + 1;
    for (k = 0; k < 3; k++) {
        istride[k] = ins;
        ostride[k] = outs;
        ins *= c->dims[k];
        outs *= cd[k];
    }
    for (k = 2; k >= 0; k--) {
        fftwf_iodim d;
        d.n = (int)c->dims[k];
        d.is = (int)istride[k];
        d.os = (int)ostride[k];
        if (!(c->axes & (1u << k))) hm[nhm++] = d;
        else if (!c->r2c || k != h) tr[ntr++] = d;
    }
    if (c->r2c) {
        tr[ntr].n = (int)c->dims[h];
        tr[ntr].is = (int)istride[h];
        tr[ntr].os = (int)ostride[h];
        ntr++;
    }
    fftwf_plan_with_nthreads(threads);
    if (c->r2c) return fftwf_plan_guru_dft_r2c(ntr, tr, nhm, hm, in, (fftwf_complex *)out, FFTW_MEASURE);
    return fftwf_plan_guru_dft(ntr, tr, nhm, hm, (fftwf_complex *)in, (fftwf_complex *)out, FFTW_FORWARD, FFTW_MEASURE);
}

static double pfft_rel_rms(const float *y, const float *ref, size_t n)
{
    double e = 0, s = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)y[i] - (double)ref[i];
        e += d * d;
        s += (double)ref[i] * (double)ref[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}
#endif

static void pfft_row(const char *name, int threads, const char *engine, prof_result r, double flops, prof_result base,
                     double vs)
{
    printf("%-22s %3d %-7s %9.3f %9.3f %9.3f %8.2f %8.2f", name, threads, engine, r.min, r.median, r.mean,
           r.median > 0 ? flops / 1e6 / r.median : 0, r.median > 0 ? base.median / r.median : 0);
    if (vs > 0) printf(" %8.2f", vs);
    printf("\n");
}

/* one case on `threads` threads: medvol (and FFTW), each paired with memcpy */
static void pfft_case_run(const pfft_case *c, float *in, float *out, float *fw_out, int threads, int iters)
{
    mv_fft_plan *plan = NULL;
    mv_fft_opts o;
    pfft_run r;
    prof_result mv_r, mv_base;
    memset(&o, 0, sizeof(o));
    o.threads = threads;
    o.measure = pfft_measure;
    if (c->r2c) pfft_check(mv_fft_plan_r2c(&plan, 3, c->dims, c->axes, &o), "mv_fft_plan_r2c");
    else pfft_check(mv_fft_plan_c2c(&plan, 3, c->dims, c->axes, 0, &o), "mv_fft_plan_c2c");
    {
        char desc[640];
        pfft_check(mv_fft_plan_describe(plan, desc, sizeof(desc)), "mv_fft_plan_describe");
        printf("# plan: %s\n", desc);
    }
    memset(&r, 0, sizeof(r));
    r.plan = plan;
    r.in = in;
    r.out = out;
    r.scratch = pfft_alloc_warm(mv_fft_scratch_size(plan));
#if defined(PROFILE_FFT_WITH_FFTW)
    {
        prof_result fw_r, fw_base;
        double diff;
        /* FFTW_MEASURE runs trial transforms in the arrays: plan on copies */
        float *tin = (float *)pfft_alloc_warm(pfft_in_bytes(c));
        r.fw = pfft_fftw_plan(c, tin, fw_out, threads);
        free(tin);
        if (!r.fw) {
            fprintf(stderr, "%s: FFTW's planner failed\n", c->name);
            exit(1);
        }
        r.fw_out = fw_out;
        r.r2c = c->r2c;
        pfft_medvol_once(&r);
        pfft_fftw_once(&r);
        diff = pfft_rel_rms(out, fw_out, pfft_out_bytes(c) / 4);
        if (!(diff <= 1e-5)) {
            fprintf(stderr, "%s: medvol and FFTW disagree (relative RMS %.3g): no times quoted\n", c->name, diff);
            exit(1);
        }
        prof_run_paired(pfft_medvol_once, &r, iters, pfft_in_bytes(c), &mv_r, &mv_base);
        prof_run_paired(pfft_fftw_once, &r, iters, pfft_in_bytes(c), &fw_r, &fw_base);
        pfft_row(c->name, threads, "medvol", mv_r, pfft_flops(c), mv_base, fw_r.median / mv_r.median);
        pfft_row(c->name, threads, "fftw", fw_r, pfft_flops(c), fw_base, 0);
        printf("%-22s %3d %-7s %9.3f %9.3f %9.3f  (relative RMS medvol vs FFTW %.1e)\n", c->name, threads, "memcpy",
               mv_base.min, mv_base.median, mv_base.mean, diff);
        fftwf_destroy_plan(r.fw);
    }
#else
    (void)fw_out;
    prof_run_paired(pfft_medvol_once, &r, iters, pfft_in_bytes(c), &mv_r, &mv_base);
    pfft_row(c->name, threads, "medvol", mv_r, pfft_flops(c), mv_base, 0);
    printf("%-22s %3d %-7s %9.3f %9.3f %9.3f\n", c->name, threads, "memcpy", mv_base.min, mv_base.median, mv_base.mean);
#endif
    free(r.scratch);
    mv_fft_plan_free(plan);
}

/* the one-call form into fresh memory: what a convenience caller pays
   (plan from the cache, scratch and output allocated, first-touch faults) */
typedef struct pfft_fresh {
    const pfft_case *c;
    const float *in;
    int threads;
} pfft_fresh;
static void pfft_fresh_once(void *ctx)
{
    pfft_fresh *f = (pfft_fresh *)ctx;
    mv_fft_opts o;
    void *out = malloc(pfft_out_bytes(f->c));
    memset(&o, 0, sizeof(o));
    o.threads = f->threads;
    if (!out) pfft_check(MV_ERR_OUT_OF_MEMORY, "profile_fft");
    pfft_check(mv_fft_c2c(f->in, out, 3, f->c->dims, f->c->axes, 0, &o), "mv_fft_c2c");
    free(out);
}

static void pfft_size(int64_t n, int iters)
{
    pfft_case cases[5];
    int64_t a = n * 15 / 16, z = n * 5 / 8, b = n - (n / 42 > 0 ? n / 42 : 1);
    char name[96];
    int i, t, nt = mv_threads();
    int thread_counts[2];
    thread_counts[0] = 1;
    thread_counts[1] = nt;
    snprintf(name, sizeof(name), "%lld^3 c2c", (long long)n);
    cases[0] = pfft_make_case(name, n, n, n, 7, 0);
    snprintf(name, sizeof(name), "32x%lldx%lld c2c 2D", (long long)n, (long long)n);
    cases[1] = pfft_make_case(name, n, n, 32, 3, 0);
    snprintf(name, sizeof(name), "%lld^3 r2c", (long long)n);
    cases[2] = pfft_make_case(name, n, n, n, 7, 1);
    snprintf(name, sizeof(name), "%lldx%lldx%lld c2c", (long long)a, (long long)a, (long long)z);
    cases[3] = pfft_make_case(name, a, a, z, 7, 0);
    snprintf(name, sizeof(name), "%lld^3 c2c", (long long)b);
    cases[4] = pfft_make_case(name, b, b, b, 7, 0);
    printf("\n# ==== FFT, size %lld (%d iterations; GF/s = 5 N log2 N, r2c 2.5 N log2 N) ====\n", (long long)n, iters);
    printf("%-22s %3s %-7s %9s %9s %9s %8s %8s %8s\n", "case", "thr", "engine", "min ms", "median", "mean", "GFLOP/s",
           "xmemcpy", "vs FFTW");
    for (i = 0; i < 5; i++) {
        const pfft_case *c = &cases[i];
        size_t j, nin = pfft_in_bytes(c) / 4;
        float *in = (float *)pfft_alloc_warm(pfft_in_bytes(c));
        float *out = (float *)pfft_alloc_warm(pfft_out_bytes(c));
        float *fw_out = NULL;
        uint32_t s = 12345;
#if defined(PROFILE_FFT_WITH_FFTW)
        fw_out = (float *)pfft_alloc_warm(pfft_out_bytes(c));
#endif
        for (j = 0; j < nin; j++) {
            s = s * 1664525u + 1013904223u;
            in[j] = (float)(s >> 8) / 16777216.0f - 0.5f;
        }
        for (t = 0; t < (nt > 1 ? 2 : 1); t++) pfft_case_run(c, in, out, fw_out, thread_counts[t], iters);
        if (i == 0) { /* the convenience form, once per size */
            pfft_fresh f;
            prof_result r, base;
            f.c = c;
            f.in = in;
            f.threads = nt;
            prof_run_paired(pfft_fresh_once, &f, iters, pfft_in_bytes(c), &r, &base);
            pfft_row("  mv_fft_c2c, fresh out", nt, "medvol", r, pfft_flops(c), base, 0);
            mv_fft_cache_clear();
        }
        free(in);
        free(out);
        free(fw_out);
    }
}

#endif
