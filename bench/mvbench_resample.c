/* mvbench_resample.c - resampling for bench/bench.py (see mvbench.c).
   The Makefile links this file into build/libmvbench.so only when medvol.h
   declares mv_resample_shape; without it the driver reports medvol's
   resample rows as "n/a" and still times the peers.
   Field of view kept (voxel edges align; samples outside the input continue
   the edge): trilinear = scipy.ndimage.zoom(order=1, grid_mode=True,
   mode='nearest'), torch interpolate(align_corners=False); cubic = B-spline
   with prefilter, scipy zoom(order=3, grid_mode=True, mode='nearest').
   interp: 0 = trilinear, 1 = nearest, 2 = cubic (mv_interp's values). */
#include "../medvol.h"

#include <string.h>

#include "mvbench.h"

static mv_resample_opts mvb_ropts(int interp, int threads)
{
    mv_resample_opts o;
    memset(&o, 0, sizeof(o));
    o.interp = interp == 2 ? MV_INTERP_CUBIC : interp == 1 ? MV_INTERP_NEAREST : MV_INTERP_LINEAR;
    o.threads = threads;
    return o;
}

int mvb_resample_shape_interp(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                              int interp, int threads, void **h)
{
    mv_vol a, v;
    mv_resample_opts o = mvb_ropts(interp, threads);
    int64_t shape[3];
    shape[0] = tx;
    shape[1] = ty;
    shape[2] = tz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_result(&v, (int)mv_resample_shape(&a, &v, shape, &o), h);
}

int mvb_resample_shape(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                       int threads, void **h)
{
    return mvb_resample_shape_interp(in, nx, ny, nz, tx, ty, tz, 0, threads, h);
}

/* input spacing is 1 mm on every axis (mvb_wrap_f32) */
int mvb_resample_spacing_interp(const float *in, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                                int interp, int threads, void **h)
{
    mv_vol a, v;
    mv_resample_opts o = mvb_ropts(interp, threads);
    double sp[3];
    sp[0] = sx;
    sp[1] = sy;
    sp[2] = sz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_result(&v, (int)mv_resample_spacing(&a, &v, sp, &o), h);
}

int mvb_resample_spacing(const float *in, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                         int threads, void **h)
{
    return mvb_resample_spacing_interp(in, nx, ny, nz, sx, sy, sz, 0, threads, h);
}

/* to shape (tx, ty, tz) into a warm caller buffer (float32 of that shape):
   mv_resample_into with zoom's voxel map, input coordinate
   (o + 0.5) * n / t - 0.5 per axis. Cubic allocates its coefficient volume
   (no opts.scratch), as the allocating form does. */
int mvb_resample_shape_into(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                            int interp, float *out, int threads)
{
    mv_vol a, b;
    mv_resample_opts o = mvb_ropts(interp, threads);
    double m[4][4];
    const int64_t n[3] = {nx, ny, nz}, t[3] = {tx, ty, tz};
    int r, c;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++) m[r][c] = r == c ? 1.0 : 0.0;
    for (r = 0; r < 3; r++) {
        m[r][r] = (double)n[r] / (double)t[r];
        m[r][3] = 0.5 * (double)n[r] / (double)t[r] - 0.5;
    }
    mvb_wrap_f32(&a, in, nx, ny, nz);
    mvb_wrap_f32(&b, out, tx, ty, tz);
    return (int)mv_resample_into(&a, &b, (const double(*)[4])m, &o);
}
