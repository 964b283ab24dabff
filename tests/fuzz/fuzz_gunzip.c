/* libFuzzer target: the gzip/DEFLATE decoder on arbitrary bytes, one-shot
   and streamed in input/output pieces chosen by the input itself, and as a
   .nii.gz through the NIfTI loader. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out[1 << 16];
    size_t got = 0, need = 0;
    mv_gzip_opts o;
    mv_vol v;
    memset(&o, 0, sizeof(o));
    o.threads = 1;
    mv_gunzip(data, size, out, sizeof(out), &got, &o);
    mv_gunzip(data, size, NULL, 0, &need, &o);
    {
        mv_gunzip_stream *s;
        size_t ip = 0, ichunk = size ? 1 + data[0] % 97 : 1, ochunk = size > 1 ? 1 + data[1] * 13 % 4096 : 1;
        int end = 0, idle = 0;
        if (mv_gunzip_stream_new(&s, NULL) == MV_OK) {
            while (ip < size || idle < 2) {
                size_t used = 0, n = 0, len = size - ip < ichunk ? size - ip : ichunk;
                if (mv_gunzip_stream_run(s, data + ip, len, &used, out, ochunk, &n, &end) != MV_OK) break;
                ip += used;
                idle = used == 0 && n == 0 ? idle + 1 : 0;
                if (idle >= 2) break;
            }
            mv_gunzip_stream_free(s, NULL);
        }
    }
    if (mv_load_mem(data, size, &v, NULL) == MV_OK) mv_free(&v);
    return 0;
}
