/* mvbench_mri.c - FFT and MRI kernels for bench/bench.py (see mvbench.c for
   the conventions: numpy buffers in medvol's layout, dims[0] fastest, i.e.
   numpy's Fortran order of an (nx, ny, nz[, nc]) array; handles to results
   medvol allocated; threads 1 = caller's thread, 0 = library default).

   FFT (>>api-fft): numpy's fftn / rfftn conventions; complex data are
   interleaved complex64. mv_fft_* write a caller buffer, so the allocating
   cells (mvb_fft) take a fresh, uninitialised output the way medvol's own
   allocating forms do (mvb_vol_alloc_raw: 64-byte aligned, huge pages, no
   zeroing) and run the one-call form (plan cache) into it; mvb_fft_into
   writes a warm caller buffer.
   MRI (>>api-mri): complex64 (x, y, z, coils) volumes: mv_fftc (centred,
   ortho), mv_rss, mv_coil_combine, and the phantom coil sensitivities. */
#include "../medvol.h"

#include <string.h>

#include "mvbench.h"

int mvb_dt_c64(void) { return (int)MV_DT_C64; }

/* kind: 0 = c2c forward (fftn), 1 = c2c inverse (ifftn), 2 = r2c (rfftn) */
static int mvb_fft_run(int kind, const void *in, int64_t nx, int64_t ny, int64_t nz, int norm, void *out, int threads)
{
    mv_fft_opts o;
    int64_t d[3];
    memset(&o, 0, sizeof(o));
    o.norm = (mv_fft_norm)norm;
    o.threads = threads;
    d[0] = nx;
    d[1] = ny;
    d[2] = nz;
    if (kind == 2) return (int)mv_fft_r2c((const float *)in, out, 3, d, 7u, &o);
    return (int)mv_fft_c2c(in, out, 3, d, 7u, kind == 1, &o);
}

static void mvb_fft_out_dims(int kind, int64_t nx, int64_t ny, int64_t nz, int64_t *d)
{
    d[0] = kind == 2 ? nx / 2 + 1 : nx;
    d[1] = ny;
    d[2] = nz;
}

int mvb_fft(int kind, const void *in, int64_t nx, int64_t ny, int64_t nz, int norm, int threads, void **h)
{
    mv_vol v;
    int64_t d[3];
    int st;
    *h = NULL;
    mvb_fft_out_dims(kind, nx, ny, nz, d);
    st = mvb_vol_alloc_raw(&v, (int)MV_DT_C64, 3, d);
    if (st != 0) return st;
    st = mvb_fft_run(kind, in, nx, ny, nz, norm, v.data, threads);
    if (st != 0) {
        mv_free(&v);
        return st;
    }
    return mvb_wrap_result(&v, st, h);
}

int mvb_fft_into(int kind, const void *in, int64_t nx, int64_t ny, int64_t nz, int norm, void *out, int threads)
{
    return mvb_fft_run(kind, in, nx, ny, nz, norm, out, threads);
}

/* ---- MRI: complex64 (nx, ny, nz, nc) ---- */
static void mvb_wrap_c64(mv_vol *v, const void *data, int64_t nx, int64_t ny, int64_t nz, int64_t nc)
{
    int64_t d[4];
    d[0] = nx;
    d[1] = ny;
    d[2] = nz;
    d[3] = nc;
    mv_vol_wrap(v, (void *)(uintptr_t)data, MV_DT_C64, nc > 0 ? 4 : 3, d);
}

static mv_mri_opts mvb_mopts(int threads)
{
    mv_mri_opts o;
    memset(&o, 0, sizeof(o));
    o.threads = threads;
    return o;
}

/* centred FFT over x, y, z of every coil: fftshift(fftn/ifftn(ifftshift(k)), ortho) */
int mvb_fftc(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int inverse, int threads, void **h)
{
    mv_vol a, v;
    mv_mri_opts o = mvb_mopts(threads);
    mvb_wrap_c64(&a, in, nx, ny, nz, nc);
    return mvb_wrap_result(&v, (int)mv_fftc(&a, &v, 7u, inverse, &o), h);
}

int mvb_fftc_into(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int inverse, void *out, int threads)
{
    mv_vol a, b;
    mv_mri_opts o = mvb_mopts(threads);
    mvb_wrap_c64(&a, in, nx, ny, nz, nc);
    mvb_wrap_c64(&b, out, nx, ny, nz, nc);
    return (int)mv_fftc_into(&a, &b, 7u, inverse, &o);
}

/* root-sum-of-squares over coils: float32 (nx, ny, nz) */
int mvb_rss(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int threads, void **h)
{
    mv_vol a, v;
    mv_mri_opts o = mvb_mopts(threads);
    mvb_wrap_c64(&a, in, nx, ny, nz, nc);
    return mvb_wrap_result(&v, (int)mv_rss(&a, &v, &o), h);
}

int mvb_rss_into(const void *in, int64_t nx, int64_t ny, int64_t nz, int64_t nc, float *out, int threads)
{
    mv_vol a, b;
    mv_mri_opts o = mvb_mopts(threads);
    mvb_wrap_c64(&a, in, nx, ny, nz, nc);
    mvb_wrap_f32(&b, out, nx, ny, nz);
    return (int)mv_rss_into(&a, &b, &o);
}

/* sum_c conj(S_c) x_c / sum_c |S_c|^2: complex64 (nx, ny, nz) */
int mvb_coil_combine(const void *img, const void *sens, int64_t nx, int64_t ny, int64_t nz, int64_t nc, int threads,
                     void **h)
{
    mv_vol a, s, v;
    mv_mri_opts o = mvb_mopts(threads);
    mvb_wrap_c64(&a, img, nx, ny, nz, nc);
    mvb_wrap_c64(&s, sens, nx, ny, nz, nc);
    return mvb_wrap_result(&v, (int)mv_coil_combine(&a, &s, &v, &o), h);
}

int mvb_coil_combine_into(const void *img, const void *sens, int64_t nx, int64_t ny, int64_t nz, int64_t nc, void *out,
                          int threads)
{
    mv_vol a, s, b;
    mv_mri_opts o = mvb_mopts(threads);
    mvb_wrap_c64(&a, img, nx, ny, nz, nc);
    mvb_wrap_c64(&s, sens, nx, ny, nz, nc);
    mvb_wrap_c64(&b, out, nx, ny, nz, 0);
    return (int)mv_coil_combine_into(&a, &s, &b, &o);
}

/* the phantom coil sensitivities (sum_c |S_c|^2 = 1), copied into out
   (complex64, nx * ny * nz * nc) */
int mvb_coil_sens(int64_t nx, int64_t ny, int64_t nz, int nc, void *out)
{
    mv_vol v;
    mv_status st = mv_phantom_coil_sens(&v, nx, ny, nz, nc);
    if (st != MV_OK) return (int)st;
    memcpy(out, v.data, mv_vol_bytes(&v));
    mv_free(&v);
    return 0;
}
