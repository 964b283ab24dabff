/* mvbench_morph.c - >>api-morph as flat functions for bench/morph_vs_peers.py
   (the conventions of mvbench.c: x-fastest buffers, numpy's Fortran order of
   an (nx, ny, nz) array; threads 0 = all cores). Each writes into a caller
   buffer (the _into form) with caller scratch when one is given (scratch
   NULL: the call allocates its own, as mv_label etc. do). */
#include "../medvol.h"

#include <string.h>

#include "mvbench.h"

static void mvb_wrap_u8(mv_vol *v, const unsigned char *p, int64_t nx, int64_t ny, int64_t nz)
{
    int64_t d[3];
    d[0] = nx;
    d[1] = ny;
    d[2] = nz;
    mv_vol_wrap(v, (void *)(uintptr_t)p, MV_DT_U8, 3, d);
}

static void mvb_wrap_dt(mv_vol *v, void *p, mv_dtype dt, int64_t nx, int64_t ny, int64_t nz)
{
    int64_t d[3];
    d[0] = nx;
    d[1] = ny;
    d[2] = nz;
    mv_vol_wrap(v, p, dt, 3, d);
}

static mv_label_opts mvb_lopts(int conn, int threads, void *scratch, size_t size)
{
    mv_label_opts o;
    memset(&o, 0, sizeof(o));
    o.connectivity = conn;
    o.threads = threads;
    o.scratch = scratch;
    o.scratch_size = size;
    return o;
}
static mv_edt_opts mvb_eopts(double sx, double sy, double sz, int threads, void *scratch, size_t size)
{
    mv_edt_opts o;
    memset(&o, 0, sizeof(o));
    o.spacing[0] = sx;
    o.spacing[1] = sy;
    o.spacing[2] = sz;
    o.threads = threads;
    o.scratch = scratch;
    o.scratch_size = size;
    return o;
}
static mv_morph_opts mvb_mopts(double radius, int threads, void *scratch, size_t size)
{
    mv_morph_opts o;
    memset(&o, 0, sizeof(o));
    o.shape = MV_SE_BALL;
    o.radius = radius;
    o.threads = threads;
    o.scratch = scratch;
    o.scratch_size = size;
    return o;
}

/* scratch bytes of each (the same options as the call; the size depends on
   the shape only, so a stand-in voxel pointer does) */
static unsigned char mvb_any;
size_t mvb_label_scratch(int64_t nx, int64_t ny, int64_t nz, int conn, int threads)
{
    mv_vol v;
    mv_label_opts o = mvb_lopts(conn, threads, NULL, 0);
    mvb_wrap_u8(&v, &mvb_any, nx, ny, nz);
    return mv_label_scratch_size(&v, &o);
}
size_t mvb_edt_scratch(int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz, int threads)
{
    mv_vol v;
    mv_edt_opts o = mvb_eopts(sx, sy, sz, threads, NULL, 0);
    mvb_wrap_u8(&v, &mvb_any, nx, ny, nz);
    return mv_edt_scratch_size(&v, &o);
}
size_t mvb_erode_scratch(int64_t nx, int64_t ny, int64_t nz, double radius, int threads)
{
    mv_vol v;
    mv_morph_opts o = mvb_mopts(radius, threads, NULL, 0);
    mvb_wrap_u8(&v, &mvb_any, nx, ny, nz);
    return mv_morph_scratch_size(&v, MV_MORPH_ERODE, &o);
}

/* labels (int32, scipy.ndimage.label's order on the (nx, ny, nz) array) */
int mvb_label_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, int conn, int32_t *out, int threads,
                   void *scratch, size_t size, int64_t *nlabels)
{
    mv_vol v, o;
    mv_label_opts lo = mvb_lopts(conn, threads, scratch, size);
    mvb_wrap_u8(&v, m, nx, ny, nz);
    mvb_wrap_dt(&o, out, MV_DT_I32, nx, ny, nz);
    return (int)mv_label_into(&v, &o, nlabels, &lo);
}

/* the distance of foreground voxels to the background (float32) */
int mvb_edt_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                 float *out, int threads, void *scratch, size_t size)
{
    mv_vol v, o;
    mv_edt_opts eo = mvb_eopts(sx, sy, sz, threads, scratch, size);
    mvb_wrap_u8(&v, m, nx, ny, nz);
    mvb_wrap_dt(&o, out, MV_DT_F32, nx, ny, nz);
    return (int)mv_edt_into(&v, &o, &eo);
}

/* binary erosion by the ball of radius r voxels (uint8 0/1) */
int mvb_erode_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, double radius, unsigned char *out,
                   int threads, void *scratch, size_t size)
{
    mv_vol v, o;
    mv_morph_opts mo = mvb_mopts(radius, threads, scratch, size);
    mvb_wrap_u8(&v, m, nx, ny, nz);
    mvb_wrap_dt(&o, out, MV_DT_U8, nx, ny, nz);
    return (int)mv_morph_into(&v, MV_MORPH_ERODE, &o, &mo);
}

/* the largest 26-component (ties: the first in scipy's order) as label 1 */
int mvb_label_largest_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, int conn, int32_t *out,
                           int threads, int64_t *nlabels)
{
    mv_vol v, o;
    mv_label_opts lo = mvb_lopts(conn, threads, NULL, 0);
    lo.largest = 1;
    mvb_wrap_u8(&v, m, nx, ny, nz);
    mvb_wrap_dt(&o, out, MV_DT_I32, nx, ny, nz);
    return (int)mv_label_into(&v, &o, nlabels, &lo);
}
