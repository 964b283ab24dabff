/* diff_io.h - the raw-file helpers of the differential drivers
   (tests/diff_*.c): whole buffers of exactly n bytes to and from the files
   the Python side writes and reads. 1 on success. */
#ifndef DIFF_IO_H
#define DIFF_IO_H
#include <stdio.h>

static inline int diff_read_exact(const char *path, void *p, size_t n)
{
    FILE *f = fopen(path, "rb");
    int ok = f && (n == 0 || fread(p, 1, n, f) == n);
    if (f) fclose(f);
    return ok;
}

static inline int diff_write_exact(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && (n == 0 || fwrite(p, 1, n, f) == n);
    if (f && fclose(f) != 0) ok = 0;
    return ok;
}
#endif
