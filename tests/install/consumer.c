/* A user's program built against an INSTALLED medvol (make install), never
   the source tree: tests/install/test_install.sh copies it to a temporary
   folder and builds it with pkg-config (as C99 and C++11) and with CMake's
   find_package(medvol). It writes a gzip-compressed NIfTI to memory on
   several threads (pthreads and libm must come from the package's link
   flags), reads it back and checks the values against arithmetic. */
#define MEDVOL_IMPLEMENTATION
#include <medvol.h>
#include <medvol_cuda.h> /* installed too; its public half is plain C */

#include <stdio.h>
#include <stdlib.h>

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "consumer: FAILED %s: %s\n", #x, mv_last_error()); return 1; } } while (0)

int main(void)
{
    /* 64 x 64 x 40 int16 (320 KiB: more than one gzip member of 64 KiB, so
       compression runs on the worker threads) holding (i + 2j + 3k) % 1000 */
    const int64_t dims[3] = {64, 64, 40};
    mv_vol v = MV_ZERO_INIT, back = MV_ZERO_INIT;
    mv_save_opts so = MV_ZERO_INIT;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_stats st = MV_ZERO_INIT;
    mv_cuda_resample_opts unused = MV_ZERO_INIT;
    double sum = 0;
    int64_t i, j, k, n = dims[0] * dims[1] * dims[2];
    size_t len = 0;
    void *buf;
    (void)unused;

    CHECK(mv_version() == MEDVOL_VERSION_NUMBER);
    CHECK(mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL) == MV_OK);
    for (k = 0; k < dims[2]; k++)
        for (j = 0; j < dims[1]; j++)
            for (i = 0; i < dims[0]; i++) {
                int16_t x = (int16_t)((i + 2 * j + 3 * k) % 1000);
                ((int16_t *)v.data)[i + dims[0] * (j + dims[1] * k)] = x;
                sum += x;
            }
    so.compress = 1;
    so.gzip.member_size = 65536;
    so.gzip.threads = 2;
    CHECK(mv_save_mem(&v, NULL, 0, &len, &so) == MV_OK && len > 352);
    buf = malloc(len);
    CHECK(buf != NULL);
    CHECK(mv_save_mem(&v, buf, len, &len, &so) == MV_OK);
    CHECK(((unsigned char *)buf)[0] == 0x1f && ((unsigned char *)buf)[1] == 0x8b); /* gzip magic */
    lo.threads = 2;
    CHECK(mv_load_mem(buf, len, &back, &lo) == MV_OK);
    CHECK(back.dtype == MV_DT_I16 && back.ndim == 3 && back.dim[0] == 64 && back.dim[2] == 40);
    CHECK(mv_compute_stats(&back, &st, NULL) == MV_OK);
    CHECK(st.count == n && st.min == 0 && st.max == 63 + 126 + 117 && st.sum == sum);
    printf("consumer: ok (%lld voxels, gzip %zu bytes, medvol %s)\n", (long long)n, len, MEDVOL_VERSION_STRING);
    free(buf);
    mv_free(&back);
    mv_free(&v);
    return 0;
}
