/* profile_all [--large] [--isa NAME] [--threads N]
   Every operation profile at 32^3, 128^3 and 256^3 (and 512^3 with
   --large), one thread and all threads: z-normalize, rescale / clamp / cast,
   crop / pad, flip, resampling; the FFT (profile_fft.h) up to 256^3.
   scripts/run_profiles.sh runs it. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"
#include "profile_fft.h"

int main(int argc, char **argv)
{
    static const int64_t sizes[] = {32, 128, 256, 512};
    static const int iters[] = {50, 10, 5, 3};
    int i, large = 0, n;
    argc = prof_options(argc, argv);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--large") == 0) {
            large = 1;
        } else {
            fprintf(stderr, "usage: profile_all [--large] [--isa NAME] [--threads N]\n");
            return 2;
        }
    }
    prof_header("profile_all");
    n = large ? 4 : 3;
    for (i = 0; i < n; i++) {
        printf("\n# ==== %lld^3 ====\n", (long long)sizes[i]);
        profile_z_norm_size(sizes[i], iters[i]);
        profile_rescale_size(sizes[i], iters[i]);
        profile_crop_pad_size(sizes[i], iters[i]);
        profile_flip_size(sizes[i], iters[i]);
        profile_resample_size(sizes[i], iters[i]);
        if (sizes[i] <= 256) pfft_size(sizes[i], iters[i]); /* 512^3 complex: 1 GiB per buffer */
    }
    return 0;
}
