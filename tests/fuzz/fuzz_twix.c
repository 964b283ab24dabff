/* libFuzzer target: Siemens twix raw data (medvol.h mv_twix_read_mem),
   VB and VD/VE, from memory. The last byte picks the options (sizes found
   with -A or given from the byte before it, -L, -P, -M, radial). A read
   that succeeds must give a c64 volume of the sizes it reports (abort
   otherwise, so the fuzzer reports it), counts that agree, and the same
   bytes when read again; a failed one no volume. Built by `make fuzz` or
   with fuzz_main.c as a replayer. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t sel = size ? data[size - 1] : 0, aux = size > 1 ? data[size - 2] : 0;
    mv_twix_opts o, o2;
    mv_vol v, w;
    mv_status st;
    int64_t n = 1;
    int i;
    memset(&o, 0, sizeof(o));
    o.max_bytes = (uint64_t)1 << 24; /* sizes come from the file: keep the fuzzer's memory small */
    o.auto_dims = sel & 1;
    o.line_offset = (sel >> 1) & 1;
    o.partition_offset = (sel >> 2) & 1;
    o.mpi = (sel >> 3) & 1;
    if (sel & 16) o.radial_lines = 1 + (aux & 7);
    if (!o.auto_dims) o.samples = 1 + (aux & 15), o.channels = 1 + (sel >> 6), o.lines = 1 + ((aux >> 4) & 7);
    o2 = o;
    mv_vol_init(&v);
    st = mv_twix_read_mem(data, size, "fuzz.dat", &v, &o);
    if (st != MV_OK) {
        if (v.data) abort();
        return 0;
    }
    for (i = 0; i < 16; i++) n *= o.dims[i];
    if (v.dtype != MV_DT_C64 || mv_vol_count(&v) != n || o.adcs_outside > o.adcs_read || (o.vd != 0 && o.vd != 1))
        abort();
    mv_vol_init(&w);
    if (mv_twix_read_mem(data, size, "fuzz.dat", &w, &o2) != MV_OK || mv_vol_count(&w) != n ||
        memcmp(v.data, w.data, (size_t)n * 8) != 0)
        abort();
    mv_free(&v);
    mv_free(&w);
    return 0;
}
