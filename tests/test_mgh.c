/* FreeSurfer MGH (.mgh / .mgz, medvol.h MGH): files written here byte by
   byte, their voxels, affines and footers worked out from the format's
   rules by hand (affine column c = Mdc row c x delta[c], translation =
   Pxyz_c - M dims / 2); every source and load path that reads the footer
   at a different moment (addressable, a gzip stream without medvol's
   index, a stream callback, a crop box, header-only); the refusals of
   malformed files; and what mv_save / mv_save_mem write, read back byte
   by byte. nibabel reading and writing the same kinds of files at random
   is tests/py/diff_mgh.py. */
#include "mvtest.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void be_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    be32(p, u);
}

static uint32_t rd_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static float rd_be_f32(const unsigned char *p)
{
    uint32_t u = rd_be32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* An MGH header: dims, type, dof, goodRASFlag, delta, Mdc (rows: voxel
   axes' directions), Pxyz_c. */
typedef struct mgh_spec {
    int32_t dims[4], type, dof;
    int16_t good;
    float delta[3], mdc[3][3], c[3];
} mgh_spec;

static void put_header(unsigned char *b, const mgh_spec *s)
{
    int i, j;
    memset(b, 0, 284);
    be32(b, 1);
    for (i = 0; i < 4; i++) be32(b + 4 + 4 * i, (uint32_t)s->dims[i]);
    be32(b + 20, (uint32_t)s->type);
    be32(b + 24, (uint32_t)s->dof);
    b[28] = (unsigned char)((uint16_t)s->good >> 8);
    b[29] = (unsigned char)s->good;
    for (i = 0; i < 3; i++) {
        be_f32(b + 30 + 4 * i, s->delta[i]);
        be_f32(b + 78 + 4 * i, s->c[i]);
        for (j = 0; j < 3; j++) be_f32(b + 42 + 12 * i + 4 * j, s->mdc[i][j]);
    }
}

/* The 4D int16 example: 3 x 2 x 2 x 2 voxels v = 100 i - 7 (big-endian),
   dof 7, delta (2, 3, 4); axis 0 runs along +A, axis 1 along -R (L),
   axis 2 along +S; Pxyz_c (10, 20, 30). By hand: M's columns (0, 2, 0),
   (-3, 0, 0), (0, 0, 4); M dims / 2 = ((0, 6, 0) + (-6, 0, 0) + (0, 0, 8)) / 2
   = (-3, 3, 4); translation (13, 17, 26). Footer TR 2500, flip 0.5, TE
   30, TI 0, FoV 256, then a FreeSurfer tag (TAG_CMDLINE) when tags. */
static const double ex_affine[3][4] = {{0, -3, 0, 13}, {2, 0, 0, 17}, {0, 0, 4, 26}};

static size_t example_bytes(unsigned char *b, int footer, int tags, int16_t good, int32_t type)
{
    mgh_spec s;
    size_t n = 284, i;
    memset(&s, 0, sizeof(s));
    s.dims[0] = 3;
    s.dims[1] = 2;
    s.dims[2] = 2;
    s.dims[3] = 2;
    s.type = type;
    s.dof = 7;
    s.good = good;
    s.delta[0] = 2;
    s.delta[1] = 3;
    s.delta[2] = 4;
    s.mdc[0][1] = 1;
    s.mdc[1][0] = -1;
    s.mdc[2][2] = 1;
    s.c[0] = 10;
    s.c[1] = 20;
    s.c[2] = 30;
    put_header(b, &s);
    for (i = 0; i < 24; i++) {
        int v = 100 * (int)i - 7;
        if (type == 10) v += 7; /* uint16: 100 i */
        b[n++] = (unsigned char)((unsigned)v >> 8);
        b[n++] = (unsigned char)v;
    }
    if (footer) {
        be_f32(b + n, 2500);
        be_f32(b + n + 4, 0.5f);
        be_f32(b + n + 8, 30);
        be_f32(b + n + 12, 0);
        be_f32(b + n + 16, 256);
        n += 20;
    }
    if (tags) {
        const char *cmd = "mri_convert in.nii out.mgz";
        be32(b + n, 3);
        memset(b + n + 4, 0, 4);
        be32(b + n + 8, (uint32_t)strlen(cmd) + 1);
        memcpy(b + n + 12, cmd, strlen(cmd) + 1);
        n += 12 + strlen(cmd) + 1;
    }
    return n;
}

/* the example's checks: voxels (from box start b0 on axis 0, size n0),
   geometry and the footer */
static void check_example(const mv_vol *v, int64_t b0, int64_t n0, const char *how)
{
    const double mr[5] = {2500, 0.5, 30, 0, 256};
    int64_t i, j, k, t;
    int ok = 1;
    EXPECT_MSG(v->dtype == MV_DT_I16 && v->ndim == 4 && v->dim[0] == n0 && v->dim[1] == 2 && v->dim[2] == 2 && v->dim[3] == 2,
               "%s: dtype %d, %d axes, dims %lld %lld %lld %lld", how, (int)v->dtype, v->ndim, (long long)v->dim[0],
               (long long)v->dim[1], (long long)v->dim[2], (long long)v->dim[3]);
    if (v->data && v->ndim == 4)
        for (t = 0; t < 2; t++)
            for (k = 0; k < 2; k++)
                for (j = 0; j < 2; j++)
                    for (i = 0; i < n0; i++) {
                        int64_t file = (b0 + i) + 3 * (j + 2 * (k + 2 * t));
                        ok &= ((const int16_t *)v->data)[i + n0 * (j + 2 * (k + 2 * t))] == 100 * file - 7;
                    }
    EXPECT_MSG(ok, "%s: voxels", how);
    {
        double want[3][4];
        memcpy(want, ex_affine, sizeof(want));
        for (i = 0; i < 3; i++) want[i][3] += ex_affine[i][0] * (double)b0;
        EXPECT_MSG(tu_affine_is(v, (const double(*)[4])want), "%s: affine row 0 %g %g %g %g", how, v->affine[0][0], v->affine[0][1],
                   v->affine[0][2], v->affine[0][3]);
    }
    EXPECT_MSG(v->spacing[0] == 2 && v->spacing[1] == 3 && v->spacing[2] == 4 && v->spacing[3] == 2500,
               "%s: spacing %g %g %g %g", how, v->spacing[0], v->spacing[1], v->spacing[2], v->spacing[3]);
    EXPECT_MSG(!memcmp(v->meta.mgh_mr, mr, sizeof(mr)), "%s: footer %g %g %g %g %g", how, v->meta.mgh_mr[0],
               v->meta.mgh_mr[1], v->meta.mgh_mr[2], v->meta.mgh_mr[3], v->meta.mgh_mr[4]);
    EXPECT_MSG(v->meta.mgh_dof == 7 && v->meta.format == MV_FORMAT_MGH && v->meta.big_endian == 1 &&
                   v->meta.xyzt_units == (MV_UNITS_MM | MV_UNITS_MSEC) && v->meta.qform_code == 1 && v->meta.sform_code == 1,
               "%s: dof %d format %d units %d codes %d %d", how, v->meta.mgh_dof, (int)v->meta.format, v->meta.xyzt_units,
               v->meta.qform_code, v->meta.sform_code);
}

typedef struct chunked {
    const unsigned char *p;
    size_t len, pos;
} chunked;
static size_t chunked_read(void *u, void *buf, size_t n) /* 7 bytes at a time: reads that stop short */
{
    chunked *c = (chunked *)u;
    size_t k = c->len - c->pos < n ? c->len - c->pos : n;
    if (k > 7) k = 7;
    memcpy(buf, c->p + c->pos, k);
    c->pos += k;
    return k;
}

static mv_status load_stream(const unsigned char *b, size_t n, mv_vol *v, const mv_load_opts *o)
{
    chunked c;
    mv_io io;
    c.p = b;
    c.len = n;
    c.pos = 0;
    memset(&io, 0, sizeof(io));
    io.read = chunked_read;
    io.user = &c;
    return mv_load_io(&io, v, o);
}

/* gzip as one member (as FreeSurfer's zlib writes .mgz: no medvol index) */
static size_t gzip_one(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    mv_gzip_opts g;
    size_t len = 0;
    memset(&g, 0, sizeof(g));
    g.single_member = 1;
    if (mv_gzip(in, n, out, cap, &len, &g) != MV_OK) return 0;
    return len;
}

MV_TEST(mgh, hand_written_files)
{
    unsigned char b[600], z[2048];
    size_t n = example_bytes(b, 1, 1, 1, 4), zn = gzip_one(b, n, z, sizeof(z));
    const char *p = tu_path("mgh_hand.mgh"), *pz = tu_path("mgh_hand.mgz");
    mv_load_opts o;
    mv_vol v;
    REQUIRE(zn > 0);
    tu_write_file(p, b, n);
    tu_write_file(pz, z, zn);
    /* every source; the .mgz and the streams read the footer after the voxels */
    REQUIRE_OK(mv_load(p, &v, NULL));
    check_example(&v, 0, 3, ".mgh");
    mv_free(&v);
    REQUIRE_OK(mv_load(pz, &v, NULL));
    check_example(&v, 0, 3, ".mgz (one member)");
    mv_free(&v);
    REQUIRE_OK(mv_load_mem(b, n, &v, NULL));
    check_example(&v, 0, 3, "memory");
    mv_free(&v);
    REQUIRE_OK(load_stream(b, n, &v, NULL));
    check_example(&v, 0, 3, "stream");
    mv_free(&v);
    REQUIRE_OK(load_stream(z, zn, &v, NULL));
    check_example(&v, 0, 3, "gzip stream");
    mv_free(&v);
    /* a crop box, and header-only: the footer is read all the same */
    memset(&o, 0, sizeof(o));
    o.box_start[0] = 1;
    o.box_size[0] = 2;
    REQUIRE_OK(mv_load(pz, &v, &o));
    check_example(&v, 1, 2, ".mgz crop box");
    mv_free(&v);
    REQUIRE_OK(load_stream(z, zn, &v, &o));
    check_example(&v, 1, 2, "gzip stream crop box");
    mv_free(&v);
    memset(&o, 0, sizeof(o));
    o.header_only = 1;
    REQUIRE_OK(load_stream(z, zn, &v, &o));
    EXPECT(v.data == NULL);
    check_example(&v, 0, 3, "gzip stream header-only");
    mv_free(&v);
    /* one frame (squeezed): 3D, the TR stays in the footer only */
    memset(&o, 0, sizeof(o));
    o.box_start[3] = 1;
    o.box_size[3] = 1;
    o.squeeze = 1;
    REQUIRE_OK(mv_load(pz, &v, &o));
    EXPECT_EQ_INT(v.ndim, 3);
    EXPECT(((int16_t *)v.data)[0] == 100 * 12 - 7 && v.meta.mgh_mr[0] == 2500 && v.spacing[3] == 1);
    mv_free(&v);
    /* converted */
    memset(&o, 0, sizeof(o));
    o.dtype = MV_DT_F64;
    REQUIRE_OK(mv_load(p, &v, &o));
    EXPECT(v.dtype == MV_DT_F64 && ((double *)v.data)[23] == 2293);
    mv_free(&v);

    /* no footer: zeros (nibabel pads), TR 0 */
    n = example_bytes(b, 0, 0, 1, 4);
    REQUIRE_OK(mv_load_mem(b, n, &v, NULL));
    EXPECT(v.meta.mgh_mr[0] == 0 && v.meta.mgh_mr[4] == 0 && v.spacing[3] == 0);
    mv_free(&v);
    zn = gzip_one(b, n, z, sizeof(z));
    REQUIRE_OK(mv_load_mem(z, zn, &v, NULL));
    EXPECT(v.meta.mgh_mr[0] == 0 && ((int16_t *)v.data)[23] == 2293);
    mv_free(&v);
    /* 9 footer bytes: TR, flip angle, and TE's first byte (0x41 of 30 =
       0x41f00000) with zeros after it, as nibabel pads: 0x41000000 = 8 */
    n = example_bytes(b, 1, 0, 1, 4) - 11;
    REQUIRE_OK(mv_load_mem(b, n, &v, NULL));
    EXPECT(v.meta.mgh_mr[0] == 2500 && v.meta.mgh_mr[1] == 0.5 && v.meta.mgh_mr[2] == 8 && v.meta.mgh_mr[3] == 0);
    mv_free(&v);

    /* goodRASFlag 0: nibabel's default geometry: unit voxels, axes
       (-1, 0, 0), (0, 0, 1), (0, -1, 0), centre 0: translation -(M dims / 2)
       = -((-1.5, 0, 0) + (0, 0, 1) + (0, -1, 0)) = (1.5, 1, -1) */
    {
        const double want[3][4] = {{-1, 0, 0, 1.5}, {0, 0, -1, 1}, {0, 1, 0, -1}};
        n = example_bytes(b, 1, 0, 0, 4);
        REQUIRE_OK(mv_load_mem(b, n, &v, NULL));
        EXPECT_MSG(tu_affine_is(&v, want), "goodRASFlag 0: row 0 %g %g %g %g", v.affine[0][0], v.affine[0][1],
                   v.affine[0][2], v.affine[0][3]);
        EXPECT(v.spacing[0] == 1 && v.spacing[2] == 1);
        mv_free(&v);
    }
    /* MRI_USHRT (10), FreeSurfer 7: uint16 */
    n = example_bytes(b, 1, 0, 1, 10);
    REQUIRE_OK(mv_load_mem(b, n, &v, NULL));
    EXPECT(v.dtype == MV_DT_U16 && ((uint16_t *)v.data)[23] == 2300);
    mv_free(&v);
    /* uint8 maps straight from the file */
    {
        mgh_spec s;
        unsigned char u[284 + 8];
        memset(&s, 0, sizeof(s));
        s.dims[0] = 8;
        s.dims[1] = s.dims[2] = s.dims[3] = 1;
        s.good = 1;
        s.delta[0] = s.delta[1] = s.delta[2] = 1;
        s.mdc[0][0] = s.mdc[1][1] = s.mdc[2][2] = 1;
        put_header(u, &s);
        for (n = 0; n < 8; n++) u[284 + n] = (unsigned char)(n * 30);
        tu_write_file(p, u, sizeof(u));
        memset(&o, 0, sizeof(o));
        o.mmap = MV_MMAP_REQUIRE;
        REQUIRE_OK(mv_load(p, &v, &o));
        EXPECT(v.flags == MV_VOL_MAPPED && v.ndim == 3 && ((uint8_t *)v.data)[7] == 210 && v.meta.mgh_mr[0] == 0);
        mv_free(&v);
    }
}

static void expect_refusal(const unsigned char *b, size_t n, mv_status want, const char *field, const char *name)
{
    const char *p = tu_path(name);
    mv_vol v;
    mv_status st;
    tu_write_file(p, b, n);
    st = mv_load(p, &v, NULL);
    EXPECT_MSG(st == want, "%s: %s, expected %s (%s)", name, mv_status_str(st), mv_status_str(want), mv_last_error());
    EXPECT_MSG(strstr(mv_last_error(), field) && strstr(mv_last_error(), name), "%s: the message names neither %s nor the file: %s",
               name, field, mv_last_error());
    EXPECT(v.data == NULL);
}

MV_TEST(mgh, malformed_files)
{
    unsigned char b[600], c[600], z[2048];
    size_t n = example_bytes(b, 1, 0, 1, 4), zn;
    float nan = (float)NAN;
    memcpy(c, b, n);
    be32(c + 8, 0);
    expect_refusal(c, n, MV_ERR_BAD_HEADER, "dims[1] (height) is 0", "mgh_bad_dims0.mgh");
    memcpy(c, b, n);
    be32(c + 4, (uint32_t)-4);
    expect_refusal(c, n, MV_ERR_BAD_HEADER, "dims[0] (width) is -4", "mgh_bad_dimsneg.mgh");
    memcpy(c, b, n);
    be32(c + 20, 2);
    expect_refusal(c, n, MV_ERR_UNSUPPORTED, "type 2 = MRI_LONG", "mgh_bad_long.mgh");
    memcpy(c, b, n);
    be32(c + 20, 77);
    expect_refusal(c, n, MV_ERR_UNSUPPORTED, "type 77", "mgh_bad_type.mgh");
    memcpy(c, b, n);
    be_f32(c + 42 + 4 * 4, nan);
    expect_refusal(c, n, MV_ERR_BAD_HEADER, "Mdc[1][1]", "mgh_bad_mdc.mgh");
    memcpy(c, b, n);
    be_f32(c + 34, (float)INFINITY);
    expect_refusal(c, n, MV_ERR_BAD_HEADER, "delta[1]", "mgh_bad_delta.mgh");
    memcpy(c, b, n);
    be_f32(c + 86, nan);
    expect_refusal(c, n, MV_ERR_BAD_HEADER, "Pxyz_c[2]", "mgh_bad_centre.mgh");
    memcpy(c, b, n);
    be_f32(c + 284 + 48, nan);
    expect_refusal(c, n, MV_ERR_BAD_HEADER, "TR", "mgh_bad_tr.mgh");
    expect_refusal(b, 200, MV_ERR_TRUNCATED, "284-byte MGH header", "mgh_bad_short.mgh");
    expect_refusal(b, 284 + 47, MV_ERR_TRUNCATED, "data bytes", "mgh_bad_cut.mgh");
    /* the same cuts inside gzip, where the size is not known first */
    zn = gzip_one(b, 200, z, sizeof(z));
    expect_refusal(z, zn, MV_ERR_TRUNCATED, "gzip", "mgh_bad_short.mgz");
    zn = gzip_one(b, 284 + 47, z, sizeof(z));
    expect_refusal(z, zn, MV_ERR_TRUNCATED, "gzip", "mgh_bad_cut.mgz");
    /* a flipped CRC-32: the footer read after the voxels still checks it */
    zn = gzip_one(b, n, z, sizeof(z));
    z[zn - 8] ^= 1;
    expect_refusal(z, zn, MV_ERR_BAD_DATA, "CRC", "mgh_bad_crc.mgz");
    /* a stream or a one-member .mgz cut inside the voxels: a crop box that
       ends before the cut fails all the same (the footer lies after the
       voxels, so the cut is found), as a file of known size fails;
       header-only needs no voxels */
    {
        mv_load_opts o;
        mv_vol v;
        int k;
        zn = gzip_one(b, 284 + 47, z, sizeof(z));
        for (k = 0; k < 2; k++) {
            memset(&o, 0, sizeof(o));
            o.box_size[0] = 1;
            o.box_size[1] = 1;
            EXPECT_STATUS(load_stream(k ? z : b, k ? zn : 284 + 47, &v, &o), MV_ERR_TRUNCATED);
            EXPECT_STATUS(mv_load_mem(k ? z : b, k ? zn : 284 + 47, &v, &o), MV_ERR_TRUNCATED);
            memset(&o, 0, sizeof(o));
            o.header_only = 1;
            EXPECT_OK(load_stream(k ? z : b, k ? zn : 284 + 47, &v, &o));
            EXPECT(v.ndim == 4 && v.meta.mgh_mr[0] == 0);
            mv_free(&v);
            EXPECT_OK(mv_load_mem(k ? z : b, k ? zn : 284 + 47, &v, &o));
            mv_free(&v);
        }
    }
    /* a NaN TR in a 3D file is only a footer value: kept as stored */
    {
        mv_vol v;
        memcpy(c, b, n);
        be32(c + 16, 1); /* nframes 1: 12 voxels, the footer after them */
        memcpy(c + 284 + 24, b + 284 + 48, 20);
        be_f32(c + 284 + 24, nan);
        REQUIRE_OK(mv_load_mem(c, 284 + 24 + 20, &v, NULL));
        EXPECT(v.ndim == 3 && isnan(v.meta.mgh_mr[0]) && v.meta.mgh_mr[1] == 0.5);
        mv_free(&v);
    }
}

static void oblique_volume(mv_vol *v, mv_dtype dt, int ndim)
{
    int64_t dims[4] = {5, 4, 3, 2};
    size_t i, n;
    REQUIRE_OK(mv_vol_alloc(v, dt, ndim, dims, NULL));
    n = (size_t)mv_vol_count(v);
    for (i = 0; i < n; i++) {
        double x = (double)i * 37.0 - 50.0;
        if (dt == MV_DT_F32) ((float *)v->data)[i] = (float)(x / 3);
        else if (dt == MV_DT_I32) ((int32_t *)v->data)[i] = (int32_t)(x * 1000);
        else if (dt == MV_DT_I16) ((int16_t *)v->data)[i] = (int16_t)x;
        else ((uint8_t *)v->data)[i] = (uint8_t)i;
    }
    /* columns: 0.5 x (0.6, 0.8, 0), 2 x (-0.8, 0.6, 0), 3 x (0, 0, 1) */
    memset(v->affine, 0, sizeof(v->affine));
    v->affine[0][0] = 0.3;
    v->affine[1][0] = 0.4;
    v->affine[0][1] = -1.6;
    v->affine[1][1] = 1.2;
    v->affine[2][2] = 3;
    v->affine[0][3] = -20;
    v->affine[1][3] = 10;
    v->affine[2][3] = 5;
    v->affine[3][3] = 1;
}

MV_TEST(mgh, save_and_reload)
{
    const char *p = tu_path("mgh_save.mgh"), *pz = tu_path("mgh_save.mgz"), *pg = tu_path("mgh_save.mgh.gz");
    mv_vol v, r;
    unsigned char *f;
    size_t n, i, mn = 0;
    mv_save_opts so;
    /* a 4D int16 volume with TR 2 s (NIfTI units): the file by hand */
    oblique_volume(&v, MV_DT_I16, 4);
    v.spacing[3] = 2.0;
    v.meta.xyzt_units = MV_UNITS_MM | MV_UNITS_SEC;
    v.meta.mgh_mr[1] = 0.25;
    v.meta.mgh_mr[2] = 4;
    v.meta.mgh_dof = 3;
    REQUIRE_OK(mv_save(p, &v, NULL));
    f = tu_read_file(p, &n);
    REQUIRE(f && n == 284 + 120 * 2 + 20);
    EXPECT(rd_be32(f) == 1 && rd_be32(f + 4) == 5 && rd_be32(f + 8) == 4 && rd_be32(f + 12) == 3 && rd_be32(f + 16) == 2);
    EXPECT(rd_be32(f + 20) == 4 && rd_be32(f + 24) == 3 && f[28] == 0 && f[29] == 1);
    /* delta = column norms 0.5, 2, 3; Mdc rows = the unit columns; Pxyz_c =
       A (2.5, 2, 1.5, 1) = (0.75 - 3.2 - 20, 1 + 2.4 + 10, 4.5 + 5) */
    EXPECT(rd_be_f32(f + 30) == 0.5f && rd_be_f32(f + 34) == 2.0f && rd_be_f32(f + 38) == 3.0f);
    EXPECT(rd_be_f32(f + 42) == 0.6f && rd_be_f32(f + 46) == 0.8f && rd_be_f32(f + 50) == 0.0f);
    EXPECT(rd_be_f32(f + 54) == -0.8f && rd_be_f32(f + 58) == 0.6f && rd_be_f32(f + 70) == 0.0f && rd_be_f32(f + 74) == 1.0f);
    EXPECT_MSG(rd_be_f32(f + 78) == (float)(0.3 * 2.5 - 1.6 * 2 - 20) && rd_be_f32(f + 82) == (float)(0.4 * 2.5 + 1.2 * 2 + 10) &&
                   rd_be_f32(f + 86) == 9.5f,
               "Pxyz_c %.9g %.9g %.9g", rd_be_f32(f + 78), rd_be_f32(f + 82), rd_be_f32(f + 86));
    for (i = 0; i < 120; i++) EXPECT((int16_t)(f[284 + 2 * i] << 8 | f[285 + 2 * i]) == ((int16_t *)v.data)[i]);
    EXPECT(rd_be_f32(f + 524) == 2000.0f && rd_be_f32(f + 528) == 0.25f && rd_be_f32(f + 532) == 4.0f &&
           rd_be_f32(f + 540) == 0.0f);
    /* the same bytes from memory; compressed ones load back equal */
    memset(&so, 0, sizeof(so));
    so.format = MV_FORMAT_MGH;
    {
        unsigned char *m = (unsigned char *)malloc(n);
        REQUIRE_OK(mv_save_mem(&v, NULL, 0, &mn, &so));
        EXPECT(mn == n);
        EXPECT_STATUS(mv_save_mem(&v, m, n - 1, &mn, &so), MV_ERR_BUFFER_TOO_SMALL);
        REQUIRE_OK(mv_save_mem(&v, m, n, &mn, &so));
        EXPECT(mn == n && !memcmp(m, f, n));
        free(m);
    }
    free(f);
    REQUIRE_OK(mv_save(pz, &v, NULL));
    so.gzip.single_member = 1;
    so.format = MV_FORMAT_NONE;
    REQUIRE_OK(mv_save(pg, &v, &so));
    {
        const char *which[3] = {p, pz, pg};
        int k;
        for (k = 0; k < 3; k++) {
            REQUIRE_OK(mv_load(which[k], &r, NULL));
            EXPECT_MSG(r.dtype == MV_DT_I16 && r.ndim == 4 && !memcmp(r.data, v.data, 240) && r.spacing[3] == 2000 &&
                           r.meta.mgh_mr[1] == 0.25 && r.meta.mgh_dof == 3,
                       "%s read back", which[k]);
            EXPECT_MSG(fabs(r.affine[0][0] - 0.3) < 1e-7 && fabs(r.affine[1][1] - 1.2) < 1e-7 && r.affine[2][3] == 5,
                       "%s affine", which[k]);
            mv_free(&r);
        }
        f = tu_read_file(pz, &n);
        EXPECT(f && n > 2 && f[0] == 0x1f && f[1] == 0x8b);
        free(f);
    }
    mv_free(&v);

    /* a file's own geometry comes back byte for byte, where recomputing
       it from the affine would not: delta 3 -> 3.0000002 and Mdc[2][2]
       off by an ulp (a rotation nibabel wrote; tests/py/diff_mgh.py read:95) */
    {
        mgh_spec s;
        unsigned char b[284 + 28 + 20];
        const char *q = tu_path("mgh_keep.mgh"), *q2 = tu_path("mgh_keep2.mgh");
        memset(&s, 0, sizeof(s));
        s.dims[0] = 7;
        s.dims[1] = s.dims[2] = s.dims[3] = 1;
        s.type = 3;
        s.good = 1;
        s.delta[0] = s.delta[1] = 1;
        s.delta[2] = 3;
        s.mdc[0][0] = -0.24971657991409302f;
        s.mdc[0][1] = 0.11155184358358383f;
        s.mdc[0][2] = 0.9618720412254333f;
        s.mdc[1][0] = 0.7992404103279114f;
        s.mdc[1][1] = -0.5370602011680603f;
        s.mdc[1][2] = 0.2697798013687134f;
        s.mdc[2][0] = 0.5466775894165039f;
        s.mdc[2][1] = 0.8361355066299438f;
        s.mdc[2][2] = 0.04495609924197197f;
        s.c[0] = -95.65437316894531f;
        s.c[1] = 116.37610626220703f;
        s.c[2] = 80.56887817382812f;
        put_header(b, &s);
        for (i = 0; i < 7; i++) be_f32(b + 284 + 4 * i, (float)i - 2.5f);
        memset(b + 284 + 28, 0, 20);
        be_f32(b + 284 + 28, 1900);
        tu_write_file(q, b, sizeof(b));
        REQUIRE_OK(mv_load(q, &r, NULL));
        REQUIRE_OK(mv_save(q2, &r, NULL));
        f = tu_read_file(q2, &n);
        EXPECT_MSG(f && n == sizeof(b) && !memcmp(f, b, n), "the rewrite differs from the file it was read from");
        free(f);
        /* moved: now the geometry is the affine's (Pxyz_c moves by 1 mm in x) */
        r.affine[0][3] += 1;
        REQUIRE_OK(mv_save(q2, &r, NULL));
        f = tu_read_file(q2, &n);
        EXPECT(f && fabs(rd_be_f32(f + 78) - (s.c[0] + 1)) < 1e-4 && rd_be_f32(f + 38) != 3.0f);
        free(f);
        mv_free(&r);
    }

    /* refusals, before any file is made */
    {
        const char *q = tu_path("mgh_refused.mgz");
        unlink(q);
        oblique_volume(&v, MV_DT_I16, 3);
        v.dtype = MV_DT_U16;
        EXPECT_STATUS(mv_save(q, &v, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "uint16") != NULL);
        v.dtype = MV_DT_I16;
        v.meta.scl_slope = 2;
        EXPECT_STATUS(mv_save(q, &v, NULL), MV_ERR_UNSUPPORTED);
        EXPECT(strstr(mv_last_error(), "scaling") != NULL);
        v.meta.scl_slope = 0;
        v.affine[0][1] = v.affine[1][1] = 0;
        EXPECT_STATUS(mv_save(q, &v, NULL), MV_ERR_INVALID_ARG);
        EXPECT(strstr(mv_last_error(), "column 1 is zero") != NULL);
        EXPECT(access(q, F_OK) != 0);
        mv_free(&v);
        {
            int64_t d5[5] = {2, 2, 2, 1, 3};
            REQUIRE_OK(mv_vol_alloc(&v, MV_DT_F32, 5, d5, NULL));
            EXPECT_STATUS(mv_save(q, &v, NULL), MV_ERR_UNSUPPORTED);
            EXPECT(strstr(mv_last_error(), "axis 4") != NULL);
            memset(&so, 0, sizeof(so));
            so.format = MV_FORMAT_METAIMAGE;
            EXPECT_STATUS(mv_save_mem(&v, NULL, 0, &mn, &so), MV_ERR_UNSUPPORTED);
            mv_free(&v);
        }
        EXPECT(access(q, F_OK) != 0);
    }
}

/* A medvol-written (indexed) .mgz, a one-member one and a plain .mgh
   (its big-endian voxels swapped by the parallel conversion), 4.9 MB of
   int16 voxels: loads on 1, 2 and 3 threads, whole and cropped, equal
   bytes. */
MV_TEST(mgh, threads_identical)
{
    const char *files[3], *kind[3] = {"indexed", "one member", "plain"};
    int64_t dims[4] = {96, 80, 64, 5};
    mv_vol v, r;
    mv_save_opts so;
    size_t i, n;
    int k, t;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I16, 4, dims, NULL));
    n = (size_t)mv_vol_count(&v);
    for (i = 0; i < n; i++) ((int16_t *)v.data)[i] = (int16_t)((i * 2654435761u) >> 17);
    v.affine[0][0] = v.affine[1][1] = v.affine[2][2] = 1;
    v.spacing[3] = 0.75;
    files[0] = tu_path("mgh_threads.mgz");
    files[1] = tu_path("mgh_threads1.mgz");
    files[2] = tu_path("mgh_threads.mgh");
    REQUIRE_OK(mv_save(files[0], &v, NULL));
    memset(&so, 0, sizeof(so));
    so.gzip.single_member = 1;
    REQUIRE_OK(mv_save(files[1], &v, &so));
    REQUIRE_OK(mv_save(files[2], &v, NULL));
    for (k = 0; k < 3; k++)
        for (t = 1; t <= 3; t++) {
            mv_load_opts o;
            const int64_t corner[4] = {10, 0, 20, 2}, size[4] = {50, 80, 30, 3};
            int64_t bad;
            memset(&o, 0, sizeof(o));
            o.threads = t;
            REQUIRE_OK(mv_load(files[k], &r, &o));
            EXPECT_MSG(r.ndim == 4 && !memcmp(r.data, v.data, n * 2) && r.spacing[3] == 750, "%s, %d threads", kind[k], t);
            mv_free(&r);
            o.box_start[0] = 10;
            o.box_size[0] = 50;
            o.box_start[2] = 20;
            o.box_size[2] = 30;
            o.box_start[3] = 2;
            REQUIRE_OK(mv_load(files[k], &r, &o));
            bad = tu_i16_box_mismatches(&r, &v, corner, size);
            EXPECT_MSG(bad == 0 && r.spacing[3] == 750 && r.dim[3] == 3, "%s crop, %d threads: %lld voxels differ",
                       kind[k], t, (long long)bad);
            mv_free(&r);
        }
    mv_free(&v);
}

/* A file FreeSurfer wrote: Debian's python3-nibabel ships nibabel's
   tests/data/test.mgz, made by `mri_volsynth --dim 3 4 5 2 --cdircos 1 2 3
   --rdircos 2 3 1 --sdircos 3 1 2`; nibabel's test_mghformat.py quotes
   FreeSurfer's `mri_info --vox2ras` of it and two voxels. Rewritten by
   medvol, its header and footer come back byte for byte. */
MV_TEST(mgh, freesurfer_file)
{
    const char *path = "/usr/lib/python3/dist-packages/nibabel/tests/data/test.mgz";
    const double v2r[3][4] = {{1, 2, 3, -13}, {2, 3, 1, -11.5}, {3, 1, 2, -11.5}};
    const char *out = tu_path("mgh_fs_rewrite.mgz");
    unsigned char *orig, *plain, *again, *plain2;
    size_t n, n2, len = 0, len2 = 0;
    mv_vol v;
    if (access(path, R_OK) != 0) SKIP("%s: not installed (apt-get install python3-nibabel)", path);
    REQUIRE_OK(mv_load(path, &v, NULL));
    EXPECT(v.dtype == MV_DT_F32 && v.ndim == 4 && v.dim[0] == 3 && v.dim[1] == 4 && v.dim[2] == 5 && v.dim[3] == 2);
    EXPECT_MSG(tu_affine_is(&v, v2r), "mri_info --vox2ras: row 0 %g %g %g %g", v.affine[0][0], v.affine[0][1], v.affine[0][2],
               v.affine[0][3]);
    EXPECT(v.spacing[0] == 1 && v.spacing[1] == 1 && v.spacing[2] == 1 && v.spacing[3] == 2);
    EXPECT(v.meta.mgh_mr[0] == 2 && v.meta.mgh_mr[1] == 0 && v.meta.mgh_mr[2] == 0 && v.meta.mgh_mr[3] == 0 &&
           v.meta.mgh_dof == 0);
    EXPECT_NEAR(((float *)v.data)[1 + 3 * (2 + 4 * (3 + 5 * 0))], -0.3047, 5e-5);
    EXPECT_NEAR(((float *)v.data)[1 + 3 * (2 + 4 * (3 + 5 * 1))], 0.0018, 5e-5);
    REQUIRE_OK(mv_save(out, &v, NULL));
    mv_free(&v);
    orig = tu_read_file(path, &n);
    again = tu_read_file(out, &n2);
    REQUIRE(orig && again);
    plain = (unsigned char *)malloc(1 << 16);
    plain2 = (unsigned char *)malloc(1 << 16);
    REQUIRE(plain && plain2);
    REQUIRE_OK(mv_gunzip(orig, n, plain, 1 << 16, &len, NULL));
    REQUIRE_OK(mv_gunzip(again, n2, plain2, 1 << 16, &len2, NULL));
    EXPECT_MSG(len2 == 284 + 480 + 20 && !memcmp(plain, plain2, 284 + 480 + 20),
               "the rewrite's header, voxels and footer differ from FreeSurfer's (%zu bytes)", len2);
    free(orig);
    free(again);
    free(plain);
    free(plain2);
}
