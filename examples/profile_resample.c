/* profile_resample [size] [iterations] [--isa NAME] [--threads N]
   Resamples a size^3 float32 phantom (mv_phantom_smooth): trilinear x0.5,
   x2 (below 512^3) and 0.8x0.8x1.5 mm -> 1 mm, nearest, cubic B-spline,
   and a rotation (a general, non-separable map), into a warm caller buffer
   (mv_resample_into; cubic with a warm scratch), then the allocating forms
   (fresh output memory). One thread, then all threads.
   Ratios are to memcpy of the OUTPUT bytes, interleaved with the op in the
   same run (see profile_ops.h); bench/resample_vs_scipy.py times scipy on
   the same cases. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"

int main(int argc, char **argv) { return pops_main(argc, argv, "profile_resample", profile_resample_size); }
