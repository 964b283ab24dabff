/* emu_cufft.cc - the CUDA emulator's cuFFT (tests only): every function of
   tests/cuda_emu/include/cufft.h, on the CPU.

   Only single-precision complex-to-complex plans exist (CUFFT_C2C); other
   types are CUFFT_INVALID_TYPE. A plan is rank 1..3 with cufftPlanMany's
   advanced layout: element (i0, i1, i2) of batch b lies at
       b * dist + ((i0 * embed[1] + i1) * embed[2] + i2) * stride
   (rank-adjusted, embed[0] unused; n[0] is the slowest axis); a NULL embed
   means the basic layout (stride 1, dist = product of n) whatever stride and
   dist say, as cuFFT's documentation defines it.

   Numerics: a transform is gathered into float64, transformed axis by axis
   (each line by a radix-2 FFT, or by Bluestein's chirp-z through a radix-2
   FFT for other lengths), and rounded to float32 once at the end, so a
   result is the exact DFT to within float32 rounding. Forward is
   e^{-2 pi i k n / N}, inverse e^{+...}, neither normalised.

   Execution is stream-ordered: cufftExecC2C checks its arguments and the
   extents of both pointers at the call, then queues the transform with
   mv_emu::enqueue; it runs when the host synchronises. The queued op holds
   its own reference to the plan's tables, so destroying a plan with work
   still queued is safe (as it is with cuFFT).

   Thread safety: the handle table is guarded by a mutex; a plan's tables
   are immutable once built, so queued transforms may run on any thread. */
#include "cufft.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace {

const double pi = 3.14159265358979323846;

struct cplx {
    double re, im;
};

/* Axis lengths past this are refused with CUFFT_INVALID_SIZE (an emulator
   limit, not cuFFT's): Bluestein's power-of-two length (< 4n) and the bit
   reversal table's uint32 entries must not overflow. */
const int64_t max_axis_length = (int64_t)1 << 27;

/* One transform length n. Powers of two run a radix-2 FFT of m = n points;
   other lengths run Bluestein's chirp-z: a circular convolution of length
   m >= 2n - 1 (a power of two) done with two radix-2 FFTs. */
struct line_fft {
    int64_t n = 1, m = 1;
    bool pow2 = true;
    std::vector<cplx> tw;       /* e^{-2 pi i k / m}, k < m / 2 */
    std::vector<uint32_t> rev;  /* bit reversal of 0..m-1 */
    std::vector<cplx> chirp;    /* Bluestein: e^{-pi i k^2 / n}, k < n */
    std::vector<cplx> filt;     /* Bluestein: FFT_m of the conjugate chirp, divided by m */
};

/* Where a plan's elements lie, for one side (input or output): element
   strides of the three (padded) axes and the distance between batches. */
struct layout {
    int64_t s[3];
    int64_t dist;
};

/* Everything a queued transform needs; immutable once built. Axes are
   padded to three, slowest first: a rank-r plan has 3 - r leading axes of
   length 1. */
struct plan_core {
    int n[3];
    int64_t total;   /* elements of one transform */
    int64_t batch;
    layout in, out;
    int64_t in_span, out_span;  /* elements from the data pointer to one past the last one used */
    std::shared_ptr<const line_fft> axis[3];
};

struct plan_entry {
    std::shared_ptr<const plan_core> core;
    cudaStream_t stream;
};

std::mutex g_plans_mutex;
std::map<int, plan_entry> g_plans;
int g_next_handle = 1;  /* never reused, so a destroyed handle stays invalid */

/* ---- one line ---------------------------------------------------------------------------------------------- */

static inline cplx cmul(cplx a, cplx b) { return cplx{a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }

static void conj_all(cplx *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i].im = -x[i].im;
}

/* In-place forward radix-2 FFT of f.m points (bit reversal, then butterflies). */
static void fft_pow2(const line_fft &f, cplx *a)
{
    const int64_t m = f.m;
    for (int64_t i = 0; i < m; i++) {
        int64_t j = f.rev[i];
        if (i < j) {
            cplx t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
    for (int64_t len = 2; len <= m; len <<= 1) {
        const int64_t half = len >> 1, step = m / len;
        for (int64_t i = 0; i < m; i += len) {
            for (int64_t j = 0; j < half; j++) {
                cplx u = a[i + j], v = cmul(a[i + j + half], f.tw[j * step]);
                a[i + j] = cplx{u.re + v.re, u.im + v.im};
                a[i + j + half] = cplx{u.re - v.re, u.im - v.im};
            }
        }
    }
}

/* Forward DFT of f.n points by Bluestein: X[k] = c[k] sum_j (x[j] c[j]) conj(c[k - j]) with
   c[t] = e^{-pi i t^2 / n}, the sum a circular convolution of length m. scratch holds m points. */
static void fft_bluestein(const line_fft &f, cplx *x, cplx *scratch)
{
    int64_t k;
    for (k = 0; k < f.n; k++) scratch[k] = cmul(x[k], f.chirp[k]);
    for (; k < f.m; k++) scratch[k] = cplx{0.0, 0.0};
    fft_pow2(f, scratch);
    for (k = 0; k < f.m; k++) scratch[k] = cmul(scratch[k], f.filt[k]);
    /* inverse FFT as conj(FFT(conj)); the outer conj is folded into the last product */
    conj_all(scratch, f.m);
    fft_pow2(f, scratch);
    for (k = 0; k < f.n; k++) x[k] = cmul(f.chirp[k], cplx{scratch[k].re, -scratch[k].im});
}

/* The DFT of x (contiguous, f.n points) in place; the inverse is conj(DFT(conj x)). */
static void line_transform(const line_fft &f, cplx *x, cplx *scratch, bool inverse)
{
    if (f.n == 1) return;
    if (inverse) conj_all(x, f.n);
    if (f.pow2) fft_pow2(f, x);
    else fft_bluestein(f, x, scratch);
    if (inverse) conj_all(x, f.n);
}

static void fill_pow2_tables(line_fft &f)
{
    int bits = 0;
    while (((int64_t)1 << bits) < f.m) bits++;
    f.tw.resize((size_t)(f.m / 2));
    for (int64_t k = 0; k < f.m / 2; k++) {
        double a = -2.0 * pi * (double)k / (double)f.m;
        f.tw[k] = cplx{cos(a), sin(a)};
    }
    f.rev.resize((size_t)f.m);
    for (int64_t i = 0; i < f.m; i++) {
        uint32_t r = 0;
        for (int b = 0; b < bits; b++)
            if (i >> b & 1) r |= 1u << (bits - 1 - b);
        f.rev[i] = r;
    }
}

static std::shared_ptr<const line_fft> make_line_fft(int64_t n)
{
    auto f = std::make_shared<line_fft>();
    f->n = n;
    f->pow2 = (n & (n - 1)) == 0;
    f->m = 1;
    while (f->m < (f->pow2 ? n : 2 * n - 1)) f->m <<= 1;
    fill_pow2_tables(*f);
    if (!f->pow2) {
        f->chirp.resize((size_t)n);
        for (int64_t k = 0; k < n; k++) {
            /* k^2 mod 2n keeps the angle exact for large k (the chirp has period 2n) */
            int64_t q = (int64_t)(((uint64_t)k * (uint64_t)k) % (uint64_t)(2 * n));
            double a = -pi * (double)q / (double)n;
            f->chirp[k] = cplx{cos(a), sin(a)};
        }
        f->filt.assign((size_t)f->m, cplx{0.0, 0.0});
        for (int64_t k = 0; k < n; k++) {
            cplx b = cplx{f->chirp[k].re, -f->chirp[k].im};
            f->filt[k] = b;
            if (k) f->filt[f->m - k] = b;
        }
        fft_pow2(*f, f->filt.data());
        for (int64_t k = 0; k < f->m; k++) {
            f->filt[k].re /= (double)f->m;
            f->filt[k].im /= (double)f->m;
        }
    }
    return f;
}

/* ---- one plan's execution ---------------------------------------------------------------------------------- */

/* Lines of a strided axis are moved to and from contiguous buffers this many at a time, so that each cache line
   of the work array is read once per group rather than once per line. */
const int64_t line_group = 16;

/* Transform each of `count` contiguous transforms in work (P.total points each), axis by axis. lines holds
   line_group lines of the longest axis; scratch one Bluestein convolution. */
static void transform_work(const plan_core &P, cplx *work, int64_t count, bool inverse, cplx *lines, cplx *scratch)
{
    for (int a = 0; a < 3; a++) {
        const line_fft &f = *P.axis[a];
        const int64_t n = f.n;
        if (n == 1) continue;
        int64_t stride = 1, outer = count;
        for (int k = a + 1; k < 3; k++) stride *= P.n[k];
        for (int k = 0; k < a; k++) outer *= P.n[k];
        for (int64_t o = 0; o < outer; o++) {
            cplx *base = work + o * n * stride;
            if (stride == 1) {
                line_transform(f, base, scratch, inverse);
                continue;
            }
            for (int64_t i = 0; i < stride; i += line_group) {
                int64_t w = stride - i < line_group ? stride - i : line_group, j, c;
                for (j = 0; j < n; j++)
                    for (c = 0; c < w; c++) lines[c * n + j] = base[i + c + j * stride];
                for (c = 0; c < w; c++) line_transform(f, lines + c * n, scratch, inverse);
                for (j = 0; j < n; j++)
                    for (c = 0; c < w; c++) base[i + c + j * stride] = lines[c * n + j];
            }
        }
    }
}

/* Calls visit(w, e) for every point of batches b0 .. b0 + count - 1: w its index in the work array, e its
   element offset in layout L. When batches are interleaved (dist below the innermost stride) consecutive
   batches are the inner loop, otherwise the outer one, so that memory is walked in order either way. */
template <typename F>
static void for_each_point(const plan_core &P, const layout &L, int64_t b0, int64_t count, F visit)
{
    const bool batch_inner = L.dist < L.s[2];
    for (int64_t bo = 0; bo < (batch_inner ? 1 : count); bo++) {
        int64_t w = 0;
        for (int64_t i0 = 0; i0 < P.n[0]; i0++)
            for (int64_t i1 = 0; i1 < P.n[1]; i1++)
                for (int64_t i2 = 0; i2 < P.n[2]; i2++, w++) {
                    int64_t e = i0 * L.s[0] + i1 * L.s[1] + i2 * L.s[2];
                    if (!batch_inner) {
                        visit(bo * P.total + w, (b0 + bo) * L.dist + e);
                        continue;
                    }
                    for (int64_t b = 0; b < count; b++) visit(b * P.total + w, (b0 + b) * L.dist + e);
                }
    }
}

/* Batches b0 .. b0 + count - 1: gather into work (float64), transform, round once and scatter. */
static void run_batches(const plan_core &P, const cufftComplex *in, cufftComplex *out, int64_t b0, int64_t count,
                        bool inverse, cplx *work, cplx *lines, cplx *scratch)
{
    for_each_point(P, P.in, b0, count, [&](int64_t w, int64_t e) {
        work[w] = cplx{(double)in[e].x, (double)in[e].y};
    });
    transform_work(P, work, count, inverse, lines, scratch);
    for_each_point(P, P.out, b0, count, [&](int64_t w, int64_t e) {
        out[e] = make_float2((float)work[w].re, (float)work[w].im);
    });
}

static bool same_layout(const plan_core &P)
{
    return P.in.dist == P.out.dist && P.in.s[0] == P.out.s[0] && P.in.s[1] == P.out.s[1] && P.in.s[2] == P.out.s[2];
}

static void *checked_malloc(int64_t count, size_t size)
{
    void *p = malloc((size_t)count * size);
    if (!p) { /* a queued op has no way back to the caller: a test tool may stop here */
        fprintf(stderr, "mv_emu: cufftExecC2C: out of memory (%lld bytes)\n", (long long)(count * (int64_t)size));
        abort();
    }
    return p;
}

/* The queued transform. Output may overlap input: with identical layouts at the same address each batch
   reads and writes only its own elements, so batches go in chunks; otherwise every batch is read before
   any output is written. */
static void execute(const plan_core &P, const cufftComplex *in, cufftComplex *out, bool inverse)
{
    const char *ilo = (const char *)in, *ihi = (const char *)(in + P.in_span);
    const char *olo = (const char *)out, *ohi = (const char *)(out + P.out_span);
    bool overlap = ilo < ohi && olo < ihi;
    int64_t chunk;
    if (overlap && !((const void *)in == (const void *)out && same_layout(P))) {
        chunk = P.batch;
    } else { /* about 1 Mi points of work at a time, at least one batch */
        chunk = ((int64_t)1 << 20) / P.total;
        if (chunk < 1) chunk = 1;
        if (chunk > P.batch) chunk = P.batch;
    }
    int64_t longest = 1, scratch_len = 1;
    for (int a = 0; a < 3; a++) {
        if (P.axis[a]->n > longest) longest = P.axis[a]->n;
        if (P.axis[a]->m > scratch_len) scratch_len = P.axis[a]->m;
    }
    cplx *work = (cplx *)checked_malloc(chunk * P.total, sizeof(cplx));
    cplx *lines = (cplx *)checked_malloc(longest * line_group, sizeof(cplx));
    cplx *scratch = (cplx *)checked_malloc(scratch_len, sizeof(cplx));
    for (int64_t b0 = 0; b0 < P.batch; b0 += chunk) {
        int64_t count = P.batch - b0 < chunk ? P.batch - b0 : chunk;
        run_batches(P, in, out, b0, count, inverse, work, lines, scratch);
    }
    free(scratch);
    free(lines);
    free(work);
}

/* ---- plans --------------------------------------------------------------------------------------------------- */

/* One side's layout from cufftPlanMany's arguments (n already padded to three axes, slowest first). */
static cufftResult make_layout(int rank, const int n3[3], const int *embed, int stride, int dist, layout *L)
{
    int e3[3] = {1, 1, 1};
    if (!embed) { /* the basic layout: the other advanced parameters are ignored */
        stride = 1;
        dist = n3[0] * n3[1] * n3[2];  /* checked against overflow by the caller */
        for (int k = 0; k < 3; k++) e3[k] = n3[k];
    } else {
        if (stride < 1 || dist < 1) return CUFFT_INVALID_VALUE;
        for (int k = 1; k < rank; k++) {
            if (embed[k] < n3[3 - rank + k]) return CUFFT_INVALID_VALUE;
            e3[3 - rank + k] = embed[k];
        }
    }
    int64_t s = stride;
    for (int k = 2; k >= 0; k--) {
        L->s[k] = s;
        s *= e3[k];  /* at most 3 factors below 2^31: no overflow in int64 */
    }
    L->dist = dist;
    return CUFFT_SUCCESS;
}

/* Elements from the data pointer to one past the last one the plan touches, or -1 if that overflows. */
static int64_t span_of(const int n3[3], int64_t batch, const layout &L)
{
    int64_t last = 0, t;
    for (int k = 0; k < 3; k++) {
        if (__builtin_mul_overflow((int64_t)(n3[k] - 1), L.s[k], &t) || __builtin_add_overflow(last, t, &last))
            return -1;
    }
    if (__builtin_mul_overflow(batch - 1, L.dist, &t) || __builtin_add_overflow(last, t, &last)) return -1;
    return last + 1;
}

static cufftResult build_core(int rank, const int *n, const int *inembed, int istride, int idist,
                              const int *onembed, int ostride, int odist, int batch, std::shared_ptr<plan_core> *out)
{
    if (rank < 1 || rank > 3 || batch < 1) return CUFFT_INVALID_SIZE;
    auto P = std::make_shared<plan_core>();
    P->total = 1;
    for (int k = 0; k < 3; k++) {
        int nk = k < 3 - rank ? 1 : n[k - (3 - rank)];
        if (nk < 1 || nk > max_axis_length) return CUFFT_INVALID_SIZE;
        P->n[k] = nk;
        P->total *= nk;
    }
    if (P->total > INT32_MAX) return CUFFT_INVALID_SIZE;  /* the basic layout's dist is an int */
    P->batch = batch;
    cufftResult r = make_layout(rank, P->n, inembed, istride, idist, &P->in);
    if (r == CUFFT_SUCCESS) r = make_layout(rank, P->n, onembed, ostride, odist, &P->out);
    if (r != CUFFT_SUCCESS) return r;
    P->in_span = span_of(P->n, batch, P->in);
    P->out_span = span_of(P->n, batch, P->out);
    if (P->in_span < 0 || P->out_span < 0 || P->in_span > INT64_MAX / 8 || P->out_span > INT64_MAX / 8)
        return CUFFT_INVALID_SIZE;
    /* equal lengths share one set of tables */
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < k && !P->axis[k]; j++)
            if (P->n[j] == P->n[k]) P->axis[k] = P->axis[j];
        if (!P->axis[k]) P->axis[k] = make_line_fft(P->n[k]);
    }
    *out = P;
    return CUFFT_SUCCESS;
}

static bool find_plan(cufftHandle h, plan_entry *e)
{
    std::lock_guard<std::mutex> lock(g_plans_mutex);
    auto it = g_plans.find(h);
    if (it == g_plans.end()) return false;
    *e = it->second;
    return true;
}

/* A pointer the transform will read or write: a GPU would fault on anything but device memory. */
static bool check_pointer(const char *what, const void *p, int64_t elements)
{
    size_t bytes = (size_t)elements * sizeof(cufftComplex);
    int w = mv_emu::where(p, bytes);
    if (w == 2) return true;
    if (w == -1)
        fprintf(stderr, "mv_emu: cufftExecC2C: %s %p: the plan's %zu bytes run past the end of its device block\n",
                what, p, bytes);
    else
        fprintf(stderr, "mv_emu: cufftExecC2C: %s %p is not device memory (%s)\n", what, p,
                w == 1 ? "pinned host memory" : "host memory");
    return false;
}

} /* namespace */

/* ---- the API --------------------------------------------------------------------------------------------------- */

cufftResult cufftPlanMany(cufftHandle *plan, int rank, int *n, int *inembed, int istride, int idist, int *onembed,
                          int ostride, int odist, cufftType type, int batch)
{
    if (!plan || !n) return CUFFT_INVALID_VALUE;
    if (type != CUFFT_C2C) return CUFFT_INVALID_TYPE;
    std::shared_ptr<plan_core> core;
    cufftResult r = build_core(rank, n, inembed, istride, idist, onembed, ostride, odist, batch, &core);
    if (r != CUFFT_SUCCESS) return r;
    std::lock_guard<std::mutex> lock(g_plans_mutex);
    if (g_next_handle == INT32_MAX) return CUFFT_ALLOC_FAILED;
    int h = g_next_handle++;
    g_plans[h] = plan_entry{core, (cudaStream_t)0};
    *plan = h;
    return CUFFT_SUCCESS;
}

cufftResult cufftPlan1d(cufftHandle *plan, int nx, cufftType type, int batch)
{
    int n[1] = {nx};
    return cufftPlanMany(plan, 1, n, NULL, 1, 0, NULL, 1, 0, type, batch);
}

cufftResult cufftPlan2d(cufftHandle *plan, int nx, int ny, cufftType type)
{
    int n[2] = {nx, ny};
    return cufftPlanMany(plan, 2, n, NULL, 1, 0, NULL, 1, 0, type, 1);
}

cufftResult cufftPlan3d(cufftHandle *plan, int nx, int ny, int nz, cufftType type)
{
    int n[3] = {nx, ny, nz};
    return cufftPlanMany(plan, 3, n, NULL, 1, 0, NULL, 1, 0, type, 1);
}

cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream)
{
    std::lock_guard<std::mutex> lock(g_plans_mutex);
    auto it = g_plans.find(plan);
    if (it == g_plans.end()) return CUFFT_INVALID_PLAN;
    it->second.stream = stream;
    return CUFFT_SUCCESS;
}

cufftResult cufftExecC2C(cufftHandle plan, cufftComplex *idata, cufftComplex *odata, int direction)
{
    plan_entry e;
    if (!find_plan(plan, &e)) return CUFFT_INVALID_PLAN;
    if (direction != CUFFT_FORWARD && direction != CUFFT_INVERSE) return CUFFT_INVALID_VALUE;
    if (!idata || !odata) return CUFFT_INVALID_VALUE;
    if (!check_pointer("idata", idata, e.core->in_span) || !check_pointer("odata", odata, e.core->out_span))
        return CUFFT_INVALID_VALUE;
    std::shared_ptr<const plan_core> core = e.core;
    bool inverse = direction == CUFFT_INVERSE;
    mv_emu::enqueue(e.stream, [core, idata, odata, inverse]() { execute(*core, idata, odata, inverse); });
    return CUFFT_SUCCESS;
}

cufftResult cufftDestroy(cufftHandle plan)
{
    std::lock_guard<std::mutex> lock(g_plans_mutex);
    /* queued transforms keep their own reference to the tables */
    return g_plans.erase(plan) ? CUFFT_SUCCESS : CUFFT_INVALID_PLAN;
}

cufftResult cufftGetSize(cufftHandle plan, size_t *work)
{
    plan_entry e;
    if (!find_plan(plan, &e)) return CUFFT_INVALID_PLAN;
    if (!work) return CUFFT_INVALID_VALUE;
    *work = 0; /* transforms allocate their own float64 buffers on the host */
    return CUFFT_SUCCESS;
}
