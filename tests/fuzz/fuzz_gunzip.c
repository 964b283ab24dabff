/* libFuzzer target: the gzip/DEFLATE decoder on arbitrary bytes, one-shot
   and streamed in input/output pieces chosen by the input itself, and as a
   .nii.gz through the NIfTI loader; one member on 3 threads must give what
   one thread gives (bytes, status, message), and damage found in a stream
   fed in pieces is named as the whole buffer names it. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
/* a member splits across threads from reads of 32 KiB, inputs of 512 bytes
   (the par_* seeds), as in the linked build (FUZZ_FLAGS) */
#define MEDVOL_GZIP_PARALLEL_CHUNK ((size_t)16 << 10)
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out[1 << 16];
    static char whole_msg[512];
    size_t got = 0, need = 0;
    mv_gzip_opts o;
    mv_status whole;
    mv_vol v;
    memset(&o, 0, sizeof(o));
    o.threads = 1;
    whole = mv_gunzip(data, size, out, sizeof(out), &got, &o);
    strncpy(whole_msg, mv_last_error(), sizeof(whole_msg) - 1);
    mv_gunzip(data, size, NULL, 0, &need, &o);
    {
        mv_gunzip_stream *s;
        size_t ip = 0, ichunk = size ? 1 + data[0] % 97 : 1, ochunk = size > 1 ? 1 + data[1] * 13 % 4096 : 1;
        int end = 0, idle = 0;
        if (mv_gunzip_stream_new(&s, NULL) == MV_OK) {
            while (ip < size || idle < 2) {
                size_t used = 0, n = 0, len = size - ip < ichunk ? size - ip : ichunk;
                mv_status st = mv_gunzip_stream_run(s, data + ip, len, &used, out, ochunk, &n, &end);
                /* the same damage, named at another byte (medvol's indexed
                   members decode whole within the sizes their index gives,
                   so there the whole buffer may name a size, not the data) */
                if (st == MV_ERR_BAD_DATA && strstr(mv_last_error(), "deflate data:") &&
                    strstr(whole_msg, "deflate data:") && (whole != st || strcmp(whole_msg, mv_last_error()) != 0))
                    abort();
                if (st != MV_OK) break;
                ip += used;
                idle = used == 0 && n == 0 ? idle + 1 : 0;
                if (idle >= 2) break;
            }
            mv_gunzip_stream_free(s, NULL);
        }
    }
    { /* the parallel decoder's promise: nothing differs but the time */
        static unsigned char one[1 << 20], three[1 << 20];
        static char msg[512];
        size_t g1 = 0, g3 = 0;
        mv_status s1, s3;
        o.threads = 1;
        s1 = mv_gunzip(data, size, one, sizeof(one), &g1, &o);
        strncpy(msg, mv_last_error(), sizeof(msg) - 1);
        o.threads = 3;
        s3 = mv_gunzip(data, size, three, sizeof(three), &g3, &o);
        if (s1 != s3 || g1 != g3 || (s1 == MV_OK && memcmp(one, three, g1) != 0) ||
            (s1 != MV_OK && strcmp(msg, mv_last_error()) != 0))
            abort();
    }
    if (mv_load_mem(data, size, &v, NULL) == MV_OK) mv_free(&v);
    return 0;
}
