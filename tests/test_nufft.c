/* test_nufft.c - non-Cartesian MRI (>>api-nufft): trajectories byte-equal to
   `bart traj`, NUFFT type 1 / 2 against a direct float64 NUDFT (the
   definition, summed in double here), adjointness, the Toeplitz operator
   against A^H W A applied directly, density compensation (analytic ramp,
   Pipe-Menon), BART `nufft` on the same data, thread-count determinism,
   every ISA against the reference, bad arguments. */
#include "testutil.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NU_PI 3.14159265358979323846

static int have_bart(void) { return system("command -v bart >/dev/null 2>&1") == 0; }

static void fill_cplx(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    int64_t i;
    for (i = 0; i < 2 * n; i++) x[i] = (float)(tu_rand01(&s) * 2 - 1);
}

/* random points in [-N/2, N/2) per axis (0 for an axis of size 1) */
static float *random_coords(const int64_t dims[3], int64_t m, uint64_t seed)
{
    float *c = (float *)malloc((size_t)m * 3 * sizeof(float));
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 3;
    int64_t i;
    int a;
    for (i = 0; i < m; i++)
        for (a = 0; a < 3; a++)
            c[3 * i + a] = dims[a] > 1 ? (float)((tu_rand01(&s) - 0.5) * (double)dims[a]) : 0.0f;
    return c;
}

/* exact forward at point j (double): s sum_x f(x) exp(-2 pi i k.(x - N/2)/N) */
static void nudft_fwd(const int64_t N[3], const float *img, const float *k, double *re, double *im)
{
    int64_t x, y, z;
    double sr = 0, si = 0, s = 1.0 / sqrt((double)N[0] * N[1] * N[2]);
    for (z = 0; z < N[2]; z++)
        for (y = 0; y < N[1]; y++)
            for (x = 0; x < N[0]; x++) {
                double ph = -2 * NU_PI *
                            ((double)k[0] * (double)(x - N[0] / 2) / N[0] + (double)k[1] * (double)(y - N[1] / 2) / N[1] +
                             (N[2] > 1 ? (double)k[2] * (double)(z - N[2] / 2) / N[2] : 0.0));
                const float *f = img + 2 * ((z * N[1] + y) * N[0] + x);
                double c = cos(ph), sn = sin(ph);
                sr += f[0] * c - f[1] * sn;
                si += f[0] * sn + f[1] * c;
            }
    *re = sr * s;
    *im = si * s;
}

static void nudft_adj(const int64_t N[3], const float *ks, const float *coords, int64_t m, int64_t x, int64_t y,
                      int64_t z, double *re, double *im)
{
    int64_t j;
    double sr = 0, si = 0, s = 1.0 / sqrt((double)N[0] * N[1] * N[2]);
    for (j = 0; j < m; j++) {
        const float *k = coords + 3 * j;
        double ph = 2 * NU_PI *
                    ((double)k[0] * (double)(x - N[0] / 2) / N[0] + (double)k[1] * (double)(y - N[1] / 2) / N[1] +
                     (N[2] > 1 ? (double)k[2] * (double)(z - N[2] / 2) / N[2] : 0.0));
        double c = cos(ph), sn = sin(ph);
        sr += ks[2 * j] * c - ks[2 * j + 1] * sn;
        si += ks[2 * j] * sn + ks[2 * j + 1] * c;
    }
    *re = sr * s;
    *im = si * s;
}

static double rel_l2(const float *a, const double *ref, int64_t n)
{
    double num = 0, den = 0;
    int64_t i;
    for (i = 0; i < 2 * n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return sqrt(num / den);
}

/* type 2 and type 1 errors of one geometry at one tolerance, 2 coils in
   BART's block layout (block = m / 2) */
static void check_accuracy(const int64_t N[3], int64_t m, double tol, uint64_t seed)
{
    mv_nufft_opts o = MV_ZERO_INIT;
    mv_nufft_plan *p = NULL;
    int64_t nvox = N[0] * N[1] * N[2], nsub = 150, i, j, c, blk = m / 2;
    float *coords = random_coords(N, m, seed), *img = (float *)malloc((size_t)(16 * nvox)),
          *ks = (float *)malloc((size_t)(16 * m)), *back = (float *)malloc((size_t)(16 * nvox)),
          *kc = (float *)malloc((size_t)(8 * m));
    double *ref = (double *)malloc((size_t)(16 * (nvox > m ? nvox : m))), err2, err1;
    float *sub = (float *)malloc((size_t)(16 * (nvox > m ? nvox : m)));
    o.tol = tol;
    o.coils = 2;
    o.block = blk;
    fill_cplx(img, 2 * nvox, seed + 1);
    fill_cplx(ks, 2 * m, seed + 2);
    REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, m, &o));
    /* forward: coil 1 at a point subset */
    EXPECT_OK(mv_nufft_execute(p, 0, img, ks, 2));
    for (i = 0; i < nsub; i++) {
        j = (i * 7919) % m;
        nudft_fwd(N, img + 2 * nvox, coords + 3 * j, &ref[2 * i], &ref[2 * i + 1]);
        c = j % blk + blk * (1 + 2 * (j / blk)); /* coil 1 of 2 in the block layout */
        sub[2 * i] = ks[2 * c];
        sub[2 * i + 1] = ks[2 * c + 1];
    }
    err2 = rel_l2(sub, ref, nsub);
    /* adjoint: coil 0 at a voxel subset */
    fill_cplx(ks, 2 * m, seed + 3);
    EXPECT_OK(mv_nufft_execute(p, 1, ks, back, 2));
    for (j = 0; j < m; j++) { /* coil 0's samples in point order */
        c = j % blk + blk * (2 * (j / blk));
        kc[2 * j] = ks[2 * c];
        kc[2 * j + 1] = ks[2 * c + 1];
    }
    for (i = 0; i < nsub; i++) {
        int64_t v = (i * 104729) % nvox;
        nudft_adj(N, kc, coords, m, v % N[0], (v / N[0]) % N[1], v / (N[0] * N[1]), &ref[2 * i], &ref[2 * i + 1]);
        sub[2 * i] = back[2 * v];
        sub[2 * i + 1] = back[2 * v + 1];
    }
    err1 = rel_l2(sub, ref, nsub);
    EXPECT_MSG(err2 <= tol, "type 2 %lldx%lldx%lld tol %g: relative error %.3g", (long long)N[0], (long long)N[1],
               (long long)N[2], tol, err2);
    EXPECT_MSG(err1 <= tol, "type 1 %lldx%lldx%lld tol %g: relative error %.3g", (long long)N[0], (long long)N[1],
               (long long)N[2], tol, err1);
    if (getenv("NUFFT_VERBOSE"))
        printf("  N %lldx%lldx%lld tol %g: type2 %.3g type1 %.3g\n", (long long)N[0], (long long)N[1], (long long)N[2],
               tol, err2, err1);
    mv_nufft_plan_free(p);
    free(coords);
    free(img);
    free(ks);
    free(back);
    free(kc);
    free(ref);
    free(sub);
}

MV_TEST(nufft, matches_nudft)
{
    static const double tols[] = {1e-2, 1e-3, 1e-4, 1e-6};
    int64_t N2[3] = {40, 36, 1}, N3[3] = {14, 12, 10}, Nxz[3] = {24, 1, 20};
    int t;
    for (t = 0; t < 4; t++) {
        check_accuracy(N2, 3000, tols[t], 10 + t);
        check_accuracy(N3, 4000, tols[t], 20 + t);
    }
    check_accuracy(Nxz, 1000, 1e-4, 30); /* x-z plane: the unused axis in the middle */
}

/* <A x, y> = <x, A^H y> */
MV_TEST(nufft, adjointness)
{
    int64_t N[3] = {30, 26, 6}, m = 5000, nvox = 30 * 26 * 6, i;
    float *coords = random_coords(N, m, 5), *x = (float *)malloc((size_t)(8 * nvox)), *ax = (float *)malloc((size_t)(8 * m)),
          *y = (float *)malloc((size_t)(8 * m)), *ahy = (float *)malloc((size_t)(8 * nvox));
    mv_nufft_plan *p = NULL;
    mv_nufft_opts o = MV_ZERO_INIT;
    double l[2] = {0, 0}, r[2] = {0, 0};
    o.tol = 1e-5;
    fill_cplx(x, nvox, 1);
    fill_cplx(y, m, 2);
    REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, m, &o));
    EXPECT_OK(mv_nufft_execute(p, 0, x, ax, 1));
    EXPECT_OK(mv_nufft_execute(p, 1, y, ahy, 1));
    for (i = 0; i < m; i++) { /* <Ax, y> = sum conj(y) Ax */
        l[0] += (double)y[2 * i] * ax[2 * i] + (double)y[2 * i + 1] * ax[2 * i + 1];
        l[1] += (double)y[2 * i] * ax[2 * i + 1] - (double)y[2 * i + 1] * ax[2 * i];
    }
    for (i = 0; i < nvox; i++) {
        r[0] += (double)ahy[2 * i] * x[2 * i] + (double)ahy[2 * i + 1] * x[2 * i + 1];
        r[1] += (double)ahy[2 * i] * x[2 * i + 1] - (double)ahy[2 * i + 1] * x[2 * i];
    }
    EXPECT_MSG(hypot(l[0] - r[0], l[1] - r[1]) <= 1e-5 * hypot(l[0], l[1]), "<Ax,y> = %g%+gi, <x,A^H y> = %g%+gi", l[0],
               l[1], r[0], r[1]);
    mv_nufft_plan_free(p);
    free(coords);
    free(x);
    free(ax);
    free(y);
    free(ahy);
}

/* T = A^H W A by the Toeplitz embedding against the NUFFT pair itself, in
   2D and 3D (the pruned FFT passes differ per axis count); T is exactly
   self-adjoint (the Hermitian part of the kernel is kept); coils in
   parallel give the bytes of one thread; in place works. */
MV_TEST(nufft, toeplitz_matches_normal_operator)
{
    static const int64_t shapes[2][3] = {{32, 28, 1}, {12, 10, 8}};
    int si;
    for (si = 0; si < 2; si++) {
        const int64_t *N = shapes[si];
        int64_t m = si ? 3000 : 4000, nvox = N[0] * N[1] * N[2], i, nc = 3;
        float *coords = random_coords(N, m, 9 + si), *x = (float *)malloc((size_t)(8 * nvox * nc)),
              *ax = (float *)malloc((size_t)(8 * m * nc)), *direct = (float *)malloc((size_t)(8 * nvox * nc)),
              *tx = (float *)malloc((size_t)(8 * nvox * nc)), *w = (float *)malloc((size_t)(4 * m)),
              *ty = (float *)malloc((size_t)(8 * nvox)), *t1 = (float *)malloc((size_t)(8 * nvox * nc));
        double num = 0, den = 0, xty_r = 0, xty_i = 0, txy_r = 0, txy_i = 0, nn = 0;
        mv_nufft_plan *p = NULL;
        mv_nufft_toeplitz *t = NULL, *t1t = NULL;
        mv_nufft_opts o = MV_ZERO_INIT;
        uint64_t s = 77;
        o.tol = 1e-5;
        for (i = 0; i < m; i++) w[i] = (float)(0.5 + tu_rand01(&s));
        fill_cplx(x, nvox * nc, 4);
        REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, m, &o));
        REQUIRE_OK(mv_nufft_toeplitz_make(&t, p, w, NULL));
        EXPECT_OK(mv_nufft_execute(p, 0, x, ax, nc));
        for (i = 0; i < m * nc; i++) {
            ax[2 * i] *= w[i % m];
            ax[2 * i + 1] *= w[i % m];
        }
        EXPECT_OK(mv_nufft_execute(p, 1, ax, direct, nc));
        EXPECT_OK(mv_nufft_toeplitz_apply(t, x, tx, nc));
        for (i = 0; i < 2 * nvox * nc; i++) {
            num += ((double)tx[i] - direct[i]) * ((double)tx[i] - direct[i]);
            den += (double)direct[i] * direct[i];
        }
        EXPECT_MSG(sqrt(num / den) <= 1e-4, "%s Toeplitz vs A^H W A: relative error %.3g", si ? "3D" : "2D",
                   sqrt(num / den));
        /* <T x, y> = <x, T y> with y = coil 1 of x */
        EXPECT_OK(mv_nufft_toeplitz_apply(t, x + 2 * nvox, ty, 1));
        for (i = 0; i < nvox; i++) {
            const float *a = tx + 2 * i, *b = x + 2 * (nvox + i), *c = x + 2 * i, *d = ty + 2 * i;
            txy_r += (double)a[0] * b[0] + (double)a[1] * b[1];
            txy_i += (double)a[1] * b[0] - (double)a[0] * b[1];
            xty_r += (double)c[0] * d[0] + (double)c[1] * d[1];
            xty_i += (double)c[1] * d[0] - (double)c[0] * d[1];
            nn += (double)a[0] * a[0] + (double)a[1] * a[1];
        }
        EXPECT_MSG(fabs(txy_r - xty_r) + fabs(txy_i - xty_i) <= 1e-5 * sqrt(nn * nvox),
                   "%s Toeplitz not self-adjoint: <Tx,y> = %.9g%+.9gi, <x,Ty> = %.9g%+.9gi", si ? "3D" : "2D", txy_r,
                   txy_i, xty_r, xty_i);
        { /* one thread: the same bytes */
            mv_nufft_opts o1 = MV_ZERO_INIT;
            o1.threads = 1;
            REQUIRE_OK(mv_nufft_toeplitz_make(&t1t, p, w, &o1));
            EXPECT_OK(mv_nufft_toeplitz_apply(t1t, x, t1, nc));
            EXPECT(memcmp(t1, tx, (size_t)(8 * nvox * nc)) == 0);
            mv_nufft_toeplitz_free(t1t);
        }
        EXPECT_OK(mv_nufft_toeplitz_apply(t, x, x, nc)); /* in place */
        EXPECT(memcmp(x, tx, (size_t)(8 * nvox * nc)) == 0);
        mv_nufft_toeplitz_free(t);
        mv_nufft_plan_free(p);
        free(coords);
        free(x);
        free(ax);
        free(direct);
        free(tx);
        free(w);
        free(ty);
        free(t1);
    }
}

/* mv_nufft_toeplitz_get_kernel's contract, as a companion applies it: the
   whole (unpruned) 2N transforms around khat give the pruned operator's
   result, 2D with odd sizes and 3D; NULL arguments are refused. */
MV_TEST(nufft, toeplitz_get_kernel)
{
    static const int64_t shapes[2][3] = {{15, 12, 1}, {7, 6, 5}};
    int si;
    for (si = 0; si < 2; si++) {
        const int64_t *N = shapes[si];
        int64_t m = 700, nvox = N[0] * N[1] * N[2], i, x, y, z;
        float *coords = random_coords(N, m, 21 + si), *img = (float *)malloc((size_t)(8 * nvox)),
              *tx = (float *)malloc((size_t)(8 * nvox)), *g = NULL;
        double num = 0, den = 0;
        mv_nufft_plan *p = NULL;
        mv_nufft_toeplitz *t = NULL;
        mv_nufft_toeplitz_kernel k = MV_ZERO_INIT;
        mv_fft_plan *fw = NULL, *iv = NULL;
        mv_fft_opts fo = MV_ZERO_INIT;
        mv_nufft_opts o = MV_ZERO_INIT;
        unsigned axes = 0;
        int a;
        o.tol = 1e-5;
        fill_cplx(img, nvox, 5 + si);
        REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, m, &o));
        REQUIRE_OK(mv_nufft_toeplitz_make(&t, p, NULL, NULL));
        REQUIRE_OK(mv_nufft_toeplitz_get_kernel(t, &k));
        EXPECT(k.ncell2 == k.N2[0] * k.N2[1] * k.N2[2] && k.khat != NULL);
        for (a = 0; a < 3; a++) {
            EXPECT(k.N[a] == N[a] && k.N2[a] == (N[a] > 1 ? 2 * N[a] : 1));
            if (k.N2[a] > 1) axes |= 1u << a;
        }
        g = (float *)calloc((size_t)k.ncell2, 8);
        for (z = 0; z < N[2]; z++)
            for (y = 0; y < N[1]; y++)
                for (x = 0; x < N[0]; x++) {
                    const int64_t gi = (z * k.N2[1] + y) * k.N2[0] + x, ii = (z * N[1] + y) * N[0] + x;
                    g[2 * gi] = img[2 * ii];
                    g[2 * gi + 1] = img[2 * ii + 1];
                }
        fo.norm = MV_FFT_BACKWARD; /* forward unscaled */
        REQUIRE_OK(mv_fft_plan_c2c(&fw, 3, k.N2, axes, 0, &fo));
        fo.norm = MV_FFT_FORWARD; /* inverse unscaled */
        REQUIRE_OK(mv_fft_plan_c2c(&iv, 3, k.N2, axes, 1, &fo));
        EXPECT_OK(mv_fft_execute(fw, g, g));
        for (i = 0; i < k.ncell2; i++) {
            g[2 * i] *= k.khat[i];
            g[2 * i + 1] *= k.khat[i];
        }
        EXPECT_OK(mv_fft_execute(iv, g, g));
        EXPECT_OK(mv_nufft_toeplitz_apply(t, img, tx, 1));
        for (z = 0; z < N[2]; z++)
            for (y = 0; y < N[1]; y++)
                for (x = 0; x < N[0]; x++) {
                    const int64_t gi = (z * k.N2[1] + y) * k.N2[0] + x, ii = (z * N[1] + y) * N[0] + x;
                    for (a = 0; a < 2; a++) {
                        num += ((double)g[2 * gi + a] - tx[2 * ii + a]) * ((double)g[2 * gi + a] - tx[2 * ii + a]);
                        den += (double)tx[2 * ii + a] * tx[2 * ii + a];
                    }
                }
        EXPECT_MSG(den > 0 && sqrt(num / den) <= 1e-6, "%s: full transforms around khat vs the pruned operator: %.3g",
                   si ? "3D" : "2D", sqrt(num / den));
        EXPECT(mv_nufft_toeplitz_get_kernel(NULL, &k) == MV_ERR_INVALID_ARG);
        EXPECT(mv_nufft_toeplitz_get_kernel(t, NULL) == MV_ERR_INVALID_ARG);
        mv_fft_plan_free(fw);
        mv_fft_plan_free(iv);
        mv_nufft_toeplitz_free(t);
        mv_nufft_plan_free(p);
        free(coords);
        free(img);
        free(tx);
        free(g);
    }
}

MV_TEST(nufft, threads_identical)
{
    /* sizes past MV__PAR_MIN_BYTES (4 MiB) in every threaded stage (sort:
       32 B per point, spread/interp: 64 B per point, the grid: 8 B per cell
       and coil), so 2 and 3 threads really split the work */
    int64_t N[3] = {512, 512, 1}, m = 200000, nvox = 512 * 512, nc = 3;
    float *coords = random_coords(N, m, 11), *img = (float *)malloc((size_t)(8 * nvox * nc)),
          *k1 = (float *)malloc((size_t)(8 * m * nc)), *k2 = (float *)malloc((size_t)(8 * m * nc)),
          *i1 = (float *)malloc((size_t)(8 * nvox * nc)), *i2 = (float *)malloc((size_t)(8 * nvox * nc));
    int th[3] = {1, 2, 3}, t;
    int64_t N3[3] = {48, 40, 36};
    fill_cplx(img, nvox * nc, 3);
    for (t = 0; t < 3; t++) {
        mv_nufft_opts o = MV_ZERO_INIT;
        mv_nufft_plan *p = NULL;
        o.threads = th[t];
        o.coils = 2; /* a full batch and a remainder */
        REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, m, &o));
        EXPECT_OK(mv_nufft_execute(p, 0, img, t ? k2 : k1, nc));
        EXPECT_OK(mv_nufft_execute(p, 1, t ? k2 : k1, t ? i2 : i1, nc));
        mv_nufft_plan_free(p);
        if (t) {
            EXPECT_MSG(memcmp(k1, k2, (size_t)(8 * m * nc)) == 0, "forward differs with %d threads", th[t]);
            EXPECT_MSG(memcmp(i1, i2, (size_t)(8 * nvox * nc)) == 0, "adjoint differs with %d threads", th[t]);
        }
    }
    /* 3D, one coil (the point kernels spread_pt3 / interp_pt3): slabs of the
       z axis, both directions, 2 and 3 threads against 1, MEDVOL_TEST_REPS
       times (12.8 MB of points: past the threshold, so the work splits) */
    free(coords);
    coords = random_coords(N3, 200000, 12);
    {
        int reps = tu_test_reps(3), rep;
        int64_t nv3 = 48 * 40 * 36;
        fill_cplx(img, nv3, 7);
        fill_cplx(k1, 200000, 5);
        for (rep = 0; rep < reps; rep++)
            for (t = 0; t < 3; t++) {
                mv_nufft_opts o = MV_ZERO_INIT;
                mv_nufft_plan *p = NULL;
                o.threads = th[t];
                REQUIRE_OK(mv_nufft_plan_make(&p, N3, coords, 200000, &o));
                EXPECT_OK(mv_nufft_execute(p, 1, k1, t ? i2 : i1, 1));
                EXPECT_OK(mv_nufft_execute(p, 0, img, t ? k2 + 400000 : k2, 1));
                mv_nufft_plan_free(p);
                if (t) {
                    EXPECT_MSG(memcmp(i1, i2, (size_t)(8 * nv3)) == 0, "3D adjoint differs with %d threads", th[t]);
                    EXPECT_MSG(memcmp(k2, k2 + 400000, (size_t)(8 * 200000)) == 0, "3D forward differs with %d threads",
                               th[t]);
                }
            }
    }
    free(coords);
    free(img);
    free(k1);
    free(k2);
    free(i1);
    free(i2);
}

/* every ISA against the reference: the spread / interp rows are bit-equal
   by construction; the FFT differs by FMA, so whole transforms agree to
   float rounding. Pipe-Menon (no FFT, one coil) is byte-equal. Nine coils
   (rows vectorised across coils) and one coil (across the taps: widths 5
   and 8, rows split where they wrap around the grid; in 3D a point's rows
   in one call). */
static void isa_case(int64_t nc, double tol, int three_d)
{
    int64_t N[3] = {48, 40, 1}, m = 6000, nvox, i, isa;
    float *coords, *img, *kr, *ki, *ir, *ii;
    mv_nufft_opts o = MV_ZERO_INIT;
    mv_nufft_plan *p = NULL;
    mv_isa saved = mv_isa_active();
    unsigned avail = mv_isa_available();
    if (three_d) {
        N[0] = 24;
        N[1] = 20;
        N[2] = 18;
    }
    nvox = N[0] * N[1] * N[2];
    coords = random_coords(N, m, 13);
    img = (float *)malloc((size_t)(8 * nvox * nc));
    kr = (float *)malloc((size_t)(8 * m * nc));
    ki = (float *)malloc((size_t)(8 * m * nc));
    ir = (float *)malloc((size_t)(8 * nvox * nc));
    ii = (float *)malloc((size_t)(8 * nvox * nc));
    o.tol = tol;
    o.coils = nc;
    fill_cplx(img, nvox * nc, 6);
    REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, m, &o));
    REQUIRE_OK(mv_set_isa(MV_ISA_REF));
    EXPECT_OK(mv_nufft_execute(p, 0, img, kr, nc));
    EXPECT_OK(mv_nufft_execute(p, 1, kr, ir, nc));
    for (isa = MV_ISA_SSE2; isa <= MV_ISA_NEON; isa++) {
        double num = 0, den = 0, num2 = 0, den2 = 0;
        if (!(avail & (1u << isa))) continue;
        REQUIRE_OK(mv_set_isa((mv_isa)isa));
        EXPECT_OK(mv_nufft_execute(p, 0, img, ki, nc));
        EXPECT_OK(mv_nufft_execute(p, 1, kr, ii, nc));
        for (i = 0; i < 2 * m * nc; i++) {
            num += ((double)ki[i] - kr[i]) * ((double)ki[i] - kr[i]);
            den += (double)kr[i] * kr[i];
        }
        for (i = 0; i < 2 * nvox * nc; i++) {
            num2 += ((double)ii[i] - ir[i]) * ((double)ii[i] - ir[i]);
            den2 += (double)ir[i] * ir[i];
        }
        EXPECT_MSG(sqrt(num / den) < 3e-7 && sqrt(num2 / den2) < 3e-7, "ISA %d vs reference, %dD, %lld coils, tol %g: %.3g / %.3g",
                   (int)isa, three_d ? 3 : 2, (long long)nc, tol, sqrt(num / den), sqrt(num2 / den2));
    }
    mv_set_isa(saved);
    mv_nufft_plan_free(p);
    free(coords);
    free(img);
    free(kr);
    free(ki);
    free(ir);
    free(ii);
}

MV_TEST(nufft, isa_matches_reference)
{
    isa_case(9, 1e-6, 0);
    isa_case(1, 1e-6, 0);
    isa_case(1, 1e-3, 0);
    isa_case(1, 1e-3, 1);
    isa_case(1, 1e-6, 1);
    isa_case(3, 1e-3, 1);
}

/* ---- trajectories ---- */

static int traj_vs_bart(const char *flags, int64_t x, int64_t y, const mv_traj_opts *o)
{
    char cmd[1200], path[600];
    mv_vol b = MV_ZERO_INIT, m = MV_ZERO_INIT;
    mv_load_opts lo;
    int ok = 0;
    snprintf(path, sizeof(path), "%s", tu_path("nufft_traj"));
    snprintf(cmd, sizeof(cmd), "bart traj %s -x %lld -y %lld %s >/dev/null 2>&1", flags, (long long)x, (long long)y, path);
    if (system(cmd) != 0) {
        MVT_FAIL("bart traj %s failed", flags);
        return 0;
    }
    memset(&lo, 0, sizeof(lo));
    lo.cfl_fold = 1; /* -t and -m sizes are BART's axes 10 and 13 */
    if (mv_cfl_load(path, &b, &lo) != MV_OK) {
        MVT_FAIL("loading bart's trajectory: %s", mv_last_error());
        return 0;
    }
    if ((o->cartesian ? mv_traj(&m, x, y, o) : mv_traj_radial(&m, x, y, o)) != MV_OK) {
        MVT_FAIL("mv_traj %s: %s", flags, mv_last_error());
    } else if (mv_vol_count(&m) != mv_vol_count(&b)) {
        MVT_FAIL("%s: %lld values, bart has %lld", flags, (long long)mv_vol_count(&m), (long long)mv_vol_count(&b));
    } else {
        size_t n = mv_vol_bytes(&m), i, bad = 0;
        const float *a = (const float *)m.data, *r = (const float *)b.data;
        for (i = 0; i < n / 4; i++)
            if (memcmp(a + i, r + i, 4) != 0) {
                if (!bad) MVT_FAIL("%s: float %zu is %.9g, bart %.9g", flags, i, a[i], r[i]);
                bad++;
            }
        ok = bad == 0;
    }
    mv_free(&m);
    mv_free(&b);
    return ok;
}

MV_TEST(nufft, traj_matches_bart)
{
    mv_traj_opts o;
    if (!have_bart()) SKIP("needs the bart command (Debian package bart)");
    memset(&o, 0, sizeof(o));
    traj_vs_bart("-r", 64, 21, &o);
    traj_vs_bart("-r", 512, 402, &o);
    o.asym = 1;
    traj_vs_bart("-r -c", 63, 16, &o);
    o.asym = 0;
    o.full_circle = 1;
    traj_vs_bart("-r -D", 40, 33, &o);
    o.full_circle = 0;
    o.golden = 1;
    traj_vs_bart("-r -G", 96, 377, &o);
    o.full_circle = 1;
    o.asym = 1;
    traj_vs_bart("-r -G -D -c", 31, 50, &o);
    memset(&o, 0, sizeof(o));
    o.tiny_golden = 7;
    traj_vs_bart("-r -s 7", 48, 90, &o);
    o.tiny_golden = 1;
    traj_vs_bart("-r -s 1", 48, 13, &o);
    memset(&o, 0, sizeof(o));
    o.kooshball = 1;
    traj_vs_bart("-r -3", 32, 200, &o);
    o.full_circle = 1;
    traj_vs_bart("-r -3 -D", 17, 64, &o);
    /* the rest of bart traj's options (tests/test_tools.sh and diff_bart's
       traj family draw every one) */
    memset(&o, 0, sizeof(o));
    o.cartesian = 1;
    traj_vs_bart("", 32, 30, &o);
    o.accel = 3;
    o.echoes = 2;
    traj_vs_bart("-a 3 -e 2", 17, 30, &o);
    memset(&o, 0, sizeof(o));
    o.turns = 3, o.multiband = 2, o.golden = 1, o.echoes = 2;
    traj_vs_bart("-r -G -t 3 -m 2 -e 2", 24, 7, &o);
    memset(&o, 0, sizeof(o));
    o.multi_echo_spokes = 1, o.echoes = 3, o.full_samples = 40, o.oversampling = 1.5f, o.rotate_deg = -17.5f;
    traj_vs_bart("-r -E -e 3 -d 40 -o 1.5 -R -17.5", 21, 9, &o);
    memset(&o, 0, sizeof(o));
    o.delays[0] = 0.3f, o.delays[1] = -0.2f, o.delays[2] = 0.1f, o.delays[4] = 0.05f, o.kooshball = 1;
    traj_vs_bart("-r -3 -q 0.3:-0.2:0.1 -Q 0:0.05:0", 16, 30, &o);
    o.kooshball = 0, o.transverse = 1, o.half_circle = 1, o.multiband = 3, o.golden_partition = 1;
    traj_vs_bart("-r -O -H -m 3 -g -q 0.3:-0.2:0.1 -Q 0:0.05:0", 16, 11, &o);
}

/* A 2D object of Gaussian blobs and its Fourier transform at k (grid
   units of an n-pixel image): sum a exp(-|r - c|^2 / 2 s^2) transforms to
   sum a 2 pi s^2 exp(-2 pi^2 s^2 |k|^2 / n^2 - 2 pi i k.c / n) */
static void blob_kspace(const float *traj, int64_t npts, double n, float *out)
{
    static const double blob[5][4] = {{1.0, 3.0, 0, 0},     {0.8, 2.0, 9, -4},  {-0.5, 2.5, -7, 6},
                                      {0.6, 1.5, 4, 11},    {0.4, 1.2, -12, -9}}; /* a, s, cx, cy (pixels) */
    int64_t i;
    int b;
    for (i = 0; i < npts; i++) {
        const double kx = traj[6 * i], ky = traj[6 * i + 2];
        double re = 0, im = 0;
        for (b = 0; b < 5; b++) {
            const double a = blob[b][0], sg = blob[b][1];
            const double mag = a * 2 * NU_PI * sg * sg * exp(-2 * NU_PI * NU_PI * sg * sg * (kx * kx + ky * ky) / (n * n));
            const double ph = -2 * NU_PI * (kx * blob[b][2] + ky * blob[b][3]) / n;
            re += mag * cos(ph), im += mag * sin(ph);
        }
        out[2 * i] = (float)re, out[2 * i + 1] = (float)im;
    }
}

/* bart estdelay's methods recover delays put into the trajectory (the
   object's analytic transform sampled at the delayed spokes; no BART) */
static void estdelay_case(const char *what, const mv_traj_opts *t, const mv_estdelay_opts *eo, int64_t x, int64_t y,
                          double tol)
{
    mv_traj_opts nominal = *t;
    mv_vol tr = MV_ZERO_INIT, tn = MV_ZERO_INIT, k = MV_ZERO_INIT;
    mv_estdelay_result r;
    int64_t dims[4] = {1, 0, 0, 1};
    int a;
    memset(nominal.delays, 0, sizeof(nominal.delays));
    REQUIRE_OK(mv_traj_radial(&tr, x, y, t));
    REQUIRE_OK(mv_traj_radial(&tn, x, y, &nominal));
    dims[1] = tr.dim[1], dims[2] = tr.dim[2];
    REQUIRE_OK(mv_vol_alloc(&k, MV_DT_C64, 4, dims, NULL));
    blob_kspace((const float *)tr.data, dims[1] * dims[2], 64.0, (float *)k.data);
    REQUIRE_OK(mv_estdelay(&tn, &k, eo, &r));
    for (a = 0; a < 3; a++)
        if (!(fabs(r.delays[a] - t->delays[a]) <= tol))
            MVT_FAIL("%s: delay %d estimated %.5f, put in %.5f (tolerance %g)", what, a, r.delays[a], t->delays[a], tol);
    mv_free(&tr);
    mv_free(&tn);
    mv_free(&k);
}

MV_TEST(nufft, estdelay_recovers_delays)
{
    mv_traj_opts t;
    mv_estdelay_opts eo;
    mv_vol tr = MV_ZERO_INIT, k = MV_ZERO_INIT;
    mv_estdelay_result r;
    const int64_t kd[4] = {1, 64, 9, 1}, kbad[4] = {1, 64, 8, 1};
    memset(&t, 0, sizeof(t));
    memset(&eo, 0, sizeof(eo));
    t.full_circle = 1;
    t.delays[0] = 0.8f, t.delays[1] = -0.4f, t.delays[2] = 0.3f;
    /* an even count over 360 degrees: every spoke has its exact opposite,
       the AC-adaptive shifts are exact (measured 6e-8) */
    estdelay_case("AC-adaptive, 360 degrees", &t, &eo, 128, 32, 1e-4);
    /* golden angles: the opposing spoke is only near the opposite (0.011 measured) */
    t.full_circle = 0, t.golden = 1, t.oversampling = 2.0f;
    estdelay_case("AC-adaptive, golden angle, oversampled", &t, &eo, 64, 40, 0.02);
    memset(&t, 0, sizeof(t));
    t.full_circle = 1, t.asym = 1, t.transverse = 1;
    t.delays[0] = 0.3f, t.delays[1] = 0.1f, t.delays[2] = 0.2f;
    eo.ring = 1;
    /* RING: the intersections on a grid of 1 / pad_factor samples (0.019, 0.012 measured) */
    estdelay_case("RING, DC sampled", &t, &eo, 128, 15, 0.03);
    eo.intersections = 3, eo.pad_factor = 50, eo.region = 2.0f;
    estdelay_case("RING, 3 intersections", &t, &eo, 128, 61, 0.03);
    /* RING's search split over spokes on 2 threads: the 1-thread delays, every time */
    {
        mv_traj_opts nominal = t;
        mv_vol tn = MV_ZERO_INIT, td = MV_ZERO_INIT, kk = MV_ZERO_INIT;
        mv_estdelay_result r1, r2;
        const int64_t kd61[4] = {1, 128, 61, 1};
        int rep;
        memset(nominal.delays, 0, sizeof(nominal.delays));
        REQUIRE_OK(mv_traj_radial(&td, 128, 61, &t));
        REQUIRE_OK(mv_traj_radial(&tn, 128, 61, &nominal));
        REQUIRE_OK(mv_vol_alloc(&kk, MV_DT_C64, 4, kd61, NULL));
        blob_kspace((const float *)td.data, 128 * 61, 64.0, (float *)kk.data);
        eo.threads = 1;
        REQUIRE_OK(mv_estdelay(&tn, &kk, &eo, &r1));
        for (rep = 0; rep < 4; rep++) {
            eo.threads = 2;
            REQUIRE_OK(mv_estdelay(&tn, &kk, &eo, &r2));
            EXPECT_MSG(memcmp(r1.delays, r2.delays, sizeof(r1.delays)) == 0, "RING: 2 threads differ (run %d)", rep);
        }
        eo.threads = 0;
        mv_free(&tn), mv_free(&td), mv_free(&kk);
    }
    /* refusals */
    memset(&t, 0, sizeof(t));
    REQUIRE_OK(mv_traj_radial(&tr, 64, 9, &t));
    REQUIRE_OK(mv_vol_alloc(&k, MV_DT_C64, 4, kbad, NULL));
    EXPECT_STATUS(mv_estdelay(&tr, &k, NULL, &r), MV_ERR_INVALID_ARG); /* 8 spokes against 9 */
    mv_free(&k);
    REQUIRE_OK(mv_vol_alloc(&k, MV_DT_C64, 4, kd, NULL));
    memset(&eo, 0, sizeof(eo));
    eo.ring = 1, eo.pad_factor = 3;
    EXPECT_STATUS(mv_estdelay(&tr, &k, &eo, &r), MV_ERR_INVALID_ARG); /* odd padding */
    EXPECT_STATUS(mv_estdelay(&tr, &k, NULL, NULL), MV_ERR_INVALID_ARG);
    memset(k.data, 0, (size_t)mv_vol_bytes(&k));
    mv_free(&tr);
    t.oversampling = 0, t.asym = 1;
    REQUIRE_OK(mv_traj_radial(&tr, 63, 9, &t)); /* odd DC-sampled spokes: samples 31 and 32 equally far out */
    mv_free(&k);
    {
        const int64_t kd63[4] = {1, 63, 9, 1};
        REQUIRE_OK(mv_vol_alloc(&k, MV_DT_C64, 4, kd63, NULL));
        EXPECT_STATUS(mv_estdelay(&tr, &k, NULL, &r), MV_ERR_INVALID_ARG);
    }
    mv_free(&tr);
    mv_free(&k);
}

MV_TEST(nufft, traj_extensions)
{
    mv_traj_opts o;
    mv_vol t = MV_ZERO_INIT, t2 = MV_ZERO_INIT;
    const float *a, *b;
    int64_t i, j;
    memset(&o, 0, sizeof(o));
    o.partitions = 5;
    REQUIRE_OK(mv_traj_radial(&t, 8, 6, &o));
    EXPECT_EQ_INT(t.ndim, 5);
    EXPECT_EQ_INT(t.dim[4], 5);
    o.partitions = 0;
    REQUIRE_OK(mv_traj_radial(&t2, 8, 6, &o));
    a = (const float *)t.data;
    b = (const float *)t2.data;
    for (j = 0; j < 5; j++)
        for (i = 0; i < 48; i++) {
            EXPECT(a[6 * (48 * j + i)] == b[6 * i] && a[6 * (48 * j + i) + 2] == b[6 * i + 2]);
            EXPECT(a[6 * (48 * j + i) + 4] == (float)(j - 2));
        }
    mv_free(&t);
    mv_free(&t2);
    /* golden means: unit directions, spokes through the centre, kz >= 0 */
    memset(&o, 0, sizeof(o));
    o.golden_means = 1;
    REQUIRE_OK(mv_traj_radial(&t, 10, 300, &o));
    a = (const float *)t.data;
    for (j = 0; j < 300; j++) {
        const float *e = a + 6 * 10 * j + 6 * 9; /* read = 4.5 */
        double r = sqrt((double)e[0] * e[0] + (double)e[2] * e[2] + (double)e[4] * e[4]);
        EXPECT_NEAR(r, 4.5, 1e-5);
        EXPECT(e[4] >= 0);
    }
    mv_free(&t);
    EXPECT_STATUS(mv_traj_radial(&t, 0, 10, NULL), MV_ERR_INVALID_ARG);
    o.kooshball = 1;
    EXPECT_STATUS(mv_traj_radial(&t, 10, 10, &o), MV_ERR_INVALID_ARG);
}

/* ---- density compensation ---- */

MV_TEST(nufft, dcf_ramp_and_pipe_menon)
{
    mv_traj_opts to;
    mv_dcf_opts dopt;
    mv_vol t = MV_ZERO_INIT, wr = MV_ZERO_INIT, wp = MV_ZERO_INIT, w1 = MV_ZERO_INIT;
    const float *k, *r, *q;
    int64_t X = 128, Y = 101, i, j, N[3] = {64, 64, 1};
    double maxdev = 0, psf[2];
    memset(&to, 0, sizeof(to));
    REQUIRE_OK(mv_traj_radial(&t, X, Y, &to));
    REQUIRE_OK(mv_dcf(&t, &w1, NULL));
    EXPECT_EQ_INT(w1.dim[0], 1);
    EXPECT_EQ_INT(w1.dim[1], X);
    EXPECT_EQ_INT(w1.dim[2], Y);
    k = (const float *)t.data;
    r = (const float *)w1.data;
    /* analytic: pi |k| dr / Y, dr = 1 */
    for (i = 0; i < X * Y; i++) EXPECT_REL(r[i], NU_PI * hypot(k[6 * i], k[6 * i + 2]) / Y, 1e-5); /* dr from float samples */
    /* halve the trajectory: |k| <= 32, so a 64-pixel image is sampled
       without azimuthal gaps (pi 32 / 101 < 1) */
    for (i = 0; i < 3 * X * Y; i++) ((float *)t.data)[2 * i] *= 0.5f;
    REQUIRE_OK(mv_dcf(&t, &wr, NULL));
    r = (const float *)wr.data;
    for (i = 0; i < X * Y; i++) EXPECT_REL(r[i], NU_PI * 0.5 * hypot(k[6 * i], k[6 * i + 2]) / Y, 1e-5);
    memset(&dopt, 0, sizeof(dopt));
    dopt.method = MV_DCF_PIPE_MENON;
    dopt.iterations = 30;
    REQUIRE_OK(mv_dcf(&t, &wp, &dopt));
    q = (const float *)wp.data;
    /* mid radii (away from the centre and the edge): the ramp */
    for (j = 0; j < Y; j++)
        for (i = 0; i < X; i++) {
            double rr = 0.5 * fabs(i + 0.5 - X / 2.0), dv;
            if (rr < 8 || rr > 22) continue;
            dv = fabs(q[j * X + i] / r[j * X + i] - 1);
            if (dv > maxdev) maxdev = dv;
        }
    EXPECT_MSG(maxdev < 0.02, "Pipe-Menon vs ramp at radii 8..22: %.3g", maxdev);
    if (getenv("NUFFT_VERBOSE")) printf("  Pipe-Menon / ramp - 1 at radii 8..22: max %.3g\n", maxdev);
    /* PSF: A^H W A of a centred delta has the height s^2 sum w = the
       sampled disc's area / N^2 = pi / 4 for area weights */
    {
        int pass;
        for (pass = 0; pass < 2; pass++) {
            const float *w = pass ? q : r;
            float *img = (float *)calloc((size_t)(64 * 64), 8), *ks = (float *)malloc((size_t)(8 * X * Y));
            mv_nufft_plan *p = NULL;
            mv_nufft_opts o = MV_ZERO_INIT;
            float *coords = (float *)malloc((size_t)(12 * X * Y));
            for (i = 0; i < X * Y; i++) {
                coords[3 * i] = k[6 * i];
                coords[3 * i + 1] = k[6 * i + 2];
                coords[3 * i + 2] = 0;
            }
            img[2 * (32 * 64 + 32)] = 1;
            REQUIRE_OK(mv_nufft_plan_make(&p, N, coords, X * Y, &o));
            EXPECT_OK(mv_nufft_execute(p, 0, img, ks, 1));
            for (i = 0; i < X * Y; i++) {
                ks[2 * i] *= w[i];
                ks[2 * i + 1] *= w[i];
            }
            EXPECT_OK(mv_nufft_execute(p, 1, ks, img, 1));
            psf[pass] = img[2 * (32 * 64 + 32)];
            mv_nufft_plan_free(p);
            free(img);
            free(ks);
            free(coords);
        }
        EXPECT_MSG(fabs(psf[0] / (NU_PI / 4) - 1) < 0.02 && fabs(psf[1] / (NU_PI / 4) - 1) < 0.02,
                   "PSF centre: ramp %.4f, Pipe-Menon %.4f, pi/4 expected", psf[0], psf[1]);
    }
    /* weights apply to every coil in one pass */
    {
        mv_vol ksp = MV_ZERO_INIT;
        int64_t d[4] = {1, X, Y, 4}, c;
        const float *kk;
        REQUIRE_OK(mv_vol_alloc(&ksp, MV_DT_C64, 4, d, NULL));
        for (i = 0; i < 2 * X * Y * 4; i++) ((float *)ksp.data)[i] = 1.0f;
        EXPECT_OK(mv_kspace_weight(&ksp, &wr, NULL));
        kk = (const float *)ksp.data;
        for (c = 0; c < 4; c++)
            for (i = 0; i < X * Y; i++) EXPECT(kk[2 * (c * X * Y + i)] == r[i]);
        mv_free(&ksp);
    }
    mv_free(&t);
    mv_free(&wr);
    mv_free(&wp);
    mv_free(&w1);
}

/* Pipe-Menon on a series: each trajectory frame (dims 4..6) its own
   density, as mv_nufft gives each frame its own plan. Three frames of one
   radial pattern at scales 0.5, 0.47, 0.44 (interleaved, pooling them
   would about triple the density and give a third of each ramp): every
   frame within 2% of its own analytic ramp at mid radii, and the bytes of
   that frame's weights computed alone */
MV_TEST(nufft, dcf_pipe_menon_per_frame)
{
    static const float scale[3] = {0.5f, 0.47f, 0.44f};
    mv_dcf_opts dopt;
    mv_vol t = MV_ZERO_INIT, ts = MV_ZERO_INIT, ws = MV_ZERO_INIT;
    int64_t X = 128, Y = 101, i, j, f, d[6];
    memset(&dopt, 0, sizeof(dopt));
    dopt.method = MV_DCF_PIPE_MENON;
    dopt.iterations = 30;
    REQUIRE_OK(mv_traj_radial(&t, X, Y, NULL));
    d[0] = 3, d[1] = X, d[2] = Y, d[3] = 1, d[4] = 1, d[5] = 3; /* frames in dims[5], BART's TE axis */
    REQUIRE_OK(mv_vol_alloc(&ts, MV_DT_C64, 6, d, NULL));
    for (f = 0; f < 3; f++)
        for (i = 0; i < 6 * X * Y; i++) ((float *)ts.data)[f * 6 * X * Y + i] = ((const float *)t.data)[i] * scale[f];
    REQUIRE_OK(mv_dcf(&ts, &ws, &dopt));
    REQUIRE(ws.ndim == 6 && ws.dim[0] == 1 && ws.dim[1] == X && ws.dim[2] == Y && ws.dim[5] == 3);
    for (f = 0; f < 3; f++) {
        mv_vol tf = MV_ZERO_INIT, wf = MV_ZERO_INIT;
        const float *k = (const float *)ts.data + f * 6 * X * Y, *q = (const float *)ws.data + f * X * Y;
        double maxdev = 0;
        int64_t d3[3] = {3, X, Y};
        for (j = 0; j < Y; j++)
            for (i = 0; i < X; i++) {
                const double idx = fabs(i + 0.5 - X / 2.0), ramp = NU_PI * (scale[f] * idx) * scale[f] / Y; /* pi |k| dr / Y */
                if (idx < 16 || idx > 44) continue;
                if (fabs(q[j * X + i] / ramp - 1) > maxdev) maxdev = fabs(q[j * X + i] / ramp - 1);
            }
        EXPECT_MSG(maxdev < 0.02, "frame %lld (scale %.2f): Pipe-Menon vs its ramp: %.3g", (long long)f, scale[f], maxdev);
        REQUIRE_OK(mv_vol_wrap(&tf, (void *)k, MV_DT_C64, 3, d3));
        REQUIRE_OK(mv_dcf(&tf, &wf, &dopt));
        EXPECT_MSG(!memcmp(wf.data, q, (size_t)(X * Y) * sizeof(float)), "frame %lld: not its weights alone", (long long)f);
        mv_free(&wf);
    }
    mv_free(&t);
    mv_free(&ts);
    mv_free(&ws);
}

static int cancel_at_3(void *u, double done)
{
    (void)done;
    return ++*(int *)u >= 3;
}

MV_TEST(nufft, bad_arguments)
{
    int64_t N[3] = {16, 16, 1}, N1[3] = {16, 1, 1}, Nb[3] = {16, 0, 1};
    float c[6] = {0, 0, 0, 1, 2, 0}, nanc[6] = {0, 0, 0, 1, 0, 0};
    mv_nufft_plan *p = NULL;
    mv_nufft_opts o = MV_ZERO_INIT;
    mv_vol t = MV_ZERO_INIT, w = MV_ZERO_INIT;
    mv_dcf_opts d;
    int calls = 0;
    float buf[2048];
    EXPECT_STATUS(mv_nufft_plan_make(NULL, N, c, 2, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_nufft_plan_make(&p, N, NULL, 2, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_nufft_plan_make(&p, N, c, 0, NULL), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_nufft_plan_make(&p, N1, c, 2, NULL), MV_ERR_UNSUPPORTED);
    EXPECT_STATUS(mv_nufft_plan_make(&p, Nb, c, 2, NULL), MV_ERR_INVALID_ARG);
    o.tol = 1e-8;
    EXPECT_STATUS(mv_nufft_plan_make(&p, N, c, 2, &o), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "tol") != NULL);
    o.tol = 0;
    o.block = 3;
    EXPECT_STATUS(mv_nufft_plan_make(&p, N, c, 2, &o), MV_ERR_INVALID_ARG);
    o.block = 0;
    nanc[4] = (float)NAN;
    EXPECT_STATUS(mv_nufft_plan_make(&p, N, nanc, 2, &o), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "point 1") != NULL);
    EXPECT(p == NULL);
    REQUIRE_OK(mv_nufft_plan_make(&p, N, c, 2, &o));
    EXPECT_STATUS(mv_nufft_execute(p, 0, buf, buf + 4, 1), MV_ERR_INVALID_ARG); /* overlap */
    EXPECT_STATUS(mv_nufft_execute(p, 0, buf, NULL, 1), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_nufft_execute(p, 0, buf, buf + 1024, 0), MV_ERR_INVALID_ARG);
    EXPECT_STATUS(mv_nufft_execute(NULL, 0, buf, buf + 1024, 1), MV_ERR_INVALID_ARG);
    EXPECT_OK(mv_nufft_execute(p, 0, buf, buf + 1024, 1));
    mv_nufft_plan_free(p);
    mv_nufft_plan_free(NULL);
    EXPECT_STATUS(mv_dcf(NULL, &w, NULL), MV_ERR_INVALID_ARG);
    REQUIRE_OK(mv_traj_radial(&t, 32, 20, NULL));
    memset(&d, 0, sizeof(d));
    d.method = MV_DCF_PIPE_MENON;
    d.progress = cancel_at_3;
    d.progress_user = &calls;
    EXPECT_STATUS(mv_dcf(&t, &w, &d), MV_ERR_CANCELLED);
    EXPECT_EQ_INT(calls, 3);
    d.method = (mv_dcf_method)7;
    EXPECT_STATUS(mv_dcf(&t, &w, &d), MV_ERR_INVALID_ARG);
    mv_free(&t);
}

/* BART's nufft on the same data: medvol's distance to BART is BART's own
   error (against the exact NUDFT on a subset), medvol's error far below */
/* mv_nufft with trajectory and data frames (axes 4..6), as BART's nufft
   broadcasts them: an adjoint gives one image per frame (it had summed the
   trajectory's frames into one image), a shared trajectory serves a
   series, and one image meets every trajectory frame. Each output frame
   against the exact NUDFT of its own trajectory and data frames. */
MV_TEST(nufft, frames_broadcast_as_bart)
{
    const int64_t N[3] = {12, 10, 1}, X = 9, Y = 5, C = 2;
    int64_t td[5] = {3, X, Y, 1, 2}, kd1[5] = {1, X, Y, C, 1}, kd2[5] = {1, X, Y, C, 2}, kd3[5] = {1, X, Y, C, 3},
            id2[5] = {12, 10, 1, C, 2}, t1d[3] = {3, X, Y};
    mv_vol tr = MV_ZERO_INIT, t1 = MV_ZERO_INIT, k1 = MV_ZERO_INIT, k2 = MV_ZERO_INIT, k3 = MV_ZERO_INIT,
           im2 = MV_ZERO_INIT, out = MV_ZERO_INIT;
    float *co = random_coords(N, 2 * X * Y, 77);
    int64_t m = X * Y, f, j, v, c;
    int kcase;
    REQUIRE_OK(mv_vol_alloc(&tr, MV_DT_C64, 5, td, NULL));
    REQUIRE_OK(mv_vol_alloc(&t1, MV_DT_C64, 3, t1d, NULL));
    for (j = 0; j < 2 * m; j++)
        for (c = 0; c < 3; c++) {
            ((float *)tr.data)[2 * (3 * j + c)] = co[3 * j + c];
            ((float *)tr.data)[2 * (3 * j + c) + 1] = 0;
        }
    memcpy(t1.data, tr.data, mv_vol_bytes(&t1)); /* frame 0 alone */
    REQUIRE_OK(mv_vol_alloc(&k1, MV_DT_C64, 5, kd1, NULL));
    REQUIRE_OK(mv_vol_alloc(&k2, MV_DT_C64, 5, kd2, NULL));
    REQUIRE_OK(mv_vol_alloc(&k3, MV_DT_C64, 5, kd3, NULL));
    REQUIRE_OK(mv_vol_alloc(&im2, MV_DT_C64, 5, id2, NULL));
    fill_cplx((float *)k1.data, mv_vol_count(&k1), 5);
    fill_cplx((float *)k2.data, mv_vol_count(&k2), 6);
    fill_cplx((float *)im2.data, mv_vol_count(&im2), 8);
    /* adjoints: traj frames x k-space frames (2 x 2, 2 x 1) and a shared
       trajectory for two k-space frames (1 x 2) */
    for (kcase = 0; kcase < 3; kcase++) {
        const mv_vol *tv = kcase == 2 ? &t1 : &tr, *kv = kcase == 1 ? &k1 : &k2;
        double err = 0, den = 0;
        REQUIRE_OK(mv_nufft(tv, kv, &out, 1, N, NULL));
        EXPECT_MSG(out.ndim == 5 && out.dim[0] == 12 && out.dim[1] == 10 && out.dim[3] == C && out.dim[4] == 2,
                   "case %d: ndim %d dims %lld %lld %lld %lld %lld", kcase, out.ndim, (long long)out.dim[0],
                   (long long)out.dim[1], (long long)out.dim[2], (long long)out.dim[3], (long long)out.dim[4]);
        for (f = 0; f < 2; f++)
            for (c = 0; c < C; c++)
                for (v = 0; v < 12 * 10; v += 7) {
                    const float *ks = (const float *)kv->data + 2 * m * (c + C * (kv->dim[4] > 1 ? f : 0));
                    const float *got = (const float *)out.data + 2 * (v + 120 * (c + C * f));
                    double re, im;
                    nudft_adj(N, ks, co + 3 * m * (tv->dim[4] > 1 ? f : 0), m, v % 12, v / 12, 0, &re, &im);
                    err += (got[0] - re) * (got[0] - re) + (got[1] - im) * (got[1] - im);
                    den += re * re + im * im;
                }
        EXPECT_MSG(sqrt(err / den) <= 1e-3, "adjoint case %d: relative error %.3g against the NUDFT", kcase,
                   sqrt(err / den));
        mv_free(&out);
    }
    /* forward of two image frames at two trajectory frames */
    {
        double err = 0, den = 0;
        REQUIRE_OK(mv_nufft(&tr, &im2, &out, 0, N, NULL));
        EXPECT(out.ndim == 5 && out.dim[1] == X && out.dim[2] == Y && out.dim[3] == C && out.dim[4] == 2);
        for (f = 0; f < 2; f++)
            for (c = 0; c < C; c++)
                for (j = 0; j < m; j += 3) {
                    const float *got = (const float *)out.data + 2 * (j + m * (c + C * f));
                    double re, im;
                    nudft_fwd(N, (const float *)im2.data + 2 * 120 * (c + C * f), co + 3 * (m * f + j), &re, &im);
                    err += (got[0] - re) * (got[0] - re) + (got[1] - im) * (got[1] - im);
                    den += re * re + im * im;
                }
        EXPECT_MSG(sqrt(err / den) <= 1e-3, "forward: relative error %.3g against the NUDFT", sqrt(err / den));
        mv_free(&out);
    }
    /* 2 trajectory frames and 3 k-space frames: no broadcast */
    EXPECT_STATUS(mv_nufft(&tr, &k3, &out, 1, N, NULL), MV_ERR_INVALID_ARG);
    EXPECT(strstr(mv_last_error(), "frames") != NULL);
    free(co);
    mv_free(&tr);
    mv_free(&t1);
    mv_free(&k1);
    mv_free(&k2);
    mv_free(&k3);
    mv_free(&im2);
}

MV_TEST(nufft, matches_bart_nufft)
{
    char tp[600], ip[600], kp[600], ap[600], cmd[4000];
    mv_traj_opts to;
    mv_vol t = MV_ZERO_INIT, img = MV_ZERO_INIT, bk = MV_ZERO_INIT, ba = MV_ZERO_INIT, mk = MV_ZERO_INIT,
           ma = MV_ZERO_INIT;
    int64_t d[4] = {64, 64, 1, 2}, dims[3] = {64, 64, 1}, i, m = 64 * 60;
    double eb[2] = {0, 0}, em[2] = {0, 0}, dmb[2] = {0, 0}, den[2] = {0, 0};
    float *coords;
    if (!have_bart()) SKIP("needs the bart command (Debian package bart)");
    snprintf(tp, sizeof(tp), "%s", tu_path("nufft_bt"));
    snprintf(ip, sizeof(ip), "%s", tu_path("nufft_bi"));
    snprintf(kp, sizeof(kp), "%s", tu_path("nufft_bk"));
    snprintf(ap, sizeof(ap), "%s", tu_path("nufft_ba"));
    memset(&to, 0, sizeof(to));
    to.golden = 1;
    REQUIRE_OK(mv_traj_radial(&t, 64, 60, &to));
    REQUIRE_OK(mv_vol_alloc(&img, MV_DT_C64, 4, d, NULL));
    fill_cplx((float *)img.data, 64 * 64 * 2, 21);
    REQUIRE_OK(mv_cfl_save(tp, &t, NULL));
    REQUIRE_OK(mv_cfl_save(ip, &img, NULL));
    snprintf(cmd, sizeof(cmd),
             "bart nufft -d 64:64:1 %s %s %s >/dev/null 2>&1 && bart nufft -a -d 64:64:1 %s %s %s >/dev/null 2>&1", tp,
             ip, kp, tp, kp, ap);
    REQUIRE(system(cmd) == 0);
    REQUIRE_OK(mv_cfl_load(kp, &bk, NULL));
    REQUIRE_OK(mv_cfl_load(ap, &ba, NULL));
    REQUIRE_OK(mv_nufft(&t, &img, &mk, 0, dims, NULL));
    REQUIRE_OK(mv_nufft(&t, &bk, &ma, 1, dims, NULL));
    REQUIRE(mv_vol_count(&mk) == mv_vol_count(&bk) && mv_vol_count(&ma) == mv_vol_count(&ba));
    coords = (float *)malloc((size_t)(12 * m));
    for (i = 0; i < m; i++) {
        coords[3 * i] = ((const float *)t.data)[6 * i];
        coords[3 * i + 1] = ((const float *)t.data)[6 * i + 2];
        coords[3 * i + 2] = 0;
    }
    for (i = 0; i < 300; i++) { /* forward, coil 1 */
        int64_t j = (i * 613) % m, q = m + j;
        double re, im;
        const float *a = (const float *)mk.data + 2 * q, *b = (const float *)bk.data + 2 * q;
        nudft_fwd(dims, (const float *)img.data + 2 * 64 * 64, coords + 3 * j, &re, &im);
        eb[0] += (b[0] - re) * (b[0] - re) + (b[1] - im) * (b[1] - im);
        em[0] += (a[0] - re) * (a[0] - re) + (a[1] - im) * (a[1] - im);
        dmb[0] += ((double)a[0] - b[0]) * ((double)a[0] - b[0]) + ((double)a[1] - b[1]) * ((double)a[1] - b[1]);
        den[0] += re * re + im * im;
    }
    for (i = 0; i < 200; i++) { /* adjoint of bart's k-space, coil 0 */
        int64_t v = (i * 1237) % (64 * 64);
        double re, im;
        const float *a = (const float *)ma.data + 2 * v, *b = (const float *)ba.data + 2 * v;
        nudft_adj(dims, (const float *)bk.data, coords, m, v % 64, v / 64, 0, &re, &im);
        eb[1] += (b[0] - re) * (b[0] - re) + (b[1] - im) * (b[1] - im);
        em[1] += (a[0] - re) * (a[0] - re) + (a[1] - im) * (a[1] - im);
        dmb[1] += ((double)a[0] - b[0]) * ((double)a[0] - b[0]) + ((double)a[1] - b[1]) * ((double)a[1] - b[1]);
        den[1] += re * re + im * im;
    }
    for (i = 0; i < 2; i++) {
        double e_b = sqrt(eb[i] / den[i]), e_m = sqrt(em[i] / den[i]), d_mb = sqrt(dmb[i] / den[i]);
        EXPECT_MSG(e_m <= 1e-3, "%s: medvol's error %.3g", i ? "adjoint" : "forward", e_m);
        EXPECT_MSG(d_mb <= 1.1 * e_b + 1e-3, "%s: medvol - bart %.3g, bart's own error %.3g", i ? "adjoint" : "forward",
                   d_mb, e_b);
        if (getenv("NUFFT_VERBOSE"))
            printf("  %s: bart err %.3g, medvol err %.3g, distance %.3g\n", i ? "adjoint" : "forward", e_b, e_m, d_mb);
    }
    free(coords);
    mv_free(&t);
    mv_free(&img);
    mv_free(&bk);
    mv_free(&ba);
    mv_free(&mk);
    mv_free(&ma);
}
