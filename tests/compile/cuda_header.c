/* The public half of medvol_cuda.h is plain C: no CUDA header, no nvcc
   (make test-configs compiles this with the C and C++ compilers). */
#include "../../medvol_cuda.h"

int cuda_header_compiles(mv_cuda_stream s);
int cuda_header_compiles(mv_cuda_stream s)
{
    mv_cuda_vol d;
    mv_cuda_resample_opts o = MV_ZERO_INIT;
    mv_cuda_vol_init(&d);
    (void)o;
    return mv_cuda_sync(s) == MV_OK && d.vol.data == NULL;
}
