/* libFuzzer target: the transform-file parsers of the registration API.
   The input is split at its first NUL byte into text A and text B (B
   empty without a NUL; each made NUL-terminated):
   - mv_matrix_parse(A) and mv_itk_tfm_parse(A): a parse that succeeds
     gives 16 finite numbers with the bottom row 0 0 0 1, and survives a
     round trip (mv_matrix_format then mv_matrix_parse: the same bits;
     mv_itk_tfm_format then mv_itk_tfm_parse: within 1e-9 of the largest
     entry, the LPS flips and the centre being float64 arithmetic);
   - mv_elastix_parse(A) (elastix TransformParameters): a file that parses
     gives a finite matrix when linear, a field and points when not; B
     then as transformix's point file through it (outputpoints.txt: the
     size asked first, then the text of that size, a line per point) and
     B's bytes (NULs and all) as a VTK PolyData file through it
     (outputpoints.vtk: the size asked, then that many bytes, beginning
     with the input's first line);
   - mv_elastix_points_parse(A) in 2D and 3D: count x ndim finite numbers;
   - mv_itk_transform_parse(the whole input) (an ITK .tfm, .mat or .h5 as
     a transform chain, B-splines included): fz_itk_chain (fuzz_itk_chain.h);
   - mv_itk_mat_parse(the whole input) (ITK's MATLAB .mat transforms): a
     parse that succeeds gives what fz_matrix_ok asks, and the same doubles
     after a round trip through mv_itk_mat_format (3D);
   - mv_pyramid_schedule_parse(A, B) and (A, NULL): a parse that succeeds
     gives 1 .. MV_PYRAMID_MAX_LEVELS levels of finite shrink factors >= 1
     and finite sigmas >= 0.
   A broken invariant aborts, so the fuzzer reports it. Built by `make fuzz`
   or with fuzz_main.c as a replayer. */
#ifndef MEDVOL_FUZZ_LINKED /* make fuzz links build/fuzz-O1/medvol.o instead */
#define MEDVOL_IMPLEMENTATION
#endif
#include "../../medvol.h"
#include "fuzz_itk_chain.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_matrix_ok(const double m[4][4])
{
    int r, c;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            if (!isfinite(m[r][c])) abort();
    if (m[3][0] != 0 || m[3][1] != 0 || m[3][2] != 0 || m[3][3] != 1) abort();
}

static void fz_matrix(const char *text)
{
    double m[4][4], w[4][4], big = 0;
    char buf[4096];
    int r, c;
    if (mv_matrix_parse(text, m) == MV_OK) {
        fz_matrix_ok((const double(*)[4])m);
        if (mv_matrix_format((const double(*)[4])m, buf, sizeof(buf)) != MV_OK) abort();
        if (mv_matrix_parse(buf, w) != MV_OK || memcmp(m, w, sizeof(m))) abort();
    }
    if (mv_itk_tfm_parse(text, m) == MV_OK) {
        fz_matrix_ok((const double(*)[4])m);
        for (r = 0; r < 3; r++)
            for (c = 0; c < 4; c++) big = fabs(m[r][c]) > big ? fabs(m[r][c]) : big;
        if (big > 1e300) return; /* the format's products may overflow; nothing to compare */
        if (mv_itk_tfm_format((const double(*)[4])m, 3, buf, sizeof(buf)) != MV_OK) abort();
        if (mv_itk_tfm_parse(buf, w) != MV_OK) abort();
        for (r = 0; r < 4; r++)
            for (c = 0; c < 4; c++)
                if (!(fabs(m[r][c] - w[r][c]) <= 1e-9 * (big > 1 ? big : 1))) abort();
    }
}

static void fz_points(const mv_elastix_transform *t, const char *text, int nd);
static void fz_vtk(const mv_elastix_transform *t, const uint8_t *in, size_t len);

/* mv_elastix_parse(A): a parse that succeeds gives dimension 2 or 3 and one
   link; a linear one a finite matrix (or MV_ERR_BAD_DATA when its products
   overflow); any kind a field, a Jacobian and its matrix on a 2x2x2 grid
   (the file's own Size may be huge), points through the chain, its
   resampling settings and B as its point file, without a crash or a leak */
static void fz_elastix(const char *text, const char *points, const uint8_t *vtk, size_t vtk_len)
{
    mv_elastix_transform *t = NULL;
    double m[4][4];
    const double p[3] = {1.5, -2.25, 3};
    double q[3];
    mv_vol ref, f;
    int64_t dims[3] = {2, 2, 2};
    if (mv_elastix_parse(text, &t, NULL) != MV_OK) {
        if (t) abort();
        return;
    }
    if (mv_elastix_ndim(t) != 2 && mv_elastix_ndim(t) != 3) abort();
    if (mv_elastix_links(t) != 1) abort();
    if (mv_elastix_is_linear(t)) {
        mv_status st = mv_elastix_matrix(t, m);
        if (st == MV_OK) fz_matrix_ok((const double(*)[4])m);
        else if (st != MV_ERR_BAD_DATA) abort();
    } else if (mv_elastix_matrix(t, m) != MV_ERR_UNSUPPORTED) {
        abort();
    }
    if (mv_elastix_point(t, p, q) != MV_OK) abort();
    if (mv_elastix_ndim(t) == 2) dims[2] = 1;
    if (mv_vol_alloc(&ref, MV_DT_U8, 3, dims, NULL) == MV_OK) {
        mv_vol_init(&f);
        if (mv_elastix_field(t, &ref, &f, NULL) == MV_OK) mv_free(&f);
        if (mv_elastix_jacobian(t, &ref, &f, NULL) == MV_OK) mv_free(&f);
        if (mv_elastix_jacobian_matrix(t, &ref, &f, NULL) == MV_OK) mv_free(&f);
        mv_free(&ref);
    }
    {
        mv_elastix_output eo;
        if (mv_elastix_output_opts(t, &eo) == MV_OK && (eo.dtype == MV_DT_UNKNOWN || eo.format[sizeof(eo.format) - 1] != 0))
            abort();
    }
    fz_points(t, points, mv_elastix_ndim(t));
    fz_vtk(t, vtk, vtk_len);
    mv_elastix_free(t);
}

/* mv_elastix_vtk_format(t, in): a file that reads gives the size first,
   then exactly that many bytes, which begin with the input's first line
   (the header is copied as it is) */
static void fz_vtk(const mv_elastix_transform *t, const uint8_t *in, size_t len)
{
    size_t need = 0, got = 0;
    unsigned char *buf;
    mv_status st = mv_elastix_vtk_format(t, in, len, NULL, 0, &need);
    if (st != MV_ERR_BUFFER_TOO_SMALL) return; /* the file is refused: with a message, checked by the tests */
    if (need < 23 || !(buf = (unsigned char *)malloc(need))) abort();
    if (mv_elastix_vtk_format(t, in, len, buf, need, &got) != MV_OK || got != need || memcmp(buf, in, 22)) abort();
    free(buf);
}

/* mv_elastix_points_parse(text, nd): a parse that succeeds gives count x
   nd finite numbers; through t (when given) the text of the size asked,
   one "Point" line per point, with and without a moving grid */
static void fz_points(const mv_elastix_transform *t, const char *text, int nd)
{
    mv_elastix_points pts;
    mv_vol mo;
    int64_t i;
    int k;
    if (mv_elastix_points_parse(text, nd, &pts, NULL) != MV_OK) {
        if (pts.p || pts.count) abort();
        return;
    }
    if (pts.count < 0 || (pts.count > 0 && !pts.p) || pts.ndim != nd) abort();
    for (i = 0; i < pts.count * nd; i++)
        if (!isfinite(pts.p[i])) abort();
    mv_vol_init(&mo);
    mo.ndim = 3;
    mo.dim[0] = mo.dim[1] = 4, mo.dim[2] = nd == 2 ? 1 : 4;
    mo.affine[0][0] = -0.5, mo.affine[0][1] = 0.25, mo.affine[1][1] = 2, mo.affine[2][2] = 1.5, mo.affine[3][3] = 1;
    mo.affine[0][3] = 3, mo.affine[1][3] = -7;
    for (k = 0; t && k < 2; k++) {
        static const char first[] = "Point\t0\t; InputIndex = [ ";
        size_t len = 0, len2 = 0;
        char *buf;
        int64_t lines = 0;
        mv_status st = mv_elastix_points_format(t, &pts, k ? &mo : NULL, NULL, 0, &len);
        if (st != MV_ERR_BUFFER_TOO_SMALL) {
            if (st != MV_ERR_BAD_DATA) abort(); /* a point beyond 2^53 of a grid */
            continue;
        }
        if (len < 1 || !(buf = (char *)malloc(len))) abort();
        if (mv_elastix_points_format(t, &pts, k ? &mo : NULL, buf, len, &len2) != MV_OK || len2 != len ||
            strlen(buf) != len - 1)
            abort();
        for (i = 0; i + 1 < (int64_t)len; i++)
            if (buf[i] == '\n') lines++;
        if (lines != pts.count || (pts.count && strncmp(buf, first, strlen(first)))) abort();
        free(buf);
    }
    mv_elastix_points_free(&pts);
}

/* mv_itk_mat_parse(data): a finite matrix; written back as a 3D affine
   (centre 0) and read again: the same doubles (the LPS flips are exact) */
static void fz_itk_mat(const uint8_t *data, size_t size)
{
    double m[4][4], m2[4][4];
    unsigned char buf[512];
    size_t len = 0;
    int r, c;
    if (mv_itk_mat_parse(data, size, m) != MV_OK) return;
    fz_matrix_ok((const double(*)[4])m);
    if (mv_itk_mat_format((const double(*)[4])m, 3, buf, sizeof(buf), &len) != MV_OK || len != 193) abort();
    if (mv_itk_mat_parse(buf, len, m2) != MV_OK) abort();
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            if (m2[r][c] != m[r][c]) abort();
}

static void fz_schedule(const char *levels, const char *smooth)
{
    mv_pyramid_schedule s;
    int l, a;
    memset(&s, 0, sizeof(s));
    if (mv_pyramid_schedule_parse(levels, smooth, &s) != MV_OK) return;
    if (s.nlevels < 1 || s.nlevels > MV_PYRAMID_MAX_LEVELS) abort();
    for (l = 0; l < s.nlevels; l++)
        for (a = 0; a < 3; a++)
            if (!(s.shrink[l][a] >= 1) || !isfinite(s.shrink[l][a]) || !(s.sigma[l][a] >= 0) || !isfinite(s.sigma[l][a]))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = (const uint8_t *)memchr(data, 0, size);
    size_t alen = nul ? (size_t)(nul - data) : size, blen = nul ? size - alen - 1 : 0;
    char *a = (char *)malloc(alen + 1), *b = (char *)malloc(blen + 1);
    if (!a || !b) {
        free(a);
        free(b);
        return 0;
    }
    memcpy(a, data, alen);
    a[alen] = 0;
    if (blen) memcpy(b, nul + 1, blen);
    b[blen] = 0;
    fz_itk_mat(data, size);
    fz_itk_chain(data, size);
    fz_matrix(a);
    fz_elastix(a, b, nul ? nul + 1 : NULL, blen);
    fz_points(NULL, a, 2);
    fz_points(NULL, a, 3);
    fz_schedule(a, nul ? b : NULL);
    fz_schedule(a, NULL);
    free(a);
    free(b);
    return 0;
}
