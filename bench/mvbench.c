/* mvbench.c - the C side of bench/bench.py: medvol's operations as flat
   functions that ctypes can call without knowing any struct layout.

   Built by `make bench` as build/libmvbench.so (-O2 -fPIC -shared
   -DMEDVOL_RUNTIME_DISPATCH -ffp-contract=off), together with
   bench/mvbench_resample.c when medvol.h has the resample API.

   Conventions
   - Arrays are numpy-owned buffers in medvol's layout: voxel (i, j, k) at
     data[i + nx*(j + ny*k)], which is numpy's Fortran order of an
     (nx, ny, nz) array (what nibabel returns). The Python side passes
     np.asfortranarray buffers.
   - Every operation returns an mv_status (0 = MV_OK) and, through *h, a
     handle to the mv_vol medvol allocated (the allocating form of the
     operation, as a user calls it: fresh memory, huge pages). The Python
     side wraps mvb_data(h) as a numpy array without a copy and releases it
     with mvb_free(h). Timing covers the operation call only.
   - threads: medvol's per-call thread count (1 = the caller's thread only,
     0 = the library default, which is every online core). */
#define MEDVOL_IMPLEMENTATION
#include "../medvol.h"

#include <stdlib.h>
#include <string.h>

#include "mvbench.h"

/* ---- handles: an mv_vol the library allocated ---- */

static mv_status mvb_wrap_out(mv_vol *tmp, mv_status st, void **h)
{
    mv_vol *v;
    *h = NULL;
    if (st != MV_OK) return st;
    v = (mv_vol *)malloc(sizeof(*v));
    if (!v) {
        mv_free(tmp);
        return MV_ERR_OUT_OF_MEMORY;
    }
    *v = *tmp;
    mv_vol_init(tmp); /* the handle owns it; a stale copy must not pass for an output (medvol.h MEMORY) */
    *h = v;
    return MV_OK;
}

int mvb_wrap_result(mv_vol *tmp, int st, void **h) { return (int)mvb_wrap_out(tmp, (mv_status)st, h); }

void *mvb_data(void *h) { return ((mv_vol *)h)->data; }
int mvb_dtype(void *h) { return (int)((mv_vol *)h)->dtype; }
int mvb_ndim(void *h) { return ((mv_vol *)h)->ndim; }
int64_t mvb_dim(void *h, int axis) { return ((mv_vol *)h)->dim[axis]; }
double mvb_spacing(void *h, int axis) { return ((mv_vol *)h)->spacing[axis]; }
void mvb_free(void *h)
{
    if (!h) return;
    mv_free((mv_vol *)h);
    free(h);
}

/* ---- runtime ---- */
const char *mvb_build_info(void) { return mv_build_info(); }
const char *mvb_last_error(void) { return mv_last_error(); }
const char *mvb_status_str(int st) { return mv_status_str((mv_status)st); }
int mvb_threads(void) { return mv_threads(); }
int mvb_dt_f32(void) { return (int)MV_DT_F32; }
int mvb_dt_i16(void) { return (int)MV_DT_I16; }

/* a float32 3D volume around caller memory: identity affine, spacing 1 */
void mvb_wrap_f32(mv_vol *v, const float *in, int64_t nx, int64_t ny, int64_t nz)
{
    int64_t d[3];
    d[0] = nx;
    d[1] = ny;
    d[2] = nz;
    mv_vol_wrap(v, (void *)(uintptr_t)in, MV_DT_F32, 3, d);
}

/* ---- inputs: the smooth phantom (blobs + noise, [0, 1000]) ---- */
int mvb_phantom(int dtype, int64_t nx, int64_t ny, int64_t nz, uint32_t seed, void *out)
{
    mv_vol v;
    mv_status st = mv_phantom_smooth(&v, (mv_dtype)dtype, nx, ny, nz, seed);
    if (st != MV_OK) return st;
    memcpy(out, v.data, mv_vol_bytes(&v));
    mv_free(&v);
    return MV_OK;
}

/* saves a 3D int16 or float32 volume (identity affine, spacing 1) with the
   given NIfTI scaling; .nii.gz compresses at gzip level `level` (0 = 6) */
int mvb_save(const char *path, const void *in, int dtype, int64_t nx, int64_t ny, int64_t nz, double slope,
             double inter, int level, int threads)
{
    mv_vol v;
    mv_save_opts so;
    int64_t d[3];
    mv_status st;
    d[0] = nx;
    d[1] = ny;
    d[2] = nz;
    st = mv_vol_wrap(&v, (void *)(uintptr_t)in, (mv_dtype)dtype, 3, d);
    if (st != MV_OK) return st;
    v.meta.scl_slope = slope;
    v.meta.scl_inter = inter;
    memset(&so, 0, sizeof(so));
    so.gzip.level = level;
    so.gzip.threads = threads;
    return mv_save(path, &v, &so);
}

/* ---- loads ---- */

/* the whole volume as scaled float32 in memory: mmap 0 = read into fresh
   memory (MV_MMAP_NEVER), 1 = auto (a mapping when no conversion is needed) */
int mvb_load(const char *path, int mmap_ok, int threads, void **h)
{
    mv_vol v;
    mv_load_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.scaled = 1;
    lo.mmap = mmap_ok ? MV_MMAP_AUTO : MV_MMAP_NEVER;
    lo.threads = threads;
    return mvb_wrap_out(&v, mv_load(path, &v, &lo), h);
}

/* crop-first: only the box start[0..2] + size[0..2] is read (and, for
   .nii.gz, only the gzip members it needs are decoded) */
int mvb_load_box(const char *path, int64_t x0, int64_t y0, int64_t z0, int64_t sx, int64_t sy, int64_t sz, int threads,
                 void **h)
{
    mv_vol v;
    mv_load_opts lo;
    memset(&lo, 0, sizeof(lo));
    lo.scaled = 1;
    lo.box_start[0] = x0;
    lo.box_start[1] = y0;
    lo.box_start[2] = z0;
    lo.box_size[0] = sx;
    lo.box_size[1] = sy;
    lo.box_size[2] = sz;
    lo.threads = threads;
    return mvb_wrap_out(&v, mv_load(path, &v, &lo), h);
}

/* load + z-normalize in one pass (mv_pipeline_load), float32 out */
int mvb_load_znorm(const char *path, int threads, void **h)
{
    mv_vol v;
    mv_pipeline_opts po;
    mv_op op = mv_op_znorm(0);
    memset(&po, 0, sizeof(po));
    po.threads = threads;
    return mvb_wrap_out(&v, mv_pipeline_load(path, &op, 1, &v, &po), h);
}

/* ---- intensity: float32 in, float32 out ---- */
static mv_intensity_opts mvb_iopts(int threads)
{
    mv_intensity_opts o;
    memset(&o, 0, sizeof(o));
    o.threads = threads;
    return o;
}

int mvb_znorm(const float *in, int64_t nx, int64_t ny, int64_t nz, int threads, void **h)
{
    mv_vol a, v;
    mv_intensity_opts o = mvb_iopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_out(&v, mv_znorm(&a, &v, &o), h);
}

int mvb_rescale(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, int threads, void **h)
{
    mv_vol a, v;
    mv_intensity_opts o = mvb_iopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_out(&v, mv_rescale(&a, &v, lo, hi, &o), h);
}

int mvb_clamp(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, int threads, void **h)
{
    mv_vol a, v;
    mv_intensity_opts o = mvb_iopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_out(&v, mv_clamp(&a, &v, lo, hi, &o), h);
}

/* ---- spatial ---- */
static mv_spatial_opts mvb_sopts(int threads)
{
    mv_spatial_opts o;
    memset(&o, 0, sizeof(o));
    o.threads = threads;
    return o;
}

int mvb_crop_or_pad(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                    int threads, void **h)
{
    mv_vol a, v;
    mv_spatial_opts o = mvb_sopts(threads);
    int64_t shape[3];
    shape[0] = tx;
    shape[1] = ty;
    shape[2] = tz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_out(&v, mv_crop_or_pad(&a, &v, shape, &o), h);
}

int mvb_flip(const float *in, int64_t nx, int64_t ny, int64_t nz, unsigned axes, int threads, void **h)
{
    mv_vol a, v;
    mv_spatial_opts o = mvb_sopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    return mvb_wrap_out(&v, mv_flip(&a, &v, axes, &o), h);
}

/* ---- saving a float32 volume (identity affine): .nii or .nii.gz by name ---- */
int mvb_save_f32(const char *path, const float *in, int64_t nx, int64_t ny, int64_t nz, int level, int threads)
{
    return mvb_save(path, in, (int)MV_DT_F32, nx, ny, nz, 1.0, 0.0, level, threads);
}

/* ---- the same operations into a caller buffer (the _into forms: no
   allocation; out is float32 of the result's shape, written before, so
   warm): what the kernels cost without fresh memory ---- */
static void mvb_wrap_out_f32(mv_vol *v, float *out, const int64_t *d)
{
    mv_vol_wrap(v, out, MV_DT_F32, 3, d);
}

int mvb_znorm_into(const float *in, int64_t nx, int64_t ny, int64_t nz, float *out, int threads)
{
    mv_vol a, o;
    mv_intensity_opts io = mvb_iopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    mvb_wrap_out_f32(&o, out, a.dim);
    return mv_znorm_into(&a, &o, &io);
}

int mvb_rescale_into(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, float *out,
                     int threads)
{
    mv_vol a, o;
    mv_intensity_opts io = mvb_iopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    mvb_wrap_out_f32(&o, out, a.dim);
    return mv_rescale_into(&a, &o, lo, hi, &io);
}

int mvb_clamp_into(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, float *out,
                   int threads)
{
    mv_vol a, o;
    mv_intensity_opts io = mvb_iopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    mvb_wrap_out_f32(&o, out, a.dim);
    return mv_clamp_into(&a, &o, lo, hi, &io);
}

int mvb_crop_or_pad_into(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                         float *out, int threads)
{
    mv_vol a, o;
    mv_spatial_opts so = mvb_sopts(threads);
    int64_t shape[3];
    shape[0] = tx;
    shape[1] = ty;
    shape[2] = tz;
    mvb_wrap_f32(&a, in, nx, ny, nz);
    mvb_wrap_out_f32(&o, out, shape);
    return mv_crop_or_pad_into(&a, &o, shape, &so);
}

int mvb_flip_into(const float *in, int64_t nx, int64_t ny, int64_t nz, unsigned axes, float *out, int threads)
{
    mv_vol a, o;
    mv_spatial_opts so = mvb_sopts(threads);
    mvb_wrap_f32(&a, in, nx, ny, nz);
    mvb_wrap_out_f32(&o, out, a.dim);
    return mv_flip_into(&a, &o, axes, &so);
}

/* ---- an owned volume with uninitialised data: the allocation medvol's
   allocating forms make for their results (mv__alloc: 64-byte aligned,
   transparent huge pages from 2 MiB, no zeroing, unlike mv_vol_alloc), for
   the cells that pair it with a write-into kernel (mvbench_mri.c's FFT) ---- */
int mvb_vol_alloc_raw(mv_vol *v, int dtype, int ndim, const int64_t *dims)
{
    mv_vol t;
    size_t bytes;
    void *p;
    mv_status st = mv_vol_wrap(&t, (void *)&t, (mv_dtype)dtype, ndim, dims); /* shape check only */
    if (st != MV_OK) return st;
    bytes = mv_vol_bytes(&t);
    p = mv__alloc(bytes, NULL);
    if (!p) return MV_ERR_OUT_OF_MEMORY;
    mv_vol_wrap(v, p, (mv_dtype)dtype, ndim, dims);
    v->flags = MV_VOL_OWNED;
    v->mem_base = p;
    v->mem_size = bytes;
    return MV_OK;
}
