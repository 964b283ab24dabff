/* test_runtime.c - version, statuses, error detail, threads, ISA selection,
   and the suites' shared Python results */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "testutil.h"
#include <stdlib.h>

MV_TEST(runtime, version)
{
    char want[32];
    EXPECT_EQ_INT(mv_version(), MEDVOL_VERSION_NUMBER);
    snprintf(want, sizeof(want), "%d.%d.%d", MEDVOL_VERSION_MAJOR, MEDVOL_VERSION_MINOR, MEDVOL_VERSION_PATCH);
    EXPECT_EQ_STR(MEDVOL_VERSION_STRING, want);
    EXPECT(strstr(mv_build_info(), MEDVOL_VERSION_STRING) != NULL);
}

MV_TEST(runtime, status_names)
{
    int s;
    EXPECT_EQ_STR(mv_status_str(MV_OK), "MV_OK");
    EXPECT_EQ_STR(mv_status_str(MV_ERR_TRUNCATED), "MV_ERR_TRUNCATED");
    EXPECT_EQ_STR(mv_status_str(MV_ERR_CUDA), "MV_ERR_CUDA");
    EXPECT_EQ_STR(mv_status_str((mv_status)999), "MV_ERR_?");
    for (s = 0; s < MV_STATUS_COUNT; s++) {
        EXPECT(strncmp(mv_status_str((mv_status)s), "MV_", 3) == 0);
        EXPECT(strlen(mv_status_message((mv_status)s)) > 3);
    }
    EXPECT_EQ_INT(MV_OK, 0);
}

MV_TEST(runtime, error_detail)
{
    mv_vol v;
    mv_clear_error();
    EXPECT_EQ_STR(mv_last_error(), "");
    EXPECT_STATUS(mv_vol_alloc(&v, MV_DT_F32, 8, NULL, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "ndim") != NULL);
    EXPECT_EQ_INT(mv_set_error(MV_ERR_CUDA, "device %d: %s", 3, "gone"), MV_ERR_CUDA);
    EXPECT_EQ_STR(mv_last_error(), "device 3: gone");
}

/* medvol formats its messages itself (no stdio needed): it must agree with
   the C library's printf for the conversions it supports */
MV_TEST(runtime, formatter_matches_printf)
{
    static const double dv[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1.5, 2.5, 3.14159265358979, 1e-5, 1.234e-5, 123456.0,
                                1234567.0, 1e15, 1e16, 1e300, 2.2250738585072014e-308, 65504.0, 99999.95, 0.0001,
                                348.0, 9.5367431640625e-07, 42.125, 1e21, 123.456};
    static const char *gfmts[] = {"%g", "%.3g", "%.10g", "%.17g", "%e", "%.2e", "%f", "%.3f", "%10.4g", "%-10g|"};
    char want[256];
    size_t i, k;
    for (i = 0; i < sizeof(dv) / sizeof(dv[0]); i++)
        for (k = 0; k < sizeof(gfmts) / sizeof(gfmts[0]); k++) {
            if ((gfmts[k][1] == 'f' || !strcmp(gfmts[k], "%.3f")) && fabs(dv[i]) > 1e15) continue;
            snprintf(want, sizeof(want), gfmts[k], dv[i]);
            mv_set_error(MV_ERR_IO, gfmts[k], dv[i]);
            EXPECT_MSG(strcmp(mv_last_error(), want) == 0, "%s of %.17g: \"%s\" vs printf \"%s\"", gfmts[k], dv[i],
                       mv_last_error(), want);
        }
    mv_set_error(MV_ERR_IO, "%d|%5d|%-5d|%05d|%u|%x|%X|%lld|%llu|%zu|%s|%.3s|%8s|%-4s|%c|%%|%i", -42, 7, 7, -7, 4000000000u,
                 255u, 255u, -9223372036854775807LL - 1, 18446744073709551615ULL, (size_t)12345, "abc", "abcdef", "r",
                 "l", 'Z', 3);
    snprintf(want, sizeof(want), "%d|%5d|%-5d|%05d|%u|%x|%X|%lld|%llu|%zu|%s|%.3s|%8s|%-4s|%c|%%|%i", -42, 7, 7, -7,
             4000000000u, 255u, 255u, -9223372036854775807LL - 1, 18446744073709551615ULL, (size_t)12345, "abc",
             "abcdef", "r", "l", 'Z', 3);
    EXPECT_EQ_STR(mv_last_error(), want);
    { /* random doubles of every magnitude at every precision */
        uint64_t seed = 1234;
        int bad = 0;
        for (i = 0; i < 20000 && bad < 5; i++) {
            uint64_t r = tu_rand(&seed);
            double x;
            char fmt[16];
            int prec = (int)(r % 18), kind = (int)((r >> 8) % 3);
            memcpy(&x, &r, 8);
            if (x != x) continue;
            if (kind == 2) x = ldexp((double)(r >> 11), (int)(r % 60) - 70); /* %f-friendly sizes */
            snprintf(fmt, sizeof(fmt), "%%.%d%c", prec, "gef"[kind]);
            snprintf(want, sizeof(want), fmt, x);
            mv_set_error(MV_ERR_IO, fmt, x);
            if (strcmp(mv_last_error(), want) != 0 && bad++ < 5)
                MVT_FAIL("%s of %a: \"%s\" vs printf \"%s\"", fmt, x, mv_last_error(), want);
        }
    }
    mv_set_error(MV_ERR_IO, "%g %g %g", (double)NAN, (double)INFINITY, -(double)INFINITY);
    EXPECT_EQ_STR(mv_last_error(), "nan inf -inf");
    /* truncation keeps a terminated string */
    {
        char big[400];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        mv_set_error(MV_ERR_IO, "%s", big);
        EXPECT_EQ_INT(strlen(mv_last_error()), 255);
    }
}

MV_TEST(runtime, threads)
{
    int before = mv_threads();
    EXPECT_STATUS(mv_set_threads(-1), MV_ERR_INVALID_ARG);
    EXPECT_OK(mv_set_threads(3));
#if defined(MEDVOL_NO_THREADS)
    EXPECT_EQ_INT(mv_threads(), 1);
#else
    EXPECT_EQ_INT(mv_threads(), 3);
#endif
    EXPECT_OK(mv_set_threads(0));
    EXPECT(mv_threads() >= 1);
    EXPECT_EQ_INT(mv_threads(), before);
}

MV_TEST(runtime, isa_selection)
{
    unsigned avail = mv_isa_available();
    mv_isa active = mv_isa_active(), i;
    EXPECT(avail & (1u << MV_ISA_REF));
    EXPECT(avail & (1u << active));
    EXPECT_EQ_STR(mv_isa_name(MV_ISA_AVX2), "avx2");
    EXPECT_EQ_STR(mv_isa_name((mv_isa)77), "?");
    for (i = MV_ISA_REF; i < MV_ISA_COUNT; i = (mv_isa)(i + 1)) {
        if (avail & (1u << i)) {
            EXPECT_OK(mv_set_isa(i));
            EXPECT_EQ_INT(mv_isa_active(), i);
        } else {
            EXPECT_STATUS(mv_set_isa(i), MV_ERR_UNSUPPORTED);
        }
    }
    EXPECT_STATUS(mv_set_isa((mv_isa)99), MV_ERR_UNSUPPORTED);
    EXPECT_OK(mv_set_isa(active));
#if defined(MEDVOL_NO_SIMD)
    EXPECT_EQ_INT(avail, 1u << MV_ISA_REF);
#endif
}

/* The suites of make test share Python results (MEDVOL_TEST_PYCACHE,
   tests/test_main.c): a result comes back only for the same inputs, with the
   files the script wrote, and a changed input runs the script again.
   tests/py/nib_raw.py on a small file writes IN.nib.raw beside IN (a name
   the argument begins: what BART's prefixes need too). */
static int rt_write_vol(const char *path, float base)
{
    mv_vol v;
    int64_t dims[3] = {3, 4, 2};
    int i, ok;
    if (mv_vol_alloc(&v, MV_DT_F32, 3, dims, NULL) != MV_OK) return 0;
    for (i = 0; i < 24; i++) ((float *)v.data)[i] = base + (float)i;
    ok = mv_save(path, &v, NULL) == MV_OK;
    mv_free(&v);
    return ok;
}

static int rt_raw_is(const char *nii, float base)
{
    char raw[1100];
    size_t len = 0;
    float *x;
    int i, ok;
    snprintf(raw, sizeof(raw), "%s.nib.raw", nii);
    x = (float *)tu_read_file(raw, &len);
    ok = x != NULL && len == 24 * sizeof(float);
    for (i = 0; ok && i < 24; i++) ok = x[i] == base + (float)i;
    free(x);
    return ok;
}

MV_TEST(runtime, pycache_keys_every_input)
{
    const char *old = getenv("MEDVOL_TEST_PYCACHE");
    char saved[1024] = "", nii[1024], raw[1100], out[64];
    int runs0, hits0, runs, hits;
    if (!tu_python("numpy nibabel")) SKIP("needs /usr/bin/python3 with numpy and nibabel");
    if (old) snprintf(saved, sizeof(saved), "%s", old);
    snprintf(nii, sizeof(nii), "%s", tu_path("pycache_in.nii"));
    snprintf(raw, sizeof(raw), "%s.nib.raw", nii);
    REQUIRE(rt_write_vol(nii, 1.0f));
    REQUIRE(setenv("MEDVOL_TEST_PYCACHE", tu_path("pycache_own"), 1) == 0);
    tu_pycache_counts(&runs0, &hits0);
    /* first: Python runs and its result is kept */
    EXPECT(tu_run_py("nib_raw.py", nii, out, sizeof(out)) == 0 && !strncmp(out, "ok", 2));
    EXPECT(rt_raw_is(nii, 1.0f));
    tu_pycache_counts(&runs, &hits);
    EXPECT_EQ_INT(runs - runs0, 1);
    EXPECT_EQ_INT(hits - hits0, 0);
    /* the same input again: the kept stdout and the file it wrote, no Python */
    remove(raw);
    out[0] = 0;
    EXPECT(tu_run_py("nib_raw.py", nii, out, sizeof(out)) == 0 && !strncmp(out, "ok", 2));
    EXPECT_MSG(rt_raw_is(nii, 1.0f), "the kept %s was not put back", raw);
    tu_pycache_counts(&runs, &hits);
    EXPECT_EQ_INT(runs - runs0, 1);
    EXPECT_EQ_INT(hits - hits0, 1);
    /* other voxels in the same file: Python runs again, on them */
    EXPECT(rt_write_vol(nii, 100.0f));
    remove(raw);
    EXPECT(tu_run_py("nib_raw.py", nii, out, sizeof(out)) == 0 && !strncmp(out, "ok", 2));
    EXPECT_MSG(rt_raw_is(nii, 100.0f), "a changed input was answered with the old result");
    tu_pycache_counts(&runs, &hits);
    EXPECT_EQ_INT(runs - runs0, 2);
    EXPECT_EQ_INT(hits - hits0, 1);
    if (saved[0]) setenv("MEDVOL_TEST_PYCACHE", saved, 1);
    else unsetenv("MEDVOL_TEST_PYCACHE");
}
