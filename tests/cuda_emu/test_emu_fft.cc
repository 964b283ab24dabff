/* test_emu_fft.cc - self-test of the CUDA emulator's cuFFT (emu_cufft.cc) and of its half / bfloat16
   headers (include/cuda_fp16.h, include/cuda_bf16.h), against references written here independently:
   a direct double-precision DFT, and decoding / midpoint rounding of every 16-bit pattern.

   `make test-cuda-emu` builds it with the emulator's runtime (build/emu/test_emu_fft): the data lives in
   emulated device memory, transforms run when a copy back synchronises, and cufftExecC2C's pointer checks
   and stream order are tested too.
   The last line is "N passed, N failed"; the exit status is non-zero on any failure. */
#include "cuda_runtime.h"
#include "cufft.h"
#include "cuda_fp16.h"
#include "cuda_bf16.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vector>

/* ---- a small harness: checks are grouped; a group passes when none of its checks failed -------------------- */

static int g_passed, g_failed;
static const char *g_group;
static long g_group_bad;

static void group_begin(const char *name)
{
    g_group = name;
    g_group_bad = 0;
}

static void group_end(void)
{
    if (g_group_bad) {
        printf("FAIL %s (%ld failed checks)\n", g_group, g_group_bad);
        g_failed++;
    } else {
        printf("ok   %s\n", g_group);
        g_passed++;
    }
}

/* Records one check; prints the first few failures of a group (the rest only count). */
static void expect(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect(bool ok, const char *fmt, ...)
{
    if (ok) return;
    if (++g_group_bad <= 5) {
        va_list ap;
        va_start(ap, fmt);
        printf("  %s: ", g_group);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float rng_float(void) { return (float)((double)(rng_next() >> 11) * 0x1p-53 * 2.0 - 1.0); }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- device memory ------------------------------------------------------------------------------------------ */

/* A device copy of h (a synchronous copy, as on a GPU). */
static cufftComplex *to_device(const std::vector<cufftComplex> &h)
{
    void *d = NULL;
    if (cudaMalloc(&d, h.size() * sizeof(cufftComplex)) != cudaSuccess) {
        fprintf(stderr, "test_emu_fft: cudaMalloc failed\n");
        exit(2);
    }
    cudaMemcpy(d, h.data(), h.size() * sizeof(cufftComplex), cudaMemcpyHostToDevice);
    return (cufftComplex *)d;
}

/* h = the device data at d, then d freed; the copy waits for queued transforms. */
static void to_host(std::vector<cufftComplex> &h, cufftComplex *d)
{
    cudaMemcpy(h.data(), d, h.size() * sizeof(cufftComplex), cudaMemcpyDeviceToHost);
    cudaFree(d);
}

/* ---- cuFFT: references ---------------------------------------------------------------------------------------- */

struct dcplx {
    double re, im;
};

/* One side of a plan as cuFFT's documentation defines it. embed NULL: basic layout. */
struct side {
    const int *embed;
    int stride, dist;
};

static int64_t product(int rank, const int *n)
{
    int64_t p = 1;
    for (int k = 0; k < rank; k++) p *= n[k];
    return p;
}

/* Element offset of point idx (row-major index of the rank-dimensional transform, n[0] slowest) of batch b. */
static int64_t elem_offset(int rank, const int *n, const side &s, int64_t b, int64_t idx)
{
    int64_t sub[3] = {0, 0, 0}, rest = idx;
    for (int k = rank - 1; k >= 0; k--) {
        sub[k] = rest % n[k];
        rest /= n[k];
    }
    if (!s.embed) return b * product(rank, n) + idx;
    int64_t off = sub[0];
    for (int k = 1; k < rank; k++) off = off * s.embed[k] + sub[k];
    return b * s.dist + off * s.stride;
}

static int64_t span(int rank, const int *n, const side &s, int64_t batch)
{
    int64_t last = 0, total = product(rank, n);
    for (int64_t b = 0; b < batch; b++) {
        /* the largest offset is that of the last point, but checking every point keeps the test simple */
        for (int64_t i = 0; i < total; i++) {
            int64_t o = elem_offset(rank, n, s, b, i);
            if (o > last) last = o;
        }
    }
    return last + 1;
}

/* Direct DFT of one transform (contiguous, row-major), one output point at a time:
   X[k] = sum_j x[j] prod_a e^{sign 2 pi i k_a j_a / n_a}, the exponent's fraction reduced exactly
   ((k_a j_a) mod n_a) before the table lookup. */
struct direct_dft {
    int rank;
    int n[3];
    std::vector<dcplx> w[3];

    direct_dft(int r, const int *nn, int sign) : rank(r)
    {
        for (int a = 0; a < rank; a++) {
            n[a] = nn[a];
            w[a].resize((size_t)n[a]);
            for (int t = 0; t < n[a]; t++) {
                double ang = sign * 2.0 * M_PI * (double)t / (double)n[a];
                w[a][t] = dcplx{cos(ang), sin(ang)};
            }
        }
    }

    void split(int64_t idx, int64_t *sub) const
    {
        for (int a = rank - 1; a >= 0; a--) {
            sub[a] = idx % n[a];
            idx /= n[a];
        }
    }

    dcplx point(const dcplx *x, int64_t k) const
    {
        int64_t ks[3], js[3], total = product(rank, n);
        split(k, ks);
        double sr = 0, si = 0;
        for (int64_t j = 0; j < total; j++) {
            split(j, js);
            double pr = 1, pi = 0;
            for (int a = 0; a < rank; a++) {
                dcplx t = w[a][ks[a] * js[a] % n[a]];
                double nr = pr * t.re - pi * t.im;
                pi = pr * t.im + pi * t.re;
                pr = nr;
            }
            sr += x[j].re * pr - x[j].im * pi;
            si += x[j].re * pi + x[j].im * pr;
        }
        return dcplx{sr, si};
    }
};

static void naive_dft(int rank, const int *n, const dcplx *x, dcplx *X, int sign)
{
    direct_dft d(rank, n, sign);
    for (int64_t k = 0; k < product(rank, n); k++) X[k] = d.point(x, k);
}

/* ---- cuFFT: transforms against the direct DFT ---------------------------------------------------------------- */

struct fft_case {
    const char *name;
    int rank;
    int n[3];
    const int *inembed;
    int istride, idist;
    const int *onembed;
    int ostride, odist;
    int batch;
    bool in_place;
    int direction;
};

/* Plans and runs one case on random data. Checks the output against the direct DFT (error relative to the
   largest reference value, and that nearly all points are the correctly rounded float of the exact result, which
   a float32 computation would miss), and that no element outside the output layout changed. Small cases check
   every point; large ones (which the emulator runs in several chunks of batches) a few points of every batch. */
static void run_case(const fft_case &c)
{
    group_begin(c.name);
    side si = {c.inembed, c.istride, c.idist}, so = {c.onembed, c.ostride, c.odist};
    int64_t total = product(c.rank, c.n), ispan = span(c.rank, c.n, si, c.batch);
    int64_t ospan = span(c.rank, c.n, so, c.batch);
    int64_t ilen = c.in_place ? (ispan > ospan ? ispan : ospan) : ispan, olen = c.in_place ? ilen : ospan;
    std::vector<cufftComplex> in((size_t)ilen), out((size_t)olen), in_copy, before;
    for (auto &v : in) v = make_float2(rng_float(), rng_float());
    for (auto &v : out) v = make_float2(1234.5f, -999.0f);
    in_copy = in;
    before = c.in_place ? in : out;
    cufftComplex *din = to_device(in), *dout = c.in_place ? din : to_device(out);

    cufftHandle p = -1;
    int n[3] = {c.n[0], c.n[1], c.n[2]};
    cufftResult r = cufftPlanMany(&p, c.rank, n, (int *)c.inembed, c.istride, c.idist, (int *)c.onembed, c.ostride,
                                  c.odist, CUFFT_C2C, c.batch);
    expect(r == CUFFT_SUCCESS, "cufftPlanMany: %d", (int)r);
    if (r == CUFFT_SUCCESS) {
        r = cufftExecC2C(p, din, dout, c.direction);
        expect(r == CUFFT_SUCCESS, "cufftExecC2C: %d", (int)r);
        expect(cufftDestroy(p) == CUFFT_SUCCESS, "cufftDestroy"); /* with the transform still queued */
    }
    if (!c.in_place) to_host(out, dout);
    to_host(in, din);
    const cufftComplex *op = c.in_place ? in.data() : out.data();

    const bool every_point = total * c.batch <= 20000;
    direct_dft ref(c.rank, c.n, c.direction);
    std::vector<dcplx> x((size_t)total);
    std::vector<char> written((size_t)olen, 0);
    double maxref = 0, maxerr = 0;
    int64_t checked = 0, inexact = 0;
    for (int64_t b = 0; b < c.batch; b++) {
        for (int64_t i = 0; i < total; i++) {
            const cufftComplex &v = in_copy[elem_offset(c.rank, c.n, si, b, i)];
            x[i] = dcplx{v.x, v.y};
            written[elem_offset(c.rank, c.n, so, b, i)] = 1;
        }
        const int64_t spots[] = {0, 1, total / 2, total - 1, (int64_t)(rng_next() % (uint64_t)total)};
        for (int64_t s = 0; s < (every_point ? total : 5); s++) {
            int64_t k = every_point ? s : spots[s];
            dcplx X = ref.point(x.data(), k);
            const cufftComplex &y = op[elem_offset(c.rank, c.n, so, b, k)];
            double er = fabs((double)y.x - X.re), ei = fabs((double)y.y - X.im);
            maxref = fmax(maxref, fmax(fabs(X.re), fabs(X.im)));
            maxerr = fmax(maxerr, er == er && ei == ei ? fmax(er, ei) : INFINITY);
            inexact += y.x != (float)X.re || y.y != (float)X.im;
            checked++;
        }
    }
    expect(maxerr <= 1e-6 * maxref, "max error %.3g, relative %.3g", maxerr, maxerr / maxref);
    /* a point may round the other way when the exact result is within the double error of a tie */
    expect(inexact <= 2 + checked / 100, "%lld of %lld points not correctly rounded", (long long)inexact,
           (long long)checked);
    int64_t changed = 0;
    for (int64_t o = 0; o < olen; o++)
        if (!written[o] && memcmp(&op[o], &before[o], sizeof(cufftComplex)) != 0) changed++;
    expect(changed == 0, "%lld elements outside the output layout changed", (long long)changed);
    group_end();
}

static void test_transforms(void)
{
    static const int emb_a[2] = {0, 9};         /* rank 2 rows of 9 holding 7 points */
    static const int emb_b[3] = {0, 6, 11};     /* rank 3 */
    static const int emb_c[2] = {0, 16};
    static const int emb_1[1] = {0};            /* rank 1: embed[0] is unused */
    static const int emb_64[2] = {0, 64};
    const fft_case cases[] = {
        {"1d n=1 batch 3", 1, {1}, NULL, 1, 0, NULL, 1, 0, 3, false, CUFFT_FORWARD},
        {"1d n=2", 1, {2}, NULL, 1, 0, NULL, 1, 0, 1, false, CUFFT_FORWARD},
        {"1d n=64 forward", 1, {64}, NULL, 1, 0, NULL, 1, 0, 1, false, CUFFT_FORWARD},
        {"1d n=256 inverse batch 4", 1, {256}, NULL, 1, 0, NULL, 1, 0, 4, false, CUFFT_INVERSE},
        {"1d n=7 (prime)", 1, {7}, NULL, 1, 0, NULL, 1, 0, 2, false, CUFFT_FORWARD},
        {"1d n=13 inverse", 1, {13}, NULL, 1, 0, NULL, 1, 0, 1, false, CUFFT_INVERSE},
        {"1d n=101 batch 5", 1, {101}, NULL, 1, 0, NULL, 1, 0, 5, false, CUFFT_FORWARD},
        {"1d n=15 (odd)", 1, {15}, NULL, 1, 0, NULL, 1, 0, 3, false, CUFFT_FORWARD},
        {"1d n=3 in place", 1, {3}, NULL, 1, 0, NULL, 1, 0, 4, true, CUFFT_FORWARD},
        {"1d n=4099 (prime, long)", 1, {4099}, NULL, 1, 0, NULL, 1, 0, 1, false, CUFFT_FORWARD},
        {"1d n=1000 in place inverse", 1, {1000}, NULL, 1, 0, NULL, 1, 0, 2, true, CUFFT_INVERSE},
        {"2d 16x8", 2, {16, 8}, NULL, 1, 0, NULL, 1, 0, 1, false, CUFFT_FORWARD},
        {"2d 13x6 in place batch 3", 2, {13, 6}, NULL, 1, 0, NULL, 1, 0, 3, true, CUFFT_INVERSE},
        {"2d 1x9", 2, {1, 9}, NULL, 1, 0, NULL, 1, 0, 2, false, CUFFT_FORWARD},
        {"2d 5x1", 2, {5, 1}, NULL, 1, 0, NULL, 1, 0, 2, false, CUFFT_FORWARD},
        {"3d 8x4x2", 3, {8, 4, 2}, NULL, 1, 0, NULL, 1, 0, 1, false, CUFFT_FORWARD},
        {"3d 5x7x3 batch 2", 3, {5, 7, 3}, NULL, 1, 0, NULL, 1, 0, 2, false, CUFFT_INVERSE},
        {"3d 4x6x9 in place", 3, {4, 6, 9}, NULL, 1, 0, NULL, 1, 0, 2, true, CUFFT_FORWARD},
        {"3d 1x1x1", 3, {1, 1, 1}, NULL, 1, 0, NULL, 1, 0, 2, false, CUFFT_FORWARD},
        /* advanced layouts */
        {"1d n=12 stride 3 dist 40 -> stride 2 dist 25", 1, {12}, emb_1, 3, 40, emb_1, 2, 25, 3, false,
         CUFFT_FORWARD},
        {"2d 5x7 embed 9 stride 2 -> basic", 2, {5, 7}, emb_a, 2, 100, NULL, 1, 0, 2, false, CUFFT_FORWARD},
        {"3d 3x5x10 embed 6x11 -> embed 6x11 stride 2", 3, {3, 5, 10}, emb_b, 1, 200, emb_b, 2, 400, 2, false,
         CUFFT_INVERSE},
        {"2d 4x16 interleaved 3 (stride 3 dist 1) in place", 2, {4, 16}, emb_c, 3, 1, emb_c, 3, 1, 3, true,
         CUFFT_FORWARD},
        /* in place with different layouts: every input is read before any output is written */
        {"1d n=8 in place, contiguous -> interleaved", 1, {8}, emb_1, 1, 8, emb_1, 4, 1, 4, true, CUFFT_FORWARD},
        {"1d n=9 in place, interleaved -> contiguous", 1, {9}, emb_1, 3, 1, emb_1, 1, 9, 3, true, CUFFT_INVERSE},
        {"basic layout ignores stride / dist", 2, {6, 5}, NULL, 0, -7, NULL, 5, 3, 2, false, CUFFT_FORWARD},
        /* large enough (over 2^20 points) that the emulator works in chunks of batches */
        {"1d n=4096 batch 300 (chunks)", 1, {4096}, NULL, 1, 0, NULL, 1, 0, 300, false, CUFFT_FORWARD},
        {"2d 64x64 batch 300 interleaved in place (chunks)", 2, {64, 64}, emb_64, 300, 1, emb_64, 300, 1, 300, true,
         CUFFT_INVERSE},
        {"1d n=4096 batch 300 interleaved -> contiguous (chunks)", 1, {4096}, emb_1, 300, 1, emb_1, 1, 4096, 300,
         false, CUFFT_FORWARD},
        {"1d n=4096 batch 300 in place, contiguous -> interleaved", 1, {4096}, emb_1, 1, 4096, emb_1, 300, 1, 300,
         true, CUFFT_FORWARD},
        {"1d n=3000 batch 400 in place, stride 2 dist 6001 -> dist 6000", 1, {3000}, emb_1, 2, 6001, emb_1, 2, 6000,
         400, true, CUFFT_INVERSE},
    };
    for (const fft_case &c : cases) run_case(c);
}

/* cufftPlan1d / 2d / 3d: the basic layout, nx slowest. */
static void test_plan_nd(void)
{
    group_begin("cufftPlan1d / 2d / 3d");
    for (int which = 1; which <= 3; which++) {
        int n[3] = {6, 5, 4}, batch = which == 1 ? 3 : 1;
        int64_t total = product(which, n);
        std::vector<cufftComplex> in((size_t)(total * batch)), out((size_t)(total * batch));
        for (auto &v : in) v = make_float2(rng_float(), rng_float());
        cufftHandle p = -1;
        cufftResult r = which == 1 ? cufftPlan1d(&p, n[0], CUFFT_C2C, batch)
                        : which == 2 ? cufftPlan2d(&p, n[0], n[1], CUFFT_C2C)
                                     : cufftPlan3d(&p, n[0], n[1], n[2], CUFFT_C2C);
        expect(r == CUFFT_SUCCESS, "plan rank %d: %d", which, (int)r);
        if (r != CUFFT_SUCCESS) continue;
        cufftComplex *din = to_device(in), *dout = to_device(out);
        expect(cufftExecC2C(p, din, dout, CUFFT_FORWARD) == CUFFT_SUCCESS, "exec rank %d", which);
        cufftDestroy(p);
        to_host(out, dout);
        to_host(in, din);
        std::vector<dcplx> x((size_t)total), X((size_t)total);
        double maxerr = 0, maxref = 0;
        for (int b = 0; b < batch; b++) {
            for (int64_t i = 0; i < total; i++) x[i] = dcplx{in[b * total + i].x, in[b * total + i].y};
            naive_dft(which, n, x.data(), X.data(), -1);
            for (int64_t i = 0; i < total; i++) {
                maxref = fmax(maxref, fmax(fabs(X[i].re), fabs(X[i].im)));
                maxerr = fmax(maxerr, fmax(fabs(out[b * total + i].x - X[i].re), fabs(out[b * total + i].y - X[i].im)));
            }
        }
        expect(maxerr <= 1e-6 * maxref, "rank %d: relative error %.3g", which, maxerr / maxref);
    }
    group_end();
}

/* medvol_cuda.h's interleaved plans (mv__cu_plan_get, mv_cuda_fftc_into): a volume of inner x N x outer points
   (inner fastest), the transformed axes strided by inner, a batch of inner transforms at distance 1, run once
   per outer block; forward then inverse must give N times the input. */
static void test_medvol_layout(void)
{
    group_begin("medvol interleaved layout: forward, inverse = N x");
    const int rank = 2, inner = 5, outer = 3;
    int rn[2] = {6, 9}; /* cuFFT order: slowest first */
    int64_t N = rn[0] * rn[1], count = inner * N * outer;
    std::vector<cufftComplex> v((size_t)count), orig;
    for (auto &e : v) e = make_float2(rng_float(), rng_float());
    orig = v;
    cufftHandle p;
    cufftResult r = cufftPlanMany(&p, rank, rn, rn, inner, 1, rn, inner, 1, CUFFT_C2C, inner);
    expect(r == CUFFT_SUCCESS, "cufftPlanMany: %d", (int)r);
    if (r == CUFFT_SUCCESS) {
        expect(cufftSetStream(p, (cudaStream_t)0) == CUFFT_SUCCESS, "cufftSetStream");
        /* forward, checked against the direct DFT of each (inner, outer) line set */
        cufftComplex *dv = to_device(v);
        for (int o = 0; o < outer; o++) {
            cufftComplex *q = dv + o * inner * N;
            expect(cufftExecC2C(p, q, q, CUFFT_FORWARD) == CUFFT_SUCCESS, "forward %d", o);
        }
        cudaMemcpy(v.data(), dv, v.size() * sizeof(cufftComplex), cudaMemcpyDeviceToHost);
        std::vector<dcplx> x((size_t)N), X((size_t)N);
        double maxerr = 0, maxref = 0;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++) {
                for (int64_t j = 0; j < N; j++) {
                    const cufftComplex &e = orig[(size_t)(o * inner * N + j * inner + i)];
                    x[j] = dcplx{e.x, e.y};
                }
                naive_dft(rank, rn, x.data(), X.data(), -1);
                for (int64_t j = 0; j < N; j++) {
                    const cufftComplex &e = v[(size_t)(o * inner * N + j * inner + i)];
                    maxref = fmax(maxref, fmax(fabs(X[j].re), fabs(X[j].im)));
                    maxerr = fmax(maxerr, fmax(fabs(e.x - X[j].re), fabs(e.y - X[j].im)));
                }
            }
        expect(maxerr <= 1e-6 * maxref, "forward: relative error %.3g", maxerr / maxref);
        for (int o = 0; o < outer; o++) {
            cufftComplex *q = dv + o * inner * N;
            expect(cufftExecC2C(p, q, q, CUFFT_INVERSE) == CUFFT_SUCCESS, "inverse %d", o);
        }
        to_host(v, dv);
        maxerr = 0;
        for (int64_t k = 0; k < count; k++)
            maxerr = fmax(maxerr, fmax(fabs(v[k].x - N * (double)orig[k].x), fabs(v[k].y - N * (double)orig[k].y)));
        expect(maxerr <= 1e-6 * (double)N, "round trip: error %.3g (N = %lld)", maxerr, (long long)N);
        cufftDestroy(p);
    }
    group_end();
}

static void test_errors(void)
{
    group_begin("cuFFT error codes");
    int n1[1] = {8}, n2[2] = {4, 4}, n0[1] = {0}, nneg[1] = {-3}, small_embed[2] = {8, 3}, n3[3] = {2, 2, 2};
    cufftHandle p = -7;
    expect(cufftPlanMany(NULL, 1, n1, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE, "NULL plan");
    expect(cufftPlanMany(&p, 1, NULL, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE, "NULL n");
    expect(cufftPlanMany(&p, 1, n1, NULL, 1, 8, NULL, 1, 8, CUFFT_R2C, 1) == CUFFT_INVALID_TYPE, "R2C");
    expect(cufftPlanMany(&p, 1, n1, NULL, 1, 8, NULL, 1, 8, CUFFT_Z2Z, 1) == CUFFT_INVALID_TYPE, "Z2Z");
    expect(cufftPlanMany(&p, 1, n1, NULL, 1, 8, NULL, 1, 8, (cufftType)0, 1) == CUFFT_INVALID_TYPE, "type 0");
    expect(cufftPlanMany(&p, 0, n1, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_SIZE, "rank 0");
    expect(cufftPlanMany(&p, 4, n3, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_SIZE, "rank 4");
    expect(cufftPlanMany(&p, 1, n0, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_SIZE, "n 0");
    expect(cufftPlanMany(&p, 1, nneg, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_SIZE, "n -3");
    expect(cufftPlanMany(&p, 1, n1, NULL, 1, 8, NULL, 1, 8, CUFFT_C2C, 0) == CUFFT_INVALID_SIZE, "batch 0");
    expect(cufftPlan1d(&p, 0, CUFFT_C2C, 1) == CUFFT_INVALID_SIZE, "Plan1d nx 0");
    expect(cufftPlan2d(&p, 4, 0, CUFFT_C2C) == CUFFT_INVALID_SIZE, "Plan2d ny 0");
    expect(cufftPlan3d(&p, 2, 2, -1, CUFFT_C2C) == CUFFT_INVALID_SIZE, "Plan3d nz -1");
    expect(cufftPlan1d(&p, 8, CUFFT_C2R, 1) == CUFFT_INVALID_TYPE, "Plan1d C2R");
    expect(cufftPlanMany(&p, 2, n2, small_embed, 1, 32, NULL, 1, 0, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE,
           "inembed[1] < n[1]");
    expect(cufftPlanMany(&p, 2, n2, NULL, 1, 0, small_embed, 1, 32, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE,
           "onembed[1] < n[1]");
    expect(cufftPlanMany(&p, 1, n1, n1, 0, 8, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE, "istride 0");
    expect(cufftPlanMany(&p, 1, n1, n1, 1, 0, NULL, 1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE, "idist 0");
    expect(cufftPlanMany(&p, 1, n1, NULL, 1, 8, n1, -1, 8, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE, "ostride -1");
    expect(cufftPlanMany(&p, 1, n1, NULL, 1, 8, n1, 1, 0, CUFFT_C2C, 1) == CUFFT_INVALID_VALUE, "odist 0");
    expect(p == -7, "a failed plan call wrote the handle (%d)", p);

    /* a good plan, then misuse of it */
    std::vector<cufftComplex> zeros(8, make_float2(0.0f, 0.0f));
    cufftComplex *buf = to_device(zeros);
    size_t work = 123;
    expect(cufftPlanMany(&p, 1, n1, NULL, 0, 0, NULL, 0, 0, CUFFT_C2C, 1) == CUFFT_SUCCESS, "good plan");
    expect(cufftGetSize(p, &work) == CUFFT_SUCCESS && work == 0, "cufftGetSize: %zu", work);
    expect(cufftGetSize(p, NULL) == CUFFT_INVALID_VALUE, "cufftGetSize(NULL)");
    expect(cufftExecC2C(p, buf, buf, 0) == CUFFT_INVALID_VALUE, "direction 0");
    expect(cufftExecC2C(p, buf, buf, 2) == CUFFT_INVALID_VALUE, "direction 2");
    expect(cufftExecC2C(p, NULL, buf, CUFFT_FORWARD) == CUFFT_INVALID_VALUE, "NULL idata");
    expect(cufftExecC2C(p, buf, NULL, CUFFT_FORWARD) == CUFFT_INVALID_VALUE, "NULL odata");
    expect(cufftExecC2C(p, buf, buf, CUFFT_FORWARD) == CUFFT_SUCCESS, "good exec");
    expect(cufftDestroy(p) == CUFFT_SUCCESS, "destroy");
    expect(cufftDestroy(p) == CUFFT_INVALID_PLAN, "destroy twice");
    expect(cufftExecC2C(p, buf, buf, CUFFT_FORWARD) == CUFFT_INVALID_PLAN, "exec after destroy");
    expect(cufftSetStream(p, (cudaStream_t)0) == CUFFT_INVALID_PLAN, "set stream after destroy");
    expect(cufftGetSize(p, &work) == CUFFT_INVALID_PLAN, "get size after destroy");
    expect(cufftExecC2C(987654, buf, buf, CUFFT_FORWARD) == CUFFT_INVALID_PLAN, "unknown handle");
    cudaDeviceSynchronize();
    cudaFree(buf);
    expect(cufftDestroy(-1) == CUFFT_INVALID_PLAN, "destroy -1");
    /* handles are not reused: a stale handle cannot reach a newer plan */
    cufftHandle q;
    expect(cufftPlan1d(&q, 8, CUFFT_C2C, 1) == CUFFT_SUCCESS && q != p, "new handle %d vs old %d", q, p);
    cufftDestroy(q);
    group_end();
}

/* cufftExecC2C refuses pointers a GPU would fault on (host memory, a device block
   too small for the plan's extent), and a transform is queued, running only when the host synchronises. */
static void test_runtime_checks(void)
{
    group_begin("cufftExecC2C: pointer checks, stream order");
    cufftHandle p;
    expect(cufftPlan1d(&p, 8, CUFFT_C2C, 2) == CUFFT_SUCCESS, "plan");
    std::vector<cufftComplex> host(16, make_float2(1.0f, 0.0f)), short_host(15, make_float2(1.0f, 0.0f));
    cufftComplex *d = to_device(host), *d_short = to_device(short_host);
    printf("  (three 'mv_emu: cufftExecC2C:' messages expected on stderr)\n");
    fflush(stdout);
    expect(cufftExecC2C(p, host.data(), d, CUFFT_FORWARD) == CUFFT_INVALID_VALUE, "host idata");
    expect(cufftExecC2C(p, d, d_short, CUFFT_FORWARD) == CUFFT_INVALID_VALUE, "odata block too small");
    expect(cufftExecC2C(p, d + 1, d + 1, CUFFT_FORWARD) == CUFFT_INVALID_VALUE, "idata runs past its block");
    /* the emulator's device memory is host memory: peek at it before and after the synchronisation */
    expect(cufftExecC2C(p, d, d, CUFFT_FORWARD) == CUFFT_SUCCESS, "exec");
    expect(d[0].x == 1.0f, "the transform ran before the host synchronised (d[0] = %g)", (double)d[0].x);
    cudaDeviceSynchronize();
    expect(d[0].x == 8.0f && d[1].x == 0.0f, "after synchronising: d[0] = %g, d[1] = %g", (double)d[0].x,
           (double)d[1].x);
    cufftDestroy(p);
    cudaFree(d_short);
    cudaFree(d);
    group_end();
}

/* Speed (reported, not checked: sanitizer builds are slow). */
static void time_transforms(void)
{
    struct {
        const char *name;
        int rank, n[3], batch;
    } cases[] = {{"2d 512x512 batch 32", 2, {512, 512}, 32}, {"3d 128^3", 3, {128, 128, 128}, 1},
                 {"3d 100x120x90 (Bluestein)", 3, {100, 120, 90}, 1}};
    for (auto &c : cases) {
        int64_t count = product(c.rank, c.n) * c.batch;
        std::vector<cufftComplex> v((size_t)count);
        for (auto &e : v) e = make_float2(rng_float(), rng_float());
        cufftHandle p;
        if (cufftPlanMany(&p, c.rank, c.n, NULL, 1, 0, NULL, 1, 0, CUFFT_C2C, c.batch) != CUFFT_SUCCESS) continue;
        cufftComplex *d = to_device(v);
        double t0 = now_s();
        cufftExecC2C(p, d, d, CUFFT_FORWARD);
        cudaDeviceSynchronize();
        double t1 = now_s();
        cufftDestroy(p);
        to_host(v, d);
        printf("time %-28s %7.1f ms (in place, forward)\n", c.name, 1e3 * (t1 - t0));
    }
}

/* ---- half and bfloat16 ------------------------------------------------------------------------------------------- */

/* A 16-bit format: fraction bits and exponent bias. */
struct fmt16 {
    const char *name;
    int mbits, bias;
};
static const fmt16 F16 = {"half", 10, 15}, BF16 = {"bfloat16", 7, 127};

static int exp_field(const fmt16 &f, unsigned b) { return (int)(b >> f.mbits) & ((1 << (15 - f.mbits)) - 1); }
static unsigned frac_field(const fmt16 &f, unsigned b) { return b & ((1u << f.mbits) - 1); }
static bool is_nan16(const fmt16 &f, unsigned b)
{
    return exp_field(f, b) == (1 << (15 - f.mbits)) - 1 && frac_field(f, b) != 0;
}

/* The value of a non-negative pattern, with the all-ones exponent read as one more binade (so the pattern after
   the largest finite is the power of two it would round to, for midpoints). */
static double magnitude16(const fmt16 &f, unsigned b)
{
    int e = exp_field(f, b);
    double m = (double)frac_field(f, b);
    if (e == 0) return ldexp(m, 1 - f.bias - f.mbits);
    return ldexp(m + ldexp(1.0, f.mbits), e - f.bias - f.mbits);
}

/* The real decode of a pattern: sign, zero, subnormal, normal, infinity, NaN. */
static double decode16(const fmt16 &f, unsigned b)
{
    double s = b & 0x8000 ? -1.0 : 1.0;
    unsigned a = b & 0x7fff;
    if (exp_field(f, a) == (1 << (15 - f.mbits)) - 1) return frac_field(f, a) ? NAN : s * INFINITY;
    return s * magnitude16(f, a);
}

static unsigned to16(const fmt16 &f, double d)
{
    return &f == &F16 ? __half_as_ushort(__double2half(d)) : __bfloat16_as_ushort(__double2bfloat16(d));
}
static unsigned to16f(const fmt16 &f, float x)
{
    return &f == &F16 ? __half_as_ushort(__float2half(x)) : __bfloat16_as_ushort(__float2bfloat16(x));
}
static float from16(const fmt16 &f, unsigned b)
{
    return &f == &F16 ? __half2float(__ushort_as_half((unsigned short)b))
                      : __bfloat162float(__ushort_as_bfloat16((unsigned short)b));
}

static uint32_t fbits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* to float: every pattern against the ldexp decode (bit-exact, signed zeros included; NaN stays NaN) */
static void test_decode(const fmt16 &f)
{
    char name[64];
    snprintf(name, sizeof name, "%s -> float, all 65536 patterns", f.name);
    group_begin(name);
    for (unsigned b = 0; b < 65536; b++) {
        float got = from16(f, b);
        double want = decode16(f, b);
        if (is_nan16(f, b)) expect(got != got, "%#06x: %g, want NaN", b, (double)got);
        else expect(fbits(got) == fbits((float)want), "%#06x: %a, want %a", b, (double)got, want);
    }
    group_end();
}

/* from double: every value exactly representable maps to itself; at each midpoint between neighbours the even
   one wins; just below / above it (the next doubles, where rounding through float would first land on the
   midpoint) and at the quarter points the nearer one wins; the same mirrored for negatives. */
static void test_round_double(const fmt16 &f)
{
    char name[64];
    snprintf(name, sizeof name, "%s <- double: every pattern and midpoint", f.name);
    group_begin(name);
    const unsigned inf = ((1u << (15 - f.mbits)) - 1) << f.mbits;
    for (unsigned b = 0; b < 65536; b++) {
        if (is_nan16(f, b)) continue;
        unsigned got = to16(f, decode16(f, b));
        expect(got == b, "exact %#06x (%a) -> %#06x", b, decode16(f, b), got);
    }
    for (unsigned p = 0; p < inf; p++) {
        double lo = magnitude16(f, p), hi = magnitude16(f, p + 1), mid = 0.5 * (lo + hi);
        unsigned even = p & 1 ? p + 1 : p;
        struct {
            double x;
            unsigned want;
        } probes[] = {{mid, even},
                      {nextafter(mid, 0.0), p},
                      {nextafter(mid, INFINITY), p + 1},
                      {0.5 * (lo + mid), p},
                      {0.5 * (mid + hi), p + 1}};
        for (auto &t : probes) {
            unsigned got = to16(f, t.x), gotn = to16(f, -t.x);
            expect(got == t.want, "%a between %#06x and %#06x -> %#06x, want %#06x", t.x, p, p + 1, got, t.want);
            expect(gotn == (t.want | 0x8000), "%a -> %#06x, want %#06x", -t.x, gotn, t.want | 0x8000);
        }
    }
    group_end();

    snprintf(name, sizeof name, "%s <- double: zeros, tiny, huge, inf, NaN", f.name);
    group_begin(name);
    const double dmin_sub = 4.9406564584124654e-324;
    struct {
        double x;
        unsigned want;
    } cases[] = {{0.0, 0},
                 {-0.0, 0x8000},
                 {dmin_sub, 0},
                 {-dmin_sub, 0x8000},
                 {DBL_MIN, 0},
                 {1e-300, 0},
                 {-1e-300, 0x8000},
                 {1e300, inf},
                 {-1e300, inf | 0x8000},
                 {DBL_MAX, inf},
                 {-DBL_MAX, inf | 0x8000},
                 {INFINITY, inf},
                 {-INFINITY, inf | 0x8000},
                 {1.0, (unsigned)f.bias << f.mbits}};
    for (auto &t : cases) {
        unsigned got = to16(f, t.x);
        expect(got == t.want, "%a -> %#06x, want %#06x", t.x, got, t.want);
    }
    const double nans[] = {NAN, -NAN, copysign(NAN, -1.0), nan("0x5"), -nan("0xfffffffffffff")};
    for (double x : nans) expect(is_nan16(f, to16(f, x)), "NaN -> %#06x", to16(f, x));
    group_end();
}

/* from float: every float is a double, so the float path must agree with the double path everywhere; checked at
   every midpoint (and the floats beside it), on random bit patterns, and on random floats near the format's
   range; and float -> 16 -> float -> 16 is the identity. */
static void test_round_float(const fmt16 &f)
{
    char name[64];
    snprintf(name, sizeof name, "%s <- float == <- (double)float", f.name);
    group_begin(name);
    const unsigned inf = ((1u << (15 - f.mbits)) - 1) << f.mbits;
    auto agree = [&](float x) {
        unsigned a = to16f(f, x), b = to16(f, (double)x);
        if (x != x) expect(is_nan16(f, a), "NaN %#x -> %#06x", fbits(x), a);
        else expect(a == b, "%a (%#x): float path %#06x, double path %#06x", (double)x, fbits(x), a, b);
    };
    for (unsigned p = 0; p < inf; p++) {
        float mid = (float)(0.5 * (magnitude16(f, p) + magnitude16(f, p + 1))); /* exact: 12 bits at most */
        agree(mid);
        agree(-mid);
        agree(nextafterf(mid, 0.0f));
        agree(nextafterf(mid, INFINITY));
    }
    for (int i = 0; i < 4000000; i++) {
        uint32_t u = (uint32_t)rng_next();
        float x;
        memcpy(&x, &u, sizeof x);
        agree(x);
        /* exponents around the format's range, where all the rounding happens */
        int e = (int)(rng_next() % (unsigned)(2 * f.bias + f.mbits + 8)) - (f.bias + f.mbits + 4) + 127;
        e = e < 0 ? 0 : e > 255 ? 255 : e; /* bfloat16's range is float's */
        u = (u & 0x807fffffu) | (uint32_t)e << 23;
        memcpy(&x, &u, sizeof x);
        agree(x);
    }
    for (unsigned b = 0; b < 65536; b++) {
        if (is_nan16(f, b)) continue;
        unsigned back = to16f(f, from16(f, b));
        expect(back == b, "%#06x -> float -> %#06x", b, back);
    }
    group_end();
}

static void test_types(void)
{
    group_begin("__half / __nv_bfloat16 storage");
    unsigned short raw[4] = {0x3c00, 0xc000, 0x3f80, 0xc000};
    __half h[2];
    __nv_bfloat16 bf[2];
    memcpy(h, raw, sizeof h);
    memcpy(bf, raw + 2, sizeof bf);
    expect(sizeof h == 4 && sizeof bf == 4, "arrays of two are 4 bytes");
    expect(__half2float(h[0]) == 1.0f && __half2float(h[1]) == -2.0f, "half array aliases 16-bit storage");
    expect(__bfloat162float(bf[0]) == 1.0f && __bfloat162float(bf[1]) == -2.0f,
           "bf16 array aliases 16-bit storage");
    __half_raw hr = __float2half(0.5f);
    __nv_bfloat16_raw br = __float2bfloat16(0.5f);
    expect(hr.x == 0x3800 && br.x == 0x3f00, "raw: %#x %#x", hr.x, br.x);
    __half h2 = hr;
    __nv_bfloat16 b2 = br;
    expect(__half2float(h2) == 0.5f && __bfloat162float(b2) == 0.5f, "raw -> type");
    expect(__half_as_ushort(__float2half_rn(65504.0f)) == 0x7bff, "half max");
    expect(__half_as_ushort(__float2half(65520.0f)) == 0x7c00, "65520 rounds to inf");
    expect(__half_as_ushort(__float2half(65519.996f)) == 0x7bff, "just below 65520 stays finite");
    expect(__bfloat16_as_ushort(__float2bfloat16_rn(1.00390625f)) == 0x3f80, "bf16 tie to even (down)");
    expect(__bfloat16_as_ushort(__float2bfloat16(1.01171875f)) == 0x3f82, "bf16 tie to even (up)");
    /* the double rounding trap: 1 + 2^-11 + 2^-40 is a tie once rounded to float, but above the tie as a double */
    expect(__half_as_ushort(__double2half(1.0 + 0x1p-11 + 0x1p-40)) == 0x3c01, "half: no double rounding");
    expect(__bfloat16_as_ushort(__double2bfloat16(1.0 + 0x1p-8 + 0x1p-40)) == 0x3f81, "bf16: no double rounding");
    group_end();
}

int main(void)
{
    test_transforms();
    test_plan_nd();
    test_medvol_layout();
    test_errors();
    test_runtime_checks();
    test_types();
    test_decode(F16);
    test_decode(BF16);
    test_round_double(F16);
    test_round_double(BF16);
    test_round_float(F16);
    test_round_float(BF16);
    time_transforms();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
