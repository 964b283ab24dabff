/* libFuzzer target: mv_itk_h5_parse, medvol's reader of ITK's HDF5
   transform files (superblocks, object headers, groups, datasets, heaps,
   chunk indexes and filters).
   The input is parsed twice: as it is, and with every version 2 object
   header, continuation chunk and superblock it seems to hold given the
   lookup3 checksum its bytes now have (a mutation otherwise stops at the
   first checksum, and the structures behind it go unfuzzed). A parse that
   succeeds gives a finite matrix whose bottom row is 0 0 0 1, and the
   same matrix after a round trip through mv_itk_h5_format (3D);
   mv_itk_h5_parse_field's field, when it gives one, passes mv_field_check;
   mv_itk_h5_format's own file must parse; mv_itk_transform_parse's chain
   passes fz_itk_chain (fuzz_itk_chain.h). A broken invariant aborts, so
   the fuzzer reports it. Built by `make fuzz` or with fuzz_main.c as a
   replayer. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include "fuzz_itk_chain.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* lookup3 (hashlittle, initval 0), written again here from Jenkins'
   description so that the fixing below does not lean on the reader's */
static uint32_t fz_rot(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static uint32_t fz_lookup3(const uint8_t *k, size_t len)
{
    uint32_t a, b, c, w[3];
    size_t i;
    a = b = c = 0xdeadbeefu + (uint32_t)len;
    for (; len > 12; len -= 12, k += 12) {
        for (i = 0; i < 3; i++) w[i] = k[4 * i] | (uint32_t)k[4 * i + 1] << 8 | (uint32_t)k[4 * i + 2] << 16 | (uint32_t)k[4 * i + 3] << 24;
        a += w[0], b += w[1], c += w[2];
        a -= c, a ^= fz_rot(c, 4), c += b;
        b -= a, b ^= fz_rot(a, 6), a += c;
        c -= b, c ^= fz_rot(b, 8), b += a;
        a -= c, a ^= fz_rot(c, 16), c += b;
        b -= a, b ^= fz_rot(a, 19), a += c;
        c -= b, c ^= fz_rot(b, 4), b += a;
    }
    if (len == 0) return c;
    w[0] = w[1] = w[2] = 0;
    for (i = 0; i < len; i++) w[i / 4] += (uint32_t)k[i] << (8 * (i % 4));
    a += w[0], b += w[1], c += w[2];
    c ^= b, c -= fz_rot(b, 14);
    a ^= c, a -= fz_rot(c, 11);
    b ^= a, b -= fz_rot(a, 25);
    c ^= b, c -= fz_rot(b, 16);
    a ^= c, a -= fz_rot(c, 4);
    b ^= a, b -= fz_rot(a, 14);
    c ^= b, c -= fz_rot(b, 24);
    return c;
}

static void fz_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint64_t fz_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    while (n-- > 0) v = v << 8 | p[n];
    return v;
}

/* Gives each "OHDR" block (its chunk 0), "OCHK" block (its length from the
   continuation messages is not known here: up to the next signature or
   64 bytes), version 2-3 superblock and fixed array header and data block
   (unpaged, 8-byte addresses and lengths, base 0: what the seeds have) in b
   the checksum of its bytes. */
static void fz_fix_checksums(uint8_t *b, size_t n)
{
    size_t at;
    for (at = 0; at + 12 <= n; at++) {
        if (!memcmp(b + at, "OHDR", 4) && b[at + 4] == 2) {
            int flags = b[at + 5], szb = 1 << (flags & 3);
            size_t pre = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0), len;
            if (at + pre + (size_t)szb > n) continue;
            len = (size_t)fz_le(b + at + pre, szb);
            if (len > n || at + pre + (size_t)szb + len + 4 > n) continue;
            fz_put32(b + at + pre + szb + len, fz_lookup3(b + at, pre + (size_t)szb + len));
        } else if (!memcmp(b + at, "OCHK", 4)) {
            size_t end = at + 4;
            while (end + 4 <= n && end - at < 64 && memcmp(b + end, "OHDR", 4) && memcmp(b + end, "OCHK", 4)) end++;
            if (end - at >= 8) fz_put32(b + end - 4, fz_lookup3(b + at, end - at - 4));
        } else if (!memcmp(b + at, "FAHD", 4) && at + 28 <= n) {
            uint64_t max = fz_le(b + at + 8, 8), blk = fz_le(b + at + 16, 8);
            fz_put32(b + at + 24, fz_lookup3(b + at, 24));
            if (b[at + 7] < 32 && max <= (uint64_t)1 << b[at + 7] && max <= n && blk < n &&
                14 + max * b[at + 6] + 4 <= n - blk && !memcmp(b + blk, "FADB", 4))
                fz_put32(b + blk + 14 + max * b[at + 6], fz_lookup3(b + blk, 14 + max * b[at + 6]));
        } else if (!memcmp(b + at, "\x89HDF\r\n\x1a\n", 8) && (b[at + 8] == 2 || b[at + 8] == 3)) {
            size_t need = 12 + 4 * (size_t)b[at + 9] + 4;
            if (b[at + 9] <= 8 && at + need <= n) fz_put32(b + at + need - 4, fz_lookup3(b + at, need - 4));
        }
    }
}

static void fz_parse(const uint8_t *data, size_t size)
{
    double m[4][4], w[4][4];
    unsigned char out[8192];
    size_t len = 0;
    int r, c;
    mv_vol f;
    fz_itk_chain(data, size); /* the whole file as a chain (B-splines too) */
    /* with a displacement field: a field medvol's functions take */
    if (mv_itk_h5_parse_field(data, size, m, &f, NULL) == MV_OK) {
        if (f.data && mv_field_check(&f, NULL) != MV_OK) abort();
        mv_free(&f);
    }
    if (mv_itk_h5_parse(data, size, m) != MV_OK) return;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            if (!isfinite(m[r][c])) abort();
    if (m[3][0] != 0 || m[3][1] != 0 || m[3][2] != 0 || m[3][3] != 1) abort();
    if (mv_itk_h5_format((const double(*)[4])m, 3, out, sizeof(out), &len) != MV_OK) abort();
    if (mv_itk_h5_parse(out, len, w) != MV_OK) abort();
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            if (w[r][c] != m[r][c]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *fixed;
    fz_parse(data, size);
    fixed = (uint8_t *)malloc(size ? size : 1);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fz_fix_checksums(fixed, size);
    fz_parse(fixed, size);
    free(fixed);
    return 0;
}
