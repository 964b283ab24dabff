/* PNG writing (mv_png_encode, mv_png_save) read back by this file's own
   reader written from the PNG specification (chunk CRCs by the bitwise
   CRC-32, IHDR, the zlib header and Adler-32, the five row filters undone)
   with the DEFLATE data inflated by mv_gunzip's stream decoder, and by
   Python's PIL; the filter choice on images where the specification's
   arithmetic says which filter leaves zeros; refusals. */
#include "mvtest.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t png_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* CRC-32 bit by bit (PNG's Annex D polynomial, reflected) */
static uint32_t png_crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t png_adler(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

static int png_paeth_ref(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

/* Reads png[0..n) into pixels (w * h * c bytes, malloc'ed) and the filter
   type of each row (filters, h bytes, may be NULL). 0 or a message. */
static const char *png_read(const unsigned char *png, size_t n, int *w, int *h, int *c, unsigned char **pixels,
                            unsigned char *filters, int maxh)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char *z = NULL, *raw = NULL, *px;
    size_t at = 8, zn = 0, rowb, raw_n, used = 0, got = 0;
    int seen_ihdr = 0, seen_iend = 0, r;
    mv_gunzip_stream *s = NULL;
    int at_end = 0;
    *pixels = NULL;
    if (n < 8 || memcmp(png, sig, 8) != 0) return "signature";
    z = (unsigned char *)malloc(n + 10);
    if (!z) return "memory";
    /* a gzip member header in front of the raw DEFLATE data: mv_gunzip_stream inflates it */
    memcpy(z, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    zn = 10;
    while (at + 12 <= n && !seen_iend) {
        uint32_t len = png_be32(png + at);
        const unsigned char *type = png + at + 4, *data = png + at + 8;
        if (len > n - at - 12) return free(z), "chunk runs past the end";
        if (png_crc_bitwise(type, len + 4) != png_be32(data + len)) return free(z), "chunk CRC";
        if (!memcmp(type, "IHDR", 4)) {
            static const int chans[7] = {1, 0, 3, 0, 2, 0, 4};
            if (len != 13 || at != 8) return free(z), "IHDR";
            *w = (int)png_be32(data);
            *h = (int)png_be32(data + 4);
            if (data[8] != 8 || data[9] > 6 || !chans[data[9]] || data[10] || data[11] || data[12]) return free(z), "IHDR fields";
            *c = chans[data[9]];
            seen_ihdr = 1;
        } else if (!memcmp(type, "IDAT", 4)) {
            memcpy(z + zn, data, len);
            zn += len;
        } else if (!memcmp(type, "IEND", 4)) {
            if (len) return free(z), "IEND data";
            seen_iend = 1;
        } else return free(z), "unexpected chunk";
        at += 12 + len;
    }
    if (!seen_ihdr || !seen_iend || at != n) return free(z), "chunks";
    if (*h > maxh) return free(z), "taller than expected";
    /* zlib (RFC 1950): CM 8, window 32 KiB, the check bits, no dictionary */
    if (zn < 10 + 6 || z[10] != 0x78 || ((unsigned)z[10] * 256 + z[11]) % 31 || (z[11] & 0x20)) return free(z), "zlib header";
    rowb = (size_t)*w * (size_t)*c;
    raw_n = (rowb + 1) * (size_t)*h;
    raw = (unsigned char *)malloc(raw_n + 1);
    memmove(z + 10, z + 12, zn - 12); /* drop the zlib header: the gzip header stands in its place */
    zn -= 2;
    if (!raw || mv_gunzip_stream_new(&s, NULL) != MV_OK) return free(z), free(raw), "memory";
    if (mv_gunzip_stream_run(s, z, zn - 4, &used, raw, raw_n + 1, &got, &at_end) != MV_OK || got != raw_n)
        return mv_gunzip_stream_free(s, NULL), free(z), free(raw), "inflated size";
    mv_gunzip_stream_free(s, NULL);
    if (png_adler(raw, raw_n) != png_be32(z + zn - 4)) return free(z), free(raw), "Adler-32";
    free(z);
    px = (unsigned char *)malloc(rowb * (size_t)*h);
    if (!px) return free(raw), "memory";
    for (r = 0; r < *h; r++) { /* undo each row's filter (PNG 2nd edition, 9.2-9.4) */
        const unsigned char *f = raw + (rowb + 1) * (size_t)r + 1;
        unsigned char *cur = px + rowb * (size_t)r, *prev = r ? cur - rowb : NULL;
        int ft = f[-1];
        size_t i;
        if (filters) filters[r] = (unsigned char)ft;
        for (i = 0; i < rowb; i++) {
            int a = i >= (size_t)*c ? cur[i - (size_t)*c] : 0, b = prev ? prev[i] : 0;
            int cc = prev && i >= (size_t)*c ? prev[i - (size_t)*c] : 0;
            int pred = ft == 0 ? 0 : ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2 : png_paeth_ref(a, b, cc);
            if (ft > 4) return free(raw), free(px), "filter type";
            cur[i] = (unsigned char)(f[i] + pred);
        }
    }
    free(raw);
    *pixels = px;
    return NULL;
}

MV_TEST(png, round_trip_and_pil)
{
    static const int widths[] = {1, 3, 17, 300}, heights[] = {1, 5, 64};
    uint64_t rng = 1234;
    int wi, hi, ch, lv;
    for (ch = 1; ch <= 4; ch++)
        for (wi = 0; wi < 4; wi++)
            for (hi = 0; hi < 3; hi++)
                for (lv = 0; lv < 2; lv++) {
                    int w = widths[wi], h = heights[hi], gw, gh, gc, x, y, k;
                    int64_t stride = (int64_t)w * ch + (lv ? 7 : 0); /* padded rows on the second pass */
                    unsigned char *img = (unsigned char *)malloc((size_t)stride * h), *back = NULL, *png;
                    size_t need = 0, got = 0, bad = 0;
                    mv_save_opts so;
                    const char *why;
                    memset(&so, 0, sizeof(so));
                    so.gzip.level = lv ? -1 : 0; /* stored blocks, then the default level */
                    REQUIRE(img != NULL);
                    for (y = 0; y < h; y++) /* smooth ramps with noise: every filter wins somewhere */
                        for (x = 0; x < w; x++)
                            for (k = 0; k < ch; k++)
                                img[(size_t)stride * y + (size_t)x * ch + k] =
                                    (unsigned char)(((x * 3 + y * 5 + k * 40) & 255) + (y % 3 == 1 ? (tu_rand(&rng) & 7) : 0));
                    EXPECT_OK(mv_png_encode(img, w, h, ch, stride, NULL, 0, &need, &so));
                    png = (unsigned char *)malloc(need);
                    REQUIRE(png != NULL);
                    EXPECT_OK(mv_png_encode(img, w, h, ch, stride, png, need, &got, &so));
                    EXPECT_EQ_INT(got, need);
                    why = png_read(png, got, &gw, &gh, &gc, &back, NULL, 64);
                    EXPECT_MSG(why == NULL, "%d x %d x %d, level %d: %s", w, h, ch, so.gzip.level, why ? why : "");
                    if (!why) {
                        EXPECT(gw == w && gh == h && gc == ch);
                        for (y = 0; y < h; y++) bad += memcmp(back + (size_t)w * ch * y, img + (size_t)stride * y, (size_t)w * ch) != 0;
                        EXPECT_MSG(bad == 0, "%d x %d x %d: %zu rows differ", w, h, ch, bad);
                    }
                    if (w == 300 && h == 64 && lv == 0 && tu_python("PIL")) { /* PIL reads the file mv_png_save wrote */
                        char path[600], rawp[600], args[1400], out[256];
                        unsigned char *packed = (unsigned char *)malloc((size_t)w * ch * h), *file;
                        size_t flen = 0;
                        snprintf(path, sizeof(path), "%s", tu_path("png_pil.png"));
                        snprintf(rawp, sizeof(rawp), "%s", tu_path("png_pil.raw"));
                        REQUIRE(packed != NULL);
                        for (y = 0; y < h; y++) memcpy(packed + (size_t)w * ch * y, img + (size_t)stride * y, (size_t)w * ch);
                        REQUIRE(tu_write_file(rawp, packed, (size_t)w * ch * h));
                        EXPECT_OK(mv_png_save(path, img, w, h, ch, stride, &so));
                        file = tu_read_file(path, &flen);
                        EXPECT(file && flen == got && memcmp(file, png, got) == 0); /* the same bytes as in memory */
                        snprintf(args, sizeof(args), "%s %s %d %d %d", path, rawp, w, h, ch);
                        EXPECT(tu_run_py("png_read.py", args, out, sizeof(out)) == 0);
                        EXPECT_MSG(strncmp(out, "ok", 2) == 0, "%d channels: PIL: %s", ch, out);
                        free(file);
                        free(packed);
                    }
                    free(back);
                    free(png);
                    free(img);
                }
}

MV_TEST(png, filter_choice_and_refusals)
{
    unsigned char img[4 * 40], *back = NULL, filters[4], small[8];
    unsigned char buf[4096];
    size_t got = 0;
    int x, y, w, h, c;
    const char *why;
    char dir[600];
    /* rows of a ramp 0, 3, 6, ...: Sub leaves 3s (row 0; Paeth ties with it
       there, and the first of a tie is taken), Up leaves zeros in the
       identical rows below (Paeth too: a = c, so it predicts b) */
    for (y = 0; y < 4; y++)
        for (x = 0; x < 40; x++) img[40 * y + x] = (unsigned char)(3 * x);
    EXPECT_OK(mv_png_encode(img, 40, 4, 1, 0, buf, sizeof(buf), &got, NULL));
    why = png_read(buf, got, &w, &h, &c, &back, filters, 4);
    REQUIRE(why == NULL);
    EXPECT(memcmp(back, img, sizeof(img)) == 0);
    EXPECT_EQ_INT(filters[0], 1);
    EXPECT_EQ_INT(filters[1], 2);
    EXPECT_EQ_INT(filters[3], 2);
    free(back);
    /* rows of one value each, rising by 9 (the first row varies): from the
       third row on Up leaves 9s everywhere, Sub the 18 in front and zeros,
       Paeth (a = left, b = up = c) predicts the left sample, zeros, after a
       first sample it predicts from above: 9, the smallest sum */
    for (y = 0; y < 4; y++)
        for (x = 0; x < 40; x++) img[40 * y + x] = (unsigned char)(9 * y + (y == 0 ? (x * 37) & 255 : 0));
    EXPECT_OK(mv_png_encode(img, 40, 4, 1, 0, buf, sizeof(buf), &got, NULL));
    why = png_read(buf, got, &w, &h, &c, &back, filters, 4);
    REQUIRE(why == NULL);
    EXPECT(memcmp(back, img, sizeof(img)) == 0);
    EXPECT_EQ_INT(filters[2], 4);
    EXPECT_EQ_INT(filters[3], 4);
    free(back);
    /* refusals */
    EXPECT_STATUS(mv_png_encode(img, 0, 4, 1, 0, buf, sizeof(buf), &got, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_png_encode(img, 4, (int64_t)1 << 31, 1, 0, buf, sizeof(buf), &got, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_png_encode(img, 4, 4, 5, 0, buf, sizeof(buf), &got, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_png_encode(img, 4, 4, 0, 0, buf, sizeof(buf), &got, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_png_encode(img, 10, 4, 1, 9, buf, sizeof(buf), &got, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_png_encode(NULL, 10, 4, 1, 0, buf, sizeof(buf), &got, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_png_encode(img, 10, 4, 1, 0, small, sizeof(small), &got, NULL), MV_ERR_BUFFER_TOO_SMALL);
    EXPECT(got > sizeof(small)); /* the size still reported */
    snprintf(dir, sizeof(dir), "%s/no/such/dir/x.png", tu_path("png_missing"));
    EXPECT_STATUS(mv_png_save(dir, img, 10, 4, 1, 0, NULL), MV_ERR_IO);
    EXPECT(strstr(mv_last_error(), "x.png") != NULL);
    snprintf(dir, sizeof(dir), "%s", tu_path("png_bad.png"));
    unlink(dir);
    EXPECT_STATUS(mv_png_save(dir, img, 10, 4, 7, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "png_bad.png") != NULL);
    EXPECT(access(dir, F_OK) != 0); /* nothing written */
}
