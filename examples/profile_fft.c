/* profile_fft [size] [iterations] [--isa NAME] [--threads N] [--measure]
   The FFT at size N (default 256, 5 iterations): N^3 c2c, 32 x N x N
   batched 2D c2c, N^3 r2c and two sizes that are not powers of two
   (240x240x160 and 250^3 at 256), on 1 thread and on all threads, with
   ms, GFLOP/s (5 N log2 N) and the ratio to a paired memcpy of the input.
   Built as build/profile_fft_vs_fftw (PROFILE_FFT_WITH_FFTW, linked with
   fftw3f) it times FFTW_MEASURE plans beside medvol in the same run and
   checks that the outputs agree first. --measure: medvol plans with
   opts.measure (the plan search). Each case prints its chosen plan
   (mv_fft_plan_describe). See profile_fft.h. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include "profile_fft.h"

int main(int argc, char **argv)
{
    int64_t size = 256;
    int iters = 5;
    int i, j;
    for (i = j = 1; i < argc; i++) /* --measure: ours, before prof_options sees the rest */
        if (strcmp(argv[i], "--measure") == 0) pfft_measure = 1;
        else argv[j++] = argv[i];
    argc = j;
    argc = prof_options(argc, argv);
    if (argc > 1) size = atoll(argv[1]);
    if (argc > 2) iters = atoi(argv[2]);
    if (argc > 3 || size < 2 || iters < 1) {
        fprintf(stderr, "usage: profile_fft [size] [iterations] [--isa NAME] [--threads N] [--measure]\n");
        return 2;
    }
#if defined(PROFILE_FFT_WITH_FFTW)
    fftwf_init_threads();
    printf("%s\n# profile_fft vs FFTW_MEASURE (%s)", mv_build_info(), fftwf_version);
#else
    printf("%s\n# profile_fft", mv_build_info());
#endif
    printf(" | active ISA %s | %d threads by default\n", mv_isa_name(mv_isa_active()), mv_threads());
    pfft_size(size, iters);
    return 0;
}
