/* test_alloc.c - the firmware profile (no stdio, no threads) with a counting
   and a failing allocator: the _into and memory forms allocate nothing, and
   every allocation failure is reported without a leak. Its own private copy
   of the implementation (MEDVOL_STATIC), so its configuration is its own. */
#include <stddef.h>
static long ta_allocs, ta_frees, ta_live;
/* bytes: the largest single request, and the most live at once (each block
   carries its size in a 64-byte header) */
static size_t ta_largest, ta_live_bytes, ta_peak_bytes;
static long ta_fail_at = -1; /* fail the n-th allocation from now (-1 never) */
static void *ta_malloc(size_t n);
static void ta_free(void *p);
#define MEDVOL_STATIC
#ifndef MEDVOL_NO_STDIO
#define MEDVOL_NO_STDIO
#endif
#ifndef MEDVOL_NO_THREADS
#define MEDVOL_NO_THREADS
#endif
#define MEDVOL_MALLOC(sz, ctx) ta_malloc(sz)
/* no MEDVOL_REALLOC: the library never reallocates, so the pair is enough */
#define MEDVOL_FREE(p, ctx) ta_free(p)
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static void *ta_malloc(size_t n)
{
    if (ta_fail_at == 0) {
        ta_fail_at = -1;
        return NULL;
    }
    if (ta_fail_at > 0) ta_fail_at--;
    ta_allocs++;
    ta_live++;
    {
        unsigned char *b = (unsigned char *)malloc(n + 64);
        if (!b) return NULL;
        memcpy(b, &n, sizeof(n));
        if (n > ta_largest) ta_largest = n;
        ta_live_bytes += n;
        if (ta_live_bytes > ta_peak_bytes) ta_peak_bytes = ta_live_bytes;
        return b + 64;
    }
}
static void ta_free(void *p)
{
    if (p) {
        unsigned char *b = (unsigned char *)p - 64;
        size_t n;
        memcpy(&n, b, sizeof(n));
        ta_live_bytes -= n;
        ta_frees++;
        ta_live--;
        free(b);
    }
}

/* A loader from memory (header, its length, data file, its length). */
typedef mv_status (*ta_mem_loader)(const void *, size_t, const void *, size_t, mv_vol *, const mv_load_opts *);

/* Loads text[0..n) with load into *out (the caller checks and frees it),
   then again with each of those allocations failing in turn: every time
   MV_ERR_OUT_OF_MEMORY, no volume, no pairs, no block leaked. */
static void ta_fail_each_allocation(const char *what, ta_mem_loader load, const char *text, size_t n, mv_vol *out)
{
    long k, needed;
    mv_vol back;
    mv_status st;
    ta_allocs = 0;
    REQUIRE_OK(load(text, n, NULL, 0, out, NULL));
    needed = ta_allocs;
    for (k = 0; k < needed; k++) {
        long live_before = ta_live;
        ta_fail_at = k;
        st = load(text, n, NULL, 0, &back, NULL);
        EXPECT_MSG(st == MV_ERR_OUT_OF_MEMORY, "%s allocation %ld failing: %s", what, k, mv_status_str(st));
        EXPECT(back.data == NULL && back.meta.kv == NULL);
        EXPECT_MSG(ta_live == live_before, "%s allocation %ld failing: %ld blocks leaked", what, k, ta_live - live_before);
    }
    ta_fail_at = -1;
}

MV_TEST(alloc, firmware_forms_allocate_nothing)
{
    int16_t raw[64];
    float f[64];
    unsigned char image[352 + 128];
    int64_t dims[3] = {4, 4, 4};
    mv_vol v, out, b;
    mv_stats s;
    size_t len = 0;
    char code[4];
    int i;
    for (i = 0; i < 64; i++) raw[i] = (int16_t)(i * 100 - 3000);
    ta_allocs = 0;
    REQUIRE_OK(mv_vol_wrap(&v, raw, MV_DT_I16, 3, dims));
    REQUIRE_OK(mv_vol_wrap(&out, f, MV_DT_F32, 3, dims));
    v.meta.scl_slope = 0.5;
    REQUIRE_OK(mv_convert_buffer(raw, MV_DT_I16, f, MV_DT_F32, 64, NULL));
    REQUIRE_OK(mv_convert_into(&v, &out, NULL));
    REQUIRE_OK(mv_compute_stats(&v, &s, NULL));
    REQUIRE_OK(mv_orientation(&v, code));
    REQUIRE_OK(mv_save_mem(&v, image, sizeof(image), &len, NULL));
    REQUIRE_OK(mv_load_mem_borrow(image, len, &b, NULL));
    EXPECT(b.flags == MV_VOL_BORROWED && memcmp(b.data, raw, 128) == 0);
    mv_free(&b);
    /* intensity, spatial and chained operations into caller buffers */
    {
        float g[6 * 6 * 2];
        int16_t h[6 * 6 * 2];
        int64_t gd[3] = {6, 6, 2}, shape[3] = {6, 6, 2};
        mv_vol gv, hv;
        mv_op ops[3];
        REQUIRE_OK(mv_znorm_into(&v, &out, NULL));
        REQUIRE_OK(mv_rescale_into(&out, &out, 0, 1, NULL));
        REQUIRE_OK(mv_clamp_into(&out, &out, 0.25, 0.75, NULL));
        REQUIRE_OK(mv_vol_wrap(&gv, g, MV_DT_F32, 3, gd));
        REQUIRE_OK(mv_crop_or_pad_into(&out, &gv, shape, NULL));
        EXPECT_STATUS(mv_flip_into(&out, &gv, 0, NULL), MV_ERR_INVALID_ARG); /* dims differ */
        REQUIRE_OK(mv_vol_wrap(&hv, h, MV_DT_I16, 3, gd));
        ops[0] = mv_op_crop_or_pad(6, 6, 2, -1);
        ops[1] = mv_op_znorm(1);
        ops[2] = mv_op_cast(MV_DT_I16, MV_ROUND_NEAREST);
        REQUIRE_OK(mv_pipeline_into(&v, ops, 3, &hv, NULL));
    }
    EXPECT_EQ_INT(ta_allocs, 0);
    EXPECT(strstr(mv_build_info(), "MEDVOL_NO_STDIO") != NULL);
    /* an FFT plan, made up front, executed with caller scratch: no allocation */
    {
        static float x[2 * 60], y[2 * 60];
        static unsigned char scratch[1 << 16];
        int64_t fd[2] = {12, 5};
        mv_fft_plan *p = NULL;
        REQUIRE_OK(mv_fft_plan_c2c(&p, 2, fd, 3, 0, NULL));
        REQUIRE(mv_fft_scratch_size(p) <= sizeof(scratch));
        ta_allocs = 0;
        for (i = 0; i < 120; i++) x[i] = (float)i;
        EXPECT_OK(mv_fft_execute_into(p, x, y, scratch));
        EXPECT_OK(mv_fft_execute_into(p, y, y, scratch));
        EXPECT_EQ_INT(ta_allocs, 0);
        mv_fft_plan_free(p);
    }
}

/* fail each allocation in turn: a clean status and nothing left allocated */
MV_TEST(alloc, failing_allocator_never_leaks)
{
    mv_vol v, back, conv;
    int64_t dims[3] = {7, 5, 3};
    mv_extension ext[2];
    unsigned char e0[24] = "first", e1[40] = "second", *image;
    size_t len = 0;
    long k, needed;
    mv_load_opts o;
    mv_status st;
    ta_live = 0;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL));
    ext[0].code = 6; ext[0].size = 24; ext[0].data = e0;
    ext[1].code = 4; ext[1].size = 40; ext[1].data = e1;
    REQUIRE_OK(mv_vol_set_extensions(&v, ext, 2));
    REQUIRE_OK(mv_save_mem(&v, NULL, 0, &len, NULL));
    image = (unsigned char *)malloc(len);
    REQUIRE_OK(mv_save_mem(&v, image, len, &len, NULL));
    memset(&o, 0, sizeof(o));
    o.scaled = 1; /* conversion buffers too */
    /* how many allocations a successful load makes */
    ta_allocs = 0;
    REQUIRE_OK(mv_load_mem(image, len, &back, &o));
    needed = ta_allocs;
    mv_free(&back);
    EXPECT(needed >= 4); /* list, two payloads, voxels, bounce */
    for (k = 0; k < needed; k++) {
        long live_before = ta_live;
        ta_fail_at = k;
        st = mv_load_mem(image, len, &back, &o);
        EXPECT_MSG(st == MV_ERR_OUT_OF_MEMORY, "allocation %ld failing: %s", k, mv_status_str(st));
        EXPECT(back.data == NULL && back.meta.ext == NULL);
        EXPECT_MSG(ta_live == live_before, "allocation %ld failing: %ld blocks leaked", k, ta_live - live_before);
    }
    ta_fail_at = -1;
    for (k = 0; k < 3; k++) {
        long live_before = ta_live;
        ta_fail_at = k;
        st = mv_convert(&v, &conv, MV_DT_F32, NULL);
        if (st == MV_OK) mv_free(&conv);
        else EXPECT_EQ_INT(st, MV_ERR_OUT_OF_MEMORY);
        EXPECT_EQ_INT(ta_live, live_before);
    }
    ta_fail_at = -1;
    /* allocating operations: the result, its extensions, percentile tables */
    for (k = 0; k < 6; k++) {
        long live_before = ta_live;
        mv_intensity_opts io;
        mv_op ops[2];
        memset(&io, 0, sizeof(io));
        io.pct_lo = 1;
        io.pct_hi = 99;
        ops[0] = mv_op_crop_or_pad(9, 9, 9, 0);
        ops[1] = mv_op_rescale_pct(0, 1, 2, 98, 1);
        ta_fail_at = k;
        st = mv_rescale(&v, &conv, 0, 1, &io);
        if (st == MV_OK) mv_free(&conv);
        else EXPECT_EQ_INT(st, MV_ERR_OUT_OF_MEMORY);
        ta_fail_at = k;
        st = mv_pipeline(&v, ops, 2, &conv, NULL);
        if (st == MV_OK) mv_free(&conv);
        else EXPECT_EQ_INT(st, MV_ERR_OUT_OF_MEMORY);
        EXPECT_MSG(ta_live == live_before, "allocation %ld failing: %ld blocks leaked", k, ta_live - live_before);
    }
    ta_fail_at = -1;
    /* FFT: plans (tables, Bluestein sub-plans), scratch, the plan cache */
    {
        static float x[2 * 3 * 67], y[2 * 3 * 67];
        int64_t fd[2] = {67, 3}; /* 67: a Bluestein line, so a nested plan */
        mv_fft_plan *p;
        ta_allocs = 0;
        REQUIRE_OK(mv_fft_plan_c2c(&p, 2, fd, 3, 0, NULL));
        REQUIRE_OK(mv_fft_execute(p, x, y));
        mv_fft_plan_free(p);
        needed = ta_allocs;
        for (k = 0; k < needed; k++) {
            long live_before = ta_live;
            ta_fail_at = k;
            st = mv_fft_plan_c2c(&p, 2, fd, 3, 0, NULL);
            if (st == MV_OK) {
                st = mv_fft_execute(p, x, y);
                mv_fft_plan_free(p);
            } else {
                EXPECT(p == NULL);
            }
            EXPECT_MSG(st == MV_ERR_OUT_OF_MEMORY, "FFT allocation %ld failing: %s", k, mv_status_str(st));
            ta_fail_at = k;
            st = mv_fft_r2c(x, y, 2, fd, 3, NULL);
            EXPECT_MSG(st == MV_OK || st == MV_ERR_OUT_OF_MEMORY, "mv_fft_r2c: %s", mv_status_str(st));
            mv_fft_cache_clear();
            EXPECT_MSG(ta_live == live_before, "FFT allocation %ld failing: %ld blocks leaked", k, ta_live - live_before);
        }
        ta_fail_at = -1;
    }
    /* NRRD key/value pairs: the load's list, each pair's block, the merge
       of a repeated key, the kept fields (their labels' buffer); the setters
       and a copy that carries them */
    {
        static const char nrrd[] = "NRRD0004\ntype: uchar\ndimension: 1\nsizes: 2\nencoding: raw\na:=1\nb:=x\\ny\n"
                                   "a:=2\nc:=3\nkinds: space\nlabels: \"L\"\ncontent: c\n\nAB";
        static const char mha[] = "ObjectType = Image\nNDims = 1\nPatientName = A\nk: v\nPatientName = B\n"
                                  "DimSize = 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\nAB";
        mv_keyvalue two[2];
        ta_fail_each_allocation("NRRD", mv_load_nrrd_mem, nrrd, sizeof(nrrd) - 1, &back);
        EXPECT(back.meta.n_kv == 6 && !strcmp(mv_vol_keyvalue(&back, "a"), "2") && !strcmp(mv_vol_keyvalue(&back, "b"), "x\ny"));
        EXPECT(!strcmp(mv_vol_keyvalue(&back, "NRRD_labels[0]"), "L") && !strcmp(mv_vol_keyvalue(&back, "NRRD_content"), "c"));
        mv_free(&back);
        /* a MetaImage's extra fields: the list, each pair's block, the merge */
        ta_fail_each_allocation("MetaImage", mv_load_metaimage_mem, mha, sizeof(mha) - 1, &back);
        EXPECT(back.meta.n_kv == 2 && !strcmp(mv_vol_keyvalue(&back, "PatientName"), "B"));
        mv_free(&back);
        two[0].key = (char *)"p", two[0].value = (char *)"1";
        two[1].key = (char *)"q", two[1].value = (char *)"2";
        for (k = 0; k < 5; k++) { /* 4 allocations replace the list: the sort's, the list, two pairs */
            long live_before;
            REQUIRE_OK(mv_vol_set_keyvalues(&v, two, 2));
            live_before = ta_live;
            ta_fail_at = k;
            st = mv_vol_set_keyvalues(&v, two, 2); /* the old list stays when the new one fails */
            EXPECT(st == (k < 4 ? MV_ERR_OUT_OF_MEMORY : MV_OK) && v.meta.n_kv == 2 && !strcmp(v.meta.kv[1].value, "2"));
            EXPECT_EQ_INT(ta_live, live_before);
            ta_fail_at = k;
            st = mv_vol_set_keyvalue(&v, "r", "3"); /* a new pair: its block, the longer list */
            EXPECT(st == (k < 2 ? MV_ERR_OUT_OF_MEMORY : MV_OK) && v.meta.n_kv == (k < 2 ? 2 : 3));
            EXPECT_EQ_INT(ta_live, live_before + (k < 2 ? 0 : 1)); /* (the list replaced: one block more) */
            ta_fail_at = k;
            st = mv_vol_copy_meta(&v, &conv);
            if (st == MV_OK) {
                EXPECT(conv.meta.n_kv == v.meta.n_kv && conv.meta.kv[0].key != v.meta.kv[0].key);
                mv_free(&conv);
            } else {
                EXPECT_EQ_INT(st, MV_ERR_OUT_OF_MEMORY);
            }
            ta_fail_at = -1;
            REQUIRE_OK(mv_vol_set_keyvalues(&v, NULL, 0));
            EXPECT_EQ_INT(ta_live, live_before - 3);
        }
    }
    free(image);
    mv_free(&v);
    EXPECT_EQ_INT(ta_live, 0);
}

/* the MRI _into forms: nothing allocated (the FFT plan is made first, so
   only the centred transform's execution is counted); an allocation failure
   in an allocating form is a clean MV_ERR_OUT_OF_MEMORY */
MV_TEST(alloc, mri_forms_allocate_nothing)
{
    static float k[2 * 8 * 6 * 2 * 3], img[2 * 8 * 6 * 2 * 3], sens[2 * 8 * 6 * 2 * 3];
    static float rss[8 * 6 * 2], comb[2 * 8 * 6 * 2], big[2 * 10 * 8 * 2 * 3], w[8 * 6];
    static unsigned char scratch[1 << 16];
    int64_t d4[4] = {8, 6, 2, 3}, d3[3] = {8, 6, 2}, dbig[4] = {10, 8, 2, 3}, d2[2] = {8, 6}, shape[3] = {10, 8, 0};
    int accel[3] = {1, 2, 1}, i;
    mv_vol vk, vi, vs, vr, vc, vb, vw, o;
    mv_fft_plan *pl = NULL;
    mv_fft_opts fo;
    for (i = 0; i < (int)(sizeof(k) / sizeof(k[0])); i++) {
        k[i] = (float)((i * 37) % 11) - 5.0f;
        sens[i] = (float)((i * 13) % 7) - 3.0f;
    }
    for (i = 0; i < 48; i++) w[i] = (float)i / 48;
    memset(&fo, 0, sizeof(fo));
    fo.norm = MV_FFT_ORTHO;
    REQUIRE_OK(mv_fft_plan_c2c(&pl, 4, d4, 7, 1, &fo));
    REQUIRE(mv_fftc_scratch_size(pl) <= sizeof(scratch));
    REQUIRE_OK(mv_vol_wrap(&vk, k, MV_DT_C64, 4, d4));
    REQUIRE_OK(mv_vol_wrap(&vi, img, MV_DT_C64, 4, d4));
    REQUIRE_OK(mv_vol_wrap(&vs, sens, MV_DT_C64, 4, d4));
    REQUIRE_OK(mv_vol_wrap(&vr, rss, MV_DT_F32, 3, d3));
    REQUIRE_OK(mv_vol_wrap(&vc, comb, MV_DT_C64, 3, d3));
    REQUIRE_OK(mv_vol_wrap(&vb, big, MV_DT_C64, 4, dbig));
    REQUIRE_OK(mv_vol_wrap(&vw, w, MV_DT_F32, 2, d2));
    ta_allocs = 0;
    EXPECT_OK(mv_kspace_weight(&vk, &vw, NULL));
    EXPECT_OK(mv_fftc_execute_into(pl, k, img, scratch));
    EXPECT_OK(mv_fftshift_into(&vk, &vi, 3, 0, NULL));
    EXPECT_OK(mv_fftshift_into(&vi, &vi, 3, 1, NULL));
    EXPECT_OK(mv_kspace_resize_into(&vk, &vb, shape, NULL));
    EXPECT_OK(mv_rss_into(&vi, &vr, NULL));
    EXPECT_OK(mv_coil_combine_into(&vi, &vs, &vc, NULL));
    EXPECT_OK(mv_complex_part_into(&vc, &vr, MV_CPART_PHASE, NULL));
    EXPECT_OK(mv_kspace_undersample(&vk, accel, NULL));
    EXPECT_OK(mv_sense_unfold_into(&vi, &vs, &vc, accel, NULL));
    EXPECT_EQ_INT(ta_allocs, 0);
    mv_fft_plan_free(pl);
    ta_fail_at = 0;
    EXPECT_STATUS(mv_rss(&vi, &o, NULL), MV_ERR_OUT_OF_MEMORY);
    ta_fail_at = -1;
    mv_fft_cache_clear();
}

/* resampling: mv_resample_into allocates nothing (cubic given its scratch);
   the allocating forms fail cleanly at each allocation */
MV_TEST(alloc, resample_into_allocates_nothing)
{
    static float in_data[9 * 8 * 7], out_data[13 * 5 * 9];
    static unsigned char scratch_block[200000];
    unsigned char *scratch = scratch_block + (64 - ((uintptr_t)scratch_block & 63));
    int64_t din[3] = {9, 8, 7}, dout[3] = {13, 5, 9};
    double M[4][4] = {{0.6, 0.1, 0, -0.3}, {0, 1.5, 0, 0.2}, {0.05, 0, 0.8, 0.1}, {0, 0, 0, 1}};
    double Z[4][4] = {{0.7, 0, 0, -0.2}, {0, 1.6, 0, 0.3}, {0, 0, 0.75, -0.1}, {0, 0, 0, 1}};
    mv_vol in, out, fresh;
    mv_resample_opts o;
    int interp, general, k;
    long needed;
    size_t i;
    for (i = 0; i < sizeof(in_data) / sizeof(in_data[0]); i++) in_data[i] = (float)(i % 17) * 3.5f;
    REQUIRE_OK(mv_vol_wrap(&in, in_data, MV_DT_F32, 3, din));
    REQUIRE_OK(mv_vol_wrap(&out, out_data, MV_DT_F32, 3, dout));
    memset(&o, 0, sizeof(o));
    ta_allocs = 0;
    for (interp = 0; interp < 3; interp++)
        for (general = 0; general < 2; general++) {
            o.interp = (mv_interp)interp;
            if (interp == MV_INTERP_CUBIC) {
                o.scratch = scratch;
                o.scratch_size = sizeof(scratch_block) - 64;
                REQUIRE(mv_resample_scratch_size(&in, &o) <= o.scratch_size);
            }
            EXPECT_OK(mv_resample_into(&in, &out, (const double(*)[4])(general ? M : Z), &o));
        }
    EXPECT_EQ_INT(ta_allocs, 0);
    /* cubic without scratch allocates it, and fails cleanly without memory */
    o.scratch = NULL;
    o.scratch_size = 0;
    ta_live = 0;
    EXPECT_OK(mv_resample_into(&in, &out, (const double(*)[4])Z, &o));
    EXPECT(ta_allocs == 1 && ta_live == 0);
    ta_fail_at = 0;
    EXPECT_STATUS(mv_resample_into(&in, &out, (const double(*)[4])Z, &o), MV_ERR_OUT_OF_MEMORY);
    ta_fail_at = -1;
    /* allocating forms: each allocation failing in turn */
    ta_allocs = 0;
    REQUIRE_OK(mv_resample_shape(&in, &fresh, dout, &o));
    needed = ta_allocs;
    mv_free(&fresh);
    EXPECT(needed == 2); /* output and coefficients */
    for (k = 0; k < needed; k++) {
        ta_fail_at = k;
        EXPECT_STATUS(mv_resample_shape(&in, &fresh, dout, &o), MV_ERR_OUT_OF_MEMORY);
        EXPECT(fresh.data == NULL && fresh.meta.ext == NULL);
    }
    ta_fail_at = -1;
    EXPECT_EQ_INT(ta_live, 0);
}

/* ---- what a compressed file may make the reader allocate ---- */

/* A NIfTI-1 header (+ empty extender) for nx*ny*nz voxels of a dtype, in
   either byte order, and no data. */
static size_t ta_header(unsigned char *b, int big_endian, int datatype, int bitpix, int16_t nx, int16_t ny, int16_t nz)
{
    int16_t dims[8] = {3, 0, 0, 0, 1, 1, 1, 1};
    float pixdim[8] = {1, 1, 1, 1, 1, 1, 1, 1}, vox = 352, slope = 0;
    int32_t sizeof_hdr = 348;
    int i;
    dims[1] = nx;
    dims[2] = ny;
    dims[3] = nz;
    memset(b, 0, 352);
#define TA_PUT(off, v)                                                        \
    do {                                                                      \
        unsigned char t_[8];                                                  \
        size_t k_;                                                            \
        memcpy(t_, &(v), sizeof(v));                                          \
        for (k_ = 0; k_ < sizeof(v); k_++)                                    \
            b[(off) + k_] = big_endian ? t_[sizeof(v) - 1 - k_] : t_[k_];     \
    } while (0)
    TA_PUT(0, sizeof_hdr);
    for (i = 0; i < 8; i++) TA_PUT(40 + 2 * i, dims[i]);
    {
        int16_t dt = (int16_t)datatype, bp = (int16_t)bitpix;
        TA_PUT(70, dt);
        TA_PUT(72, bp);
    }
    for (i = 0; i < 8; i++) TA_PUT(76 + 4 * i, pixdim[i]);
    TA_PUT(108, vox);
    TA_PUT(112, slope);
#undef TA_PUT
    memcpy(b + 344, "n+1", 4);
    return 352;
}

/* A header that promises gigabytes behind a few dozen compressed bytes is a
   truncated file, found before the reader allocates for it: on every path
   (straight into the voxels, byte swapped, converted, cropped). */
MV_TEST(alloc, gzip_promises_cost_nothing)
{
    static const struct {
        int big_endian, scaled, box;
        const char *what;
    } cases[] = {{0, 0, 0, "native"}, {1, 0, 0, "byte-swapped"}, {0, 1, 0, "converted"}, {0, 0, 1, "cropped"}, {1, 1, 1, "all"}};
    size_t c;
    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        unsigned char hdr[352], gz[512];
        size_t hlen = ta_header(hdr, cases[c].big_endian, 16, 32, 2000, 2000, 2000), glen = 0;
        mv_gzip_opts go;
        mv_load_opts o;
        mv_vol v;
        mv_status st;
        memset(&go, 0, sizeof(go));
        go.single_member = 1; /* as gzip(1) writes: no index, the size is not known up front */
        REQUIRE_OK(mv_gzip(hdr, hlen, gz, sizeof(gz), &glen, &go));
        memset(&o, 0, sizeof(o));
        o.scaled = cases[c].scaled;
        if (cases[c].box) o.box_size[0] = o.box_size[1] = 1000;
        ta_largest = 0;
        ta_live = 0;
        st = mv_load_mem(gz, glen, &v, &o);
        EXPECT_MSG(st == MV_ERR_TRUNCATED, "%s (%zu bytes): %s %s", cases[c].what, glen, mv_status_str(st), mv_last_error());
        EXPECT_MSG(ta_largest <= ((size_t)1 << 20), "%s: a %zu-byte file made a %zu-byte allocation", cases[c].what, glen,
                   ta_largest);
        EXPECT_EQ_INT(ta_live, 0);
        if (st == MV_OK) mv_free(&v);
    }
}

/* A plain gzip file (one member, as gzip, pigz and nibabel write) is read
   into a voxel array sized once from its ISIZE: no doubling and copying
   (which peaked at twice the volume). */
MV_TEST(alloc, plain_gzip_sized_once)
{
    int64_t dims[3] = {96, 96, 96};
    size_t vox_bytes = (size_t)96 * 96 * 96 * 4, ilen = 0, glen = 0, i, base;
    unsigned char *image, *gz;
    mv_vol v, back;
    mv_gzip_opts go;
    mv_load_opts o;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_F32, 3, dims, NULL));
    for (i = 0; i < vox_bytes / 4; i++) ((float *)v.data)[i] = (float)(i % 1000) * 0.25f;
    image = (unsigned char *)malloc(vox_bytes + 1024);
    gz = (unsigned char *)malloc(vox_bytes + 4096);
    REQUIRE(image && gz);
    REQUIRE_OK(mv_save_mem(&v, image, vox_bytes + 1024, &ilen, NULL));
    memset(&go, 0, sizeof(go));
    go.single_member = 1;
    go.level = 1;
    REQUIRE_OK(mv_gzip(image, ilen, gz, vox_bytes + 4096, &glen, &go));
    base = ta_peak_bytes = ta_live_bytes; /* what is live already (v) */
    ta_largest = 0;
    REQUIRE_OK(mv_load_mem(gz, glen, &back, NULL));
    EXPECT(memcmp(back.data, v.data, vox_bytes) == 0);
    EXPECT_MSG(ta_peak_bytes - base <= vox_bytes + ((size_t)1 << 20), "peak %zu bytes for a %zu-byte volume",
               ta_peak_bytes - base, vox_bytes);
    mv_free(&back);
    /* a run-time limit below the volume: refused before the allocation */
    memset(&o, 0, sizeof(o));
    o.max_bytes = vox_bytes - 1;
    ta_largest = 0;
    EXPECT_STATUS(mv_load_mem(gz, glen, &back, &o), MV_ERR_SIZE_OVERFLOW);
    EXPECT(strstr(mv_last_error(), "max_bytes") != NULL);
    EXPECT(ta_largest < vox_bytes);
    o.max_bytes = vox_bytes;
    REQUIRE_OK(mv_load_mem(gz, glen, &back, &o));
    mv_free(&back);
    free(image);
    free(gz);
    mv_free(&v);
}

/* ---- output volumes (medvol.h MEMORY, OUTPUT VOLUMES) ---- */

enum { RO_COUNT = 27 };

/* Allocating call k of in into out; *name says which. */
static mv_status reuse_op(int k, const mv_vol *in, const mv_vol *cx, mv_vol *out, const char **name)
{
    static const int64_t shape[3] = {12, 7, 8}, start[3] = {-2, 3, 1}, size[3] = {5, 9, 4};
    static const int perm[3] = {2, 0, 1};
    static const double sp[3] = {1.3, 0.9, 2.0};
    mv_resample_opts ro;
    mv_op ops[3];
    memset(&ro, 0, sizeof(ro));
    switch (k) {
    case 0: *name = "znorm"; return mv_znorm(in, out, NULL);
    case 1: *name = "rescale"; return mv_rescale(in, out, -1, 1, NULL);
    case 2: *name = "clamp"; return mv_clamp(in, out, 100, 400, NULL);
    case 3: *name = "crop_or_pad"; return mv_crop_or_pad(in, out, shape, NULL);
    case 4: *name = "crop_pad_box"; return mv_crop_pad_box(in, out, start, size, NULL);
    case 5: *name = "flip"; return mv_flip(in, out, 5, NULL);
    case 6: *name = "permute"; return mv_permute(in, out, perm, NULL);
    case 7: *name = "reorient"; return mv_reorient(in, out, "PIR", NULL);
    case 8: *name = "rot90"; return mv_rot90(in, out, 1, 0, 2, NULL);
    case 9:
        *name = "pipeline";
        ops[0] = mv_op_crop_or_pad(8, 8, 8, 0);
        ops[1] = mv_op_znorm(0);
        ops[2] = mv_op_cast(MV_DT_I16, MV_ROUND_NEAREST);
        return mv_pipeline(in, ops, 3, out, NULL);
    case 10:
        *name = "pipeline_geometry";
        ops[0] = mv_op_permute(1, 2, 0);
        return mv_pipeline_geometry(in, ops, 1, out);
    case 11: *name = "resample_shape linear"; return mv_resample_shape(in, out, shape, NULL);
    case 12: *name = "resample_shape cubic"; ro.interp = MV_INTERP_CUBIC; return mv_resample_shape(in, out, shape, &ro);
    case 13: *name = "resample_spacing nearest"; ro.interp = MV_INTERP_NEAREST; return mv_resample_spacing(in, out, sp, &ro);
    case 14: *name = "resample_like"; return mv_resample_like(in, in, out, NULL);
    case 15: *name = "resample_affine"; return mv_resample_affine(in, out, shape, (const double(*)[4])in->affine, NULL, NULL);
    case 16: *name = "convert"; return mv_convert(in, out, MV_DT_I16, NULL);
    case 17: *name = "vol_copy"; return mv_vol_copy(in, out);
    case 18: *name = "vol_copy_meta"; return mv_vol_copy_meta(in, out);
    case 19: *name = "fftshift"; return mv_fftshift(in, out, 7, 0, NULL);
    case 20: *name = "fftc"; return mv_fftc(cx, out, 7, 0, NULL);
    case 21: *name = "complex_part"; return mv_complex_part(cx, out, MV_CPART_MAG, NULL);
    case 22: *name = "kspace_resize"; return mv_kspace_resize(cx, out, shape, NULL);
    case 23: *name = "rss"; return mv_rss(cx, out, NULL);
    case 24: *name = "phantom_smooth"; return mv_phantom_smooth(out, MV_DT_F32, 6, 5, 4, 9);
    case 25: *name = "vol_alloc"; return mv_vol_alloc(out, MV_DT_U8, 3, shape, NULL);
    default: *name = "phantom_shepp_logan"; return mv_phantom_shepp_logan(out, 6, 5, 4);
    }
}

static int same_volume(const mv_vol *a, const mv_vol *b)
{
    int i;
    if (a->ndim != b->ndim || a->dtype != b->dtype || memcmp(a->affine, b->affine, sizeof(a->affine)) != 0) return 0;
    for (i = 0; i < MV_MAX_DIMS; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    if ((a->data == NULL) != (b->data == NULL)) return 0;
    return !a->data || memcmp(a->data, b->data, mv_vol_bytes(a)) == 0;
}

/* Every allocating call, three times into one out: nothing leaks (the
   counting allocator's live blocks), the result is the first call's; and
   in place (out == in), bit for bit the out-of-place result. A failing
   call leaves out as it was. */
MV_TEST(alloc, outputs_reused_and_in_place)
{
    mv_vol in, cx, ref, out, c;
    mv_extension ext;
    unsigned char payload[24];
    int k, rep;
    const char *name = "?";
    memset(payload, 7, sizeof(payload));
    ext.code = 6;
    ext.size = sizeof(payload);
    ext.data = payload;
    mv_vol_init(&in);
    mv_vol_init(&cx);
    REQUIRE_OK(mv_phantom_smooth(&in, MV_DT_F32, 10, 9, 8, 4));
    REQUIRE_OK(mv_vol_set_extensions(&in, &ext, 1)); /* results copy it: its release is checked too */
    in.affine[0][0] = 1.5;
    in.affine[1][3] = 4.25;
    REQUIRE_OK(mv_convert(&in, &cx, MV_DT_C64, NULL));
    for (k = 0; k < RO_COUNT; k++) {
        long base = ta_live;
        mv_status st;
        mv_vol_init(&ref);
        mv_vol_init(&out);
        st = reuse_op(k, &in, &cx, &ref, &name);
        EXPECT_MSG(st == MV_OK, "%s: %s (%s)", name, mv_status_str(st), mv_last_error());
        if (st != MV_OK) continue;
        base = ta_live;
        for (rep = 0; rep < 3; rep++) {
            /* the same out three times, freed between the calls (MEMORY) */
            if (rep) mv_free(&out);
            st = reuse_op(k, &in, &cx, &out, &name);
            EXPECT_MSG(st == MV_OK, "%s call %d into a reused out: %s", name, rep + 1, mv_last_error());
        }
        EXPECT_MSG(same_volume(&out, &ref), "%s: the third call into a reused out differs from the first", name);
        mv_free(&out);
        EXPECT_MSG(ta_live == base, "%s three times into one out: %ld blocks leaked", name, ta_live - base);
        /* in place: the result replaces the input, which held data and an extension */
        if (k < 19 && k != 16) {
            mv_vol_init(&c);
            REQUIRE_OK(mv_vol_copy(&in, &c));
            base = ta_live;
            st = reuse_op(k, &c, &cx, &c, &name);
            EXPECT_MSG(st == MV_OK, "%s in place: %s", name, mv_last_error());
            EXPECT_MSG(same_volume(&c, &ref), "%s in place differs from out of place", name);
            /* c's data, extension list and payload (3 blocks) went; the result's came */
            EXPECT_MSG(ta_live == base + 2 * (ref.meta.n_ext > 0) + (ref.data != NULL) - 3,
                       "%s in place: %ld live blocks, expected %ld", name, ta_live,
                       base + 2 * (ref.meta.n_ext > 0) + (ref.data != NULL) - 3);
            mv_free(&c);
        }
        mv_free(&ref);
    }
    /* failure: out keeps what it held */
    {
        int64_t bad[3] = {-4, 5, 5};
        void *data;
        long base;
        mv_vol_init(&out);
        REQUIRE_OK(mv_znorm(&in, &out, NULL));
        data = out.data;
        base = ta_live;
        EXPECT_STATUS(mv_crop_or_pad(&in, &out, bad, NULL), MV_ERR_INVALID_ARG);
        EXPECT_STATUS(mv_znorm(&cx, &out, NULL), MV_ERR_UNSUPPORTED);
        ta_fail_at = 0; /* and when the allocator fails (in place: the input stays) */
        EXPECT_STATUS(mv_flip(&out, &out, 1, NULL), MV_ERR_OUT_OF_MEMORY);
        ta_fail_at = -1;
        EXPECT(out.data == data && out.dim[0] == 10 && ta_live == base);
        mv_free(&out);
    }
    /* an out that is not an input is overwritten, never released through:
       here a struct copy whose original still owns the buffer */
    {
        mv_vol copy;
        long base;
        mv_vol_init(&out);
        REQUIRE_OK(mv_znorm(&in, &out, NULL));
        base = ta_live;
        copy = out;
        REQUIRE_OK(mv_clamp(&in, &copy, 0, 1, NULL)); /* copy's old buffers are out's: kept */
        EXPECT_EQ_INT(ta_live, base + 3);              /* + data, extension list, payload */
        EXPECT(out.data != copy.data && ((float *)out.data)[0] == ((float *)out.data)[0]);
        mv_free(&copy);
        mv_free(&out);
    }
    mv_free(&cx);
    mv_free(&in);
}

/* The _into forms of the spatial operations: the allocating form's bytes,
   affine and spacing, and no allocation; wrong dims named. */
MV_TEST(alloc, spatial_into_forms)
{
    mv_vol in, ref, out, g;
    void *buf;
    int k;
    static const int64_t start[3] = {-2, 3, 1}, size[3] = {5, 9, 4};
    static const int perm[3] = {2, 0, 1};
    mv_vol_init(&in);
    REQUIRE_OK(mv_phantom_smooth(&in, MV_DT_I16, 10, 9, 8, 5));
    in.affine[0][0] = -1.5; /* LAS-like, so reorient moves voxels */
    strcpy(in.meta.descrip, "spatial_into");
    for (k = 0; k < 4; k++) {
        mv_status st;
        const char *name = k == 0 ? "permute" : k == 1 ? "reorient" : k == 2 ? "rot90" : "crop_pad_box";
        mv_vol_init(&ref);
        mv_vol_init(&out);
        REQUIRE_OK(k == 0   ? mv_permute(&in, &ref, perm, NULL)
                   : k == 1 ? mv_reorient(&in, &ref, "SAR", NULL)
                   : k == 2 ? mv_rot90(&in, &ref, 3, 2, 1, NULL)
                            : mv_crop_pad_box(&in, &ref, start, size, NULL));
        buf = malloc(mv_vol_bytes(&ref)); /* the caller's memory, not the library's allocator */
        REQUIRE(buf != NULL);
        ta_allocs = 0;
        REQUIRE_OK(mv_vol_wrap_like(&out, buf, ref.dtype, &in)); /* metadata of in, dims of in */
        EXPECT(out.meta.ext == NULL && strcmp(out.meta.descrip, "spatial_into") == 0 && out.data == buf);
        EXPECT(memcmp(out.affine, in.affine, sizeof(in.affine)) == 0);
        out.ndim = ref.ndim;
        memcpy(out.dim, ref.dim, sizeof(ref.dim)); /* the result's dims */
        st = k == 0   ? mv_permute_into(&in, &out, perm, NULL)
             : k == 1 ? mv_reorient_into(&in, &out, "SAR", NULL)
             : k == 2 ? mv_rot90_into(&in, &out, 3, 2, 1, NULL)
                      : mv_crop_pad_box_into(&in, &out, start, size, NULL);
        EXPECT_MSG(st == MV_OK, "%s_into: %s", name, mv_last_error());
        EXPECT_MSG(ta_allocs == 0, "%s_into allocated %ld blocks", name, ta_allocs);
        EXPECT_MSG(memcmp(out.data, ref.data, mv_vol_bytes(&ref)) == 0, "%s_into differs from %s", name, name);
        EXPECT_MSG(memcmp(out.affine, ref.affine, sizeof(ref.affine)) == 0 &&
                       memcmp(out.spacing, ref.spacing, sizeof(ref.spacing)) == 0,
                   "%s_into: affine or spacing differ", name);
        /* the input's dims (wrong unless the op keeps them): named in the detail */
        if (ref.dim[0] != in.dim[0] || ref.dim[1] != in.dim[1] || ref.dim[2] != in.dim[2]) {
            char want[64];
            memcpy(out.dim, in.dim, sizeof(in.dim));
            st = k == 0   ? mv_permute_into(&in, &out, perm, NULL)
                 : k == 1 ? mv_reorient_into(&in, &out, "SAR", NULL)
                 : k == 2 ? mv_rot90_into(&in, &out, 3, 2, 1, NULL)
                          : mv_crop_pad_box_into(&in, &out, start, size, NULL);
            snprintf(want, sizeof(want), "the result is %lldx%lldx%lld", (long long)ref.dim[0], (long long)ref.dim[1],
                     (long long)ref.dim[2]);
            EXPECT_MSG(st == MV_ERR_INVALID_ARG && strstr(mv_last_error(), want) != NULL && strstr(mv_last_error(), name),
                       "%s_into with the input's dims: %s (%s)", name, mv_status_str(st), mv_last_error());
        }
        mv_free(&out); /* borrowed: nothing released */
        free(buf);
        mv_free(&ref);
    }
    /* the geometry of a chain, wrapped: what mv_pipeline_into needs */
    {
        mv_op ops[2];
        int16_t h[9 * 8 * 10];
        ops[0] = mv_op_permute(2, 1, 0);
        ops[1] = mv_op_znorm(0);
        mv_vol_init(&g);
        REQUIRE_OK(mv_pipeline_geometry(&in, ops, 2, &g));
        EXPECT(g.dtype == MV_DT_F32 && g.meta.scl_slope == 1);
        REQUIRE_OK(mv_vol_wrap_like(&out, h, MV_DT_I16, &g));
        EXPECT(out.dim[0] == 8 && out.dim[2] == 10 && out.dtype == MV_DT_I16);
        EXPECT_STATUS(mv_vol_wrap_like(&out, NULL, MV_DT_I16, &g), MV_ERR_INVALID_ARG);
        EXPECT(out.data == h); /* failure: out as it was */
        mv_free(&g);
    }
    mv_free(&in);
}

/* Loads follow the output rule (MEMORY): out written once the load is
   complete, reused after mv_free without a leak; a failing load leaves it
   empty. */
MV_TEST(alloc, loads_reuse_out)
{
    int64_t dims[3] = {6, 5, 4};
    unsigned char image[352 + 6 * 5 * 4 * 2 + 64];
    size_t len = 0;
    mv_vol v, out;
    long base;
    int rep;
    REQUIRE_OK(mv_vol_alloc(&v, MV_DT_I16, 3, dims, NULL));
    ((int16_t *)v.data)[7] = 1234;
    REQUIRE_OK(mv_save_mem(&v, image, sizeof(image), &len, NULL));
    base = ta_live;
    for (rep = 0; rep < 3; rep++) {
        REQUIRE_OK(mv_load_mem(image, len, &out, NULL));
        EXPECT(((int16_t *)out.data)[7] == 1234 && ta_live == base + 1);
        mv_free(&out);
    }
    EXPECT_STATUS(mv_load_mem(image, 100, &out, NULL), MV_ERR_TRUNCATED);
    EXPECT(out.data == NULL && ta_live == base);
    mv_free(&v);
}

/* labels, distance transforms and morphology: the _into forms given scratch
   of their _scratch_size allocate nothing and equal the allocating forms; a
   block too short is MV_ERR_BUFFER_TOO_SMALL, a misaligned one
   MV_ERR_INVALID_ARG; the allocating forms fail cleanly at each allocation */
typedef struct ta_mcase {
    int kind; /* 0 label, 1 EDT, 2 morphology */
    int conn, order, sign;
    double s[3];
    mv_morph_op op;
    mv_se_shape shape;
    double r;
    int iters;
} ta_mcase;

static size_t ta_msize(const ta_mcase *c, const mv_vol *in, void *scratch, size_t size, void **o)
{
    static mv_label_opts lo;
    static mv_edt_opts eo;
    static mv_morph_opts mo;
    memset(&lo, 0, sizeof(lo));
    memset(&eo, 0, sizeof(eo));
    memset(&mo, 0, sizeof(mo));
    if (c->kind == 0) {
        lo.connectivity = c->conn;
        lo.order = (mv_label_order)c->order;
        lo.largest = c->order == MV_LABEL_ORDER_SIZE ? 3 : 0;
        lo.scratch = scratch;
        lo.scratch_size = size;
        *o = &lo;
        return mv_label_scratch_size(in, &lo);
    }
    if (c->kind == 1) {
        eo.sign = c->sign;
        eo.spacing[0] = c->s[0];
        eo.spacing[1] = c->s[1];
        eo.spacing[2] = c->s[2];
        eo.scratch = scratch;
        eo.scratch_size = size;
        *o = &eo;
        return mv_edt_scratch_size(in, &eo);
    }
    mo.shape = c->shape;
    mo.radius = c->r;
    mo.connectivity = c->conn;
    mo.iterations = c->iters;
    mo.scratch = scratch;
    mo.scratch_size = size;
    *o = &mo;
    return mv_morph_scratch_size(in, c->op, &mo);
}

static mv_status ta_mrun(const ta_mcase *c, const mv_vol *in, mv_vol *out, int into, const void *o)
{
    int64_t nl;
    if (c->kind == 0)
        return into ? mv_label_into(in, out, &nl, (const mv_label_opts *)o) : mv_label(in, out, &nl, (const mv_label_opts *)o);
    if (c->kind == 1) return into ? mv_edt_into(in, out, (const mv_edt_opts *)o) : mv_edt(in, out, (const mv_edt_opts *)o);
    return into ? mv_morph_into(in, c->op, out, (const mv_morph_opts *)o) : mv_morph(in, c->op, out, (const mv_morph_opts *)o);
}

MV_TEST(alloc, morph_forms_with_scratch_allocate_nothing)
{
    static const ta_mcase cs[] = {
        {0, 26, MV_LABEL_ORDER_NIBABEL, 0, {0, 0, 0}, MV_MORPH_ERODE, MV_SE_BALL, 0, 0},
        {0, 6, MV_LABEL_ORDER_MEMORY, 0, {0, 0, 0}, MV_MORPH_ERODE, MV_SE_BALL, 0, 0},
        {0, 18, MV_LABEL_ORDER_SIZE, 0, {0, 0, 0}, MV_MORPH_ERODE, MV_SE_BALL, 0, 0},
        {1, 0, 0, 0, {0, 0, 0}, MV_MORPH_ERODE, MV_SE_BALL, 0, 0},
        {1, 0, 0, 1, {0, 0, 0}, MV_MORPH_ERODE, MV_SE_BALL, 0, 0},
        {1, 0, 0, 0, {0.8, 1.2, 2.5}, MV_MORPH_ERODE, MV_SE_BALL, 0, 0},
        {2, 0, 0, 0, {0, 0, 0}, MV_MORPH_ERODE, MV_SE_BALL, 2, 1},
        {2, 0, 0, 0, {0, 0, 0}, MV_MORPH_DILATE, MV_SE_BALL, 17.5, 1},
        {2, 0, 0, 0, {0, 0, 0}, MV_MORPH_OPEN, MV_SE_BOX, 1, 1},
        {2, 26, 0, 0, {0, 0, 0}, MV_MORPH_CLOSE, MV_SE_CROSS, 1, 2}};
    static float m[23 * 19 * 17];
    static unsigned char block[(1 << 20) + 64];
    static float outf[2][23 * 19 * 17];
    unsigned char *scratch = block + (64 - ((uintptr_t)block & 63));
    int64_t d[3] = {23, 19, 17}, n = 23 * 19 * 17, i;
    uint64_t s = 5;
    mv_vol in;
    size_t c;
    for (i = 0; i < n; i++) m[i] = tu_rand01(&s) < 0.55 ? 1.0f : 0.0f;
    for (i = 0; i < 23 * 19 * 4; i++) m[(int64_t)23 * 19 * 6 + i] = 1.0f; /* a solid slab: distances past a few voxels */
    REQUIRE_OK(mv_vol_wrap(&in, m, MV_DT_F32, 3, d));
    for (c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
        mv_dtype dt = cs[c].kind == 0 ? MV_DT_I32 : cs[c].kind == 1 ? MV_DT_F32 : MV_DT_U8;
        mv_vol o1, o2, fresh;
        void *opts;
        size_t need = ta_msize(&cs[c], &in, NULL, 0, &opts);
        long needed, k;
        mv_status st;
        EXPECT_MSG(need > 0 && need <= sizeof(block) - 64, "case %d: scratch size %zu", (int)c, need);
        if (need == 0 || need > sizeof(block) - 64) continue;
        REQUIRE_OK(mv_vol_wrap(&o1, outf[0], dt, 3, d));
        REQUIRE_OK(mv_vol_wrap(&o2, outf[1], dt, 3, d));
        /* caller scratch: no allocation at all */
        ta_msize(&cs[c], &in, scratch, need, &opts);
        ta_allocs = 0;
        EXPECT_OK(ta_mrun(&cs[c], &in, &o1, 1, opts));
        EXPECT_MSG(ta_allocs == 0, "case %d: %ld allocations with caller scratch", (int)c, ta_allocs);
        /* the allocating forms give the same bytes */
        ta_msize(&cs[c], &in, NULL, 0, &opts);
        EXPECT_OK(ta_mrun(&cs[c], &in, &o2, 1, opts));
        EXPECT_MSG(memcmp(outf[0], outf[1], (size_t)n * mv_dtype_size(dt)) == 0, "case %d: scratch changes the result",
                   (int)c);
        /* short (sizes are worst cases: a block shorter by a few bytes may still do), misaligned */
        ta_msize(&cs[c], &in, scratch, 100, &opts);
        EXPECT_STATUS(ta_mrun(&cs[c], &in, &o1, 1, opts), MV_ERR_BUFFER_TOO_SMALL);
        ta_msize(&cs[c], &in, scratch + 8, need, &opts);
        EXPECT_STATUS(ta_mrun(&cs[c], &in, &o1, 1, opts), MV_ERR_INVALID_ARG);
        /* each allocation of the allocating form failing in turn */
        ta_msize(&cs[c], &in, NULL, 0, &opts);
        ta_allocs = 0;
        REQUIRE_OK(ta_mrun(&cs[c], &in, &fresh, 0, opts));
        needed = ta_allocs;
        mv_free(&fresh);
        EXPECT(needed >= 2); /* the output and scratch */
        for (k = 0; k < needed; k++) {
            long live_before = ta_live;
            ta_fail_at = k;
            st = ta_mrun(&cs[c], &in, &fresh, 0, opts);
            EXPECT_MSG(st == MV_ERR_OUT_OF_MEMORY, "case %d, allocation %ld failing: %s", (int)c, k, mv_status_str(st));
            EXPECT(fresh.data == NULL);
            EXPECT_MSG(ta_live == live_before, "case %d, allocation %ld failing: %ld blocks leaked", (int)c, k,
                       ta_live - live_before);
        }
        ta_fail_at = -1;
    }
}
