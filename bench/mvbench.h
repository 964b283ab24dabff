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
/* interp: 0 = trilinear, 1 = nearest, 2 = cubic B-spline (prefiltered) */
int mvb_resample_shape_interp(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                              int interp, int threads, void **h);
int mvb_resample_spacing_interp(const float *in, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                                int interp, int threads, void **h);
int mvb_resample_shape_into(const float *in, int64_t nx, int64_t ny, int64_t nz, int64_t tx, int64_t ty, int64_t tz,
                            int interp, float *out, int threads);

/* an owned volume with uninitialised data, allocated as medvol's allocating
   forms allocate their results (mvbench.c; internal allocator) */
int mvb_vol_alloc_raw(mv_vol *v, int dtype, int ndim, const int64_t *dims);

/* FFT and MRI (mvbench_mri.c); kind 0 = fftn, 1 = ifftn, 2 = rfftn */
int mvb_dt_c64(void);
int mvb_fft(int kind, const void *in, int64_t nx, int64_t ny, int64_t nz, int norm, int threads, void **h);
int mvb_fft_into(int kind, const void *in, int64_t nx, int64_t ny, int64_t nz, int norm, void *out, int threads);
int mvb_fftc(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int inverse, int threads, void **h);
int mvb_fftc_into(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int inverse, void *out, int threads);
int mvb_rss(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int threads, void **h);
int mvb_rss_into(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, float *out, int threads);
int mvb_coil_combine(const void *img, const void *sens, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int threads,
                     void **h);
int mvb_coil_combine_into(const void *img, const void *sens, int64_t nx, int64_t ny, int64_t nz, int64_t nc, void *out,
                          int threads);
int mvb_coil_sens(int64_t nx, int64_t ny, int64_t nz, int nc, void *out);

/* labels, EDT, erosion (bench/mvbench_morph.c): into caller buffers, caller scratch or NULL */
size_t mvb_label_scratch(int64_t nx, int64_t ny, int64_t nz, int conn, int threads);
size_t mvb_edt_scratch(int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz, int threads);
size_t mvb_erode_scratch(int64_t nx, int64_t ny, int64_t nz, double radius, int threads);
int mvb_label_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, int conn, int32_t *out, int threads,
                   void *scratch, size_t size, int64_t *nlabels);
int mvb_label_largest_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, int conn, int32_t *out,
                           int threads, int64_t *nlabels);
int mvb_edt_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz,
                 float *out, int threads, void *scratch, size_t size);
int mvb_erode_into(const unsigned char *m, int64_t nx, int64_t ny, int64_t nz, double radius, unsigned char *out,
                   int threads, void *scratch, size_t size);

#endif
