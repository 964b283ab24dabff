/* profile_flip [size] [iterations] [--isa NAME] [--threads N]
   flips along x (row reversal), along z, along all axes, and the x <-> z
   permutation, float32 and int16.
   Ratios are to memcpy of the same bytes in the same run (see
   profile_ops.h). */
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"

int main(int argc, char **argv) { return pops_main(argc, argv, "profile_flip", profile_flip_size); }
