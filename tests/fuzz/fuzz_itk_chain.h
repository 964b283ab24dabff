/* fuzz_itk_chain.h - the check fuzz_text.c and fuzz_h5.c both make of
   mv_itk_transform_parse (ITK .tfm, .mat and .h5 files as a transform
   chain, B-splines included): a parse that fails leaves the chain NULL; one
   that succeeds gives dimension 2 or 3 and 1 .. MV_ELASTIX_MAX_CHAIN
   links, a matrix exactly when every link is linear (or MV_ERR_BAD_DATA
   when its products overflow), a point, a field, a Jacobian and its matrix
   on a 2x2x2 grid, and refuses a field without a grid (it has none); the
   chain written back by mv_itk_write_transform (an .h5, and a .tfm, in
   the temporary folder) must read back with the same dimension and no
   more links (runs of matrices are folded); written as elastix files by
   mv_elastix_write_transform on the 2x2x2 grid, it must read back with
   the same dimension and links. A broken invariant aborts. */
#ifndef FUZZ_ITK_CHAIN_H
#define FUZZ_ITK_CHAIN_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* t written as an ITK file at a temporary path ending ext and read back */
static void fz_itk_rewrite(const mv_elastix_transform *t, const char *ext)
{
    char path[256];
    const char *dir = getenv("TMPDIR");
    mv_elastix_transform *u = NULL;
    mv_status st;
    snprintf(path, sizeof(path), "%s/fz_itkw_%ld%s", dir && *dir ? dir : "/tmp", (long)getpid(), ext);
    st = mv_itk_write_transform(path, t, 0);
    if (st == MV_ERR_BAD_DATA) return; /* matrices that compose to one not finite */
    if (st != MV_OK) abort();          /* (an ITK chain has no Add nor nearest field) */
    if (mv_itk_transform_read(path, &u, NULL) != MV_OK) abort();
    if (mv_elastix_ndim(u) != mv_elastix_ndim(t) || mv_elastix_links(u) > mv_elastix_links(t)) abort();
    mv_elastix_free(u);
    remove(path);
}

/* t written as elastix files (on ref's grid) and read back: the same
   dimension and links; every file removed */
static void fz_elx_rewrite(const mv_elastix_transform *t, const mv_vol *ref)
{
    char path[256], name[300];
    const char *dir = getenv("TMPDIR");
    mv_elastix_transform *u = NULL;
    mv_status st;
    int k, n = mv_elastix_links(t);
    snprintf(path, sizeof(path), "%s/fz_elxw_%ld", dir && *dir ? dir : "/tmp", (long)getpid());
    snprintf(name, sizeof(name), "%s.txt", path);
    st = mv_elastix_write_transform(name, t, ref, MV_INTERP_LINEAR);
    if (st == MV_ERR_BAD_DATA) return; /* a field vector past float32's range, matrices composed past double's */
    if (st != MV_OK) abort();
    if (mv_elastix_read(name, &u, NULL) != MV_OK) abort();
    if (mv_elastix_ndim(u) != mv_elastix_ndim(t) || mv_elastix_links(u) != n) abort();
    mv_elastix_free(u);
    for (k = 0; k < n; k++) {
        if (k) snprintf(name, sizeof(name), "%s-%d.txt", path, k);
        remove(name);
        snprintf(name, sizeof(name), k ? "%s-%d-field.mha" : "%s-field.mha", path, k);
        remove(name);
    }
}

static void fz_itk_chain(const uint8_t *data, size_t size)
{
    mv_elastix_transform *t = (mv_elastix_transform *)&t; /* a parse that fails sets it to NULL */
    const double p[3] = {1.5, -2.25, 3};
    double q[3], m[4][4];
    int64_t dims[3] = {2, 2, 2};
    mv_vol ref, f;
    mv_status st;
    if (mv_itk_transform_parse(data, size, &t, NULL) != MV_OK) {
        if (t) abort();
        return;
    }
    if (!t || (mv_elastix_ndim(t) != 2 && mv_elastix_ndim(t) != 3)) abort();
    if (mv_elastix_links(t) < 1 || mv_elastix_links(t) > MV_ELASTIX_MAX_CHAIN) abort();
    st = mv_elastix_matrix(t, m);
    if (mv_elastix_is_linear(t) ? st != MV_OK && st != MV_ERR_BAD_DATA : st != MV_ERR_UNSUPPORTED) abort();
    if (mv_elastix_point(t, p, q) != MV_OK) abort();
    mv_vol_init(&f);
    if (mv_elastix_field(t, NULL, &f, NULL) != MV_ERR_INVALID_ARG) abort();
    if (mv_elastix_ndim(t) == 2) dims[2] = 1;
    if (mv_vol_alloc(&ref, MV_DT_U8, 3, dims, NULL) == MV_OK) {
        if (mv_elastix_field(t, &ref, &f, NULL) == MV_OK) mv_free(&f);
        if (mv_elastix_jacobian(t, &ref, &f, NULL) == MV_OK) mv_free(&f);
        if (mv_elastix_jacobian_matrix(t, &ref, &f, NULL) == MV_OK) mv_free(&f);
        fz_elx_rewrite(t, &ref);
        mv_free(&ref);
    }
    fz_itk_rewrite(t, ".h5");
    fz_itk_rewrite(t, ".tfm");
    mv_elastix_free(t);
}
#endif
