/* profile_crop_pad [size] [iterations] [--isa NAME] [--threads N]
   centred crop (to 3/4 per axis) and crop_expand (pad to 5/4), float32 and
   int16, into warm and fresh memory, and the crop-first load of the crop.
   Ratios are to memcpy of the same bytes in the same run (see
   profile_ops.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime; before any system header */
#ifndef MEDVOL_EXAMPLE_LINKED /* make links build/libmedvol.a instead (README) */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../medvol.h"
#include "profile.h"
#include "profile_ops.h"

int main(int argc, char **argv) { return pops_main(argc, argv, "profile_crop_pad", profile_crop_pad_size); }
