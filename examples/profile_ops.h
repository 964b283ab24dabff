/* profile_ops.h - the intensity and spatial profiles, shared by
   profile_z_norm, profile_rescale, profile_crop_pad, profile_flip and
   profile_all. Include after medvol.h and profile.h.

   Every row times one call on a size^3 phantom (mv_phantom_smooth: smooth
   blobs plus noise, float32 or int16) and prints min / median / mean ms,
   MB/s of the input bytes, and the ratio to memcpy of the same bytes in the
   same run, interleaved with the op iteration by iteration (intensity: the
   input's bytes; crop, pad and flip: the output's bytes, which is what they
   move). "warm" rows write into a caller buffer
   written once before (no page faults); "fresh" rows let the library
   allocate the result, as a convenience call does. Each profile runs on one
   thread and then on all threads. */
#ifndef MEDVOL_PROFILE_OPS_H
#define MEDVOL_PROFILE_OPS_H

#include <sys/stat.h>

/* each program uses some of these */
#if defined(__GNUC__) || defined(__clang__)
#define POPS_FN static __attribute__((unused))
#else
#define POPS_FN static
#endif

static void pops_check(mv_status st, const char *what)
{
    if (st != MV_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, mv_status_str(st), mv_last_error());
        exit(1);
    }
}

/* one timed call: a chain into a warm buffer, a chain allocating, or a
   crop-first load of a chain */
typedef struct pops_ctx {
    const mv_vol *in;
    mv_vol *out;            /* warm caller buffer, or NULL: allocate */
    mv_op ops[4];
    int n_ops;
    mv_intensity_opts io;   /* for the intensity calls */
    int call;               /* 0 chain, 1 znorm, 2 rescale, 3 clamp, 4 load chain, 5 convert */
    double lo, hi;
    const char *path;
    int threads;
} pops_ctx;

static void pops_once(void *c)
{
    pops_ctx *p = (pops_ctx *)c;
    mv_vol tmp;
    mv_status st = MV_OK;
    mv_pipeline_opts po;
    memset(&po, 0, sizeof(po));
    po.threads = p->threads;
    p->io.threads = p->threads;
    switch (p->call) {
    case 0: st = p->out ? mv_pipeline_into(p->in, p->ops, p->n_ops, p->out, &po) : mv_pipeline(p->in, p->ops, p->n_ops, &tmp, &po); break;
    case 1: st = p->out ? mv_znorm_into(p->in, p->out, &p->io) : mv_znorm(p->in, &tmp, &p->io); break;
    case 2: st = p->out ? mv_rescale_into(p->in, p->out, p->lo, p->hi, &p->io) : mv_rescale(p->in, &tmp, p->lo, p->hi, &p->io); break;
    case 3: st = p->out ? mv_clamp_into(p->in, p->out, p->lo, p->hi, &p->io) : mv_clamp(p->in, &tmp, p->lo, p->hi, &p->io); break;
    case 4: st = mv_pipeline_load(p->path, p->ops, p->n_ops, &tmp, &po); break;
    case 5: {
        mv_convert_opts co;
        memset(&co, 0, sizeof(co));
        co.threads = p->threads;
        st = mv_convert_into(p->in, p->out, &co);
        break;
    }
    }
    pops_check(st, "profile");
    if (!p->out || p->call == 4) mv_free(&tmp);
}

/* a warm result buffer for in run through ops */
static mv_vol pops_buffer(const mv_vol *in, const mv_op *ops, int n)
{
    mv_vol g, b;
    pops_check(mv_pipeline_geometry(in, ops, n, &g), "geometry");
    pops_check(mv_vol_alloc(&b, g.dtype, g.ndim, g.dim, NULL), "alloc"); /* zeroed: touched, warm */
    mv_free(&g);
    return b;
}

/* the op interleaved with memcpy of `bytes`: the ratio comes from the
   paired runs (base is the profile's first memcpy, printed for reference) */
static void pops_row(const char *name, pops_ctx *c, int iters, size_t bytes, prof_result base)
{
    prof_result op, paired;
    (void)base;
    prof_run_paired(pops_once, c, iters, bytes, &op, &paired);
    prof_row(name, op, bytes, paired);
}

static void pops_title(const char *what, int64_t size, int iters, int threads)
{
    printf("## %s, %lld^3, %d iterations, %d thread%s\n", what, (long long)size, iters, threads, threads > 1 ? "s" : "");
}

static void pops_phantoms(int64_t size, mv_vol *f32, mv_vol *i16)
{
    pops_check(mv_phantom_smooth(f32, MV_DT_F32, size, size, size, 1), "phantom");
    pops_check(mv_phantom_smooth(i16, MV_DT_I16, size, size, size, 1), "phantom");
    i16->meta.scl_slope = 0.5; /* stored int16 with NIfTI scaling, as scanners write */
    i16->meta.scl_inter = 10;
}

/* the thread counts every profile runs: 1, then all cores */
static int pops_threads(int k) { return k == 0 ? 1 : mv_threads(); }
static int pops_thread_runs(void) { return mv_threads() > 1 ? 2 : 1; }

/* z-normalize: statistics pass + write pass, with known statistics (the
   write pass alone: what a load that computes statistics on the way in
   leaves), nonzero-only, int16 input, fused crop-first load */
POPS_FN void profile_z_norm_size(int64_t size, int iters)
{
    mv_vol f32, i16, out, fz;
    size_t n = (size_t)(size * size * size);
    prof_result b4 = prof_memcpy(n * 4, iters), b2 = prof_memcpy(n * 2, iters);
    mv_stats st;
    pops_ctx c;
    int k;
    char path[256];
    pops_phantoms(size, &f32, &i16);
    for (k = 0; k < (int)n; k += 5) ((float *)f32.data)[k] = 0; /* background for nonzero-only */
    pops_check(mv_vol_alloc(&out, MV_DT_F32, 3, f32.dim, NULL), "alloc");
    pops_check(mv_compute_stats(&f32, &st, NULL), "stats");
    mkdir("build", 0755);
    snprintf(path, sizeof(path), "build/profile-znorm-%lld.nii", (long long)size);
    pops_check(mv_save(path, &i16, NULL), "save");
    for (k = 0; k < pops_thread_runs(); k++) {
        memset(&c, 0, sizeof(c));
        c.threads = pops_threads(k);
        c.in = &f32;
        c.out = &out;
        c.call = 1;
        pops_title("z-normalize", size, iters, c.threads);
        prof_row("memcpy float32 (warm dst)", b4, n * 4, b4);
        pops_row("znorm f32 -> f32 warm", &c, iters, n * 4, b4);
        c.io.stats = &st;
        pops_row("znorm f32, known stats (write pass)", &c, iters, n * 4, b4);
        c.io.stats = NULL;
        pops_check(mv_vol_copy(&f32, &fz), "copy");
        c.in = c.out = &fz;
        pops_row("znorm f32 in place", &c, iters, n * 4, b4);
        mv_free(&fz);
        c.in = &f32;
        c.out = &out;
        c.io.nonzero = 1;
        pops_row("znorm f32 nonzero-only warm", &c, iters, n * 4, b4);
        c.io.nonzero = 0;
        c.out = NULL;
        pops_row("znorm f32 -> new volume (fresh)", &c, iters, n * 4, b4);
        c.in = &i16;
        c.out = &out;
        prof_row("memcpy int16 (warm dst)", b2, n * 2, b2);
        pops_row("znorm int16*slope -> f32 warm", &c, iters, n * 2, b2);
        c.call = 4;
        c.path = path;
        c.ops[0] = mv_op_znorm(0);
        c.n_ops = 1;
        pops_row("load .nii int16 + znorm (fused, fresh)", &c, iters, n * 2, b2);
    }
    remove(path);
    mv_free(&out);
    mv_free(&f32);
    mv_free(&i16);
}

/* min-max rescale, percentile rescale, clamp, cast */
POPS_FN void profile_rescale_size(int64_t size, int iters)
{
    mv_vol f32, i16, out, o16;
    size_t n = (size_t)(size * size * size);
    prof_result b4 = prof_memcpy(n * 4, iters), b2 = prof_memcpy(n * 2, iters);
    pops_ctx c;
    int k;
    pops_phantoms(size, &f32, &i16);
    pops_check(mv_vol_alloc(&out, MV_DT_F32, 3, f32.dim, NULL), "alloc");
    pops_check(mv_vol_alloc(&o16, MV_DT_I16, 3, f32.dim, NULL), "alloc");
    for (k = 0; k < pops_thread_runs(); k++) {
        memset(&c, 0, sizeof(c));
        c.threads = pops_threads(k);
        c.in = &f32;
        c.out = &out;
        pops_title("rescale, clamp, cast", size, iters, c.threads);
        prof_row("memcpy float32 (warm dst)", b4, n * 4, b4);
        c.call = 2;
        c.lo = 0;
        c.hi = 1;
        pops_row("rescale min-max f32 -> f32 warm", &c, iters, n * 4, b4);
        c.io.pct_lo = 0.5;
        c.io.pct_hi = 99.5;
        pops_row("rescale percentiles 0.5..99.5 warm", &c, iters, n * 4, b4);
        c.io.pct_lo = c.io.pct_hi = 0;
        c.call = 3;
        c.lo = 100;
        c.hi = 700;
        pops_row("clamp f32 -> f32 warm", &c, iters, n * 4, b4);
        c.out = NULL;
        pops_row("clamp f32 -> new volume (fresh)", &c, iters, n * 4, b4);
        c.out = &o16;
        c.call = 5;
        pops_row("cast f32 -> int16 (round, saturate) warm", &c, iters, n * 4, b4);
        c.in = &i16;
        c.out = &out;
        c.io.raw = 1;
        prof_row("memcpy int16 (warm dst)", b2, n * 2, b2);
        pops_row("cast int16 -> f32 warm", &c, iters, n * 2, b2);
        c.call = 2;
        c.lo = 0;
        c.hi = 1;
        pops_row("rescale min-max int16 -> f32 warm", &c, iters, n * 2, b2);
    }
    mv_free(&out);
    mv_free(&o16);
    mv_free(&f32);
    mv_free(&i16);
}

/* crop (to 3/4 per axis, centred) and crop_expand (pad to 5/4), like the
   medrs profile; crop-first load of the crop from a file */
POPS_FN void profile_crop_pad_size(int64_t size, int iters)
{
    mv_vol f32, i16, oc, oe, oc16;
    int64_t cs = size * 3 / 4, es = size * 5 / 4;
    size_t nc = (size_t)(cs * cs * cs), ne = (size_t)(es * es * es);
    prof_result bc4 = prof_memcpy(nc * 4, iters), be4 = prof_memcpy(ne * 4, iters), bc2 = prof_memcpy(nc * 2, iters);
    pops_ctx c;
    int k;
    char path[256];
    pops_phantoms(size, &f32, &i16);
    memset(&c, 0, sizeof(c));
    c.ops[0] = mv_op_crop_or_pad(cs, cs, cs, 0);
    oc = pops_buffer(&f32, c.ops, 1);
    oc16 = pops_buffer(&i16, c.ops, 1);
    c.ops[0] = mv_op_crop_or_pad(es, es, es, 0);
    oe = pops_buffer(&f32, c.ops, 1);
    mkdir("build", 0755);
    snprintf(path, sizeof(path), "build/profile-crop-%lld.nii", (long long)size);
    pops_check(mv_save(path, &f32, NULL), "save");
    for (k = 0; k < pops_thread_runs(); k++) {
        memset(&c, 0, sizeof(c));
        c.threads = pops_threads(k);
        c.n_ops = 1;
        pops_title("crop / pad (ratios: memcpy of the output bytes)", size, iters, c.threads);
        c.in = &f32;
        c.ops[0] = mv_op_crop_or_pad(cs, cs, cs, 0);
        c.out = &oc;
        prof_row("memcpy of the cropped float32 bytes", bc4, nc * 4, bc4);
        pops_row("crop f32 to 3/4 warm", &c, iters, nc * 4, bc4);
        c.out = NULL;
        pops_row("crop f32 to 3/4 (fresh)", &c, iters, nc * 4, bc4);
        c.call = 4;
        c.path = path;
        pops_row("crop-first load .nii f32 (fresh)", &c, iters, nc * 4, bc4);
        c.call = 0;
        c.in = &i16;
        c.out = &oc16;
        prof_row("memcpy of the cropped int16 bytes", bc2, nc * 2, bc2);
        pops_row("crop int16 to 3/4 warm", &c, iters, nc * 2, bc2);
        c.in = &f32;
        c.ops[0] = mv_op_crop_or_pad(es, es, es, 0);
        c.out = &oe;
        prof_row("memcpy of the padded float32 bytes", be4, ne * 4, be4);
        pops_row("crop_expand f32 to 5/4 warm", &c, iters, ne * 4, be4);
        c.out = NULL;
        pops_row("crop_expand f32 to 5/4 (fresh)", &c, iters, ne * 4, be4);
    }
    remove(path);
    mv_free(&oc);
    mv_free(&oe);
    mv_free(&oc16);
    mv_free(&f32);
    mv_free(&i16);
}

/* flips: x (a row reversal), z (slice order), all axes; int16 and float32 */
POPS_FN void profile_flip_size(int64_t size, int iters)
{
    mv_vol f32, i16, o4, o2;
    size_t n = (size_t)(size * size * size);
    prof_result b4 = prof_memcpy(n * 4, iters), b2 = prof_memcpy(n * 2, iters);
    pops_ctx c;
    int k;
    pops_phantoms(size, &f32, &i16);
    pops_check(mv_vol_alloc(&o4, MV_DT_F32, 3, f32.dim, NULL), "alloc");
    pops_check(mv_vol_alloc(&o2, MV_DT_I16, 3, f32.dim, NULL), "alloc");
    for (k = 0; k < pops_thread_runs(); k++) {
        memset(&c, 0, sizeof(c));
        c.threads = pops_threads(k);
        c.n_ops = 1;
        pops_title("flip (ratios: memcpy of the output bytes)", size, iters, c.threads);
        prof_row("memcpy float32 (warm dst)", b4, n * 4, b4);
        c.in = &f32;
        c.out = &o4;
        c.ops[0] = mv_op_flip(1);
        pops_row("flip f32 axis 0 warm", &c, iters, n * 4, b4);
        c.ops[0] = mv_op_flip(4);
        pops_row("flip f32 axis 2 warm", &c, iters, n * 4, b4);
        c.ops[0] = mv_op_flip(7);
        pops_row("flip f32 all axes warm", &c, iters, n * 4, b4);
        c.out = NULL;
        pops_row("flip f32 all axes (fresh)", &c, iters, n * 4, b4);
        c.ops[0] = mv_op_permute(2, 1, 0);
        c.out = &o4;
        pops_row("permute f32 (2,1,0): x <-> z warm", &c, iters, n * 4, b4);
        prof_row("memcpy int16 (warm dst)", b2, n * 2, b2);
        c.in = &i16;
        c.out = &o2;
        c.ops[0] = mv_op_flip(1);
        pops_row("flip int16 axis 0 warm", &c, iters, n * 2, b2);
        c.ops[0] = mv_op_flip(7);
        pops_row("flip int16 all axes warm", &c, iters, n * 2, b2);
    }
    mv_free(&o4);
    mv_free(&o2);
    mv_free(&f32);
    mv_free(&i16);
}

/* the usage line of the single-profile programs: [size] [iterations] */
POPS_FN int pops_main(int argc, char **argv, const char *prog, void (*fn)(int64_t, int))
{
    int64_t size;
    int iters;
    argc = prof_options(argc, argv);
    size = argc > 1 ? atoll(argv[1]) : 128;
    iters = argc > 2 ? atoi(argv[2]) : 10;
    if (size < 4 || size > 4096 || iters < 1) {
        fprintf(stderr, "usage: %s [size] [iterations] [--isa NAME] [--threads N]\n", prog);
        return 2;
    }
    prof_header(prog);
    fn(size, iters);
    return 0;
}

#endif
