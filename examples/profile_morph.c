/* profile_morph [size] [iterations] [--isa NAME] [--threads N] [--no-scipy]
   >>api-math and >>api-morph at size^3 (default 256, 5 iterations):
   element-wise arithmetic and thresholds as a ratio to memcpy of the input
   bytes into a warm buffer (paired, same run), and labelling (26), the EDT
   and erosion with the radius-3 ball beside scipy.ndimage on the same mask
   in the same run (examples/profile_morph.py through /usr/bin/python3;
   outputs compared before any time is quoted). */
#define _POSIX_C_SOURCE 200809L
#ifndef MEDVOL_EXAMPLE_LINKED
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include <math.h>

typedef struct pm_ctx {
    mv_vol *a, *b, *mask, *out, *lab, *dist, *ero;
    mv_math_op op;
    double s;
    int use_b;
    void *scratch; /* NULL: each call allocates its scratch; else a warm block of pm_scratch bytes */
    size_t pm_scratch;
} pm_ctx;

static void pm_math(void *c)
{
    pm_ctx *p = (pm_ctx *)c;
    mv_math_into(p->a, p->op, p->use_b ? (p->use_b == 2 ? p->mask : p->b) : NULL, p->s, p->out, NULL);
}
static void pm_label(void *c)
{
    pm_ctx *p = (pm_ctx *)c;
    mv_label_opts lo = MV_ZERO_INIT;
    int64_t nl;
    lo.connectivity = 26;
    lo.scratch = p->scratch;
    lo.scratch_size = p->pm_scratch;
    mv_label_into(p->mask, p->lab, &nl, &lo);
}
static void pm_edt(void *c)
{
    pm_ctx *p = (pm_ctx *)c;
    mv_edt_opts eo = MV_ZERO_INIT;
    eo.scratch = p->scratch;
    eo.scratch_size = p->pm_scratch;
    mv_edt_into(p->mask, p->dist, &eo);
}
static void pm_ero(void *c)
{
    pm_ctx *p = (pm_ctx *)c;
    mv_morph_opts mo = MV_ZERO_INIT;
    mo.radius = 3;
    mo.scratch = p->scratch;
    mo.scratch_size = p->pm_scratch;
    mv_morph_into(p->mask, MV_MORPH_ERODE, p->ero, &mo);
}

static void *pm_read(const char *path, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    void *p = malloc(bytes);
    if (!f || fread(p, 1, bytes, f) != bytes) {
        free(p);
        p = NULL;
    }
    if (f) fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    int64_t N, n, i, dims[3];
    int iters, scipy = 1, k;
    mv_vol a, b, mask, out, lab, dist, ero;
    pm_ctx c;
    prof_result r, base;
    uint64_t s = 1;
    char dir[256] = "build/profile_morph.d", path[300];
    double peer[3] = {0, 0, 0};
    for (k = 1; k < argc; k++)
        if (strcmp(argv[k], "--no-scipy") == 0) {
            scipy = 0;
            memmove(argv + k, argv + k + 1, (size_t)(argc - k) * sizeof(*argv));
            argc--;
            k--;
        }
    argc = prof_options(argc, argv);
    N = argc > 1 ? atoi(argv[1]) : 256;
    iters = argc > 2 ? atoi(argv[2]) : 5;
    if (N < 8 || N > 1024 || iters < 1) {
        fprintf(stderr, "usage: profile_morph [size 8..1024] [iterations] [--isa NAME] [--threads N] [--no-scipy]\n");
        return 2;
    }
    n = N * N * N;
    dims[0] = dims[1] = dims[2] = N;
    if (mv_vol_alloc(&a, MV_DT_F32, 3, dims, NULL) || mv_vol_alloc(&b, MV_DT_F32, 3, dims, NULL) ||
        mv_vol_alloc(&mask, MV_DT_U8, 3, dims, NULL) || mv_vol_alloc(&out, MV_DT_F32, 3, dims, NULL) ||
        mv_vol_alloc(&lab, MV_DT_I32, 3, dims, NULL) || mv_vol_alloc(&dist, MV_DT_F32, 3, dims, NULL) ||
        mv_vol_alloc(&ero, MV_DT_U8, 3, dims, NULL)) {
        fprintf(stderr, "%s\n", mv_last_error());
        return 1;
    }
    /* a smooth field plus noise; the mask (field > 0) has blobs of many sizes */
    for (i = 0; i < n; i++) {
        int64_t x = i % N, y = (i / N) % N, z = i / (N * N);
        double v = sin(x * 0.11) * cos(y * 0.07 + 0.3) + 0.6 * sin(z * 0.09 + x * 0.02);
        double u = (double)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) / 9007199254740992.0;
        v += 0.6 * (u - 0.5);
        ((float *)a.data)[i] = (float)(v * 100.0);
        ((float *)b.data)[i] = (float)(u * 10.0);
        ((unsigned char *)mask.data)[i] = v > 0.35;
    }
    memset(out.data, 0, (size_t)n * 4);
    memset(lab.data, 0, (size_t)n * 4);
    memset(dist.data, 0, (size_t)n * 4);
    memset(ero.data, 0, (size_t)n);
    c.a = &a;
    c.b = &b;
    c.mask = &mask;
    c.out = &out;
    c.lab = &lab;
    c.dist = &dist;
    c.ero = &ero;
    c.scratch = NULL;
    c.pm_scratch = 0;
    prof_header("profile_morph: element-wise math (ratio to memcpy of the input bytes, warm output)");
    {
        static const struct {
            const char *name;
            mv_math_op op;
            int use_b;
        } rows[] = {{"math add scalar f32", MV_MATH_ADD, 0}, {"math mul volume f32", MV_MATH_MUL, 1},
                    {"math thr scalar f32", MV_MATH_THR, 0},  {"math mas uint8 mask", MV_MATH_MAS, 2},
                    {"math bin f32", MV_MATH_BIN, 0},         {"math max volume f32", MV_MATH_MAX, 1}};
        for (k = 0; k < (int)(sizeof(rows) / sizeof(rows[0])); k++) {
            char name[64];
            c.op = rows[k].op;
            c.use_b = rows[k].use_b;
            c.s = 12.5;
            prof_run_paired(pm_math, &c, iters, (size_t)n * 4, &r, &base);
            snprintf(name, sizeof(name), "%s %lld^3", rows[k].name, (long long)N);
            prof_row(name, r, (size_t)n * 4, base);
        }
    }
    if (scipy) {
        char cmd[600], line[256];
        FILE *f, *p;
        snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
        if (system(cmd) != 0) scipy = 0;
        snprintf(path, sizeof(path), "%s/mask.u8", dir);
        f = fopen(path, "wb");
        if (!f || fwrite(mask.data, 1, (size_t)n, f) != (size_t)n) scipy = 0;
        if (f) fclose(f);
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 examples/profile_morph.py %s %lld %d", dir, (long long)N,
                 iters > 3 ? 3 : iters);
        p = scipy ? popen(cmd, "r") : NULL;
        while (p && fgets(line, sizeof(line), p)) {
            char nm[64];
            double ms;
            if (sscanf(line, "%63s %lf", nm, &ms) == 2)
                peer[strcmp(nm, "label") == 0 ? 0 : strcmp(nm, "edt") == 0 ? 1 : 2] = ms;
        }
        if (!p || pclose(p) != 0 || peer[2] == 0) {
            printf("# scipy.ndimage not run (/usr/bin/python3 with scipy needed)\n");
            scipy = 0;
        }
    }
    printf("# morphology (xscipy = scipy.ndimage median / medvol median, same mask, same run; own scratch:\n"
           "# allocated and freed by each call; caller scratch: the _into form given a warm block of its\n"
           "# _scratch_size, as a loop or firmware calls it)\n");
    printf("%-52s %9s %9s %9s %10s %8s\n", "operation", "min ms", "median", "mean", "scipy ms", "xscipy");
    {
        static const char *names[3] = {"label 26-connectivity", "edt (exact, float32)", "erode ball r=3"};
        static const prof_fn fns[3] = {pm_label, pm_edt, pm_ero};
        mv_label_opts lo = MV_ZERO_INIT;
        mv_morph_opts mo = MV_ZERO_INIT;
        size_t need[3];
        int warm;
        lo.connectivity = 26;
        mo.radius = 3;
        need[0] = mv_label_scratch_size(&mask, &lo);
        need[1] = mv_edt_scratch_size(&mask, NULL);
        need[2] = mv_morph_scratch_size(&mask, MV_MORPH_ERODE, &mo);
        for (k = 0; k < 3; k++)
            for (warm = 0; warm < 2; warm++) {
                char name[80];
                void *blk = NULL;
                c.scratch = NULL;
                c.pm_scratch = 0;
                if (warm) {
                    if (posix_memalign(&blk, 64, need[k] ? need[k] : 64) != 0) blk = NULL;
                    if (blk) memset(blk, 0, need[k]); /* warm: its pages are there */
                    c.scratch = blk;
                    c.pm_scratch = need[k];
                }
                r = prof_run(fns[k], &c, iters);
                snprintf(name, sizeof(name), "%s %lld^3 (%s)", names[k], (long long)N, warm ? "caller scratch" : "own scratch");
                free(blk);
                if (scipy) {
                    /* outputs must agree before a time is quoted */
                    int64_t bad = 0;
                    static const char *ext[3] = {"label.i32", "edt.f64", "erode_ball3.u8"};
                    size_t esz = k == 1 ? 8 : k == 0 ? 4 : 1;
                    void *ref;
                    snprintf(path, sizeof(path), "%s/%s", dir, ext[k]);
                    ref = pm_read(path, (size_t)n * esz);
                    for (i = 0; ref && i < n; i++) {
                        if (k == 0) bad += ((int32_t *)lab.data)[i] != ((int32_t *)ref)[i];
                        else if (k == 1) bad += fabs(((float *)dist.data)[i] - ((double *)ref)[i]) > 1e-6 * ((double *)ref)[i] + 1e-30;
                        else bad += ((unsigned char *)ero.data)[i] != ((unsigned char *)ref)[i];
                    }
                    free(ref);
                    if (!ref || bad) {
                        printf("%-52s outputs differ from scipy (%lld voxels): no time quoted\n", name, (long long)bad);
                        continue;
                    }
                    printf("%-52s %9.3f %9.3f %9.3f %10.1f %8.1f\n", name, r.min, r.median, r.mean, peer[k],
                           peer[k] / r.median);
                } else
                    printf("%-52s %9.3f %9.3f %9.3f %10s %8s\n", name, r.min, r.median, r.mean, "-", "-");
            }
    }
    mv_free(&a);
    mv_free(&b);
    mv_free(&mask);
    mv_free(&out);
    mv_free(&lab);
    mv_free(&dist);
    mv_free(&ero);
    return 0;
}
