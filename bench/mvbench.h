/* mvbench.h - declarations shared by mvbench.c and mvbench_resample.c (the
   flat functions bench/bench.py calls through ctypes). Include after
   medvol.h. */
#ifndef MVBENCH_H
#define MVBENCH_H

/* handles: an mv_vol that medvol allocated, wrapped for Python */
int mvb_wrap_result(mv_vol *tmp, int st, void **h);
void *mvb_data(void *h);
int mvb_dtype(void *h);
int mvb_ndim(void *h);
int64_t mvb_dim(void *h, int axis);
double mvb_spacing(void *h, int axis);
void mvb_free(void *h);

/* runtime */
const char *mvb_build_info(void);
const char *mvb_last_error(void);
const char *mvb_status_str(int st);
int mvb_threads(void);
int mvb_dt_f32(void);
int mvb_dt_i16(void);
void mvb_wrap_f32(mv_vol *v, const float *in, int64_t nx, int64_t ny, int64_t nz);

/* inputs and files */
int mvb_phantom(int dtype, int64_t nx, int64_t ny, int64_t nz, uint32_t seed, void *out);
int mvb_save(const char *path, const void *in, int dtype, int64_t nx, int64_t ny, int64_t nz, double slope,
             double inter, int level, int threads);
int mvb_save_f32(const char *path, const float *in, int64_t nx, int64_t ny, int64_t nz, int level, int threads);

/* operations (allocating forms; *h receives the result) */
int mvb_load(const char *path, int mmap_ok, int threads, void **h);
int mvb_load_box(const char *path, int64_t x0, int64_t y0, int64_t z0, int64_t sx, int64_t sy, int64_t sz, int threads,
                 void **h);
int mvb_load_znorm(const char *path, int threads, void **h);
int mvb_znorm(const float *in, int64_t nx, int64_t ny, int64_t nz, int threads, void **h);
int mvb_rescale(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, int threads, void **h);
int mvb_clamp(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, int threads, void **h);
int mvb_crop_or_pad(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                    int threads, void **h);
int mvb_flip(const float *in, int64_t nx, int64_t ny, int64_t nz, unsigned axes, int threads, void **h);

/* the same into a warm caller buffer (float32, the result's shape) */
int mvb_znorm_into(const float *in, int64_t nx, int64_t ny, int64_t nz, float *out, int threads);
int mvb_rescale_into(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, float *out,
                     int threads);
int mvb_clamp_into(const float *in, int64_t nx, int64_t ny, int64_t nz, double lo, double hi, float *out,
                   int threads);
int mvb_crop_or_pad_into(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                         float *out, int threads);
int mvb_flip_into(const float *in, int64_t nx, int64_t ny, int64_t nz, unsigned axes, float *out, int threads);

/* resampling (mvbench_resample.c, built only when medvol.h has the API) */
int mvb_resample_shape(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                       int threads, void **h);
int mvb_resample_spacing(const float *in, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                         int threads, void **h);
int mvb_resample_shape_interp(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                              int interp, int threads, void **h);

#endif
