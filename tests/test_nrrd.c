/* NRRD (.nrrd / .nhdr, medvol.h NRRD): headers written here by hand, their
   voxels and affines worked out from the NRRD rules (teem's format page:
   world point = space origin + sum of index x space direction; RAS as
   is, LPS x and y negated; without a space, teem's origin from axis mins),
   every encoding, the refusals of malformed files (each a status and a
   message naming the field and the file), and what mv_save writes read
   back. SimpleITK, pynrrd and teem's unu reading and writing the same
   files is tests/py/diff_sitk.py's nrrd family; ITK's own .nhdr images
   are in tests/py/check_itk_metaimage.py. */
#include "mvtest.h"
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_nrrd(const char *path, const char *text, const void *data, size_t n)
{
    size_t t = strlen(text);
    unsigned char *b = (unsigned char *)malloc(t + n + 1);
    memcpy(b, text, t);
    if (n) memcpy(b + t, data, n);
    tu_write_file(path, b, t + n);
    free(b);
}

/* int16 values 1 .. 24 of a 4 x 3 x 2 volume, big-endian */
static void be_ramp(unsigned char *b)
{
    int i;
    for (i = 0; i < 24; i++) {
        b[2 * i] = 0;
        b[2 * i + 1] = (unsigned char)(i + 1);
    }
}

static int ramp_is(const mv_vol *v, int first, int count)
{
    const int16_t *s = (const int16_t *)v->data;
    int i;
    if (v->dtype != MV_DT_I16) return 0;
    for (i = 0; i < count; i++)
        if (s[i] != first + i) return 0;
    return 1;
}

#define RAS_HEADER                                                                                               \
    "NRRD0004\n# written by hand\ntype: short\ndimension: 3\nspace: right-anterior-superior\nsizes: 4 3 2\n"     \
    "space directions: (0,2,0) (-3,0,0) (0,0,4)\nkinds: domain domain domain\nendian: big\n"                      \
    "space origin: (10,20,30)\nsome key:=some value: with a colon\n"

MV_TEST(nrrd, hand_written_files)
{
    const char *p = tu_path("nr_hand.nrrd"), *q = tu_path("nr_hand.nhdr"), *raw = tu_path("nr_hand.dat");
    /* RAS space: the directions are the affine's columns as written, the
       origin its translation (no sign change) */
    const double ras[3][4] = {{0, -3, 0, 10}, {2, 0, 0, 20}, {0, 0, 4, 30}};
    unsigned char be[48], junk[53];
    char text[1024];
    mv_vol v;
    mv_load_opts o = MV_ZERO_INIT;
    be_ramp(be);
    put_nrrd(p, RAS_HEADER "encoding: raw\n\n", be, sizeof(be));
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT_EQ_INT(v.ndim, 3);
    EXPECT(v.dim[0] == 4 && v.dim[1] == 3 && v.dim[2] == 2);
    EXPECT(ramp_is(&v, 1, 24));
    EXPECT_MSG(tu_affine_is(&v, ras), "affine row 0: %g %g %g %g", v.affine[0][0], v.affine[0][1], v.affine[0][2],
               v.affine[0][3]);
    EXPECT_EQ_INT(v.meta.format, MV_FORMAT_NRRD);
    EXPECT_EQ_INT(v.meta.sform_code, 1);
    EXPECT_REL(v.spacing[1], 3.0, 0);
    mv_free(&v);
    /* the same bytes from memory: by their magic, and through mv_load_nrrd_mem */
    {
        size_t n;
        unsigned char *b = tu_read_file(p, &n);
        REQUIRE_OK(mv_load_mem(b, n, &v, NULL));
        EXPECT(ramp_is(&v, 1, 24) && tu_affine_is(&v, ras));
        mv_free(&v);
        REQUIRE_OK(mv_load_nrrd_mem(b, n, NULL, 0, &v, NULL));
        EXPECT(ramp_is(&v, 1, 24));
        mv_free(&v);
        free(b);
    }
    /* a crop box (x 1..2, z 1) and header-only */
    o.box_start[0] = 1, o.box_size[0] = 2, o.box_start[2] = 1, o.box_size[2] = 1;
    REQUIRE_OK(mv_load(p, &v, &o));
    EXPECT(v.dim[0] == 2 && v.dim[1] == 3 && v.dim[2] == 1);
    EXPECT(((int16_t *)v.data)[0] == 14 && ((int16_t *)v.data)[5] == 23);
    EXPECT_REL(v.affine[0][3], 10.0, 0); /* moved by column 0 + column 2: (0, 2, 4) */
    EXPECT_REL(v.affine[1][3], 22.0, 0);
    EXPECT_REL(v.affine[2][3], 34.0, 0);
    mv_free(&v);
    memset(&o, 0, sizeof(o));
    o.header_only = 1;
    REQUIRE_OK(mv_load(p, &v, &o));
    EXPECT(v.data == NULL && v.dim[2] == 2);
    mv_free(&v);
    /* LPS (as ITK writes): x and y negated; LAS: y negated */
    put_nrrd(p,
             "NRRD0005\ntype: uint8\ndimension: 3\nspace: LPS\nsizes: 2 2 1\n"
             "space directions: (1.5,0,0) (0,0.5,0) (0,0,1)\n"
             "encoding: raw\nspace origin: (-7,8,9)\n\n",
             "\x01\x02\x03\x04", 4);
    {
        const double lps[3][4] = {{-1.5, 0, 0, 7}, {0, -0.5, 0, -8}, {0, 0, 1, 9}};
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT(v.ndim == 3 && v.dtype == MV_DT_U8 && ((unsigned char *)v.data)[3] == 4);
        EXPECT_MSG(tu_affine_is(&v, lps), "LPS affine row 0: %g %g %g %g", v.affine[0][0], v.affine[0][1],
                   v.affine[0][2], v.affine[0][3]);
        mv_free(&v);
    }
    put_nrrd(p,
             "NRRD0004\ntype: uchar\ndimension: 3\nspace: left-anterior-superior\nsizes: 1 1 1\n"
             "space directions: (1,0,0) (0,2,0) (0,0,3)\nencoding: raw\nspace origin: (4,5,6)\n\n",
             "\x07", 1);
    {
        const double las[3][4] = {{-1, 0, 0, -4}, {0, 2, 0, 5}, {0, 0, 3, 6}};
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT(tu_affine_is(&v, las));
        mv_free(&v);
    }
    /* .nhdr: line skip 2, then byte skip 3 into a data file of its own */
    memcpy(junk, "line one\nline two\nabc", 21);
    memcpy(junk + 21, be + 16, 32); /* values 9 .. 24 */
    tu_write_file(raw, junk, 53);
    put_nrrd(q,
             "NRRD0004\ntype: int16\ndimension: 2\nsizes: 4 4\nendian: big\nencoding: raw\ndata file: ./nr_hand.dat\n"
             "line skip: 2\nbyte skip: 3\n",
             NULL, 0);
    REQUIRE_OK(mv_load(q, &v, NULL));
    EXPECT(ramp_is(&v, 9, 16));
    EXPECT(v.meta.pair == 1 && v.meta.format == MV_FORMAT_NRRD);
    mv_free(&v);
    o.header_only = 1; /* (a header-only load says so too: mvtool info prints it) */
    REQUIRE_OK(mv_load(q, &v, &o));
    EXPECT(v.data == NULL && v.meta.pair == 1);
    mv_free(&v);
    o.header_only = 0;
    /* byte skip -1: the data ends the file */
    put_nrrd(q, "NRRD0004\ntype: int16\ndimension: 1\nsizes: 3\nendian: big\nencoding: raw\ndata file: nr_hand.dat\n"
                "byte skip: -1\n\n", NULL, 0);
    REQUIRE_OK(mv_load(q, &v, NULL));
    EXPECT(ramp_is(&v, 22, 3));
    mv_free(&v);
    /* a detached header from memory names its data buffer */
    {
        size_t hn;
        unsigned char *h = tu_read_file(q, &hn);
        REQUIRE_OK(mv_load_nrrd_mem(h, hn, junk, sizeof(junk), &v, NULL));
        EXPECT(ramp_is(&v, 22, 3));
        mv_free(&v);
        EXPECT_STATUS(mv_load_mem(h, hn, &v, NULL), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "nr_hand.dat") != NULL);
        free(h);
    }
    /* ascii and hex encodings (values as text; hex in the stated byte order) */
    put_nrrd(p, "NRRD0004\ntype: short\ndimension: 2\nsizes: 3 2\nencoding: ascii\n\n  -32768 2\n3\t4 5\n32767\n", NULL, 0);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(((int16_t *)v.data)[0] == -32768 && ((int16_t *)v.data)[4] == 5 && ((int16_t *)v.data)[5] == 32767);
    mv_free(&v);
    put_nrrd(p, "NRRD0004\ntype: float\ndimension: 1\nsizes: 3\nencoding: text\n\n0.1 -2.5e3 nan\n", NULL, 0);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(((float *)v.data)[0] == 0.1f && ((float *)v.data)[1] == -2500.0f && isnan(((float *)v.data)[2]));
    mv_free(&v);
    put_nrrd(p, "NRRD0004\ntype: ushort\ndimension: 1\nsizes: 3\nendian: little\nencoding: hex\nbyte skip: 2\n\nzz0100\nFFff 3412\n",
             NULL, 0);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(((uint16_t *)v.data)[0] == 1 && ((uint16_t *)v.data)[1] == 65535 && ((uint16_t *)v.data)[2] == 0x1234);
    mv_free(&v);
    /* gzip (one member, as teem and ITK write it): byte skip counts decoded
       bytes (4 of them before the voxels here); without it the stream holds
       4 bytes too many */
    {
        unsigned char z[256], jb[52];
        size_t zn = 0, tl;
        mv_gzip_opts g = MV_ZERO_INIT;
        g.single_member = 1;
        memcpy(jb, "abcd", 4);
        memcpy(jb + 4, be, sizeof(be));
        REQUIRE_OK(mv_gzip(jb, sizeof(jb), z, sizeof(z), &zn, &g));
        tl = (size_t)snprintf(text, sizeof(text), "%s", RAS_HEADER "encoding: gzip\nbyte skip: 4\n\n");
        put_nrrd(p, text, z, zn);
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT(ramp_is(&v, 1, 24) && tu_affine_is(&v, ras));
        mv_free(&v);
        memcpy(text + tl - 3, "0\n\n", 4);
        put_nrrd(p, text, z, zn);
        EXPECT_STATUS(mv_load(p, &v, NULL), MV_ERR_BAD_DATA);
        EXPECT(strstr(mv_last_error(), "gzip") != NULL);
    }
    remove(p);
    remove(q);
    remove(raw);
}

MV_TEST(nrrd, channels_and_kinds)
{
    const char *p = tu_path("nr_vec.nrrd");
    /* 2 x 2 x 1 voxels, 3 values each; interleaved (vector axis first) or
       planar (list axis last): both load as [x][y][z][1][3], planes by
       channel, intent 1007 */
    unsigned char inter[12], planar[12];
    int i, c;
    mv_vol v;
    for (i = 0; i < 4; i++)
        for (c = 0; c < 3; c++) {
            inter[i * 3 + c] = (unsigned char)(10 * c + i);
            planar[c * 4 + i] = (unsigned char)(10 * c + i);
        }
    put_nrrd(p,
             "NRRD0004\ntype: unsigned char\ndimension: 4\nspace: LPS\nsizes: 3 2 2 1\n"
             "space directions: none (1,0,0) (0,1,0) (0,0,1)\nkinds: RGB-color domain domain domain\nencoding: raw\n\n",
             inter, sizeof(inter));
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT_EQ_INT(v.ndim, 5);
    EXPECT(v.dim[0] == 2 && v.dim[1] == 2 && v.dim[2] == 1 && v.dim[3] == 1 && v.dim[4] == 3);
    EXPECT_EQ_INT(v.meta.intent_code, 1007);
    EXPECT(memcmp(v.data, planar, 12) == 0);
    mv_free(&v);
    put_nrrd(p,
             "NRRD0004\ntype: unsigned char\ndimension: 4\nspace: LPS\nsizes: 2 2 1 3\n"
             "space directions: (1,0,0) (0,1,0) (0,0,1) none\nkinds: space space space list\nencoding: raw\n\n",
             planar, sizeof(planar));
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(v.ndim == 5 && v.dim[4] == 3 && memcmp(v.data, planar, 12) == 0);
    mv_free(&v);
    /* the channel axis in the middle: [x][c][y] -> planes */
    {
        unsigned char mid[12];
        int y;
        for (i = 0; i < 2; i++)
            for (c = 0; c < 3; c++)
                for (y = 0; y < 2; y++) mid[y * 6 + c * 2 + i] = (unsigned char)(10 * c + y * 2 + i);
        put_nrrd(p, "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 3 2\nkinds: domain vector domain\nencoding: raw\n\n",
                 mid, sizeof(mid));
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT(v.ndim == 5 && v.dim[0] == 2 && v.dim[1] == 2 && v.dim[4] == 3);
        EXPECT(memcmp(v.data, planar, 12) == 0);
        mv_free(&v);
    }
    /* a stub axis of size 1 leaves a scalar image; complex pairs on axis 0 are complex64 */
    put_nrrd(p, "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 1 2 2\nkinds: stub domain domain\nencoding: raw\n\n", planar, 4);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(v.ndim == 2 && v.meta.intent_code == 0);
    mv_free(&v);
    {
        float f[4] = {1, -2, 3.5f, 4};
        uint16_t one = 1;
        put_nrrd(p, *(unsigned char *)&one ? "NRRD0004\ntype: float\ndimension: 2\nsizes: 2 2\nkinds: complex domain\n"
                                             "endian: little\nencoding: raw\n\n"
                                           : "NRRD0004\ntype: float\ndimension: 2\nsizes: 2 2\nkinds: complex domain\n"
                                             "endian: big\nencoding: raw\n\n",
                 f, sizeof(f));
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT(v.dtype == MV_DT_C64 && v.ndim == 1 && v.dim[0] == 2);
        EXPECT(((float *)v.data)[1] == -2 && ((float *)v.data)[2] == 3.5f);
        mv_free(&v);
    }
    /* no space: spacings, and the origin from axis mins (cell: min + spacing / 2; node: min) */
    put_nrrd(p,
             "NRRD0004\ntype: uint8\ndimension: 2\nsizes: 2 3\nspacings: 2 0.5\naxis mins: 10 -1\ncenters: cell node\n"
             "encoding: raw\n\n",
             planar, 6);
    {
        const double a[3][4] = {{-2, 0, 0, -11}, {0, -0.5, 0, 1}, {0, 0, 1, 0}};
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT_MSG(tu_affine_is(&v, a), "row 0: %g %g %g %g; row 1: %g %g %g %g", v.affine[0][0], v.affine[0][1],
                   v.affine[0][2], v.affine[0][3], v.affine[1][0], v.affine[1][1], v.affine[1][2], v.affine[1][3]);
        mv_free(&v);
    }
    remove(p);
}

/* a DWI series of two uint8 volumes (the list axis first) without its keys */
#define DWI_BAD_HEADER "NRRD0004\ntype: uchar\ndimension: 4\nsizes: 2 1 1 1\nkinds: list domain domain domain\nencoding: raw\n"

MV_TEST(nrrd, malformed_files)
{
    static const struct {
        const char *text;
        mv_status want;
        const char *says;
    } cases[] = {
        {"NRRD0009\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "magic"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: raw\ncolor: blue\n\nx", MV_ERR_BAD_HEADER, "color"},
        {"NRRD0004\ntype: uchar\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "second"},
        {"NRRD0004\ntype uchar\ndimension: 1\nsizes: 1\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "line 2"},
        {"NRRD0004\ndimension: 1\nsizes: 1\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "type"},
        {"NRRD0004\ntype: block\nblock size: 4\ndimension: 1\nsizes: 1\nencoding: raw\n\nxxxx", MV_ERR_UNSUPPORTED, "block"},
        {"NRRD0004\ntype: uchar\ndimension: 17\nsizes: 1\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "dimension"},
        {"NRRD0004\ntype: uchar\ndimension: 2\nsizes: 1\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "sizes"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 0\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "sizes[0]"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\n\nx", MV_ERR_BAD_HEADER, "encoding"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: bzip2\n\nx", MV_ERR_UNSUPPORTED, "bzip2"},
        {"NRRD0004\ntype: short\ndimension: 1\nsizes: 1\nencoding: raw\n\nxx", MV_ERR_BAD_HEADER, "endian"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: raw\ndata file: LIST\nslice.raw\n", MV_ERR_UNSUPPORTED,
         "LIST"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\ndata file: s%03d.raw 1 2 1\n", MV_ERR_UNSUPPORTED,
         "pattern"},
        {"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 1\nkinds: vector list domain\nencoding: raw\n\nxxxx",
         MV_ERR_UNSUPPORTED, "kinds"},
        {"NRRD0004\ntype: uchar\ndimension: 2\nsizes: 2 1\nkinds: RGB-color domain\nencoding: raw\n\nxx", MV_ERR_BAD_HEADER,
         "RGB-color"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nkinds: sideways\nencoding: raw\n\nx", MV_ERR_BAD_HEADER, "sideways"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nspace: LPS\nspace dimension: 3\nencoding: raw\n\nx",
         MV_ERR_BAD_HEADER, "space dimension"},
        {"NRRD0004\ntype: uchar\ndimension: 2\nsizes: 1 1\nspace: LPS\nencoding: raw\n\nx", MV_ERR_UNSUPPORTED, "space"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nspace: up-down-sideways\nencoding: raw\n\nx", MV_ERR_BAD_HEADER,
         "up-down"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nspace dimension: 1\nspace directions: (0)\nencoding: raw\n\nx",
         MV_ERR_BAD_HEADER, "space directions[0]"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nspace dimension: 1\nspace directions: (1,2)\nencoding: raw\n\nx",
         MV_ERR_BAD_HEADER, "space directions"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nspace directions: (1)\nencoding: raw\n\nx", MV_ERR_BAD_HEADER,
         "without a space"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nspace dimension: 1\nspacings: 2\nencoding: raw\n\nx",
         MV_ERR_BAD_HEADER, "spacings[0]"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: gzip\nbyte skip: -1\n\nx", MV_ERR_BAD_HEADER,
         "byte skip"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 1\nencoding: raw\n", MV_ERR_TRUNCATED, "blank line"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 9\nencoding: raw\n\nxx", MV_ERR_TRUNCATED, "bytes"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nline skip: 5\n\nx\ny\n", MV_ERR_TRUNCATED,
         "line skip"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: ascii\n\n7 256\n", MV_ERR_BAD_DATA, "'256'"},
        {"NRRD0004\ntype: int\ndimension: 1\nsizes: 2\nencoding: ascii\n\n7 2.5\n", MV_ERR_BAD_DATA, "'2.5'"},
        {"NRRD0004\ntype: float\ndimension: 1\nsizes: 3\nencoding: ascii\n\n7 2.5\n", MV_ERR_TRUNCATED, "ascii"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: ascii\n\n1 2 3\n", MV_ERR_BAD_DATA, "more than"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: hex\n\n0g01\n", MV_ERR_BAD_DATA, "hex digit"},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: gzip\n\nnot gzip", MV_ERR_BAD_DATA, "zlib"},
        {"NRRD0004\ntype: double\ndimension: 3\nsizes: 3000000000 3000000000 3000000000\nendian: little\nencoding: raw\n\nx",
         MV_ERR_SIZE_OVERFLOW, "sizes"},
        /* DWI series (NA-MIC keys) */
        {DWI_BAD_HEADER "DWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=1 0 0\n\nxx", MV_ERR_BAD_HEADER,
         "without DWMRI_b-value"},
        {DWI_BAD_HEADER "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\n\nxx", MV_ERR_BAD_HEADER,
         "no DWMRI_gradient_0001"},
        {DWI_BAD_HEADER "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0002:=1 0 0\n\nxx",
         MV_ERR_BAD_HEADER, "DWMRI_gradient_0002: the series has 2 volumes"},
        {DWI_BAD_HEADER "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0000:=1 0 0\n\nxx",
         MV_ERR_BAD_HEADER, "second DWMRI_gradient_0000"},
        {DWI_BAD_HEADER "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0\nDWMRI_gradient_0001:=1 0 0\n\nxx",
         MV_ERR_BAD_HEADER, "DWMRI_gradient_0000 has 2 values"},
        {DWI_BAD_HEADER "DWMRI_b-value:=-5\nDWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=1 0 0\n\nxx",
         MV_ERR_BAD_HEADER, "DWMRI_b-value = -5"},
        {DWI_BAD_HEADER "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\nDWMRI_NEX_0000:=3\n\nxx", MV_ERR_BAD_HEADER,
         "DWMRI_NEX_0000 = 3"},
        {DWI_BAD_HEADER "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\nDWMRI_NEX_0000:=2\n"
                        "DWMRI_gradient_0001:=1 0 0\n\nxx",
         MV_ERR_BAD_HEADER, "DWMRI_gradient_0001 is given and DWMRI_NEX_0000"},
        {"NRRD0004\ntype: uchar\ndimension: 4\nsizes: 2 1 1 1\nkinds: list domain domain domain\nspace: RAS\n"
         "measurement frame: (1,0,0) none (0,0,1)\nencoding: raw\nDWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\n"
         "DWMRI_gradient_0001:=1 0 0\n\nxx",
         MV_ERR_BAD_HEADER, "measurement frame: vector 1 is none"},
        /* a frame that is no rotation: a zero vector would send gradient
           0001 (b 1000) to no direction; dependent vectors (the third in
           the plane of the first two, det 0; then 2e-7 out of it) likewise
           for some gradient. (The fuzzer's: (1e308,1,0) (-0,0,0) (0,0,1).) */
        {"NRRD0004\ntype: uchar\ndimension: 4\nsizes: 2 1 1 1\nkinds: list domain domain domain\nspace: RAS\n"
         "measurement frame: (1e308,1,0) (-0,0,0) (0,0,1)\nencoding: raw\nDWMRI_b-value:=1000\n"
         "DWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=0 1 0\n\nxx",
         MV_ERR_BAD_HEADER, "measurement frame: vector 1 is zero"},
        {"NRRD0004\ntype: uchar\ndimension: 4\nsizes: 2 1 1 1\nkinds: list domain domain domain\nspace: RAS\n"
         "measurement frame: (1,0,0) (0,1,0) (3,-4,0)\nencoding: raw\nDWMRI_b-value:=1000\n"
         "DWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=0 1 0\n\nxx",
         MV_ERR_BAD_HEADER, "measurement frame: its vectors are (nearly) linearly dependent"},
        {"NRRD0004\ntype: uchar\ndimension: 4\nsizes: 2 1 1 1\nkinds: list domain domain domain\nspace: RAS\n"
         "measurement frame: (1,0,0) (0,1,0) (3,-4,1e-6)\nencoding: raw\nDWMRI_b-value:=1000\n"
         "DWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=0 1 0\n\nxx",
         MV_ERR_BAD_HEADER, "determinant 2e-07"},
        {"NRRD0004\ntype: uchar\ndimension: 5\nsizes: 2 1 1 1 1\nkinds: list domain domain domain domain\n"
         "encoding: raw\nDWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=1 0 0\n\nxx",
         MV_ERR_UNSUPPORTED, "DWI series"},
    };
    const char *p = tu_path("nr_bad.nrrd");
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mv_vol v;
        mv_status st;
        put_nrrd(p, cases[i].text, NULL, 0);
        st = mv_load(p, &v, NULL);
        EXPECT_MSG(st == cases[i].want, "case %zu: %s, expected %s (%s)", i, mv_status_str(st),
                   mv_status_str(cases[i].want), mv_last_error());
        EXPECT_MSG(st == MV_OK || (strstr(mv_last_error(), cases[i].says) && strstr(mv_last_error(), "nr_bad.nrrd")),
                   "case %zu: the message '%s' does not name '%s' and the file", i, mv_last_error(), cases[i].says);
        EXPECT(v.data == NULL);
        if (st == MV_OK) mv_free(&v);
    }
    remove(p);
}

/* whether the text file at path holds line */
static int has_line(const char *path, const char *line) { return tu_file_has_line(path, line); }

MV_TEST(nrrd, save_and_reload)
{
    static const char *const names[4] = {"nr_rt.nrrd", "nr_rt.nhdr", "nr_rtz.nrrd", "nr_rtz.nhdr"};
    mv_vol v, w;
    int64_t d[3] = {3, 2, 2};
    int k;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I32, 3, d, NULL));
    for (k = 0; k < 12; k++) ((int32_t *)v.data)[k] = k * 1000 - 5000;
    memset(v.affine, 0, sizeof(v.affine));
    /* RAS columns (0, 2, 0), (-0.5, 0, 0), (0, 0, 3), origin (1, -2, 3):
       LPS (0, -2, 0), (0.5, 0, 0), (0, 0, 3), (-1, 2, 3) */
    v.affine[1][0] = 2, v.affine[0][1] = -0.5, v.affine[2][2] = 3;
    v.affine[0][3] = 1, v.affine[1][3] = -2, v.affine[2][3] = 3, v.affine[3][3] = 1;
    for (k = 0; k < 4; k++) {
        mv_save_opts so = MV_ZERO_INIT;
        const char *p = tu_path(names[k]);
        so.compress = k >= 2;
        REQUIRE_OK(mv_save(p, &v, &so));
        EXPECT(has_line(p, "NRRD0004") && has_line(p, "type: int") && has_line(p, "dimension: 3"));
        EXPECT(has_line(p, "space: left-posterior-superior") && has_line(p, "sizes: 3 2 2"));
        EXPECT_MSG(has_line(p, "space directions: (0,-2,0) (0.5,0,0) (0,0,3)"), "%s: space directions", names[k]);
        EXPECT(has_line(p, "space origin: (-1,2,3)") && has_line(p, "kinds: domain domain domain"));
        EXPECT(has_line(p, k >= 2 ? "encoding: gzip" : "encoding: raw"));
        if (k == 1) EXPECT(has_line(p, "data file: nr_rt.raw") && access(tu_path("nr_rt.raw"), F_OK) == 0);
        if (k == 3) EXPECT(has_line(p, "data file: nr_rtz.raw.gz") && access(tu_path("nr_rtz.raw.gz"), F_OK) == 0);
        REQUIRE_OK(mv_load(p, &w, NULL));
        EXPECT(w.dtype == MV_DT_I32 && w.ndim == 3 && memcmp(w.data, v.data, 48) == 0);
        EXPECT(tu_affine_is(&w, (const double(*)[4])v.affine));
        mv_free(&w);
        remove(p);
    }
    remove(tu_path("nr_rt.raw"));
    remove(tu_path("nr_rtz.raw.gz"));
    /* to memory (an attached .nrrd, raw and gzip): the same header, read back by its magic */
    for (k = 0; k < 2; k++) {
        mv_save_opts so = MV_ZERO_INIT;
        size_t n = 0, n2 = 0;
        unsigned char *b;
        so.format = MV_FORMAT_NRRD;
        so.compress = k;
        REQUIRE_OK(mv_save_mem(&v, NULL, 0, &n, &so));
        b = (unsigned char *)malloc(n);
        EXPECT_STATUS(mv_save_mem(&v, b, n - 1, &n2, &so), MV_ERR_BUFFER_TOO_SMALL);
        REQUIRE_OK(mv_save_mem(&v, b, n, &n2, &so));
        EXPECT(n2 == n && memcmp(b, "NRRD0004\n", 9) == 0);
        REQUIRE_OK(mv_load_mem(b, n, &w, NULL));
        EXPECT(w.meta.format == MV_FORMAT_NRRD && w.dtype == MV_DT_I32 && memcmp(w.data, v.data, 48) == 0);
        EXPECT(tu_affine_is(&w, (const double(*)[4])v.affine));
        mv_free(&w);
        free(b);
    }
    /* a vector volume goes out as ITK writes one: the values first (2D:
       its z axis has length 1 and the affine keeps x and y in the plane) */
    {
        mv_vol f;
        int64_t fd[5] = {2, 1, 1, 1, 3};
        const char *p = tu_path("nr_vec.nrrd");
        REQUIRE_OK(mv_vol_alloc(&f, MV_DT_F32, 5, fd, NULL));
        for (k = 0; k < 6; k++) ((float *)f.data)[k] = (float)k;
        f.meta.intent_code = 1007;
        REQUIRE_OK(mv_save(p, &f, NULL));
        EXPECT(has_line(p, "sizes: 3 2 1") && has_line(p, "kinds: vector domain domain"));
        EXPECT(has_line(p, "space dimension: 2") && has_line(p, "space directions: none (-1,0) (0,-1)"));
        REQUIRE_OK(mv_load(p, &w, NULL));
        EXPECT(w.ndim == 5 && w.dim[4] == 3 && memcmp(w.data, f.data, 24) == 0);
        mv_free(&w);
        mv_free(&f);
        remove(p);
    }
    /* refused: no NRRD type, scaling; no file is left */
    {
        mv_vol r;
        const char *p = tu_path("nr_refused.nrrd");
        REQUIRE_OK(mv_vol_alloc(&r, MV_DT_RGB24, 3, d, NULL));
        EXPECT_STATUS(mv_save(p, &r, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "rgb24") != NULL);
        mv_free(&r);
        v.meta.scl_slope = 2;
        EXPECT_STATUS(mv_save(p, &v, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "NRRD has no scaling") != NULL);
        EXPECT(access(p, F_OK) != 0);
    }
    mv_free(&v);
}

/* v's gradient table is want's n rows (directions to tol, b to 1000 tol) */
static int grad_rows_are(const mv_vol *v, const double (*want)[4], int n, double tol)
{
    int i, k;
    if (v->meta.n_grad != n || (n && !v->meta.grad)) return 0;
    for (i = 0; i < n; i++)
        for (k = 0; k < 4; k++)
            if (fabs(v->meta.grad[4 * i + k] - want[i][k]) > tol * (k == 3 ? 1000 : 1)) return 0;
    return 1;
}

/* big enough for 2+ workers (4.9 MB of int16, 3 channels): raw .nrrd
   (mapped and read in parallel, the channels moved), .nhdr + raw.gz (one
   member compressed in parallel parts, decoded whole), on 1, 2 and 3
   threads, whole and cropped: the same voxels each time */
MV_TEST(nrrd, threads_identical)
{
    const char *files[2];
    int64_t dims[5] = {96, 80, 106, 1, 3};
    mv_vol v, r;
    mv_save_opts so;
    size_t i, n;
    int k, t;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I16, 5, dims, NULL));
    n = (size_t)mv_vol_count(&v);
    for (i = 0; i < n; i++) ((int16_t *)v.data)[i] = (int16_t)((i * 2654435761u) >> 17);
    v.meta.intent_code = 1007;
    files[0] = tu_path("nr_threads.nrrd");
    files[1] = tu_path("nr_threads.nhdr");
    REQUIRE_OK(mv_save(files[0], &v, NULL));
    memset(&so, 0, sizeof(so));
    so.compress = 1;
    so.gzip.member_size = 300000; /* 17 parts */
    REQUIRE_OK(mv_save(files[1], &v, &so));
    for (k = 0; k < 2; k++)
        for (t = 1; t <= 3; t++) {
            mv_load_opts o;
            const int64_t corner[4] = {10, 0, 20, 1}, size[4] = {50, 80, 30, 2};
            int64_t bad;
            memset(&o, 0, sizeof(o));
            o.threads = t;
            REQUIRE_OK(mv_load(files[k], &r, &o));
            EXPECT_MSG(r.ndim == 5 && r.dim[4] == 3 && !memcmp(r.data, v.data, n * 2), "%s, %d threads", files[k], t);
            mv_free(&r);
            o.box_start[0] = 10, o.box_size[0] = 50;
            o.box_start[2] = 20, o.box_size[2] = 30;
            o.box_start[4] = 1;
            REQUIRE_OK(mv_load(files[k], &r, &o));
            bad = tu_i16_box_mismatches(&r, &v, corner, size); /* (v: [96][80][106][1][3], the channels flattened) */
            EXPECT_MSG(bad == 0 && r.dim[4] == 2, "%s crop, %d threads: %lld voxels differ", files[k], t, (long long)bad);
            mv_free(&r);
        }
    /* the same interleaved file with DWI keys: the values become axis 3
       (the channel move to the series' layout, as big, on 1-3 threads),
       whole and from volume 1 on, each with its rows (LPS (1,0,0) is RAS
       (-1,0,0)) */
    {
        static const char keys[] = "DWMRI_b-value:=1000\nDWMRI_gradient_0000:=0 0 0\nDWMRI_gradient_0001:=1 0 0\n"
                                   "DWMRI_gradient_0002:=0 0 1\n";
        static const double rows[3][4] = {{0, 0, 0, 0}, {-1, 0, 0, 1000}, {0, 0, 1, 1000}};
        const char *d = tu_path("nr_threads_dwi.nrrd");
        size_t len, at;
        unsigned char *b = tu_read_file(files[0], &len), *w;
        REQUIRE(b != NULL);
        for (at = 0; at + 1 < len && !(b[at] == '\n' && b[at + 1] == '\n'); at++) {
        }
        REQUIRE(at + 1 < len);
        w = (unsigned char *)malloc(len + sizeof(keys));
        memcpy(w, b, at + 1);
        memcpy(w + at + 1, keys, sizeof(keys) - 1);
        memcpy(w + at + sizeof(keys), b + at + 1, len - at - 1);
        tu_write_file(d, w, len + sizeof(keys) - 1);
        free(w);
        free(b);
        for (t = 1; t <= 3; t++) {
            mv_load_opts o;
            memset(&o, 0, sizeof(o));
            o.threads = t;
            REQUIRE_OK(mv_load(d, &r, &o));
            EXPECT_MSG(r.ndim == 4 && r.dim[3] == 3 && r.meta.intent_code == 0 && !memcmp(r.data, v.data, n * 2) &&
                           grad_rows_are(&r, rows, 3, 1e-15),
                       "DWI, %d threads", t);
            mv_free(&r);
            o.box_start[3] = 1;
            REQUIRE_OK(mv_load(d, &r, &o));
            EXPECT_MSG(r.dim[3] == 2 && !memcmp(r.data, (int16_t *)v.data + n / 3, n / 3 * 4) &&
                           grad_rows_are(&r, rows + 1, 2, 1e-15),
                       "DWI from volume 1, %d threads", t);
            mv_free(&r);
        }
        remove(d);
    }
    for (k = 0; k < 2; k++) remove(files[k]);
    remove(tu_path("nr_threads.raw.gz"));
    mv_free(&v);
}

/* A DWI series as Slicer writes one, worked out by hand. Space RAS; the
   measurement frame's vectors (0,1,0) (-1,0,0) (0,0,1) are M's columns, so
   a gradient g has world coordinates M g = g0 (0,1,0) + g1 (-1,0,0) +
   g2 (0,0,1): (1,0,0) -> (0,1,0), (0,0.7071,0) -> (-0.7071,0,0).
   b = 1000 |g|^2: 0, 1000, 1000 (NEX 2 repeats gradient 1), 500. */
#define DWI_HEADER                                                                                                   \
    "NRRD0005\ntype: short\ndimension: 4\nspace: right-anterior-superior\nsizes: 4 2 2 2\n"                           \
    "space directions: none (2,0,0) (0,2,0) (0,0,3)\nkinds: list domain domain domain\nendian: little\nencoding: raw\n" \
    "space origin: (1,2,3)\nmeasurement frame: (0,1,0) (-1,0,0) (0,0,1)\nmodality:=DWMRI\nDWMRI_b-value:=1000\n"       \
    "DWMRI_gradient_0000:= 0 0 0\nDWMRI_gradient_0001:= 1 0 0\nDWMRI_NEX_0001:=2\n"                                   \
    "DWMRI_gradient_0003:= 0 0.70710678118654757 0\n\n"

static const double dwi_world[4][4] = {{0, 0, 0, 0}, {0, 1, 0, 1000}, {0, 1, 0, 1000}, {-1, 0, 0, 500}};

static void dwi_file(const char *p)
{
    int16_t d[32];
    int c, i;
    for (i = 0; i < 8; i++) /* the list axis first: value 100 c + voxel */
        for (c = 0; c < 4; c++) d[4 * i + c] = (int16_t)(100 * c + i);
    put_nrrd(p, DWI_HEADER, d, sizeof(d));
}

MV_TEST(nrrd, dwi_gradients)
{
    const char *p = tu_path("nr_dwi.nrrd"), *q = tu_path("nr_dwi_out.nhdr");
    const double aff[3][4] = {{2, 0, 0, 1}, {0, 2, 0, 2}, {0, 0, 3, 3}};
    mv_load_opts o = MV_ZERO_INIT;
    mv_vol v, w;
    size_t n;
    unsigned char *b;
    int i, c;
    dwi_file(p);
    REQUIRE_OK(mv_load(p, &v, NULL));
    /* the volumes are axis 3, as FSL and MRtrix3 lay out a series: no vector intent */
    EXPECT(v.ndim == 4 && v.dim[0] == 2 && v.dim[1] == 2 && v.dim[2] == 2 && v.dim[3] == 4);
    EXPECT(v.meta.intent_code == 0 && tu_affine_is(&v, aff));
    for (i = 0; i < 8; i++)
        for (c = 0; c < 4; c++) EXPECT(((int16_t *)v.data)[8 * c + i] == 100 * c + i);
    EXPECT_MSG(grad_rows_are(&v, dwi_world, 4, 1e-12), "n_grad %d, row 3: %g %g %g %g", v.meta.n_grad,
               v.meta.grad ? v.meta.grad[12] : 0, v.meta.grad ? v.meta.grad[13] : 0, v.meta.grad ? v.meta.grad[14] : 0,
               v.meta.grad ? v.meta.grad[15] : 0);
    {   /* the same frame scaled by 3: invertible, no rotation; the directions are normalised after it,
           b comes from the gradients as written (malformed_files refuses singular frames) */
        static const char frame[] = "measurement frame: (0,1,0) (-1,0,0) (0,0,1)";
        char text[sizeof(DWI_HEADER) + 16];
        const char *at = strstr(DWI_HEADER, frame);
        int16_t d[32] = {0};
        REQUIRE(at != NULL);
        snprintf(text, sizeof(text), "%.*smeasurement frame: (0,3,0) (-3,0,0) (0,0,3)%s", (int)(at - DWI_HEADER),
                 DWI_HEADER, at + strlen(frame));
        put_nrrd(tu_path("nr_dwi3.nrrd"), text, d, sizeof(d));
        REQUIRE_OK(mv_load(tu_path("nr_dwi3.nrrd"), &w, NULL));
        EXPECT(grad_rows_are(&w, dwi_world, 4, 1e-12));
        mv_free(&w);
    }
    /* copies own their table (freed once each: ASan's suite checks) */
    REQUIRE_OK(mv_vol_copy(&v, &w));
    EXPECT(w.meta.grad != v.meta.grad && w.meta.n_grad == 4 && memcmp(w.meta.grad, v.meta.grad, 16 * sizeof(double)) == 0);
    mv_free(&w);
    /* a crop box on axis 3 keeps its volumes' rows; a header-only load has the table */
    o.box_start[3] = 1;
    o.box_size[3] = 3;
    REQUIRE_OK(mv_load(p, &w, &o));
    EXPECT(w.dim[3] == 3 && grad_rows_are(&w, dwi_world + 1, 3, 1e-12) && ((int16_t *)w.data)[0] == 100);
    mv_free(&w);
    memset(&o, 0, sizeof(o));
    o.header_only = 1;
    REQUIRE_OK(mv_load(p, &w, &o));
    EXPECT(w.data == NULL && grad_rows_are(&w, dwi_world, 4, 1e-12));
    mv_free(&w);
    /* from memory, by the magic */
    b = tu_read_file(p, &n);
    REQUIRE(b != NULL);
    REQUIRE_OK(mv_load_mem(b, n, &w, NULL));
    EXPECT(grad_rows_are(&w, dwi_world, 4, 1e-12));
    mv_free(&w);
    free(b);
    /* results of medvol's functions carry the table */
    REQUIRE_OK(mv_convert(&v, &w, MV_DT_F32, NULL));
    EXPECT(w.meta.n_grad == 4 && memcmp(w.meta.grad, v.meta.grad, 16 * sizeof(double)) == 0);
    mv_free(&w);
    /* the file's kinds are kept (NRRD: KEPT FIELDS), the volumes' as [pixel] */
    EXPECT(v.meta.n_kv == 4 && !strcmp(mv_vol_keyvalue(&v, "NRRD_kinds[pixel]"), "list") &&
           !strcmp(mv_vol_keyvalue(&v, "NRRD_kinds[2]"), "domain"));
    REQUIRE_OK(mv_save(q, &v, NULL));
    EXPECT(has_line(q, "kinds: domain domain domain list"));
    /* written back as Slicer reads a DWI series: LPS, the volumes last, the
       identity frame, each gradient the LPS direction x sqrt(b / 1000); the
       image axes of kind space when no kinds are kept */
    REQUIRE_OK(mv_vol_set_keyvalues(&v, NULL, 0));
    REQUIRE_OK(mv_save(q, &v, NULL));
    EXPECT(has_line(q, "kinds: space space space list") && has_line(q, "sizes: 2 2 2 4"));
    EXPECT(has_line(q, "space directions: (-2,0,0) (0,-2,0) (0,0,3) none") && has_line(q, "space origin: (-1,-2,3)"));
    EXPECT(has_line(q, "measurement frame: (1,0,0) (0,1,0) (0,0,1)") && has_line(q, "modality:=DWMRI"));
    EXPECT(has_line(q, "DWMRI_b-value:=1000") && has_line(q, "DWMRI_gradient_0000:=0 0 0"));
    EXPECT(has_line(q, "DWMRI_gradient_0001:=0 -1 0") && has_line(q, "DWMRI_gradient_0002:=0 -1 0"));
    REQUIRE_OK(mv_load(q, &w, NULL));
    EXPECT(grad_rows_are(&w, dwi_world, 4, 1e-12) && memcmp(w.data, v.data, 64) == 0 && tu_affine_is(&w, aff));
    mv_free(&w);
    /* a table that no longer describes axis 3 is left out */
    v.dim[3] = 2;
    v.meta.n_grad = 3;
    REQUIRE_OK(mv_save(q, &v, NULL));
    EXPECT(!has_line(q, "modality:=DWMRI") && has_line(q, "kinds: domain domain domain domain"));
    v.dim[3] = 4;
    v.meta.n_grad = 4;
    remove(q);
    remove(tu_path("nr_dwi_out.raw"));
    remove(p);
    mv_free(&v);
}

/* FSL's bval/bvec for the series above: its affine diag(2, 2, 3) has a
   positive determinant, so FSL's voxel frame negates x. World (0,1,0)
   is voxel (0,1,0): bvec (0,1,0); world (-1,0,0) is voxel (-1,0,0):
   bvec (1,0,0). */
MV_TEST(nrrd, fsl_gradient_files)
{
    const char *p = tu_path("nr_fsl.nrrd"), *bval = tu_path("nr_fsl.bval"), *bvec = tu_path("nr_fsl.bvec");
    const double want_bvecs[12] = {0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0};
    double bv[4], bc[12], rows[8];
    mv_vol v;
    int i;
    dwi_file(p);
    REQUIRE_OK(mv_load(p, &v, NULL));
    REQUIRE_OK(mv_gradients_to_fsl(&v, bv, bc));
    EXPECT(bv[0] == 0 && bv[1] == 1000 && bv[2] == 1000 && fabs(bv[3] - 500) < 1e-9);
    for (i = 0; i < 12; i++) EXPECT_MSG(fabs(bc[i] - want_bvecs[i]) < 1e-15, "bvecs[%d] = %g", i, bc[i]);
    REQUIRE_OK(mv_save_fsl_gradients(&v, bval, bvec));
    EXPECT(has_line(bval, "0 1000 1000 500"));
    EXPECT(has_line(bvec, "0 0 0 1") && has_line(bvec, "0 1 1 0") && has_line(bvec, "0 0 0 0"));
    /* read back: three lines, or one line per volume with commas (MRtrix3 takes both) */
    REQUIRE_OK(mv_vol_set_gradients(&v, NULL, 0));
    EXPECT(v.meta.n_grad == 0 && v.meta.grad == NULL);
    REQUIRE_OK(mv_load_fsl_gradients(&v, bval, bvec));
    EXPECT(grad_rows_are(&v, dwi_world, 4, 1e-12));
    tu_write_file(bvec, "0 0 0\n0, 1, 0\r\n0 1 0\n1 0 0\n", 27);
    REQUIRE_OK(mv_load_fsl_gradients(&v, bval, bvec));
    EXPECT(grad_rows_are(&v, dwi_world, 4, 1e-12));
    /* a flipped affine column flips the voxel frame and FSL's x with it:
       the world table read back is the same */
    for (i = 0; i < 3; i++) v.affine[i][0] = -v.affine[i][0];
    REQUIRE_OK(mv_gradients_to_fsl(&v, bv, bc));
    EXPECT(bc[3] == 1 && bc[4 + 1] == 1); /* det < 0: no flip; world (-1,0,0) is voxel (+1,0,0) */
    REQUIRE_OK(mv_gradients_from_fsl(&v, bv, bc, 4));
    EXPECT(grad_rows_are(&v, dwi_world, 4, 1e-12));
    /* refusals, named */
    tu_write_file(bvec, "0 0 0 1\n0 1 x 0\n0 0 0 0\n", 24);
    EXPECT_STATUS(mv_load_fsl_gradients(&v, bval, bvec), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "nr_fsl.bvec: line 2: 'x") != NULL);
    tu_write_file(bvec, "0 0 0\n0 1 0\n", 12);
    EXPECT_STATUS(mv_load_fsl_gradients(&v, bval, bvec), MV_ERR_BAD_DATA);
    EXPECT(strstr(mv_last_error(), "3 lines of 4") != NULL);
    tu_write_file(bval, "0 1000 1000\n", 12);
    tu_write_file(bvec, "0 0 0\n0 1 0\n0 0 1\n", 18);
    EXPECT_STATUS(mv_load_fsl_gradients(&v, bval, bvec), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "3 gradients for a volume of 4 axes with 4 volumes") != NULL);
    EXPECT(grad_rows_are(&v, dwi_world, 4, 1e-12)); /* (unchanged by a refusal) */
    remove(bval);
    EXPECT_STATUS(mv_load_fsl_gradients(&v, bval, bvec), MV_ERR_NOT_FOUND);
    rows[0] = 0, rows[1] = 3, rows[2] = 4, rows[3] = -1;
    EXPECT_STATUS(mv_vol_set_gradients(&v, rows, 1), MV_ERR_INVALID_ARG);
    rows[3] = NAN;
    EXPECT_STATUS(mv_vol_set_gradients(&v, rows, 1), MV_ERR_INVALID_ARG);
    rows[3] = 700, rows[4] = rows[5] = rows[6] = rows[7] = 0;
    REQUIRE_OK(mv_vol_set_gradients(&v, rows, 2)); /* directions normalised: (0, 0.6, 0.8) */
    EXPECT(v.meta.n_grad == 2 && fabs(v.meta.grad[1] - 0.6) < 1e-15 && fabs(v.meta.grad[2] - 0.8) < 1e-15);
    EXPECT_STATUS(mv_save_fsl_gradients(&v, bval, bvec), MV_ERR_INVALID_ARG); /* 2 rows, 4 volumes */
    mv_free(&v);
    remove(bvec);
    remove(p);
}

/* KEY/VALUE PAIRS: the expected lists follow teem's rules (formatNRRD.c's
   notes on string handling, airUnescape, nrrdKeyValueAdd), which teem's unu
   shows on this very header: split at the first ":=", nothing trimmed,
   "\n" and "\\" unescaped and any other backslash kept, a repeated key in
   its first place with its last value, an empty key dropped, '#' lines
   comments. diff_sitk.py's nrrd family checks the same against SimpleITK's
   metadata dictionary, both ways. */
#define KV_HEADER                                                                                                 \
    "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 1 1\nencoding: raw\nSegment0_Name:=liver\n:=dropped\nk:=v1\n"   \
    "#c:=a comment\n a :=  b \nx:=y\\nz\\\\q\\t\\\nk:=v2\nempty:=\nDWMRI_b-value:=1000\nmodality:=MRI\nmulti:=a:=b\n"

static const char *const kv_want[7][2] = {{"Segment0_Name", "liver"}, {"k", "v2"},        {" a ", "  b "},
                                          {"x", "y\nz\\q\\t\\"},      {"empty", ""},        {"modality", "MRI"},
                                          {"multi", "a:=b"}};

/* v's pairs, the kept fields (NRRD_ keys: nrrd.kept_fields) passed over,
   are want[0..n) in order. */
static int kv_list_is(const mv_vol *v, const char *const (*want)[2], int n)
{
    int i, j = 0;
    for (i = 0; i < v->meta.n_kv; i++) {
        if (!strncmp(v->meta.kv[i].key, "NRRD_", 5)) continue;
        if (j == n || strcmp(v->meta.kv[i].key, want[j][0]) || strcmp(v->meta.kv[i].value, want[j][1])) return 0;
        j++;
    }
    return j == n;
}

MV_TEST(nrrd, key_values)
{
    static const char *const names[3] = {"nr_kv_out.nrrd", "nr_kv_out.nhdr", "nr_kvz_out.nrrd"};
    static const char *const bad_keys[8][2] = {{"", "x"},         {"a:=b", "x"},    {"#a", "x"},          {"a\rb", "x"},
                                               {"a", "x\ry"},     {"DWMRI_b-value", "1"}, {"DWMRI_gradient_0002", "1 0 0"},
                                               {"Z: b", "x"}};
    const unsigned char data[2] = {7, 9};
    char p[1024]; /* (tu_path's buffers are reused) */
    mv_load_opts o = MV_ZERO_INIT;
    mv_vol v, w;
    mv_keyvalue two[2];
    size_t n;
    unsigned char *b;
    int i;
    snprintf(p, sizeof(p), "%s", tu_path("nr_kv.nrrd"));
    put_nrrd(p, KV_HEADER "\n", data, 2);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT_MSG(kv_list_is(&v, kv_want, 7), "%d pairs, the first '%s'", v.meta.n_kv, v.meta.n_kv ? v.meta.kv[0].key : "");
    EXPECT(!strcmp(mv_vol_keyvalue(&v, "multi"), "a:=b") && mv_vol_keyvalue(&v, "c") == NULL &&
           mv_vol_keyvalue(&v, "") == NULL && mv_vol_keyvalue(NULL, "k") == NULL && mv_vol_keyvalue(&v, NULL) == NULL);
    /* header only, and from memory */
    o.header_only = 1;
    REQUIRE_OK(mv_load(p, &w, &o));
    EXPECT(w.data == NULL && kv_list_is(&w, kv_want, 7));
    mv_free(&w);
    b = tu_read_file(p, &n);
    REQUIRE(b != NULL);
    REQUIRE_OK(mv_load_nrrd_mem(b, n, NULL, 0, &w, NULL));
    EXPECT(kv_list_is(&w, kv_want, 7));
    mv_free(&w);
    free(b);
    /* copies own their pairs; results of medvol's functions carry them */
    REQUIRE_OK(mv_vol_copy(&v, &w));
    EXPECT(kv_list_is(&w, kv_want, 7) && w.meta.kv != v.meta.kv && w.meta.kv[0].key != v.meta.kv[0].key);
    mv_free(&w);
    REQUIRE_OK(mv_convert(&v, &w, MV_DT_F32, NULL));
    EXPECT(kv_list_is(&w, kv_want, 7));
    mv_free(&w);
    /* written escaped as teem writes them, in order; read back the same */
    for (i = 0; i < 3; i++) {
        mv_save_opts so = MV_ZERO_INIT;
        const char *q = tu_path(names[i]);
        so.compress = i == 2;
        REQUIRE_OK(mv_save(q, &v, &so));
        EXPECT(has_line(q, "Segment0_Name:=liver") && has_line(q, " a :=  b ") && has_line(q, "x:=y\\nz\\\\q\\\\t\\\\"));
        EXPECT(has_line(q, "empty:=") && has_line(q, "multi:=a:=b") && !has_line(q, "k:=v1") && has_line(q, "k:=v2"));
        REQUIRE_OK(mv_load(q, &w, NULL));
        EXPECT_MSG(kv_list_is(&w, kv_want, 7), "%s: %d pairs", names[i], w.meta.n_kv);
        EXPECT(((unsigned char *)w.data)[1] == 9);
        mv_free(&w);
        remove(q);
    }
    remove(tu_path("nr_kv_out.raw"));
    /* the setters: a new value in place, a new key last, a removal closes up */
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "k", "three\nlines\\"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "new", "last"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "Segment0_Name", NULL));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "absent", NULL));
    EXPECT(v.meta.n_kv == 7 && !strcmp(v.meta.kv[0].key, "k") && !strcmp(v.meta.kv[0].value, "three\nlines\\") &&
           !strcmp(v.meta.kv[6].key, "new") && !strcmp(v.meta.kv[1].key, " a "));
    for (i = 0; i < 8; i++) { /* keys NRRD cannot hold or give back, and the diffusion keys: refused, named */
        EXPECT_MSG(mv_vol_set_keyvalue(&v, bad_keys[i][0], bad_keys[i][1]) == MV_ERR_INVALID_ARG, "bad key %d", i);
        EXPECT_MSG(i == 0 || strstr(mv_last_error(), bad_keys[i][0]), "%d: %s", i, mv_last_error());
    }
    EXPECT(mv_vol_set_keyvalue(&v, "modality", "DWMRI") == MV_ERR_INVALID_ARG);
    EXPECT(v.meta.n_kv == 7);
    two[0].key = two[1].key = (char *)"same";
    two[0].value = (char *)"1";
    two[1].value = (char *)"2";
    EXPECT(mv_vol_set_keyvalues(&v, two, 2) == MV_ERR_INVALID_ARG && strstr(mv_last_error(), "'same' twice"));
    EXPECT(v.meta.n_kv == 7);
    two[1].key = (char *)"other";
    REQUIRE_OK(mv_vol_set_keyvalues(&v, two, 2));
    EXPECT(v.meta.n_kv == 2 && !strcmp(mv_vol_keyvalue(&v, "other"), "2"));
    /* a list edited in place into one NRRD cannot give back: refused, no file */
    v.meta.kv[1].key[0] = '#';
    EXPECT(mv_save(tu_path(names[0]), &v, NULL) == MV_ERR_INVALID_ARG && strstr(mv_last_error(), "'#ther'"));
    EXPECT(access(tu_path(names[0]), F_OK) != 0);
    v.meta.kv[1].key[0] = 's'; /* "sther" */
    v.meta.kv[1].key[1] = 'a', v.meta.kv[1].key[2] = 'm', v.meta.kv[1].key[3] = 'e', v.meta.kv[1].key[4] = 0;
    EXPECT(mv_save(tu_path(names[0]), &v, NULL) == MV_ERR_INVALID_ARG && strstr(mv_last_error(), "twice"));
    REQUIRE_OK(mv_vol_set_keyvalues(&v, NULL, 0));
    EXPECT(v.meta.n_kv == 0 && v.meta.kv == NULL);
    mv_free(&v);
    /* a DWI series: its keys are meta.grad, not pairs; a 'modality' pair
       would contradict the modality:=DWMRI it is written with */
    dwi_file(p);
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT(kv_list_is(&v, kv_want, 0) && v.meta.n_grad == 4);
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "modality", "MRI"));
    EXPECT(mv_save(tu_path(names[0]), &v, NULL) == MV_ERR_INVALID_ARG && strstr(mv_last_error(), "modality"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "modality", NULL));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "scanner", "3T"));
    REQUIRE_OK(mv_save(tu_path(names[0]), &v, NULL));
    EXPECT(has_line(tu_path(names[0]), "scanner:=3T") && has_line(tu_path(names[0]), "modality:=DWMRI"));
    REQUIRE_OK(mv_load(tu_path(names[0]), &w, NULL));
    EXPECT(w.meta.n_grad == 4 && !strcmp(mv_vol_keyvalue(&w, "scanner"), "3T"));
    mv_free(&w);
    mv_free(&v);
    remove(tu_path(names[0]));
    /* a NUL byte in a pair: damage, named */
    {
        static const char head[] = "NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nab";
        const unsigned char tail[] = {0, 'c', ':', '=', 'd', '\n', '\n', 7, 9};
        put_nrrd(p, head, tail, sizeof(tail));
        EXPECT(mv_load(p, &v, NULL) == MV_ERR_BAD_HEADER && strstr(mv_last_error(), "NUL") &&
               strstr(mv_last_error(), "nr_kv.nrrd") && v.data == NULL);
    }
    remove(p);
}

/* NRRD: KEPT FIELDS. The expected list is ITK's reading (SimpleITK 2.5's
   dictionary of this header, checked by hand; diff_sitk.py's nrrd family
   compares random ones): content from its first non-blank character to
   the line's end; per image axis thicknesses (nan: none), centerings,
   kinds (??? none) and labels (\" a quote, any other backslash kept, ""
   none); the values' axis as [pixel] with its kind, label and units; old
   min (old max nan: none). A pair named as a kept field stays unless the
   field replaces it (labels[1] is "" here, so the pair stays). */
#define KEPT_HEADER                                                                                       \
    "NRRD0004\ntype: uchar\ndimension: 4\nspace: left-posterior-superior\nsizes: 3 2 2 2\n"                 \
    "content:   CT  head \t\nthicknesses: nan 1.5 nan 2\ncenters: ??? cell NODE ???\n"                 \
    "space directions: none (1,0,0) (0,1,0) (0,0,1)\nkinds: RGB-color space domain ???\n"                \
    "labels: \"rgb \\\"x\\\"\"  \"a\\\\b\" \"\" \"z\"\nunits: \"u\" \"\" \"\" \"\"\nold min: -3.5\nold max: nan\n" \
    "NRRD_labels[1]:=L1\nNRRD_units[0]:=mm\nNRRD_thicknesses[9]:=3\nNRRD_kinds[0]_vendor:=x\nencoding: raw\n\n"

static const char *const kept_want[17][2] = {
    {"NRRD_labels[1]", "L1"},         {"NRRD_units[0]", "mm"},       {"NRRD_thicknesses[9]", "3"},
    {"NRRD_kinds[0]_vendor", "x"},
    {"NRRD_content", "CT  head \t"}, {"NRRD_old min", "-3.5"},      {"NRRD_thicknesses[0]", "1.5"},
    {"NRRD_thicknesses[2]", "2"},     {"NRRD_centerings[0]", "cell"}, {"NRRD_centerings[1]", "node"},
    {"NRRD_kinds[pixel]", "RGB-color"}, {"NRRD_kinds[0]", "space"}, {"NRRD_kinds[1]", "domain"},
    {"NRRD_labels[pixel]", "rgb \"x\""}, {"NRRD_labels[0]", "a\\\\b"}, {"NRRD_labels[2]", "z"},
    {"NRRD_units[pixel]", "u"}};

static int kept_list_is(const mv_vol *v, const char *const (*want)[2], int n)
{
    int i;
    if (v->meta.n_kv != n) return 0;
    for (i = 0; i < n; i++)
        if (strcmp(v->meta.kv[i].key, want[i][0]) || strcmp(v->meta.kv[i].value, want[i][1])) return 0;
    return 1;
}

MV_TEST(nrrd, kept_fields)
{
    static const char *const bad_values[8][2] = {
        {"NRRD_kinds[0]", "bogus"},     {"NRRD_centerings[1]", "middle"}, {"NRRD_thicknesses[0]", "1x"},
        {"NRRD_content", " lead"},      {"NRRD_labels[0]", "a\\"},        {"NRRD_labels[pixel]", "a\nb"},
        {"NRRD_old min", "inf"},        {"NRRD_content", ""}};
    static const char *const bad_roles[5][2] = {{"NRRD_kinds[0]", "list"},        {"NRRD_kinds[2]", "vector"},
                                                {"NRRD_kinds[pixel]", "4-color"}, {"NRRD_kinds[pixel]", "complex"},
                                                {"NRRD_kinds[pixel]", "domain"}};
    static const char *const bad_files[6] = {
        "units: \"\" \"mm\" \"\" \"\"\n",  /* a unit beside a space direction (teem refuses it) */
        "labels: \"a\" \"b\" \"c\"\n",     /* three labels for four axes */
        "labels: \"a\" \"b\" \"c\" \"d\" \"e\"\n", "labels: \"a\" \"b\" \"c\" \"d\n", "centers: cell cell cell middle\n",
        "thicknesses: 1 2 x 4\n"};
    unsigned char data[24];
    char p[1024], q[1024], text[1024];
    mv_load_opts o = MV_ZERO_INIT;
    mv_vol v, w;
    int i;
    for (i = 0; i < 24; i++) data[i] = (unsigned char)i;
    snprintf(p, sizeof(p), "%s", tu_path("nr_kept.nrrd"));
    snprintf(q, sizeof(q), "%s", tu_path("nr_kept_out.nrrd"));
    put_nrrd(p, KEPT_HEADER, data, sizeof(data));
    REQUIRE_OK(mv_load(p, &v, NULL));
    EXPECT_MSG(kept_list_is(&v, kept_want, 17), "%d pairs, the first '%s'", v.meta.n_kv,
               v.meta.n_kv ? v.meta.kv[0].key : "");
    o.header_only = 1;
    REQUIRE_OK(mv_load(p, &w, &o));
    EXPECT(kept_list_is(&w, kept_want, 17));
    mv_free(&w);
    /* written as teem writes the fields, the pixel axis first; the key of an
       axis the file lacks and an image axis's unit left out (as ITK's
       writer; teem refuses units beside a space direction), others as pairs */
    REQUIRE_OK(mv_save(q, &v, NULL));
    EXPECT(has_line(q, "content: CT  head \t") && has_line(q, "thicknesses: nan 1.5 nan 2"));
    EXPECT(has_line(q, "centerings: ??? cell node ???") && has_line(q, "kinds: RGB-color space domain domain"));
    EXPECT(has_line(q, "labels: \"rgb \\\"x\\\"\" \"a\\\\b\" \"L1\" \"z\"") && has_line(q, "units: \"u\" \"\" \"\" \"\""));
    EXPECT(has_line(q, "old min: -3.5") && !has_line(q, "old max: nan") && has_line(q, "NRRD_kinds[0]_vendor:=x"));
    EXPECT(!has_line(q, "NRRD_thicknesses[9]:=3") && !has_line(q, "NRRD_labels[1]:=L1"));
    EXPECT(!has_line(q, "NRRD_units[0]:=mm"));
    REQUIRE_OK(mv_load(q, &w, NULL));
    for (i = 0; i < 17; i++)
        EXPECT_MSG(i == 1 || i == 2 || (mv_vol_keyvalue(&w, kept_want[i][0]) &&
                              !strcmp(mv_vol_keyvalue(&w, kept_want[i][0]), kept_want[i][1])),
                   "%s after a round trip: %s", kept_want[i][0], mv_vol_keyvalue(&w, kept_want[i][0]));
    EXPECT(w.meta.n_kv == 16 && !strcmp(mv_vol_keyvalue(&w, "NRRD_kinds[2]"), "domain") &&
           memcmp(w.data, v.data, 24) == 0);
    mv_free(&w);
    /* the setters refuse what the fields cannot hold, named; other NRRD_
       keys are plain pairs */
    for (i = 0; i < 8; i++) {
        EXPECT_MSG(mv_vol_set_keyvalue(&v, bad_values[i][0], bad_values[i][1]) == MV_ERR_INVALID_ARG, "%s = '%s'",
                   bad_values[i][0], bad_values[i][1]);
        EXPECT_MSG(strstr(mv_last_error(), bad_values[i][0]) != NULL, "%s", mv_last_error());
    }
    EXPECT(!strcmp(mv_vol_keyvalue(&v, "NRRD_kinds[0]"), "space"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "NRRD_kinds[01]", "anything"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "NRRD_thicknesses[pixel]", "anything"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "NRRD_centerings[0]", "NODE"));
    REQUIRE_OK(mv_vol_set_keyvalue(&v, "NRRD_kinds[pixel]", "3-vector"));
    REQUIRE_OK(mv_save(q, &v, NULL));
    EXPECT(has_line(q, "NRRD_kinds[01]:=anything") && has_line(q, "NRRD_thicknesses[pixel]:=anything"));
    EXPECT(has_line(q, "centerings: ??? node node ???") && has_line(q, "kinds: 3-vector space domain domain"));
    remove(q);
    /* the writer refuses a kind or a unit the axis cannot have, named, no file */
    for (i = 0; i < 5; i++) {
        REQUIRE_OK(mv_vol_copy(&v, &w));
        REQUIRE_OK(mv_vol_set_keyvalue(&w, bad_roles[i][0], bad_roles[i][1]));
        EXPECT_MSG(mv_save(q, &w, NULL) == MV_ERR_INVALID_ARG && strstr(mv_last_error(), bad_roles[i][0]), "%s = %s: %s",
                   bad_roles[i][0], bad_roles[i][1], mv_last_error());
        EXPECT(access(q, F_OK) != 0);
        mv_free(&w);
    }
    mv_free(&v);
    /* a complex volume's pair: [pixel] of kind complex only */
    {
        const uint16_t one = 1;
        float c[6] = {1, 2, 3, 4, 5, 6};
        snprintf(text, sizeof(text),
                 "NRRD0004\ntype: float\ndimension: 2\nsizes: 2 3\nkinds: complex domain\n"
                 "labels: \"re-im\" \"x\"\nendian: %s\nencoding: raw\n\n",
                 *(const unsigned char *)&one ? "little" : "big");
        put_nrrd(p, text, c, sizeof(c));
        REQUIRE_OK(mv_load(p, &v, NULL));
        EXPECT(v.dtype == MV_DT_C64 && !strcmp(mv_vol_keyvalue(&v, "NRRD_kinds[pixel]"), "complex") &&
               !strcmp(mv_vol_keyvalue(&v, "NRRD_labels[pixel]"), "re-im") &&
               !strcmp(mv_vol_keyvalue(&v, "NRRD_labels[0]"), "x"));
        REQUIRE_OK(mv_save(q, &v, NULL));
        EXPECT(has_line(q, "labels: \"re-im\" \"x\" \"\"") || has_line(q, "labels: \"re-im\" \"x\""));
        REQUIRE_OK(mv_vol_set_keyvalue(&v, "NRRD_kinds[pixel]", "vector"));
        EXPECT(mv_save(q, &v, NULL) == MV_ERR_INVALID_ARG);
        mv_free(&v);
        remove(q);
    }
    /* fields teem refuses: damage, named */
    for (i = 0; i < 6; i++) {
        snprintf(text, sizeof(text),
                 "NRRD0004\ntype: uchar\ndimension: 4\nspace: left-posterior-superior\nsizes: 3 2 2 2\n"
                 "space directions: none (1,0,0) (0,1,0) (0,0,1)\nkinds: vector domain domain domain\n%sencoding: raw\n\n",
                 bad_files[i]);
        put_nrrd(p, text, data, sizeof(data));
        EXPECT_MSG(mv_load(p, &v, NULL) == MV_ERR_BAD_HEADER && strstr(mv_last_error(), "nr_kept.nrrd"), "file %d: %s",
                   i, mv_last_error());
    }
    remove(p);
}

/* Lines end as teem's airOneLine ends them ("\n", "\r\n", a lone "\r"),
   and a line is a key/value pair when its ":=" comes before any ": ":
   teem's unu reads each header below as written here (checked by hand with
   unu save; diff_sitk.py's nrrd family rewrites SimpleITK's files with
   "\r\n" and "\r" line ends and compares). */
MV_TEST(nrrd, line_ends)
{
    static const struct {
        const char *text;
        mv_status want;
        const char *k0, *v0, *k1, *v1; /* the pairs (NULL: fewer) */
    } cases[] = {
        {"NRRD0004\rtype: uchar\rdimension: 1\rsizes: 2\rencoding: raw\rk:=a\r\rAB", MV_OK, "k", "a", NULL, NULL},
        {"NRRD0004\r\ntype: uchar\r\ndimension: 1\r\nsizes: 2\r\nencoding: raw\r\nk:=a\r\n\r\nAB", MV_OK, "k", "a", NULL, NULL},
        /* a lone '\r' inside a line ends it: two pairs */
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nk:=a\rb:=c\n\nAB", MV_OK, "k", "a", "b", "c"},
        /* "\n" then "\r\n": the blank line */
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\n\r\nAB", MV_OK, NULL, NULL, NULL, NULL},
        /* ":=" first: a pair whose value holds ": "; ": " first: field Z, unknown */
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nk:=a: b\n\nAB", MV_OK, "k", "a: b", NULL, NULL},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nZ: b:=v\n\nAB", MV_ERR_BAD_HEADER, NULL, NULL, NULL, NULL},
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nZ:b:=v\n\nAB", MV_OK, "Z:b", "v", NULL, NULL},
        /* a line skip over "\r", "\r\n" and "\n" lines (the last "\r\n" whole) */
        {"NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\nline skip: 3\n\nx\ry\r\nz\r\nAB", MV_OK, NULL, NULL, NULL,
         NULL},
    };
    const char *p = tu_path("nr_eol.nrrd");
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mv_vol v;
        mv_status st;
        put_nrrd(p, cases[i].text, NULL, 0);
        st = mv_load(p, &v, NULL);
        EXPECT_MSG(st == cases[i].want, "case %zu: %s (%s)", i, mv_status_str(st), mv_last_error());
        if (st != MV_OK) continue;
        EXPECT_MSG(v.dim[0] == 2 && ((unsigned char *)v.data)[0] == 'A' && ((unsigned char *)v.data)[1] == 'B',
                   "case %zu: voxels %d %d", i, ((unsigned char *)v.data)[0], ((unsigned char *)v.data)[1]);
        EXPECT_MSG(v.meta.n_kv == (cases[i].k0 != NULL) + (cases[i].k1 != NULL), "case %zu: %d pairs", i, v.meta.n_kv);
        if (cases[i].k0) EXPECT_MSG(mv_vol_keyvalue(&v, cases[i].k0) && !strcmp(mv_vol_keyvalue(&v, cases[i].k0), cases[i].v0),
                                    "case %zu", i);
        if (cases[i].k1) EXPECT_MSG(mv_vol_keyvalue(&v, cases[i].k1) && !strcmp(mv_vol_keyvalue(&v, cases[i].k1), cases[i].v1),
                                    "case %zu", i);
        mv_free(&v);
    }
    remove(p);
}

/* Whether every image axis a of v has label "n<dim[a]>" and thickness
   "<dim[a]>" (the file below names its axes by their sizes, all different,
   so an entry on the wrong axis shows) and the values' label is kept. */
static int kept_follow_sizes(const mv_vol *v)
{
    int a;
    const char *px = mv_vol_keyvalue(v, "NRRD_labels[pixel]");
    for (a = 0; a < 3; a++) {
        char key[32], want[32];
        const char *got;
        snprintf(key, sizeof(key), "NRRD_labels[%d]", a);
        snprintf(want, sizeof(want), "n%lld", (long long)v->dim[a]);
        got = mv_vol_keyvalue(v, key);
        if (!got || strcmp(got, want)) return 0;
        snprintf(key, sizeof(key), "NRRD_thicknesses[%d]", a);
        snprintf(want, sizeof(want), "%lld", (long long)v->dim[a]);
        got = mv_vol_keyvalue(v, key);
        if (!got || strcmp(got, want)) return 0;
    }
    return px && !strcmp(px, "rgb");
}

/* A per-axis entry follows its axis through steps that move axes, as
   nibabel's as_reoriented moves dim_info's freq / phase / slice; the
   values' entries stay; a step that drops the coil axis drops its entries
   and moves later ones down. */
MV_TEST(nrrd, kept_fields_follow_axes)
{
    static const char header[] =
        "NRRD0004\ntype: uchar\ndimension: 4\nspace: left-posterior-superior\nsizes: 3 4 3 2\n"
        "space directions: none (0,1,0) (-1,0,0) (0,0,2)\nkinds: RGB-color domain domain domain\n"
        "labels: \"rgb\" \"n4\" \"n3\" \"n2\"\nthicknesses: nan 4 3 2\nencoding: raw\n\n";
    static const int perm[3] = {2, 0, 1};
    unsigned char data[72];
    const char *p = tu_path("nr_follow.nrrd"), *q = tu_path("nr_follow_out.nrrd");
    mv_op chain[2];
    mv_vol v, w;
    int i, k;
    for (i = 0; i < 72; i++) data[i] = (unsigned char)i;
    put_nrrd(p, header, data, sizeof(data));
    REQUIRE_OK(mv_load(p, &v, NULL));
    REQUIRE(v.dim[0] == 4 && v.dim[1] == 3 && v.dim[2] == 2 && kept_follow_sizes(&v));
    REQUIRE_OK(mv_permute(&v, &w, perm, NULL));
    EXPECT(w.dim[0] == 2 && kept_follow_sizes(&w));
    mv_free(&w);
    for (k = 1; k < 4; k++) {
        REQUIRE_OK(mv_rot90(&v, &w, k, 0, 2, NULL));
        EXPECT_MSG(kept_follow_sizes(&w), "rot90 k = %d", k);
        mv_free(&w);
    }
    REQUIRE_OK(mv_reorient(&v, &w, "SLP", NULL));
    EXPECT(w.dim[0] == 2 && kept_follow_sizes(&w));
    /* written back on the axes they follow (the file's labels line) */
    REQUIRE_OK(mv_save(q, &w, NULL));
    EXPECT(has_line(q, "labels: \"rgb\" \"n2\" \"n3\" \"n4\""));
    mv_free(&w);
    chain[0] = mv_op_reorient("SLP");
    chain[1] = mv_op_flip(1);
    REQUIRE_OK(mv_pipeline(&v, chain, 2, &w, NULL));
    EXPECT(kept_follow_sizes(&w));
    mv_free(&w);
    REQUIRE_OK(mv_pipeline_load(p, chain, 2, &w, NULL));
    EXPECT(w.dim[0] == 2 && kept_follow_sizes(&w));
    mv_free(&w);
    mv_free(&v);
    /* the coil axis (MV_COIL_AXIS) combined away: its entries go, the
       next axis's move down */
    {
        const int64_t dims[5] = {2, 2, 2, 3, 5};
        const char *const keys[6][2] = {{"NRRD_labels[0]", "x"},    {"NRRD_labels[3]", "coil"},
                                        {"NRRD_labels[4]", "time"}, {"NRRD_kinds[3]", "list"},
                                        {"NRRD_kinds[4]", "time"},  {"NRRD_labels[pixel]", "re-im"}};
        REQUIRE_OK(mv_vol_alloc(&v, MV_DT_C64, 5, dims, NULL));
        memset(v.data, 0, mv_vol_bytes(&v));
        for (i = 0; i < 6; i++) REQUIRE_OK(mv_vol_set_keyvalue(&v, keys[i][0], keys[i][1]));
        REQUIRE_OK(mv_rss(&v, &w, NULL));
        EXPECT(w.ndim == 4 && w.dim[3] == 5 && w.meta.n_kv == 4);
        EXPECT(!strcmp(mv_vol_keyvalue(&w, "NRRD_labels[0]"), "x") && !strcmp(mv_vol_keyvalue(&w, "NRRD_labels[3]"), "time"));
        EXPECT(!strcmp(mv_vol_keyvalue(&w, "NRRD_kinds[3]"), "time") && !mv_vol_keyvalue(&w, "NRRD_labels[4]"));
        EXPECT(!strcmp(mv_vol_keyvalue(&w, "NRRD_labels[pixel]"), "re-im"));
        mv_free(&w);
        mv_free(&v);
    }
    remove(p);
    remove(q);
}

/* mv_save_keeps_keyvalue says of each pair what a save and a reload show:
   the pair back with its value, or (hand-listed: the kinds every file of
   the volume has) implied; NIfTI keeps only those. */
MV_TEST(nrrd, save_keeps_keyvalue)
{
    static const char header[] =
        "NRRD0004\ntype: uchar\ndimension: 4\nspace: left-posterior-superior\nsizes: 3 4 3 2\n"
        "space directions: none (0,1,0) (-1,0,0) (0,0,2)\nkinds: vector domain domain domain\n"
        "labels: \"rgb\" \"n4\" \"n3\" \"n2\"\nunits: \"px\" \"\" \"\" \"\"\nencoding: raw\n"
        "NRRD_units[0]:=mm\nNRRD_labels[5]:=far\na:b:=1\nnote:= lead\nModality:=MR\n\n";
    static const char *const implied[4] = {"NRRD_kinds[0]", "NRRD_kinds[1]", "NRRD_kinds[2]", "NRRD_kinds[pixel]"};
    static const char *const outs[4] = {"nr_keeps_out.nrrd", "nr_keeps_out.nhdr", "nr_keeps_out.mha", "nr_keeps_out.nii"};
    unsigned char data[72];
    const char *p = tu_path("nr_keeps.nrrd");
    mv_vol v, r;
    int i, f, k, n_implied = 0;
    memset(data, 7, sizeof(data));
    put_nrrd(p, header, data, sizeof(data));
    REQUIRE_OK(mv_load(p, &v, NULL));
    REQUIRE(v.meta.n_kv == 14); /* the five pairs, then the fields */
    for (f = 0; f < 4; f++) {
        char q[1024];
        snprintf(q, sizeof(q), "%s", tu_path(outs[f]));
        REQUIRE_OK(mv_save(q, &v, NULL));
        REQUIRE_OK(mv_load(q, &r, NULL));
        for (i = 0; i < v.meta.n_kv; i++) {
            const char *back = mv_vol_keyvalue(&r, v.meta.kv[i].key);
            int is_implied = 0, want;
            for (k = 0; k < 4; k++) is_implied |= !strcmp(v.meta.kv[i].key, implied[k]);
            want = (back && !strcmp(back, v.meta.kv[i].value)) || is_implied;
            EXPECT_MSG(mv_save_keeps_keyvalue(q, &v, i) == want, "%s: '%s' = '%s' (back: '%s')", outs[f],
                       v.meta.kv[i].key, v.meta.kv[i].value, back ? back : "(none)");
            n_implied += f == 3 && want;
        }
        mv_free(&r);
        remove(q);
        if (f == 1) { /* (the .nhdr's data file) */
            snprintf(q, sizeof(q), "%s", tu_path("nr_keeps_out.raw"));
            remove(q);
        }
    }
    EXPECT(n_implied == 4); /* NIfTI: the kinds only */
    /* what each format leaves out, by name */
    EXPECT(!strcmp(v.meta.kv[0].key, "NRRD_units[0]") && !strcmp(v.meta.kv[1].key, "NRRD_labels[5]"));
    EXPECT(!mv_save_keeps_keyvalue("x.nrrd", &v, 0) && !mv_save_keeps_keyvalue("x.nrrd", &v, 1) &&
           mv_save_keeps_keyvalue("x.nrrd", &v, 2) && mv_save_keeps_keyvalue("x.nhdr", &v, 13));
    EXPECT(!mv_save_keeps_keyvalue("x.mhd", &v, 2) && !mv_save_keeps_keyvalue("x.mha", &v, 3) &&
           mv_save_keeps_keyvalue("x.mha", &v, 4));
    EXPECT(!mv_save_keeps_keyvalue("x.mgz", &v, 4) && !mv_save_keeps_keyvalue("x.hdr.gz", &v, 4) &&
           !mv_save_keeps_keyvalue("x.txt", &v, 4) && mv_save_keeps_keyvalue("x.nii.gz", &v, 6));
    EXPECT(!mv_save_keeps_keyvalue("x.nrrd", &v, -1) && !mv_save_keeps_keyvalue("x.nrrd", &v, 14) &&
           !mv_save_keeps_keyvalue(NULL, &v, 0) && !mv_save_keeps_keyvalue("x.nrrd", NULL, 0));
    mv_free(&v);
    remove(p);
}

/* Headers past 1 MiB (3D Slicer writes ten key/value lines a segment: an
   atlas of 2,000 labels has a header of about 2 MiB), which teem and so
   SimpleITK read: every pair, in order, and the voxels after the header;
   a header whose blank line is not in its first 64 MiB is refused by name
   (from a file and from memory), never parsed from a cut line. */
MV_TEST(nrrd, long_headers)
{
    size_t n = 30000, i, len, cap = (size_t)70 << 20;
    char *text = (char *)malloc(cap), p[1024], key[64], val[96];
    unsigned char be[48], *b;
    mv_vol v;
    int src;
    REQUIRE(text != NULL);
    be_ramp(be);
    len = (size_t)snprintf(text, cap, "%s", RAS_HEADER "encoding: raw\n");
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "Segment%05zu_Name:=structure %zu of the atlas, left side\n", i, i);
    REQUIRE(len > ((size_t)1 << 20));
    text[len++] = '\n';
    text[len] = 0;
    snprintf(p, sizeof(p), "%s", tu_path("nr_long.nrrd"));
    put_nrrd(p, text, be, sizeof(be));
    b = tu_read_file(p, &len);
    REQUIRE(b != NULL);
    for (src = 0; src < 3; src++) {
        mv_status st = src == 0 ? mv_load(p, &v, NULL) : src == 1 ? mv_load_mem(b, len, &v, NULL)
                                                                  : mv_load_nrrd_mem(b, len, NULL, 0, &v, NULL);
        int same = 1;
        EXPECT_MSG(st == MV_OK, "source %d: %s", src, mv_last_error());
        if (st != MV_OK) continue;
        EXPECT(ramp_is(&v, 1, 24));
        /* "some key", the segments, then the three kinds (ITK's NRRD_kinds[i]) */
        EXPECT_MSG(v.meta.n_kv == (int)n + 4, "source %d: %d pairs", src, v.meta.n_kv);
        for (i = 0; i < n && (int)i + 1 < v.meta.n_kv && same; i++) {
            snprintf(key, sizeof(key), "Segment%05zu_Name", i);
            snprintf(val, sizeof(val), "structure %zu of the atlas, left side", i);
            same = !strcmp(v.meta.kv[i + 1].key, key) && !strcmp(v.meta.kv[i + 1].value, val);
        }
        EXPECT_MSG(same, "source %d: pair %zu differs", src, i);
        mv_free(&v);
    }
    free(b);
    /* no blank line in the first 64 MiB: comments up to 65 MiB, then the data */
    len = (size_t)snprintf(text, cap, "%s", RAS_HEADER "encoding: raw\n");
    while (len < ((size_t)65 << 20)) len += (size_t)snprintf(text + len, cap - len, "# a comment line of the header\n");
    text[len++] = '\n';
    memcpy(text + len, be, sizeof(be));
    len += sizeof(be);
    EXPECT_STATUS(mv_load_mem(text, len, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "64 MiB") != NULL, "%s", mv_last_error());
    REQUIRE(tu_write_file(p, text, len));
    EXPECT_STATUS(mv_load(p, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "64 MiB") != NULL && strstr(mv_last_error(), "nr_long.nrrd") != NULL, "%s",
               mv_last_error());
    remove(p);
    free(text);
}
