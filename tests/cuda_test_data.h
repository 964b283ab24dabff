/* cuda_test_data.h - test data shared by tests/test_cuda.cu (the kernels on
   a GPU) and tests/test_cuda_host.cu (their arithmetic on the host), so
   both binaries check the same cases. Include after medvol.h. */
#ifndef MEDVOL_CUDA_TEST_DATA_H
#define MEDVOL_CUDA_TEST_DATA_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* GRAPPA: a phantom's centred k-space, c64 (nx, ny, nz, nc, nb), 2D (z
   slices) or 3D: two Gaussian blobs (the second's weight varies with the
   batch item) under smooth coil magnitudes and phases. noise > 0 adds
   noise * (uniform() - 0.5) to each real and imaginary part, in that
   order. */
static void cuda_test_grappa_phantom(int64_t nx, int64_t ny, int64_t nz, int64_t nc, int64_t nb, int three_d,
                                     double noise, double (*uniform)(void), mv_vol *k)
{
    const double pi = 3.14159265358979323846;
    const int64_t d[5] = {nx, ny, nz, nc, nb};
    mv_vol img;
    mv_vol_init(&img);
    mv_vol_init(k);
    if (mv_vol_alloc(&img, MV_DT_C64, 5, d, NULL) != MV_OK) exit(1);
    float *p = (float *)img.data;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t c = 0; c < nc; c++)
            for (int64_t z = 0; z < nz; z++)
                for (int64_t y = 0; y < ny; y++)
                    for (int64_t x = 0; x < nx; x++) {
                        double u = (x - nx / 2.0) / nx, v = (y - ny / 2.0) / ny, w = nz > 1 ? (z - nz / 2.0) / nz : 0;
                        double obj = exp(-(u * u + v * v + w * w) * 9) + 0.5 * exp(-((u - 0.2) * (u - 0.2) + v * v) * 60) * (1 + 0.3 * b);
                        double cu = cos(2 * pi * c / nc), cv = sin(2 * pi * c / nc);
                        double mag = exp(-((u - 0.4 * cu) * (u - 0.4 * cu) + (v - 0.4 * cv) * (v - 0.4 * cv)) * 2);
                        double ph = 0.7 * c + 2.0 * u * cv - 1.5 * v * cu;
                        int64_t i = (((b * nc + c) * nz + z) * ny + y) * nx + x;
                        double re = obj * mag * cos(ph), im = obj * mag * sin(ph);
                        if (noise > 0) {
                            re += noise * (uniform() - 0.5);
                            im += noise * (uniform() - 0.5);
                        }
                        p[2 * i] = (float)re;
                        p[2 * i + 1] = (float)im;
                    }
    if (mv_fftc(&img, k, three_d ? 7u : 3u, 0, NULL) != MV_OK) exit(1);
    mv_free(&img);
}

/* GRAPPA: the lines off the lattice (offsets oy, oz) outside the centred
   ACS box zeroed */
static void cuda_test_undersample(mv_vol *k, int Ry, int oy, int acsy, int Rz, int oz, int acsz)
{
    const int64_t nx = k->dim[0], ny = k->dim[1], nz = k->dim[2], n = mv_vol_count(k) / (nx * ny * nz);
    float *d = (float *)k->data;
    for (int64_t c = 0; c < n; c++)
        for (int64_t z = 0; z < nz; z++)
            for (int64_t y = 0; y < ny; y++) {
                int lat = (y % Ry) == oy && (z % Rz) == oz;
                int in_acs = y >= ny / 2 - acsy / 2 && y < ny / 2 - acsy / 2 + acsy &&
                             (Rz == 1 || (z >= nz / 2 - acsz / 2 && z < nz / 2 - acsz / 2 + acsz));
                if (!lat && !in_acs) memset(d + 2 * ((c * nz + z) * ny + y) * nx, 0, (size_t)(2 * nx) * sizeof(float));
            }
}

/* CG-SENSE: k-space c64 (nx, ny, nz, nc, nb) and maps (nx, ny, nz, nc) of
   a smooth object under smooth coil maps (slices: 2D transforms per z).
   lines: keep y % 2 == 0 (3D: and z % 2 == 0) or the centre, constant
   along x (the y / z layout); else keep the centre and the points where
   draw() % 100 < 45 (about 45%, the full layout). noise > 0 adds
   noise * (uniform() - 0.5) to each real and imaginary image value. */
static void cuda_test_cg_data(int64_t nx, int64_t ny, int64_t nz, int64_t nc, int64_t nb, int slices, int lines,
                              double noise, double (*uniform)(void), uint64_t (*draw)(void), mv_vol *k, mv_vol *sens)
{
    const double pi = 3.14159265358979323846;
    const int64_t d[5] = {nx, ny, nz, nc, nb};
    mv_vol img;
    mv_vol_init(&img);
    mv_vol_init(k);
    mv_vol_init(sens);
    if (mv_vol_alloc(&img, MV_DT_C64, 5, d, NULL) != MV_OK || mv_vol_alloc(sens, MV_DT_C64, 4, d, NULL) != MV_OK) exit(1);
    float *p = (float *)img.data, *s = (float *)sens->data;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t c = 0; c < nc; c++)
            for (int64_t z = 0; z < nz; z++)
                for (int64_t y = 0; y < ny; y++)
                    for (int64_t x = 0; x < nx; x++) {
                        double u = (x - nx / 2.0) / nx, v = (y - ny / 2.0) / ny, w = nz > 1 ? (z - nz / 2.0) / nz : 0;
                        double obj = exp(-(u * u + v * v + w * w) * 6) * (1 + 0.4 * cos(9 * u + 0.5 * b)) + 0.3 * (u > 0.1 && v < 0);
                        double cu = cos(2 * pi * c / nc), cv = sin(2 * pi * c / nc);
                        double mag = 0.3 + exp(-((u - 0.5 * cu) * (u - 0.5 * cu) + (v - 0.5 * cv) * (v - 0.5 * cv) + w * w) * 2);
                        double ph = 0.9 * c + 1.5 * u * cv - 1.1 * v * cu + 0.7 * w;
                        int64_t si = ((c * nz + z) * ny + y) * nx + x, i = b * nc * nz * ny * nx + si;
                        double re = obj * mag * cos(ph + 0.3 * obj), im = obj * mag * sin(ph + 0.3 * obj);
                        if (noise > 0) {
                            re += noise * (uniform() - 0.5);
                            im += noise * (uniform() - 0.5);
                        }
                        s[2 * si] = (float)(mag * cos(ph)), s[2 * si + 1] = (float)(mag * sin(ph));
                        p[2 * i] = (float)re, p[2 * i + 1] = (float)im;
                    }
    if (mv_fftc(&img, k, slices ? 3u : 7u, 0, NULL) != MV_OK) exit(1);
    mv_free(&img);
    float *kd = (float *)k->data;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t z = 0; z < nz; z++)
            for (int64_t y = 0; y < ny; y++)
                for (int64_t x = 0; x < nx; x++) {
                    int centre = y >= ny / 2 - 3 && y < ny / 2 + 3 && (slices || nz < 4 || (z >= nz / 2 - 2 && z < nz / 2 + 2));
                    /* a draw for every point of the random layout, the centre's too */
                    int keep = lines ? centre || (y % 2 == 0 && (slices || z % 2 == 0)) : (draw() % 100 < 45) || centre;
                    if (!keep)
                        for (int64_t c = 0; c < nc; c++) {
                            const int64_t i = (((b * nc + c) * nz + z) * ny + y) * nx + x;
                            kd[2 * i] = kd[2 * i + 1] = 0;
                        }
                }
}
/* A second ESPIRiT map beside the maps of sens (x, y, z, C): sens becomes
   (x, y, z, C, 2). As ecalib's second map, it is orthogonal to map 0
   across the coils at each voxel: map 1 = 0.5 |m0| u, u the unit part of
   v = (coil c+1's map 0)_c orthogonal to m0 (complex Gram-Schmidt in
   float64). The per-voxel Gram matrix is diag(|m0|^2, |m0|^2 / 4): a
   well-conditioned pair (maps far from orthogonal make the undersampled
   solves ill-conditioned, where two float32 CG runs drift apart with the
   iterations). */
static void cuda_test_add_map(mv_vol *sens)
{
    mv_vol two;
    const int64_t d[5] = {sens->dim[0], sens->dim[1], sens->dim[2], sens->dim[3], 2};
    const int64_t per = d[0] * d[1] * d[2], nc = d[3];
    mv_vol_init(&two);
    if (mv_vol_alloc(&two, MV_DT_C64, 5, d, NULL) != MV_OK) exit(1);
    const float *a = (const float *)sens->data;
    float *b = (float *)two.data;
    memcpy(b, a, (size_t)(per * nc) * 8);
    for (int64_t i = 0; i < per; i++) {
        double n0 = 0, pr = 0, pi = 0, nu = 0;
        for (int64_t c = 0; c < nc; c++) { /* <m0, v> and |m0|^2 */
            const float *m = a + 2 * (c * per + i), *v = a + 2 * (((c + 1) % nc) * per + i);
            n0 += (double)m[0] * m[0] + (double)m[1] * m[1];
            pr += (double)m[0] * v[0] + (double)m[1] * v[1];
            pi += (double)m[0] * v[1] - (double)m[1] * v[0];
        }
        pr /= n0, pi /= n0;
        for (int64_t pass = 0; pass < 2; pass++)
            for (int64_t c = 0; c < nc; c++) {
                const float *m = a + 2 * (c * per + i), *v = a + 2 * (((c + 1) % nc) * per + i);
                const double ur = v[0] - (pr * m[0] - pi * m[1]), ui = v[1] - (pr * m[1] + pi * m[0]);
                if (pass == 0) {
                    nu += ur * ur + ui * ui;
                } else {
                    const double f = nu > 0 ? 0.5 * sqrt(n0 / nu) : 0;
                    float *w = b + 2 * ((nc + c) * per + i);
                    w[0] = (float)(f * ur), w[1] = (float)(f * ui);
                }
            }
    }
    mv_free(sens);
    *sens = two;
}

#endif
