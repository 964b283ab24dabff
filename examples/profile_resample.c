/* profile_resample [size] [iterations] [--threads N] [--isa NAME]
   Resamples a size^3 float32 phantom (mv_phantom_smooth) and times it:
   trilinear x0.5, x2 (x2 only below size 512) and 0.8x0.8x1.5 mm -> 1 mm,
   nearest, cubic, and a rotated affine, each into a warm caller buffer
   (mv_resample_into; cubic with a warm scratch), plus the allocating forms
   once (fresh output memory), on one thread and on all. Columns: min /
   median / mean ms, MB/s of input bytes, and xmemcpy = the median of
   memcpy of the OUTPUT bytes (warm destination, same run) divided by the
   operation's median: 1.0 means as fast as copying the result. */
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
#include "profile.h"

typedef struct rs_ctx {
    const mv_vol *in;
    mv_vol out;            /* warm caller buffer (into) */
    double map[4][4];
    mv_resample_opts o;
    int alloc;             /* 1: the allocating form with shape[] */
    int64_t shape[3];
    mv_status st;
} rs_ctx;

static void check(mv_status st)
{
    if (st != MV_OK) {
        fprintf(stderr, "profile_resample: %s: %s\n", mv_status_str(st), mv_last_error());
        exit(1);
    }
}

static void do_resample(void *c)
{
    rs_ctx *r = (rs_ctx *)c;
    if (r->alloc) {
        mv_vol v;
        r->st = mv_resample_shape(r->in, &v, r->shape, &r->o);
        mv_free(&v);
    } else {
        r->st = mv_resample_into(r->in, &r->out, (const double(*)[4])r->map, &r->o);
    }
}

/* zoom map of scipy's grid mode: o -> (o + 0.5) * in/out - 0.5 */
static void zoom_map(double m[4][4], const int64_t in[3], const int64_t out[3])
{
    int a;
    memset(m, 0, 16 * sizeof(double));
    for (a = 0; a < 3; a++) {
        m[a][a] = (double)in[a] / (double)out[a];
        m[a][3] = 0.5 * m[a][a] - 0.5;
    }
    m[3][3] = 1;
}

/* a 15 degree turn about z and 5 about x, about the volume's centre */
static void rotation_map(double m[4][4], int64_t n)
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

static void row(const char *name, rs_ctx *r, int iters, size_t in_bytes)
{
    size_t out_bytes = (size_t)(r->alloc ? r->shape[0] * r->shape[1] * r->shape[2] : mv_vol_count(&r->out)) * 4;
    prof_result base = prof_memcpy(out_bytes, iters), t = prof_run(do_resample, r, iters);
    char label[96];
    check(r->st);
    snprintf(label, sizeof(label), "%s -> %lldx%lldx%lld", name,
             (long long)(r->alloc ? r->shape[0] : r->out.dim[0]), (long long)(r->alloc ? r->shape[1] : r->out.dim[1]),
             (long long)(r->alloc ? r->shape[2] : r->out.dim[2]));
    prof_row(label, t, in_bytes, base);
}

int main(int argc, char **argv)
{
    int64_t size, n3[3], half[3], twice[3], aniso[3];
    int iters, t, tcount[2], i;
    mv_vol in;
    size_t in_bytes;
    void *scratch_block = NULL;
    argc = prof_options(argc, argv);
    size = argc > 1 ? atoll(argv[1]) : 128;
    iters = argc > 2 ? atoi(argv[2]) : 10;
    if (size < 4 || iters < 1) {
        fprintf(stderr, "usage: profile_resample [size] [iterations] [--threads N] [--isa NAME]\n");
        return 2;
    }
    check(mv_phantom_smooth(&in, MV_DT_F32, size, size, size, 1));
    in_bytes = mv_vol_bytes(&in);
    for (i = 0; i < 3; i++) {
        n3[i] = size;
        half[i] = (size + 1) / 2;
        twice[i] = 2 * size;
    }
    /* 0.8 x 0.8 x 1.5 mm -> 1 mm: what mv_resample_spacing computes (half to even) */
    aniso[0] = aniso[1] = (int64_t)nearbyint((double)size * 0.8);
    aniso[2] = (int64_t)nearbyint((double)size * 1.5);
    prof_header("profile_resample");
    printf("# %lld^3 float32 phantom (%zu MB), %d iterations; MB/s = input bytes / median; xmemcpy = memcpy of the output "
           "bytes / op\n",
           (long long)size, in_bytes >> 20, iters);
    tcount[0] = 1;
    tcount[1] = mv_threads();
    for (t = 0; t < (tcount[1] > 1 ? 2 : 1); t++) {
        static const struct {
            const char *name;
            mv_interp interp;
            int target; /* 0 half, 1 twice, 2 aniso, 3 rotated */
        } ops[] = {
            {"linear x0.5", MV_INTERP_LINEAR, 0},  {"linear x2", MV_INTERP_LINEAR, 1},
            {"linear 0.8x0.8x1.5mm->1mm", MV_INTERP_LINEAR, 2}, {"nearest 0.8x0.8x1.5mm->1mm", MV_INTERP_NEAREST, 2},
            {"nearest x2", MV_INTERP_NEAREST, 1},  {"cubic x0.5", MV_INTERP_CUBIC, 0},
            {"cubic x2", MV_INTERP_CUBIC, 1},      {"cubic 0.8x0.8x1.5mm->1mm", MV_INTERP_CUBIC, 2},
            {"linear rotated 15deg", MV_INTERP_LINEAR, 3}, {"cubic rotated 15deg", MV_INTERP_CUBIC, 3},
        };
        size_t k;
        printf("## %d thread%s\n", tcount[t], tcount[t] > 1 ? "s" : "");
        for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            rs_ctx r;
            const int64_t *shape = ops[k].target == 0 ? half : ops[k].target == 1 ? twice : ops[k].target == 2 ? aniso : n3;
            if (ops[k].target == 1 && size >= 512) continue; /* a 1024^3 float32 output is 4 GiB */
            memset(&r, 0, sizeof(r));
            r.in = &in;
            r.o.interp = ops[k].interp;
            r.o.threads = tcount[t];
            if (ops[k].target == 3) rotation_map(r.map, size);
            else zoom_map(r.map, n3, shape);
            check(mv_vol_alloc(&r.out, MV_DT_F32, 3, shape, NULL)); /* zeroed: warm */
            if (ops[k].interp == MV_INTERP_CUBIC) {
                size_t need = mv_resample_scratch_size(&in, &r.o);
                unsigned char *b = (unsigned char *)malloc(need + 64);
                if (!b) check(MV_ERR_OUT_OF_MEMORY);
                scratch_block = b;
                r.o.scratch = b + (64 - ((uintptr_t)b & 63));
                r.o.scratch_size = need;
                memset(r.o.scratch, 0, need); /* warm */
            }
            row(ops[k].name, &r, iters, in_bytes);
            mv_free(&r.out);
            free(scratch_block);
            scratch_block = NULL;
        }
        /* the allocating forms: fresh output memory every time */
        for (k = 0; k < 3; k++) {
            rs_ctx r;
            static const char *names[] = {"alloc: linear x2", "alloc: linear 0.8x0.8x1.5mm->1mm", "alloc: cubic 0.8x0.8x1.5mm->1mm"};
            if (k == 0 && size >= 512) continue;
            memset(&r, 0, sizeof(r));
            r.in = &in;
            r.alloc = 1;
            r.o.interp = k == 2 ? MV_INTERP_CUBIC : MV_INTERP_LINEAR;
            r.o.threads = tcount[t];
            memcpy(r.shape, k == 0 ? twice : aniso, sizeof(r.shape));
            row(names[k], &r, iters, in_bytes);
        }
    }
    mv_free(&in);
    return 0;
}
