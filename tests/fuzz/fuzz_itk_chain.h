/* fuzz_itk_chain.h - the check fuzz_text.c and fuzz_h5.c both make of
   mv_itk_transform_parse (ITK .tfm, .mat and .h5 files as a transform
   chain, B-splines included): a parse that fails leaves the chain NULL; one
   that succeeds gives dimension 2 or 3 and 1 .. MV_ELASTIX_MAX_CHAIN
   links, a matrix exactly when every link is linear (or MV_ERR_BAD_DATA
   when its products overflow), a point, a field, a Jacobian and its matrix
   on a 2x2x2 grid, and refuses a field without a grid (it has none). A
   broken invariant aborts. */
#ifndef FUZZ_ITK_CHAIN_H
#define FUZZ_ITK_CHAIN_H
#include <stdlib.h>

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
        mv_free(&ref);
    }
    mv_elastix_free(t);
}
#endif
