/* test_nifti.c - NIfTI-1/2 and Analyze reading and writing */
#define _DEFAULT_SOURCE 1 /* symlink, lstat, gethostname, mode_t: the writer tests */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "json.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pthread.h>
#include <unistd.h>

/* ---- helpers ---- */
static void fill_random(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = (unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) b[i] = (unsigned char)(tu_rand(&seed) >> 56);
}

/* an affine whose entries float32 holds exactly, oblique by a permutation */
static void exact_affine(mv_vol *v, int k)
{
    static const int perm[6][3] = {{0, 1, 2}, {1, 0, 2}, {2, 1, 0}, {0, 2, 1}, {1, 2, 0}, {2, 0, 1}};
    static const double zoom[3] = {1.5, 2.25, 0.75};
    int c, r;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) v->affine[r][c] = r == c && r == 3;
    for (c = 0; c < 3; c++) {
        v->affine[perm[k % 6][c]][c] = ((k + c) % 2 ? -1 : 1) * zoom[c];
        v->spacing[c] = zoom[c];
        v->affine[c][3] = -12.125 + 3.5 * c + k;
    }
}

static int make_vol(mv_vol *v, mv_dtype dt, int ndim, const int64_t *dims, uint64_t seed)
{
    if (mv_vol_alloc(v, dt, ndim, dims, NULL) != MV_OK) return 0;
    fill_random(v->data, mv_vol_bytes(v), seed);
    exact_affine(v, (int)(seed % 6));
    strcpy(v->meta.descrip, "medvol test volume");
    strcpy(v->meta.intent_name, "test");
    strcpy(v->meta.aux_file, "aux.txt");
    v->meta.intent_code = 1002;
    v->meta.intent_p[0] = 1.5;
    v->meta.intent_p[1] = -2.25;
    v->meta.cal_min = -3;
    v->meta.cal_max = 1000.5;
    v->meta.toffset = 0.125;
    v->meta.slice_duration = 0.0625;
    v->meta.slice_code = 1;
    v->meta.slice_start = 1;
    v->meta.slice_end = 2;
    v->meta.dim_info = 57;
    v->meta.xyzt_units = MV_UNITS_MM | MV_UNITS_MSEC;
    v->meta.qform_code = MV_XFORM_SCANNER;
    v->meta.sform_code = MV_XFORM_MNI152;
    return 1;
}

static void add_extensions(mv_vol *v)
{
    mv_extension e[2];
    unsigned char a[24] = "hello extension", b[37];
    int i;
    for (i = 0; i < 37; i++) b[i] = (unsigned char)(i * 7);
    e[0].code = 6;
    e[0].size = 24; /* 8-byte head + 24 = 32, a multiple of 16: written as is */
    e[0].data = a;
    e[1].code = 4;
    e[1].size = 40; /* 37 bytes + 3 of padding, as a reader would see it */
    e[1].data = b;
    {
        unsigned char padded[40];
        memset(padded, 0, sizeof(padded));
        memcpy(padded, b, 37);
        e[1].data = padded;
        mv_vol_set_extensions(v, e, 2);
    }
}

static void expect_same_volume(const mv_vol *a, const mv_vol *b, const char *what)
{
    int i, r, c;
    EXPECT_MSG(a->dtype == b->dtype && a->ndim == b->ndim, "%s: dtype/ndim %d/%d vs %d/%d", what, a->dtype, a->ndim,
               b->dtype, b->ndim);
    for (i = 0; i < a->ndim; i++) {
        EXPECT_MSG(a->dim[i] == b->dim[i], "%s: dim[%d]", what, i);
        EXPECT_MSG(a->spacing[i] == b->spacing[i], "%s: spacing[%d] %g vs %g", what, i, a->spacing[i], b->spacing[i]);
    }
    if (a->data && b->data && a->dtype == b->dtype)
        EXPECT_MSG(memcmp(a->data, b->data, mv_vol_bytes(a)) == 0, "%s: data differ", what);
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            EXPECT_MSG(a->affine[r][c] == b->affine[r][c], "%s: affine[%d][%d] %.17g vs %.17g", what, r, c, a->affine[r][c],
                       b->affine[r][c]);
    EXPECT_MSG(strcmp(a->meta.descrip, b->meta.descrip) == 0, "%s: descrip", what);
    EXPECT_MSG(strcmp(a->meta.intent_name, b->meta.intent_name) == 0, "%s: intent_name", what);
    EXPECT_MSG(strcmp(a->meta.aux_file, b->meta.aux_file) == 0, "%s: aux_file", what);
    EXPECT_MSG(a->meta.intent_code == b->meta.intent_code && a->meta.intent_p[0] == b->meta.intent_p[0] &&
                   a->meta.intent_p[1] == b->meta.intent_p[1],
               "%s: intent", what);
    EXPECT_MSG(a->meta.cal_min == b->meta.cal_min && a->meta.cal_max == b->meta.cal_max, "%s: cal", what);
    EXPECT_MSG(a->meta.toffset == b->meta.toffset && a->meta.slice_duration == b->meta.slice_duration &&
                   a->meta.slice_code == b->meta.slice_code && a->meta.slice_start == b->meta.slice_start &&
                   a->meta.slice_end == b->meta.slice_end && a->meta.dim_info == b->meta.dim_info,
               "%s: timing/slice fields", what);
    EXPECT_MSG(a->meta.xyzt_units == b->meta.xyzt_units, "%s: units", what);
    EXPECT_MSG(a->meta.qform_code == b->meta.qform_code && a->meta.sform_code == b->meta.sform_code, "%s: codes %d/%d vs %d/%d",
               what, a->meta.qform_code, a->meta.sform_code, b->meta.qform_code, b->meta.sform_code);
    EXPECT_MSG(a->meta.n_ext == b->meta.n_ext, "%s: %d vs %d extensions", what, a->meta.n_ext, b->meta.n_ext);
    for (i = 0; i < a->meta.n_ext && i < b->meta.n_ext; i++)
        EXPECT_MSG(a->meta.ext[i].code == b->meta.ext[i].code && a->meta.ext[i].size == b->meta.ext[i].size &&
                       memcmp(a->meta.ext[i].data, b->meta.ext[i].data, a->meta.ext[i].size) == 0,
                   "%s: extension %d", what, i);
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, ".mvtmp-") != NULL;
    closedir(d);
    return n;
}

static void put_le(unsigned char *b, size_t off, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++) b[off + i] = (unsigned char)(v >> (8 * i));
}
static void put_f32(unsigned char *b, size_t off, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le(b, off, u, 4);
}

/* ---- round trips ---- */
MV_TEST(nifti, roundtrip_every_dtype_and_format)
{
    static const mv_dtype dts[] = {MV_DT_U8, MV_DT_I8, MV_DT_U16, MV_DT_I16, MV_DT_U32, MV_DT_I32, MV_DT_U64, MV_DT_I64,
                                   MV_DT_F32, MV_DT_F64, MV_DT_F128, MV_DT_C64, MV_DT_C128, MV_DT_C256, MV_DT_RGB24,
                                   MV_DT_RGBA32};
    static const char *names[] = {"rt.nii", "rt2.nii", "rt.hdr", "rt2.img", "mem"};
    static const int64_t shape[7] = {5, 3, 4, 2, 2, 1, 3};
    size_t d;
    int ndim, f;
    for (d = 0; d < sizeof(dts) / sizeof(dts[0]); d++)
        for (ndim = 1; ndim <= 7; ndim++)
            for (f = 0; f < 5; f++) {
                mv_vol v, back;
                mv_save_opts so;
                char what[128];
                memset(&so, 0, sizeof(so));
                so.nifti_version = (f == 1 || f == 3) ? 2 : 0;
                snprintf(what, sizeof(what), "%s %dD %s", mv_dtype_name(dts[d]), ndim, names[f]);
                REQUIRE(make_vol(&v, dts[d], ndim, shape, (uint64_t)(d * 7 + ndim * 3 + f)));
                if ((d + ndim) % 3 == 0) add_extensions(&v);
                if (f == 4) {
                    size_t len;
                    unsigned char *buf;
                    REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, &so));
                    buf = (unsigned char *)malloc(len);
                    REQUIRE_OK(mv_save_mem(&v, buf, len, &len, &so));
                    REQUIRE_OK(mv_load_mem(buf, len, &back, NULL));
                    free(buf);
                } else {
                    const char *path = tu_path(names[f]);
                    REQUIRE_OK(mv_save(path, &v, &so));
                    REQUIRE_OK(mv_load(path, &back, NULL));
                    EXPECT_EQ_INT(back.meta.format, so.nifti_version == 2 ? MV_FORMAT_NIFTI2 : MV_FORMAT_NIFTI1);
                }
                expect_same_volume(&v, &back, what);
                mv_free(&v);
                mv_free(&back);
                if (mvt_cur.failures) return;
            }
    EXPECT_EQ_INT(count_tmp_files(tu_path("")), 0);
}

/* a changed affine is written as sform and qform (codes kept) */
MV_TEST(nifti, changed_affine_rewritten)
{
    mv_vol v, back;
    int64_t dims[3] = {4, 4, 4};
    const char *p = tu_path("aff.nii");
    REQUIRE(make_vol(&v, MV_DT_F32, 3, dims, 1));
    REQUIRE_OK(mv_save(p, &v, NULL));
    REQUIRE_OK(mv_load(p, &back, NULL));
    back.affine[0][0] = -back.affine[0][0]; /* as a flip would */
    back.affine[0][3] += 6;
    REQUIRE_OK(mv_save(tu_path("aff2.nii"), &back, NULL));
    mv_free(&v);
    REQUIRE_OK(mv_load(tu_path("aff2.nii"), &v, NULL));
    EXPECT(memcmp(v.affine, back.affine, sizeof(v.affine)) == 0);
    EXPECT_EQ_INT(v.meta.qform_code, MV_XFORM_SCANNER);
    EXPECT_EQ_INT(v.meta.sform_code, MV_XFORM_MNI152);
    { /* the qform says the same (up to float32 quaternion rounding) */
        double q[4][4];
        int r, c;
        v.meta.sform_code = 0;
        mv_meta_affine(&v, q);
        for (r = 0; r < 3; r++)
            for (c = 0; c < 4; c++) EXPECT_NEAR(q[r][c], back.affine[r][c], 1e-5);
    }
    mv_free(&v);
    mv_free(&back);
}

/* ---- mmap ---- */
MV_TEST(nifti, mmap_zero_copy)
{
    mv_vol v, m, again;
    int64_t dims[3] = {16, 8, 4};
    mv_load_opts o;
    const char *p = tu_path("map.nii");
    size_t before_len, after_len;
    unsigned char *before, *after;
    REQUIRE(make_vol(&v, MV_DT_F32, 3, dims, 3));
    REQUIRE_OK(mv_save(p, &v, NULL));
    before = tu_read_file(p, &before_len);
    memset(&o, 0, sizeof(o));
    REQUIRE_OK(mv_load(p, &m, &o));
#if defined(MEDVOL_NO_STDIO)
    EXPECT(m.flags == MV_VOL_OWNED);
#else
    EXPECT_EQ_INT(m.flags, MV_VOL_MAPPED);
#endif
    EXPECT(memcmp(m.data, v.data, mv_vol_bytes(&v)) == 0);
    ((float *)m.data)[0] = 12345.0f; /* private copy-on-write: the file keeps its bytes */
    mv_free(&m);
    after = tu_read_file(p, &after_len);
    EXPECT(before_len == after_len && memcmp(before, after, before_len) == 0);
    o.mmap = MV_MMAP_NEVER;
    REQUIRE_OK(mv_load(p, &m, &o));
    EXPECT_EQ_INT(m.flags, MV_VOL_OWNED);
    EXPECT(memcmp(m.data, v.data, mv_vol_bytes(&v)) == 0);
    mv_free(&m);
    o.mmap = MV_MMAP_REQUIRE;
    REQUIRE_OK(mv_load(p, &m, &o));
    mv_free(&m);
    o.box_size[0] = 3;
    EXPECT_STATUS(mv_load(p, &m, &o), MV_ERR_UNSUPPORTED);
    EXPECT(strstr(mv_last_error(), "box") != NULL);
    o.box_size[0] = 0;
    o.dtype = MV_DT_F64;
    EXPECT_STATUS(mv_load(p, &m, &o), MV_ERR_UNSUPPORTED);
    /* borrowed memory: zero copy into the caller's buffer */
    REQUIRE_OK(mv_load_mem_borrow(before, before_len, &again, NULL));
    EXPECT_EQ_INT(again.flags, MV_VOL_BORROWED);
    EXPECT((unsigned char *)again.data == before + 352);
    mv_free(&again);
    free(before);
    free(after);
    mv_free(&v);
}

/* ---- crop-first ---- */
typedef struct io_mem {
    const unsigned char *p;
    size_t len, pos;
    int reads;
} io_mem;
static size_t io_read(void *u, void *buf, size_t n)
{
    io_mem *m = (io_mem *)u;
    size_t k = m->len - m->pos < n ? m->len - m->pos : n;
    if (k > 1000) k = 1000; /* short reads, as a socket would */
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    m->reads++;
    return k;
}
static int io_seek(void *u, uint64_t off)
{
    io_mem *m = (io_mem *)u;
    if (off > m->len) return -1;
    m->pos = (size_t)off;
    return 0;
}

static void crop_reference(const mv_vol *v, const int64_t *start, const int64_t *size, unsigned char *out)
{
    size_t es = mv_dtype_size(v->dtype), n = 0;
    int64_t i, j, k, t;
    for (t = start[3]; t < start[3] + size[3]; t++)
        for (k = start[2]; k < start[2] + size[2]; k++)
            for (j = start[1]; j < start[1] + size[1]; j++)
                for (i = start[0]; i < start[0] + size[0]; i++) {
                    size_t idx = (size_t)(i + v->dim[0] * (j + v->dim[1] * (k + v->dim[2] * t)));
                    memcpy(out + n * es, (unsigned char *)v->data + idx * es, es);
                    n++;
                }
}

MV_TEST(nifti, crop_first_every_source)
{
    static const int64_t boxes[][8] = {
        /* start x y z t, size x y z t */
        {0, 0, 0, 0, 37, 29, 23, 5}, {5, 3, 2, 0, 10, 11, 12, 5}, {0, 0, 0, 3, 37, 29, 23, 1},
        {0, 7, 0, 1, 37, 5, 23, 2},   {36, 28, 22, 4, 1, 1, 1, 1}, {1, 0, 0, 0, 36, 29, 23, 5},
        {0, 0, 9, 2, 37, 29, 1, 1},   {20, 1, 1, 0, 17, 27, 21, 4}};
    mv_vol v;
    int64_t dims[4] = {37, 29, 23, 5};
    const char *p = tu_path("crop.nii");
    size_t flen, b;
    unsigned char *file;
    int src;
    REQUIRE(make_vol(&v, MV_DT_I16, 4, dims, 11));
    REQUIRE_OK(mv_save(p, &v, NULL));
    file = tu_read_file(p, &flen);
    for (b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++)
        for (src = 0; src < 5; src++) {
            mv_load_opts o;
            mv_vol c;
            io_mem m;
            mv_io io;
            int a, r;
            size_t n = 1;
            unsigned char *want;
            memset(&o, 0, sizeof(o));
            for (a = 0; a < 4; a++) {
                o.box_start[a] = boxes[b][a];
                o.box_size[a] = boxes[b][4 + a];
                n *= (size_t)boxes[b][4 + a];
            }
            memset(&m, 0, sizeof(m));
            m.p = file;
            m.len = flen;
            memset(&io, 0, sizeof(io));
            io.read = io_read;
            io.seek = src == 4 ? io_seek : NULL;
            io.user = &m;
            if (src == 1) o.mmap = MV_MMAP_NEVER; /* pread per run */
            if (src <= 1) REQUIRE_OK(mv_load(p, &c, &o));
            else if (src == 2) REQUIRE_OK(mv_load_mem(file, flen, &c, &o));
            else REQUIRE_OK(mv_load_io(&io, &c, &o));
            want = (unsigned char *)malloc(n * 2);
            crop_reference(&v, o.box_start, o.box_size, want);
            EXPECT_MSG(mv_vol_count(&c) == (int64_t)n && memcmp(c.data, want, n * 2) == 0, "box %zu source %d", b, src);
            for (a = 0; a < 4; a++) EXPECT(c.dim[a] == boxes[b][4 + a]);
            for (r = 0; r < 3; r++) { /* the box corner is where voxel 0 now is */
                double w = v.affine[r][3];
                for (a = 0; a < 3; a++) w += v.affine[r][a] * (double)boxes[b][a];
                EXPECT(c.affine[r][3] == w);
                for (a = 0; a < 3; a++) EXPECT(c.affine[r][a] == v.affine[r][a]);
            }
            if (src == 3 && b == 6) EXPECT(m.pos < flen / 2); /* the stream stopped once the box was out */
            free(want);
            mv_free(&c);
        }
    { /* crop + scaling + conversion at once */
        mv_load_opts o;
        mv_vol c;
        memset(&o, 0, sizeof(o));
        o.scaled = 1;
        o.box_start[0] = 3;
        o.box_size[0] = 4;
        o.box_size[3] = 1;
        v.meta.scl_slope = 2;
        v.meta.scl_inter = -1;
        REQUIRE_OK(mv_save(p, &v, NULL));
        REQUIRE_OK(mv_load(p, &c, &o));
        EXPECT(c.dtype == MV_DT_F32 && c.dim[0] == 4 && c.dim[3] == 1);
        EXPECT(((float *)c.data)[0] == (float)(((int16_t *)v.data)[3] * 2.0 - 1.0));
        EXPECT(((float *)c.data)[5] == (float)(((int16_t *)v.data)[37 + 4] * 2.0 - 1.0));
        mv_free(&c);
        o.box_size[0] = 99; /* too big */
        EXPECT_STATUS(mv_load(p, &c, &o), MV_ERR_INVALID_ARG);
        o.box_size[0] = 0;
        o.box_start[1] = 29;
        EXPECT_STATUS(mv_load(p, &c, &o), MV_ERR_INVALID_ARG);
        o.box_start[1] = 0;
        o.box_start[5] = 1; /* an axis the volume does not have */
        EXPECT_STATUS(mv_load(p, &c, &o), MV_ERR_INVALID_ARG);
    }
    free(file);
    mv_free(&v);
}

/* mv_load_opts.squeeze: one time point of a 4D file loads as 3D (as
   nibabel's img.slicer[..., t]); inner length-1 axes stay; the pipeline's
   squeeze does the same to its output */
MV_TEST(nifti, squeeze_one_time_point)
{
    mv_vol v, c, p5, f;
    int64_t dims[4] = {7, 5, 4, 6}, d5[5] = {7, 5, 4, 1, 3}, start[4] = {0, 0, 0, 2}, size[4] = {7, 5, 4, 1};
    const char *p = tu_path("squeeze.nii"), *q = tu_path("squeeze5.nii");
    unsigned char want[7 * 5 * 4 * 2];
    mv_load_opts o;
    mv_pipeline_opts po;
    mv_op op = mv_op_flip(1);
    int a, r;
    REQUIRE(make_vol(&v, MV_DT_I16, 4, dims, 21));
    REQUIRE_OK(mv_save(p, &v, NULL));
    memset(&o, 0, sizeof(o));
    o.box_start[3] = 2;
    o.box_size[3] = 1;
    o.squeeze = 1;
    REQUIRE_OK(mv_load(p, &c, &o));
    crop_reference(&v, start, size, want);
    EXPECT(c.ndim == 3 && c.dim[0] == 7 && c.dim[1] == 5 && c.dim[2] == 4 && c.dim[3] == 1 && c.spacing[3] == 1);
    EXPECT(mv_vol_bytes(&c) == sizeof(want) && memcmp(c.data, want, sizeof(want)) == 0);
    for (r = 0; r < 4; r++)
        for (a = 0; a < 4; a++) EXPECT(c.affine[r][a] == v.affine[r][a]);
    mv_free(&c);
    o.header_only = 1; /* the header says the same */
    REQUIRE_OK(mv_load(p, &c, &o));
    EXPECT(c.ndim == 3 && c.data == NULL);
    mv_free(&c);
    o.header_only = 0;
    o.squeeze = 0; /* without it: 4D with one time point, as before */
    REQUIRE_OK(mv_load(p, &c, &o));
    EXPECT(c.ndim == 4 && c.dim[3] == 1);
    mv_free(&c);
    o.box_size[3] = 2; /* two time points stay 4D */
    o.squeeze = 1;
    REQUIRE_OK(mv_load(p, &c, &o));
    EXPECT(c.ndim == 4 && c.dim[3] == 2);
    mv_free(&c);
    /* (x, y, z, 1, 3): the inner length-1 axis is kept; picking one of the 3 gives 3D */
    REQUIRE(make_vol(&p5, MV_DT_U8, 5, d5, 22));
    REQUIRE_OK(mv_save(q, &p5, NULL));
    memset(&o, 0, sizeof(o));
    o.squeeze = 1;
    REQUIRE_OK(mv_load(q, &c, &o));
    EXPECT(c.ndim == 5 && c.dim[3] == 1 && c.dim[4] == 3);
    mv_free(&c);
    o.box_start[4] = 1;
    o.box_size[4] = 1;
    REQUIRE_OK(mv_load(q, &c, &o));
    EXPECT(c.ndim == 3 && memcmp(c.data, (unsigned char *)p5.data + 7 * 5 * 4, 7 * 5 * 4) == 0);
    mv_free(&c);
    /* the pipeline: a (x, y, z, 1) input flipped, its output squeezed;
       from memory and crop-first from the file */
    memset(&po, 0, sizeof(po));
    po.squeeze = 1;
    memset(&o, 0, sizeof(o));
    o.box_start[3] = 2;
    o.box_size[3] = 1;
    REQUIRE_OK(mv_load(p, &c, &o));
    REQUIRE_OK(mv_pipeline(&c, &op, 1, &f, &po));
    EXPECT(f.ndim == 3 && f.dim[0] == 7 && ((int16_t *)f.data)[0] == ((int16_t *)c.data)[6]);
    mv_free(&f);
    REQUIRE_OK(mv_pipeline(&c, &op, 1, &f, NULL));
    EXPECT(f.ndim == 4);
    mv_free(&f);
    REQUIRE_OK(mv_save(q, &c, NULL));
    REQUIRE_OK(mv_pipeline_load(q, &op, 1, &f, &po));
    EXPECT(f.ndim == 3 && ((int16_t *)f.data)[0] == ((int16_t *)c.data)[6]);
    mv_free(&f);
    mv_free(&c);
    mv_free(&p5);
    mv_free(&v);
}

/* data at an odd vox_offset: every view into it is misaligned for the dtype
   and must go through the bounce buffer (the kernels get aligned arrays) */
MV_TEST(nifti, odd_vox_offset)
{
    mv_vol v, back;
    int64_t dims[3] = {9, 7, 5};
    size_t len;
    unsigned char *img, *odd;
    mv_load_opts o;
    REQUIRE(make_vol(&v, MV_DT_F32, 3, dims, 12));
    REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, NULL));
    img = (unsigned char *)malloc(len);
    odd = (unsigned char *)malloc(len + 1);
    REQUIRE_OK(mv_save_mem(&v, img, len, &len, NULL));
    memcpy(odd, img, 352);
    odd[352] = 0xee; /* filler byte */
    memcpy(odd + 353, img + 352, len - 352);
    put_f32(odd, 108, 353.0f);
    memset(&o, 0, sizeof(o));
    REQUIRE_OK(mv_load_mem_borrow(odd, len + 1, &back, &o));
    EXPECT_EQ_INT(back.flags, MV_VOL_OWNED); /* not borrowed: misaligned */
    EXPECT(memcmp(back.data, v.data, mv_vol_bytes(&v)) == 0);
    mv_free(&back);
    o.scaled = 1;
    o.dtype = MV_DT_F64;
    o.box_start[1] = 2;
    o.box_size[1] = 3;
    REQUIRE_OK(mv_load_mem(odd, len + 1, &back, &o));
    EXPECT(((double *)back.data)[0] == (double)((float *)v.data)[2 * 9]);
    mv_free(&back);
    REQUIRE(tu_write_file(tu_path("odd.nii"), odd, len + 1));
    o.dtype = MV_DT_F32;
    REQUIRE_OK(mv_load(tu_path("odd.nii"), &back, &o)); /* crop through a mapped view */
    EXPECT(((float *)back.data)[10] == ((float *)v.data)[2 * 9 + 10]);
    mv_free(&back);
    free(img);
    free(odd);
    mv_free(&v);
}

/* ---- headers ---- */
MV_TEST(nifti, header_only_and_pairs)
{
    mv_vol v, h;
    int64_t dims[3] = {6, 5, 4};
    mv_load_opts o;
    REQUIRE(make_vol(&v, MV_DT_U16, 3, dims, 4));
    REQUIRE_OK(mv_save(tu_path("pair.hdr"), &v, NULL));
    memset(&o, 0, sizeof(o));
    o.header_only = 1;
    REQUIRE_OK(mv_load(tu_path("pair.img"), &h, &o)); /* either name of the pair */
    EXPECT(h.data == NULL && h.dim[2] == 4 && h.dtype == MV_DT_U16 && h.meta.pair == 1);
    mv_free(&h);
    remove(tu_path("pair.img"));
    REQUIRE_OK(mv_load(tu_path("pair.hdr"), &h, &o)); /* no .img needed for the header */
    mv_free(&h);
    EXPECT_STATUS(mv_load(tu_path("pair.hdr"), &h, NULL), MV_ERR_NOT_FOUND);
    EXPECT(strstr(mv_last_error(), "pair.img") != NULL);
    { /* upper-case names find their sibling in the same case */
        REQUIRE_OK(mv_save(tu_path("UP.HDR"), &v, NULL));
        REQUIRE_OK(mv_load(tu_path("UP.IMG"), &h, NULL));
        EXPECT(memcmp(h.data, v.data, mv_vol_bytes(&v)) == 0);
        mv_free(&h);
    }
    mv_free(&v);
}

/* a small valid image to break in every way */
static unsigned char *base_image(size_t *len, int version)
{
    mv_vol v;
    int64_t dims[3] = {4, 3, 2};
    mv_save_opts so;
    unsigned char *buf;
    int i;
    mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL);
    for (i = 0; i < 24; i++) ((int16_t *)v.data)[i] = (int16_t)(i * 11 - 50);
    memset(&so, 0, sizeof(so));
    so.nifti_version = version;
    mv_save_mem(&v, NULL, 0, len, &so);
    buf = (unsigned char *)malloc(*len + 64);
    mv_save_mem(&v, buf, *len, len, &so);
    mv_free(&v);
    return buf;
}

static mv_status load_buf(const unsigned char *b, size_t len, int strict, int scaled, mv_vol *out)
{
    mv_load_opts o;
    memset(&o, 0, sizeof(o));
    o.strict = strict;
    o.scaled = scaled;
    return mv_load_mem(b, len, out, &o);
}

MV_TEST(nifti, malformed_headers)
{
    size_t len, l2;
    unsigned char *base = base_image(&len, 1), *n2 = base_image(&l2, 2), *b = (unsigned char *)malloc(len + 64),
                  *c = (unsigned char *)malloc(l2 + 64);
    mv_vol v;
    size_t k;
    REQUIRE(base && len == 352 + 48 && l2 == 544 + 48);
    REQUIRE_OK(load_buf(base, len, 1, 0, &v));
    mv_free(&v);
#define RESET() memcpy(b, base, len)
#define EXPECT_LOAD(st, substr)                                                                    \
    do {                                                                                           \
        EXPECT_STATUS(load_buf(b, len, 0, 0, &v), st);                                             \
        EXPECT_MSG(strstr(mv_last_error(), substr) != NULL, "detail \"%s\" lacks \"%s\"", mv_last_error(), substr); \
        EXPECT(v.data == NULL && v.ndim == 0);                                                     \
    } while (0)
    /* truncated at every byte: never a crash, always TRUNCATED */
    for (k = 0; k < len; k++) {
        mv_status st = load_buf(base, k, 0, 0, &v);
        EXPECT_MSG(st == MV_ERR_TRUNCATED, "%zu bytes: %s", k, mv_status_str(st));
    }
    for (k = 0; k < l2; k++) EXPECT_STATUS(load_buf(n2, k, 0, 0, &v), MV_ERR_TRUNCATED);
    RESET(); put_le(b, 0, 347, 4); EXPECT_LOAD(MV_ERR_BAD_HEADER, "sizeof_hdr");
    RESET(); put_le(b, 0, 0, 4); EXPECT_LOAD(MV_ERR_BAD_HEADER, "sizeof_hdr");
    RESET(); put_le(b, 40, 0, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "dim[0]");
    RESET(); put_le(b, 40, 8, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "dim[0]");
    RESET(); put_le(b, 40, (uint16_t)-1, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "dim[0]");
    RESET(); put_le(b, 44, 0, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "dim[2]");
    RESET(); put_le(b, 46, (uint16_t)-5, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "dim[3]");
    RESET(); put_le(b, 70, 17, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "datatype 17");
    RESET(); put_le(b, 70, 0, 2); EXPECT_LOAD(MV_ERR_BAD_HEADER, "datatype 0");
    RESET(); put_le(b, 70, 1, 2); EXPECT_LOAD(MV_ERR_UNSUPPORTED, "DT_BINARY");
    RESET(); put_f32(b, 108, 1e6f); EXPECT_LOAD(MV_ERR_TRUNCATED, "vox_offset");
    RESET(); put_f32(b, 108, 360.0f); EXPECT_LOAD(MV_ERR_TRUNCATED, "data bytes");
    RESET(); put_f32(b, 108, NAN); EXPECT_LOAD(MV_ERR_BAD_HEADER, "vox_offset");
    RESET(); put_f32(b, 108, -16.0f); EXPECT_LOAD(MV_ERR_BAD_HEADER, "vox_offset");
    RESET(); put_f32(b, 108, INFINITY); EXPECT_LOAD(MV_ERR_BAD_HEADER, "vox_offset");
    RESET(); put_le(b, 40, 4, 2); put_le(b, 44, 32767, 2); put_le(b, 46, 32767, 2); put_le(b, 48, 32767, 2);
    EXPECT_LOAD(MV_ERR_SIZE_OVERFLOW, "MEDVOL_MAX_BYTES");
    RESET(); put_le(b, 42, 30000, 2); EXPECT_LOAD(MV_ERR_TRUNCATED, "data bytes"); /* short data */
    /* NIfTI-2: magic, 64-bit dims, negative offsets */
    memcpy(c, n2, l2);
    memcpy(c + 4, "n+1", 4);
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_BAD_HEADER);
    EXPECT(strstr(mv_last_error(), "magic") != NULL);
    memcpy(c, n2, l2);
    put_le(c, 24, (uint64_t)1 << 40, 8);
    put_le(c, 32, (uint64_t)1 << 40, 8);
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_SIZE_OVERFLOW);
    EXPECT(strstr(mv_last_error(), "overflow") != NULL);
    memcpy(c, n2, l2);
    put_le(c, 24, (uint64_t)-3, 8);
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_BAD_HEADER);
    memcpy(c, n2, l2);
    put_le(c, 168, (uint64_t)-544, 8);
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_BAD_HEADER);
    memcpy(c, n2, l2);
    put_le(c, 168, (uint64_t)1 << 62, 8);
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_TRUNCATED);
    memcpy(c, n2, l2);
    put_le(c, 168, UINT64_MAX - 10, 8);
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_BAD_HEADER);
    memcpy(c, n2, l2);
    c[9] = 'X'; /* damaged "\r\n\032\n": refused, as nibabel does */
    EXPECT_STATUS(load_buf(c, l2, 0, 0, &v), MV_ERR_BAD_HEADER);
    EXPECT(strstr(mv_last_error(), "eol_check") != NULL);
    EXPECT_STATUS(load_buf(c, l2, 1, 0, &v), MV_ERR_BAD_HEADER);
    /* an Analyze header cannot be a single file */
    RESET(); memset(b + 344, 0, 4); EXPECT_LOAD(MV_ERR_BAD_HEADER, "Analyze");
#undef EXPECT_LOAD
#undef RESET
    free(base);
    free(n2);
    free(b);
    free(c);
}

/* what nibabel fixes silently loads by default and fails under strict */
MV_TEST(nifti, lenient_and_strict)
{
    size_t len;
    unsigned char *base = base_image(&len, 1), *b = (unsigned char *)malloc(len);
    mv_vol v;
    int i;
    struct { size_t off; int bytes; uint64_t value; int is_float; float f; const char *detail; } cases[] = {
        {76, 4, 0, 1, 0.0f, "qfac"},              /* pixdim[0] = 0 -> 1 */
        {80, 4, 0, 1, -2.0f, "pixdim[1]"},        /* negative pixdim -> abs */
        {84, 4, 0, 1, 0.0f, "pixdim[2]"},         /* zero pixdim -> 1 */
        {108, 4, 0, 1, 0.0f, "vox_offset"},       /* inside the header of a .nii -> 352 */
        {108, 4, 0, 1, 352.5f, "whole number"},   /* fractional offset -> truncated */
        {254, 2, 9, 0, 0, "sform_code"},          /* invalid code -> 0 */
        {72, 2, 8, 0, 0, "bitpix"},               /* bitpix ignored */
        {112, 4, 0, 1, NAN, "scl_slope"},         /* NaN slope -> no scaling */
    };
    for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
        memcpy(b, base, len);
        if (cases[i].is_float) put_f32(b, cases[i].off, cases[i].f);
        else put_le(b, cases[i].off, cases[i].value, cases[i].bytes);
        EXPECT_MSG(load_buf(b, len, 0, 1, &v) == MV_OK, "lenient case %d (%s): %s", i, cases[i].detail, mv_last_error());
        if (i == 0) EXPECT(v.meta.qfac == 1);
        if (i == 1) EXPECT(v.spacing[0] == 2);
        if (i == 2) EXPECT(v.spacing[1] == 1);
        if (i == 3 || i == 4) EXPECT(((float *)v.data)[1] == -39.0f);
        if (i == 5) EXPECT(v.meta.sform_code == 0);
        if (i == 7) EXPECT(((float *)v.data)[1] == -39.0f); /* unscaled */
        mv_free(&v);
        EXPECT_STATUS(load_buf(b, len, 1, 0, &v), MV_ERR_BAD_HEADER);
        EXPECT_MSG(strstr(mv_last_error(), cases[i].detail) != NULL, "strict case %d: \"%s\"", i, mv_last_error());
    }
    /* valid slope with a non-finite intercept: raw loads, scaled loads fail */
    memcpy(b, base, len);
    put_f32(b, 112, 2.0f);
    put_f32(b, 116, INFINITY);
    EXPECT_STATUS(load_buf(b, len, 0, 0, &v), MV_OK);
    mv_free(&v);
    EXPECT_STATUS(load_buf(b, len, 0, 1, &v), MV_ERR_BAD_HEADER);
    EXPECT(strstr(mv_last_error(), "scl_inter") != NULL);
    free(base);
    free(b);
}

MV_TEST(nifti, extension_chain)
{
    mv_vol v, back;
    int64_t dims[1] = {4};
    size_t len;
    unsigned char *buf;
    mv_load_opts o;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_U8, 1, dims, NULL));
    add_extensions(&v);
    REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, NULL));
    EXPECT_EQ_INT(len, 352 + 32 + 48 + 4); /* two extensions, 4 voxels */
    buf = (unsigned char *)malloc(len);
    REQUIRE_OK(mv_save_mem(&v, buf, len, &len, NULL));
    REQUIRE_OK(mv_load_mem(buf, len, &back, NULL));
    EXPECT(back.meta.n_ext == 2 && back.meta.ext[1].size == 40 && back.meta.ext[1].data[36] == (unsigned char)(36 * 7));
    mv_free(&back);
    memset(&o, 0, sizeof(o));
    put_le(buf, 352 + 32, 3, 4); /* second esize 3: the chain cannot go on (nibabel refuses too) */
    EXPECT_STATUS(mv_load_mem(buf, len, &back, &o), MV_ERR_BAD_HEADER);
    EXPECT(strstr(mv_last_error(), "esize 3") != NULL);
    o.strict = 1;
    EXPECT_STATUS(mv_load_mem(buf, len, &back, &o), MV_ERR_BAD_HEADER);
    EXPECT(strstr(mv_last_error(), "esize 3") != NULL);
    put_le(buf, 352 + 32, 4096, 4); /* runs into the data */
    EXPECT_STATUS(mv_load_mem(buf, len, &back, &o), MV_ERR_BAD_HEADER);
    o.strict = 0; /* lenient: keeps the good one, as nifticlib, with a warning */
    REQUIRE_OK(mv_load_mem(buf, len, &back, &o));
    EXPECT_EQ_INT(back.meta.n_ext, 1);
    EXPECT(back.meta.warnings == MV_WARN_EXTENSION && strstr(mv_last_warning(), "esize 4096") != NULL);
    mv_free(&back);
    free(buf);
    mv_free(&v);
}

MV_TEST(nifti, files_and_writer_errors)
{
    mv_vol v, back;
    int64_t dims[3] = {3, 3, 3}, big[1] = {40000};
    mv_save_opts so;
    const char *p = tu_path("w.nii");
    struct stat st;
    size_t len;
    unsigned char *before, *after;
    REQUIRE(make_vol(&v, MV_DT_F32, 3, dims, 8));
    EXPECT_STATUS(mv_load(tu_path("missing.nii"), &back, NULL), MV_ERR_NOT_FOUND);
    EXPECT_STATUS(mv_load(tu_path(""), &back, NULL), MV_ERR_IO); /* a folder */
    EXPECT_STATUS(mv_load(tu_path("x.nii.gz"), &back, NULL), MV_ERR_NOT_FOUND);
    EXPECT_STATUS(mv_load("", &back, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_save(tu_path("no/such/dir/x.nii"), &v, NULL), MV_ERR_IO);
    EXPECT_STATUS(mv_save(tu_path("x.png"), &v, NULL), MV_ERR_INVALID_ARG); /* no such format */
    EXPECT_STATUS(mv_save(tu_path("x.png.gz"), &v, NULL), MV_ERR_INVALID_ARG);
    REQUIRE_OK(mv_save(p, &v, NULL));
    EXPECT(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644);
    before = tu_read_file(p, &len);
    /* a failing save leaves the old file whole and no temporary behind */
    v.dtype = MV_DT_F16;
    EXPECT_STATUS(mv_save(p, &v, NULL), MV_ERR_UNSUPPORTED);
    v.dtype = MV_DT_F32;
    after = tu_read_file(p, &len);
    EXPECT(memcmp(before, after, len) == 0);
    EXPECT_EQ_INT(count_tmp_files(tu_path("")), 0);
    free(before);
    free(after);
    memset(&so, 0, sizeof(so));
    so.nifti_version = 3;
    EXPECT_STATUS(mv_save(p, &v, &so), MV_ERR_INVALID_ARG);
    so.nifti_version = 0;
    so.fsync = 1;
    EXPECT_OK(mv_save(p, &v, &so));
    mv_free(&v);
    /* dims past int16: NIfTI-2 automatically, NIfTI-1 refused */
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_U8, 1, big, NULL));
    REQUIRE_OK(mv_save(tu_path("big.nii"), &v, NULL));
    REQUIRE_OK(mv_load(tu_path("big.nii"), &back, NULL));
    EXPECT(back.meta.format == MV_FORMAT_NIFTI2 && back.dim[0] == 40000);
    mv_free(&back);
    so.nifti_version = 1;
    EXPECT_STATUS(mv_save(tu_path("big1.nii"), &v, &so), MV_ERR_INVALID_ARG);
    EXPECT(stat(tu_path("big1.nii"), &st) != 0);
    /* memory writer: sizing and a short buffer */
    {
        unsigned char small[100];
        EXPECT_OK(mv_save_mem(&v, NULL, 0, &len, NULL));
        EXPECT_EQ_INT(len, 544 + 40000);
        EXPECT_STATUS(mv_save_mem(&v, small, sizeof(small), &len, NULL), MV_ERR_BUFFER_TOO_SMALL);
        EXPECT_EQ_INT(len, 544 + 40000);
    }
    mv_free(&v);
}

typedef struct io_sink {
    unsigned char *buf;
    size_t len, cap;
    int fail_after;
} io_sink;
static int sink_write(void *u, const void *p, size_t n)
{
    io_sink *s = (io_sink *)u;
    if (s->fail_after-- == 0) return -1;
    if (s->len + n > s->cap) return -1;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

MV_TEST(nifti, streams)
{
    mv_vol v, back;
    int64_t dims[2] = {50, 40};
    io_sink s;
    mv_io io;
    io_mem m;
    REQUIRE(make_vol(&v, MV_DT_I32, 2, dims, 21));
    memset(&s, 0, sizeof(s));
    s.cap = 20000;
    s.buf = (unsigned char *)malloc(s.cap);
    s.fail_after = -1;
    memset(&io, 0, sizeof(io));
    io.write = sink_write;
    io.user = &s;
    REQUIRE_OK(mv_save_io(&v, &io, NULL));
    EXPECT_EQ_INT(s.len, 352 + 8000);
    memset(&m, 0, sizeof(m));
    m.p = s.buf;
    m.len = s.len;
    io.read = io_read;
    io.user = &m;
    REQUIRE_OK(mv_load_io(&io, &back, NULL));
    expect_same_volume(&v, &back, "stream");
    mv_free(&back);
    m.len = s.len - 1; /* one byte short */
    m.pos = 0;
    EXPECT_STATUS(mv_load_io(&io, &back, NULL), MV_ERR_TRUNCATED);
    { /* a header promising 60 GiB from a stream that has a few bytes: the
         memory grows with what arrives, so this is TRUNCATED, not an OOM */
        unsigned char forged[352 + 64];
        memcpy(forged, s.buf, sizeof(forged));
        put_le(forged, 40, 3, 2);
        put_le(forged, 42, 30000, 2);
        put_le(forged, 44, 30000, 2);
        put_le(forged, 46, 17, 2);
        put_le(forged, 70, 4, 2); /* int16 */
        memset(&m, 0, sizeof(m));
        m.p = forged;
        m.len = sizeof(forged);
        io.user = &m;
        EXPECT_STATUS(mv_load_io(&io, &back, NULL), MV_ERR_TRUNCATED);
    }
    s.len = 0;
    s.fail_after = 1;
    io.user = &s;
    EXPECT_STATUS(mv_save_io(&v, &io, NULL), MV_ERR_IO);
    free(s.buf);
    mv_free(&v);
}

/* nibabel-written files (refs.py): every dtype, both byte orders, both
   versions, single and pair, 1..7 dims: raw bytes, affine and header fields */
MV_TEST(nifti, reads_nibabel_files)
{
    const char *refs = tu_refs_dir();
    char path[1024];
    tj *doc;
    const tj *files;
    int i, r, c;
    if (!refs) SKIP("needs nibabel (refs.py)");
    snprintf(path, sizeof(path), "%s/nib.json", refs);
    doc = tj_parse_file(path);
    REQUIRE(doc != NULL);
    files = tj_get(doc, "files");
    for (i = 0; i < files->n; i++) {
        const tj *e = &files->items[i], *ext = tj_get(e, "extensions");
        mv_vol v;
        size_t rlen;
        unsigned char *raw;
        const char *name = tj_str(tj_get(e, "file"), "");
        char fpath[1024];
        snprintf(fpath, sizeof(fpath), "%s/%s", refs, name);
        REQUIRE_OK(mv_load(fpath, &v, NULL));
        snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(e, "raw"), ""));
        raw = tu_read_file(path, &rlen);
        REQUIRE(raw != NULL);
        EXPECT_MSG(v.dtype == mv_dtype_from_name(tj_str(tj_get(e, "dtype"), "")), "%s: dtype %s", name, mv_dtype_name(v.dtype));
        EXPECT_MSG(rlen == mv_vol_bytes(&v) && memcmp(raw, v.data, rlen) == 0, "%s: data", name);
        EXPECT_EQ_INT(v.ndim, tj_get(e, "shape")->n);
        EXPECT_EQ_INT(v.meta.big_endian, tj_num(tj_get(e, "big_endian"), -1));
        EXPECT_EQ_INT(v.meta.format, tj_num(tj_get(e, "version"), 0) == 2 ? MV_FORMAT_NIFTI2 : MV_FORMAT_NIFTI1);
        EXPECT_EQ_INT(v.flags, v.meta.big_endian ? MV_VOL_OWNED : MV_VOL_MAPPED);
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++)
                EXPECT_MSG(v.affine[r][c] == tj_num(tj_at(tj_at(tj_get(e, "affine"), r), c), NAN), "%s: affine[%d][%d]", name, r, c);
        EXPECT_EQ_STR(v.meta.descrip, tj_str(tj_get(e, "descrip"), ""));
        EXPECT_EQ_INT(v.meta.qform_code, tj_num(tj_get(e, "qform_code"), -1));
        EXPECT_EQ_INT(v.meta.intent_code, tj_num(tj_get(e, "intent_code"), -1));
        EXPECT_EQ_INT(v.meta.xyzt_units, tj_num(tj_get(e, "xyzt_units"), -1));
        EXPECT(v.meta.cal_min == tj_num(tj_get(e, "cal_min"), 0) && v.meta.cal_max == tj_num(tj_get(e, "cal_max"), 0));
        EXPECT_EQ_INT(v.meta.n_ext, ext->n);
        for (r = 0; r < ext->n && r < v.meta.n_ext; r++) {
            /* nibabel strips trailing NUL bytes from a payload; medvol keeps
               all esize - 8 bytes (a rewrite is byte-identical) */
            const char *hex = tj_str(tj_at(tj_at(ext, r), 1), "");
            char mine[1024];
            uint32_t k, len = v.meta.ext[r].size;
            while (len > 0 && v.meta.ext[r].data[len - 1] == 0) len--;
            for (k = 0; k < len && k < 500; k++) snprintf(mine + 2 * k, 3, "%02x", v.meta.ext[r].data[k]);
            mine[2 * k] = 0;
            EXPECT_EQ_INT(v.meta.ext[r].code, tj_num(tj_at(tj_at(ext, r), 0), -1));
            EXPECT_MSG(strcmp(mine, hex) == 0, "%s: extension %d content", name, r);
        }
        if (mvt_cur.failures) {
            free(raw);
            mv_free(&v);
            break;
        }
        { /* crop-first on the same file, byte-swapped or not */
            mv_load_opts o;
            mv_vol c2;
            size_t es = mv_dtype_size(v.dtype);
            memset(&o, 0, sizeof(o));
            o.box_start[0] = v.dim[0] > 1 ? 1 : 0;
            o.box_size[0] = 1;
            REQUIRE_OK(mv_load(fpath, &c2, &o));
            EXPECT(memcmp(c2.data, raw + (size_t)o.box_start[0] * es, es) == 0);
            mv_free(&c2);
        }
        free(raw);
        mv_free(&v);
    }
    { /* scaling exactly as nibabel get_fdata (float64) and its float32 */
        const tj *s = tj_get(doc, "scaled");
        mv_load_opts o;
        mv_vol v;
        size_t n;
        unsigned char *want;
        memset(&o, 0, sizeof(o));
        o.scaled = 1;
        snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(s, "file"), ""));
        REQUIRE_OK(mv_load(path, &v, &o));
        snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(s, "f32"), ""));
        want = tu_read_file(path, &n);
        EXPECT(v.dtype == MV_DT_F32 && n == mv_vol_bytes(&v) && memcmp(want, v.data, n) == 0);
        free(want);
        mv_free(&v);
        o.dtype = MV_DT_F64;
        snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(s, "file"), ""));
        REQUIRE_OK(mv_load(path, &v, &o));
        snprintf(path, sizeof(path), "%s/%s", refs, tj_str(tj_get(s, "f64"), ""));
        want = tu_read_file(path, &n);
        EXPECT(v.dtype == MV_DT_F64 && n == mv_vol_bytes(&v) && memcmp(want, v.data, n) == 0);
        free(want);
        mv_free(&v);
    }
    tj_free(doc);
}

/* medvol writes, nibabel reads (tests/py/check_written.py) */
MV_TEST(nifti, nibabel_reads_our_files)
{
    static const mv_dtype dts[] = {MV_DT_U8, MV_DT_I8, MV_DT_U16, MV_DT_I16, MV_DT_U32, MV_DT_I32, MV_DT_U64,
                                   MV_DT_I64, MV_DT_F32, MV_DT_F64, MV_DT_C64, MV_DT_C128};
    static const char *fmts[] = {"nii", "nii", "hdr", "hdr", "nii.gz", "hdr.gz"};
    static const int64_t shape[7] = {4, 3, 5, 2, 1, 2, 2};
    char listpath[1024], out[65536];
    FILE *list;
    size_t d;
    int f, ndim = 0, n = 0, r, c;
    const char *line;
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    snprintf(listpath, sizeof(listpath), "%s", tu_path("written.json"));
    list = fopen(listpath, "w");
    REQUIRE(list != NULL);
    fprintf(list, "[\n");
    for (d = 0; d < sizeof(dts) / sizeof(dts[0]); d++)
        for (f = 0; f < 6; f++) {
            mv_vol v;
            mv_save_opts so;
            char name[64], raw[64];
            int e, k;
            ndim = ndim % 7 + 1;
            memset(&so, 0, sizeof(so));
            so.nifti_version = f % 2 ? 2 : 1;
            so.gzip.member_size = 64; /* many members: every one a gzip member nibabel must read */
            REQUIRE(make_vol(&v, dts[d], ndim, shape, d * 4 + (size_t)f));
            if (mv_dtype_is_float(v.dtype)) { /* finite values (NaN bytes would still compare, but be kind) */
                int64_t i, cnt = mv_vol_count(&v);
                for (i = 0; i < cnt; i++) {
                    if (v.dtype == MV_DT_F32) ((float *)v.data)[i] = (float)i * 0.25f - 3.0f;
                    else ((double *)v.data)[i] = (double)i * 0.125 - 2.0;
                }
            }
            if (f >= 2 && f != 4) add_extensions(&v);
            v.meta.sform_code = 0; /* make the writer derive both forms from the affine */
            v.meta.qform_code = 0;
            v.meta.format = MV_FORMAT_NONE;
            snprintf(name, sizeof(name), "w_%s_%d_%d.%s", mv_dtype_name(v.dtype), ndim, f, fmts[f]);
            snprintf(raw, sizeof(raw), "w_%s_%d_%d.raw", mv_dtype_name(v.dtype), ndim, f);
            REQUIRE_OK(mv_save(tu_path(name), &v, &so));
            REQUIRE(tu_write_file(tu_path(raw), v.data, mv_vol_bytes(&v)));
            fprintf(list, "%s{\"file\": \"%s\", \"raw\": \"%s\", \"dtype\": \"%s\", \"shape\": [", n++ ? "," : "",
                    tu_path(name), tu_path(raw), mv_dtype_name(v.dtype));
            for (k = 0; k < ndim; k++) fprintf(list, "%s%lld", k ? ", " : "", (long long)v.dim[k]);
            fprintf(list, "], \"affine\": [");
            for (r = 0; r < 4; r++) {
                fprintf(list, "%s[", r ? ", " : "");
                for (c = 0; c < 4; c++) fprintf(list, "%s%.17g", c ? ", " : "", v.affine[r][c]);
                fprintf(list, "]");
            }
            fprintf(list, "], \"sform_code\": 2, \"qform_code\": 0, \"descrip\": \"%s\", \"xyzt_units\": %d, \"extensions\": [",
                    v.meta.descrip, v.meta.xyzt_units);
            for (e = 0; e < v.meta.n_ext; e++) {
                uint32_t b;
                fprintf(list, "%s[%d, \"", e ? ", " : "", v.meta.ext[e].code);
                for (b = 0; b < v.meta.ext[e].size; b++) fprintf(list, "%02x", v.meta.ext[e].data[b]);
                fprintf(list, "\"]");
            }
            fprintf(list, "]}\n");
            mv_free(&v);
        }
    fprintf(list, "]\n");
    fclose(list);
    EXPECT_EQ_INT(tu_run_py("check_written.py", listpath, out, sizeof(out)), 0);
    EXPECT(strstr(out, "done") != NULL);
    for (line = out; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line))
        if (strncmp(line, "FAIL", 4) == 0) {
            const char *end = strchr(line, '\n');
            MVT_FAIL("%.*s", end ? (int)(end - line) : (int)strlen(line), line);
        }
    {
        int oks = 0;
        for (line = out; (line = strstr(line, "OK ")) != NULL; line += 3) oks++;
        EXPECT_EQ_INT(oks, n);
    }
}

/* ---- issue 18: header defects, messages, the writer's file handling ---- */

/* runs tests/py/check_nifti_io.py CMD PATH; its stdout into out */
static int nio_py(const char *cmd, const char *path, char *out, size_t cap)
{
    char args[1200];
    snprintf(args, sizeof(args), "%s '%s' 2>/dev/null", cmd, path); /* nibabel logs its fixes */
    return tu_run_py("check_nifti_io.py", args, out, cap);
}

static int has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

MV_TEST(nifti, header_defects_reported)
{
    size_t l1, l2, le = 348 + 4 + 16 + 48;
    unsigned char *n1 = base_image(&l1, 1), *n2 = base_image(&l2, 2), *e = (unsigned char *)calloc(1, le);
    const char *p2 = tu_path("eol.nii"), *pz = tu_path("eol0.nii"), *pe = tu_path("esize0.nii"), *pv = tu_path("voxoff.nii");
    const char *py = tu_python("numpy nibabel");
    char out[4096];
    mv_load_opts o;
    mv_vol v;
    int strict;
    REQUIRE(n1 && n2 && e && l1 == 352 + 48 && l2 == 544 + 48);
    memset(&o, 0, sizeof(o));
    /* (a) NIfTI-2 eol_check damaged ("\r\n\032\n" -> "\rX\032\n"): nibabel refuses, so do we */
    n2[9] = 'X';
    REQUIRE(tu_write_file(p2, n2, l2));
    for (strict = 0; strict < 2; strict++) {
        o.strict = strict;
        EXPECT_STATUS(mv_load(p2, &v, &o), MV_ERR_BAD_HEADER);
        EXPECT_MSG(has(mv_last_error(), p2) && has(mv_last_error(), "eol_check"), "\"%s\"", mv_last_error());
        EXPECT(v.data == NULL);
    }
    if (py) {
        EXPECT_EQ_INT(nio_py("refuses", p2, out, sizeof(out)), 0);
        EXPECT_MSG(has(out, "refused"), "nibabel: %s", out);
    }
    /* eol_check all zero: nibabel loads it (a warning); so do we, with a warning; strict refuses */
    memset(n2 + 8, 0, 4);
    REQUIRE(tu_write_file(pz, n2, l2));
    o.strict = 0;
    REQUIRE_OK(mv_load(pz, &v, &o));
    EXPECT(v.meta.warnings == MV_WARN_EOL_CHECK);
    EXPECT_MSG(has(mv_last_warning(), pz) && has(mv_last_warning(), "eol_check"), "\"%s\"", mv_last_warning());
    mv_free(&v);
    o.strict = 1;
    EXPECT_STATUS(mv_load(pz, &v, &o), MV_ERR_BAD_HEADER);
    if (py) {
        EXPECT_EQ_INT(nio_py("refuses", pz, out, sizeof(out)), 0);
        EXPECT_MSG(has(out, "loaded"), "nibabel: %s", out);
    }
    /* (b) an extension with esize 0: the chain cannot go on (nibabel refuses) */
    memcpy(e, n1, 348);
    e[348] = 1;           /* extender: extensions follow */
    put_le(e, 352, 0, 4); /* esize 0 */
    put_le(e, 356, 6, 4); /* ecode: comment */
    memcpy(e + 368, n1 + 352, 48);
    put_f32(e, 108, 368.0f);
    REQUIRE(tu_write_file(pe, e, le));
    for (strict = 0; strict < 2; strict++) {
        o.strict = strict;
        EXPECT_STATUS(mv_load(pe, &v, &o), MV_ERR_BAD_HEADER);
        EXPECT_MSG(has(mv_last_error(), pe) && has(mv_last_error(), "esize 0"), "\"%s\"", mv_last_error());
    }
    if (py) {
        EXPECT_EQ_INT(nio_py("refuses", pe, out, sizeof(out)), 0);
        EXPECT_MSG(has(out, "refused"), "nibabel: %s", out);
    }
    /* esize 24 (not a multiple of 16) filling the space: kept with a warning, strict refuses */
    put_le(e, 352, 16, 4);
    o.strict = 0;
    REQUIRE_OK(mv_load_mem(e, le, &v, &o));
    EXPECT(v.meta.n_ext == 1 && v.meta.warnings == 0 && mv_last_warning()[0] == 0);
    mv_free(&v);
    {
        unsigned char *f = (unsigned char *)calloc(1, le + 8);
        memcpy(f, e, 352);
        put_le(f, 352, 24, 4);
        put_le(f, 356, 6, 4);
        memcpy(f + 376, n1 + 352, 48);
        put_f32(f, 108, 376.0f);
        REQUIRE_OK(mv_load_mem(f, le + 8, &v, &o));
        EXPECT(v.meta.n_ext == 1 && v.meta.ext[0].size == 16 && v.meta.warnings == MV_WARN_EXTENSION);
        EXPECT_MSG(has(mv_last_warning(), "esize 24"), "\"%s\"", mv_last_warning());
        mv_free(&v);
        o.strict = 1;
        EXPECT_STATUS(mv_load_mem(f, le + 8, &v, &o), MV_ERR_BAD_HEADER);
        EXPECT(has(mv_last_error(), "multiple of 16"));
        free(f);
    }
    /* (c) vox_offset inside the header of a .nii: read from the header end,
       as nifticlib does (nibabel takes 0 as "unset"), but never silently */
    put_f32(n1, 108, 0.0f);
    REQUIRE(tu_write_file(pv, n1, l1));
    o.strict = 0;
    REQUIRE_OK(mv_load(pv, &v, &o));
    EXPECT(((int16_t *)v.data)[1] == -39); /* i * 11 - 50 at i = 1: the data at 352 */
    EXPECT(v.meta.warnings == MV_WARN_VOX_OFFSET);
    EXPECT_MSG(has(mv_last_warning(), pv) && has(mv_last_warning(), "vox_offset 0"), "\"%s\"", mv_last_warning());
    mv_free(&v);
    o.strict = 1;
    EXPECT_STATUS(mv_load(pv, &v, &o), MV_ERR_BAD_HEADER);
    EXPECT_MSG(has(mv_last_error(), pv) && has(mv_last_error(), "vox_offset"), "\"%s\"", mv_last_error());
    /* a clean file after a warned one: no bits, no text */
    put_f32(n1, 108, 352.0f);
    REQUIRE_OK(mv_load_mem(n1, l1, &v, NULL));
    EXPECT(v.meta.warnings == 0 && mv_last_warning()[0] == 0);
    mv_free(&v);
    /* several defects: every bit, every text */
    put_f32(n1, 76, 0.0f);  /* qfac */
    put_f32(n1, 84, -3.0f); /* pixdim[2] */
    put_le(n1, 254, 9, 2);  /* sform_code */
    REQUIRE_OK(mv_load_mem(n1, l1, &v, NULL));
    EXPECT(v.meta.warnings == (MV_WARN_QFAC | MV_WARN_PIXDIM | MV_WARN_XFORM_CODE));
    EXPECT_MSG(has(mv_last_warning(), "qfac") && has(mv_last_warning(), "pixdim[2]") && has(mv_last_warning(), "sform_code 9"),
               "\"%s\"", mv_last_warning());
    mv_free(&v);
    free(n1);
    free(n2);
    free(e);
}

/* Rules of nibabel's reader that the random differential test
   (tests/py/diff_nibabel.py) found medvol breaking, each as a fixed case
   with the value nibabel's rule gives (its source named beside it). */
MV_TEST(nifti, nibabel_reader_rules)
{
    size_t l1, l2;
    unsigned char *n1 = base_image(&l1, 1), *t = NULL;
    const char *pt = tu_path("ext_tail.nii"), *pg = tu_path("ext_pair.hdr.gz"), *py = tu_python("numpy nibabel");
    char out[4096];
    mv_load_opts o;
    mv_vol v, w;
    int k;
    REQUIRE(n1 && l1 == 352 + 48);
    memset(&o, 0, sizeof(o));
    /* (a) 1-15 bytes after the last extension end the chain
       (Nifti1Extensions.from_fileobj: while size >= 16; nifticlib: remain < 16):
       an 8-byte tail of zeros, or one that reads as an esize-8 entry */
    l2 = 348 + 4 + 16 + 8 + 48;
    t = (unsigned char *)calloc(1, l2);
    REQUIRE(t);
    memcpy(t, n1, 348);
    t[348] = 1;
    put_le(t, 352, 16, 4); /* esize 16, ecode 6 (comment), 8 bytes "tail ok" */
    put_le(t, 356, 6, 4);
    memcpy(t + 360, "tail ok", 8);
    memcpy(t + 376, n1 + 352, 48);
    put_f32(t, 108, 376.0f);
    for (k = 0; k < 2; k++) {
        if (k) { put_le(t, 368, 8, 4); put_le(t, 372, 10, 4); }
        REQUIRE(tu_write_file(pt, t, l2));
        REQUIRE_OK(mv_load(pt, &v, &o));
        EXPECT_MSG(v.meta.n_ext == 1 && v.meta.ext[0].code == 6 && v.meta.warnings == 0, "tail %d: %d extensions", k,
                   v.meta.n_ext);
        EXPECT(((int16_t *)v.data)[1] == -39);
        mv_free(&v);
        if (py) {
            EXPECT_EQ_INT(nio_py("exts", pt, out, sizeof(out)), 0);
            EXPECT_MSG(has(out, "extensions 1 6"), "nibabel: %s", out);
        }
    }
    free(t);
    /* (b) a pair's gzip-compressed .hdr (one member, as gzip(1) writes: no
       size up front) holds its extensions to its end: both are read */
    for (k = 0; k < 2; k++) {
        mv_save_opts so;
        memset(&so, 0, sizeof(so));
        so.gzip.single_member = k;
        REQUIRE_OK(load_buf(n1, l1, 0, 0, &w));
        add_extensions(&w);
        REQUIRE_OK(mv_save(pg, &w, &so));
        REQUIRE_OK(mv_load(pg, &v, &o));
        EXPECT_MSG(v.meta.n_ext == 2 && v.meta.ext[1].size == 40 && v.meta.ext[1].data[36] == (unsigned char)(36 * 7),
                   "single_member %d: %d extensions", k, v.meta.n_ext);
        mv_free(&v);
        o.header_only = 1;
        REQUIRE_OK(mv_load(pg, &v, &o));
        EXPECT_MSG(v.meta.n_ext == 2, "header only, single_member %d: %d extensions", k, v.meta.n_ext);
        mv_free(&v);
        o.header_only = 0;
        if (py) {
            EXPECT_EQ_INT(nio_py("exts", pg, out, sizeof(out)), 0);
            EXPECT_MSG(has(out, "extensions 2 6 4"), "nibabel: %s", out);
        }
        mv_free(&w);
    }
    /* (c) slope -2, intercept 0: 0 * -2 is -0, and nibabel adds the intercept
       only when it is nonzero (volumeutils.apply_read_scaling), so -0 stays;
       intercept 0.5 gives +0.5 */
    put_f32(n1, 112, -2.0f);
    put_f32(n1, 116, 0.0f);
    ((int16_t *)(n1 + 352))[4] = 0; /* voxel 4: a zero */
    REQUIRE_OK(load_buf(n1, l1, 0, 1, &v));
    EXPECT_MSG(((float *)v.data)[4] == 0 && signbit(((float *)v.data)[4]), "0 * -2 + 0 gave %g", ((float *)v.data)[4]);
    EXPECT(((float *)v.data)[1] == 78.0f); /* -39 * -2 */
    mv_free(&v);
    put_f32(n1, 116, 0.5f);
    REQUIRE_OK(load_buf(n1, l1, 0, 1, &v));
    EXPECT(((float *)v.data)[4] == 0.5f && ((float *)v.data)[1] == 78.5f);
    mv_free(&v);
    put_f32(n1, 112, 0.0f);
    put_f32(n1, 116, 0.0f);
    /* (d) a qform quaternion past the unit ball where the qform gives the
       affine: nibabel refuses (fillpositive: w2 < -3 float32 eps), nifticlib
       normalises; medvol normalises with a warning, strict refuses */
    put_le(n1, 252, 1, 2); /* qform_code 1, sform_code 0 */
    put_le(n1, 254, 0, 2);
    put_f32(n1, 256, 0.6f);
    put_f32(n1, 260, 0.6f);
    put_f32(n1, 264, 0.6f);
    REQUIRE_OK(load_buf(n1, l1, 0, 0, &v));
    EXPECT(v.meta.warnings == MV_WARN_QUATERN && has(mv_last_warning(), "quatern"));
    {
        /* the rotation of the normalised quaternion (b = c = d = 1/sqrt 3,
           a = 0): R = 2 q q^T - I, so R[0][0] = -1/3 and R[0][1] = 2/3 */
        EXPECT_MSG(fabs(v.affine[0][0] + 1.0 / 3.0) < 1e-12 && fabs(v.affine[0][1] - 2.0 / 3.0) < 1e-12,
                   "R row 0: %.17g %.17g", v.affine[0][0], v.affine[0][1]);
    }
    mv_free(&v);
    EXPECT_STATUS(load_buf(n1, l1, 1, 0, &v), MV_ERR_BAD_HEADER);
    EXPECT(has(mv_last_error(), "quatern"));
    put_le(n1, 254, 2, 2); /* the sform gives the affine: nothing to say */
    REQUIRE_OK(load_buf(n1, l1, 1, 0, &v));
    EXPECT(v.meta.warnings == 0);
    mv_free(&v);
    free(n1);
}

/* 64-bit integers in scaled loads go through get_fdata()'s float64, so a
   value past 2^53 rounds twice (int64 -> float64 -> float32), as
   get_fdata().astype(np.float32); loaded as int64 they stay exact. */
MV_TEST(nifti, int64_values_through_float64)
{
    mv_vol v, back;
    int64_t dims[1] = {3};
    const int64_t x = ((int64_t)1 << 60) + ((int64_t)1 << 36) + 1;
    unsigned char *buf;
    size_t len;
    mv_load_opts o;
    int k;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I64, 1, dims, NULL));
    ((int64_t *)v.data)[0] = x;
    ((int64_t *)v.data)[1] = -x;
    ((int64_t *)v.data)[2] = 7;
    /* the two roundings differ for x: the check below can fail */
    REQUIRE((float)(double)x != (float)x);
    for (k = 0; k < 2; k++) { /* scl_slope 1 / 0 (no scaling) and 0 (none either) */
        v.meta.scl_slope = k ? 0.0 : 1.0;
        REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, NULL));
        buf = (unsigned char *)malloc(len);
        REQUIRE_OK(mv_save_mem(&v, buf, len, &len, NULL));
        memset(&o, 0, sizeof(o));
        o.scaled = 1;
        REQUIRE_OK(mv_load_mem(buf, len, &back, &o));
        EXPECT_MSG(back.dtype == MV_DT_F32 && ((float *)back.data)[0] == (float)(double)x &&
                       ((float *)back.data)[1] == (float)(double)-x && ((float *)back.data)[2] == 7.0f,
                   "slope %g: %.9g", v.meta.scl_slope, ((float *)back.data)[0]);
        mv_free(&back);
        o.dtype = MV_DT_I64;
        REQUIRE_OK(mv_load_mem(buf, len, &back, &o));
        EXPECT(((int64_t *)back.data)[0] == x && ((int64_t *)back.data)[1] == -x);
        mv_free(&back);
        {
            mv_convert_opts co;
            mv_vol f;
            memset(&co, 0, sizeof(co));
            co.scaled = 1;
            REQUIRE_OK(mv_load_mem(buf, len, &back, NULL));
            REQUIRE_OK(mv_convert(&back, &f, MV_DT_F32, &co));
            EXPECT(((float *)f.data)[0] == (float)(double)x);
            mv_free(&f);
            co.scaled = 0; /* numpy's astype: one rounding */
            REQUIRE_OK(mv_convert(&back, &f, MV_DT_F32, &co));
            EXPECT(((float *)f.data)[0] == (float)x);
            mv_free(&f);
            mv_free(&back);
        }
        free(buf);
    }
    mv_free(&v);
}

/* mv_load's messages name the file and the field; the writer's the file */
MV_TEST(nifti, error_messages_name_file)
{
    const char *pe = tu_path("empty.nii"), *pt = tu_path("t.nii"), *pg = tu_path("trunc.nii.gz"), *pd = tu_path("dim0.nii");
    size_t len, l1;
    unsigned char *gz, *n1 = base_image(&l1, 1);
    mv_vol v, empty;
    int64_t dims[3] = {20, 20, 20};
    REQUIRE(tu_write_file(pe, "", 0));
    EXPECT_STATUS(mv_load(pe, &v, NULL), MV_ERR_TRUNCATED);
    EXPECT_MSG(has(mv_last_error(), pe) && has(mv_last_error(), "sizeof_hdr") && has(mv_last_error(), "empty"), "\"%s\"",
               mv_last_error());
    REQUIRE(tu_write_file(pe, "\x5c\x01", 2));
    EXPECT_STATUS(mv_load(pe, &v, NULL), MV_ERR_TRUNCATED);
    EXPECT_MSG(has(mv_last_error(), pe) && has(mv_last_error(), "sizeof_hdr"), "\"%s\"", mv_last_error());
    /* a header field through mv_load: the path in front */
    put_le(n1, 40, 0, 2);
    REQUIRE(tu_write_file(pd, n1, l1));
    EXPECT_STATUS(mv_load(pd, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(has(mv_last_error(), pd) && has(mv_last_error(), "dim[0]"), "\"%s\"", mv_last_error());
    /* saving an empty volume */
    mv_vol_init(&empty);
    EXPECT_STATUS(mv_save(pt, &empty, NULL), MV_ERR_INVALID_ARG);
    EXPECT_MSG(has(mv_last_error(), pt) && has(mv_last_error(), "the volume has no data"), "\"%s\"", mv_last_error());
    EXPECT_STATUS(mv_save_mem(&empty, NULL, 0, &len, NULL), MV_ERR_INVALID_ARG);
    EXPECT_MSG(has(mv_last_error(), "the volume has no data"), "\"%s\"", mv_last_error());
    /* a truncated .nii.gz */
    REQUIRE(make_vol(&v, MV_DT_F32, 3, dims, 3));
    REQUIRE_OK(mv_save(pg, &v, NULL));
    mv_free(&v);
    gz = tu_read_file(pg, &len);
    REQUIRE(gz != NULL && len > 100);
    REQUIRE(tu_write_file(pg, gz, len / 2));
    EXPECT(mv_load(pg, &v, NULL) != MV_OK);
    EXPECT_MSG(has(mv_last_error(), pg), "\"%s\"", mv_last_error());
    free(gz);
    free(n1);
}

/* new files get 0666 less the umask, as open(2) gives; a replaced file keeps its mode */
MV_TEST(nifti, saved_file_modes)
{
    mv_vol v;
    int64_t dims[3] = {3, 3, 3};
    struct stat st;
    mode_t old;
    const char *a = tu_path("m077.nii"), *b = tu_path("m022.nii"), *c = tu_path("m0640.nii"), *h = tu_path("m077.hdr"),
               *i = tu_path("m077.img");
    REQUIRE(make_vol(&v, MV_DT_I16, 3, dims, 5));
    unlink(a);
    unlink(b);
    unlink(h);
    unlink(i);
    old = umask(077);
    EXPECT_OK(mv_save(a, &v, NULL));
    EXPECT_OK(mv_save(h, &v, NULL));
    EXPECT(stat(a, &st) == 0 && (st.st_mode & 0777) == 0600);
    EXPECT(stat(h, &st) == 0 && (st.st_mode & 0777) == 0600);
    EXPECT(stat(i, &st) == 0 && (st.st_mode & 0777) == 0600);
    umask(022);
    EXPECT_OK(mv_save(b, &v, NULL));
    EXPECT(stat(b, &st) == 0 && (st.st_mode & 0777) == 0644);
    REQUIRE(tu_write_file(c, "x", 1));
    REQUIRE(chmod(c, 0640) == 0);
    EXPECT_OK(mv_save(c, &v, NULL));
    EXPECT_MSG(stat(c, &st) == 0 && (st.st_mode & 0777) == 0640, "mode %o", (unsigned)(st.st_mode & 0777));
    umask(old);
    mv_free(&v);
}

/* a symlink is written through, as cp does: the link stays, its target changes */
MV_TEST(nifti, save_through_symlink)
{
    mv_vol a, b, back;
    int64_t dims[3] = {4, 3, 2};
    char dir[1024], target[1100];
    const char *link = tu_path("link.nii"), *link2 = tu_path("link2.nii");
    struct stat st;
    snprintf(dir, sizeof(dir), "%s", tu_path("linked"));
    snprintf(target, sizeof(target), "%s/target.nii", dir);
    mkdir(dir, 0755);
    REQUIRE(make_vol(&a, MV_DT_F32, 3, dims, 1));
    REQUIRE(make_vol(&b, MV_DT_F32, 3, dims, 2));
    REQUIRE_OK(mv_save(target, &a, NULL));
    unlink(link);
    unlink(link2);
    REQUIRE(symlink("linked/target.nii", link) == 0); /* relative: to the link's folder */
    REQUIRE(symlink("link.nii", link2) == 0);           /* a chain */
    REQUIRE_OK(mv_save(link2, &b, NULL));
    EXPECT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    EXPECT(lstat(link2, &st) == 0 && S_ISLNK(st.st_mode));
    REQUIRE_OK(mv_load(target, &back, NULL));
    expect_same_volume(&b, &back, "through the links");
    mv_free(&back);
    EXPECT_EQ_INT(count_tmp_files(dir), 0);
    EXPECT_EQ_INT(count_tmp_files(tu_path("")), 0);
    /* a dangling link: the file it names is created */
    unlink(target);
    REQUIRE_OK(mv_save(link, &a, NULL));
    EXPECT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode) && stat(target, &st) == 0 && S_ISREG(st.st_mode));
    unlink(link);
    unlink(link2);
    mv_free(&a);
    mv_free(&b);
}

/* the host part of temporary names, as the library makes it */
static void tmp_host(char *h, size_t cap)
{
    char full[256];
    size_t i;
    if (gethostname(full, sizeof(full)) != 0) full[0] = 0;
    full[sizeof(full) - 1] = 0;
    for (i = 0; full[i] && i + 1 < cap; i++) { /* the first cap - 1 characters */
        char c = full[i];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
        h[i] = plain ? c : '_';
    }
    h[i] = 0;
    if (!h[0]) memcpy(h, "host", 5);
}

/* temporaries of a killed writer are removed by the next save of the same
   file; a live writer's, another host's and another file's are kept */
MV_TEST(nifti, stale_temps_removed)
{
    mv_vol v;
    int64_t dims[3] = {3, 3, 3};
    char host[17], dead_tmp[1200], live_tmp[1200], other_host[1200], other_file[1200];
    pid_t dead = fork();
    struct stat st;
    if (dead == 0) _exit(0);
    REQUIRE(dead > 0 && waitpid(dead, NULL, 0) == dead);
    tmp_host(host, sizeof(host));
    snprintf(dead_tmp, sizeof(dead_tmp), "%s.mvtmp-%s-%ld-abcdef", tu_path("stale.nii"), host, (long)dead);
    snprintf(live_tmp, sizeof(live_tmp), "%s.mvtmp-%s-%ld-ghijkl", tu_path("stale.nii"), host, (long)getppid());
    snprintf(other_host, sizeof(other_host), "%s.mvtmp-%sx-%ld-mnopqr", tu_path("stale.nii"), host, (long)dead);
    snprintf(other_file, sizeof(other_file), "%s.mvtmp-%s-%ld-stuvwx", tu_path("stale2.nii"), host, (long)dead);
    REQUIRE(tu_write_file(dead_tmp, "half", 4) && tu_write_file(live_tmp, "half", 4) &&
            tu_write_file(other_host, "half", 4) && tu_write_file(other_file, "half", 4));
    REQUIRE(make_vol(&v, MV_DT_U8, 3, dims, 4));
    REQUIRE_OK(mv_save(tu_path("stale.nii"), &v, NULL));
    EXPECT_MSG(stat(dead_tmp, &st) != 0, "%s is still there", dead_tmp);
    EXPECT_MSG(stat(live_tmp, &st) == 0, "%s (a live pid) was removed", live_tmp);
    EXPECT(stat(other_host, &st) == 0);
    EXPECT(stat(other_file, &st) == 0);
    unlink(live_tmp);
    unlink(other_host);
    unlink(other_file);
    EXPECT_EQ_INT(count_tmp_files(tu_path("")), 0);
    mv_free(&v);
}

/* in a folder of more than 4096 names a process cleans stale temporaries
   at its first save there only (a readdir of every save would make N
   saves into a folder of N files cost N^2); a forked child is another
   process and cleans them again */
MV_TEST(nifti, stale_temps_large_folder)
{
    mv_vol v;
    int64_t dims[3] = {3, 3, 3};
    char dir[1024], name[1200], target[1200], dead_tmp[1400], host[17];
    pid_t dead = fork(), child;
    struct stat st;
    int i, status = 0;
    if (dead == 0) _exit(0);
    REQUIRE(dead > 0 && waitpid(dead, NULL, 0) == dead);
    snprintf(dir, sizeof(dir), "%s", tu_path("bigfolder"));
    REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
    for (i = 0; i < 4100; i++) {
        snprintf(name, sizeof(name), "%s/sub-%04d_T1w.nii.gz", dir, i);
        REQUIRE(tu_write_file(name, "", 0));
    }
    snprintf(target, sizeof(target), "%s/out.nii", dir);
    tmp_host(host, sizeof(host));
    snprintf(dead_tmp, sizeof(dead_tmp), "%s.mvtmp-%s-%ld-abcdef", target, host, (long)dead);
    REQUIRE(make_vol(&v, MV_DT_U8, 3, dims, 4));
    REQUIRE(tu_write_file(dead_tmp, "half", 4));
    REQUIRE_OK(mv_save(target, &v, NULL)); /* the first save here: cleaned */
    EXPECT_MSG(stat(dead_tmp, &st) != 0, "%s is still there after the first save", dead_tmp);
    REQUIRE(tu_write_file(dead_tmp, "half", 4));
    REQUIRE_OK(mv_save(target, &v, NULL)); /* the folder is known: not read again */
    EXPECT_MSG(stat(dead_tmp, &st) == 0, "%s: the folder was read again", dead_tmp);
    child = fork();
    if (child == 0) _exit(mv_save(target, &v, NULL) == MV_OK ? 0 : 1);
    REQUIRE(child > 0 && waitpid(child, &status, 0) == child);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_MSG(stat(dead_tmp, &st) != 0, "%s: the child process did not clean it", dead_tmp);
    unlink(dead_tmp);
    unlink(target);
    for (i = 0; i < 4100; i++) {
        snprintf(name, sizeof(name), "%s/sub-%04d_T1w.nii.gz", dir, i);
        unlink(name);
    }
    EXPECT(rmdir(dir) == 0);
    mv_free(&v);
}

/* two threads save different volumes to one .hdr/.img pair over and over
   while this one loads it: every load is one writer's volume, whole */
typedef struct pair_writer {
    const char *path;
    int k, rounds, failures;
    int *finished;
    pthread_mutex_t *mu;
} pair_writer;
static void *pair_writer_run(void *arg)
{
    pair_writer *w = (pair_writer *)arg;
    mv_vol v;
    int64_t dims[3] = {16, 16, 8}, i;
    int r;
    if (mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL) == MV_OK) {
        for (i = 0; i < mv_vol_count(&v); i++) ((int16_t *)v.data)[i] = (int16_t)(1000 * w->k + i % 7);
        snprintf(v.meta.descrip, sizeof(v.meta.descrip), "writer %d", w->k);
        v.spacing[0] = 1 + w->k; /* the headers differ too */
        v.affine[0][0] = 1 + w->k;
        for (r = 0; r < w->rounds; r++) w->failures += mv_save(w->path, &v, NULL) != MV_OK;
        mv_free(&v);
    } else {
        w->failures++;
    }
    if (w->mu) {
        pthread_mutex_lock(w->mu);
        (*w->finished)++;
        pthread_mutex_unlock(w->mu);
    }
    return NULL;
}

MV_TEST(nifti, pair_saves_never_mix)
{
    pair_writer w[2];
    pthread_t t[2];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    const char *p = tu_path("race.hdr");
    int loads = 0, mixed = 0, failed = 0, i, finished = 0, running = 1;
    char first[256] = "";
    for (i = 0; i < 2; i++) {
        w[i].path = p;
        w[i].k = i + 1;
        w[i].rounds = 1;
        w[i].failures = 0;
        w[i].finished = &finished;
        w[i].mu = NULL;
    }
    pair_writer_run(&w[0]); /* the pair exists before the race */
    for (i = 0; i < 2; i++) {
        w[i].rounds = 300;
        w[i].mu = &mu;
        REQUIRE(pthread_create(&t[i], NULL, pair_writer_run, &w[i]) == 0);
    }
    while (running) {
        mv_vol v;
        mv_load_opts o;
        memset(&o, 0, sizeof(o));
        o.threads = 1;
        if (mv_load(p, &v, &o) != MV_OK) {
            if (!first[0]) snprintf(first, sizeof(first), "%s", mv_last_error());
            failed++;
        } else {
            int k = v.meta.descrip[7] - '0', bad = (k != 1 && k != 2) || v.spacing[0] != 1 + k;
            int64_t j;
            for (j = 0; j < mv_vol_count(&v) && !bad; j++) bad = ((int16_t *)v.data)[j] != (int16_t)(1000 * k + j % 7);
            mixed += bad;
            mv_free(&v);
        }
        loads++;
        pthread_mutex_lock(&mu);
        running = finished < 2;
        pthread_mutex_unlock(&mu);
    }
    for (i = 0; i < 2; i++) pthread_join(t[i], NULL);
    EXPECT_EQ_INT(w[0].failures + w[1].failures, 0);
    EXPECT_MSG(failed == 0, "%d of %d loads failed: %s", failed, loads, first);
    EXPECT_MSG(mixed == 0, "%d of %d loads saw a mixed pair", mixed, loads);
    EXPECT_MSG(loads > 50, "%d loads", loads);
    EXPECT_EQ_INT(count_tmp_files(tu_path("")), 0);
}

/* a flip of a volume far from the origin: the writer must see the changed
   affine (its tolerance once scaled with the translation) */
MV_TEST(nifti, flip_with_huge_translation)
{
    mv_vol v, back, f;
    int64_t dims[3] = {5, 4, 3};
    mv_save_opts so;
    const char *p = tu_path("far.nii"), *pf = tu_path("far_flipped.nii"), *pp = tu_path("far_permuted.nii");
    char out[4096];
    int r, c, k, perm[3] = {1, 0, 2};
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_F32, 3, dims, NULL));
    for (r = 0; r < 3; r++) {
        v.affine[r][r] = v.spacing[r] = 1.0 / 1024 * (r + 1); /* microscopy: micrometre voxels, in mm */
        v.affine[r][3] = r == 0 ? 1e7 : -2e7 * r;
    }
    v.meta.sform_code = MV_XFORM_ALIGNED;
    memset(&so, 0, sizeof(so));
    so.nifti_version = 2; /* float64 fields: nibabel's affine must equal ours exactly */
    REQUIRE_OK(mv_save(p, &v, &so));
    REQUIRE_OK(mv_load(p, &back, NULL));
    for (k = 0; k < 2; k++) {
        const char *path = k ? pp : pf;
        const char *line;
        double got[12];
        REQUIRE_OK(k ? mv_permute(&back, &f, perm, NULL) : mv_flip(&back, &f, 1, NULL));
        REQUIRE(k || f.affine[0][0] < 0);
        REQUIRE_OK(mv_save(path, &f, NULL));
        EXPECT_EQ_INT(nio_py("header", path, out, sizeof(out)), 0);
        line = strstr(out, "affine ");
        REQUIRE(line != NULL);
        line += 7;
        for (r = 0; r < 12; r++) got[r] = strtod(line, (char **)&line);
        for (r = 0; r < 3; r++)
            for (c = 0; c < 4; c++)
                EXPECT_MSG(got[r * 4 + c] == f.affine[r][c], "%s: nibabel affine[%d][%d] %.17g, ours %.17g", k ? "permute" : "flip",
                           r, c, got[r * 4 + c], f.affine[r][c]);
        mv_free(&f);
    }
    mv_free(&back);
    mv_free(&v);
}

/* a NIfTI-2 volume whose float64 fields float32 cannot hold stays NIfTI-2;
   NIfTI-1 asked for is refused, naming the field */
MV_TEST(nifti, nifti2_not_narrowed)
{
    const char *src = tu_path("n2src.nii"), *dst = tu_path("n2dst.nii"), *d1 = tu_path("n2as1.nii");
    char out[4096];
    mv_vol v, w;
    mv_save_opts so;
    struct stat st;
    int64_t dims[3] = {2, 2, 2};
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    REQUIRE(nio_py("make_n2", src, out, sizeof(out)) == 0 && has(out, "made"));
    REQUIRE_OK(mv_load(src, &v, NULL));
    EXPECT(v.meta.format == MV_FORMAT_NIFTI2 && v.meta.scl_slope == 2.4e-319 && v.affine[0][3] == -2e108);
    REQUIRE_OK(mv_save(dst, &v, NULL));
    EXPECT_EQ_INT(nio_py("header", dst, out, sizeof(out)), 0);
    EXPECT_MSG(has(out, "format 2") && has(out, "slope 2.4e-319") && has(out, "affine 2.0 0.0 0.0 -2e+108 "), "nibabel: %s",
               out);
    memset(&so, 0, sizeof(so));
    so.nifti_version = 1;
    EXPECT_STATUS(mv_save(d1, &v, &so), MV_ERR_INVALID_ARG);
    EXPECT_MSG(has(mv_last_error(), d1) && has(mv_last_error(), "scl_slope") && has(mv_last_error(), "NIfTI-2"), "\"%s\"",
               mv_last_error());
    EXPECT(stat(d1, &st) != 0);
    mv_free(&v);
    /* a new volume: NIfTI-1 while everything fits, NIfTI-2 when a field does not */
    REQUIRE_OK(mv_vol_alloc(&w, MV_DT_U8, 3, dims, NULL));
    REQUIRE_OK(mv_save(dst, &w, NULL));
    EXPECT_EQ_INT(nio_py("header", dst, out, sizeof(out)), 0);
    EXPECT_MSG(has(out, "format 1"), "nibabel: %s", out);
    w.affine[1][3] = -2e108;
    REQUIRE_OK(mv_save(dst, &w, NULL));
    EXPECT_EQ_INT(nio_py("header", dst, out, sizeof(out)), 0);
    EXPECT_MSG(has(out, "format 2") && has(out, " -2e+108 "), "nibabel: %s", out);
    mv_free(&w);
}
