/* BART .cfl/.hdr files: mv_cfl_load and mv_cfl_save against the bart command
   itself (files BART wrote load with the values BART computed; files medvol
   wrote are read, processed and written back by BART; headers spelled in
   every way BART's reader takes give BART's sizes), and the refusals of
   malformed pairs (missing header, no dimension line, zero, negative or too
   many sizes, two Dimensions sections, a data file shorter or longer than
   its header says). */
#include "mvtest.h"
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int have_bart(void) { return system("command -v bart >/dev/null 2>&1") == 0; }

static int run_quiet(const char *cmd)
{
    char full[4200];
    snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
    return system(full);
}

MV_TEST(cfl, bart_round_trip)
{
    char ph[600], ph2[600], mine[600], back[600], cmd[3000];
    mv_vol p, p2, q, r;
    const float *a, *b;
    size_t i, n, bad = 0;
    if (!have_bart()) SKIP("needs the bart command (Debian package bart)");
    snprintf(ph, sizeof(ph), "%s", tu_path("cfl_phantom"));
    snprintf(ph2, sizeof(ph2), "%s", tu_path("cfl_phantom_x2"));
    snprintf(mine, sizeof(mine), "%s", tu_path("cfl_medvol"));
    snprintf(back, sizeof(back), "%s", tu_path("cfl_medvol_x2"));
    /* 24 x 24 k-space of 3 coils, and BART's own scaling by 2 (exact in float) */
    snprintf(cmd, sizeof(cmd), "bart phantom -x 24 -k -s 3 %s && bart scale 2 %s %s", ph, ph, ph2);
    REQUIRE(run_quiet(cmd) == 0);
    mv_vol_init(&p);
    mv_vol_init(&p2);
    mv_vol_init(&q);
    mv_vol_init(&r);
    REQUIRE_OK(mv_cfl_load(ph, &p, NULL));
    EXPECT_EQ_INT(p.dtype, MV_DT_C64);
    EXPECT_EQ_INT(p.ndim, 4);
    EXPECT_EQ_INT(p.dim[0], 24);
    EXPECT_EQ_INT(p.dim[1], 24);
    EXPECT_EQ_INT(p.dim[2], 1);
    EXPECT_EQ_INT(p.dim[3], 3);
    snprintf(cmd, sizeof(cmd), "%s.cfl", ph2); /* the NAME.cfl form */
    REQUIRE_OK(mv_cfl_load(cmd, &p2, NULL));
    n = (size_t)mv_vol_count(&p) * 2;
    a = (const float *)p.data;
    b = (const float *)p2.data;
    for (i = 0; i < n; i++) bad += b[i] != 2.0f * a[i];
    EXPECT_MSG(bad == 0, "%zu samples of bart scale 2 differ from 2x what medvol read", bad);
    /* medvol writes, BART reads and scales, medvol reads BART's output */
    REQUIRE_OK(mv_cfl_save(mine, &p, NULL));
    snprintf(cmd, sizeof(cmd), "bart scale 2 %s %s", mine, back);
    REQUIRE(run_quiet(cmd) == 0);
    snprintf(cmd, sizeof(cmd), "%s.hdr", back); /* the NAME.hdr form */
    REQUIRE_OK(mv_cfl_load(cmd, &q, NULL));
    EXPECT_EQ_INT(q.ndim, 4);
    EXPECT_MSG(mv_vol_bytes(&q) == mv_vol_bytes(&p2) && !memcmp(q.data, p2.data, mv_vol_bytes(&q)),
               "BART's scaling of medvol's file differs from its scaling of its own");
    /* BART's view of the dimensions medvol wrote */
    snprintf(cmd, sizeof(cmd), "test \"$(bart show -d 3 %s)\" = 3 && test \"$(bart show -d 0 %s)\" = 24", mine, mine);
    EXPECT_MSG(system(cmd) == 0, "bart show -d reads other dimensions than medvol wrote");
    /* a 1D volume keeps its trailing 1s in the header and loads back as 1D */
    {
        int64_t d = 5;
        REQUIRE_OK(mv_vol_alloc(&r, MV_DT_C64, 1, &d, NULL));
        ((float *)r.data)[3] = 7.5f;
        REQUIRE_OK(mv_cfl_save(mine, &r, NULL));
        mv_free(&r);
        REQUIRE_OK(mv_cfl_load(mine, &r, NULL));
        EXPECT_EQ_INT(r.ndim, 1);
        EXPECT_EQ_INT(r.dim[0], 5);
        EXPECT(((float *)r.data)[3] == 7.5f);
    }
    mv_free(&p);
    mv_free(&p2);
    mv_free(&q);
    mv_free(&r);
}

static void write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

static int temporaries_left(const char *dir_of)
{
    char dir[600], *slash;
    DIR *d;
    struct dirent *e;
    int n = 0;
    snprintf(dir, sizeof(dir), "%s", dir_of);
    slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    d = opendir(slash ? dir : ".");
    if (!d) return 0;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, "cfl_bad") && strstr(e->d_name, ".mvtmp-");
    closedir(d);
    return n;
}

MV_TEST(cfl, malformed_pairs)
{
    char base[600], hdr[700], cfl[700];
    unsigned char data[8 * 6];
    mv_vol v, f;
    int64_t d[2] = {2, 3};
    snprintf(base, sizeof(base), "%s", tu_path("cfl_bad"));
    snprintf(hdr, sizeof(hdr), "%s.hdr", base);
    snprintf(cfl, sizeof(cfl), "%s.cfl", base);
    memset(data, 0, sizeof(data));
    mv_vol_init(&v);
    remove(hdr);
    remove(cfl);
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_NOT_FOUND);
    tu_write_file(cfl, data, sizeof(data));
    write_text(hdr, "# Command\nbart phantom\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "cfl_bad.hdr") && strstr(mv_last_error(), "Dimensions"), "%s", mv_last_error());
    write_text(hdr, "# Dimensions\n2 0 1\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_HEADER);
    write_text(hdr, "# Dimensions\n2 -3 1\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "dimension 2 is -3") != NULL, "%s", mv_last_error());
    /* the sizes end at "x", as for BART: 2 samples, and the data holds 6 */
    write_text(hdr, "# Dimensions\n2 x 1\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_DATA);
    /* a 17th size must be 1 (BART keeps 16) */
    write_text(hdr, "# Dimensions\n2 3 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "dimension 17") != NULL, "%s", mv_last_error());
    write_text(hdr, "# Dimensions\n2 3\n# Command\nbart ones\n# Dimensions\n2 3\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_HEADER);
    EXPECT_MSG(strstr(mv_last_error(), "two") != NULL, "%s", mv_last_error());
    write_text(hdr, "# Dimensions\n2 1 1 1 1 1 1 1 3 1 1 1 1 1 1 1\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_MSG(strstr(mv_last_error(), "dimension 9") != NULL, "%s", mv_last_error());
    write_text(hdr, "# Dimensions\n99999999999 99999999999 99999999999\n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_SIZE_OVERFLOW);
    write_text(hdr, "# Dimensions\n2 4 1 1 \n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_TRUNCATED);
    EXPECT_MSG(strstr(mv_last_error(), "cfl_bad.cfl") && strstr(mv_last_error(), "64"), "%s", mv_last_error());
    write_text(hdr, "# Dimensions\n2 2 1 1 \n");
    EXPECT_STATUS(mv_cfl_load(base, &v, NULL), MV_ERR_BAD_DATA);
    EXPECT(v.data == NULL);
    /* the good case, CRLF line ends and comments after the sizes */
    write_text(hdr, "# Dimensions\r\n2 3 1 1 1 1 1 1 1 1 1 1 1 1 1 1 \r\n# Command\r\nbart ones\r\n");
    REQUIRE_OK(mv_cfl_load(base, &v, NULL));
    EXPECT_EQ_INT(v.ndim, 2);
    EXPECT_EQ_INT(v.dim[1], 3);
    mv_free(&v);
    /* saving: complex64 only; a failed save leaves no temporary */
    REQUIRE_OK(mv_vol_alloc(&f, MV_DT_F32, 2, d, NULL));
    EXPECT_STATUS(mv_cfl_save(base, &f, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_cfl_save("", &f, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_cfl_save(base, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_cfl_load(NULL, &v, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_cfl_save("/nonexistent-dir-medvol/x", &v, NULL), MV_ERR_INVALID_ARG);
    mv_free(&f);
    REQUIRE_OK(mv_vol_alloc(&f, MV_DT_C64, 2, d, NULL));
    EXPECT(mv_cfl_save("/nonexistent-dir-medvol/x", &f, NULL) == MV_ERR_IO);
    EXPECT_EQ_INT(temporaries_left(base), 0);
    mv_free(&f);
}

/* Headers people and other tools write, each read by `bart show -m` (its
   "AoD:" line: BART's 16 sizes) and by mv_cfl_load: where BART reads one,
   medvol reads the same sizes; where BART refuses one, so does medvol,
   except a header that begins with a blank line (BART 0.8 reads other lines
   before the first section, but not blank ones; medvol reads both). Both
   read the same pair: a .cfl of the samples the header means to give (6,
   2 x 3, or 1 where it has no sizes); both refuse data of another size. */
MV_TEST(cfl, header_spellings_as_bart)
{
    static const struct {
        const char *name, *text;
        int bart_refuses_only; /* medvol reads it; BART 0.8 does not */
        int samples;           /* in the .cfl */
    } cases[] = {
        {"plain", "# Dimensions\n2 3 1 1 1 1 1 1 1 1 1 1 1 1 1 1 \n# Command\nbart ones\n", 0, 6},
        {"nospace", "#Dimensions\n2 3\n", 0, 6},
        {"spaces", "#  Dimensions \n6\n", 0, 6},
        {"tab", "#\tDimensions\n1 6\n", 0, 6},
        {"sameline", "# Dimensions 2 3\n", 0, 6},
        {"lines", "# Dimensions\n2\n3\n", 0, 6},
        {"blank", "# Dimensions\n\n3 1 2\n", 0, 6},
        {"plus", "# Dimensions\n+2 +3\n", 0, 6},
        {"eighteen", "# Dimensions\n2 3 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n", 0, 6},
        {"seventeen", "# Dimensions\n2 3 1 1 1 1 1 1 1 1 1 1 1 1 1 1 3\n", 0, 6},
        {"crlf", "# Dimensions\r\n3 2\r\n", 0, 6},
        {"noeol", "# Dimensions\n2 3", 0, 6},
        {"cmdfirst", "# Command\nbart ones 2 2 3 x\n# Dimensions\n2 3\n", 0, 6},
        {"textfirst", "written by hand\n# Dimensions\n2 3\n", 0, 6},
        {"hashafter", "# Dimensions\n2 3 # Command\n", 0, 6},
        {"wordafter", "# Dimensions\n2 3 x\n", 0, 6},
        {"glued", "# Dimensions\n2 3x 5\n", 0, 6},
        {"textafter", "# Dimensions\n2 3\nfoo bar\n", 0, 6},
        {"twice", "# Dimensions\n2 3\n# Dimensions\n2 3\n", 0, 6},
        {"lower", "# dimensions\n2 3\n", 0, 6},
        {"zero", "# Dimensions\n2 0 3\n", 0, 6},
        {"negative", "# Dimensions\n-2 -3\n", 0, 6},
        {"none", "# Dimensions\n# Command\nbart\n", 0, 1}, /* no sizes: one sample for BART */
        {"blankfirst", "\n# Dimensions\n2 3\n", 1, 6},
    };
    unsigned char data[6 * 8];
    size_t c;
    if (!have_bart()) SKIP("needs the bart command (Debian package bart)");
    memset(data, 0, sizeof(data));
    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char base[600], path[700], cmd[2000];
        long long bd[16];
        int bart_ok = 0, k;
        size_t len = 0;
        unsigned char *out;
        mv_vol v;
        mv_status st;
        snprintf(base, sizeof(base), "%s", tu_path("cfl_sp_"));
        strcat(base, cases[c].name);
        snprintf(path, sizeof(path), "%s.hdr", base);
        write_text(path, cases[c].text);
        snprintf(path, sizeof(path), "%s.cfl", base);
        tu_write_file(path, data, (size_t)cases[c].samples * 8);
        snprintf(path, sizeof(path), "%s.bart", base);
        /* (in a subshell: the shell's own "Aborted" line for a refusing bart goes to /dev/null too) */
        snprintf(cmd, sizeof(cmd), "(bart show -m %s 2>/dev/null | grep '^AoD:' > %s) 2>/dev/null", base, path);
        if (system(cmd) == 0 && (out = tu_read_file(path, &len)) != NULL) {
            char text[512];
            size_t m = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
            memcpy(text, out, m);
            text[m] = 0;
            bart_ok = sscanf(text, "AoD: %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
                             &bd[0], &bd[1], &bd[2], &bd[3], &bd[4], &bd[5], &bd[6], &bd[7], &bd[8], &bd[9], &bd[10],
                             &bd[11], &bd[12], &bd[13], &bd[14], &bd[15]) == 16;
            free(out);
        }
        mv_vol_init(&v);
        st = mv_cfl_load(base, &v, NULL);
        if (bart_ok) {
            EXPECT_MSG(st == MV_OK, "'%s': BART reads it, medvol says %s (%s)", cases[c].name, mv_status_str(st),
                       mv_last_error());
            for (k = 0; st == MV_OK && k < 16; k++)
                EXPECT_MSG((k < v.ndim ? v.dim[k] : 1) == bd[k], "'%s': dimension %d is %lld for medvol, %lld for BART",
                           cases[c].name, k + 1, (long long)(k < v.ndim ? v.dim[k] : 1), bd[k]);
        } else if (cases[c].bart_refuses_only) {
            EXPECT_MSG(st == MV_OK && v.ndim == 2 && v.dim[0] == 2 && v.dim[1] == 3, "'%s': %s (%s)", cases[c].name,
                       mv_status_str(st), mv_last_error());
        } else {
            EXPECT_MSG(st != MV_OK, "'%s': BART refuses it, medvol reads it", cases[c].name);
        }
        mv_free(&v);
    }
}

/* BART's axes beyond medvol's 7 (its TIME_DIM 10): refused by default,
   folded into dims[6] with opts.cfl_fold (the same samples in order),
   mv_cfl_dims gives the 16 sizes and mv_cfl_save writes them back
   (opts.cfl_dims), which bart reads; a wrong product is refused */
MV_TEST(cfl, fold_bart_axes)
{
    char p1[300], p3[300], mine[300], cmd[3000];
    mv_vol p, q, h;
    mv_load_opts lo = MV_ZERO_INIT;
    mv_save_opts so = MV_ZERO_INIT;
    int64_t d16[16], bad16[16], i, n, f, wrong = 0;
    if (!have_bart()) SKIP("needs the bart command (Debian package bart)");
    snprintf(p1, sizeof(p1), "%s", tu_path("cfl_fold1"));
    snprintf(p3, sizeof(p3), "%s", tu_path("cfl_fold3"));
    snprintf(mine, sizeof(mine), "%s", tu_path("cfl_fold_medvol"));
    /* frames f = 0, 1, 2 along BART's axis 10: (f + 1) x the phantom */
    snprintf(cmd, sizeof(cmd), "bart phantom -x 8 -k -s 2 %s && bart scale 2 %s %s_2 && bart scale 3 %s %s_3 && "
             "bart join 10 %s %s_2 %s_3 %s", p1, p1, p1, p1, p1, p1, p1, p1, p3);
    REQUIRE(run_quiet(cmd) == 0);
    mv_vol_init(&p);
    mv_vol_init(&q);
    mv_vol_init(&h);
    EXPECT_STATUS(mv_cfl_load(p3, &q, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_MSG(strstr(mv_last_error(), "dimension 11") && strstr(mv_last_error(), "cfl_fold"), "%s", mv_last_error());
    REQUIRE_OK(mv_cfl_load(p1, &p, NULL));
    lo.cfl_fold = 1;
    REQUIRE_OK(mv_cfl_load(p3, &q, &lo));
    EXPECT_EQ_INT(q.ndim, 7);
    EXPECT_EQ_INT(q.dim[3], 2);
    EXPECT_EQ_INT(q.dim[4], 1);
    EXPECT_EQ_INT(q.dim[6], 3);
    n = mv_vol_count(&p) * 2;
    for (f = 0; f < 3 && mv_vol_count(&q) == 3 * mv_vol_count(&p); f++)
        for (i = 0; i < n; i++) wrong += ((float *)q.data)[f * n + i] != (float)(f + 1) * ((float *)p.data)[i];
    EXPECT_MSG(mv_vol_count(&q) == 3 * mv_vol_count(&p) && wrong == 0, "folded frames: %lld samples differ", (long long)wrong);
    lo.header_only = 1;
    REQUIRE_OK(mv_cfl_load(p3, &h, &lo));
    EXPECT(h.data == NULL && h.ndim == 7 && h.dim[6] == 3);
    REQUIRE_OK(mv_cfl_dims(p3, d16));
    for (i = 0; i < 16; i++)
        EXPECT_MSG(d16[i] == (i < 2 ? 8 : i == 3 ? 2 : i == 10 ? 3 : 1), "mv_cfl_dims[%lld] = %lld", (long long)i,
                   (long long)d16[i]);
    so.cfl_dims = d16;
    REQUIRE_OK(mv_cfl_save(mine, &q, &so));
    snprintf(cmd, sizeof(cmd), "test \"$(bart show -d 10 %s)\" = 3 && test \"$(bart show -d 3 %s)\" = 2 && "
             "cmp -s %s.cfl %s.cfl", mine, mine, mine, p3);
    EXPECT_MSG(system(cmd) == 0, "bart reads other axes than mv_cfl_save wrote with opts.cfl_dims, or other samples");
    memcpy(bad16, d16, sizeof(bad16));
    bad16[10] = 4;
    so.cfl_dims = bad16;
    EXPECT_STATUS(mv_cfl_save(mine, &q, &so), MV_ERR_INVALID_ARG);
    EXPECT_MSG(strstr(mv_last_error(), "cfl_dims"), "%s", mv_last_error());
    bad16[10] = 0;
    EXPECT_STATUS(mv_cfl_save(mine, &q, &so), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_cfl_dims(tu_path("cfl_fold_missing"), d16), MV_ERR_NOT_FOUND);
    mv_free(&p);
    mv_free(&q);
    mv_free(&h);
}

/* mv_load and mv_save take BART's pairs by name (NAME.cfl, and a NAME.hdr
   of text: a NIfTI pair's binary .hdr still loads as NIfTI) with every
   mv_load_opts: the whole file as mv_cfl_load reads it (mapped), a crop box
   against `bart extract` of the same ranges (the origin moved to the box's
   first voxel), squeeze, max_bytes; mv_save to NAME.cfl read back by `bart
   scale` */
MV_TEST(cfl, mv_load_and_save_by_name)
{
    char ph[300], ex[300], mine[300], x2[300], cmd[3000];
    mv_vol p, a, b, c, e, s, q;
    mv_load_opts lo = MV_ZERO_INIT;
    int64_t i, n, bad = 0;
    if (!have_bart()) SKIP("needs the bart command (Debian package bart)");
    snprintf(ph, sizeof(ph), "%s", tu_path("cfl_byname"));
    snprintf(ex, sizeof(ex), "%s", tu_path("cfl_byname_box"));
    snprintf(mine, sizeof(mine), "%s", tu_path("cfl_byname_saved"));
    snprintf(x2, sizeof(x2), "%s", tu_path("cfl_byname_x2"));
    /* 24 x 20 k-space of 4 coils; bart extract: x 4..13, y 6..13, coils 1..2 */
    snprintf(cmd, sizeof(cmd), "bart phantom -x 24 -k -s 4 %s_sq && bart resize 1 20 %s_sq %s && "
             "bart extract 0 4 14 1 6 14 3 1 3 %s %s", ph, ph, ph, ph, ex);
    REQUIRE(run_quiet(cmd) == 0);
    mv_vol_init(&p), mv_vol_init(&a), mv_vol_init(&b), mv_vol_init(&c), mv_vol_init(&e), mv_vol_init(&s), mv_vol_init(&q);
    REQUIRE_OK(mv_cfl_load(ph, &p, NULL));
    snprintf(cmd, sizeof(cmd), "%s.cfl", ph);
    lo.mmap = MV_MMAP_REQUIRE; /* the whole pair maps on request, as a .nii does */
    REQUIRE_OK(mv_load(cmd, &a, &lo));
    snprintf(cmd, sizeof(cmd), "%s.hdr", ph);
    REQUIRE_OK(mv_load(cmd, &b, NULL));
    EXPECT(a.dtype == MV_DT_C64 && a.ndim == 4 && a.dim[0] == 24 && a.dim[1] == 20 && a.dim[3] == 4);
    EXPECT(a.meta.format == MV_FORMAT_CFL && b.meta.format == MV_FORMAT_CFL && a.meta.pair == 1);
    /* mapped only on request: bart rewrites a .cfl in place, under a mapping */
    EXPECT_MSG((a.flags & MV_VOL_MAPPED) && !(b.flags & MV_VOL_MAPPED), "flags %u (REQUIRE) and %u (default)", a.flags,
               b.flags);
    EXPECT(mv_vol_bytes(&a) == mv_vol_bytes(&p) && !memcmp(a.data, p.data, mv_vol_bytes(&p)));
    EXPECT(mv_vol_bytes(&b) == mv_vol_bytes(&p) && !memcmp(b.data, p.data, mv_vol_bytes(&p)));
    for (i = 0; i < 16; i++) EXPECT(a.affine[i / 4][i % 4] == (i % 5 == 0 ? 1.0 : 0.0));
    /* a crop box: bart extract's samples, the origin at the box's first voxel */
    REQUIRE_OK(mv_cfl_load(ex, &e, NULL));
    memset(&lo, 0, sizeof(lo));
    lo.box_start[0] = 4, lo.box_start[1] = 6, lo.box_start[3] = 1;
    lo.box_size[0] = 10, lo.box_size[1] = 8, lo.box_size[3] = 2;
    snprintf(cmd, sizeof(cmd), "%s.cfl", ph);
    REQUIRE_OK(mv_load(cmd, &c, &lo));
    EXPECT(c.ndim == 4 && c.dim[0] == 10 && c.dim[1] == 8 && c.dim[2] == 1 && c.dim[3] == 2);
    EXPECT_MSG(mv_vol_bytes(&c) == mv_vol_bytes(&e) && !memcmp(c.data, e.data, mv_vol_bytes(&e)),
               "the box is not bart extract's samples");
    EXPECT(c.affine[0][3] == 4.0 && c.affine[1][3] == 6.0 && c.affine[2][3] == 0.0 && c.affine[0][0] == 1.0);
    /* squeeze: one coil of the box loads as 3D */
    lo.box_size[3] = 1;
    lo.squeeze = 1;
    REQUIRE_OK(mv_load(cmd, &s, &lo));
    EXPECT(s.ndim == 3 && s.dim[0] == 10 && s.dim[1] == 8 && !memcmp(s.data, e.data, mv_vol_bytes(&s)));
    memset(&lo, 0, sizeof(lo));
    lo.max_bytes = 1000;
    EXPECT_STATUS(mv_load(cmd, &q, &lo), MV_ERR_SIZE_OVERFLOW);
    /* mv_save by name: BART reads it */
    snprintf(cmd, sizeof(cmd), "%s.cfl", mine);
    REQUIRE_OK(mv_save(cmd, &c, NULL));
    snprintf(cmd, sizeof(cmd), "bart scale 2 %s %s", mine, x2);
    REQUIRE(run_quiet(cmd) == 0);
    REQUIRE_OK(mv_cfl_load(x2, &q, NULL));
    n = mv_vol_count(&e) * 2;
    for (i = 0; i < n && mv_vol_count(&q) * 2 == n; i++) bad += ((float *)q.data)[i] != 2.0f * ((float *)e.data)[i];
    EXPECT_MSG(mv_vol_count(&q) * 2 == n && bad == 0, "bart scale 2 of mv_save's .cfl: %lld samples differ", (long long)bad);
    mv_free(&s); /* a float32 volume: refused, naming the dtype */
    REQUIRE_OK(mv_vol_alloc(&s, MV_DT_F32, 3, c.dim, NULL));
    EXPECT_STATUS(mv_save(tu_path("cfl_byname_f32.cfl"), &s, NULL), MV_ERR_INVALID_ARG);
    EXPECT_MSG(strstr(mv_last_error(), "complex64"), "%s", mv_last_error());
    mv_free(&p), mv_free(&a), mv_free(&b), mv_free(&c), mv_free(&e), mv_free(&s), mv_free(&q);
}

/* no temporaries of base left in its directory */
static int temps_left(const char *base)
{
    char dir[600];
    const char *slash = strrchr(base, '/'), *name = slash ? slash + 1 : base;
    DIR *dp;
    struct dirent *e;
    int n = 0;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - base) : 1, slash ? base : ".");
    dp = opendir(dir);
    if (!dp) return -1;
    while ((e = readdir(dp)) != NULL)
        if (!strncmp(e->d_name, name, strlen(name)) && strstr(e->d_name, ".mvtmp-")) n++;
    closedir(dp);
    return n;
}

/* mv_cfl_writer: a pair streamed in pieces of any size reads back as
   written, with BART's sizes, over a new name and replacing an old pair
   (by rename and by exchange); an aborted, short or overlong stream, and
   bad sizes, leave the last pair as it was and no temporary behind */
MV_TEST(cfl, writer_streams_replaces_and_aborts)
{
    int64_t d16[16] = {5, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float data[60];
    char base[600];
    mv_save_opts so;
    mv_cfl_writer *w = NULL;
    mv_vol v;
    int pass, i;
    snprintf(base, sizeof(base), "%s", tu_path("cfl_wr"));
    memset(&so, 0, sizeof(so));
    for (pass = 0; pass < 3; pass++) { /* new, replaced by rename, replaced by exchange */
        so.exchange = pass == 2;
        for (i = 0; i < 60; i++) data[i] = (float)(i * (pass + 1)) - 7.5f;
        REQUIRE_OK(mv_cfl_writer_open(&w, base, d16, &so));
        REQUIRE_OK(mv_cfl_writer_write(w, data, 13)); /* pieces that split samples */
        REQUIRE_OK(mv_cfl_writer_write(w, (const char *)data + 13, 0));
        REQUIRE_OK(mv_cfl_writer_write(w, (const char *)data + 13, 200));
        REQUIRE_OK(mv_cfl_writer_write(w, (const char *)data + 213, 240 - 213));
        REQUIRE_OK(mv_cfl_writer_close(w, 1));
        mv_vol_init(&v);
        REQUIRE_OK(mv_cfl_load(base, &v, NULL));
        EXPECT_MSG(v.ndim == 5 && v.dim[0] == 5 && v.dim[1] == 3 && v.dim[4] == 2 && !memcmp(v.data, data, sizeof(data)),
                   "writer pass %d: read back ndim %d, not what was written", pass, v.ndim);
        mv_free(&v);
        EXPECT_MSG(temps_left(base) == 0, "writer pass %d: %d temporaries left", pass, temps_left(base));
    }
    /* the last pair holds pass 2's data from here on */
    for (i = 0; i < 4; i++) {
        int64_t bad[16];
        mv_status st;
        memcpy(bad, d16, sizeof(bad));
        so.exchange = i & 1;
        if (i == 3) { /* bad sizes: nothing opened */
            bad[7] = 0;
            EXPECT_EQ_INT(mv_cfl_writer_open(&w, base, bad, &so), MV_ERR_INVALID_ARG);
            EXPECT_MSG(w == NULL, "a refused open left a writer");
            continue;
        }
        REQUIRE_OK(mv_cfl_writer_open(&w, base, d16, &so));
        REQUIRE_OK(mv_cfl_writer_write(w, "abcdefgh", 8));
        if (i == 0) st = mv_cfl_writer_close(w, 0); /* aborted */
        else if (i == 1) st = mv_cfl_writer_close(w, 1); /* short */
        else {                                           /* overlong */
            static const char big[300] = {0};
            EXPECT_EQ_INT(mv_cfl_writer_write(w, big, 240), MV_ERR_INVALID_ARG);
            st = mv_cfl_writer_close(w, 1);
        }
        EXPECT_EQ_INT(st, i == 0 ? MV_OK : i == 1 ? MV_ERR_TRUNCATED : MV_ERR_INVALID_ARG);
        mv_vol_init(&v);
        REQUIRE_OK(mv_cfl_load(base, &v, NULL));
        EXPECT_MSG(!memcmp(v.data, data, sizeof(data)), "case %d: the old pair changed", i);
        mv_free(&v);
        EXPECT_MSG(temps_left(base) == 0, "case %d: %d temporaries left", i, temps_left(base));
    }
    EXPECT_EQ_INT(mv_cfl_writer_close(NULL, 1), MV_OK);
    { /* a directory where the .cfl goes: refused as rename(2) refuses it, the directory left there */
        char dbase[620], dcfl[640];
        struct stat stt;
        snprintf(dbase, sizeof(dbase), "%s_dir", base);
        snprintf(dcfl, sizeof(dcfl), "%s.cfl", dbase);
        REQUIRE(mkdir(dcfl, 0700) == 0 || errno == EEXIST);
        so.exchange = 1;
        REQUIRE_OK(mv_cfl_writer_open(&w, dbase, d16, &so));
        REQUIRE_OK(mv_cfl_writer_write(w, data, sizeof(data)));
        EXPECT_EQ_INT(mv_cfl_writer_close(w, 1), MV_ERR_IO);
        EXPECT_MSG(stat(dcfl, &stt) == 0 && S_ISDIR(stt.st_mode), "the directory in the .cfl's place was moved");
        EXPECT_MSG(temps_left(dbase) == 0, "a refused replace left %d temporaries", temps_left(dbase));
        (void)rmdir(dcfl);
    }
    { /* mv_save's NIfTI paths swap too: .nii and a .hdr/.img pair replaced, read back, no temporaries */
        static const char *ext[2] = {"_x.nii", "_x.hdr"};
        int e, r;
        for (e = 0; e < 2; e++) {
            char name[640];
            int64_t dd[3] = {4, 3, 2};
            snprintf(name, sizeof(name), "%s%s", base, ext[e]);
            for (r = 0; r < 2; r++) { /* the second save replaces the first */
                mv_vol t, back;
                mv_vol_init(&t);
                mv_vol_init(&back);
                REQUIRE_OK(mv_vol_alloc(&t, MV_DT_F32, 3, dd, NULL));
                for (i = 0; i < 24; i++) ((float *)t.data)[i] = (float)(i + 100 * r);
                REQUIRE_OK(mv_save(name, &t, &so));
                REQUIRE_OK(mv_load(name, &back, NULL));
                EXPECT_MSG(!memcmp(back.data, t.data, 24 * sizeof(float)), "%s save %d: not read back", ext[e], r);
                mv_free(&t);
                mv_free(&back);
            }
            EXPECT_MSG(temps_left(name) == 0, "%s: temporaries left", ext[e]);
        }
    }
}

/* ---- twix (Siemens raw data) ---- */

typedef struct twb {
    unsigned char *p;
    size_t n, cap;
} twb;

static void twb_put(twb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = (unsigned char *)realloc(b->p, b->cap);
    }
    if (src) memcpy(b->p + b->n, src, n);
    else memset(b->p + b->n, 0, n);
    b->n += n;
}
static void twb_u32_at(twb *b, size_t off, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++) b->p[off + i] = (unsigned char)(v >> (8 * i));
}
static void twb_u16_at(twb *b, size_t off, uint16_t v)
{
    b->p[off] = (unsigned char)v, b->p[off + 1] = (unsigned char)(v >> 8);
}

/* one ADC as the twix layout defines it (twixtools' mdh_def: VD/VE a
   192-byte scan header, the evalinfo at 40, samples 48, channels 50, the
   counters Lin Ave Sli Par Eco Phs Rep Set from 52, then a 32-byte
   channel header and the samples per channel; VB a 128-byte header per
   channel, evalinfo at 20), DMA length the whole ADC's (VB: one channel's
   times the channels); sample s of channel c is (1000 a + 10 c + s, -s) */
static void twb_adc(twb *b, int vd, uint32_t eval, int X, int C, int lin, int par, int rep, int a)
{
    const size_t start = b->n;
    int c, s;
    for (c = 0; c < C; c++) {
        size_t m;
        if (vd && c == 0) twb_put(b, NULL, 192);
        m = vd ? start + 40 : b->n + 20;
        if (!vd) twb_put(b, NULL, 128);
        if (vd) twb_put(b, NULL, 32);
        twb_u32_at(b, vd ? start : b->n - 128, (uint32_t)(vd ? 192 + C * (32 + 8 * X) : C * (128 + 8 * X)));
        twb_u32_at(b, m, eval);
        twb_u16_at(b, m + 8, (uint16_t)X), twb_u16_at(b, m + 10, (uint16_t)C);
        twb_u16_at(b, m + 12, (uint16_t)lin), twb_u16_at(b, m + 12 + 6, (uint16_t)par);
        twb_u16_at(b, m + 12 + 12, (uint16_t)rep);
        for (s = 0; s < X; s++) {
            float v[2];
            v[0] = (float)(1000 * a + 10 * c + s), v[1] = (float)-s;
            twb_put(b, v, 8);
        }
    }
}

/* a file of X = 3 samples, C = 2 channels, lines 0..2 of repetitions 0..1,
   a noise ADC of 5 samples first, a phase-correction ADC, ACQEND; VD with
   two scans (the first an adjustment scan that must not be read); returns
   the end of ACQEND's header (VD/VE: its scan header, after which the
   reader needs no more) */
static size_t twb_file(twb *b, int vd)
{
    size_t acq;
    size_t scan1 = 0, scan2;
    int r, y, a = 0;
    b->n = 0;
    if (vd) {
        twb_put(b, NULL, 8 + 2 * 152);
        twb_u32_at(b, 4, 2);
        memcpy(b->p + 8 + 152 + 24, "Doe^Jane", 8);
        memcpy(b->p + 8 + 152 + 88, "gre_test", 8);
        scan1 = b->n;
        twb_put(b, NULL, 16), twb_u32_at(b, scan1, 16); /* adjustment scan: a header, one ADC, ACQEND */
        twb_adc(b, 1, 0, 2, 1, 0, 0, 0, 9);
        twb_adc(b, 1, 1u, 0, 1, 0, 0, 0, 0);
        twb_u32_at(b, 8 + 8, (uint32_t)scan1);
    }
    scan2 = b->n;
    twb_put(b, NULL, 24), twb_u32_at(b, scan2, 24);
    if (vd) twb_u32_at(b, 8 + 152 + 8, (uint32_t)scan2);
    twb_adc(b, vd, 1u << 25, 5, 2, 0, 0, 0, 0); /* NOISEADJSCAN */
    for (r = 0; r < 2; r++)
        for (y = 0; y < 3; y++) {
            if (y == 1) twb_adc(b, vd, 1u << 21, 3, 2, 1, 0, r, 0); /* PHASCOR */
            twb_adc(b, vd, 0, 3, 2, y, 0, r, ++a);
        }
    acq = b->n + (vd ? 192 : 128);
    twb_adc(b, vd, 1u, 0, 1, 0, 0, 0, 0); /* ACQEND */
    if (vd) twb_put(b, NULL, 32);
    return acq;
}

/* mv_twix_read_mem on files built here from the layout (twixtools'
   definitions): VD/VE and VB, sizes given and found (-A), the image ADCs'
   samples at their (sample, line, channel, repetition), noise and
   phase-correction ADCs skipped, the adjustment scan of a VD file not
   read; every prefix of the file an error that names an offset, never a
   crash; a DMA length below the headers, a scan count out of range, a
   wrong ADC count, channels that differ, max_bytes: their statuses.
   (bart twixread and twixtools' reader on twixtools' files:
   tests/test_tools.sh.) */
MV_TEST(cfl, twix_read_layout)
{
    twb b = {NULL, 0, 0};
    int vd;
    for (vd = 0; vd < 2; vd++) {
        mv_twix_opts o;
        mv_vol v;
        int pass;
        size_t cut, acq = twb_file(&b, vd);
        for (pass = 0; pass < 2; pass++) {
            int64_t r, y, c, s;
            memset(&o, 0, sizeof(o));
            if (pass) o.auto_dims = 1;
            else o.samples = 3, o.channels = 2, o.lines = 3, o.repetitions = 2;
            mv_vol_init(&v);
            REQUIRE_OK(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o));
            EXPECT(o.vd == vd && o.scans == (vd ? 2 : 1) && o.adcs_read == 6 && o.adcs_outside == 0);
            EXPECT(o.dims[0] == 3 && o.dims[1] == 3 && o.dims[3] == 2 && o.dims[10] == 2 && o.dims[2] == 1 &&
                   o.dims[13] == 1);
            EXPECT(!vd || (strcmp(o.patient, "Doe^Jane") == 0 && strcmp(o.protocol, "gre_test") == 0));
            REQUIRE(mv_vol_count(&v) == 3 * 3 * 2 * 2);
            for (r = 0; r < 2; r++)
                for (y = 0; y < 3; y++)
                    for (c = 0; c < 2; c++)
                        for (s = 0; s < 3; s++) {
                            const float *z = (const float *)v.data + 2 * (s + 3 * (y + 3 * (c + 2 * r)));
                            EXPECT_MSG(z[0] == (float)(1000 * (1 + y + 3 * r) + 10 * c + s) && z[1] == (float)-s,
                                       "vd %d: sample %lld of line %lld, channel %lld, rep %lld: %g %g", vd,
                                       (long long)s, (long long)y, (long long)c, (long long)r, z[0], z[1]);
                        }
            mv_free(&v);
        }
        for (cut = 0; cut < acq; cut++) { /* every prefix before ACQEND: an error, never a crash or a volume */
            mv_status st;
            memset(&o, 0, sizeof(o));
            o.auto_dims = (int)(cut & 1);
            if (!o.auto_dims) o.samples = 3, o.channels = 2, o.lines = 3, o.repetitions = 2;
            mv_vol_init(&v);
            st = mv_twix_read_mem(b.p, cut, "t.dat", &v, &o);
            EXPECT_MSG(st != MV_OK && v.data == NULL, "vd %d: %zu of %zu bytes: %s", vd, cut, b.n, mv_status_str(st));
            if (st == MV_ERR_TRUNCATED)
                EXPECT_MSG(strstr(mv_last_error(), "t.dat: ") && strstr(mv_last_error(), " at byte "), "%s",
                           mv_last_error());
        }
        memset(&o, 0, sizeof(o));
        o.samples = 3, o.channels = 2, o.lines = 2, o.repetitions = 2; /* lines 2 of 3: 2 outside, 6 read, 4 expected */
        mv_vol_init(&v);
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_BAD_DATA);
        EXPECT_MSG(strstr(mv_last_error(), "6 image ADCs read, 4 expected") != NULL, "%s", mv_last_error());
        o.adcs = 6; /* the count given: the 2 outside are skipped */
        REQUIRE_OK(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o));
        EXPECT(o.adcs_outside == 2 && o.dims[1] == 2);
        mv_free(&v);
        o.channels = 3, o.adcs = 0, o.lines = 3; /* BART: "Wrong number of channels", reading stops */
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_BAD_DATA);
        o.channels = 2, o.max_bytes = 100;
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_SIZE_OVERFLOW);
        o.max_bytes = 0, o.line_offset = 2;
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_INVALID_ARG);
        EXPECT(v.data == NULL);
    }
    /* a DMA length below the headers read; a scan count of 0 and of 40 (VD: below 64, BART's 1 .. 29) */
    {
        mv_twix_opts o;
        mv_vol v;
        twb_file(&b, 1);
        memset(&o, 0, sizeof(o));
        o.auto_dims = 1;
        mv_vol_init(&v);
        twb_u32_at(&b, (size_t)(b.p[8 + 152 + 8] | b.p[8 + 152 + 9] << 8) + 24, 100); /* the noise ADC's DMA */
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_BAD_DATA);
        EXPECT_MSG(strstr(mv_last_error(), "DMA length 100 below the 224 header bytes") != NULL, "%s", mv_last_error());
        twb_file(&b, 1);
        twb_u32_at(&b, 4, 0);
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_BAD_HEADER);
        twb_u32_at(&b, 4, 40);
        EXPECT(mv_twix_read_mem(b.p, b.n, "t.dat", &v, &o) == MV_ERR_BAD_HEADER);
        EXPECT_MSG(strstr(mv_last_error(), "scan count is 40") != NULL, "%s", mv_last_error());
        EXPECT(v.data == NULL);
    }
    free(b.p);
}
