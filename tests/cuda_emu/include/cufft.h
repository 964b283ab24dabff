/* cufft.h - the CUDA emulator's stand-in for cuFFT (tests only; see
   cuda_runtime.h beside this file). Single-precision complex-to-complex
   transforms of any rank 1..3 and any lengths with cufftPlanMany's advanced
   layout, computed in float64 and rounded to float32 once, executed in
   stream order (queued, run at the host's next synchronisation). The
   definitions follow cuFFT's documentation: forward is e^{-2 pi i k n / N},
   inverse e^{+...}, neither normalised; n[0] is the slowest axis; with
   inembed / onembed NULL the layout is the basic one (stride 1, distance
   the product of n) whatever istride / idist say. Implemented in
   tests/cuda_emu/emu_cufft.cc. */
#ifndef MV_EMU_CUFFT_H
#define MV_EMU_CUFFT_H

#include "cuda_runtime.h"

typedef int cufftHandle;
typedef float2 cufftComplex;
typedef double2 cufftDoubleComplex;
typedef float cufftReal;

typedef enum cufftResult_t {
    CUFFT_SUCCESS = 0,
    CUFFT_INVALID_PLAN = 1,
    CUFFT_ALLOC_FAILED = 2,
    CUFFT_INVALID_TYPE = 3,
    CUFFT_INVALID_VALUE = 4,
    CUFFT_INTERNAL_ERROR = 5,
    CUFFT_EXEC_FAILED = 6,
    CUFFT_SETUP_FAILED = 7,
    CUFFT_INVALID_SIZE = 8,
    CUFFT_UNALIGNED_DATA = 9,
    CUFFT_INCOMPLETE_PARAMETER_LIST = 10,
    CUFFT_INVALID_DEVICE = 11,
    CUFFT_PARSE_ERROR = 12,
    CUFFT_NO_WORKSPACE = 13,
    CUFFT_NOT_IMPLEMENTED = 14,
    CUFFT_LICENSE_ERROR = 15,
    CUFFT_NOT_SUPPORTED = 16
} cufftResult;

typedef enum cufftType_t { CUFFT_R2C = 0x2a, CUFFT_C2R = 0x2c, CUFFT_C2C = 0x29, CUFFT_D2Z = 0x6a, CUFFT_Z2D = 0x6c, CUFFT_Z2Z = 0x69 } cufftType;

#define CUFFT_FORWARD -1
#define CUFFT_INVERSE 1

#ifdef __cplusplus
extern "C" { /* C linkage, as cuFFT's */
#endif

cufftResult cufftPlanMany(cufftHandle *plan, int rank, int *n, int *inembed, int istride, int idist, int *onembed,
                          int ostride, int odist, cufftType type, int batch);
cufftResult cufftPlan1d(cufftHandle *plan, int nx, cufftType type, int batch);
cufftResult cufftPlan2d(cufftHandle *plan, int nx, int ny, cufftType type);
cufftResult cufftPlan3d(cufftHandle *plan, int nx, int ny, int nz, cufftType type);
cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream);
cufftResult cufftExecC2C(cufftHandle plan, cufftComplex *idata, cufftComplex *odata, int direction);
cufftResult cufftDestroy(cufftHandle plan);
cufftResult cufftGetSize(cufftHandle plan, size_t *work);

#ifdef __cplusplus
}
#endif

#endif
