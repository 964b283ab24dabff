/* profile_rescale [size] [iterations] [--isa NAME] [--threads N]
   min-max and percentile rescale, clamp, and dtype casts, float32 and
   int16 inputs.
   Ratios are to memcpy of the same bytes in the same run (see
   profile_ops.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"

int main(int argc, char **argv) { return pops_main(argc, argv, "profile_rescale", profile_rescale_size); }
