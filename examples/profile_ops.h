/* profile_ops.h - the intensity, spatial and resampling profiles, shared
   by profile_z_norm, profile_rescale, profile_crop_pad, profile_flip,
   profile_resample and profile_all. Include after medvol.h and profile.h.

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

#include <math.h>
#include <stdint.h>
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

/* ---- resampling ----
   Rows resample the float32 phantom into a warm caller buffer
   (mv_resample_into; cubic with a warm scratch) and, last, through the
   allocating forms (fresh output memory each time). Ratios: memcpy of the
   OUTPUT bytes, interleaved with the op (a resampling writes the output
   once and reads the input through caches: the output is what it must
   move). */
typedef struct pops_rs_ctx {
    const mv_vol *in;
    mv_vol out;             /* warm caller buffer (into) */
    double map[4][4];
    mv_resample_opts o;
    int alloc;              /* 1: mv_resample_shape into fresh memory */
    int64_t shape[3];
} pops_rs_ctx;

static void pops_rs_once(void *c)
{
    pops_rs_ctx *r = (pops_rs_ctx *)c;
    if (r->alloc) {
        mv_vol v;
        pops_check(mv_resample_shape(r->in, &v, r->shape, &r->o), "resample");
        mv_free(&v);
    } else {
        pops_check(mv_resample_into(r->in, &r->out, (const double(*)[4])r->map, &r->o), "resample");
    }
}

/* scipy zoom's grid (grid_mode=True): output o samples (o + 0.5) * in/out - 0.5 */
static void pops_rs_zoom_map(double m[4][4], const int64_t in[3], const int64_t out[3])
{
    int a;
    memset(m, 0, 16 * sizeof(double));
    for (a = 0; a < 3; a++) {
        m[a][a] = (double)in[a] / (double)out[a];
        m[a][3] = 0.5 * m[a][a] - 0.5;
    }
    m[3][3] = 1;
}

/* a 15 degree turn about z and 5 about x, about the volume's centre: a
   general (non-separable) map */
static void pops_rs_rotation_map(double m[4][4], int64_t n)
{
    double az = 15 * 3.14159265358979 / 180, ax = 5 * 3.14159265358979 / 180, c = (double)(n - 1) / 2;
    double R[3][3];
    int r, k;
    R[0][0] = cos(az);
    R[0][1] = -sin(az) * cos(ax);
    R[0][2] = sin(az) * sin(ax);
    R[1][0] = sin(az);
    R[1][1] = cos(az) * cos(ax);
    R[1][2] = -cos(az) * sin(ax);
    R[2][0] = 0;
    R[2][1] = sin(ax);
    R[2][2] = cos(ax);
    for (r = 0; r < 3; r++) {
        m[r][3] = c;
        for (k = 0; k < 3; k++) {
            m[r][k] = R[r][k];
            m[r][3] -= R[r][k] * c;
        }
    }
    m[3][0] = m[3][1] = m[3][2] = 0;
    m[3][3] = 1;
}

static void pops_rs_row(const char *name, pops_rs_ctx *r, int iters)
{
    const int64_t *d = r->alloc ? r->shape : r->out.dim;
    size_t out_bytes = (size_t)(d[0] * d[1] * d[2]) * 4;
    prof_result op, paired;
    char label[96];
    prof_run_paired(pops_rs_once, r, iters, out_bytes, &op, &paired);
    snprintf(label, sizeof(label), "%s -> %lldx%lldx%lld", name, (long long)d[0], (long long)d[1], (long long)d[2]);
    prof_row(label, op, mv_vol_bytes(r->in), paired);
}

/* trilinear x0.5, x2 (below 512^3: a 1024^3 float32 output is 4 GiB) and
   0.8 x 0.8 x 1.5 mm -> 1 mm; nearest; cubic; a rotation (general map);
   the allocating forms */
POPS_FN void profile_resample_size(int64_t size, int iters)
{
    static const struct {
        const char *name;
        mv_interp interp;
        int target; /* 0 half, 1 twice, 2 aniso, 3 rotated */
    } ops[] = {
        {"linear x0.5", MV_INTERP_LINEAR, 0},
        {"linear x2", MV_INTERP_LINEAR, 1},
        {"linear 0.8x0.8x1.5mm->1mm", MV_INTERP_LINEAR, 2},
        {"nearest 0.8x0.8x1.5mm->1mm", MV_INTERP_NEAREST, 2},
        {"nearest x2", MV_INTERP_NEAREST, 1},
        {"cubic x0.5", MV_INTERP_CUBIC, 0},
        {"cubic x2", MV_INTERP_CUBIC, 1},
        {"cubic 0.8x0.8x1.5mm->1mm", MV_INTERP_CUBIC, 2},
        {"linear rotated 15deg", MV_INTERP_LINEAR, 3},
        {"nearest rotated 15deg", MV_INTERP_NEAREST, 3},
        {"cubic rotated 15deg", MV_INTERP_CUBIC, 3},
    };
    static const char *alloc_names[] = {"alloc: linear x2", "alloc: linear 0.8x0.8x1.5mm->1mm",
                                        "alloc: cubic 0.8x0.8x1.5mm->1mm"};
    int64_t n3[3], half[3], twice[3], aniso[3];
    mv_vol in;
    size_t k;
    int t, i;
    pops_check(mv_phantom_smooth(&in, MV_DT_F32, size, size, size, 1), "phantom");
    for (i = 0; i < 3; i++) {
        n3[i] = size;
        half[i] = (size + 1) / 2;
        twice[i] = 2 * size;
    }
    /* what mv_resample_spacing computes for 0.8 x 0.8 x 1.5 mm -> 1 mm (half to even) */
    aniso[0] = aniso[1] = (int64_t)nearbyint((double)size * 0.8);
    aniso[2] = (int64_t)nearbyint((double)size * 1.5);
    for (t = 0; t < pops_thread_runs(); t++) {
        pops_title("resample float32 (ratios: memcpy of the output bytes; MB/s: input bytes)", size, iters,
                   pops_threads(t));
        for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            pops_rs_ctx r;
            const int64_t *shape = ops[k].target == 0 ? half : ops[k].target == 1 ? twice : ops[k].target == 2 ? aniso : n3;
            void *scratch_block = NULL;
            if (ops[k].target == 1 && size >= 512) continue;
            memset(&r, 0, sizeof(r));
            r.in = &in;
            r.o.interp = ops[k].interp;
            r.o.threads = pops_threads(t);
            if (ops[k].target == 3) pops_rs_rotation_map(r.map, size);
            else pops_rs_zoom_map(r.map, n3, shape);
            pops_check(mv_vol_alloc(&r.out, MV_DT_F32, 3, shape, NULL), "alloc"); /* zeroed: warm */
            if (ops[k].interp == MV_INTERP_CUBIC) {
                size_t need = mv_resample_scratch_size(&in, &r.o);
                unsigned char *b = (unsigned char *)malloc(need + 64);
                if (!b) pops_check(MV_ERR_OUT_OF_MEMORY, "scratch");
                scratch_block = b;
                r.o.scratch = b + (64 - ((uintptr_t)b & 63));
                r.o.scratch_size = need;
                memset(r.o.scratch, 0, need); /* warm */
            }
            pops_rs_row(ops[k].name, &r, iters);
            mv_free(&r.out);
            free(scratch_block);
        }
        for (k = 0; k < 3; k++) {
            pops_rs_ctx r;
            if (k == 0 && size >= 512) continue;
            memset(&r, 0, sizeof(r));
            r.in = &in;
            r.alloc = 1;
            r.o.interp = k == 2 ? MV_INTERP_CUBIC : MV_INTERP_LINEAR;
            r.o.threads = pops_threads(t);
            memcpy(r.shape, k == 0 ? twice : aniso, sizeof(r.shape));
            pops_rs_row(alloc_names[k], &r, iters);
        }
    }
    mv_free(&in);
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
