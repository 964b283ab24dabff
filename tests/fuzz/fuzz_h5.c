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

/* The version 2 B-tree node at b[node] (depth d, nrec records of rs
   bytes; child pointers of an 8-byte address and a 1-byte count below a
   node of depth 1, what the seeds have) and, below it, its children: each
   given the checksum of its bytes */
static void fz_fix_bt2(uint8_t *b, size_t n, uint64_t node, int d, uint64_t nrec, uint64_t rs, int budget)
{
    uint64_t body = 6 + nrec * rs + (d > 0 ? (nrec + 1) * 9 : 0), i;
    if (budget <= 0 || d > 1 || nrec > 4096 || rs > 64 || node >= n || body + 4 > n - node) return;
    if (memcmp(b + node, d ? "BTIN" : "BTLF", 4)) return;
    fz_put32(b + node + body, fz_lookup3(b + node, body));
    for (i = 0; d && i <= nrec; i++) {
        const uint8_t *c = b + node + 6 + nrec * rs + i * 9;
        fz_fix_bt2(b, n, fz_le(c, 8), d - 1, c[8], rs, budget - 1);
    }
}

/* The fractal heap at b[at] (version 0, 8-byte addresses and lengths, no
   filters): its header, root indirect block (direct children only) and
   direct blocks (checksummed: the field read as zero) given their
   checksums */
static void fz_fix_heap(uint8_t *b, size_t n, size_t at)
{
    const size_t t = at + 14 + 10 * 8 + 2 * 8; /* the table's width */
    uint64_t start, root, blocks[64], sizes[64];
    int width, bits, rows, off_size, nb = 0, r, c, i;
    if (at + 146 > n || b[at + 4] != 0 || fz_le(b + at + 7, 2) != 0) return;
    width = (int)fz_le(b + t, 2);
    start = fz_le(b + t + 2, 8);
    bits = (int)fz_le(b + t + 18, 2);
    root = fz_le(b + t + 22, 8);
    rows = (int)fz_le(b + t + 30, 2);
    fz_put32(b + at + 142, fz_lookup3(b + at, 142));
    off_size = (bits + 7) / 8;
    if (start < 16 || start > 65536 || width < 1 || width > 16 || off_size > 8 || n < 4 || root > n - 4) return;
    if (rows == 0) {
        blocks[nb] = root, sizes[nb++] = start;
    } else if (rows <= 4 && !memcmp(b + root, "FHIB", 4)) {
        size_t head = 5 + 8 + (size_t)off_size, size = head + (size_t)rows * (size_t)width * 8 + 4;
        if (size > n - root) return;
        fz_put32(b + root + size - 4, fz_lookup3(b + root, size - 4));
        for (r = 0; r < rows; r++)
            for (c = 0; c < width && nb < 64; c++) {
                blocks[nb] = fz_le(b + root + head + ((size_t)r * (size_t)width + (size_t)c) * 8, 8);
                sizes[nb++] = r == 0 ? start : start << (r - 1);
            }
    }
    for (i = 0; i < nb; i++) {
        size_t ck = 5 + 8 + (size_t)off_size;
        if (!(b[at + 9] & 2) || blocks[i] >= n || sizes[i] > n - blocks[i] || memcmp(b + blocks[i], "FHDB", 4)) continue;
        memset(b + blocks[i] + ck, 0, 4);
        fz_put32(b + blocks[i] + ck, fz_lookup3(b + blocks[i], (size_t)sizes[i]));
    }
}

/* Gives each "OHDR" block (its chunk 0), "OCHK" block (its length from the
   continuation messages is not known here: up to the next signature or
   64 bytes), version 2-3 superblock and fixed array header and data block
   (unpaged, 8-byte addresses and lengths, base 0: what the seeds have),
   and the dense link storage's fractal heap and version 2 B-tree in b
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
        } else if (!memcmp(b + at, "FRHP", 4)) {
            fz_fix_heap(b, n, at);
        } else if (!memcmp(b + at, "BTHD", 4) && at + 38 <= n) {
            fz_put32(b + at + 34, fz_lookup3(b + at, 34));
            fz_fix_bt2(b, n, fz_le(b + at + 16, 8), (int)fz_le(b + at + 12, 2), fz_le(b + at + 24, 2), fz_le(b + at + 10, 2), 64);
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
