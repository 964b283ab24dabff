/* profile_z_norm [size] [iterations] [--isa NAME] [--threads N]
   z-normalization: statistics + write pass into a warm buffer, with known
   statistics, in place, nonzero-only, into fresh memory, from int16 with
   scaling, and fused into a crop-first load.
   Ratios are to memcpy of the same bytes in the same run (see
   profile_ops.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"

int main(int argc, char **argv) { return pops_main(argc, argv, "profile_z_norm", profile_z_norm_size); }
