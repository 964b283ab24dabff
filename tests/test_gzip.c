/* test_gzip.c - DEFLATE/gzip decoding against zlib (via Python's zlib and
   gzip modules), gzip(1) and pigz; every corruption the issue names */
#include "testutil.h"
#include "json.h"
#include <stdlib.h>

static unsigned char *ref_file(const char *refs, const char *name, const char *ext, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/gz/%s%s", refs, name, ext);
    return tu_read_file(path, len);
}

/* streaming decode with given chunk sizes; returns the bytes out (or -1) */
static long long stream_decode(const unsigned char *gz, size_t gzn, size_t ichunk, size_t ochunk, unsigned char *out,
                               size_t cap, mv_status *st_out)
{
    mv_gunzip_stream *s;
    size_t ip = 0, op = 0;
    int end = 0, idle = 0;
    unsigned char *tmp = (unsigned char *)malloc(ochunk);
    mv_status st = mv_gunzip_stream_new(&s, NULL);
    while (st == MV_OK) {
        size_t used = 0, got = 0, ilen = gzn - ip < ichunk ? gzn - ip : ichunk;
        st = mv_gunzip_stream_run(s, gz + ip, ilen, &used, tmp, ochunk, &got, &end);
        if (st != MV_OK) break;
        if (op + got > cap) {
            st = MV_ERR_BUFFER_TOO_SMALL;
            break;
        }
        memcpy(out + op, tmp, got);
        ip += used;
        op += got;
        idle = used == 0 && got == 0 ? idle + 1 : 0;
        if (ip == gzn && (idle || (end && got < ochunk))) break;
        if (idle > 2) break;
    }
    free(tmp);
    mv_gunzip_stream_free(s, NULL);
    *st_out = st;
    if (st == MV_OK && !end) *st_out = MV_ERR_TRUNCATED;
    return (long long)op;
}

MV_TEST(gzip, decodes_zlib_gzip_and_pigz)
{
    const char *refs = tu_refs_dir();
    char path[1024];
    tj *doc;
    const tj *cases;
    int i;
    if (!refs) SKIP("needs /usr/bin/python3 (refs.py)");
    snprintf(path, sizeof(path), "%s/gz.json", refs);
    doc = tj_parse_file(path);
    REQUIRE(doc != NULL);
    cases = tj_get(doc, "cases");
    REQUIRE(cases && cases->n > 60);
    for (i = 0; i < cases->n; i++) {
        const char *name = tj_str(tj_at(cases, i), "");
        size_t gzn, rawn, got = 0, need = 0;
        unsigned char *gz = ref_file(refs, name, ".gz", &gzn), *raw = ref_file(refs, name, ".raw", &rawn), *out;
        mv_status st;
        REQUIRE(gz && raw);
        out = (unsigned char *)malloc(rawn + 64);
        st = mv_gunzip(gz, gzn, out, rawn + 64, &got, NULL);
        EXPECT_MSG(st == MV_OK && got == rawn && memcmp(out, raw, rawn) == 0, "%s: one-shot %s (%s), %zu of %zu bytes", name,
                   mv_status_str(st), mv_last_error(), got, rawn);
        EXPECT_MSG(mv_gunzip(gz, gzn, NULL, 0, &need, NULL) == MV_OK && need == rawn, "%s: sizing call says %zu", name, need);
        if (rawn > 0)
            EXPECT_MSG(mv_gunzip(gz, gzn, out, rawn - 1, &need, NULL) == MV_ERR_BUFFER_TOO_SMALL && need == rawn,
                       "%s: short buffer", name);
        { /* piece by piece, in awkward sizes */
            static const size_t ic[] = {1, 5, 333, 1 << 20}, oc[] = {1, 7, 4096, 1 << 22};
            int a, b;
            for (a = 0; a < 4; a++)
                for (b = 0; b < 4; b++) {
                    long long n;
                    if ((ic[a] < 300 || oc[b] < 300) && rawn > 50000) continue; /* tiny pieces: small inputs only */
                    n = stream_decode(gz, gzn, ic[a], oc[b], out, rawn + 64, &st);
                    EXPECT_MSG(st == MV_OK && n == (long long)rawn && memcmp(out, raw, rawn) == 0,
                               "%s: stream in %zu out %zu: %s (%s), %lld bytes", name, ic[a], oc[b], mv_status_str(st),
                               mv_last_error(), n);
                }
        }
        free(gz);
        free(raw);
        free(out);
        if (mvt_cur.failures) break;
    }
    tj_free(doc);
}

/* a state in caller memory: no allocation, reusable after init */
MV_TEST(gzip, stream_in_caller_memory)
{
    const char *refs = tu_refs_dir();
    size_t gzn, rawn, used, got, n;
    unsigned char *gz, *raw, *out;
    void *mem;
    mv_gunzip_stream *s;
    int end = 0, k;
    if (!refs) SKIP("needs /usr/bin/python3 (refs.py)");
    gz = ref_file(refs, "two_members", ".gz", &gzn);
    raw = ref_file(refs, "two_members", ".raw", &rawn);
    REQUIRE(gz && raw);
    n = mv_gunzip_stream_size();
    EXPECT(n > 40000 && n < 80000);
    mem = malloc(n);
    out = (unsigned char *)malloc(rawn);
    s = (mv_gunzip_stream *)mem;
    for (k = 0; k < 2; k++) {
        REQUIRE_OK(mv_gunzip_stream_init(s));
        REQUIRE_OK(mv_gunzip_stream_run(s, gz, gzn, &used, out, rawn, &got, &end));
        EXPECT(used == gzn && got == rawn && end == 1 && memcmp(out, raw, rawn) == 0);
    }
    EXPECT_STATUS(mv_gunzip_stream_init((mv_gunzip_stream *)((char *)mem + 1)), MV_ERR_INVALID_ARG);
    free(mem);
    free(out);
    free(gz);
    free(raw);
}

/* ---- corruption ---- */
typedef struct bitw {
    unsigned char buf[1024];
    size_t n;
    uint64_t acc;
    int bits;
} bitw;
static void bw_put(bitw *w, uint32_t v, int nbits)
{
    w->acc |= (uint64_t)v << w->bits;
    w->bits += nbits;
    while (w->bits >= 8) {
        w->buf[w->n++] = (unsigned char)w->acc;
        w->acc >>= 8;
        w->bits -= 8;
    }
}
/* a Huffman code goes most significant bit first */
static void bw_code(bitw *w, uint32_t code, int len)
{
    int i;
    for (i = len - 1; i >= 0; i--) bw_put(w, (code >> i) & 1, 1);
}
static void bw_flush(bitw *w)
{
    if (w->bits) bw_put(w, 0, 8 - w->bits);
}
/* wraps the deflate bytes in a gzip member (trailer for the given output) */
static size_t wrap_gzip(const bitw *w, unsigned char *out, uint32_t crc, uint32_t isize)
{
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    int i;
    memcpy(out, hdr, 10);
    memcpy(out + 10, w->buf, w->n);
    for (i = 0; i < 4; i++) {
        out[10 + w->n + i] = (unsigned char)(crc >> (8 * i));
        out[14 + w->n + i] = (unsigned char)(isize >> (8 * i));
    }
    return 18 + w->n;
}

static void expect_bad(const unsigned char *gz, size_t n, mv_status want, const char *detail)
{
    unsigned char out[4096];
    size_t got;
    mv_status st = mv_gunzip(gz, n, out, sizeof(out), &got, NULL);
    EXPECT_MSG(st == want, "%s: %s, expected %s (%s)", detail, mv_status_str(st), mv_status_str(want), mv_last_error());
    EXPECT_MSG(strstr(mv_last_error(), detail) != NULL, "detail \"%s\" lacks \"%s\"", mv_last_error(), detail);
}

MV_TEST(gzip, corrupt_streams)
{
    unsigned char gz[2048], good[512];
    size_t n, k;
    bitw w;
    int i;
    /* reserved block type */
    memset(&w, 0, sizeof(w));
    bw_put(&w, 1, 1);
    bw_put(&w, 3, 2);
    bw_flush(&w);
    expect_bad(gz, wrap_gzip(&w, gz, 0, 0), MV_ERR_BAD_DATA, "block type 3");
    /* a match before any output */
    memset(&w, 0, sizeof(w));
    bw_put(&w, 1, 1);
    bw_put(&w, 1, 2);  /* fixed Huffman */
    bw_code(&w, 1, 7); /* 257: length 3 */
    bw_code(&w, 0, 5); /* distance 1 */
    bw_code(&w, 0, 7); /* end of block */
    bw_flush(&w);
    expect_bad(gz, wrap_gzip(&w, gz, 0, 3), MV_ERR_BAD_DATA, "distance too far back");
    /* code-length code over-subscribed: 19 codes of one bit */
    memset(&w, 0, sizeof(w));
    bw_put(&w, 1, 1);
    bw_put(&w, 2, 2);
    bw_put(&w, 0, 5);
    bw_put(&w, 0, 5);
    bw_put(&w, 15, 4);
    for (i = 0; i < 19; i++) bw_put(&w, 1, 3);
    bw_flush(&w);
    expect_bad(gz, wrap_gzip(&w, gz, 0, 0), MV_ERR_BAD_DATA, "over-subscribed code-length code");
    /* literal/length code incomplete (257 codes of 9 bits) and over-subscribed
       (257 of 1 bit): a code-length code with symbols 1 and 9 of one bit each
       (1 -> '0', 9 -> '1'); HCLEN covers the order up to symbol 1 */
    for (k = 0; k < 2; k++) {
        static const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
        memset(&w, 0, sizeof(w));
        bw_put(&w, 1, 1);
        bw_put(&w, 2, 2);
        bw_put(&w, 0, 5);      /* 257 lengths */
        bw_put(&w, 0, 5);      /* 1 distance length */
        bw_put(&w, 18 - 4, 4); /* 18 code-length lengths */
        for (i = 0; i < 18; i++) bw_put(&w, order[i] == 1 || order[i] == 9 ? 1 : 0, 3);
        for (i = 0; i < 257; i++) bw_code(&w, k == 0 ? 1 : 0, 1); /* all 9, or all 1 */
        bw_code(&w, 0, 1);                                        /* the distance: 1 */
        bw_flush(&w);
        expect_bad(gz, wrap_gzip(&w, gz, 0, 0), MV_ERR_BAD_DATA,
                   k == 0 ? "incomplete literal/length code" : "over-subscribed literal/length code");
    }
    /* code-length repeats that have nothing to repeat or run past the
       lengths: a code-length code of symbols 16 ('0') and 18 ('1') */
    for (k = 0; k < 2; k++) {
        memset(&w, 0, sizeof(w));
        bw_put(&w, 1, 1);
        bw_put(&w, 2, 2);
        bw_put(&w, 0, 5); /* 257 lengths */
        bw_put(&w, 0, 5); /* 1 distance length: 258 in all */
        bw_put(&w, 0, 4); /* 4 code-length lengths: symbols 16, 17, 18, 0 */
        bw_put(&w, 1, 3);
        bw_put(&w, 0, 3);
        bw_put(&w, 1, 3);
        bw_put(&w, 0, 3);
        if (k == 0) {
            bw_code(&w, 0, 1); /* 16 first: repeat the previous length */
            bw_put(&w, 0, 2);
        } else {
            for (i = 0; i < 2; i++) { /* 138 zeros twice */
                bw_code(&w, 1, 1);
                bw_put(&w, 127, 7);
            }
        }
        bw_put(&w, 0, 32); /* input to spare: the lengths decode in mv__inf_lens_fast */
        bw_flush(&w);
        expect_bad(gz, wrap_gzip(&w, gz, 0, 0), MV_ERR_BAD_DATA,
                   k == 0 ? "code-length repeat with no previous length" : "code-length repeat past the end of the lengths");
    }
    /* a valid stream to damage: fixed Huffman "abcabcabc" */
    memset(&w, 0, sizeof(w));
    bw_put(&w, 1, 1);
    bw_put(&w, 1, 2);
    for (i = 0; i < 3; i++) bw_code(&w, 0x30 + (uint32_t)("abc"[i]), 8);
    bw_code(&w, 4, 7); /* 260: length 6 */
    bw_code(&w, 2, 5); /* distance 3 */
    bw_code(&w, 0, 7);
    bw_flush(&w);
    n = wrap_gzip(&w, good, 0x1A2B3C4Du, 9);
    {
        /* the real CRC, from a decode with the check failing */
        unsigned char out[64];
        size_t got;
        EXPECT_STATUS(mv_gunzip(good, n, out, sizeof(out), &got, NULL), MV_ERR_BAD_DATA);
        EXPECT(strstr(mv_last_error(), "CRC-32 mismatch") != NULL);
    }
    {
        /* CRC-32 of "abcabcabc" from the bitwise definition */
        uint32_t c = 0xffffffffu;
        int b;
        for (i = 0; i < 9; i++) {
            c ^= (unsigned char)"abcabcabc"[i];
            for (b = 0; b < 8; b++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
        n = wrap_gzip(&w, good, ~c, 9);
    }
    {
        unsigned char out[64];
        size_t got;
        EXPECT_OK(mv_gunzip(good, n, out, sizeof(out), &got, NULL));
        EXPECT(got == 9 && memcmp(out, "abcabcabc", 9) == 0);
    }
    memcpy(gz, good, n);
    gz[n - 8] ^= 1;
    expect_bad(gz, n, MV_ERR_BAD_DATA, "CRC-32 mismatch");
    memcpy(gz, good, n);
    gz[n - 4] ^= 1;
    expect_bad(gz, n, MV_ERR_BAD_DATA, "ISIZE");
    memcpy(gz, good, n);
    gz[0] = 0x1e;
    expect_bad(gz, n, MV_ERR_BAD_DATA, "not gzip");
    memcpy(gz, good, n);
    gz[2] = 7;
    expect_bad(gz, n, MV_ERR_UNSUPPORTED, "compression method 7");
    memcpy(gz, good, n);
    gz[3] = 0x80;
    expect_bad(gz, n, MV_ERR_BAD_DATA, "reserved flag");
    memcpy(gz, good, n);
    gz[n] = 'X';
    expect_bad(gz, n + 1, MV_ERR_BAD_DATA, "trailing garbage");
    memcpy(gz, good, n);
    memset(gz + n, 0, 100);
    {
        unsigned char out[64];
        size_t got;
        EXPECT_OK(mv_gunzip(gz, n + 100, out, sizeof(out), &got, NULL)); /* zero padding is fine */
    }
    /* truncated at every byte */
    for (k = 0; k < n; k++) {
        unsigned char out[64];
        size_t got;
        mv_status st = mv_gunzip(good, k, out, sizeof(out), &got, NULL);
        EXPECT_MSG(st == MV_ERR_TRUNCATED, "%zu of %zu bytes: %s", k, n, mv_status_str(st));
    }
    /* a damaged header CRC (FHCRC) */
    {
        static const unsigned char hdr[12] = {0x1f, 0x8b, 8, 2, 0, 0, 0, 0, 0, 3, 0x00, 0x00};
        memcpy(gz, hdr, 12);
        memcpy(gz + 12, good + 10, n - 10);
        expect_bad(gz, n + 2, MV_ERR_BAD_DATA, "header CRC");
    }
}

/* An error names the byte holding the first bit of what is wrong, whatever
   path found it: the fast loop (whole buffer, bits read ahead), the slow one
   (the stream fed a byte at a time), or several threads. Fixed Huffman
   codes laid out by hand (RFC 1951 3.2.6): L literals 'a' (8 bits), four
   0xF0 (9 bits, so the bad code starts mid-byte), then either symbol 286
   (has a fixed code, never valid) or length 3 with distance code 30 (the
   same). Padding after it keeps the fast loop's 40 input bytes in reach. */
MV_TEST(gzip, damage_named_at_its_bit)
{
    static unsigned char gz[2048], out[4096];
    int bad_dist, i, feed;
    for (bad_dist = 0; bad_dist < 2; bad_dist++) {
        const int L = 600;
        long long start; /* bit of the bad code in the deflate data */
        size_t n, got;
        char want[64];
        bitw w;
        memset(&w, 0, sizeof(w));
        bw_put(&w, 1, 1);
        bw_put(&w, 1, 2);
        for (i = 0; i < L; i++) bw_code(&w, 0x30 + 'a', 8);
        for (i = 0; i < 4; i++) bw_code(&w, 0x190 + (0xF0 - 144), 9);
        start = 3 + 8LL * L + 36;
        if (bad_dist) {
            bw_code(&w, 1, 7); /* 257: length 3 */
            start += 7;
            bw_code(&w, 30, 5); /* distance code 30 */
        } else {
            bw_code(&w, 0xC0 + (286 - 280), 8); /* 286 */
        }
        REQUIRE(start % 8 >= 4); /* a code read whole would end in the next byte */
        for (i = 0; i < 16; i++) bw_put(&w, 0, 32);
        bw_flush(&w);
        n = wrap_gzip(&w, gz, 0, 0);
        snprintf(want, sizeof(want), "(at compressed byte %lld)", 10 + start / 8);
        for (feed = 0; feed < 3; feed++) {
            mv_status st;
            if (feed == 0) {
                st = mv_gunzip(gz, n, out, sizeof(out), &got, NULL);
            } else {
                size_t piece = feed == 1 ? 1 : 37;
                stream_decode(gz, n, piece, piece, out, sizeof(out), &st);
            }
            EXPECT_MSG(st == MV_ERR_BAD_DATA && strstr(mv_last_error(), bad_dist ? "invalid distance code"
                                                                                  : "invalid literal/length code") &&
                           strstr(mv_last_error(), want),
                       "%s, %s: %s (%s), expected %s", bad_dist ? "distance 30" : "symbol 286",
                       feed ? "streamed" : "whole", mv_status_str(st), mv_last_error(), want);
        }
    }
}

/* .nii.gz written by nibabel: crop-first reading stops decoding early */
MV_TEST(gzip, nii_gz_crop_reads_little)
{
    const char *dir = tu_data_dir();
    char path[1024];
    size_t len;
    unsigned char *file;
    mv_load_opts o;
    mv_vol full, box;
    if (!dir) SKIP("../shared/data not found");
    snprintf(path, sizeof(path), "%s/nifti/example4d.nii.gz", dir);
    file = tu_read_file(path, &len);
    REQUIRE(file != NULL);
    REQUIRE_OK(mv_load_mem(file, len, &full, NULL));
    memset(&o, 0, sizeof(o));
    o.box_start[2] = 3;
    o.box_size[2] = 2;
    o.box_size[3] = 1; /* two slices of the first volume */
    REQUIRE_OK(mv_load(path, &box, &o));
    EXPECT(box.dim[0] == 128 && box.dim[2] == 2 && box.dim[3] == 1);
    EXPECT(memcmp(box.data, (int16_t *)full.data + 3 * 128 * 96, (size_t)2 * 128 * 96 * 2) == 0);
    mv_free(&box);
    o.scaled = 1; /* with conversion: through the decoded range */
    REQUIRE_OK(mv_load(path, &box, &o));
    EXPECT(((float *)box.data)[5] == (float)((int16_t *)full.data)[3 * 128 * 96 + 5]);
    mv_free(&box);
    mv_free(&full);
    free(file);
}

/* FHCRC verified even when decoding is the program's first medvol call
   (the CRC tables are made on demand) */
MV_TEST(gzip, header_crc_first_call)
{
    const char *refs = tu_refs_dir();
    size_t gzn, rawn, used, got;
    unsigned char *gz, *raw, *out;
    mv_gunzip_stream *s;
    int end = 0;
    if (!refs) SKIP("needs /usr/bin/python3 (refs.py)");
    gz = ref_file(refs, "hdr_all", ".gz", &gzn);
    raw = ref_file(refs, "hdr_all", ".raw", &rawn);
    REQUIRE(gz && raw);
    out = (unsigned char *)malloc(rawn);
    REQUIRE_OK(mv_gunzip_stream_new(&s, NULL));
    EXPECT_OK(mv_gunzip_stream_run(s, gz, gzn, &used, out, rawn, &got, &end));
    EXPECT(end && got == rawn && memcmp(out, raw, rawn) == 0);
    mv_gunzip_stream_free(s, NULL);
    free(out);
    free(gz);
    free(raw);
}

/* ---- writing ---- */

/* a volume-like byte stream: smooth int16 with noise, then a text tail */
static unsigned char *sample_bytes(size_t n, uint64_t seed)
{
    unsigned char *p = (unsigned char *)malloc(n ? n : 1);
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        int v = (int)(1000 + 300 * sin((double)i * 1e-4) + (double)(tu_rand(&seed) % 64));
        p[i] = (unsigned char)v;
        p[i + 1] = (unsigned char)(v >> 8);
    }
    if (n % 2) p[n - 1] = 'x';
    return p;
}

MV_TEST(gzip, roundtrip_levels_members_threads)
{
    static const size_t sizes[] = {0, 1, 1000, 65536, 1 << 20, (3 << 20) + 17};
    static const int levels[] = {-1, 1, 6, 9};
    static const size_t members[] = {0, 4096, 300000};
    size_t si, li, mi;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t n = sizes[si], prev_len = 0;
        unsigned char *in = sample_bytes(n, si), *gz, *back;
        size_t cap;
        for (li = 0; li < 4; li++)
            for (mi = 0; mi < 3; mi++) {
                mv_gzip_opts o;
                size_t len = 0, got = 0, need = 0;
                int t;
                memset(&o, 0, sizeof(o));
                o.level = levels[li];
                o.member_size = members[mi];
                o.single_member = mi == 2 && n % 2;
                cap = mv_gzip_bound(n, &o);
                gz = (unsigned char *)malloc(cap);
                back = (unsigned char *)malloc(n + 1);
                EXPECT_OK(mv_gzip(in, n, gz, cap, &len, &o));
                EXPECT(len > 0 && len <= cap);
                EXPECT_OK(mv_gzip(in, n, NULL, 0, &need, &o)); /* the sizing call is exact */
                EXPECT_EQ_INT(need, len);
                if (len > 20) EXPECT_STATUS(mv_gzip(in, n, gz, 20, &need, &o), MV_ERR_BUFFER_TOO_SMALL);
                REQUIRE_OK(mv_gzip(in, n, gz, cap, &len, &o));
                for (t = 1; t <= 4; t *= 2) { /* parallel decode of the members: the same bytes */
                    mv_gzip_opts d;
                    memset(&d, 0, sizeof(d));
                    d.threads = t;
                    EXPECT_OK(mv_gunzip(gz, len, back, n + 1, &got, &d));
                    EXPECT_MSG(got == n && memcmp(back, in, n) == 0, "n=%zu level %d member %zu threads %d", n, o.level,
                               members[mi], t);
                }
                if (levels[li] == -1) EXPECT(len >= n); /* stored */
                if (mi == 0 && li > 0 && n > 100000) EXPECT(len <= prev_len + prev_len / 50); /* higher level: not much larger */
                if (mi == 0) prev_len = len;
                free(gz);
                free(back);
            }
        free(in);
    }
}

/* the member index: one member per member_size, in order, decodable one by
   one; a forged index is caught */
MV_TEST(gzip, member_index)
{
    size_t n = (size_t)5 << 20, len, got, cap;
    unsigned char *in = sample_bytes(n, 3), *gz, *back = (unsigned char *)malloc(n);
    mv_gzip_opts o;
    int members = 0;
    size_t pos = 0;
    memset(&o, 0, sizeof(o));
    o.member_size = (size_t)1 << 20;
    cap = mv_gzip_bound(n, &o);
    gz = (unsigned char *)malloc(cap);
    REQUIRE_OK(mv_gzip(in, n, gz, cap, &len, &o));
    while (pos < len) { /* walk the members through their headers */
        uint64_t csize = 0, usize = 0;
        int b;
        REQUIRE(gz[pos] == 0x1f && gz[pos + 1] == 0x8b && (gz[pos + 3] & 4) && gz[pos + 12] == 'M' && gz[pos + 13] == 'V');
        for (b = 7; b >= 0; b--) {
            csize = csize << 8 | gz[pos + 17 + b];
            usize = usize << 8 | gz[pos + 25 + b];
        }
        EXPECT_EQ_INT(usize, members < 5 ? (1 << 20) : 0);
        EXPECT_OK(mv_gunzip(gz + pos, (size_t)csize, back, n, &got, NULL)); /* each member stands alone */
        EXPECT(got == usize && memcmp(back, in + (size_t)members * ((size_t)1 << 20), got) == 0);
        pos += (size_t)csize;
        members++;
        if (members > 10) break;
    }
    EXPECT_EQ_INT(members, 5);
    EXPECT_EQ_INT(pos, len);
    gz[25] ^= 1; /* member 0 says one byte more (or less) than it holds */
    free(back);
    back = (unsigned char *)malloc(n + 16);
    EXPECT_STATUS(mv_gunzip(gz, len, back, n + 16, &got, NULL), MV_ERR_BAD_DATA);
    gz[25] ^= 1;
    free(in);
    free(gz);
    free(back);
}

/* what medvol writes, other tools read: Python's gzip module (zlib), gzip -t, pigz -t */
MV_TEST(gzip, other_tools_read_ours)
{
    size_t n = (size_t)3 << 20, len, cap;
    unsigned char *in = sample_bytes(n, 9), *gz;
    mv_gzip_opts o;
    char args[2048], out[512];
    int k, rc;
    if (!tu_python("gzip")) SKIP("needs /usr/bin/python3");
    for (k = 0; k < 4; k++) {
        memset(&o, 0, sizeof(o));
        o.level = k == 0 ? 1 : k == 3 ? 9 : 6;
        o.single_member = k >= 2; /* in parts of 1 MiB, and of 100000 bytes, compressed in parallel */
        if (k == 3) o.member_size = 100000;
        cap = mv_gzip_bound(n, &o);
        gz = (unsigned char *)malloc(cap);
        REQUIRE_OK(mv_gzip(in, n, gz, cap, &len, &o));
        REQUIRE(tu_write_file(tu_path("ours.gz"), gz, len) && tu_write_file(tu_path("ours.raw"), in, n));
        snprintf(args, sizeof(args), "-c \"import gzip,sys; sys.exit(gzip.open('%s').read() != open('%s','rb').read())\"",
                 tu_path("ours.gz"), tu_path("ours.raw"));
        {
            char cmd[2300];
            snprintf(cmd, sizeof(cmd), "%s %s", tu_python("gzip"), args);
            rc = system(cmd);
        }
        EXPECT_MSG(rc == 0, "Python's gzip module disagrees (case %d)", k);
        if (k >= 2) { /* one member: zlib's decoder (as pynrrd uses it) reads it all and nothing is left over */
            char cmd[2300];
            snprintf(cmd, sizeof(cmd),
                     "%s -c \"import zlib,sys; d=zlib.decompressobj(31); o=d.decompress(open('%s','rb').read()); "
                     "sys.exit(not (o == open('%s','rb').read() and d.eof and d.unused_data == b''))\"",
                     tu_python("gzip"), tu_path("ours.gz"), tu_path("ours.raw"));
            EXPECT_MSG(system(cmd) == 0, "zlib does not read it as one member (case %d)", k);
        }
        snprintf(args, sizeof(args), "gzip -t '%s' 2>&1", tu_path("ours.gz"));
        EXPECT_MSG(system(args) == 0, "gzip -t rejects it (case %d)", k);
        snprintf(args, sizeof(args), "command -v pigz >/dev/null && pigz -t '%s' 2>&1 || true", tu_path("ours.gz"));
        EXPECT(system(args) == 0);
        free(gz);
    }
    (void)out;
    free(in);
}

/* one member compressed in parallel parts (pigz's layout): the same bytes
   on any thread count, one gzip header, decoded whole and in pieces */
MV_TEST(gzip, single_member_parts)
{
    size_t n = (size_t)(3 << 20) + 17, len1 = 0, len2 = 0, got = 0, cap, i;
    unsigned char *in = sample_bytes(n, 5), *a, *b, *back = (unsigned char *)malloc(n + 1);
    mv_gzip_opts o;
    memset(&o, 0, sizeof(o));
    o.single_member = 1;
    o.member_size = 70000; /* 46 parts */
    cap = mv_gzip_bound(n, &o);
    a = (unsigned char *)malloc(cap);
    b = (unsigned char *)malloc(cap);
    o.threads = 1;
    REQUIRE_OK(mv_gzip(in, n, a, cap, &len1, &o));
    o.threads = 2;
    REQUIRE_OK(mv_gzip(in, n, b, cap, &len2, &o));
    EXPECT(len1 == len2 && memcmp(a, b, len1) == 0);
    EXPECT(a[0] == 0x1f && a[1] == 0x8b && a[3] == 0); /* no FEXTRA: no index */
    for (i = 10; i + 1 < len1; i++) /* (a gzip header would not survive inside: there is only the one) */
        if (a[i] == 0x1f && a[i + 1] == 0x8b && i + 3 < len1 && a[i + 2] == 8 && a[i + 3] == 0 && i + 10 < len1 &&
            a[i + 9] == 255)
            break;
    EXPECT_MSG(i + 1 >= len1, "a second gzip header at %zu", i);
    EXPECT_OK(mv_gunzip(a, len1, back, n + 1, &got, NULL));
    EXPECT(got == n && memcmp(back, in, n) == 0);
    a[len1 - 6] ^= 1; /* the combined CRC-32 is checked */
    EXPECT_STATUS(mv_gunzip(a, len1, back, n + 1, &got, NULL), MV_ERR_BAD_DATA);
    free(in);
    free(a);
    free(b);
    free(back);
}

/* .nii.gz in every form: single file, pair, memory, stream; crop-first and
   conversion on the indexed layout */
MV_TEST(gzip, nii_gz_roundtrip)
{
    mv_vol v, back, box;
    int64_t dims[4] = {61, 47, 33, 3};
    mv_save_opts so;
    mv_load_opts lo;
    int k, i;
    REQUIRE_OK(mv_phantom_smooth(&v, MV_DT_I16, 61, 47, 33, 4));
    {
        mv_vol four;
        REQUIRE_OK(mv_vol_alloc(&four, MV_DT_I16, 4, dims, NULL));
        for (i = 0; i < 3; i++) memcpy((int16_t *)four.data + (size_t)i * 61 * 47 * 33, v.data, mv_vol_bytes(&v));
        memcpy(four.affine, v.affine, sizeof(v.affine));
        mv_free(&v);
        v = four;
    }
    v.meta.scl_slope = 0.5;
    for (k = 0; k < 4; k++) {
        static const char *names[] = {"rt.nii.gz", "rt.hdr.gz", "rt1.nii.gz", "rt2.img.gz"};
        memset(&so, 0, sizeof(so));
        so.gzip.member_size = k == 2 ? 0 : 50000; /* several members */
        so.gzip.single_member = k == 3;
        so.gzip.level = k == 1 ? 1 : 0;
        REQUIRE_OK(mv_save(tu_path(names[k]), &v, &so));
        REQUIRE_OK(mv_load(tu_path(names[k]), &back, NULL));
        EXPECT_MSG(back.dtype == MV_DT_I16 && mv_vol_count(&back) == mv_vol_count(&v) &&
                       memcmp(back.data, v.data, mv_vol_bytes(&v)) == 0 && back.meta.scl_slope == 0.5,
                   "%s", names[k]);
        EXPECT(memcmp(back.affine, v.affine, sizeof(v.affine)) == 0);
        mv_free(&back);
        /* crop-first of time point 1, scaled: through the index at random */
        memset(&lo, 0, sizeof(lo));
        lo.box_start[0] = 10;
        lo.box_size[0] = 20;
        lo.box_start[2] = 5;
        lo.box_size[2] = 7;
        lo.box_start[3] = 1;
        lo.box_size[3] = 1;
        lo.scaled = 1;
        REQUIRE_OK(mv_load(tu_path(names[k]), &box, &lo));
        EXPECT(box.dtype == MV_DT_F32 && box.dim[0] == 20 && box.dim[2] == 7 && box.dim[3] == 1);
        EXPECT(((float *)box.data)[0] ==
               (float)(0.5 * ((int16_t *)v.data)[10 + 61 * 47 * 5 + (size_t)61 * 47 * 33]));
        mv_free(&box);
    }
    { /* memory and stream forms with compress set */
        size_t len = 0;
        unsigned char *buf;
        memset(&so, 0, sizeof(so));
        so.compress = 1;
        REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, &so));
        buf = (unsigned char *)malloc(len);
        REQUIRE_OK(mv_save_mem(&v, buf, len, &len, &so));
        EXPECT(buf[0] == 0x1f && buf[1] == 0x8b && len < mv_vol_bytes(&v));
        REQUIRE_OK(mv_load_mem(buf, len, &back, NULL));
        EXPECT(memcmp(back.data, v.data, mv_vol_bytes(&v)) == 0);
        mv_free(&back);
        free(buf);
    }
    mv_free(&v);
}

/* Data that takes every path of the fast loop: 16-bit image-like bytes
   (literal pairs, short matches far back), runs with periods 1-9 (the
   short-distance copies), long matches, and incompressible stretches. */
static unsigned char *fast_loop_bytes(size_t n, uint64_t seed)
{
    unsigned char *p = sample_bytes(n, seed);
    size_t i = 0;
    while (i < n) {
        size_t run = 16 + tu_rand(&seed) % 2000, k, period = 1 + tu_rand(&seed) % 9;
        int kind = (int)(tu_rand(&seed) % 4);
        if (run > n - i) run = n - i;
        if (kind == 1)
            for (k = period; k < run; k++) p[i + k] = p[i + k - period]; /* a short period */
        else if (kind == 2 && i > 40000)
            memmove(p + i, p + i - 1000 - tu_rand(&seed) % 30000, run); /* a long match (may overlap) */
        else if (kind == 3)
            for (k = 0; k < run; k++) p[i + k] = (unsigned char)tu_rand(&seed); /* noise */
        i += run;
    }
    return p;
}

/* Every ISA's fast loop decodes the same streams to the same bytes, in one
   call and through the stream in small output pieces (matches that reach
   into the previous piece). */
MV_TEST(gzip, every_isa_decodes)
{
    const size_t n = (2 << 20) + 5;
    unsigned char *in = fast_loop_bytes(n, 99), *gz, *back = (unsigned char *)malloc(n + 1);
    unsigned avail = mv_isa_available();
    mv_isa active = mv_isa_active();
    mv_gunzip_stream *st = NULL;
    int levels[] = {1, 6, 9}, li, isa;
    REQUIRE_OK(mv_gunzip_stream_new(&st, NULL));
    for (li = 0; li < 3; li++) {
        mv_gzip_opts o;
        size_t cap, len = 0;
        memset(&o, 0, sizeof(o));
        o.level = levels[li];
        o.single_member = 1;
        cap = mv_gzip_bound(n, &o);
        gz = (unsigned char *)malloc(cap);
        REQUIRE_OK(mv_gzip(in, n, gz, cap, &len, &o));
        for (isa = 0; isa < MV_ISA_COUNT; isa++) {
            size_t got = 0, ip = 0, op = 0;
            int at_end = 0;
            if (!(avail & (1u << isa))) continue;
            REQUIRE_OK(mv_set_isa((mv_isa)isa));
            memset(back, 0, n);
            EXPECT_OK(mv_gunzip(gz, len, back, n + 1, &got, NULL));
            EXPECT_MSG(got == n && memcmp(back, in, n) == 0, "[%s] level %d one call", mv_isa_name((mv_isa)isa), o.level);
            memset(back, 0, n);
            REQUIRE_OK(mv_gunzip_stream_init(st));
            while (!at_end && op < n) {
                size_t used = 0, out_len = 0, piece = (size_t)5000 + op % 3001;
                if (piece > n - op) piece = n - op;
                mv_status r = mv_gunzip_stream_run(st, gz + ip, len - ip, &used, back + op, piece, &out_len, &at_end);
                EXPECT_OK(r);
                if (r != MV_OK || (used == 0 && out_len == 0)) break;
                ip += used;
                op += out_len;
            }
            EXPECT_MSG(op == n && memcmp(back, in, n) == 0, "[%s] level %d in pieces", mv_isa_name((mv_isa)isa), o.level);
        }
        free(gz);
    }
    mv_set_isa(active);
    mv_gunzip_stream_free(st, NULL);
    free(in);
    free(back);
}

/* ---- one plain member on several threads (>>impl-gzip) ----
   Files from zlib, gzip(1), pigz and nibabel (tests/py/ref_gzpar.py): every
   thread count gives the raw bytes, and a damaged copy the same status and
   message as one thread does. This test build splits reads of 512 KiB and
   more (tests/medvol_impl.c: MEDVOL_GZIP_PARALLEL_CHUNK 256 KiB; the default
   suite links the shipped 16 MiB, where these files decode on one thread and
   isa.gzip_parallel_engine in test_isa.c checks the split itself). */
static const struct {
    const char *name;
    int damage; /* also damaged copies */
    int tool;   /* gzip(1) or pigz: left out where missing */
} gzpar_cases[] = {{"i16_z6", 1, 0},    {"i16_z9", 1, 0},   {"f32_z6", 1, 0},     {"f32_z1", 0, 0},
                   {"text_z9", 1, 0},   {"sparse_z6", 0, 0}, {"i16_fixed", 0, 0}, {"f32_huff", 0, 0},
                   {"f32_stored", 0, 0}, {"two_members", 1, 0}, {"gzip9", 0, 1},  {"pigz6", 1, 1}};

static mv_status gunzip_threads(const unsigned char *gz, size_t gzn, unsigned char *out, size_t cap, size_t *got, int t)
{
    mv_gzip_opts o;
    memset(&o, 0, sizeof(o));
    o.threads = t;
    return mv_gunzip(gz, gzn, out, cap, got, &o);
}

MV_TEST(gzip, one_member_on_threads)
{
    const char *dir = tu_gzpar_dir();
    char path[700];
    size_t i;
    int t, tmax = tu_threads_upto(4);
    if (!dir) SKIP("needs /usr/bin/python3 with numpy and nibabel (tests/py/ref_gzpar.py)");
    for (i = 0; i < sizeof(gzpar_cases) / sizeof(gzpar_cases[0]); i++) {
        size_t gzn = 0, rawn = 0, got = 0;
        unsigned char *gz, *raw, *out;
        const char *name = gzpar_cases[i].name;
        if (!tu_gzpar_case(name, ".gz", &gz, &gzn, &raw, &rawn) && gzpar_cases[i].tool) continue;
        REQUIRE(gz && raw && rawn > ((size_t)2 << 20));
        out = (unsigned char *)malloc(rawn + 4096);
        for (t = 1; t <= tmax; t++) { /* repeated on 2+ threads: a race shows as a run that differs */
            int r, reps = t == 1 ? 1 : tu_test_reps(3);
            for (r = 0; r < reps; r++) {
                mv_status st;
                memset(out, 0xA5, rawn);
                st = gunzip_threads(gz, gzn, out, rawn + 4096, &got, t);
                EXPECT_MSG(st == MV_OK && got == rawn && memcmp(out, raw, rawn) == 0,
                           "%s, %d threads (run %d): %s (%s), %zu of %zu bytes", name, t, r, mv_status_str(st),
                           mv_last_error(), got, rawn);
            }
        }
        if (gzpar_cases[i].damage) { /* a bit flipped at 3/5 of the data, or the last fifth cut off */
            int k;
            for (k = 0; k < 2; k++) {
                size_t len = k ? gzn - gzn / 5 : gzn, at = gzn * 3 / 5;
                mv_status first = MV_OK;
                size_t first_got = 0;
                char msg[512] = "";
                if (k == 0) gz[at] ^= 0x10;
                for (t = 1; t <= tmax; t++) {
                    mv_status st = gunzip_threads(gz, len, out, rawn + 4096, &got, t);
                    if (t == 1) {
                        first = st;
                        first_got = got;
                        snprintf(msg, sizeof(msg), "%s", mv_last_error());
                        EXPECT_MSG(st != MV_OK, "%s damaged (%d) decodes", name, k);
                        /* the documented *out_len: 0 on damage, on a cut a prefix of the data */
                        EXPECT_MSG(st == MV_ERR_TRUNCATED ? got > 0 && got < rawn && memcmp(out, raw, got) == 0
                                                          : got == 0,
                                   "%s damaged (%d): %s, %zu bytes out", name, k, mv_status_str(st), got);
                    } else {
                        EXPECT_MSG(st == first && got == first_got && strcmp(msg, mv_last_error()) == 0,
                                   "%s damaged (%d), %d threads: %s (%s) %zu bytes, one thread: %s (%s) %zu bytes",
                                   name, k, t, mv_status_str(st), mv_last_error(), got, mv_status_str(first), msg,
                                   first_got);
                    }
                }
                if (k == 0) gz[at] ^= 0x10;
            }
        }
        free(gz);
        free(raw);
        free(out);
    }
    { /* nibabel's .nii.gz through the loader: whole, and a crop that ends before the member does */
        size_t rawn = 0;
        unsigned char *raw;
        mv_vol v;
        mv_load_opts o;
        snprintf(path, sizeof(path), "%s/ball.raw", dir);
        raw = tu_read_file(path, &rawn);
        REQUIRE(raw != NULL);
        snprintf(path, sizeof(path), "%s/ball.nii.gz", dir);
        for (t = 1; t <= tmax; t++) {
            memset(&o, 0, sizeof(o));
            o.threads = t;
            REQUIRE_OK(mv_load(path, &v, &o));
            EXPECT_MSG(v.dtype == MV_DT_I16 && mv_vol_bytes(&v) == rawn && memcmp(v.data, raw, rawn) == 0,
                       "ball.nii.gz, %d threads", t);
            {
                int64_t nx = v.dim[0], ny = v.dim[1], nz = v.dim[2], z0 = 2, nzc = nz - 7, x, y, z, bad = 0;
                mv_vol c;
                mv_free(&v);
                o.box_start[2] = z0;
                o.box_size[2] = nzc;
                REQUIRE_OK(mv_load(path, &c, &o));
                for (z = 0; z < nzc; z++)
                    for (y = 0; y < ny; y++)
                        for (x = 0; x < nx; x++) {
                            int16_t want;
                            memcpy(&want, raw + 2 * (size_t)(((z + z0) * ny + y) * nx + x), 2);
                            bad += ((const int16_t *)c.data)[(z * ny + y) * nx + x] != want;
                        }
                EXPECT_MSG(bad == 0 && c.dim[2] == nzc, "ball.nii.gz crop, %d threads: %lld voxels differ", t, (long long)bad);
                mv_free(&c);
            }
        }
        free(raw);
    }
}
