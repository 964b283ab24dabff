/* demo - the main job of `make run`, on embedded data (no download):
   a 3D Shepp-Logan phantom and a smooth int16 phantom are written as NIfTI
   (single file, pair, NIfTI-2), read back (mapped, copied, crop-first,
   scaled), checked against what was written, and summarised.
   usage: demo [OUTDIR] [size] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int failures;
#define STEP(label, expr)                                                                       \
    do {                                                                                        \
        double t0_ = now_ms();                                                                  \
        mv_status st_ = (expr);                                                                 \
        if (st_ != MV_OK) {                                                                     \
            printf("  %-44s FAILED: %s: %s\n", label, mv_status_str(st_), mv_last_error());     \
            failures++;                                                                         \
        } else {                                                                                \
            printf("  %-44s %8.2f ms\n", label, now_ms() - t0_);                                \
        }                                                                                       \
    } while (0)
#define CHECK(label, cond)                                                                      \
    do {                                                                                        \
        int ok_ = (cond);                                                                       \
        printf("  %-44s %s\n", label, ok_ ? "ok" : "MISMATCH");                                 \
        failures += !ok_;                                                                       \
    } while (0)

static void print_stats(const char *what, const mv_vol *v)
{
    mv_stats s;
    char code[4];
    if (mv_compute_stats(v, &s, NULL) != MV_OK || mv_orientation(v, code) != MV_OK) {
        printf("  %s: %s\n", what, mv_last_error());
        failures++;
        return;
    }
    printf("  %-12s %lldx%lldx%lld %-7s %s  mean %.6g  std %.6g  min %g  max %g\n", what, (long long)v->dim[0],
           (long long)v->dim[1], (long long)v->dim[2], mv_dtype_name(v->dtype), code, s.mean, s.std, s.min, s.max);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/demo-out";
    int64_t n = argc > 2 ? atoll(argv[2]) : 128;
    char p1[512], p2[512], p3[512];
    mv_vol shepp, smooth, back, crop, scaled;
    mv_load_opts lo;
    mv_save_opts so;
    printf("%s\n", mv_build_info());
    mkdir(dir, 0755);
    snprintf(p1, sizeof(p1), "%s/shepp_logan.nii", dir);
    snprintf(p2, sizeof(p2), "%s/smooth_int16.hdr", dir);
    snprintf(p3, sizeof(p3), "%s/smooth_nifti2.nii", dir);

    printf("phantoms (%lld^3)\n", (long long)n);
    STEP("Shepp-Logan 3D, float32", mv_phantom_shepp_logan(&shepp, n, n, n));
    STEP("smooth + noise, int16 (slope 0.25)", mv_phantom_smooth(&smooth, MV_DT_I16, n, n, n, 7));
    smooth.meta.scl_slope = 0.25;
    smooth.meta.scl_inter = 0;
    strcpy(shepp.meta.descrip, "medvol demo: modified Shepp-Logan");
    if (failures) return 1;
    print_stats("shepp", &shepp);
    print_stats("smooth", &smooth);

    printf("write\n");
    STEP(p1, mv_save(p1, &shepp, NULL));
    STEP(p2, mv_save(p2, &smooth, NULL));
    memset(&so, 0, sizeof(so));
    so.nifti_version = 2;
    STEP(p3, mv_save(p3, &smooth, &so));

    printf("read back\n");
    memset(&lo, 0, sizeof(lo));
    STEP("float32 .nii, memory-mapped", mv_load(p1, &back, &lo));
    CHECK("  same voxels, affine, description",
          back.flags == MV_VOL_MAPPED && memcmp(back.data, shepp.data, mv_vol_bytes(&shepp)) == 0 &&
              memcmp(back.affine, shepp.affine, sizeof(back.affine)) == 0 &&
              strcmp(back.meta.descrip, shepp.meta.descrip) == 0);
    mv_free(&back);
    lo.mmap = MV_MMAP_NEVER;
    STEP("int16 .hdr/.img pair, read into memory", mv_load(p2, &back, &lo));
    CHECK("  same voxels and scaling", memcmp(back.data, smooth.data, mv_vol_bytes(&smooth)) == 0 &&
                                           back.meta.scl_slope == 0.25);
    mv_free(&back);
    memset(&lo, 0, sizeof(lo));
    lo.box_start[0] = lo.box_start[1] = lo.box_start[2] = n / 4;
    lo.box_size[0] = lo.box_size[1] = lo.box_size[2] = n / 2;
    STEP("crop-first: centred half box of NIfTI-2", mv_load(p3, &crop, &lo));
    {
        int64_t i = n / 4, off = i + n * (i + n * i);
        CHECK("  box corner voxel and its world position",
              ((int16_t *)crop.data)[0] == ((int16_t *)smooth.data)[off] &&
                  crop.affine[0][3] == smooth.affine[0][3] + (double)i * smooth.affine[0][0]);
    }
    memset(&lo, 0, sizeof(lo));
    lo.scaled = 1;
    STEP("int16 -> scaled float32 while loading", mv_load(p2, &scaled, &lo));
    CHECK("  value = stored * slope", ((float *)scaled.data)[12345] == (float)(((int16_t *)smooth.data)[12345] * 0.25));
    print_stats("crop", &crop);
    print_stats("scaled", &scaled);
    mv_free(&crop);
    mv_free(&scaled);
    mv_free(&shepp);
    mv_free(&smooth);
    printf("outputs in %s; inspect them with build/mvtool info %s\n", dir, p1);
    printf("%s\n", failures ? "demo: FAILED" : "demo: ok");
    return failures ? 1 : 0;
}
