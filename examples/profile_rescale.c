/* profile_rescale [size] [iterations] [--isa NAME] [--threads N]
   min-max and percentile rescale, clamp, and dtype casts, float32 and
   int16 inputs.
   Ratios are to memcpy of the same bytes in the same run (see
   profile_ops.h). */
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"

int main(int argc, char **argv) { return pops_main(argc, argv, "profile_rescale", profile_rescale_size); }
