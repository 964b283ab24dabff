/* mvbench_resample.c - resampling for bench/bench.py (see mvbench.c).
   The Makefile links this file into build/libmvbench.so only when medvol.h
   declares mv_resample_shape; without it the driver reports medvol's
   resample rows as "n/a" and still times the peers.
   Trilinear, field of view kept (voxel edges align, samples outside the
   input take the nearest edge voxel): scipy.ndimage.zoom(order=1,
   grid_mode=True, mode='nearest'), torch interpolate(align_corners=False). */
#include "../medvol.h"

#include <string.h>

#include "mvbench.h"

static mv_resample_opts mvb_ropts(int threads)
{
    mv_resample_opts o;
    memset(&o, 0, sizeof(o));
    o.interp = MV_INTERP_LINEAR;
    o.threads = threads;
    return o;
}

int mvb_resample_shape(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                       int threads, void **h)
{
    mv_vol a, v;
    mv_resample_opts o = mvb_ropts(threads);
    int64_t shape[3];
    shape[0] = tx;
    shape[1] = ty;
    shape[2] = tz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_result(&v, (int)mv_resample_shape(&a, &v, shape, &o), h);
}

/* input spacing is 1 mm on every axis (mvb_wrap_f32) */
int mvb_resample_spacing(const float *in, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                         int threads, void **h)
{
    mv_vol a, v;
    mv_resample_opts o = mvb_ropts(threads);
    double sp[3];
    sp[0] = sx;
    sp[1] = sy;
    sp[2] = sz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_result(&v, (int)mv_resample_spacing(&a, &v, sp, &o), h);
}

/* To shape with any interpolation (0 linear, 1 nearest, 2 cubic: mv_interp's
   values), float32 out: for bench/resample_vs_scipy.py */
int mvb_resample_shape_interp(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                              int interp, int threads, void **h)
{
    mv_vol a, v;
    mv_resample_opts o = mvb_ropts(threads);
    int64_t shape[3];
    o.interp = (mv_interp)interp;
    o.dtype = MV_DT_F32;
    shape[0] = tx;
    shape[1] = ty;
    shape[2] = tz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_result(&v, (int)mv_resample_shape(&a, &v, shape, &o), h);
}
