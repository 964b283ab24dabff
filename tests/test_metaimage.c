/* MetaImage (.mha / .mhd, medvol.h METAIMAGE): headers written here by
   hand, their voxels and affines worked out from the MetaIO rules (LPS
   point = Offset + D diag(spacing) index, D read column by column; RAS =
   x and y negated), the refusals of malformed and corrupt files (each a
   status and a message naming the field), and what mv_save writes read
   back with every load option. SimpleITK reading and writing the same
   files is tests/py/diff_sitk.py's metaimage family and
   tests/py/check_itk_metaimage.py (ITK's own example images). */
#include "mvtest.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* whether s occurs in buf[0..n) */
static int has_text(const unsigned char *buf, size_t n, const char *s)
{
    size_t k = strlen(s), i;
    for (i = 0; i + k <= n; i++)
        if (!memcmp(buf + i, s, k)) return 1;
    return 0;
}

static void put_file(const char *path, const char *text, const void *data, size_t n)
{
    size_t t = strlen(text);
    unsigned char *b = (unsigned char *)malloc(t + n + 1);
    memcpy(b, text, t);
    if (n) memcpy(b + t, data, n);
    tu_write_file(path, b, t + n);
    free(b);
}

MV_TEST(metaimage, hand_written_headers)
{
    const char *p = tu_path("mi_hand.mha"), *q = tu_path("mi_hand.mhd"), *raw = tu_path("mi_hand.dat");
    unsigned char be[8] = {0, 1, 0, 2, 0, 3, 1, 0}; /* big-endian int16: 1 2 3 256 */
    unsigned char bytes[9] = {'j', 'u', 'n', 'k', '!', 10, 20, 30, 40};
    /* Orientation (= TransformMatrix) 0 1 -1 0: voxel axis 0 runs along LPS
       +y, axis 1 along -x; ElementSize (no ElementSpacing) 2 3; Origin 3 4:
       LPS columns (0, 2) and (-3, 0), RAS (0, -2) and (3, 0), origin (-3, -4) */
    const double a2[3][4] = {{0, 3, 0, -3}, {-2, 0, 0, -4}, {0, 0, 1, 0}};
    const double a1[3][4] = {{-0.5, 0, 0, -7}, {0, -1, 0, 0}, {0, 0, 1, 0}};
    mv_vol v;
    const int16_t *s;
    put_file(p,
             "ObjectType = Image\r\nNDims = 2\r\nDimSize = 2 2\r\nElementSize = 2 3\r\nOrigin = 3 4\r\n"
             "Orientation = 0 1 -1 0\r\nBinaryDataByteOrderMSB = True\r\nElementType = MET_SHORT\r\n"
             "ElementDataFile = LOCAL\r\n",
             be, sizeof(be));
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT_EQ_INT(v.dtype, MV_DT_I16);
    EXPECT_EQ_INT(v.ndim, 2);
    s = (const int16_t *)v.data;
    EXPECT(s[0] == 1 && s[1] == 2 && s[2] == 3 && s[3] == 256);
    EXPECT_MSG(tu_affine_is(&v, a2), "affine row 0: %g %g %g %g", v.affine[0][0], v.affine[0][1], v.affine[0][2],
               v.affine[0][3]);
    EXPECT_EQ_INT(v.meta.format, MV_FORMAT_METAIMAGE);
    EXPECT_EQ_INT(v.meta.sform_code, 1);
    EXPECT_REL(v.spacing[0], 2.0, 0);
    mv_free(&v);
    /* 1D: MET_LONG is 4 bytes (MetaIO), spacing 0.5, Offset 7 */
    {
        int32_t w[3] = {-5, 6, 70000};
        put_file(p, "NDims = 1\nDimSize = 3\nElementSpacing = 0.5\nOffset = 7\nElementType = MET_LONG\nElementDataFile = LOCAL\n",
                 w, sizeof(w));
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT_EQ_INT(v.dtype, MV_DT_I32);
        EXPECT_EQ_INT(v.ndim, 1);
        EXPECT(((int32_t *)v.data)[2] == 70000 && ((int32_t *)v.data)[0] == -5);
        EXPECT(tu_affine_is(&v, a1));
        mv_free(&v);
    }
    /* .mhd: HeaderSize skips 5 bytes of the data file; -1 takes its end */
    tu_write_file(raw, bytes, sizeof(bytes));
    put_file(q, "NDims = 2\nDimSize = 2 2\nHeaderSize = 5\nElementType = MET_UCHAR\nElementDataFile = mi_hand.dat\n", NULL, 0);
    REQUIRE_OK(mv_load(q, &v, NULL));
    EXPECT(((unsigned char *)v.data)[0] == 10 && ((unsigned char *)v.data)[3] == 40);
    mv_free(&v);
    put_file(q, "NDims = 2\nDimSize = 1 3\nHeaderSize = -1\nElementType = MET_UCHAR\nElementDataFile = mi_hand.dat\n", NULL, 0);
    REQUIRE_OK(mv_load(q, &v, NULL));
    EXPECT(((unsigned char *)v.data)[0] == 20 && ((unsigned char *)v.data)[2] == 40);
    mv_free(&v);
    /* unknown keys are ignored, as in MetaIO; a header-only load needs no data file */
    put_file(q, "Comment = x = y\nColor = 1 0 0 1\nNDims = 3\nDimSize = 4 5 6\nElementType = MET_FLOAT\n"
                "ElementDataFile = nowhere.raw\n", NULL, 0);
    {
        mv_load_opts o = MV_ZERO_INIT;
        o.header_only = 1;
        REQUIRE_OK(mv_load(q, &v, &o));
        EXPECT(v.data == NULL && v.dim[2] == 6 && v.dtype == MV_DT_F32);
        mv_free(&v);
        EXPECT_STATUS(mv_load(q, &v, NULL), MV_ERR_NOT_FOUND);
        EXPECT_MSG(strstr(mv_last_error(), "nowhere.raw") != NULL, "%s", mv_last_error());
    }
    /* from memory: a .mha, and a .mhd's text with its data */
    {
        const char *t = "NDims = 2\nDimSize = 2 1\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n\x07\x09";
        const char *h = "NDims = 2\nDimSize = 2 1\nElementType = MET_UCHAR\nElementDataFile = x.raw\n";
        unsigned char d2[2] = {5, 6};
        REQUIRE_OK(mv_load_metaimage_mem(t, strlen(t), NULL, 0, &v, NULL));
        EXPECT(((unsigned char *)v.data)[1] == 9);
        mv_free(&v);
        REQUIRE_OK(mv_load_metaimage_mem(h, strlen(h), d2, 2, &v, NULL));
        EXPECT(((unsigned char *)v.data)[1] == 6);
        mv_free(&v);
        EXPECT_STATUS(mv_load_metaimage_mem(h, strlen(h), NULL, 0, &v, NULL), MV_ERR_INVALID_ARG);
    }
    remove(p);
    remove(q);
    remove(raw);
}

MV_TEST(metaimage, malformed_headers)
{
    static const struct {
        const char *text;
        mv_status want;
        const char *says;
    } cases[] = {
        {"NDims = 2\nDimSize = 2 2\nElementType = MET_UCHAR\n", MV_ERR_BAD_HEADER, "ElementDataFile"},
        {"DimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER, "NDims"},
        {"NDims = 0\nDimSize = 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_UNSUPPORTED, "NDims"},
        {"NDims = 8\nDimSize = 1 1 1 1 1 1 1 1\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_UNSUPPORTED, "NDims"},
        {"NDims = 2.5\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER, "NDims"},
        {"NDims = 3\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER, "DimSize"},
        {"NDims = 2\nDimSize = 2 -2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER, "DimSize[1]"},
        {"NDims = 2\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_TRUNCATED, "bytes"},
        {"NDims = 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER, "DimSize"},
        {"NDims = 2\nDimSize = 2 2\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER, "ElementType"},
        {"NDims = 2\nDimSize = 2 2\nElementType = MET_STRING\nElementDataFile = LOCAL\n", MV_ERR_UNSUPPORTED, "MET_STRING"},
        {"ObjectType = Mesh\nNDims = 2\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_UNSUPPORTED, "ObjectType"},
        {"NDims = 2\nDimSize = 2 2\nBinaryData = False\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_UNSUPPORTED, "BinaryData"},
        {"NDims = 2\nDimSize = 2 2\nBinaryData = Maybe\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_BAD_HEADER, "BinaryData"},
        {"NDims = 2\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LIST\nslice0.raw\n", MV_ERR_UNSUPPORTED,
         "LIST"},
        {"NDims = 3\nDimSize = 2 2 3\nElementType = MET_UCHAR\nElementDataFile = s%03d.raw 1 3 1\n", MV_ERR_UNSUPPORTED,
         "pattern"},
        {"NDims = 2\nDimSize = 2 2\nElementSpacing = 1 0\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_BAD_HEADER, "ElementSpacing[1]"},
        {"NDims = 2\nDimSize = 2 2\nOffset = 1 nan\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", MV_ERR_BAD_HEADER,
         "Offset"},
        {"NDims = 2\nDimSize = 2 2\nTransformMatrix = 1 0 0\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_BAD_HEADER, "TransformMatrix"},
        {"NDims = 4\nDimSize = 1 1 1 2\nTransformMatrix = 1 0 0 0 0 1 0 0 0 0 1 0.5 0 0 0 1\nElementType = MET_UCHAR\n"
         "ElementDataFile = LOCAL\n\x01\x02",
         MV_ERR_UNSUPPORTED, "couples"},
        {"NDims = 2\nDimSize = 2 2\nElementNumberOfChannels = 0\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_BAD_HEADER, "ElementNumberOfChannels"},
        {"NDims = 7\nDimSize = 1 1 1 1 1 1 1\nElementNumberOfChannels = 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
         MV_ERR_UNSUPPORTED, "channel"},
        {"NDims = 3\nDimSize = 3000000000 3000000000 3000000000\nElementType = MET_DOUBLE\nElementDataFile = LOCAL\n",
         MV_ERR_SIZE_OVERFLOW, "overflows"},
        {"NDims = 2\nDimSize = 2 2\nCompressedData = True\nHeaderSize = -1\nElementType = MET_UCHAR\nElementDataFile = x.raw\n",
         MV_ERR_UNSUPPORTED, "HeaderSize"},
        {"NDims = 2\nDimSize = 2 2\nCompressedData = True\nElementType = MET_UCHAR\nElementDataFile = LOCAL\nxx",
         MV_ERR_TRUNCATED, "compressed"},
        {"NDims = 2\nDimSize = 2 2\nCompressedData = True\nElementType = MET_UCHAR\nElementDataFile = LOCAL\nabcdefgh",
         MV_ERR_BAD_DATA, "zlib header"},
        {"NDims = 2\nDimSize = 2 2\nCompressedData = True\nCompressedDataSize = 99\nElementType = MET_UCHAR\n"
         "ElementDataFile = LOCAL\nabcdefgh",
         MV_ERR_TRUNCATED, "CompressedDataSize"},
    };
    const char *p = tu_path("mi_bad.mha");
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mv_vol v;
        mv_status st;
        put_file(p, cases[i].text, NULL, 0);
        st = mv_load(p, &v, NULL);
        EXPECT_MSG(st == cases[i].want, "case %zu: %s, expected %s (%s)", i, mv_status_str(st),
                   mv_status_str(cases[i].want), mv_last_error());
        EXPECT_MSG(st == MV_OK || (strstr(mv_last_error(), cases[i].says) && strstr(mv_last_error(), "mi_bad.mha")),
                   "case %zu: the message '%s' does not name '%s' and the file", i, mv_last_error(), cases[i].says);
        EXPECT(v.data == NULL);
        if (st == MV_OK) mv_free(&v);
    }
    remove(p);
}

/* an oblique, flipped int16 volume (values i + 7j - 3k) */
static void make_volume(mv_vol *v, mv_dtype dt)
{
    int64_t d[3] = {5, 4, 3}, i, n;
    double c = 0.6, s = 0.8;
    REQUIRE_OK(mv_vol_alloc(v, dt, 3, d, NULL));
    n = mv_vol_count(v);
    for (i = 0; i < n; i++) {
        double x = (double)(i % 5) + 7.0 * (double)(i / 5 % 4) - 3.0 * (double)(i / 20);
        mv_convert_buffer(&x, MV_DT_F64, (unsigned char *)v->data + (size_t)i * mv_dtype_size(dt), dt, 1, NULL);
    }
    memset(v->affine, 0, sizeof(v->affine));
    v->affine[0][0] = 1.5 * c, v->affine[1][0] = 1.5 * s;
    v->affine[0][1] = -0.5 * s, v->affine[1][1] = 0.5 * c;
    v->affine[2][2] = -2.5;
    v->affine[0][3] = 10.25, v->affine[1][3] = -3, v->affine[2][3] = 40;
    v->affine[3][3] = 1;
}

static int near_affine(const mv_vol *a, const mv_vol *b)
{
    int r, c;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 4; c++)
            if (fabs(a->affine[r][c] - b->affine[r][c]) > 1e-14 * (1 + fabs(b->affine[r][c]))) return 0;
    return 1;
}

MV_TEST(metaimage, save_load_options)
{
    static const char *const names[4] = {"mi_rt.mha", "mi_rt.mhd", "mi_rtz.mha", "mi_rtz.mhd"};
    mv_vol v, w, f;
    mv_save_opts so = MV_ZERO_INIT;
    mv_load_opts o = MV_ZERO_INIT;
    int k;
    make_volume(&v, MV_DT_I16);
    for (k = 0; k < 4; k++) {
        const char *p = tu_path(names[k]);
        so.compress = k >= 2;
        REQUIRE_OK(mv_save(p, &v, &so));
        REQUIRE_OK(mv_load(p, &w, NULL));
        EXPECT_MSG(w.dtype == MV_DT_I16 && w.ndim == 3 && !memcmp(w.data, v.data, mv_vol_bytes(&v)), "%s: voxels", p);
        EXPECT_MSG(near_affine(&w, &v), "%s: affine", p);
        mv_free(&w);
        /* a box (x 1..3, z 2) converted to float32: the box's corner moves the origin */
        memset(&o, 0, sizeof(o));
        o.box_start[0] = 1, o.box_size[0] = 3, o.box_start[2] = 2, o.box_size[2] = 1, o.dtype = MV_DT_F32;
        REQUIRE_OK(mv_load(p, &w, &o));
        EXPECT(w.dim[0] == 3 && w.dim[1] == 4 && w.dim[2] == 1);
        EXPECT_MSG(((float *)w.data)[0] == 1.0f + 0 - 6.0f && ((float *)w.data)[5] == 3.0f + 7.0f - 6.0f,
                   "%s: box voxels %g %g", p, ((float *)w.data)[0], ((float *)w.data)[5]);
        EXPECT_NEAR(w.affine[2][3], 40 - 2.5 * 2, 1e-12);
        EXPECT_NEAR(w.affine[0][3], 10.25 + 1.5 * 0.6, 1e-12);
        mv_free(&w);
    }
    /* the .mhd's data file is NAME.raw / NAME.zraw beside it */
    {
        size_t n = 0;
        unsigned char *t = tu_read_file(tu_path("mi_rtz.mhd"), &n);
        REQUIRE(t != NULL);
        EXPECT(has_text(t, n, "ElementDataFile = mi_rtz.zraw\n"));
        EXPECT(has_text(t, n, "CompressedData = True\n"));
        free(t);
        remove(tu_path("mi_rt.raw"));
        EXPECT_STATUS(mv_load(tu_path("mi_rt.mhd"), &w, NULL), MV_ERR_NOT_FOUND);
    }
    /* corrupt compressed data: the Adler-32, a truncated stream */
    {
        size_t n = 0;
        const char *p = tu_path("mi_rtz.mha");
        unsigned char *t = tu_read_file(p, &n);
        REQUIRE(t != NULL);
        t[n - 1] ^= 1;
        tu_write_file(p, t, n);
        EXPECT_STATUS(mv_load(p, &w, NULL), MV_ERR_BAD_DATA);
        EXPECT_MSG(strstr(mv_last_error(), "Adler-32") != NULL, "%s", mv_last_error());
        t[n - 1] ^= 1;
        tu_write_file(p, t, n - 9);
        EXPECT_STATUS(mv_load(p, &w, NULL), MV_ERR_TRUNCATED);
        free(t);
    }
    /* uint8 in a .mha maps (any offset is aligned for one byte) */
    {
        const char *p = tu_path("mi_u8.mha");
        make_volume(&f, MV_DT_U8);
        REQUIRE_OK(mv_save(p, &f, NULL));
        REQUIRE_OK(mv_load(p, &w, NULL));
        EXPECT_EQ_INT(w.flags, MV_VOL_MAPPED);
        EXPECT(!memcmp(w.data, f.data, mv_vol_bytes(&f)));
        mv_free(&w);
        mv_free(&f);
        remove(p);
    }
    /* refused on save: no MetaImage type, active scaling, no extension */
    make_volume(&f, MV_DT_C64);
    EXPECT_STATUS(mv_save(tu_path("mi_c.mha"), &f, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_MSG(strstr(mv_last_error(), "complex64") != NULL, "%s", mv_last_error());
    mv_free(&f);
    v.meta.scl_slope = 2;
    EXPECT_STATUS(mv_save(tu_path("mi_s.mha"), &v, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_MSG(strstr(mv_last_error(), "scl_slope") != NULL, "%s", mv_last_error());
    EXPECT(access(tu_path("mi_s.mha"), F_OK) != 0);
    mv_free(&v);
    for (k = 0; k < 4; k++) remove(tu_path(names[k]));
    remove(tu_path("mi_rtz.zraw"));
}

MV_TEST(metaimage, vector_channels)
{
    /* 3 channels interleaved in the file, [x][y][z][1][c] in the volume */
    const char *p = tu_path("mi_vec.mha"), *q = tu_path("mi_vec2.mhd");
    float data[2 * 3 * 3];
    mv_vol v, w;
    mv_load_opts o = MV_ZERO_INIT;
    int i, c;
    for (i = 0; i < 6; i++)
        for (c = 0; c < 3; c++) data[i * 3 + c] = (float)(100 * c + i);
    put_file(p, "NDims = 3\nDimSize = 2 3 1\nElementNumberOfChannels = 3\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n",
             data, sizeof(data));
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(v.ndim == 5 && v.dim[0] == 2 && v.dim[1] == 3 && v.dim[2] == 1 && v.dim[3] == 1 && v.dim[4] == 3);
    EXPECT_EQ_INT(v.meta.intent_code, 1007);
    EXPECT(((float *)v.data)[0] == 0 && ((float *)v.data)[5] == 5 && ((float *)v.data)[6] == 100 &&
           ((float *)v.data)[17] == 205);
    /* written back interleaved (a 2D image: z is 1 and the affine flat), read again */
    REQUIRE_OK(mv_save(q, &v, NULL));
    REQUIRE_OK(mv_load(q, &w, NULL));
    EXPECT(w.ndim == 5 && w.dim[4] == 3 && !memcmp(w.data, v.data, sizeof(data)));
    mv_free(&w);
    {
        size_t n = 0;
        unsigned char *t = tu_read_file(q, &n);
        REQUIRE(t != NULL);
        EXPECT(has_text(t, n, "NDims = 2\n") && has_text(t, n, "ElementNumberOfChannels = 3\n"));
        free(t);
    }
    /* a box on the channel axis and on y */
    o.box_start[4] = 1, o.box_size[4] = 2, o.box_start[1] = 2, o.box_size[1] = 1;
    REQUIRE_OK(mv_load(p, &w, &o));
    EXPECT(w.dim[0] == 2 && w.dim[1] == 1 && w.dim[4] == 2);
    EXPECT(((float *)w.data)[0] == 104 && ((float *)w.data)[3] == 205);
    EXPECT_NEAR(w.affine[1][3], -2.0, 0); /* y 2 -> RAS y -2 */
    mv_free(&w);
    /* converted to complex128 (16-byte elements) on the way */
    memset(&o, 0, sizeof(o));
    o.dtype = MV_DT_C128;
    REQUIRE_OK(mv_load(p, &w, &o));
    EXPECT(((double *)w.data)[2 * 6] == 100 && ((double *)w.data)[2 * 17] == 205 && ((double *)w.data)[2 * 17 + 1] == 0);
    mv_free(&w);
    o.dtype = MV_DT_UNKNOWN;
    o.mmap = MV_MMAP_REQUIRE;
    EXPECT_STATUS(mv_load(p, &w, &o), MV_ERR_UNSUPPORTED);
    mv_free(&v);
    remove(p);
    remove(q);
    remove(tu_path("mi_vec2.raw"));
}

/* The threaded reads (the NIfTI body's parallel convert, then the channel
   move) on files past the 4 MiB split threshold: every thread count gives
   the 1-thread bytes, round after round (run under TSan too). */
MV_TEST(metaimage, threads_identical)
{
    static const char *const names[2] = {"mi_thr.mha", "mi_thrz.mha"};
    int64_t d[5] = {128, 96, 60, 1, 2}, i, n;
    mv_vol v, ref, w;
    mv_save_opts so = MV_ZERO_INIT;
    mv_load_opts o = MV_ZERO_INIT;
    int k, t, round;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_F32, 5, d, NULL)); /* 5.9 MB: two channels */
    v.meta.intent_code = 1007;
    n = mv_vol_count(&v);
    for (i = 0; i < n; i++) ((float *)v.data)[i] = (float)((i * 2654435761u) % 100003) * 0.25f;
    for (k = 0; k < 2; k++) {
        const char *p = tu_path(names[k]);
        so.compress = k;
        REQUIRE_OK(mv_save(p, &v, &so));
        o.dtype = MV_DT_F64; /* through the conversion buffers */
        o.threads = 1;
        REQUIRE_OK(mv_load(p, &ref, &o));
        for (i = 0; i < n; i++)
            if (((double *)ref.data)[i] != (double)((float *)v.data)[i]) break;
        EXPECT_MSG(i == n, "%s: voxel %lld differs from what was saved", p, (long long)i);
        for (round = 0; round < 3; round++)
            for (t = 2; t <= 3; t++) {
                o.threads = t;
                REQUIRE_OK(mv_load(p, &w, &o));
                EXPECT_MSG(mv_vol_bytes(&w) == mv_vol_bytes(&ref) && !memcmp(w.data, ref.data, mv_vol_bytes(&ref)),
                           "%s: %d threads, round %d: other bytes than 1 thread", p, t, round);
                mv_free(&w);
            }
        mv_free(&ref);
        remove(p);
    }
    mv_free(&v);
}

/* ITK's compressed MetaImage is one zlib stream (MetaIO: compress2), which
   a large file decodes on several threads as a gzip member does. Streams
   from zlib (Python's, levels 1-9; text, where speculation gives up) and,
   where SimpleITK is installed, from ITK itself (tests/py/ref_gzpar.py):
   the voxels on 1-4 threads; damaged copies (a byte in the data, the
   Adler-32, which the threads combine from slices) fail as on one thread,
   status and message. */
MV_TEST(metaimage, threads_zlib_stream)
{
    static const struct {
        const char *name;
        int damage, optional;
    } cases[] = {{"i16_zlib6", 1, 0}, {"i16_zlib9", 0, 0}, {"f32_zlib1", 1, 0}, {"text_zlib9", 1, 0}, {"sitk_i16", 1, 1}};
    const char *dir = tu_gzpar_dir();
    char path[700];
    size_t i;
    int t, tmax = tu_threads_upto(4);
    if (!dir) SKIP("needs /usr/bin/python3 with numpy and nibabel (tests/py/ref_gzpar.py)");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t rawn = 0, filen = 0;
        unsigned char *raw, *file;
        mv_load_opts o = MV_ZERO_INIT;
        mv_vol v;
        int k;
        if (!tu_gzpar_case(cases[i].name, ".mha", &file, &filen, &raw, &rawn) && cases[i].optional) continue;
        REQUIRE(raw && file && rawn > ((size_t)2 << 20));
        snprintf(path, sizeof(path), "%s/%s.mha", dir, cases[i].name);
        for (t = 1; t <= tmax; t++) { /* repeated on 2+ threads: a race shows as a run that differs */
            int r, reps = t == 1 ? 1 : tu_test_reps(3);
            for (r = 0; r < reps; r++) {
                o.threads = t;
                REQUIRE_OK(mv_load(path, &v, &o));
                EXPECT_MSG(mv_vol_bytes(&v) == rawn && memcmp(v.data, raw, rawn) == 0,
                           "%s, %d threads (run %d): voxels differ", cases[i].name, t, r);
                mv_free(&v);
            }
        }
        for (k = 0; cases[i].damage && k < 2; k++) {
            const char *bad = tu_path("mi_zdamaged.mha");
            size_t at = k == 0 ? filen * 3 / 5 : filen - 1; /* in the data; the Adler-32's last byte */
            mv_status first = MV_OK;
            char msg[600] = "";
            file[at] ^= 0x10;
            tu_write_file(bad, file, filen);
            file[at] ^= 0x10;
            for (t = 1; t <= tmax; t++) {
                mv_status st;
                o.threads = t;
                st = mv_load(bad, &v, &o);
                if (st == MV_OK) mv_free(&v);
                if (t == 1) {
                    first = st;
                    snprintf(msg, sizeof(msg), "%s", mv_last_error());
                    EXPECT_MSG(st != MV_OK && (k == 0 || strstr(msg, "Adler-32 mismatch")), "%s damaged (%d): %s (%s)",
                               cases[i].name, k, mv_status_str(st), msg);
                } else {
                    EXPECT_MSG(st == first && strcmp(msg, mv_last_error()) == 0,
                               "%s damaged (%d), %d threads: %s (%s), one thread: %s (%s)", cases[i].name, k, t,
                               mv_status_str(st), mv_last_error(), mv_status_str(first), msg);
                }
            }
            remove(bad);
        }
        free(raw);
        free(file);
    }
}

/* whether s occurs in the file at path */
static int file_has(const char *path, const char *s)
{
    size_t n;
    unsigned char *b = tu_read_file(path, &n);
    int hit = b && has_text(b, n, s);
    free(b);
    return hit;
}

/* METAIMAGE: EXTRA FIELDS. The expected list is SimpleITK 2.5's dictionary
   of this very header (checked by hand; diff_sitk.py's metaimage family
   compares random ones both ways): MetaIO's key ends at the first '=' or
   ':', its value starts after any more '=', ':' and blanks, both trimmed;
   MetaIO's own fields are not extras (Comment), but AcquisitionDate,
   DistanceUnits and Modality are, under ITK's names; a repeated key keeps
   the last value. Unlike ITK, medvol leaves out '#x' (a key NRRD could not
   give back: KEY/VALUE PAIRS). */
#define EXTRA_HEADER                                                                                          \
    "ObjectType = Image\nNDims = 2\nAcquisitionDate = 2020\nDistanceUnits = mm\nFormTypeName = x\n"              \
    "Comment = not kept\nModality = MET_MOD_MR\nPatientName = Doe^J\nweird key = a = b\nk=v\n  spaced  =  x  \n" \
    "empty =\ntrail = v \t\nPatientName = Roe^R\na: b = c\nlead = := v\n#x = y\nElementSpacing: 1 1\n"          \
    "DimSize = 2 1\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n"

static const char *const extra_want[12][2] = {
    {"ITK_ExperimentDate", "2020"}, {"ITK_VoxelUnits", "mm"}, {"FormTypeName", "x"}, {"Modality", "MET_MOD_MR"},
    {"PatientName", "Roe^R"},       {"weird key", "a = b"},  {"k", "v"},            {"spaced", "x"},
    {"empty", ""},                  {"trail", "v"},          {"a", "b = c"},        {"lead", "v"}};

MV_TEST(metaimage, extra_fields)
{
    static const char *const written[11] = {"AcquisitionDate = 2020", "DistanceUnits = mm", "FormTypeName = x",
                                            "Modality = MET_MOD_MR",  "PatientName = Roe^R", "weird key = a = b",
                                            "k = v",                  "spaced = x",          "trail = v",
                                            "a = b = c",              "lead = v"};
    static const char *const left_out[6][3] = {{"bad=key", "1", "bad="}, {"colon:key", "1", "colon:"},
                                               {"pad", " x", "pad ="},   {"NDims", "5", "NDims = 5"},
                                               {"eq", "=x", "eq ="},     {"nl", "a\nb", "nl ="}};
    const unsigned char data[2] = {7, 9};
    char p[1024], q[1024];
    mv_vol v, w;
    int i;
    snprintf(p, sizeof(p), "%s", tu_path("mh_extra.mha"));
    snprintf(q, sizeof(q), "%s", tu_path("mh_extra_out.mha"));
    put_file(p, EXTRA_HEADER, data, 2);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(v.ndim == 2 && v.dim[0] == 2 && ((unsigned char *)v.data)[1] == 9); /* (ElementSpacing: read too) */
    EXPECT_MSG(v.meta.n_kv == 12, "%d extra fields", v.meta.n_kv);
    for (i = 0; i < 12 && i < v.meta.n_kv; i++)
        EXPECT_MSG(!strcmp(v.meta.kv[i].key, extra_want[i][0]) && !strcmp(v.meta.kv[i].value, extra_want[i][1]),
                   "extra %d: '%s' = '%s'", i, v.meta.kv[i].key, v.meta.kv[i].value);
    /* written where ITK writes them (ITK's names turned back), read back the
       same; what MetaImage cannot hold is left out */
    for (i = 0; i < 6; i++) REQUIRE_OK(mv_vol_set_keyvalue(&v, left_out[i][0], left_out[i][1]));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "NRRD_kinds[0]", "domain"));
    REQUIRE_OK(mv_save(q, &v, NULL));
    for (i = 0; i < 11; i++) EXPECT_MSG(tu_file_has_line(q, written[i]), "no line '%s'", written[i]);
    EXPECT(tu_file_has_line(q, "NRRD_kinds[0] = domain") && !tu_file_has_line(q, "empty ="));
    for (i = 0; i < 6; i++) EXPECT_MSG(!file_has(q, left_out[i][2]), "'%s' written", left_out[i][0]);
    REQUIRE_OK(mv_load(q, &w, NULL));
    EXPECT_MSG(w.meta.n_kv == 12, "%d back", w.meta.n_kv);
    for (i = 0; i < 12; i++)
        EXPECT_MSG(i == 8 || (mv_vol_keyvalue(&w, extra_want[i][0]) &&
                              !strcmp(mv_vol_keyvalue(&w, extra_want[i][0]), extra_want[i][1])),
                   "%s after a round trip", extra_want[i][0]);
    EXPECT(!strcmp(mv_vol_keyvalue(&w, "NRRD_kinds[0]"), "domain"));
    mv_free(&w);
    /* .mhd too; a list edited in place is refused as the NRRD writer refuses it */
    REQUIRE_OK(mv_save(tu_path("mh_extra_out.mhd"), &v, NULL));
    EXPECT(tu_file_has_line(tu_path("mh_extra_out.mhd"), "PatientName = Roe^R"));
    v.meta.kv[0].key[0] = '#';
    EXPECT(mv_save(q, &v, NULL) == MV_ERR_INVALID_ARG && strstr(mv_last_error(), "'#TK_ExperimentDate'"));
    mv_free(&v);
    remove(q);
    remove(p);
    remove(tu_path("mh_extra_out.mhd"));
    remove(tu_path("mh_extra_out.raw"));
}

/* Headers past 1 MiB (ITK's MetaIO reads any length): extra fields, every
   one in order, and the voxels after ElementDataFile; a header whose
   ElementDataFile line is not in its first 64 MiB is refused by name. */
MV_TEST(metaimage, long_headers)
{
    size_t n = 40000, i, len, cap = (size_t)70 << 20;
    char *text = (char *)malloc(cap), p[1024], key[64], val[96];
    const unsigned char data[2] = {7, 9};
    mv_vol v;
    int same = 1;
    REQUIRE(text != NULL);
    len = (size_t)snprintf(text, cap, "ObjectType = Image\nNDims = 2\nDimSize = 2 1\nElementType = MET_UCHAR\n");
    for (i = 0; i < n; i++) len += (size_t)snprintf(text + len, cap - len, "Extra%05zu = value number %zu\n", i, i);
    REQUIRE(len > ((size_t)1 << 20));
    snprintf(text + len, cap - len, "ElementDataFile = LOCAL\n");
    snprintf(p, sizeof(p), "%s", tu_path("mh_long.mha"));
    put_file(p, text, data, 2);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(((unsigned char *)v.data)[0] == 7 && ((unsigned char *)v.data)[1] == 9);
    EXPECT_MSG(v.meta.n_kv == (int)n, "%d extra fields", v.meta.n_kv);
    for (i = 0; i < n && (int)i < v.meta.n_kv && same; i++) {
        snprintf(key, sizeof(key), "Extra%05zu", i);
        snprintf(val, sizeof(val), "value number %zu", i);
        same = !strcmp(v.meta.kv[i].key, key) && !strcmp(v.meta.kv[i].value, val);
    }
    EXPECT_MSG(same, "extra field %zu differs", i);
    mv_free(&v);
    /* no ElementDataFile in the first 64 MiB */
    len = (size_t)snprintf(text, cap, "ObjectType = Image\nNDims = 2\nDimSize = 2 1\nElementType = MET_UCHAR\n");
    while (len < ((size_t)65 << 20)) len += (size_t)snprintf(text + len, cap - len, "Comment = a long header\n");
    snprintf(text + len, cap - len, "ElementDataFile = LOCAL\n");
    put_file(p, text, data, 2);
    EXPECT_STATUS(mv_load(p, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "64 MiB") != NULL && strstr(mv_last_error(), "mh_long.mha") != NULL, "%s",
               mv_last_error());
    EXPECT_STATUS(mv_load_metaimage_mem(text, strlen(text), data, 2, &v, NULL), MV_ERR_BAD_HEADER);
    remove(p);
    free(text);
}
