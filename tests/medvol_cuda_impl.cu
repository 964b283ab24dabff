/* The one translation unit that holds medvol_cuda.h's implementation
   (nvcc, C++17), as a user's project would; medvol.h's implementation is in
   tests/medvol_impl.c, compiled by the host C compiler. */
#define MEDVOL_CUDA_IMPLEMENTATION
#include "../medvol_cuda.h"
